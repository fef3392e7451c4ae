//! `!badge award @user BADGE [reason]`: award a badge.

use crate::decide::badge::{announce, find_badge, recipient};
use crate::badges::BadgeRule;
use super::{Arg, ArgKind, Audience, Cmd, CommandError, Mention, Spec, Where, args};
use crate::decide::Turn;
use crate::ids::Slug;
use crate::state::{Change, Role};
use crate::text::Text;

/// `!badge award @user BADGE [reason]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BadgeAward {
    pub user: Mention,
    /// Which badge.
    pub badge: Slug,
    /// Why, when given.
    pub reason: Option<String>,
}

impl Cmd for BadgeAward {
    const SPEC: Spec = Spec {
        name: "badge award",
        who: "organizers; holders of a \"by holders\" badge",
        syntax: "!badge award @user BADGE [reason]",
        example: "!badge award @ana finisher",
        summary: "award a badge",
        details: "Organizers can award any badge; people who hold a badge the syllabus marks \"by holders\" can award that one while they are in the course.",
        audience: Audience::Member,
        place: Where::CourseRoom,
        args: &[
            Arg::required("user", "Who", ArgKind::User),
            Arg::required("badge", "The badge's short name", ArgKind::Text),
            Arg::optional("reason", "Why", ArgKind::Text),
        ],
        ..Spec::DEFAULT
    };

    fn parse(rest: &str) -> Result<Self, CommandError> {
        let (user, badge, reason) = args::badge_args(rest, Self::SPEC.name)?;
        Ok(BadgeAward { user, badge, reason: (!reason.is_empty()).then_some(reason) })
    }

    fn mentions(&self) -> Vec<&Mention> {
        vec![&self.user]
    }

    fn decide(&self, turn: &mut Turn<'_>) {
        award(turn, &self.user, &self.badge, self.reason.as_deref())
    }
}

/// `!badge award @user BADGE [reason]`.
fn award(turn: &mut Turn<'_>, user: &Mention, slug: &Slug, reason: Option<&str>) {
    let usage = BadgeAward::SPEC.syntax;
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
    // The announcement in the course room is the answer.
    for effect in announce(course, badge, person, Some(actor), &reason, turn.now) {
        turn.out.effect(effect);
    }
}
