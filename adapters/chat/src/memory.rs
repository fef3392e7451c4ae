//! The in-memory adapter: a real, complete chat platform that lives in the process.
//!
//! It is the adapter of the console and the demo, and the one most tests use: rooms, members,
//! direct conversations and messages exist for real, so the runtime does exactly what it does on
//! Matrix or Discord. [`MemoryDriver`] is the other side: it speaks as users and reads what the
//! bot did.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use chrono::Utc;
use tokio::sync::mpsc;

use crate::error::{AdapterError, AdapterErrorKind};
use crate::ids::{ChatId, MessageRef, Platform, RoomRef, UserRef};
use crate::message::{Attachment, AttachmentError, ChatEvent, IncomingMessage, OutgoingMessage, RoomSpec};
use crate::{ChatAdapter, CourseRole, EventStream};

/// The room every in-memory community starts with.
pub const LOBBY: &str = "lobby";

/// What the bot did, as the in-memory platform saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delivery {
    /// What kind of thing.
    pub kind: DeliveryKind,
    /// The message, for posts and direct messages.
    pub message: Option<OutgoingMessage>,
    /// The name of the thread it was posted in, if any.
    pub thread: Option<String>,
    /// Where the platform keeps the message (its room and id), for posts and direct messages.
    pub id: Option<MessageRef>,
    /// When the platform received it.
    pub at: Instant,
}

/// The kinds of thing the bot does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DeliveryKind {
    /// A message in a room (by the room's name).
    Room(String),
    /// A direct message to a user.
    Direct(String),
    /// A room or space was created.
    Created {
        /// Its name.
        name: String,
        /// A space (for a school) rather than a room.
        space: bool,
        /// Its parent's name.
        parent: Option<String>,
    },
    /// A user was invited into a room.
    Invited {
        /// Room name.
        room: String,
        user: String,
    },
    /// A topic changed.
    Topic {
        /// Room name.
        room: String,
        topic: String,
    },
}

impl Delivery {
    /// The message as plain text, if this is a message.
    pub fn text(&self) -> Option<String> {
        self.message.as_ref().map(OutgoingMessage::plain)
    }
}

#[derive(Debug, Default)]
struct Room {
    name: String,
    topic: String,
    space: bool,
    parent: Option<String>,
    members: BTreeSet<String>,
    direct_with: Option<String>,
    roles: BTreeMap<String, CourseRole>,
}

#[derive(Debug)]
struct Inner {
    nonce: String,
    next: u64,
    rooms: BTreeMap<String, Room>,
    sent_keys: BTreeMap<String, MessageRef>,
    threads: BTreeMap<MessageRef, String>,
    deliveries: Vec<Delivery>,
    events: Option<mpsc::Sender<ChatEvent>>,
    backlog: Vec<ChatEvent>,
    failures: BTreeMap<String, AdapterErrorKind>,
    /// Attached files by source, and the sources the bot fetched, in order.
    files: BTreeMap<String, Vec<u8>>,
    fetched: Vec<String>,
    /// Display names people chose (else they show their user name).
    shown: BTreeMap<String, String>,
}

/// The in-memory chat platform.
#[derive(Debug, Clone)]
pub struct InMemoryChat {
    inner: Arc<Mutex<Inner>>,
}

/// The other side of an [`InMemoryChat`]: users speaking, and what the bot did.
#[derive(Debug, Clone)]
pub struct MemoryDriver {
    inner: Arc<Mutex<Inner>>,
}

fn lock(inner: &Mutex<Inner>) -> MutexGuard<'_, Inner> {
    // A panic while holding the lock cannot leave the maps half-updated in a way that matters
    // more than losing the whole platform, so keep going with what is there.
    inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn is_user_name(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 64
        && text.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

impl InMemoryChat {
    /// A new platform with a lobby, and its driver.
    pub fn new() -> (InMemoryChat, MemoryDriver) {
        // Message ids must not repeat across runs on one database, or the runtime's inbound
        // deduplication would drop new messages as replays.
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        let mut rooms = BTreeMap::new();
        rooms.insert(LOBBY.to_owned(), Room { name: LOBBY.to_owned(), ..Room::default() });
        let inner = Arc::new(Mutex::new(Inner {
            nonce: format!("{nanos:x}"),
            next: 0,
            rooms,
            sent_keys: BTreeMap::new(),
            threads: BTreeMap::new(),
            deliveries: Vec::new(),
            events: None,
            backlog: Vec::new(),
            failures: BTreeMap::new(),
            files: BTreeMap::new(),
            fetched: Vec::new(),
            shown: BTreeMap::new(),
        }));
        (InMemoryChat { inner: Arc::clone(&inner) }, MemoryDriver { inner })
    }

    fn room_ref(raw: &str) -> RoomRef {
        RoomRef::new(Platform::Memory, raw).expect("room names are valid ids")
    }
}

impl Inner {
    fn next_id(&mut self) -> String {
        self.next += 1;
        format!("{}-{}", self.nonce, self.next)
    }

    fn check_failure(&mut self, op: &str) -> Result<(), AdapterError> {
        match self.failures.remove(op) {
            Some(kind) => Err(AdapterError::new(kind, format!("injected failure of {op}"))),
            None => Ok(()),
        }
    }

    fn unique_room_name(&self, wanted: &str) -> String {
        if !self.rooms.contains_key(wanted) {
            return wanted.to_owned();
        }
        (2..).map(|n| format!("{wanted}-{n}")).find(|n| !self.rooms.contains_key(n)).expect("some name is free")
    }

    fn post(&mut self, room_raw: &str, message: &OutgoingMessage, key: &str) -> Result<MessageRef, AdapterError> {
        if let Some(done) = self.sent_keys.get(key) {
            return Ok(done.clone());
        }
        let Some(room) = self.rooms.get(room_raw) else {
            return Err(AdapterError::new(AdapterErrorKind::NotFound, format!("no room {room_raw}")));
        };
        let kind = match &room.direct_with {
            Some(user) => DeliveryKind::Direct(user.clone()),
            None => DeliveryKind::Room(room.name.clone()),
        };
        let id = self.next_id();
        let message_ref = MessageRef {
            room: InMemoryChat::room_ref(room_raw),
            id: ChatId::new(Platform::Memory, &id).expect("generated ids are valid"),
        };
        self.deliveries.push(Delivery {
            kind,
            message: Some(message.clone()),
            thread: message.thread.as_ref().map(|t| self.threads.get(t).cloned().unwrap_or_else(|| t.id.to_string())),
            id: Some(message_ref.clone()),
            at: Instant::now(),
        });
        self.sent_keys.insert(key.to_owned(), message_ref.clone());
        Ok(message_ref)
    }

    /// Adds a room or space, records the creation under its idempotency key, and tells.
    fn create(&mut self, raw: String, room: Room, kind: DeliveryKind, key: &str) -> Result<RoomRef, AdapterError> {
        let id = ChatId::new(Platform::Memory, key)
            .map_err(|e| AdapterError::new(AdapterErrorKind::InvalidInput, e.to_string()))?;
        self.rooms.insert(raw.clone(), room);
        self.deliveries.push(Delivery { kind, message: None, thread: None, id: None, at: Instant::now() });
        let room_ref = InMemoryChat::room_ref(&raw);
        self.sent_keys.insert(key.to_owned(), MessageRef { room: room_ref.clone(), id });
        Ok(room_ref)
    }

    fn emit(&mut self, event: ChatEvent) -> Option<(mpsc::Sender<ChatEvent>, ChatEvent)> {
        // A bot that is not listening (stopped, or not started yet) finds it when it connects.
        match &self.events {
            Some(tx) if !tx.is_closed() => Some((tx.clone(), event)),
            _ => {
                self.backlog.push(event);
                None
            }
        }
    }
}

#[async_trait]
impl ChatAdapter for InMemoryChat {
    fn platform(&self) -> Platform {
        Platform::Memory
    }

    async fn connect(&self) -> Result<EventStream, AdapterError> {
        let (tx, rx) = mpsc::channel(1024);
        let backlog = {
            let mut inner = lock(&self.inner);
            inner.events = Some(tx.clone());
            std::mem::take(&mut inner.backlog)
        };
        for event in backlog {
            tx.send(event).await.map_err(|_| AdapterError::new(AdapterErrorKind::Fatal, "event stream closed"))?;
        }
        Ok(rx)
    }

    async fn create_space(&self, name: &str, key: &str) -> Result<RoomRef, AdapterError> {
        let mut inner = lock(&self.inner);
        inner.check_failure("create_space")?;
        if let Some(done) = inner.sent_keys.get(key) {
            return Ok(done.room.clone());
        }
        let raw = inner.unique_room_name(&format!("space:{name}"));
        let kind = DeliveryKind::Created { name: name.to_owned(), space: true, parent: None };
        inner.create(raw, Room { name: name.to_owned(), space: true, ..Room::default() }, kind, key)
    }

    async fn create_room(&self, spec: &RoomSpec, key: &str) -> Result<RoomRef, AdapterError> {
        let mut inner = lock(&self.inner);
        inner.check_failure("create_room")?;
        if let Some(done) = inner.sent_keys.get(key) {
            return Ok(done.room.clone());
        }
        let raw = inner.unique_room_name(&spec.name);
        let parent = spec.parent.as_ref().and_then(|p| inner.rooms.get(p.raw())).map(|r| r.name.clone());
        let room = Room { name: raw.clone(), topic: spec.topic.clone(), parent: parent.clone(), ..Room::default() };
        let kind = DeliveryKind::Created { name: raw.clone(), space: false, parent };
        inner.create(raw, room, kind, key)
    }

    async fn set_topic(&self, room: &RoomRef, topic: &str) -> Result<(), AdapterError> {
        let mut inner = lock(&self.inner);
        inner.check_failure("set_topic")?;
        let Some(r) = inner.rooms.get_mut(room.raw()) else {
            return Err(AdapterError::new(AdapterErrorKind::NotFound, format!("no room {room}")));
        };
        if r.topic == topic {
            return Ok(());
        }
        r.topic = topic.to_owned();
        let name = r.name.clone();
        inner.deliveries.push(Delivery {
            kind: DeliveryKind::Topic { room: name, topic: topic.to_owned() },
            message: None,
            thread: None,
            id: None,
            at: Instant::now(),
        });
        Ok(())
    }

    async fn invite(&self, room: &RoomRef, user: &UserRef) -> Result<(), AdapterError> {
        let mut inner = lock(&self.inner);
        inner.check_failure("invite")?;
        let Some(r) = inner.rooms.get_mut(room.raw()) else {
            return Err(AdapterError::new(AdapterErrorKind::NotFound, format!("no room {room}")));
        };
        // Inviting someone already in the room is a no-op, as on the real platforms.
        if r.members.insert(user.raw().to_owned()) {
            let name = r.name.clone();
            inner.deliveries.push(Delivery {
                kind: DeliveryKind::Invited { room: name, user: user.raw().to_owned() },
                message: None,
                thread: None,
                id: None,
                at: Instant::now(),
            });
        }
        Ok(())
    }

    async fn send(&self, room: &RoomRef, message: &OutgoingMessage, key: &str) -> Result<MessageRef, AdapterError> {
        let mut inner = lock(&self.inner);
        inner.check_failure("send")?;
        inner.post(room.raw(), message, key)
    }

    async fn send_direct(
        &self,
        user: &UserRef,
        message: &OutgoingMessage,
        key: &str,
    ) -> Result<MessageRef, AdapterError> {
        let mut inner = lock(&self.inner);
        inner.check_failure("send_direct")?;
        let raw = format!("dm:{}", user.raw());
        inner.rooms.entry(raw.clone()).or_insert_with(|| Room {
            name: raw.clone(),
            direct_with: Some(user.raw().to_owned()),
            members: [user.raw().to_owned()].into_iter().collect(),
            ..Room::default()
        });
        inner.post(&raw, message, key)
    }

    async fn open_thread(&self, root: &MessageRef, name: &str, _key: &str) -> Result<MessageRef, AdapterError> {
        let mut inner = lock(&self.inner);
        inner.check_failure("open_thread")?;
        if !inner.rooms.contains_key(root.room.raw()) {
            return Err(AdapterError::new(AdapterErrorKind::NotFound, format!("no room {}", root.room)));
        }
        inner.threads.entry(root.clone()).or_insert_with(|| name.to_owned());
        Ok(root.clone())
    }

    fn parse_user(&self, text: &str) -> Option<UserRef> {
        let name = text.strip_prefix('@').unwrap_or(text);
        is_user_name(name).then(|| UserRef::new(Platform::Memory, name).ok()).flatten()
    }

    async fn set_role(&self, room: &RoomRef, user: &UserRef, role: Option<CourseRole>) -> Result<(), AdapterError> {
        let mut inner = lock(&self.inner);
        inner.check_failure("set_role")?;
        let Some(r) = inner.rooms.get_mut(room.raw()) else {
            return Err(AdapterError::new(AdapterErrorKind::NotFound, format!("no room {room}")));
        };
        match role {
            Some(role) => r.roles.insert(user.raw().to_owned(), role),
            None => r.roles.remove(user.raw()),
        };
        Ok(())
    }

    async fn fetch_attachment(&self, attachment: &Attachment, limit: u64) -> Result<Vec<u8>, AttachmentError> {
        let bytes = {
            let mut inner = lock(&self.inner);
            inner.fetched.push(attachment.source.clone());
            inner.files.get(&attachment.source).cloned()
        };
        let Some(bytes) = bytes else { return Err(AttachmentError::Unavailable("no such file".into())) };
        // Read in pieces as a network body arrives, so the limit works as it does on a platform.
        let mut body = crate::CappedBody::new(attachment.size, limit)?;
        for piece in bytes.chunks(4096) {
            body.push(piece)?;
        }
        Ok(body.finish())
    }
}

/// Why the driver could not do something.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DriverError {
    /// No room of that name.
    #[error("there is no room named '{0}'")]
    NoRoom(String),
    /// Not a valid user name.
    #[error("'{0}' is not a user name (letters, digits, '.', '_', '-')")]
    BadUser(String),
    /// No thread of that name in the room.
    #[error("there is no thread '{1}' in '{0}'")]
    NoThread(String, String),
    /// The runtime is not listening.
    #[error("the bot is not connected")]
    Closed,
}

impl MemoryDriver {
    /// A user says `text` in the room named `room` (`lobby`, a course slug), or to the bot
    /// directly when `room` is `dm`.
    ///
    /// # Errors
    /// When the room does not exist or the user name is not valid.
    pub async fn say(&self, user: &str, room: &str, text: &str) -> Result<MessageRef, DriverError> {
        self.say_in(user, room, None, text, None).await
    }

    /// A user says `text` with a file attached; `declared` is whether the event says its size
    /// (a Matrix client may leave it out).
    ///
    /// # Errors
    /// When the room does not exist or the user name is not valid.
    pub async fn say_with_file(
        &self,
        user: &str,
        room: &str,
        text: &str,
        (name, bytes): (&str, &[u8]),
        declared: bool,
    ) -> Result<MessageRef, DriverError> {
        let source = {
            let mut inner = lock(&self.inner);
            let source = format!("memory://file/{}", inner.next_id());
            inner.files.insert(source.clone(), bytes.to_vec());
            source
        };
        let size = declared.then_some(bytes.len() as u64);
        self.say_in(user, room, None, text, Some(Attachment { name: name.to_owned(), size, source })).await
    }

    /// The files the bot fetched, by name of source, in order.
    pub fn fetched_files(&self) -> Vec<String> {
        lock(&self.inner).fetched.clone()
    }

    /// A user says `text` in the thread of the room named `room` whose name starts with
    /// `thread` (case-insensitively: `week 2` finds `Week 2: Cleaning data`).
    ///
    /// # Errors
    /// When the room or the thread does not exist, or the user name is not valid.
    pub async fn say_in_named_thread(
        &self,
        user: &str,
        room: &str,
        thread: &str,
        text: &str,
    ) -> Result<MessageRef, DriverError> {
        let wanted = thread.trim().to_lowercase();
        let root = {
            let inner = lock(&self.inner);
            inner
                .threads
                .iter()
                .filter(|(root, _)| inner.rooms.get(root.room.raw()).is_some_and(|r| r.name == room))
                .find(|(_, name)| name.to_lowercase().starts_with(&wanted))
                .map(|(root, _)| root.clone())
        };
        let Some(root) = root else { return Err(DriverError::NoThread(room.to_owned(), thread.trim().to_owned())) };
        self.say_in(user, room, Some(root), text, None).await
    }

    async fn say_in(
        &self,
        user: &str,
        room: &str,
        thread: Option<MessageRef>,
        text: &str,
        attachment: Option<Attachment>,
    ) -> Result<MessageRef, DriverError> {
        if !is_user_name(user) {
            return Err(DriverError::BadUser(user.to_owned()));
        }
        let (pending, message_ref) = {
            let mut inner = lock(&self.inner);
            let (raw, is_direct) = if room == "dm" {
                let raw = format!("dm:{user}");
                inner.rooms.entry(raw.clone()).or_insert_with(|| Room {
                    name: raw.clone(),
                    direct_with: Some(user.to_owned()),
                    members: [user.to_owned()].into_iter().collect(),
                    ..Room::default()
                });
                (raw, true)
            } else {
                match inner.rooms.iter().find(|(_, r)| r.name == room && !r.space && r.direct_with.is_none()) {
                    Some((raw, _)) => (raw.clone(), false),
                    None => return Err(DriverError::NoRoom(room.to_owned())),
                }
            };
            let id = inner.next_id();
            let message_ref = MessageRef {
                room: InMemoryChat::room_ref(&raw),
                id: ChatId::new(Platform::Memory, &id).expect("generated ids are valid"),
            };
            let event = ChatEvent::Message(IncomingMessage {
                id: message_ref.clone(),
                event_id: id,
                author: UserRef::new(Platform::Memory, user).expect("checked above"),
                author_name: inner.shown.get(user).cloned().unwrap_or_else(|| user.to_owned()),
                text: text.to_owned(),
                is_direct,
                thread,
                sent_at: Utc::now(),
                needs_answer: false,
                attachment,
            });
            (inner.emit(event), message_ref)
        };
        if let Some((tx, event)) = pending {
            tx.send(event).await.map_err(|_| DriverError::Closed)?;
        }
        Ok(message_ref)
    }

    /// A user says `text` in the thread on the message `root` (its id) of the room named `room`.
    ///
    /// # Errors
    /// When the room or the thread does not exist, or the user name is not valid.
    pub async fn say_in_thread_on(
        &self,
        user: &str,
        room: &str,
        root: &str,
        text: &str,
    ) -> Result<MessageRef, DriverError> {
        let found = {
            let inner = lock(&self.inner);
            inner
                .threads
                .keys()
                .find(|r| r.id.raw() == root && inner.rooms.get(r.room.raw()).is_some_and(|x| x.name == room))
                .cloned()
        };
        let Some(found) = found else { return Err(DriverError::NoThread(room.to_owned(), root.to_owned())) };
        self.say_in(user, room, Some(found), text, None).await
    }

    /// Everything the bot did that [`MemoryDriver::take_deliveries`] has not taken yet, left
    /// in place.
    pub fn deliveries(&self) -> Vec<Delivery> {
        lock(&self.inner).deliveries.clone()
    }

    /// Brings back a thread after a restart of the in-memory platform (see
    /// [`MemoryDriver::restore_room`]).
    pub fn restore_thread(&self, room_raw: &str, root_raw: &str, name: &str) {
        let (Ok(room), Ok(id)) = (RoomRef::new(Platform::Memory, room_raw), ChatId::new(Platform::Memory, root_raw))
        else {
            return;
        };
        lock(&self.inner).threads.insert(MessageRef { room, id }, name.to_owned());
    }

    /// `user` changes the name others see (their messages carry it from now on).
    pub fn set_display_name(&self, user: &str, name: &str) {
        lock(&self.inner).shown.insert(user.to_owned(), name.to_owned());
    }

    /// A user joins a room on the platform itself (not through the bot).
    ///
    /// # Errors
    /// When the room does not exist or the user name is not valid.
    pub async fn join(&self, user: &str, room: &str) -> Result<(), DriverError> {
        if !is_user_name(user) {
            return Err(DriverError::BadUser(user.to_owned()));
        }
        let pending = {
            let mut inner = lock(&self.inner);
            let Some(raw) = inner.rooms.iter().find(|(_, r)| r.name == room && !r.space).map(|(raw, _)| raw.clone())
            else {
                return Err(DriverError::NoRoom(room.to_owned()));
            };
            if !inner.rooms.get_mut(&raw).expect("found above").members.insert(user.to_owned()) {
                return Ok(());
            }
            let event_id = inner.next_id();
            let name = inner.shown.get(user).cloned().unwrap_or_else(|| user.to_owned());
            inner.emit(ChatEvent::MemberJoined {
                event_id,
                room: InMemoryChat::room_ref(&raw),
                user: UserRef::new(Platform::Memory, user).expect("checked above"),
                name,
            })
        };
        if let Some((tx, event)) = pending {
            tx.send(event).await.map_err(|_| DriverError::Closed)?;
        }
        Ok(())
    }

    /// Takes everything the bot did since the last call.
    pub fn take_deliveries(&self) -> Vec<Delivery> {
        std::mem::take(&mut lock(&self.inner).deliveries)
    }

    /// Whether a room of that name exists (spaces excluded).
    pub fn has_room(&self, name: &str) -> bool {
        lock(&self.inner).rooms.values().any(|r| r.name == name && !r.space)
    }

    /// Members of a room, by name.
    pub fn members(&self, room: &str) -> Vec<String> {
        lock(&self.inner)
            .rooms
            .values()
            .find(|r| r.name == room)
            .map(|r| r.members.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// A room's topic.
    pub fn topic(&self, room: &str) -> Option<String> {
        lock(&self.inner).rooms.values().find(|r| r.name == room).map(|r| r.topic.clone())
    }

    /// A member's course role in a room, as the platform shows it.
    pub fn role(&self, room: &str, user: &str) -> Option<CourseRole> {
        lock(&self.inner).rooms.values().find(|r| r.name == room).and_then(|r| r.roles.get(user).copied())
    }

    /// The space or room a room was created in.
    pub fn parent(&self, room: &str) -> Option<String> {
        lock(&self.inner).rooms.values().find(|r| r.name == room).and_then(|r| r.parent.clone())
    }

    /// Puts back a room that existed on an earlier run of the process (the platform lives in
    /// memory, the bot's records of its rooms in the database), with its members.
    pub fn restore_room(&self, raw: &str, members: Vec<String>) {
        let mut inner = lock(&self.inner);
        let room =
            inner.rooms.entry(raw.to_owned()).or_insert_with(|| Room { name: raw.to_owned(), ..Room::default() });
        room.members.extend(members);
    }

    /// The next call of `operation` (`send`, `send_direct`, `create_room`, `create_space`,
    /// `invite`, `set_topic`) fails with `kind`: for testing the executor's retries.
    pub fn fail_next(&self, operation: &str, kind: AdapterErrorKind) {
        lock(&self.inner).failures.insert(operation.to_owned(), kind);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::Segment;

    fn msg(text: &str) -> OutgoingMessage {
        OutgoingMessage { segments: vec![Segment::Markdown(text.into())], ..OutgoingMessage::default() }
    }

    #[tokio::test]
    async fn a_message_sent_twice_with_one_key_is_delivered_once() {
        let (chat, driver) = InMemoryChat::new();
        let lobby = InMemoryChat::room_ref(LOBBY);
        let a = chat.send(&lobby, &msg("hi"), "k1").await.unwrap();
        let b = chat.send(&lobby, &msg("hi"), "k1").await.unwrap();
        assert_eq!(a, b);
        assert_eq!(driver.take_deliveries().len(), 1);
    }

    #[tokio::test]
    async fn users_speak_in_rooms_and_the_bot_receives_it() {
        let (chat, driver) = InMemoryChat::new();
        let mut events = chat.connect().await.unwrap();
        driver.say("ana", "lobby", "!help").await.unwrap();
        let ChatEvent::Message(m) = events.recv().await.unwrap() else { panic!() };
        assert_eq!((m.author.raw(), m.text.as_str(), m.is_direct), ("ana", "!help", false));
        assert_eq!(driver.say("ana", "nowhere", "x").await, Err(DriverError::NoRoom("nowhere".into())));
        driver.say("ana", "dm", "!progress").await.unwrap();
        let ChatEvent::Message(m) = events.recv().await.unwrap() else { panic!() };
        assert!(m.is_direct);
    }

    #[tokio::test]
    async fn rooms_get_unique_names_and_invites_add_members_once() {
        let (chat, driver) = InMemoryChat::new();
        let spec = RoomSpec { name: "data-101".into(), topic: "t".into(), parent: None };
        let a = chat.create_room(&spec, "a").await.unwrap();
        let b = chat.create_room(&spec, "b").await.unwrap();
        assert_eq!((a.raw(), b.raw()), ("data-101", "data-101-2"));
        let ana = chat.parse_user("@ana").unwrap();
        chat.invite(&a, &ana).await.unwrap();
        chat.invite(&a, &ana).await.unwrap();
        assert_eq!(driver.members("data-101"), vec!["ana"]);
        assert!(chat.parse_user("@a b").is_none());
    }

    #[tokio::test]
    async fn injected_failures_fail_once() {
        let (chat, driver) = InMemoryChat::new();
        driver.fail_next("send", AdapterErrorKind::Transient);
        let lobby = InMemoryChat::room_ref(LOBBY);
        assert!(chat.send(&lobby, &msg("x"), "k").await.unwrap_err().kind().is_retryable());
        assert!(chat.send(&lobby, &msg("x"), "k").await.is_ok());
    }
}
