//! Matrix round trip on a loopback Synapse: `!ping` in a course room until the bot's reply
//! arrives, 200 times, beside the same round trip with a minimal echo client written directly
//! on matrix-sdk (the floor the homeserver allows); then the bot's resident memory with 100
//! course rooms joined.
//!
//! Needs Synapse: run `scripts/bench-matrix.sh`, which starts one and runs this.

mod common;

use common::{percentile, rss_kib};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use facilitator_matrix::testing::{PASSWORD, Person, Synapse, unique};
use matrix_sdk::ruma::events::relation::{InReplyTo, Reply};
use matrix_sdk::ruma::events::room::message::{
    MessageType, OriginalSyncRoomMessageEvent, Relation, RoomMessageEventContent,
};
use matrix_sdk::ruma::{OwnedRoomId, OwnedUserId};
use matrix_sdk::{Room, RoomState};

const ROUNDS: usize = 200;

async fn round_trips(person: &Person, room: &OwnedRoomId, rounds: usize) -> Vec<Duration> {
    for _ in 0..10 {
        person.ask(room, "!ping").await;
    }
    let mut out = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let started = Instant::now();
        let reply = person.ask(room, "!ping").await;
        out.push(started.elapsed());
        assert!(reply.body.contains("pong"), "{}", reply.body);
    }
    out.sort();
    out
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let synapse = Synapse::from_env();
        let olga = Person::new(&synapse, "olga").await;

        // The bot, as a process.
        let localpart = unique("facilitator");
        let bot_id: OwnedUserId = synapse.register(&localpart, false).await.try_into().unwrap();
        synapse.lift_rate_limit(bot_id.as_str()).await;
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("facilitator.toml");
        std::fs::write(
            &config,
            format!(
                "[bot]\nadmins = [\"{}\"]\ndatabase_url = \"sqlite://{}/bot.db\"\n\n[limits]\ncommands_burst = 100000\ncommands_per_minute = 100000\n\n[matrix]\nhomeserver = \"{}\"\nuser = \"{bot_id}\"\nstore_dir = \"{}/matrix\"\n",
                olga.id,
                dir.path().display(),
                synapse.url,
                dir.path().display()
            ),
        )
        .unwrap();
        let mut bot = Command::new(env!("CARGO_BIN_EXE_facilitator"))
            .args(["run", "--config"])
            .arg(&config)
            .env("FACILITATOR_MATRIX_PASSWORD", PASSWORD)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();

        let dm = olga.dm(&bot_id).await;
        olga.ask(&dm, "!course new bench-0 \"Bench\"").await;
        let course_room = olga.room_named("bench-0").await;
        let bot_times = round_trips(&olga, &course_room, ROUNDS).await;

        // The floor: an echo client on matrix-sdk, answering `!ping` with a reply.
        let echo = Person::new(&synapse, "echo").await;
        let echo_id = echo.id.clone();
        echo.client.add_event_handler(move |ev: OriginalSyncRoomMessageEvent, room: Room| {
            let echo_id = echo_id.clone();
            async move {
                let MessageType::Text(text) = &ev.content.msgtype else { return };
                if ev.sender == echo_id || text.body != "!ping" || room.state() != RoomState::Joined {
                    return;
                }
                let mut content = RoomMessageEventContent::text_plain("pong");
                content.relates_to = Some(Relation::Reply(Reply::new(InReplyTo::new(ev.event_id.clone()))));
                let _ = room.send(content).await;
            }
        });
        let mut request = matrix_sdk::ruma::api::client::room::create_room::v3::Request::new();
        request.invite = vec![echo.id.clone()];
        request.name = Some("echo".into());
        let echo_room = olga.client.create_room(request).await.unwrap().room_id().to_owned();
        echo.room_named("echo").await;
        let floor = round_trips(&olga, &echo_room, ROUNDS).await;

        // Memory with 100 course rooms.
        for i in 1..100 {
            let reply = olga.ask(&dm, &format!("!course new bench-{i} \"Bench {i}\"")).await;
            assert!(reply.body.contains("Created"), "{}", reply.body);
        }
        olga.room_named("bench-99").await;
        tokio::time::sleep(Duration::from_secs(3)).await;
        let rss = rss_kib(bot.id());
        let _ = bot.kill();
        let _ = bot.wait();

        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        println!("Matrix round trip, loopback Synapse, {ROUNDS} rounds each (release):");
        println!("  bot   !ping -> reply   p50 {:>7.1} ms   p99 {:>7.1} ms", ms(percentile(&bot_times, 0.5)), ms(percentile(&bot_times, 0.99)));
        println!("  echo  !ping -> reply   p50 {:>7.1} ms   p99 {:>7.1} ms   (minimal matrix-sdk client: the floor)", ms(percentile(&floor, 0.5)), ms(percentile(&floor, 0.99)));
        println!(
            "  bot / floor at p50: {:.2}x (target: within 1.2x)",
            percentile(&bot_times, 0.5).as_secs_f64() / percentile(&floor, 0.5).as_secs_f64()
        );
        println!("  bot resident memory with 100 course rooms: {:.1} MiB", rss as f64 / 1024.0);
    });
}
