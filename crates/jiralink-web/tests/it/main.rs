//! The server driven with `oneshot`, against an app on a temporary data directory and the
//! simulator on 127.0.0.1. The clock is manual and nothing sleeps.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test helpers fail loudly"
)]

mod api;
mod browser;
mod metrics;
mod oauth;
mod session;
mod ui_form;
mod ui_pages;

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use jiralink_app::{App, OpenOptions};
use jiralink_domain::ManualClock;
use jiralink_sim::{Sim, SimConfig, SimHandle};
use jiralink_web::{ApiKeyHash, AppState, router};
use tower::ServiceExt as _;

pub(crate) const KEY: &str = "jlk_test_key_0123456789abcdef";

pub(crate) struct Fixture {
    pub(crate) _dir: tempfile::TempDir,
    pub(crate) sim: SimHandle,
    pub(crate) app: App,
    pub(crate) router: Router,
}

pub(crate) async fn fixture() -> Fixture {
    let sim = Sim::start(SimConfig::for_tests()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("jiralink.toml"),
        format!(
            "version = 1\n[atlassian]\nsite_url_template = \"{}\"\napi_gateway = \"{}\"\n\
             auth_server = \"{}\"\n",
            sim.site_url_template(),
            sim.api_gateway(),
            sim.auth_server()
        ),
    )
    .unwrap();
    let clock = ManualClock::new(time::macros::datetime!(2026-01-02 03:04:05 UTC));
    let app = App::open(OpenOptions {
        data_dir: dir.path().to_path_buf(),
        config_file: None,
        clock: Arc::new(clock),
        env: Box::new(|_| None),
    })
    .await
    .unwrap()
    .value;
    let router = router(AppState::new(app.clone(), ApiKeyHash::of(KEY)));
    Fixture {
        _dir: dir,
        sim,
        app,
        router,
    }
}

pub(crate) struct Reply {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) text: String,
}

impl Reply {
    pub(crate) fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("{e}: {}", self.text))
    }
}

/// Sends one request through the router.
pub(crate) async fn call(
    router: &Router,
    method: Method,
    path: &str,
    body: Option<serde_json::Value>,
    key: Option<&str>,
) -> Reply {
    let mut req = Request::builder().method(method).uri(path);
    if let Some(key) = key {
        req = req.header(header::AUTHORIZATION, format!("Bearer {key}"));
    }
    let req = match body {
        Some(b) => req
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(b.to_string())),
        None => req.body(Body::empty()),
    }
    .unwrap();
    let res = router.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    let bytes = axum::body::to_bytes(res.into_body(), 1 << 20)
        .await
        .unwrap();
    Reply {
        status,
        headers,
        text: String::from_utf8(bytes.to_vec()).unwrap(),
    }
}
