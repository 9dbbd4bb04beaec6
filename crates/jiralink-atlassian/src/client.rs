//! The client every jiralink feature talks to Jira through.
//!
//! One [`JiraClient`] serves one connection: its base URLs, its credentials, its share of the
//! connection's concurrency limit, its retry policy and an observer. Each request:
//!
//! 1. asks the credentials for an `Authorization` header (a bearer token is fetched per
//!    attempt, so a refreshed token is picked up);
//! 2. waits for a slot of the connection's [`Limiter`];
//! 3. sends `Accept: application/json` (and `Content-Type: application/json` with a body, or
//!    the body's own type for an upload);
//! 4. reads the whole answer, at most [`MAX_RESPONSE_BYTES`] of it, reports the masked exchange to the [`Observer`], and classifies
//!    a non-2xx answer as an [`AtlassianError`];
//! 5. retries per [`crate::retry`], and after a 401 with a bearer token tells the
//!    [`TokenSource`](crate::auth::TokenSource) and sends once more if it has a new token.

use std::{
    fmt,
    sync::{Arc, Mutex, PoisonError},
    time::Instant,
};

use jiralink_domain::{Clock, ConcurrencyLevel};
use jiralink_vault::AccessToken;
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderValue};
use serde::{Serialize, de::DeserializeOwned};
use url::Url;

use crate::{
    auth::Credentials,
    base::{ApiBase, join},
    clock::SystemClock,
    error::AtlassianError,
    http::{MAX_RESPONSE_BYTES, read_body},
    limit::Limiter,
    meter::RequestMeter,
    observe::{
        Exchange, ExchangeOutcome, Masker, NoObserver, Observer, mask_body, mask_headers, mask_url,
    },
    operation::{Api, Operation},
    retry::{Jitter, RetryEnv, RetryPolicy, with_retries},
};

const JSON: &str = "application/json";
/// The opt-in header of Atlassian's experimental operations.
const EXPERIMENTAL_HEADER: &str = "x-experimentalapi";
/// The header that exempts a request from Jira's XSRF check (`no-check`).
const XSRF_HEADER: &str = "x-atlassian-token";
/// The header that makes a CSM bulk submission repeatable.
const IDEMPOTENCY_HEADER: &str = "idempotency-key";

/// A client for one connection. Cheap to clone; clones share everything.
#[derive(Clone)]
pub struct JiraClient {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    base: ApiBase,
    credentials: Arc<Credentials>,
    policy: RetryPolicy,
    clock: Arc<dyn Clock>,
    jitter: Arc<Jitter>,
    limiter: Arc<Limiter>,
    observer: Arc<dyn Observer>,
    meter: Option<Arc<RequestMeter>>,
    max_response_bytes: u64,
}

impl fmt::Debug for JiraClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JiraClient")
            .field("base", &self.inner.base)
            .field("credentials", &self.inner.credentials)
            .field("policy", &self.inner.policy)
            .field("limiter", &self.inner.limiter)
            .finish_non_exhaustive()
    }
}

/// Builds a [`JiraClient`].
pub struct JiraClientBuilder {
    http: reqwest::Client,
    base: ApiBase,
    credentials: Credentials,
    policy: RetryPolicy,
    clock: Arc<dyn Clock>,
    jitter: Jitter,
    limiter: Option<Arc<Limiter>>,
    observer: Arc<dyn Observer>,
    max_response_bytes: u64,
}

impl fmt::Debug for JiraClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JiraClientBuilder")
            .field("base", &self.base)
            .field("credentials", &self.credentials)
            .finish_non_exhaustive()
    }
}

impl JiraClientBuilder {
    /// The retry policy (default: [`RetryPolicy::default`]).
    #[must_use]
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// The time source: the time of exchanges and of HTTP-date `Retry-After` values, and the
    /// waits between retries (default: [`SystemClock`]).
    #[must_use]
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The jitter source (default: OS entropy).
    #[must_use]
    pub fn jitter(mut self, jitter: Jitter) -> Self {
        self.jitter = jitter;
        self
    }

    /// The connection's shared limiter, usually from
    /// [`ConcurrencyRegistry::limiter`](crate::limit::ConcurrencyRegistry::limiter) (default:
    /// a limiter of this client alone at the default level).
    #[must_use]
    pub fn limiter(mut self, limiter: Arc<Limiter>) -> Self {
        self.limiter = Some(limiter);
        self
    }

    /// Who sees every exchange (default: nobody).
    #[must_use]
    pub fn observer(mut self, observer: Arc<dyn Observer>) -> Self {
        self.observer = observer;
        self
    }

    /// The largest answer read (default: [`MAX_RESPONSE_BYTES`]); a larger one fails with
    /// [`AtlassianError::ResponseTooLarge`].
    #[must_use]
    pub fn max_response_bytes(mut self, limit: u64) -> Self {
        self.max_response_bytes = limit;
        self
    }

    /// The client.
    #[must_use]
    pub fn build(self) -> JiraClient {
        JiraClient {
            inner: Arc::new(Inner {
                http: self.http,
                base: self.base,
                credentials: Arc::new(self.credentials),
                policy: self.policy,
                clock: self.clock,
                jitter: Arc::new(self.jitter),
                limiter: self
                    .limiter
                    .unwrap_or_else(|| Limiter::new(ConcurrencyLevel::default())),
                observer: self.observer,
                meter: None,
                max_response_bytes: self.max_response_bytes,
            }),
        }
    }
}

/// One request, before credentials are added.
#[derive(Debug)]
pub(crate) struct Call {
    pub(crate) op: &'static Operation,
    pub(crate) url: Url,
    pub(crate) query: Vec<(&'static str, String)>,
    pub(crate) body: Option<Vec<u8>>,
    /// The body's `Content-Type` when it is not JSON (an upload's, with its boundary).
    pub(crate) content_type: Option<HeaderValue>,
    pub(crate) authenticated: bool,
    /// Sends `X-ExperimentalApi: opt-in`, without which Atlassian answers 412 to the
    /// operations it marks experimental.
    pub(crate) experimental: bool,
    /// Sends `X-Atlassian-Token: no-check`, without which Jira answers 403 "XSRF check failed"
    /// to uploads.
    pub(crate) xsrf_exempt: bool,
    /// A non-2xx status whose body the caller reads itself (bulk create's 400 lists what failed
    /// per element) instead of it becoming an error here.
    pub(crate) also_accept: Option<u16>,
    /// Sends `Idempotency-Key` (CSM bulk operations): the same key and body is the same
    /// operation for Jira, so the caller may send it again after an unknown outcome.
    pub(crate) idempotency_key: Option<HeaderValue>,
}

impl Call {
    pub(crate) fn query(mut self, name: &'static str, value: impl fmt::Display) -> Self {
        debug_assert!(
            self.op.query.contains(&name),
            "{name} is not declared for {}",
            self.op.id
        );
        self.query.push((name, value.to_string()));
        self
    }

    pub(crate) fn json_body<B: Serialize + ?Sized>(
        mut self,
        body: &B,
    ) -> Result<Self, AtlassianError> {
        let bytes = serde_json::to_vec(body).map_err(|e| AtlassianError::Decode {
            what: self.op.id,
            detail: format!("the request body could not be written ({e})"),
        })?;
        self.body = Some(bytes);
        Ok(self)
    }

    /// A body that is not JSON, sent with `content_type`.
    pub(crate) fn raw_body(mut self, bytes: Vec<u8>, content_type: HeaderValue) -> Self {
        self.body = Some(bytes);
        self.content_type = Some(content_type);
        self
    }

    pub(crate) fn anonymous(mut self) -> Self {
        self.authenticated = false;
        self
    }

    pub(crate) fn experimental(mut self) -> Self {
        self.experimental = true;
        self
    }

    pub(crate) fn xsrf_exempt(mut self) -> Self {
        self.xsrf_exempt = true;
        self
    }

    /// Sends `Idempotency-Key: key`.
    pub(crate) fn idempotency_key(mut self, key: &str) -> Result<Self, AtlassianError> {
        let value = HeaderValue::from_str(key).map_err(|_| AtlassianError::Decode {
            what: self.op.id,
            detail: "the idempotency key is not a valid header value".to_owned(),
        })?;
        self.idempotency_key = Some(value);
        Ok(self)
    }

    /// Answers with `status` come back as an [`Answer`] rather than an error.
    pub(crate) fn also_accept(mut self, status: u16) -> Self {
        self.also_accept = Some(status);
        self
    }
}

/// A successful answer.
#[derive(Debug)]
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Vec<u8>,
    pub(crate) masker: Masker,
}

impl JiraClient {
    /// A builder for a client that sends through `http` (from
    /// [`build_client`](crate::http::build_client)) to `base` with `credentials`.
    #[must_use]
    pub fn builder(
        http: reqwest::Client,
        base: ApiBase,
        credentials: Credentials,
    ) -> JiraClientBuilder {
        JiraClientBuilder {
            http,
            base,
            credentials,
            policy: RetryPolicy::default(),
            clock: Arc::new(SystemClock),
            jitter: Jitter::from_entropy(),
            limiter: None,
            observer: Arc::new(NoObserver),
            max_response_bytes: MAX_RESPONSE_BYTES,
        }
    }

    /// The same client (credentials, limiter, policy, observer) aimed at `base`, e.g. once the
    /// cloud id is known.
    #[must_use]
    pub fn with_base(&self, base: ApiBase) -> JiraClient {
        let inner = &self.inner;
        JiraClient {
            inner: Arc::new(Inner {
                http: inner.http.clone(),
                base,
                credentials: Arc::clone(&inner.credentials),
                policy: inner.policy.clone(),
                clock: Arc::clone(&inner.clock),
                jitter: Arc::clone(&inner.jitter),
                limiter: Arc::clone(&inner.limiter),
                observer: Arc::clone(&inner.observer),
                meter: inner.meter.clone(),
                max_response_bytes: inner.max_response_bytes,
            }),
        }
    }

    /// The same client, also counting every request it (and its clones) sends in `meter`.
    #[must_use]
    pub fn metered(&self, meter: Arc<RequestMeter>) -> JiraClient {
        let inner = &self.inner;
        JiraClient {
            inner: Arc::new(Inner {
                http: inner.http.clone(),
                base: inner.base.clone(),
                credentials: Arc::clone(&inner.credentials),
                policy: inner.policy.clone(),
                clock: Arc::clone(&inner.clock),
                jitter: Arc::clone(&inner.jitter),
                limiter: Arc::clone(&inner.limiter),
                observer: Arc::clone(&inner.observer),
                meter: Some(meter),
                max_response_bytes: inner.max_response_bytes,
            }),
        }
    }

    /// Where requests go.
    #[must_use]
    pub fn base(&self) -> &ApiBase {
        &self.inner.base
    }

    /// The connection's limiter.
    #[must_use]
    pub fn limiter(&self) -> &Arc<Limiter> {
        &self.inner.limiter
    }

    /// A request for `op` at its base URL plus `segments`.
    pub(crate) fn call(
        &self,
        op: &'static Operation,
        segments: &[&str],
    ) -> Result<Call, AtlassianError> {
        let base = &self.inner.base;
        let root = match op.api {
            Api::Platform => base.platform.as_ref().ok_or(AtlassianError::NotAvailable {
                what: "the Jira platform API",
                fix: "use a Cloud Platform connection",
            })?,
            Api::ServiceDesk => base
                .service_desk
                .as_ref()
                .ok_or(AtlassianError::NotAvailable {
                    what: "the Jira Service Management API",
                    fix: "use a Cloud Platform connection",
                })?,
            Api::Csm => base.csm.as_ref().ok_or(AtlassianError::NotAvailable {
                what: "the Customer Service Management API",
                fix: "use a Customer Service Management connection",
            })?,
            Api::Gateway => &base.gateway,
            Api::Site => base.site.as_ref().ok_or(AtlassianError::NotAvailable {
                what: "the Jira site",
                fix: "set the connection's subdomain",
            })?,
        };
        Ok(Call {
            op,
            url: join(root, segments),
            query: Vec::new(),
            body: None,
            content_type: None,
            authenticated: true,
            experimental: false,
            xsrf_exempt: false,
            also_accept: None,
            idempotency_key: None,
        })
    }

    /// Sends `call` and decodes a JSON answer.
    pub(crate) async fn json<T: DeserializeOwned>(&self, call: Call) -> Result<T, AtlassianError> {
        let op = call.op;
        let answer = self.execute(call).await?;
        decode(op, &answer)
    }

    /// The error an answer let through by [`Call::also_accept`] stands for, after all.
    pub(crate) fn refusal(&self, answer: &Answer) -> AtlassianError {
        AtlassianError::from_response(
            answer.status,
            &answer.headers,
            &answer.body,
            self.inner.clock.now(),
            &answer.masker,
        )
    }

    /// Sends `call` with retries and the one-time refresh after a bearer 401.
    pub(crate) async fn execute(&self, call: Call) -> Result<Answer, AtlassianError> {
        let inner = &self.inner;
        let env = RetryEnv {
            policy: &inner.policy,
            clock: inner.clock.as_ref(),
            jitter: &inner.jitter,
            meter: inner.meter.as_deref(),
        };
        let last_bearer: Mutex<Option<AccessToken>> = Mutex::new(None);
        let mut refreshed = false;
        let mut attempts = 0;
        loop {
            let result = with_retries(&env, call.op.replay, call.op.id, |_| {
                attempts += 1;
                self.attempt(&call, attempts, &last_bearer)
            })
            .await;
            let source = inner.credentials.token_source();
            match (&result, source) {
                (Err(AtlassianError::Unauthorized { .. }), Some(source))
                    if call.authenticated && !refreshed =>
                {
                    refreshed = true;
                    let used = last_bearer
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .take();
                    let Some(used) = used else { return result };
                    if source.rejected(&used).await? {
                        tracing::info!(
                            operation = call.op.id,
                            "access token rejected; sending once more with a new one"
                        );
                        continue;
                    }
                    return result;
                }
                _ => return result,
            }
        }
    }

    async fn attempt(
        &self,
        call: &Call,
        attempt: u32,
        last_bearer: &Mutex<Option<AccessToken>>,
    ) -> Result<Answer, AtlassianError> {
        let inner = &self.inner;
        // The slot comes first: a token fetched and then left waiting for a slot could expire
        // in the queue, and a refresh behind the limit would race other waiting requests.
        let permit = inner.limiter.acquire().await;
        if let Some(meter) = &inner.meter {
            meter.request();
        }
        let (authorization, masker) = if call.authenticated {
            let auth = inner.credentials.authorization().await?;
            if let Some(token) = auth.bearer {
                *last_bearer.lock().unwrap_or_else(PoisonError::into_inner) = Some(token);
            }
            (Some(auth.header), auth.masker)
        } else {
            (None, Masker::default())
        };

        let mut url = call.url.clone();
        if !call.query.is_empty() {
            url.query_pairs_mut()
                .extend_pairs(call.query.iter().map(|(k, v)| (*k, v.as_str())));
        }
        let mut builder = inner
            .http
            .request(call.op.method.clone(), url)
            .header(ACCEPT, HeaderValue::from_static(JSON));
        if let Some(body) = &call.body {
            let content_type = call
                .content_type
                .clone()
                .unwrap_or_else(|| HeaderValue::from_static(JSON));
            builder = builder
                .header(CONTENT_TYPE, content_type)
                .body(body.clone());
        }
        if let Some(header) = authorization {
            builder = builder.header(AUTHORIZATION, header);
        }
        if call.experimental {
            builder = builder.header(EXPERIMENTAL_HEADER, HeaderValue::from_static("opt-in"));
        }
        if call.xsrf_exempt {
            builder = builder.header(XSRF_HEADER, HeaderValue::from_static("no-check"));
        }
        if let Some(key) = &call.idempotency_key {
            builder = builder.header(IDEMPOTENCY_HEADER, key.clone());
        }
        let request = builder
            .build()
            .map_err(|e| AtlassianError::from_reqwest(&e.without_url()))?;
        let recording = inner.observer.records();
        let masked_request = recording.then(|| {
            (
                mask_url(request.url(), &masker),
                mask_headers(request.headers(), &masker),
                call.body
                    .as_deref()
                    .map(|b| masked_request_body(b, call.content_type.as_ref(), &masker)),
            )
        });

        let at = inner.clock.now();
        let started = Instant::now();
        let outcome = match inner.http.execute(request).await {
            Ok(mut response) => {
                let status = response.status().as_u16();
                let headers = std::mem::take(response.headers_mut());
                read_body(response, inner.max_response_bytes)
                    .await
                    .map(|body| (status, headers, body))
            }
            Err(e) => Err(AtlassianError::from_reqwest(&e)),
        };
        drop(permit);
        let duration = started.elapsed();
        metrics::counter!(
            "jiralink_jira_requests_total",
            "status" => match &outcome {
                Ok((status, _, _)) => status.to_string(),
                Err(_) => "error".to_owned(),
            }
        )
        .increment(1);

        if let Some((masked_url, request_headers, request_body)) = masked_request {
            let observed = match &outcome {
                Ok((status, headers, body)) => ExchangeOutcome::Response {
                    status: *status,
                    headers: mask_headers(headers, &masker),
                    body: mask_body(
                        body,
                        headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()),
                        &masker,
                    ),
                },
                Err(e) => ExchangeOutcome::Failed {
                    error: masker.clean(&e.to_string()),
                },
            };
            inner.observer.on_exchange(Exchange {
                at,
                operation: call.op.id,
                attempt,
                method: call.op.method.to_string(),
                url: masked_url,
                request_headers,
                request_body,
                outcome: observed,
                duration,
            });
        }

        let (status, headers, body) = outcome?;
        tracing::debug!(operation = call.op.id, status, attempt, "jira answered");
        if (200..300).contains(&status) || call.also_accept == Some(status) {
            Ok(Answer {
                status,
                headers,
                body,
                masker,
            })
        } else {
            Err(AtlassianError::from_response(
                status,
                &headers,
                &body,
                inner.clock.now(),
                &masker,
            ))
        }
    }
}

/// A request body as the observer sees it. An upload is described, not copied: its bytes are
/// the user's file (binary, possibly megabytes), not something the debugger can show.
fn masked_request_body(body: &[u8], content_type: Option<&HeaderValue>, masker: &Masker) -> String {
    match content_type {
        None => mask_body(body, Some(JSON), masker),
        Some(content_type) => {
            let media = content_type
                .to_str()
                .unwrap_or_default()
                .split(';')
                .next()
                .unwrap_or_default()
                .trim();
            format!("[{} bytes of {media}]", body.len())
        }
    }
}

/// The body of a JSON answer, unparsed, refusing HTML and empty bodies as [`decode`] does.
pub(crate) fn json_bytes(answer: Answer) -> Result<Vec<u8>, AtlassianError> {
    let content_type = answer
        .headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    let first = answer
        .body
        .iter()
        .find(|b| !b.is_ascii_whitespace())
        .copied();
    match first {
        None => Err(AtlassianError::UnexpectedContent {
            status: answer.status,
            content_type: "an empty body".to_owned(),
        }),
        Some(b'<') => Err(AtlassianError::UnexpectedContent {
            status: answer.status,
            content_type: "html".to_owned(),
        }),
        Some(_) if content_type.contains("html") => Err(AtlassianError::UnexpectedContent {
            status: answer.status,
            content_type: crate::error::truncate(&content_type),
        }),
        Some(_) => Ok(answer.body),
    }
}

/// Reads a JSON answer, refusing HTML and empty bodies with a clear error.
pub(crate) fn decode<T: DeserializeOwned>(
    op: &Operation,
    answer: &Answer,
) -> Result<T, AtlassianError> {
    let content_type = answer
        .headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    // The strict check first: it is much faster than the lossy one on a valid body.
    let text = std::str::from_utf8(&answer.body).map_or_else(
        |_| String::from_utf8_lossy(&answer.body),
        std::borrow::Cow::Borrowed,
    );
    // JSON's own whitespace only: `str::trim_start` would also take Unicode spaces (a no-break
    // space, U+3000), which JSON does not allow, and the answer would be read as JSON when
    // it is not.
    let trimmed = text.trim_start_matches([' ', '\t', '\n', '\r']);
    if trimmed.is_empty() {
        return Err(AtlassianError::UnexpectedContent {
            status: answer.status,
            content_type: "an empty body".to_owned(),
        });
    }
    if content_type.contains("html") || trimmed.starts_with('<') {
        return Err(AtlassianError::UnexpectedContent {
            status: answer.status,
            content_type: if content_type.is_empty() {
                "html".to_owned()
            } else {
                crate::error::truncate(&content_type)
            },
        });
    }
    serde_json::from_str(trimmed).map_err(|e| AtlassianError::Decode {
        what: op.id,
        detail: crate::error::truncate(&answer.masker.clean(&e.to_string())),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::operation::MYSELF;

    fn answer(content_type: &str, body: &str) -> Answer {
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_str(content_type).unwrap());
        Answer {
            status: 200,
            headers,
            body: body.as_bytes().to_vec(),
            masker: Masker::new(["CANARY-decode-77aa"]),
        }
    }

    /// Found by the `jira_responses` fuzz target: a bulk create's answer starting with a
    /// no-break space was read as JSON, though the general parser refuses it.
    #[test]
    fn decode_refuses_whitespace_json_does_not_allow() {
        for body in [
            "\u{a0}{}",
            "\u{3000}{\"issues\":[]}",
            "\u{0b}{}",
            "\u{0c}{}",
        ] {
            let got = decode::<serde_json::Value>(&MYSELF, &answer("application/json", body));
            assert!(
                matches!(got, Err(AtlassianError::Decode { .. })),
                "{body:?}: {got:?}"
            );
        }
        for body in [" \t\r\n{}", "\n\n  []"] {
            assert!(
                decode::<serde_json::Value>(&MYSELF, &answer("application/json", body)).is_ok()
            );
        }
    }

    #[test]
    fn decode_refuses_html_and_empty_bodies() {
        let e = decode::<serde_json::Value>(&MYSELF, &answer("text/html", "<html></html>"))
            .unwrap_err();
        assert!(
            matches!(e, AtlassianError::UnexpectedContent { .. }),
            "{e:?}"
        );
        let e = decode::<serde_json::Value>(&MYSELF, &answer("application/json", " ")).unwrap_err();
        assert!(e.to_string().contains("an empty body"), "{e}");
        let v: serde_json::Value =
            decode(&MYSELF, &answer("application/json", "{\"a\":1}")).unwrap();
        assert_eq!(v["a"], 1);
    }

    #[test]
    fn decode_errors_do_not_repeat_known_secrets() {
        #[derive(serde::Deserialize, Debug)]
        #[allow(dead_code)]
        struct Wants {
            n: u64,
        }
        let e = decode::<Wants>(
            &MYSELF,
            &answer("application/json", "{\"n\":\"CANARY-decode-77aa\"}"),
        )
        .unwrap_err();
        assert!(!e.to_string().contains("CANARY"), "{e}");
        assert!(e.to_string().contains("getCurrentUser"), "{e}");
    }
}
