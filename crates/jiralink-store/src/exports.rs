//! Export definitions, their runs, and each run's output, kept in the database so any server
//! sharing it can serve a download and resume a run another one started.
//!
//! A run is held by one holder at a time with a lease, like a job: the holder renews the
//! lease while it works, and every write of the run (checkpoint, finish) names the holder, so
//! a holder that lost the run to another one (its lease ran out and the run was taken over)
//! writes nothing more. A lease is lost to a successor, not to the clock: a holder whose lease
//! ran out keeps the run (and may renew it) until another one takes it over. A definition
//! never has two running runs: the database refuses a second one (a unique index on the
//! running run of each export), across servers too.
//!
//! Output is a sequence of chunks per run, numbered from 1: one chunk per checkpoint and one
//! for the tail written when the run finishes. A checkpoint appends its chunk and records
//! where to resume in one transaction, so the output and the resume point never disagree.

use async_trait::async_trait;
use jiralink_domain::ConnectionId;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::StoreResult;

/// A saved export definition.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportRecord {
    pub id: Uuid,
    /// Unique without regard to case ([`export_name_key`]).
    pub name: String,
    pub connection_id: ConnectionId,
    /// What to export, as the engine's JSON (opaque to the store).
    pub spec: serde_json::Value,
    /// When to run it, as JSON (opaque to the store); `None` runs only on request.
    pub schedule: Option<serde_json::Value>,
    pub enabled: bool,
    /// Where the next delta run starts, as the engine's JSON. Written only by
    /// [`ExportStore::insert_export`] and by a run finishing with success
    /// ([`ExportStore::finish_export_run`]); [`ExportStore::update_export`] leaves it alone
    /// (see [`ExportStore::reset_export_cursor`]).
    pub cursor: Option<serde_json::Value>,
    pub version: u64,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

/// The key that makes export names unique without regard to case: the same folding as
/// connection names (lower, upper, lower, so "Straße" and "STRASSE" collide), of the trimmed
/// name.
#[must_use]
pub fn export_name_key(name: &str) -> String {
    name.trim().to_lowercase().to_uppercase().to_lowercase()
}

/// Where a run is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunState {
    /// Held by a holder (or interrupted: its lease ran out and nobody has taken it over).
    Running,
    Succeeded,
    Failed,
    Cancelled,
    /// Not started, e.g. because the connection was offline; recorded with the reason.
    Skipped,
}

impl RunState {
    pub const ALL: &'static [RunState] = &[
        Self::Running,
        Self::Succeeded,
        Self::Failed,
        Self::Cancelled,
        Self::Skipped,
    ];

    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
            Self::Skipped => "skipped",
        }
    }

    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|v| v.as_str() == s)
    }

    /// Whether the run has ended (every state but `Running`).
    #[must_use]
    pub fn is_final(self) -> bool {
        self != Self::Running
    }
}

/// What started a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunTrigger {
    /// "Run now" in the UI.
    Manual,
    Schedule,
    Cli,
    Api,
    /// A listener's events (Jira's webhooks).
    Listener,
}

impl RunTrigger {
    pub const ALL: &'static [RunTrigger] = &[
        Self::Manual,
        Self::Schedule,
        Self::Cli,
        Self::Api,
        Self::Listener,
    ];

    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Manual => "manual",
            Self::Schedule => "schedule",
            Self::Cli => "cli",
            Self::Api => "api",
            Self::Listener => "listener",
        }
    }

    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|v| v.as_str() == s)
    }
}

/// What a run does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunKind {
    /// Reads records out of Jira.
    Export,
    /// Writes records into Jira.
    Import,
}

impl RunKind {
    pub const ALL: &'static [RunKind] = &[Self::Export, Self::Import];

    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Export => "export",
            Self::Import => "import",
        }
    }

    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|v| v.as_str() == s)
    }
}

/// A run to record.
#[derive(Debug, Clone, PartialEq)]
pub struct NewExportRun {
    pub id: Uuid,
    /// `None` for an ad hoc run (no saved definition) and for import runs.
    pub export_id: Option<Uuid>,
    pub kind: RunKind,
    /// The import definition of an import run (`None` ad hoc).
    pub import_id: Option<Uuid>,
    pub connection_id: ConnectionId,
    pub trigger: RunTrigger,
    /// The spec the run uses, frozen when it starts.
    pub spec: serde_json::Value,
    /// `Running`, or `Skipped` (recorded as ended at `started_at`).
    pub state: RunState,
    /// Why it was skipped (a NUL in it is stored as U+FFFD).
    pub reason: Option<String>,
    pub cursor_before: Option<serde_json::Value>,
    pub holder: Option<String>,
    pub lease_until: Option<OffsetDateTime>,
    pub started_at: OffsetDateTime,
    /// The path when the run also writes a file.
    pub output_file: Option<String>,
}

/// A run as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportRunRecord {
    pub id: Uuid,
    pub export_id: Option<Uuid>,
    pub kind: RunKind,
    pub import_id: Option<Uuid>,
    pub connection_id: ConnectionId,
    pub trigger: RunTrigger,
    pub spec: serde_json::Value,
    pub state: RunState,
    pub reason: Option<String>,
    pub started_at: OffsetDateTime,
    pub finished_at: Option<OffsetDateTime>,
    /// Who holds the run, and until when (cleared when it finishes).
    pub holder: Option<String>,
    pub lease_until: Option<OffsetDateTime>,
    /// The engine's statistics as JSON (`{}` before the first checkpoint).
    pub stats: serde_json::Value,
    /// Where to resume, as of the last checkpoint.
    pub checkpoint: Option<serde_json::Value>,
    pub cursor_before: Option<serde_json::Value>,
    pub cursor_after: Option<serde_json::Value>,
    pub error: Option<String>,
    pub cancel_requested: bool,
    /// Bytes of output the run wrote, in total (kept after the output is deleted).
    pub output_bytes: u64,
    /// Chunks of output held now: 0 once [`ExportStore::delete_expired_export_outputs`] has
    /// deleted them (or when the run wrote nothing).
    pub output_chunks: u64,
    pub output_file: Option<String>,
    /// When the output may be deleted.
    pub output_expires_at: Option<OffsetDateTime>,
    /// How many times the run was taken over ([`ExportStore::take_over_export_run`]).
    pub resumed: u32,
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq)]
pub struct RunFinish {
    /// A final state (not `Running`).
    pub state: RunState,
    /// What went wrong, in words (never a secret); a NUL in it is stored as U+FFFD.
    pub error: Option<String>,
    pub stats: serde_json::Value,
    /// The last bytes of output (e.g. the `]` closing a JSON array); may be empty.
    pub tail: Vec<u8>,
    /// Recorded on the run; when the run succeeded and belongs to an export, also written to
    /// the export as its cursor in the same transaction (`None` keeps the export's cursor).
    pub cursor_after: Option<serde_json::Value>,
    /// The ids seen, for the next run's deletion check: written to the export in the same
    /// transaction when the run succeeded (`None` keeps the stored ones).
    pub known_ids: Option<Vec<u8>>,
    pub finished_at: OffsetDateTime,
    pub output_expires_at: Option<OffsetDateTime>,
}

/// Which runs to list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunFilter {
    pub export_id: Option<Uuid>,
    pub import_id: Option<Uuid>,
    /// Only runs of this kind (all kinds when `None`).
    pub kind: Option<RunKind>,
    pub connection_id: Option<ConnectionId>,
    /// Only runs in this state (any state when `None`).
    pub state: Option<RunState>,
    pub limit: u32,
}

/// Export definitions, runs and their output.
#[async_trait]
pub trait ExportStore: Send + Sync {
    /// [`crate::StoreError::Conflict`] when the name is taken (without regard to case);
    /// [`crate::StoreError::NotFound`] when the connection does not exist.
    async fn insert_export(&self, export: &ExportRecord) -> StoreResult<()>;
    /// Replaces name, connection, spec, schedule, enabled and `updated_at` when the stored
    /// version is still `export.version` ([`crate::StoreError::Changed`] otherwise, with
    /// nothing changed); the cursor and known ids are left alone (only runs move them).
    /// Returns the new version.
    async fn update_export(&self, export: &ExportRecord) -> StoreResult<u64>;
    /// [`crate::StoreError::NotFound`] when there is no such export.
    async fn get_export(&self, id: Uuid) -> StoreResult<ExportRecord>;
    /// Looks an export up by its name, without regard to case.
    async fn find_export_by_name(&self, name: &str) -> StoreResult<Option<ExportRecord>>;
    /// Every export, ordered by name (case-insensitive).
    async fn list_exports(&self) -> StoreResult<Vec<ExportRecord>>;
    /// The exports using any of the connections, as (connection, export id, export name),
    /// ordered by connection and then name.
    async fn exports_using(
        &self,
        connections: &[ConnectionId],
    ) -> StoreResult<Vec<(ConnectionId, Uuid, String)>>;
    /// Deletes the export with its runs and their output (a run still going loses its lease:
    /// its next checkpoint writes nothing). [`crate::StoreError::NotFound`] when there is none.
    async fn delete_export(&self, id: Uuid) -> StoreResult<()>;
    /// The known ids written by the export's last successful run that had them.
    async fn export_known_ids(&self, id: Uuid) -> StoreResult<Option<Vec<u8>>>;
    /// Clears the export's cursor and known ids (the next delta run is a full one) without
    /// changing its version. [`crate::StoreError::NotFound`] when there is no such export.
    async fn reset_export_cursor(&self, id: Uuid) -> StoreResult<()>;
    /// Moves the export's cursor back to `to` (`None`: the next delta run is a full one), if it
    /// is still `from` — no other run has moved it since. Known ids are left alone. Returns
    /// whether it moved.
    async fn rewind_export_cursor(
        &self,
        id: Uuid,
        from: &serde_json::Value,
        to: Option<&serde_json::Value>,
    ) -> StoreResult<bool>;
    /// Records a run. [`crate::StoreError::Conflict`] when `run` is `Running` and its export
    /// already has a `Running` run — whether that run's lease is unexpired or not: an
    /// interrupted run (lease expired, see [`ExportStore::interrupted_export_run`]) still
    /// blocks a new one, and the caller must take it over and resume it
    /// ([`ExportStore::take_over_export_run`]), or take it over and finish it, before another
    /// starts. Enforced by the database, so also across servers. A `Skipped` run never
    /// conflicts and never blocks. [`crate::StoreError::Conflict`] too when a run with this id
    /// exists; [`crate::StoreError::NotFound`] when the export or the connection does not
    /// exist.
    async fn start_export_run(&self, run: &NewExportRun) -> StoreResult<()>;
    /// The export's `Running` run whose lease ran out at or before `now` (its holder crashed),
    /// if any.
    async fn interrupted_export_run(
        &self,
        export_id: Uuid,
        now: OffsetDateTime,
    ) -> StoreResult<Option<ExportRunRecord>>;
    /// Every `Running` run whose lease ran out at or before `now`, of every export and ad hoc,
    /// oldest first: for a sweep that resumes them or takes them over to end them (an ad hoc
    /// run whose process died is otherwise left running forever).
    async fn interrupted_export_runs(
        &self,
        now: OffsetDateTime,
    ) -> StoreResult<Vec<ExportRunRecord>>;
    /// Takes over a `Running` run whose lease ran out at or before `now`, or that `holder`
    /// already holds: leases it to `holder` until `lease_until` and counts the takeover in
    /// `resumed`. `None` when another holder's lease is still running or the run has ended;
    /// [`crate::StoreError::NotFound`] when there is no such run.
    async fn take_over_export_run(
        &self,
        run: Uuid,
        holder: &str,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
    ) -> StoreResult<Option<ExportRunRecord>>;
    /// Extends the lease while the run goes on; `false` when `holder` no longer holds it.
    async fn renew_export_run(
        &self,
        run: Uuid,
        holder: &str,
        lease_until: OffsetDateTime,
    ) -> StoreResult<bool>;
    /// One transaction: appends `chunk` (if non-empty) as the run's next output chunk, sets
    /// the checkpoint and stats, and adds the chunk's length to `output_bytes`. `false`, with
    /// nothing written, when `holder` no longer holds the running run.
    async fn checkpoint_export_run(
        &self,
        run: Uuid,
        holder: &str,
        chunk: &[u8],
        checkpoint: &serde_json::Value,
        stats: &serde_json::Value,
    ) -> StoreResult<bool>;
    /// One transaction: appends the tail (if non-empty), sets the state, finish time, error,
    /// stats, cursor after and output expiry, and gives the lease back; when the run
    /// succeeded and belongs to an export, writes [`RunFinish::cursor_after`] and
    /// [`RunFinish::known_ids`] to the export. `false`, with nothing written, when `holder` no
    /// longer holds the running run.
    async fn finish_export_run(
        &self,
        run: Uuid,
        holder: &str,
        finish: &RunFinish,
    ) -> StoreResult<bool>;
    /// [`crate::StoreError::NotFound`] when there is no such run.
    async fn get_export_run(&self, run: Uuid) -> StoreResult<ExportRunRecord>;
    /// Runs matching the filter, newest first, at most `limit`.
    async fn list_export_runs(&self, filter: &RunFilter) -> StoreResult<Vec<ExportRunRecord>>;
    /// The newest run of every export that has one, in one query: a list of exports shows
    /// each one's last run, and a query per export made that list slow under load.
    async fn latest_export_runs(&self) -> StoreResult<Vec<ExportRunRecord>>;
    /// Asks the run's holder to stop (it checks between pages). `false` when the run is not
    /// running; [`crate::StoreError::NotFound`] when there is no such run.
    async fn request_export_run_cancel(&self, run: Uuid) -> StoreResult<bool>;
    /// Up to `limit` output chunks with a number above `after_seq` (from the first when
    /// `None`), in order, as (number, bytes). Empty once the output has been deleted;
    /// [`crate::StoreError::NotFound`] when there is no such run.
    async fn export_run_output(
        &self,
        run: Uuid,
        after_seq: Option<u64>,
        limit: u32,
    ) -> StoreResult<Vec<(u64, Vec<u8>)>>;
    /// Deletes the output of every run whose output expired at or before `now` (the runs
    /// stay, with `output_chunks` 0). Returns how many runs lost their output.
    async fn delete_expired_export_outputs(&self, now: OffsetDateTime) -> StoreResult<u64>;
}
