//! Per-person command budgets: one member cannot slow the bot for everyone.
//!
//! Each account has a token bucket: a short burst of commands, then one command per refill
//! interval. The first command over the budget gets one "slow down" answer; the ones after it
//! get nothing until the bucket refills, so a flood costs the bot almost nothing and the
//! chat platform's rate limit is not spent on answering it. The bucket lives in memory: after
//! a restart everyone starts with a full budget, and each instance of several on one database
//! counts the commands it decided.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::Deserialize;

/// The configured budget (`[limits]`).
#[derive(Clone, Copy, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct BudgetConfig {
    /// Commands a person may send at once.
    #[serde(default = "default_burst")]
    pub commands_burst: u32,
    /// Commands a person may send per minute once the burst is spent.
    #[serde(default = "default_per_minute")]
    pub commands_per_minute: u32,
}

fn default_burst() -> u32 {
    10
}

fn default_per_minute() -> u32 {
    20
}

impl Default for BudgetConfig {
    fn default() -> Self {
        BudgetConfig { commands_burst: default_burst(), commands_per_minute: default_per_minute() }
    }
}

/// What to do with one command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Within budget: decide it.
    Allow,
    /// The first over budget: answer once that they should slow down.
    SlowDown {
        /// Seconds until the next command is taken.
        wait_secs: u64,
    },
    /// Over budget and told already: drop it.
    Drop,
}

#[derive(Clone, Copy, Debug)]
struct Bucket {
    tokens: f64,
    at: DateTime<Utc>,
    warned: bool,
}

impl Bucket {
    /// The tokens at `now`: what was left, refilled at `rate` per second up to `capacity`.
    fn tokens_at(&self, now: DateTime<Utc>, rate: f64, capacity: f64) -> f64 {
        let elapsed = (now - self.at).num_milliseconds().max(0) as f64 / 1000.0;
        (self.tokens + elapsed * rate).min(capacity)
    }
}

/// Token buckets by account.
#[derive(Debug)]
pub struct Budgets {
    config: BudgetConfig,
    buckets: HashMap<(String, String), Bucket>,
}

/// Buckets kept before the full ones are forgotten.
const KEEP: usize = 10_000;

impl Budgets {
    /// Budgets with this configuration.
    pub fn new(config: BudgetConfig) -> Budgets {
        Budgets { config, buckets: HashMap::new() }
    }

    fn capacity(&self) -> f64 {
        f64::from(self.config.commands_burst.max(1))
    }

    fn per_second(&self) -> f64 {
        f64::from(self.config.commands_per_minute.max(1)) / 60.0
    }

    /// Takes one command from `platform`/`handle`'s budget at `now`.
    pub fn take(&mut self, platform: &str, handle: &str, now: DateTime<Utc>) -> Verdict {
        let (capacity, rate) = (self.capacity(), self.per_second());
        if self.buckets.len() >= KEEP {
            self.forget_full(now);
        }
        let bucket = self.buckets.entry((platform.to_owned(), handle.to_owned())).or_insert(Bucket {
            tokens: capacity,
            at: now,
            warned: false,
        });
        bucket.tokens = bucket.tokens_at(now, rate, capacity);
        bucket.at = now.max(bucket.at);
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            bucket.warned = false;
            return Verdict::Allow;
        }
        if bucket.warned {
            return Verdict::Drop;
        }
        bucket.warned = true;
        let wait_secs = ((1.0 - bucket.tokens) / rate).ceil() as u64;
        Verdict::SlowDown { wait_secs: wait_secs.max(1) }
    }

    /// Whether `platform`/`handle` could send a command at `now` (nothing is taken).
    pub fn has_budget(&self, platform: &str, handle: &str, now: DateTime<Utc>) -> bool {
        let (capacity, rate) = (self.capacity(), self.per_second());
        self.buckets
            .get(&(platform.to_owned(), handle.to_owned()))
            .is_none_or(|b| b.tokens_at(now, rate, capacity) >= 1.0)
    }

    fn forget_full(&mut self, now: DateTime<Utc>) {
        let (capacity, rate) = (self.capacity(), self.per_second());
        self.buckets.retain(|_, b| b.tokens_at(now, rate, capacity) < capacity);
    }
}

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use super::*;

    fn at(secs: i64) -> DateTime<Utc> {
        "2026-12-01T10:00:00Z".parse::<DateTime<Utc>>().unwrap() + Duration::seconds(secs)
    }

    #[test]
    fn a_burst_is_allowed_then_one_warning_then_silence_until_it_refills() {
        let mut b = Budgets::new(BudgetConfig { commands_burst: 3, commands_per_minute: 6 });
        let verdicts: Vec<Verdict> = (0..6).map(|_| b.take("memory", "ana", at(0))).collect();
        assert_eq!(&verdicts[..3], &[Verdict::Allow; 3]);
        assert_eq!(verdicts[3], Verdict::SlowDown { wait_secs: 10 });
        assert_eq!(&verdicts[4..], &[Verdict::Drop; 2]);
        // Another person is not affected.
        assert_eq!(b.take("memory", "ben", at(0)), Verdict::Allow);
        // One command per 10 seconds comes back, and a later flood is warned about again.
        assert_eq!(b.take("memory", "ana", at(10)), Verdict::Allow);
        assert!(matches!(b.take("memory", "ana", at(10)), Verdict::SlowDown { .. }));
        assert_eq!(b.take("memory", "ana", at(11)), Verdict::Drop);
    }

    #[test]
    fn a_long_pause_refills_only_up_to_the_burst() {
        let mut b = Budgets::new(BudgetConfig { commands_burst: 2, commands_per_minute: 60 });
        for _ in 0..2 {
            assert_eq!(b.take("memory", "ana", at(0)), Verdict::Allow);
        }
        let later: Vec<Verdict> = (0..3).map(|_| b.take("memory", "ana", at(3600))).collect();
        assert_eq!(later, vec![Verdict::Allow, Verdict::Allow, Verdict::SlowDown { wait_secs: 1 }]);
    }
}
