//! `!courses`: list the courses you can join.

use super::{Cmd, CommandError, Spec, args};
use crate::decide::{Turn, plural};
use crate::state::{Course, CourseStatus, Role};
use crate::text::Text;

/// `!courses`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Courses;

impl Cmd for Courses {
    const SPEC: Spec = Spec {
        name: "courses",
        syntax: "!courses",
        example: "!courses",
        summary: "list the courses you can join",
        ..Spec::DEFAULT
    };

    fn parse(rest: &str) -> Result<Self, CommandError> {
        args::no_args(rest, Self::SPEC.name).map(|()| Courses)
    }

    fn decide(&self, turn: &mut Turn<'_>) {
        courses(turn)
    }
}

fn courses(turn: &mut Turn<'_>) {
    let state = turn.state;
    let open: Vec<&Course> = state.all_courses().filter(|c| c.status != CourseStatus::Ended).collect();
    if open.is_empty() {
        turn.reply(
            Text::md("There are no courses yet. Bot admins can create one with ").code("!course new").push_md("."),
        );
        return;
    }
    let mut text = Text::md("Courses:");
    for c in open {
        text = text.push_md("\n• ").code(c.slug.as_str()).push_md(" — ").user(c.settings.title.clone());
        if let Some(school) = c.settings.school.and_then(|s| state.schools.get(&s)) {
            text = text.push_md(" (").user(school.name.clone()).push_md(")");
        }
        let week = match c.current_week() {
            Some(w) => format!("week {w} of {}", c.settings.weeks),
            None => format!("{} weeks, starting soon", c.settings.weeks),
        };
        let learners = c.with_role(Role::Learner).count();
        text = text.push_md(format!(" · {week} · {}", plural(learners, "learner")));
        if c.status == CourseStatus::Paused {
            text = text.push_md(" · paused");
        }
        if c.role(turn.actor()).is_some() {
            text = text.push_md(" · you're in");
        }
    }
    text = text.push_md("\nJoin one with ").code("!join COURSE").push_md(".");
    turn.reply(text);
}
