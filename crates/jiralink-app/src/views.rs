//! How connections and clients are shown to users and scripts (`--output json`, the REST
//! API). Secrets appear only as [`SecretStatus`]: whether one is set and when it changed.

use jiralink_domain::{Connection, ConnectionAuth, ConnectionState, OAuthClient, SecretMeta};
use serde::Serialize;
use time::OffsetDateTime;

/// The only thing ever shown about a secret.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct SecretStatus {
    pub set: bool,
    #[serde(with = "time::serde::rfc3339::option")]
    pub updated_at: Option<OffsetDateTime>,
}

impl SecretStatus {
    fn of(meta: Option<&SecretMeta>) -> Self {
        Self {
            set: meta.is_some(),
            updated_at: meta.map(|m| m.updated_at),
        }
    }

    /// "set, updated <time>" or "not set".
    pub fn describe(&self) -> String {
        match self.updated_at {
            Some(t) if self.set => format!("set, updated {}", format_time(t)),
            _ => "not set".to_owned(),
        }
    }
}

/// A readable UTC time, e.g. `2026-11-28 17:40:03 UTC`.
pub fn format_time(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02} UTC",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OAuthClientRef {
    pub id: String,
    pub name: Option<String>,
}

/// A connection as users see it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConnectionView {
    #[serde(skip)]
    pub connection: Connection,
    pub id: String,
    pub name: String,
    pub api_type: &'static str,
    pub api_type_label: &'static str,
    pub subdomain: Option<String>,
    pub auth_type: &'static str,
    pub username: Option<String>,
    pub oauth_client: Option<OAuthClientRef>,
    pub scopes: Vec<String>,
    pub concurrency_level: u8,
    /// Whether requests Jira refuses for its rate limit are waited out and sent again.
    pub rate_limit_auto_recover: bool,
    /// How many times such a request is sent again at most.
    pub rate_limit_max_retries: u8,
    pub state: ConnectionState,
    #[serde(with = "time::serde::rfc3339::option")]
    pub state_changed_at: Option<OffsetDateTime>,
    /// When the connection was last tested.
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_tested_at: Option<OffsetDateTime>,
    /// The site's Atlassian cloud id, once known.
    pub cloud_id: Option<String>,
    /// Until when the connection debugger records requests (while it does).
    #[serde(with = "time::serde::rfc3339::option")]
    pub debug_until: Option<OffsetDateTime>,
    /// Present for Basic connections only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_token: Option<SecretStatus>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    /// A replace names the version it was made from.
    pub version: u64,
}

impl ConnectionView {
    pub fn new(connection: Connection, oauth_client_name: Option<String>) -> Self {
        let s = &connection.settings;
        let (auth_type, username, oauth_client, scopes, api_token) = match &s.auth {
            ConnectionAuth::Basic { username } => (
                "basic",
                Some(username.as_str().to_owned()),
                None,
                Vec::new(),
                Some(SecretStatus::of(connection.api_token.as_ref())),
            ),
            ConnectionAuth::OAuth2 { client, scopes } => (
                "oauth2",
                None,
                Some(OAuthClientRef {
                    id: client.to_string(),
                    name: oauth_client_name,
                }),
                scopes.iter().map(|s| s.to_string()).collect(),
                None,
            ),
        };
        Self {
            id: connection.id.to_string(),
            name: s.name.as_str().to_owned(),
            api_type: s.api_type.id(),
            api_type_label: s.api_type.label(),
            subdomain: s.subdomain.as_ref().map(|d| d.as_str().to_owned()),
            auth_type,
            username,
            oauth_client,
            scopes,
            concurrency_level: s.concurrency_level.get(),
            rate_limit_auto_recover: s.rate_limit.auto_recover,
            rate_limit_max_retries: s.rate_limit.max_retries,
            state: connection.state.clone(),
            state_changed_at: connection.state_changed_at,
            last_tested_at: connection.last_tested_at,
            cloud_id: connection.cloud_id.clone(),
            debug_until: connection.debug_until,
            api_token,
            created_at: connection.created_at,
            updated_at: connection.updated_at,
            version: connection.version,
            connection,
        }
    }

    /// When the connection was last tested, or "never".
    pub fn last_tested_text(&self) -> String {
        self.last_tested_at
            .map_or_else(|| "never".to_owned(), format_time)
    }

    /// "online", "offline: <reason>", … for tables.
    pub fn state_text(&self) -> String {
        match &self.state {
            ConnectionState::Untested => "not tested yet".to_owned(),
            ConnectionState::Online => "online".to_owned(),
            ConnectionState::Offline { reason } => format!("offline: {reason}"),
            ConnectionState::NeedsAuthorization => "needs authorization".to_owned(),
        }
    }
}

/// An OAuth 2.0 client as users see it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OAuthClientView {
    pub id: String,
    pub name: String,
    pub client_id: String,
    pub client_secret: SecretStatus,
    /// The URL to register in Atlassian's developer console.
    pub callback_url: String,
    /// Names of the connections using this client.
    pub used_by: Vec<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    /// A replace names the version it was made from.
    pub version: u64,
}

impl OAuthClientView {
    pub fn new(client: OAuthClient, callback_url: &url::Url, used_by: Vec<String>) -> Self {
        Self {
            id: client.id.to_string(),
            name: client.settings.name.as_str().to_owned(),
            client_id: client.settings.client_id,
            client_secret: SecretStatus::of(client.client_secret.as_ref()),
            callback_url: callback_url.to_string(),
            used_by,
            created_at: client.created_at,
            updated_at: client.updated_at,
            version: client.version,
        }
    }
}
