//! Open Badges 3.0 beside 2.0: each award is also an `OpenBadgeCredential` (a W3C Verifiable
//! Credential), signed as a VC-JWT with the issuer's Ed25519 key (`EdDSA`), whose public half
//! is published as a JWKS on the same origin.
//!
//! The JWT's payload is the credential itself with the registered claims a VC-JWT adds
//! (`iss` the issuer's id, `jti` the credential's id, `nbf` when it became valid); its header
//! names the key (`kid`, the key's RFC 7638 thumbprint, found in `/.well-known/jwks.json`) and
//! carries it (`jwk`), so a verifier needs nothing but the token and this origin. The recipient
//! is the same salted hash as in the 2.0 assertion. The key is made once and kept in the
//! database (every instance signs with it); the signature is computed per request, as the
//! credential is (it is as live as the snapshot).
//!
//! A signed token stays valid where it is carried: revocation shows at the credential's
//! address (`410 Gone`, as for 2.0), which a verifier must ask. A status list in the token is
//! not built yet.

use anyhow::{Context, Result, bail};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use ed25519_dalek::{Signer as _, SigningKey};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use facilitator_bot::badges::BadgeDef;
use facilitator_bot::{Course, PersonId, State};

use crate::config::IssuerConfig;
use crate::openbadges::{self, Urls};

/// The JOSE algorithm of the issuer's key.
pub const ALGORITHM: &str = "EdDSA";

/// The contexts an Open Badges 3.0 credential names.
pub const CONTEXTS: [&str; 2] =
    ["https://www.w3.org/ns/credentials/v2", "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"];

/// The issuer's signing key.
#[derive(Clone)]
pub struct Signer {
    key: SigningKey,
    kid: String,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer").field("kid", &self.kid).finish_non_exhaustive()
    }
}

impl Signer {
    /// A new secret, in the form [`Signer::from_secret`] reads (base64url, 32 bytes).
    ///
    /// # Errors
    /// When the system has no random source.
    pub fn fresh_secret() -> Result<String> {
        let mut secret = [0u8; 32];
        getrandom::fill(&mut secret).map_err(|e| anyhow::anyhow!("no random source: {e}"))?;
        Ok(B64.encode(secret))
    }

    /// The signer of a stored secret.
    ///
    /// # Errors
    /// When the secret is not 32 bytes of base64url.
    pub fn from_secret(secret: &str) -> Result<Signer> {
        let bytes = B64.decode(secret.trim()).context("the stored signing key is not base64url")?;
        let Ok(bytes) = <[u8; 32]>::try_from(bytes.as_slice()) else { bail!("the stored signing key is not 32 bytes") };
        let key = SigningKey::from_bytes(&bytes);
        let x = B64.encode(key.verifying_key().as_bytes());
        // RFC 7638: the SHA-256 of the required members, in lexical order, without spaces.
        let thumbprint = Sha256::digest(format!("{{\"crv\":\"Ed25519\",\"kty\":\"OKP\",\"x\":\"{x}\"}}").as_bytes());
        Ok(Signer { key, kid: B64.encode(thumbprint) })
    }

    /// The key's id (its RFC 7638 thumbprint).
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public key as a JWK.
    pub fn jwk(&self) -> Value {
        json!({
            "kty": "OKP",
            "crv": "Ed25519",
            "x": B64.encode(self.key.verifying_key().as_bytes()),
            "kid": self.kid,
            "alg": ALGORITHM,
            "use": "sig",
        })
    }

    /// The JWKS to publish.
    pub fn jwks(&self) -> Value {
        json!({ "keys": [self.jwk()] })
    }

    /// `payload` signed as a compact JWS (`header.payload.signature`).
    pub fn sign(&self, typ: &str, payload: &Value) -> String {
        let header = json!({ "alg": ALGORITHM, "typ": typ, "kid": self.kid, "jwk": self.jwk() });
        let input = format!(
            "{}.{}",
            B64.encode(serde_json::to_vec(&header).unwrap_or_default()),
            B64.encode(serde_json::to_vec(payload).unwrap_or_default())
        );
        let signature = self.key.sign(input.as_bytes());
        format!("{input}.{}", B64.encode(signature.to_bytes()))
    }
}

/// The address of an award's credential.
pub fn credential_url(origin: &str, assertion: &facilitator_bot::AssertionId) -> String {
    format!("{origin}/credentials/{assertion}")
}

/// The `OpenBadgeCredential` of one award, or `None` if there is no such award or person.
pub fn credential(
    origin: &str,
    issuer: &IssuerConfig,
    state: &State,
    course: &Course,
    badge: &BadgeDef,
    person: PersonId,
) -> Option<Value> {
    let award = course.awards.get(&(badge.slug.clone(), person))?;
    let email = state.persons.get(&person)?.badge_email.as_ref();
    let urls = Urls::Hosted { origin };
    let recipient = openbadges::recipient(urls, course, badge, person, email);
    let identity_type = if email.is_some() { "emailAddress" } else { "identifier" };
    let mut achievement = json!({
        "id": urls.badge(course, badge),
        "type": ["Achievement"],
        "name": badge.name,
        "description": if badge.description.trim().is_empty() { openbadges::criteria(course, badge) } else { badge.description.clone() },
        "criteria": { "narrative": openbadges::criteria(course, badge) },
        "image": { "id": urls.image(course, badge), "type": "Image" },
    });
    if let Some(school) = course.settings.school.and_then(|s| state.schools.get(&s)) {
        achievement["tag"] = json!([school.name]);
    }
    let evidence: Vec<Value> = openbadges::evidence(course, person)
        .into_iter()
        .map(|item| {
            let mut out = Map::new();
            out.insert("type".into(), json!(["Evidence"]));
            if let Some(id) = item.get("id") {
                out.insert("id".into(), id.clone());
            }
            if let Some(narrative) = item.get("narrative") {
                out.insert("narrative".into(), narrative.clone());
            }
            Value::Object(out)
        })
        .collect();
    let mut subject = json!({
        "type": ["AchievementSubject"],
        "identifier": [{
            "type": "IdentityObject",
            "identityHash": recipient["identity"],
            "identityType": identity_type,
            "hashed": true,
            "salt": recipient["salt"],
        }],
        "achievement": achievement,
    });
    if !award.reason.trim().is_empty() {
        subject["narrative"] = json!(award.reason);
    }
    let mut credential = json!({
        "@context": CONTEXTS,
        "id": credential_url(origin, &award.assertion),
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "issuer": {
            "id": urls.issuer(),
            "type": ["Profile"],
            "name": issuer.name,
            "url": issuer.url,
            "email": issuer.email,
        },
        "validFrom": award.at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "name": badge.name,
        "credentialSubject": subject,
    });
    if !evidence.is_empty() {
        credential["evidence"] = Value::Array(evidence);
    }
    Some(credential)
}

/// The credential as a VC-JWT: the credential's members with `iss`, `jti` and `nbf`.
pub fn jwt(signer: &Signer, credential: &Value) -> String {
    let mut payload = credential.clone();
    payload["iss"] = credential["issuer"]["id"].clone();
    payload["jti"] = credential["id"].clone();
    if let Some(valid) = credential["validFrom"].as_str().and_then(|v| chrono::DateTime::parse_from_rfc3339(v).ok()) {
        payload["nbf"] = json!(valid.timestamp());
    }
    signer.sign("JWT", &payload)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::{Signature, Verifier};

    #[test]
    fn a_signed_token_verifies_with_the_published_key_and_a_changed_one_does_not() {
        let signer = Signer::from_secret(&Signer::fresh_secret().unwrap()).unwrap();
        let token = signer.sign("JWT", &json!({ "iss": "https://learn.example.org/issuer", "name": "Data Star" }));
        let parts: Vec<&str> = token.split('.').collect();
        assert_eq!(parts.len(), 3);
        let header: Value = serde_json::from_slice(&B64.decode(parts[0]).unwrap()).unwrap();
        assert_eq!(header["alg"], "EdDSA");
        assert_eq!(header["kid"], signer.kid());
        let x = B64.decode(signer.jwks()["keys"][0]["x"].as_str().unwrap()).unwrap();
        let key = ed25519_dalek::VerifyingKey::from_bytes(&x.try_into().unwrap()).unwrap();
        let signature = Signature::from_slice(&B64.decode(parts[2]).unwrap()).unwrap();
        assert!(key.verify(format!("{}.{}", parts[0], parts[1]).as_bytes(), &signature).is_ok());
        let forged = B64.encode(br#"{"iss":"https://learn.example.org/issuer","name":"Gold Star"}"#);
        assert!(key.verify(format!("{}.{forged}", parts[0]).as_bytes(), &signature).is_err());
    }

    #[test]
    fn a_stored_secret_gives_the_same_key_and_id_every_time_and_nonsense_is_refused() {
        let secret = Signer::fresh_secret().unwrap();
        assert_eq!(Signer::from_secret(&secret).unwrap().jwk(), Signer::from_secret(&secret).unwrap().jwk());
        assert_ne!(
            Signer::from_secret(&Signer::fresh_secret().unwrap()).unwrap().kid(),
            Signer::from_secret(&secret).unwrap().kid()
        );
        assert!(Signer::from_secret("not base64!").is_err());
        assert!(Signer::from_secret(&B64.encode([1u8; 16])).is_err());
        assert!(!format!("{:?}", Signer::from_secret(&secret).unwrap()).contains(&secret), "never logged");
    }
}
