//! Watching every exchange with Atlassian, with every secret masked.
//!
//! An [`Observer`] receives one [`Exchange`] per attempt: when, which operation, method, URL,
//! request headers and body, then the status, response headers and body (or the failure), and
//! how long it took. The connection debugger and logs are built on it.
//!
//! Invariant: nothing an observer receives holds a secret. Before an exchange is handed over:
//! - `Authorization`, `Proxy-Authorization`, `Cookie` and `Set-Cookie` values are replaced by
//!   [`MASK`] (the scheme, such as `Basic`, is kept);
//! - query values and JSON or form fields named like a secret (`access_token`,
//!   `refresh_token`, `client_secret`, `password`, `token`, `api_token`, `code`, `state`, …)
//!   are replaced by [`MASK`];
//! - every occurrence of the request's own credentials (the API token, `email:token` in
//!   base64, the access token, also URL-encoded or JSON-escaped) is replaced by [`MASK`],
//!   wherever it appears;
//! - bodies are cut at [`MAX_BODY_CHARS`].

use std::{
    fmt,
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

use jiralink_vault::Zeroizing;
use reqwest::header::HeaderMap;
use serde_json::Value;
use time::OffsetDateTime;
use url::Url;

/// What replaces a secret.
pub const MASK: &str = "********";
/// Bodies longer than this are cut.
pub const MAX_BODY_CHARS: usize = 64 * 1024;

/// Header names whose values are credentials.
const SECRET_HEADERS: &[&str] = &[
    "authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
];
/// Field and query names (compared lower-case, without `_` and `-`) whose values are secrets.
const SECRET_FIELDS: &[&str] = &[
    "accesstoken",
    "refreshtoken",
    "idtoken",
    "clientsecret",
    "password",
    "passwd",
    "token",
    "apitoken",
    "secret",
    "codeverifier",
    "authorization",
    "cookie",
];
/// Query and form names that are secret in OAuth exchanges but ordinary words in JSON bodies.
const SECRET_QUERY_ONLY: &[&str] = &["code", "state"];

fn normalise(name: &str) -> String {
    name.chars()
        .filter(|c| *c != '_' && *c != '-')
        .flat_map(char::to_lowercase)
        .collect()
}

pub(crate) fn is_secret_field(name: &str) -> bool {
    SECRET_FIELDS.contains(&normalise(name).as_str())
}

fn is_secret_query(name: &str) -> bool {
    is_secret_field(name) || SECRET_QUERY_ONLY.contains(&normalise(name).as_str())
}

/// Removes known secret values from text.
///
/// Holds the credentials of one request in the forms they may appear in; its `Debug` shows only
/// how many there are.
#[derive(Default)]
pub struct Masker {
    secrets: Vec<Zeroizing<String>>,
}

impl fmt::Debug for Masker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Masker({} secrets)", self.secrets.len())
    }
}

impl Masker {
    /// Shortest value treated as a secret: masking shorter strings would garble ordinary text.
    const MIN_SECRET_CHARS: usize = 4;

    /// A masker for `secrets`, each also masked URL-encoded and JSON-escaped.
    pub fn new<S: AsRef<str>>(secrets: impl IntoIterator<Item = S>) -> Self {
        let mut masker = Self::default();
        for s in secrets {
            masker.add(s.as_ref());
        }
        masker
    }

    /// Adds a secret value (and its encoded forms).
    pub fn add(&mut self, secret: &str) {
        if secret.chars().count() < Self::MIN_SECRET_CHARS {
            return;
        }
        let encoded: String = url::form_urlencoded::byte_serialize(secret.as_bytes()).collect();
        let escaped = serde_json::to_string(secret)
            .map(|s| s.trim_matches('"').to_owned())
            .unwrap_or_default();
        for form in [secret.to_owned(), encoded, escaped] {
            if form.chars().count() >= Self::MIN_SECRET_CHARS
                && !self.secrets.iter().any(|s| **s == form)
            {
                self.secrets.push(Zeroizing::new(form));
            }
        }
        // Longest first, so a secret containing another is replaced whole.
        self.secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    }

    /// `text` with every known secret replaced by [`MASK`].
    #[must_use]
    pub fn clean(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for secret in &self.secrets {
            if out.contains(secret.as_str()) {
                out = out.replace(secret.as_str(), MASK);
            }
        }
        out
    }
}

/// Header names and values, with credential headers masked (the auth scheme is kept).
#[must_use]
pub fn mask_headers(headers: &HeaderMap, masker: &Masker) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(name, value)| {
            let name = name.as_str().to_owned();
            let text = String::from_utf8_lossy(value.as_bytes()).into_owned();
            let shown = if SECRET_HEADERS.contains(&name.as_str()) {
                match text.split_once(' ') {
                    Some((scheme, _)) if name.ends_with("authorization") => {
                        format!("{scheme} {MASK}")
                    }
                    _ => MASK.to_owned(),
                }
            } else {
                masker.clean(&text)
            };
            (name, shown)
        })
        .collect()
}

/// `url` with user information and secret query values masked.
#[must_use]
pub fn mask_url(url: &Url, masker: &Masker) -> String {
    let mut url = url.clone();
    if !url.username().is_empty() {
        let _ = url.set_username(MASK);
    }
    if url.password().is_some() {
        let _ = url.set_password(Some(MASK));
    }
    if let Some(query) = url.query().map(str::to_owned) {
        url.set_query(Some(&mask_form(&query)));
    }
    masker.clean(url.as_str())
}

/// An `application/x-www-form-urlencoded` text with secret fields masked.
fn mask_form(form: &str) -> String {
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(form.as_bytes())
        .map(|(k, v)| {
            let v = if is_secret_query(&k) {
                MASK.to_owned()
            } else {
                v.into_owned()
            };
            (k.into_owned(), v)
        })
        .collect();
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

/// A request or response body made safe to show: JSON fields and form fields named like
/// secrets are masked, then every known secret value, then the text is cut at
/// [`MAX_BODY_CHARS`].
#[must_use]
pub fn mask_body(body: &[u8], content_type: Option<&str>, masker: &Masker) -> String {
    let text = String::from_utf8_lossy(body);
    let masked = match serde_json::from_str::<Value>(&text) {
        Ok(mut value) => {
            mask_json(&mut value);
            value.to_string()
        }
        Err(_) if content_type.is_some_and(|c| c.contains("application/x-www-form-urlencoded")) => {
            mask_form(&text)
        }
        Err(_) => text.into_owned(),
    };
    let clean = masker.clean(&masked);
    if clean.chars().count() > MAX_BODY_CHARS {
        let mut cut: String = clean.chars().take(MAX_BODY_CHARS).collect();
        cut.push_str("…[cut]");
        cut
    } else {
        clean
    }
}

fn mask_json(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (key, v) in map.iter_mut() {
                if is_secret_field(key) && !v.is_null() {
                    *v = Value::String(MASK.to_owned());
                } else {
                    mask_json(v);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(mask_json),
        Value::Null | Value::Bool(_) | Value::Number(_) | Value::String(_) => {}
    }
}

/// One attempt of one request, masked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Exchange {
    /// When the attempt started (from the client's clock).
    pub at: OffsetDateTime,
    /// The operation, e.g. `getCurrentUser`.
    pub operation: &'static str,
    /// 1 for the first attempt, 2 for the first retry, …
    pub attempt: u32,
    /// HTTP method.
    pub method: String,
    /// The URL, masked.
    pub url: String,
    /// Request headers, masked.
    pub request_headers: Vec<(String, String)>,
    /// Request body, masked.
    pub request_body: Option<String>,
    /// What came back.
    pub outcome: ExchangeOutcome,
    /// How long the attempt took.
    pub duration: Duration,
}

/// The answer to an [`Exchange`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExchangeOutcome {
    /// An HTTP answer (any status).
    Response {
        /// Status code.
        status: u16,
        /// Response headers, masked.
        headers: Vec<(String, String)>,
        /// Response body, masked.
        body: String,
    },
    /// No HTTP answer.
    Failed {
        /// The error, as shown to users.
        error: String,
    },
}

/// Receives every exchange. Implementations must be quick: they run on the request path.
pub trait Observer: Send + Sync + fmt::Debug {
    /// Called once per attempt, after it finished, when [`Self::records`] is true. The
    /// exchange is handed over, so keeping it costs no copy of its bodies.
    fn on_exchange(&self, exchange: Exchange);

    /// Whether this observer keeps exchanges. Masking a body parses, walks and re-serialises
    /// it, so the client only builds an [`Exchange`] for an observer that wants one.
    fn records(&self) -> bool {
        true
    }
}

/// An observer that ignores everything.
#[derive(Copy, Clone, Debug, Default)]
pub struct NoObserver;

impl Observer for NoObserver {
    fn on_exchange(&self, _exchange: Exchange) {}

    fn records(&self) -> bool {
        false
    }
}

/// An observer that keeps every exchange in memory, for the connection debugger and tests.
#[derive(Clone, Debug, Default)]
pub struct RecordingObserver {
    exchanges: Arc<Mutex<Vec<Exchange>>>,
}

impl RecordingObserver {
    /// An empty recorder.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Everything recorded so far.
    #[must_use]
    pub fn exchanges(&self) -> Vec<Exchange> {
        self.exchanges
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl Observer for RecordingObserver {
    fn on_exchange(&self, exchange: Exchange) {
        self.exchanges
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(exchange);
    }
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;
    use pretty_assertions::assert_eq;
    use reqwest::header::HeaderValue;

    use super::*;

    const TOKEN: &str = "CANARY-api-0c9d8e7f6a5b4c3d2e1f";
    const ACCESS: &str = "CANARY-access-1a2b3c4d/5e6f+7g8h";

    fn masker() -> Masker {
        let basic =
            base64::engine::general_purpose::STANDARD.encode(format!("me@example.com:{TOKEN}"));
        Masker::new([TOKEN, basic.as_str(), ACCESS])
    }

    fn assert_clean(text: &str) {
        assert!(!text.contains("CANARY"), "{text}");
    }

    #[test]
    fn credential_headers_keep_only_the_scheme() {
        let basic =
            base64::engine::general_purpose::STANDARD.encode(format!("me@example.com:{TOKEN}"));
        let mut h = HeaderMap::new();
        h.insert(
            "authorization",
            HeaderValue::from_str(&format!("Basic {basic}")).unwrap(),
        );
        h.insert(
            "cookie",
            HeaderValue::from_static("tenant.session.token=CANARY-cookie"),
        );
        h.insert("accept", HeaderValue::from_static("application/json"));
        h.insert(
            "x-echo",
            HeaderValue::from_str(&format!("saw {ACCESS}")).unwrap(),
        );
        let shown = mask_headers(&h, &masker());
        assert_eq!(
            shown,
            vec![
                ("authorization".to_owned(), "Basic ********".to_owned()),
                ("cookie".to_owned(), MASK.to_owned()),
                ("accept".to_owned(), "application/json".to_owned()),
                ("x-echo".to_owned(), "saw ********".to_owned()),
            ]
        );
    }

    #[test]
    fn json_bodies_mask_secret_fields_at_any_depth() {
        let body = br#"{"grant_type":"refresh_token","client_id":"abc","client_secret":"CANARY-s","refresh_token":"CANARY-r","nested":[{"access_token":"CANARY-a","Password":"CANARY-p","api-token":"CANARY-t"}],"code":"VALIDATION_ERROR"}"#;
        let shown = mask_body(body, Some("application/json"), &Masker::default());
        assert_clean(&shown);
        let v: Value = serde_json::from_str(&shown).unwrap();
        assert_eq!(v["client_id"], "abc");
        assert_eq!(v["client_secret"], MASK);
        assert_eq!(v["nested"][0]["access_token"], MASK);
        assert_eq!(v["code"], "VALIDATION_ERROR", "ordinary JSON fields stay");
    }

    #[test]
    fn form_bodies_and_queries_mask_oauth_fields() {
        let body = b"grant_type=authorization_code&code=CANARY-code&client_secret=CANARY-s&state=CANARY-st&redirect_uri=https%3A%2F%2Fapp";
        let shown = mask_body(
            body,
            Some("application/x-www-form-urlencoded"),
            &Masker::default(),
        );
        assert_clean(&shown);
        assert!(shown.contains("redirect_uri=https%3A%2F%2Fapp"), "{shown}");

        let url = Url::parse(
            "https://user:CANARY-pw@example.com/cb?code=CANARY-c&state=CANARY-s&jql=project%3DA",
        )
        .unwrap();
        let shown = mask_url(&url, &Masker::default());
        assert_clean(&shown);
        assert!(shown.contains("jql=project%3DA"), "{shown}");
    }

    #[test]
    fn known_secrets_are_masked_anywhere_and_in_encoded_forms() {
        let m = masker();
        let encoded: String = url::form_urlencoded::byte_serialize(ACCESS.as_bytes()).collect();
        for text in [
            format!("plain {TOKEN} text"),
            format!("{{\"echo\":\"{ACCESS}\"}}"),
            format!("q={encoded}"),
        ] {
            assert_clean(&mask_body(text.as_bytes(), None, &m));
        }
        assert_clean(&m.clean(&format!("a{TOKEN}{TOKEN}b")));
        assert_eq!(format!("{m:?}"), "Masker(5 secrets)");
    }

    #[test]
    fn short_values_are_not_treated_as_secrets() {
        let m = Masker::new(["ab", ""]);
        assert_eq!(m.clean("ab abc"), "ab abc");
    }

    #[test]
    fn long_bodies_are_cut() {
        let body = "y".repeat(MAX_BODY_CHARS + 10);
        let shown = mask_body(body.as_bytes(), Some("text/plain"), &Masker::default());
        assert!(shown.ends_with("…[cut]"));
        assert!(shown.chars().count() < MAX_BODY_CHARS + 10);
    }

    #[test]
    fn recorder_keeps_exchanges() {
        let rec = RecordingObserver::new();
        let ex = Exchange {
            at: OffsetDateTime::UNIX_EPOCH,
            operation: "getCurrentUser",
            attempt: 1,
            method: "GET".into(),
            url: "https://x/rest/api/3/myself".into(),
            request_headers: vec![],
            request_body: None,
            outcome: ExchangeOutcome::Failed { error: "x".into() },
            duration: Duration::ZERO,
        };
        rec.on_exchange(ex.clone());
        NoObserver.on_exchange(ex.clone());
        assert_eq!(rec.exchanges(), vec![ex]);
    }
}
