//! Integration tests: request shapes against wiremock, the operations against Atlassian's
//! OpenAPI documents, and retries, paging, limits and connection tests against wiremock and the
//! simulator on 127.0.0.1. No test sleeps: retries wait on a `ManualClock`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test helpers fail the test by panicking"
)]

mod answer_limit;
mod limits;
mod openapi;
mod paging;
mod probe;
mod probe_scopes;
mod records;
mod retries;
mod secrets;
mod service_sim;
mod shapes;
mod sim_paging;
mod webhooks;
mod writes_shapes;
mod writes_sim;

use std::sync::Arc;

use jiralink_atlassian::{
    ApiBase, AuthRoute, Credentials, HttpConfig, JiraClient, JiraClientBuilder, ProbeFailure,
    ProbeReport, ProbeTarget, RetryPolicy, StaticToken, SystemClock, build_client,
};
use jiralink_domain::{
    ApiType, AtlassianEndpoints, Clock as _, ConcurrencyLevel, ConnectionAuth, ConnectionName,
    ConnectionSettings, Email, ManualClock, Subdomain,
};
use jiralink_sim::{Sim, SimConfig, SimHandle};
use jiralink_vault::{AccessToken, ApiToken};
use url::Url;

/// The account e-mail used against wiremock.
pub(crate) const EMAIL: &str = "fred@example.com";
/// The API token used against wiremock.
pub(crate) const TOKEN: &str = "freds_api_token";
/// `Basic base64(fred@example.com:freds_api_token)`.
pub(crate) const BASIC: &str = "Basic ZnJlZEBleGFtcGxlLmNvbTpmcmVkc19hcGlfdG9rZW4=";

/// The audited HTTP client with default settings.
pub(crate) fn http() -> reqwest::Client {
    build_client(&HttpConfig::default()).expect("client builds")
}

/// Endpoints whose site template is `{base}/{subdomain}` and whose gateway is `base`.
pub(crate) fn endpoints_at(base: &str) -> AtlassianEndpoints {
    let base = Url::parse(base).expect("base URL");
    AtlassianEndpoints {
        site_url_template: format!("{}/{{subdomain}}", base.as_str().trim_end_matches('/')),
        api_gateway: base.clone(),
        auth_server: base,
    }
}

/// The simulator's endpoints.
pub(crate) fn sim_endpoints(sim: &SimHandle) -> AtlassianEndpoints {
    AtlassianEndpoints {
        site_url_template: sim.site_url_template(),
        api_gateway: Url::parse(&sim.api_gateway()).expect("gateway"),
        auth_server: Url::parse(&sim.auth_server()).expect("auth server"),
    }
}

pub(crate) fn demo() -> Subdomain {
    Subdomain::from_label("demo").expect("subdomain")
}

/// Basic credentials.
pub(crate) fn basic(email: &str, token: &str) -> Credentials {
    Credentials::basic(Email::parse(email).expect("email"), ApiToken::new(token))
}

/// A client for the site `demo` at `endpoints`, with fred's credentials, no-wait retries and
/// fixed jitter.
pub(crate) fn site_client(endpoints: &AtlassianEndpoints) -> (JiraClientBuilder, ManualClock) {
    let base = ApiBase::resolve(
        endpoints,
        ApiType::CloudPlatform,
        AuthRoute::BasicClassic,
        Some(&demo()),
        None,
    )
    .expect("base");
    builder(base, basic(EMAIL, TOKEN))
}

/// A client of the Customer Service Management API of cloud id `c-1` at `uri`, with the
/// bearer `token`.
pub(crate) fn csm_client(uri: &str, token: &str) -> JiraClient {
    let base = ApiBase::resolve(
        &endpoints_at(uri),
        ApiType::CustomerServiceManagement,
        AuthRoute::OAuth2,
        None,
        Some("c-1"),
    )
    .unwrap();
    let creds = Credentials::Bearer(Arc::new(StaticToken::new(AccessToken::new(token))));
    builder(base, creds).0.build()
}

/// A builder with a manual clock (starting at the real time, which the simulator's rate-limit
/// resets are on) and jitter fixed at 1.
pub(crate) fn builder(base: ApiBase, credentials: Credentials) -> (JiraClientBuilder, ManualClock) {
    let clock = ManualClock::new(SystemClock.now());
    let b = JiraClient::builder(http(), base, credentials)
        .clock(Arc::new(clock.clone()))
        .retry_policy(RetryPolicy {
            jitter: 1.0..=1.0,
            ..RetryPolicy::default()
        });
    (b, clock)
}

/// Tests `target` with `credentials` through a client put together as a connection test's is:
/// nothing retried.
pub(crate) async fn probe_with(
    http: &reqwest::Client,
    target: &ProbeTarget<'_>,
    credentials: Credentials,
) -> Result<ProbeReport, ProbeFailure> {
    let bootstrap = ApiBase::bootstrap(target.endpoints, target.settings.subdomain.as_ref());
    let client = JiraClient::builder(http.clone(), bootstrap, credentials)
        .retry_policy(RetryPolicy::none())
        .build();
    jiralink_atlassian::probe(&client, target).await
}

/// Starts a simulator with the test configuration.
pub(crate) async fn sim() -> SimHandle {
    Sim::start(SimConfig::for_tests())
        .await
        .expect("simulator starts")
}

/// A client of the simulator's site `demo` as `api_type`, with the sample account's classic API
/// token, no-wait retries and fixed jitter.
pub(crate) fn sim_client(sim: &SimHandle, api_type: ApiType) -> JiraClient {
    let cloud_id = sim.control().site("demo").unwrap().cloud_id.to_string();
    let base = ApiBase::resolve(
        &sim_endpoints(sim),
        api_type,
        AuthRoute::BasicClassic,
        Some(&demo()),
        Some(&cloud_id),
    )
    .unwrap();
    builder(base, basic(&sim.samples().email, &sim.samples().api_token))
        .0
        .build()
}

/// Cloud Platform settings for `demo` with Basic auth.
pub(crate) fn basic_settings(email: &str) -> ConnectionSettings {
    ConnectionSettings {
        name: ConnectionName::parse("Jira").expect("name"),
        api_type: ApiType::CloudPlatform,
        subdomain: Some(demo()),
        auth: ConnectionAuth::Basic {
            username: Email::parse(email).expect("email"),
        },
        concurrency_level: ConcurrencyLevel::default(),
        rate_limit: jiralink_domain::RateLimitHandling::default(),
    }
}

/// Fails if `text` contains `secret` or any 6-character piece of it.
pub(crate) fn assert_no_secret(text: &str, secret: &str) {
    let chars: Vec<char> = secret.chars().collect();
    for window in chars.windows(6) {
        let piece: String = window.iter().collect();
        assert!(!text.contains(&piece), "{piece:?} leaked in {text}");
    }
}
