//! Running one export: [`run_export`].

use std::sync::Arc;

use jiralink_atlassian::JiraClient;
use jiralink_domain::Clock;

use crate::{
    cursor::{Checkpoint, DeltaCursor, KnownIds},
    error::SyncError,
    journal::{Progress, RunJournal},
    spec::{ExportSpec, Resource},
    stats::RunStats,
};

/// Everything one run needs.
pub struct ExportJob<'a> {
    /// The connection's client.
    pub client: &'a JiraClient,
    /// What to export.
    pub spec: &'a ExportSpec,
    /// Where the last successful delta run ended (delta exports).
    pub cursor: Option<&'a DeltaCursor>,
    /// The issues the last successful run saw (deletion check).
    pub known_ids: Option<&'a KnownIds>,
    /// The last checkpoint of an interrupted run to continue.
    pub resume: Option<&'a Checkpoint>,
    /// The time source (the delta upper bound is `now − lag`).
    pub clock: Arc<dyn Clock>,
    /// How many requests may be in flight (the connection's concurrency level).
    pub concurrency: usize,
    /// Where output and checkpoints go.
    pub journal: &'a dyn RunJournal,
    /// Who is told how the run advances.
    pub progress: &'a dyn Progress,
}

impl std::fmt::Debug for ExportJob<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExportJob")
            .field("spec", self.spec)
            .field("cursor", &self.cursor)
            .field("resume", &self.resume)
            .field("concurrency", &self.concurrency)
            .finish_non_exhaustive()
    }
}

/// What a finished (or cancelled) run leaves.
#[derive(Debug, Clone, Default)]
pub struct ExportOutcome {
    /// The run's counts.
    pub stats: RunStats,
    /// The cursor for the next delta run (delta exports that finished).
    pub cursor_after: Option<DeltaCursor>,
    /// The issues seen, for the next deletion check (when deletions are on).
    pub known_ids: Option<KnownIds>,
    /// The output's last bytes (e.g. `]\n` of a JSON array), to write with the finish.
    pub tail: Vec<u8>,
    /// Whether the run stopped because the user asked it to.
    pub cancelled: bool,
}

/// Runs one export to its end, a checkpoint after every page.
///
/// # Errors
/// [`SyncError`]: an invalid spec, a Jira failure after the client's retries, a journal
/// failure. Whatever was checkpointed before stays valid to resume from.
pub async fn run_export(job: ExportJob<'_>) -> Result<ExportOutcome, SyncError> {
    job.spec.validate()?;
    match job.spec.resource {
        Resource::Issues => crate::issues::run(job).await,
        _ => crate::resources::run(job).await,
    }
}
