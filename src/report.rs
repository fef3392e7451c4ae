//! What the executor hands back to the engine after performing an effect.
//!
//! The executor talks to the platforms; the engine alone writes the store. So when an effect
//! produces something the bot must remember (a room made, with its platform id; a week's thread
//! opened) or fails for good, the executor reports it, and an effect is marked done only once
//! the engine has stored what it produced (and decided what follows, for a failure). The
//! executor does not stop for the answer: it keeps the rooms it made in its own memory until
//! they are stored, goes on with the pass, and waits for every answer before it marks the pass's
//! effects done. A crash in between loses nothing: the effect is still queued, and performing it
//! again finds the room by its idempotency key and reports it again. This is the shape of
//! matrix-sdk-crypto's `outgoing_requests` / `mark_request_as_sent`: the side that performs
//! requests pushes their results back into the one that owns the state.
//!
//! When the engine and the executor run in one task (the console, tests), drive both with
//! [`crate::engine::Engine::serving_reports`].

use tokio::sync::{mpsc, oneshot};

use facilitator_bot::{CourseId, Effect, Failure};
use facilitator_chat::{AdapterError, AdapterErrorKind, MessageRef, RoomRef};
use facilitator_storage::RoomOwner;

/// One outcome of an effect.
#[derive(Debug)]
pub enum Report {
    /// A course's room or a school's space was made (or found again by its key).
    RoomMade { owner: RoomOwner, room: RoomRef },
    /// The thread of a week's prompt was opened.
    ThreadOpened { course: CourseId, week: u32, thread: MessageRef },
    /// The platforms refused an effect for good; it is marked failed with what follows.
    GaveUp {
        /// The outbox row.
        outbox: i64,
        /// Its idempotency key.
        key: String,
        effect: Effect,
        error: AdapterError,
    },
}

/// A report on its way, with the answer the executor waits for.
#[derive(Debug)]
pub struct Reported {
    /// What happened.
    pub report: Report,
    /// Whether the engine stored it (with the error's text when not).
    pub stored: oneshot::Sender<Result<(), String>>,
}

/// The executor's end.
#[derive(Debug, Clone)]
pub struct Reporter(mpsc::UnboundedSender<Reported>);

/// The engine's end.
#[derive(Debug)]
pub struct Reports(pub(crate) mpsc::UnboundedReceiver<Reported>);

/// A connected pair.
pub fn channel() -> (Reporter, Reports) {
    let (tx, rx) = mpsc::unbounded_channel();
    (Reporter(tx), Reports(rx))
}

impl Reporter {
    /// Reports, and waits until the engine has stored what it means. A failure to store is
    /// transient for the executor: the effect stays queued and is performed again (by its
    /// idempotency key, nothing is doubled on the platform) and reported again.
    ///
    /// # Errors
    /// When the engine is gone or could not store the report.
    pub async fn report(&self, report: Report) -> Result<(), AdapterError> {
        self.send(report)?.stored().await
    }

    /// Hands a report to the engine without waiting: the executor goes on with other effects
    /// and waits for the answer before it marks the effect done.
    ///
    /// # Errors
    /// When the engine is gone.
    pub fn send(&self, report: Report) -> Result<Ack, AdapterError> {
        let (stored, answer) = oneshot::channel();
        self.0
            .send(Reported { report, stored })
            .map_err(|_| AdapterError::new(AdapterErrorKind::Transient, "the engine has stopped"))?;
        Ok(Ack(answer))
    }
}

/// The engine's answer to one report, to be awaited.
#[derive(Debug)]
pub struct Ack(oneshot::Receiver<Result<(), String>>);

impl Ack {
    /// Waits until the engine has stored the report.
    ///
    /// # Errors
    /// When the engine could not store it, or stopped first (transient: the effect is performed
    /// and reported again).
    pub async fn stored(self) -> Result<(), AdapterError> {
        let transient = |why: String| AdapterError::new(AdapterErrorKind::Transient, why);
        match self.0.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(transient(format!("storing what the effect did: {e}"))),
            Err(_) => Err(transient("the engine stopped before storing what the effect did".into())),
        }
    }
}

/// The domain's reading of a permanent failure.
pub fn failure_of(error: &AdapterError) -> Failure {
    match error.kind() {
        AdapterErrorKind::Forbidden | AdapterErrorKind::Fatal => Failure::NotAllowed,
        AdapterErrorKind::NotFound => Failure::Gone,
        AdapterErrorKind::InvalidInput => Failure::Refused,
        _ => Failure::KeptFailing,
    }
}
