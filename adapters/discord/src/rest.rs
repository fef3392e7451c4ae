//! Discord's REST API: every request goes through serenity's one HTTP client and its
//! ratelimiter (per-route and global limits honoured, a 429 waited out and retried); errors
//! become an [`AdapterError`] whose kind tells the executor whether to retry. Channels are found
//! again by their key (what this process made, then the audit log), roles and direct channels
//! in what the adapter knows, before they are made.

use serenity::model::guild::audit_log;

use super::*;

pub(crate) fn http_error(e: &serenity::Error) -> AdapterError {
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
pub(crate) fn discord_code(e: &serenity::Error) -> Option<isize> {
    match e {
        serenity::Error::Http(serenity::http::HttpError::UnsuccessfulRequest(r)) => Some(r.error.code),
        _ => None,
    }
}

/// Already acknowledged: someone (another instance on the token) answered or deferred it.
pub(crate) const ACKNOWLEDGED: isize = 40_060;
/// A thread has already been created for this message.
pub(crate) const THREAD_EXISTS: isize = 160_004;
/// Unknown interaction: expired, or never seen by Discord.
pub(crate) const UNKNOWN_INTERACTION: isize = 10_062;

/// Audit-log entries asked for per page (Discord's maximum).
const AUDIT_PAGE: u8 = 100;
/// How the bot's audit-log reasons begin.
const REASON_PREFIX: &str = "facilitator:";

/// The audit-log reason a channel is made with: its idempotency key's digest, so the key itself
/// (which may name people or courses) is not shown to the server's admins.
pub(crate) fn made_reason(key: &str) -> String {
    format!("{REASON_PREFIX}{}", facilitator_chat::key_digest(key, 32))
}

pub(crate) fn invalid(message: impl Into<String>) -> AdapterError {
    AdapterError::new(AdapterErrorKind::InvalidInput, message)
}

pub(crate) fn snowflake(text: &str) -> Result<u64, AdapterError> {
    text.parse::<u64>().ok().filter(|n| *n > 0).ok_or_else(|| invalid(format!("'{text}' is not a Discord id")))
}

impl DiscordAdapter {
    pub(crate) async fn post(
        &self,
        channel: u64,
        message: &OutgoingMessage,
        key: &str,
        embed: bool,
    ) -> Result<u64, AdapterError> {
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

    pub(crate) async fn dm_channel(&self, user: u64) -> Result<u64, AdapterError> {
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
    pub(crate) async fn role(&self, name: &str) -> Result<u64, AdapterError> {
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

    /// A channel (or category) of the server made for this idempotency key, made if missing.
    pub(crate) async fn channel(
        &self,
        name: &str,
        kind: u8,
        parent: Option<u64>,
        extra: Value,
        key: &str,
    ) -> Result<u64, AdapterError> {
        if let Some(id) = self.made_before(key).await? {
            return Ok(id);
        }
        if self.known().audit_read == Some(false) {
            // Without the audit log the name is all there is to go by.
            let found = |known: &Known| {
                known
                    .channels
                    .iter()
                    .find(|(_, c)| c.name == name && !c.thread && c.parent == parent)
                    .map(|(id, _)| *id)
            };
            let channels = self.inner.http.get_channels(self.guild()).await.map_err(|e| http_error(&e))?;
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
        let reason = made_reason(key);
        let made =
            self.inner.http.create_channel(self.guild(), &body, Some(&reason)).await.map_err(|e| http_error(&e))?;
        let mut known = self.known();
        known.channels.insert(made.id.get(), channel_info(&made));
        known.made.insert(reason, made.id.get());
        Ok(made.id.get())
    }

    /// The channel or category the bot made for this key, if it still exists: made by this
    /// process, or named by the reason of one of the bot's entries in the server's audit log
    /// (read once per process, newest first, as far back as Discord keeps it).
    pub(crate) async fn made_before(&self, key: &str) -> Result<Option<u64>, AdapterError> {
        let reason = made_reason(key);
        let existing = |known: &Known| known.made.get(&reason).copied().filter(|id| known.channels.contains_key(id));
        let (found, read) = {
            let known = self.known();
            (existing(&known), known.audit_read.is_some())
        };
        if found.is_some() || read {
            return Ok(found);
        }
        // The bot's own entries (every entry when its id is not known yet: the reason's digest
        // is the bot's alone anyway).
        let own = Some(self.known().own).filter(|id| *id != 0).map(UserId::new);
        let mut made = Vec::new();
        let mut before = None;
        let readable = loop {
            let page = match self
                .inner
                .http
                .get_audit_logs(
                    self.guild(),
                    Some(audit_log::Action::Channel(audit_log::ChannelAction::Create)),
                    own,
                    before,
                    Some(AUDIT_PAGE),
                )
                .await
            {
                Ok(page) => page,
                Err(e) if matches!(http_error(&e).kind(), AdapterErrorKind::Forbidden) => {
                    warn!("the bot may not view the server's audit log; channels it made are found again by name");
                    break false;
                }
                Err(e) => return Err(http_error(&e)),
            };
            made.extend(page.entries.iter().filter_map(|entry| {
                let reason = entry.reason.as_ref().filter(|r| r.starts_with(REASON_PREFIX))?;
                Some((reason.clone(), entry.target_id?.get()))
            }));
            before = page.entries.iter().map(|entry| entry.id).min();
            if page.entries.len() < usize::from(AUDIT_PAGE) || before.is_none() {
                break true;
            }
        };
        let mut known = self.known();
        // What this process made meanwhile stays; older entries never replace newer ones.
        for (reason, id) in made {
            known.made.entry(reason).or_insert(id);
        }
        known.audit_read = Some(readable);
        Ok(existing(&known))
    }

    /// The course names the server has roles for (for autocomplete).
    pub(crate) fn courses(&self) -> BTreeSet<String> {
        self.known()
            .roles
            .keys()
            .filter_map(|name| {
                course_of_role(name).filter(|(_, r)| *r == CourseRole::Learner).map(|(c, _)| c.to_owned())
            })
            .collect()
    }
}
