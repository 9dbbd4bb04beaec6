//! The "HTTP view" of a connection: what the simple form resolves to as plain HTTP settings,
//! in the shape integrator.io shows (base URI, auth, ping, headers, limits).
//!
//! Its base URIs come from the one table of where a connection's requests go ([`crate::route`]),
//! which the client that sends them reads too.
//!
//! Invariant: an [`HttpView`] never holds a secret. It is built from settings that hold none,
//! and the `Authorization` header is always shown masked.

use serde::Serialize;
use url::Url;

use crate::{
    auth::ConnectionAuth,
    connection::ConnectionSettings,
    endpoints::AtlassianEndpoints,
    probe::choose_probe,
    route::{ApiRoot, AuthRoute},
    scope::ScopeSet,
};

pub use crate::route::CLOUD_ID_PLACEHOLDER;
/// Shown in place of any secret.
pub const MASK: &str = "********";

/// The resolved HTTP settings of a connection.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HttpView {
    /// Requests are relative to this URI (no trailing slash). Holds the literal `{cloudId}`
    /// placeholder while the cloud id is unknown.
    pub base_uri: String,
    /// Always `json`.
    pub media_type: &'static str,
    /// `basic` or `oauth`.
    pub auth_type: &'static str,
    /// Basic auth settings (the API token is never shown).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub basic: Option<BasicView>,
    /// OAuth 2.0 settings.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oauth: Option<OAuthView>,
    /// The request that tests the connection.
    pub ping: PingView,
    /// Headers sent with every request; `Authorization` is masked.
    pub headers: Vec<HeaderView>,
    /// How many requests may be in flight at once.
    pub concurrency_level: u8,
    /// How rate limiting is recognised and waited out.
    pub rate_limit: RateLimitView,
}

/// Basic auth as the HTTP view shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BasicView {
    /// The Atlassian account e-mail.
    pub username: String,
}

/// OAuth 2.0 as the HTTP view shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OAuthView {
    /// Always `authorizecode` (the authorization code grant, 3LO).
    pub grant_type: &'static str,
    /// Where the browser goes for consent.
    pub authorize_url: String,
    /// Where codes and refresh tokens are exchanged.
    pub token_url: String,
    /// Always `api.atlassian.com`.
    pub audience: &'static str,
    /// The client ID of the OAuth 2.0 client, when known (it is public).
    pub client_id: Option<String>,
    /// The callback URL registered in the developer console, when known.
    pub redirect_uri: Option<String>,
    /// The scopes requested, `offline_access` included.
    pub scopes: Vec<String>,
    /// Always a single space.
    pub scope_delimiter: &'static str,
    /// Always `consent`.
    pub prompt: &'static str,
    /// Always `S256`.
    pub pkce: &'static str,
    /// Always `body`: the client ID and secret go in the token request body.
    pub client_credentials_location: &'static str,
}

/// The connection test request ([`choose_probe`] for the connection's scopes).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PingView {
    /// Always `GET`.
    pub method: &'static str,
    /// Relative to [`HttpView::base_uri`], or to [`PingView::base_uri`] when set.
    pub relative_uri: &'static str,
    /// Set when the test goes to another base than the connection's other requests: a
    /// Customer Service Management connection whose scopes read none of its lists asks the
    /// site's platform API (`{gateway}/ex/jira/{cloudId}`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub base_uri: Option<String>,
    /// Always `2xx`: any successful status passes.
    pub success: &'static str,
}

/// One request header.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HeaderView {
    /// Header name.
    pub name: &'static str,
    /// Header value, masked for `Authorization`.
    pub value: String,
}

/// Rate-limit handling.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RateLimitView {
    /// Always 429.
    pub fail_status_code: u16,
    /// Always `Retry-After`.
    pub retry_header: &'static str,
    /// Whether a rate-limited request (429, or 503 while Jira sheds load) is waited out and
    /// sent again; off, the caller gets the error at once.
    pub auto_recover: bool,
    /// How many times it is sent again at most.
    pub max_retries: u8,
}

impl HttpView {
    /// Resolves `settings` against `endpoints`. `oauth_client_id` is the client ID of the
    /// connection's OAuth 2.0 client, `callback_url` the redirect URI, and `cloud_id` the site
    /// chosen at authorization; each is shown when known.
    #[must_use]
    pub fn resolve(
        settings: &ConnectionSettings,
        oauth_client_id: Option<&str>,
        endpoints: &AtlassianEndpoints,
        callback_url: Option<&Url>,
        cloud_id: Option<&str>,
    ) -> HttpView {
        let route = AuthRoute::of(&settings.auth);
        let subdomain = settings.subdomain.as_ref();
        let base_uri =
            ApiRoot::of(settings.api_type, route).display(endpoints, subdomain, cloud_id);
        let (auth_type, basic, oauth, scheme) = match &settings.auth {
            ConnectionAuth::Basic { username } => {
                let basic = BasicView {
                    username: username.to_string(),
                };
                ("basic", Some(basic), None, "Basic")
            }
            ConnectionAuth::OAuth2 { scopes, .. } => {
                let oauth = oauth_view(scopes, oauth_client_id, endpoints, callback_url);
                ("oauth", None, Some(oauth), "Bearer")
            }
        };

        let scopes: Option<Vec<&str>> = match &settings.auth {
            ConnectionAuth::Basic { .. } => None,
            ConnectionAuth::OAuth2 { scopes, .. } => Some(scopes.iter().collect()),
        };
        let probe = choose_probe(settings.api_type, scopes.as_deref());
        let ping_root = ApiRoot::for_probe(settings.api_type, route, probe.api());
        let ping_base = (ping_root != ApiRoot::of(settings.api_type, route))
            .then(|| ping_root.display(endpoints, subdomain, cloud_id));

        HttpView {
            base_uri,
            media_type: "json",
            auth_type,
            basic,
            oauth,
            ping: PingView {
                method: "GET",
                relative_uri: probe.path(),
                base_uri: ping_base,
                success: "2xx",
            },
            headers: vec![
                HeaderView {
                    name: "Accept",
                    value: "application/json".to_owned(),
                },
                HeaderView {
                    name: "Content-Type",
                    value: "application/json".to_owned(),
                },
                HeaderView {
                    name: "Authorization",
                    value: format!("{scheme} {MASK}"),
                },
            ],
            concurrency_level: settings.concurrency_level.get(),
            rate_limit: RateLimitView {
                fail_status_code: 429,
                retry_header: "Retry-After",
                auto_recover: settings.rate_limit.auto_recover,
                max_retries: settings.rate_limit.max_retries,
            },
        }
    }
}

fn oauth_view(
    scopes: &ScopeSet,
    client_id: Option<&str>,
    endpoints: &AtlassianEndpoints,
    callback_url: Option<&Url>,
) -> OAuthView {
    OAuthView {
        grant_type: "authorizecode",
        authorize_url: endpoints.authorize_url().to_string(),
        token_url: endpoints.token_url().to_string(),
        audience: "api.atlassian.com",
        client_id: client_id.map(str::to_owned),
        redirect_uri: callback_url.map(ToString::to_string),
        scopes: scopes.requested(),
        scope_delimiter: " ",
        prompt: "consent",
        pkce: "S256",
        client_credentials_location: "body",
    }
}

#[cfg(test)]
mod tests {
    use pretty_assertions::assert_eq;

    use super::*;
    use crate::{
        api_type::ApiType, concurrency::ConcurrencyLevel, email::Email, ids::OAuthClientId,
        name::ConnectionName, oauth_client::callback_url as make_callback,
        rate_limit::RateLimitHandling, subdomain::Subdomain,
    };

    fn settings(api_type: ApiType, auth: ConnectionAuth) -> ConnectionSettings {
        ConnectionSettings {
            name: ConnectionName::parse("Jira").unwrap(),
            api_type,
            subdomain: (api_type == ApiType::CloudPlatform)
                .then(|| Subdomain::from_label("demo").unwrap()),
            auth,
            concurrency_level: ConcurrencyLevel::new(5).unwrap(),
            rate_limit: RateLimitHandling {
                auto_recover: false,
                max_retries: 2,
            },
        }
    }

    fn oauth(api: ApiType, scopes: &str) -> ConnectionAuth {
        ConnectionAuth::OAuth2 {
            client: OAuthClientId::new(),
            scopes: ScopeSet::parse(api, &[scopes]).unwrap().set,
        }
    }

    /// No field may carry a secret, and the one header that would is masked.
    fn assert_no_secret(view: &HttpView) {
        let json = serde_json::to_string(view).unwrap().to_lowercase();
        let debug = format!("{view:?}").to_lowercase();
        for text in [&json, &debug] {
            for word in [
                "password",
                "secret",
                "token\":",
                "api_token",
                "refresh",
                "access_token",
            ] {
                assert!(!text.contains(word), "{word} in {text}");
            }
        }
        let authorization = view
            .headers
            .iter()
            .find(|h| h.name == "Authorization")
            .unwrap();
        assert!(
            authorization.value.ends_with(MASK),
            "{}",
            authorization.value
        );
    }

    #[test]
    fn basic_cloud_platform_uses_the_site() {
        let auth = ConnectionAuth::Basic {
            username: Email::parse("fred@example.com").unwrap(),
        };
        let view = HttpView::resolve(
            &settings(ApiType::CloudPlatform, auth),
            None,
            &AtlassianEndpoints::default(),
            None,
            None,
        );
        assert_no_secret(&view);
        let json = serde_json::to_value(&view).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "baseUri": "https://demo.atlassian.net",
                "mediaType": "json",
                "authType": "basic",
                "basic": {"username": "fred@example.com"},
                "ping": {"method": "GET", "relativeUri": "/rest/api/3/myself", "success": "2xx"},
                "headers": [
                    {"name": "Accept", "value": "application/json"},
                    {"name": "Content-Type", "value": "application/json"},
                    {"name": "Authorization", "value": "Basic ********"},
                ],
                "concurrencyLevel": 5,
                "rateLimit": {
                    "failStatusCode": 429,
                    "retryHeader": "Retry-After",
                    "autoRecover": false,
                    "maxRetries": 2,
                },
            })
        );
    }

    #[test]
    fn oauth_cloud_platform_uses_the_gateway_with_a_placeholder_until_authorized() {
        let endpoints = AtlassianEndpoints::default();
        let callback = make_callback(&Url::parse("https://jiralink.example.com").unwrap());
        let s = settings(
            ApiType::CloudPlatform,
            oauth(ApiType::CloudPlatform, "read:jira-work"),
        );
        let view = HttpView::resolve(&s, Some("client-abc"), &endpoints, Some(&callback), None);
        assert_no_secret(&view);
        assert_eq!(view.base_uri, "https://api.atlassian.com/ex/jira/{cloudId}");
        assert_eq!(view.auth_type, "oauth");
        assert_eq!(view.basic, None);
        // Without read:jira-user the test asks for the server information.
        assert_eq!(view.ping.relative_uri, "/rest/api/3/serverInfo");
        assert_eq!(view.ping.base_uri, None);
        assert_eq!(view.headers[2].value, "Bearer ********");
        let oauth = view.oauth.unwrap();
        assert_eq!(
            oauth,
            OAuthView {
                grant_type: "authorizecode",
                authorize_url: "https://auth.atlassian.com/authorize".into(),
                token_url: "https://auth.atlassian.com/oauth/token".into(),
                audience: "api.atlassian.com",
                client_id: Some("client-abc".into()),
                redirect_uri: Some("https://jiralink.example.com/connection/oauth2callback".into()),
                scopes: vec!["read:jira-work".into(), "offline_access".into()],
                scope_delimiter: " ",
                prompt: "consent",
                pkce: "S256",
                client_credentials_location: "body",
            }
        );

        let authorized = HttpView::resolve(&s, None, &endpoints, None, Some("cloud-1"));
        assert_eq!(
            authorized.base_uri,
            "https://api.atlassian.com/ex/jira/cloud-1"
        );
    }

    #[test]
    fn oauth_with_read_jira_user_pings_myself() {
        let who = settings(
            ApiType::CloudPlatform,
            oauth(ApiType::CloudPlatform, "read:jira-work read:jira-user"),
        );
        let view = HttpView::resolve(&who, None, &AtlassianEndpoints::default(), None, None);
        assert_eq!(view.ping.relative_uri, "/rest/api/3/myself");
        assert_eq!(view.ping.base_uri, None);
    }

    #[test]
    fn csm_uses_its_gateway_base_and_ping() {
        let api = ApiType::CustomerServiceManagement;
        let s = settings(api, oauth(api, "read:customer:jira-service-management"));
        let sim_base = Url::parse("http://127.0.0.1:7000").unwrap();
        let endpoints = AtlassianEndpoints {
            site_url_template: "http://127.0.0.1:7000/site/{subdomain}".into(),
            api_gateway: sim_base.clone(),
            auth_server: sim_base,
        };
        let view = HttpView::resolve(&s, Some("id"), &endpoints, None, None);
        assert_no_secret(&view);
        assert_eq!(
            view.base_uri,
            "http://127.0.0.1:7000/jsm/csm/cloudid/{cloudId}"
        );
        // Customers have no list to read: the test asks the site's platform API.
        assert_eq!(view.ping.relative_uri, "/rest/api/3/serverInfo");
        assert_eq!(
            view.ping.base_uri.as_deref(),
            Some("http://127.0.0.1:7000/ex/jira/{cloudId}")
        );
        assert_eq!(
            view.oauth.as_ref().unwrap().authorize_url,
            "http://127.0.0.1:7000/authorize"
        );
        let view = HttpView::resolve(&s, Some("id"), &endpoints, None, Some("c-9"));
        assert_eq!(view.base_uri, "http://127.0.0.1:7000/jsm/csm/cloudid/c-9");
        assert_eq!(
            view.ping.base_uri.as_deref(),
            Some("http://127.0.0.1:7000/ex/jira/c-9")
        );
        assert_eq!(
            view.oauth.unwrap().scopes,
            ["read:customer:jira-service-management", "offline_access"]
        );

        let fields = settings(
            api,
            oauth(api, "read:customer.detail-field:jira-service-management"),
        );
        let view = HttpView::resolve(&fields, Some("id"), &endpoints, None, Some("c-9"));
        assert_eq!(view.ping.relative_uri, "/api/v1/customer/details");
        assert_eq!(view.ping.base_uri, None);
        assert_eq!(
            serde_json::to_value(&view.ping).unwrap(),
            serde_json::json!({"method": "GET", "relativeUri": "/api/v1/customer/details", "success": "2xx"})
        );
    }

    #[test]
    fn simulator_site_for_basic() {
        let auth = ConnectionAuth::Basic {
            username: Email::parse("a@example.com").unwrap(),
        };
        let endpoints = AtlassianEndpoints {
            site_url_template: "http://127.0.0.1:7000/site/{subdomain}".into(),
            ..AtlassianEndpoints::default()
        };
        let view = HttpView::resolve(
            &settings(ApiType::CloudPlatform, auth),
            None,
            &endpoints,
            None,
            None,
        );
        assert_eq!(view.base_uri, "http://127.0.0.1:7000/site/demo");
    }
}
