//! The binary as users run it.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn bin() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_facilitator"));
    cmd.env_remove("FACILITATOR_CONFIG")
        .env_remove("FACILITATOR_DATABASE_URL")
        .env_remove("FACILITATOR_ADMINS")
        .env("RUST_LOG", "warn");
    cmd
}

fn run_with_input(mut cmd: Command, input: &str) -> (i32, String, String) {
    let mut child = cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn the_demo_plays_a_whole_cycle_and_leaves_no_files() {
    let cwd = tempfile::tempdir().unwrap();
    let out = bin().arg("demo").current_dir(cwd.path()).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        stdout.lines().last(),
        Some("demo: 3 weeks, 3 prompts posted, 11 submissions, 10 reviews, 5 badges"),
        "{stdout}"
    );
    // The whole loop: pairing, assignments by DM, a reminder, an escalation, badges.
    assert!(stdout.contains("[dm olga] Pairing for `data-101` week 1"), "{stdout}");
    assert!(stdout.contains("📝 Review assignment"));
    assert!(stdout.contains("💬 New review of your week 1 work"));
    assert!(stdout.contains("⏰ Reminder"));
    assert!(stdout.contains("[dm mia] 📝 Review assignment") && stdout.contains("As a mentor, please cover this work"));
    assert!(stdout.contains("🏅 @ana earned the **Finisher** badge"));
    assert_eq!(stdout.matches("**Week 1 of 3").count(), 1);
    assert!(stdout.contains("marked late"));
    assert!(stdout.contains("version 2"));
    assert!(stdout.contains("⚠️ I don't know the command `!jion`"));
    assert_eq!(std::fs::read_dir(cwd.path()).unwrap().count(), 0, "the demo left files behind");
}

const SCRIPT: &str = "olga@lobby: !course new data-101 \"Intro to Data\" weeks=2\n\
olga@data-101: !syllabus load\\\n\
# Intro\\\n\
## Week 1: One\\\n\
Do one.\\\n\
## Week 2: Two\\\n\
Do two.\n\
ana@lobby: !join data-101\n\
/advance 2h\n\
/now\n\
ana@data-101: !submit https://example.org/a\n\
ana@dm: !progress\n\
not a message line\n\
";

#[test]
fn the_console_reads_a_piped_script_and_exits_at_the_end() {
    let mut cmd = bin();
    cmd.args(["console", "--admin", "olga", "--now", "2026-10-19T08:00:00Z"]);
    let (code, stdout, _) = run_with_input(cmd, SCRIPT);
    assert_eq!(code, 0);
    assert!(stdout.contains("* created the room data-101"), "{stdout}");
    assert!(stdout.contains("[data-101] Loaded the syllabus: **Intro**, 2 weeks."), "{stdout}");
    assert!(stdout.contains("[lobby] Welcome to **Intro to Data**"), "{stdout}");
    assert!(stdout.contains("[data-101] **Week 1 of 2: One**"), "{stdout}");
    assert!(stdout.contains("now: 2026-10-19T10:00:00Z"), "{stdout}");
    assert!(stdout.contains("[data-101] Thanks, @ana! Your week 1 submission is in, on time"), "{stdout}");
    assert!(stdout.contains("[dm ana] Your courses:"), "{stdout}");
    assert!(stdout.contains("console: write messages as `user@room: message`"), "{stdout}");
}

#[test]
fn a_console_database_survives_a_restart_without_posting_twice() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("f.db");
    let db = db.to_str().unwrap();
    let mut first = bin();
    first.args(["console", "--admin", "olga", "--now", "2026-10-19T08:00:00Z", "--db", db]);
    let (code, stdout, _) = run_with_input(first, SCRIPT);
    assert_eq!(code, 0, "{stdout}");
    let mut second = bin();
    second.args(["console", "--admin", "olga", "--now", "2026-10-27T08:00:00Z", "--db", db]);
    let (code, stdout, _) = run_with_input(second, "/advance 1m\nolga@data-101: !status\n");
    assert_eq!(code, 0);
    assert!(!stdout.contains("Week 1 of 2"), "week 1 posted again: {stdout}");
    assert_eq!(stdout.matches("**Week 2 of 2: Two**").count(), 1, "{stdout}");
    assert!(stdout.contains("Posted late"), "{stdout}");
    assert!(stdout.contains("Week 1: 1 of 1 learners submitted"), "{stdout}");
}

/// A course script for the crash test: three weeks, three learners, submissions, a badge.
fn crash_script() -> Vec<String> {
    let mut lines = vec![
        "olga@lobby: !course new data-101 \"Intro\" weeks=3 deadline=2d review=1d".to_owned(),
        "olga@data-101: !syllabus load\\\n# Intro\\\n## Week 1: One\\\nFirst.\\\n## Week 2: Two\\\nSecond.\\\n## Week 3: Three\\\nThird.\\\n## Badges\\\n### Starter\\\n- earned: weeks >= 1".to_owned(),
        "olga@data-101: !mentor add @mia".to_owned(),
    ];
    for learner in ["ana", "ben", "chen"] {
        lines.push(format!("{learner}@lobby: !join data-101"));
    }
    for week in 1..=3 {
        lines.push("/advance 2h".to_owned());
        for learner in ["ana", "ben", "chen"] {
            lines.push(format!("{learner}@data-101: !submit https://example.org/{learner}/{week}"));
        }
        lines.push("olga@data-101: !status".to_owned());
        lines.push("/advance 3d".to_owned());
        lines.push("ana@dm: !reviews".to_owned());
        lines.push("/advance 4d".to_owned());
    }
    lines.push("/advance 7d".to_owned());
    lines
}

#[test]
fn a_console_killed_at_random_points_recovers_on_its_file_without_doubling_anything() {
    let seed = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64;
    let mut rng = seed | 1;
    let mut random = move |n: u64| {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng % n
    };
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("course.db");
    let db = db.to_str().unwrap().to_owned();
    let script = crash_script();
    let mut now: chrono::DateTime<chrono::Utc> = "2026-10-19T08:00:00Z".parse().unwrap();
    // The setup (course, syllabus, joins) runs whole; after that, kills at random points.
    let setup = script.iter().position(|l| l.starts_with('/')).unwrap();
    let mut next = 0;
    let mut output = String::new();
    let mut kills = 0;
    while next < script.len() {
        let last_run = kills == 8;
        let first_run = next == 0;
        let mut child = bin()
            .args(["console", "--admin", "olga", "--now", &now.to_rfc3339(), "--db", &db])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        // Up (migrated, caught up with what was due) when it answers `/now`.
        writeln!(stdin, "/now").unwrap();
        let mut ready = String::new();
        while !ready.starts_with("now: ") {
            ready.clear();
            assert!(stdout.read_line(&mut ready).unwrap() > 0, "seed {seed}: the console did not start");
            if !ready.starts_with("now: ") {
                output.push_str(&ready);
            }
        }
        let burst = match (first_run, last_run) {
            (true, _) => setup,
            (_, true) => script.len() - next,
            _ => 1 + random(5) as usize,
        };
        for line in script.iter().skip(next).take(burst) {
            writeln!(stdin, "{line}").unwrap();
            if let Some(amount) = line.strip_prefix("/advance ") {
                let (n, unit) = amount.split_at(amount.len() - 1);
                let n: i64 = n.parse().unwrap();
                now += match unit {
                    "d" => chrono::Duration::days(n),
                    _ => chrono::Duration::hours(n),
                };
            }
        }
        next += burst;
        if last_run || first_run {
            drop(stdin);
        } else {
            // Somewhere in the middle of handling what was just sent: SIGKILL.
            std::thread::sleep(Duration::from_millis(random(60)));
            child.kill().unwrap();
            kills += 1;
        }
        let mut rest = String::new();
        let _ = std::io::Read::read_to_string(&mut stdout, &mut rest);
        child.wait().unwrap();
        output.push_str(&rest);
    }

    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let store = facilitator_storage::Store::open(&format!("sqlite://{db}")).await.unwrap();
        let state = store.load_state().await.unwrap();
        let course = state.courses.values().next().expect("the course was created");
        // Every acknowledged submission is stored.
        for line in output.lines().filter(|l| l.contains("submission is in")) {
            let learner = line.split("Thanks, @").nth(1).unwrap().split('!').next().unwrap();
            let week: u32 = line.split("Your week ").nth(1).unwrap().split(' ').next().unwrap().parse().unwrap();
            let person = state.persons.values().find(|p| p.name == learner).unwrap().id;
            assert!(course.submissions.contains_key(&(week, person)), "seed {seed}: {line} was not stored");
        }
        // Every prompt was decided once and delivered: one effect each, all done.
        let rows: Vec<(String, String, i64)> =
            sqlx::query_as("SELECT key, payload, state FROM outbox").fetch_all(store.pool()).await.unwrap();
        for week in 1..=3 {
            let marker = format!("Week {week} of 3");
            let prompts: Vec<_> =
                rows.iter().filter(|(_, p, _)| p.contains("\"Post\"") && p.contains(&marker)).collect();
            assert_eq!(prompts.len(), 1, "seed {seed}: week {week} prompt effects: {prompts:?}");
            assert_eq!(prompts[0].2, 1, "seed {seed}: week {week} was delivered");
            // The in-memory platform dies with the process: what it showed is at most once.
            assert!(output.matches(&format!("**{marker}")).count() <= 1, "seed {seed}: week {week} shown twice");
        }
        assert!(course.opened.len() == 3, "seed {seed}: {:?}", course.opened.keys());
        // Badge announcements: one effect per award.
        let awards = course.awards.len();
        let announced = rows.iter().filter(|(_, p, _)| p.contains("\"Post\"") && p.contains("badge")).count();
        assert_eq!(announced, awards, "seed {seed}: one announcement per award");
        // No command answered twice: one reply effect per handled command.
        let mut replies: std::collections::BTreeMap<String, usize> = std::collections::BTreeMap::new();
        for (key, payload, _) in &rows {
            if payload.contains("\"Reply\"") {
                *replies.entry(key.rsplit_once('#').map_or(key.clone(), |(k, _)| k.to_owned())).or_default() += 1;
            }
        }
        assert!(replies.values().all(|n| *n == 1), "seed {seed}: {replies:?}");
        store.close().await;
    });
}

#[test]
fn a_second_process_on_one_database_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("f.db");
    let db = db.to_str().unwrap();
    let mut holder = bin().args(["console", "--db", db]).stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
    let mut stdin = holder.stdin.take().unwrap();
    let mut stdout = BufReader::new(holder.stdout.take().unwrap());
    // Wait until the first console is up: it answers /now.
    writeln!(stdin, "/now").unwrap();
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    assert!(line.starts_with("now: "), "{line}");
    let out = bin().args(["console", "--db", db]).stdin(Stdio::null()).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("another facilitator process is using"));
    drop(stdin);
    assert!(holder.wait().unwrap().success());
}

#[test]
fn syllabus_check_reports_the_line_of_the_first_problem() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.md");
    std::fs::write(&good, "# T\n## Week 1: a\nx\n### Review\n- q?\n").unwrap();
    let out = bin().args(["syllabus", "check"]).arg(&good).output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("week 1: a (0 links, 1 review questions)"));
    let bad = dir.path().join("bad.md");
    std::fs::write(&bad, "# T\n## Week 1: a\nx\n## Week 3: c\ny\n").unwrap();
    let out = bin().args(["syllabus", "check"]).arg(&bad).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("bad.md:4: weeks must be numbered in order"));
}

#[test]
fn syllabus_load_from_the_command_line_goes_through_the_same_rules() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("f.db");
    let db = db.to_str().unwrap();
    let mut setup = bin();
    setup.args(["console", "--admin", "olga", "--now", "2026-10-19T08:00:00Z", "--db", db]);
    let (code, _, _) = run_with_input(setup, "olga@lobby: !course new data-101 \"Intro\" weeks=4\n");
    assert_eq!(code, 0);
    let syllabus = dir.path().join("s.md");
    std::fs::write(&syllabus, "# Intro\n## Week 1: a\nx\n## Week 2: b\ny\n").unwrap();
    let out = bin()
        .args(["syllabus", "load", "data-101"])
        .arg(&syllabus)
        .env("FACILITATOR_DATABASE_URL", format!("sqlite://{db}"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout} {}", String::from_utf8_lossy(&out.stderr));
    assert!(
        stdout.contains("Loaded the syllabus: **Intro**, 2 weeks. The course now has 2 weeks (it had 4)."),
        "{stdout}"
    );
    let out = bin()
        .args(["syllabus", "load", "nope"])
        .arg(&syllabus)
        .env("FACILITATOR_DATABASE_URL", format!("sqlite://{db}"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("there is no course 'nope'"));
}

/// `facilitator run` on the local adapter with a fresh SQLite file, `extra` appended to its
/// config; stdin and stdout piped.
pub(crate) fn spawn_run(dir: &std::path::Path, extra: &str) -> std::process::Child {
    let config = dir.join("facilitator.toml");
    std::fs::write(
        &config,
        format!("[bot]\nadmins = [\"olga\"]\ndatabase_url = \"sqlite://{}/bot.db\"\n\n[limits]\ncommands_burst = 100000\ncommands_per_minute = 100000\n\n[local]\n{extra}", dir.display()),
    )
    .unwrap();
    bin()
        .args(["run", "--config"])
        .arg(&config)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// Reads lines until one contains `marker` (or 20 s pass); returns what was read.
pub(crate) fn read_until(stdout: &mut impl BufRead, marker: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut seen = String::new();
    while !seen.contains(marker) && Instant::now() < deadline {
        let mut line = String::new();
        if stdout.read_line(&mut line).unwrap() == 0 {
            break;
        }
        seen.push_str(&line);
    }
    seen
}

#[test]
fn run_serves_the_local_adapter_and_stops_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = spawn_run(dir.path(), "");
    let mut stdin = child.stdin.take().unwrap();
    writeln!(stdin, "olga@lobby: !course new data-101 \"Intro\"").unwrap();
    writeln!(stdin, "ana@lobby: !join data-101").unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let seen = read_until(&mut stdout, "Welcome to **Intro**");
    assert!(seen.contains("[lobby] Created **Intro**"), "{seen}");
    assert!(seen.contains("Welcome to **Intro**"), "{seen}");
    Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    let started = Instant::now();
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    assert!(started.elapsed() < Duration::from_secs(15));
}

fn http_get(port: u16, path: &str) -> (u16, String) {
    use std::io::Read;
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(stream, "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = response.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default();
    (status, body)
}

#[test]
fn run_serves_health_and_metrics_for_operators() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut child = spawn_run(dir.path(), &format!("\n[ops]\nlisten = \"127.0.0.1:{port}\"\n"));
    let mut stdin = child.stdin.take().unwrap();
    writeln!(stdin, "ana@lobby: !course new art-1 \"Not mine to make\"").unwrap();
    writeln!(stdin, "olga@lobby: !course new data-101 \"Intro\"").unwrap();
    writeln!(stdin, "ana@lobby: !join data-101").unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let seen = read_until(&mut stdout, "Welcome to **Intro**");
    assert!(seen.contains("Welcome to **Intro**"), "{seen}");

    let (status, body) = http_get(port, "/healthz");
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("database: ok") && body.contains("memory: ok"), "{body}");
    let (status, metrics) = http_get(port, "/metrics");
    assert_eq!(status, 200);
    for sample in [
        "facilitator_commands_total{command=\"course new\",outcome=\"ok\"} 1",
        "facilitator_commands_total{command=\"course new\",outcome=\"refused\"} 1",
        "facilitator_commands_total{command=\"join\",outcome=\"ok\"} 1",
        "# TYPE facilitator_effects_sent_total counter",
        "facilitator_outbox_effects{state=\"failed\"} 0",
        // Alone on its database, the bot never reloads (its own new room is already known).
        "facilitator_state_reloads_total 0",
    ] {
        assert!(metrics.contains(sample), "{sample} missing from:\n{metrics}");
    }
    let sent: u64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("facilitator_effects_sent_total "))
        .and_then(|v| v.parse().ok())
        .unwrap();
    assert!(sent >= 3, "{metrics}");
    assert_eq!(http_get(port, "/nope").0, 404);

    Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(child.wait().unwrap().success());
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err(), "the endpoints stop with the bot");
}

#[test]
fn run_without_an_adapter_says_what_to_configure() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("facilitator.toml");
    std::fs::write(&config, format!("[bot]\ndatabase_url = \"sqlite://{}/bot.db\"\n\n[limits]\ncommands_burst = 100000\ncommands_per_minute = 100000\n", dir.path().display())).unwrap();
    let out = bin().args(["run", "--config"]).arg(&config).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no chat adapter is enabled"));
}

#[test]
fn badges_export_writes_open_badges_files() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("f.db");
    let db = db.to_str().unwrap();
    let mut setup = bin();
    setup.args(["console", "--admin", "olga", "--now", "2026-10-19T08:00:00Z", "--db", db]);
    let script = "olga@lobby: !course new data-101 \"Intro\" weeks=1\n\
olga@data-101: !syllabus load\\\n# Intro\\\n## Week 1: One\\\nDo it.\\\n## Badges\\\n### Star\\\n- earned: by organizer\n\
ana@lobby: !join data-101\n\
olga@data-101: !badge award @ana star Shines.\n";
    let (code, stdout, _) = run_with_input(setup, script);
    assert_eq!(code, 0);
    assert!(stdout.contains("awarded @ana the **Star** badge"), "{stdout}");
    let out_dir = dir.path().join("ob");
    let out = bin()
        .args(["badges", "export", "data-101", "--out"])
        .arg(&out_dir)
        .env("FACILITATOR_DATABASE_URL", format!("sqlite://{db}"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("wrote 1 badge classes and 1 assertions"));
    assert!(out_dir.join("issuer.json").exists());
    assert!(out_dir.join("badges/data-101-star.json").exists());
}
