//! Peer review and badges end to end, on the local adapter with the virtual clock.

use facilitator_bot::state::{AssignmentStatus, ReviewerRole};
use facilitator_bot::{CourseId, PersonId};

use crate::harness::Harness;

const SYLLABUS: &str = "# Intro\n## Week 1: One\nDo one.\n### Review\n- Is it clear?\n## Week 2: Two\nDo two.\n## Week 3: Three\nDo three.\n\
## Badges\n### Starter\n- earned: weeks >= 1\n### Reviewer\n- earned: reviews >= 2\n### Cleaner\n- earned: by organizer\n### Expert\n- earned: by holders\n### Helper\n- earned: by 2 nominations\n";

/// `data-101` (k = 2) with organizer olga, mentor mia and the given learners, in week 1
/// (Monday 2026-10-19 10:00 UTC; the deadline is Saturday 09:00, reviews are due Monday 09:00).
async fn course(learners: &[&str]) -> Harness {
    let mut h = Harness::new("2026-10-19T08:00:00Z").await;
    h.console.set_entropy(facilitator::engine::Entropy::seeded(11));
    h.say("olga@lobby: !course new data-101 \"Intro\" weeks=3").await;
    h.say(&format!("olga@data-101: !syllabus load\n{SYLLABUS}")).await;
    h.say("olga@data-101: !mentor add @mia").await;
    for l in learners {
        h.say(&format!("{l}@lobby: !join data-101")).await;
    }
    h.say("/advance 2h").await;
    h
}

fn person(h: &Harness, name: &str) -> PersonId {
    let account = facilitator_bot::Account { platform: "memory".into(), handle: name.into() };
    h.state().accounts[&account]
}

fn assignments_of(h: &Harness, reviewer: &str) -> Vec<facilitator_bot::ids::AssignmentId> {
    let p = person(h, reviewer);
    h.state().courses[&CourseId(1)].assignments.values().filter(|a| a.reviewer == p).map(|a| a.id).collect()
}

#[tokio::test]
async fn a_learner_with_no_peers_is_covered_by_a_mentor() {
    let mut h = course(&["ana", "ben"]).await;
    h.say("ana@data-101: !submit https://example.org/ana").await;
    let out = h.say("/advance 5d").await;
    assert!(out.contains("[dm mia] 📝 Review assignment **#1**"), "{out}");
    assert!(out.contains("Please review the work of @ana"), "{out}");
    assert!(out.contains("[dm olga] Pairing for `data-101` week 1: 1 submission, 0 peer reviews assigned"), "{out}");
    assert!(out.contains("Shortfall: 1 submission could not get 2 peer reviews"), "{out}");
    assert!(out.contains("• @ana → @mia"), "{out}");
    let c = &h.state().courses[&CourseId(1)];
    assert!(c.assignments.values().all(|a| a.role == ReviewerRole::Mentor && a.reviewer == person(&h, "mia")));
}

#[tokio::test]
async fn without_mentors_the_organizers_cover_and_the_report_says_so() {
    let mut h = Harness::new("2026-10-19T08:00:00Z").await;
    h.say("olga@lobby: !course new data-101 \"Intro\" weeks=3").await;
    h.say("ana@lobby: !join data-101").await;
    h.say("/advance 2h").await;
    h.say("ana@data-101: !submit https://example.org/ana").await;
    let out = h.say("/advance 5d").await;
    assert!(out.contains("[dm olga] 📝 Review assignment"), "{out}");
    assert!(out.contains("the course has no mentors, so organizers cover it"), "{out}");
}

#[tokio::test]
async fn every_submission_gets_k_reviews_from_balanced_peers_by_direct_message() {
    let mut h = course(&["ana", "ben", "chen", "dara", "eli"]).await;
    for l in ["ana", "ben", "chen", "dara", "eli"] {
        h.say(&format!("{l}@data-101: !submit https://example.org/{l}")).await;
    }
    let out = h.say("/advance 5d").await;
    assert_eq!(out.matches("📝 Review assignment").count(), 10, "{out}");
    assert!(
        out.contains(
            "5 submissions, 10 peer reviews assigned (each reviewer has 2), 0 repeat pairs and 0 reciprocal pairs"
        ),
        "{out}"
    );
    assert!(out.contains("Questions to answer:\n    • Is it clear?"), "{out}");
    let c = &h.state().courses[&CourseId(1)];
    for a in c.assignments.values() {
        assert_ne!(a.reviewer, a.author);
    }
    for l in ["ana", "ben", "chen", "dara", "eli"] {
        assert_eq!(assignments_of(&h, l).len(), 2);
    }
    // Pairing again changes nothing.
    let out = h.say("olga@data-101: !pair week 1").await;
    assert!(out.contains("⚠️ Week 1 was paired on"), "{out}");
    assert_eq!(h.state().courses[&CourseId(1)].assignments.len(), 10);
}

#[tokio::test]
async fn late_work_goes_to_the_least_loaded_peers_on_arrival() {
    let mut h = course(&["ana", "ben", "chen", "dara"]).await;
    for l in ["ana", "ben", "chen"] {
        h.say(&format!("{l}@data-101: !submit https://example.org/{l}")).await;
    }
    h.say("/advance 5d").await;
    let out = h.say("dara@data-101: !submit https://example.org/dara-late").await;
    assert!(out.contains("marked late"), "{out}");
    assert_eq!(out.matches("📝 Review assignment").count(), 2, "{out}");
    assert!(!out.contains("[dm dara] 📝"), "never the author: {out}");
    let loads: Vec<usize> = ["ana", "ben", "chen"].iter().map(|l| assignments_of(&h, l).len()).collect();
    assert!(loads.iter().max().unwrap() - loads.iter().min().unwrap() <= 1, "{loads:?}");
    // And a learner can ask for more.
    let out = h.say("dara@dm: !reviews more data-101").await;
    assert!(out.contains("I've sent you assignment"), "{out}");
    assert!(out.contains("[dm dara] 📝 Review assignment"), "{out}");
}

#[tokio::test]
async fn a_reviewer_who_never_reviews_is_reminded_then_escalated_to_the_mentor() {
    let mut h = course(&["ana", "ben", "chen"]).await;
    for l in ["ana", "ben", "chen"] {
        h.say(&format!("{l}@data-101: !submit https://example.org/{l}")).await;
    }
    h.say("/advance 5d").await;
    for l in ["ana", "chen"] {
        for id in assignments_of(&h, l) {
            let out = h.say(&format!("{l}@dm: !review {} Good work. score=4", id.0)).await;
            assert!(out.contains("recorded and sent to the author"), "{out}");
        }
    }
    // The review deadline is Monday 09:00; the reminder goes out a day before, to ben only.
    let out = h.say("/advance 1d").await;
    assert!(out.contains("[dm ben] ⏰ Reminder: 2 reviews waiting"), "{out}");
    assert!(!out.contains("[dm ana] ⏰") && !out.contains("[dm chen] ⏰"), "{out}");
    let out = h.say("/advance 1d").await;
    assert_eq!(out.matches("[dm mia] 📝 Review assignment").count(), 2, "{out}");
    assert!(
        out.contains(
            "[dm olga] Review deadline for `data-101` week 1: 2 submissions short of 2 reviews went to mentors"
        ),
        "{out}"
    );
    // Late reviews stay welcome: ben gets at most three reminders, a day apart, then no more;
    // ana and chen, with nothing open, get none.
    let out = h.say("/advance 20d").await;
    assert!(!out.contains("[dm ana] ⏰") && !out.contains("[dm chen] ⏰"), "{out}");
    let c = &h.state().courses[&CourseId(1)];
    let ben = person(&h, "ben");
    let bens: Vec<_> = c.assignments.values().filter(|a| a.reviewer == ben && a.week == 1).collect();
    assert_eq!(bens.len(), 2);
    for a in bens {
        assert_eq!((a.status, a.reminders), (AssignmentStatus::Open, 3), "{a:?}");
        assert_eq!(a.last_reminder, Some(a.due + chrono::Duration::days(1)), "a day apart: {a:?}");
    }
}

#[tokio::test]
async fn an_assignment_not_done_within_its_lease_is_handed_to_another_peer() {
    let mut h = course(&["ana", "ben", "chen", "dara", "eli"]).await;
    h.say("olga@data-101: !course set lease=1d").await;
    for l in ["ana", "ben", "chen", "dara", "eli"] {
        h.say(&format!("{l}@data-101: !submit https://example.org/{l}")).await;
    }
    h.say("/advance 5d").await;
    let bens = assignments_of(&h, "ben");
    for l in ["ana", "chen", "dara", "eli"] {
        for id in assignments_of(&h, l) {
            h.say(&format!("{l}@dm: !review {} Good.", id.0)).await;
        }
    }
    // The lease ends on Sunday 09:00, a day before the review deadline.
    let out = h.say("/advance 1d").await;
    assert_eq!(out.matches("📝 Review assignment").count(), 2, "{out}");
    assert!(!out.contains("[dm ben] 📝"), "{out}");
    let c = &h.state().courses[&CourseId(1)];
    for id in bens {
        let a = &c.assignments[&id];
        assert_eq!(a.status, AssignmentStatus::Expired);
        let replacement =
            c.assignments_of(a.submission).find(|x| x.id != id && x.assigned_at > a.assigned_at).expect("handed on");
        assert_ne!(replacement.reviewer, a.author);
    }
}

#[tokio::test]
async fn reviews_reach_the_author_and_a_second_review_is_a_revision() {
    let mut h = course(&["ana", "ben", "chen"]).await;
    for l in ["ana", "ben", "chen"] {
        h.say(&format!("{l}@data-101: !submit https://example.org/{l}")).await;
    }
    h.say("/advance 5d").await;
    let id = assignments_of(&h, "ana")[0];
    let author = h.state().courses[&CourseId(1)].assignments[&id].author;
    let author_name = h.state().persons[&author].name.clone();
    let out = h.say(&format!("ana@dm: !review {} Clear and sourced. score=5", id.0)).await;
    assert!(
        out.contains(&format!(
            "[dm {author_name}] 💬 New review of your week 1 work in `data-101` from @ana (score 5/5):"
        )),
        "{out}"
    );
    let out = h.say(&format!("ana@dm: !review {} Clear, sourced, one typo.", id.0)).await;
    assert!(out.contains("💬 Updated review"), "{out}");
    assert!(out.contains("version 2"), "{out}");
    let c = &h.state().courses[&CourseId(1)];
    assert_eq!(c.reviews[&id].revisions, 2);
    assert_eq!(c.assignments[&id].status, AssignmentStatus::Done);
    // Anonymous reviews hide the reviewer's name.
    h.say("olga@data-101: !course set anonymous=yes").await;
    let id2 = assignments_of(&h, "ana")[1];
    let out = h.say(&format!("ana@dm: !review {} Good.", id2.0)).await;
    assert!(out.contains("from a peer:"), "{out}");
}

#[tokio::test]
async fn a_badge_is_earned_exactly_once_when_its_criteria_are_met_twice() {
    let mut h = course(&["ana", "ben", "chen"]).await;
    let out = h.say("ana@data-101: !submit https://example.org/a1").await;
    assert_eq!(out.matches("🏅 @ana earned the **Starter** badge").count(), 1, "{out}");
    let out = h.say("ana@data-101: !submit https://example.org/a1-revised").await;
    assert!(!out.contains("🏅"), "{out}");
    h.say("/advance 7d").await;
    let out = h.say("ana@data-101: !submit https://example.org/a2").await;
    assert!(!out.contains("🏅 @ana earned the **Starter**"), "{out}");
    let c = &h.state().courses[&CourseId(1)];
    assert_eq!(c.awards.keys().filter(|(b, _)| b.as_str() == "starter").count(), 1);
}

#[tokio::test]
async fn badges_by_organizer_by_holders_and_by_nomination() {
    let mut h = course(&["ana", "ben", "chen"]).await;
    let before = h.state().clone();
    let out = h.say("ana@data-101: !badge award @ben cleaner").await;
    assert!(out.contains("⚠️ Only organizers can award the `cleaner` badge."), "{out}");
    let out = h.say("ana@data-101: !badge award @ben expert").await;
    assert!(out.contains("⚠️ Only organizers and people who hold it can award the `expert` badge."), "{out}");
    let out = h.say("ana@data-101: !badge nominate @ana helper I am great").await;
    assert!(out.contains("can't nominate yourself"), "{out}");
    let out = h.say("ana@data-101: !badge nominate @ben starter he is great").await;
    assert!(out.contains("not by nomination"), "{out}");
    let out = h.say("ana@data-101: !badge award @ben nosuch").await;
    assert!(out.contains("has no badge called `nosuch`"), "{out}");
    assert_eq!(h.state(), &before);

    let out = h.say("olga@data-101: !badge award @ana expert Knows the tools.").await;
    assert!(out.contains("🏅 @olga awarded @ana the **Expert** badge: Knows the tools."), "{out}");
    let out = h.say("ana@data-101: !badge award @ben expert Taught me regex.").await;
    assert!(out.contains("🏅 @ana awarded @ben the **Expert** badge"), "{out}");
    let out = h.say("ana@data-101: !badge award @ben expert again").await;
    assert!(out.contains("already holds"), "{out}");
    let out = h.say("ana@data-101: !badge nominate @chen helper Kind reviews").await;
    assert!(out.contains("1 of 2 nominations"), "{out}");
    let out = h.say("ana@data-101: !badge nominate @chen helper Again").await;
    assert!(out.contains("already nominated"), "{out}");
    let out = h.say("ben@data-101: !badge nominate @chen helper Precise").await;
    assert!(out.contains("🏅 @chen earned the **Helper** badge: nominated by 2 peers"), "{out}");
    let out = h.say("chen@data-101: !badges").await;
    assert!(out.contains("`expert` **Expert**") && out.contains("Held by @ana, @ben"), "{out}");
    let out = h.say("chen@dm: !badges").await;
    assert!(out.contains("Your badges:\n    • **Helper**"), "{out}");
}

#[tokio::test]
async fn a_revoked_badge_is_told_by_dm_and_never_comes_back_by_criteria_or_nomination() {
    let mut h = course(&["ana", "ben", "chen"]).await;
    let out = h.say("ana@data-101: !submit https://example.org/a1").await;
    assert!(out.contains("🏅 @ana earned the **Starter** badge"), "{out}");
    let before = h.state().clone();
    for (line, expected) in [
        ("ben@data-101: !badge revoke @ana starter because", "Only the course's organizers can revoke badges."),
        ("olga@data-101: !badge revoke @ana starter", "the reason is shown to them"),
        ("olga@data-101: !badge revoke @ben starter no reason", "@ben does not hold the `starter` badge here."),
        ("olga@data-101: !badge revoke @ana", "Give its short name"),
    ] {
        let out = h.say(line).await;
        assert!(out.contains(expected), "{line}: {out}");
    }
    assert_eq!(h.state(), &before, "refused revocations change nothing");

    let out = h.say("olga@data-101: !badge revoke @ana starter copied work").await;
    assert!(
        out.contains("[dm ana] Your **Starter** badge in `data-101` was revoked by its organizers: copied work."),
        "{out}"
    );
    assert!(out.contains("Revoked @ana's **Starter** badge"), "{out}");
    assert!(!out.contains("[data-101] Revoked"), "the answer is the organizer's alone: {out}");
    let c = &h.state().courses[&CourseId(1)];
    let ana = person(&h, "ana");
    assert!(!c.awards.keys().any(|(b, p)| b.as_str() == "starter" && *p == ana));
    // Criteria met again: not given back.
    h.say("/advance 7d").await;
    let out = h.say("ana@data-101: !submit https://example.org/a2").await;
    assert!(!out.contains("🏅"), "{out}");
    let out = h.say("ana@dm: !badges").await;
    assert!(out.contains("Your badges: none yet."), "{out}");
    // Nominations complete, but only an organizer gives a revoked badge back.
    h.say("olga@data-101: !badge award @chen helper Helps.").await;
    h.say("olga@data-101: !badge revoke @chen helper mistaken").await;
    h.say("ana@data-101: !badge nominate @chen helper Kind").await;
    let out = h.say("ben@data-101: !badge nominate @chen helper Precise").await;
    assert!(out.contains("only an organizer can award it again"), "{out}");
    assert!(!out.contains("🏅"), "{out}");
    let out = h.say("olga@data-101: !badge award @chen helper Deserved after all.").await;
    assert!(out.contains("🏅 @olga awarded @chen the **Helper** badge"), "{out}");
    let c = &h.state().courses[&CourseId(1)];
    let chen = person(&h, "chen");
    let revoked = &c.revocations[&(facilitator_bot::Slug::parse("helper").unwrap(), chen)];
    let current = &c.awards[&(facilitator_bot::Slug::parse("helper").unwrap(), chen)];
    assert_ne!(revoked[0].assertion, current.assertion, "a new award, a new address");
}

#[tokio::test]
async fn reviewing_someone_elses_assignment_is_refused_and_changes_nothing() {
    let mut h = course(&["ana", "ben", "chen"]).await;
    for l in ["ana", "ben", "chen"] {
        h.say(&format!("{l}@data-101: !submit https://example.org/{l}")).await;
    }
    h.say("/advance 5d").await;
    let before = h.state().clone();
    let theirs = assignments_of(&h, "ben")[0];
    let out = h.say(&format!("ana@dm: !review {} Looks fine.", theirs.0)).await;
    assert!(
        out.contains(&format!("⚠️ Assignment #{} isn't yours: only its reviewer can review it.", theirs.0)),
        "{out}"
    );
    let out = h.say("ana@dm: !review 999 Looks fine.").await;
    assert!(out.contains("There is no assignment #999"), "{out}");
    assert_eq!(h.state(), &before);
    assert_eq!(h.store.load_state().await.unwrap(), before);
}

#[tokio::test]
async fn status_shows_reviews_per_week() {
    let mut h = course(&["ana", "ben", "chen"]).await;
    for l in ["ana", "ben", "chen"] {
        h.say(&format!("{l}@data-101: !submit https://example.org/{l}")).await;
    }
    h.say("/advance 5d").await;
    let id = assignments_of(&h, "ana")[0];
    h.say(&format!("ana@dm: !review {} Fine.", id.0)).await;
    let out = h.say("olga@data-101: !status").await;
    assert!(out.contains("reviews 1 done of 6 assigned, 0 with mentors"), "{out}");
}

#[tokio::test]
async fn awards_export_as_open_badges_2_documents_with_the_required_fields() {
    use sha2::{Digest, Sha256};
    let mut h = course(&["ana", "ben"]).await;
    h.say("ana@data-101: !submit https://example.org/ana/week-1").await;
    h.say("/advance 7d").await;
    h.say("ana@data-101: !submit My private notes about my family's data").await;
    h.say("olga@data-101: !badge award @ana cleaner Tidy work.").await;
    let config = facilitator::config::IssuerConfig {
        name: "School of Data".into(),
        url: "https://schoolofdata.example".into(),
        email: "badges@schoolofdata.example".into(),
        base_url: "https://schoolofdata.example/badges".into(),
    };
    let dir = tempfile::tempdir().unwrap();
    let done = facilitator::openbadges::export(&config, h.state(), "data-101", dir.path()).unwrap();
    assert_eq!((done.badges, done.assertions), (5, 2));
    let read = |p: &str| -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(dir.path().join(p)).unwrap()).unwrap()
    };
    let has = |doc: &serde_json::Value, fields: &[&str]| {
        for f in fields {
            assert!(doc.get(*f).is_some_and(|v| !v.is_null() && v != ""), "missing {f} in {doc}");
        }
    };
    let issuer = read("issuer.json");
    has(&issuer, &["@context", "type", "id", "name", "url", "email"]);
    assert_eq!(issuer["@context"], "https://w3id.org/openbadges/v2");
    assert_eq!(issuer["type"], "Issuer");
    let class = read("badges/data-101-cleaner.json");
    has(&class, &["@context", "type", "id", "name", "description", "image", "criteria", "issuer"]);
    assert_eq!(class["type"], "BadgeClass");
    assert_eq!(class["issuer"], issuer["id"]);
    assert!(class["criteria"]["narrative"].as_str().unwrap().contains("Awarded by an organizer"));
    assert!(dir.path().join("badges/data-101-cleaner.svg").exists());
    let ana = person(&h, "ana");
    let course = h.state().courses.values().next().unwrap();
    let cleaner = course.badge(&facilitator_bot::Slug::parse("cleaner").unwrap()).unwrap();
    let name = facilitator::openbadges::assertion_name(course, cleaner, ana);
    let assertion = read(&format!("assertions/{name}.json"));
    // Ids are unguessable and unrelated: not the person's number, and another award of the same
    // person does not share anything with this one.
    assert_eq!(name.len(), 32, "{name}");
    assert!(!name.contains(&format!("-{}", ana.0)) && !name.contains("cleaner"), "{name}");
    let others: Vec<String> = std::fs::read_dir(dir.path().join("assertions"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(others.len(), 2, "{others:?}");
    let other = others.iter().find(|n| !n.starts_with(&name)).unwrap();
    assert!(common_prefix(other, &name) < 8, "{other} vs {name}");
    has(&assertion, &["@context", "type", "id", "recipient", "badge", "verification", "issuedOn"]);
    assert_eq!(assertion["type"], "Assertion");
    assert_eq!(assertion["badge"], class["id"]);
    assert_eq!(assertion["verification"]["type"], "hosted");
    assert!(chrono::DateTime::parse_from_rfc3339(assertion["issuedOn"].as_str().unwrap()).is_ok());
    let recipient = &assertion["recipient"];
    assert_eq!((recipient["type"].as_str(), recipient["hashed"].as_bool()), (Some("url"), Some(true)));
    let salt = recipient["salt"].as_str().unwrap();
    let hash = |url: String| -> String {
        Sha256::digest(format!("{url}{salt}").as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
    };
    // The recipient is an unguessable URL, not a profile anyone could hash and compare.
    let url = facilitator::openbadges::recipient_url("https://schoolofdata.example/badges", course, ana);
    assert_eq!(recipient["identity"], format!("sha256${}", hash(url)));
    for guessable in ["https://schoolofdata.example/badges/people/memory/ana", "ana", "memory:ana"] {
        assert_ne!(recipient["identity"], format!("sha256${}", hash(guessable.to_owned())), "{guessable}");
    }
    assert!(!assertion.to_string().contains("\"ana\""), "the recipient is not named in clear");
    // Evidence: the link ana published, never the text of work submitted as text.
    assert_eq!(assertion["evidence"][0]["id"], "https://example.org/ana/week-1");
    assert_eq!(assertion["evidence"].as_array().unwrap().len(), 1, "{}", assertion["evidence"]);
    assert!(!assertion.to_string().contains("private notes"), "{assertion}");
    assert!(facilitator::openbadges::export(&config, h.state(), "nope-1", dir.path()).is_err());
}

fn common_prefix(a: &str, b: &str) -> usize {
    a.chars().zip(b.chars()).take_while(|(x, y)| x == y).count()
}
