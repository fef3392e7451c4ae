//! Reviewer pairing: who reviews whose work in a week.
//!
//! The rules, most important first:
//! 1. every submission gets `k` peer reviews (fewer only when fewer than `k + 1` people
//!    submitted; the shortfall is reported so mentors fill it);
//! 2. nobody reviews their own work, and nobody reviews the same work twice;
//! 3. every reviewer reviews the same number of submissions, give or take one;
//! 4. pairs of people who met in earlier weeks (either way round) are avoided;
//! 5. reciprocal pairs (A reviews B and B reviews A) are avoided.
//!
//! The allocation starts from a circulant: submitters in a seeded random order, each reviewing
//! the next `k` (exactly `k` reviews each way, no self-review, and no reciprocal pair once there
//! are `2k + 1` submitters). Repeats and reciprocals are then removed by swapping the authors of
//! two assignments, which keeps every count. For cohorts of up to [`EXACT_LIMIT`] an exhaustive
//! search finds the allocation with the fewest repeats, then the fewest reciprocals.
//!
//! Guarantees (checked by property tests): rules 1-3 always; no repeat at all when the cohort has
//! more than `2m + 4k + 2` submitters, where `m` is the most people any one submitter has met (a
//! repeat edge always has a swap partner then, and every repair is tried exhaustively before
//! giving up); no reciprocal pair when there are at least `2k + 1` submitters; the optimum for
//! small cohorts.

#[allow(clippy::disallowed_types, reason = "membership only, never iterated, with a fixed hasher")]
use std::collections::HashSet;
use std::hash::{BuildHasherDefault, Hasher};

use crate::ids::{PersonId, SubmissionId};
use crate::rng::Rng;

/// Cohorts up to this size are solved exactly.
pub const EXACT_LIMIT: usize = 6;

/// Who has met whom in earlier weeks (as reviewer and author, either way round).
///
/// Only ever asked "did these two meet?", so a hash set is used (its iteration order is never
/// observed): a week of 100,000 submissions asks a million times.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[allow(clippy::disallowed_types, reason = "membership only, never iterated, with a fixed hasher")]
pub struct History {
    pairs: HashSet<(i64, i64), BuildHasherDefault<PairHasher>>,
}

/// A fast hasher for pairs of ids (FxHash's multiply-rotate); the ids are not chosen by an
/// adversary who could flood one bucket, they are the bot's own sequence numbers.
#[derive(Default, Clone, Copy, Debug)]
pub struct PairHasher(u64);

impl Hasher for PairHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.write_u64(u64::from(*b));
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
    fn write_i64(&mut self, n: i64) {
        self.write_u64(n as u64);
    }
}

impl History {
    /// From (reviewer, author) pairs of earlier weeks.
    pub fn new(pairs: impl IntoIterator<Item = (PersonId, PersonId)>) -> History {
        History { pairs: pairs.into_iter().map(|(a, b)| (a.0.min(b.0), a.0.max(b.0))).collect() }
    }

    /// Whether `a` and `b` met.
    pub fn met(&self, a: PersonId, b: PersonId) -> bool {
        self.pairs.contains(&(a.0.min(b.0), a.0.max(b.0)))
    }

    /// Number of distinct pairs.
    pub fn len(&self) -> usize {
        self.pairs.len()
    }

    /// Whether empty.
    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }
}

/// What to pair.
#[derive(Clone, Copy, Debug)]
pub struct Request<'a> {
    /// The week's submissions and their authors (one submission per author).
    pub submissions: &'a [(SubmissionId, PersonId)],
    /// Reviews each submission should get.
    pub k: usize,
    /// The seed (stored with the course, so a pairing can be reproduced).
    pub seed: u64,
    /// Earlier weeks.
    pub history: &'a History,
}

/// An allocation.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Allocation {
    /// (submission, reviewer) for peer reviews.
    pub assignments: Vec<(SubmissionId, PersonId)>,
    /// Submissions that could not get `k` peer reviews, and how many they lack.
    pub shortfall: Vec<(SubmissionId, usize)>,
}

/// Quality figures of an allocation.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Quality {
    pub submissions: usize,
    /// Peer reviews assigned.
    pub reviews: usize,
    /// Submissions with `k` peer reviews (or all they can have).
    pub covered: usize,
    /// Fewest reviews any submitter does.
    pub min_load: usize,
    /// Most reviews any submitter does.
    pub max_load: usize,
    /// Assignments between people who met before.
    pub repeats: usize,
    /// Unordered pairs who review each other.
    pub reciprocals: usize,
    /// Self-reviews (always 0 for [`allocate`]).
    pub self_reviews: usize,
    /// Same reviewer on the same submission twice (always 0 for [`allocate`]).
    pub duplicates: usize,
}

/// The working form: reviewer index -> author indices.
struct Graph<'a> {
    authors: Vec<PersonId>,
    out: Vec<Vec<u32>>,
    history: &'a History,
}

impl Graph<'_> {
    fn has(&self, x: usize, y: u32) -> bool {
        self.out[x].contains(&y)
    }

    fn met(&self, x: usize, y: usize) -> bool {
        self.history.met(self.authors[x], self.authors[y])
    }

    fn reciprocal(&self, x: usize, y: usize) -> bool {
        self.has(x, y as u32) && self.has(y, x as u32)
    }

    /// Repeats and reciprocals an edge takes part in.
    fn edge_cost(&self, r: usize, a: usize) -> u64 {
        u64::from(self.met(r, a)) * REPEAT + u64::from(self.has(a, r as u32))
    }

    /// Tries to exchange the authors of edges (r, slot s) and (r2, slot s2); keeps it only if
    /// it lowers the cost.
    fn try_swap(&mut self, r: usize, s: usize, r2: usize, s2: usize) -> bool {
        let (a, a2) = (self.out[r][s] as usize, self.out[r2][s2] as usize);
        if r == r2 || a == a2 || a2 == r || a == r2 || self.has(r, a2 as u32) || self.has(r2, a as u32) {
            return false;
        }
        let pairs = [(r, a), (r2, a2), (r, a2), (r2, a)];
        let local = |g: &Graph<'_>| -> u64 {
            let mut seen: Vec<(usize, usize)> = Vec::with_capacity(4);
            let mut cost = 0;
            for (x, y) in pairs {
                if g.has(x, y as u32) && g.met(x, y) {
                    cost += REPEAT;
                }
                let key = (x.min(y), x.max(y));
                if !seen.contains(&key) {
                    seen.push(key);
                    cost += u64::from(g.reciprocal(x, y));
                }
            }
            cost
        };
        let before = local(self);
        self.out[r][s] = a2 as u32;
        self.out[r2][s2] = a as u32;
        if local(self) < before {
            return true;
        }
        self.out[r][s] = a as u32;
        self.out[r2][s2] = a2 as u32;
        false
    }

    fn total_cost(&self) -> u64 {
        let mut cost = 0;
        for (r, outs) in self.out.iter().enumerate() {
            for &a in outs {
                let a = a as usize;
                cost += u64::from(self.met(r, a)) * REPEAT;
                if r < a && self.has(a, r as u32) {
                    cost += 1;
                }
            }
        }
        cost
    }
}

/// A repeat outweighs any number of reciprocals.
const REPEAT: u64 = 1 << 32;
/// Random partners tried for a bad edge before a full scan.
const RANDOM_TRIES: usize = 256;
/// Edges scanned in full scans, in all (bounds the worst case on huge, dense cohorts).
const SCAN_BUDGET: usize = 50_000_000;

/// Allocates reviewers.
pub fn allocate(request: &Request<'_>) -> Allocation {
    let subs = request.submissions;
    let n = subs.len();
    if n == 0 || request.k == 0 {
        return Allocation::default();
    }
    let p = request.k.min(n - 1);
    let shortfall = if p < request.k { subs.iter().map(|(s, _)| (*s, request.k - p)).collect() } else { Vec::new() };
    if p == 0 {
        return Allocation { assignments: Vec::new(), shortfall };
    }
    let mut rng = Rng::new(request.seed);
    let mut order: Vec<usize> = (0..n).collect();
    rng.shuffle(&mut order);
    let mut graph = Graph {
        authors: subs.iter().map(|(_, a)| *a).collect(),
        out: vec![Vec::with_capacity(p); n],
        history: request.history,
    };
    for i in 0..n {
        for d in 1..=p {
            graph.out[order[i]].push(order[(i + d) % n] as u32);
        }
    }
    improve(&mut graph, p, &mut rng);
    if n <= EXACT_LIMIT {
        exact(&mut graph, p);
    }
    let mut assignments = Vec::with_capacity(n * p);
    for (r, outs) in graph.out.iter().enumerate() {
        for &a in outs {
            assignments.push((subs[a as usize].0, graph.authors[r]));
        }
    }
    assignments.sort_unstable();
    Allocation { assignments, shortfall }
}

fn improve(graph: &mut Graph<'_>, p: usize, rng: &mut Rng) {
    let n = graph.out.len();
    let edges = n * p;
    let mut scanned = 0usize;
    for _pass in 0..8 {
        // A kept swap lowers the cost of the edges it touches, but may trade a repeat for a
        // reciprocal with an edge elsewhere: look at every edge again each pass.
        let bad: Vec<(usize, usize)> = (0..n)
            .flat_map(|r| (0..p).map(move |s| (r, s)))
            .filter(|&(r, s)| graph.edge_cost(r, graph.out[r][s] as usize) > 0)
            .collect();
        if bad.is_empty() {
            return;
        }
        let mut improved = false;
        for &(r, s) in &bad {
            if graph.edge_cost(r, graph.out[r][s] as usize) == 0 {
                continue;
            }
            let mut fixed = false;
            for _ in 0..RANDOM_TRIES.min(edges) {
                let e = rng.below(edges);
                if graph.try_swap(r, s, e / p, e % p) {
                    fixed = true;
                    break;
                }
            }
            if !fixed && scanned < SCAN_BUDGET {
                let start = rng.below(edges);
                for i in 0..edges {
                    let e = (start + i) % edges;
                    scanned += 1;
                    if graph.try_swap(r, s, e / p, e % p) {
                        fixed = true;
                        break;
                    }
                }
            }
            improved |= fixed;
        }
        if !improved {
            return;
        }
    }
}

/// Exhaustive search for small cohorts: every reviewer takes `p` authors, every author gets
/// `p` reviewers; keeps the cheapest, starting from the local-search result as the bound.
fn exact(graph: &mut Graph<'_>, p: usize) {
    let n = graph.out.len();
    let mut best_cost = graph.total_cost();
    if best_cost == 0 {
        return;
    }
    let mut best = graph.out.clone();
    let mut current: Vec<Vec<u32>> = vec![Vec::new(); n];
    let mut indegree = vec![0usize; n];
    let combos: Vec<Vec<Vec<u32>>> =
        (0..n).map(|r| combinations(&(0..n as u32).filter(|a| *a as usize != r).collect::<Vec<_>>(), p)).collect();
    search(graph, &combos, 0, p, &mut current, &mut indegree, &mut best, &mut best_cost);
    graph.out = best;
}

#[allow(clippy::too_many_arguments)]
fn search(
    graph: &Graph<'_>,
    combos: &[Vec<Vec<u32>>],
    r: usize,
    p: usize,
    current: &mut Vec<Vec<u32>>,
    indegree: &mut Vec<usize>,
    best: &mut Vec<Vec<u32>>,
    best_cost: &mut u64,
) {
    let n = current.len();
    if r == n {
        let candidate = Graph { authors: graph.authors.clone(), out: current.clone(), history: graph.history };
        let cost = candidate.total_cost();
        if cost < *best_cost {
            *best_cost = cost;
            *best = current.clone();
        }
        return;
    }
    // Repeats so far are a lower bound on the final cost.
    let repeats: u64 =
        (0..r).flat_map(|x| current[x].iter().map(move |a| (x, *a as usize))).filter(|&(x, a)| graph.met(x, a)).count()
            as u64;
    if repeats * REPEAT >= *best_cost {
        return;
    }
    for combo in &combos[r] {
        if combo.iter().any(|a| indegree[*a as usize] >= p) {
            continue;
        }
        for a in combo {
            indegree[*a as usize] += 1;
        }
        current[r] = combo.clone();
        search(graph, combos, r + 1, p, current, indegree, best, best_cost);
        for a in combo {
            indegree[*a as usize] -= 1;
        }
    }
    current[r].clear();
}

fn combinations(items: &[u32], k: usize) -> Vec<Vec<u32>> {
    if k == 0 {
        return vec![Vec::new()];
    }
    if items.len() < k {
        return Vec::new();
    }
    let mut out = Vec::new();
    for (i, first) in items.iter().enumerate() {
        for mut rest in combinations(&items[i + 1..], k - 1) {
            rest.insert(0, *first);
            out.push(rest);
        }
    }
    out
}

/// The plain random allocation of LMS workshop modules ("shuffle and deal"): `k` rounds, each
/// taking the authors in a fresh random order and giving each the least-loaded reviewer at
/// random among those who are not the author and do not review it yet. History and reciprocity
/// are not looked at. Used as the benchmark's baseline.
pub fn shuffle_and_deal(request: &Request<'_>) -> Allocation {
    let subs = request.submissions;
    let n = subs.len();
    let mut rng = Rng::new(request.seed);
    // Reviewers grouped by load, so "the least loaded" is found without scanning everyone.
    let mut buckets: Vec<Vec<usize>> = vec![(0..n).collect()];
    let mut position: Vec<usize> = (0..n).collect();
    let mut load = vec![0usize; n];
    let mut out: Vec<Vec<usize>> = vec![Vec::new(); n];
    let mut assignments = Vec::new();
    let mut short = vec![0usize; n];
    for _round in 0..request.k {
        let mut authors: Vec<usize> = (0..n).collect();
        rng.shuffle(&mut authors);
        for a in authors {
            let eligible = |r: usize, out: &Vec<Vec<usize>>| r != a && !out[r].contains(&a);
            let mut chosen = None;
            'levels: for bucket in &buckets {
                if bucket.is_empty() {
                    continue;
                }
                for _ in 0..32 {
                    let r = bucket[rng.below(bucket.len())];
                    if eligible(r, &out) {
                        chosen = Some(r);
                        break 'levels;
                    }
                }
                if let Some(r) = bucket.iter().copied().find(|r| eligible(*r, &out)) {
                    chosen = Some(r);
                    break;
                }
            }
            let Some(r) = chosen else {
                short[a] += 1;
                continue;
            };
            let level = load[r];
            let i = position[r];
            buckets[level].swap_remove(i);
            if let Some(&moved) = buckets[level].get(i) {
                position[moved] = i;
            }
            load[r] += 1;
            if buckets.len() <= load[r] {
                buckets.push(Vec::new());
            }
            position[r] = buckets[load[r]].len();
            buckets[load[r]].push(r);
            out[r].push(a);
            assignments.push((subs[a].0, subs[r].1));
        }
    }
    let shortfall = short.iter().enumerate().filter(|(_, s)| **s > 0).map(|(a, s)| (subs[a].0, *s)).collect();
    Allocation { assignments, shortfall }
}

/// Measures an allocation against the rules.
pub fn quality(request: &Request<'_>, allocation: &Allocation) -> Quality {
    use std::collections::{BTreeMap, BTreeSet};
    let author: BTreeMap<SubmissionId, PersonId> = request.submissions.iter().copied().collect();
    let mut q =
        Quality { submissions: request.submissions.len(), reviews: allocation.assignments.len(), ..Quality::default() };
    let mut load: BTreeMap<PersonId, usize> = request.submissions.iter().map(|(_, a)| (*a, 0)).collect();
    let mut per_submission: BTreeMap<SubmissionId, usize> = BTreeMap::new();
    let mut edges: BTreeSet<(PersonId, PersonId)> = BTreeSet::new();
    let mut seen: BTreeSet<(SubmissionId, PersonId)> = BTreeSet::new();
    for &(s, r) in &allocation.assignments {
        let a = author[&s];
        if !seen.insert((s, r)) {
            q.duplicates += 1;
        }
        if a == r {
            q.self_reviews += 1;
        }
        if request.history.met(r, a) {
            q.repeats += 1;
        }
        *load.entry(r).or_default() += 1;
        *per_submission.entry(s).or_default() += 1;
        edges.insert((r, a));
    }
    q.reciprocals = edges.iter().filter(|(r, a)| r < a && edges.contains(&(*a, *r))).count();
    let possible = request.k.min(request.submissions.len().saturating_sub(1));
    q.covered =
        request.submissions.iter().filter(|(s, _)| per_submission.get(s).copied().unwrap_or(0) >= possible).count();
    q.min_load = load.values().copied().min().unwrap_or(0);
    q.max_load = load.values().copied().max().unwrap_or(0);
    q
}

/// Picks up to `count` reviewers for one piece of work from `candidates` (person, current load):
/// least-loaded first, then those who have not met the author, then those not reviewed by the
/// author, ties broken by the seed. Used for late submissions, `!reviews more`, and handing on
/// expired assignments.
pub fn pick_least_loaded(
    candidates: &[(PersonId, usize)],
    count: usize,
    author: PersonId,
    history: &History,
    reviewed_by_author: &[PersonId],
    seed: u64,
) -> Vec<PersonId> {
    let mut rng = Rng::new(seed);
    let mut ranked: Vec<(usize, bool, bool, u64, PersonId)> = candidates
        .iter()
        .filter(|(p, _)| *p != author)
        .map(|&(p, load)| (load, history.met(p, author), reviewed_by_author.contains(&p), rng.next_u64(), p))
        .collect();
    ranked.sort_unstable();
    ranked.into_iter().take(count).map(|(.., p)| p).collect()
}

#[cfg(test)]
mod tests;
