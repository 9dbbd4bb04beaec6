//! jiralink's HTTP server: the web UI, the REST API under `/v1`, health checks, metrics, and
//! the OAuth 2.0 routes a browser visits.
//!
//! Routes are grouped by how they are guarded:
//! - The web UI (`/connections…`, `/exports…`, `/runs…`, `/settings/users`): a session
//!   cookie, and the session's CSRF token on every unsafe request
//!   (`session::require_session`); without a session a page sends the browser to
//!   `/login?next=…`. `/login` and `/static/…` need no session.
//! - `/v1/…` and `/metrics`: a bearer API key on every route, the server's ([`api_key`]) or a
//!   user's; JSON in and out; secrets are write-only. Starting an OAuth 2.0 authorization is
//!   one of them: whoever approves on Atlassian's page binds the connection, so no
//!   unauthenticated route starts one.
//! - `/connection/oauth2callback`: no key, the single-use `state` guards it; a signed-in
//!   browser goes back to the connection's panel, others get a small page.
//! - `/healthz`, `/readyz`: no key, no data.
//!
//! Every route is listed, with its guard, in one table (`routes`), which the router is built
//! from and the test that every route refuses strangers walks.
//!
//! Every response carries the security headers of `headers` (CSP, framing, referrer policy).
//! Handlers are thin: extract, call [`jiralink_app::App`], map the result.

mod api;
pub mod api_key;
mod error;
mod headers;
mod hooks;
mod metrics;
mod oauth;
mod openapi;
mod routes;
mod session;
mod ui;

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use jiralink_app::App;

pub use self::metrics::{
    HTTP_REQUEST_DURATION_BUCKETS, HTTP_REQUEST_DURATION_SECONDS, describe_metrics,
};
pub use api_key::{
    API_KEY_ENV, API_KEY_FILE, API_KEY_SETTING, ApiKeyHash, ApiKeySource, NewApiKey, ServerKey,
    load_or_create_api_key, reset_api_key,
};
pub use error::{WebError, WebResult};
pub use oauth::callback_page;

/// The largest request body any route reads: the forms of the UI, `/login` and the JSON
/// bodies of `/v1`. A larger body is answered with `413` (a page for the UI and `/login`, the
/// JSON error `body_too_large` under `/v1`).
pub const MAX_BODY_BYTES: usize = 1 << 20;

/// The largest body of records `POST /v1/imports/{id}/run` takes (64 MiB), streamed to a file
/// in the data directory rather than held in memory. Larger inputs are saved on the server
/// (`spec.input`) and run without a body. A larger body is answered with `413
/// body_too_large`.
pub const MAX_RECORDS_BYTES: u64 = 64 * 1024 * 1024;

/// Every route of the server as (method, path, guard): `session`, `api-key` or `public`.
/// For tests that must call every route: the list comes from the table the router is built
/// from, so a route added later is in it.
#[doc(hidden)]
#[must_use]
pub fn route_list() -> Vec<(String, String, &'static str)> {
    routes::table()
        .into_iter()
        .map(|r| {
            let guard = match r.guard {
                routes::Guard::Session => "session",
                routes::Guard::ApiKey => "api-key",
                routes::Guard::Public(_) => "public",
            };
            (r.method.to_string(), r.path, guard)
        })
        .collect()
}

/// What every handler needs.
#[derive(Debug, Clone)]
pub struct AppState {
    app: App,
    /// The key created on the first start (or JIRALINK_API_KEY); users' own keys are in
    /// the store.
    api_key: Arc<ServerKey>,
    options: Arc<ServerOptions>,
}

/// How the server runs beyond the application itself.
#[derive(Clone, Default)]
pub struct ServerOptions {
    /// Set by `jiralink serve --demo`: the simulator's sample credentials, shown on the
    /// sign-in page.
    pub demo: Option<DemoInfo>,
    /// Renders the Prometheus exposition for `/metrics`.
    pub metrics: Option<Arc<dyn Fn() -> String + Send + Sync>>,
}

impl std::fmt::Debug for ServerOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerOptions")
            .field("demo", &self.demo)
            .field("metrics", &self.metrics.is_some())
            .finish()
    }
}

/// Sample credentials of the demo simulator. They open nothing but the simulator running
/// in the same process, which is why they may be shown.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DemoInfo {
    /// e.g. `http://127.0.0.1:PORT/site/demo`
    pub site_url: String,
    /// What to type in the Subdomain field, e.g. `demo`.
    pub subdomain: String,
    pub email: String,
    pub api_token: String,
    /// The name of the OAuth 2.0 client resource created for the demo (if any).
    pub oauth_client_name: Option<String>,
    pub client_id: String,
    pub client_secret: String,
    /// The demo's administrator, so a newcomer can sign in.
    pub admin_username: String,
    pub admin_password: String,
}

impl AppState {
    /// Requests to `/v1` must present the server's key (`api_key`: a given hash, or the one
    /// stored in the database) or a user's key.
    pub fn new(app: App, api_key: impl Into<ServerKey>) -> Self {
        Self {
            app,
            api_key: Arc::new(api_key.into()),
            options: Arc::new(ServerOptions::default()),
        }
    }

    #[must_use]
    pub fn with_options(mut self, options: ServerOptions) -> Self {
        self.options = Arc::new(options);
        self
    }

    pub fn app(&self) -> &App {
        &self.app
    }

    pub fn options(&self) -> &ServerOptions {
        &self.options
    }
}

/// The whole server.
pub fn router(state: AppState) -> Router {
    catch_panics(routes::router(&state))
        // Every extractor that reads a body (JSON, forms) stops at this size; the routes that
        // take more (webhook deliveries, uploads, records) read their bodies with their own.
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            metrics::track_requests,
        ))
        .layer(axum::middleware::map_response_with_state(
            state.clone(),
            headers::security_headers,
        ))
        .layer(axum::middleware::map_response(common_headers))
        .with_state(state)
}

/// A handler that panics gets the `500 internal` every other internal failure gets, with the
/// same headers, instead of a connection closed without an answer. Nothing of the panic goes
/// into the answer; the panic itself is in the log, where the process's panic hook wrote it.
fn catch_panics<S: Clone + Send + Sync + 'static>(router: Router<S>) -> Router<S> {
    router.layer(tower_http::catch_panic::CatchPanicLayer::custom(
        |_panic: Box<dyn std::any::Any + Send + 'static>| {
            tracing::error!("a request handler panicked; answered 500 internal");
            error::WebError::Internal.into_response()
        },
    ))
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

/// How long a readiness check waits for the database: a load balancer's check must get an
/// answer well before its own timeout, not after the pool's acquire timeout.
const READY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

async fn readyz(State(state): State<AppState>) -> Response {
    let ping = tokio::time::timeout(READY_TIMEOUT, state.app.ping_database()).await;
    match ping {
        Ok(Ok(())) => axum::Json(serde_json::json!({"status": "ready"})).into_response(),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "readiness check: the store is not reachable");
            unavailable()
        }
        Err(_) => {
            tracing::warn!(
                timeout_secs = READY_TIMEOUT.as_secs(),
                "readiness check: the store did not answer in time"
            );
            unavailable()
        }
    }
}

fn unavailable() -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        axum::Json(serde_json::json!({"status": "unavailable"})),
    )
        .into_response()
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

    /// A panicking handler is answered `500 internal` in the usual shape, and the answer
    /// carries nothing of the panic (here a planted secret in its message).
    #[tokio::test]
    async fn a_panicking_handler_is_answered_500_without_the_panic() {
        use tower::ServiceExt as _;
        const CANARY: &str = "CANARY-panic-payload-5e1d9a0c";
        let router: Router = catch_panics(Router::new().fallback(|| async {
            if CANARY.len() > 1 {
                panic!("a handler failed holding {CANARY}");
            }
            "unreachable"
        }));
        let res = router
            .oneshot(
                axum::http::Request::builder()
                    .uri("/anything")
                    .body(axum::body::Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let body = axum::body::to_bytes(res.into_body(), 1 << 16)
            .await
            .unwrap();
        let text = String::from_utf8(body.to_vec()).unwrap();
        let json: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(json["error"]["code"], "internal", "{text}");
        assert!(!text.contains(CANARY), "{text}");
        assert!(!text.contains("panic"), "{text}");
    }
}
