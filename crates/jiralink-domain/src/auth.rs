//! How a connection authenticates.
//!
//! [`ConnectionAuth`] holds only non-secret settings: the Basic username, or the OAuth 2.0
//! client reference and scopes. The API token, client secret and OAuth tokens live sealed in the
//! vault and never enter a domain type.

use std::{fmt, str::FromStr};

use serde::{Deserialize, Serialize};

use crate::{email::Email, error::DomainError, ids::OAuthClientId, scope::ScopeSet};

/// The "Auth type" choice of the connection form.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum AuthType {
    /// An Atlassian account e-mail plus an API token.
    #[serde(rename = "basic")]
    Basic,
    /// OAuth 2.0 authorization code grant (3LO) through an OAuth 2.0 client.
    #[serde(rename = "oauth2")]
    OAuth2,
}

impl AuthType {
    /// Every auth type, in the order the form lists them.
    pub const ALL: [AuthType; 2] = [AuthType::Basic, AuthType::OAuth2];

    /// The stable identifier used on the wire and on the command line.
    #[must_use]
    pub const fn id(self) -> &'static str {
        match self {
            Self::Basic => "basic",
            Self::OAuth2 => "oauth2",
        }
    }

    /// The name shown in the form.
    #[must_use]
    pub const fn label(self) -> &'static str {
        match self {
            Self::Basic => "Basic",
            Self::OAuth2 => "OAuth 2.0",
        }
    }
}

impl fmt::Display for AuthType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

impl FromStr for AuthType {
    type Err = DomainError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let wanted = s.trim().to_ascii_lowercase();
        match wanted.as_str() {
            "basic" => Ok(Self::Basic),
            "oauth2" | "oauth" | "oauth 2.0" | "oauth2.0" | "oauth 2" => Ok(Self::OAuth2),
            _ => Err(DomainError::UnknownAuthType {
                input: s.trim().to_owned(),
            }),
        }
    }
}

/// The non-secret half of a connection's credentials.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ConnectionAuth {
    /// Basic auth; the API token is sealed in the vault.
    Basic {
        /// The Atlassian account e-mail.
        username: Email,
    },
    /// OAuth 2.0 (3LO); the client secret and tokens are sealed in the vault.
    #[serde(rename = "oauth2")]
    OAuth2 {
        /// The OAuth 2.0 client resource holding the client ID and secret.
        client: OAuthClientId,
        /// The scopes chosen in the form (`offline_access` is added when requesting).
        scopes: ScopeSet,
    },
}

impl ConnectionAuth {
    /// Which auth type these settings belong to.
    #[must_use]
    pub const fn auth_type(&self) -> AuthType {
        match self {
            Self::Basic { .. } => AuthType::Basic,
            Self::OAuth2 { .. } => AuthType::OAuth2,
        }
    }

    /// The OAuth 2.0 client, for OAuth 2.0 connections.
    #[must_use]
    pub const fn oauth_client(&self) -> Option<OAuthClientId> {
        match self {
            Self::Basic { .. } => None,
            Self::OAuth2 { client, .. } => Some(*client),
        }
    }
}

#[cfg(test)]
mod tests {
    use pretty_assertions::assert_eq;

    use super::*;
    use crate::api_type::ApiType;

    #[test]
    fn parses_ids_labels_and_aliases() {
        let cases = [
            ("basic", AuthType::Basic),
            ("Basic", AuthType::Basic),
            (" BASIC ", AuthType::Basic),
            ("oauth2", AuthType::OAuth2),
            ("oauth", AuthType::OAuth2),
            ("OAuth 2.0", AuthType::OAuth2),
            ("oauth 2.0", AuthType::OAuth2),
            ("OAUTH2", AuthType::OAuth2),
        ];
        for (input, expected) in cases {
            assert_eq!(input.parse::<AuthType>(), Ok(expected), "input {input:?}");
        }
        for input in ["", "token", "bearer", "oauth1", "basic auth"] {
            let err = input.parse::<AuthType>().unwrap_err();
            assert!(err.to_string().contains("use basic or oauth2"), "{err}");
        }
    }

    #[test]
    fn display_is_label_and_serde_is_id() {
        for auth in AuthType::ALL {
            assert_eq!(auth.to_string(), auth.label());
            assert_eq!(
                serde_json::to_string(&auth).unwrap(),
                format!("\"{}\"", auth.id())
            );
            assert_eq!(auth.label().parse::<AuthType>(), Ok(auth));
        }
    }

    #[test]
    fn connection_auth_wire_format() {
        let basic = ConnectionAuth::Basic {
            username: Email::parse("fred@example.com").unwrap(),
        };
        assert_eq!(
            serde_json::to_value(&basic).unwrap(),
            serde_json::json!({"type": "basic", "username": "fred@example.com"})
        );
        let client: OAuthClientId = "67e55044-10b1-426f-9247-bb680e5fe0c8".parse().unwrap();
        let scopes = ScopeSet::parse(ApiType::CloudPlatform, &["write:jira-work read:jira-work"])
            .unwrap()
            .set;
        let oauth = ConnectionAuth::OAuth2 { client, scopes };
        let value = serde_json::to_value(&oauth).unwrap();
        assert_eq!(
            value,
            serde_json::json!({
                "type": "oauth2",
                "client": "67e55044-10b1-426f-9247-bb680e5fe0c8",
                "scopes": ["read:jira-work", "write:jira-work"],
            })
        );
        assert_eq!(
            serde_json::from_value::<ConnectionAuth>(value).unwrap(),
            oauth
        );
        assert_eq!(oauth.auth_type(), AuthType::OAuth2);
        assert_eq!(oauth.oauth_client(), Some(client));
        assert_eq!(basic.auth_type(), AuthType::Basic);
        assert_eq!(basic.oauth_client(), None);
    }

    #[test]
    fn connection_auth_refuses_unknown_fields_and_secrets() {
        let with_token = serde_json::json!({
            "type": "basic", "username": "fred@example.com", "api_token": "atl-secret"
        });
        assert!(serde_json::from_value::<ConnectionAuth>(with_token).is_err());
        let bad_mail = serde_json::json!({"type": "basic", "username": "fred"});
        assert!(serde_json::from_value::<ConnectionAuth>(bad_mail).is_err());
    }
}
