//! The Matrix adapter: Facilitator on a Matrix homeserver, through matrix-sdk.
//!
//! - The bot logs in with a password or an access token; its session and its device keys live
//!   in `store_dir` (matrix-sdk's SQLite store), so a restart is the same device.
//! - It drives `sync_once` itself: matrix-sdk's `sync()` waits up to a second between syncs,
//!   which would add a second to every reply.
//! - Resuming is at-least-once: after each sync the adapter emits a
//!   [`ChatEvent::Checkpoint`] with the sync token; the runtime hands it back once it has stored
//!   what it decided, and only then is the token saved. After a crash the bot syncs from the last
//!   saved token and the runtime drops events it already handled (by event id).
//! - Every send carries a transaction id derived from the effect's idempotency key, so a resend
//!   after a crash is dropped by the homeserver.
//! - Schools are spaces; course rooms are created inside them, encrypted when configured, with
//!   the bot at power level 100 and organizers at 50.

#[cfg(feature = "testing")]
pub mod testing;
mod translate;

use std::path::{Path, PathBuf};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use matrix_sdk::authentication::matrix::MatrixSession;
use matrix_sdk::config::SyncSettings;
use matrix_sdk::ruma::api::client::room::create_room::v3::{CreationContent, Request as CreateRoomRequest, RoomPreset};
use matrix_sdk::ruma::events::room::member::{MembershipState, OriginalSyncRoomMemberEvent, StrippedRoomMemberEvent};
use matrix_sdk::ruma::events::room::message::{MessageType, OriginalSyncRoomMessageEvent, RoomMessageEventContent};
use matrix_sdk::ruma::events::room::power_levels::UserPowerLevel;
use matrix_sdk::ruma::events::room::{EncryptedFile, MediaSource};
use matrix_sdk::ruma::events::{AnyInitialStateEvent, Mentions};
use matrix_sdk::ruma::room::RoomType;
use matrix_sdk::ruma::serde::Raw;
use matrix_sdk::ruma::{OwnedMxcUri, OwnedRoomId, OwnedTransactionId, OwnedUserId, RoomId, UserId};
use matrix_sdk::{Client, Room, RoomState};
use serde_json::json;
use tokio::sync::mpsc;
use tracing::{info, warn};

use facilitator_chat::{
    AdapterError, AdapterErrorKind, Attachment, AttachmentError, CappedBody, ChatAdapter, ChatEvent, ChatId,
    CourseRole, EventStream, IncomingMessage, Invitations, MessageRef, OutgoingMessage, Platform, ResumePoints,
    RoomRef, RoomSpec, Segment, UserRef,
};

pub use translate::{
    MAX_PART_BYTES, classify, escape_markdown, inbound_text, markdown_to_html, parts, relation, render, thread_root,
    transaction_id,
};

/// Addresses tried for a room whose own is taken (`slug`, `slug-2` ... `slug-9`).
const ALIAS_TRIES: u32 = 9;
/// How an encrypted file's source is told apart from a plain `mxc://` URI.
const ENCRYPTED_SOURCE: &str = "encrypted:";
/// How long one sync waits for news.
const SYNC_TIMEOUT: Duration = Duration::from_secs(30);
/// Custom state that marks a room the bot created, with the effect's idempotency key, so a
/// creation retried after a crash finds the room instead of making a second one.
const KEY_EVENT: &str = "org.facilitator.created_for";
/// Where the rooms the bot created are kept by idempotency key, in the store directory.
const CREATED_FILE: &str = "created_rooms.json";

/// How the bot signs in.
#[derive(Clone)]
pub enum Credentials {
    /// A password (`FACILITATOR_MATRIX_PASSWORD`).
    Password(String),
    /// An access token (`FACILITATOR_MATRIX_ACCESS_TOKEN`).
    AccessToken(String),
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print a secret.
        f.write_str(match self {
            Credentials::Password(_) => "Password(***)",
            Credentials::AccessToken(_) => "AccessToken(***)",
        })
    }
}

/// The `[matrix]` configuration.
#[derive(Debug, Clone)]
pub struct MatrixConfig {
    /// Homeserver URL.
    pub homeserver: String,
    /// The bot's full user id (`@facilitator:example.org`).
    pub user: String,
    /// Where the session, keys and sync position are kept.
    pub store_dir: PathBuf,
    /// Whether new course rooms are end-to-end encrypted.
    pub encrypt_new_rooms: bool,
    /// Credentials, used when no session is stored yet.
    pub credentials: Option<Credentials>,
}

fn error_from(e: &matrix_sdk::Error) -> AdapterError {
    let api = e.as_client_api_error();
    let errcode = api.and_then(|a| match &a.body {
        matrix_sdk::ruma::api::error::ErrorBody::Standard(s) => Some(s.kind.errcode().to_string()),
        _ => None,
    });
    let retry_after = match e.client_api_error_kind() {
        Some(matrix_sdk::ruma::api::error::ErrorKind::LimitExceeded(data)) => match data.retry_after {
            Some(matrix_sdk::ruma::api::error::RetryAfter::Delay(d)) => Some(d),
            Some(matrix_sdk::ruma::api::error::RetryAfter::DateTime(t)) => {
                t.duration_since(std::time::SystemTime::now()).ok()
            }
            None => None,
        },
        _ => None,
    };
    let status = api.map(|a| a.status_code.as_u16());
    AdapterError::new(classify(errcode.as_deref(), status, retry_after), e.to_string())
}

fn invalid(message: impl Into<String>) -> AdapterError {
    AdapterError::new(AdapterErrorKind::InvalidInput, message)
}

/// The Matrix adapter.
#[derive(Debug, Clone)]
pub struct MatrixAdapter {
    client: Client,
    own: OwnedUserId,
    config: MatrixConfig,
    /// Rooms the bot created, by idempotency key, as kept in `created_rooms.json`.
    created: std::sync::Arc<std::sync::Mutex<std::collections::BTreeMap<String, OwnedRoomId>>>,
    /// The sync loop of the current connection, stopped by [`MatrixAdapter::shutdown`].
    syncing: std::sync::Arc<std::sync::Mutex<Option<tokio::task::JoinHandle<()>>>>,
}

impl MatrixAdapter {
    /// Signs in: restores the stored session, or logs in with the credentials and stores it.
    ///
    /// # Errors
    /// When the homeserver cannot be reached or refuses the credentials.
    pub async fn login(config: MatrixConfig) -> Result<MatrixAdapter, AdapterError> {
        let own = UserId::parse(&config.user).map_err(|e| invalid(format!("[matrix] user '{}': {e}", config.user)))?;
        make_private_dir(&config.store_dir)?;
        let client = Client::builder()
            .homeserver_url(&config.homeserver)
            .sqlite_store(config.store_dir.join("sdk"), None)
            .build()
            .await
            .map_err(|e| AdapterError::new(AdapterErrorKind::Fatal, format!("building the Matrix client: {e}")))?;
        let session_path = config.store_dir.join("session.json");
        if let Ok(text) = std::fs::read_to_string(&session_path) {
            let session: MatrixSession = serde_json::from_str(&text).map_err(|e| {
                AdapterError::new(AdapterErrorKind::Fatal, format!("reading {}: {e}", session_path.display()))
            })?;
            if session.meta.user_id != own {
                return Err(AdapterError::new(
                    AdapterErrorKind::Fatal,
                    format!(
                        "{} holds a session of {}, not {own}; use another store_dir",
                        session_path.display(),
                        session.meta.user_id
                    ),
                ));
            }
            client.restore_session(session).await.map_err(|e| error_from(&e))?;
            info!(user = %own, "restored the Matrix session");
        } else {
            match &config.credentials {
                Some(Credentials::Password(password)) => {
                    client
                        .matrix_auth()
                        .login_username(&own, password)
                        .initial_device_display_name("Facilitator")
                        .send()
                        .await
                        .map_err(|e| error_from(&e))?;
                }
                Some(Credentials::AccessToken(token)) => {
                    let device = whoami_device(&config.homeserver, token).await?;
                    let session = MatrixSession {
                        meta: matrix_sdk::SessionMeta { user_id: own.clone(), device_id: device.into() },
                        tokens: matrix_sdk::SessionTokens { access_token: token.clone(), refresh_token: None },
                    };
                    client.restore_session(session).await.map_err(|e| error_from(&e))?;
                }
                None => {
                    return Err(AdapterError::new(
                        AdapterErrorKind::Fatal,
                        "no Matrix session is stored yet: set FACILITATOR_MATRIX_PASSWORD or FACILITATOR_MATRIX_ACCESS_TOKEN",
                    ));
                }
            }
            let session = client
                .matrix_auth()
                .session()
                .ok_or_else(|| AdapterError::new(AdapterErrorKind::Fatal, "no session after login"))?;
            write_atomically(&session_path, &serde_json::to_string(&session).unwrap_or_default())?;
            info!(user = %own, "logged in to Matrix; the session is stored");
        }
        let created = std::fs::read_to_string(config.store_dir.join(CREATED_FILE))
            .ok()
            .and_then(|text| serde_json::from_str(&text).ok())
            .unwrap_or_default();
        Ok(MatrixAdapter {
            client,
            own,
            config,
            created: std::sync::Arc::new(std::sync::Mutex::new(created)),
            syncing: std::sync::Arc::default(),
        })
    }

    /// Stops syncing: nothing more is received (a stream ends only once its last sync does,
    /// up to 30 s later). What was received and not yet checkpointed comes again next time.
    pub fn shutdown(&self) {
        if let Some(sync) = self.syncing.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take() {
            sync.abort();
        }
    }

    /// The matrix-sdk client (for tests and tools).
    pub fn client(&self) -> &Client {
        &self.client
    }

    fn checkpoint_path(&self) -> PathBuf {
        self.config.store_dir.join("sync_token")
    }

    fn room(&self, room: &RoomRef) -> Result<Room, AdapterError> {
        let id = RoomId::parse(room.raw()).map_err(|e| invalid(format!("room id {room}: {e}")))?;
        let found = self
            .client
            .get_room(&id)
            .ok_or_else(|| AdapterError::new(AdapterErrorKind::NotFound, format!("the bot is not in {room}")))?;
        // A room the bot left or was removed from (a homeserver admin shut it down) refuses for
        // good: retrying would only hold the effect.
        if found.state() != RoomState::Joined {
            return Err(AdapterError::new(
                AdapterErrorKind::Forbidden,
                format!("the bot is no longer in {room} ({:?})", found.state()),
            ));
        }
        Ok(found)
    }

    fn user_id(user: &UserRef) -> Result<OwnedUserId, AdapterError> {
        UserId::parse(user.raw()).map_err(|e| invalid(format!("user id {user}: {e}")))
    }

    fn room_ref(id: &RoomId) -> RoomRef {
        RoomRef::new(Platform::Matrix, id.as_str()).expect("room ids are valid ids")
    }

    /// A room this bot created earlier for the same idempotency key: recorded in the store
    /// directory as soon as the server answered the creation (the local state knows a new
    /// room's marker only once a sync has brought it back, which a restart may not wait for),
    /// or marked so in a room's state.
    async fn created_for(&self, key: &str) -> Option<OwnedRoomId> {
        let made = self.created.lock().unwrap_or_else(std::sync::PoisonError::into_inner).get(key).cloned();
        if made.is_some() {
            return made;
        }
        let marked = |json: Option<serde_json::Value>| {
            let json = json?;
            let found = json
                .pointer("/content/key")
                .or_else(|| json.pointer("/event/content/key"))
                .or_else(|| json.pointer("/Sync/content/key"))?;
            found.as_str().map(str::to_owned)
        };
        for room in self.client.joined_rooms() {
            if let Ok(Some(raw)) = room.get_state_event(KEY_EVENT.into(), "").await
                && marked(serde_json::to_value(raw).ok()).as_deref() == Some(key)
            {
                return Some(room.room_id().to_owned());
            }
        }
        None
    }

    /// Records a room just created for `key`, before anything else is done with it.
    fn remember_created(&self, key: &str, room: &RoomId) -> Result<(), AdapterError> {
        let mut created = self.created.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        created.insert(key.to_owned(), room.to_owned());
        let text = serde_json::to_string(&*created).map_err(|e| invalid(e.to_string()))?;
        write_atomically(&self.config.store_dir.join(CREATED_FILE), &text)
    }

    async fn create(&self, mut request: CreateRoomRequest, key: &str) -> Result<OwnedRoomId, AdapterError> {
        if let Some(room) = self.created_for(key).await {
            return Ok(room);
        }
        request.initial_state.push(
            Raw::new(&json!({ "type": KEY_EVENT, "state_key": "", "content": { "key": key } }))
                .map_err(|e| invalid(e.to_string()))?
                .cast_unchecked::<AnyInitialStateEvent>(),
        );
        // The creator (the bot) already holds the highest level (room version 12 forbids listing
        // it); moderators (organizers, 50) may change state and invite.
        let power = json!({ "events_default": 0, "state_default": 50, "invite": 50 });
        request.power_level_content_override =
            Some(Raw::new(&power).map_err(|e| invalid(e.to_string()))?.cast_unchecked());
        let Some(wanted) = request.room_alias_name.clone() else {
            let room = self.client.create_room(request).await.map_err(|e| error_from(&e))?;
            self.remember_created(key, room.room_id())?;
            return Ok(room.room_id().to_owned());
        };
        // Someone else may hold the course's address: take the first free `slug-N`, else none,
        // and say so in the room, where its organizers read it.
        let mut tries = std::iter::once(wanted.clone()).chain((2..=ALIAS_TRIES).map(|n| format!("{wanted}-{n}")));
        let room = loop {
            request.room_alias_name = tries.next();
            match self.client.create_room(request.clone()).await {
                Ok(room) => break room,
                Err(e)
                    if request.room_alias_name.is_some()
                        && e.client_api_error_kind().is_some_and(|k| k.errcode().as_str() == "M_ROOM_IN_USE") => {}
                Err(e) => return Err(error_from(&e)),
            }
        };
        self.remember_created(key, room.room_id())?;
        if request.room_alias_name.as_deref() != Some(wanted.as_str()) {
            let server = self.own.server_name();
            let taken = format!("#{wanted}:{server}");
            let text = match &request.room_alias_name {
                Some(alias) => format!(
                    "ℹ️ The address `{taken}` already belongs to another room, so this room's address is `#{alias}:{server}`."
                ),
                None => format!(
                    "ℹ️ The address `{taken}` and its alternatives already belong to other rooms, so this room has no address; people come in with the bot's `!join`."
                ),
            };
            warn!(%taken, chosen = ?request.room_alias_name, "a room's address was taken");
            let notice = OutgoingMessage { segments: vec![Segment::Markdown(text)], ..OutgoingMessage::default() };
            self.send_to(&room, &notice, &format!("{key}:address")).await?;
        }
        Ok(room.room_id().to_owned())
    }

    /// Sends a message, in parts when it is too long for one event (the first part is the
    /// message's reference, a week's thread root). Each part has its own transaction id from
    /// the key, so a retry after a crash repeats none of the parts already sent.
    async fn send_to(&self, room: &Room, message: &OutgoingMessage, key: &str) -> Result<MessageRef, AdapterError> {
        let mut first = None;
        for (n, part) in parts(message, MAX_PART_BYTES).iter().enumerate() {
            let rendered = render(part);
            let mut content = RoomMessageEventContent::text_html(rendered.body, rendered.html);
            let mentioned: Vec<OwnedUserId> = rendered.mentions.iter().filter_map(|m| UserId::parse(m).ok()).collect();
            content = content.add_mentions(Mentions::with_user_ids(mentioned));
            content.relates_to = relation(part);
            let part_key = if n == 0 { key.to_owned() } else { format!("{key}:part-{n}") };
            let txn = OwnedTransactionId::from(transaction_id(&part_key));
            let response = room.send(content).with_transaction_id(txn).await.map_err(|e| error_from(&e))?;
            first.get_or_insert(response.response.event_id);
        }
        let event = first.ok_or_else(|| invalid("an empty message"))?;
        Ok(MessageRef {
            room: Self::room_ref(room.room_id()),
            id: ChatId::new(Platform::Matrix, event.as_str()).map_err(|e| invalid(e.to_string()))?,
        })
    }
}

async fn whoami_device(homeserver: &str, token: &str) -> Result<String, AdapterError> {
    let url = format!("{}/_matrix/client/v3/account/whoami", homeserver.trim_end_matches('/'));
    let response = matrix_sdk::reqwest::Client::new().get(&url).bearer_auth(token).send().await.map_err(|e| {
        AdapterError::new(AdapterErrorKind::Transient, format!("asking the homeserver who the token is: {e}"))
    })?;
    let text = response
        .text()
        .await
        .map_err(|e| AdapterError::new(AdapterErrorKind::Transient, format!("reading whoami: {e}")))?;
    let body: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| AdapterError::new(AdapterErrorKind::Fatal, format!("reading whoami: {e}")))?;
    body.get("device_id").and_then(|d| d.as_str()).map(str::to_owned).ok_or_else(|| {
        AdapterError::new(AdapterErrorKind::Fatal, "the access token has no device (whoami returned no device_id)")
    })
}

/// Whether only the bot (`own`) and `user` are in `room` (joined or invited), nobody can join it
/// without an invitation, and its history is not world-readable: the only kind of room private
/// things go to, and the only kind whose commands count as said in private.
async fn private_with(room: &Room, own: &UserId, user: &UserId) -> bool {
    use matrix_sdk::RoomMemberships;
    use matrix_sdk::ruma::events::room::history_visibility::HistoryVisibility;
    use matrix_sdk::ruma::events::room::join_rules::JoinRule;
    if !matches!(room.join_rule(), Some(JoinRule::Invite | JoinRule::Private) | None) {
        return false;
    }
    if matches!(room.history_visibility(), Some(HistoryVisibility::WorldReadable)) {
        return false;
    }
    let Ok(members) = room.members(RoomMemberships::JOIN | RoomMemberships::INVITE).await else { return false };
    let ids: std::collections::BTreeSet<&UserId> = members.iter().map(|m| m.user_id()).collect();
    ids.len() == 2 && ids.contains(own) && ids.contains(user)
}

/// Writes a file readable by the bot's user only (0600: the session holds the access token).
fn write_atomically(path: &Path, text: &str) -> Result<(), AdapterError> {
    use std::io::Write;
    let tmp = path.with_extension("tmp");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options
        .open(&tmp)
        .and_then(|mut f| f.write_all(text.as_bytes()).and_then(|()| f.sync_all()))
        .and_then(|()| {
            #[cfg(unix)]
            std::fs::set_permissions(&tmp, std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
            std::fs::rename(&tmp, path)
        })
        .map_err(|e| AdapterError::new(AdapterErrorKind::Transient, format!("writing {}: {e}", path.display())))
}

/// The store directory (keys, session, sync position) is the bot's user's only (0700).
fn make_private_dir(dir: &Path) -> Result<(), AdapterError> {
    std::fs::create_dir_all(dir)
        .and_then(|()| {
            #[cfg(unix)]
            std::fs::set_permissions(dir, std::os::unix::fs::PermissionsExt::from_mode(0o700))?;
            Ok(())
        })
        .map_err(|e| AdapterError::new(AdapterErrorKind::Fatal, format!("creating {}: {e}", dir.display())))
}

async fn display_name(room: &Room, user: &UserId) -> String {
    match room.get_member_no_sync(user).await {
        Ok(Some(member)) => member.display_name().map_or_else(|| user.localpart().to_owned(), str::to_owned),
        _ => user.localpart().to_owned(),
    }
}

fn sent_at(ts: matrix_sdk::ruma::MilliSecondsSinceUnixEpoch) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(i64::from(ts.get())).unwrap_or_else(Utc::now)
}

/// The text of a message and the file it carries, described but not downloaded: the engine
/// fetches a file only for a command that may use it (`!syllabus load` by an organizer).
fn message_text(content: &MessageType) -> Option<(String, Option<Attachment>)> {
    match content {
        MessageType::Text(text) => {
            Some((inbound_text(&text.body, text.formatted.as_ref().map(|f| f.body.as_str())), None))
        }
        MessageType::File(file) => {
            // A command as the caption of a file (`!syllabus load` with a Markdown file).
            let caption = file.caption()?.to_owned();
            let source = match &file.source {
                MediaSource::Plain(uri) => uri.to_string(),
                MediaSource::Encrypted(encrypted) => {
                    format!("{ENCRYPTED_SOURCE}{}", serde_json::to_string(encrypted).ok()?)
                }
            };
            let size = file.info.as_ref().and_then(|i| i.size).map(u64::from);
            Some((caption, Some(Attachment { name: file.filename().to_owned(), size, source })))
        }
        _ => None,
    }
}

#[async_trait]
impl ChatAdapter for MatrixAdapter {
    fn platform(&self) -> Platform {
        Platform::Matrix
    }

    async fn connect(&self) -> Result<EventStream, AdapterError> {
        let (tx, rx) = mpsc::channel::<ChatEvent>(4096);
        let saved =
            std::fs::read_to_string(self.checkpoint_path()).ok().map(|t| t.trim().to_owned()).filter(|t| !t.is_empty());
        let mut token = match saved {
            Some(t) => t,
            None => {
                // First start: history from before the bot was here is not acted on.
                let first = self
                    .client
                    .sync_once(SyncSettings::default().timeout(Duration::ZERO))
                    .await
                    .map_err(|e| error_from(&e))?;
                write_atomically(&self.checkpoint_path(), &first.next_batch)?;
                first.next_batch
            }
        };

        let own = self.own.clone();
        let sender = tx.clone();
        self.client.add_event_handler(move |ev: OriginalSyncRoomMessageEvent, room: Room| {
            let own = own.clone();
            let sender = sender.clone();
            async move {
                if ev.sender == own || room.state() != RoomState::Joined {
                    return;
                }
                let Some((text, attachment)) = message_text(&ev.content.msgtype) else { return };
                // Marked direct is not enough: only a room of the bot and the sender alone is.
                let is_direct = room.is_direct().await.unwrap_or(false) && private_with(&room, &own, &ev.sender).await;
                let Ok(author) = UserRef::new(Platform::Matrix, ev.sender.as_str()) else { return };
                let Ok(id) = ChatId::new(Platform::Matrix, ev.event_id.as_str()) else { return };
                let message = IncomingMessage {
                    id: MessageRef { room: MatrixAdapter::room_ref(room.room_id()), id },
                    event_id: ev.event_id.to_string(),
                    author_name: display_name(&room, &ev.sender).await,
                    author,
                    text,
                    is_direct,
                    thread: thread_root(ev.content.relates_to.as_ref()).and_then(|root| {
                        let id = ChatId::new(Platform::Matrix, root.as_str()).ok()?;
                        Some(MessageRef { room: MatrixAdapter::room_ref(room.room_id()), id })
                    }),
                    sent_at: sent_at(ev.origin_server_ts),
                    needs_answer: false,
                    attachment,
                };
                let _ = sender.send(ChatEvent::Message(message)).await;
            }
        });
        let own = self.own.clone();
        let sender = tx.clone();
        self.client.add_event_handler(move |ev: OriginalSyncRoomMemberEvent, room: Room| {
            let own = own.clone();
            let sender = sender.clone();
            async move {
                let joined = ev.content.membership == MembershipState::Join;
                let was_joined =
                    ev.unsigned.prev_content.as_ref().is_some_and(|p| p.membership == MembershipState::Join);
                if !joined || was_joined || ev.state_key == own {
                    return;
                }
                let Ok(user) = UserRef::new(Platform::Matrix, ev.state_key.as_str()) else { return };
                let name = ev.content.displayname.clone().unwrap_or_else(|| ev.state_key.localpart().to_owned());
                let event = ChatEvent::MemberJoined {
                    event_id: ev.event_id.to_string(),
                    room: MatrixAdapter::room_ref(room.room_id()),
                    user,
                    name,
                };
                let _ = sender.send(event).await;
            }
        });
        let own = self.own.clone();
        let sender = tx.clone();
        self.client.add_event_handler(move |ev: StrippedRoomMemberEvent, room: Room| {
            let own = own.clone();
            let sender = sender.clone();
            async move {
                if ev.state_key != own
                    || ev.content.membership != MembershipState::Invite
                    || room.state() != RoomState::Invited
                {
                    return;
                }
                let Ok(inviter) = UserRef::new(Platform::Matrix, ev.sender.as_str()) else { return };
                let is_direct = ev.content.is_direct.unwrap_or(false);
                let _ = sender
                    .send(ChatEvent::Invited { room: MatrixAdapter::room_ref(room.room_id()), inviter, is_direct })
                    .await;
            }
        });

        // Invitations that arrived while the bot was away are state, not history: answer them.
        for room in self.client.invited_rooms() {
            let Ok(invite) = room.invite_details().await else { continue };
            let Ok(inviter) = UserRef::new(Platform::Matrix, invite.inviter_id.as_str()) else { continue };
            let is_direct = room.is_direct().await.unwrap_or(false);
            let _ =
                tx.send(ChatEvent::Invited { room: MatrixAdapter::room_ref(room.room_id()), inviter, is_direct }).await;
        }

        let client = self.client.clone();
        let sync = tokio::spawn(async move {
            let mut backoff = Duration::from_secs(1);
            loop {
                if tx.is_closed() {
                    return;
                }
                let settings = SyncSettings::default().token(token.clone()).timeout(SYNC_TIMEOUT);
                match client.sync_once(settings).await {
                    Ok(response) => {
                        backoff = Duration::from_secs(1);
                        token = response.next_batch;
                        if tx
                            .send(ChatEvent::Checkpoint { platform: Platform::Matrix, token: token.clone() })
                            .await
                            .is_err()
                        {
                            return;
                        }
                    }
                    Err(e) => {
                        let kind = error_from(&e);
                        warn!(error = %e, ?backoff, "syncing with the homeserver failed; retrying");
                        if matches!(kind.kind(), AdapterErrorKind::Fatal) {
                            warn!("the homeserver refused the bot's session; stopping");
                            return;
                        }
                        tokio::time::sleep(backoff).await;
                        backoff = (backoff * 2).min(Duration::from_secs(30));
                    }
                }
            }
        });
        if let Some(previous) = self.syncing.lock().unwrap_or_else(std::sync::PoisonError::into_inner).replace(sync) {
            previous.abort();
        }
        Ok(rx)
    }

    async fn create_space(&self, name: &str, key: &str) -> Result<RoomRef, AdapterError> {
        let mut request = CreateRoomRequest::new();
        request.name = Some(name.to_owned());
        request.preset = Some(RoomPreset::PublicChat);
        let mut creation = CreationContent::new();
        creation.room_type = Some(RoomType::Space);
        request.creation_content = Some(Raw::new(&creation).map_err(|e| invalid(e.to_string()))?);
        let id = self.create(request, key).await?;
        Ok(Self::room_ref(&id))
    }

    async fn create_room(&self, spec: &RoomSpec, key: &str) -> Result<RoomRef, AdapterError> {
        let mut request = CreateRoomRequest::new();
        request.name = Some(spec.name.clone());
        request.topic = Some(spec.topic.clone());
        request.room_alias_name = Some(spec.name.clone());
        request.preset = Some(RoomPreset::PrivateChat);
        let server = self.own.server_name().to_owned();
        if self.config.encrypt_new_rooms {
            request.initial_state.push(
                Raw::new(&json!({ "type": "m.room.encryption", "state_key": "", "content": { "algorithm": "m.megolm.v1.aes-sha2" } }))
                    .map_err(|e| invalid(e.to_string()))?
                    .cast_unchecked(),
            );
        }
        if let Some(parent) = &spec.parent {
            request.initial_state.push(
                Raw::new(&json!({ "type": "m.space.parent", "state_key": parent.raw(), "content": { "via": [server.as_str()], "canonical": true } }))
                    .map_err(|e| invalid(e.to_string()))?
                    .cast_unchecked(),
            );
        }
        let id = self.create(request, key).await?;
        if let Some(parent) = &spec.parent {
            let space = self.room(parent)?;
            let child = json!({ "via": [server.as_str()] });
            space.send_state_event_raw("m.space.child", id.as_str(), child).await.map_err(|e| error_from(&e))?;
        }
        Ok(Self::room_ref(&id))
    }

    async fn set_topic(&self, room: &RoomRef, topic: &str) -> Result<(), AdapterError> {
        let room = self.room(room)?;
        if room.topic().as_deref() == Some(topic) {
            return Ok(());
        }
        room.set_room_topic(topic).await.map(|_| ()).map_err(|e| error_from(&e))
    }

    async fn invite(&self, room: &RoomRef, user: &UserRef) -> Result<(), AdapterError> {
        let room = self.room(room)?;
        let user = Self::user_id(user)?;
        if let Ok(Some(member)) = room.get_member_no_sync(&user).await
            && matches!(member.membership(), MembershipState::Join | MembershipState::Invite)
        {
            return Ok(());
        }
        room.invite_user_by_id(&user).await.map_err(|e| error_from(&e))
    }

    async fn send(&self, room: &RoomRef, message: &OutgoingMessage, key: &str) -> Result<MessageRef, AdapterError> {
        let room = self.room(room)?;
        self.send_to(&room, message, key).await
    }

    async fn send_direct(
        &self,
        user: &UserRef,
        message: &OutgoingMessage,
        key: &str,
    ) -> Result<MessageRef, AdapterError> {
        let user = Self::user_id(user)?;
        // A direct room is one the bot and that person alone can read, checked on every send:
        // anyone can invite the bot into a room marked "direct" with others in it, or open it
        // up later. Anything else is passed over, and the bot makes a room of its own.
        let mut chosen = None;
        for room in self.client.get_dm_rooms(&user) {
            if private_with(&room, &self.own, &user).await {
                chosen = Some(room);
                break;
            }
            warn!(room = %room.room_id(), "a room marked direct is not private to the bot and one person; not used for direct messages");
        }
        let room = match chosen {
            Some(room) => room,
            None => self.client.create_dm(&user).await.map_err(|e| error_from(&e))?,
        };
        self.send_to(&room, message, key).await
    }

    async fn health(&self) -> Result<(), AdapterError> {
        self.client.whoami().await.map(|_| ()).map_err(|e| error_from(&matrix_sdk::Error::Http(Box::new(e))))
    }

    fn parse_user(&self, text: &str) -> Option<UserRef> {
        let text = text.trim().trim_start_matches("https://matrix.to/#/");
        let full = if text.contains(':') {
            text.to_owned()
        } else {
            // `@ana` on the bot's own server.
            format!("@{}:{}", text.trim_start_matches('@'), self.own.server_name())
        };
        // Strict: ids with characters the current spec forbids are typos, not people.
        let id = UserId::parse(&full).ok().filter(|id| id.validate_strict().is_ok())?;
        UserRef::new(Platform::Matrix, id.as_str()).ok()
    }

    async fn set_role(&self, room: &RoomRef, user: &UserRef, role: Option<CourseRole>) -> Result<(), AdapterError> {
        use matrix_sdk::ruma::api::client::state::get_state_event_for_key;
        use matrix_sdk::ruma::events::StateEventType;
        let room = self.room(room)?;
        let user = Self::user_id(user)?;
        let level: i64 = if role == Some(CourseRole::Organizer) { 50 } else { 0 };
        // A room creator's "infinite" level cannot be changed at all (the create event never
        // changes, so the local state says it rightly).
        if matches!(room.get_user_power_level(&user).await, Ok(UserPowerLevel::Infinite)) {
            return Ok(());
        }
        // The levels as the server holds them, not as the last sync left them: a promotion a
        // moment ago may not have come back yet, and a change built on stale levels would do
        // nothing (a demotion "already" at 0) or undo another change.
        let request = get_state_event_for_key::v3::Request::new(
            room.room_id().to_owned(),
            StateEventType::RoomPowerLevels,
            String::new(),
        );
        let response = self.client.send(request).await.map_err(|e| error_from(&e.into()))?;
        let mut content: serde_json::Value = serde_json::from_str(response.event_or_content.get())
            .map_err(|e| invalid(format!("the room's power levels: {e}")))?;
        let users_default = content["users_default"].as_i64().unwrap_or(0);
        // Compared as numbers ("50" as text contains "0", which once made a demotion do nothing).
        if content["users"][user.as_str()].as_i64().unwrap_or(users_default) == level {
            return Ok(());
        }
        if !content["users"].is_object() {
            content["users"] = json!({});
        }
        let users = content["users"].as_object_mut().expect("made an object above");
        if level == users_default {
            users.remove(user.as_str());
        } else {
            users.insert(user.to_string(), json!(level));
        }
        room.send_state_event_raw("m.room.power_levels", "", content).await.map(|_| ()).map_err(|e| error_from(&e))
    }

    async fn fetch_attachment(&self, attachment: &Attachment, limit: u64) -> Result<Vec<u8>, AttachmentError> {
        let (uri, encrypted) = match attachment.source.strip_prefix(ENCRYPTED_SOURCE) {
            Some(json) => {
                let file: EncryptedFile = serde_json::from_str(json)
                    .map_err(|e| AttachmentError::Unavailable(format!("an unreadable encrypted file: {e}")))?;
                (file.url.clone(), Some(file))
            }
            None => (OwnedMxcUri::from(attachment.source.as_str()), None),
        };
        let (Ok(server), Ok(media)) = (uri.server_name(), uri.media_id()) else {
            return Err(AttachmentError::Unavailable(format!("not a media address: {uri}")));
        };
        let mut body = CappedBody::new(attachment.size, limit)?;
        let token = self.client.access_token().ok_or_else(|| AttachmentError::Unavailable("not signed in".into()))?;
        // The authenticated media endpoint, read piece by piece: matrix-sdk's own download reads
        // a whole body into memory however large it is, and an event need not say its size.
        let homeserver = self.client.homeserver();
        let url =
            format!("{}/_matrix/client/v1/media/download/{server}/{media}", homeserver.as_str().trim_end_matches('/'));
        let unavailable = |e: matrix_sdk::reqwest::Error| AttachmentError::Unavailable(e.without_url().to_string());
        // The SDK's own HTTP client: the same TLS roots, proxy and timeouts as every other request.
        let mut response = self.client.http_client().get(url).bearer_auth(token).send().await.map_err(unavailable)?;
        if !response.status().is_success() {
            return Err(AttachmentError::Unavailable(format!("the homeserver answered {}", response.status())));
        }
        // AES-CTR keeps the size: a ciphertext over the limit is a plaintext over it.
        while let Some(piece) = response.chunk().await.map_err(unavailable)? {
            body.push(&piece)?;
        }
        let body = body.finish();
        let Some(file) = encrypted else { return Ok(body) };
        let mut cursor = std::io::Cursor::new(body);
        let mut decryptor = matrix_sdk_crypto::AttachmentDecryptor::new(&mut cursor, file.into())
            .map_err(|e| AttachmentError::Unavailable(format!("the file could not be decrypted: {e}")))?;
        let mut plain = Vec::new();
        std::io::Read::read_to_end(&mut decryptor, &mut plain)
            .map_err(|e| AttachmentError::Unavailable(format!("the file could not be decrypted: {e}")))?;
        Ok(plain)
    }

    fn invitations(&self) -> Option<&dyn Invitations> {
        Some(self)
    }

    fn resume_points(&self) -> Option<&dyn ResumePoints> {
        Some(self)
    }
}

#[async_trait]
impl Invitations for MatrixAdapter {
    async fn answer_invite(&self, room: &RoomRef, accept: bool) -> Result<(), AdapterError> {
        let id = RoomId::parse(room.raw()).map_err(|e| invalid(e.to_string()))?;
        // The answer may be given by another instance on the same account than the one that
        // saw the invitation, whose client need not have synced it yet: joining goes by id, and
        // declining waits for the invitation to arrive.
        if accept {
            return self.client.join_room_by_id(&id).await.map(|_| ()).map_err(|e| error_from(&e));
        }
        match self.client.get_room(&id) {
            Some(room) => room.leave().await.map_err(|e| error_from(&e)),
            None => Err(AdapterError::new(AdapterErrorKind::Transient, "the invitation has not arrived here yet")),
        }
    }
}

#[async_trait]
impl ResumePoints for MatrixAdapter {
    /// Saves the sync token the next start resumes from.
    async fn checkpoint(&self, token: &str) -> Result<(), AdapterError> {
        write_atomically(&self.checkpoint_path(), token)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn the_session_file_and_the_store_are_private_to_the_bots_user() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().join("matrix");
        make_private_dir(&store).unwrap();
        let session = store.join("session.json");
        write_atomically(&session, "{\"token\":\"secret\"}").unwrap();
        write_atomically(&session, "{\"token\":\"newer\"}").unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&session), 0o600);
        assert_eq!(mode(&store), 0o700);
        assert_eq!(std::fs::read_to_string(&session).unwrap(), "{\"token\":\"newer\"}");
    }
}
