//! One write transaction: inbound events claimed, domain changes written, effects queued.

use chrono::{DateTime, Utc};
use std::collections::BTreeSet;

use sqlx::{Any, AnyPool, AssertSqlSafe, Row, Transaction};

use facilitator_bot::state::{About, Change, CourseSettings};
use facilitator_bot::{CourseId, Effect};

use crate::{Backend, PENDING, Result, Snapshot, StoreError, ms};

/// Rows per multi-row INSERT (5 parameters each, well under every backend's limit).
const ROWS_PER_INSERT: usize = 150;

/// A write transaction. Dropping it without [`Batch::commit`] rolls everything back.
///
/// Inbound claims and queued effects are buffered and written at commit as multi-row inserts:
/// they depend on nothing else in the transaction, and one statement for a whole batch costs
/// far less than one per command.
#[derive(Debug)]
pub struct Batch {
    tx: Transaction<'static, Any>,
    now: DateTime<Utc>,
    claims: BTreeSet<String>,
    effects: Vec<(String, String, String)>,
    effect_keys: BTreeSet<String>,
    generation: i64,
    changed: bool,
}

/// What a committed batch stored.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Committed {
    /// Effects newly queued (a key queued before is not queued again).
    pub effects: u64,
    /// The generation of the stored state after this batch.
    pub generation: i64,
}

impl Batch {
    /// Opens the transaction and reads the generation. On PostgreSQL the generation row is
    /// locked until commit, so batches of every instance on the database run one at a time,
    /// each on the state the one before it left.
    pub(crate) async fn begin(pool: &AnyPool, backend: Backend, now: DateTime<Utc>) -> Result<Batch> {
        let mut tx = pool.begin().await?;
        let sql = match backend {
            Backend::Postgres => "SELECT value FROM generation WHERE id = 1 FOR UPDATE",
            Backend::Sqlite => "SELECT value FROM generation WHERE id = 1",
        };
        let generation: i64 = sqlx::query(sql).fetch_one(&mut *tx).await?.try_get("value")?;
        Ok(Batch {
            tx,
            now,
            claims: BTreeSet::new(),
            effects: Vec::new(),
            effect_keys: BTreeSet::new(),
            generation,
            changed: false,
        })
    }

    /// The generation of the stored state this batch starts from. A process whose memory
    /// reflects another generation reloads it with [`Batch::snapshot`] before deciding.
    pub fn generation(&self) -> i64 {
        self.generation
    }

    /// Reads the whole stored state, rooms and threads, inside this batch's transaction.
    ///
    /// # Errors
    /// On a database failure or unreadable data.
    pub async fn snapshot(&mut self) -> Result<Snapshot> {
        crate::snapshot(&mut self.tx).await
    }

    /// Claims platform events for handling: for each key, `true` if it is new, `false` if it was
    /// handled before (a replay) or is claimed twice in this batch. One query for all keys.
    ///
    /// When two processes claim one key at once, the second to commit fails on the unique key
    /// and its whole batch rolls back, so an event is never acted on twice.
    ///
    /// # Errors
    /// On a database failure.
    pub async fn claim_inbound(&mut self, keys: &[String]) -> Result<Vec<bool>> {
        let mut seen: BTreeSet<String> = BTreeSet::new();
        for chunk in keys.chunks(ROWS_PER_INSERT) {
            let placeholders: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
            let sql = format!("SELECT key FROM inbound WHERE key IN ({})", placeholders.join(", "));
            let mut query = sqlx::query(AssertSqlSafe(sql));
            for key in chunk {
                query = query.bind(key.clone());
            }
            for row in query.fetch_all(&mut *self.tx).await? {
                seen.insert(row.try_get("key")?);
            }
        }
        Ok(keys.iter().map(|key| !seen.contains(key) && self.claims.insert(key.clone())).collect())
    }

    /// Queues an effect under its idempotency key (written at commit; a key queued before is
    /// not queued again).
    ///
    /// # Errors
    /// When the effect cannot be serialised.
    pub fn enqueue(&mut self, key: &str, effect: &Effect) -> Result<()> {
        self.enqueue_in_lane(key, effect, &crate::default_lane(effect))
    }

    /// [`Batch::enqueue`] in a named delivery lane (the room a reply goes to).
    ///
    /// # Errors
    /// When the effect cannot be serialised.
    pub fn enqueue_in_lane(&mut self, key: &str, effect: &Effect, lane: &str) -> Result<()> {
        if !self.effect_keys.insert(key.to_owned()) {
            return Ok(());
        }
        let payload = serde_json::to_string(effect).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        self.effects.push((key.to_owned(), payload, lane.to_owned()));
        Ok(())
    }

    /// Stores the platform room of a course or school, as the executor reported it made: a new
    /// generation, so other instances pick the room up before their next decision.
    ///
    /// # Errors
    /// On a database failure.
    pub async fn set_room(&mut self, row: &crate::RoomRow) -> Result<()> {
        self.changed = true;
        let (kind, id) = match row.owner {
            crate::RoomOwner::Course(c) => ("course", c.0),
            crate::RoomOwner::School(s) => ("school", s.0),
        };
        sqlx::query(
            "INSERT INTO rooms (owner_kind, owner_id, platform, room) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (owner_kind, owner_id, platform) DO UPDATE SET room = excluded.room",
        )
        .bind(kind)
        .bind(id)
        .bind(row.platform.clone())
        .bind(row.room.clone())
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    /// Stores the thread a week's prompt opened on a platform (a new generation).
    ///
    /// # Errors
    /// On a database failure.
    pub async fn set_thread(&mut self, row: &crate::ThreadRow) -> Result<()> {
        self.changed = true;
        sqlx::query(
            "INSERT INTO week_threads (course_id, week, platform, room, root) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (course_id, week, platform) DO UPDATE SET room = excluded.room, root = excluded.root",
        )
        .bind(row.course.0)
        .bind(i64::from(row.week))
        .bind(row.platform.clone())
        .bind(row.room.clone())
        .bind(row.root.clone())
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    /// Marks a queued effect failed for good, in the same transaction as what is decided
    /// about the failure (so the decision is neither lost nor made twice).
    ///
    /// # Errors
    /// On a database failure.
    pub async fn give_up_effect(&mut self, id: i64, error: &str) -> Result<()> {
        crate::fail_effect(&mut self.tx, id, error, true, self.now).await
    }

    /// Writes the buffered claims and effects, and commits.
    ///
    /// # Errors
    /// When a write or the commit fails (nothing of the batch is stored then).
    pub async fn commit(mut self) -> Result<Committed> {
        let now = ms(self.now);
        let claims: Vec<String> = std::mem::take(&mut self.claims).into_iter().collect();
        for chunk in claims.chunks(ROWS_PER_INSERT) {
            let values: Vec<String> = (0..chunk.len()).map(|i| format!("(${}, ${})", 2 * i + 1, 2 * i + 2)).collect();
            let sql = format!("INSERT INTO inbound (key, received_at) VALUES {}", values.join(", "));
            let mut query = sqlx::query(AssertSqlSafe(sql));
            for key in chunk {
                query = query.bind(key.clone()).bind(now);
            }
            query.execute(&mut *self.tx).await?;
        }
        let mut committed = Committed::default();
        let effects = std::mem::take(&mut self.effects);
        for chunk in effects.chunks(ROWS_PER_INSERT) {
            let values: Vec<String> = (0..chunk.len())
                .map(|i| format!("(${}, ${}, ${}, 0, ${}, ${})", 5 * i + 1, 5 * i + 2, 5 * i + 3, 5 * i + 4, 5 * i + 5))
                .collect();
            let sql = format!(
                "INSERT INTO outbox (key, payload, state, attempts, created_at, lane) VALUES {} ON CONFLICT (key) DO NOTHING",
                values.join(", ")
            );
            let mut query = sqlx::query(AssertSqlSafe(sql));
            for (key, payload, lane) in chunk {
                query = query.bind(key.clone()).bind(payload.clone()).bind(PENDING).bind(now).bind(lane.clone());
            }
            committed.effects += query.execute(&mut *self.tx).await?.rows_affected();
        }
        committed.generation = self.generation;
        if self.changed {
            committed.generation = next_generation(&mut self.tx).await?;
        }
        self.tx.commit().await?;
        Ok(committed)
    }

    /// Writes one domain change.
    ///
    /// # Errors
    /// On a database failure.
    pub async fn apply(&mut self, change: &Change) -> Result<()> {
        self.changed = true;
        let now = ms(self.now);
        let tx = &mut *self.tx;
        match change {
            Change::PersonRegistered { person, account, name } => {
                sqlx::query("INSERT INTO persons (id, name, tz, created_at) VALUES ($1, $2, NULL, $3) ON CONFLICT (id) DO NOTHING")
                    .bind(person.0)
                    .bind(name.clone())
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query(
                    "INSERT INTO accounts (platform, handle, person_id) VALUES ($1, $2, $3) \
                     ON CONFLICT (platform, handle) DO UPDATE SET person_id = excluded.person_id",
                )
                .bind(account.platform.clone())
                .bind(account.handle.clone())
                .bind(person.0)
                .execute(&mut *tx)
                .await?;
            }
            Change::PersonZoneSet { person, zone } => {
                sqlx::query("UPDATE persons SET tz = $1 WHERE id = $2")
                    .bind(zone.name())
                    .bind(person.0)
                    .execute(&mut *tx)
                    .await?;
            }
            Change::PersonRenamed { person, name } => {
                sqlx::query("UPDATE persons SET name = $1 WHERE id = $2")
                    .bind(name.clone())
                    .bind(person.0)
                    .execute(&mut *tx)
                    .await?;
            }
            Change::ProfileSet { person, public } => {
                sqlx::query("UPDATE persons SET public = $1 WHERE id = $2")
                    .bind(i64::from(*public))
                    .bind(person.0)
                    .execute(&mut *tx)
                    .await?;
            }
            Change::BadgeEmailSet { person, email } => {
                sqlx::query("UPDATE persons SET badge_email = $1 WHERE id = $2")
                    .bind(email.as_ref().map(|e| e.as_str().to_owned()))
                    .bind(person.0)
                    .execute(&mut *tx)
                    .await?;
            }
            Change::AdminSet { person, admin } => {
                sqlx::query("UPDATE persons SET admin = $1 WHERE id = $2")
                    .bind(i64::from(*admin))
                    .bind(person.0)
                    .execute(&mut *tx)
                    .await?;
            }
            Change::SchoolCreated { school, slug, name } => {
                sqlx::query("INSERT INTO schools (id, slug, name, created_at) VALUES ($1, $2, $3, $4)")
                    .bind(school.0)
                    .bind(slug.to_string())
                    .bind(name.clone())
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
            }
            Change::CourseCreated { course, slug, settings, created_by, at, seed } => {
                sqlx::query(
                    "INSERT INTO courses (id, slug, title, school_id, cycle, start_date, weeks, tz, prompt_cron, deadline_seconds, \
                     status, status_at, created_at, created_by, seed) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'active', $11, $11, $12, $13)",
                )
                .bind(course.0)
                .bind(slug.to_string())
                .bind(settings.title.clone())
                .bind(settings.school.map(|s| s.0))
                .bind(settings.cycle.clone())
                .bind(settings.start.format("%Y-%m-%d").to_string())
                .bind(i64::from(settings.weeks))
                .bind(settings.zone.name())
                .bind(settings.prompt.source().to_owned())
                .bind(i64::from(settings.deadline.total_seconds()))
                .bind(ms(*at))
                .bind(created_by.0)
                .bind(*seed as i64)
                .execute(&mut *tx)
                .await?;
                update_settings(tx, *course, settings).await?;
            }
            Change::CourseSettingsChanged { course, settings } => update_settings(tx, *course, settings).await?,
            Change::CourseStatusChanged { course, status, at } => {
                sqlx::query("UPDATE courses SET status = $1, status_at = $2 WHERE id = $3")
                    .bind(status.as_str())
                    .bind(ms(*at))
                    .bind(course.0)
                    .execute(&mut *tx)
                    .await?;
            }
            Change::MemberSet { course, person, role, at } => {
                sqlx::query(
                    "INSERT INTO members (course_id, person_id, role, joined_at) VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (course_id, person_id) DO UPDATE SET role = excluded.role, joined_at = excluded.joined_at",
                )
                .bind(course.0)
                .bind(person.0)
                .bind(role.as_str())
                .bind(ms(*at))
                .execute(&mut *tx)
                .await?;
            }
            Change::MemberRemoved { course, person } => {
                sqlx::query("DELETE FROM members WHERE course_id = $1 AND person_id = $2")
                    .bind(course.0)
                    .bind(person.0)
                    .execute(&mut *tx)
                    .await?;
            }
            Change::SyllabusLoaded { course, syllabus, by, at } => {
                sqlx::query(
                    "INSERT INTO syllabi (course_id, version, source, loaded_by, loaded_at) \
                     SELECT $1, COALESCE(MAX(version), 0) + 1, $2, $3, $4 FROM syllabi WHERE course_id = $1",
                )
                .bind(course.0)
                .bind(syllabus.source.clone())
                .bind(by.0)
                .bind(ms(*at))
                .execute(&mut *tx)
                .await?;
            }
            Change::WeekOpened { course, week, opened } => {
                sqlx::query(
                    "INSERT INTO weeks (course_id, week, prompt_at, posted_at, late) VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(course.0)
                .bind(i64::from(*week))
                .bind(ms(opened.prompt_at))
                .bind(ms(opened.posted_at))
                .bind(i64::from(opened.late))
                .execute(&mut *tx)
                .await?;
            }
            Change::JobsPlanned { course, jobs } => {
                let (about, about_id) = About::Course(*course).stored();
                sqlx::query("DELETE FROM jobs WHERE about = $1 AND about_id = $2 AND kind = 'prompt'")
                    .bind(about)
                    .bind(about_id)
                    .execute(&mut *tx)
                    .await?;
                for (key, at) in jobs {
                    let (about, about_id) = key.about.stored();
                    sqlx::query("INSERT INTO jobs (about, about_id, kind, week, due_at) VALUES ($1, $2, $3, $4, $5)")
                        .bind(about)
                        .bind(about_id)
                        .bind(key.kind.as_str())
                        .bind(i64::from(key.week))
                        .bind(ms(*at))
                        .execute(&mut *tx)
                        .await?;
                }
            }
            Change::JobDone { job } => {
                let (about, about_id) = job.about.stored();
                sqlx::query("DELETE FROM jobs WHERE about = $1 AND about_id = $2 AND kind = $3 AND week = $4")
                    .bind(about)
                    .bind(about_id)
                    .bind(job.kind.as_str())
                    .bind(i64::from(job.week))
                    .execute(&mut *tx)
                    .await?;
            }
            Change::SubmissionRecorded { submission, course, week, author, body, at, late, revision } => {
                sqlx::query(
                    "INSERT INTO submissions (id, course_id, week, person_id, first_at, late, revisions, latest_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $5) \
                     ON CONFLICT (id) DO UPDATE SET revisions = excluded.revisions, latest_at = excluded.latest_at",
                )
                .bind(submission.0)
                .bind(course.0)
                .bind(i64::from(*week))
                .bind(author.0)
                .bind(ms(*at))
                .bind(i64::from(*late))
                .bind(i64::from(*revision))
                .execute(&mut *tx)
                .await?;
                sqlx::query("INSERT INTO submission_revisions (submission_id, revision, body, submitted_at, late) VALUES ($1, $2, $3, $4, $5)")
                    .bind(submission.0)
                    .bind(i64::from(*revision))
                    .bind(body.clone())
                    .bind(ms(*at))
                    .bind(i64::from(*late))
                    .execute(&mut *tx)
                    .await?;
            }
            Change::JobScheduled { job, due } => {
                let (about, about_id) = job.about.stored();
                sqlx::query(
                    "INSERT INTO jobs (about, about_id, kind, week, due_at) VALUES ($1, $2, $3, $4, $5) \
                     ON CONFLICT (about, about_id, kind, week) DO UPDATE SET due_at = excluded.due_at",
                )
                .bind(about)
                .bind(about_id)
                .bind(job.kind.as_str())
                .bind(i64::from(job.week))
                .bind(ms(*due))
                .execute(&mut *tx)
                .await?;
            }
            Change::WeekPaired { course, week, at } => {
                sqlx::query("INSERT INTO pairings (course_id, week, paired_at) VALUES ($1, $2, $3)")
                    .bind(course.0)
                    .bind(i64::from(*week))
                    .bind(ms(*at))
                    .execute(&mut *tx)
                    .await?;
            }
            Change::AssignmentMade { course, assignment: a } => {
                sqlx::query(
                    "INSERT INTO assignments (id, course_id, week, submission_id, author_id, reviewer_id, role, assigned_at, due_at, \
                     status, reminders, last_reminder) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
                )
                .bind(a.id.0)
                .bind(course.0)
                .bind(i64::from(a.week))
                .bind(a.submission.0)
                .bind(a.author.0)
                .bind(a.reviewer.0)
                .bind(a.role.as_str())
                .bind(ms(a.assigned_at))
                .bind(ms(a.due))
                .bind(a.status.as_str())
                .bind(i64::from(a.reminders))
                .bind(a.last_reminder.map(ms))
                .execute(&mut *tx)
                .await?;
            }
            Change::AssignmentExpired { assignment, .. } => {
                sqlx::query("UPDATE assignments SET status = 'expired' WHERE id = $1 AND status = 'open'")
                    .bind(assignment.0)
                    .execute(&mut *tx)
                    .await?;
            }
            Change::RemindersSent { assignments, at, .. } => {
                for id in assignments {
                    sqlx::query("UPDATE assignments SET reminders = reminders + 1, last_reminder = $1 WHERE id = $2")
                        .bind(ms(*at))
                        .bind(id.0)
                        .execute(&mut *tx)
                        .await?;
                }
            }
            Change::ReviewRecorded { assignment, feedback, score, at, revision, anonymous, .. } => {
                sqlx::query("UPDATE assignments SET status = 'done' WHERE id = $1")
                    .bind(assignment.0)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query(
                    "INSERT INTO reviews (assignment_id, feedback, score, revisions, first_at, latest_at, anonymous) VALUES ($1, $2, $3, $4, $5, $5, $6) \
                     ON CONFLICT (assignment_id) DO UPDATE SET feedback = excluded.feedback, score = excluded.score, \
                     revisions = excluded.revisions, latest_at = excluded.latest_at",
                )
                .bind(assignment.0)
                .bind(feedback.clone())
                .bind(score.map(i64::from))
                .bind(i64::from(*revision))
                .bind(ms(*at))
                .bind(i64::from(*anonymous))
                .execute(&mut *tx)
                .await?;
                sqlx::query("INSERT INTO review_revisions (assignment_id, revision, feedback, score, written_at) VALUES ($1, $2, $3, $4, $5)")
                    .bind(assignment.0)
                    .bind(i64::from(*revision))
                    .bind(feedback.clone())
                    .bind(score.map(i64::from))
                    .bind(ms(*at))
                    .execute(&mut *tx)
                    .await?;
            }
            Change::BadgeAwarded { course, badge, person, reason, by, at } => {
                sqlx::query(
                    "INSERT INTO awards (course_id, badge, person_id, reason, awarded_by, awarded_at) VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(course.0)
                .bind(badge.to_string())
                .bind(person.0)
                .bind(reason.clone())
                .bind(by.map(|p| p.0))
                .bind(ms(*at))
                .execute(&mut *tx)
                .await?;
            }
            Change::BadgeRevoked { course, badge, person, reason, by, at } => {
                // The award's own time goes with it: it names the revoked assertion.
                sqlx::query(
                    "INSERT INTO revocations (course_id, badge, person_id, awarded_at, reason, revoked_by, revoked_at) \
                     SELECT course_id, badge, person_id, awarded_at, $4, $5, $6 FROM awards \
                     WHERE course_id = $1 AND badge = $2 AND person_id = $3",
                )
                .bind(course.0)
                .bind(badge.to_string())
                .bind(person.0)
                .bind(reason.clone())
                .bind(by.0)
                .bind(ms(*at))
                .execute(&mut *tx)
                .await?;
                sqlx::query("DELETE FROM awards WHERE course_id = $1 AND badge = $2 AND person_id = $3")
                    .bind(course.0)
                    .bind(badge.to_string())
                    .bind(person.0)
                    .execute(&mut *tx)
                    .await?;
            }
            Change::BadgeNominated { course, badge, nominee, nominator, reason, at } => {
                sqlx::query(
                    "INSERT INTO nominations (course_id, badge, nominee_id, nominator_id, reason, nominated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(course.0)
                .bind(badge.to_string())
                .bind(nominee.0)
                .bind(nominator.0)
                .bind(reason.clone())
                .bind(ms(*at))
                .execute(&mut *tx)
                .await?;
            }
        }
        Ok(())
    }
}

/// Adds one to the generation, in the caller's transaction; returns the new value.
pub(crate) async fn next_generation(tx: &mut sqlx::AnyConnection) -> Result<i64> {
    sqlx::query("UPDATE generation SET value = value + 1 WHERE id = 1").execute(&mut *tx).await?;
    Ok(sqlx::query("SELECT value FROM generation WHERE id = 1").fetch_one(&mut *tx).await?.try_get("value")?)
}

async fn update_settings(tx: &mut sqlx::AnyConnection, course: CourseId, settings: &CourseSettings) -> Result<()> {
    sqlx::query(
        "UPDATE courses SET title = $1, school_id = $2, cycle = $3, start_date = $4, weeks = $5, tz = $6, \
         prompt_cron = $7, deadline_seconds = $8, reviews = $9, review_seconds = $10, lease_seconds = $11, anonymous = $12, \
         threads = $13, public = $14 WHERE id = $15",
    )
    .bind(settings.title.clone())
    .bind(settings.school.map(|s| s.0))
    .bind(settings.cycle.clone())
    .bind(settings.start.format("%Y-%m-%d").to_string())
    .bind(i64::from(settings.weeks))
    .bind(settings.zone.name())
    .bind(settings.prompt.source().to_owned())
    .bind(i64::from(settings.deadline.total_seconds()))
    .bind(i64::from(settings.reviews))
    .bind(i64::from(settings.review_window.total_seconds()))
    .bind(i64::from(settings.lease.total_seconds()))
    .bind(i64::from(settings.anonymous))
    .bind(i64::from(settings.threads))
    .bind(i64::from(settings.public))
    .bind(course.0)
    .execute(tx)
    .await?;
    Ok(())
}
