//! `!join COURSE`: join a course as a learner.

use crate::decide::community::{find_course, where_we_are};
use super::{Arg, ArgKind, Cmd, CommandError, Spec, args};
use crate::decide::{Effect, Turn};
use crate::ids::Slug;
use crate::state::{Change, CourseStatus, Role};
use crate::text::Text;

/// `!join COURSE`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Join {
    /// Which course.
    pub course: Slug,
}

impl Cmd for Join {
    const SPEC: Spec = Spec {
        name: "join",
        syntax: "!join COURSE",
        example: "!join data-101",
        summary: "join a course as a learner",
        details: "COURSE is the course's short name, as `!courses` shows it (for example `data-101`).",
        args: &[Arg::required("course", "The course's short name, like data-101", ArgKind::Course)],
        ..Spec::DEFAULT
    };

    fn parse(rest: &str) -> Result<Self, CommandError> {
        Ok(Join { course: args::one_slug(rest, Self::SPEC.name)? })
    }

    fn decide(&self, turn: &mut Turn<'_>) {
        join(turn, &self.course)
    }
}

fn join(turn: &mut Turn<'_>, slug: &Slug) {
    let usage = Join::SPEC.syntax;
    let Some(course) = find_course(turn, slug, usage) else { return };
    if course.status == CourseStatus::Ended {
        turn.refuse(Text::md("").code(slug.as_str()).push_md(" has ended; it takes no new learners."), None);
        return;
    }
    if let Some(role) = course.role(turn.actor()) {
        turn.refuse(
            Text::md("you're already in ").code(slug.as_str()).push_md(format!(" (as {}).", role.as_str())),
            None,
        );
        return;
    }
    let actor = turn.actor();
    turn.out.change(Change::MemberSet { course: course.id, person: actor, role: Role::Learner, at: turn.now });
    turn.out.effect(Effect::Invite { course: course.id, person: actor });
    turn.out.effect(Effect::SetRole { course: course.id, person: actor, role: Some(Role::Learner) });
    let zones = turn.zones(course);
    let text = Text::md("Welcome to **")
        .user(course.settings.title.clone())
        .push_md("** (")
        .code(course.slug.as_str())
        .push_md(")! You're a learner now, and its room is open to you.\n\n")
        .append(where_we_are(turn.state, course, &zones, turn.now));
    turn.reply(text);
}
