//! The gateway: events in, in Discord's order. serenity hands each event to its own task;
//! the adapter puts bursts back into snowflake order, reads back recent commands after a new
//! session, and turns members given a course's learner role into joins.

use super::*;

/// How far back commands said in course channels are read after connecting.
const CATCH_UP: Duration = Duration::from_secs(60 * 60);
/// Discord's epoch (2015-01-01), in Unix milliseconds.
const DISCORD_EPOCH_MS: u64 = 1_420_070_400_000;

/// The gateway intents the bot needs: guild structure, messages in guilds and in DMs, their
/// content (for the `!` prefix), and members (for names and roles).
pub fn intents() -> GatewayIntents {
    GatewayIntents::GUILDS
        | GatewayIntents::GUILD_MESSAGES
        | GatewayIntents::DIRECT_MESSAGES
        | GatewayIntents::MESSAGE_CONTENT
        | GatewayIntents::GUILD_MEMBERS
}

/// When a snowflake was made, in Unix milliseconds.
pub(crate) fn snowflake_millis(id: u64) -> i64 {
    i64::try_from((id >> 22) + DISCORD_EPOCH_MS).unwrap_or(i64::MAX)
}

pub(crate) fn discord_time(ts: &serenity::model::Timestamp) -> DateTime<Utc> {
    DateTime::<Utc>::from_timestamp(ts.unix_timestamp(), 0).unwrap_or_else(Utc::now)
}

/// Receives gateway events (each in its own task, as serenity runs them) and passes them on.
pub(crate) struct Handler {
    pub(crate) adapter: DiscordAdapter,
    pub(crate) events: mpsc::UnboundedSender<(u64, ChatEvent)>,
    pub(crate) ready: Mutex<Option<oneshot::Sender<Result<(), String>>>>,
}

impl Handler {
    pub(crate) fn user(id: UserId) -> UserRef {
        UserRef::new(Platform::Discord, &id.get().to_string()).expect("a snowflake is a valid id")
    }

    /// The room and thread of a message said in `channel`: a thread's messages belong to its
    /// parent channel (the course), with the thread as where the answer goes.
    pub(crate) fn place(&self, channel: u64) -> (u64, Option<MessageRef>) {
        match self.adapter.known().channels.get(&channel) {
            Some(Channel { thread: true, parent: Some(parent), .. }) => (*parent, Some(message_ref(channel, channel))),
            _ => (channel, None),
        }
    }

    /// A person's message as the platform-neutral event (none for bots and other servers).
    pub(crate) async fn incoming(&self, m: &Message) -> Option<IncomingMessage> {
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
    pub(crate) async fn catch_up(&self) {
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
pub(crate) async fn reorder(mut from: mpsc::UnboundedReceiver<(u64, ChatEvent)>, to: mpsc::Sender<ChatEvent>) {
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
