//! Peer review: pairing at the deadline, assignments by direct message, reminders, expired
//! leases handed on, and escalation of work short of reviews to mentors. `!pair`, `!reviews`
//! and `!review` are in [`crate::command`] and use what is here.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};

use super::{Ctx, Decision, Effect, plural};
use crate::ids::{AssignmentId, PersonId, SubmissionId};
use crate::pairing::{History, Request, allocate, pick_least_loaded};
use crate::rng::Rng;
use crate::state::{
    Assignment, AssignmentStatus, Change, Course, CourseStatus, JobKey, JobKind, ReviewerRole, Role, State, Submission,
};
use crate::text::Text;

/// Hands out assignment ids within one decision.
pub(crate) struct Ids(i64);

impl Ids {
    pub fn new(state: &State) -> Ids {
        Ids(state.next_assignment_id().0)
    }
    fn next(&mut self) -> AssignmentId {
        let id = AssignmentId(self.0);
        self.0 += 1;
        id
    }
}

pub(crate) fn job(course: &Course, kind: JobKind, week: u32) -> JobKey {
    JobKey::course(course.id, kind, week)
}

/// The message that gives a reviewer an assignment.
fn assignment_text(state: &State, course: &Course, a: &Assignment, body: &str) -> Text {
    let zones = state.zones_for(a.reviewer, course);
    let mut text = Text::md(format!("📝 Review assignment **#{}** · ", a.id.0)).code(course.slug.as_str());
    text = text.push_md(format!(" week {}", a.week));
    if let Some(title) = course.week_title(a.week) {
        text = text.push_md(": ").user(title.to_owned());
    }
    if a.role == ReviewerRole::Mentor {
        text = text.push_md("\nAs a mentor, please cover this work, which peers could not review in time.");
    }
    text = text.push_md("\nPlease review the work of ").person(a.author).push_md(":\n").user(body.to_owned());
    let questions =
        course.syllabus.as_ref().and_then(|s| s.week(a.week)).map(|w| w.review_questions.clone()).unwrap_or_default();
    if !questions.is_empty() {
        text = text.push_md("\nQuestions to answer:");
        for q in questions {
            text = text.push_md("\n• ").user(q);
        }
    }
    text.push_md("\nReply with ")
        .code(format!("!review {} <your feedback> [score=1..5]", a.id.0))
        .push_md(" by ")
        .time(a.due, &zones)
        .push_md(".")
}

/// Creates an assignment: the change, the direct message, and a reminder job if none is set.
#[allow(
    clippy::too_many_arguments,
    reason = "the one place every assignment is made; each caller has all eight at hand"
)]
pub(crate) fn assign(
    state: &State,
    course: &Course,
    submission: &Submission,
    reviewer: PersonId,
    role: ReviewerRole,
    now: DateTime<Utc>,
    ids: &mut Ids,
    out: &mut Decision,
) -> Assignment {
    let a = Assignment {
        id: ids.next(),
        week: submission.week,
        submission: submission.id,
        author: submission.author,
        reviewer,
        role,
        assigned_at: now,
        due: course.settings.lease.after(course.settings.zone, now),
        status: AssignmentStatus::Open,
        reminders: 0,
        last_reminder: None,
    };
    out.change(Change::AssignmentMade { course: course.id, assignment: a.clone() });
    out.effect(Effect::Direct { person: reviewer, text: assignment_text(state, course, &a, &submission.body) });
    a
}

/// Makes sure reminder and lease jobs exist for new assignments (at the earliest time needed).
pub(crate) fn schedule_followups(state: &State, course: &Course, week: u32, new: &[Assignment], out: &mut Decision) {
    let Some(first_due) = new.iter().map(|a| a.due).min() else { return };
    let assigned = new.iter().map(|a| a.assigned_at).min().unwrap_or(first_due);
    // A day before it is due, or halfway through a lease shorter than a day.
    let remind_at = (first_due - Duration::days(1)).max(assigned + (first_due - assigned) / 2);
    let mut set_earliest = |kind: JobKind, at: DateTime<Utc>| {
        let key = job(course, kind, week);
        let planned = out.changes.iter().rev().find_map(|c| match c {
            Change::JobScheduled { job, due } if *job == key => Some(*due),
            _ => None,
        });
        match planned.or_else(|| state.jobs.get(&key).copied()) {
            Some(existing) if existing <= at => {}
            _ => out.change(Change::JobScheduled { job: key, due: at }),
        }
    };
    set_earliest(JobKind::Remind, remind_at);
    if new.iter().any(|a| a.role == ReviewerRole::Peer) {
        set_earliest(JobKind::Leases, first_due);
    }
}

/// The mentors of a course (or, in a course without mentors, its organizers) with their open
/// mentor work, found once per decision and kept up to date as work is handed out.
#[derive(Default)]
pub(crate) struct MentorLoads {
    pool: Option<Vec<PersonId>>,
    open: BTreeMap<PersonId, usize>,
}

impl MentorLoads {
    /// The pool of `course` without `leaving`, who is on the way out.
    fn without(course: &Course, leaving: PersonId) -> MentorLoads {
        MentorLoads { pool: Some(mentor_pool(course, Some(leaving))), open: BTreeMap::new() }
    }
}

/// The course's mentors, or its organizers when it has none, `except` one person.
fn mentor_pool(course: &Course, except: Option<PersonId>) -> Vec<PersonId> {
    let mentors: Vec<PersonId> = course.with_role(Role::Mentor).filter(|p| Some(*p) != except).collect();
    if mentors.is_empty() {
        course.with_role(Role::Organizer).filter(|p| Some(*p) != except).collect()
    } else {
        mentors
    }
}

/// Mentors who should take `count` more pieces of work, least loaded first.
fn pick_mentors(course: &Course, count: usize, loads: &mut MentorLoads) -> Vec<PersonId> {
    let pool = loads.pool.get_or_insert_with(|| mentor_pool(course, None));
    let mut ranked: Vec<(usize, PersonId)> = pool
        .iter()
        .map(|&m| {
            let open = *loads.open.entry(m).or_insert_with(|| {
                course
                    .assignments_for(m)
                    .filter(|a| a.role == ReviewerRole::Mentor && a.status == AssignmentStatus::Open)
                    .count()
            });
            (open, m)
        })
        .collect();
    ranked.sort_unstable();
    ranked.into_iter().take(count.max(1)).map(|(_, m)| m).collect()
}

/// Assigns mentors to a submission (`slots` of them, as many distinct mentors as there are).
#[allow(clippy::too_many_arguments)]
fn cover_with_mentors(
    state: &State,
    course: &Course,
    submission: &Submission,
    slots: usize,
    now: DateTime<Utc>,
    ids: &mut Ids,
    loads: &mut MentorLoads,
    out: &mut Decision,
) -> Vec<Assignment> {
    let mut made = Vec::new();
    for mentor in pick_mentors(course, slots, loads) {
        if mentor == submission.author {
            continue;
        }
        *loads.open.entry(mentor).or_default() += 1;
        made.push(assign(state, course, submission, mentor, ReviewerRole::Mentor, now, ids, out));
    }
    made
}

fn mentor_pool_note(course: &Course) -> &'static str {
    if course.with_role(Role::Mentor).next().is_none() {
        " (the course has no mentors, so organizers cover it; add mentors with `!mentor add @user`)"
    } else {
        ""
    }
}

/// Pairs a week: allocation, assignments by DM, mentors for the shortfall, and a report to the
/// organizers. Nothing happens if the week was paired before.
/// `answered` is the organizer who asked for the pairing in chat: they get the report as the
/// reply, not as a direct message as well.
pub(crate) fn pair_week(
    state: &State,
    course: &Course,
    week: u32,
    now: DateTime<Utc>,
    answered: Option<PersonId>,
    out: &mut Decision,
) -> Option<Text> {
    if course.paired.contains_key(&week) || !course.opened.contains_key(&week) {
        return None;
    }
    let learners: Vec<PersonId> = course.with_role(Role::Learner).collect();
    let subs: Vec<&Submission> =
        course.week_submissions(week).into_iter().filter(|s| learners.contains(&s.author)).collect();
    let pairs: Vec<(SubmissionId, PersonId)> = subs.iter().map(|s| (s.id, s.author)).collect();
    let history = History::new(course.assignments.values().filter(|a| a.week < week).map(|a| (a.reviewer, a.author)));
    let seed = Rng::derived(course.seed, u64::from(week)).next_u64();
    let k = course.settings.reviews as usize;
    let request = Request { submissions: &pairs, k, seed, history: &history };
    let alloc = allocate(&request);
    let quality = crate::pairing::quality(&request, &alloc);
    out.change(Change::WeekPaired { course: course.id, week, at: now });
    let by_id: BTreeMap<SubmissionId, &Submission> = subs.iter().map(|s| (s.id, *s)).collect();
    let mut ids = Ids::new(state);
    let mut made = Vec::new();
    for (sub, reviewer) in &alloc.assignments {
        made.push(assign(state, course, by_id[sub], *reviewer, ReviewerRole::Peer, now, &mut ids, out));
    }
    let mut loads = MentorLoads::default();
    let mut covered = Vec::new();
    for (sub, missing) in &alloc.shortfall {
        let mentors = cover_with_mentors(state, course, by_id[sub], *missing, now, &mut ids, &mut loads, out);
        covered.push((by_id[sub].author, mentors.iter().map(|a| a.reviewer).collect::<Vec<_>>()));
        made.extend(mentors);
    }
    schedule_followups(state, course, week, &made, out);
    let mut report = Text::md("Pairing for ".to_string()).code(course.slug.as_str()).push_md(format!(
        " week {week}: {}, {} assigned",
        plural(subs.len(), "submission"),
        plural(alloc.assignments.len(), "peer review")
    ));
    if !subs.is_empty() {
        report = report.push_md(format!(
            " (each reviewer has {}{}), {} and {}.",
            quality.min_load,
            if quality.max_load > quality.min_load { format!(" to {}", quality.max_load) } else { String::new() },
            plural(quality.repeats, "repeat pair"),
            plural(quality.reciprocals, "reciprocal pair")
        ));
    } else {
        report = report.push_md(": nobody submitted, so there is nothing to review.");
    }
    if !covered.is_empty() {
        report = report.push_md(format!(
            "\nShortfall: {} could not get {k} peer reviews (fewer than {} people submitted); mentors cover them{}:",
            plural(covered.len(), "submission"),
            k + 1,
            mentor_pool_note(course)
        ));
        for (author, mentors) in covered {
            report = report.push_md("\n• ").person(author).push_md(" → ");
            if mentors.is_empty() {
                report = report.push_md("nobody available: add a mentor");
            }
            for (i, m) in mentors.into_iter().enumerate() {
                if i > 0 {
                    report = report.push_md(", ");
                }
                report = report.person(m);
            }
        }
    }
    for organizer in course.with_role(Role::Organizer).filter(|o| Some(*o) != answered) {
        out.effect(Effect::Direct { person: organizer, text: report.clone() });
    }
    Some(report)
}

/// The scheduled pairing at the submission deadline.
pub(crate) fn pair_job(state: &State, course: &Course, week: u32, ctx: &Ctx, out: &mut Decision) {
    if course.status == CourseStatus::Ended {
        return;
    }
    pair_week(state, course, week, ctx.now, None, out);
}

/// Work that arrives after its week was paired gets the `k` least-loaded peers of that week.
pub(crate) fn late_arrival(
    state: &State,
    course: &Course,
    submission: &Submission,
    now: DateTime<Utc>,
    out: &mut Decision,
) {
    if !course.paired.contains_key(&submission.week) {
        return;
    }
    let week = submission.week;
    let learners: Vec<PersonId> = course.with_role(Role::Learner).collect();
    let mut load: BTreeMap<PersonId, usize> = course
        .week_submissions(week)
        .iter()
        .filter(|s| learners.contains(&s.author) && s.author != submission.author)
        .map(|s| (s.author, 0))
        .collect();
    for a in course.assignments.values().filter(|a| a.week == week && a.role == ReviewerRole::Peer) {
        if let Some(l) = load.get_mut(&a.reviewer) {
            *l += 1;
        }
    }
    let candidates: Vec<(PersonId, usize)> = load.into_iter().collect();
    let history = History::new(course.assignments.values().filter(|a| a.week < week).map(|a| (a.reviewer, a.author)));
    let reviewed_by_author: Vec<PersonId> = course
        .assignments
        .values()
        .filter(|a| a.week == week && a.reviewer == submission.author)
        .map(|a| a.author)
        .collect();
    let k = course.settings.reviews as usize;
    let seed = Rng::derived(course.seed, submission.id.0 as u64).next_u64();
    let picked = pick_least_loaded(&candidates, k, submission.author, &history, &reviewed_by_author, seed);
    let mut ids = Ids::new(state);
    let mut made: Vec<Assignment> =
        picked.iter().map(|r| assign(state, course, submission, *r, ReviewerRole::Peer, now, &mut ids, out)).collect();
    if picked.len() < k {
        let mut loads = MentorLoads::default();
        made.extend(cover_with_mentors(state, course, submission, k - picked.len(), now, &mut ids, &mut loads, out));
    }
    schedule_followups(state, course, week, &made, out);
}

/// The review deadline: every submission still short of reviews goes to a mentor.
pub(crate) fn escalate_job(state: &State, course: &Course, week: u32, ctx: &Ctx, out: &mut Decision) {
    if course.status == CourseStatus::Ended {
        return;
    }
    super::badge::sweep(state, course, ctx.now, out);
    let k = course.settings.reviews as usize;
    let mut ids = Ids::new(state);
    let mut loads = MentorLoads::default();
    let mut escalated = Vec::new();
    let mut made = Vec::new();
    for submission in course.week_submissions(week) {
        let done = course.assignments_of(submission.id).filter(|a| a.status == AssignmentStatus::Done).count();
        let has_mentor = course.assignments_of(submission.id).any(|a| a.role == ReviewerRole::Mentor);
        if done >= k || has_mentor {
            continue;
        }
        let mentors = cover_with_mentors(state, course, submission, 1, ctx.now, &mut ids, &mut loads, out);
        escalated.push((submission.author, done, mentors.iter().map(|a| a.reviewer).collect::<Vec<_>>()));
        made.extend(mentors);
    }
    schedule_followups(state, course, week, &made, out);
    if escalated.is_empty() {
        return;
    }
    let mut report = Text::md("Review deadline for ").code(course.slug.as_str()).push_md(format!(
        " week {week}: {} short of {k} reviews went to mentors{}:",
        plural(escalated.len(), "submission"),
        mentor_pool_note(course)
    ));
    for (author, done, mentors) in escalated {
        report = report.push_md("\n• ").person(author).push_md(format!(" ({done} done) → "));
        for (i, m) in mentors.into_iter().enumerate() {
            if i > 0 {
                report = report.push_md(", ");
            }
            report = report.person(m);
        }
    }
    for organizer in course.with_role(Role::Organizer) {
        out.effect(Effect::Direct { person: organizer, text: report.clone() });
    }
}

/// Leases: an assignment not done within its lease is handed to another peer (when the lease
/// ended inside the review window), and a submission still without any review after a lease
/// gets a mentor. Linear in the week's work: loads are kept in buckets and each hand-on looks
/// at a seeded sample of the least-loaded peers rather than at everyone.
pub(crate) fn leases_job(state: &State, course: &Course, week: u32, ctx: &Ctx, out: &mut Decision) {
    let now = ctx.now;
    let review_deadline = course.review_deadline(week);
    let subs = course.week_submissions(week);
    let mut week_assignments: Vec<&Assignment> = subs.iter().flat_map(|s| course.assignments_of(s.id)).collect();
    week_assignments.sort_by_key(|a| a.id);
    fn open_peer(a: &&&Assignment) -> bool {
        a.role == ReviewerRole::Peer && a.status == AssignmentStatus::Open
    }
    let expired: Vec<&Assignment> =
        week_assignments.iter().filter(open_peer).filter(|a| a.due <= now).copied().collect();
    let mut load: BTreeMap<PersonId, usize> =
        subs.iter().filter(|s| course.role(s.author) == Some(Role::Learner)).map(|s| (s.author, 0)).collect();
    for x in week_assignments.iter().filter(open_peer) {
        if let Some(l) = load.get_mut(&x.reviewer) {
            *l += 1;
        }
    }
    let mut buckets: BTreeMap<usize, std::collections::BTreeSet<PersonId>> = BTreeMap::new();
    for (p, l) in &load {
        buckets.entry(*l).or_default().insert(*p);
    }
    let history = History::new(course.assignments.values().filter(|x| x.week < week).map(|x| (x.reviewer, x.author)));
    let mut ids = Ids::new(state);
    let mut loads = MentorLoads::default();
    let mut made: Vec<Assignment> = Vec::new();
    // Reviewers given to each submission in this run, and submissions given a mentor.
    let mut made_for: BTreeMap<SubmissionId, Vec<PersonId>> = BTreeMap::new();
    let mut mentored: std::collections::BTreeSet<SubmissionId> = std::collections::BTreeSet::new();
    for a in &expired {
        let Some(submission) = course.submission(a.submission) else { continue };
        // Within the review window the work is handed to another peer. A lease that ends at or
        // after the review deadline leaves the assignment open (late reviews are welcome); the
        // escalation to mentors covers what is still short.
        if review_deadline.is_some_and(|d| a.due < d) {
            out.change(Change::AssignmentExpired { course: course.id, assignment: a.id });
            let busy: Vec<PersonId> = course
                .assignments_of(submission.id)
                .map(|x| x.reviewer)
                .chain(made_for.get(&submission.id).into_iter().flatten().copied())
                .collect();
            let seed = Rng::derived(course.seed, a.id.0 as u64).next_u64();
            let candidates = least_loaded_sample(&buckets, &busy, submission.author, seed);
            if let Some(next) = pick_least_loaded(&candidates, 1, submission.author, &history, &[], seed).first() {
                made.push(assign(state, course, submission, *next, ReviewerRole::Peer, now, &mut ids, out));
                made_for.entry(submission.id).or_default().push(*next);
                let l = load.entry(*next).or_default();
                if let Some(bucket) = buckets.get_mut(l) {
                    bucket.remove(next);
                }
                *l += 1;
                buckets.entry(*l).or_default().insert(*next);
            }
        }
        let reviewed = course.assignments_of(submission.id).any(|x| x.status == AssignmentStatus::Done);
        let has_mentor = course.assignments_of(submission.id).any(|x| x.role == ReviewerRole::Mentor)
            || mentored.contains(&submission.id);
        if !reviewed && !has_mentor {
            mentored.insert(submission.id);
            made.extend(cover_with_mentors(state, course, submission, 1, now, &mut ids, &mut loads, out));
        }
    }
    // The next lease to watch, among those still open.
    let next = week_assignments
        .iter()
        .filter(open_peer)
        .filter(|a| a.due > now)
        .map(|a| a.due)
        .chain(made.iter().filter(|a| a.role == ReviewerRole::Peer).map(|a| a.due))
        .min();
    if let Some(at) = next {
        out.change(Change::JobScheduled { job: job(course, JobKind::Leases, week), due: at });
    }
    schedule_followups(state, course, week, &made, out);
}

/// Peers to choose a reviewer from: those of the lowest load that has anyone eligible (not the
/// author, not already on this work), at most [`SAMPLE`] of them, from a seeded starting point.
fn least_loaded_sample(
    buckets: &BTreeMap<usize, std::collections::BTreeSet<PersonId>>,
    busy: &[PersonId],
    author: PersonId,
    seed: u64,
) -> Vec<(PersonId, usize)> {
    const SAMPLE: usize = 64;
    for (load, people) in buckets {
        let (Some(first), Some(last)) = (people.first(), people.last()) else { continue };
        let span = u64::try_from(last.0 - first.0).unwrap_or(0) + 1;
        let pivot = PersonId(first.0 + i64::try_from(seed % span).unwrap_or(0));
        let picked: Vec<(PersonId, usize)> = people
            .range(pivot..)
            .chain(people.range(..pivot))
            .filter(|p| **p != author && !busy.contains(p))
            .take(SAMPLE)
            .map(|p| (*p, *load))
            .collect();
        if !picked.is_empty() {
            return picked;
        }
    }
    Vec::new()
}

/// Reminders: a day before an assignment is due, then at least a day apart, at most three, one
/// message per reviewer listing their open work.
pub(crate) fn remind_job(state: &State, course: &Course, week: u32, ctx: &Ctx, out: &mut Decision) {
    let now = ctx.now;
    let day = Duration::days(1);
    let open: Vec<&Assignment> = course
        .assignments
        .values()
        .filter(|a| a.week == week && a.status == AssignmentStatus::Open && a.reminders < 3)
        .filter(|a| course.role(a.reviewer).is_some())
        .collect();
    let first_reminder = |a: &Assignment| (a.due - day).max(a.assigned_at + (a.due - a.assigned_at) / 2);
    let due_now = |a: &Assignment| now >= first_reminder(a) && a.last_reminder.is_none_or(|last| now - last >= day);
    let mut by_reviewer: BTreeMap<PersonId, Vec<&Assignment>> = BTreeMap::new();
    for a in open.iter().filter(|a| due_now(a)) {
        by_reviewer.entry(a.reviewer).or_default().push(a);
    }
    let mut reminded = Vec::new();
    for (reviewer, list) in &by_reviewer {
        let zones = state.zones_for(*reviewer, course);
        let mut text = Text::md("⏰ Reminder: ")
            .push_md(plural(list.len(), "review"))
            .push_md(" waiting for you in ")
            .code(course.slug.as_str())
            .push_md(":");
        for a in list {
            text = text
                .push_md(format!("\n• #{} · work of ", a.id.0))
                .person(a.author)
                .push_md(" · due ")
                .time(a.due, &zones);
            reminded.push(a.id);
        }
        text = text
            .push_md("\nReview with ")
            .code("!review ID <feedback> [score=1..5]")
            .push_md("; ")
            .code("!reviews")
            .push_md(" lists them.");
        out.effect(Effect::Direct { person: *reviewer, text });
    }
    if !reminded.is_empty() {
        out.change(Change::RemindersSent { course: course.id, assignments: reminded.clone(), at: now });
    }
    // When the next reminder could be due.
    let next = open
        .iter()
        .filter_map(|a| {
            let sent = u32::from(reminded.contains(&a.id));
            if a.reminders + sent >= 3 {
                return None;
            }
            let last = if sent == 1 { Some(now) } else { a.last_reminder };
            Some(match last {
                Some(l) => l + day,
                None => first_reminder(a).max(now + Duration::minutes(1)),
            })
        })
        .min();
    if let Some(at) = next {
        out.change(Change::JobScheduled { job: job(course, JobKind::Remind, week), due: at });
    }
}

/// Someone leaves a course (or loses the role that gave them review work): each of their open
/// assignments is handed on at once, by the rules of an expired lease. Peer work goes to the
/// least-loaded peer of its week while the review window is open, otherwise to a mentor;
/// mentor work goes to another mentor (or an organizer). Returns how many were handed on.
pub(crate) fn hand_on_work(
    state: &State,
    course: &Course,
    leaving: PersonId,
    now: DateTime<Utc>,
    out: &mut Decision,
) -> usize {
    let open: Vec<&Assignment> =
        course.assignments.values().filter(|a| a.reviewer == leaving && a.status == AssignmentStatus::Open).collect();
    if open.is_empty() {
        return 0;
    }
    let mut ids = Ids::new(state);
    let mut made: Vec<Assignment> = Vec::new();
    // The mentor pool without the person leaving.
    let mut loads = MentorLoads::without(course, leaving);
    for a in &open {
        out.change(Change::AssignmentExpired { course: course.id, assignment: a.id });
        let Some(submission) = course.submission(a.submission) else { continue };
        let window_open = course.review_deadline(a.week).is_some_and(|d| now < d);
        let mut next = None;
        if a.role == ReviewerRole::Peer && window_open {
            let busy: Vec<PersonId> = course
                .assignments_of(submission.id)
                .map(|x| x.reviewer)
                .chain(made.iter().filter(|m| m.submission == submission.id).map(|m| m.reviewer))
                .chain([leaving])
                .collect();
            let mut load: BTreeMap<PersonId, usize> = course
                .week_submissions(a.week)
                .iter()
                .filter(|s| course.role(s.author) == Some(Role::Learner) && !busy.contains(&s.author))
                .map(|s| (s.author, 0))
                .collect();
            for x in course
                .assignments
                .values()
                .filter(|x| x.week == a.week && x.role == ReviewerRole::Peer && x.status == AssignmentStatus::Open)
            {
                if let Some(l) = load.get_mut(&x.reviewer) {
                    *l += 1;
                }
            }
            let candidates: Vec<(PersonId, usize)> = load.into_iter().collect();
            let history =
                History::new(course.assignments.values().filter(|x| x.week < a.week).map(|x| (x.reviewer, x.author)));
            let seed = Rng::derived(course.seed, a.id.0 as u64).next_u64();
            next = pick_least_loaded(&candidates, 1, submission.author, &history, &[], seed)
                .first()
                .map(|p| assign(state, course, submission, *p, ReviewerRole::Peer, now, &mut ids, out));
        }
        if let Some(assignment) = next {
            made.push(assignment);
            continue;
        }
        // Peer work the window has closed on goes to a mentor unless one covers it already or
        // it has its reviews; a mentor's work always goes to another mentor.
        let done = course.assignments_of(submission.id).filter(|x| x.status == AssignmentStatus::Done).count();
        let mentored = course
            .assignments_of(submission.id)
            .chain(made.iter())
            .any(|x| x.role == ReviewerRole::Mentor && x.reviewer != leaving && x.submission == submission.id);
        if a.role == ReviewerRole::Mentor || (!mentored && done < course.settings.reviews as usize) {
            made.extend(cover_with_mentors(state, course, submission, 1, now, &mut ids, &mut loads, out));
        }
    }
    for week in made.iter().map(|a| a.week).collect::<std::collections::BTreeSet<_>>() {
        let new: Vec<Assignment> = made.iter().filter(|a| a.week == week).cloned().collect();
        schedule_followups(state, course, week, &new, out);
    }
    open.len()
}
