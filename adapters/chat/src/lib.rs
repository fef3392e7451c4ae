//! The platform-neutral chat boundary: typed ids, inbound events, outbound messages, the
//! [`ChatAdapter`] trait every platform implements, and [`InMemoryChat`], the local adapter the
//! console, the demo and the tests run on.
//!
//! The domain never sees anything from this crate: the runtime turns [`ChatEvent`]s into domain
//! inputs and domain effects into calls on a [`ChatAdapter`].

mod error;
mod ids;
mod memory;
mod message;

use async_trait::async_trait;

pub use error::{AdapterError, AdapterErrorKind};
pub use ids::{ChatId, IdError, MessageMarker, MessageRef, Platform, RoomMarker, RoomRef, UserMarker, UserRef};
pub use memory::{Delivery, DeliveryKind, DriverError, InMemoryChat, LOBBY, MemoryDriver};
pub use message::{ChatEvent, IncomingMessage, OutgoingMessage, RoomSpec, Segment};

/// Events from a platform, in the order the platform delivered them.
pub type EventStream = tokio::sync::mpsc::Receiver<ChatEvent>;

/// A live connection to one chat platform. Object-safe: the runtime holds `Arc<dyn ChatAdapter>`.
///
/// Every call that posts takes the effect's idempotency key: an adapter uses it where the
/// platform can (a Matrix transaction id) and otherwise remembers it, so a retry after a crash
/// does not post twice.
#[async_trait]
pub trait ChatAdapter: Send + Sync + std::fmt::Debug {
    /// Which platform this is.
    fn platform(&self) -> Platform;

    /// Starts receiving. The stream ends on shutdown or a fatal error.
    ///
    /// # Errors
    /// When the platform cannot be reached or refuses the bot's credentials.
    async fn connect(&self) -> Result<EventStream, AdapterError>;

    /// Creates the space (Matrix) or category (Discord) that groups a school's rooms.
    ///
    /// # Errors
    /// An [`AdapterError`] whose kind tells whether to retry.
    async fn create_space(&self, name: &str, key: &str) -> Result<RoomRef, AdapterError>;

    /// Creates a course room.
    ///
    /// # Errors
    /// An [`AdapterError`] whose kind tells whether to retry.
    async fn create_room(&self, spec: &RoomSpec, key: &str) -> Result<RoomRef, AdapterError>;

    /// Sets a room's topic.
    ///
    /// # Errors
    /// An [`AdapterError`] whose kind tells whether to retry.
    async fn set_topic(&self, room: &RoomRef, topic: &str) -> Result<(), AdapterError>;

    /// Invites (or adds) a user to a room.
    ///
    /// # Errors
    /// An [`AdapterError`] whose kind tells whether to retry.
    async fn invite(&self, room: &RoomRef, user: &UserRef) -> Result<(), AdapterError>;

    /// Posts a message in a room (a reply when `message.reply_to` is set).
    ///
    /// # Errors
    /// An [`AdapterError`] whose kind tells whether to retry.
    async fn send(&self, room: &RoomRef, message: &OutgoingMessage, key: &str) -> Result<MessageRef, AdapterError>;

    /// Sends a direct message, opening (or reusing) the one-to-one room with `user`.
    ///
    /// # Errors
    /// An [`AdapterError`] whose kind tells whether to retry.
    async fn send_direct(
        &self,
        user: &UserRef,
        message: &OutgoingMessage,
        key: &str,
    ) -> Result<MessageRef, AdapterError>;

    /// Opens a thread on a message the bot posted, named `name` where the platform names
    /// threads, and returns its handle for [`OutgoingMessage::thread`]. On Matrix a thread is
    /// any message with replies in it, so the handle is the message itself (the default); on
    /// Discord a thread is a channel started from the message.
    ///
    /// # Errors
    /// An [`AdapterError`] whose kind tells whether to retry.
    async fn open_thread(&self, root: &MessageRef, name: &str, key: &str) -> Result<MessageRef, AdapterError> {
        let _ = (name, key);
        Ok(root.clone())
    }

    /// Whether the platform answers with the bot's credentials (for `/healthz`).
    ///
    /// # Errors
    /// When it does not.
    async fn health(&self) -> Result<(), AdapterError> {
        Ok(())
    }

    /// Reads a user as people type them on this platform (`@ana`, `@ana:example.org`, `<@81234>`)
    /// where the text alone says who it is.
    fn parse_user(&self, text: &str) -> Option<UserRef>;

    /// Finds who a typed name means where the text alone does not say (a Discord `@name`
    /// typed as text): asks the platform, and answers only when exactly one account has that
    /// name. The default reads the text alone.
    async fn find_user(&self, text: &str) -> UserLookup {
        self.parse_user(text).map_or(UserLookup::Unknown, UserLookup::Found)
    }

    /// Gives a member of a room its course role's rights there (a Matrix power level, a Discord
    /// role); `None` takes them away.
    ///
    /// # Errors
    /// An [`AdapterError`] whose kind tells whether to retry.
    async fn set_role(&self, room: &RoomRef, user: &UserRef, role: Option<CourseRole>) -> Result<(), AdapterError>;

    /// Accepts or declines an invitation reported by [`ChatEvent::Invited`].
    ///
    /// # Errors
    /// An [`AdapterError`] whose kind tells whether to retry.
    async fn answer_invite(&self, room: &RoomRef, accept: bool) -> Result<(), AdapterError>;

    /// Records that everything up to a [`ChatEvent::Checkpoint`] has been stored.
    ///
    /// # Errors
    /// When the token cannot be saved (the events after it are then delivered again later).
    async fn checkpoint(&self, token: &str) -> Result<(), AdapterError>;
}

/// Who a typed name means, as the platform answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UserLookup {
    /// Exactly this account.
    Found(UserRef),
    /// Nobody by that name.
    Unknown,
    /// Nobody by exactly that name, but these accounts (as the platform shows them, at most
    /// ten) could be meant: the asker must say which, with a real mention.
    Ambiguous(Vec<String>),
}

/// A person's role in a course, as platforms show it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CourseRole {
    /// Runs the course (a moderator in its room).
    Organizer,
    /// Covers what peers cannot.
    Mentor,
    /// Takes the course.
    Learner,
}
