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

mod definitions;
mod jobs;

pub(crate) use definitions::ledger_scope;
pub use definitions::{ImportDraft, ImportView};
pub(crate) use jobs::RUN_JOB;

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
    /// A saved import: the file it reads when a run names none (on the machine that runs it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<PathBuf>,
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
    /// The output of an export run (its id), in the export's format: records out of one Jira
    /// into another, or back into the same one.
    ExportRun(String),
}

impl ImportSource {
    fn format(&self, given: Option<InputFormat>) -> AppResult<InputFormat> {
        if let Some(f) = given {
            return Ok(f);
        }
        let name = match self {
            Self::File(p) => p.file_name().map(|n| n.to_string_lossy().into_owned()),
            Self::Bytes { name, .. } => Some(name.clone()),
            Self::Stdin | Self::ExportRun(_) => None,
        };
        name.as_deref()
            .and_then(InputFormat::from_file_name)
            .ok_or_else(|| {
                AppError::InvalidInput(
                    "say how the input is written: --format ndjson, json or csv".to_owned(),
                )
            })
    }

    fn open(self) -> AppResult<Box<dyn BufRead + Send + Sync>> {
        Ok(match self {
            Self::File(path) => {
                let file = std::fs::File::open(&path).map_err(|e| {
                    AppError::InvalidInput(format!("could not open {}: {e}", path.display()))
                })?;
                Box::new(std::io::BufReader::with_capacity(256 * 1024, file))
            }
            Self::Stdin => Box::new(std::io::BufReader::new(std::io::stdin())),
            Self::Bytes { data, .. } => Box::new(std::io::Cursor::new(data)),
            Self::ExportRun(run) => {
                return Err(AppError::Io(format!(
                    "the output of run {run} was not fetched before reading"
                )));
            }
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
    /// The directory the mapping's `attachments` are named relative to (on this machine);
    /// a mapping with attachments is refused without one.
    pub attachment_dir: Option<PathBuf>,
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
    /// Why a run was skipped (e.g. its connection was offline when its schedule came).
    pub reason: Option<String>,
    /// Bytes of results written.
    pub results_bytes: u64,
    /// The results file, when one was written (on the machine that ran the import).
    pub results_file: Option<String>,
    /// How the results are written (the run's output, and its results file).
    pub results_format: ResultsFormat,
    /// The file the run read, when it read one (on the machine that ran the import).
    pub input_file: Option<String>,
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
            reason: r.reason,
            results_bytes: r.output_bytes,
            results_file: r.output_file,
            results_format: r
                .spec
                .get("resultsFormat")
                .and_then(|f| serde_json::from_value(f.clone()).ok())
                .unwrap_or_default(),
            input_file: r
                .spec
                .get(INPUT_KEY)
                .and_then(serde_json::Value::as_str)
                .map(str::to_owned),
            resumed: r.resumed,
        }
    }
}

/// Where a run's records come from.
pub(crate) struct Input {
    pub(crate) source: ImportSource,
    pub(crate) format: InputFormat,
    /// Where attachments named by the records are read from.
    pub(crate) attachment_dir: Option<PathBuf>,
}

/// The key of the input file's path in a run's frozen spec.
pub(crate) const INPUT_KEY: &str = "inputFile";

/// The input file a run's frozen spec names (`None`: the run read standard input).
pub(crate) fn input_of(spec: &serde_json::Value) -> Option<PathBuf> {
    spec.get(INPUT_KEY)
        .and_then(serde_json::Value::as_str)
        .map(PathBuf::from)
}

/// The connection, client and mapping of an import, checked.
pub(crate) struct Ready {
    pub(crate) connection: Connection,
    client: JiraClient,
    mapping: Mapping,
    /// Account ids by e-mail, shared by the runs of this process.
    cache: Mutex<HashMap<String, Option<String>>>,
}

impl Ready {
    fn users(&self) -> ClientUsers<'_> {
        ClientUsers {
            client: &self.client,
            cache: &self.cache,
        }
    }
}

fn search_lag(spec: &ImportSpec) -> Duration {
    spec.search_lag_secs
        .map_or(DEFAULT_SEARCH_LAG, Duration::from_secs)
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
    cache: &'a Mutex<HashMap<String, Option<String>>>,
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
    /// The connection, its client and the mapping of an import, checked against Jira before
    /// anything is recorded or sent.
    pub(crate) async fn prepare_import(
        &self,
        connection: &str,
        spec: &ImportSpec,
    ) -> AppResult<Ready> {
        let mapping = spec.parse_mapping()?;
        let connection = self.usable_connection(connection).await?;
        let client = self
            .client_for(
                &connection.settings,
                Some(&connection),
                CredentialSource::Stored,
                Purpose::Requests,
            )
            .await?;
        let ready = Ready {
            connection,
            client,
            mapping,
            cache: Mutex::new(HashMap::new()),
        };
        if let Err(e) =
            jiralink_sync::import::check_mapping(&ready.client, &ready.mapping, &ready.users())
                .await
        {
            return Err(self.import_setup_error(&ready.connection, e).await);
        }
        Ok(ready)
    }

    /// Imports once without saving a definition (`jiralink import issues …`). The mapping is
    /// checked against Jira before anything is recorded or sent. A dry run records nothing
    /// and writes each record's request to the results.
    ///
    /// # Errors
    /// `validation_failed` for a mapping or input that cannot be used (nothing was sent);
    /// `connection_offline`; `import_failed` when the run failed (recorded as failed).
    pub async fn run_adhoc_import(
        &self,
        mut request: ImportRequest,
        progress: &dyn ImportProgress,
    ) -> AppResult<ImportRunView> {
        let fetched = match &request.source {
            ImportSource::ExportRun(run) => {
                let (path, format) = self.fetch_export_output(run).await?;
                request.source = ImportSource::File(path.clone());
                request.spec.format = Some(format);
                Some(path)
            }
            _ => None,
        };
        let result = self.run_adhoc_import_from(request, progress).await;
        // An ad hoc run is never resumed (the ledger covers a new one), so its copy goes.
        if let Some(path) = fetched {
            tokio::fs::remove_file(&path).await.ok();
        }
        result
    }

    /// Writes an export run's output to a file in the data directory (`imports/`), streamed;
    /// answers its path and the import format of the export's output.
    pub(crate) async fn fetch_export_output(&self, run: &str) -> AppResult<(PathBuf, InputFormat)> {
        use futures::StreamExt as _;
        use tokio::io::AsyncWriteExt as _;
        let export_run = self.get_run(run).await?;
        let format = match export_run.format.as_str() {
            "csv" => InputFormat::Csv,
            "json-array" => InputFormat::Json,
            _ => InputFormat::Ndjson,
        };
        let dir = self.data_dir().join("imports");
        tokio::fs::create_dir_all(&dir)
            .await
            .map_err(|e| AppError::Io(format!("could not create {}: {e}", dir.display())))?;
        let path = dir.join(format!(
            "export-run-{}-{}.input",
            export_run.id,
            Uuid::new_v4()
        ));
        let mut file = tokio::fs::File::create(&path)
            .await
            .map_err(|e| AppError::Io(format!("could not create {}: {e}", path.display())))?;
        let mut stream = std::pin::pin!(self.run_output(run).await?);
        while let Some(chunk) = stream.next().await {
            file.write_all(&chunk?)
                .await
                .map_err(|e| AppError::Io(format!("could not write {}: {e}", path.display())))?;
        }
        file.sync_all()
            .await
            .map_err(|e| AppError::Io(format!("could not write {}: {e}", path.display())))?;
        Ok((path, format))
    }

    async fn run_adhoc_import_from(
        &self,
        request: ImportRequest,
        progress: &dyn ImportProgress,
    ) -> AppResult<ImportRunView> {
        let format = request.source.format(request.spec.format)?;
        let ready = self
            .prepare_import(&request.connection, &request.spec)
            .await?;
        jiralink_sync::import::check_attachment_dir(
            &ready.mapping.actions,
            request.attachment_dir.as_deref(),
        )
        .map_err(|e| AppError::InvalidInput(invalid_mapping_message(&e)))?;
        let scope = request
            .spec
            .ledger
            .clone()
            .unwrap_or_else(|| ad_hoc_scope(&ready.mapping));
        if request.dry_run {
            return self
                .preview_import(&ready, &request, format, &scope, progress)
                .await;
        }
        let run = self
            .start_import_run(
                &ready.connection,
                None,
                &request.spec,
                None,
                request.trigger,
                &request.results,
            )
            .await?;
        self.drive_import(
            run,
            &ready,
            &request.spec,
            &scope,
            Input {
                source: request.source,
                format,
                attachment_dir: request.attachment_dir.clone(),
            },
            &request.results,
            false,
            progress,
        )
        .await
    }

    async fn preview_import(
        &self,
        ready: &Ready,
        request: &ImportRequest,
        format: InputFormat,
        scope: &str,
        progress: &dyn ImportProgress,
    ) -> AppResult<ImportRunView> {
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
        let ledger = StoreLedger {
            store: self.store(),
            connection: ready.connection.id,
            scope: scope.to_owned(),
        };
        let users = ready.users();
        let started_at = self.now();
        let source = match &request.source {
            ImportSource::File(p) => ImportSource::File(p.clone()),
            ImportSource::Stdin => ImportSource::Stdin,
            ImportSource::Bytes { name, data } => ImportSource::Bytes {
                name: name.clone(),
                data: data.clone(),
            },
            ImportSource::ExportRun(run) => ImportSource::ExportRun(run.clone()),
        };
        let job = ImportJob {
            client: &ready.client,
            mapping: &ready.mapping,
            source: jiralink_sync::import::reader(format, source.open()?),
            ledger: &ledger,
            ledger_scope: scope,
            run_id: "dry-run",
            journal: &journal,
            progress,
            users: &users,
            clock: self.clock(),
            concurrency: usize::from(ready.connection.settings.concurrency_level.get()),
            resume_from: 0,
            stats: ImportStats::default(),
            search_lag: search_lag(&request.spec),
            dry_run: true,
            attachment_dir: request.attachment_dir.clone(),
        };
        let outcome = jiralink_sync::import::run_import(job)
            .await
            .map_err(|e| import_failed(&e, None))?;
        Ok(ImportRunView {
            id: None,
            import_id: None,
            connection_id: ready.connection.id,
            connection_name: Some(ready.connection.settings.name.as_str().to_owned()),
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
            reason: None,
            results_bytes: 0,
            results_file: match &request.results {
                RunOutput::File(p) => Some(p.display().to_string()),
                _ => None,
            },
            results_format: request.spec.results_format,
            input_file: match &request.source {
                ImportSource::File(p) => Some(p.display().to_string()),
                ImportSource::Stdin | ImportSource::Bytes { .. } | ImportSource::ExportRun(_) => {
                    None
                }
            },
            resumed: 0,
        })
    }

    /// Records a new import run held by this process. The spec is frozen with the input's
    /// path, so a resumed run reads the same file.
    pub(crate) async fn start_import_run(
        &self,
        connection: &Connection,
        import_id: Option<Uuid>,
        spec: &ImportSpec,
        input: Option<&std::path::Path>,
        trigger: RunTrigger,
        results: &RunOutput,
    ) -> AppResult<ExportRunRecord> {
        let mut frozen = serde_json::to_value(spec)
            .map_err(|e| AppError::InvalidInput(format!("the import cannot be run: {e}")))?;
        if let Some(path) = input {
            frozen[INPUT_KEY] = serde_json::Value::String(
                std::path::absolute(path)
                    .unwrap_or_else(|_| path.to_path_buf())
                    .display()
                    .to_string(),
            );
        }
        let now = self.now();
        let new = NewExportRun {
            id: Uuid::new_v4(),
            export_id: None,
            kind: RunKind::Import,
            import_id,
            connection_id: connection.id,
            trigger,
            spec: frozen,
            state: RunState::Running,
            reason: None,
            cursor_before: None,
            holder: Some(self.holder().to_owned()),
            lease_until: Some(now + self.export_lease()),
            started_at: now,
            output_file: match results {
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
        Ok(self.store().get_export_run(new.id).await?)
    }

    /// Runs the engine for a run this process holds (new, or taken over to resume from its
    /// last checkpoint), renewing its lease meanwhile, and records how it ended.
    #[allow(clippy::too_many_arguments, reason = "the parts of one run")]
    pub(crate) async fn drive_import(
        &self,
        run: ExportRunRecord,
        ready: &Ready,
        spec: &ImportSpec,
        scope: &str,
        input: Input,
        results: &RunOutput,
        resuming: bool,
        progress: &dyn ImportProgress,
    ) -> AppResult<ImportRunView> {
        let position = run
            .checkpoint
            .as_ref()
            .and_then(|c| c.get("engine"))
            .and_then(|e| e.get("position"))
            .and_then(serde_json::Value::as_u64)
            .filter(|_| resuming)
            .unwrap_or(0);
        let stats: ImportStats = if resuming {
            serde_json::from_value(run.stats.clone()).unwrap_or_default()
        } else {
            ImportStats::default()
        };
        let opened = match input.source.open() {
            Ok(reader) => {
                StoreJournal::open(self.store_arc(), &run, self.holder(), results, resuming)
                    .await
                    .map(|j| (reader, j))
            }
            Err(e) => Err(e),
        };
        let (reader, journal) = match opened {
            Ok(x) => x,
            Err(e) => {
                self.finish_import_run(&run, RunState::Failed, Some(e.to_string()), &stats)
                    .await;
                return Err(e);
            }
        };
        let ledger = StoreLedger {
            store: self.store(),
            connection: ready.connection.id,
            scope: scope.to_owned(),
        };
        let users = ready.users();
        let journal = RunResults {
            journal: &journal,
            progress,
            format: spec.results_format,
            header_written: Mutex::new(position > 0),
        };
        let run_id = run.id.to_string();
        let job = ImportJob {
            client: &ready.client,
            mapping: &ready.mapping,
            source: jiralink_sync::import::reader(input.format, reader),
            ledger: &ledger,
            ledger_scope: scope,
            run_id: &run_id,
            journal: &journal,
            progress,
            users: &users,
            clock: self.clock(),
            concurrency: usize::from(ready.connection.settings.concurrency_level.get()),
            resume_from: position,
            stats,
            search_lag: search_lag(spec),
            dry_run: false,
            attachment_dir: input.attachment_dir.clone(),
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
        self.end_import_run(&run, &ready.connection, result).await
    }

    /// Runs a saved import now, in this process: its interrupted run (its process died and
    /// its lease ran out) is resumed first, from its last checkpoint and with the file it
    /// started with; otherwise a new run reads `file`, or the import's own input file.
    ///
    /// # Errors
    /// `import_running` when a run of it is going on elsewhere; as
    /// [`App::run_adhoc_import`].
    pub async fn run_import(
        &self,
        reference: &str,
        file: Option<PathBuf>,
        results: RunOutput,
        trigger: RunTrigger,
        progress: &dyn ImportProgress,
    ) -> AppResult<ImportRunView> {
        let record = self.find_import(reference).await?;
        let spec: ImportSpec = serde_json::from_value(record.spec.clone()).map_err(|e| {
            AppError::Io(format!(
                "the stored import cannot be read ({e}); save it again"
            ))
        })?;
        let scope = definitions::ledger_scope(&record, &spec);
        let now = self.now();
        let runs = self
            .store()
            .list_export_runs(&RunFilter {
                export_id: None,
                import_id: Some(record.id),
                kind: Some(RunKind::Import),
                connection_id: None,
                state: None,
                limit: 10,
            })
            .await?;
        let running = runs.iter().find(|r| r.state == RunState::Running);
        if let Some(run) = running {
            let expired = run.lease_until.is_none_or(|until| until <= now);
            let taken = if expired {
                self.store()
                    .take_over_export_run(run.id, self.holder(), now, now + self.export_lease())
                    .await?
            } else {
                None
            };
            let Some(taken) = taken else {
                return Err(AppError::ImportRunning {
                    name: record.name.clone(),
                    run: run.id.to_string(),
                    started: crate::format_time(run.started_at),
                });
            };
            let frozen: ImportSpec = serde_json::from_value(taken.spec.clone()).unwrap_or(spec);
            let path = input_of(&taken.spec);
            let Some(path) = path else {
                self.end_orphaned_import_run(&taken).await;
                return Err(AppError::InvalidInput(
                    "the interrupted run read standard input, which cannot be read again; run \
                     the import again"
                        .to_owned(),
                ));
            };
            tracing::info!(import = %record.id, run = %taken.id, "resuming an interrupted import run");
            let source = ImportSource::File(path);
            let format = source.format(frozen.format)?;
            let ready = self
                .prepare_import(&record.connection_id.to_string(), &frozen)
                .await?;
            let output = match &taken.output_file {
                Some(f) => RunOutput::File(PathBuf::from(f)),
                None => RunOutput::Store,
            };
            return self
                .drive_import(
                    taken,
                    &ready,
                    &frozen,
                    &scope,
                    Input {
                        source,
                        format,
                        attachment_dir: None,
                    },
                    &output,
                    true,
                    progress,
                )
                .await;
        }
        let Some(path) = file.or_else(|| spec.input.clone()) else {
            return Err(AppError::InvalidInput(format!(
                "say which file to import: the import {:?} has no input file of its own",
                record.name
            )));
        };
        let source = ImportSource::File(path.clone());
        let format = source.format(spec.format)?;
        let ready = self
            .prepare_import(&record.connection_id.to_string(), &spec)
            .await?;
        jiralink_sync::import::check_attachment_dir(&ready.mapping.actions, None)
            .map_err(|e| AppError::InvalidInput(invalid_mapping_message(&e)))?;
        let run = match self
            .start_import_run(
                &ready.connection,
                Some(record.id),
                &spec,
                Some(&path),
                trigger,
                &results,
            )
            .await
        {
            Ok(run) => run,
            Err(AppError::Store(jiralink_store::StoreError::Conflict { .. })) => {
                return Err(AppError::ImportRunning {
                    name: record.name.clone(),
                    run: String::new(),
                    started: "just now".to_owned(),
                });
            }
            Err(e) => return Err(e),
        };
        self.drive_import(
            run,
            &ready,
            &spec,
            &scope,
            Input {
                source,
                format,
                attachment_dir: None,
            },
            &results,
            false,
            progress,
        )
        .await
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

    pub(crate) async fn finish_import_run(
        &self,
        run: &ExportRunRecord,
        state: RunState,
        error: Option<String>,
        stats: &ImportStats,
    ) {
        let now = self.now();
        let retention = time::Duration::try_from(self.config().exports.output_retention.get())
            .unwrap_or(time::Duration::days(7));
        let told_error = error.clone();
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
                self.run_ended(
                    crate::SubjectKind::Import,
                    run.import_id,
                    run.id,
                    state,
                    stats.failed,
                    told_error.as_deref(),
                )
                .await;
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
        self.list_import_runs_of(None, limit).await
    }

    /// The runs of one import (its id or name), or of all imports and ad hoc ones, newest
    /// first (at most `limit`, default 50).
    ///
    /// # Errors
    /// `import_not_found`; a store failure.
    pub async fn list_import_runs_of(
        &self,
        import: Option<&str>,
        limit: Option<u32>,
    ) -> AppResult<Vec<ImportRunView>> {
        let import_id = match import {
            Some(reference) => Some(self.find_import(reference).await?.id),
            None => None,
        };
        let runs = self
            .store()
            .list_export_runs(&RunFilter {
                export_id: None,
                import_id,
                kind: Some(RunKind::Import),
                connection_id: None,
                state: None,
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

/// The ledger scope of an ad hoc import without `--ledger`: `ad-hoc`, the project the mapping
/// creates in and where the external id is kept, so that imports of the same records into
/// different projects, or with different external ids, are told apart.
fn ad_hoc_scope(mapping: &Mapping) -> String {
    use jiralink_sync::import::ExternalIdTarget;
    let project = mapping
        .project
        .as_ref()
        .and_then(|r| r.constant.as_ref())
        .map_or_else(
            || "*".to_owned(),
            |p| jiralink_sync::import::mapping::text_of(p).to_uppercase(),
        );
    let place = match mapping.external_id.as_ref().map(|x| &x.target) {
        Some(ExternalIdTarget::Field(f)) => format!("field:{f}"),
        Some(ExternalIdTarget::LabelPrefix(p)) => format!("label:{p}"),
        Some(ExternalIdTarget::Property(k)) => format!("property:{k}"),
        None => "record".to_owned(),
    };
    format!("{AD_HOC_LEDGER}:{project}:{place}")
}

/// A mapping problem in words, without the engine's generic prefix.
fn invalid_mapping_message(e: &SyncError) -> String {
    match e {
        SyncError::InvalidSpec(problems) => format!("the mapping cannot be used here: {problems}"),
        other => other.to_string(),
    }
}

fn import_failed(e: &SyncError, run: Option<Uuid>) -> AppError {
    AppError::ImportFailed {
        code: e.code(),
        message: e.to_string(),
        run: run.map(|r| r.to_string()),
    }
}
