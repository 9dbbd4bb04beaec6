//! Where a connection's requests go, by API type and auth mode.
//!
//! | API type | Auth | Platform (`/rest/api/3`) and JSM (`/rest/servicedeskapi`) | CSM (`/api/v1`) |
//! |---|---|---|---|
//! | Cloud Platform | Basic, classic API token | `{site}` | — |
//! | Cloud Platform | Basic, scoped API token | `{gateway}/ex/jira/{cloudId}` | — |
//! | Cloud Platform | OAuth 2.0 | `{gateway}/ex/jira/{cloudId}` | — |
//! | Customer Service Management | any | — | `{gateway}/jsm/csm/cloudid/{cloudId}` |
//!
//! Scoped tokens and OAuth 2.0 tokens are refused on the site host, so they always go through
//! the gateway, which needs the cloud id. All hosts come from [`AtlassianEndpoints`], so a local
//! simulator can stand in for every one of them.

use jiralink_domain::{ApiType, AtlassianEndpoints, ConnectionSettings, Subdomain};
use url::Url;

pub use jiralink_domain::endpoints::join;

use crate::error::AtlassianError;

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

/// The base URLs of one connection. `None` means that API is not reachable with it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiBase {
    /// The Jira site, when known (`https://{sub}.atlassian.net`).
    pub site: Option<Url>,
    /// `…/rest/api/3`.
    pub platform: Option<Url>,
    /// `…/rest/servicedeskapi`.
    pub service_desk: Option<Url>,
    /// `{gateway}/jsm/csm/cloudid/{cloudId}/api/v1`.
    pub csm: Option<Url>,
    /// The API gateway, for `oauth/token/accessible-resources`.
    pub gateway: Url,
    /// The cloud id used, when the gateway is.
    pub cloud_id: Option<String>,
}

const CLOUD_ID_FIX: &str = "the cloud id of the site is not known yet: authorize the \
                            connection (OAuth 2.0) or test it once so jiralink can look it up";

impl ApiBase {
    /// Resolves the bases for `api_type`, `route`, the site's `subdomain` and the `cloud_id`
    /// (needed for the gateway).
    ///
    /// # Errors
    /// [`AtlassianError::NotAvailable`] when the gateway is needed and the cloud id is unknown,
    /// or a Cloud Platform connection with Basic auth has no subdomain.
    pub fn resolve(
        endpoints: &AtlassianEndpoints,
        api_type: ApiType,
        route: AuthRoute,
        subdomain: Option<&Subdomain>,
        cloud_id: Option<&str>,
    ) -> Result<Self, AtlassianError> {
        let site = subdomain.map(|s| endpoints.site_url(s));
        let cloud_id = cloud_id.map(str::trim).filter(|c| !c.is_empty());
        let mut base = Self {
            site: site.clone(),
            platform: None,
            service_desk: None,
            csm: None,
            gateway: endpoints.api_gateway.clone(),
            cloud_id: None,
        };
        match (api_type, route) {
            (ApiType::CloudPlatform, AuthRoute::BasicClassic) => {
                let site = site.ok_or(AtlassianError::NotAvailable {
                    what: "the Jira site",
                    fix: "set the connection's subdomain",
                })?;
                base.platform = Some(join(&site, &["rest", "api", "3"]));
                base.service_desk = Some(join(&site, &["rest", "servicedeskapi"]));
            }
            (ApiType::CloudPlatform, AuthRoute::BasicScoped | AuthRoute::OAuth2) => {
                let id = cloud_id.ok_or(AtlassianError::NotAvailable {
                    what: "the API gateway",
                    fix: CLOUD_ID_FIX,
                })?;
                let gw = endpoints.platform_gateway_base(id);
                base.platform = Some(join(&gw, &["rest", "api", "3"]));
                base.service_desk = Some(join(&gw, &["rest", "servicedeskapi"]));
                base.cloud_id = Some(id.to_owned());
            }
            (ApiType::CustomerServiceManagement, _) => {
                let id = cloud_id.ok_or(AtlassianError::NotAvailable {
                    what: "the Customer Service Management API",
                    fix: CLOUD_ID_FIX,
                })?;
                base.csm = Some(join(&endpoints.csm_gateway_base(id), &["api", "v1"]));
                base.cloud_id = Some(id.to_owned());
            }
        }
        Ok(base)
    }

    /// [`Self::resolve`] for stored connection settings.
    ///
    /// # Errors
    /// As [`Self::resolve`].
    pub fn for_settings(
        endpoints: &AtlassianEndpoints,
        settings: &ConnectionSettings,
        route: AuthRoute,
        cloud_id: Option<&str>,
    ) -> Result<Self, AtlassianError> {
        Self::resolve(
            endpoints,
            settings.api_type,
            route,
            settings.subdomain.as_ref(),
            cloud_id,
        )
    }
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

    #[test]
    fn basic_classic_uses_the_site() {
        let b = ApiBase::resolve(
            &AtlassianEndpoints::default(),
            ApiType::CloudPlatform,
            AuthRoute::BasicClassic,
            Some(&demo()),
            Some("ignored"),
        )
        .unwrap();
        assert_eq!(
            b.platform.unwrap().as_str(),
            "https://demo.atlassian.net/rest/api/3"
        );
        assert_eq!(
            b.service_desk.unwrap().as_str(),
            "https://demo.atlassian.net/rest/servicedeskapi"
        );
        assert_eq!(b.csm, None);
        assert_eq!(b.cloud_id, None);
    }

    #[test]
    fn scoped_tokens_and_oauth_use_the_gateway() {
        for route in [AuthRoute::BasicScoped, AuthRoute::OAuth2] {
            let b = ApiBase::resolve(
                &AtlassianEndpoints::default(),
                ApiType::CloudPlatform,
                route,
                Some(&demo()),
                Some("c-1"),
            )
            .unwrap();
            assert_eq!(
                b.platform.unwrap().as_str(),
                "https://api.atlassian.com/ex/jira/c-1/rest/api/3"
            );
            assert_eq!(
                b.service_desk.unwrap().as_str(),
                "https://api.atlassian.com/ex/jira/c-1/rest/servicedeskapi"
            );
            assert_eq!(b.cloud_id.as_deref(), Some("c-1"));
            let err = ApiBase::resolve(
                &AtlassianEndpoints::default(),
                ApiType::CloudPlatform,
                route,
                Some(&demo()),
                Some("  "),
            )
            .unwrap_err();
            assert!(err.to_string().contains("cloud id"), "{err}");
        }
    }

    #[test]
    fn csm_uses_its_gateway_base() {
        let b = ApiBase::resolve(
            &sim(),
            ApiType::CustomerServiceManagement,
            AuthRoute::OAuth2,
            None,
            Some("c-9"),
        )
        .unwrap();
        assert_eq!(
            b.csm.unwrap().as_str(),
            "http://127.0.0.1:7000/jsm/csm/cloudid/c-9/api/v1"
        );
        assert_eq!(b.platform, None);
        assert!(
            ApiBase::resolve(
                &sim(),
                ApiType::CustomerServiceManagement,
                AuthRoute::OAuth2,
                None,
                None
            )
            .is_err()
        );
    }

    #[test]
    fn simulator_site_keeps_its_path() {
        let b = ApiBase::resolve(
            &sim(),
            ApiType::CloudPlatform,
            AuthRoute::BasicClassic,
            Some(&demo()),
            None,
        )
        .unwrap();
        assert_eq!(
            b.platform.unwrap().as_str(),
            "http://127.0.0.1:7000/site/demo/rest/api/3"
        );
        assert!(
            ApiBase::resolve(
                &sim(),
                ApiType::CloudPlatform,
                AuthRoute::BasicClassic,
                None,
                None
            )
            .is_err()
        );
    }

    #[test]
    fn join_encodes_each_segment() {
        let base = Url::parse("https://x.example/rest/api/3/").unwrap();
        assert_eq!(
            join(&base, &["issue", "A B/../C?x"]).as_str(),
            "https://x.example/rest/api/3/issue/A%20B%2F..%2FC%3Fx"
        );
    }
}
