//! Listening, routing and the per-request pipeline.
//!
//! Every request on the one port goes through:
//!
//! 1. `/_sim/…` → the control API ([`crate::control`]); nothing below applies.
//! 2. **Site resolution** (prefix stripping, so product routes are written once):
//!    * `Host: {sub}.localhost[:port]` → site `{sub}` (site host);
//!    * `/site/{sub}/…` → site `{sub}` (site host), path becomes `/…`;
//!    * `/ex/jira/{cloudId}/rest/…` → gateway, path becomes `/rest/…`;
//!    * `/jsm/csm/cloudid/{cloudId}/…` → gateway, path becomes `/jsm/csm/…`;
//!    * `/rest/…` and `/_edge/…` → the default site `demo` (site host);
//!    * anything else (`/authorize`, `/oauth/token`, `/me`, `/avatars/…`, `/images/…`) → the authorization
//!      server and API gateway root, without a site.
//!
//!    An unknown subdomain answers 404 HTML ("Site temporarily unavailable"); an unknown cloud id
//!    answers 404 `{"code":404,"message":"Not Found"}` as the gateway does.
//! 3. **Knobs**: latency, a random latency spike, then one fault decision (dropped connection,
//!    held request or held answer, `fail_next`, lost answer, random 5xx, the chaos draw, random
//!    lost answer of a write), then (site requests only) the burst limiter and, for OAuth
//!    bearer traffic, the hourly points quota.
//! 4. The router ([`crate::platform`], [`crate::oauth`], and later product modules). A lost
//!    answer is produced in full here and then thrown away: the connection closes instead.
//! 5. The request log records method, path, masked query, selected headers, status (with `lost`
//!    for a lost or cut answer) and duration; the [`RetryWatch`] notes each request's arrival
//!    and how it ended (see [`crate::retry_watch`]).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::Extension;
use axum::extract::Path as UrlPath;
use axum::http::{HeaderMap, HeaderValue, Request, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use futures::StreamExt as _;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};
use tower::ServiceExt as _;

use crate::config::SimConfig;
use crate::control::Control;
use crate::error::SimError;
use crate::errors::ApiError;
use crate::identity::DEFAULT_SITE;
use crate::knobs::{FailSpec, FaultAction, Knobs, MethodClass, QuotaScope, QuotaStatus, is_write};
use crate::retry_watch::{Attempt, RetryWatch};
use crate::state::{LoggedRequest, SimState, SiteContext, Via};
use crate::tls::TlsMaterial;

/// Extra hourly-quota points a handler charges for its request (beyond the 1-point base), set as
/// a response extension: `response.extensions_mut().insert(QuotaCost(n))`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuotaCost(pub u64);

/// Entry point.
#[derive(Debug)]
pub struct Sim;

/// A running simulator. Dropping it without [`SimHandle::shutdown`] leaves the server running
/// until the runtime ends.
#[derive(Debug)]
pub struct SimHandle {
    state: SimState,
    addr: SocketAddr,
    tls: Option<TlsMaterial>,
    shutdown: watch::Sender<bool>,
    task: JoinHandle<()>,
}

struct App {
    state: SimState,
    router: Router,
    control: Router,
    scheme: &'static str,
}

#[derive(Debug)]
struct DroppedConnection;

impl std::fmt::Display for DroppedConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped by the fault knob")
    }
}

impl std::error::Error for DroppedConnection {}

impl Sim {
    /// Binds, builds the state and starts serving in the background.
    pub async fn start(config: SimConfig) -> Result<SimHandle, SimError> {
        if !config.bind.ip().is_loopback() {
            return Err(SimError::NotLoopback(config.bind));
        }
        config.knobs.validate().map_err(SimError::Config)?;
        if config
            .oauth_callbacks
            .iter()
            .any(|c| url::Url::parse(c).is_err())
        {
            return Err(SimError::Config(
                "every OAuth callback must be an absolute URL".to_owned(),
            ));
        }
        let listener = TcpListener::bind(config.bind)
            .await
            .map_err(|source| SimError::Bind {
                addr: config.bind,
                source,
            })?;
        let addr = listener.local_addr()?;
        let tls = if config.tls {
            Some(crate::tls::generate(
                crate::clock::SimClock::default().now(),
            )?)
        } else {
            None
        };
        let scheme = if tls.is_some() { "https" } else { "http" };
        let host = match addr {
            SocketAddr::V4(a) => a.ip().to_string(),
            SocketAddr::V6(a) => format!("[{}]", a.ip()),
        };
        let base_url = format!("{scheme}://{host}:{}", addr.port());
        let state = SimState::new(config, base_url);
        crate::webhooks::start(&state);
        let app = Arc::new(App {
            router: app_router(state.clone()),
            control: crate::control::router().with_state(state.clone()),
            state: state.clone(),
            scheme,
        });
        let (shutdown, rx) = watch::channel(false);
        let acceptor = tls.as_ref().map(|t| t.acceptor.clone());
        let task = tokio::spawn(serve(listener, acceptor, app, rx));
        tracing::info!(%addr, scheme, "jiralink simulator listening");
        Ok(SimHandle {
            state,
            addr,
            tls,
            shutdown,
            task,
        })
    }
}

impl SimHandle {
    /// `http(s)://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        self.state.base_url().to_owned()
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// `<base>/site/{subdomain}`: the site URL template jiralink is configured with.
    pub fn site_url_template(&self) -> String {
        format!("{}/site/{{subdomain}}", self.state.base_url())
    }

    /// URL of one site.
    pub fn site_url(&self, subdomain: &str) -> String {
        format!("{}/site/{subdomain}", self.state.base_url())
    }

    /// The API gateway (`api.atlassian.com`), the same origin as the base URL.
    pub fn api_gateway(&self) -> String {
        self.base_url()
    }

    /// The authorization server (`auth.atlassian.com`), the same origin as the base URL.
    pub fn auth_server(&self) -> String {
        self.base_url()
    }

    /// PEM file of the CA that signed the server certificate (with `tls` only).
    pub fn ca_cert_pem_path(&self) -> Option<&Path> {
        self.tls.as_ref().map(TlsMaterial::ca_path)
    }

    /// The control handle.
    pub fn control(&self) -> Control {
        Control::new(self.state.clone())
    }

    /// Sample credentials of the seeded directory.
    pub fn samples(&self) -> &crate::identity::SampleCredentials {
        self.state.samples()
    }

    /// Stops accepting, lets open connections finish for up to two seconds, then closes them.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        let _ = self.task.await;
        crate::webhooks::stop(&self.state);
    }
}

fn app_router(state: SimState) -> Router {
    Router::new()
        .merge(crate::platform::router())
        .merge(crate::jsm::router(state.clone()))
        .merge(crate::csm::router())
        .merge(crate::agile::router())
        .merge(crate::webhooks::router())
        .merge(crate::oauth::router())
        .route("/avatars/{file}", get(avatar))
        .route("/images/icons/{kind}/{file}", get(icon))
        .route("/_edge/tenant_info", get(tenant_info))
        .fallback(not_found)
        .with_state(state)
}

async fn not_found(uri: Uri) -> ApiError {
    ApiError::platform(
        StatusCode::NOT_FOUND,
        &[&format!("null for uri: {}", uri.path())],
        &[],
    )
}

async fn avatar(UrlPath(file): UrlPath<String>) -> Response {
    let letter = file
        .chars()
        .find(char::is_ascii_alphabetic)
        .unwrap_or('?')
        .to_ascii_uppercase();
    let svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"48\" height=\"48\">\
         <circle cx=\"24\" cy=\"24\" r=\"24\" fill=\"#0052CC\"/>\
         <text x=\"24\" y=\"31\" font-size=\"20\" text-anchor=\"middle\" fill=\"#fff\">{letter}</text></svg>"
    );
    ([(header::CONTENT_TYPE, "image/svg+xml")], svg).into_response()
}

/// A blue 16×16 square: status icons are PNG files on Jira Cloud.
const ICON_PNG: &[u8] = &[
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x10, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1f, 0xf3, 0xff,
    0x61, 0x00, 0x00, 0x00, 0x18, 0x49, 0x44, 0x41, 0x54, 0x78, 0xda, 0x63, 0x60, 0x08, 0x3a, 0xf3,
    0x9f, 0x22, 0x3c, 0x6a, 0xc0, 0xa8, 0x01, 0xa3, 0x06, 0x0c, 0x17, 0x03, 0x00, 0x70, 0xd7, 0x1d,
    0x1f, 0x93, 0x94, 0xd7, 0x2f, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60,
    0x82,
];

/// Priority, status and issue-type icons, so every URL the simulator hands out resolves
/// without contacting Atlassian.
async fn icon(UrlPath((_kind, file)): UrlPath<(String, String)>) -> Response {
    if file.ends_with(".png") {
        return ([(header::CONTENT_TYPE, "image/png")], ICON_PNG).into_response();
    }
    let svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"16\" height=\"16\">\
               <rect width=\"16\" height=\"16\" rx=\"3\" fill=\"#0052CC\"/></svg>";
    ([(header::CONTENT_TYPE, "image/svg+xml")], svg).into_response()
}

/// `GET {site}/_edge/tenant_info`: Atlassian's edge answers it without credentials, which is
/// how Basic-auth clients learn the cloud id.
async fn tenant_info(ctx: Option<Extension<SiteContext>>) -> Response {
    match ctx {
        Some(Extension(ctx)) => {
            Json(serde_json::json!({ "cloudId": ctx.site.cloud_id })).into_response()
        }
        None => ApiError::gateway(StatusCode::NOT_FOUND, "Not Found").into_response(),
    }
}

async fn serve(
    listener: TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    app: Arc<App>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            _ = shutdown.changed() => break,
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let app = app.clone();
                let tls = tls.clone();
                let sd = shutdown.clone();
                conns.spawn(async move {
                    match tls {
                        Some(acceptor) => {
                            if let Ok(stream) = acceptor.accept(stream).await {
                                serve_connection(stream, app, sd).await;
                            }
                        }
                        None => serve_connection(stream, app, sd).await,
                    }
                });
            }
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
    drop(listener);
    let drain = async { while conns.join_next().await.is_some() {} };
    if tokio::time::timeout(Duration::from_secs(2), drain)
        .await
        .is_err()
    {
        conns.shutdown().await;
    }
}

async fn serve_connection<I>(io: I, app: Arc<App>, mut shutdown: watch::Receiver<bool>)
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
        let app = app.clone();
        async move { handle(&app, req.map(Body::new)).await }
    });
    let conn =
        hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(io), service);
    tokio::pin!(conn);
    tokio::select! {
        _ = conn.as_mut() => {}
        _ = shutdown.changed() => {
            conn.as_mut().graceful_shutdown();
            let _ = conn.await;
        }
    }
}

const LOGGED_HEADERS: &[&str] = &[
    "accept",
    "content-type",
    "user-agent",
    "x-atlassian-token",
    "x-experimentalapi",
    "idempotency-key",
];
const SECRET_QUERY_KEYS: &[&str] = &[
    "code",
    "client_secret",
    "access_token",
    "refresh_token",
    "token",
    "password",
];

fn logged_headers(headers: &HeaderMap) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    if let Some(auth) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        let scheme = auth.split_whitespace().next().unwrap_or_default();
        out.insert("authorization".to_owned(), format!("{scheme} [redacted]"));
    }
    for name in LOGGED_HEADERS {
        if let Some(v) = headers.get(*name).and_then(|v| v.to_str().ok()) {
            out.insert((*name).to_owned(), v.to_owned());
        }
    }
    out
}

fn masked_query(query: Option<&str>) -> Option<String> {
    let query = query?;
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| {
            let v = if SECRET_QUERY_KEYS.contains(&k.as_ref()) {
                "[redacted]".into()
            } else {
                v
            };
            (k.into_owned(), v.into_owned())
        })
        .collect();
    Some(
        url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish(),
    )
}

async fn handle(app: &App, req: Request<Body>) -> Result<Response, DroppedConnection> {
    let path = req.uri().path().to_owned();
    if path == "/_sim" || path.starts_with("/_sim/") {
        return Ok(app
            .control
            .clone()
            .oneshot(req)
            .await
            .unwrap_or_else(|e| match e {}));
    }
    let started = Instant::now();
    let state = &app.state;
    let mut entry = LoggedRequest {
        id: 0,
        at: state.now(),
        method: req.method().to_string(),
        path,
        query: masked_query(req.uri().query()),
        host: req
            .headers()
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .map(str::to_owned),
        site: None,
        via: None,
        headers: logged_headers(req.headers()),
        status: None,
        lost: false,
        duration_ms: 0,
    };
    // The body is read here, once, so the retry watch can tell a request sent again from
    // another one; handlers read it from memory as they would from the connection.
    let (parts, body) = req.into_parts();
    let Ok(body) = axum::body::to_bytes(body, usize::MAX).await else {
        return Err(DroppedConnection);
    };
    let attempt = Attempt::of(
        parts
            .headers
            .get(header::AUTHORIZATION)
            .map(|v| v.as_bytes()),
        parts.headers.get(header::HOST).map(|v| v.as_bytes()),
        parts.method.as_str(),
        parts.uri.path_and_query().map_or("", |pq| pq.as_str()),
        &body,
        is_write(&parts.method, api_path(&entry.path)),
    );
    let watch = state.shared(RetryWatch::default);
    watch.arrive(
        attempt,
        &format!("{} {}", entry.method, entry.path),
        state.now(),
    );
    let req = Request::from_parts(parts, Body::from(body));
    let outcome = process(app, req, &mut entry).await;
    entry.status = match &outcome {
        Outcome::Answer(response) | Outcome::Lost(response) | Outcome::Cut(response) => {
            Some(response.status().as_u16())
        }
        Outcome::Dropped => None,
    };
    entry.lost = matches!(outcome, Outcome::Lost(_) | Outcome::Cut(_));
    let (failed, retry_after) = match &outcome {
        Outcome::Answer(response) => {
            let status = response.status();
            let limited = status == StatusCode::TOO_MANY_REQUESTS
                || status == StatusCode::SERVICE_UNAVAILABLE;
            let retry_after = response
                .headers()
                .get(header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .filter(|_| limited);
            (
                status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error(),
                retry_after,
            )
        }
        Outcome::Lost(_) | Outcome::Cut(_) | Outcome::Dropped => (true, None),
    };
    watch.answered(attempt, failed, retry_after, state.now());
    entry.duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    if state.knobs().log_requests {
        let status = match (entry.status, entry.lost) {
            (None, _) => "dropped".to_owned(),
            (Some(s), true) => format!("{s} (answer lost)"),
            (Some(s), false) => s.to_string(),
        };
        let query = entry
            .query
            .as_deref()
            .map(|q| format!("?{q}"))
            .unwrap_or_default();
        println!(
            "{} {}{} -> {} ({} ms)",
            entry.method, entry.path, query, status, entry.duration_ms
        );
    }
    state.request_log().push(entry);
    match outcome {
        Outcome::Answer(response) => Ok(response),
        Outcome::Lost(response) => {
            // A body may be produced lazily; reading it to the end means all the handler does
            // has happened before the client sees the connection close.
            let _ = axum::body::to_bytes(response.into_body(), usize::MAX).await;
            Err(DroppedConnection)
        }
        Outcome::Cut(response) => cut(response).await.ok_or(DroppedConnection),
        // An error from the service makes hyper close the connection without writing anything,
        // so the client sees a reset or EOF instead of a response.
        Outcome::Dropped => Err(DroppedConnection),
    }
}

/// What became of a request in the pipeline.
enum Outcome {
    /// Send this response.
    Answer(Response),
    /// Close the connection; no handler ran.
    Dropped,
    /// The handler ran and produced this response, which is not sent.
    Lost(Response),
    /// The handler ran and produced this response, of which only the status, the headers and
    /// half the body are sent.
    Cut(Response),
}

/// The path below `/rest/` (`/rest/api/3/issue`), whatever site or gateway prefix it came with.
fn api_path(path: &str) -> &str {
    path.find("/rest/").map_or(path, |at| &path[at..])
}

/// `response` with its full `Content-Length` but only half its body, then an error, so the
/// connection closes mid-answer; `None` for a body too short to cut (the connection closes
/// before anything is sent).
async fn cut(response: Response) -> Option<Response> {
    let (mut parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX).await.ok()?;
    if bytes.len() < 2 {
        return None;
    }
    parts
        .headers
        .insert(header::CONTENT_LENGTH, HeaderValue::from(bytes.len()));
    let half = bytes.slice(..bytes.len() / 2);
    // The error comes only after a pause, so hyper sends the head and the half first instead
    // of dropping them with the connection.
    let error = futures::stream::once(async {
        tokio::task::yield_now().await;
        Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "answer cut by the fault knob",
        ))
    });
    let chunks = futures::stream::iter([Ok::<_, std::io::Error>(half)]).chain(error);
    Some(Response::from_parts(parts, Body::from_stream(chunks)))
}

fn host_subdomain(host: &str) -> Option<&str> {
    let name = match host.rsplit_once(':') {
        Some((name, port)) if port.chars().all(|c| c.is_ascii_digit()) => name,
        _ => host,
    };
    let sub = name.strip_suffix(".localhost")?;
    (!sub.is_empty() && !sub.contains('.')).then_some(sub)
}

fn is_identity_path(path: &str) -> bool {
    path == "/authorize"
        || path.starts_with("/authorize/")
        || path.starts_with("/oauth/")
        || path == "/me"
        || path.starts_with("/avatars/")
        || path.starts_with("/images/")
}

fn rewrite(req: &mut Request<Body>, new_path: &str) {
    let pq = match req.uri().query() {
        Some(q) => format!("{new_path}?{q}"),
        None => new_path.to_owned(),
    };
    if let Ok(uri) = pq.parse::<Uri>() {
        *req.uri_mut() = uri;
    }
}

/// Resolves the addressed site and strips routing prefixes.
fn resolve(
    app: &App,
    mut req: Request<Body>,
) -> Result<(Request<Body>, Option<SiteContext>), ApiError> {
    let state = &app.state;
    let base = state.base_url();
    let path = req.uri().path().to_owned();
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_owned);
    if let Some(host) = host.as_deref()
        && let Some(sub) = host_subdomain(host)
    {
        if is_identity_path(&path) {
            return Ok((req, None));
        }
        let site = state
            .directory()
            .sites
            .get(sub)
            .cloned()
            .ok_or_else(|| ApiError::site_not_found(sub))?;
        let ctx = SiteContext {
            site,
            via: Via::SiteHost,
            base: format!("{}://{host}", app.scheme),
        };
        return Ok((req, Some(ctx)));
    }
    if let Some(rest) = path.strip_prefix("/site/") {
        let (sub, tail) = rest.split_once('/').unwrap_or((rest, ""));
        let site = state
            .directory()
            .sites
            .get(sub)
            .cloned()
            .ok_or_else(|| ApiError::site_not_found(sub))?;
        rewrite(&mut req, &format!("/{tail}"));
        let ctx = SiteContext {
            base: format!("{base}/site/{sub}"),
            site,
            via: Via::SiteHost,
        };
        return Ok((req, Some(ctx)));
    }
    for (prefix, inner) in [("/ex/jira/", "/"), ("/jsm/csm/cloudid/", "/jsm/csm/")] {
        if let Some(rest) = path.strip_prefix(prefix) {
            let (cloud_id, tail) = rest.split_once('/').unwrap_or((rest, ""));
            let site = state
                .directory()
                .site_by_cloud_id(cloud_id)
                .cloned()
                .ok_or_else(ApiError::cloud_id_not_found)?;
            if inner == "/" && !tail.starts_with("rest/") {
                return Err(ApiError::gateway(StatusCode::NOT_FOUND, "Not Found"));
            }
            rewrite(&mut req, &format!("{inner}{tail}"));
            let ctx = SiteContext {
                base: format!("{base}{prefix}{cloud_id}"),
                site,
                via: Via::Gateway,
            };
            return Ok((req, Some(ctx)));
        }
    }
    if path.starts_with("/rest/") || path.starts_with("/_edge/") {
        let site = state
            .directory()
            .sites
            .get(DEFAULT_SITE)
            .cloned()
            .ok_or_else(|| ApiError::site_not_found(DEFAULT_SITE))?;
        let ctx = SiteContext {
            site,
            via: Via::SiteHost,
            base: base.to_owned(),
        };
        return Ok((req, Some(ctx)));
    }
    Ok((req, None))
}

fn fail_response(spec: &FailSpec) -> Response {
    let status = StatusCode::from_u16(spec.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let message = format!(
        "Simulated failure: {} {}.",
        status.as_u16(),
        status.canonical_reason().unwrap_or("Error")
    );
    let mut err = ApiError::platform(status, &[&message], &[]);
    if let Some(secs) = spec.retry_after {
        err = err.with_header(header::RETRY_AFTER, &secs.to_string());
    }
    err.into_response()
}

/// The quota key of an OAuth bearer request to a site, if any.
fn quota_key(state: &SimState, headers: &HeaderMap, ctx: &SiteContext) -> Option<String> {
    if ctx.via != Via::Gateway {
        return None;
    }
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let access = state.oauth().validate_access(token.trim(), state.now())?;
    Some(match state.knobs().quota_scope {
        QuotaScope::Global => access.client_id,
        QuotaScope::Tenant => format!("{}/{}", access.client_id, ctx.site.cloud_id),
    })
}

async fn process(app: &App, req: Request<Body>, entry: &mut LoggedRequest) -> Outcome {
    let state = &app.state;
    let (req, ctx) = match resolve(app, req) {
        Ok(resolved) => resolved,
        Err(e) => return Outcome::Answer(e.into_response()),
    };
    if let Some(ctx) = &ctx {
        entry.site = Some(ctx.site.subdomain.clone());
        entry.via = Some(ctx.via);
    }
    let knobs = state.knobs();
    if knobs.latency_ms > 0 {
        tokio::time::sleep(Duration::from_millis(knobs.latency_ms)).await;
    }
    let spike = state.faults().spike(&knobs);
    if let Some(spike) = spike {
        tokio::time::sleep(spike).await;
    }
    let action = state.faults().next_action_at(
        req.method(),
        req.uri().path(),
        ctx.as_ref().map(|c| c.site.subdomain.as_str()),
        &knobs,
    );
    match action {
        FaultAction::Pass => Outcome::Answer(serve_request(app, req, ctx.as_ref(), &knobs).await),
        FaultAction::Lose => Outcome::Lost(serve_request(app, req, ctx.as_ref(), &knobs).await),
        FaultAction::Drop => Outcome::Dropped,
        FaultAction::Hold(hold) => {
            let _held = state.faults().held_guard();
            hold_for(state, hold).await;
            Outcome::Answer(
                ApiError::gateway(StatusCode::GATEWAY_TIMEOUT, "Gateway Timeout").into_response(),
            )
        }
        FaultAction::HoldAnswer(hold) => {
            let response = serve_request(app, req, ctx.as_ref(), &knobs).await;
            // The body is produced in full first, so everything the handler does has happened
            // while the answer is held.
            let (parts, body) = response.into_parts();
            let body = axum::body::to_bytes(body, usize::MAX)
                .await
                .unwrap_or_default();
            let _held = state.faults().held_guard();
            hold_for(state, hold).await;
            Outcome::Answer(Response::from_parts(parts, Body::from(body)))
        }
        FaultAction::Fail(spec) => Outcome::Answer(fail_response(&spec)),
        FaultAction::Throttle {
            status: 429,
            retry_after,
        } => {
            let mut err = ApiError::platform(
                StatusCode::TOO_MANY_REQUESTS,
                &["Rate limit exceeded."],
                &[],
            )
            .with_header(
                axum::http::HeaderName::from_static("ratelimit-reason"),
                "jira-burst-based",
            );
            if let Some(secs) = retry_after {
                err = err.with_header(header::RETRY_AFTER, &secs.to_string());
            }
            Outcome::Answer(err.into_response())
        }
        FaultAction::Throttle {
            status,
            retry_after,
        } => Outcome::Answer(fail_response(&FailSpec {
            status,
            retry_after,
        })),
        FaultAction::Cut => Outcome::Cut(serve_request(app, req, ctx.as_ref(), &knobs).await),
    }
}

/// Waits until the simulator clock has moved `hold` on, or the held requests are released.
async fn hold_for(state: &SimState, hold: Duration) {
    let release = state.faults().release_signal();
    let released = release.notified();
    let deadline = state.now() + time::Duration::try_from(hold).unwrap_or(time::Duration::MAX);
    tokio::select! {
        () = state.clock().sleep_until(deadline) => {}
        () = released => {}
    }
}

/// Rate limits, quota and the router: everything after the fault decision.
async fn serve_request(
    app: &App,
    mut req: Request<Body>,
    ctx: Option<&SiteContext>,
    knobs: &Knobs,
) -> Response {
    let state = &app.state;
    let mut quota: Option<(String, QuotaStatus)> = None;
    if let Some(ctx) = ctx {
        let now = state.now();
        let class = MethodClass::of(req.method());
        let burst = state
            .limiter()
            .check_burst(&knobs.burst, &ctx.site.subdomain, class, now);
        if let Err(limited) = burst {
            return limited.into_error().into_response();
        }
        if let Some(key) = quota_key(state, req.headers(), ctx) {
            let charged = state.limiter().charge_quota(knobs, &key, 1, now);
            match charged {
                Err(limited) => return limited.into_error().into_response(),
                Ok(Some(status)) => quota = Some((key, status)),
                Ok(None) => {}
            }
        }
        req.extensions_mut().insert(ctx.clone());
    }
    let mut response = app
        .router
        .clone()
        .oneshot(req)
        .await
        .unwrap_or_else(|e| match e {});
    if let Some((key, status)) = quota {
        let extra = response.extensions().get::<QuotaCost>().map_or(0, |c| c.0);
        let mut status = status;
        if extra > 0 {
            state.limiter().add_quota_cost(&key, extra);
            status.remaining = status.remaining.saturating_sub(extra);
        }
        status.apply(response.headers_mut());
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_subdomain_parsing() {
        assert_eq!(host_subdomain("demo.localhost:8080"), Some("demo"));
        assert_eq!(host_subdomain("acme.localhost"), Some("acme"));
        assert_eq!(host_subdomain("127.0.0.1:8080"), None);
        assert_eq!(host_subdomain("localhost:8080"), None);
        assert_eq!(host_subdomain("a.b.localhost"), None);
    }

    #[test]
    fn secret_query_values_are_masked() {
        let q = masked_query(Some("code=abc&state=xyz&client_secret=s")).expect("query");
        assert_eq!(
            q,
            "code=%5Bredacted%5D&state=xyz&client_secret=%5Bredacted%5D"
        );
    }

    #[test]
    fn authorization_keeps_only_the_scheme() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::AUTHORIZATION,
            "Basic c2VjcmV0".parse().expect("header"),
        );
        assert_eq!(
            logged_headers(&headers)["authorization"],
            "Basic [redacted]"
        );
    }
}
