//! `!submit [week N] <text or link>`: submit your work for the current week (or week N); again is a revision.

use super::{Arg, ArgKind, Audience, Cmd, CommandError, Spec, Where, Write, args, args::fail};
use crate::decide::{Turn, plural};
use crate::ids::{clean_free_text, is_invisible};
use crate::state::{Change, CourseStatus, Role};
use crate::text::Text;

/// `!submit [week N] <text or link>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Submit {
    /// Explicit week.
    pub week: Option<u32>,
    /// The work (text or link).
    pub body: String,
}

impl Cmd for Submit {
    const SPEC: Spec = Spec {
        name: "submit",
        who: "learners",
        syntax: "!submit [week N] <text or link>",
        example: "!submit https://example.org/my-notebook",
        summary: "submit your work for the current week (or week N); again is a revision",
        details: "A second submission for the same week is a revision; the history is kept. Late work is accepted and marked late.",
        audience: Audience::Learner,
        place: Where::CourseRoom,
        args: &[
            Arg::required("work", "A link or a short text", ArgKind::Text),
            Arg { write: Write::Before("week"), ..Arg::optional("week", "The week it is for (default: the current one)", ArgKind::Integer) },
        ],
        ..Spec::DEFAULT
    };

    fn parse(rest: &str) -> Result<Self, CommandError> {
        let name = Self::SPEC.name;
        let mut body = rest.trim();
        let mut week = None;
        let (first, after) = args::split_word(body);
        if first.eq_ignore_ascii_case("week") {
            let (n, after_n) = args::split_word(after);
            if n.is_empty() {
                return fail("which week? Write `!submit week 2 <your work>`.", name);
            }
            week = Some(args::parse_week_number(n, name)?);
            body = after_n.trim();
        }
        if body.is_empty() {
            return fail("there is nothing to submit: put your text or link after the command.", name);
        }
        // Control characters mean nothing in chat (a NUL would not even store) and direction
        // overrides can make a link look like another: neither has a place in a submission.
        let body = clean_free_text(body);
        if body.trim().is_empty() || body.chars().all(is_invisible) {
            return fail("the submission has only invisible characters.", name);
        }
        Ok(Submit { week, body })
    }

    fn decide(&self, turn: &mut Turn<'_>) {
        submit(turn, self.week, &self.body)
    }
}

fn submit(turn: &mut Turn<'_>, week: Option<u32>, body: &str) {
    let usage = Submit::SPEC.syntax;
    let Some(course) = turn.course_here(usage) else { return };
    let actor = turn.actor();
    match course.role(actor) {
        Some(Role::Learner) => {}
        Some(role) => {
            return turn.refuse(
                Text::md(format!("you're a {} of ", role.as_str()))
                    .code(course.slug.as_str())
                    .push_md("; only learners submit work here."),
                None,
            );
        }
        None => {
            return turn.refuse(
                Text::md("you're not in ")
                    .code(course.slug.as_str())
                    .push_md(" yet; join it with ")
                    .code(format!("!join {}", course.slug))
                    .push_md(" first."),
                None,
            );
        }
    }
    if course.status == CourseStatus::Ended {
        return turn.refuse(Text::md("the course has ended; it takes no more submissions."), None);
    }
    let zones = turn.zones(course);
    let week = match week.or(turn.input.thread_week) {
        Some(n) if n > course.settings.weeks => {
            return turn.refuse(
                Text::md("")
                    .code(course.slug.as_str())
                    .push_md(format!(" has {}; there is no week {n}.", plural(course.settings.weeks as usize, "week"))),
                Some(usage),
            );
        }
        Some(n) if !course.opened.contains_key(&n) => {
            let mut text = Text::md(format!("week {n} hasn't started yet"));
            if let Some(at) = turn.state.prompt_time(course, n) {
                text = text.push_md("; it opens ").time(at, &zones);
            }
            return turn.refuse(text.push_md("."), Some(usage));
        }
        Some(n) => n,
        None => match course.current_week() {
            Some(n) => n,
            None => {
                let mut text = Text::md("the course hasn't started yet");
                if let Some(at) = turn.state.prompt_time(course, 1) {
                    text = text.push_md("; week 1 opens ").time(at, &zones);
                }
                return turn.refuse(text.push_md("."), Some(usage));
            }
        },
    };
    let deadline = course.deadline(week);
    let late = deadline.is_some_and(|d| turn.now > d);
    let previous = course.submissions.get(&(week, actor));
    let (id, revision) = match previous {
        Some(s) => (s.id, s.revisions + 1),
        None => (turn.state.next_submission_id(), 1),
    };
    turn.out.change(Change::SubmissionRecorded {
        submission: id,
        course: course.id,
        week,
        author: actor,
        body: body.to_owned(),
        at: turn.now,
        late,
        revision,
    });
    if revision == 1 {
        let submission = crate::state::Submission {
            id,
            week,
            author: actor,
            first_at: turn.now,
            late,
            revisions: 1,
            latest_at: turn.now,
            body: body.to_owned(),
        };
        let mut out = std::mem::take(&mut turn.out);
        crate::decide::review::late_arrival(turn.state, course, &submission, turn.now, &mut out);
        crate::decide::badge::after_progress(turn.state, course, actor, (1, u32::from(!late), 0), turn.now, &mut out);
        turn.out = out;
    }
    let mut text = Text::md("Thanks, ").person(actor).push_md(format!("! Your week {week} "));
    if revision == 1 {
        text = text.push_md("submission is in");
    } else {
        text = text.push_md(format!("revision is in (version {revision}; the earlier versions are kept)"));
    }
    match deadline {
        Some(d) if late => {
            text = text
                .push_md(". It came after the deadline (")
                .time(d, &zones)
                .push_md("), so it's marked late, and it still counts.")
        }
        Some(d) => text = text.push_md(", on time (due ").time(d, &zones).push_md(")."),
        None => text = text.push_md("."),
    }
    turn.reply(text);
}
