//! The platform-neutral chat boundary: typed ids, inbound events, outbound messages, the
//! [`ChatAdapter`] trait every platform implements, and [`InMemoryChat`], the local adapter the
//! console, the demo and the tests run on.
//!
//! The domain never sees anything from this crate: the runtime turns [`ChatEvent`]s into domain
//! inputs and domain effects into calls on a [`ChatAdapter`].

#[cfg(any(test, feature = "testing"))]
pub mod conformance;
mod error;
mod ids;
mod memory;
mod message;

use async_trait::async_trait;

pub use error::{AdapterError, AdapterErrorKind};
pub use ids::{ChatId, IdError, MessageMarker, MessageRef, Platform, RoomMarker, RoomRef, UserMarker, UserRef};
pub use memory::{Delivery, DeliveryKind, DriverError, InMemoryChat, LOBBY, MemoryDriver};
pub use message::{Attachment, AttachmentError, ChatEvent, IncomingMessage, OutgoingMessage, RoomSpec, Segment};

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

    /// Fetches an attachment of a message, reading at most `limit` bytes: a file the platform
    /// says is larger is not fetched at all, and one that turns out larger is abandoned as soon
    /// as it passes the limit. The default: this platform has no attachments.
    ///
    /// # Errors
    /// [`AttachmentError::TooLarge`] past the limit, else [`AttachmentError::Unavailable`].
    /// Implementations read through a [`CappedBody`].
    async fn fetch_attachment(&self, attachment: &Attachment, limit: u64) -> Result<Vec<u8>, AttachmentError> {
        let _ = (attachment, limit);
        Err(AttachmentError::Unavailable("this platform has no attachments".into()))
    }

    /// Gives a member of a room its course role's rights there (a Matrix power level, a Discord
    /// role); `None` takes them away.
    ///
    /// # Errors
    /// An [`AdapterError`] whose kind tells whether to retry.
    async fn set_role(&self, room: &RoomRef, user: &UserRef, role: Option<CourseRole>) -> Result<(), AdapterError>;

    /// Invitations into rooms, where the platform has them (Matrix): the bot is asked into a
    /// room and answers. `None` (the default): nobody invites the bot here.
    fn invitations(&self) -> Option<&dyn Invitations> {
        None
    }

    /// Resume points, where the platform reads back what was missed from a saved position
    /// (a Matrix sync token). `None` (the default): the platform has its own way back after a
    /// restart (Discord's session resume and read-back of recent commands) or none at all.
    fn resume_points(&self) -> Option<&dyn ResumePoints> {
        None
    }
}

/// The capability to answer invitations ([`ChatAdapter::invitations`]).
#[async_trait]
pub trait Invitations: Send + Sync {
    /// Accepts or declines an invitation reported by [`ChatEvent::Invited`].
    ///
    /// # Errors
    /// An [`AdapterError`] whose kind tells whether to retry.
    async fn answer_invite(&self, room: &RoomRef, accept: bool) -> Result<(), AdapterError>;
}

/// The capability to resume from a saved position ([`ChatAdapter::resume_points`]).
#[async_trait]
pub trait ResumePoints: Send + Sync {
    /// Records that everything up to a [`ChatEvent::Checkpoint`] has been stored.
    ///
    /// # Errors
    /// When the token cannot be saved (the events after it are then delivered again later).
    async fn checkpoint(&self, token: &str) -> Result<(), AdapterError>;
}

/// The token a platform deduplicates by (a Discord nonce, a Matrix transaction id), made from an
/// effect's idempotency key: the first `hex_digits` hex digits of its SHA-256, so the same key
/// always gives the same token, across restarts and instances.
pub fn key_digest(key: &str, hex_digits: usize) -> String {
    use sha2::{Digest, Sha256};
    let hex: String = Sha256::digest(key.as_bytes()).iter().map(|b| format!("{b:02x}")).collect();
    hex[..hex_digits.min(hex.len())].to_owned()
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

/// A file's body read piece by piece under a limit: a declared size over the limit is refused
/// before anything is read, and reading stops as soon as what arrived passes it. The one way
/// every adapter reads files.
#[derive(Debug)]
pub struct CappedBody {
    limit: u64,
    body: Vec<u8>,
}

impl CappedBody {
    /// Starts reading a body whose size the platform may have declared.
    ///
    /// # Errors
    /// [`AttachmentError::TooLarge`] when the declared size is over the limit.
    pub fn new(declared: Option<u64>, limit: u64) -> Result<CappedBody, AttachmentError> {
        if declared.is_some_and(|size| size > limit) {
            return Err(AttachmentError::TooLarge { limit });
        }
        Ok(CappedBody { limit, body: Vec::new() })
    }

    /// Adds what arrived.
    ///
    /// # Errors
    /// [`AttachmentError::TooLarge`] once the body passes the limit: stop reading.
    pub fn push(&mut self, piece: &[u8]) -> Result<(), AttachmentError> {
        if (self.body.len() + piece.len()) as u64 > self.limit {
            return Err(AttachmentError::TooLarge { limit: self.limit });
        }
        self.body.extend_from_slice(piece);
        Ok(())
    }

    /// The whole body.
    pub fn finish(self) -> Vec<u8> {
        self.body
    }
}

#[cfg(test)]
mod capped_tests {
    use super::*;

    #[test]
    fn a_key_gives_the_same_digest_every_time_cut_to_the_length_asked() {
        // SHA-256 of "abc", a published test vector.
        assert_eq!(key_digest("abc", 25), "ba7816bf8f01cfea414140de5");
        assert_eq!(key_digest("abc", 99).len(), 64);
    }

    #[test]
    fn http_statuses_mean_the_same_on_every_platform() {
        use std::time::Duration;
        assert_eq!(
            AdapterErrorKind::from_http_status(Some(429), None),
            AdapterErrorKind::RateLimited { retry_after: Duration::from_secs(1) }
        );
        assert_eq!(AdapterErrorKind::from_http_status(Some(401), None), AdapterErrorKind::Fatal);
        assert_eq!(AdapterErrorKind::from_http_status(Some(422), None), AdapterErrorKind::InvalidInput);
        assert_eq!(AdapterErrorKind::from_http_status(Some(502), None), AdapterErrorKind::Transient);
        assert_eq!(AdapterErrorKind::from_http_status(None, None), AdapterErrorKind::Transient);
    }

    #[test]
    fn a_file_declared_too_large_is_refused_before_reading() {
        assert_eq!(CappedBody::new(Some(11), 10).unwrap_err(), AttachmentError::TooLarge { limit: 10 });
    }

    #[test]
    fn a_file_without_a_size_is_abandoned_as_soon_as_it_passes_the_limit() {
        let mut body = CappedBody::new(None, 10).unwrap();
        body.push(&[b'x'; 6]).unwrap();
        assert_eq!(body.push(&[b'x'; 6]), Err(AttachmentError::TooLarge { limit: 10 }));
    }

    #[test]
    fn a_file_within_the_limit_is_read_whole() {
        let mut body = CappedBody::new(Some(10), 10).unwrap();
        body.push(&[b'x'; 4]).unwrap();
        body.push(&[b'y'; 6]).unwrap();
        assert_eq!(body.finish().len(), 10);
    }
}
