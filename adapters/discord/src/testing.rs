//! A local Discord for tests and benchmarks: Discord's REST API (`/api/v10`, over TLS as
//! `discord.com`, with a CA of its own) and its gateway (websocket), speaking Discord's JSON.
//!
//! It keeps its own server (guild): channels, categories, threads, roles, members, messages,
//! interactions; it checks what the bot sends (authorization, required fields and limits,
//! that replies and threads point at real messages, interaction tokens and deadlines) and
//! records every violation for the test to assert on. It can answer 429s and drop the gateway
//! connection on demand; a dropped session is resumed with the events it missed.
//!
//! The bot reaches it as in production: serenity's HTTP client with its ratelimiter, told to
//! find `discord.com` at this server's address and to trust its CA.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response, StatusCode};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::{Notify, mpsc, oneshot};
use tokio_tungstenite::tungstenite::Message as Ws;

use crate::spec::spec;

/// Milliseconds from the Unix epoch to Discord's.
const DISCORD_EPOCH: u64 = 1_420_070_400_000;
/// The permissions every member has in the test server (administrator).
const MEMBER_PERMISSIONS: &str = "8";

/// What someone (the bot or a test user) posted, as the local Discord stored it.
#[derive(Debug, Clone)]
pub struct Posted {
    /// Message id (for interaction responses without a message, the interaction's id).
    pub id: u64,
    /// Channel (for interaction responses, the interaction's channel).
    pub channel: u64,
    pub author: u64,
    pub content: String,
    /// Embeds, as sent.
    pub embeds: Vec<Value>,
    /// The message it replies to.
    pub reply_to: Option<u64>,
    /// The slash command it answers.
    pub interaction: Option<u64>,
    /// Only the invoker sees it.
    pub ephemeral: bool,
    /// Users it may ping.
    pub allowed_users: Vec<u64>,
    /// It pings everyone in the channel: `@everyone` or `@here` in a message that does not
    /// forbid it (Discord parses every kind of mention when `allowed_mentions` is missing).
    pub pings_everyone: bool,
}

impl Posted {
    /// Content and embeds as one text (titles and descriptions).
    pub fn text(&self) -> String {
        let mut out = self.content.clone();
        for e in &self.embeds {
            for key in ["title", "description"] {
                if let Some(t) = e[key].as_str() {
                    out.push('\n');
                    out.push_str(t);
                }
            }
        }
        out
    }

    /// The text as a Discord client shows it: a backslash before punctuation is Markdown's
    /// escape and is not shown.
    pub fn shown(&self) -> String {
        let text = self.text();
        let mut out = String::with_capacity(text.len());
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            if c == '\\' && chars.peek().is_some_and(char::is_ascii_punctuation) {
                out.extend(chars.next());
            } else {
                out.push(c);
            }
        }
        out
    }
}

#[derive(Debug, Clone)]
struct Chan {
    kind: u8,
    name: String,
    parent: Option<u64>,
    topic: Option<String>,
    recipients: Vec<u64>,
    overwrites: Value,
}

#[derive(Debug)]
struct Interaction {
    token: String,
    channel: u64,
    created: Instant,
    /// None: not answered; Some(5): deferred; Some(4): answered.
    response: Option<u8>,
}

#[derive(Debug, Default)]
struct Session {
    id: String,
    seq: u64,
    log: Vec<(u64, String)>,
    live: Option<mpsc::UnboundedSender<String>>,
    kill: Option<oneshot::Sender<()>>,
}

#[derive(Debug, Default)]
struct World {
    last_id: u64,
    users: BTreeMap<u64, (String, bool)>,
    channels: BTreeMap<u64, Chan>,
    roles: BTreeMap<u64, String>,
    members: BTreeMap<u64, BTreeSet<u64>>,
    messages: Vec<Posted>,
    message_channel: HashMap<u64, u64>,
    last_message: HashMap<u64, u64>,
    threads_of: HashMap<u64, u64>,
    interactions: HashMap<u64, Interaction>,
    commands: Vec<Value>,
    /// The application's global commands (those offered in DMs).
    global_commands: Vec<Value>,
    /// Display names (`global_name`) that differ from the username.
    display: HashMap<u64, String>,
    attachments: HashMap<u64, (String, Vec<u8>)>,
    /// How many times the CDN served an attachment.
    downloads: usize,
    nonces: HashMap<(u64, String), u64>,
    violations: Vec<String>,
    requests: u64,
    limited: u64,
    limit_every: Option<u64>,
    holds: Vec<(String, f64)>,
    session: Session,
    identifies: u32,
    resumes: u32,
    gateway_url: String,
    ws_token: String,
    /// The audit log: (entry id, action type, target, reason), oldest first.
    audit: Vec<(u64, u8, u64, Option<String>)>,
    /// The bot lacks View Audit Log.
    audit_denied: bool,
}

/// A local Discord server, with one guild that the bot is in.
#[derive(Debug, Clone)]
pub struct LocalDiscord {
    /// The bot's token.
    pub token: String,
    /// The guild.
    pub guild: u64,
    /// The bot's application (and user) id.
    pub bot: u64,
    /// Where the REST API listens (give it as `connect_to`).
    pub address: SocketAddr,
    /// The CA certificate to trust (PEM file; give it as `ca_file`).
    pub ca_file: PathBuf,
    world: Arc<Mutex<World>>,
    changed: Arc<Notify>,
    _dir: Arc<tempfile_dir::Dir>,
}

mod tempfile_dir {
    /// A directory removed on drop.
    #[derive(Debug)]
    pub struct Dir(pub std::path::PathBuf);
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

fn now_iso() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

impl World {
    fn snowflake(&mut self) -> u64 {
        let ms = u64::try_from(chrono::Utc::now().timestamp_millis()).unwrap_or(0).saturating_sub(DISCORD_EPOCH);
        self.last_id = (ms << 22).max(self.last_id + 1);
        self.last_id
    }

    fn user_json(&self, id: u64) -> Value {
        let (name, bot) = self.users.get(&id).cloned().unwrap_or_else(|| ("ghost".into(), false));
        let display = self.display.get(&id).unwrap_or(&name);
        json!({"id": id.to_string(), "username": name, "discriminator": "0", "global_name": display, "avatar": null, "bot": bot,
               "public_flags": 0, "flags": 0, "primary_guild": null})
    }

    fn member_json(&self, guild: u64, id: u64) -> Value {
        let roles: Vec<String> =
            self.members.get(&id).map(|r| r.iter().map(u64::to_string).collect()).unwrap_or_default();
        json!({"user": self.user_json(id), "roles": roles, "joined_at": now_iso(), "deaf": false, "mute": false,
               "flags": 0, "nick": null, "guild_id": guild.to_string(), "permissions": MEMBER_PERMISSIONS,
               "avatar": null, "banner": null, "communication_disabled_until": null, "pending": false,
               "premium_since": null})
    }

    fn channel_json(&self, guild: u64, id: u64) -> Value {
        let c = &self.channels[&id];
        if c.kind == 1 {
            return json!({"id": id.to_string(), "type": 1, "last_message_id": null, "flags": 0,
                          "recipients": c.recipients.iter().map(|r| self.user_json(*r)).collect::<Vec<_>>()});
        }
        let mut v = json!({"id": id.to_string(), "type": c.kind, "guild_id": guild.to_string(), "name": c.name,
                           "position": 0, "permission_overwrites": c.overwrites, "nsfw": false, "flags": 0,
                           "parent_id": c.parent.map(|p| p.to_string()), "topic": c.topic,
                           "last_message_id": self.last_message.get(&id).map(u64::to_string)});
        if c.kind == 11 {
            v["thread_metadata"] = json!({"archived": false, "auto_archive_duration": 10080,
                                          "archive_timestamp": now_iso(), "locked": false});
            v["owner_id"] = json!(c.recipients.first().map(u64::to_string));
            v["member_count"] = json!(1);
            v["message_count"] = json!(0);
            v["total_message_sent"] = json!(0);
        }
        v
    }

    fn role_json(id: u64, name: &str) -> Value {
        json!({"id": id.to_string(), "name": name, "color": 0, "hoist": false, "position": 1, "permissions": "0",
               "managed": false, "mentionable": true, "flags": 0, "icon": null, "unicode_emoji": null,
               "colors": {"primary_color": 0, "secondary_color": null, "tertiary_color": null}})
    }

    fn message_json(&self, guild: Option<u64>, p: &Posted, attachments: &[Value]) -> Value {
        let mut v = json!({"id": p.id.to_string(), "channel_id": p.channel.to_string(), "author": self.user_json(p.author),
            "content": p.content, "timestamp": now_iso(), "edited_timestamp": null, "tts": false,
            "mention_everyone": false, "mentions": [], "mention_roles": [], "attachments": attachments,
            "embeds": p.embeds.iter().map(embed_as_answered).collect::<Vec<_>>(), "pinned": false, "type": if p.reply_to.is_some() { 19 } else { 0 }, "flags": 0,
            "components": []});
        if let Some(g) = guild {
            v["guild_id"] = json!(g.to_string());
        }
        if let Some(r) = p.reply_to {
            v["message_reference"] =
                json!({"type": 0, "message_id": r.to_string(), "channel_id": p.channel.to_string()});
        }
        v
    }

    fn guild_of(&self, guild: u64, channel: u64) -> Option<u64> {
        self.channels.get(&channel).filter(|c| c.kind != 1).map(|_| guild)
    }

    /// Sends an event to the bot's session (kept for a resume while it is disconnected).
    fn dispatch(&mut self, t: &str, d: Value) {
        if self.session.id.is_empty() {
            return;
        }
        self.session.seq += 1;
        let payload = json!({"op": 0, "t": t, "s": self.session.seq, "d": d}).to_string();
        self.session.log.push((self.session.seq, payload.clone()));
        if let Some(live) = &self.session.live {
            let _ = live.send(payload);
        }
    }
}

fn response(status: StatusCode, body: &Value) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body.to_string())));
    *r.status_mut() = status;
    r.headers_mut().insert("content-type", "application/json".parse().expect("a valid header"));
    r
}

fn no_content() -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::new()));
    *r.status_mut() = StatusCode::NO_CONTENT;
    r
}

fn error(status: StatusCode, code: u32, message: &str) -> Response<Full<Bytes>> {
    response(status, &json!({"code": code, "message": message}))
}

impl LocalDiscord {
    /// Starts the server: a guild with the bot in it and no channels yet.
    ///
    /// # Panics
    /// When it cannot listen on loopback or make its certificates (a broken test machine).
    pub async fn start() -> LocalDiscord {
        let dir = std::env::temp_dir().join(format!("local-discord-{}-{}", std::process::id(), rand_u64()));
        std::fs::create_dir_all(&dir).expect("a temp dir");
        let (ca_pem, tls) = certificates();
        let ca_file = dir.join("ca.pem");
        std::fs::write(&ca_file, ca_pem).expect("writing the CA");
        let rest = TcpListener::bind("127.0.0.1:0").await.expect("binding the REST port");
        let gateway = TcpListener::bind("127.0.0.1:0").await.expect("binding the gateway port");
        let address = rest.local_addr().expect("an address");
        let gateway_url = format!("ws://{}", gateway.local_addr().expect("an address"));
        let token = format!("local.{}.{}", rand_u64(), rand_u64());
        let mut world = World { gateway_url, ws_token: token.clone(), ..World::default() };
        let guild = world.snowflake();
        let bot = world.snowflake();
        world.users.insert(bot, ("facilitator".into(), true));
        world.members.insert(bot, BTreeSet::new());
        let discord = LocalDiscord {
            token,
            guild,
            bot,
            address,
            ca_file,
            world: Arc::new(Mutex::new(world)),
            changed: Arc::new(Notify::new()),
            _dir: Arc::new(tempfile_dir::Dir(dir)),
        };
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(tls));
        let d = discord.clone();
        tokio::spawn(async move {
            while let Ok((tcp, _)) = rest.accept().await {
                let acceptor = acceptor.clone();
                let d = d.clone();
                tokio::spawn(async move {
                    let Ok(tls) = acceptor.accept(tcp).await else { return };
                    let service = hyper::service::service_fn(move |req| {
                        let d = d.clone();
                        async move { Ok::<_, std::convert::Infallible>(d.handle(req).await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(tls), service)
                        .await;
                });
            }
        });
        let d = discord.clone();
        tokio::spawn(async move {
            while let Ok((tcp, _)) = gateway.accept().await {
                let d = d.clone();
                tokio::spawn(async move { d.gateway_connection(tcp).await });
            }
        });
        discord
    }

    fn world(&self) -> std::sync::MutexGuard<'_, World> {
        self.world.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A new member of the guild (GUILD_MEMBER_ADD is dispatched).
    pub fn member(&self, name: &str) -> u64 {
        self.member_shown_as(name, name)
    }

    /// A new member whose display name (anyone may pick any) differs from their username
    /// (unique on Discord).
    pub fn member_shown_as(&self, name: &str, display: &str) -> u64 {
        let mut w = self.world();
        let id = w.snowflake();
        w.users.insert(id, (name.to_owned(), false));
        if display != name {
            w.display.insert(id, display.to_owned());
        }
        w.members.insert(id, BTreeSet::new());
        let m = w.member_json(self.guild, id);
        w.dispatch("GUILD_MEMBER_ADD", m);
        id
    }

    /// The direct-message channel between a user and the bot.
    pub fn dm(&self, user: u64) -> u64 {
        self.dm_locked(&mut self.world(), user)
    }

    /// An admin makes a text channel in Discord's interface (not the bot: no audit entry of
    /// the bot's); returns its id.
    pub fn add_channel(&self, name: &str) -> u64 {
        let mut w = self.world();
        let id = w.snowflake();
        w.channels.insert(
            id,
            Chan {
                kind: 0,
                name: name.to_owned(),
                parent: None,
                topic: None,
                recipients: vec![],
                overwrites: json!([]),
            },
        );
        let v = w.channel_json(self.guild, id);
        w.dispatch("CHANNEL_CREATE", v);
        id
    }

    /// Takes View Audit Log from the bot (Discord answers 403 to reading it).
    pub fn deny_audit_log(&self) {
        self.world().audit_denied = true;
    }

    /// How many channels (and categories) exist with this name.
    pub fn channels_named(&self, name: &str) -> usize {
        self.world().channels.values().filter(|c| c.name == name && (c.kind == 0 || c.kind == 4)).count()
    }

    /// A channel by name (a course channel the bot made).
    pub fn channel_named(&self, name: &str) -> Option<u64> {
        self.world().channels.iter().find(|(_, c)| c.name == name && c.kind == 0).map(|(id, _)| *id)
    }

    /// A channel's category, topic and permission overwrites.
    pub fn channel_details(&self, id: u64) -> Option<(Option<String>, Option<String>, Value)> {
        let w = self.world();
        let c = w.channels.get(&id)?;
        let parent = c.parent.and_then(|p| w.channels.get(&p)).map(|p| p.name.clone());
        Some((parent, c.topic.clone(), c.overwrites.clone()))
    }

    /// The names of a member's roles.
    pub fn roles_of(&self, user: u64) -> Vec<String> {
        let w = self.world();
        w.members.get(&user).map(|r| r.iter().filter_map(|id| w.roles.get(id).cloned()).collect()).unwrap_or_default()
    }

    /// Gives a member a role by name, as an admin does in Discord's interface
    /// (GUILD_MEMBER_UPDATE is dispatched).
    pub fn give_role(&self, user: u64, role: &str) {
        let mut w = self.world();
        let Some(id) = w.roles.iter().find(|(_, n)| *n == role).map(|(id, _)| *id) else { panic!("no role {role}") };
        w.members.entry(user).or_default().insert(id);
        let roles: Vec<String> = w.members[&user].iter().map(u64::to_string).collect();
        let user_json = w.user_json(user);
        w.dispatch(
            "GUILD_MEMBER_UPDATE",
            json!({"guild_id": self.guild.to_string(), "roles": roles, "user": user_json, "joined_at": now_iso()}),
        );
    }

    /// A channel's name.
    pub fn name_of(&self, channel: u64) -> Option<String> {
        self.world().channels.get(&channel).map(|c| c.name.clone())
    }

    /// Who a direct-message channel is between.
    pub fn recipients(&self, channel: u64) -> Vec<u64> {
        self.world().channels.get(&channel).map(|c| c.recipients.clone()).unwrap_or_default()
    }

    /// The thread started from a message, if any.
    pub fn thread_of(&self, message: u64) -> Option<u64> {
        self.world().threads_of.get(&message).copied()
    }

    /// A user posts a message.
    pub fn say(&self, user: u64, channel: u64, text: &str) -> u64 {
        self.say_with_file(user, channel, text, None)
    }

    /// A user posts a message with an attached file (`name`, `content`).
    pub fn say_with_file(&self, user: u64, channel: u64, text: &str, file: Option<(&str, &str)>) -> u64 {
        let mut w = self.world();
        let id = w.snowflake();
        let attachments: Vec<Value> = file
            .map(|(name, content)| {
                let a = w.snowflake();
                w.attachments.insert(a, (name.to_owned(), content.as_bytes().to_vec()));
                vec![attachment_json(a, name, content.len())]
            })
            .unwrap_or_default();
        let p = Posted {
            id,
            channel,
            author: user,
            content: text.to_owned(),
            embeds: vec![],
            reply_to: None,
            interaction: None,
            ephemeral: false,
            allowed_users: vec![],
            pings_everyone: false,
        };
        let guild = w.guild_of(self.guild, channel);
        let mut json = w.message_json(guild, &p, &attachments);
        if guild.is_some() {
            json["member"] = w.member_json(self.guild, user);
        }
        w.messages.push(p);
        w.message_channel.insert(id, channel);
        w.last_message.insert(channel, id);
        w.dispatch("MESSAGE_CREATE", json);
        drop(w);
        self.changed.notify_waiters();
        id
    }

    /// A user runs a slash command: `options` as Discord sends them (`[{"name", "type", "value"}]`,
    /// subcommands nested). Returns the interaction id.
    pub fn slash(&self, user: u64, channel: u64, name: &str, options: Value) -> u64 {
        self.interaction(user, channel, 2, name, options, None)
    }

    /// A slash command with an attached file for its `file` option.
    pub fn slash_with_file(&self, user: u64, channel: u64, name: &str, options: Value, file: (&str, &str)) -> u64 {
        self.interaction(user, channel, 2, name, options, Some(file))
    }

    /// A user types in an autocompleted option (the option has `"focused": true`).
    pub fn autocomplete(&self, user: u64, channel: u64, name: &str, options: Value) -> u64 {
        self.interaction(user, channel, 4, name, options, None)
    }

    fn interaction(
        &self,
        user: u64,
        channel: u64,
        kind: u8,
        name: &str,
        mut options: Value,
        file: Option<(&str, &str)>,
    ) -> u64 {
        let mut w = self.world();
        let id = w.snowflake();
        let token = format!("itoken-{id}-{}", rand_u64());
        let mut resolved = json!({});
        if let Some((fname, content)) = file {
            let a = w.snowflake();
            w.attachments.insert(a, (fname.to_owned(), content.as_bytes().to_vec()));
            resolved = json!({"attachments": {a.to_string(): attachment_json(a, fname, content.len())}});
            fill_attachment(&mut options, a);
        }
        let guild = w.guild_of(self.guild, channel);
        // A guild's commands exist only in the guild: in a DM a client offers only the global
        // commands whose contexts include the bot's DMs. A test cannot send what no client can.
        let offered = if guild.is_some() {
            w.commands.iter().find(|c| c["name"] == name)
        } else {
            w.global_commands
                .iter()
                .find(|c| c["name"] == name && c["contexts"].as_array().is_some_and(|ctx| ctx.contains(&json!(1))))
        };
        let command_id = match offered {
            Some(c) => c["id"].as_str().unwrap_or("1").to_owned(),
            None if guild.is_none() => {
                panic!("/{name} is not offered in direct messages: no global command for the bot's DMs has that name")
            }
            None => "1".to_owned(),
        };
        let context = if guild.is_some() { 0 } else { 1 };
        let mut v = json!({"id": id.to_string(), "application_id": self.bot.to_string(), "type": kind, "context": context,
            "data": {"id": command_id, "name": name, "type": 1, "options": options, "resolved": resolved},
            "channel_id": channel.to_string(), "channel": {"id": channel.to_string(), "type": w.channels.get(&channel).map_or(0, |c| c.kind)},
            "token": token, "version": 1, "locale": "en-US", "app_permissions": "8", "entitlements": [],
            "authorizing_integration_owners": {}, "attachment_size_limit": 26_214_400});
        if guild.is_some() {
            v["guild_id"] = json!(self.guild.to_string());
            v["guild_locale"] = json!("en-US");
            v["member"] = w.member_json(self.guild, user);
        } else {
            v["user"] = w.user_json(user);
        }
        w.interactions.insert(id, Interaction { token, channel, created: Instant::now(), response: None });
        w.dispatch("INTERACTION_CREATE", v);
        id
    }

    /// The global commands the bot registered (those offered in direct messages).
    pub fn dm_commands(&self) -> Vec<Value> {
        self.world().global_commands.clone()
    }

    /// Everything posted so far (users' messages and the bot's).
    pub fn posted(&self) -> Vec<Posted> {
        self.world().messages.clone()
    }

    /// What the bot posted.
    pub fn from_bot(&self) -> Vec<Posted> {
        self.world().messages.iter().filter(|m| m.author == self.bot).cloned().collect()
    }

    /// How many attachments the bot downloaded from the CDN.
    pub fn downloads(&self) -> usize {
        self.world().downloads
    }

    /// Requests that broke Discord's rules.
    pub fn violations(&self) -> Vec<String> {
        self.world().violations.clone()
    }

    /// The slash commands the bot registered.
    pub fn commands(&self) -> Vec<Value> {
        self.world().commands.clone()
    }

    /// Answer every `n`th REST request with a 429 (None: never).
    pub fn rate_limit_every(&self, n: Option<u64>) {
        self.world().limit_every = n;
    }

    /// Answer the next request whose path contains `fragment` with a 429 asking to wait
    /// `seconds` (a slow platform, to make the bot late).
    pub fn rate_limit_next(&self, fragment: &str, seconds: f64) {
        self.world().holds.push((fragment.to_owned(), seconds));
    }

    /// How many 429s were sent.
    pub fn limited(&self) -> u64 {
        self.world().limited
    }

    /// Cuts the gateway connection without a close frame, as a network failure would. Events
    /// until the bot resumes are kept for it.
    pub fn drop_gateway(&self) {
        let mut w = self.world();
        w.session.live = None;
        if let Some(kill) = w.session.kill.take() {
            let _ = kill.send(());
        }
    }

    /// IDENTIFYs and RESUMEs received.
    pub fn sessions(&self) -> (u32, u32) {
        let w = self.world();
        (w.identifies, w.resumes)
    }

    /// Whether the bot has a live gateway connection.
    pub fn connected(&self) -> bool {
        self.world().session.live.is_some()
    }

    /// Waits until the bot posts something matching `pred` (after the `skip` first of the
    /// bot's posts), up to 30 s.
    ///
    /// # Panics
    /// When nothing matches in time.
    pub async fn wait_for(&self, what: &str, pred: impl Fn(&Posted) -> bool) -> Posted {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let notified = self.changed.notified();
            if let Some(p) = self.from_bot().into_iter().find(|p| pred(p)) {
                return p;
            }
            if Instant::now() > deadline {
                let seen: Vec<String> = self.from_bot().iter().rev().take(8).map(Posted::text).collect();
                panic!("waited 30 s for {what}; the bot's last posts:\n{}", seen.join("\n---\n"));
            }
            let _ = tokio::time::timeout(Duration::from_millis(200), notified).await;
        }
    }

    /// A user says `text` in `channel` and waits for the bot's reply to it.
    pub async fn ask(&self, user: u64, channel: u64, text: &str) -> Posted {
        let id = self.say(user, channel, text);
        self.wait_for(&format!("a reply to {text:?}"), |p| p.reply_to == Some(id)).await
    }

    /// A user runs a slash command and waits for its answer (a response, an edit of a deferred
    /// one, or a post in the channel after the token expired).
    pub async fn run(&self, user: u64, channel: u64, name: &str, options: Value) -> Posted {
        let id = self.slash(user, channel, name, options);
        self.wait_for(&format!("an answer to /{name}"), |p| p.interaction == Some(id)).await
    }

    fn record(&self, w: &mut World, p: Posted) {
        w.message_channel.insert(p.id, p.channel);
        if p.interaction.is_none() {
            w.last_message.insert(p.channel, p.id);
        }
        w.messages.push(p);
        self.changed.notify_waiters();
    }

    async fn gateway_connection(&self, tcp: tokio::net::TcpStream) {
        let Ok(ws) = tokio_tungstenite::accept_async(tcp).await else { return };
        let (tx, rx) = mpsc::unbounded_channel::<String>();
        self.serve_gateway(ws, &tx, rx).await;
        // Gone: events wait in the session's log for a resume.
        let mut w = self.world();
        if w.session.live.as_ref().is_some_and(|l| l.same_channel(&tx)) {
            w.session.live = None;
        }
    }

    async fn serve_gateway(
        &self,
        ws: tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>,
        tx: &mpsc::UnboundedSender<String>,
        mut rx: mpsc::UnboundedReceiver<String>,
    ) {
        let (mut sink, mut stream) = ws.split();
        let (kill_tx, mut kill_rx) = oneshot::channel::<()>();
        let hello = json!({"op": 10, "d": {"heartbeat_interval": 41_250}}).to_string();
        if sink.send(Ws::Text(hello)).await.is_err() {
            return;
        }
        let mut kill_tx = Some(kill_tx);
        loop {
            tokio::select! {
                _ = &mut kill_rx => return,
                out = rx.recv() => {
                    let Some(out) = out else { return };
                    if sink.send(Ws::Text(out)).await.is_err() { return; }
                }
                incoming = stream.next() => {
                    let Some(Ok(msg)) = incoming else { return };
                    let Ws::Text(text) = msg else { continue };
                    let Ok(v) = serde_json::from_str::<Value>(&text) else { continue };
                    let replies = self.gateway_op(&v, tx, &mut kill_tx);
                    for r in replies {
                        if sink.send(Ws::Text(r)).await.is_err() { return; }
                    }
                }
            }
        }
    }

    /// Answers one gateway message; what it returns is sent before any queued dispatch.
    fn gateway_op(
        &self,
        v: &Value,
        live: &mpsc::UnboundedSender<String>,
        kill: &mut Option<oneshot::Sender<()>>,
    ) -> Vec<String> {
        let mut w = self.world();
        let token_ok = |t: &str| t.trim_start_matches("Bot ") == w.ws_token;
        match v["op"].as_u64() {
            Some(1) => vec![json!({"op": 11}).to_string()],
            Some(2) => {
                if !token_ok(v["d"]["token"].as_str().unwrap_or_default()) {
                    w.violations.push("IDENTIFY with a wrong token".into());
                    return vec![];
                }
                let intents = v["d"]["intents"].as_u64().unwrap_or(0);
                // GUILDS, GUILD_MEMBERS, GUILD_MESSAGES, DIRECT_MESSAGES, MESSAGE_CONTENT.
                let needed = 1 | (1 << 1) | (1 << 9) | (1 << 12) | (1 << 15);
                if intents & needed != needed {
                    w.violations.push(format!("IDENTIFY without the needed intents: {intents}"));
                }
                w.identifies += 1;
                let session = format!("session-{}", rand_u64());
                w.session = Session { id: session.clone(), seq: 0, log: Vec::new(), live: None, kill: None };
                let ready = json!({"v": 10, "user": w.user_json(self.bot), "guilds": [{"id": self.guild.to_string(), "unavailable": true}],
                    "session_id": session, "resume_gateway_url": w.gateway_url, "shard": [0, 1],
                    "application": {"id": self.bot.to_string(), "flags": 0}, "private_channels": []});
                w.dispatch("READY", ready);
                let guild = self.guild_json(&w);
                w.dispatch("GUILD_CREATE", guild);
                let out: Vec<String> = w.session.log.iter().map(|(_, p)| p.clone()).collect();
                w.session.live = Some(live.clone());
                w.session.kill = kill.take();
                out
            }
            Some(6) => {
                let d = &v["d"];
                if !token_ok(d["token"].as_str().unwrap_or_default()) || d["session_id"].as_str() != Some(&w.session.id)
                {
                    return vec![json!({"op": 9, "d": false}).to_string()];
                }
                w.resumes += 1;
                let from = d["seq"].as_u64().unwrap_or(0);
                let mut out: Vec<String> =
                    w.session.log.iter().filter(|(s, _)| *s > from).map(|(_, p)| p.clone()).collect();
                w.session.seq += 1;
                let resumed = json!({"op": 0, "t": "RESUMED", "s": w.session.seq, "d": {}}).to_string();
                let seq = w.session.seq;
                w.session.log.push((seq, resumed.clone()));
                out.push(resumed);
                w.session.live = Some(live.clone());
                w.session.kill = kill.take();
                out
            }
            _ => vec![],
        }
    }

    /// Application commands as Discord stores them (ids, the application, the guild for guild
    /// commands), or why Discord refuses the first one it would refuse.
    fn registered(&self, w: &mut World, list: &[Value], guild: Option<&str>) -> Result<Vec<Value>, String> {
        let mut out = Vec::new();
        for c in list {
            let mut c = c.clone();
            if let Err(e) = check_command(&c) {
                w.violations.push(format!("command {}: {e}", c["name"]));
                return Err(e);
            }
            let id = w.snowflake();
            c["id"] = json!(id.to_string());
            c["application_id"] = json!(self.bot.to_string());
            if let Some(guild) = guild {
                c["guild_id"] = json!(guild);
            }
            c["version"] = json!(id.to_string());
            c["default_member_permissions"] = Value::Null;
            out.push(c);
        }
        Ok(out)
    }

    fn guild_json(&self, w: &World) -> Value {
        let channels: Vec<Value> = w
            .channels
            .iter()
            .filter(|(_, c)| c.kind == 0 || c.kind == 4)
            .map(|(id, _)| w.channel_json(self.guild, *id))
            .collect();
        let threads: Vec<Value> =
            w.channels.iter().filter(|(_, c)| c.kind == 11).map(|(id, _)| w.channel_json(self.guild, *id)).collect();
        let mut roles: Vec<Value> = vec![World::role_json(self.guild, "@everyone")];
        roles.extend(w.roles.iter().map(|(id, n)| World::role_json(*id, n)));
        // Without the presence intent Discord lists only the bot itself (and members in voice).
        let members: Vec<Value> = vec![w.member_json(self.guild, self.bot)];
        json!({"id": self.guild.to_string(), "name": "Local School", "icon": null, "splash": null, "discovery_splash": null,
            "owner_id": self.bot.to_string(), "afk_channel_id": null, "afk_timeout": 300, "verification_level": 0,
            "default_message_notifications": 0, "explicit_content_filter": 0, "roles": roles, "emojis": [], "features": [],
            "mfa_level": 0, "application_id": null, "system_channel_id": null, "system_channel_flags": 0,
            "rules_channel_id": null, "vanity_url_code": null, "description": null, "banner": null, "premium_tier": 0,
            "preferred_locale": "en-US", "public_updates_channel_id": null, "nsfw_level": 0, "premium_progress_bar_enabled": false,
            "joined_at": now_iso(), "large": false, "unavailable": false, "member_count": w.members.len(),
            "voice_states": [], "members": members, "channels": channels, "threads": threads, "presences": [],
            "stage_instances": [], "guild_scheduled_events": [], "stickers": [], "max_video_channel_users": 25})
    }

    async fn handle(&self, req: Request<Incoming>) -> Response<Full<Bytes>> {
        let method = req.method().clone();
        let path = req.uri().path().to_owned();
        let query = req.uri().query().unwrap_or_default().to_owned();
        let auth = req.headers().get("authorization").and_then(|v| v.to_str().ok()).map(str::to_owned);
        let reason = req.headers().get("x-audit-log-reason").and_then(|v| v.to_str().ok()).map(decode_query);
        let body = match req.into_body().collect().await {
            Ok(b) => b.to_bytes(),
            Err(_) => return error(StatusCode::BAD_REQUEST, 0, "unreadable body"),
        };
        let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        // The CDN: attachments.
        if let ["attachments", id, _name] = segments.as_slice() {
            let mut w = self.world();
            w.downloads += 1;
            return match id.parse::<u64>().ok().and_then(|id| w.attachments.get(&id)) {
                Some((_, bytes)) => Response::new(Full::new(Bytes::from(bytes.clone()))),
                None => error(StatusCode::NOT_FOUND, 0, "no such attachment"),
            };
        }
        let Some(rest) = segments.strip_prefix(&["api", "v10"]) else {
            return error(StatusCode::NOT_FOUND, 0, "404: Not Found");
        };
        let json: Value =
            if body.is_empty() { Value::Null } else { serde_json::from_slice(&body).unwrap_or(Value::Null) };
        let answer = {
            let mut w = self.world();
            let webhook = matches!(rest.first(), Some(&"webhooks" | &"interactions"));
            if !webhook && auth.as_deref() != Some(&format!("Bot {}", self.token)) {
                w.violations.push(format!("{method} {path} without the bot's authorization"));
                return error(StatusCode::UNAUTHORIZED, 0, "401: Unauthorized");
            }
            if !body.is_empty() && json.is_null() {
                w.violations.push(format!("{method} {path} with a body that is not JSON"));
                return error(StatusCode::BAD_REQUEST, 50109, "The request body contains invalid JSON.");
            }
            // Discord's own description of the request: a request it rejects is a violation.
            if let Err(e) = spec().check_request(method.as_str(), rest, &query, &json) {
                w.violations.push(format!("Discord's API description rejects {e}"));
                return error(StatusCode::BAD_REQUEST, 50035, &format!("Invalid Form Body: {e}"));
            }
            if !matches!(rest, ["gateway"] | ["gateway", "bot"]) {
                w.requests += 1;
                let held = w.holds.iter().position(|(f, _)| path.contains(f.as_str()));
                let hold = held.map(|i| w.holds.remove(i).1);
                if hold.is_some() || w.limit_every.is_some_and(|n| w.requests.is_multiple_of(n)) {
                    w.limited += 1;
                    let global = hold.is_none() && w.limited.is_multiple_of(5);
                    let wait = hold.unwrap_or(0.05);
                    let mut r = response(
                        StatusCode::TOO_MANY_REQUESTS,
                        &json!({"message": "You are being rate limited.", "retry_after": wait, "global": global}),
                    );
                    let h = r.headers_mut();
                    h.insert("retry-after", wait.to_string().parse().expect("a valid header"));
                    h.insert(
                        "x-ratelimit-scope",
                        if global { "global" } else { "user" }.parse().expect("a valid header"),
                    );
                    if global {
                        h.insert("x-ratelimit-global", "true".parse().expect("a valid header"));
                    }
                    return r;
                }
            }
            self.route(&mut w, method.as_str(), rest, &query, &json, reason)
        };
        self.shaped(method.as_str(), rest, answer).await
    }

    /// Checks an answer against Discord's description of the operation's response: the local
    /// Discord must answer only what real Discord would (a mismatch is a violation, so a fake
    /// kinder than Discord shows up in the test that relies on it).
    async fn shaped(&self, method: &str, rest: &[&str], answer: Response<Full<Bytes>>) -> Response<Full<Bytes>> {
        let (parts, body) = answer.into_parts();
        let Ok(bytes) = body.collect().await.map(http_body_util::Collected::to_bytes);
        if parts.status.is_success()
            && let Ok(value) = serde_json::from_slice::<Value>(&bytes)
            && let Err(e) = spec().check_response(method, rest, parts.status.as_u16(), &value)
        {
            self.world().violations.push(format!("the local Discord answered unlike Discord: {e}"));
        }
        Response::from_parts(parts, Full::new(bytes))
    }

    #[allow(clippy::too_many_lines)]
    fn route(
        &self,
        w: &mut World,
        method: &str,
        rest: &[&str],
        query: &str,
        body: &Value,
        reason: Option<String>,
    ) -> Response<Full<Bytes>> {
        let guild = self.guild.to_string();
        let parse = |s: &str| s.parse::<u64>().unwrap_or(0);
        match (method, rest) {
            ("GET", ["gateway"]) => response(StatusCode::OK, &json!({"url": w.gateway_url})),
            ("GET", ["gateway", "bot"]) => response(
                StatusCode::OK,
                &json!({"url": w.gateway_url, "shards": 1, "session_start_limit":
                    {"total": 1000, "remaining": 999, "reset_after": 0, "max_concurrency": 1}}),
            ),
            ("GET", ["users", "@me"]) => response(StatusCode::OK, &w.user_json(self.bot)),
            ("PUT", ["applications", app, "guilds", g, "commands"]) => {
                if *app != self.bot.to_string() || *g != guild {
                    w.violations.push(format!("commands registered for application {app} in guild {g}"));
                    return error(StatusCode::NOT_FOUND, 10002, "Unknown Application");
                }
                let Some(list) = body.as_array() else {
                    w.violations.push("a command overwrite that is not a list".into());
                    return error(StatusCode::BAD_REQUEST, 50035, "Invalid Form Body");
                };
                let out = match self.registered(w, list, Some(guild.as_str())) {
                    Ok(out) => out,
                    Err(e) => return error(StatusCode::BAD_REQUEST, 50035, &e),
                };
                w.commands.clone_from(&out);
                response(StatusCode::OK, &Value::Array(out))
            }
            ("PUT", ["applications", app, "commands"]) => {
                if *app != self.bot.to_string() {
                    w.violations.push(format!("global commands registered for application {app}"));
                    return error(StatusCode::NOT_FOUND, 10002, "Unknown Application");
                }
                let out = match self.registered(w, body.as_array().map_or(&[][..], Vec::as_slice), None) {
                    Ok(out) => out,
                    Err(e) => return error(StatusCode::BAD_REQUEST, 50035, &e),
                };
                w.global_commands.clone_from(&out);
                response(StatusCode::OK, &Value::Array(out))
            }
            ("GET", ["guilds", g, "members", "search"]) if *g == guild => {
                // Members whose username or display name starts with the query, ignoring case.
                let param = |name: &str| {
                    query.split('&').find_map(|kv| kv.strip_prefix(name).and_then(|v| v.strip_prefix('=')))
                };
                let wanted = decode_query(param("query").unwrap_or_default()).to_lowercase();
                let limit = param("limit").and_then(|l| l.parse::<usize>().ok()).unwrap_or(1);
                let list: Vec<Value> = w
                    .members
                    .keys()
                    .filter(|id| {
                        let (name, _) = w.users.get(id).cloned().unwrap_or_default();
                        let display = w.display.get(id).cloned().unwrap_or_else(|| name.clone());
                        name.to_lowercase().starts_with(&wanted) || display.to_lowercase().starts_with(&wanted)
                    })
                    .take(limit)
                    .map(|id| w.member_json(self.guild, *id))
                    .collect();
                response(StatusCode::OK, &Value::Array(list))
            }
            ("GET", ["guilds", g, "audit-logs"]) if *g == guild => {
                if w.audit_denied {
                    return error(StatusCode::FORBIDDEN, 50013, "Missing Permissions");
                }
                let param = |name: &str| {
                    query.split('&').find_map(|kv| kv.strip_prefix(name).and_then(|v| v.strip_prefix('=')))
                };
                let action = param("action_type").and_then(|a| a.parse::<u8>().ok());
                let user = param("user_id").and_then(|u| u.parse::<u64>().ok());
                let before = param("before").and_then(|b| b.parse::<u64>().ok());
                let limit = param("limit").and_then(|l| l.parse::<usize>().ok()).unwrap_or(50);
                // Every entry here is the bot's own (only the bot makes requests).
                let entries: Vec<Value> = w
                    .audit
                    .iter()
                    .rev()
                    .filter(|(id, kind, _, _)| {
                        action.is_none_or(|a| a == *kind)
                            && user.is_none_or(|u| u == self.bot)
                            && before.is_none_or(|b| *id < b)
                    })
                    .take(limit)
                    .map(|(id, kind, target, reason)| {
                        let mut e = json!({"id": id.to_string(), "action_type": kind, "user_id": self.bot.to_string(),
                                           "target_id": target.to_string(), "changes": []});
                        if let Some(r) = reason {
                            e["reason"] = json!(r);
                        }
                        e
                    })
                    .collect();
                response(
                    StatusCode::OK,
                    &json!({"audit_log_entries": entries, "users": [w.user_json(self.bot)], "integrations": [],
                            "webhooks": [], "guild_scheduled_events": [], "threads": [], "application_commands": [],
                            "auto_moderation_rules": []}),
                )
            }
            ("GET", ["guilds", g, "channels"]) if *g == guild => {
                let list: Vec<Value> = w
                    .channels
                    .iter()
                    .filter(|(_, c)| c.kind == 0 || c.kind == 4)
                    .map(|(id, _)| w.channel_json(self.guild, *id))
                    .collect();
                response(StatusCode::OK, &Value::Array(list))
            }
            ("POST", ["guilds", g, "channels"]) if *g == guild => {
                let name = body["name"].as_str().unwrap_or_default();
                let kind = u8::try_from(body["type"].as_u64().unwrap_or(0)).unwrap_or(0);
                if name.is_empty() || name.chars().count() > 100 {
                    w.violations.push(format!("a channel named {name:?}"));
                    return error(StatusCode::BAD_REQUEST, 50035, "Invalid Form Body: name");
                }
                if kind == 0 && (name.chars().any(|c| c.is_whitespace() || c.is_uppercase())) {
                    w.violations.push(format!("a text channel named {name:?} (Discord would rename it)"));
                }
                let parent = body["parent_id"].as_str().map(parse);
                if let Some(p) = parent
                    && w.channels.get(&p).map(|c| c.kind) != Some(4)
                {
                    w.violations.push(format!("a channel in {p}, which is not a category"));
                    return error(StatusCode::BAD_REQUEST, 50035, "Invalid Form Body: parent_id");
                }
                if body["topic"].as_str().is_some_and(|t| t.chars().count() > 1024) {
                    w.violations.push("a topic over 1024 characters".into());
                    return error(StatusCode::BAD_REQUEST, 50035, "Invalid Form Body: topic");
                }
                if let Some(list) = body["permission_overwrites"].as_array() {
                    for o in list {
                        let id = o["id"].as_str().map_or(0, parse);
                        let known = w.roles.contains_key(&id) || w.members.contains_key(&id) || id == self.guild;
                        if !known || o["allow"].as_str().is_none() {
                            w.violations.push(format!("a permission overwrite for unknown {id} or without allow: {o}"));
                        }
                    }
                }
                let id = w.snowflake();
                w.channels.insert(
                    id,
                    Chan {
                        kind,
                        name: name.to_owned(),
                        parent,
                        topic: body["topic"].as_str().map(str::to_owned),
                        recipients: vec![],
                        overwrites: body.get("permission_overwrites").cloned().unwrap_or(json!([])),
                    },
                );
                if reason.as_ref().is_some_and(|r| r.is_empty() || r.chars().count() > 512) {
                    w.violations
                        .push(format!("an audit log reason of {} characters", reason.as_ref().map_or(0, String::len)));
                }
                let entry = w.snowflake();
                w.audit.push((entry, 10, id, reason));
                let v = w.channel_json(self.guild, id);
                w.dispatch("CHANNEL_CREATE", v.clone());
                response(StatusCode::CREATED, &v)
            }
            ("PATCH", ["channels", c]) => {
                let id = parse(c);
                if !w.channels.contains_key(&id) {
                    return error(StatusCode::NOT_FOUND, 10003, "Unknown Channel");
                }
                if let Some(t) = body["topic"].as_str() {
                    if t.chars().count() > 1024 {
                        w.violations.push("a topic over 1024 characters".into());
                        return error(StatusCode::BAD_REQUEST, 50035, "Invalid Form Body: topic");
                    }
                    w.channels.get_mut(&id).expect("checked").topic = Some(t.to_owned());
                }
                let v = w.channel_json(self.guild, id);
                w.dispatch("CHANNEL_UPDATE", v.clone());
                response(StatusCode::OK, &v)
            }
            ("GET", ["guilds", g, "roles"]) if *g == guild => {
                let mut list = vec![World::role_json(self.guild, "@everyone")];
                list.extend(w.roles.iter().map(|(id, n)| World::role_json(*id, n)));
                response(StatusCode::OK, &Value::Array(list))
            }
            ("POST", ["guilds", g, "roles"]) if *g == guild => {
                let name = body["name"].as_str().unwrap_or_default();
                if name.is_empty() || name.chars().count() > 100 {
                    w.violations.push(format!("a role named {name:?}"));
                    return error(StatusCode::BAD_REQUEST, 50035, "Invalid Form Body: name");
                }
                let id = w.snowflake();
                w.roles.insert(id, name.to_owned());
                let v = World::role_json(id, name);
                w.dispatch("GUILD_ROLE_CREATE", json!({"guild_id": guild, "role": v}));
                response(StatusCode::OK, &v)
            }
            (m @ ("PUT" | "DELETE"), ["guilds", g, "members", u, "roles", r]) if *g == guild => {
                let (user, role) = (parse(u), parse(r));
                if !w.roles.contains_key(&role) {
                    return error(StatusCode::NOT_FOUND, 10011, "Unknown Role");
                }
                let Some(roles) = w.members.get_mut(&user) else {
                    return error(StatusCode::NOT_FOUND, 10007, "Unknown Member");
                };
                let changed = if m == "PUT" { roles.insert(role) } else { roles.remove(&role) };
                if changed {
                    let roles: Vec<String> = roles.iter().map(u64::to_string).collect();
                    let user_json = w.user_json(user);
                    w.dispatch(
                        "GUILD_MEMBER_UPDATE",
                        json!({"guild_id": guild, "roles": roles, "user": user_json, "joined_at": now_iso()}),
                    );
                }
                no_content()
            }
            ("POST", ["users", "@me", "channels"]) => {
                let user = body["recipient_id"].as_str().map_or(0, parse);
                if !w.users.contains_key(&user) {
                    return error(StatusCode::BAD_REQUEST, 50035, "Invalid Form Body: recipient_id");
                }
                let id = self.dm_locked(w, user);
                response(StatusCode::OK, &w.channel_json(self.guild, id))
            }
            ("POST", ["channels", c, "messages"]) => self.create_message(w, parse(c), body),
            ("GET", ["channels", c, "messages"]) => {
                let channel = parse(c);
                if !w.channels.contains_key(&channel) {
                    return error(StatusCode::NOT_FOUND, 10003, "Unknown Channel");
                }
                // Newest first, at most 50 (Discord's default page). A REST message object has
                // no `guild_id`: that is a field of the gateway's MESSAGE_CREATE only.
                let list: Vec<Value> = w
                    .messages
                    .iter()
                    .rev()
                    .filter(|m| m.channel == channel && m.interaction.is_none())
                    .take(50)
                    .map(|m| w.message_json(None, m, &[]))
                    .collect();
                response(StatusCode::OK, &Value::Array(list))
            }
            ("POST", ["channels", c, "messages", m, "threads"]) => {
                let (channel, message) = (parse(c), parse(m));
                if w.message_channel.get(&message) != Some(&channel) {
                    return error(StatusCode::NOT_FOUND, 10008, "Unknown Message");
                }
                if w.threads_of.contains_key(&message) {
                    return error(
                        StatusCode::BAD_REQUEST,
                        160_004,
                        "A thread has already been created for this message",
                    );
                }
                let name = body["name"].as_str().unwrap_or_default();
                if name.is_empty() || name.chars().count() > 100 {
                    w.violations.push(format!("a thread named {name:?}"));
                    return error(StatusCode::BAD_REQUEST, 50035, "Invalid Form Body: name");
                }
                w.channels.insert(
                    message,
                    Chan {
                        kind: 11,
                        name: name.to_owned(),
                        parent: Some(channel),
                        topic: None,
                        recipients: vec![self.bot],
                        overwrites: json!([]),
                    },
                );
                w.threads_of.insert(message, message);
                let v = w.channel_json(self.guild, message);
                let mut created = v.clone();
                created["newly_created"] = json!(true);
                w.dispatch("THREAD_CREATE", created);
                response(StatusCode::CREATED, &v)
            }
            ("POST", ["interactions", i, token, "callback"]) => self.interaction_callback(w, parse(i), token, body),
            ("PATCH", ["webhooks", app, token, "messages", "@original"]) if *app == self.bot.to_string() => {
                let Some((iid, i)) = w.interactions.iter().find(|(_, i)| i.token == *token) else {
                    return error(StatusCode::NOT_FOUND, 10015, "Unknown Webhook");
                };
                if i.response.is_none() {
                    w.violations.push("an edit of an interaction response that was never sent".into());
                    return error(StatusCode::NOT_FOUND, 10008, "Unknown Message");
                }
                let (iid, channel, ephemeral) = (*iid, i.channel, i.response == Some(5));
                if let Err(e) = check_message(body) {
                    w.violations.push(format!("interaction edit: {e}"));
                    return error(StatusCode::BAD_REQUEST, 50035, &e);
                }
                let id = w.snowflake();
                let p = self.bot_post(id, channel, body, None, Some(iid), ephemeral);
                let v = w.message_json(w.guild_of(self.guild, channel), &p, &[]);
                self.record(w, p);
                response(StatusCode::OK, &v)
            }
            ("DELETE", ["webhooks", app, token, "messages", "@original"]) if *app == self.bot.to_string() => {
                if !w.interactions.values().any(|i| i.token == *token && i.response.is_some()) {
                    return error(StatusCode::NOT_FOUND, 10008, "Unknown Message");
                }
                no_content()
            }
            ("POST", ["webhooks", app, token]) if *app == self.bot.to_string() => {
                let Some((iid, i)) = w.interactions.iter().find(|(_, i)| i.token == *token) else {
                    return error(StatusCode::NOT_FOUND, 10015, "Unknown Webhook");
                };
                let (iid, channel) = (*iid, i.channel);
                if let Err(e) = check_message(body) {
                    w.violations.push(format!("followup: {e}"));
                    return error(StatusCode::BAD_REQUEST, 50035, &e);
                }
                let id = w.snowflake();
                let ephemeral = body["flags"].as_u64().is_some_and(|f| f & 64 != 0);
                let p = self.bot_post(id, channel, body, None, Some(iid), ephemeral);
                let v = w.message_json(w.guild_of(self.guild, channel), &p, &[]);
                self.record(w, p);
                response(StatusCode::OK, &v)
            }
            _ => {
                w.violations.push(format!("{method} /{} is not a route the local Discord knows", rest.join("/")));
                error(StatusCode::NOT_FOUND, 0, "404: Not Found")
            }
        }
    }

    fn dm_locked(&self, w: &mut World, user: u64) -> u64 {
        if let Some((id, _)) = w.channels.iter().find(|(_, c)| c.kind == 1 && c.recipients == vec![user, self.bot]) {
            return *id;
        }
        let id = w.snowflake();
        w.channels.insert(
            id,
            Chan {
                kind: 1,
                name: String::new(),
                parent: None,
                topic: None,
                recipients: vec![user, self.bot],
                overwrites: json!([]),
            },
        );
        id
    }

    fn bot_post(
        &self,
        id: u64,
        channel: u64,
        body: &Value,
        reply_to: Option<u64>,
        interaction: Option<u64>,
        ephemeral: bool,
    ) -> Posted {
        Posted {
            id,
            channel,
            author: self.bot,
            content: body["content"].as_str().unwrap_or_default().to_owned(),
            embeds: body["embeds"].as_array().cloned().unwrap_or_default(),
            reply_to,
            interaction,
            ephemeral,
            allowed_users: body["allowed_mentions"]["users"]
                .as_array()
                .map(|u| u.iter().filter_map(|x| x.as_str()?.parse().ok()).collect())
                .unwrap_or_default(),
            pings_everyone: {
                let content = body["content"].as_str().unwrap_or_default();
                let allowed = match body["allowed_mentions"]["parse"].as_array() {
                    Some(parse) => parse.iter().any(|x| x == "everyone"),
                    None => body.get("allowed_mentions").is_none(),
                };
                allowed && (content.contains("@everyone") || content.contains("@here"))
            },
        }
    }

    fn create_message(&self, w: &mut World, channel: u64, body: &Value) -> Response<Full<Bytes>> {
        let Some(c) = w.channels.get(&channel) else {
            w.violations.push(format!("a message to unknown channel {channel}"));
            return error(StatusCode::NOT_FOUND, 10003, "Unknown Channel");
        };
        if c.kind == 4 {
            w.violations.push("a message to a category".into());
            return error(StatusCode::BAD_REQUEST, 50008, "Cannot send messages in a non-text channel");
        }
        if c.kind == 1 && !c.recipients.contains(&self.bot) {
            return error(StatusCode::FORBIDDEN, 50001, "Missing Access");
        }
        if let Err(e) = check_message(body) {
            w.violations.push(format!("message: {e}"));
            return error(StatusCode::BAD_REQUEST, 50035, &e);
        }
        let nonce = body["nonce"].as_str().map(str::to_owned);
        if nonce.as_ref().is_some_and(|n| n.len() > 25) {
            w.violations.push("a nonce over 25 characters".into());
            return error(StatusCode::BAD_REQUEST, 50035, "Invalid Form Body: nonce");
        }
        if let (Some(n), true) = (&nonce, body["enforce_nonce"].as_bool() == Some(true))
            && let Some(existing) = w.nonces.get(&(channel, n.clone())).copied()
        {
            let p = w.messages.iter().find(|m| m.id == existing).cloned().expect("a stored message");
            return response(StatusCode::OK, &w.message_json(w.guild_of(self.guild, channel), &p, &[]));
        }
        let reply_to = body["message_reference"]["message_id"].as_str().map(|s| s.parse::<u64>().unwrap_or(0));
        if let Some(r) = reply_to
            && !w.message_channel.contains_key(&r)
        {
            w.violations.push(format!("a reply to unknown message {r}"));
            return error(StatusCode::BAD_REQUEST, 50035, "Invalid Form Body: message_reference");
        }
        let id = w.snowflake();
        let p = self.bot_post(id, channel, body, reply_to, None, false);
        let v = w.message_json(w.guild_of(self.guild, channel), &p, &[]);
        if let Some(n) = nonce {
            w.nonces.insert((channel, n), id);
        }
        w.dispatch("MESSAGE_CREATE", v.clone());
        // The REST answer is the message object without the gateway's `guild_id`.
        let mut v = v;
        if let Some(o) = v.as_object_mut() {
            o.remove("guild_id");
        }
        self.record(w, p);
        response(StatusCode::OK, &v)
    }

    fn interaction_callback(&self, w: &mut World, iid: u64, token: &str, body: &Value) -> Response<Full<Bytes>> {
        let Some(i) = w.interactions.get(&iid) else {
            return error(StatusCode::NOT_FOUND, 10062, "Unknown interaction");
        };
        if i.token != token {
            w.violations.push(format!("a callback for interaction {iid} with another token"));
            return error(StatusCode::UNAUTHORIZED, 50027, "Invalid Webhook Token");
        }
        if i.response.is_some() {
            w.violations.push(format!("interaction {iid} acknowledged twice"));
            return error(StatusCode::BAD_REQUEST, 40060, "Interaction has already been acknowledged.");
        }
        if i.created.elapsed() > Duration::from_secs(3) {
            w.violations.push(format!("interaction {iid} answered after {:?}", i.created.elapsed()));
            return error(StatusCode::NOT_FOUND, 10062, "Unknown interaction");
        }
        let kind = body["type"].as_u64().unwrap_or(0);
        let channel = i.channel;
        match kind {
            4 => {
                if let Err(e) = check_message(&body["data"]) {
                    w.violations.push(format!("interaction response: {e}"));
                    return error(StatusCode::BAD_REQUEST, 50035, &e);
                }
                let ephemeral = body["data"]["flags"].as_u64().is_some_and(|f| f & 64 != 0);
                let p = self.bot_post(iid, channel, &body["data"], None, Some(iid), ephemeral);
                w.interactions.get_mut(&iid).expect("checked").response = Some(4);
                self.record(w, p);
            }
            5 => w.interactions.get_mut(&iid).expect("checked").response = Some(5),
            8 => {
                let choices = body["data"]["choices"].as_array().cloned().unwrap_or_default();
                if choices.len() > 25 {
                    w.violations.push("more than 25 autocomplete choices".into());
                    return error(StatusCode::BAD_REQUEST, 50035, "Invalid Form Body: choices");
                }
                let content = choices.iter().filter_map(|c| c["value"].as_str()).collect::<Vec<_>>().join(",");
                let p = Posted {
                    id: iid,
                    channel,
                    author: self.bot,
                    content,
                    embeds: vec![],
                    reply_to: None,
                    interaction: Some(iid),
                    ephemeral: true,
                    allowed_users: vec![],
                    pings_everyone: false,
                };
                w.interactions.get_mut(&iid).expect("checked").response = Some(8);
                self.record(w, p);
            }
            other => {
                w.violations.push(format!("interaction callback of type {other}"));
                return error(StatusCode::BAD_REQUEST, 50035, "Invalid Form Body: type");
            }
        }
        no_content()
    }
}

/// Discord's checks on a message body.
fn check_message(body: &Value) -> Result<(), String> {
    let content = body["content"].as_str().unwrap_or_default();
    let embeds = body["embeds"].as_array().map_or(0, Vec::len);
    if content.trim().is_empty() && embeds == 0 {
        return Err("an empty message".into());
    }
    if content.chars().count() > 2000 {
        return Err(format!("content of {} characters (at most 2000)", content.chars().count()));
    }
    if embeds > 10 {
        return Err("more than 10 embeds".into());
    }
    for e in body["embeds"].as_array().into_iter().flatten() {
        if e["description"].as_str().is_some_and(|d| d.chars().count() > 4096) {
            return Err("an embed description over 4096 characters".into());
        }
        if e["title"].as_str().is_some_and(|t| t.chars().count() > 256) {
            return Err("an embed title over 256 characters".into());
        }
    }
    if body["allowed_mentions"]["parse"].as_array().is_some_and(|p| p.iter().any(|x| x == "everyone")) {
        return Err("a message that may ping everyone".into());
    }
    Ok(())
}

/// Discord's checks on an application command.
fn check_command(c: &Value) -> Result<(), String> {
    let name = c["name"].as_str().unwrap_or_default();
    if name.is_empty() || name.len() > 32 || !name.chars().all(|ch| ch.is_ascii_lowercase() || ch == '-' || ch == '_') {
        return Err(format!("name {name:?}"));
    }
    let d = c["description"].as_str().unwrap_or_default();
    if d.is_empty() || d.chars().count() > 100 {
        return Err(format!("description of {name}"));
    }
    let options = c["options"].as_array().cloned().unwrap_or_default();
    if options.len() > 25 {
        return Err(format!("{name} has more than 25 options"));
    }
    let mut optional_seen = false;
    for o in &options {
        let required = o["required"].as_bool().unwrap_or(false);
        if required && optional_seen {
            return Err(format!("{name}: a required option after an optional one"));
        }
        optional_seen |= !required;
        check_command(o)?;
    }
    Ok(())
}

/// An embed as Discord answers it: typed "rich", fields with `inline` spelled out.
fn embed_as_answered(sent: &Value) -> Value {
    let mut e = sent.clone();
    if e.get("type").is_none() {
        e["type"] = json!("rich");
    }
    if let Some(fields) = e.get_mut("fields").and_then(Value::as_array_mut) {
        for f in fields {
            if f.get("inline").is_none() {
                f["inline"] = json!(false);
            }
        }
    }
    e
}

fn attachment_json(id: u64, name: &str, size: usize) -> Value {
    json!({"id": id.to_string(), "filename": name, "size": size, "content_type": "text/markdown; charset=utf-8",
           "url": format!("https://cdn.discordapp.com/attachments/{id}/{name}"),
           "proxy_url": format!("https://media.discordapp.net/attachments/{id}/{name}")})
}

/// Puts an attachment's id into the option of type 11 (at any depth).
fn fill_attachment(options: &mut Value, id: u64) {
    if let Some(list) = options.as_array_mut() {
        for o in list {
            if o["type"] == 11 {
                o["value"] = json!(id.to_string());
            }
            fill_attachment(&mut o["options"], id);
        }
    }
}

/// A query string's value as it was typed (`%40ana` is `@ana`, `+` a space).
fn decode_query(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                match u8::from_str_radix(std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("zz"), 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 3;
                        continue;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b'+' => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn rand_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos()));
    h.finish()
}

/// A CA (its PEM) and a server config whose certificate it signed for Discord's hosts.
fn certificates() -> (String, tokio_rustls::rustls::ServerConfig) {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
    let ca_key = KeyPair::generate().expect("a key");
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.distinguished_name.push(DnType::CommonName, "Local Discord test CA");
    let ca = ca_params.self_signed(&ca_key).expect("a CA");
    let key = KeyPair::generate().expect("a key");
    let params =
        CertificateParams::new(vec!["discord.com".into(), "cdn.discordapp.com".into(), "media.discordapp.net".into()])
            .expect("params");
    let cert = params.signed_by(&key, &ca, &ca_key).expect("a certificate");
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let config = tokio_rustls::rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_no_client_auth()
        .with_single_cert(
            vec![cert.der().clone()],
            tokio_rustls::rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
        )
        .expect("a server config");
    (ca.pem(), config)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serenity::all::{CommandInteraction, Guild, GuildChannel, Message, PrivateChannel, Ready, Role};

    fn world() -> (World, u64, u64) {
        let mut w = World::default();
        let guild = w.snowflake();
        let bot = w.snowflake();
        w.users.insert(bot, ("facilitator".into(), true));
        w.members.insert(bot, BTreeSet::new());
        (w, guild, bot)
    }

    #[test]
    fn the_payloads_are_what_serenity_reads() {
        let (mut w, guild, bot) = world();
        let cat = w.snowflake();
        w.channels.insert(
            cat,
            Chan {
                kind: 4,
                name: "school".into(),
                parent: None,
                topic: None,
                recipients: vec![],
                overwrites: json!([]),
            },
        );
        let ch = w.snowflake();
        w.channels.insert(
            ch,
            Chan {
                kind: 0,
                name: "data-101".into(),
                parent: Some(cat),
                topic: Some("t".into()),
                recipients: vec![],
                overwrites: json!([]),
            },
        );
        let th = w.snowflake();
        w.channels.insert(
            th,
            Chan {
                kind: 11,
                name: "Week 1".into(),
                parent: Some(ch),
                topic: None,
                recipients: vec![bot],
                overwrites: json!([]),
            },
        );
        let dm = w.snowflake();
        w.channels.insert(
            dm,
            Chan {
                kind: 1,
                name: String::new(),
                parent: None,
                topic: None,
                recipients: vec![bot, bot],
                overwrites: json!([]),
            },
        );
        let role = w.snowflake();
        w.roles.insert(role, "data-101 learners".into());
        let d = LocalDiscord {
            token: "t".into(),
            guild,
            bot,
            address: "127.0.0.1:1".parse().unwrap(),
            ca_file: PathBuf::new(),
            world: Arc::new(Mutex::new(World::default())),
            changed: Arc::new(Notify::new()),
            _dir: Arc::new(tempfile_dir::Dir(PathBuf::from("/nonexistent-local-discord"))),
        };
        let g: Guild = serde_json::from_value(d.guild_json(&w)).unwrap();
        assert_eq!(g.channels.len(), 2);
        assert_eq!(g.threads.len(), 1);
        let _: GuildChannel = serde_json::from_value(w.channel_json(guild, th)).unwrap();
        let _: PrivateChannel = serde_json::from_value(w.channel_json(guild, dm)).unwrap();
        let _: Role = serde_json::from_value(World::role_json(role, "x")).unwrap();
        let p = Posted {
            id: 9,
            channel: ch,
            author: bot,
            content: "hi".into(),
            embeds: vec![],
            reply_to: Some(8),
            interaction: None,
            ephemeral: false,
            allowed_users: vec![],
            pings_everyone: false,
        };
        let mut m = w.message_json(Some(guild), &p, &[attachment_json(5, "s.md", 3)]);
        m["member"] = w.member_json(guild, bot);
        let m: Message = serde_json::from_value(m).unwrap();
        assert_eq!(m.attachments[0].url, "https://cdn.discordapp.com/attachments/5/s.md");
        let ready = json!({"v": 10, "user": w.user_json(bot), "guilds": [{"id": guild.to_string(), "unavailable": true}],
            "session_id": "s", "resume_gateway_url": "ws://x", "shard": [0, 1],
            "application": {"id": bot.to_string(), "flags": 0}, "private_channels": []});
        let _: Ready = serde_json::from_value(ready).unwrap();
        let i = json!({"id": "77", "application_id": bot.to_string(), "type": 2,
            "data": {"id": "1", "name": "join", "type": 1, "options": [{"name": "course", "type": 3, "value": "data-101"}], "resolved": {}},
            "channel_id": ch.to_string(), "channel": {"id": ch.to_string(), "type": 0}, "guild_id": guild.to_string(),
            "member": w.member_json(guild, bot), "token": "tok", "version": 1, "locale": "en-US", "guild_locale": "en-US",
            "app_permissions": "8", "entitlements": [], "authorizing_integration_owners": {}, "attachment_size_limit": 1});
        let i: CommandInteraction = serde_json::from_value(i).unwrap();
        assert_eq!(crate::invocation(&i.data).unwrap().text, "!join data-101");
    }

    #[test]
    fn discord_refuses_what_it_would_refuse() {
        assert!(check_message(&json!({"content": ""})).is_err());
        assert!(check_message(&json!({"content": "x".repeat(2001)})).is_err());
        assert!(check_message(&json!({"embeds": [{"description": "x".repeat(4097)}]})).is_err());
        assert!(check_message(&json!({"content": "hi", "allowed_mentions": {"parse": ["everyone"]}})).is_err());
        assert!(check_message(&json!({"content": "hi"})).is_ok());
        assert!(check_command(&json!({"name": "Bad Name", "description": "x"})).is_err());
        assert!(check_command(&json!({"name": "ok", "description": "x", "options": [
            {"name": "a", "description": "a", "required": false}, {"name": "b", "description": "b", "required": true}]})).is_err());
    }
}
