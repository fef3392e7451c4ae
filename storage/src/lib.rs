//! Facilitator's storage: the domain's changes and the effect outbox in SQL, on SQLite (the
//! default) or PostgreSQL, through one code path (sqlx's `Any` driver).
//!
//! - [`Store::open`] connects and runs the migrations for the backend the URL names.
//! - [`Store::load_state`] rebuilds the domain [`State`] at start.
//! - [`Store::begin`] opens a [`Batch`]: inbound events claimed, changes written and effects
//!   queued in one transaction, so a crash leaves either all of a command or none of it.
//! - The outbox ([`Store::pending_effects`], [`Store::complete_effects`]) is what the executor
//!   drains; effects are stored before they are performed, each with its idempotency key.

mod load;
mod write;

use std::str::FromStr;

use chrono::{DateTime, Utc};
use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::{AnyPool, Executor, Row};

pub use facilitator_bot::State;
use facilitator_bot::{Effect, PersonId};
pub use write::{Batch, Committed};

/// Storage failures.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database refused or failed.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// A migration failed.
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// Stored data the code cannot read (written by a newer version, or edited by hand).
    #[error("unreadable stored data: {0}")]
    Corrupt(String),
    /// A URL that names no supported backend.
    #[error("unsupported database URL '{0}': use sqlite://PATH or postgres://...")]
    UnsupportedUrl(String),
}

/// Result alias.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Which database.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// A single file, one process.
    Sqlite,
    /// A server.
    Postgres,
}

impl Backend {
    /// The backend a URL names.
    ///
    /// # Errors
    /// When it names neither.
    pub fn of_url(url: &str) -> Result<Backend> {
        if url.starts_with("sqlite:") {
            Ok(Backend::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Backend::Postgres)
        } else {
            Err(StoreError::UnsupportedUrl(url.chars().take(40).collect()))
        }
    }
}

/// What a platform room belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RoomOwner {
    /// A course's room.
    Course(facilitator_bot::CourseId),
    /// A school's space or category.
    School(facilitator_bot::SchoolId),
}

/// A stored room mapping.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoomRow {
    pub owner: RoomOwner,
    /// Platform name.
    pub platform: String,
    /// The platform's room id.
    pub room: String,
}

/// The platform thread a week's prompt opened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ThreadRow {
    pub course: facilitator_bot::CourseId,
    pub week: u32,
    /// Platform name.
    pub platform: String,
    /// The room the thread lives in (on Discord, the thread's own channel).
    pub room: String,
    /// The thread's root message.
    pub root: String,
}

/// An effect waiting in the outbox.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutboxRow {
    /// Position in the outbox (effects are performed in this order).
    pub id: i64,
    /// Idempotency key.
    pub key: String,
    /// The effect.
    pub effect: Effect,
    /// Tries so far.
    pub attempts: i64,
    /// Its delivery lane: order is kept within a lane, lanes take turns.
    pub lane: String,
}

/// The lane of effects that create rooms and spaces. Everything queued after a pending one
/// waits for it (a post or an invitation needs its room), so it is a barrier for every lane.
pub const ROOMS_LANE: &str = "rooms";

/// The delivery lane an effect belongs to when the caller names none: its course's room, the
/// person it is for, or the rooms lane. Replies go to the room they answer, which only the
/// runtime can name ([`crate::Batch::enqueue_in_lane`]); without it they share one lane.
pub fn default_lane(effect: &Effect) -> String {
    match effect {
        // Joining a room is like making one: what is said there after must wait for it. A
        // refusal holds nothing back.
        Effect::CreateCourseRoom { .. }
        | Effect::CreateSchoolSpace { .. }
        | Effect::AnswerInvite { accept: true, .. } => ROOMS_LANE.to_owned(),
        Effect::AnswerInvite { accept: false, .. } => "invites".to_owned(),
        Effect::SetTopic { course, .. }
        | Effect::SetRole { course, .. }
        | Effect::Invite { course, .. }
        | Effect::Post { course, .. } => format!("course:{}", course.0),
        Effect::Direct { person, .. } | Effect::LoginLink { person } | Effect::EndSessions { person } => {
            format!("person:{}", person.0)
        }
        Effect::Reply { .. } => "replies".to_owned(),
    }
}

/// Outbox states.
const PENDING: i64 = 0;
const DONE: i64 = 1;
const FAILED: i64 = 2;

/// A connection pool to the database.
#[derive(Debug, Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
}

pub(crate) fn ms(at: DateTime<Utc>) -> i64 {
    at.timestamp_millis()
}

pub(crate) fn from_ms(value: i64) -> Result<DateTime<Utc>> {
    DateTime::from_timestamp_millis(value).ok_or_else(|| StoreError::Corrupt(format!("time {value} out of range")))
}

impl Store {
    /// Connects to `url` (`sqlite://PATH`, `sqlite::memory:`, `postgres://...`) and migrates.
    ///
    /// SQLite runs in WAL mode with `synchronous=NORMAL` (a commit survives a process crash; a
    /// power cut may lose the last moments, never corrupt the file) on one connection: the
    /// runtime is the only writer, and one connection never meets `SQLITE_BUSY`.
    ///
    /// # Errors
    /// When the database cannot be reached or migrated.
    pub async fn open(url: &str) -> Result<Store> {
        install_default_drivers();
        let backend = Backend::of_url(url)?;
        let pool = match backend {
            Backend::Sqlite => {
                restrict_sqlite_file(url);
                let url = sqlite_url(url);

                AnyPoolOptions::new()
                    .max_connections(1)
                    .after_connect(|conn, _| {
                        Box::pin(async move {
                            conn.execute("PRAGMA journal_mode = WAL").await?;
                            conn.execute("PRAGMA synchronous = NORMAL").await?;
                            conn.execute("PRAGMA busy_timeout = 5000").await?;
                            conn.execute("PRAGMA foreign_keys = ON").await?;
                            Ok(())
                        })
                    })
                    .connect(&url)
                    .await?
            }
            Backend::Postgres => AnyPoolOptions::new().max_connections(8).connect(url).await?,
        };
        let store = Store { pool, backend };
        store.migrate().await?;
        Ok(store)
    }

    /// Runs pending migrations.
    ///
    /// # Errors
    /// When a migration fails.
    pub async fn migrate(&self) -> Result<()> {
        match self.backend {
            Backend::Sqlite => sqlx::migrate!("../migrations/sqlite").run(&self.pool).await?,
            Backend::Postgres => sqlx::migrate!("../migrations/postgres").run(&self.pool).await?,
        }
        Ok(())
    }

    /// The backend.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The pool, for the benchmark's raw-insert ceiling and for tests.
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Closes the pool.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Rebuilds the domain state from the database.
    ///
    /// # Errors
    /// On a database failure or unreadable data.
    pub async fn load_state(&self) -> Result<State> {
        let mut conn = self.pool.acquire().await?;
        load::state(&mut conn).await
    }

    /// The generation of the stored state (see [`Batch::generation`]).
    ///
    /// # Errors
    /// On a database failure.
    pub async fn generation(&self) -> Result<i64> {
        Ok(sqlx::query("SELECT value FROM generation WHERE id = 1").fetch_one(&self.pool).await?.try_get("value")?)
    }

    /// Opens a write transaction.
    ///
    /// # Errors
    /// When the database cannot start one.
    pub async fn begin(&self, now: DateTime<Utc>) -> Result<Batch> {
        Batch::begin(&self.pool, self.backend, now).await
    }

    /// Up to `limit` effects not yet performed, oldest first.
    ///
    /// # Errors
    /// On a database failure or an unreadable effect.
    pub async fn pending_effects(&self, after_id: i64, limit: i64) -> Result<Vec<OutboxRow>> {
        let rows = sqlx::query(
            "SELECT id, key, payload, attempts, lane FROM outbox WHERE state = $1 AND id > $2 ORDER BY id LIMIT $3",
        )
        .bind(PENDING)
        .bind(after_id)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Self::outbox_rows(&rows)
    }

    /// Pending effects in turns: the first of every lane (in the order they were queued), then
    /// the second of every lane, and so on, at most `per_lane` of each and `limit` in all.
    ///
    /// # Errors
    /// On a database failure or an unreadable effect.
    pub async fn pending_effects_fairly(&self, per_lane: i64, limit: i64) -> Result<Vec<OutboxRow>> {
        let rows = sqlx::query(
            // The turns are numbered and the pass chosen over the (state, lane, id) index alone;
            // only the rows chosen are read whole, so a long queue (in one lane or in many) costs
            // an index scan, not its payloads.
            "SELECT o.id, o.key, o.payload, o.attempts, o.lane FROM ( \
               SELECT id, turn FROM ( \
                 SELECT id, ROW_NUMBER() OVER (PARTITION BY lane ORDER BY id) AS turn \
                 FROM outbox WHERE state = $1 \
               ) w WHERE turn <= $2 ORDER BY turn, id LIMIT $3 \
             ) t JOIN outbox o ON o.id = t.id ORDER BY t.turn, t.id",
        )
        .bind(PENDING)
        .bind(per_lane)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Self::outbox_rows(&rows)
    }

    fn outbox_rows(rows: &[sqlx::any::AnyRow]) -> Result<Vec<OutboxRow>> {
        rows.iter()
            .map(|row| {
                let payload: String = row.try_get("payload")?;
                let effect =
                    serde_json::from_str(&payload).map_err(|e| StoreError::Corrupt(format!("outbox effect: {e}")))?;
                Ok(OutboxRow {
                    id: row.try_get("id")?,
                    key: row.try_get("key")?,
                    effect,
                    attempts: row.try_get("attempts")?,
                    lane: row.try_get("lane")?,
                })
            })
            .collect()
    }

    /// Marks effects performed.
    ///
    /// # Errors
    /// On a database failure.
    pub async fn complete_effects(&self, ids: &[i64], at: DateTime<Utc>) -> Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        // Ids are integers, so writing them into the statement cannot inject anything; one
        // statement per round instead of one per effect.
        let mut tx = self.pool.begin().await?;
        if self.backend == Backend::Postgres {
            // The deliverer marks each effect as soon as it is sent: without waiting for the
            // WAL flush, this costs a round trip instead of a disk sync. The bot dying cannot
            // lose the mark (the server has it); only the server crashing in the next moment
            // could, and then the effect is sent again, with its idempotency key.
            sqlx::query("SET LOCAL synchronous_commit TO OFF").execute(&mut *tx).await?;
        }
        for chunk in ids.chunks(500) {
            let list: Vec<String> = chunk.iter().map(i64::to_string).collect();
            let sql = format!("UPDATE outbox SET state = $1, done_at = $2 WHERE id IN ({})", list.join(", "));
            sqlx::query(sqlx::AssertSqlSafe(sql)).bind(DONE).bind(ms(at)).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Records a failed attempt; `give_up` marks the effect failed for good.
    ///
    /// # Errors
    /// On a database failure.
    pub async fn fail_effect(&self, id: i64, error: &str, give_up: bool, at: DateTime<Utc>) -> Result<()> {
        let mut conn = self.pool.acquire().await?;
        fail_effect(&mut conn, id, error, give_up, at).await
    }

    /// Counts outbox rows by state: (pending, done, failed).
    ///
    /// # Errors
    /// On a database failure.
    pub async fn outbox_counts(&self) -> Result<(i64, i64, i64)> {
        let rows = sqlx::query("SELECT state, COUNT(*) AS n FROM outbox GROUP BY state").fetch_all(&self.pool).await?;
        let mut counts = (0, 0, 0);
        for row in rows {
            let state: i64 = row.try_get("state")?;
            let n: i64 = row.try_get("n")?;
            match state {
                PENDING => counts.0 = n,
                DONE => counts.1 = n,
                _ => counts.2 = n,
            }
        }
        Ok(counts)
    }

    /// Every stored room.
    ///
    /// # Errors
    /// On a database failure or unreadable data.
    pub async fn rooms(&self) -> Result<Vec<RoomRow>> {
        let mut conn = self.pool.acquire().await?;
        rooms(&mut conn).await
    }

    /// The issuer's signing key (id 1): the stored one, or `fresh` stored first when there is
    /// none. Instances starting together agree: the first insert wins and every one reads it.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn signing_key(&self, algorithm: &str, fresh: &str, now: DateTime<Utc>) -> Result<String> {
        sqlx::query(
            "INSERT INTO signing_keys (id, algorithm, secret, created_at) VALUES (1, $1, $2, $3) ON CONFLICT (id) DO NOTHING",
        )
        .bind(algorithm.to_owned())
        .bind(fresh.to_owned())
        .bind(now.timestamp_millis())
        .execute(&self.pool)
        .await?;
        let row = sqlx::query("SELECT secret FROM signing_keys WHERE id = 1 AND algorithm = $1")
            .bind(algorithm.to_owned())
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get("secret")?)
    }

    /// Whether the database answers.
    ///
    /// # Errors
    /// When it does not.
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// Every stored week thread.
    ///
    /// # Errors
    /// On a database failure or unreadable data.
    pub async fn threads(&self) -> Result<Vec<ThreadRow>> {
        let mut conn = self.pool.acquire().await?;
        threads(&mut conn).await
    }

    /// Takes, or confirms, the right to perform effects. Only one process on a database
    /// delivers at a time, so effects go out once and in order: on PostgreSQL the holder keeps
    /// a session advisory lock on a connection of its own (released by the server when the
    /// process dies); on SQLite the lock file already keeps a second process out.
    ///
    /// # Errors
    /// On a database failure.
    pub async fn hold_delivery(&self, held: &mut Option<DeliveryLock>) -> Result<bool> {
        if self.backend == Backend::Sqlite {
            return Ok(true);
        }
        if let Some(lock) = held.as_mut().filter(|l| l.locked) {
            if sqlx::query("SELECT 1").execute(&mut lock.conn).await.is_ok() {
                return Ok(true);
            }
            // The connection (and the lock with it) is gone.
            *held = None;
        }
        // A standby keeps its connection between tries instead of opening one every time.
        let lock = match held {
            Some(lock) => lock,
            None => held.insert(DeliveryLock { conn: self.pool.acquire().await?.detach(), locked: false }),
        };
        let tried =
            sqlx::query("SELECT pg_try_advisory_lock($1) AS held").bind(DELIVERY_LOCK).fetch_one(&mut lock.conn).await;
        match tried {
            Ok(row) => {
                lock.locked = row.try_get::<bool, _>("held")?;
                Ok(lock.locked)
            }
            Err(e) => {
                *held = None;
                Err(e.into())
            }
        }
    }

    /// Forgets what is kept only for a while: effects delivered (or given up) before `before`
    /// (every direct message and review text the bot sent sits in the outbox until then) and
    /// inbound claims older than `before`. Pending effects are never touched. Returns how many
    /// effects and claims were removed.
    ///
    /// # Errors
    /// On a database failure.
    pub async fn prune(&self, before: DateTime<Utc>) -> Result<(u64, u64)> {
        let effects = sqlx::query("DELETE FROM outbox WHERE state <> $1 AND done_at IS NOT NULL AND done_at < $2")
            .bind(PENDING)
            .bind(ms(before))
            .execute(&self.pool)
            .await?;
        let inbound = self.prune_inbound(before).await?;
        for sql in ["DELETE FROM web_logins WHERE expires_at < $1", "DELETE FROM web_sessions WHERE expires_at < $1"] {
            sqlx::query(sql).bind(ms(before)).execute(&self.pool).await?;
        }
        Ok((effects.rows_affected(), inbound))
    }

    /// Stores a one-time sign-in link (the SHA-256 of its secret) for `person`, valid until
    /// `expires`.
    ///
    /// # Errors
    /// On a database failure.
    pub async fn create_login(
        &self,
        token_hash: &str,
        person: PersonId,
        now: DateTime<Utc>,
        expires: DateTime<Utc>,
    ) -> Result<()> {
        self.insert_secret(
            "INSERT INTO web_logins (token_hash, person_id, created_at, expires_at) VALUES ($1, $2, $3, $4)",
            token_hash,
            person,
            (now, expires),
        )
        .await
    }

    async fn insert_secret(
        &self,
        sql: &'static str,
        token_hash: &str,
        person: PersonId,
        (now, expires): (DateTime<Utc>, DateTime<Utc>),
    ) -> Result<()> {
        sqlx::query(sql)
            .bind(token_hash.to_owned())
            .bind(person.0)
            .bind(ms(now))
            .bind(ms(expires))
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Uses a sign-in link: its person, if it exists, has not expired and was not used before
    /// (then it never works again). One statement, so two browsers racing get one session.
    ///
    /// # Errors
    /// On a database failure.
    pub async fn redeem_login(&self, token_hash: &str, now: DateTime<Utc>) -> Result<Option<PersonId>> {
        let row = sqlx::query(
            "UPDATE web_logins SET used_at = $1 WHERE token_hash = $2 AND used_at IS NULL AND expires_at > $1 RETURNING person_id",
        )
        .bind(ms(now))
        .bind(token_hash.to_owned())
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|r| r.try_get("person_id")).transpose()?.map(PersonId))
    }

    /// Opens a session (the SHA-256 of its cookie's secret) for `person` until `expires`.
    ///
    /// # Errors
    /// On a database failure.
    pub async fn create_session(
        &self,
        token_hash: &str,
        person: PersonId,
        now: DateTime<Utc>,
        expires: DateTime<Utc>,
    ) -> Result<()> {
        self.insert_secret(
            "INSERT INTO web_sessions (token_hash, person_id, created_at, expires_at) VALUES ($1, $2, $3, $4)",
            token_hash,
            person,
            (now, expires),
        )
        .await
    }

    /// The person a live session is for.
    ///
    /// # Errors
    /// On a database failure.
    pub async fn session(&self, token_hash: &str, now: DateTime<Utc>) -> Result<Option<PersonId>> {
        let row = sqlx::query("SELECT person_id FROM web_sessions WHERE token_hash = $1 AND expires_at > $2")
            .bind(token_hash.to_owned())
            .bind(ms(now))
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| r.try_get("person_id")).transpose()?.map(PersonId))
    }

    /// Ends every session and unused sign-in link of `person`; how many sessions ended.
    ///
    /// # Errors
    /// On a database failure.
    pub async fn end_sessions(&self, person: PersonId) -> Result<u64> {
        sqlx::query("DELETE FROM web_logins WHERE person_id = $1").bind(person.0).execute(&self.pool).await?;
        let ended =
            sqlx::query("DELETE FROM web_sessions WHERE person_id = $1").bind(person.0).execute(&self.pool).await?;
        Ok(ended.rows_affected())
    }

    /// Forgets handled inbound event ids older than `before` (they will not be replayed).
    ///
    /// # Errors
    /// On a database failure.
    pub async fn prune_inbound(&self, before: DateTime<Utc>) -> Result<u64> {
        let done =
            sqlx::query("DELETE FROM inbound WHERE received_at < $1").bind(ms(before)).execute(&self.pool).await?;
        Ok(done.rows_affected())
    }
}

/// The advisory lock key of effect delivery ("FACILITAT" in ASCII, truncated to fit).
const DELIVERY_LOCK: i64 = 0x4641_4349_4c49_5441;

/// The right to deliver effects, held while this value lives and [`DeliveryLock::is_held`]
/// (see [`Store::hold_delivery`]); a standby keeps one to try again on the same connection.
#[derive(Debug)]
pub struct DeliveryLock {
    conn: sqlx::AnyConnection,
    locked: bool,
}

impl DeliveryLock {
    /// Whether this connection holds the lock.
    pub fn is_held(&self) -> bool {
        self.locked
    }
}

async fn rooms(conn: &mut sqlx::AnyConnection) -> Result<Vec<RoomRow>> {
    let rows =
        sqlx::query("SELECT owner_kind, owner_id, platform, room FROM rooms ORDER BY owner_kind, owner_id, platform")
            .fetch_all(&mut *conn)
            .await?;
    rows.iter()
        .map(|row| {
            let kind: String = row.try_get("owner_kind")?;
            let id: i64 = row.try_get("owner_id")?;
            let owner = match kind.as_str() {
                "course" => RoomOwner::Course(facilitator_bot::CourseId(id)),
                "school" => RoomOwner::School(facilitator_bot::SchoolId(id)),
                other => return Err(StoreError::Corrupt(format!("room owner kind '{other}'"))),
            };
            Ok(RoomRow { owner, platform: row.try_get("platform")?, room: row.try_get("room")? })
        })
        .collect()
}

async fn threads(conn: &mut sqlx::AnyConnection) -> Result<Vec<ThreadRow>> {
    let rows = sqlx::query(
        "SELECT course_id, week, platform, room, root FROM week_threads ORDER BY course_id, week, platform",
    )
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|row| {
            let week: i64 = row.try_get("week")?;
            Ok(ThreadRow {
                course: facilitator_bot::CourseId(row.try_get("course_id")?),
                week: u32::try_from(week).map_err(|_| StoreError::Corrupt(format!("thread week {week}")))?,
                platform: row.try_get("platform")?,
                room: row.try_get("room")?,
                root: row.try_get("root")?,
            })
        })
        .collect()
}

/// Everything the runtime keeps in memory, read in one go (see [`Batch::snapshot`]).
#[derive(Debug)]
pub struct Snapshot {
    /// The domain state.
    pub state: State,
    pub rooms: Vec<RoomRow>,
    /// Week threads.
    pub threads: Vec<ThreadRow>,
}

pub(crate) async fn snapshot(conn: &mut sqlx::AnyConnection) -> Result<Snapshot> {
    Ok(Snapshot { state: load::state(conn).await?, rooms: rooms(conn).await?, threads: threads(conn).await? })
}

/// `sqlite://PATH` with `mode=rwc` so a new file is created.
/// The database holds private messages and reviews: its file is created readable by the bot's
/// user only (0600), and an existing one is narrowed to that. SQLite gives its `-wal` and `-shm`
/// files the database file's permissions.
fn restrict_sqlite_file(url: &str) {
    let Some(path) = sqlite_path(url) else { return };
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        if !path.exists() {
            let _ = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&path);
        }
        if let Err(e) = std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)) {
            tracing::warn!(path = %path.display(), error = %e, "could not make the database file private (0600)");
        }
    }
    #[cfg(not(unix))]
    let _ = path;
}

/// The file of a `sqlite://PATH` or `sqlite:PATH` URL (none for an in-memory database).
fn sqlite_path(url: &str) -> Option<std::path::PathBuf> {
    let rest = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or_default();
    if path.is_empty() || path.contains(":memory:") || url.contains("mode=memory") {
        return None;
    }
    Some(std::path::PathBuf::from(path))
}

fn sqlite_url(url: &str) -> String {
    if url.contains("memory") || url.contains("mode=") {
        return url.to_owned();
    }
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}mode=rwc")
}

impl FromStr for Backend {
    type Err = StoreError;
    fn from_str(s: &str) -> Result<Self> {
        Backend::of_url(s)
    }
}

/// Records a failed attempt at an effect; `give_up` marks it failed for good.
pub(crate) async fn fail_effect(
    conn: &mut sqlx::AnyConnection,
    id: i64,
    error: &str,
    give_up: bool,
    at: DateTime<Utc>,
) -> Result<()> {
    let error: String = error.chars().take(1000).collect();
    sqlx::query("UPDATE outbox SET attempts = attempts + 1, last_error = $1, state = $2, done_at = $3 WHERE id = $4")
        .bind(error)
        .bind(if give_up { FAILED } else { PENDING })
        .bind(give_up.then(|| ms(at)))
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}
