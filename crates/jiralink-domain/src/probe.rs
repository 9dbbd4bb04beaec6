//! The request "Test connection" sends, chosen from the OAuth 2.0 scopes a connection holds.
//!
//! A test answers one question: do the credentials work? So the request it sends must never
//! need a scope the connection was not given; a connection authorized for `read:jira-work`
//! alone is not broken because `GET /rest/api/3/myself` would need `read:jira-user`.
//!
//! Invariant: [`choose_probe`] never chooses a request whose [`ProbeRequest::scope`] is not
//! among the scopes it is given. Basic credentials (no OAuth 2.0 scopes) keep
//! `GET /rest/api/3/myself`, which names the account.

/// Which API a probe request belongs to, and so which base its path is relative to.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum ProbeApi {
    /// The Jira platform REST API: the site, or `{gateway}/ex/jira/{cloudId}`.
    Platform,
    /// Customer Service Management: `{gateway}/jsm/csm/cloudid/{cloudId}`.
    Csm,
}

/// The authenticated read a test sends.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum ProbeRequest {
    /// `GET /rest/api/3/myself`: who the connection acts as. OAuth 2.0 needs `read:jira-user`.
    Myself,
    /// `GET /rest/api/3/serverInfo`: the site's version. Needs no scope.
    ServerInfo,
    /// `GET /api/v1/customer/details` (Customer Service Management), one item:
    /// `read:customer.detail-field:jira-service-management`.
    CsmCustomerDetailFields,
    /// `GET /api/v1/organization/details`, one item:
    /// `read:organization.detail-field:jira-service-management`.
    CsmOrganizationDetailFields,
    /// `GET /api/v1/product`, one item: `read:product:jira-service-management`.
    CsmProducts,
    /// `GET /api/v1/entitlements`, one item: `read:entitlement:jira-service-management`.
    CsmEntitlements,
}

impl ProbeRequest {
    /// Every request a test may send.
    pub const ALL: [Self; 6] = [
        Self::Myself,
        Self::ServerInfo,
        Self::CsmCustomerDetailFields,
        Self::CsmOrganizationDetailFields,
        Self::CsmProducts,
        Self::CsmEntitlements,
    ];

    /// The API it belongs to.
    #[must_use]
    pub const fn api(self) -> ProbeApi {
        match self {
            Self::Myself | Self::ServerInfo => ProbeApi::Platform,
            Self::CsmCustomerDetailFields
            | Self::CsmOrganizationDetailFields
            | Self::CsmProducts
            | Self::CsmEntitlements => ProbeApi::Csm,
        }
    }

    /// The path, relative to the base of its [`ProbeApi`].
    #[must_use]
    pub const fn path(self) -> &'static str {
        match self {
            Self::Myself => "/rest/api/3/myself",
            Self::ServerInfo => "/rest/api/3/serverInfo",
            Self::CsmCustomerDetailFields => "/api/v1/customer/details",
            Self::CsmOrganizationDetailFields => "/api/v1/organization/details",
            Self::CsmProducts => "/api/v1/product",
            Self::CsmEntitlements => "/api/v1/entitlements",
        }
    }

    /// Method and path as people read them, e.g. `GET /rest/api/3/serverInfo`.
    #[must_use]
    pub const fn label(self) -> &'static str {
        match self {
            Self::Myself => "GET /rest/api/3/myself",
            Self::ServerInfo => "GET /rest/api/3/serverInfo",
            Self::CsmCustomerDetailFields => "GET /api/v1/customer/details",
            Self::CsmOrganizationDetailFields => "GET /api/v1/organization/details",
            Self::CsmProducts => "GET /api/v1/product",
            Self::CsmEntitlements => "GET /api/v1/entitlements",
        }
    }

    /// The OAuth 2.0 scope the request needs; `None` when it needs none.
    #[must_use]
    pub const fn scope(self) -> Option<&'static str> {
        match self {
            Self::Myself => Some("read:jira-user"),
            Self::ServerInfo => None,
            Self::CsmCustomerDetailFields => {
                Some("read:customer.detail-field:jira-service-management")
            }
            Self::CsmOrganizationDetailFields => {
                Some("read:organization.detail-field:jira-service-management")
            }
            Self::CsmProducts => Some("read:product:jira-service-management"),
            Self::CsmEntitlements => Some("read:entitlement:jira-service-management"),
        }
    }
}

impl std::fmt::Display for ProbeRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.label())
    }
}

/// The request a test sends, from the API type and the OAuth 2.0 scopes the connection holds
/// (`None` when OAuth 2.0 scopes do not limit its credentials: Basic auth).
///
/// - Cloud Platform: `GET /rest/api/3/myself` with `read:jira-user` or without OAuth 2.0
///   scopes, since it shows who the connection acts as; otherwise `GET /rest/api/3/serverInfo`,
///   which needs no scope.
/// - Customer Service Management: a one-item page of the first of customer detail fields,
///   organization detail fields, products and entitlements that the scopes may read (customer
///   detail fields without OAuth 2.0 scopes); otherwise `GET /rest/api/3/serverInfo` of the
///   same site. Customers and organizations themselves have no list to page through.
#[must_use]
pub fn choose_probe(api_type: crate::ApiType, scopes: Option<&[&str]>) -> ProbeRequest {
    use crate::ApiType;
    let Some(scopes) = scopes else {
        return match api_type {
            ApiType::CloudPlatform => ProbeRequest::Myself,
            ApiType::CustomerServiceManagement => ProbeRequest::CsmCustomerDetailFields,
        };
    };
    let preferred: &[ProbeRequest] = match api_type {
        ApiType::CloudPlatform => &[ProbeRequest::Myself],
        ApiType::CustomerServiceManagement => &[
            ProbeRequest::CsmCustomerDetailFields,
            ProbeRequest::CsmOrganizationDetailFields,
            ProbeRequest::CsmProducts,
            ProbeRequest::CsmEntitlements,
        ],
    };
    preferred
        .iter()
        .copied()
        .find(|request| {
            request
                .scope()
                .is_some_and(|needed| scopes.contains(&needed))
        })
        .unwrap_or(ProbeRequest::ServerInfo)
}

#[cfg(test)]
mod tests {
    use pretty_assertions::assert_eq;

    use super::*;
    use crate::{ApiType, scope::catalogue, scope::lookup};

    const CLOUD: ApiType = ApiType::CloudPlatform;
    const CSM: ApiType = ApiType::CustomerServiceManagement;

    fn chosen(api: ApiType, scopes: &[&str]) -> ProbeRequest {
        choose_probe(api, Some(scopes))
    }

    #[test]
    fn basic_credentials_keep_myself() {
        assert_eq!(choose_probe(CLOUD, None), ProbeRequest::Myself);
        assert_eq!(
            choose_probe(CSM, None),
            ProbeRequest::CsmCustomerDetailFields
        );
    }

    #[test]
    fn cloud_platform_asks_who_only_with_read_jira_user() {
        use ProbeRequest::{Myself, ServerInfo};
        // The README's quickstart scopes.
        assert_eq!(
            chosen(CLOUD, &["read:jira-work", "write:jira-work"]),
            ServerInfo
        );
        assert_eq!(
            chosen(
                CLOUD,
                &["read:jira-work", "read:jira-user", "offline_access"]
            ),
            Myself
        );
        assert_eq!(chosen(CLOUD, &["read:jira-user"]), Myself);
        assert_eq!(chosen(CLOUD, &["read:me", "offline_access"]), ServerInfo);
        assert_eq!(chosen(CLOUD, &[]), ServerInfo);
    }

    #[test]
    fn csm_reads_the_first_list_its_scopes_allow() {
        use ProbeRequest::{
            CsmCustomerDetailFields, CsmEntitlements, CsmOrganizationDetailFields, CsmProducts,
            ServerInfo,
        };
        let s = |name: &str| format!("{name}:jira-service-management");
        let (customer, organization) = (s("read:customer"), s("read:organization"));
        let (customer_fields, organization_fields) = (
            s("read:customer.detail-field"),
            s("read:organization.detail-field"),
        );
        let (product, entitlement) = (s("read:product"), s("read:entitlement"));
        // Customers and organizations have no list: the site's server information it is.
        assert_eq!(chosen(CSM, &[&customer, &organization]), ServerInfo);
        assert_eq!(chosen(CSM, &[&s("write:customer"), "read:me"]), ServerInfo);
        assert_eq!(
            chosen(CSM, &[&customer, &customer_fields]),
            CsmCustomerDetailFields
        );
        assert_eq!(
            chosen(CSM, &[&organization, &organization_fields]),
            CsmOrganizationDetailFields
        );
        assert_eq!(
            chosen(CSM, &[&organization_fields, &customer_fields]),
            CsmCustomerDetailFields
        );
        assert_eq!(chosen(CSM, &[&entitlement, &product]), CsmProducts);
        assert_eq!(chosen(CSM, &[&entitlement]), CsmEntitlements);
        // Cloud Platform scopes mean nothing to a Customer Service Management connection.
        assert_eq!(chosen(CSM, &["read:jira-user"]), ServerInfo);
        assert_eq!(chosen(CLOUD, &[&customer_fields]), ServerInfo);
    }

    /// The chosen request needs no scope, or one of those held.
    fn assert_allowed(api: ApiType, scopes: &[&str]) {
        let request = chosen(api, scopes);
        if let Some(needed) = request.scope() {
            assert!(
                scopes.contains(&needed),
                "{api:?} {scopes:?} chose {request}"
            );
        }
    }

    fn names(api: ApiType) -> Vec<&'static str> {
        catalogue(api).iter().map(|info| info.name).collect()
    }

    #[test]
    fn the_request_chosen_never_needs_a_scope_not_held() {
        let cloud = names(CLOUD);
        assert_eq!(cloud.len(), 13);
        // Every subset of the Cloud Platform catalogue.
        for mask in 0u32..(1 << cloud.len()) {
            let subset: Vec<&str> = cloud
                .iter()
                .enumerate()
                .filter(|(i, _)| mask & (1 << i) != 0)
                .map(|(_, name)| *name)
                .collect();
            assert_allowed(CLOUD, &subset);
        }
        // Every scope and pair of scopes of the Customer Service Management catalogue, and
        // all of it.
        let csm = names(CSM);
        for (i, a) in csm.iter().enumerate() {
            assert_allowed(CSM, &[a]);
            for b in &csm[i + 1..] {
                assert_allowed(CSM, &[a, b]);
            }
        }
        assert_allowed(CSM, &csm);
        assert_eq!(chosen(CLOUD, &cloud), ProbeRequest::Myself);
        assert_eq!(chosen(CSM, &csm), ProbeRequest::CsmCustomerDetailFields);
    }

    #[test]
    fn every_request_is_labelled_by_its_path_and_needs_a_catalogue_scope() {
        for request in ProbeRequest::ALL {
            assert_eq!(request.label(), format!("GET {}", request.path()));
            assert_eq!(request.to_string(), request.label());
            let (prefix, api) = match request.api() {
                ProbeApi::Platform => ("/rest/api/3/", CLOUD),
                ProbeApi::Csm => ("/api/v1/", CSM),
            };
            assert!(request.path().starts_with(prefix), "{request}");
            if let Some(scope) = request.scope() {
                assert!(lookup(api, scope).is_some(), "{scope} is not offered");
            }
        }
    }
}
