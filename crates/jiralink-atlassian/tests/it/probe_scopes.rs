//! "Test connection" for every scope combination a user can pick, against the simulator, whose
//! scope checks come from Atlassian's OpenAPI documents: each OAuth 2.0 grant is authorized
//! through the simulator's `/authorize` and `/oauth/token` (auto-approved) and tested. Every
//! Cloud Platform subset is tested, and every single scope and pair of scopes of Customer
//! Service Management (its 2^24 subsets are too many); a revoked token still fails.

use std::{sync::Arc, time::Instant};

use jiralink_atlassian::{
    ApiBase, AtlassianError, AuthRoute, Credentials, JiraClient, ProbeFailureKind, ProbeRequest,
    ProbeTarget, StaticToken, choose_probe,
    oauth::{AuthorizeRequest, TokenEndpoint, authorize_url, new_state, new_verifier},
};
use jiralink_domain::{
    ApiType, ConcurrencyLevel, ConnectionAuth, ConnectionName, ConnectionSettings, OAuthClientId,
    ScopeSet, scope::catalogue,
};
use jiralink_sim::SimHandle;
use jiralink_vault::{AccessToken, ClientSecret};
use url::Url;

use crate::{http, sim, sim_endpoints};

/// A simulator that approves every authorization at once and never rate limits.
async fn open_sim() -> SimHandle {
    let sim = sim().await;
    sim.control()
        .update_knobs(|k| {
            k.auto_approve = true;
            k.burst.enabled = false;
            k.quota_points_per_hour = None;
        })
        .unwrap();
    sim
}

/// An access token of the sample app for alice on `demo`, for exactly `scopes` (and
/// `offline_access`), from the authorization-code grant.
async fn authorize(sim: &SimHandle, http: &reqwest::Client, scopes: &ScopeSet) -> AccessToken {
    let samples = sim.samples();
    let auth_server = Url::parse(&sim.auth_server()).unwrap();
    let redirect_uri = Url::parse(&samples.oauth_callbacks[0]).unwrap();
    let (state, verifier) = (new_state(), new_verifier());
    let requested = scopes.requested();
    let url = authorize_url(&AuthorizeRequest {
        auth_server: &auth_server,
        client_id: &samples.oauth_client_id,
        scopes: &requested,
        redirect_uri: &redirect_uri,
        state: &state,
        verifier: &verifier,
    });
    let res = http.get(url).send().await.unwrap();
    assert_eq!(res.status().as_u16(), 302, "{scopes:?}");
    let location = Url::parse(res.headers()["location"].to_str().unwrap()).unwrap();
    let code = location
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap_or_else(|| panic!("{scopes:?}: no code in {location}"))
        .1
        .into_owned();
    let secret = ClientSecret::new(samples.oauth_client_secret.clone());
    let tokens = TokenEndpoint {
        http,
        auth_server: &auth_server,
        client_id: &samples.oauth_client_id,
        client_secret: &secret,
    }
    .exchange_code(&code, &redirect_uri, &verifier, sim.control().now())
    .await
    .unwrap();
    tokens.access_token
}

fn settings(api_type: ApiType, scopes: ScopeSet) -> ConnectionSettings {
    ConnectionSettings {
        name: ConnectionName::parse("Jira").unwrap(),
        api_type,
        subdomain: (api_type == ApiType::CloudPlatform).then(crate::demo),
        auth: ConnectionAuth::OAuth2 {
            client: OAuthClientId::new(),
            scopes,
        },
        concurrency_level: ConcurrencyLevel::default(),
        rate_limit: jiralink_domain::RateLimitHandling::default(),
    }
}

/// Authorizes `scopes` and tests the connection: it must pass with the request
/// [`choose_probe`] names, and never be refused for a scope.
async fn authorize_and_test(
    sim: &SimHandle,
    http: &reqwest::Client,
    api_type: ApiType,
    scopes: &[&str],
) -> ProbeRequest {
    let set = ScopeSet::parse(api_type, scopes).unwrap().set;
    let token = authorize(sim, http, &set).await;
    let settings = settings(api_type, set.clone());
    let endpoints = sim_endpoints(sim);
    let target = ProbeTarget {
        settings: &settings,
        endpoints: &endpoints,
        route: AuthRoute::OAuth2,
        cloud_id: None,
    };
    let credentials = Credentials::Bearer(Arc::new(StaticToken::new(token)));
    let report = crate::probe_with(http, &target, credentials)
        .await
        .unwrap_or_else(|f| panic!("{api_type:?} {scopes:?}: {f:?}"));
    let held: Vec<&str> = set.iter().collect();
    assert_eq!(
        report.request,
        choose_probe(api_type, Some(&held)),
        "{scopes:?}"
    );
    assert_eq!(
        report.account.is_some(),
        report.request == ProbeRequest::Myself,
        "{scopes:?}"
    );
    assert!(report.missing_scopes.is_empty(), "{scopes:?}: {report:?}");
    report.request
}

fn names(api_type: ApiType) -> Vec<&'static str> {
    catalogue(api_type).iter().map(|info| info.name).collect()
}

#[tokio::test]
async fn every_cloud_platform_scope_subset_passes() {
    let sim = open_sim().await;
    let http = http();
    let all = names(ApiType::CloudPlatform);
    assert_eq!(all.len(), 13);
    let started = Instant::now();
    let (mut myself, mut server_info) = (0, 0);
    for mask in 1u32..(1 << all.len()) {
        let subset: Vec<&str> = all
            .iter()
            .enumerate()
            .filter(|(i, _)| mask & (1 << i) != 0)
            .map(|(_, name)| *name)
            .collect();
        match authorize_and_test(&sim, &http, ApiType::CloudPlatform, &subset).await {
            ProbeRequest::Myself => myself += 1,
            ProbeRequest::ServerInfo => server_info += 1,
            other => panic!("{subset:?}: {other}"),
        }
    }
    // Half of the subsets hold read:jira-user.
    assert_eq!((myself, server_info), (4096, 4095));
    eprintln!(
        "8191 Cloud Platform scope subsets authorized and tested in {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn every_csm_scope_and_pair_of_scopes_passes() {
    let sim = open_sim().await;
    let http = http();
    let all = names(ApiType::CustomerServiceManagement);
    let started = Instant::now();
    let mut tested = 0;
    let mut seen = std::collections::BTreeSet::new();
    for (i, a) in all.iter().enumerate() {
        seen.insert(
            authorize_and_test(&sim, &http, ApiType::CustomerServiceManagement, &[a])
                .await
                .label(),
        );
        tested += 1;
        for b in &all[i + 1..] {
            authorize_and_test(&sim, &http, ApiType::CustomerServiceManagement, &[a, b]).await;
            tested += 1;
        }
    }
    authorize_and_test(&sim, &http, ApiType::CustomerServiceManagement, &all).await;
    assert_eq!(tested, all.len() * (all.len() + 1) / 2);
    // The user's case: customers and organizations only.
    assert_eq!(
        authorize_and_test(
            &sim,
            &http,
            ApiType::CustomerServiceManagement,
            &[
                "read:customer:jira-service-management",
                "read:organization:jira-service-management"
            ],
        )
        .await,
        ProbeRequest::ServerInfo
    );
    // Every kind of request was sent by one single-scope grant or another.
    assert_eq!(
        seen.into_iter().collect::<Vec<_>>(),
        [
            "GET /api/v1/customer/details",
            "GET /api/v1/entitlements",
            "GET /api/v1/organization/details",
            "GET /api/v1/product",
            "GET /rest/api/3/serverInfo",
        ]
    );
    eprintln!(
        "{tested} Customer Service Management scope sets authorized and tested in {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_revoked_grant_still_fails_as_an_authentication_failure() {
    let sim = open_sim().await;
    let http = http();
    for (api_type, scopes) in [
        (ApiType::CloudPlatform, "read:jira-work write:jira-work"),
        (ApiType::CloudPlatform, "read:jira-user"),
        (
            ApiType::CustomerServiceManagement,
            "read:customer:jira-service-management",
        ),
        (
            ApiType::CustomerServiceManagement,
            "read:product:jira-service-management",
        ),
    ] {
        let set = ScopeSet::parse(api_type, &[scopes]).unwrap().set;
        let token = authorize(&sim, &http, &set).await;
        assert_eq!(sim.control().revoke_grants(None, None), 1);
        let settings = settings(api_type, set);
        let endpoints = sim_endpoints(&sim);
        let target = ProbeTarget {
            settings: &settings,
            endpoints: &endpoints,
            route: AuthRoute::OAuth2,
            cloud_id: None,
        };
        let credentials =
            Credentials::Bearer(Arc::new(StaticToken::new(AccessToken::new(token.expose()))));
        let f = crate::probe_with(&http, &target, credentials)
            .await
            .unwrap_err();
        assert_eq!(
            f.kind,
            ProbeFailureKind::ExpiredCredentials,
            "{scopes}: {f}"
        );
        assert_eq!(f.status, Some(401), "{scopes}");

        // serverInfo answers anonymous callers too, but not a token that is no longer valid.
        let cloud_id = sim.control().site("demo").unwrap().cloud_id.to_string();
        let base = ApiBase::resolve(
            &endpoints,
            ApiType::CloudPlatform,
            AuthRoute::OAuth2,
            None,
            Some(&cloud_id),
        )
        .unwrap();
        let credentials = Credentials::Bearer(Arc::new(StaticToken::new(token)));
        let err = JiraClient::builder(http.clone(), base, credentials)
            .build()
            .server_info()
            .await
            .unwrap_err();
        assert!(
            matches!(err, AtlassianError::Unauthorized { .. }),
            "{scopes}: {err:?}"
        );
    }
}
