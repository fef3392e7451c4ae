//! A console on a SQLite file, driven line by line, with the output of each line returned.

use chrono::{DateTime, Utc};
use facilitator::console::Console;
use facilitator::engine::Admins;
use facilitator_bot::State;
use facilitator_storage::Store;

pub const SYLLABUS: &str = "# Intro to Data\nThree weeks of open data.\n\n## Week 1: Finding data\nFind an open dataset.\n- [Handbook](https://opendatahandbook.org/guide/en/)\n\n### Review\n- Is the source clear?\n\n## Week 2: Cleaning data\nClean it.\n\n## Week 3: Telling a story\nMake a chart.\n";

pub struct Harness {
    pub console: Console<Vec<u8>>,
    pub store: Store,
    pub url: String,
    _dir: Option<tempfile::TempDir>,
    seen: usize,
}

impl Harness {
    pub async fn new(now: &str) -> Harness {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("test.db").display());
        let mut h = Harness::open(&url, now).await;
        h._dir = Some(dir);
        h
    }

    pub async fn open(url: &str, now: &str) -> Harness {
        let store = Store::open(url).await.unwrap();
        let now: DateTime<Utc> = now.parse().unwrap();
        let console = Console::new(store.clone(), Admins::new(["olga".to_owned()]), now, Vec::new()).await.unwrap();
        let mut h = Harness { console, store, url: url.to_owned(), _dir: None, seen: 0 };
        h.seen = h.console.out().len();
        h
    }

    /// What the console printed while opening (effects and jobs left from before a restart).
    pub fn startup_output(&mut self) -> String {
        let out = String::from_utf8_lossy(self.console.out()).into_owned();
        out[..self.seen].to_owned()
    }

    /// Sends one input (a message or a console command) and returns what it printed.
    pub async fn say(&mut self, line: &str) -> String {
        self.console.line(line).await.unwrap();
        let out = String::from_utf8_lossy(self.console.out()).into_owned();
        let new = out[self.seen..].to_owned();
        self.seen = out.len();
        new
    }

    /// A course `data-101` with a three-week syllabus, organizer olga, learner ana, in week 1.
    pub async fn with_course() -> Harness {
        let mut h = Harness::new("2026-10-19T08:00:00Z").await;
        h.say("olga@lobby: !course new data-101 \"Intro to Data\" school=\"School of Data\" weeks=3").await;
        h.say(&format!("olga@data-101: !syllabus load\n{SYLLABUS}")).await;
        h.say("ana@lobby: !join data-101").await;
        h.say("/advance 2h").await;
        h
    }

    /// Keeps the database directory alive after the harness is dropped (to reopen it).
    pub fn _dir_handle(&mut self) -> Option<tempfile::TempDir> {
        self._dir.take()
    }

    pub fn state(&self) -> &State {
        self.console.engine().state()
    }

    /// Row counts of the tables that hold the community's state.
    pub async fn table_counts(&self) -> Vec<(String, i64)> {
        let mut out = Vec::new();
        for table in [
            "persons",
            "accounts",
            "schools",
            "courses",
            "members",
            "syllabi",
            "weeks",
            "submissions",
            "submission_revisions",
            "jobs",
            "rooms",
            "awards",
            "nominations",
            "revocations",
        ] {
            let sql = format!("SELECT COUNT(*) AS n FROM {table}");
            let n: i64 =
                sqlx::Row::get(&sqlx::query(sqlx::AssertSqlSafe(sql)).fetch_one(self.store.pool()).await.unwrap(), "n");
            out.push((table.to_owned(), n));
        }
        out
    }
}
