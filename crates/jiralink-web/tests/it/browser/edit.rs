//! Editing a Basic connection: the API token is never shown and must be entered again, a
//! save without it is refused with that message, with it the change is saved, and the
//! connection's audit log names the signed-in user.

use super::{Browser, USER};

#[tokio::test]
async fn editing_asks_for_the_token_again_and_is_audited() {
    let b = Browser::signed_in("edit").await;
    let samples = b.sim.samples().clone();
    b.create_basic("Jira Basic").await;

    let row = Browser::row("Jira Basic");
    b.click_and_load(&format!("{row} a.action-edit")).await;
    b.wait_for("form#connection-form").await;
    assert!(b.path().await.ends_with("/edit"), "{}", b.path().await);
    assert_eq!(b.value("input#name").await, "Jira Basic");
    assert_eq!(b.value("input#username").await, samples.email);
    assert_eq!(b.value("input#api-token").await, "");
    assert!(
        b.is_shown("div.field[data-field=api_token] label span.required")
            .await
    );
    let reenter = b.text("div.field[data-field=api_token]").await;
    assert!(reenter.contains("enter it again"), "{reenter}");
    let html = b.c.source().await.unwrap();
    assert!(
        !html.contains(&samples.api_token),
        "the saved token must never reach the page"
    );
    b.shot_of("input#api-token", "edit-token-empty").await;

    b.fill("input#name", "Jira Basic (edited)").await;
    b.click_and_load("button#save").await;
    let error = b
        .wait_visible("p.field-error[data-for=api_token]")
        .await
        .text()
        .await
        .unwrap();
    assert!(error.contains("enter"), "{error}");
    assert_eq!(b.value("input#name").await, "Jira Basic (edited)");
    assert!(
        b.app.get_connection("Jira Basic").await.is_ok(),
        "nothing was saved"
    );
    b.shot_of("p.field-error[data-for=api_token]", "token-required")
        .await;

    b.fill("input#api-token", &samples.api_token).await;
    b.click_and_load("button#save").await;
    let edited = Browser::row("Jira Basic (edited)");
    b.wait_for(&edited).await;
    b.wait_text(".notice", "Jira Basic (edited)").await;
    b.shot("edited-listed").await;

    b.click_and_load(&format!("{edited} a.action-audit")).await;
    b.wait_visible("table#audit").await;
    let rows = b.texts("table#audit tbody tr").await;
    assert!(rows.len() >= 2, "{rows:?}");
    assert!(
        rows.iter().filter(|r| r.contains(USER)).count() >= 2,
        "the create and the update name the signed-in user: {rows:?}"
    );
    let all = rows.join("\n");
    assert!(all.contains("Jira Basic (edited)"), "{all}");
    assert!(
        !all.contains(&samples.api_token),
        "the audit log never shows a secret"
    );
    b.shot("audit-log").await;
    b.finish().await;
}
