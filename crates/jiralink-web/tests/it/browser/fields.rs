//! Which fields the form shows for each API type and auth type, and a failed save that keeps
//! everything typed except the secret.

use super::{Browser, SUBDOMAIN};

#[tokio::test]
async fn fields_follow_the_choices_and_survive_a_failed_save() {
    let b = Browser::signed_in("fields").await;
    b.goto("/connections/new").await;
    b.wait_for("form#connection-form").await;

    b.select("select#api-type", "cloud-platform").await;
    b.wait_visible("select#auth-type").await;
    assert_eq!(
        b.shown_fields().await,
        ["name", "api_type", "subdomain", "auth_type"]
    );
    b.shot("cloud-platform").await;

    b.select("select#auth-type", "oauth2").await;
    b.wait_visible("select#oauth-client").await;
    assert_eq!(
        b.shown_fields().await,
        [
            "name",
            "api_type",
            "subdomain",
            "auth_type",
            "oauth_client",
            "scopes"
        ]
    );
    assert!(b.is_shown("button#save-authorize").await);
    b.shot_of(
        "div.field[data-field=oauth_client]",
        "cloud-platform-oauth2",
    )
    .await;

    b.select("select#auth-type", "basic").await;
    b.wait_visible("input#username").await;
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

    b.select("select#api-type", "customer-service-management")
        .await;
    b.wait_hidden("input#subdomain").await;
    assert_eq!(
        b.shown_fields().await,
        ["name", "api_type", "oauth_client", "scopes"]
    );
    b.shot("customer-service-management").await;

    // Back to Basic with the subdomain left empty: the save fails on that field alone.
    b.select("select#api-type", "cloud-platform").await;
    b.wait_visible("input#username").await;
    b.fill("input#name", "Keeps what was typed").await;
    b.fill("input#username", "someone@example.com").await;
    b.fill("input#api-token", "a token that is never echoed")
        .await;
    b.click_and_load("button#save").await;

    let error = b.wait_visible("p.field-error[data-for=subdomain]").await;
    assert!(!error.text().await.unwrap().trim().is_empty());
    assert!(b.is_shown(".form-error").await);
    assert_eq!(b.value("input#name").await, "Keeps what was typed");
    assert_eq!(b.value("select#api-type").await, "cloud-platform");
    assert_eq!(b.value("select#auth-type").await, "basic");
    assert_eq!(b.value("input#username").await, "someone@example.com");
    assert_eq!(b.value("input#api-token").await, "");
    assert_eq!(
        b.attr("input#subdomain", "aria-invalid").await.as_deref(),
        Some("true")
    );
    b.shot_of("p.field-error[data-for=subdomain]", "validation-error")
        .await;

    b.fill("input#subdomain", SUBDOMAIN).await;
    b.fill("input#api-token", &b.sim.samples().api_token.clone())
        .await;
    b.fill("input#username", &b.sim.samples().email.clone())
        .await;
    b.click_and_load("button#save").await;
    b.wait_for(&Browser::row("Keeps what was typed")).await;
    b.shot("saved-after-fixing").await;
    b.finish().await;
}
