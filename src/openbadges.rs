//! Open Badges 2.0: every award of a course exported as a hosted assertion, with its BadgeClass
//! and the community's issuer profile, as JSON files laid out the way their ids say they are
//! hosted (`{base_url}/issuer.json`, `{base_url}/badges/...`, `{base_url}/assertions/...`).
//!
//! Nothing in the files identifies a learner to anyone who did not already know: the recipient
//! is an unguessable per-person URL (not their chat profile, which anyone could hash and
//! compare), hashed with SHA-256 and a salt; assertion ids are unguessable and unrelated to each
//! other (one person's badges cannot be linked by their ids); evidence is only the links the
//! learner submitted, never the text of their work. The ids and the recipient URL are keyed
//! with the course's private seed (stored in the database, never exported), so they are stable
//! across exports and hosted files keep their addresses.

use std::path::Path;

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use facilitator_bot::badges::BadgeDef;
use facilitator_bot::{Course, PersonId, State};

use crate::config::IssuerConfig;

/// What an export wrote.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Exported {
    /// Badge classes.
    pub badges: usize,
    pub assertions: usize,
}

fn sha256_hex(text: &str) -> String {
    Sha256::digest(text.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// A stable, unguessable token for `what` in `course`: HMAC-SHA256 keyed with the course's
/// private seed, 128 bits in hex.
fn token(course: &Course, what: &str) -> String {
    use hmac::{Hmac, Mac};
    let key = Sha256::digest(format!("facilitator open badges:{}:{}", course.seed, course.id.0).as_bytes());
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).expect("HMAC takes keys of any length");
    mac.update(what.as_bytes());
    mac.finalize().into_bytes().iter().take(16).map(|b| format!("{b:02x}")).collect()
}

/// The file name (and id tail) of an award's assertion.
pub fn assertion_name(course: &Course, badge: &BadgeDef, person: PersonId) -> String {
    token(course, &format!("assertion:{}:{}", badge.slug, person.0))
}

/// The recipient URL of a person's badges in a course: unguessable, so its hash identifies them
/// to nobody who was not given it.
pub fn recipient_url(base_url: &str, course: &Course, person: PersonId) -> String {
    format!("{base_url}/recipients/{}", token(course, &format!("recipient:{}", person.0)))
}

fn badge_id(base: &str, course: &Course, badge: &BadgeDef) -> String {
    format!("{base}/badges/{}-{}.json", course.slug, badge.slug)
}

/// The issuer profile.
pub fn issuer(config: &IssuerConfig) -> Value {
    json!({
        "@context": "https://w3id.org/openbadges/v2",
        "type": "Issuer",
        "id": format!("{}/issuer.json", config.base_url),
        "name": config.name,
        "url": config.url,
        "email": config.email,
    })
}

/// A badge class.
pub fn badge_class(config: &IssuerConfig, course: &Course, badge: &BadgeDef) -> Value {
    let base = &config.base_url;
    json!({
        "@context": "https://w3id.org/openbadges/v2",
        "type": "BadgeClass",
        "id": badge_id(base, course, badge),
        "name": badge.name,
        "description": badge.description,
        "image": format!("{base}/badges/{}-{}.svg", course.slug, badge.slug),
        "criteria": { "narrative": format!("{} ({}: {}).", capitalise(&badge.rule.describe()), course.slug, course.settings.title) },
        "issuer": format!("{base}/issuer.json"),
        "tags": [course.slug.as_str()],
    })
}

fn capitalise(text: &str) -> String {
    let mut c = text.chars();
    c.next().map(|f| f.to_uppercase().chain(c).collect()).unwrap_or_default()
}

/// An assertion for one award, or `None` if the learner has no account to identify them by.
pub fn assertion(
    config: &IssuerConfig,
    state: &State,
    course: &Course,
    badge: &BadgeDef,
    person: PersonId,
) -> Option<Value> {
    let award = course.awards.get(&(badge.slug.clone(), person))?;
    state.persons.get(&person)?;
    let base = &config.base_url;
    let salt = token(course, &format!("salt:{}:{}", badge.slug, person.0))[..16].to_owned();
    let identity = format!("sha256${}", sha256_hex(&format!("{}{salt}", recipient_url(base, course, person))));
    // Evidence is what the learner published themselves: the links they submitted. Work
    // submitted as text stays private.
    let mut evidence: Vec<Value> = course
        .submissions
        .values()
        .filter(|s| s.author == person)
        .filter_map(|s| {
            let link = s.body.trim();
            let is_url =
                (link.starts_with("https://") || link.starts_with("http://")) && !link.contains(char::is_whitespace);
            if !is_url {
                return None;
            }
            let title = course.week_title(s.week).map(|t| format!(": {t}")).unwrap_or_default();
            Some(json!({
                "id": link,
                "narrative": format!("Week {}{title}{}", s.week, if s.late { " (late)" } else { "" }),
            }))
        })
        .collect();
    let (_, _, reviews) = course.record(person);
    if reviews > 0 {
        evidence.push(json!({ "narrative": format!("Reviewed {reviews} peer submission{} in {}.", if reviews == 1 { "" } else { "s" }, course.slug) }));
    }
    Some(json!({
        "@context": "https://w3id.org/openbadges/v2",
        "type": "Assertion",
        "id": format!("{base}/assertions/{}.json", assertion_name(course, badge, person)),
        "recipient": { "type": "url", "hashed": true, "salt": salt, "identity": identity },
        "badge": badge_id(base, course, badge),
        "verification": { "type": "hosted" },
        "issuedOn": award.at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "narrative": award.reason,
        "evidence": evidence,
    }))
}

fn svg(badge: &BadgeDef) -> String {
    let initials: String =
        badge.name.split_whitespace().filter_map(|w| w.chars().next()).take(2).collect::<String>().to_uppercase();
    let initials = initials.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"256\" height=\"256\" viewBox=\"0 0 256 256\">\
         <circle cx=\"128\" cy=\"128\" r=\"120\" fill=\"#2b6cb0\"/><circle cx=\"128\" cy=\"128\" r=\"100\" fill=\"#ffffff\"/>\
         <text x=\"128\" y=\"150\" font-family=\"sans-serif\" font-size=\"72\" text-anchor=\"middle\" fill=\"#2b6cb0\">{initials}</text></svg>\n"
    )
}

fn write_json(path: &Path, value: &Value) -> Result<()> {
    std::fs::write(path, serde_json::to_string_pretty(value)? + "\n")
        .with_context(|| format!("writing {}", path.display()))
}

/// Writes the issuer, the course's badge classes (with images) and every award's assertion.
///
/// # Errors
/// When the course does not exist or a file cannot be written.
pub fn export(config: &IssuerConfig, state: &State, course_slug: &str, out: &Path) -> Result<Exported> {
    let slug = facilitator_bot::Slug::parse(course_slug)
        .map_err(|e| anyhow::anyhow!("'{course_slug}' is not a course name: {e}"))?;
    let Some(course) = state.course_by_slug(&slug) else { bail!("there is no course '{course_slug}'") };
    std::fs::create_dir_all(out.join("badges"))?;
    std::fs::create_dir_all(out.join("assertions"))?;
    write_json(&out.join("issuer.json"), &issuer(config))?;
    let mut exported = Exported::default();
    for badge in course.badges() {
        write_json(
            &out.join(format!("badges/{}-{}.json", course.slug, badge.slug)),
            &badge_class(config, course, badge),
        )?;
        std::fs::write(out.join(format!("badges/{}-{}.svg", course.slug, badge.slug)), svg(badge))?;
        exported.badges += 1;
    }
    for (badge_slug, person) in course.awards.keys() {
        let Some(badge) = course.badge(badge_slug) else { continue };
        let Some(doc) = assertion(config, state, course, badge, *person) else { continue };
        write_json(&out.join(format!("assertions/{}.json", assertion_name(course, badge, *person))), &doc)?;
        exported.assertions += 1;
    }
    Ok(exported)
}
