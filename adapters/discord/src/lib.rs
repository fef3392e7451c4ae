//! The Discord adapter: Facilitator in a Discord server (guild), through serenity.
//!
//! - Schools are channel categories; a course is a text channel in its school's category, with
//!   three roles (`data-101 learners`, `... mentors`, `... organizers`); the organizers' role
//!   may manage messages and threads there. Everything the bot creates is found again by name
//!   before it is created, so a creation retried after a crash makes nothing twice.
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

pub use slash::{
    Invocation, UnknownCommand, autocomplete_prefix, definitions, dm_definitions, invocation, suggestions,
};
pub use translate::{
    EMBED_COLOUR, EmbedParts, MAX_CONTENT, MAX_DESCRIPTION, Rendered, channel_name, chunks, classify, course_of_role,
    embed_parts, escape_markdown, nonce, parse_user_id, render, role_name,
};

/// Discord wants an answer to an interaction within three seconds; past this the adapter defers.
const DEFER_AFTER: Duration = Duration::from_millis(2000);
/// An interaction's token works for 15 minutes.
const TOKEN_LIFETIME: Duration = Duration::from_secs(14 * 60);
/// How long `connect` waits for the gateway's READY and the guild.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// Members a name search asks Discord for (the candidates listed when a name is unclear).
const MEMBER_SEARCH_LIMIT: u64 = 10;
/// How far back commands said in course channels are read after connecting.
const CATCH_UP: Duration = Duration::from_secs(60 * 60);
/// Discord's epoch (2015-01-01), in Unix milliseconds.
const DISCORD_EPOCH_MS: u64 = 1_420_070_400_000;
/// Message ids of slash commands start with this, then the interaction id and the user id.
const INTERACTION_PREFIX: &str = "i";

/// The gateway intents the bot needs: guild structure, messages in guilds and in DMs, their
/// content (for the `!` prefix), and members (for names and roles).
pub fn intents() -> GatewayIntents {
    GatewayIntents::GUILDS
        | GatewayIntents::GUILD_MESSAGES
        | GatewayIntents::DIRECT_MESSAGES
        | GatewayIntents::MESSAGE_CONTENT
        | GatewayIntents::GUILD_MEMBERS
}

/// The permissions to grant in the invite URL: view channels, send messages (and in threads),
/// create public threads, embed links, attach files, read history, manage channels, roles,
/// messages and threads.
pub const INVITE_PERMISSIONS: u64 = (1 << 10) // VIEW_CHANNEL
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

fn http_error(e: &serenity::Error) -> AdapterError {
    match e {
        serenity::Error::Http(serenity::http::HttpError::UnsuccessfulRequest(r)) => AdapterError::new(
            classify(r.status_code.as_u16(), None),
            format!("{} {}: {} ({})", r.method.as_str(), r.url, r.error.message, r.status_code),
        ),
        serenity::Error::Http(serenity::http::HttpError::Request(r)) => {
            AdapterError::new(AdapterErrorKind::Transient, format!("reaching Discord: {r}"))
        }
        other => AdapterError::new(AdapterErrorKind::Transient, other.to_string()),
    }
}

/// Discord's JSON error code of a failed request (`10062` unknown interaction, `40060` already
/// acknowledged, `160004` thread already made).
fn discord_code(e: &serenity::Error) -> Option<isize> {
    match e {
        serenity::Error::Http(serenity::http::HttpError::UnsuccessfulRequest(r)) => Some(r.error.code),
        _ => None,
    }
}

/// Already acknowledged: someone (another instance on the token) answered or deferred it.
const ACKNOWLEDGED: isize = 40_060;
/// A thread has already been created for this message.
const THREAD_EXISTS: isize = 160_004;
/// Unknown interaction: expired, or never seen by Discord.
const UNKNOWN_INTERACTION: isize = 10_062;

fn invalid(message: impl Into<String>) -> AdapterError {
    AdapterError::new(AdapterErrorKind::InvalidInput, message)
}

fn snowflake(text: &str) -> Result<u64, AdapterError> {
    text.parse::<u64>().ok().filter(|n| *n > 0).ok_or_else(|| invalid(format!("'{text}' is not a Discord id")))
}

/// A channel the adapter knows.
#[derive(Debug, Clone)]
struct Channel {
    name: String,
    /// The category of a channel, the channel of a thread.
    parent: Option<u64>,
    thread: bool,
    /// The newest message in it, when the server said.
    last_message: Option<u64>,
}

/// An interaction waiting for its answer.
#[derive(Debug)]
struct Pending {
    token: String,
    channel: u64,
    received: std::time::Instant,
    state: Answer,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Answer {
    Waiting,
    Deferred,
    Answered,
}

#[derive(Debug, Default)]
struct Known {
    own: u64,
    channels: HashMap<u64, Channel>,
    /// Role ids by name.
    roles: HashMap<String, u64>,
    dms: HashMap<u64, u64>,
    /// Each member's roles as last seen, to tell when one is newly given.
    member_roles: HashMap<u64, BTreeSet<u64>>,
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

    async fn post(&self, channel: u64, message: &OutgoingMessage, key: &str, embed: bool) -> Result<u64, AdapterError> {
        let rendered = render(message);
        let reference = message.reply_to.as_ref().and_then(|r| r.id.raw().parse::<u64>().ok()).map(
            |id| json!({"message_id": id.to_string(), "channel_id": channel.to_string(), "fail_if_not_exists": false}),
        );
        let allowed = json!({"parse": [], "users": rendered.mentions.iter().map(u64::to_string).collect::<Vec<_>>(),
                             "replied_user": true});
        let mut bodies = Vec::new();
        if embed {
            let parts = embed_parts(&rendered.text);
            let pings: Vec<String> = rendered.mentions.iter().map(|m| format!("<@{m}>")).collect();
            for (i, description) in chunks(&parts.description, MAX_DESCRIPTION).into_iter().enumerate() {
                let mut e = json!({"description": description, "color": EMBED_COLOUR});
                if i == 0
                    && let Some(title) = &parts.title
                {
                    e["title"] = json!(title);
                }
                let mut body = json!({"embeds": [e]});
                if i == 0 && !pings.is_empty() {
                    body["content"] = json!(pings.join(" "));
                }
                bodies.push(body);
            }
        } else {
            for piece in chunks(&rendered.text, MAX_CONTENT) {
                bodies.push(json!({"content": piece}));
            }
        }
        let mut first = None;
        for (i, mut body) in bodies.into_iter().enumerate() {
            body["nonce"] = json!(nonce(&format!("{key}#{i}")));
            body["enforce_nonce"] = json!(true);
            body["allowed_mentions"] = allowed.clone();
            if i == 0
                && let Some(r) = &reference
            {
                body["message_reference"] = r.clone();
            }
            let sent = self
                .inner
                .http
                .send_message(ChannelId::new(channel), Vec::new(), &body)
                .await
                .map_err(|e| http_error(&e))?;
            first.get_or_insert(sent.id.get());
        }
        first.ok_or_else(|| invalid("an empty message"))
    }

    /// Answers a slash command: within Discord's window as the interaction's response, later
    /// by editing the deferred one, and once the token is gone in the channel (or by direct
    /// message when private).
    async fn answer(
        &self,
        interaction: &str,
        message: &OutgoingMessage,
        key: &str,
    ) -> Result<MessageRef, AdapterError> {
        let (iid, user) = parse_interaction(interaction).ok_or_else(|| invalid("unreadable interaction"))?;
        let pending = self.inner.interactions.lock().expect("not poisoned").get(&iid).cloned();
        let rendered = render(message);
        // A long answer: the first piece answers, the rest follow up.
        let mut pieces = chunks(&rendered.text, MAX_CONTENT).into_iter();
        let text = pieces.next().unwrap_or_default();
        let rest: Vec<String> = pieces.collect();
        let allowed = json!({"parse": [], "users": rendered.mentions.iter().map(u64::to_string).collect::<Vec<_>>()});
        let flags = if message.private { 64 } else { 0 };
        let fallback = |channel: u64| async move {
            let mut plain = message.clone();
            plain.reply_to = None;
            if message.private {
                self.send_direct(
                    &UserRef::new(Platform::Discord, &user.to_string()).map_err(|e| invalid(e.to_string()))?,
                    &plain,
                    key,
                )
                .await
            } else {
                let id = self.post(channel, &plain, key, false).await?;
                Ok(message_ref(channel, id))
            }
        };
        let Some(pending) = pending else {
            let room = message.reply_to.as_ref().map(|r| r.room.raw().to_owned()).unwrap_or_default();
            let channel = message.thread.as_ref().map_or(room, |t| t.room.raw().to_owned());
            return fallback(snowflake(&channel)?).await;
        };
        let mut p = pending.lock().await;
        let channel = p.channel;
        if p.received.elapsed() > TOKEN_LIFETIME {
            drop(p);
            return fallback(channel).await;
        }
        let body = json!({"content": text, "flags": flags, "allowed_mentions": allowed});
        let http = &self.inner.http;
        let result = match p.state {
            Answer::Waiting => http
                .create_interaction_response(
                    InteractionId::new(iid),
                    &p.token,
                    &json!({"type": 4, "data": body}),
                    Vec::new(),
                )
                .await
                .map(|()| MessageRef { room: room_ref(channel), id: message_id(interaction) }),
            Answer::Deferred if message.private => http
                .edit_original_interaction_response(&p.token, &body, Vec::new())
                .await
                .map(|m| message_ref(channel, m.id.get())),
            // The deferral was private; a public answer goes to the channel, naming the asker.
            Answer::Deferred => {
                let _ = http.delete_original_interaction_response(&p.token).await;
                p.state = Answer::Answered;
                drop(p);
                let mut plain = message.clone();
                plain.reply_to = None;
                let asker = UserRef::new(Platform::Discord, &user.to_string()).map_err(|e| invalid(e.to_string()))?;
                plain.segments.splice(
                    0..0,
                    [
                        facilitator_chat::Segment::Mention { user: asker, name: String::new() },
                        facilitator_chat::Segment::Markdown(" ".into()),
                    ],
                );
                let id = self.post(channel, &plain, key, false).await?;
                return Ok(message_ref(channel, id));
            }
            Answer::Answered => http
                .create_followup_message(&p.token, &body, Vec::new())
                .await
                .map(|m| message_ref(channel, m.id.get())),
        };
        match result {
            Ok(r) => {
                p.state = Answer::Answered;
                for piece in rest {
                    let more = json!({"content": piece, "flags": flags, "allowed_mentions": allowed});
                    http.create_followup_message(&p.token, &more, Vec::new()).await.map_err(|e| http_error(&e))?;
                }
                Ok(r)
            }
            Err(e) if p.state == Answer::Waiting && discord_code(&e) == Some(ACKNOWLEDGED) => {
                // Deferred meanwhile by another instance on the same token: answer as deferred.
                p.state = Answer::Deferred;
                drop(p);
                Box::pin(self.answer(interaction, message, key)).await
            }
            Err(e) => {
                let code = discord_code(&e);
                let e = http_error(&e);
                // An interaction Discord no longer knows (expired, or answered by an instance
                // that died before recording it): answer in the channel instead.
                if matches!(e.kind(), AdapterErrorKind::NotFound) || code == Some(UNKNOWN_INTERACTION) {
                    p.state = Answer::Answered;
                    drop(p);
                    return fallback(channel).await;
                }
                Err(e)
            }
        }
    }

    async fn dm_channel(&self, user: u64) -> Result<u64, AdapterError> {
        if let Some(c) = self.known().dms.get(&user) {
            return Ok(*c);
        }
        let channel = self
            .inner
            .http
            .create_private_channel(&json!({"recipient_id": user.to_string()}))
            .await
            .map_err(|e| http_error(&e))?;
        self.known().dms.insert(user, channel.id.get());
        Ok(channel.id.get())
    }

    /// The server's roles, read once and then kept up to date by what the bot creates.
    async fn role(&self, name: &str) -> Result<u64, AdapterError> {
        if let Some(id) = self.known().roles.get(name) {
            return Ok(*id);
        }
        let roles = self.inner.http.get_guild_roles(self.guild()).await.map_err(|e| http_error(&e))?;
        {
            let mut known = self.known();
            for r in &roles {
                known.roles.insert(r.name.clone(), r.id.get());
            }
            if let Some(id) = known.roles.get(name) {
                return Ok(*id);
            }
        }
        let role = self
            .inner
            .http
            .create_role(
                self.guild(),
                &json!({"name": name, "mentionable": true, "permissions": "0"}),
                Some("Facilitator course role"),
            )
            .await
            .map_err(|e| http_error(&e))?;
        self.known().roles.insert(name.to_owned(), role.id.get());
        Ok(role.id.get())
    }

    /// A channel of the server with this name, kind and parent, made if missing.
    async fn channel(&self, name: &str, kind: u8, parent: Option<u64>, extra: Value) -> Result<u64, AdapterError> {
        let found = |known: &Known| {
            known.channels.iter().find(|(_, c)| c.name == name && !c.thread && c.parent == parent).map(|(id, _)| *id)
        };
        if let Some(id) = found(&self.known()) {
            return Ok(id);
        }
        // Not known: the server may have it anyway (made before a crash).
        let channels = self.inner.http.get_channels(self.guild()).await.map_err(|e| http_error(&e))?;
        {
            let mut known = self.known();
            for c in &channels {
                known.channels.insert(c.id.get(), channel_info(c));
            }
            if let Some(id) = found(&known) {
                return Ok(id);
            }
        }
        let mut body = json!({"name": name, "type": kind});
        if let Some(p) = parent {
            body["parent_id"] = json!(p.to_string());
        }
        if let (Some(b), Value::Object(extra)) = (body.as_object_mut(), extra) {
            b.extend(extra);
        }
        let made = self
            .inner
            .http
            .create_channel(self.guild(), &body, Some("Facilitator"))
            .await
            .map_err(|e| http_error(&e))?;
        self.known().channels.insert(made.id.get(), channel_info(&made));
        Ok(made.id.get())
    }

    /// The course names the server has roles for (for autocomplete).
    fn courses(&self) -> BTreeSet<String> {
        self.known()
            .roles
            .keys()
            .filter_map(|name| {
                course_of_role(name).filter(|(_, r)| *r == CourseRole::Learner).map(|(c, _)| c.to_owned())
            })
            .collect()
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

/// `i<interaction id>.<user id>`: the id of a slash command as a message.
fn interaction_id(interaction: u64, user: u64) -> String {
    format!("{INTERACTION_PREFIX}{interaction}.{user}")
}

fn parse_interaction(raw: &str) -> Option<(u64, u64)> {
    let (i, u) = raw.strip_prefix(INTERACTION_PREFIX)?.split_once('.')?;
    Some((i.parse().ok()?, u.parse().ok()?))
}

fn channel_info(c: &GuildChannel) -> Channel {
    Channel {
        name: c.name.clone(),
        parent: c.parent_id.map(ChannelId::get),
        thread: matches!(c.kind, ChannelType::PublicThread | ChannelType::PrivateThread | ChannelType::NewsThread),
        last_message: c.last_message_id.map(MessageId::get),
    }
}

/// When a snowflake was made, in Unix milliseconds.
fn snowflake_millis(id: u64) -> i64 {
    i64::try_from((id >> 22) + DISCORD_EPOCH_MS).unwrap_or(i64::MAX)
}

fn discord_time(ts: &serenity::model::Timestamp) -> DateTime<Utc> {
    DateTime::<Utc>::from_timestamp(ts.unix_timestamp(), 0).unwrap_or_else(Utc::now)
}

/// Receives gateway events (each in its own task, as serenity runs them) and passes them on.
struct Handler {
    adapter: DiscordAdapter,
    events: mpsc::UnboundedSender<(u64, ChatEvent)>,
    ready: Mutex<Option<oneshot::Sender<Result<(), String>>>>,
}

impl Handler {
    fn user(id: UserId) -> UserRef {
        UserRef::new(Platform::Discord, &id.get().to_string()).expect("a snowflake is a valid id")
    }

    /// The room and thread of a message said in `channel`: a thread's messages belong to its
    /// parent channel (the course), with the thread as where the answer goes.
    fn place(&self, channel: u64) -> (u64, Option<MessageRef>) {
        match self.adapter.known().channels.get(&channel) {
            Some(Channel { thread: true, parent: Some(parent), .. }) => (*parent, Some(message_ref(channel, channel))),
            _ => (channel, None),
        }
    }

    /// A person's message as the platform-neutral event (none for bots and other servers).
    async fn incoming(&self, m: &Message) -> Option<IncomingMessage> {
        if m.author.bot || m.author.id.get() == self.adapter.known().own {
            return None;
        }
        if m.guild_id.is_some_and(|g| g != self.adapter.guild()) {
            return None;
        }
        let text = m.content.clone();
        // A file (an attached syllabus) is described, not downloaded: the engine fetches it
        // only for a command that may use it.
        let attachment = m.attachments.first().map(|a| Attachment {
            name: a.filename.clone(),
            size: Some(u64::from(a.size)),
            source: a.url.clone(),
        });
        let (room, thread) = self.place(m.channel_id.get());
        // Direct or not is decided by what the bot knows of the channel: a message read back
        // through REST has no `guild_id` even when it was said in a course channel or thread.
        let is_direct = {
            let known = self.adapter.known();
            let channel = m.channel_id.get();
            if known.channels.contains_key(&channel) {
                false
            } else if known.dms.values().any(|c| *c == channel) {
                true
            } else {
                m.guild_id.is_none()
            }
        };
        Some(IncomingMessage {
            id: message_ref(room, m.id.get()),
            event_id: m.id.get().to_string(),
            author: Self::user(m.author.id),
            author_name: m.author.global_name.clone().unwrap_or_else(|| m.author.name.clone()),
            text,
            is_direct,
            thread,
            sent_at: discord_time(&m.timestamp),
            needs_answer: false,
            attachment,
        })
    }

    /// After connecting (a start, or a session Discord would not resume), reads back what was
    /// said in course channels and their threads during the last hour: Discord does not
    /// replay it, and the engine drops what it already handled (by message id).
    async fn catch_up(&self) {
        let cutoff = Utc::now() - chrono::Duration::from_std(CATCH_UP).unwrap_or_default();
        let recent = |id: u64| DateTime::<Utc>::from_timestamp_millis(snowflake_millis(id)).is_some_and(|t| t > cutoff);
        let courses = self.adapter.courses();
        let channels: Vec<u64> = {
            let known = self.adapter.known();
            let is_course = |c: &Channel| !c.thread && courses.contains(&c.name);
            known
                .channels
                .iter()
                .filter(|(_, c)| {
                    is_course(c) || (c.thread && c.parent.and_then(|p| known.channels.get(&p)).is_some_and(is_course))
                })
                .filter(|(_, c)| c.last_message.is_some_and(recent))
                .map(|(id, _)| *id)
                .collect()
        };
        let mut found = 0;
        for channel in channels {
            let messages = match self.adapter.inner.http.get_messages(ChannelId::new(channel), None, Some(50)).await {
                Ok(m) => m,
                Err(e) => {
                    warn!(channel, error = %e, "reading back a course channel failed");
                    continue;
                }
            };
            for m in messages.iter().rev().filter(|m| recent(m.id.get()) && m.content.trim_start().starts_with('!')) {
                if let Some(message) = self.incoming(m).await {
                    found += 1;
                    let _ = self.events.send((m.id.get(), ChatEvent::Message(message)));
                }
            }
        }
        if found > 0 {
            info!(commands = found, "read back recent commands from course channels");
        }
    }

    async fn command(&self, c: CommandInteraction) {
        let user = c.member.as_ref().map_or(&c.user, |m| &m.user).clone();
        let iid = c.id.get();
        let channel = c.channel_id.get();
        let (id, token) = (c.id, c.token.clone());
        let reply = |text: String| {
            let token = token.clone();
            async move {
                let body = json!({"type": 4, "data": {"content": text, "flags": 64}});
                if let Err(e) = self.adapter.inner.http.create_interaction_response(id, &token, &body, Vec::new()).await
                {
                    warn!(error = %e, "answering an interaction failed");
                }
            }
        };
        let inv = match invocation(&c.data) {
            Ok(inv) => inv,
            Err(e) => {
                return reply(format!("⚠️ {e}: this server's commands are out of date; try `!help`.")).await;
            }
        };
        let text = inv.text;
        let attachment = match inv.file {
            Some(file) => match c.data.resolved.attachments.get(&serenity::all::AttachmentId::new(file)) {
                Some(a) => {
                    Some(Attachment { name: a.filename.clone(), size: Some(u64::from(a.size)), source: a.url.clone() })
                }
                None => return reply("⚠️ The file did not arrive with the command; attach it again.".to_owned()).await,
            },
            None => None,
        };
        let pending =
            Pending { token: c.token.clone(), channel, received: std::time::Instant::now(), state: Answer::Waiting };
        let pending = Arc::new(tokio::sync::Mutex::new(pending));
        {
            let mut map = self.adapter.inner.interactions.lock().expect("not poisoned");
            map.retain(|_, p| p.try_lock().map_or(true, |p| p.received.elapsed() < TOKEN_LIFETIME));
            map.insert(iid, Arc::clone(&pending));
        }
        // Discord drops an interaction not answered in three seconds: defer if it comes to that.
        let http = Arc::clone(&self.adapter.inner.http);
        tokio::spawn(async move {
            tokio::time::sleep(DEFER_AFTER).await;
            let mut p = pending.lock().await;
            if p.state == Answer::Waiting {
                let body = json!({"type": 5, "data": {"flags": 64}});
                match http.create_interaction_response(InteractionId::new(iid), &p.token, &body, Vec::new()).await {
                    Ok(()) => p.state = Answer::Deferred,
                    // Another instance on the same token answered it: nothing to do here.
                    Err(e) if discord_code(&e) == Some(ACKNOWLEDGED) => p.state = Answer::Answered,
                    Err(e) => warn!(interaction = iid, error = %e, "deferring an interaction failed"),
                }
            }
        });
        let (room, thread) = self.place(channel);
        let message = IncomingMessage {
            id: MessageRef { room: room_ref(room), id: message_id(&interaction_id(iid, user.id.get())) },
            event_id: iid.to_string(),
            author: Self::user(user.id),
            author_name: user.global_name.clone().unwrap_or_else(|| user.name.clone()),
            text,
            is_direct: c.guild_id.is_none(),
            thread,
            sent_at: DateTime::<Utc>::from_timestamp(c.id.created_at().unix_timestamp(), 0).unwrap_or_else(Utc::now),
            needs_answer: true,
            attachment,
        };
        let _ = self.events.send((iid, ChatEvent::Message(message)));
    }
}

#[serenity::async_trait]
impl EventHandler for Handler {
    async fn ready(&self, _ctx: Context, ready: Ready) {
        {
            let mut known = self.adapter.known();
            known.own = ready.user.id.get();
        }
        // Every request the adapter makes goes through this one client (and its ratelimiter);
        // serenity's own client only fetches the gateway's address.
        self.adapter.inner.http.set_application_id(ready.application.id);
        info!(user = %ready.user.name, guilds = ready.guilds.len(), "connected to the Discord gateway");
        if self.adapter.inner.config.slash_commands {
            match self.adapter.inner.http.create_guild_commands(self.adapter.guild(), &definitions()).await {
                Ok(cmds) => info!(commands = cmds.len(), "slash commands registered"),
                Err(e) => warn!(error = %e, "registering slash commands failed; the ! prefix still works"),
            }
            // A guild's commands do not exist in DMs: the ones meant for DMs are global too,
            // offered only there.
            match self.adapter.inner.http.create_global_commands(&dm_definitions()).await {
                Ok(cmds) => info!(commands = cmds.len(), "slash commands for direct messages registered"),
                Err(e) => warn!(error = %e, "registering DM slash commands failed; ! still works in DMs"),
            }
        }
        if !ready.guilds.iter().any(|g| g.id == self.adapter.guild())
            && let Some(tx) = self.ready.lock().expect("not poisoned").take()
        {
            let _ = tx.send(Err(format!(
                "the bot is not in the server {} ([discord] guild); invite it first (see docs/discord.md)",
                self.adapter.inner.config.guild
            )));
        }
    }

    async fn guild_create(&self, _ctx: Context, guild: Guild, _is_new: Option<bool>) {
        if guild.id != self.adapter.guild() {
            return;
        }
        {
            let mut known = self.adapter.known();
            for (id, c) in guild.channels.iter().chain(guild.threads.iter().map(|t| (&t.id, t))) {
                known.channels.insert(id.get(), channel_info(c));
            }
            for (id, r) in &guild.roles {
                known.roles.insert(r.name.clone(), id.get());
            }
            for (id, m) in &guild.members {
                known.member_roles.insert(id.get(), m.roles.iter().map(|r| r.get()).collect());
            }
        }
        debug!(channels = guild.channels.len(), roles = guild.roles.len(), "guild loaded");
        if let Some(tx) = self.ready.lock().expect("not poisoned").take() {
            let _ = tx.send(Ok(()));
        }
        self.catch_up().await;
    }

    async fn channel_create(&self, _ctx: Context, channel: GuildChannel) {
        self.adapter.known().channels.insert(channel.id.get(), channel_info(&channel));
    }

    async fn category_create(&self, _ctx: Context, channel: GuildChannel) {
        self.adapter.known().channels.insert(channel.id.get(), channel_info(&channel));
    }

    async fn thread_create(&self, _ctx: Context, thread: GuildChannel) {
        self.adapter.known().channels.insert(thread.id.get(), channel_info(&thread));
    }

    /// A member given a course's learner role (by an organizer in Discord's own interface, or
    /// by the bot on `!join`) has joined the course, as joining a room does on Matrix; the
    /// domain welcomes newcomers and ignores people already in.
    async fn guild_member_update(
        &self,
        _ctx: Context,
        _old: Option<Member>,
        _new: Option<Member>,
        event: serenity::all::GuildMemberUpdateEvent,
    ) {
        if event.guild_id != self.adapter.guild() || event.user.bot {
            return;
        }
        let user = event.user.id.get();
        let now: BTreeSet<u64> = event.roles.iter().map(|r| r.get()).collect();
        let joined: Vec<u64> = {
            let mut known = self.adapter.known();
            let before = known.member_roles.insert(user, now.clone()).unwrap_or_default();
            let names: HashMap<u64, String> = known.roles.iter().map(|(n, id)| (*id, n.clone())).collect();
            now.difference(&before)
                .filter_map(|role| {
                    let (course, kind) = course_of_role(names.get(role)?)?;
                    if kind != CourseRole::Learner {
                        return None;
                    }
                    known.channels.iter().find(|(_, c)| !c.thread && c.name == course).map(|(id, _)| *id)
                })
                .collect()
        };
        for channel in joined {
            let event_id = format!("role-{user}-{channel}-{}", Utc::now().timestamp_millis());
            let e = ChatEvent::MemberJoined {
                event_id,
                room: room_ref(channel),
                user: Self::user(event.user.id),
                name: event.user.global_name.clone().unwrap_or_else(|| event.user.name.clone()),
            };
            // After the messages that led to it (a snowflake from now).
            let order =
                (u64::try_from(Utc::now().timestamp_millis()).unwrap_or(0).saturating_sub(DISCORD_EPOCH_MS)) << 22;
            let _ = self.events.send((order, e));
        }
    }

    async fn message(&self, _ctx: Context, m: Message) {
        if let Some(message) = self.incoming(&m).await {
            let _ = self.events.send((m.id.get(), ChatEvent::Message(message)));
        }
    }

    async fn interaction_create(&self, _ctx: Context, interaction: Interaction) {
        match interaction {
            Interaction::Command(c) => self.command(c).await,
            Interaction::Autocomplete(a) => {
                let prefix = autocomplete_prefix(&a.data).unwrap_or_default();
                let courses = self.adapter.courses();
                let choices: Vec<Value> = suggestions(&prefix, courses.iter().map(String::as_str))
                    .into_iter()
                    .map(|c| json!({"name": c, "value": c}))
                    .collect();
                let body = json!({"type": 8, "data": {"choices": choices}});
                if let Err(e) =
                    self.adapter.inner.http.create_interaction_response(a.id, &a.token, &body, Vec::new()).await
                {
                    debug!(error = %e, "answering an autocomplete failed");
                }
            }
            _ => {}
        }
    }
}

/// Passes events on in snowflake order: serenity runs each event in its own task, so a burst
/// (a resumed session's replay) can arrive shuffled by a few microseconds.
async fn reorder(mut from: mpsc::UnboundedReceiver<(u64, ChatEvent)>, to: mpsc::Sender<ChatEvent>) {
    while let Some(first) = from.recv().await {
        let mut burst = vec![first];
        for _ in 0..3 {
            tokio::task::yield_now().await;
            while let Ok(e) = from.try_recv() {
                burst.push(e);
            }
        }
        burst.sort_by_key(|(id, _)| *id);
        for (_, e) in burst {
            if to.send(e).await.is_err() {
                return;
            }
        }
    }
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

    async fn create_space(&self, name: &str, _key: &str) -> Result<RoomRef, AdapterError> {
        let name: String = name.trim().chars().take(100).collect();
        Ok(room_ref(self.channel(&name, 4, None, json!({})).await?))
    }

    async fn create_room(&self, spec: &RoomSpec, _key: &str) -> Result<RoomRef, AdapterError> {
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
        let id = self.channel(&name, 0, parent, json!({"topic": topic, "permission_overwrites": overwrites})).await?;
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

    /// Discord has no invitations for bots to answer.
    async fn answer_invite(&self, _room: &RoomRef, _accept: bool) -> Result<(), AdapterError> {
        Ok(())
    }

    /// Discord replays missed events only within a live session (resume); a new session reads
    /// back recent commands instead (see the module's docs), so there is no position to save.
    async fn checkpoint(&self, _token: &str) -> Result<(), AdapterError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slash_command_ids_carry_the_interaction_and_the_user() {
        let id = interaction_id(1_234_567_890_123, 81_234_567_890_123_456);
        assert_eq!(parse_interaction(&id), Some((1_234_567_890_123, 81_234_567_890_123_456)));
        assert_eq!(parse_interaction("1234"), None);
    }

    #[test]
    fn the_invite_permissions_are_the_documented_integer() {
        assert_eq!(INVITE_PERMISSIONS, 326_686_075_920);
    }
}
