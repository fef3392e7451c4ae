//! Engine benchmark: 100 courses x 100 learners on a SQLite file, through the real runtime
//! (engine task, executor task, in-memory adapter), with a mix of submissions and status
//! commands. Prints commands/s and latency, beside the rate of plain single-row sqlx inserts
//! into a SQLite file with the same settings: the physical ceiling of one-commit-per-write.
//!
//! Run: `cargo bench --bench engine` (options: `-- --commands N`, `--web`: with the web face
//! reading the engine's snapshots, 1,000 page requests a second, beside the commands).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use facilitator::adapters::Adapters;
use facilitator::clock::ManualClock;
use facilitator::engine::{Admins, Engine};
use facilitator::executor::Executor;
use facilitator::runtime::Runtime;
use facilitator_chat::{ChatAdapter, DeliveryKind, InMemoryChat, MemoryDriver};
use facilitator_storage::Store;

const COURSES: usize = 100;
const LEARNERS: usize = 100;

struct Bot {
    driver: MemoryDriver,
    clock: ManualClock,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

/// The web face on the engine's snapshots, asked for `per_second` pages (the issuer, the
/// catalogue, course pages and badge classes, in turn) in the same process, until the bot
/// stops.
fn read_pages(engine: &mut Engine, per_second: u64) {
    use tower::ServiceExt as _;
    let web = facilitator::web::Web::new(
        engine.snapshots(),
        "https://learn.example.org".into(),
        Default::default(),
        Default::default(),
    );
    let router = facilitator::web::router(web);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_micros(1_000_000 / per_second));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut served = 0u64;
        loop {
            tick.tick().await;
            let target = match served % 4 {
                0 => "/issuer".to_owned(),
                1 => "/".to_owned(),
                2 => format!("/courses/c{:03}", served % 100),
                _ => format!("/badges/c{:03}/none", served % 100),
            };
            let request = axum::http::Request::builder()
                .uri(target)
                .header("accept", "text/html")
                .body(axum::body::Body::empty())
                .unwrap();
            let response = router.clone().oneshot(request).await.unwrap_or_else(|e| match e {});
            let _ = axum::body::to_bytes(response.into_body(), 1 << 20).await;
            served += 1;
        }
    });
}

async fn start(url: &str, now: DateTime<Utc>, web: bool) -> Bot {
    let store = Store::open(url).await.unwrap();
    let (chat, driver) = InMemoryChat::new();
    let chat: Arc<dyn ChatAdapter> = Arc::new(chat);
    let mut adapters = Adapters::default();
    adapters.add(Arc::clone(&chat));
    let clock = ManualClock::new(now);
    let mut engine = Engine::open(store.clone(), Admins::new(["olga".to_owned()]), adapters.clone()).await.unwrap();
    if web {
        read_pages(&mut engine, 1_000);
    }
    let executor = Executor::new(store, adapters, engine.directory(), engine.reporter(), Arc::new(clock.clone()));
    let events = chat.connect().await.unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let runtime = Runtime::new(engine, executor, Arc::new(clock.clone()), events);
    let task = tokio::spawn(async move {
        runtime
            .run(async move {
                let _ = stopped.await;
            })
            .await
            .unwrap();
    });
    Bot { driver, clock, stop, task }
}

/// Sends commands and waits for one reply to each; returns (elapsed, latencies).
async fn drive(
    driver: &MemoryDriver,
    commands: &[(String, String, String)],
    pace: Option<Duration>,
) -> (Duration, Vec<Duration>) {
    let mut sent: HashMap<String, Instant> = HashMap::with_capacity(commands.len());
    let mut latencies = Vec::with_capacity(commands.len());
    let started = Instant::now();
    let collect = |sent: &mut HashMap<String, Instant>, latencies: &mut Vec<Duration>| {
        for d in driver.take_deliveries() {
            if let (DeliveryKind::Room(_) | DeliveryKind::Direct(_), Some(m)) = (&d.kind, &d.message)
                && let Some(at) = m.reply_to.as_ref().and_then(|r| sent.remove(r.id.raw()))
            {
                latencies.push(d.at - at);
            }
        }
    };
    for (i, (user, room, text)) in commands.iter().enumerate() {
        let at = Instant::now();
        let message = driver.say(user, room, text).await.unwrap();
        sent.insert(message.id.raw().to_owned(), at);
        if let Some(pace) = pace {
            let due = started + pace * (i as u32 + 1);
            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                tokio::time::sleep(wait).await;
            }
            collect(&mut sent, &mut latencies);
        }
    }
    let deadline = Instant::now() + Duration::from_secs(300);
    while !sent.is_empty() && Instant::now() < deadline {
        collect(&mut sent, &mut latencies);
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    assert!(sent.is_empty(), "{} commands got no reply", sent.len());
    (started.elapsed(), latencies)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn report(label: &str, elapsed: Duration, mut latencies: Vec<Duration>) -> f64 {
    latencies.sort();
    let rate = latencies.len() as f64 / elapsed.as_secs_f64();
    println!(
        "{label:<34} {:>7} commands in {:>7.2} s = {:>8.0} commands/s   p50 {:>8.2} ms   p99 {:>8.2} ms",
        latencies.len(),
        elapsed.as_secs_f64(),
        rate,
        percentile(&latencies, 0.50).as_secs_f64() * 1e3,
        percentile(&latencies, 0.99).as_secs_f64() * 1e3,
    );
    rate
}

async fn raw_insert_rate(url: &str, rows: usize) -> f64 {
    let store = Store::open(url).await.unwrap();
    let pool = store.pool();
    sqlx::query("CREATE TABLE raw_inserts (id BIGINT PRIMARY KEY, course BIGINT NOT NULL, body TEXT NOT NULL, at BIGINT NOT NULL)")
        .execute(pool)
        .await
        .unwrap();
    let started = Instant::now();
    for i in 0..rows {
        sqlx::query("INSERT INTO raw_inserts (id, course, body, at) VALUES ($1, $2, $3, $4)")
            .bind(i as i64)
            .bind((i % COURSES) as i64)
            .bind(format!("https://example.org/work/{i}"))
            .bind(i as i64)
            .execute(pool)
            .await
            .unwrap();
    }
    let rate = rows as f64 / started.elapsed().as_secs_f64();
    store.close().await;
    rate
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let commands: usize = args
        .iter()
        .position(|a| a == "--commands")
        .and_then(|i| args.get(i + 1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(20_000);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    runtime.block_on(async move {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("bench.db").display());
        let monday: DateTime<Utc> = "2026-10-19T08:00:00Z".parse().unwrap();
        let web = args.iter().any(|a| a == "--web");
        let bot = start(&url, monday, web).await;

        println!(
            "Facilitator engine benchmark: {COURSES} courses x {LEARNERS} learners, SQLite file (WAL, synchronous=NORMAL), in-memory adapter{}",
            if web { "; web face reading snapshots, 1,000 pages/s" } else { "" }
        );
        let setup: Vec<(String, String, String)> = (0..COURSES)
            .map(|c| ("olga".to_owned(), "lobby".to_owned(), format!("!course new c{c:03} \"Course {c}\" weeks=4")))
            .chain((0..COURSES).flat_map(|c| (0..LEARNERS).map(move |l| (format!("u{c:03}x{l:03}"), "lobby".to_owned(), format!("!join c{c:03}")))))
            .collect();
        let (elapsed, latencies) = drive(&bot.driver, &setup, None).await;
        report("setup (course new + join)", elapsed, latencies);

        // Week 1 opens everywhere at 09:00.
        bot.clock.set("2026-10-19T09:00:01Z".parse().unwrap());
        let wait = Instant::now();
        // Plain chat wakes the runtime (which sleeps until the next due job by the clock it had).
        bot.driver.say("olga", "lobby", "good morning").await.unwrap();
        let mut prompts = 0;
        while prompts < COURSES && wait.elapsed() < Duration::from_secs(120) {
            prompts += bot.driver.take_deliveries().iter().filter(|d| matches!(d.kind, DeliveryKind::Room(_)) && d.message.as_ref().is_some_and(|m| m.reply_to.is_none())).count();
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        println!("{:<34} {prompts:>7} prompts posted in {:>7.2} s", "week 1 prompts", wait.elapsed().as_secs_f64());

        // The mix: 80% submissions (first versions, then revisions), 20% organizer status.
        let mix: Vec<(String, String, String)> = (0..commands)
            .map(|i| {
                let course = i % COURSES;
                if i % 5 == 4 {
                    ("olga".to_owned(), format!("c{course:03}"), "!status".to_owned())
                } else {
                    let learner = (i / COURSES) % LEARNERS;
                    (format!("u{course:03}x{learner:03}"), format!("c{course:03}"), format!("!submit https://example.org/{course}/{learner}/{i}"))
                }
            })
            .collect();
        let (elapsed, latencies) = drive(&bot.driver, &mix, None).await;
        let command_rate = report("submit/status mix, saturated", elapsed, latencies);
        let paced: Vec<_> = mix.iter().take(commands / 4).cloned().collect();
        let (elapsed, latencies) = drive(&bot.driver, &paced, Some(Duration::from_micros(500))).await;
        report("submit/status mix, 2,000/s offered", elapsed, latencies);

        let _ = bot.stop.send(());
        bot.task.await.unwrap();

        let raw_url = format!("sqlite://{}", dir.path().join("raw.db").display());
        let insert_rate = raw_insert_rate(&raw_url, commands).await;
        println!("{:<34} {commands:>7} rows                 = {insert_rate:>8.0} inserts/s", "raw single-row sqlx inserts");
        println!(
            "commands/s vs raw inserts/s: {:.2} (targets: >= 5,000 commands/s and >= 0.5 of the raw insert rate)",
            command_rate / insert_rate
        );
    });
}
