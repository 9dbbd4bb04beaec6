//! Authorizing through the server: only an API key holder can start (no unauthenticated
//! route does), the authorize URL is on the configured authorization server, and the callback
//! brings a connection online against the simulator.

use axum::http::{Method, StatusCode, header};
use pretty_assertions::assert_eq;
use serde_json::json;

use crate::{Fixture, KEY, Reply, call, fixture};

async fn oauth_connection(f: &Fixture) -> String {
    crate::sim_oauth_connection(&f.router, &f.sim, "Jira OAuth").await
}

fn assert_safe_page(r: &Reply) {
    assert!(r.headers.get(header::LOCATION).is_none(), "{}", r.text);
    assert_eq!(r.headers[header::REFERRER_POLICY], "no-referrer");
    assert_eq!(r.headers[header::CACHE_CONTROL], "no-store");
    assert!(
        r.headers[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap()
            .starts_with("default-src 'none'")
    );
}

#[tokio::test]
async fn the_server_path_brings_a_connection_online() {
    let f = fixture().await;
    let id = oauth_connection(&f).await;

    let start = call(
        &f.router,
        Method::POST,
        &format!("/v1/connections/{id}/authorize"),
        None,
        Some(KEY),
    )
    .await;
    assert_eq!(start.status, StatusCode::OK, "{}", start.text);
    assert!(start.headers.get(header::LOCATION).is_none());
    let body = start.json();
    let authorize = url::Url::parse(body["authorizationUrl"].as_str().unwrap()).unwrap();
    let auth_server = url::Url::parse(&f.sim.auth_server().to_string()).unwrap();
    assert_eq!(authorize.origin(), auth_server.origin());
    assert!(
        authorize
            .query_pairs()
            .any(|(k, v)| k == "state" && !v.is_empty()),
        "{authorize}"
    );
    let redirect = url::Url::parse(body["redirectUri"].as_str().unwrap()).unwrap();
    assert_eq!(redirect.path(), "/connection/oauth2callback");
    assert!(
        authorize
            .query_pairs()
            .any(|(k, v)| k == "redirect_uri" && v == redirect.as_str()),
        "{authorize}"
    );
    // The manual clock stands at 03:04:05; the state lives ten minutes.
    assert_eq!(
        body["stateExpiresAt"], "2026-01-02T03:14:05Z",
        "{}",
        start.text
    );

    // The simulator approves at once and sends the browser back to the callback.
    let res = f.app.http_client().get(authorize).send().await.unwrap();
    assert_eq!(res.status().as_u16(), 302);
    let back = url::Url::parse(res.headers()["location"].to_str().unwrap()).unwrap();
    assert_eq!(back.path(), "/connection/oauth2callback");
    let callback = format!("{}?{}", back.path(), back.query().unwrap());

    let r = call(&f.router, Method::GET, &callback, None, None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(r.text.contains("Connection authorized"), "{}", r.text);
    assert_safe_page(&r);
    let shown = call(
        &f.router,
        Method::GET,
        &format!("/v1/connections/{id}"),
        None,
        Some(KEY),
    )
    .await;
    assert_eq!(shown.json()["state"]["status"], "online", "{}", shown.text);
    assert!(shown.json()["cloudId"].is_string());

    // The state is single use: a replay changes nothing.
    let replay = call(&f.router, Method::GET, &callback, None, None).await;
    assert_eq!(replay.status, StatusCode::BAD_REQUEST);
    assert!(
        replay.text.contains("state did not match"),
        "{}",
        replay.text
    );
    assert_safe_page(&replay);
}

#[tokio::test]
async fn the_callback_never_redirects_where_it_is_told() {
    let f = fixture().await;
    oauth_connection(&f).await;
    for query in [
        "code=x&state=forged&redirect_uri=https%3A%2F%2Fevil.example%2F",
        "error=access_denied&next=https%3A%2F%2Fevil.example%2F",
        "",
    ] {
        let r = call(
            &f.router,
            Method::GET,
            &format!("/connection/oauth2callback?{query}"),
            None,
            None,
        )
        .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{query}");
        assert!(!r.text.contains("evil.example"), "{}", r.text);
        assert_safe_page(&r);
    }
}

#[tokio::test]
async fn no_unauthenticated_route_starts_an_authorization() {
    let f = fixture().await;
    let id = oauth_connection(&f).await;
    for path in [
        format!("/connection/{id}/oauth2"),
        format!("/connection/{id}/authorize"),
        format!("/v1/connections/{id}/authorize"),
    ] {
        for method in [Method::GET, Method::POST] {
            let r = call(&f.router, method.clone(), &path, None, None).await;
            assert!(
                matches!(
                    r.status,
                    StatusCode::NOT_FOUND
                        | StatusCode::METHOD_NOT_ALLOWED
                        | StatusCode::UNAUTHORIZED
                ),
                "{method} {path}: {} {}",
                r.status,
                r.text
            );
            assert!(r.headers.get(header::LOCATION).is_none(), "{method} {path}");
            assert!(
                !r.text.contains("authorize?"),
                "{method} {path}: {}",
                r.text
            );
        }
    }
    // Nothing was started: the connection still waits for its first authorization.
    let shown = call(
        &f.router,
        Method::GET,
        &format!("/v1/connections/{id}"),
        None,
        Some(KEY),
    )
    .await;
    assert_ne!(shown.json()["state"]["status"], "online", "{}", shown.text);
}

#[tokio::test]
async fn starting_needs_an_oauth_connection_that_exists() {
    let f = fixture().await;
    oauth_connection(&f).await;
    // Behind the key a name works as anywhere else under /v1.
    let by_name = call(
        &f.router,
        Method::POST,
        "/v1/connections/Jira%20OAuth/authorize",
        None,
        Some(KEY),
    )
    .await;
    assert_eq!(by_name.status, StatusCode::OK, "{}", by_name.text);
    assert!(by_name.json()["authorizationUrl"].is_string());
    let missing = call(
        &f.router,
        Method::POST,
        "/v1/connections/3f2a1c6e-0000-4000-8000-000000000000/authorize",
        None,
        Some(KEY),
    )
    .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND, "{}", missing.text);
    assert_eq!(missing.json()["error"]["code"], "connection_not_found");
    let basic = call(
        &f.router,
        Method::POST,
        "/v1/connections",
        Some(json!({
            "name": "Basic", "apiType": "cloud-platform", "subdomain": "demo",
            "authType": "basic", "username": "me@example.com", "apiToken": "t",
        })),
        Some(KEY),
    )
    .await;
    let id = basic.json()["id"].as_str().unwrap().to_owned();
    let r = call(
        &f.router,
        Method::POST,
        &format!("/v1/connections/{id}/authorize"),
        None,
        Some(KEY),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert_eq!(r.json()["error"]["code"], "validation_failed", "{}", r.text);
    assert!(r.text.contains("Basic auth"), "{}", r.text);
}
