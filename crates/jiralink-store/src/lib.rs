//! Persistence for jiralink behind small traits.
//!
//! Callers (the `app` crate) only see the traits in this module, so a PostgreSQL
//! implementation can sit beside [`SqliteStore`] without changing them.
//!
//! Invariants:
//! - No plaintext secret ever reaches a store: secrets arrive already sealed
//!   ([`jiralink_vault::Sealed`]) and are stored with the id of the key that sealed them.
//! - Every write of a connection or an OAuth 2.0 client commits together with its
//!   secrets and its audit entry, or not at all.
//! - Names are unique without regard to case (the `name_key` column).

mod error;
mod model;
mod sqlite;
mod users;

use async_trait::async_trait;
use jiralink_domain::{
    AuditEntry, Connection, ConnectionId, ConnectionState, OAuthClient, OAuthClientId, ResourceKind,
};
use jiralink_vault::{KeyId, Sealed};
use time::OffsetDateTime;

pub use error::{StoreError, StoreResult};
pub use model::{
    DebugDirection, DebugLine, PendingAuthorization, SecretField, SecretOwner, SecretWrite,
    StoredSecret, TokenRecord,
};
pub use sqlite::{BUSY_TIMEOUT, DATABASE_FILE, SqliteStore};
pub use users::{ApiKeyRecord, SessionRecord, UserRecord, UserStore, username_key};

/// Connections to Jira.
#[async_trait]
pub trait ConnectionStore: Send + Sync {
    /// Every connection, ordered by name (case-insensitive).
    async fn list_connections(&self) -> StoreResult<Vec<Connection>>;
    /// [`StoreError::NotFound`] when there is no such connection.
    async fn get_connection(&self, id: ConnectionId) -> StoreResult<Connection>;
    /// Looks a connection up by its name, without regard to case.
    async fn find_connection_by_name(&self, name: &str) -> StoreResult<Option<Connection>>;
    /// Inserts the connection with its sealed secrets and audit entry in one transaction.
    /// [`StoreError::Conflict`] when the name is taken.
    async fn insert_connection(
        &self,
        connection: &Connection,
        secrets: &[SecretWrite],
        audit: &AuditEntry,
    ) -> StoreResult<()>;
    /// Replaces the settings; secrets listed are replaced, others are kept.
    async fn update_connection(
        &self,
        connection: &Connection,
        secrets: &[SecretWrite],
        audit: &AuditEntry,
    ) -> StoreResult<()>;
    /// Records a change of state (online, offline, …) without touching the settings.
    async fn set_connection_state(
        &self,
        id: ConnectionId,
        state: &ConnectionState,
        at: OffsetDateTime,
    ) -> StoreResult<()>;
    /// Records the result of a test: the state (its change time moves only when it differs),
    /// when it was tested, and the site's cloud id when the test found one (`None` keeps the
    /// stored one). Only when the connection's `updated_at` is still `tested_version` (the
    /// value read when the test started): a result about older settings must not overwrite a
    /// newer edit, so [`StoreError::Changed`] is returned instead.
    async fn record_connection_test(
        &self,
        id: ConnectionId,
        tested_version: OffsetDateTime,
        state: &ConnectionState,
        tested_at: OffsetDateTime,
        cloud_id: Option<&str>,
    ) -> StoreResult<()>;
    /// Opens (`Some`) or closes (`None`) the connection debugger's window.
    async fn set_debug_until(
        &self,
        id: ConnectionId,
        until: Option<OffsetDateTime>,
    ) -> StoreResult<()>;
    /// Deletes the connection and every secret it owns.
    async fn delete_connection(&self, id: ConnectionId, audit: &AuditEntry) -> StoreResult<()>;
    /// The connections that use an OAuth 2.0 client, as (id, name).
    async fn connections_using_client(
        &self,
        client: OAuthClientId,
    ) -> StoreResult<Vec<(ConnectionId, String)>>;
}

/// OAuth 2.0 client resources.
#[async_trait]
pub trait OAuthClientStore: Send + Sync {
    async fn list_oauth_clients(&self) -> StoreResult<Vec<OAuthClient>>;
    async fn get_oauth_client(&self, id: OAuthClientId) -> StoreResult<OAuthClient>;
    async fn find_oauth_client_by_name(&self, name: &str) -> StoreResult<Option<OAuthClient>>;
    async fn insert_oauth_client(
        &self,
        client: &OAuthClient,
        secrets: &[SecretWrite],
        audit: &AuditEntry,
    ) -> StoreResult<()>;
    async fn update_oauth_client(
        &self,
        client: &OAuthClient,
        secrets: &[SecretWrite],
        audit: &AuditEntry,
    ) -> StoreResult<()>;
    /// [`StoreError::InUse`] when a connection still uses the client.
    async fn delete_oauth_client(&self, id: OAuthClientId, audit: &AuditEntry) -> StoreResult<()>;
}

/// Sealed secrets, for using them and for re-sealing them under a new key.
#[async_trait]
pub trait SecretStore: Send + Sync {
    async fn get_secret(
        &self,
        owner: SecretOwner,
        field: SecretField,
    ) -> StoreResult<Option<StoredSecret>>;
    /// Every sealed secret (no plaintext exists here), for key rotation.
    async fn list_secrets(&self) -> StoreResult<Vec<StoredSecret>>;
    /// Deletes one secret; returns whether it existed.
    async fn delete_secret(&self, owner: SecretOwner, field: SecretField) -> StoreResult<bool>;
    /// How many secrets each key sealed.
    async fn count_secrets_by_key(&self) -> StoreResult<Vec<(KeyId, u64)>>;
    /// Replaces one sealed value only if it is still sealed by `expected` (compare and swap),
    /// so a rotation never overwrites a secret that was changed meanwhile.
    /// Returns whether the row was replaced. Does not change `updated_at`: the value is the same.
    async fn reseal_secret(
        &self,
        owner: SecretOwner,
        field: SecretField,
        expected: &KeyId,
        sealed: &Sealed,
    ) -> StoreResult<bool>;
}

/// The connection debugger's log: masked request and response lines, kept for a day.
#[async_trait]
pub trait DebugLogStore: Send + Sync {
    /// Appends lines (in order).
    async fn append_debug_lines(&self, lines: &[DebugLine]) -> StoreResult<()>;
    /// The lines of one connection at or after `since`, oldest first.
    async fn list_debug_lines(
        &self,
        connection: ConnectionId,
        since: OffsetDateTime,
    ) -> StoreResult<Vec<DebugLine>>;
    /// Deletes every line of one connection; returns how many there were.
    async fn clear_debug_lines(&self, connection: ConnectionId) -> StoreResult<u64>;
    /// Deletes every line older than `before`, of all connections; returns how many.
    async fn purge_debug_lines(&self, before: OffsetDateTime) -> StoreResult<u64>;
}

/// OAuth 2.0 authorizations in progress and the tokens they yield.
///
/// Refresh is single-flight across processes: [`OAuthStore::lock_tokens`] opens a write
/// transaction (SQLite `BEGIN IMMEDIATE`; PostgreSQL will use `SELECT … FOR UPDATE` on the
/// connection's row) that the caller holds across the token request, so a second process
/// waits and then sees the rotated tokens instead of spending the old refresh token again.
#[async_trait]
pub trait OAuthStore: Send + Sync {
    /// Stores a new authorization in progress, dropping expired ones.
    async fn insert_pending_authorization(&self, pending: &PendingAuthorization)
    -> StoreResult<()>;
    /// Deletes and returns the authorization whose state hashes to `state_hash`, in one
    /// statement, so a `state` can be used once only. Expired rows are not returned.
    async fn take_pending_authorization(
        &self,
        state_hash: &str,
        now: OffsetDateTime,
    ) -> StoreResult<Option<PendingAuthorization>>;
    /// The stored tokens, read without a lock.
    async fn read_tokens(&self, id: ConnectionId) -> StoreResult<TokenRecord>;
    /// Stores the tokens of a completed authorization with the site's cloud id and marks the
    /// connection online, with its audit entry, in one transaction.
    async fn save_authorization(
        &self,
        id: ConnectionId,
        tokens: &[SecretWrite],
        access_token_expires_at: OffsetDateTime,
        cloud_id: &str,
        at: OffsetDateTime,
        audit: &AuditEntry,
    ) -> StoreResult<()>;
    /// Locks the connection's tokens for a refresh (see the trait docs).
    async fn lock_tokens(&self, id: ConnectionId) -> StoreResult<Box<dyn TokenLock>>;
    /// Deletes the tokens and moves the connection to `state`, with its audit entry.
    /// Returns whether there were tokens.
    async fn forget_tokens(
        &self,
        id: ConnectionId,
        state: &ConnectionState,
        at: OffsetDateTime,
        audit: &AuditEntry,
    ) -> StoreResult<bool>;
}

/// The tokens of one connection, locked for a refresh. Dropping it without committing
/// rolls back and releases the lock.
#[async_trait]
pub trait TokenLock: Send + std::fmt::Debug {
    /// The tokens as they are now, read under the lock.
    fn tokens(&self) -> &TokenRecord;
    /// Writes the rotated tokens and their expiry, and commits. Only after this returns may
    /// the new access token be used.
    async fn commit_tokens(
        self: Box<Self>,
        tokens: &[SecretWrite],
        access_token_expires_at: OffsetDateTime,
        at: OffsetDateTime,
    ) -> StoreResult<()>;
    /// Records that the grant is gone: the tokens are deleted and the connection moves to
    /// `state`; commits.
    async fn commit_revoked(
        self: Box<Self>,
        state: &ConnectionState,
        at: OffsetDateTime,
    ) -> StoreResult<()>;
    /// Records that a refresh failed without an answer (Atlassian may have rotated the
    /// refresh token), keeping the tokens and an earlier mark; commits. Saving or forgetting
    /// the tokens clears the mark.
    async fn commit_pending(self: Box<Self>, since: OffsetDateTime) -> StoreResult<()>;
}

/// The audit log.
#[async_trait]
pub trait AuditStore: Send + Sync {
    /// Appends an entry on its own (writes of resources append theirs in their transaction).
    async fn append_audit(&self, entry: &AuditEntry) -> StoreResult<()>;
    /// Entries for one resource, oldest first.
    async fn list_audit(&self, kind: ResourceKind, id: uuid::Uuid) -> StoreResult<Vec<AuditEntry>>;
}

/// Everything the application needs from persistence.
pub trait Store:
    ConnectionStore
    + OAuthClientStore
    + SecretStore
    + AuditStore
    + DebugLogStore
    + OAuthStore
    + UserStore
    + std::fmt::Debug
    + 'static
{
}

impl<T> Store for T where
    T: ConnectionStore
        + OAuthClientStore
        + SecretStore
        + AuditStore
        + DebugLogStore
        + OAuthStore
        + UserStore
        + std::fmt::Debug
        + 'static
{
}
