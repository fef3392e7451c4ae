//! Chat commands: parsed from text into an enum of structs, or a usage error.
//!
//! Parsing checks everything that can be checked without state (slugs, dates, zones, cron,
//! lengths), so the decision code only ever sees well-formed values. Every error names what was
//! wrong and carries the usage line of the command, which the reply repeats.

use chrono::NaiveDate;

use crate::ids::{AssignmentId, Slug, Zone, clean_free_text, is_invisible};
use crate::schedule::{Offset, PromptSchedule};
use crate::syllabus;

/// Longest ordinary command, in characters.
pub const MAX_COMMAND_CHARS: usize = 4000;
/// Most weeks a course can have.
pub const MAX_WEEKS: u32 = 52;
/// Most peer reviews per submission.
pub const MAX_REVIEWS: u32 = 5;

/// Who may use a command; `!help` lists those the caller qualifies for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Audience {
    /// Anyone who can talk to the bot.
    Everyone,
    /// Members of the course the room belongs to.
    Member,
    /// Learners of the course.
    Learner,
    /// Organizers of the course (and bot admins).
    Organizer,
    /// Bot admins from the config.
    Admin,
}

/// Usage text of one command.
#[derive(Debug)]
pub struct Usage {
    /// The command word(s): `course new`.
    pub name: &'static str,
    /// The syntax line.
    pub syntax: &'static str,
    /// One line.
    pub summary: &'static str,
    /// More detail for `!help NAME`.
    pub details: &'static str,
    /// Who may use it, for filtering `!help`.
    pub audience: Audience,
    /// Who may use it, in words (the README's table): finer than the audience.
    pub who: &'static str,
}

/// Every command, in the order `!help` lists them.
pub const COMMANDS: &[Usage] = &[
    Usage {
        name: "help",
        who: "everyone",
        syntax: "!help [command]",
        summary: "list the commands you can use, or explain one",
        details: "",
        audience: Audience::Everyone,
    },
    Usage {
        name: "courses",
        who: "everyone",
        syntax: "!courses",
        summary: "list the courses you can join",
        details: "",
        audience: Audience::Everyone,
    },
    Usage {
        name: "ping",
        who: "everyone",
        syntax: "!ping",
        summary: "check that the bot answers",
        details: "",
        audience: Audience::Everyone,
    },
    Usage {
        name: "join",
        who: "everyone",
        syntax: "!join COURSE",
        summary: "join a course as a learner",
        details: "COURSE is the course's short name, as `!courses` shows it (for example `data-101`).",
        audience: Audience::Everyone,
    },
    Usage {
        name: "leave",
        who: "everyone",
        syntax: "!leave COURSE",
        summary: "leave a course",
        details: "Your submissions stay in the course record.",
        audience: Audience::Everyone,
    },
    Usage {
        name: "tz",
        who: "everyone",
        syntax: "!tz [Area/City]",
        summary: "set (or show) your time zone for deadlines",
        details: "Use an IANA zone name such as `Europe/Berlin`, `America/Sao_Paulo` or `UTC`.",
        audience: Audience::Everyone,
    },
    Usage {
        name: "progress",
        who: "everyone (your own)",
        syntax: "!progress",
        summary: "your submissions week by week, reviews given, open and received, and badges",
        details: "In a course room: that course. Elsewhere: all your courses.",
        audience: Audience::Everyone,
    },
    Usage {
        name: "syllabus",
        who: "members",
        syntax: "!syllabus [week]",
        summary: "show the syllabus, or one week of it",
        details: "Use it in the course room.",
        audience: Audience::Member,
    },
    Usage {
        name: "submit",
        who: "learners",
        syntax: "!submit [week N] <text or link>",
        summary: "submit your work for the current week (or week N); again is a revision",
        details: "A second submission for the same week is a revision; the history is kept. Late work is accepted and marked late.",
        audience: Audience::Learner,
    },
    Usage {
        name: "reviews",
        who: "learners, mentors",
        syntax: "!reviews [more [COURSE]]",
        summary: "see your open review assignments, or ask for one more",
        details: "`!reviews more` hands you the week's least-reviewed work you haven't reviewed (in the course room, or name the COURSE). Your assignments come by direct message.",
        audience: Audience::Member,
    },
    Usage {
        name: "review",
        who: "the assignment's reviewer",
        syntax: "!review ID <feedback> [score=1..5]",
        summary: "record your review of an assignment",
        details: "ID is the assignment's number from its direct message. Send it again to revise; the author gets each version by direct message, with your name or anonymously as the course says.",
        audience: Audience::Member,
    },
    Usage {
        name: "badges",
        who: "everyone",
        syntax: "!badges [@user]",
        summary: "the course's badges and who holds them, or someone's badges",
        details: "",
        audience: Audience::Everyone,
    },
    Usage {
        name: "badge nominate",
        who: "members",
        syntax: "!badge nominate @user BADGE <reason>",
        summary: "nominate a peer for a badge earned by nomination",
        details: "Use it in the course room. You can't nominate yourself; the syllabus says how many nominations the badge needs.",
        audience: Audience::Member,
    },
    Usage {
        name: "badge award",
        who: "organizers; holders of a \"by holders\" badge",
        syntax: "!badge award @user BADGE [reason]",
        summary: "award a badge",
        details: "Organizers can award any badge; people who hold a badge the syllabus marks \"by holders\" can award that one while they are in the course.",
        audience: Audience::Member,
    },
    Usage {
        name: "status",
        who: "organizers",
        syntax: "!status",
        summary: "per week: submitted, late, revised, reviews done and assigned, escalated",
        details: "Use it in the course room.",
        audience: Audience::Organizer,
    },
    Usage {
        name: "pair",
        who: "organizers",
        syntax: "!pair [week N]",
        summary: "pair reviewers now instead of at the deadline",
        details: "Use it in the course room; without a week, the current one.",
        audience: Audience::Organizer,
    },
    Usage {
        name: "syllabus load",
        who: "organizers",
        syntax: "!syllabus load <Markdown on the following lines>",
        summary: "load or replace the course's syllabus",
        details: "The Markdown follows the command in the same message: a `# Title`, then `## Week N: title` sections with the prompt and links, and an optional `### Review` list per week. Past weeks are not rewritten.",
        audience: Audience::Organizer,
    },
    Usage {
        name: "course pause",
        who: "organizers",
        syntax: "!course pause",
        summary: "hold the schedule (no prompts until resumed)",
        details: "",
        audience: Audience::Organizer,
    },
    Usage {
        name: "course resume",
        who: "organizers",
        syntax: "!course resume",
        summary: "pick the schedule up again",
        details: "The next week starts at the next scheduled time after resuming.",
        audience: Audience::Organizer,
    },
    Usage {
        name: "course end",
        who: "organizers",
        syntax: "!course end",
        summary: "close the course",
        details: "No more joins, prompts or submissions.",
        audience: Audience::Organizer,
    },
    Usage {
        name: "course set",
        who: "organizers",
        syntax: "!course set KEY=VALUE ...",
        summary: "change course settings and re-plan its schedule",
        details: "Keys: title=\"...\", school=NAME, cycle=NAME, start=YYYY-MM-DD, weeks=N, tz=Area/City, prompt=\"CRON\", deadline=5d (time after each prompt; also h, m, s), reviews=N (peer reviews per submission), review=2d (review deadline after the submission deadline), lease=48h (time a reviewer has before an assignment is handed on), anonymous=yes|no (hide reviewers' names from authors), threads=yes|no (each week's prompt opens a thread; `!submit` in it counts for that week).",
        audience: Audience::Organizer,
    },
    Usage {
        name: "organizer",
        who: "organizers",
        syntax: "!organizer add|remove @user",
        summary: "add or remove an organizer of this course",
        details: "",
        audience: Audience::Organizer,
    },
    Usage {
        name: "mentor",
        who: "organizers",
        syntax: "!mentor add|remove @user",
        summary: "add or remove a mentor of this course",
        details: "",
        audience: Audience::Organizer,
    },
    Usage {
        name: "course new",
        who: "bot admins",
        syntax: "!course new SLUG \"Title\" [school=S] [start=YYYY-MM-DD] [weeks=N] [tz=Area/City] [prompt=\"CRON\"] [deadline=5d] [cycle=NAME]",
        summary: "create a course and its room",
        details: "Defaults: start today, 6 weeks, UTC, prompts Mondays 09:00 (\"0 9 * * Mon\"; 5-field cron, or 6 fields with seconds first), submissions due 5 days after each prompt.",
        audience: Audience::Admin,
    },
];

/// The usage entry for a command name.
pub fn usage(name: &str) -> Option<&'static Usage> {
    COMMANDS.iter().find(|u| u.name == name)
}

/// The README's table of commands, generated from [`COMMANDS`] (a test keeps the README's copy,
/// between its `commands` markers, equal to this).
pub fn markdown_table() -> String {
    let mut out = String::from("| command | who | what |\n|---|---|---|\n");
    for u in COMMANDS {
        let syntax = u.syntax.replace('|', "\\|");
        out.push_str(&format!("| `{syntax}` | {} | {} |\n", u.who, u.summary));
    }
    out
}

/// The syntax line of a command, as `!help` shows it: the one place usage text is written.
pub fn syntax(name: &str) -> &'static str {
    usage(name).map_or("!help", |u| u.syntax)
}

/// Add or remove.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RoleAction {
    /// Add.
    Add,
    /// Remove.
    Remove,
}

/// A user as written in a command (`@ana`, `@ana:example.org`, `<@81234>`); the runtime asks the
/// adapter what account it names.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Mention(pub String);

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
}

impl SettingsPatch {
    /// True if nothing is set.
    pub fn is_empty(&self) -> bool {
        *self == SettingsPatch::default()
    }
}

/// A parsed command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    /// `!help [topic]`.
    Help {
        /// A command name.
        topic: Option<String>,
    },
    /// `!courses`.
    Courses,
    /// `!ping`.
    Ping,
    /// `!join COURSE`.
    Join {
        /// Which course.
        course: Slug,
    },
    /// `!leave COURSE`.
    Leave {
        /// Which course.
        course: Slug,
    },
    /// `!tz [zone]`.
    Tz {
        /// The zone to set; `None` shows the current one.
        zone: Option<Zone>,
    },
    /// `!progress`.
    Progress,
    /// `!syllabus [week]`.
    Syllabus {
        /// One week, or the overview.
        week: Option<u32>,
    },
    /// `!syllabus load` with the Markdown.
    SyllabusLoad {
        /// The syllabus, already checked, or what is wrong with it. A wrong syllabus is still
        /// this command, so who may load one is checked before what is wrong with it is told.
        syllabus: Result<Box<syllabus::Syllabus>, String>,
    },
    /// `!submit [week N] body`.
    Submit {
        /// Explicit week.
        week: Option<u32>,
        /// The work (text or link).
        body: String,
    },
    /// `!status`.
    Status,
    /// `!course new`.
    CourseNew {
        /// Slug.
        slug: Slug,
        /// Title and the other settings (boxed: a parsed cron schedule is large).
        settings: Box<SettingsPatch>,
    },
    /// `!course pause`.
    CoursePause,
    /// `!course resume`.
    CourseResume,
    /// `!course end`.
    CourseEnd,
    /// `!course set`.
    CourseSet {
        /// What changes.
        settings: Box<SettingsPatch>,
    },
    /// `!organizer add|remove @user`.
    Organizer {
        /// Add or remove.
        action: RoleAction,
        /// Who.
        user: Mention,
    },
    /// `!mentor add|remove @user`.
    Mentor {
        /// Add or remove.
        action: RoleAction,
        /// Who.
        user: Mention,
    },
    /// `!pair [week N]`.
    Pair {
        /// Which week (default: the current one).
        week: Option<u32>,
    },
    /// `!reviews` / `!reviews more [COURSE]`.
    Reviews {
        /// Ask for more work.
        more: bool,
        /// In which course.
        course: Option<Slug>,
    },
    /// `!review ID feedback [score=N]`.
    Review {
        /// The assignment.
        id: AssignmentId,
        /// Feedback.
        feedback: String,
        /// Score 1 to 5.
        score: Option<u8>,
    },
    /// `!badges [@user]`.
    Badges {
        /// Whose.
        user: Option<Mention>,
    },
    /// `!badge award @user BADGE [reason]`.
    BadgeAward {
        /// Who.
        user: Mention,
        /// Which badge.
        badge: Slug,
        /// Why.
        reason: Option<String>,
    },
    /// `!badge nominate @user BADGE reason`.
    BadgeNominate {
        /// Who.
        user: Mention,
        /// Which badge.
        badge: Slug,
        /// Why.
        reason: String,
    },
}

impl Command {
    /// A stable name for counting commands by kind (`submit`, `course set`).
    pub fn name(&self) -> &'static str {
        match self {
            Command::Help { .. } => "help",
            Command::Courses => "courses",
            Command::Ping => "ping",
            Command::Join { .. } => "join",
            Command::Leave { .. } => "leave",
            Command::Tz { .. } => "tz",
            Command::Progress => "progress",
            Command::Syllabus { .. } => "syllabus",
            Command::SyllabusLoad { .. } => "syllabus load",
            Command::Submit { .. } => "submit",
            Command::Status => "status",
            Command::CourseNew { .. } => "course new",
            Command::CoursePause => "course pause",
            Command::CourseResume => "course resume",
            Command::CourseEnd => "course end",
            Command::CourseSet { .. } => "course set",
            Command::Organizer { .. } => "organizer",
            Command::Mentor { .. } => "mentor",
            Command::Pair { .. } => "pair",
            Command::Reviews { .. } => "reviews",
            Command::Review { .. } => "review",
            Command::Badges { .. } => "badges",
            Command::BadgeAward { .. } => "badge award",
            Command::BadgeNominate { .. } => "badge nominate",
        }
    }

    /// The users this command names, for the runtime to resolve.
    pub fn mentions(&self) -> Vec<&Mention> {
        match self {
            Command::Organizer { user, .. }
            | Command::Mentor { user, .. }
            | Command::BadgeAward { user, .. }
            | Command::BadgeNominate { user, .. }
            | Command::Badges { user: Some(user) } => vec![user],
            _ => Vec::new(),
        }
    }
}

/// A command that could not be parsed: what is wrong, and the usage to show.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{problem}")]
pub struct CommandError {
    /// What is wrong, in a sentence.
    pub problem: String,
    /// The command's usage, if the command was recognised.
    pub usage: Option<&'static str>,
}

fn fail<T>(problem: impl Into<String>, name: &str) -> Result<T, CommandError> {
    Err(CommandError { problem: problem.into(), usage: usage(name).map(|u| u.syntax) })
}

/// Parses a chat message. `None` when it is not a command (does not start with `!`).
pub fn parse(text: &str) -> Option<Result<Command, CommandError>> {
    let text = text.trim_start();
    let body = text.strip_prefix('!')?;
    Some(parse_body(body))
}

fn parse_body(body: &str) -> Result<Command, CommandError> {
    let (word, rest) = split_word(body);
    let word = word.to_lowercase();
    if word.is_empty() {
        return Err(CommandError {
            problem: "that is an empty command. Send `!help` to see what I can do.".into(),
            usage: None,
        });
    }
    if let Some(c) = word.chars().find(|c| is_invisible(*c)) {
        return Err(CommandError {
            problem: format!(
                "the command contains an invisible character (U+{:04X}); type it again without it.",
                c as u32
            ),
            usage: None,
        });
    }
    let is_syllabus_load = word == "syllabus" && split_word(rest).0.eq_ignore_ascii_case("load");
    let limit = if is_syllabus_load { syllabus::MAX_BYTES + 64 } else { MAX_COMMAND_CHARS };
    let length = body.chars().count() + 1;
    if length > limit && is_syllabus_load {
        return Ok(Command::SyllabusLoad {
            syllabus: Err(format!("that syllabus is too long ({length} characters; at most {limit}).")),
        });
    }
    if length > limit {
        return Err(CommandError {
            problem: format!("that message is too long ({length} characters; at most {limit})."),
            usage: usage(&word).map(|u| u.syntax),
        });
    }
    match word.as_str() {
        "help" => {
            let args = tokens(rest, "help")?;
            match args.as_slice() {
                [] => Ok(Command::Help { topic: None }),
                [one] => Ok(Command::Help { topic: Some(one.text.trim_start_matches('!').to_lowercase()) }),
                [a, b] => Ok(Command::Help {
                    topic: Some(format!("{} {}", a.text.trim_start_matches('!'), b.text).to_lowercase()),
                }),
                _ => fail("give one command name, like `!help submit`.", "help"),
            }
        }
        "courses" => no_args(rest, "courses", Command::Courses),
        "ping" => no_args(rest, "ping", Command::Ping),
        "progress" => no_args(rest, "progress", Command::Progress),
        "status" => no_args(rest, "status", Command::Status),
        "join" => Ok(Command::Join { course: one_slug(rest, "join")? }),
        "leave" => Ok(Command::Leave { course: one_slug(rest, "leave")? }),
        "tz" => {
            let args = tokens(rest, "tz")?;
            match args.as_slice() {
                [] => Ok(Command::Tz { zone: None }),
                [one] => Zone::parse(&one.text)
                    .map(|zone| Command::Tz { zone: Some(zone) })
                    .or_else(|e| fail(format!("{e}. Use an IANA name like `Europe/Berlin` or `UTC`."), "tz")),
                _ => fail("give one time zone, like `!tz Europe/Berlin`.", "tz"),
            }
        }
        "syllabus" => parse_syllabus(rest),
        "submit" => parse_submit(rest),
        "course" => parse_course(rest),
        "organizer" | "organiser" => {
            let (action, user) = parse_role_args(rest, "organizer")?;
            Ok(Command::Organizer { action, user })
        }
        "mentor" => {
            let (action, user) = parse_role_args(rest, "mentor")?;
            Ok(Command::Mentor { action, user })
        }
        "pair" => {
            let args = tokens(rest, "pair")?;
            match args.as_slice() {
                [] => Ok(Command::Pair { week: None }),
                [w, n] if w.text.eq_ignore_ascii_case("week") => {
                    Ok(Command::Pair { week: Some(parse_week_number(&n.text, "pair")?) })
                }
                [n] => Ok(Command::Pair { week: Some(parse_week_number(&n.text, "pair")?) }),
                _ => fail("give at most one week, like `!pair week 2`.", "pair"),
            }
        }
        "reviews" => {
            let args = tokens(rest, "reviews")?;
            match args.as_slice() {
                [] => Ok(Command::Reviews { more: false, course: None }),
                [m] if m.text.eq_ignore_ascii_case("more") => Ok(Command::Reviews { more: true, course: None }),
                [m, c] if m.text.eq_ignore_ascii_case("more") => Ok(Command::Reviews {
                    more: true,
                    course: Some(parse_slug(c.text.trim_start_matches('#'), "reviews")?),
                }),
                [other, ..] => fail(
                    format!(
                        "'{}' is not an option: `!reviews` lists your assignments, `!reviews more` asks for another.",
                        short(&other.text)
                    ),
                    "reviews",
                ),
            }
        }
        "review" => parse_review(rest),
        "badges" => {
            let args = tokens(rest, "badges")?;
            match args.as_slice() {
                [] => Ok(Command::Badges { user: None }),
                [user] => Ok(Command::Badges { user: Some(mention(&user.text, "badges")?) }),
                [_, extra, ..] => fail(format!("one person at a time; unexpected '{}'.", short(&extra.text)), "badges"),
            }
        }
        "badge" => parse_badge(rest),
        other => {
            let shown: String = other.chars().take(40).collect();
            let suggestion = COMMANDS
                .iter()
                .map(|u| u.name.split(' ').next().unwrap_or(u.name))
                .find(|name| edit_distance(name, other) <= 2)
                .map(|name| format!(" Did you mean `!{name}`?"))
                .unwrap_or_default();
            Err(CommandError {
                problem: format!(
                    "I don't know the command `!{shown}`.{suggestion} Send `!help` to see the commands you can use."
                ),
                usage: None,
            })
        }
    }
}

/// A token of a command line, with its quotes removed.
#[derive(Debug, Clone)]
struct Token {
    text: String,
    /// `key=value` split, when the token had that form outside quotes.
    pair: Option<(String, String)>,
}

fn is_quote(c: char) -> Option<char> {
    match c {
        '"' => Some('"'),
        '\u{201C}' => Some('\u{201D}'),
        '\u{201E}' => Some('\u{201C}'),
        _ => None,
    }
}

fn tokens(rest: &str, name: &str) -> Result<Vec<Token>, CommandError> {
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

fn split_word(text: &str) -> (&str, &str) {
    let text = text.trim_start();
    match text.find(char::is_whitespace) {
        Some(i) => (&text[..i], &text[i..]),
        None => (text, ""),
    }
}

fn no_args(rest: &str, name: &str, cmd: Command) -> Result<Command, CommandError> {
    let args = tokens(rest, name)?;
    match args.first() {
        None => Ok(cmd),
        Some(extra) => fail(format!("`!{name}` takes no arguments, but got '{}'.", short(&extra.text)), name),
    }
}

fn short(text: &str) -> String {
    let cut: String = text.chars().take(40).collect();
    if cut.len() < text.len() { format!("{cut}…") } else { cut }
}

fn parse_slug(text: &str, name: &str) -> Result<Slug, CommandError> {
    Slug::parse(text).or_else(|e| fail(format!("'{}' is not a course name: {e}.", short(text)), name))
}

fn one_slug(rest: &str, name: &str) -> Result<Slug, CommandError> {
    let args = tokens(rest, name)?;
    match args.as_slice() {
        [] => {
            fail(format!("which course? Give its short name, like `!{name} data-101` (`!courses` lists them)."), name)
        }
        [one] => parse_slug(one.text.trim_start_matches('#'), name),
        [_, extra, ..] => fail(format!("one course at a time; unexpected '{}'.", short(&extra.text)), name),
    }
}

fn parse_week_number(text: &str, name: &str) -> Result<u32, CommandError> {
    match text.parse::<u32>() {
        Ok(n) if (1..=MAX_WEEKS).contains(&n) => Ok(n),
        _ => fail(format!("'{}' is not a week number (1 to {MAX_WEEKS}).", short(text)), name),
    }
}

fn parse_syllabus(rest: &str) -> Result<Command, CommandError> {
    let (first, after) = split_word(rest);
    if first.eq_ignore_ascii_case("load") {
        let source = after.trim_start_matches([' ', '\t']).trim_start_matches(['\r', '\n']);
        let syllabus = if source.trim().is_empty() {
            Err("put the syllabus Markdown on the lines after `!syllabus load`, in the same message, or attach it as a Markdown file.".to_owned())
        } else {
            syllabus::Syllabus::parse(source).map(Box::new).map_err(|e| format!("the syllabus was not loaded: {e}."))
        };
        return Ok(Command::SyllabusLoad { syllabus });
    }
    let args = tokens(rest, "syllabus")?;
    match args.as_slice() {
        [] => Ok(Command::Syllabus { week: None }),
        [w, n] if w.text.eq_ignore_ascii_case("week") => {
            Ok(Command::Syllabus { week: Some(parse_week_number(&n.text, "syllabus")?) })
        }
        [n] => Ok(Command::Syllabus { week: Some(parse_week_number(&n.text, "syllabus")?) }),
        _ => fail("give at most one week number, like `!syllabus 2`.", "syllabus"),
    }
}

fn parse_submit(rest: &str) -> Result<Command, CommandError> {
    let mut body = rest.trim();
    let mut week = None;
    let (first, after) = split_word(body);
    if first.eq_ignore_ascii_case("week") {
        let (n, after_n) = split_word(after);
        if n.is_empty() {
            return fail("which week? Write `!submit week 2 <your work>`.", "submit");
        }
        week = Some(parse_week_number(n, "submit")?);
        body = after_n.trim();
    }
    if body.is_empty() {
        return fail("there is nothing to submit: put your text or link after the command.", "submit");
    }
    // Control characters mean nothing in chat (a NUL would not even store) and direction
    // overrides can make a link look like another: neither has a place in a submission.
    let body = clean_free_text(body);
    if body.trim().is_empty() || body.chars().all(is_invisible) {
        return fail("the submission has only invisible characters.", "submit");
    }
    Ok(Command::Submit { week, body })
}

fn mention(text: &str, name: &str) -> Result<Mention, CommandError> {
    if text.chars().any(is_invisible) {
        return fail("the name contains an invisible character.", name);
    }
    Ok(Mention(text.to_owned()))
}

fn parse_review(rest: &str) -> Result<Command, CommandError> {
    let name = "review";
    let (id_text, after) = split_word(rest);
    if id_text.is_empty() {
        return fail(
            "which assignment? Give its number, like `!review 12 Clear and well sourced.` (`!reviews` lists yours).",
            name,
        );
    }
    let id = match id_text.trim_start_matches('#').parse::<i64>() {
        Ok(n) if n > 0 => AssignmentId(n),
        _ => return fail(format!("'{}' is not an assignment number (like 12 or #12).", short(id_text)), name),
    };
    let mut feedback = after.trim().to_owned();
    let mut score = None;
    let score_of = |word: &str| -> Option<Result<u8, CommandError>> {
        let value = word.strip_prefix("score=")?;
        Some(match value.parse::<u8>() {
            Ok(n) if (1..=5).contains(&n) => Ok(n),
            _ => fail(format!("'{}' is not a score: use score=1 to score=5.", short(value)), name),
        })
    };
    let (first, rest_after_first) = split_word(&feedback);
    if let Some(s) = score_of(first) {
        score = Some(s?);
        feedback = rest_after_first.trim().to_owned();
    } else if let Some(last) = feedback.split_whitespace().next_back()
        && let Some(s) = score_of(last)
    {
        score = Some(s?);
        let cut = feedback.len() - last.len();
        feedback = feedback[..cut].trim_end().to_owned();
    }
    let feedback = clean_free_text(&feedback);
    if feedback.trim().is_empty() || feedback.chars().all(is_invisible) {
        return fail("write your feedback after the number: what works, what could be better, and why.", name);
    }
    Ok(Command::Review { id, feedback, score })
}

fn parse_badge(rest: &str) -> Result<Command, CommandError> {
    let (action, after) = split_word(rest);
    let action = action.to_lowercase();
    let name = match action.as_str() {
        "award" => "badge award",
        "nominate" => "badge nominate",
        "" => {
            return fail(
                "`!badge` needs award or nominate, like `!badge award @ana finisher Great work`.",
                "badge award",
            );
        }
        other => {
            return fail(format!("'{}' is not a badge action: use award or nominate.", short(other)), "badge award");
        }
    };
    let (user, after_user) = split_word(after);
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
    let reason = clean_free_text(reason);
    let reason = reason.trim();
    if name == "badge nominate" {
        if reason.is_empty() {
            return fail("say why you nominate them, after the badge name.", name);
        }
        return Ok(Command::BadgeNominate { user, badge, reason: reason.to_owned() });
    }
    Ok(Command::BadgeAward { user, badge, reason: (!reason.is_empty()).then(|| reason.to_owned()) })
}

fn parse_role_args(rest: &str, name: &str) -> Result<(RoleAction, Mention), CommandError> {
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

fn parse_course(rest: &str) -> Result<Command, CommandError> {
    let (sub, after) = split_word(rest);
    match sub.to_lowercase().as_str() {
        "new" | "create" => parse_course_new(after),
        "pause" => no_args(after, "course pause", Command::CoursePause),
        "resume" => no_args(after, "course resume", Command::CourseResume),
        "end" => no_args(after, "course end", Command::CourseEnd),
        "set" => {
            let args = tokens(after, "course set")?;
            if args.is_empty() {
                return fail("what should change? Give KEY=VALUE pairs, like `!course set deadline=4d`.", "course set");
            }
            let settings = parse_settings(&args, "course set")?;
            Ok(Command::CourseSet { settings: Box::new(settings) })
        }
        "" => fail("`!course` needs a subcommand: new, pause, resume, end or set.", "course set").map_err(
            |mut e: CommandError| {
                e.usage = Some("!course new|pause|resume|end|set ...");
                e
            },
        ),
        other => Err(CommandError {
            problem: format!("'{}' is not a course subcommand: use new, pause, resume, end or set.", short(other)),
            usage: Some("!course new|pause|resume|end|set ..."),
        }),
    }
}

fn parse_course_new(after: &str) -> Result<Command, CommandError> {
    let name = "course new";
    let args = tokens(after, name)?;
    let positional: Vec<&Token> = args.iter().filter(|t| t.pair.is_none()).collect();
    let pairs: Vec<Token> = args.iter().filter(|t| t.pair.is_some()).cloned().collect();
    let Some(slug) = positional.first() else {
        return fail("give the course a short name and a title, like `!course new data-101 \"Intro to Data\"`.", name);
    };
    let slug = parse_slug(&slug.text, name)?;
    let Some(title) = positional.get(1) else {
        return fail("the course needs a title in quotes, like `!course new data-101 \"Intro to Data\"`.", name);
    };
    if let Some(extra) = positional.get(2) {
        return fail(format!("unexpected '{}': put the title in quotes if it has spaces.", short(&extra.text)), name);
    }
    let mut settings = parse_settings(&pairs, name)?;
    if settings.title.is_some() {
        return fail("give the title once, after the short name.", name);
    }
    settings.title = Some(check_title(&title.text, name)?);
    Ok(Command::CourseNew { slug, settings: Box::new(settings) })
}

fn check_title(title: &str, name: &str) -> Result<String, CommandError> {
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

fn parse_settings(args: &[Token], name: &str) -> Result<SettingsPatch, CommandError> {
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
            other => {
                return fail(
                    format!(
                        "'{}' is not a course setting; the settings are title, school, cycle, start, weeks, tz, prompt, deadline, reviews, review, lease, anonymous and threads.",
                        short(other)
                    ),
                    name,
                );
            }
        }
    }
    Ok(s)
}

fn edit_distance(a: &str, b: &str) -> usize {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(text: &str) -> Command {
        parse(text).expect("a command").expect("parses")
    }
    fn bad(text: &str) -> CommandError {
        parse(text).expect("a command").expect_err("refused")
    }

    #[test]
    fn plain_chat_is_not_a_command() {
        assert!(parse("hello everyone").is_none());
    }

    #[test]
    fn course_new_takes_a_quoted_title_and_settings() {
        let Command::CourseNew { slug, settings } = ok(
            "!course new data-101 \"Intro to Data\" school=\"School of Data\" weeks=3 tz=Europe/Berlin prompt=\"0 9 * * Mon\" deadline=4d",
        ) else {
            panic!("wrong command")
        };
        assert_eq!(slug.as_str(), "data-101");
        assert_eq!(settings.title.as_deref(), Some("Intro to Data"));
        assert_eq!(settings.school.as_deref(), Some("School of Data"));
        assert_eq!(settings.weeks, Some(3));
        assert_eq!(settings.deadline, Some(Offset::days(4)));
        assert_eq!(settings.prompt.unwrap().source(), "0 9 * * Mon");
    }

    #[test]
    fn smart_quotes_work_like_straight_ones() {
        let Command::CourseNew { settings, .. } = ok("!course new data-101 \u{201C}Intro to Data\u{201D}") else {
            panic!()
        };
        assert_eq!(settings.title.as_deref(), Some("Intro to Data"));
    }

    #[test]
    fn submit_takes_an_optional_week_and_keeps_the_body_verbatim() {
        assert_eq!(ok("!submit https://x.org/a  b"), Command::Submit { week: None, body: "https://x.org/a  b".into() });
        assert_eq!(ok("!submit week 2 my text"), Command::Submit { week: Some(2), body: "my text".into() });
        assert!(bad("!submit").problem.contains("nothing to submit"));
        assert!(bad("!submit week x y").problem.contains("not a week number"));
        assert!(bad("!submit week 0 y").problem.contains("not a week number"));
    }

    #[test]
    fn errors_carry_the_usage_line() {
        let e = bad("!join");
        assert_eq!(e.usage, Some("!join COURSE"));
        let e = bad("!course new data-101 \"Intro");
        assert!(e.problem.contains("quote is not closed"));
        assert!(bad("!course new x1 T start=2026-13-01").problem.contains("YYYY-MM-DD"));
        assert!(bad("!course new x1 T tz=Mars/Base").problem.contains("Mars/Base"));
        assert!(bad("!course new x1 T prompt=\"0 9 * *\"").problem.contains("5 fields"));
        assert!(bad("!course new x1 T color=red").problem.contains("not a course setting"));
        assert!(bad("!course new x1 T weeks=2 weeks=3").problem.contains("twice"));
        assert!(bad("!courses please").problem.contains("no arguments"));
    }

    #[test]
    fn unknown_commands_suggest_a_near_one() {
        let e = bad("!sumbit hi");
        assert!(e.problem.contains("`!submit`"), "{}", e.problem);
        assert!(bad("!").problem.contains("empty command"));
    }

    #[test]
    fn every_command_the_parser_knows_has_one_help_entry_and_every_entry_a_command() {
        let samples = [
            "!help",
            "!courses",
            "!ping",
            "!join data-101",
            "!leave data-101",
            "!tz UTC",
            "!progress",
            "!syllabus",
            "!syllabus load\n# T\n## Week 1: a\nx",
            "!submit x",
            "!status",
            "!course new c1 \"T\"",
            "!course pause",
            "!course resume",
            "!course end",
            "!course set weeks=3",
            "!organizer add @ana",
            "!mentor add @ana",
            "!pair",
            "!reviews",
            "!review 1 Clear.",
            "!badges",
            "!badge award @ana star",
            "!badge nominate @ana star Helped everyone.",
        ];
        let parsed: std::collections::BTreeSet<&str> = samples.iter().map(|t| ok(t).name()).collect();
        let listed: std::collections::BTreeSet<&str> = COMMANDS.iter().map(|u| u.name).collect();
        assert_eq!(parsed, listed);
        assert_eq!(listed.len(), COMMANDS.len(), "one entry per command");
        for u in COMMANDS {
            assert!(u.syntax.starts_with(&format!("!{}", u.name)), "{}: {}", u.name, u.syntax);
        }
    }

    #[test]
    fn the_readme_command_table_is_the_catalogues() {
        let readme = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md"));
        let (start, end) =
            ("<!-- commands: generated from COMMANDS in bot/src/command.rs -->\n", "<!-- commands end -->");
        let from = readme.find(start).expect("the README marks its command table") + start.len();
        let to = readme[from..].find(end).expect("the README ends its command table") + from;
        assert_eq!(
            readme[from..to],
            markdown_table(),
            "the README's command table is stale; replace it with:\n{}",
            markdown_table()
        );
    }

    #[test]
    fn long_messages_are_refused_except_syllabus_loads() {
        let long = format!("!submit {}", "x".repeat(MAX_COMMAND_CHARS));
        assert!(bad(&long).problem.contains("too long"));
        let syllabus = format!("!syllabus load\n# T\n## Week 1: a\n{}", "x".repeat(10_000));
        assert!(matches!(ok(&syllabus), Command::SyllabusLoad { syllabus: Ok(_) }));
        let too_long = format!("!syllabus load\n# T\n## Week 1: a\n{}", "x".repeat(syllabus::MAX_BYTES));
        let Command::SyllabusLoad { syllabus: Err(e) } = ok(&too_long) else { panic!("a syllabus load") };
        assert!(e.contains("at most 65536 bytes"), "{e}");
        let far_too_long = format!("{too_long}{}", "x".repeat(1_000));
        let Command::SyllabusLoad { syllabus: Err(e) } = ok(&far_too_long) else { panic!("a syllabus load") };
        assert!(e.contains("too long"), "{e}");
    }

    #[test]
    fn syllabus_load_reports_the_line() {
        let Command::SyllabusLoad { syllabus: Err(e) } = ok("!syllabus load\n# T\n## Week 3: x\ny") else {
            panic!("a syllabus load whose syllabus is wrong")
        };
        assert!(e.contains("line 2"), "{e}");
    }

    #[test]
    fn reviews_take_an_id_feedback_and_an_optional_score() {
        assert_eq!(
            ok("!review #12 Clear. score=4"),
            Command::Review { id: AssignmentId(12), feedback: "Clear.".into(), score: Some(4) }
        );
        assert_eq!(
            ok("!review 3 score=5 Great"),
            Command::Review { id: AssignmentId(3), feedback: "Great".into(), score: Some(5) }
        );
        assert_eq!(ok("!review 3 Fine"), Command::Review { id: AssignmentId(3), feedback: "Fine".into(), score: None });
        assert!(bad("!review 3 ok score=9").problem.contains("not a score"));
        assert!(bad("!review x ok").problem.contains("not an assignment number"));
        assert!(bad("!review 3").problem.contains("write your feedback"));
        assert!(bad("!review 3 score=4").problem.contains("write your feedback"));
    }

    #[test]
    fn badge_commands_name_a_person_and_a_badge() {
        assert_eq!(
            ok("!badge award @ana finisher for all of it"),
            Command::BadgeAward {
                user: Mention("@ana".into()),
                badge: Slug::parse("finisher").unwrap(),
                reason: Some("for all of it".into())
            }
        );
        assert!(bad("!badge nominate @ana helper").problem.contains("say why"));
        assert!(bad("!badge give @ana x").problem.contains("not a badge action"));
        assert!(bad("!badge award @ana").problem.contains("which badge"));
    }

    #[test]
    fn roles_take_one_mention() {
        assert_eq!(
            ok("!organizer add @bo"),
            Command::Organizer { action: RoleAction::Add, user: Mention("@bo".into()) }
        );
        assert!(bad("!organizer promote @bo").problem.contains("add or remove"));
        assert!(bad("!mentor add").problem.contains("name the person"));
    }

    #[test]
    fn control_characters_and_direction_overrides_are_stripped_from_free_text() {
        let Command::Submit { body, .. } = ok("!submit https://example.org/a\u{0}b\u{202E}c\r\nnext\u{7}") else {
            panic!()
        };
        assert_eq!(body, "https://example.org/abc\nnext");
        let Command::Review { feedback, .. } = ok("!review 3 Good\u{0} work\u{1b}[31m") else { panic!() };
        assert_eq!(feedback, "Good work[31m");
        let Command::BadgeAward { reason, .. } = ok("!badge award @ana finisher well\u{0} done") else { panic!() };
        assert_eq!(reason.as_deref(), Some("well done"));
        assert!(parse("!submit \u{0}\u{0}").unwrap().is_err(), "nothing left to submit");
    }

    #[test]
    fn titles_with_blank_letters_tags_or_letter_marks_are_refused() {
        for title in ["\u{3164}", "Intro\u{E0041}", "A\u{061C}B", "\u{2800}x", "x\u{115F}"] {
            let err = parse(&format!("!course new data-101 \"{title}\"")).unwrap().unwrap_err();
            assert!(err.problem.contains("invisible"), "{title:?}: {}", err.problem);
            let err = parse(&format!("!course set title=\"{title}\"")).unwrap().unwrap_err();
            assert!(err.problem.contains("invisible"), "{title:?}: {}", err.problem);
        }
        let err = parse("!course set school=\"Data\u{3164}\"").unwrap().unwrap_err();
        assert!(err.problem.contains("school name"), "{}", err.problem);
    }
}
