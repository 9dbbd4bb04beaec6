//! The store's own vocabulary for sealed secrets.

use jiralink_domain::{Connection, ConnectionId, ConnectionState, OAuthClientId};
use jiralink_vault::Sealed;
use time::OffsetDateTime;

/// Which record a secret belongs to. With [`SecretField`] it forms the AAD that binds a
/// sealed value to its row, so both must stay stable forever (they are never display names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SecretOwner {
    Connection(ConnectionId),
    OAuthClient(OAuthClientId),
    /// A listener's webhook secret (admin webhooks sign deliveries with it).
    Listener(uuid::Uuid),
    /// The installation's one outgoing notification webhook (its id is the nil uuid).
    NotificationWebhook,
}

impl SecretOwner {
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Connection(_) => "connection",
            Self::OAuthClient(_) => "oauth_client",
            Self::Listener(_) => "listener",
            Self::NotificationWebhook => "notification_webhook",
        }
    }

    pub fn id(&self) -> uuid::Uuid {
        match self {
            Self::Connection(id) => id.0,
            Self::OAuthClient(id) => id.0,
            Self::Listener(id) => *id,
            Self::NotificationWebhook => uuid::Uuid::nil(),
        }
    }

    pub(crate) fn parse(kind: &str, id: &str) -> Option<Self> {
        let id = uuid::Uuid::parse_str(id).ok()?;
        match kind {
            "connection" => Some(Self::Connection(ConnectionId(id))),
            "oauth_client" => Some(Self::OAuthClient(OAuthClientId(id))),
            "listener" => Some(Self::Listener(id)),
            "notification_webhook" if id.is_nil() => Some(Self::NotificationWebhook),
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
    /// The secret an admin webhook signs its deliveries with.
    WebhookSecret,
    /// The key of the notification webhook's `X-Jiralink-Signature`.
    SigningSecret,
}

impl SecretField {
    pub const ALL: [SecretField; 6] = [
        Self::ApiToken,
        Self::ClientSecret,
        Self::AccessToken,
        Self::RefreshToken,
        Self::WebhookSecret,
        Self::SigningSecret,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            Self::ApiToken => "api_token",
            Self::ClientSecret => "client_secret",
            Self::AccessToken => "access_token",
            Self::RefreshToken => "refresh_token",
            Self::WebhookSecret => "webhook_secret",
            Self::SigningSecret => "signing_secret",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.as_str() == s)
    }
}

impl From<jiralink_domain::ConnectionSecret> for SecretField {
    fn from(s: jiralink_domain::ConnectionSecret) -> Self {
        match s {
            jiralink_domain::ConnectionSecret::ApiToken => Self::ApiToken,
            jiralink_domain::ConnectionSecret::AccessToken => Self::AccessToken,
            jiralink_domain::ConnectionSecret::RefreshToken => Self::RefreshToken,
        }
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

/// An edit of a connection's settings, made from the version it names.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionUpdate<'a> {
    /// The new settings and `updated_at`; its `version` is the one the edit was made from.
    pub connection: &'a Connection,
    /// Whether the edit moves the connection to `connection.state` (new credentials, or a
    /// grant that no longer fits the settings). Otherwise the stored state stays as it is,
    /// whatever tests or token refreshes wrote meanwhile.
    pub set_state: bool,
    /// Whether the edit names another site, whose cloud id is not known yet.
    pub clear_cloud_id: bool,
}

/// The result of asking for a connection's refresh lease.
#[derive(Debug)]
pub enum RefreshLease {
    /// The lease is the caller's until the time it asked for: these are the tokens as they
    /// were when it was taken. Only the holder may store what the refresh yields.
    Acquired(TokenRecord),
    /// Another holder is refreshing, until `until` at the latest.
    Held {
        holder: String,
        until: OffsetDateTime,
    },
}

/// What a refresh under a lease ended with.
#[derive(Debug, Clone, Copy)]
pub enum RefreshOutcome<'a> {
    /// New tokens: stored, with the access token's expiry.
    Tokens {
        tokens: &'a [SecretWrite],
        access_token_expires_at: OffsetDateTime,
    },
    /// The grant is gone: the tokens are deleted and the connection moves to `state`.
    Revoked { state: &'a ConnectionState },
    /// No answer (Atlassian may have rotated the refresh token): the tokens stay, marked as
    /// waiting for a refresh since `since` (an earlier mark is kept).
    Pending { since: OffsetDateTime },
    /// Nothing to store; the lease is given back.
    Released,
}

/// Whether a sign-in attempt may go on to check the password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignInAttempt {
    /// Counted as a failure until a success clears it.
    Counted,
    /// Too many recent attempts: nothing was counted. Their times, oldest first.
    Throttled { recent: Vec<OffsetDateTime> },
}
