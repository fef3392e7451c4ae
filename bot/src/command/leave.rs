//! `!leave COURSE`: leave a course.

use crate::decide::community::find_course;
use super::{Arg, ArgKind, Cmd, CommandError, Spec, args};
use crate::decide::{Effect, Turn};
use crate::ids::Slug;
use crate::state::{Change, CourseStatus, Role};
use crate::text::Text;

/// `!leave COURSE`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Leave {
    /// Which course.
    pub course: Slug,
}

impl Cmd for Leave {
    const SPEC: Spec = Spec {
        name: "leave",
        syntax: "!leave COURSE",
        example: "!leave data-101",
        summary: "leave a course",
        details: "Your submissions stay in the course record.",
        args: &[Arg::required("course", "The course's short name, like data-101", ArgKind::Course)],
        ..Spec::DEFAULT
    };

    fn parse(rest: &str) -> Result<Self, CommandError> {
        Ok(Leave { course: args::one_slug(rest, Self::SPEC.name)? })
    }

    fn decide(&self, turn: &mut Turn<'_>) {
        leave(turn, &self.course)
    }
}

fn leave(turn: &mut Turn<'_>, slug: &Slug) {
    let usage = Leave::SPEC.syntax;
    let Some(course) = find_course(turn, slug, usage) else { return };
    let actor = turn.actor();
    let Some(role) = course.role(actor) else {
        turn.refuse(Text::md("you're not in ").code(slug.as_str()).push_md("."), None);
        return;
    };
    if role == Role::Organizer && course.with_role(Role::Organizer).count() == 1 && course.status != CourseStatus::Ended
    {
        turn.refuse(
            Text::md("you're the only organizer of ")
                .code(slug.as_str())
                .push_md("; add another with ")
                .code("!organizer add @user")
                .push_md(" (or end the course) before leaving."),
            None,
        );
        return;
    }
    turn.out.change(Change::MemberRemoved { course: course.id, person: actor });
    turn.out.effect(Effect::SetRole { course: course.id, person: actor, role: None });
    let mut out = std::mem::take(&mut turn.out);
    crate::decide::review::hand_on_work(turn.state, course, actor, turn.now, &mut out);
    turn.out = out;
    turn.reply(
        Text::md("You've left ")
            .code(slug.as_str())
            .push_md(". Your submissions stay in the course record. Come back any time with ")
            .code(format!("!join {slug}"))
            .push_md("."),
    );
}
