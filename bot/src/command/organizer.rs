//! `!organizer add|remove @user`: add or remove an organizer of this course.

use crate::decide::course::set_role;
use super::RoleAction;
use super::{Audience, Cmd, CommandError, Mention, Spec, Where, args};
use crate::decide::Turn;
use crate::state::Role;

/// `!organizer add|remove @user`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Organizer {
    /// Add or remove.
    pub action: RoleAction,
    pub user: Mention,
}

impl Cmd for Organizer {
    const SPEC: Spec = Spec {
        name: "organizer",
        aliases: &["organiser"],
        who: "organizers",
        syntax: "!organizer add|remove @user",
        example: "!organizer add @ana",
        summary: "add or remove an organizer of this course",
        audience: Audience::Organizer,
        place: Where::CourseRoom,
        args: args::ROLE_ARGS,
        ..Spec::DEFAULT
    };

    fn parse(rest: &str) -> Result<Self, CommandError> {
        let (action, user) = args::parse_role_args(rest, Self::SPEC.name)?;
        Ok(Organizer { action, user })
    }

    fn mentions(&self) -> Vec<&Mention> {
        vec![&self.user]
    }

    fn decide(&self, turn: &mut Turn<'_>) {
        set_role(turn, Role::Organizer, self.action, &self.user)
    }
}
