//! Running a course: creating it, its schedule, its settings, its people and its syllabus.

use chrono::{Datelike, Duration};

use super::community::where_we_are_with;
use super::plan::{plan_prompts, topic};
use super::{Effect, Turn, plural};
use crate::command::{Mention, RoleAction, SettingsPatch, syntax};
use crate::ids::{SchoolId, Slug, Zone};
use crate::schedule::{Offset, PromptSchedule};
use crate::state::{Change, Course, CourseSettings, CourseStatus, Role};
use crate::syllabus::Syllabus;
use crate::text::Text;

/// Weeks a course has unless told otherwise (a typical P2PU learning circle).
pub const DEFAULT_WEEKS: u32 = 6;
/// Days from each prompt to its submission deadline unless told otherwise.
pub const DEFAULT_DEADLINE_DAYS: u32 = 5;
/// Peer reviews per submission unless told otherwise.
pub const DEFAULT_REVIEWS: u32 = 2;
/// Days from the submission deadline to the review deadline unless told otherwise.
pub const DEFAULT_REVIEW_DAYS: u32 = 2;
/// Days a reviewer holds an assignment unless told otherwise.
pub const DEFAULT_LEASE_DAYS: u32 = 2;

/// Finds the school for a name, or plans to create it. Returns its id.
fn school_for(turn: &mut Turn<'_>, name: &str) -> Option<SchoolId> {
    let slug = Slug::from_name(name).ok()?;
    if let Some(s) = turn.state.school_by_slug(&slug) {
        return Some(s.id);
    }
    let id = turn.state.next_school_id();
    turn.out.change(Change::SchoolCreated { school: id, slug, name: name.to_owned() });
    turn.out.effect(Effect::CreateSchoolSpace { school: id, name: name.to_owned() });
    Some(id)
}

pub(super) fn create(turn: &mut Turn<'_>, slug: &Slug, patch: &SettingsPatch) {
    let usage = crate::command::usage("course new").map(|u| u.syntax);
    if !turn.input.admin {
        turn.refuse(
            Text::md("only bot admins can create courses; ask one of them (they are listed in the bot's config)."),
            None,
        );
        return;
    }
    if turn.state.course_by_slug(slug).is_some() {
        turn.refuse(
            Text::md("a course named ").code(slug.as_str()).push_md(" already exists; pick another short name."),
            usage,
        );
        return;
    }
    let zone = patch.tz.unwrap_or(Zone::UTC);
    let today = turn.now.with_timezone(&zone.tz()).date_naive();
    let start = patch.start.unwrap_or(today);
    if let Some(problem) = check_start(start, today) {
        turn.refuse(Text::md(problem), usage);
        return;
    }
    let school = match &patch.school {
        Some(name) => school_for(turn, name),
        None => None,
    };
    let settings = CourseSettings {
        title: patch.title.clone().unwrap_or_else(|| slug.to_string()),
        school,
        cycle: patch.cycle.clone(),
        start,
        weeks: patch.weeks.unwrap_or(DEFAULT_WEEKS),
        zone,
        prompt: patch.prompt.clone().unwrap_or_else(PromptSchedule::weekly_default),
        deadline: patch.deadline.unwrap_or(Offset::days(DEFAULT_DEADLINE_DAYS)),
        reviews: patch.reviews.unwrap_or(DEFAULT_REVIEWS),
        review_window: patch.review_window.unwrap_or(Offset::days(DEFAULT_REVIEW_DAYS)),
        lease: patch.lease.unwrap_or(Offset::days(DEFAULT_LEASE_DAYS)),
        anonymous: patch.anonymous.unwrap_or(false),
        threads: patch.threads.unwrap_or(false),
    };
    let id = turn.state.next_course_id();
    let actor = turn.actor();
    let now = turn.now;
    turn.out.change(Change::CourseCreated {
        course: id,
        slug: slug.clone(),
        settings: settings.clone(),
        created_by: actor,
        at: now,
        seed: turn.seed,
    });
    turn.out.change(Change::MemberSet { course: id, person: actor, role: Role::Organizer, at: now });
    // Plan against the course as it will be once created.
    let mut course = Course {
        id,
        slug: slug.clone(),
        settings,
        status: CourseStatus::Active,
        status_at: now,
        created_at: now,
        created_by: actor,
        members: Default::default(),
        syllabus: None,
        opened: Default::default(),
        submissions: Default::default(),
        seed: turn.seed,
        paired: Default::default(),
        assignments: Default::default(),
        reviews: Default::default(),
        awards: Default::default(),
        nominations: Default::default(),
        by_submission: Default::default(),
        by_reviewer: Default::default(),
        submission_keys: Default::default(),
    };
    let jobs = plan_prompts(&course, now);
    let first = jobs.first().map(|(_, at)| *at);
    turn.out.change(Change::JobsPlanned { course: id, jobs });
    course.members.insert(actor, crate::state::Member { role: Role::Organizer, joined_at: now });
    turn.out.effect(Effect::CreateCourseRoom { course: id, school, slug: slug.clone(), topic: topic(&course) });
    turn.out.effect(Effect::Invite { course: id, person: actor });
    turn.out.effect(Effect::SetRole { course: id, person: actor, role: Some(Role::Organizer) });
    let zones = turn.zones(&course);
    let mut text =
        Text::md("Created **").user(course.settings.title.clone()).push_md("** (").code(slug.as_str()).push_md(
            format!(
                "): {} weeks, prompts \"{}\" in {}, submissions due {} after each prompt, {} peer reviews each, due {} later. ",
                course.settings.weeks,
                course.settings.prompt.source(),
                zone,
                course.settings.deadline,
                course.settings.reviews,
                course.settings.review_window
            ),
        );
    if let Some(first) = first {
        text = text.push_md("Week 1 opens ").time(first, &zones).push_md(". ");
    }
    text =
        text.push_md("You're its organizer; load the syllabus in its room with ").code("!syllabus load").push_md(".");
    turn.reply(text);
}

fn check_start(start: chrono::NaiveDate, today: chrono::NaiveDate) -> Option<String> {
    if start < today {
        return Some(format!("the start date {start} is in the past (today is {today} in the course's zone)."));
    }
    if start > today + Duration::days(2 * 366) {
        return Some(format!("the start date {start} is more than two years away."));
    }
    if start.year() > 9999 {
        return Some("the start date is out of range.".to_owned());
    }
    None
}

/// The course of this room, when the actor may manage it.
fn managed_course<'a>(turn: &mut Turn<'a>, usage: &str) -> Option<&'a Course> {
    let state = turn.state;
    let course = match turn.input.place {
        super::Place::Course(id) => state.courses.get(&id),
        _ => None,
    };
    let Some(course) = course else {
        turn.refuse(Text::md("use this command in the course's room."), Some(usage));
        return None;
    };
    turn.require_organizer(course, usage).then_some(course)
}

pub(super) fn pause(turn: &mut Turn<'_>) {
    let Some(course) = managed_course(turn, syntax("course pause")) else { return };
    match course.status {
        CourseStatus::Paused => {
            return turn.refuse(
                Text::md("the course is already paused; ").code("!course resume").push_md(" picks it up again."),
                None,
            );
        }
        CourseStatus::Ended => return turn.refuse(Text::md("the course has ended."), None),
        CourseStatus::Active => {}
    }
    turn.out.change(Change::CourseStatusChanged { course: course.id, status: CourseStatus::Paused, at: turn.now });
    turn.out.change(Change::JobsPlanned { course: course.id, jobs: Vec::new() });
    let mut after = course.clone();
    after.status = CourseStatus::Paused;
    turn.out.effect(Effect::SetTopic { course: course.id, topic: topic(&after) });
    turn.reply(
        Text::md("The schedule is paused by ")
            .person(turn.actor())
            .push_md(": no prompts until an organizer sends ")
            .code("!course resume")
            .push_md(". Submissions for open weeks are still welcome."),
    );
}

pub(super) fn resume(turn: &mut Turn<'_>) {
    let Some(course) = managed_course(turn, syntax("course resume")) else { return };
    match course.status {
        CourseStatus::Active => return turn.refuse(Text::md("the course is not paused."), None),
        CourseStatus::Ended => return turn.refuse(Text::md("the course has ended; it cannot be resumed."), None),
        CourseStatus::Paused => {}
    }
    let mut after = course.clone();
    after.status = CourseStatus::Active;
    let jobs = plan_prompts(&after, turn.now);
    let next = jobs.first().copied();
    turn.out.change(Change::CourseStatusChanged { course: course.id, status: CourseStatus::Active, at: turn.now });
    turn.out.change(Change::JobsPlanned { course: course.id, jobs });
    turn.out.effect(Effect::SetTopic { course: course.id, topic: topic(&after) });
    let mut text = Text::md("The schedule is running again. ");
    match next {
        Some((job, at)) => {
            text = text.push_md(format!("Week {} opens ", job.week)).time(at, &[course.settings.zone]).push_md(".")
        }
        None => text = text.push_md("All weeks have been posted."),
    }
    turn.reply(text);
}

pub(super) fn end(turn: &mut Turn<'_>) {
    let Some(course) = managed_course(turn, syntax("course end")) else { return };
    if course.status == CourseStatus::Ended {
        return turn.refuse(Text::md("the course has already ended."), None);
    }
    let mut out = std::mem::take(&mut turn.out);
    super::badge::sweep(turn.state, course, turn.now, &mut out);
    turn.out = out;
    turn.out.change(Change::CourseStatusChanged { course: course.id, status: CourseStatus::Ended, at: turn.now });
    turn.out.change(Change::JobsPlanned { course: course.id, jobs: Vec::new() });
    for (job, _) in turn.state.course_jobs(course.id).filter(|(k, _)| k.kind != crate::state::JobKind::Prompt) {
        turn.out.change(Change::JobDone { job: *job });
    }
    let mut after = course.clone();
    after.status = CourseStatus::Ended;
    turn.out.effect(Effect::SetTopic { course: course.id, topic: topic(&after) });
    let submissions = course.submissions.len();
    turn.reply(Text::md("**").user(course.settings.title.clone()).push_md(format!(
        "** has ended after {} with {}. Thank you all for learning together!",
        plural(course.opened.len(), "week"),
        plural(submissions, "submission")
    )));
}

pub(super) fn set(turn: &mut Turn<'_>, patch: &SettingsPatch) {
    let usage = syntax("course set");
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
    if let Some(name) = &patch.school {
        let exists = Slug::from_name(name).ok().and_then(|slug| turn.state.school_by_slug(&slug)).is_some();
        if !exists && !turn.input.admin {
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
            let moved = super::plan::review_jobs(&after, key.week).into_iter().find(|(kind, _)| *kind == key.kind);
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

pub(super) fn set_role(turn: &mut Turn<'_>, role: Role, action: RoleAction, user: &Mention) {
    let usage = if role == Role::Organizer { syntax("organizer") } else { syntax("mentor") };
    let Some(course) = managed_course(turn, usage) else { return };
    let Some(person) = turn.mentioned(user, Some(usage)) else { return };
    let current = course.role(person);
    let a_name = if role == Role::Organizer { "an organizer" } else { "a mentor" };
    match action {
        RoleAction::Add => {
            if current == Some(role) {
                return turn.refuse(Text::md("").person(person).push_md(format!(" is already {a_name} here.")), None);
            }
            if course.status == CourseStatus::Ended {
                return turn.refuse(Text::md("the course has ended."), None);
            }
            if current == Some(Role::Organizer) && course.with_role(Role::Organizer).count() == 1 {
                return turn.refuse(
                    Text::new().person(person).push_md(
                        " is the only organizer here; a course needs at least one, so add another organizer first.",
                    ),
                    None,
                );
            }
            turn.out.change(Change::MemberSet { course: course.id, person, role, at: turn.now });
            turn.out.effect(Effect::SetRole { course: course.id, person, role: Some(role) });
            if current.is_none() {
                turn.out.effect(Effect::Invite { course: course.id, person });
            }
            let was = current.map(|r| format!(" (was {})", r.as_str())).unwrap_or_default();
            turn.reply(
                Text::new()
                    .person(person)
                    .push_md(format!(" is now {a_name} of "))
                    .code(course.slug.as_str())
                    .push_md(format!("{was}.")),
            );
        }
        RoleAction::Remove => {
            if current != Some(role) {
                return turn.refuse(Text::new().person(person).push_md(format!(" is not {a_name} here.")), None);
            }
            if role == Role::Organizer && course.with_role(Role::Organizer).count() == 1 {
                return turn.refuse(
                    Text::md("a course needs at least one organizer; add another before removing the last."),
                    None,
                );
            }
            turn.out.change(Change::MemberRemoved { course: course.id, person });
            turn.out.effect(Effect::SetRole { course: course.id, person, role: None });
            let mut out = std::mem::take(&mut turn.out);
            let handed = super::review::hand_on_work(turn.state, course, person, turn.now, &mut out);
            turn.out = out;
            let handed = if handed > 0 {
                format!(" Their {} went to others.", plural(handed, "open review assignment"))
            } else {
                String::new()
            };
            turn.reply(
                Text::new()
                    .person(person)
                    .push_md(format!(" is no longer {a_name} of "))
                    .code(course.slug.as_str())
                    .push_md(format!(".{handed}")),
            );
        }
    }
}

pub(super) fn show_syllabus(turn: &mut Turn<'_>, week: Option<u32>) {
    let usage = syntax("syllabus");
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

pub(super) fn load_syllabus(turn: &mut Turn<'_>, syllabus: &Result<Box<Syllabus>, String>) {
    let usage = syntax("syllabus load");
    // Who may load comes first: a learner hears that, not a review of the file.
    let Some(course) = managed_course(turn, usage) else { return };
    let syllabus: &Syllabus = match syllabus {
        Ok(s) => s,
        Err(problem) => return turn.refuse(Text::new().user(super::capitalise(problem)), Some(usage)),
    };
    if course.status == CourseStatus::Ended {
        return turn.refuse(Text::md("the course has ended."), None);
    }
    let posted = course.current_week().unwrap_or(0);
    if syllabus.len() < posted {
        return turn.refuse(
            Text::md(format!(
                "the course has already posted {posted} weeks, but this syllabus has only {}; past weeks cannot be removed.",
                syllabus.len()
            )),
            Some(usage),
        );
    }
    // Weeks already posted keep the text they were posted with; badges people hold stay
    // (retired when the new file drops them), so no award loses its meaning.
    let mut held: Vec<Slug> = course.awards.keys().map(|(b, _)| b.clone()).collect();
    held.dedup();
    let merged;
    let syllabus = match &course.syllabus {
        Some(old) if posted > 0 || !held.is_empty() => match old.merged_over(syllabus, posted, &held) {
            Ok(m) => {
                merged = m;
                &merged
            }
            Err(e) => {
                return turn.refuse(
                    Text::md("the syllabus could not be combined with the weeks already posted: ").user(e.to_string()),
                    Some(usage),
                );
            }
        },
        _ => syllabus,
    };
    let retired: Vec<&str> = syllabus.badges.iter().filter(|b| b.retired).map(|b| b.name.as_str()).collect();
    let mut after = course.clone();
    after.syllabus = Some(syllabus.clone());
    turn.out.change(Change::SyllabusLoaded {
        course: course.id,
        syllabus: Box::new(syllabus.clone()),
        by: turn.actor(),
        at: turn.now,
    });
    let mut planned: Option<Vec<(crate::state::JobKey, chrono::DateTime<chrono::Utc>)>> = None;
    let mut text =
        Text::md(if course.syllabus.is_some() { "Replaced the syllabus: **" } else { "Loaded the syllabus: **" })
            .user(syllabus.title.clone())
            .push_md(format!("**, {}.", plural(syllabus.weeks.len(), "week")));
    if syllabus.len() != course.settings.weeks {
        text =
            text.push_md(format!(" The course now has {} weeks (it had {}).", syllabus.len(), course.settings.weeks));
        after.settings.weeks = syllabus.len();
        turn.out.change(Change::CourseSettingsChanged { course: course.id, settings: after.settings.clone() });
        if course.status == CourseStatus::Active {
            let jobs = plan_prompts(&after, turn.now);
            planned = Some(jobs.clone());
            turn.out.change(Change::JobsPlanned { course: course.id, jobs });
        }
        turn.out.effect(Effect::SetTopic { course: course.id, topic: topic(&after) });
    }
    if posted > 0 {
        text =
            text.push_md(format!(" Weeks 1 to {posted} were already posted and keep the text they were posted with."));
    }
    if !retired.is_empty() {
        text = text
            .push_md(" Badges people hold stay, retired (no longer awarded): ")
            .user(retired.join(", "))
            .push_md(".");
    }
    let zones = turn.zones(&after);
    let state = turn.state;
    let prompt_time = |week: u32| match &planned {
        Some(jobs) => after
            .opened
            .get(&week)
            .map(|o| o.prompt_at)
            .or_else(|| jobs.iter().find(|(k, _)| k.week == week).map(|(_, at)| *at)),
        None => state.prompt_time(&after, week),
    };
    text = text.push_md("\n").append(where_we_are_with(&after, &prompt_time, &zones, turn.now));
    turn.reply(text);
}
