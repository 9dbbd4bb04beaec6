//! `/v1/exports` (saved export definitions) and `/v1/runs` (their runs, and ad hoc ones the
//! CLI recorded), with the download of a run's output.
//!
//! Import runs are stored with export runs but are not export runs: `/v1/runs` lists none, and
//! `/v1/runs/{id}…` answers `404 run_not_found` for one (its resource, format and counts are
//! not an export's); they have their own routes under `/v1/import-runs` ([`super::imports`]).
//!
//! "Run now" does not run the export in the request: it makes the definition's job due at
//! once, and a worker (of any server sharing the database) runs it, never two runs of one
//! definition at a time. The run then shows up in `/v1/runs`. A run's output is kept in the
//! database, so any server can stream it.

use axum::body::Body;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use jiralink_app::{Actor, ExportDraft, RunListFilter, Schedule};
use jiralink_sync::spec::ISSUE_EXPANDS;
use jiralink_sync::{ExportSpec, Format};
use serde::Deserialize;

use super::{ApiJson, ApiPath, required_version};
use crate::AppState;
use crate::error::{WebError, WebResult};

/// An export definition as sent by a client.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct ExportBody {
    #[serde(default)]
    name: String,
    /// The connection's id or name.
    #[serde(default)]
    connection: String,
    /// Read by [`spec_of`], which refuses unknown fields as the rest of the body does.
    spec: serde_json::Value,
    #[serde(default)]
    schedule: Option<Schedule>,
    /// Whether the schedule runs it (default true); a disabled export runs only when asked.
    #[serde(default = "enabled_by_default")]
    enabled: bool,
    /// Replace only: the version the change was made from.
    version: Option<u64>,
}

fn enabled_by_default() -> bool {
    true
}

impl ExportBody {
    fn into_draft(self) -> WebResult<(ExportDraft, Option<u64>)> {
        Ok((
            ExportDraft {
                name: self.name,
                connection: self.connection,
                spec: spec_of(self.spec)?,
                schedule: self.schedule,
                enabled: self.enabled,
            },
            self.version,
        ))
    }
}

/// The fields of `spec` (camelCase, as in JSON).
const SPEC_FIELDS: &[&str] = &[
    "resource",
    "jql",
    "fields",
    "expand",
    "fullChangelog",
    "comments",
    "worklogs",
    "adf",
    "kind",
    "format",
    "deletions",
    "serviceDesk",
    "overlapSecs",
    "lagSecs",
];
/// The fields of `spec.kind`.
const KIND_FIELDS: &[&str] = &["type", "start", "limit"];

/// Reads `spec`: unknown fields are refused (a misspelt option must not be ignored
/// silently), and no error repeats a value sent.
fn spec_of(value: serde_json::Value) -> WebResult<ExportSpec> {
    let Some(object) = value.as_object() else {
        return Err(WebError::InvalidJson(
            "spec: it must be an object such as {\"resource\": \"issues\"}".to_owned(),
        ));
    };
    let unknown = |known: &[&str]| {
        WebError::UnknownField(
            known
                .iter()
                .map(|f| format!("spec.{f}"))
                .collect::<Vec<_>>()
                .join(", "),
        )
    };
    if object.keys().any(|k| !SPEC_FIELDS.contains(&k.as_str())) {
        return Err(unknown(SPEC_FIELDS));
    }
    if let Some(kind) = object.get("kind").and_then(serde_json::Value::as_object)
        && kind.keys().any(|k| !KIND_FIELDS.contains(&k.as_str()))
    {
        return Err(WebError::UnknownField(
            KIND_FIELDS
                .iter()
                .map(|f| format!("spec.kind.{f}"))
                .collect::<Vec<_>>()
                .join(", "),
        ));
    }
    match object.get("resource") {
        None => {
            return Err(WebError::InvalidJson(
                "spec: the field resource is missing".to_owned(),
            ));
        }
        Some(r)
            if r.as_str()
                .and_then(jiralink_sync::Resource::parse)
                .is_none() =>
        {
            return Err(WebError::InvalidJson(format!(
                "spec.resource: choose one of {}",
                jiralink_sync::Resource::ALL
                    .iter()
                    .map(|r| r.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        Some(_) => {}
    }
    let spec: ExportSpec = serde_json::from_value(value).map_err(|_| {
        WebError::InvalidJson(
            "spec: a value has the wrong type or form (values are not repeated here); see the \
             ExportSpec schema"
                .to_owned(),
        )
    })?;
    // Checked here because the definition's own check names the expansion it does not know,
    // and answers never repeat what was sent.
    if spec
        .expand
        .iter()
        .any(|e| !ISSUE_EXPANDS.contains(&e.trim()))
    {
        return Err(jiralink_app::AppError::InvalidInput(format!(
            "spec.expand: an expansion is not known; choose from {}",
            ISSUE_EXPANDS.join(", ")
        ))
        .into());
    }
    Ok(spec)
}

pub(super) async fn list_exports(State(s): State<AppState>) -> WebResult<Response> {
    Ok(Json(s.app().list_exports().await?).into_response())
}

pub(super) async fn create_export(
    State(s): State<AppState>,
    Extension(actor): Extension<Actor>,
    ApiJson(body): ApiJson<ExportBody>,
) -> WebResult<Response> {
    let (draft, _) = body.into_draft()?;
    let view = s.app().create_export(draft, &actor).await?;
    Ok((StatusCode::CREATED, Json(view)).into_response())
}

pub(super) async fn get_export(
    State(s): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> WebResult<Response> {
    Ok(Json(s.app().get_export(&id).await?).into_response())
}

pub(super) async fn replace_export(
    State(s): State<AppState>,
    Extension(actor): Extension<Actor>,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<ExportBody>,
) -> WebResult<Response> {
    let (draft, version) = body.into_draft()?;
    let version = required_version(version, "export")?;
    let view = s.app().update_export(&id, draft, version, &actor).await?;
    Ok(Json(view).into_response())
}

pub(super) async fn delete_export(
    State(s): State<AppState>,
    Extension(actor): Extension<Actor>,
    ApiPath(id): ApiPath<String>,
) -> WebResult<Response> {
    s.app().delete_export(&id, &actor).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Makes the export due now; answers `202` with the export (its `nextRunAt` is now).
pub(super) async fn run_export(
    State(s): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> WebResult<Response> {
    s.app().request_export_run(&id).await?;
    let view = s.app().get_export(&id).await?;
    Ok((StatusCode::ACCEPTED, Json(view)).into_response())
}

/// The filters of `GET /v1/runs`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RunsQuery {
    /// An export's id or name.
    export: Option<String>,
    /// A connection's id or name.
    connection: Option<String>,
    /// At most this many runs, newest first.
    limit: Option<u32>,
}

/// The most runs one answer lists.
pub(crate) const MAX_RUNS_LIMIT: u32 = 1000;
/// How many runs an answer lists unless `limit` says otherwise.
pub(crate) const DEFAULT_RUNS_LIMIT: u32 = 100;

pub(super) async fn list_runs(
    State(s): State<AppState>,
    query: Result<Query<RunsQuery>, QueryRejection>,
) -> WebResult<Response> {
    let Query(query) = query.map_err(|_| {
        WebError::InvalidQuery(format!(
            "the query parameters are `export` (an export's id or name), `connection` (a \
             connection's id or name) and `limit` (1 to {MAX_RUNS_LIMIT})"
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
        .list_runs(RunListFilter {
            export: query.export,
            connection: query.connection,
            limit: Some(limit),
        })
        .await?;
    Ok(Json(runs).into_response())
}

/// Refuses an import run's id: `/v1/runs` answers for export runs only.
async fn export_run_only(s: &AppState, id: &str) -> WebResult<()> {
    match s.app().get_import_run(id).await {
        Ok(_) => Err(jiralink_app::AppError::RunNotFound {
            reference: id.to_owned(),
        }
        .into()),
        Err(jiralink_app::AppError::RunNotFound { .. }) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

pub(super) async fn get_run(
    State(s): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> WebResult<Response> {
    export_run_only(&s, &id).await?;
    Ok(Json(s.app().get_run(&id).await?).into_response())
}

pub(super) async fn cancel_run(
    State(s): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> WebResult<Response> {
    export_run_only(&s, &id).await?;
    Ok(Json(s.app().cancel_run(&id).await?).into_response())
}

pub(super) async fn run_output(
    State(s): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> WebResult<Response> {
    export_run_only(&s, &id).await?;
    Ok(output_response(&s, &id).await?)
}

/// A run's output as a download: streamed from the database chunk by chunk (never held whole
/// in memory), with the content type of its format and a file name made of the export's name
/// and the run's start. The UI's download link answers the same.
pub(crate) async fn output_response(
    s: &AppState,
    id: &str,
) -> Result<Response, jiralink_app::AppError> {
    let run = s.app().get_run(id).await?;
    let stream = s.app().run_output(id).await?;
    let format = output_format(&run.format);
    let name = download_name(
        run.export_name.as_deref().unwrap_or("export"),
        run.started_at,
        format.extension(),
    );
    let mut res = Body::from_stream(stream).into_response();
    let headers = res.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(res)
}

/// The format a run names (`ndjson`, `json-array`, `csv`).
pub(crate) fn output_format(name: &str) -> Format {
    match name {
        "json-array" => Format::JsonArray,
        "csv" => Format::Csv,
        _ => Format::Ndjson,
    }
}

/// `<name>-<YYYYMMDDTHHMMSSZ>.<ext>`, the name reduced to letters, digits, `-` and `_` so the
/// header needs no quoting rules and no file system is surprised.
pub(crate) fn download_name(export: &str, started: time::OffsetDateTime, ext: &str) -> String {
    let mut slug = String::new();
    for c in export.chars() {
        if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
            slug.push(c.to_ascii_lowercase());
        } else if !slug.ends_with('-') {
            slug.push('-');
        }
    }
    let slug = slug.trim_matches('-');
    let slug = if slug.is_empty() { "export" } else { slug };
    let slug: String = slug.chars().take(80).collect();
    let t = started.to_offset(time::UtcOffset::UTC);
    format!(
        "{slug}-{:04}{:02}{:02}T{:02}{:02}{:02}Z.{ext}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn specs_refuse_unknown_fields_without_echoing_values() {
        assert!(
            spec_of(json!({"resource": "issues", "kind": {"type": "test", "limit": 3}})).is_ok()
        );
        let e = spec_of(json!({"resource": "issues", "jqll": "x"})).unwrap_err();
        assert!(
            matches!(&e, WebError::UnknownField(f) if f.contains("spec.jql")),
            "{e}"
        );
        assert!(!e.to_string().contains("jqll"));
        let e =
            spec_of(json!({"resource": "issues", "kind": {"type": "all", "x": 1}})).unwrap_err();
        assert!(matches!(e, WebError::UnknownField(_)));
        let e = spec_of(json!({"resource": "SECRET-ish"})).unwrap_err();
        assert!(!e.to_string().contains("SECRET"), "{e}");
        assert!(e.to_string().contains("issue-types"), "{e}");
        let e = spec_of(json!({"resource": "issues", "format": "SECRET-ish"})).unwrap_err();
        assert!(!e.to_string().contains("SECRET"), "{e}");
        assert!(
            spec_of(json!({}))
                .unwrap_err()
                .to_string()
                .contains("resource is missing")
        );
        assert!(spec_of(json!([])).is_err());
    }

    #[test]
    fn download_names_are_plain() {
        let t = time::macros::datetime!(2026-01-02 03:04:05 +01:00);
        assert_eq!(
            download_name("Open bugs: \"EU\"", t, "ndjson"),
            "open-bugs-eu-20260102T020405Z.ndjson"
        );
        assert_eq!(download_name("ÄÖ", t, "csv"), "export-20260102T020405Z.csv");
        assert_eq!(
            download_name("a\r\nb", t, "json"),
            "a-b-20260102T020405Z.json"
        );
    }
}
