//! "Test connection", the online / offline state, and the background re-test of offline
//! connections, which also keeps OAuth 2.0 grants alive (refreshing idle tokens and
//! finishing refreshes whose answer was lost).
//!
//! A test is one cheap authenticated read (`jiralink_atlassian::probe`), chosen from the scopes
//! the connection holds (`jiralink_atlassian::choose_probe`): `GET /rest/api/3/myself` for
//! Basic connections and OAuth 2.0 ones granted `read:jira-user`, otherwise a read those
//! scopes allow (`GET /rest/api/3/serverInfo` needs none). The report names it. Its outcome
//! either passed, failed with a classified reason and a fix, or could not run because an
//! OAuth 2.0 connection is not authorized yet.
//!
//! State rules for saved connections:
//! - a passed test marks the connection online;
//! - a failure of authentication (401: wrong, expired or revoked credentials, a scoped token
//!   on the site; an OAuth 2.0 grant that was refused or does not cover the site) marks it
//!   offline, with the reason and the time;
//! - any other failure leaves the state as it was: a 403 (a scope or a permission: the test
//!   reports it, but the credentials did authenticate, and the test never asks for a scope the
//!   connection does not hold), network, TLS, DNS, a rate limit, a server error, a proxy in the
//!   way. They say nothing about whether the credentials work, and a laptop going offline must
//!   not take every connection offline with it.

use std::time::Duration;

use jiralink_atlassian::{
    AtlassianError, AuthRoute, ProbeFailure, ProbeFailureKind, ProbeReport, ProbeRequest,
    ProbeTarget,
};
use jiralink_domain::{
    Connection, ConnectionAuth, ConnectionDraft, ConnectionId, ConnectionSettings, ConnectionState,
};
use jiralink_store::StoreError;
use jiralink_vault::ApiToken;
use serde::Serialize;
use time::OffsetDateTime;

use crate::client::{CredentialSource, Purpose};
use crate::connections::ConnectionSecrets;
use crate::oauth::{CLIENT_CREDENTIALS_WRONG, REAUTHORIZATION_REQUIRED};
use crate::views::ConnectionView;
use crate::{App, AppError, AppResult};

/// How a test ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TestResult {
    Passed,
    Failed,
    /// An OAuth 2.0 connection that must be authorized before it can be tested. Not a failure
    /// of its settings: saving it is fine.
    NeedsAuthorization,
}

/// The account a test signed in as.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TestAccount {
    pub display_name: Option<String>,
    pub email: Option<String>,
    pub account_id: String,
    pub time_zone: Option<String>,
}

/// Why a test failed, and what the user can do about it. Never holds a secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TestFailure {
    /// A stable class: `unknown_site`, `wrong_credentials`, `expired_credentials`,
    /// `scoped_token_on_site`, `missing_scope`, `forbidden`, `not_authorized`,
    /// `rate_limited`, `tls`, `network`, `misconfigured`, `server_error`, `unexpected`; and
    /// `needs_authorization` for an OAuth 2.0 connection that cannot be tested yet.
    pub kind: &'static str,
    pub message: String,
    pub fix: String,
    /// The HTTP status, when Atlassian answered.
    pub http_status: Option<u16>,
    /// How long to wait before testing again (rate limits).
    pub retry_after_secs: Option<u64>,
    /// The scope the request needed (403 naming one).
    pub missing_scope: Option<String>,
    /// Whether this failure takes a saved connection offline: only authentication failures
    /// do.
    pub takes_offline: bool,
}

/// The report of a test.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TestOutcome {
    pub result: TestResult,
    /// The connection's name.
    pub connection: String,
    /// Whether Atlassian answered at all.
    pub reachable: bool,
    /// Who the credentials authenticate as (Cloud Platform).
    pub account: Option<TestAccount>,
    pub site_url: Option<String>,
    pub cloud_id: Option<String>,
    /// OAuth 2.0: the scopes Atlassian granted for the site, the ones the connection asks
    /// for, and those asked for but not granted.
    pub granted_scopes: Vec<String>,
    pub requested_scopes: Vec<String>,
    pub missing_scopes: Vec<String>,
    /// The authenticated read the test sent, e.g. `GET /rest/api/3/serverInfo`; `None` when
    /// the test stopped before it.
    pub probe: Option<&'static str>,
    /// How long the authenticated read took.
    pub latency_ms: Option<u64>,
    pub failure: Option<TestFailure>,
    #[serde(with = "time::serde::rfc3339")]
    pub tested_at: OffsetDateTime,
    /// The connection's state after the test (saved connections only).
    pub state: Option<ConnectionState>,
}

impl TestOutcome {
    pub fn passed(&self) -> bool {
        self.result == TestResult::Passed
    }

    /// One line for people: what happened, and the fix when it failed.
    pub fn summary(&self) -> String {
        match (&self.result, &self.failure) {
            (TestResult::Passed, _) => {
                let who = self
                    .account
                    .as_ref()
                    .map(|a| {
                        let name = a.display_name.as_deref().unwrap_or("an account");
                        match &a.email {
                            Some(e) => format!(" as {name} <{e}>"),
                            None => format!(" as {name}"),
                        }
                    })
                    .unwrap_or_default();
                format!("the connection works: authenticated{who}")
            }
            (_, Some(f)) => format!("{}; {}", f.message, f.fix),
            (_, None) => "the test did not run".to_owned(),
        }
    }

    fn empty(result: TestResult, connection: &str, at: OffsetDateTime) -> Self {
        Self {
            result,
            connection: connection.to_owned(),
            reachable: false,
            account: None,
            site_url: None,
            cloud_id: None,
            granted_scopes: Vec::new(),
            requested_scopes: Vec::new(),
            missing_scopes: Vec::new(),
            probe: None,
            latency_ms: None,
            failure: None,
            tested_at: at,
            state: None,
        }
    }

    fn from_report(report: ProbeReport, connection: &str, at: OffsetDateTime) -> Self {
        Self {
            reachable: report.reachable,
            account: report.account.map(|a| TestAccount {
                display_name: a.display_name,
                email: a.email,
                account_id: a.account_id,
                time_zone: a.time_zone,
            }),
            site_url: report.site_url.map(|u| u.to_string()),
            cloud_id: report.cloud_id,
            granted_scopes: report.granted_scopes,
            requested_scopes: report.requested_scopes,
            missing_scopes: report.missing_scopes,
            probe: Some(report.request.label()),
            latency_ms: Some(u64::try_from(report.latency.as_millis()).unwrap_or(u64::MAX)),
            ..Self::empty(TestResult::Passed, connection, at)
        }
    }

    fn from_failure(failure: ProbeFailure, connection: &str, at: OffsetDateTime) -> Self {
        let kind = failure.kind;
        Self {
            // Atlassian answered, unless nothing came back or the answer said "no such site".
            reachable: failure.status.is_some() && kind != ProbeFailureKind::UnknownSite,
            probe: failure.request.map(ProbeRequest::label),
            failure: Some(TestFailure {
                kind: kind_code(kind),
                message: failure.message,
                fix: failure.fix,
                http_status: failure.status,
                retry_after_secs: failure.retry_after.map(|d| d.as_secs().max(1)),
                missing_scope: failure.missing_scope,
                takes_offline: takes_offline(kind),
            }),
            ..Self::empty(TestResult::Failed, connection, at)
        }
    }

    /// `message` says why the test could not run, `fix` what to do.
    fn needs_authorization(
        connection: &str,
        at: OffsetDateTime,
        message: String,
        fix: &str,
    ) -> Self {
        Self {
            failure: Some(TestFailure {
                kind: "needs_authorization",
                message,
                fix: fix.to_owned(),
                http_status: None,
                retry_after_secs: None,
                missing_scope: None,
                takes_offline: false,
            }),
            ..Self::empty(TestResult::NeedsAuthorization, connection, at)
        }
    }

    /// The state a saved connection moves to, given the one it had.
    fn next_state(&self, current: &ConnectionState) -> ConnectionState {
        match (&self.result, &self.failure) {
            (TestResult::Passed, _) => ConnectionState::Online,
            (TestResult::Failed, Some(f)) if f.takes_offline => ConnectionState::Offline {
                reason: f.message.clone(),
            },
            _ => current.clone(),
        }
    }
}

fn kind_code(kind: ProbeFailureKind) -> &'static str {
    match kind {
        ProbeFailureKind::UnknownSite => "unknown_site",
        ProbeFailureKind::WrongCredentials => "wrong_credentials",
        ProbeFailureKind::ExpiredCredentials => "expired_credentials",
        ProbeFailureKind::ScopedTokenOnSite => "scoped_token_on_site",
        ProbeFailureKind::MissingScope => "missing_scope",
        ProbeFailureKind::Forbidden => "forbidden",
        ProbeFailureKind::NotAuthorized => "not_authorized",
        ProbeFailureKind::RateLimited => "rate_limited",
        ProbeFailureKind::Tls => "tls",
        ProbeFailureKind::Network => "network",
        ProbeFailureKind::Misconfigured => "misconfigured",
        ProbeFailureKind::ServerError => "server_error",
        ProbeFailureKind::Unexpected => "unexpected",
    }
}

/// Failures of authentication: the credentials were refused (401) or the OAuth 2.0 grant was
/// refused or does not cover the site. They persist until someone changes something, so the
/// connection is offline until then. A 403 is not one of them: the credentials authenticated,
/// and the test asks for nothing the connection's scopes do not allow, so a scope or
/// permission Jira still finds missing is reported without changing the state. The other
/// failures are about the path to Atlassian or Atlassian itself.
fn takes_offline(kind: ProbeFailureKind) -> bool {
    match kind {
        ProbeFailureKind::WrongCredentials
        | ProbeFailureKind::ExpiredCredentials
        | ProbeFailureKind::ScopedTokenOnSite
        | ProbeFailureKind::NotAuthorized => true,
        ProbeFailureKind::MissingScope
        | ProbeFailureKind::Forbidden
        | ProbeFailureKind::UnknownSite
        | ProbeFailureKind::RateLimited
        | ProbeFailureKind::Tls
        | ProbeFailureKind::Network
        | ProbeFailureKind::Misconfigured
        | ProbeFailureKind::ServerError
        | ProbeFailureKind::Unexpected => false,
    }
}

impl App {
    /// Tests `settings` with `credentials` through the client [`App::client_for`] puts
    /// together for a test, counting against `saved`'s concurrency limit and shown in its
    /// debugger (the saved connection, or the one a draft edits). The debugger's lines are
    /// written by the time it returns.
    async fn probe(
        &self,
        settings: &ConnectionSettings,
        saved: Option<&Connection>,
        cloud_id: Option<&str>,
        credentials: CredentialSource,
    ) -> AppResult<Result<ProbeReport, ProbeFailure>> {
        let client = self
            .client_for(settings, saved, credentials, Purpose::Test)
            .await?;
        let target = ProbeTarget {
            settings,
            endpoints: &self.config().atlassian,
            route: AuthRoute::of(&settings.auth),
            cloud_id,
        };
        let result = jiralink_atlassian::probe(&client, &target).await;
        self.flush_debug_lines().await;
        Ok(result)
    }

    /// Probes an authorized OAuth 2.0 connection as saved, with its stored tokens (refreshed
    /// as any use refreshes them); its debugger sees the exchange. The outcome, named `name`,
    /// is not recorded. Also returns the connection as it is afterwards: a refused refresh
    /// has moved it offline meanwhile.
    async fn probe_oauth(
        &self,
        connection: &Connection,
        name: &str,
        now: OffsetDateTime,
    ) -> AppResult<(TestOutcome, Connection)> {
        let result = self
            .probe(
                &connection.settings,
                Some(connection),
                connection.cloud_id.as_deref(),
                CredentialSource::Stored,
            )
            .await?;
        // A refused refresh token or client already moved the connection offline, with a
        // reason that says what to fix: the test keeps it.
        let current = self.store().get_connection(connection.id).await?;
        let mut outcome = outcome_of(result, name, now);
        keep_refresh_reason(&mut outcome, &current.state);
        Ok((outcome, current))
    }

    /// Tests an OAuth 2.0 draft. Only the grant of the saved connection being edited can
    /// test it, and only when the draft keeps everything that grant was given for; the other
    /// settings (name, concurrency level, rate-limit handling) do not change what the probe
    /// sees. The saved connection's record is left alone: the draft is not what is saved.
    async fn test_oauth_draft(
        &self,
        settings: &ConnectionSettings,
        editing: Option<ConnectionId>,
        name: &str,
        now: OffsetDateTime,
    ) -> AppResult<TestOutcome> {
        let Some(id) = editing else {
            return Ok(TestOutcome::needs_authorization(
                name,
                now,
                "an OAuth 2.0 connection can be tested once it is authorized".to_owned(),
                AUTHORIZE_AFTER_SAVING,
            ));
        };
        let connection = self.store().get_connection(id).await?;
        let changed = authorization_changes(&connection.settings, settings);
        if !changed.is_empty() {
            return Ok(TestOutcome::needs_authorization(
                name,
                now,
                format!(
                    "the {} changed since the connection was authorized, and its \
                     authorization does not cover the new settings: it can be tested once it \
                     is authorized again",
                    join_words(&changed)
                ),
                "save the connection, then authorize it again (sign in to Atlassian and grant \
                 access) and test it",
            ));
        }
        if !self.connection_has_tokens(id).await? {
            return Ok(TestOutcome::needs_authorization(
                name,
                now,
                NOT_AUTHORIZED_YET.to_owned(),
                AUTHORIZE_AFTER_SAVING,
            ));
        }
        let (outcome, _) = self.probe_oauth(&connection, name, now).await?;
        Ok(outcome)
    }

    /// Tests settings that are not saved (yet): the "Test" button of a form, or the test
    /// before saving. Invalid settings are reported like a save would report them; nothing is
    /// stored. `editing` is the connection being edited, whose own name does not count as
    /// taken.
    pub async fn test_draft(
        &self,
        draft: &ConnectionDraft,
        secrets: &ConnectionSecrets,
        editing: Option<ConnectionId>,
    ) -> AppResult<TestOutcome> {
        let valid = self.validate_draft(draft, secrets, editing).await?;
        let name = valid.settings.name.as_str().to_owned();
        let now = self.now();
        let token = match (&valid.settings.auth, &secrets.api_token) {
            (ConnectionAuth::OAuth2 { .. }, _) => {
                return self
                    .test_oauth_draft(&valid.settings, editing, &name, now)
                    .await;
            }
            (ConnectionAuth::Basic { .. }, Some(token)) => ApiToken::new(token.expose()),
            // Validation asks for a Basic draft's token; without one the test could only fail.
            (ConnectionAuth::Basic { .. }, None) => {
                let failure = ProbeFailure {
                    kind: ProbeFailureKind::WrongCredentials,
                    message: "no API token was entered".to_owned(),
                    fix: "enter the API token, then test the connection".to_owned(),
                    status: None,
                    retry_after: None,
                    missing_scope: None,
                    request: None,
                };
                return Ok(TestOutcome::from_failure(failure, &name, now));
            }
        };
        // Testing an edit counts as a use of the connection: its limit and debugger see it.
        let edited = match editing {
            Some(id) => Some(self.store().get_connection(id).await?),
            None => None,
        };
        let result = self
            .probe(
                &valid.settings,
                edited.as_ref(),
                None,
                CredentialSource::ApiToken(token),
            )
            .await?;
        Ok(outcome_of(result, &name, now))
    }

    /// Tests a saved connection and records the outcome: online when it passed, offline
    /// (with the reason and the time) when the credentials failed.
    pub async fn test_connection(&self, reference: &str) -> AppResult<TestOutcome> {
        let connection = self.find_connection(reference).await?;
        self.test_saved(&connection).await
    }

    async fn test_saved(&self, connection: &Connection) -> AppResult<TestOutcome> {
        let name = connection.settings.name.as_str();
        let now = self.now();
        let outcome = match &connection.settings.auth {
            ConnectionAuth::OAuth2 { .. } => {
                if !self.connection_has_tokens(connection.id).await? {
                    // Nothing to record: the state already says it needs authorizing.
                    let mut outcome = TestOutcome::needs_authorization(
                        name,
                        now,
                        NOT_AUTHORIZED_YET.to_owned(),
                        "authorize the connection (sign in to Atlassian and grant access), \
                         then test it",
                    );
                    outcome.state = Some(connection.state.clone());
                    return Ok(outcome);
                }
                let (outcome, current) = self.probe_oauth(connection, name, now).await?;
                return self
                    .record_outcome(&current, connection.version, outcome)
                    .await;
            }
            ConnectionAuth::Basic { .. } => match self.connection_api_token(connection.id).await? {
                None => TestOutcome::from_failure(
                    ProbeFailure {
                        kind: ProbeFailureKind::WrongCredentials,
                        message: "no API token is stored for this connection".to_owned(),
                        fix: "enter the API token again in the connection's settings".to_owned(),
                        status: None,
                        retry_after: None,
                        missing_scope: None,
                        request: None,
                    },
                    name,
                    now,
                ),
                Some(token) => {
                    let result = self
                        .probe(
                            &connection.settings,
                            Some(connection),
                            connection.cloud_id.as_deref(),
                            CredentialSource::ApiToken(token),
                        )
                        .await?;
                    outcome_of(result, name, now)
                }
            },
        };
        self.record_outcome(connection, connection.version, outcome)
            .await
    }

    /// Stores `outcome` unless the connection was edited after `tested_version` (its version
    /// when the test started): the result says nothing about the new settings.
    async fn record_outcome(
        &self,
        connection: &Connection,
        tested_version: u64,
        mut outcome: TestOutcome,
    ) -> AppResult<TestOutcome> {
        let state = outcome.next_state(&connection.state);
        self.store()
            .record_connection_test(
                connection.id,
                tested_version,
                &state,
                outcome.tested_at,
                outcome.cloud_id.as_deref(),
            )
            .await
            .map_err(|e| match e {
                StoreError::Changed { .. } => AppError::ChangedDuringTest {
                    name: connection.settings.name.as_str().to_owned(),
                },
                other => other.into(),
            })?;
        if state != connection.state {
            tracing::info!(
                connection = %connection.id,
                state = state.label(),
                "connection state changed by a test"
            );
        }
        // Reported after every test, not only on a change seen here: the last state told is
        // kept apart, so a change made by another path is still told once.
        self.connection_state_changed(connection.id).await;
        outcome.state = Some(state);
        Ok(outcome)
    }

    /// Records a test of a draft on the connection it was saved as (the test before saving),
    /// and returns the connection as it is now.
    pub async fn apply_test_outcome(
        &self,
        reference: &str,
        outcome: &TestOutcome,
    ) -> AppResult<ConnectionView> {
        let connection = self.find_connection(reference).await?;
        if outcome.result != TestResult::NeedsAuthorization {
            self.record_outcome(&connection, connection.version, outcome.clone())
                .await?;
        }
        self.get_connection(&connection.id.to_string()).await
    }

    /// A failure seen in any use of a connection (an export, an import, a re-test). A 401
    /// means the credentials no longer authenticate: the connection goes offline with the
    /// reason, so flows stop using it until someone fixes it. A 403 does not: the credentials
    /// work, and a missing scope or permission concerns what that one request needed (the
    /// flow fails with it), not the connection; a re-test would bring it back online at once.
    /// Returns whether the state changed.
    pub async fn note_request_failure(
        &self,
        id: ConnectionId,
        error: &AtlassianError,
    ) -> AppResult<bool> {
        let reason = match error {
            AtlassianError::Unauthorized { .. } => {
                "Jira rejected the credentials (HTTP 401): the API token or authorization is \
                 wrong, expired or revoked"
            }
            _ => return Ok(false),
        };
        let state = ConnectionState::Offline {
            reason: reason.to_owned(),
        };
        let connection = self.store().get_connection(id).await?;
        if connection.state == state {
            return Ok(false);
        }
        self.store()
            .set_connection_state(id, &state, self.now())
            .await?;
        tracing::warn!(connection = %id, "connection marked offline after an authentication failure");
        self.connection_state_changed(id).await;
        Ok(true)
    }

    /// The connection, if flows may use it. Exports, imports and anything else that moves
    /// data call this first: an offline connection is refused with `connection_offline`.
    pub async fn usable_connection(&self, reference: &str) -> AppResult<Connection> {
        let connection = self.find_connection(reference).await?;
        if let ConnectionState::Offline { reason } = &connection.state {
            return Err(AppError::ConnectionOffline {
                name: connection.settings.name.as_str().to_owned(),
                reason: reason.clone(),
                since: connection
                    .state_changed_at
                    .map_or_else(|| "an unknown time".to_owned(), crate::format_time),
            });
        }
        Ok(connection)
    }

    /// Tests every offline connection once; those that pass are back online.
    pub async fn retest_offline_connections(&self) -> AppResult<Vec<TestOutcome>> {
        let offline: Vec<Connection> = self
            .store()
            .list_connections()
            .await?
            .into_iter()
            .filter(|c| matches!(c.state, ConnectionState::Offline { .. }))
            .collect();
        let mut outcomes = Vec::with_capacity(offline.len());
        for connection in &offline {
            match self.test_saved(connection).await {
                Ok(outcome) => outcomes.push(outcome),
                // One broken record must not stop the others from coming back.
                Err(e) => tracing::warn!(
                    connection = %connection.id,
                    error = %e,
                    "re-testing an offline connection failed"
                ),
            }
        }
        Ok(outcomes)
    }

    /// Refreshes the tokens of authorized OAuth 2.0 connections that are not offline when a
    /// refresh is waiting to be finished or they were last refreshed longer ago than
    /// `connections.refresh_idle_after`, so an unused connection keeps its grant. Returns how
    /// many were refreshed.
    pub async fn keep_grants_alive(&self) -> AppResult<usize> {
        let mut refreshed = 0;
        for connection in self.store().list_connections().await? {
            if matches!(connection.state, ConnectionState::Offline { .. }) {
                continue;
            }
            match self.keep_tokens_alive(&connection).await {
                Ok(true) => refreshed += 1,
                Ok(false) => {}
                Err(e) => tracing::warn!(
                    connection = %connection.id,
                    error = %e,
                    "refreshing an idle connection's tokens failed"
                ),
            }
        }
        Ok(refreshed)
    }

    /// Refreshes an authorized OAuth 2.0 connection's tokens when a refresh is waiting to be
    /// finished or they are older than `connections.refresh_idle_after`. Returns whether it
    /// refreshed (or found them refreshed by another process meanwhile).
    async fn keep_tokens_alive(&self, connection: &Connection) -> AppResult<bool> {
        if !matches!(connection.settings.auth, ConnectionAuth::OAuth2 { .. }) {
            return Ok(false);
        }
        let record = self.store().read_tokens(connection.id).await?;
        let (Some(_), Some(access)) = (&record.refresh_token, &record.access_token) else {
            return Ok(false);
        };
        let idle_after =
            time::Duration::try_from(self.config().connections.refresh_idle_after.get())
                .unwrap_or(time::Duration::MAX);
        let cutoff = self.now() - idle_after;
        if record.refresh_pending_since.is_none() && access.updated_at > cutoff {
            return Ok(false);
        }
        self.access_token_refreshed_after(connection.id, Some(cutoff))
            .await?;
        tracing::info!(connection = %connection.id, "tokens of an idle connection refreshed");
        Ok(true)
    }

    /// Whether some connection has a refresh waiting to be finished.
    pub(crate) async fn refresh_pending(&self) -> AppResult<bool> {
        for connection in self.store().list_connections().await? {
            if matches!(connection.settings.auth, ConnectionAuth::OAuth2 { .. })
                && self
                    .store()
                    .read_tokens(connection.id)
                    .await?
                    .refresh_pending_since
                    .is_some()
            {
                return Ok(true);
            }
        }
        Ok(false)
    }
}

const NOT_AUTHORIZED_YET: &str =
    "the connection is not authorized yet: it can be tested once it is authorized";
const AUTHORIZE_AFTER_SAVING: &str =
    "save the connection, then authorize it (sign in to Atlassian and grant access) and test it";

/// The settings an OAuth 2.0 grant was given for that `draft` changes from `saved`, as words
/// for people: another site, API or client, or other scopes, need a new grant.
pub(crate) fn authorization_changes(
    saved: &ConnectionSettings,
    draft: &ConnectionSettings,
) -> Vec<&'static str> {
    let mut changed = Vec::new();
    if saved.api_type != draft.api_type {
        changed.push("API type");
    }
    if saved.subdomain != draft.subdomain {
        changed.push("subdomain");
    }
    match (&saved.auth, &draft.auth) {
        (
            ConnectionAuth::OAuth2 {
                client: a,
                scopes: sa,
            },
            ConnectionAuth::OAuth2 {
                client: b,
                scopes: sb,
            },
        ) => {
            if a != b {
                changed.push("OAuth 2.0 client");
            }
            if sa != sb {
                changed.push("scopes");
            }
        }
        _ => changed.push("auth type"),
    }
    changed
}

/// "a", "a and b", "a, b and c".
fn join_words(words: &[&str]) -> String {
    match words.split_last() {
        None => String::new(),
        Some((last, [])) => (*last).to_owned(),
        Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
    }
}

/// The longest wait before the keep-alive job runs again while a token refresh is waiting to
/// be finished.
pub const PENDING_REFRESH_RECHECK: Duration = Duration::from_secs(60);

/// A test of an OAuth 2.0 connection that failed because its refresh was refused reports the
/// reason the refresh recorded (re-authorize, or edit the client) instead of a generic one.
fn keep_refresh_reason(outcome: &mut TestOutcome, current: &ConnectionState) {
    let ConnectionState::Offline { reason } = current else {
        return;
    };
    let fix = if reason == REAUTHORIZATION_REQUIRED {
        "authorize the connection again"
    } else if reason == CLIENT_CREDENTIALS_WRONG {
        "enter the OAuth 2.0 client's ID and secret from the developer console again, then test \
         the connection"
    } else {
        return;
    };
    if let Some(failure) = &mut outcome.failure
        && failure.kind == "not_authorized"
    {
        failure.message.clone_from(reason);
        fix.clone_into(&mut failure.fix);
    }
}

fn outcome_of(
    result: Result<ProbeReport, ProbeFailure>,
    name: &str,
    at: OffsetDateTime,
) -> TestOutcome {
    match result {
        Ok(report) => TestOutcome::from_report(report, name, at),
        Err(failure) => TestOutcome::from_failure(failure, name, at),
    }
}

#[cfg(test)]
mod tests {
    use pretty_assertions::assert_eq;
    use time::macros::datetime;

    use super::*;

    fn failed(kind: ProbeFailureKind) -> TestOutcome {
        TestOutcome::from_failure(
            ProbeFailure {
                kind,
                message: "m".to_owned(),
                fix: "f".to_owned(),
                status: Some(401),
                retry_after: Some(Duration::from_millis(1500)),
                missing_scope: None,
                request: None,
            },
            "Jira",
            datetime!(2026-01-01 00:00 UTC),
        )
    }

    #[test]
    fn only_authentication_failures_take_a_connection_offline() {
        let online = ConnectionState::Online;
        for kind in [
            ProbeFailureKind::WrongCredentials,
            ProbeFailureKind::ExpiredCredentials,
            ProbeFailureKind::ScopedTokenOnSite,
            ProbeFailureKind::NotAuthorized,
        ] {
            assert_eq!(
                failed(kind).next_state(&online),
                ConnectionState::Offline {
                    reason: "m".to_owned()
                },
                "{kind:?}"
            );
        }
        for kind in [
            // A 403 is reported, but the credentials authenticated.
            ProbeFailureKind::MissingScope,
            ProbeFailureKind::Forbidden,
            ProbeFailureKind::Network,
            ProbeFailureKind::Tls,
            ProbeFailureKind::UnknownSite,
            ProbeFailureKind::RateLimited,
            ProbeFailureKind::ServerError,
            ProbeFailureKind::Misconfigured,
        ] {
            assert_eq!(failed(kind).next_state(&online), online, "{kind:?}");
        }
        let waiting = TestOutcome::needs_authorization(
            "Jira",
            datetime!(2026-01-01 00:00 UTC),
            NOT_AUTHORIZED_YET.to_owned(),
            AUTHORIZE_AFTER_SAVING,
        );
        assert_eq!(
            waiting.next_state(&ConnectionState::NeedsAuthorization),
            ConnectionState::NeedsAuthorization
        );
    }

    fn oauth_settings(
        name: &str,
        subdomain: &str,
        scopes: &[&str],
        level: u32,
    ) -> ConnectionSettings {
        serde_json::from_value(serde_json::json!({
            "name": name,
            "api_type": "cloud-platform",
            "subdomain": subdomain,
            "auth": {
                "type": "oauth2",
                "client": "00000000-0000-0000-0000-000000000001",
                "scopes": scopes,
            },
            "concurrency_level": level,
        }))
        .unwrap()
    }

    #[test]
    fn only_what_a_grant_was_given_for_needs_a_new_one() {
        let saved = oauth_settings("Jira", "demo", &["read:jira-work"], 2);
        let renamed = oauth_settings("Jira 2", "demo", &["read:jira-work"], 5);
        assert_eq!(authorization_changes(&saved, &renamed), Vec::<&str>::new());
        let moved = oauth_settings("Jira", "other", &["read:jira-work", "read:me"], 2);
        assert_eq!(
            authorization_changes(&saved, &moved),
            vec!["subdomain", "scopes"]
        );
        let mut other_client = saved.clone();
        if let ConnectionAuth::OAuth2 { client, .. } = &mut other_client.auth {
            *client = jiralink_domain::OAuthClientId::new();
        }
        assert_eq!(
            authorization_changes(&saved, &other_client),
            vec!["OAuth 2.0 client"]
        );
        let mut basic = saved.clone();
        basic.auth = serde_json::from_value(
            serde_json::json!({"type": "basic", "username": "me@example.com"}),
        )
        .unwrap();
        assert_eq!(authorization_changes(&basic, &saved), vec!["auth type"]);
        assert_eq!(join_words(&["scopes"]), "scopes");
        assert_eq!(
            join_words(&["API type", "subdomain", "scopes"]),
            "API type, subdomain and scopes"
        );
    }

    #[test]
    fn the_report_names_the_request_sent() {
        let failure = ProbeFailure {
            kind: ProbeFailureKind::Forbidden,
            message: "m".to_owned(),
            fix: "f".to_owned(),
            status: Some(403),
            retry_after: None,
            missing_scope: None,
            request: Some(ProbeRequest::ServerInfo),
        };
        let outcome = TestOutcome::from_failure(failure, "Jira", datetime!(2026-01-01 00:00 UTC));
        let json = serde_json::to_value(&outcome).unwrap();
        assert_eq!(json["probe"], "GET /rest/api/3/serverInfo");
        assert_eq!(json["failure"]["takesOffline"], false);
        assert_eq!(
            outcome.next_state(&ConnectionState::Online),
            ConnectionState::Online
        );
        assert_eq!(
            serde_json::to_value(failed(ProbeFailureKind::Network)).unwrap()["probe"],
            serde_json::Value::Null
        );
    }

    #[test]
    fn failures_round_the_wait_up_and_say_what_to_do() {
        let f = failed(ProbeFailureKind::RateLimited);
        let failure = f.failure.clone().unwrap();
        assert_eq!(failure.kind, "rate_limited");
        assert_eq!(failure.retry_after_secs, Some(1));
        assert!(f.reachable);
        assert_eq!(f.summary(), "m; f");
        let json = serde_json::to_value(&f).unwrap();
        assert_eq!(json["result"], "failed");
        assert_eq!(json["failure"]["httpStatus"], 401);
        assert!(!failed(ProbeFailureKind::UnknownSite).reachable);
    }
}
