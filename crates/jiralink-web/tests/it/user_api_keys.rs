//! A user's API key (not only the server's) opens `/v1` and `/metrics`, and what is changed
//! with it is audited under that user; every page's CSP allows jiralink's own scripts and
//! styles only.

use std::sync::Arc;

use axum::http::{Method, StatusCode, header};
use jiralink_app::Actor;
use jiralink_domain::AuditSource;
use jiralink_vault::Password;
use jiralink_web::{ApiKeyHash, AppState, ServerOptions, router};
use pretty_assertions::assert_eq;
use serde_json::json;

use crate::{KEY, call, fixture};

const EXPOSITION: &str = "# TYPE jiralink_probe counter\njiralink_probe 1\n";

fn setup() -> Actor {
    Actor {
        name: "setup".to_owned(),
        source: AuditSource::Cli,
    }
}

#[tokio::test]
async fn a_users_api_key_opens_metrics_and_changes_are_audited_under_the_user() {
    let f = fixture().await;
    let options = ServerOptions {
        demo: None,
        metrics: Some(Arc::new(|| EXPOSITION.to_owned())),
    };
    let router = router(AppState::new(f.app.clone(), ApiKeyHash::of(KEY)).with_options(options));
    f.app
        .create_user(
            "dana",
            &Password::new("a long enough password"),
            false,
            &setup(),
        )
        .await
        .unwrap();
    let created = f
        .app
        .create_api_key("dana", "scripts", &setup())
        .await
        .unwrap();
    let key = created.key.expose().to_owned();
    assert!(key.starts_with("jlk_") && key != KEY);

    let r = call(&router, Method::GET, "/metrics", None, Some(&key)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.text, EXPOSITION);
    let r = call(&router, Method::GET, "/metrics", None, None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);

    let email = f.sim.samples().email.clone();
    let r = call(
        &router,
        Method::POST,
        "/v1/connections",
        Some(json!({
            "name": "Made by dana", "apiType": "cloud-platform", "subdomain": "demo",
            "authType": "basic", "username": email,
            "apiToken": f.sim.samples().api_token.clone(),
        })),
        Some(&key),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let audit = f.app.connection_audit("Made by dana").await.unwrap();
    assert_eq!(audit.len(), 1, "{audit:?}");
    assert_eq!(audit[0].actor, "dana");

    // Revoked, the key opens neither.
    let id = f.app.list_api_keys(Some("dana")).await.unwrap()[0]
        .id
        .to_string();
    f.app.revoke_api_key(&id, &setup()).await.unwrap();
    let r = call(&router, Method::GET, "/metrics", None, Some(&key)).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

/// `style-src` and `script-src` name `'self'` and nothing else, on a page anyone can load.
#[tokio::test]
async fn the_csp_allows_own_scripts_and_styles_only() {
    let f = fixture().await;
    let r = call(&f.router, Method::GET, "/login", None, None).await;
    assert_eq!(r.status, StatusCode::OK);
    let csp = r.headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
    for directive in ["style-src", "script-src"] {
        let sources: Vec<&str> = csp
            .split(';')
            .map(str::trim)
            .find_map(|d| {
                d.strip_prefix(directive)
                    .filter(|rest| rest.starts_with(' '))
            })
            .unwrap_or_else(|| panic!("no {directive} in {csp}"))
            .split_whitespace()
            .collect();
        assert_eq!(sources, ["'self'"], "{directive} in {csp}");
    }
}
