//! `/v1/flows` (saved flows: an export whose records an import writes) and `/v1/flow-runs`
//! (their runs, with the ids of the export run and import run each made).
//!
//! "Run now" does not run the flow in the request: it makes the flow's job (`flows.run`) due at
//! once, and a worker (of any server sharing the database) runs it, never two runs of one flow
//! at a time. The run then shows up in `/v1/flow-runs` and as the flow's `lastRun`.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use jiralink_app::{FlowDraft, Schedule};
use serde::Deserialize;

use super::exports::{DEFAULT_RUNS_LIMIT, MAX_RUNS_LIMIT};
use super::{ApiJson, ApiPath, required_version};
use crate::AppState;
use crate::error::{WebError, WebResult};

/// A flow as sent by a client.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct FlowBody {
    #[serde(default)]
    name: String,
    /// The saved export's id or name.
    #[serde(default)]
    export: String,
    /// The saved import's id or name.
    #[serde(default)]
    import: String,
    #[serde(default)]
    schedule: Option<Schedule>,
    /// Whether the schedule runs it (default true); a disabled flow runs only when asked.
    #[serde(default = "enabled_by_default")]
    enabled: bool,
    /// Replace only: the version the change was made from.
    version: Option<u64>,
}

fn enabled_by_default() -> bool {
    true
}

impl FlowBody {
    fn into_draft(self) -> (FlowDraft, Option<u64>) {
        (
            FlowDraft {
                name: self.name,
                export: self.export,
                import: self.import,
                schedule: self.schedule,
                enabled: self.enabled,
            },
            self.version,
        )
    }
}

pub(super) async fn list_flows(State(s): State<AppState>) -> WebResult<Response> {
    Ok(Json(s.app().list_flows().await?).into_response())
}

pub(super) async fn create_flow(
    State(s): State<AppState>,
    ApiJson(body): ApiJson<FlowBody>,
) -> WebResult<Response> {
    let (draft, _) = body.into_draft();
    let view = s.app().create_flow(draft).await?;
    Ok((StatusCode::CREATED, Json(view)).into_response())
}

pub(super) async fn get_flow(
    State(s): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> WebResult<Response> {
    Ok(Json(s.app().get_flow(&id).await?).into_response())
}

pub(super) async fn replace_flow(
    State(s): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<FlowBody>,
) -> WebResult<Response> {
    let (draft, version) = body.into_draft();
    let version = required_version(version, "flow")?;
    Ok(Json(s.app().update_flow(&id, draft, version).await?).into_response())
}

pub(super) async fn delete_flow(
    State(s): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> WebResult<Response> {
    s.app().delete_flow(&id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Makes the flow's job due now; answers `202` with the flow.
pub(super) async fn run_flow(
    State(s): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> WebResult<Response> {
    s.app().request_flow_run(&id).await?;
    let view = s.app().get_flow(&id).await?;
    Ok((StatusCode::ACCEPTED, Json(view)).into_response())
}

/// The filters of `GET /v1/flow-runs`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FlowRunsQuery {
    /// A flow's id or name.
    flow: Option<String>,
    /// At most this many runs, newest first.
    limit: Option<u32>,
}

pub(super) async fn list_flow_runs(
    State(s): State<AppState>,
    query: Result<Query<FlowRunsQuery>, QueryRejection>,
) -> WebResult<Response> {
    let Query(query) = query.map_err(|_| {
        WebError::InvalidQuery(format!(
            "the query parameters are `flow` (a flow's id or name) and `limit` (1 to \
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
        .list_flow_runs(query.flow.as_deref(), Some(limit))
        .await?;
    Ok(Json(runs).into_response())
}

pub(super) async fn get_flow_run(
    State(s): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> WebResult<Response> {
    Ok(Json(s.app().get_flow_run(&id).await?).into_response())
}
