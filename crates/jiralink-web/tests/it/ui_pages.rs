//! The web UI's pages, driven like a browser without JavaScript: the connections list and
//! its actions, the audit and debug pages, the OAuth callback's way back to the panel, and
//! escaping.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use pretty_assertions::assert_eq;
use serde_json::json;
use tower::ServiceExt as _;

use crate::{Browser, Fixture, KEY, call, fixture, send, sign_in};

const TOKEN_CANARY: &str = "CANARY-ui-token-0b7e51";

/// Creates a connection through `/v1`; returns its id.
async fn create(f: &Fixture, body: serde_json::Value) -> String {
    let r = call(
        &f.router,
        Method::POST,
        "/v1/connections",
        Some(body),
        Some(KEY),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    r.json()["id"].as_str().unwrap().to_owned()
}

async fn basic(f: &Fixture, name: &str, token: &str) -> String {
    let email = f.sim.samples().email.clone();
    create(
        f,
        json!({
            "name": name, "apiType": "cloud-platform", "subdomain": "demo",
            "authType": "basic", "username": email, "apiToken": token,
        }),
    )
    .await
}

async fn oauth(f: &Fixture, name: &str) -> String {
    crate::sim_oauth_connection(&f.router, &f.sim, name).await
}

/// The HTML of the list row of the connection `name`.
fn row<'a>(html: &'a str, name: &str) -> &'a str {
    let marker = format!("<tr data-connection-name=\"{name}\"");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no row for {name}: {html}"));
    let end = html[start..].find("</tr>").unwrap() + start;
    &html[start..end]
}

fn cell<'a>(row: &'a str, class: &str) -> &'a str {
    let marker = format!("<td class=\"{class}\">");
    let start = row
        .find(&marker)
        .unwrap_or_else(|| panic!("no {class} in {row}"))
        + marker.len();
    let end = row[start..].find("</td>").unwrap() + start;
    row[start..end].trim()
}

#[tokio::test]
async fn the_list_shows_each_connection_and_its_state() {
    let f = fixture().await;
    let b = sign_in(&f, "ada").await;
    let empty = b.get(&f, "/connections").await;
    assert!(empty.text.contains("id=\"empty-state\""), "{}", empty.text);
    assert!(!empty.text.contains("id=\"connections\""));
    assert!(empty.text.contains("id=\"new-connection\""));
    assert!(empty.text.contains("id=\"sign-out\""));

    let token = f.sim.samples().api_token.clone();
    let good = basic(&f, "Jira good", &token).await;
    basic(&f, "Jira wrong", TOKEN_CANARY).await;
    oauth(&f, "Jira OAuth").await;
    f.app.test_connection(&good).await.unwrap();
    f.app.test_connection("Jira wrong").await.unwrap();

    let page = b.get(&f, "/connections").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(!page.text.contains("empty-state"));
    assert!(!page.text.contains(TOKEN_CANARY));

    let online = row(&page.text, "Jira good");
    assert_eq!(
        cell(online, "col-api-type"),
        "Cloud Platform and Service Management"
    );
    assert_eq!(cell(online, "col-auth-type"), "Basic");
    assert!(
        cell(online, "col-state").contains("<span class=\"badge badge-online\">Online</span>"),
        "{online}"
    );
    assert_eq!(cell(online, "col-tested"), "2026-01-02 03:04:05 UTC");
    assert!(cell(online, "col-used-by").contains("Not used"));
    assert!(online.contains("class=\"btn btn-secondary btn-small action-edit\""));
    assert!(online.contains(&format!("href=\"/connections/{good}/edit\"")));
    assert!(online.contains("action-test"));
    assert!(online.contains("action-debug"));
    assert!(online.contains("action-audit"));
    assert!(online.contains("action-delete"));
    assert!(
        !online.contains("action-authorize"),
        "Basic needs no authorization"
    );

    let offline = cell(row(&page.text, "Jira wrong"), "col-state");
    assert!(offline.contains("badge-offline\">Offline<"), "{offline}");
    assert!(offline.contains("class=\"state-reason\""), "{offline}");
    assert!(
        offline.contains("since 2026-01-02 03:04:05 UTC"),
        "{offline}"
    );

    let oauth_row = row(&page.text, "Jira OAuth");
    assert_eq!(cell(oauth_row, "col-auth-type"), "OAuth 2.0");
    assert_eq!(cell(oauth_row, "col-tested"), "Never");
    assert!(
        cell(oauth_row, "col-state").contains("badge-warning\">Needs authorization<"),
        "{oauth_row}"
    );
    assert!(oauth_row.contains("action-authorize"));
}

#[tokio::test]
async fn testing_from_the_list_says_whether_it_passed_and_why() {
    let f = fixture().await;
    let b = sign_in(&f, "ada").await;
    let token = f.sim.samples().api_token.clone();
    let good = basic(&f, "Jira good", &token).await;
    let wrong = basic(&f, "Jira wrong", TOKEN_CANARY).await;

    let r = b.post(&f, &format!("/connections/{good}/test"), &[]).await;
    assert_eq!(r.headers[header::LOCATION], "/connections");
    let page = b.follow(&f, &r).await;
    assert!(
        page.text.contains(
            "<p class=\"notice\">Test of &#34;Jira good&#34; passed: the connection works"
        ),
        "{}",
        page.text
    );
    assert!(
        cell(row(&page.text, "Jira good"), "col-state").contains("Online"),
        "{}",
        page.text
    );
    // The page that showed the notice expires it.
    assert!(
        page.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .any(|v| v.to_str().unwrap().starts_with("jiralink_notice=;")),
        "{:?}",
        page.headers
    );

    let r = b.post(&f, &format!("/connections/{wrong}/test"), &[]).await;
    let page = b.follow(&f, &r).await;
    assert!(
        page.text.contains("Test of &#34;Jira wrong&#34; failed: "),
        "{}",
        page.text
    );
    assert!(!page.text.contains(TOKEN_CANARY));
    assert!(cell(row(&page.text, "Jira wrong"), "col-state").contains("Offline"));

    // Without the notice cookie the next visit shows no notice.
    let again = b.get(&f, "/connections").await;
    assert!(!again.text.contains("class=\"notice\""), "{}", again.text);

    let r = b.post(&f, "/connections/no-such/test", &[]).await;
    let page = b.follow(&f, &r).await;
    assert!(
        page.text
            .contains("The test did not run: No connection has that name or id"),
        "{}",
        page.text
    );
    assert!(
        !page.text.contains("no-such"),
        "the reference is not repeated"
    );
}

#[tokio::test]
async fn authorize_sends_the_browser_to_the_configured_auth_server() {
    let f = fixture().await;
    let b = sign_in(&f, "ada").await;
    let id = oauth(&f, "Jira OAuth").await;
    let r = b
        .post(&f, &format!("/connections/{id}/authorize"), &[])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    let to = url::Url::parse(r.headers[header::LOCATION].to_str().unwrap()).unwrap();
    let auth_server = url::Url::parse(&f.sim.auth_server().to_string()).unwrap();
    assert_eq!(to.origin(), auth_server.origin());
    assert!(to.query_pairs().any(|(k, v)| k == "state" && !v.is_empty()));

    // A Basic connection has nothing to authorize: back to the list, saying why.
    let token = f.sim.samples().api_token.clone();
    let basic_id = basic(&f, "Jira basic", &token).await;
    let r = b
        .post(&f, &format!("/connections/{basic_id}/authorize"), &[])
        .await;
    assert_eq!(r.headers[header::LOCATION], "/connections");
    let page = b.follow(&f, &r).await;
    assert!(
        page.text.contains("The authorization did not start"),
        "{}",
        page.text
    );
}

#[tokio::test]
async fn delete_asks_first_then_deletes() {
    let f = fixture().await;
    let b = sign_in(&f, "ada").await;
    let token = f.sim.samples().api_token.clone();
    let id = basic(&f, "Jira old", &token).await;

    let list = b.get(&f, "/connections").await;
    assert!(list.text.contains("<dialog id=\"confirm-delete\""));
    assert!(list.text.contains("id=\"confirm-delete-yes\""));
    assert!(
        row(&list.text, "Jira old")
            .contains(&format!("data-delete-url=\"/connections/{id}/delete\""))
    );

    // Without JavaScript the button opens a confirmation page; nothing is deleted yet.
    let confirm = b.get(&f, &format!("/connections/{id}/delete")).await;
    assert_eq!(confirm.status, StatusCode::OK);
    assert!(confirm.text.contains("Delete <strong>Jira old</strong>?"));
    assert!(
        confirm
            .text
            .contains(&format!("action=\"/connections/{id}/delete\""))
    );
    assert!(confirm.text.contains("id=\"confirm-delete-yes\""));
    assert_eq!(f.app.list_connections().await.unwrap().len(), 1);

    let r = b.post(&f, &format!("/connections/{id}/delete"), &[]).await;
    let page = b.follow(&f, &r).await;
    assert!(
        page.text
            .contains("<p class=\"notice\">Deleted the connection &#34;Jira old&#34;.</p>"),
        "{}",
        page.text
    );
    assert!(page.text.contains("id=\"empty-state\""));
    assert!(f.app.list_connections().await.unwrap().is_empty());

    // Deleting again is refused with the app's message.
    let r = b.post(&f, &format!("/connections/{id}/delete"), &[]).await;
    let page = b.follow(&f, &r).await;
    assert!(
        page.text
            .contains("The connection was not deleted: No connection has that name or id"),
        "{}",
        page.text
    );
    let gone = b.get(&f, &format!("/connections/{id}/delete")).await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
    assert!(gone.text.contains("class=\"form-error\""));
}

#[tokio::test]
async fn the_audit_page_shows_who_changed_what_without_secrets() {
    let f = fixture().await;
    let b = sign_in(&f, "ada").await;
    let id = basic(&f, "Jira audited", TOKEN_CANARY).await;
    let email = f.sim.samples().email.clone();
    let r = call(
        &f.router,
        Method::PUT,
        &format!("/v1/connections/{id}"),
        Some(json!({
            "name": "Jira renamed", "apiType": "cloud-platform", "subdomain": "demo",
            "authType": "basic", "username": email, "apiToken": format!("{TOKEN_CANARY}-2"),
            "version": 1,
        })),
        Some(KEY),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = b.post(&f, &format!("/connections/{id}/delete"), &[]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);

    let page = b.get(&f, &format!("/connections/{id}/audit")).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    assert!(page.text.contains("<table id=\"audit\""));
    assert!(!page.text.contains(TOKEN_CANARY));
    // Newest first: the delete by the signed-in user, the rename by the API key, the create.
    let deleted = page.text.find("Deleted").unwrap();
    let changed = page.text.find("Changed").unwrap();
    let created = page.text.find("Created").unwrap();
    assert!(deleted < changed && changed < created, "{}", page.text);
    assert!(page.text.contains("ada <span class=\"muted\">(ui)</span>"));
    assert!(page.text.contains("(api)</span>"));
    assert!(
        page.text
            .contains("<span class=\"change-field\">name</span>: Jira audited → Jira renamed")
    );
    assert!(
        page.text
            .contains("<span class=\"change-field\">api token</span>: re-entered"),
        "{}",
        page.text
    );
    assert!(page.text.contains("badge-neutral\">Deleted</span>"));

    let missing = b.get(&f, "/connections/nothing-here/audit").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_debug_page_records_masked_requests_in_a_window() {
    let f = fixture().await;
    let b = sign_in(&f, "ada").await;
    let token = f.sim.samples().api_token.clone();
    let id = basic(&f, "Jira debugged", &token).await;

    let page = b.get(&f, &format!("/connections/{id}/debug")).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    assert!(page.text.contains("Not recording"), "{}", page.text);
    for minutes in [15, 30, 45, 60] {
        assert!(page.text.contains(&format!("<option value=\"{minutes}\">")));
    }
    assert!(
        page.text
            .contains("<pre id=\"debug-log\" class=\"log\"></pre>")
    );

    let r = b
        .post(
            &f,
            &format!("/connections/{id}/debug/start"),
            &[("minutes", "30")],
        )
        .await;
    assert_eq!(
        r.headers[header::LOCATION],
        format!("/connections/{id}/debug")
    );
    let page = b.follow(&f, &r).await;
    assert!(
        page.text.contains("until 2026-01-02 03:34:05 UTC"),
        "{}",
        page.text
    );
    assert!(page.text.contains("badge-online\">Recording</span>"));

    f.app.test_connection(&id).await.unwrap();
    f.app.flush_debug_lines().await;
    let page = b.get(&f, &format!("/connections/{id}/debug")).await;
    let log_start = page.text.find("<pre id=\"debug-log\"").unwrap();
    let log = &page.text[log_start..page.text[log_start..].find("</pre>").unwrap() + log_start];
    assert!(log.contains("-&#62; GET "), "{log}");
    assert!(log.contains("&#60;- 200 ("), "{log}");
    assert!(log.contains("authorization: Basic ********"), "{log}");
    assert!(!page.text.contains(&token), "the token is masked");

    let r = b
        .post(&f, &format!("/connections/{id}/debug/stop"), &[])
        .await;
    let page = b.follow(&f, &r).await;
    assert!(page.text.contains("stopped recording"), "{}", page.text);
    assert!(page.text.contains("Not recording"));
    assert!(
        page.text.contains("-&#62; GET "),
        "the lines stay after stopping"
    );

    let recorded = f.app.debug_log(&id).await.unwrap().lines.len();
    assert!(recorded >= 2, "a request and its response");
    let r = b
        .post(&f, &format!("/connections/{id}/debug/clear"), &[])
        .await;
    let page = b.follow(&f, &r).await;
    assert!(
        page.text
            .contains(&format!("Cleared {recorded} debug line(s).")),
        "{}",
        page.text
    );
    assert!(
        page.text
            .contains("<pre id=\"debug-log\" class=\"log\"></pre>")
    );

    let r = b
        .post(
            &f,
            &format!("/connections/{id}/debug/start"),
            &[("minutes", "20")],
        )
        .await;
    let page = b.follow(&f, &r).await;
    assert!(
        page.text.contains(
            "The debugger did not start: The debugger records for 15, 30, 45 or 60 minutes"
        ),
        "{}",
        page.text
    );
}

/// Starts an authorization through the UI and lets the simulator approve it; returns the
/// callback path and query the browser is sent back to.
async fn approved_callback(f: &Fixture, b: &Browser, id: &str) -> String {
    let r = b
        .post(f, &format!("/connections/{id}/authorize"), &[])
        .await;
    let authorize = r.headers[header::LOCATION].to_str().unwrap().to_owned();
    let res = f.app.http_client().get(authorize).send().await.unwrap();
    assert_eq!(res.status().as_u16(), 302);
    let back = url::Url::parse(res.headers()["location"].to_str().unwrap()).unwrap();
    format!("{}?{}", back.path(), back.query().unwrap())
}

#[tokio::test]
async fn the_callback_returns_a_signed_in_browser_to_the_panel() {
    let f = fixture().await;
    let b = sign_in(&f, "ada").await;
    let id = oauth(&f, "Jira OAuth").await;

    let callback = approved_callback(&f, &b, &id).await;
    let r = b.get(&f, &callback).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    assert_eq!(
        r.headers[header::LOCATION],
        format!("/connections/{id}/edit?authorized=1")
    );
    assert_eq!(r.headers[header::REFERRER_POLICY], "no-referrer");
    assert_eq!(r.headers[header::CACHE_CONTROL], "no-store");
    let audit = f.app.connection_audit(&id).await.unwrap();
    let last = audit.last().unwrap();
    assert_eq!(last.action.as_str(), "authorize");
    assert_eq!(last.actor, "ada");

    // A refusal on Atlassian's page comes back to the panel with the error code.
    f.sim
        .control()
        .update_knobs(|k| k.auto_approve = false)
        .unwrap();
    let r = b
        .post(&f, &format!("/connections/{id}/authorize"), &[])
        .await;
    let authorize = url::Url::parse(r.headers[header::LOCATION].to_str().unwrap()).unwrap();
    let state = authorize
        .query_pairs()
        .find(|(k, _)| k == "state")
        .map(|(_, v)| v.into_owned())
        .unwrap();
    let denied = format!(
        "/connection/oauth2callback?error=access_denied&state={}",
        url::form_urlencoded::byte_serialize(state.as_bytes()).collect::<String>()
    );
    let r = b.get(&f, &denied).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    assert_eq!(
        r.headers[header::LOCATION],
        format!("/connections/{id}/edit?authorization_failed=oauth_access_denied")
    );
    assert_eq!(r.headers[header::REFERRER_POLICY], "no-referrer");

    // An unknown state names no connection: the plain page, never a redirect.
    let r = b
        .get(
            &f,
            "/connection/oauth2callback?code=x&state=forged&next=%2F%2Fevil.example",
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.headers.get(header::LOCATION).is_none());
    assert_eq!(r.headers[header::REFERRER_POLICY], "no-referrer");
}

#[tokio::test]
async fn the_callback_answers_a_browser_without_a_session_with_the_page() {
    let f = fixture().await;
    let b = sign_in(&f, "ada").await;
    let id = oauth(&f, "Jira OAuth").await;
    let callback = approved_callback(&f, &b, &id).await;
    let r = send(&f.router, Method::GET, &callback, None, None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(r.headers.get(header::LOCATION).is_none());
    assert!(r.text.contains("Connection authorized"));
    assert_eq!(r.headers[header::REFERRER_POLICY], "no-referrer");
    let audit = f.app.connection_audit(&id).await.unwrap();
    assert_eq!(audit.last().unwrap().actor, "browser");
}

#[tokio::test]
async fn pages_escape_what_users_typed() {
    let f = fixture().await;
    let b = sign_in(&f, "ada").await;
    let token = f.sim.samples().api_token.clone();
    let name = "<script>alert(\"x\")</script>";
    let id = basic(&f, name, &token).await;
    let escaped = "&#60;script&#62;alert(&#34;x&#34;)&#60;/script&#62;";
    for path in [
        "/connections".to_owned(),
        format!("/connections/{id}/audit"),
        format!("/connections/{id}/debug"),
        format!("/connections/{id}/delete"),
    ] {
        let page = b.get(&f, &path).await;
        assert_eq!(page.status, StatusCode::OK, "{path}");
        assert!(
            !page.text.contains("<script>alert"),
            "{path}: {}",
            page.text
        );
        assert!(page.text.contains(escaped), "{path}: {}", page.text);
    }
    let r = b.post(&f, &format!("/connections/{id}/test"), &[]).await;
    let page = b.follow(&f, &r).await;
    assert!(!page.text.contains("<script>alert"), "{}", page.text);
    assert!(page.text.contains(escaped), "the notice is escaped too");
}

#[tokio::test]
async fn static_files_need_no_session_and_revalidate() {
    let f = fixture().await;
    let css = send(&f.router, Method::GET, "/static/app.css", None, None).await;
    assert_eq!(css.status, StatusCode::OK);
    assert_eq!(css.headers[header::CONTENT_TYPE], "text/css; charset=utf-8");
    assert_eq!(css.headers[header::CACHE_CONTROL], "no-cache");
    assert!(css.text.contains(".badge-online"));
    let etag = css.headers[header::ETAG].to_str().unwrap().to_owned();
    let req = Request::get("/static/app.css")
        .header(header::IF_NONE_MATCH, &etag)
        .body(Body::empty())
        .unwrap();
    let res = f.router.clone().oneshot(req).await.unwrap();
    assert_eq!(res.status(), StatusCode::NOT_MODIFIED);
    let js = send(&f.router, Method::GET, "/static/app.js", None, None).await;
    assert_eq!(
        js.headers[header::CONTENT_TYPE],
        "text/javascript; charset=utf-8"
    );
    let missing = send(&f.router, Method::GET, "/static/nope.css", None, None).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_root_and_pages_send_a_stranger_to_sign_in() {
    let f = fixture().await;
    let r = send(&f.router, Method::GET, "/connections/x/debug", None, None).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(
        r.headers[header::LOCATION],
        "/login?next=%2Fconnections%2Fx%2Fdebug"
    );
    let r = send(&f.router, Method::POST, "/connections/x/test", None, None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let b = sign_in(&f, "ada").await;
    let r = b.get(&f, "/").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(r.headers[header::LOCATION], "/connections");
}
