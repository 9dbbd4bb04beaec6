//! The delivery knobs (drop, duplicate, delay, reorder), through `Control` and `/_sim/knobs`,
//! and the control API's webhook views.

use jiralink_sim::SimHandle;
use jiralink_sim::webhooks::AttemptOutcome;
use pretty_assertions::assert_eq;
use reqwest::StatusCode;
use serde_json::json;

use super::{Receiver, app, create_issue, register, sim};
use crate::client;
use crate::platform::{Api, expect};

async fn hooked(sim: &SimHandle, receiver: &Receiver) -> Api {
    let app = app(sim).await;
    register(
        &app,
        &receiver.url,
        json!({"events": ["jira:issue_created", "jira:issue_updated"], "jqlFilter": "project = DEMO"}),
    )
    .await;
    app
}

#[tokio::test]
async fn dropped_deliveries_never_arrive_and_are_listed_as_failed() {
    let sim = sim().await;
    let receiver = Receiver::start().await;
    let app = hooked(&sim, &receiver).await;
    sim.control()
        .update_knobs(|k| k.webhooks.drop_share = 1.0)
        .expect("knobs");
    create_issue(&app, "Lost", &[]).await;
    sim.control().deliveries_settled().await;
    assert!(receiver.received().is_empty());
    let log = sim.control().webhook_deliveries();
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].outcome, AttemptOutcome::Dropped);
    let failed = expect(&app.get("/webhook/failed").await, StatusCode::OK).clone();
    assert_eq!(failed["values"][0]["id"], json!(log[0].identifier));
    sim.shutdown().await;
}

#[tokio::test]
async fn duplicated_deliveries_repeat_the_identifier_marked_as_a_retry() {
    let sim = sim().await;
    let receiver = Receiver::start().await;
    let app = hooked(&sim, &receiver).await;
    sim.control()
        .update_knobs(|k| k.webhooks.duplicate_share = 1.0)
        .expect("knobs");
    create_issue(&app, "Twice", &[]).await;
    sim.control().deliveries_settled().await;
    let received = receiver.received();
    assert_eq!(received.len(), 2);
    assert_eq!(
        received[0].header("x-atlassian-webhook-identifier"),
        received[1].header("x-atlassian-webhook-identifier")
    );
    assert_eq!(received[0].header("x-atlassian-webhook-retry"), None);
    assert_eq!(received[1].header("x-atlassian-webhook-retry"), Some("1"));
    assert_eq!(received[0].body, received[1].body);
    let log = sim.control().webhook_deliveries();
    assert_eq!(
        log.iter()
            .map(|a| (a.attempt, a.duplicate))
            .collect::<Vec<_>>(),
        [(0, false), (1, true)]
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn delayed_deliveries_arrive_after_the_write_has_answered() {
    let sim = sim().await;
    let receiver = Receiver::start().await;
    let app = hooked(&sim, &receiver).await;
    sim.control()
        .update_knobs(|k| k.webhooks.delay_ms = 500)
        .expect("knobs");
    create_issue(&app, "Later", &[]).await;
    // The write has answered; its delivery is still held.
    assert!(receiver.received().is_empty());
    assert_eq!(sim.control().pending_deliveries(), 1);
    sim.control().deliveries_settled().await;
    assert_eq!(receiver.events(), ["jira:issue_created"]);
    assert_eq!(sim.control().pending_deliveries(), 0);
    sim.shutdown().await;
}

#[tokio::test]
async fn reordered_deliveries_come_after_the_next_one() {
    let sim = sim().await;
    let receiver = Receiver::start().await;
    let app = hooked(&sim, &receiver).await;
    sim.control()
        .update_knobs(|k| k.webhooks.reorder_share = 1.0)
        .expect("knobs");
    let key = create_issue(&app, "First", &[]).await;
    app.put(
        &format!("/issue/{key}"),
        &json!({"fields": {"summary": "Second"}}),
    )
    .await;
    sim.control().deliveries_settled().await;
    assert_eq!(
        receiver.events(),
        ["jira:issue_updated", "jira:issue_created"]
    );
    assert_eq!(
        sim.control().webhook_reordered(),
        1,
        "the create went after the update"
    );
    sim.shutdown().await;
}

/// The same seed and the same writes lose the same deliveries.
#[tokio::test]
async fn random_shares_are_reproducible_with_the_seed() {
    async fn pattern() -> Vec<String> {
        let sim = sim().await;
        let receiver = Receiver::start().await;
        let app = hooked(&sim, &receiver).await;
        sim.control()
            .update_knobs(|k| k.webhooks.drop_share = 0.5)
            .expect("knobs");
        for n in 0..12 {
            create_issue(&app, &format!("Issue {n}"), &[]).await;
        }
        sim.control().deliveries_settled().await;
        let summaries: Vec<String> = receiver
            .received()
            .iter()
            .map(|r| {
                r.json()["issue"]["fields"]["summary"]
                    .as_str()
                    .expect("summary")
                    .to_owned()
            })
            .collect();
        sim.shutdown().await;
        summaries
    }
    let first = pattern().await;
    assert!(!first.is_empty() && first.len() < 12, "{first:?}");
    assert_eq!(pattern().await, first);
}

#[tokio::test]
async fn knobs_and_views_through_the_control_api() {
    let sim = sim().await;
    let receiver = Receiver::start().await;
    let app = hooked(&sim, &receiver).await;
    let base = sim.base_url();
    let bad = client()
        .patch(format!("{base}/_sim/knobs"))
        .json(&json!({"webhooks": {"drop_share": 2.0}}))
        .send()
        .await
        .expect("patch");
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    let ok = client()
        .patch(format!("{base}/_sim/knobs"))
        .json(&json!({"webhooks": {"duplicate_share": 1.0, "delay_ms": 1}}))
        .send()
        .await
        .expect("patch");
    assert_eq!(ok.status(), StatusCode::OK);
    let knobs = sim.control().knobs().webhooks;
    assert_eq!((knobs.duplicate_share, knobs.delay_ms), (1.0, 1));
    assert_eq!(
        knobs.retry_backoff_ms, 2,
        "other webhook knobs keep their values"
    );

    create_issue(&app, "Seen twice", &[]).await;
    sim.control().deliveries_settled().await;
    assert_eq!(receiver.received().len(), 2);

    let hooks: serde_json::Value = client()
        .get(format!("{base}/_sim/webhooks"))
        .send()
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    assert_eq!(hooks[0]["kind"], json!("dynamic"));
    assert_eq!(hooks[0]["url"], json!(receiver.url));
    assert_eq!(hooks[0]["owner"], json!(sim.samples().oauth_client_id));
    assert_eq!(hooks[0]["active"], json!(true));
    let deliveries: serde_json::Value = client()
        .get(format!("{base}/_sim/webhooks/deliveries"))
        .send()
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    assert_eq!(deliveries["pending"], json!(0));
    assert_eq!(deliveries["attempts"][0]["outcome"], json!("delivered"));
    assert_eq!(deliveries["attempts"][0]["status"], json!(200));
    assert_eq!(deliveries["attempts"][1]["duplicate"], json!(true));
    let cleared = client()
        .delete(format!("{base}/_sim/webhooks/deliveries"))
        .send()
        .await
        .expect("delete");
    assert_eq!(cleared.status(), StatusCode::NO_CONTENT);
    assert!(sim.control().webhook_deliveries().is_empty());
    sim.shutdown().await;
}
