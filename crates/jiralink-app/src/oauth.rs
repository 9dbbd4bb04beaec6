//! OAuth 2.0 (3LO) for connections: authorize, callback, token refresh and disconnect.
//!
//! Invariants:
//! - `state` has 256 random bits, is stored only sealed (found by its SHA-256), lives ten
//!   minutes, is deleted in the statement that reads it and is compared in constant time
//!   before the `code` is touched.
//! - Tokens are sealed before they are written; the rotated refresh token is committed before
//!   the access token that came with it is handed out.
//! - Refresh is single-flight: a per-connection async mutex inside the process, and the
//!   store's token lock (a write transaction) across processes sharing the database.
//! - Refresh happens shortly before expiry ([`REFRESH_MARGIN`]), not after a failure.
//!   `invalid_grant` puts the connection offline ("re-authorization required") and is never
//!   retried. A token response lost before it was saved is recovered by presenting the old
//!   refresh token again, which Atlassian tolerates for ten minutes.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use jiralink_atlassian::oauth::{self, TokenEndpoint, TokenResponse};
use jiralink_atlassian::{AccessibleResource, AtlassianError, TokenSource};
use jiralink_domain::{
    ApiType, AuditAction, AuditEntry, Connection, ConnectionAuth, ConnectionId, ConnectionState,
    FieldChange, ResourceKind,
};
use jiralink_store::{PendingAuthorization, SecretField, SecretOwner, SecretWrite, StoredSecret};
use jiralink_vault::{Aad, AccessToken, OAuthState, PkceVerifier, RefreshToken, Sealed};
use serde::Serialize;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::{Actor, App, AppError, AppResult};

/// How long an authorization may take between the authorize URL and the callback.
pub const STATE_LIFETIME: time::Duration = time::Duration::minutes(10);
/// Access tokens are refreshed when they expire within this margin.
pub const REFRESH_MARGIN: time::Duration = time::Duration::seconds(60);
/// The reason an offline connection shows when its grant is gone.
pub const REAUTHORIZATION_REQUIRED: &str =
    "re-authorization required: Atlassian no longer accepts the connection's refresh token";

const STATE_RECORD: &str = "oauth_state";

/// Where to send the user's browser.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthorizationStart {
    pub url: url::Url,
    /// The redirect URI the callback must arrive at.
    pub redirect_uri: url::Url,
    #[serde(with = "time::serde::rfc3339")]
    pub state_expires_at: OffsetDateTime,
}

/// The query parameters of a callback, as received.
#[derive(Debug, Clone, Default)]
pub struct CallbackParams {
    pub code: Option<String>,
    pub state: Option<String>,
    pub error: Option<String>,
    pub error_description: Option<String>,
}

impl CallbackParams {
    /// Reads the parameters of a callback URL's query.
    pub fn from_query(query: &str) -> Self {
        let mut params = Self::default();
        for (k, v) in url::form_urlencoded::parse(query.as_bytes()) {
            let slot = match &*k {
                "code" => &mut params.code,
                "state" => &mut params.state,
                "error" => &mut params.error,
                "error_description" => &mut params.error_description,
                _ => continue,
            };
            if slot.is_none() {
                *slot = Some(v.into_owned());
            }
        }
        params
    }
}

/// A site the user granted, for choosing one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GrantedSite {
    pub cloud_id: String,
    pub name: String,
    pub url: String,
}

/// Picks one of several granted sites (Customer Service Management), by index.
pub type SiteChooser<'a> = &'a (dyn Fn(&[GrantedSite]) -> Option<usize> + Send + Sync);

/// A completed authorization.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthorizationOutcome {
    pub connection: String,
    pub site_url: String,
    pub cloud_id: String,
    pub scopes: Option<String>,
    /// Scopes the connection asks for that Atlassian did not grant (the app in the developer
    /// console lacks them); calls that need them will be refused.
    pub missing_scopes: Vec<String>,
    pub state: ConnectionState,
}

impl App {
    fn seal_for(&self, kind: &str, id: &str, field: &str, value: &str) -> AppResult<Sealed> {
        let aad = Aad {
            record_kind: kind,
            record_id: id,
            field,
        };
        Ok(self.keyring().seal(value.as_bytes(), &aad)?)
    }

    fn open_for(&self, kind: &str, id: &str, field: &str, sealed: &Sealed) -> AppResult<String> {
        let aad = Aad {
            record_kind: kind,
            record_id: id,
            field,
        };
        let text = self.keyring().open_string(sealed, &aad)?;
        Ok(text.as_str().to_owned())
    }

    fn seal_token(
        &self,
        id: ConnectionId,
        field: SecretField,
        value: &str,
    ) -> AppResult<SecretWrite> {
        let owner = SecretOwner::Connection(id);
        let sealed = self.seal_for(owner.kind(), &id.to_string(), field.as_str(), value)?;
        Ok(SecretWrite { field, sealed })
    }

    fn open_token(&self, id: ConnectionId, stored: &StoredSecret) -> AppResult<String> {
        self.open_for(
            SecretOwner::Connection(id).kind(),
            &id.to_string(),
            stored.field.as_str(),
            &stored.sealed,
        )
    }

    fn oauth_parts(
        connection: &Connection,
    ) -> AppResult<(jiralink_domain::OAuthClientId, Vec<String>)> {
        match &connection.settings.auth {
            ConnectionAuth::OAuth2 { client, scopes } => Ok((*client, scopes.requested())),
            ConnectionAuth::Basic { .. } => Err(AppError::InvalidInput(format!(
                "the connection {:?} uses Basic auth; only OAuth 2.0 connections are authorized",
                connection.settings.name.as_str()
            ))),
        }
    }

    /// Starts authorizing an OAuth 2.0 connection: stores a fresh `state` and PKCE verifier
    /// and returns the Atlassian URL to open.
    pub async fn begin_authorization(&self, reference: &str) -> AppResult<AuthorizationStart> {
        let connection = self.find_connection(reference).await?;
        let (client_id, scopes) = Self::oauth_parts(&connection)?;
        let client = self.store().get_oauth_client(client_id).await?;
        let state = oauth::new_state();
        let verifier = oauth::new_verifier();
        let redirect_uri = self.oauth_callback_url();
        let state_hash = oauth::state_lookup_key(&state);
        let now = self.now();
        let pending = PendingAuthorization {
            sealed_state: self.seal_for(STATE_RECORD, &state_hash, "state", state.expose())?,
            sealed_verifier: self.seal_for(
                STATE_RECORD,
                &state_hash,
                "pkce_verifier",
                verifier.expose(),
            )?,
            state_hash,
            connection: connection.id,
            redirect_uri: redirect_uri.to_string(),
            created_at: now,
            expires_at: now + STATE_LIFETIME,
        };
        self.store().insert_pending_authorization(&pending).await?;
        let url = oauth::authorize_url(&oauth::AuthorizeRequest {
            auth_server: &self.config().atlassian.auth_server,
            client_id: &client.settings.client_id,
            scopes: &scopes,
            redirect_uri: &redirect_uri,
            state: &state,
            verifier: &verifier,
        });
        tracing::info!(connection = %connection.id, "authorization started");
        Ok(AuthorizationStart {
            url,
            redirect_uri,
            state_expires_at: pending.expires_at,
        })
    }

    /// Completes an authorization from the callback's query: checks `state`, exchanges the
    /// code, picks the site, seals the tokens and marks the connection online.
    pub async fn complete_authorization(
        &self,
        params: &CallbackParams,
        choose: SiteChooser<'_>,
        actor: &Actor,
    ) -> AppResult<AuthorizationOutcome> {
        let Some(state_text) = params.state.as_deref().filter(|s| !s.is_empty()) else {
            return Err(AppError::OAuthStateInvalid);
        };
        let presented = OAuthState::new(state_text);
        let now = self.now();
        let Some(pending) = self
            .store()
            .take_pending_authorization(&oauth::state_lookup_key(&presented), now)
            .await?
        else {
            return Err(AppError::OAuthStateInvalid);
        };
        let stored_state = OAuthState::new(self.open_for(
            STATE_RECORD,
            &pending.state_hash,
            "state",
            &pending.sealed_state,
        )?);
        if !stored_state.ct_eq(&presented) {
            return Err(AppError::OAuthStateInvalid);
        }
        let connection = self.store().get_connection(pending.connection).await?;
        let name = connection.settings.name.as_str().to_owned();
        if let Some(error) = &params.error {
            return Err(AppError::AuthorizationDenied {
                name,
                error: error.clone(),
                description: params.error_description.clone(),
            });
        }
        let Some(code) = params.code.as_deref().filter(|c| !c.is_empty()) else {
            return Err(AppError::Authorization(
                "the callback carried neither a code nor an error; start the authorization \
                 again"
                    .to_owned(),
            ));
        };
        let verifier = PkceVerifier::new(self.open_for(
            STATE_RECORD,
            &pending.state_hash,
            "pkce_verifier",
            &pending.sealed_verifier,
        )?);
        let (client_ref, requested) = Self::oauth_parts(&connection)?;
        let client = self.store().get_oauth_client(client_ref).await?;
        let secret = self.oauth_client_secret(client_ref).await?.ok_or_else(|| {
            AppError::Authorization(format!(
                "the OAuth 2.0 client {:?} has no client secret; enter it with `jiralink \
                 oauth-client edit`",
                client.settings.name.as_str()
            ))
        })?;
        let redirect_uri = url::Url::parse(&pending.redirect_uri)
            .map_err(|e| AppError::Authorization(format!("stored redirect URI: {e}")))?;
        let endpoint = TokenEndpoint {
            http: self.http_client(),
            auth_server: &self.config().atlassian.auth_server,
            client_id: &client.settings.client_id,
            client_secret: &secret,
        };
        let tokens = endpoint
            .exchange_code(code, &redirect_uri, &verifier, now)
            .await
            .map_err(|e| exchange_error(&e))?;
        let resources = self
            .granted_sites(&connection, &tokens.access_token)
            .await?;
        let site = self.pick_site(&connection, &resources, choose)?;
        let Some(refresh) = &tokens.refresh_token else {
            return Err(AppError::Authorization(
                "Atlassian returned no refresh token; the app must allow offline_access".to_owned(),
            ));
        };
        let writes = vec![
            self.seal_token(
                connection.id,
                SecretField::AccessToken,
                tokens.access_token.expose(),
            )?,
            self.seal_token(connection.id, SecretField::RefreshToken, refresh.expose())?,
        ];
        let audit = AuditEntry {
            id: Uuid::new_v4(),
            at: now,
            actor: actor.name.clone(),
            source: actor.source,
            action: AuditAction::Authorize,
            resource_kind: ResourceKind::Connection,
            resource_id: connection.id.0,
            resource_name: name.clone(),
            changes: vec![
                FieldChange {
                    field: "cloud_id".to_owned(),
                    before: connection.cloud_id.clone(),
                    after: Some(site.cloud_id.clone()),
                    secret: false,
                },
                FieldChange {
                    field: "oauth_tokens".to_owned(),
                    before: None,
                    after: Some("set".to_owned()),
                    secret: true,
                },
            ],
        };
        self.store()
            .save_authorization(
                connection.id,
                &writes,
                tokens.expires_at,
                &site.cloud_id,
                now,
                &audit,
            )
            .await?;
        tracing::info!(connection = %connection.id, "connection authorized");
        let missing_scopes = match &tokens.scope {
            Some(granted) => {
                let granted: Vec<&str> = granted.split_whitespace().collect();
                requested
                    .into_iter()
                    .filter(|s| !granted.contains(&s.as_str()))
                    .collect()
            }
            None => Vec::new(),
        };
        Ok(AuthorizationOutcome {
            connection: name,
            site_url: site.url,
            cloud_id: site.cloud_id,
            scopes: tokens.scope,
            missing_scopes,
            state: ConnectionState::Online,
        })
    }

    async fn granted_sites(
        &self,
        connection: &Connection,
        token: &AccessToken,
    ) -> AppResult<Vec<AccessibleResource>> {
        let base = jiralink_atlassian::ApiBase {
            site: None,
            platform: None,
            service_desk: None,
            csm: None,
            gateway: self.config().atlassian.api_gateway.clone(),
            cloud_id: None,
        };
        let client = jiralink_atlassian::JiraClient::builder(
            self.http_client().clone(),
            base,
            jiralink_atlassian::Credentials::Bearer(Arc::new(
                jiralink_atlassian::StaticToken::new(AccessToken::new(token.expose())),
            )),
        )
        .clock(self.clock())
        .observer(self.debug_observer(connection))
        .build();
        let sites = client.accessible_resources().await;
        self.flush_debug_lines().await;
        sites.map_err(|e| {
            tracing::warn!(connection = %connection.id, error = %e, "accessible-resources failed");
            AppError::Authorization(format!(
                "the granted sites could not be read ({e}); authorize again"
            ))
        })
    }

    fn pick_site(
        &self,
        connection: &Connection,
        resources: &[AccessibleResource],
        choose: SiteChooser<'_>,
    ) -> AppResult<GrantedSite> {
        let sites: Vec<GrantedSite> = resources
            .iter()
            .map(|r| GrantedSite {
                cloud_id: r.id.clone(),
                name: r.name.clone(),
                url: r.url.trim_end_matches('/').to_owned(),
            })
            .collect();
        let name = connection.settings.name.as_str().to_owned();
        match connection.settings.api_type {
            ApiType::CloudPlatform => {
                let wanted = connection
                    .settings
                    .subdomain
                    .as_ref()
                    .map(|s| self.config().atlassian.site_url(s))
                    .map(|u| u.as_str().trim_end_matches('/').to_owned())
                    .unwrap_or_default();
                sites
                    .iter()
                    .find(|s| s.url.eq_ignore_ascii_case(&wanted))
                    .cloned()
                    .ok_or(AppError::SiteNotGranted {
                        name,
                        site: wanted,
                        granted: sites.iter().map(|s| s.url.clone()).collect(),
                    })
            }
            ApiType::CustomerServiceManagement => match sites.len() {
                0 => Err(AppError::SiteNotGranted {
                    name,
                    site: "any site".to_owned(),
                    granted: Vec::new(),
                }),
                1 => Ok(sites[0].clone()),
                _ => choose(&sites).and_then(|i| sites.get(i).cloned()).ok_or(
                    AppError::SiteChoiceNeeded {
                        name,
                        granted: sites.iter().map(|s| s.url.clone()).collect(),
                    },
                ),
            },
        }
    }

    fn refresh_mutex(&self, id: ConnectionId) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self
            .inner
            .refresh_locks
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        Arc::clone(locks.entry(id).or_default())
    }

    /// A valid access token for an authorized OAuth 2.0 connection, refreshed first when it
    /// expires within [`REFRESH_MARGIN`].
    ///
    /// # Security
    /// The token must only go into an `Authorization` header.
    pub async fn connection_access_token(&self, id: ConnectionId) -> AppResult<AccessToken> {
        let mutex = self.refresh_mutex(id);
        let _one_refresh_per_process = mutex.lock().await;
        let fresh_until = self.now() + REFRESH_MARGIN;
        let record = self.store().read_tokens(id).await?;
        if let (Some(token), Some(expires)) = (&record.access_token, record.access_token_expires_at)
            && expires > fresh_until
        {
            return Ok(AccessToken::new(self.open_token(id, token)?));
        }
        // Everything the refresh needs from the database is read before the write lock: while
        // it is held, other processes wait on it within their busy timeout, and nothing but
        // the locked transaction itself may touch the database.
        let connection = self.store().get_connection(id).await?;
        let name = connection.settings.name.as_str().to_owned();
        if record.refresh_token.is_none() {
            return Err(Self::missing_tokens_error(&connection));
        }
        let (client_ref, _) = Self::oauth_parts(&connection)?;
        let client = self.store().get_oauth_client(client_ref).await?;
        let secret = self.oauth_client_secret(client_ref).await?.ok_or_else(|| {
            AppError::Authorization(format!(
                "the OAuth 2.0 client {:?} has no client secret; enter it with `jiralink \
                 oauth-client edit`",
                client.settings.name.as_str()
            ))
        })?;
        let lock = self.store().lock_tokens(id).await?;
        let record = lock.tokens();
        // Another process may have refreshed while this one waited for the lock.
        if let (Some(token), Some(expires)) = (&record.access_token, record.access_token_expires_at)
            && expires > fresh_until
        {
            return Ok(AccessToken::new(self.open_token(id, token)?));
        }
        let Some(stored_refresh) = &record.refresh_token else {
            // Disconnected or revoked by another process meanwhile.
            drop(lock);
            let connection = self.store().get_connection(id).await?;
            return Err(Self::missing_tokens_error(&connection));
        };
        let refresh = RefreshToken::new(self.open_token(id, stored_refresh)?);
        // The request's own timeout (`oauth::TOKEN_REQUEST_TIMEOUT`) is shorter than the
        // store's busy timeout, so a hung authorization server cannot make waiting processes
        // fail with "database is locked".
        let endpoint = TokenEndpoint {
            http: self.http_client(),
            auth_server: &self.config().atlassian.auth_server,
            client_id: &client.settings.client_id,
            client_secret: &secret,
        };
        let now = self.now();
        match endpoint.refresh(&refresh, now).await {
            Ok(tokens) => {
                let writes = self.token_writes(id, &tokens)?;
                lock.commit_tokens(&writes, tokens.expires_at, now).await?;
                tracing::info!(connection = %id, "access token refreshed");
                Ok(tokens.access_token)
            }
            Err(e) if oauth::is_invalid_grant(&e) => {
                let state = ConnectionState::Offline {
                    reason: REAUTHORIZATION_REQUIRED.to_owned(),
                };
                lock.commit_revoked(&state, now).await?;
                tracing::warn!(connection = %id, "refresh token refused; connection offline");
                Err(AppError::ReauthorizationRequired { name })
            }
            Err(e) => {
                drop(lock);
                tracing::warn!(connection = %id, error = %e, "token refresh failed");
                Err(AppError::TokenRefresh(e))
            }
        }
    }

    /// The error for an OAuth 2.0 connection without tokens: re-authorization when Atlassian
    /// refused its refresh token, plain authorization when it never had any or was
    /// disconnected.
    fn missing_tokens_error(connection: &Connection) -> AppError {
        let name = connection.settings.name.as_str().to_owned();
        match &connection.state {
            ConnectionState::Offline { reason } if reason == REAUTHORIZATION_REQUIRED => {
                AppError::ReauthorizationRequired { name }
            }
            _ => AppError::ConnectionNeedsAuthorization { name },
        }
    }

    fn token_writes(
        &self,
        id: ConnectionId,
        tokens: &TokenResponse,
    ) -> AppResult<Vec<SecretWrite>> {
        let mut writes =
            vec![self.seal_token(id, SecretField::AccessToken, tokens.access_token.expose())?];
        if let Some(refresh) = &tokens.refresh_token {
            writes.push(self.seal_token(id, SecretField::RefreshToken, refresh.expose())?);
        }
        Ok(writes)
    }

    /// Whether the connection holds tokens (it was authorized and not disconnected since).
    pub async fn connection_has_tokens(&self, id: ConnectionId) -> AppResult<bool> {
        Ok(self.store().read_tokens(id).await?.refresh_token.is_some())
    }

    /// The [`TokenSource`] of an OAuth 2.0 connection, for [`jiralink_atlassian::JiraClient`].
    pub fn token_source(&self, id: ConnectionId) -> Arc<dyn TokenSource> {
        Arc::new(ConnectionTokens {
            app: self.clone(),
            id,
        })
    }

    /// A client for a saved connection: Basic credentials on the site, or this process's
    /// refreshing [`TokenSource`] through the API gateway with the stored cloud id.
    pub async fn jira_client(&self, reference: &str) -> AppResult<jiralink_atlassian::JiraClient> {
        let connection = self.usable_connection(reference).await?;
        let (route, credentials) =
            match &connection.settings.auth {
                ConnectionAuth::OAuth2 { .. } => {
                    if !self.connection_has_tokens(connection.id).await? {
                        return Err(Self::missing_tokens_error(&connection));
                    }
                    (
                        jiralink_atlassian::AuthRoute::OAuth2,
                        jiralink_atlassian::Credentials::Bearer(self.token_source(connection.id)),
                    )
                }
                ConnectionAuth::Basic { username } => {
                    let token = self.connection_api_token(connection.id).await?.ok_or_else(|| {
                    AppError::InvalidInput(format!(
                        "no API token is stored for {:?}; enter it with `jiralink connection \
                         edit`",
                        connection.settings.name.as_str()
                    ))
                })?;
                    (
                        jiralink_atlassian::AuthRoute::BasicClassic,
                        jiralink_atlassian::Credentials::basic(username.clone(), token),
                    )
                }
            };
        let base = jiralink_atlassian::ApiBase::for_settings(
            &self.config().atlassian,
            &connection.settings,
            route,
            connection.cloud_id.as_deref(),
        )
        .map_err(|e| AppError::InvalidInput(e.to_string()))?;
        let limiter = jiralink_atlassian::ConcurrencyRegistry::global()
            .limiter(connection.id, connection.settings.concurrency_level);
        Ok(
            jiralink_atlassian::JiraClient::builder(self.http_client().clone(), base, credentials)
                .clock(self.clock())
                .limiter(limiter)
                .observer(self.debug_observer(&connection))
                .build(),
        )
    }

    /// Forgets a connection's tokens: it needs authorizing again before it can be used.
    pub async fn disconnect_connection(&self, reference: &str, actor: &Actor) -> AppResult<bool> {
        let connection = self.find_connection(reference).await?;
        Self::oauth_parts(&connection)?;
        let audit = AuditEntry {
            id: Uuid::new_v4(),
            at: self.now(),
            actor: actor.name.clone(),
            source: actor.source,
            action: AuditAction::Update,
            resource_kind: ResourceKind::Connection,
            resource_id: connection.id.0,
            resource_name: connection.settings.name.as_str().to_owned(),
            changes: vec![FieldChange {
                field: "oauth_tokens".to_owned(),
                before: Some("set".to_owned()),
                after: Some("removed".to_owned()),
                secret: true,
            }],
        };
        let mutex = self.refresh_mutex(connection.id);
        let _no_refresh_meanwhile = mutex.lock().await;
        let had = self
            .store()
            .forget_tokens(
                connection.id,
                &ConnectionState::NeedsAuthorization,
                self.now(),
                &audit,
            )
            .await?;
        tracing::info!(connection = %connection.id, "connection disconnected");
        Ok(had)
    }
}

fn exchange_error(e: &AtlassianError) -> AppError {
    if oauth::is_invalid_grant(e) {
        return AppError::Authorization(
            "Atlassian refused the authorization code: it was already used, expired (codes \
             live ten minutes) or belongs to another client; start the authorization again"
                .to_owned(),
        );
    }
    AppError::Authorization(format!(
        "the authorization code could not be exchanged ({e}); check the OAuth 2.0 client's id \
         and secret, then authorize again"
    ))
}

/// Only a missing or refused grant is a failure of the credentials (which takes the
/// connection offline); a refresh that failed on the way (network, a 5xx, a timeout) keeps
/// its own kind, and trouble on this side (storage, vault) says nothing about the connection.
fn token_source_error(error: AppError) -> AtlassianError {
    match error {
        AppError::ReauthorizationRequired { .. }
        | AppError::ConnectionNeedsAuthorization { .. } => AtlassianError::Credentials {
            message: error.to_string(),
        },
        AppError::TokenRefresh(e) => e,
        other => AtlassianError::TokenUnavailable {
            message: other.to_string(),
        },
    }
}

// A refresh's token request runs under the store's write lock, which other processes wait
// for only as long as the busy timeout: the request must give up first, with room to commit.
const _: () = assert!(
    oauth::TOKEN_REQUEST_TIMEOUT.as_millis() * 2 <= jiralink_store::BUSY_TIMEOUT.as_millis()
);

/// The per-connection refresh locks of a process.
pub(crate) type RefreshLocks = Mutex<HashMap<ConnectionId, Arc<tokio::sync::Mutex<()>>>>;

/// Access tokens of one connection, refreshed by the application.
struct ConnectionTokens {
    app: App,
    id: ConnectionId,
}

impl std::fmt::Debug for ConnectionTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectionTokens")
            .field("connection", &self.id)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl TokenSource for ConnectionTokens {
    async fn access_token(&self) -> Result<AccessToken, AtlassianError> {
        self.app
            .connection_access_token(self.id)
            .await
            .map_err(token_source_error)
    }

    async fn rejected(&self, token: &AccessToken) -> Result<bool, AtlassianError> {
        // Refreshing after a 401 would hide a revoked grant behind a retry; only a token
        // that another caller already replaced is worth sending again.
        let record = self
            .app
            .store()
            .read_tokens(self.id)
            .await
            .map_err(|e| token_source_error(e.into()))?;
        let Some(current) = record.access_token else {
            return Ok(false);
        };
        let current = self
            .app
            .open_token(self.id, &current)
            .map_err(token_source_error)?;
        Ok(!AccessToken::new(current).ct_eq(token))
    }
}

#[cfg(test)]
mod tests {
    use pretty_assertions::assert_eq;

    use super::*;

    #[test]
    fn callback_params_take_the_first_value_of_each() {
        let p = CallbackParams::from_query("code=c1&state=s%2B1&code=c2&other=x");
        assert_eq!(p.code.as_deref(), Some("c1"));
        assert_eq!(p.state.as_deref(), Some("s+1"));
        assert_eq!(p.error, None);
        let e = CallbackParams::from_query("error=access_denied&error_description=no&state=s");
        assert_eq!(e.error.as_deref(), Some("access_denied"));
        assert_eq!(e.error_description.as_deref(), Some("no"));
    }
}
