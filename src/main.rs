//! The `facilitator` command line.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use chrono::{DateTime, Utc};
use clap::{Parser, Subcommand};
use tokio::io::AsyncBufReadExt;
use tracing::{info, warn};
use tracing_subscriber::EnvFilter;

use facilitator::adapters::Adapters;
use facilitator::clock::{Clock, SystemClock};
use facilitator::config::{Config, redact_url, secret};
use facilitator::console::{Console, format_delivery, split_message_line};
use facilitator::credentials::{self, Signer};
use facilitator::engine::{Admins, Engine};
use facilitator::executor::Executor;
use facilitator::lock::{DatabaseLock, database_url};
use facilitator::ops::{self, Ops};
use facilitator::runtime::Runtime;
use facilitator::{demo, render};
use facilitator_bot::syllabus::Syllabus;
use facilitator_bot::{Place, Slug};
use facilitator_chat::InMemoryChat;
use facilitator_discord::{DiscordAdapter, DiscordConfig};
use facilitator_matrix::{Credentials, MatrixAdapter, MatrixConfig};
use facilitator_storage::Store;

#[derive(Parser, Debug)]
#[command(name = "facilitator", version, about = "A chat bot that runs open peer-learning courses")]
struct Cli {
    /// Config file (default: ./facilitator.toml if present). Environment variables override it.
    #[arg(long, global = true, env = "FACILITATOR_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the bot with the adapters the config enables.
    Run,
    /// Chat with the bot on the local adapter: `user@room: message` lines on standard input.
    Console {
        /// A bot admin (repeatable).
        #[arg(long = "admin", value_name = "USER")]
        admins: Vec<String>,
        /// Where the virtual clock starts (RFC 3339); default: now.
        #[arg(long, value_name = "TIME")]
        now: Option<DateTime<Utc>>,
        /// Database file (or URL); default: a throwaway database.
        #[arg(long, value_name = "PATH")]
        db: Option<String>,
        /// Print each input line before the answers.
        #[arg(long)]
        echo: bool,
        /// Seed for new courses' pairing seeds (repeatable runs); default: random.
        #[arg(long, value_name = "N")]
        seed: Option<u64>,
    },
    /// Play a whole course cycle on the local adapter and print the transcript.
    Demo {
        /// Keep the database in this file (default: a throwaway database).
        #[arg(long, value_name = "PATH")]
        db: Option<String>,
    },
    /// Run the database migrations.
    Migrate,
    /// Check or load a syllabus file.
    Syllabus {
        #[command(subcommand)]
        command: SyllabusCommand,
    },
    Badges {
        #[command(subcommand)]
        command: BadgesCommand,
    },
}

#[derive(Subcommand, Debug)]
enum BadgesCommand {
    /// Write a course's badges and awards as Open Badges 2.0 JSON (issuer, badge classes,
    /// hosted assertions), laid out as they are to be served from `[badges] base_url`.
    Export {
        /// The course's short name.
        course: String,
        /// Output directory.
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
    },
}

#[derive(Subcommand, Debug)]
enum SyllabusCommand {
    /// Check a syllabus file and print its weeks, or the first problem with its line number.
    Check {
        /// The Markdown file.
        file: PathBuf,
    },
    /// Load (or replace) a course's syllabus, as `!syllabus load` would.
    Load {
        /// The course's short name.
        course: String,
        /// The Markdown file.
        file: PathBuf,
    },
}

fn init_logs(default: &str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
}

/// A throwaway SQLite database, removed when dropped.
struct Scratch {
    _dir: tempfile::TempDir,
    url: String,
}

fn scratch() -> Result<Scratch> {
    let dir = tempfile::Builder::new().prefix("facilitator-").tempdir()?;
    let url = format!("sqlite://{}", dir.path().join("facilitator.db").display());
    Ok(Scratch { _dir: dir, url })
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let quiet = matches!(
        cli.command,
        Command::Console { .. } | Command::Demo { .. } | Command::Syllabus { .. } | Command::Badges { .. }
    );
    init_logs(if quiet { "warn" } else { "info" });
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: starting the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let code = match runtime.block_on(dispatch(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    };
    // A read of standard input cannot be cancelled; do not wait for it at exit.
    runtime.shutdown_timeout(std::time::Duration::from_millis(100));
    code
}

async fn dispatch(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Run => {
            let config = Config::load(cli.config.as_deref())?;
            run(config).await?;
        }
        Command::Console { admins, now, db, echo, seed } => {
            let scratch = scratch()?;
            let url = db.as_deref().map_or_else(|| scratch.url.clone(), database_url);
            let _lock = DatabaseLock::acquire(&url)?;
            let store = Store::open(&url).await.with_context(|| format!("opening {}", redact_url(&url)))?;
            let mut console =
                Console::new(store.clone(), Admins::new(admins), now.unwrap_or_else(Utc::now), std::io::stdout())
                    .await?;
            console.set_echo(echo);
            if let Some(seed) = seed {
                console.set_entropy(facilitator::engine::Entropy::seeded(seed));
            }
            console.run(tokio::io::stdin()).await?;
            store.close().await;
        }
        Command::Demo { db } => {
            let scratch = scratch()?;
            let url = db.as_deref().map_or_else(|| scratch.url.clone(), database_url);
            let _lock = DatabaseLock::acquire(&url)?;
            let store = Store::open(&url).await.with_context(|| format!("opening {}", redact_url(&url)))?;
            demo::play(store.clone(), std::io::stdout()).await?;
            store.close().await;
        }
        Command::Migrate => {
            let config = Config::load(cli.config.as_deref())?;
            let url = &config.bot.database_url;
            let _lock = DatabaseLock::acquire(url)?;
            Store::open(url).await.with_context(|| format!("migrating {}", redact_url(url)))?.close().await;
            println!("migrated {}", redact_url(url));
        }
        Command::Syllabus { command: SyllabusCommand::Check { file } } => {
            let text = std::fs::read_to_string(&file).with_context(|| format!("reading {}", file.display()))?;
            match Syllabus::parse(&text) {
                Ok(s) => {
                    println!("{}: \"{}\", {} weeks", file.display(), s.title, s.weeks.len());
                    for w in &s.weeks {
                        println!(
                            "  week {}: {} ({} links, {} review questions)",
                            w.number,
                            w.title,
                            w.materials.len(),
                            w.review_questions.len()
                        );
                    }
                }
                Err(e) => {
                    eprintln!("{}:{}: {}", file.display(), e.line, e.message);
                    return Ok(ExitCode::FAILURE);
                }
            }
        }
        Command::Badges { command: BadgesCommand::Export { course, out } } => {
            let config = Config::load(cli.config.as_deref())?;
            let url = &config.bot.database_url;
            let store = Store::open(url).await.with_context(|| format!("opening {}", redact_url(url)))?;
            let state = store.load_state().await?;
            store.close().await;
            let done = facilitator::openbadges::export(&config.badges, &state, &course, &out)?;
            println!("wrote {} badge classes and {} assertions to {}", done.badges, done.assertions, out.display());
        }
        Command::Syllabus { command: SyllabusCommand::Load { course, file } } => {
            let config = Config::load(cli.config.as_deref())?;
            return load_syllabus(&config, &course, &file).await;
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn load_syllabus(config: &Config, course: &str, file: &PathBuf) -> Result<ExitCode> {
    let text = std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    if let Err(e) = Syllabus::parse(&text) {
        eprintln!("{}:{}: {}", file.display(), e.line, e.message);
        return Ok(ExitCode::FAILURE);
    }
    let url = &config.bot.database_url;
    let _lock = DatabaseLock::acquire(url).context(
        "the running bot keeps its state in memory; load the syllabus from chat with `!syllabus load`, or stop the bot",
    )?;
    let store = Store::open(url).await.with_context(|| format!("opening {}", redact_url(url)))?;
    let mut engine = Engine::open(store.clone(), Admins::unchanged(), Adapters::default()).await?;
    let slug = Slug::parse(course).map_err(|e| anyhow::anyhow!("'{course}' is not a course name: {e}"))?;
    let Some(id) = engine.state().course_by_slug(&slug).map(|c| c.id) else {
        bail!("there is no course '{course}'");
    };
    let operator = std::env::var("USER").unwrap_or_else(|_| "operator".into());
    let replies =
        engine.cli_command(&operator, Place::Course(id), &format!("!syllabus load\n{text}"), SystemClock.now()).await?;
    let mut refused = false;
    for reply in replies {
        let message = render::render(
            &reply,
            facilitator_chat::Platform::Memory,
            &engine.directory().read().expect("not poisoned"),
            None,
        );
        let text = message.plain();
        refused |= text.starts_with("⚠️");
        println!("{text}");
    }
    store.close().await;
    Ok(if refused { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}

async fn run(config: Config) -> Result<()> {
    let url = config.bot.database_url.clone();
    let _lock = DatabaseLock::acquire(&url)?;
    if config.bot.admins.is_empty() {
        warn!("no bot admins are configured ([bot] admins or FACILITATOR_ADMINS): nobody can create courses");
    }
    let mut adapters = Adapters::default();
    let mut local: Option<facilitator_chat::MemoryDriver> = None;
    if config.local.as_ref().is_some_and(|l| l.enabled) {
        let (chat, driver) = InMemoryChat::new();
        adapters.add(Arc::new(chat));
        local = Some(driver);
    }
    if let Some(m) = &config.matrix {
        let credentials = match (secret("FACILITATOR_MATRIX_ACCESS_TOKEN")?, secret("FACILITATOR_MATRIX_PASSWORD")?) {
            (Some(token), _) => Some(Credentials::AccessToken(token)),
            (None, Some(password)) => Some(Credentials::Password(password)),
            (None, None) => None,
        };
        let matrix = MatrixConfig {
            homeserver: m.homeserver.clone(),
            user: m.user.clone(),
            store_dir: m.store_dir.clone(),
            encrypt_new_rooms: m.encrypt_new_rooms,
            credentials,
        };
        let adapter = MatrixAdapter::login(matrix).await.context("signing in to Matrix")?;
        adapters.add(Arc::new(adapter));
    }
    if let Some(d) = &config.discord {
        let Some(token) = secret("FACILITATOR_DISCORD_TOKEN")? else {
            bail!(
                "[discord] needs the bot token in FACILITATOR_DISCORD_TOKEN (or a file named by FACILITATOR_DISCORD_TOKEN_FILE)"
            );
        };
        let connect_to = d
            .connect_to
            .as_deref()
            .map(|a| a.parse().with_context(|| format!("[discord] connect_to '{a}' is not an address:port")))
            .transpose()?;
        let discord = DiscordConfig {
            token: facilitator_discord::Token(token),
            guild: d.guild,
            slash_commands: d.slash_commands,
            connect_to,
            ca_file: d.ca_file.clone(),
        };
        adapters.add(Arc::new(DiscordAdapter::new(discord).context("setting up Discord")?));
    }
    if adapters.iter().next().is_none() {
        bail!(
            "no chat adapter is enabled: add a [matrix] or [discord] section, or a [local] section to run on standard input and output"
        );
    }
    info!(database = %redact_url(&url), "starting");
    let store = Store::open(&url).await.with_context(|| format!("opening {}", redact_url(&url)))?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let mut engine = Engine::open(store.clone(), Admins::new(config.bot.admins.clone()), adapters.clone()).await?;
    engine.set_budget(config.limits);
    let (ops_stop, ops_stopped) = tokio::sync::watch::channel(false);
    let ops = Ops::new(engine.metrics(), store.clone(), adapters.clone());
    // The ops endpoints share the web face's listener when both name the same address.
    let ops_on_web = config.web.listen.is_some() && config.web.listen == config.ops.listen;
    if let Some(address) = config.ops.listen.as_ref().filter(|_| !ops_on_web) {
        let listener = ops::bind(address).await.with_context(|| format!("serving the ops endpoints on {address}"))?;
        info!(address = %listener.local_addr().map_or_else(|_| address.clone(), |a| a.to_string()), "ops endpoints: /healthz and /metrics");
        tokio::spawn(ops::serve(listener, ops.clone(), ops_stopped.clone()));
    }
    let mut web_origin = None;
    if let Some(address) = &config.web.listen {
        let listener = tokio::net::TcpListener::bind(address)
            .await
            .with_context(|| format!("serving the web face on {address}"))?;
        let origin = config.web.origin(listener.local_addr().ok())?;
        info!(address = %listener.local_addr().map_or_else(|_| address.clone(), |a| a.to_string()), %origin, "web face");
        let places = facilitator::web::Places {
            matrix_bot: config.matrix.as_ref().map(|m| m.user.clone()),
            discord_guild: config.discord.as_ref().map(|d| d.guild),
            directory: Some(engine.directory()),
        };
        // The Open Badges 3.0 signing key: made by the first instance, shared through the store.
        let secret = store
            .signing_key(credentials::ALGORITHM, &Signer::fresh_secret()?, chrono::Utc::now())
            .await
            .context("reading the issuer's signing key")?;
        let signer = Signer::from_secret(&secret).context("reading the issuer's signing key")?;
        let web = facilitator::web::Web::new(engine.snapshots(), origin.clone(), config.badges.clone(), places)
            .with_signer(signer)
            .with_store(store.clone());
        let mut router = facilitator::web::router(web);
        if ops_on_web {
            router = router.merge(ops::router(ops.clone()));
        }
        tokio::spawn(facilitator::web::serve(listener, router, ops_stopped.clone()));
        web_origin = Some(origin);
    }
    let executor =
        Executor::new(store.clone(), adapters.clone(), engine.directory(), engine.reporter(), Arc::clone(&clock))
            .with_metrics(engine.metrics())
            .with_web(web_origin);
    // Delivered messages and event claims are kept for the retention, then forgotten.
    tokio::spawn(prune_loop(store.clone(), Arc::clone(&clock), config.retention));

    // All platforms' events, merged in arrival order.
    let (tx, rx) = tokio::sync::mpsc::channel(4096);
    for adapter in adapters.iter() {
        let mut events = adapter.connect().await.with_context(|| format!("connecting to {}", adapter.platform()))?;
        let tx = tx.clone();
        tokio::spawn(async move {
            while let Some(event) = events.recv().await {
                if tx.send(event).await.is_err() {
                    break;
                }
            }
        });
    }
    drop(tx);
    if let Some(driver) = &local {
        serve_local(driver.clone());
    }

    let runtime = Runtime::new(engine, executor, clock, rx);
    runtime.run(shutdown_signal()).await?;
    let _ = ops_stop.send(true);
    if let Some(driver) = &local {
        print_local(driver);
    }
    store.close().await;
    info!("stopped");
    Ok(())
}

/// The local adapter: lines from standard input, what the bot does to standard output.
fn serve_local(driver: facilitator_chat::MemoryDriver) {
    let input = driver.clone();
    tokio::spawn(async move {
        let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
        // As at the console, a line ending in `\` continues the message on the next line.
        let mut pending: Option<String> = None;
        while let Ok(Some(line)) = lines.next_line().await {
            let line = line.trim_end_matches('\r');
            let line = match (pending.take(), line.strip_suffix('\\')) {
                (Some(mut buffer), Some(part)) => {
                    buffer.push_str(part);
                    buffer.push('\n');
                    pending = Some(buffer);
                    continue;
                }
                (Some(mut buffer), None) => {
                    buffer.push_str(line);
                    buffer
                }
                (None, Some(part)) if !line.trim_start().starts_with('#') => {
                    pending = Some(format!("{part}\n"));
                    continue;
                }
                (None, _) => line.to_owned(),
            };
            if line.trim().is_empty() || line.trim_start().starts_with('#') {
                continue;
            }
            match split_message_line(&line) {
                Ok((user, room, text)) => {
                    if let Err(e) = input.say(user, room, text).await {
                        eprintln!("local: {e}");
                    }
                }
                Err(e) => eprintln!("local: {e}"),
            }
        }
    });
    tokio::spawn(async move {
        loop {
            print_local(&driver);
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    });
}

fn print_local(driver: &facilitator_chat::MemoryDriver) {
    for delivery in driver.take_deliveries() {
        if let Some(text) = format_delivery(&delivery) {
            println!("{text}");
        }
    }
}

/// Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => {
                let _ = ctrl_c.await;
                return;
            }
        };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}

/// Every hour (and once at start): delivered effects and inbound claims older than the
/// retention are deleted.
async fn prune_loop(store: Store, clock: Arc<dyn Clock>, retention: facilitator::config::RetentionConfig) {
    loop {
        match store.prune(clock.now() - retention.duration()).await {
            Ok((effects, claims)) if effects + claims > 0 => {
                info!(
                    effects,
                    claims,
                    days = retention.days.max(facilitator::config::RetentionConfig::MIN_DAYS),
                    "pruned delivered effects and event claims past the retention"
                );
            }
            Ok(_) => {}
            Err(e) => warn!(error = %e, "pruning past the retention failed; will try again"),
        }
        tokio::time::sleep(std::time::Duration::from_secs(3600)).await;
    }
}
