//! Users who sign in, their sessions, failed sign-ins and API keys.
//!
//! Nothing here is a plaintext credential: passwords arrive as Argon2id PHC strings, session
//! tokens and API keys as their hex SHA-256. The store only compares and keeps those.

use std::fmt;

use async_trait::async_trait;
use jiralink_domain::AuditEntry;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::{SignInAttempt, StoreResult};

/// A user as stored.
#[derive(Clone, PartialEq, Eq)]
pub struct UserRecord {
    pub id: Uuid,
    pub username: String,
    /// The Argon2id PHC string of the password.
    pub password_hash: String,
    pub is_admin: bool,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    /// 1 when created, one more with every change.
    pub version: u64,
}

impl fmt::Debug for UserRecord {
    // The hash is not the password, but an offline guessing attack starts from it: keep it
    // out of logs too.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UserRecord")
            .field("id", &self.id)
            .field("username", &self.username)
            .field("password_hash", &"[redacted]")
            .field("is_admin", &self.is_admin)
            .field("created_at", &self.created_at)
            .field("updated_at", &self.updated_at)
            .field("version", &self.version)
            .finish()
    }
}

/// A signed-in browser.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionRecord {
    /// The hex SHA-256 of the session token.
    pub id: String,
    pub user_id: Uuid,
    /// Empty: the session's CSRF token is derived from the session token, which is not
    /// stored either (earlier versions stored the token here).
    pub csrf_token: String,
    pub created_at: OffsetDateTime,
    pub last_seen_at: OffsetDateTime,
    /// The absolute end of the session, however active it is.
    pub expires_at: OffsetDateTime,
}

impl fmt::Debug for SessionRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionRecord")
            .field("user_id", &self.user_id)
            .field("created_at", &self.created_at)
            .field("last_seen_at", &self.last_seen_at)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// A user's API key, without the key.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKeyRecord {
    pub id: Uuid,
    pub user_id: Uuid,
    /// What the user called it, e.g. "nightly export".
    pub name: String,
    /// The key's first characters, to tell keys apart.
    pub prefix: String,
    /// The hex SHA-256 of the key.
    pub key_hash: String,
    pub created_at: OffsetDateTime,
    pub last_used_at: Option<OffsetDateTime>,
}

impl fmt::Debug for ApiKeyRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiKeyRecord")
            .field("id", &self.id)
            .field("user_id", &self.user_id)
            .field("name", &self.name)
            .field("prefix", &self.prefix)
            .field("created_at", &self.created_at)
            .field("last_used_at", &self.last_used_at)
            .finish_non_exhaustive()
    }
}

/// Users, sessions, sign-in throttling and API keys.
#[async_trait]
pub trait UserStore: Send + Sync {
    /// Every user, ordered by name (case-insensitive).
    async fn list_users(&self) -> StoreResult<Vec<UserRecord>>;
    /// [`crate::StoreError::NotFound`] when there is no such user.
    async fn get_user(&self, id: Uuid) -> StoreResult<UserRecord>;
    /// Looks a user up by name, without regard to case.
    async fn find_user_by_name(&self, username: &str) -> StoreResult<Option<UserRecord>>;
    /// Inserts a user with its audit entry. [`crate::StoreError::Conflict`] when the name is
    /// taken (without regard to case).
    async fn insert_user(&self, user: &UserRecord, audit: &AuditEntry) -> StoreResult<()>;
    /// Inserts the user only when there is no user at all, in one statement, so two servers
    /// starting together create one first administrator. Returns whether it was inserted.
    async fn insert_first_user(&self, user: &UserRecord, audit: &AuditEntry) -> StoreResult<bool>;
    /// Replaces the password hash and ends every session of the user, with its audit entry.
    /// With `expected_version`, only if the user is still at that version
    /// ([`crate::StoreError::Changed`] otherwise). Returns the new version.
    async fn set_password(
        &self,
        id: Uuid,
        password_hash: &str,
        at: OffsetDateTime,
        expected_version: Option<u64>,
        audit: &AuditEntry,
    ) -> StoreResult<u64>;
    /// Deletes the user with its sessions and API keys. [`crate::StoreError::InUse`] when it is
    /// the last administrator (checked in the same statement).
    async fn delete_user(&self, id: Uuid, audit: &AuditEntry) -> StoreResult<()>;

    /// Stores a new session, dropping expired ones.
    async fn insert_session(&self, session: &SessionRecord) -> StoreResult<()>;
    /// The session whose token hashes to `id`, with its user.
    async fn get_session(&self, id: &str) -> StoreResult<Option<(SessionRecord, UserRecord)>>;
    /// Records activity on a session.
    async fn touch_session(&self, id: &str, at: OffsetDateTime) -> StoreResult<()>;
    /// Deletes a session; returns whether it existed.
    async fn delete_session(&self, id: &str) -> StoreResult<bool>;
    /// Deletes every session of a user; returns how many there were.
    async fn delete_user_sessions(&self, user: Uuid) -> StoreResult<u64>;

    /// Counts a sign-in attempt of `username_key` from `address` *before* its password is
    /// checked, unless `max` attempts are already counted at or after `since`: the count and
    /// the insert are one atomic step on every backend, so concurrent attempts cannot all slip
    /// under the limit. Attempts older than `since` are forgotten. A successful sign-in clears
    /// the count ([`UserStore::clear_login_failures`]); a failed one leaves it.
    async fn begin_sign_in(
        &self,
        username_key: &str,
        address: &str,
        at: OffsetDateTime,
        since: OffsetDateTime,
        max: u32,
    ) -> StoreResult<SignInAttempt>;
    /// When `username_key` failed to sign in from `address` at or after `since`, oldest first.
    async fn login_failures(
        &self,
        username_key: &str,
        address: &str,
        since: OffsetDateTime,
    ) -> StoreResult<Vec<OffsetDateTime>>;
    /// Forgets the failures of `username_key` from `address` (after a successful sign-in).
    async fn clear_login_failures(&self, username_key: &str, address: &str) -> StoreResult<()>;

    /// Stores a new API key with its audit entry.
    async fn insert_api_key(&self, key: &ApiKeyRecord, audit: &AuditEntry) -> StoreResult<()>;
    /// Every API key (of one user, or of all), with its user's name, oldest first.
    async fn list_api_keys(&self, user: Option<Uuid>) -> StoreResult<Vec<(ApiKeyRecord, String)>>;
    /// The key whose hash is `key_hash`, with its user.
    async fn find_api_key(&self, key_hash: &str)
    -> StoreResult<Option<(ApiKeyRecord, UserRecord)>>;
    /// Records a use of the key.
    async fn touch_api_key(&self, id: Uuid, at: OffsetDateTime) -> StoreResult<()>;
    /// Deletes (revokes) a key with its audit entry. [`crate::StoreError::NotFound`] when
    /// there is no such key.
    async fn delete_api_key(&self, id: Uuid, audit: &AuditEntry) -> StoreResult<()>;
}

/// The key that makes user names unique without regard to case; also the key of sign-in
/// throttling, so "Admin" and "admin" count as one.
#[must_use]
pub fn username_key(username: &str) -> String {
    username.trim().to_lowercase()
}
