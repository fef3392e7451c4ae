//! The pieces commands are parsed from: words, quoted tokens, `KEY=VALUE` settings, course
//! names, week numbers, mentions. Each helper refuses with the usage of the command it parses
//! for, named by `name`.

use chrono::NaiveDate;

use super::{Arg, ArgKind, CommandError, MAX_REVIEWS, MAX_WEEKS, Mention};
use crate::ids::{Slug, Zone, clean_free_text, is_invisible};
use crate::schedule::{Offset, PromptSchedule};

/// A refusal of the command `name`, with its usage.
pub(crate) fn fail<T>(problem: impl Into<String>, name: &str) -> Result<T, CommandError> {
    Err(CommandError::new(problem, name))
}

/// Add or remove.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RoleAction {
    Add,
    Remove,
}

/// Course settings given in `!course new` or `!course set`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SettingsPatch {
    /// New title.
    pub title: Option<String>,
    /// School name.
    pub school: Option<String>,
    /// Cycle label.
    pub cycle: Option<String>,
    /// Start date.
    pub start: Option<NaiveDate>,
    /// Number of weeks.
    pub weeks: Option<u32>,
    /// Time zone.
    pub tz: Option<Zone>,
    /// Prompt schedule.
    pub prompt: Option<PromptSchedule>,
    /// Submission deadline after each prompt.
    pub deadline: Option<Offset>,
    /// Peer reviews per submission.
    pub reviews: Option<u32>,
    /// Review deadline after the submission deadline.
    pub review_window: Option<Offset>,
    /// Assignment lease.
    pub lease: Option<Offset>,
    /// Anonymous reviews.
    pub anonymous: Option<bool>,
    /// Whether each prompt opens a thread.
    pub threads: Option<bool>,
    /// Whether the course is in the public catalogue.
    pub public: Option<bool>,
}

impl SettingsPatch {
    /// True if nothing is set.
    pub fn is_empty(&self) -> bool {
        *self == SettingsPatch::default()
    }
}

/// A token of a command line, with its quotes removed.
#[derive(Debug, Clone)]
pub(crate) struct Token {
    pub text: String,
    /// `key=value` split, when the token had that form outside quotes.
    pub pair: Option<(String, String)>,
}

fn is_quote(c: char) -> Option<char> {
    match c {
        '"' => Some('"'),
        '\u{201C}' => Some('\u{201D}'),
        '\u{201E}' => Some('\u{201C}'),
        _ => None,
    }
}

pub(crate) fn tokens(rest: &str, name: &str) -> Result<Vec<Token>, CommandError> {
    let mut out = Vec::new();
    let mut chars = rest.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        if chars.peek().is_none() {
            return Ok(out);
        }
        let mut text = String::new();
        let mut key: Option<String> = None;
        let mut quoted_any = false;
        while let Some(&c) = chars.peek() {
            if c.is_whitespace() {
                break;
            }
            chars.next();
            if let Some(close) = is_quote(c) {
                quoted_any = true;
                let mut closed = false;
                for q in chars.by_ref() {
                    if q == close || (close == '\u{201D}' && q == '"') || (close == '"' && q == '\u{201D}') {
                        closed = true;
                        break;
                    }
                    text.push(q);
                }
                if !closed {
                    return fail("a quote is not closed: put a matching \" at the end of the quoted text.", name);
                }
            } else if c == '=' && key.is_none() && !quoted_any {
                key = Some(std::mem::take(&mut text));
            } else {
                text.push(c);
            }
        }
        let token = match key {
            Some(k) => Token { text: format!("{k}={text}"), pair: Some((k.to_lowercase(), text)) },
            None => Token { text, pair: None },
        };
        out.push(token);
    }
}

pub(crate) fn split_word(text: &str) -> (&str, &str) {
    let text = text.trim_start();
    match text.find(char::is_whitespace) {
        Some(i) => (&text[..i], &text[i..]),
        None => (text, ""),
    }
}

/// Nothing after the command's words.
pub(crate) fn no_args(rest: &str, name: &str) -> Result<(), CommandError> {
    let args = tokens(rest, name)?;
    match args.first() {
        None => Ok(()),
        Some(extra) => fail(format!("`!{name}` takes no arguments, but got '{}'.", short(&extra.text)), name),
    }
}

pub(crate) fn short(text: &str) -> String {
    let cut: String = text.chars().take(40).collect();
    if cut.len() < text.len() { format!("{cut}…") } else { cut }
}

pub(crate) fn parse_slug(text: &str, name: &str) -> Result<Slug, CommandError> {
    Slug::parse(text).or_else(|e| fail(format!("'{}' is not a course name: {e}.", short(text)), name))
}

pub(crate) fn one_slug(rest: &str, name: &str) -> Result<Slug, CommandError> {
    let args = tokens(rest, name)?;
    match args.as_slice() {
        [] => {
            fail(format!("which course? Give its short name, like `!{name} data-101` (`!courses` lists them)."), name)
        }
        [one] => parse_slug(one.text.trim_start_matches('#'), name),
        [_, extra, ..] => fail(format!("one course at a time; unexpected '{}'.", short(&extra.text)), name),
    }
}

pub(crate) fn parse_week_number(text: &str, name: &str) -> Result<u32, CommandError> {
    match text.parse::<u32>() {
        Ok(n) if (1..=MAX_WEEKS).contains(&n) => Ok(n),
        _ => fail(format!("'{}' is not a week number (1 to {MAX_WEEKS}).", short(text)), name),
    }
}

/// `[week N]` or `[N]`: an optional week number, the only argument.
pub(crate) fn optional_week(rest: &str, name: &str, too_many: &str) -> Result<Option<u32>, CommandError> {
    let args = tokens(rest, name)?;
    match args.as_slice() {
        [] => Ok(None),
        [w, n] if w.text.eq_ignore_ascii_case("week") => Ok(Some(parse_week_number(&n.text, name)?)),
        [n] => Ok(Some(parse_week_number(&n.text, name)?)),
        _ => fail(too_many, name),
    }
}

/// `@user BADGE [reason]` of the badge commands: the person, the badge and the reason, cleaned.
pub(crate) fn badge_args(rest: &str, name: &str) -> Result<(Mention, Slug, String), CommandError> {
    let (user, after_user) = split_word(rest);
    if user.is_empty() {
        return fail("name the person, like `!badge award @ana finisher`.", name);
    }
    let user = mention(user, name)?;
    let (badge, reason) = split_word(after_user);
    if badge.is_empty() {
        return fail("which badge? Give its short name (`!badges` lists them).", name);
    }
    let badge = Slug::parse(badge).or_else(|e| fail(format!("'{}' is not a badge name: {e}.", short(badge)), name))?;
    let reason = reason.trim();
    if reason.chars().count() > 500 {
        return fail("the reason is too long (at most 500 characters).", name);
    }
    if reason.chars().any(|c| matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')) {
        return fail("the reason contains a text-direction override character.", name);
    }
    Ok((user, badge, clean_free_text(reason).trim().to_owned()))
}

pub(crate) fn mention(text: &str, name: &str) -> Result<Mention, CommandError> {
    if text.chars().any(is_invisible) {
        return fail("the name contains an invisible character.", name);
    }
    Ok(Mention(text.to_owned()))
}

/// The arguments of `!organizer` and `!mentor`: add or remove, and whom.
pub(crate) const ROLE_ARGS: &[Arg] = &[
    Arg { choices: &["add", "remove"], ..Arg::required("action", "Add or remove", ArgKind::Text) },
    Arg::required("user", "Who", ArgKind::User),
];

pub(crate) fn parse_role_args(rest: &str, name: &str) -> Result<(RoleAction, Mention), CommandError> {
    let args = tokens(rest, name)?;
    let action = match args.first().map(|t| t.text.to_lowercase()) {
        Some(a) if a == "add" => RoleAction::Add,
        Some(a) if a == "remove" => RoleAction::Remove,
        Some(other) => return fail(format!("'{}' is not an action: use add or remove.", short(&other)), name),
        None => return fail("add or remove whom? Write it like `!organizer add @ana`.", name),
    };
    match &args[1..] {
        [] => fail(format!("name the person, like `!{name} add @ana`."), name),
        [user] => {
            if user.text.chars().any(is_invisible) {
                return fail("the name contains an invisible character.", name);
            }
            Ok((action, Mention(user.text.clone())))
        }
        [_, extra, ..] => fail(format!("one person at a time; unexpected '{}'.", short(&extra.text)), name),
    }
}

pub(crate) fn check_title(title: &str, name: &str) -> Result<String, CommandError> {
    let title = title.trim();
    if title.is_empty() {
        return fail("the title is empty.", name);
    }
    if let Some(c) = title.chars().find(|c| is_invisible(*c)) {
        return fail(format!("the title contains an invisible character (U+{:04X}).", c as u32), name);
    }
    if title.chars().count() > 120 {
        return fail("the title is too long (at most 120 characters).", name);
    }
    Ok(title.to_owned())
}

pub(crate) fn parse_settings(args: &[Token], name: &str) -> Result<SettingsPatch, CommandError> {
    let mut s = SettingsPatch::default();
    let mut seen: Vec<String> = Vec::new();
    for token in args {
        let Some((key, value)) = &token.pair else {
            return fail(format!("expected KEY=VALUE, got '{}'.", short(&token.text)), name);
        };
        if seen.contains(key) {
            return fail(format!("'{key}' is given twice."), name);
        }
        seen.push(key.clone());
        let value = value.trim();
        match key.as_str() {
            "title" => s.title = Some(check_title(value, name)?),
            "school" => {
                if Slug::from_name(value).is_err() || value.chars().any(is_invisible) || value.chars().count() > 80 {
                    return fail(
                        format!(
                            "'{}' is not a usable school name (letters or digits, at most 80 characters).",
                            short(value)
                        ),
                        name,
                    );
                }
                s.school = Some(value.to_owned());
            }
            "cycle" => {
                if value.is_empty() || value.chars().any(is_invisible) || value.chars().count() > 40 {
                    return fail("the cycle is a short label, like `2026-fall`.", name);
                }
                s.cycle = Some(value.to_owned());
            }
            "start" => match NaiveDate::parse_from_str(value, "%Y-%m-%d") {
                Ok(d) => s.start = Some(d),
                Err(_) => {
                    return fail(
                        format!("'{}' is not a date: write it as YYYY-MM-DD, like 2026-11-02.", short(value)),
                        name,
                    );
                }
            },
            "weeks" => match value.parse::<u32>() {
                Ok(n) if (1..=MAX_WEEKS).contains(&n) => s.weeks = Some(n),
                _ => {
                    return fail(
                        format!("weeks must be a number from 1 to {MAX_WEEKS}, not '{}'.", short(value)),
                        name,
                    );
                }
            },
            "tz" => match Zone::parse(value) {
                Ok(z) => s.tz = Some(z),
                Err(e) => return fail(format!("{e}. Use an IANA name like `Europe/Berlin` or `UTC`."), name),
            },
            "prompt" => match PromptSchedule::parse(value) {
                Ok(p) => s.prompt = Some(p),
                Err(e) => return fail(format!("{e}. Example: prompt=\"0 9 * * Mon\" for Mondays at 09:00."), name),
            },
            "deadline" => match Offset::parse(value) {
                Ok(o) => s.deadline = Some(o),
                Err(e) => return fail(format!("{e}."), name),
            },
            "review" => match Offset::parse(value) {
                Ok(o) => s.review_window = Some(o),
                Err(e) => return fail(format!("{e}."), name),
            },
            "lease" => match Offset::parse(value) {
                Ok(o) if o.total_seconds() >= 60 => s.lease = Some(o),
                Ok(_) => return fail("the lease must be at least a minute (1m).", name),
                Err(e) => return fail(format!("{e}."), name),
            },
            "reviews" => match value.parse::<u32>() {
                Ok(n) if (1..=MAX_REVIEWS).contains(&n) => s.reviews = Some(n),
                _ => {
                    return fail(
                        format!("reviews must be a number from 1 to {MAX_REVIEWS}, not '{}'.", short(value)),
                        name,
                    );
                }
            },
            "anonymous" => match value.to_lowercase().as_str() {
                "yes" | "true" | "on" => s.anonymous = Some(true),
                "no" | "false" | "off" => s.anonymous = Some(false),
                _ => return fail(format!("anonymous is yes or no, not '{}'.", short(value)), name),
            },
            "threads" => match value.to_lowercase().as_str() {
                "yes" | "true" | "on" => s.threads = Some(true),
                "no" | "false" | "off" => s.threads = Some(false),
                _ => return fail(format!("threads is yes or no, not '{}'.", short(value)), name),
            },
            "public" => match value.to_lowercase().as_str() {
                "yes" | "true" | "on" => s.public = Some(true),
                "no" | "false" | "off" => s.public = Some(false),
                _ => return fail(format!("public is yes or no, not '{}'.", short(value)), name),
            },
            other => {
                return fail(
                    format!(
                        "'{}' is not a course setting; the settings are title, school, cycle, start, weeks, tz, prompt, deadline, reviews, review, lease, anonymous, threads and public.",
                        short(other)
                    ),
                    name,
                );
            }
        }
    }
    Ok(s)
}

pub(crate) fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut row = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            row.push((prev[j] + cost).min(prev[j + 1] + 1).min(row[j] + 1));
        }
        prev = row;
    }
    prev[b.len()]
}
