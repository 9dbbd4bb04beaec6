//! Webhooks: registration through both APIs and deliveries to a receiver on 127.0.0.1:0,
//! checked header by header and against the OpenAPI document.

mod admin;
mod dynamic;
mod knobs;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use jiralink_sim::knobs::WebhookKnobs;
use jiralink_sim::{SimConfig, SimHandle};
use serde_json::{Value, json};
use sha2::Sha256;

use crate::oauth::{bearer, tokens_with_scopes};
use crate::platform::{Api, Reply, expect};
use crate::{gateway, start_with};

/// Scopes an app needs for webhooks and the issue writes of the tests.
pub(crate) const WEBHOOK_SCOPES: &str = "read:jira-work write:jira-work manage:jira-webhook";

/// One request the receiver got.
#[derive(Debug, Clone)]
pub(crate) struct Received {
    pub(crate) headers: HashMap<String, String>,
    pub(crate) body: String,
}

impl Received {
    pub(crate) fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }

    pub(crate) fn event(&self) -> String {
        self.json()["webhookEvent"]
            .as_str()
            .expect("webhookEvent")
            .to_owned()
    }
}

type Log = Arc<Mutex<Vec<Received>>>;

/// A tiny webhook receiver: records every request and answers `status`.
pub(crate) struct Receiver {
    pub(crate) url: String,
    log: Log,
    status: Arc<AtomicU16>,
}

async fn receive(
    State((log, status)): State<(Log, Arc<AtomicU16>)>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let headers = headers
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_owned(),
                v.to_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    log.lock().expect("log").push(Received {
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    });
    StatusCode::from_u16(status.load(Ordering::SeqCst)).unwrap_or(StatusCode::OK)
}

impl Receiver {
    pub(crate) async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("receiver binds");
        let addr = listener.local_addr().expect("address");
        let log = Log::default();
        let status = Arc::new(AtomicU16::new(200));
        let app = Router::new()
            .route("/hook", post(receive))
            .with_state((log.clone(), status.clone()));
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            url: format!("http://{addr}/hook"),
            log,
            status,
        }
    }

    /// Every request so far, in arrival order.
    pub(crate) fn received(&self) -> Vec<Received> {
        self.log.lock().expect("log").clone()
    }

    /// `webhookEvent` of every request so far.
    pub(crate) fn events(&self) -> Vec<String> {
        self.received().iter().map(Received::event).collect()
    }

    pub(crate) fn clear(&self) {
        self.log.lock().expect("log").clear();
    }

    /// The status later requests are answered with.
    pub(crate) fn answer(&self, status: u16) {
        self.status.store(status, Ordering::SeqCst);
    }
}

/// A simulator whose retries wait milliseconds, not seconds.
pub(crate) async fn sim() -> SimHandle {
    let mut config = SimConfig::for_tests();
    config.knobs.webhooks = WebhookKnobs {
        retry_backoff_ms: 2,
        timeout_ms: 5_000,
        ..WebhookKnobs::default()
    };
    start_with(config).await
}

/// The sample app, with webhook scopes, on the demo site's gateway.
pub(crate) async fn app(sim: &SimHandle) -> Api {
    let tokens = tokens_with_scopes(sim, WEBHOOK_SCOPES).await;
    Api {
        base: format!("{}/rest/api/3", gateway(sim, "demo")),
        auth: bearer(&tokens),
    }
}

/// Registers one dynamic webhook (the request checked against the document); returns its id.
pub(crate) async fn register(app: &Api, url: &str, webhook: Value) -> u64 {
    let body = json!({ "url": url, "webhooks": [webhook] });
    crate::platform::assert_schema("WebhookRegistrationDetails", &body);
    register_unchecked(app, body).await
}

/// Registers webhooks whose events the document's enum leaves out (it lists eight; Jira also
/// takes the worklog and issue-link events); the answer is still checked.
pub(crate) async fn register_unchecked(app: &Api, body: Value) -> u64 {
    let reply = app.post("/webhook", &body).await;
    let result = expect(&reply, reqwest::StatusCode::OK);
    crate::platform::assert_schema("ContainerForRegisteredWebhooks", result);
    result["webhookRegistrationResult"][0]["createdWebhookId"]
        .as_u64()
        .unwrap_or_else(|| panic!("no webhook created: {result:#}"))
}

/// Creates a DEMO task; returns its key.
pub(crate) async fn create_issue(api: &Api, summary: &str, labels: &[&str]) -> String {
    let reply = api
        .post(
            "/issue",
            &json!({"fields": {
                "project": {"key": "DEMO"},
                "issuetype": {"name": "Task"},
                "summary": summary,
                "labels": labels,
            }}),
        )
        .await;
    expect(&reply, reqwest::StatusCode::CREATED)["key"]
        .as_str()
        .expect("key")
        .to_owned()
}

/// The simulator clock in epoch milliseconds.
pub(crate) fn now_ms(sim: &SimHandle) -> i64 {
    i64::try_from(sim.control().now().unix_timestamp_nanos() / 1_000_000).expect("fits")
}

/// Alice's account id.
pub(crate) fn alice_account(sim: &SimHandle) -> String {
    sim.control()
        .state()
        .directory()
        .user_by_email("alice@example.com")
        .expect("alice")
        .account_id
        .clone()
}

/// Verifies an HS256 token with `secret` (HMAC computed here, independently of the simulator)
/// and returns its claims.
pub(crate) fn verify_jwt(token: &str, secret: &str) -> Value {
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3, "three parts: {token}");
    let header: Value =
        serde_json::from_slice(&b64.decode(parts[0]).expect("header")).expect("json");
    assert_eq!(header, json!({"alg": "HS256", "typ": "JWT"}));
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("key");
    mac.update(format!("{}.{}", parts[0], parts[1]).as_bytes());
    mac.verify_slice(&b64.decode(parts[2]).expect("signature"))
        .expect("the signature verifies with the client secret");
    serde_json::from_slice(&b64.decode(parts[1]).expect("claims")).expect("json")
}

/// `sha256=<hex>` of the body, computed here.
pub(crate) fn hub_signature(secret: &str, body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("key");
    mac.update(body.as_bytes());
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// Asserts a platform error body.
pub(crate) fn assert_error(reply: &Reply, status: u16) {
    assert_eq!(reply.status.as_u16(), status, "{:#}", reply.body);
    crate::platform::assert_schema("ErrorCollection", &reply.body);
    assert!(
        reply.body["errorMessages"]
            .as_array()
            .is_some_and(|m| !m.is_empty())
            || reply.body["errors"]
                .as_object()
                .is_some_and(|m| !m.is_empty()),
        "{:#}",
        reply.body
    );
}
