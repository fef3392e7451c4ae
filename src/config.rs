//! Configuration: a TOML file, overridden by environment variables.
//!
//! Secrets (platform passwords and tokens, added by the platform adapters) come only from the
//! environment or from files named there, never from this file, and are never logged.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::Deserialize;

/// The whole configuration.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// `[bot]`.
    #[serde(default)]
    pub bot: BotConfig,
    /// `[local]`: the local adapter on standard input and output.
    pub local: Option<LocalConfig>,
    /// `[badges]`: the Open Badges issuer.
    #[serde(default)]
    pub badges: IssuerConfig,
    /// `[matrix]`: the Matrix adapter.
    pub matrix: Option<MatrixSection>,
    /// `[discord]`: the Discord adapter.
    pub discord: Option<DiscordSection>,
    /// `[ops]`: the health and metrics endpoints.
    #[serde(default)]
    pub ops: OpsConfig,
    /// `[web]`: the web face (hosted badges).
    #[serde(default)]
    pub web: WebConfig,
    /// `[limits]`: per-person command budgets.
    #[serde(default)]
    pub limits: crate::budget::BudgetConfig,
    /// `[retention]`: how long delivered messages and event claims are kept.
    #[serde(default)]
    pub retention: RetentionConfig,
}

/// `[retention]`.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetentionConfig {
    /// Days a delivered effect (a sent message, with its text) and a handled event's claim are
    /// kept; at least [`RetentionConfig::MIN_DAYS`], so a platform replaying recent events after a
    /// restart (Matrix's sync, Discord's read-back) still finds them claimed.
    #[serde(default = "default_retention_days")]
    pub days: u32,
}

impl RetentionConfig {
    /// The shortest retention: longer than any replay window of the adapters.
    pub const MIN_DAYS: u32 = 2;

    /// The retention in force.
    pub fn duration(self) -> chrono::Duration {
        chrono::Duration::days(i64::from(self.days.max(Self::MIN_DAYS)))
    }
}

impl Default for RetentionConfig {
    fn default() -> Self {
        RetentionConfig { days: default_retention_days() }
    }
}

fn default_retention_days() -> u32 {
    30
}

/// `[ops]`.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct OpsConfig {
    /// Where `GET /healthz` and `GET /metrics` are served (`127.0.0.1:9464`); not served when
    /// unset. `FACILITATOR_OPS_LISTEN` overrides it.
    pub listen: Option<String>,
}

/// `[web]`: the community's web face, served by the bot itself.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct WebConfig {
    /// Where the web face is served (`127.0.0.1:8080`, usually behind a TLS reverse proxy);
    /// not served when unset. `FACILITATOR_WEB_LISTEN` overrides it.
    pub listen: Option<String>,
    /// The origin people and badge verifiers see (`https://learn.example.org`, no path):
    /// every hosted badge's address starts with it, so it must not change once badges are
    /// issued. Defaults to `http://` and the listen address (for local trials).
    /// `FACILITATOR_WEB_PUBLIC_URL` overrides it.
    pub public_url: Option<String>,
}

impl WebConfig {
    /// The public origin, checked: `http(s)://host[:port]`, without a trailing slash.
    ///
    /// # Errors
    /// When it is not an http(s) URL, or carries a query or fragment.
    pub fn origin(&self, bound: Option<std::net::SocketAddr>) -> Result<String> {
        let url = match (&self.public_url, bound) {
            (Some(url), _) => url.trim().trim_end_matches('/').to_owned(),
            (None, Some(addr)) => format!("http://{addr}"),
            (None, None) => bail!("[web] needs public_url or listen"),
        };
        let Some(rest) = url.strip_prefix("https://").or_else(|| url.strip_prefix("http://")) else {
            bail!("[web] public_url '{url}' must start with https:// (or http:// for local trials)");
        };
        if rest.is_empty() || rest.contains(['?', '#', ' ', '/']) {
            bail!(
                "[web] public_url '{url}' must be an origin without a path, like https://learn.example.org: the pages link to each other from the root of their host"
            );
        }
        Ok(url)
    }
}

/// `[matrix]`. The password comes from `FACILITATOR_MATRIX_PASSWORD` (or the file named by
/// `FACILITATOR_MATRIX_PASSWORD_FILE`), an access token from `FACILITATOR_MATRIX_ACCESS_TOKEN`
/// (or `..._FILE`); they are needed only until the session is stored in `store_dir`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MatrixSection {
    /// Homeserver URL (`https://matrix.example.org`).
    pub homeserver: String,
    /// The bot's full user id (`@facilitator:example.org`).
    pub user: String,
    /// Where the session, device keys and sync position are kept.
    #[serde(default = "default_matrix_store")]
    pub store_dir: std::path::PathBuf,
    /// Whether new course rooms are end-to-end encrypted.
    #[serde(default)]
    pub encrypt_new_rooms: bool,
}

/// `[discord]`. The bot token comes from `FACILITATOR_DISCORD_TOKEN` (or the file named by
/// `FACILITATOR_DISCORD_TOKEN_FILE`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiscordSection {
    /// The server (guild) id the bot runs.
    pub guild: u64,
    /// Register slash commands in the server at start (the `!` prefix works either way).
    #[serde(default = "yes")]
    pub slash_commands: bool,
    /// Reach Discord's hosts at this `address:port` instead of through DNS (a test server or
    /// a forwarding proxy). Leave unset in production.
    pub connect_to: Option<String>,
    /// An extra CA certificate (PEM) to trust, for `connect_to`.
    pub ca_file: Option<PathBuf>,
}

fn default_matrix_store() -> std::path::PathBuf {
    std::path::PathBuf::from("matrix-store")
}

/// A secret from `NAME`, or from the file named by `NAME_FILE`.
///
/// # Errors
/// When `NAME_FILE` names a file that cannot be read.
pub fn secret(name: &str) -> Result<Option<String>> {
    if let Ok(value) = std::env::var(name)
        && !value.is_empty()
    {
        return Ok(Some(value));
    }
    match std::env::var(format!("{name}_FILE")) {
        Ok(path) if !path.is_empty() => {
            let value = std::fs::read_to_string(&path).with_context(|| format!("reading {name}_FILE ({path})"))?;
            Ok(Some(value.trim_end_matches(['\n', '\r']).to_owned()))
        }
        _ => Ok(None),
    }
}

/// `[badges]`: who issues the community's Open Badges, and where the exported files are hosted.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IssuerConfig {
    /// The issuer's name.
    #[serde(default = "default_issuer_name")]
    pub name: String,
    /// The issuer's web site.
    #[serde(default = "default_issuer_url")]
    pub url: String,
    /// A contact address.
    #[serde(default = "default_issuer_email")]
    pub email: String,
    /// Where the exported files will be served from (no trailing slash).
    #[serde(default = "default_base_url")]
    pub base_url: String,
}

impl Default for IssuerConfig {
    fn default() -> Self {
        IssuerConfig {
            name: default_issuer_name(),
            url: default_issuer_url(),
            email: default_issuer_email(),
            base_url: default_base_url(),
        }
    }
}

fn default_issuer_name() -> String {
    "Facilitator community".to_owned()
}
fn default_issuer_url() -> String {
    "https://example.org".to_owned()
}
fn default_issuer_email() -> String {
    "badges@example.org".to_owned()
}
fn default_base_url() -> String {
    "https://example.org/badges".to_owned()
}

/// `[bot]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BotConfig {
    /// Bot admins: platform user ids, optionally `platform:id`.
    #[serde(default)]
    pub admins: Vec<String>,
    /// `sqlite://PATH` or `postgres://...`.
    #[serde(default = "default_database_url")]
    pub database_url: String,
}

impl Default for BotConfig {
    fn default() -> Self {
        BotConfig { admins: Vec::new(), database_url: default_database_url() }
    }
}

/// `[local]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LocalConfig {
    /// Whether to run it.
    #[serde(default = "yes")]
    pub enabled: bool,
}

fn yes() -> bool {
    true
}

fn default_database_url() -> String {
    "sqlite://facilitator.db".to_owned()
}

/// The default config file name, looked for in the working directory.
pub const DEFAULT_FILE: &str = "facilitator.toml";

impl Config {
    /// Reads the file (`path`, or `facilitator.toml` if present), then applies the environment:
    /// `FACILITATOR_DATABASE_URL`, `FACILITATOR_ADMINS` (comma-separated),
    /// `FACILITATOR_OPS_LISTEN`.
    ///
    /// # Errors
    /// When a named file is missing or a file is not valid.
    pub fn load(path: Option<&Path>) -> Result<Config> {
        let file: Option<PathBuf> = match path {
            Some(p) => {
                if !p.exists() {
                    bail!("the config file {} does not exist", p.display());
                }
                Some(p.to_owned())
            }
            None => Some(PathBuf::from(DEFAULT_FILE)).filter(|p| p.exists()),
        };
        let mut config = match &file {
            Some(p) => {
                let text = std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?;
                toml::from_str(&text).with_context(|| format!("{} is not a valid config", p.display()))?
            }
            None => Config::default(),
        };
        config.apply_env(|k| std::env::var(k).ok());
        Ok(config)
    }

    /// Applies environment overrides from `get`.
    pub fn apply_env(&mut self, get: impl Fn(&str) -> Option<String>) {
        if let Some(url) = get("FACILITATOR_DATABASE_URL").filter(|u| !u.is_empty()) {
            self.bot.database_url = url;
        }
        if let Some(listen) = get("FACILITATOR_OPS_LISTEN").filter(|l| !l.is_empty()) {
            self.ops.listen = Some(listen);
        }
        if let Some(listen) = get("FACILITATOR_WEB_LISTEN").filter(|l| !l.is_empty()) {
            self.web.listen = Some(listen);
        }
        if let Some(url) = get("FACILITATOR_WEB_PUBLIC_URL").filter(|l| !l.is_empty()) {
            self.web.public_url = Some(url);
        }
        if let Some(admins) = get("FACILITATOR_ADMINS") {
            self.bot.admins = admins.split(',').map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()).collect();
        }
    }
}

/// A database URL safe to log: any password is replaced.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_owned() };
    let Some((credentials, host)) = rest.split_once('@') else { return url.to_owned() };
    match credentials.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_overrides_the_file() {
        let mut config: Config =
            toml::from_str("[bot]\nadmins = [\"olga\"]\ndatabase_url = \"sqlite://a.db\"\n[local]\n").unwrap();
        config.apply_env(|k| match k {
            "FACILITATOR_DATABASE_URL" => Some("postgres://x@h/db".into()),
            "FACILITATOR_ADMINS" => Some("ana, ben".into()),
            _ => None,
        });
        assert_eq!(config.bot.database_url, "postgres://x@h/db");
        assert_eq!(config.bot.admins, vec!["ana", "ben"]);
        assert!(config.local.unwrap().enabled);
    }

    #[test]
    fn the_example_config_is_valid() {
        let config: Config = toml::from_str(include_str!("../facilitator.example.toml")).unwrap();
        assert_eq!(config.bot.admins, vec!["olga"]);
        assert_eq!(config.badges.base_url, "https://schoolofdata.example/badges");
    }

    #[test]
    fn the_public_url_is_an_http_origin_without_a_trailing_slash() {
        let web = |url: &str| WebConfig { listen: None, public_url: Some(url.into()) };
        assert_eq!(web("https://learn.example.org/").origin(None).unwrap(), "https://learn.example.org");
        assert!(web("https://example.org/learn").origin(None).is_err(), "pages link from the host's root");
        assert!(web("learn.example.org").origin(None).is_err());
        assert!(web("https://example.org/?a=b").origin(None).is_err());
        let bound: std::net::SocketAddr = "127.0.0.1:8080".parse().unwrap();
        assert_eq!(WebConfig::default().origin(Some(bound)).unwrap(), "http://127.0.0.1:8080");
    }

    #[test]
    fn unknown_keys_are_refused() {
        assert!(toml::from_str::<Config>("[bot]\nadmin = [\"olga\"]\n").is_err());
    }

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(redact_url("postgres://u:secret@h:5432/db"), "postgres://u:***@h:5432/db");
        assert_eq!(redact_url("sqlite://f.db"), "sqlite://f.db");
    }
}
