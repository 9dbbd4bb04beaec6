//! Prometheus `/metrics` and the counting of the server's own requests.
//!
//! The crates record through the `metrics` facade; only the binary installs a recorder and
//! hands [`crate::ServerOptions::metrics`] a function that renders the exposition, so a
//! library user (or a test) chooses where the numbers go. What is recorded:
//!
//! | metric | type | labels | recorded by |
//! |---|---|---|---|
//! | `jiralink_http_requests_total` | counter | `method`, `route`, `status` | [`track_requests`] |
//! | `jiralink_http_request_duration_seconds` | histogram | `method`, `route` | [`track_requests`] |
//! | `jiralink_jira_requests_total` | counter | `status` (code, or `error`) | the Atlassian client, per attempt |
//! | `jiralink_rate_limit_waits_total` | counter | | the Atlassian client, before a retry after 429/503 |
//! | `jiralink_rate_limit_wait_seconds_total` | counter | | the same waits, each rounded up to a whole second |
//! | `jiralink_token_refreshes_total` | counter | `outcome` (`ok`, `failed`, `rejected`) | the app, per refresh request |
//! | `jiralink_connections` | gauge | `state` | computed from the store at each scrape |
//! | `jiralink_connections_offline` | gauge | | computed from the store at each scrape |
//!
//! `route` is the route's template (`/v1/connections/{id}`), never the requested path, so ids
//! and names never reach the metrics and the number of series stays bounded.

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use jiralink_domain::ConnectionState;

use crate::{AppState, WebError};

/// The histogram of the server's response times.
pub const HTTP_REQUEST_DURATION_SECONDS: &str = "jiralink_http_request_duration_seconds";

/// Buckets of [`HTTP_REQUEST_DURATION_SECONDS`], in seconds. Pages answer in milliseconds;
/// a connection test waits for Jira, which may take up to the request timeout (60 s).
pub const HTTP_REQUEST_DURATION_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];

const HTTP_REQUESTS_TOTAL: &str = "jiralink_http_requests_total";
const CONNECTIONS: &str = "jiralink_connections";
const CONNECTIONS_OFFLINE: &str = "jiralink_connections_offline";

/// The `route` label of a request no route matched.
const UNMATCHED: &str = "unmatched";

/// The `outcome` label values of `jiralink_token_refreshes_total`.
const TOKEN_REFRESH_OUTCOMES: [&str; 3] = ["ok", "rejected", "failed"];

/// Gives every metric jiralink records its help text and unit, and creates the counters
/// that move only on an event (rate-limit waits, token refreshes of every outcome) at 0, so
/// that a fresh server's `/metrics` lists them and alerts on them have a series to read.
/// Call it once, after the recorder is installed; a counter that already counts keeps its
/// value.
pub fn describe_metrics() {
    use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
    metrics::counter!("jiralink_rate_limit_waits_total").increment(0);
    metrics::counter!("jiralink_rate_limit_wait_seconds_total").increment(0);
    for outcome in TOKEN_REFRESH_OUTCOMES {
        metrics::counter!("jiralink_token_refreshes_total", "outcome" => outcome).increment(0);
    }
    describe_counter!(
        HTTP_REQUESTS_TOTAL,
        Unit::Count,
        "Requests the server answered, by method, route template and status code."
    );
    describe_histogram!(
        HTTP_REQUEST_DURATION_SECONDS,
        Unit::Seconds,
        "Time to answer a request, by method and route template."
    );
    describe_counter!(
        "jiralink_jira_requests_total",
        Unit::Count,
        "Requests sent to Jira (every attempt), by status code; `error` when no answer came \
         (connection failure, timeout)."
    );
    describe_counter!(
        "jiralink_rate_limit_waits_total",
        Unit::Count,
        "Waits before retrying a Jira request that was answered 429 or 503."
    );
    describe_counter!(
        "jiralink_rate_limit_wait_seconds_total",
        Unit::Seconds,
        "Time spent in those waits, each rounded up to a whole second."
    );
    describe_counter!(
        "jiralink_token_refreshes_total",
        Unit::Count,
        "OAuth 2.0 token refreshes sent, by outcome: ok, rejected (re-authorize or fix the \
         client), failed (no usable answer)."
    );
    describe_counter!(
        "jiralink_job_runs_total",
        Unit::Count,
        "Background job runs in this server, by kind and outcome (succeeded, failed, \
         abandoned when the lease was lost)."
    );
    describe_gauge!(
        CONNECTIONS,
        Unit::Count,
        "Connections by state: online, offline, untested, needs_authorization."
    );
    describe_gauge!(
        CONNECTIONS_OFFLINE,
        Unit::Count,
        "Connections offline: flows using them do not run until a test passes."
    );
}

/// Counts every request and times it. Runs after routing, so the matched route's template
/// is known.
pub(crate) async fn track_requests(
    State(_): State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    let method = method_label(req.method());
    let route = route_label(req.extensions().get::<MatchedPath>());
    let started = Instant::now();
    let res = next.run(req).await;
    let elapsed = started.elapsed().as_secs_f64();
    metrics::counter!(
        HTTP_REQUESTS_TOTAL,
        "method" => method,
        "route" => route.clone(),
        "status" => res.status().as_u16().to_string()
    )
    .increment(1);
    metrics::histogram!(
        HTTP_REQUEST_DURATION_SECONDS,
        "method" => method,
        "route" => route
    )
    .record(elapsed);
    res
}

/// A method outside the standard ones is one label, so clients cannot mint series.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        _ => "OTHER",
    }
}

/// The route template; a fallback inside a nested router matches a catch-all whose
/// template is not a route of ours.
fn route_label(matched: Option<&MatchedPath>) -> String {
    match matched {
        Some(p) if !p.as_str().contains("__private__") => p.as_str().to_owned(),
        _ => UNMATCHED.to_owned(),
    }
}

/// `GET /metrics`: the Prometheus text exposition, behind the API key like `/v1` (the
/// numbers tell how many connections exist and how they fare; see [`crate::routes`]).
pub(crate) async fn scrape(State(state): State<AppState>) -> Response {
    let Some(render) = state.options().metrics.clone() else {
        return WebError::NoMetrics.into_response();
    };
    // A scrape that cannot read the store fails, rather than report stale gauges as current.
    let connections = match state.app().list_connections().await {
        Ok(list) => list,
        Err(e) => return WebError::App(e).into_response(),
    };
    record_connection_gauges(connections.iter().map(|c| &c.state));
    let mut res = render().into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    res
}

/// Sets every state's gauge, zeros included: a state whose last connection left must read 0,
/// not keep its old value.
fn record_connection_gauges<'a>(states: impl Iterator<Item = &'a ConnectionState>) {
    let mut counts = StateCounts::default();
    for state in states {
        match state {
            ConnectionState::Online => counts.online += 1,
            ConnectionState::Offline { .. } => counts.offline += 1,
            ConnectionState::Untested => counts.untested += 1,
            ConnectionState::NeedsAuthorization => counts.needs_authorization += 1,
        }
    }
    for (label, n) in [
        ("online", counts.online),
        ("offline", counts.offline),
        ("untested", counts.untested),
        ("needs_authorization", counts.needs_authorization),
    ] {
        metrics::gauge!(CONNECTIONS, "state" => label).set(f64::from(n));
    }
    metrics::gauge!(CONNECTIONS_OFFLINE).set(f64::from(counts.offline));
}

#[derive(Default)]
struct StateCounts {
    online: u32,
    offline: u32,
    untested: u32,
    needs_authorization: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_outside_the_standard_ones_share_a_label() {
        assert_eq!(method_label(&Method::GET), "GET");
        assert_eq!(method_label(&Method::DELETE), "DELETE");
        let custom = Method::from_bytes(b"PURGE").unwrap();
        assert_eq!(method_label(&custom), "OTHER");
    }
}
