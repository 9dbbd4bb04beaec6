//! Runs: started (or resumed) here, leased while they run, cancelled, listed, downloaded.
//!
//! A run of a saved export is a row in the store with a lease. Starting one while another
//! run of the same export holds an unexpired lease is refused by the database itself, on
//! every instance. A run whose process died (its lease ran out) is resumed, from its last
//! checkpoint, before any new run of that export starts: by the next `export run`, "Run now"
//! or scheduled run, wherever it happens.

use std::collections::HashMap;
use std::pin::pin;
use std::time::Duration;

use futures::Stream;
use jiralink_domain::{Connection, ConnectionId};
use jiralink_store::{
    ExportRecord, ExportRunRecord, NewExportRun, RunFilter, RunFinish, RunState, RunTrigger,
    StoreError,
};
use jiralink_sync::{
    DeltaCursor, ExportJob, ExportSpec, KnownIds, NoProgress, Progress, RunStats, SyncError,
};
use uuid::Uuid;

use super::journal::{StoreJournal, Watched, engine_checkpoint};
use super::{RunListFilter, RunOutput, RunView};
use crate::client::{CredentialSource, Purpose};
use crate::schedule::Definition;
use crate::{App, AppError, AppResult};

/// How many runs a list shows unless told otherwise, and at most.
const DEFAULT_RUN_LIMIT: u32 = 50;
const MAX_RUN_LIMIT: u32 = 1000;
/// Output chunks read from the database at a time for a download.
const DOWNLOAD_BATCH: u32 = 16;

/// How a started run ended, as the caller is told.
enum Ended {
    Finished,
    Failed(SyncError),
    /// Another process took the run over.
    LeaseLost,
}

impl App {
    pub(crate) fn export_lease(&self) -> Duration {
        self.config().exports.lease.get()
    }

    /// Runs a saved export now, in this process, writing its output to the database and to
    /// `output`. An interrupted run of the export (its process died) is resumed first, and
    /// that run is the one returned; run again for a new one.
    ///
    /// # Errors
    /// `export_running` when a run of the export is going on elsewhere; `connection_offline`;
    /// `export_failed` when the run failed (it is recorded as failed).
    pub async fn run_export(
        &self,
        reference: &str,
        trigger: RunTrigger,
        output: RunOutput,
        progress: &dyn Progress,
    ) -> AppResult<RunView> {
        let record = self.find_export(reference).await?;
        let connection = self
            .usable_connection(&record.connection_id.to_string())
            .await?;
        let (run, resuming) = self.start_or_resume(&record, trigger, &output).await?;
        self.drive_run(run, Some(&record), &connection, output, resuming, progress)
            .await
    }

    /// The export's newest run, if it has run.
    pub(crate) async fn last_export_run(&self, export: Uuid) -> AppResult<Option<ExportRunRecord>> {
        Ok(self
            .store()
            .list_export_runs(&RunFilter {
                export_id: Some(export),
                import_id: None,
                kind: None,
                connection_id: None,
                state: None,
                limit: 1,
            })
            .await?
            .into_iter()
            .next())
    }

    /// Resumes `record`'s interrupted run (its holder died and its lease ran out), and only
    /// that: `None` when there is none, and nothing new is started.
    pub(crate) async fn resume_interrupted_run(
        &self,
        record: &ExportRecord,
    ) -> AppResult<Option<RunView>> {
        let now = self.now();
        let Some(interrupted) = self.store().interrupted_export_run(record.id, now).await? else {
            return Ok(None);
        };
        let connection = self
            .usable_connection(&record.connection_id.to_string())
            .await?;
        let Some(run) = self
            .store()
            .take_over_export_run(
                interrupted.id,
                self.holder(),
                now,
                now + self.export_lease(),
            )
            .await?
        else {
            return Err(self.already_running(record).await);
        };
        tracing::info!(export = %record.id, run = %run.id, "resuming an interrupted run");
        self.drive_run(
            run,
            Some(record),
            &connection,
            RunOutput::Store,
            true,
            &NoProgress,
        )
        .await
        .map(Some)
    }

    /// Exports once without saving a definition (`jiralink export issues --connection …`);
    /// recorded as a run without an export, its output kept like any run's.
    pub async fn run_adhoc_export(
        &self,
        connection: &str,
        spec: ExportSpec,
        output: RunOutput,
        progress: &dyn Progress,
    ) -> AppResult<RunView> {
        spec.validate()
            .map_err(|e| AppError::InvalidInput(e.to_string()))?;
        let connection = self.usable_connection(connection).await?;
        let spec = serde_json::to_value(&spec)
            .map_err(|e| AppError::InvalidInput(format!("the export cannot be run: {e}")))?;
        let now = self.now();
        let new = NewExportRun {
            id: Uuid::new_v4(),
            export_id: None,
            kind: jiralink_store::RunKind::Export,
            import_id: None,
            connection_id: connection.id,
            trigger: RunTrigger::Cli,
            spec,
            state: RunState::Running,
            reason: None,
            cursor_before: None,
            holder: Some(self.holder().to_owned()),
            lease_until: Some(now + self.export_lease()),
            started_at: now,
            output_file: output_file(&output),
        };
        self.store().start_export_run(&new).await?;
        let run = self.store().get_export_run(new.id).await?;
        self.drive_run(run, None, &connection, output, false, progress)
            .await
    }

    /// The interrupted run of `record` taken over, or a new run started.
    pub(crate) async fn start_or_resume(
        &self,
        record: &ExportRecord,
        trigger: RunTrigger,
        output: &RunOutput,
    ) -> AppResult<(ExportRunRecord, bool)> {
        let now = self.now();
        let lease_until = now + self.export_lease();
        if let Some(interrupted) = self.store().interrupted_export_run(record.id, now).await? {
            return match self
                .store()
                .take_over_export_run(interrupted.id, self.holder(), now, lease_until)
                .await?
            {
                Some(run) => {
                    tracing::info!(export = %record.id, run = %run.id, "resuming an interrupted run");
                    Ok((run, true))
                }
                None => Err(self.already_running(record).await),
            };
        }
        let new = NewExportRun {
            id: Uuid::new_v4(),
            export_id: Some(record.id),
            kind: jiralink_store::RunKind::Export,
            import_id: None,
            connection_id: record.connection_id,
            trigger,
            spec: record.spec.clone(),
            state: RunState::Running,
            reason: None,
            cursor_before: record.cursor.clone(),
            holder: Some(self.holder().to_owned()),
            lease_until: Some(lease_until),
            started_at: now,
            output_file: output_file(output),
        };
        match self.store().start_export_run(&new).await {
            Ok(()) => Ok((self.store().get_export_run(new.id).await?, false)),
            Err(StoreError::Conflict { .. }) => Err(self.already_running(record).await),
            Err(e) => Err(e.into()),
        }
    }

    async fn already_running(&self, record: &ExportRecord) -> AppError {
        let running = self
            .store()
            .list_export_runs(&RunFilter {
                export_id: Some(record.id),
                import_id: None,
                kind: None,
                connection_id: None,
                state: None,
                limit: 10,
            })
            .await
            .ok()
            .and_then(|runs| runs.into_iter().find(|r| r.state == RunState::Running));
        AppError::ExportRunning {
            name: record.name.clone(),
            run: running
                .as_ref()
                .map(|r| r.id.to_string())
                .unwrap_or_default(),
            started: running
                .map(|r| crate::format_time(r.started_at))
                .unwrap_or_else(|| "just now".to_owned()),
        }
    }

    /// Records a run of a saved export or import that did not start (its connection is
    /// offline, its schedule cannot be read), with the reason.
    pub(crate) async fn record_skipped_run(
        &self,
        definition: Definition<'_>,
        trigger: RunTrigger,
        reason: String,
    ) -> AppResult<()> {
        let (export_id, import_id, kind, connection_id, spec, cursor_before) = match definition {
            Definition::Export(r) => (
                Some(r.id),
                None,
                jiralink_store::RunKind::Export,
                r.connection_id,
                r.spec.clone(),
                r.cursor.clone(),
            ),
            Definition::Import(r) => (
                None,
                Some(r.id),
                jiralink_store::RunKind::Import,
                r.connection_id,
                r.spec.clone(),
                None,
            ),
        };
        let now = self.now();
        self.store()
            .start_export_run(&NewExportRun {
                id: Uuid::new_v4(),
                export_id,
                kind,
                import_id,
                connection_id,
                trigger,
                spec,
                state: RunState::Skipped,
                reason: Some(reason),
                cursor_before,
                holder: None,
                lease_until: None,
                started_at: now,
                output_file: None,
            })
            .await?;
        Ok(())
    }

    /// Runs the engine for a run this process holds, renewing its lease meanwhile, and
    /// records how it ended.
    async fn drive_run(
        &self,
        run: ExportRunRecord,
        export: Option<&ExportRecord>,
        connection: &Connection,
        output: RunOutput,
        resuming: bool,
        progress: &dyn Progress,
    ) -> AppResult<RunView> {
        let result = self
            .drive_engine(&run, export, connection, &output, resuming, progress)
            .await;
        let now = self.now();
        let (ended, outcome) = match result {
            Ok(Ok(outcome)) => (Ended::Finished, Some(outcome)),
            Ok(Err(e)) => (Ended::Failed(e), None),
            Err(DriveError::LeaseLost) => (Ended::LeaseLost, None),
            Err(DriveError::App(e)) => {
                // Setting the run up failed (the output file, the client): it ends failed.
                self.finish_failed(&run, &e.to_string(), RunStats::default())
                    .await;
                return Err(e);
            }
        };
        match ended {
            Ended::LeaseLost => Err(AppError::ExportFailed {
                code: "lease_lost",
                message: "another process took the run over while this one was paused past its \
                          lease; it goes on there"
                    .to_owned(),
                run: Some(run.id.to_string()),
            }),
            Ended::Failed(e) => {
                if let SyncError::Jira(jira) = &e {
                    self.note_request_failure(connection.id, jira).await.ok();
                }
                let stats = self
                    .store()
                    .get_export_run(run.id)
                    .await
                    .ok()
                    .and_then(|r| serde_json::from_value(r.stats).ok())
                    .unwrap_or_default();
                let cancelled = matches!(e, SyncError::Cancelled);
                if cancelled {
                    self.finish_run(
                        &run,
                        RunState::Cancelled,
                        None,
                        stats,
                        Vec::new(),
                        None,
                        None,
                        now,
                    )
                    .await?;
                    return self.get_run(&run.id.to_string()).await;
                }
                let message = match &e {
                    SyncError::InvalidSpec(_) => {
                        format!("{e}; change the export's settings to fix this, then run it again")
                    }
                    _ => e.to_string(),
                };
                self.finish_failed(&run, &message, stats).await;
                Err(AppError::ExportFailed {
                    code: e.code(),
                    message,
                    run: Some(run.id.to_string()),
                })
            }
            Ended::Finished => {
                let Some(outcome) = outcome else {
                    return Err(AppError::Io("the run ended without an outcome".to_owned()));
                };
                let state = if outcome.cancelled {
                    RunState::Cancelled
                } else {
                    RunState::Succeeded
                };
                let (cursor_after, known_ids) = if state == RunState::Succeeded {
                    (
                        outcome
                            .cursor_after
                            .as_ref()
                            .and_then(|c| serde_json::to_value(c).ok()),
                        outcome.known_ids.as_ref().map(KnownIds::encode),
                    )
                } else {
                    (None, None)
                };
                self.finish_run(
                    &run,
                    state,
                    None,
                    outcome.stats,
                    outcome.tail,
                    cursor_after,
                    known_ids,
                    now,
                )
                .await?;
                self.get_run(&run.id.to_string()).await
            }
        }
    }

    /// Everything between taking the run and finishing it.
    async fn drive_engine(
        &self,
        run: &ExportRunRecord,
        export: Option<&ExportRecord>,
        connection: &Connection,
        output: &RunOutput,
        resuming: bool,
        progress: &dyn Progress,
    ) -> Result<Result<jiralink_sync::ExportOutcome, SyncError>, DriveError> {
        let spec: ExportSpec = serde_json::from_value(run.spec.clone()).map_err(|e| {
            DriveError::App(AppError::Io(format!(
                "the run's export settings cannot be read ({e})"
            )))
        })?;
        // A stored cursor or set of known ids that cannot be read stops the run: going on
        // without them would export everything again as changed, miss the deletions and
        // overwrite them.
        let cursor: Option<DeltaCursor> = run
            .cursor_before
            .clone()
            .map(serde_json::from_value)
            .transpose()
            .map_err(|e| DriveError::App(unreadable_delta_state(run, "delta cursor", &e)))?;
        let known_ids = match export {
            Some(e) => self
                .store()
                .export_known_ids(e.id)
                .await
                .map_err(|e| DriveError::App(e.into()))?
                .map(|blob| KnownIds::decode(&blob))
                .transpose()
                .map_err(|e| DriveError::App(unreadable_delta_state(run, "known issue ids", &e)))?,
            None => None,
        };
        let resume = engine_checkpoint(run.checkpoint.as_ref());
        let journal = StoreJournal::open(self.store_arc(), run, self.holder(), output, resuming)
            .await
            .map_err(DriveError::App)?;
        let client = self
            .client_for(
                &connection.settings,
                Some(connection),
                CredentialSource::Stored,
                Purpose::Requests,
            )
            .await
            .map_err(DriveError::App)?;
        let job = ExportJob {
            client: &client,
            spec: &spec,
            cursor: cursor.as_ref(),
            known_ids: known_ids.as_ref(),
            resume: resume.as_ref(),
            clock: self.clock(),
            concurrency: usize::from(connection.settings.concurrency_level.get()),
            journal: &Watched {
                journal: &journal,
                progress,
            },
            progress,
        };
        let engine = pin!(jiralink_sync::run_export(job));
        let lease = pin!(self.keep_run_lease(run.id));
        let result = tokio::select! {
            result = engine => result,
            () = lease => return Err(DriveError::LeaseLost),
        };
        match result {
            Ok(outcome) => {
                if let Err(e) = journal.write_tail(&outcome.tail).await {
                    return Ok(Err(e));
                }
                Ok(Ok(outcome))
            }
            Err(e) => Ok(Err(e)),
        }
    }

    /// Renews the run's lease every third of it; completes only when it is lost.
    pub(crate) async fn keep_run_lease(&self, run: Uuid) {
        let lease = self.export_lease();
        loop {
            tokio::time::sleep(lease / 3).await;
            match self
                .store()
                .renew_export_run(run, self.holder(), self.now() + lease)
                .await
            {
                Ok(true) => {}
                Ok(false) => return,
                Err(e) => {
                    tracing::warn!(run = %run, error = %e, "the run's lease could not be renewed")
                }
            }
        }
    }

    #[allow(clippy::too_many_arguments, reason = "the parts of one finish")]
    async fn finish_run(
        &self,
        run: &ExportRunRecord,
        state: RunState,
        error: Option<String>,
        stats: RunStats,
        tail: Vec<u8>,
        cursor_after: Option<serde_json::Value>,
        known_ids: Option<Vec<u8>>,
        at: time::OffsetDateTime,
    ) -> AppResult<()> {
        let retention = time::Duration::try_from(self.config().exports.output_retention.get())
            .unwrap_or(time::Duration::days(7));
        let told_error = error.clone();
        let finish = RunFinish {
            state,
            error,
            stats: serde_json::to_value(&stats).unwrap_or_default(),
            tail,
            cursor_after,
            known_ids,
            finished_at: at,
            output_expires_at: Some(at + retention),
        };
        if !self
            .store()
            .finish_export_run(run.id, self.holder(), &finish)
            .await?
        {
            return Err(AppError::ExportFailed {
                code: "lease_lost",
                message: "another process took the run over before it could be finished; it \
                          goes on there"
                    .to_owned(),
                run: Some(run.id.to_string()),
            });
        }
        metrics::counter!("jiralink_export_runs_total", "state" => state.as_str()).increment(1);
        self.run_ended(
            crate::SubjectKind::Export,
            run.export_id,
            run.id,
            state,
            0,
            told_error.as_deref(),
        )
        .await;
        Ok(())
    }

    pub(crate) async fn finish_failed(
        &self,
        run: &ExportRunRecord,
        message: &str,
        stats: RunStats,
    ) {
        if let Err(e) = self
            .finish_run(
                run,
                RunState::Failed,
                Some(message.to_owned()),
                stats,
                Vec::new(),
                None,
                None,
                self.now(),
            )
            .await
        {
            tracing::warn!(run = %run.id, error = %e, "a failed run could not be recorded");
        }
    }

    /// Runs, newest first.
    pub async fn list_runs(&self, filter: RunListFilter) -> AppResult<Vec<RunView>> {
        let export_id = match &filter.export {
            Some(r) => Some(self.find_export(r).await?.id),
            None => None,
        };
        let connection_id = match &filter.connection {
            Some(r) => Some(self.find_connection(r).await?.id),
            None => None,
        };
        let limit = filter
            .limit
            .unwrap_or(DEFAULT_RUN_LIMIT)
            .clamp(1, MAX_RUN_LIMIT);
        let runs = self
            .store()
            .list_export_runs(&RunFilter {
                export_id,
                import_id: None,
                kind: Some(jiralink_store::RunKind::Export),
                connection_id,
                state: None,
                limit,
            })
            .await?;
        let (names, connections) = self.run_names().await?;
        Ok(runs
            .into_iter()
            .map(|r| self.run_view(r, &names, &connections))
            .collect())
    }

    /// One run by id.
    pub async fn get_run(&self, id: &str) -> AppResult<RunView> {
        let run = self.find_run(id).await?;
        let (names, connections) = self.run_names().await?;
        Ok(self.run_view(run, &names, &connections))
    }

    async fn find_run(&self, id: &str) -> AppResult<ExportRunRecord> {
        let not_found = || AppError::RunNotFound {
            reference: id.to_owned(),
        };
        let uuid: Uuid = id.trim().parse().map_err(|_| not_found())?;
        match self.store().get_export_run(uuid).await {
            Ok(run) => Ok(run),
            Err(StoreError::NotFound { .. }) => Err(not_found()),
            Err(e) => Err(e.into()),
        }
    }

    /// Asks a running run to stop at its next page; a run whose process died is marked
    /// cancelled at once when its lease has run out (before that, it ends cancelled when it is
    /// taken over). A run that already ended is returned as it is.
    pub async fn cancel_run(&self, id: &str) -> AppResult<RunView> {
        let run = self.find_run(id).await?;
        if run.state != RunState::Running {
            return self.get_run(id).await;
        }
        self.store().request_export_run_cancel(run.id).await?;
        let now = self.now();
        if run.lease_until.is_none_or(|until| until < now)
            && let Some(taken) = self
                .store()
                .take_over_export_run(run.id, self.holder(), now, now + self.export_lease())
                .await?
        {
            if taken.kind == jiralink_store::RunKind::Import {
                let stats = serde_json::from_value(taken.stats.clone()).unwrap_or_default();
                self.finish_import_run(&taken, RunState::Cancelled, None, &stats)
                    .await;
                return self.get_run(id).await;
            }
            let stats = serde_json::from_value(taken.stats.clone()).unwrap_or_default();
            self.finish_run(
                &taken,
                RunState::Cancelled,
                None,
                stats,
                Vec::new(),
                None,
                None,
                now,
            )
            .await?;
        }
        self.get_run(id).await
    }

    /// The run's output as kept in the database, chunk by chunk.
    ///
    /// # Errors
    /// `run_not_found`; `output_expired` once `exports.output_retention` has passed.
    pub async fn run_output(
        &self,
        id: &str,
    ) -> AppResult<impl Stream<Item = AppResult<bytes::Bytes>> + Send + 'static> {
        let run = self.find_run(id).await?;
        if !output_available(&run, self.now()) {
            return Err(AppError::OutputExpired {
                run: run.id.to_string(),
            });
        }
        let store = self.store_arc();
        let run_id = run.id;
        // One item per batch of chunks, so a download holds at most one batch in memory.
        Ok(futures::stream::try_unfold(
            (store, None::<u64>, false),
            move |(store, after, done)| async move {
                if done {
                    return Ok(None);
                }
                let chunks = store
                    .export_run_output(run_id, after, DOWNLOAD_BATCH)
                    .await
                    .map_err(AppError::from)?;
                let Some((last, _)) = chunks.last() else {
                    return Ok(None);
                };
                let next = (Some(*last), chunks.len() < DOWNLOAD_BATCH as usize);
                let mut batch = Vec::with_capacity(chunks.iter().map(|(_, b)| b.len()).sum());
                for (_, bytes) in chunks {
                    batch.extend_from_slice(&bytes);
                }
                Ok(Some((bytes::Bytes::from(batch), (store, next.0, next.1))))
            },
        ))
    }

    /// Export names and connections, to name them in run views.
    async fn run_names(
        &self,
    ) -> AppResult<(HashMap<Uuid, String>, HashMap<ConnectionId, Connection>)> {
        let names = self
            .store()
            .list_exports()
            .await?
            .into_iter()
            .map(|e| (e.id, e.name))
            .collect();
        let connections = self
            .store()
            .list_connections()
            .await?
            .into_iter()
            .map(|c| (c.id, c))
            .collect();
        Ok((names, connections))
    }

    pub(crate) fn run_view(
        &self,
        run: ExportRunRecord,
        names: &HashMap<Uuid, String>,
        connections: &HashMap<ConnectionId, Connection>,
    ) -> RunView {
        let text = |key: &str, default: &str| {
            run.spec
                .get(key)
                .and_then(serde_json::Value::as_str)
                .unwrap_or(default)
                .to_owned()
        };
        let resource = text("resource", "issues");
        let format = text("format", "ndjson");
        let duration_ms = run
            .finished_at
            .and_then(|f| u64::try_from((f - run.started_at).whole_milliseconds()).ok());
        let output_available = output_available(&run, self.now());
        RunView {
            id: run.id,
            export_id: run.export_id,
            export_name: run.export_id.and_then(|id| names.get(&id).cloned()),
            connection_id: run.connection_id,
            connection_name: connections
                .get(&run.connection_id)
                .map(|c| c.settings.name.as_str().to_owned()),
            resource,
            format,
            trigger: run.trigger,
            state: run.state,
            reason: run.reason,
            started_at: run.started_at,
            finished_at: run.finished_at,
            duration_ms,
            stats: serde_json::from_value(run.stats).unwrap_or_default(),
            cursor_before: run.cursor_before,
            cursor_after: run.cursor_after,
            error: run.error,
            cancel_requested: run.cancel_requested,
            output_bytes: run.output_bytes,
            output_available,
            output_expires_at: run.output_expires_at,
            output_file: run.output_file,
            resumed: run.resumed,
        }
    }
}

/// Whether a run's output can still be downloaded.
fn output_available(run: &ExportRunRecord, now: time::OffsetDateTime) -> bool {
    run.state != RunState::Skipped && run.output_expires_at.is_none_or(|at| at > now)
}

fn output_file(output: &RunOutput) -> Option<String> {
    match output {
        RunOutput::File(path) => Some(
            std::path::absolute(path)
                .unwrap_or_else(|_| path.clone())
                .display()
                .to_string(),
        ),
        RunOutput::Store | RunOutput::Stdout => None,
    }
}

/// The error of a run whose export's saved delta state (`what`) cannot be read.
fn unreadable_delta_state(
    run: &ExportRunRecord,
    what: &str,
    error: &dyn std::fmt::Display,
) -> AppError {
    AppError::ExportFailed {
        code: "delta_state_unreadable",
        message: format!(
            "the export's saved {what} cannot be read ({error}); the run was stopped so that \
             no change or deletion is missed; to start over, delete the export and create it \
             again with the same settings: its first run is a full one"
        ),
        run: Some(run.id.to_string()),
    }
}

enum DriveError {
    App(AppError),
    LeaseLost,
}
