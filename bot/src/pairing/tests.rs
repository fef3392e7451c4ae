//! Property tests of the pairing rules on random cohorts and histories.

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;

use super::*;

fn cohort(n: usize) -> Vec<(SubmissionId, PersonId)> {
    (0..n).map(|i| (SubmissionId(1000 + i as i64), PersonId(i as i64 + 1))).collect()
}

/// Random earlier pairs among `n` people (and some outsiders), about `density` per person.
fn history(n: usize, density: usize, seed: u64) -> History {
    let mut rng = crate::rng::Rng::new(seed);
    let people = n + 5;
    let pairs = (0..n * density).map(|_| {
        let a = rng.below(people) as i64 + 1;
        let mut b = rng.below(people) as i64 + 1;
        if a == b {
            b = (b % people as i64) + 1;
        }
        (PersonId(a), PersonId(b))
    });
    History::new(pairs)
}

fn max_met(subs: &[(SubmissionId, PersonId)], h: &History) -> usize {
    subs.iter().map(|(_, a)| subs.iter().filter(|(_, b)| a != b && h.met(*a, *b)).count()).max().unwrap_or(0)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn every_rule_holds_on_random_cohorts(n in 0usize..500, k in 1usize..=4, density in 0usize..12, seed in any::<u64>()) {
        let subs = cohort(n);
        let h = history(n, density, seed);
        let request = Request { submissions: &subs, k, seed, history: &h };
        let alloc = allocate(&request);
        let q = quality(&request, &alloc);
        let p = k.min(n.saturating_sub(1));
        prop_assert_eq!(q.self_reviews, 0);
        prop_assert_eq!(q.duplicates, 0);
        prop_assert_eq!(q.reviews, n * p);
        prop_assert_eq!(q.covered, n);
        if n > 0 {
            prop_assert!(q.max_load - q.min_load <= 1, "load spread {}..{}", q.min_load, q.max_load);
        }
        let expected_short: usize = if n > 0 { k - p } else { 0 };
        prop_assert!(alloc.shortfall.iter().all(|(_, s)| *s == expected_short));
        prop_assert_eq!(alloc.shortfall.len(), if expected_short > 0 { n } else { 0 });
        let m = max_met(&subs, &h);
        if n > 2 * m + 4 * p + 2 {
            prop_assert_eq!(q.repeats, 0, "n={} m={} p={}", n, m, p);
            if n > 2 * p {
                prop_assert_eq!(q.reciprocals, 0);
            }
        }
        if n > 2 * p && h.is_empty() {
            prop_assert_eq!(q.reciprocals, 0);
        }
        prop_assert_eq!(allocate(&request), alloc, "the same seed gives the same allocation");
    }

    #[test]
    fn small_cohorts_get_the_best_possible_allocation(n in 2usize..=5, k in 1usize..=2, density in 0usize..4, seed in any::<u64>()) {
        let subs = cohort(n);
        let h = history(n, density, seed);
        let request = Request { submissions: &subs, k, seed, history: &h };
        let q = quality(&request, &allocate(&request));
        let (repeats, reciprocals) = brute_force_best(n, k.min(n - 1), &subs, &h);
        prop_assert_eq!((q.repeats, q.reciprocals), (repeats, reciprocals));
    }
}

/// Every allocation where each of `n` people reviews `p` others and is reviewed by `p`:
/// the fewest repeats, then the fewest reciprocals.
fn brute_force_best(n: usize, p: usize, subs: &[(SubmissionId, PersonId)], h: &History) -> (usize, usize) {
    let choices: Vec<Vec<Vec<usize>>> = (0..n)
        .map(|r| {
            let others: Vec<u32> = (0..n as u32).filter(|a| *a as usize != r).collect();
            combinations(&others, p).into_iter().map(|c| c.into_iter().map(|a| a as usize).collect()).collect()
        })
        .collect();
    let mut best = (usize::MAX, usize::MAX);
    let mut pick = vec![0usize; n];
    loop {
        let mut indegree = vec![0; n];
        let mut edges = BTreeSet::new();
        for (r, c) in pick.iter().enumerate() {
            for &a in &choices[r][*c] {
                indegree[a] += 1;
                edges.insert((r, a));
            }
        }
        if indegree.iter().all(|d| *d == p) {
            let repeats = edges.iter().filter(|(r, a)| h.met(subs[*r].1, subs[*a].1)).count();
            let reciprocals = edges.iter().filter(|(r, a)| r < a && edges.contains(&(*a, *r))).count();
            best = best.min((repeats, reciprocals));
        }
        let mut i = 0;
        loop {
            if i == n {
                return best;
            }
            pick[i] += 1;
            if pick[i] < choices[i].len() {
                break;
            }
            pick[i] = 0;
            i += 1;
        }
    }
}

#[test]
fn a_lone_submitter_gets_no_peer_and_a_full_shortfall() {
    let subs = cohort(1);
    let h = History::default();
    let alloc = allocate(&Request { submissions: &subs, k: 2, seed: 1, history: &h });
    assert!(alloc.assignments.is_empty());
    assert_eq!(alloc.shortfall, vec![(SubmissionId(1000), 2)]);
}

#[test]
fn two_submitters_review_each_other_because_nothing_else_is_possible() {
    let subs = cohort(2);
    let h = History::default();
    let request = Request { submissions: &subs, k: 2, seed: 1, history: &h };
    let alloc = allocate(&request);
    let q = quality(&request, &alloc);
    assert_eq!((q.reviews, q.reciprocals), (2, 1));
    assert_eq!(alloc.shortfall.len(), 2);
}

#[test]
fn the_baseline_deals_reviews_but_ignores_history() {
    let subs = cohort(200);
    let h = history(200, 20, 9);
    let request = Request { submissions: &subs, k: 3, seed: 5, history: &h };
    let ours = quality(&request, &allocate(&request));
    let baseline = quality(&request, &shuffle_and_deal(&request));
    assert_eq!(baseline.self_reviews, 0);
    assert!(baseline.repeats > ours.repeats, "{baseline:?} vs {ours:?}");
    assert_eq!(ours.repeats, 0);
}

#[test]
fn least_loaded_picks_prefer_balance_then_new_pairs() {
    let h = History::new([(PersonId(2), PersonId(9))]);
    let candidates = [(PersonId(1), 3), (PersonId(2), 1), (PersonId(3), 1), (PersonId(9), 0)];
    let picked = pick_least_loaded(&candidates, 2, PersonId(9), &h, &[], 4);
    assert_eq!(picked, vec![PersonId(3), PersonId(2)]);
    let map: BTreeMap<_, _> = candidates.iter().copied().collect();
    assert!(picked.iter().all(|p| map.contains_key(p)));
}
