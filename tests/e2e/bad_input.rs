//! The bad-input catalogue: hostile and malformed messages, each answered with a clear reply
//! saying what is wrong, and none changing what is stored.

use facilitator_bot::command::{self, Audience, COMMANDS};

use crate::harness::Harness;

/// (who@room, message, a fragment the reply must contain)
fn catalogue() -> Vec<(&'static str, String, &'static str)> {
    let s = |x: &str| x.to_owned();
    vec![
        ("ana@lobby", s("!frobnicate"), "don't know the command"),
        ("ana@lobby", s("!"), "empty command"),
        ("ana@lobby", s("!sumbit x"), "Did you mean `!submit`"),
        ("ana@lobby", s("!join"), "Which course?"),
        ("ana@lobby", s("!join data-101 data-102"), "one course at a time"),
        ("ana@lobby", s("!join nope-404"), "There is no course"),
        ("ana@lobby", s("!join DATA-101"), "not a course name"),
        ("ana@lobby", s("!join data-101"), "already in"),
        ("ana@lobby", s("!courses please"), "takes no arguments"),
        ("olga@lobby", s("!course new x1 \"T\" start=2026-02-30"), "YYYY-MM-DD"),
        ("olga@lobby", s("!course new x1 \"T\" start=2020-01-01"), "in the past"),
        ("olga@lobby", s("!course new x1 \"T\" start=2099-01-01"), "more than two years"),
        ("olga@lobby", s("!course new x1 \"T\" tz=Mars/Olympus_Mons"), "not a time zone"),
        ("olga@lobby", s("!course new x1 \"T\" tz=europe/berlin"), "did you mean Europe/Berlin"),
        ("olga@lobby", s("!course new x1 \"T\" prompt=\"61 9 * * Mon\""), "not a valid schedule"),
        ("olga@lobby", s("!course new x1 \"T\" prompt=\"0 9 * *\""), "5 fields"),
        ("olga@lobby", s("!course new x1 \"T\" prompt=\"0 9 30 2 *\""), "never fires"),
        ("olga@lobby", s("!course new x1 \"Unclosed title"), "quote is not closed"),
        ("olga@lobby", s("!course new data-101 \"Again\""), "already exists"),
        ("olga@lobby", s("!course new x1 \"T\" weeks=0"), "weeks must be a number"),
        ("olga@lobby", s("!course new x1 \"T\" weeks=2 weeks=3"), "given twice"),
        ("olga@lobby", s("!course new x1 \"T\" colour=blue"), "not a course setting"),
        ("olga@lobby", s("!course new x1"), "needs a title"),
        ("olga@lobby", s("!course new x1 Two Words"), "put the title in quotes"),
        ("olga@lobby", format!("!course new x1 \"{}\"", "t".repeat(200)), "title is too long"),
        ("ana@lobby", s("!course new x1 \"T\""), "Only bot admins"),
        ("ana@data-101", s("!course pause"), "Only organizers of `data-101` (or bot admins)"),
        ("ana@data-101", s("!organizer add @ben"), "Only organizers"),
        ("ana@data-101", s("!status"), "Only organizers"),
        ("ben@data-101", s("!submit https://example.org/b"), "not in `data-101` yet"),
        ("ben@data-101", s("!syllabus"), "join the course first"),
        ("ana@lobby", s("!submit https://example.org/a"), "course's room"),
        ("ana@dm", s("!status"), "course's room"),
        ("olga@data-101", s("!submit https://example.org/o"), "only learners submit"),
        ("ana@data-101", s("!submit week 9 x"), "there is no week 9"),
        ("ana@data-101", s("!submit week 3 x"), "hasn't started yet"),
        ("ana@data-101", s("!submit week zero x"), "not a week number"),
        ("ana@data-101", s("!submit week"), "which week"),
        ("ana@data-101", s("!submit"), "nothing to submit"),
        ("ana@data-101", s("!submit \u{200B}\u{200B}"), "only invisible characters"),
        ("ana@data-101", format!("!submit {}", "x".repeat(100 * 1024)), "too long"),
        ("ana@lobby", s("!jo\u{200B}in data-101"), "invisible character"),
        ("ben@lobby", s("!join data\u{200B}-101"), "invisible character"),
        ("ben@lobby", s("!join \u{202E}101-atad"), "invisible character"),
        ("ben@lobby", s("!join <script>alert(1)</script>"), "not a course name"),
        ("ben@lobby", s("!help <img/src=x/onerror=alert(1)>"), "no command"),
        ("ben@lobby", s("!join data-101';--"), "not a course name"),
        ("ben@lobby", s("!join x' OR '1'='1"), "one course at a time"),
        ("ana@lobby", s("!tz Not/AZone"), "not a time zone"),
        ("ana@lobby", s("!tz Europe/Berlin Asia/Tokyo"), "one time zone"),
        ("olga@data-101", s("!course set"), "what should change"),
        ("olga@data-101", s("!course set weeks=1"), "syllabus has 3 weeks"),
        ("olga@data-101", s("!course set deadline=forever"), "not a duration"),
        ("olga@data-101", s("!course set start=2026-11-30"), "already started"),
        ("olga@data-101", s("!course set prompt=\"every monday\""), "5 fields"),
        ("olga@data-101", s("!course resume"), "not paused"),
        ("olga@data-101", s("!course frobnicate"), "not a course subcommand"),
        ("olga@data-101", s("!syllabus load\n# T\n## Week 2: x\ny"), "line 2"),
        (
            "olga@data-101",
            s("!syllabus load\n# T\n## Week 1: a\nsee [x](javascript:alert(1))"),
            "must start with https://",
        ),
        ("olga@data-101", s("!syllabus load"), "put the syllabus Markdown"),
        ("ana@data-101", s("!syllabus load\n# T\n## Week 1: a\nx"), "Only organizers"),
        ("ana@data-101", s("!syllabus load\n# T\n## Week 3: x\ny"), "Only organizers"),
        ("ana@data-101", s("!syllabus load"), "Only organizers"),
        ("ana@data-101", s("!syllabus 7"), "no week 7"),
        ("olga@data-101", s("!organizer add"), "name the person"),
        ("olga@data-101", s("!organizer add @ana @ben"), "one person at a time"),
        ("olga@data-101", s("!organizer add @bad!name"), "can't tell who"),
        ("olga@data-101", s("!organizer remove @olga"), "at least one organizer"),
        ("olga@data-101", s("!organizer promote @ana"), "add or remove"),
        ("olga@data-101", s("!mentor remove @ana"), "is not a mentor"),
        ("olga@lobby", s("!organizer add @ana"), "course's room"),
        ("ana@lobby", s("!leave data-102"), "There is no course"),
        ("ben@lobby", s("!leave data-101"), "not in"),
        ("olga@lobby", s("!leave data-101"), "only organizer"),
        ("ana@lobby", s("!help nosuch"), "no command"),
        ("ana@lobby", s("!course"), "needs a subcommand"),
        ("ana@dm", s("!review"), "which assignment"),
        ("ana@dm", s("!review abc Looks good"), "not an assignment number"),
        ("ana@dm", s("!review 5"), "write your feedback"),
        ("ana@dm", s("!review 5 Good score=7"), "not a score"),
        ("ana@dm", s("!review 999 Good"), "no assignment #999"),
        ("ana@dm", s("!reviews please"), "not an option"),
        ("ana@dm", s("!reviews more nope-1"), "no course"),
        ("ana@data-101", s("!reviews more"), "no more week 1 work"),
        ("ana@data-101", s("!pair"), "Only organizers"),
        ("olga@data-101", s("!pair week 3"), "hasn't started"),
        ("olga@lobby", s("!pair"), "course's room"),
        ("olga@data-101", s("!badge award @ana nosuch"), "has no badge called"),
        ("olga@data-101", s("!badge"), "needs a subcommand: nominate, award, revoke or email"),
        ("ana@dm", s("!badge email ana"), "has an @"),
        ("ana@dm", s("!badge email ana@example.org ben@example.org"), "one email address"),
        ("ana@data-101", s("!badge email ana@example.org"), "tell me in a direct message"),
        ("ana@lobby", s("!profile sometimes"), "say `public` or `private`"),
        ("ana@lobby", s("!dashboard please"), "`!dashboard logout` to sign out"),
        ("ana@dm", s("!dashboard"), "Only organizers, mentors and bot admins have a dashboard"),
        ("olga@data-101", s("!course set public=maybe"), "yes or no"),
        ("ana@data-101", s("!badge revoke @cleo helper rude"), "Only the course's organizers can revoke badges"),
        ("olga@data-101", s("!badge revoke @ana helper"), "say why"),
        ("olga@data-101", s("!badge revoke @ana helper not earned"), "does not hold the `helper` badge here"),
        ("ana@data-101", s("!badge nominate @olga helper"), "say why"),
        ("ana@data-101", s("!badges @bad!name"), "can't tell who"),
        ("olga@data-101", s("!course set reviews=9"), "reviews must be"),
        ("olga@data-101", s("!course set anonymous=maybe"), "yes or no"),
        ("olga@data-101", s("!course set lease=10s"), "at least a minute"),
        ("ana@lobby", s("!ping now"), "takes no arguments"),
        ("ana@lobby", s("!progress everyone"), "takes no arguments"),
        ("ana@data-101", s("!course end"), "Only organizers"),
        ("ana@data-101", s("!course resume"), "Only organizers"),
        ("ana@data-101", s("!course set weeks=4"), "Only organizers"),
        ("olga@data-101", s("!course end now"), "takes no arguments"),
        ("ana@data-101", s("!mentor add @ana"), "Only organizers"),
        ("ana@data-101", s("!badge award @ana helper"), "only organizers and people who hold it"),
        ("ben@data-101", s("!badge nominate @ana kind Always helps"), "only members"),
        ("ben@lobby", s("!reviews more data-101"), "only learners and mentors"),
        ("olga@dm", s("!review 1 Looks good"), "isn't yours"),
        ("ana@lobby", s("!syllabus"), "course's room"),
        // What a hostile member found (issue: trust).
        ("ana@data-101", s("!submit \u{0}\u{0}\u{7}"), "only invisible characters"),
        ("olga@lobby", s("!course new x1 \"\u{3164}\""), "invisible character"),
        ("olga@lobby", s("!course new x1 \"Intro\u{E0041}\""), "invisible character"),
        ("olga@data-101", s("!course set title=\"A\u{061C}B\""), "invisible character"),
        ("olga@data-101", s("!course set school=\"Data\u{2800}\""), "not a usable school name"),
        ("olga@data-101", s("!mentor add @olga"), "only organizer"),
        (
            "olga@data-101",
            format!("!syllabus load\n# Long\n{}", (1..=53).map(|w| format!("## Week {w}: w\nx\n")).collect::<String>()),
            "at most 52 weeks",
        ),
    ]
}

/// The command a catalogue message is about, as the parser reads it.
fn command_of(text: &str) -> Option<&'static str> {
    match command::parse(text)? {
        Ok(cmd) => Some(cmd.name()),
        Err(e) => e.command,
    }
}

/// A refusal that says who may do it (or that the asker first has to join).
fn is_permission(expected: &str) -> bool {
    let expected = expected.to_lowercase();
    expected.starts_with("only ")
        || expected.contains(" only ")
        || expected.contains("isn't yours")
        || expected.contains("join the course first")
}

#[test]
fn the_catalogue_has_a_bad_input_for_every_command_and_a_permission_case_for_every_restricted_one() {
    let entries = catalogue();
    let mut missing = Vec::new();
    for spec in COMMANDS {
        let mine: Vec<&(&str, String, &str)> =
            entries.iter().filter(|(_, text, _)| command_of(text) == Some(spec.name)).collect();
        if mine.is_empty() {
            missing.push(format!("`!{}` has no bad input", spec.name));
        }
        if spec.audience != Audience::Everyone && !mine.iter().any(|(_, _, expected)| is_permission(expected)) {
            missing.push(format!("`!{}` ({:?}) has no permission case", spec.name, spec.audience));
        }
    }
    assert!(missing.is_empty(), "{}", missing.join("\n"));
}

/// The course of the catalogue: its syllabus defines badges, olga organizes it, ana and cleo are learners whose week 1 work
/// has been paired (so assignments exist), ben is a stranger.
async fn catalogue_course() -> Harness {
    let mut h = Harness::with_course().await;
    let badges = "\n## Badges\n### Helper\n- slug: helper\n- earned: by holders\nHelps others.\n\n### Kind\n- slug: kind\n- earned: by 2 nominations\nKind to peers.\n";
    h.say(&format!("olga@data-101: !syllabus load\n{}{badges}", crate::harness::SYLLABUS)).await;
    h.say("cleo@lobby: !join data-101").await;
    h.say("ana@data-101: !submit https://example.org/ana").await;
    h.say("cleo@data-101: !submit https://example.org/cleo").await;
    h.say("olga@data-101: !pair").await;
    h
}

#[tokio::test]
async fn every_bad_input_gets_a_clear_reply_and_changes_nothing() {
    let mut h = catalogue_course().await;
    let state_before = h.state().clone();
    let counts_before = h.table_counts().await;
    let entries = catalogue();
    assert!(entries.len() >= 30);
    let mut problems = Vec::new();
    for (who, text, expected) in entries {
        let out = h.say(&format!("{who}: {text}")).await;
        let shown: String = text.chars().take(60).collect();
        if !out.contains("⚠️") || !out.to_lowercase().contains(&expected.to_lowercase()) || out.lines().count() > 6
        {
            problems.push(format!("{who}: {shown:?} should say {expected:?}, said: {out}"));
        }
        assert_eq!(h.state(), &state_before, "state changed after {shown:?}");
        assert_eq!(h.store.load_state().await.unwrap(), state_before, "stored state changed after {shown:?}");
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert_eq!(h.table_counts().await, counts_before);
}

#[tokio::test]
async fn markup_from_users_is_passed_through_as_text_not_interpreted() {
    let mut h = Harness::with_course().await;
    let out = h.say("ben@lobby: !join <b>x</b>").await;
    // The memory platform shows text as it is; what matters is that it reached the adapter as
    // user text (escaped by Matrix and Discord), not as the bot's own Markdown.
    assert!(out.contains("'<b>x</b>'"), "{out}");
}
