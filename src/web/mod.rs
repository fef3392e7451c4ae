//! The community's web face, served by the bot itself: the catalogue of public courses and
//! their pages, the profiles people asked for, and hosted, verifiable Open Badges (see
//! `docs/web.md`).
//!
//! Built on axum. Every page reads the latest [`Snapshot`] the engine published (a clone of an
//! `Arc` from a `watch` channel): a page never waits for the engine, never takes a lock the
//! engine holds, and never reads the database. HTML is rendered on the server with maud
//! (templates checked by the compiler, every value escaped), readable without JavaScript.
//!
//! Addresses are stable: a badge's address is part of what it certifies, so routes only grow.

pub mod auth;
mod badges;
mod charts;
mod courses;
mod dashboard;
mod markdown;
mod page;
mod places;

pub use places::Places;

use std::sync::Arc;

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tracing::warn;

use crate::config::IssuerConfig;
use crate::credentials::Signer;
use crate::snapshot::Snapshot;
use facilitator_storage::Store;

/// Longest request target served (path and query); longer ones are answered 414.
pub const MAX_URI: usize = 2048;

/// What every page reads.
#[derive(Debug, Clone)]
pub struct Web {
    inner: Arc<Inner>,
}

#[derive(Debug, Clone)]
struct Inner {
    snapshots: watch::Receiver<Arc<Snapshot>>,
    origin: String,
    issuer: IssuerConfig,
    places: Places,
    signer: Option<Signer>,
    store: Option<Store>,
}

impl Web {
    /// The web face over the engine's snapshots, seen at `origin` (`[web] public_url`); its
    /// course pages point people to the bot and the rooms in `places`.
    pub fn new(snapshots: watch::Receiver<Arc<Snapshot>>, origin: String, issuer: IssuerConfig, places: Places) -> Web {
        Web { inner: Arc::new(Inner { snapshots, origin, issuer, places, signer: None, store: None }) }
    }

    /// Signs Open Badges 3.0 credentials with `signer` (without one, they are served unsigned
    /// and the JWT addresses answer 503).
    #[must_use]
    pub fn with_signer(self, signer: Signer) -> Web {
        let mut inner = Arc::unwrap_or_clone(self.inner);
        inner.signer = Some(signer);
        Web { inner: Arc::new(inner) }
    }

    /// Signs people into the dashboard with `store` (sign-in links and sessions live there;
    /// without one, the dashboard asks everyone to sign in).
    #[must_use]
    pub fn with_store(self, store: Store) -> Web {
        let mut inner = Arc::unwrap_or_clone(self.inner);
        inner.store = Some(store);
        Web { inner: Arc::new(inner) }
    }

    fn store(&self) -> Option<&Store> {
        self.inner.store.as_ref()
    }

    fn signer(&self) -> Option<&Signer> {
        self.inner.signer.as_ref()
    }

    /// The latest published state.
    fn snapshot(&self) -> Arc<Snapshot> {
        Arc::clone(&self.inner.snapshots.borrow())
    }

    fn origin(&self) -> &str {
        &self.inner.origin
    }

    fn issuer(&self) -> &IssuerConfig {
        &self.inner.issuer
    }

    fn places(&self) -> &Places {
        &self.inner.places
    }
}

/// Every page of the web face.
pub fn router(web: Web) -> Router {
    Router::new()
        .route("/", get(courses::catalogue))
        .route("/courses/{course}", get(courses::course))
        .route("/people/{id}", get(courses::person))
        .route("/issuer", get(badges::issuer))
        .route("/badges/{course}/{badge}", get(badges::badge_class))
        .route("/badges/{course}/{badge}/image.svg", get(badges::image))
        .route("/assertions/{id}", get(badges::assertion))
        .route("/assertions/{id}/{file}", get(badges::baked))
        .route("/credentials/{id}", get(badges::credential))
        .route("/credentials/{id}/{file}", get(badges::credential_baked))
        .route("/.well-known/jwks.json", get(badges::jwks))
        .route("/login/{secret}", get(dashboard::login_page).post(dashboard::login))
        .route("/dashboard", get(dashboard::home))
        .route("/dashboard/courses/{course}", get(dashboard::course))
        .route("/dashboard/courses/{course}/{file}", get(dashboard::course_csv))
        .route("/dashboard/community", get(dashboard::community))
        .route("/dashboard/community/{file}", get(dashboard::community_csv))
        .route("/static/site.css", get(page::stylesheet))
        .route("/static/local-time.js", get(courses::local_time_script))
        .route("/static/sign-in.js", get(dashboard::sign_in_script))
        .with_state(web)
        .fallback(not_found)
}

/// Headers and limits for every answer: targets longer than [`MAX_URI`] are refused before
/// routing; pages may not be framed, sniffed, or leak their (unguessable) address to the sites
/// they link to.
pub fn harden(router: Router) -> Router {
    router.layer(middleware::from_fn(guard))
}

async fn guard(request: Request, next: Next) -> Response {
    let target = request.uri().path_and_query().map_or(0, |p| p.as_str().len());
    let mut response = if target > MAX_URI {
        text(StatusCode::URI_TOO_LONG, format!("This address is too long (over {MAX_URI} characters).\n"))
    } else {
        next.run(request).await
    };
    let headers = response.headers_mut();
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.entry(header::CONTENT_SECURITY_POLICY).or_insert(HeaderValue::from_static(
        "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    ));
    response
}

/// A plain-text answer.
pub(crate) fn text(status: StatusCode, body: String) -> Response {
    (status, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], body).into_response()
}

async fn not_found() -> Response {
    page::not_found("There is no page at this address.")
}

/// Whether the client asked for JSON(-LD) rather than a page: by the `Accept` header's
/// weights, HTML only when it is weighted above JSON (a browser); a client that names neither
/// (a verifier, `curl`) gets JSON.
pub(crate) fn wants_json(headers: &HeaderMap) -> bool {
    let Some(accept) = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()) else { return true };
    let (mut html, mut json, mut any) = (None::<f32>, None::<f32>, None::<f32>);
    for item in accept.split(',') {
        let mut parts = item.split(';');
        let kind = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
        let q =
            parts.filter_map(|p| p.trim().strip_prefix("q=")).find_map(|q| q.trim().parse::<f32>().ok()).unwrap_or(1.0);
        let slot = match kind.as_str() {
            "text/html" | "application/xhtml+xml" => &mut html,
            "application/ld+json" | "application/json" => &mut json,
            "*/*" => &mut any,
            _ => continue,
        };
        *slot = Some(slot.map_or(q, |old| old.max(q)));
    }
    let html = html.or(any).unwrap_or(0.0);
    let json = json.or(any).unwrap_or(0.0);
    json >= html
}

/// Serves `router` on `listener` until `stop` turns true; requests under way are finished.
pub async fn serve(listener: TcpListener, router: Router, mut stop: watch::Receiver<bool>) {
    let shutdown = async move {
        let _ = stop.wait_for(|stopped| *stopped).await;
    };
    if let Err(e) = axum::serve(listener, harden(router)).with_graceful_shutdown(shutdown).await {
        warn!(error = %e, "the web server stopped");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::ACCEPT, HeaderValue::from_str(value).unwrap());
        h
    }

    #[test]
    fn browsers_get_pages_and_verifiers_get_json() {
        let firefox = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";
        assert!(!wants_json(&accept(firefox)));
        assert!(wants_json(&accept("application/ld+json, application/json")));
        assert!(wants_json(&accept("*/*")), "curl");
        assert!(wants_json(&HeaderMap::new()), "no Accept at all");
        assert!(wants_json(&accept("application/json, text/html;q=0.5")));
        assert!(!wants_json(&accept("text/html")));
    }
}
