//! Several instances of the bot on one PostgreSQL database. Each instance receives every chat
//! event (as instances logged in as one bot account do) and runs the schedule on its own; the
//! community must see one bot: every command decided once, every job run once, every effect
//! performed once, and an instance that disappears mid-course taken over by the others.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use chrono::{DateTime, Duration, Utc};
use facilitator::adapters::Adapters;
use facilitator::clock::{Clock, ManualClock};
use facilitator::engine::{Admins, Engine, Entropy};
use facilitator::executor::Executor;
use facilitator::ops::Metrics;
use facilitator_chat::{ChatAdapter, ChatEvent, DeliveryKind, EventStream, InMemoryChat, MemoryDriver};
use facilitator_storage::Store;
use sqlx::Connection;

pub struct Db {
    admin: String,
    name: String,
    pub url: String,
}

impl Db {
    pub async fn new() -> Db {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let admin = std::env::var("FACILITATOR_TEST_POSTGRES_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
        let name = format!(
            "facilitator_instances_{}_{}_{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst),
            Utc::now().timestamp_subsec_nanos()
        );
        let mut conn = sqlx::PgConnection::connect(&admin).await.unwrap_or_else(|e| {
            panic!("PostgreSQL at {admin} is needed for the instance tests (scripts/test.sh sets one up): {e}")
        });
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&mut conn).await.unwrap();
        conn.close().await.unwrap();
        let (base, _) = admin.rsplit_once('/').unwrap();
        let url = format!("{base}/{name}");
        Db { admin, name, url }
    }

    pub async fn drop_database(&self) {
        let mut conn = sqlx::PgConnection::connect(&self.admin).await.unwrap();
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name)))
            .execute(&mut conn)
            .await
            .unwrap();
    }
}

struct Instance {
    engine: Engine,
    executor: Executor,
    store: Store,
}

impl Instance {
    async fn start(url: &str, chat: &InMemoryChat, clock: &Arc<ManualClock>, seed: u64) -> Instance {
        let store = Store::open(url).await.unwrap();
        let mut adapters = Adapters::default();
        adapters.add(Arc::new(chat.clone()));
        let mut engine = Engine::open(store.clone(), Admins::new(["olga".to_owned()]), adapters.clone()).await.unwrap();
        engine.set_entropy(Entropy::seeded(seed));
        let clock: Arc<dyn Clock> = Arc::clone(clock) as Arc<dyn Clock>;
        let executor = Executor::new(store.clone(), adapters, engine.directory(), engine.reporter(), clock)
            .with_metrics(engine.metrics());
        Instance { engine, executor, store }
    }
}

fn count(metrics: &Metrics, family: &str) -> u64 {
    metrics
        .render(None)
        .lines()
        .filter(|l| !l.starts_with('#') && l.split(['{', ' ']).next() == Some(family))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

struct Cluster {
    instances: Vec<Instance>,
    retired: Vec<Arc<Metrics>>,
    chat: InMemoryChat,
    driver: MemoryDriver,
    events: EventStream,
    clock: Arc<ManualClock>,
    url: String,
    said: usize,
}

impl Cluster {
    /// Every instance handles every waiting event, all at once; then every instance runs
    /// what is due and delivers, all at once.
    async fn settle(&mut self) {
        let mut events: Vec<ChatEvent> = Vec::new();
        while let Ok(e) = self.events.try_recv() {
            events.push(e);
        }
        let now = self.clock.now();
        futures_join_all(self.instances.iter_mut().map(|i| {
            let events = events.clone();
            async move {
                if !events.is_empty() {
                    i.engine.handle_events(events, now).await.unwrap();
                }
                i.engine.run_due_once(now).await.unwrap();
            }
        }))
        .await;
        let clock = &*self.clock;
        futures_join_all(self.instances.iter_mut().map(|i| async move {
            i.engine.serving_reports(i.executor.deliver_pending(), clock).await.unwrap();
        }))
        .await;
    }

    async fn say(&mut self, user: &str, room: &str, text: &str) {
        self.driver.say(user, room, text).await.unwrap();
        self.said += 1;
        self.settle().await;
    }

    async fn advance(&mut self, by: Duration) {
        let target = self.clock.now() + by;
        while self.clock.now() < target {
            // To the next due job any instance knows of (each runs it at its time), or six hours.
            let now = self.clock.now();
            let next = self.instances.iter().filter_map(|i| i.engine.next_due()).filter(|d| *d > now).min();
            let step = next.unwrap_or(target).min(now + Duration::hours(6)).min(target);
            self.clock.set(step);
            self.settle().await;
        }
    }

    fn total(&self, family: &str) -> u64 {
        self.instances
            .iter()
            .map(|i| i.engine.metrics())
            .chain(self.retired.iter().cloned())
            .map(|m| count(&m, family))
            .sum()
    }
}

/// `join_all` without the futures crate: the futures are polled together on this task.
async fn futures_join_all<F: std::future::Future<Output = ()>>(futures: impl IntoIterator<Item = F>) {
    let set: Vec<_> = futures.into_iter().map(Box::pin).collect();
    let mut pending: Vec<_> = set.into_iter().map(Some).collect();
    std::future::poll_fn(|cx| {
        let mut all = true;
        for slot in &mut pending {
            if let Some(f) = slot {
                if f.as_mut().poll(cx).is_ready() {
                    *slot = None;
                } else {
                    all = false;
                }
            }
        }
        if all { std::task::Poll::Ready(()) } else { std::task::Poll::Pending }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_instances_on_one_database_act_as_one_bot_even_when_one_disappears() {
    let db = Db::new().await;
    let (chat, driver) = InMemoryChat::new();
    let events = chat.connect().await.unwrap();
    let start: DateTime<Utc> = "2026-10-19T08:00:00Z".parse().unwrap();
    let clock = Arc::new(ManualClock::new(start));
    let mut instances = Vec::new();
    for seed in 1..=3 {
        instances.push(Instance::start(&db.url, &chat, &clock, seed).await);
    }
    let mut c = Cluster { instances, retired: Vec::new(), chat, driver, events, clock, url: db.url.clone(), said: 0 };

    c.say("olga", "lobby", "!course new data-101 \"Intro to Data\" weeks=4").await;
    for learner in ["ana", "ben", "chen"] {
        c.say(learner, "lobby", "!join data-101").await;
    }
    c.say("olga", "data-101", "!mentor add @mia").await;
    for week in 1..=4 {
        c.advance(Duration::hours(2)).await;
        for learner in ["ana", "ben", "chen"] {
            c.say(learner, "data-101", &format!("!submit https://example.org/{learner}/{week}")).await;
        }
        c.say("olga", "data-101", "!status").await;
        if week == 2 {
            // The instance that delivers goes away mid-course, its connections with it; a new
            // one starts on the same database.
            let deliverer = c.instances.iter().position(|i| i.executor.delivers()).expect("one instance delivers");
            let gone = c.instances.remove(deliverer);
            c.retired.push(gone.engine.metrics());
            gone.store.close().await;
            drop(gone);
            let fresh = Instance::start(&c.url, &c.chat, &c.clock, 4).await;
            c.instances.push(fresh);
        }
        c.advance(Duration::days(7) - Duration::hours(2)).await;
    }
    c.advance(Duration::days(7)).await;
    // Let the standbys notice the deliverer is gone and drain what is left.
    for _ in 0..5 {
        c.settle().await;
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }

    let store = &c.instances[0].store;
    let (pending, done, failed) = store.outbox_counts().await.unwrap();
    assert_eq!((pending, failed), (0, 0), "everything was delivered");
    // Every effect performed once, across instances.
    assert_eq!(c.total("facilitator_effects_sent_total") as i64, done, "effects performed once each");
    // Every command decided by exactly one instance; the others saw it as a duplicate.
    assert_eq!(c.total("facilitator_commands_total"), c.said as u64, "each command decided once");
    let state = store.load_state().await.unwrap();
    let course = state.courses.values().next().unwrap();
    assert_eq!(course.submissions.len(), 12, "every acknowledged submission stored");
    assert_eq!(course.opened.len(), 4);
    assert!(state.jobs.is_empty(), "every job ran: {:?}", state.jobs);
    // On the platform: each prompt once, each command answered once.
    let deliveries = c.driver.take_deliveries();
    let posts: BTreeMap<u32, usize> = (1..=4)
        .map(|w| {
            let marker = format!("**Week {w} of 4");
            (w, deliveries.iter().filter(|d| d.text().is_some_and(|t| t.contains(&marker))).count())
        })
        .collect();
    assert!(posts.values().all(|n| *n == 1), "each prompt once: {posts:?}");
    let acks = deliveries
        .iter()
        .filter(|d| matches!(d.kind, DeliveryKind::Room(_)) && d.text().is_some_and(|t| t.contains("submission is in")))
        .count();
    assert_eq!(acks, 12, "each submission acknowledged once");
    assert_eq!(c.total("facilitator_events_deduplicated_total"), 2 * c.said as u64, "the others skipped each one");
    assert!(c.total("facilitator_state_reloads_total") > 0, "instances caught up with each other");
    for i in c.instances.iter() {
        i.store.close().await;
    }
    db.drop_database().await;
}
