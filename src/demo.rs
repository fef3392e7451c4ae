//! `facilitator demo`: one course cycle played through the console, start to finish.

use std::io::Write;

use anyhow::Result;
use chrono::{DateTime, Utc};

use facilitator_storage::Store;

use crate::console::Console;
use crate::engine::Admins;

/// When the demo's clock starts: Monday 19 October 2026, 08:30 in Berlin.
pub const START: &str = "2026-10-19T06:30:00Z";

/// The script: an organizer, six learners, a three-week syllabus, late and revised work, and
/// some wrong commands.
pub const SCRIPT: &str = r#"# The School of Data runs its first course. olga is a bot admin.
olga@lobby: !course new data-101 "Intro to Data" school="School of Data" weeks=3 tz=Europe/Berlin deadline=4d
olga@data-101: !syllabus load\
# Intro to Data\
Three weeks of working with open data, learning from each other.\
\
## Week 1: Finding data\
Find an open dataset about the place you live and describe what it holds and who made it.\
- [Open Data Handbook](https://opendatahandbook.org/guide/en/)\
- https://data.europa.eu/en\
\
### Review\
- Is the source of the dataset clear?\
- What question could this dataset answer?\
\
## Week 2: Cleaning data\
Clean your dataset: fix types, handle missing values, and write down every step you took.\
- [Data cleaning with OpenRefine](https://openrefine.org/docs)\
\
### Review\
- Could you repeat the cleaning from the notes?\
\
## Week 3: Telling a story\
Make one chart that answers a question about your data, and explain it in a paragraph.\
- [Data visualisation catalogue](https://datavizcatalogue.com/)\
\
### Review\
- Does the chart answer the question?
# Learners arrive.
ana@lobby: !courses
ana@lobby: !join data-101
ben@lobby: !join data-101
chen@lobby: !join data-101
dara@lobby: !jion data-101
dara@lobby: !join data-101
eli@lobby: !join data-101
chen@dm: !tz America/Sao_Paulo
ben@data-101: !course pause
# Week 1 is posted at 09:00 Berlin time.
/advance 1h
ana@data-101: !submit https://example.org/ana/berlin-trees
ben@data-101: !submit My dataset is the city's bike counters, published by the transport office.
chen@data-101: !submit week 4 https://example.org/chen
chen@data-101: !submit https://example.org/chen/rio-buses
ana@data-101: !submit https://example.org/ana/berlin-trees-v2
eli@data-101: !submit
/advance 4d
# The week 1 deadline has passed.
dara@data-101: !submit https://example.org/dara/late-but-here
olga@data-101: !status
# Week 2 opens on Monday (after the clocks went back on Sunday, still at 09:00 in Berlin).
# fay joins late and is welcomed with the current week.
/advance 74h
fay@lobby: !join data-101
ana@data-101: !submit https://example.org/ana/cleaning-notes
ben@data-101: !submit week 2 https://example.org/ben/cleaning
fay@data-101: !submit https://example.org/fay/first-steps
chen@data-101: !progress
# Week 3.
/advance 7d
ana@data-101: !submit https://example.org/ana/chart
eli@data-101: !submit https://example.org/eli/chart
dara@data-101: !submit https://example.org/dara/chart
/advance 4d
olga@data-101: !status
ana@data-101: !progress
olga@data-101: !course end
"#;

/// What the demo did, for its last line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    /// Weeks in the course(s).
    pub weeks: u32,
    /// Prompts posted.
    pub prompts: usize,
    /// Submissions (pieces of work, revisions not counted).
    pub submissions: usize,
    /// Reviews written.
    pub reviews: usize,
    /// Badges awarded.
    pub badges: usize,
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "demo: {} weeks, {} prompts posted, {} submissions, {} reviews, {} badges",
            self.weeks, self.prompts, self.submissions, self.reviews, self.badges
        )
    }
}

/// Plays the script on `store`, writing the transcript to `out`.
///
/// # Errors
/// On a storage failure.
pub async fn play<W: Write>(store: Store, out: W) -> Result<(Summary, W)> {
    let start: DateTime<Utc> = START.parse().expect("a valid start time");
    let mut console = Console::new(store, Admins::new(["olga".to_owned()]), start, out).await?;
    console.set_echo(true);
    console.run(SCRIPT.as_bytes()).await?;
    let state = console.engine().state();
    let summary = Summary {
        weeks: state.courses.values().map(|c| c.settings.weeks).sum(),
        prompts: state.courses.values().map(|c| c.opened.len()).sum(),
        submissions: state.courses.values().map(|c| c.submissions.len()).sum(),
        // Reviews and badges arrive with peer review; the state has none to count yet.
        reviews: 0,
        badges: 0,
    };
    writeln!(console.out(), "{summary}")?;
    let out = console.into_out();
    Ok((summary, out))
}
