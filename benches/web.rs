//! Web face benchmark: hosted assertions, badge pages, course pages and the catalogue served
//! from a state of 1,000 courses (six-week syllabi) and 100,000 awards, over real HTTP on
//! loopback (the client runs on the same 2 cores), and the cost of publishing snapshots of that
//! state.
//!
//! Run: `cargo bench --bench web` (options: `-- --seconds N --connections N`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use facilitator::config::IssuerConfig;
use facilitator::snapshot::Snapshot;
use facilitator::web::{Web, router, serve};
use facilitator_bot::schedule::{Offset, PromptSchedule};
use facilitator_bot::state::{CourseSettings, Role};
use facilitator_bot::syllabus::Syllabus;
use facilitator_bot::{Account, AssertionId, Change, CourseId, PersonId, Slug, State, Zone};

const COURSES: i64 = 1_000;
const AWARDS_PER_COURSE: i64 = 100;
const PERSONS: i64 = 10_000;

fn state() -> State {
    let mut state = State::default();
    let at: DateTime<Utc> = "2026-10-19T08:00:00Z".parse().unwrap();
    for p in 1..=PERSONS {
        state.apply(&Change::PersonRegistered {
            person: PersonId(p),
            account: Account { platform: "memory".into(), handle: format!("u{p}") },
            name: format!("Learner {p}"),
        });
    }
    let mut source = String::from("# Intro\nLearn to find, **clean** and share data, one week at a time.\n");
    for w in 1..=6 {
        source.push_str(&format!(
            "## Week {w}: Part {w}\nRead the notes and post what you made, with a sentence on each step.\n- [Notes {w}](https://example.org/notes/{w})\n- [Dataset {w}](https://example.org/data/{w}.csv)\n### Review\n- Is it clear?\n- What would you add?\n"
        ));
    }
    source.push_str("## Badges\n### Data Star\nCleans data well.\n- earned: by organizer\n");
    let syllabus = Syllabus::parse(&source).unwrap();
    for c in 1..=COURSES {
        let course = CourseId(c);
        state.apply(&Change::CourseCreated {
            course,
            slug: Slug::parse(&format!("c{c:04}")).unwrap(),
            settings: CourseSettings {
                title: format!("Course {c}"),
                school: None,
                cycle: None,
                start: at.date_naive(),
                weeks: 6,
                zone: Zone::parse("Europe/Berlin").unwrap(),
                prompt: PromptSchedule::weekly_default(),
                deadline: Offset::days(5),
                reviews: 2,
                review_window: Offset::days(2),
                lease: Offset::days(2),
                anonymous: false,
                threads: false,
                public: true,
            },
            created_by: PersonId(1),
            at,
            seed: c as u64 * 7919,
        });
        state.apply(&Change::SyllabusLoaded { course, syllabus: Box::new(syllabus.clone()), by: PersonId(1), at });
        for a in 0..AWARDS_PER_COURSE {
            let person = PersonId(1 + (c * AWARDS_PER_COURSE + a) % PERSONS);
            state.apply(&Change::MemberSet { course, person, role: Role::Learner, at });
            state.apply(&Change::BadgeAwarded {
                course,
                badge: Slug::parse("data-star").unwrap(),
                person,
                reason: "Shines.".into(),
                by: Some(PersonId(1)),
                at: at + chrono::Duration::seconds(a),
            });
        }
    }
    state
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted.get(((sorted.len() as f64 * p) as usize).min(sorted.len().saturating_sub(1))).copied().unwrap_or_default()
}

/// `connections` clients asking for `targets` (round robin) for `seconds`.
async fn load(
    port: u16,
    targets: Arc<Vec<String>>,
    accept: &'static str,
    connections: usize,
    seconds: u64,
) -> (usize, Vec<Duration>) {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let mut tasks = Vec::new();
    for c in 0..connections {
        let targets = Arc::clone(&targets);
        tasks.push(tokio::spawn(async move {
            let client = reqwest::Client::builder().pool_max_idle_per_host(1).build().unwrap();
            let mut latencies = Vec::new();
            let mut i = c * 7919;
            while Instant::now() < deadline {
                let url = format!("http://127.0.0.1:{port}{}", targets[i % targets.len()]);
                i += 1;
                let start = Instant::now();
                let response = client.get(&url).header("Accept", accept).send().await.unwrap();
                assert_eq!(response.status(), 200, "{url}");
                let _ = response.bytes().await.unwrap();
                latencies.push(start.elapsed());
            }
            latencies
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    all.sort();
    (all.len(), all)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |name: &str, default: u64| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .and_then(|n| n.parse().ok())
            .unwrap_or(default)
    };
    let seconds = arg("--seconds", 5);
    let connections = arg("--connections", 16) as usize;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    runtime.block_on(async move {
        let built = Instant::now();
        let state = state();
        let awards: usize = state.courses.values().map(|c| c.awards.len()).sum();
        println!(
            "Facilitator web benchmark: {} courses, {awards} awards, {} persons; built in {:.2} s; {connections} keep-alive connections on loopback, {seconds} s each",
            state.courses.len(),
            state.persons.len(),
            built.elapsed().as_secs_f64()
        );

        // Publishing: what the engine pays per snapshot of this state.
        let rounds = 200;
        let start = Instant::now();
        let mut keep = Vec::with_capacity(rounds);
        for _ in 0..rounds {
            keep.push(Arc::new(Snapshot { state: state.clone(), generation: 1 }));
        }
        let per = start.elapsed() / rounds as u32;
        drop(keep);
        println!("{:<40} {:>8.3} ms per snapshot (at most one per 200 ms under load)", "publishing a snapshot", per.as_secs_f64() * 1e3);
        // Copy-on-write: the first change to a course a snapshot holds copies that course.
        let mut live = state.clone();
        let _held = Arc::new(Snapshot { state: live.clone(), generation: 1 });
        let start = Instant::now();
        for c in 1..=100 {
            let _ = live.course_mut(&CourseId(c));
        }
        println!("{:<40} {:>8.3} ms per course of {AWARDS_PER_COURSE} learners", "first change after a snapshot", start.elapsed().as_secs_f64() * 1e3 / 100.0);

        let ids: Vec<AssertionId> = state.assertions.keys().copied().collect();
        let (_tx, rx) = tokio::sync::watch::channel(Arc::new(Snapshot { state, generation: 1 }));
        let web = Web::new(rx, "https://learn.example.org".into(), IssuerConfig::default(), Default::default());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (_stop_tx, stop) = tokio::sync::watch::channel(false);
        tokio::spawn(serve(listener, router(web), stop));

        let step = (ids.len() / 10_000).max(1);
        let assertions: Arc<Vec<String>> = Arc::new(ids.iter().step_by(step).map(|id| format!("/assertions/{id}")).collect());
        let classes: Arc<Vec<String>> = Arc::new((1..=COURSES).map(|c| format!("/badges/c{c:04}/data-star")).collect());
        let courses: Arc<Vec<String>> = Arc::new((1..=COURSES).map(|c| format!("/courses/c{c:04}")).collect());
        let catalogue: Arc<Vec<String>> = Arc::new(vec!["/".to_owned()]);
        for (label, targets, accept) in [
            ("assertion, JSON-LD", Arc::clone(&assertions), "application/ld+json"),
            ("assertion, HTML page", Arc::clone(&assertions), "text/html"),
            ("badge class, HTML page", Arc::clone(&classes), "text/html"),
            ("course page, HTML", Arc::clone(&courses), "text/html"),
            ("catalogue of 1,000 courses, HTML", Arc::clone(&catalogue), "text/html"),
        ] {
            let started = Instant::now();
            let (n, latencies) = load(port, targets, accept, connections, seconds).await;
            let rate = n as f64 / started.elapsed().as_secs_f64();
            println!(
                "{label:<40} {rate:>8.0} pages/s   p50 {:>6.2} ms   p99 {:>6.2} ms",
                percentile(&latencies, 0.5).as_secs_f64() * 1e3,
                percentile(&latencies, 0.99).as_secs_f64() * 1e3
            );
        }
        println!("target: 2,000 assertions/s on 2 cores (course pages: no target set; measured beside it)");
    });
}
