//! Secrets typed into the web form go through the same validation as on `/v1`: a blank one
//! is missing, one of more than 4,096 characters is refused without being repeated, and
//! neither is stored or sent to Atlassian (the simulator sees no request at all).

use axum::http::{Method, StatusCode};
use pretty_assertions::assert_eq;
use serde_json::json;

use crate::{Fixture, KEY, Reply, call, fixture, sign_in};

fn oversized() -> String {
    format!("CANARY-{}", "x".repeat(4096))
}

/// The message `/v1` gives for `field` in a `validation_failed` answer.
fn v1_message(r: &Reply, field: &str) -> String {
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    let fields = r.json()["error"]["fields"].as_array().unwrap().clone();
    let found = fields
        .iter()
        .find(|f| f["field"] == field)
        .unwrap_or_else(|| panic!("no problem for {field}: {}", r.text));
    found["message"].as_str().unwrap().to_owned()
}

/// The message the form's JSON answer gives for `field`.
fn form_message(r: &Reply, field: &str) -> String {
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    let problems = r.json()["problems"].as_array().unwrap().clone();
    let found = problems
        .iter()
        .find(|p| p["field"] == field)
        .unwrap_or_else(|| panic!("no problem for {field}: {}", r.text));
    found["message"].as_str().unwrap().to_owned()
}

fn never_repeated(r: &Reply) {
    assert!(
        !r.text.contains("CANARY") && !r.text.contains("xxxx"),
        "the value came back"
    );
}

fn nothing_sent(f: &Fixture) {
    let requests = f.sim.control().requests();
    assert!(
        requests.is_empty(),
        "the simulator got {:?}",
        requests.iter().map(|r| &r.path).collect::<Vec<_>>()
    );
}

/// The API token of the connection form: tested (with and without the script) and saved,
/// it is refused with `/v1`'s message and nothing reaches the simulator.
#[tokio::test]
async fn the_forms_api_token_is_validated_as_on_v1_and_nothing_is_sent() {
    let f = fixture().await;
    let b = sign_in(&f, "form-user").await;
    let email = f.sim.samples().email.clone();
    let oversized = oversized();
    for token in ["", "   ", "\t", oversized.as_str()] {
        let at = format!("a token of {} characters", token.len());
        let body = json!({
            "name": "Jira demo", "apiType": "cloud-platform", "subdomain": "demo",
            "authType": "basic", "username": email, "apiToken": token,
        });
        let v1 = call(
            &f.router,
            Method::POST,
            "/v1/connections/test",
            Some(body),
            Some(KEY),
        )
        .await;
        let expected = v1_message(&v1, "api_token");
        never_repeated(&v1);

        let fields = [
            ("name", "Jira demo"),
            ("api_type", "cloud-platform"),
            ("subdomain", "demo"),
            ("auth_type", "basic"),
            ("username", email.as_str()),
            ("api_token", token),
        ];
        let r = b.post(&f, "/connections/test", &fields).await;
        assert_eq!(form_message(&r, "api_token"), expected, "{at}");
        never_repeated(&r);

        for action in ["save", "test"] {
            let mut with_action = fields.to_vec();
            with_action.push(("action", action));
            let r = b.post(&f, "/connections", &with_action).await;
            assert_eq!(
                r.status,
                StatusCode::UNPROCESSABLE_ENTITY,
                "{action}, {at}: {}",
                r.text
            );
            assert!(
                r.text
                    .contains("<p class=\"field-error\" data-for=\"api_token\""),
                "{action}, {at}: no error beside the API token"
            );
            if token.len() > 4096 {
                assert!(r.text.contains("longer than 4096 characters"), "{action}");
            }
            never_repeated(&r);
        }
    }
    assert!(f.app.list_connections().await.unwrap().is_empty());
    nothing_sent(&f);
}

/// The client secret of the OAuth 2.0 client dialog: refused with `/v1`'s message, nothing
/// stored.
#[tokio::test]
async fn the_dialogs_client_secret_is_validated_as_on_v1() {
    let f = fixture().await;
    let b = sign_in(&f, "form-user").await;
    let oversized = oversized();
    for secret in ["", "   ", oversized.as_str()] {
        let at = format!("a secret of {} characters", secret.len());
        let v1 = call(
            &f.router,
            Method::POST,
            "/v1/oauth-clients",
            Some(json!({"name": "App", "clientId": "abc123", "clientSecret": secret})),
            Some(KEY),
        )
        .await;
        let expected = v1_message(&v1, "client_secret");
        never_repeated(&v1);
        let r = b
            .post(
                &f,
                "/oauth-clients",
                &[
                    ("name", "App"),
                    ("client_id", "abc123"),
                    ("client_secret", secret),
                ],
            )
            .await;
        assert_eq!(form_message(&r, "client_secret"), expected, "{at}");
        never_repeated(&r);
    }
    assert!(f.app.list_oauth_clients().await.unwrap().is_empty());
    nothing_sent(&f);
}

/// `/v1/connections/test` with an oversized token is refused before any request is sent.
#[tokio::test]
async fn an_oversized_token_sends_nothing_from_v1() {
    let f = fixture().await;
    let email = f.sim.samples().email.clone();
    let r = call(
        &f.router,
        Method::POST,
        "/v1/connections/test",
        Some(json!({
            "name": "Jira demo", "apiType": "cloud-platform", "subdomain": "demo",
            "authType": "basic", "username": email, "apiToken": oversized(),
        })),
        Some(KEY),
    )
    .await;
    assert!(v1_message(&r, "api_token").contains("longer than 4096 characters"));
    never_repeated(&r);
    nothing_sent(&f);
    // The same request with the real token does reach it: the log is not empty by accident.
    let r = call(
        &f.router,
        Method::POST,
        "/v1/connections/test",
        Some(json!({
            "name": "Jira demo", "apiType": "cloud-platform", "subdomain": "demo",
            "authType": "basic", "username": email,
            "apiToken": f.sim.samples().api_token.clone(),
        })),
        Some(KEY),
    )
    .await;
    assert_eq!(r.json()["result"], "passed", "{}", r.text);
    assert!(!f.sim.control().requests().is_empty());
}
