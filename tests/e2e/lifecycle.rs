//! A course cycle through the engine on a real database: restart safety and the schedule.

use facilitator_bot::JobKind;

use crate::harness::{Harness, SYLLABUS};

#[tokio::test]
async fn a_full_cycle_posts_each_prompt_once_and_tracks_submissions() {
    let mut h = Harness::with_course().await;
    assert!(h.state().courses.values().next().unwrap().opened.contains_key(&1));
    let out = h.say("ana@data-101: !submit https://example.org/a").await;
    assert!(out.contains("on time"), "{out}");
    let out = h.say("/advance 7d").await;
    assert_eq!(out.matches("**Week 2 of 3: Cleaning data**").count(), 1, "{out}");
    let out = h.say("ana@data-101: !submit week 1 https://example.org/a2").await;
    assert!(out.contains("version 2") && out.contains("marked late"), "{out}");
    let out = h.say("/advance 30d").await;
    assert_eq!(out.matches("**Week 3 of 3").count(), 1, "{out}");
    assert!(h.state().jobs.is_empty());
    let out = h.say("olga@data-101: !status").await;
    assert!(out.contains("Week 1: 1 of 1 learners submitted, 1 revised"), "{out}");
}

#[tokio::test]
async fn effects_stored_before_a_crash_are_performed_once_after_restart() {
    let mut h = Harness::with_course().await;
    // A decision is committed with its effects, then the process dies before performing them.
    let url = h.url.clone();
    let mut batch = h.store.begin(chrono::Utc::now()).await.unwrap();
    let effect = facilitator_bot::Effect::Post {
        course: facilitator_bot::CourseId(1),
        text: facilitator_bot::Text::md("left over from before the crash"),
        thread: None,
    };
    batch.enqueue("crash-test#0", &effect).unwrap();
    batch.commit().await.unwrap();
    let keep = h._dir_handle();
    drop(h);
    let mut h = Harness::open(&url, "2026-10-19T10:05:00Z").await;
    let printed = h.startup_output();
    assert_eq!(printed.matches("left over from before the crash").count(), 1, "{printed}");
    let out = h.say("/advance 1m").await;
    assert!(!out.contains("left over"), "performed again: {out}");
    assert_eq!(h.store.outbox_counts().await.unwrap().0, 0);
    drop(keep);
}

#[tokio::test]
async fn overdue_prompts_after_downtime_are_posted_once_late_and_say_so() {
    let mut h = Harness::with_course().await;
    let url = h.url.clone();
    let keep = h._dir_handle();
    drop(h);
    // The bot was down for 15 days: weeks 2 and 3 fell due meanwhile.
    let mut h = Harness::open(&url, "2026-11-03T10:00:00Z").await;
    let all = h.startup_output();
    let out = h.say("/advance 1m").await;
    assert_eq!(all.matches("Posted late").count(), 2, "{all}");
    assert_eq!(all.matches("**Week 1 of 3").count(), 0, "week 1 was posted before the downtime: {all}");
    assert!(!out.contains("Posted late"), "nothing is posted twice: {out}");
    assert!(h.state().jobs.keys().all(|k| k.kind != JobKind::Prompt));
    drop(keep);
}

#[tokio::test]
async fn threaded_weeks_take_work_said_in_their_thread_and_answer_there_also_after_a_restart() {
    let mut h = Harness::new("2026-10-19T08:00:00Z").await;
    h.say("olga@lobby: !course new data-101 \"Intro to Data\" weeks=3 threads=yes").await;
    h.say(&format!("olga@data-101: !syllabus load\n{SYLLABUS}")).await;
    h.say("ana@lobby: !join data-101").await;
    let out = h.say("/advance 2h").await;
    assert!(out.contains("[data-101] **Week 1 of 3: Finding data**"), "{out}");
    assert!(out.contains("[data-101 › Week 1: Finding data] 🧵 This is week 1's thread"), "{out}");
    let out = h.say("/advance 7d").await;
    assert!(out.contains("[data-101 › Week 2: Cleaning data] 🧵"), "{out}");
    // Week 2 is current; said in week 1's thread, the work is week 1's, and the answer stays there.
    let out = h.say("ana@data-101/week 1: !submit https://example.org/w1").await;
    assert!(out.contains("[data-101 › Week 1: Finding data] Thanks, @ana! Your week 1 submission is in."), "{out}");
    let course = h.state().courses.values().next().unwrap();
    assert!(course.submissions.contains_key(&(1, facilitator_bot::PersonId(2))), "{:?}", course.submissions.keys());
    let out = h.say("ana@data-101/week 9: !submit x").await;
    assert!(out.contains("no thread 'week 9'"), "{out}");
    // Opening threads stored new mappings, which this process already held: no reload.
    let metrics = h.console.engine().metrics().render(None);
    assert!(metrics.contains("facilitator_state_reloads_total 0"), "{metrics}");

    let url = h.url.clone();
    let keep = h._dir_handle();
    drop(h);
    let mut h = Harness::open(&url, "2026-10-27T10:00:00Z").await;
    let out = h.say("ana@data-101/week 1: !submit https://example.org/w1-v2").await;
    assert!(out.contains("[data-101 › Week 1] ") && out.contains("version 2"), "{out}");
    drop(keep);
}

#[tokio::test]
async fn a_console_on_a_reused_database_keeps_its_course_rooms() {
    let mut h = Harness::with_course().await;
    let url = h.url.clone();
    let keep = h._dir_handle();
    drop(h);
    let mut h = Harness::open(&url, "2026-10-19T10:30:00Z").await;
    let out = h.say("ana@data-101: !submit https://example.org/again").await;
    assert!(out.contains("[data-101] Thanks"), "{out}");
    assert!(h.console.driver().members("data-101").contains(&"ana".to_owned()));
    drop(keep);
}

#[tokio::test]
async fn a_learner_who_joins_the_room_on_the_platform_is_enrolled_and_welcomed() {
    let mut h = Harness::with_course().await;
    let out = h.say("/join ben data-101").await;
    assert!(out.contains("[data-101] Welcome, @ben!"), "{out}");
    assert!(out.contains("week 1 of 3"), "{out}");
    let out = h.say("ben@data-101: !submit https://example.org/b").await;
    assert!(out.contains("submission is in"), "{out}");
}

#[tokio::test]
async fn loading_the_syllabus_from_chat_replans_and_keeps_posted_weeks() {
    let mut h = Harness::new("2026-10-19T08:00:00Z").await;
    h.say("olga@lobby: !course new data-101 \"Intro\" weeks=6").await;
    h.say("/advance 2h").await;
    let out = h.say(&format!("olga@data-101: !syllabus load\n{SYLLABUS}")).await;
    assert!(out.contains("now has 3 weeks (it had 6)"), "{out}");
    assert!(out.contains("Weeks 1 to 1 were already posted"), "{out}");
    let prompts = h.state().jobs.keys().filter(|k| k.kind == JobKind::Prompt).count();
    assert_eq!(prompts, 2, "weeks 2 and 3 are left to post");
}
