//! `!course end`: close the course.

use crate::decide::course::managed_course;
use crate::decide::plan::topic;
use super::{Audience, Cmd, CommandError, Spec, Where, args};
use crate::decide::{Effect, Turn, plural};
use crate::state::{Change, CourseStatus};
use crate::text::Text;

/// `!course end`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CourseEnd;

impl Cmd for CourseEnd {
    const SPEC: Spec = Spec {
        name: "course end",
        who: "organizers",
        syntax: "!course end",
        example: "!course end",
        summary: "close the course",
        details: "No more joins, prompts or submissions.",
        audience: Audience::Organizer,
        place: Where::CourseRoom,
        ..Spec::DEFAULT
    };

    fn parse(rest: &str) -> Result<Self, CommandError> {
        args::no_args(rest, Self::SPEC.name).map(|()| CourseEnd)
    }

    fn decide(&self, turn: &mut Turn<'_>) {
        end(turn)
    }
}

fn end(turn: &mut Turn<'_>) {
    let Some(course) = managed_course(turn, CourseEnd::SPEC.syntax) else { return };
    if course.status == CourseStatus::Ended {
        return turn.refuse(Text::md("the course has already ended."), None);
    }
    let mut out = std::mem::take(&mut turn.out);
    crate::decide::badge::sweep(turn.state, course, turn.now, &mut out);
    turn.out = out;
    turn.out.change(Change::CourseStatusChanged { course: course.id, status: CourseStatus::Ended, at: turn.now });
    turn.out.change(Change::JobsPlanned { course: course.id, jobs: Vec::new() });
    for (job, _) in turn.state.course_jobs(course.id).filter(|(k, _)| k.kind != crate::state::JobKind::Prompt) {
        turn.out.change(Change::JobDone { job: *job });
    }
    let mut after = course.clone();
    after.status = CourseStatus::Ended;
    turn.out.effect(Effect::SetTopic { course: course.id, topic: topic(&after) });
    let submissions = course.submissions.len();
    turn.reply(Text::md("**").user(course.settings.title.clone()).push_md(format!(
        "** has ended after {} with {}. Thank you all for learning together!",
        plural(course.opened.len(), "week"),
        plural(submissions, "submission")
    )));
}
