//! `/v1/imports` (saved import definitions, and running them with records sent in the
//! request) and `/v1/import-runs` (their runs, and the ad hoc ones the CLI recorded), with the
//! download of a run's results.
//!
//! **A run runs inside the request.** `POST /v1/imports/{id}/run` answers when the run has
//! ended, with its view and counts. The records sent are first written to a file in the data
//! directory (`<data dir>/imports/uploads/`, readable by the server's user only) and the run
//! reads that file, so:
//! - the run itself is a task of its own: a client that hangs up does not stop it half-way
//!   (it ends as it would have, and shows in `/v1/import-runs`);
//! - a graceful stop of the server lets it finish (open requests are waited for);
//! - a server that dies mid-run leaves the run `running` with the upload in place, and the
//!   next run of the import resumes it — from its last checkpoint, with the same file — once
//!   its lease has run out, as `jiralink import run` does; the ledger makes sure no record is
//!   created twice either way.
//!
//! The upload is deleted once its run has ended. A dry run reads the same way and answers each
//! record's would-be request as NDJSON; it records nothing and writes nothing to Jira.

use std::path::{Component, Path, PathBuf};

use axum::body::{Body, HttpBody};
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use jiralink_app::{
    Actor, AppError, ImportDraft, ImportRequest, ImportRunView, ImportSource, ImportSpec,
    InputFormat, NoImportProgress, ResultsFormat, RunOutput, RunState, RunTrigger, Schedule,
};
use serde::{Deserialize, Serialize};

use super::exports::{DEFAULT_RUNS_LIMIT, MAX_RUNS_LIMIT, download_name};
use super::{ApiJson, ApiPath, required_version};
use crate::error::{WebError, WebResult};
use crate::{AppState, MAX_RECORDS_BYTES};

/// Where uploaded records are kept while their run lasts, under the data directory.
const UPLOADS_DIR: &str = "imports/uploads";
/// Where the input files that imports saved through the API read live, under the data
/// directory: `spec.input` names a file in it.
pub(crate) const FILES_DIR: &str = "imports/files";
/// The most seconds `spec.searchLagSecs` takes.
const MAX_SEARCH_LAG_SECS: u64 = 3600;

/// An import definition as sent by a client.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct ImportBody {
    #[serde(default)]
    name: String,
    /// The connection's id or name.
    #[serde(default)]
    connection: String,
    /// Read by [`spec_of`], which refuses unknown fields as the rest of the body does.
    spec: serde_json::Value,
    /// When the worker runs it (with its own input file, `spec.input`).
    #[serde(default)]
    schedule: Option<Schedule>,
    /// Whether the schedule runs it (default true).
    #[serde(default = "enabled_by_default")]
    enabled: bool,
    /// Replace only: the version the change was made from.
    version: Option<u64>,
}

fn enabled_by_default() -> bool {
    true
}

/// The fields of `spec` (camelCase, as in JSON).
const SPEC_FIELDS: &[&str] = &[
    "mapping",
    "format",
    "resultsFormat",
    "ledger",
    "searchLagSecs",
    "input",
];

/// `spec` as sent, once its fields are known to be ours.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SpecBody {
    mapping: String,
    #[serde(default)]
    format: Option<InputFormat>,
    #[serde(default)]
    results_format: Option<ResultsFormat>,
    #[serde(default)]
    ledger: Option<String>,
    #[serde(default)]
    search_lag_secs: Option<u64>,
    #[serde(default)]
    input: Option<String>,
}

/// Reads `spec`: unknown fields are refused (a misspelt option must not be ignored
/// silently), and no error repeats a value sent. `input` is resolved by [`input_path`].
fn spec_of(value: serde_json::Value) -> WebResult<(ImportSpec, Option<String>)> {
    let Some(object) = value.as_object() else {
        return Err(WebError::InvalidJson(
            "spec: it must be an object such as {\"mapping\": \"operation = …\"}".to_owned(),
        ));
    };
    if object.keys().any(|k| !SPEC_FIELDS.contains(&k.as_str())) {
        return Err(WebError::UnknownField(
            SPEC_FIELDS
                .iter()
                .map(|f| format!("spec.{f}"))
                .collect::<Vec<_>>()
                .join(", "),
        ));
    }
    let is = |key: &str, ok: fn(&serde_json::Value) -> bool| {
        object.get(key).is_none_or(|v| v.is_null() || ok(v))
    };
    let checks: [(&str, bool, &str); 6] = [
        (
            "mapping",
            object
                .get("mapping")
                .is_some_and(serde_json::Value::is_string),
            "the mapping file's text (TOML) is required, as a string",
        ),
        (
            "format",
            is("format", |v| {
                matches!(v.as_str(), Some("ndjson" | "json" | "csv"))
            }),
            "choose ndjson, json or csv (or leave it out: the run's Content-Type or the input \
             file's name says)",
        ),
        (
            "resultsFormat",
            is("resultsFormat", |v| {
                matches!(v.as_str(), Some("ndjson" | "csv"))
            }),
            "choose ndjson or csv",
        ),
        (
            "ledger",
            is("ledger", serde_json::Value::is_string),
            "the name of a shared ledger, as a string",
        ),
        (
            "searchLagSecs",
            is("searchLagSecs", |v| {
                v.as_u64().is_some_and(|n| n <= MAX_SEARCH_LAG_SECS)
            }),
            "a whole number of seconds from 0 to 3600",
        ),
        (
            "input",
            is("input", serde_json::Value::is_string),
            "the name of a file in the server's import files directory, as a string",
        ),
    ];
    if let Some((field, _, rule)) = checks.iter().find(|(_, ok, _)| !ok) {
        return Err(WebError::InvalidJson(format!("spec.{field}: {rule}")));
    }
    let body: SpecBody = serde_json::from_value(value).map_err(|_| {
        WebError::InvalidJson(
            "spec: a value has the wrong type or form (values are not repeated here); see the \
             ImportSpec schema"
                .to_owned(),
        )
    })?;
    Ok((
        ImportSpec {
            mapping: body.mapping,
            format: body.format,
            results_format: body.results_format.unwrap_or_default(),
            ledger: body.ledger,
            search_lag_secs: body.search_lag_secs,
            input: None,
        },
        body.input,
    ))
}

/// The file `spec.input` names: a file in `<data dir>/imports/files/`, by its name (or a path
/// below that directory), so a key holder cannot make the server read any other file. An
/// import keeps an input set elsewhere (by `jiralink import create --input`) when a replace
/// sends it back unchanged.
fn input_path(
    s: &AppState,
    input: Option<String>,
    current: Option<&Path>,
) -> WebResult<Option<PathBuf>> {
    let Some(input) = input.filter(|i| !i.trim().is_empty()) else {
        return Ok(None);
    };
    let sent = PathBuf::from(input.trim());
    if current.is_some_and(|c| c == sent) {
        return Ok(Some(sent));
    }
    let dir = absolute(&s.app().data_dir().join(FILES_DIR));
    let relative = sent.strip_prefix(&dir).unwrap_or(&sent);
    let plain = relative.components().count() > 0
        && relative
            .components()
            .all(|c| matches!(c, Component::Normal(_)));
    if !plain {
        return Err(AppError::InvalidInput(format!(
            "spec.input: name a file in the server's import files directory ({}), without \
             `..`; through the API an import reads no other file",
            dir.display()
        ))
        .into());
    }
    Ok(Some(dir.join(relative)))
}

impl ImportBody {
    fn into_draft(
        self,
        s: &AppState,
        current: Option<&Path>,
    ) -> WebResult<(ImportDraft, Option<u64>)> {
        let (mut spec, input) = spec_of(self.spec)?;
        spec.input = input_path(s, input, current)?;
        Ok((
            ImportDraft {
                name: self.name,
                connection: self.connection,
                spec,
                schedule: self.schedule,
                enabled: self.enabled,
            },
            self.version,
        ))
    }
}

pub(super) async fn list_imports(State(s): State<AppState>) -> WebResult<Response> {
    Ok(Json(s.app().list_imports().await?).into_response())
}

pub(super) async fn create_import(
    State(s): State<AppState>,
    Extension(actor): Extension<Actor>,
    ApiJson(body): ApiJson<ImportBody>,
) -> WebResult<Response> {
    let (draft, _) = body.into_draft(&s, None)?;
    let view = s.app().create_import(draft, &actor).await?;
    Ok((StatusCode::CREATED, Json(view)).into_response())
}

pub(super) async fn get_import(
    State(s): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> WebResult<Response> {
    Ok(Json(s.app().get_import(&id).await?).into_response())
}

pub(super) async fn replace_import(
    State(s): State<AppState>,
    Extension(actor): Extension<Actor>,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<ImportBody>,
) -> WebResult<Response> {
    let current = s.app().get_import(&id).await?;
    let (draft, version) = body.into_draft(&s, current.spec.input.as_deref())?;
    let version = required_version(version, "import")?;
    let view = s.app().update_import(&id, draft, version, &actor).await?;
    Ok(Json(view).into_response())
}

pub(super) async fn delete_import(
    State(s): State<AppState>,
    Extension(actor): Extension<Actor>,
    ApiPath(id): ApiPath<String>,
) -> WebResult<Response> {
    s.app().delete_import(&id, &actor).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// The options of `POST /v1/imports/{id}/run`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct RunQuery {
    /// Convert and look up only: answer each record's request, write nothing.
    #[serde(default)]
    dry_run: bool,
}

/// A finished run and what the caller should know about it.
#[derive(Serialize)]
struct RunBody {
    #[serde(flatten)]
    run: ImportRunView,
    notices: Vec<String>,
}

/// The input format a `Content-Type` names, if it is one of the record types.
fn records_format(content_type: &str) -> Option<InputFormat> {
    let media = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    match media.as_str() {
        "text/csv" => Some(InputFormat::Csv),
        "application/x-ndjson" | "application/ndjson" | "application/jsonl" => {
            Some(InputFormat::Ndjson)
        }
        "application/json" => Some(InputFormat::Json),
        _ => None,
    }
}

fn extension(format: InputFormat) -> &'static str {
    match format {
        InputFormat::Csv => "csv",
        InputFormat::Ndjson => "ndjson",
        InputFormat::Json => "json",
    }
}

/// A file of the uploads directory, deleted when dropped unless kept: the upload of a run
/// whose process dies stays for the run's resumption.
struct Upload {
    path: PathBuf,
    keep: bool,
}

impl Drop for Upload {
    fn drop(&mut self) {
        if !self.keep {
            remove_quietly(&self.path);
        }
    }
}

fn remove_quietly(path: &Path) {
    if let Err(e) = std::fs::remove_file(path)
        && e.kind() != std::io::ErrorKind::NotFound
    {
        tracing::warn!(path = %path.display(), error = %e, "an import upload could not be deleted");
    }
}

/// Creates the uploads directory (readable by the server's user only) and answers a new file
/// name in it.
async fn upload_path(s: &AppState, stem: &str, ext: &str) -> WebResult<PathBuf> {
    let dir = s.app().data_dir().join(UPLOADS_DIR);
    let created = {
        let dir = dir.clone();
        tokio::task::spawn_blocking(move || {
            let mut builder = std::fs::DirBuilder::new();
            builder.recursive(true);
            #[cfg(unix)]
            std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
            builder.create(&dir)
        })
        .await
    };
    match created {
        Ok(Ok(())) => {}
        Ok(Err(e)) => {
            return Err(WebError::Io(format!(
                "the import uploads directory {} cannot be created: {e}",
                dir.display()
            )));
        }
        Err(_) => return Err(WebError::Internal),
    }
    let nonce: u64 = rand::random();
    Ok(absolute(&dir.join(format!("{stem}.{nonce:016x}.{ext}"))))
}

/// Writes the request body to `path`, chunk by chunk, refusing more than
/// [`MAX_RECORDS_BYTES`]. Answers how many bytes were written.
async fn save_body(body: Body, path: &Path) -> WebResult<u64> {
    use tokio::io::AsyncWriteExt as _;
    let io = |e: std::io::Error| {
        WebError::Io(format!(
            "the records could not be saved in the data directory: {e}"
        ))
    };
    let mut options = tokio::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    options.mode(0o600);
    let mut file = options.open(path).await.map_err(io)?;
    let mut body = body;
    let mut written: u64 = 0;
    while let Some(frame) =
        std::future::poll_fn(|cx| std::pin::Pin::new(&mut body).poll_frame(cx)).await
    {
        let frame = frame.map_err(|_| WebError::InvalidRequest(StatusCode::BAD_REQUEST))?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        written = written.saturating_add(data.len() as u64);
        if written > MAX_RECORDS_BYTES {
            return Err(WebError::RecordsTooLarge);
        }
        file.write_all(&data).await.map_err(io)?;
    }
    file.flush().await.map_err(io)?;
    file.sync_all().await.map_err(io)?;
    Ok(written)
}

/// Whether the request body is empty (no body, or one without a byte).
async fn body_is_empty(body: Body) -> WebResult<bool> {
    let mut body = body;
    while let Some(frame) =
        std::future::poll_fn(|cx| std::pin::Pin::new(&mut body).poll_frame(cx)).await
    {
        let frame = frame.map_err(|_| WebError::InvalidRequest(StatusCode::BAD_REQUEST))?;
        if frame.into_data().is_ok_and(|data| !data.is_empty()) {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Runs a saved import inside the request: with the records of the body (`text/csv`,
/// `application/x-ndjson`, `application/json`), or without a body its own input file. With
/// `?dryRun=true`, answers each record's would-be request as NDJSON and writes nothing.
pub(super) async fn run_import(
    State(s): State<AppState>,
    ApiPath(id): ApiPath<String>,
    query: Result<Query<RunQuery>, QueryRejection>,
    headers: HeaderMap,
    body: Body,
) -> WebResult<Response> {
    let Query(query) = query.map_err(|_| {
        WebError::InvalidQuery(
            "the only query parameter is `dryRun` (`true` or `false`)".to_owned(),
        )
    })?;
    let import = s.app().get_import(&id).await?;
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_RECORDS_BYTES) {
        return Err(WebError::RecordsTooLarge);
    }
    let format = match headers.get(header::CONTENT_TYPE) {
        Some(v) => Some(
            v.to_str()
                .ok()
                .and_then(records_format)
                .ok_or(WebError::UnsupportedRecordsType)?,
        ),
        None => None,
    };
    // The records, kept in the data directory while their run lasts; without a Content-Type
    // the body must be empty and the import reads its own file.
    let upload = match format {
        Some(format) => {
            let path = upload_path(&s, &import.id.to_string(), extension(format)).await?;
            let upload = Upload { path, keep: false };
            save_body(body, &upload.path).await?;
            Some((upload, format))
        }
        None if body_is_empty(body).await? => None,
        None => return Err(WebError::UnsupportedRecordsType),
    };
    if upload.is_none() && import.spec.input.is_none() {
        return Err(AppError::InvalidInput(
            "send the records in the request body (Content-Type text/csv, \
             application/x-ndjson or application/json), or save the import with an input \
             file (spec.input) to run it without a body"
                .to_owned(),
        )
        .into());
    }
    if query.dry_run {
        return dry_run(&s, import, upload).await;
    }
    let app = s.app().clone();
    let uploads = absolute(&s.app().data_dir().join(UPLOADS_DIR));
    let sent_records = upload.is_some();
    // A task of its own: a client hanging up does not stop the run half-way.
    let task = tokio::spawn(async move {
        let mut upload = upload.map(|(upload, _)| upload);
        let file = upload.as_ref().map(|u| u.path.clone());
        let expected = file
            .clone()
            .or_else(|| import.spec.input.as_deref().map(absolute));
        let result = app
            .run_import(
                &import.id.to_string(),
                file.clone(),
                RunOutput::Store,
                RunTrigger::Api,
                &NoImportProgress,
            )
            .await;
        if let (
            Some(upload),
            Err(AppError::ImportFailed {
                code: "lease_lost", ..
            }),
        ) = (upload.as_mut(), &result)
        {
            // Another process took the run over and may still read the file.
            upload.keep = true;
        }
        let mut notices = Vec::new();
        if let Ok(run) = &result {
            let read = run.input_file.as_deref().map(PathBuf::from);
            if read != expected {
                notices.push(if sent_records {
                    "the import's interrupted run was resumed and finished first, with the input \
                     it started with; the records sent were not read: send them again"
                        .to_owned()
                } else {
                    "the import's interrupted run was resumed and finished, with the input it \
                     started with"
                        .to_owned()
                });
                // The upload of the resumed run is not needed any more.
                if let Some(read) = read.filter(|r| r.starts_with(&uploads))
                    && run.state != RunState::Running
                {
                    remove_quietly(&read);
                }
            }
            if run.stats.failed > 0 {
                notices.push(format!(
                    "{} of {} records failed; the run's results say why (GET \
                     /v1/import-runs/{}/output)",
                    run.stats.failed,
                    run.stats.read,
                    run.id.map(|id| id.to_string()).unwrap_or_default()
                ));
            }
        }
        drop(upload);
        result.map(|run| RunBody { run, notices })
    });
    let body = task.await.map_err(|_| WebError::Internal)??;
    Ok(Json(body).into_response())
}

/// `path` made absolute the way the app records a run's input.
fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

/// A dry run of a saved import, with its ledger: each record's would-be request as NDJSON.
async fn dry_run(
    s: &AppState,
    import: jiralink_app::ImportView,
    upload: Option<(Upload, InputFormat)>,
) -> WebResult<Response> {
    let mut spec = import.spec.clone();
    spec.ledger = Some(import.ledger.clone());
    spec.results_format = ResultsFormat::Ndjson;
    let source = match &upload {
        Some((upload, format)) => {
            spec.format = Some(*format);
            upload.path.clone()
        }
        None => match &import.spec.input {
            Some(path) => path.clone(),
            None => return Err(WebError::Internal),
        },
    };
    let results = Upload {
        path: upload_path(s, &format!("{}.preview", import.id), "ndjson").await?,
        keep: false,
    };
    let request = ImportRequest {
        connection: import.connection_id.to_string(),
        spec,
        source: ImportSource::File(source),
        results: RunOutput::File(results.path.clone()),
        dry_run: true,
        trigger: RunTrigger::Api,
        // The server reads no files a request names.
        attachment_dir: None,
    };
    let app = s.app().clone();
    // A task of its own, as a run.
    let previewed =
        tokio::spawn(async move { app.run_adhoc_import(request, &NoImportProgress).await })
            .await
            .map_err(|_| WebError::Internal)?;
    drop(upload);
    previewed?;
    let bytes = tokio::fs::read(&results.path)
        .await
        .map_err(|e| WebError::Io(format!("the dry run's results could not be read: {e}")))?;
    let mut res = Body::from(bytes).into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-ndjson"),
    );
    Ok(res)
}

/// The filters of `GET /v1/import-runs`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RunsQuery {
    /// An import's id or name.
    import: Option<String>,
    /// At most this many runs, newest first.
    limit: Option<u32>,
}

pub(super) async fn list_import_runs(
    State(s): State<AppState>,
    query: Result<Query<RunsQuery>, QueryRejection>,
) -> WebResult<Response> {
    let Query(query) = query.map_err(|_| {
        WebError::InvalidQuery(format!(
            "the query parameters are `import` (an import's id or name) and `limit` (1 to \
             {MAX_RUNS_LIMIT})"
        ))
    })?;
    let limit = query.limit.unwrap_or(DEFAULT_RUNS_LIMIT);
    if !(1..=MAX_RUNS_LIMIT).contains(&limit) {
        return Err(WebError::InvalidQuery(format!(
            "`limit` is a number from 1 to {MAX_RUNS_LIMIT}"
        )));
    }
    let runs = s
        .app()
        .list_import_runs_of(query.import.as_deref(), Some(limit))
        .await?;
    Ok(Json(runs).into_response())
}

pub(super) async fn get_import_run(
    State(s): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> WebResult<Response> {
    Ok(Json(s.app().get_import_run(&id).await?).into_response())
}

/// Asks a running import run to stop after its current batch; a run that ended is answered
/// as it is.
pub(super) async fn cancel_import_run(
    State(s): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> WebResult<Response> {
    // Only import runs: an export run's id is not found here.
    s.app().get_import_run(&id).await?;
    s.app().cancel_run(&id).await?;
    Ok(Json(s.app().get_import_run(&id).await?).into_response())
}

/// An import run's results as a download, streamed from the database, in the run's results
/// format.
pub(super) async fn import_run_output(
    State(s): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> WebResult<Response> {
    let run = s.app().get_import_run(&id).await?;
    let stream = s.app().run_output(&id).await?;
    let name = match run.import_id {
        Some(import) => s.app().get_import(&import.to_string()).await.ok(),
        None => None,
    }
    .map_or_else(|| "import".to_owned(), |i| i.name);
    let (content_type, ext) = match run.results_format {
        ResultsFormat::Csv => ("text/csv; charset=utf-8", "csv"),
        ResultsFormat::Ndjson => ("application/x-ndjson", "ndjson"),
    };
    let file = download_name(&format!("{name}-results"), run.started_at, ext);
    let mut res = Body::from_stream(stream).into_response();
    let headers = res.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{file}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(res)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn specs_refuse_unknown_fields_and_bad_values_without_echoing_them() {
        let (spec, input) = spec_of(json!({"mapping": "operation = \"create\"", "format": "csv",
            "resultsFormat": "csv", "searchLagSecs": 5, "input": "t.csv"}))
        .unwrap();
        assert_eq!(spec.format, Some(InputFormat::Csv));
        assert_eq!(spec.results_format, ResultsFormat::Csv);
        assert_eq!(spec.search_lag_secs, Some(5));
        assert_eq!(input.as_deref(), Some("t.csv"));
        let (spec, _) = spec_of(json!({"mapping": "", "format": null})).unwrap();
        assert_eq!(spec.results_format, ResultsFormat::Ndjson);
        let e = spec_of(json!({"mapping": "", "mappin": "SECRET-ish"})).unwrap_err();
        assert!(
            matches!(&e, WebError::UnknownField(f) if f.contains("spec.searchLagSecs")),
            "{e}"
        );
        assert!(!e.to_string().contains("mappin\""), "{e}");
        for bad in [
            json!({}),
            json!({"mapping": 1}),
            json!({"mapping": "", "format": "SECRET-ish"}),
            json!({"mapping": "", "resultsFormat": "json"}),
            json!({"mapping": "", "searchLagSecs": 3601}),
            json!({"mapping": "", "searchLagSecs": -1}),
            json!({"mapping": "", "input": 3}),
            json!({"mapping": "", "ledger": ["SECRET-ish"]}),
            json!("SECRET-ish"),
        ] {
            let e = spec_of(bad.clone()).unwrap_err();
            assert!(matches!(e, WebError::InvalidJson(_)), "{bad}: {e}");
            assert!(!e.to_string().contains("SECRET"), "{e}");
        }
    }

    #[test]
    fn record_types_come_from_the_content_type() {
        assert_eq!(records_format("text/csv"), Some(InputFormat::Csv));
        assert_eq!(
            records_format("Text/CSV; charset=utf-8"),
            Some(InputFormat::Csv)
        );
        assert_eq!(
            records_format("application/x-ndjson"),
            Some(InputFormat::Ndjson)
        );
        assert_eq!(records_format("application/json"), Some(InputFormat::Json));
        assert_eq!(records_format("text/plain"), None);
        assert_eq!(records_format(""), None);
    }
}
