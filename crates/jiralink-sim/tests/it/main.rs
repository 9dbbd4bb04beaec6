//! Integration tests: each starts a simulator on 127.0.0.1:0 with a manual clock.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test helpers fail the test by panicking"
)]

mod agile;
mod auth;
mod catalogues;
mod chaos;
mod csm;
mod data;
mod fidelity;
mod jql;
mod jql_fields;
mod jql_relations;
mod jsm;
mod jsm_requests;
mod knobs;
mod links;
mod oauth;
mod platform;
mod platform_issues;
mod platform_search;
mod timezones;
mod tracking;
mod webhooks;

use base64::Engine as _;
use jiralink_sim::control::{NewApiToken, TokenKindInput};
use jiralink_sim::{Sim, SimConfig, SimHandle};
use serde_json::Value;

/// Reads the OpenAPI document `name` from `$JIRALINK_SPECS_DIR` or `tests/fixtures/openapi`.
pub(crate) fn read_spec(name: &str) -> Value {
    let dir = std::env::var_os("JIRALINK_SPECS_DIR").map_or_else(
        || std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/openapi"),
        std::path::PathBuf::from,
    );
    let file = dir.join(name);
    let text = std::fs::read_to_string(&file).unwrap_or_else(|e| {
        panic!(
            "cannot read {} ({e}); see tests/fixtures/README.md",
            file.display()
        )
    });
    serde_json::from_str(&text).expect("spec is JSON")
}

/// A validator for the component schema `schema_name` of `spec`.
///
/// Formats are not checked: Jira Cloud sends `date-time` values as
/// `2026-01-05T09:30:00.000+0000`, which is not RFC 3339 (the documented examples use such
/// offsets too), and the simulator follows the wire.
pub(crate) fn schema_validator(spec: &Value, schema_name: &str) -> jsonschema::Validator {
    let schema = serde_json::json!({
        "$ref": format!("#/components/schemas/{schema_name}"),
        "components": spec["components"],
    });
    jsonschema::options()
        .with_draft(jsonschema::Draft::Draft4)
        .should_validate_formats(false)
        .build(&schema)
        .expect("schema compiles")
}

/// Asserts that `instance` satisfies the component schema `schema_name` of `spec`.
pub(crate) fn assert_matches_schema(spec: &Value, schema_name: &str, instance: &Value) {
    let errors: Vec<String> = schema_validator(spec, schema_name)
        .iter_errors(instance)
        .map(|e| e.to_string())
        .collect();
    assert!(
        errors.is_empty(),
        "{schema_name} violations: {errors:?}\n{instance:#}"
    );
}

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

/// A scoped token for alice with exactly `scopes`.
pub(crate) fn scoped_token(sim: &SimHandle, scopes: &[&str]) -> String {
    sim.control()
        .add_api_token(NewApiToken {
            email: "alice@example.com".to_owned(),
            kind: TokenKindInput::Scoped,
            scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
            expires_in_secs: None,
            label: None,
        })
        .expect("token")
        .token
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
