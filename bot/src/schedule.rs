//! When weeks happen: the prompt schedule (cron in the course's zone) and deadline offsets.
//!
//! Cron is evaluated on the course's *local* wall clock, then mapped to UTC, so a prompt at
//! 09:00 stays at 09:00 local across daylight-saving changes. The `cron` crate itself skips a
//! local time that falls into a spring-forward gap (which would drop a whole week) and yields a
//! fall-back time twice (which would post twice); evaluating on a naive clock and resolving the
//! zone here moves a gap time to just after the gap and takes the first of two ambiguous times.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Duration, LocalResult, NaiveDateTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::Zone;

/// Mondays at 09:00 in the course's zone.
pub const DEFAULT_PROMPT: &str = "0 9 * * Mon";

/// A prompt schedule as organizers write it: the usual 5-field cron (`min hour dom month dow`)
/// or the 6-field form with seconds first (`sec min hour dom month dow`).
#[derive(Clone)]
pub struct PromptSchedule {
    source: String,
    cron: cron::Schedule,
}

/// Why a cron expression was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    /// Not 5 or 6 fields.
    #[error(
        "a schedule has 5 fields (minute hour day-of-month month day-of-week) or 6 with seconds first; '{0}' has {1}"
    )]
    FieldCount(String, usize),
    /// The cron parser refused it.
    #[error("'{0}' is not a valid schedule: {1}")]
    Invalid(String, String),
    /// Valid, but never fires.
    #[error("'{0}' never fires")]
    Never(String),
}

impl PromptSchedule {
    /// Parses a 5- or 6-field cron expression. Day-of-week numbers follow Unix cron
    /// (0 or 7 = Sunday, 1 = Monday); names (`Mon`, `Mon-Fri`) work too.
    ///
    /// # Errors
    /// A [`ScheduleError`] saying what is wrong.
    pub fn parse(text: &str) -> Result<PromptSchedule, ScheduleError> {
        let source = text.split_whitespace().collect::<Vec<_>>().join(" ");
        let fields: Vec<&str> = source.split(' ').filter(|f| !f.is_empty()).collect();
        let mut six: Vec<String> = match fields.len() {
            5 => std::iter::once("0").chain(fields.iter().copied()).map(str::to_owned).collect(),
            6 => fields.iter().map(|f| (*f).to_owned()).collect(),
            n => return Err(ScheduleError::FieldCount(source, n)),
        };
        six[5] = unix_days_of_week(&six[5])
            .ok_or_else(|| ScheduleError::Invalid(source.clone(), "day of week must be 0-7 or Mon..Sun".into()))?;
        let cron = cron::Schedule::from_str(&six.join(" "))
            .map_err(|e| ScheduleError::Invalid(source.clone(), e.to_string()))?;
        let schedule = PromptSchedule { source, cron };
        let probe = DateTime::<Utc>::from_timestamp(1_767_225_600, 0).expect("valid instant");
        if schedule.next_after(Zone::UTC, probe).is_none() {
            return Err(ScheduleError::Never(schedule.source));
        }
        Ok(schedule)
    }

    /// The default schedule, Mondays 09:00.
    pub fn weekly_default() -> PromptSchedule {
        PromptSchedule::parse(DEFAULT_PROMPT).expect("the default schedule is valid")
    }

    /// The expression as the organizer wrote it (whitespace normalised).
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The first firing strictly after `after`, on the wall clock of `zone`.
    pub fn next_after(&self, zone: Zone, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let tz = zone.tz();
        // Start a little early on the naive clock: around a fall-back change the local clock
        // repeats an hour, so the local reading of `after` may lie past a firing still to come.
        let local_start = after.with_timezone(&tz).naive_local() - Duration::hours(3);
        self.cron
            .after(&Utc.from_utc_datetime(&local_start))
            .take(10_000)
            .map(|naive| resolve_local(zone, naive.naive_utc()))
            .find(|at| *at > after)
    }

    /// `count` successive firings strictly after `after`.
    pub fn firings_after(&self, zone: Zone, after: DateTime<Utc>, count: usize) -> Vec<DateTime<Utc>> {
        let mut out = Vec::with_capacity(count);
        let mut cursor = after;
        while out.len() < count {
            match self.next_after(zone, cursor) {
                Some(at) => {
                    out.push(at);
                    cursor = at;
                }
                None => break,
            }
        }
        out
    }
}

/// Maps a local wall-clock time to an instant: a time in a gap moves forward by the gap, an
/// ambiguous time takes its first occurrence.
pub fn resolve_local(zone: Zone, naive: NaiveDateTime) -> DateTime<Utc> {
    let tz = zone.tz();
    match tz.from_local_datetime(&naive) {
        LocalResult::Single(t) => t.with_timezone(&Utc),
        LocalResult::Ambiguous(first, _) => first.with_timezone(&Utc),
        LocalResult::None => {
            let mut probe = naive;
            for _ in 0..(4 * 60) {
                probe += Duration::minutes(1);
                if let Some(t) = tz.from_local_datetime(&probe).earliest() {
                    return t.with_timezone(&Utc);
                }
            }
            Utc.from_utc_datetime(&naive)
        }
    }
}

/// Rewrites Unix day-of-week numbers (0-7, Sunday = 0 or 7) as names, because the `cron` crate
/// numbers days from Sunday = 1 and would silently move every schedule by a day.
fn unix_days_of_week(field: &str) -> Option<String> {
    const NAMES: [&str; 8] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
    let mut out = String::new();
    let mut number = String::new();
    let flush = |number: &mut String, out: &mut String, after_slash: bool| -> Option<()> {
        if number.is_empty() {
            return Some(());
        }
        if after_slash {
            out.push_str(number);
        } else {
            let n: usize = number.parse().ok()?;
            out.push_str(NAMES.get(n)?);
        }
        number.clear();
        Some(())
    };
    let mut after_slash = false;
    for c in field.chars() {
        if c.is_ascii_digit() {
            number.push(c);
        } else {
            flush(&mut number, &mut out, after_slash)?;
            after_slash = c == '/';
            out.push(c);
        }
    }
    flush(&mut number, &mut out, after_slash)?;
    // "Fri-Sun" from "5-7" would be a backwards range for the crate: Sunday at the end of a
    // range means Saturday's end of the week.
    Some(out.replace("-Sun", "-Sat,Sun"))
}

impl PartialEq for PromptSchedule {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}
impl Eq for PromptSchedule {}

impl fmt::Debug for PromptSchedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("PromptSchedule").field(&self.source).finish()
    }
}

impl fmt::Display for PromptSchedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

impl Serialize for PromptSchedule {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.source)
    }
}

impl<'de> Deserialize<'de> for PromptSchedule {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        PromptSchedule::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// A span of time after a reference point, written `5d`, `36h`, `90m`, `2d12h` or `45s`.
/// Days are calendar days in the course's zone (a day across a DST change is 23 or 25 hours).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Offset {
    /// Whole days.
    pub days: u32,
    /// Further seconds (under a day).
    pub seconds: u32,
}

/// Why an offset was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{0}' is not a duration: write it like 5d, 36h, 90m, 2d12h or 45s (at most 60 days, more than 0)")]
pub struct OffsetError(pub String);

const DAY: u64 = 24 * 60 * 60;

impl Offset {
    /// Parses `5d`, `36h`, `90m`, `2d12h`, `1d30m`, `45s`.
    ///
    /// # Errors
    /// When the text is not of that form, is zero, or is over 60 days.
    pub fn parse(text: &str) -> Result<Offset, OffsetError> {
        let err = || OffsetError(text.to_owned());
        let mut total: u64 = 0;
        let mut number = String::new();
        let mut seen_unit = false;
        for c in text.trim().chars() {
            if c.is_ascii_digit() {
                number.push(c);
                if number.len() > 7 {
                    return Err(err());
                }
                continue;
            }
            let n: u64 = number.parse().map_err(|_| err())?;
            number.clear();
            total += match c.to_ascii_lowercase() {
                'd' => n * DAY,
                'h' => n * 60 * 60,
                'm' => n * 60,
                's' => n,
                _ => return Err(err()),
            };
            seen_unit = true;
        }
        if !number.is_empty() || !seen_unit || total == 0 || total > 60 * DAY {
            return Err(err());
        }
        Ok(Offset::from_seconds(u32::try_from(total).map_err(|_| err())?))
    }

    /// Whole days.
    pub fn days(days: u32) -> Offset {
        Offset { days, seconds: 0 }
    }

    /// `at` plus this offset, counting days on the wall clock of `zone`.
    pub fn after(self, zone: Zone, at: DateTime<Utc>) -> DateTime<Utc> {
        let local = at.with_timezone(&zone.tz()).naive_local() + Duration::days(i64::from(self.days));
        resolve_local(zone, local) + Duration::seconds(i64::from(self.seconds))
    }

    /// Total seconds, for storage.
    pub fn total_seconds(self) -> u32 {
        self.days * DAY as u32 + self.seconds
    }

    /// From total seconds, as stored.
    pub fn from_seconds(seconds: u32) -> Offset {
        Offset { days: seconds / DAY as u32, seconds: seconds % DAY as u32 }
    }
}

impl fmt::Display for Offset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (h, m, s) = (self.seconds / 3600, self.seconds / 60 % 60, self.seconds % 60);
        if self.days > 0 {
            write!(f, "{}d", self.days)?;
        }
        if h > 0 {
            write!(f, "{h}h")?;
        }
        if m > 0 {
            write!(f, "{m}m")?;
        }
        if s > 0 || (self.days == 0 && h == 0 && m == 0) {
            write!(f, "{s}s")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn five_field_cron_gets_a_seconds_field_and_unix_weekdays() {
        let s = PromptSchedule::parse("0 9 * * 1").unwrap();
        // 2026-10-20 is a Tuesday; the next Monday is the 26th.
        assert_eq!(s.next_after(Zone::UTC, utc("2026-10-20T00:00:00Z")), Some(utc("2026-10-26T09:00:00Z")));
        let s = PromptSchedule::parse("0 9 * * 0").unwrap();
        assert_eq!(s.next_after(Zone::UTC, utc("2026-10-20T00:00:00Z")), Some(utc("2026-10-25T09:00:00Z")));
        let s = PromptSchedule::parse("0 9 * * 5-7").unwrap();
        assert_eq!(s.next_after(Zone::UTC, utc("2026-10-20T00:00:00Z")), Some(utc("2026-10-23T09:00:00Z")));
    }

    #[test]
    fn six_field_cron_runs_on_seconds() {
        let s = PromptSchedule::parse("*/10 * * * * *").unwrap();
        assert_eq!(s.next_after(Zone::UTC, utc("2026-10-20T00:00:01Z")), Some(utc("2026-10-20T00:00:10Z")));
    }

    #[test]
    fn bad_cron_is_refused_with_a_reason() {
        assert!(matches!(PromptSchedule::parse("0 9 * *"), Err(ScheduleError::FieldCount(_, 4))));
        assert!(matches!(PromptSchedule::parse("0 25 * * Mon"), Err(ScheduleError::Invalid(..))));
        assert!(matches!(PromptSchedule::parse("0 9 * * 9"), Err(ScheduleError::Invalid(..))));
        assert!(matches!(PromptSchedule::parse("0 9 30 2 *"), Err(ScheduleError::Never(_))));
    }

    #[test]
    fn weekly_prompt_keeps_local_time_across_daylight_saving_end() {
        let berlin = Zone::parse("Europe/Berlin").unwrap();
        let s = PromptSchedule::weekly_default();
        let firings = s.firings_after(berlin, utc("2026-10-18T00:00:00Z"), 3);
        // Summer time (UTC+2) until 25 October 2026, then UTC+1.
        assert_eq!(
            firings,
            vec![utc("2026-10-19T07:00:00Z"), utc("2026-10-26T08:00:00Z"), utc("2026-11-02T08:00:00Z")]
        );
    }

    #[test]
    fn a_prompt_in_the_spring_gap_moves_after_the_gap_instead_of_skipping_a_week() {
        let berlin = Zone::parse("Europe/Berlin").unwrap();
        // 29 March 2026 is a Sunday; 02:30 does not exist in Berlin that night.
        let s = PromptSchedule::parse("30 2 * * Sun").unwrap();
        let firings = s.firings_after(berlin, utc("2026-03-21T00:00:00Z"), 3);
        assert_eq!(
            firings,
            vec![utc("2026-03-22T01:30:00Z"), utc("2026-03-29T01:00:00Z"), utc("2026-04-05T00:30:00Z")]
        );
    }

    #[test]
    fn a_prompt_in_the_repeated_hour_fires_once() {
        let berlin = Zone::parse("Europe/Berlin").unwrap();
        let s = PromptSchedule::parse("30 2 * * Sun").unwrap();
        let firings = s.firings_after(berlin, utc("2026-10-20T00:00:00Z"), 2);
        assert_eq!(firings, vec![utc("2026-10-25T00:30:00Z"), utc("2026-11-01T01:30:00Z")]);
    }

    #[test]
    fn offsets_parse_and_count_calendar_days() {
        assert_eq!(Offset::parse("5d").unwrap(), Offset::days(5));
        assert_eq!(Offset::parse("2d12h").unwrap(), Offset { days: 2, seconds: 12 * 3600 });
        assert_eq!(Offset::parse("36h").unwrap().to_string(), "1d12h");
        assert_eq!(Offset::parse("90s").unwrap().to_string(), "1m30s");
        assert_eq!(Offset::parse("45s").unwrap().total_seconds(), 45);
        for bad in ["", "5", "0d", "d", "5x", "61d", "-1d", "99999999d", "0s"] {
            assert!(Offset::parse(bad).is_err(), "{bad}");
        }
        let berlin = Zone::parse("Europe/Berlin").unwrap();
        // Friday 23 Oct 09:00 local + 5 days is Wednesday 09:00 local, across the change.
        assert_eq!(Offset::days(5).after(berlin, utc("2026-10-23T07:00:00Z")), utc("2026-10-28T08:00:00Z"));
    }
}
