//! Rules a hostile or careless member found missing: each test failed before its fix.

use super::*;
use crate::state::{AssignmentStatus, ReviewerRole};

const CHEN: PersonId = PersonId(4);
const DANA: PersonId = PersonId(5);
const EVA: PersonId = PersonId(6);
const MIA: PersonId = PersonId(7);

const BADGES: &str = "# Intro to Data\n\n## Week 1: Getting started\nRead.\n\n## Week 2: Cleaning\nClean.\n\n## Week 3: Sharing\nShare.\n\n## Badges\n### Reviewer\n- slug: reviewer\n- earned: reviews >= 1\nReviewed a peer.\n\n### Starter\n- slug: starter\n- earned: weeks >= 1\nSubmitted once.\n\n### Helper\n- slug: helper\n- earned: by holders\nHelps others.\n\n### Kind\n- slug: kind\n- earned: by 2 nominations\nKind to peers.\n";

/// A course with a mentor (mia) and four learners (ana, ben, chen, dana) who submitted week 1,
/// paired: everyone has two peer assignments.
fn paired_world() -> World {
    paired_world_with(&[])
}

/// [`paired_world`] with these `!course set` commands said before anyone joins.
fn paired_world_with(settings: &[&str]) -> World {
    let mut w = world_with_course();
    for (id, name) in [(CHEN, "chen"), (DANA, "dana"), (EVA, "eva"), (MIA, "mia")] {
        w.register(id, name);
    }
    w.say(OLGA, w.room(), &format!("!syllabus load\n{BADGES}"));
    w.say(OLGA, w.room(), "!mentor add @mia");
    for setting in settings {
        assert!(!w.say(OLGA, w.room(), setting).refused, "{setting}");
    }
    for p in [ANA, BEN, CHEN, DANA] {
        w.say(p, Place::Lobby, "!join data-101");
    }
    w.advance(Duration::hours(2));
    for p in [ANA, BEN, CHEN, DANA] {
        w.say(p, w.room(), "!submit https://example.org/work");
    }
    w.say(OLGA, w.room(), "!pair");
    w
}

fn open_of(w: &World, person: PersonId) -> Vec<AssignmentId> {
    w.course()
        .assignments
        .values()
        .filter(|a| a.reviewer == person && a.status == AssignmentStatus::Open)
        .map(|a| a.id)
        .collect()
}

use crate::ids::AssignmentId;

#[test]
fn the_last_organizer_cannot_make_themselves_a_mentor() {
    let mut w = world_with_course();
    w.register(MIA, "mia");
    let d = w.say(OLGA, w.room(), "!mentor add @olga");
    assert!(d.refused, "{}", reply_text(&d));
    assert!(reply_text(&d).contains("only organizer"), "{}", reply_text(&d));
    assert_eq!(w.course().role(OLGA), Some(Role::Organizer));
    // With a second organizer it is allowed.
    w.say(OLGA, w.room(), "!organizer add @mia");
    let d = w.say(OLGA, w.room(), "!mentor add @olga");
    assert!(!d.refused, "{}", reply_text(&d));
    assert_eq!(w.course().role(OLGA), Some(Role::Mentor));
}

#[test]
fn a_reviewer_who_leaves_hands_their_open_work_on_at_once_and_gets_no_reminders() {
    let mut w = paired_world();
    let ana_open = open_of(&w, ANA);
    assert_eq!(ana_open.len(), 2);
    let d = w.say(ANA, Place::Lobby, "!leave data-101");
    assert!(!d.refused, "{}", reply_text(&d));
    for id in &ana_open {
        assert_eq!(w.course().assignments[id].status, AssignmentStatus::Expired);
    }
    // Each of the works ana was to review has a new open reviewer who is not ana.
    for id in &ana_open {
        let sub = w.course().assignments[id].submission;
        let replacements: Vec<_> = w
            .course()
            .assignments_of(sub)
            .filter(|a| a.status == AssignmentStatus::Open && !ana_open.contains(&a.id))
            .map(|a| a.reviewer)
            .collect();
        assert!(replacements.len() >= 2, "{replacements:?}");
        assert!(!replacements.contains(&ANA));
    }
    let dms: Vec<PersonId> = d
        .effects
        .iter()
        .filter_map(|e| match e {
            Effect::Direct { person, text } if text.plain().contains("Review assignment") => Some(*person),
            _ => None,
        })
        .collect();
    assert_eq!(dms.len(), 2, "the new reviewers are told: {dms:?}");
    assert!(!dms.contains(&ANA));
    // Reminders for the rest of the window never reach ana.
    let later = w.advance(Duration::days(3));
    let to_ana =
        later.iter().flat_map(|d| &d.effects).any(|e| matches!(e, Effect::Direct { person, .. } if *person == ANA));
    assert!(!to_ana, "no reminder for someone who left");
}

#[test]
fn a_mentor_who_is_removed_hands_their_escalations_to_another_mentor() {
    let mut w = paired_world();
    w.say(OLGA, w.room(), "!mentor add @eva");
    // The review deadline passes with nothing reviewed: every submission goes to a mentor.
    w.advance(Duration::days(8));
    let mia_open = open_of(&w, MIA);
    assert!(!mia_open.is_empty(), "mia got escalations");
    let d = w.say(OLGA, w.room(), "!mentor remove @mia");
    assert!(reply_text(&d).contains("went to others"), "{}", reply_text(&d));
    assert!(open_of(&w, MIA).is_empty());
    for id in mia_open {
        let sub = w.course().assignments[&id].submission;
        assert!(
            w.course()
                .assignments_of(sub)
                .any(|a| a.reviewer == EVA && a.role == ReviewerRole::Mentor && a.status == AssignmentStatus::Open),
            "eva covers it"
        );
    }
}

#[test]
fn reviews_more_on_an_ended_course_hands_out_nothing() {
    let mut w = paired_world();
    w.say(OLGA, w.room(), "!course end");
    let before = w.state.clone();
    let d = w.say(ANA, w.room(), "!reviews more");
    assert!(d.refused, "{}", reply_text(&d));
    assert!(reply_text(&d).contains("has ended"), "{}", reply_text(&d));
    assert_eq!(w.state, before);
    assert!(w.state.course_jobs(w.course().id).next().is_none(), "no reminders or escalations restart");
}

#[test]
fn organizers_file_courses_under_existing_schools_only_and_admins_create_schools() {
    let mut w = world_with_course();
    w.say(OLGA, w.room(), "!organizer add @ana");
    let before = w.state.clone();
    let d = w.say(ANA, w.room(), "!course set school=\"Spam School\"");
    assert!(d.refused);
    let text = reply_text(&d);
    assert!(text.contains("only bot admins create schools"), "{text}");
    assert!(text.contains("School of Data"), "the existing schools are listed: {text}");
    assert_eq!(w.state, before);
    assert!(!d.effects.iter().any(|e| matches!(e, Effect::CreateSchoolSpace { .. })));
    // An existing school is fine for an organizer; a new one is fine for an admin.
    assert!(!w.say(ANA, w.room(), "!course set school=\"School of Data\"").refused);
    let d = w.say(OLGA, w.room(), "!course set school=\"School of Maths\"");
    assert!(d.effects.iter().any(|e| matches!(e, Effect::CreateSchoolSpace { .. })));
}

#[test]
fn a_former_holder_cannot_award_a_holders_badge() {
    let mut w = paired_world();
    w.say(OLGA, w.room(), "!badge award @ana helper");
    assert!(w.course().awards.contains_key(&(Slug::parse("helper").unwrap(), ANA)));
    // While in the course, ana may pass it on.
    let d = w.say(ANA, w.room(), "!badge award @ben helper");
    assert!(!d.refused, "{}", reply_text(&d));
    w.say(ANA, Place::Lobby, "!leave data-101");
    let d = w.say(ANA, w.room(), "!badge award @chen helper");
    assert!(d.refused, "{}", reply_text(&d));
    assert!(!w.course().awards.contains_key(&(Slug::parse("helper").unwrap(), CHEN)));
}

#[test]
fn nominations_from_people_who_left_do_not_count() {
    let mut w = paired_world();
    w.say(ANA, w.room(), "!badge nominate @chen kind Always helpful");
    w.say(ANA, Place::Lobby, "!leave data-101");
    let d = w.say(BEN, w.room(), "!badge nominate @chen kind Patient");
    assert!(reply_text(&d).contains("1 of 2"), "{}", reply_text(&d));
    assert!(!w.course().awards.contains_key(&(Slug::parse("kind").unwrap(), CHEN)));
    let d = w.say(DANA, w.room(), "!badge nominate @chen kind Generous");
    assert!(reply_text(&d).contains("completed"), "{}", reply_text(&d));
    let award = &w.course().awards[&(Slug::parse("kind").unwrap(), CHEN)];
    assert!(!award.reason.contains("Always helpful"), "{}", award.reason);
}

#[test]
fn a_command_is_acknowledged_before_the_badge_it_earned_is_announced() {
    let mut w = world_with_course();
    w.say(OLGA, w.room(), &format!("!syllabus load\n{BADGES}"));
    w.say(ANA, Place::Lobby, "!join data-101");
    w.advance(Duration::hours(2));
    let d = w.say(ANA, w.room(), "!submit https://example.org/a");
    let reply = d.effects.iter().position(|e| matches!(e, Effect::Reply { .. })).expect("a reply");
    let badge = d
        .effects
        .iter()
        .position(|e| matches!(e, Effect::Post { text, .. } if text.plain().contains("Starter")))
        .expect("an announcement");
    assert!(reply < badge, "{:?}", d.effects);
}

fn review_dm(d: &Decision) -> String {
    d.effects
        .iter()
        .find_map(|e| match e {
            Effect::Direct { text, .. } if text.plain().contains("review of your") => Some(text.plain()),
            _ => None,
        })
        .expect("the author is told")
}

#[test]
fn an_anonymous_review_stays_anonymous_and_no_announcement_betrays_its_reviewer() {
    let mut w = paired_world_with(&["!course set anonymous=yes"]);
    let mine = open_of(&w, ANA)[0];
    let d = w.say(ANA, Place::Direct, &format!("!review {} Clear.", mine.0));
    assert!(review_dm(&d).contains("from a peer"), "{}", review_dm(&d));
    let announced = |d: &Decision| {
        d.effects.iter().any(|e| matches!(e, Effect::Post { text, .. } if text.plain().contains("Reviewer")))
    };
    assert!(!announced(&d), "no badge announcement at the moment of an anonymous review: {:?}", d.effects);
    // Named from now on; the earlier review stays anonymous in its revision.
    w.say(OLGA, w.room(), "!course set anonymous=no");
    let d = w.say(ANA, Place::Direct, &format!("!review {} Clear and sourced.", mine.0));
    assert!(review_dm(&d).contains("from a peer"), "a revision does not unmask: {}", review_dm(&d));
    assert!(w.course().reviews[&mine].anonymous);
    // The badge the review earned comes with the week's review deadline, beside everyone else's.
    let later = w.advance(Duration::days(8));
    assert!(later.iter().any(announced), "the Reviewer badge is awarded at the review deadline");
    assert!(w.course().awards.contains_key(&(Slug::parse("reviewer").unwrap(), ANA)));
}

#[test]
fn a_school_name_is_shown_as_text_never_as_the_bots_markdown() {
    let mut w = world_with_course();
    let d = w.say(OLGA, w.room(), "!course set school=\"Data **bold** School\"");
    let spans: Vec<crate::text::Span> = d
        .effects
        .iter()
        .flat_map(|e| match e {
            Effect::Reply { text, .. } => text.spans.clone(),
            _ => Vec::new(),
        })
        .collect();
    assert!(spans.iter().any(|s| matches!(s, crate::text::Span::User(t) if t == "Data **bold** School")), "{spans:?}");
    assert!(!spans.iter().any(|s| matches!(s, crate::text::Span::Markdown(m) if m.contains("**bold**"))), "{spans:?}");
}

#[test]
fn a_syllabus_reload_keeps_posted_weeks_and_the_badges_people_hold() {
    let mut w = world_with_course();
    w.say(OLGA, w.room(), &format!("!syllabus load\n{BADGES}"));
    w.say(ANA, Place::Lobby, "!join data-101");
    w.advance(Duration::hours(2));
    w.say(OLGA, w.room(), "!badge award @ana helper");
    let reload = "# Intro to Data, second edition\n\n## Week 1: Rewritten\nSomething else entirely.\n\n## Week 2: Cleaning, new\nNew week two.\n\n## Week 3: Sharing\nShare.\n\n## Badges\n### Finisher\n- earned: weeks >= 3\nDone it all.\n";
    let d = w.say(OLGA, w.room(), &format!("!syllabus load\n{reload}"));
    assert!(!d.refused, "{}", reply_text(&d));
    let text = reply_text(&d);
    assert!(text.contains("keep the text they were posted with"), "{text}");
    assert!(text.contains("retired"), "{text}");
    let s = w.course().syllabus.clone().unwrap();
    assert_eq!(s.week(1).unwrap().title, "Getting started", "week 1 was posted: its text stays");
    assert_eq!(s.week(1).unwrap().prompt, "Read.");
    assert_eq!(s.week(2).unwrap().title, "Cleaning, new", "week 2 is not posted yet: the new text");
    assert_eq!(s.title, "Intro to Data, second edition");
    // The held badge stays (retired), the new one is offered, unheld old ones are gone.
    let helper = s.badges.iter().find(|b| b.slug.as_str() == "helper").expect("a held badge is kept");
    assert!(helper.retired);
    assert!(s.badges.iter().any(|b| b.slug.as_str() == "finisher" && !b.retired));
    assert!(!s.badges.iter().any(|b| b.slug.as_str() == "starter"));
    let list = reply_text(&w.say(ANA, w.room(), "!badges"));
    assert!(
        list.contains("Helper") && list.contains("retired: no longer awarded") && list.contains("Held by"),
        "{list}"
    );
    // A retired badge is awarded to nobody else.
    let d = w.say(OLGA, w.room(), "!badge award @ben helper");
    assert!(d.refused && reply_text(&d).contains("retired"), "{}", reply_text(&d));
    // What is stored is Markdown that reads back to the same syllabus.
    assert_eq!(crate::syllabus::Syllabus::parse(&s.source).unwrap(), s);
}

#[test]
fn a_review_sent_in_the_course_room_is_confirmed_privately() {
    let mut w = paired_world();
    let mine = open_of(&w, ANA)[0];
    let d = w.say(ANA, w.room(), &format!("!review {} Clear.", mine.0));
    assert!(!d.refused, "{}", reply_text(&d));
    assert!(
        d.effects.iter().any(
            |e| matches!(e, Effect::Direct { person, text } if *person == ANA && text.plain().contains("is recorded"))
        ),
        "{:?}",
        d.effects
    );
    assert!(
        !d.effects.iter().any(|e| matches!(e, Effect::Reply { text, .. } if text.plain().contains("#"))),
        "nothing in the room says which assignment: {:?}",
        d.effects
    );
}

#[test]
fn a_slash_command_that_only_announces_is_still_acknowledged_privately_after_nothing_else() {
    let mut w = paired_world();
    let d = w.say_waiting(OLGA, w.room(), "!badge award @ana helper", true);
    let replies: Vec<&Effect> = d.effects.iter().filter(|e| matches!(e, Effect::Reply { .. })).collect();
    let [Effect::Reply { text, private: true, .. }] = replies.as_slice() else {
        panic!("one private answer: {:?}", d.effects)
    };
    assert_eq!(text.plain(), "✅ Done.");
    assert!(d.effects.iter().any(|e| matches!(e, Effect::Post { .. })), "and the announcement");
    // Said as a plain message, the announcement is the answer.
    let d = w.say(OLGA, w.room(), "!badge award @ben helper");
    assert!(!d.effects.iter().any(|e| matches!(e, Effect::Reply { .. })), "{:?}", d.effects);
    // An answer of its own is never doubled with an acknowledgement.
    let d = w.say_waiting(OLGA, w.room(), "!ping", true);
    assert_eq!(d.effects.iter().filter(|e| matches!(e, Effect::Reply { .. })).count(), 1);
}

#[test]
fn the_bot_joins_direct_rooms_from_anyone_and_group_rooms_only_from_admins_and_organizers() {
    let mut w = world_with_course();
    w.register(PersonId(40), "root");
    w.state.apply(&Change::AdminSet { person: PersonId(40), admin: true });
    let answer = |inviter: PersonId, direct: bool| {
        let invitation = crate::ids::Invitation("i".into());
        let d = decide(&w.state, Input::Invited { inviter, direct, invitation }, &Ctx { now: w.now, seed: 1 });
        assert!(d.changes.is_empty());
        match d.effects.as_slice() {
            [Effect::AnswerInvite { accept, .. }] => *accept,
            other => panic!("one answer: {other:?}"),
        }
    };
    assert!(answer(BEN, true), "a direct conversation with anyone");
    assert!(!answer(BEN, false), "not a group room from a learner");
    assert!(!answer(PersonId(99), false), "nor from a stranger");
    assert!(answer(PersonId(40), false), "a group room from a bot admin");
    let organizer = w.course().members.iter().find(|(_, m)| m.role == Role::Organizer).map(|(p, _)| *p).unwrap();
    assert_ne!(organizer, PersonId(40));
    assert!(answer(organizer, false), "a group room from an organizer");
}
