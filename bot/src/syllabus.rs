//! The syllabus: a Markdown file organizers write by hand.
//!
//! ```markdown
//! # Intro to Data
//! An optional introduction.
//!
//! ## Week 1: Getting started
//! The prompt: what to read, what to make.
//! - [Data basics](https://example.org/basics)
//!
//! ### Review
//! - Is the question clear?
//! ```
//!
//! Weeks are numbered from 1 without gaps. Links must be `http(s)`. A `### Review` sub-section
//! holds the questions reviewers answer. Errors carry the line number so the organizer can fix
//! the file without guessing.

use serde::{Deserialize, Serialize};

use crate::badges::{BadgeDef, BadgeRule};
use crate::ids::Slug;

/// A badge while its section is read: the line it starts on, its name, description, rule,
/// criteria text, and whether it is retired.
type BadgeDraft = (usize, String, Option<String>, Option<BadgeRule>, String, bool);

/// Largest syllabus accepted, in bytes.
pub const MAX_BYTES: usize = 64 * 1024;
/// Most weeks a syllabus may have: a year of weekly prompts, the same cap as `weeks=`.
pub const MAX_WEEKS: u32 = crate::command::MAX_WEEKS;

/// A parsed syllabus.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Syllabus {
    /// The `# Title`.
    pub title: String,
    /// Text between the title and week 1.
    pub intro: String,
    /// Weeks 1..=n, in order.
    pub weeks: Vec<WeekPlan>,
    /// Badges from the `## Badges` section.
    pub badges: Vec<BadgeDef>,
    /// The file as written.
    pub source: String,
}

/// One `## Week N: title` section.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WeekPlan {
    pub number: u32,
    /// The title after the colon.
    pub title: String,
    /// The prompt as Markdown (materials included, review questions not).
    pub prompt: String,
    /// Links found in the prompt.
    pub materials: Vec<Material>,
    /// Questions from `### Review`.
    pub review_questions: Vec<String>,
}

/// A link to open material.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Material {
    /// The link text (or the URL for a bare link).
    pub title: String,
    /// The URL.
    pub url: String,
}

/// A syllabus that cannot be used, and where.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}{message}", line_prefix(.line))]
pub struct SyllabusError {
    /// 1-based line number (0 for the file as a whole).
    pub line: usize,
    /// What is wrong and how to fix it.
    pub message: String,
}

/// `line N: `, or nothing for the file as a whole.
fn line_prefix(line: &usize) -> String {
    if *line == 0 { String::new() } else { format!("line {line}: ") }
}

fn err<T>(line: usize, message: impl Into<String>) -> Result<T, SyllabusError> {
    Err(SyllabusError { line, message: message.into() })
}

impl Syllabus {
    /// The plan for week `n`, if the syllabus has it.
    pub fn week(&self, n: u32) -> Option<&WeekPlan> {
        self.weeks.get(usize::try_from(n).ok()?.checked_sub(1)?)
    }

    /// Number of weeks.
    pub fn len(&self) -> u32 {
        u32::try_from(self.weeks.len()).unwrap_or(u32::MAX)
    }

    /// True if there are no weeks (never so for a parsed syllabus).
    pub fn is_empty(&self) -> bool {
        self.weeks.is_empty()
    }

    /// Parses a syllabus.
    ///
    /// # Errors
    /// The first problem found, with its line number.
    pub fn parse(source: &str) -> Result<Syllabus, SyllabusError> {
        if source.len() > MAX_BYTES {
            return err(
                0,
                format!(
                    "it is {} bytes; a syllabus may be at most {MAX_BYTES} bytes (64 KiB): shorten it or link to longer readings",
                    source.len()
                ),
            );
        }
        let mut title: Option<String> = None;
        let mut intro = String::new();
        let mut weeks: Vec<WeekPlan> = Vec::new();
        // Where text lines go: the intro, a week's prompt, or a week's review section.
        let mut in_review = false;
        let mut review_line = 0;
        let mut in_fence = false;
        let mut in_badges = false;
        let mut badges: Vec<BadgeDraft> = Vec::new();

        for (index, raw) in source.lines().enumerate() {
            let line_no = index + 1;
            let line = raw.trim_end_matches('\r');
            if let Some(c) = line.chars().find(|c| crate::ids::is_invisible(*c) && *c != '\u{200D}') {
                return err(line_no, format!("contains an invisible character (U+{:04X}); remove it", c as u32));
            }
            let trimmed = line.trim();
            if trimmed.starts_with("```") || trimmed.starts_with("~~~") {
                in_fence = !in_fence;
            }
            if !in_fence && !trimmed.starts_with("```") && !trimmed.starts_with("~~~") {
                if let Some(rest) = heading(trimmed, 1) {
                    if title.is_some() {
                        return err(line_no, "a second '# ' title; use '## Week N: title' for weeks");
                    }
                    if rest.is_empty() {
                        return err(line_no, "the title is empty");
                    }
                    title = Some(rest.to_owned());
                    continue;
                }
                if title.is_none() && !trimmed.is_empty() {
                    return err(line_no, "a syllabus starts with its title, like '# Intro to Data'");
                }
                if let Some(rest) = heading(trimmed, 2) {
                    close_review(&weeks, in_review, review_line)?;
                    in_review = false;
                    if rest.eq_ignore_ascii_case("badges") {
                        if in_badges || !badges.is_empty() {
                            return err(line_no, "a second '## Badges' section; list every badge in one");
                        }
                        in_badges = true;
                        continue;
                    }
                    in_badges = false;
                    let expected = u32::try_from(weeks.len()).unwrap_or(u32::MAX) + 1;
                    if expected > MAX_WEEKS {
                        return err(
                            line_no,
                            format!("a course has at most {MAX_WEEKS} weeks; this is week {expected}"),
                        );
                    }
                    let week = parse_week_heading(rest, expected, line_no)?;
                    weeks.push(week);
                    continue;
                }
                if in_badges {
                    if let Some(name) = heading(trimmed, 3) {
                        if name.is_empty() {
                            return err(line_no, "a badge needs a name: '### Finisher'");
                        }
                        badges.push((line_no, name.to_owned(), None, None, String::new(), false));
                        continue;
                    }
                    let Some(badge) = badges.last_mut() else {
                        if trimmed.is_empty() {
                            continue;
                        }
                        return err(line_no, "start each badge with a '### Name' heading");
                    };
                    let item = trimmed.trim_start_matches(['-', '*']).trim();
                    if let Some(rule) = item.strip_prefix("earned:") {
                        badge.3 = Some(BadgeRule::parse(rule).or_else(|e| err(line_no, e))?);
                    } else if let Some(flag) = item.strip_prefix("retired:") {
                        badge.5 = match flag.trim().to_lowercase().as_str() {
                            "yes" | "true" => true,
                            "no" | "false" => false,
                            other => {
                                return err(
                                    line_no,
                                    format!("'retired: {other}': write 'retired: yes' or leave it out"),
                                );
                            }
                        };
                    } else if let Some(slug) = item.strip_prefix("slug:") {
                        Slug::parse(slug.trim())
                            .or_else(|e| err(line_no, format!("the badge slug '{}': {e}", slug.trim())))?;
                        badge.2 = Some(slug.trim().to_owned());
                    } else {
                        push_line(&mut badge.4, line);
                    }
                    continue;
                }
                if let Some(rest) = heading(trimmed, 3) {
                    if rest.eq_ignore_ascii_case("review") {
                        let Some(week) = weeks.last() else {
                            return err(line_no, "'### Review' must be inside a '## Week N' section");
                        };
                        if in_review {
                            return err(line_no, format!("week {} already has a '### Review' section", week.number));
                        }
                        in_review = true;
                        review_line = line_no;
                        continue;
                    }
                    if in_review {
                        return err(line_no, "the '### Review' section must be the last part of its week");
                    }
                }
            }
            let Some(week) = weeks.last_mut() else {
                if title.is_some() {
                    push_line(&mut intro, line);
                }
                continue;
            };
            if in_review {
                let q = trimmed.trim_start_matches(['-', '*', '+']).trim();
                let q = strip_ordinal(q);
                if !q.is_empty() {
                    week.review_questions.push(q.to_owned());
                }
                continue;
            }
            for (url, title) in links(line) {
                if !(url.starts_with("https://") || url.starts_with("http://")) {
                    return err(line_no, format!("the link '{url}' must start with https:// or http://"));
                }
                if url.chars().any(char::is_whitespace) || url.len() < 10 {
                    return err(line_no, format!("the link '{url}' is not a valid web address"));
                }
                week.materials.push(Material { title, url });
            }
            push_line(&mut week.prompt, line);
        }
        if in_fence {
            return err(source.lines().count(), "a code block (```) is not closed");
        }
        close_review(&weeks, in_review, review_line)?;
        let Some(title) = title else {
            return err(1, "the file is empty; a syllabus starts with a title like '# Intro to Data'");
        };
        if weeks.is_empty() {
            return err(source.lines().count().max(1), "no weeks: add sections like '## Week 1: Getting started'");
        }
        for week in &mut weeks {
            week.prompt = week.prompt.trim().to_owned();
        }
        if let Some(empty) = weeks.iter().find(|w| w.prompt.is_empty()) {
            let line = source
                .lines()
                .position(|l| heading(l.trim(), 2).is_some_and(|h| parse_week_number(h) == Some(empty.number)))
                .map_or(0, |p| p + 1);
            return err(line, format!("week {} has no prompt text under its heading", empty.number));
        }
        let mut defs: Vec<BadgeDef> = Vec::new();
        for (line, name, slug, rule, description, retired) in badges {
            let Some(rule) = rule else {
                return err(
                    line,
                    format!(
                        "the badge '{name}' needs an 'earned:' line (criteria, 'by organizer', 'by N nominations' or 'by holders')"
                    ),
                );
            };
            let slug = match slug {
                Some(s) => Slug::parse(&s).or_else(|e| err(line, e.to_string()))?,
                None => Slug::from_name(&name)
                    .or_else(|_| err(line, format!("give the badge '{name}' a '- slug: short-name' line")))?,
            };
            if defs.iter().any(|d| d.slug == slug) {
                return err(line, format!("two badges are called '{slug}'"));
            }
            let description = description.trim().to_owned();
            let description = if description.is_empty() { name.clone() } else { description };
            defs.push(BadgeDef { slug, name, description, rule, retired });
        }
        Ok(Syllabus { title, intro: intro.trim().to_owned(), weeks, badges: defs, source: source.to_owned() })
    }
}

impl Syllabus {
    /// `new` loaded over this syllabus after `posted` weeks were posted: the weeks already posted
    /// keep the text they were posted with, and every badge someone holds (`held`) stays, retired
    /// when `new` no longer offers it. The result is written as Markdown (what is stored) and
    /// parsed again, so it is exactly what a later load reads back.
    ///
    /// # Errors
    /// When the merged file does not parse (which would be a bug here, not the organizer's).
    pub fn merged_over(&self, new: &Syllabus, posted: u32, held: &[Slug]) -> Result<Syllabus, SyllabusError> {
        let old = Sections::of(&self.source);
        let fresh = Sections::of(&new.source);
        let mut md = fresh.preamble.clone();
        let posted = usize::try_from(posted).unwrap_or(usize::MAX);
        for (i, week) in fresh.weeks.iter().enumerate() {
            let text = if i < posted { old.weeks.get(i).unwrap_or(week) } else { week };
            push_section(&mut md, text);
        }
        let retired: Vec<&BadgeDef> = self
            .badges
            .iter()
            .filter(|b| held.contains(&b.slug) && !new.badges.iter().any(|n| n.slug == b.slug))
            .collect();
        match &fresh.badges {
            Some(section) => push_section(&mut md, section),
            None if !retired.is_empty() => push_section(&mut md, "## Badges"),
            None => {}
        }
        for b in retired {
            let mut text =
                format!("### {}\n- slug: {}\n- earned: {}\n- retired: yes\n", b.name, b.slug, b.rule.source());
            if b.description != b.name {
                text.push_str(&b.description);
                text.push('\n');
            }
            push_section(&mut md, &text);
        }
        Syllabus::parse(&md)
    }
}

fn push_section(md: &mut String, text: &str) {
    if !md.is_empty() && !md.ends_with("\n\n") {
        md.push_str(if md.ends_with('\n') { "\n" } else { "\n\n" });
    }
    md.push_str(text.trim_end());
    md.push('\n');
}

/// A syllabus file cut at its `## ` headings (outside code blocks): what comes before week 1,
/// each week's section, and the badges section.
struct Sections {
    preamble: String,
    weeks: Vec<String>,
    badges: Option<String>,
}

impl Sections {
    fn of(source: &str) -> Sections {
        let mut out = Sections { preamble: String::new(), weeks: Vec::new(), badges: None };
        let mut in_fence = false;
        // 0: preamble, 1: a week, 2: badges.
        let mut part = 0;
        for line in source.lines() {
            let trimmed = line.trim();
            if trimmed.starts_with("```") || trimmed.starts_with("~~~") {
                in_fence = !in_fence;
            }
            if !in_fence && let Some(rest) = heading(trimmed, 2) {
                if rest.eq_ignore_ascii_case("badges") {
                    part = 2;
                    out.badges = Some(String::new());
                } else {
                    part = 1;
                    out.weeks.push(String::new());
                }
            }
            let target = match part {
                0 => &mut out.preamble,
                1 => out.weeks.last_mut().expect("a week was started"),
                _ => out.badges.get_or_insert_with(String::new),
            };
            target.push_str(line);
            target.push('\n');
        }
        out
    }
}

fn close_review(weeks: &[WeekPlan], in_review: bool, review_line: usize) -> Result<(), SyllabusError> {
    if in_review
        && let Some(week) = weeks.last()
        && week.review_questions.is_empty()
    {
        return err(review_line, format!("week {}'s '### Review' section has no questions", week.number));
    }
    Ok(())
}

fn heading(line: &str, level: usize) -> Option<&str> {
    let hashes = line.chars().take_while(|c| *c == '#').count();
    if hashes != level {
        return None;
    }
    let rest = &line[level..];
    if rest.is_empty() {
        return Some("");
    }
    rest.strip_prefix(' ').map(str::trim)
}

fn parse_week_number(rest: &str) -> Option<u32> {
    let rest = rest.strip_prefix("Week ").or_else(|| rest.strip_prefix("week "))?;
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

fn parse_week_heading(rest: &str, expected: u32, line: usize) -> Result<WeekPlan, SyllabusError> {
    let Some(number) = parse_week_number(rest) else {
        return err(line, format!("expected a week heading like '## Week {expected}: title', found '## {rest}'"));
    };
    if number != expected {
        return err(line, format!("weeks must be numbered in order: expected week {expected}, found week {number}"));
    }
    let after_number =
        rest.split_once(char::is_whitespace).map(|x| x.1).unwrap_or("").trim_start_matches(char::is_numeric);
    let title = match after_number.trim().strip_prefix(':') {
        Some(t) if !t.trim().is_empty() => t.trim().to_owned(),
        Some(_) => return err(line, format!("week {number} has an empty title after the colon")),
        None if after_number.trim().is_empty() => format!("Week {number}"),
        None => return err(line, format!("write the week heading as '## Week {number}: title'")),
    };
    Ok(WeekPlan { number, title, prompt: String::new(), materials: Vec::new(), review_questions: Vec::new() })
}

fn push_line(buffer: &mut String, line: &str) {
    buffer.push_str(line);
    buffer.push('\n');
}

fn strip_ordinal(q: &str) -> &str {
    let digits = q.chars().take_while(char::is_ascii_digit).count();
    if digits > 0
        && let Some(rest) = q[digits..].strip_prefix(". ").or_else(|| q[digits..].strip_prefix(") "))
    {
        return rest.trim();
    }
    q
}

/// Markdown links `[title](url)` and bare `http(s)://` URLs in a line, as `(url, title)`.
fn links(line: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = line;
    let mut consumed_ranges: Vec<(usize, usize)> = Vec::new();
    let mut offset = 0;
    while let Some(open) = rest.find('[') {
        let Some(close_rel) = rest[open..].find("](") else { break };
        let close = open + close_rel;
        let Some(end_rel) = rest[close + 2..].find(')') else { break };
        let end = close + 2 + end_rel;
        let title = rest[open + 1..close].trim().to_owned();
        let url = rest[close + 2..end].trim().to_owned();
        out.push((url, title));
        consumed_ranges.push((offset + open, offset + end));
        offset += end + 1;
        rest = &rest[end + 1..];
    }
    let mut search_from = 0;
    while let Some(pos) = line[search_from..].find("http") {
        let start = search_from + pos;
        let inside_link = consumed_ranges.iter().any(|(a, b)| start >= *a && start <= *b);
        let tail = &line[start..];
        if !inside_link && (tail.starts_with("http://") || tail.starts_with("https://")) {
            let url: String =
                tail.chars().take_while(|c| !c.is_whitespace() && !matches!(c, '<' | '>' | ')' | '"')).collect();
            let url = url.trim_end_matches(['.', ',', ';']).to_owned();
            out.push((url.clone(), url));
        }
        search_from = start + 4;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "# Intro to Data\nWelcome!\n\n## Week 1: Getting started\nRead the basics.\n- [Basics](https://example.org/basics)\n- https://example.org/more\n\n### Review\n- Is the question clear?\n- 2. What would you add?\n\n## Week 2: Cleaning\nClean a dataset.\n```\n## not a heading\n```\n";

    #[test]
    fn a_well_formed_syllabus_parses_into_weeks() {
        let s = Syllabus::parse(GOOD).unwrap();
        assert_eq!(s.title, "Intro to Data");
        assert_eq!(s.intro, "Welcome!");
        assert_eq!(s.len(), 2);
        let w1 = s.week(1).unwrap();
        assert_eq!(w1.title, "Getting started");
        assert_eq!(w1.materials.len(), 2);
        assert_eq!(w1.materials[0], Material { title: "Basics".into(), url: "https://example.org/basics".into() });
        assert_eq!(w1.review_questions, vec!["Is the question clear?", "What would you add?"]);
        assert!(!w1.prompt.contains("Is the question clear"));
        assert!(s.week(2).unwrap().prompt.contains("## not a heading"));
        assert!(s.week(3).is_none());
        assert!(s.week(0).is_none());
    }

    fn line_of(source: &str) -> (usize, String) {
        let e = Syllabus::parse(source).unwrap_err();
        (e.line, e.message)
    }

    #[test]
    fn invalid_syllabi_name_the_line_and_the_problem() {
        assert_eq!(line_of("").0, 1);
        assert_eq!(line_of("Intro\n## Week 1: a\nx").0, 1);
        assert_eq!(line_of("# T\n## Week 2: a\nx").0, 2);
        assert!(line_of("# T\n## Week 2: a\nx").1.contains("expected week 1"));
        assert_eq!(line_of("# T\n## Week 1: a\nx\n## Week 3: b\ny").0, 4);
        assert_eq!(line_of("# T\n## Week 1: a\n\n## Week 2: b\ny").0, 2);
        assert_eq!(line_of("# T\n## Week 1: a\nsee [x](ftp://x.org/y)").0, 3);
        assert_eq!(line_of("# T\n## Week 1: a\nx\n### Review\n\n## Week 2: b\ny").0, 4);
        assert_eq!(line_of("# T\n## Schedule\nx").0, 2);
        assert_eq!(line_of("# T\nintro only").0, 2);
        assert_eq!(line_of("# T\n# U\n## Week 1: a\nx").0, 2);
        assert_eq!(line_of("# T\n## Week 1: a\nx\n```\nopen").0, 5);
        assert_eq!(line_of("# T\n## Week 1: a\nx\u{202E}y").0, 3);
        assert_eq!(line_of("# T\n### Review\n- q").0, 2);
        assert_eq!(line_of(&format!("# T\n## Week 1: a\n{}", "x".repeat(MAX_BYTES))).0, 0);
    }

    #[test]
    fn badges_are_read_from_their_section() {
        let s = Syllabus::parse("# T\n## Week 1: a\nx\n## Badges\n### Finisher\nDid it all.\n- earned: weeks >= 1, on time\n### Helper\n- slug: helpful\n- earned: by 2 nominations\n").unwrap();
        assert_eq!(s.badges.len(), 2);
        assert_eq!(s.badges[0].slug.as_str(), "finisher");
        assert_eq!(s.badges[0].description, "Did it all.");
        assert_eq!(s.badges[1].slug.as_str(), "helpful");
        assert_eq!(s.badges[1].rule, BadgeRule::Nominations(2));
        assert_eq!(s.badges[1].description, "Helper");
        assert_eq!(line_of("# T\n## Week 1: a\nx\n## Badges\n### Finisher\n- earned: sometimes").0, 6);
        assert_eq!(line_of("# T\n## Week 1: a\nx\n## Badges\n### Finisher\nno rule").0, 5);
        assert_eq!(line_of("# T\n## Week 1: a\nx\n## Badges\nloose text").0, 5);
        assert_eq!(
            line_of(
                "# T\n## Week 1: a\nx\n## Badges\n### Alpha\n- earned: by holders\n### Alpha\n- earned: by holders"
            )
            .0,
            7
        );
    }

    #[test]
    fn week_headings_without_titles_get_a_default() {
        let s = Syllabus::parse("# T\n## Week 1\nDo it.").unwrap();
        assert_eq!(s.week(1).unwrap().title, "Week 1");
    }

    #[test]
    fn a_syllabus_of_more_than_52_weeks_is_refused_at_the_53rd() {
        let weeks = |n: u32| -> String {
            let mut md = String::from("# Long\n");
            for w in 1..=n {
                md.push_str(&format!("## Week {w}: w{w}\nx\n"));
            }
            md
        };
        assert_eq!(Syllabus::parse(&weeks(52)).unwrap().len(), 52);
        let e = Syllabus::parse(&weeks(1000)).unwrap_err();
        assert!(e.to_string().contains("at most 52 weeks"), "{e}");
        assert!(e.to_string().contains("line 106"), "{e}");
    }
}
