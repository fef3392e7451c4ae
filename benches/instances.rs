//! Instances benchmark: 10,000 courses whose first prompts fall due in the same minute, posted
//! by 1, 2 and 3 instances on one PostgreSQL database and by one instance on SQLite. Each
//! instance has its own in-memory platform (with every course room), so a prompt posted twice
//! by two instances would show as two posts: the benchmark counts posts across instances and
//! checks every room got exactly one. Then the scheduler's cost per tick when nothing is due,
//! with 100 and with 10,000 courses.
//!
//! Needs PostgreSQL at `FACILITATOR_TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/test`). Run: `cargo bench --bench instances`
//! (options: `-- --courses N`).

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use facilitator::adapters::Adapters;
use facilitator::clock::{Clock, ManualClock};
use facilitator::engine::{Admins, Engine};
use facilitator::executor::Executor;
use facilitator_chat::{ChatAdapter, ChatEvent, DeliveryKind, InMemoryChat};
use facilitator_storage::Store;
use sqlx::Connection;

fn at(text: &str) -> DateTime<Utc> {
    text.parse().unwrap()
}

/// Creates `courses` courses through the engine (as an admin would, in batches), then maps
/// every course to a room named after its id, as the executor would after creating them.
async fn populate(url: &str, courses: usize) -> Duration {
    let started = Instant::now();
    let store = Store::open(url).await.unwrap();
    let (chat, driver) = InMemoryChat::new();
    let mut adapters = Adapters::default();
    adapters.add(Arc::new(chat.clone()));
    let mut engine = Engine::open(store.clone(), Admins::new(["olga".to_owned()]), adapters).await.unwrap();
    let mut events = chat.connect().await.unwrap();
    let now = at("2026-10-19T08:00:00Z");
    for chunk in (0..courses).collect::<Vec<_>>().chunks(500) {
        for i in chunk {
            driver.say("olga", "lobby", &format!("!course new c{i} \"Course {i}\" weeks=4")).await.unwrap();
        }
        let mut batch: Vec<ChatEvent> = Vec::with_capacity(chunk.len());
        while batch.len() < chunk.len() {
            batch.push(events.recv().await.unwrap());
        }
        engine.handle_events(batch, now).await.unwrap();
    }
    // The rooms, as if created; their creation effects are done.
    sqlx::query(
        "INSERT INTO rooms (owner_kind, owner_id, platform, room) SELECT 'course', id, 'memory', 'room-' || id FROM courses",
    )
    .execute(store.pool())
    .await
    .unwrap();
    sqlx::query("UPDATE outbox SET state = 1").execute(store.pool()).await.unwrap();
    sqlx::query("UPDATE generation SET value = value + 1").execute(store.pool()).await.unwrap();
    // What autovacuum and SQLite's automatic checkpoints do in a running system: the figures
    // below are of a settled database, not of one with 10,000 fresh inserts in its log.
    let settle = if url.starts_with("sqlite") { "PRAGMA wal_checkpoint(TRUNCATE)" } else { "VACUUM ANALYZE" };
    sqlx::query(settle).execute(store.pool()).await.unwrap();
    store.close().await;
    started.elapsed()
}

struct Pg {
    admin: String,
    base: String,
    made: Vec<String>,
}

impl Pg {
    fn new() -> Pg {
        let admin = std::env::var("FACILITATOR_TEST_POSTGRES_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
        let (base, _) = admin.rsplit_once('/').unwrap();
        Pg { base: base.to_owned(), admin, made: Vec::new() }
    }

    async fn create(&mut self, name: &str, template: Option<&str>) -> String {
        let mut conn = sqlx::PgConnection::connect(&self.admin)
            .await
            .unwrap_or_else(|e| panic!("PostgreSQL at {} is needed: {e}", self.admin));
        let name = format!("facilitator_bench_{}_{name}", std::process::id());
        let sql = match template {
            Some(t) => format!("CREATE DATABASE {name} TEMPLATE {t}"),
            None => format!("CREATE DATABASE {name}"),
        };
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql)).execute(&mut conn).await.unwrap();
        self.made.push(name.clone());
        name
    }

    fn url(&self, name: &str) -> String {
        format!("{}/{name}", self.base)
    }

    async fn drop_all(&self) {
        let mut conn = sqlx::PgConnection::connect(&self.admin).await.unwrap();
        for name in &self.made {
            sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")))
                .execute(&mut conn)
                .await
                .unwrap();
        }
    }
}

/// Starts `n` instances at the due minute and runs them until every prompt is posted. Returns
/// the time to the last post, and whether every room got exactly one.
async fn post_all(url: &str, n: usize, courses: usize) -> (Duration, bool) {
    let due = at("2026-10-19T09:00:00Z");
    let posted = Arc::new(AtomicUsize::new(0));
    let per_room: Arc<Mutex<HashMap<String, usize>>> = Arc::default();
    let mut instances = Vec::new();
    for _ in 0..n {
        let store = Store::open(url).await.unwrap();
        let (chat, driver) = InMemoryChat::new();
        for row in store.rooms().await.unwrap() {
            driver.restore_room(&row.room, Vec::new());
        }
        let mut adapters = Adapters::default();
        adapters.add(Arc::new(chat) as Arc<dyn ChatAdapter>);
        let engine = Engine::open(store.clone(), Admins::new(Vec::new()), adapters.clone()).await.unwrap();
        let clock: Arc<dyn Clock> = Arc::new(ManualClock::new(due + chrono::Duration::seconds(20)));
        let executor =
            Executor::new(store.clone(), adapters, engine.directory(), engine.reporter(), Arc::clone(&clock));
        instances.push((engine, executor, driver, store, clock));
    }
    let started = Instant::now();
    let mut tasks = Vec::new();
    for (mut engine, executor, driver, store, clock) in instances {
        let posted = Arc::clone(&posted);
        let per_room = Arc::clone(&per_room);
        tasks.push(tokio::spawn(async move {
            let now = due + chrono::Duration::seconds(20);
            let deadline = Instant::now() + Duration::from_secs(600);
            while posted.load(Ordering::SeqCst) < courses && Instant::now() < deadline {
                engine.run_due_once(now).await.unwrap();
                let delivered = engine.serving_reports(executor.deliver_pending(), clock.as_ref()).await.unwrap();
                for d in driver.take_deliveries() {
                    if let (DeliveryKind::Room(room), Some(text)) = (&d.kind, d.text())
                        && text.contains("**Week 1 of 4")
                    {
                        *per_room.lock().unwrap().entry(room.clone()).or_default() += 1;
                        posted.fetch_add(1, Ordering::SeqCst);
                    }
                }
                if delivered.sent == 0 {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
            store.close().await;
        }));
    }
    let mut last = Duration::ZERO;
    for task in tasks {
        task.await.unwrap();
        last = last.max(started.elapsed());
    }
    let rooms = per_room.lock().unwrap();
    let exact = rooms.len() == courses && rooms.values().all(|n| *n == 1);
    (last.min(started.elapsed()), exact && posted.load(Ordering::SeqCst) == courses)
}

/// The mean cost of one scheduler tick when nothing is due.
async fn idle_tick(url: &str) -> Duration {
    let store = Store::open(url).await.unwrap();
    let (chat, _driver) = InMemoryChat::new();
    let mut adapters = Adapters::default();
    adapters.add(Arc::new(chat) as Arc<dyn ChatAdapter>);
    let mut engine = Engine::open(store.clone(), Admins::new(Vec::new()), adapters).await.unwrap();
    let now = at("2026-10-19T08:30:00Z");
    for _ in 0..20 {
        engine.run_due_once(now).await.unwrap();
    }
    let ticks = 500;
    let started = Instant::now();
    for _ in 0..ticks {
        let outcome = engine.run_due_once(now).await.unwrap();
        assert_eq!(outcome.decided, 0, "nothing is due at 08:30");
    }
    store.close().await;
    started.elapsed() / ticks
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let courses: usize = args
        .iter()
        .position(|a| a == "--courses")
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let mut pg = Pg::new();
        let dir = tempfile::tempdir().unwrap();
        println!("instances benchmark: {courses} courses, every first prompt due at 09:00");

        let template = pg.create("template", None).await;
        let setup = populate(&pg.url(&template), courses).await;
        println!("  setup on PostgreSQL ({courses} `!course new` through the engine): {:.1} s", setup.as_secs_f64());
        for n in 1..=3 {
            let db = pg.create(&format!("run{n}"), Some(&template)).await;
            let (took, exact) = post_all(&pg.url(&db), n, courses).await;
            println!(
                "  PostgreSQL, {n} instance{}: all {courses} prompts posted in {:.2} s ({:.0} prompts/s); each exactly once: {exact}",
                if n == 1 { "" } else { "s" },
                took.as_secs_f64(),
                courses as f64 / took.as_secs_f64()
            );
        }
        let sqlite = format!("sqlite://{}/bench.db", dir.path().display());
        let setup = populate(&sqlite, courses).await;
        println!("  setup on SQLite: {:.1} s", setup.as_secs_f64());
        let (took, exact) = post_all(&sqlite, 1, courses).await;
        println!(
            "  SQLite, 1 instance: all {courses} prompts posted in {:.2} s ({:.0} prompts/s); each exactly once: {exact}",
            took.as_secs_f64(),
            courses as f64 / took.as_secs_f64()
        );

        println!("  scheduler tick with nothing due (mean of 500):");
        for size in [100, courses] {
            let db = pg.create(&format!("idle{size}"), None).await;
            populate(&pg.url(&db), size).await;
            let pg_tick = idle_tick(&pg.url(&db)).await;
            let file = format!("sqlite://{}/idle{size}.db", dir.path().display());
            populate(&file, size).await;
            let sqlite_tick = idle_tick(&file).await;
            println!(
                "    {size:>6} courses: PostgreSQL {:>7.1} µs, SQLite {:>7.1} µs",
                pg_tick.as_secs_f64() * 1e6,
                sqlite_tick.as_secs_f64() * 1e6
            );
        }
        pg.drop_all().await;
    });
}
