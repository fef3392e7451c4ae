//! Where people meet the bot, for a course page's "Join": a link to the bot on each platform,
//! and to a course's room once its members are in it. Platform ids never reach the domain, so
//! these come from the config and the runtime's room directory.

use std::sync::{Arc, RwLock};

use facilitator_bot::CourseId;
use facilitator_chat::Platform;

use crate::directory::Directory;

/// The platforms the bot is on.
#[derive(Debug, Clone, Default)]
pub struct Places {
    /// The bot's Matrix user id (`@bot:example.org`).
    pub matrix_bot: Option<String>,
    /// The Discord server (guild) the bot runs in.
    pub discord_guild: Option<u64>,
    /// The runtime's rooms.
    pub directory: Option<Arc<RwLock<Directory>>>,
}

impl Places {
    fn matrix_server(&self) -> Option<&str> {
        self.matrix_bot.as_deref().and_then(|u| u.split_once(':')).map(|(_, server)| server)
    }

    /// A link to the bot per platform, in platform order.
    pub fn bot_links(&self) -> Vec<(&'static str, String)> {
        let mut links = Vec::new();
        if let Some(user) = &self.matrix_bot {
            links.push(("Matrix", format!("https://matrix.to/#/{user}")));
        }
        if let Some(guild) = self.discord_guild {
            links.push(("Discord", format!("https://discord.com/channels/{guild}")));
        }
        links
    }

    /// Links to a course's rooms, per platform.
    pub fn course_rooms(&self, course: CourseId) -> Vec<(&'static str, String)> {
        let Some(directory) = &self.directory else { return Vec::new() };
        let directory = directory.read().unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut links = Vec::new();
        if let (Some(room), Some(server)) = (directory.course_room(course, Platform::Matrix), self.matrix_server()) {
            links.push(("Matrix", format!("https://matrix.to/#/{}?via={server}", room.raw())));
        }
        if let (Some(room), Some(guild)) = (directory.course_room(course, Platform::Discord), self.discord_guild) {
            links.push(("Discord", format!("https://discord.com/channels/{guild}/{}", room.raw())));
        }
        links
    }
}
