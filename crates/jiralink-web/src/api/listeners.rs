//! `/v1/listeners`: Jira's webhooks feeding a flow ([`jiralink_app::ListenerView`]), their
//! recent deliveries, and their upkeep run on request.
//!
//! The secret of an admin webhook (Basic connections) is in the creation's answer only: it is
//! written into that one body from the secret type by hand, never serialized from a type, and
//! no other answer has it.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use jiralink_app::ListenerDraft;
use serde::Deserialize;

use super::{ApiJson, ApiPath};
use crate::AppState;
use crate::error::{WebError, WebResult};

/// The most deliveries `GET /v1/listeners/{id}/events` lists.
pub(crate) const MAX_EVENTS_LIMIT: u32 = 500;
/// How many it lists without `limit`.
pub(crate) const DEFAULT_EVENTS_LIMIT: u32 = 50;

/// A listener as sent by a client.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct ListenerBody {
    #[serde(default)]
    name: String,
    /// The flow's id or name.
    #[serde(default)]
    flow: String,
    #[serde(default)]
    events: Vec<String>,
    #[serde(default)]
    jql: Option<String>,
    #[serde(default)]
    field_ids: Vec<String>,
}

pub(super) async fn list_listeners(State(s): State<AppState>) -> WebResult<Response> {
    Ok(Json(s.app().list_listeners().await?).into_response())
}

/// Answers `201` with the listener and, for an admin webhook, its `secret`, this once.
pub(super) async fn create_listener(
    State(s): State<AppState>,
    ApiJson(body): ApiJson<ListenerBody>,
) -> WebResult<Response> {
    let created = s
        .app()
        .create_listener(ListenerDraft {
            name: body.name,
            flow: body.flow,
            events: body.events,
            jql: body.jql,
            field_ids: body.field_ids,
        })
        .await?;
    let mut value = serde_json::to_value(&created.view).map_err(|_| WebError::Internal)?;
    if let (Some(secret), Some(object)) = (&created.secret, value.as_object_mut()) {
        object.insert(
            "secret".to_owned(),
            serde_json::Value::String(secret.expose().to_owned()),
        );
    }
    Ok((StatusCode::CREATED, Json(value)).into_response())
}

pub(super) async fn get_listener(
    State(s): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> WebResult<Response> {
    Ok(Json(s.app().get_listener(&id).await?).into_response())
}

pub(super) async fn delete_listener(
    State(s): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> WebResult<Response> {
    s.app().delete_listener(&id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// The query of `GET /v1/listeners/{id}/events`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct EventsQuery {
    limit: Option<u32>,
}

pub(super) async fn listener_events(
    State(s): State<AppState>,
    ApiPath(id): ApiPath<String>,
    query: Result<Query<EventsQuery>, QueryRejection>,
) -> WebResult<Response> {
    let Query(query) = query.map_err(|_| {
        WebError::InvalidQuery(format!(
            "the query parameter is `limit` (1 to {MAX_EVENTS_LIMIT})"
        ))
    })?;
    let limit = query.limit.unwrap_or(DEFAULT_EVENTS_LIMIT);
    if !(1..=MAX_EVENTS_LIMIT).contains(&limit) {
        return Err(WebError::InvalidQuery(format!(
            "`limit` is a number from 1 to {MAX_EVENTS_LIMIT}"
        )));
    }
    Ok(Json(s.app().listener_events(&id, limit).await?).into_response())
}

/// Runs the listener's upkeep now (webhook refresh, failed deliveries, the safety net) and
/// answers what it did.
pub(super) async fn check_listener(
    State(s): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> WebResult<Response> {
    Ok(Json(s.app().check_listener(&id).await?).into_response())
}
