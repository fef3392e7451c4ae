//! The long-running loop of `facilitator run`: events and the schedule into the engine, the
//! outbox out through the executor, until shutdown.
//!
//! Two tasks: the engine (which alone touches the domain state and writes the store) takes
//! events in batches, runs due jobs and records what the executor reports; the executor
//! performs effects as they are committed. A slow platform (rate
//! limits, a homeserver that went away) therefore delays delivery, never decisions.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use tokio::sync::{Notify, mpsc, watch};
use tracing::{error, info};

use facilitator_chat::ChatEvent;

use crate::clock::Clock;
use crate::engine::Engine;
use crate::executor::Executor;

/// Most events decided in one transaction.
pub const MAX_BATCH: usize = 512;
/// Longest sleep between looks at the schedule (a clock change or a missed wake-up costs at
/// most this).
const MAX_SLEEP: Duration = Duration::from_secs(5);
/// How long shutdown waits for queued effects to go out.
const DRAIN_LIMIT: Duration = Duration::from_secs(10);

/// The runtime.
#[derive(Debug)]
pub struct Runtime {
    engine: Engine,
    executor: Executor,
    clock: Arc<dyn Clock>,
    events: mpsc::Receiver<ChatEvent>,
}

impl Runtime {
    /// A runtime over an engine and executor, fed by `events` (all adapters merged).
    pub fn new(
        engine: Engine,
        executor: Executor,
        clock: Arc<dyn Clock>,
        events: mpsc::Receiver<ChatEvent>,
    ) -> Runtime {
        Runtime { engine, executor, clock, events }
    }

    /// Runs until `shutdown` completes or every event source has closed, then drains queued
    /// effects (for a bounded time) and returns the engine.
    ///
    /// # Errors
    /// Only when the executor task cannot be joined.
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> Result<Engine> {
        let Runtime { mut engine, executor, clock, mut events } = self;
        let wake = Arc::new(Notify::new());
        let (stop_tx, stop_rx) = watch::channel(false);
        let executor_task = tokio::spawn(deliver_loop(executor, Arc::clone(&wake), stop_rx));
        // Effects left from an earlier run go out first.
        wake.notify_one();
        tokio::pin!(shutdown);
        loop {
            let mut sleep = match engine.next_due() {
                Some(due) => (due - clock.now()).to_std().unwrap_or(Duration::ZERO).min(MAX_SLEEP),
                None => MAX_SLEEP,
            };
            // The web pages' snapshot, when the state moved on (coalesced under load).
            if let Some(publish_in) = engine.publish_due() {
                sleep = sleep.min(publish_in);
            }
            tokio::select! {
                biased;
                () = &mut shutdown => {
                    info!("shutting down");
                    break;
                }
                // Before events: the executor waits for the answers, and reports are few.
                reported = engine.next_reports() => {
                    engine.record(reported, clock.now()).await;
                    continue;
                }
                event = events.recv() => {
                    let Some(event) = event else {
                        info!("every event source has closed");
                        break;
                    };
                    let mut batch = vec![event];
                    while batch.len() < MAX_BATCH {
                        match events.try_recv() {
                            Ok(e) => batch.push(e),
                            Err(_) => break,
                        }
                    }
                    match engine.handle_events(batch, clock.now()).await {
                        Ok(outcome) if outcome.effects > 0 => wake.notify_one(),
                        Ok(_) => {}
                        Err(e) => {
                            error!(error = %format!("{e:#}"), "handling a batch of events failed");
                            tokio::time::sleep(Duration::from_secs(1)).await;
                        }
                    }
                }
                () = tokio::time::sleep(sleep) => {}
            }
            match engine.run_due_once(clock.now()).await {
                Ok(outcome) if outcome.effects > 0 => wake.notify_one(),
                Ok(_) => {}
                Err(e) => error!(error = %format!("{e:#}"), "running due jobs failed"),
            }
        }
        let _ = stop_tx.send(true);
        wake.notify_one();
        // The executor's drain may still report (a room made), so the engine keeps answering.
        engine.serving_reports(executor_task, clock.as_ref()).await?;
        Ok(engine)
    }
}

async fn deliver_loop(executor: Executor, wake: Arc<Notify>, mut stop: watch::Receiver<bool>) {
    let mut retry_in: Option<Duration> = None;
    loop {
        if *stop.borrow() {
            // Drain what is queued, within a bound, then stop.
            let _ = tokio::time::timeout(DRAIN_LIMIT, executor.deliver_pending()).await;
            return;
        }
        tokio::select! {
            () = wake.notified() => {}
            () = tokio::time::sleep(retry_in.unwrap_or(MAX_SLEEP)) => {}
            _ = stop.changed() => continue,
        }
        match executor.deliver_pending().await {
            Ok(delivered) => retry_in = delivered.retry_in,
            Err(e) => {
                error!(error = %format!("{e:#}"), "delivering effects failed");
                retry_in = Some(Duration::from_secs(1));
            }
        }
    }
}
