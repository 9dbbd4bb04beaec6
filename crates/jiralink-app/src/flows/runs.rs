//! Running a flow: export, import, link (see the module above for what each phase does).

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::pin::pin;

use futures::StreamExt as _;
use jiralink_atlassian::{BulkFetchRequest, JiraClient};
use jiralink_domain::ConnectionId;
use jiralink_store::{
    ExportRecord, FlowRecord, FlowRunRecord, ImportRecord, RunState, RunTrigger, StoreError,
    SyncLink,
};
use jiralink_sync::NoProgress;
use jiralink_sync::import::{InputFormat, NoImportProgress, RecordResult, RecordState};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use time::OffsetDateTime;
use uuid::Uuid;

use super::TARGET_FIELD;
use super::comments::{CommentSync, jira, sync_comments};
use super::definitions::pair_problems;
use crate::client::{CredentialSource, Purpose};
use crate::exports::RunOutput;
use crate::imports::{ImportSource, ImportSpec, Input, ledger_scope};
use crate::listeners::FlowSource;
use crate::{App, AppError, AppResult};

/// How many runs try to import one export run's records before they are given up.
const MAX_ATTEMPTS: u32 = 3;
/// Records read back and linked at a time in the link phase.
const LINK_BATCH: usize = 50;
/// Records looked up in the id map at a time while preparing the import.
const PREPARE_BATCH: usize = 500;

/// What a flow run did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct FlowStats {
    /// Records the export read.
    pub exported: u64,
    /// Of those, records whose issue had not changed since it was last copied (in either
    /// direction): not sent.
    pub unchanged: u64,
    /// Records handed to the import.
    pub sent: u64,
    pub created: u64,
    pub updated: u64,
    pub skipped: u64,
    pub failed: u64,
    /// Issues whose link (both directions) was written.
    pub linked: u64,
    pub comments_added: u64,
    pub comments_updated: u64,
    /// Comments found already copied by an earlier run that stopped before recording them.
    pub comments_adopted: u64,
    /// Comments that could not be copied (the issue is sent again by the next run).
    pub comments_failed: u64,
    /// Records the link phase could not link (their result or record was unreadable).
    pub unlinked: u64,
    /// The failed run this run finished (its export's records were not all imported).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_of: Option<Uuid>,
    /// Which attempt at the export's records this run is (0 or 1 for a run that exported).
    pub attempt: u32,
    /// Records failed, and the export's cursor was moved back so the next run reads them again.
    pub rewound: bool,
    /// Copies deleted because their original was deleted (runs fed by a listener).
    pub deleted: u64,
}

/// One flow run as users see it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FlowRunView {
    pub id: Uuid,
    pub flow_id: Uuid,
    pub flow_name: Option<String>,
    pub trigger: RunTrigger,
    pub state: RunState,
    /// `export`, `import`, `link`, `delete` or `done`.
    pub phase: String,
    /// The listener whose events this run read (`None`: the flow's export).
    pub listener_id: Option<Uuid>,
    pub export_run_id: Option<Uuid>,
    pub import_run_id: Option<Uuid>,
    pub stats: FlowStats,
    pub error: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub started_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub finished_at: Option<OffsetDateTime>,
}

impl FlowRunView {
    pub(crate) fn of(r: FlowRunRecord, flow_name: Option<String>) -> Self {
        Self {
            id: r.id,
            flow_id: r.flow_id,
            flow_name,
            trigger: r.trigger,
            state: r.state,
            phase: r.phase,
            listener_id: r
                .source
                .as_ref()
                .and_then(|s| s.get("listener"))
                .and_then(|l| l.as_str())
                .and_then(|l| l.parse().ok()),
            export_run_id: r.export_run_id,
            import_run_id: r.import_run_id,
            stats: serde_json::from_value(r.stats).unwrap_or_default(),
            error: r.error,
            started_at: r.started_at,
            finished_at: r.finished_at,
        }
    }
}

/// A run being driven: its record and its counts.
struct Driving {
    record: FlowRunRecord,
    stats: FlowStats,
}

/// One record written by the import, with what the link needs.
struct Written {
    source_id: String,
    source_key: String,
    source_updated: Option<String>,
    target_id: String,
    target_key: String,
    comments: Option<Vec<Value>>,
}

/// The parts of a flow a run uses.
struct Parts {
    flow: FlowRecord,
    export: ExportRecord,
    import: ImportRecord,
    spec: ImportSpec,
}

impl Parts {
    /// The two connections, sorted: flows between them never run at the same time.
    fn pair_key(&self) -> String {
        let (a, b) = (self.source().to_string(), self.target().to_string());
        if a <= b {
            format!("{a}:{b}")
        } else {
            format!("{b}:{a}")
        }
    }

    fn source(&self) -> ConnectionId {
        self.export.connection_id
    }

    fn target(&self) -> ConnectionId {
        self.import.connection_id
    }
}

impl App {
    /// Runs a flow now, in this process: an interrupted run of it (its process died and its
    /// lease ran out) is resumed from its phase; a failed one whose export had finished is
    /// finished first (its records are imported before a new export moves on); otherwise a
    /// new run exports, imports and links.
    ///
    /// # Errors
    /// `flow_running` when a run of it is going on elsewhere; `validation_failed` when its
    /// export and import no longer make a flow; the export's or import's errors (the run is
    /// recorded as failed).
    pub async fn run_flow(&self, reference: &str, trigger: RunTrigger) -> AppResult<FlowRunView> {
        self.run_flow_with(reference, trigger, None)
            .await
            .map(|(run, _)| run)
    }

    /// [`App::run_flow`], reading `source`'s issues instead of running the saved export when
    /// given (a listener's events). Answers the run and whether it was the one asked for: an
    /// interrupted run, or a failed run's retry, goes first and is answered instead.
    pub(crate) async fn run_flow_with(
        &self,
        reference: &str,
        trigger: RunTrigger,
        source: Option<FlowSource>,
    ) -> AppResult<(FlowRunView, bool)> {
        let flow = self.find_flow(reference).await?;
        let export = self.store().get_export(flow.export_id).await?;
        let import = self.store().get_import(flow.import_id).await?;
        let problems = pair_problems(&export, &import);
        if !problems.is_empty() {
            return Err(AppError::InvalidInput(format!(
                "the flow cannot run: {}",
                problems.join("; ")
            )));
        }
        let spec: ImportSpec = serde_json::from_value(import.spec.clone()).map_err(|e| {
            AppError::Io(format!(
                "the stored import cannot be read ({e}); save it again"
            ))
        })?;
        let parts = Parts {
            flow,
            export,
            import,
            spec,
        };
        let wanted = source
            .as_ref()
            .map(|s| serde_json::to_value(s).unwrap_or_default());
        let record = self.start_flow_run(&parts, trigger, wanted.clone()).await?;
        let ours = record.source == wanted;
        let id = record.id;
        let stats = serde_json::from_value(record.stats.clone()).unwrap_or_default();
        let mut driving = Driving { record, stats };
        let result = {
            let work = pin!(self.drive_flow(&parts, &mut driving));
            let lease = pin!(self.keep_flow_lease(id));
            tokio::select! {
                result = work => Some(result),
                () = lease => None,
            }
        };
        match result {
            None => Err(AppError::Io(
                "another process took the flow run over while this one was paused past its \
                 lease"
                    .to_owned(),
            )),
            Some(Ok(())) => {
                self.end_flow_run(&mut driving, RunState::Succeeded, None)
                    .await;
                self.get_flow_run(&id.to_string())
                    .await
                    .map(|run| (run, ours))
            }
            Some(Err(e)) => {
                let state = if matches!(
                    e,
                    AppError::ExportFailed {
                        code: "cancelled",
                        ..
                    } | AppError::ImportFailed {
                        code: "cancelled",
                        ..
                    }
                ) {
                    RunState::Cancelled
                } else {
                    RunState::Failed
                };
                self.end_flow_run(&mut driving, state, Some(e.to_string()))
                    .await;
                Err(e)
            }
        }
    }

    /// The run to drive: the flow's interrupted run taken over, a retry of its failed run, or
    /// a new one.
    async fn start_flow_run(
        &self,
        parts: &Parts,
        trigger: RunTrigger,
        source: Option<Value>,
    ) -> AppResult<FlowRunRecord> {
        let flow = &parts.flow;
        let now = self.now();
        let lease_until = now + self.export_lease();
        let last = self
            .store()
            .list_flow_runs(Some(flow.id), 1)
            .await?
            .into_iter()
            .next();
        let mut fresh = FlowRunRecord {
            id: Uuid::new_v4(),
            flow_id: flow.id,
            pair_key: parts.pair_key(),
            trigger,
            state: RunState::Running,
            phase: "export".to_owned(),
            export_run_id: None,
            import_run_id: None,
            stats: serde_json::to_value(FlowStats::default()).unwrap_or_default(),
            error: None,
            holder: Some(self.holder().to_owned()),
            lease_until: Some(lease_until),
            started_at: now,
            finished_at: None,
            source,
        };
        match last {
            Some(run) if run.state == RunState::Running => {
                let busy = || AppError::FlowRunning {
                    name: flow.name.clone(),
                    run: run.id.to_string(),
                    started: crate::format_time(run.started_at),
                };
                // The export's or import's run it was driving keeps a lease of its own, which
                // can outlast the flow run's by a renewal: taken over before that, it would be
                // found going on and the flow run would fail.
                if self
                    .parts_running_until(parts.export.id, parts.import.id)
                    .await?
                    .flatten()
                    .is_some_and(|until| until > now)
                {
                    return Err(busy());
                }
                return match self
                    .store()
                    .take_over_flow_run(run.id, self.holder(), now, lease_until)
                    .await?
                {
                    Some(taken) => {
                        tracing::info!(flow = %flow.id, run = %taken.id, phase = %taken.phase, "resuming an interrupted flow run");
                        Ok(taken)
                    }
                    None => Err(busy()),
                };
            }
            Some(run) if needs_retry(&run) => {
                if let Some(stats) = self.retry_stats(&run).await? {
                    // Its export finished but not all of its records were imported and
                    // linked: they go first, or the export's cursor, which has moved on,
                    // would leave them behind.
                    fresh.phase = run.phase.clone();
                    fresh.export_run_id = run.export_run_id;
                    fresh.import_run_id = run.import_run_id;
                    fresh.source = run.source.clone();
                    fresh.stats = serde_json::to_value(stats).unwrap_or_default();
                }
            }
            _ => {}
        }
        self.check_other_direction(parts).await?;
        match self.store().insert_flow_run(&fresh).await {
            Ok(()) => Ok(fresh),
            Err(StoreError::Conflict { .. }) => Err(AppError::FlowWaiting {
                reason: "a run of this flow, or of another flow between the same two \
                         connections, is going on"
                    .to_owned(),
            }),
            Err(e) => Err(e.into()),
        }
    }

    /// A failed run's retry, counted; `None` when it is not retried any more (its export's
    /// output is no longer kept, or three attempts failed): its records are then left to the
    /// next change of their issues, and the run says so.
    async fn retry_stats(&self, failed: &FlowRunRecord) -> AppResult<Option<FlowStats>> {
        let before: FlowStats = serde_json::from_value(failed.stats.clone()).unwrap_or_default();
        let attempt = before.attempt.max(1) + 1;
        let available = match failed.export_run_id {
            Some(run) => self
                .get_run(&run.to_string())
                .await
                .is_ok_and(|r| r.output_available),
            None => false,
        };
        if !available || attempt > MAX_ATTEMPTS {
            tracing::warn!(run = %failed.id, attempt, available, "a failed flow run is not retried any more");
            tokio::fs::remove_file(self.flow_input_path(failed.id))
                .await
                .ok();
            return Ok(None);
        }
        Ok(Some(FlowStats {
            retry_of: Some(failed.id),
            attempt,
            ..FlowStats::default()
        }))
    }

    /// A flow does not start while the flow the other way between the same two connections has
    /// a failed run still to finish: the copies that run made are not all in the id map yet,
    /// and this flow would take them for new issues.
    async fn check_other_direction(&self, parts: &Parts) -> AppResult<()> {
        for other in self.store().list_flows().await? {
            if other.id == parts.flow.id {
                continue;
            }
            let (Ok(export), Ok(import)) = (
                self.store().get_export(other.export_id).await,
                self.store().get_import(other.import_id).await,
            ) else {
                continue;
            };
            if export.connection_id != parts.target() || import.connection_id != parts.source() {
                continue;
            }
            let last = self
                .store()
                .list_flow_runs(Some(other.id), 1)
                .await?
                .into_iter()
                .next();
            if let Some(run) = last
                && needs_retry(&run)
                && self.retry_stats(&run).await?.is_some()
            {
                return Err(AppError::FlowWaiting {
                    reason: format!(
                        "the flow {:?} the other way has a failed run to finish first (its \
                         copies are not all linked yet); run it first",
                        other.name
                    ),
                });
            }
        }
        Ok(())
    }

    /// When the flow's newest run is going on: the latest end of its lease and of the leases
    /// of its export's and import's running runs (`Some(None)` when one of them has no lease);
    /// `None` when it is not running.
    pub(crate) async fn flow_running_until(
        &self,
        flow: &FlowRecord,
    ) -> AppResult<Option<Option<OffsetDateTime>>> {
        let Some(run) = self
            .store()
            .list_flow_runs(Some(flow.id), 1)
            .await?
            .into_iter()
            .next()
            .filter(|r| r.state == RunState::Running)
        else {
            return Ok(None);
        };
        let parts = self
            .parts_running_until(flow.export_id, flow.import_id)
            .await?;
        Ok(Some(match (run.lease_until, parts) {
            (Some(own), None) => Some(own),
            (Some(own), Some(Some(part))) => Some(own.max(part)),
            (None, _) | (_, Some(None)) => None,
        }))
    }

    /// The latest lease end of the running runs of a flow's export and import; `None` when
    /// neither runs, `Some(None)` when one runs with no lease.
    async fn parts_running_until(
        &self,
        export: Uuid,
        import: Uuid,
    ) -> AppResult<Option<Option<OffsetDateTime>>> {
        let export = self.running_until(Some(export), None).await?;
        let import = self.running_until(None, Some(import)).await?;
        Ok(match (export, import) {
            (None, None) => None,
            (Some(a), None) | (None, Some(a)) => Some(a),
            (Some(a), Some(b)) => Some(a.max(b)),
        })
    }

    async fn keep_flow_lease(&self, run: Uuid) {
        let lease = self.export_lease();
        loop {
            tokio::time::sleep(lease / 3).await;
            match self
                .store()
                .renew_flow_run(run, self.holder(), self.now() + lease)
                .await
            {
                Ok(true) => {}
                Ok(false) => return,
                Err(e) => {
                    tracing::warn!(run = %run, error = %e, "the flow run's lease could not be renewed")
                }
            }
        }
    }

    /// Records the run's progress; `false` when another process has taken it over.
    async fn save_flow_progress(&self, driving: &mut Driving) -> AppResult<()> {
        driving.record.stats = serde_json::to_value(&driving.stats).unwrap_or_default();
        driving.record.lease_until = Some(self.now() + self.export_lease());
        if self
            .store()
            .save_flow_run(&driving.record, self.holder())
            .await?
        {
            Ok(())
        } else {
            Err(AppError::Io(
                "another process took the flow run over".to_owned(),
            ))
        }
    }

    async fn end_flow_run(&self, driving: &mut Driving, state: RunState, error: Option<String>) {
        driving.record.state = state;
        driving.record.error = error;
        driving.record.finished_at = Some(self.now());
        driving.record.stats = serde_json::to_value(&driving.stats).unwrap_or_default();
        if let Err(e) = self
            .store()
            .save_flow_run(&driving.record, self.holder())
            .await
        {
            tracing::warn!(run = %driving.record.id, error = %e, "a flow run's end could not be recorded");
        }
        metrics::counter!("jiralink_flow_runs_total", "state" => state.as_str()).increment(1);
        self.run_ended(
            crate::SubjectKind::Flow,
            Some(driving.record.flow_id),
            driving.record.id,
            state,
            driving.stats.failed,
            driving.record.error.as_deref(),
        )
        .await;
        // The prepared input is kept until the run has succeeded, for a resumed import or a
        // retry; then it goes, with that of the failed run this one finished.
        if state == RunState::Succeeded {
            tokio::fs::remove_file(self.flow_input_path(driving.record.id))
                .await
                .ok();
            if let Some(failed) = driving.stats.retry_of {
                tokio::fs::remove_file(self.flow_input_path(failed))
                    .await
                    .ok();
            }
        }
    }

    fn flow_input_path(&self, run: Uuid) -> PathBuf {
        self.data_dir()
            .join("flows")
            .join(format!("flow-run-{run}.ndjson"))
    }

    async fn drive_flow(&self, parts: &Parts, driving: &mut Driving) -> AppResult<()> {
        loop {
            if matches!(driving.record.phase.as_str(), "import" | "link")
                && self.input_elsewhere(driving).await?
            {
                self.prepare_again(parts, driving).await?;
                continue;
            }
            match driving.record.phase.as_str() {
                "export" if driving.record.source.is_some() => {
                    let source = source_of(&driving.record)?;
                    if source.changed.is_empty() {
                        driving.record.phase = "delete".to_owned();
                    } else {
                        let run = self.export_by_ids(parts, &source).await?;
                        driving.record.export_run_id = Some(run.id);
                        driving.record.phase = "import".to_owned();
                    }
                }
                "export" => {
                    let run = match self.export_run_of(parts, driving).await? {
                        Some(run) => run,
                        None => {
                            self.run_export(
                                &parts.export.id.to_string(),
                                driving.record.trigger,
                                RunOutput::Store,
                                &NoProgress,
                            )
                            .await?
                        }
                    };
                    if run.state == RunState::Cancelled {
                        return Err(AppError::ExportFailed {
                            code: "cancelled",
                            message: "the export run was cancelled".to_owned(),
                            run: Some(run.id.to_string()),
                        });
                    }
                    driving.record.export_run_id = Some(run.id);
                    driving.record.phase = "import".to_owned();
                }
                "import" => {
                    self.flow_import(parts, driving).await?;
                    driving.record.phase = "link".to_owned();
                }
                "link" => {
                    self.flow_link(parts, driving).await?;
                    self.read_failed_again(parts, driving).await?;
                    driving.record.phase = if driving.record.source.is_some() {
                        "delete"
                    } else {
                        "done"
                    }
                    .to_owned();
                }
                "delete" => {
                    let source = source_of(&driving.record)?;
                    self.delete_copies(parts, driving, &source.deleted).await?;
                    driving.record.phase = "done".to_owned();
                }
                _ => return Ok(()),
            }
            self.save_flow_progress(driving).await?;
        }
    }

    /// The prepared file the run's import run reads, as that import run recorded it (a
    /// retry's is the failed run's); `None` before there is an import run.
    async fn import_input_of(&self, driving: &Driving) -> AppResult<Option<PathBuf>> {
        let Some(import_run) = driving.record.import_run_id else {
            return Ok(None);
        };
        Ok(Some(self.recorded_input(import_run).await?.unwrap_or_else(
            || self.flow_input_path(driving.record.id),
        )))
    }

    /// The input file an import run recorded in its frozen spec (`None`: it read standard
    /// input).
    async fn recorded_input(&self, import_run: Uuid) -> AppResult<Option<PathBuf>> {
        let run = self.store().get_export_run(import_run).await?;
        Ok(crate::imports::input_of(&run.spec))
    }

    /// Whether the run's import run reads a prepared file this server does not have: the
    /// run was taken over from a server that died, and the file is in that server's data
    /// directory.
    async fn input_elsewhere(&self, driving: &Driving) -> AppResult<bool> {
        Ok(self
            .import_input_of(driving)
            .await?
            .is_some_and(|path| !path.exists()))
    }

    /// Back to the import phase with no import run, so the export's records are prepared
    /// again here and imported by a new import run: the import ledger turns the records the
    /// first one created into updates of their copies, and those already linked are left out
    /// as unchanged. The first import run, if still running, is ended as failed.
    async fn prepare_again(&self, parts: &Parts, driving: &mut Driving) -> AppResult<()> {
        if let Some(import_run) = driving.record.import_run_id {
            self.end_import_run_elsewhere(&parts.import.name, import_run)
                .await?;
            driving.record.import_run_id = None;
        }
        tracing::info!(run = %driving.record.id, "the flow run's prepared records are on another server; preparing them again");
        driving.record.phase = "import".to_owned();
        self.save_flow_progress(driving).await
    }

    /// Ends an import run left by a server that died, whose input this server cannot read.
    async fn end_import_run_elsewhere(&self, name: &str, import_run: Uuid) -> AppResult<()> {
        let run = self.store().get_export_run(import_run).await?;
        if run.state != RunState::Running {
            return Ok(());
        }
        let now = self.now();
        match self
            .store()
            .take_over_export_run(run.id, self.holder(), now, now + self.export_lease())
            .await?
        {
            Some(taken) => {
                self.end_orphaned_import_run(&taken).await;
                Ok(())
            }
            None => Err(AppError::ImportRunning {
                name: name.to_owned(),
                run: run.id.to_string(),
                started: crate::format_time(run.started_at),
            }),
        }
    }

    /// Whether the input file an import run reads is on this server.
    async fn import_input_here(&self, import_run: Uuid) -> AppResult<bool> {
        Ok(self
            .recorded_input(import_run)
            .await?
            .is_some_and(|path| path.exists()))
    }

    /// The export run this run started and saw succeed, if it died before recording it (the
    /// export's cursor has moved past its records: they must not be exported again, but
    /// imported).
    async fn export_run_of(
        &self,
        parts: &Parts,
        driving: &Driving,
    ) -> AppResult<Option<crate::RunView>> {
        let Some(last) = self.last_export_run(parts.export.id).await? else {
            return Ok(None);
        };
        if last.state != RunState::Succeeded || last.started_at < driving.record.started_at {
            return Ok(None);
        }
        self.get_run(&last.id.to_string()).await.map(Some)
    }

    /// The import phase: the run's import run resumed or finished, or a new one over the
    /// export's records.
    async fn flow_import(&self, parts: &Parts, driving: &mut Driving) -> AppResult<()> {
        if let Some(import_run) = driving.record.import_run_id {
            let run = self.store().get_export_run(import_run).await?;
            match run.state {
                RunState::Succeeded => return self.count_import(driving, import_run).await,
                RunState::Running => {
                    // Resumed by the import itself, from its checkpoint and with its frozen
                    // input (the prepared file, kept until this run ends).
                    self.run_import(
                        &parts.import.id.to_string(),
                        None,
                        RunOutput::Store,
                        driving.record.trigger,
                        &NoImportProgress,
                    )
                    .await?;
                    return self.count_import(driving, import_run).await;
                }
                // A cancelled or failed import: prepared again and imported by a new run (the
                // ledger keeps what it created from being created twice).
                _ => {}
            }
        }
        // An import run this flow run started but did not live to record.
        let orphan = self
            .last_import_run(parts.import.id)
            .await?
            .filter(|r| r.state == RunState::Running)
            .and_then(|r| r.id);
        let orphan = match orphan {
            Some(orphan) if !self.import_input_here(orphan).await? => {
                // Started by a server that died, over a file in its data directory.
                self.end_import_run_elsewhere(&parts.import.name, orphan)
                    .await?;
                None
            }
            orphan => orphan,
        };
        if let Some(orphan) = orphan {
            driving.record.import_run_id = Some(orphan);
            self.save_flow_progress(driving).await?;
            self.run_import(
                &parts.import.id.to_string(),
                None,
                RunOutput::Store,
                driving.record.trigger,
                &NoImportProgress,
            )
            .await?;
            return self.count_import(driving, orphan).await;
        }
        let Some(export_run) = driving.record.export_run_id else {
            return Err(AppError::Io(
                "the flow run has no export run to import".to_owned(),
            ));
        };
        let path = self.prepare_flow_input(parts, driving, export_run).await?;
        if driving.stats.sent == 0 {
            // Nothing changed: no import run, no request to Jira.
            return Ok(());
        }
        let mut spec = parts.spec.clone();
        // The mapping is checked to have no key of its own; a byte-order mark would end up
        // inside the text once a line is put before it.
        spec.mapping = format!(
            "key = \"{TARGET_FIELD}\"\n{}",
            spec.mapping.trim_start_matches('\u{feff}')
        );
        spec.format = Some(InputFormat::Ndjson);
        spec.results_format = jiralink_sync::import::ResultsFormat::Ndjson;
        spec.input = None;
        let ready = self
            .prepare_import(&parts.target().to_string(), &spec)
            .await?;
        let run = match self
            .start_import_run(
                &ready.connection,
                Some(parts.import.id),
                &spec,
                Some(&path),
                driving.record.trigger,
                &RunOutput::Store,
            )
            .await
        {
            Ok(run) => run,
            Err(AppError::Store(StoreError::Conflict { .. })) => {
                return Err(AppError::ImportRunning {
                    name: parts.import.name.clone(),
                    run: String::new(),
                    started: "earlier".to_owned(),
                });
            }
            Err(e) => return Err(e),
        };
        driving.record.import_run_id = Some(run.id);
        self.save_flow_progress(driving).await?;
        let scope = ledger_scope(&parts.import, &parts.spec);
        self.drive_import(
            run.clone(),
            &ready,
            &spec,
            &scope,
            Input {
                source: ImportSource::File(path),
                format: InputFormat::Ndjson,
                attachment_dir: None,
            },
            &RunOutput::Store,
            false,
            &NoImportProgress,
        )
        .await?;
        self.count_import(driving, run.id).await
    }

    /// Records the import refused would be left behind by the export's cursor, which has
    /// moved past them: it is moved back to where this run's export started, so the next run
    /// reads them again (the records copied meanwhile are left out there as unchanged).
    async fn read_failed_again(&self, parts: &Parts, driving: &mut Driving) -> AppResult<()> {
        let Some(export_run) = driving.record.export_run_id else {
            return Ok(());
        };
        if driving.stats.failed == 0 {
            return Ok(());
        }
        let run = self.get_run(&export_run.to_string()).await?;
        let Some(after) = &run.cursor_after else {
            return Ok(());
        };
        driving.stats.rewound = self
            .store()
            .rewind_export_cursor(parts.export.id, after, run.cursor_before.as_ref())
            .await?;
        Ok(())
    }

    async fn count_import(&self, driving: &mut Driving, import_run: Uuid) -> AppResult<()> {
        let view = self.get_import_run(&import_run.to_string()).await?;
        if view.state == RunState::Cancelled {
            return Err(AppError::ImportFailed {
                code: "cancelled",
                message: "the import run was cancelled".to_owned(),
                run: Some(import_run.to_string()),
            });
        }
        if view.state != RunState::Succeeded {
            return Err(AppError::ImportFailed {
                code: "import_failed",
                message: view
                    .error
                    .unwrap_or_else(|| "the import run did not finish".to_owned()),
                run: Some(import_run.to_string()),
            });
        }
        driving.stats.created = view.stats.created;
        driving.stats.updated = view.stats.updated;
        driving.stats.skipped = view.stats.skipped;
        driving.stats.failed = view.stats.failed;
        Ok(())
    }

    /// Writes the export's records that changed since they were last copied to the run's
    /// input file, each linked one with its copy's id; answers the file.
    async fn prepare_flow_input(
        &self,
        parts: &Parts,
        driving: &mut Driving,
        export_run: Uuid,
    ) -> AppResult<PathBuf> {
        let (fetched, format) = self.fetch_export_output(&export_run.to_string()).await?;
        let path = self.flow_input_path(driving.record.id);
        let result = self
            .write_flow_input(parts, driving, &fetched, format, &path)
            .await;
        tokio::fs::remove_file(&fetched).await.ok();
        result.map(|()| path)
    }

    async fn write_flow_input(
        &self,
        parts: &Parts,
        driving: &mut Driving,
        fetched: &std::path::Path,
        format: InputFormat,
        path: &std::path::Path,
    ) -> AppResult<()> {
        let io =
            |e: std::io::Error| AppError::Io(format!("could not write {}: {e}", path.display()));
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let input = std::fs::File::open(fetched)
            .map_err(|e| AppError::Io(format!("could not read {}: {e}", fetched.display())))?;
        let mut source = jiralink_sync::import::reader(format, BufReader::new(input));
        let mut out = std::io::BufWriter::new(std::fs::File::create(path).map_err(io)?);
        // Exported, unchanged, sent.
        let mut counts = [0u64; 3];
        loop {
            let mut batch: Vec<Map<String, Value>> = Vec::with_capacity(PREPARE_BATCH);
            while batch.len() < PREPARE_BATCH {
                match source.next_record() {
                    Ok(Some(record)) => {
                        counts[0] += 1;
                        // The export's own output: a record it cannot read is passed on, so the
                        // import reports it failed with its reason.
                        batch.push(record.fields.unwrap_or_default());
                    }
                    Ok(None) => break,
                    Err(e) => {
                        return Err(AppError::Io(format!(
                            "the export's output cannot be read: {e}"
                        )));
                    }
                }
            }
            if batch.is_empty() {
                break;
            }
            let ids: Vec<String> = batch.iter().filter_map(issue_id).collect();
            let links = self
                .store()
                .sync_links(parts.source(), parts.target(), &ids)
                .await?;
            for mut record in batch {
                if let Some(link) = issue_id(&record).and_then(|id| links.get(&id)) {
                    if link
                        .seen_updated
                        .as_deref()
                        .is_some_and(|seen| same_instant(seen, updated_of(&record).as_deref()))
                    {
                        counts[1] += 1;
                        continue;
                    }
                    record.insert(
                        "_jiralink".to_owned(),
                        serde_json::json!({
                            "target": link.peer_issue_id,
                            "targetKey": link.peer_issue_key,
                        }),
                    );
                }
                counts[2] += 1;
                serde_json::to_writer(&mut out, &record)
                    .map_err(|e| AppError::Io(format!("could not write a record: {e}")))?;
                out.write_all(b"\n").map_err(io)?;
            }
        }
        out.flush().map_err(io)?;
        out.get_ref().sync_all().map_err(io)?;
        driving.stats.exported = counts[0];
        driving.stats.unchanged = counts[1];
        driving.stats.sent = counts[2];
        Ok(())
    }

    /// The link phase: for each record written, its comments, then the copy's `updated` read
    /// back and both directions of the link written.
    async fn flow_link(&self, parts: &Parts, driving: &mut Driving) -> AppResult<()> {
        let Some(import_run) = driving.record.import_run_id else {
            return Ok(());
        };
        let client = self.flow_client(parts.target()).await?;
        let path = self
            .import_input_of(driving)
            .await?
            .unwrap_or_else(|| self.flow_input_path(driving.record.id));
        let file = std::fs::File::open(&path).map_err(|e| {
            AppError::Io(format!(
                "the flow run's input {} is gone: {e}; run the flow again",
                path.display()
            ))
        })?;
        let mut records = Prepared {
            lines: BufReader::new(file).lines(),
            ordinal: 0,
            path,
        };
        let mut results = pin!(self.run_output(&import_run.to_string()).await?);
        let mut pending: Vec<u8> = Vec::new();
        let mut batch: Vec<Written> = Vec::with_capacity(LINK_BATCH);
        driving.stats.linked = 0;
        driving.stats.unlinked = 0;
        driving.stats.comments_added = 0;
        driving.stats.comments_updated = 0;
        driving.stats.comments_adopted = 0;
        driving.stats.comments_failed = 0;
        let mut done = false;
        while !done {
            match results.next().await {
                Some(chunk) => pending.extend_from_slice(&chunk?),
                // The last line may have no newline.
                None => {
                    pending.push(b'\n');
                    done = true;
                }
            }
            let mut start = 0;
            while let Some(end) = pending[start..].iter().position(|b| *b == b'\n') {
                let line = &pending[start..start + end];
                start += end + 1;
                if line.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                match written(line, &mut records)? {
                    Some(Some(w)) => batch.push(w),
                    Some(None) => {
                        driving.stats.unlinked += 1;
                        tracing::warn!(run = %driving.record.id, "a written record could not be linked: its result or its record is unreadable");
                    }
                    None => {}
                }
                if batch.len() == LINK_BATCH {
                    self.link_batch(parts, &client, std::mem::take(&mut batch), driving)
                        .await?;
                }
            }
            pending.drain(..start);
        }
        if !batch.is_empty() {
            self.link_batch(parts, &client, batch, driving).await?;
        }
        Ok(())
    }

    async fn flow_client(&self, connection: ConnectionId) -> AppResult<JiraClient> {
        let connection = self.usable_connection(&connection.to_string()).await?;
        self.client_for(
            &connection.settings,
            Some(&connection),
            CredentialSource::Stored,
            Purpose::Requests,
        )
        .await
    }

    /// A listener's run's export phase: the flow's export settings over just the issues the
    /// events named, read by id so the search index's lag cannot hide a change an event
    /// announced, and narrowed by the listener's own JQL (an admin webhook's filter is typed
    /// by a person, and may be missing). Its cursor is left alone.
    async fn export_by_ids(
        &self,
        parts: &Parts,
        source: &crate::listeners::FlowSource,
    ) -> AppResult<crate::RunView> {
        let mut spec: jiralink_sync::ExportSpec = serde_json::from_value(parts.export.spec.clone())
            .map_err(|e| {
                AppError::Io(format!(
                    "the flow's export cannot be read ({e}); save it again"
                ))
            })?;
        let listener_jql = match self.store().get_listener(source.listener).await {
            Ok(listener) => listener.jql,
            // Deleted since its events were stored: the export's own JQL still holds.
            Err(jiralink_store::StoreError::NotFound { .. }) => None,
            Err(e) => return Err(e.into()),
        };
        spec.jql = crate::listeners::effective_jql(spec.user_jql(), listener_jql.as_deref())?;
        spec.kind = jiralink_sync::ExportKind::All;
        spec.deletions = false;
        spec.issue_ids.clone_from(&source.changed);
        let run = self
            .run_adhoc_export(
                &parts.source().to_string(),
                spec,
                RunOutput::Store,
                &NoProgress,
            )
            .await?;
        if run.state == RunState::Cancelled {
            return Err(AppError::ExportFailed {
                code: "cancelled",
                message: "the export run was cancelled".to_owned(),
                run: Some(run.id.to_string()),
            });
        }
        Ok(run)
    }

    /// A listener's run's delete phase: the copies of issues deleted on the source are
    /// deleted, and their links forgotten. An issue the source still has is left alone
    /// (whatever an event said), and so is a copy already gone.
    async fn delete_copies(
        &self,
        parts: &Parts,
        driving: &mut Driving,
        deleted: &[u64],
    ) -> AppResult<()> {
        if deleted.is_empty() {
            return Ok(());
        }
        let ids: Vec<String> = deleted.iter().map(ToString::to_string).collect();
        let links = self
            .store()
            .sync_links(parts.source(), parts.target(), &ids)
            .await?;
        if links.is_empty() {
            return Ok(());
        }
        let source = self.flow_client(parts.source()).await?;
        let still_there = read_updated(&source, links.keys().map(String::as_str))
            .await
            .map_err(jira)?;
        let target = self.flow_client(parts.target()).await?;
        let mut gone = Vec::new();
        for (id, link) in &links {
            if still_there.contains_key(id) {
                tracing::warn!(issue = %id, "an issue said to be deleted is still there; its copy is kept");
                continue;
            }
            target
                .issue_delete(&link.peer_issue_id)
                .await
                .map_err(jira)?;
            driving.stats.deleted += 1;
            gone.push(id.clone());
        }
        self.store()
            .delete_sync_links(parts.source(), parts.target(), &gone)
            .await?;
        self.save_flow_progress(driving).await
    }

    async fn link_batch(
        &self,
        parts: &Parts,
        client: &JiraClient,
        batch: Vec<Written>,
        driving: &mut Driving,
    ) -> AppResult<()> {
        let sync = CommentSync {
            store: self.store(),
            client,
            source: parts.source(),
            target: parts.target(),
            at: self.now(),
        };
        // Issues whose comments could not all be copied: their source side is not marked as
        // seen, so the next run sends them again and copies what is missing.
        let mut incomplete = std::collections::HashSet::new();
        for w in &batch {
            if let Some(comments) = &w.comments {
                match sync_comments(&sync, &w.source_id, &w.target_id, comments).await {
                    Ok(done) => {
                        driving.stats.comments_added += done.added;
                        driving.stats.comments_updated += done.updated;
                        driving.stats.comments_adopted += done.adopted;
                        driving.stats.comments_failed += done.failed;
                        if done.failed > 0 {
                            incomplete.insert(w.source_id.clone());
                        }
                    }
                    Err(e) => return Err(e),
                }
            }
        }
        let updated = read_updated(client, batch.iter().map(|w| w.target_id.as_str()))
            .await
            .map_err(jira)?;
        let at = self.now();
        let mut links = Vec::with_capacity(batch.len() * 2);
        for w in batch {
            links.push(SyncLink {
                connection_id: parts.source(),
                issue_id: w.source_id.clone(),
                issue_key: w.source_key.clone(),
                peer_connection_id: parts.target(),
                peer_issue_id: w.target_id.clone(),
                peer_issue_key: w.target_key.clone(),
                seen_updated: w
                    .source_updated
                    .filter(|_| !incomplete.contains(&w.source_id)),
                at,
            });
            links.push(SyncLink {
                connection_id: parts.target(),
                seen_updated: updated.get(&w.target_id).cloned(),
                issue_id: w.target_id,
                issue_key: w.target_key,
                peer_connection_id: parts.source(),
                peer_issue_id: w.source_id,
                peer_issue_key: w.source_key,
                at,
            });
        }
        driving.stats.linked += u64::try_from(links.len() / 2).unwrap_or(u64::MAX);
        self.store().put_sync_links(&links).await?;
        self.save_flow_progress(driving).await
    }

    /// One flow run.
    ///
    /// # Errors
    /// `flow_run_not_found`.
    pub async fn get_flow_run(&self, id: &str) -> AppResult<FlowRunView> {
        let not_found = || AppError::FlowRunNotFound {
            reference: id.to_owned(),
        };
        let uuid = id.trim().parse::<Uuid>().map_err(|_| not_found())?;
        let run = match self.store().get_flow_run(uuid).await {
            Ok(run) => run,
            Err(StoreError::NotFound { .. }) => return Err(not_found()),
            Err(e) => return Err(e.into()),
        };
        let name = self
            .store()
            .get_flow(run.flow_id)
            .await
            .ok()
            .map(|f| f.name);
        Ok(FlowRunView::of(run, name))
    }

    /// The newest runs first: of one flow (by name or id), or of every flow.
    ///
    /// # Errors
    /// `flow_not_found`.
    pub async fn list_flow_runs(
        &self,
        flow: Option<&str>,
        limit: Option<u32>,
    ) -> AppResult<Vec<FlowRunView>> {
        let limit = limit.unwrap_or(50).clamp(1, 1000);
        let (id, names): (Option<Uuid>, HashMap<Uuid, String>) = match flow {
            Some(reference) => {
                let f = self.find_flow(reference).await?;
                (Some(f.id), HashMap::from([(f.id, f.name)]))
            }
            None => (
                None,
                self.store()
                    .list_flows()
                    .await?
                    .into_iter()
                    .map(|f| (f.id, f.name))
                    .collect(),
            ),
        };
        Ok(self
            .store()
            .list_flow_runs(id, limit)
            .await?
            .into_iter()
            .map(|r| {
                let name = names.get(&r.flow_id).cloned();
                FlowRunView::of(r, name)
            })
            .collect())
    }
}

/// The run's prepared input, read along with the import's results (both in input order).
struct Prepared {
    lines: std::io::Lines<BufReader<std::fs::File>>,
    ordinal: u64,
    path: PathBuf,
}

impl Prepared {
    /// The record at `ordinal` (records before it are passed over).
    fn at(&mut self, ordinal: u64) -> AppResult<Option<Map<String, Value>>> {
        let mut record = None;
        while self.ordinal <= ordinal {
            let text = self.lines.next().transpose().map_err(|e| {
                AppError::Io(format!("could not read {}: {e}", self.path.display()))
            })?;
            if self.ordinal == ordinal {
                record = text;
            }
            self.ordinal += 1;
        }
        Ok(record.and_then(|t| serde_json::from_str(&t).ok()))
    }
}

/// What one result line means for the link: `None` for a record not written (skipped,
/// failed); `Some(None)` for a written one that cannot be linked.
fn written(line: &[u8], records: &mut Prepared) -> AppResult<Option<Option<Written>>> {
    let Ok(result) = serde_json::from_slice::<RecordResult>(line) else {
        return Ok(Some(None));
    };
    let created = match result.state {
        RecordState::Created => true,
        RecordState::Updated => false,
        _ => return Ok(None),
    };
    let Some(record) = records.at(result.record)? else {
        return Ok(Some(None));
    };
    let (Some(source_id), Some(source_key)) =
        (issue_id(&record), record.get("key").and_then(Value::as_str))
    else {
        return Ok(Some(None));
    };
    // An update of a linked issue names it by the id the flow gave, and the link knows its
    // key; a created issue's key is the one Jira gave.
    let linked = record.get("_jiralink");
    let text = |name: &str| {
        linked
            .and_then(|l| l.get(name))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    let target_key = if created {
        result.key.clone()
    } else {
        text("targetKey").or(result.key.clone())
    };
    let (Some(target_id), Some(target_key)) = (result.id.or_else(|| text("target")), target_key)
    else {
        return Ok(Some(None));
    };
    Ok(Some(Some(Written {
        source_id,
        source_key: source_key.to_owned(),
        source_updated: updated_of(&record),
        target_id,
        target_key,
        comments: record
            .get("fields")
            .and_then(|f| f.get("comment"))
            .and_then(|c| c.get("comments"))
            .and_then(Value::as_array)
            .cloned(),
    })))
}

/// A run that failed after its export, whose records are to be finished by the next run.
/// The issues a listener's run reads.
fn source_of(record: &FlowRunRecord) -> AppResult<FlowSource> {
    record
        .source
        .clone()
        .map(serde_json::from_value::<FlowSource>)
        .transpose()
        .map_err(|e| AppError::Io(format!("the flow run's source cannot be read: {e}")))
        .map(Option::unwrap_or_default)
}

fn needs_retry(run: &FlowRunRecord) -> bool {
    matches!(run.state, RunState::Failed | RunState::Cancelled)
        && run.export_run_id.is_some()
        && run.phase != "export"
        && run.phase != "done"
}

/// Whether two of Jira's `updated` values name the same instant (the text changes with the
/// account's time zone; the instant does not).
pub(crate) fn same_instant(seen: &str, now: Option<&str>) -> bool {
    let Some(now) = now else {
        return false;
    };
    match (parse_jira_time(seen), parse_jira_time(now)) {
        (Some(a), Some(b)) => a == b,
        _ => seen == now,
    }
}

/// Jira's date-time format, `2026-01-05T09:30:00.000+0000` (RFC 3339 accepted too).
fn parse_jira_time(text: &str) -> Option<OffsetDateTime> {
    const JIRA: &[time::format_description::BorrowedFormatItem<'static>] = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond][offset_hour sign:mandatory][offset_minute]"
    );
    OffsetDateTime::parse(text, JIRA)
        .or_else(|_| OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339))
        .ok()
}

/// An issue record's id.
fn issue_id(record: &Map<String, Value>) -> Option<String> {
    match record.get("id") {
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    }
}

/// An issue record's `fields.updated`, as Jira wrote it.
fn updated_of(record: &Map<String, Value>) -> Option<String> {
    record
        .get("fields")
        .and_then(|f| f.get("updated"))
        .and_then(Value::as_str)
        .map(str::to_owned)
}

/// The `updated` of each issue (by id), as Jira has it now: fetched by id (`issue/bulkfetch`,
/// up to 100 at a time), which no search index lag can hide.
pub(crate) async fn read_updated<'a>(
    client: &JiraClient,
    ids: impl Iterator<Item = &'a str>,
) -> Result<HashMap<String, String>, jiralink_atlassian::AtlassianError> {
    let ids: Vec<String> = ids.map(str::to_owned).collect();
    let mut out = HashMap::new();
    for chunk in ids.chunks(100) {
        let request = BulkFetchRequest {
            issue_ids_or_keys: chunk.to_vec(),
            fields: vec!["updated".into()],
            ..BulkFetchRequest::default()
        };
        for issue in client.issue_bulkfetch(&request).await?.issues {
            if let Some(updated) = issue.fields.get("updated").and_then(Value::as_str) {
                out.insert(issue.id.clone(), updated.to_owned());
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::same_instant;

    #[test]
    fn updated_values_compare_as_instants() {
        assert!(same_instant(
            "2026-01-05T09:30:00.000+0000",
            Some("2026-01-05T10:30:00.000+0100")
        ));
        assert!(!same_instant(
            "2026-01-05T09:30:00.000+0000",
            Some("2026-01-05T09:30:00.001+0000")
        ));
        assert!(!same_instant("2026-01-05T09:30:00.000+0000", None));
        assert!(same_instant("not a time", Some("not a time")));
    }
}
