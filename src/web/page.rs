//! The frame every HTML page shares: landmarks (header, main, footer), one stylesheet with a
//! light and a dark scheme (the reader's system setting), no script.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use maud::{DOCTYPE, Markup, html};

/// A whole page.
pub(crate) fn page(title: &str, site: &str, body: Markup) -> Markup {
    frame(title, site, body, None)
}

/// A whole page with the script that adds the reader's own time to each `time[data-local]`
/// (the page reads the same without it).
pub(crate) fn page_with_script(title: &str, site: &str, body: Markup) -> Markup {
    frame(title, site, body, Some("/static/local-time.js"))
}

/// A whole page with one of the site's scripts (the page works without it).
pub(crate) fn page_with(title: &str, site: &str, script: &str, body: Markup) -> Markup {
    frame(title, site, body, Some(script))
}

fn frame(title: &str, site: &str, body: Markup, script: Option<&str>) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="color-scheme" content="light dark";
                meta name="referrer" content="no-referrer";
                title { (title) " · " (site) }
                link rel="stylesheet" href="/static/site.css";
                @if let Some(script) = script { script src=(script) defer {} }
            }
            body {
                a class="skip" href="#main" { "Skip to content" }
                header {
                    nav aria-label="Site" {
                        a href="/" { (site) }
                        " "
                        a href="/issuer" class="muted" { "Badges issuer" }
                    }
                }
                main id="main" {
                    (body)
                }
                footer {
                    p { "Served by Facilitator, a peer-learning bot. " a href="/issuer" { "About the issuer" } }
                }
            }
        }
    }
}

/// An HTML answer.
pub(crate) fn html(status: StatusCode, markup: Markup) -> Response {
    (status, [(header::CONTENT_TYPE, "text/html; charset=utf-8")], markup.into_string()).into_response()
}

/// A page answered 200.
pub(crate) fn ok(markup: Markup) -> Response {
    html(StatusCode::OK, markup)
}

/// A static file, cached for an hour.
pub(crate) fn asset(content_type: &'static str, body: &'static str) -> Response {
    ([(header::CONTENT_TYPE, content_type), (header::CACHE_CONTROL, "public, max-age=3600")], body).into_response()
}

/// `response` as a download named `filename`.
pub(crate) fn attachment(mut response: Response, filename: &str) -> Response {
    let value = HeaderValue::from_str(&format!("attachment; filename=\"{filename}\""))
        .unwrap_or(HeaderValue::from_static("attachment"));
    response.headers_mut().insert(header::CONTENT_DISPOSITION, value);
    response
}

/// 500, as text, when a file could not be made (the log says why).
pub(crate) fn could_not_make(what: &str, error: &anyhow::Error) -> Response {
    tracing::warn!(error = %error, "making {what}");
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        format!("The {what} could not be made.\n"),
    )
        .into_response()
}

/// 404, as a short page.
pub(crate) fn not_found(what: &str) -> Response {
    html(
        StatusCode::NOT_FOUND,
        page(
            "Not found",
            "Facilitator",
            maud::html! {
                h1 { "Not found" }
                p { (what) " Check the address you were given; badge addresses are long and must be copied whole." }
            },
        ),
    )
}

/// `GET /static/site.css`.
pub(crate) async fn stylesheet() -> Response {
    asset("text/css; charset=utf-8", CSS)
}

const CSS: &str = r#":root { color-scheme: light dark; --bg: #ffffff; --fg: #1a1a1a; --muted: #4a4a4a; --link: #1d4ed8; --card: #f4f4f5; --line: #d4d4d8; }
@media (prefers-color-scheme: dark) {
  :root { --bg: #111113; --fg: #ededed; --muted: #b4b4b8; --link: #93c5fd; --card: #1c1c1f; --line: #3f3f46; }
}
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--fg); font: 1.05rem/1.6 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
header, main, footer { max-width: 46rem; margin: 0 auto; padding: 1rem 1.25rem; }
header { border-bottom: 1px solid var(--line); }
header nav a { font-weight: 600; text-decoration: none; }
footer { border-top: 1px solid var(--line); color: var(--muted); font-size: 0.9rem; }
a { color: var(--link); }
a:focus-visible { outline: 3px solid var(--link); outline-offset: 2px; }
.skip { position: absolute; left: -999px; }
.skip:focus { left: 1rem; top: 1rem; background: var(--bg); padding: 0.5rem; }
.badge { display: flex; gap: 1.5rem; align-items: flex-start; flex-wrap: wrap; }
.badge img { width: 160px; height: 160px; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 0.5rem; padding: 0.75rem 1rem; margin: 1rem 0; }
.muted { color: var(--muted); }
code, .url { font-family: ui-monospace, Menlo, Consolas, monospace; font-size: 0.9rem; overflow-wrap: anywhere; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: 0.25rem 1rem; }
dt { font-weight: 600; }
dd { margin: 0; }
.revoked { border-color: #b91c1c; }
header nav { display: flex; gap: 1rem; align-items: baseline; justify-content: space-between; }
table { border-collapse: collapse; width: 100%; margin: 0.5rem 0 1rem; }
th, td { text-align: left; padding: 0.35rem 0.5rem; border-bottom: 1px solid var(--line); vertical-align: top; }
thead th { border-bottom: 2px solid var(--line); }
ul.courses li { margin: 0.35rem 0; }
ul.badges { list-style: none; padding: 0; }
ul.badges li { display: flex; gap: 0.75rem; align-items: flex-start; margin: 0.75rem 0; }
ul.badges img { flex: none; }
section.week { border-top: 1px solid var(--line); margin-top: 1.25rem; }
figure.chart { margin: 1rem 0; overflow-x: auto; }
figure.chart svg { max-width: 100%; height: auto; background: #ffffff; border-radius: 0.25rem; }
.key::before { content: ""; display: inline-block; width: 0.8em; height: 0.8em; margin-right: 0.3em; vertical-align: -0.05em; }
.key.on-time::before { background: #1d4ed8; }
.key.late::before { background: #d97706; }
.key.not-yet::before { background: #a1a1aa; }
dl.definitions { font-size: 0.9rem; color: var(--muted); }
button { font: inherit; padding: 0.5rem 1rem; border-radius: 0.375rem; border: 1px solid #1e3a8a; background: #1d4ed8; color: #ffffff; cursor: pointer; }
"#;
