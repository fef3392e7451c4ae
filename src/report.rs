//! What the executor hands back to the engine after performing an effect.
//!
//! The executor talks to the platforms; the engine alone writes the store. So when an effect
//! produces something the bot must remember (a room made, with its platform id; a week's thread
//! opened) or fails for good, the executor reports it and waits until the engine has stored it
//! (and decided what follows, for a failure) before it goes on: the next effect may need that
//! room, and an effect is marked done only once what it produced is stored. This is the shape of
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
        let (stored, answer) = oneshot::channel();
        let transient = |why: String| AdapterError::new(AdapterErrorKind::Transient, why);
        self.0.send(Reported { report, stored }).map_err(|_| transient("the engine has stopped".into()))?;
        match answer.await {
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
