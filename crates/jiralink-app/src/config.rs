//! Configuration, in layers: defaults, then `jiralink.toml` (in the data directory, or the
//! file named by `--config` / `JIRALINK_CONFIG`), then `JIRALINK_<SECTION>__<KEY>`
//! environment variables (`__` nests: `JIRALINK_SERVER__BASE_URL`).

use std::path::{Path, PathBuf};
use std::time::Duration;

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use jiralink_domain::AtlassianEndpoints;
use serde::{Deserialize, Serialize};
use url::Url;

use crate::{AppError, AppResult};

/// The configuration file read from the data directory when no other is named.
pub const CONFIG_FILE: &str = "jiralink.toml";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// The format version of the file; only 1 exists.
    pub version: u32,
    pub server: ServerConfig,
    /// Where Atlassian lives. Point these at `jiralink sim` to work offline.
    pub atlassian: AtlassianEndpoints,
    /// The HTTP client every request to Atlassian goes through.
    pub http: HttpSettings,
    /// How connections are watched.
    pub connections: ConnectionsConfig,
    /// Where jiralink keeps its data.
    pub database: DatabaseConfig,
    /// How servers share background work.
    pub jobs: JobsConfig,
    /// Runs of exports.
    pub exports: ExportsConfig,
    /// How notifications are grouped, retried and sent.
    pub notifications: NotificationsConfig,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            version: 1,
            server: ServerConfig::default(),
            atlassian: AtlassianEndpoints::default(),
            http: HttpSettings::default(),
            connections: ConnectionsConfig::default(),
            database: DatabaseConfig::default(),
            jobs: JobsConfig::default(),
            exports: ExportsConfig::default(),
            notifications: NotificationsConfig::default(),
        }
    }
}

/// How notifications are grouped, retried and sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NotificationsConfig {
    /// How long a change waits for others before it is sent, e.g. `60s`: what changes for one
    /// recipient within it goes out together.
    pub digest_window: Interval,
    /// More changes than this for one recipient within the window go out as one digest.
    pub digest_after: u32,
    /// Tries of one message before it is recorded as failed.
    pub max_attempts: u32,
    /// The wait before the first retry, e.g. `30s`; it doubles with every retry (at most an
    /// hour).
    pub retry_after: Interval,
    /// Seconds a webhook call may take.
    pub webhook_timeout_secs: u64,
    /// The SMTP server e-mail goes through; e-mail is off without `host`.
    pub smtp: SmtpConfig,
}

impl Default for NotificationsConfig {
    fn default() -> Self {
        Self {
            digest_window: Interval(Duration::from_secs(60)),
            digest_after: 3,
            max_attempts: 6,
            retry_after: Interval(Duration::from_secs(30)),
            webhook_timeout_secs: 10,
            smtp: SmtpConfig::default(),
        }
    }
}

/// How the SMTP connection is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    /// TLS from the first byte (SMTPS, usually port 465).
    Tls,
    /// Plain, then upgraded with STARTTLS, which must succeed (usually port 587).
    #[default]
    Starttls,
    /// No TLS at all: only for a relay on the same machine.
    None,
}

impl SmtpTls {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Tls => "tls",
            Self::Starttls => "starttls",
            Self::None => "none",
        }
    }
}

/// The SMTP server e-mail notifications go through. The password is read from a file, like
/// the master key, never from this file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct SmtpConfig {
    pub host: Option<String>,
    /// Default: 465 for `tls`, 587 for `starttls`, 25 for `none`.
    pub port: Option<u16>,
    pub tls: SmtpTls,
    pub username: Option<String>,
    /// A file holding the password (read at each sending, so it can be replaced).
    pub password_file: Option<PathBuf>,
    /// The sender, e.g. `jiralink <jiralink@example.com>`.
    pub from: Option<String>,
}

impl SmtpConfig {
    /// The port to connect to.
    #[must_use]
    pub fn port(&self) -> u16 {
        self.port.unwrap_or(match self.tls {
            SmtpTls::Tls => 465,
            SmtpTls::Starttls => 587,
            SmtpTls::None => 25,
        })
    }
}

/// Runs of exports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ExportsConfig {
    /// How long a finished run's output is kept in the database for download, e.g. `7d`,
    /// `36h` (1 hour to 365 days). The run's record stays; only its output goes.
    pub output_retention: Retention,
    /// How long a running export is leased to the process running it, e.g. `60s`; renewed
    /// every third of it while it runs. A run whose process died is resumed (by the next
    /// `export run`, or a server's scheduled run) once its lease is over.
    pub lease: Interval,
}

impl Default for ExportsConfig {
    fn default() -> Self {
        Self {
            output_retention: Retention::DEFAULT,
            lease: Interval(Duration::from_secs(60)),
        }
    }
}

/// How long something is kept, written as a number and a unit: `36h`, `7d` (1 hour to 365
/// days).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention(Duration);

impl Retention {
    pub const DEFAULT: Retention = Retention(Duration::from_secs(7 * 86_400));
    const MIN: Duration = Duration::from_secs(3600);
    const MAX: Duration = Duration::from_secs(365 * 86_400);

    pub fn get(self) -> Duration {
        self.0
    }
}

impl Retention {
    const SPAN: Span = Span {
        noun: "duration",
        examples: "36h or 7d",
        units: HOURS_DAYS,
        min: Self::MIN,
        max: Self::MAX,
        range: "between 1h and 365d",
    };
}

impl std::str::FromStr for Retention {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::SPAN.parse(s).map(Self)
    }
}

impl std::fmt::Display for Retention {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        Self::SPAN.fmt(self.0, f)
    }
}

impl Serialize for Retention {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Retention {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// Background work: claimed by one server at a time, with a lease.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct JobsConfig {
    /// How long a server holds a job it claimed before another may take it over (it renews
    /// the lease while the job runs), e.g. `60s`. A server that dies holds its jobs this long.
    pub lease: Interval,
    /// The longest a server waits, when no job is due, before looking again (1–60 seconds).
    pub poll_secs: u64,
}

impl Default for JobsConfig {
    fn default() -> Self {
        Self {
            lease: Interval(Duration::from_secs(60)),
            poll_secs: 5,
        }
    }
}

/// The database: the embedded SQLite file by default, or PostgreSQL for several servers.
/// Its `Debug` shows the URL without a password.
#[derive(Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseConfig {
    /// `sqlite:///path/to/jiralink.db` or `postgres://user@host/db`; unset means the file
    /// `jiralink.db` in the data directory. `--database` / `JIRALINK_DATABASE_URL` win.
    pub url: Option<String>,
    /// Connections a server keeps at most (default 4 for SQLite, 10 for PostgreSQL).
    pub max_connections: Option<u32>,
    /// Connections kept open even when idle (default 0).
    pub min_connections: Option<u32>,
    /// Seconds a request waits for a free connection (default 30).
    pub acquire_timeout_secs: Option<u64>,
    /// Seconds an idle connection above the minimum stays open (default 600).
    pub idle_timeout_secs: Option<u64>,
    /// SQLite: seconds a writer waits for another writer (default 10).
    pub busy_timeout_secs: Option<u64>,
}

impl std::fmt::Debug for DatabaseConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DatabaseConfig")
            .field(
                "url",
                &self.url.as_deref().map(jiralink_store::DatabaseUrl::redact),
            )
            .field("max_connections", &self.max_connections)
            .field("min_connections", &self.min_connections)
            .field("acquire_timeout_secs", &self.acquire_timeout_secs)
            .field("idle_timeout_secs", &self.idle_timeout_secs)
            .field("busy_timeout_secs", &self.busy_timeout_secs)
            .finish()
    }
}

impl DatabaseConfig {
    /// The pool settings for `backend`: its defaults, with what is configured.
    pub fn pool_settings(
        &self,
        backend: jiralink_store::BackendKind,
    ) -> jiralink_store::PoolSettings {
        let mut s = jiralink_store::PoolSettings::defaults(backend);
        if let Some(n) = self.max_connections {
            s.max_connections = n.max(1);
        }
        if let Some(n) = self.min_connections {
            s.min_connections = n.min(s.max_connections);
        }
        if let Some(secs) = self.acquire_timeout_secs {
            s.acquire_timeout = Duration::from_secs(secs.max(1));
        }
        if let Some(secs) = self.idle_timeout_secs {
            s.idle_timeout = Duration::from_secs(secs.max(1));
        }
        if let Some(secs) = self.busy_timeout_secs {
            s.busy_timeout = Duration::from_secs(secs);
        }
        s
    }

    /// The database to use: `flag` (`--database` / `JIRALINK_DATABASE_URL`), else
    /// `database.url`, else the SQLite file in `data_dir`.
    pub fn resolve_url(
        &self,
        flag: Option<&str>,
        data_dir: &Path,
    ) -> AppResult<jiralink_store::DatabaseUrl> {
        match flag
            .or(self.url.as_deref())
            .filter(|u| !u.trim().is_empty())
        {
            Some(url) => jiralink_store::DatabaseUrl::parse(url)
                .map_err(|e| AppError::Config(format!("database url: {e}"))),
            None => Ok(jiralink_store::DatabaseUrl::sqlite(
                &data_dir.join(jiralink_store::DATABASE_FILE),
            )),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpSettings {
    /// Seconds to establish a connection (TCP and TLS).
    pub connect_timeout_secs: u64,
    /// Longest pause, in seconds, while reading a response.
    pub read_timeout_secs: u64,
    /// Longest time, in seconds, for a whole request.
    pub request_timeout_secs: u64,
    /// A PEM file of certificate authorities to trust besides the public ones: the CA that
    /// `jiralink sim --tls` prints, or a corporate proxy's.
    pub extra_ca_file: Option<PathBuf>,
}

impl Default for HttpSettings {
    fn default() -> Self {
        let d = jiralink_atlassian::HttpConfig::default();
        Self {
            connect_timeout_secs: d.connect_timeout.as_secs(),
            read_timeout_secs: d.read_timeout.as_secs(),
            request_timeout_secs: d.request_timeout.as_secs(),
            extra_ca_file: None,
        }
    }
}

impl HttpSettings {
    /// The client settings, with the extra CA read from its file.
    pub fn client_config(&self) -> AppResult<jiralink_atlassian::HttpConfig> {
        let cfg = jiralink_atlassian::HttpConfig {
            connect_timeout: Duration::from_secs(self.connect_timeout_secs),
            read_timeout: Duration::from_secs(self.read_timeout_secs),
            request_timeout: Duration::from_secs(self.request_timeout_secs),
            ..jiralink_atlassian::HttpConfig::default()
        };
        match &self.extra_ca_file {
            None => Ok(cfg),
            Some(path) => cfg.trust_ca_file(path).map_err(|e| {
                AppError::Config(format!(
                    "http.extra_ca_file: {e}; point it at a readable PEM file or remove it"
                ))
            }),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConnectionsConfig {
    /// How often offline connections are tested again, e.g. `15m`, `1h`, `90s`.
    pub retest_interval: Interval,
    /// Authorized OAuth 2.0 connections whose tokens were last refreshed this long ago are
    /// refreshed by the re-test loop, e.g. `30d`: Atlassian drops refresh tokens unused for
    /// 90 days.
    pub refresh_idle_after: IdleAge,
}

impl Default for ConnectionsConfig {
    fn default() -> Self {
        Self {
            retest_interval: Interval::DEFAULT_RETEST,
            refresh_idle_after: IdleAge::DEFAULT,
        }
    }
}

/// An age written as a number and a unit: `12h`, `30d`. Between one hour and 60 days, so an
/// idle connection is refreshed well within Atlassian's 90 days.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdleAge(Duration);

impl IdleAge {
    pub const DEFAULT: IdleAge = IdleAge(Duration::from_secs(30 * 86_400));
    const MIN: Duration = Duration::from_secs(3600);
    const MAX: Duration = Duration::from_secs(60 * 86_400);

    pub fn get(self) -> Duration {
        self.0
    }
}

impl IdleAge {
    const SPAN: Span = Span {
        noun: "age",
        examples: "12h or 30d",
        units: HOURS_DAYS,
        min: Self::MIN,
        max: Self::MAX,
        range: "between 1h and 60d (Atlassian drops refresh tokens unused for 90 days)",
    };
}

impl std::str::FromStr for IdleAge {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::SPAN.parse(s).map(Self)
    }
}

impl std::fmt::Display for IdleAge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        Self::SPAN.fmt(self.0, f)
    }
}

impl Serialize for IdleAge {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for IdleAge {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// A span written as a number and a unit: `90s`, `15m`, `2h`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Interval(Duration);

impl Interval {
    /// Offline connections are tested again every 15 minutes unless configured otherwise.
    pub const DEFAULT_RETEST: Interval = Interval(Duration::from_secs(15 * 60));
    const MIN: Duration = Duration::from_secs(10);
    const MAX: Duration = Duration::from_secs(24 * 60 * 60);

    pub fn get(self) -> Duration {
        self.0
    }
}

impl Interval {
    const SPAN: Span = Span {
        noun: "interval",
        examples: "90s, 15m or 1h",
        units: &[("s", 1), ("m", 60), ("h", 3600)],
        min: Self::MIN,
        max: Self::MAX,
        range: "between 10s and 24h",
    };
}

impl std::str::FromStr for Interval {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::SPAN.parse(s).map(Self)
    }
}

impl TryFrom<Duration> for Interval {
    type Error = String;

    fn try_from(d: Duration) -> Result<Self, Self::Error> {
        if d < Self::MIN || d > Self::MAX {
            return Err("out of range".to_owned());
        }
        Ok(Self(d))
    }
}

impl std::fmt::Display for Interval {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        Self::SPAN.fmt(self.0, f)
    }
}

/// Hours and days, for spans written as `36h` or `7d`.
const HOURS_DAYS: &[(&str, u64)] = &[("h", 3600), ("d", 86_400)];

/// How a span of time is written in the configuration: a number and one of `units`, between
/// `min` and `max`. The one parser of [`Retention`], [`IdleAge`] and [`Interval`].
struct Span {
    /// What the span is called in messages, e.g. `duration`.
    noun: &'static str,
    /// Examples for the message about a value that is not a span, e.g. `36h or 7d`.
    examples: &'static str,
    /// Each unit with its length in seconds, shortest first.
    units: &'static [(&'static str, u64)],
    min: Duration,
    max: Duration,
    /// The allowed range, in words, e.g. `between 1h and 365d`.
    range: &'static str,
}

impl Span {
    fn parse(&self, s: &str) -> Result<Duration, String> {
        let s = s.trim();
        let usage = || {
            format!(
                "{s:?} is not {} {}: write a number and a unit, such as {}",
                if self.noun.starts_with(['a', 'e', 'i', 'o', 'u']) {
                    "an"
                } else {
                    "a"
                },
                self.noun,
                self.examples
            )
        };
        let split = s.find(|c: char| !c.is_ascii_digit()).ok_or_else(usage)?;
        let (number, unit) = s.split_at(split);
        let n: u64 = number.parse().map_err(|_| usage())?;
        let unit = unit.trim();
        let (_, seconds) = self
            .units
            .iter()
            .find(|(name, _)| *name == unit)
            .ok_or_else(usage)?;
        let d = Duration::from_secs(n.checked_mul(*seconds).ok_or_else(usage)?);
        if d < self.min || d > self.max {
            return Err(format!(
                "the {} {s} is out of range: choose {}",
                self.noun, self.range
            ));
        }
        Ok(d)
    }

    /// In the longest unit that divides it exactly.
    fn fmt(&self, d: Duration, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let secs = d.as_secs();
        let (name, seconds) = self
            .units
            .iter()
            .rev()
            .find(|(_, seconds)| secs.is_multiple_of(*seconds))
            .or_else(|| self.units.first())
            .copied()
            .unwrap_or(("s", 1));
        write!(f, "{}{name}", secs / seconds)
    }
}

impl Serialize for Interval {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Interval {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// The URL users reach jiralink's server at. OAuth 2.0 callbacks go to
    /// `<base_url>/connection/oauth2callback`, which must be registered with Atlassian.
    pub base_url: Url,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            base_url: default_base_url(),
        }
    }
}

#[expect(clippy::expect_used, reason = "a constant that always parses")]
fn default_base_url() -> Url {
    Url::parse("http://127.0.0.1:8080").expect("constant URL parses")
}

impl Config {
    /// Loads the layers. A named file must exist; the data directory's file is optional.
    pub fn load(data_dir: &Path, file: Option<&Path>) -> AppResult<Self> {
        let (path, required): (PathBuf, bool) = match file {
            Some(p) => (p.to_path_buf(), true),
            None => (data_dir.join(CONFIG_FILE), false),
        };
        if required && !path.is_file() {
            return Err(AppError::Config(format!(
                "the configuration file {} does not exist",
                path.display()
            )));
        }
        let figment = Figment::from(Serialized::defaults(Config::default()))
            .merge(Toml::file(&path))
            .merge(
                Env::prefixed("JIRALINK_")
                    .filter(|k| k.as_str().contains("__"))
                    .split("__"),
            );
        let config: Config = figment
            .extract()
            .map_err(|e| AppError::Config(format!("{} ({})", e, path.display())))?;
        config.validate()?;
        Ok(config)
    }

    pub fn validate(&self) -> AppResult<()> {
        if self.version != 1 {
            return Err(AppError::Config(format!(
                "unsupported configuration version {}; this jiralink reads version 1",
                self.version
            )));
        }
        if !matches!(self.server.base_url.scheme(), "http" | "https") {
            return Err(AppError::Config(
                "server.base_url must be an http(s) URL, such as https://jiralink.example.com"
                    .into(),
            ));
        }
        self.atlassian
            .validate()
            .map_err(|e| AppError::Config(e.to_string()))?;
        let n = &self.notifications;
        if n.smtp.host.is_some() && n.smtp.from.is_none() {
            return Err(AppError::Config(
                "notifications.smtp.from is needed with notifications.smtp.host, e.g. \
                 \"jiralink <jiralink@example.com>\""
                    .to_owned(),
            ));
        }
        if n.smtp.password_file.is_some() && n.smtp.username.is_none() {
            return Err(AppError::Config(
                "notifications.smtp.password_file needs notifications.smtp.username".to_owned(),
            ));
        }
        if !(1..=20).contains(&n.max_attempts) || !(1..=120).contains(&n.webhook_timeout_secs) {
            return Err(AppError::Config(
                "notifications.max_attempts must be between 1 and 20, and \
                 notifications.webhook_timeout_secs between 1 and 120"
                    .to_owned(),
            ));
        }
        if !(1..=60).contains(&self.jobs.poll_secs) {
            return Err(AppError::Config(
                "jobs.poll_secs must be between 1 and 60".to_owned(),
            ));
        }
        Ok(())
    }
}

/// Environment variables jiralink reads that are not configuration keys.
const KNOWN_ENV: &[&str] = &[
    "JIRALINK_DATA_DIR",
    "JIRALINK_CONFIG",
    "JIRALINK_OUTPUT",
    "JIRALINK_MASTER_KEY",
    "JIRALINK_MASTER_KEY_FILE",
    "JIRALINK_DATABASE_URL",
    "JIRALINK_SPECS_DIR",
    "JIRALINK_ADMIN_PASSWORD",
    "JIRALINK_API_KEY",
    "JIRALINK_TEST_DATABASE_URL",
    "JIRALINK_TEST_SKIP_POSTGRES",
    "JIRALINK_BROWSER_HEADFUL",
];

/// A warning for each `JIRALINK_*` variable that jiralink does not read, so a typo such as
/// `JIRALINK_SERVER_BASE_URL` (one underscore) does not go unnoticed.
pub fn unknown_env_notices(names: &[String]) -> Vec<String> {
    let known_keys: Vec<String> = [
        "server__base_url",
        "atlassian__site_url_template",
        "atlassian__api_gateway",
        "atlassian__auth_server",
        "http__connect_timeout_secs",
        "http__read_timeout_secs",
        "http__request_timeout_secs",
        "http__extra_ca_file",
        "connections__retest_interval",
        "connections__refresh_idle_after",
        "database__url",
        "database__max_connections",
        "database__min_connections",
        "database__acquire_timeout_secs",
        "database__idle_timeout_secs",
        "database__busy_timeout_secs",
        "jobs__lease",
        "jobs__poll_secs",
        "exports__output_retention",
        "exports__lease",
        "notifications__digest_window",
        "notifications__digest_after",
        "notifications__max_attempts",
        "notifications__retry_after",
        "notifications__webhook_timeout_secs",
        "notifications__smtp__host",
        "notifications__smtp__port",
        "notifications__smtp__tls",
        "notifications__smtp__username",
        "notifications__smtp__password_file",
        "notifications__smtp__from",
        "version",
    ]
    .iter()
    .map(|k| format!("JIRALINK_{}", k.to_uppercase()))
    .collect();
    names
        .iter()
        .filter(|n| n.starts_with("JIRALINK_"))
        .filter(|n| !KNOWN_ENV.contains(&n.as_str()) && !known_keys.contains(n))
        .map(|n| {
            format!(
                "ignoring the environment variable {n}: jiralink does not read it (see \
                 docs/configuration.md; nested keys use a double underscore, e.g. \
                 JIRALINK_SERVER__BASE_URL)"
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn unknown_jiralink_variables_are_reported() {
        let names: Vec<String> = [
            "JIRALINK_DATA_DIR",
            "JIRALINK_SERVER__BASE_URL",
            "JIRALINK_SERVER_BASE_URL",
            "PATH",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
        let notices = unknown_env_notices(&names);
        assert_eq!(notices.len(), 1);
        assert!(notices[0].contains("JIRALINK_SERVER_BASE_URL"));
    }

    use super::*;

    #[test]
    fn the_database_password_never_shows_in_debug() {
        let config = DatabaseConfig {
            url: Some("postgres://jl:s3cret@db/jiralink?sslpassword=s3cret".to_owned()),
            ..DatabaseConfig::default()
        };
        let shown = format!("{config:?}");
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(shown.contains("db/jiralink"), "{shown}");
    }

    #[test]
    fn example_config_parses() {
        let text = include_str!("../../../jiralink.example.toml");
        let config: Config = toml::from_str(text).expect("example config parses");
        config.validate().expect("example config is valid");
    }

    #[test]
    fn intervals_read_and_print_with_a_unit() {
        for (text, secs, shown) in [
            ("15m", 900, "15m"),
            ("90s", 90, "90s"),
            (" 2h ", 7200, "2h"),
            ("120s", 120, "2m"),
        ] {
            let i: Interval = text.parse().unwrap();
            assert_eq!(i.get(), Duration::from_secs(secs));
            assert_eq!(i.to_string(), shown);
        }
        for bad in ["15", "m", "15 minutes", "5s", "25h", "-1m", ""] {
            assert!(bad.parse::<Interval>().is_err(), "{bad}");
        }
        assert_eq!(
            Config::default().connections.retest_interval.get(),
            Duration::from_secs(15 * 60)
        );
    }

    #[test]
    fn every_span_is_read_by_the_one_parser_with_its_own_words() {
        let err = |r: Result<(), String>| r.unwrap_err();
        assert_eq!(
            err("7w".parse::<Retention>().map(drop)),
            "\"7w\" is not a duration: write a number and a unit, such as 36h or 7d"
        );
        assert_eq!(
            err("366d".parse::<Retention>().map(drop)),
            "the duration 366d is out of range: choose between 1h and 365d"
        );
        assert_eq!(
            err("12".parse::<IdleAge>().map(drop)),
            "\"12\" is not an age: write a number and a unit, such as 12h or 30d"
        );
        assert!(err("61d".parse::<IdleAge>().map(drop)).contains("unused for 90 days"));
        assert_eq!(
            err("5s".parse::<Interval>().map(drop)),
            "the interval 5s is out of range: choose between 10s and 24h"
        );
        assert_eq!(
            err("99999999999999999999h".parse::<Interval>().map(drop)),
            "\"99999999999999999999h\" is not an interval: write a number and a unit, such as \
             90s, 15m or 1h"
        );
        assert_eq!("36h".parse::<Retention>().unwrap().to_string(), "36h");
        assert_eq!("48h".parse::<Retention>().unwrap().to_string(), "2d");
    }

    #[test]
    fn idle_ages_read_and_print_with_a_unit() {
        for (text, secs, shown) in [("30d", 30 * 86_400, "30d"), ("36h", 36 * 3600, "36h")] {
            let age: IdleAge = text.parse().unwrap();
            assert_eq!(age.get(), Duration::from_secs(secs));
            assert_eq!(age.to_string(), shown);
        }
        for bad in ["30", "d", "30m", "61d", "90d", "0h", ""] {
            assert!(bad.parse::<IdleAge>().is_err(), "{bad}");
        }
        assert_eq!(
            Config::default().connections.refresh_idle_after.get(),
            Duration::from_secs(30 * 86_400)
        );
        let config: Config =
            toml::from_str("version = 1\n[connections]\nrefresh_idle_after = \"7d\"\n").unwrap();
        assert_eq!(
            config.connections.refresh_idle_after.get(),
            Duration::from_secs(7 * 86_400)
        );
    }

    #[test]
    fn the_retest_interval_and_http_settings_come_from_the_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(CONFIG_FILE),
            "version = 1\n[connections]\nretest_interval = \"5m\"\n[http]\nrequest_timeout_secs = 20\n",
        )
        .unwrap();
        let config = Config::load(dir.path(), None).unwrap();
        assert_eq!(
            config.connections.retest_interval.get(),
            Duration::from_secs(300)
        );
        assert_eq!(
            config.http.client_config().unwrap().request_timeout,
            Duration::from_secs(20)
        );
        std::fs::write(
            dir.path().join(CONFIG_FILE),
            "[connections]\nretest_interval = \"often\"\n",
        )
        .unwrap();
        let err = Config::load(dir.path(), None).unwrap_err();
        assert!(err.to_string().contains("not an interval"), "{err}");
        let missing = HttpSettings {
            extra_ca_file: Some(dir.path().join("missing.pem")),
            ..HttpSettings::default()
        };
        let err = missing.client_config().unwrap_err();
        assert!(err.to_string().contains("http.extra_ca_file"), "{err}");
    }

    #[test]
    fn the_exports_section_has_defaults_and_reads_durations() {
        let d = Config::default();
        assert_eq!(
            d.exports.output_retention.get(),
            Duration::from_secs(7 * 86_400)
        );
        assert_eq!(d.exports.lease.get(), Duration::from_secs(60));
        let config: Config =
            toml::from_str("version = 1\n[exports]\noutput_retention = \"36h\"\nlease = \"2m\"\n")
                .unwrap();
        assert_eq!(
            config.exports.output_retention.get(),
            Duration::from_secs(36 * 3600)
        );
        assert_eq!(config.exports.output_retention.to_string(), "36h");
        assert_eq!(config.exports.lease.get(), Duration::from_secs(120));
        for bad in ["7", "0h", "400d", "1w", ""] {
            assert!(bad.parse::<Retention>().is_err(), "{bad}");
        }
    }

    #[test]
    fn unknown_keys_are_refused() {
        let err = toml::from_str::<Config>("[server]\nbase_ur = \"http://x\"\n");
        assert!(err.is_err());
    }

    #[test]
    fn named_file_must_exist() {
        let dir = tempfile::tempdir().unwrap();
        let err = Config::load(dir.path(), Some(&dir.path().join("nope.toml"))).unwrap_err();
        assert!(err.to_string().contains("does not exist"));
    }

    #[test]
    fn file_in_data_dir_is_read() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(CONFIG_FILE),
            "version = 1\n[server]\nbase_url = \"https://jl.example.com/\"\n",
        )
        .unwrap();
        let config = Config::load(dir.path(), None).unwrap();
        assert_eq!(config.server.base_url.as_str(), "https://jl.example.com/");
    }
}
