//! jiralink's domain model: connections to Jira, OAuth 2.0 clients, their validation, the scope
//! catalogue, the endpoints of Atlassian's services, where a connection's requests go, the
//! "HTTP view" of a connection and the request its test sends.
//!
//! This crate is a leaf: no I/O, no async runtime, no database and no HTTP client. Its
//! invariants:
//! - No secret (API token, client secret, OAuth token) ever enters a domain type. Drafts only
//!   say whether a usable secret was entered ([`SecretEntry`]: missing, too long or entered);
//!   stored resources only know when it was last set ([`SecretMeta`]).
//! - User input reaches stored settings only through [`ConnectionDraft::validate`] and
//!   [`OAuthClientDraft::validate`], which report every problem at once, field by field, each
//!   with what to do ([`ValidationErrors`]).
//! - Value types ([`Subdomain`], [`Email`], [`ConnectionName`], [`ConcurrencyLevel`],
//!   [`ScopeSet`]) are valid by construction; deserialising them checks again.
//! - Time is read, and waited for, only through a [`Clock`].
//!
//! Each module documents its own invariants.

pub mod api_type;
pub mod audit;
pub mod auth;
pub mod clock;
pub mod concurrency;
pub mod connection;
pub mod email;
pub mod endpoints;
pub mod error;
pub mod http_view;
pub mod ids;
pub mod name;
pub mod normalised;
pub mod oauth_client;
pub mod probe;
pub mod rate_limit;
pub mod route;
pub mod scope;
pub mod secret_entry;
pub mod subdomain;
mod text;
pub mod validation;

pub use api_type::ApiType;
pub use audit::{
    AuditAction, AuditEntry, AuditSource, FieldChange, ResourceKind, diff_connection,
    diff_oauth_client,
};
pub use auth::{AuthType, ConnectionAuth};
pub use clock::{Clock, ManualClock, Sleep};
pub use concurrency::ConcurrencyLevel;
pub use connection::{
    Connection, ConnectionDraft, ConnectionSecret, ConnectionSettings, ConnectionState, SecretMeta,
    ValidConnection, ValidationContext,
};
pub use email::Email;
pub use endpoints::AtlassianEndpoints;
pub use error::DomainError;
pub use http_view::HttpView;
pub use ids::{ConnectionId, OAuthClientId};
pub use name::{
    ConnectionName, RefusedChar, ResourceName, check_visible, is_text_direction_control,
    refused_char,
};
pub use normalised::Normalised;
pub use oauth_client::{
    OAuthClient, OAuthClientContext, OAuthClientDraft, OAuthClientSettings, callback_url,
};
pub use probe::{ProbeApi, ProbeRequest, choose_probe};
pub use rate_limit::RateLimitHandling;
pub use route::{ApiRoot, AuthRoute, RootUnknown};
pub use scope::{OFFLINE_ACCESS, ParsedScopes, ScopeInfo, ScopeSet, catalogue};
pub use secret_entry::{
    MAX_SECRET_CHARS, SecretEntry, too_long_message as secret_too_long_message,
};
pub use subdomain::Subdomain;
pub use validation::{Field, FieldError, ValidationErrors};
