//! A Customer Service Management connection: only the OAuth 2.0 client and the scopes are
//! asked for, and the scope picker is used with the keyboard alone.

use fantoccini::key::Key;
use jiralink_domain::ApiType;

use super::Browser;

#[tokio::test]
async fn a_csm_connection_with_the_picker_by_keyboard() {
    let b = Browser::signed_in("csm").await;

    b.goto("/connections/new").await;
    b.fill("input#name", "Jira CSM").await;
    b.select("select#api-type", "customer-service-management")
        .await;
    b.wait_visible("select#oauth-client").await;
    assert_eq!(
        b.shown_fields().await,
        ["name", "api_type", "oauth_client", "scopes"]
    );
    assert!(!b.is_shown("input#subdomain").await);
    assert!(!b.is_shown("select#auth-type").await);
    assert!(b.is_shown("button#save-authorize").await);
    b.shot_of("select#oauth-client", "csm-fields").await;

    b.create_client_in_dialog("CSM app").await;
    b.save_client_dialog("CSM app").await;

    // Space on the focused button opens the picker with the focus in the available list.
    b.focus("button#scopes-edit").await;
    b.press(&[Key::Space]).await;
    b.wait_visible("dialog#scopes-dialog").await;
    assert_eq!(b.focused().await, "#scopes-available");
    let catalogue = b.options("select#scopes-available").await;
    assert!(catalogue.len() > 1, "{catalogue:?}");

    // Arrow down selects the first scope, Enter moves it across.
    b.press(&[Key::Down, Key::Enter]).await;
    assert_eq!(
        b.options("select#scopes-selected").await,
        [catalogue[0].clone()]
    );
    b.wait_text("#scopes-count", &format!("1 of {}", catalogue.len()))
        .await;
    b.shot("keyboard-one-added").await;

    // Enter on » adds all, Space on « removes all.
    b.focus("button#scopes-add-all").await;
    b.press(&[Key::Enter]).await;
    assert_eq!(
        b.options("select#scopes-selected").await.len(),
        catalogue.len()
    );
    b.focus("button#scopes-remove-all").await;
    b.press(&[Key::Space]).await;
    assert!(b.options("select#scopes-selected").await.is_empty());

    // Two scopes by keyboard: the first, then the next one down.
    b.focus("select#scopes-available").await;
    b.press(&[Key::Down, Key::Enter]).await;
    b.focus("select#scopes-available").await;
    b.press(&[Key::Down, Key::Enter]).await;
    let chosen = b.options("select#scopes-selected").await;
    assert_eq!(chosen.len(), 2, "{chosen:?}");
    b.shot("keyboard-two-added").await;

    // < by keyboard: select one in the chosen list, Enter on the button.
    b.focus("select#scopes-selected").await;
    b.press(&[Key::Down]).await;
    b.focus("button#scopes-remove").await;
    b.press(&[Key::Enter]).await;
    let kept = b.options("select#scopes-selected").await;
    assert_eq!(kept.len(), 1, "{kept:?}");

    b.focus("button#scopes-save").await;
    b.press(&[Key::Enter]).await;
    b.wait_hidden("dialog#scopes-dialog").await;
    let summary = b.wait_text("#scopes-summary", "1 scope").await;
    assert!(summary.contains(&kept[0]), "{summary}");
    b.shot_of("#scopes-summary", "keyboard-saved").await;

    // Another API type keeps only what its catalogue offers; coming back restores the choice.
    let hidden_scope = "#scopes-inputs input[name=scopes]";
    b.select("select#api-type", "cloud-platform").await;
    b.select("select#auth-type", "oauth2").await;
    b.wait_visible("#scopes-summary").await;
    if jiralink_domain::scope::lookup(ApiType::CloudPlatform, &kept[0]).is_some() {
        let summary = b.wait_text("#scopes-summary", "1 scope").await;
        assert!(summary.contains(&kept[0]), "{summary}");
    } else {
        b.wait_text("#scopes-summary", "No scopes selected").await;
    }
    b.select("select#api-type", "customer-service-management")
        .await;
    b.wait_hidden("select#auth-type").await;
    let summary = b.wait_text("#scopes-summary", "1 scope").await;
    assert!(summary.contains(&kept[0]), "{summary}");
    assert_eq!(b.attr(hidden_scope, "value").await, Some(kept[0].clone()));

    b.click_and_load("button#save").await;
    let row = Browser::row("Jira CSM");
    b.wait_text(
        &format!("{row} td.col-api-type"),
        "Customer Service Management",
    )
    .await;
    b.wait_text(&format!("{row} td.col-auth-type"), "OAuth 2.0")
        .await;
    b.wait_text(&format!("{row} td.col-state .badge"), "Needs authorization")
        .await;
    b.shot("csm-listed").await;
    b.finish().await;
}
