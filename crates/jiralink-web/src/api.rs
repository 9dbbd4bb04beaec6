//! The JSON REST API under `/v1`: connections (with their tests, HTTP view, audit trail,
//! usage, debugger and authorization), OAuth 2.0 clients, export definitions and their runs
//! ([`exports`]), import definitions, runs with records sent in the request, and their runs
//! ([`imports`]), flows and their runs ([`flows`]), and listeners ([`listeners`]), described
//! by the OpenAPI document at `/v1/openapi.json` ([`crate::openapi`]).
//!
//! Secrets are write-only: request bodies carry `apiToken` / `clientSecret`, which go
//! straight into the vault's secret types; responses only ever say whether one is set and
//! when it changed; the one secret jiralink generates here, an admin webhook's, is answered
//! once, by the listener's creation. Every route requires the API key, including the one that starts an OAuth
//! 2.0 authorization: whoever approves on Atlassian's page binds the connection to their
//! account, so only a key holder may start one.

pub(crate) mod exports;
pub(crate) mod flows;
pub(crate) mod imports;
pub(crate) mod listeners;
pub(crate) mod notifications;

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use axum::{Extension, Json, Router};
use jiralink_app::{Actor, ConnectionSecrets, OAuthClientSecrets, Saved};
use jiralink_domain::{ConnectionDraft, OAuthClientDraft, SecretEntry};
use jiralink_vault::{ApiToken, ClientSecret};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::AppState;
use crate::error::{WebError, WebResult};

/// Every `/v1` route: method, path (relative to `/v1`, in the `{param}` form axum and OpenAPI
/// share) and handler. The router is built from this table and only from it
/// ([`crate::routes`]), and a unit test holds the OpenAPI document to exactly these
/// operations, so neither can drift.
pub(crate) fn table() -> crate::routes::RouteTable {
    vec![
        (Method::GET, "/connections", get(list_connections)),
        (Method::POST, "/connections", post(create_connection)),
        (Method::POST, "/connections/test", post(test_draft)),
        (Method::GET, "/connections/{id}", get(get_connection)),
        (Method::PUT, "/connections/{id}", put(replace_connection)),
        (
            Method::DELETE,
            "/connections/{id}",
            delete(delete_connection),
        ),
        (
            Method::POST,
            "/connections/{id}/test",
            post(test_connection),
        ),
        (
            Method::POST,
            "/connections/{id}/authorize",
            post(authorize_connection),
        ),
        (
            Method::GET,
            "/connections/{id}/http-view",
            get(connection_http_view),
        ),
        (
            Method::GET,
            "/connections/{id}/audit",
            get(connection_audit),
        ),
        (
            Method::GET,
            "/connections/{id}/usage",
            get(connection_usage),
        ),
        (Method::GET, "/connections/{id}/debug-log", get(debug_log)),
        (
            Method::DELETE,
            "/connections/{id}/debug-log",
            delete(clear_debug_log),
        ),
        (Method::POST, "/connections/{id}/debug", post(start_debug)),
        (
            Method::DELETE,
            "/connections/{id}/debug",
            delete(stop_debug),
        ),
        (Method::GET, "/oauth-clients", get(list_oauth_clients)),
        (Method::POST, "/oauth-clients", post(create_oauth_client)),
        (Method::GET, "/oauth-clients/{id}", get(get_oauth_client)),
        (
            Method::PUT,
            "/oauth-clients/{id}",
            put(replace_oauth_client),
        ),
        (
            Method::DELETE,
            "/oauth-clients/{id}",
            delete(delete_oauth_client),
        ),
        (Method::GET, "/exports", get(exports::list_exports)),
        (Method::POST, "/exports", post(exports::create_export)),
        (Method::GET, "/exports/{id}", get(exports::get_export)),
        (Method::PUT, "/exports/{id}", put(exports::replace_export)),
        (
            Method::DELETE,
            "/exports/{id}",
            delete(exports::delete_export),
        ),
        (Method::POST, "/exports/{id}/run", post(exports::run_export)),
        (Method::GET, "/runs", get(exports::list_runs)),
        (Method::GET, "/runs/{id}", get(exports::get_run)),
        (Method::POST, "/runs/{id}/cancel", post(exports::cancel_run)),
        (Method::GET, "/runs/{id}/output", get(exports::run_output)),
        (Method::GET, "/imports", get(imports::list_imports)),
        (Method::POST, "/imports", post(imports::create_import)),
        (Method::GET, "/imports/{id}", get(imports::get_import)),
        (Method::PUT, "/imports/{id}", put(imports::replace_import)),
        (
            Method::DELETE,
            "/imports/{id}",
            delete(imports::delete_import),
        ),
        (Method::POST, "/imports/{id}/run", post(imports::run_import)),
        (Method::GET, "/import-runs", get(imports::list_import_runs)),
        (
            Method::GET,
            "/import-runs/{id}",
            get(imports::get_import_run),
        ),
        (
            Method::POST,
            "/import-runs/{id}/cancel",
            post(imports::cancel_import_run),
        ),
        (
            Method::GET,
            "/import-runs/{id}/output",
            get(imports::import_run_output),
        ),
        (Method::GET, "/flows", get(flows::list_flows)),
        (Method::POST, "/flows", post(flows::create_flow)),
        (Method::GET, "/flows/{id}", get(flows::get_flow)),
        (Method::PUT, "/flows/{id}", put(flows::replace_flow)),
        (Method::DELETE, "/flows/{id}", delete(flows::delete_flow)),
        (Method::POST, "/flows/{id}/run", post(flows::run_flow)),
        (Method::GET, "/flow-runs", get(flows::list_flow_runs)),
        (Method::GET, "/flow-runs/{id}", get(flows::get_flow_run)),
        (
            Method::GET,
            "/notifications",
            get(notifications::list_notifications),
        ),
        (
            Method::POST,
            "/notifications/test",
            post(notifications::send_test),
        ),
        (
            Method::GET,
            "/notifications/topics",
            get(notifications::list_topics),
        ),
        (
            Method::GET,
            "/notifications/subscriptions",
            get(notifications::list_subscriptions),
        ),
        (
            Method::POST,
            "/notifications/subscriptions",
            post(notifications::create_subscription),
        ),
        (
            Method::DELETE,
            "/notifications/subscriptions/{id}",
            delete(notifications::delete_subscription),
        ),
        (
            Method::GET,
            "/notifications/channels",
            get(notifications::get_channels),
        ),
        (
            Method::PUT,
            "/notifications/channels/webhook",
            put(notifications::set_webhook),
        ),
        (
            Method::DELETE,
            "/notifications/channels/webhook",
            delete(notifications::delete_webhook),
        ),
        (Method::GET, "/listeners", get(listeners::list_listeners)),
        (Method::POST, "/listeners", post(listeners::create_listener)),
        (Method::GET, "/listeners/{id}", get(listeners::get_listener)),
        (
            Method::DELETE,
            "/listeners/{id}",
            delete(listeners::delete_listener),
        ),
        (
            Method::GET,
            "/listeners/{id}/events",
            get(listeners::listener_events),
        ),
        (
            Method::POST,
            "/listeners/{id}/check",
            post(listeners::check_listener),
        ),
        (Method::GET, "/openapi.json", get(openapi_document)),
    ]
}

/// Every `/v1` operation as `(method, full path)`, e.g. `("GET", "/v1/connections/{id}")`.
#[cfg(test)]
pub(crate) fn operations() -> Vec<(Method, String)> {
    table()
        .into_iter()
        .map(|(method, path, _)| (method, format!("/v1{path}")))
        .collect()
}

/// The `/v1` router `api` behind the API key, with the API's fallbacks and error shape.
pub(crate) fn guard(api: Router<AppState>, state: AppState) -> Router<AppState> {
    api.method_not_allowed_fallback(method_not_allowed)
        .fallback(not_found)
        // `layer`, not `route_layer`: the fallbacks too answer only a valid key, so without
        // one no answer tells which routes or methods exist.
        .layer(axum::middleware::from_fn_with_state(state, require_api_key))
        // Outermost: whatever answers an error, it leaves in the API's shape.
        .layer(axum::middleware::map_response(json_errors))
}

/// Every error under `/v1` is the API's JSON error: extractors and layers that answer in
/// their own words (plain text) are replaced by the error of their status, so no rejection
/// escapes the shape, including one of an extractor added later.
async fn json_errors(res: Response) -> Response {
    let status = res.status();
    let is_json = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if is_json || !(status.is_client_error() || status.is_server_error()) {
        return res;
    }
    WebError::from_status(status).into_response()
}

pub(crate) async fn require_api_key(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    let presented = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, key) = v.split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| key.trim())
        });
    let actor = match presented {
        Some(key) => crate::session::api_actor(&state, key).await,
        None => None,
    };
    match actor {
        Some(actor) => {
            let mut req = req;
            req.extensions_mut().insert(actor);
            next.run(req).await
        }
        None => WebError::Unauthorized.into_response(),
    }
}

// Neither names the path or method sent: answers never repeat the request.
async fn not_found() -> WebError {
    WebError::NotFound
}

async fn method_not_allowed() -> WebError {
    WebError::MethodNotAllowed
}

/// The OpenAPI 3.1 document describing every route here.
async fn openapi_document() -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        crate::openapi::DOCUMENT,
    )
        .into_response()
}

/// A JSON body whose rejections use the API's error shape and never echo values back (a
/// misplaced secret must not return in an error).
pub(crate) struct ApiJson<T>(pub(crate) T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = WebError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(value)) => Ok(Self(value)),
            Err(rejection) => Err(body_error(&rejection)),
        }
    }
}

/// A path parameter whose rejection (e.g. a segment that is not UTF-8 once decoded) is the
/// API's `invalid_path` error, not axum's plain text.
pub(crate) struct ApiPath<T>(pub(crate) T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for ApiPath<T> {
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match Path::<T>::from_request_parts(parts, state).await {
            Ok(Path(value)) => Ok(Self(value)),
            Err(_) => Err(WebError::InvalidPath),
        }
    }
}

/// Turns a JSON rejection into the API's error. Nothing the caller sent is repeated, not even
/// a field name (a secret sent in the wrong place must not come back): only our own field
/// names, from serde's path and its lists of expected fields, are kept.
fn body_error(rejection: &JsonRejection) -> WebError {
    match rejection {
        JsonRejection::MissingJsonContentType(_) => WebError::UnsupportedMediaType,
        JsonRejection::JsonSyntaxError(_) => {
            WebError::InvalidJson("it is not well-formed JSON".to_owned())
        }
        JsonRejection::JsonDataError(e) => data_error(&e.body_text()),
        JsonRejection::BytesRejection(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            WebError::BodyTooLarge
        }
        _ => WebError::InvalidJson("the body could not be read".to_owned()),
    }
}

/// Reads axum's "Failed to deserialize …: `path`: `serde error`" text. The path names our
/// fields only (an unknown key fails before anything below it is read); serde's own text may
/// quote the value sent, so it is replaced by a fixed sentence, except for the three
/// complaints about fields, which name fields of ours.
fn data_error(text: &str) -> WebError {
    let detail = text.split_once(": ").map_or(text, |(_, detail)| detail);
    let (path, inner) = match detail.split_once(": ") {
        Some((path, inner)) if is_field_path(path) => (format!("{path}: "), inner),
        _ => (String::new(), detail),
    };
    let quoted = |after: &str| {
        inner
            .split_once(after)
            .and_then(|(_, rest)| rest.split('`').next())
            .filter(|name| is_field_path(name))
            .map(str::to_owned)
    };
    if inner.starts_with("unknown field `") {
        let expected = inner
            .split_once(", expected ")
            .map(|(_, list)| {
                list.split('`')
                    .skip(1)
                    .step_by(2)
                    .filter(|name| is_field_path(name))
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .filter(|list| !list.is_empty())
            .unwrap_or_else(|| "none".to_owned());
        return WebError::UnknownField(expected);
    }
    let message = if let Some(field) = quoted("missing field `") {
        format!("{path}the field {field} is missing")
    } else if let Some(field) = quoted("duplicate field `") {
        format!("{path}the field {field} appears more than once")
    } else {
        format!("{path}a value has the wrong type or form (values are not repeated here)")
    };
    WebError::InvalidJson(message)
}

/// A serde path of our fields, such as `scopes[2]` or `concurrencyLevel`.
fn is_field_path(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 64
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '[' | ']'))
}

/// A saved resource and what the caller should know about how the input was read.
#[derive(Serialize)]
struct SavedBody<T> {
    #[serde(flatten)]
    value: T,
    notices: Vec<String>,
}

impl<T> From<Saved<T>> for SavedBody<T> {
    fn from(saved: Saved<T>) -> Self {
        Self {
            value: saved.value,
            notices: saved.notices,
        }
    }
}

/// A number sent as JSON number or as text; the domain's checks read the text.
#[derive(Deserialize)]
#[serde(untagged)]
enum Level {
    Number(u64),
    Text(String),
}

impl Level {
    fn into_text(self) -> String {
        match self {
            Level::Number(n) => n.to_string(),
            Level::Text(t) => t,
        }
    }
}

/// A connection as sent by a client. Deliberately not `Debug`: it holds the API token.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ConnectionBody {
    name: Option<String>,
    api_type: Option<String>,
    subdomain: Option<String>,
    auth_type: Option<String>,
    username: Option<String>,
    api_token: Option<String>,
    oauth_client: Option<String>,
    #[serde(default)]
    scopes: Vec<String>,
    concurrency_level: Option<Level>,
    rate_limit_auto_recover: Option<bool>,
    rate_limit_max_retries: Option<Level>,
    /// Replace only: the version the change was made from.
    version: Option<u64>,
}

impl ConnectionBody {
    fn into_parts(self) -> (ConnectionDraft, ConnectionSecrets) {
        let draft = ConnectionDraft {
            name: self.name,
            api_type: self.api_type,
            subdomain: self.subdomain,
            auth_type: self.auth_type,
            username: self.username,
            // Set by the app from the token itself.
            api_token: SecretEntry::Missing,
            oauth_client: self.oauth_client,
            scopes: self.scopes,
            concurrency_level: self.concurrency_level.map(Level::into_text),
            rate_limit_auto_recover: self
                .rate_limit_auto_recover
                .map(|on| if on { "on" } else { "off" }.to_owned()),
            rate_limit_max_retries: self.rate_limit_max_retries.map(Level::into_text),
        };
        let secrets = ConnectionSecrets {
            api_token: self.api_token.map(ApiToken::new),
        };
        (draft, secrets)
    }
}

/// An OAuth 2.0 client as sent by a client. Deliberately not `Debug`: it holds the secret.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct OAuthClientBody {
    name: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    /// Replace only: the version the change was made from.
    version: Option<u64>,
}

impl OAuthClientBody {
    fn into_parts(self) -> (OAuthClientDraft, OAuthClientSecrets) {
        let draft = OAuthClientDraft {
            name: self.name,
            client_id: self.client_id,
            // Set by the app from the secret itself.
            client_secret: SecretEntry::Missing,
        };
        let secrets = OAuthClientSecrets {
            client_secret: self.client_secret.map(ClientSecret::new),
        };
        (draft, secrets)
    }
}

/// A replace names the version it was made from, so two clients editing at once cannot
/// overwrite each other unknowingly.
fn required_version(version: Option<u64>, kind: &str) -> WebResult<u64> {
    version.ok_or_else(|| {
        jiralink_app::AppError::InvalidInput(format!(
            "version is required: send back the `version` of the {kind} as read (GET), so a \
             change made meanwhile by someone else is not overwritten"
        ))
        .into()
    })
}

async fn list_connections(State(s): State<AppState>) -> WebResult<Response> {
    Ok(Json(s.app.list_connections().await?).into_response())
}

async fn create_connection(
    State(s): State<AppState>,
    Extension(actor): Extension<Actor>,
    ApiJson(body): ApiJson<ConnectionBody>,
) -> WebResult<Response> {
    let (draft, secrets) = body.into_parts();
    let saved = s.app.create_connection(&draft, secrets, &actor).await?;
    Ok((StatusCode::CREATED, Json(SavedBody::from(saved))).into_response())
}

async fn get_connection(
    State(s): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> WebResult<Response> {
    Ok(Json(s.app.get_connection(&id).await?).into_response())
}

async fn replace_connection(
    State(s): State<AppState>,
    Extension(actor): Extension<Actor>,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<ConnectionBody>,
) -> WebResult<Response> {
    let version = required_version(body.version, "connection")?;
    let (draft, secrets) = body.into_parts();
    let saved = s
        .app
        .update_connection(&id, version, &draft, secrets, &actor)
        .await?;
    Ok(Json(SavedBody::from(saved)).into_response())
}

async fn delete_connection(
    State(s): State<AppState>,
    Extension(actor): Extension<Actor>,
    ApiPath(id): ApiPath<String>,
) -> WebResult<Response> {
    s.app.delete_connection(&id, &actor).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn test_connection(
    State(s): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> WebResult<Response> {
    Ok(Json(s.app.test_connection(&id).await?).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TestDraftQuery {
    /// The saved connection the document edits (id or name): its own name is not taken.
    connection: Option<String>,
}

/// Tests settings that are not saved; nothing is stored.
async fn test_draft(
    State(s): State<AppState>,
    query: Result<Query<TestDraftQuery>, QueryRejection>,
    ApiJson(body): ApiJson<ConnectionBody>,
) -> WebResult<Response> {
    let Query(query) = query.map_err(|_| {
        WebError::InvalidQuery(
            "the only query parameter is `connection`: the id or name of the saved connection \
             the document edits"
                .to_owned(),
        )
    })?;
    let editing = match query.connection.as_deref() {
        Some(reference) => Some(s.app.find_connection(reference).await?.id),
        None => None,
    };
    let (draft, secrets) = body.into_parts();
    Ok(Json(s.app.test_draft(&draft, &secrets, editing).await?).into_response())
}

async fn connection_usage(
    State(s): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> WebResult<Response> {
    Ok(Json(s.app.connection_usage(&id).await?).into_response())
}

async fn debug_log(State(s): State<AppState>, ApiPath(id): ApiPath<String>) -> WebResult<Response> {
    Ok(Json(s.app.debug_log(&id).await?).into_response())
}

#[derive(Serialize)]
struct ClearedBody {
    deleted: u64,
}

async fn clear_debug_log(
    State(s): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> WebResult<Response> {
    let deleted = s.app.clear_debug_log(&id).await?;
    Ok(Json(ClearedBody { deleted }).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DebugBody {
    /// 15, 30, 45 or 60.
    minutes: u32,
}

async fn start_debug(
    State(s): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<DebugBody>,
) -> WebResult<Response> {
    Ok(Json(s.app.start_debug(&id, body.minutes).await?).into_response())
}

async fn stop_debug(
    State(s): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> WebResult<Response> {
    Ok(Json(s.app.stop_debug(&id).await?).into_response())
}

/// Where to send a browser to authorize a connection; Atlassian then redirects it to
/// `/connection/oauth2callback`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AuthorizationBody {
    authorization_url: url::Url,
    redirect_uri: url::Url,
    #[serde(with = "time::serde::rfc3339")]
    state_expires_at: time::OffsetDateTime,
}

async fn authorize_connection(
    State(s): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> WebResult<Response> {
    let start = s.app.begin_authorization(&id).await?;
    // The caller sends a browser to this URL, so it must be the configured authorization
    // server and nowhere else.
    if start.url.origin() != s.app.config().atlassian.auth_server.origin() {
        return Err(WebError::AuthServerMismatch);
    }
    Ok(Json(AuthorizationBody {
        authorization_url: start.url,
        redirect_uri: start.redirect_uri,
        state_expires_at: start.state_expires_at,
    })
    .into_response())
}

async fn connection_http_view(
    State(s): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> WebResult<Response> {
    Ok(Json(s.app.connection_http_view(&id).await?).into_response())
}

async fn connection_audit(
    State(s): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> WebResult<Response> {
    Ok(Json(s.app.connection_audit(&id).await?).into_response())
}

async fn list_oauth_clients(State(s): State<AppState>) -> WebResult<Response> {
    Ok(Json(s.app.list_oauth_clients().await?).into_response())
}

async fn create_oauth_client(
    State(s): State<AppState>,
    Extension(actor): Extension<Actor>,
    ApiJson(body): ApiJson<OAuthClientBody>,
) -> WebResult<Response> {
    let (draft, secrets) = body.into_parts();
    let saved = s.app.create_oauth_client(&draft, secrets, &actor).await?;
    Ok((StatusCode::CREATED, Json(SavedBody::from(saved))).into_response())
}

async fn get_oauth_client(
    State(s): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> WebResult<Response> {
    Ok(Json(s.app.get_oauth_client(&id).await?).into_response())
}

async fn replace_oauth_client(
    State(s): State<AppState>,
    Extension(actor): Extension<Actor>,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<OAuthClientBody>,
) -> WebResult<Response> {
    let version = required_version(body.version, "OAuth 2.0 client")?;
    let (draft, secrets) = body.into_parts();
    let saved = s
        .app
        .update_oauth_client(&id, version, &draft, secrets, &actor)
        .await?;
    Ok(Json(SavedBody::from(saved)).into_response())
}

async fn delete_oauth_client(
    State(s): State<AppState>,
    Extension(actor): Extension<Actor>,
    ApiPath(id): ApiPath<String>,
) -> WebResult<Response> {
    s.app.delete_oauth_client(&id, &actor).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
