//! The engine: platform events and due jobs in, stored changes and queued effects out.
//!
//! It owns the domain [`State`] and the [`Store`]. For each batch of inbound events it claims
//! each event's platform id (a replay is skipped), resolves platform users and rooms to domain
//! ids, asks the domain to [`decide`], and writes the changes and the effects (each with an
//! idempotency key derived from the event) in one transaction. The executor performs the
//! effects afterwards. Many commands share one transaction, so throughput does not stop at the
//! database's commit rate.

use std::collections::{BTreeMap, BTreeSet};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, RwLock};

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tracing::{debug, error, info, info_span, warn};

use facilitator_bot::command::{self, Mention};
use facilitator_bot::{
    Account, Change, CommandInput, Ctx, Decision, Effect, Input, Invitation, PersonId, Place, ReplyTo, State, Text,
    decide,
};
use facilitator_chat::{ChatAdapter, ChatEvent, MessageRef, Platform, RoomRef, UserLookup, UserRef};
use facilitator_storage::{RoomRow, Store, ThreadRow};

use crate::adapters::Adapters;
use crate::budget::{BudgetConfig, Budgets, Verdict};
use crate::clock::Clock;
use crate::directory::Directory;
use crate::ops::{Metrics, Tally};
use crate::report::{Report, Reported, Reporter, Reports};
use crate::snapshot::{Publisher, Snapshot};
use tokio::sync::watch;

/// Bot admins from the config: platform user ids, optionally prefixed with the platform
/// (`@olga:example.org`, `discord:81234`, `olga`). When the engine opens ([`Engine::open`]) they
/// become people in the domain with the admin flag, and whoever is no longer listed loses it;
/// [`Admins::unchanged`] leaves the stored admins as they are (a command-line tool that runs
/// without the platforms).
#[derive(Clone, Debug)]
pub struct Admins(Option<BTreeSet<String>>);

impl Admins {
    /// From the configured list.
    pub fn new(list: impl IntoIterator<Item = String>) -> Admins {
        Admins(Some(list.into_iter().map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()).collect()))
    }

    /// The stored admins stay as they are.
    pub fn unchanged() -> Admins {
        Admins(None)
    }

    /// The accounts the list names on these platforms: `platform:id` on that platform, a full
    /// Matrix id (`@olga:example.org`) on Matrix, and an id without a platform on each platform
    /// where it can be one (digits on Discord, any name in memory).
    pub fn accounts(&self, platforms: &[Platform]) -> BTreeSet<Account> {
        let mut out = BTreeSet::new();
        let Some(entries) = &self.0 else { return out };
        let account = |platform: Platform, handle: &str| Account {
            platform: platform.as_str().to_owned(),
            handle: handle.to_owned(),
        };
        for entry in entries {
            if let Some((prefix, handle)) = entry.split_once(':')
                && let Some(platform) = Platform::parse(prefix)
            {
                out.insert(account(platform, handle));
                continue;
            }
            for &platform in platforms {
                let plausible = match platform {
                    Platform::Matrix => entry.starts_with('@') && entry.contains(':'),
                    Platform::Discord => entry.chars().all(|c| c.is_ascii_digit()),
                    _ => !entry.starts_with('@'),
                };
                if plausible {
                    out.insert(account(platform, entry));
                }
            }
        }
        out
    }
}

/// Where a reply goes, encoded into the domain's opaque [`ReplyTo`].
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct ReplyTarget {
    /// Platform name.
    pub platform: String,
    /// Room id.
    pub room: String,
    /// Message id.
    pub message: String,
    /// The thread the message was said in (room and root), so the answer stays there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thread: Option<(String, String)>,
}

/// A name as people show it on a platform, without invisible characters and at most 80
/// characters; none when nothing visible is left.
fn shown_name(name: &str) -> Option<String> {
    let name: String = name.chars().filter(|c| !facilitator_bot::ids::is_invisible(*c)).take(80).collect();
    (!name.trim().is_empty()).then_some(name)
}

/// The room of an invitation, encoded into the domain's opaque [`Invitation`].
fn invitation_of(room: &RoomRef) -> Invitation {
    Invitation(format!("{}:{}", room.platform().as_str(), room.raw()))
}

/// The room an invitation is into, if the token is one of ours.
pub fn invitation_room(invitation: &Invitation) -> Option<RoomRef> {
    let (platform, raw) = invitation.0.split_once(':')?;
    RoomRef::new(Platform::parse(platform)?, raw).ok()
}

impl ReplyTarget {
    fn encode(message: &MessageRef, thread: Option<&MessageRef>) -> ReplyTo {
        let target = ReplyTarget {
            platform: message.room.platform().as_str().to_owned(),
            room: message.room.raw().to_owned(),
            message: message.id.raw().to_owned(),
            thread: thread.map(|t| (t.room.raw().to_owned(), t.id.raw().to_owned())),
        };
        ReplyTo(serde_json::to_string(&target).expect("plain strings serialise"))
    }

    /// The message a reply answers and the thread it was said in, if the token is one of ours.
    pub fn decode(to: &ReplyTo) -> Option<(MessageRef, Option<MessageRef>)> {
        let t: ReplyTarget = serde_json::from_str(&to.0).ok()?;
        let platform = Platform::parse(&t.platform)?;
        let message = MessageRef {
            room: RoomRef::new(platform, &t.room).ok()?,
            id: facilitator_chat::ChatId::new(platform, &t.message).ok()?,
        };
        let thread = match t.thread {
            Some((room, id)) => Some(MessageRef {
                room: RoomRef::new(platform, &room).ok()?,
                id: facilitator_chat::ChatId::new(platform, &id).ok()?,
            }),
            None => None,
        };
        Some((message, thread))
    }
}

/// An inbound event the bot acts on, with its deduplication key.
#[derive(Clone)]
#[allow(clippy::large_enum_variant, reason = "moved a few times per batch; most events are commands")]
enum Prepared {
    Command {
        key: String,
        message: facilitator_chat::IncomingMessage,
        parsed: Result<facilitator_bot::Command, facilitator_bot::CommandError>,
        /// Names the platform was asked about before the batch (see `look_up_names`).
        looked_up: BTreeMap<Mention, UserLookup>,
    },
    Joined {
        key: String,
        course: facilitator_bot::CourseId,
        user: UserRef,
        name: String,
    },
}

impl Prepared {
    fn key(&self) -> &str {
        match self {
            Prepared::Command { key, .. } | Prepared::Joined { key, .. } => key,
        }
    }
}

/// The reply handle of commands typed at the command line, whose replies are printed rather
/// than sent.
const CLI_REPLY: &str = "cli";

/// What a batch did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    /// Inputs decided.
    pub decided: usize,
    /// Events skipped as replays.
    pub replays: usize,
    /// Effects queued.
    pub effects: usize,
}

/// Where the randomness the domain is given comes from.
#[derive(Debug, Clone)]
pub enum Entropy {
    /// Unpredictable (production).
    Random,
    /// A fixed sequence from a seed (the demo, tests, `--seed`): the same inputs give the same
    /// pairings.
    Seeded(facilitator_bot::rng::Rng),
}

impl Entropy {
    /// A fixed sequence from `seed`.
    pub fn seeded(seed: u64) -> Entropy {
        Entropy::Seeded(facilitator_bot::rng::Rng::new(seed))
    }

    fn next(&mut self) -> u64 {
        match self {
            Entropy::Random => {
                use std::hash::{BuildHasher, Hasher};
                // std's hasher keys are random per process and per call: enough for seeding
                // pairings, which need to differ between courses, not to be secret.
                let mut h = std::collections::hash_map::RandomState::new().build_hasher();
                h.write_u128(
                    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos()),
                );
                h.finish()
            }
            Entropy::Seeded(rng) => rng.next_u64(),
        }
    }
}

/// The engine.
#[derive(Debug)]
pub struct Engine {
    state: State,
    store: Store,
    directory: Arc<RwLock<Directory>>,
    admins: Admins,
    adapters: Adapters,
    entropy: Entropy,
    metrics: Arc<Metrics>,
    tally: Tally,
    /// The generation of the stored state that `state` reflects.
    generation: i64,
    /// Per-person command budgets (none: unlimited, as at the console).
    budgets: Option<Budgets>,
    /// What the executor reports back, and the end it reports through.
    reports: Reports,
    reporter: Reporter,
    /// The snapshots the web pages read.
    publisher: Publisher,
}

/// Most jobs run in one transaction.
const JOBS_PER_BATCH: usize = 500;

impl Engine {
    /// Loads the state and the room directory from the store.
    ///
    /// # Errors
    /// When the store cannot be read.
    pub async fn open(store: Store, admins: Admins, adapters: Adapters) -> Result<Engine> {
        // Read before the state: if another instance writes in between, the next batch sees a
        // newer generation and reloads, never the other way round.
        let generation = store.generation().await.context("reading the state's generation")?;
        let state = store.load_state().await.context("loading the state")?;
        let rooms = store.rooms().await.context("loading rooms")?;
        let threads = store.threads().await.context("loading week threads")?;
        let directory = Arc::new(RwLock::new(Directory::new(&rooms, &threads, &state)));
        let (reporter, reports) = crate::report::channel();
        let mut engine = Engine {
            state,
            store,
            directory,
            admins,
            adapters,
            entropy: Entropy::Random,
            metrics: Arc::default(),
            tally: Tally::default(),
            generation,
            budgets: None,
            reports,
            reporter,
            publisher: Publisher::default(),
        };
        engine.sync_admins(Utc::now()).await.context("storing the bot admins from the config")?;
        Ok(engine)
    }

    /// Makes the configured admins' accounts bot admins in the domain (registering people not
    /// met yet) and takes the flag from anyone no longer listed. Several instances may do this
    /// at once: it reads the state inside its batch, so the last one to start wins.
    async fn sync_admins(&mut self, now: DateTime<Utc>) -> Result<()> {
        if self.admins.0.is_none() {
            return Ok(());
        }
        let platforms: Vec<Platform> = self.adapters.iter().map(|a| a.platform()).collect();
        let accounts = self.admins.accounts(&platforms);
        let mut batch = self.begin(now).await?;
        let mut changes = Vec::new();
        let mut wanted = BTreeSet::new();
        for account in &accounts {
            // Until they speak, an admin is known by their id's local part, like a mentioned person.
            let short = account.handle.trim_start_matches('@').split(':').next().unwrap_or(&account.handle).to_owned();
            wanted.insert(self.person_for(&account.platform, &account.handle, &short, &mut changes));
        }
        let granted =
            wanted.iter().filter(|p| !self.state.is_admin(**p)).map(|p| Change::AdminSet { person: *p, admin: true });
        let revoked =
            self.state.admins().filter(|p| !wanted.contains(p)).map(|p| Change::AdminSet { person: p, admin: false });
        let sets: Vec<Change> = granted.chain(revoked).collect();
        let mut outcome = Outcome::default();
        let result = if sets.is_empty() && changes.is_empty() {
            Ok(())
        } else {
            info!(admins = wanted.len(), changed = sets.len(), "bot admins synced from the config");
            changes.extend(sets);
            self.commit_decision(&mut batch, Decision { changes, ..Decision::default() }, "admins", &mut outcome).await
        };
        self.finish(batch, result, outcome).await.map(|_| ())
    }

    /// The process's metrics (shared with the executor and the ops endpoints).
    pub fn metrics(&self) -> Arc<Metrics> {
        Arc::clone(&self.metrics)
    }

    /// Limits how many commands each person may send (see [`crate::budget`]).
    pub fn set_budget(&mut self, config: BudgetConfig) {
        self.budgets = Some(Budgets::new(config));
    }

    /// Sets where the domain's randomness comes from.
    pub fn set_entropy(&mut self, entropy: Entropy) {
        self.entropy = entropy;
    }

    /// The domain state.
    pub fn state(&self) -> &State {
        &self.state
    }

    /// Snapshots of the state for readers that must not wait for the engine (the web pages):
    /// the current one at once, then one after committed batches (see [`crate::snapshot`]).
    pub fn snapshots(&mut self) -> watch::Receiver<Arc<Snapshot>> {
        self.publisher.subscribe(&self.state, self.generation)
    }

    /// Publishes a snapshot if the state moved on and the last one is old enough; otherwise
    /// how long until one is due (`None`: nothing waits).
    pub fn publish_due(&mut self) -> Option<std::time::Duration> {
        self.publisher.publish_due(&self.state, self.generation, std::time::Instant::now())
    }

    /// The directory shared with the executor.
    pub fn directory(&self) -> Arc<RwLock<Directory>> {
        Arc::clone(&self.directory)
    }

    /// Where the executor reports what its effects did (see [`crate::report`]).
    pub fn reporter(&self) -> Reporter {
        self.reporter.clone()
    }

    /// The reports the executor has sent, once there is at least one (for a loop that also
    /// takes events): all that are waiting, so they are stored in one transaction.
    pub async fn next_reports(&mut self) -> Vec<Reported> {
        // The engine holds a sender itself, so the channel never closes.
        let first = std::future::poll_fn(|cx| self.reports.0.poll_recv(cx)).await.expect("the engine holds a sender");
        let mut all = vec![first];
        while let Ok(more) = self.reports.0.try_recv() {
            all.push(more);
        }
        all
    }

    /// Runs `work` (the executor delivering) while recording what it reports, for callers that
    /// drive the engine and the executor in one task.
    pub async fn serving_reports<F: std::future::Future>(&mut self, work: F, clock: &dyn Clock) -> F::Output {
        tokio::pin!(work);
        loop {
            tokio::select! {
                biased;
                out = &mut work => return out,
                reported = self.next_reports() => self.record(reported, clock.now()).await,
            }
        }
    }

    /// Stores what the executor reported, and answers it: a room or thread joins the directory;
    /// an effect given up is marked failed in the same transaction as what the domain decides
    /// about it (claimed under its key, so it is decided once). Several reports go into one
    /// transaction: stored together, or none of them.
    pub async fn record(&mut self, reported: Vec<Reported>, now: DateTime<Utc>) {
        let (reports, answers): (Vec<Report>, Vec<_>) = reported.into_iter().map(|r| (r.report, r.stored)).unzip();
        let result = async {
            let mut batch = self.begin(now).await?;
            let mut outcome = Outcome::default();
            let mut result = Ok(());
            for report in reports {
                result = self.record_in(&mut batch, report, now, &mut outcome).await;
                if result.is_err() {
                    break;
                }
            }
            self.finish(batch, result, outcome).await
        }
        .await;
        if let Err(e) = &result {
            error!(error = %format!("{e:#}"), "storing what the executor reported failed; it reports again");
        }
        let answer = result.map(|_| ()).map_err(|e| format!("{e:#}"));
        for stored in answers {
            // The executor may have given up waiting (shutdown): nothing to answer then.
            let _ = stored.send(answer.clone());
        }
    }

    async fn record_in(
        &mut self,
        batch: &mut facilitator_storage::Batch,
        report: Report,
        now: DateTime<Utc>,
        outcome: &mut Outcome,
    ) -> Result<()> {
        match report {
            Report::RoomMade { owner, room } => {
                let row = RoomRow { owner, platform: room.platform().as_str().to_owned(), room: room.raw().to_owned() };
                batch.set_room(&row).await?;
                self.directory.write().unwrap_or_else(std::sync::PoisonError::into_inner).set_room(owner, room);
            }
            Report::ThreadOpened { course, week, thread } => {
                let row = ThreadRow {
                    course,
                    week,
                    platform: thread.room.platform().as_str().to_owned(),
                    room: thread.room.raw().to_owned(),
                    root: thread.id.raw().to_owned(),
                };
                batch.set_thread(&row).await?;
                self.directory
                    .write()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .set_thread(course, week, thread);
            }
            Report::GaveUp { outbox, key, effect, error } => {
                let key = format!("gave-up:{key}");
                if batch.claim_inbound(std::slice::from_ref(&key)).await?.first().copied().unwrap_or(false) {
                    let failure = crate::report::failure_of(&error);
                    let decision = self.decide_safely(Input::EffectFailed { effect, failure }, now);
                    self.commit_decision(batch, decision, &key, outcome).await?;
                }
                batch.give_up_effect(outbox, &error.to_string()).await?;
            }
        }
        Ok(())
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// When the next job falls due.
    pub fn next_due(&self) -> Option<DateTime<Utc>> {
        self.state.next_due_time()
    }

    /// Handles inbound events in one transaction.
    ///
    /// # Errors
    /// On a storage failure; nothing of the batch is then stored, and the state is reloaded.
    pub async fn handle_events(&mut self, events: Vec<ChatEvent>, now: DateTime<Utc>) -> Result<Outcome> {
        let mut checkpoints: BTreeMap<Platform, String> = BTreeMap::new();
        let mut invites = Vec::new();
        let mut acted_on = Vec::with_capacity(events.len());
        for event in events {
            match event {
                ChatEvent::Checkpoint { platform, token } => {
                    checkpoints.insert(platform, token);
                }
                ChatEvent::Invited { room, inviter, is_direct } => invites.push((room, inviter, is_direct)),
                other => acted_on.push(other),
            }
        }
        // Invitations first: their answers (joining a room) go in the rooms lane, which holds
        // back everything queued after them, so a command said in a new direct room is
        // answered once the bot is in it.
        let mut invited = Outcome::default();
        if !invites.is_empty() {
            match self.decide_invites(std::mem::take(&mut invites), now).await {
                Ok(answered) => invited = answered,
                Err(e) => warn!(error = %format!("{e:#}"), "deciding on invitations failed; they are not answered"),
            }
        }
        // Only events the bot acts on are claimed: plain chat is not recorded.
        let mut prepared: Vec<Prepared> = acted_on.into_iter().filter_map(|e| self.prepare(e)).collect();
        self.look_up_names(&mut prepared, now).await;
        self.fetch_attachments(&mut prepared, now).await;
        let outcome = match self.decide_batch(prepared.clone(), now, true).await {
            Ok(outcome) => outcome,
            Err(e) if prepared.len() > 1 => {
                // One bad event must not take the others with it: each gets its own batch.
                warn!(error = %format!("{e:#}"), events = prepared.len(), "a batch failed; deciding its events one by one");
                self.decide_one_by_one(prepared, now).await?
            }
            Err(e) => match prepared.into_iter().next() {
                // Alone in its batch: the event is refused if that can be stored, else the
                // store itself is failing.
                Some(only) => self.refuse_failed(only, &e, now).await.map_err(|_| e)?,
                None => return Err(e),
            },
        };
        // Stored: the platforms may now forget what came before.
        for (platform, token) in checkpoints {
            if let Some(adapter) = self.adapters.get(platform)
                && let Some(resume) = adapter.resume_points()
                && let Err(e) = resume.checkpoint(&token).await
            {
                warn!(%platform, error = %e, "saving the resume point failed; events after the last one will be delivered again");
            }
        }
        Ok(Outcome { effects: outcome.effects + invited.effects, ..outcome })
    }

    /// Claims and decides prepared events in one transaction. `charge`: take each command from
    /// its author's budget (not again when a failed batch is retried).
    async fn decide_batch(&mut self, mut prepared: Vec<Prepared>, now: DateTime<Utc>, charge: bool) -> Result<Outcome> {
        let mut batch = self.begin(now).await?;
        let mut outcome = Outcome::default();
        let keys: Vec<String> = prepared.iter().map(|p| p.key().to_owned()).collect();
        let fresh = match batch.claim_inbound(&keys).await {
            Ok(fresh) => fresh,
            Err(e) => return self.finish(batch, Err(e.into()), outcome).await,
        };
        let mut result = Ok(());
        for (event, fresh) in prepared.drain(..).zip(fresh) {
            if !fresh {
                outcome.replays += 1;
                self.tally.deduplicated(1);
                continue;
            }
            if let Err(e) = self.handle_prepared(&mut batch, event, now, charge, &mut outcome).await {
                result = Err(e);
                break;
            }
        }
        self.finish(batch, result, outcome).await
    }

    /// After a failed batch: each event alone. When only some fail, those are the bad ones and
    /// are refused with an apology; when every one fails, the store itself is failing.
    async fn decide_one_by_one(&mut self, prepared: Vec<Prepared>, now: DateTime<Utc>) -> Result<Outcome> {
        let mut total = Outcome::default();
        let mut failed = Vec::new();
        let count = prepared.len();
        for event in prepared {
            match self.decide_batch(vec![event.clone()], now, false).await {
                Ok(o) => {
                    total.decided += o.decided;
                    total.replays += o.replays;
                    total.effects += o.effects;
                }
                Err(e) => failed.push((event, e)),
            }
        }
        if failed.len() == count {
            let (_, e) = failed.swap_remove(0);
            return Err(e);
        }
        for (event, e) in failed {
            match self.refuse_failed(event, &e, now).await {
                Ok(o) => {
                    total.decided += o.decided;
                    total.effects += o.effects;
                }
                Err(again) => {
                    error!(error = %format!("{again:#}"), "the refusal could not be stored either; the event is dropped")
                }
            }
        }
        Ok(total)
    }

    /// Stores an event that cannot be stored as decided: claimed (so it is not tried again) and,
    /// for a command, answered with an apology.
    async fn refuse_failed(&mut self, event: Prepared, error: &anyhow::Error, now: DateTime<Utc>) -> Result<Outcome> {
        error!(event = event.key(), error = %format!("{error:#}"), "an event could not be stored; refused");
        let mut batch = self.begin(now).await?;
        let mut outcome = Outcome::default();
        // The claim under a key the database surely takes: the event's own may be what failed.
        let key: String = event.key().chars().map(|c| if c.is_control() { '\u{FFFD}' } else { c }).collect();
        let fresh = batch.claim_inbound(std::slice::from_ref(&key)).await?;
        let mut result = Ok(());
        if fresh.first().copied().unwrap_or(false)
            && let Prepared::Command { message, .. } = &event
        {
            self.tally.command("unstorable", "refused");
            let mut decision = Decision { refused: true, ..Decision::default() };
            decision.effect(Effect::Reply {
                to: ReplyTarget::encode(&message.id, message.thread.as_ref()),
                text: Text::md("⚠️ Sorry, I could not store that, so nothing was changed. Please send it again without unusual characters; if it keeps failing, tell the organizers."),
                private: true,
            });
            result = self.commit_decision(&mut batch, decision, &key, &mut outcome).await;
        }
        self.finish(batch, result, outcome).await
    }

    /// Asks the domain whether to accept each invitation, in one batch; the answers go out
    /// through the outbox like every other effect.
    async fn decide_invites(&mut self, invites: Vec<(RoomRef, UserRef, bool)>, now: DateTime<Utc>) -> Result<Outcome> {
        let mut batch = self.begin(now).await?;
        let mut outcome = Outcome::default();
        let mut result = Ok(());
        for (n, (room, inviter, direct)) in invites.into_iter().enumerate() {
            let platform = inviter.platform();
            // An invitation that is refused stores nobody: the inviter is registered only if
            // the decision changes something, and it never does.
            let mut registrations = Vec::new();
            let person = self.person_for(platform.as_str(), inviter.raw(), inviter.raw(), &mut registrations);
            let invitation = invitation_of(&room);
            info!(%room, %inviter, direct, "invited");
            let decision = self.decide_safely(Input::Invited { inviter: person, direct, invitation }, now);
            // Invitations carry no event id: the time and the position in the batch make the key.
            let key = format!("invite:{platform}:{}:{}:{n}", room.raw(), now.timestamp_millis());
            if let Err(e) = self.commit_decision(&mut batch, decision, &key, &mut outcome).await {
                result = Err(e);
                break;
            }
        }
        self.finish(batch, result, outcome).await
    }

    /// Runs every job due at `now`.
    ///
    /// # Errors
    /// On a storage failure; the state is then reloaded and the jobs run again next time.
    pub async fn run_due_once(&mut self, now: DateTime<Utc>) -> Result<Outcome> {
        let mut total = Outcome::default();
        loop {
            let mut batch = self.begin(now).await?;
            let mut outcome = Outcome::default();
            let mut result = Ok(());
            while outcome.decided < JOBS_PER_BATCH {
                let Some((due, job)) = self.state.next_due_job(now) else { break };
                let span = info_span!("job", %job);
                let _guard = span.enter();
                self.tally.job(job.kind.as_str(), now - due);
                let mut decision = self.decide_safely(Input::JobDue { job }, now);
                if !decision.changes.contains(&Change::JobDone { job }) {
                    // A job must leave the queue whatever happened, or the loop would spin on it.
                    decision.change(Change::JobDone { job });
                }
                if let Err(e) = self
                    .commit_decision(
                        &mut batch,
                        decision,
                        &format!("job:{job}:{}", due.timestamp_millis()),
                        &mut outcome,
                    )
                    .await
                {
                    result = Err(e);
                    break;
                }
            }
            let ran = outcome.decided;
            let outcome = self.finish(batch, result, outcome).await?;
            total.decided += outcome.decided;
            total.effects += outcome.effects;
            if ran < JOBS_PER_BATCH {
                return Ok(total);
            }
        }
    }

    /// Runs one command typed at the command line as a bot admin (`facilitator syllabus load`).
    /// Replies come back as text; other effects are queued for the bot to perform.
    ///
    /// # Errors
    /// On a storage failure.
    pub async fn cli_command(
        &mut self,
        operator: &str,
        place: Place,
        text: &str,
        now: DateTime<Utc>,
    ) -> Result<Vec<Text>> {
        let Some(parsed) = command::parse(text) else { anyhow::bail!("not a command: {text}") };
        let mut batch = self.begin(now).await?;
        let mut outcome = Outcome::default();
        // Whoever runs the command line on the bot's database is a bot admin while they do
        // (the next start takes the flag back unless the config lists them).
        let mut registrations = Vec::new();
        let actor = self.person_for("cli", operator, operator, &mut registrations);
        if !self.state.is_admin(actor) {
            registrations.push(Change::AdminSet { person: actor, admin: true });
            let operator_is_admin = Decision { changes: registrations, ..Decision::default() };
            let made = self.commit_decision(&mut batch, operator_is_admin, "cli-admin", &mut outcome).await;
            if let Err(e) = made {
                self.finish(batch, Err(e), outcome).await?;
                return Ok(Vec::new());
            }
        }
        let input = CommandInput {
            actor,
            place,
            reply_to: ReplyTo(CLI_REPLY.into()),
            command: parsed,
            mentions: BTreeMap::new(),
            unclear: BTreeMap::new(),
            thread_week: None,
            private_reply: true,
        };
        let mut decision = self.decide_safely(Input::Command(input), now);
        let replies = decision
            .effects
            .iter()
            .filter_map(|e| match e {
                Effect::Reply { to, text, .. } if to.0 == CLI_REPLY => Some(text.clone()),
                _ => None,
            })
            .collect();
        decision.effects.retain(|e| !matches!(e, Effect::Reply { to, .. } if to.0 == CLI_REPLY));
        let key = format!("cli:{}:{}", operator, now.timestamp_millis());
        let result = self.commit_decision(&mut batch, decision, &key, &mut outcome).await;
        self.finish(batch, result, outcome).await?;
        Ok(replies)
    }

    async fn finish(
        &mut self,
        batch: facilitator_storage::Batch,
        result: Result<()>,
        outcome: Outcome,
    ) -> Result<Outcome> {
        let committed = match result {
            Ok(()) => batch.commit().await.map_err(anyhow::Error::from),
            Err(e) => Err(e),
        };
        let tally = std::mem::take(&mut self.tally);
        match committed {
            Ok(committed) => {
                self.generation = committed.generation;
                self.metrics.record(tally);
                Ok(Outcome { effects: usize::try_from(committed.effects).unwrap_or(usize::MAX), ..outcome })
            }
            Err(e) => {
                // The in-memory state already holds the batch's changes; the database does not.
                self.generation = -1;
                if let Err(reload) = self.reload().await {
                    error!(error = %reload, "reloading the state after a failed batch");
                }
                Err(e.context("storing a batch"))
            }
        }
    }

    /// Opens a write batch, first catching up with what other instances stored since this
    /// one last looked (on PostgreSQL the batch holds the generation row, so no other instance
    /// decides until it commits).
    async fn begin(&mut self, now: DateTime<Utc>) -> Result<facilitator_storage::Batch> {
        let mut batch = self.store.begin(now).await?;
        if batch.generation() != self.generation {
            self.tally.catch_up();
            let snapshot = batch.snapshot().await.context("catching up with the stored state")?;
            debug!(from = self.generation, to = batch.generation(), "caught up with the stored state");
            *self.directory.write().unwrap_or_else(std::sync::PoisonError::into_inner) =
                Directory::new(&snapshot.rooms, &snapshot.threads, &snapshot.state);
            self.state = snapshot.state;
            self.generation = batch.generation();
        }
        Ok(batch)
    }

    /// Reloads the state and directory from the store.
    ///
    /// # Errors
    /// When the store cannot be read.
    pub async fn reload(&mut self) -> Result<()> {
        self.state = self.store.load_state().await?;
        let rooms = self.store.rooms().await?;
        let threads = self.store.threads().await?;
        *self.directory.write().unwrap_or_else(std::sync::PoisonError::into_inner) =
            Directory::new(&rooms, &threads, &self.state);
        Ok(())
    }

    /// Asks the platforms who the names typed in commands mean, where the text alone does not
    /// say (a Discord `@name`), before the batch's transaction opens: a platform call never
    /// holds the database. Only for authors with budget left, so a flood asks nothing.
    async fn look_up_names(&self, prepared: &mut [Prepared], now: DateTime<Utc>) {
        for event in prepared.iter_mut() {
            let Prepared::Command { message, parsed: Ok(cmd), looked_up, .. } = event else { continue };
            let Some(adapter) = self.adapter_within_budget(message, now) else { continue };
            for mention in cmd.mentions() {
                if adapter.parse_user(&mention.0).is_none() && !looked_up.contains_key(mention) {
                    let found = adapter.find_user(&mention.0).await;
                    looked_up.insert(mention.clone(), found);
                }
            }
        }
    }

    /// The platform of a message's author, if that author has budget left: work done before
    /// the batch (asking the platform) is not done for a flood.
    fn adapter_within_budget(
        &self,
        message: &facilitator_chat::IncomingMessage,
        now: DateTime<Utc>,
    ) -> Option<&Arc<dyn ChatAdapter>> {
        let platform = message.author.platform();
        let spent = self.budgets.as_ref().is_some_and(|b| !b.has_budget(platform.as_str(), message.author.raw(), now));
        if spent { None } else { self.adapters.get(platform) }
    }

    /// Reads the files attached to `!syllabus load`, before the batch's transaction opens and
    /// only for who may load one: an organizer of the course whose room it was said in, or a
    /// bot admin (the domain checks again, on the state the batch sees). Anyone else's file is
    /// never downloaded, and no file is read past the syllabus limit.
    async fn fetch_attachments(&self, prepared: &mut [Prepared], now: DateTime<Utc>) {
        for event in prepared.iter_mut() {
            let Prepared::Command { message, parsed, .. } = event else { continue };
            let Some(attachment) = message.attachment.clone() else { continue };
            if !matches!(parsed, Ok(facilitator_bot::Command::SyllabusLoad(_))) {
                continue;
            }
            let Some(adapter) = self.adapter_within_budget(message, now) else { continue };
            if !self.may_organize_here(message) {
                continue;
            }
            let limit = facilitator_bot::syllabus::MAX_BYTES as u64;
            let problem = match adapter.fetch_attachment(&attachment, limit).await {
                Ok(bytes) => match String::from_utf8(bytes) {
                    Ok(body) => {
                        message.text = format!("{}\n{body}", message.text.trim_end());
                        if let Some(reparsed) = command::parse(&message.text) {
                            *parsed = reparsed;
                        }
                        continue;
                    }
                    Err(_) => {
                        "the attached file is not text: save the syllabus as Markdown (a .md file) and attach it again."
                            .to_owned()
                    }
                },
                Err(facilitator_chat::AttachmentError::TooLarge { limit }) => {
                    format!("the attached file is larger than {limit} bytes, the most a syllabus may be.")
                }
                Err(facilitator_chat::AttachmentError::Unavailable(e)) => {
                    warn!(error = %e, "an attached syllabus could not be fetched");
                    "I could not download the attached file; try attaching it again.".to_owned()
                }
            };
            *parsed = Ok(facilitator_bot::Command::SyllabusLoad(command::syllabus_load::SyllabusLoad {
                syllabus: Err(problem),
            }));
        }
    }

    /// Whether the author of `message` organizes the course of the room it was said in (or is
    /// a bot admin), as this process knows the state: the domain's rule, asked early.
    fn may_organize_here(&self, message: &facilitator_chat::IncomingMessage) -> bool {
        let Place::Course(course) = self.place_of(message).0 else { return false };
        let platform = message.author.platform();
        let account = Account { platform: platform.as_str().to_owned(), handle: message.author.raw().to_owned() };
        let person = self.state.accounts.get(&account).copied();
        let admin = person.is_some_and(|p| self.state.is_admin(p));
        self.state.courses.get(&course).is_some_and(|c| c.organized_by(person, admin))
    }

    /// Where a message was said, for the domain, and the week of the thread it was said in.
    fn place_of(
        &self,
        message: &facilitator_chat::IncomingMessage,
    ) -> (Place, Option<(facilitator_bot::CourseId, u32)>) {
        let in_week = message.thread.as_ref().and_then(|t| self.read_directory().thread_week(t));
        let place = if message.is_direct {
            Place::Direct
        } else if let Some((course, _)) = in_week {
            Place::Course(course)
        } else {
            match self.read_directory().course_of(&message.id.room) {
                Some(course) => Place::Course(course),
                None => Place::Lobby,
            }
        };
        (place, in_week)
    }

    /// Keeps the events the bot acts on (commands, joins of course rooms) with their
    /// deduplication keys; plain chat is dropped here.
    fn prepare(&self, event: ChatEvent) -> Option<Prepared> {
        match event {
            ChatEvent::Message(message) => {
                let parsed = command::parse(&message.text)?;
                let key = format!("{}:{}", message.author.platform(), message.event_id);
                Some(Prepared::Command { key, message, parsed, looked_up: BTreeMap::new() })
            }
            ChatEvent::MemberJoined { event_id, room, user, name } => {
                let course = self.read_directory().course_of(&room)?;
                let key = format!("{}:{event_id}", user.platform());
                Some(Prepared::Joined { key, course, user, name })
            }
            ChatEvent::Invited { .. } | ChatEvent::Checkpoint { .. } => None,
        }
    }

    async fn handle_prepared(
        &mut self,
        batch: &mut facilitator_storage::Batch,
        event: Prepared,
        now: DateTime<Utc>,
        charge: bool,
        outcome: &mut Outcome,
    ) -> Result<()> {
        match event {
            Prepared::Command { key, message, parsed, looked_up } => {
                let platform = message.author.platform();
                if charge && let Some(budgets) = &mut self.budgets {
                    match budgets.take(platform.as_str(), message.author.raw(), now) {
                        Verdict::Allow => {}
                        Verdict::Drop => {
                            self.tally.command("over-budget", "dropped");
                            return Ok(());
                        }
                        Verdict::SlowDown { wait_secs } => {
                            self.tally.command("over-budget", "refused");
                            let mut decision = Decision { refused: true, ..Decision::default() };
                            decision.effect(Effect::Reply {
                                to: ReplyTarget::encode(&message.id, message.thread.as_ref()),
                                text: Text::md(format!(
                                    "⏳ You've sent many commands in a short time, so I'm pausing for you: I'll take your next command in about {wait_secs} seconds. Everyone has the same budget, so the bot stays quick for all."
                                )),
                                private: true,
                            });
                            return self.commit_decision(batch, decision, &key, outcome).await;
                        }
                    }
                }
                let mut registrations = Vec::new();
                let actor =
                    self.person_for(platform.as_str(), message.author.raw(), &message.author_name, &mut registrations);
                self.follow_rename(batch, actor, &message.author_name).await?;
                let span = info_span!("command", user = %actor, platform = %platform);
                let _guard = span.enter();
                let (place, in_week) = self.place_of(&message);
                let (mentions, unclear) = match &parsed {
                    Ok(cmd) => self.resolve_mentions(platform, cmd.mentions(), &looked_up, &mut registrations),
                    Err(_) => (BTreeMap::new(), BTreeMap::new()),
                };
                let kind = parsed.as_ref().map_or("unreadable", facilitator_bot::Command::name);
                let input = CommandInput {
                    actor,
                    place,
                    reply_to: ReplyTarget::encode(&message.id, message.thread.as_ref()),
                    command: parsed,
                    mentions,
                    unclear,
                    thread_week: in_week.map(|(_, week)| week),
                    private_reply: message.needs_answer,
                };
                let mut decision = self.decide_safely(Input::Command(input), now);
                self.tally.command(kind, if decision.refused { "refused" } else { "ok" });
                if !decision.changes.is_empty() {
                    decision.changes.splice(0..0, registrations);
                }
                self.commit_decision(batch, decision, &key, outcome).await
            }
            Prepared::Joined { key, course, user, name } => {
                let mut registrations = Vec::new();
                let person = self.person_for(user.platform().as_str(), user.raw(), &name, &mut registrations);
                self.follow_rename(batch, person, &name).await?;
                let mut decision = self.decide_safely(Input::MemberJoined { person, course }, now);
                self.tally.join();
                if !decision.changes.is_empty() {
                    decision.changes.splice(0..0, registrations);
                }
                self.commit_decision(batch, decision, &key, outcome).await
            }
        }
    }

    fn read_directory(&self) -> std::sync::RwLockReadGuard<'_, Directory> {
        self.directory.read().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The person behind an account; a new person gets a provisional id and a registration that
    /// is stored only if the decision changes something.
    fn person_for(&self, platform: &str, handle: &str, name: &str, registrations: &mut Vec<Change>) -> PersonId {
        let account = Account { platform: platform.to_owned(), handle: handle.to_owned() };
        if let Some(p) = self.state.accounts.get(&account) {
            return *p;
        }
        for r in registrations.iter() {
            if let Change::PersonRegistered { person, account: a, .. } = r
                && *a == account
            {
                return *person;
            }
        }
        let id = PersonId(self.state.next_person_id().0 + registrations.len() as i64);
        let name = shown_name(name).unwrap_or_else(|| handle.chars().take(80).collect());
        registrations.push(Change::PersonRegistered { person: id, account, name });
        id
    }

    /// Stores the name a known person now shows on the platform, when it changed (before the
    /// decision, so what the bot says next uses it). Stored whatever the command decides: a
    /// read-only command is enough to be known by one's new name.
    async fn follow_rename(
        &mut self,
        batch: &mut facilitator_storage::Batch,
        person: PersonId,
        shown: &str,
    ) -> Result<()> {
        let Some(name) = shown_name(shown) else { return Ok(()) };
        if self.state.persons.get(&person).is_none_or(|p| p.name == name) {
            return Ok(());
        }
        self.directory.write().unwrap_or_else(std::sync::PoisonError::into_inner).rename(person, &name);
        let change = Change::PersonRenamed { person, name };
        batch.apply(&change).await?;
        self.state.apply(&change);
        Ok(())
    }

    /// The people a command names: from the text where it says, else from what the platform
    /// answered before the batch; names it could not pin to one account come back as unclear.
    fn resolve_mentions(
        &self,
        platform: Platform,
        mentions: Vec<&Mention>,
        looked_up: &BTreeMap<Mention, UserLookup>,
        registrations: &mut Vec<Change>,
    ) -> (BTreeMap<Mention, PersonId>, BTreeMap<Mention, Vec<String>>) {
        let (mut out, mut unclear) = (BTreeMap::new(), BTreeMap::new());
        let Some(adapter) = self.adapters.get(platform) else { return (out, unclear) };
        for mention in mentions {
            let user = match adapter.parse_user(&mention.0) {
                Some(user) => user,
                None => match looked_up.get(mention) {
                    Some(UserLookup::Found(user)) => user.clone(),
                    Some(UserLookup::Ambiguous(candidates)) => {
                        unclear.insert(mention.clone(), candidates.clone());
                        continue;
                    }
                    Some(UserLookup::Unknown) | None => continue,
                },
            };
            // Until they speak, a person named in a command is known by their id's local part.
            let short = user.raw().trim_start_matches('@').split(':').next().unwrap_or(user.raw()).to_owned();
            let person = self.person_for(platform.as_str(), user.raw(), &short, registrations);
            out.insert(mention.clone(), person);
        }
        (out, unclear)
    }

    /// Decides, turning a panic in the domain (a bug) into an apology instead of a dead bot.
    fn decide_safely(&mut self, input: Input, now: DateTime<Utc>) -> Decision {
        let reply_to = match &input {
            Input::Command(c) => Some(c.reply_to.clone()),
            _ => None,
        };
        let seed = self.entropy.next();
        match catch_unwind(AssertUnwindSafe(|| decide(&self.state, input, &Ctx { now, seed }))) {
            Ok(decision) => decision,
            Err(_) => {
                error!("the domain panicked on an input; nothing was changed");
                let mut decision = Decision { refused: true, ..Decision::default() };
                if let Some(to) = reply_to {
                    decision.effect(Effect::Reply {
                        to,
                        text: Text::md("⚠️ Sorry, something went wrong on my side and nothing was changed. The organizers can find the details in the bot's log."),
                        private: true,
                    });
                }
                decision
            }
        }
    }

    async fn commit_decision(
        &mut self,
        batch: &mut facilitator_storage::Batch,
        decision: Decision,
        key: &str,
        outcome: &mut Outcome,
    ) -> Result<()> {
        outcome.decided += 1;
        for change in &decision.changes {
            batch.apply(change).await?;
            self.state.apply(change);
            if let Change::PersonRegistered { person, account, name } = change {
                self.directory.write().unwrap_or_else(std::sync::PoisonError::into_inner).add_account(
                    *person,
                    name,
                    &account.platform,
                    &account.handle,
                );
            }
        }
        // A command's effects keep their order with its answer (the role is given before the
        // welcome says so): they go in the lane of the room it was said in. Posts go in their
        // course room's lane, rooms in the rooms lane; a job's effects in their own lanes.
        let reply_lane = decision.effects.iter().find_map(|e| match e {
            Effect::Reply { .. } => Some(self.reply_lane(e)),
            _ => None,
        });
        for (i, effect) in decision.effects.iter().enumerate() {
            let lane = match (effect, &reply_lane) {
                (Effect::Reply { .. }, _) => self.reply_lane(effect),
                (Effect::Post { .. } | Effect::CreateCourseRoom { .. } | Effect::CreateSchoolSpace { .. }, _)
                | (_, None) => facilitator_storage::default_lane(effect),
                (_, Some(lane)) => lane.clone(),
            };
            batch.enqueue_in_lane(&format!("{key}#{i}"), effect, &lane)?;
        }
        Ok(())
    }

    /// The delivery lane of a reply: the lane of the room it answers (a course room's lane when
    /// it is one, so a command's answer and the announcement it caused keep their order).
    fn reply_lane(&self, effect: &Effect) -> String {
        match effect {
            Effect::Reply { to, .. } => match ReplyTarget::decode(to) {
                Some((message, thread)) => {
                    let dir = self.read_directory();
                    let course = dir
                        .course_of(&message.room)
                        .or_else(|| thread.as_ref().and_then(|t| dir.thread_week(t)).map(|(c, _)| c));
                    match course {
                        Some(course) => format!("course:{}", course.0),
                        None => format!("room:{}:{}", message.room.platform(), message.room.raw()),
                    }
                }
                None => facilitator_storage::default_lane(effect),
            },
            other => facilitator_storage::default_lane(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(accounts: &BTreeSet<Account>) -> Vec<String> {
        accounts.iter().map(|a| format!("{}:{}", a.platform, a.handle)).collect()
    }

    #[test]
    fn configured_admins_name_accounts_only_where_they_can_be_ids() {
        let admins = Admins::new(
            ["@olga:example.org", "discord:81234", "matrix:@ana:example.org", "4242", "ben", " "].map(String::from),
        );
        let all = admins.accounts(&[Platform::Matrix, Platform::Discord, Platform::Memory]);
        assert_eq!(
            names(&all),
            vec![
                "discord:4242",
                "discord:81234",
                "matrix:@ana:example.org",
                "matrix:@olga:example.org",
                "memory:4242",
                "memory:ben",
            ]
        );
        // Only the platforms the bot runs on, unless the entry names its platform.
        assert_eq!(
            names(&admins.accounts(&[Platform::Memory])),
            vec!["discord:81234", "matrix:@ana:example.org", "memory:4242", "memory:ben"]
        );
    }
}
