//! The Facilitator domain: courses, syllabus, schedule, commands and decisions, with no I/O.
//!
//! The runtime pushes [`Input`]s in and gets [`Decision`]s out: the [`Change`]s to store and
//! the [`Effect`]s to perform. Time arrives as a value in [`Ctx`]; nothing here reads a clock,
//! a random source, a database or the network, so every behaviour is testable as plain
//! function calls and every chat platform shares it.
//!
//! - [`command`]: the command catalogue, one module per command (spec, parser, decision).
//! - [`syllabus`]: the Markdown syllabus format.
//! - [`schedule`]: cron in a course's zone, deadline offsets.
//! - [`state`]: the [`State`] and the [`Change`]s that move it.
//! - [`decide`](mod@decide): inputs into decisions; what commands share; jobs.
//! - [`text`]: platform-neutral message text.

pub mod badges;
pub mod command;
pub mod decide;
pub mod ids;
pub mod schedule;
pub mod state;
pub mod syllabus;
pub mod text;

pub use command::{Command, CommandError, Mention};
pub use decide::{CommandInput, Ctx, Decision, Effect, Failure, Input, Place, WeekThread, decide};
pub use ids::{
    Account, AssertionId, CourseId, Email, Invitation, PersonId, ReplyTo, SchoolId, Slug, SubmissionId, Zone,
};
pub use state::{About, Change, Course, JobKey, JobKind, Role, State};
pub use text::{Span, Text};
pub mod pairing;
pub mod rng;
