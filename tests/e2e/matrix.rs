//! The bot on a real Synapse (started by scripts/test.sh), driven by real Matrix clients.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use matrix_sdk::ruma::events::room::member::MembershipState;
use matrix_sdk::ruma::{OwnedEventId, OwnedRoomId, OwnedUserId};

use facilitator_matrix::testing::{PASSWORD, Person, Seen, Synapse, unique};

/// The bot as a real process.
pub struct Bot {
    pub id: OwnedUserId,
    dir: tempfile::TempDir,
    config: std::path::PathBuf,
    child: Option<Child>,
    starts: u32,
}

impl Drop for Bot {
    fn drop(&mut self) {
        // A test that failed anywhere (not only where it prints them) shows the bot's log.
        if std::thread::panicking() {
            eprintln!("the bot's log:\n{}", self.logs());
        }
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Bot {
    pub async fn new(synapse: &Synapse, admins: &[&OwnedUserId], encrypt: bool, lift_rate_limit: bool) -> Bot {
        let localpart = unique("facilitator");
        let id: OwnedUserId = synapse.register(&localpart, false).await.try_into().unwrap();
        if lift_rate_limit {
            synapse.lift_rate_limit(id.as_str()).await;
        }
        Bot::on(synapse, id, admins, encrypt, None)
    }

    /// An instance of the bot account `id`, with its own device store, on `database_url`
    /// (default: a SQLite file of its own).
    fn on(
        synapse: &Synapse,
        id: OwnedUserId,
        admins: &[&OwnedUserId],
        encrypt: bool,
        database_url: Option<&str>,
    ) -> Bot {
        let dir = tempfile::tempdir().unwrap();
        let admins: Vec<String> = admins.iter().map(|a| format!("\"{a}\"")).collect();
        let config = dir.path().join("facilitator.toml");
        let database_url =
            database_url.map_or_else(|| format!("sqlite://{}/bot.db", dir.path().display()), str::to_owned);
        std::fs::write(
            &config,
            format!(
                "[bot]\nadmins = [{}]\ndatabase_url = \"{database_url}\"\n\n[limits]\ncommands_burst = 100000\ncommands_per_minute = 100000\n\n[matrix]\nhomeserver = \"{}\"\nuser = \"{id}\"\nstore_dir = \"{}/matrix\"\nencrypt_new_rooms = {encrypt}\n",
                admins.join(", "),
                synapse.url,
                dir.path().display()
            ),
        )
        .unwrap();
        let mut bot = Bot { id, dir, config, child: None, starts: 0 };
        bot.start();
        bot
    }

    /// `n` instances of one bot account on one database.
    pub async fn instances(synapse: &Synapse, admins: &[&OwnedUserId], database_url: &str, n: usize) -> Vec<Bot> {
        let localpart = unique("facilitator");
        let id: OwnedUserId = synapse.register(&localpart, false).await.try_into().unwrap();
        synapse.lift_rate_limit(id.as_str()).await;
        (0..n).map(|_| Bot::on(synapse, id.clone(), admins, false, Some(database_url))).collect()
    }

    pub fn start(&mut self) {
        self.starts += 1;
        let log = std::fs::File::create(self.dir.path().join(format!("bot-{}.log", self.starts))).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_facilitator"))
            .args(["run", "--config"])
            .arg(&self.config)
            .env("FACILITATOR_MATRIX_PASSWORD", PASSWORD)
            .env("RUST_LOG", "info,matrix_sdk=warn,matrix_sdk_crypto=warn,matrix_sdk_base=warn")
            .env_remove("FACILITATOR_DATABASE_URL")
            .env_remove("FACILITATOR_ADMINS")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        self.child = Some(child);
    }

    /// SIGKILL: no chance to flush anything.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().unwrap();
            child.wait().unwrap();
        }
    }

    pub fn logs(&self) -> String {
        (1..=self.starts)
            .map(|n| std::fs::read_to_string(self.dir.path().join(format!("bot-{n}.log"))).unwrap_or_default())
            .collect()
    }
}

const SYLLABUS: &str = "# Intro to Data\n\n## Week 1: Finding data\nFind an open dataset.\n- [Handbook](https://opendatahandbook.org/guide/en/)\n\n### Review\n- Is the source clear?\n\n## Week 2: Cleaning data\nClean it.\n\n## Week 3: Telling a story\nMake a chart.\n\n## Badges\n### Starter\n- earned: weeks >= 1\n### Cleaner\n- earned: by organizer\n";

fn assignment_id(body: &str) -> i64 {
    let rest = body.split("Review assignment **#").nth(1).unwrap();
    rest.split("**").next().unwrap().parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_whole_course_runs_on_synapse() {
    full_course(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_whole_course_runs_in_encrypted_rooms() {
    full_course(true).await;
}

async fn full_course(encrypt: bool) {
    let synapse = Synapse::from_env();
    let olga = Person::new(&synapse, "olga").await;
    let bot = Bot::new(&synapse, &[&olga.id], encrypt, true).await;
    let (ana, ben, chen, mia) = tokio::join!(
        Person::new(&synapse, "ana"),
        Person::new(&synapse, "ben"),
        Person::new(&synapse, "chen"),
        Person::new(&synapse, "mia")
    );
    let slug = unique("data-");

    let olga_dm = olga.dm(&bot.id).await;
    let created = olga
        .ask(
            &olga_dm,
            &format!(
                "!course new {slug} \"Intro to Data\" start={} prompt=\"*/20 * * * * *\" deadline=12s review=10s",
                tomorrow()
            ),
        )
        .await;
    assert!(created.body.contains("Created **Intro to Data**"), "{}\n{}", created.body, bot.logs());
    let course_room = match tokio::time::timeout(Duration::from_secs(30), olga.room_named(&slug)).await {
        Ok(room) => room,
        Err(_) => panic!("olga never joined the course room; the bot's log:\n{}", bot.logs()),
    };
    if encrypt {
        let room = olga.client.get_room(&course_room).unwrap();
        assert!(room.latest_encryption_state().await.unwrap().is_encrypted(), "the course room is encrypted");
    }
    // Hold the schedule while everyone arrives; resuming starts week 1 at the next firing.
    let paused = olga.ask(&course_room, "!course pause").await;
    assert!(paused.body.contains("paused"), "{}", paused.body);
    let loaded = if encrypt {
        // In an encrypted room the file is encrypted too: the bot fetches it capped, then decrypts.
        let room = olga.client.get_room(&course_room).unwrap();
        let config = matrix_sdk::attachment::AttachmentConfig::new()
            .caption(Some(matrix_sdk::ruma::events::room::message::TextMessageEventContent::plain("!syllabus load")));
        let sent = room
            .send_attachment("syllabus.md", &"text/markdown".parse().unwrap(), SYLLABUS.as_bytes().to_vec(), config)
            .await
            .unwrap();
        olga.reply_to(&sent.event_id).await
    } else {
        olga.ask(&course_room, &format!("!syllabus load\n{SYLLABUS}")).await
    };
    assert!(loaded.body.contains("Loaded the syllabus"), "{}\n{}", loaded.body, bot.logs());
    let mentor = olga.ask(&course_room, &format!("!mentor add {}", mia.id)).await;
    assert!(mentor.body.contains("is now a mentor"), "{}", mentor.body);
    assert!(mentor.mentions.contains(&mia.id), "a mention pill with m.mentions: {mentor:?}");
    assert!(mentor.html.as_deref().unwrap_or_default().contains(&format!("https://matrix.to/#/{}", mia.id)));

    for learner in [&ana, &ben, &chen] {
        let dm = learner.dm(&bot.id).await;
        let welcome = learner.ask(&dm, &format!("!join {slug}")).await;
        assert!(welcome.body.contains("Welcome to **Intro to Data**"), "{}", welcome.body);
        assert_html_keeps_lines("the welcome", &welcome);
        learner.room_named(&slug).await;
    }
    let help = ana.ask(&ana.dm(&bot.id).await, "!help").await;
    assert_html_keeps_lines("!help", &help);
    assert!(help.html.as_deref().unwrap_or_default().contains("<br"), "{help:?}");

    let resumed = start_now(&olga, &course_room).await;
    assert!(resumed.body.contains("Week 1 opens"), "{}", resumed.body);
    let prompt =
        ana.wait_for("week 1", |m| m.room == course_room && m.body.contains("Week 1 of 3: Finding data")).await;
    assert!(
        prompt.html.as_deref().unwrap_or_default().contains("<strong>Week 1 of 3: Finding data</strong>"),
        "{prompt:?}"
    );
    for (learner, link) in
        [(&ana, "https://example.org/ana"), (&ben, "https://example.org/ben"), (&chen, "https://example.org/chen")]
    {
        let ack = learner.ask(&course_room, &format!("!submit {link}")).await;
        assert!(ack.body.contains("submission is in"), "{}", ack.body);
    }
    ana.wait_for("the Starter badge", |m| m.body.contains("earned the **Starter** badge")).await;
    let revised = ana.ask(&course_room, "!submit https://example.org/ana-v2").await;
    assert!(revised.body.contains("version 2"), "{}", revised.body);

    // Pairing at the deadline: assignments by direct message.
    let mut assignments = Vec::new();
    for learner in [&ana, &ben, &chen] {
        let dm = learner.wait_for("an assignment", |m| m.body.contains("📝 Review assignment")).await;
        assert_html_keeps_lines("an assignment", &dm);
        assignments.push((dm.room.clone(), assignment_id(&dm.body)));
    }
    let ack = ana.ask(&assignments[0].0, &format!("!review {} Clear and sourced. score=4", assignments[0].1)).await;
    assert!(ack.body.contains("recorded"), "{}", ack.body);
    let ack = chen.ask(&assignments[2].0, &format!("!review {} A good start.", assignments[2].1)).await;
    assert!(ack.body.contains("recorded"), "{}", ack.body);
    // Someone got feedback by direct message.
    let feedback = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            for p in [&ana, &ben, &chen] {
                if p.seen().iter().any(|m| m.body.contains("💬 New review")) {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await;
    assert!(feedback.is_ok(), "no author received feedback");
    // Ben reviews nothing: at the review deadline his work goes to the mentor.
    let escalated = mia.wait_for("an escalation", |m| m.body.contains("As a mentor, please cover this work")).await;
    let id = assignment_id(&escalated.body);
    let ack = mia.ask(&escalated.room, &format!("!review {id} As a mentor: add the publisher.")).await;
    assert!(ack.body.contains("recorded"), "{}", ack.body);

    // Awards are announced in the course room (not as a reply).
    olga.say(&course_room, &format!("!badge award {} cleaner Tidy notes.", ben.id)).await;
    let announced = ana.wait_for("the Cleaner badge", |m| m.body.contains("the **Cleaner** badge")).await;
    assert!(announced.mentions.contains(&ben.id), "{announced:?}");

    ana.wait_for("week 3", |m| m.room == course_room && m.body.contains("Week 3 of 3")).await;
    let status = olga.ask(&course_room, "!status").await;
    assert!(status.body.contains("Week 1: 3 of 3 learners submitted"), "{}", status.body);
    assert_html_keeps_lines("!status", &status);
    let report = olga.wait_for("the pairing report", |m| m.body.contains("Pairing for")).await;
    assert_html_keeps_lines("the pairing report", &report);
    let progress = ana.ask(&ana.dm(&bot.id).await, "!progress").await;
    assert_html_keeps_lines("!progress", &progress);
    tokio::time::sleep(Duration::from_secs(2)).await;
    for week in 1..=3 {
        let posts = ana
            .seen()
            .iter()
            .filter(|m| m.room == course_room && m.body.contains(&format!("Week {week} of 3")))
            .count();
        assert_eq!(posts, 1, "week {week} posted once");
    }
    // No command was answered twice: distinct reply events, one per command.
    let mut replies: std::collections::BTreeMap<OwnedEventId, OwnedEventId> = std::collections::BTreeMap::new();
    for person in [&olga, &ana, &ben, &chen, &mia] {
        for m in person.seen() {
            if let Some(to) = m.reply_to {
                replies.insert(m.event_id, to);
            }
        }
    }
    let mut commands: Vec<&OwnedEventId> = replies.values().collect();
    let answered = commands.len();
    commands.sort();
    commands.dedup();
    assert_eq!(answered, commands.len(), "no command answered twice");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn weekly_prompts_open_threads_and_work_said_in_one_counts_for_its_week() {
    let synapse = Synapse::from_env();
    let olga = Person::new(&synapse, "olga").await;
    let ana = Person::new(&synapse, "ana").await;
    let bot = Bot::new(&synapse, &[&olga.id], false, true).await;
    let (room, _) = paused_course(&olga, &bot, &[&ana], "*/10 * * * * *").await;
    let set = olga.ask(&room, "!course set threads=yes").await;
    assert!(set.body.contains("a thread per week"), "{}", set.body);
    start_now(&olga, &room).await;
    let week1 = ana.wait_for("week 1", |m| m.room == room && m.body.contains("Week 1 of 3")).await;
    assert_eq!(week1.thread, None, "the prompt itself is in the room's timeline");
    let opening = ana.wait_for("week 1's thread", |m| m.thread.as_ref() == Some(&week1.event_id)).await;
    assert!(opening.body.contains("This is week 1's thread"), "{}", opening.body);
    ana.wait_for("week 2", |m| m.room == room && m.body.contains("Week 2 of 3")).await;
    let said = ana.say_in_thread(&room, &week1.event_id, "!submit https://example.org/w1").await;
    let ack = ana.reply_to(&said).await;
    assert_eq!(ack.thread.as_ref(), Some(&week1.event_id), "the answer stays in the thread: {ack:?}");
    assert!(ack.body.contains("week 1 submission is in"), "{}", ack.body);
}

const FOUR_WEEKS: &str = "# Four weeks\n\n## Week 1: One\nFirst.\n\n### Review\n- Clear?\n\n## Week 2: Two\nSecond.\n\n## Week 3: Three\nThird.\n\n## Week 4: Four\nFourth.\n\n## Badges\n### Starter\n- earned: weeks >= 1\n### Regular\n- earned: weeks >= 3\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_instances_on_one_database_and_one_account_act_as_one_bot_through_a_sigkill() {
    let synapse = Synapse::from_env();
    let db = crate::instances::Db::new().await;
    let olga = Person::new(&synapse, "olga").await;
    let mut bots = Bot::instances(&synapse, &[&olga.id], &db.url, 3).await;
    let (ana, ben, chen) =
        tokio::join!(Person::new(&synapse, "ana"), Person::new(&synapse, "ben"), Person::new(&synapse, "chen"));
    let logs = |bots: &[Bot]| bots.iter().map(Bot::logs).collect::<Vec<_>>().join("\n----\n");
    let slug = unique("multi-");
    let dm = olga.dm(&bots[0].id).await;
    let created = olga
        .ask(
            &dm,
            &format!(
                "!course new {slug} \"Many\" weeks=4 start={} prompt=\"*/15 * * * * *\" deadline=10s review=12s",
                tomorrow()
            ),
        )
        .await;
    assert!(created.body.contains("Created"), "{}\n{}", created.body, logs(&bots));
    let room = olga.room_named(&slug).await;
    olga.ask(&room, "!course pause").await;
    olga.ask(&room, &format!("!syllabus load\n{FOUR_WEEKS}")).await;
    let learners = [&ana, &ben, &chen];
    for learner in learners {
        let dm = learner.dm(&bots[0].id).await;
        let welcome = learner.ask(&dm, &format!("!join {slug}")).await;
        assert!(welcome.body.contains("Welcome"), "{}", welcome.body);
        learner.room_named(&slug).await;
    }
    let resumed = start_now(&olga, &room).await;
    assert!(resumed.body.contains("Week 1 opens"), "{}", resumed.body);

    let mut acknowledged = 0;
    for week in 1..=4 {
        ana.wait_for(&format!("week {week}"), |m| m.room == room && m.body.contains(&format!("Week {week} of 4")))
            .await;
        for (n, learner) in learners.iter().enumerate() {
            // The week is named: on a loaded machine the next 15-second week may open first.
            let ack = learner.ask(&room, &format!("!submit week {week} https://example.org/{n}/{week}")).await;
            assert!(ack.body.contains("submission is in"), "{}", ack.body);
            acknowledged += 1;
        }
        if week == 2 {
            // The instance that delivers dies mid-course; another takes over, then it comes back.
            let deliverer = bots
                .iter()
                .position(|b| b.logs().contains("now delivers the effects"))
                .unwrap_or_else(|| panic!("no instance delivers:\n{}", logs(&bots)));
            bots[deliverer].kill();
            let status = olga.ask(&room, "!status").await;
            assert!(status.body.contains("Week 2"), "{}", status.body);
            bots[deliverer].start();
        }
    }
    ana.wait_for("the Regular badge", |m| m.body.contains("earned the **Regular** badge")).await;
    // Quiet time for anything doubled to show up.
    tokio::time::sleep(Duration::from_secs(5)).await;

    let seen = ana.seen();
    for week in 1..=4 {
        let posts = seen.iter().filter(|m| m.room == room && m.body.contains(&format!("Week {week} of 4"))).count();
        assert_eq!(posts, 1, "week {week} posted once\n{}", logs(&bots));
    }
    for badge in ["Starter", "Regular"] {
        for learner in learners {
            let name = learner.id.localpart();
            let announced = seen
                .iter()
                .filter(|m| {
                    m.room == room
                        && m.body.contains(&format!("earned the **{badge}** badge"))
                        && m.mentions.contains(&learner.id)
                })
                .count();
            assert_eq!(announced, 1, "{name}'s {badge} badge announced once");
        }
    }
    for person in [&olga, &ana, &ben, &chen] {
        let mut reminders: Vec<String> =
            person.seen().iter().filter(|m| m.body.contains("⏰ Reminder")).map(|m| m.body.clone()).collect();
        let count = reminders.len();
        reminders.sort();
        reminders.dedup();
        assert_eq!(count, reminders.len(), "no reminder sent twice to {}", person.id);
    }
    // Distinct reply events per command (everyone in the room sees the same reply).
    let mut replies: std::collections::BTreeMap<OwnedEventId, std::collections::BTreeSet<OwnedEventId>> =
        std::collections::BTreeMap::new();
    for person in [&olga, &ana, &ben, &chen] {
        for m in person.seen() {
            if let Some(to) = m.reply_to {
                replies.entry(to).or_default().insert(m.event_id);
            }
        }
    }
    assert!(replies.len() >= 20, "{replies:?}");
    assert!(replies.values().all(|r| r.len() == 1), "no command answered twice: {replies:?}");
    let store = facilitator_storage::Store::open(&db.url).await.unwrap();
    let state = store.load_state().await.unwrap();
    let course = state.courses.values().find(|c| c.slug.as_str() == slug).unwrap();
    assert_eq!(course.submissions.len(), acknowledged, "every acknowledged submission stored");
    store.close().await;
    drop(bots);
    db.drop_database().await;
}

/// Courses in these tests start tomorrow, so that no prompt can fire while a slow server (an
/// encrypted room on a busy CI machine) is still setting the room up; `start_now` moves the
/// start to today and resumes the schedule once everyone is in.
fn tomorrow() -> chrono::NaiveDate {
    chrono::Utc::now().date_naive() + chrono::Days::new(1)
}

async fn start_now(olga: &Person, room: &OwnedRoomId) -> Seen {
    let today = chrono::Utc::now().date_naive();
    let moved = olga.ask(room, &format!("!course set start={today}")).await;
    assert!(moved.body.contains(&format!("start {today}")), "{}", moved.body);
    olga.ask(room, "!course resume").await
}

/// A course on `bot` with olga organizing and the given learners in it, held paused; returns
/// the course room and the slug.
async fn paused_course(olga: &Person, bot: &Bot, learners: &[&Person], prompt: &str) -> (OwnedRoomId, String) {
    let slug = unique("c-");
    let dm = olga.dm(&bot.id).await;
    let created = olga
        .ask(
            &dm,
            &format!("!course new {slug} \"Course\" weeks=3 start={} prompt=\"{prompt}\" deadline=1h", tomorrow()),
        )
        .await;
    assert!(created.body.contains("Created"), "{}\n{}", created.body, bot.logs());
    let room = olga.room_named(&slug).await;
    olga.ask(&room, "!course pause").await;
    for learner in learners {
        let dm = learner.dm(&bot.id).await;
        learner.ask(&dm, &format!("!join {slug}")).await;
        learner.room_named(&slug).await;
    }
    (room, slug)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_killed_bot_restarts_without_losing_or_repeating_anything() {
    let synapse = Synapse::from_env();
    let olga = Person::new(&synapse, "olga").await;
    let ana = Person::new(&synapse, "ana").await;
    let mut bot = Bot::new(&synapse, &[&olga.id], false, true).await;
    let (room, _) = paused_course(&olga, &bot, &[&ana], "*/15 * * * * *").await;
    start_now(&olga, &room).await;
    ana.wait_for("week 1", |m| m.room == room && m.body.contains("Week 1 of 3")).await;
    let ack = ana.ask(&room, "!submit https://example.org/before-the-crash").await;
    assert!(ack.body.contains("submission is in"), "{}", ack.body);

    bot.kill();
    // Said while the bot is down: must be answered once it is back.
    let asked = ana.say(&room, "!progress").await;
    tokio::time::sleep(Duration::from_secs(16)).await;
    bot.start();
    let progress = ana.reply_to(&asked).await;
    // A private answer asked for in the course room comes by direct message.
    assert!(progress.body.contains("by direct message"), "{}", progress.body);
    ana.wait_for("the progress by DM", |m| m.room != room && m.body.contains("Your progress in")).await;
    ana.wait_for("week 3", |m| m.room == room && m.body.contains("Week 3 of 3")).await;
    tokio::time::sleep(Duration::from_secs(3)).await;

    let seen = ana.seen();
    for week in 1..=3 {
        let n = seen.iter().filter(|m| m.room == room && m.body.contains(&format!("**Week {week} of 3"))).count();
        assert_eq!(n, 1, "week {week} posted once:\n{}", bot.logs());
    }
    let mut answers: Vec<&OwnedEventId> = seen.iter().filter_map(|m| m.reply_to.as_ref()).collect();
    let total = answers.len();
    answers.sort();
    answers.dedup();
    assert_eq!(total, answers.len(), "no command answered twice");
    assert_eq!(seen.iter().filter(|m| m.reply_to.as_ref() == Some(&asked)).count(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bad_input_on_matrix_gets_clear_replies_and_changes_nothing() {
    let synapse = Synapse::from_env();
    let olga = Person::new(&synapse, "olga").await;
    let ana = Person::new(&synapse, "ana").await;
    let bot = Bot::new(&synapse, &[&olga.id], false, true).await;
    let (room, slug) = paused_course(&olga, &bot, &[&ana], "0 9 * * Mon").await;
    let ana_dm = ana.dm(&bot.id).await;
    let olga_dm = olga.dm(&bot.id).await;
    let status_before = olga.ask(&room, "!status").await.body;
    let courses_before = ana.ask(&ana_dm, "!courses").await.body;

    let catalogue: Vec<(&Person, &OwnedRoomId, String, &str)> = vec![
        (&ana, &ana_dm, "!frobnicate".into(), "don't know the command"),
        (&ana, &ana_dm, "!".into(), "empty command"),
        (&ana, &ana_dm, "!join".into(), "Which course?"),
        (&ana, &ana_dm, "!join nope-404".into(), "There is no course"),
        (&ana, &ana_dm, format!("!join {slug} extra"), "one course at a time"),
        (&ana, &ana_dm, "!join <script>alert(1)</script>".into(), "not a course name"),
        (&ana, &ana_dm, "!join x'; DROP TABLE courses;--".into(), "one course at a time"),
        (&ana, &ana_dm, "!jo\u{200B}in x".into(), "invisible character"),
        (&ana, &ana_dm, "!join \u{202E}tx".into(), "invisible character"),
        (&ana, &ana_dm, "!tz Mars/Olympus".into(), "not a time zone"),
        (&ana, &ana_dm, "!course new x1 \"T\"".into(), "Only bot admins"),
        (&olga, &olga_dm, "!course new x1 \"Unclosed".into(), "quote is not closed"),
        (&olga, &olga_dm, "!course new x1 \"T\" start=2026-02-30".into(), "YYYY-MM-DD"),
        (&olga, &olga_dm, "!course new x1 \"T\" prompt=\"0 9 * *\"".into(), "5 fields"),
        (&olga, &olga_dm, format!("!course new {slug} \"Again\""), "already exists"),
        (&ana, &room, "!course pause".into(), "Only organizers"),
        (&ana, &room, "!status".into(), "Only organizers"),
        (&ana, &room, "!submit".into(), "nothing to submit"),
        (&ana, &room, "!submit week 9 x".into(), "no week 9"),
        (&ana, &room, "!submit x".into(), "hasn't started"),
        (&ana, &room, format!("!submit {}", "x".repeat(5000)), "too long"),
        (&ana, &ana_dm, "!submit x".into(), "course's room"),
        (&olga, &room, "!course set deadline=forever".into(), "not a duration"),
        (&olga, &room, "!course set colour=blue".into(), "not a course setting"),
        (&olga, &room, "!organizer add @bad!name:localhost".into(), "can't tell who"),
        (&olga, &room, "!syllabus load\n# T\n## Week 3: x\ny".into(), "line 2"),
        (&ana, &ana_dm, "!review 999 Looks good".into(), "no assignment #999"),
        (&ana, &ana_dm, "!review 1 Good score=9".into(), "not a score"),
        (&ana, &room, "!badge award @x:localhost nope".into(), "has no badge"),
        (&ana, &room, "!pair".into(), "Only organizers"),
    ];
    assert!(catalogue.len() >= 30);
    let mut problems = Vec::new();
    for (person, room, text, expected) in &catalogue {
        let reply = person.ask(room, text).await;
        if !reply.body.contains("⚠️") || !reply.body.to_lowercase().contains(&expected.to_lowercase()) {
            problems.push(format!("{text:.60?} should say {expected:?}, said: {}", reply.body));
        }
        if text.contains("<script>") {
            let html = reply.html.clone().unwrap_or_default();
            assert!(!html.contains("<script>"), "user text is escaped in HTML: {html}");
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert_eq!(olga.ask(&room, "!status").await.body, status_before);
    assert_eq!(ana.ask(&ana_dm, "!courses").await.body, courses_before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn invitations_rooms_roles_and_attached_syllabi() {
    let synapse = Synapse::from_env();
    let olga = Person::new(&synapse, "olga").await;
    let ana = Person::new(&synapse, "ana").await;
    let bot = Bot::new(&synapse, &[&olga.id], false, true).await;
    let (room, _) = paused_course(&olga, &bot, &[&ana], "0 9 * * Mon").await;

    // Organizers are moderators (power level 50); learners are not.
    let course = olga.client.get_room(&room).unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let olga_level = format!("{:?}", course.get_user_power_level(&olga.id).await.unwrap());
    let ana_level = format!("{:?}", course.get_user_power_level(&ana.id).await.unwrap());
    assert!(olga_level.contains("50"), "{olga_level}");
    assert!(!ana_level.contains("50"), "{ana_level}");

    // Promotion and demotion change the level both ways (levels compared as numbers: "Int(50)"
    // contains "0" as text, which once made a demotion do nothing).
    let level_becomes = |want: i64, what: &'static str| {
        let course = course.clone();
        let ana = ana.id.clone();
        let logs = bot.logs();
        async move {
            let deadline = Instant::now() + Duration::from_secs(30);
            loop {
                let level = course.get_user_power_level(&ana).await.unwrap();
                if level == matrix_sdk::ruma::events::room::power_levels::UserPowerLevel::Int(want.try_into().unwrap())
                {
                    return;
                }
                assert!(Instant::now() < deadline, "{what}: ana's level is {level:?}, not {want}\n{logs}");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    };
    let promoted = olga.ask(&room, &format!("!organizer add {}", ana.id)).await;
    assert!(promoted.body.contains("is now an organizer"), "{}", promoted.body);
    level_becomes(50, "promotion").await;
    let demoted = olga.ask(&room, &format!("!organizer remove {}", ana.id)).await;
    assert!(demoted.body.contains("no longer an organizer"), "{}", demoted.body);
    level_becomes(0, "demotion").await;

    // A syllabus attached as a Markdown file with `!syllabus load` as its caption.
    let mut content = matrix_sdk::attachment::AttachmentConfig::new();
    content = content
        .caption(Some(matrix_sdk::ruma::events::room::message::TextMessageEventContent::plain("!syllabus load")));
    let sent = course
        .send_attachment("syllabus.md", &"text/markdown".parse().unwrap(), SYLLABUS.as_bytes().to_vec(), content)
        .await
        .unwrap();
    let loaded = olga.reply_to(&sent.event_id).await;
    assert!(loaded.body.contains("Loaded the syllabus: **Intro to Data**, 3 weeks."), "{}", loaded.body);

    // Files are checked before they are read, and never read past the limit: a learner's file
    // is refused for who sent it, and a file whose event gives no size is cut off at the limit.
    let file_event = |client: &matrix_sdk::Client, bytes: Vec<u8>| {
        let client = client.clone();
        async move {
            let upload = client.media().upload(&"text/markdown".parse().unwrap(), bytes, None).await.unwrap();
            let mut file = matrix_sdk::ruma::events::room::message::FileMessageEventContent::plain(
                "!syllabus load".into(),
                upload.content_uri,
            );
            file.filename = Some("syllabus.md".into());
            matrix_sdk::ruma::events::room::message::RoomMessageEventContent::new(
                matrix_sdk::ruma::events::room::message::MessageType::File(file),
            )
        }
    };
    let ana_course = ana.client.get_room(&room).unwrap();
    let by_learner = ana_course.send(file_event(&ana.client, SYLLABUS.as_bytes().to_vec()).await).await.unwrap();
    let refused = ana.reply_to(&by_learner.response.event_id).await;
    assert!(refused.body.contains("Only organizers"), "{}", refused.body);
    let huge = format!("# Huge\n\n## Week 1: All\n{}", "x".repeat(200_000));
    let without_size = course.send(file_event(&olga.client, huge.into_bytes()).await).await.unwrap();
    let too_large = olga.reply_to(&without_size.response.event_id).await;
    assert!(too_large.body.contains("larger than 65536 bytes"), "{}", too_large.body);
    assert!(olga.ask(&room, "!syllabus").await.body.contains("Intro to Data"), "the loaded syllabus stays");

    // A week as long as a syllabus may be (60 KB) is more than one Matrix event may hold
    // (65,536 bytes with its HTML): it is shown in parts, every line of it.
    let reading: String = (0..1_000).map(|n| format!("Reading note {n}: a line of the week's long text.\n")).collect();
    let long = format!(
        "# Intro to Data\n\n## Week 1: Finding data\n{reading}\n## Week 2: Cleaning data\nClean it.\n\n## Week 3: Telling a story\nMake a chart.\n"
    );
    assert!(long.len() > 50_000 && long.len() < 64 * 1024);
    let loaded = olga.ask(&room, &format!("!syllabus load\n{long}")).await;
    assert!(loaded.body.contains("Replaced the syllabus"), "{}", loaded.body);
    let first = olga.ask(&room, "!syllabus week 1").await;
    assert!(first.body.contains("Reading note 0:"), "{:.200}", first.body);
    olga.wait_for("the last part of the long week", |m| {
        m.room == room && m.body.contains("Reading note 999:") && !m.body.starts_with("!syllabus load")
    })
    .await;
    let shown: usize = olga
        .seen()
        .iter()
        .filter(|m| m.room == room && !m.body.starts_with("!syllabus load"))
        .map(|m| m.body.matches("Reading note ").count())
        .sum();
    assert_eq!(shown, 1_000, "every line once");

    // Group rooms: a learner's invitation is declined, an admin's accepted (it becomes a lobby).
    let mut request = matrix_sdk::ruma::api::client::room::create_room::v3::Request::new();
    request.invite = vec![bot.id.clone()];
    let learners_room = ana.client.create_room(request.clone()).await.unwrap();
    let admins_room = olga.client.create_room(request).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let lobby_joined = admins_room
            .get_member(&bot.id)
            .await
            .ok()
            .flatten()
            .is_some_and(|m| *m.membership() == matrix_sdk::ruma::events::room::member::MembershipState::Join);
        let declined = learners_room
            .get_member(&bot.id)
            .await
            .ok()
            .flatten()
            .is_some_and(|m| *m.membership() == matrix_sdk::ruma::events::room::member::MembershipState::Leave);
        if lobby_joined && declined {
            break;
        }
        assert!(Instant::now() < deadline, "the bot joins admins' rooms and declines others'\n{}", bot.logs());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let courses = olga.ask(admins_room.room_id(), "!courses").await;
    assert!(courses.body.contains("Courses:"), "{}", courses.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_course_whose_address_is_taken_gets_the_next_free_one_and_says_so() {
    let synapse = Synapse::from_env();
    let olga = Person::new(&synapse, "olga").await;
    let mallory = Person::new(&synapse, "mallory").await;
    let bot = Bot::new(&synapse, &[&olga.id], false, true).await;
    let slug = unique("c-");
    // Someone else's room already holds #slug:server.
    let mut request = matrix_sdk::ruma::api::client::room::create_room::v3::Request::new();
    request.room_alias_name = Some(slug.clone());
    let squatted = mallory.client.create_room(request).await.unwrap();

    let dm = olga.dm(&bot.id).await;
    let created = olga
        .ask(&dm, &format!("!course new {slug} \"Course\" weeks=3 start={} prompt=\"0 9 * * Mon\"", tomorrow()))
        .await;
    assert!(created.body.contains("Created"), "{}\n{}", created.body, bot.logs());
    let room = olga.room_named(&slug).await;
    let server = bot.id.server_name();
    let said =
        olga.wait_for("the room says its address", |m| m.room == room && m.body.contains("already belongs")).await;
    assert!(said.body.contains(&format!("#{slug}-2:{server}")), "{}", said.body);
    let resolve = |alias: String| {
        let client = olga.client.clone();
        async move {
            let alias = matrix_sdk::ruma::OwnedRoomAliasId::try_from(alias).unwrap();
            client.resolve_room_alias(&alias).await.unwrap().room_id
        }
    };
    assert_eq!(resolve(format!("#{slug}-2:{server}")).await, room, "the course's room has the next free address");
    assert_eq!(resolve(format!("#{slug}:{server}")).await, squatted.room_id(), "the other room keeps its own");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn at_synapses_default_rate_limit_every_reply_arrives_once_and_in_order() {
    let synapse = Synapse::from_env();
    let olga = Person::new(&synapse, "olga").await;
    // The bot keeps Synapse's default message rate limit (0.2 per second, bursts of 10).
    let bot = Bot::new(&synapse, &[&olga.id], false, false).await;
    let dm = olga.dm(&bot.id).await;
    const PINGS: usize = 100;
    let mut asked = Vec::new();
    for _ in 0..PINGS {
        asked.push(olga.say(&dm, "!ping").await);
    }
    let deadline = Instant::now() + Duration::from_secs(900);
    loop {
        let answered = olga.seen().iter().filter(|m| m.reply_to.is_some()).count();
        if answered >= PINGS {
            break;
        }
        assert!(Instant::now() < deadline, "{answered} of {PINGS} answered\n{}", bot.logs());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let order: Vec<OwnedEventId> = olga.seen().into_iter().filter_map(|m| m.reply_to).collect();
    assert_eq!(order, asked, "every ping answered once, in order");
}

/// Each line of a message's body is a line in the HTML clients render (a `<br>`, a paragraph or
/// a list item): Element and FluffyChat show `formatted_body`, where a plain `\n` collapses.
fn assert_html_keeps_lines(what: &str, m: &Seen) {
    let lines = m.body.lines().filter(|l| !l.trim().is_empty()).count();
    let html = m.html.as_deref().unwrap_or_default();
    let breaks =
        ["<br", "<li>", "<p>", "<pre>", "<h1>", "<h2>", "<h3>"].iter().map(|t| html.matches(t).count()).sum::<usize>();
    assert!(
        lines <= 1 || breaks >= lines,
        "{what}: {lines} lines in the body, {breaks} in the HTML:\n{}\n---\n{html}",
        m.body
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_room_marked_direct_with_a_third_member_never_receives_private_answers() {
    let synapse = Synapse::from_env();
    let olga = Person::new(&synapse, "olga").await;
    let ana = Person::new(&synapse, "ana").await;
    let mallory = Person::new(&synapse, "mallory").await;
    let bot = Bot::new(&synapse, &[&olga.id], false, true).await;
    let (_course_room, slug) = paused_course(&olga, &bot, &[], "0 9 * * Mon").await;

    // A room the bot is told is a direct chat with ana, where mallory reads along.
    let mut request = matrix_sdk::ruma::api::client::room::create_room::v3::Request::new();
    request.is_direct = true;
    request.invite = vec![bot.id.clone(), mallory.id.clone()];
    let shared = ana.client.create_room(request).await.unwrap();
    let shared_id = shared.room_id().to_owned();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !(shared.get_member(&bot.id).await.ok().flatten().is_some_and(|m| *m.membership() == MembershipState::Join)
        && shared
            .get_member(&mallory.id)
            .await
            .ok()
            .flatten()
            .is_some_and(|m| *m.membership() == MembershipState::Join))
    {
        assert!(Instant::now() < deadline, "the bot and mallory join\n{}", bot.logs());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let joined = ana.ask(&shared_id, &format!("!join {slug}")).await;
    assert!(joined.body.contains("Welcome"), "{}", joined.body);
    // Asked there, the private answer goes to a room of ana and the bot alone.
    let pointer = ana.ask(&shared_id, "!progress").await;
    assert!(pointer.body.contains("by direct message"), "{}", pointer.body);
    let progress = ana.wait_for("the progress", |m| m.body.contains("Your courses")).await;
    assert_ne!(progress.room, shared_id, "never in the shared room");
    let private = ana.client.get_room(&progress.room).unwrap();
    let members =
        private.members(matrix_sdk::RoomMemberships::JOIN | matrix_sdk::RoomMemberships::INVITE).await.unwrap();
    let mut ids: Vec<String> = members.iter().map(|m| m.user_id().to_string()).collect();
    ids.sort();
    let mut want = vec![ana.id.to_string(), bot.id.to_string()];
    want.sort();
    assert_eq!(ids, want, "the bot and ana alone");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        !mallory.seen().iter().any(|m| m.body.contains("Your courses")),
        "mallory saw a private answer: {:?}",
        mallory.seen()
    );
}
