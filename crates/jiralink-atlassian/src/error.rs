//! Every way a call to Atlassian can fail, as one enum.
//!
//! Responses are classified by status and by the body shape the service sends:
//!
//! | Service | Error body |
//! |---|---|
//! | Jira platform | `{"errorMessages":[…],"errors":{"field":"message"}}` (ErrorCollection) |
//! | Jira Service Management | `{"errorMessage":"…","i18nErrorMessage":{…},"errors":[{"detail":…}]}` |
//! | Customer Service Management | `{"errors":[{"status","code","title","detail"}]}` (RestError) |
//! | OAuth 2.0 | `{"error":"invalid_grant","error_description":"…"}` |
//! | API gateway | `{"code":401,"message":"Unauthorized"}` |
//! | Site host 401 | plain text plus a `WWW-Authenticate` challenge |
//!
//! Invariants: `Display` is a short lower-case fragment that never holds a credential, an
//! `Authorization` value or a URL with user information. Text taken from response bodies passes
//! through [`Masker`](crate::observe::Masker) (which removes the credentials of the request) and
//! is shortened before it is stored.

use std::{collections::BTreeMap, fmt, time::Duration};

use reqwest::header::{CONTENT_TYPE, HeaderMap, LOCATION, RETRY_AFTER, WWW_AUTHENTICATE};
use serde_json::Value;
use time::{OffsetDateTime, format_description::well_known::Rfc3339};

use crate::observe::{MASK, Masker, is_secret_field};

/// The longest server-provided text kept in an error.
const MAX_MESSAGE_CHARS: usize = 300;
/// The most server-provided messages kept in an error.
const MAX_MESSAGES: usize = 10;

/// Why a request never got a usable answer.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum TransportKind {
    /// The host name did not resolve.
    Dns,
    /// No connection could be made (refused, unreachable, connect timeout).
    Connect,
    /// The request or the response took longer than the configured timeout.
    Timeout,
    /// The TLS handshake failed, usually an untrusted or mismatched certificate.
    Tls,
    /// The connection was closed or reset before a complete response arrived.
    Reset,
    /// Anything else below HTTP.
    Other,
}

impl fmt::Display for TransportKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Dns => "the host name did not resolve",
            Self::Connect => "no connection could be made",
            Self::Timeout => "the request timed out",
            Self::Tls => "the TLS handshake failed",
            Self::Reset => "the connection closed before a response arrived",
            Self::Other => "the request failed below HTTP",
        })
    }
}

/// What made a non-repeatable request's outcome unknown.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum AmbiguousCause {
    /// The request was sent and no answer arrived in time.
    Timeout,
    /// The connection closed after the request was sent.
    Reset,
    /// A 5xx answer without a body, typically from a proxy in front of Jira.
    BodilessServerError(u16),
    /// A success whose body was larger than the answer cap, so it was not read.
    AnswerTooLarge {
        /// The cap, in bytes.
        limit: u64,
    },
}

impl fmt::Display for AmbiguousCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Timeout => f.write_str("the request timed out after it was sent"),
            Self::Reset => f.write_str("the connection closed after the request was sent"),
            Self::BodilessServerError(status) => write!(f, "a {status} answer had no body"),
            Self::AnswerTooLarge { limit } => write!(
                f,
                "the success answer was larger than the {} jiralink reads",
                human_bytes(*limit)
            ),
        }
    }
}

/// A failed call to an Atlassian API.
#[derive(Debug, thiserror::Error)]
pub enum AtlassianError {
    /// 401: the credentials were missing, wrong, expired or not valid for this host.
    #[error("jira rejected the credentials (401){}", suffix(.hint.as_deref()))]
    Unauthorized {
        /// What the answer said (body message or `WWW-Authenticate` challenge), if anything.
        hint: Option<String>,
    },
    /// 403: authenticated, but not allowed.
    #[error("jira refused the request (403){}{}", scope_suffix(.missing_scope.as_deref()), suffix(Some(.message.as_str())))]
    Forbidden {
        /// The first scope the answer named as needed, when it named one.
        missing_scope: Option<String>,
        /// What the answer said.
        message: String,
    },
    /// 403 to a dynamic-webhook operation: Jira lets only OAuth 2.0 (3LO) apps manage
    /// webhooks, and only with the scope `manage:jira-webhook`.
    #[error("jira refused the webhook request (403): dynamic webhooks need an oauth 2.0 connection granted the scope manage:jira-webhook{}", suffix(Some(.message.as_str())))]
    WebhooksNotAllowed {
        /// What the answer said.
        message: String,
    },
    /// 404: absent, or hidden from this account. `html` marks Atlassian's page for unknown sites.
    #[error("not found (404){}", suffix(.message.as_deref()))]
    NotFound {
        /// What the answer said.
        message: Option<String>,
        /// Whether the answer was an HTML page rather than an API error.
        html: bool,
    },
    /// 429: a rate limit was hit.
    #[error("rate limited by jira (429){}{}", wait_suffix(*.retry_after), suffix(.reason.as_deref()))]
    RateLimited {
        /// `Retry-After`, the least time to wait.
        retry_after: Option<Duration>,
        /// `RateLimit-Reason`, e.g. `jira-burst-based`.
        reason: Option<String>,
        /// `X-RateLimit-Reset`, when the limit resets.
        reset: Option<OffsetDateTime>,
    },
    /// 400, 413 or 422: the request itself was refused.
    #[error("jira refused the request as invalid ({status}){}", messages_suffix(.messages, .field_errors))]
    BadRequest {
        /// The HTTP status.
        status: u16,
        /// General messages.
        messages: Vec<String>,
        /// Messages per field.
        field_errors: BTreeMap<String, String>,
    },
    /// 409: a conflicting change.
    #[error("jira reported a conflict (409){}", messages_suffix(.messages, &BTreeMap::new()))]
    Conflict {
        /// What the answer said.
        messages: Vec<String>,
    },
    /// 410: the API was removed (e.g. the old `/search`).
    #[error("this jira api has been removed (410){}", messages_suffix(.messages, &BTreeMap::new()))]
    Gone {
        /// What the answer said.
        messages: Vec<String>,
    },
    /// 5xx.
    #[error("jira answered with a server error ({status}){}", messages_suffix(.messages, &BTreeMap::new()))]
    Server {
        /// The HTTP status.
        status: u16,
        /// What the answer said.
        messages: Vec<String>,
        /// `Retry-After`, when a 503 carried one.
        retry_after: Option<Duration>,
        /// Whether the answer had no body at all.
        bodiless: bool,
    },
    /// Any other non-success status (405, 412, 415, …).
    #[error("jira answered with an unexpected status ({status}){}", messages_suffix(.messages, &BTreeMap::new()))]
    UnexpectedStatus {
        /// The HTTP status.
        status: u16,
        /// What the answer said.
        messages: Vec<String>,
    },
    /// An OAuth 2.0 error body (`{"error":…}`).
    #[error("the authorization server refused the request ({status}): {error}{}", suffix(.description.as_deref()))]
    OAuth {
        /// The HTTP status.
        status: u16,
        /// The RFC 6749 error code, e.g. `invalid_grant`.
        error: String,
        /// `error_description`.
        description: Option<String>,
    },
    /// No usable answer: DNS, connect, TLS, timeout, reset.
    #[error("{kind}{}", suffix(Some(.detail.as_str())))]
    Transport {
        /// What went wrong.
        kind: TransportKind,
        /// The cause chain, without URLs.
        detail: String,
        /// Whether the request may have reached the server.
        request_sent: bool,
    },
    /// A request that must not be repeated failed in a way that leaves its effect unknown.
    #[error(
        "the outcome of {operation} is unknown ({cause}); it was not sent again: check in jira \
         whether it took effect before repeating it"
    )]
    Ambiguous {
        /// The operation, e.g. `createIssue`.
        operation: &'static str,
        /// What happened.
        cause: AmbiguousCause,
    },
    /// A 3xx: Jira's APIs do not redirect, so a proxy or a wrong URL is in the way.
    #[error("the server redirected the request ({status}{}); jira's apis never redirect, so a proxy or a wrong url is in the way", location_suffix(.location.as_deref()))]
    Redirect {
        /// The HTTP status.
        status: u16,
        /// Where it pointed, without query or user information.
        location: Option<String>,
    },
    /// The answer was not JSON (typically an HTML page) where JSON was expected.
    #[error("the server answered {status} with {content_type} where jira sends json")]
    UnexpectedContent {
        /// The HTTP status.
        status: u16,
        /// The `Content-Type`, or `an empty body`.
        content_type: String,
    },
    /// The JSON did not have the expected shape.
    #[error("could not read the answer to {what}: {detail}")]
    Decode {
        /// What was being read.
        what: &'static str,
        /// The decoder's complaint (never the body).
        detail: String,
    },
    /// The connection cannot reach this API (wrong API type, cloud id not yet known, …).
    #[error("{what} is not available for this connection: {fix}")]
    NotAvailable {
        /// What was asked for.
        what: &'static str,
        /// What to do about it.
        fix: &'static str,
    },
    /// The token source could not produce an access token.
    #[error("no access token is available: {message}")]
    Credentials {
        /// Why, with what to do.
        message: String,
    },
    /// The token source failed for a reason that says nothing about the credentials (its
    /// storage was unavailable, say): the connection itself may well be fine.
    #[error("no access token could be obtained: {message}")]
    TokenUnavailable {
        /// Why, with what to do.
        message: String,
    },
    /// The answer was larger than jiralink reads
    /// ([`MAX_RESPONSE_BYTES`](crate::http::MAX_RESPONSE_BYTES) for Jira's APIs); what was read
    /// of it was dropped.
    #[error(
        "the answer ({status}{}) is larger than the {} jiralink reads from atlassian, so it was \
         dropped; no jira answer is that large: check that the site url template, the api \
         gateway and the auth server of the configuration point at atlassian, not at a proxy or \
         another server",
        declared_suffix(*.declared),
        human_bytes(*.limit)
    )]
    ResponseTooLarge {
        /// The HTTP status of the answer.
        status: u16,
        /// The cap, in bytes.
        limit: u64,
        /// The `Content-Length` the answer declared, if it declared one.
        declared: Option<u64>,
        /// How many bytes of the body were read before reading stopped (0 when the declared
        /// length was refused): at most the cap plus one chunk.
        received: u64,
    },
    /// The HTTP client could not be built (e.g. an unreadable CA file).
    #[error("the http client could not be set up: {detail}")]
    Client {
        /// What is wrong.
        detail: String,
    },
}

fn suffix(text: Option<&str>) -> String {
    match text {
        Some(t) if !t.is_empty() => format!(": {t}"),
        _ => String::new(),
    }
}

fn scope_suffix(scope: Option<&str>) -> String {
    scope.map_or_else(String::new, |s| format!("; missing scope {s}"))
}

fn wait_suffix(wait: Option<Duration>) -> String {
    wait.map_or_else(String::new, |d| format!("; retry after {}s", d.as_secs()))
}

fn declared_suffix(declared: Option<u64>) -> String {
    declared.map_or_else(String::new, |d| format!(", declaring {}", human_bytes(d)))
}

/// `n` bytes in the largest binary unit that keeps it whole, e.g. `64 MiB`, `65537 bytes`.
fn human_bytes(n: u64) -> String {
    for (shift, unit) in [(30, "GiB"), (20, "MiB"), (10, "KiB")] {
        if n >= 1 << shift && n.is_multiple_of(1 << shift) {
            return format!("{} {unit}", n >> shift);
        }
    }
    format!("{n} bytes")
}

fn location_suffix(location: Option<&str>) -> String {
    location.map_or_else(String::new, |l| format!(" to {l}"))
}

fn messages_suffix(messages: &[String], fields: &BTreeMap<String, String>) -> String {
    let mut parts: Vec<String> = messages.to_vec();
    parts.extend(fields.iter().map(|(k, v)| format!("{k}: {v}")));
    if parts.is_empty() {
        String::new()
    } else {
        format!(": {}", parts.join("; "))
    }
}

impl AtlassianError {
    /// Whether repeating the same request later may succeed. Rate limits, 500, 502, 503, 504
    /// and connection failures qualify (Jira's server errors pass; a 500 that does not is
    /// repeated at most [`crate::RetryPolicy::max_retries`] times); whether a *particular* request may be repeated is decided by its
    /// operation (see [`crate::retry`]), which turns unsafe repeats into [`Self::Ambiguous`].
    #[must_use]
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::RateLimited { .. } => true,
            Self::Server { status, .. } => matches!(*status, 500 | 502 | 503 | 504),
            Self::Transport { kind, .. } => match kind {
                TransportKind::Connect | TransportKind::Timeout | TransportKind::Reset => true,
                TransportKind::Dns | TransportKind::Tls | TransportKind::Other => false,
            },
            Self::Unauthorized { .. }
            | Self::Forbidden { .. }
            | Self::WebhooksNotAllowed { .. }
            | Self::NotFound { .. }
            | Self::BadRequest { .. }
            | Self::Conflict { .. }
            | Self::Gone { .. }
            | Self::UnexpectedStatus { .. }
            | Self::OAuth { .. }
            | Self::Ambiguous { .. }
            | Self::Redirect { .. }
            | Self::UnexpectedContent { .. }
            | Self::Decode { .. }
            | Self::NotAvailable { .. }
            | Self::Credentials { .. }
            | Self::TokenUnavailable { .. }
            | Self::ResponseTooLarge { .. }
            | Self::Client { .. } => false,
        }
    }

    /// A stable, machine-readable name of the failure, for logs, run records and front ends.
    /// Codes are added, never renamed.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::Unauthorized { .. } => "jira_unauthorized",
            Self::Forbidden { .. } => "jira_forbidden",
            Self::WebhooksNotAllowed { .. } => "jira_webhooks_not_allowed",
            Self::NotFound { .. } => "jira_not_found",
            Self::RateLimited { .. } => "jira_rate_limited",
            Self::BadRequest { .. } => "jira_bad_request",
            Self::Conflict { .. } => "jira_conflict",
            Self::Gone { .. } => "jira_gone",
            Self::Server { .. } => "jira_server_error",
            Self::UnexpectedStatus { .. } => "jira_unexpected_status",
            Self::OAuth { .. } => "oauth_error",
            Self::Transport { .. } => "transport",
            Self::Ambiguous { .. } => "outcome_unknown",
            Self::Redirect { .. } => "redirected",
            Self::UnexpectedContent { .. } => "unexpected_content",
            Self::Decode { .. } => "decode_failed",
            Self::NotAvailable { .. } => "not_available",
            Self::Credentials { .. } => "no_access_token",
            Self::TokenUnavailable { .. } => "token_unavailable",
            Self::ResponseTooLarge { .. } => "response_too_large",
            Self::Client { .. } => "client_setup",
        }
    }

    /// The HTTP status behind the error, when there was an answer.
    #[must_use]
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Unauthorized { .. } => Some(401),
            Self::Forbidden { .. } | Self::WebhooksNotAllowed { .. } => Some(403),
            Self::NotFound { .. } => Some(404),
            Self::RateLimited { .. } => Some(429),
            Self::Conflict { .. } => Some(409),
            Self::Gone { .. } => Some(410),
            Self::BadRequest { status, .. }
            | Self::Server { status, .. }
            | Self::UnexpectedStatus { status, .. }
            | Self::OAuth { status, .. }
            | Self::Redirect { status, .. }
            | Self::ResponseTooLarge { status, .. }
            | Self::UnexpectedContent { status, .. } => Some(*status),
            Self::Transport { .. }
            | Self::Ambiguous { .. }
            | Self::Decode { .. }
            | Self::NotAvailable { .. }
            | Self::Credentials { .. }
            | Self::TokenUnavailable { .. }
            | Self::Client { .. } => None,
        }
    }

    /// The least time to wait before repeating, when the answer said.
    #[must_use]
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::RateLimited { retry_after, .. } | Self::Server { retry_after, .. } => {
                *retry_after
            }
            _ => None,
        }
    }

    /// Classifies a non-success answer. `masker` removes the request's credentials from any
    /// text kept; `now` turns HTTP-date `Retry-After` values into waits.
    pub(crate) fn from_response(
        status: u16,
        headers: &HeaderMap,
        body: &[u8],
        now: OffsetDateTime,
        masker: &Masker,
    ) -> Self {
        if (300..400).contains(&status) {
            let location = header_str(headers, LOCATION.as_str()).map(safe_location);
            return Self::Redirect { status, location };
        }
        let parsed = ErrorBody::parse(headers, body, masker);
        let retry_after =
            header_str(headers, RETRY_AFTER.as_str()).and_then(|v| parse_retry_after(v, now));
        if let Some((error, description)) = parsed.oauth.clone() {
            // The token endpoint speaks RFC 6749, whatever the status.
            if status == 400 || status == 401 || status == 403 {
                return Self::OAuth {
                    status,
                    error,
                    description,
                };
            }
        }
        match status {
            401 => {
                let challenge =
                    header_str(headers, WWW_AUTHENTICATE.as_str()).map(|c| masker.clean(c));
                Self::Unauthorized {
                    hint: parsed.first().or(challenge),
                }
            }
            403 => {
                let message = parsed.joined();
                Self::Forbidden {
                    missing_scope: find_scope(&message),
                    message,
                }
            }
            404 => Self::NotFound {
                message: if parsed.html { None } else { parsed.first() },
                html: parsed.html,
            },
            409 => Self::Conflict {
                messages: parsed.messages,
            },
            410 => Self::Gone {
                messages: parsed.messages,
            },
            429 => Self::RateLimited {
                retry_after,
                reason: header_str(headers, "ratelimit-reason").map(|r| masker.clean(r)),
                reset: header_str(headers, "x-ratelimit-reset")
                    .and_then(|r| OffsetDateTime::parse(r.trim(), &Rfc3339).ok()),
            },
            400 | 413 | 422 => Self::BadRequest {
                status,
                messages: parsed.messages,
                field_errors: parsed.field_errors,
            },
            500..=599 => Self::Server {
                status,
                messages: parsed.messages,
                retry_after,
                bodiless: body.iter().all(u8::is_ascii_whitespace),
            },
            _ => Self::UnexpectedStatus {
                status,
                messages: parsed.messages,
            },
        }
    }

    /// Classifies a failure of the HTTP stack.
    pub(crate) fn from_reqwest(error: &reqwest::Error) -> Self {
        let kind = transport_kind(error);
        // `is_connect` means no connection was made, so nothing reached the server. Everything
        // else (including a request-phase timeout) may have been received.
        let request_sent = !error.is_connect() && kind != TransportKind::Dns;
        Self::Transport {
            kind,
            detail: cause_chain(error),
            request_sent,
        }
    }
}

/// Reads a header as text.
fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Scheme, host, port and path of a `Location`, without user information or query.
fn safe_location(location: &str) -> String {
    match url::Url::parse(location) {
        Ok(url) => {
            let host = url.host_str().unwrap_or_default();
            let port = url.port().map(|p| format!(":{p}")).unwrap_or_default();
            format!("{}://{host}{port}{}", url.scheme(), url.path())
        }
        // A relative location: keep the path only.
        Err(_) => location
            .split(['?', '#'])
            .next()
            .unwrap_or_default()
            .chars()
            .take(MAX_MESSAGE_CHARS)
            .collect(),
    }
}

/// `Retry-After` as delay-seconds or an HTTP-date (RFC 9110 §10.2.3). Garbage yields `None`.
#[must_use]
pub fn parse_retry_after(value: &str, now: OffsetDateTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    if let Ok(secs) = value.parse::<f64>() {
        return Duration::try_from_secs_f64(secs).ok();
    }
    let at = httpdate::parse_http_date(value).ok()?;
    let at = OffsetDateTime::from(at);
    let wait = at - now;
    Some(if wait.is_negative() {
        Duration::ZERO
    } else {
        Duration::try_from(wait).unwrap_or(Duration::ZERO)
    })
}

/// The first word of `text` shaped like an OAuth scope (`verb:thing[:product]`).
fn find_scope(text: &str) -> Option<String> {
    text.split(|c: char| c.is_whitespace() || matches!(c, ',' | '|' | '(' | ')' | '"' | '\''))
        .map(|w| w.trim_end_matches(['.', ';']))
        .find(|w| {
            let mut parts = w.split(':');
            let verb = parts.next().unwrap_or_default();
            let rest = parts.next().unwrap_or_default();
            matches!(
                verb,
                "read" | "write" | "manage" | "delete" | "offline_access"
            ) && !rest.is_empty()
                && w.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, ':' | '-' | '.' | '_'))
        })
        .map(str::to_owned)
}

fn transport_kind(error: &reqwest::Error) -> TransportKind {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    let mut kind = None;
    while let Some(e) = source {
        if e.downcast_ref::<rustls::Error>().is_some() {
            return TransportKind::Tls;
        }
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            if io
                .get_ref()
                .is_some_and(|inner| inner.downcast_ref::<rustls::Error>().is_some())
            {
                return TransportKind::Tls;
            }
            kind = kind.or(match io.kind() {
                std::io::ErrorKind::ConnectionRefused
                | std::io::ErrorKind::HostUnreachable
                | std::io::ErrorKind::NetworkUnreachable
                | std::io::ErrorKind::AddrNotAvailable => Some(TransportKind::Connect),
                std::io::ErrorKind::ConnectionReset
                | std::io::ErrorKind::ConnectionAborted
                | std::io::ErrorKind::BrokenPipe
                | std::io::ErrorKind::UnexpectedEof => Some(TransportKind::Reset),
                std::io::ErrorKind::TimedOut => Some(TransportKind::Timeout),
                _ => None,
            });
        }
        if let Some(h) = e.downcast_ref::<hyper::Error>()
            && (h.is_incomplete_message() || h.is_canceled() || h.is_closed())
        {
            kind = kind.or(Some(TransportKind::Reset));
        }
        let text = e.to_string().to_ascii_lowercase();
        if text.contains("dns error") || text.contains("failed to lookup address") {
            return TransportKind::Dns;
        }
        if text.contains("certificate") || text.contains("handshake") {
            kind = kind.or(Some(TransportKind::Tls));
        }
        source = e.source();
    }
    if error.is_timeout() {
        return TransportKind::Timeout;
    }
    kind.unwrap_or(if error.is_connect() {
        TransportKind::Connect
    } else {
        TransportKind::Other
    })
}

/// The causes of `error` joined with `: `, skipping reqwest's own line, which names the URL.
fn cause_chain(error: &reqwest::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut source = std::error::Error::source(error);
    while let Some(e) = source {
        let text = e.to_string();
        if !text.is_empty() && !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = e.source();
    }
    let joined = parts.join(": ");
    truncate(&joined)
}

pub(crate) fn truncate(text: &str) -> String {
    let mut out: String = text.trim().chars().take(MAX_MESSAGE_CHARS).collect();
    if text.trim().chars().count() > MAX_MESSAGE_CHARS {
        out.push('…');
    }
    out
}

/// The useful parts of any Atlassian error body.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct ErrorBody {
    pub(crate) messages: Vec<String>,
    pub(crate) field_errors: BTreeMap<String, String>,
    pub(crate) oauth: Option<(String, Option<String>)>,
    pub(crate) html: bool,
}

impl ErrorBody {
    pub(crate) fn parse(headers: &HeaderMap, body: &[u8], masker: &Masker) -> Self {
        let content_type = header_str(headers, CONTENT_TYPE.as_str())
            .unwrap_or_default()
            .to_ascii_lowercase();
        let text = String::from_utf8_lossy(body);
        let trimmed = text.trim_start();
        let mut out = Self::default();
        if content_type.contains("html") || trimmed.starts_with('<') {
            out.html = true;
            return out;
        }
        match serde_json::from_str::<Value>(trimmed) {
            Ok(value) => Self::from_value(&value, masker),
            Err(_) => {
                if !trimmed.is_empty() {
                    out.messages.push(truncate(
                        &masker.clean(trimmed.lines().next().unwrap_or_default()),
                    ));
                }
                out.finish()
            }
        }
    }

    /// The useful parts of an error body already parsed, e.g. one element's `elementErrors`
    /// in a bulk answer.
    pub(crate) fn from_value(value: &Value, masker: &Masker) -> Self {
        let mut out = Self::default();
        let Value::Object(map) = value else {
            return out;
        };
        let clean = |s: &str| truncate(&masker.clean(s));
        let text_of = |v: &Value| v.as_str().map(clean);
        if let Some(Value::Array(list)) = map.get("errorMessages") {
            out.messages.extend(list.iter().filter_map(text_of));
        }
        match map.get("errors") {
            Some(Value::Object(fields)) => {
                for (k, v) in fields {
                    if let Some(v) = text_of(v) {
                        // A field named like a secret may echo one we do not know.
                        let v = if is_secret_field(k) {
                            MASK.to_owned()
                        } else {
                            v
                        };
                        out.field_errors.insert(clean(k), v);
                    }
                }
            }
            // JSM 422 and CSM RestError list objects with detail/title.
            Some(Value::Array(items)) => {
                for item in items {
                    let detail = item
                        .get("detail")
                        .or_else(|| item.get("title"))
                        .or_else(|| item.get("message"))
                        .and_then(text_of);
                    out.messages.extend(detail);
                }
            }
            _ => {}
        }
        if let Some(m) = map.get("errorMessage").and_then(text_of) {
            out.messages.insert(0, m);
        }
        if let Some(m) = map.get("message").and_then(text_of) {
            out.messages.push(m);
        }
        if let Some(error) = map.get("error").and_then(text_of) {
            let description = map.get("error_description").and_then(text_of);
            out.oauth = Some((error, description));
        }
        out.finish()
    }

    fn finish(mut self) -> Self {
        self.messages.retain(|m| !m.is_empty());
        self.messages.truncate(MAX_MESSAGES);
        self
    }

    fn first(&self) -> Option<String> {
        self.messages.first().cloned()
    }

    fn joined(&self) -> String {
        let mut parts = self.messages.clone();
        parts.extend(self.field_errors.iter().map(|(k, v)| format!("{k}: {v}")));
        parts.join("; ")
    }
}

#[cfg(test)]
mod tests {
    use pretty_assertions::assert_eq;
    use reqwest::header::HeaderValue;
    use time::macros::datetime;

    use super::*;

    const NOW: OffsetDateTime = datetime!(2026-01-05 09:30 UTC);
    const CANARY: &str = "CANARY-3b1f-token-9a8e7d6c5b4a";

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    fn classify(status: u16, pairs: &[(&'static str, &str)], body: &str) -> AtlassianError {
        AtlassianError::from_response(
            status,
            &headers(pairs),
            body.as_bytes(),
            NOW,
            &Masker::new([CANARY]),
        )
    }

    #[test]
    fn platform_error_collection() {
        let e = classify(
            400,
            &[("content-type", "application/json")],
            r#"{"errorMessages":["Field 'priority' is required"],"errors":{"projectKey":"Project keys must start with an uppercase letter"}}"#,
        );
        match &e {
            AtlassianError::BadRequest {
                status,
                messages,
                field_errors,
            } => {
                assert_eq!(*status, 400);
                assert_eq!(messages, &["Field 'priority' is required"]);
                assert_eq!(
                    field_errors["projectKey"],
                    "Project keys must start with an uppercase letter"
                );
            }
            other => panic!("{other:?}"),
        }
        assert!(!e.is_retryable());
        assert_eq!(
            e.to_string(),
            "jira refused the request as invalid (400): Field 'priority' is required; \
             projectKey: Project keys must start with an uppercase letter"
        );
    }

    #[test]
    fn jsm_and_csm_bodies() {
        let jsm = classify(
            422,
            &[],
            r#"{"errorMessage":"Invalid request","errors":[{"code":"VALIDATION_ERROR","detail":"The field is required","status":422,"title":"Validation failed"}],"i18nErrorMessage":{"i18nKey":"k","parameters":[]}}"#,
        );
        let AtlassianError::BadRequest { messages, .. } = jsm else {
            panic!("{jsm:?}")
        };
        assert_eq!(messages, ["Invalid request", "The field is required"]);

        let csm = classify(
            404,
            &[],
            r#"{"errors":[{"status":"404","code":"NOT_FOUND","title":"Not Found","detail":"No such product"}]}"#,
        );
        let AtlassianError::NotFound { message, html } = csm else {
            panic!("{csm:?}")
        };
        assert_eq!(message.as_deref(), Some("No such product"));
        assert!(!html);
    }

    #[test]
    fn oauth_body() {
        let e = classify(
            403,
            &[],
            r#"{"error":"invalid_grant","error_description":"Unknown or invalid refresh token."}"#,
        );
        let AtlassianError::OAuth {
            status,
            error,
            description,
        } = &e
        else {
            panic!("{e:?}")
        };
        assert_eq!((*status, error.as_str()), (403, "invalid_grant"));
        assert_eq!(
            description.as_deref(),
            Some("Unknown or invalid refresh token.")
        );
        assert!(!e.is_retryable());
    }

    #[test]
    fn unauthorized_keeps_the_hint() {
        let site = classify(
            401,
            &[
                ("content-type", "text/plain;charset=UTF-8"),
                (
                    "www-authenticate",
                    "OAuth realm=\"https://demo.atlassian.net\"",
                ),
            ],
            "Client must be authenticated to access this resource.",
        );
        assert_eq!(
            site.to_string(),
            "jira rejected the credentials (401): Client must be authenticated to access this \
             resource."
        );
        let gateway = classify(
            401,
            &[],
            r#"{"code":401,"message":"Unauthorized; scope does not match"}"#,
        );
        let AtlassianError::Unauthorized { hint } = gateway else {
            panic!()
        };
        assert_eq!(hint.as_deref(), Some("Unauthorized; scope does not match"));
        let bare = classify(
            401,
            &[("www-authenticate", "Bearer error=\"invalid_token\"")],
            "",
        );
        let AtlassianError::Unauthorized { hint } = bare else {
            panic!()
        };
        assert_eq!(hint.as_deref(), Some("Bearer error=\"invalid_token\""));
    }

    #[test]
    fn forbidden_names_the_missing_scope() {
        let e = classify(
            403,
            &[],
            r#"{"errorMessages":["Unauthorized; scope does not match. The token needs one of these scope sets: read:jira-user | read:user:jira read:avatar:jira"],"errors":{}}"#,
        );
        let AtlassianError::Forbidden {
            missing_scope,
            message,
        } = &e
        else {
            panic!("{e:?}")
        };
        assert_eq!(missing_scope.as_deref(), Some("read:jira-user"));
        assert!(message.contains("read:user:jira"));
        assert!(e.to_string().contains("missing scope read:jira-user"));
        assert_eq!(find_scope("You do not have permission"), None);
    }

    #[test]
    fn rate_limits_carry_their_headers() {
        let e = classify(
            429,
            &[
                ("retry-after", "7"),
                ("ratelimit-reason", "jira-burst-based"),
                ("x-ratelimit-reset", "2026-01-05T09:31:00Z"),
            ],
            "",
        );
        let AtlassianError::RateLimited {
            retry_after,
            reason,
            reset,
        } = &e
        else {
            panic!("{e:?}")
        };
        assert_eq!(*retry_after, Some(Duration::from_secs(7)));
        assert_eq!(reason.as_deref(), Some("jira-burst-based"));
        assert_eq!(*reset, Some(datetime!(2026-01-05 09:31 UTC)));
        assert!(e.is_retryable());
        assert_eq!(e.retry_after(), Some(Duration::from_secs(7)));
        assert_eq!(
            e.to_string(),
            "rate limited by jira (429); retry after 7s: jira-burst-based"
        );
    }

    #[test]
    fn retry_after_forms() {
        assert_eq!(parse_retry_after("12", NOW), Some(Duration::from_secs(12)));
        assert_eq!(parse_retry_after(" 0 ", NOW), Some(Duration::ZERO));
        assert_eq!(
            parse_retry_after("1.5", NOW),
            Some(Duration::from_millis(1500))
        );
        assert_eq!(
            parse_retry_after("Mon, 05 Jan 2026 09:30:42 GMT", NOW),
            Some(Duration::from_secs(42))
        );
        assert_eq!(
            parse_retry_after("Mon, 05 Jan 2026 09:00:00 GMT", NOW),
            Some(Duration::ZERO)
        );
        for bad in ["", "soon", "-3", "NaN", "1e400", "inf"] {
            assert_eq!(parse_retry_after(bad, NOW), None, "{bad}");
        }
    }

    #[test]
    fn statuses_map_to_variants() {
        type Check = fn(&AtlassianError) -> bool;
        let cases: [(u16, &str, Check); 7] = [
            (404, "<html>Site temporarily unavailable</html>", |e| {
                matches!(
                    e,
                    AtlassianError::NotFound {
                        html: true,
                        message: None
                    }
                )
            }),
            (409, r#"{"errorMessages":["x"]}"#, |e| {
                matches!(e, AtlassianError::Conflict { .. })
            }),
            (410, r#"{"errorMessages":["removed"]}"#, |e| {
                matches!(e, AtlassianError::Gone { .. })
            }),
            (413, r#"{"errorMessages":["too many"]}"#, |e| {
                matches!(e, AtlassianError::BadRequest { status: 413, .. })
            }),
            (503, "", |e| {
                matches!(
                    e,
                    AtlassianError::Server {
                        status: 503,
                        bodiless: true,
                        ..
                    }
                ) && e.is_retryable()
            }),
            (502, r#"{"errorMessages":["bad gateway"]}"#, |e| {
                matches!(
                    e,
                    AtlassianError::Server {
                        status: 502,
                        bodiless: false,
                        ..
                    }
                ) && e.is_retryable()
            }),
            (412, r#"{"errorMessage":"opt in"}"#, |e| {
                matches!(e, AtlassianError::UnexpectedStatus { status: 412, .. })
            }),
        ];
        for (status, body, check) in cases {
            let e = classify(status, &[], body);
            assert!(check(&e), "{status}: {e:?}");
            assert_eq!(e.status(), Some(status));
        }
    }

    #[test]
    fn redirects_keep_only_a_safe_location() {
        let e = classify(
            302,
            &[(
                "location",
                "https://user:CANARY-pw@login.example.com/sso?token=CANARY-q",
            )],
            "",
        );
        let text = e.to_string();
        assert!(text.contains("https://login.example.com/sso"), "{text}");
        assert!(!text.contains("CANARY"), "{text}");
        assert!(!e.is_retryable());
    }

    #[test]
    fn display_never_shows_known_secrets_from_bodies() {
        let body = format!(
            r#"{{"errorMessages":["token {CANARY} is not valid"],"errors":{{"apiToken":"{CANARY}"}}}}"#
        );
        for status in [400, 401, 403, 404, 409, 410, 500, 503] {
            let e = classify(status, &[("retry-after", CANARY)], &body);
            let shown = format!("{e} {e:?}");
            assert!(!shown.contains(CANARY), "{status}: {shown}");
        }
    }

    #[test]
    fn long_messages_are_shortened() {
        let long = "x".repeat(5000);
        let e = classify(400, &[], &format!(r#"{{"errorMessages":["{long}"]}}"#));
        assert!(e.to_string().len() < 400);
    }
}
