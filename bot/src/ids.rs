//! Typed identifiers and validated names.
//!
//! The domain never passes bare integers or strings around for things that have an identity:
//! a [`PersonId`] cannot be handed where a [`CourseId`] is expected, and a [`Slug`] or a
//! [`Zone`] exists only once it has been checked ("parse, don't validate").

use std::fmt;
use std::str::FromStr;

use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

macro_rules! numeric_id {
    ($(#[$doc:meta])* $name:ident, $prefix:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub i64);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!($prefix, "{}"), self.0)
            }
        }
    };
}

numeric_id!(
    /// A person the bot knows, across all the chat accounts they use.
    PersonId,
    "p"
);
numeric_id!(
    /// A course.
    CourseId,
    "c"
);
numeric_id!(
    /// A school: a named group of courses.
    SchoolId,
    "s"
);
numeric_id!(
    /// A learner's work for one week of one course (all its revisions).
    SubmissionId,
    "sub"
);
numeric_id!(
    /// A review assignment: one reviewer, one submission. Shown to people as `#12`.
    AssignmentId,
    "#"
);

/// Why a name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// Empty input.
    #[error("it is empty")]
    Empty,
    /// Outside the allowed length.
    #[error("it must be {min} to {max} characters long")]
    Length {
        /// Shortest allowed.
        min: usize,
        /// Longest allowed.
        max: usize,
    },
    /// Contains a character that cannot be seen on screen.
    #[error("it contains an invisible character (U+{0:04X})")]
    Invisible(u32),
    /// Contains a character outside the allowed set.
    #[error("'{0}' is not allowed: use lowercase letters, digits and dashes")]
    Character(char),
    /// Starts or ends with a dash.
    #[error("it must start and end with a letter or digit")]
    Edge,
}

/// True for characters that change how text is shown without being seen: zero-width
/// characters, bidirectional overrides and other format controls. They are the usual tools for
/// making one name look like another.
pub fn is_invisible(c: char) -> bool {
    matches!(c,
        '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2064}'
        | '\u{2066}'..='\u{2069}' | '\u{FEFF}' | '\u{00AD}' | '\u{180E}'
        // Blank letters: Hangul fillers and the braille blank render as nothing but count as
        // letters, so they pass for a name.
        | '\u{115F}' | '\u{1160}' | '\u{3164}' | '\u{FFA0}' | '\u{2800}'
        // The Arabic letter mark (a direction control), the combining grapheme joiner, Khmer
        // inherent vowels, Mongolian free variation selectors, musical formatting controls,
        // interlinear annotation characters and the tag characters.
        | '\u{061C}' | '\u{034F}' | '\u{17B4}' | '\u{17B5}' | '\u{180B}'..='\u{180D}'
        | '\u{FFF9}'..='\u{FFFB}' | '\u{1D173}'..='\u{1D17A}' | '\u{E0000}'..='\u{E007F}')
        || (c.is_control() && c != '\n' && c != '\t')
}

/// True for the characters that are removed from free text (submissions, reviews, reasons):
/// control characters other than line breaks and tabs (a NUL byte is refused by PostgreSQL and
/// means nothing in chat), and the bidirectional overrides and isolates that can make a link
/// read as another. Other format characters stay: zero-width joiners build emoji.
pub fn is_stripped_from_free_text(c: char) -> bool {
    (c.is_control() && c != '\n' && c != '\t')
        || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{061C}' | '\u{E0001}')
}

/// Free text as it is stored: control characters and direction overrides removed, Windows line
/// ends made plain.
pub fn clean_free_text(text: &str) -> String {
    text.replace("\r\n", "\n").chars().filter(|c| !is_stripped_from_free_text(*c)).collect()
}

/// A short lowercase name used in commands and room names: `data-101`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Slug(String);

impl Slug {
    /// Longest slug accepted; room names on every platform hold this comfortably.
    pub const MAX: usize = 40;

    /// Checks a slug: 2 to 40 of `a-z`, `0-9`, `-`, not starting or ending with a dash.
    ///
    /// # Errors
    /// A [`NameError`] that says what is wrong.
    pub fn parse(text: &str) -> Result<Slug, NameError> {
        if text.is_empty() {
            return Err(NameError::Empty);
        }
        if let Some(c) = text.chars().find(|c| is_invisible(*c)) {
            return Err(NameError::Invisible(c as u32));
        }
        if let Some(c) = text.chars().find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-')) {
            return Err(NameError::Character(c));
        }
        if !(2..=Self::MAX).contains(&text.len()) {
            return Err(NameError::Length { min: 2, max: Self::MAX });
        }
        if text.starts_with('-') || text.ends_with('-') {
            return Err(NameError::Edge);
        }
        Ok(Slug(text.to_owned()))
    }

    /// Derives a slug from a free-form name ("School of Data" -> `school-of-data`).
    ///
    /// # Errors
    /// When nothing usable is left of the name.
    pub fn from_name(name: &str) -> Result<Slug, NameError> {
        let mut out = String::new();
        for c in name.chars() {
            if c.is_ascii_alphanumeric() {
                out.push(c.to_ascii_lowercase());
            } else if !out.is_empty() && !out.ends_with('-') {
                out.push('-');
            }
        }
        let trimmed: String = out.trim_end_matches('-').chars().take(Self::MAX).collect();
        Slug::parse(trimmed.trim_end_matches('-'))
    }

    /// The slug as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Slug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for Slug {
    type Error = NameError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Slug::parse(&value)
    }
}

impl From<Slug> for String {
    fn from(value: Slug) -> Self {
        value.0
    }
}

/// An IANA time zone (`Europe/Berlin`), or `UTC`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Zone(Tz);

impl PartialOrd for Zone {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Zone {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.name().cmp(other.name())
    }
}

/// A time zone name that is not in the IANA database.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{given}' is not a time zone I know{}", suggestion.as_ref().map(|s| format!(" (did you mean {s}?)")).unwrap_or_default())]
pub struct ZoneError {
    /// What was given.
    pub given: String,
    /// A zone spelled the same apart from case, if there is one.
    pub suggestion: Option<String>,
}

impl Zone {
    /// Coordinated Universal Time.
    pub const UTC: Zone = Zone(Tz::UTC);

    /// Parses an IANA zone name such as `America/Sao_Paulo`.
    ///
    /// # Errors
    /// When the name is not in the database; suggests the right spelling when only case differs.
    pub fn parse(text: &str) -> Result<Zone, ZoneError> {
        if let Ok(tz) = Tz::from_str(text) {
            return Ok(Zone(tz));
        }
        let suggestion = chrono_tz::TZ_VARIANTS
            .iter()
            .find(|tz| tz.name().eq_ignore_ascii_case(text))
            .map(|tz| tz.name().to_owned());
        Err(ZoneError { given: text.to_owned(), suggestion })
    }

    /// The chrono-tz zone.
    pub fn tz(self) -> Tz {
        self.0
    }

    /// The IANA name.
    pub fn name(self) -> &'static str {
        self.0.name()
    }
}

impl fmt::Display for Zone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.name())
    }
}

impl TryFrom<String> for Zone {
    type Error = ZoneError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Zone::parse(&value)
    }
}

impl From<Zone> for String {
    fn from(value: Zone) -> Self {
        value.name().to_owned()
    }
}

/// One chat account of a person: the platform's name and the platform's own user id, both
/// opaque to the domain (only the adapter that minted the handle interprets it).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Account {
    /// `memory`, `matrix`, `discord`.
    pub platform: String,
    /// The platform's user id (`@ana:example.org`, a Discord snowflake, `ana`).
    pub handle: String,
}

/// An opaque token the runtime gives with a command so the domain can ask for a reply "right
/// there" without knowing which room or platform that is.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ReplyTo(pub String);

/// An invitation of the bot into a room, opaque to the domain like [`ReplyTo`]: the domain
/// decides whether to accept it, the runtime knows which room it is.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Invitation(pub String);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_accept_lowercase_digits_and_inner_dashes() {
        assert_eq!(Slug::parse("data-101").unwrap().as_str(), "data-101");
        assert_eq!(Slug::parse("Data"), Err(NameError::Character('D')));
        assert_eq!(Slug::parse("-x"), Err(NameError::Edge));
        assert_eq!(Slug::parse("x"), Err(NameError::Length { min: 2, max: 40 }));
        assert_eq!(Slug::parse("da\u{200B}ta"), Err(NameError::Invisible(0x200B)));
        assert!(Slug::parse("a'; DROP TABLE courses;--").is_err());
    }

    #[test]
    fn slugs_derive_from_names() {
        assert_eq!(Slug::from_name("School of Data!").unwrap().as_str(), "school-of-data");
        assert!(Slug::from_name("???").is_err());
    }

    #[test]
    fn zones_suggest_the_right_case() {
        assert_eq!(Zone::parse("Europe/Berlin").unwrap().name(), "Europe/Berlin");
        let err = Zone::parse("europe/berlin").unwrap_err();
        assert_eq!(err.suggestion.as_deref(), Some("Europe/Berlin"));
        assert!(Zone::parse("Mars/Olympus").unwrap_err().suggestion.is_none());
    }
}

/// An award's public id: the last segment of its hosted Open Badges assertion's address.
///
/// 128 bits derived from the course's private seed and the award (see
/// [`crate::badges::assertion_id`]): unguessable, unrelated between one person's badges, and
/// new when a badge is awarded again after a revocation. Parsed only from exactly 32 lowercase
/// hexadecimal digits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AssertionId(pub [u8; 16]);

impl fmt::Display for AssertionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl FromStr for AssertionId {
    type Err = ();

    fn from_str(s: &str) -> Result<Self, ()> {
        let bytes = s.as_bytes();
        if bytes.len() != 32 || !bytes.iter().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(b)) {
            return Err(());
        }
        let mut out = [0u8; 16];
        for (i, pair) in bytes.chunks(2).enumerate() {
            let hex = std::str::from_utf8(pair).map_err(|_| ())?;
            out[i] = u8::from_str_radix(hex, 16).map_err(|_| ())?;
        }
        Ok(AssertionId(out))
    }
}

/// An email address a learner gave for their badges (`!badge email`), so that backpacks
/// matching on email recognise them. Private: only ever published hashed. Kept in lowercase
/// (backpacks compare addresses without case); parsed loosely, as mail systems accept much, but
/// never with spaces, without a local part, or without a dotted domain.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Email(String);

impl Email {
    /// Longest address accepted (RFC 5321's path limit).
    pub const MAX: usize = 254;

    /// Parses an address, saying what is wrong with it.
    pub fn parse(text: &str) -> Result<Email, &'static str> {
        let text = text.trim().trim_start_matches("mailto:");
        if text.len() > Self::MAX {
            return Err("that address is longer than an email address can be");
        }
        if text.chars().any(|c| c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | '"' | ',' | ';')) {
            return Err("an email address has no spaces, quotes, commas or angle brackets");
        }
        let Some((local, domain)) = text.rsplit_once('@') else {
            return Err("an email address has an @, like ana@example.org");
        };
        if local.is_empty() || local.contains('@') {
            return Err("an email address has exactly one @ with a name before it, like ana@example.org");
        }
        let labels: Vec<&str> = domain.split('.').collect();
        if labels.len() < 2
            || labels.iter().any(|l| {
                l.is_empty()
                    || l.starts_with('-')
                    || l.ends_with('-')
                    || !l.chars().all(|c| c.is_alphanumeric() || c == '-')
            })
        {
            return Err("the part after the @ should be a domain, like example.org");
        }
        Ok(Email(text.to_lowercase()))
    }

    /// The address.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod email_tests {
    use super::Email;

    #[test]
    fn an_email_is_kept_in_lowercase_and_nonsense_is_refused_with_a_reason() {
        assert_eq!(Email::parse(" Ana.B+badges@Example.ORG ").unwrap().as_str(), "ana.b+badges@example.org");
        assert_eq!(Email::parse("mailto:ana@example.org").unwrap().as_str(), "ana@example.org");
        for bad in [
            "",
            "ana",
            "ana@",
            "@example.org",
            "ana@example",
            "ana@exa mple.org",
            "a@b@example.org",
            "ana@-x.org",
            "<ana@example.org>",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad:?} was accepted");
        }
        assert!(Email::parse(&format!("{}@example.org", "a".repeat(250))).is_err());
    }
}
