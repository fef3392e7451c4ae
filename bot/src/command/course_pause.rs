//! `!course pause`: hold the schedule (no prompts until resumed).

use crate::decide::course::managed_course;
use crate::decide::plan::topic;
use super::{Audience, Cmd, CommandError, Spec, Where, args};
use crate::decide::{Effect, Turn};
use crate::state::{Change, CourseStatus};
use crate::text::Text;

/// `!course pause`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CoursePause;

impl Cmd for CoursePause {
    const SPEC: Spec = Spec {
        name: "course pause",
        who: "organizers",
        syntax: "!course pause",
        example: "!course pause",
        summary: "hold the schedule (no prompts until resumed)",
        audience: Audience::Organizer,
        place: Where::CourseRoom,
        ..Spec::DEFAULT
    };

    fn parse(rest: &str) -> Result<Self, CommandError> {
        args::no_args(rest, Self::SPEC.name).map(|()| CoursePause)
    }

    fn decide(&self, turn: &mut Turn<'_>) {
        pause(turn)
    }
}

fn pause(turn: &mut Turn<'_>) {
    let Some(course) = managed_course(turn, CoursePause::SPEC.syntax) else { return };
    match course.status {
        CourseStatus::Paused => {
            return turn.refuse(
                Text::md("the course is already paused; ").code("!course resume").push_md(" picks it up again."),
                None,
            );
        }
        CourseStatus::Ended => return turn.refuse(Text::md("the course has ended."), None),
        CourseStatus::Active => {}
    }
    turn.out.change(Change::CourseStatusChanged { course: course.id, status: CourseStatus::Paused, at: turn.now });
    turn.out.change(Change::JobsPlanned { course: course.id, jobs: Vec::new() });
    let mut after = course.clone();
    after.status = CourseStatus::Paused;
    turn.out.effect(Effect::SetTopic { course: course.id, topic: topic(&after) });
    turn.reply(
        Text::md("The schedule is paused by ")
            .person(turn.actor())
            .push_md(": no prompts until an organizer sends ")
            .code("!course resume")
            .push_md(". Submissions for open weeks are still welcome."),
    );
}
