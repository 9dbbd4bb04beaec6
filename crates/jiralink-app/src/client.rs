//! The one place a connection's Jira client is put together.
//!
//! Every request jiralink sends to Jira for a connection goes through a client built by
//! [`App::client_for`]: the requests of its uses ([`App::jira_client`]), the read of the
//! granted sites while it is authorized, and "Test connection", whose probe is handed the
//! client ready and only aims it at the bases it finds.
//!
//! | Part | From |
//! |---|---|
//! | base URLs | the domain's table for the API type and auth route ([`jiralink_domain::route`]); a test or an authorization starts from the site and the gateway |
//! | credentials | a [`CredentialSource`]: what is stored for the connection, an API token at hand, or an access token just granted |
//! | concurrency limit | [`App::limiter`] of the saved connection, shared by every use and, on PostgreSQL, every server; a draft not saved yet has one of its own |
//! | retry policy | the connection's rate-limit handling; none for a test, which reports a rate limit with its wait instead of waiting |
//! | observer | the saved connection's debugger; none for a draft not saved yet |
//! | clock | the application's: the time of exchanges and `Retry-After` dates, and every wait |

use std::sync::Arc;

use jiralink_atlassian::{ApiBase, Credentials, JiraClient, RetryPolicy, StaticToken};
use jiralink_domain::{AuthRoute, Connection, ConnectionAuth, ConnectionSettings};
use jiralink_vault::{AccessToken, ApiToken};

use crate::{App, AppError, AppResult};

const NO_STORED_TOKEN: &str =
    "no API token is stored for the connection; enter it again in the connection's settings";

/// The credentials a client sends.
pub(crate) enum CredentialSource {
    /// What is stored for the saved connection: its API token (Basic), or its tokens, refreshed
    /// as they expire (OAuth 2.0).
    Stored,
    /// An API token at hand: entered with a draft, or a saved connection's, already opened.
    ApiToken(ApiToken),
    /// An access token just granted by authorizing the connection, before any is stored.
    AccessToken(AccessToken),
}

/// What the client is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Purpose {
    /// The connection's uses: sent to the bases its settings and cloud id resolve to, retried
    /// per its rate-limit handling.
    Requests,
    /// Reading what an authorization granted: through the gateway, before the cloud id is
    /// known; retried per the rate-limit handling.
    Authorization,
    /// A connection test: the probe finds the bases; nothing is retried.
    Test,
}

impl App {
    /// The ready client for a connection with `settings`. `saved` is the saved connection the
    /// requests count against (its concurrency limit) and show in (its debugger): the one
    /// with these settings, or the one a draft edits; `None` for a draft not saved yet.
    ///
    /// # Errors
    /// `InvalidInput` when the bases cannot be resolved (no cloud id yet) or no API token is
    /// stored; the authorization errors when an OAuth 2.0 connection holds no tokens.
    pub(crate) async fn client_for(
        &self,
        settings: &ConnectionSettings,
        saved: Option<&Connection>,
        credentials: CredentialSource,
        purpose: Purpose,
    ) -> AppResult<JiraClient> {
        let credentials = self.credentials(settings, saved, credentials).await?;
        let endpoints = &self.config().atlassian;
        let base = match purpose {
            Purpose::Requests => ApiBase::for_settings(
                endpoints,
                settings,
                AuthRoute::of(&settings.auth),
                saved.and_then(|c| c.cloud_id.as_deref()),
            )
            .map_err(|e| AppError::InvalidInput(e.to_string()))?,
            Purpose::Authorization | Purpose::Test => {
                ApiBase::bootstrap(endpoints, settings.subdomain.as_ref())
            }
        };
        let retry_policy = match purpose {
            Purpose::Requests | Purpose::Authorization => {
                crate::connections::retry_policy(settings.rate_limit)
            }
            Purpose::Test => RetryPolicy::none(),
        };
        let mut builder = JiraClient::builder(self.http_client().clone(), base, credentials)
            .clock(self.clock())
            .retry_policy(retry_policy);
        if let Some(connection) = saved {
            builder = builder
                .limiter(self.limiter(connection.id, settings.concurrency_level))
                .observer(self.debug_observer(connection));
        }
        Ok(builder.build())
    }

    async fn credentials(
        &self,
        settings: &ConnectionSettings,
        saved: Option<&Connection>,
        source: CredentialSource,
    ) -> AppResult<Credentials> {
        Ok(match (source, &settings.auth) {
            (CredentialSource::Stored, auth) => {
                let connection = saved.ok_or_else(|| {
                    AppError::InvalidInput(
                        "nothing is stored for a connection that is not saved".to_owned(),
                    )
                })?;
                match auth {
                    ConnectionAuth::OAuth2 { .. } => {
                        if !self.connection_has_tokens(connection.id).await? {
                            return Err(Self::missing_tokens_error(connection));
                        }
                        Credentials::Bearer(self.token_source(connection.id))
                    }
                    ConnectionAuth::Basic { username } => {
                        let token = self
                            .connection_api_token(connection.id)
                            .await?
                            .ok_or_else(|| AppError::InvalidInput(NO_STORED_TOKEN.to_owned()))?;
                        Credentials::basic(username.clone(), token)
                    }
                }
            }
            (CredentialSource::ApiToken(token), ConnectionAuth::Basic { username }) => {
                Credentials::basic(username.clone(), token)
            }
            (CredentialSource::ApiToken(_), ConnectionAuth::OAuth2 { .. }) => {
                return Err(AppError::InvalidInput(
                    "an API token is used only with Basic auth; OAuth 2.0 connections are \
                     authorized instead"
                        .to_owned(),
                ));
            }
            (CredentialSource::AccessToken(token), _) => {
                Credentials::Bearer(Arc::new(StaticToken::new(token)))
            }
        })
    }
}
