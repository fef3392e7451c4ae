//! Slash commands: the table registered with Discord, and the way back from an invocation to
//! the `!` text that the one command parser reads. Pure data and pure functions.
//!
//! Every chat command has a slash form; its options are typed (integers, users, attachments,
//! choices) so Discord checks the obvious, and the text built from them goes through the same
//! parser as a typed `!` message, so both forms accept and refuse exactly the same things.

use serde_json::{Value, json};
use serenity::model::application::{CommandData, CommandDataOption, CommandDataOptionValue};

/// What a slash option holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Free text.
    Text,
    /// A whole number.
    Integer,
    /// A yes/no switch: written as the option's `word` when true.
    Flag,
    /// A member of the server: written as a mention.
    User,
    /// An uploaded file: its text follows the command on the next lines.
    File,
}

/// How an option's value goes into the command text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Write {
    /// As it is, in order.
    Plain,
    /// In double quotes (a title with spaces).
    Quoted,
    /// As `name=value` (quoted when it has spaces).
    Keyed,
    /// As `word value` (`week 2`).
    After(&'static str),
}

#[derive(Debug)]
struct Opt {
    name: &'static str,
    description: &'static str,
    kind: Kind,
    write: Write,
    required: bool,
    /// Course short names are suggested as the user types.
    courses: bool,
    choices: &'static [&'static str],
}

const fn opt(name: &'static str, description: &'static str, kind: Kind, required: bool) -> Opt {
    Opt { name, description, kind, write: Write::Plain, required, courses: false, choices: &[] }
}

const fn course(required: bool) -> Opt {
    Opt {
        name: "course",
        description: "The course's short name, like data-101",
        kind: Kind::Text,
        write: Write::Plain,
        required,
        courses: true,
        choices: &[],
    }
}

const fn keyed(name: &'static str, description: &'static str, kind: Kind) -> Opt {
    Opt { name, description, kind, write: Write::Keyed, required: false, courses: false, choices: &[] }
}

const fn action() -> Opt {
    Opt {
        name: "action",
        description: "Add or remove",
        kind: Kind::Text,
        write: Write::Plain,
        required: true,
        courses: false,
        choices: &["add", "remove"],
    }
}

const fn week_after(description: &'static str) -> Opt {
    Opt {
        name: "week",
        description,
        kind: Kind::Integer,
        write: Write::After("week"),
        required: false,
        courses: false,
        choices: &[],
    }
}

/// A command or a subcommand.
#[derive(Debug)]
struct Slash {
    name: &'static str,
    description: &'static str,
    /// The `!` words it stands for (`course new`).
    words: &'static str,
    options: &'static [Opt],
    subcommands: &'static [Slash],
}

const fn cmd(name: &'static str, description: &'static str, options: &'static [Opt]) -> Slash {
    Slash { name, description, words: name, options, subcommands: &[] }
}

const fn sub(name: &'static str, words: &'static str, description: &'static str, options: &'static [Opt]) -> Slash {
    Slash { name, description, words, options, subcommands: &[] }
}

const fn group(name: &'static str, description: &'static str, subcommands: &'static [Slash]) -> Slash {
    Slash { name, description, words: name, options: &[], subcommands }
}

const USER: Opt = opt("user", "Who", Kind::User, true);

static COMMANDS: &[Slash] = &[
    cmd(
        "help",
        "What the bot can do, or how one command works",
        &[opt("command", "A command, like submit", Kind::Text, false)],
    ),
    cmd("courses", "The courses you can join", &[]),
    cmd("ping", "Check that the bot answers", &[]),
    cmd("join", "Join a course as a learner", &[course(true)]),
    cmd("leave", "Leave a course", &[course(true)]),
    cmd("tz", "Show or set your time zone", &[opt("zone", "Area/City, like Europe/Berlin", Kind::Text, false)]),
    cmd("progress", "Your submissions, reviews and badges", &[]),
    group(
        "syllabus",
        "The course's syllabus",
        &[
            sub(
                "show",
                "syllabus",
                "Show the syllabus, or one week",
                &[opt("week", "A week number", Kind::Integer, false)],
            ),
            sub(
                "load",
                "syllabus load",
                "Load (or replace) the syllabus from a Markdown file",
                &[opt("file", "The syllabus as a Markdown file", Kind::File, true)],
            ),
        ],
    ),
    cmd(
        "submit",
        "Submit your work for this week (or another week)",
        &[
            opt("work", "A link or a short text", Kind::Text, true),
            week_after("The week it is for (default: the current one)"),
        ],
    ),
    cmd("status", "Who has submitted and reviewed (organizers)", &[]),
    group(
        "course",
        "Create and run a course (organizers)",
        &[
            sub(
                "new",
                "course new",
                "Create a course with its channel",
                &[
                    opt("slug", "Short name: lowercase letters, digits and dashes, like data-101", Kind::Text, true),
                    Opt { write: Write::Quoted, ..opt("title", "The course's title", Kind::Text, true) },
                    keyed("school", "The school it belongs to", Kind::Text),
                    keyed("start", "First day, YYYY-MM-DD", Kind::Text),
                    keyed("weeks", "How many weeks", Kind::Integer),
                    keyed("tz", "Time zone, Area/City", Kind::Text),
                    keyed("prompt", "When each week opens, as cron, like 0 9 * * Mon", Kind::Text),
                    keyed("deadline", "Time to submit after a week opens, like 5d", Kind::Text),
                    keyed("review", "Time to review after the deadline, like 2d", Kind::Text),
                    keyed("cycle", "The cycle (term) it runs in", Kind::Text),
                ],
            ),
            sub("pause", "course pause", "Hold the weekly schedule", &[]),
            sub("resume", "course resume", "Resume the weekly schedule", &[]),
            sub("end", "course end", "End the course", &[]),
            sub(
                "set",
                "course set",
                "Change settings, like threads=yes deadline=4d",
                &[opt("settings", "KEY=VALUE pairs", Kind::Text, true)],
            ),
        ],
    ),
    cmd("organizer", "Add or remove an organizer of this course", &[action(), USER]),
    cmd("mentor", "Add or remove a mentor of this course", &[action(), USER]),
    cmd("pair", "Pair reviewers now (organizers)", &[opt("week", "A week number", Kind::Integer, false)]),
    cmd(
        "reviews",
        "Your review assignments",
        &[opt("more", "Ask for another piece to review", Kind::Flag, false), course(false)],
    ),
    cmd(
        "review",
        "Send your review of an assignment",
        &[
            opt("assignment", "The assignment number", Kind::Integer, true),
            opt("feedback", "Your feedback", Kind::Text, true),
            Opt { choices: &["1", "2", "3", "4", "5"], ..keyed("score", "A score from 1 to 5", Kind::Integer) },
        ],
    ),
    cmd("badges", "The badges of this course, or someone's", &[opt("user", "Whose", Kind::User, false)]),
    group(
        "badge",
        "Award or nominate a badge",
        &[
            sub(
                "award",
                "badge award",
                "Award a badge (organizers, or holders of a badge given by holders)",
                &[
                    USER,
                    opt("badge", "The badge's short name", Kind::Text, true),
                    opt("reason", "Why", Kind::Text, false),
                ],
            ),
            sub(
                "nominate",
                "badge nominate",
                "Nominate someone for a badge",
                &[
                    USER,
                    opt("badge", "The badge's short name", Kind::Text, true),
                    opt("reason", "Why", Kind::Text, true),
                ],
            ),
        ],
    ),
];

fn option_json(o: &Opt) -> Value {
    let kind = match o.kind {
        Kind::Text => 3,
        Kind::Integer => 4,
        Kind::Flag => 5,
        Kind::User => 6,
        Kind::File => 11,
    };
    let mut v = json!({"type": kind, "name": o.name, "description": o.description, "required": o.required});
    if o.courses {
        v["autocomplete"] = json!(true);
    }
    if !o.choices.is_empty() {
        v["choices"] = o
            .choices
            .iter()
            .map(|c| match o.kind {
                Kind::Integer => json!({"name": c, "value": c.parse::<i64>().unwrap_or_default()}),
                _ => json!({"name": c, "value": c}),
            })
            .collect();
    }
    if o.kind == Kind::Integer && o.choices.is_empty() {
        v["min_value"] = json!(1);
    }
    v
}

/// The commands also offered in direct messages with the bot. A guild's commands exist only in
/// that guild, so these are registered a second time as global commands limited to the bot's
/// DMs (`contexts: [BOT_DM]`): in the server people see each command once (the guild's), in a
/// DM only these. The rest need a course's channel and stay there.
pub const DM_COMMANDS: &[&str] =
    &["help", "courses", "ping", "join", "leave", "tz", "progress", "reviews", "review", "badges", "course"];

/// Interaction context types (Discord's `InteractionContextType`).
const CONTEXT_BOT_DM: u8 = 1;
/// Installed to a server (Discord's `ApplicationIntegrationType`).
const GUILD_INSTALL: u8 = 0;

/// The application commands to register in a guild (the body of a bulk overwrite).
pub fn definitions() -> Value {
    Value::Array(COMMANDS.iter().map(definition).collect())
}

/// The global commands, offered only in direct messages with the bot (the body of a bulk
/// overwrite of the application's global commands).
pub fn dm_definitions() -> Value {
    COMMANDS
        .iter()
        .filter(|c| DM_COMMANDS.contains(&c.name))
        .map(|c| {
            let mut v = definition(c);
            v["contexts"] = json!([CONTEXT_BOT_DM]);
            v["integration_types"] = json!([GUILD_INSTALL]);
            v
        })
        .collect()
}

fn definition(c: &Slash) -> Value {
    let options: Vec<Value> = if c.subcommands.is_empty() {
        c.options.iter().map(option_json).collect()
    } else {
        c.subcommands
            .iter()
            .map(|s| {
                json!({"type": 1, "name": s.name, "description": s.description,
                       "options": s.options.iter().map(option_json).collect::<Vec<_>>()})
            })
            .collect()
    };
    json!({"type": 1, "name": c.name, "description": c.description, "options": options})
}

/// A slash command turned back into text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invocation {
    /// The `!` command text.
    pub text: String,
    /// An attached file whose text is to follow on the next lines (its attachment id).
    pub file: Option<u64>,
}

/// Why an invocation could not be read (only for commands this bot did not register).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown slash command /{0}")]
pub struct UnknownCommand(pub String);

fn quote(value: &str) -> String {
    // The parser takes straight or curly quotes; a value holding a straight quote keeps the
    // curly pair so it is not cut short.
    if value.contains('"') { format!("\u{201C}{value}\u{201D}") } else { format!("\"{value}\"") }
}

/// The `!` text an invocation stands for, option by option in the table's order (Discord sends
/// them in the order the user filled them in).
///
/// # Errors
/// For a command or subcommand this bot did not register.
pub fn invocation(data: &CommandData) -> Result<Invocation, UnknownCommand> {
    let unknown = || UnknownCommand(data.name.clone());
    let top = COMMANDS.iter().find(|c| c.name == data.name).ok_or_else(unknown)?;
    let (slash, given): (&Slash, &[CommandDataOption]) = if top.subcommands.is_empty() {
        (top, &data.options)
    } else {
        let first = data.options.first().ok_or_else(unknown)?;
        let CommandDataOptionValue::SubCommand(inner) = &first.value else { return Err(unknown()) };
        let s = top.subcommands.iter().find(|s| s.name == first.name).ok_or_else(unknown)?;
        (s, inner.as_slice())
    };
    let mut text = format!("!{}", slash.words);
    let mut file = None;
    for o in slash.options {
        let Some(value) = given.iter().find(|g| g.name == o.name).map(|g| &g.value) else { continue };
        let rendered = match value {
            CommandDataOptionValue::String(s) => s.trim().to_owned(),
            CommandDataOptionValue::Integer(n) => n.to_string(),
            CommandDataOptionValue::Number(n) => n.to_string(),
            CommandDataOptionValue::Boolean(true) => o.name.to_owned(),
            CommandDataOptionValue::Boolean(false) => continue,
            CommandDataOptionValue::User(u) => format!("<@{u}>"),
            CommandDataOptionValue::Attachment(a) => {
                file = Some(a.get());
                continue;
            }
            _ => continue,
        };
        if rendered.is_empty() {
            continue;
        }
        let piece = match o.write {
            Write::Plain => rendered,
            Write::Quoted => quote(&rendered),
            Write::Keyed if rendered.contains(char::is_whitespace) => format!("{}={}", o.name, quote(&rendered)),
            Write::Keyed => format!("{}={rendered}", o.name),
            Write::After(word) => format!("{word} {rendered}"),
        };
        // `week N` goes before the work it is for.
        if matches!(o.write, Write::After(_)) {
            let head = format!("!{} ", slash.words);
            let rest = text.strip_prefix(&head).unwrap_or("").to_owned();
            text = format!("{head}{piece} {rest}").trim_end().to_owned();
        } else {
            text.push(' ');
            text.push_str(&piece);
        }
    }
    Ok(Invocation { text, file })
}

/// The option being typed when Discord asks for suggestions, if it takes course names.
pub fn autocomplete_prefix(data: &CommandData) -> Option<String> {
    fn focused(options: &[CommandDataOption]) -> Option<(&str, &str)> {
        options.iter().find_map(|o| match &o.value {
            CommandDataOptionValue::Autocomplete { value, .. } => Some((o.name.as_str(), value.as_str())),
            CommandDataOptionValue::SubCommand(inner) => focused(inner),
            _ => None,
        })
    }
    let (name, value) = focused(&data.options)?;
    (name == "course").then(|| value.trim().to_lowercase())
}

/// Up to 25 course names starting with (then containing) what was typed, for an autocomplete
/// answer.
pub fn suggestions<'a>(prefix: &str, courses: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let (mut starts, mut contains): (Vec<&str>, Vec<&str>) =
        courses.into_iter().filter(|c| c.contains(prefix)).partition(|c| c.starts_with(prefix));
    starts.sort_unstable();
    contains.sort_unstable();
    starts.into_iter().chain(contains).take(25).map(str::to_owned).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(value: Value) -> CommandData {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn the_commands_offered_in_dms_are_global_and_only_for_the_bots_dms() {
        let dm = dm_definitions();
        let names: Vec<&str> = dm.as_array().unwrap().iter().map(|d| d["name"].as_str().unwrap()).collect();
        assert_eq!(names.len(), DM_COMMANDS.len(), "every DM command exists: {names:?}");
        for d in dm.as_array().unwrap() {
            assert_eq!(d["contexts"], json!([1]), "{d}");
        }
        assert!(!names.contains(&"submit") && !names.contains(&"syllabus"), "course-room commands stay in the server");
        assert!(definitions().as_array().unwrap().iter().all(|d| d.get("contexts").is_none()));
    }

    #[test]
    fn every_chat_command_has_a_slash_form_within_discords_limits() {
        let defs = definitions();
        let names: Vec<&str> = defs.as_array().unwrap().iter().map(|d| d["name"].as_str().unwrap()).collect();
        for name in ["help", "join", "leave", "submit", "course", "syllabus", "review", "reviews", "badge", "pair"] {
            assert!(names.contains(&name), "{name}");
        }
        fn check(v: &Value) {
            let name = v["name"].as_str().unwrap();
            assert!((1..=32).contains(&name.len()) && name.chars().all(|c| c.is_ascii_lowercase() || c == '-'));
            let d = v["description"].as_str().unwrap();
            assert!((1..=100).contains(&d.chars().count()), "{d}");
            if let Some(options) = v["options"].as_array() {
                assert!(options.len() <= 25);
                // Required options come first, as Discord demands.
                let required: Vec<bool> = options.iter().map(|o| o["required"].as_bool().unwrap_or(false)).collect();
                assert!(required.windows(2).all(|w| w[0] || !w[1]), "{name}: required after optional");
                options.iter().for_each(check);
            }
        }
        defs.as_array().unwrap().iter().for_each(check);
        // serenity reads back what we register.
        let _: Vec<serenity::model::application::Command> = serde_json::from_value(
            defs.as_array()
                .unwrap()
                .iter()
                .map(|d| {
                    let mut d = d.clone();
                    d["id"] = json!("1");
                    d["application_id"] = json!("2");
                    d["version"] = json!("1");
                    d["default_member_permissions"] = Value::Null;
                    d
                })
                .collect(),
        )
        .unwrap();
    }

    #[test]
    fn a_slash_command_becomes_the_same_text_as_typed() {
        let join = data(
            json!({"id": "1", "name": "join", "type": 1, "options": [{"name": "course", "type": 3, "value": "data-101"}]}),
        );
        assert_eq!(invocation(&join).unwrap().text, "!join data-101");
        let new =
            data(json!({"id": "1", "name": "course", "type": 1, "options": [{"name": "new", "type": 1, "options": [
            {"name": "title", "type": 3, "value": "Intro to Data"},
            {"name": "slug", "type": 3, "value": "data-101"},
            {"name": "prompt", "type": 3, "value": "0 9 * * Mon"},
            {"name": "weeks", "type": 4, "value": 3}]}]}));
        assert_eq!(
            invocation(&new).unwrap().text,
            "!course new data-101 \"Intro to Data\" weeks=3 prompt=\"0 9 * * Mon\""
        );
        let submit = data(json!({"id": "1", "name": "submit", "type": 1, "options": [
            {"name": "work", "type": 3, "value": "https://x.org/a"}, {"name": "week", "type": 4, "value": 2}]}));
        assert_eq!(invocation(&submit).unwrap().text, "!submit week 2 https://x.org/a");
        let mentor = data(json!({"id": "1", "name": "mentor", "type": 1, "options": [
            {"name": "action", "type": 3, "value": "add"}, {"name": "user", "type": 6, "value": "81234"}]}));
        assert_eq!(invocation(&mentor).unwrap().text, "!mentor add <@81234>");
        let review = data(json!({"id": "1", "name": "review", "type": 1, "options": [
            {"name": "assignment", "type": 4, "value": 12}, {"name": "feedback", "type": 3, "value": "Clear."},
            {"name": "score", "type": 4, "value": 4}]}));
        assert_eq!(invocation(&review).unwrap().text, "!review 12 Clear. score=4");
        let load =
            data(json!({"id": "1", "name": "syllabus", "type": 1, "options": [{"name": "load", "type": 1, "options": [
            {"name": "file", "type": 11, "value": "777"}]}]}));
        assert_eq!(invocation(&load).unwrap(), Invocation { text: "!syllabus load".into(), file: Some(777) });
        let more = data(
            json!({"id": "1", "name": "reviews", "type": 1, "options": [{"name": "more", "type": 5, "value": true}]}),
        );
        assert_eq!(invocation(&more).unwrap().text, "!reviews more");
        let quoted = data(
            json!({"id": "1", "name": "course", "type": 1, "options": [{"name": "new", "type": 1, "options": [
            {"name": "slug", "type": 3, "value": "x"}, {"name": "title", "type": 3, "value": "The \"Best\" Course"}]}]}),
        );
        assert_eq!(invocation(&quoted).unwrap().text, "!course new x \u{201C}The \"Best\" Course\u{201D}");
    }

    #[test]
    fn a_command_this_bot_did_not_register_is_named_in_the_error() {
        let other = data(json!({"id": "1", "name": "dance", "type": 1}));
        assert_eq!(invocation(&other).unwrap_err(), UnknownCommand("dance".into()));
    }

    #[test]
    fn course_names_are_suggested_by_prefix_then_by_substring() {
        let typing = data(json!({"id": "1", "name": "join", "type": 1, "options": [
            {"name": "course", "type": 3, "value": "Da", "focused": true}]}));
        assert_eq!(autocomplete_prefix(&typing).as_deref(), Some("da"));
        let names = ["intro-data", "data-101", "art-1", "data-102"];
        assert_eq!(suggestions("da", names), vec!["data-101", "data-102", "intro-data"]);
        assert!(suggestions("zz", names).is_empty());
        let many: Vec<String> = (0..40).map(|i| format!("c-{i:02}")).collect();
        assert_eq!(suggestions("c", many.iter().map(String::as_str)).len(), 25);
    }
}
