//! Learners' work: submitting and revising it, and seeing where everyone stands.

use super::{Turn, plural};
use crate::command::syntax;
use crate::ids::PersonId;
use crate::state::{Change, Course, CourseStatus, Role};
use crate::text::Text;

pub(super) fn submit(turn: &mut Turn<'_>, week: Option<u32>, body: &str) {
    let usage = syntax("submit");
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
        super::review::late_arrival(turn.state, course, &submission, turn.now, &mut out);
        super::badge::after_progress(turn.state, course, actor, (1, u32::from(!late), 0), turn.now, &mut out);
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

pub(super) fn progress(turn: &mut Turn<'_>) {
    let actor = turn.actor();
    let state = turn.state;
    if let super::Place::Course(id) = turn.input.place {
        let Some(course) = state.courses.get(&id) else { return };
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
    let mine: Vec<&Course> = state.courses.values().filter(|c| c.role(actor) == Some(Role::Learner)).collect();
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

pub(super) fn status(turn: &mut Turn<'_>) {
    let usage = syntax("status");
    let Some(course) = turn.course_here(usage) else { return };
    if !turn.require_organizer(course, usage) {
        return;
    }
    let state = turn.state;
    let zones = turn.zones(course);
    let learners: Vec<PersonId> = course.with_role(Role::Learner).collect();
    let mut text =
        Text::md("**").user(course.settings.title.clone()).push_md("** (").code(course.slug.as_str()).push_md(format!(
            ") · {} · {} · {}, {}, {}",
            course.status.as_str(),
            match course.current_week() {
                Some(w) => format!("week {w} of {}", course.settings.weeks),
                None => format!("not started ({} weeks)", course.settings.weeks),
            },
            plural(learners.len(), "learner"),
            plural(course.with_role(Role::Organizer).count(), "organizer"),
            plural(course.with_role(Role::Mentor).count(), "mentor"),
        ));
    if course.status == CourseStatus::Paused {
        text = text.push_md(" · paused since ").time(course.status_at, &zones);
    }
    for &week in course.opened.keys() {
        let subs: Vec<_> =
            course.submissions.range((week, PersonId(i64::MIN))..=(week, PersonId(i64::MAX))).map(|(_, s)| s).collect();
        let late = subs.iter().filter(|s| s.late).count();
        let revised = subs.iter().filter(|s| s.revisions > 1).count();
        let current_learners = subs.iter().filter(|s| learners.contains(&s.author)).count();
        text = text.push_md(format!("\n• Week {week}: {current_learners} of {} learners submitted", learners.len()));
        if subs.len() > current_learners {
            text = text.push_md(format!(" (+{} from people who left)", subs.len() - current_learners));
        }
        if late > 0 {
            text = text.push_md(format!(", {late} late"));
        }
        if revised > 0 {
            text = text.push_md(format!(", {revised} revised"));
        }
        if let Some(d) = course.deadline(week) {
            text = text.push_md(if d > turn.now { "; due " } else { "; was due " }).time(d, &zones);
        }
        let week_assignments: Vec<_> = course.assignments.values().filter(|a| a.week == week).collect();
        if course.paired.contains_key(&week) {
            let done = week_assignments.iter().filter(|a| a.status == crate::state::AssignmentStatus::Done).count();
            let live = week_assignments.iter().filter(|a| a.status != crate::state::AssignmentStatus::Expired).count();
            let escalated = week_assignments.iter().filter(|a| a.role == crate::state::ReviewerRole::Mentor).count();
            text = text.push_md(format!("\n    reviews {done} done of {live} assigned, {escalated} with mentors"));
        } else if let Some(d) = course.deadline(week) {
            text = text.push_md("\n    reviewers are paired at the deadline (").time(d, &zones).push_md(")");
        }
    }
    let next = course.current_week().unwrap_or(0) + 1;
    if let Some(at) = state.prompt_time(course, next) {
        text = text.push_md(format!("\n• Week {next} opens ")).time(at, &zones);
    }
    if course.syllabus.is_none() {
        text = text.push_md("\nNo syllabus loaded yet: ").code("!syllabus load");
    }
    turn.reply(text);
}
