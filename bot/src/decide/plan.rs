//! The schedule of a course: planning its prompt jobs and posting a week when its job is due.

use chrono::{DateTime, Duration, Utc};

use super::{Ctx, Decision, Effect, WeekThread};
use crate::state::{About, Change, Course, CourseStatus, JobKey, JobKind, OpenedWeek, State, late_grace};
use crate::text::Text;

/// The prompt jobs a course should have from `now` on: one per week not yet posted, at
/// successive firings of its schedule, never before its start day, `now`, or the last posted
/// prompt. A course that is not active has none.
pub fn plan_prompts(course: &Course, now: DateTime<Utc>) -> Vec<(JobKey, DateTime<Utc>)> {
    if course.status != CourseStatus::Active {
        return Vec::new();
    }
    let posted = course.current_week().unwrap_or(0);
    let remaining = course.settings.weeks.saturating_sub(posted) as usize;
    if remaining == 0 {
        return Vec::new();
    }
    let one_second = Duration::seconds(1);
    let mut anchor = (course.start_instant() - one_second).max(now - one_second);
    if let Some(last) = course.opened.values().map(|w| w.prompt_at).max() {
        anchor = anchor.max(last);
    }
    let firings = course.settings.prompt.firings_after(course.settings.zone, anchor, remaining);
    firings
        .into_iter()
        .zip(posted + 1..)
        .map(|(at, week)| (JobKey::course(course.id, JobKind::Prompt, week), at))
        .collect()
}

/// When an opened week's review steps run: pairing at the submission deadline, escalation at
/// the review deadline.
pub(crate) fn review_jobs(course: &Course, week: u32) -> Vec<(JobKind, DateTime<Utc>)> {
    let (Some(deadline), Some(review)) = (course.deadline(week), course.review_deadline(week)) else {
        return Vec::new();
    };
    vec![(JobKind::Pair, deadline), (JobKind::Escalate, review)]
}

/// The topic of a course room.
pub(crate) fn topic(course: &Course) -> String {
    let week = match course.current_week() {
        Some(w) => format!("week {w} of {}", course.settings.weeks),
        None => format!("{} weeks", course.settings.weeks),
    };
    let status = match course.status {
        CourseStatus::Active => String::new(),
        CourseStatus::Paused => " (paused)".to_owned(),
        CourseStatus::Ended => " (ended)".to_owned(),
    };
    format!(
        "{} · {week}{status} · prompts \"{}\" ({}) · !help",
        course.settings.title,
        course.settings.prompt.source(),
        course.settings.zone
    )
}

pub(crate) fn job_due(state: &State, job: JobKey, ctx: &Ctx) -> Decision {
    let mut out = Decision::default();
    let Some(due) = state.jobs.get(&job).copied() else {
        return out;
    };
    out.change(Change::JobDone { job });
    let About::Course(course) = job.about;
    let Some(course) = state.courses.get(&course) else {
        return out;
    };
    match job.kind {
        JobKind::Prompt => post_prompt(course, job.week, due, ctx.now, &mut out),
        JobKind::Pair => super::review::pair_job(state, course, job.week, ctx, &mut out),
        JobKind::Escalate => super::review::escalate_job(state, course, job.week, ctx, &mut out),
        JobKind::Leases => super::review::leases_job(state, course, job.week, ctx, &mut out),
        JobKind::Remind => super::review::remind_job(state, course, job.week, ctx, &mut out),
    }
    out
}

fn post_prompt(course: &Course, week: u32, due: DateTime<Utc>, now: DateTime<Utc>, out: &mut Decision) {
    if course.status != CourseStatus::Active || course.opened.contains_key(&week) || week > course.settings.weeks {
        return;
    }
    let late = now - due > late_grace();
    let opened = OpenedWeek { prompt_at: due, posted_at: now, late };
    out.change(Change::WeekOpened { course: course.id, week, opened });
    let mut after = course.clone();
    after.opened.insert(week, opened);
    for (kind, at) in review_jobs(&after, week) {
        out.change(Change::JobScheduled { job: JobKey::course(course.id, kind, week), due: at });
    }
    let thread = course.settings.threads.then(|| {
        let title = course.syllabus.as_ref().and_then(|s| s.week(week)).map(|p| p.title.clone());
        let name = match title {
            Some(t) => format!("Week {week}: {t}"),
            None => format!("Week {week}"),
        };
        let opening = Text::md(format!("🧵 This is week {week}'s thread: talk about the prompt here. "))
            .code("!submit <link or text>")
            .push_md(format!(" said in this thread counts for week {week}, even after the next week opens."));
        WeekThread { week, name: name.chars().take(100).collect(), opening }
    });
    out.effect(Effect::Post { course: course.id, text: prompt_text(&after, week), thread });
    out.effect(Effect::SetTopic { course: course.id, topic: topic(&after) });
}

/// The post that opens a week (also used to welcome late joiners).
pub(crate) fn prompt_text(course: &Course, week: u32) -> Text {
    let zones = [course.settings.zone];
    let mut text = Text::new();
    let opened = course.opened.get(&week);
    if let Some(o) = opened.filter(|o| o.late) {
        text = text
            .push_md("_Posted late: this prompt was due ")
            .time(o.prompt_at, &zones)
            .push_md(" and the bot was offline._\n\n");
    }
    let plan = course.syllabus.as_ref().and_then(|s| s.week(week));
    text = text.push_md(format!("**Week {week} of {}", course.settings.weeks));
    if let Some(p) = plan {
        text = text.push_md(": ").user(p.title.clone());
    }
    text = text.push_md("** · ").code(course.slug.as_str()).push_md("\n\n");
    match plan {
        Some(p) => text = text.push_md(p.prompt.clone()),
        None => {
            text = text
                .push_md("No syllabus is loaded yet, so this week has no prompt text; organizers can load one with ")
                .code("!syllabus load")
                .push_md(".");
        }
    }
    if let Some(deadline) = course.deadline(week) {
        text = text
            .push_md("\n\nSubmit your work here with ")
            .code("!submit <link or text>")
            .push_md(" by ")
            .time(deadline, &zones)
            .push_md(".");
    }
    text
}
