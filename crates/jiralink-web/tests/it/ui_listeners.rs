//! The listener pages in Chromium: a form missing its name and flow refused with both
//! problems (the default events ticked), a Basic connection's listener created (an admin
//! webhook: nothing to register in Jira) with its URL, its secret shown once with a warning,
//! and the administrator's steps; a delivery signed with that secret processed into a flow
//! run and listed with a link to it; "Check now"; the list; and the delete after a
//! confirmation (cancelled once). The secret appears on no other page.

use std::time::Duration;

use jiralink_app::{Delivery, FlowDraft, WorkerOptions};
use serde_json::json;

use crate::api_listeners::{issue_id, signed};
use crate::browser::Browser;
use crate::ui_flows::parts;

#[tokio::test]
async fn a_listener_is_created_shown_checked_and_deleted() {
    let b = Browser::signed_in("listeners").await;
    let [export, import, _, _] = parts(&b.app, &b).await;
    let flow = b
        .app
        .create_flow(FlowDraft {
            name: "demo-to-acme".to_owned(),
            export,
            import,
            schedule: None,
            enabled: true,
        })
        .await
        .unwrap();

    // The Listeners page is in the navigation; there are none yet.
    b.click_and_load("nav a[href=\"/listeners\"]").await;
    b.wait_for("#empty-state").await;
    b.wait_for("form#listener-form").await;
    for (event, ticked) in [
        ("jira:issue_created", true),
        ("comment_deleted", true),
        ("worklog_created", false),
    ] {
        let css = format!("input[name=\"event\"][value=\"{event}\"]");
        assert_eq!(b.attr(&css, "checked").await.is_some(), ticked, "{event}");
    }
    b.shot("no-listeners").await;

    // Neither name nor flow: both problems listed.
    b.click_and_load("button#save").await;
    b.wait_for("#form-summary").await;
    assert_eq!(b.texts("#form-summary li").await.len(), 2);

    // Created: the URL, the secret once with its warning, the administrator's steps.
    b.fill("input#name", "demo-events").await;
    b.select("select#flow", &flow.id.to_string()).await;
    b.fill("input#jql", "type = Task").await;
    b.fill("input#field-ids", "summary").await;
    b.click_and_load("button#save").await;
    b.wait_text("h1#listener-name", "demo-events").await;
    let url = b.text("#listener-url").await;
    assert!(url.contains("/hooks/jira/"), "{url}");
    let secret = b.text("#listener-secret").await;
    assert_eq!(secret.len(), 64, "{secret}");
    assert!(secret.bytes().all(|c| c.is_ascii_hexdigit()), "{secret}");
    assert!(
        b.text("#secret-warning")
            .await
            .contains("will not be shown again")
    );
    let steps = b.texts("#setup-steps li").await;
    assert!(steps.iter().any(|s| s.contains(&url)), "{steps:?}");
    b.shot("created").await;
    let view = b.app.get_listener("demo-events").await.unwrap();
    assert_eq!(view.mode, "admin");
    assert_eq!(view.field_ids, vec!["summary"]);

    // A delivery signed with the secret shown: stored, then processed into a flow run.
    let issue = issue_id(&b.app, &b.sim, "MKT-1").await;
    let now_ms = i64::try_from(b.app.now().unix_timestamp_nanos() / 1_000_000).unwrap();
    let body = json!({"timestamp": now_ms, "webhookEvent": "jira:issue_updated",
                      "issue": {"id": issue, "key": "MKT-1"},
                      "changelog": {"id": "1", "items": [{"fieldId": "summary"}]}})
    .to_string();
    let token = url.rsplit('/').next().unwrap();
    let signature = signed(&body, &secret);
    b.app
        .receive_delivery(Delivery {
            token,
            authorization: None,
            hub_signature: Some(&signature),
            identifier: Some("delivery-1"),
            body: body.as_bytes(),
        })
        .await
        .unwrap();
    let options = WorkerOptions {
        lease: Duration::from_secs(60),
        poll: Duration::from_secs(1),
        retest_interval: Duration::from_secs(3600),
    };
    let ran = b.app.run_due_job(&options).await.unwrap().unwrap();
    assert_eq!(ran.kind, "listeners.process", "{ran:?}");

    // Its page: no secret, the event with a link to its flow run.
    b.click_and_load("a#open-listener").await;
    b.wait_text("h1#listener-name", "demo-events").await;
    assert_eq!(b.text("#listener-url").await, url);
    assert!(b.text("#listener-state").await.contains("Active"));
    assert_eq!(b.text("#listener-received").await, "1");
    assert_eq!(b.text("#listener-pending").await, "0");
    assert_eq!(b.text("#listener-lag").await, "Up to date");
    assert!(!b.text("main").await.contains(&secret));
    assert!(b.is_shown("#setup-steps").await);
    assert_eq!(
        b.text("#events tr.listener-event .col-state .badge").await,
        "done"
    );
    let run_link = b
        .attr("#events tr.listener-event .col-flow-run a", "href")
        .await
        .unwrap();
    let run = b
        .app
        .list_flow_runs(Some("demo-to-acme"), Some(1))
        .await
        .unwrap();
    assert_eq!(run_link, format!("/flows/{}#run-{}", flow.id, run[0].id));
    b.shot("details").await;
    b.goto(&run_link).await;
    b.wait_for(&format!("tr#run-{}", run[0].id)).await;
    assert!(
        b.text(&format!("tr#run-{}", run[0].id))
            .await
            .contains("Listener")
    );
    b.goto(&format!("/listeners/{}", view.id)).await;

    // Check now: the safety net looks, and its look is shown.
    assert!(b.text("#net-last").await.contains("not yet"));
    b.click_and_load("button#check-now").await;
    b.wait_text(".notice", "Checked").await;
    assert!(!b.text("#net-last").await.contains("not yet"));
    assert!(!b.text("main").await.contains(&secret));
    b.shot("checked").await;

    // Listed.
    b.click_and_load("nav a[href=\"/listeners\"]").await;
    let row = "tr[data-listener-name=\"demo-events\"]";
    assert_eq!(b.text(&format!("{row} .col-flow")).await, "demo-to-acme");
    assert_eq!(b.text(&format!("{row} .col-connection")).await, "Sim demo");
    assert_eq!(b.text(&format!("{row} .col-mode")).await, "Admin");
    assert_eq!(b.text(&format!("{row} .col-state")).await, "Active");
    assert_eq!(b.text(&format!("{row} .col-lag")).await, "Up to date");
    assert!(
        !b.text(&format!("{row} .col-last-event"))
            .await
            .contains("None")
    );
    assert!(!b.text("main").await.contains(&secret));
    b.shot("listed").await;

    // Deleted after a confirmation (cancelled once); the flow stays.
    b.click_and_load(&format!("{row} a.action-delete-page"))
        .await;
    b.wait_text("h1", "Delete listener").await;
    b.click_and_load("a.btn-secondary[href^=\"/listeners/\"]")
        .await;
    b.wait_text("h1#listener-name", "demo-events").await;
    b.click_and_load("a#delete-listener").await;
    b.wait_text("h1", "Delete listener").await;
    b.click_and_load("button#confirm-delete-yes").await;
    b.wait_text(".notice", "deleted").await;
    b.wait_for("#empty-state").await;
    assert!(b.app.list_listeners().await.unwrap().is_empty());
    assert_eq!(b.app.list_flows().await.unwrap().len(), 1);
    b.shot("deleted").await;

    b.finish().await;
}
