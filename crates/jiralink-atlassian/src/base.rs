//! The base URLs of one connection's APIs.
//!
//! Which base a connection uses is the domain's table ([`jiralink_domain::route`]): the site
//! for Basic auth with a classic API token, `{gateway}/ex/jira/{cloudId}` for scoped tokens and
//! OAuth 2.0 on Cloud Platform, `{gateway}/jsm/csm/cloudid/{cloudId}` for Customer Service
//! Management. Below it:
//!
//! | Base | Platform | JSM | CSM |
//! |---|---|---|---|
//! | site, platform gateway | `/rest/api/3` | `/rest/servicedeskapi` | — |
//! | CSM gateway | — | — | `/api/v1` |

use jiralink_domain::{
    ApiRoot, ApiType, AtlassianEndpoints, ConnectionSettings, RootUnknown, Subdomain,
};
use url::Url;

pub use jiralink_domain::AuthRoute;
pub use jiralink_domain::endpoints::join;

use crate::error::AtlassianError;

/// The Jira platform REST API, below a site or platform gateway base.
pub(crate) const PLATFORM: &[&str] = &["rest", "api", "3"];
/// Jira Service Management, below a site or platform gateway base.
const SERVICE_DESK: &[&str] = &["rest", "servicedeskapi"];
/// Customer Service Management, below its gateway base.
const CSM: &[&str] = &["api", "v1"];

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
        let mut base = Self::bootstrap(endpoints, subdomain);
        let root = ApiRoot::of(api_type, route);
        let url = root
            .url(endpoints, subdomain, cloud_id)
            .map_err(|missing| not_available(root, missing))?;
        if root.via_gateway() {
            base.cloud_id = cloud_id.map(|id| id.trim().to_owned());
        }
        match root {
            ApiRoot::Site | ApiRoot::PlatformGateway => {
                base.platform = Some(join(&url, PLATFORM));
                base.service_desk = Some(join(&url, SERVICE_DESK));
            }
            ApiRoot::CsmGateway => base.csm = Some(join(&url, CSM)),
        }
        Ok(base)
    }

    /// What is known of a connection before its cloud id: its site (when it has a subdomain)
    /// and the API gateway, where accessible resources tell the cloud id. No API base yet.
    #[must_use]
    pub fn bootstrap(endpoints: &AtlassianEndpoints, subdomain: Option<&Subdomain>) -> Self {
        Self {
            site: subdomain.map(|s| endpoints.site_url(s)),
            platform: None,
            service_desk: None,
            csm: None,
            gateway: endpoints.api_gateway.clone(),
            cloud_id: None,
        }
    }

    /// The platform API below `root`, when `root` carries it and what it needs is known.
    #[must_use]
    pub fn platform_below(
        endpoints: &AtlassianEndpoints,
        root: ApiRoot,
        subdomain: Option<&Subdomain>,
        cloud_id: Option<&str>,
    ) -> Option<Url> {
        match root {
            ApiRoot::Site | ApiRoot::PlatformGateway => root
                .url(endpoints, subdomain, cloud_id)
                .ok()
                .map(|url| join(&url, PLATFORM)),
            ApiRoot::CsmGateway => None,
        }
    }

    /// The same bases with the other gateway API filled in where the cloud id is known: a
    /// Customer Service Management base gains the platform and Jira Service Management APIs
    /// (`{gateway}/ex/jira/{cloudId}`), a platform gateway base gains CSM
    /// (`{gateway}/jsm/csm/cloudid/{cloudId}`). One OAuth 2.0 grant reaches both when it holds
    /// their scopes; CSM has no list of customers or organizations, so exporting them needs the
    /// JSM lists. A site base (Basic auth) stays as it is: CSM is only reached through the
    /// gateway.
    #[must_use]
    pub fn with_gateway_companions(&self) -> Self {
        let mut base = self.clone();
        let Some(cloud_id) = base.cloud_id.clone() else {
            return base;
        };
        let gateway = base.gateway.clone();
        if base.platform.is_none() && base.service_desk.is_none() {
            let root = join(&gateway, &["ex", "jira", &cloud_id]);
            base.platform = Some(join(&root, PLATFORM));
            base.service_desk = Some(join(&root, SERVICE_DESK));
        }
        if base.csm.is_none() {
            let root = join(&gateway, &["jsm", "csm", "cloudid", &cloud_id]);
            base.csm = Some(join(&root, CSM));
        }
        base
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

/// Why `root` cannot be reached, and what to do.
fn not_available(root: ApiRoot, missing: RootUnknown) -> AtlassianError {
    match (root, missing) {
        (_, RootUnknown::Subdomain) => AtlassianError::NotAvailable {
            what: "the Jira site",
            fix: "set the connection's subdomain",
        },
        (ApiRoot::CsmGateway, RootUnknown::CloudId) => AtlassianError::NotAvailable {
            what: "the Customer Service Management API",
            fix: CLOUD_ID_FIX,
        },
        (ApiRoot::Site | ApiRoot::PlatformGateway, RootUnknown::CloudId) => {
            AtlassianError::NotAvailable {
                what: "the API gateway",
                fix: CLOUD_ID_FIX,
            }
        }
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
    fn gateway_companions_join_platform_and_csm() {
        let csm = ApiBase::resolve(
            &sim(),
            ApiType::CustomerServiceManagement,
            AuthRoute::OAuth2,
            None,
            Some("c-1"),
        )
        .unwrap()
        .with_gateway_companions();
        assert_eq!(
            csm.service_desk.unwrap().as_str(),
            "http://127.0.0.1:7000/ex/jira/c-1/rest/servicedeskapi"
        );
        assert_eq!(
            csm.csm.unwrap().as_str(),
            "http://127.0.0.1:7000/jsm/csm/cloudid/c-1/api/v1"
        );
        let platform = ApiBase::resolve(
            &sim(),
            ApiType::CloudPlatform,
            AuthRoute::OAuth2,
            None,
            Some("c-1"),
        )
        .unwrap()
        .with_gateway_companions();
        assert_eq!(
            platform.csm.unwrap().as_str(),
            "http://127.0.0.1:7000/jsm/csm/cloudid/c-1/api/v1"
        );
        let site = ApiBase::resolve(
            &sim(),
            ApiType::CloudPlatform,
            AuthRoute::BasicClassic,
            Some(&demo()),
            None,
        )
        .unwrap();
        assert_eq!(site.with_gateway_companions(), site);
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
