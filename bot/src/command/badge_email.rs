//! `!badge email ADDRESS|off`: the address your badges are issued to.
//!
//! Backpacks (Badgr/Canvas Credentials, Open Badge Factory) recognise a badge as yours by a
//! salted hash of your email in its assertion. Without one, the recipient is a hash of an
//! unguessable per-person URL, which proves nothing to a backpack. The address is private: it
//! is only accepted where nobody else reads it (a direct message, or a private slash command)
//! and only ever published hashed.

use super::{Arg, ArgKind, Cmd, CommandError, Spec, args, args::fail};
use crate::decide::{Place, Turn};
use crate::ids::Email;
use crate::state::Change;
use crate::text::Text;

/// `!badge email ADDRESS|off`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BadgeEmail {
    /// The new address; `None` withdraws it.
    pub email: Option<Email>,
}

impl Cmd for BadgeEmail {
    const SPEC: Spec = Spec {
        name: "badge email",
        syntax: "!badge email ADDRESS|off",
        example: "!badge email ana@example.org",
        summary: "issue your badges to your email (by direct message), so backpacks recognise them",
        details: "Say it in a direct message to me. Your badges' Open Badges assertions then name you by a salted hash of this address (never the address itself), which is what backpacks match. `off` withdraws it.",
        args: &[Arg::required("address", "Your email address, or off", ArgKind::Text)],
        ..Spec::DEFAULT
    };

    fn parse(rest: &str) -> Result<Self, CommandError> {
        let name = Self::SPEC.name;
        let args = args::tokens(rest, name)?;
        match args.as_slice() {
            [] => fail("give the email address your badges should be issued to, or `off`.", name),
            [one] if one.text.eq_ignore_ascii_case("off") => Ok(BadgeEmail { email: None }),
            [one] => match Email::parse(&one.text) {
                Ok(email) => Ok(BadgeEmail { email: Some(email) }),
                Err(problem) => fail(format!("{problem}."), name),
            },
            _ => fail("give one email address, or `off`.", name),
        }
    }

    fn decide(&self, turn: &mut Turn<'_>) {
        if turn.input.place != Place::Direct && !turn.input.private_reply {
            return turn.refuse(
                Text::md("your email is private: tell me in a direct message, not here (you may want to delete that message)."),
                Some(Self::SPEC.syntax),
            );
        }
        let actor = turn.actor();
        let current = turn.state.persons.get(&actor).and_then(|p| p.badge_email.clone());
        if current == self.email {
            let text = match &self.email {
                Some(email) => Text::md("Your badges are already issued to ").code(email.as_str()).push_md("."),
                None => Text::md("Your badges are not issued to an email address."),
            };
            return turn.reply_private(text);
        }
        turn.out.change(Change::BadgeEmailSet { person: actor, email: self.email.clone() });
        let text = match &self.email {
            Some(email) => Text::md("Done: your badges are issued to ")
                .code(email.as_str())
                .push_md(" from now on, hashed (the address itself is never published). A backpack that knows this address will recognise them."),
            None => Text::md("Done: your badges are no longer issued to an email address."),
        };
        turn.reply_private(text);
    }
}
