//! The operator's endpoints: `GET /healthz` (the database and every adapter answer) and
//! `GET /metrics` (Prometheus text format), served on the address in `[ops] listen`.
//!
//! Served with axum like the web face (see [`crate::web`]): on their own listener (loopback, for
//! a scraper), or on the web face's when `[ops] listen` is the same address as `[web] listen`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tracing::warn;

use facilitator_storage::Store;

use crate::adapters::Adapters;

/// Counters and gauges of one process, shared by the engine, the executor and the server.
#[derive(Debug, Default)]
pub struct Metrics {
    inner: Mutex<Counters>,
}

#[derive(Debug, Default, Clone)]
struct Counters {
    commands: BTreeMap<(&'static str, &'static str), u64>,
    joins: u64,
    deduplicated: u64,
    catch_ups: u64,
    jobs: BTreeMap<&'static str, u64>,
    job_lag_last: f64,
    job_lag_max: f64,
    effects_sent: u64,
    effects_failed: u64,
    effects_retried: u64,
}

/// What one committed batch adds to the metrics; kept apart until the batch is stored, so a
/// batch that fails and is retried is not counted twice.
#[derive(Debug, Default)]
pub struct Tally {
    commands: Vec<(&'static str, &'static str)>,
    joins: u64,
    deduplicated: u64,
    catch_ups: u64,
    jobs: Vec<(&'static str, f64)>,
}

impl Tally {
    /// A command of `kind` decided with `outcome` (`ok`, `refused`).
    pub fn command(&mut self, kind: &'static str, outcome: &'static str) {
        self.commands.push((kind, outcome));
    }

    /// A member joined a course room on the platform.
    pub fn join(&mut self) {
        self.joins += 1;
    }

    /// Events dropped as already handled.
    pub fn deduplicated(&mut self, n: usize) {
        self.deduplicated += n as u64;
    }

    /// The state was reloaded because another instance had written.
    pub fn catch_up(&mut self) {
        self.catch_ups += 1;
    }

    /// A job of `kind` ran `lag` after its due time.
    pub fn job(&mut self, kind: &'static str, lag: chrono::Duration) {
        let seconds = lag.num_milliseconds().max(0) as f64 / 1000.0;
        self.jobs.push((kind, seconds));
    }
}

impl Metrics {
    fn lock(&self) -> std::sync::MutexGuard<'_, Counters> {
        self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Adds a stored batch's tally.
    pub fn record(&self, tally: Tally) {
        let mut c = self.lock();
        for key in tally.commands {
            *c.commands.entry(key).or_default() += 1;
        }
        c.joins += tally.joins;
        c.deduplicated += tally.deduplicated;
        c.catch_ups += tally.catch_ups;
        for (kind, lag) in tally.jobs {
            *c.jobs.entry(kind).or_default() += 1;
            c.job_lag_last = lag;
            c.job_lag_max = c.job_lag_max.max(lag);
        }
    }

    /// Effects performed, given up, and held for a retry.
    pub fn effects(&self, sent: usize, failed: usize, retried: usize) {
        let mut c = self.lock();
        c.effects_sent += sent as u64;
        c.effects_failed += failed as u64;
        c.effects_retried += retried as u64;
    }

    /// A command count, for tests and the benchmark.
    pub fn commands(&self, kind: &str, outcome: &str) -> u64 {
        self.lock().commands.iter().filter(|((k, o), _)| *k == kind && *o == outcome).map(|(_, n)| n).sum()
    }

    /// The Prometheus text exposition, with the outbox counts read at scrape time.
    pub fn render(&self, outbox: Option<(i64, i64, i64)>) -> String {
        let c = self.lock().clone();
        let mut out = String::new();
        let commands: Vec<(String, String)> = c
            .commands
            .iter()
            .map(|((kind, outcome), n)| (format!("{{command=\"{kind}\",outcome=\"{outcome}\"}}"), n.to_string()))
            .collect();
        family(
            &mut out,
            "facilitator_commands_total",
            "counter",
            "Chat commands decided, by command and outcome.",
            &commands,
        );
        let one = |v: String| vec![(String::new(), v)];
        family(
            &mut out,
            "facilitator_joins_total",
            "counter",
            "Members who joined a course room on the platform.",
            &one(c.joins.to_string()),
        );
        family(
            &mut out,
            "facilitator_events_deduplicated_total",
            "counter",
            "Inbound events dropped because they were already handled (replays, other instances).",
            &one(c.deduplicated.to_string()),
        );
        family(
            &mut out,
            "facilitator_state_reloads_total",
            "counter",
            "Times this instance reloaded the state because another instance had written to the database.",
            &one(c.catch_ups.to_string()),
        );
        let jobs: Vec<(String, String)> =
            c.jobs.iter().map(|(kind, n)| (format!("{{kind=\"{kind}\"}}"), n.to_string())).collect();
        family(&mut out, "facilitator_jobs_total", "counter", "Scheduled jobs run, by kind.", &jobs);
        family(
            &mut out,
            "facilitator_job_lag_seconds",
            "gauge",
            "How late the most recent job ran after its due time.",
            &one(c.job_lag_last.to_string()),
        );
        family(
            &mut out,
            "facilitator_job_lag_max_seconds",
            "gauge",
            "The latest any job ran after its due time since the process started.",
            &one(c.job_lag_max.to_string()),
        );
        family(
            &mut out,
            "facilitator_effects_sent_total",
            "counter",
            "Effects performed on the chat platforms.",
            &one(c.effects_sent.to_string()),
        );
        family(
            &mut out,
            "facilitator_effects_failed_total",
            "counter",
            "Effects given up after a permanent failure.",
            &one(c.effects_failed.to_string()),
        );
        family(
            &mut out,
            "facilitator_effects_retried_total",
            "counter",
            "Retryable failures that held the queue for a retry.",
            &one(c.effects_retried.to_string()),
        );
        if let Some((pending, done, failed)) = outbox {
            let states = [("pending", pending), ("done", done), ("failed", failed)]
                .map(|(state, n)| (format!("{{state=\"{state}\"}}"), n.to_string()));
            family(&mut out, "facilitator_outbox_effects", "gauge", "Effects in the outbox, by state.", &states);
        }
        out
    }
}

/// One metric family: its HELP and TYPE lines, then its samples (labels, value).
fn family(out: &mut String, name: &str, kind: &str, help: &str, samples: &[(String, String)]) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
    for (labels, value) in samples {
        let _ = writeln!(out, "{name}{labels} {value}");
    }
}

/// How long the platforms' answers to a health check are reused: a scraper (or anyone who can
/// reach the endpoint) asking many times a second must not turn into as many platform calls.
pub const PLATFORM_HEALTH_TTL: Duration = Duration::from_secs(5);

/// A value computed at most once per `ttl`; callers that come while it is being computed wait
/// for that one computation.
#[derive(Debug)]
pub struct Cached<T> {
    ttl: Duration,
    value: tokio::sync::Mutex<Option<(std::time::Instant, T)>>,
}

impl<T: Clone> Cached<T> {
    /// Empty, keeping values for `ttl`.
    pub fn new(ttl: Duration) -> Cached<T> {
        Cached { ttl, value: tokio::sync::Mutex::new(None) }
    }

    /// The value, computed by `refresh` when it is missing or older than the ttl.
    pub async fn get<F: std::future::Future<Output = T>>(&self, refresh: impl FnOnce() -> F) -> T {
        let mut slot = self.value.lock().await;
        if let Some((at, value)) = slot.as_ref()
            && at.elapsed() < self.ttl
        {
            return value.clone();
        }
        let value = refresh().await;
        *slot = Some((std::time::Instant::now(), value.clone()));
        value
    }
}

/// What the endpoints look at.
#[derive(Debug, Clone)]
pub struct Ops {
    /// The process's metrics.
    pub metrics: Arc<Metrics>,
    /// The database.
    pub store: Store,
    /// The chat platforms.
    pub adapters: Adapters,
    /// The platforms' last answers (healthy, and the body lines).
    platforms: Arc<Cached<(bool, String)>>,
}

impl Ops {
    /// The endpoints over these.
    pub fn new(metrics: Arc<Metrics>, store: Store, adapters: Adapters) -> Ops {
        Ops { metrics, store, adapters, platforms: Arc::new(Cached::new(PLATFORM_HEALTH_TTL)) }
    }

    /// `200 ok` with a line per component, or `503` naming what is down. The database is asked
    /// every time (a local ping); the platforms at most every [`PLATFORM_HEALTH_TTL`].
    async fn health(&self) -> (u16, String) {
        let mut body = String::new();
        let mut healthy = true;
        match tokio::time::timeout(Duration::from_secs(5), self.store.ping()).await {
            Ok(Ok(())) => body.push_str("database: ok\n"),
            Ok(Err(e)) => {
                healthy = false;
                let _ = writeln!(body, "database: down ({e})");
            }
            Err(_) => {
                healthy = false;
                body.push_str("database: down (no answer within 5 s)\n");
            }
        }
        let (platforms_ok, lines) = self.platforms.get(|| platform_health(self.adapters.clone())).await;
        body.push_str(&lines);
        (if healthy && platforms_ok { 200 } else { 503 }, body)
    }

    async fn metrics_text(&self) -> String {
        let outbox = self.store.outbox_counts().await.ok();
        self.metrics.render(outbox)
    }
}

const TEXT: &str = "text/plain; charset=utf-8";

/// `GET /healthz` and `GET /metrics` (HEAD too), to be served alone on `[ops] listen` or merged
/// into the web face's router.
pub fn router(ops: Ops) -> Router {
    Router::new().route("/healthz", get(health)).route("/metrics", get(metrics)).with_state(ops)
}

async fn health(State(ops): State<Ops>) -> Response {
    let (status, body) = ops.health().await;
    let status = if status == 200 { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (status, [(header::CONTENT_TYPE, TEXT)], body).into_response()
}

async fn metrics(State(ops): State<Ops>) -> Response {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], ops.metrics_text().await).into_response()
}

async fn not_found() -> Response {
    (StatusCode::NOT_FOUND, [(header::CONTENT_TYPE, TEXT)], "not found: try /healthz or /metrics\n").into_response()
}

/// Asks every platform whether it answers.
async fn platform_health(adapters: Adapters) -> (bool, String) {
    let mut body = String::new();
    let mut healthy = true;
    for adapter in adapters.iter() {
        let platform = adapter.platform();
        match tokio::time::timeout(Duration::from_secs(5), adapter.health()).await {
            Ok(Ok(())) => {
                let _ = writeln!(body, "{platform}: ok");
            }
            Ok(Err(e)) => {
                healthy = false;
                let _ = writeln!(body, "{platform}: down ({e})");
            }
            Err(_) => {
                healthy = false;
                let _ = writeln!(body, "{platform}: down (no answer within 5 s)");
            }
        }
    }
    (healthy, body)
}

/// Binds the ops address.
///
/// # Errors
/// When the address cannot be bound.
pub async fn bind(address: &str) -> std::io::Result<TcpListener> {
    let listener = TcpListener::bind(address).await?;
    if let Ok(local) = listener.local_addr()
        && !local.ip().is_loopback()
    {
        warn!(%local, "the ops endpoints are served beyond loopback; keep them behind a firewall");
    }
    Ok(listener)
}

/// Serves the endpoints alone on their own listener until `stop` turns true.
pub async fn serve(listener: TcpListener, ops: Ops, stop: watch::Receiver<bool>) {
    crate::web::serve(listener, router(ops).fallback(not_found), stop).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_render_each_family_with_its_help_and_type_before_its_samples() {
        let metrics = Metrics::default();
        let mut tally = Tally::default();
        tally.command("submit", "ok");
        tally.command("submit", "ok");
        tally.command("course new", "refused");
        tally.deduplicated(3);
        tally.job("prompt", chrono::Duration::milliseconds(1500));
        metrics.record(tally);
        metrics.effects(4, 1, 2);
        let text = metrics.render(Some((5, 6, 1)));
        assert!(text.contains(
            "# HELP facilitator_commands_total Chat commands decided, by command and outcome.\n\
             # TYPE facilitator_commands_total counter\n\
             facilitator_commands_total{command=\"course new\",outcome=\"refused\"} 1\n\
             facilitator_commands_total{command=\"submit\",outcome=\"ok\"} 2\n"
        ));
        assert!(text.contains("facilitator_events_deduplicated_total 3\n"));
        assert!(text.contains("facilitator_jobs_total{kind=\"prompt\"} 1\n"));
        assert!(text.contains("facilitator_job_lag_seconds 1.5\n"));
        assert!(text.contains("facilitator_effects_sent_total 4\n"));
        assert!(text.contains("facilitator_effects_failed_total 1\n"));
        assert!(text.contains("facilitator_outbox_effects{state=\"pending\"} 5\n"));
        // Every sample follows its own family's TYPE line.
        let mut family = "";
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                family = rest.split_whitespace().next().unwrap();
            } else if !line.starts_with('#') {
                assert!(line.starts_with(family), "{line} outside its family {family}");
            }
        }
        assert_eq!(metrics.commands("submit", "ok"), 2);
    }

    #[tokio::test]
    async fn platform_answers_are_reused_for_a_few_seconds() {
        let cache: Cached<u32> = Cached::new(Duration::from_millis(300));
        let calls = std::sync::atomic::AtomicU32::new(0);
        let refresh = || async { calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1 };
        for _ in 0..50 {
            assert_eq!(cache.get(refresh).await, 1);
        }
        assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 1, "50 health checks, one platform call");
        tokio::time::sleep(Duration::from_millis(350)).await;
        assert_eq!(cache.get(refresh).await, 2, "asked again once the answer is old");
    }

    #[tokio::test]
    async fn health_is_503_naming_the_database_when_it_is_gone() {
        let store = Store::open("sqlite::memory:").await.unwrap();
        let ops = Ops::new(Arc::default(), store.clone(), Adapters::default());
        let app = router(ops).fallback(not_found);
        let ask = |method: &str, path: &str| {
            axum::http::Request::builder().method(method).uri(path).body(axum::body::Body::empty()).unwrap()
        };
        let answer = |response: Response| async move {
            let status = response.status().as_u16();
            let body = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap();
            (status, String::from_utf8(body.to_vec()).unwrap())
        };
        use tower::ServiceExt as _;
        let (status, body) = answer(app.clone().oneshot(ask("GET", "/healthz")).await.unwrap()).await;
        assert_eq!((status, body.as_str()), (200, "database: ok\n"));
        let (status, body) = answer(app.clone().oneshot(ask("HEAD", "/healthz")).await.unwrap()).await;
        assert_eq!((status, body.as_str()), (200, ""), "HEAD: the status without the body");
        assert_eq!(answer(app.clone().oneshot(ask("GET", "/nothing")).await.unwrap()).await.0, 404);
        store.close().await;
        let (status, body) = answer(app.clone().oneshot(ask("GET", "/healthz")).await.unwrap()).await;
        assert_eq!(status, 503);
        assert!(body.starts_with("database: down"), "{body}");
        assert_eq!(answer(app.oneshot(ask("POST", "/metrics")).await.unwrap()).await.0, 405);
    }

    #[test]
    fn a_failed_batch_that_never_records_its_tally_counts_nothing() {
        let metrics = Metrics::default();
        let mut tally = Tally::default();
        tally.command("submit", "ok");
        drop(tally);
        assert_eq!(metrics.commands("submit", "ok"), 0);
    }
}
