//! `!dashboard [logout]`: a link to the organizers' dashboard on the web face, or sign out.
//!
//! The link goes by direct message, works once and for 15 minutes, and opens a session (a
//! cookie) on the browser that uses it; `!dashboard logout` ends every session the person has.
//! Organizers see their courses' figures, mentors the figures of the courses they mentor (read
//! only), bot admins every course and the community's figures.

use super::{Arg, ArgKind, Cmd, CommandError, Spec, args, args::fail};
use crate::decide::{Effect, Place, Turn};
use crate::state::Role;
use crate::text::Text;

/// `!dashboard [logout]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dashboard {
    /// Sign out instead.
    pub logout: bool,
}

impl Cmd for Dashboard {
    const SPEC: Spec = Spec {
        name: "dashboard",
        who: "organizers, mentors and admins",
        syntax: "!dashboard [logout]",
        example: "!dashboard",
        summary: "get a link to your courses' dashboard by direct message, or sign out of it",
        details: "The link works once, for 15 minutes, and signs that browser in. `!dashboard logout` signs you out on every browser.",
        args: &[Arg::optional("logout", "logout, to sign out everywhere", ArgKind::Text)],
        ..Spec::DEFAULT
    };

    fn parse(rest: &str) -> Result<Self, CommandError> {
        let name = Self::SPEC.name;
        let args = args::tokens(rest, name)?;
        match args.as_slice() {
            [] => Ok(Dashboard { logout: false }),
            [one] if one.text.eq_ignore_ascii_case("logout") => Ok(Dashboard { logout: true }),
            _ => fail("say `!dashboard` for a link, or `!dashboard logout` to sign out.", name),
        }
    }

    fn decide(&self, turn: &mut Turn<'_>) {
        let actor = turn.actor();
        if self.logout {
            turn.out.effect(Effect::EndSessions { person: actor });
            return turn.reply_private(Text::md("Done: you are signed out of the dashboard on every browser."));
        }
        let allowed = turn.state.is_admin(actor)
            || turn.state.all_courses().any(|c| matches!(c.role(actor), Some(Role::Organizer | Role::Mentor)));
        if !allowed {
            return turn.refuse(
                Text::md("only organizers, mentors and bot admins have a dashboard. Learners see their own record with ")
                    .code("!progress")
                    .push_md("."),
                None,
            );
        }
        turn.out.effect(Effect::LoginLink { person: actor });
        if turn.input.place != Place::Direct {
            turn.reply_private(Text::md("📬 I've sent you a sign-in link by direct message."));
        }
    }
}
