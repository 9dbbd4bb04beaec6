//! Resource identifiers.
//!
//! Ids are random (v4) UUIDs, shown and parsed in the hyphenated form and serialised as a bare
//! string. A connection id and an OAuth 2.0 client id are distinct types so one can never be
//! passed where the other is expected.

use std::{fmt, str::FromStr};

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::DomainError;

macro_rules! uuid_id {
    ($(#[$meta:meta])* $name:ident, $kind:literal) => {
        $(#[$meta])*
        #[derive(
            Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
        )]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            /// A fresh random id.
            #[expect(
                clippy::new_without_default,
                reason = "a Default that returns a different random id on every call would surprise"
            )]
            #[must_use]
            pub fn new() -> Self {
                Self(Uuid::new_v4())
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0.hyphenated(), f)
            }
        }

        impl FromStr for $name {
            type Err = DomainError;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::try_parse(s.trim())
                    .map(Self)
                    .map_err(|_| DomainError::InvalidId { kind: $kind })
            }
        }

        impl From<Uuid> for $name {
            fn from(id: Uuid) -> Self {
                Self(id)
            }
        }

        impl From<$name> for Uuid {
            fn from(id: $name) -> Self {
                id.0
            }
        }
    };
}

uuid_id!(
    /// Identifies a connection to Jira.
    ConnectionId,
    "connection"
);
uuid_id!(
    /// Identifies an OAuth 2.0 client resource (the client ID and secret from the Atlassian
    /// developer console), which many connections may share.
    OAuthClientId,
    "OAuth 2.0 client"
);

#[cfg(test)]
mod tests {
    use pretty_assertions::assert_eq;

    use super::*;

    #[test]
    fn display_and_parse_round_trip() {
        let id = ConnectionId::new();
        let text = id.to_string();
        assert_eq!(text.len(), 36, "hyphenated form");
        assert_eq!(text.parse::<ConnectionId>(), Ok(id));
    }

    #[test]
    fn new_ids_differ() {
        assert_ne!(OAuthClientId::new(), OAuthClientId::new());
    }

    #[test]
    fn parse_refuses_garbage_naming_the_kind() {
        let err = "not-a-uuid".parse::<OAuthClientId>().unwrap_err();
        assert_eq!(
            err,
            DomainError::InvalidId {
                kind: "OAuth 2.0 client"
            }
        );
        assert!(err.to_string().starts_with("invalid OAuth 2.0 client id"));
    }

    #[test]
    fn serde_is_a_bare_string() {
        let id: ConnectionId = "67e55044-10b1-426f-9247-bb680e5fe0c8".parse().unwrap();
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(json, "\"67e55044-10b1-426f-9247-bb680e5fe0c8\"");
        assert_eq!(serde_json::from_str::<ConnectionId>(&json).unwrap(), id);
    }
}
