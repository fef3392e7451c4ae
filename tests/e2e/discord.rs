//! The bot as a real process on a local Discord (REST over TLS as `discord.com`, and the
//! gateway), reached through serenity's production HTTP path with its ratelimiter.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

use facilitator_discord::testing::{LocalDiscord, Posted};

/// The bot as a real process.
pub struct Bot {
    dir: tempfile::TempDir,
    config: std::path::PathBuf,
    token: String,
    env: Vec<(String, String)>,
    child: Option<Child>,
    starts: u32,
}

impl Drop for Bot {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Bot {
    /// Starts the bot with `admins` on `discord` and waits until it is connected (and, with
    /// slash commands, has registered them).
    pub async fn start(discord: &LocalDiscord, admins: &[u64], slash: bool) -> Bot {
        Bot::with(discord, admins, slash, "", &[]).await
    }

    /// The same with more config (another platform's section) and environment.
    pub async fn with(discord: &LocalDiscord, admins: &[u64], slash: bool, more: &str, env: &[(&str, &str)]) -> Bot {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("facilitator.toml");
        let admins: Vec<String> = admins.iter().map(|a| format!("\"discord:{a}\"")).collect();
        std::fs::write(
            &config,
            format!(
                "[bot]\nadmins = [{}]\ndatabase_url = \"sqlite://{}/bot.db\"\n\n[limits]\ncommands_burst = 100000\ncommands_per_minute = 100000\n\n[discord]\nguild = {}\nslash_commands = {slash}\nconnect_to = \"{}\"\nca_file = \"{}\"\n{}",
                admins.join(", "),
                dir.path().display(),
                discord.guild,
                discord.address,
                discord.ca_file.display(),
                more.replace("DIR", &dir.path().display().to_string())
            ),
        )
        .unwrap();
        let env = env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        let mut bot = Bot { dir, config, token: discord.token.clone(), env, child: None, starts: 0 };
        bot.spawn();
        bot.until_connected(discord, slash).await;
        bot
    }

    fn spawn(&mut self) {
        self.starts += 1;
        let log = std::fs::File::create(self.dir.path().join(format!("bot-{}.log", self.starts))).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_facilitator"))
            .args(["run", "--config"])
            .arg(&self.config)
            .env("FACILITATOR_DISCORD_TOKEN", &self.token)
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .env("RUST_LOG", "info,serenity=warn,facilitator_discord=debug")
            .env_remove("FACILITATOR_DATABASE_URL")
            .env_remove("FACILITATOR_ADMINS")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        self.child = Some(child);
    }

    async fn until_connected(&self, discord: &LocalDiscord, slash: bool) {
        for _ in 0..300 {
            if discord.connected() && (!slash || !(discord.commands().is_empty() || discord.dm_commands().is_empty())) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the bot did not connect in 30 s:\n{}", self.logs());
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

fn unique(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    format!("{prefix}{}-{}", std::process::id() % 10_000, N.fetch_add(1, Ordering::Relaxed))
}

fn tomorrow() -> chrono::NaiveDate {
    chrono::Utc::now().date_naive() + chrono::Days::new(1)
}

fn assignment_id(text: &str) -> i64 {
    let rest = text.split("Review assignment **#").nth(1).unwrap();
    rest.split("**").next().unwrap().parse().unwrap()
}

/// How a person speaks to the bot in one test: typed `!` commands or slash commands.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Prefix,
    Slash,
}

/// A slash command's name and options for a `!` text (only the commands the scenarios use).
fn slash_form(text: &str) -> (String, Value) {
    let words: Vec<&str> = text.trim_start_matches('!').splitn(2, ' ').collect();
    let (cmd, rest) = (words[0], words.get(1).copied().unwrap_or(""));
    let s = |name: &str, value: &str| json!({"name": name, "type": 3, "value": value});
    let i = |name: &str, value: i64| json!({"name": name, "type": 4, "value": value});
    let u = |name: &str, value: &str| json!({"name": name, "type": 6, "value": value.trim_start_matches("<@").trim_end_matches('>')});
    let sub = |name: &str, options: Vec<Value>| json!([{"name": name, "type": 1, "options": options}]);
    let options = match cmd {
        "join" | "leave" => json!([s("course", rest)]),
        "submit" => json!([s("work", rest)]),
        "status" | "progress" | "ping" | "courses" => json!([]),
        "review" => {
            let (id, feedback) = rest.split_once(' ').unwrap();
            let mut o = vec![i("assignment", id.parse().unwrap())];
            match feedback.rsplit_once(" score=") {
                Some((f, score)) => {
                    o.push(s("feedback", f));
                    o.push(i("score", score.parse().unwrap()));
                }
                None => o.push(s("feedback", feedback)),
            }
            Value::Array(o)
        }
        "mentor" | "organizer" => {
            let (action, user) = rest.split_once(' ').unwrap();
            json!([s("action", action), u("user", user)])
        }
        "badge" => {
            let parts: Vec<&str> = rest.splitn(4, ' ').collect();
            sub(parts[0], vec![u("user", parts[1]), s("badge", parts[2]), s("reason", parts.get(3).unwrap_or(&""))])
        }
        "course" => {
            let (action, args) = rest.split_once(' ').unwrap_or((rest, ""));
            match action {
                "set" => sub("set", vec![s("settings", args)]),
                _ => sub(action, vec![]),
            }
        }
        other => panic!("no slash form for {other}"),
    };
    (cmd.to_owned(), options)
}

/// A person's way of asking: typed, or as a slash command; the answer either way.
async fn ask(d: &LocalDiscord, mode: Mode, user: u64, channel: u64, text: &str) -> Posted {
    match mode {
        Mode::Prefix => d.ask(user, channel, text).await,
        Mode::Slash => {
            let (name, options) = slash_form(text);
            d.run(user, channel, &name, options).await
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_whole_course_runs_on_discord_with_the_prefix() {
    full_course(Mode::Prefix).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_whole_course_runs_on_discord_with_slash_commands() {
    full_course(Mode::Slash).await;
}

async fn full_course(mode: Mode) {
    let d = LocalDiscord::start().await;
    let olga = d.member("olga");
    let (ana, ben, chen, mia) = (d.member("ana"), d.member("ben"), d.member("chen"), d.member("mia"));
    let bot = Bot::start(&d, &[olga], mode == Mode::Slash).await;
    let slug = unique("data-");
    let olga_dm = d.dm(olga);

    let new = format!(
        "!course new {slug} \"Intro to Data\" school=\"School of Data\" start={} prompt=\"*/20 * * * * *\" deadline=12s review=10s",
        tomorrow()
    );
    let created = match mode {
        Mode::Prefix => d.ask(olga, olga_dm, &new).await,
        Mode::Slash => {
            let s = |name: &str, value: &str| json!({"name": name, "type": 3, "value": value});
            let options = json!([{"name": "new", "type": 1, "options": [
                s("slug", &slug), s("title", "Intro to Data"), s("school", "School of Data"),
                s("start", &tomorrow().to_string()), s("prompt", "*/20 * * * * *"), s("deadline", "12s")]}]);
            let answer = d.run(olga, olga_dm, "course", options).await;
            assert!(!answer.ephemeral, "creating a course is not private");
            answer
        }
    };
    assert!(created.text().contains("Created **Intro to Data**"), "{}\n{}", created.text(), bot.logs());
    let channel = wait_channel(&d, &slug, &bot).await;
    let (category, topic, overwrites) = d.channel_details(channel).unwrap();
    assert_eq!(category.as_deref(), Some("School of Data"), "the course channel is in its school's category");
    assert!(topic.unwrap_or_default().contains("Intro to Data"));
    assert!(overwrites.to_string().contains("\"allow\""), "{overwrites}");
    assert!(d.roles_of(olga).contains(&format!("{slug} organizers")), "{:?}", d.roles_of(olga));

    let paused = ask(&d, mode, olga, channel, "!course pause").await;
    assert!(paused.text().contains("paused"), "{}", paused.text());
    if mode == Mode::Slash {
        // Review deadlines are a course setting the slash form sets like any other.
        let set = ask(&d, mode, olga, channel, "!course set review=10s").await;
        assert!(set.text().contains("review"), "{}", set.text());
    }
    // The syllabus as an attached Markdown file.
    let loaded = match mode {
        Mode::Prefix => {
            let id = d.say_with_file(olga, channel, "!syllabus load", Some(("syllabus.md", SYLLABUS)));
            d.wait_for("the syllabus loaded", |p| p.reply_to == Some(id)).await
        }
        Mode::Slash => {
            let options = json!([{"name": "load", "type": 1, "options": [{"name": "file", "type": 11, "value": "0"}]}]);
            let id = d.slash_with_file(olga, channel, "syllabus", options, ("syllabus.md", SYLLABUS));
            d.wait_for("the syllabus loaded", |p| p.interaction == Some(id)).await
        }
    };
    assert!(loaded.text().contains("Loaded the syllabus"), "{}", loaded.text());
    let mentor = ask(&d, mode, olga, channel, &format!("!mentor add <@{mia}>")).await;
    assert!(mentor.text().contains("is now a mentor"), "{}", mentor.text());
    assert!(mentor.text().contains(&format!("<@{mia}>")), "a real mention: {}", mentor.text());
    assert!(mentor.allowed_users.contains(&mia), "the mention may ping: {mentor:?}");
    assert!(d.roles_of(mia).contains(&format!("{slug} mentors")));

    for learner in [ana, ben, chen] {
        let welcome = ask(&d, mode, learner, d.dm(learner), &format!("!join {slug}")).await;
        assert!(welcome.text().contains("Welcome to **Intro to Data**"), "{}", welcome.text());
        assert!(!welcome.text().contains("invited"), "Discord has no invitations: {}", welcome.text());
        assert!(d.roles_of(learner).contains(&format!("{slug} learners")), "{:?}", d.roles_of(learner));
    }

    let today = chrono::Utc::now().date_naive();
    let moved = ask(&d, mode, olga, channel, &format!("!course set start={today}")).await;
    assert!(moved.text().contains(&format!("start {today}")), "{}", moved.text());
    let resumed = ask(&d, mode, olga, channel, "!course resume").await;
    assert!(resumed.text().contains("Week 1 opens"), "{}", resumed.text());
    let prompt = d.wait_for("week 1", |p| p.channel == channel && p.text().contains("Week 1 of 3: Finding data")).await;
    assert!(
        prompt
            .embeds
            .first()
            .and_then(|e| e["title"].as_str())
            .is_some_and(|t| t.contains("Week 1 of 3: Finding data")),
        "the prompt is an embed with the week as its title: {prompt:?}"
    );
    assert!(prompt.text().contains("<t:"), "deadlines are Discord timestamps: {}", prompt.text());

    for (learner, link) in
        [(ana, "https://example.org/ana"), (ben, "https://example.org/ben"), (chen, "https://example.org/chen")]
    {
        let ack = ask(&d, mode, learner, channel, &format!("!submit {link}")).await;
        assert!(ack.text().contains("submission is in"), "{}", ack.text());
    }
    d.wait_for("the Starter badge", |p| p.text().contains("earned the **Starter** badge")).await;
    let revised = ask(&d, mode, ana, channel, "!submit https://example.org/ana-v2").await;
    assert!(revised.text().contains("version 2"), "{}", revised.text());

    // Pairing at the deadline: assignments by direct message.
    let mut assignments = Vec::new();
    for learner in [ana, ben, chen] {
        let dm = d.dm(learner);
        let a = d.wait_for("an assignment", |p| p.channel == dm && p.text().contains("📝 Review assignment")).await;
        assignments.push(assignment_id(&a.text()));
    }
    let ack = ask(&d, mode, ana, d.dm(ana), &format!("!review {} Clear and sourced. score=4", assignments[0])).await;
    assert!(ack.text().contains("recorded"), "{}", ack.text());
    let ack = ask(&d, mode, chen, d.dm(chen), &format!("!review {} A good start.", assignments[2])).await;
    assert!(ack.text().contains("recorded"), "{}", ack.text());
    d.wait_for("feedback to an author", |p| p.text().contains("💬 New review")).await;
    // Ben reviews nothing: at the review deadline his work goes to the mentor.
    let mia_dm = d.dm(mia);
    let escalated = d
        .wait_for("an escalation", |p| p.channel == mia_dm && p.text().contains("As a mentor, please cover this work"))
        .await;
    let id = assignment_id(&escalated.text());
    let ack = ask(&d, mode, mia, mia_dm, &format!("!review {id} As a mentor: add the publisher.")).await;
    assert!(ack.text().contains("recorded"), "{}", ack.text());

    // Awards are announced in the course channel as an embed that pings the learner.
    // An award is answered by its announcement, not by a reply.
    match mode {
        Mode::Prefix => {
            d.say(olga, channel, &format!("!badge award <@{ben}> cleaner Tidy notes."));
        }
        Mode::Slash => {
            let (name, options) = slash_form(&format!("!badge award <@{ben}> cleaner Tidy notes."));
            let id = d.slash(olga, channel, &name, options);
            // Discord waits for every slash command to be answered: a private acknowledgement.
            let ack = d.wait_for("the award acknowledged", |p| p.interaction == Some(id)).await;
            assert!(ack.ephemeral && ack.text().contains("Done"), "{ack:?}");
        }
    }
    let announced =
        d.wait_for("the Cleaner badge", |p| p.channel == channel && p.text().contains("the **Cleaner** badge")).await;
    assert!(!announced.embeds.is_empty(), "{announced:?}");
    assert!(announced.allowed_users.contains(&ben), "{announced:?}");

    d.wait_for("week 3", |p| p.channel == channel && p.text().contains("Week 3 of 3")).await;
    let status = ask(&d, mode, olga, channel, "!status").await;
    assert!(status.text().contains("Week 1: 3 of 3 learners submitted"), "{}", status.text());
    tokio::time::sleep(Duration::from_secs(2)).await;
    let from_bot = d.from_bot();
    for week in 1..=3 {
        let posts =
            from_bot.iter().filter(|p| p.channel == channel && p.text().contains(&format!("Week {week} of 3"))).count();
        assert_eq!(posts, 1, "week {week} posted once");
    }
    assert_answered_once(&d);
    assert!(d.violations().is_empty(), "{:#?}\n{}", d.violations(), bot.logs());
}

/// Every command (message or slash command) was answered exactly once.
fn assert_answered_once(d: &LocalDiscord) {
    let mut answered: Vec<u64> = d.from_bot().iter().filter_map(|p| p.reply_to.or(p.interaction)).collect();
    let total = answered.len();
    answered.sort_unstable();
    answered.dedup();
    assert_eq!(total, answered.len(), "no command answered twice");
}

async fn wait_channel(d: &LocalDiscord, slug: &str, bot: &Bot) -> u64 {
    for _ in 0..300 {
        if let Some(c) = d.channel_named(slug) {
            return c;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the course channel was never made:\n{}", bot.logs());
}

/// A course made by olga on `bot`, paused, with `learners` in it; returns its channel.
async fn paused_course(d: &LocalDiscord, bot: &Bot, olga: u64, learners: &[u64], slug: &str, prompt: &str) -> u64 {
    let created = d
        .ask(
            olga,
            d.dm(olga),
            &format!("!course new {slug} \"Course\" weeks=3 start={} prompt=\"{prompt}\" deadline=1h", tomorrow()),
        )
        .await;
    assert!(created.text().contains("Created"), "{}\n{}", created.text(), bot.logs());
    let channel = wait_channel(d, slug, bot).await;
    d.ask(olga, channel, "!course pause").await;
    for learner in learners {
        let welcome = d.ask(*learner, d.dm(*learner), &format!("!join {slug}")).await;
        assert!(welcome.text().contains("Welcome"), "{}", welcome.text());
    }
    channel
}

async fn start_now(d: &LocalDiscord, olga: u64, channel: u64) {
    let today = chrono::Utc::now().date_naive();
    d.ask(olga, channel, &format!("!course set start={today}")).await;
    let resumed = d.ask(olga, channel, "!course resume").await;
    assert!(resumed.text().contains("resumed") || resumed.text().contains("opens"), "{}", resumed.text());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_typed_name_means_the_member_with_that_username_never_a_look_alike_display_name() {
    let d = LocalDiscord::start().await;
    let olga = d.member("olga");
    // Nobody has spoken yet, and Discord lists no members to the bot: names are searched for.
    let chen = d.member("chen");
    let bo = d.member("bo");
    let mallory = d.member_shown_as("mallory", "bo");
    let (sam_k, samuel) = (d.member_shown_as("sam_k", "Sam"), d.member("samuel"));
    let bot = Bot::start(&d, &[olga], true).await;
    let slug = unique("c-");
    let room = paused_course(&d, &bot, olga, &[], &slug, "0 9 * * Mon").await;

    let added = d.ask(olga, room, "!mentor add @chen").await;
    assert!(added.text().contains("mentor"), "a member who never spoke is found: {}", added.text());
    assert!(d.roles_of(chen).contains(&format!("{slug} mentors")), "{:?}", d.roles_of(chen));

    // Mallory calls herself "bo" and speaks last; @bo is still the member named bo.
    d.ask(mallory, room, "!ping").await;
    let added = d.ask(olga, room, "!organizer add @bo").await;
    assert!(!added.text().contains("⚠️"), "{}", added.text());
    assert!(d.roles_of(bo).contains(&format!("{slug} organizers")), "{:?}", d.roles_of(bo));
    assert!(d.roles_of(mallory).is_empty(), "a look-alike display name gains nothing: {:?}", d.roles_of(mallory));

    // Nobody is called exactly "sam": the bot lists who might be meant and changes nothing.
    let unclear = d.ask(olga, room, "!mentor add @sam").await;
    let text = unclear.shown();
    assert!(text.contains("⚠️") && text.contains("@sam_k (Sam)") && text.contains("@samuel"), "{text}");
    assert!(text.contains("Mention the one you mean"), "{text}");
    assert!(d.roles_of(sam_k).is_empty() && d.roles_of(samuel).is_empty());
    let nobody = d.ask(olga, room, "!mentor add @zed").await;
    assert!(nobody.text().contains("I can't tell who"), "{}", nobody.text());
    assert!(d.violations().is_empty(), "{:#?}", d.violations());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bad_input_on_discord_gets_clear_replies_and_changes_nothing() {
    let d = LocalDiscord::start().await;
    let (olga, ana) = (d.member("olga"), d.member("ana"));
    let bot = Bot::start(&d, &[olga], true).await;
    let slug = unique("c-");
    let room = paused_course(&d, &bot, olga, &[ana], &slug, "0 9 * * Mon").await;
    let (ana_dm, olga_dm) = (d.dm(ana), d.dm(olga));
    let status_before = d.ask(olga, room, "!status").await.text();
    let courses_before = d.ask(ana, ana_dm, "!courses").await.text();

    let catalogue: Vec<(u64, u64, String, &str)> = vec![
        (ana, ana_dm, "!frobnicate".into(), "don't know the command"),
        (ana, ana_dm, "!".into(), "empty command"),
        (ana, ana_dm, "!join".into(), "Which course?"),
        (ana, ana_dm, "!join nope-404".into(), "There is no course"),
        (ana, ana_dm, format!("!join {slug} extra"), "one course at a time"),
        (ana, ana_dm, "!join <script>alert(1)</script>".into(), "not a course name"),
        (ana, ana_dm, "!join x'; DROP TABLE courses;--".into(), "one course at a time"),
        (ana, ana_dm, "!jo\u{200B}in x".into(), "invisible character"),
        (ana, ana_dm, "!join \u{202E}tx".into(), "invisible character"),
        (ana, ana_dm, "!tz Mars/Olympus".into(), "not a time zone"),
        (ana, ana_dm, "!course new x1 \"T\"".into(), "Only bot admins"),
        (olga, olga_dm, "!course new x1 \"Unclosed".into(), "quote is not closed"),
        (olga, olga_dm, "!course new x1 \"T\" start=2026-02-30".into(), "YYYY-MM-DD"),
        (olga, olga_dm, "!course new x1 \"T\" prompt=\"0 9 * *\"".into(), "5 fields"),
        (olga, olga_dm, format!("!course new {slug} \"Again\""), "already exists"),
        (ana, room, "!course pause".into(), "Only organizers"),
        (ana, room, "!status".into(), "Only organizers"),
        (ana, room, "!submit".into(), "nothing to submit"),
        (ana, room, "!submit week 9 x".into(), "no week 9"),
        (ana, room, "!submit x".into(), "hasn't started"),
        (ana, room, format!("!submit {}", "x".repeat(1990)), "hasn't started"),
        (ana, ana_dm, "!submit x".into(), "course's room"),
        (olga, room, "!course set deadline=forever".into(), "not a duration"),
        (olga, room, "!course set colour=blue".into(), "not a course setting"),
        (olga, room, "!organizer add @nobody-here".into(), "can't tell who"),
        (olga, room, "!syllabus load\n# T\n## Week 3: x\ny".into(), "line 2"),
        (ana, ana_dm, "!review 999 Looks good".into(), "no assignment #999"),
        (ana, ana_dm, "!review 1 Good score=9".into(), "not a score"),
        (ana, room, format!("!badge award <@{olga}> nope"), "has no badge"),
        (ana, room, "!pair".into(), "Only organizers"),
        (ana, room, "!help @everyone".into(), "no command"),
    ];
    assert!(catalogue.len() >= 30);
    let mut problems = Vec::new();
    for (person, channel, text, expected) in &catalogue {
        let reply = d.ask(*person, *channel, text).await;
        if !reply.text().contains("⚠️") || !reply.text().to_lowercase().contains(&expected.to_lowercase()) {
            problems.push(format!("{text:.60?} should say {expected:?}, said: {}", reply.text()));
        }
        if text.contains("<script>") || text.contains("@everyone") {
            // Nobody may be pinged (the local Discord also refuses `parse: ["everyone"]`).
            assert!(reply.allowed_users.is_empty(), "user text cannot ping: {reply:?}");
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));

    // The same mistakes as slash commands: private (ephemeral) answers.
    let slash: Vec<(u64, u64, &str, Value, &str)> = vec![
        (ana, ana_dm, "join", json!([{"name": "course", "type": 3, "value": "nope-404"}]), "There is no course"),
        (ana, room, "course", json!([{"name": "pause", "type": 1, "options": []}]), "Only organizers"),
        (
            ana,
            room,
            "submit",
            json!([{"name": "work", "type": 3, "value": "x"}, {"name": "week", "type": 4, "value": 9}]),
            "no week 9",
        ),
        (
            ana,
            ana_dm,
            "review",
            json!([{"name": "assignment", "type": 4, "value": 999}, {"name": "feedback", "type": 3, "value": "ok"}]),
            "no assignment #999",
        ),
        (
            olga,
            room,
            "course",
            json!([{"name": "set", "type": 1, "options": [{"name": "settings", "type": 3, "value": "deadline=forever"}]}]),
            "not a duration",
        ),
        (ana, ana_dm, "tz", json!([{"name": "zone", "type": 3, "value": "Mars/Olympus"}]), "not a time zone"),
        // A command the server no longer has (a stale client): only possible in the server.
        (ana, room, "dance", json!([]), "unknown slash command"),
    ];
    for (person, channel, name, options, expected) in slash {
        let answer = d.run(person, channel, name, options).await;
        assert!(answer.ephemeral, "/{name}: errors are ephemeral: {answer:?}");
        assert!(answer.text().contains(expected), "/{name} should say {expected:?}: {}", answer.text());
    }
    let wrong_file = json!([{"name": "load", "type": 1, "options": [{"name": "file", "type": 11, "value": "0"}]}]);
    let id = d.slash_with_file(olga, room, "syllabus", wrong_file, ("syllabus.md", "# T\n## Week 3: x\ny"));
    let answer = d.wait_for("the bad syllabus refused", |p| p.interaction == Some(id)).await;
    assert!(answer.ephemeral && answer.text().contains("line 2"), "{answer:?}");
    // A learner's file is refused for who sent it, and never downloaded.
    let downloads = d.downloads();
    let id = d.say_with_file(ana, room, "!syllabus load", Some(("syllabus.md", SYLLABUS)));
    let answer = d.wait_for("the learner's syllabus refused", |p| p.reply_to == Some(id)).await;
    assert!(answer.text().contains("Only organizers"), "{}", answer.text());
    let file = json!([{"name": "load", "type": 1, "options": [{"name": "file", "type": 11, "value": "0"}]}]);
    let id = d.slash_with_file(ana, room, "syllabus", file, ("syllabus.md", SYLLABUS));
    let answer = d.wait_for("the learner's slash syllabus refused", |p| p.interaction == Some(id)).await;
    assert!(answer.ephemeral && answer.text().contains("Only organizers"), "{answer:?}");
    assert_eq!(d.downloads(), downloads, "a file nobody may use is not downloaded");

    // Course names are suggested as they are typed.
    let typed = json!([{"name": "course", "type": 3, "value": &slug[..3], "focused": true}]);
    let id = d.autocomplete(ana, ana_dm, "join", typed);
    let choices = d.wait_for("suggestions", |p| p.interaction == Some(id)).await;
    assert!(choices.content.split(',').any(|c| c == slug), "{choices:?}");

    assert_eq!(d.ask(olga, room, "!status").await.text(), status_before);
    assert_eq!(d.ask(ana, ana_dm, "!courses").await.text(), courses_before);
    assert_answered_once(&d);
    assert!(d.violations().is_empty(), "{:#?}", d.violations());
}

/// The bot's answers in `channel`, in the order they were posted, as the ids they answer.
fn answers_in(d: &LocalDiscord, channel: u64) -> Vec<u64> {
    d.from_bot().iter().filter(|p| p.channel == channel).filter_map(|p| p.reply_to).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn in_a_storm_of_429s_every_effect_is_delivered_once_and_in_order() {
    let d = LocalDiscord::start().await;
    // Every third request is refused with a 429 (every fifth of those a global one), from the
    // first request on: registration, channels, roles, messages and interaction responses.
    d.rate_limit_every(Some(3));
    let (olga, ana, ben) = (d.member("olga"), d.member("ana"), d.member("ben"));
    let bot = Bot::start(&d, &[olga], true).await;
    let slug = unique("c-");
    let room = paused_course(&d, &bot, olga, &[ana, ben], &slug, "*/4 * * * * *").await;
    start_now(&d, olga, room).await;

    let mut asked = Vec::new();
    for n in 0..20 {
        let (who, channel) = if n % 2 == 0 { (ana, room) } else { (ben, d.dm(ben)) };
        asked.push((channel, d.say(who, channel, if n % 3 == 0 { "!progress" } else { "!ping" })));
    }
    for (_, id) in &asked {
        d.wait_for("every answer", |p| p.reply_to == Some(*id)).await;
    }
    d.wait_for("week 2", |p| p.channel == room && p.text().contains("Week 2 of 3")).await;
    tokio::time::sleep(Duration::from_secs(1)).await;

    for channel in [room, d.dm(ben)] {
        let mine: Vec<u64> = asked.iter().filter(|(c, _)| *c == channel).map(|(_, id)| *id).collect();
        let answered: Vec<u64> = answers_in(&d, channel).into_iter().filter(|id| mine.contains(id)).collect();
        assert_eq!(answered, mine, "answered once each, in the order asked");
    }
    let from_bot = d.from_bot();
    for week in 1..=2 {
        let n =
            from_bot.iter().filter(|p| p.channel == room && p.text().contains(&format!("Week {week} of 3"))).count();
        assert_eq!(n, 1, "week {week} posted once");
    }
    let weeks: Vec<usize> = from_bot
        .iter()
        .filter(|p| p.channel == room)
        .filter_map(|p| (1..=3).find(|w| p.text().contains(&format!("Week {w} of 3:"))))
        .collect();
    assert!(weeks.windows(2).all(|w| w[0] < w[1]), "prompts in order: {weeks:?}");
    assert_answered_once(&d);
    assert!(d.limited() >= 15, "the storm happened: {} 429s", d.limited());
    assert!(d.violations().is_empty(), "{:#?}", d.violations());
    let logs = bot.logs();
    assert!(!logs.contains("failed for good"), "nothing was dropped:\n{logs}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_dropped_gateway_resumes_its_session_without_losing_or_repeating_events() {
    let d = LocalDiscord::start().await;
    let (olga, ana) = (d.member("olga"), d.member("ana"));
    let bot = Bot::start(&d, &[olga], false).await;
    let slug = unique("c-");
    let room = paused_course(&d, &bot, olga, &[ana], &slug, "*/5 * * * * *").await;
    start_now(&d, olga, room).await;
    d.wait_for("week 1", |p| p.channel == room && p.text().contains("Week 1 of 3")).await;

    let mut asked = Vec::new();
    for round in 0..2 {
        asked.push(d.say(ana, room, "!progress"));
        d.drop_gateway();
        // Said while the bot is cut off: Discord keeps them for the resumed session.
        for _ in 0..5 {
            asked.push(d.say(ana, room, "!ping"));
        }
        for _ in 0..200 {
            if d.connected() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(d.connected(), "round {round}: the bot reconnected:\n{}", bot.logs());
        asked.push(d.say(ana, room, "!ping"));
    }
    for id in &asked {
        d.wait_for("every answer", |p| p.reply_to == Some(*id)).await;
    }
    d.wait_for("week 3", |p| p.channel == room && p.text().contains("Week 3 of 3")).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (identifies, resumes) = d.sessions();
    assert_eq!(identifies, 1, "the session was resumed, not started again");
    assert!(resumes >= 2, "{resumes} resumes");
    let answered: Vec<u64> = answers_in(&d, room).into_iter().filter(|id| asked.contains(id)).collect();
    assert_eq!(answered, asked, "each event handled once, in order");
    for week in 1..=3 {
        let n = d
            .from_bot()
            .iter()
            .filter(|p| p.channel == room && p.text().contains(&format!("Week {week} of 3")))
            .count();
        assert_eq!(n, 1, "week {week} posted once");
    }
    assert!(d.violations().is_empty(), "{:#?}", d.violations());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn weekly_prompts_open_threads_on_discord_and_work_said_in_one_counts_for_its_week() {
    let d = LocalDiscord::start().await;
    let (olga, ana) = (d.member("olga"), d.member("ana"));
    let bot = Bot::start(&d, &[olga], true).await;
    let slug = unique("c-");
    let room = paused_course(&d, &bot, olga, &[ana], &slug, "*/8 * * * * *").await;
    // Someone who joins the server while the bot runs can be named as people type names.
    let zoe = d.member("zoe");
    let mentor = d.ask(olga, room, "!mentor add @zoe").await;
    assert!(mentor.text().contains(&format!("<@{zoe}> is now a mentor")), "{}", mentor.text());
    // Given the learner role by hand in Discord: joined, and welcomed in the course channel.
    let bo = d.member("bo");
    tokio::time::sleep(Duration::from_millis(200)).await;
    d.give_role(bo, &format!("{slug} learners"));
    let welcome =
        d.wait_for("bo welcomed", |p| p.channel == room && p.text().contains(&format!("Welcome, <@{bo}>"))).await;
    assert!(welcome.allowed_users.contains(&bo), "{welcome:?}");
    let set = d.ask(olga, room, "!course set threads=yes").await;
    assert!(set.text().contains("a thread per week"), "{}", set.text());
    start_now(&d, olga, room).await;
    let week1 = d.wait_for("week 1", |p| p.channel == room && p.text().contains("Week 1 of 3")).await;
    let thread = loop {
        if let Some(t) = d.thread_of(week1.id) {
            break t;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let opening = d.wait_for("week 1's thread", |p| p.channel == thread).await;
    assert!(opening.text().contains("This is week 1's thread"), "{}", opening.text());
    d.wait_for("week 2", |p| p.channel == room && p.text().contains("Week 2 of 3")).await;
    let ack = d.ask(ana, thread, "!submit https://example.org/w1").await;
    assert_eq!(ack.channel, thread, "the answer stays in the thread");
    assert!(ack.text().contains("week 1 submission is in"), "{}", ack.text());
    let work = json!([{"name": "work", "type": 3, "value": "https://example.org/w1-v2"}]);
    let answer = d.run(ana, thread, "submit", work).await;
    assert!(answer.text().contains("week 1") && answer.text().contains("version 2"), "{}", answer.text());
    assert!(d.violations().is_empty(), "{:#?}", d.violations());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_killed_bot_answers_what_was_said_while_it_was_down_and_repeats_nothing() {
    let d = LocalDiscord::start().await;
    let (olga, ana, ben) = (d.member("olga"), d.member("ana"), d.member("ben"));
    let mut bot = Bot::start(&d, &[olga], true).await;
    let slug = unique("c-");
    let room = paused_course(&d, &bot, olga, &[ana, ben], &slug, "*/6 * * * * *").await;
    d.ask(olga, room, "!course set threads=yes").await;
    start_now(&d, olga, room).await;
    let week1 = d.wait_for("week 1", |p| p.channel == room && p.text().contains("Week 1 of 3")).await;
    let thread = loop {
        if let Some(t) = d.thread_of(week1.id) {
            break t;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let ack = d.ask(ana, room, "!submit https://example.org/before-the-crash").await;
    assert!(ack.text().contains("submission is in"), "{}", ack.text());

    bot.kill();
    // Said while the bot is down: Discord does not replay it, the bot reads it back. A REST
    // message has no `guild_id`: the channel, not the message, says these were not private.
    let asked = d.say(ana, room, "!progress");
    let submitted = d.say(ben, thread, "!submit https://example.org/said-in-the-thread");
    // Down across a prompt: it is posted once the bot is back.
    tokio::time::sleep(Duration::from_secs(8)).await;
    bot.spawn();
    bot.until_connected(&d, true).await;
    let progress = d.wait_for("the answer to what was said during the downtime", |p| p.reply_to == Some(asked)).await;
    // A private answer asked for with `!` in the course channel comes by direct message.
    assert!(progress.text().contains("by direct message"), "{}", progress.text());
    d.wait_for("the progress by DM", |p| p.channel != room && p.text().contains("Your progress in")).await;
    let ack = d.wait_for("the submission said in the thread", |p| p.reply_to == Some(submitted)).await;
    assert_eq!(ack.channel, thread, "answered in the thread");
    assert!(ack.text().contains("week 1 submission is in"), "the work counts for week 1: {}", ack.text());
    d.wait_for("week 3", |p| p.channel == room && p.text().contains("Week 3 of 3")).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    for week in 1..=3 {
        let n = d
            .from_bot()
            .iter()
            .filter(|p| p.channel == room && p.text().contains(&format!("Week {week} of 3")))
            .count();
        assert_eq!(n, 1, "week {week} posted once:\n{}", bot.logs());
    }
    assert_eq!(d.sessions().0, 2, "a new session after the restart");
    assert_answered_once(&d);
    assert!(d.violations().is_empty(), "{:#?}", d.violations());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_process_runs_a_course_on_matrix_and_discord_at_once() {
    use facilitator_matrix::testing::{PASSWORD, Person, Synapse};
    let synapse = Synapse::from_env();
    let d = LocalDiscord::start().await;
    let (olga, ben) = (d.member("olga"), d.member("ben"));
    let ana = Person::new(&synapse, "ana").await;
    let localpart = facilitator_matrix::testing::unique("facilitator");
    let bot_id = synapse.register(&localpart, false).await;
    synapse.lift_rate_limit(&bot_id).await;
    let matrix =
        format!("\n[matrix]\nhomeserver = \"{}\"\nuser = \"{bot_id}\"\nstore_dir = \"DIR/matrix\"\n", synapse.url);
    let bot = Bot::with(&d, &[olga], false, &matrix, &[("FACILITATOR_MATRIX_PASSWORD", PASSWORD)]).await;
    let slug = unique("both-");
    let room = paused_course(&d, &bot, olga, &[ben], &slug, "*/10 * * * * *").await;

    // Ana is on Matrix: she joins from a direct chat and is invited to the course's Matrix room.
    let bot_user: matrix_sdk::ruma::OwnedUserId = bot_id.as_str().try_into().unwrap();
    let ana_dm = ana.dm(&bot_user).await;
    let welcome = ana.ask(&ana_dm, &format!("!join {slug}")).await;
    assert!(welcome.body.contains("Welcome"), "{}\n{}", welcome.body, bot.logs());
    let matrix_room = ana.room_named(&slug).await;

    start_now(&d, olga, room).await;
    d.wait_for("week 1 on Discord", |p| p.channel == room && p.text().contains("Week 1 of 3")).await;
    ana.wait_for("week 1 on Matrix", |m| m.room == matrix_room && m.body.contains("Week 1 of 3")).await;
    let ack = ana.ask(&matrix_room, "!submit https://example.org/ana").await;
    assert!(ack.body.contains("submission is in"), "{}", ack.body);
    let ack = d.ask(ben, room, "!submit https://example.org/ben").await;
    assert!(ack.text().contains("submission is in"), "{}", ack.text());
    let status = d.ask(olga, room, "!status").await;
    assert!(status.text().contains("Week 1: 2 of 2 learners submitted"), "one course, one database: {}", status.text());

    // Each platform's delivery is its own. The homeserver's admin shuts the Matrix room down, so
    // posting there fails for good (and Matrix is asked first): the announcement of a badge
    // still reaches the Discord channel.
    synapse.shut_down_room(matrix_room.as_str()).await;
    let loaded = d.ask(olga, room, &format!("!syllabus load\n{SYLLABUS}")).await;
    assert!(loaded.text().contains("Loaded the syllabus"), "{}", loaded.text());
    d.say(olga, room, &format!("!badge award <@{ben}> cleaner"));
    let announced = d
        .wait_for("the announcement on Discord", |p| p.channel == room && p.text().contains("the **Cleaner** badge"))
        .await;
    assert!(announced.allowed_users.contains(&ben), "{announced:?}");
    assert!(d.violations().is_empty(), "{:#?}", d.violations());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn slash_commands_answered_late_are_deferred_then_answered() {
    let d = LocalDiscord::start().await;
    let (olga, ana) = (d.member("olga"), d.member("ana"));
    let bot = Bot::start(&d, &[olga], true).await;
    let slug = unique("c-");
    let room = paused_course(&d, &bot, olga, &[ana], &slug, "0 9 * * Mon").await;
    // The next message post waits 3 s behind a 429: the answers queued after it are late for
    // Discord's three-second window.
    d.rate_limit_next("/messages", 3.0);
    let asked = d.say(ana, room, "!ping");
    tokio::time::sleep(Duration::from_millis(200)).await;
    let progress = d.slash(ana, room, "progress", json!([]));
    let ping = d.slash(ana, room, "ping", json!([]));
    // Private: the deferred (private) response is edited into the answer.
    let private = d.wait_for("the private answer", |p| p.interaction == Some(progress)).await;
    assert!(private.ephemeral && private.text().contains("progress"), "{private:?}");
    // Public: it goes to the channel, naming (and pinging) the asker.
    let public = d
        .wait_for("the public answer", |p| p.channel == room && p.reply_to.is_none() && p.text().contains("pong"))
        .await;
    assert!(public.content.starts_with(&format!("<@{ana}>")) && public.allowed_users.contains(&ana), "{public:?}");
    assert!(!d.from_bot().iter().any(|p| p.interaction == Some(ping)), "the deferral was removed, not answered");
    d.wait_for("the held reply", |p| p.reply_to == Some(asked)).await;

    // An answer over Discord's 2,000 characters: the response, then follow-ups.
    let long: String =
        (0..40).map(|n| format!("Paragraph {n} of the reading notes, long enough to add up.\n\n")).collect();
    let syllabus = format!("# Long\n\n## Week 1: Reading\n{long}\n## Week 2: More\nMore.\n");
    let id = d.say_with_file(olga, room, "!syllabus load", Some(("long.md", &syllabus)));
    let loaded = d.wait_for("the long syllabus", |p| p.reply_to == Some(id)).await;
    assert!(loaded.text().contains("Loaded the syllabus"), "{}", loaded.text());
    let show = json!([{"name": "show", "type": 1, "options": [{"name": "week", "type": 4, "value": 1}]}]);
    let asked = d.slash(ana, room, "syllabus", show);
    d.wait_for("the last part", |p| p.interaction == Some(asked) && p.text().contains("Paragraph 39")).await;
    let parts: Vec<Posted> = d.from_bot().into_iter().filter(|p| p.interaction == Some(asked)).collect();
    assert!(parts.len() >= 2, "{parts:?}");
    assert!(parts[0].text().contains("Paragraph 0") && parts.iter().all(|p| p.content.chars().count() <= 2000));
    assert!(d.violations().is_empty(), "{:#?}", d.violations());
}
