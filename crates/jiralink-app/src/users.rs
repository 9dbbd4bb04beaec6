//! Users who sign in, their sessions and their API keys.
//!
//! - Passwords are hashed with Argon2id and the argon2 crate's recommended parameters
//!   (19 MiB, 2 passes, 1 lane); only the PHC string is stored.
//! - Session tokens and API keys carry 256 random bits; only their SHA-256 is stored, so a
//!   copy of the database opens no session and authenticates no script. A fast hash is
//!   enough for values with that much entropy.
//! - Sign-in is throttled per (user name, client address) in the database, so every server
//!   sharing it counts the same failures. An unknown user name costs the same Argon2
//!   verification and gives the same answer as a wrong password.
//! - A session ends after [`SESSION_IDLE_TIMEOUT`] without activity and
//!   [`SESSION_LIFETIME`] after sign-in, whichever comes first, and when its user's password
//!   changes.

use std::fmt;

use argon2::Argon2;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use jiralink_domain::{AuditAction, AuditEntry, AuditSource, FieldChange, ResourceKind};
use jiralink_store::{
    ApiKeyRecord, SessionRecord, SignInAttempt, StoreError, UserRecord, username_key,
};
use jiralink_vault::{Password, SessionToken, UserApiKey, Zeroizing};
use rand::RngCore;
use serde::Serialize;
use sha2::{Digest, Sha256};
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use crate::{Actor, App, AppError, AppResult};

/// The first administrator's name.
pub const ADMIN_USERNAME: &str = "admin";
/// Passwords have at least this many characters.
pub const MIN_PASSWORD_CHARS: usize = 12;
/// Passwords have at most this many characters, which bounds the work of hashing one.
pub const MAX_PASSWORD_CHARS: usize = 1024;
/// User names have at most this many characters.
pub const MAX_USERNAME_CHARS: usize = 64;
/// A session ends after this long without a request.
pub const SESSION_IDLE_TIMEOUT: Duration = Duration::hours(12);
/// A session ends this long after sign-in, however active.
pub const SESSION_LIFETIME: Duration = Duration::days(7);
/// This many failed sign-ins for one user name from one address within
/// [`SIGN_IN_WINDOW`] lock further attempts until the oldest of them leaves the window.
pub const SIGN_IN_MAX_FAILURES: usize = 5;
/// See [`SIGN_IN_MAX_FAILURES`].
pub const SIGN_IN_WINDOW: Duration = Duration::minutes(15);
/// Every user API key starts with this.
pub const API_KEY_PREFIX: &str = "jlk_";
/// How many characters of a key are kept to tell keys apart.
const API_KEY_SHOWN_CHARS: usize = 12;
/// Activity is written at most this often per session.
const TOUCH_INTERVAL: Duration = Duration::minutes(1);

/// A user, without the password hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UserView {
    pub id: Uuid,
    pub username: String,
    pub is_admin: bool,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    /// Changes name the version they were made from.
    pub version: u64,
}

impl From<&UserRecord> for UserView {
    fn from(u: &UserRecord) -> Self {
        Self {
            id: u.id,
            username: u.username.clone(),
            is_admin: u.is_admin,
            created_at: u.created_at,
            updated_at: u.updated_at,
            version: u.version,
        }
    }
}

/// A password jiralink generated for the first administrator: shown once, then dropped.
pub struct GeneratedPassword(Password);

impl fmt::Debug for GeneratedPassword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("GeneratedPassword([redacted])")
    }
}

impl GeneratedPassword {
    /// The password.
    ///
    /// # Security
    /// Show it to the operator once; never log or store it.
    pub fn expose(&self) -> &str {
        self.0.expose()
    }
}

/// A session just opened by signing in.
pub struct NewSession {
    /// Goes into the browser's cookie and nowhere else.
    pub token: SessionToken,
    /// Forms of this session send it back.
    pub csrf_token: String,
    pub user: UserView,
    pub expires_at: OffsetDateTime,
}

/// A valid session: who it belongs to and its CSRF token.
#[derive(Clone)]
pub struct SessionInfo {
    pub user: UserView,
    pub csrf_token: String,
    pub expires_at: OffsetDateTime,
}

// The CSRF token is a secret of the session's (whoever has it can submit the session's forms);
// it stays out of anything that formats a session, as the session token does.
impl fmt::Debug for NewSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewSession")
            .field("token", &self.token)
            .field("csrf_token", &"[redacted]")
            .field("user", &self.user)
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

impl fmt::Debug for SessionInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionInfo")
            .field("user", &self.user)
            .field("csrf_token", &"[redacted]")
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// A user's API key, without the key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiKeyView {
    pub id: Uuid,
    pub name: String,
    /// The key's first characters, e.g. `jlk_3f9a0c1d`.
    pub prefix: String,
    pub username: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_used_at: Option<OffsetDateTime>,
}

impl ApiKeyView {
    fn new(record: &ApiKeyRecord, username: String) -> Self {
        Self {
            id: record.id,
            name: record.name.clone(),
            prefix: record.prefix.clone(),
            username,
            created_at: record.created_at,
            last_used_at: record.last_used_at,
        }
    }
}

/// A key just created: the only time the key itself is available.
#[derive(Debug)]
pub struct CreatedApiKey {
    pub view: ApiKeyView,
    pub key: UserApiKey,
}

/// Checks a user name: 1 to 64 letters, digits, `.`, `_`, `-` or `@`, starting with a letter
/// or digit. Returns it trimmed.
pub fn validate_username(name: &str) -> AppResult<String> {
    let name = name.trim();
    let count = name.chars().count();
    if count == 0 || count > MAX_USERNAME_CHARS {
        return Err(AppError::InvalidInput(format!(
            "a user name has 1 to {MAX_USERNAME_CHARS} characters"
        )));
    }
    jiralink_domain::check_visible(name, "user name").map_err(AppError::InvalidInput)?;
    let ok_start = name.chars().next().is_some_and(char::is_alphanumeric);
    let ok_chars = name
        .chars()
        .all(|c| c.is_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'));
    if !ok_start || !ok_chars {
        return Err(AppError::InvalidInput(
            "a user name may contain letters, digits, '.', '_', '-' and '@', and starts with a \
             letter or digit"
                .to_owned(),
        ));
    }
    Ok(name.to_owned())
}

/// Checks a new password's length.
pub fn validate_password(password: &Password) -> AppResult<()> {
    let count = password.expose().chars().count();
    if count < MIN_PASSWORD_CHARS {
        return Err(AppError::InvalidInput(format!(
            "the password is too short: use at least {MIN_PASSWORD_CHARS} characters (a few \
             unrelated words make a good one)"
        )));
    }
    if count > MAX_PASSWORD_CHARS {
        return Err(AppError::InvalidInput(format!(
            "the password is too long: use at most {MAX_PASSWORD_CHARS} characters"
        )));
    }
    Ok(())
}

/// Checks an API key's name: 1 to 100 characters without control, invisible or
/// text-direction characters. Returns it trimmed.
fn validate_key_name(name: &str) -> AppResult<String> {
    let name = name.trim();
    jiralink_domain::check_visible(name, "API key's name").map_err(AppError::InvalidInput)?;
    let count = name.chars().count();
    if count == 0 || count > 100 {
        return Err(AppError::InvalidInput(
            "an API key needs a name of 1 to 100 characters that says what uses it, e.g. \
             \"nightly export\""
                .to_owned(),
        ));
    }
    Ok(name.to_owned())
}

/// 256 random bits as 64 hex digits.
fn random_hex() -> Zeroizing<String> {
    let mut bytes = Zeroizing::new([0u8; 32]);
    rand::rngs::OsRng.fill_bytes(&mut *bytes);
    Zeroizing::new(hex::encode(*bytes))
}

/// The CSRF token of the session `token` opens: the hex SHA-256 of the token under a label of
/// its own, so it is another value than the session's stored id, and it can be computed only
/// by whoever holds the token; neither it nor the token is stored.
fn csrf_token_of(token: &SessionToken) -> String {
    let mut digest = Sha256::new();
    digest.update(b"jiralink csrf token\0");
    digest.update(token.expose().as_bytes());
    hex::encode(digest.finalize())
}

/// The hex SHA-256 under which a session token or an API key is stored.
#[must_use]
pub fn token_digest(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// How many Argon2id computations run at once in this process. Each takes 19 MiB and tens of
/// milliseconds of a CPU, so a burst of sign-ins would otherwise hold 19 MiB per attempt at
/// once. Those beyond the limit wait their turn, which costs them time the CPUs could not give
/// anyway.
fn argon2_permits() -> &'static tokio::sync::Semaphore {
    static PERMITS: std::sync::OnceLock<tokio::sync::Semaphore> = std::sync::OnceLock::new();
    PERMITS.get_or_init(|| tokio::sync::Semaphore::new(argon2_limit()))
}

fn argon2_limit() -> usize {
    let cpus = std::thread::available_parallelism().map_or(2, |n| n.get());
    cpus.clamp(2, 8)
}

/// Runs one Argon2id computation on the blocking pool once a permit is free.
async fn with_argon2<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, tokio::task::JoinError> {
    // The semaphore is never closed, so acquiring cannot fail; were it to, the work runs.
    let _permit = argon2_permits().acquire().await.ok();
    tokio::task::spawn_blocking(move || {
        let _running = ArgonGauge::enter();
        work()
    })
    .await
}

/// Counts the Argon2id computations running now and the most seen at once, so a test can
/// check the bound holds.
struct ArgonGauge;

static ARGON2_RUNNING: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
static ARGON2_MOST: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

impl ArgonGauge {
    fn enter() -> Self {
        use std::sync::atomic::Ordering::SeqCst;
        let now = ARGON2_RUNNING.fetch_add(1, SeqCst) + 1;
        ARGON2_MOST.fetch_max(now, SeqCst);
        ArgonGauge
    }
}

impl Drop for ArgonGauge {
    fn drop(&mut self) {
        ARGON2_RUNNING.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
}

async fn hash_password(password: &Password) -> AppResult<String> {
    let plain = Zeroizing::new(password.expose().to_owned());
    with_argon2(move || {
        argon2_hash(&plain)
            .map_err(|e| AppError::Io(format!("the password could not be hashed: {e}")))
    })
    .await
    .map_err(|e| AppError::Io(format!("the password could not be hashed: {e}")))?
}

/// An Argon2id PHC string of `plain` with a fresh salt; blocks for tens of milliseconds.
fn argon2_hash(plain: &str) -> Result<String, argon2::password_hash::Error> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(plain.as_bytes(), &salt)
        .map(|h| h.to_string())
}

/// Whether `password` matches `phc`; a malformed hash matches nothing.
async fn verify_password(password: &Password, phc: String) -> bool {
    let plain = Zeroizing::new(password.expose().to_owned());
    with_argon2(move || {
        PasswordHash::new(&phc).is_ok_and(|hash| {
            Argon2::default()
                .verify_password(plain.as_bytes(), &hash)
                .is_ok()
        })
    })
    .await
    .unwrap_or(false)
}

/// A hash of a random password, verified against when the user name is unknown so that the
/// answer takes as long as for a known one. Computed once, off the runtime's threads: Argon2
/// takes tens of milliseconds.
async fn decoy_hash() -> String {
    static DECOY: tokio::sync::OnceCell<String> = tokio::sync::OnceCell::const_new();
    DECOY
        .get_or_init(|| async {
            let plain = random_hex();
            with_argon2(move || {
                // Without a decoy an unknown name still gets the same answer, only faster.
                argon2_hash(&plain).unwrap_or_default()
            })
            .await
            .unwrap_or_default()
        })
        .await
        .clone()
}

fn system_actor() -> Actor {
    Actor {
        name: "jiralink".to_owned(),
        source: AuditSource::System,
    }
}

fn change(field: &str, before: Option<String>, after: Option<String>) -> FieldChange {
    FieldChange {
        field: field.to_owned(),
        before,
        after,
        secret: false,
    }
}

fn password_change() -> FieldChange {
    FieldChange {
        field: "password".to_owned(),
        before: None,
        after: None,
        secret: true,
    }
}

fn yes_no(b: bool) -> String {
    if b { "yes" } else { "no" }.to_owned()
}

fn store_user_error(e: StoreError, username: &str) -> AppError {
    match e {
        StoreError::Conflict { .. } => AppError::UsernameTaken {
            name: username.to_owned(),
        },
        StoreError::NotFound { .. } => AppError::UserNotFound {
            reference: username.to_owned(),
        },
        StoreError::InUse { .. } => AppError::LastAdmin {
            name: username.to_owned(),
        },
        other => other.into(),
    }
}

impl App {
    async fn new_user_record(
        &self,
        username: &str,
        password: &Password,
        is_admin: bool,
    ) -> AppResult<UserRecord> {
        let username = validate_username(username)?;
        validate_password(password)?;
        let now = self.now();
        Ok(UserRecord {
            id: Uuid::new_v4(),
            username,
            password_hash: hash_password(password).await?,
            is_admin,
            created_at: now,
            updated_at: now,
            version: 1,
        })
    }

    fn creation_audit(&self, user: &UserRecord, actor: &Actor) -> AuditEntry {
        self.audit_entry_for(
            actor,
            AuditAction::Create,
            ResourceKind::User,
            user.id,
            &user.username,
            vec![
                change("username", None, Some(user.username.clone())),
                change("is_admin", None, Some(yes_no(user.is_admin))),
                password_change(),
            ],
        )
    }

    /// Adds a user.
    pub async fn create_user(
        &self,
        username: &str,
        password: &Password,
        is_admin: bool,
        actor: &Actor,
    ) -> AppResult<UserView> {
        let user = self.new_user_record(username, password, is_admin).await?;
        let audit = self.creation_audit(&user, actor);
        self.store()
            .insert_user(&user, &audit)
            .await
            .map_err(|e| store_user_error(e, &user.username))?;
        Ok(UserView::from(&user))
    }

    /// Every user, by name.
    pub async fn list_users(&self) -> AppResult<Vec<UserView>> {
        Ok(self
            .store()
            .list_users()
            .await?
            .iter()
            .map(UserView::from)
            .collect())
    }

    async fn find_user_record(&self, reference: &str) -> AppResult<UserRecord> {
        let store = self.store();
        crate::find_by_reference(
            reference,
            async |id: Uuid| store.get_user(id).await,
            async |name: &str| store.find_user_by_name(name).await,
            || AppError::UserNotFound {
                reference: reference.to_owned(),
            },
        )
        .await
    }

    /// Finds a user by name (without regard to case) or id.
    pub async fn find_user(&self, reference: &str) -> AppResult<UserView> {
        Ok(UserView::from(&self.find_user_record(reference).await?))
    }

    /// Deletes a user with their sessions and API keys; never the last administrator.
    pub async fn delete_user(&self, reference: &str, actor: &Actor) -> AppResult<UserView> {
        let user = self.find_user_record(reference).await?;
        let audit = self.audit_entry_for(
            actor,
            AuditAction::Delete,
            ResourceKind::User,
            user.id,
            &user.username,
            vec![
                change("username", Some(user.username.clone()), None),
                change("is_admin", Some(yes_no(user.is_admin)), None),
            ],
        );
        self.store()
            .delete_user(user.id, &audit)
            .await
            .map_err(|e| store_user_error(e, &user.username))?;
        Ok(UserView::from(&user))
    }

    /// Sets a new password and ends every session of the user.
    /// Sets a user's password and ends their sessions. With `expected_version` (a form that
    /// showed the user), only if the user has not changed since ([`AppError::Conflict`]).
    pub async fn change_password(
        &self,
        reference: &str,
        expected_version: Option<u64>,
        password: &Password,
        actor: &Actor,
    ) -> AppResult<UserView> {
        validate_password(password)?;
        let user = self.find_user_record(reference).await?;
        if let Some(expected) = expected_version
            && expected != user.version
        {
            return Err(crate::connections::conflict("user", expected, user.version));
        }
        let hash = hash_password(password).await?;
        let now = self.now();
        let audit = self.audit_entry_for(
            actor,
            AuditAction::Update,
            ResourceKind::User,
            user.id,
            &user.username,
            vec![password_change()],
        );
        let version = match self
            .store()
            .set_password(user.id, &hash, now, Some(user.version), &audit)
            .await
        {
            Ok(version) => version,
            Err(StoreError::Changed { .. }) => {
                let current = self.store().get_user(user.id).await?.version;
                return Err(crate::connections::conflict(
                    "user",
                    expected_version.unwrap_or(user.version),
                    current,
                ));
            }
            Err(e) => return Err(store_user_error(e, &user.username)),
        };
        let mut view = UserView::from(&user);
        view.updated_at = now;
        view.version = version;
        Ok(view)
    }

    /// On the first start (no user at all) creates the administrator `admin`, with
    /// `password` when given (the CLI reads `JIRALINK_ADMIN_PASSWORD`), else with a generated
    /// one, which is returned so it can be shown once. Does nothing when users exist.
    pub async fn ensure_admin(
        &self,
        password: Option<Password>,
    ) -> AppResult<Option<GeneratedPassword>> {
        if !self.store().list_users().await?.is_empty() {
            return Ok(None);
        }
        let (password, generated) = match password {
            Some(p) => (p, false),
            None => (Password::from(random_password()), true),
        };
        let user = self
            .new_user_record(ADMIN_USERNAME, &password, true)
            .await?;
        let audit = self.creation_audit(&user, &system_actor());
        let inserted = self.store().insert_first_user(&user, &audit).await?;
        if inserted {
            tracing::info!(username = ADMIN_USERNAME, "created the first administrator");
        }
        Ok((inserted && generated).then_some(GeneratedPassword(password)))
    }

    /// Signs a user in from `address` (the client's IP address) and opens a session.
    ///
    /// Wrong password and unknown user give the same [`AppError::InvalidCredentials`];
    /// [`SIGN_IN_MAX_FAILURES`] failures within [`SIGN_IN_WINDOW`] give
    /// [`AppError::SignInThrottled`] without checking the password.
    pub async fn sign_in(
        &self,
        username: &str,
        password: &Password,
        address: &str,
    ) -> AppResult<NewSession> {
        let store = self.store();
        let key = username_key(username);
        let now = self.now();
        // A failure exactly one window old has left it (times are stored to the microsecond).
        let window_start = now - SIGN_IN_WINDOW + Duration::microseconds(1);
        // The attempt is counted before the password is checked, atomically with the check of
        // the limit: concurrent attempts cannot all slip under it, on any server.
        let max = u32::try_from(SIGN_IN_MAX_FAILURES).unwrap_or(u32::MAX);
        if let SignInAttempt::Throttled { recent } = store
            .begin_sign_in(&key, address, now, window_start, max)
            .await?
        {
            let oldest = recent[recent.len().saturating_sub(SIGN_IN_MAX_FAILURES)];
            let wait = oldest + SIGN_IN_WINDOW - now;
            let minutes = (wait.whole_seconds() + 59) / 60;
            tracing::warn!(address, "sign-in throttled");
            return Err(AppError::SignInThrottled {
                minutes: minutes.max(1),
            });
        }
        // Only the length is limited here: a stored password may predate today's rules.
        let user = if password.expose().chars().count() > MAX_PASSWORD_CHARS {
            None
        } else {
            store.find_user_by_name(username).await?
        };
        let hash = match &user {
            Some(u) => u.password_hash.clone(),
            None => decoy_hash().await,
        };
        let verified = verify_password(password, hash).await && user.is_some();
        let Some(user) = user.filter(|_| verified) else {
            // Already counted.
            tracing::info!(address, "sign-in failed");
            return Err(AppError::InvalidCredentials);
        };
        store.clear_login_failures(&key, address).await?;
        let token = SessionToken::from(random_hex());
        let csrf_token = csrf_token_of(&token);
        let record = SessionRecord {
            id: token_digest(token.expose()),
            user_id: user.id,
            // Derived from the token each time, so not stored: the database holds neither.
            csrf_token: String::new(),
            created_at: now,
            last_seen_at: now,
            expires_at: now + SESSION_LIFETIME,
        };
        store.insert_session(&record).await?;
        tracing::info!(username = %user.username, "signed in");
        Ok(NewSession {
            token,
            csrf_token,
            user: UserView::from(&user),
            expires_at: record.expires_at,
        })
    }

    /// The session `token` opens, or `None` when it is unknown, idle for longer than
    /// [`SESSION_IDLE_TIMEOUT`] or older than [`SESSION_LIFETIME`] (then it is deleted).
    /// Records the activity.
    pub async fn session(&self, token: &SessionToken) -> AppResult<Option<SessionInfo>> {
        let store = self.store();
        let id = token_digest(token.expose());
        let Some((session, user)) = store.get_session(&id).await? else {
            return Ok(None);
        };
        let now = self.now();
        if now >= session.expires_at || now - session.last_seen_at >= SESSION_IDLE_TIMEOUT {
            store.delete_session(&id).await?;
            return Ok(None);
        }
        if now - session.last_seen_at >= TOUCH_INTERVAL {
            store.touch_session(&id, now).await?;
        }
        Ok(Some(SessionInfo {
            user: UserView::from(&user),
            csrf_token: csrf_token_of(token),
            expires_at: session.expires_at,
        }))
    }

    /// Ends the session `token` opens (if any).
    pub async fn sign_out(&self, token: &SessionToken) -> AppResult<()> {
        self.store()
            .delete_session(&token_digest(token.expose()))
            .await?;
        Ok(())
    }

    /// Creates an API key for a user. The key is returned this once and stored only as its
    /// SHA-256.
    pub async fn create_api_key(
        &self,
        user_reference: &str,
        name: &str,
        actor: &Actor,
    ) -> AppResult<CreatedApiKey> {
        let name = validate_key_name(name)?;
        let user = self.find_user_record(user_reference).await?;
        let key = UserApiKey::new(format!("{API_KEY_PREFIX}{}", random_hex().as_str()));
        let record = ApiKeyRecord {
            id: Uuid::new_v4(),
            user_id: user.id,
            name,
            prefix: key.expose().chars().take(API_KEY_SHOWN_CHARS).collect(),
            key_hash: token_digest(key.expose()),
            created_at: self.now(),
            last_used_at: None,
        };
        let audit = self.audit_entry_for(
            actor,
            AuditAction::Create,
            ResourceKind::ApiKey,
            record.id,
            &format!("{} ({})", record.name, user.username),
            vec![
                change("name", None, Some(record.name.clone())),
                change("user", None, Some(user.username.clone())),
                change("prefix", None, Some(record.prefix.clone())),
            ],
        );
        self.store()
            .insert_api_key(&record, &audit)
            .await
            .map_err(|e| store_user_error(e, &user.username))?;
        Ok(CreatedApiKey {
            view: ApiKeyView::new(&record, user.username),
            key,
        })
    }

    /// The API keys of one user (by name or id), or of everyone.
    pub async fn list_api_keys(&self, user_reference: Option<&str>) -> AppResult<Vec<ApiKeyView>> {
        let user = match user_reference {
            Some(r) => Some(self.find_user_record(r).await?.id),
            None => None,
        };
        Ok(self
            .store()
            .list_api_keys(user)
            .await?
            .into_iter()
            .map(|(k, username)| ApiKeyView::new(&k, username))
            .collect())
    }

    /// Revokes (deletes) an API key by id.
    pub async fn revoke_api_key(&self, id: &str, actor: &Actor) -> AppResult<ApiKeyView> {
        let not_found = || AppError::ApiKeyNotFound {
            reference: id.to_owned(),
        };
        let uuid: Uuid = id.trim().parse().map_err(|_| not_found())?;
        let (record, username) = self
            .store()
            .list_api_keys(None)
            .await?
            .into_iter()
            .find(|(k, _)| k.id == uuid)
            .ok_or_else(not_found)?;
        let audit = self.audit_entry_for(
            actor,
            AuditAction::Delete,
            ResourceKind::ApiKey,
            record.id,
            &format!("{} ({username})", record.name),
            vec![
                change("name", Some(record.name.clone()), None),
                change("user", Some(username.clone()), None),
                change("prefix", Some(record.prefix.clone()), None),
            ],
        );
        match self.store().delete_api_key(uuid, &audit).await {
            Ok(()) => Ok(ApiKeyView::new(&record, username)),
            Err(StoreError::NotFound { .. }) => Err(not_found()),
            Err(e) => Err(e.into()),
        }
    }

    /// The user a presented API key belongs to, or `None` when it is no (longer a) valid key.
    /// Records the use.
    pub async fn authenticate_api_key(&self, presented: &str) -> AppResult<Option<UserView>> {
        if !presented.starts_with(API_KEY_PREFIX) {
            return Ok(None);
        }
        let store = self.store();
        let Some((key, user)) = store.find_api_key(&token_digest(presented)).await? else {
            return Ok(None);
        };
        let now = self.now();
        if key
            .last_used_at
            .is_none_or(|last| now - last >= TOUCH_INTERVAL)
        {
            store.touch_api_key(key.id, now).await?;
        }
        Ok(Some(UserView::from(&user)))
    }
}

/// A password for the first administrator: 24 characters from an alphabet without
/// look-alikes (about 140 bits).
fn random_password() -> Zeroizing<String> {
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::rngs::OsRng;
    let mut out = Zeroizing::new(String::with_capacity(24));
    for _ in 0..24 {
        let i = usize::try_from(rng.next_u32()).unwrap_or(0) % ALPHABET.len();
        out.push(char::from(ALPHABET[i]));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn a_burst_of_password_checks_runs_a_bounded_number_at_once() {
        let password = Password::new("correct horse battery staple");
        let phc = hash_password(&password).await.unwrap();
        // Other tests of this process may be hashing at the same time: the bound is on all.
        let limit = argon2_limit();
        let checks: Vec<_> = (0..24)
            .map(|i| {
                let phc = phc.clone();
                let guess = if i % 2 == 0 {
                    password.expose().to_owned()
                } else {
                    format!("wrong {i}")
                };
                tokio::spawn(async move { verify_password(&Password::new(guess), phc).await })
            })
            .collect();
        let mut matched = 0;
        for check in checks {
            matched += usize::from(check.await.unwrap());
        }
        assert_eq!(matched, 12, "every check still gives its answer");
        let most = ARGON2_MOST.load(std::sync::atomic::Ordering::SeqCst);
        assert!(
            most >= 1 && most <= limit,
            "{most} ran at once, limit {limit}"
        );
    }

    #[test]
    fn user_names_follow_the_rules() {
        assert_eq!(validate_username("  alice ").unwrap(), "alice");
        assert_eq!(validate_username("a.b_c-d@x").unwrap(), "a.b_c-d@x");
        for bad in ["", "   ", "-alice", "al ice", "al/ice", &"a".repeat(65)] {
            assert!(validate_username(bad).is_err(), "{bad:?}");
        }
        assert!(validate_username(&"a".repeat(64)).is_ok());
    }

    #[test]
    fn names_with_hidden_characters_are_refused_with_a_clear_message() {
        for c in [
            '\u{200B}', '\u{200D}', '\u{2060}', '\u{FEFF}', '\u{3164}', '\u{202E}', '\u{2067}',
            '\u{200F}', '\u{061C}',
        ] {
            for (what, result) in [
                ("user name", validate_username(&format!("al{c}ice"))),
                (
                    "API key's name",
                    validate_key_name(&format!("nightly{c} export")),
                ),
            ] {
                let message = result.unwrap_err().to_string();
                assert!(message.contains(what), "U+{:04X}: {message}", u32::from(c));
                assert!(
                    message.contains("invisible") || message.contains("text-direction"),
                    "U+{:04X}: {message}",
                    u32::from(c)
                );
                assert!(!message.contains("nightly"), "{message}");
            }
        }
        assert_eq!(
            validate_key_name(" nightly export ").unwrap(),
            "nightly export"
        );
        assert!(validate_key_name("a\tb").is_err());
        assert_eq!(validate_username("名前").unwrap(), "名前");
    }

    #[test]
    fn passwords_need_twelve_characters() {
        assert!(validate_password(&Password::new("elevenchars")).is_err());
        assert!(validate_password(&Password::new("twelve chars")).is_ok());
        // Characters, not bytes.
        assert!(validate_password(&Password::new("ééééééééééé")).is_err());
        let err = validate_password(&Password::new("short")).unwrap_err();
        assert!(err.to_string().contains("at least 12"), "{err}");
        assert!(!err.to_string().contains("short\""));
        assert!(validate_password(&Password::new("x".repeat(1025))).is_err());
    }

    #[tokio::test]
    async fn hashes_are_argon2id_and_verify() {
        let password = Password::new("correct horse battery");
        let hash = hash_password(&password).await.unwrap();
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
        assert!(!hash.contains("correct horse"));
        assert!(verify_password(&password, hash.clone()).await);
        assert!(!verify_password(&Password::new("correct horse batterz"), hash.clone()).await);
        assert!(!verify_password(&password, "not a hash".to_owned()).await);
        // Two hashes of one password differ (random salt).
        assert_ne!(hash_password(&password).await.unwrap(), hash);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn the_decoy_is_one_argon2id_hash_that_matches_no_password() {
        let decoy = decoy_hash().await;
        assert!(decoy.starts_with("$argon2id$"), "{decoy}");
        assert_eq!(decoy_hash().await, decoy);
        assert!(!verify_password(&Password::new(""), decoy).await);
    }

    #[test]
    fn random_values_have_256_bits() {
        let a = random_hex();
        assert_eq!(a.len(), 64);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(*a, *random_hex());
        let p = random_password();
        assert_eq!(p.chars().count(), 24);
        assert!(validate_password(&Password::new(p.as_str())).is_ok());
    }

    #[test]
    fn digests_are_hex_sha256() {
        assert_eq!(
            token_digest("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn generated_password_debug_is_redacted() {
        let p = GeneratedPassword(Password::new("CANARY-generated-pw"));
        assert_eq!(format!("{p:?}"), "GeneratedPassword([redacted])");
    }
}
