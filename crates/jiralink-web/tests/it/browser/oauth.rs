//! An OAuth 2.0 Cloud Platform connection: a client created in the form's dialog, scopes
//! chosen with all four buttons of the picker, then Save & authorize through the
//! simulator's consent page and back to the panel with the connection online.

use super::{Browser, SUBDOMAIN};

const CHOSEN: [&str; 3] = ["read:jira-work", "read:jira-user", "read:me"];

#[tokio::test]
async fn save_and_authorize_an_oauth_connection() {
    let b = Browser::signed_in("oauth").await;

    b.goto("/connections/new").await;
    b.fill("input#name", "Jira OAuth").await;
    b.select("select#api-type", "cloud-platform").await;
    b.fill("input#subdomain", SUBDOMAIN).await;
    b.select("select#auth-type", "oauth2").await;
    b.wait_visible("select#oauth-client").await;
    assert!(b.is_shown("button#save-authorize").await);
    b.click("button#help-client").await;
    let steps = b
        .wait_visible("#help-client-steps")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        steps.contains(&b.url("/connection/oauth2callback")),
        "{steps}"
    );
    b.shot_of("#help-client-steps", "oauth2-chosen").await;

    b.create_client_in_dialog("Sim app").await;
    b.shot("client-dialog").await;
    b.save_client_dialog("Sim app").await;
    b.shot("client-created").await;

    b.click("button#scopes-edit").await;
    b.wait_visible("dialog#scopes-dialog").await;
    let catalogue = b.options("select#scopes-available").await;
    assert!(catalogue.len() > CHOSEN.len(), "{catalogue:?}");
    assert!(b.options("select#scopes-selected").await.is_empty());
    b.shot("scopes-dialog").await;

    // »: everything moves across.
    b.click("button#scopes-add-all").await;
    assert!(b.options("select#scopes-available").await.is_empty());
    assert_eq!(
        b.options("select#scopes-selected").await.len(),
        catalogue.len()
    );
    b.shot("scopes-all-added").await;

    // «: everything moves back.
    b.click("button#scopes-remove-all").await;
    assert!(b.options("select#scopes-selected").await.is_empty());
    assert_eq!(
        b.options("select#scopes-available").await.len(),
        catalogue.len()
    );

    // >: the selected ones move across.
    for scope in CHOSEN.iter().chain(["write:jira-work"].iter()) {
        b.pick("select#scopes-available", scope).await;
    }
    b.click("button#scopes-add").await;
    let mut selected = b.options("select#scopes-selected").await;
    selected.sort();
    assert_eq!(
        selected,
        [
            "read:jira-user",
            "read:jira-work",
            "read:me",
            "write:jira-work"
        ]
    );
    b.shot("scopes-four-added").await;

    // <: the selected one moves back.
    b.pick("select#scopes-selected", "write:jira-work").await;
    b.click("button#scopes-remove").await;
    let mut selected = b.options("select#scopes-selected").await;
    selected.sort();
    assert_eq!(selected, ["read:jira-user", "read:jira-work", "read:me"]);
    assert!(
        b.options("select#scopes-available")
            .await
            .contains(&"write:jira-work".to_owned())
    );
    b.shot("scopes-one-removed").await;

    b.click("button#scopes-save").await;
    b.wait_hidden("dialog#scopes-dialog").await;
    let summary = b.wait_text("#scopes-summary", "3 scopes").await;
    for scope in CHOSEN {
        assert!(summary.contains(scope), "{summary}");
    }
    let mut inputs =
        b.c.execute(
            "return Array.from(document.querySelectorAll('#scopes-inputs input[name=scopes]'))\
               .map(i => i.value);",
            vec![],
        )
        .await
        .unwrap()
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect::<Vec<_>>();
    inputs.sort();
    assert_eq!(inputs, ["read:jira-user", "read:jira-work", "read:me"]);
    b.shot_of("#scopes-summary", "scopes-saved").await;

    // Save & authorize: the simulator's consent page lists what was asked for.
    b.click_and_load("button#save-authorize").await;
    b.wait_visible("button[name=decision][value=accept]").await;
    let consent = b.text("body").await;
    assert!(consent.contains("requesting access"), "{consent}");
    let asked = b.text("ul#scopes").await;
    for scope in CHOSEN.iter().chain(["offline_access"].iter()) {
        assert!(asked.contains(scope), "{asked}");
    }
    // The sample user is a member of several sites; the connection is for the sample one.
    let site = b.sim.site_url(SUBDOMAIN);
    let options = b.texts("select#site option").await;
    let index = options
        .iter()
        .position(|o| o.contains(&format!("({site})")))
        .unwrap_or_else(|| panic!("{site} is not offered: {options:?}"));
    b.wait_visible("select#site")
        .await
        .select_by_index(index)
        .await
        .unwrap();
    let consent_url = b.c.current_url().await.unwrap();
    assert_eq!(
        consent_url.origin(),
        url::Url::parse(&b.sim.auth_server()).unwrap().origin()
    );
    b.shot("consent-page").await;

    b.click_and_load("button[name=decision][value=accept]")
        .await;
    b.wait_visible(".notice#authorized").await;
    let path = b.path().await;
    assert!(
        path.starts_with("/connections/") && path.ends_with("/edit?authorized=1"),
        "{path}"
    );
    b.wait_text("#connection-state", "Online").await;
    let notice = b.text(".notice#authorized").await;
    assert!(notice.contains("Jira OAuth"), "{notice}");
    b.shot("authorized-online").await;

    b.goto("/connections").await;
    let row = Browser::row("Jira OAuth");
    b.wait_text(&format!("{row} td.col-state .badge"), "Online")
        .await;
    b.wait_text(&format!("{row} td.col-auth-type"), "OAuth 2.0")
        .await;
    assert!(b.is_shown(&format!("{row} button.action-authorize")).await);
    b.shot("listed-online").await;
    b.finish().await;
}
