//! What the community commands share (finding a course by its name, telling a newcomer where
//! the course stands) and what happens when someone joins a course room on the platform
//! itself. The commands are in [`crate::command`].

use chrono::DateTime;
use chrono::Utc;

use super::{Ctx, Decision, Effect, Turn};
use crate::ids::{CourseId, PersonId, Slug, Zone};
use crate::state::{Change, Course, CourseStatus, Role, State};
use crate::text::Text;

pub(crate) fn find_course<'a>(turn: &mut Turn<'a>, slug: &Slug, usage: &str) -> Option<&'a Course> {
    let state = turn.state;
    match state.course_by_slug(slug) {
        Some(c) => Some(c),
        None => {
            turn.refuse(
                Text::md("there is no course ")
                    .code(slug.as_str())
                    .push_md(". ")
                    .code("!courses")
                    .push_md(" lists the courses."),
                Some(usage),
            );
            None
        }
    }
}

/// What a newcomer needs to know: the current week, its prompt and deadline, or when it starts.
pub(crate) fn where_we_are(state: &State, course: &Course, zones: &[Zone], now: DateTime<Utc>) -> Text {
    where_we_are_with(course, &|week| state.prompt_time(course, week), zones, now)
}

/// [`where_we_are`] with the prompt times given, for a course whose jobs are being re-planned.
pub(crate) fn where_we_are_with(
    course: &Course,
    prompt_time: &dyn Fn(u32) -> Option<DateTime<Utc>>,
    zones: &[Zone],
    now: DateTime<Utc>,
) -> Text {
    let Some(week) = course.current_week() else {
        return match prompt_time(1) {
            Some(at) => Text::md("Week 1 opens ").time(at, zones).push_md("."),
            None => Text::md("The schedule is on hold; the organizers will resume it."),
        };
    };
    let mut text = Text::md(format!("This is week {week} of {}", course.settings.weeks));
    if let Some(title) = course.week_title(week) {
        text = text.push_md(": **").user(title.to_owned()).push_md("**");
    }
    text = text.push_md(".");
    if let Some(plan) = course.syllabus.as_ref().and_then(|s| s.week(week)) {
        text = text.push_md("\n\n").push_md(plan.prompt.clone());
    }
    if let Some(deadline) = course.deadline(week) {
        let verb = if deadline < now {
            "\n\nIts work was due "
        } else {
            "\n\nSubmit your work with `!submit <link or text>` in the course room by "
        };
        text = text.push_md(verb).time(deadline, zones).push_md(".");
        if deadline < now {
            text = text.push_md(" Late work is still welcome.");
        }
    }
    if let Some(next) = prompt_time(week + 1) {
        text = text.push_md(format!("\nWeek {} opens ", week + 1)).time(next, zones).push_md(".");
    }
    text
}

pub(crate) fn member_joined(state: &State, person: PersonId, course: CourseId, ctx: &Ctx) -> Decision {
    let mut out = Decision::default();
    let Some(course) = state.courses.get(&course) else { return out };
    if course.role(person).is_some() || course.status == CourseStatus::Ended {
        return out;
    }
    out.change(Change::MemberSet { course: course.id, person, role: Role::Learner, at: ctx.now });
    out.effect(Effect::SetRole { course: course.id, person, role: Some(Role::Learner) });
    let zones = state.zones_for(person, course);
    let text = Text::md("Welcome, ")
        .person(person)
        .push_md("! You've joined as a learner.\n\n")
        .append(where_we_are(state, course, &zones, ctx.now));
    out.effect(Effect::Post { course: course.id, text, thread: None });
    out
}

/// The bot takes direct conversations with anyone, and group rooms only from bot admins and
/// organizers of a course: any other room would be a lobby anyone could fill with commands.
pub(crate) fn invited(state: &State, inviter: PersonId, direct: bool, invitation: crate::ids::Invitation) -> Decision {
    let admin = state.is_admin(inviter);
    let organizer = state.courses.values().any(|c| c.role(inviter) == Some(Role::Organizer));
    let mut out = Decision::default();
    out.effect(Effect::AnswerInvite { invitation, accept: direct || admin || organizer });
    out
}
