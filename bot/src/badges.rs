//! Badges: what a course's syllabus says they are, and when a learner has earned one.
//!
//! A syllabus lists its badges in a `## Badges` section, each under a `### Name` heading with a
//! description and an `earned:` line:
//!
//! ```markdown
//! ## Badges
//! ### Finisher
//! Submitted every week on time and helped others.
//! - earned: weeks >= 3, reviews >= 2, on time
//! ### Data Cleaner
//! - earned: by organizer
//! ### Helpful Reviewer
//! - earned: by 2 nominations
//! ### OpenRefine Expert
//! - earned: by holders
//! ```
//!
//! Criteria badges are awarded by the bot as soon as they are earned; "by organizer" badges by
//! organizers; "by N nominations" when N peers nominate the learner; "by holders" by anyone
//! who already holds the badge (P2PU's tradition: the experts are those who earned it).
//! Organizers may award any badge.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::ids::{AssertionId, CourseId, PersonId, Slug};

/// The public id of an award: SHA-256 over the course's private seed and what identifies the
/// award (course, badge, person, when, how many times before it was revoked), cut to 128 bits. Computed from stored values, so every
/// instance and every restart finds the same id; unguessable while the seed stays private
/// (it is never shown or exported).
/// `round` counts the person's earlier awards of this badge that were revoked, so an award given
/// again gets a new id even within the same millisecond.
pub fn assertion_id(
    seed: u64,
    course: CourseId,
    badge: &Slug,
    person: PersonId,
    at: DateTime<Utc>,
    round: usize,
) -> AssertionId {
    let mut hash = Sha256::new();
    hash.update(b"facilitator assertion v1\0");
    hash.update((round as u64).to_le_bytes());
    hash.update(seed.to_le_bytes());
    hash.update(course.0.to_le_bytes());
    hash.update(badge.as_str().as_bytes());
    hash.update(b"\0");
    hash.update(person.0.to_le_bytes());
    hash.update(at.timestamp_millis().to_le_bytes());
    let digest = hash.finalize();
    let mut id = [0u8; 16];
    id.copy_from_slice(&digest[..16]);
    AssertionId(id)
}

/// How a badge is earned.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum BadgeRule {
    /// From the learner's record.
    Criteria {
        /// Weeks with a submission, at least.
        weeks: u32,
        /// Reviews given, at least.
        reviews: u32,
        /// Only on-time submissions count.
        on_time: bool,
    },
    /// Awarded by an organizer.
    Organizer,
    /// Awarded when this many peers nominate the learner.
    Nominations(u32),
    /// Awarded by people who hold it.
    Holders,
}

impl BadgeRule {
    /// Parses the text after `earned:`.
    ///
    /// # Errors
    /// A sentence saying what is accepted.
    pub fn parse(text: &str) -> Result<BadgeRule, String> {
        let t = text.trim().to_lowercase();
        if t == "by organizer" || t == "by organizers" {
            return Ok(BadgeRule::Organizer);
        }
        if t == "by holders" {
            return Ok(BadgeRule::Holders);
        }
        if let Some(rest) = t.strip_prefix("by ") {
            let rest = rest.trim_end_matches("nominations").trim_end_matches("nomination").trim();
            return match rest.parse::<u32>() {
                Ok(n) if (1..=50).contains(&n) => Ok(BadgeRule::Nominations(n)),
                _ => Err(format!("'{text}': write 'by N nominations' with N from 1 to 50")),
            };
        }
        let (mut weeks, mut reviews, mut on_time) = (0, 0, false);
        for part in t.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            if part == "on time" {
                on_time = true;
                continue;
            }
            let Some((key, value)) = part.split_once(">=") else {
                return Err(format!("'{part}' is not a criterion: use 'weeks >= N', 'reviews >= M' and 'on time'"));
            };
            let value: u32 = value.trim().parse().map_err(|_| format!("'{}' is not a number", value.trim()))?;
            match key.trim() {
                "weeks" => weeks = value,
                "reviews" => reviews = value,
                other => return Err(format!("'{other}' is not a criterion: use weeks or reviews")),
            }
        }
        if weeks == 0 && reviews == 0 {
            return Err(format!(
                "'{text}': give criteria ('weeks >= 3, reviews >= 2, on time') or 'by organizer', 'by N nominations', 'by holders'"
            ));
        }
        Ok(BadgeRule::Criteria { weeks, reviews, on_time })
    }

    /// A short description for chat.
    pub fn describe(&self) -> String {
        match self {
            BadgeRule::Criteria { weeks, reviews, on_time } => {
                let mut parts = Vec::new();
                if *weeks > 0 {
                    parts.push(format!(
                        "{weeks} week{} submitted{}",
                        if *weeks == 1 { "" } else { "s" },
                        if *on_time { " on time" } else { "" }
                    ));
                }
                if *reviews > 0 {
                    parts.push(format!("{reviews} review{} given", if *reviews == 1 { "" } else { "s" }));
                }
                parts.join(" and ")
            }
            BadgeRule::Organizer => "awarded by an organizer".to_owned(),
            BadgeRule::Nominations(n) => format!("nominated by {n} peer{}", if *n == 1 { "" } else { "s" }),
            BadgeRule::Holders => "awarded by those who hold it".to_owned(),
        }
    }
}

/// A badge a course offers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BadgeDef {
    /// Short name used in commands.
    pub slug: Slug,
    /// Display name.
    pub name: String,
    /// What it means.
    pub description: String,
    /// How it is earned.
    pub rule: BadgeRule,
    /// No longer offered (a new syllabus dropped it), but kept because people hold it: it is
    /// listed with its holders and exported, and awarded to nobody else. Written `- retired: yes`.
    #[serde(default)]
    pub retired: bool,
}

impl BadgeRule {
    /// The rule as its syllabus line says it (`earned: ...`), which parses back to the same rule.
    pub fn source(&self) -> String {
        match self {
            BadgeRule::Criteria { weeks, reviews, on_time } => {
                let mut parts = Vec::new();
                if *weeks > 0 {
                    parts.push(format!("weeks >= {weeks}"));
                }
                if *reviews > 0 {
                    parts.push(format!("reviews >= {reviews}"));
                }
                if *on_time {
                    parts.push("on time".to_owned());
                }
                parts.join(", ")
            }
            BadgeRule::Organizer => "by organizer".to_owned(),
            BadgeRule::Nominations(n) => format!("by {n} nominations"),
            BadgeRule::Holders => "by holders".to_owned(),
        }
    }
}

/// Whether a record meets criteria.
pub fn meets(rule: &BadgeRule, weeks_submitted: u32, weeks_on_time: u32, reviews_given: u32) -> bool {
    match rule {
        BadgeRule::Criteria { weeks, reviews, on_time } => {
            let counted = if *on_time { weeks_on_time } else { weeks_submitted };
            counted >= *weeks && reviews_given >= *reviews
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_parse_from_the_earned_line() {
        assert_eq!(
            BadgeRule::parse("weeks >= 3, reviews >= 2, on time"),
            Ok(BadgeRule::Criteria { weeks: 3, reviews: 2, on_time: true })
        );
        assert_eq!(BadgeRule::parse("reviews>=5"), Ok(BadgeRule::Criteria { weeks: 0, reviews: 5, on_time: false }));
        assert_eq!(BadgeRule::parse("by organizer"), Ok(BadgeRule::Organizer));
        assert_eq!(BadgeRule::parse("by 2 nominations"), Ok(BadgeRule::Nominations(2)));
        assert_eq!(BadgeRule::parse("By Holders"), Ok(BadgeRule::Holders));
        assert!(BadgeRule::parse("weeks > 3").is_err());
        assert!(BadgeRule::parse("on time").is_err());
        assert!(BadgeRule::parse("by many nominations").is_err());
    }

    #[test]
    fn criteria_count_on_time_weeks_only_when_asked() {
        let rule = BadgeRule::Criteria { weeks: 2, reviews: 1, on_time: true };
        assert!(!meets(&rule, 3, 1, 5));
        assert!(meets(&rule, 3, 2, 1));
        assert!(!meets(&rule, 3, 2, 0));
    }
}
