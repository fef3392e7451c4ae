//! `!ping`: check that the bot answers.

use super::{Cmd, CommandError, Spec, args};
use crate::decide::Turn;
use crate::text::Text;

/// `!ping`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ping;

impl Cmd for Ping {
    const SPEC: Spec = Spec {
        name: "ping",
        syntax: "!ping",
        example: "!ping",
        summary: "check that the bot answers",
        ..Spec::DEFAULT
    };

    fn parse(rest: &str) -> Result<Self, CommandError> {
        args::no_args(rest, Self::SPEC.name).map(|()| Ping)
    }

    fn decide(&self, turn: &mut Turn<'_>) {
        turn.reply(Text::md(format!("pong (Facilitator {})", env!("CARGO_PKG_VERSION"))))
    }
}
