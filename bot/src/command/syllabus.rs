//! `!syllabus [week]`: show the syllabus, or one week of it.

use super::{Arg, ArgKind, Audience, Cmd, CommandError, Spec, Where, args};
use crate::decide::{Turn, plural};
use crate::text::Text;

/// `!syllabus [week]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Syllabus {
    /// One week, or the overview.
    pub week: Option<u32>,
}

impl Cmd for Syllabus {
    const SPEC: Spec = Spec {
        name: "syllabus",
        who: "members",
        syntax: "!syllabus [week]",
        example: "!syllabus 2",
        summary: "show the syllabus, or one week of it",
        details: "Use it in the course room.",
        audience: Audience::Member,
        place: Where::CourseRoom,
        slash_name: Some("show"),
        args: &[Arg::optional("week", "A week number", ArgKind::Integer)],
        ..Spec::DEFAULT
    };

    fn parse(rest: &str) -> Result<Self, CommandError> {
        Ok(Syllabus { week: args::optional_week(rest, Self::SPEC.name, "give at most one week number, like `!syllabus 2`.")? })
    }

    fn decide(&self, turn: &mut Turn<'_>) {
        show_syllabus(turn, self.week)
    }
}

fn show_syllabus(turn: &mut Turn<'_>, week: Option<u32>) {
    let usage = Syllabus::SPEC.syntax;
    let Some(course) = turn.course_here(usage) else { return };
    if turn.effective_role(course).is_none() {
        return turn.refuse(
            Text::md("join the course first: ").code(format!("!join {}", course.slug)).push_md(" in the lobby."),
            None,
        );
    }
    let Some(syllabus) = &course.syllabus else {
        return turn.reply(
            Text::md("No syllabus is loaded for ")
                .code(course.slug.as_str())
                .push_md(" yet; organizers can load one with ")
                .code("!syllabus load")
                .push_md("."),
        );
    };
    let zones = turn.zones(course);
    match week {
        Some(n) => {
            let Some(plan) = syllabus.week(n) else {
                return turn.refuse(
                    Text::md(format!(
                        "the syllabus has {}; there is no week {n}.",
                        plural(syllabus.weeks.len(), "week")
                    )),
                    Some(usage),
                );
            };
            let mut text = Text::md(format!("**Week {n}: ")).user(plan.title.clone()).push_md("**");
            if let Some(at) = turn.state.prompt_time(course, n) {
                let verb = if course.opened.contains_key(&n) { " (opened " } else { " (opens " };
                text = text.push_md(verb).time(at, &zones).push_md(")");
            }
            text = text.push_md("\n\n").push_md(plan.prompt.clone());
            if !plan.review_questions.is_empty() {
                text = text.push_md("\n\nReview questions:");
                for q in &plan.review_questions {
                    text = text.push_md("\n• ").user(q.clone());
                }
            }
            turn.reply(text);
        }
        None => {
            let mut text = Text::md("**").user(syllabus.title.clone()).push_md("**");
            if !syllabus.intro.is_empty() {
                text = text.push_md("\n").push_md(syllabus.intro.clone());
            }
            for plan in &syllabus.weeks {
                text = text.push_md(format!("\n• Week {}: ", plan.number)).user(plan.title.clone());
                if let Some(at) = turn.state.prompt_time(course, plan.number) {
                    text = text.push_md(" — ").time(at, &zones);
                }
            }
            text = text.push_md("\n").code("!syllabus N").push_md(" shows one week.");
            turn.reply(text);
        }
    }
}
