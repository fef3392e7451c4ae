//! One storage suite, run against every backend: SQLite always, PostgreSQL at
//! `FACILITATOR_TEST_POSTGRES_URL` (default `postgres://postgres@127.0.0.1:5432/test`), in a
//! database of its own that is dropped afterwards.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, Ordering};

use chrono::{DateTime, Duration, Utc};
use facilitator_bot::command::{self, Mention};
use facilitator_bot::{
    Account, Change, CommandInput, Ctx, Decision, Effect, Input, PersonId, Place, ReplyTo, State, Text, WeekThread,
    decide,
};
use facilitator_storage::{RoomOwner, RoomRow, Store, ThreadRow};
use sqlx::Connection;

struct TestDb {
    store: Store,
    cleanup: Option<(String, String)>,
}

impl TestDb {
    async fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.keep().join("test.db");
        TestDb { store: Store::open(&format!("sqlite://{}", path.display())).await.unwrap(), cleanup: None }
    }

    async fn postgres() -> TestDb {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let admin = std::env::var("FACILITATOR_TEST_POSTGRES_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
        let name = format!(
            "facilitator_test_{}_{}_{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst),
            Utc::now().timestamp_subsec_nanos()
        );
        let mut conn = sqlx::PgConnection::connect(&admin).await.unwrap_or_else(|e| {
            panic!("PostgreSQL at {admin} is needed for the storage suite (scripts/test.sh sets one up): {e}")
        });
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&mut conn).await.unwrap();
        conn.close().await.unwrap();
        let (base, _) = admin.rsplit_once('/').unwrap();
        let store = Store::open(&format!("{base}/{name}")).await.unwrap();
        TestDb { store, cleanup: Some((admin, name)) }
    }

    async fn finish(self) {
        self.store.close().await;
        if let Some((admin, name)) = self.cleanup {
            let mut conn = sqlx::PgConnection::connect(&admin).await.unwrap();
            sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")))
                .execute(&mut conn)
                .await
                .unwrap();
        }
    }
}

/// Drives the domain and the store side by side, the way the runtime does.
struct Community {
    state: State,
    now: DateTime<Utc>,
    replies: Vec<String>,
}

const NAMES: [&str; 4] = ["olga", "ana", "ben", "chen"];

impl Community {
    async fn new(store: &Store) -> Community {
        let mut c =
            Community { state: State::default(), now: "2026-10-19T08:00:00Z".parse().unwrap(), replies: Vec::new() };
        let mut changes: Vec<Change> = NAMES
            .iter()
            .enumerate()
            .map(|(i, n)| Change::PersonRegistered {
                person: PersonId(i as i64 + 1),
                account: Account { platform: "memory".into(), handle: (*n).into() },
                name: (*n).into(),
            })
            .collect();
        // olga is a bot admin; ana was one, and is no longer.
        changes.push(Change::AdminSet { person: PersonId(1), admin: true });
        changes.push(Change::AdminSet { person: PersonId(2), admin: true });
        changes.push(Change::AdminSet { person: PersonId(2), admin: false });
        // chen shows another name on the platform now.
        changes.push(Change::PersonRenamed { person: PersonId(4), name: "Chen Wei".into() });
        c.commit(store, Decision { changes, ..Decision::default() }, "setup").await;
        c
    }

    async fn commit(&mut self, store: &Store, d: Decision, key: &str) {
        let mut batch = store.begin(self.now).await.unwrap();
        for change in &d.changes {
            batch.apply(change).await.unwrap();
            self.state.apply(change);
        }
        for (i, effect) in d.effects.iter().enumerate() {
            batch.enqueue(&format!("{key}#{i}"), effect).unwrap();
            if let Effect::Reply { text, .. } = effect {
                self.replies.push(text.plain());
            }
        }
        batch.commit().await.unwrap();
    }

    async fn say(&mut self, store: &Store, who: usize, place: Place, text: &str) {
        let mentions: BTreeMap<Mention, PersonId> =
            NAMES.iter().enumerate().map(|(i, n)| (Mention(format!("@{n}")), PersonId(i as i64 + 1))).collect();
        let input = CommandInput {
            actor: PersonId(who as i64 + 1),
            place,
            reply_to: ReplyTo(format!("r{}", self.replies.len())),
            command: command::parse(text).unwrap(),
            mentions,
            unclear: BTreeMap::new(),
            thread_week: None,
            private_reply: false,
        };
        let d = decide(&self.state, Input::Command(input), &Ctx { now: self.now, seed: 0xFACE_F00D_DEAD_BEEF });
        let key = format!("cmd-{}", self.now.timestamp_millis());
        self.commit(store, d, &key).await;
        self.now += Duration::seconds(1);
    }

    async fn advance(&mut self, store: &Store, by: Duration) {
        self.now += by;
        while let Some((_, job)) = self.state.next_due_job(self.now) {
            let d = decide(&self.state, Input::JobDue { job }, &Ctx { now: self.now, seed: 0xFACE_F00D_DEAD_BEEF });
            self.commit(store, d, &format!("job-{job}")).await;
        }
    }

    fn room(&self) -> Place {
        Place::Course(*self.state.courses.keys().next().unwrap())
    }
}

const SYLLABUS: &str = "# Intro to Data\nIntro.\n\n## Week 1: Start\nRead [this](https://example.org/a).\n\n### Review\n- Clear?\n\n## Week 2: Clean\nClean it.\n\n## Week 3: Share\nShare it.\n\n## Badges\n### Starter\n- earned: weeks >= 1\n### Helper\n- earned: by 1 nominations\n### Cleaner\n- earned: by organizer\n";

async fn state_loaded_back_equals_state_built_in_memory(store: &Store) {
    let mut c = Community::new(store).await;
    c.say(store, 0, Place::Lobby, "!course new data-101 \"Intro to Data\" school=\"School of Data\" cycle=2026-fall")
        .await;
    c.say(store, 0, Place::Lobby, "!course new art-1 \"Art\" school=\"School of Data\" weeks=2 tz=Europe/Berlin").await;
    let room = c.room();
    c.say(store, 0, room, &format!("!syllabus load\n{SYLLABUS}")).await;
    c.say(store, 1, Place::Lobby, "!join data-101").await;
    c.say(store, 2, Place::Lobby, "!join data-101").await;
    c.say(store, 3, Place::Lobby, "!join data-101").await;
    c.say(store, 1, Place::Lobby, "!tz America/Sao_Paulo").await;
    c.say(store, 1, Place::Lobby, "!profile public").await;
    c.say(store, 1, Place::Direct, "!badge email Ana@Example.org").await;
    c.say(store, 2, Place::Direct, "!badge email ben@example.org").await;
    c.say(store, 2, Place::Direct, "!badge email off").await;
    c.say(store, 0, room, "!mentor add @chen").await;
    c.say(store, 0, room, "!course set threads=yes anonymous=yes public=no").await;
    c.advance(store, Duration::hours(2)).await;
    c.say(store, 1, room, "!submit https://example.org/ana-1").await;
    c.say(store, 1, room, "!submit https://example.org/ana-1b").await;
    c.say(store, 2, room, "!submit Ben's text with 'quotes' and ünïcödé").await;
    c.advance(store, Duration::days(6)).await;
    // Week 1 was paired at its deadline: ana and ben review each other, and the mentor fills in.
    let course_id = facilitator_bot::CourseId(1);
    let ana_assignment =
        c.state.courses[&course_id].assignments.values().find(|a| a.reviewer == PersonId(2)).unwrap().id;
    c.say(store, 1, Place::Direct, &format!("!review {} Clear and well sourced. score=4", ana_assignment.0)).await;
    c.say(store, 1, Place::Direct, &format!("!review {} Clear, well sourced, one typo.", ana_assignment.0)).await;
    c.say(store, 2, room, "!badge nominate @ana helper Kind and precise feedback").await;
    c.say(store, 0, room, "!badge award @ben cleaner").await;
    // Taken back, and given again: the revoked award keeps its address, the new one has its own.
    c.say(store, 0, room, "!badge revoke @ben cleaner awarded to the wrong person").await;
    c.say(store, 0, room, "!badge award @ben cleaner").await;
    c.advance(store, Duration::days(1)).await;
    c.say(store, 2, room, "!submit week 1 late revision").await;
    c.say(store, 0, room, "!course set deadline=4d prompt=\"0 10 * * Tue\"").await;
    c.say(store, 0, room, "!course pause").await;
    c.say(store, 0, room, "!course resume").await;
    c.say(store, 2, Place::Lobby, "!leave data-101").await;
    c.advance(store, Duration::days(3)).await;
    // A reload after every week was posted: the new introduction is taken, the posted weeks
    // keep the text they were posted with, and the merged file is what is stored.
    let reload = SYLLABUS.replace("Intro.", "Intro, shared widely.").replace("Share it.", "Share it again.");
    c.say(store, 0, room, &format!("!syllabus load\n{reload}")).await;

    let loaded = store.load_state().await.unwrap();
    assert_eq!(loaded, c.state);
    let course = &loaded.courses[&facilitator_bot::CourseId(1)];
    assert_eq!(course.opened.len(), 3);
    assert_eq!(course.submissions.len(), 2);
    assert!(course.paired.contains_key(&1));
    assert_eq!(course.reviews.values().next().unwrap().revisions, 2);
    assert_eq!(
        course.awards.len(),
        4,
        "starter twice, helper, cleaner: {:?}",
        course.awards.keys().collect::<Vec<_>>()
    );
    let revoked = &course.revocations[&(facilitator_bot::Slug::parse("cleaner").unwrap(), PersonId(3))];
    assert_eq!(revoked.len(), 1);
    assert_eq!(revoked[0].reason, "awarded to the wrong person");
    assert!(loaded.revocation_by_assertion(&revoked[0].assertion).is_some(), "the revoked address still answers");
    assert!(loaded.award_by_assertion(&revoked[0].assertion).is_none());
    assert_eq!(loaded.assertions.len(), 5, "four awards and one revoked");
    assert!(course.assignments.values().any(|a| a.reminders > 0));
    assert!(!course.settings.public && loaded.courses[&facilitator_bot::CourseId(2)].settings.public);
    let ana = &loaded.persons[&PersonId(2)];
    assert!(ana.public);
    assert_eq!(ana.badge_email.as_ref().map(|e| e.as_str()), Some("ana@example.org"));
    assert_eq!(loaded.persons[&PersonId(3)].badge_email, None, "withdrawn");
    let syllabus = course.syllabus.as_ref().unwrap();
    assert!(syllabus.source.contains("widely") && syllabus.intro.contains("widely"));
    assert_eq!(syllabus.week(3).unwrap().prompt, "Share it.", "a posted week keeps its text");
    assert!(!c.replies.iter().any(|r| r.starts_with("⚠️")), "{:#?}", c.replies);
}

async fn an_inbound_event_is_claimed_once(store: &Store) {
    let now = Utc::now();
    let keys = |k: &[&str]| k.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    let mut batch = store.begin(now).await.unwrap();
    assert_eq!(batch.claim_inbound(&keys(&["memory:m1", "memory:m1"])).await.unwrap(), vec![true, false]);
    assert_eq!(batch.claim_inbound(&keys(&["memory:m1"])).await.unwrap(), vec![false]);
    batch.commit().await.unwrap();
    let mut batch = store.begin(now).await.unwrap();
    assert_eq!(batch.claim_inbound(&keys(&["memory:m1", "memory:m2"])).await.unwrap(), vec![false, true]);
    drop(batch);
    let mut batch = store.begin(now).await.unwrap();
    assert_eq!(
        batch.claim_inbound(&keys(&["memory:m2"])).await.unwrap(),
        vec![true],
        "a rolled-back claim is not kept"
    );
    batch.commit().await.unwrap();
    // Many keys at once (more than one statement's worth).
    let many: Vec<String> = (0..450).map(|i| format!("memory:bulk{i}")).collect();
    let mut batch = store.begin(now).await.unwrap();
    assert!(batch.claim_inbound(&many).await.unwrap().iter().all(|fresh| *fresh));
    batch.commit().await.unwrap();
    let mut batch = store.begin(now).await.unwrap();
    assert!(batch.claim_inbound(&many).await.unwrap().iter().all(|fresh| !*fresh));
    drop(batch);
    assert_eq!(store.prune_inbound(now + Duration::seconds(1)).await.unwrap(), 452);
}

async fn batches_run_one_at_a_time_and_each_sees_what_the_one_before_stored(store: &Store) {
    let now = Utc::now();
    let key = vec!["matrix:$event".to_owned()];
    let mut first = store.begin(now).await.unwrap();
    let start = first.generation();
    // A second batch (another instance, or another connection of this one) waits for the first.
    let other = store.clone();
    let second = tokio::spawn(async move { other.begin(now).await.unwrap() });
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(!second.is_finished(), "the second batch must wait for the first");
    assert_eq!(first.claim_inbound(&key).await.unwrap(), vec![true]);
    first
        .apply(&Change::PersonRegistered {
            person: PersonId(900),
            account: Account { platform: "matrix".into(), handle: "@zoe:x".into() },
            name: "Zoe".into(),
        })
        .await
        .unwrap();
    let committed = first.commit().await.unwrap();
    assert_eq!(committed.generation, start + 1, "a batch that changed something is a new generation");
    let mut second = second.await.unwrap();
    assert_eq!(second.generation(), start + 1, "the second batch starts from the first one's generation");
    assert_eq!(second.claim_inbound(&key).await.unwrap(), vec![false], "and sees its claims");
    let snapshot = second.snapshot().await.unwrap();
    assert!(snapshot.state.persons.contains_key(&PersonId(900)), "and its changes, read inside the batch");
    // A batch that changes nothing leaves the generation alone; a new room is a new one.
    assert_eq!(second.commit().await.unwrap().generation, start + 1);
    let mut third = store.begin(now).await.unwrap();
    third
        .set_room(&RoomRow {
            owner: RoomOwner::Course(facilitator_bot::CourseId(7)),
            platform: "matrix".into(),
            room: "!r:x".into(),
        })
        .await
        .unwrap();
    assert_eq!(third.commit().await.unwrap().generation, start + 2);
    assert_eq!(store.generation().await.unwrap(), start + 2);
}

async fn one_process_delivers_at_a_time(store: &Store) {
    let mut mine = None;
    assert!(store.hold_delivery(&mut mine).await.unwrap());
    assert!(store.hold_delivery(&mut mine).await.unwrap(), "held again by its holder");
    if store.backend() == facilitator_storage::Backend::Postgres {
        let mut theirs = None;
        assert!(!store.hold_delivery(&mut theirs).await.unwrap(), "another holder must wait");
        drop(mine);
        // The server releases the lock when the holder's connection goes away.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while !store.hold_delivery(&mut theirs).await.unwrap() {
            assert!(std::time::Instant::now() < deadline, "the lock was never released");
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }
}

async fn effects_are_queued_once_per_key_and_drained_in_order(store: &Store) {
    let now: DateTime<Utc> = "2026-10-19T08:00:00Z".parse().unwrap();
    let post = |n: i64| Effect::Post {
        course: facilitator_bot::CourseId(n),
        text: Text::md(format!("post {n}")).user("<b>x</b>"),
        // An effect written before threads existed has none; one with a thread keeps it.
        thread: (n == 2).then(|| WeekThread { week: 2, name: "Week 2: ü".into(), opening: Text::md("in here") }),
    };
    let mut batch = store.begin(now).await.unwrap();
    batch.enqueue("k1", &post(1)).unwrap();
    batch.enqueue("k2", &post(2)).unwrap();
    batch.enqueue("k1", &post(3)).unwrap();
    assert_eq!(batch.commit().await.unwrap().effects, 2);
    let mut batch = store.begin(now).await.unwrap();
    batch.enqueue("k2", &post(4)).unwrap();
    assert_eq!(batch.commit().await.unwrap().effects, 0, "a key queued in an earlier batch is not queued again");
    let pending = store.pending_effects(0, 10).await.unwrap();
    let (a, b) = (pending[0].id, pending[1].id);
    assert!(b > a);
    assert_eq!(pending.iter().map(|r| r.key.as_str()).collect::<Vec<_>>(), vec!["k1", "k2"]);
    assert_eq!(pending[0].effect, post(1));
    store.fail_effect(a, "timeout", false, now).await.unwrap();
    assert_eq!(store.pending_effects(0, 10).await.unwrap()[0].attempts, 1);
    store.complete_effects(&[a], now).await.unwrap();
    // Given up inside a batch, with what was decided about it.
    let mut batch = store.begin(now).await.unwrap();
    batch.give_up_effect(b, "forbidden").await.unwrap();
    batch.commit().await.unwrap();
    assert!(store.pending_effects(0, 10).await.unwrap().is_empty());
    assert_eq!(store.outbox_counts().await.unwrap(), (0, 1, 1));
}

async fn rooms_are_stored_per_owner_and_platform(store: &Store) {
    let course = RoomRow {
        owner: RoomOwner::Course(facilitator_bot::CourseId(1)),
        platform: "matrix".into(),
        room: "!a:x".into(),
    };
    let now: DateTime<Utc> = "2026-10-19T08:00:00Z".parse().unwrap();
    let mut batch = store.begin(now).await.unwrap();
    batch.set_room(&course).await.unwrap();
    batch.commit().await.unwrap();
    let mut batch = store.begin(now).await.unwrap();
    batch.set_room(&RoomRow { room: "!b:x".into(), ..course.clone() }).await.unwrap();
    let school = RoomRow {
        owner: RoomOwner::School(facilitator_bot::SchoolId(1)),
        platform: "discord".into(),
        room: "123".into(),
    };
    batch.set_room(&school).await.unwrap();
    batch.commit().await.unwrap();
    let rooms = store.rooms().await.unwrap();
    assert_eq!(rooms.len(), 2);
    assert!(rooms.contains(&RoomRow { room: "!b:x".into(), ..course }));
}

async fn week_threads_are_stored_per_course_week_and_platform(store: &Store) {
    let thread = ThreadRow {
        course: facilitator_bot::CourseId(1),
        week: 2,
        platform: "matrix".into(),
        room: "!a:x".into(),
        root: "$root1".into(),
    };
    let now: DateTime<Utc> = "2026-10-19T08:00:00Z".parse().unwrap();
    let mut batch = store.begin(now).await.unwrap();
    batch.set_thread(&thread).await.unwrap();
    batch.commit().await.unwrap();
    let mut batch = store.begin(now).await.unwrap();
    batch.set_thread(&ThreadRow { root: "$root2".into(), ..thread.clone() }).await.unwrap();
    batch
        .set_thread(&ThreadRow { platform: "discord".into(), room: "55".into(), root: "56".into(), ..thread.clone() })
        .await
        .unwrap();
    batch.commit().await.unwrap();
    let threads = store.threads().await.unwrap();
    assert_eq!(threads.len(), 2);
    assert!(threads.contains(&ThreadRow { root: "$root2".into(), ..thread }));
}

async fn delivered_effects_and_old_claims_are_pruned_after_the_retention_and_pending_ones_never(store: &Store) {
    let old: DateTime<Utc> = "2026-09-01T08:00:00Z".parse().unwrap();
    let now: DateTime<Utc> = "2026-10-19T08:00:00Z".parse().unwrap();
    let dm = |n: i64| Effect::Direct { person: PersonId(n), text: Text::md("private review text") };
    let mut batch = store.begin(old).await.unwrap();
    assert_eq!(batch.claim_inbound(&["memory:old".to_owned()]).await.unwrap(), vec![true]);
    batch.enqueue("old-sent", &dm(1)).unwrap();
    batch.enqueue("old-failed", &dm(2)).unwrap();
    batch.enqueue("old-pending", &dm(3)).unwrap();
    batch.commit().await.unwrap();
    let rows = store.pending_effects(0, 10).await.unwrap();
    store.complete_effects(&[rows[0].id], old).await.unwrap();
    store.fail_effect(rows[1].id, "forbidden", true, old).await.unwrap();
    let mut batch = store.begin(now).await.unwrap();
    assert_eq!(batch.claim_inbound(&["memory:new".to_owned()]).await.unwrap(), vec![true]);
    batch.enqueue("new-sent", &dm(4)).unwrap();
    batch.commit().await.unwrap();
    let new = store.pending_effects(0, 10).await.unwrap().into_iter().find(|r| r.key == "new-sent").unwrap();
    store.complete_effects(&[new.id], now).await.unwrap();

    let (effects, claims) = store.prune(now - Duration::days(30)).await.unwrap();
    assert_eq!((effects, claims), (2, 1));
    let pending: Vec<String> = store.pending_effects(0, 10).await.unwrap().into_iter().map(|r| r.key).collect();
    assert_eq!(pending, vec!["old-pending"], "a pending effect is never pruned, however old");
    assert_eq!(store.outbox_counts().await.unwrap(), (1, 1, 0));
    // The recent claim still deduplicates; the pruned one is gone.
    let mut batch = store.begin(now).await.unwrap();
    assert_eq!(
        batch.claim_inbound(&["memory:new".to_owned(), "memory:old".to_owned()]).await.unwrap(),
        vec![false, true]
    );
    batch.commit().await.unwrap();
}

async fn migrations_run_again_without_harm(store: &Store) {
    store.migrate().await.unwrap();
    store.migrate().await.unwrap();
}

async fn the_first_signing_key_stored_is_the_one_every_instance_reads(store: &Store) {
    let now = chrono::Utc::now();
    assert_eq!(store.signing_key("EdDSA", "first", now).await.unwrap(), "first");
    assert_eq!(store.signing_key("EdDSA", "second", now).await.unwrap(), "first", "another instance's fresh key loses");
    assert!(
        store.signing_key("RS256", "third", now).await.is_err(),
        "a key of another algorithm is not mistaken for it"
    );
}

async fn a_sign_in_link_works_once_and_not_after_it_expires_and_logout_ends_every_session(store: &Store) {
    let now = chrono::Utc::now();
    let (ana, ben) = (PersonId(2), PersonId(3));
    store.create_login("link-1", ana, now, now + Duration::minutes(15)).await.unwrap();
    store.create_login("link-2", ana, now, now + Duration::minutes(15)).await.unwrap();
    assert_eq!(store.redeem_login("link-1", now + Duration::minutes(1)).await.unwrap(), Some(ana));
    assert_eq!(store.redeem_login("link-1", now + Duration::minutes(2)).await.unwrap(), None, "used once");
    assert_eq!(store.redeem_login("link-2", now + Duration::minutes(16)).await.unwrap(), None, "expired");
    assert_eq!(store.redeem_login("nope", now).await.unwrap(), None);
    store.create_session("s-ana-1", ana, now, now + Duration::hours(12)).await.unwrap();
    store.create_session("s-ana-2", ana, now, now + Duration::hours(12)).await.unwrap();
    store.create_session("s-ben", ben, now, now + Duration::hours(12)).await.unwrap();
    assert_eq!(store.session("s-ana-1", now).await.unwrap(), Some(ana));
    assert_eq!(store.session("s-ana-1", now + Duration::hours(13)).await.unwrap(), None, "expired");
    assert_eq!(store.end_sessions(ana).await.unwrap(), 2);
    assert_eq!(store.session("s-ana-2", now).await.unwrap(), None);
    assert_eq!(store.session("s-ben", now).await.unwrap(), Some(ben), "others stay signed in");
    // Pruning forgets what expired before the cut.
    store.prune(now + Duration::hours(13)).await.unwrap();
    assert_eq!(store.session("s-ben", now).await.unwrap(), None);
}

macro_rules! conformance {
    ($backend:ident) => {
        mod $backend {
            use super::*;

            async fn run<F, Fut>(test: F)
            where
                F: FnOnce(Store) -> Fut,
                Fut: std::future::Future<Output = ()>,
            {
                let db = TestDb::$backend().await;
                test(db.store.clone()).await;
                db.finish().await;
            }

            #[tokio::test]
            async fn state_loaded_back_equals_state_built_in_memory() {
                run(|s| async move { super::state_loaded_back_equals_state_built_in_memory(&s).await }).await;
            }
            #[tokio::test]
            async fn an_inbound_event_is_claimed_once() {
                run(|s| async move { super::an_inbound_event_is_claimed_once(&s).await }).await;
            }
            #[tokio::test]
            async fn batches_run_one_at_a_time_and_each_sees_what_the_one_before_stored() {
                run(|s| async move {
                                    super::batches_run_one_at_a_time_and_each_sees_what_the_one_before_stored(&s).await
                                })
                                .await;
            }
            #[tokio::test]
            async fn one_process_delivers_at_a_time() {
                run(|s| async move { super::one_process_delivers_at_a_time(&s).await }).await;
            }
            #[tokio::test]
            async fn effects_are_queued_once_per_key_and_drained_in_order() {
                run(|s| async move { super::effects_are_queued_once_per_key_and_drained_in_order(&s).await }).await;
            }
            #[tokio::test]
            async fn rooms_are_stored_per_owner_and_platform() {
                run(|s| async move { super::rooms_are_stored_per_owner_and_platform(&s).await }).await;
            }
            #[tokio::test]
            async fn week_threads_are_stored_per_course_week_and_platform() {
                run(|s| async move { super::week_threads_are_stored_per_course_week_and_platform(&s).await }).await;
            }
            #[tokio::test]
            async fn delivered_effects_and_old_claims_are_pruned_after_the_retention_and_pending_ones_never() {
                run(|s| async move {
                    super::delivered_effects_and_old_claims_are_pruned_after_the_retention_and_pending_ones_never(&s)
                        .await
                })
                .await;
            }
            #[tokio::test]
            async fn the_first_signing_key_stored_is_the_one_every_instance_reads() {
                run(|s| async move { super::the_first_signing_key_stored_is_the_one_every_instance_reads(&s).await })
                    .await;
            }
            #[tokio::test]
            async fn a_sign_in_link_works_once_and_not_after_it_expires_and_logout_ends_every_session() {
                run(|s| async move {
                    super::a_sign_in_link_works_once_and_not_after_it_expires_and_logout_ends_every_session(&s).await
                })
                .await;
            }
            #[tokio::test]
            async fn migrations_run_again_without_harm() {
                run(|s| async move { super::migrations_run_again_without_harm(&s).await }).await;
            }
        }
    };
}

conformance!(sqlite);
conformance!(postgres);

#[cfg(unix)]
#[tokio::test]
async fn the_sqlite_database_file_is_private_to_the_bots_user() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bot.db");
    let store = Store::open(&format!("sqlite://{}", path.display())).await.unwrap();
    store.ping().await.unwrap();
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&path), 0o600);
    let wal = dir.path().join("bot.db-wal");
    if wal.exists() {
        assert_eq!(mode(&wal), 0o600);
    }
    store.close().await;
    // An existing file made readable by others is narrowed again at the next start.
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let store = Store::open(&format!("sqlite://{}", path.display())).await.unwrap();
    assert_eq!(mode(&path), 0o600);
    store.close().await;
}

/// Tables, their columns and whether each may be empty, and the indexes made by name, as one
/// dialect's migrations left them.
async fn schema(store: &Store, sqlite: bool) -> (BTreeMap<(String, String), bool>, Vec<String>) {
    use sqlx::Row;
    let (columns, indexes) = if sqlite {
        (
            "SELECT m.name AS t, p.name AS c, CAST(p.\"notnull\" = 1 OR p.pk > 0 AS BIGINT) AS nn \
             FROM sqlite_master m JOIN pragma_table_info(m.name) p \
             WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND m.name <> '_sqlx_migrations'",
            "SELECT name AS i FROM sqlite_master WHERE type = 'index' AND name NOT LIKE 'sqlite_autoindex_%'",
        )
    } else {
        (
            "SELECT table_name::text AS t, column_name::text AS c, CAST(CASE WHEN is_nullable = 'NO' THEN 1 ELSE 0 END AS BIGINT) AS nn \
             FROM information_schema.columns WHERE table_schema = 'public' AND table_name <> '_sqlx_migrations'",
            // Indexes PostgreSQL makes itself for keys and unique constraints end in _pkey / _key.
            "SELECT indexname::text AS i FROM pg_indexes WHERE schemaname = 'public' \
             AND indexname NOT LIKE '%\\_pkey' AND indexname NOT LIKE '%\\_key' AND tablename <> '_sqlx_migrations'",
        )
    };
    let columns = sqlx::query(columns)
        .fetch_all(store.pool())
        .await
        .unwrap()
        .iter()
        .map(|r| ((r.get::<String, _>("t"), r.get::<String, _>("c")), r.get::<i64, _>("nn") == 1))
        .collect();
    let mut indexes: Vec<String> =
        sqlx::query(indexes).fetch_all(store.pool()).await.unwrap().iter().map(|r| r.get("i")).collect();
    indexes.sort();
    (columns, indexes)
}

#[tokio::test]
async fn the_sqlite_and_postgresql_migrations_describe_the_same_tables_columns_and_indexes() {
    let (lite, pg) = (TestDb::sqlite().await, TestDb::postgres().await);
    let (lite_columns, lite_indexes) = schema(&lite.store, true).await;
    let (pg_columns, pg_indexes) = schema(&pg.store, false).await;
    pg.finish().await;
    lite.finish().await;
    assert!(lite_columns.len() > 20, "{lite_columns:?}");
    assert!(lite_indexes.len() >= 3, "{lite_indexes:?}");
    let only = |a: &BTreeMap<(String, String), bool>, b: &BTreeMap<(String, String), bool>| -> Vec<String> {
        a.iter().filter(|(k, v)| b.get(*k) != Some(v)).map(|((t, c), v)| format!("{t}.{c} (not null: {v})")).collect()
    };
    assert!(
        lite_columns == pg_columns,
        "only in SQLite: {:#?}\nonly in PostgreSQL: {:#?}",
        only(&lite_columns, &pg_columns),
        only(&pg_columns, &lite_columns)
    );
    assert_eq!(lite_indexes, pg_indexes);
}

#[tokio::test]
async fn a_database_from_before_jobs_named_their_subject_keeps_its_jobs() {
    use facilitator_bot::{CourseId, JobKey, JobKind};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.db");
    {
        // The schema as of migration 7, when a job was keyed by its course.
        let options =
            sqlx::sqlite::SqliteConnectOptions::new().filename(&path).create_if_missing(true).foreign_keys(false);
        let pool = sqlx::SqlitePool::connect_with(options).await.unwrap();
        sqlx::migrate!("../migrations/sqlite").run_to(7, &pool).await.unwrap();
        sqlx::query("INSERT INTO jobs (course_id, kind, week, due_at) VALUES (5, 'prompt', 2, 1700000000000)")
            .execute(&pool)
            .await
            .unwrap();
        pool.close().await;
    }
    let store = Store::open(&format!("sqlite://{}", path.display())).await.unwrap();
    let state = store.load_state().await.unwrap();
    let due = DateTime::<Utc>::from_timestamp_millis(1_700_000_000_000).unwrap();
    assert_eq!(state.jobs, BTreeMap::from([(JobKey::course(CourseId(5), JobKind::Prompt, 2), due)]));
    store.close().await;
}
