//! Flows (a saved export feeding a saved import), their runs, and the id map between two
//! sites kept in step.
//!
//! The id map has one row per direction: for an issue on one connection, its copy on the
//! other and the issue's `updated` when a flow last read or wrote it. A flow reading a record
//! whose `updated` still equals that value knows nothing changed since the last copy — in
//! particular, not since its own write — and sends nothing back.

use std::collections::HashMap;

use async_trait::async_trait;
use jiralink_domain::ConnectionId;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::{RunState, RunTrigger, StoreResult};

/// A saved flow.
#[derive(Debug, Clone, PartialEq)]
pub struct FlowRecord {
    pub id: Uuid,
    /// Unique among flows without regard to case ([`crate::export_name_key`]).
    pub name: String,
    pub export_id: Uuid,
    pub import_id: Uuid,
    /// When it runs, as JSON (opaque to the store); `None` runs on request only.
    pub schedule: Option<serde_json::Value>,
    pub enabled: bool,
    pub version: u64,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

/// One run of a flow.
#[derive(Debug, Clone, PartialEq)]
pub struct FlowRunRecord {
    pub id: Uuid,
    pub flow_id: Uuid,
    /// The flow's two connections, sorted and joined: at most one running run per pair.
    pub pair_key: String,
    pub trigger: RunTrigger,
    pub state: RunState,
    /// `export`, `import`, `link` or `done`: where a resumed run goes on.
    pub phase: String,
    pub export_run_id: Option<Uuid>,
    pub import_run_id: Option<Uuid>,
    /// The counts, as the app's JSON.
    pub stats: serde_json::Value,
    pub error: Option<String>,
    /// Who runs it, and until when (a holder that stops renewing loses it).
    pub holder: Option<String>,
    pub lease_until: Option<OffsetDateTime>,
    pub started_at: OffsetDateTime,
    pub finished_at: Option<OffsetDateTime>,
    /// What a run fed by a listener reads: the issues its events named (`None`: the flow's
    /// export).
    pub source: Option<serde_json::Value>,
}

/// An issue and its copy on another connection (one direction of a link).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncLink {
    pub connection_id: ConnectionId,
    pub issue_id: String,
    pub issue_key: String,
    pub peer_connection_id: ConnectionId,
    pub peer_issue_id: String,
    pub peer_issue_key: String,
    /// The issue's `updated` when a flow last read or wrote it.
    pub seen_updated: Option<String>,
    pub at: OffsetDateTime,
}

/// A comment and its copy on another connection (one direction).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommentLink {
    pub connection_id: ConnectionId,
    pub comment_id: String,
    pub peer_connection_id: ConnectionId,
    /// The issue the comment is on (on `connection_id`).
    pub issue_id: String,
    pub peer_comment_id: String,
    /// The hash of the comment's body when a flow last read or wrote it.
    pub body_hash: String,
    pub at: OffsetDateTime,
}

/// Flows, their runs and the id map.
#[async_trait]
pub trait FlowStore: Send + Sync {
    /// [`crate::StoreError::Conflict`] when the name is taken (without regard to case);
    /// [`crate::StoreError::NotFound`] when the export or the import does not exist.
    async fn insert_flow(&self, flow: &FlowRecord) -> StoreResult<()>;
    /// Replaces name, export, import, schedule, enabled and `updated_at` when the stored
    /// version is still `flow.version` ([`crate::StoreError::Changed`] otherwise). Returns the
    /// new version.
    async fn update_flow(&self, flow: &FlowRecord) -> StoreResult<u64>;
    async fn get_flow(&self, id: Uuid) -> StoreResult<FlowRecord>;
    async fn find_flow_by_name(&self, name: &str) -> StoreResult<Option<FlowRecord>>;
    /// Every flow, ordered by name (case-insensitive).
    async fn list_flows(&self) -> StoreResult<Vec<FlowRecord>>;
    /// Deletes the flow and its runs (the id map stays: it belongs to the connections).
    async fn delete_flow(&self, id: Uuid) -> StoreResult<()>;

    /// Records a new running run. [`crate::StoreError::Conflict`] when a run of the flow, or
    /// of another flow between the same two connections (`pair_key`), is running already.
    async fn insert_flow_run(&self, run: &FlowRunRecord) -> StoreResult<()>;
    /// Writes the run's phase, runs, stats, state, error, lease and end, if `holder` still
    /// holds it. `false` when another holder took it over.
    async fn save_flow_run(&self, run: &FlowRunRecord, holder: &str) -> StoreResult<bool>;
    /// Extends `holder`'s lease on its running run; `false` when it no longer holds it.
    async fn renew_flow_run(
        &self,
        id: Uuid,
        holder: &str,
        lease_until: OffsetDateTime,
    ) -> StoreResult<bool>;
    /// Takes a running run whose lease ran out for `holder` (its own expired run included:
    /// a process that holds a live lease never gets its run twice).
    async fn take_over_flow_run(
        &self,
        id: Uuid,
        holder: &str,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
    ) -> StoreResult<Option<FlowRunRecord>>;
    async fn get_flow_run(&self, id: Uuid) -> StoreResult<FlowRunRecord>;
    /// The newest runs first; of one flow when `flow` is given.
    async fn list_flow_runs(
        &self,
        flow: Option<Uuid>,
        limit: u32,
    ) -> StoreResult<Vec<FlowRunRecord>>;

    /// The links of these issues of `connection` to `peer`, by issue id.
    async fn sync_links(
        &self,
        connection: ConnectionId,
        peer: ConnectionId,
        issue_ids: &[String],
    ) -> StoreResult<HashMap<String, SyncLink>>;
    /// Up to `limit` links of `connection`'s issues to `peer`, ordered by issue id, starting
    /// after `after`: a cursor over every issue copied from one connection to another.
    async fn sync_links_after(
        &self,
        connection: ConnectionId,
        peer: ConnectionId,
        after: Option<&str>,
        limit: u32,
    ) -> StoreResult<Vec<SyncLink>>;
    /// Adds or replaces links (by connection, issue and peer connection), in one transaction.
    async fn put_sync_links(&self, links: &[SyncLink]) -> StoreResult<()>;
    /// Forgets the links of `issue_ids` (issues on `connection`) with their copies on `peer`,
    /// both directions, and their comments' links. Returns how many issues had one.
    async fn delete_sync_links(
        &self,
        connection: ConnectionId,
        peer: ConnectionId,
        issue_ids: &[String],
    ) -> StoreResult<u64>;
    /// The links of these comments of `connection` to `peer`, by comment id.
    async fn comment_links(
        &self,
        connection: ConnectionId,
        peer: ConnectionId,
        comment_ids: &[String],
    ) -> StoreResult<HashMap<String, CommentLink>>;
    /// Adds or replaces comment links, in one transaction.
    async fn put_comment_links(&self, links: &[CommentLink]) -> StoreResult<()>;
}
