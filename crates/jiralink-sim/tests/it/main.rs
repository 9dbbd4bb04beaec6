//! Integration tests: each starts a simulator on 127.0.0.1:0 with a manual clock.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test helpers fail the test by panicking"
)]

mod auth;
mod csm;
mod data;
mod fidelity;
mod jql;
mod jsm;
mod knobs;
mod oauth;
mod platform;
mod platform_issues;
mod platform_search;

use base64::Engine as _;
use jiralink_sim::{Sim, SimConfig, SimHandle};
use serde_json::Value;

/// Starts a simulator with the test configuration.
pub(crate) async fn start() -> SimHandle {
    start_with(SimConfig::for_tests()).await
}

/// Starts a simulator with `config`.
pub(crate) async fn start_with(config: SimConfig) -> SimHandle {
    Sim::start(config).await.expect("simulator starts")
}

/// A client that never follows redirects, so tests see every 302.
#[expect(
    clippy::disallowed_methods,
    reason = "test clients talk to the local simulator"
)]
pub(crate) fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(std::time::Duration::from_secs(30))
        .build()
        .expect("client builds")
}

/// `Authorization: Basic` value.
pub(crate) fn basic(email: &str, token: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{email}:{token}"))
    )
}

/// Basic auth with the sample classic token.
pub(crate) fn alice_classic(sim: &SimHandle) -> String {
    basic(&sim.samples().email, &sim.samples().api_token)
}

/// Basic auth with the sample scoped token.
pub(crate) fn alice_scoped(sim: &SimHandle) -> String {
    basic(&sim.samples().email, &sim.samples().scoped_api_token)
}

/// Gateway base for a site.
pub(crate) fn gateway(sim: &SimHandle, subdomain: &str) -> String {
    let site = sim.control().site(subdomain).expect("site exists");
    format!("{}/ex/jira/{}", sim.api_gateway(), site.cloud_id)
}

/// GET with an optional Authorization header; returns status, headers and body text.
pub(crate) async fn get(
    url: &str,
    auth: Option<&str>,
) -> (reqwest::StatusCode, reqwest::header::HeaderMap, String) {
    let mut req = client().get(url);
    if let Some(auth) = auth {
        req = req.header("authorization", auth);
    }
    let res = req.send().await.expect("request completes");
    let status = res.status();
    let headers = res.headers().clone();
    (status, headers, res.text().await.expect("body"))
}

/// Parses a JSON body.
pub(crate) fn json(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"))
}
