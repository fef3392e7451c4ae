//! `!review ID <feedback> [score=1..5]`: record your review of an assignment.

use super::{Arg, ArgKind, Audience, Cmd, CommandError, Spec, args, args::fail};
use crate::decide::{Effect, Turn};
use crate::ids::{AssignmentId, clean_free_text, is_invisible};
use crate::state::{AssignmentStatus, Change, ReviewerRole};
use crate::text::Text;

/// `!review ID <feedback> [score=1..5]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Review {
    /// The assignment.
    pub id: AssignmentId,
    pub feedback: String,
    /// Score 1 to 5.
    pub score: Option<u8>,
}

impl Cmd for Review {
    const SPEC: Spec = Spec {
        name: "review",
        who: "the assignment's reviewer",
        syntax: "!review ID <feedback> [score=1..5]",
        example: "!review 12 Clear and well sourced; the chart needs labels. score=4",
        summary: "record your review of an assignment",
        details: "ID is the assignment's number from its direct message. Send it again to revise; the author gets each version by direct message, with your name or anonymously as the course says.",
        audience: Audience::Member,
        args: &[
            Arg::required("assignment", "The assignment number", ArgKind::Integer),
            Arg::required("feedback", "Your feedback", ArgKind::Text),
            Arg { choices: &["1", "2", "3", "4", "5"], ..Arg::keyed("score", "A score from 1 to 5", ArgKind::Integer) },
        ],
        ..Spec::DEFAULT
    };

    fn parse(rest: &str) -> Result<Self, CommandError> {
        let name = Self::SPEC.name;
        let (id_text, after) = args::split_word(rest);
        if id_text.is_empty() {
            return fail(
                "which assignment? Give its number, like `!review 12 Clear and well sourced.` (`!reviews` lists yours).",
                name,
            );
        }
        let id = match id_text.trim_start_matches('#').parse::<i64>() {
            Ok(n) if n > 0 => AssignmentId(n),
            _ => return fail(format!("'{}' is not an assignment number (like 12 or #12).", args::short(id_text)), name),
        };
        let mut feedback = after.trim().to_owned();
        let mut score = None;
        let score_of = |word: &str| -> Option<Result<u8, CommandError>> {
            let value = word.strip_prefix("score=")?;
            Some(match value.parse::<u8>() {
                Ok(n) if (1..=5).contains(&n) => Ok(n),
                _ => fail(format!("'{}' is not a score: use score=1 to score=5.", args::short(value)), name),
            })
        };
        let (first, rest_after_first) = args::split_word(&feedback);
        if let Some(s) = score_of(first) {
            score = Some(s?);
            feedback = rest_after_first.trim().to_owned();
        } else if let Some(last) = feedback.split_whitespace().next_back()
            && let Some(s) = score_of(last)
        {
            score = Some(s?);
            let cut = feedback.len() - last.len();
            feedback = feedback[..cut].trim_end().to_owned();
        }
        let feedback = clean_free_text(&feedback);
        if feedback.trim().is_empty() || feedback.chars().all(is_invisible) {
            return fail("write your feedback after the number: what works, what could be better, and why.", name);
        }
        Ok(Review { id, feedback, score })
    }

    fn decide(&self, turn: &mut Turn<'_>) {
        review_command(turn, self.id, &self.feedback, self.score)
    }
}

/// `!review ID feedback [score=N]`.
fn review_command(turn: &mut Turn<'_>, id: AssignmentId, feedback: &str, score: Option<u8>) {
    let usage = Review::SPEC.syntax;
    let actor = turn.actor();
    let Some((course, a)) = turn.state.assignment(id) else {
        return turn.refuse(
            Text::md(format!("there is no assignment #{}; ", id.0)).code("!reviews").push_md(" lists yours."),
            Some(usage),
        );
    };
    if a.reviewer != actor {
        return turn.refuse(
            Text::md(format!("assignment #{} isn't yours: only its reviewer can review it. ", id.0))
                .code("!reviews")
                .push_md(" lists yours."),
            None,
        );
    }
    let previous = course.reviews.get(&id);
    let revision = previous.map_or(1, |r| r.revisions + 1);
    // Anonymity is the course's setting when the review is first written, and stays so.
    let anonymous = previous.map_or(course.settings.anonymous, |r| r.anonymous);
    turn.out.change(Change::ReviewRecorded {
        course: course.id,
        assignment: id,
        feedback: feedback.to_owned(),
        score,
        at: turn.now,
        revision,
        anonymous,
    });
    let score_text = score.map(|s| format!(" (score {s}/5)")).unwrap_or_default();
    let reviewer_name = if anonymous { Text::md("a peer") } else { Text::new().person(actor) };
    let mut dm = Text::md(if revision == 1 { "💬 New review of your " } else { "💬 Updated review of your " })
        .push_md(format!("week {} work in ", a.week))
        .code(course.slug.as_str())
        .push_md(" from ")
        .append(reviewer_name)
        .push_md(format!("{score_text}:\n"))
        .user(feedback.to_owned());
    if a.role == ReviewerRole::Mentor {
        dm = dm.push_md("\n(From a mentor.)");
    }
    turn.out.effect(Effect::Direct { person: a.author, text: dm });
    let ack = if revision == 1 {
        format!("Thanks! Your review #{} is recorded and sent to the author.", id.0)
    } else {
        format!("Your review #{} is revised (version {revision}); the author has the new version.", id.0)
    };
    // Who reviews whom is private (in anonymous courses it is the secret): the confirmation
    // is private too, by direct message when the review was sent in a shared room.
    turn.reply_private(Text::md(ack));
    // A badge announced the moment an anonymous review arrives would name its reviewer: in
    // anonymous courses review badges are awarded with the week's review deadline instead
    // (see `badge::sweep`).
    if a.status != AssignmentStatus::Done && !anonymous {
        let mut out = std::mem::take(&mut turn.out);
        crate::decide::badge::after_progress(turn.state, course, actor, (0, 0, 1), turn.now, &mut out);
        turn.out = out;
    }
}
