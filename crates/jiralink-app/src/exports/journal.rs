//! Where the engine's pages become durable: [`RunJournal`] over the store, and over a file or
//! standard output besides.
//!
//! Every checkpoint appends the page's encoded output to the run's chunks in the database and
//! records the engine's resume point in the same transaction, so the database always holds
//! exactly the output up to the last checkpoint. A file gets the bytes first (written and
//! synced), then the database records the file's length with the checkpoint: after a crash the
//! file may hold more than the last checkpoint covers, never less, and a resumed run cuts it
//! back to the recorded length before going on. Standard output gets the bytes after the
//! database has them; what was printed cannot be taken back, so it is not resumable.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use jiralink_store::{ExportRunRecord, Store};
use jiralink_sync::{Checkpoint, Progress, RunJournal, RunStats, SyncError};
use tokio::io::{AsyncSeekExt, AsyncWriteExt};
use uuid::Uuid;

use super::RunOutput;
use crate::{AppError, AppResult};

/// The key of the engine's checkpoint inside the stored one.
const ENGINE: &str = "engine";
/// The key of the file length inside the stored checkpoint.
const FILE_BYTES: &str = "fileBytes";
/// Chunks read at a time when a file is rebuilt from the database.
const REBUILD_BATCH: u32 = 64;

/// The engine's checkpoint inside a stored one.
pub(crate) fn engine_checkpoint(stored: Option<&serde_json::Value>) -> Option<Checkpoint> {
    stored
        .and_then(|s| s.get(ENGINE))
        .filter(|c| !c.is_null())
        .map(|c| Checkpoint(c.clone()))
}

enum Sink {
    Store,
    File { file: tokio::fs::File, len: u64 },
    Stdout(tokio::io::Stdout),
}

/// The journal of one run, held by this process (`holder`).
pub(crate) struct StoreJournal {
    store: Arc<dyn Store>,
    run: Uuid,
    holder: String,
    sink: tokio::sync::Mutex<Sink>,
}

impl std::fmt::Debug for StoreJournal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreJournal")
            .field("run", &self.run)
            .finish_non_exhaustive()
    }
}

fn io_error(path: &Path, what: &str, e: &std::io::Error) -> AppError {
    AppError::Io(format!("could not {what} {}: {e}", path.display()))
}

impl StoreJournal {
    /// A journal for `run`. A resumed run (`resuming`) first brings its file or standard
    /// output up to the last checkpoint: a file is cut back to the length recorded with it
    /// (or rebuilt from the database when it is not the file the run wrote); standard output
    /// gets what the database holds so far.
    pub(crate) async fn open(
        store: Arc<dyn Store>,
        run: &ExportRunRecord,
        holder: &str,
        output: &RunOutput,
        resuming: bool,
    ) -> AppResult<Self> {
        let sink = match output {
            RunOutput::Store => Sink::Store,
            RunOutput::File(path) => {
                let (file, len) = open_file(&*store, run, path, resuming).await?;
                Sink::File { file, len }
            }
            RunOutput::Stdout => {
                let mut out = tokio::io::stdout();
                if resuming {
                    copy_output(&*store, run.id, &mut out).await.map_err(|e| {
                        AppError::Io(format!("could not write to standard output: {e}"))
                    })?;
                }
                Sink::Stdout(out)
            }
        };
        Ok(Self {
            store,
            run: run.id,
            holder: holder.to_owned(),
            sink: tokio::sync::Mutex::new(sink),
        })
    }

    /// Writes the run's last bytes (e.g. the `]` closing a JSON array) to the file or
    /// standard output; the database gets them with the run's finish.
    pub(crate) async fn write_tail(&self, tail: &[u8]) -> Result<(), SyncError> {
        let mut sink = self.sink.lock().await;
        match &mut *sink {
            Sink::Store => Ok(()),
            Sink::File { file, len } => {
                file.write_all(tail).await.map_err(|e| journal_io(&e))?;
                file.sync_data().await.map_err(|e| journal_io(&e))?;
                *len += tail.len() as u64;
                Ok(())
            }
            Sink::Stdout(out) => {
                out.write_all(tail).await.map_err(|e| journal_io(&e))?;
                out.flush().await.map_err(|e| journal_io(&e))
            }
        }
    }
}

fn journal_io(e: &std::io::Error) -> SyncError {
    SyncError::Journal(format!("the output could not be written: {e}"))
}

/// Opens the run's output file: created empty for a new run; for a resumed one cut back to
/// the checkpointed length when it is the run's file and holds at least that much, else
/// rebuilt from the chunks in the database.
async fn open_file(
    store: &dyn Store,
    run: &ExportRunRecord,
    path: &Path,
    resuming: bool,
) -> AppResult<(tokio::fs::File, u64)> {
    let recorded = run
        .checkpoint
        .as_ref()
        .and_then(|c| c.get(FILE_BYTES))
        .and_then(serde_json::Value::as_u64)
        .unwrap_or(0);
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let same_file = run.output_file.as_deref().map(PathBuf::from) == Some(absolute);
    let current = tokio::fs::metadata(path).await.map(|m| m.len()).ok();
    let mut options = tokio::fs::OpenOptions::new();
    options.write(true).create(true);
    let mut file = options
        .open(path)
        .await
        .map_err(|e| io_error(path, "open", &e))?;
    let len = if resuming
        && same_file
        && current.is_some_and(|c| c >= recorded)
        && recorded == run.output_bytes
    {
        file.set_len(recorded)
            .await
            .map_err(|e| io_error(path, "truncate", &e))?;
        recorded
    } else {
        file.set_len(0)
            .await
            .map_err(|e| io_error(path, "truncate", &e))?;
        if resuming {
            copy_output(store, run.id, &mut file)
                .await
                .map_err(|e| io_error(path, "write", &e))?
        } else {
            0
        }
    };
    file.seek(std::io::SeekFrom::Start(len))
        .await
        .map_err(|e| io_error(path, "seek in", &e))?;
    file.sync_all()
        .await
        .map_err(|e| io_error(path, "sync", &e))?;
    Ok((file, len))
}

/// Writes the run's output held in the database to `out`; returns how many bytes.
async fn copy_output(
    store: &dyn Store,
    run: Uuid,
    out: &mut (dyn tokio::io::AsyncWrite + Unpin + Send),
) -> std::io::Result<u64> {
    let mut after = None;
    let mut written = 0;
    loop {
        let chunks = store
            .export_run_output(run, after, REBUILD_BATCH)
            .await
            .map_err(std::io::Error::other)?;
        let Some((last, _)) = chunks.last() else {
            break;
        };
        after = Some(*last);
        for (_, bytes) in &chunks {
            out.write_all(bytes).await?;
            written += bytes.len() as u64;
        }
    }
    out.flush().await?;
    Ok(written)
}

/// A run's journal that its watcher can stop too: a cancel request in the store or
/// [`Progress::stop_requested`] (the CLI's Ctrl-C) ends the run at its next page, as
/// cancelled.
pub(crate) struct Watched<'a> {
    pub(crate) journal: &'a StoreJournal,
    pub(crate) progress: &'a dyn Progress,
}

#[async_trait]
impl RunJournal for Watched<'_> {
    async fn checkpoint(
        &self,
        output: &[u8],
        checkpoint: &Checkpoint,
        stats: &RunStats,
    ) -> Result<(), SyncError> {
        self.journal.checkpoint(output, checkpoint, stats).await
    }

    async fn cancel_requested(&self) -> bool {
        self.progress.stop_requested() || self.journal.cancel_requested().await
    }
}

impl StoreJournal {
    /// Appends `output` to the file or standard output and the database, and records the
    /// engine's checkpoint and statistics with it.
    pub(crate) async fn save(
        &self,
        output: &[u8],
        engine: serde_json::Value,
        stats: serde_json::Value,
    ) -> Result<(), SyncError> {
        let mut sink = self.sink.lock().await;
        let mut stored = serde_json::json!({ ENGINE: engine });
        if let Sink::File { file, len } = &mut *sink {
            file.write_all(output).await.map_err(|e| journal_io(&e))?;
            file.sync_data().await.map_err(|e| journal_io(&e))?;
            *len += output.len() as u64;
            stored[FILE_BYTES] = serde_json::json!(*len);
        }
        let kept = self
            .store
            .checkpoint_export_run(self.run, &self.holder, output, &stored, &stats)
            .await
            .map_err(|e| SyncError::Journal(format!("the checkpoint could not be saved: {e}")))?;
        if !kept {
            return Err(SyncError::Journal(
                "another process took the run over (this one was paused past its lease)".to_owned(),
            ));
        }
        if let Sink::Stdout(out) = &mut *sink {
            out.write_all(output).await.map_err(|e| journal_io(&e))?;
            out.flush().await.map_err(|e| journal_io(&e))?;
        }
        Ok(())
    }

    /// Whether a cancel was asked for in the store, or the run's record is gone.
    pub(crate) async fn cancel_asked(&self) -> bool {
        match self.store.get_export_run(self.run).await {
            Ok(run) => run.cancel_requested,
            // A run whose record is gone (its export was deleted) stops.
            Err(jiralink_store::StoreError::NotFound { .. }) => true,
            Err(_) => false,
        }
    }
}

#[async_trait]
impl RunJournal for StoreJournal {
    async fn checkpoint(
        &self,
        output: &[u8],
        checkpoint: &Checkpoint,
        stats: &RunStats,
    ) -> Result<(), SyncError> {
        let stats = serde_json::to_value(stats)
            .map_err(|e| SyncError::Journal(format!("the statistics could not be encoded: {e}")))?;
        self.save(output, checkpoint.0.clone(), stats).await
    }

    async fn cancel_requested(&self) -> bool {
        self.cancel_asked().await
    }
}
