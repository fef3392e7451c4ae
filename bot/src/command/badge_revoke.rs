//! `!badge revoke @user BADGE reason`: take an award back.
//!
//! The award leaves the course's record; its hosted assertion keeps its address and answers
//! that it was revoked, with the reason (as Open Badges verifiers expect: 410 Gone). The person
//! is told by DM; the organizer's answer goes only to them. Criteria and nominations never give
//! the badge back to that person; an organizer may, and the new award gets a new address.

use super::{Arg, ArgKind, Audience, Cmd, CommandError, Mention, Spec, Where, args};
use crate::decide::{Effect, Turn};
use crate::ids::Slug;
use crate::state::{Change, Role};
use crate::text::Text;

/// `!badge revoke @user BADGE reason`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BadgeRevoke {
    pub user: Mention,
    /// Which badge.
    pub badge: Slug,
    /// Why: shown to the person and in the revoked assertion.
    pub reason: String,
}

impl Cmd for BadgeRevoke {
    const SPEC: Spec = Spec {
        name: "badge revoke",
        who: "organizers",
        syntax: "!badge revoke @user BADGE reason",
        example: "!badge revoke @ana finisher awarded by mistake",
        summary: "take a badge back, saying why",
        details: "The badge's page and its Open Badges assertion then say it was revoked, with the reason; the person is told by direct message. Only an organizer can award it to them again.",
        audience: Audience::Member,
        place: Where::CourseRoom,
        args: &[
            Arg::required("user", "Who", ArgKind::User),
            Arg::required("badge", "The badge's short name", ArgKind::Text),
            Arg::required("reason", "Why (shown to them and to verifiers)", ArgKind::Text),
        ],
        ..Spec::DEFAULT
    };

    fn parse(rest: &str) -> Result<Self, CommandError> {
        let (user, badge, reason) = args::badge_args(rest, Self::SPEC.name)?;
        if reason.is_empty() {
            return args::fail("say why: the reason is shown to them and to anyone who checks the badge.", Self::SPEC.name);
        }
        Ok(BadgeRevoke { user, badge, reason })
    }

    fn mentions(&self) -> Vec<&Mention> {
        vec![&self.user]
    }

    fn decide(&self, turn: &mut Turn<'_>) {
        let usage = Self::SPEC.syntax;
        let Some(course) = turn.course_here(usage) else { return };
        if turn.effective_role(course) != Some(Role::Organizer) {
            return turn.refuse(Text::md("only the course's organizers can revoke badges."), None);
        }
        let Some(person) = turn.mentioned(&self.user, Some(usage)) else { return };
        let slug = &self.badge;
        let Some(award) = course.awards.get(&(slug.clone(), person)) else {
            return turn.refuse(
                Text::new().person(person).push_md(" does not hold the ").code(slug.as_str()).push_md(" badge here."),
                None,
            );
        };
        let name = course.badge(slug).map_or_else(|| slug.to_string(), |b| b.name.clone());
        let page = format!("/assertions/{}", award.assertion);
        turn.out.change(Change::BadgeRevoked {
            course: course.id,
            badge: slug.clone(),
            person,
            reason: self.reason.clone(),
            by: turn.actor(),
            at: turn.now,
        });
        turn.out.effect(Effect::Direct {
            person,
            text: Text::md("Your **")
                .user(name.clone())
                .push_md("** badge in ")
                .code(course.slug.as_str())
                .push_md(" was revoked by its organizers: ")
                .user(self.reason.clone())
                .push_md(". ")
                .page(page, "Its page now says so.")
                .push_md(" Ask them if you think this is a mistake."),
        });
        let answer = Text::md("Revoked ")
            .person(person)
            .push_md("'s **")
            .user(name)
            .push_md("** badge; they were told by direct message, and its page now says it was revoked.");
        turn.reply_private(answer);
    }
}
