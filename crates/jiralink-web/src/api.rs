//! The JSON REST API under `/v1`: connections and OAuth 2.0 clients.
//!
//! Secrets are write-only: request bodies carry `apiToken` / `clientSecret`, which go
//! straight into the vault's secret types; responses only ever say whether one is set and
//! when it changed. Every route requires the API key, including the one that starts an OAuth
//! 2.0 authorization: whoever approves on Atlassian's page binds the connection to their
//! account, so only a key holder may start one.

use axum::extract::{FromRequest, Path, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use jiralink_app::{ConnectionSecrets, OAuthClientSecrets, Saved};
use jiralink_domain::{ConnectionDraft, OAuthClientDraft};
use jiralink_vault::{ApiToken, ClientSecret};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::AppState;
use crate::error::{WebError, WebResult};

pub(crate) fn routes(state: AppState) -> Router<AppState> {
    Router::new()
        .route(
            "/connections",
            get(list_connections).post(create_connection),
        )
        .route(
            "/connections/{id}",
            get(get_connection)
                .put(replace_connection)
                .delete(delete_connection),
        )
        .route("/connections/{id}/test", post(test_connection))
        .route("/connections/{id}/authorize", post(authorize_connection))
        .route("/connections/{id}/http-view", get(connection_http_view))
        .route("/connections/{id}/audit", get(connection_audit))
        .route(
            "/oauth-clients",
            get(list_oauth_clients).post(create_oauth_client),
        )
        .route(
            "/oauth-clients/{id}",
            get(get_oauth_client)
                .put(replace_oauth_client)
                .delete(delete_oauth_client),
        )
        .route_layer(axum::middleware::from_fn_with_state(state, require_api_key))
        .fallback(not_found)
}

async fn require_api_key(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let presented = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, key) = v.split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| key.trim())
        });
    match presented {
        Some(key) if state.api_key.verify(key) => next.run(req).await,
        _ => WebError::Unauthorized.into_response(),
    }
}

async fn not_found(req: Request) -> WebError {
    WebError::NotFound(format!("{} {}", req.method(), req.uri().path()))
}

/// A JSON body whose rejections use the API's error shape and never echo values back (a
/// misplaced secret must not return in an error).
pub(crate) struct ApiJson<T>(pub(crate) T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = WebError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(value)) => Ok(Self(value)),
            Err(rejection) => {
                let text = rejection.body_text();
                let message = match text.find("invalid ") {
                    Some(i) => format!(
                        "{}a value has the wrong type or form (values are not repeated here)",
                        &text[..i]
                    ),
                    None => text,
                };
                Err(WebError::BadRequest(message))
            }
        }
    }
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

#[derive(Deserialize)]
#[serde(untagged)]
enum Level {
    Number(u64),
    Text(String),
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
}

impl ConnectionBody {
    fn into_parts(self) -> (ConnectionDraft, ConnectionSecrets) {
        let draft = ConnectionDraft {
            name: self.name,
            api_type: self.api_type,
            subdomain: self.subdomain,
            auth_type: self.auth_type,
            username: self.username,
            api_token_provided: self.api_token.is_some(),
            oauth_client: self.oauth_client,
            scopes: self.scopes,
            concurrency_level: self.concurrency_level.map(|l| match l {
                Level::Number(n) => n.to_string(),
                Level::Text(t) => t,
            }),
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
}

impl OAuthClientBody {
    fn into_parts(self) -> (OAuthClientDraft, OAuthClientSecrets) {
        let draft = OAuthClientDraft {
            name: self.name,
            client_id: self.client_id,
            client_secret_provided: self.client_secret.is_some(),
        };
        let secrets = OAuthClientSecrets {
            client_secret: self.client_secret.map(ClientSecret::new),
        };
        (draft, secrets)
    }
}

async fn list_connections(State(s): State<AppState>) -> WebResult<Response> {
    Ok(Json(s.app.list_connections().await?).into_response())
}

async fn create_connection(
    State(s): State<AppState>,
    ApiJson(body): ApiJson<ConnectionBody>,
) -> WebResult<Response> {
    let (draft, secrets) = body.into_parts();
    let saved = s.app.create_connection(&draft, secrets, &s.actor).await?;
    Ok((StatusCode::CREATED, Json(SavedBody::from(saved))).into_response())
}

async fn get_connection(State(s): State<AppState>, Path(id): Path<String>) -> WebResult<Response> {
    Ok(Json(s.app.get_connection(&id).await?).into_response())
}

async fn replace_connection(
    State(s): State<AppState>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<ConnectionBody>,
) -> WebResult<Response> {
    let (draft, secrets) = body.into_parts();
    let saved = s
        .app
        .update_connection(&id, &draft, secrets, &s.actor)
        .await?;
    Ok(Json(SavedBody::from(saved)).into_response())
}

async fn delete_connection(
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> WebResult<Response> {
    s.app.delete_connection(&id, &s.actor).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn test_connection(State(s): State<AppState>, Path(id): Path<String>) -> WebResult<Response> {
    Ok(Json(s.app.test_connection(&id).await?).into_response())
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
    Path(id): Path<String>,
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
    Path(id): Path<String>,
) -> WebResult<Response> {
    Ok(Json(s.app.connection_http_view(&id).await?).into_response())
}

async fn connection_audit(
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> WebResult<Response> {
    Ok(Json(s.app.connection_audit(&id).await?).into_response())
}

async fn list_oauth_clients(State(s): State<AppState>) -> WebResult<Response> {
    Ok(Json(s.app.list_oauth_clients().await?).into_response())
}

async fn create_oauth_client(
    State(s): State<AppState>,
    ApiJson(body): ApiJson<OAuthClientBody>,
) -> WebResult<Response> {
    let (draft, secrets) = body.into_parts();
    let saved = s.app.create_oauth_client(&draft, secrets, &s.actor).await?;
    Ok((StatusCode::CREATED, Json(SavedBody::from(saved))).into_response())
}

async fn get_oauth_client(
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> WebResult<Response> {
    Ok(Json(s.app.get_oauth_client(&id).await?).into_response())
}

async fn replace_oauth_client(
    State(s): State<AppState>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<OAuthClientBody>,
) -> WebResult<Response> {
    let (draft, secrets) = body.into_parts();
    let saved = s
        .app
        .update_oauth_client(&id, &draft, secrets, &s.actor)
        .await?;
    Ok(Json(SavedBody::from(saved)).into_response())
}

async fn delete_oauth_client(
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> WebResult<Response> {
    s.app.delete_oauth_client(&id, &s.actor).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
