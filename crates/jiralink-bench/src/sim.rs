//! The simulator's sites (`demo`, `acme`) as the benchmark binaries reach them: a client of the engine and a
//! plain HTTP client with the sample account's credentials.

use jiralink_atlassian::{
    ApiBase, AuthRoute, Credentials, HttpConfig, JiraClient, Limiter, build_client,
};
use jiralink_domain::{ApiType, AtlassianEndpoints, ConcurrencyLevel, Email, Subdomain};
use jiralink_vault::ApiToken;
use serde_json::{Value, json};
use url::Url;

use crate::BoxError;

/// One site of a simulator (`demo` unless said otherwise).
pub struct Site {
    /// The engine's client, at the concurrency asked for.
    pub client: JiraClient,
    /// A plain client (the one `build_client` makes), for baselines and the control API.
    pub http: reqwest::Client,
    /// The platform API's base URL.
    pub platform: Url,
    /// The sample account's e-mail address.
    pub email: String,
    /// The sample account's API token.
    pub token: String,
}

impl std::fmt::Debug for Site {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The token is a credential: never printed.
        f.debug_struct("Site")
            .field("platform", &self.platform.as_str())
            .field("email", &self.email)
            .finish_non_exhaustive()
    }
}

/// Reads the simulator's `/_sim/info` at `base_url` and builds the clients of its `demo` site
/// for the sample account, the engine's limited to `concurrency` requests (1–50).
///
/// # Errors
/// The simulator cannot be reached or describes itself unexpectedly.
pub async fn demo_site(base_url: &Url, concurrency: usize) -> Result<Site, BoxError> {
    site(base_url, "demo", concurrency).await
}

/// Like [`demo_site`], for the site `subdomain` (`demo` or `acme`).
///
/// # Errors
/// The simulator cannot be reached or describes itself unexpectedly.
pub async fn site(base_url: &Url, subdomain: &str, concurrency: usize) -> Result<Site, BoxError> {
    let http = build_client(&HttpConfig::default())?;
    let info: Value = http
        .get(base_url.join("/_sim/info")?)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let text = |pointer: &str| -> Result<String, BoxError> {
        Ok(info
            .pointer(pointer)
            .and_then(Value::as_str)
            .ok_or_else(|| format!("/_sim/info has no {pointer}"))?
            .to_owned())
    };
    let endpoints = AtlassianEndpoints {
        site_url_template: text("/site_url_template")?,
        api_gateway: Url::parse(&text("/api_gateway")?)?,
        auth_server: Url::parse(&text("/auth_server")?)?,
    };
    let base = ApiBase::resolve(
        &endpoints,
        ApiType::CloudPlatform,
        AuthRoute::BasicClassic,
        Some(&Subdomain::from_label(subdomain)?),
        None,
    )?;
    let (email, token) = (text("/sample/email")?, text("/sample/api_token")?);
    let credentials = Credentials::basic(Email::parse(&email)?, ApiToken::new(token.clone()));
    let platform = base.platform.clone().ok_or("no platform API URL")?;
    let level = u32::try_from(concurrency.clamp(1, 50))?;
    let client = JiraClient::builder(http.clone(), base, credentials)
        .limiter(Limiter::new(ConcurrencyLevel::new(level)?))
        .build();
    Ok(Site {
        client,
        http,
        platform,
        email,
        token,
    })
}

/// What a bulk create answers: the issues created and the elements refused.
#[derive(serde::Deserialize)]
struct BulkAnswer {
    #[serde(default)]
    issues: Vec<serde::de::IgnoredAny>,
    #[serde(default)]
    errors: Vec<Value>,
}

impl Site {
    /// Switches the simulator's burst limiter off (POST is limited to 100 requests a second per
    /// site by default) and returns the knob as it now reads.
    ///
    /// # Errors
    /// The control API refused, or the limiter is still on.
    pub async fn burst_off(&self, base_url: &Url) -> Result<Value, BoxError> {
        let knobs: Value = self
            .http
            .patch(base_url.join("/_sim/knobs")?)
            .json(&json!({ "burst": { "enabled": false } }))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        let burst = knobs.get("burst").cloned().unwrap_or(Value::Null);
        if burst.get("enabled") != Some(&Value::Bool(false)) {
            return Err(format!("the simulator's burst limiter is still on: {burst}").into());
        }
        Ok(burst)
    }

    /// Posts one bulk-create body with the plain client; returns the issues created.
    ///
    /// # Errors
    /// The request failed, or the simulator refused an element.
    pub async fn bulk_create(&self, body: Vec<u8>) -> Result<u64, BoxError> {
        let url = format!(
            "{}/issue/bulk",
            self.platform.as_str().trim_end_matches('/')
        );
        let answer = self
            .http
            .post(&url)
            .basic_auth(&self.email, Some(&self.token))
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(reqwest::header::ACCEPT, "application/json")
            .body(body)
            .send()
            .await?
            .error_for_status()?
            .bytes()
            .await?;
        let answer: BulkAnswer = serde_json::from_slice(&answer)?;
        if let Some(e) = answer.errors.first() {
            return Err(format!("the simulator refused an issue: {e}").into());
        }
        Ok(answer.issues.len() as u64)
    }
}
