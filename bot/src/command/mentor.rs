//! `!mentor add|remove @user`: add or remove a mentor of this course.

use crate::decide::course::set_role;
use super::RoleAction;
use super::{Audience, Cmd, CommandError, Mention, Spec, Where, args};
use crate::decide::Turn;
use crate::state::Role;

/// `!mentor add|remove @user`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mentor {
    /// Add or remove.
    pub action: RoleAction,
    pub user: Mention,
}

impl Cmd for Mentor {
    const SPEC: Spec = Spec {
        name: "mentor",
        who: "organizers",
        syntax: "!mentor add|remove @user",
        example: "!mentor add @ben",
        summary: "add or remove a mentor of this course",
        audience: Audience::Organizer,
        place: Where::CourseRoom,
        args: args::ROLE_ARGS,
        ..Spec::DEFAULT
    };

    fn parse(rest: &str) -> Result<Self, CommandError> {
        let (action, user) = args::parse_role_args(rest, Self::SPEC.name)?;
        Ok(Mentor { action, user })
    }

    fn mentions(&self) -> Vec<&Mention> {
        vec![&self.user]
    }

    fn decide(&self, turn: &mut Turn<'_>) {
        set_role(turn, Role::Mentor, self.action, &self.user)
    }
}
