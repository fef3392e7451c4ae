//! What the web pages read: the domain state as of a committed batch, published by the engine.
//!
//! The engine owns the state and is the only writer; a page must neither wait for it nor read
//! the database. So the engine hands out snapshots: an `Arc` swapped in a `watch` channel,
//! which a page clones in a few nanoseconds and reads for as long as it likes. Courses and
//! persons are shared between the live state and the snapshots (`Arc` in the state's maps), so
//! publishing copies the maps' spines, not the courses; the engine's next change to a course a
//! snapshot still holds copies that one course. Publishing is coalesced to at most one per
//! [`PUBLISH_EVERY`] under load, so a busy engine copies a busy course at most that often: a
//! page shows the state at most that much later than chat does.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::watch;

use facilitator_bot::State;

/// Shortest time between two published snapshots while commands keep coming.
pub const PUBLISH_EVERY: Duration = Duration::from_millis(200);

/// The state as of one committed generation.
#[derive(Debug, Default)]
pub struct Snapshot {
    /// The domain state.
    pub state: State,
    /// The stored generation it reflects (`-1` before the first publication).
    pub generation: i64,
}

/// The engine's end: publishes when the state has moved on and the last publication is old
/// enough.
#[derive(Debug)]
pub struct Publisher {
    tx: watch::Sender<Arc<Snapshot>>,
    published: Option<(i64, Instant)>,
}

impl Default for Publisher {
    fn default() -> Self {
        Publisher {
            tx: watch::Sender::new(Arc::new(Snapshot { state: State::default(), generation: -1 })),
            published: None,
        }
    }
}

impl Publisher {
    /// A reader of the snapshots, given the current state at once.
    pub fn subscribe(&mut self, state: &State, generation: i64) -> watch::Receiver<Arc<Snapshot>> {
        let rx = self.tx.subscribe();
        self.publish(state, generation);
        rx
    }

    fn publish(&mut self, state: &State, generation: i64) {
        self.tx.send_replace(Arc::new(Snapshot { state: state.clone(), generation }));
        self.published = Some((generation, Instant::now()));
    }

    /// Publishes `state` if it differs from the last published generation and nobody would
    /// be served a snapshot younger than [`PUBLISH_EVERY`]; otherwise says how long until it
    /// may (`None`: nothing to publish, or nobody reads).
    pub fn publish_due(&mut self, state: &State, generation: i64, now: Instant) -> Option<Duration> {
        if self.tx.receiver_count() == 0 {
            return None;
        }
        match self.published {
            Some((published, _)) if published == generation => None,
            Some((_, at)) if now.duration_since(at) < PUBLISH_EVERY => Some(PUBLISH_EVERY - now.duration_since(at)),
            _ => {
                self.publish(state, generation);
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_generation_is_published_at_once_then_no_faster_than_the_interval() {
        let mut publisher = Publisher::default();
        let state = State::default();
        assert_eq!(publisher.publish_due(&state, 1, Instant::now()), None, "nobody reads: nothing to do");
        let rx = publisher.subscribe(&state, 1);
        assert_eq!(rx.borrow().generation, 1);
        let start = Instant::now();
        assert_eq!(publisher.publish_due(&state, 1, start), None, "same generation: nothing new");
        let wait = publisher.publish_due(&state, 2, start).expect("too soon after the first");
        assert!(wait <= PUBLISH_EVERY);
        assert_eq!(rx.borrow().generation, 1);
        assert_eq!(publisher.publish_due(&state, 2, start + PUBLISH_EVERY), None);
        assert_eq!(rx.borrow().generation, 2);
    }

    #[test]
    fn a_snapshot_keeps_its_course_while_the_live_state_changes_a_copy() {
        use facilitator_bot::{Change, CourseId, PersonId};
        let mut state = State::default();
        let person = PersonId(1);
        state.apply(&Change::PersonRegistered {
            person,
            account: facilitator_bot::Account { platform: "memory".into(), handle: "ana".into() },
            name: "Ana".into(),
        });
        let mut publisher = Publisher::default();
        let rx = publisher.subscribe(&state, 1);
        state.apply(&Change::PersonRenamed { person, name: "Ana B".into() });
        assert_eq!(rx.borrow().state.persons[&person].name, "Ana");
        assert_eq!(state.persons[&person].name, "Ana B");
        assert!(state.course(&CourseId(1)).is_none());
    }
}
