//! The "API type" choice of the connection form.
//!
//! The id (`cloud-platform`, `customer-service-management`) is the stable wire and CLI form;
//! the label is what people read. Parsing is forgiving (id, label or alias, any case); the
//! serialised form is always the id.

use std::{fmt, str::FromStr};

use serde::{Deserialize, Serialize};

use crate::{auth::AuthType, error::DomainError};

/// Which family of Atlassian APIs a connection talks to.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ApiType {
    /// Jira platform and Jira Service Management REST APIs.
    CloudPlatform,
    /// The Customer Service Management API (OAuth 2.0 only, through the API gateway).
    CustomerServiceManagement,
}

impl ApiType {
    /// Every API type, in the order the form lists them.
    pub const ALL: [ApiType; 2] = [ApiType::CloudPlatform, ApiType::CustomerServiceManagement];

    /// The stable identifier used on the wire and on the command line.
    #[must_use]
    pub const fn id(self) -> &'static str {
        match self {
            Self::CloudPlatform => "cloud-platform",
            Self::CustomerServiceManagement => "customer-service-management",
        }
    }

    /// The name shown in the form.
    #[must_use]
    pub const fn label(self) -> &'static str {
        match self {
            Self::CloudPlatform => "Cloud Platform and Service Management",
            Self::CustomerServiceManagement => "Customer Service Management",
        }
    }

    /// The sentence that explains the choice.
    #[must_use]
    pub const fn description(self) -> &'static str {
        match self {
            Self::CloudPlatform => {
                "Create and manage core Jira resources such as issues, projects, users, \
                 workflows, and permissions across Jira Software and Jira Service Management."
            }
            Self::CustomerServiceManagement => {
                "Create support requests, manage SLAs, and automate customer communication \
                 workflows in service desk projects."
            }
        }
    }

    /// The auth types a connection of this API type may use.
    #[must_use]
    pub const fn auth_types(self) -> &'static [AuthType] {
        match self {
            Self::CloudPlatform => &[AuthType::Basic, AuthType::OAuth2],
            Self::CustomerServiceManagement => &[AuthType::OAuth2],
        }
    }

    /// Whether the connection names its Jira site by subdomain. Customer Service Management
    /// connections pick the site when they are authorized instead.
    #[must_use]
    pub const fn uses_subdomain(self) -> bool {
        matches!(self, Self::CloudPlatform)
    }
}

impl fmt::Display for ApiType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

impl FromStr for ApiType {
    type Err = DomainError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let wanted = s.trim();
        for api in Self::ALL {
            if wanted.eq_ignore_ascii_case(api.id()) || wanted.eq_ignore_ascii_case(api.label()) {
                return Ok(api);
            }
        }
        match wanted.to_ascii_lowercase().as_str() {
            "cloud" => Ok(Self::CloudPlatform),
            "csm" => Ok(Self::CustomerServiceManagement),
            _ => Err(DomainError::UnknownApiType {
                input: wanted.to_owned(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use pretty_assertions::assert_eq;

    use super::*;

    #[test]
    fn parses_ids_labels_and_aliases_in_any_case() {
        let cases = [
            ("cloud-platform", ApiType::CloudPlatform),
            ("CLOUD-PLATFORM", ApiType::CloudPlatform),
            (
                "Cloud Platform and Service Management",
                ApiType::CloudPlatform,
            ),
            (
                "cloud platform and service management",
                ApiType::CloudPlatform,
            ),
            ("cloud", ApiType::CloudPlatform),
            ("  Cloud  ", ApiType::CloudPlatform),
            (
                "customer-service-management",
                ApiType::CustomerServiceManagement,
            ),
            (
                "Customer Service Management",
                ApiType::CustomerServiceManagement,
            ),
            ("csm", ApiType::CustomerServiceManagement),
            ("CSM", ApiType::CustomerServiceManagement),
        ];
        for (input, expected) in cases {
            assert_eq!(input.parse::<ApiType>(), Ok(expected), "input {input:?}");
        }
    }

    #[test]
    fn refuses_unknown_names_and_lists_the_choices() {
        for input in [
            "",
            "jira",
            "server",
            "cloud-platforms",
            "service management",
        ] {
            let err = input.parse::<ApiType>().unwrap_err();
            let text = err.to_string();
            assert!(text.contains("cloud-platform"), "{text}");
            assert!(text.contains("customer-service-management"), "{text}");
        }
    }

    #[test]
    fn display_is_label_and_serde_is_id() {
        for api in ApiType::ALL {
            assert_eq!(api.to_string(), api.label());
            let json = serde_json::to_string(&api).unwrap();
            assert_eq!(json, format!("\"{}\"", api.id()));
            assert_eq!(serde_json::from_str::<ApiType>(&json).unwrap(), api);
            assert_eq!(api.id().parse::<ApiType>(), Ok(api));
        }
    }

    #[test]
    fn only_cloud_platform_offers_basic_and_a_subdomain() {
        assert_eq!(
            ApiType::CloudPlatform.auth_types(),
            &[AuthType::Basic, AuthType::OAuth2]
        );
        assert_eq!(
            ApiType::CustomerServiceManagement.auth_types(),
            &[AuthType::OAuth2]
        );
        assert!(ApiType::CloudPlatform.uses_subdomain());
        assert!(!ApiType::CustomerServiceManagement.uses_subdomain());
    }
}
