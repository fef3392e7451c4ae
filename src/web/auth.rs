//! Signing into the dashboard. `!dashboard` makes the runtime mint a one-time link (a 256-bit
//! secret from the system's random source; the store keeps only its SHA-256) valid for
//! [`LOGIN_VALID`]. Opening it shows a page with one button: chat clients and link previewers
//! fetch links they see, so a plain `GET` must not use the link up; the button's `POST` does,
//! exactly once, and opens a session: another secret, in an `HttpOnly`, `SameSite=Lax` cookie
//! (`Secure` when the origin is https), valid for [`SESSION_VALID`], stored hashed and ended by
//! `!dashboard logout`.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use sha2::{Digest, Sha256};

/// How long a sign-in link works.
pub const LOGIN_VALID: chrono::Duration = chrono::Duration::minutes(15);

/// How long a session lasts.
pub const SESSION_VALID: chrono::Duration = chrono::Duration::hours(12);

/// The session cookie's name.
pub const COOKIE: &str = "facilitator_session";

/// A fresh secret: 256 bits from the system's random source, base64url.
///
/// # Errors
/// When the system has no random source.
pub fn mint() -> anyhow::Result<String> {
    let mut secret = [0u8; 32];
    getrandom::fill(&mut secret).map_err(|e| anyhow::anyhow!("no random source: {e}"))?;
    Ok(B64.encode(secret))
}

/// What the store keeps of a secret.
pub fn hash(secret: &str) -> String {
    Sha256::digest(secret.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether `text` has the shape of a minted secret (43 base64url characters): anything else is
/// refused before the store is asked.
pub fn well_formed(text: &str) -> bool {
    text.len() == 43 && text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The `Set-Cookie` value of a new session.
pub fn session_cookie(secret: &str, secure: bool) -> String {
    format!(
        "{COOKIE}={secret}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}{}",
        SESSION_VALID.num_seconds(),
        if secure { "; Secure" } else { "" }
    )
}

/// The session secret in a request's cookies, if well formed.
pub fn session_secret(headers: &axum::http::HeaderMap) -> Option<String> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, value)| *name == COOKIE && well_formed(value))
        .map(|(_, value)| value.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_fresh_well_formed_and_stored_only_hashed() {
        let (a, b) = (mint().unwrap(), mint().unwrap());
        assert_ne!(a, b);
        assert!(well_formed(&a) && well_formed(&b));
        assert_eq!(hash(&a).len(), 64);
        assert!(!hash(&a).contains(&a));
        assert!(!well_formed("short") && !well_formed(&format!("{}!", &a[..42])));
    }

    #[test]
    fn the_cookie_is_http_only_lax_and_secure_on_https() {
        let cookie = session_cookie("s3cr3t", true);
        assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax") && cookie.ends_with("; Secure"));
        assert!(!session_cookie("s3cr3t", false).contains("Secure"));
        let secret = mint().unwrap();
        let mut headers = axum::http::HeaderMap::new();
        headers.insert(axum::http::header::COOKIE, format!("other=1; {COOKIE}={secret}; x=y").parse().unwrap());
        assert_eq!(session_secret(&headers), Some(secret));
        headers.insert(axum::http::header::COOKIE, format!("{COOKIE}=../../etc").parse().unwrap());
        assert_eq!(session_secret(&headers), None);
    }
}
