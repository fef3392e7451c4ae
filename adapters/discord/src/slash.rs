//! Slash commands: the table registered with Discord, and the way back from an invocation to
//! the `!` text that the one command parser reads. Pure data and pure functions.
//!
//! The table is the domain's command catalogue ([`COMMANDS`]) rendered for Discord, as the
//! README's table is rendered for people: a command is a slash command, a command of a group
//! (`course new`) a subcommand of the group's word, and a command said anywhere is registered a
//! second time for direct messages. Its arguments are typed (integers, users, attachments,
//! choices) so Discord checks the obvious, and the text built from them goes through the same
//! parser as a typed `!` message, so both forms accept and refuse exactly the same things.

use facilitator_bot::command::{Arg, ArgKind, COMMANDS, Spec, Where, Write};
use serde_json::{Value, json};
use serenity::model::application::{CommandData, CommandDataOption, CommandDataOptionValue};

fn option_json(o: &Arg) -> Value {
    let kind = match o.kind {
        ArgKind::Text | ArgKind::Course => 3,
        ArgKind::Integer => 4,
        ArgKind::Flag => 5,
        ArgKind::User => 6,
        ArgKind::File => 11,
    };
    let mut v = json!({"type": kind, "name": o.name, "description": o.description, "required": o.required});
    if o.kind == ArgKind::Course {
        v["autocomplete"] = json!(true);
    }
    if !o.choices.is_empty() {
        v["choices"] = o
            .choices
            .iter()
            .map(|c| match o.kind {
                ArgKind::Integer => json!({"name": c, "value": c.parse::<i64>().unwrap_or_default()}),
                _ => json!({"name": c, "value": c}),
            })
            .collect();
    }
    if o.kind == ArgKind::Integer && o.choices.is_empty() {
        v["min_value"] = json!(1);
    }
    v
}

/// A slash command's description: the command's one-line summary, capitalised.
fn description(summary: &str) -> String {
    let mut chars = summary.chars();
    chars.next().map(|first| first.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

/// The name a command has among its group's subcommands (`new`, or `show` for the bare
/// `syllabus` beside `syllabus load`).
fn sub_name(spec: &Spec) -> &'static str {
    spec.slash_name.or(spec.sub()).unwrap_or(spec.name)
}

/// The top-level words in catalogue order, each with its commands: one command, or a group.
fn tops(filter: impl Fn(&Spec) -> bool) -> Vec<(&'static str, Vec<&'static Spec>)> {
    let mut out: Vec<(&'static str, Vec<&'static Spec>)> = Vec::new();
    for spec in COMMANDS.iter().copied().filter(|s| filter(s)) {
        match out.iter_mut().find(|(word, _)| *word == spec.word()) {
            Some((_, specs)) => specs.push(spec),
            None => out.push((spec.word(), vec![spec])),
        }
    }
    out
}

fn definition(word: &str, specs: &[&Spec]) -> Value {
    match specs {
        [one] if one.sub().is_none() && one.slash_name.is_none() => json!({"type": 1, "name": word,
            "description": description(one.summary), "options": one.args.iter().map(option_json).collect::<Vec<_>>()}),
        _ => {
            let subs: Vec<&str> = specs.iter().map(|s| sub_name(s)).collect();
            let options: Vec<Value> = specs
                .iter()
                .map(|s| {
                    json!({"type": 1, "name": sub_name(s), "description": description(s.summary),
                           "options": s.args.iter().map(option_json).collect::<Vec<_>>()})
                })
                .collect();
            json!({"type": 1, "name": word, "description": description(&format!("{word}: {}", subs.join(", "))),
                   "options": options})
        }
    }
}

/// Interaction context types (Discord's `InteractionContextType`).
const CONTEXT_BOT_DM: u8 = 1;
/// Installed to a server (Discord's `ApplicationIntegrationType`).
const GUILD_INSTALL: u8 = 0;

/// The application commands to register in a guild (the body of a bulk overwrite).
pub fn definitions() -> Value {
    tops(|_| true).iter().map(|(word, specs)| definition(word, specs)).collect()
}

/// The global commands, offered only in direct messages with the bot (the body of a bulk
/// overwrite of the application's global commands): the commands that may be said anywhere.
/// A guild's commands exist only in that guild, so these are registered a second time as
/// global commands limited to the bot's DMs (`contexts: [BOT_DM]`): in the server people see
/// each command once (the guild's), in a DM only these.
pub fn dm_definitions() -> Value {
    tops(|s| s.place == Where::Anywhere)
        .iter()
        .map(|(word, specs)| {
            let mut v = definition(word, specs);
            v["contexts"] = json!([CONTEXT_BOT_DM]);
            v["integration_types"] = json!([GUILD_INSTALL]);
            v
        })
        .collect()
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
    let all = tops(|_| true);
    let (_, specs) = all.iter().find(|(word, _)| *word == data.name).ok_or_else(unknown)?;
    let (spec, given): (&Spec, &[CommandDataOption]) = match specs.as_slice() {
        [one] if one.sub().is_none() && one.slash_name.is_none() => (one, &data.options),
        _ => {
            let first = data.options.first().ok_or_else(unknown)?;
            let CommandDataOptionValue::SubCommand(inner) = &first.value else { return Err(unknown()) };
            let s = specs.iter().find(|s| sub_name(s) == first.name).ok_or_else(unknown)?;
            (s, inner.as_slice())
        }
    };
    let mut text = format!("!{}", spec.name);
    let mut file = None;
    for o in spec.args {
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
            Write::Before(word) => format!("{word} {rendered}"),
        };
        // `week N` goes before the work it is for.
        if matches!(o.write, Write::Before(_)) {
            let head = format!("!{} ", spec.name);
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
        assert_eq!(
            names,
            [
                "help",
                "courses",
                "ping",
                "join",
                "leave",
                "tz",
                "profile",
                "progress",
                "reviews",
                "review",
                "badges",
                "badge",
                "dashboard",
                "course"
            ]
        );
        let badge = dm.as_array().unwrap().iter().find(|d| d["name"] == "badge").unwrap();
        let subcommands: Vec<&str> =
            badge["options"].as_array().unwrap().iter().map(|o| o["name"].as_str().unwrap()).collect();
        assert_eq!(subcommands, ["email"], "an email is given where nobody else reads it: {badge}");
        let course = dm.as_array().unwrap().iter().find(|d| d["name"] == "course").unwrap();
        assert_eq!(course["options"].as_array().unwrap().len(), 1, "only /course new works in a DM: {course}");
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
