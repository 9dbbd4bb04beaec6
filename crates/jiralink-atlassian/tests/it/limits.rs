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
    // Two clients of the same connection, e.g. an export and a connection test.
    let clients: Vec<_> = (0..2)
        .map(|_| {
            builder(base.clone(), basic(EMAIL, TOKEN))
                .0
                .limiter(ConcurrencyRegistry::global().limiter(connection, level))
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
