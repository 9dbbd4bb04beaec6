//! The store's own vocabulary for sealed secrets.

use jiralink_domain::{ConnectionId, OAuthClientId};
use jiralink_vault::Sealed;
use time::OffsetDateTime;

/// Which record a secret belongs to. With [`SecretField`] it forms the AAD that binds a
/// sealed value to its row, so both must stay stable forever (they are never display names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SecretOwner {
    Connection(ConnectionId),
    OAuthClient(OAuthClientId),
}

impl SecretOwner {
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Connection(_) => "connection",
            Self::OAuthClient(_) => "oauth_client",
        }
    }

    pub fn id(&self) -> uuid::Uuid {
        match self {
            Self::Connection(id) => id.0,
            Self::OAuthClient(id) => id.0,
        }
    }

    pub(crate) fn parse(kind: &str, id: &str) -> Option<Self> {
        let id = uuid::Uuid::parse_str(id).ok()?;
        match kind {
            "connection" => Some(Self::Connection(ConnectionId(id))),
            "oauth_client" => Some(Self::OAuthClient(OAuthClientId(id))),
            _ => None,
        }
    }
}

/// The secret fields jiralink stores.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SecretField {
    ApiToken,
    ClientSecret,
    AccessToken,
    RefreshToken,
}

impl SecretField {
    pub const ALL: [SecretField; 4] = [
        Self::ApiToken,
        Self::ClientSecret,
        Self::AccessToken,
        Self::RefreshToken,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            Self::ApiToken => "api_token",
            Self::ClientSecret => "client_secret",
            Self::AccessToken => "access_token",
            Self::RefreshToken => "refresh_token",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.as_str() == s)
    }
}

/// A sealed value to write with a resource.
#[derive(Debug)]
pub struct SecretWrite {
    pub field: SecretField,
    pub sealed: Sealed,
}

/// A sealed value as stored.
#[derive(Debug)]
pub struct StoredSecret {
    pub owner: SecretOwner,
    pub field: SecretField,
    pub sealed: Sealed,
    pub updated_at: OffsetDateTime,
}

/// Which half of an exchange a debug line records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DebugDirection {
    Request,
    Response,
}

impl DebugDirection {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Request => "request",
            Self::Response => "response",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<Self> {
        match s {
            "request" => Some(Self::Request),
            "response" => Some(Self::Response),
            _ => None,
        }
    }
}

/// One line of the connection debugger: a request or a response, already masked.
///
/// The store writes what it is given; masking happens before (the Atlassian client masks
/// every exchange before any observer sees it).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DebugLine {
    #[serde(skip)]
    pub connection: ConnectionId,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// The same for a request and its response.
    pub request_id: String,
    pub direction: DebugDirection,
    pub method: String,
    pub url: String,
    /// The HTTP status (responses that got one).
    pub status: Option<u16>,
    /// How long the exchange took (responses).
    pub duration_ms: Option<u64>,
    pub headers: Vec<(String, String)>,
    pub body: Option<String>,
}

/// An authorization in progress, as stored: found by the SHA-256 of its `state`, holding the
/// sealed state and PKCE verifier.
#[derive(Debug)]
pub struct PendingAuthorization {
    /// Hex SHA-256 of the `state` value.
    pub state_hash: String,
    pub connection: ConnectionId,
    /// The redirect URI sent with the authorize request (the token request repeats it).
    pub redirect_uri: String,
    /// The `state` value, sealed (AAD field `state`).
    pub sealed_state: Sealed,
    /// The PKCE verifier, sealed (AAD field `pkce_verifier`).
    pub sealed_verifier: Sealed,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
}

/// A connection's stored OAuth 2.0 tokens, still sealed.
#[derive(Debug, Default)]
pub struct TokenRecord {
    pub access_token: Option<StoredSecret>,
    pub refresh_token: Option<StoredSecret>,
    /// When the access token expires.
    pub access_token_expires_at: Option<OffsetDateTime>,
    /// Since when a refresh whose answer may have been lost is waiting to be finished.
    pub refresh_pending_since: Option<OffsetDateTime>,
}
