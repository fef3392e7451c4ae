//! `!course set KEY=VALUE ...`: change course settings and re-plan its schedule.

use crate::decide::course::{check_start, managed_course, school_for};
use crate::decide::plan::{plan_prompts, topic};
use super::SettingsPatch;
use super::{Arg, ArgKind, Audience, Cmd, CommandError, Spec, Where, args, args::fail};
use crate::decide::{Effect, Turn};
use crate::ids::Slug;
use crate::state::{Change, CourseStatus};
use crate::text::Text;

/// `!course set KEY=VALUE ...`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CourseSet {
    /// What changes (boxed: a parsed cron schedule is large).
    pub settings: Box<SettingsPatch>,
}

impl Cmd for CourseSet {
    const SPEC: Spec = Spec {
        name: "course set",
        who: "organizers",
        syntax: "!course set KEY=VALUE ...",
        example: "!course set deadline=4d threads=yes",
        summary: "change course settings and re-plan its schedule",
        details: "Keys: title=\"...\", school=NAME, cycle=NAME, start=YYYY-MM-DD, weeks=N, tz=Area/City, prompt=\"CRON\", deadline=5d (time after each prompt; also h, m, s), reviews=N (peer reviews per submission), review=2d (review deadline after the submission deadline), lease=48h (time a reviewer has before an assignment is handed on), anonymous=yes|no (hide reviewers' names from authors), threads=yes|no (each week's prompt opens a thread; `!submit` in it counts for that week), public=yes|no (listed in the web face's catalogue with its own page; yes by default).",
        audience: Audience::Organizer,
        place: Where::CourseRoom,
        args: &[Arg::required("settings", "KEY=VALUE pairs, like threads=yes deadline=4d", ArgKind::Text)],
        ..Spec::DEFAULT
    };

    fn parse(rest: &str) -> Result<Self, CommandError> {
        let name = Self::SPEC.name;
        let args = args::tokens(rest, name)?;
        if args.is_empty() {
            return fail("what should change? Give KEY=VALUE pairs, like `!course set deadline=4d`.", name);
        }
        Ok(CourseSet { settings: Box::new(args::parse_settings(&args, name)?) })
    }

    fn decide(&self, turn: &mut Turn<'_>) {
        set(turn, &self.settings)
    }
}

fn set(turn: &mut Turn<'_>, patch: &SettingsPatch) {
    let usage = CourseSet::SPEC.syntax;
    let Some(course) = managed_course(turn, usage) else { return };
    if course.status == CourseStatus::Ended {
        return turn.refuse(Text::md("the course has ended; its settings are final."), None);
    }
    let mut settings = course.settings.clone();
    let mut changed: Vec<String> = Vec::new();
    if let Some(title) = &patch.title {
        settings.title = title.clone();
        changed.push("title".into());
    }
    if let Some(cycle) = &patch.cycle {
        settings.cycle = Some(cycle.clone());
        changed.push("cycle".into());
    }
    if let Some(zone) = patch.tz {
        settings.zone = zone;
        changed.push(format!("time zone {zone}"));
    }
    if let Some(start) = patch.start {
        if course.current_week().is_some() {
            return turn
                .refuse(Text::md("the course has already started, so its start date cannot change."), Some(usage));
        }
        let today = turn.now.with_timezone(&settings.zone.tz()).date_naive();
        if let Some(problem) = check_start(start, today) {
            return turn.refuse(Text::md(problem), Some(usage));
        }
        settings.start = start;
        changed.push(format!("start {start}"));
    }
    if let Some(weeks) = patch.weeks {
        let posted = course.current_week().unwrap_or(0);
        if weeks < posted {
            return turn.refuse(
                Text::md(format!("{posted} weeks have already been posted; the course cannot be shorter than that.")),
                Some(usage),
            );
        }
        if let Some(s) = &course.syllabus
            && s.len() != weeks
        {
            return turn.refuse(
                Text::md(format!(
                    "the syllabus has {} weeks; load a syllabus with {weeks} weeks to change the length.",
                    s.len()
                )),
                Some(usage),
            );
        }
        settings.weeks = weeks;
        changed.push(format!("{weeks} weeks"));
    }
    if let Some(prompt) = &patch.prompt {
        settings.prompt = prompt.clone();
        changed.push(format!("prompts \"{}\"", prompt.source()));
    }
    if let Some(deadline) = patch.deadline {
        settings.deadline = deadline;
        changed.push(format!("deadline {deadline} after each prompt"));
    }
    if let Some(reviews) = patch.reviews {
        settings.reviews = reviews;
        changed.push(format!("{reviews} peer reviews per submission"));
    }
    if let Some(window) = patch.review_window {
        settings.review_window = window;
        changed.push(format!("reviews due {window} after the submission deadline"));
    }
    if let Some(lease) = patch.lease {
        settings.lease = lease;
        changed.push(format!("assignments handed on after {lease}"));
    }
    if let Some(anonymous) = patch.anonymous {
        settings.anonymous = anonymous;
        changed.push(if anonymous { "reviewers anonymous".to_owned() } else { "reviewers named".to_owned() });
    }
    if let Some(threads) = patch.threads {
        settings.threads = threads;
        changed.push(if threads { "a thread per week".to_owned() } else { "no weekly threads".to_owned() });
    }
    if let Some(public) = patch.public {
        settings.public = public;
        changed.push(if public { "listed publicly".to_owned() } else { "not listed publicly".to_owned() });
    }
    if let Some(name) = &patch.school {
        let exists = Slug::from_name(name).ok().and_then(|slug| turn.state.school_by_slug(&slug)).is_some();
        if !exists && !turn.is_admin() {
            let mut known: Vec<&str> = turn.state.schools.values().map(|s| s.name.as_str()).collect();
            known.sort_unstable();
            let text =
                Text::md("there is no school called ").user(name.clone()).push_md("; only bot admins create schools. ");
            let text = if known.is_empty() {
                text.push_md("There are no schools yet.")
            } else {
                text.push_md("The schools are: ").user(known.join(", ")).push_md(".")
            };
            return turn.refuse(text, Some(usage));
        }
        settings.school = school_for(turn, name);
        changed.push("school".to_owned());
    }
    let reschedule = patch.tz.is_some() || patch.start.is_some() || patch.weeks.is_some() || patch.prompt.is_some();
    let mut after = course.clone();
    after.settings = settings.clone();
    turn.out.change(Change::CourseSettingsChanged { course: course.id, settings });
    let mut jobs = None;
    if reschedule && course.status == CourseStatus::Active {
        let planned = plan_prompts(&after, turn.now);
        jobs = Some(planned.clone());
        turn.out.change(Change::JobsPlanned { course: course.id, jobs: planned });
    }
    if patch.deadline.is_some() || patch.review_window.is_some() || patch.tz.is_some() {
        // Pairing and escalation of open weeks move with their deadlines.
        for (key, _) in turn.state.course_jobs(course.id) {
            let moved = crate::decide::plan::review_jobs(&after, key.week).into_iter().find(|(kind, _)| *kind == key.kind);
            if let Some((_, at)) = moved {
                turn.out.change(Change::JobScheduled { job: *key, due: at });
            }
        }
    }
    turn.out.effect(Effect::SetTopic { course: course.id, topic: topic(&after) });
    let zones = [after.settings.zone];
    // What was changed is the bot's own words; the new title and school are people's and are
    // shown as their text, never read as Markdown.
    let mut text =
        Text::md("Course settings changed by ").person(turn.actor()).push_md(format!(": {}", changed.join(", ")));
    if let Some(title) = &patch.title {
        text = text.push_md(" (title: ").user(title.clone()).push_md(")");
    }
    if let Some(name) = &patch.school {
        text = text.push_md(" (school: ").user(name.clone()).push_md(")");
    }
    text = text.push_md(".");
    if let Some(week) = after.current_week()
        && (patch.deadline.is_some() || patch.tz.is_some())
        && let Some(d) = after.deadline(week)
    {
        text = text.push_md(format!(" Week {week}'s work is now due ")).time(d, &zones).push_md(".");
    }
    if let Some(jobs) = jobs {
        match jobs.first() {
            Some((job, at)) => {
                text = text.push_md(format!(" Week {} now opens ", job.week)).time(*at, &zones).push_md(".")
            }
            None => text = text.push_md(" No weeks are left to schedule."),
        }
    }
    turn.reply(text);
}
