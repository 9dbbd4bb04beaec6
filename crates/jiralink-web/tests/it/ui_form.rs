//! The "Create connection" panel driven like a browser: form posts with the session cookie and
//! CSRF token, the JSON endpoints its script calls (test, HTTP view, OAuth 2.0 client dialog),
//! Save & authorize against the simulator, and which fields the server shows.

use axum::http::{Method, StatusCode, header};
use pretty_assertions::assert_eq;

use crate::{Browser, Fixture, Reply, fixture, form, send, set_cookie, sign_in};

const TOKEN_CANARY: &str = "CANARY-form-token-5d1c0a";
const SECRET_CANARY: &str = "CANARY-form-client-secret-77e2";

/// The value of attribute `attr` in the first tag after `marker`.
fn attr_after(html: &str, marker: &str, attr: &str) -> String {
    let start = html
        .find(marker)
        .unwrap_or_else(|| panic!("{marker} not in the page"));
    let tag_start = html[..start].rfind('<').unwrap();
    let tag = &html[tag_start..tag_start + html[tag_start..].find('>').unwrap()];
    let key = format!("{attr}=\"");
    let from = tag
        .find(&key)
        .unwrap_or_else(|| panic!("no {attr} in {tag}"))
        + key.len();
    tag[from..from + tag[from..].find('"').unwrap()].to_owned()
}

/// The opening tag of the element with `marker` in it.
fn tag_with<'a>(html: &'a str, marker: &str) -> &'a str {
    let at = html
        .find(marker)
        .unwrap_or_else(|| panic!("{marker} not in the page"));
    let start = html[..at].rfind('<').unwrap();
    let end = at + html[at..].find('>').unwrap();
    &html[start..=end]
}

/// Whether the field `key`'s wrapper carries `hidden`.
fn field_hidden(html: &str, key: &str) -> bool {
    tag_with(html, &format!("data-field=\"{key}\""))
        .split_whitespace()
        .any(|word| word == "hidden" || word == "hidden>")
}

fn shown_fields(html: &str) -> Vec<&'static str> {
    [
        "name",
        "api_type",
        "subdomain",
        "auth_type",
        "username",
        "api_token",
        "oauth_client",
        "scopes",
    ]
    .into_iter()
    .filter(|key| !field_hidden(html, key))
    .collect()
}

fn json(r: &Reply) -> serde_json::Value {
    r.json()
}

async fn basic_fields(f: &Fixture) -> Vec<(&'static str, String)> {
    vec![
        ("name", "Jira demo".to_owned()),
        ("api_type", "cloud-platform".to_owned()),
        ("subdomain", "demo".to_owned()),
        ("auth_type", "basic".to_owned()),
        ("username", f.sim.samples().email.clone()),
        ("api_token", f.sim.samples().api_token.clone()),
    ]
}

fn pairs<'a>(fields: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    fields.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

/// Creates the simulator's OAuth 2.0 client through the dialog's endpoint; returns its id.
async fn sim_client(f: &Fixture, b: &Browser) -> String {
    let samples = f.sim.samples().clone();
    let r = b
        .post(
            f,
            "/oauth-clients",
            &[
                ("name", "Sim app"),
                ("client_id", &samples.oauth_client_id),
                ("client_secret", &samples.oauth_client_secret),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert!(!r.text.contains(&samples.oauth_client_secret));
    json(&r)["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn pages_need_a_session_and_posts_the_csrf_token() {
    let f = fixture().await;
    let r = send(&f.router, Method::GET, "/connections/new", None, None).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert!(
        r.headers[header::LOCATION]
            .to_str()
            .unwrap()
            .starts_with("/login?next=")
    );

    let b = sign_in(&f, "form-user").await;
    let fields = basic_fields(&f).await;
    let without_csrf = send(
        &f.router,
        Method::POST,
        "/connections",
        Some(form(&pairs(&fields))),
        Some(&b.cookie),
    )
    .await;
    assert_eq!(without_csrf.status, StatusCode::FORBIDDEN);
    assert!(f.app.list_connections().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_new_form_shows_only_name_and_api_type_and_its_assets_load() {
    let f = fixture().await;
    let b = sign_in(&f, "form-user").await;
    let page = b.get(&f, "/connections/new").await;
    assert_eq!(page.status, StatusCode::OK);
    let html = &page.text;
    assert!(html.contains("<form id=\"connection-form\""));
    assert_eq!(
        attr_after(html, "id=\"connection-form\"", "action"),
        "/connections"
    );
    assert_eq!(shown_fields(html), ["name", "api_type"]);
    for label in [
        "Name your connection <span class=\"required\"",
        "API type <span class=\"required\"",
        "How to retrieve the API token",
        "How to retrieve the client ID and client secret",
        "How to configure scopes",
        "id=\"scopes-catalogue-cloud-platform\"",
        "id=\"scopes-catalogue-customer-service-management\"",
        "value=\"read:jira-work\"",
        "<dialog id=\"oauth-client-dialog\"",
        "<dialog id=\"scopes-dialog\"",
        "<section id=\"http-view\"",
    ] {
        assert!(html.contains(label), "{label} missing");
    }
    assert!(tag_with(html, "id=\"save-authorize\"").contains("hidden"));
    assert!(tag_with(html, "id=\"help-api-token-steps\"").contains("hidden"));
    assert_eq!(
        attr_after(html, "id=\"oauth-client-callback\"", "value"),
        f.app.oauth_callback_url().as_str()
    );
    // No inline script or style: the CSP forbids them.
    assert!(!html.contains("<script>") && !html.contains("style=\""));

    for (path, kind) in [
        ("/static/form.js", "text/javascript"),
        ("/static/form.css", "text/css"),
    ] {
        let r = send(&f.router, Method::GET, path, None, None).await;
        assert_eq!(r.status, StatusCode::OK, "{path}");
        assert!(
            r.headers[header::CONTENT_TYPE]
                .to_str()
                .unwrap()
                .starts_with(kind)
        );
    }
}

#[tokio::test]
async fn fields_shown_follow_api_type_and_auth_type() {
    let f = fixture().await;
    let b = sign_in(&f, "form-user").await;
    // A failed save renders the fields of what was chosen.
    for (api, auth, want) in [
        (
            "cloud-platform",
            "",
            vec!["name", "api_type", "subdomain", "auth_type"],
        ),
        (
            "cloud-platform",
            "basic",
            vec![
                "name",
                "api_type",
                "subdomain",
                "auth_type",
                "username",
                "api_token",
            ],
        ),
        (
            "cloud-platform",
            "oauth2",
            vec![
                "name",
                "api_type",
                "subdomain",
                "auth_type",
                "oauth_client",
                "scopes",
            ],
        ),
        (
            "customer-service-management",
            "basic",
            vec!["name", "api_type", "oauth_client", "scopes"],
        ),
    ] {
        let r = b
            .post(
                &f,
                "/connections",
                &[("api_type", api), ("auth_type", auth), ("action", "save")],
            )
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{api} {auth}");
        assert_eq!(shown_fields(&r.text), want, "{api} {auth}");
        let authorize_hidden = tag_with(&r.text, "id=\"save-authorize\"").contains("hidden");
        assert_eq!(authorize_hidden, !want.contains(&"oauth_client"));
    }
}

#[tokio::test]
async fn basic_connection_is_created_through_the_form() {
    let f = fixture().await;
    let b = sign_in(&f, "form-user").await;
    let mut fields = basic_fields(&f).await;
    fields.push(("concurrency_level", "5".to_owned()));
    fields.push(("rate_limit_auto_recover", "off".to_owned()));
    fields.push(("rate_limit_max_retries", "2".to_owned()));
    fields.push(("action", "save".to_owned()));
    let r = b.post(&f, "/connections", &pairs(&fields)).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    assert_eq!(r.headers[header::LOCATION], "/connections");
    let notice = set_cookie(&r.headers, "jiralink_notice").expect("a notice");
    assert!(notice.contains("Jira+demo"), "{notice}");

    let saved = f.app.get_connection("Jira demo").await.unwrap();
    assert_eq!(saved.auth_type, "basic");
    assert_eq!(saved.subdomain.as_deref(), Some("demo"));
    assert_eq!(saved.concurrency_level, 5);
    assert!(saved.api_token.as_ref().is_some_and(|t| t.set));
    let rate = saved.connection.settings.rate_limit;
    assert_eq!((rate.auto_recover, rate.max_retries), (false, 2));
}

#[tokio::test]
async fn a_failed_save_keeps_what_was_typed_but_never_the_token() {
    let f = fixture().await;
    let b = sign_in(&f, "form-user").await;
    let r = b
        .post(
            &f,
            "/connections",
            &[
                ("name", "Kept <name>"),
                ("api_type", "cloud-platform"),
                ("subdomain", ""),
                ("auth_type", "basic"),
                ("username", "not-an-address"),
                ("api_token", TOKEN_CANARY),
                ("concurrency_level", "99"),
                ("action", "save"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let html = &r.text;
    assert!(!html.contains(TOKEN_CANARY), "the token came back");
    assert_eq!(
        attr_after(html, "id=\"name\"", "value"),
        "Kept &#60;name&#62;"
    );
    assert_eq!(
        attr_after(html, "id=\"username\"", "value"),
        "not-an-address"
    );
    assert_eq!(attr_after(html, "id=\"api-token\"", "value"), "");
    assert_eq!(attr_after(html, "id=\"concurrency-level\"", "value"), "99");
    assert!(html.contains("class=\"form-error form-summary\""));
    for key in ["subdomain", "username", "concurrency_level"] {
        assert!(
            html.contains(&format!("<p class=\"field-error\" data-for=\"{key}\"")),
            "no error for {key}"
        );
    }
    assert!(tag_with(html, "id=\"username\"").contains("aria-invalid=\"true\""));
    assert!(f.app.list_connections().await.unwrap().is_empty());
}

/// Whether the opening tag carrying `marker` has the `hidden` attribute.
fn tag_hidden(html: &str, marker: &str) -> bool {
    tag_with(html, marker)
        .trim_end_matches('>')
        .split_whitespace()
        .any(|word| word == "hidden")
}

/// The part of the page inside `section#http-view`.
fn http_section(html: &str) -> &str {
    let start = html.find("id=\"http-view\"").expect("no HTTP view");
    &html[start..start + html[start..].find("</section>").unwrap()]
}

fn assert_view(html: &str, http: bool) {
    assert_eq!(
        !tag_hidden(html, "id=\"http-view\""),
        http,
        "section#http-view"
    );
    assert_eq!(
        tag_hidden(html, "id=\"simple-view\""),
        http,
        "div#simple-view"
    );
    let pressed = |marker| attr_after(html, marker, "aria-pressed");
    assert_eq!(pressed("id=\"view-http\""), http.to_string());
    assert_eq!(pressed("id=\"view-simple\""), (!http).to_string());
    let view = if http { "http" } else { "simple" };
    assert_eq!(attr_after(html, "name=\"view\"", "value"), view);
}

#[tokio::test]
async fn a_failed_save_opens_the_http_view_when_its_settings_have_problems() {
    let f = fixture().await;
    let b = sign_in(&f, "form-user").await;
    let basic = basic_fields(&f).await;
    let mut fields = pairs(&basic);

    // The view was simple, but the problem is in a field only the HTTP view shows.
    fields.extend([
        ("concurrency_level", "99"),
        ("view", "simple"),
        ("action", "save"),
    ]);
    let r = b.post(&f, "/connections", &fields).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    let html = &r.text;
    assert_view(html, true);
    assert!(html.contains("<a href=\"#concurrency-level\">"));
    let section = http_section(html);
    assert!(section.contains("id=\"concurrency-level\""));
    assert!(
        section.contains("<p class=\"field-error\" data-for=\"concurrency_level\""),
        "the error is not next to its field"
    );
    assert!(tag_with(html, "id=\"concurrency-level\"").contains("aria-invalid=\"true\""));

    // The same for the retries, whatever the auto-recover choice.
    let mut fields = pairs(&basic);
    fields.extend([
        ("rate_limit_auto_recover", "off"),
        ("rate_limit_max_retries", "11"),
        ("action", "save"),
    ]);
    let r = b.post(&f, "/connections", &fields).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert_view(&r.text, true);
    assert!(
        http_section(&r.text)
            .contains("<p class=\"field-error\" data-for=\"rate_limit_max_retries\"")
    );
    assert!(f.app.list_connections().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_failed_save_comes_back_on_the_view_it_was_sent_from() {
    let f = fixture().await;
    let b = sign_in(&f, "form-user").await;
    let basic = basic_fields(&f).await;
    for (view, http) in [("http", true), ("simple", false), ("", false)] {
        let mut fields = pairs(&basic);
        fields.retain(|(key, _)| *key != "name");
        fields.extend([("view", view), ("action", "save")]);
        let r = b.post(&f, "/connections", &fields).await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{view}: {}",
            r.text
        );
        assert_view(&r.text, http);
        assert!(!http_section(&r.text).contains("class=\"field-error\""));
    }
    // A new form opens on the simple view.
    let r = b.get(&f, "/connections/new").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_view(&r.text, false);
}

#[tokio::test]
async fn editing_asks_for_the_token_again() {
    let f = fixture().await;
    let b = sign_in(&f, "form-user").await;
    let mut fields = basic_fields(&f).await;
    fields.push(("action", "save".to_owned()));
    let r = b.post(&f, "/connections", &pairs(&fields)).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    let id = f.app.get_connection("Jira demo").await.unwrap().id;

    let edit = b.get(&f, &format!("/connections/{id}/edit")).await;
    assert_eq!(edit.status, StatusCode::OK, "{}", edit.text);
    let html = &edit.text;
    assert_eq!(
        attr_after(html, "id=\"connection-form\"", "action"),
        format!("/connections/{id}")
    );
    assert_eq!(attr_after(html, "id=\"name\"", "value"), "Jira demo");
    assert_eq!(attr_after(html, "id=\"api-token\"", "value"), "");
    assert!(html.contains("you must enter this token again"));
    assert!(html.contains("id=\"api-token-reenter\""));
    assert!(html.contains("id=\"connection-state\""));
    assert!(html.contains("<input type=\"hidden\" name=\"version\" value=\"1\">"));
    assert!(!html.contains(&f.sim.samples().api_token));
    assert_eq!(
        shown_fields(html),
        [
            "name",
            "api_type",
            "subdomain",
            "auth_type",
            "username",
            "api_token"
        ]
    );

    let path = format!("/connections/{id}");
    let mut without_token: Vec<(&str, &str)> = pairs(&fields)
        .into_iter()
        .filter(|(k, _)| *k != "api_token" && *k != "name")
        .collect();
    without_token.push(("name", "Jira renamed"));
    without_token.push(("version", "1"));
    let r = b.post(&f, &path, &without_token).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        r.text
            .contains("<p class=\"field-error\" data-for=\"api_token\"")
    );
    assert_eq!(attr_after(&r.text, "id=\"name\"", "value"), "Jira renamed");

    let token = f.sim.samples().api_token.clone();
    without_token.push(("api_token", &token));
    let r = b.post(&f, &path, &without_token).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    assert_eq!(
        f.app.get_connection(&id).await.unwrap().name,
        "Jira renamed"
    );
}

#[tokio::test]
async fn oauth_connections_of_both_api_types_are_created_through_the_form() {
    let f = fixture().await;
    let b = sign_in(&f, "form-user").await;
    let client = sim_client(&f, &b).await;

    let r = b
        .post(
            &f,
            "/connections",
            &[
                ("name", "Jira OAuth"),
                ("api_type", "cloud-platform"),
                ("subdomain", "demo"),
                ("auth_type", "oauth2"),
                // Typed before switching to OAuth 2.0: hidden, so not part of the form.
                ("username", "left@example.com"),
                ("api_token", TOKEN_CANARY),
                ("oauth_client", &client),
                ("scopes", "read:jira-work"),
                ("scopes", "read:me"),
                ("action", "save"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    let saved = f.app.get_connection("Jira OAuth").await.unwrap();
    assert_eq!(saved.auth_type, "oauth2");
    assert_eq!(saved.scopes, ["read:jira-work", "read:me"]);
    assert_eq!(saved.username, None);

    let r = b
        .post(
            &f,
            "/connections",
            &[
                ("name", "Jira CSM"),
                ("api_type", "customer-service-management"),
                ("subdomain", "left-over"),
                ("oauth_client", &client),
                ("scopes", "read:customer:jira-service-management"),
                ("action", "save"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    let csm = f.app.get_connection("Jira CSM").await.unwrap();
    assert_eq!(csm.api_type, "customer-service-management");
    assert_eq!(csm.subdomain, None);
    assert_eq!(csm.oauth_client.unwrap().id, client);

    // The edit page selects the client, lists the scopes and offers Save & authorize.
    let edit = b.get(&f, &format!("/connections/{}/edit", csm.id)).await;
    let html = &edit.text;
    assert_eq!(
        shown_fields(html),
        ["name", "api_type", "oauth_client", "scopes"]
    );
    assert!(tag_with(html, &format!("<option value=\"{client}\"")).contains("selected"));
    assert!(html.contains(
        "<input type=\"hidden\" name=\"scopes\" value=\"read:customer:jira-service-management\">"
    ));
    assert!(!tag_with(html, "id=\"save-authorize\"").contains("hidden"));
    // The same badge as in the list.
    assert_eq!(
        attr_after(html, "id=\"connection-state\"", "class"),
        "badge badge-warning"
    );
    assert!(html.contains(">Needs authorization</span>"));
}

#[tokio::test]
async fn save_and_authorize_sends_the_browser_to_the_consent_page_and_back() {
    let f = fixture().await;
    let b = sign_in(&f, "form-user").await;
    let client = sim_client(&f, &b).await;
    let r = b
        .post(
            &f,
            "/connections",
            &[
                ("name", "Jira OAuth"),
                ("api_type", "cloud-platform"),
                ("subdomain", "demo"),
                ("auth_type", "oauth2"),
                ("oauth_client", &client),
                ("scopes", "read:jira-work"),
                ("action", "save_authorize"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    let to = url::Url::parse(r.headers[header::LOCATION].to_str().unwrap()).unwrap();
    let auth_server = url::Url::parse(&f.sim.auth_server().to_string()).unwrap();
    assert_eq!(to.origin(), auth_server.origin());
    assert!(to.query_pairs().any(|(k, v)| k == "state" && !v.is_empty()));
    assert!(
        to.query_pairs()
            .any(|(k, v)| k == "client_id" && v == f.sim.samples().oauth_client_id)
    );

    // The callback sends the browser back to the panel with the outcome.
    let id = f.app.get_connection("Jira OAuth").await.unwrap().id;
    let back = b
        .get(&f, &format!("/connections/{id}/edit?authorized=1"))
        .await;
    assert!(back.text.contains("id=\"authorized\""), "{}", back.text);
    let failed = b
        .get(
            &f,
            &format!("/connections/{id}/edit?authorization_failed=oauth_access_denied"),
        )
        .await;
    assert!(failed.text.contains("id=\"authorization-failed\""));
    assert!(failed.text.contains("declined"));
}

#[tokio::test]
async fn test_connection_answers_json_for_the_script_and_a_page_without_it() {
    let f = fixture().await;
    let b = sign_in(&f, "form-user").await;
    let fields = basic_fields(&f).await;

    let r = b.post(&f, "/connections/test", &pairs(&fields)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let outcome = json(&r);
    assert_eq!(outcome["result"], "passed", "{}", r.text);
    assert_eq!(outcome["reachable"], true);
    assert_eq!(outcome["probe"], "GET /rest/api/3/myself");
    assert!(outcome["latencyMs"].is_u64());
    assert!(!r.text.contains(&f.sim.samples().api_token));
    assert!(
        f.app.list_connections().await.unwrap().is_empty(),
        "a test saves nothing"
    );

    let mut wrong: Vec<(&str, &str)> = pairs(&fields)
        .into_iter()
        .filter(|(k, _)| *k != "api_token")
        .collect();
    wrong.push(("api_token", TOKEN_CANARY));
    let r = b.post(&f, "/connections/test", &wrong).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(json(&r)["result"], "failed");
    assert!(json(&r)["failure"]["fix"].is_string());
    assert!(!r.text.contains(TOKEN_CANARY));

    let r = b
        .post(&f, "/connections/test", &[("api_type", "cloud-platform")])
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let fields_with_problems: Vec<_> = json(&r)["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["field"].as_str().unwrap().to_owned())
        .collect();
    assert!(fields_with_problems.contains(&"name".to_owned()));
    assert!(fields_with_problems.contains(&"subdomain".to_owned()));

    // Without the script, the Test button submits the form and the page shows the report.
    let mut no_js = pairs(&fields);
    no_js.push(("action", "test"));
    let r = b.post(&f, "/connections", &no_js).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(tag_with(&r.text, "id=\"test-result\"").contains("test-passed"));
    assert!(
        r.text
            .contains("<dt>Request</dt><dd>GET /rest/api/3/myself</dd>"),
        "{}",
        r.text
    );
    assert_eq!(attr_after(&r.text, "id=\"name\"", "value"), "Jira demo");
    assert!(!r.text.contains(&f.sim.samples().api_token));
    assert!(f.app.list_connections().await.unwrap().is_empty());
}

#[tokio::test]
async fn test_draft_of_an_edit_uses_the_typed_values() {
    let f = fixture().await;
    let b = sign_in(&f, "form-user").await;
    let mut fields = basic_fields(&f).await;
    fields.push(("action", "save".to_owned()));
    let r = b.post(&f, "/connections", &pairs(&fields)).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let id = f.app.get_connection("Jira demo").await.unwrap().id;
    // The connection's own name does not count as taken.
    let r = b
        .post(
            &f,
            &format!("/connections/{id}/test-draft"),
            &pairs(&fields),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(json(&r)["result"], "passed");
}

#[tokio::test]
async fn the_http_view_of_a_draft_never_holds_a_secret() {
    let f = fixture().await;
    let b = sign_in(&f, "form-user").await;
    let r = b
        .post(
            &f,
            "/connections/http-view",
            &[
                ("api_type", "cloud-platform"),
                ("subdomain", "demo"),
                ("auth_type", "basic"),
                ("username", "fred@example.com"),
                ("api_token", TOKEN_CANARY),
                ("concurrency_level", "7"),
                ("rate_limit_max_retries", "3"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(!r.text.contains(TOKEN_CANARY));
    let view = json(&r);
    assert!(
        view["baseUri"].as_str().unwrap().ends_with("/demo"),
        "{view}"
    );
    assert_eq!(view["authType"], "basic");
    assert_eq!(view["concurrencyLevel"], 7);
    assert_eq!(view["rateLimit"]["maxRetries"], 3);
    let authorization = view["headers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["name"] == "Authorization")
        .unwrap();
    assert_eq!(authorization["value"], "Basic ********");

    let client = sim_client(&f, &b).await;
    let r = b
        .post(
            &f,
            "/connections/http-view",
            &[
                ("api_type", "customer-service-management"),
                ("oauth_client", &client),
                ("scopes", "read:customer:jira-service-management"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(!r.text.contains(&f.sim.samples().oauth_client_secret));
    let view = json(&r);
    assert_eq!(
        view["oauth"]["clientId"],
        f.sim.samples().oauth_client_id.as_str()
    );
    assert_eq!(
        view["oauth"]["redirectUri"],
        f.app.oauth_callback_url().as_str()
    );

    let r = b
        .post(
            &f,
            "/connections/http-view",
            &[("api_type", "cloud-platform")],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        json(&r)["problems"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["field"] != "name")
    );
}

#[tokio::test]
async fn the_oauth_client_dialog_creates_and_edits_clients() {
    let f = fixture().await;
    let b = sign_in(&f, "form-user").await;

    let r = b
        .post(
            &f,
            "/oauth-clients",
            &[
                ("name", "Dialog app"),
                ("client_id", ""),
                ("client_secret", ""),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    let fields: Vec<_> = json(&r)["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["field"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(fields, ["client_id", "client_secret"]);

    let r = b
        .post(
            &f,
            "/oauth-clients",
            &[
                ("name", "Dialog app"),
                ("client_id", "dialog-client-id"),
                ("client_secret", SECRET_CANARY),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert!(!r.text.contains(SECRET_CANARY));
    let created = json(&r);
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(created["name"], "Dialog app");
    assert_eq!(created["clientId"], "dialog-client-id");

    // The new client is offered in the form's select, with what the edit dialog shows.
    let page = b.get(&f, "/connections/new").await;
    let option = tag_with(&page.text, &format!("<option value=\"{id}\""));
    assert!(option.contains("data-name=\"Dialog app\""), "{option}");
    assert!(option.contains("data-client-id=\"dialog-client-id\""));

    let same_name = b
        .post(
            &f,
            "/oauth-clients",
            &[
                ("name", "dialog APP"),
                ("client_id", "other"),
                ("client_secret", "s"),
            ],
        )
        .await;
    assert_eq!(same_name.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(json(&same_name)["problems"][0]["field"], "name");

    let path = format!("/oauth-clients/{id}");
    let no_secret = b
        .post(
            &f,
            &path,
            &[
                ("name", "Dialog app 2"),
                ("client_id", "dialog-client-id"),
                ("version", "1"),
            ],
        )
        .await;
    assert_eq!(no_secret.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(json(&no_secret)["problems"][0]["field"], "client_secret");

    let edited = b
        .post(
            &f,
            &path,
            &[
                ("name", "Dialog app 2"),
                ("client_id", "dialog-client-id"),
                ("client_secret", SECRET_CANARY),
                ("version", "1"),
            ],
        )
        .await;
    assert_eq!(edited.status, StatusCode::OK, "{}", edited.text);
    assert!(!edited.text.contains(SECRET_CANARY));
    assert_eq!(json(&edited)["id"], id.as_str());
    assert_eq!(
        f.app.get_oauth_client(&id).await.unwrap().name,
        "Dialog app 2"
    );
}
