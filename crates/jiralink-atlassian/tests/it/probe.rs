//! "Test connection" against the simulator and wiremock: every failure class has its message
//! and fix, and none of them shows a credential.

use std::{sync::Arc, time::Duration};

use jiralink_atlassian::{
    AuthRoute, Credentials, HttpConfig, ProbeFailure, ProbeFailureKind, ProbeReport, ProbeRequest,
    ProbeTarget, StaticToken, build_client,
};
use jiralink_domain::{
    ApiType, AtlassianEndpoints, ConcurrencyLevel, ConnectionAuth, ConnectionName,
    ConnectionSettings, OAuthClientId, ScopeSet, Subdomain,
};
use jiralink_sim::{
    SimConfig, SimHandle,
    control::{NewApiToken, TokenKindInput},
};
use jiralink_vault::AccessToken;
use pretty_assertions::assert_eq;
use serde_json::json;
use wiremock::{Mock, MockServer, ResponseTemplate, matchers};

use crate::{assert_no_secret, basic, basic_settings, endpoints_at, http, sim, sim_endpoints};

const CANARY: &str = "CANARY-probe-4f7e2a9c1b3d5e6f";

async fn run(
    http: &reqwest::Client,
    settings: &ConnectionSettings,
    endpoints: &AtlassianEndpoints,
    route: AuthRoute,
    cloud_id: Option<&str>,
    credentials: Credentials,
) -> Result<ProbeReport, ProbeFailure> {
    let target = ProbeTarget {
        settings,
        endpoints,
        route,
        cloud_id,
    };
    crate::probe_with(http, &target, credentials).await
}

async fn alice(
    sim: &SimHandle,
    token: &str,
    route: AuthRoute,
    cloud_id: Option<&str>,
) -> Result<ProbeReport, ProbeFailure> {
    let settings = basic_settings(&sim.samples().email);
    run(
        &http(),
        &settings,
        &sim_endpoints(sim),
        route,
        cloud_id,
        basic(&sim.samples().email, token),
    )
    .await
}

fn new_token(
    sim: &SimHandle,
    kind: TokenKindInput,
    scopes: &[&str],
    expires_in_secs: Option<u64>,
) -> String {
    sim.control()
        .add_api_token(NewApiToken {
            email: sim.samples().email.clone(),
            kind,
            scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
            expires_in_secs,
            label: None,
        })
        .unwrap()
        .token
}

fn assert_clean(failure: &ProbeFailure, secret: &str) {
    assert_no_secret(&format!("{failure} {failure:?}"), secret);
}

#[tokio::test]
async fn success_reports_the_account() {
    let sim = sim().await;
    let report = alice(
        &sim,
        &sim.samples().api_token,
        AuthRoute::BasicClassic,
        None,
    )
    .await
    .unwrap();
    assert!(report.reachable);
    assert_eq!(
        report.request,
        ProbeRequest::Myself,
        "Basic credentials keep /myself"
    );
    let account = report.account.unwrap();
    assert_eq!(account.email.as_deref(), Some("alice@example.com"));
    assert_eq!(account.time_zone.as_deref(), Some("Australia/Sydney"));
    assert_eq!(report.site_url.unwrap().as_str(), sim.site_url("demo"));
    assert!(report.missing_scopes.is_empty());
}

#[tokio::test]
async fn wrong_token() {
    let sim = sim().await;
    let f = alice(&sim, CANARY, AuthRoute::BasicClassic, None)
        .await
        .unwrap_err();
    assert_eq!(f.kind, ProbeFailureKind::WrongCredentials);
    assert_eq!(f.status, Some(401));
    assert!(
        f.message.contains("wrong") && f.message.contains("expired"),
        "{f}"
    );
    assert!(f.fix.contains("API token"), "{f}");
    assert_clean(&f, CANARY);
    assert_eq!(sim.control().requests().len(), 1, "no retry for a 401");
}

#[tokio::test]
async fn expired_token() {
    let sim = sim().await;
    let token = new_token(&sim, TokenKindInput::Classic, &[], Some(60));
    alice(&sim, &token, AuthRoute::BasicClassic, None)
        .await
        .unwrap();
    sim.control().advance(Duration::from_secs(120));
    let f = alice(&sim, &token, AuthRoute::BasicClassic, None)
        .await
        .unwrap_err();
    // Jira answers an expired token exactly like a wrong one, so both are named.
    assert_eq!(f.kind, ProbeFailureKind::WrongCredentials);
    assert!(f.message.contains("expired"), "{f}");
    assert_clean(&f, &token);
}

#[tokio::test]
async fn missing_scope_with_a_scoped_token() {
    let sim = sim().await;
    let token = new_token(&sim, TokenKindInput::Scoped, &["read:jira-work"], None);
    let cloud_id = sim.control().site("demo").unwrap().cloud_id.to_string();
    let f = alice(&sim, &token, AuthRoute::BasicScoped, Some(&cloud_id))
        .await
        .unwrap_err();
    assert_eq!(f.kind, ProbeFailureKind::MissingScope);
    assert_eq!(f.status, Some(403));
    assert_eq!(f.missing_scope.as_deref(), Some("read:jira-user"));
    assert_eq!(f.request, Some(ProbeRequest::Myself));
    assert!(f.fix.contains("read:jira-user"), "{f}");
    assert_clean(&f, &token);

    // The sample scoped token holds what /myself needs: through the gateway it works.
    let report = alice(
        &sim,
        &sim.samples().scoped_api_token,
        AuthRoute::BasicScoped,
        Some(&cloud_id),
    )
    .await
    .unwrap();
    assert_eq!(report.cloud_id.as_deref(), Some(cloud_id.as_str()));
}

#[tokio::test]
async fn scoped_token_sent_to_the_site() {
    let sim = sim().await;
    let token = sim.samples().scoped_api_token.clone();
    let f = alice(&sim, &token, AuthRoute::BasicClassic, None)
        .await
        .unwrap_err();
    assert_eq!(f.kind, ProbeFailureKind::ScopedTokenOnSite);
    assert!(f.fix.contains("classic API token"), "{f}");
    assert_clean(&f, &token);
}

#[tokio::test]
async fn rate_limited_with_the_wait() {
    let sim = sim().await;
    sim.control().fail_next(1, 429, Some(30));
    let f = alice(
        &sim,
        &sim.samples().api_token,
        AuthRoute::BasicClassic,
        None,
    )
    .await
    .unwrap_err();
    assert_eq!(f.kind, ProbeFailureKind::RateLimited);
    assert_eq!(f.retry_after, Some(Duration::from_secs(30)));
    assert!(f.fix.contains("wait 30 seconds"), "{f}");
}

#[tokio::test]
async fn unknown_subdomain() {
    let sim = sim().await;
    let mut settings = basic_settings(&sim.samples().email);
    settings.subdomain = Some(Subdomain::from_label("nosuchsite").unwrap());
    let f = run(
        &http(),
        &settings,
        &sim_endpoints(&sim),
        AuthRoute::BasicClassic,
        None,
        basic(&sim.samples().email, &sim.samples().api_token),
    )
    .await
    .unwrap_err();
    assert_eq!(f.kind, ProbeFailureKind::UnknownSite);
    assert!(f.message.contains("/site/nosuchsite"), "{f}");
    assert!(f.fix.contains("subdomain"), "{f}");
}

#[tokio::test]
async fn connection_refused_on_a_closed_port() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let f = run(
        &http(),
        &basic_settings("fred@example.com"),
        &endpoints_at(&format!("http://127.0.0.1:{port}")),
        AuthRoute::BasicClassic,
        None,
        basic("fred@example.com", CANARY),
    )
    .await
    .unwrap_err();
    assert_eq!(f.kind, ProbeFailureKind::Network);
    assert!(f.message.contains("no connection could be made"), "{f}");
    assert!(f.fix.contains("running"), "{f}");
    assert_clean(&f, CANARY);
}

#[tokio::test]
async fn tls_untrusted_then_trusted() {
    let sim = jiralink_sim::Sim::start(SimConfig {
        tls: true,
        ..SimConfig::for_tests()
    })
    .await
    .unwrap();
    let settings = basic_settings(&sim.samples().email);
    let endpoints = sim_endpoints(&sim);
    let creds = || basic(&sim.samples().email, &sim.samples().api_token);
    let f = run(
        &http(),
        &settings,
        &endpoints,
        AuthRoute::BasicClassic,
        None,
        creds(),
    )
    .await
    .unwrap_err();
    assert_eq!(f.kind, ProbeFailureKind::Tls);
    assert!(f.fix.contains("CA"), "{f}");

    let config = HttpConfig::default()
        .trust_ca_file(sim.ca_cert_pem_path().unwrap())
        .unwrap();
    let trusting = build_client(&config).unwrap();
    let report = run(
        &trusting,
        &settings,
        &endpoints,
        AuthRoute::BasicClassic,
        None,
        creds(),
    )
    .await
    .unwrap();
    assert_eq!(
        report.account.unwrap().email.as_deref(),
        Some("alice@example.com")
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn redirects_html_and_other_hosts_are_misconfigurations() {
    let cases = [
        ResponseTemplate::new(301).insert_header("location", "https://proxy.example.com/login?u=x"),
        ResponseTemplate::new(200)
            .insert_header("content-type", "text/html")
            .set_body_string("<html><body>Sign in to the proxy</body></html>"),
        ResponseTemplate::new(200).set_body_json(json!({
            "accountId": "a", "self": "https://elsewhere.example.com/rest/api/3/user?accountId=a"
        })),
        ResponseTemplate::new(200).set_body_json(json!({"hello": "world"})),
    ];
    for (i, response) in cases.into_iter().enumerate() {
        let server = MockServer::start().await;
        Mock::given(matchers::method("GET"))
            .and(matchers::path("/demo/rest/api/3/myself"))
            .respond_with(response)
            .mount(&server)
            .await;
        let f = run(
            &http(),
            &basic_settings("fred@example.com"),
            &endpoints_at(&server.uri()),
            AuthRoute::BasicClassic,
            None,
            basic("fred@example.com", CANARY),
        )
        .await
        .unwrap_err();
        assert_eq!(f.kind, ProbeFailureKind::Misconfigured, "case {i}: {f}");
        assert_clean(&f, CANARY);
    }
}

fn oauth_settings(api_type: ApiType, scopes: &str) -> ConnectionSettings {
    ConnectionSettings {
        name: ConnectionName::parse("Jira").unwrap(),
        api_type,
        subdomain: (api_type == ApiType::CloudPlatform).then(crate::demo),
        auth: ConnectionAuth::OAuth2 {
            client: OAuthClientId::new(),
            scopes: ScopeSet::parse(api_type, &[scopes]).unwrap().set,
        },
        concurrency_level: ConcurrencyLevel::default(),
        rate_limit: jiralink_domain::RateLimitHandling::default(),
    }
}

#[tokio::test]
async fn oauth_reports_granted_and_missing_scopes() {
    let server = MockServer::start().await;
    let site = format!("{}/demo", server.uri());
    Mock::given(matchers::method("GET"))
        .and(matchers::path("/oauth/token/accessible-resources"))
        .and(matchers::header("authorization", format!("Bearer {CANARY}").as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([
            {"id": "other", "name": "Other", "url": "https://other.example.com", "scopes": ["read:jira-work"]},
            {"id": "c-1", "name": "Demo", "url": site, "scopes": ["read:jira-work", "read:jira-user"]}
        ])))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(matchers::method("GET"))
        .and(matchers::path("/ex/jira/c-1/rest/api/3/myself"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "accountId": "a-1", "displayName": "Alice", "timeZone": "UTC",
            "self": format!("{}/ex/jira/c-1/rest/api/3/user?accountId=a-1", server.uri())
        })))
        .expect(1)
        .mount(&server)
        .await;
    let settings = oauth_settings(
        ApiType::CloudPlatform,
        "read:jira-work read:jira-user write:jira-work",
    );
    let creds = Credentials::Bearer(Arc::new(StaticToken::new(AccessToken::new(CANARY))));
    let report = run(
        &http(),
        &settings,
        &endpoints_at(&server.uri()),
        AuthRoute::OAuth2,
        None,
        creds,
    )
    .await
    .unwrap();
    assert_eq!(report.cloud_id.as_deref(), Some("c-1"));
    assert_eq!(report.granted_scopes, ["read:jira-work", "read:jira-user"]);
    assert_eq!(
        report.requested_scopes,
        [
            "read:jira-user",
            "read:jira-work",
            "write:jira-work",
            "offline_access"
        ]
    );
    assert_eq!(report.missing_scopes, ["write:jira-work"]);
    assert_eq!(report.request, ProbeRequest::Myself);
    assert_eq!(
        report.account.unwrap().display_name.as_deref(),
        Some("Alice")
    );
}

#[tokio::test]
async fn oauth_without_the_site_in_the_grant_and_with_a_dead_token() {
    let server = MockServer::start().await;
    Mock::given(matchers::method("GET"))
        .and(matchers::path("/oauth/token/accessible-resources"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([])))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(matchers::method("GET"))
        .and(matchers::path("/oauth/token/accessible-resources"))
        .respond_with(
            ResponseTemplate::new(401)
                .set_body_json(json!({"code": 401, "message": "Unauthorized"})),
        )
        .mount(&server)
        .await;
    let settings = oauth_settings(ApiType::CloudPlatform, "read:jira-work");
    let endpoints = endpoints_at(&server.uri());
    let creds = || Credentials::Bearer(Arc::new(StaticToken::new(AccessToken::new(CANARY))));
    let f = run(
        &http(),
        &settings,
        &endpoints,
        AuthRoute::OAuth2,
        None,
        creds(),
    )
    .await
    .unwrap_err();
    assert_eq!(f.kind, ProbeFailureKind::NotAuthorized);
    assert!(f.fix.contains("authorize"), "{f}");
    let f = run(
        &http(),
        &settings,
        &endpoints,
        AuthRoute::OAuth2,
        None,
        creds(),
    )
    .await
    .unwrap_err();
    assert_eq!(f.kind, ProbeFailureKind::ExpiredCredentials);
    assert_clean(&f, CANARY);
}

#[tokio::test]
async fn csm_reads_what_its_scopes_allow_through_the_gateway() {
    let server = MockServer::start().await;
    let granted = [
        "read:customer:jira-service-management",
        "read:customer.detail-field:jira-service-management",
    ];
    Mock::given(matchers::method("GET"))
        .and(matchers::path("/oauth/token/accessible-resources"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([
            {"id": "c-csm", "name": "Help", "url": "https://help.atlassian.net", "scopes": granted}
        ])))
        .mount(&server)
        .await;
    Mock::given(matchers::method("GET"))
        .and(matchers::path(
            "/jsm/csm/cloudid/c-csm/api/v1/customer/details",
        ))
        .and(matchers::query_param("limit", "1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"results": []})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(matchers::method("GET"))
        .and(matchers::path("/ex/jira/c-csm/rest/api/3/serverInfo"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "baseUrl": "https://help.atlassian.net", "version": "1001.0.0-SNAPSHOT",
            "deploymentType": "Cloud"
        })))
        .expect(1)
        .mount(&server)
        .await;
    let creds = || Credentials::Bearer(Arc::new(StaticToken::new(AccessToken::new(CANARY))));
    let endpoints = endpoints_at(&server.uri());

    // With the scope to read customer detail fields, a one-item page of them.
    let settings = oauth_settings(ApiType::CustomerServiceManagement, &granted.join(" "));
    let report = run(
        &http(),
        &settings,
        &endpoints,
        AuthRoute::OAuth2,
        None,
        creds(),
    )
    .await
    .unwrap();
    assert_eq!(report.request, ProbeRequest::CsmCustomerDetailFields);
    assert_eq!(report.cloud_id.as_deref(), Some("c-csm"));
    assert_eq!(
        report.site_url.unwrap().as_str(),
        "https://help.atlassian.net/"
    );
    assert_eq!(report.account, None);
    assert!(report.missing_scopes.is_empty());

    // Customers alone have no list to read: the site's server information, which needs no
    // scope, through the platform gateway of the same site.
    let settings = oauth_settings(ApiType::CustomerServiceManagement, granted[0]);
    let report = run(
        &http(),
        &settings,
        &endpoints,
        AuthRoute::OAuth2,
        None,
        creds(),
    )
    .await
    .unwrap();
    assert_eq!(report.request, ProbeRequest::ServerInfo);
    assert_eq!(report.request.label(), "GET /rest/api/3/serverInfo");
    assert_eq!(report.account, None);
    crate::shapes::assert_declared(&server).await;
}

#[tokio::test]
async fn oauth_without_read_jira_user_asks_for_server_information() {
    let server = MockServer::start().await;
    let site = format!("{}/demo", server.uri());
    Mock::given(matchers::method("GET"))
        .and(matchers::path("/oauth/token/accessible-resources"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([
            // Granted more than this connection asked for (another connection of the same
            // app): only what it asked for counts.
            {"id": "c-1", "name": "Demo", "url": site,
             "scopes": ["read:jira-work", "write:jira-work", "read:jira-user"]}
        ])))
        .mount(&server)
        .await;
    let info = || {
        Mock::given(matchers::method("GET"))
            .and(matchers::path("/ex/jira/c-1/rest/api/3/serverInfo"))
            .and(matchers::header(
                "authorization",
                format!("Bearer {CANARY}").as_str(),
            ))
    };
    info()
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"hello": "world"})))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    info()
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "baseUrl": site, "version": "1001.0.0-SNAPSHOT", "deploymentType": "Cloud"
        })))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    info()
        .respond_with(ResponseTemplate::new(403).set_body_json(json!({
            "errorMessages": ["Unauthorized; scope does not match"], "errors": {}
        })))
        .mount(&server)
        .await;
    // The README's quickstart scopes.
    let settings = oauth_settings(ApiType::CloudPlatform, "read:jira-work write:jira-work");
    let endpoints = endpoints_at(&server.uri());
    let creds = || Credentials::Bearer(Arc::new(StaticToken::new(AccessToken::new(CANARY))));

    // Something that is not Jira answered.
    let f = run(
        &http(),
        &settings,
        &endpoints,
        AuthRoute::OAuth2,
        None,
        creds(),
    )
    .await
    .unwrap_err();
    assert_eq!(f.kind, ProbeFailureKind::Misconfigured, "{f}");
    assert_eq!(f.request, Some(ProbeRequest::ServerInfo));

    let report = run(
        &http(),
        &settings,
        &endpoints,
        AuthRoute::OAuth2,
        None,
        creds(),
    )
    .await
    .unwrap();
    assert_eq!(report.request, ProbeRequest::ServerInfo);
    assert_eq!(report.account, None);
    assert!(report.missing_scopes.is_empty());

    // Should Jira still refuse it for a scope, the failure names the request.
    let f = run(
        &http(),
        &settings,
        &endpoints,
        AuthRoute::OAuth2,
        None,
        creds(),
    )
    .await
    .unwrap_err();
    assert_eq!(f.status, Some(403));
    assert_eq!(f.request, Some(ProbeRequest::ServerInfo));
    assert_clean(&f, CANARY);
    crate::shapes::assert_declared(&server).await;
}
