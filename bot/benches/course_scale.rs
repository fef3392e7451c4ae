//! Work that must not grow with the square of a course: `!reviews more` and the leases job in
//! one course week of N learners (k = 2, ten weeks of history), through the domain's `decide`
//! exactly as the engine calls it. Each is measured at N and at N/10, so the figures show the
//! growth (linear: about 10x; quadratic: about 100x).
//!
//! Run: `cargo bench -p facilitator-bot --bench course_scale` (options: `-- --learners N`).

use std::collections::BTreeMap;
use std::time::Instant;

use chrono::{DateTime, Duration, Utc};
use facilitator_bot::command;
use facilitator_bot::{
    Account, Change, CommandInput, Ctx, Decision, Input, JobKey, JobKind, PersonId, Place, ReplyTo, State, decide,
};

fn arg(args: &[String], name: &str, default: usize) -> usize {
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).and_then(|v| v.parse().ok()).unwrap_or(default)
}

struct World {
    state: State,
    now: DateTime<Utc>,
}

impl World {
    fn apply(&mut self, d: &Decision) {
        for c in &d.changes {
            self.state.apply(c);
        }
    }

    fn say(&mut self, actor: PersonId, place: Place, text: &str) -> Decision {
        let input = CommandInput {
            actor,
            place,
            reply_to: ReplyTo("r".into()),
            command: command::parse(text).expect("a command"),
            mentions: BTreeMap::new(),
            unclear: BTreeMap::new(),
            thread_week: None,
            private_reply: true,
        };
        let d = decide(&self.state, Input::Command(input), &Ctx { now: self.now, seed: 7 });
        self.apply(&d);
        d
    }

    fn run_due(&mut self) {
        while let Some((_, job)) = self.state.next_due_job(self.now) {
            let d = decide(&self.state, Input::JobDue { job }, &Ctx { now: self.now, seed: 7 });
            self.apply(&d);
        }
    }
}

/// A course of `n` learners at week 10, every week submitted by everyone and paired, nothing
/// reviewed this week.
fn course_of(n: usize) -> (World, PersonId) {
    let mut w = World { state: State::default(), now: "2026-10-19T08:00:00Z".parse().unwrap() };
    for i in 1..=(n as i64 + 1) {
        w.state.apply(&Change::PersonRegistered {
            person: PersonId(i),
            account: Account { platform: "memory".into(), handle: format!("p{i}") },
            name: format!("p{i}"),
        });
    }
    w.state.apply(&Change::AdminSet { person: PersonId(1), admin: true });
    w.say(PersonId(1), Place::Lobby, "!course new big \"Big\" weeks=12 deadline=5d review=2d lease=2d");
    let course = *w.state.courses.keys().next().unwrap();
    for i in 2..=(n as i64 + 1) {
        w.say(PersonId(i), Place::Lobby, "!join big");
    }
    for _week in 1..=10 {
        w.now += Duration::hours(2);
        w.run_due();
        for i in 2..=(n as i64 + 1) {
            w.say(PersonId(i), Place::Course(course), "!submit https://example.org/work");
        }
        // The pairing at the deadline; then on to the next prompt.
        w.now += Duration::days(5);
        w.run_due();
        w.now += Duration::days(2) - Duration::hours(2);
    }
    (w, PersonId(2))
}

fn measure(n: usize) -> (f64, f64, usize, usize) {
    let (mut w, asker) = course_of(n);
    let course = *w.state.courses.keys().next().unwrap();
    let week = *w.state.courses[&course].paired.keys().next_back().unwrap();
    // Back to the moment after week 10's pairing, inside its review window.
    w.now = w.state.courses[&course].paired[&week] + Duration::hours(1);
    let assignments = w.state.courses[&course].assignments.len();

    // `!reviews more`, several askers, the median.
    let mut times = Vec::new();
    for i in 0..9 {
        let actor = PersonId(asker.0 + i);
        let input = CommandInput {
            actor,
            place: Place::Course(course),
            reply_to: ReplyTo("r".into()),
            command: command::parse("!reviews more").unwrap(),
            mentions: BTreeMap::new(),
            unclear: BTreeMap::new(),
            thread_week: None,
            private_reply: true,
        };
        let started = Instant::now();
        let d = decide(&w.state, Input::Command(input), &Ctx { now: w.now, seed: 7 });
        times.push(started.elapsed().as_secs_f64());
        assert!(!d.refused, "{d:?}");
    }
    times.sort_by(f64::total_cmp);
    let more = times[times.len() / 2];

    // The leases job when every lease of the week runs out at once and nobody has reviewed.
    let lease_end =
        w.state.courses[&course].assignments.values().filter(|a| a.week == week).map(|a| a.due).max().unwrap();
    let job = JobKey::course(course, JobKind::Leases, week);
    let now = lease_end;
    let started = Instant::now();
    let d = decide(&w.state, Input::JobDue { job }, &Ctx { now, seed: 7 });
    let leases = started.elapsed().as_secs_f64();
    let handed = d.changes.iter().filter(|c| matches!(c, Change::AssignmentMade { .. })).count();
    (more, leases, assignments, handed)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let n = arg(&args, "--learners", 10_000);
    println!("Course scale: one course, k = 2, ten weeks of history; `!reviews more` and a leases run in week 10");
    let mut rows = Vec::new();
    for size in [n / 10, n] {
        let started = Instant::now();
        let (more, leases, assignments, handed) = measure(size);
        println!(
            "{size:>7} learners ({assignments:>7} assignments, built in {:>5.1} s): !reviews more {:>8.3} ms (target < 5 ms)   leases run {:>8.1} ms, {handed} handed on (target < 100 ms)",
            started.elapsed().as_secs_f64(),
            more * 1e3,
            leases * 1e3
        );
        rows.push((more, leases));
    }
    let growth = |a: f64, b: f64| if a > 0.0 { b / a } else { f64::NAN };
    println!(
        "growth for 10x the learners: !reviews more {:.1}x, leases run {:.1}x (linear is about 10x)",
        growth(rows[0].0, rows[1].0),
        growth(rows[0].1, rows[1].1)
    );
}
