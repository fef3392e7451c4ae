//! `decide(state, input, ctx) -> Decision`: the one place behaviour lives.
//!
//! Every input (a command from chat, a person turning up in a course room, a job falling due)
//! becomes a [`Decision`]: the changes to store and the effects to perform. Nothing here reads
//! a clock, a random source, a database or the network; the time comes in [`Ctx`]. Bad input is
//! answered with a reply and no changes.

pub(crate) mod badge;
pub(crate) mod community;
pub(crate) mod course;
pub(crate) mod delivery;
pub(crate) mod plan;
pub(crate) mod review;

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::command::{Command, CommandError, Mention, Where};
use crate::ids::{CourseId, Invitation, PersonId, ReplyTo, SchoolId, Slug};
use crate::state::{Change, Course, JobKey, Role, State};
use crate::text::{Span, Text};

pub use delivery::Failure;
pub use plan::plan_prompts;

/// What a decision may depend on besides the state and the input.
#[derive(Clone, Copy, Debug)]
pub struct Ctx {
    /// The current time.
    pub now: DateTime<Utc>,
    /// Fresh randomness from the runtime; used where something new needs a seed (a course's
    /// pairing seed), so that everything after it is reproducible from stored values.
    pub seed: u64,
}

/// Where a command was said.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Place {
    /// A room that is not a course room (the lobby, or any room the bot was invited to).
    Lobby,
    /// A direct conversation with the bot.
    Direct,
    /// A course's room.
    Course(CourseId),
}

/// A command from chat, with everything the runtime resolved for it.
#[derive(Clone, Debug)]
pub struct CommandInput {
    /// Who said it (possibly a person the runtime has not stored yet).
    pub actor: PersonId,
    pub place: Place,
    /// Where to answer.
    pub reply_to: ReplyTo,
    /// The parsed command, or why it could not be parsed.
    pub command: Result<Command, CommandError>,
    /// The people the command names, as far as the runtime could resolve them.
    pub mentions: BTreeMap<Mention, PersonId>,
    /// Names the platform could not pin to one account, with the accounts that might be meant
    /// (as the platform shows them), so the answer can ask for a real mention.
    pub unclear: BTreeMap<Mention, Vec<String>>,
    /// Said in the thread a week's prompt opened: the week it is about, where the command
    /// leaves the week out.
    pub thread_week: Option<u32>,
    /// The platform can answer this command so that only its author sees the answer, and waits
    /// for an answer (a Discord slash command): one that decides nothing to say is acknowledged.
    /// Elsewhere a private answer said in a shared room goes by direct message instead.
    pub private_reply: bool,
}

/// An input to the domain.
#[derive(Clone, Debug)]
pub enum Input {
    /// A chat command.
    Command(CommandInput),
    /// Someone joined a course room on the platform itself.
    MemberJoined {
        person: PersonId,
        /// Which course's room.
        course: CourseId,
    },
    /// A scheduled job is due.
    JobDue { job: JobKey },
    /// The platforms refused an effect for good (the executor's report).
    EffectFailed { effect: Effect, failure: Failure },
    /// Someone invited the bot into a room.
    Invited {
        /// Who invited it (possibly a person the runtime has not stored yet).
        inviter: PersonId,
        /// A direct conversation (the bot and the inviter), not a group room.
        direct: bool,
        invitation: Invitation,
    },
}

/// Something to say or do on the chat platforms.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Effect {
    /// Create the space (Matrix) or category (Discord) for a school.
    CreateSchoolSpace {
        school: SchoolId,
        /// Its name.
        name: String,
    },
    /// Create a course's room inside its school's space.
    CreateCourseRoom {
        course: CourseId,
        /// Parent school.
        school: Option<SchoolId>,
        /// Room name / alias.
        slug: Slug,
        topic: String,
    },
    /// Change a course room's topic.
    SetTopic {
        course: CourseId,
        /// New topic.
        topic: String,
    },
    /// Give a member their role's rights in the course room (a moderator for organizers), or
    /// take them away (`None`).
    SetRole {
        course: CourseId,
        person: PersonId,
        /// Role, or none.
        role: Option<Role>,
    },
    /// Invite a person into a course's room.
    Invite { course: CourseId, person: PersonId },
    /// Post in a course's room.
    Post {
        course: CourseId,
        text: Text,
        /// This post opens a week's thread (a prompt, when the course threads its weeks).
        #[serde(default)]
        thread: Option<WeekThread>,
    },
    /// Send a direct message.
    Direct {
        /// To whom.
        person: PersonId,
        text: Text,
    },
    /// Accept or decline an invitation into a room.
    AnswerInvite { invitation: Invitation, accept: bool },
    /// Answer a command where it was said.
    Reply {
        /// The command's reply handle.
        to: ReplyTo,
        text: Text,
        /// A hint that only the author needs to see it (ephemeral where the platform can).
        private: bool,
    },
    /// Send a person, by direct message, a one-time link that signs them into the web face's
    /// dashboard. The runtime mints the secret (the domain has no source of randomness fit
    /// for one) and stores only its hash.
    LoginLink { person: PersonId },
    /// Sign a person out of the web face everywhere: end all their sessions.
    EndSessions { person: PersonId },
}

/// A week's thread, opened on the post that carries it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WeekThread {
    /// The week.
    pub week: u32,
    /// The thread's name where platforms show one (`Week 2: Cleaning data`).
    pub name: String,
    /// The first message in the thread, which tells people what it is for.
    pub opening: Text,
}

/// The outcome of one input.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Decision {
    /// To store, in order.
    pub changes: Vec<Change>,
    /// To perform, in order, after the changes are stored.
    pub effects: Vec<Effect>,
    /// The input was refused (bad input, no permission): nothing changes and the reply says why.
    pub refused: bool,
}

impl Decision {
    /// Records a change.
    pub fn change(&mut self, change: Change) {
        self.changes.push(change);
    }

    /// Records an effect.
    pub fn effect(&mut self, effect: Effect) {
        self.effects.push(effect);
    }
}

/// Decides what an input means.
pub fn decide(state: &State, input: Input, ctx: &Ctx) -> Decision {
    match input {
        Input::Command(cmd) => command(state, &cmd, ctx),
        Input::MemberJoined { person, course } => community::member_joined(state, person, course, ctx),
        Input::JobDue { job } => plan::job_due(state, job, ctx),
        Input::EffectFailed { effect, failure } => delivery::effect_failed(state, &effect, failure),
        Input::Invited { inviter, direct, invitation } => community::invited(state, inviter, direct, invitation),
    }
}

/// The context of one command being decided.
pub(crate) struct Turn<'a> {
    pub state: &'a State,
    pub input: &'a CommandInput,
    pub now: DateTime<Utc>,
    pub seed: u64,
    pub out: Decision,
}

impl<'a> Turn<'a> {
    pub fn reply(&mut self, text: Text) {
        self.out.effect(Effect::Reply { to: self.input.reply_to.clone(), text, private: false });
    }

    /// An answer only the asker may see (their progress, their assignments, who reviews
    /// whom): in a direct conversation or as a private reply where the platform has one, else
    /// by direct message with a short pointer where it was asked. Never in a shared room.
    pub fn reply_private(&mut self, text: Text) {
        if self.input.place == Place::Direct || self.input.private_reply {
            self.out.effect(Effect::Reply { to: self.input.reply_to.clone(), text, private: true });
            return;
        }
        self.out.effect(Effect::Direct { person: self.input.actor, text });
        self.out.effect(Effect::Reply {
            to: self.input.reply_to.clone(),
            text: Text::md("📬 I've sent you the answer by direct message."),
            private: true,
        });
    }

    /// An error: no changes, a private reply with what is wrong and, where it helps, the usage.
    pub fn refuse(&mut self, problem: Text, usage: Option<&str>) {
        self.out.changes.clear();
        self.out.effects.clear();
        self.out.refused = true;
        let mut problem = problem;
        if let Some(Span::Markdown(first)) = problem.spans.first_mut() {
            *first = capitalise(first);
        }
        let mut text = Text::md("⚠️ ").append(problem);
        if let Some(usage) = usage {
            text = text.push_md("\nUsage: ").code(usage);
        }
        self.out.effect(Effect::Reply { to: self.input.reply_to.clone(), text, private: true });
    }

    /// The person a command names, or a refusal that says why the name did not do: nobody by
    /// that name, or several who might be meant (listed, so the asker can mention one).
    pub fn mentioned(&mut self, user: &Mention, usage: Option<&str>) -> Option<PersonId> {
        if let Some(&person) = self.input.mentions.get(user) {
            return Some(person);
        }
        let shown: String = user.0.chars().take(60).collect();
        let problem = match self.input.unclear.get(user) {
            Some(candidates) if !candidates.is_empty() => {
                let listed: Vec<String> = candidates.iter().map(|c| c.chars().take(60).collect()).collect();
                Text::md("nobody here has exactly the name ")
                    .user(shown)
                    .push_md(", and several might be meant: ")
                    .user(listed.join(", "))
                    .push_md(". Mention the one you mean (type @ and pick them from the list) so I can be sure.")
            }
            _ => Text::md("I can't tell who ")
                .user(shown)
                .push_md(" is; mention them the way this chat does (for example @name)."),
        };
        self.refuse(problem, usage);
        None
    }

    pub fn actor(&self) -> PersonId {
        self.input.actor
    }

    /// Whether the actor is a bot admin.
    pub fn is_admin(&self) -> bool {
        self.state.is_admin(self.input.actor)
    }

    /// The course whose room this is, or a refusal explaining where to say it.
    pub fn course_here(&mut self, usage: &str) -> Option<&'a Course> {
        let state: &'a State = self.state;
        match self.input.place {
            Place::Course(id) => state.course(&id),
            Place::Lobby | Place::Direct => {
                self.refuse(Text::md("use this command in the course's room."), Some(usage));
                None
            }
        }
    }

    /// The actor's role in a course, treating bot admins as organizers.
    pub fn effective_role(&self, course: &Course) -> Option<Role> {
        match course.role(self.actor()) {
            Some(role) => Some(if self.is_admin() { Role::Organizer } else { role }),
            None if self.is_admin() => Some(Role::Organizer),
            None => None,
        }
    }

    /// Refuses unless the actor organizes `course` (or is a bot admin).
    pub fn require_organizer(&mut self, course: &Course, usage: &str) -> bool {
        if course.organized_by(Some(self.actor()), self.is_admin()) {
            return true;
        }
        self.refuse(
            Text::md("only organizers of ").code(course.slug.as_str()).push_md(" (or bot admins) can do that."),
            Some(usage),
        );
        false
    }

    pub fn zones(&self, course: &Course) -> Vec<crate::ids::Zone> {
        self.state.zones_for(self.actor(), course)
    }
}

fn command(state: &State, input: &CommandInput, ctx: &Ctx) -> Decision {
    let mut turn = Turn { state, input, now: ctx.now, seed: ctx.seed, out: Decision::default() };
    match &input.command {
        Err(e) => {
            let problem = capitalise(&e.problem);
            turn.refuse(Text::new().user(problem), e.usage.as_deref());
        }
        Ok(cmd) => dispatch(&mut turn, cmd),
    }
    // The asker hears back first: an announcement the command caused (a badge it earned) comes
    // after the command's own answer, never before it.
    let (replies, rest): (Vec<Effect>, Vec<Effect>) =
        std::mem::take(&mut turn.out.effects).into_iter().partition(|e| matches!(e, Effect::Reply { .. }));
    let (posts, others): (Vec<Effect>, Vec<Effect>) = rest.into_iter().partition(|e| matches!(e, Effect::Post { .. }));
    // A command that waits for an answer and has nothing to say (one that only posts, like an
    // award's announcement) is still acknowledged, privately.
    let replies = if replies.is_empty() && input.private_reply {
        vec![Effect::Reply { to: input.reply_to.clone(), text: Text::md("✅ Done."), private: true }]
    } else {
        replies
    };
    turn.out.effects = others.into_iter().chain(replies).chain(posts).collect();
    turn.out
}

/// Where the command may be said comes first (from its spec), then its own decision.
fn dispatch(turn: &mut Turn<'_>, cmd: &Command) {
    let spec = cmd.spec();
    if spec.place == Where::CourseRoom && !matches!(turn.input.place, Place::Course(_)) {
        turn.refuse(Text::md("use this command in the course's room."), Some(spec.syntax));
        return;
    }
    cmd.decide(turn);
}

pub(crate) fn capitalise(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// "3 learners", "1 learner".
pub(crate) fn plural(n: usize, word: &str) -> String {
    if n == 1 { format!("1 {word}") } else { format!("{n} {word}s") }
}

#[cfg(test)]
mod tests;
