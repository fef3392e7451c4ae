//! `!profile [public|private]`: whether the web face may name you and show your badges.
//!
//! Nobody is named on the web unless they asked: a public profile is the one consent the web
//! face reads, for a person's own page (their name and badges, with links to the hosted
//! assertions) and for being named as an organizer on a course page. Badge pages themselves
//! never name anyone either way. Private again takes all of that down at the next snapshot.

use super::{Arg, ArgKind, Cmd, CommandError, Spec, args, args::fail};
use crate::decide::Turn;
use crate::state::Change;
use crate::text::Text;

/// `!profile [public|private]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Profile {
    /// The new setting; `None` shows the current one.
    pub public: Option<bool>,
}

impl Cmd for Profile {
    const SPEC: Spec = Spec {
        name: "profile",
        syntax: "!profile [public|private]",
        example: "!profile public",
        summary: "make your web profile public (your name and badges) or private",
        details: "Private by default: the web pages then never name you. `public` gives you a page listing your name and badges with links to them, and names you on the pages of courses you organize. `private` takes that down again.",
        args: &[Arg::optional("visibility", "public or private", ArgKind::Text)],
        ..Spec::DEFAULT
    };

    fn parse(rest: &str) -> Result<Self, CommandError> {
        let name = Self::SPEC.name;
        let args = args::tokens(rest, name)?;
        match args.as_slice() {
            [] => Ok(Profile { public: None }),
            [one] => match one.text.to_lowercase().as_str() {
                "public" | "on" | "yes" => Ok(Profile { public: Some(true) }),
                "private" | "off" | "no" => Ok(Profile { public: Some(false) }),
                _ => fail("say `public` or `private`.", name),
            },
            _ => fail("say `public` or `private`, nothing more.", name),
        }
    }

    fn decide(&self, turn: &mut Turn<'_>) {
        let actor = turn.actor();
        let current = turn.state.persons.get(&actor).is_some_and(|p| p.public);
        let page = format!("/people/{}", actor.0);
        let text = match (self.public, current) {
            (None, true) | (Some(true), true) => Text::md("Your profile is public: ")
                .page(page, "your page")
                .push_md(" shows your name and badges. ")
                .code("!profile private")
                .push_md(" takes it down."),
            (None, false) | (Some(false), false) => Text::md(
                "Your profile is private: the web pages never name you (badge pages say \"a learner of\" the course). ",
            )
            .code("!profile public")
            .push_md(" gives you a page with your name and badges."),
            (Some(true), false) => {
                turn.out.change(Change::ProfileSet { person: actor, public: true });
                Text::md("Done: your profile is public. ")
                    .page(page, "Your page")
                    .push_md(" shows your name and badges, and course pages name you where you organize. ")
                    .code("!profile private")
                    .push_md(" takes it down.")
            }
            (Some(false), true) => {
                turn.out.change(Change::ProfileSet { person: actor, public: false });
                Text::md("Done: your profile is private; the web pages no longer name you.")
            }
        };
        turn.reply_private(text);
    }
}
