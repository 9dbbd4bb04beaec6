//! Import definitions and the import ledger. Import runs are kept with export runs
//! ([`crate::ExportStore`], [`crate::RunKind::Import`]): they share the lease, checkpoint and
//! output machinery (an import run's output is its results).
//!
//! The ledger maps a record's identity to the issue it became, per connection and ledger
//! scope, across runs. It is what makes a re-run, or a resumed run, create nothing twice: an
//! entry is written `uncertain` before a create is sent and `done` once Jira's answer names
//! the issue.

use std::collections::HashMap;

use async_trait::async_trait;
use jiralink_domain::ConnectionId;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::StoreResult;

/// A saved import definition.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportRecord {
    pub id: Uuid,
    /// Unique among imports without regard to case ([`crate::export_name_key`]).
    pub name: String,
    pub connection_id: ConnectionId,
    /// The mapping and input settings, as the engine's JSON (opaque to the store).
    pub spec: serde_json::Value,
    /// When to run it, as JSON (opaque to the store); `None` runs only on request.
    pub schedule: Option<serde_json::Value>,
    pub enabled: bool,
    pub version: u64,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

/// One ledger entry as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerRow {
    /// `uncertain` or `done`.
    pub state: String,
    pub issue_key: Option<String>,
    pub issue_id: Option<String>,
    pub run_id: String,
    pub at_ms: i64,
}

/// Import definitions and the ledger.
#[async_trait]
pub trait ImportStore: Send + Sync {
    /// [`crate::StoreError::Conflict`] when the name is taken (without regard to case);
    /// [`crate::StoreError::NotFound`] when the connection does not exist.
    async fn insert_import(&self, import: &ImportRecord) -> StoreResult<()>;
    /// Replaces name, connection, spec, schedule, enabled and `updated_at` when the stored
    /// version is still `import.version` ([`crate::StoreError::Changed`] otherwise). Returns
    /// the new version.
    async fn update_import(&self, import: &ImportRecord) -> StoreResult<u64>;
    /// [`crate::StoreError::NotFound`] when there is no such import.
    async fn get_import(&self, id: Uuid) -> StoreResult<ImportRecord>;
    /// Looks an import up by its name, without regard to case.
    async fn find_import_by_name(&self, name: &str) -> StoreResult<Option<ImportRecord>>;
    /// Every import, ordered by name (case-insensitive).
    async fn list_imports(&self) -> StoreResult<Vec<ImportRecord>>;
    /// The imports using any of the connections, as (connection, import id, import name).
    async fn imports_using(
        &self,
        connections: &[ConnectionId],
    ) -> StoreResult<Vec<(ConnectionId, Uuid, String)>>;
    /// Deletes the import with its runs and their results (its ledger entries stay: they
    /// belong to the connection and scope). [`crate::StoreError::NotFound`] when there is none.
    async fn delete_import(&self, id: Uuid) -> StoreResult<()>;

    /// The ledger entries of these identities that exist.
    async fn ledger_get(
        &self,
        connection: ConnectionId,
        scope: &str,
        identities: &[String],
    ) -> StoreResult<HashMap<String, LedgerRow>>;
    /// Inserts or replaces entries, in one transaction.
    async fn ledger_put(
        &self,
        connection: ConnectionId,
        scope: &str,
        entries: &[(String, LedgerRow)],
    ) -> StoreResult<()>;
    /// Removes entries, in one transaction.
    async fn ledger_remove(
        &self,
        connection: ConnectionId,
        scope: &str,
        identities: &[String],
    ) -> StoreResult<()>;
    /// How many entries a scope holds, per state.
    async fn ledger_counts(
        &self,
        connection: ConnectionId,
        scope: &str,
    ) -> StoreResult<HashMap<String, u64>>;
}
