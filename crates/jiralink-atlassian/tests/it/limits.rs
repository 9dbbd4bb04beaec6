//! The per-connection concurrency cap holds across clients sharing a connection.
//!
//! A local server holds every request at a gate and counts how many are inside; the test opens
//! the gate one request at a time, so no timing is involved.

use std::sync::{
    Arc,
    atomic::{AtomicUsize, Ordering},
};

use axum::{Json, Router, extract::State, routing::get};
use jiralink_atlassian::{ApiBase, AuthRoute, ConcurrencyRegistry};
use jiralink_domain::{ApiType, ConcurrencyLevel, ConnectionId};
use serde_json::{Value, json};
use tokio::sync::{Semaphore, watch};

use crate::{EMAIL, TOKEN, basic, builder, demo, endpoints_at};

#[derive(Clone)]
struct Gate {
    inside: Arc<AtomicUsize>,
    max: Arc<AtomicUsize>,
    seen: watch::Sender<usize>,
    open: Arc<Semaphore>,
}

async fn held(State(gate): State<Gate>) -> Json<Value> {
    let now = gate.inside.fetch_add(1, Ordering::SeqCst) + 1;
    gate.max.fetch_max(now, Ordering::SeqCst);
    gate.seen.send_replace(now);
    if let Ok(permit) = gate.open.acquire().await {
        permit.forget();
    }
    let left = gate.inside.fetch_sub(1, Ordering::SeqCst) - 1;
    gate.seen.send_replace(left);
    Json(json!({"version": "1001.0.0"}))
}

#[tokio::test]
async fn in_flight_requests_never_exceed_the_connection_level() {
    let (seen, mut watcher) = watch::channel(0);
    let gate = Gate {
        inside: Arc::default(),
        max: Arc::default(),
        seen,
        open: Arc::new(Semaphore::new(0)),
    };
    let app = Router::new()
        .route("/demo/rest/api/3/serverInfo", get(held))
        .with_state(gate.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move { axum::serve(listener, app).await });

    let endpoints = endpoints_at(&format!("http://{addr}"));
    let base = ApiBase::resolve(
        &endpoints,
        ApiType::CloudPlatform,
        AuthRoute::BasicClassic,
        Some(&demo()),
        None,
    )
    .unwrap();
    let level = ConcurrencyLevel::new(3).unwrap();
    let connection = ConnectionId::new();
    let registry = ConcurrencyRegistry::default();
    // Two clients of the same connection, e.g. an export and a connection test.
    let clients: Vec<_> = (0..2)
        .map(|_| {
            builder(base.clone(), basic(EMAIL, TOKEN))
                .0
                .limiter(registry.limiter(connection, level))
                .build()
        })
        .collect();
    let total = 12;
    let tasks: Vec<_> = (0..total)
        .map(|i| {
            let client = clients[i % 2].clone();
            tokio::spawn(async move { client.server_info().await })
        })
        .collect();

    for released in 0..total {
        // The requests still queued fill the free slots: exactly the level is inside.
        let expected = 3.min(total - released);
        watcher
            .wait_for(|_| gate.inside.load(Ordering::SeqCst) >= expected)
            .await
            .unwrap();
        assert!(gate.max.load(Ordering::SeqCst) <= 3);
        gate.open.add_permits(1);
        watcher
            .wait_for(|_| gate.open.available_permits() == 0)
            .await
            .unwrap();
    }
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    assert_eq!(
        gate.max.load(Ordering::SeqCst),
        3,
        "the level is used, never exceeded"
    );
    server.abort();
}

/// Notes how many slots were free each time a token was asked for.
#[derive(Debug)]
struct SlotWatchingToken {
    limiter: Arc<jiralink_atlassian::Limiter>,
    free_at_fetch: std::sync::Mutex<Vec<usize>>,
}

#[async_trait::async_trait]
impl jiralink_atlassian::TokenSource for SlotWatchingToken {
    async fn access_token(
        &self,
    ) -> Result<jiralink_vault::AccessToken, jiralink_atlassian::AtlassianError> {
        self.free_at_fetch
            .lock()
            .unwrap()
            .push(self.limiter.available());
        Ok(jiralink_vault::AccessToken::new("slot-token-1"))
    }

    async fn rejected(
        &self,
        _token: &jiralink_vault::AccessToken,
    ) -> Result<bool, jiralink_atlassian::AtlassianError> {
        Ok(false)
    }
}

#[tokio::test]
async fn the_slot_is_taken_before_the_bearer_token_is_fetched() {
    let server = wiremock::MockServer::start().await;
    wiremock::Mock::given(wiremock::matchers::path("/ex/jira/c-1/rest/api/3/myself"))
        .respond_with(
            wiremock::ResponseTemplate::new(200).set_body_json(json!({"accountId": "a-1"})),
        )
        .expect(2)
        .mount(&server)
        .await;
    let base = ApiBase::resolve(
        &endpoints_at(&server.uri()),
        ApiType::CloudPlatform,
        AuthRoute::OAuth2,
        None,
        Some("c-1"),
    )
    .unwrap();
    let limiter = jiralink_atlassian::Limiter::new(ConcurrencyLevel::new(2).unwrap());
    let source = Arc::new(SlotWatchingToken {
        limiter: limiter.clone(),
        free_at_fetch: std::sync::Mutex::default(),
    });
    let client = builder(
        base,
        jiralink_atlassian::Credentials::Bearer(source.clone()),
    )
    .0
    .limiter(limiter.clone())
    .build();
    client.myself().await.unwrap();
    client.myself().await.unwrap();
    // One of the two slots is already held by the request the token is for.
    assert_eq!(*source.free_at_fetch.lock().unwrap(), [1, 1]);
    assert_eq!(limiter.available(), 2);
}
