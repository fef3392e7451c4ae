//! `!progress`: your submissions week by week, reviews given, open and received, and badges.

use super::{Cmd, CommandError, Spec, args};
use crate::decide::{Place, Turn, plural};
use crate::ids::PersonId;
use crate::state::{Course, Role};
use crate::text::Text;

/// `!progress`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Progress;

impl Cmd for Progress {
    const SPEC: Spec = Spec {
        name: "progress",
        who: "everyone (your own)",
        syntax: "!progress",
        example: "!progress",
        summary: "your submissions week by week, reviews given, open and received, and badges",
        details: "In a course room: that course. Elsewhere: all your courses.",
        ..Spec::DEFAULT
    };

    fn parse(rest: &str) -> Result<Self, CommandError> {
        args::no_args(rest, Self::SPEC.name).map(|()| Progress)
    }

    fn decide(&self, turn: &mut Turn<'_>) {
        progress(turn)
    }
}

fn progress(turn: &mut Turn<'_>) {
    let actor = turn.actor();
    let state = turn.state;
    if let Place::Course(id) = turn.input.place {
        let Some(course) = state.course(&id) else { return };
        match course.role(actor) {
            Some(Role::Learner) => {}
            Some(_) => {
                return turn.refuse(
                    Text::md("you're not a learner here; ").code("!status").push_md(" shows the whole course."),
                    None,
                );
            }
            None => {
                return turn.refuse(
                    Text::md("you're not in ")
                        .code(course.slug.as_str())
                        .push_md("; ")
                        .code(format!("!join {}", course.slug))
                        .push_md(" to take part."),
                    None,
                );
            }
        }
        let zones = turn.zones(course);
        let mut text = Text::md("Your progress in ").code(course.slug.as_str()).push_md(":");
        let opened: Vec<u32> = course.opened.keys().copied().collect();
        if opened.is_empty() {
            text = text.push_md("\nNothing to do yet.");
        }
        for week in opened {
            text = week_line(text, course, week, actor, &zones);
        }
        let next = course.current_week().unwrap_or(0) + 1;
        if let Some(at) = state.prompt_time(course, next) {
            text = text.push_md(format!("\nWeek {next} opens ")).time(at, &zones).push_md(".");
        }
        let (_, _, given) = course.record(actor);
        let open = course
            .assignments
            .values()
            .filter(|a| a.reviewer == actor && a.status != crate::state::AssignmentStatus::Done)
            .count();
        let received = course
            .assignments
            .values()
            .filter(|a| a.author == actor && a.status == crate::state::AssignmentStatus::Done)
            .count();
        text = text.push_md(format!("\nReviews: {given} given, {open} open (`!reviews`), {received} received."));
        let badges: Vec<&str> = course.awards.keys().filter(|(_, p)| *p == actor).map(|(b, _)| b.as_str()).collect();
        if !badges.is_empty() {
            text = text.push_md(format!("\nBadges: {}.", badges.join(", ")));
        }
        return turn.reply_private(text);
    }
    let mine: Vec<&Course> = state.all_courses().filter(|c| c.role(actor) == Some(Role::Learner)).collect();
    if mine.is_empty() {
        return turn.reply_private(
            Text::md("You're not taking any course yet. ")
                .code("!courses")
                .push_md(" lists them; ")
                .code("!join COURSE")
                .push_md(" joins one."),
        );
    }
    let mut text = Text::md("Your courses:");
    for course in mine {
        let done = course.submissions.keys().filter(|(_, p)| *p == actor).count();
        let late = course.submissions.values().filter(|s| s.author == actor && s.late).count();
        text = text
            .push_md("\n• ")
            .code(course.slug.as_str())
            .push_md(format!(": {done} of {} weeks submitted", course.opened.len()));
        if late > 0 {
            text = text.push_md(format!(" ({late} late)"));
        }
        if let Some(d) = course.current_week().and_then(|w| course.deadline(w).filter(|d| *d > turn.now)) {
            text = text.push_md("; next deadline ").time(d, &state.zones_for(actor, course));
        }
    }
    text = text.push_md("\nSay ").code("!progress").push_md(" in a course room for the week-by-week view.");
    turn.reply_private(text);
}

fn week_line(text: Text, course: &Course, week: u32, person: PersonId, zones: &[crate::ids::Zone]) -> Text {
    let mut text = text.push_md(format!("\n• Week {week}"));
    if let Some(title) = course.week_title(week) {
        text = text.push_md(": ").user(title.to_owned());
    }
    match course.submissions.get(&(week, person)) {
        Some(s) => {
            text = text.push_md(" — submitted ").time(s.first_at, zones);
            if s.late {
                text = text.push_md(" (late)");
            }
            if s.revisions > 1 {
                text = text.push_md(format!(", {}", plural((s.revisions - 1) as usize, "revision")));
            }
        }
        None => {
            text = text.push_md(" — not submitted");
            if let Some(d) = course.deadline(week) {
                text = text.push_md(" (due ").time(d, zones).push_md(")");
            }
        }
    }
    text
}
