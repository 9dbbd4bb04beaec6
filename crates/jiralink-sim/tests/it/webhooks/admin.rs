//! Admin webhooks (`/rest/webhooks/1.0/webhook`): site administrators only, optional secret.

use jiralink_sim::control::{NewApiToken, TokenKindInput};
use jiralink_sim::webhooks::WebhookKind;
use pretty_assertions::assert_eq;
use reqwest::StatusCode;
use serde_json::json;

use super::{Receiver, alice_account, assert_error, create_issue, hub_signature, sim};
use crate::platform::{Api, expect};
use crate::{alice_classic, basic};

fn admin_api(sim: &jiralink_sim::SimHandle, auth: String) -> Api {
    Api {
        base: format!("{}/rest/webhooks/1.0", sim.site_url("demo")),
        auth,
    }
}

#[tokio::test]
async fn administrators_register_signed_webhooks_and_others_are_refused() {
    let sim = sim().await;
    let receiver = Receiver::start().await;
    let alice = admin_api(&sim, alice_classic(&sim));
    let secret = "s3cret-for-hub";
    let created = alice
        .post(
            "/webhook",
            &json!({
                "name": "jiralink",
                "url": receiver.url,
                "events": ["jira:issue_created", "jira:issue_updated"],
                "filters": {"issue-related-events-section": "project = DEMO AND labels = admin"},
                "excludeBody": false,
                "secret": secret,
            }),
        )
        .await;
    let body = expect(&created, StatusCode::CREATED).clone();
    let self_url = body["self"].as_str().expect("self").to_owned();
    let id = self_url.rsplit('/').next().expect("id").to_owned();
    assert!(self_url.ends_with(&format!("/rest/webhooks/1.0/webhook/{id}")));
    assert_eq!(body["name"], json!("jiralink"));
    assert_eq!(body["url"], json!(receiver.url));
    assert_eq!(body["enabled"], json!(true));
    assert_eq!(body["excludeBody"], json!(false));
    assert_eq!(
        body["filters"],
        json!({"issue-related-events-section": "project = DEMO AND labels = admin"})
    );
    assert_eq!(body["lastUpdatedUser"], json!(alice_account(&sim)));
    assert!(body.get("secret").is_none(), "the secret is never answered");

    let api = crate::platform::Api::alice(&sim, "3");
    create_issue(&api, "Not for admins", &[]).await;
    let key = create_issue(&api, "For admins", &["admin"]).await;
    sim.control().deliveries_settled().await;
    let received = receiver.received();
    assert_eq!(received.len(), 1);
    let delivery = &received[0];
    assert_eq!(delivery.json()["issue"]["key"], json!(key));
    assert_eq!(
        delivery.header("x-hub-signature"),
        Some(hub_signature(secret, &delivery.body).as_str())
    );
    assert_eq!(delivery.header("authorization"), None);
    assert!(delivery.header("x-atlassian-webhook-identifier").is_some());
    let log = sim.control().webhook_deliveries();
    assert_eq!(log[0].webhook.kind, WebhookKind::Admin);

    // List, read, replace (without a secret: deliveries are no longer signed), delete.
    let list = expect(&alice.get("/webhook").await, StatusCode::OK).clone();
    assert_eq!(list.as_array().map(Vec::len), Some(1));
    assert_eq!(list[0]["self"], json!(self_url));
    let read = expect(&alice.get(&format!("/webhook/{id}")).await, StatusCode::OK).clone();
    assert_eq!(read, list[0]);
    let replaced = alice
        .put(
            &format!("/webhook/{id}"),
            &json!({"name": "renamed", "url": receiver.url, "events": ["jira:issue_created"],
                    "secret": null}),
        )
        .await;
    let replaced = expect(&replaced, StatusCode::OK).clone();
    assert_eq!(replaced["name"], json!("renamed"));
    assert_eq!(replaced["filters"], json!({}));
    receiver.clear();
    create_issue(&api, "Anything", &[]).await;
    sim.control().deliveries_settled().await;
    assert_eq!(receiver.received().len(), 1);
    assert_eq!(receiver.received()[0].header("x-hub-signature"), None);

    // Disabled: nothing is delivered.
    let disabled = alice
        .put(
            &format!("/webhook/{id}"),
            &json!({"name": "renamed", "url": receiver.url, "events": ["jira:issue_created"],
                    "enabled": false}),
        )
        .await;
    assert_eq!(expect(&disabled, StatusCode::OK)["enabled"], json!(false));
    receiver.clear();
    create_issue(&api, "Unheard", &[]).await;
    sim.control().deliveries_settled().await;
    assert!(receiver.received().is_empty());
    assert!(!sim.control().webhooks()[0].active);

    let removed = alice.delete(&format!("/webhook/{id}")).await;
    assert_eq!(removed.status, StatusCode::NO_CONTENT);
    assert_error(&alice.get(&format!("/webhook/{id}")).await, 404);
    assert_error(&alice.delete(&format!("/webhook/{id}")).await, 404);
    assert_error(
        &alice
            .post(
                "/webhook",
                &json!({"name": "", "url": "nope", "events": ["bogus"]}),
            )
            .await,
        400,
    );

    // Bob is no administrator.
    let bob_token = sim
        .control()
        .add_api_token(NewApiToken {
            email: "bob@example.com".to_owned(),
            kind: TokenKindInput::Classic,
            scopes: Vec::new(),
            expires_in_secs: None,
            label: None,
        })
        .expect("token")
        .token;
    let bob = admin_api(&sim, basic("bob@example.com", &bob_token));
    assert_error(&bob.get("/webhook").await, 403);
    let refused = bob
        .post(
            "/webhook",
            &json!({"name": "x", "url": receiver.url, "events": ["jira:issue_created"]}),
        )
        .await;
    assert_error(&refused, 403);
    assert!(sim.control().webhooks().is_empty());
    sim.shutdown().await;
}

#[tokio::test]
async fn exclude_body_sends_an_empty_body() {
    let sim = sim().await;
    let receiver = Receiver::start().await;
    let alice = admin_api(&sim, alice_classic(&sim));
    let created = alice
        .post(
            "/webhook",
            &json!({"name": "bare", "url": receiver.url, "events": ["jira:issue_created"],
                    "excludeBody": true}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED);
    create_issue(&crate::platform::Api::alice(&sim, "3"), "Quiet", &[]).await;
    sim.control().deliveries_settled().await;
    let received = receiver.received();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].body, "");
    assert_eq!(
        sim.control().webhooks()[0].jql_filter,
        None::<String>,
        "no filter: every issue"
    );
    sim.shutdown().await;
}
