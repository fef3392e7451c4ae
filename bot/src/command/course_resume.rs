//! `!course resume`: pick the schedule up again.

use crate::decide::course::managed_course;
use crate::decide::plan::{plan_prompts, topic};
use super::{Audience, Cmd, CommandError, Spec, Where, args};
use crate::decide::{Effect, Turn};
use crate::state::{Change, CourseStatus};
use crate::text::Text;

/// `!course resume`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CourseResume;

impl Cmd for CourseResume {
    const SPEC: Spec = Spec {
        name: "course resume",
        who: "organizers",
        syntax: "!course resume",
        example: "!course resume",
        summary: "pick the schedule up again",
        details: "The next week starts at the next scheduled time after resuming.",
        audience: Audience::Organizer,
        place: Where::CourseRoom,
        ..Spec::DEFAULT
    };

    fn parse(rest: &str) -> Result<Self, CommandError> {
        args::no_args(rest, Self::SPEC.name).map(|()| CourseResume)
    }

    fn decide(&self, turn: &mut Turn<'_>) {
        resume(turn)
    }
}

fn resume(turn: &mut Turn<'_>) {
    let Some(course) = managed_course(turn, CourseResume::SPEC.syntax) else { return };
    match course.status {
        CourseStatus::Active => return turn.refuse(Text::md("the course is not paused."), None),
        CourseStatus::Ended => return turn.refuse(Text::md("the course has ended; it cannot be resumed."), None),
        CourseStatus::Paused => {}
    }
    let mut after = course.clone();
    after.status = CourseStatus::Active;
    let jobs = plan_prompts(&after, turn.now);
    let next = jobs.first().copied();
    turn.out.change(Change::CourseStatusChanged { course: course.id, status: CourseStatus::Active, at: turn.now });
    turn.out.change(Change::JobsPlanned { course: course.id, jobs });
    turn.out.effect(Effect::SetTopic { course: course.id, topic: topic(&after) });
    let mut text = Text::md("The schedule is running again. ");
    match next {
        Some((job, at)) => {
            text = text.push_md(format!("Week {} opens ", job.week)).time(at, &[course.settings.zone]).push_md(".")
        }
        None => text = text.push_md("All weeks have been posted."),
    }
    turn.reply(text);
}
