//! What the course commands share: the defaults of a new course, schools, the start-date
//! rule, the organizer check, and adding or removing organizers and mentors (`!organizer`
//! and `!mentor` are one rule for two roles). The commands are in [`crate::command`].

use chrono::{Datelike, Duration};

use super::{Effect, Turn, plural};
use crate::command::{Mention, RoleAction, syntax};
use crate::ids::{SchoolId, Slug};
use crate::state::{Change, Course, CourseStatus, Role};
use crate::text::Text;

/// Weeks a course has unless told otherwise (a typical P2PU learning circle).
pub const DEFAULT_WEEKS: u32 = 6;
/// Days from each prompt to its submission deadline unless told otherwise.
pub const DEFAULT_DEADLINE_DAYS: u32 = 5;
/// Peer reviews per submission unless told otherwise.
pub const DEFAULT_REVIEWS: u32 = 2;
/// Days from the submission deadline to the review deadline unless told otherwise.
pub const DEFAULT_REVIEW_DAYS: u32 = 2;
/// Days a reviewer holds an assignment unless told otherwise.
pub const DEFAULT_LEASE_DAYS: u32 = 2;

/// Finds the school for a name, or plans to create it. Returns its id.
pub(crate) fn school_for(turn: &mut Turn<'_>, name: &str) -> Option<SchoolId> {
    let slug = Slug::from_name(name).ok()?;
    if let Some(s) = turn.state.school_by_slug(&slug) {
        return Some(s.id);
    }
    let id = turn.state.next_school_id();
    turn.out.change(Change::SchoolCreated { school: id, slug, name: name.to_owned() });
    turn.out.effect(Effect::CreateSchoolSpace { school: id, name: name.to_owned() });
    Some(id)
}

pub(crate) fn check_start(start: chrono::NaiveDate, today: chrono::NaiveDate) -> Option<String> {
    if start < today {
        return Some(format!("the start date {start} is in the past (today is {today} in the course's zone)."));
    }
    if start > today + Duration::days(2 * 366) {
        return Some(format!("the start date {start} is more than two years away."));
    }
    if start.year() > 9999 {
        return Some("the start date is out of range.".to_owned());
    }
    None
}

/// The course of this room, when the actor may manage it.
pub(crate) fn managed_course<'a>(turn: &mut Turn<'a>, usage: &str) -> Option<&'a Course> {
    let state = turn.state;
    let course = match turn.input.place {
        super::Place::Course(id) => state.courses.get(&id),
        _ => None,
    };
    let Some(course) = course else {
        turn.refuse(Text::md("use this command in the course's room."), Some(usage));
        return None;
    };
    turn.require_organizer(course, usage).then_some(course)
}

pub(crate) fn set_role(turn: &mut Turn<'_>, role: Role, action: RoleAction, user: &Mention) {
    let usage = if role == Role::Organizer { syntax("organizer") } else { syntax("mentor") };
    let Some(course) = managed_course(turn, usage) else { return };
    let Some(person) = turn.mentioned(user, Some(usage)) else { return };
    let current = course.role(person);
    let a_name = if role == Role::Organizer { "an organizer" } else { "a mentor" };
    match action {
        RoleAction::Add => {
            if current == Some(role) {
                return turn.refuse(Text::md("").person(person).push_md(format!(" is already {a_name} here.")), None);
            }
            if course.status == CourseStatus::Ended {
                return turn.refuse(Text::md("the course has ended."), None);
            }
            if current == Some(Role::Organizer) && course.with_role(Role::Organizer).count() == 1 {
                return turn.refuse(
                    Text::new().person(person).push_md(
                        " is the only organizer here; a course needs at least one, so add another organizer first.",
                    ),
                    None,
                );
            }
            turn.out.change(Change::MemberSet { course: course.id, person, role, at: turn.now });
            turn.out.effect(Effect::SetRole { course: course.id, person, role: Some(role) });
            if current.is_none() {
                turn.out.effect(Effect::Invite { course: course.id, person });
            }
            let was = current.map(|r| format!(" (was {})", r.as_str())).unwrap_or_default();
            turn.reply(
                Text::new()
                    .person(person)
                    .push_md(format!(" is now {a_name} of "))
                    .code(course.slug.as_str())
                    .push_md(format!("{was}.")),
            );
        }
        RoleAction::Remove => {
            if current != Some(role) {
                return turn.refuse(Text::new().person(person).push_md(format!(" is not {a_name} here.")), None);
            }
            if role == Role::Organizer && course.with_role(Role::Organizer).count() == 1 {
                return turn.refuse(
                    Text::md("a course needs at least one organizer; add another before removing the last."),
                    None,
                );
            }
            turn.out.change(Change::MemberRemoved { course: course.id, person });
            turn.out.effect(Effect::SetRole { course: course.id, person, role: None });
            let mut out = std::mem::take(&mut turn.out);
            let handed = super::review::hand_on_work(turn.state, course, person, turn.now, &mut out);
            turn.out = out;
            let handed = if handed > 0 {
                format!(" Their {} went to others.", plural(handed, "open review assignment"))
            } else {
                String::new()
            };
            turn.reply(
                Text::new()
                    .person(person)
                    .push_md(format!(" is no longer {a_name} of "))
                    .code(course.slug.as_str())
                    .push_md(format!(".{handed}")),
            );
        }
    }
}
