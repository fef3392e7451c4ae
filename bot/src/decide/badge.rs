//! Badges: criteria badges awarded the moment they are earned, awards by organizers and by
//! holders, peer nominations, and the list of who holds what.

use chrono::DateTime;
use chrono::Utc;

use super::{Decision, Effect, Place, Turn};
use crate::badges::{BadgeDef, BadgeRule, meets};
use crate::command::{Mention, syntax};
use crate::ids::{PersonId, Slug};
use crate::state::{Change, Course, Role, State};
use crate::text::Text;

fn announce(course: &Course, badge: &BadgeDef, person: PersonId, by: Option<PersonId>, reason: &str) -> Effect {
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
    text = text.push_md(": ").user(reason.to_owned());
    Effect::Post { course: course.id, text, thread: None }
}

/// Checks a learner's criteria badges after their record grows by `delta` (weeks submitted,
/// weeks on time, reviews done) in this decision. Each badge is awarded once.
pub(super) fn after_progress(
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
        if already || badge.retired || !meets(&badge.rule, weeks, on_time, reviews) {
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
        out.effect(announce(course, badge, person, None, &reason));
    }
}

/// Awards every criteria badge any learner has earned and not yet received: in anonymous
/// courses, reviews count towards badges here (at each review deadline and at the end) rather
/// than at the moment they are written, so no announcement ties a reviewer to a review.
pub(super) fn sweep(state: &State, course: &Course, now: DateTime<Utc>, out: &mut Decision) {
    if !course.settings.anonymous && !course.reviews.values().any(|r| r.anonymous) {
        return;
    }
    let learners: Vec<PersonId> = course.with_role(Role::Learner).collect();
    for person in learners {
        after_progress(state, course, person, (0, 0, 0), now, out);
    }
}

fn find_badge<'a>(turn: &mut Turn<'_>, course: &'a Course, slug: &Slug, usage: &str) -> Option<&'a BadgeDef> {
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

fn recipient(turn: &mut Turn<'_>, course: &Course, user: &Mention, usage: &str) -> Option<PersonId> {
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

/// `!badge award @user BADGE [reason]`.
pub(super) fn award(turn: &mut Turn<'_>, user: &Mention, slug: &Slug, reason: Option<&str>) {
    let usage = syntax("badge award");
    let Some(course) = turn.course_here(usage) else { return };
    let Some(badge) = find_badge(turn, course, slug, usage) else { return };
    let actor = turn.actor();
    let organizer = turn.effective_role(course) == Some(Role::Organizer);
    // Holding the badge gives the power to award it only while one is still in the course.
    let holder = badge.rule == BadgeRule::Holders
        && course.awards.contains_key(&(slug.clone(), actor))
        && course.role(actor).is_some();
    if !organizer && !holder {
        let who = if badge.rule == BadgeRule::Holders { "organizers and people who hold it" } else { "organizers" };
        return turn
            .refuse(Text::md(format!("only {who} can award the ")).code(slug.as_str()).push_md(" badge."), None);
    }
    let Some(person) = recipient(turn, course, user, usage) else { return };
    if course.awards.contains_key(&(slug.clone(), person)) {
        return turn.refuse(
            Text::new().person(person).push_md(" already holds the ").code(slug.as_str()).push_md(" badge."),
            None,
        );
    }
    let reason = reason.map_or_else(|| badge.description.clone(), str::to_owned);
    turn.out.change(Change::BadgeAwarded {
        course: course.id,
        badge: slug.clone(),
        person,
        reason: reason.clone(),
        by: Some(actor),
        at: turn.now,
    });
    turn.out.effect(announce(course, badge, person, Some(actor), &reason));
    if !matches!(turn.input.place, Place::Course(_)) {
        turn.reply(Text::md("Awarded."));
    }
}

/// `!badge nominate @user BADGE reason`.
pub(super) fn nominate(turn: &mut Turn<'_>, user: &Mention, slug: &Slug, reason: &str) {
    let usage = syntax("badge nominate");
    let Some(course) = turn.course_here(usage) else { return };
    let Some(badge) = find_badge(turn, course, slug, usage) else { return };
    let BadgeRule::Nominations(needed) = badge.rule else {
        return turn.refuse(
            Text::md("the ")
                .code(slug.as_str())
                .push_md(format!(" badge is {}, not by nomination.", badge.rule.describe())),
            None,
        );
    };
    let actor = turn.actor();
    if turn.effective_role(course).is_none() {
        return turn.refuse(Text::md("only members of ").code(course.slug.as_str()).push_md(" can nominate."), None);
    }
    let Some(person) = recipient(turn, course, user, usage) else { return };
    if person == actor {
        return turn.refuse(Text::md("you can't nominate yourself; your peers will."), None);
    }
    let key = (slug.clone(), person);
    if course.awards.contains_key(&key) {
        return turn.refuse(
            Text::new().person(person).push_md(" already holds the ").code(slug.as_str()).push_md(" badge."),
            None,
        );
    }
    let nominations = course.nominations.get(&key);
    if nominations.is_some_and(|n| n.contains_key(&actor)) {
        return turn.refuse(
            Text::md("you have already nominated ").person(person).push_md(" for ").code(slug.as_str()).push_md("."),
            None,
        );
    }
    turn.out.change(Change::BadgeNominated {
        course: course.id,
        badge: slug.clone(),
        nominee: person,
        nominator: actor,
        reason: reason.to_owned(),
        at: turn.now,
    });
    // Only nominations by people still in the course count.
    let standing: Vec<&String> = nominations
        .map(|n| n.iter().filter(|(by, _)| course.role(**by).is_some()).map(|(_, r)| r).collect())
        .unwrap_or_default();
    let count = standing.len() as u32 + 1;
    if count >= needed {
        let mut reasons: Vec<String> = standing.into_iter().cloned().collect();
        reasons.push(reason.to_owned());
        let reason = format!("nominated by {count} peers: {}", reasons.join("; "));
        turn.out.change(Change::BadgeAwarded {
            course: course.id,
            badge: slug.clone(),
            person,
            reason: reason.clone(),
            by: None,
            at: turn.now,
        });
        turn.out.effect(announce(course, badge, person, None, &reason));
        turn.reply(Text::md("Your nomination completed it."));
    } else {
        turn.reply(
            Text::md("Nominated ")
                .person(person)
                .push_md(" for ")
                .code(slug.as_str())
                .push_md(format!(" ({count} of {needed} nominations).")),
        );
    }
}

/// `!badges [@user]`.
pub(super) fn list(turn: &mut Turn<'_>, user: Option<&Mention>) {
    let state = turn.state;
    let actor = turn.actor();
    let here = match turn.input.place {
        Place::Course(id) => state.courses.get(&id),
        _ => None,
    };
    let who = match user {
        Some(m) => match turn.mentioned(m, Some(syntax("badges"))) {
            Some(p) => Some(p),
            None => return,
        },
        None => None,
    };
    match (here, who) {
        (Some(course), None) => {
            if course.badges().is_empty() {
                return turn.reply(
                    Text::md("")
                        .code(course.slug.as_str())
                        .push_md(" has no badges yet; organizers define them in the syllabus's ")
                        .code("## Badges")
                        .push_md(" section."),
                );
            }
            let mut text = Text::md("Badges of ").code(course.slug.as_str()).push_md(":");
            for b in course.badges() {
                text = text
                    .push_md("\n• ")
                    .code(b.slug.as_str())
                    .push_md(" **")
                    .user(b.name.clone())
                    .push_md("** — ")
                    .user(b.description.clone())
                    .push_md(if b.retired {
                        " (retired: no longer awarded)".to_owned()
                    } else {
                        format!(" ({})", b.rule.describe())
                    });
                let holders: Vec<PersonId> =
                    course.awards.keys().filter(|(s, _)| s == &b.slug).map(|(_, p)| *p).collect();
                if !holders.is_empty() {
                    text = text.push_md(". Held by ");
                    for (i, p) in holders.into_iter().enumerate() {
                        if i > 0 {
                            text = text.push_md(", ");
                        }
                        text = text.person(p);
                    }
                }
            }
            turn.reply(text);
        }
        (course, who) => {
            let person = who.unwrap_or(actor);
            let courses: Vec<&Course> = match course {
                Some(c) => vec![c],
                None => state.courses.values().collect(),
            };
            let awards: Vec<(&Course, &BadgeDef, &crate::state::Award)> = courses
                .iter()
                .flat_map(|c| {
                    c.awards
                        .iter()
                        .filter(|((_, p), _)| *p == person)
                        .filter_map(move |((slug, _), award)| c.badge(slug).map(|b| (*c, b, award)))
                })
                .collect();
            let mut text = if person == actor {
                Text::md("Your badges:")
            } else {
                Text::md("Badges of ").person(person).push_md(":")
            };
            if awards.is_empty() {
                text = text.push_md(" none yet.");
            }
            for (c, b, award) in awards {
                text = text
                    .push_md("\n• **")
                    .user(b.name.clone())
                    .push_md("** (")
                    .code(c.slug.as_str())
                    .push_md(") — ")
                    .user(award.reason.clone());
            }
            turn.reply(text);
        }
    }
}
