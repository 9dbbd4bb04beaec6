//! Where a run makes its output durable, and who watches it.

use async_trait::async_trait;

use crate::{cursor::Checkpoint, error::SyncError, stats::RunStats};

/// Makes a run's pages durable. The application implements it over the store (and a file).
#[async_trait]
pub trait RunJournal: Send + Sync {
    /// Durably appends `output` (already encoded in the run's format) and records `checkpoint`
    /// and `stats`, all or nothing.
    async fn checkpoint(
        &self,
        output: &[u8],
        checkpoint: &Checkpoint,
        stats: &RunStats,
    ) -> Result<(), SyncError>;

    /// Whether the user asked to cancel (checked between pages).
    async fn cancel_requested(&self) -> bool;
}

/// Told how a run advances (a progress bar, a run page).
pub trait Progress: Send + Sync {
    /// How many records Jira expects, once known.
    fn expected(&self, total: Option<u64>);
    /// The run's counts after a checkpoint.
    fn advanced(&self, stats: &RunStats);
    /// Whether the watcher asks the run to stop (Ctrl-C at a terminal); read between pages,
    /// like a cancel request. By default nobody asks.
    fn stop_requested(&self) -> bool {
        false
    }
}

/// Progress nobody watches.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoProgress;

impl Progress for NoProgress {
    fn expected(&self, _total: Option<u64>) {}
    fn advanced(&self, _stats: &RunStats) {}
}
