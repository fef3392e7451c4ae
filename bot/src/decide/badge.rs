//! Badges: criteria badges awarded the moment they are earned or at the review deadline, and
//! what `!badge award`, `!badge nominate` and `!badges` (in [`crate::command`]) share.

use chrono::DateTime;
use chrono::Utc;

use super::{Decision, Effect, Turn};
use crate::badges::{BadgeDef, meets};
use crate::command::Mention;
use crate::ids::{PersonId, Slug};
use crate::state::{Change, Course, Role, State};
use crate::text::Text;

pub(crate) fn announce(
    course: &Course,
    badge: &BadgeDef,
    person: PersonId,
    by: Option<PersonId>,
    reason: &str,
    at: DateTime<Utc>,
) -> [Effect; 2] {
    let round = course.revocations.get(&(badge.slug.clone(), person)).map_or(0, Vec::len);
    let page =
        format!("/assertions/{}", crate::badges::assertion_id(course.seed, course.id, &badge.slug, person, at, round));
    let mut text = Text::md("🏅 ");
    match by {
        Some(giver) => {
            text = text
                .person(giver)
                .push_md(" awarded ")
                .person(person)
                .push_md(" the **")
                .user(badge.name.clone())
                .push_md("** badge")
        }
        None => text = text.person(person).push_md(" earned the **").user(badge.name.clone()).push_md("** badge"),
    }
    text = text.push_md(": ").user(reason.to_owned()).push_md(" ").page(page.clone(), "(see the badge)");
    let note = Text::md("🏅 You earned the **")
        .user(badge.name.clone())
        .push_md("** badge in ")
        .code(course.slug.as_str())
        .push_md("; ")
        .code("!badges")
        .push_md(" lists yours. ")
        .page(page, "Its page is the address to share (a CV, a backpack, a profile) and where verifiers check it.");
    [Effect::Post { course: course.id, text, thread: None }, Effect::Direct { person, text: note }]
}

/// Checks a learner's criteria badges after their record grows by `delta` (weeks submitted,
/// weeks on time, reviews done) in this decision. Each badge is awarded once.
pub(crate) fn after_progress(
    state: &State,
    course: &Course,
    person: PersonId,
    delta: (u32, u32, u32),
    now: DateTime<Utc>,
    out: &mut Decision,
) {
    let _ = state;
    if course.role(person) != Some(Role::Learner) {
        return;
    }
    let (weeks, on_time, reviews) = course.record(person);
    let (weeks, on_time, reviews) = (weeks + delta.0, on_time + delta.1, reviews + delta.2);
    for badge in course.badges() {
        let already = course.awards.contains_key(&(badge.slug.clone(), person))
            || out.changes.iter().any(
                |c| matches!(c, Change::BadgeAwarded { badge: b, person: p, .. } if b == &badge.slug && *p == person),
            );
        // A badge taken back is given again only by an organizer.
        let revoked = course.revocations.contains_key(&(badge.slug.clone(), person));
        if already || revoked || badge.retired || !meets(&badge.rule, weeks, on_time, reviews) {
            continue;
        }
        let reason = badge.rule.describe();
        out.change(Change::BadgeAwarded {
            course: course.id,
            badge: badge.slug.clone(),
            person,
            reason: reason.clone(),
            by: None,
            at: now,
        });
        for effect in announce(course, badge, person, None, &reason, now) {
            out.effect(effect);
        }
    }
}

/// Awards every criteria badge any learner has earned and not yet received: in anonymous
/// courses, reviews count towards badges here (at each review deadline and at the end) rather
/// than at the moment they are written, so no announcement ties a reviewer to a review.
pub(crate) fn sweep(state: &State, course: &Course, now: DateTime<Utc>, out: &mut Decision) {
    if !course.settings.anonymous && !course.reviews.values().any(|r| r.anonymous) {
        return;
    }
    let learners: Vec<PersonId> = course.with_role(Role::Learner).collect();
    for person in learners {
        after_progress(state, course, person, (0, 0, 0), now, out);
    }
}

pub(crate) fn find_badge<'a>(
    turn: &mut Turn<'_>,
    course: &'a Course,
    slug: &Slug,
    usage: &str,
) -> Option<&'a BadgeDef> {
    match course.badge(slug) {
        Some(b) if b.retired => {
            turn.refuse(
                Text::md("the ").code(slug.as_str()).push_md(
                    " badge is retired: the current syllabus no longer offers it, so it is awarded to nobody else.",
                ),
                None,
            );
            None
        }
        Some(b) => Some(b),
        None => {
            let known: Vec<&str> = course.badges().iter().map(|b| b.slug.as_str()).collect();
            let hint = if known.is_empty() {
                " (it has none yet: badges are defined in the syllabus)".to_owned()
            } else {
                format!(" (it has: {})", known.join(", "))
            };
            turn.refuse(
                Text::md("")
                    .code(course.slug.as_str())
                    .push_md(" has no badge called ")
                    .code(slug.as_str())
                    .push_md(hint),
                Some(usage),
            );
            None
        }
    }
}

pub(crate) fn recipient(turn: &mut Turn<'_>, course: &Course, user: &Mention, usage: &str) -> Option<PersonId> {
    let person = turn.mentioned(user, Some(usage))?;
    if course.role(person) != Some(Role::Learner) {
        turn.refuse(
            Text::new()
                .person(person)
                .push_md(" is not a learner of ")
                .code(course.slug.as_str())
                .push_md("; badges go to learners."),
            None,
        );
        return None;
    }
    Some(person)
}
