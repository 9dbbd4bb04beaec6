//! The Simple / HTTP view toggle: the HTTP view shows the resolved base URI of the sample
//! site, a failed save of its advanced settings comes back on it, and the settings are saved
//! with the connection.

use super::{Browser, SUBDOMAIN};

#[tokio::test]
async fn the_http_view_resolves_and_edits_advanced_settings() {
    let b = Browser::signed_in("http-view").await;
    b.goto("/connections/new").await;
    b.wait_for("form#connection-form").await;
    b.fill_basic("Jira HTTP").await;
    assert!(!b.is_shown("section#http-view").await);
    assert_eq!(
        b.attr("button#view-simple", "aria-pressed")
            .await
            .as_deref(),
        Some("true")
    );

    b.click("button#view-http").await;
    b.wait_visible("section#http-view").await;
    assert!(!b.is_shown("#simple-view").await);
    assert_eq!(
        b.attr("button#view-http", "aria-pressed").await.as_deref(),
        Some("true")
    );
    let site = b.sim.site_url(SUBDOMAIN);
    b.wait_text("#http-base-uri", &site).await;
    let settings = b.text("section#http-view").await;
    assert!(
        !settings.contains(&b.sim.samples().api_token),
        "the HTTP view never shows the token: {settings}"
    );
    b.shot_of("#http-base-uri", "http-view").await;

    // A failed save comes back on the HTTP view, with the problem next to its field.
    b.fill("input#concurrency-level", "99").await;
    b.select("select#rate-limit-auto-recover", "off").await;
    b.fill("input#rate-limit-max-retries", "2").await;
    b.click_and_load("button#save").await;
    let error = b
        .wait_visible("p.field-error[data-for=concurrency_level]")
        .await;
    assert!(!error.text().await.unwrap().trim().is_empty());
    assert!(!b.is_shown("#simple-view").await);
    assert_eq!(
        b.attr("button#view-http", "aria-pressed").await.as_deref(),
        Some("true")
    );
    assert_eq!(b.value("select#rate-limit-auto-recover").await, "off");

    b.fill("input#concurrency-level", "5").await;
    b.shot_of("input#concurrency-level", "advanced-settings")
        .await;

    b.click("button#view-simple").await;
    b.wait_visible("#simple-view").await;
    assert!(!b.is_shown("section#http-view").await);
    // The token is never sent back, so it is entered again.
    b.fill("input#api-token", &b.sim.samples().api_token.clone())
        .await;
    b.click_and_load("button#save").await;
    let row = Browser::row("Jira HTTP");
    b.wait_for(&row).await;

    let saved = b.app.get_connection("Jira HTTP").await.unwrap();
    let saved = serde_json::to_value(&saved).unwrap();
    assert_eq!(saved["concurrencyLevel"], 5, "{saved}");
    assert_eq!(saved["rateLimitAutoRecover"], false, "{saved}");
    assert_eq!(saved["rateLimitMaxRetries"], 2, "{saved}");

    b.click_and_load(&format!("{row} a.action-edit")).await;
    b.click("button#view-http").await;
    b.wait_visible("section#http-view").await;
    b.wait_text("#http-base-uri", &site).await;
    assert_eq!(b.value("input#concurrency-level").await, "5");
    assert_eq!(b.value("select#rate-limit-auto-recover").await, "off");
    assert_eq!(b.value("input#rate-limit-max-retries").await, "2");
    b.shot_of("input#concurrency-level", "http-view-after-save")
        .await;
    b.finish().await;
}
