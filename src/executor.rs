//! The executor: performs queued effects through the adapters, in outbox order.
//!
//! Each effect was stored with an idempotency key before this runs; the key (with the platform
//! appended) goes to the adapter, so performing an effect again after a crash does not repeat
//! it on the platform. A retryable failure (rate limit, network) holds the queue so effects stay
//! in order; a permanent one (forbidden, not found) is logged with the effect and reported to
//! the engine, which marks it failed and lets the domain decide who needs to know.
//!
//! The executor writes no state: what an effect made (a room, a week's thread) is reported to
//! the engine ([`crate::report`]), which stores it; the effect is marked done once it is stored.
//! Until then the executor remembers the rooms it made itself, so the rest of the pass can use
//! them without waiting for the engine. It keeps only the outbox's delivery marks (attempts,
//! done).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use anyhow::Result;
use tracing::{debug, error, info, warn};

use facilitator_bot::{Effect, WeekThread};
use facilitator_chat::{
    AdapterError, AdapterErrorKind, ChatAdapter, CourseRole, MessageRef, Platform, RoomRef, RoomSpec,
};
use facilitator_storage::{Backend, DeliveryLock, OutboxRow, ROOMS_LANE, RoomOwner, Store};

use crate::adapters::Adapters;
use crate::clock::Clock;
use crate::directory::Directory;
use crate::engine::ReplyTarget;
use crate::ops::Metrics;
use crate::render::render;
use crate::report::{Ack, Report, Reporter};

/// How often an instance that does not deliver checks whether the deliverer is gone.
const STANDBY_RETRY: Duration = Duration::from_secs(2);

/// Tries before an effect that keeps failing with retryable errors is given up.
pub const MAX_ATTEMPTS: i64 = 8;

/// Effects read per delivery pass.
const PASS: i64 = 256;
/// At most this many effects of one lane per pass.
const PER_LANE: i64 = 32;

/// How performing an effect went, over every platform.
enum Performed {
    /// Done on every platform (or given up on some while done on others).
    Done,
    /// A platform asked to try again later.
    Retry(AdapterError),
    /// Failed for good on every platform.
    GaveUp(AdapterError),
}

/// What one round of delivery did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Delivered {
    /// Effects performed.
    pub sent: usize,
    /// Effects given up.
    pub failed: usize,
    /// Set when the queue is held by a retryable failure: try again after this long.
    pub retry_in: Option<Duration>,
}

/// The executor.
#[derive(Debug)]
pub struct Executor {
    store: Store,
    adapters: Adapters,
    directory: Arc<RwLock<Directory>>,
    reporter: Reporter,
    clock: Arc<dyn Clock>,
    metrics: Arc<Metrics>,
    delivery: tokio::sync::Mutex<Option<DeliveryLock>>,
    delivers: std::sync::atomic::AtomicBool,
    /// Lanes waiting after a retryable failure, until when.
    held: std::sync::Mutex<HashMap<String, Instant>>,
    /// Platforms an effect is already done on while another platform is retried.
    partial: std::sync::Mutex<HashMap<i64, BTreeSet<Platform>>>,
    /// Rooms made in this pass and reported, until the engine has stored them.
    made: std::sync::Mutex<BTreeMap<(RoomOwner, Platform), RoomRef>>,
    /// The engine's answers still to come, by outbox row (and the room each one is about).
    unanswered: std::sync::Mutex<Vec<Pending>>,
    /// The web face's public origin, for links to its pages.
    web: Option<String>,
}

/// A report handed to the engine whose answer the executor has not seen yet.
#[derive(Debug)]
struct Pending {
    row: i64,
    room: Option<(RoomOwner, Platform)>,
    ack: Ack,
}

impl Executor {
    /// An executor over the engine's store and directory, reporting to the engine through
    /// `reporter` ([`crate::engine::Engine::reporter`]).
    pub fn new(
        store: Store,
        adapters: Adapters,
        directory: Arc<RwLock<Directory>>,
        reporter: Reporter,
        clock: Arc<dyn Clock>,
    ) -> Executor {
        Executor {
            store,
            adapters,
            directory,
            reporter,
            clock,
            metrics: Arc::default(),
            delivery: tokio::sync::Mutex::new(None),
            delivers: std::sync::atomic::AtomicBool::new(false),
            held: std::sync::Mutex::default(),
            partial: std::sync::Mutex::default(),
            made: std::sync::Mutex::default(),
            unanswered: std::sync::Mutex::default(),
            web: None,
        }
    }

    /// Links to the web face's pages under this public origin (`[web] public_url`).
    #[must_use]
    pub fn with_web(mut self, origin: Option<String>) -> Executor {
        self.web = origin;
        self
    }

    /// Counts into these metrics (the engine's, so one scrape shows both).
    #[must_use]
    pub fn with_metrics(mut self, metrics: Arc<Metrics>) -> Executor {
        self.metrics = metrics;
        self
    }

    /// Whether this executor holds the right to deliver (see [`Store::hold_delivery`]).
    pub fn delivers(&self) -> bool {
        self.delivers.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Performs queued effects until the queue is empty or held by a retryable failure.
    ///
    /// # Errors
    /// On a storage failure.
    pub async fn deliver_pending(&self) -> Result<Delivered> {
        let total = self.deliver_pending_uncounted().await?;
        self.metrics.effects(total.sent, total.failed, usize::from(total.retry_in.is_some()));
        Ok(total)
    }

    async fn deliver_pending_uncounted(&self) -> Result<Delivered> {
        let mut total = Delivered::default();
        // One deliverer per database: another instance holds the right while it lives.
        let mut held = self.delivery.lock().await;
        let was_held = held.as_ref().is_some_and(DeliveryLock::is_held);
        let holds = self.store.hold_delivery(&mut held).await?;
        self.delivers.store(holds, std::sync::atomic::Ordering::Relaxed);
        if !holds {
            total.retry_in = Some(STANDBY_RETRY);
            return Ok(total);
        }
        if !was_held && held.as_ref().is_some_and(DeliveryLock::is_held) {
            info!("this instance now delivers the effects of every instance on the database");
        }
        // With other instances waiting to take over, each effect is marked done as soon as it
        // is performed, so a successor repeats at most the one in flight.
        let one_by_one = self.store.backend() == Backend::Postgres;
        loop {
            // Lanes take turns: the first effect of every lane, then the second, and so on.
            let mut rows = self.store.pending_effects_fairly(PER_LANE, PASS).await?;
            if rows.is_empty() {
                return Ok(total);
            }
            // Rooms first (a stable sort keeps each lane's order): what follows may be said in them.
            rows.sort_by_key(|r| r.lane != ROOMS_LANE);
            let mut blocked: BTreeSet<String> = {
                let mut holds = self.holds();
                let now = Instant::now();
                holds.retain(|_, until| *until > now);
                holds.keys().cloned().collect()
            };
            let mut progressed = false;
            let mut done = Vec::with_capacity(rows.len());
            // A room not made in this pass holds everything queued after it, in every lane; so
            // does the last room read when more rooms may be queued than were read (the lane's
            // share was full, or the pass was cut short: a later room may then be unread while
            // what is said in it, first in its own lane, was read).
            let rooms_read: Vec<i64> = rows.iter().filter(|r| r.lane == ROOMS_LANE).map(|r| r.id).collect();
            let lanes: BTreeMap<i64, (String, i64)> =
                rows.iter().map(|r| (r.id, (r.lane.clone(), r.attempts))).collect();
            let all_rooms_read = (rooms_read.len() as i64) < PER_LANE && (rows.len() as i64) < PASS;
            let mut barrier = if all_rooms_read { None } else { rooms_read.iter().copied().max() };
            for row in rows {
                let room_lane = row.lane == ROOMS_LANE;
                if !room_lane && barrier.is_some_and(|b| row.id > b) {
                    blocked.insert(row.lane.clone());
                }
                // Order within a lane: nothing of a lane goes past its held effect.
                if blocked.contains(&row.lane) {
                    if room_lane {
                        barrier = Some(barrier.map_or(row.id, |b| b.min(row.id)));
                    }
                    continue;
                }
                match self.perform(&row).await {
                    Performed::Done => {
                        progressed = true;
                        if one_by_one {
                            if self.answered(&[row.id]).await.is_empty() {
                                self.store.complete_effects(&[row.id], self.clock.now()).await?;
                                total.sent += 1;
                            } else {
                                self.report_unstored(&row, room_lane, &mut blocked, &mut barrier).await?;
                            }
                        } else {
                            done.push(row.id);
                        }
                    }
                    Performed::Retry(e) if row.attempts + 1 < MAX_ATTEMPTS || e.kind().is_rate_limit() => {
                        let wait = match e.kind() {
                            AdapterErrorKind::RateLimited { retry_after } => *retry_after,
                            _ => backoff(row.attempts),
                        };
                        warn!(effect = row.key, lane = row.lane, error = %e, attempt = row.attempts + 1, ?wait, "effect failed; its lane waits, the others go on");
                        blocked.insert(row.lane.clone());
                        if room_lane {
                            barrier = Some(barrier.map_or(row.id, |b| b.min(row.id)));
                        }
                        self.holds().insert(row.lane.clone(), Instant::now() + wait);
                        // A rate limit is the platform asking to wait, not a failure of this
                        // effect: it costs no attempt.
                        if !e.kind().is_rate_limit() {
                            self.store.fail_effect(row.id, &e.to_string(), false, self.clock.now()).await?;
                        }
                    }
                    Performed::Retry(e) | Performed::GaveUp(e) => {
                        // The kind of effect only: its text may be a private message.
                        error!(effect = row.key, kind = effect_kind(&row.effect), error = %e, "effect failed for good; skipped");
                        // Were the report not stored, the effect is performed again on every
                        // platform (its key keeps that from doubling anything) and given up again.
                        self.partial().remove(&row.id);
                        let report = Report::GaveUp {
                            outbox: row.id,
                            key: row.key.clone(),
                            effect: row.effect.clone(),
                            error: e,
                        };
                        match self.reporter.report(report).await {
                            Ok(()) => {
                                progressed = true;
                                total.failed += 1;
                            }
                            Err(e) => {
                                warn!(effect = row.key, error = %e, "the failure could not be recorded; its lane waits");
                                blocked.insert(row.lane.clone());
                                self.holds().insert(row.lane.clone(), Instant::now() + backoff(row.attempts));
                            }
                        }
                    }
                }
            }
            // Done only once what the effects made is stored.
            let unstored = self.answered(&[]).await;
            if !unstored.is_empty() {
                done.retain(|id| !unstored.contains(id));
                warn!(effects = unstored.len(), "what some effects made was not stored; they are performed again");
                for id in &unstored {
                    // Its lane waits, as after any retryable failure.
                    if let Some((lane, attempts)) = lanes.get(id) {
                        self.holds().insert(lane.clone(), Instant::now() + backoff(*attempts));
                    }
                    self.store.fail_effect(*id, "what the effect made was not stored", false, self.clock.now()).await?;
                }
            }
            self.store.complete_effects(&done, self.clock.now()).await?;
            total.sent += done.len();
            if !progressed {
                // Everything pending waits on a held lane: come back when the first hold ends.
                let now = Instant::now();
                let next = self.holds().values().min().map(|until| until.saturating_duration_since(now));
                total.retry_in = Some(next.unwrap_or(Duration::from_millis(100)).max(Duration::from_millis(10)));
                return Ok(total);
            }
        }
    }

    /// Waits for the engine's answers to the reports of these rows (every row when empty), and
    /// returns the rows whose report could not be stored. The rooms they made are forgotten here
    /// either way: stored, they are in the directory; not, their effect is performed again.
    async fn answered(&self, rows: &[i64]) -> BTreeSet<i64> {
        let waiting: Vec<Pending> = {
            let mut unanswered = self.unanswered.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            if rows.is_empty() {
                std::mem::take(&mut *unanswered)
            } else {
                let (mine, others) = std::mem::take(&mut *unanswered).into_iter().partition(|p| rows.contains(&p.row));
                *unanswered = others;
                mine
            }
        };
        let mut unstored = BTreeSet::new();
        for Pending { row, room, ack } in waiting {
            if let Err(e) = ack.stored().await {
                warn!(outbox = row, error = %e, "the engine did not store what an effect made");
                unstored.insert(row);
            }
            if let Some(room) = room {
                self.made.lock().unwrap_or_else(std::sync::PoisonError::into_inner).remove(&room);
            }
        }
        unstored
    }

    /// After an effect's report was not stored (one effect at a time): its lane waits, and so
    /// does everything after it when it made a room.
    async fn report_unstored(
        &self,
        row: &OutboxRow,
        room_lane: bool,
        blocked: &mut BTreeSet<String>,
        barrier: &mut Option<i64>,
    ) -> Result<()> {
        blocked.insert(row.lane.clone());
        if room_lane {
            *barrier = Some(barrier.map_or(row.id, |b| b.min(row.id)));
        }
        self.holds().insert(row.lane.clone(), Instant::now() + backoff(row.attempts));
        self.store.fail_effect(row.id, "what the effect made was not stored", false, self.clock.now()).await?;
        Ok(())
    }

    /// Hands a report to the engine; the effect is marked done once the answer says stored.
    fn report_made(&self, row: i64, report: Report) -> Result<(), AdapterError> {
        let room = match &report {
            Report::RoomMade { owner, room } => {
                self.made
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .insert((*owner, room.platform()), room.clone());
                Some((*owner, room.platform()))
            }
            _ => None,
        };
        let ack = self.reporter.send(report)?;
        self.unanswered.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(Pending { row, room, ack });
        Ok(())
    }

    /// A course's room or a school's space on a platform: stored, or made in this pass.
    fn room(&self, owner: RoomOwner, platform: Platform) -> Option<RoomRef> {
        let stored = match owner {
            RoomOwner::Course(course) => self.directory().course_room(course, platform).cloned(),
            RoomOwner::School(school) => self.directory().school_room(school, platform).cloned(),
        };
        stored.or_else(|| {
            self.made.lock().unwrap_or_else(std::sync::PoisonError::into_inner).get(&(owner, platform)).cloned()
        })
    }

    fn holds(&self) -> std::sync::MutexGuard<'_, HashMap<String, Instant>> {
        self.held.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Where a direct message to `person` goes on `platform`: one per person, on the first
    /// platform they have an account on, so `None` on every other.
    fn direct_recipient(
        &self,
        person: facilitator_bot::PersonId,
        platform: Platform,
    ) -> Option<facilitator_chat::UserRef> {
        let dir = self.directory();
        let contact = dir.contact(person)?;
        let first = contact.accounts.keys().find(|p| self.adapters.get(**p).is_some()).copied();
        (first == Some(platform)).then(|| contact.accounts.get(&platform).cloned()).flatten()
    }

    fn directory(&self) -> std::sync::RwLockReadGuard<'_, Directory> {
        self.directory.read().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Performs an effect on every platform. Each platform is independent: one platform's
    /// permanent failure does not keep the effect from the others, and after a retryable
    /// failure the platforms already done are not asked again.
    async fn perform(&self, row: &OutboxRow) -> Performed {
        debug!(effect = row.key, "performing");
        let mut retry = None;
        let mut failed = Vec::new();
        let mut succeeded = 0;
        for adapter in self.adapters.iter() {
            let platform = adapter.platform();
            if self.partial().get(&row.id).is_some_and(|done| done.contains(&platform)) {
                succeeded += 1;
                continue;
            }
            match self.perform_on(row, adapter.as_ref()).await {
                Ok(()) => {
                    succeeded += 1;
                    self.partial().entry(row.id).or_default().insert(platform);
                }
                Err(e) if e.kind().is_retryable() => {
                    if retry.is_none() {
                        retry = Some(e);
                    }
                }
                Err(e) => {
                    warn!(effect = row.key, %platform, kind = effect_kind(&row.effect), error = %e, "effect failed for good on this platform; the others still get it");
                    self.partial().entry(row.id).or_default().insert(platform);
                    failed.push(e);
                }
            }
        }
        if let Some(e) = retry {
            return Performed::Retry(e);
        }
        self.partial().remove(&row.id);
        match failed.into_iter().next() {
            Some(e) if succeeded == 0 => Performed::GaveUp(e),
            _ => Performed::Done,
        }
    }

    fn partial(&self) -> std::sync::MutexGuard<'_, HashMap<i64, BTreeSet<Platform>>> {
        self.partial.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    async fn perform_on(&self, row: &OutboxRow, adapter: &dyn ChatAdapter) -> Result<(), AdapterError> {
        let platform = adapter.platform();
        let key = format!("{}@{platform}", row.key);
        {
            match &row.effect {
                Effect::CreateSchoolSpace { school, name } => {
                    if self.room(RoomOwner::School(*school), platform).is_some() {
                        return Ok(());
                    }
                    let room = adapter.create_space(name, &key).await?;
                    self.report_made(row.id, Report::RoomMade { owner: RoomOwner::School(*school), room })?;
                }
                Effect::CreateCourseRoom { course, school, slug, topic } => {
                    if self.room(RoomOwner::Course(*course), platform).is_some() {
                        return Ok(());
                    }
                    let parent = school.and_then(|s| self.room(RoomOwner::School(s), platform));
                    let spec = RoomSpec { name: slug.to_string(), topic: topic.clone(), parent };
                    let room = adapter.create_room(&spec, &key).await?;
                    self.report_made(row.id, Report::RoomMade { owner: RoomOwner::Course(*course), room })?;
                }
                Effect::SetTopic { course, topic } => {
                    let Some(room) = self.course_room(*course, platform) else { return Ok(()) };
                    adapter.set_topic(&room, topic).await?;
                }
                Effect::Invite { course, person } => {
                    let room = self.room(RoomOwner::Course(*course), platform);
                    let user = self.directory().contact(*person).and_then(|c| c.accounts.get(&platform).cloned());
                    if let (Some(room), Some(user)) = (room, user) {
                        adapter.invite(&room, &user).await?;
                    }
                }
                Effect::SetRole { course, person, role } => {
                    let room = self.room(RoomOwner::Course(*course), platform);
                    let user = self.directory().contact(*person).and_then(|c| c.accounts.get(&platform).cloned());
                    if let (Some(room), Some(user)) = (room, user) {
                        let role = role.map(|r| match r {
                            facilitator_bot::Role::Organizer => CourseRole::Organizer,
                            facilitator_bot::Role::Mentor => CourseRole::Mentor,
                            facilitator_bot::Role::Learner => CourseRole::Learner,
                        });
                        adapter.set_role(&room, &user, role).await?;
                    }
                }
                Effect::Post { course, text, thread } => {
                    let Some(room) = self.course_room(*course, platform) else { return Ok(()) };
                    let message = render(text, platform, &self.directory(), self.web.as_deref());
                    let posted = adapter.send(&room, &message, &key).await?;
                    if let Some(thread) = thread {
                        self.open_week_thread(adapter, row.id, *course, thread, &posted, &key).await?;
                    }
                }
                Effect::Direct { person, text } => {
                    let Some(user) = self.direct_recipient(*person, platform) else { return Ok(()) };
                    let message = render(text, platform, &self.directory(), self.web.as_deref());
                    adapter.send_direct(&user, &message, &key).await?;
                }
                Effect::LoginLink { person } => {
                    let Some(user) = self.direct_recipient(*person, platform) else { return Ok(()) };
                    let text = if self.web.is_some() {
                        let secret = crate::web::auth::mint()
                            .map_err(|e| AdapterError::new(AdapterErrorKind::Fatal, e.to_string()))?;
                        let now = self.clock.now();
                        self.store
                            .create_login(
                                &crate::web::auth::hash(&secret),
                                *person,
                                now,
                                now + crate::web::auth::LOGIN_VALID,
                            )
                            .await
                            .map_err(|e| {
                                AdapterError::new(AdapterErrorKind::Transient, format!("storing a sign-in link: {e}"))
                            })?;
                        facilitator_bot::Text::md("Your sign-in link to the dashboard: ")
                            .page(format!("/login/{secret}"), "sign in")
                            .push_md(". It works once, for 15 minutes; ")
                            .code("!dashboard logout")
                            .push_md(" signs you out everywhere.")
                    } else {
                        facilitator_bot::Text::md("This community has no web face, so there is no dashboard to sign into (a bot admin can set ")
                            .code("[web]")
                            .push_md(" in the configuration).")
                    };
                    let message = render(&text, platform, &self.directory(), self.web.as_deref());
                    adapter.send_direct(&user, &message, &key).await?;
                }
                Effect::EndSessions { person } => {
                    self.store
                        .end_sessions(*person)
                        .await
                        .map_err(|e| AdapterError::new(AdapterErrorKind::Transient, format!("ending sessions: {e}")))?;
                }
                Effect::AnswerInvite { invitation, accept } => {
                    let Some(room) = crate::engine::invitation_room(invitation) else {
                        return Err(AdapterError::new(AdapterErrorKind::InvalidInput, "unreadable invitation"));
                    };
                    // Only a platform with invitations reports them, so one without has none
                    // of its own to answer.
                    if room.platform() != platform {
                        return Ok(());
                    }
                    let Some(invitations) = adapter.invitations() else {
                        return Err(AdapterError::new(
                            AdapterErrorKind::InvalidInput,
                            "this platform has no invitations",
                        ));
                    };
                    invitations.answer_invite(&room, *accept).await?;
                }
                Effect::Reply { to, text, private } => {
                    let Some((target, thread)) = ReplyTarget::decode(to) else {
                        return Err(AdapterError::new(AdapterErrorKind::InvalidInput, "unreadable reply target"));
                    };
                    if target.room.platform() != platform {
                        return Ok(());
                    }
                    let mut message = render(text, platform, &self.directory(), self.web.as_deref());
                    message.private = *private;
                    let room = target.room.clone();
                    message.reply_to = Some(target);
                    message.thread = thread;
                    adapter.send(&room, &message, &key).await?;
                }
            }
        }
        Ok(())
    }

    /// Opens the thread of a week on its prompt, remembers it (a command said in it then counts
    /// for that week), and posts the thread's opening line in it. Every step is idempotent, so
    /// a retry after a failure in the middle finishes the job without doubling anything.
    async fn open_week_thread(
        &self,
        adapter: &dyn ChatAdapter,
        row: i64,
        course: facilitator_bot::CourseId,
        thread: &WeekThread,
        prompt: &MessageRef,
        key: &str,
    ) -> Result<(), AdapterError> {
        let handle = adapter.open_thread(prompt, &thread.name, &format!("{key}:thread")).await?;
        self.report_made(row, Report::ThreadOpened { course, week: thread.week, thread: handle.clone() })?;
        let mut opening = render(&thread.opening, handle.room.platform(), &self.directory(), self.web.as_deref());
        opening.thread = Some(handle.clone());
        adapter.send(&handle.room, &opening, &format!("{key}:opening")).await?;
        Ok(())
    }

    fn course_room(&self, course: facilitator_bot::CourseId, platform: Platform) -> Option<RoomRef> {
        let room = self.room(RoomOwner::Course(course), platform);
        if room.is_none() {
            warn!(%course, %platform, "the course has no room on this platform; skipped");
        }
        room
    }
}

/// 1 s, 2 s, 4 s ... up to a minute.
fn backoff(attempts: i64) -> Duration {
    Duration::from_secs(1u64 << attempts.clamp(0, 6)).min(Duration::from_secs(60))
}

/// The kind of an effect, for logs (never its text).
fn effect_kind(effect: &Effect) -> &'static str {
    match effect {
        Effect::CreateSchoolSpace { .. } => "create-school-space",
        Effect::CreateCourseRoom { .. } => "create-course-room",
        Effect::SetTopic { .. } => "set-topic",
        Effect::SetRole { .. } => "set-role",
        Effect::Invite { .. } => "invite",
        Effect::Post { .. } => "post",
        Effect::Direct { .. } => "direct",
        Effect::Reply { .. } => "reply",
        Effect::AnswerInvite { .. } => "answer-invite",
        Effect::LoginLink { .. } => "login-link",
        Effect::EndSessions { .. } => "end-sessions",
    }
}
