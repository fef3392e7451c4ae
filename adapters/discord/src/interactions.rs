//! Slash commands as they arrive and as they are answered: an invocation becomes the same
//! `!` text the one parser reads; the answer is the interaction's response within Discord's
//! three seconds, an edit of a deferred response later, and a post once the token is gone.

use super::*;
use rest::{ACKNOWLEDGED, UNKNOWN_INTERACTION};

/// Discord wants an answer to an interaction within three seconds; past this the adapter defers.
pub(crate) const DEFER_AFTER: Duration = Duration::from_millis(2000);
/// An interaction's token works for 15 minutes.
pub(crate) const TOKEN_LIFETIME: Duration = Duration::from_secs(14 * 60);
/// Message ids of slash commands start with this, then the interaction id and the user id.
pub(crate) const INTERACTION_PREFIX: &str = "i";

/// An interaction waiting for its answer.
#[derive(Debug)]
pub(crate) struct Pending {
    token: String,
    channel: u64,
    received: std::time::Instant,
    state: Answer,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Answer {
    Waiting,
    Deferred,
    Answered,
}

/// `i<interaction id>.<user id>`: the id of a slash command as a message.
fn interaction_id(interaction: u64, user: u64) -> String {
    format!("{INTERACTION_PREFIX}{interaction}.{user}")
}

fn parse_interaction(raw: &str) -> Option<(u64, u64)> {
    let (i, u) = raw.strip_prefix(INTERACTION_PREFIX)?.split_once('.')?;
    Some((i.parse().ok()?, u.parse().ok()?))
}

impl DiscordAdapter {
    /// Answers a slash command: within Discord's window as the interaction's response, later
    /// by editing the deferred one, and once the token is gone in the channel (or by direct
    /// message when private).
    pub(crate) async fn answer(
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
}

impl Handler {
    pub(crate) async fn command(&self, c: CommandInteraction) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slash_command_ids_carry_the_interaction_and_the_user() {
        let id = interaction_id(1_234_567_890_123, 81_234_567_890_123_456);
        assert_eq!(parse_interaction(&id), Some((1_234_567_890_123, 81_234_567_890_123_456)));
        assert_eq!(parse_interaction("1234"), None);
    }
}
