//! The Discord adapter: Facilitator in a Discord server (guild), through serenity.
//!
//! - Schools are channel categories; a course is a text channel in its school's category, with
//!   three roles (`data-101 learners`, `... mentors`, `... organizers`); the organizers' role
//!   may manage messages and threads there. A channel or category is made with its idempotency
//!   key's digest as the audit log's reason, and found again by it (in what this process made,
//!   then in the server's audit log) before it is made, so a creation retried after a crash
//!   makes nothing twice, and a channel someone else named the same is never taken for it.
//!   Course roles are found again by name.
//! - Commands come as `!` messages and as slash commands (registered per guild at start); a
//!   slash command is turned into the same `!` text, so one parser and one domain decide both.
//!   Answers to slash commands are interaction responses, ephemeral when private; when the
//!   answer takes longer than Discord's three seconds the adapter defers first.
//! - Posts the bot makes on its own (prompts, announcements) are embeds; times are Discord
//!   timestamps, so every reader sees their own local time.
//! - Every message carries a nonce derived from the effect's idempotency key with
//!   `enforce_nonce`, so Discord drops a resend after a crash.
//! - HTTP goes through serenity's client with its ratelimiter on: per-route and global limits
//!   are honoured and a 429 is waited out and retried. The gateway resumes its session after a
//!   disconnect; Discord replays what was missed. A new session (after a restart) reads back
//!   the last hour of commands in course channels; the engine skips those it already handled.
//! - serenity hands each gateway event to its own task; the adapter puts a burst of events back
//!   into Discord's order (snowflakes grow with time) before passing them on.
//!
//! One file per concern: `gateway` (events in, in order, and the catch-up after a new
//! session), `rest` (requests through the ratelimiter, error kinds, channels and roles found or
//! made), `interactions` (slash commands in, and their answers within Discord's deadlines),
//! `cache` (what the adapter knows of the server), `translate` (rendering and limits),
//! `slash` (the command table from the catalogue), and this file (the configuration and the
//! [`ChatAdapter`] contract). `testing` is a local Discord for the tests.

mod cache;
mod gateway;
mod interactions;
mod rest;
mod slash;
#[cfg(feature = "testing")]
pub mod spec;
#[cfg(feature = "testing")]
pub mod testing;
mod translate;

use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use serenity::all::{
    ChannelId, ChannelType, CommandInteraction, Context, EventHandler, GatewayIntents, Guild, GuildChannel, GuildId,
    Interaction, InteractionId, Member, Message, MessageId, Ready, RoleId, UserId,
};
use serenity::gateway::ShardManager;
use serenity::http::{Http, HttpBuilder};
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, info, warn};

use facilitator_chat::{
    AdapterError, AdapterErrorKind, Attachment, AttachmentError, ChatAdapter, ChatEvent, ChatId, CourseRole,
    EventStream, IncomingMessage, MessageRef, OutgoingMessage, Platform, RoomRef, RoomSpec, UserLookup, UserRef,
};

use cache::{Channel, Known, channel_info};
use gateway::{Handler, reorder};
use interactions::{INTERACTION_PREFIX, Pending};
use rest::{THREAD_EXISTS, discord_code, http_error, invalid, snowflake};

pub use gateway::intents;
pub use slash::{
    Invocation, UnknownCommand, autocomplete_prefix, definitions, dm_definitions, invocation, suggestions,
};
pub use translate::{
    EMBED_COLOUR, EmbedParts, MAX_CONTENT, MAX_DESCRIPTION, Rendered, channel_name, chunks, classify, course_of_role,
    embed_parts, escape_markdown, nonce, parse_user_id, render, role_name,
};

/// How long `connect` waits for the gateway's READY and the guild.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// Members a name search asks Discord for (the candidates listed when a name is unclear).
const MEMBER_SEARCH_LIMIT: u64 = 10;

/// The permissions to grant in the invite URL: view channels, send messages (and in threads),
/// create public threads, embed links, attach files, read history, manage channels, roles,
/// messages and threads, and view the audit log (where the bot finds again, after a crash, the
/// channels it made: each one's entry carries its idempotency key).
pub const INVITE_PERMISSIONS: u64 = (1 << 10) // VIEW_CHANNEL
    | (1 << 7) // VIEW_AUDIT_LOG
    | (1 << 11) // SEND_MESSAGES
    | (1 << 38) // SEND_MESSAGES_IN_THREADS
    | (1 << 35) // CREATE_PUBLIC_THREADS
    | (1 << 14) // EMBED_LINKS
    | (1 << 15) // ATTACH_FILES
    | (1 << 16) // READ_MESSAGE_HISTORY
    | (1 << 4) // MANAGE_CHANNELS
    | (1 << 28) // MANAGE_ROLES
    | (1 << 13) // MANAGE_MESSAGES
    | (1 << 34); // MANAGE_THREADS

/// What the organizers' role may do in its course channel.
const ORGANIZER_ALLOW: u64 = (1 << 13) | (1 << 34) | (1 << 11) | (1 << 10);
/// What the bot may do in a course channel whatever the server's defaults.
const BOT_ALLOW: u64 = (1 << 10) | (1 << 11) | (1 << 38) | (1 << 35) | (1 << 14) | (1 << 16) | (1 << 34) | (1 << 13);

/// The bot's token, never printed.
#[derive(Clone)]
pub struct Token(pub String);

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(***)")
    }
}

/// The `[discord]` configuration.
#[derive(Debug, Clone)]
pub struct DiscordConfig {
    /// The bot token (`FACILITATOR_DISCORD_TOKEN`).
    pub token: Token,
    /// The server the bot runs.
    pub guild: u64,
    /// Whether to register slash commands in the server at start.
    pub slash_commands: bool,
    /// Reach Discord's hosts at this address instead of through DNS (a test server, a
    /// forwarding proxy); TLS still checks the certificate of `discord.com`.
    pub connect_to: Option<std::net::SocketAddr>,
    /// An extra CA certificate (PEM) to trust, with `connect_to`.
    pub ca_file: Option<PathBuf>,
}

#[derive(Debug)]
struct Inner {
    http: Arc<Http>,
    web: reqwest::Client,
    config: DiscordConfig,
    known: Mutex<Known>,
    interactions: Mutex<HashMap<u64, Arc<tokio::sync::Mutex<Pending>>>>,
    shards: Mutex<Option<Arc<ShardManager>>>,
}

/// The Discord adapter.
#[derive(Debug, Clone)]
pub struct DiscordAdapter {
    inner: Arc<Inner>,
}

impl DiscordAdapter {
    /// Builds the HTTP client (nothing is contacted until [`ChatAdapter::connect`]).
    ///
    /// # Errors
    /// When the CA file cannot be read or the client cannot be built.
    pub fn new(config: DiscordConfig) -> Result<DiscordAdapter, AdapterError> {
        let fatal = |m: String| AdapterError::new(AdapterErrorKind::Fatal, m);
        let mut builder = reqwest::Client::builder()
            .use_rustls_tls()
            .user_agent("Facilitator (https://example.org/facilitator, 0.1)");
        if let Some(address) = config.connect_to {
            for host in ["discord.com", "cdn.discordapp.com", "media.discordapp.net"] {
                builder = builder.resolve(host, address);
            }
        }
        if let Some(path) = &config.ca_file {
            let pem = std::fs::read(path).map_err(|e| fatal(format!("reading {}: {e}", path.display())))?;
            let cert = reqwest::Certificate::from_pem(&pem).map_err(|e| fatal(format!("{}: {e}", path.display())))?;
            builder = builder.add_root_certificate(cert);
        }
        let web = builder.build().map_err(|e| fatal(format!("building the HTTP client: {e}")))?;
        let http = HttpBuilder::new(&config.token.0).client(web.clone()).build();
        Ok(DiscordAdapter {
            inner: Arc::new(Inner {
                http: Arc::new(http),
                web,
                config,
                known: Mutex::new(Known::default()),
                interactions: Mutex::new(HashMap::new()),
                shards: Mutex::new(None),
            }),
        })
    }

    /// Disconnects from the gateway.
    pub async fn shutdown(&self) {
        let manager = self.inner.shards.lock().expect("not poisoned").take();
        if let Some(m) = manager {
            m.shutdown_all().await;
        }
    }

    fn guild(&self) -> GuildId {
        GuildId::new(self.inner.config.guild)
    }

    fn known(&self) -> std::sync::MutexGuard<'_, Known> {
        self.inner.known.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The channel a message goes to: its thread's channel when it has one.
    fn target(room: &RoomRef, message: &OutgoingMessage) -> Result<u64, AdapterError> {
        snowflake(message.thread.as_ref().map_or(room.raw(), |t| t.room.raw()))
    }
}

fn room_ref(channel: u64) -> RoomRef {
    RoomRef::new(Platform::Discord, &channel.to_string()).expect("a snowflake is a valid id")
}

fn message_ref(channel: u64, id: u64) -> MessageRef {
    MessageRef {
        room: room_ref(channel),
        id: ChatId::new(Platform::Discord, &id.to_string()).expect("a snowflake is a valid id"),
    }
}

fn message_id(raw: &str) -> ChatId<facilitator_chat::MessageMarker> {
    ChatId::new(Platform::Discord, raw).expect("an interaction id is a valid id")
}

#[async_trait]
impl ChatAdapter for DiscordAdapter {
    fn platform(&self) -> Platform {
        Platform::Discord
    }

    async fn connect(&self) -> Result<EventStream, AdapterError> {
        let (raw_tx, raw_rx) = mpsc::unbounded_channel();
        let (tx, rx) = mpsc::channel(1024);
        let (ready_tx, ready_rx) = oneshot::channel();
        let handler = Handler { adapter: self.clone(), events: raw_tx, ready: Mutex::new(Some(ready_tx)) };
        let http = HttpBuilder::new(&self.inner.config.token.0).client(self.inner.web.clone()).build();
        let mut client =
            serenity::client::ClientBuilder::new_with_http(http, intents())
                .event_handler(handler)
                .await
                .map_err(|e| AdapterError::new(AdapterErrorKind::Fatal, format!("starting the Discord client: {e}")))?;
        *self.inner.shards.lock().expect("not poisoned") = Some(Arc::clone(&client.shard_manager));
        let (failed_tx, failed_rx) = oneshot::channel();
        tokio::spawn(async move {
            if let Err(e) = client.start().await {
                let _ = failed_tx.send(e.to_string());
            }
        });
        tokio::spawn(reorder(raw_rx, tx));
        tokio::select! {
            ready = tokio::time::timeout(CONNECT_TIMEOUT, ready_rx) => match ready {
                Ok(Ok(Ok(()))) => Ok(rx),
                Ok(Ok(Err(e))) => Err(AdapterError::new(AdapterErrorKind::Fatal, e)),
                Ok(Err(_)) | Err(_) => Err(AdapterError::new(AdapterErrorKind::Fatal, "Discord's gateway did not deliver the server in 30 s")),
            },
            Ok(e) = failed_rx => Err(AdapterError::new(AdapterErrorKind::Fatal, format!("the Discord gateway refused the bot: {e}"))),
        }
    }

    async fn create_space(&self, name: &str, key: &str) -> Result<RoomRef, AdapterError> {
        let name: String = name.trim().chars().take(100).collect();
        Ok(room_ref(self.channel(&name, 4, None, json!({}), key).await?))
    }

    async fn create_room(&self, spec: &RoomSpec, key: &str) -> Result<RoomRef, AdapterError> {
        // Found again by its key before anything is made: the roles below are found by name.
        if let Some(id) = self.made_before(key).await? {
            return Ok(room_ref(id));
        }
        let parent = spec.parent.as_ref().map(|p| snowflake(p.raw())).transpose()?;
        let name = channel_name(&spec.name);
        let mut overwrites = Vec::new();
        for role in [CourseRole::Learner, CourseRole::Mentor, CourseRole::Organizer] {
            let id = self.role(&role_name(&spec.name, role)).await?;
            if role == CourseRole::Organizer {
                overwrites
                    .push(json!({"id": id.to_string(), "type": 0, "allow": ORGANIZER_ALLOW.to_string(), "deny": "0"}));
            }
        }
        let own = self.known().own;
        if own != 0 {
            overwrites.push(json!({"id": own.to_string(), "type": 1, "allow": BOT_ALLOW.to_string(), "deny": "0"}));
        }
        let topic: String = spec.topic.chars().take(1024).collect();
        let id =
            self.channel(&name, 0, parent, json!({"topic": topic, "permission_overwrites": overwrites}), key).await?;
        Ok(room_ref(id))
    }

    async fn set_topic(&self, room: &RoomRef, topic: &str) -> Result<(), AdapterError> {
        let topic: String = topic.chars().take(1024).collect();
        self.inner
            .http
            .edit_channel(ChannelId::new(snowflake(room.raw())?), &json!({"topic": topic}), None)
            .await
            .map(|_| ())
            .map_err(|e| http_error(&e))
    }

    /// Everyone in the server can read a course channel (courses are open); what joining
    /// changes is the course role, given by [`ChatAdapter::set_role`]. A bot cannot add people
    /// to a server, so there is nothing more to do.
    async fn invite(&self, _room: &RoomRef, _user: &UserRef) -> Result<(), AdapterError> {
        Ok(())
    }

    async fn send(&self, room: &RoomRef, message: &OutgoingMessage, key: &str) -> Result<MessageRef, AdapterError> {
        if let Some(to) = &message.reply_to
            && to.id.raw().starts_with(INTERACTION_PREFIX)
        {
            return self.answer(to.id.raw(), message, key).await;
        }
        let channel = Self::target(room, message)?;
        // What the bot posts on its own is an embed; answers are plain replies.
        let embed = message.reply_to.is_none();
        let id = self.post(channel, message, key, embed).await?;
        Ok(message_ref(channel, id))
    }

    async fn send_direct(
        &self,
        user: &UserRef,
        message: &OutgoingMessage,
        key: &str,
    ) -> Result<MessageRef, AdapterError> {
        let channel = self.dm_channel(snowflake(user.raw())?).await?;
        let id = self.post(channel, message, key, false).await?;
        Ok(message_ref(channel, id))
    }

    async fn open_thread(&self, root: &MessageRef, name: &str, _key: &str) -> Result<MessageRef, AdapterError> {
        let channel = snowflake(root.room.raw())?;
        let message = snowflake(root.id.raw())?;
        let name: String = name.chars().take(100).collect();
        let body = json!({"name": name, "auto_archive_duration": 10080});
        match self
            .inner
            .http
            .create_thread_from_message(ChannelId::new(channel), MessageId::new(message), &body, None)
            .await
        {
            Ok(thread) => {
                self.known().channels.insert(thread.id.get(), channel_info(&thread));
                Ok(message_ref(thread.id.get(), thread.id.get()))
            }
            Err(e) if discord_code(&e) == Some(THREAD_EXISTS) => {
                // Made before a crash: a message's thread has the message's id.
                self.known()
                    .channels
                    .insert(message, Channel { name, parent: Some(channel), thread: true, last_message: None });
                Ok(message_ref(message, message))
            }
            Err(e) => Err(http_error(&e)),
        }
    }

    async fn health(&self) -> Result<(), AdapterError> {
        self.inner.http.get_current_user().await.map(|_| ()).map_err(|e| http_error(&e))
    }

    /// Only a real mention (`<@id>`) or an id says who someone is: a name is asked of Discord
    /// ([`ChatAdapter::find_user`]).
    fn parse_user(&self, text: &str) -> Option<UserRef> {
        UserRef::new(Platform::Discord, &parse_user_id(text)?.to_string()).ok()
    }

    async fn fetch_attachment(&self, attachment: &Attachment, limit: u64) -> Result<Vec<u8>, AttachmentError> {
        let unavailable = |e: reqwest::Error| AttachmentError::Unavailable(e.without_url().to_string());
        let mut body = facilitator_chat::CappedBody::new(attachment.size, limit)?;
        let mut response = self.inner.web.get(&attachment.source).send().await.map_err(unavailable)?;
        if !response.status().is_success() {
            return Err(AttachmentError::Unavailable(format!("the CDN answered {}", response.status())));
        }
        while let Some(piece) = response.chunk().await.map_err(unavailable)? {
            body.push(&piece)?;
        }
        Ok(body.finish())
    }

    /// `@name` typed as text: the server's members are searched (Discord sends a bot no member
    /// list without the presence intent), and only a member whose username is exactly that name
    /// is meant. Usernames are unique on Discord; display names and nicknames are not, and
    /// anyone can take one, so they never decide. Members whose names merely start with it are
    /// listed, so the asker can mention the one they mean.
    async fn find_user(&self, text: &str) -> UserLookup {
        let Some(name) = text.trim().strip_prefix('@').map(str::trim).filter(|n| !n.is_empty() && n.len() <= 100)
        else {
            return UserLookup::Unknown;
        };
        let members = match self.inner.http.search_guild_members(self.guild(), name, Some(MEMBER_SEARCH_LIMIT)).await {
            Ok(members) => members,
            Err(e) => {
                warn!(error = %http_error(&e), "searching the server's members failed");
                return UserLookup::Unknown;
            }
        };
        let exact: Vec<&Member> =
            members.iter().filter(|m| !m.user.bot && m.user.name.eq_ignore_ascii_case(name)).collect();
        if let [only] = exact.as_slice()
            && let Ok(user) = UserRef::new(Platform::Discord, &only.user.id.get().to_string())
        {
            return UserLookup::Found(user);
        }
        let candidates: Vec<String> = members
            .iter()
            .filter(|m| !m.user.bot)
            .map(|m| {
                let shown = m.nick.as_deref().or(m.user.global_name.as_deref()).unwrap_or(&m.user.name);
                if shown == m.user.name { format!("@{}", m.user.name) } else { format!("@{} ({shown})", m.user.name) }
            })
            .collect();
        if candidates.is_empty() { UserLookup::Unknown } else { UserLookup::Ambiguous(candidates) }
    }

    async fn set_role(&self, room: &RoomRef, user: &UserRef, role: Option<CourseRole>) -> Result<(), AdapterError> {
        let channel = snowflake(room.raw())?;
        let user = UserId::new(snowflake(user.raw())?);
        let course = self.known().channels.get(&channel).map(|c| c.name.clone());
        let Some(course) = course else {
            return Err(AdapterError::new(
                AdapterErrorKind::NotFound,
                format!("channel {channel} is not a known course"),
            ));
        };
        for r in [CourseRole::Learner, CourseRole::Mentor, CourseRole::Organizer] {
            let id = RoleId::new(self.role(&role_name(&course, r)).await?);
            let result = if role == Some(r) {
                self.inner.http.add_member_role(self.guild(), user, id, Some("course role")).await
            } else {
                self.inner.http.remove_member_role(self.guild(), user, id, Some("course role")).await
            };
            result.map_err(|e| http_error(&e))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_invite_permissions_are_the_documented_integer() {
        assert_eq!(INVITE_PERMISSIONS, 326_686_076_048);
    }
}
