//! `!reviews [more [COURSE]]`: see your open review assignments, or ask for one more.

use crate::decide::review::{Ids, assign, schedule_followups};
use super::{Arg, ArgKind, Audience, Cmd, CommandError, Spec, args, args::fail};
use crate::decide::{Place, Turn};
use crate::ids::{PersonId, Slug};
use crate::state::{Assignment, AssignmentStatus, Course, CourseStatus, ReviewerRole, Role};
use crate::text::Text;

/// `!reviews [more [COURSE]]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reviews {
    /// Ask for more work.
    pub more: bool,
    /// In which course.
    pub course: Option<Slug>,
}

impl Cmd for Reviews {
    const SPEC: Spec = Spec {
        name: "reviews",
        who: "learners, mentors",
        syntax: "!reviews [more [COURSE]]",
        example: "!reviews more",
        summary: "see your open review assignments, or ask for one more",
        details: "`!reviews more` hands you the week's least-reviewed work you haven't reviewed (in the course room, or name the COURSE). Your assignments come by direct message.",
        audience: Audience::Member,
        args: &[
            Arg::optional("more", "Ask for another piece to review", ArgKind::Flag),
            Arg::optional("course", "The course's short name, like data-101", ArgKind::Course),
        ],
        ..Spec::DEFAULT
    };

    fn parse(rest: &str) -> Result<Self, CommandError> {
        let name = Self::SPEC.name;
        let args = args::tokens(rest, name)?;
        match args.as_slice() {
            [] => Ok(Reviews { more: false, course: None }),
            [m] if m.text.eq_ignore_ascii_case("more") => Ok(Reviews { more: true, course: None }),
            [m, c] if m.text.eq_ignore_ascii_case("more") => {
                Ok(Reviews { more: true, course: Some(args::parse_slug(c.text.trim_start_matches('#'), name)?) })
            }
            [other, ..] => fail(
                format!(
                    "'{}' is not an option: `!reviews` lists your assignments, `!reviews more` asks for another.",
                    args::short(&other.text)
                ),
                name,
            ),
        }
    }

    fn decide(&self, turn: &mut Turn<'_>) {
        reviews_command(turn, self.more, self.course.as_ref())
    }
}

/// `!reviews` and `!reviews more`.
fn reviews_command(turn: &mut Turn<'_>, more: bool, slug: Option<&Slug>) {
    let actor = turn.actor();
    let state = turn.state;
    if !more {
        let mut open: Vec<(&Course, &Assignment)> = state
            .all_courses()
            .flat_map(|c| c.assignments_for(actor).filter(|a| a.status != AssignmentStatus::Done).map(move |a| (c, a)))
            .collect();
        open.sort_by_key(|(_, a)| (a.due, a.id));
        if open.is_empty() {
            return turn.reply_private(
                Text::md("You have no open review assignments. Learners can ask for one with ")
                    .code("!reviews more")
                    .push_md("."),
            );
        }
        let mut text = Text::md(format!("Your open review assignments ({}):", open.len()));
        for (course, a) in open {
            let zones = state.zones_for(actor, course);
            text = text
                .push_md(format!("\n• #{} · ", a.id.0))
                .code(course.slug.as_str())
                .push_md(format!(" week {} · work of ", a.week))
                .person(a.author)
                .push_md(" · due ")
                .time(a.due, &zones);
            if a.role == ReviewerRole::Mentor {
                text = text.push_md(" (mentor)");
            }
            if a.status == AssignmentStatus::Expired {
                text = text.push_md(" (handed on; still welcome)");
            }
        }
        return turn
            .reply_private(text.push_md("\nReview with ").code("!review ID <feedback> [score=1..5]").push_md("."));
    }
    let usage = Reviews::SPEC.syntax;
    let course = match (slug, turn.input.place) {
        (Some(slug), _) => match state.course_by_slug(slug) {
            Some(c) => c,
            None => return turn.refuse(Text::md("there is no course ").code(slug.as_str()).push_md("."), Some(usage)),
        },
        (None, Place::Course(id)) => match state.course(&id) {
            Some(c) => c,
            None => return,
        },
        (None, _) => {
            let mine: Vec<&Course> = state
                .all_courses()
                .filter(|c| c.status != CourseStatus::Ended && c.role(actor) == Some(Role::Learner))
                .collect();
            match mine.as_slice() {
                [one] => *one,
                [] => return turn.refuse(Text::md("you're not taking any course."), None),
                _ => {
                    return turn.refuse(
                        Text::md("you're in several courses: say which, like ")
                            .code(format!("!reviews more {}", mine[0].slug))
                            .push_md("."),
                        Some(usage),
                    );
                }
            }
        }
    };
    if course.status == CourseStatus::Ended {
        return turn.refuse(
            Text::md("").code(course.slug.as_str()).push_md(" has ended, so it hands out no more review work."),
            None,
        );
    }
    if !matches!(course.role(actor), Some(Role::Learner | Role::Mentor)) {
        return turn.refuse(
            Text::md("only learners and mentors of ").code(course.slug.as_str()).push_md(" take review work there."),
            None,
        );
    }
    let Some(week) = course.paired.keys().next_back().copied() else {
        return turn.refuse(
            Text::md("no week of ").code(course.slug.as_str()).push_md(" has been paired for review yet."),
            None,
        );
    };
    // Linear in the week's work: who the asker met comes from the indexes, not from a walk
    // over every assignment of the course.
    let met = course.met_before(actor, week);
    let best = course
        .submissions
        .range((week, PersonId(i64::MIN))..=(week, PersonId(i64::MAX)))
        .map(|(_, s)| s)
        .filter(|s| s.author != actor)
        .filter_map(|s| {
            let mut reviews = 0;
            for a in course.assignments_of(s.id) {
                if a.reviewer == actor {
                    return None;
                }
                if a.status != AssignmentStatus::Expired {
                    reviews += 1;
                }
            }
            Some((reviews, met.contains(&s.author), s.id.0, s))
        })
        .min_by_key(|(n, met, id, _)| (*n, *met, *id));
    let Some((_, _, _, submission)) = best else {
        return turn.refuse(
            Text::md(format!("there is no more week {week} work you could review; thank you for asking!")),
            None,
        );
    };
    let mut out = std::mem::take(&mut turn.out);
    let mut ids = Ids::new(state);
    let a = assign(state, course, submission, actor, ReviewerRole::Peer, turn.now, &mut ids, &mut out);
    schedule_followups(state, course, week, std::slice::from_ref(&a), &mut out);
    turn.out = out;
    turn.reply(Text::md(format!("Thanks for helping! I've sent you assignment #{} by direct message.", a.id.0)));
}
