//! Pairing benchmark: 100,000 submissions, k = 3, after 10 weeks of history, against plain
//! random allocation ("shuffle and deal", as LMS workshop modules do) on the same cohort.
//!
//! Run: `cargo bench --bench pairing` (options: `-- --submissions N --k K --weeks W`).

use std::time::Instant;

use facilitator_bot::pairing::{History, Quality, Request, allocate, quality, shuffle_and_deal};
use facilitator_bot::{PersonId, SubmissionId};

fn arg(args: &[String], name: &str, default: usize) -> usize {
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn row(label: &str, seconds: f64, q: &Quality) {
    println!(
        "{label:<22} {seconds:>8.3} s   coverage {:>6.2}%   load {}..{} (spread {})   repeat pairs {:>6}   reciprocal pairs {:>6}   self {}",
        100.0 * q.covered as f64 / q.submissions.max(1) as f64,
        q.min_load,
        q.max_load,
        q.max_load - q.min_load,
        q.repeats,
        q.reciprocals,
        q.self_reviews,
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let n = arg(&args, "--submissions", 100_000);
    let k = arg(&args, "--k", 3);
    let weeks = arg(&args, "--weeks", 10);
    let subs: Vec<(SubmissionId, PersonId)> =
        (0..n).map(|i| (SubmissionId(i as i64 + 1), PersonId(i as i64 + 1))).collect();

    // History: the pairs of `weeks` earlier weeks, each allocated the same way.
    let started = Instant::now();
    let mut pairs: Vec<(PersonId, PersonId)> = Vec::with_capacity(n * k * weeks);
    let mut history = History::default();
    for week in 0..weeks {
        let request = Request { submissions: &subs, k, seed: 1000 + week as u64, history: &history };
        let alloc = allocate(&request);
        pairs.extend(alloc.assignments.iter().map(|(s, r)| (*r, PersonId(s.0))));
        history = History::new(pairs.iter().copied());
    }
    println!(
        "Pairing benchmark: {n} submissions, k = {k}, {weeks} weeks of history ({} distinct pairs met; built in {:.1} s)",
        history.len(),
        started.elapsed().as_secs_f64()
    );
    let request = Request { submissions: &subs, k, seed: 42, history: &history };

    let started = Instant::now();
    let ours = allocate(&request);
    let ours_time = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let baseline = shuffle_and_deal(&request);
    let baseline_time = started.elapsed().as_secs_f64();

    row("facilitator", ours_time, &quality(&request, &ours));
    row("shuffle and deal", baseline_time, &quality(&request, &baseline));
    println!("target: under 1 s for the facilitator allocation (release build)");
}
