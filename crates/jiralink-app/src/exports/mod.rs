//! Exports: saved definitions, their runs and schedules, and ad hoc runs.
//!
//! The engine (`jiralink-sync`) reads Jira and encodes the output; this module decides what
//! runs when, and makes each page durable: [`journal`] implements the engine's `RunJournal`
//! over the store (output chunks and the checkpoint in one transaction) and, for `--output
//! FILE`, over a file whose length is recorded in every checkpoint.
//!
//! | Piece | Where |
//! |---|---|
//! | definitions: create, edit (with the version read), show, list, delete | [`definitions`] |
//! | runs: start or resume, lease, cancel, history, output | [`runs`] |
//! | schedules: cron or every N minutes in a time zone (shared with imports) | [`crate::schedule`] |
//! | the worker's `exports.run` and `exports.cleanup` jobs | [`jobs`] |

mod definitions;
mod jobs;
pub(crate) mod journal;
mod runs;

use std::path::PathBuf;

use jiralink_domain::ConnectionId;
use jiralink_store::{RunState, RunTrigger};
use jiralink_sync::{ExportSpec, RunStats};
use serde::Serialize;
use time::OffsetDateTime;
use uuid::Uuid;

pub use crate::schedule::{MAX_EVERY_MINUTES, Schedule};
pub use definitions::MAX_EXPORT_NAME_CHARS;
pub(crate) use definitions::definition_name_problem;
pub(crate) use jobs::{CLEANUP_EVERY, CLEANUP_JOB, RUN_JOB};

/// What a user fills in to save an export.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExportDraft {
    /// Unique among exports, compared without regard to case; 1–100 characters.
    pub name: String,
    /// The connection's name or id.
    pub connection: String,
    pub spec: ExportSpec,
    /// `None`: the export runs only when asked to.
    #[serde(default)]
    pub schedule: Option<Schedule>,
    /// A disabled export keeps its schedule but does not run by it.
    #[serde(default = "enabled_by_default")]
    pub enabled: bool,
}

fn enabled_by_default() -> bool {
    true
}

/// A saved export as users see it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExportView {
    pub id: Uuid,
    pub name: String,
    pub connection_id: ConnectionId,
    pub connection_name: String,
    /// Whether the connection is offline now (its runs are skipped until it is back).
    pub connection_offline: bool,
    pub spec: ExportSpec,
    pub schedule: Option<Schedule>,
    pub enabled: bool,
    /// When the export runs next by its schedule (or was asked to run), if it will.
    #[serde(with = "time::serde::rfc3339::option")]
    pub next_run_at: Option<OffsetDateTime>,
    pub last_run: Option<RunView>,
    /// The delta cursor the next delta run starts from (`null` before the first successful
    /// delta run).
    pub cursor: Option<serde_json::Value>,
    pub version: u64,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

/// One run of an export (or an ad hoc export) as users see it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RunView {
    pub id: Uuid,
    /// `None` for an ad hoc run.
    pub export_id: Option<Uuid>,
    /// The export's name, while it exists.
    pub export_name: Option<String>,
    pub connection_id: ConnectionId,
    /// The connection's name, while it exists.
    pub connection_name: Option<String>,
    /// What was exported, e.g. `issues`.
    pub resource: String,
    /// The output format: `ndjson`, `json-array` or `csv`.
    pub format: String,
    pub trigger: RunTrigger,
    pub state: RunState,
    /// Why a run was skipped.
    pub reason: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub started_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub finished_at: Option<OffsetDateTime>,
    pub duration_ms: Option<u64>,
    pub stats: RunStats,
    pub cursor_before: Option<serde_json::Value>,
    pub cursor_after: Option<serde_json::Value>,
    pub error: Option<String>,
    pub cancel_requested: bool,
    pub output_bytes: u64,
    /// Whether the output can still be downloaded (kept for `exports.output_retention`).
    pub output_available: bool,
    #[serde(with = "time::serde::rfc3339::option")]
    pub output_expires_at: Option<OffsetDateTime>,
    /// The file the run wrote, when it wrote one (on the machine that ran it).
    pub output_file: Option<String>,
    /// How many times the run was taken over after its process stopped.
    pub resumed: u32,
}

/// Where a run's output goes besides the database, which always has it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunOutput {
    /// Only the database (download it with `run output` or `/v1/runs/{id}/output`).
    Store,
    /// Also this file. Resumable: a resumed run truncates the file to its last checkpoint.
    File(PathBuf),
    /// Also standard output. Not resumable (what was printed cannot be taken back).
    Stdout,
}

/// Which runs to list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunListFilter {
    /// An export's name or id.
    pub export: Option<String>,
    /// A connection's name or id.
    pub connection: Option<String>,
    /// At most this many, newest first (default 50, at most 1000).
    pub limit: Option<u32>,
}
