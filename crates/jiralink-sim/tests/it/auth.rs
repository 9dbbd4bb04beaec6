//! Authentication rules per host, scope enforcement, routing, and response shapes checked
//! against Atlassian's OpenAPI document.

use pretty_assertions::assert_eq;
use reqwest::StatusCode;
use serde_json::{Value, json};

use jiralink_sim::control::{NewApiToken, NewUser, TokenKindInput};

use crate::{
    alice_classic, alice_scoped, assert_matches_schema, basic, client, gateway, get, json,
    read_spec, scoped_token, start,
};

#[tokio::test]
async fn classic_token_works_on_the_site_host() {
    let sim = start().await;
    let (status, _, body) = get(
        &format!("{}/rest/api/3/myself", sim.site_url("demo")),
        Some(&alice_classic(&sim)),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let me = json(&body);
    assert_eq!(me["emailAddress"], "alice@example.com");
    assert_eq!(me["timeZone"], "Australia/Sydney");
    assert_eq!(me["accountType"], "atlassian");
    let self_url = me["self"].as_str().expect("self");
    assert!(self_url.starts_with(&format!(
        "{}/rest/api/3/user?accountId=",
        sim.site_url("demo")
    )));
}

#[tokio::test]
async fn default_site_is_served_at_the_root_and_by_host_header() {
    let sim = start().await;
    let auth = alice_classic(&sim);
    let (status, _, _) = get(
        &format!("{}/rest/api/2/myself", sim.base_url()),
        Some(&auth),
    )
    .await;
    assert_eq!(status, StatusCode::OK);

    let port = sim.local_addr().port();
    let res = client()
        .get(format!("{}/rest/api/3/serverInfo", sim.base_url()))
        .header("host", format!("acme.localhost:{port}"))
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), StatusCode::OK);
    let info: Value = res.json().await.expect("json");
    assert_eq!(info["serverTitle"], "Acme Corp");
    assert_eq!(info["baseUrl"], sim.site_url("acme"));
}

#[tokio::test]
async fn classic_token_also_works_on_the_gateway() {
    let sim = start().await;
    let url = format!("{}/rest/api/3/myself", gateway(&sim, "demo"));
    let (status, _, body) = get(&url, Some(&alice_classic(&sim))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(
        json(&body)["self"]
            .as_str()
            .expect("self")
            .starts_with(&gateway(&sim, "demo"))
    );
}

#[tokio::test]
async fn scoped_token_is_rejected_on_the_site_host() {
    let sim = start().await;
    let (status, _, body) = get(
        &format!("{}/rest/api/3/myself", sim.site_url("demo")),
        Some(&alice_scoped(&sim)),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        json(&body),
        json!({"code":401,"message":"Unauthorized; scope does not match"})
    );
}

#[tokio::test]
async fn scoped_token_on_the_gateway_is_limited_to_its_scopes() {
    let sim = start().await;
    let url = format!("{}/rest/api/3/myself", gateway(&sim, "demo"));
    let (status, _, body) = get(&url, Some(&alice_scoped(&sim))).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "the sample token holds myself's granular set: {body}"
    );

    let narrow = scoped_token(&sim, &["read:jira-work"]);
    let (status, _, body) = get(&url, Some(&basic("alice@example.com", &narrow))).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let err = json(&body);
    assert!(
        err["errorMessages"][0]
            .as_str()
            .expect("message")
            .contains("read:jira-user"),
        "{err}"
    );
    assert_eq!(err["errors"], json!({}));
}

#[tokio::test]
async fn expired_token_is_rejected() {
    let sim = start().await;
    let control = sim.control();
    let token = control
        .add_api_token(NewApiToken {
            email: "alice@example.com".to_owned(),
            kind: TokenKindInput::Classic,
            scopes: vec![],
            expires_in_secs: Some(60),
            label: Some("short".to_owned()),
        })
        .expect("token");
    let url = format!("{}/rest/api/3/myself", sim.site_url("demo"));
    let auth = basic("alice@example.com", &token.token);
    assert_eq!(get(&url, Some(&auth)).await.0, StatusCode::OK);
    control.advance(std::time::Duration::from_secs(60));
    assert_eq!(get(&url, Some(&auth)).await.0, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn missing_or_bad_credentials_get_jiras_401() {
    let sim = start().await;
    let url = format!("{}/rest/api/3/myself", sim.site_url("demo"));
    for auth in [
        None,
        Some(basic("alice@example.com", "wrong")),
        Some("Basic !!!".to_owned()),
    ] {
        let (status, headers, body) = get(&url, auth.as_deref()).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(
            body,
            "Client must be authenticated to access this resource."
        );
        let challenge = headers["www-authenticate"].to_str().expect("ascii");
        assert!(challenge.starts_with("OAuth realm="), "{challenge}");
    }
    let (status, _, body) = get(
        &format!("{}/rest/api/3/myself", gateway(&sim, "demo")),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(json(&body), json!({"code":401,"message":"Unauthorized"}));
}

#[tokio::test]
async fn bearer_tokens_do_not_work_on_the_site_host() {
    let sim = start().await;
    let url = format!("{}/rest/api/3/myself", sim.site_url("demo"));
    let (status, _, body) = get(&url, Some("Bearer anything")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        body,
        "Client must be authenticated to access this resource."
    );
}

#[tokio::test]
async fn non_members_and_inactive_users_are_rejected() {
    let sim = start().await;
    let control = sim.control();
    control
        .add_user(NewUser {
            email: "dora@example.com".to_owned(),
            display_name: "Dora".to_owned(),
            time_zone: Some("Europe/Paris".to_owned()),
            sites: vec!["demo".to_owned()],
            active: None,
        })
        .expect("user");
    let token = control
        .add_api_token(NewApiToken {
            email: "dora@example.com".to_owned(),
            kind: TokenKindInput::Classic,
            scopes: vec![],
            expires_in_secs: None,
            label: None,
        })
        .expect("token");
    let auth = basic("dora@example.com", &token.token);
    let demo = get(
        &format!("{}/rest/api/3/myself", sim.site_url("demo")),
        Some(&auth),
    )
    .await;
    assert_eq!(demo.0, StatusCode::OK);
    assert_eq!(json(&demo.2)["timeZone"], "Europe/Paris");
    let acme = get(
        &format!("{}/rest/api/3/myself", sim.site_url("acme")),
        Some(&auth),
    )
    .await;
    assert_eq!(
        acme.0,
        StatusCode::UNAUTHORIZED,
        "dora is not a member of acme"
    );
}

#[tokio::test]
async fn unknown_site_and_cloud_id_answer_404() {
    let sim = start().await;
    let (status, headers, body) = get(
        &format!("{}/site/nope/rest/api/3/serverInfo", sim.base_url()),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(
        headers["content-type"]
            .to_str()
            .expect("ascii")
            .starts_with("text/html")
    );
    assert!(body.contains("Site temporarily unavailable"));

    let port = sim.local_addr().port();
    let res = client()
        .get(format!("{}/rest/api/3/serverInfo", sim.base_url()))
        .header("host", format!("nope.localhost:{port}"))
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), StatusCode::NOT_FOUND);

    let url = format!(
        "{}/ex/jira/{}/rest/api/3/serverInfo",
        sim.base_url(),
        uuid::Uuid::nil()
    );
    let (status, _, body) = get(&url, Some(&alice_classic(&sim))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(json(&body), json!({"code":404,"message":"Not Found"}));
}

#[tokio::test]
async fn removed_search_answers_410_on_every_version() {
    let sim = start().await;
    let auth = alice_classic(&sim);
    let expected = json!({"errorMessages":["The requested API has been removed. Please migrate to the /rest/api/3/search/jql API. A full migration guideline is available at https://developer.atlassian.com/changelog/#CHANGE-2046"],"errors":{}});
    for v in ["2", "3", "latest"] {
        let base = format!("{}/rest/api/{v}", sim.site_url("demo"));
        let (status, _, body) = get(&format!("{base}/search?jql=project%3DX"), Some(&auth)).await;
        assert_eq!(status, StatusCode::GONE);
        assert_eq!(json(&body), expected);
        for path in ["search", "search/id"] {
            let res = client()
                .post(format!("{base}/{path}"))
                .header("authorization", &auth)
                .json(&json!({"jql":"project = X"}))
                .send()
                .await
                .expect("request");
            assert_eq!(res.status(), StatusCode::GONE, "POST {path} v{v}");
        }
    }
}

#[tokio::test]
async fn myself_and_server_info_match_the_openapi_schemas() {
    let sim = start().await;
    let spec = read_spec("jira-platform-v3.openapi.json");
    let auth = alice_classic(&sim);
    let base = sim.site_url("demo");
    let (_, _, plain) = get(&format!("{base}/rest/api/3/myself"), Some(&auth)).await;
    let plain = json(&plain);
    assert_matches_schema(&spec, "User", &plain);
    assert_eq!(plain["groups"]["items"], json!([]));
    // jira-administrators, jira-software-users and, as the site's administrator, site-admins
    // and jira-servicemanagement-users.
    assert_eq!(plain["groups"]["size"], 4);

    let (_, _, expanded) = get(
        &format!("{base}/rest/api/3/myself?expand=groups,applicationRoles"),
        Some(&auth),
    )
    .await;
    let expanded = json(&expanded);
    assert_matches_schema(&spec, "User", &expanded);
    assert_eq!(
        expanded["groups"]["items"][0]["name"],
        "jira-administrators"
    );
    assert_eq!(
        expanded["applicationRoles"]["items"][0]["key"],
        "jira-software"
    );

    let (status, _, info) = get(&format!("{base}/rest/api/3/serverInfo"), None).await;
    assert_eq!(status, StatusCode::OK, "serverInfo needs no authentication");
    let mut info = json(&info);
    // Jira Cloud sends `defaultLocale`, which the document's closed schema leaves out.
    let locale = info.as_object_mut().and_then(|o| o.remove("defaultLocale"));
    assert_eq!(locale, Some(serde_json::json!({"locale": "en_US"})));
    assert_matches_schema(&spec, "ServerInformation", &info);
    assert_eq!(info["deploymentType"], "Cloud");
    assert_eq!(info["baseUrl"], base);
    assert_eq!(info["serverTime"], "2026-01-05T09:30:00.000+0000");
}

#[tokio::test]
async fn server_info_needs_no_scope_even_for_scoped_tokens() {
    let sim = start().await;
    let narrow = scoped_token(&sim, &["read:jira-work"]);
    let url = format!("{}/rest/api/3/serverInfo", gateway(&sim, "demo"));
    let (status, _, _) = get(&url, Some(&basic("alice@example.com", &narrow))).await;
    assert_eq!(status, StatusCode::OK);
}

/// Rebuilds the embedded scope table from the OpenAPI documents and compares row by row.
#[test]
fn scope_table_agrees_with_the_specs() {
    let mut expected = Vec::new();
    for (api, file) in [
        ("platform", "jira-platform-v3.openapi.json"),
        ("jsm", "jira-service-management.openapi.json"),
    ] {
        let doc = read_spec(file);
        for (path, ops) in doc["paths"].as_object().expect("paths") {
            for (method, op) in ops.as_object().expect("operations") {
                let Some(id) = op.get("operationId").and_then(Value::as_str) else {
                    continue;
                };
                let sets = match op
                    .get("x-atlassian-oauth2-scopes")
                    .and_then(Value::as_array)
                {
                    None => "-".to_owned(),
                    Some(alts) => alts
                        .iter()
                        .map(|alt| {
                            alt["scopes"]
                                .as_array()
                                .expect("scopes")
                                .iter()
                                .map(|s| s.as_str().expect("scope"))
                                .collect::<Vec<_>>()
                                .join(" ")
                        })
                        .collect::<Vec<_>>()
                        .join(";"),
                };
                expected.push(format!(
                    "{api}\t{id}\t{}\t{path}\t{sets}",
                    method.to_uppercase()
                ));
            }
        }
    }
    let actual: Vec<String> = jiralink_sim::scopes::TABLE_TSV
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(str::to_owned)
        .collect();
    let mut expected_sorted = expected.clone();
    expected_sorted.sort();
    let mut actual_sorted = actual;
    actual_sorted.sort();
    assert_eq!(actual_sorted, expected_sorted);
}
