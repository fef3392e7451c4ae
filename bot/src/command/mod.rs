//! The command catalogue: every chat command is one module in this folder, holding its
//! [`Spec`] (name, usage, help, who may use it, where it may be said, its typed arguments for
//! platforms with slash commands), its parser and its decision, the way tokio's mini-redis keeps
//! one file per command. The [`catalogue!`] list below is the only other place a command is
//! named; `!help`, `!help COMMAND`, the slash-command table and the README's table are all
//! generated from [`COMMANDS`].
//!
//! Parsing checks everything that can be checked without state (slugs, dates, zones, cron,
//! lengths), so a decision only ever sees well-formed values. Every error names what was wrong
//! and carries the usage line of the command, which the reply repeats.
//!
//! Adding a command: write `NAME.rs` with a struct implementing [`Cmd`] and add one line to the
//! list. A stateful command also adds its [`Change`](crate::state::Change) variant (and its
//! storage); nothing else outside its module.

mod args;

use crate::decide::Turn;
use crate::ids::is_invisible;
pub use args::{RoleAction, SettingsPatch};

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

impl Audience {
    /// Who, in words, for "(For … only.)".
    pub fn describe(self) -> &'static str {
        match self {
            Audience::Everyone => "everyone",
            Audience::Member => "members of the course",
            Audience::Learner => "learners",
            Audience::Organizer => "organizers and bot admins",
            Audience::Admin => "bot admins",
        }
    }
}

/// Where a command may be said. Said elsewhere, it is refused with its usage before its
/// decision runs; platforms use it to offer a command only where it works (Discord registers
/// the `Anywhere` ones a second time for direct messages).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Where {
    /// Only in a course's room (it is about that course).
    CourseRoom,
    /// In a course room, the lobby or a direct conversation with the bot.
    Anywhere,
}

/// What an argument holds, for platforms that type their command arguments (Discord).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArgKind {
    /// Free text.
    Text,
    /// A course's short name (platforms may suggest the names as people type).
    Course,
    /// A whole number from 1.
    Integer,
    /// A yes/no switch, written as the argument's name when on (`more`).
    Flag,
    /// A person, written as a mention.
    User,
    /// An uploaded file, whose text follows the command on the next lines.
    File,
}

/// How an argument's value is written into the command text the parser reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Write {
    /// As it is, in order.
    Plain,
    /// In double quotes (a title with spaces).
    Quoted,
    /// As `name=value`, quoted when it has spaces.
    Keyed,
    /// As `word value` (`week 2`), before the other arguments.
    Before(&'static str),
}

/// One typed argument of a command's slash form.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Arg {
    /// Its name (lowercase, as platforms demand).
    pub name: &'static str,
    /// One line, at most 100 characters.
    pub description: &'static str,
    /// What it holds.
    pub kind: ArgKind,
    /// How it goes into the text.
    pub write: Write,
    /// Whether it must be given.
    pub required: bool,
    /// The only values it takes, when there are few.
    pub choices: &'static [&'static str],
}

impl Arg {
    /// A required argument written as it is.
    pub const fn required(name: &'static str, description: &'static str, kind: ArgKind) -> Arg {
        Arg { name, description, kind, write: Write::Plain, required: true, choices: &[] }
    }

    /// An optional argument written as it is.
    pub const fn optional(name: &'static str, description: &'static str, kind: ArgKind) -> Arg {
        Arg { required: false, ..Arg::required(name, description, kind) }
    }

    /// An optional `name=value` setting.
    pub const fn keyed(name: &'static str, description: &'static str, kind: ArgKind) -> Arg {
        Arg { write: Write::Keyed, ..Arg::optional(name, description, kind) }
    }
}

/// Everything said about one command outside its parser and its decision.
#[derive(Debug)]
pub struct Spec {
    /// The command word(s): `course new`.
    pub name: &'static str,
    /// Other words accepted for the same command (`organiser`, `course create`).
    pub aliases: &'static [&'static str],
    /// The syntax line, the one place its usage is written.
    pub syntax: &'static str,
    /// A message that uses it well (shown by `!help NAME`; the tests say it in its places).
    pub example: &'static str,
    /// One line for `!help`, the README and the slash form.
    pub summary: &'static str,
    /// More detail for `!help NAME`.
    pub details: &'static str,
    /// Who may use it, for filtering `!help`.
    pub audience: Audience,
    /// Who may use it, in words (the README's table): finer than the audience.
    pub who: &'static str,
    /// Where it may be said.
    pub place: Where,
    /// Its arguments, typed, for slash commands.
    pub args: &'static [Arg],
    /// The slash subcommand's name where it is not the last word (`/syllabus show`).
    pub slash_name: Option<&'static str>,
    /// The longest message it takes, in characters.
    pub max_chars: usize,
}

impl Spec {
    /// The fields most commands leave as they are.
    pub const DEFAULT: Spec = Spec {
        name: "",
        aliases: &[],
        syntax: "",
        example: "",
        summary: "",
        details: "",
        audience: Audience::Everyone,
        who: "everyone",
        place: Where::Anywhere,
        args: &[],
        slash_name: None,
        max_chars: MAX_COMMAND_CHARS,
    };

    /// The first word (`course` for `course new`).
    pub fn word(&self) -> &'static str {
        self.name.split(' ').next().unwrap_or(self.name)
    }

    /// The second word, for a command of a group (`new` for `course new`).
    pub fn sub(&self) -> Option<&'static str> {
        self.name.split_once(' ').map(|(_, sub)| sub)
    }

    fn answers_to(&self, words: &[&str]) -> bool {
        std::iter::once(self.name)
            .chain(self.aliases.iter().copied())
            .any(|name| name.split(' ').eq(words.iter().copied()))
    }
}

/// One command: its spec, its parser and its decision.
pub(crate) trait Cmd: Sized {
    /// What is said about it.
    const SPEC: Spec;

    /// Reads the text after the command's words.
    fn parse(rest: &str) -> Result<Self, CommandError>;

    /// What a message over [`Spec::max_chars`] becomes: a usage error, unless the command
    /// tells who may use it first (a syllabus load).
    fn too_long(problem: String) -> Result<Self, CommandError> {
        Err(CommandError::new(problem, Self::SPEC.name))
    }

    /// The users it names, for the runtime to resolve.
    fn mentions(&self) -> Vec<&Mention> {
        Vec::new()
    }

    /// What it means in this state.
    fn decide(&self, turn: &mut Turn<'_>);
}

/// The catalogue: one line per command, `Variant => module`, in the order `!help` lists them.
macro_rules! catalogue {
    ($($variant:ident => $module:ident),* $(,)?) => {
        $(pub mod $module;)*

        /// A parsed command.
        #[derive(Clone, Debug, PartialEq, Eq)]
        pub enum Command {
            $(
                #[allow(missing_docs)]
                $variant($module::$variant),
            )*
        }

        /// Every command, in the order `!help` lists them.
        pub static COMMANDS: &[&Spec] = &[$(&<$module::$variant as Cmd>::SPEC),*];

        impl Command {
            /// What is said about this command.
            pub fn spec(&self) -> &'static Spec {
                match self {
                    $(Command::$variant(_) => &<$module::$variant as Cmd>::SPEC,)*
                }
            }

            /// The users this command names, for the runtime to resolve.
            pub fn mentions(&self) -> Vec<&Mention> {
                match self {
                    $(Command::$variant(c) => c.mentions(),)*
                }
            }

            pub(crate) fn decide(&self, turn: &mut Turn<'_>) {
                match self {
                    $(Command::$variant(c) => c.decide(turn),)*
                }
            }
        }

        fn parse_as(spec: &Spec, rest: &str, too_long: Option<String>) -> Result<Command, CommandError> {
            $(
                if spec.name == <$module::$variant as Cmd>::SPEC.name {
                    let parsed = match too_long {
                        Some(problem) => <$module::$variant as Cmd>::too_long(problem),
                        None => <$module::$variant as Cmd>::parse(rest),
                    };
                    return parsed.map(Command::$variant);
                }
            )*
            Err(CommandError { problem: format!("`!{}` is not in the catalogue.", spec.name), usage: None, command: None })
        }
    };
}

catalogue! {
    Help => help,
    Courses => courses,
    Ping => ping,
    Join => join,
    Leave => leave,
    Tz => tz,
    Profile => profile,
    Progress => progress,
    Syllabus => syllabus,
    Submit => submit,
    Reviews => reviews,
    Review => review,
    Badges => badges,
    BadgeNominate => badge_nominate,
    BadgeAward => badge_award,
    BadgeRevoke => badge_revoke,
    BadgeEmail => badge_email,
    Status => status,
    Dashboard => dashboard,
    Pair => pair,
    SyllabusLoad => syllabus_load,
    CoursePause => course_pause,
    CourseResume => course_resume,
    CourseEnd => course_end,
    CourseSet => course_set,
    Organizer => organizer,
    Mentor => mentor,
    CourseNew => course_new,
}

impl Command {
    /// A stable name for counting commands by kind (`submit`, `course set`).
    pub fn name(&self) -> &'static str {
        self.spec().name
    }
}

/// The spec of a command name.
pub fn usage(name: &str) -> Option<&'static Spec> {
    COMMANDS.iter().copied().find(|u| u.name == name)
}

/// The syntax line of a command, as `!help` shows it: the one place usage text is written.
pub fn syntax(name: &str) -> &'static str {
    usage(name).map_or("!help", |u| u.syntax)
}

/// The commands of a group (`course` → new, pause, …), in catalogue order.
pub fn group(word: &str) -> Vec<&'static Spec> {
    COMMANDS.iter().copied().filter(|s| s.sub().is_some() && s.word() == word).collect()
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

/// A user as written in a command (`@ana`, `@ana:example.org`, `<@81234>`); the runtime asks the
/// adapter what account it names.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Mention(pub String);

/// A command that could not be parsed: what is wrong, and the usage to show.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{problem}")]
pub struct CommandError {
    /// What is wrong, in a sentence.
    pub problem: String,
    /// The usage to show: the command's, or its group's.
    pub usage: Option<String>,
    /// The command's name, if it was recognised.
    pub command: Option<&'static str>,
}

impl CommandError {
    /// A problem with the command `name`, carrying its usage.
    pub fn new(problem: impl Into<String>, name: &str) -> CommandError {
        let spec = usage(name);
        CommandError {
            problem: problem.into(),
            usage: spec.map(|u| u.syntax.to_owned()),
            command: spec.map(|u| u.name),
        }
    }
}

/// Parses a chat message. `None` when it is not a command (does not start with `!`).
pub fn parse(text: &str) -> Option<Result<Command, CommandError>> {
    let text = text.trim_start();
    let body = text.strip_prefix('!')?;
    Some(parse_body(body))
}

fn parse_body(body: &str) -> Result<Command, CommandError> {
    let (word, rest) = args::split_word(body);
    let word = word.to_lowercase();
    if word.is_empty() {
        return Err(CommandError {
            problem: "that is an empty command. Send `!help` to see what I can do.".into(),
            usage: None,
            command: None,
        });
    }
    if let Some(c) = word.chars().find(|c| is_invisible(*c)) {
        return Err(CommandError {
            problem: format!(
                "the command contains an invisible character (U+{:04X}); type it again without it.",
                c as u32
            ),
            usage: None,
            command: None,
        });
    }
    let (second, after_second) = args::split_word(rest);
    let second = second.to_lowercase();
    let found = COMMANDS
        .iter()
        .find(|s| s.answers_to(&[&word, &second]))
        .map(|s| (s, after_second))
        .or_else(|| COMMANDS.iter().find(|s| s.answers_to(&[&word])).map(|s| (s, rest)));
    let Some((spec, rest)) = found else { return Err(not_found(&word, &second)) };
    let length = body.chars().count() + 1;
    let too_long = (length > spec.max_chars)
        .then(|| format!("that message is too long ({length} characters; at most {}).", spec.max_chars));
    parse_as(spec, rest, too_long)
}

/// The answer to words that name no command: a group's subcommands, or a near command.
fn not_found(word: &str, second: &str) -> CommandError {
    let subs = group(word);
    if !subs.is_empty() {
        let names: Vec<&str> = subs.iter().filter_map(|s| s.sub()).collect();
        let listed = match names.split_last() {
            Some((last, [])) => (*last).to_owned(),
            Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
            None => String::new(),
        };
        let problem = if second.is_empty() {
            format!("`!{word}` needs a subcommand: {listed}.")
        } else {
            format!("'{}' is not a {word} subcommand: use {listed}.", args::short(second))
        };
        let usage = format!("!{word} {} ...", names.join("|"));
        return CommandError { problem, usage: Some(usage), command: None };
    }
    let shown: String = word.chars().take(40).collect();
    let suggestion = COMMANDS
        .iter()
        .map(|u| u.word())
        .find(|name| args::edit_distance(name, word) <= 2)
        .map(|name| format!(" Did you mean `!{name}`?"))
        .unwrap_or_default();
    CommandError {
        problem: format!(
            "I don't know the command `!{shown}`.{suggestion} Send `!help` to see the commands you can use."
        ),
        usage: None,
        command: None,
    }
}

#[cfg(test)]
mod tests;
