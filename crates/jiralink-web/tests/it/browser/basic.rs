//! A Basic Cloud Platform connection to the simulator's sample site: the fields appear as
//! the choices are made, Test connection passes, Save lists it, and the list's Test brings it
//! online.

use super::{Browser, SUBDOMAIN};

#[tokio::test]
async fn creating_a_basic_connection() {
    let b = Browser::signed_in("basic").await;
    let samples = b.sim.samples().clone();

    b.click_and_load("a#new-connection").await;
    b.wait_for("form#connection-form").await;
    assert_eq!(b.path().await, "/connections/new");
    assert_eq!(b.shown_fields().await, ["name", "api_type"]);
    b.shot("new-connection").await;

    b.fill("input#name", "Jira Basic").await;
    b.select("select#api-type", "cloud-platform").await;
    b.wait_visible("input#subdomain").await;
    b.fill("input#subdomain", SUBDOMAIN).await;
    b.select("select#auth-type", "basic").await;
    b.wait_visible("input#api-token").await;
    assert_eq!(
        b.shown_fields().await,
        [
            "name",
            "api_type",
            "subdomain",
            "auth_type",
            "username",
            "api_token"
        ]
    );
    assert!(!b.is_shown("button#save-authorize").await);
    b.fill("input#username", &samples.email).await;
    b.fill("input#api-token", &samples.api_token).await;
    assert_eq!(
        b.attr("input#api-token", "type").await.as_deref(),
        Some("password")
    );

    b.click("button#help-api-token").await;
    let steps = b
        .wait_visible("#help-api-token-steps")
        .await
        .text()
        .await
        .unwrap();
    assert!(steps.contains("API token"), "{steps}");
    b.shot_of("#help-api-token-steps", "basic-filled-with-help")
        .await;

    b.click("button#test-connection").await;
    b.wait_visible("#test-result.test-passed").await;
    let report = b.text("#test-result").await;
    assert!(report.contains(&samples.email), "{report}");
    assert!(report.contains("GET /rest/api/3/myself"), "{report}");
    b.shot_of("#test-result", "test-passed").await;

    b.click_and_load("button#save").await;
    let row = Browser::row("Jira Basic");
    b.wait_for(&row).await;
    assert_eq!(b.path().await, "/connections");
    b.wait_text(".notice", "Jira Basic").await;
    b.wait_text(&format!("{row} td.col-api-type"), "Cloud Platform")
        .await;
    b.wait_text(&format!("{row} td.col-auth-type"), "Basic")
        .await;
    assert!(!b.is_shown(&format!("{row} button.action-authorize")).await);
    assert_eq!(
        b.text(&format!("{row} td.col-tested")).await.trim(),
        "Never"
    );
    b.shot("listed").await;

    b.click_and_load(&format!("{row} button.action-test")).await;
    b.wait_text(&format!("{row} td.col-state .badge"), "Online")
        .await;
    let tested = b.text(&format!("{row} td.col-tested")).await;
    assert!(
        !tested.trim().is_empty() && tested.trim() != "Never",
        "{tested}"
    );
    b.shot("tested-online").await;
    b.finish().await;
}
