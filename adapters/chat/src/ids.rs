//! Platform-neutral ids: opaque strings minted by one adapter, typed by what they name.

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

/// A chat platform.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Platform {
    /// The in-memory adapter (console, demo, tests).
    Memory,
    Matrix,
    Discord,
}

impl Platform {
    /// Lowercase name, also the stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            Platform::Memory => "memory",
            Platform::Matrix => "matrix",
            Platform::Discord => "discord",
        }
    }

    /// From the stored form.
    pub fn parse(text: &str) -> Option<Platform> {
        match text {
            "memory" => Some(Platform::Memory),
            "matrix" => Some(Platform::Matrix),
            "discord" => Some(Platform::Discord),
            _ => None,
        }
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Marks a room id.
#[derive(Debug)]
pub enum RoomMarker {}
/// Marks a user id.
#[derive(Debug)]
pub enum UserMarker {}
/// Marks a message id.
#[derive(Debug)]
pub enum MessageMarker {}

/// An id that only the minting adapter interprets (`!abc:server`, a snowflake, `ana`).
pub struct ChatId<M> {
    platform: Platform,
    raw: Arc<str>,
    _marker: PhantomData<fn(M) -> M>,
}

/// An id that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{0}' is not a usable id: ids are 1 to 255 visible characters")]
pub struct IdError(pub String);

impl<M> ChatId<M> {
    /// Makes an id, checking it is 1 to 255 characters with no control characters.
    ///
    /// # Errors
    /// When it is empty, too long, or has control characters.
    pub fn new(platform: Platform, raw: &str) -> Result<Self, IdError> {
        if raw.is_empty() || raw.len() > 255 || raw.chars().any(char::is_control) {
            return Err(IdError(raw.chars().take(40).collect()));
        }
        Ok(ChatId { platform, raw: Arc::from(raw), _marker: PhantomData })
    }

    /// The platform that minted it.
    pub fn platform(&self) -> Platform {
        self.platform
    }

    /// The platform's own id text.
    pub fn raw(&self) -> &str {
        &self.raw
    }
}

impl<M> Clone for ChatId<M> {
    fn clone(&self) -> Self {
        ChatId { platform: self.platform, raw: Arc::clone(&self.raw), _marker: PhantomData }
    }
}
impl<M> PartialEq for ChatId<M> {
    fn eq(&self, other: &Self) -> bool {
        self.platform == other.platform && self.raw == other.raw
    }
}
impl<M> Eq for ChatId<M> {}
impl<M> PartialOrd for ChatId<M> {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl<M> Ord for ChatId<M> {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.platform, &*self.raw).cmp(&(other.platform, &*other.raw))
    }
}
impl<M> std::hash::Hash for ChatId<M> {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.platform.hash(state);
        self.raw.hash(state);
    }
}
impl<M> fmt::Debug for ChatId<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.platform, self.raw)
    }
}
impl<M> fmt::Display for ChatId<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.raw)
    }
}

/// A room (or channel).
pub type RoomRef = ChatId<RoomMarker>;
/// A user.
pub type UserRef = ChatId<UserMarker>;

/// A message in a room.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MessageRef {
    /// The room.
    pub room: RoomRef,
    /// The message's id in that room.
    pub id: ChatId<MessageMarker>,
}
