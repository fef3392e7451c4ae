//! Adapter errors: a stable kind the executor decides on, and the platform's error as source.

use std::error::Error;
use std::time::Duration;

/// What went wrong, in terms the executor can act on.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AdapterErrorKind {
    /// The platform asked us to slow down.
    #[error("rate limited; retry after {retry_after:?}")]
    RateLimited {
        /// How long to wait.
        retry_after: Duration,
    },
    /// A room or user does not exist.
    #[error("not found")]
    NotFound,
    /// The bot lacks permission.
    #[error("forbidden")]
    Forbidden,
    /// The platform refused what was sent.
    #[error("invalid input")]
    InvalidInput,
    /// A network or server failure that may pass.
    #[error("transient failure")]
    Transient,
    /// The adapter cannot go on (bad credentials, shut down).
    #[error("fatal")]
    Fatal,
}

impl AdapterErrorKind {
    /// What an HTTP answer's status means, the same on every platform: 429 is a rate limit
    /// (one second when the platform did not say how long), 401 refused credentials, 403 and
    /// 404 what they say, any other 4xx a request that resending will not fix, and a 5xx or no
    /// answer at all a failure that may pass. Platforms read their own error codes first.
    pub fn from_http_status(status: Option<u16>, retry_after: Option<Duration>) -> AdapterErrorKind {
        match status {
            Some(429) => AdapterErrorKind::RateLimited { retry_after: retry_after.unwrap_or(Duration::from_secs(1)) },
            Some(401) => AdapterErrorKind::Fatal,
            Some(403) => AdapterErrorKind::Forbidden,
            Some(404) => AdapterErrorKind::NotFound,
            Some(400..=499) => AdapterErrorKind::InvalidInput,
            _ => AdapterErrorKind::Transient,
        }
    }

    /// Whether trying again later can succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(self, AdapterErrorKind::RateLimited { .. } | AdapterErrorKind::Transient)
    }

    /// Whether the platform asked to slow down (not a failure of what was sent).
    pub fn is_rate_limit(&self) -> bool {
        matches!(self, AdapterErrorKind::RateLimited { .. })
    }
}

/// An adapter error.
#[derive(Debug, thiserror::Error)]
#[error("{kind}: {message}")]
pub struct AdapterError {
    kind: AdapterErrorKind,
    message: String,
    #[source]
    source: Option<Box<dyn Error + Send + Sync>>,
}

impl AdapterError {
    /// An error of `kind`, described by `message`.
    pub fn new(kind: AdapterErrorKind, message: impl Into<String>) -> AdapterError {
        AdapterError { kind, message: message.into(), source: None }
    }

    /// Attaches the platform's own error.
    #[must_use]
    pub fn with_source(mut self, source: impl Error + Send + Sync + 'static) -> AdapterError {
        self.source = Some(Box::new(source));
        self
    }

    /// The kind.
    pub fn kind(&self) -> &AdapterErrorKind {
        &self.kind
    }
}
