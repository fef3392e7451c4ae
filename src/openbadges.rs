//! Open Badges 2.0 documents: the issuer profile, a badge class, an award's assertion. Written
//! once, laid out two ways ([`Urls`]): served live by the bot's web face (`crate::web`), and
//! exported as JSON files laid out the way their ids say they are hosted
//! (`{base_url}/issuer.json`, `{base_url}/badges/...`, `{base_url}/assertions/...`).
//!
//! Nothing in the files identifies a learner to anyone who did not already know: the recipient
//! is the email they gave for their badges (`!badge email`) or else an unguessable per-person
//! URL (not their chat profile, which anyone could hash and compare), hashed with SHA-256 and
//! a salt; assertion ids are unguessable and unrelated to each
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

/// Where each document lives.
#[derive(Debug, Clone, Copy)]
pub enum Urls<'a> {
    /// Files written by `facilitator badges export`, served by someone at `base`.
    Export {
        /// `[badges] base_url`.
        base: &'a str,
    },
    /// Served by the bot's web face at its public origin.
    Hosted {
        /// `[web] public_url`.
        origin: &'a str,
    },
}

impl Urls<'_> {
    /// The issuer profile.
    pub fn issuer(&self) -> String {
        match self {
            Urls::Export { base } => format!("{base}/issuer.json"),
            Urls::Hosted { origin } => format!("{origin}/issuer"),
        }
    }

    /// A badge class.
    pub fn badge(&self, course: &Course, badge: &BadgeDef) -> String {
        match self {
            Urls::Export { base } => format!("{base}/badges/{}-{}.json", course.slug, badge.slug),
            Urls::Hosted { origin } => format!("{origin}/badges/{}/{}", course.slug, badge.slug),
        }
    }

    /// A badge class's image.
    pub fn image(&self, course: &Course, badge: &BadgeDef) -> String {
        match self {
            Urls::Export { base } => format!("{base}/badges/{}-{}.svg", course.slug, badge.slug),
            Urls::Hosted { origin } => format!("{origin}/badges/{}/{}/image.svg", course.slug, badge.slug),
        }
    }

    /// An award's assertion.
    pub fn assertion(&self, course: &Course, badge: &BadgeDef, person: PersonId) -> Option<String> {
        match self {
            Urls::Export { base } => Some(format!("{base}/assertions/{}.json", assertion_name(course, badge, person))),
            Urls::Hosted { origin } => {
                let award = course.awards.get(&(badge.slug.clone(), person))?;
                Some(format!("{origin}/assertions/{}", award.assertion))
            }
        }
    }

    fn base(&self) -> &str {
        match self {
            Urls::Export { base } => base,
            Urls::Hosted { origin } => origin,
        }
    }
}

/// The issuer profile.
pub fn issuer(config: &IssuerConfig, urls: Urls<'_>) -> Value {
    json!({
        "@context": "https://w3id.org/openbadges/v2",
        "type": "Issuer",
        "id": urls.issuer(),
        "name": config.name,
        "url": config.url,
        "email": config.email,
    })
}

/// What earns a badge, in a sentence.
pub fn criteria(course: &Course, badge: &BadgeDef) -> String {
    format!("{} ({}: {}).", capitalise(&badge.rule.describe()), course.slug, course.settings.title)
}

/// A badge class.
pub fn badge_class(urls: Urls<'_>, course: &Course, badge: &BadgeDef) -> Value {
    json!({
        "@context": "https://w3id.org/openbadges/v2",
        "type": "BadgeClass",
        "id": urls.badge(course, badge),
        "name": badge.name,
        "description": if badge.description.trim().is_empty() { badge.name.clone() } else { badge.description.clone() },
        "image": urls.image(course, badge),
        "criteria": { "narrative": criteria(course, badge) },
        "issuer": urls.issuer(),
        "tags": [course.slug.as_str()],
    })
}

fn capitalise(text: &str) -> String {
    let mut c = text.chars();
    c.next().map(|f| f.to_uppercase().chain(c).collect()).unwrap_or_default()
}

/// Evidence of an award: the links the learner submitted (work submitted as text stays
/// private), each with its week; and how many peer submissions they reviewed.
pub fn evidence(course: &Course, person: PersonId) -> Vec<Value> {
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
    evidence
}

/// Who an assertion is for: the email the person gave for their badges, else their
/// unguessable recipient URL; either only as a salted SHA-256 hash (what backpacks compare).
pub fn recipient(
    urls: Urls<'_>,
    course: &Course,
    badge: &BadgeDef,
    person: PersonId,
    email: Option<&facilitator_bot::Email>,
) -> Value {
    let salt = token(course, &format!("salt:{}:{}", badge.slug, person.0))[..16].to_owned();
    let (kind, plain) = match email {
        Some(email) => ("email", email.as_str().to_owned()),
        None => ("url", recipient_url(urls.base(), course, person)),
    };
    json!({ "type": kind, "hashed": true, "salt": salt, "identity": format!("sha256${}", sha256_hex(&format!("{plain}{salt}"))) })
}

/// An assertion for one award, or `None` if there is no such award or person.
pub fn assertion(urls: Urls<'_>, state: &State, course: &Course, badge: &BadgeDef, person: PersonId) -> Option<Value> {
    let award = course.awards.get(&(badge.slug.clone(), person))?;
    let recipient = recipient(urls, course, badge, person, state.persons.get(&person)?.badge_email.as_ref());
    let evidence = evidence(course, person);
    Some(json!({
        "@context": "https://w3id.org/openbadges/v2",
        "type": "Assertion",
        "id": urls.assertion(course, badge, person)?,
        "recipient": recipient,
        "badge": urls.badge(course, badge),
        "verification": { "type": "hosted" },
        "issuedOn": award.at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "narrative": award.reason,
        "evidence": evidence,
    }))
}

/// The generated image of a badge class: a disc in its school's colour with the badge's name.
pub fn image(course: &Course, badge: &BadgeDef, school: Option<&facilitator_bot::state::School>) -> String {
    let key = school.map_or(course.slug.as_str(), |s| s.slug.as_str());
    let colour = PALETTE[usize::from(Sha256::digest(key.as_bytes())[0]) % PALETTE.len()];
    let escape = |t: &str| t.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;");
    // The name in up to three lines of about 12 characters.
    let mut lines: Vec<String> = Vec::new();
    for word in badge.name.split_whitespace() {
        match lines.last_mut() {
            Some(line) if line.chars().count() + 1 + word.chars().count() <= 12 => {
                line.push(' ');
                line.push_str(word);
            }
            _ => lines.push(word.to_owned()),
        }
    }
    if lines.len() > 3 {
        lines.truncate(3);
        lines[2].push('…');
    }
    let longest = lines.iter().map(|l| l.chars().count()).max().unwrap_or(1).max(6);
    let size = (300 / longest).clamp(18, 44);
    let top = 128 - (lines.len() * size) / 2 + size * 4 / 5;
    let text: String = lines
        .iter()
        .enumerate()
        .map(|(i, l)| format!("<tspan x=\"128\" y=\"{}\">{}</tspan>", top + i * size, escape(l)))
        .collect();
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"256\" height=\"256\" viewBox=\"0 0 256 256\" role=\"img\" aria-labelledby=\"t\">\
         <title id=\"t\">{name} badge</title>\
         <circle cx=\"128\" cy=\"128\" r=\"124\" fill=\"{colour}\"/><circle cx=\"128\" cy=\"128\" r=\"110\" fill=\"none\" stroke=\"#ffffff\" stroke-width=\"4\"/>\
         <text font-family=\"sans-serif\" font-weight=\"bold\" font-size=\"{size}\" text-anchor=\"middle\" fill=\"#ffffff\">{text}</text></svg>\n",
        name = escape(&badge.name)
    )
}

/// Colours that white text reads on (contrast at least 4.5:1), one per school.
const PALETTE: [&str; 8] = ["#1d4ed8", "#047857", "#b91c1c", "#6d28d9", "#b45309", "#0f766e", "#be185d", "#4338ca"];

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
    let urls = Urls::Export { base: &config.base_url };
    write_json(&out.join("issuer.json"), &issuer(config, urls))?;
    let mut exported = Exported::default();
    for badge in course.badges() {
        write_json(
            &out.join(format!("badges/{}-{}.json", course.slug, badge.slug)),
            &badge_class(urls, course, badge),
        )?;
        let school = course.settings.school.and_then(|s| state.schools.get(&s));
        std::fs::write(out.join(format!("badges/{}-{}.svg", course.slug, badge.slug)), image(course, badge, school))?;
        exported.badges += 1;
    }
    for (badge_slug, person) in course.awards.keys() {
        let Some(badge) = course.badge(badge_slug) else { continue };
        let Some(doc) = assertion(urls, state, course, badge, *person) else { continue };
        write_json(&out.join(format!("assertions/{}.json", assertion_name(course, badge, *person))), &doc)?;
        exported.assertions += 1;
    }
    Ok(exported)
}
