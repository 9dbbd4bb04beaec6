//! jiralink's HTTP server: the REST API under `/v1`, health checks, and the OAuth 2.0 routes
//! a browser visits.
//!
//! Routes are grouped by how they are guarded:
//! - `/v1/…`: a bearer API key on every route ([`api_key`]); JSON in and out; secrets are
//!   write-only. Starting an OAuth 2.0 authorization is one of them: whoever approves on
//!   Atlassian's page binds the connection, so no unauthenticated route starts one.
//! - `/connection/oauth2callback`: no key, the single-use `state` guards it; it answers with a
//!   small page and never redirects.
//! - `/healthz`, `/readyz`: no key, no data.
//!
//! Handlers are thin: extract, call [`jiralink_app::App`], map the result.

mod api;
pub mod api_key;
mod error;
mod oauth;

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use jiralink_app::{Actor, App};
use jiralink_domain::AuditSource;

pub use api_key::{
    API_KEY_ENV, API_KEY_FILE, ApiKeyHash, ApiKeySource, NewApiKey, load_or_create_api_key,
};
pub use error::{WebError, WebResult};
pub use oauth::callback_page;

/// What every handler needs.
#[derive(Debug, Clone)]
pub struct AppState {
    app: App,
    api_key: Arc<ApiKeyHash>,
    actor: Actor,
}

impl AppState {
    /// Requests to `/v1` must present the key whose hash is `api_key`; their changes are
    /// audited as made by the API.
    pub fn new(app: App, api_key: ApiKeyHash) -> Self {
        Self {
            app,
            api_key: Arc::new(api_key),
            actor: Actor {
                name: "api key".to_owned(),
                source: AuditSource::Api,
            },
        }
    }

    pub fn app(&self) -> &App {
        &self.app
    }
}

/// The whole server.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .merge(oauth::routes())
        .nest("/v1", api::routes(state.clone()))
        .layer(axum::middleware::map_response(common_headers))
        .with_state(state)
}

/// `path` (no leading slash) under the server's public base URL, keeping any path prefix a
/// reverse proxy adds.
pub fn public_url(base: &url::Url, path: &str) -> url::Url {
    let mut url = base.clone();
    url.set_path(&format!("{}/{path}", base.path().trim_end_matches('/')));
    url.set_query(None);
    url.set_fragment(None);
    url
}

/// Nothing the server answers may be cached or sniffed as another type.
async fn common_headers(mut res: Response) -> Response {
    let h = res.headers_mut();
    h.entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    res
}

async fn healthz() -> Response {
    axum::Json(serde_json::json!({"status": "ok", "service": "jiralink"})).into_response()
}

async fn readyz(State(state): State<AppState>) -> Response {
    match state.app.store().count_secrets_by_key().await {
        Ok(_) => axum::Json(serde_json::json!({"status": "ready"})).into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check: the store is not reachable");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                axum::Json(serde_json::json!({"status": "unavailable"})),
            )
                .into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_urls_keep_the_base_path() {
        for (base, want) in [
            ("http://127.0.0.1:8080", "http://127.0.0.1:8080/healthz"),
            ("https://x.example/jl/", "https://x.example/jl/healthz"),
        ] {
            let base = url::Url::parse(base).unwrap();
            assert_eq!(public_url(&base, "healthz").as_str(), want);
        }
        let base = url::Url::parse("https://x.example/jl?q=1").unwrap();
        assert_eq!(
            public_url(&base, "healthz").as_str(),
            "https://x.example/jl/healthz"
        );
    }
}
