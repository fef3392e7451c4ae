//! Rebuilding the domain state from the tables.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use sqlx::{AnyConnection, Row};

use facilitator_bot::ids::AssignmentId;
use facilitator_bot::schedule::{Offset, PromptSchedule};
use facilitator_bot::state::{
    About, Assignment, AssignmentStatus, Course, CourseSettings, CourseStatus, JobKey, JobKind, Member, OpenedWeek,
    Person, Review, ReviewerRole, Role, School, Submission,
};
use facilitator_bot::syllabus::Syllabus;
use facilitator_bot::{Account, CourseId, Email, PersonId, SchoolId, Slug, State, SubmissionId, Zone};

use crate::{Result, StoreError, from_ms};

fn corrupt(what: &str, detail: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("{what}: {detail}"))
}

fn seconds(value: i64) -> Result<u32> {
    u32::try_from(value).map_err(|_| corrupt("seconds", value))
}

fn week(value: i64) -> Result<u32> {
    u32::try_from(value).map_err(|_| corrupt("week", value))
}

pub(crate) async fn state(conn: &mut AnyConnection) -> Result<State> {
    let mut state = State::default();

    for row in sqlx::query("SELECT id, name, tz, admin, public, badge_email FROM persons ORDER BY id")
        .fetch_all(&mut *conn)
        .await?
    {
        let id = PersonId(row.try_get("id")?);
        let tz: Option<String> = row.try_get("tz")?;
        let zone = tz.map(|t| Zone::parse(&t).map_err(|e| corrupt("person zone", e))).transpose()?;
        let admin = row.try_get::<i64, _>("admin")? != 0;
        let public = row.try_get::<i64, _>("public")? != 0;
        let badge_email = row
            .try_get::<Option<String>, _>("badge_email")?
            .map(|e| Email::parse(&e).map_err(|e| corrupt("badge email", e)))
            .transpose()?;
        state.persons.insert(
            id,
            std::sync::Arc::new(Person {
                id,
                name: row.try_get("name")?,
                zone,
                accounts: Vec::new(),
                admin,
                public,
                badge_email,
            }),
        );
    }
    for row in sqlx::query("SELECT platform, handle, person_id FROM accounts ORDER BY platform, handle")
        .fetch_all(&mut *conn)
        .await?
    {
        let account = Account { platform: row.try_get("platform")?, handle: row.try_get("handle")? };
        let person = PersonId(row.try_get("person_id")?);
        if let Some(p) = state.person_mut(&person) {
            p.accounts.push(account.clone());
        }
        state.accounts.insert(account, person);
    }
    for row in sqlx::query("SELECT id, slug, name FROM schools ORDER BY id").fetch_all(&mut *conn).await? {
        let id = SchoolId(row.try_get("id")?);
        let slug: String = row.try_get("slug")?;
        let slug = Slug::parse(&slug).map_err(|e| corrupt("school slug", e))?;
        state.schools.insert(id, School { id, slug, name: row.try_get("name")? });
    }
    let courses = sqlx::query(
        "SELECT id, slug, title, school_id, cycle, start_date, weeks, tz, prompt_cron, deadline_seconds, status, status_at, \
         created_at, created_by, reviews, review_seconds, lease_seconds, anonymous, threads, public, seed FROM courses ORDER BY id",
    )
    .fetch_all(&mut *conn)
    .await?;
    for row in courses {
        let id = CourseId(row.try_get("id")?);
        let slug: String = row.try_get("slug")?;
        let slug = Slug::parse(&slug).map_err(|e| corrupt("course slug", e))?;
        let start: String = row.try_get("start_date")?;
        let tz: String = row.try_get("tz")?;
        let cron: String = row.try_get("prompt_cron")?;
        let status: String = row.try_get("status")?;
        let deadline: i64 = row.try_get("deadline_seconds")?;
        let weeks: i64 = row.try_get("weeks")?;
        let settings = CourseSettings {
            title: row.try_get("title")?,
            school: row.try_get::<Option<i64>, _>("school_id")?.map(SchoolId),
            cycle: row.try_get("cycle")?,
            start: NaiveDate::parse_from_str(&start, "%Y-%m-%d").map_err(|e| corrupt("start date", e))?,
            weeks: week(weeks)?,
            zone: Zone::parse(&tz).map_err(|e| corrupt("course zone", e))?,
            prompt: PromptSchedule::parse(&cron).map_err(|e| corrupt("prompt schedule", e))?,
            deadline: Offset::from_seconds(seconds(deadline)?),
            reviews: u32::try_from(row.try_get::<i64, _>("reviews")?)
                .map_err(|_| corrupt("reviews", "out of range"))?,
            review_window: Offset::from_seconds(seconds(row.try_get("review_seconds")?)?),
            lease: Offset::from_seconds(seconds(row.try_get("lease_seconds")?)?),
            anonymous: row.try_get::<i64, _>("anonymous")? != 0,
            threads: row.try_get::<i64, _>("threads")? != 0,
            public: row.try_get::<i64, _>("public")? != 0,
        };
        let course = Course {
            id,
            slug: slug.clone(),
            settings,
            status: CourseStatus::parse(&status).ok_or_else(|| corrupt("course status", &status))?,
            status_at: from_ms(row.try_get("status_at")?)?,
            created_at: from_ms(row.try_get("created_at")?)?,
            created_by: PersonId(row.try_get("created_by")?),
            members: BTreeMap::new(),
            syllabus: None,
            opened: BTreeMap::new(),
            submissions: BTreeMap::new(),
            seed: row.try_get::<i64, _>("seed")? as u64,
            paired: BTreeMap::new(),
            assignments: BTreeMap::new(),
            reviews: BTreeMap::new(),
            awards: BTreeMap::new(),
            nominations: BTreeMap::new(),
            by_submission: BTreeMap::new(),
            by_reviewer: BTreeMap::new(),
            submission_keys: BTreeMap::new(),
            revocations: BTreeMap::new(),
            by_assertion: BTreeMap::new(),
        };
        state.course_slugs.insert(slug, id);
        state.courses.insert(id, std::sync::Arc::new(course));
    }
    for row in sqlx::query("SELECT course_id, person_id, role, joined_at FROM members").fetch_all(&mut *conn).await? {
        let role: String = row.try_get("role")?;
        let member = Member {
            role: Role::parse(&role).ok_or_else(|| corrupt("role", &role))?,
            joined_at: from_ms(row.try_get("joined_at")?)?,
        };
        if let Some(c) = state.course_mut(&CourseId(row.try_get("course_id")?)) {
            c.members.insert(PersonId(row.try_get("person_id")?), member);
        }
    }
    let syllabi = sqlx::query(
        "SELECT s.course_id, s.source FROM syllabi s \
         WHERE s.version = (SELECT MAX(version) FROM syllabi t WHERE t.course_id = s.course_id)",
    )
    .fetch_all(&mut *conn)
    .await?;
    for row in syllabi {
        let source: String = row.try_get("source")?;
        let syllabus = Syllabus::parse(&source).map_err(|e| corrupt("syllabus", e))?;
        if let Some(c) = state.course_mut(&CourseId(row.try_get("course_id")?)) {
            c.syllabus = Some(syllabus);
        }
    }
    for row in
        sqlx::query("SELECT course_id, week, prompt_at, posted_at, late FROM weeks").fetch_all(&mut *conn).await?
    {
        let opened = OpenedWeek {
            prompt_at: from_ms(row.try_get("prompt_at")?)?,
            posted_at: from_ms(row.try_get("posted_at")?)?,
            late: row.try_get::<i64, _>("late")? != 0,
        };
        if let Some(c) = state.course_mut(&CourseId(row.try_get("course_id")?)) {
            c.opened.insert(week(row.try_get("week")?)?, opened);
        }
    }
    let submissions = sqlx::query(
        "SELECT s.id, s.course_id, s.week, s.person_id, s.first_at, s.late, s.revisions, s.latest_at, r.body \
         FROM submissions s JOIN submission_revisions r ON r.submission_id = s.id AND r.revision = s.revisions",
    )
    .fetch_all(&mut *conn)
    .await?;
    for row in submissions {
        let id = SubmissionId(row.try_get("id")?);
        let author = PersonId(row.try_get("person_id")?);
        let w = week(row.try_get("week")?)?;
        let revisions: i64 = row.try_get("revisions")?;
        let submission = Submission {
            id,
            week: w,
            author,
            first_at: from_ms(row.try_get("first_at")?)?,
            late: row.try_get::<i64, _>("late")? != 0,
            revisions: u32::try_from(revisions).map_err(|_| corrupt("revisions", revisions))?,
            latest_at: from_ms(row.try_get("latest_at")?)?,
            body: row.try_get("body")?,
        };
        state.last_submission = state.last_submission.max(id.0);
        if let Some(c) = state.course_mut(&CourseId(row.try_get("course_id")?)) {
            c.insert_submission(submission);
        }
    }
    for row in sqlx::query("SELECT about, about_id, kind, week, due_at FROM jobs").fetch_all(&mut *conn).await? {
        let kind: String = row.try_get("kind")?;
        let about: String = row.try_get("about")?;
        let key = JobKey {
            about: About::parse(&about, row.try_get("about_id")?).ok_or_else(|| corrupt("job subject", &about))?,
            kind: JobKind::parse(&kind).ok_or_else(|| corrupt("job kind", &kind))?,
            week: week(row.try_get("week")?)?,
        };
        let due = from_ms(row.try_get("due_at")?)?;
        state.jobs.insert(key, due);
        state.due.insert((due, key));
    }
    for row in sqlx::query("SELECT course_id, week, paired_at FROM pairings").fetch_all(&mut *conn).await? {
        if let Some(c) = state.course_mut(&CourseId(row.try_get("course_id")?)) {
            c.paired.insert(week(row.try_get("week")?)?, from_ms(row.try_get("paired_at")?)?);
        }
    }
    let assignments = sqlx::query(
        "SELECT id, course_id, week, submission_id, author_id, reviewer_id, role, assigned_at, due_at, status, reminders, \
         last_reminder FROM assignments ORDER BY id",
    )
    .fetch_all(&mut *conn)
    .await?;
    for row in assignments {
        let role: String = row.try_get("role")?;
        let status: String = row.try_get("status")?;
        let reminders: i64 = row.try_get("reminders")?;
        let a = Assignment {
            id: AssignmentId(row.try_get("id")?),
            week: week(row.try_get("week")?)?,
            submission: SubmissionId(row.try_get("submission_id")?),
            author: PersonId(row.try_get("author_id")?),
            reviewer: PersonId(row.try_get("reviewer_id")?),
            role: ReviewerRole::parse(&role).ok_or_else(|| corrupt("reviewer role", &role))?,
            assigned_at: from_ms(row.try_get("assigned_at")?)?,
            due: from_ms(row.try_get("due_at")?)?,
            status: AssignmentStatus::parse(&status).ok_or_else(|| corrupt("assignment status", &status))?,
            reminders: u32::try_from(reminders).map_err(|_| corrupt("reminders", reminders))?,
            last_reminder: row.try_get::<Option<i64>, _>("last_reminder")?.map(from_ms).transpose()?,
        };
        let course = CourseId(row.try_get("course_id")?);
        state.assignment_courses.insert(a.id, course);
        if let Some(c) = state.course_mut(&course) {
            c.insert_assignment(a);
        }
    }
    let reviews = sqlx::query(
        "SELECT r.assignment_id, a.course_id, r.feedback, r.score, r.revisions, r.first_at, r.latest_at, r.anonymous \
         FROM reviews r JOIN assignments a ON a.id = r.assignment_id",
    )
    .fetch_all(&mut *conn)
    .await?;
    for row in reviews {
        let score: Option<i64> = row.try_get("score")?;
        let revisions: i64 = row.try_get("revisions")?;
        let review = Review {
            feedback: row.try_get("feedback")?,
            score: score.map(|s| u8::try_from(s).map_err(|_| corrupt("score", s))).transpose()?,
            revisions: u32::try_from(revisions).map_err(|_| corrupt("revisions", revisions))?,
            first_at: from_ms(row.try_get("first_at")?)?,
            latest_at: from_ms(row.try_get("latest_at")?)?,
            anonymous: row.try_get::<i64, _>("anonymous")? != 0,
        };
        if let Some(c) = state.course_mut(&CourseId(row.try_get("course_id")?)) {
            c.reviews.insert(AssignmentId(row.try_get("assignment_id")?), review);
        }
    }
    // Revocations first: an award's id counts the revocations before it.
    for row in sqlx::query(
        "SELECT course_id, badge, person_id, awarded_at, reason, revoked_by, revoked_at FROM revocations \
         ORDER BY awarded_at, revoked_at",
    )
    .fetch_all(&mut *conn)
    .await?
    {
        let badge: String = row.try_get("badge")?;
        let badge = Slug::parse(&badge).map_err(|e| corrupt("badge", e))?;
        let course = CourseId(row.try_get("course_id")?);
        let person = PersonId(row.try_get("person_id")?);
        let awarded_at = from_ms(row.try_get("awarded_at")?)?;
        let Some(c) = state.course(&course) else { continue };
        // Each revoked award's id counted the revocations before it (loaded in their order).
        let round = c.revocations.get(&(badge.clone(), person)).map_or(0, Vec::len);
        let revocation = facilitator_bot::state::Revocation {
            assertion: facilitator_bot::badges::assertion_id(c.seed, course, &badge, person, awarded_at, round),
            awarded_at,
            reason: row.try_get("reason")?,
            by: PersonId(row.try_get("revoked_by")?),
            at: from_ms(row.try_get("revoked_at")?)?,
        };
        state.insert_revocation(course, badge, person, revocation);
    }
    for row in sqlx::query("SELECT course_id, badge, person_id, reason, awarded_by, awarded_at FROM awards")
        .fetch_all(&mut *conn)
        .await?
    {
        let badge: String = row.try_get("badge")?;
        let badge = Slug::parse(&badge).map_err(|e| corrupt("badge", e))?;
        state.insert_award(
            CourseId(row.try_get("course_id")?),
            badge,
            PersonId(row.try_get("person_id")?),
            row.try_get("reason")?,
            row.try_get::<Option<i64>, _>("awarded_by")?.map(PersonId),
            from_ms(row.try_get("awarded_at")?)?,
        );
    }
    for row in sqlx::query("SELECT course_id, badge, nominee_id, nominator_id, reason FROM nominations")
        .fetch_all(&mut *conn)
        .await?
    {
        let badge: String = row.try_get("badge")?;
        let badge = Slug::parse(&badge).map_err(|e| corrupt("badge", e))?;
        if let Some(c) = state.course_mut(&CourseId(row.try_get("course_id")?)) {
            c.nominations
                .entry((badge, PersonId(row.try_get("nominee_id")?)))
                .or_default()
                .insert(PersonId(row.try_get("nominator_id")?), row.try_get("reason")?);
        }
    }
    Ok(state)
}
