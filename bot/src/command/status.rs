//! `!status`: per week: submitted, late, revised, reviews done and assigned, escalated.

use super::{Audience, Cmd, CommandError, Spec, Where, args};
use crate::decide::{Turn, plural};
use crate::ids::PersonId;
use crate::state::{CourseStatus, Role};
use crate::text::Text;

/// `!status`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Status;

impl Cmd for Status {
    const SPEC: Spec = Spec {
        name: "status",
        who: "organizers",
        syntax: "!status",
        example: "!status",
        summary: "per week: submitted, late, revised, reviews done and assigned, escalated",
        details: "Use it in the course room.",
        audience: Audience::Organizer,
        place: Where::CourseRoom,
        ..Spec::DEFAULT
    };

    fn parse(rest: &str) -> Result<Self, CommandError> {
        args::no_args(rest, Self::SPEC.name).map(|()| Status)
    }

    fn decide(&self, turn: &mut Turn<'_>) {
        status(turn)
    }
}

fn status(turn: &mut Turn<'_>) {
    let usage = Status::SPEC.syntax;
    let Some(course) = turn.course_here(usage) else { return };
    if !turn.require_organizer(course, usage) {
        return;
    }
    let state = turn.state;
    let zones = turn.zones(course);
    let learners: Vec<PersonId> = course.with_role(Role::Learner).collect();
    let mut text =
        Text::md("**").user(course.settings.title.clone()).push_md("** (").code(course.slug.as_str()).push_md(format!(
            ") · {} · {} · {}, {}, {}",
            course.status.as_str(),
            match course.current_week() {
                Some(w) => format!("week {w} of {}", course.settings.weeks),
                None => format!("not started ({} weeks)", course.settings.weeks),
            },
            plural(learners.len(), "learner"),
            plural(course.with_role(Role::Organizer).count(), "organizer"),
            plural(course.with_role(Role::Mentor).count(), "mentor"),
        ));
    if course.status == CourseStatus::Paused {
        text = text.push_md(" · paused since ").time(course.status_at, &zones);
    }
    for &week in course.opened.keys() {
        let subs: Vec<_> =
            course.submissions.range((week, PersonId(i64::MIN))..=(week, PersonId(i64::MAX))).map(|(_, s)| s).collect();
        let late = subs.iter().filter(|s| s.late).count();
        let revised = subs.iter().filter(|s| s.revisions > 1).count();
        let current_learners = subs.iter().filter(|s| learners.contains(&s.author)).count();
        text = text.push_md(format!("\n• Week {week}: {current_learners} of {} learners submitted", learners.len()));
        if subs.len() > current_learners {
            text = text.push_md(format!(" (+{} from people who left)", subs.len() - current_learners));
        }
        if late > 0 {
            text = text.push_md(format!(", {late} late"));
        }
        if revised > 0 {
            text = text.push_md(format!(", {revised} revised"));
        }
        if let Some(d) = course.deadline(week) {
            text = text.push_md(if d > turn.now { "; due " } else { "; was due " }).time(d, &zones);
        }
        let week_assignments: Vec<_> = course.assignments.values().filter(|a| a.week == week).collect();
        if course.paired.contains_key(&week) {
            let done = week_assignments.iter().filter(|a| a.status == crate::state::AssignmentStatus::Done).count();
            let live = week_assignments.iter().filter(|a| a.status != crate::state::AssignmentStatus::Expired).count();
            let escalated = week_assignments.iter().filter(|a| a.role == crate::state::ReviewerRole::Mentor).count();
            text = text.push_md(format!("\n    reviews {done} done of {live} assigned, {escalated} with mentors"));
        } else if let Some(d) = course.deadline(week) {
            text = text.push_md("\n    reviewers are paired at the deadline (").time(d, &zones).push_md(")");
        }
    }
    let next = course.current_week().unwrap_or(0) + 1;
    if let Some(at) = state.prompt_time(course, next) {
        text = text.push_md(format!("\n• Week {next} opens ")).time(at, &zones);
    }
    if course.syllabus.is_none() {
        text = text.push_md("\nNo syllabus loaded yet: ").code("!syllabus load");
    }
    turn.reply(text);
}
