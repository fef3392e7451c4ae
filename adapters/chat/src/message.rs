//! Inbound events and outbound messages.

use chrono::{DateTime, Utc};

use crate::ids::{MessageRef, RoomRef, UserRef};

/// Something that happened on a platform.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChatEvent {
    /// A message in a room or a direct conversation.
    Message(IncomingMessage),
    /// A user joined a room.
    MemberJoined {
        /// The platform's unique id of this event (for deduplication).
        event_id: String,
        room: RoomRef,
        user: UserRef,
        /// Their display name.
        name: String,
    },
    /// Someone invited the bot into a room; the domain decides, and the runtime answers with
    /// [`Invitations::answer_invite`](crate::Invitations::answer_invite).
    Invited {
        /// The room.
        room: RoomRef,
        /// Who invited.
        inviter: UserRef,
        /// A one-to-one conversation rather than a group room.
        is_direct: bool,
    },
    /// Everything the platform delivered before this point has been sent on; once the runtime
    /// has stored what it decided about those events, it hands the token back with
    /// [`ResumePoints::checkpoint`](crate::ResumePoints::checkpoint), and after a restart the
    /// platform resumes from there (events after it are delivered again and deduplicated).
    Checkpoint {
        /// The platform.
        platform: crate::Platform,
        /// The adapter's resume token.
        token: String,
    },
}

/// A message someone sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IncomingMessage {
    /// The message.
    pub id: MessageRef,
    /// The platform's unique id of this event (for deduplication).
    pub event_id: String,
    /// Who sent it.
    pub author: UserRef,
    /// Their display name.
    pub author_name: String,
    /// Plain text.
    pub text: String,
    /// Sent in a one-to-one conversation with the bot.
    pub is_direct: bool,
    /// Said in a thread: the thread's handle (what [`ChatAdapter::open_thread`] returns, or the
    /// root message of a thread someone else started).
    ///
    /// [`ChatAdapter::open_thread`]: crate::ChatAdapter::open_thread
    pub thread: Option<MessageRef>,
    /// When the platform says it was sent.
    pub sent_at: DateTime<Utc>,
    /// The platform shows the sender a pending state until the bot answers (a Discord slash
    /// command): a command that decides nothing to say is then acknowledged privately.
    pub needs_answer: bool,
    /// A file that came with the command (`!syllabus load` with a Markdown file): only
    /// described here; it is fetched, through [`ChatAdapter::fetch_attachment`], once the
    /// command is known to be allowed, and never past a size limit.
    ///
    /// [`ChatAdapter::fetch_attachment`]: crate::ChatAdapter::fetch_attachment
    pub attachment: Option<Attachment>,
}

/// A file attached to a message, not yet downloaded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attachment {
    /// Its file name, as the sender gave it.
    pub name: String,
    /// Its size in bytes, where the platform says (a Matrix event may not).
    pub size: Option<u64>,
    /// Where the adapter fetches it from (a Discord CDN address, a Matrix `mxc://` URI).
    pub source: String,
}

/// Why an attachment was not read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AttachmentError {
    /// Larger than the limit (said by the platform, or found while reading).
    #[error("the file is larger than {limit} bytes")]
    TooLarge {
        /// The limit, in bytes.
        limit: u64,
    },
    /// It could not be fetched.
    #[error("the file could not be fetched ({0})")]
    Unavailable(String),
}

/// One piece of an outgoing message, rendered by each adapter its own way.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Segment {
    /// The bot's own Markdown.
    Markdown(String),
    /// Text from a user: must be escaped.
    Text(String),
    /// Inline code.
    Code(String),
    /// A mention of a user.
    Mention {
        user: UserRef,
        /// Display name.
        name: String,
    },
    /// An instant: `fallback` is it written out in the relevant zones; platforms that localise
    /// times for each reader (Discord) use `at`.
    Time {
        /// The instant.
        at: DateTime<Utc>,
        /// As text.
        fallback: String,
    },
}

/// A message to send.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct OutgoingMessage {
    pub segments: Vec<Segment>,
    /// Answer this message (a reply), if set.
    pub reply_to: Option<MessageRef>,
    /// Only the author of `reply_to` needs to see it (ephemeral where possible).
    pub private: bool,
    /// Post in this thread (a handle from [`ChatAdapter::open_thread`] or an incoming
    /// message's `thread`).
    ///
    /// [`ChatAdapter::open_thread`]: crate::ChatAdapter::open_thread
    pub thread: Option<MessageRef>,
}

impl OutgoingMessage {
    /// Plain-text rendering: Markdown and user text as written, mentions as `@name`, times as
    /// their fallback. The in-memory adapter shows this.
    pub fn plain(&self) -> String {
        let mut out = String::new();
        for s in &self.segments {
            match s {
                Segment::Markdown(t) | Segment::Text(t) => out.push_str(t),
                Segment::Code(t) => {
                    out.push('`');
                    out.push_str(t);
                    out.push('`');
                }
                Segment::Mention { name, .. } => {
                    if !name.starts_with('@') {
                        out.push('@');
                    }
                    out.push_str(name);
                }
                Segment::Time { fallback, .. } => out.push_str(fallback),
            }
        }
        out
    }
}

/// A course room to create.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoomSpec {
    /// Short name, also the alias or channel name (`data-101`).
    pub name: String,
    pub topic: String,
    /// The school's space or category.
    pub parent: Option<RoomRef>,
}
