//! Discord round trip on the local Discord: a `!ping` message dispatched on the gateway until
//! the bot's reply arrives at the REST endpoint, 200 times; then the bot's resident memory and
//! the same round trip with 1,000 course channels (each with its three roles).
//!
//! The bot is the release binary, on SQLite, reaching the local Discord through serenity's
//! production HTTP path (TLS, ratelimiter). `cargo bench --bench discord`.

mod common;

use common::{percentile, rss_kib};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use facilitator_discord::testing::LocalDiscord;

const ROUNDS: usize = 200;
const COURSES: usize = 1000;

async fn round_trips(d: &LocalDiscord, user: u64, channel: u64) -> Vec<Duration> {
    for _ in 0..10 {
        d.ask(user, channel, "!ping").await;
    }
    let mut out = Vec::with_capacity(ROUNDS);
    for _ in 0..ROUNDS {
        let started = Instant::now();
        let reply = d.ask(user, channel, "!ping").await;
        out.push(started.elapsed());
        assert!(reply.text().contains("pong"), "{}", reply.text());
    }
    out.sort();
    out
}

fn report(label: &str, rtts: &[Duration]) {
    println!(
        "{label}: n={} p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        rtts.len(),
        percentile(rtts, 0.5).as_secs_f64() * 1e3,
        percentile(rtts, 0.99).as_secs_f64() * 1e3,
        rtts.last().map_or(0.0, |d| d.as_secs_f64() * 1e3)
    );
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    runtime.block_on(async {
        let d = LocalDiscord::start().await;
        let olga = d.member("olga");
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("facilitator.toml");
        std::fs::write(
            &config,
            format!(
                "[bot]\nadmins = [\"discord:{olga}\"]\ndatabase_url = \"sqlite://{}/bot.db\"\n\n[limits]\ncommands_burst = 100000\ncommands_per_minute = 100000\n\n[discord]\nguild = {}\nslash_commands = false\nconnect_to = \"{}\"\nca_file = \"{}\"\n",
                dir.path().display(),
                d.guild,
                d.address,
                d.ca_file.display()
            ),
        )
        .unwrap();
        let log = std::fs::File::create(dir.path().join("bot.log")).unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_facilitator"))
            .args(["run", "--config"])
            .arg(&config)
            .env("FACILITATOR_DISCORD_TOKEN", &d.token)
            .env("RUST_LOG", "warn")
            .env_remove("FACILITATOR_DATABASE_URL")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        while !d.connected() {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let dm = d.dm(olga);
        let created = d.ask(olga, dm, "!course new bench-0 \"Bench\" weeks=3").await;
        assert!(created.text().contains("Created"), "{}", created.text());
        let channel = loop {
            if let Some(c) = d.channel_named("bench-0") {
                break c;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        let rtts = round_trips(&d, olga, channel).await;
        report("discord !ping round trip, 1 course channel", &rtts);
        let rss_one = rss_kib(child.id());

        let started = Instant::now();
        for n in 1..COURSES {
            let created = d.ask(olga, dm, &format!("!course new bench-{n} \"Bench {n}\" weeks=3")).await;
            assert!(created.text().contains("Created"), "{}", created.text());
        }
        while d.channel_named(&format!("bench-{}", COURSES - 1)).is_none() {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let setup = started.elapsed();
        tokio::time::sleep(Duration::from_secs(2)).await;
        let rss_many = rss_kib(child.id());
        let rtts = round_trips(&d, olga, channel).await;
        report(&format!("discord !ping round trip, {COURSES} course channels"), &rtts);
        println!(
            "created {} more courses (channel + 3 roles each) in {:.1} s; bot RSS {:.1} MiB with 1 course, {:.1} MiB with {COURSES}",
            COURSES - 1,
            setup.as_secs_f64(),
            rss_one as f64 / 1024.0,
            rss_many as f64 / 1024.0
        );
        assert!(d.violations().is_empty(), "{:?}", d.violations());
        let _ = child.kill();
        let _ = child.wait();
    });
}
