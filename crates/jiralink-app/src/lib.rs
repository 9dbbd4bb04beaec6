//! jiralink's application services: what the CLI, the REST API and the web UI all call.
//!
//! The only place where plaintext secrets meet the store: they are sealed here, with an
//! AAD naming their record and field, before anything is written, and opened here only
//! for the code that must send them to Atlassian.

mod client;
mod config;
mod connection_test;
mod connections;
pub mod database;
mod debug;
mod error;
mod exports;
mod flows;
mod imports;
mod keys;
mod listeners;
mod notifications;
mod oauth;
mod oauth_clients;
mod schedule;
mod secrets;
mod slots;
mod users;
mod views;
mod worker;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use jiralink_domain::{AuditSource, Clock, FieldChange, ResourceKind};
use jiralink_store::{AnyStore, DatabaseUrl, Store};
use jiralink_vault::{KeyOrigin, Keyring};
use uuid::Uuid;

pub use config::{
    CONFIG_FILE, Config, ConnectionsConfig, DatabaseConfig, ExportsConfig, HttpSettings, IdleAge,
    Interval, NotificationsConfig, Retention, ServerConfig, SmtpConfig, SmtpTls,
    unknown_env_notices,
};
pub use connection_test::{
    PENDING_REFRESH_RECHECK, TestAccount, TestFailure, TestOutcome, TestResult,
};
pub use connections::{ConnectionSecrets, ConnectionUsage, UsageRef, retry_policy};
pub use debug::{DEBUG_REFRESH, DEBUG_RETENTION, DEBUG_WINDOWS_MINUTES, DebugLog};
pub use error::{AppError, AppResult, ErrorCode, unreadable_token};
// What front ends (the CLI, the server) name of the crates below: drafts and their fields,
// states and records, the secret types they hand over, and the real clock. Re-exported so
// that they depend on this crate alone.
pub use exports::{
    ExportDraft, ExportView, MAX_EVERY_MINUTES, MAX_EXPORT_NAME_CHARS, RunListFilter, RunOutput,
    RunView, Schedule,
};
pub use flows::{FlowDraft, FlowRunView, FlowStats, FlowView, TARGET_FIELD};
pub use imports::{
    AD_HOC_LEDGER, DEFAULT_SEARCH_LAG, ImportDraft, ImportRequest, ImportRunView, ImportSource,
    ImportSpec, ImportView,
};
pub use jiralink_atlassian::SystemClock;
pub use jiralink_domain::{
    ApiType, AuditAction, AuditEntry, AuthType, ConnectionDraft, ConnectionId, ConnectionState,
    Field, MAX_SECRET_CHARS, OAuthClientDraft, SecretEntry, catalogue, is_text_direction_control,
    secret_too_long_message,
};
pub use jiralink_store::{DebugDirection, JobOutcome, JobRun, RunState, RunTrigger, StoreError};
pub use jiralink_sync::import::{
    ImportProgress, ImportStats, InputFormat, NoImportProgress, ResultsFormat,
};
pub use jiralink_sync::{
    AdfMode, ExportKind, ExportSpec, Format, NoProgress, Progress, Resource, RunStats,
};
pub use jiralink_vault::{ApiToken, ClientSecret, OAuthState, Password};
pub use keys::{NEXT_KEY_FILE, RotationReport, SecretsCheck, UnreadableSecret};
pub use listeners::{
    CreatedListener, DEFAULT_EVENTS as LISTENER_DEFAULT_EVENTS, Delivery, DeliveryOutcome,
    EVENTS as LISTENER_EVENTS, ListenerDraft, ListenerEventView, ListenerView, MAX_DELIVERY_BYTES,
    REFRESH_BEFORE, SAFETY_NET_EVERY, SWEEP_LINKS, SafetyNetStatus, UpkeepReport,
};
pub use notifications::{
    CLIENT_SECRET_MAX_AGE, Channel, ChannelsView, DISPATCH_JOB, DispatchReport, EmailChannelView,
    EventView, HealthState, MAX_HISTORY_PAGE, NotificationView, REFRESH_TOKEN_WARNING_AGE,
    SIGNATURE_HEADER, SavedWebhook, SigningSecret, Subject, SubjectKind, SubscriptionDraft,
    SubscriptionView, Topic, WebhookView, signature,
};
pub use oauth::{
    AuthorizationOutcome, AuthorizationStart, CLIENT_CREDENTIALS_WRONG, CallbackParams,
    GrantedSite, REAUTHORIZATION_REQUIRED, REFRESH_LEASE, REFRESH_MARGIN, REFRESH_RETRY_WAITS,
    STATE_LIFETIME, SiteChooser,
};
pub use oauth_clients::OAuthClientSecrets;
pub use users::{
    ADMIN_USERNAME, API_KEY_PREFIX, ApiKeyView, CreatedApiKey, GeneratedPassword,
    MAX_PASSWORD_CHARS, MAX_USERNAME_CHARS, MIN_PASSWORD_CHARS, NewSession, SESSION_IDLE_TIMEOUT,
    SESSION_LIFETIME, SIGN_IN_MAX_FAILURES, SIGN_IN_WINDOW, SessionInfo, UserView, token_digest,
    validate_password, validate_username,
};
pub use views::{ConnectionView, OAuthClientView, SecretStatus, format_time};
pub use worker::{
    CONCURRENT_EXPORTS, EXPORT_CLEANUP_JOB, EXPORT_RUN_JOB, FLOW_RUN_JOB, IMPORT_RUN_JOB,
    JOB_KINDS, JobView, LISTENER_PROCESS_JOB, LISTENER_UPKEEP_JOB, NOTIFICATION_DISPATCH_JOB,
    RECURRING_JOBS, RETEST_JOB, TOKEN_KEEP_ALIVE_JOB, WorkerOptions,
};

/// Who is making a change, for the audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub name: String,
    pub source: AuditSource,
}

impl Actor {
    /// The operating-system user running the CLI: `$USER` (or `USERNAME`, `LOGNAME`), else
    /// the name of the process's uid in /etc/passwd, else `uid:<n>`.
    pub fn cli(env: &dyn Fn(&str) -> Option<String>) -> Self {
        let name = env("USER")
            .or_else(|| env("USERNAME"))
            .or_else(|| env("LOGNAME"))
            .filter(|n| !n.trim().is_empty())
            .or_else(os_user)
            .unwrap_or_else(|| "unknown".to_owned());
        Self {
            name,
            source: AuditSource::Cli,
        }
    }
}

/// A saved value and what the user should be told about it (normalisations, first-run notes).
#[derive(Debug, Clone)]
pub struct Saved<T> {
    pub value: T,
    pub notices: Vec<String>,
}

/// Reads an environment variable; tests pass their own.
pub type EnvReader = Box<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// How to open a data directory.
pub struct OpenOptions {
    pub data_dir: PathBuf,
    pub config_file: Option<PathBuf>,
    /// The database URL given on the command line (`--database`, `JIRALINK_DATABASE_URL`);
    /// it wins over `database.url`.
    pub database: Option<String>,
    /// The time source, read for the time and slept on for every wait: `SystemClock` in
    /// production, a `ManualClock` in tests (its sleeps return at once).
    pub clock: Arc<dyn Clock>,
    /// Reads environment variables; tests pass their own.
    pub env: EnvReader,
}

impl std::fmt::Debug for OpenOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenOptions")
            .field("data_dir", &self.data_dir)
            .field("config_file", &self.config_file)
            .field(
                "database",
                &self.database.as_deref().map(DatabaseUrl::redact),
            )
            .finish_non_exhaustive()
    }
}

/// The application: a store, a vault and the configuration.
#[derive(Debug, Clone)]
pub struct App {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    store: Arc<dyn Store>,
    /// Where the store is (passwords redacted when shown).
    database: DatabaseUrl,
    /// Who this process is when it holds a lease (a job, a token refresh, a request slot):
    /// host, process id and a random part, so two processes never share one.
    holder: String,
    /// Each connection's concurrency limiter in this process (shared across processes
    /// through the database on PostgreSQL).
    limits: slots::Limits,
    keyring: Keyring,
    key_origin: KeyOrigin,
    clock: Arc<dyn Clock>,
    config: Config,
    data_dir: PathBuf,
    /// The one HTTP client of the process: connections to Atlassian are pooled across uses.
    http: reqwest::Client,
    /// One refresh at a time per connection within this process (the store's lease makes it
    /// one across processes).
    refresh_locks: oauth::RefreshLocks,
    /// Writes the connection debugger's lines as requests happen.
    debug_writer: debug::DebugWriter,
    /// Wakes this process's worker when a job was made due now (a listener's delivery), so
    /// it does not wait out its poll interval.
    job_signal: tokio::sync::Notify,
}

impl App {
    /// Opens (creating on first use) the data directory: configuration, database, master key.
    /// Returns the notices the user must see once (a key was created, a rotation is pending).
    pub async fn open(options: OpenOptions) -> AppResult<Saved<App>> {
        let OpenOptions {
            data_dir,
            config_file,
            database,
            clock,
            env,
        } = options;
        // A key given in the environment is read first: a malformed one changes nothing.
        let from_env = if keys::env_has_key(&*env) {
            Some(jiralink_vault::load_master_key(&*env, &data_dir, false)?)
        } else {
            None
        };
        let config = Config::load(&data_dir, config_file.as_deref())?;
        let http = jiralink_atlassian::build_client(&config.http.client_config()?)
            .map_err(|e| AppError::Config(format!("the HTTP client cannot be built: {e}")))?;
        create_private_dir(&data_dir)?;
        let mut notices = private_dir_notices(&data_dir);
        let database = config
            .database
            .resolve_url(database.as_deref(), &data_dir)?;
        let any = AnyStore::open(
            &database,
            &config.database.pool_settings(database.backend()),
        )
        .await?;
        let store = any.into_store();
        let vault = keys::open_vault(&*store, &data_dir, &*env, from_env, clock.now()).await?;
        notices.extend(vault.notices);
        let shared_slots = database.backend() == jiralink_store::BackendKind::Postgres;
        let app = App {
            inner: Arc::new(Inner {
                store,
                database,
                holder: worker::holder_id(),
                limits: slots::Limits::new(shared_slots),
                keyring: vault.keyring,
                key_origin: vault.origin,
                clock,
                config,
                data_dir,
                http,
                refresh_locks: oauth::RefreshLocks::default(),
                debug_writer: debug::DebugWriter::default(),
                job_signal: tokio::sync::Notify::new(),
            }),
        };
        Ok(Saved {
            value: app,
            notices,
        })
    }

    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    pub fn data_dir(&self) -> &Path {
        &self.inner.data_dir
    }

    pub fn store(&self) -> &dyn Store {
        &*self.inner.store
    }

    pub(crate) fn store_arc(&self) -> Arc<dyn Store> {
        Arc::clone(&self.inner.store)
    }

    /// Where the store is (any password replaced by `****` when displayed).
    pub fn database_url(&self) -> &DatabaseUrl {
        &self.inner.database
    }

    /// This process's name in leases, job runs and the database.
    pub fn holder(&self) -> &str {
        &self.inner.holder
    }

    /// An installation-wide value that is not a secret (every server sharing the database
    /// reads the same).
    pub async fn setting(&self, key: &str) -> AppResult<Option<String>> {
        Ok(self.store().get_setting(key).await?)
    }

    /// Stores `value` under `key` unless a value is there; returns the stored value, so
    /// servers starting together agree on one.
    pub async fn put_setting_if_absent(&self, key: &str, value: &str) -> AppResult<String> {
        Ok(self
            .store()
            .put_setting_if_absent(key, value, self.now())
            .await?)
    }

    /// Stores `value` under `key`, replacing any value there.
    pub async fn set_setting(&self, key: &str, value: &str) -> AppResult<()> {
        Ok(self.store().set_setting(key, value, self.now()).await?)
    }

    /// Deletes the value of `key`; returns whether there was one.
    pub async fn delete_setting(&self, key: &str) -> AppResult<bool> {
        Ok(self.store().delete_setting(key).await?)
    }

    /// One round trip to the database, for readiness checks.
    pub async fn ping_database(&self) -> AppResult<()> {
        Ok(self.store().ping().await?)
    }

    /// Closes the database connections, when the process stops; every later use of the
    /// database fails.
    pub async fn close_database(&self) {
        self.store().close().await;
    }

    /// Wakes this process's worker to look for due jobs at once.
    pub(crate) fn wake_worker(&self) {
        self.inner.job_signal.notify_one();
    }

    pub(crate) fn debug_writer(&self) -> &debug::DebugWriter {
        &self.inner.debug_writer
    }

    pub(crate) fn keyring(&self) -> &Keyring {
        &self.inner.keyring
    }

    /// The current time, from the application's clock.
    pub fn now(&self) -> time::OffsetDateTime {
        self.inner.clock.now()
    }

    /// The application's time source: what it reads the time from, and what every wait of
    /// it (retries, polls, the worker's idle waits) sleeps on.
    pub(crate) fn clock(&self) -> Arc<dyn Clock> {
        Arc::clone(&self.inner.clock)
    }

    /// An audit entry stamped now, by `actor`, about one resource.
    pub(crate) fn audit_entry_for(
        &self,
        actor: &Actor,
        action: AuditAction,
        kind: ResourceKind,
        id: Uuid,
        name: &str,
        changes: Vec<FieldChange>,
    ) -> AuditEntry {
        AuditEntry {
            id: Uuid::new_v4(),
            at: self.now(),
            actor: actor.name.clone(),
            source: actor.source,
            action,
            resource_kind: kind,
            resource_id: id,
            resource_name: name.to_owned(),
            changes,
        }
    }

    /// The HTTP client every request to Atlassian goes through.
    pub fn http_client(&self) -> &reqwest::Client {
        &self.inner.http
    }

    /// Where the master key comes from, for `jiralink key status`.
    pub fn key_origin(&self) -> String {
        keys::describe_origin(&self.inner.key_origin)
    }

    /// The id of the key new secrets are sealed with.
    pub fn active_key_id(&self) -> String {
        self.inner.keyring.active_id().to_string()
    }

    /// The key of a rotation in progress (from `master.key.next`), which opens secrets but
    /// does not seal them; `None` when no rotation is pending.
    pub fn pending_key_id(&self) -> Option<String> {
        let active = self.inner.keyring.active_id();
        self.inner
            .keyring
            .key_ids()
            .find(|kid| *kid != active)
            .map(ToString::to_string)
    }

    /// Opens every stored secret with the loaded keys and says which do not open. Nothing is
    /// changed and nothing is sent.
    pub async fn check_secrets(&self) -> AppResult<keys::SecretsCheck> {
        let mut check = keys::SecretsCheck::default();
        for s in self.inner.store.list_secrets().await? {
            match self.open_sealed(s.owner, s.field.as_str(), &s.sealed) {
                Ok(_) => check.opened += 1,
                Err(AppError::SecretUnreadable { what, owner }) => check
                    .unreadable
                    .push(keys::UnreadableSecret { what, owner }),
                Err(e) => return Err(e),
            }
        }
        Ok(check)
    }

    /// The callback URL OAuth 2.0 clients must register with Atlassian.
    pub fn oauth_callback_url(&self) -> url::Url {
        jiralink_domain::callback_url(&self.inner.config.server.base_url)
    }

    /// Re-seals every secret under a new master key. Safe to interrupt and to run again.
    pub async fn rotate_key(
        &self,
        new_key_file: Option<&Path>,
        actor: &Actor,
        progress: &dyn Fn(u64, u64),
    ) -> AppResult<RotationReport> {
        let inner = &*self.inner;
        let plan = keys::plan_rotation(
            &inner.data_dir,
            &inner.key_origin,
            inner.keyring.active_id(),
            new_key_file,
        )?;
        let mut keyring = Keyring::new(plan.new_key.duplicate());
        for (kid, _) in inner.store.count_secrets_by_key().await? {
            if !keyring.has_key(&kid) && !inner.keyring.has_key(&kid) {
                return Err(AppError::KeyMismatch {
                    expected: vec![kid.to_string()],
                    active: inner.keyring.active_id().to_string(),
                    origin: self.key_origin(),
                });
            }
        }
        for key in inner.keyring.keys() {
            if key.id() != plan.new_key.id() {
                keyring.add(key.duplicate());
            }
        }
        let (resealed, already_done, from) =
            keys::reseal_all(&*inner.store, &keyring, progress).await?;
        // Rows written by other processes meanwhile were sealed under an old key: go again
        // until none is left, so installing the key never strands a secret.
        let left: u64 = inner
            .store
            .count_secrets_by_key()
            .await?
            .iter()
            .filter(|(kid, _)| kid != plan.new_key.id())
            .map(|(_, n)| n)
            .sum();
        if left > 0 {
            return Err(AppError::Io(format!(
                "{left} secret(s) changed during the rotation; rotate the key again to finish"
            )));
        }
        let mut from_key_ids = from;
        let old = inner.keyring.active_id().to_string();
        if !from_key_ids.contains(&old) {
            from_key_ids.insert(0, old);
        }
        // Recorded before the key is installed: a rotation stopped in between leaves the new
        // key in the pending file, which the next start loads (and finishes installing).
        inner
            .store
            .set_setting(
                keys::MASTER_KEY_SETTING,
                &plan.new_key.id().to_string(),
                self.now(),
            )
            .await?;
        let key_file = keys::install_key(&inner.data_dir, &plan)?;
        let next_steps = plan.destination.as_ref().map(|dest| {
            format!(
                "Every secret is now sealed with the key in {}. Point JIRALINK_MASTER_KEY_FILE \
                 at that file (or put its content in JIRALINK_MASTER_KEY) before running \
                 jiralink again: the old key no longer opens anything.",
                dest.display()
            )
        });
        self.inner
            .store
            .append_audit(&self.audit_entry_for(
                actor,
                AuditAction::KeyRotate,
                ResourceKind::Vault,
                Uuid::nil(),
                "master key",
                vec![FieldChange {
                    field: "key_id".to_owned(),
                    before: Some(from_key_ids.join(", ")),
                    after: Some(plan.new_key.id().to_string()),
                    secret: false,
                }],
            ))
            .await?;
        Ok(RotationReport {
            from_key_ids,
            to_key_id: plan.new_key.id().to_string(),
            resealed,
            already_done,
            key_file,
            next_steps,
        })
    }
}

#[cfg(unix)]
fn os_user() -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let uid = std::fs::metadata("/proc/self").ok()?.uid();
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    let name = passwd.lines().find_map(|line| {
        let mut parts = line.split(':');
        let name = parts.next()?;
        let id: u32 = parts.nth(1)?.parse().ok()?;
        (id == uid).then(|| name.to_owned())
    });
    Some(name.unwrap_or_else(|| format!("uid:{uid}")))
}

#[cfg(not(unix))]
fn os_user() -> Option<String> {
    None
}

/// A warning when others may read the data directory (it holds the database and the key).
fn private_dir_notices(dir: &Path) -> Vec<String> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = std::fs::metadata(dir)
            && meta.permissions().mode() & 0o077 != 0
        {
            return vec![format!(
                "the data directory {} can be read by other users of this machine \
                 (mode {:o}); restrict it to its owner: chmod 700 {}",
                dir.display(),
                meta.permissions().mode() & 0o777,
                dir.display()
            )];
        }
    }
    let _ = dir;
    Vec::new()
}

pub(crate) fn create_private_dir(dir: &Path) -> AppResult<()> {
    if dir.is_dir() {
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir).map_err(|e| {
        AppError::Io(format!(
            "could not create the data directory {}: {e}; choose another data directory",
            dir.display()
        ))
    })
}

/// Finds a record by `reference`: its id when it parses as one and names a record, else its
/// name (the store matches names without regard to case).
pub(crate) async fn find_by_reference<I: std::str::FromStr, T>(
    reference: &str,
    by_id: impl AsyncFnOnce(I) -> jiralink_store::StoreResult<T>,
    by_name: impl AsyncFnOnce(&str) -> jiralink_store::StoreResult<Option<T>>,
    not_found: impl FnOnce() -> AppError,
) -> AppResult<T> {
    if let Ok(id) = reference.trim().parse::<I>() {
        match by_id(id).await {
            Ok(found) => return Ok(found),
            Err(jiralink_store::StoreError::NotFound { .. }) => {}
            Err(e) => return Err(e.into()),
        }
    }
    by_name(reference).await?.ok_or_else(not_found)
}

impl App {
    /// The API token of a Basic connection, decrypted for sending to Atlassian.
    ///
    /// # Security
    /// The value must only ever go into an `Authorization` header: never log, persist
    /// or return it.
    pub async fn connection_api_token(
        &self,
        id: jiralink_domain::ConnectionId,
    ) -> AppResult<Option<jiralink_vault::ApiToken>> {
        Ok(self
            .stored_secret(
                jiralink_store::SecretOwner::Connection(id),
                jiralink_store::SecretField::ApiToken,
            )
            .await?
            .map(|s| jiralink_vault::ApiToken::new(s.as_str())))
    }

    /// The client secret of an OAuth 2.0 client, decrypted for a token request.
    ///
    /// # Security
    /// The value must only ever go into a token request body: never log, persist or
    /// return it.
    pub async fn oauth_client_secret(
        &self,
        id: jiralink_domain::OAuthClientId,
    ) -> AppResult<Option<jiralink_vault::ClientSecret>> {
        Ok(self
            .stored_secret(
                jiralink_store::SecretOwner::OAuthClient(id),
                jiralink_store::SecretField::ClientSecret,
            )
            .await?
            .map(|s| jiralink_vault::ClientSecret::new(s.as_str())))
    }
}
