//! The parser, command by command, and the catalogue's own checks.

use super::badge_award::BadgeAward;
use super::badge_email::BadgeEmail;
use super::course_new::CourseNew;
use super::organizer::Organizer;
use super::review::Review;
use super::submit::Submit;
use super::syllabus_load::SyllabusLoad;
use super::*;
use crate::ids::{AssignmentId, Slug};
use crate::schedule::Offset;
use crate::syllabus;

fn ok(text: &str) -> Command {
    parse(text).expect("a command").expect("parses")
}
fn bad(text: &str) -> CommandError {
    parse(text).expect("a command").expect_err("refused")
}

#[test]
fn plain_chat_is_not_a_command() {
    assert!(parse("hello everyone").is_none());
}

#[test]
fn course_new_takes_a_quoted_title_and_settings() {
    let Command::CourseNew(CourseNew { slug, settings }) = ok(
        "!course new data-101 \"Intro to Data\" school=\"School of Data\" weeks=3 tz=Europe/Berlin prompt=\"0 9 * * Mon\" deadline=4d",
    ) else {
        panic!("wrong command")
    };
    assert_eq!(slug.as_str(), "data-101");
    assert_eq!(settings.title.as_deref(), Some("Intro to Data"));
    assert_eq!(settings.school.as_deref(), Some("School of Data"));
    assert_eq!(settings.weeks, Some(3));
    assert_eq!(settings.deadline, Some(Offset::days(4)));
    assert_eq!(settings.prompt.unwrap().source(), "0 9 * * Mon");
}

#[test]
fn smart_quotes_work_like_straight_ones() {
    let Command::CourseNew(CourseNew { settings, .. }) = ok("!course new data-101 \u{201C}Intro to Data\u{201D}")
    else {
        panic!()
    };
    assert_eq!(settings.title.as_deref(), Some("Intro to Data"));
}

#[test]
fn submit_takes_an_optional_week_and_keeps_the_body_verbatim() {
    assert_eq!(
        ok("!submit https://x.org/a  b"),
        Command::Submit(Submit { week: None, body: "https://x.org/a  b".into() })
    );
    assert_eq!(ok("!submit week 2 my text"), Command::Submit(Submit { week: Some(2), body: "my text".into() }));
    assert!(bad("!submit").problem.contains("nothing to submit"));
    assert!(bad("!submit week x y").problem.contains("not a week number"));
    assert!(bad("!submit week 0 y").problem.contains("not a week number"));
}

#[test]
fn errors_carry_the_usage_line() {
    let e = bad("!join");
    assert_eq!(e.usage.as_deref(), Some("!join COURSE"));
    assert_eq!(e.command, Some("join"));
    let e = bad("!course new data-101 \"Intro");
    assert!(e.problem.contains("quote is not closed"));
    assert!(bad("!course new x1 T start=2026-13-01").problem.contains("YYYY-MM-DD"));
    assert!(bad("!course new x1 T tz=Mars/Base").problem.contains("Mars/Base"));
    assert!(bad("!course new x1 T prompt=\"0 9 * *\"").problem.contains("5 fields"));
    assert!(bad("!course new x1 T color=red").problem.contains("not a course setting"));
    assert!(bad("!course new x1 T weeks=2 weeks=3").problem.contains("twice"));
    assert!(bad("!courses please").problem.contains("no arguments"));
}

#[test]
fn unknown_commands_suggest_a_near_one() {
    let e = bad("!sumbit hi");
    assert!(e.problem.contains("`!submit`"), "{}", e.problem);
    assert!(bad("!").problem.contains("empty command"));
}

#[test]
fn every_command_in_the_catalogue_has_help_an_example_that_parses_to_it_and_a_slash_form() {
    let mut names = std::collections::BTreeSet::new();
    for spec in COMMANDS {
        assert!(names.insert(spec.name), "{} is in the catalogue twice", spec.name);
        assert!(spec.syntax.starts_with(&format!("!{}", spec.name)), "{}: {}", spec.name, spec.syntax);
        assert!(!spec.summary.is_empty() && !spec.who.is_empty(), "{} has a summary and says who", spec.name);
        // The summary is also the slash command's description (at most 100 characters there).
        assert!(spec.summary.chars().count() <= 100, "{}: summary too long for a slash form", spec.name);
        let parsed = ok(spec.example);
        assert_eq!(parsed.name(), spec.name, "the example of {} parses to it", spec.name);
        assert!(std::ptr::eq(parsed.spec(), *spec));
        // The slash form: typed arguments, required ones first, each described.
        let required: Vec<bool> = spec.args.iter().map(|a| a.required).collect();
        assert!(required.windows(2).all(|w| w[0] || !w[1]), "{}: a required argument after an optional one", spec.name);
        for arg in spec.args {
            assert!(
                !arg.name.is_empty() && arg.name.chars().all(|c| c.is_ascii_lowercase() || c == '-'),
                "{}: argument {:?}",
                spec.name,
                arg.name
            );
            assert!((1..=100).contains(&arg.description.chars().count()), "{}: {}", spec.name, arg.name);
        }
        for alias in spec.aliases {
            let text = spec.example.replacen(spec.name, alias, 1);
            assert_eq!(ok(&text).name(), spec.name, "the alias {alias} means {}", spec.name);
        }
    }
    assert_eq!(COMMANDS.len(), 28);
}

#[test]
fn a_group_word_alone_or_with_an_unknown_subcommand_lists_the_groups_commands() {
    let e = bad("!course");
    assert_eq!(e.problem, "`!course` needs a subcommand: pause, resume, end, set or new.");
    assert_eq!(e.usage.as_deref(), Some("!course pause|resume|end|set|new ..."));
    assert!(bad("!course frobnicate").problem.contains("'frobnicate' is not a course subcommand"));
    // `!syllabus` is a command by itself and the head of `!syllabus load`.
    assert_eq!(ok("!syllabus 2").name(), "syllabus");
    assert_eq!(ok("!syllabus LOAD\n# T\n## Week 1: a\nx").name(), "syllabus load");
}

#[test]
fn the_readme_command_table_is_the_catalogues() {
    let readme = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md"));
    let (start, end) =
        ("<!-- commands: generated from COMMANDS in bot/src/command/mod.rs -->\n", "<!-- commands end -->");
    let from = readme.find(start).expect("the README marks its command table") + start.len();
    let to = readme[from..].find(end).expect("the README ends its command table") + from;
    assert_eq!(
        readme[from..to],
        markdown_table(),
        "the README's command table is stale; replace it with:\n{}",
        markdown_table()
    );
}

#[test]
fn long_messages_are_refused_except_syllabus_loads() {
    let long = format!("!submit {}", "x".repeat(MAX_COMMAND_CHARS));
    assert!(bad(&long).problem.contains("too long"));
    let syllabus = format!("!syllabus load\n# T\n## Week 1: a\n{}", "x".repeat(10_000));
    assert!(matches!(ok(&syllabus), Command::SyllabusLoad(SyllabusLoad { syllabus: Ok(_) })));
    let too_long = format!("!syllabus load\n# T\n## Week 1: a\n{}", "x".repeat(syllabus::MAX_BYTES));
    let Command::SyllabusLoad(SyllabusLoad { syllabus: Err(e) }) = ok(&too_long) else { panic!("a syllabus load") };
    assert!(e.contains("at most 65536 bytes"), "{e}");
    let far_too_long = format!("{too_long}{}", "x".repeat(1_000));
    let Command::SyllabusLoad(SyllabusLoad { syllabus: Err(e) }) = ok(&far_too_long) else { panic!("a syllabus load") };
    assert!(e.contains("too long"), "{e}");
}

#[test]
fn syllabus_load_reports_the_line() {
    let Command::SyllabusLoad(SyllabusLoad { syllabus: Err(e) }) = ok("!syllabus load\n# T\n## Week 3: x\ny") else {
        panic!("a syllabus load whose syllabus is wrong")
    };
    assert!(e.contains("line 2"), "{e}");
}

#[test]
fn reviews_take_an_id_feedback_and_an_optional_score() {
    assert_eq!(
        ok("!review #12 Clear. score=4"),
        Command::Review(Review { id: AssignmentId(12), feedback: "Clear.".into(), score: Some(4) })
    );
    assert_eq!(
        ok("!review 3 score=5 Great"),
        Command::Review(Review { id: AssignmentId(3), feedback: "Great".into(), score: Some(5) })
    );
    assert_eq!(
        ok("!review 3 Fine"),
        Command::Review(Review { id: AssignmentId(3), feedback: "Fine".into(), score: None })
    );
    assert!(bad("!review 3 ok score=9").problem.contains("not a score"));
    assert!(bad("!review x ok").problem.contains("not an assignment number"));
    assert!(bad("!review 3").problem.contains("write your feedback"));
    assert!(bad("!review 3 score=4").problem.contains("write your feedback"));
}

#[test]
fn badge_commands_name_a_person_and_a_badge() {
    assert_eq!(
        ok("!badge award @ana finisher for all of it"),
        Command::BadgeAward(BadgeAward {
            user: Mention("@ana".into()),
            badge: Slug::parse("finisher").unwrap(),
            reason: Some("for all of it".into())
        })
    );
    assert!(bad("!badge nominate @ana helper").problem.contains("say why"));
    assert!(bad("!badge give @ana x").problem.contains("not a badge subcommand: use nominate, award, revoke or email"));
    assert!(bad("!badge revoke @ana finisher").problem.contains("say why"));
    assert_eq!(ok("!badge revoke @ana finisher copied").name(), "badge revoke");
    assert!(bad("!badge award @ana").problem.contains("which badge"));
    assert_eq!(
        ok("!badge email Ana@Example.org"),
        Command::BadgeEmail(BadgeEmail { email: Some(crate::ids::Email::parse("ana@example.org").unwrap()) })
    );
    assert_eq!(ok("!badge email off"), Command::BadgeEmail(BadgeEmail { email: None }));
    assert!(bad("!badge email ana").problem.contains("has an @"));
    assert!(bad("!badge email").problem.contains("give the email address"));
}

#[test]
fn roles_take_one_mention() {
    assert_eq!(
        ok("!organizer add @bo"),
        Command::Organizer(Organizer { action: RoleAction::Add, user: Mention("@bo".into()) })
    );
    assert!(bad("!organizer promote @bo").problem.contains("add or remove"));
    assert!(bad("!mentor add").problem.contains("name the person"));
}

#[test]
fn control_characters_and_direction_overrides_are_stripped_from_free_text() {
    let Command::Submit(Submit { body, .. }) = ok("!submit https://example.org/a\u{0}b\u{202E}c\r\nnext\u{7}") else {
        panic!()
    };
    assert_eq!(body, "https://example.org/abc\nnext");
    let Command::Review(Review { feedback, .. }) = ok("!review 3 Good\u{0} work\u{1b}[31m") else { panic!() };
    assert_eq!(feedback, "Good work[31m");
    let Command::BadgeAward(BadgeAward { reason, .. }) = ok("!badge award @ana finisher well\u{0} done") else {
        panic!()
    };
    assert_eq!(reason.as_deref(), Some("well done"));
    assert!(parse("!submit \u{0}\u{0}").unwrap().is_err(), "nothing left to submit");
}

#[test]
fn titles_with_blank_letters_tags_or_letter_marks_are_refused() {
    for title in ["\u{3164}", "Intro\u{E0041}", "A\u{061C}B", "\u{2800}x", "x\u{115F}"] {
        let err = parse(&format!("!course new data-101 \"{title}\"")).unwrap().unwrap_err();
        assert!(err.problem.contains("invisible"), "{title:?}: {}", err.problem);
        let err = parse(&format!("!course set title=\"{title}\"")).unwrap().unwrap_err();
        assert!(err.problem.contains("invisible"), "{title:?}: {}", err.problem);
    }
    let err = parse("!course set school=\"Data\u{3164}\"").unwrap().unwrap_err();
    assert!(err.problem.contains("school name"), "{}", err.problem);
}
