//! Hosted Open Badges 2.0: the issuer, each badge class (with its generated image), each
//! award's assertion, at stable addresses on the public origin. One address per document,
//! two representations: JSON-LD for verifiers and backpacks, a page for people (see
//! [`super::wants_json`]); `/assertions/{id}.json` always answers JSON (a download).
//!
//! Nothing here names a learner: an assertion's recipient is a salted hash of an unguessable
//! URL, and its page says "a learner of" the course. Its id is unguessable, so only the people
//! its holder gives it to find it.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use maud::html;
use serde_json::Value;

use facilitator_bot::badges::BadgeDef;
use facilitator_bot::{AssertionId, Course, Slug};

use super::page::{self, page};
use super::{Web, wants_json};
use crate::baking;
use crate::credentials;
use crate::openbadges::{self, Urls};

/// A JSON-LD answer any origin may read (verifiers and backpacks run in browsers too), never
/// cached for long (a revocation must show).
fn json_ld(value: &Value) -> Response {
    let mut response = (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "application/ld+json"),
            (header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        serde_json::to_string_pretty(value).unwrap_or_default(),
    )
        .into_response();
    response.headers_mut().insert(header::VARY, HeaderValue::from_static("Accept"));
    response
}

fn html_page(markup: maud::Markup) -> Response {
    let mut response = page::html(StatusCode::OK, markup);
    response.headers_mut().insert(header::VARY, HeaderValue::from_static("Accept"));
    response
}

/// `GET /issuer`: the issuer profile.
pub(crate) async fn issuer(State(web): State<Web>, headers: HeaderMap) -> Response {
    let urls = Urls::Hosted { origin: web.origin() };
    let issuer = web.issuer();
    if wants_json(&headers) {
        return json_ld(&openbadges::issuer(issuer, urls));
    }
    html_page(page(
        "Issuer",
        &issuer.name,
        html! {
            h1 { (issuer.name) }
            p { "Issues Open Badges 2.0 for the learning done in its courses." }
            dl {
                dt { "Web site" } dd { a href=(issuer.url) { (issuer.url) } }
                dt { "Contact" } dd { a href={ "mailto:" (issuer.email) } { (issuer.email) } }
                dt { "Issuer profile" } dd { span class="url" { (urls.issuer()) } }
            }
        },
    ))
}

/// The course and badge a path names, or the 404 saying which part is unknown.
fn find<'a>(
    state: &'a facilitator_bot::State,
    course: &str,
    badge: &str,
) -> Result<(&'a Course, &'a BadgeDef), &'static str> {
    let course = Slug::parse(course).ok().and_then(|s| state.course_by_slug(&s)).ok_or("There is no such course.")?;
    let badge =
        Slug::parse(badge).ok().and_then(|slug| course.badge(&slug)).ok_or("This course offers no such badge.")?;
    Ok((course, badge))
}

/// `GET /badges/{course}/{badge}`: a badge class.
pub(crate) async fn badge_class(
    State(web): State<Web>,
    Path((course, badge)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let snapshot = web.snapshot();
    let (course, badge) = match find(&snapshot.state, &course, &badge) {
        Ok(found) => found,
        Err(what) => return page::not_found(what),
    };
    let urls = Urls::Hosted { origin: web.origin() };
    if wants_json(&headers) {
        return json_ld(&openbadges::badge_class(urls, course, badge));
    }
    let holders = course.awards.keys().filter(|(b, _)| *b == badge.slug).count();
    let site = &web.issuer().name;
    html_page(page(
        &badge.name,
        site,
        html! {
            (heading(urls, course, badge, html! {
                p class="muted" { "A badge of " (course.settings.title) }
                @if !badge.description.trim().is_empty() { p { (badge.description) } }
            }))
            h2 { "How it is earned" }
            p { (openbadges::criteria(course, badge)) }
            p { (holders) " " (if holders == 1 { "person holds" } else { "people hold" }) " it." }
            @if badge.retired { p { "This badge is retired: its course no longer offers it." } }
            p { "Issued by " a href="/issuer" { (site) } "." }
        },
    ))
}

/// A badge's image and name, with `under` beside them.
fn heading(urls: Urls<'_>, course: &Course, badge: &BadgeDef, under: maud::Markup) -> maud::Markup {
    html! {
        div class="badge" {
            img src=(urls.image(course, badge)) alt={ "The " (badge.name) " badge" };
            div {
                h1 { (badge.name) }
                (under)
            }
        }
    }
}

/// `GET /badges/{course}/{badge}/image.svg`: the badge class's image.
pub(crate) async fn image(State(web): State<Web>, Path((course, badge)): Path<(String, String)>) -> Response {
    let snapshot = web.snapshot();
    let (course, badge) = match find(&snapshot.state, &course, &badge) {
        Ok(found) => found,
        Err(what) => return page::not_found(what),
    };
    let school = course.settings.school.and_then(|s| snapshot.state.schools.get(&s));
    (
        [
            (header::CONTENT_TYPE, "image/svg+xml"),
            (header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        openbadges::image(course, badge, school),
    )
        .into_response()
}

/// `GET /assertions/{id}` (negotiated) and `GET /assertions/{id}.json` (JSON).
pub(crate) async fn assertion(State(web): State<Web>, Path(id): Path<String>, headers: HeaderMap) -> Response {
    let (id, download) = match id.strip_suffix(".json") {
        Some(id) => (id, true),
        None => (id.as_str(), false),
    };
    let Ok(id) = id.parse::<AssertionId>() else {
        return page::not_found("This is not a badge's address: those end in 32 letters and digits.");
    };
    let snapshot = web.snapshot();
    let state = &snapshot.state;
    let urls = Urls::Hosted { origin: web.origin() };
    if let Some((course, badge, revocation)) = state.revocation_by_assertion(&id) {
        return revoked(&web, urls, &id, course, badge, revocation, download || wants_json(&headers));
    }
    let Some((course, badge_slug, person, award)) = state.award_by_assertion(&id) else {
        return page::not_found("No badge has this address.");
    };
    let Some(badge) = course.badge(badge_slug) else {
        return page::not_found("No badge has this address.");
    };
    let Some(document) = openbadges::assertion(urls, state, course, badge, person) else {
        return page::not_found("No badge has this address.");
    };
    if download {
        return page::attachment(json_ld(&document), &format!("{}-{}.json", course.slug, badge.slug));
    }
    if wants_json(&headers) {
        return json_ld(&document);
    }
    let address = urls.assertion(course, badge, person).unwrap_or_default();
    let site = &web.issuer().name;
    let evidence = openbadges::evidence(course, person);
    let issued = award.at.format("%-d %B %Y").to_string();
    let share_subject = format!("My {} badge", badge.name);
    html_page(page(
        &badge.name,
        site,
        html! {
            (heading(urls, course, badge, html! {
                p { "Awarded on " time datetime=(award.at.to_rfc3339()) { (issued) } " to a learner of "
                    a href=(urls.badge(course, badge)) { (course.settings.title) } "." }
                p class="muted" { "Issued by " a href="/issuer" { (site) } }
            }))
            h2 { "What it means" }
            @if !badge.description.trim().is_empty() { p { (badge.description) } }
            p { (openbadges::criteria(course, badge)) }
            @if !award.reason.trim().is_empty() { p { "Why: " (award.reason) } }
            @if !evidence.is_empty() {
                h2 { "Evidence" }
                ul {
                    @for item in &evidence {
                        li {
                            @let narrative = item["narrative"].as_str().unwrap_or_default();
                            @match item["id"].as_str() {
                                Some(link) => a href=(link) rel="nofollow noopener" { (narrative) },
                                None => (narrative),
                            }
                        }
                    }
                }
            }
            h2 { "Verify it" }
            div class="card" {
                p { "This is an Open Badges 2.0 assertion, hosted by its issuer: it is valid for as long as this address answers with it. Any Open Badges verifier can check it; give it this address:" }
                p class="url" { (address) }
                p { "The badge names the person it was awarded to only as a salted hash, so it identifies nobody to whoever reads it: its holder tells you it is theirs. "
                    a href={ (address) ".json" } { "Download the badge (JSON)" } }
            }
            h2 { "Add it to a backpack" }
            p { "A backpack (Canvas Credentials, Open Badge Factory and others) takes either this address or a baked image, an image with the badge inside it: "
                a href={ (address) "/badge.png" } download { "PNG" } " or " a href={ (address) "/badge.svg" } download { "SVG" } "." }
            @let credential = credentials::credential_url(web.origin(), &award.assertion);
            p { "The same badge as an Open Badges 3.0 credential, signed by the issuer (its key is at "
                span class="url" { (web.origin()) "/.well-known/jwks.json" } "): "
                a href=(credential) { "JSON" } ", "
                a href={ (credential) ".jwt" } download { "signed (VC-JWT)" } ", "
                a href={ (credential) "/badge.png" } download { "baked PNG" } "." }
            h2 { "Share it" }
            ul {
                li { a href={ "mailto:?subject=" (urlencode(&share_subject)) "&body=" (urlencode(&address)) } { "By email" } }
                li { a href={ "https://www.linkedin.com/sharing/share-offsite/?url=" (urlencode(&address)) } rel="noopener" { "On LinkedIn" } }
            }
        },
    ))
}

/// `GET /assertions/{id}/badge.png` and `.../badge.svg`: the badge's image with its assertion
/// baked in, to download and upload to a backpack.
pub(crate) async fn baked(State(web): State<Web>, Path((id, file)): Path<(String, String)>) -> Response {
    let Some(kind) = file.strip_prefix("badge.").filter(|k| *k == "png" || *k == "svg") else {
        return page::not_found("There is no such file: a badge is baked as badge.png or badge.svg.");
    };
    let Ok(id) = id.parse::<AssertionId>() else {
        return page::not_found("This is not a badge's address: those end in 32 letters and digits.");
    };
    let snapshot = web.snapshot();
    let state = &snapshot.state;
    let urls = Urls::Hosted { origin: web.origin() };
    if let Some((course, badge, revocation)) = state.revocation_by_assertion(&id) {
        return revoked(&web, urls, &id, course, badge, revocation, false);
    }
    let Some((course, badge, person, document)) = state
        .award_by_assertion(&id)
        .and_then(|(course, slug, person, _)| Some((course, course.badge(slug)?, person)))
        .and_then(|(course, badge, person)| {
            Some((course, badge, person, openbadges::assertion(urls, state, course, badge, person)?))
        })
    else {
        return page::not_found("No badge has this address.");
    };
    let school = course.settings.school.and_then(|s| state.schools.get(&s));
    let svg = openbadges::image(course, badge, school);
    let json = serde_json::to_string(&document).unwrap_or_default();
    let address = urls.assertion(course, badge, person).unwrap_or_default();
    let made = if kind == "png" {
        baking::png(&svg).and_then(|png| baking::bake_png(&png, "openbadges", &json)).map(|png| (png, "image/png"))
    } else {
        baking::bake_svg(&svg, &address, &json).map(|svg| (svg.into_bytes(), "image/svg+xml"))
    };
    let (body, content_type) = match made {
        Ok(made) => made,
        Err(e) => return page::could_not_make("badge image", &e),
    };
    let response = (StatusCode::OK, [(header::CONTENT_TYPE, content_type), (header::CACHE_CONTROL, "no-cache")], body)
        .into_response();
    page::attachment(response, &format!("{}-{}.{kind}", course.slug, badge.slug))
}

/// A revoked award: `410 Gone`, with `revoked: true` and the reason, as Open Badges 2.0 asks
/// of a hosted assertion taken back; a page saying so to people.
fn revoked(
    web: &Web,
    urls: Urls<'_>,
    id: &AssertionId,
    course: &Course,
    badge: &Slug,
    revocation: &facilitator_bot::state::Revocation,
    json: bool,
) -> Response {
    let address = format!("{}/assertions/{id}", web.origin());
    if json {
        let body = serde_json::json!({
            "@context": "https://w3id.org/openbadges/v2",
            "type": "Assertion",
            "id": address,
            "revoked": true,
            "revocationReason": revocation.reason,
        });
        let mut response = json_ld(&body);
        *response.status_mut() = StatusCode::GONE;
        return response;
    }
    let name = course.badge(badge).map_or_else(|| badge.to_string(), |b| b.name.clone());
    let mut response = html_page(page(
        &format!("{name} (revoked)"),
        &web.issuer().name,
        html! {
            h1 { (name) " — revoked" }
            div class="card revoked" {
                p { "This badge was awarded to a learner of " (course.settings.title) " and revoked by its issuer on "
                    time datetime=(revocation.at.to_rfc3339()) { (revocation.at.format("%-d %B %Y")) } "." }
                p { "Reason: " (revocation.reason) }
                p { "It no longer verifies. " @if let Some(def) = course.badge(badge) { a href=(urls.badge(course, def)) { "What the badge means" } } }
            }
        },
    ));
    *response.status_mut() = StatusCode::GONE;
    response
}

/// Percent-encodes everything but unreserved characters.
pub(crate) fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// `GET /.well-known/jwks.json`: the issuer's public key, for Open Badges 3.0 verifiers.
pub(crate) async fn jwks(State(web): State<Web>) -> Response {
    let Some(signer) = web.signer() else {
        return page::not_found("This issuer signs no credentials.");
    };
    let mut response = json_ld(&signer.jwks());
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/jwk-set+json"));
    response
}

/// An award's live credential, with its course and badge.
type Live<'a> = (Value, &'a Course, &'a BadgeDef);

/// What an Open Badges 3.0 address names: a live credential, or the answer to give instead.
fn live_credential<'a>(web: &Web, state: &'a facilitator_bot::State, id: &str) -> Result<Live<'a>, Box<Response>> {
    let Ok(id) = id.parse::<AssertionId>() else {
        return Err(Box::new(page::not_found(
            "This is not a credential's address: those end in 32 letters and digits.",
        )));
    };
    if let Some((_, _, revocation)) = state.revocation_by_assertion(&id) {
        let body = serde_json::json!({
            "id": credentials::credential_url(web.origin(), &id),
            "revoked": true,
            "revocationReason": revocation.reason,
        });
        let mut response = json_ld(&body);
        *response.status_mut() = StatusCode::GONE;
        return Err(Box::new(response));
    }
    let found = state.award_by_assertion(&id).and_then(|(course, slug, person, _)| {
        let badge = course.badge(slug)?;
        let credential = credentials::credential(web.origin(), web.issuer(), state, course, badge, person)?;
        Some((credential, course, badge))
    });
    found.ok_or_else(|| Box::new(page::not_found("No credential has this address.")))
}

/// `GET /credentials/{id}` (the `OpenBadgeCredential` as JSON) and `GET /credentials/{id}.jwt`
/// (signed, as a VC-JWT).
pub(crate) async fn credential(State(web): State<Web>, Path(id): Path<String>) -> Response {
    let (id, jwt) = match id.strip_suffix(".jwt") {
        Some(id) => (id.to_owned(), true),
        None => (id.strip_suffix(".json").unwrap_or(&id).to_owned(), false),
    };
    let snapshot = web.snapshot();
    let (credential, course, badge) = match live_credential(&web, &snapshot.state, &id) {
        Ok(found) => found,
        Err(answer) => return *answer,
    };
    if !jwt {
        let mut response = json_ld(&credential);
        response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/vc+ld+json"));
        return response;
    }
    let Some(signer) = web.signer() else {
        return super::text(StatusCode::SERVICE_UNAVAILABLE, "This issuer signs no credentials.\n".into());
    };
    let token = credentials::jwt(signer, &credential);
    let response = (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "application/vc+jwt"),
            (header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        token,
    )
        .into_response();
    page::attachment(response, &format!("{}-{}.jwt", course.slug, badge.slug))
}

/// `GET /credentials/{id}/badge.png`: the badge's image with the signed credential baked in
/// (Open Badges 3.0: an `iTXt` chunk named `openbadgecredential` holding the VC-JWT).
pub(crate) async fn credential_baked(State(web): State<Web>, Path((id, file)): Path<(String, String)>) -> Response {
    if file != "badge.png" {
        return page::not_found("There is no such file: a credential is baked as badge.png.");
    }
    let snapshot = web.snapshot();
    let state = &snapshot.state;
    let (credential, course, badge) = match live_credential(&web, state, &id) {
        Ok(found) => found,
        Err(answer) => return *answer,
    };
    let Some(signer) = web.signer() else {
        return super::text(StatusCode::SERVICE_UNAVAILABLE, "This issuer signs no credentials.\n".into());
    };
    let school = course.settings.school.and_then(|s| state.schools.get(&s));
    let token = credentials::jwt(signer, &credential);
    match baking::png(&openbadges::image(course, badge, school))
        .and_then(|png| baking::bake_png(&png, "openbadgecredential", &token))
    {
        Ok(png) => page::attachment(
            (StatusCode::OK, [(header::CONTENT_TYPE, "image/png"), (header::CACHE_CONTROL, "no-cache")], png)
                .into_response(),
            &format!("{}-{}-credential.png", course.slug, badge.slug),
        ),
        Err(e) => page::could_not_make("badge image", &e),
    }
}
