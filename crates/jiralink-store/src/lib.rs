//! Persistence for jiralink behind small traits.
//!
//! Callers (the `app` crate) only see the traits in this module. Two backends implement them
//! all with one body of SQL (`sql/`): [`SqliteStore`] (feature `sqlite`, the embedded default)
//! and [`PgStore`] (feature `postgres`, for several servers sharing one database). Each has
//! its own forward-only embedded migrations (`migrations/sqlite`, `migrations/postgres`), with
//! the same versions. Values are encoded the same way on both (`codec`).
//!
//! Invariants:
//! - No plaintext secret ever reaches a store: secrets arrive already sealed
//!   ([`jiralink_vault::Sealed`]) and are stored with the id of the key that sealed them.
//! - Every write of a connection or an OAuth 2.0 client commits together with its
//!   secrets and its audit entry, or not at all.
//! - Names are unique without regard to case (the `name_key` column).
//! - Everything a request or a background job needs is in the database, never only in one
//!   process: several processes may share a database and must agree.
//! - An edit names the version it was made from; a stale one changes nothing
//!   ([`StoreError::Changed`]).
//! - Work held with a lease (jobs, export runs, refreshes, slots) is written only by its
//!   current holder; a holder that lost the lease writes nothing.
//! - An import's ledger entry is written `uncertain` before its create is sent
//!   ([`ImportStore`]).
//! - A flow's id map is written only after the writes it records ([`FlowStore`]).
//! - An export's delta cursor moves only in the transaction that ends a successful run, with
//!   the last of that run's output ([`ExportStore`]).

mod codec;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod copy;
mod error;
mod exports;
mod flows;
mod imports;
mod jobs;
mod listeners;
mod model;
mod notifications;
#[cfg(feature = "postgres")]
mod postgres;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
#[doc(hidden)]
pub mod sql;
#[cfg(feature = "sqlite")]
mod sqlite;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod url;
mod users;

use async_trait::async_trait;
use jiralink_domain::{
    AuditEntry, Connection, ConnectionId, ConnectionState, OAuthClient, OAuthClientId, ResourceKind,
};
use jiralink_vault::{KeyId, Sealed};
use time::OffsetDateTime;

#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub use copy::{CopyReport, TableCount, copied_columns};
pub use error::{StoreError, StoreResult};
pub use exports::{
    ExportRecord, ExportRunRecord, ExportStore, NewExportRun, RunFilter, RunFinish, RunKind,
    RunState, RunTrigger, export_name_key,
};
pub use flows::{CommentLink, FlowRecord, FlowRunRecord, FlowStore, SyncLink};
pub use imports::{ImportRecord, ImportStore, LedgerRow};
pub use jobs::{ClaimedJob, JobFinish, JobOutcome, JobRecord, JobRun, JobStore, NewJob};
pub use listeners::{
    EventStored, ListenerEvent, ListenerEventStats, ListenerRecord, ListenerStore,
};
pub use model::{
    ConnectionUpdate, DebugDirection, DebugLine, PendingAuthorization, RefreshLease,
    RefreshOutcome, SecretField, SecretOwner, SecretWrite, SignInAttempt, StoredSecret,
    TokenRecord,
};
pub use notifications::{
    DeliveryUpdate, EventRecord, NotificationRecord, NotificationStore, StateReport,
    SubscriptionRecord, WebhookRecord,
};
#[cfg(feature = "postgres")]
pub use postgres::{PgStore, SKIP_POSTGRES_ENV, TEST_DATABASE_URL_ENV, TestSchema};
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub use sql::SqlStore;
#[cfg(feature = "sqlite")]
pub use sqlite::{DATABASE_FILE, SqliteStore};
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub use url::{
    AnyStore, BackendKind, DatabaseUrl, MigrationInfo, PoolSettings, SchemaStatus, known_migrations,
};
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
    /// Replaces the settings when the stored version is still `update.connection.version`
    /// ([`StoreError::Changed`] otherwise, with nothing changed), with the secrets listed (the
    /// others are kept, except those the connection no longer keeps:
    /// [`Connection::kept_secrets`]) and the audit entry, in one transaction. Returns the new
    /// version.
    async fn update_connection(
        &self,
        update: &ConnectionUpdate<'_>,
        secrets: &[SecretWrite],
        audit: &AuditEntry,
    ) -> StoreResult<u64>;
    /// Records a change of state (online, offline, …) without touching the settings.
    async fn set_connection_state(
        &self,
        id: ConnectionId,
        state: &ConnectionState,
        at: OffsetDateTime,
    ) -> StoreResult<()>;
    /// Records the result of a test: the state (its change time moves only when it differs),
    /// when it was tested, and the site's cloud id when the test found one (`None` keeps the
    /// stored one). Only when the connection's version is still `tested_version` (the one
    /// read when the test started): a result about older settings must not overwrite a newer
    /// edit, so [`StoreError::Changed`] is returned instead.
    async fn record_connection_test(
        &self,
        id: ConnectionId,
        tested_version: u64,
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
    /// Deletes the connection and every secret it owns, with the runs of exports made
    /// through it. [`StoreError::Conflict`] (kind `export of this connection`, naming one of
    /// them; nothing deleted) while an export definition uses it
    /// ([`ExportStore::exports_using`] names them all).
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
    /// Replaces the client when the stored version is still `client.version`
    /// ([`StoreError::Changed`] otherwise); returns the new version.
    async fn update_oauth_client(
        &self,
        client: &OAuthClient,
        secrets: &[SecretWrite],
        audit: &AuditEntry,
    ) -> StoreResult<u64>;
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
/// Refresh is single-flight across processes with a lease, not a lock: a holder takes the
/// connection's refresh lease ([`OAuthStore::lease_refresh`], a short write), sends the token
/// request with no transaction open, and stores what it got only while it still holds the
/// lease ([`OAuthStore::finish_refresh`]). Others wait for the result by reading the tokens
/// again. A holder that dies leaves a lease that runs out; Atlassian accepts the old refresh
/// token again for ten minutes, so the next holder's refresh still works.
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
    /// Takes the connection's refresh lease for `holder` until `until`, when nobody holds an
    /// unexpired one (see the trait docs).
    async fn lease_refresh(
        &self,
        id: ConnectionId,
        holder: &str,
        now: OffsetDateTime,
        until: OffsetDateTime,
    ) -> StoreResult<RefreshLease>;
    /// Stores what a refresh under `holder`'s lease ended with and gives the lease back, in
    /// one transaction. `false`, with nothing stored, when another holder has taken the lease
    /// meanwhile.
    async fn finish_refresh(
        &self,
        id: ConnectionId,
        holder: &str,
        outcome: RefreshOutcome<'_>,
        at: OffsetDateTime,
    ) -> StoreResult<bool>;
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

/// The audit log.
#[async_trait]
pub trait AuditStore: Send + Sync {
    /// Appends an entry on its own (writes of resources append theirs in their transaction).
    async fn append_audit(&self, entry: &AuditEntry) -> StoreResult<()>;
    /// Entries for one resource, oldest first.
    async fn list_audit(&self, kind: ResourceKind, id: uuid::Uuid) -> StoreResult<Vec<AuditEntry>>;
}

/// A connection's concurrency level, held across every process sharing the database: each
/// request to Jira holds one of the connection's numbered slots, leased for as long as a
/// request may take, so a process that dies mid-request frees its slots when the lease runs
/// out.
#[async_trait]
pub trait SlotStore: Send + Sync {
    /// Takes a free slot below `level` for `holder` until `until`; `None` when all are busy.
    async fn acquire_slot(
        &self,
        connection: ConnectionId,
        level: u8,
        holder: &str,
        now: OffsetDateTime,
        until: OffsetDateTime,
    ) -> StoreResult<Option<u8>>;
    /// Gives a slot back (nothing happens if `holder` no longer holds it).
    async fn release_slot(
        &self,
        connection: ConnectionId,
        slot: u8,
        holder: &str,
    ) -> StoreResult<()>;
    /// How many of the connection's slots are held at `now`.
    async fn slots_in_use(&self, connection: ConnectionId, now: OffsetDateTime)
    -> StoreResult<u32>;
}

/// Installation-wide values that are not secrets, e.g. the hash of the server's API key.
#[async_trait]
pub trait SettingStore: Send + Sync {
    async fn get_setting(&self, key: &str) -> StoreResult<Option<String>>;
    /// Stores the value unless the key has one; returns the stored value either way, so
    /// servers starting together agree on one.
    async fn put_setting_if_absent(
        &self,
        key: &str,
        value: &str,
        at: OffsetDateTime,
    ) -> StoreResult<String>;
    /// Stores the value, replacing any.
    async fn set_setting(&self, key: &str, value: &str, at: OffsetDateTime) -> StoreResult<()>;
    /// Deletes the value; returns whether there was one.
    async fn delete_setting(&self, key: &str) -> StoreResult<bool>;
}

/// The database behind a store: which backend, and whether it answers.
#[async_trait]
pub trait Health: Send + Sync {
    /// `sqlite` or `postgres`.
    fn backend(&self) -> &'static str;
    /// One round trip to the database.
    async fn ping(&self) -> StoreResult<()>;
    /// Closes the connections to the database, waiting for those in use; every later call
    /// fails (a server stopping closes them so PostgreSQL sees clean disconnects).
    async fn close(&self);
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
    + JobStore
    + ExportStore
    + ImportStore
    + FlowStore
    + ListenerStore
    + NotificationStore
    + SlotStore
    + SettingStore
    + Health
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
        + JobStore
        + ExportStore
        + ImportStore
        + FlowStore
        + ListenerStore
        + NotificationStore
        + SlotStore
        + SettingStore
        + Health
        + std::fmt::Debug
        + 'static
{
}
