//! `!pair [week N]`: pair reviewers now instead of at the deadline.

use crate::decide::review::{job, pair_week};
use super::{Arg, ArgKind, Audience, Cmd, CommandError, Spec, Where, args};
use crate::decide::Turn;
use crate::state::{Change, JobKind};
use crate::text::Text;

/// `!pair [week N]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pair {
    /// Which week (default: the current one).
    pub week: Option<u32>,
}

impl Cmd for Pair {
    const SPEC: Spec = Spec {
        name: "pair",
        who: "organizers",
        syntax: "!pair [week N]",
        example: "!pair week 2",
        summary: "pair reviewers now instead of at the deadline",
        details: "Use it in the course room; without a week, the current one.",
        audience: Audience::Organizer,
        place: Where::CourseRoom,
        args: &[Arg::optional("week", "A week number", ArgKind::Integer)],
        ..Spec::DEFAULT
    };

    fn parse(rest: &str) -> Result<Self, CommandError> {
        Ok(Pair { week: args::optional_week(rest, Self::SPEC.name, "give at most one week, like `!pair week 2`.")? })
    }

    fn decide(&self, turn: &mut Turn<'_>) {
        pair_command(turn, self.week)
    }
}

/// `!pair [week N]`.
fn pair_command(turn: &mut Turn<'_>, week: Option<u32>) {
    let usage = Pair::SPEC.syntax;
    let Some(course) = turn.course_here(usage) else { return };
    if !turn.require_organizer(course, usage) {
        return;
    }
    let Some(week) = week.or(course.current_week()) else {
        return turn.refuse(Text::md("no week has started yet, so there is nothing to pair."), None);
    };
    if !course.opened.contains_key(&week) {
        return turn.refuse(Text::md(format!("week {week} hasn't started yet.")), Some(usage));
    }
    if let Some(at) = course.paired.get(&week) {
        let zones = turn.zones(course);
        return turn.refuse(
            Text::md(format!("week {week} was paired on "))
                .time(*at, &zones)
                .push_md("; work that arrives later is assigned as it arrives."),
            None,
        );
    }
    let mut out = std::mem::take(&mut turn.out);
    let key = job(course, JobKind::Pair, week);
    if turn.state.jobs.contains_key(&key) {
        out.change(Change::JobDone { job: key });
    }
    let report = pair_week(turn.state, course, week, turn.now, Some(turn.input.actor), &mut out);
    turn.out = out;
    if let Some(report) = report {
        turn.reply(report);
    }
}
