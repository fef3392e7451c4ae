//! What follows when the platform refuses an effect for good.
//!
//! The executor tries an effect until the platform says it never will (no permission, the room
//! is gone, the request is refused) or it has failed too often; it then reports the failure as
//! an input, and this decides who needs to know. Something the course's organizers can act on
//! (the room that was not made, the prompt that did not go out, the role that was not given)
//! reaches them by direct message, where it says what and why without exposing anything
//! private; a school's space that was not made reaches the bot admins, whose schools are. A
//! failed direct message or reply is not announced anywhere: its text may have been private,
//! and telling the room would say so.

use serde::{Deserialize, Serialize};

use super::{Decision, Effect};
use crate::state::{Role, State};
use crate::text::Text;

/// Why the platform would not perform an effect, as far as deciding what follows goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Failure {
    /// The bot lacks the right to do it.
    NotAllowed,
    /// What it acts on is gone (a deleted room, a person who left the platform).
    Gone,
    /// The platform refused what was sent.
    Refused,
    /// It kept failing, and was given up after many tries.
    KeptFailing,
}

impl Failure {
    fn why(self) -> &'static str {
        match self {
            Failure::NotAllowed => "the platform did not allow it (the bot may be missing a permission there)",
            Failure::Gone => "the platform no longer has the room or the person",
            Failure::Refused => "the platform refused what I sent",
            Failure::KeptFailing => "it kept failing, so I gave up after several tries",
        }
    }
}

/// Tells a course's organizers about an effect that failed for good, when there is something
/// for them to do about it.
pub(crate) fn effect_failed(state: &State, effect: &Effect, failure: Failure) -> Decision {
    let mut out = Decision::default();
    let (course, what) = match effect {
        Effect::CreateCourseRoom { course, .. } => (
            *course,
            Text::md("I could not create the course's room. The course exists, but has no room on that platform yet"),
        ),
        Effect::SetTopic { course, .. } => (*course, Text::md("I could not change the topic of the course's room")),
        Effect::Post { course, thread: Some(thread), .. } => {
            (*course, Text::md(format!("The prompt of week {} did not go out in the course's room", thread.week)))
        }
        Effect::Post { course, thread: None, .. } => {
            (*course, Text::md("An announcement did not go out in the course's room"))
        }
        Effect::SetRole { course, person, role } => {
            let text = match role {
                Some(role) => Text::md("I could not give ").person(*person).push_md(format!(
                    " the rights of {} in the course's room (in the course itself the role is theirs all the same)",
                    article(*role)
                )),
                None => Text::md("I could not take away the rights ")
                    .person(*person)
                    .push_md(" had in the course's room; they still have them there"),
            };
            (*course, text)
        }
        Effect::Invite { course, person } => (
            *course,
            Text::md("I could not invite ").person(*person).push_md(" to the course's room; they can still join it"),
        ),
        // Schools are the bot admins' to make, so they hear of it.
        Effect::CreateSchoolSpace { name, .. } => {
            let text = Text::md("⚠️ I could not create the space of the school ")
                .user(name.clone())
                .push_md(": ")
                .push_md(failure.why())
                .push_md(". Its courses' rooms are made without it; the bot's log has the details.");
            for admin in state.admins() {
                out.effect(Effect::Direct { person: admin, text: text.clone() });
            }
            return out;
        }
        // A failed direct message or reply may have been private; an invitation that cannot be
        // answered has nobody to tell.
        // A sign-in link that could not be sent is asked for again; signing out is the store's.
        Effect::Direct { .. }
        | Effect::Reply { .. }
        | Effect::AnswerInvite { .. }
        | Effect::LoginLink { .. }
        | Effect::EndSessions { .. } => return out,
    };
    let Some(course) = state.courses.get(&course) else { return out };
    let text = Text::md("⚠️ ")
        .append(what)
        .push_md(" (course ")
        .code(course.slug.as_str())
        .push_md("): ")
        .push_md(failure.why())
        .push_md(". A bot admin can look into it; the bot's log has the details.");
    for (person, member) in &course.members {
        if member.role == Role::Organizer {
            out.effect(Effect::Direct { person: *person, text: text.clone() });
        }
    }
    out
}

fn article(role: Role) -> &'static str {
    match role {
        Role::Organizer => "an organizer",
        Role::Mentor => "a mentor",
        Role::Learner => "a learner",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decide::tests::{ANA, OLGA, World};
    use crate::decide::{Ctx, Input, Place, decide};
    use crate::ids::{CourseId, PersonId};

    fn failed(world: &World, effect: Effect, failure: Failure) -> Decision {
        decide(&world.state, Input::EffectFailed { effect, failure }, &Ctx { now: world.now, seed: 1 })
    }

    fn course_with_organizer_and_learner() -> (World, CourseId) {
        let mut w = World::new("2026-10-19T08:00:00Z");
        w.say(OLGA, Place::Lobby, "!course new data-101 \"Intro to Data\"");
        let course = *w.state.courses.keys().next().expect("a course");
        w.say(ANA, Place::Course(course), "!join");
        (w, course)
    }

    #[test]
    fn a_prompt_that_could_not_be_posted_is_told_to_the_organizers_only() {
        let (w, course) = course_with_organizer_and_learner();
        let thread = crate::decide::WeekThread { week: 2, name: "Week 2".into(), opening: Text::md("here") };
        let d =
            failed(&w, Effect::Post { course, text: Text::md("prompt"), thread: Some(thread) }, Failure::NotAllowed);
        assert!(d.changes.is_empty());
        let told: Vec<_> = d
            .effects
            .iter()
            .map(|e| match e {
                Effect::Direct { person, text } => (*person, text.plain()),
                other => panic!("only direct messages, not {other:?}"),
            })
            .collect();
        assert_eq!(told.len(), 1, "{told:?}");
        assert_eq!(told[0].0, OLGA);
        assert!(told[0].1.contains("week 2") && told[0].1.contains("data-101"), "{}", told[0].1);
        assert!(told[0].1.contains("did not allow"), "{}", told[0].1);
    }

    #[test]
    fn a_role_not_given_names_the_person_and_the_role() {
        let (w, course) = course_with_organizer_and_learner();
        let d = failed(&w, Effect::SetRole { course, person: ANA, role: Some(Role::Mentor) }, Failure::Gone);
        let [Effect::Direct { person, text }] = d.effects.as_slice() else { panic!("{:?}", d.effects) };
        assert_eq!(*person, OLGA);
        assert!(text.spans.contains(&crate::text::Span::Person(ANA)));
        assert!(text.plain().contains("a mentor"), "{}", text.plain());
    }

    #[test]
    fn a_failed_direct_message_or_reply_is_announced_nowhere() {
        let (w, _) = course_with_organizer_and_learner();
        let direct = Effect::Direct { person: ANA, text: Text::md("your review of …") };
        assert_eq!(failed(&w, direct, Failure::Refused), Decision::default());
        let reply = Effect::Reply { to: crate::ids::ReplyTo("r".into()), text: Text::md("x"), private: true };
        assert_eq!(failed(&w, reply, Failure::KeptFailing), Decision::default());
    }

    #[test]
    fn a_school_space_not_made_is_told_to_the_bot_admins() {
        let (w, _) = course_with_organizer_and_learner();
        let effect = Effect::CreateSchoolSpace { school: crate::ids::SchoolId(1), name: "School of Data".into() };
        let d = failed(&w, effect, Failure::NotAllowed);
        let told: Vec<PersonId> = d
            .effects
            .iter()
            .map(|e| match e {
                Effect::Direct { person, .. } => *person,
                other => panic!("only direct messages, not {other:?}"),
            })
            .collect();
        assert_eq!(told, vec![OLGA], "the admins, and nobody else");
    }

    #[test]
    fn a_failure_about_a_course_that_is_gone_is_dropped() {
        let w = World::new("2026-10-19T08:00:00Z");
        let d = failed(&w, Effect::SetTopic { course: CourseId(99), topic: "t".into() }, Failure::Gone);
        assert_eq!(d, Decision::default());
    }
}
