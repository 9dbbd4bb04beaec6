//! Where a connection's requests go: the one table from API type and auth route to base URL.
//!
//! | API type | Auth route | Base ([`ApiRoot`]) |
//! |---|---|---|
//! | Cloud Platform | Basic, classic API token | the site: `{site}` |
//! | Cloud Platform | Basic, scoped API token | the platform gateway: `{gateway}/ex/jira/{cloudId}` |
//! | Cloud Platform | OAuth 2.0 | the platform gateway: `{gateway}/ex/jira/{cloudId}` |
//! | Customer Service Management | any | the CSM gateway: `{gateway}/jsm/csm/cloudid/{cloudId}` |
//!
//! Scoped tokens and OAuth 2.0 tokens are refused on the site host, so they always go through
//! the gateway, which needs the cloud id. A connection test whose read belongs to the platform
//! API of a Customer Service Management connection asks the platform gateway of the same site
//! ([`ApiRoot::for_probe`]): a Customer Service Management site is a Jira site.
//!
//! Both the client that sends the requests and the HTTP view that shows them read this table:
//! the client resolves a base to a URL ([`ApiRoot::url`], refusing to guess a missing cloud id
//! or subdomain), the view writes it out with placeholders for what is not known yet
//! ([`ApiRoot::display`]). All hosts come from [`AtlassianEndpoints`], so a local simulator can
//! stand in for every one of them.

use std::fmt;

use url::Url;

use crate::{
    api_type::ApiType, auth::ConnectionAuth, endpoints::AtlassianEndpoints, probe::ProbeApi,
    subdomain::Subdomain,
};

/// Shown in place of a cloud id until the connection is authorized.
pub const CLOUD_ID_PLACEHOLDER: &str = "{cloudId}";

/// How requests authenticate, as far as routing cares.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum AuthRoute {
    /// Basic auth with a classic (unscoped) API token: the site host.
    BasicClassic,
    /// Basic auth with a scoped API token: the gateway only.
    BasicScoped,
    /// OAuth 2.0 bearer tokens: the gateway only.
    OAuth2,
}

impl AuthRoute {
    /// Every route.
    pub const ALL: [AuthRoute; 3] = [Self::BasicClassic, Self::BasicScoped, Self::OAuth2];

    /// The route a connection's credentials take: its API token as a classic one on the site
    /// (Basic), its tokens through the gateway (OAuth 2.0).
    #[must_use]
    pub const fn of(auth: &ConnectionAuth) -> Self {
        match auth {
            ConnectionAuth::Basic { .. } => Self::BasicClassic,
            ConnectionAuth::OAuth2 { .. } => Self::OAuth2,
        }
    }
}

/// The base URL a connection's API paths hang below.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum ApiRoot {
    /// The Jira site, `{site}`: the platform API at `/rest/api/3`, Jira Service Management at
    /// `/rest/servicedeskapi`.
    Site,
    /// The site through the API gateway, `{gateway}/ex/jira/{cloudId}`, with the same paths.
    PlatformGateway,
    /// Customer Service Management through the gateway,
    /// `{gateway}/jsm/csm/cloudid/{cloudId}`: its API at `/api/v1`.
    CsmGateway,
}

/// What a base needs and was not given.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum RootUnknown {
    /// The site's subdomain.
    Subdomain,
    /// The cloud id, learnt when the connection is authorized or tested.
    CloudId,
}

impl fmt::Display for RootUnknown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Subdomain => "the subdomain is not known",
            Self::CloudId => "the cloud id is not known",
        })
    }
}

impl std::error::Error for RootUnknown {}

impl ApiRoot {
    /// The table: where requests of a connection of `api_type` go on `route`.
    #[must_use]
    pub const fn of(api_type: ApiType, route: AuthRoute) -> Self {
        match (api_type, route) {
            (ApiType::CloudPlatform, AuthRoute::BasicClassic) => Self::Site,
            (ApiType::CloudPlatform, AuthRoute::BasicScoped | AuthRoute::OAuth2) => {
                Self::PlatformGateway
            }
            (ApiType::CustomerServiceManagement, _) => Self::CsmGateway,
        }
    }

    /// Where a connection test's read of `api` goes: the connection's own base, except the
    /// platform API of a Customer Service Management connection, which answers on the platform
    /// gateway of the same site for the requests that need no scope.
    #[must_use]
    pub const fn for_probe(api_type: ApiType, route: AuthRoute, api: ProbeApi) -> Self {
        match (api_type, api) {
            (ApiType::CustomerServiceManagement, ProbeApi::Platform) => Self::PlatformGateway,
            _ => Self::of(api_type, route),
        }
    }

    /// Whether this base is on the API gateway (and so needs the cloud id).
    #[must_use]
    pub const fn via_gateway(self) -> bool {
        !matches!(self, Self::Site)
    }

    /// The base URL. A blank cloud id counts as unknown.
    ///
    /// # Errors
    /// [`RootUnknown`] naming what the base needs and was not given.
    pub fn url(
        self,
        endpoints: &AtlassianEndpoints,
        subdomain: Option<&Subdomain>,
        cloud_id: Option<&str>,
    ) -> Result<Url, RootUnknown> {
        let cloud_id = known(cloud_id);
        match self {
            Self::Site => subdomain
                .map(|s| endpoints.site_url(s))
                .ok_or(RootUnknown::Subdomain),
            Self::PlatformGateway => cloud_id
                .map(|id| endpoints.platform_gateway_base(id))
                .ok_or(RootUnknown::CloudId),
            Self::CsmGateway => cloud_id
                .map(|id| endpoints.csm_gateway_base(id))
                .ok_or(RootUnknown::CloudId),
        }
    }

    /// The base URL as a base URI is written (no trailing slash), with `{subdomain}` or
    /// `{cloudId}` in place of what is not known yet.
    #[must_use]
    pub fn display(
        self,
        endpoints: &AtlassianEndpoints,
        subdomain: Option<&Subdomain>,
        cloud_id: Option<&str>,
    ) -> String {
        match (self.url(endpoints, subdomain, cloud_id), self) {
            (Ok(url), _) => trimmed(&url),
            // Only unvalidated settings lack the subdomain; show the template with its
            // placeholder rather than invent a site.
            (Err(_), Self::Site) => endpoints.site_url_template.trim_end_matches('/').to_owned(),
            (Err(_), Self::PlatformGateway) => format!(
                "{}/ex/jira/{CLOUD_ID_PLACEHOLDER}",
                trimmed(&endpoints.api_gateway)
            ),
            (Err(_), Self::CsmGateway) => format!(
                "{}/jsm/csm/cloudid/{CLOUD_ID_PLACEHOLDER}",
                trimmed(&endpoints.api_gateway)
            ),
        }
    }
}

/// The cloud id when one is given: trimmed, and not blank.
fn known(cloud_id: Option<&str>) -> Option<&str> {
    cloud_id.map(str::trim).filter(|c| !c.is_empty())
}

/// The URL without its trailing slash, as base URIs are written.
fn trimmed(url: &Url) -> String {
    url.as_str().trim_end_matches('/').to_owned()
}

#[cfg(test)]
mod tests {
    use pretty_assertions::assert_eq;

    use super::*;

    fn demo() -> Subdomain {
        Subdomain::from_label("demo").unwrap()
    }

    fn sim() -> AtlassianEndpoints {
        let base = Url::parse("http://127.0.0.1:7000").unwrap();
        AtlassianEndpoints {
            site_url_template: "http://127.0.0.1:7000/site/{subdomain}".into(),
            api_gateway: base.clone(),
            auth_server: base,
        }
    }

    /// The whole table, for Atlassian's hosts and the simulator's: every API type and route,
    /// with and without a cloud id.
    #[test]
    fn every_api_type_and_route_has_one_base() {
        use ApiType::{CloudPlatform as Cp, CustomerServiceManagement as Csm};
        use AuthRoute::{BasicClassic, BasicScoped, OAuth2};
        let rows = [
            (
                Cp,
                BasicClassic,
                ApiRoot::Site,
                "https://demo.atlassian.net",
                "https://demo.atlassian.net",
                "http://127.0.0.1:7000/site/demo",
            ),
            (
                Cp,
                BasicScoped,
                ApiRoot::PlatformGateway,
                "https://api.atlassian.com/ex/jira/c-1",
                "https://api.atlassian.com/ex/jira/{cloudId}",
                "http://127.0.0.1:7000/ex/jira/c-1",
            ),
            (
                Cp,
                OAuth2,
                ApiRoot::PlatformGateway,
                "https://api.atlassian.com/ex/jira/c-1",
                "https://api.atlassian.com/ex/jira/{cloudId}",
                "http://127.0.0.1:7000/ex/jira/c-1",
            ),
            (
                Csm,
                BasicClassic,
                ApiRoot::CsmGateway,
                "https://api.atlassian.com/jsm/csm/cloudid/c-1",
                "https://api.atlassian.com/jsm/csm/cloudid/{cloudId}",
                "http://127.0.0.1:7000/jsm/csm/cloudid/c-1",
            ),
            (
                Csm,
                BasicScoped,
                ApiRoot::CsmGateway,
                "https://api.atlassian.com/jsm/csm/cloudid/c-1",
                "https://api.atlassian.com/jsm/csm/cloudid/{cloudId}",
                "http://127.0.0.1:7000/jsm/csm/cloudid/c-1",
            ),
            (
                Csm,
                OAuth2,
                ApiRoot::CsmGateway,
                "https://api.atlassian.com/jsm/csm/cloudid/c-1",
                "https://api.atlassian.com/jsm/csm/cloudid/{cloudId}",
                "http://127.0.0.1:7000/jsm/csm/cloudid/c-1",
            ),
        ];
        assert_eq!(rows.len(), ApiType::ALL.len() * AuthRoute::ALL.len());
        let atlassian = AtlassianEndpoints::default();
        for (api, route, root, known, unknown, simulated) in rows {
            let at = format!("{api:?} {route:?}");
            assert_eq!(ApiRoot::of(api, route), root, "{at}");
            let with_id = root.url(&atlassian, Some(&demo()), Some("c-1")).unwrap();
            assert_eq!(with_id.as_str().trim_end_matches('/'), known, "{at}");
            assert_eq!(
                root.display(&atlassian, Some(&demo()), Some("c-1")),
                known,
                "{at}"
            );
            assert_eq!(
                root.display(&atlassian, Some(&demo()), None),
                unknown,
                "{at}"
            );
            assert_eq!(
                root.display(&sim(), Some(&demo()), Some("c-1")),
                simulated,
                "{at}"
            );
            assert_eq!(root.via_gateway(), root != ApiRoot::Site, "{at}");
            match root {
                ApiRoot::Site => {
                    assert_eq!(
                        root.url(&atlassian, None, Some("c-1")),
                        Err(RootUnknown::Subdomain)
                    );
                    assert_eq!(
                        root.display(&sim(), None, None),
                        "http://127.0.0.1:7000/site/{subdomain}"
                    );
                }
                ApiRoot::PlatformGateway | ApiRoot::CsmGateway => {
                    for blank in [None, Some(""), Some("  ")] {
                        assert_eq!(
                            root.url(&atlassian, Some(&demo()), blank),
                            Err(RootUnknown::CloudId),
                            "{at} {blank:?}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn a_test_reads_the_platform_api_of_a_csm_site_through_the_platform_gateway() {
        for route in AuthRoute::ALL {
            for api in ApiType::ALL {
                assert_eq!(
                    ApiRoot::for_probe(api, route, ProbeApi::Csm),
                    ApiRoot::of(api, route)
                );
            }
            assert_eq!(
                ApiRoot::for_probe(ApiType::CloudPlatform, route, ProbeApi::Platform),
                ApiRoot::of(ApiType::CloudPlatform, route)
            );
            assert_eq!(
                ApiRoot::for_probe(
                    ApiType::CustomerServiceManagement,
                    route,
                    ProbeApi::Platform
                ),
                ApiRoot::PlatformGateway
            );
        }
    }

    #[test]
    fn connections_route_by_their_auth_type() {
        let basic: ConnectionAuth =
            serde_json::from_value(serde_json::json!({"type": "basic", "username": "a@b.co"}))
                .unwrap();
        assert_eq!(AuthRoute::of(&basic), AuthRoute::BasicClassic);
        let oauth: ConnectionAuth = serde_json::from_value(serde_json::json!({
            "type": "oauth2",
            "client": "00000000-0000-0000-0000-000000000001",
            "scopes": ["read:jira-work"],
        }))
        .unwrap();
        assert_eq!(AuthRoute::of(&oauth), AuthRoute::OAuth2);
    }

    #[test]
    fn cloud_ids_stay_one_path_segment() {
        let url = ApiRoot::PlatformGateway
            .url(&AtlassianEndpoints::default(), None, Some(" ../x?y "))
            .unwrap();
        assert_eq!(url.as_str(), "https://api.atlassian.com/ex/jira/..%2Fx%3Fy");
    }
}
