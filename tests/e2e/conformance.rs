//! The chat-adapter contract (`facilitator_chat::conformance`) run against the local Discord
//! and a real Synapse; the in-memory platform runs it in its own crate's tests.
//!
//! Each platform is seen from outside the adapter: the local Discord's records of what it was
//! sent, and Synapse's admin API (room state, members, power levels, events as stored).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use async_trait::async_trait;
use serde_json::Value;

use facilitator_chat::conformance::{Shown, TestPlatform};
use facilitator_chat::{ChatAdapter, CourseRole, Platform, RoomRef, UserRef};

mod discord {
    use super::*;
    use facilitator_discord::testing::LocalDiscord;
    use facilitator_discord::{DiscordAdapter, DiscordConfig, Token};

    /// The Discord adapter on a local Discord.
    pub struct OnDiscord {
        discord: LocalDiscord,
        config: DiscordConfig,
        adapter: DiscordAdapter,
    }

    impl OnDiscord {
        pub async fn new() -> OnDiscord {
            let discord = LocalDiscord::start().await;
            let config = DiscordConfig {
                token: Token(discord.token.clone()),
                guild: discord.guild,
                slash_commands: false,
                connect_to: Some(discord.address),
                ca_file: Some(discord.ca_file.clone()),
            };
            let adapter = DiscordAdapter::new(config.clone()).expect("a Discord adapter");
            OnDiscord { discord, config, adapter }
        }

        fn id(user: &UserRef) -> u64 {
            user.raw().parse().expect("a snowflake")
        }

        fn channel(room: &RoomRef) -> u64 {
            room.raw().parse().expect("a snowflake")
        }
    }

    #[async_trait]
    impl TestPlatform for OnDiscord {
        fn adapter(&self) -> Arc<dyn ChatAdapter> {
            Arc::new(self.adapter.clone())
        }

        async fn restart(&mut self) -> Arc<dyn ChatAdapter> {
            self.adapter.shutdown().await;
            self.adapter = DiscordAdapter::new(self.config.clone()).expect("a Discord adapter");
            self.adapter()
        }

        fn bot(&self) -> UserRef {
            UserRef::new(Platform::Discord, &self.discord.bot.to_string()).unwrap()
        }

        async fn person(&mut self, name: &str) -> UserRef {
            UserRef::new(Platform::Discord, &self.discord.member(name).to_string()).unwrap()
        }

        async fn say(&self, user: &UserRef, room: &RoomRef, text: &str) -> String {
            self.discord.say(Self::id(user), Self::channel(room), text).to_string()
        }

        async fn say_in_thread(&self, user: &UserRef, _room: &RoomRef, root: &str, text: &str) -> String {
            let thread = self.discord.thread_of(root.parse().unwrap()).expect("a thread on the root");
            self.discord.say(Self::id(user), thread, text).to_string()
        }

        async fn say_with_file(&self, user: &UserRef, room: &RoomRef, text: &str, file: (&str, &[u8])) -> String {
            let content = std::str::from_utf8(file.1).expect("a text file");
            self.discord.say_with_file(Self::id(user), Self::channel(room), text, Some((file.0, content))).to_string()
        }

        async fn shown(&self, room: &RoomRef) -> Vec<Shown> {
            let channel = Self::channel(room);
            let posted = self.discord.posted();
            let in_room: BTreeSet<u64> = posted.iter().filter(|p| p.channel == channel).map(|p| p.id).collect();
            posted
                .iter()
                .filter_map(|p| {
                    // A thread started from a message has the message's id.
                    let thread = (p.channel != channel).then_some(p.channel);
                    if thread.is_some_and(|t| !in_room.contains(&t)) || p.ephemeral {
                        return None;
                    }
                    let mentions = p
                        .allowed_users
                        .iter()
                        .filter(|u| p.content.contains(&format!("<@{u}>")) || p.content.contains(&format!("<@!{u}>")))
                        .map(u64::to_string)
                        .collect();
                    Some(Shown {
                        id: p.id.to_string(),
                        author: p.author.to_string(),
                        text: p.shown(),
                        reply_to: p.reply_to.map(|r| r.to_string()),
                        thread: thread.map(|t| t.to_string()),
                        mentions,
                        pings_everyone: p.pings_everyone,
                    })
                })
                .collect()
        }

        async fn members(&self, room: &RoomRef) -> BTreeSet<String> {
            let bot = self.discord.bot;
            self.discord
                .recipients(Self::channel(room))
                .into_iter()
                .filter(|r| *r != bot)
                .map(|r| r.to_string())
                .collect()
        }

        async fn role(&self, room: &RoomRef, user: &UserRef) -> Option<CourseRole> {
            let course = self.discord.name_of(Self::channel(room))?;
            let roles = self.discord.roles_of(Self::id(user));
            [(CourseRole::Organizer, "organizers"), (CourseRole::Mentor, "mentors"), (CourseRole::Learner, "learners")]
                .into_iter()
                .find(|(_, suffix)| roles.contains(&format!("{course} {suffix}")))
                .map(|(role, _)| role)
        }

        fn message_limit(&self) -> Option<usize> {
            // An embed's description (the bot's own posts); answers are 2,000-character contents.
            Some(4096)
        }
    }

    facilitator_chat::chat_adapter_conformance!(OnDiscord::new());

    /// Beyond the contract: a channel an admin made with a course's name is never taken for
    /// the course's room, and a bot that may not read the audit log still finds the channel it
    /// made again after a restart (by name, its last resort) instead of making a second one.
    #[tokio::test]
    async fn discord_finds_the_channels_it_made_by_key_and_without_the_audit_log_by_name() {
        let mut on = OnDiscord::new().await;
        let adapter = on.adapter();
        let events = adapter.connect().await.unwrap();
        let name = facilitator_chat::conformance::unique("course");
        let admins = on.discord.add_channel(&name);
        let spec = facilitator_chat::RoomSpec { name: name.clone(), topic: "A course".into(), parent: None };
        let made = adapter.create_room(&spec, "test:room:1").await.unwrap();
        assert_ne!(made.raw(), admins.to_string(), "the admin's channel was taken for the course's");
        assert_eq!(on.discord.channels_named(&name), 2);
        on.discord.deny_audit_log();
        drop(events);
        let other = facilitator_chat::conformance::unique("course");
        let spec = facilitator_chat::RoomSpec { name: other.clone(), topic: "Another".into(), parent: None };
        let first = adapter.create_room(&spec, "test:room:2").await.unwrap();
        let adapter = on.restart().await;
        let _events = adapter.connect().await.unwrap();
        let again = adapter.create_room(&spec, "test:room:2").await.unwrap();
        assert_eq!(again, first);
        assert_eq!(on.discord.channels_named(&other), 1, "a second channel was made");
        assert!(on.discord.violations().is_empty(), "{:?}", on.discord.violations());
    }
}

mod matrix {
    use super::*;
    use facilitator_matrix::testing::{PASSWORD, Person, Synapse, unique};
    use facilitator_matrix::{Credentials, MAX_PART_BYTES, MatrixAdapter, MatrixConfig};
    use matrix_sdk::ruma::events::room::message::{FileMessageEventContent, MessageType, RoomMessageEventContent};
    use matrix_sdk::ruma::{OwnedEventId, OwnedRoomId};

    /// The Matrix adapter on a real Synapse.
    pub struct OnMatrix {
        synapse: Synapse,
        config: MatrixConfig,
        adapter: MatrixAdapter,
        people: BTreeMap<String, Person>,
        _store: tempfile::TempDir,
    }

    impl OnMatrix {
        pub async fn new() -> OnMatrix {
            let synapse = Synapse::from_env();
            let name = unique("conformancebot");
            let user = synapse.register(&name, false).await;
            synapse.lift_rate_limit(&user).await;
            let store = tempfile::tempdir().unwrap();
            let config = MatrixConfig {
                homeserver: synapse.url.clone(),
                user,
                store_dir: store.path().join("matrix"),
                encrypt_new_rooms: false,
                credentials: Some(Credentials::Password(PASSWORD.into())),
            };
            let adapter = MatrixAdapter::login(config.clone()).await.expect("the bot signs in");
            OnMatrix { synapse, config, adapter, people: BTreeMap::new(), _store: store }
        }

        fn person_of(&self, user: &UserRef) -> &Person {
            self.people.get(user.raw()).unwrap_or_else(|| panic!("{user} is not a person of this check"))
        }

        fn room_id(room: &RoomRef) -> OwnedRoomId {
            room.raw().try_into().expect("a room id")
        }

        async fn state(&self, room: &RoomRef) -> Vec<Value> {
            let path = format!("/_synapse/admin/v1/rooms/{}/state", room.raw());
            self.synapse.admin_get(&path).await["state"].as_array().cloned().unwrap_or_default()
        }
    }

    #[async_trait]
    impl TestPlatform for OnMatrix {
        fn adapter(&self) -> Arc<dyn ChatAdapter> {
            Arc::new(self.adapter.clone())
        }

        async fn restart(&mut self) -> Arc<dyn ChatAdapter> {
            self.adapter.shutdown();
            self.adapter = MatrixAdapter::login(self.config.clone()).await.expect("the bot signs in again");
            self.adapter()
        }

        fn bot(&self) -> UserRef {
            UserRef::new(Platform::Matrix, &self.config.user).unwrap()
        }

        async fn person(&mut self, name: &str) -> UserRef {
            let person = Person::new(&self.synapse, name).await;
            let user = UserRef::new(Platform::Matrix, person.id.as_str()).unwrap();
            self.people.insert(user.raw().to_owned(), person);
            user
        }

        async fn say(&self, user: &UserRef, room: &RoomRef, text: &str) -> String {
            self.person_of(user).say(&Self::room_id(room), text).await.to_string()
        }

        async fn say_in_thread(&self, user: &UserRef, room: &RoomRef, root: &str, text: &str) -> String {
            let root: OwnedEventId = root.try_into().expect("an event id");
            self.person_of(user).say_in_thread(&Self::room_id(room), &root, text).await.to_string()
        }

        async fn say_with_file(&self, user: &UserRef, room: &RoomRef, text: &str, file: (&str, &[u8])) -> String {
            let person = self.person_of(user);
            // Invited by the bot a moment ago: the person's client joins when it sees it.
            let joined = person.room(&Self::room_id(room)).await;
            let mime = "text/markdown".parse().unwrap();
            let upload = person.client.media().upload(&mime, file.1.to_vec(), None).await.unwrap();
            let mut content = FileMessageEventContent::plain(text.to_owned(), upload.content_uri);
            content.filename = Some(file.0.to_owned());
            let mut info = matrix_sdk::ruma::events::room::message::FileInfo::new();
            info.size = Some(u32::try_from(file.1.len()).unwrap().into());
            content.info = Some(Box::new(info));
            let sent = joined.send(RoomMessageEventContent::new(MessageType::File(content))).await.unwrap();
            sent.response.event_id.to_string()
        }

        /// As a person in the room sees it (decrypted, in an encrypted direct room), or where
        /// nobody is in it, as the server stores it.
        async fn shown(&self, room: &RoomRef) -> Vec<Shown> {
            let id = Self::room_id(room);
            let reader = self
                .people
                .values()
                .find(|p| p.client.get_room(&id).is_some_and(|r| r.state() == matrix_sdk::RoomState::Joined));
            if let Some(reader) = reader {
                return reader
                    .seen()
                    .into_iter()
                    .filter(|m| m.room == id)
                    .map(|m| Shown {
                        id: m.event_id.to_string(),
                        author: m.sender.to_string(),
                        text: m.body,
                        reply_to: m.reply_to.map(|r| r.to_string()),
                        thread: m.thread.map(|t| t.to_string()),
                        mentions: m.mentions.iter().map(ToString::to_string).collect(),
                        pings_everyone: m.mentions_room,
                    })
                    .collect();
            }
            let path = format!("/_synapse/admin/v1/rooms/{}/messages?dir=f&limit=1000", room.raw());
            let events = self.synapse.admin_get(&path).await["chunk"].as_array().cloned().unwrap_or_default();
            events
                .iter()
                .filter(|e| e["type"] == "m.room.message")
                .map(|e| {
                    let content = &e["content"];
                    let relation = &content["m.relates_to"];
                    let in_thread = relation["rel_type"] == "m.thread";
                    let falling_back = relation["is_falling_back"].as_bool().unwrap_or(false);
                    let reply_to = relation["m.in_reply_to"]["event_id"]
                        .as_str()
                        .filter(|_| !(in_thread && falling_back))
                        .map(str::to_owned);
                    let mentions = &content["m.mentions"];
                    let body = content["body"].as_str().unwrap_or_default().to_owned();
                    // Without `m.mentions` clients fall back to reading the body.
                    let pings_everyone = if mentions.is_object() {
                        mentions["room"].as_bool().unwrap_or(false)
                    } else {
                        body.contains("@room")
                    };
                    Shown {
                        id: e["event_id"].as_str().unwrap_or_default().to_owned(),
                        author: e["sender"].as_str().unwrap_or_default().to_owned(),
                        text: body,
                        reply_to,
                        thread: in_thread.then(|| relation["event_id"].as_str().unwrap_or_default().to_owned()),
                        mentions: mentions["user_ids"]
                            .as_array()
                            .map(|u| u.iter().filter_map(|x| x.as_str().map(str::to_owned)).collect())
                            .unwrap_or_default(),
                        pings_everyone,
                    }
                })
                .collect()
        }

        async fn members(&self, room: &RoomRef) -> BTreeSet<String> {
            self.state(room)
                .await
                .iter()
                .filter(|e| e["type"] == "m.room.member")
                .filter(|e| matches!(e["content"]["membership"].as_str(), Some("join" | "invite")))
                .filter_map(|e| e["state_key"].as_str().map(str::to_owned))
                .filter(|m| *m != self.config.user)
                .collect()
        }

        async fn role(&self, room: &RoomRef, user: &UserRef) -> Option<CourseRole> {
            let state = self.state(room).await;
            let levels = state.iter().find(|e| e["type"] == "m.room.power_levels")?;
            let level = levels["content"]["users"][user.raw()]
                .as_i64()
                .or_else(|| levels["content"]["users_default"].as_i64())
                .unwrap_or(0);
            (level >= 50).then_some(CourseRole::Organizer)
        }

        fn message_limit(&self) -> Option<usize> {
            Some(MAX_PART_BYTES)
        }
    }

    facilitator_chat::chat_adapter_conformance!(OnMatrix::new());
}
