//! OAuth 2.0 (3LO) for connections: authorize, callback, token refresh and disconnect.
//!
//! Invariants:
//! - `state` has 256 random bits, is stored only sealed (found by its SHA-256), lives ten
//!   minutes, is deleted in the statement that reads it and is compared in constant time
//!   before the `code` is touched.
//! - Tokens are sealed before they are written; the rotated refresh token is committed before
//!   the access token that came with it is handed out.
//! - Refresh is single-flight: a per-connection async mutex inside the process, and the
//!   store's refresh lease across processes sharing the database. No database lock or
//!   transaction is held while the token request is on the wire.
//! - Refresh happens shortly before expiry ([`REFRESH_MARGIN`]), not after a failure.
//!   `invalid_grant` puts the connection offline ("re-authorization required") and is never
//!   retried; a refused client (`invalid_client`) puts it offline until the client is edited.
//! - A refresh without an answer (timeout, reset, 5xx) may have rotated the token on
//!   Atlassian's side, which accepts the old refresh token again for ten minutes only: it is
//!   sent again a few times under the same lock, and if it still has no answer the tokens are
//!   marked `refresh_pending_since`, so the next use, or the re-test loop (also right after a
//!   restart), finishes the refresh before the leeway runs out.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use jiralink_atlassian::oauth::{self, TokenEndpoint, TokenResponse};
use jiralink_atlassian::{AccessibleResource, AtlassianError, TokenSource, TransportKind};
use jiralink_domain::{
    ApiType, AuditAction, AuditEntry, Connection, ConnectionAuth, ConnectionId, ConnectionState,
    FieldChange, OAuthClient, ResourceKind,
};
use jiralink_store::{
    PendingAuthorization, RefreshLease, RefreshOutcome, SecretField, SecretOwner, SecretWrite,
    StoredSecret, TokenRecord,
};
use jiralink_vault::{AccessToken, OAuthState, PkceVerifier, RefreshToken};
use serde::Serialize;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::client::{CredentialSource, Purpose};
use crate::secrets::SealOwner;
use crate::{Actor, App, AppError, AppResult};

/// How long an authorization may take between the authorize URL and the callback.
pub const STATE_LIFETIME: time::Duration = time::Duration::minutes(10);
/// Access tokens are refreshed when they expire within this margin.
pub const REFRESH_MARGIN: time::Duration = time::Duration::seconds(60);
/// The reason an offline connection shows when Atlassian refused its OAuth 2.0 client.
pub const CLIENT_CREDENTIALS_WRONG: &str =
    "the OAuth 2.0 client's ID or secret is wrong: edit the client";
/// Waits before sending a refresh again that got no answer, within the refresh lease.
pub const REFRESH_RETRY_WAITS: [std::time::Duration; 3] = [
    std::time::Duration::from_millis(250),
    std::time::Duration::from_millis(500),
    std::time::Duration::from_secs(1),
];
/// How long a refresh lease is taken for: far longer than the token requests of one refresh,
/// far shorter than the ten minutes Atlassian accepts an old refresh token again, so a holder
/// that dies mid-refresh is taken over while the old token still works.
pub const REFRESH_LEASE: std::time::Duration = std::time::Duration::from_secs(60);
/// How often a caller waiting for another server's refresh looks for its result.
const LEASE_POLL: std::time::Duration = std::time::Duration::from_millis(100);
/// Time kept, within the lease, for storing the result after the last token request.
const COMMIT_ROOM: std::time::Duration = std::time::Duration::from_secs(5);
/// The reason an offline connection shows when its grant is gone.
pub const REAUTHORIZATION_REQUIRED: &str =
    "re-authorization required: Atlassian no longer accepts the connection's refresh token";

/// Where to send the user's browser.
#[derive(Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthorizationStart {
    pub url: url::Url,
    /// The redirect URI the callback must arrive at.
    pub redirect_uri: url::Url,
    #[serde(with = "time::serde::rfc3339")]
    pub state_expires_at: OffsetDateTime,
}

/// The query parameters of a callback, as received.
#[derive(Clone, Default)]
pub struct CallbackParams {
    pub code: Option<String>,
    pub state: Option<String>,
    pub error: Option<String>,
    pub error_description: Option<String>,
}

// The authorization's `state` and code are secrets until the callback has used them: anything
// that formats these values (a log line, a panic's message) shows that they are there, not
// what they are. The URL is handed to the user's browser whole, by its own field.
impl std::fmt::Debug for AuthorizationStart {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut url = self.url.clone();
        let pairs: Vec<(String, String)> = self
            .url
            .query_pairs()
            .map(|(k, v)| {
                let shown = if k == "state" { "[redacted]".into() } else { v };
                (k.into_owned(), shown.into_owned())
            })
            .collect();
        url.query_pairs_mut().clear().extend_pairs(pairs);
        f.debug_struct("AuthorizationStart")
            .field("url", &url.as_str())
            .field("redirect_uri", &self.redirect_uri.as_str())
            .field("state_expires_at", &self.state_expires_at)
            .finish()
    }
}

impl std::fmt::Debug for CallbackParams {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let shown = |v: &Option<String>| v.as_ref().map(|_| "[redacted]");
        f.debug_struct("CallbackParams")
            .field("code", &shown(&self.code))
            .field("state", &shown(&self.state))
            .field("error", &self.error)
            .field("error_description", &self.error_description)
            .finish()
    }
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
    fn seal_token(
        &self,
        id: ConnectionId,
        field: SecretField,
        value: &str,
    ) -> AppResult<SecretWrite> {
        self.seal_secret(SecretOwner::Connection(id), field, value)
    }

    fn open_token(&self, id: ConnectionId, stored: &StoredSecret) -> AppResult<String> {
        let text = self.open_sealed(
            SecretOwner::Connection(id),
            stored.field.as_str(),
            &stored.sealed,
        )?;
        Ok(text.as_str().to_owned())
    }

    fn oauth_parts(
        connection: &Connection,
    ) -> AppResult<(jiralink_domain::OAuthClientId, Vec<String>)> {
        match &connection.settings.auth {
            ConnectionAuth::OAuth2 { client, scopes } => Ok((*client, scopes.requested())),
            ConnectionAuth::Basic { .. } => Err(AppError::InvalidInput(
                "the connection uses Basic auth; only OAuth 2.0 connections are authorized"
                    .to_owned(),
            )),
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
            sealed_state: self.seal(SealOwner::OAuthState(&state_hash), "state", state.expose())?,
            sealed_verifier: self.seal(
                SealOwner::OAuthState(&state_hash),
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
        let stored_state = OAuthState::new(
            self.open_sealed(
                SealOwner::OAuthState(&pending.state_hash),
                "state",
                &pending.sealed_state,
            )?
            .as_str(),
        );
        if !stored_state.ct_eq(&presented) {
            return Err(AppError::OAuthStateInvalid);
        }
        let connection = self.store().get_connection(pending.connection).await?;
        let name = connection.settings.name.as_str().to_owned();
        if let Some(error) = &params.error {
            return Err(provider_error(
                name,
                error,
                params.error_description.clone(),
            ));
        }
        let Some(code) = params.code.as_deref().filter(|c| !c.is_empty()) else {
            return Err(AppError::Authorization(
                "the callback carried neither a code nor an error; start the authorization \
                 again"
                    .to_owned(),
            ));
        };
        let verifier = PkceVerifier::new(
            self.open_sealed(
                SealOwner::OAuthState(&pending.state_hash),
                "pkce_verifier",
                &pending.sealed_verifier,
            )?
            .as_str(),
        );
        let (client_ref, requested) = Self::oauth_parts(&connection)?;
        let client = self.store().get_oauth_client(client_ref).await?;
        let secret = self.oauth_client_secret(client_ref).await?.ok_or_else(|| {
            AppError::Authorization(
                "the OAuth 2.0 client has no client secret; enter it again in the client's \
                 settings"
                    .to_owned(),
            )
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
        self.connection_state_changed(connection.id).await;
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
        let client = self
            .client_for(
                &connection.settings,
                Some(connection),
                CredentialSource::AccessToken(AccessToken::new(token.expose())),
                Purpose::Authorization,
            )
            .await?;
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
    /// expires within [`REFRESH_MARGIN`] or when an earlier refresh may have lost its answer.
    ///
    /// # Security
    /// The token must only go into an `Authorization` header.
    pub async fn connection_access_token(&self, id: ConnectionId) -> AppResult<AccessToken> {
        self.access_token_refreshed_after(id, None).await
    }

    /// Like [`App::connection_access_token`], but also refreshes when the tokens were last
    /// obtained at or before `cutoff`: using the refresh token keeps the grant alive
    /// (Atlassian drops refresh tokens unused for 90 days).
    pub(crate) async fn access_token_refreshed_after(
        &self,
        id: ConnectionId,
        cutoff: Option<OffsetDateTime>,
    ) -> AppResult<AccessToken> {
        let mutex = self.refresh_mutex(id);
        let _one_refresh_per_process = mutex.lock().await;
        let clock = self.clock();
        let (record, connection, client, secret) = loop {
            let fresh_until = self.now() + REFRESH_MARGIN;
            let record = self.store().read_tokens(id).await?;
            if let Some(token) = usable_token(&record, fresh_until, cutoff) {
                return Ok(AccessToken::new(self.open_token(id, token)?));
            }
            let connection = self.store().get_connection(id).await?;
            if record.refresh_token.is_none() {
                return Err(Self::missing_tokens_error(&connection));
            }
            let (client_ref, _) = Self::oauth_parts(&connection)?;
            let client = self.store().get_oauth_client(client_ref).await?;
            if client_still_rejected(&connection, &client) {
                return Err(AppError::OAuthClientRejected {
                    name: connection.settings.name.as_str().to_owned(),
                    client: client.settings.name.as_str().to_owned(),
                });
            }
            let secret = self.oauth_client_secret(client_ref).await?.ok_or_else(|| {
                AppError::Authorization(
                    "the OAuth 2.0 client has no client secret; enter it again in the client's \
                     settings"
                        .to_owned(),
                )
            })?;
            let now = self.now();
            match self
                .store()
                .lease_refresh(id, self.holder(), now, now + REFRESH_LEASE)
                .await?
            {
                // Another server is refreshing: its result is read as soon as it is stored
                // (or, should it die, the lease runs out and this one refreshes).
                RefreshLease::Held { .. } => clock.sleep(LEASE_POLL).await,
                RefreshLease::Acquired(record) => {
                    // Another server may have refreshed just before the lease was free.
                    if let Some(token) = usable_token(&record, fresh_until, cutoff) {
                        self.store()
                            .finish_refresh(id, self.holder(), RefreshOutcome::Released, now)
                            .await?;
                        return Ok(AccessToken::new(self.open_token(id, token)?));
                    }
                    break (record, connection, client, secret);
                }
            }
        };
        self.refresh_under_lease(&record, &connection, &client, &secret)
            .await
    }

    /// Sends the refresh with the lease held and no database transaction open, and stores
    /// what it ends with (giving the lease back).
    async fn refresh_under_lease(
        &self,
        record: &TokenRecord,
        connection: &Connection,
        client: &OAuthClient,
        secret: &jiralink_vault::ClientSecret,
    ) -> AppResult<AccessToken> {
        let id = connection.id;
        let name = connection.settings.name.as_str().to_owned();
        let client_name = client.settings.name.as_str().to_owned();
        let refresh = match &record.refresh_token {
            Some(stored) => RefreshToken::new(self.open_token(id, stored)?),
            None => {
                // Disconnected or revoked by another server meanwhile.
                self.store()
                    .finish_refresh(id, self.holder(), RefreshOutcome::Released, self.now())
                    .await?;
                let connection = self.store().get_connection(id).await?;
                return Err(Self::missing_tokens_error(&connection));
            }
        };
        let endpoint = TokenEndpoint {
            http: self.http_client(),
            auth_server: &self.config().atlassian.auth_server,
            client_id: &client.settings.client_id,
            client_secret: secret,
        };
        let started = self.now();
        let clock = self.clock();
        let mut waits = REFRESH_RETRY_WAITS.iter();
        // A refresh that got no answer may have rotated the token on Atlassian's side: the
        // same refresh token is sent again at once, under the same lease, while Atlassian
        // still accepts it, instead of waiting for a later call that may never come.
        let result = loop {
            let result = endpoint.refresh(&refresh, self.now()).await;
            let Err(e) = &result else { break result };
            if !answer_may_be_lost(e) {
                break result;
            }
            let Some(wait) = waits.next() else {
                break result;
            };
            let spent = std::time::Duration::try_from(self.now() - started).unwrap_or_default();
            if spent + *wait + oauth::TOKEN_REQUEST_TIMEOUT + COMMIT_ROOM > REFRESH_LEASE {
                break result;
            }
            tracing::warn!(connection = %id, error = %e, "token refresh got no answer; retrying");
            clock.sleep(*wait).await;
        };
        let outcome = match &result {
            Ok(_) => "ok",
            Err(e) if oauth::is_invalid_grant(e) || client_refused(e) => "rejected",
            Err(_) => "failed",
        };
        metrics::counter!("jiralink_token_refreshes_total", "outcome" => outcome).increment(1);
        let now = self.now();
        let holder = self.holder();
        match result {
            Ok(tokens) => {
                let writes = self.token_writes(id, &tokens)?;
                let stored = self
                    .store()
                    .finish_refresh(
                        id,
                        holder,
                        RefreshOutcome::Tokens {
                            tokens: &writes,
                            access_token_expires_at: tokens.expires_at,
                        },
                        now,
                    )
                    .await?;
                if stored {
                    tracing::info!(connection = %id, "access token refreshed");
                } else {
                    // This server was paused past its lease and another took over with the
                    // old refresh token (which Atlassian still accepted): the tokens it stored
                    // are the connection's; this access token is valid all the same.
                    tracing::warn!(connection = %id, "refresh lease lost; keeping the other server's tokens");
                }
                Ok(tokens.access_token)
            }
            Err(e) if oauth::is_invalid_grant(&e) => {
                let state = ConnectionState::Offline {
                    reason: REAUTHORIZATION_REQUIRED.to_owned(),
                };
                self.store()
                    .finish_refresh(id, holder, RefreshOutcome::Revoked { state: &state }, now)
                    .await?;
                tracing::warn!(connection = %id, "refresh token refused; connection offline");
                self.connection_state_changed(id).await;
                Err(AppError::ReauthorizationRequired { name })
            }
            Err(e) if client_refused(&e) => {
                // The refresh token was not looked at: it stays, for when the client is fixed.
                self.store()
                    .finish_refresh(id, holder, RefreshOutcome::Released, now)
                    .await?;
                let state = ConnectionState::Offline {
                    reason: CLIENT_CREDENTIALS_WRONG.to_owned(),
                };
                self.store().set_connection_state(id, &state, now).await?;
                tracing::warn!(connection = %id, "OAuth client refused; connection offline");
                self.connection_state_changed(id).await;
                Err(AppError::OAuthClientRejected {
                    name,
                    client: client_name,
                })
            }
            Err(e) if answer_may_be_lost(&e) => {
                self.store()
                    .finish_refresh(id, holder, RefreshOutcome::Pending { since: now }, now)
                    .await?;
                tracing::warn!(
                    connection = %id,
                    error = %e,
                    "token refresh got no answer; it will be finished by the next use or the keep-alive job"
                );
                Err(AppError::TokenRefresh(e))
            }
            Err(e) => {
                self.store()
                    .finish_refresh(id, holder, RefreshOutcome::Released, now)
                    .await?;
                tracing::warn!(connection = %id, error = %e, "token refresh failed");
                Err(AppError::TokenRefresh(e))
            }
        }
    }

    /// The error for an OAuth 2.0 connection without tokens: re-authorization when Atlassian
    /// refused its refresh token, plain authorization when it never had any or was
    /// disconnected.
    pub(crate) fn missing_tokens_error(connection: &Connection) -> AppError {
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

    /// The client of a saved connection that flows may use ([`App::usable_connection`]):
    /// Basic credentials on the site, or this process's refreshing [`TokenSource`] through the
    /// API gateway with the stored cloud id; put together by [`App::client_for`].
    pub async fn jira_client(&self, reference: &str) -> AppResult<jiralink_atlassian::JiraClient> {
        let connection = self.usable_connection(reference).await?;
        self.client_for(
            &connection.settings,
            Some(&connection),
            CredentialSource::Stored,
            Purpose::Requests,
        )
        .await
    }

    /// Forgets a connection's tokens: it needs authorizing again before it can be used.
    pub async fn disconnect_connection(&self, reference: &str, actor: &Actor) -> AppResult<bool> {
        let connection = self.find_connection(reference).await?;
        Self::oauth_parts(&connection)?;
        let audit = self.audit_entry_for(
            actor,
            AuditAction::Update,
            ResourceKind::Connection,
            connection.id.0,
            connection.settings.name.as_str(),
            vec![FieldChange {
                field: "oauth_tokens".to_owned(),
                before: Some("set".to_owned()),
                after: Some("removed".to_owned()),
                secret: true,
            }],
        );
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

/// The error codes of an authorization response (RFC 6749 §4.1.2.1). A code arrives in the
/// callback's query, so only these are repeated in messages; anything else is "unrecognised".
const AUTHORIZATION_ERROR_CODES: [&str; 7] = [
    "access_denied",
    "invalid_request",
    "unauthorized_client",
    "unsupported_response_type",
    "invalid_scope",
    "server_error",
    "temporarily_unavailable",
];

/// Only `access_denied` is the user declining; `server_error` and `temporarily_unavailable`
/// are Atlassian having trouble (RFC 6749 §4.1.2.1), worth another try; anything else is a
/// problem of the request (scopes, client) that trying again will not fix.
fn provider_error(name: String, error: &str, description: Option<String>) -> AppError {
    let error = AUTHORIZATION_ERROR_CODES
        .into_iter()
        .find(|known| *known == error)
        .unwrap_or("an unrecognised error code")
        .to_owned();
    match error.as_str() {
        "access_denied" => AppError::AuthorizationDenied {
            name,
            error,
            description,
        },
        "server_error" | "temporarily_unavailable" => AppError::OAuthProviderUnavailable {
            name,
            error,
            description,
        },
        _ => AppError::OAuthProviderError {
            name,
            error,
            description,
        },
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

/// The stored access token, when it can be handed out as it is: it stays valid past
/// `fresh_until`, no refresh is waiting to be finished, and it was obtained after `cutoff`.
fn usable_token(
    record: &TokenRecord,
    fresh_until: OffsetDateTime,
    cutoff: Option<OffsetDateTime>,
) -> Option<&StoredSecret> {
    let token = record.access_token.as_ref()?;
    let fresh = record
        .access_token_expires_at
        .is_some_and(|expires| expires > fresh_until);
    let recent = cutoff.is_none_or(|cutoff| token.updated_at > cutoff);
    (fresh && recent && record.refresh_pending_since.is_none()).then_some(token)
}

/// Failures after which the refresh may have happened on Atlassian's side without the answer
/// reaching jiralink: no answer, a cut or unreadable one, or a server error.
fn answer_may_be_lost(e: &AtlassianError) -> bool {
    match e {
        AtlassianError::Transport { kind, .. } => !matches!(kind, TransportKind::Tls),
        AtlassianError::Server { .. } | AtlassianError::Decode { .. } => true,
        // Atlassian may have rotated the tokens in an answer too large to read.
        AtlassianError::ResponseTooLarge { status, .. } => (200..300).contains(status),
        AtlassianError::UnexpectedStatus { status, .. } => *status >= 500,
        _ => false,
    }
}

/// Whether the token endpoint refused the client itself. Atlassian answers a wrong client id
/// with `invalid_client` and a wrong secret with 401 `access_denied`; in a refresh there is no
/// user who could have denied anything.
fn client_refused(e: &AtlassianError) -> bool {
    matches!(
        e,
        AtlassianError::OAuth { error, status, .. }
            if error == "invalid_client" || (error == "access_denied" && *status == 401)
    )
}

/// A connection whose client Atlassian refused sends no refresh until the client is edited:
/// each attempt would fail the same way.
fn client_still_rejected(connection: &Connection, client: &OAuthClient) -> bool {
    match &connection.state {
        ConnectionState::Offline { reason } if reason == CLIENT_CREDENTIALS_WRONG => connection
            .state_changed_at
            .is_none_or(|since| client.updated_at <= since),
        _ => false,
    }
}

/// Only a missing or refused grant is a failure of the credentials (which takes the
/// connection offline); a refresh that failed on the way (network, a 5xx, a timeout) keeps
/// its own kind, and trouble on this side (storage, vault) says nothing about the connection.
fn token_source_error(error: AppError) -> AtlassianError {
    match error {
        AppError::ReauthorizationRequired { .. }
        | AppError::ConnectionNeedsAuthorization { .. }
        | AppError::OAuthClientRejected { .. } => AtlassianError::Credentials {
            message: error.to_string(),
        },
        AppError::TokenRefresh(e) => e,
        other => AtlassianError::TokenUnavailable {
            message: other.to_string(),
        },
    }
}

// A refresh's token requests run under its lease: at least two must fit in it, with room to
// store the result, or a lost answer could never be retried before another server takes over.
const _: () = assert!(
    oauth::TOKEN_REQUEST_TIMEOUT.as_millis() * 2 + COMMIT_ROOM.as_millis()
        <= REFRESH_LEASE.as_millis()
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
    fn an_authorization_formatted_shows_neither_its_state_nor_its_code() {
        let start = AuthorizationStart {
            url: url::Url::parse(
                "https://auth.example/authorize?client_id=app&state=CANARY-state-1a2b3c&prompt=consent",
            )
            .unwrap(),
            redirect_uri: url::Url::parse("http://127.0.0.1:8080/connection/oauth2callback")
                .unwrap(),
            state_expires_at: OffsetDateTime::UNIX_EPOCH,
        };
        let params =
            CallbackParams::from_query("code=CANARY-code-4d5e6f&state=CANARY-state-1a2b3c");
        let shown = format!("{start:?} {start:#?} {params:?} {params:#?}");
        assert!(!shown.contains("CANARY"), "{shown}");
        assert!(shown.contains("client_id=app"), "{shown}");
        assert!(shown.contains("state=%5Bredacted%5D"), "{shown}");
        assert!(shown.contains("code: Some(\"[redacted]\")"), "{shown}");
        assert_eq!(params.code.as_deref(), Some("CANARY-code-4d5e6f"));
    }

    #[test]
    fn only_a_refused_client_or_a_lost_answer_is_recognised_as_such() {
        let oauth = |status, error: &str| AtlassianError::OAuth {
            status,
            error: error.to_owned(),
            description: None,
        };
        assert!(client_refused(&oauth(401, "invalid_client")));
        assert!(client_refused(&oauth(401, "access_denied")));
        assert!(!client_refused(&oauth(403, "access_denied")));
        assert!(!client_refused(&oauth(403, "invalid_grant")));
        assert!(!answer_may_be_lost(&oauth(403, "invalid_grant")));
        let server = AtlassianError::Server {
            status: 502,
            messages: Vec::new(),
            retry_after: None,
            bodiless: false,
        };
        assert!(answer_may_be_lost(&server));
        for (kind, lost) in [
            (TransportKind::Timeout, true),
            (TransportKind::Reset, true),
            (TransportKind::Connect, true),
            (TransportKind::Tls, false),
        ] {
            let e = AtlassianError::Transport {
                kind,
                detail: "d".to_owned(),
                request_sent: true,
            };
            assert_eq!(answer_may_be_lost(&e), lost, "{kind:?}");
        }
    }

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
