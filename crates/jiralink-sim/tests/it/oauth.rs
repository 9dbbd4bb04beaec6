//! The OAuth 2.0 (3LO) flow with a plain HTTP client: authorize, consent, token exchange,
//! refresh rotation, expiry, accessible-resources and scope enforcement.

use std::collections::HashMap;
use std::time::Duration;

use pretty_assertions::assert_eq;
use reqwest::StatusCode;
use serde_json::{Value, json};

use jiralink_sim::control::NewOAuthApp;
use jiralink_sim::{SimConfig, SimHandle};

use crate::{client, gateway, get, json, start, start_with};

const CALLBACK: &str = "http://127.0.0.1:8080/connection/oauth2callback";
const SCOPES: &str = "read:jira-user read:jira-work read:me offline_access";

fn authorize_params(sim: &SimHandle) -> Vec<(&'static str, String)> {
    vec![
        ("audience", "api.atlassian.com".to_owned()),
        ("client_id", sim.samples().oauth_client_id.clone()),
        ("scope", SCOPES.to_owned()),
        ("redirect_uri", CALLBACK.to_owned()),
        ("state", "st-123".to_owned()),
        ("response_type", "code".to_owned()),
        ("prompt", "consent".to_owned()),
    ]
}

fn with(
    mut params: Vec<(&'static str, String)>,
    key: &'static str,
    value: Option<&str>,
) -> Vec<(&'static str, String)> {
    params.retain(|(k, _)| *k != key);
    if let Some(v) = value {
        params.push((key, v.to_owned()));
    }
    params
}

async fn authorize(sim: &SimHandle, params: &[(&'static str, String)]) -> reqwest::Response {
    client()
        .get(format!("{}/authorize", sim.auth_server()))
        .query(params)
        .send()
        .await
        .expect("authorize request")
}

fn location_query(res: &reqwest::Response) -> (String, HashMap<String, String>) {
    assert_eq!(res.status(), StatusCode::FOUND, "expected a redirect");
    let location = res.headers()["location"].to_str().expect("ascii");
    let url = url::Url::parse(location).expect("absolute location");
    let target = location.split('?').next().unwrap_or_default().to_owned();
    (target, url.query_pairs().into_owned().collect())
}

/// Reads the hidden request id from the consent page.
fn consent_request_id(page: &str) -> String {
    let marker = "name=\"request\" value=\"";
    let start = page.find(marker).expect("request field") + marker.len();
    let end = page[start..].find('"').expect("end quote") + start;
    page[start..end].to_owned()
}

async fn consent(
    sim: &SimHandle,
    params: &[(&'static str, String)],
    decision: &str,
    site: &str,
) -> reqwest::Response {
    let page = authorize(sim, params).await;
    assert_eq!(page.status(), StatusCode::OK);
    let page = page.text().await.expect("page");
    let cloud_id = sim.control().site(site).expect("site").cloud_id.to_string();
    client()
        .post(format!("{}/authorize/consent", sim.auth_server()))
        .form(&[
            ("request", consent_request_id(&page)),
            ("decision", decision.to_owned()),
            ("site", cloud_id),
        ])
        .send()
        .await
        .expect("consent")
}

/// Runs authorize + consent (accept) and returns the code.
async fn code_for(sim: &SimHandle, params: &[(&'static str, String)], site: &str) -> String {
    let res = consent(sim, params, "accept", site).await;
    let (_, q) = location_query(&res);
    assert_eq!(q["state"], "st-123");
    q["code"].clone()
}

async fn token_request(sim: &SimHandle, body: &Value) -> (StatusCode, Value) {
    let res = client()
        .post(format!("{}/oauth/token", sim.auth_server()))
        .json(body)
        .send()
        .await
        .expect("token request");
    let status = res.status();
    (status, res.json().await.expect("json body"))
}

async fn exchange(sim: &SimHandle, code: &str) -> (StatusCode, Value) {
    token_request(
        sim,
        &json!({
            "grant_type": "authorization_code",
            "client_id": sim.samples().oauth_client_id,
            "client_secret": sim.samples().oauth_client_secret,
            "code": code,
            "redirect_uri": CALLBACK,
        }),
    )
    .await
}

async fn refresh(sim: &SimHandle, refresh_token: &str) -> (StatusCode, Value) {
    token_request(
        sim,
        &json!({
            "grant_type": "refresh_token",
            "client_id": sim.samples().oauth_client_id,
            "client_secret": sim.samples().oauth_client_secret,
            "refresh_token": refresh_token,
        }),
    )
    .await
}

/// Full flow to a token pair for the demo site.
pub(crate) async fn tokens(sim: &SimHandle) -> Value {
    let code = code_for(sim, &authorize_params(sim), "demo").await;
    let (status, body) = exchange(sim, &code).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

/// Full flow to a token pair for the demo site with `scopes` (space separated).
pub(crate) async fn tokens_with_scopes(sim: &SimHandle, scopes: &str) -> Value {
    let params = with(authorize_params(sim), "scope", Some(scopes));
    let code = code_for(sim, &params, "demo").await;
    let (status, body) = exchange(sim, &code).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

pub(crate) fn bearer(tokens: &Value) -> String {
    format!(
        "Bearer {}",
        tokens["access_token"].as_str().expect("access token")
    )
}

fn invalid_refresh() -> Value {
    json!({"error":"invalid_grant","error_description":"Unknown or invalid refresh token."})
}

#[tokio::test]
async fn bad_client_or_redirect_shows_an_error_page_and_never_redirects() {
    let sim = start().await;
    let base = authorize_params(&sim);
    for params in [
        with(base.clone(), "client_id", None),
        with(base.clone(), "client_id", Some("unknown-client")),
        with(base.clone(), "redirect_uri", None),
        with(
            base.clone(),
            "redirect_uri",
            Some("http://127.0.0.1:8080/connection/oauth2callback/"),
        ),
        with(
            base.clone(),
            "redirect_uri",
            Some("https://evil.example/cb"),
        ),
    ] {
        let res = authorize(&sim, &params).await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST);
        assert!(res.headers().get("location").is_none());
        assert!(
            res.headers()["content-type"]
                .to_str()
                .expect("ascii")
                .starts_with("text/html")
        );
    }
}

#[tokio::test]
async fn other_bad_parameters_redirect_back_with_error_and_state() {
    let sim = start().await;
    let base = authorize_params(&sim);
    let cases = [
        (
            with(base.clone(), "response_type", Some("token")),
            "unsupported_response_type",
        ),
        (with(base.clone(), "audience", None), "invalid_request"),
        (
            with(base.clone(), "audience", Some("api.example.com")),
            "invalid_request",
        ),
        (with(base.clone(), "scope", None), "invalid_request"),
        (
            with(
                base.clone(),
                "scope",
                Some("read:jira-work write:everything"),
            ),
            "invalid_scope",
        ),
        (
            with(base.clone(), "prompt", Some("none")),
            "invalid_request",
        ),
        (
            with(base.clone(), "code_challenge_method", Some("plain")),
            "invalid_request",
        ),
        (
            with(
                with(base.clone(), "code_challenge", Some("short")),
                "code_challenge_method",
                Some("S256"),
            ),
            "invalid_request",
        ),
    ];
    for (params, error) in cases {
        let res = authorize(&sim, &params).await;
        let (target, q) = location_query(&res);
        assert_eq!(target, CALLBACK);
        assert_eq!(q["error"], error, "{params:?}");
        assert_eq!(q["state"], "st-123");
        assert!(!q.contains_key("code"));
    }
    let res = authorize(&sim, &with(base, "state", None)).await;
    let (_, q) = location_query(&res);
    assert_eq!(q["error"], "invalid_request");
    assert!(!q.contains_key("state"));
}

#[tokio::test]
async fn consent_page_lists_scopes_and_sites_and_cancel_denies() {
    let sim = start().await;
    let res = authorize(&sim, &authorize_params(&sim)).await;
    assert_eq!(res.status(), StatusCode::OK);
    let page = res.text().await.expect("page");
    for scope in SCOPES.split(' ') {
        assert!(
            page.contains(&format!("<code>{scope}</code>")),
            "{scope} listed"
        );
    }
    assert!(page.contains(&sim.site_url("demo")) && page.contains(&sim.site_url("acme")));
    assert!(page.contains("value=\"accept\"") && page.contains("value=\"cancel\""));

    let res = consent(&sim, &authorize_params(&sim), "cancel", "demo").await;
    let (target, q) = location_query(&res);
    assert_eq!(target, CALLBACK);
    assert_eq!(q["error"], "access_denied");
    assert_eq!(q["state"], "st-123");
}

#[tokio::test]
async fn auto_approve_redirects_at_once() {
    let sim = start_with(SimConfig {
        auto_approve: true,
        ..SimConfig::for_tests()
    })
    .await;
    let res = authorize(&sim, &authorize_params(&sim)).await;
    let (target, q) = location_query(&res);
    assert_eq!(target, CALLBACK);
    assert_eq!(q["state"], "st-123");
    let (status, body) = exchange(&sim, &q["code"]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn code_exchange_returns_atlassians_token_shape_and_the_token_works_on_the_gateway() {
    let sim = start().await;
    let t = tokens(&sim).await;
    assert_eq!(t["token_type"], "Bearer");
    assert_eq!(t["expires_in"], 3600);
    assert_eq!(t["scope"], SCOPES);
    assert!(t["refresh_token"].is_string());

    let url = format!("{}/rest/api/3/myself", gateway(&sim, "demo"));
    let (status, _, body) = get(&url, Some(&bearer(&t))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(json(&body)["emailAddress"], "alice@example.com");

    let acme = format!("{}/rest/api/3/myself", gateway(&sim, "acme"));
    let (status, _, _) = get(&acme, Some(&bearer(&t))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "acme was not granted");

    let (status, _, body) = get(
        &format!("{}/oauth/token/accessible-resources", sim.api_gateway()),
        Some(&bearer(&t)),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let resources = json(&body);
    let demo = sim.control().site("demo").expect("demo");
    assert_eq!(resources.as_array().expect("array").len(), 1);
    assert_eq!(resources[0]["id"], demo.cloud_id.to_string());
    assert_eq!(resources[0]["url"], sim.site_url("demo"));
    assert_eq!(resources[0]["name"], "Demo");
    assert_eq!(
        resources[0]["scopes"],
        json!(["read:jira-user", "read:jira-work"])
    );
    assert!(resources[0]["avatarUrl"].is_string());

    let (status, _, body) = get(&format!("{}/me", sim.api_gateway()), Some(&bearer(&t))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(json(&body)["email"], "alice@example.com");
    assert_eq!(json(&body)["zoneinfo"], "Australia/Sydney");
}

#[tokio::test]
async fn a_second_consent_adds_the_site_to_the_same_grant() {
    let sim = start().await;
    let _first = tokens(&sim).await;
    let code = code_for(&sim, &authorize_params(&sim), "acme").await;
    let (_, t) = exchange(&sim, &code).await;
    let (_, _, body) = get(
        &format!("{}/oauth/token/accessible-resources", sim.api_gateway()),
        Some(&bearer(&t)),
    )
    .await;
    let mut urls: Vec<String> = json(&body)
        .as_array()
        .expect("array")
        .iter()
        .map(|r| r["url"].as_str().expect("url").to_owned())
        .collect();
    urls.sort();
    assert_eq!(urls, vec![sim.site_url("acme"), sim.site_url("demo")]);
    assert_eq!(sim.control().grants().len(), 1);
}

#[tokio::test]
async fn codes_are_single_use_expire_and_bind_the_redirect_uri() {
    let sim = start().await;
    let code = code_for(&sim, &authorize_params(&sim), "demo").await;
    let (status, body) = token_request(
        &sim,
        &json!({
            "grant_type": "authorization_code",
            "client_id": sim.samples().oauth_client_id,
            "client_secret": sim.samples().oauth_client_secret,
            "code": code,
            "redirect_uri": "http://127.0.0.1:8080/other",
        }),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["error"], "invalid_grant");

    let (status, _) = exchange(&sim, &code).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = exchange(&sim, &code).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "reused code");
    assert_eq!(body["error"], "invalid_grant");

    let late = code_for(&sim, &authorize_params(&sim), "demo").await;
    sim.control().advance(Duration::from_secs(600));
    let (status, body) = exchange(&sim, &late).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "expired code");
    assert_eq!(body["error"], "invalid_grant");
}

#[tokio::test]
async fn client_authentication_errors() {
    let sim = start().await;
    let code = code_for(&sim, &authorize_params(&sim), "demo").await;
    let id = sim.samples().oauth_client_id.clone();
    let (status, body) = token_request(
        &sim,
        &json!({"grant_type":"authorization_code","client_id":id,"code":code,"redirect_uri":CALLBACK}),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        body,
        json!({"error":"access_denied","error_description":"Unauthorized"})
    );

    let (status, body) = token_request(
        &sim,
        &json!({"grant_type":"authorization_code","client_id":id,"client_secret":"nope","code":code,"redirect_uri":CALLBACK}),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"], "access_denied");

    let (status, body) = token_request(
        &sim,
        &json!({"grant_type":"authorization_code","client_id":"ghost","client_secret":"x","code":code,"redirect_uri":CALLBACK}),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"], "invalid_client");

    let (status, body) =
        token_request(&sim, &json!({"grant_type":"password","client_id":id})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "unsupported_grant_type");

    let (status, body) = token_request(&sim, &json!({"client_id":id})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_request");

    // The code survived the failed attempts.
    let (status, _) = exchange(&sim, &code).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn form_encoded_token_requests_and_pkce_are_accepted() {
    let sim = start().await;
    let params = with(
        with(
            authorize_params(&sim),
            "code_challenge",
            Some("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"),
        ),
        "code_challenge_method",
        Some("S256"),
    );
    let code = code_for(&sim, &params, "demo").await;
    // No code_verifier: like Atlassian, the token endpoint does not enforce PKCE.
    let res = client()
        .post(format!("{}/oauth/token", sim.auth_server()))
        .form(&[
            ("grant_type", "authorization_code"),
            ("client_id", &sim.samples().oauth_client_id),
            ("client_secret", &sim.samples().oauth_client_secret),
            ("code", &code),
            ("redirect_uri", CALLBACK),
        ])
        .send()
        .await
        .expect("token");
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["cache-control"], "no-store");
}

#[tokio::test]
async fn refresh_tokens_rotate_over_many_refreshes() {
    let sim = start().await;
    let mut t = tokens(&sim).await;
    let mut seen = std::collections::HashSet::new();
    for _ in 0..25 {
        let old = t["refresh_token"].as_str().expect("refresh").to_owned();
        assert!(seen.insert(old.clone()), "refresh tokens never repeat");
        sim.control().advance(Duration::from_secs(3600));
        let (status, next) = refresh(&sim, &old).await;
        assert_eq!(status, StatusCode::OK, "{next}");
        assert_ne!(next["refresh_token"], old);
        assert_eq!(next["scope"], SCOPES);
        let url = format!("{}/rest/api/3/myself", gateway(&sim, "demo"));
        assert_eq!(get(&url, Some(&bearer(&next))).await.0, StatusCode::OK);
        t = next;
    }
}

#[tokio::test]
async fn reuse_within_the_leeway_returns_the_current_refresh_token() {
    let sim = start().await;
    let t = tokens(&sim).await;
    let first = t["refresh_token"].as_str().expect("refresh").to_owned();
    let (_, second) = refresh(&sim, &first).await;
    let second_rt = second["refresh_token"]
        .as_str()
        .expect("refresh")
        .to_owned();
    sim.control().advance(Duration::from_secs(599));
    let (status, again) = refresh(&sim, &first).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        again["refresh_token"],
        second_rt.as_str(),
        "the family's live token comes back"
    );
    assert_ne!(again["access_token"], second["access_token"]);
    let (status, _) = refresh(&sim, &second_rt).await;
    assert_eq!(status, StatusCode::OK, "the family still works");
}

#[tokio::test]
async fn reuse_after_the_leeway_revokes_the_family() {
    let sim = start().await;
    let t = tokens(&sim).await;
    let first = t["refresh_token"].as_str().expect("refresh").to_owned();
    let (_, second) = refresh(&sim, &first).await;
    sim.control().advance(Duration::from_secs(601));
    let (status, body) = refresh(&sim, &first).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body, invalid_refresh());
    let (status, body) = refresh(&sim, second["refresh_token"].as_str().expect("rt")).await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "the live token died with the family"
    );
    assert_eq!(body, invalid_refresh());
    let url = format!("{}/rest/api/3/myself", gateway(&sim, "demo"));
    assert_eq!(
        get(&url, Some(&bearer(&second))).await.0,
        StatusCode::UNAUTHORIZED
    );
    // Re-consent starts a new grant.
    let fresh = tokens(&sim).await;
    assert_eq!(get(&url, Some(&bearer(&fresh))).await.0, StatusCode::OK);
}

#[tokio::test]
async fn unknown_refresh_token_is_invalid_grant() {
    let sim = start().await;
    let (status, body) = refresh(&sim, "not-a-token").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body, invalid_refresh());
}

#[tokio::test]
async fn no_refresh_token_without_offline_access() {
    let sim = start().await;
    let params = with(authorize_params(&sim), "scope", Some("read:jira-user"));
    let code = code_for(&sim, &params, "demo").await;
    let (status, t) = exchange(&sim, &code).await;
    assert_eq!(status, StatusCode::OK);
    assert!(t.get("refresh_token").is_none());
}

#[tokio::test]
async fn access_tokens_expire_on_the_sim_clock() {
    let sim = start_with(SimConfig {
        access_token_ttl: Duration::from_secs(120),
        ..SimConfig::for_tests()
    })
    .await;
    let t = tokens(&sim).await;
    assert_eq!(t["expires_in"], 120);
    let url = format!("{}/rest/api/3/myself", gateway(&sim, "demo"));
    assert_eq!(get(&url, Some(&bearer(&t))).await.0, StatusCode::OK);
    sim.control().advance(Duration::from_secs(120));
    let (status, _, body) = get(&url, Some(&bearer(&t))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(json(&body), json!({"code":401,"message":"Unauthorized"}));
}

#[tokio::test]
async fn refresh_tokens_expire_after_90_idle_days_and_365_days_after_consent() {
    let sim = start().await;
    let t = tokens(&sim).await;
    sim.control().advance(Duration::from_secs(90 * 86_400));
    let (status, body) = refresh(&sim, t["refresh_token"].as_str().expect("rt")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body, invalid_refresh());

    let mut t = tokens(&sim).await;
    for _ in 0..4 {
        sim.control().advance(Duration::from_secs(89 * 86_400));
        let (status, next) = refresh(&sim, t["refresh_token"].as_str().expect("rt")).await;
        assert_eq!(status, StatusCode::OK, "356 days in, still valid");
        t = next;
    }
    sim.control().advance(Duration::from_secs(9 * 86_400));
    let (status, body) = refresh(&sim, t["refresh_token"].as_str().expect("rt")).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "365 days after consent");
    assert_eq!(body, invalid_refresh());
}

#[tokio::test]
async fn oauth_token_without_the_operation_scope_gets_403() {
    let sim = start().await;
    let params = with(authorize_params(&sim), "scope", Some("read:jira-work"));
    let code = code_for(&sim, &params, "demo").await;
    let (_, t) = exchange(&sim, &code).await;
    let (status, _, body) = get(
        &format!("{}/rest/api/3/myself", gateway(&sim, "demo")),
        Some(&bearer(&t)),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(json(&body)["errorMessages"].is_array());
    let (status, _, _) = get(&format!("{}/me", sim.api_gateway()), Some(&bearer(&t))).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "/me needs read:me");
}

#[tokio::test]
async fn apps_registered_through_control_and_grant_revocation() {
    let sim = start().await;
    let control = sim.control();
    let app = control
        .add_oauth_app(NewOAuthApp {
            name: Some("Other".to_owned()),
            callbacks: vec!["http://localhost:9999/cb".to_owned()],
            scopes: Some(vec!["read:jira-user".to_owned()]),
        })
        .expect("app");
    let params = vec![
        ("audience", "api.atlassian.com".to_owned()),
        ("client_id", app.client_id.clone()),
        ("scope", "read:jira-work".to_owned()),
        ("redirect_uri", "http://localhost:9999/cb".to_owned()),
        ("state", "s".to_owned()),
        ("response_type", "code".to_owned()),
    ];
    let (_, q) = location_query(&authorize(&sim, &params).await);
    assert_eq!(q["error"], "invalid_scope", "scope not added to the app");

    let t = tokens(&sim).await;
    let url = format!("{}/rest/api/3/myself", gateway(&sim, "demo"));
    assert_eq!(get(&url, Some(&bearer(&t))).await.0, StatusCode::OK);
    assert_eq!(control.revoke_grants(None, Some("alice@example.com")), 1);
    assert_eq!(
        get(&url, Some(&bearer(&t))).await.0,
        StatusCode::UNAUTHORIZED
    );
    let (status, _) = refresh(&sim, t["refresh_token"].as_str().expect("rt")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}
