//! `!badge nominate @user BADGE <reason>`: nominate a peer for a badge earned by nomination.

use crate::decide::badge::{announce, find_badge, recipient};
use crate::badges::BadgeRule;
use super::{Arg, ArgKind, Audience, Cmd, CommandError, Mention, Spec, Where, args, args::fail};
use crate::decide::Turn;
use crate::ids::Slug;
use crate::state::Change;
use crate::text::Text;

/// `!badge nominate @user BADGE <reason>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BadgeNominate {
    pub user: Mention,
    /// Which badge.
    pub badge: Slug,
    pub reason: String,
}

impl Cmd for BadgeNominate {
    const SPEC: Spec = Spec {
        name: "badge nominate",
        who: "members",
        syntax: "!badge nominate @user BADGE <reason>",
        example: "!badge nominate @ana helper Answered everyone's questions this week",
        summary: "nominate a peer for a badge earned by nomination",
        details: "Use it in the course room. You can't nominate yourself; the syllabus says how many nominations the badge needs.",
        audience: Audience::Member,
        place: Where::CourseRoom,
        args: &[
            Arg::required("user", "Who", ArgKind::User),
            Arg::required("badge", "The badge's short name", ArgKind::Text),
            Arg::required("reason", "Why", ArgKind::Text),
        ],
        ..Spec::DEFAULT
    };

    fn parse(rest: &str) -> Result<Self, CommandError> {
        let name = Self::SPEC.name;
        let (user, badge, reason) = args::badge_args(rest, name)?;
        if reason.is_empty() {
            return fail("say why you nominate them, after the badge name.", name);
        }
        Ok(BadgeNominate { user, badge, reason })
    }

    fn mentions(&self) -> Vec<&Mention> {
        vec![&self.user]
    }

    fn decide(&self, turn: &mut Turn<'_>) {
        nominate(turn, &self.user, &self.badge, &self.reason)
    }
}

/// `!badge nominate @user BADGE reason`.
fn nominate(turn: &mut Turn<'_>, user: &Mention, slug: &Slug, reason: &str) {
    let usage = BadgeNominate::SPEC.syntax;
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
    if count >= needed && course.revocations.contains_key(&key) {
        // Taken back once, the badge is given again only by an organizer.
        turn.reply(
            Text::md("Nominated ")
                .person(person)
                .push_md(" for ")
                .code(slug.as_str())
                .push_md(". Their earlier one was revoked, so only an organizer can award it again."),
        );
    } else if count >= needed {
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
        for effect in announce(course, badge, person, None, &reason, turn.now) {
            turn.out.effect(effect);
        }
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
