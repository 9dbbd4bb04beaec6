//! The `/v1` REST API: the key is required everywhere, CRUD round trips, write-only secrets,
//! and the application's error codes.

use axum::http::{Method, StatusCode, header};
use pretty_assertions::assert_eq;
use serde_json::json;

use crate::{KEY, call, fixture};

const TOKEN: &str = "CANARY-api-token-5d1c9e";
const CLIENT_SECRET: &str = "CANARY-client-secret-77ab30";

/// Every `/v1` route, with a path that would otherwise reach a handler.
const ROUTES: [(&str, &str); 14] = [
    ("GET", "/v1/connections"),
    ("POST", "/v1/connections"),
    ("GET", "/v1/connections/x"),
    ("PUT", "/v1/connections/x"),
    ("DELETE", "/v1/connections/x"),
    ("POST", "/v1/connections/x/test"),
    ("POST", "/v1/connections/x/authorize"),
    ("GET", "/v1/connections/x/http-view"),
    ("GET", "/v1/connections/x/audit"),
    ("GET", "/v1/oauth-clients"),
    ("POST", "/v1/oauth-clients"),
    ("GET", "/v1/oauth-clients/x"),
    ("PUT", "/v1/oauth-clients/x"),
    ("DELETE", "/v1/oauth-clients/x"),
];

fn basic(name: &str, email: &str, token: Option<&str>) -> serde_json::Value {
    let mut body = json!({
        "name": name,
        "apiType": "cloud-platform",
        "subdomain": "demo",
        "authType": "basic",
        "username": email,
    });
    if let Some(t) = token {
        body["apiToken"] = json!(t);
    }
    body
}

#[tokio::test]
async fn every_v1_route_answers_401_without_a_valid_key() {
    let f = fixture().await;
    for (method, path) in ROUTES {
        let method: Method = method.parse().unwrap();
        for key in [None, Some("wrong-key"), Some("")] {
            let r = call(&f.router, method.clone(), path, Some(json!({})), key).await;
            assert_eq!(
                r.status,
                StatusCode::UNAUTHORIZED,
                "{method} {path} {key:?}"
            );
            assert_eq!(r.json()["error"]["code"], "unauthorized", "{method} {path}");
            assert!(r.headers.contains_key(header::WWW_AUTHENTICATE));
        }
    }
    // Not the key sent with another scheme either.
    let res = {
        use tower::ServiceExt as _;
        let req = axum::http::Request::get("/v1/connections")
            .header(header::AUTHORIZATION, format!("Basic {KEY}"))
            .body(axum::body::Body::empty())
            .unwrap();
        f.router.clone().oneshot(req).await.unwrap()
    };
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    // Health needs no key.
    assert_eq!(
        call(&f.router, Method::GET, "/healthz", None, None)
            .await
            .status,
        StatusCode::OK
    );
    let ready = call(&f.router, Method::GET, "/readyz", None, None).await;
    assert_eq!(ready.status, StatusCode::OK);
    assert_eq!(ready.json()["status"], "ready");
}

#[tokio::test]
async fn connection_round_trip_never_shows_the_token() {
    let f = fixture().await;
    let email = f.sim.samples().email.clone();
    let r = call(
        &f.router,
        Method::POST,
        "/v1/connections",
        Some(basic("Jira demo", &email, Some(TOKEN))),
        Some(KEY),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert!(!r.text.contains(TOKEN));
    let created = r.json();
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(created["apiToken"]["set"], true);
    assert!(created["apiToken"]["updatedAt"].is_string());
    assert_eq!(created["state"]["status"], "untested", "{}", r.text);

    let list = call(&f.router, Method::GET, "/v1/connections", None, Some(KEY)).await;
    assert_eq!(list.status, StatusCode::OK);
    assert_eq!(list.json().as_array().unwrap().len(), 1);
    let by_name = call(
        &f.router,
        Method::GET,
        "/v1/connections/jira%20demo",
        None,
        Some(KEY),
    )
    .await;
    assert_eq!(by_name.json()["id"], json!(id));

    // A replace without the token is refused by the app's validation.
    let path = format!("/v1/connections/{id}");
    let r = call(
        &f.router,
        Method::PUT,
        &path,
        Some(basic("Jira demo", &email, None)),
        Some(KEY),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.json()["error"]["code"], "validation_failed");
    assert_eq!(r.json()["error"]["retryable"], false);

    let token = f.sim.samples().api_token.clone();
    let mut replacement = basic("Jira renamed", &email, Some(&token));
    replacement["concurrencyLevel"] = json!(5);
    let r = call(&f.router, Method::PUT, &path, Some(replacement), Some(KEY)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(!r.text.contains(&token));
    assert_eq!(r.json()["name"], "Jira renamed");
    assert_eq!(r.json()["concurrencyLevel"], 5);
    assert!(r.json()["notices"].is_array());

    let r = call(
        &f.router,
        Method::POST,
        &format!("{path}/test"),
        None,
        Some(KEY),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json()["result"], "passed", "{}", r.text);
    assert!(!r.text.contains(&token));
    let shown = call(&f.router, Method::GET, &path, None, Some(KEY)).await;
    assert_eq!(shown.json()["state"]["status"], "online");

    let view = call(
        &f.router,
        Method::GET,
        &format!("{path}/http-view"),
        None,
        Some(KEY),
    )
    .await;
    assert_eq!(view.status, StatusCode::OK);
    assert!(view.json()["baseUri"].is_string(), "{}", view.text);
    assert!(!view.text.contains(&token));

    let r = call(&f.router, Method::DELETE, &path, None, Some(KEY)).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let gone = call(&f.router, Method::GET, &path, None, Some(KEY)).await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
    assert_eq!(gone.json()["error"]["code"], "connection_not_found");

    // The audit trail outlives the connection and names the API as the source.
    let audit = call(
        &f.router,
        Method::GET,
        &format!("{path}/audit"),
        None,
        Some(KEY),
    )
    .await;
    assert_eq!(audit.status, StatusCode::OK, "{}", audit.text);
    let entries = audit.json();
    let entries = entries.as_array().unwrap();
    assert_eq!(entries.len(), 3, "{}", audit.text);
    assert!(
        entries.iter().all(|e| e["source"] == "api"),
        "{}",
        audit.text
    );
    for secret in [TOKEN, token.as_str()] {
        assert!(!audit.text.contains(secret));
    }
}

#[tokio::test]
async fn errors_carry_the_stable_codes_and_never_echo_values() {
    let f = fixture().await;
    let body = basic("Dup", "me@example.com", Some(TOKEN));
    let first = call(
        &f.router,
        Method::POST,
        "/v1/connections",
        Some(body.clone()),
        Some(KEY),
    )
    .await;
    assert_eq!(first.status, StatusCode::CREATED);
    let again = call(
        &f.router,
        Method::POST,
        "/v1/connections",
        Some(body),
        Some(KEY),
    )
    .await;
    // The app reports a taken name with the other validation problems.
    assert_eq!(again.status, StatusCode::BAD_REQUEST, "{}", again.text);
    assert_eq!(again.json()["error"]["code"], "validation_failed");
    assert!(again.text.contains("already named"), "{}", again.text);

    let mut wrong_type = basic("Other", "me@example.com", None);
    wrong_type["scopes"] = json!(TOKEN);
    let r = call(
        &f.router,
        Method::POST,
        "/v1/connections",
        Some(wrong_type),
        Some(KEY),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.json()["error"]["code"], "validation_failed");
    assert!(!r.text.contains(TOKEN), "{}", r.text);
    assert!(
        r.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("scopes")
    );

    let mut unknown = basic("Other", "me@example.com", None);
    unknown["password"] = json!("x");
    let r = call(
        &f.router,
        Method::POST,
        "/v1/connections",
        Some(unknown),
        Some(KEY),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.text.contains("password"), "{}", r.text);

    let r = call(
        &f.router,
        Method::POST,
        "/v1/connections",
        Some(json!({"name": "Incomplete", "apiToken": TOKEN})),
        Some(KEY),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.json()["error"]["code"], "validation_failed");
    assert!(!r.text.contains(TOKEN));

    let r = call(&f.router, Method::GET, "/v1/nothing-here", None, Some(KEY)).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.json()["error"]["code"], "not_found");
    let r = call(
        &f.router,
        Method::GET,
        "/v1/oauth-clients/nope",
        None,
        Some(KEY),
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.json()["error"]["code"], "oauth_client_not_found");
}

#[tokio::test]
async fn oauth_client_round_trip_keeps_the_secret_write_only() {
    let f = fixture().await;
    let r = call(
        &f.router,
        Method::POST,
        "/v1/oauth-clients",
        Some(json!({"name": "Atlassian app", "clientId": "abc123", "clientSecret": CLIENT_SECRET})),
        Some(KEY),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert!(!r.text.contains(CLIENT_SECRET));
    let client = r.json();
    assert_eq!(client["clientSecret"]["set"], true);
    assert!(
        client["callbackUrl"]
            .as_str()
            .unwrap()
            .ends_with("/connection/oauth2callback")
    );
    let path = format!("/v1/oauth-clients/{}", client["id"].as_str().unwrap());

    let r = call(
        &f.router,
        Method::PUT,
        &path,
        Some(json!({"name": "Atlassian app", "clientId": "abc124"})),
        Some(KEY),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert_eq!(r.json()["error"]["code"], "validation_failed");
    let r = call(
        &f.router,
        Method::PUT,
        &path,
        Some(json!({"name": "Atlassian app", "clientId": "abc124", "clientSecret": CLIENT_SECRET})),
        Some(KEY),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json()["clientId"], "abc124");

    let oauth = json!({
        "name": "Jira OAuth", "apiType": "cloud-platform", "subdomain": "demo",
        "authType": "oauth2", "oauthClient": "Atlassian app", "scopes": ["read:jira-work"],
    });
    let r = call(
        &f.router,
        Method::POST,
        "/v1/connections",
        Some(oauth),
        Some(KEY),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let connection = format!("/v1/connections/{}", r.json()["id"].as_str().unwrap());
    assert_eq!(r.json()["state"]["status"], "needs_authorization");

    let r = call(&f.router, Method::DELETE, &path, None, Some(KEY)).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(r.json()["error"]["code"], "oauth_client_in_use");

    let list = call(&f.router, Method::GET, "/v1/oauth-clients", None, Some(KEY)).await;
    assert_eq!(list.json()[0]["usedBy"], json!(["Jira OAuth"]));
    assert!(!list.text.contains(CLIENT_SECRET));

    assert_eq!(
        call(&f.router, Method::DELETE, &connection, None, Some(KEY))
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        call(&f.router, Method::DELETE, &path, None, Some(KEY))
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    let gone = call(&f.router, Method::GET, &path, None, Some(KEY)).await;
    assert_eq!(gone.json()["error"]["code"], "oauth_client_not_found");
}
