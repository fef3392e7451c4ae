//! `!help [command]`: list the commands you can use, or explain one.
//!
//! Generated from the catalogue, so it cannot drift from what the parser and the decisions
//! accept: the list shows what the asker may use where they are (and, outside a course room,
//! what they may use in their course rooms); `!help NAME` explains any command, saying who may
//! use it and where when that is not the asker or here.

use super::{Audience, COMMANDS, Cmd, CommandError, Spec, Where, args, args::fail};
use crate::decide::{Place, Turn};
use crate::state::Role;
use crate::text::Text;

/// `!help [command]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Help {
    /// A command name (`submit`, `course new`), or a group's word (`course`).
    pub topic: Option<String>,
}

impl Cmd for Help {
    const SPEC: Spec = Spec {
        name: "help",
        syntax: "!help [command]",
        example: "!help submit",
        summary: "list the commands you can use, or explain one",
        args: &[super::Arg::optional("command", "A command, like submit", super::ArgKind::Text)],
        ..Spec::DEFAULT
    };

    fn parse(rest: &str) -> Result<Self, CommandError> {
        let name = Self::SPEC.name;
        let args = args::tokens(rest, name)?;
        match args.as_slice() {
            [] => Ok(Help { topic: None }),
            [one] => Ok(Help { topic: Some(one.text.trim_start_matches('!').to_lowercase()) }),
            [a, b] => Ok(Help { topic: Some(format!("{} {}", a.text.trim_start_matches('!'), b.text).to_lowercase()) }),
            _ => fail("give one command name, like `!help submit`.", name),
        }
    }

    fn decide(&self, turn: &mut Turn<'_>) {
        help(turn, self.topic.as_deref());
    }
}

/// The audiences the asker belongs to: in a course room, by their role there; elsewhere, by
/// their roles in any course.
fn audiences(turn: &Turn<'_>) -> Vec<Audience> {
    let state = turn.state;
    let actor = turn.actor();
    let roles: Vec<Role> = match turn.input.place {
        Place::Course(id) => state.courses.get(&id).and_then(|c| c.role(actor)).into_iter().collect(),
        _ => state.courses.values().filter_map(|c| c.role(actor)).collect(),
    };
    let admin = turn.is_admin();
    let mut audiences = vec![Audience::Everyone];
    if !roles.is_empty() || admin {
        audiences.push(Audience::Member);
    }
    if roles.contains(&Role::Learner) {
        audiences.push(Audience::Learner);
    }
    if roles.contains(&Role::Organizer) || admin {
        audiences.push(Audience::Organizer);
    }
    if admin {
        audiences.push(Audience::Admin);
    }
    audiences
}

fn matches(spec: &Spec, topic: &str) -> bool {
    std::iter::once(spec.name)
        .chain(spec.aliases.iter().copied())
        .any(|name| name == topic || name.strip_prefix(topic).is_some_and(|rest| rest.starts_with(' ')))
}

fn help(turn: &mut Turn<'_>, topic: Option<&str>) {
    let audiences = audiences(turn);
    let in_course_room = matches!(turn.input.place, Place::Course(_));
    if let Some(topic) = topic {
        let found: Vec<&Spec> = COMMANDS.iter().copied().filter(|s| matches(s, topic)).collect();
        if found.is_empty() {
            let shown: String = topic.chars().take(40).collect();
            turn.refuse(Text::md("there is no command ").code(format!("!{shown}")).push_md("."), Some(Help::SPEC.syntax));
            return;
        }
        let mut text = Text::new();
        for (i, u) in found.iter().enumerate() {
            if i > 0 {
                text = text.push_md("\n\n");
            }
            text = text.code(u.syntax).push_md(format!(" — {}.", u.summary));
            if !u.details.is_empty() {
                text = text.push_md(format!("\n{}", u.details));
            }
            if !u.example.is_empty() && u.example != u.syntax {
                let example = u.example.split('\n').next().unwrap_or(u.example);
                text = text.push_md("\nExample: ").code(example);
            }
            if !audiences.contains(&u.audience) {
                text = text.push_md(format!("\n(For {} only.)", u.audience.describe()));
            }
            if u.place == Where::CourseRoom && !in_course_room {
                text = text.push_md("\n(Say it in the course's room.)");
            }
        }
        turn.reply(text);
        return;
    }
    let mine = |s: &&&Spec| audiences.contains(&s.audience);
    let mut text = Text::md("Commands you can use:");
    let (here, rooms): (Vec<&&Spec>, Vec<&&Spec>) =
        COMMANDS.iter().filter(mine).partition(|s| in_course_room || s.place == Where::Anywhere);
    for u in here {
        text = text.push_md("\n").code(u.syntax).push_md(format!(" — {}", u.summary));
    }
    if !rooms.is_empty() {
        text = text.push_md("\nIn a course's room:");
        for u in rooms {
            text = text.push_md("\n").code(u.syntax).push_md(format!(" — {}", u.summary));
        }
    }
    text = text.push_md("\nSend ").code("!help COMMAND").push_md(" for details.");
    turn.reply(text);
}
