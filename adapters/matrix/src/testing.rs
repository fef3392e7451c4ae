//! Helpers for tests and benchmarks against a real Synapse: registering users through the
//! shared-secret admin API, lifting rate limits, and [`Person`], a matrix-sdk client that joins
//! every room it is invited to and keeps every message it sees.
//!
//! Behind the `testing` feature: never use it outside tests and benchmarks.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hmac::{Hmac, KeyInit, Mac};
use matrix_sdk::config::SyncSettings;
use matrix_sdk::ruma::events::room::member::StrippedRoomMemberEvent;
use matrix_sdk::ruma::events::room::message::{
    MessageType, OriginalSyncRoomMessageEvent, Relation, RoomMessageEventContent,
};
use matrix_sdk::ruma::{OwnedEventId, OwnedRoomId, OwnedUserId, RoomId};
use matrix_sdk::{Client, Room};
use serde_json::{Value, json};

/// The password every test user has.
pub const PASSWORD: &str = "correct horse battery staple";

#[allow(missing_debug_implementations)]
pub struct Synapse {
    pub url: String,
    secret: String,
    http: matrix_sdk::reqwest::Client,
    admin_token: tokio::sync::OnceCell<String>,
}

/// A name no other test in this process uses.
pub fn unique(prefix: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    format!("{prefix}{}x{}", std::process::id(), COUNTER.fetch_add(1, Ordering::SeqCst))
}

impl Synapse {
    pub fn from_env() -> Synapse {
        let url = std::env::var("FACILITATOR_TEST_SYNAPSE_URL").expect(
            "FACILITATOR_TEST_SYNAPSE_URL is not set: run the tests with scripts/test.sh, which starts Synapse",
        );
        let secret =
            std::env::var("FACILITATOR_TEST_SYNAPSE_SECRET").expect("FACILITATOR_TEST_SYNAPSE_SECRET is not set");
        Synapse { url, secret, http: matrix_sdk::reqwest::Client::new(), admin_token: tokio::sync::OnceCell::new() }
    }

    async fn post(&self, path: &str, token: Option<&str>, body: &Value) -> Value {
        let mut request = self
            .http
            .post(format!("{}{path}", self.url))
            .header("content-type", "application/json")
            .body(body.to_string());
        if let Some(t) = token {
            request = request.bearer_auth(t);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        assert!(status.is_success(), "{path}: {status} {text}");
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    /// Registers a user through the shared-secret admin API; returns the full user id.
    pub async fn register(&self, localpart: &str, admin: bool) -> String {
        let nonce: Value = serde_json::from_str(
            &self
                .http
                .get(format!("{}/_synapse/admin/v1/register", self.url))
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap(),
        )
        .unwrap();
        let nonce = nonce["nonce"].as_str().unwrap().to_owned();
        let mut mac = Hmac::<sha1::Sha1>::new_from_slice(self.secret.as_bytes()).unwrap();
        mac.update(
            format!("{nonce}\0{localpart}\0{PASSWORD}\0{}", if admin { "admin" } else { "notadmin" }).as_bytes(),
        );
        let mac: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
        let body = json!({ "nonce": nonce, "username": localpart, "password": PASSWORD, "admin": admin, "mac": mac });
        let answer = self.post("/_synapse/admin/v1/register", None, &body).await;
        answer["user_id"].as_str().unwrap().to_owned()
    }

    async fn admin(&self) -> &str {
        self.admin_token
            .get_or_init(|| async {
                let name = unique("admin");
                self.register(&name, true).await;
                let login = json!({ "type": "m.login.password", "identifier": { "type": "m.id.user", "user": name }, "password": PASSWORD });
                self.post("/_matrix/client/v3/login", None, &login).await["access_token"].as_str().unwrap().to_owned()
            })
            .await
    }

    /// Shuts a room down as a homeserver admin does (everyone on this server is removed from
    /// it and it is blocked): posting there fails for good afterwards.
    pub async fn shut_down_room(&self, room_id: &str) {
        let token = self.admin().await.to_owned();
        let response = self
            .http
            .delete(format!("{}/_synapse/admin/v1/rooms/{room_id}", self.url))
            .bearer_auth(token)
            .header("content-type", "application/json")
            .body(json!({ "block": true, "purge": false }).to_string())
            .send()
            .await
            .unwrap();
        let status = response.status();
        assert!(status.is_success(), "shutting down {room_id}: {status} {}", response.text().await.unwrap_or_default());
    }

    /// Reads an admin API path (`/_synapse/admin/v1/rooms/!id/state`) as a homeserver admin:
    /// what the server holds, whatever any client shows.
    pub async fn admin_get(&self, path: &str) -> Value {
        let token = self.admin().await.to_owned();
        let response = self.http.get(format!("{}{path}", self.url)).bearer_auth(token).send().await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        assert!(status.is_success(), "{path}: {status} {text}");
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    /// Lifts the message rate limit of one user (the others stay at Synapse's defaults).
    pub async fn lift_rate_limit(&self, user_id: &str) {
        let token = self.admin().await.to_owned();
        let path = format!("/_synapse/admin/v1/users/{user_id}/override_ratelimit");
        self.post(&path, Some(&token), &json!({ "messages_per_second": 0, "burst_count": 0 })).await;
    }
}

/// A message a test client saw.
#[derive(Debug, Clone)]
pub struct Seen {
    pub room: OwnedRoomId,
    pub body: String,
    pub html: Option<String>,
    pub event_id: OwnedEventId,
    pub reply_to: Option<OwnedEventId>,
    /// The root of the thread it is in.
    pub thread: Option<OwnedEventId>,
    pub mentions: Vec<OwnedUserId>,
    /// It notifies the whole room (`m.mentions.room`).
    pub mentions_room: bool,
    pub sender: OwnedUserId,
}

/// A person on Matrix: a matrix-sdk client that joins every room it is invited to and keeps
/// every message it sees.
#[allow(missing_debug_implementations)]
pub struct Person {
    pub client: Client,
    pub id: OwnedUserId,
    inbox: Arc<Mutex<Vec<Seen>>>,
    sync: tokio::task::JoinHandle<()>,
}

impl Drop for Person {
    fn drop(&mut self) {
        self.sync.abort();
    }
}

impl Person {
    pub async fn new(synapse: &Synapse, name: &str) -> Person {
        let localpart = unique(name);
        let id: OwnedUserId = synapse.register(&localpart, false).await.try_into().unwrap();
        synapse.lift_rate_limit(id.as_str()).await;
        let client = Client::builder().homeserver_url(&synapse.url).build().await.unwrap();
        client.matrix_auth().login_username(&localpart, PASSWORD).send().await.unwrap();
        let inbox: Arc<Mutex<Vec<Seen>>> = Arc::default();
        let seen = Arc::clone(&inbox);
        client.add_event_handler(move |ev: OriginalSyncRoomMessageEvent, room: Room| {
            let seen = Arc::clone(&seen);
            async move {
                let (body, html) = match &ev.content.msgtype {
                    MessageType::Text(t) => (t.body.clone(), t.formatted.as_ref().map(|f| f.body.clone())),
                    MessageType::Notice(t) => (t.body.clone(), t.formatted.as_ref().map(|f| f.body.clone())),
                    other => (other.body().to_owned(), None),
                };
                let (reply_to, thread) = match &ev.content.relates_to {
                    Some(Relation::Reply(r)) => (Some(r.in_reply_to.event_id.clone()), None),
                    Some(Relation::Thread(t)) => {
                        let reply = t.in_reply_to.as_ref().filter(|_| !t.is_falling_back).map(|r| r.event_id.clone());
                        (reply, Some(t.event_id.clone()))
                    }
                    _ => (None, None),
                };
                let mentions =
                    ev.content.mentions.as_ref().map(|m| m.user_ids.iter().cloned().collect()).unwrap_or_default();
                // Without `m.mentions` a client reads the body for `@room`.
                let mentions_room = ev.content.mentions.as_ref().map_or(body.contains("@room"), |m| m.room);
                seen.lock().unwrap().push(Seen {
                    room: room.room_id().to_owned(),
                    body,
                    html,
                    event_id: ev.event_id.clone(),
                    reply_to,
                    thread,
                    mentions,
                    mentions_room,
                    sender: ev.sender.clone(),
                });
            }
        });
        let own = id.clone();
        client.add_event_handler(move |ev: StrippedRoomMemberEvent, room: Room| {
            let own = own.clone();
            async move {
                if ev.state_key == own {
                    let _ = room.join().await;
                }
            }
        });
        let syncing = client.clone();
        // `sync_once` in a loop: `sync()` pauses up to a second between syncs, which would blur
        // every latency measured through this client.
        let sync = tokio::spawn(async move {
            loop {
                if syncing.sync_once(SyncSettings::default().timeout(Duration::from_secs(5))).await.is_err() {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        });
        Person { client, id, inbox, sync }
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.inbox.lock().unwrap().clone()
    }

    /// Waits until a message matching `want` arrives (or has arrived).
    pub async fn wait_for(&self, what: &str, want: impl Fn(&Seen) -> bool) -> Seen {
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            if let Some(m) = self.seen().into_iter().find(|m| want(m)) {
                return m;
            }
            assert!(
                Instant::now() < deadline,
                "{} waited 90 s for {what}; saw:\n{:#?}",
                self.id,
                self.seen().iter().map(|m| &m.body).collect::<Vec<_>>()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The bot's reply to one of our messages.
    pub async fn reply_to(&self, event: &OwnedEventId) -> Seen {
        self.wait_for(&format!("a reply to {event}"), |m| m.reply_to.as_ref() == Some(event)).await
    }

    /// The room `id`, once this person has joined it (waits up to 30 s).
    pub async fn room(&self, id: &RoomId) -> Room {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(room) = self.client.get_room(id)
                && room.state() == matrix_sdk::RoomState::Joined
            {
                return room;
            }
            assert!(Instant::now() < deadline, "{} never joined {id}", self.id);
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn say(&self, room: &RoomId, text: &str) -> OwnedEventId {
        let room = self.room(room).await;
        room.send(RoomMessageEventContent::text_plain(text)).await.unwrap().response.event_id
    }

    /// Says something in the thread rooted at `root`, as Element does (a thread message that
    /// falls back to a reply to the root).
    pub async fn say_in_thread(&self, room: &RoomId, root: &OwnedEventId, text: &str) -> OwnedEventId {
        let room = self.room(room).await;
        let mut content = RoomMessageEventContent::text_plain(text);
        content.relates_to =
            Some(Relation::Thread(matrix_sdk::ruma::events::relation::Thread::plain(root.clone(), root.clone())));
        room.send(content).await.unwrap().response.event_id
    }

    /// Says something and returns the bot's reply.
    pub async fn ask(&self, room: &RoomId, text: &str) -> Seen {
        let event = self.say(room, text).await;
        self.reply_to(&event).await
    }

    /// A direct conversation with `other`, once they have joined it.
    pub async fn dm(&self, other: &OwnedUserId) -> OwnedRoomId {
        let room = self.client.create_dm(other).await.unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(Some(member)) = room.get_member(other).await
                && *member.membership() == matrix_sdk::ruma::events::room::member::MembershipState::Join
            {
                return room.room_id().to_owned();
            }
            assert!(Instant::now() < deadline, "{other} never joined the direct conversation");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The room called `name`, once joined.
    pub async fn room_named(&self, name: &str) -> OwnedRoomId {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            for room in self.client.joined_rooms() {
                if room.name().as_deref() == Some(name) {
                    return room.room_id().to_owned();
                }
            }
            assert!(Instant::now() < deadline, "{} never joined a room named {name}", self.id);
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}
