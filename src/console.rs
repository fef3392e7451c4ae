//! The console: the local adapter driven from text lines, with a clock that moves on command.
//!
//! Input lines are `user@room: message` (`room` is a course slug, `lobby`, or `dm` for a direct
//! message to the bot), or `user@room/week 2: message` in the thread of week 2 when the course
//! threads its weeks; a line ending in `\` continues the message on the next line. Lines
//! starting with `/` are console commands: `/advance 3d` (also `h`, `m`, `s`) runs the schedule
//! through that much virtual time, `/now` prints the clock, `/join user room` has a user join a
//! room on the platform itself. Blank lines and lines starting with `#` are ignored (outside a
//! continued message). The bot's output is printed as `[room] text`, `[room › thread] text`
//! and `[dm user] text`.

use std::io::Write;
use std::sync::Arc;

use anyhow::{Context, Result};
use chrono::{DateTime, Duration, Utc};
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};

use facilitator_chat::{ChatAdapter, Delivery, DeliveryKind, EventStream, InMemoryChat, MemoryDriver};
use facilitator_storage::Store;

use crate::adapters::Adapters;
use crate::clock::{Clock, ManualClock};
use crate::engine::{Admins, Engine};
use crate::executor::Executor;

/// A console session.
#[derive(Debug)]
pub struct Console<W: Write> {
    engine: Engine,
    executor: Executor,
    driver: MemoryDriver,
    events: EventStream,
    clock: ManualClock,
    out: W,
    echo: bool,
}

/// What the console did with one line.
#[derive(Debug, PartialEq, Eq)]
pub enum LineOutcome {
    /// Handled.
    Done,
    /// Not understood; the message says why.
    Error(String),
}

impl<W: Write> Console<W> {
    /// A console on `store`, with the clock at `now`.
    ///
    /// # Errors
    /// When the store cannot be read or the adapter cannot connect.
    pub async fn new(store: Store, admins: Admins, now: DateTime<Utc>, out: W) -> Result<Console<W>> {
        let (chat, driver) = InMemoryChat::new();
        let chat: Arc<dyn ChatAdapter> = Arc::new(chat);
        let events = chat.connect().await?;
        let mut adapters = Adapters::default();
        adapters.add(chat);
        let clock = ManualClock::new(now);
        let engine = Engine::open(store.clone(), admins, adapters.clone()).await?;
        let executor = Executor::new(store, adapters, engine.directory(), engine.reporter(), Arc::new(clock.clone()));
        let mut console = Console { engine, executor, driver, events, clock, out, echo: false };
        console.restore_rooms().await?;
        // Effects left over from an earlier run (a crash before they were performed) go out now.
        console.settle().await?;
        Ok(console)
    }

    /// Limits how many commands each person may send, as the bot does when it runs.
    pub fn set_budget(&mut self, config: crate::budget::BudgetConfig) {
        self.engine.set_budget(config);
    }

    /// Sets where the domain's randomness comes from (`Entropy::seeded` for repeatable runs).
    pub fn set_entropy(&mut self, entropy: crate::engine::Entropy) {
        self.engine.set_entropy(entropy);
    }

    /// Print each input line before what the bot answers (for transcripts).
    pub fn set_echo(&mut self, echo: bool) {
        self.echo = echo;
    }

    /// The engine (for summaries and tests).
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The in-memory platform's driver.
    pub fn driver(&self) -> &MemoryDriver {
        &self.driver
    }

    /// The output.
    pub fn out(&mut self) -> &mut W {
        &mut self.out
    }

    /// Ends the session, giving the output back.
    pub fn into_out(self) -> W {
        self.out
    }

    /// The in-memory platform starts empty on every run: rooms that exist in the database are
    /// created again so course rooms keep working on a reused `--db`.
    async fn restore_rooms(&mut self) -> Result<()> {
        let rooms = self.engine.store().rooms().await?;
        let memory: Vec<_> = rooms.into_iter().filter(|r| r.platform == "memory").collect();
        if memory.is_empty() {
            return Ok(());
        }
        for row in &memory {
            if let facilitator_storage::RoomOwner::Course(course) = row.owner
                && let Some(c) = self.engine.state().courses.get(&course)
            {
                self.driver.restore_room(
                    &row.room,
                    c.members
                        .keys()
                        .filter_map(|p| self.engine.state().persons.get(p))
                        .flat_map(|p| p.accounts.iter())
                        .filter(|a| a.platform == "memory")
                        .map(|a| a.handle.clone())
                        .collect(),
                );
            }
        }
        for thread in self.engine.store().threads().await? {
            if thread.platform == "memory" {
                self.driver.restore_thread(&thread.room, &thread.root, &format!("Week {}", thread.week));
            }
        }
        self.driver.take_deliveries();
        Ok(())
    }

    /// Reads lines until the end of input.
    ///
    /// # Errors
    /// On a storage failure or an unreadable input.
    pub async fn run<R: AsyncRead + Unpin>(&mut self, input: R) -> Result<()> {
        let mut lines = BufReader::new(input).lines();
        let mut pending: Option<String> = None;
        while let Some(line) = lines.next_line().await.context("reading input")? {
            let line = line.trim_end_matches('\r');
            if let Some(mut buffer) = pending.take() {
                match line.strip_suffix('\\') {
                    Some(part) => {
                        buffer.push_str(part);
                        buffer.push('\n');
                        pending = Some(buffer);
                    }
                    None => {
                        buffer.push_str(line);
                        self.line(&buffer).await?;
                    }
                }
                continue;
            }
            match line.strip_suffix('\\') {
                Some(part) if !line.trim_start().starts_with('/') && !line.trim_start().starts_with('#') => {
                    pending = Some(format!("{part}\n"));
                }
                _ => {
                    self.line(line).await?;
                }
            }
        }
        if let Some(buffer) = pending {
            self.line(buffer.trim_end_matches('\n')).await?;
        }
        Ok(())
    }

    /// Handles one (possibly multi-line) input.
    ///
    /// # Errors
    /// On a storage failure.
    pub async fn line(&mut self, line: &str) -> Result<LineOutcome> {
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            if self.echo && trimmed.starts_with('#') {
                writeln!(self.out, "{trimmed}")?;
            }
            return Ok(LineOutcome::Done);
        }
        if self.echo {
            let mut shown = line.lines();
            writeln!(self.out, "> {}", shown.next().unwrap_or(""))?;
            for more in shown {
                writeln!(self.out, ">   {more}")?;
            }
        }
        let outcome = if let Some(command) = trimmed.strip_prefix('/') {
            self.console_command(command).await?
        } else {
            self.message(line).await?
        };
        if let LineOutcome::Error(e) = &outcome {
            writeln!(self.out, "console: {e}")?;
        }
        Ok(outcome)
    }

    async fn message(&mut self, line: &str) -> Result<LineOutcome> {
        let (user, room, text) = match split_message_line(line) {
            Ok(parts) => parts,
            Err(e) => return Ok(LineOutcome::Error(e)),
        };
        // `ana@data-101/week 2: ...` speaks in the thread of week 2.
        let said = match room.split_once('/') {
            Some((room, thread)) => self.driver.say_in_named_thread(user, room.trim(), thread, text).await,
            None => self.driver.say(user, room, text).await,
        };
        if let Err(e) = said {
            return Ok(LineOutcome::Error(e.to_string()));
        }
        self.settle().await?;
        Ok(LineOutcome::Done)
    }

    async fn console_command(&mut self, command: &str) -> Result<LineOutcome> {
        let mut words = command.split_whitespace();
        match (words.next(), words.next(), words.next(), words.next()) {
            (Some("now"), None, ..) => {
                writeln!(self.out, "now: {}", self.clock.now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true))?;
                Ok(LineOutcome::Done)
            }
            (Some("advance"), Some(amount), None, _) => match parse_duration(amount) {
                Some(d) => {
                    self.advance(d).await?;
                    Ok(LineOutcome::Done)
                }
                None => Ok(LineOutcome::Error(format!("'{amount}' is not a duration: use 3d, 12h, 30m or 45s"))),
            },
            (Some("join"), Some(user), Some(room), None) => {
                if let Err(e) = self.driver.join(user, room).await {
                    return Ok(LineOutcome::Error(e.to_string()));
                }
                self.settle().await?;
                Ok(LineOutcome::Done)
            }
            _ => Ok(LineOutcome::Error("console commands: /advance 3d (or h, m, s), /now, /join USER ROOM".into())),
        }
    }

    /// Moves the clock forward, running each job at its own due time on the way.
    ///
    /// # Errors
    /// On a storage failure.
    pub async fn advance(&mut self, by: Duration) -> Result<()> {
        let target = self.clock.now() + by;
        while let Some(due) = self.engine.next_due().filter(|d| *d <= target) {
            self.clock.set(due);
            self.settle().await?;
        }
        self.clock.set(target);
        self.settle().await
    }

    /// Handles every waiting event, runs due jobs, performs the effects and prints them.
    async fn settle(&mut self) -> Result<()> {
        loop {
            let mut events = Vec::new();
            while let Ok(event) = self.events.try_recv() {
                events.push(event);
            }
            let now = self.clock.now();
            let handled = if events.is_empty() { 0 } else { self.engine.handle_events(events, now).await?.decided };
            let jobs = self.engine.run_due_once(now).await?.decided;
            self.engine.serving_reports(self.executor.deliver_pending(), &self.clock).await?;
            self.print_deliveries()?;
            if handled == 0 && jobs == 0 {
                return Ok(());
            }
        }
    }

    fn print_deliveries(&mut self) -> Result<()> {
        for delivery in self.driver.take_deliveries() {
            if let Some(text) = format_delivery(&delivery) {
                writeln!(self.out, "{text}")?;
            }
        }
        self.out.flush()?;
        Ok(())
    }
}

/// How the console shows what the bot did: `[room] text`, `[dm user] text`, `* created ...`.
/// Continuation lines of a message are indented. Topic changes are not shown.
pub fn format_delivery(delivery: &Delivery) -> Option<String> {
    let prefix = match &delivery.kind {
        DeliveryKind::Room(room) => match &delivery.thread {
            Some(thread) => format!("[{room} › {thread}]"),
            None => format!("[{room}]"),
        },
        DeliveryKind::Direct(user) => format!("[dm {user}]"),
        DeliveryKind::Created { name, space: true, .. } => return Some(format!("* created the space {name}")),
        DeliveryKind::Created { name, space: false, parent: Some(p) } => {
            return Some(format!("* created the room {name} in {p}"));
        }
        DeliveryKind::Created { name, space: false, parent: None } => {
            return Some(format!("* created the room {name}"));
        }
        DeliveryKind::Invited { room, user } => return Some(format!("* invited {user} to {room}")),
        DeliveryKind::Topic { .. } => return None,
    };
    let text = delivery.text().unwrap_or_default();
    let mut lines = text.lines();
    let mut out = format!("{prefix} {}", lines.next().unwrap_or(""));
    for line in lines {
        out.push_str("\n    ");
        out.push_str(line);
    }
    Some(out)
}

/// Splits `user@room: message`.
///
/// # Errors
/// A message saying the expected form.
pub fn split_message_line(line: &str) -> Result<(&str, &str, &str), String> {
    let usage = || {
        "write messages as `user@room: message` (room: a course, lobby or dm; `user@room/week 2: message` in a thread)"
            .to_owned()
    };
    let (who, text) = line.split_once(':').ok_or_else(usage)?;
    let (user, room) = who.trim().split_once('@').ok_or_else(usage)?;
    Ok((user.trim(), room.trim(), text.strip_prefix(' ').unwrap_or(text)))
}

/// `3d`, `12h`, `30m`, `45s`.
pub fn parse_duration(text: &str) -> Option<Duration> {
    let (number, unit) = text.split_at(text.find(|c: char| !c.is_ascii_digit())?);
    let n: i64 = number.parse().ok()?;
    if n > 3650 * 24 * 3600 {
        return None;
    }
    match unit {
        "d" => Some(Duration::days(n)),
        "h" => Some(Duration::hours(n)),
        "m" => Some(Duration::minutes(n)),
        "s" => Some(Duration::seconds(n)),
        _ => None,
    }
}
