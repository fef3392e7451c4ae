//! The organizers' dashboard: signing in with the link `!dashboard` sends (see [`super::auth`]),
//! then per course the week-by-week figures with a chart, reviews, work sent to mentors, quiet
//! learners and badges, each table also as CSV; for bot admins, the community's figures.
//!
//! Who sees what: a course's organizers (and bot admins) see its page with links to write to
//! quiet learners; its mentors see the same figures, read only (no links to act); anyone else
//! signed in gets 403 for it. Without a session every page is 401 with how to sign in. Pages
//! are never cached (`no-store`). Figures come from the snapshot; only the sign-in and the
//! session are read from the store.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use maud::{Markup, PreEscaped, html};

use facilitator_bot::state::Role;
use facilitator_bot::{Course, PersonId, Slug};

use super::page::{self, page};
use super::{Web, auth, charts};
use crate::figures::{self, CourseFigures, DEFINITIONS};

/// What a signed-in person may do with a course's figures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Access {
    /// Organizers and bot admins: everything, with links to act.
    Full,
    /// Mentors: the figures, read only.
    ReadOnly,
}

fn private(mut response: Response) -> Response {
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn answer(status: StatusCode, title: &str, site: &str, body: Markup) -> Response {
    private(page::html(status, page(title, site, body)))
}

fn sign_in_first(web: &Web) -> Response {
    answer(
        StatusCode::UNAUTHORIZED,
        "Sign in",
        &web.issuer().name,
        html! {
            h1 { "Sign in to the dashboard" }
            p { "Say " code { "!dashboard" } " to the bot: it sends you a sign-in link by direct message, which works once, for 15 minutes." }
        },
    )
}

fn trouble(web: &Web) -> Response {
    answer(
        StatusCode::SERVICE_UNAVAILABLE,
        "Try again",
        &web.issuer().name,
        html! { h1 { "Try again in a moment" } p { "The bot could not check your sign-in just now." } },
    )
}

/// The signed-in person, or the answer to give instead.
async fn viewer(web: &Web, headers: &HeaderMap) -> Result<PersonId, Box<Response>> {
    let (Some(secret), Some(store)) = (auth::session_secret(headers), web.store()) else {
        return Err(Box::new(sign_in_first(web)));
    };
    match store.session(&auth::hash(&secret), Utc::now()).await {
        Ok(Some(person)) => Ok(person),
        Ok(None) => Err(Box::new(sign_in_first(web))),
        Err(e) => {
            tracing::warn!(error = %e, "reading a web session");
            Err(Box::new(trouble(web)))
        }
    }
}

fn access(state: &facilitator_bot::State, person: PersonId, course: &Course) -> Option<Access> {
    if state.is_admin(person) {
        return Some(Access::Full);
    }
    match course.role(person) {
        Some(Role::Organizer) => Some(Access::Full),
        Some(Role::Mentor) => Some(Access::ReadOnly),
        _ => None,
    }
}

/// Where to go after signing in: a dashboard page (`?next=/dashboard/...`), never elsewhere.
#[derive(Debug, serde::Deserialize)]
pub(crate) struct Next {
    next: Option<String>,
}

impl Next {
    fn target(&self) -> &str {
        match self.next.as_deref() {
            Some(next)
                if next.starts_with("/dashboard")
                    && !next.contains("//")
                    && !next.contains('\\')
                    && next.bytes().all(|b| b.is_ascii_graphic()) =>
            {
                next
            }
            _ => "/dashboard",
        }
    }
}

/// `GET /login/{secret}`: a page whose form signs in. Chat clients and link previewers fetch
/// the links they see, so this `GET` does not use the link; the form's `POST` does. A browser
/// submits it by itself (`/static/sign-in.js`); without scripts, its button does.
pub(crate) async fn login_page(
    State(web): State<Web>,
    Path(secret): Path<String>,
    axum::extract::Query(next): axum::extract::Query<Next>,
) -> Response {
    if !auth::well_formed(&secret) {
        return page::not_found("This is not a sign-in link.");
    }
    let action = format!("/login/{secret}?next={}", super::badges::urlencode(next.target()));
    let mut response = private(page::html(
        StatusCode::OK,
        page::page_with(
            "Sign in",
            &web.issuer().name,
            "/static/sign-in.js",
            html! {
                h1 { "Sign in to the dashboard" }
                form id="sign-in" method="post" action=(action) {
                    button type="submit" { "Sign in on this browser" }
                }
                p class="muted" { "The link works once. You stay signed in for 12 hours, or until you say " code { "!dashboard logout" } " to the bot." }
            },
        ),
    ));
    // This page's form posts to this site; no other page has one.
    response.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'self'; script-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
        ),
    );
    response
}

/// `POST /login/{secret}`: uses the link and opens a session.
pub(crate) async fn login(
    State(web): State<Web>,
    Path(secret): Path<String>,
    axum::extract::Query(next): axum::extract::Query<Next>,
    headers: HeaderMap,
) -> Response {
    // Only this site's own page signs in: another site must not sign a visitor into an
    // account of its choosing (login CSRF). Browsers say where a request comes from in
    // `Sec-Fetch-Site`; older ones only in `Origin` (`null` under this site's no-referrer
    // policy).
    let cross_site = match headers.get("sec-fetch-site") {
        Some(site) => !matches!(site.as_bytes(), b"same-origin" | b"none"),
        None => headers
            .get(header::ORIGIN)
            .is_some_and(|o| o.as_bytes() != web.origin().as_bytes() && o.as_bytes() != b"null"),
    };
    if cross_site {
        return answer(
            StatusCode::FORBIDDEN,
            "Sign in",
            &web.issuer().name,
            html! { h1 { "Sign in from the link itself" } p { "Open the link the bot sent you; this page cannot be used from another site." } },
        );
    }
    let Some(store) = web.store().filter(|_| auth::well_formed(&secret)) else {
        return page::not_found("This is not a sign-in link.");
    };
    let now = Utc::now();
    let person = match store.redeem_login(&auth::hash(&secret), now).await {
        Ok(Some(person)) => person,
        Ok(None) => {
            return answer(
                StatusCode::GONE,
                "Link used or expired",
                &web.issuer().name,
                html! {
                    h1 { "This link has expired or was already used" }
                    p { "A sign-in link works once, for 15 minutes. Say " code { "!dashboard" } " to the bot for a new one." }
                },
            );
        }
        Err(e) => {
            tracing::warn!(error = %e, "using a sign-in link");
            return trouble(&web);
        }
    };
    let Ok(session) = auth::mint() else { return trouble(&web) };
    if let Err(e) = store.create_session(&auth::hash(&session), person, now, now + auth::SESSION_VALID).await {
        tracing::warn!(error = %e, "opening a web session");
        return trouble(&web);
    }
    let cookie = auth::session_cookie(&session, web.origin().starts_with("https://"));
    let mut response = private(StatusCode::SEE_OTHER.into_response());
    if let Ok(location) = HeaderValue::from_str(next.target()) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
}

/// `GET /static/sign-in.js`: submits the sign-in form once the page has loaded.
pub(crate) async fn sign_in_script() -> Response {
    page::asset(
        "text/javascript; charset=utf-8",
        "var f = document.getElementById('sign-in');\nif (f) { f.submit(); }\n",
    )
}

/// `GET /dashboard`: the courses the person may look at.
pub(crate) async fn home(State(web): State<Web>, headers: HeaderMap) -> Response {
    let person = match viewer(&web, &headers).await {
        Ok(person) => person,
        Err(answer) => return *answer,
    };
    let snapshot = web.snapshot();
    let state = &snapshot.state;
    let mut courses: Vec<(&Course, Access)> =
        state.all_courses().filter_map(|c| access(state, person, c).map(|a| (c, a))).collect();
    courses.sort_by(|a, b| b.0.settings.start.cmp(&a.0.settings.start).then_with(|| a.0.slug.cmp(&b.0.slug)));
    let name = state.persons.get(&person).map_or("", |p| p.name.as_str());
    answer(
        StatusCode::OK,
        "Dashboard",
        &web.issuer().name,
        html! {
            h1 { "Dashboard" }
            p class="muted" { "Signed in as " (name) ". " code { "!dashboard logout" } " signs you out everywhere." }
            @if state.is_admin(person) { p { a href="/dashboard/community" { "The community's figures" } } }
            @if courses.is_empty() {
                p { "You organize or mentor no course." }
            } @else {
                ul class="courses" {
                    @for (course, access) in &courses {
                        li {
                            a href={ "/dashboard/courses/" (course.slug) } { (course.settings.title) }
                            " " span class="muted" { (course.slug) @if *access == Access::ReadOnly { " · as mentor, read only" } }
                        }
                    }
                }
            }
        },
    )
}

/// The course a dashboard path names and what the viewer may do with it.
async fn course_for<'a>(
    web: &Web,
    headers: &HeaderMap,
    state: &'a facilitator_bot::State,
    slug: &str,
) -> Result<(&'a Course, Access), Box<Response>> {
    let person = viewer(web, headers).await?;
    let Some(course) = Slug::parse(slug).ok().and_then(|s| state.course_by_slug(&s)) else {
        return Err(Box::new(private(page::not_found("There is no such course."))));
    };
    let Some(access) = access(state, person, course) else {
        return Err(Box::new(answer(
            StatusCode::FORBIDDEN,
            "Not yours",
            &web.issuer().name,
            html! {
                h1 { "Only this course's organizers and mentors" }
                p { "The figures of " (course.settings.title) " are for its organizers, its mentors and the bot's admins." }
            },
        )));
    };
    Ok((course, access))
}

fn definitions(names: &[&str]) -> Markup {
    html! {
        dl class="definitions" {
            @for (name, definition) in DEFINITIONS.iter().filter(|(n, _)| names.contains(n)) {
                dt { (name) } dd { (definition) }
            }
        }
    }
}

/// Where a person can be written to, per platform (for organizers' "write to them" links).
fn contact_links(state: &facilitator_bot::State, person: PersonId) -> Vec<(&'static str, String)> {
    let Some(person) = state.persons.get(&person) else { return Vec::new() };
    person
        .accounts
        .iter()
        .filter_map(|a| match a.platform.as_str() {
            "matrix" => Some(("Matrix", format!("https://matrix.to/#/{}", a.handle))),
            "discord" if a.handle.bytes().all(|b| b.is_ascii_digit()) => {
                Some(("Discord", format!("https://discord.com/users/{}", a.handle)))
            }
            _ => None,
        })
        .collect()
}

/// `GET /dashboard/courses/{slug}`.
pub(crate) async fn course(State(web): State<Web>, Path(slug): Path<String>, headers: HeaderMap) -> Response {
    let snapshot = web.snapshot();
    let state = &snapshot.state;
    let (course, access) = match course_for(&web, &headers, state, &slug).await {
        Ok(found) => found,
        Err(answer) => return *answer,
    };
    let figures = figures::course(state, course);
    let chart = charts::submissions(&figures.weeks).replacen(
        "<svg ",
        "<svg role=\"img\" aria-label=\"Submissions per week: on time, late and not yet; the numbers are in the table below\" ",
        1,
    );
    let base = format!("/dashboard/courses/{}", course.slug);
    answer(
        StatusCode::OK,
        &format!("{} · dashboard", course.settings.title),
        &web.issuer().name,
        html! {
            p { a href="/dashboard" { "Dashboard" } }
            h1 { (course.settings.title) }
            p class="muted" {
                (figures.learners) " learners · " (course.opened.len()) " of " (course.settings.weeks) " weeks opened"
                @if access == Access::ReadOnly { " · you see this as a mentor, read only" }
            }
            h2 { "Submissions" }
            @if figures.weeks.is_empty() {
                p { "No week has opened yet." }
            } @else {
                figure class="chart" {
                    (PreEscaped(chart))
                    figcaption { span class="key on-time" { "on time" } " " span class="key late" { "late" } " " span class="key not-yet" { "not yet" } }
                }
            }
            (weeks_table(&figures))
            p { a href={ (base) "/weeks.csv" } download { "Download the weeks as CSV" } }
            (definitions(&["Learners", "On time", "Late", "Not yet", "Reviews assigned", "Reviews done", "Median time to review", "Sent to mentors"]))
            h2 { "Quiet learners" }
            @if course.opened.len() < 2 {
                p { "Shown once two weeks have opened." }
            } @else if figures.quiet.is_empty() {
                p { "Everyone submitted in the last two weeks." }
            } @else {
                table {
                    thead { tr { th scope="col" { "Learner" } th scope="col" { "Last submitted" } @if access == Access::Full { th scope="col" { "Write to them" } } } }
                    tbody {
                        @for q in &figures.quiet {
                            tr {
                                td { (q.name) }
                                td { @match q.last_week { Some(w) => { "week " (w) }, None => "never" } }
                                @if access == Access::Full {
                                    td {
                                        @for (i, (platform, link)) in contact_links(state, q.person).iter().enumerate() {
                                            @if i > 0 { ", " }
                                            a href=(link) rel="noopener" { (platform) }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
                p { a href={ (base) "/quiet.csv" } download { "Download as CSV" } }
            }
            (definitions(&["Quiet"]))
            h2 { "Badges" }
            @if figures.badges.is_empty() {
                p { "No badge awarded yet." }
            } @else {
                table {
                    thead { tr { th scope="col" { "Badge" } th scope="col" { "Holders" } } }
                    tbody { @for (name, n) in &figures.badges { tr { td { (name) } td { (n) } } } }
                }
                p { a href={ (base) "/badges.csv" } download { "Download as CSV" } }
            }
            (definitions(&["Badges"]))
        },
    )
}

fn weeks_table(figures: &CourseFigures) -> Markup {
    html! {
        table class="figures" {
            thead {
                tr {
                    th scope="col" { "Week" } th scope="col" { "On time" } th scope="col" { "Late" } th scope="col" { "Not yet" }
                    th scope="col" { "Reviews done / assigned" } th scope="col" { "Median time to review" } th scope="col" { "Sent to mentors" }
                }
            }
            tbody {
                @for w in &figures.weeks {
                    tr {
                        th scope="row" { (w.week) @if !w.title.is_empty() { ": " (w.title) } }
                        td { (w.on_time) } td { (w.late) } td { (w.not_yet) }
                        td { (w.done) " / " (w.assigned) }
                        td { @match w.median_review { Some(d) => (figures::human(d)), None => "—" } }
                        td { (w.escalated) }
                    }
                }
            }
        }
    }
}

fn csv_answer(name: &str, body: String) -> Response {
    page::attachment(
        private((StatusCode::OK, [(header::CONTENT_TYPE, "text/csv; charset=utf-8")], body).into_response()),
        name,
    )
}

/// `GET /dashboard/courses/{slug}/{table}.csv`.
pub(crate) async fn course_csv(
    State(web): State<Web>,
    Path((slug, file)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let snapshot = web.snapshot();
    let state = &snapshot.state;
    let (course, _) = match course_for(&web, &headers, state, &slug).await {
        Ok(found) => found,
        Err(answer) => return *answer,
    };
    let figures = figures::course(state, course);
    let name = format!("{}-{file}", course.slug);
    match file.as_str() {
        "weeks.csv" => {
            let rows: Vec<Vec<String>> = figures
                .weeks
                .iter()
                .map(|w| {
                    vec![
                        w.week.to_string(),
                        w.title.clone(),
                        w.on_time.to_string(),
                        w.late.to_string(),
                        w.not_yet.to_string(),
                        w.assigned.to_string(),
                        w.done.to_string(),
                        w.median_review.map(|d| d.num_minutes().to_string()).unwrap_or_default(),
                        w.escalated.to_string(),
                    ]
                })
                .collect();
            let header = [
                "week",
                "title",
                "on_time",
                "late",
                "not_yet",
                "reviews_assigned",
                "reviews_done",
                "median_minutes_to_review",
                "sent_to_mentors",
            ];
            csv_answer(&name, figures::csv(&header, &rows))
        }
        "quiet.csv" => {
            let rows: Vec<Vec<String>> = figures
                .quiet
                .iter()
                .map(|q| vec![q.name.clone(), q.last_week.map(|w| w.to_string()).unwrap_or_default()])
                .collect();
            csv_answer(&name, figures::csv(&["learner", "last_week_submitted"], &rows))
        }
        "badges.csv" => {
            let rows: Vec<Vec<String>> = figures.badges.iter().map(|(b, n)| vec![b.clone(), n.to_string()]).collect();
            csv_answer(&name, figures::csv(&["badge", "holders"], &rows))
        }
        _ => private(page::not_found("There is no such table.")),
    }
}

/// `GET /dashboard/community` (bot admins): courses per school and cycle, active learners
/// per week, completion.
pub(crate) async fn community(State(web): State<Web>, headers: HeaderMap) -> Response {
    let person = match viewer(&web, &headers).await {
        Ok(person) => person,
        Err(answer) => return *answer,
    };
    let snapshot = web.snapshot();
    let state = &snapshot.state;
    if !state.is_admin(person) {
        return answer(
            StatusCode::FORBIDDEN,
            "Admins only",
            &web.issuer().name,
            html! { h1 { "Only the bot's admins" } p { "The community's figures are for the bot's admins." } },
        );
    }
    let c = figures::community(state);
    let (done, all) = c.completion;
    answer(
        StatusCode::OK,
        "Community · dashboard",
        &web.issuer().name,
        html! {
            p { a href="/dashboard" { "Dashboard" } }
            h1 { "The community" }
            h2 { "Courses by school and cycle" }
            table {
                thead { tr { th scope="col" { "School" } th scope="col" { "Cycle" } th scope="col" { "Courses" } } }
                tbody { @for ((school, cycle), n) in &c.courses { tr { td { (school) } td { (cycle) } td { (n) } } } }
            }
            p { a href="/dashboard/community/courses.csv" download { "Download as CSV" } }
            h2 { "Active learners per week" }
            p class="muted" { "Learners who submitted work that week (weeks start on Monday, UTC), in any course, each counted once." }
            table {
                thead { tr { th scope="col" { "Week of" } th scope="col" { "Active learners" } } }
                tbody { @for (week, n) in &c.active { tr { td { (week.format("%-d %b %Y")) } td { (n) } } } }
            }
            p { a href="/dashboard/community/active.csv" download { "Download as CSV" } }
            h2 { "Completion" }
            p { (done) " of " (all) " learners of ended courses submitted every week"
                @if all > 0 { " (" (done * 100 / all) "%)" } "." }
            p class="muted" { "Counted over courses that have ended, for the learners enrolled at the end." }
        },
    )
}

/// `GET /dashboard/community/{table}.csv` (bot admins).
pub(crate) async fn community_csv(State(web): State<Web>, Path(file): Path<String>, headers: HeaderMap) -> Response {
    let person = match viewer(&web, &headers).await {
        Ok(person) => person,
        Err(answer) => return *answer,
    };
    let snapshot = web.snapshot();
    if !snapshot.state.is_admin(person) {
        return private(page::html(
            StatusCode::FORBIDDEN,
            page("Admins only", &web.issuer().name, html! { h1 { "Only the bot's admins" } }),
        ));
    }
    let c = figures::community(&snapshot.state);
    match file.as_str() {
        "courses.csv" => {
            let rows: Vec<Vec<String>> =
                c.courses.iter().map(|((s, cy), n)| vec![s.clone(), cy.clone(), n.to_string()]).collect();
            csv_answer("community-courses.csv", figures::csv(&["school", "cycle", "courses"], &rows))
        }
        "active.csv" => {
            let rows: Vec<Vec<String>> = c.active.iter().map(|(w, n)| vec![w.to_string(), n.to_string()]).collect();
            csv_answer("community-active.csv", figures::csv(&["week_of", "active_learners"], &rows))
        }
        _ => private(page::not_found("There is no such table.")),
    }
}
