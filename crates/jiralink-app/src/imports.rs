//! Imports: records from a file (or standard input) into Jira through a connection.
//!
//! The engine (`jiralink-sync`'s `import`) reads, maps, converts and writes; this module
//! records each run (an import run, kept with export runs: the same lease, checkpoints and
//! output chunks, the output being the run's results) and gives the engine the ledger over the
//! store, so a re-run or a resumed run creates nothing twice.

use std::collections::HashMap;
use std::io::BufRead;
use std::path::PathBuf;
use std::pin::pin;
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use jiralink_atlassian::JiraClient;
use jiralink_domain::{Connection, ConnectionId};
use jiralink_store::{
    ExportRunRecord, LedgerRow, NewExportRun, RunFilter, RunFinish, RunKind, RunState, RunTrigger,
    Store,
};
use jiralink_sync::SyncError;
use jiralink_sync::import::{
    ImportJob, ImportJournal, ImportLedger, ImportProgress, ImportStats, InputFormat, LedgerEntry,
    LedgerState, Mapping, RecordResult, ResultsFormat, UserDirectory, encode_results,
};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::client::{CredentialSource, Purpose};
use crate::exports::RunOutput;
use crate::exports::journal::StoreJournal;
use crate::{App, AppError, AppResult};

/// How long Jira's search may lag behind a write unless told otherwise: an uncertain create is
/// taken as not done only when a search this long after it finds nothing.
pub const DEFAULT_SEARCH_LAG: Duration = Duration::from_secs(30);

/// The ledger scope of ad hoc imports without `--ledger`.
pub const AD_HOC_LEDGER: &str = "ad-hoc";

/// What an import does, frozen in each run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImportSpec {
    /// The mapping file's text (TOML).
    pub mapping: String,
    /// How the input is written; `None`: from the file name.
    #[serde(default)]
    pub format: Option<InputFormat>,
    /// How results are written.
    #[serde(default)]
    pub results_format: ResultsFormat,
    /// The ledger scope: imports sharing one never create an issue twice for one record.
    #[serde(default)]
    pub ledger: Option<String>,
    /// Seconds Jira's search may lag behind a write (default 30).
    #[serde(default)]
    pub search_lag_secs: Option<u64>,
}

impl ImportSpec {
    /// The mapping, parsed and checked without Jira.
    ///
    /// # Errors
    /// `InvalidInput` listing every problem.
    pub fn parse_mapping(&self) -> AppResult<Mapping> {
        Mapping::from_toml(&self.mapping).map_err(|problems| {
            AppError::InvalidInput(format!("the mapping is not valid: {}", problems.join("; ")))
        })
    }
}

/// Where an import's records come from.
#[derive(Debug)]
pub enum ImportSource {
    /// A file on this machine.
    File(PathBuf),
    /// Standard input.
    Stdin,
    /// Bytes at hand (an upload).
    Bytes {
        /// For the format, when not given.
        name: String,
        data: Vec<u8>,
    },
}

impl ImportSource {
    fn describe(&self) -> String {
        match self {
            Self::File(p) => p.display().to_string(),
            Self::Stdin => "standard input".to_owned(),
            Self::Bytes { name, .. } => name.clone(),
        }
    }

    fn format(&self, given: Option<InputFormat>) -> AppResult<InputFormat> {
        if let Some(f) = given {
            return Ok(f);
        }
        let name = match self {
            Self::File(p) => p.file_name().map(|n| n.to_string_lossy().into_owned()),
            Self::Bytes { name, .. } => Some(name.clone()),
            Self::Stdin => None,
        };
        name.as_deref()
            .and_then(InputFormat::from_file_name)
            .ok_or_else(|| {
                AppError::InvalidInput(
                    "say how the input is written: --format ndjson, json or csv".to_owned(),
                )
            })
    }

    fn open(self) -> AppResult<Box<dyn BufRead + Send>> {
        Ok(match self {
            Self::File(path) => {
                let file = std::fs::File::open(&path).map_err(|e| {
                    AppError::InvalidInput(format!("could not open {}: {e}", path.display()))
                })?;
                Box::new(std::io::BufReader::with_capacity(256 * 1024, file))
            }
            Self::Stdin => Box::new(std::io::BufReader::new(std::io::stdin())),
            Self::Bytes { data, .. } => Box::new(std::io::Cursor::new(data)),
        })
    }
}

/// One ad hoc import.
#[derive(Debug)]
pub struct ImportRequest {
    /// The connection's name or id.
    pub connection: String,
    pub spec: ImportSpec,
    pub source: ImportSource,
    /// Where results go besides the run record (a dry run keeps none).
    pub results: RunOutput,
    /// Convert and look up only: print each record's request, write nothing.
    pub dry_run: bool,
    pub trigger: RunTrigger,
}

/// One import run as users see it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ImportRunView {
    /// `None` for a dry run (nothing is recorded).
    pub id: Option<Uuid>,
    pub import_id: Option<Uuid>,
    pub connection_id: ConnectionId,
    pub connection_name: Option<String>,
    pub trigger: RunTrigger,
    pub state: RunState,
    pub dry_run: bool,
    #[serde(with = "time::serde::rfc3339")]
    pub started_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub finished_at: Option<OffsetDateTime>,
    pub stats: ImportStats,
    pub error: Option<String>,
    /// Bytes of results written.
    pub results_bytes: u64,
    /// The results file, when one was written (on the machine that ran the import).
    pub results_file: Option<String>,
    pub resumed: u32,
}

impl ImportRunView {
    fn of(r: ExportRunRecord, connection_name: Option<String>) -> Self {
        Self {
            id: Some(r.id),
            import_id: r.import_id,
            connection_id: r.connection_id,
            connection_name,
            trigger: r.trigger,
            state: r.state,
            dry_run: false,
            started_at: r.started_at,
            finished_at: r.finished_at,
            stats: serde_json::from_value(r.stats).unwrap_or_default(),
            error: r.error,
            results_bytes: r.output_bytes,
            results_file: r.output_file,
            resumed: r.resumed,
        }
    }
}

/// The ledger of one connection and scope, over the store.
struct StoreLedger<'a> {
    store: &'a dyn Store,
    connection: ConnectionId,
    scope: String,
}

fn ledger_error(e: &jiralink_store::StoreError) -> SyncError {
    SyncError::Journal(format!("the import ledger could not be used: {e}"))
}

#[async_trait]
impl ImportLedger for StoreLedger<'_> {
    async fn get(&self, identities: &[String]) -> Result<HashMap<String, LedgerEntry>, SyncError> {
        let rows = self
            .store
            .ledger_get(self.connection, &self.scope, identities)
            .await
            .map_err(|e| ledger_error(&e))?;
        Ok(rows
            .into_iter()
            .map(|(identity, r)| {
                let state = if r.state == "done" {
                    LedgerState::Done
                } else {
                    LedgerState::Uncertain
                };
                (
                    identity,
                    LedgerEntry {
                        state,
                        issue_key: r.issue_key,
                        issue_id: r.issue_id,
                        run_id: r.run_id,
                        at_ms: r.at_ms,
                    },
                )
            })
            .collect())
    }

    async fn put(&self, entries: &[(String, LedgerEntry)]) -> Result<(), SyncError> {
        let rows: Vec<(String, LedgerRow)> = entries
            .iter()
            .map(|(identity, e)| {
                (
                    identity.clone(),
                    LedgerRow {
                        state: match e.state {
                            LedgerState::Done => "done",
                            LedgerState::Uncertain => "uncertain",
                        }
                        .to_owned(),
                        issue_key: e.issue_key.clone(),
                        issue_id: e.issue_id.clone(),
                        run_id: e.run_id.clone(),
                        at_ms: e.at_ms,
                    },
                )
            })
            .collect();
        self.store
            .ledger_put(self.connection, &self.scope, &rows)
            .await
            .map_err(|e| ledger_error(&e))
    }

    async fn remove(&self, identities: &[String]) -> Result<(), SyncError> {
        self.store
            .ledger_remove(self.connection, &self.scope, identities)
            .await
            .map_err(|e| ledger_error(&e))
    }
}

/// Users by e-mail through the connection, each address asked once per run.
struct ClientUsers<'a> {
    client: &'a JiraClient,
    cache: Mutex<HashMap<String, Option<String>>>,
}

#[async_trait]
impl UserDirectory for ClientUsers<'_> {
    async fn account_id(&self, email: &str) -> Result<Option<String>, String> {
        let key = email.to_lowercase();
        if let Some(found) = self
            .cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&key)
        {
            return Ok(found.clone());
        }
        let users = self
            .client
            .users_find(email)
            .await
            .map_err(|e| format!("could not look the user up: {e}"))?;
        let found = users
            .into_iter()
            .find(|u| {
                u.active.unwrap_or(true)
                    && u.email_address
                        .as_deref()
                        .is_some_and(|a| a.eq_ignore_ascii_case(email))
            })
            .map(|u| u.account_id);
        self.cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(key, found.clone());
        Ok(found)
    }
}

/// The journal of a recorded run: results as the run's output, the position as its
/// checkpoint; stopped by a cancel request or the watcher.
struct RunResults<'a> {
    journal: &'a StoreJournal,
    progress: &'a dyn ImportProgress,
    format: ResultsFormat,
    header_written: Mutex<bool>,
}

#[async_trait]
impl ImportJournal for RunResults<'_> {
    async fn checkpoint(
        &self,
        results: &[RecordResult],
        position: u64,
        stats: &ImportStats,
    ) -> Result<(), SyncError> {
        let header = !*self
            .header_written
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let bytes = encode_results(results, self.format, header)?;
        let stats = serde_json::to_value(stats)
            .map_err(|e| SyncError::Journal(format!("the statistics could not be encoded: {e}")))?;
        self.journal
            .save(&bytes, serde_json::json!({ "position": position }), stats)
            .await?;
        *self
            .header_written
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = true;
        Ok(())
    }

    async fn cancel_requested(&self) -> bool {
        self.progress.stop_requested() || self.journal.cancel_asked().await
    }
}

/// The journal of a dry run: results to a file or standard output only.
struct PreviewResults<'a> {
    progress: &'a dyn ImportProgress,
    out: tokio::sync::Mutex<Box<dyn tokio::io::AsyncWrite + Send + Unpin>>,
    format: ResultsFormat,
    header_written: Mutex<bool>,
}

#[async_trait]
impl ImportJournal for PreviewResults<'_> {
    async fn checkpoint(
        &self,
        results: &[RecordResult],
        _position: u64,
        _stats: &ImportStats,
    ) -> Result<(), SyncError> {
        use tokio::io::AsyncWriteExt;
        let header = {
            let mut written = self
                .header_written
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            !std::mem::replace(&mut *written, true)
        };
        let bytes = encode_results(results, self.format, header)?;
        let mut out = self.out.lock().await;
        let io = |e: std::io::Error| {
            SyncError::Journal(format!("the results could not be written: {e}"))
        };
        out.write_all(&bytes).await.map_err(io)?;
        out.flush().await.map_err(io)
    }

    async fn cancel_requested(&self) -> bool {
        self.progress.stop_requested()
    }
}

impl App {
    /// Imports once without saving a definition (`jiralink import issues …`). The mapping is
    /// checked against Jira before anything is recorded or sent. A dry run records nothing
    /// and writes each record's request to the results.
    ///
    /// # Errors
    /// `validation_failed` for a mapping or input that cannot be used (nothing was sent);
    /// `connection_offline`; `import_failed` when the run failed (recorded as failed).
    pub async fn run_adhoc_import(
        &self,
        request: ImportRequest,
        progress: &dyn ImportProgress,
    ) -> AppResult<ImportRunView> {
        let mapping = request.spec.parse_mapping()?;
        let format = request.source.format(request.spec.format)?;
        let connection = self.usable_connection(&request.connection).await?;
        let client = self
            .client_for(
                &connection.settings,
                Some(&connection),
                CredentialSource::Stored,
                Purpose::Requests,
            )
            .await?;
        let users = ClientUsers {
            client: &client,
            cache: Mutex::new(HashMap::new()),
        };
        if let Err(e) = jiralink_sync::import::check_mapping(&client, &mapping, &users).await {
            return Err(self.import_setup_error(&connection, e).await);
        }
        let described = request.source.describe();
        let reader = request.source.open()?;
        let records = jiralink_sync::import::reader(format, reader);
        let scope = request
            .spec
            .ledger
            .clone()
            .unwrap_or_else(|| AD_HOC_LEDGER.to_owned());
        let ledger = StoreLedger {
            store: self.store(),
            connection: connection.id,
            scope: scope.clone(),
        };
        let search_lag = request
            .spec
            .search_lag_secs
            .map_or(DEFAULT_SEARCH_LAG, Duration::from_secs);
        tracing::info!(connection = %connection.id, input = %described, dry_run = request.dry_run, "import starting");
        if request.dry_run {
            let out: Box<dyn tokio::io::AsyncWrite + Send + Unpin> = match &request.results {
                RunOutput::File(path) => {
                    Box::new(tokio::fs::File::create(path).await.map_err(|e| {
                        AppError::Io(format!("could not create {}: {e}", path.display()))
                    })?)
                }
                RunOutput::Stdout | RunOutput::Store => Box::new(tokio::io::stdout()),
            };
            let journal = PreviewResults {
                progress,
                out: tokio::sync::Mutex::new(out),
                format: request.spec.results_format,
                header_written: Mutex::new(false),
            };
            let started_at = self.now();
            let job = ImportJob {
                client: &client,
                mapping: &mapping,
                source: records,
                ledger: &ledger,
                ledger_scope: &scope,
                run_id: "dry-run",
                journal: &journal,
                progress,
                users: &users,
                clock: self.clock(),
                concurrency: usize::from(connection.settings.concurrency_level.get()),
                resume_from: 0,
                stats: ImportStats::default(),
                search_lag,
                dry_run: true,
            };
            let outcome = jiralink_sync::import::run_import(job)
                .await
                .map_err(|e| import_failed(&e, None))?;
            return Ok(ImportRunView {
                id: None,
                import_id: None,
                connection_id: connection.id,
                connection_name: Some(connection.settings.name.as_str().to_owned()),
                trigger: request.trigger,
                state: if outcome.cancelled {
                    RunState::Cancelled
                } else {
                    RunState::Succeeded
                },
                dry_run: true,
                started_at,
                finished_at: Some(self.now()),
                stats: outcome.stats,
                error: None,
                results_bytes: 0,
                results_file: match &request.results {
                    RunOutput::File(p) => Some(p.display().to_string()),
                    _ => None,
                },
                resumed: 0,
            });
        }
        let spec = serde_json::to_value(&request.spec)
            .map_err(|e| AppError::InvalidInput(format!("the import cannot be run: {e}")))?;
        let now = self.now();
        let new = NewExportRun {
            id: Uuid::new_v4(),
            export_id: None,
            kind: RunKind::Import,
            import_id: None,
            connection_id: connection.id,
            trigger: request.trigger,
            spec,
            state: RunState::Running,
            reason: None,
            cursor_before: None,
            holder: Some(self.holder().to_owned()),
            lease_until: Some(now + self.export_lease()),
            started_at: now,
            output_file: match &request.results {
                RunOutput::File(p) => Some(
                    std::path::absolute(p)
                        .unwrap_or_else(|_| p.clone())
                        .display()
                        .to_string(),
                ),
                _ => None,
            },
        };
        self.store().start_export_run(&new).await?;
        let run = self.store().get_export_run(new.id).await?;
        let journal = match StoreJournal::open(
            self.store_arc(),
            &run,
            self.holder(),
            &request.results,
            false,
        )
        .await
        {
            Ok(j) => j,
            Err(e) => {
                self.finish_import_run(
                    &run,
                    RunState::Failed,
                    Some(e.to_string()),
                    &ImportStats::default(),
                )
                .await;
                return Err(e);
            }
        };
        let results = RunResults {
            journal: &journal,
            progress,
            format: request.spec.results_format,
            header_written: Mutex::new(false),
        };
        let run_id = run.id.to_string();
        let job = ImportJob {
            client: &client,
            mapping: &mapping,
            source: records,
            ledger: &ledger,
            ledger_scope: &scope,
            run_id: &run_id,
            journal: &results,
            progress,
            users: &users,
            clock: self.clock(),
            concurrency: usize::from(connection.settings.concurrency_level.get()),
            resume_from: 0,
            stats: ImportStats::default(),
            search_lag,
            dry_run: false,
        };
        let engine = pin!(jiralink_sync::import::run_import(job));
        let lease = pin!(self.keep_run_lease(run.id));
        let result = tokio::select! {
            result = engine => result,
            () = lease => return Err(AppError::ImportFailed {
                code: "lease_lost",
                message: "another process took the run over while this one was paused past its lease".to_owned(),
                run: Some(run.id.to_string()),
            }),
        };
        self.end_import_run(&run, &connection, result).await
    }

    /// Records how a run ended and answers its view.
    async fn end_import_run(
        &self,
        run: &ExportRunRecord,
        connection: &Connection,
        result: Result<jiralink_sync::import::ImportOutcome, SyncError>,
    ) -> AppResult<ImportRunView> {
        match result {
            Ok(outcome) => {
                let state = if outcome.cancelled {
                    RunState::Cancelled
                } else {
                    RunState::Succeeded
                };
                self.finish_import_run(run, state, None, &outcome.stats)
                    .await;
            }
            Err(e) => {
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
                let state = if matches!(e, SyncError::Cancelled) {
                    RunState::Cancelled
                } else {
                    RunState::Failed
                };
                self.finish_import_run(run, state, Some(e.to_string()), &stats)
                    .await;
                if state == RunState::Failed {
                    return Err(import_failed(&e, Some(run.id)));
                }
            }
        }
        self.get_import_run(&run.id.to_string()).await
    }

    async fn finish_import_run(
        &self,
        run: &ExportRunRecord,
        state: RunState,
        error: Option<String>,
        stats: &ImportStats,
    ) {
        let now = self.now();
        let retention = time::Duration::try_from(self.config().exports.output_retention.get())
            .unwrap_or(time::Duration::days(7));
        let finish = RunFinish {
            state,
            error,
            stats: serde_json::to_value(stats).unwrap_or_default(),
            tail: Vec::new(),
            cursor_after: None,
            known_ids: None,
            finished_at: now,
            output_expires_at: Some(now + retention),
        };
        match self
            .store()
            .finish_export_run(run.id, self.holder(), &finish)
            .await
        {
            Ok(true) => {
                metrics::counter!("jiralink_import_runs_total", "state" => state.as_str())
                    .increment(1);
            }
            Ok(false) => tracing::warn!(run = %run.id, "another process took the import run over"),
            Err(e) => {
                tracing::warn!(run = %run.id, error = %e, "an import run's end could not be recorded")
            }
        }
    }

    /// Ends an ad hoc import run whose process died (taken over by this process), keeping
    /// its counts.
    pub(crate) async fn end_orphaned_import_run(&self, run: &ExportRunRecord) {
        let stats: ImportStats = serde_json::from_value(run.stats.clone()).unwrap_or_default();
        self.finish_import_run(
            run,
            RunState::Failed,
            Some(
                "the process running this import stopped; run it again: the import ledger \
                 makes sure no record is created twice"
                    .to_owned(),
            ),
            &stats,
        )
        .await;
    }

    /// A problem found before anything was sent: the mapping does not fit Jira, or Jira
    /// could not be asked.
    async fn import_setup_error(&self, connection: &Connection, e: SyncError) -> AppError {
        match e {
            SyncError::InvalidSpec(problems) => AppError::InvalidInput(format!(
                "the mapping does not fit Jira (nothing was sent): {problems}"
            )),
            SyncError::Jira(jira) => {
                self.note_request_failure(connection.id, &jira).await.ok();
                import_failed(&SyncError::Jira(jira), None)
            }
            other => import_failed(&other, None),
        }
    }

    /// One import run.
    ///
    /// # Errors
    /// `run_not_found`.
    pub async fn get_import_run(&self, id: &str) -> AppResult<ImportRunView> {
        let not_found = || AppError::RunNotFound {
            reference: id.to_owned(),
        };
        let uuid = Uuid::parse_str(id.trim()).map_err(|_| not_found())?;
        let run = match self.store().get_export_run(uuid).await {
            Ok(r) if r.kind == RunKind::Import => r,
            Ok(_) | Err(jiralink_store::StoreError::NotFound { .. }) => return Err(not_found()),
            Err(e) => return Err(e.into()),
        };
        let name = self
            .store()
            .get_connection(run.connection_id)
            .await
            .ok()
            .map(|c| c.settings.name.as_str().to_owned());
        Ok(ImportRunView::of(run, name))
    }

    /// Import runs, newest first (at most `limit`, default 50).
    ///
    /// # Errors
    /// A store failure.
    pub async fn list_import_runs(&self, limit: Option<u32>) -> AppResult<Vec<ImportRunView>> {
        let runs = self
            .store()
            .list_export_runs(&RunFilter {
                export_id: None,
                import_id: None,
                kind: Some(RunKind::Import),
                connection_id: None,
                limit: limit.unwrap_or(50).clamp(1, 1000),
            })
            .await?;
        let names: HashMap<ConnectionId, String> = self
            .store()
            .list_connections()
            .await?
            .into_iter()
            .map(|c| (c.id, c.settings.name.as_str().to_owned()))
            .collect();
        Ok(runs
            .into_iter()
            .map(|r| {
                let name = names.get(&r.connection_id).cloned();
                ImportRunView::of(r, name)
            })
            .collect())
    }
}

fn import_failed(e: &SyncError, run: Option<Uuid>) -> AppError {
    AppError::ImportFailed {
        code: e.code(),
        message: e.to_string(),
        run: run.map(|r| r.to_string()),
    }
}
