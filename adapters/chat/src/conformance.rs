//! One contract for every chat adapter: the checks each platform's adapter must pass, written
//! once against [`ChatAdapter`] and run against the in-memory platform, the local Discord and a
//! real Synapse (as matrix-sdk runs one `statestore_integration_tests!` against every store).
//!
//! Why: three adapters had three readings of one trait (rooms found again by name or by key,
//! catch-up after a restart done two ways, a demotion that did nothing on Matrix while the
//! other platforms demoted). A check here fails for whichever adapter reads the contract
//! differently, seen the way people see the platform: through a [`TestPlatform`], which looks
//! at rooms, members, roles and messages by the platform's own means (Synapse's admin API, the
//! local Discord's records, the in-memory platform's rooms), never through the adapter.
//!
//! Use [`chat_adapter_conformance!`](crate::chat_adapter_conformance) with an expression that
//! makes a fresh [`TestPlatform`]; it writes one test per check.
//!
//! Behind the `testing` feature: never use it outside tests.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;

use crate::{
    AttachmentError, ChatAdapter, ChatEvent, CourseRole, EventStream, IncomingMessage, OutgoingMessage, RoomRef,
    RoomSpec, Segment, UserRef,
};

/// How long a check waits for the platform.
pub const WAIT: Duration = Duration::from_secs(45);

/// A message as people's clients show it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Shown {
    /// The platform's id of the message (as in [`MessageRef::id`]).
    pub id: String,
    /// Who posted it (as in [`UserRef::raw`]).
    pub author: String,
    /// The text a reader sees.
    pub text: String,
    /// The id of the message it answers.
    pub reply_to: Option<String>,
    /// The id of the message whose thread it is in.
    pub thread: Option<String>,
    /// The people it notifies.
    pub mentions: BTreeSet<String>,
    /// Whether it notifies everyone in the room (`@room`, `@everyone`, `@here`).
    pub pings_everyone: bool,
}

/// A platform under test, with the adapter signed in as the bot, seen from outside.
#[async_trait]
pub trait TestPlatform: Send + Sync {
    /// The adapter under test (not yet connected).
    fn adapter(&self) -> Arc<dyn ChatAdapter>;

    /// Stops the adapter as a crash or a deploy does (its event stream ends, nothing more is
    /// received) and starts another with the same saved state; returns it, not yet connected.
    async fn restart(&mut self) -> Arc<dyn ChatAdapter>;

    /// The bot's own account.
    fn bot(&self) -> UserRef;

    /// A new person on the platform (a member of the server, a homeserver account).
    async fn person(&mut self, name: &str) -> UserRef;

    /// `user` says `text` in `room` (a room the bot invited them to, or their direct room with
    /// the bot) with their own client; returns the message's id.
    async fn say(&self, user: &UserRef, room: &RoomRef, text: &str) -> String;

    /// `user` says `text` in the thread on the message `root` of `room`.
    async fn say_in_thread(&self, user: &UserRef, room: &RoomRef, root: &str, text: &str) -> String;

    /// `user` says `text` with a file attached, as their client sends one.
    async fn say_with_file(&self, user: &UserRef, room: &RoomRef, text: &str, file: (&str, &[u8])) -> String;

    /// Every message in `room` and its threads, oldest first.
    async fn shown(&self, room: &RoomRef) -> Vec<Shown>;

    /// Who is in `room` or invited to it, besides the bot.
    async fn members(&self, room: &RoomRef) -> BTreeSet<String>;

    /// The course role `user` visibly holds in `room`: [`CourseRole::Organizer`] where the
    /// platform shows moderators (a Matrix power level of 50, a Discord role), `None` when
    /// they hold none the platform shows.
    async fn role(&self, room: &RoomRef, user: &UserRef) -> Option<CourseRole>;

    /// The most characters one message may show (`None`: no limit).
    fn message_limit(&self) -> Option<usize>;
}

/// Writes one `#[tokio::test]` per check of the contract, each on a platform made by
/// `$make` (an expression, awaited, giving a [`TestPlatform`]).
#[macro_export]
macro_rules! chat_adapter_conformance {
    ($make:expr) => {
        $crate::chat_adapter_conformance!(@tests $make;
            a_room_created_twice_with_one_key_is_one_room_also_after_a_restart,
            a_message_sent_twice_with_one_key_is_shown_once_also_after_a_restart,
            what_a_person_says_reaches_the_bot_and_its_reply_points_at_it,
            a_direct_room_is_made_once_reused_after_a_restart_and_holds_only_its_person,
            a_thread_opened_on_a_post_holds_the_bots_and_peoples_messages,
            a_mention_notifies_the_person_and_never_everyone,
            a_course_role_is_given_taken_away_and_given_again,
            a_long_message_arrives_whole_in_order_in_parts_the_platform_accepts,
            an_attachment_is_fetched_whole_under_the_cap_and_refused_over_it,
            what_is_said_while_the_bot_is_away_is_read_back_once
        );
    };
    (@tests $make:expr; $($check:ident),+) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $check() {
                let mut platform = $make.await;
                $crate::conformance::$check(&mut platform).await;
            }
        )+
    };
}

/// A name no other check in this process uses (platforms outlive one check).
pub fn unique(prefix: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    format!("{prefix}-{}-{}", std::process::id(), COUNTER.fetch_add(1, Ordering::SeqCst))
}

fn markdown(text: &str) -> OutgoingMessage {
    OutgoingMessage { segments: vec![Segment::Markdown(text.to_owned())], ..OutgoingMessage::default() }
}

async fn connect(adapter: &Arc<dyn ChatAdapter>) -> EventStream {
    match adapter.connect().await {
        Ok(events) => events,
        Err(e) => panic!("connecting the {} adapter: {e}", adapter.platform()),
    }
}

async fn room(adapter: &Arc<dyn ChatAdapter>, prefix: &str) -> (RoomSpec, String, RoomRef) {
    let spec = RoomSpec { name: unique(prefix), topic: "A room of the adapter contract".into(), parent: None };
    let key = format!("conformance:room:{}", spec.name);
    let made = adapter.create_room(&spec, &key).await.unwrap_or_else(|e| panic!("creating {}: {e}", spec.name));
    (spec, key, made)
}

/// A room with `person` in it (invited, and in by the time they speak).
async fn room_with(adapter: &Arc<dyn ChatAdapter>, prefix: &str, person: &UserRef) -> RoomRef {
    let (_, _, made) = room(adapter, prefix).await;
    adapter.invite(&made, person).await.unwrap_or_else(|e| panic!("inviting {person}: {e}"));
    made
}

/// The next message event matching `want`, handing every checkpoint on the way back to the
/// adapter as the runtime does once it has stored what it decided.
async fn next_message(
    adapter: &Arc<dyn ChatAdapter>,
    events: &mut EventStream,
    what: &str,
    want: impl Fn(&IncomingMessage) -> bool,
) -> IncomingMessage {
    let deadline = Instant::now() + WAIT;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, events.recv()).await {
            Ok(Some(ChatEvent::Message(m))) if want(&m) => return m,
            Ok(Some(ChatEvent::Checkpoint { token, .. })) => {
                save_checkpoint(adapter, &token).await;
            }
            Ok(Some(_)) => {}
            Ok(None) => panic!("the event stream ended while waiting for {what}"),
            Err(_) => panic!("waited {WAIT:?} for {what}"),
        }
    }
}

/// Hands a resume point back, as the engine does once what came before it is stored: a platform
/// that reports resume points must be able to save them.
async fn save_checkpoint(adapter: &Arc<dyn ChatAdapter>, token: &str) {
    let resume = adapter.resume_points().expect("a platform that reports resume points offers to save them");
    resume.checkpoint(token).await.unwrap_or_else(|e| panic!("saving a checkpoint: {e}"));
}

/// Reads events for `period`, handing checkpoints back; returns the messages.
async fn messages_for(
    adapter: &Arc<dyn ChatAdapter>,
    events: &mut EventStream,
    period: Duration,
) -> Vec<IncomingMessage> {
    let until = Instant::now() + period;
    let mut seen = Vec::new();
    while let Ok(Some(event)) =
        tokio::time::timeout(until.saturating_duration_since(Instant::now()), events.recv()).await
    {
        match event {
            ChatEvent::Message(m) => seen.push(m),
            ChatEvent::Checkpoint { token, .. } => {
                save_checkpoint(adapter, &token).await;
            }
            _ => {}
        }
    }
    seen
}

/// Waits until what `room` shows satisfies `done`; returns it.
async fn shown_until<P: TestPlatform + ?Sized>(
    platform: &P,
    room: &RoomRef,
    what: &str,
    done: impl Fn(&[Shown]) -> bool,
) -> Vec<Shown> {
    let deadline = Instant::now() + WAIT;
    loop {
        let shown = platform.shown(room).await;
        if done(&shown) {
            return shown;
        }
        assert!(
            Instant::now() < deadline,
            "waited {WAIT:?} for {what} in {room}; it shows:\n{:#?}",
            shown.iter().map(|s| &s.text).collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn count(shown: &[Shown], text: &str) -> usize {
    shown.iter().filter(|s| s.text.contains(text)).count()
}

/// `create_room` with one idempotency key makes one room, also when the key comes again from
/// a restarted bot (a creation retried after a crash); another key makes another room.
pub async fn a_room_created_twice_with_one_key_is_one_room_also_after_a_restart<P: TestPlatform + ?Sized>(
    platform: &mut P,
) {
    let adapter = platform.adapter();
    let events = connect(&adapter).await;
    let (spec, key, first) = room(&adapter, "keyed").await;
    let again = adapter.create_room(&spec, &key).await.unwrap_or_else(|e| panic!("creating it again: {e}"));
    assert_eq!(again, first, "the same key made a second room");
    // The key, not the name, tells rooms apart: a room of the same name (another course's, or
    // one someone else made) is never taken for this one.
    let other = adapter
        .create_room(&spec, &format!("{key}:another"))
        .await
        .unwrap_or_else(|e| panic!("creating another room of the same name: {e}"));
    assert_ne!(other, first, "another key found the first room by its name");
    drop(events);
    let adapter = platform.restart().await;
    let _events = connect(&adapter).await;
    let after = adapter.create_room(&spec, &key).await.unwrap_or_else(|e| panic!("creating it after a restart: {e}"));
    assert_eq!(after, first, "after a restart the same key made a second room");
}

/// `send` with one key posts once, also after a restart, and answers with the one message.
pub async fn a_message_sent_twice_with_one_key_is_shown_once_also_after_a_restart<P: TestPlatform + ?Sized>(
    platform: &mut P,
) {
    let adapter = platform.adapter();
    let events = connect(&adapter).await;
    let (_, _, room) = room(&adapter, "once").await;
    let text = unique("Said once");
    let key = format!("conformance:send:{text}");
    let first = adapter.send(&room, &markdown(&text), &key).await.unwrap_or_else(|e| panic!("sending: {e}"));
    let second = adapter.send(&room, &markdown(&text), &key).await.unwrap_or_else(|e| panic!("resending: {e}"));
    assert_eq!(second, first, "a resend with the same key answered with another message");
    drop(events);
    let adapter = platform.restart().await;
    let _events = connect(&adapter).await;
    let third = adapter.send(&room, &markdown(&text), &key).await.unwrap_or_else(|e| panic!("after a restart: {e}"));
    assert_eq!(third.id.raw(), first.id.raw(), "after a restart a resend with the same key made another message");
    let shown = shown_until(platform, &room, "the message", |s| count(s, &text) > 0).await;
    assert_eq!(count(&shown, &text), 1, "sent three times with one key: {shown:#?}");
    assert_eq!(shown.iter().find(|s| s.text.contains(&text)).map(|s| s.id.as_str()), Some(first.id.raw()));
}

/// A person's message in a room reaches the bot as theirs, said in that room and not in
/// private; the bot's reply is shown as a reply to it.
pub async fn what_a_person_says_reaches_the_bot_and_its_reply_points_at_it<P: TestPlatform + ?Sized>(platform: &mut P) {
    let adapter = platform.adapter();
    let mut events = connect(&adapter).await;
    let ana = platform.person("ana").await;
    let room = room_with(&adapter, "reply", &ana).await;
    let said = platform.say(&ana, &room, "!status please").await;
    let heard = next_message(&adapter, &mut events, "ana's message", |m| m.text == "!status please").await;
    assert_eq!(heard.id.id.raw(), said, "the event's id is not the message's");
    assert_eq!(heard.id.room, room, "heard in another room");
    assert_eq!(heard.author, ana, "heard from someone else");
    assert!(!heard.is_direct, "a message in a group room was taken as said in private");
    let answer = OutgoingMessage { reply_to: Some(heard.id.clone()), ..markdown("Here is your status.") };
    let sent = adapter.send(&room, &answer, "conformance:reply").await.unwrap_or_else(|e| panic!("replying: {e}"));
    let shown = shown_until(platform, &room, "the reply", |s| count(s, "Here is your status.") == 1).await;
    let reply = shown.iter().find(|s| s.text.contains("Here is your status.")).expect("found above");
    assert_eq!(reply.reply_to.as_deref(), Some(said.as_str()), "the answer does not point at the question");
    assert_eq!(reply.id, sent.id.raw());
    assert_eq!(reply.author, platform.bot().raw());
}

/// `send_direct` opens the direct room once and keeps using it, also after a restart; nobody
/// but the person and the bot is in it or invited; what the person says there is private.
pub async fn a_direct_room_is_made_once_reused_after_a_restart_and_holds_only_its_person<P: TestPlatform + ?Sized>(
    platform: &mut P,
) {
    let adapter = platform.adapter();
    let events = connect(&adapter).await;
    let ana = platform.person("ana").await;
    let first = adapter.send_direct(&ana, &markdown("First, privately."), "conformance:dm:1").await;
    let first = first.unwrap_or_else(|e| panic!("sending directly: {e}"));
    let second = adapter.send_direct(&ana, &markdown("Second, privately."), "conformance:dm:2").await;
    let second = second.unwrap_or_else(|e| panic!("sending directly again: {e}"));
    assert_eq!(second.room, first.room, "a second direct message opened another room");
    drop(events);
    let adapter = platform.restart().await;
    let mut events = connect(&adapter).await;
    let third = adapter.send_direct(&ana, &markdown("Third, privately."), "conformance:dm:3").await;
    let third = third.unwrap_or_else(|e| panic!("sending directly after a restart: {e}"));
    assert_eq!(third.room, first.room, "after a restart a direct message opened another room");
    let members = platform.members(&first.room).await;
    assert_eq!(members, BTreeSet::from([ana.raw().to_owned()]), "who is in the direct room besides the bot");
    let shown = shown_until(platform, &first.room, "three messages", |s| count(s, "privately.") == 3).await;
    assert!(shown.iter().all(|s| s.author == platform.bot().raw()), "{shown:#?}");
    let said = platform.say(&ana, &first.room, "!progress").await;
    let heard = next_message(&adapter, &mut events, "ana's direct message", |m| m.text == "!progress").await;
    assert_eq!(heard.id.id.raw(), said);
    assert!(heard.is_direct, "a message in the direct room was not taken as private");
}

/// `open_thread` on a post gives a handle (the same for the same post again) where the bot's
/// messages are shown in the post's thread, and a person's message in that thread reaches the
/// bot with the same handle.
pub async fn a_thread_opened_on_a_post_holds_the_bots_and_peoples_messages<P: TestPlatform + ?Sized>(platform: &mut P) {
    let adapter = platform.adapter();
    let mut events = connect(&adapter).await;
    let ana = platform.person("ana").await;
    let room = room_with(&adapter, "thread", &ana).await;
    let root = adapter.send(&room, &markdown("Week 1: Basics"), "conformance:thread:root").await;
    let root = root.unwrap_or_else(|e| panic!("posting the root: {e}"));
    let thread = adapter.open_thread(&root, "Week 1: Basics", "conformance:thread").await;
    let thread = thread.unwrap_or_else(|e| panic!("opening the thread: {e}"));
    let again = adapter.open_thread(&root, "Week 1: Basics", "conformance:thread").await;
    assert_eq!(again.unwrap_or_else(|e| panic!("opening it again: {e}")), thread, "a second thread on one post");
    let inside = OutgoingMessage { thread: Some(thread.clone()), ..markdown("Share your work here.") };
    adapter.send(&room, &inside, "conformance:thread:inside").await.unwrap_or_else(|e| panic!("posting inside: {e}"));
    let shown = shown_until(platform, &room, "the thread's message", |s| count(s, "Share your work here.") == 1).await;
    let posted = shown.iter().find(|s| s.text.contains("Share your work here.")).expect("found above");
    assert_eq!(posted.thread.as_deref(), Some(root.id.raw()), "the message is not in the post's thread");
    let said = platform.say_in_thread(&ana, &room, root.id.raw(), "!submit my notes").await;
    let heard =
        next_message(&adapter, &mut events, "ana's message in the thread", |m| m.text == "!submit my notes").await;
    assert_eq!(heard.id.id.raw(), said);
    assert_eq!(heard.id.room, room, "a thread's message belongs to its room");
    assert_eq!(heard.thread.as_ref(), Some(&thread), "heard with another thread than the one opened");
}

/// A mention notifies exactly the person mentioned: `@room`, `@everyone` and `@here` in the
/// bot's text notify nobody.
pub async fn a_mention_notifies_the_person_and_never_everyone<P: TestPlatform + ?Sized>(platform: &mut P) {
    let adapter = platform.adapter();
    let _events = connect(&adapter).await;
    let ana = platform.person("ana").await;
    let room = room_with(&adapter, "mention", &ana).await;
    let message = OutgoingMessage {
        segments: vec![
            Segment::Markdown("Heads up @room @everyone @here: your reviewer is ".into()),
            Segment::Mention { user: ana.clone(), name: "ana".into() },
        ],
        ..OutgoingMessage::default()
    };
    adapter.send(&room, &message, "conformance:mention").await.unwrap_or_else(|e| panic!("sending: {e}"));
    let shown = shown_until(platform, &room, "the mention", |s| count(s, "your reviewer is") == 1).await;
    let posted = shown.iter().find(|s| s.text.contains("your reviewer is")).expect("found above");
    assert_eq!(posted.mentions, BTreeSet::from([ana.raw().to_owned()]), "who is notified");
    assert!(!posted.pings_everyone, "the message notifies everyone in the room: {posted:#?}");
}

/// `set_role` gives a course's organizer rights and takes them away again (a promotion, a
/// demotion, a second promotion), each shown by the platform.
pub async fn a_course_role_is_given_taken_away_and_given_again<P: TestPlatform + ?Sized>(platform: &mut P) {
    let adapter = platform.adapter();
    let _events = connect(&adapter).await;
    let ana = platform.person("ana").await;
    let room = room_with(&adapter, "roles", &ana).await;
    for (step, role) in [
        ("promotion", Some(CourseRole::Organizer)),
        ("demotion", None),
        ("second promotion", Some(CourseRole::Organizer)),
    ] {
        adapter.set_role(&room, &ana, role).await.unwrap_or_else(|e| panic!("{step}: {e}"));
        let deadline = Instant::now() + WAIT;
        loop {
            let shown = platform.role(&room, &ana).await;
            if shown == role {
                break;
            }
            assert!(Instant::now() < deadline, "{step}: the platform shows {shown:?}, not {role:?}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// A message longer than the platform takes at once arrives as several, in order, each within
/// the platform's limit, nothing lost or repeated; the first part is the message's reference.
pub async fn a_long_message_arrives_whole_in_order_in_parts_the_platform_accepts<P: TestPlatform + ?Sized>(
    platform: &mut P,
) {
    let adapter = platform.adapter();
    let _events = connect(&adapter).await;
    let (_, _, room) = room(&adapter, "long").await;
    let paragraphs: Vec<String> = (1..=300)
        .map(|n| format!("Paragraph {n:03} of the long week: read the chapter, try the exercises, note a question."))
        .collect();
    let text = paragraphs.join("\n\n");
    let first = adapter.send(&room, &markdown(&text), "conformance:long").await;
    let first = first.unwrap_or_else(|e| panic!("sending a long message: {e}"));
    let shown = shown_until(platform, &room, "every part", |s| count(s, "Paragraph 300") == 1).await;
    let parts: Vec<&Shown> = shown.iter().filter(|s| s.text.contains("Paragraph ")).collect();
    assert_eq!(parts.first().map(|s| s.id.as_str()), Some(first.id.raw()), "the reference is not the first part");
    if let Some(limit) = platform.message_limit() {
        assert!(parts.len() > 1, "{} characters went as one message over the limit of {limit}", text.len());
        for part in &parts {
            assert!(part.text.chars().count() <= limit, "a part of {} characters", part.text.chars().count());
        }
    }
    let all: String = parts.iter().map(|s| s.text.as_str()).collect::<Vec<_>>().join("\n");
    let mut from = 0;
    for p in &paragraphs {
        let Some(at) = all[from..].find(p.as_str()) else { panic!("{p:?} is missing or out of order") };
        from += at + p.len();
        assert!(!all[from..].contains(p.as_str()), "{p:?} is shown twice");
    }
}

/// A file attached to a person's message reaches the bot described, not downloaded; fetching
/// it gives its bytes under the cap and refuses it over the cap.
pub async fn an_attachment_is_fetched_whole_under_the_cap_and_refused_over_it<P: TestPlatform + ?Sized>(
    platform: &mut P,
) {
    let adapter = platform.adapter();
    let mut events = connect(&adapter).await;
    let ana = platform.person("ana").await;
    let room = room_with(&adapter, "file", &ana).await;
    let body: Vec<u8> = (0..3000).map(|i| b"# Week 1\nRead this.\n"[i % 20]).collect();
    platform.say_with_file(&ana, &room, "!syllabus load", ("syllabus.md", &body)).await;
    let heard = next_message(&adapter, &mut events, "the file's message", |m| m.text == "!syllabus load").await;
    let Some(file) = heard.attachment else { panic!("the message reached the bot without its file") };
    assert_eq!(file.name, "syllabus.md");
    let whole = adapter.fetch_attachment(&file, 10_000).await.unwrap_or_else(|e| panic!("fetching: {e}"));
    assert_eq!(whole, body, "the file's bytes");
    assert_eq!(adapter.fetch_attachment(&file, 1000).await, Err(AttachmentError::TooLarge { limit: 1000 }));
}

/// A command said while the bot is stopped reaches the restarted bot once.
pub async fn what_is_said_while_the_bot_is_away_is_read_back_once<P: TestPlatform + ?Sized>(platform: &mut P) {
    let adapter = platform.adapter();
    let mut events = connect(&adapter).await;
    let ana = platform.person("ana").await;
    let room = room_with(&adapter, "away", &ana).await;
    platform.say(&ana, &room, "!status before").await;
    next_message(&adapter, &mut events, "the message before", |m| m.text == "!status before").await;
    // Whatever the platform reports after it is stored too, as the runtime does.
    messages_for(&adapter, &mut events, Duration::from_secs(2)).await;
    drop(events);
    let adapter = platform.restart().await;
    let said = platform.say(&ana, &room, "!status during").await;
    let mut events = connect(&adapter).await;
    let heard =
        next_message(&adapter, &mut events, "the message said while away", |m| m.text == "!status during").await;
    assert_eq!(heard.id.id.raw(), said);
    let again = messages_for(&adapter, &mut events, Duration::from_secs(3)).await;
    let repeats = again.iter().filter(|m| m.text == "!status during").count();
    assert_eq!(repeats, 0, "the message said while away arrived {} times", repeats + 1);
}

/// The in-memory platform under the contract: the platform itself is the observer.
#[derive(Debug)]
pub struct MemoryPlatform {
    chat: crate::InMemoryChat,
    driver: crate::MemoryDriver,
}

impl MemoryPlatform {
    /// A new in-memory platform.
    pub fn new() -> MemoryPlatform {
        let (chat, driver) = crate::InMemoryChat::new();
        MemoryPlatform { chat, driver }
    }

    /// The room's name as people on the in-memory platform say it (`dm` for a direct room).
    fn place(room: &RoomRef) -> &str {
        if room.raw().starts_with("dm:") { "dm" } else { room.raw() }
    }
}

impl Default for MemoryPlatform {
    fn default() -> MemoryPlatform {
        MemoryPlatform::new()
    }
}

/// The name the bot posts under on the in-memory platform.
const MEMORY_BOT: &str = "facilitator";

#[async_trait]
impl TestPlatform for MemoryPlatform {
    fn adapter(&self) -> Arc<dyn ChatAdapter> {
        Arc::new(self.chat.clone())
    }

    /// The platform lives in the process, so only the bot's side restarts: its event stream
    /// ends, and the next `connect` is a new one.
    async fn restart(&mut self) -> Arc<dyn ChatAdapter> {
        self.adapter()
    }

    fn bot(&self) -> UserRef {
        UserRef::new(crate::Platform::Memory, MEMORY_BOT).expect("a valid name")
    }

    async fn person(&mut self, name: &str) -> UserRef {
        UserRef::new(crate::Platform::Memory, name).expect("a valid name")
    }

    async fn say(&self, user: &UserRef, room: &RoomRef, text: &str) -> String {
        let said = self.driver.say(user.raw(), Self::place(room), text).await;
        said.unwrap_or_else(|e| panic!("{user} saying {text:?}: {e}")).id.raw().to_owned()
    }

    async fn say_in_thread(&self, user: &UserRef, room: &RoomRef, root: &str, text: &str) -> String {
        let said = self.driver.say_in_thread_on(user.raw(), room.raw(), root, text).await;
        said.unwrap_or_else(|e| panic!("{user} saying {text:?}: {e}")).id.raw().to_owned()
    }

    async fn say_with_file(&self, user: &UserRef, room: &RoomRef, text: &str, file: (&str, &[u8])) -> String {
        let said = self.driver.say_with_file(user.raw(), Self::place(room), text, file, true).await;
        said.unwrap_or_else(|e| panic!("{user} sending a file: {e}")).id.raw().to_owned()
    }

    async fn shown(&self, room: &RoomRef) -> Vec<Shown> {
        self.driver
            .deliveries()
            .into_iter()
            .filter_map(|d| {
                let (id, message) = (d.id?, d.message?);
                (id.room == *room).then(|| Shown {
                    id: id.id.raw().to_owned(),
                    author: MEMORY_BOT.to_owned(),
                    text: message.plain(),
                    reply_to: message.reply_to.as_ref().map(|r| r.id.raw().to_owned()),
                    thread: message.thread.as_ref().map(|t| t.id.raw().to_owned()),
                    mentions: message
                        .segments
                        .iter()
                        .filter_map(|s| match s {
                            Segment::Mention { user, .. } => Some(user.raw().to_owned()),
                            _ => None,
                        })
                        .collect(),
                    // Nothing notifies a whole room here: only mentions name people.
                    pings_everyone: false,
                })
            })
            .collect()
    }

    async fn members(&self, room: &RoomRef) -> BTreeSet<String> {
        self.driver.members(room.raw()).into_iter().collect()
    }

    async fn role(&self, room: &RoomRef, user: &UserRef) -> Option<CourseRole> {
        self.driver.role(room.raw(), user.raw())
    }

    fn message_limit(&self) -> Option<usize> {
        None
    }
}

#[cfg(test)]
mod memory {
    crate::chat_adapter_conformance!(async { super::MemoryPlatform::new() });
}
