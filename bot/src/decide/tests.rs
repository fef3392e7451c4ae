//! Decisions as plain function calls: a small world, commands in, changes and effects out.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};

use super::*;
use crate::command::{self, Mention};
use crate::state::{CourseStatus, JobKind};

pub(super) const SYLLABUS: &str = "# Intro to Data\n\n## Week 1: Getting started\nRead the basics.\n- [Basics](https://example.org/basics)\n\n### Review\n- Is it clear?\n\n## Week 2: Cleaning\nClean a dataset.\n\n## Week 3: Sharing\nShare it.\n";

pub(super) struct World {
    pub(super) state: State,
    pub(super) now: DateTime<Utc>,
}

pub(super) const OLGA: PersonId = PersonId(1);
pub(super) const ANA: PersonId = PersonId(2);
pub(super) const BEN: PersonId = PersonId(3);

impl World {
    pub(super) fn new(now: &str) -> World {
        let mut state = State::default();
        for (id, name) in [(OLGA, "olga"), (ANA, "ana"), (BEN, "ben")] {
            state.apply(&Change::PersonRegistered {
                person: id,
                account: crate::ids::Account { platform: "memory".into(), handle: name.into() },
                name: name.into(),
            });
        }
        state.apply(&Change::AdminSet { person: OLGA, admin: true });
        World { state, now: now.parse().unwrap() }
    }

    /// Someone else the bot knows, mentioned as `@name`.
    pub(super) fn register(&mut self, id: PersonId, name: &str) {
        self.state.apply(&Change::PersonRegistered {
            person: id,
            account: crate::ids::Account { platform: "memory".into(), handle: name.into() },
            name: name.into(),
        });
    }

    pub(super) fn apply(&mut self, d: &Decision) {
        for c in &d.changes {
            self.state.apply(c);
        }
    }

    pub(super) fn say(&mut self, actor: PersonId, place: Place, text: &str) -> Decision {
        self.say_waiting(actor, place, text, false)
    }

    /// Says a command the way a slash command is said: the platform waits for an answer that
    /// only the author sees.
    pub(super) fn say_waiting(&mut self, actor: PersonId, place: Place, text: &str, waits: bool) -> Decision {
        let command = command::parse(text).expect("a command");
        let mut mentions = BTreeMap::new();
        for (id, person) in &self.state.persons {
            mentions.insert(Mention(format!("@{}", person.name)), *id);
        }
        let input = CommandInput {
            actor,
            place,
            reply_to: ReplyTo("r".into()),
            command,
            mentions,
            unclear: BTreeMap::new(),
            thread_week: None,
            private_reply: waits,
        };
        let d = decide(&self.state, Input::Command(input), &Ctx { now: self.now, seed: 7 });
        self.apply(&d);
        d
    }

    /// Says something in the thread of a week's prompt.
    pub(super) fn say_in_thread(&mut self, actor: PersonId, week: u32, text: &str) -> Decision {
        let input = CommandInput {
            actor,
            place: self.room(),
            reply_to: ReplyTo("r".into()),
            command: command::parse(text).expect("a command"),
            mentions: BTreeMap::new(),
            unclear: BTreeMap::new(),
            thread_week: Some(week),
            private_reply: false,
        };
        let d = decide(&self.state, Input::Command(input), &Ctx { now: self.now, seed: 7 });
        self.apply(&d);
        d
    }

    pub(super) fn course(&self) -> &Course {
        self.state.courses.values().next().expect("a course")
    }

    pub(super) fn room(&self) -> Place {
        Place::Course(self.course().id)
    }

    /// Runs every job due by `now`, like the runtime's scheduler step.
    pub(super) fn advance(&mut self, by: Duration) -> Vec<Decision> {
        self.now += by;
        let mut out = Vec::new();
        while let Some((_, job)) = self.state.next_due_job(self.now) {
            let d = decide(&self.state, Input::JobDue { job }, &Ctx { now: self.now, seed: 7 });
            self.apply(&d);
            out.push(d);
        }
        out
    }
}

pub(super) fn reply_text(d: &Decision) -> String {
    d.effects
        .iter()
        .filter_map(|e| match e {
            Effect::Reply { text, .. } => Some(text.plain()),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

pub(super) fn posts(ds: &[Decision]) -> Vec<String> {
    ds.iter()
        .flat_map(|d| d.effects.iter())
        .filter_map(|e| match e {
            Effect::Post { text, .. } => Some(text.plain()),
            _ => None,
        })
        .collect()
}

/// Monday 2026-10-19 08:00 UTC: a course created now with the default schedule opens week 1 at 09:00.
pub(super) fn world_with_course() -> World {
    let mut w = World::new("2026-10-19T08:00:00Z");
    let d = w.say(OLGA, Place::Lobby, "!course new data-101 \"Intro to Data\" school=\"School of Data\" weeks=3");
    assert!(reply_text(&d).contains("Created"), "{}", reply_text(&d));
    w
}

#[test]
fn admin_creates_a_course_with_its_room_and_becomes_its_organizer() {
    let mut w = World::new("2026-10-19T08:00:00Z");
    let d = w.say(OLGA, Place::Lobby, "!course new data-101 \"Intro to Data\" school=\"School of Data\" weeks=3");
    assert!(matches!(d.effects[0], Effect::CreateSchoolSpace { .. }));
    assert!(matches!(d.effects[1], Effect::CreateCourseRoom { .. }));
    assert_eq!(w.course().role(OLGA), Some(Role::Organizer));
    assert_eq!(w.state.course_jobs(w.course().id).count(), 3);
    assert_eq!(w.state.next_due_time(), Some("2026-10-19T09:00:00Z".parse().unwrap()));
    assert!(reply_text(&d).contains("Week 1 opens 2026-10-19 09:00"));
}

#[test]
fn learner_cannot_create_a_course_and_nothing_changes() {
    let mut w = World::new("2026-10-19T08:00:00Z");
    let before = w.state.clone();
    let d = w.say(ANA, Place::Lobby, "!course new data-101 \"Intro\"");
    assert!(d.changes.is_empty());
    assert!(d.refused);
    assert!(reply_text(&d).contains("Only bot admins"));
    assert_eq!(w.state, before);
}

#[test]
fn start_dates_in_the_past_are_refused() {
    let mut w = World::new("2026-10-19T08:00:00Z");
    let d = w.say(OLGA, Place::Lobby, "!course new data-101 \"Intro\" start=2026-10-01");
    assert!(d.changes.is_empty());
    assert!(reply_text(&d).contains("in the past"));
}

#[test]
fn each_prompt_is_posted_once_on_schedule() {
    let mut w = world_with_course();
    w.say(OLGA, w.room(), &format!("!syllabus load\n{SYLLABUS}"));
    let ran = w.advance(Duration::hours(1));
    let p = posts(&ran);
    assert_eq!(p.len(), 1);
    assert!(p[0].contains("Week 1 of 3: Getting started"), "{}", p[0]);
    assert!(!p[0].contains("Posted late"));
    // Running the same job again (a replay after a crash) changes nothing.
    let job = JobKey::course(w.course().id, JobKind::Prompt, 1);
    let again = decide(&w.state, Input::JobDue { job }, &Ctx { now: w.now, seed: 7 });
    assert_eq!(again, Decision::default());
    let ran = w.advance(Duration::days(7));
    assert_eq!(posts(&ran).len(), 1);
    assert_eq!(w.course().current_week(), Some(2));
}

#[test]
fn prompts_overdue_after_downtime_are_posted_late_once_and_say_so() {
    let mut w = world_with_course();
    let ran = w.advance(Duration::days(9));
    let p = posts(&ran);
    assert_eq!(p.len(), 2, "weeks 1 and 2 were due");
    assert!(p.iter().all(|t| t.contains("Posted late")));
    assert!(w.advance(Duration::hours(1)).is_empty());
}

#[test]
fn late_joiner_is_welcomed_with_the_current_week_and_its_deadline() {
    let mut w = world_with_course();
    w.say(OLGA, w.room(), &format!("!syllabus load\n{SYLLABUS}"));
    w.advance(Duration::days(8));
    let d = w.say(ANA, Place::Lobby, "!join data-101");
    let text = reply_text(&d);
    assert!(text.contains("week 2 of 3: **Cleaning**"), "{text}");
    assert!(text.contains("Clean a dataset."));
    assert!(text.contains("2026-10-31 09:00"), "deadline: {text}");
    assert!(d.effects.iter().any(|e| matches!(e, Effect::Invite { person, .. } if *person == ANA)));
}

#[test]
fn submissions_are_acknowledged_revised_and_marked_late() {
    let mut w = world_with_course();
    w.say(ANA, Place::Lobby, "!join data-101");
    let d = w.say(ANA, w.room(), "!submit https://example.org/a");
    assert!(reply_text(&d).contains("hasn't started"));
    assert!(d.changes.is_empty());
    w.advance(Duration::hours(2));
    let d = w.say(ANA, w.room(), "!submit https://example.org/a");
    assert!(reply_text(&d).contains("on time"), "{}", reply_text(&d));
    w.advance(Duration::days(6));
    let d = w.say(ANA, w.room(), "!submit week 1 https://example.org/b");
    assert!(reply_text(&d).contains("version 2"));
    assert!(reply_text(&d).contains("marked late"));
    let s = &w.course().submissions[&(1, ANA)];
    assert_eq!((s.revisions, s.late, s.body.as_str()), (2, false, "https://example.org/b"));
    let d = w.say(BEN, w.room(), "!submit x");
    assert!(reply_text(&d).contains("not in"));
    let d = w.say(ANA, w.room(), "!submit week 3 x");
    assert!(reply_text(&d).contains("hasn't started"));
    let d = w.say(ANA, w.room(), "!submit week 9 x");
    assert!(reply_text(&d).contains("no week 9"));
}

#[test]
fn pause_holds_the_schedule_and_resume_picks_it_up() {
    let mut w = world_with_course();
    w.advance(Duration::hours(2));
    let d = w.say(ANA, w.room(), "!course pause");
    assert!(reply_text(&d).contains("Only organizers"));
    w.say(OLGA, w.room(), "!course pause");
    assert_eq!(w.course().status, CourseStatus::Paused);
    assert!(posts(&w.advance(Duration::days(14))).is_empty(), "no prompt while paused");
    let d = w.say(OLGA, w.room(), "!course resume");
    assert!(reply_text(&d).contains("Week 2 opens 2026-11-09 09:00"), "{}", reply_text(&d));
    assert_eq!(posts(&w.advance(Duration::days(7))).len(), 1);
}

#[test]
fn threaded_weeks_open_a_thread_per_prompt_and_submissions_there_count_for_that_week() {
    let mut w = world_with_course();
    let d = w.say(ANA, w.room(), "!course set threads=yes");
    assert!(reply_text(&d).contains("Only organizers"));
    let d = w.say(OLGA, w.room(), "!course set threads=maybe");
    assert!(reply_text(&d).contains("Threads is yes or no"), "{}", reply_text(&d));
    let d = w.say(OLGA, w.room(), "!course set threads=yes");
    assert!(reply_text(&d).contains("a thread per week"), "{}", reply_text(&d));
    w.say(ANA, Place::Lobby, "!join data-101");
    let threads: Vec<_> = w
        .advance(Duration::days(8))
        .iter()
        .flat_map(|d| d.effects.clone())
        .filter_map(|e| match e {
            Effect::Post { thread, .. } => thread.map(|t| (t.week, t.name, t.opening.plain())),
            _ => None,
        })
        .collect();
    assert_eq!(threads.len(), 2, "{threads:?}");
    assert_eq!((threads[0].0, threads[0].1.as_str()), (1, "Week 1"));
    assert_eq!((threads[1].0, threads[1].1.as_str()), (2, "Week 2"));
    assert!(threads[1].2.contains("counts for week 2"), "{}", threads[1].2);
    // Week 2 is current, but this was said in week 1's thread.
    let d = w.say_in_thread(ANA, 1, "!submit https://example.org/late-for-week-1");
    assert!(reply_text(&d).contains("week 1"), "{}", reply_text(&d));
    assert!(w.course().submissions.contains_key(&(1, ANA)));
    assert!(!w.course().submissions.contains_key(&(2, ANA)));
    // An explicit week wins over the thread's.
    w.say_in_thread(ANA, 1, "!submit week 2 https://example.org/w2");
    assert!(w.course().submissions.contains_key(&(2, ANA)));
    // Without threads, prompts carry none.
    w.say(OLGA, w.room(), "!course set threads=no");
    let later = w.advance(Duration::days(7));
    assert!(later.iter().flat_map(|d| &d.effects).any(|e| matches!(e, Effect::Post { thread: None, .. })));
}

#[test]
fn changing_the_schedule_replans_every_future_prompt_and_tells_the_room() {
    let mut w = world_with_course();
    w.advance(Duration::hours(2));
    let d = w.say(OLGA, w.room(), "!course set prompt=\"0 10 * * Tue\" deadline=3d tz=Europe/Berlin");
    let text = reply_text(&d);
    // Tuesday 10:00 in Berlin (summer time) is 08:00 UTC, the next day.
    assert!(text.contains("Week 2 now opens 2026-10-20 08:00"), "{text}");
    assert!(text.contains("Week 1's work is now due"));
    let due: Vec<_> = w
        .state
        .course_jobs(w.course().id)
        .filter(|(k, _)| k.kind == JobKind::Prompt)
        .map(|(_, t)| t.to_rfc3339())
        .collect();
    assert_eq!(due, vec!["2026-10-20T08:00:00+00:00", "2026-10-27T09:00:00+00:00"]);
    // Week 1's pairing moved with its deadline (3 days after Monday 09:00 UTC).
    let pair = w.state.jobs[&JobKey::course(w.course().id, JobKind::Pair, 1)];
    assert_eq!(pair.to_rfc3339(), "2026-10-22T09:00:00+00:00");
}

#[test]
fn loading_a_syllabus_sets_the_weeks_and_refuses_to_drop_posted_ones() {
    let mut w = world_with_course();
    let d = w.say(OLGA, w.room(), "!syllabus load\n# T\n## Week 1: a\nx\n## Week 2: b\ny");
    assert!(reply_text(&d).contains("now has 2 weeks"));
    assert_eq!(w.course().settings.weeks, 2);
    w.advance(Duration::days(8));
    let d = w.say(OLGA, w.room(), "!syllabus load\n# T\n## Week 1: a\nx");
    assert!(d.changes.is_empty());
    assert!(reply_text(&d).contains("past weeks cannot be removed"));
}

#[test]
fn organizers_add_organizers_and_the_last_one_cannot_leave() {
    let mut w = world_with_course();
    let d = w.say(OLGA, Place::Lobby, "!leave data-101");
    assert!(reply_text(&d).contains("only organizer"));
    w.say(BEN, Place::Lobby, "!join data-101");
    let d = w.say(BEN, w.room(), "!organizer add @ana");
    assert!(reply_text(&d).contains("Only organizers"));
    w.say(OLGA, w.room(), "!organizer add @ana");
    assert_eq!(w.course().role(ANA), Some(Role::Organizer));
    let d = w.say(OLGA, w.room(), "!status");
    assert!(reply_text(&d).contains("1 learner, 2 organizers"), "{}", reply_text(&d));
}

#[test]
fn help_lists_only_what_the_caller_may_use() {
    let mut w = world_with_course();
    let learner_help = reply_text(&w.say(ANA, Place::Lobby, "!help"));
    assert!(learner_help.contains("!join"));
    assert!(!learner_help.contains("!course new"));
    let admin_help = reply_text(&w.say(OLGA, Place::Lobby, "!help"));
    assert!(admin_help.contains("!course new"));
    assert!(reply_text(&w.say(ANA, Place::Lobby, "!help submit")).contains("revision"));
}

#[test]
fn help_answers_for_every_command_in_every_place_it_may_be_said_and_lists_it_for_those_who_may_use_it() {
    use crate::command::{Audience, COMMANDS, Where};
    let mut w = world_with_course();
    w.say(ANA, Place::Lobby, "!join data-101");
    // Who qualifies for each audience: BEN is in no course, ANA learns, OLGA organizes and is
    // a bot admin.
    let person = |a: Audience| match a {
        Audience::Everyone => BEN,
        Audience::Member | Audience::Learner => ANA,
        Audience::Organizer | Audience::Admin => OLGA,
    };
    for spec in COMMANDS {
        let places: Vec<Place> = match spec.place {
            Where::CourseRoom => vec![w.room()],
            Where::Anywhere => vec![Place::Lobby, Place::Direct, w.room()],
        };
        for place in places {
            for asker in [OLGA, ANA, BEN] {
                let d = w.say(asker, place, &format!("!help {}", spec.name));
                assert!(!d.refused, "!help {} in {place:?}: {}", spec.name, reply_text(&d));
                assert!(reply_text(&d).contains(spec.syntax), "!help {}: {}", spec.name, reply_text(&d));
            }
            let listed = reply_text(&w.say(person(spec.audience), place, "!help"));
            assert!(listed.contains(spec.syntax), "!help in {place:?} omits {}: {listed}", spec.name);
        }
        // Said where it may not be, it is refused with a pointer to where it may.
        if spec.place == Where::CourseRoom {
            let before = w.state.clone();
            let d = w.say(person(spec.audience), Place::Direct, spec.example);
            assert!(d.refused && reply_text(&d).contains("course's room"), "{}: {}", spec.name, reply_text(&d));
            assert_eq!(w.state, before);
        }
    }
    // A learner in the course room sees the review and badge commands, not the organizers' ones.
    let learner = reply_text(&w.say(ANA, w.room(), "!help"));
    for listed in ["!review ID", "!reviews", "!badges", "!badge nominate", "!submit"] {
        assert!(learner.contains(listed), "{listed} missing from a learner's help: {learner}");
    }
    assert!(!learner.contains("!pair") && !learner.contains("!status"), "{learner}");
    let organizer = reply_text(&w.say(OLGA, w.room(), "!help"));
    for listed in ["!pair", "!status", "!badge award", "!course set"] {
        assert!(organizer.contains(listed), "{listed} missing from an organizer's help: {organizer}");
    }
    // In a direct message the course-room commands come under their own heading.
    let direct = reply_text(&w.say(ANA, Place::Direct, "!help"));
    let (anywhere, rooms) = direct.split_once("In a course's room:").expect("a heading for the course-room commands");
    assert!(anywhere.contains("!join") && !anywhere.contains("!submit") && rooms.contains("!submit"), "{direct}");
}

#[test]
fn a_learner_zone_shows_deadlines_in_both_zones() {
    let mut w = world_with_course();
    w.say(ANA, Place::Lobby, "!join data-101");
    w.advance(Duration::hours(2));
    w.say(ANA, Place::Lobby, "!tz America/Sao_Paulo");
    let d = w.say(ANA, w.room(), "!submit hi");
    let zones = d
        .effects
        .iter()
        .flat_map(|e| match e {
            Effect::Reply { text, .. } => text.spans.clone(),
            _ => Vec::new(),
        })
        .find_map(|s| match s {
            crate::text::Span::Time { zones, .. } => Some(zones),
            _ => None,
        })
        .unwrap();
    assert_eq!(zones.iter().map(|z| z.name()).collect::<Vec<_>>(), vec!["UTC", "America/Sao_Paulo"]);
}

#[test]
fn weekly_prompts_keep_their_local_hour_across_daylight_saving() {
    let mut w = World::new("2026-10-19T05:00:00Z");
    w.say(OLGA, Place::Lobby, "!course new de-101 \"Deutsch\" tz=Europe/Berlin weeks=3");
    let due: Vec<_> = w.state.course_jobs(w.course().id).map(|(_, t)| t.to_rfc3339()).collect();
    assert_eq!(due, vec!["2026-10-19T07:00:00+00:00", "2026-10-26T08:00:00+00:00", "2026-11-02T08:00:00+00:00"]);
}

#[test]
fn joining_on_the_platform_enrols_and_welcomes_in_the_room() {
    let mut w = world_with_course();
    let id = w.course().id;
    let d = decide(&w.state, Input::MemberJoined { person: BEN, course: id }, &Ctx { now: w.now, seed: 7 });
    assert!(d.effects.iter().any(|e| matches!(e, Effect::Post { text, .. } if text.plain().contains("Welcome"))));
    assert!(d.effects.contains(&Effect::SetRole { course: id, person: BEN, role: Some(Role::Learner) }));
    w.apply(&d);
    let again = decide(&w.state, Input::MemberJoined { person: BEN, course: id }, &Ctx { now: w.now, seed: 7 });
    assert_eq!(again, Decision::default());
}

mod trust;

mod no_panics {
    use super::*;
    use proptest::prelude::*;

    fn words() -> impl Strategy<Value = String> {
        prop::sample::select(vec![
            "help",
            "courses",
            "join",
            "leave",
            "tz",
            "progress",
            "syllabus",
            "syllabus load",
            "submit",
            "submit week",
            "status",
            "course new",
            "course set",
            "course pause",
            "course resume",
            "course end",
            "organizer add",
            "mentor remove",
            "xyz",
            "pair",
            "reviews",
            "reviews more",
            "review 1",
            "review",
            "badges",
            "badge award @ana",
            "badge nominate @ben",
        ])
        .prop_map(str::to_owned)
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

        #[test]
        fn no_command_text_panics_and_refusals_change_nothing(word in words(), rest in "\\PC{0,80}", place in 0..3usize, who in 0..3usize) {
            let mut w = world_with_course();
            w.advance(Duration::hours(2));
            let actor = [OLGA, ANA, BEN][who];
            let place = [Place::Lobby, Place::Direct, w.room()][place];
            let text = format!("!{word} {rest}");
            let before = w.state.clone();
            let d = w.say(actor, place, &text);
            let refused = d.effects.iter().any(|e| matches!(e, Effect::Reply { text, private: true, .. } if text.plain().starts_with("⚠️")));
            if refused {
                prop_assert!(d.changes.is_empty());
                prop_assert_eq!(&w.state, &before);
            }
            prop_assert!(!d.effects.is_empty(), "every command gets an answer: {}", text);
        }
    }
}

#[test]
fn progress_and_assignment_lists_are_private_answers_and_acknowledgements_public() {
    let mut w = world_with_course();
    let joined = w.say(ANA, Place::Lobby, "!join data-101");
    let private = |d: &Decision| d.effects.iter().any(|e| matches!(e, Effect::Reply { private: true, .. }));
    assert!(!private(&joined), "a welcome is not private");
    for text in ["!progress", "!reviews"] {
        let d = w.say(ANA, Place::Direct, text);
        assert!(private(&d), "{text} answers only the asker: {:?}", d.effects);
    }
    // Said in the course room, where this platform has no private reply: by direct message.
    let d = w.say(ANA, w.room(), "!progress");
    assert!(
        d.effects.iter().any(|e| matches!(e, Effect::Direct { person, text } if *person == ANA && text.plain().to_lowercase().contains("week"))),
        "{:?}",
        d.effects
    );
    assert!(!d.effects.iter().any(|e| matches!(e, Effect::Post { .. })));
    assert!(reply_text(&d).contains("direct message"), "{}", reply_text(&d));
}

#[test]
fn a_badge_email_is_taken_only_where_nobody_else_reads_it_and_a_profile_is_private_until_asked() {
    let mut w = world_with_course();
    w.say(ANA, Place::Lobby, "!join data-101");
    let d = w.say(ANA, w.room(), "!badge email ana@example.org");
    assert!(d.changes.is_empty(), "{:?}", d.changes);
    assert!(reply_text(&d).contains("direct message"), "{}", reply_text(&d));
    assert!(!reply_text(&d).contains("ana@example.org"), "the refusal does not repeat the address");
    let d = w.say_waiting(ANA, w.room(), "!badge email ana@example.org", true);
    assert_eq!(d.changes.len(), 1, "a private slash command is private enough");
    let d = w.say(ANA, Place::Direct, "!badge email off");
    assert_eq!(d.changes, vec![Change::BadgeEmailSet { person: ANA, email: None }]);
    let d = w.say(ANA, Place::Direct, "!badge email Ana@Example.org");
    assert_eq!(
        d.changes,
        vec![Change::BadgeEmailSet { person: ANA, email: Some(crate::ids::Email::parse("ana@example.org").unwrap()) }]
    );
    assert!(w.say(ANA, Place::Direct, "!badge email ana@example.org").changes.is_empty(), "already so");

    assert!(!w.state.persons[&ANA].public, "private by default");
    let d = w.say(ANA, Place::Direct, "!profile");
    assert!(d.changes.is_empty() && reply_text(&d).contains("private"), "{}", reply_text(&d));
    let d = w.say(ANA, Place::Lobby, "!profile public");
    assert_eq!(d.changes, vec![Change::ProfileSet { person: ANA, public: true }]);
    assert!(
        d.effects.iter().any(|e| format!("{e:?}").contains("/people/2")),
        "the answer links their page: {:?}",
        d.effects
    );
    let d = w.say(ANA, Place::Lobby, "!profile private");
    assert_eq!(d.changes, vec![Change::ProfileSet { person: ANA, public: false }]);
}
