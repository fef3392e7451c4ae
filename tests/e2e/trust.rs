//! What a hostile or careless member found, against the engine on real databases: one
//! member's flood, one bad event in a batch.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use facilitator::adapters::Adapters;
use facilitator::budget::BudgetConfig;
use facilitator::clock::{Clock, ManualClock};
use facilitator::engine::{Admins, Engine};
use facilitator::executor::Executor;
use facilitator_chat::{ChatAdapter, ChatEvent, DeliveryKind, InMemoryChat};
use facilitator_storage::Store;

use crate::harness::Harness;
use crate::instances::Db;

#[tokio::test]
async fn one_member_flooding_gets_a_burst_one_slow_down_then_silence_and_others_are_answered() {
    let mut h = Harness::with_course().await;
    h.console.set_budget(BudgetConfig { commands_burst: 5, commands_per_minute: 12 });
    let mut answers = 0;
    let mut slow_downs = 0;
    for _ in 0..30 {
        let out = h.say("ana@dm: !help").await;
        if out.contains("Commands you can use") {
            answers += 1;
        }
        if out.contains("sent many commands") {
            slow_downs += 1;
        }
    }
    assert_eq!((answers, slow_downs), (5, 1), "a burst of 5, one warning, then silence");
    let out = h.say("ben@dm: !ping").await;
    assert!(out.contains("pong"), "another person is answered at once: {out}");
    // The budget refills: one command per 5 seconds.
    h.say("/advance 6s").await;
    assert!(h.say("ana@dm: !ping").await.contains("pong"));
    // Nothing a flood said changed anything, and the flood was not stored as commands.
    let stored: i64 = sqlx::Row::get(
        &sqlx::query("SELECT COUNT(*) AS n FROM outbox WHERE payload LIKE '%sent many commands%'")
            .fetch_one(h.store.pool())
            .await
            .unwrap(),
        "n",
    );
    assert_eq!(stored, 1);
}

async fn bot_on(
    url: &str,
    clock: &Arc<ManualClock>,
) -> (Engine, Executor, InMemoryChat, facilitator_chat::MemoryDriver) {
    let (chat, driver) = InMemoryChat::new();
    let store = Store::open(url).await.unwrap();
    let mut adapters = Adapters::default();
    adapters.add(Arc::new(chat.clone()));
    let engine = Engine::open(store.clone(), Admins::new(["olga".to_owned()]), adapters.clone()).await.unwrap();
    let clock: Arc<dyn Clock> = Arc::clone(clock) as Arc<dyn Clock>;
    let executor = Executor::new(store, adapters, engine.directory(), engine.reporter(), clock);
    (engine, executor, chat, driver)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgresql_a_bad_event_is_refused_alone_and_everyone_else_in_its_batch_is_answered() {
    let db = Db::new().await;
    let start: DateTime<Utc> = "2026-10-19T08:00:00Z".parse().unwrap();
    let clock = Arc::new(ManualClock::new(start));
    let (mut engine, executor, chat, driver) = bot_on(&db.url, &clock).await;
    let mut events = chat.connect().await.unwrap();
    let take = |events: &mut facilitator_chat::EventStream| {
        let mut out = Vec::new();
        while let Ok(e) = events.try_recv() {
            out.push(e);
        }
        out
    };
    driver.say("olga", "lobby", "!course new data-101 \"Intro to Data\" weeks=3").await.unwrap();
    driver.say("ana", "lobby", "!join data-101").await.unwrap();
    driver.say("ben", "lobby", "!join data-101").await.unwrap();
    engine.handle_events(take(&mut events), start).await.unwrap();
    engine.serving_reports(executor.deliver_pending(), &*clock).await.unwrap();
    clock.set(start + chrono::Duration::hours(2));
    engine.run_due_once(clock.now()).await.unwrap();
    engine.serving_reports(executor.deliver_pending(), &*clock).await.unwrap();
    driver.take_deliveries();

    // One batch: a submission with a NUL byte, a command whose platform event id PostgreSQL
    // cannot store, and two ordinary commands.
    driver.say("ana", "data-101", "!submit https://example.org/a\u{0}b").await.unwrap();
    driver.say("ben", "data-101", "!submit https://example.org/ben").await.unwrap();
    driver.say("chen", "dm", "!ping").await.unwrap();
    driver.say("olga", "dm", "!ping").await.unwrap();
    let mut batch = take(&mut events);
    assert_eq!(batch.len(), 4);
    if let ChatEvent::Message(m) = &mut batch[2] {
        m.event_id.push('\u{0}');
    }
    let outcome = engine.handle_events(batch, clock.now()).await.expect("the batch as a whole is not lost");
    assert!(outcome.decided >= 3, "{outcome:?}");
    engine.serving_reports(executor.deliver_pending(), &*clock).await.unwrap();
    let said: Vec<(DeliveryKind, String)> =
        driver.take_deliveries().into_iter().filter_map(|d| Some((d.kind.clone(), d.text()?))).collect();
    let to = |room: &str, needle: &str| {
        said.iter().any(|(k, t)| {
            matches!(k, DeliveryKind::Room(r) | DeliveryKind::Direct(r) if r.contains(room)) && t.contains(needle)
        })
    };
    assert!(to("data-101", "Thanks, @ana"), "ana's work is stored without the NUL: {said:#?}");
    assert!(to("data-101", "Thanks, @ben"), "{said:#?}");
    assert!(to("olga", "pong"), "{said:#?}");
    assert!(to("chen", "could not store"), "the bad event alone is refused: {said:#?}");
    let state = engine.state();
    let course = state.courses.values().next().unwrap();
    let bodies: Vec<&str> = course.submissions.values().map(|s| s.body.as_str()).collect();
    assert!(bodies.contains(&"https://example.org/ab"), "{bodies:?}");
    assert_eq!(bodies.len(), 2);
    // What is in memory is what is stored.
    let stored = Store::open(&db.url).await.unwrap().load_state().await.unwrap();
    assert_eq!(&stored, state);
    db.drop_database().await;
}

/// A bot on a fresh SQLite database, with a course `data-101` whose week 1 is open.
async fn sqlite_bot() -> (
    Engine,
    Executor,
    facilitator_chat::MemoryDriver,
    facilitator_chat::EventStream,
    Arc<ManualClock>,
    tempfile::TempDir,
) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("bot.db").display());
    let start: DateTime<Utc> = "2026-10-19T08:00:00Z".parse().unwrap();
    let clock = Arc::new(ManualClock::new(start));
    let (mut engine, executor, chat, driver) = bot_on(&url, &clock).await;
    let mut events = chat.connect().await.unwrap();
    driver.say("olga", "lobby", "!course new data-101 \"Intro to Data\" weeks=3").await.unwrap();
    driver.say("ben", "lobby", "!join data-101").await.unwrap();
    engine.handle_events(drain(&mut events), start).await.unwrap();
    engine.serving_reports(executor.deliver_pending(), &*clock).await.unwrap();
    driver.take_deliveries();
    (engine, executor, driver, events, clock, dir)
}

fn drain(events: &mut facilitator_chat::EventStream) -> Vec<ChatEvent> {
    let mut out = Vec::new();
    while let Ok(e) = events.try_recv() {
        out.push(e);
    }
    out
}

fn answered(deliveries: &[facilitator_chat::Delivery]) -> Vec<String> {
    deliveries
        .iter()
        .filter_map(|d| match &d.kind {
            DeliveryKind::Room(room) | DeliveryKind::Direct(room) => Some(format!("{room}: {}", d.text()?)),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn one_rooms_retry_backoff_never_holds_another_rooms_replies() {
    let (mut engine, executor, driver, mut events, clock, _dir) = sqlite_bot().await;
    driver.say("olga", "data-101", "!ping").await.unwrap();
    driver.say("ben", "dm", "!ping").await.unwrap();
    engine.handle_events(drain(&mut events), clock.now()).await.unwrap();
    // The first send (the answer in the course room) fails with a network error.
    driver.fail_next("send", facilitator_chat::AdapterErrorKind::Transient);
    let first = engine.serving_reports(executor.deliver_pending(), &*clock).await.unwrap();
    let said = answered(&driver.take_deliveries());
    assert!(said.iter().any(|s| s.contains("pong") && !s.starts_with("data-101")), "ben is answered at once: {said:?}");
    assert!(!said.iter().any(|s| s.starts_with("data-101")), "{said:?}");
    let wait = first.retry_in.expect("the course room's lane waits");
    tokio::time::sleep(wait + std::time::Duration::from_millis(50)).await;
    engine.serving_reports(executor.deliver_pending(), &*clock).await.unwrap();
    let said = answered(&driver.take_deliveries());
    assert_eq!(said.iter().filter(|s| s.starts_with("data-101") && s.contains("pong")).count(), 1, "{said:?}");
}

#[tokio::test]
async fn a_rooms_backlog_takes_turns_with_other_rooms_and_keeps_its_own_order() {
    let (mut engine, executor, driver, mut events, clock, _dir) = sqlite_bot().await;
    for n in 0..30 {
        driver.say("olga", "data-101", &format!("!help {}", ["ping", "join", "tz"][n % 3])).await.unwrap();
    }
    driver.say("ben", "dm", "!ping").await.unwrap();
    engine.handle_events(drain(&mut events), clock.now()).await.unwrap();
    engine.serving_reports(executor.deliver_pending(), &*clock).await.unwrap();
    let said = answered(&driver.take_deliveries());
    assert_eq!(said.len(), 31, "{said:#?}");
    let ben = said.iter().position(|s| s.contains("pong")).unwrap();
    assert!(ben <= 1, "ben's answer does not wait behind 30 answers in another room: at {ben}");
    let course: Vec<&String> = said.iter().filter(|s| s.starts_with("data-101")).collect();
    for (n, s) in course.iter().enumerate() {
        let topic = ["!ping", "!join", "!tz"][n % 3];
        assert!(s.contains(topic), "answer {n} in the course room is to the {n}th command: {s}");
    }
}

#[tokio::test]
async fn an_attached_file_is_read_only_for_who_may_use_it_and_never_past_the_limit() {
    let (mut engine, executor, driver, mut events, clock, _dir) = sqlite_bot().await;
    let syllabus = "# Intro to Data\n\n## Week 1: Finding data\nFind a dataset.\n";
    // A learner's file is not downloaded at all: the answer is who may load a syllabus.
    driver.say_with_file("ben", "data-101", "!syllabus load", ("s.md", syllabus.as_bytes()), true).await.unwrap();
    // A file whose size the event does not give, far over the limit: abandoned at the limit.
    let huge = format!("# Huge\n\n## Week 1: All\n{}", "x".repeat(10 * facilitator_bot::syllabus::MAX_BYTES));
    driver.say_with_file("olga", "data-101", "!syllabus load", ("huge.md", huge.as_bytes()), false).await.unwrap();
    // Not text.
    driver.say_with_file("olga", "data-101", "!syllabus load", ("s.md", &[0xff, 0xfe, 0x00]), true).await.unwrap();
    engine.handle_events(drain(&mut events), clock.now()).await.unwrap();
    engine.serving_reports(executor.deliver_pending(), &*clock).await.unwrap();
    let said = answered(&driver.take_deliveries());
    assert_eq!(driver.fetched_files().len(), 2, "only the organizer's files were fetched: {said:#?}");
    assert!(said.iter().any(|s| s.contains("Only organizers")), "{said:#?}");
    assert!(said.iter().any(|s| s.contains("larger than 65536 bytes")), "{said:#?}");
    assert!(said.iter().any(|s| s.contains("not text")), "{said:#?}");
    assert!(engine.state().courses.values().all(|c| c.syllabus.is_none()), "nothing was loaded");

    // The organizer's file within the limit loads.
    driver.say_with_file("olga", "data-101", "!syllabus load", ("s.md", syllabus.as_bytes()), false).await.unwrap();
    engine.handle_events(drain(&mut events), clock.now()).await.unwrap();
    engine.serving_reports(executor.deliver_pending(), &*clock).await.unwrap();
    let said = answered(&driver.take_deliveries());
    assert!(said.iter().any(|s| s.contains("Loaded the syllabus")), "{said:#?}");
}

#[tokio::test]
async fn an_effect_the_platform_refuses_for_good_is_marked_failed_and_its_organizers_are_told_once_by_dm() {
    let (mut engine, executor, driver, mut events, clock, _dir) = sqlite_bot().await;
    driver.say("olga", "data-101", "!course set title=\"Data for Everyone\"").await.unwrap();
    engine.handle_events(drain(&mut events), clock.now()).await.unwrap();
    // The room's topic cannot be changed: the bot lost the permission.
    driver.fail_next("set_topic", facilitator_chat::AdapterErrorKind::Forbidden);
    let delivered = engine.serving_reports(executor.deliver_pending(), &*clock).await.unwrap();
    assert_eq!(delivered.failed, 1, "{delivered:?}");
    let deliveries = driver.take_deliveries();
    let said = answered(&deliveries);
    let told: Vec<&String> = said.iter().filter(|s| s.contains("topic")).collect();
    assert_eq!(told.len(), 1, "{said:#?}");
    assert!(told[0].starts_with("olga: "), "to the organizer: {}", told[0]);
    assert!(told[0].contains("data-101") && told[0].contains("did not allow"), "{}", told[0]);
    assert!(
        !said.iter().any(|s| s.starts_with("data-101") && s.contains("did not allow")),
        "not in the room: {said:#?}"
    );
    assert!(
        deliveries
            .iter()
            .any(|d| matches!(&d.kind, DeliveryKind::Direct(_)) && d.text().is_some_and(|t| t.contains("topic"))),
        "by direct message: {deliveries:#?}"
    );
    let (pending, _, failed) = engine.store().outbox_counts().await.unwrap();
    assert_eq!((pending, failed), (0, 1), "the topic change is marked failed, nothing is left waiting");
    // Delivering again neither retries the effect nor tells anyone twice.
    engine.serving_reports(executor.deliver_pending(), &*clock).await.unwrap();
    assert!(driver.take_deliveries().is_empty());
}

#[tokio::test]
async fn bot_admins_follow_the_config_at_each_start_and_a_command_line_tool_leaves_them_alone() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("bot.db").display());
    let store = Store::open(&url).await.unwrap();
    let (chat, driver) = InMemoryChat::new();
    let mut events = chat.connect().await.unwrap();
    let mut adapters = Adapters::default();
    adapters.add(Arc::new(chat));
    let admin = |engine: &Engine, handle: &str| {
        let account = facilitator_bot::Account { platform: "memory".into(), handle: handle.into() };
        engine.state().accounts.get(&account).is_some_and(|p| engine.state().is_admin(*p))
    };
    let now: DateTime<Utc> = "2026-10-19T08:00:00Z".parse().unwrap();
    let engine = Engine::open(store.clone(), Admins::new(["olga".to_owned()]), adapters.clone()).await.unwrap();
    assert!(admin(&engine, "olga"), "an admin is a person before they ever speak");
    assert!(!admin(&engine, "ben"));
    drop(engine);
    // olga is taken off the list and ben put on it.
    let engine = Engine::open(store.clone(), Admins::new(["ben".to_owned()]), adapters.clone()).await.unwrap();
    assert!(!admin(&engine, "olga") && admin(&engine, "ben"));
    drop(engine);
    // A tool that runs without the config's platforms changes nobody.
    let engine = Engine::open(store.clone(), Admins::unchanged(), Adapters::default()).await.unwrap();
    assert!(!admin(&engine, "olga") && admin(&engine, "ben"));
    drop(engine);
    // And the domain asks the state: olga may no longer create a course, ben may.
    let mut engine = Engine::open(store.clone(), Admins::new(["ben".to_owned()]), adapters.clone()).await.unwrap();
    driver.say("olga", "lobby", "!course new c-1 \"One\"").await.unwrap();
    driver.say("ben", "lobby", "!course new c-2 \"Two\"").await.unwrap();
    engine.handle_events(drain(&mut events), now).await.unwrap();
    let slugs: Vec<String> = engine.state().courses.values().map(|c| c.slug.to_string()).collect();
    assert_eq!(slugs, vec!["c-2"]);
}

#[tokio::test]
async fn a_person_who_changes_their_name_is_known_by_it_from_their_next_command_even_a_read_only_one() {
    let (mut engine, executor, driver, mut events, clock, dir) = sqlite_bot().await;
    let name_of = |engine: &Engine, handle: &str| {
        let account = facilitator_bot::Account { platform: "memory".into(), handle: handle.into() };
        let person = engine.state().accounts[&account];
        engine.state().persons[&person].name.clone()
    };
    assert_eq!(name_of(&engine, "ben"), "ben");
    driver.set_display_name("ben", "Ben Okafor");
    driver.say("ben", "data-101", "!ping").await.unwrap();
    engine.handle_events(drain(&mut events), clock.now()).await.unwrap();
    assert_eq!(name_of(&engine, "ben"), "Ben Okafor");
    // What the bot says about him uses it: the announcement that he mentors now names him.
    engine.serving_reports(executor.deliver_pending(), &*clock).await.unwrap();
    driver.take_deliveries();
    driver.say("olga", "data-101", "!mentor add @ben").await.unwrap();
    engine.handle_events(drain(&mut events), clock.now()).await.unwrap();
    engine.serving_reports(executor.deliver_pending(), &*clock).await.unwrap();
    let said = answered(&driver.take_deliveries()).join("\n");
    assert!(said.contains("Ben Okafor"), "{said}");
    // A name with nothing visible in it changes nothing.
    driver.set_display_name("ben", "\u{200b}");
    driver.say("ben", "data-101", "!ping").await.unwrap();
    engine.handle_events(drain(&mut events), clock.now()).await.unwrap();
    assert_eq!(name_of(&engine, "ben"), "Ben Okafor");
    // Stored: a restart knows him by it.
    drop(engine);
    let url = format!("sqlite://{}", dir.path().join("bot.db").display());
    let again = Engine::open(Store::open(&url).await.unwrap(), Admins::new(["olga".to_owned()]), Adapters::default())
        .await
        .unwrap();
    assert_eq!(name_of(&again, "ben"), "Ben Okafor");
}
