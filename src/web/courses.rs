//! The public face of the courses: a catalogue by school and cycle, a page per course (its
//! syllabus, schedule, how to join, its badges), and the profiles people asked for.
//!
//! What is public is decided in chat and read from the snapshot: a course is listed unless its
//! organizers said `public=no` (its page then answers 404, as an unknown course does); a person
//! is named only after `!profile public` (organizers who did not are counted, not named);
//! badges are counted per course, never listed with their holders. No learner's work, review
//! or email appears on any page.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::response::Response;
use chrono::{DateTime, Utc};
use maud::{Markup, PreEscaped, html};

use facilitator_bot::state::{CourseStatus, Role};
use facilitator_bot::{Course, PersonId, Slug};

use super::markdown;
use super::page::{self, page};
use super::{Web, places::Places};
use crate::openbadges::{self, Urls};

/// A course as the catalogue and its page describe its progress.
fn progress(course: &Course) -> String {
    match (course.status, course.current_week()) {
        (CourseStatus::Ended, _) => "Ended".to_owned(),
        (CourseStatus::Paused, _) => "Paused".to_owned(),
        (CourseStatus::Active, None) => format!("Starts {}", course.settings.start.format("%-d %B %Y")),
        (CourseStatus::Active, Some(week)) => format!("Week {week} of {}", course.settings.weeks),
    }
}

fn learners(course: &Course) -> usize {
    course.with_role(Role::Learner).count()
}

/// A time in the course's zone, with the instant in `datetime` for the reader's own zone
/// (`/static/local-time.js` adds it where scripts run).
fn when(at: DateTime<Utc>, course: &Course) -> Markup {
    let zone = course.settings.zone;
    let local = at.with_timezone(&zone.tz());
    html! {
        time datetime=(at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)) data-local {
            (local.format("%a %-d %b %Y, %H:%M")) " (" (zone.name()) ")"
        }
    }
}

/// A school's courses by cycle, the newest label first.
type Cycles<'a> = BTreeMap<std::cmp::Reverse<String>, Vec<&'a Course>>;

/// `GET /`: the catalogue of public courses, by school and cycle.
pub(crate) async fn catalogue(State(web): State<Web>) -> Response {
    let snapshot = web.snapshot();
    let state = &snapshot.state;
    // School name (independent courses last), then cycle (newest label first), then courses.
    let mut groups: BTreeMap<(bool, String), Cycles<'_>> = BTreeMap::new();
    for course in state.all_courses().filter(|c| c.settings.public) {
        let school = course.settings.school.and_then(|s| state.schools.get(&s)).map(|s| s.name.clone());
        let key = (school.is_none(), school.unwrap_or_else(|| "Independent courses".to_owned()));
        let cycle = course.settings.cycle.clone().unwrap_or_default();
        groups.entry(key).or_default().entry(std::cmp::Reverse(cycle)).or_default().push(course);
    }
    let site = &web.issuer().name;
    page::ok(page(
        "Courses",
        site,
        html! {
            h1 { (site) }
            p { "Open courses, run by volunteers and learned together: each week brings a prompt and open materials, learners share their work and review each other's, and badges say what they did. Anyone may join." }
            @if groups.is_empty() {
                p { "No public courses yet." }
            }
            @for ((_, school), cycles) in &groups {
                section aria-labelledby={ "school-" (anchor(school)) } {
                    h2 id={ "school-" (anchor(school)) } { (school) }
                    @for (cycle, courses) in cycles {
                        @if !cycle.0.is_empty() { h3 { "Cycle " (cycle.0) } }
                        ul class="courses" {
                            @for course in sorted(courses) {
                                li {
                                    a href={ "/courses/" (course.slug) } { (course.settings.title) }
                                    " "
                                    span class="muted" {
                                        (progress(course)) " · " (course.settings.weeks) " weeks · "
                                        (learners(course)) " " (if learners(course) == 1 { "learner" } else { "learners" })
                                    }
                                }
                            }
                        }
                    }
                }
            }
            p { "Badges earned here are Open Badges; " a href="/issuer" { "about their issuer" } "." }
        },
    ))
}

/// Newest start first.
fn sorted<'a>(courses: &[&'a Course]) -> Vec<&'a Course> {
    let mut courses = courses.to_vec();
    courses.sort_by(|a, b| b.settings.start.cmp(&a.settings.start).then_with(|| a.slug.cmp(&b.slug)));
    courses
}

/// A fragment id from a heading: lowercase letters and digits, dashes between.
fn anchor(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    out.trim_end_matches('-').to_owned()
}

/// `GET /courses/{slug}`: one course's page.
pub(crate) async fn course(State(web): State<Web>, Path(slug): Path<String>) -> Response {
    let snapshot = web.snapshot();
    let state = &snapshot.state;
    let Some(course) = Slug::parse(&slug).ok().and_then(|s| state.course_by_slug(&s)).filter(|c| c.settings.public)
    else {
        return page::not_found("There is no public course with this name.");
    };
    let settings = &course.settings;
    let school = settings.school.and_then(|s| state.schools.get(&s));
    let organizers: Vec<PersonId> = course.with_role(Role::Organizer).collect();
    let named: Vec<(PersonId, &str)> = organizers
        .iter()
        .filter_map(|p| state.persons.get(p).filter(|p| p.public).map(|p| (p.id, p.name.as_str())))
        .collect();
    let unnamed = organizers.len() - named.len();
    let mut runs: Vec<&Course> = state
        .all_courses()
        .filter(|c| {
            c.id != course.id
                && c.settings.public
                && c.settings.school == settings.school
                && c.settings.title.trim().eq_ignore_ascii_case(settings.title.trim())
        })
        .collect();
    runs.sort_by_key(|r| std::cmp::Reverse(r.settings.start));
    let urls = Urls::Hosted { origin: web.origin() };
    let syllabus = course.syllabus.as_ref();
    let weeks: Vec<u32> = (1..=settings.weeks).collect();
    let mut holders: BTreeMap<&Slug, usize> = BTreeMap::new();
    for (badge, _) in course.awards.keys() {
        *holders.entry(badge).or_default() += 1;
    }
    let places = web.places();
    let site = &web.issuer().name;
    page::ok(page::page_with_script(
        &settings.title,
        site,
        html! {
            h1 { (settings.title) }
            p class="muted" {
                @if let Some(school) = school { (school.name) " · " }
                @if let Some(cycle) = &settings.cycle { "Cycle " (cycle) " · " }
                (progress(course)) " · " (settings.weeks) " weeks · "
                (learners(course)) " " (if learners(course) == 1 { "learner" } else { "learners" })
            }
            p {
                "Organized by "
                @for (i, (id, name)) in named.iter().enumerate() {
                    @if i > 0 { ", " }
                    a href={ "/people/" (id.0) } { (name) }
                }
                @if unnamed > 0 {
                    @if !named.is_empty() { " and " }
                    (unnamed) " " (if unnamed == 1 { "volunteer" } else { "volunteers" })
                    @if !named.is_empty() { " more" }
                }
                "."
            }
            @if let Some(syllabus) = syllabus.filter(|s| !s.intro.trim().is_empty()) {
                div class="intro" { (PreEscaped(markdown::to_html(&syllabus.intro))) }
            }
            (join(course, places))
            h2 id="schedule" { "Schedule" }
            p class="muted" { "Times are in the course's zone, " (settings.zone.name()) "." }
            table {
                thead { tr { th scope="col" { "Week" } th scope="col" { "Opens" } th scope="col" { "Work due" } } }
                tbody {
                    @for week in &weeks {
                        @let opens = state.prompt_time(course, *week);
                        tr {
                            th scope="row" {
                                a href={ "#week-" (week) } { (week) }
                                @if let Some(title) = course.week_title(*week) { ": " (title) }
                            }
                            td { @if let Some(at) = opens { (when(at, course)) } @else { "not planned" } }
                            td { @if let Some(at) = opens { (when(settings.deadline.after(settings.zone, at), course)) } }
                        }
                    }
                }
            }
            h2 id="syllabus" { "Syllabus" }
            @match syllabus {
                None => p { "The organizers have not published the syllabus yet." },
                Some(syllabus) => {
                    @for plan in &syllabus.weeks {
                        section class="week" aria-labelledby={ "week-" (plan.number) } {
                            h3 id={ "week-" (plan.number) } { "Week " (plan.number) ": " (plan.title) }
                            (PreEscaped(markdown::to_html(&plan.prompt)))
                            // Materials the prompt's text does not already link.
                            @let more: Vec<_> = plan.materials.iter().filter(|m| !plan.prompt.contains(m.url.as_str())).collect();
                            @if !more.is_empty() {
                                h4 { "Materials" }
                                ul {
                                    @for m in more {
                                        li {
                                            @if markdown::safe_link(&m.url) { a href=(m.url) rel="noopener" { (m.title) } }
                                            @else { (m.title) }
                                        }
                                    }
                                }
                            }
                            @if !plan.review_questions.is_empty() {
                                h4 { "Questions for reviewers" }
                                ul { @for q in &plan.review_questions { li { (q) } } }
                            }
                        }
                    }
                }
            }
            @let offered: Vec<_> = course.badges().iter().filter(|b| !b.retired || holders.contains_key(&b.slug)).collect();
            @if !offered.is_empty() {
                h2 id="badges" { "Badges" }
                ul class="badges" {
                    @for badge in offered {
                        @let held = holders.get(&badge.slug).copied().unwrap_or(0);
                        li {
                            img src=(urls.image(course, badge)) alt="" width="48" height="48";
                            div {
                                a href=(urls.badge(course, badge)) { strong { (badge.name) } }
                                @if badge.retired { " (retired)" }
                                br;
                                span { (openbadges::criteria(course, badge)) " " }
                                span class="muted" { (held) " " (if held == 1 { "holds it" } else { "hold it" }) "." }
                            }
                        }
                    }
                }
            }
            @if !runs.is_empty() {
                h2 id="runs" { "Other runs" }
                ul {
                    @for run in &runs {
                        li {
                            a href={ "/courses/" (run.slug) } { (run.settings.title) }
                            " " span class="muted" {
                                @if let Some(cycle) = &run.settings.cycle { "cycle " (cycle) ", " }
                                (progress(run).to_lowercase())
                            }
                        }
                    }
                }
            }
        },
    ))
}

/// How to join: the command, where the bot is, and the course's rooms.
fn join(course: &Course, places: &Places) -> Markup {
    if course.status == CourseStatus::Ended {
        return html! {
            h2 id="join" { "Join" }
            p { "This run has ended; its syllabus stays here for anyone to use." }
        };
    }
    let bots = places.bot_links();
    let rooms = places.course_rooms(course.id);
    html! {
        h2 id="join" { "Join" }
        p { "Tell the bot " code { "!join " (course.slug) } " in a direct message or in any room it is in; it adds you to the course's room and tells you the current week." }
        @if !bots.is_empty() {
            ul {
                @for (platform, link) in &bots { li { a href=(link) rel="noopener" { "The bot on " (platform) } } }
            }
        }
        @if !rooms.is_empty() {
            p { "The course's room, once you have joined: "
                @for (i, (platform, link)) in rooms.iter().enumerate() {
                    @if i > 0 { ", " }
                    a href=(link) rel="noopener" { (platform) }
                }
                "."
            }
        }
    }
}

/// `GET /people/{id}`: a person's public profile, only if they asked for one.
pub(crate) async fn person(State(web): State<Web>, Path(id): Path<String>) -> Response {
    let snapshot = web.snapshot();
    let state = &snapshot.state;
    let Some(person) = id
        .parse::<i64>()
        .ok()
        .filter(|_| id.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|id| state.persons.get(&PersonId(id)))
        .filter(|p| p.public)
    else {
        return page::not_found("There is no public profile here.");
    };
    let urls = Urls::Hosted { origin: web.origin() };
    // Badges of hidden courses stay off the page: the course's organizers chose not to list it.
    let mut badges = Vec::new();
    for course in state.all_courses().filter(|c| c.settings.public) {
        for ((slug, holder), award) in &course.awards {
            if *holder == person.id
                && let Some(badge) = course.badge(slug)
            {
                badges.push((award.at, course, badge));
            }
        }
    }
    badges.sort_by_key(|b| std::cmp::Reverse(b.0));
    let organized: Vec<&Course> =
        state.all_courses().filter(|c| c.settings.public && c.role(person.id) == Some(Role::Organizer)).collect();
    let site = &web.issuer().name;
    page::ok(page(
        &person.name,
        site,
        html! {
            h1 { (person.name) }
            h2 { "Badges" }
            @if badges.is_empty() { p { "No badges yet." } }
            ul class="badges" {
                @for (at, course, badge) in &badges {
                    li {
                        img src=(urls.image(course, badge)) alt="" width="48" height="48";
                        div {
                            @match urls.assertion(course, badge, person.id) {
                                Some(link) => a href=(link) { strong { (badge.name) } },
                                None => strong { (badge.name) },
                            }
                            br;
                            span class="muted" { (course.settings.title) ", " time datetime=(at.to_rfc3339()) { (at.format("%-d %B %Y")) } }
                        }
                    }
                }
            }
            @if !organized.is_empty() {
                h2 { "Organizes" }
                ul { @for c in &organized { li { a href={ "/courses/" (c.slug) } { (c.settings.title) } } } }
            }
            p class="muted" { "This page is public because its owner asked for it; " code { "!profile private" } " takes it down." }
        },
    ))
}

/// `GET /static/local-time.js`: adds the reader's own time beside each course time.
pub(crate) async fn local_time_script() -> Response {
    page::asset("text/javascript; charset=utf-8", LOCAL_TIME)
}

const LOCAL_TIME: &str = "document.querySelectorAll('time[data-local]').forEach(function (t) {\n  var d = new Date(t.getAttribute('datetime'));\n  if (isNaN(d)) return;\n  var s = document.createElement('span');\n  s.className = 'muted';\n  s.textContent = ' · your time: ' + d.toLocaleString([], { weekday: 'short', day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit' });\n  t.after(s);\n});\n";
