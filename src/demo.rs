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
pub const SCRIPT: &str = r#"# The School of Data runs its first course. olga is a bot admin; mia is a mentor.
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
- Does the chart answer the question?\
\
## Badges\
### Finisher\
Submitted two weeks of work and reviewed two peers.\
- earned: weeks >= 2, reviews >= 2\
### Helpful Peer\
Reviews that others found especially useful.\
- earned: by 2 nominations\
### Data Cleaner\
A cleaning log others could follow step by step.\
- earned: by holders
olga@data-101: !mentor add @mia
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
dara@data-101: !submit https://example.org/dara/lisbon-air
ana@data-101: !submit https://example.org/ana/berlin-trees-v2
eli@data-101: !submit
# The deadline passes on Friday at 09:00: reviewers are paired and get their assignments by DM.
/advance 4d
eli@data-101: !submit https://example.org/eli/late-but-here
ana@dm: !reviews
ana@dm: !review 3 The bike counters are a great pick; say which years they cover. score=4
ana@dm: !review 3 The bike counters are a great pick; say which years and stations they cover. score=5
ana@dm: !review 7 Good, but which pollutants are included? score=3
chen@dm: !review 2 Clear source and a good question. The licence is worth a sentence. score=4
chen@dm: !review 8 Lisbon's air data is rich; a map would help.
chen@dm: !review 10 A start: name the publisher and the years.
dara@dm: !review 4 Nice choice; the counters' locations matter for any question. score=4
ben@dm: !review 4 Nice
dara@dm: !review 6 Rio's bus data is rich; a map would help. score=4
# Saturday: a reminder to ben, who has reviewed nothing. Sunday 09:00 (after the clocks went
# back): the work still short of two reviews goes to the mentor.
/advance 49h
mia@dm: !reviews
mia@dm: !review 11 As a mentor: solid start; add the publisher and how often the data is updated. score=4
olga@data-101: !status
# Week 2 opens on Monday (after the clocks went back on Sunday, still at 09:00 in Berlin).
# fay joins late and is welcomed with the current week.
/advance 1d
fay@lobby: !join data-101
ana@data-101: !submit https://example.org/ana/cleaning-notes
ben@data-101: !submit week 2 https://example.org/ben/cleaning
chen@data-101: !submit https://example.org/chen/cleaning-log
fay@data-101: !submit https://example.org/fay/first-steps
olga@data-101: !pair
chen@dm: !reviews
ana@dm: !review 16 Every step is there; I could redo it. score=5
ana@dm: !review 20 Clear first steps; say where the raw file lives.
dara@data-101: !badge nominate @ana helpful-peer Her review changed how I describe sources.
chen@data-101: !badge nominate @ana helpful-peer Precise and kind.
ben@data-101: !badge award @chen data-cleaner
olga@data-101: !badge award @chen data-cleaner A log anyone can follow.
chen@data-101: !badge award @ana data-cleaner Her notes are reproducible.
# Week 3.
/advance 7d
ana@data-101: !submit https://example.org/ana/chart
eli@data-101: !submit https://example.org/eli/chart
/advance 4d
olga@data-101: !status
ana@data-101: !progress
ana@data-101: !badges
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
    // A fixed seed: the demo pairs the same reviewers every time, so its transcript can name
    // assignment numbers.
    console.set_entropy(crate::engine::Entropy::seeded(2026));
    console.run(SCRIPT.as_bytes()).await?;
    let state = console.engine().state();
    let summary = Summary {
        weeks: state.courses.values().map(|c| c.settings.weeks).sum(),
        prompts: state.courses.values().map(|c| c.opened.len()).sum(),
        submissions: state.courses.values().map(|c| c.submissions.len()).sum(),
        reviews: state.courses.values().map(|c| c.reviews.len()).sum(),
        badges: state.courses.values().map(|c| c.awards.len()).sum(),
    };
    writeln!(console.out(), "{summary}")?;
    let out = console.into_out();
    Ok((summary, out))
}
