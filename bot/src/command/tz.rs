//! `!tz [Area/City]`: set (or show) your time zone for deadlines.

use super::{Arg, ArgKind, Cmd, CommandError, Spec, args, args::fail};
use crate::decide::Turn;
use crate::ids::Zone;
use crate::state::{Change, Role};
use crate::text::Text;

/// `!tz [Area/City]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tz {
    /// The zone to set; `None` shows the current one.
    pub zone: Option<Zone>,
}

impl Cmd for Tz {
    const SPEC: Spec = Spec {
        name: "tz",
        syntax: "!tz [Area/City]",
        example: "!tz Europe/Berlin",
        summary: "set (or show) your time zone for deadlines",
        details: "Use an IANA zone name such as `Europe/Berlin`, `America/Sao_Paulo` or `UTC`.",
        args: &[Arg::optional("zone", "Area/City, like Europe/Berlin", ArgKind::Text)],
        ..Spec::DEFAULT
    };

    fn parse(rest: &str) -> Result<Self, CommandError> {
        let name = Self::SPEC.name;
        let args = args::tokens(rest, name)?;
        match args.as_slice() {
            [] => Ok(Tz { zone: None }),
            [one] => Zone::parse(&one.text)
                .map(|zone| Tz { zone: Some(zone) })
                .or_else(|e| fail(format!("{e}. Use an IANA name like `Europe/Berlin` or `UTC`."), name)),
            _ => fail("give one time zone, like `!tz Europe/Berlin`.", name),
        }
    }

    fn decide(&self, turn: &mut Turn<'_>) {
        tz(turn, self.zone)
    }
}

fn tz(turn: &mut Turn<'_>, zone: Option<Zone>) {
    let actor = turn.actor();
    let current = turn.state.persons.get(&actor).and_then(|p| p.zone);
    let Some(zone) = zone else {
        let text = match current {
            Some(z) => Text::md("Your time zone is ")
                .code(z.name())
                .push_md(". Change it with ")
                .code("!tz Area/City")
                .push_md("."),
            None => Text::md("You haven't set a time zone, so I show deadlines in each course's zone. Set yours with ")
                .code("!tz Area/City")
                .push_md(", for example ")
                .code("!tz Europe/Berlin")
                .push_md("."),
        };
        turn.reply(text);
        return;
    };
    if current == Some(zone) {
        turn.reply(Text::md("Your time zone is already ").code(zone.name()).push_md("."));
        return;
    }
    turn.out.change(Change::PersonZoneSet { person: actor, zone });
    let mut text = Text::md("Done: I'll also show deadlines in ").code(zone.name()).push_md(".");
    let now = turn.now;
    let next = turn
        .state
        .courses
        .values()
        .filter(|c| c.role(actor) == Some(Role::Learner))
        .filter_map(|c| c.current_week().and_then(|w| c.deadline(w)).filter(|d| *d > now).map(|d| (d, c)))
        .min_by_key(|(d, _)| *d);
    if let Some((deadline, course)) = next {
        text = text
            .push_md(" Your next deadline (")
            .code(course.slug.as_str())
            .push_md(") is ")
            .time(deadline, &[course.settings.zone, zone])
            .push_md(".");
    }
    turn.reply(text);
}
