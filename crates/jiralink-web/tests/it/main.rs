//! The server driven with `oneshot`, against an app on a temporary data directory and the
//! simulator on 127.0.0.1. The clock is manual and nothing sleeps.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test helpers fail loudly"
)]

mod api;
mod api_key;
mod api_listeners;
mod browser;
mod egress;
mod exports;
mod flows;
mod imports;
mod listeners;
mod metrics;
mod notifications;
mod oauth;
mod secret_input;
mod session;
mod ui_exports;
mod ui_flows;
mod ui_form;
mod ui_imports;
mod ui_listeners;
mod ui_notifications;
mod ui_pages;
mod user_api_keys;

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use jiralink_app::{Actor, App, OpenOptions};
use jiralink_domain::{AuditSource, ManualClock};
use jiralink_sim::{Sim, SimConfig, SimHandle};
use jiralink_vault::Password;
use jiralink_web::{ApiKeyHash, AppState, router};
use tower::ServiceExt as _;

pub(crate) const KEY: &str = "jlk_test_key_0123456789abcdef";

pub(crate) struct Fixture {
    pub(crate) _dir: tempfile::TempDir,
    pub(crate) sim: SimHandle,
    pub(crate) app: App,
    pub(crate) router: Router,
}

/// The `[atlassian]` section of a `jiralink.toml` pointing at the simulator.
pub(crate) fn sim_config(sim: &SimHandle) -> String {
    format!(
        "[atlassian]\nsite_url_template = \"{}\"\napi_gateway = \"{}\"\nauth_server = \"{}\"\n",
        sim.site_url_template(),
        sim.api_gateway(),
        sim.auth_server()
    )
}

/// The manual clock every test starts from.
pub(crate) fn test_clock() -> ManualClock {
    ManualClock::new(time::macros::datetime!(2026-01-02 03:04:05 UTC))
}

/// An app on a temporary data directory whose `jiralink.toml` is `version = 1` and `config`.
pub(crate) async fn open_app(config: &str, clock: &ManualClock) -> (tempfile::TempDir, App) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("jiralink.toml"),
        format!("version = 1\n{config}"),
    )
    .unwrap();
    let app = App::open(OpenOptions {
        data_dir: dir.path().to_path_buf(),
        config_file: None,
        database: None,
        clock: Arc::new(clock.clone()),
        env: Box::new(|_| None),
    })
    .await
    .unwrap()
    .value;
    (dir, app)
}

pub(crate) async fn fixture() -> Fixture {
    let sim = Sim::start(SimConfig::for_tests()).await.unwrap();
    let (dir, app) = open_app(&sim_config(&sim), &test_clock()).await;
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
    reply(router, req).await
}

/// Sends `req` through the router and reads the whole answer.
pub(crate) async fn reply(router: &Router, req: Request<Body>) -> Reply {
    let res = router.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    let bytes = axum::body::to_bytes(res.into_body(), 64 << 20)
        .await
        .unwrap();
    Reply {
        status,
        headers,
        text: String::from_utf8(bytes.to_vec()).unwrap(),
    }
}

/// Sends a request as a browser without JavaScript does: an optional form body and cookie.
pub(crate) async fn send(
    router: &Router,
    method: Method,
    path: &str,
    form_body: Option<String>,
    cookie: Option<&str>,
) -> Reply {
    let mut req = Request::builder().method(method).uri(path);
    if let Some(cookie) = cookie {
        req = req.header(header::COOKIE, cookie);
    }
    let req = match form_body {
        Some(b) => req
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(b)),
        None => req.body(Body::empty()),
    }
    .unwrap();
    reply(router, req).await
}

/// Form fields as an `application/x-www-form-urlencoded` body.
pub(crate) fn form(fields: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(fields)
        .finish()
}

/// `name=value` of the cookie `name` set by a response.
pub(crate) fn set_cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next())
        .find(|pair| pair.starts_with(&format!("{name}=")))
        .map(str::to_owned)
}

/// A signed-in browser: its session cookie (`name=value`) and the session's CSRF token.
pub(crate) struct Browser {
    pub(crate) cookie: String,
    pub(crate) csrf: String,
}

/// Creates a user (not an administrator) through the app and signs in through `/login`, as
/// a person would.
pub(crate) async fn sign_in(f: &Fixture, username: &str) -> Browser {
    let password = "correct horse battery staple 42";
    let setup = Actor {
        name: "setup".to_owned(),
        source: AuditSource::Cli,
    };
    f.app
        .create_user(username, &Password::new(password), false, &setup)
        .await
        .unwrap();
    let browser = session::sign_in(&f.router, username, password).await;
    assert!(!browser.csrf.is_empty());
    browser
}

impl Browser {
    pub(crate) async fn get(&self, f: &Fixture, path: &str) -> Reply {
        send(&f.router, Method::GET, path, None, Some(&self.cookie)).await
    }

    /// A form POST with the CSRF token, as every form of the UI sends it.
    pub(crate) async fn post(&self, f: &Fixture, path: &str, fields: &[(&str, &str)]) -> Reply {
        let mut all = vec![("_csrf", self.csrf.as_str())];
        all.extend_from_slice(fields);
        send(
            &f.router,
            Method::POST,
            path,
            Some(form(&all)),
            Some(&self.cookie),
        )
        .await
    }

    /// Follows a `303` the way a browser does, carrying the notice cookie it set.
    pub(crate) async fn follow(&self, f: &Fixture, r: &Reply) -> Reply {
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
        let to = r.headers[header::LOCATION].to_str().unwrap();
        let mut cookies = self.cookie.clone();
        if let Some(notice) = set_cookie(&r.headers, "jiralink_notice") {
            cookies = format!("{cookies}; {notice}");
        }
        send(&f.router, Method::GET, to, None, Some(&cookies)).await
    }
}

/// Creates the simulator's OAuth 2.0 client ("Sim app", approving by itself) and a Cloud
/// Platform connection `name` using it, through `/v1`; returns the connection's id.
pub(crate) async fn sim_oauth_connection(router: &Router, sim: &SimHandle, name: &str) -> String {
    sim.control()
        .update_knobs(|k| k.auto_approve = true)
        .unwrap();
    let samples = sim.samples().clone();
    let r = call(
        router,
        Method::POST,
        "/v1/oauth-clients",
        Some(serde_json::json!({
            "name": "Sim app",
            "clientId": samples.oauth_client_id,
            "clientSecret": samples.oauth_client_secret,
        })),
        Some(KEY),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let r = call(
        router,
        Method::POST,
        "/v1/connections",
        Some(serde_json::json!({
            "name": name, "apiType": "cloud-platform", "subdomain": "demo",
            "authType": "oauth2", "oauthClient": "Sim app",
            "scopes": ["read:jira-work", "read:jira-user", "read:me"],
        })),
        Some(KEY),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    r.json()["id"].as_str().unwrap().to_owned()
}
