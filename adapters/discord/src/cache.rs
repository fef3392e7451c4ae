//! What the adapter knows of the server (channels, threads, roles, each member's roles, direct
//! channels), filled from the gateway's guild and kept up to date by its events and by what the
//! adapter makes: Discord sends a bot no member list, and asking again for every message
//! would spend the rate limits.

use super::*;

/// A channel the adapter knows.
#[derive(Debug, Clone)]
pub(crate) struct Channel {
    pub(crate) name: String,
    /// The category of a channel, the channel of a thread.
    pub(crate) parent: Option<u64>,
    pub(crate) thread: bool,
    /// The newest message in it, when the server said.
    pub(crate) last_message: Option<u64>,
}

#[derive(Debug, Default)]
pub(crate) struct Known {
    pub(crate) own: u64,
    pub(crate) channels: HashMap<u64, Channel>,
    /// Role ids by name.
    pub(crate) roles: HashMap<String, u64>,
    pub(crate) dms: HashMap<u64, u64>,
    /// Each member's roles as last seen, to tell when one is newly given.
    pub(crate) member_roles: HashMap<u64, BTreeSet<u64>>,
    /// Channels and categories the bot made, by the audit-log reason that carries their key.
    pub(crate) made: HashMap<String, u64>,
    /// What the audit log told: not read yet (`None`), read (`Some(true)`), or not readable by
    /// the bot (`Some(false)`: channels are then found again by name, as a last resort).
    pub(crate) audit_read: Option<bool>,
}

pub(crate) fn channel_info(c: &GuildChannel) -> Channel {
    Channel {
        name: c.name.clone(),
        parent: c.parent_id.map(ChannelId::get),
        thread: matches!(c.kind, ChannelType::PublicThread | ChannelType::PrivateThread | ChannelType::NewsThread),
        last_message: c.last_message_id.map(MessageId::get),
    }
}
