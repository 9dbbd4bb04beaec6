//! Listeners: create, show, list, delete.

use jiralink_atlassian::{WebhookEventKind, WebhookSpec};
use jiralink_domain::{ConnectionAuth, ConnectionId};
use jiralink_store::{ListenerEvent, ListenerRecord, SecretField, SecretOwner, StoreError};
use jiralink_sync::ExportSpec;
use jiralink_vault::{WebhookSecret, Zeroizing};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use super::{DEFAULT_EVENTS, EVENTS};
use crate::{App, AppError, AppResult};

/// How far behind a listener may fall (its oldest unprocessed event) before it is said to be
/// behind.
pub(crate) const BEHIND_AFTER: time::Duration = time::Duration::minutes(5);

/// What a user fills in to create a listener.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListenerDraft {
    /// Unique among listeners, compared without regard to case; 1–100 characters.
    pub name: String,
    /// The flow it feeds (name or id); its export's connection is the one listened to.
    pub flow: String,
    /// Jira's event names; empty: issues created, updated and deleted, and their comments.
    #[serde(default)]
    pub events: Vec<String>,
    /// Only issues this JQL matches (on top of the flow's export's JQL).
    #[serde(default)]
    pub jql: Option<String>,
    /// For updates: only when one of these fields changed (ids such as `summary`,
    /// `customfield_10010`); empty: any change.
    #[serde(default)]
    pub field_ids: Vec<String>,
}

/// The safety net's last look.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SafetyNetStatus {
    /// The export's time bound the next look starts from (epoch milliseconds).
    #[serde(default)]
    pub upper_ms: Option<i64>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub last_at: Option<OffsetDateTime>,
    /// Changed issues it found that no event had brought, at its last look.
    #[serde(default)]
    pub found: u64,
    /// Over all its looks.
    #[serde(default)]
    pub found_total: u64,
    /// Copies it deleted at its last look because their original was gone and no event had
    /// said so.
    #[serde(default)]
    pub deleted: u64,
    /// Over all its looks.
    #[serde(default)]
    pub deleted_total: u64,
    /// Deliveries Jira gave up on that were read back from `webhook/failed`, in all.
    #[serde(default)]
    pub recovered_total: u64,
    /// Why the last look failed, if it did.
    #[serde(default)]
    pub error: Option<String>,
}

/// The bookkeeping kept in the listener's `status`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Status {
    #[serde(default)]
    pub(crate) safety_net: SafetyNetStatus,
    /// The `webhook/failed` position read up to (epoch milliseconds of the last failure).
    #[serde(default)]
    pub(crate) failed_after: Option<i64>,
    /// Where the safety net's walk over the flow's copied issues goes on from (the last
    /// source issue id it checked; none: from the start).
    #[serde(default)]
    pub(crate) sweep_after: Option<String>,
}

impl Status {
    pub(crate) fn of(record: &ListenerRecord) -> Self {
        serde_json::from_value(record.status.clone()).unwrap_or_default()
    }

    pub(crate) fn value(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }
}

/// A listener as users see it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ListenerView {
    pub id: Uuid,
    pub name: String,
    pub flow_id: Uuid,
    pub flow_name: String,
    pub connection_id: ConnectionId,
    pub connection_name: String,
    /// `dynamic`: jiralink registered Jira's webhooks (OAuth 2.0); `admin`: a site
    /// administrator registers one (Basic).
    pub mode: String,
    /// Where Jira delivers events.
    pub url: String,
    pub events: Vec<String>,
    pub jql: Option<String>,
    pub field_ids: Vec<String>,
    /// The JQL the webhooks filter by: the flow's export's and the listener's together.
    pub effective_jql: Option<String>,
    pub webhook_ids: Vec<u64>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub expires_at: Option<OffsetDateTime>,
    /// `active`, `failed` (`stateReason` says why) or `expired`.
    pub state: String,
    pub state_reason: Option<String>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_event_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_processed_at: Option<OffsetDateTime>,
    pub received: u64,
    pub pending: u64,
    /// How old the oldest unprocessed event is, in seconds (0 when none waits).
    pub lag_seconds: u64,
    /// Whether that is more than five minutes.
    pub behind: bool,
    pub safety_net: SafetyNetStatus,
    /// For admin webhooks: what the site administrator does in Jira.
    pub setup_steps: Vec<String>,
    pub version: u64,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// A listener just created, with its webhook secret (admin webhooks), shown this once.
#[derive(Debug)]
pub struct CreatedListener {
    pub view: ListenerView,
    pub secret: Option<WebhookSecret>,
}

/// A delivery as listed on the listener's page.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ListenerEventView {
    pub delivery_id: String,
    pub event: String,
    pub issue_ids: Vec<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub event_time: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub received_at: OffsetDateTime,
    pub state: String,
    pub flow_run_id: Option<Uuid>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub processed_at: Option<OffsetDateTime>,
}

impl ListenerEventView {
    fn of(e: ListenerEvent) -> Self {
        Self {
            delivery_id: e.delivery_id,
            event: e.kind,
            issue_ids: e.issue_ids,
            event_time: OffsetDateTime::from_unix_timestamp_nanos(
                i128::from(e.event_ms) * 1_000_000,
            )
            .unwrap_or(e.received_at),
            received_at: e.received_at,
            state: e.state,
            flow_run_id: e.flow_run_id,
            processed_at: e.processed_at,
        }
    }
}

/// What is wrong with a listener's own JQL, if anything: it is joined to its export's as
/// `(<export's>) AND (<listener's>)`, so a quote or parenthesis left open would carry it out
/// of its parentheses (widening what the listener reads), and an `ORDER BY` would end up in
/// the middle.
fn listener_jql_problem(jql: &str) -> Option<String> {
    if let Some(problem) = jiralink_sync::spec::unbalanced(jql) {
        return Some(format!(
            "the listener's JQL has {problem}: close every quote and parenthesis it opens"
        ));
    }
    jiralink_sync::spec::contains_order_by(jql)
        .then(|| "leave ORDER BY out of the listener's JQL: it only filters".to_owned())
}

/// A saved listener's own JQL can be joined to its export's (one saved before that was
/// checked may not); the error names the listener. Reads nothing.
pub(crate) fn check_listener_jql(record: &ListenerRecord) -> AppResult<()> {
    effective_jql(None, record.jql.as_deref())
        .map(|_| ())
        .map_err(|e| named_after(record, e))
}

/// `e`, a refusal of `record`'s JQL, naming the listener.
fn named_after(record: &ListenerRecord, e: AppError) -> AppError {
    match e {
        AppError::InvalidInput(m) => {
            AppError::InvalidInput(format!("listener {:?}: {m}", record.name))
        }
        e => e,
    }
}

/// `(a) AND (b)`, either alone, or none; refused when the listener's JQL (`b`) would not stay
/// inside its parentheses (a listener saved before that was checked).
pub(crate) fn effective_jql(
    export: Option<&str>,
    listener: Option<&str>,
) -> AppResult<Option<String>> {
    let clean = |j: Option<&str>| {
        j.map(str::trim)
            .filter(|j| !j.is_empty())
            .map(str::to_owned)
    };
    if let Some(problem) = clean(listener).as_deref().and_then(listener_jql_problem) {
        return Err(AppError::InvalidInput(format!(
            "{problem}; delete the listener and create it again with a JQL that fits"
        )));
    }
    Ok(match (clean(export), clean(listener)) {
        (Some(a), Some(b)) => Some(format!("({a}) AND ({b})")),
        (a, b) => a.or(b),
    })
}

/// 256 random bits as 64 hex digits.
fn random_hex() -> Zeroizing<String> {
    let mut bytes = Zeroizing::new([0u8; 32]);
    rand::rngs::OsRng.fill_bytes(&mut *bytes);
    Zeroizing::new(hex::encode(*bytes))
}

/// Checks the events named; empty means the defaults.
fn checked_events(events: &[String], problems: &mut Vec<String>) -> Vec<String> {
    if events.is_empty() {
        return DEFAULT_EVENTS.iter().map(|e| (*e).to_owned()).collect();
    }
    let mut out: Vec<String> = Vec::new();
    for e in events {
        let e = e.trim();
        if EVENTS.contains(&e) {
            if !out.iter().any(|o| o == e) {
                out.push(e.to_owned());
            }
        } else {
            problems.push(format!(
                "{e:?} is not an event a listener takes; choose from {}",
                EVENTS.join(", ")
            ));
        }
    }
    out
}

fn checked_field_ids(ids: &[String], problems: &mut Vec<String>) -> Vec<String> {
    let mut out = Vec::new();
    for id in ids {
        let id = id.trim();
        if id.is_empty() {
            continue;
        }
        if id.len() > 100
            || !id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.')
        {
            problems.push(format!(
                "{id:?} is not a field id; use ids such as summary or customfield_10010"
            ));
        } else {
            out.push(id.to_owned());
        }
    }
    out
}

impl App {
    /// Finds a listener by id or by name (without regard to case).
    pub(crate) async fn find_listener(&self, reference: &str) -> AppResult<ListenerRecord> {
        let store = self.store();
        crate::find_by_reference(
            reference,
            async |id: Uuid| store.get_listener(id).await,
            async |name: &str| store.find_listener_by_name(name.trim()).await,
            || AppError::ListenerNotFound {
                reference: reference.to_owned(),
            },
        )
        .await
    }

    /// Where Jira delivers a listener's events.
    pub(crate) fn listener_url(&self, token: &str) -> String {
        let base = self.config().server.base_url.as_str().trim_end_matches('/');
        format!("{base}/hooks/jira/{token}")
    }

    /// [`App::listener_url`] as a URL.
    pub(crate) fn listener_url_parsed(&self, token: &str) -> AppResult<url::Url> {
        url::Url::parse(&self.listener_url(token)).map_err(|e| {
            AppError::Config(format!(
                "server.base_url does not make a webhook URL ({e}); set it to this server's \
                 public address"
            ))
        })
    }

    /// The JQL a listener's webhooks filter by.
    pub(crate) async fn listener_jql(&self, record: &ListenerRecord) -> AppResult<Option<String>> {
        let flow = self.store().get_flow(record.flow_id).await?;
        let export = self.store().get_export(flow.export_id).await?;
        let spec: ExportSpec = serde_json::from_value(export.spec).map_err(|e| {
            AppError::Io(format!(
                "the flow's export cannot be read ({e}); save it again"
            ))
        })?;
        effective_jql(spec.user_jql(), record.jql.as_deref()).map_err(|e| named_after(record, e))
    }

    /// Creates a listener for a flow. For an OAuth 2.0 connection it registers Jira's dynamic
    /// webhooks at once (the connection needs the `manage:jira-webhook` scope); for a Basic
    /// connection it generates the secret a site administrator gives Jira, returned this
    /// once.
    ///
    /// # Errors
    /// `validation_failed`, `listener_name_taken`, `flow_not_found`, `connection_offline`,
    /// `webhook_registration_failed` (nothing is saved).
    pub async fn create_listener(&self, draft: ListenerDraft) -> AppResult<CreatedListener> {
        let mut problems = Vec::new();
        let name = draft.name.trim().to_owned();
        problems.extend(crate::exports::definition_name_problem(&name, "listener"));
        let events = checked_events(&draft.events, &mut problems);
        let field_ids = checked_field_ids(&draft.field_ids, &mut problems);
        let jql = draft
            .jql
            .as_deref()
            .map(str::trim)
            .filter(|j| !j.is_empty())
            .map(str::to_owned);
        let jql_problem = jql.as_deref().and_then(listener_jql_problem);
        if let Some(problem) = &jql_problem {
            problems.push(problem.clone());
        }
        let flow = self.find_flow(&draft.flow).await?;
        let export = self.store().get_export(flow.export_id).await?;
        let connection = self
            .find_connection(&export.connection_id.to_string())
            .await?;
        let dynamic = matches!(connection.settings.auth, ConnectionAuth::OAuth2 { .. });
        let spec: ExportSpec = serde_json::from_value(export.spec.clone()).map_err(|e| {
            AppError::Io(format!(
                "the flow's export cannot be read ({e}); save it again"
            ))
        })?;
        // A JQL that cannot be joined is among the problems already.
        let effective = effective_jql(spec.user_jql(), jql.as_deref()).unwrap_or_default();
        if dynamic && jql_problem.is_none() && effective.is_none() {
            problems.push(
                "Jira's dynamic webhooks need a JQL filter: give one (e.g. project = MKT), or \
                 give the flow's export one"
                    .to_owned(),
            );
        }
        if !problems.is_empty() {
            return Err(AppError::InvalidInput(problems.join("; ")));
        }
        if self.store().find_listener_by_name(&name).await?.is_some() {
            return Err(AppError::ListenerNameTaken { name });
        }
        let now = self.now();
        let mut record = ListenerRecord {
            id: Uuid::new_v4(),
            name,
            connection_id: connection.id,
            flow_id: flow.id,
            token: random_hex()[..32].to_owned(),
            mode: if dynamic { "dynamic" } else { "admin" }.to_owned(),
            events,
            jql,
            field_ids,
            webhook_ids: Vec::new(),
            expires_at: None,
            state: "active".to_owned(),
            state_reason: None,
            status: Status::default().value(),
            version: 1,
            created_at: now,
            updated_at: now,
        };
        let mut secret = None;
        let mut secrets = Vec::new();
        if dynamic {
            let client = self.listener_client(connection.id).await?;
            let url = self.listener_url_parsed(&record.token)?;
            let spec = webhook_spec(&record, effective.clone());
            let results = client
                .register_webhooks(&url, std::slice::from_ref(&spec))
                .await
                .map_err(|e| AppError::WebhookRegistration {
                    action: "register the webhook",
                    message: e.to_string(),
                })?;
            for result in results {
                match result {
                    Ok(id) => record.webhook_ids.push(id),
                    Err(errors) => {
                        return Err(AppError::WebhookRegistration {
                            action: "register the webhook",
                            message: errors.join("; "),
                        });
                    }
                }
            }
            record.expires_at = Some(self.webhook_expiry(&client, &record.webhook_ids).await);
        } else {
            let value = WebhookSecret::from(random_hex());
            secrets.push(self.seal_secret(
                SecretOwner::Listener(record.id),
                SecretField::WebhookSecret,
                value.expose(),
            )?);
            secret = Some(value);
        }
        if let Err(e) = self.store().insert_listener(&record, &secrets).await {
            // Jira would otherwise keep calling a URL nothing answers.
            if dynamic && let Ok(client) = self.listener_client(connection.id).await {
                client.delete_webhooks(&record.webhook_ids).await.ok();
            }
            return Err(match e {
                StoreError::Conflict { .. } => AppError::ListenerNameTaken { name: record.name },
                e => e.into(),
            });
        }
        self.plan_listener_jobs(record.id).await?;
        tracing::info!(listener = %record.id, mode = %record.mode, "listener created");
        let view = self.listener_view(record).await?;
        Ok(CreatedListener { view, secret })
    }

    /// When Jira says the webhooks expire; 30 days from now if it does not say.
    pub(crate) async fn webhook_expiry(
        &self,
        client: &jiralink_atlassian::JiraClient,
        ids: &[u64],
    ) -> OffsetDateTime {
        let fallback = self.now() + time::Duration::days(30);
        match client.list_webhooks().await {
            Ok(hooks) => hooks
                .iter()
                .filter(|h| ids.contains(&h.id))
                .map(|h| h.expiration)
                .min()
                .unwrap_or(fallback),
            Err(e) => {
                tracing::warn!(error = %e, "the webhooks' expiry could not be read");
                fallback
            }
        }
    }

    /// The client for a listener's connection (offline connections are refused).
    pub(crate) async fn listener_client(
        &self,
        connection: ConnectionId,
    ) -> AppResult<jiralink_atlassian::JiraClient> {
        let connection = self.usable_connection(&connection.to_string()).await?;
        self.client_for(
            &connection.settings,
            Some(&connection),
            crate::client::CredentialSource::Stored,
            crate::client::Purpose::Requests,
        )
        .await
    }

    /// One listener.
    ///
    /// # Errors
    /// `listener_not_found`.
    pub async fn get_listener(&self, reference: &str) -> AppResult<ListenerView> {
        let record = self.find_listener(reference).await?;
        self.listener_view(record).await
    }

    /// Every listener, by name.
    ///
    /// # Errors
    /// A store error.
    pub async fn list_listeners(&self) -> AppResult<Vec<ListenerView>> {
        let mut views = Vec::new();
        for record in self.store().list_listeners().await? {
            views.push(self.listener_view(record).await?);
        }
        Ok(views)
    }

    /// The listener's newest deliveries, newest first.
    ///
    /// # Errors
    /// `listener_not_found`.
    pub async fn listener_events(
        &self,
        reference: &str,
        limit: u32,
    ) -> AppResult<Vec<ListenerEventView>> {
        let record = self.find_listener(reference).await?;
        Ok(self
            .store()
            .recent_listener_events(record.id, limit.clamp(1, 500))
            .await?
            .into_iter()
            .map(ListenerEventView::of)
            .collect())
    }

    /// Deletes a listener: its dynamic webhooks on Jira first (when Jira cannot be reached
    /// they expire by themselves within 30 days, and their deliveries are refused), then its
    /// events and secret.
    ///
    /// # Errors
    /// `listener_not_found`.
    pub async fn delete_listener(&self, reference: &str) -> AppResult<()> {
        let record = self.find_listener(reference).await?;
        if !record.webhook_ids.is_empty() {
            match self.listener_client(record.connection_id).await {
                Ok(client) => {
                    if let Err(e) = client.delete_webhooks(&record.webhook_ids).await {
                        tracing::warn!(listener = %record.id, error = %e, "the listener's webhooks could not be deleted on Jira; they expire by themselves");
                    }
                }
                Err(e) => {
                    tracing::warn!(listener = %record.id, error = %e, "the listener's webhooks could not be deleted on Jira; they expire by themselves");
                }
            }
        }
        self.store().delete_listener(record.id).await?;
        self.forget_listener_jobs(record.id).await?;
        tracing::info!(listener = %record.id, "listener deleted");
        Ok(())
    }

    /// The names of the listeners feeding a flow, for refusals.
    pub(crate) async fn listeners_feeding(&self, flow: Uuid) -> AppResult<Vec<String>> {
        Ok(self
            .store()
            .listeners_of_flow(flow)
            .await?
            .into_iter()
            .map(|(_, name)| format!("listener {name:?}"))
            .collect())
    }

    pub(crate) async fn listener_view(&self, record: ListenerRecord) -> AppResult<ListenerView> {
        let flow = self.store().get_flow(record.flow_id).await?;
        let connection = self.store().get_connection(record.connection_id).await?;
        let stats = self.store().listener_event_stats(record.id).await?;
        let now = self.now();
        let lag = lag_of(&stats, now);
        // A listener saved before its JQL was checked still shows (and can be deleted); the
        // reason says why it does nothing.
        let (effective, jql_problem) = match self.listener_jql(&record).await {
            Ok(effective) => (effective, None),
            Err(AppError::InvalidInput(problem)) => (None, Some(problem)),
            Err(e) => return Err(e),
        };
        let url = self.listener_url(&record.token);
        let status = Status::of(&record);
        let setup_steps = if record.mode == "admin" {
            admin_steps(
                &url,
                connection
                    .settings
                    .subdomain
                    .as_ref()
                    .map(|s| self.config().atlassian.site_url(s).to_string())
                    .as_deref(),
                &record.events,
                effective.as_deref(),
            )
        } else {
            Vec::new()
        };
        Ok(ListenerView {
            id: record.id,
            name: record.name,
            flow_id: flow.id,
            flow_name: flow.name,
            connection_id: connection.id,
            connection_name: connection.settings.name.as_str().to_owned(),
            mode: record.mode,
            url,
            events: record.events,
            jql: record.jql,
            field_ids: record.field_ids,
            effective_jql: effective,
            webhook_ids: record.webhook_ids,
            expires_at: record.expires_at,
            state: record.state,
            state_reason: jql_problem.or(record.state_reason),
            last_event_at: stats.last_received_at,
            last_processed_at: stats.last_processed_at,
            received: stats.received,
            pending: stats.pending,
            lag_seconds: u64::try_from(lag.whole_seconds()).unwrap_or(0),
            behind: lag > BEHIND_AFTER,
            safety_net: status.safety_net,
            setup_steps,
            version: record.version,
            created_at: record.created_at,
        })
    }
}

/// The dynamic webhook a listener registers.
pub(crate) fn webhook_spec(record: &ListenerRecord, jql: Option<String>) -> WebhookSpec {
    WebhookSpec {
        events: record
            .events
            .iter()
            .map(|e| WebhookEventKind::from_name(e))
            .collect(),
        jql_filter: jql.unwrap_or_default(),
        field_ids_filter: record.field_ids.clone(),
    }
}

/// How long the longest-waiting unprocessed event has waited since jiralink received it (zero
/// when none waits). Counted from receipt, not from Jira's event time: a delivery Jira sent
/// late, or one read back from `webhook/failed`, is not work jiralink fell behind on.
pub(crate) fn lag_of(
    stats: &jiralink_store::ListenerEventStats,
    now: OffsetDateTime,
) -> time::Duration {
    stats
        .oldest_pending_received_at
        .map_or(time::Duration::ZERO, |t| {
            (now - t).max(time::Duration::ZERO)
        })
}

/// What a site administrator does in Jira for a Basic connection's listener.
/// `site`: the connection's site URL (the Atlassian endpoints' template applied to its
/// subdomain), when it has one.
fn admin_steps(url: &str, site: Option<&str>, events: &[String], jql: Option<&str>) -> Vec<String> {
    let admin = site.map_or_else(
        || "your site's Jira settings".to_owned(),
        |s| format!("{}/plugins/servlet/webhooks", s.trim_end_matches('/')),
    );
    let mut steps = vec![
        format!("As a Jira site administrator, open System → WebHooks ({admin})."),
        "Select Create a WebHook and give it a name, such as jiralink.".to_owned(),
        format!("URL: {url}"),
        "Secret: the secret jiralink showed when the listener was created (it is not shown \
         again; delete the listener and create it again for a new one)."
            .to_owned(),
        format!("Events: {}.", events.join(", ")),
    ];
    if let Some(jql) = jql {
        steps.push(format!("JQL for the issue events: {jql}"));
    }
    steps.push(
        "Save. jiralink refuses every delivery whose X-Hub-Signature does not match the \
         secret."
            .to_owned(),
    );
    steps
}

#[cfg(test)]
mod tests {
    #[test]
    fn lag_counts_from_receipt_not_from_jiras_event_time() {
        let now = time::macros::datetime!(2026-01-01 12:00 UTC);
        let none = jiralink_store::ListenerEventStats::default();
        assert_eq!(super::lag_of(&none, now), time::Duration::ZERO);
        // A delivery read back from webhook/failed: an hour old by Jira's clock, just received.
        let recovered = jiralink_store::ListenerEventStats {
            pending: 1,
            oldest_pending_ms: Some(1_767_265_200_000),
            oldest_pending_received_at: Some(now - time::Duration::seconds(2)),
            ..Default::default()
        };
        assert_eq!(super::lag_of(&recovered, now), time::Duration::seconds(2));
        let waiting = jiralink_store::ListenerEventStats {
            oldest_pending_received_at: Some(now - time::Duration::minutes(6)),
            ..recovered
        };
        assert_eq!(super::lag_of(&waiting, now), time::Duration::minutes(6));
    }

    use super::*;

    #[test]
    fn effective_jql_joins_both_filters() {
        assert_eq!(
            effective_jql(Some("project = MKT"), Some("type = Bug"))
                .unwrap()
                .as_deref(),
            Some("(project = MKT) AND (type = Bug)")
        );
        assert_eq!(
            effective_jql(Some(" "), Some("type = Bug"))
                .unwrap()
                .as_deref(),
            Some("type = Bug")
        );
        assert_eq!(effective_jql(None, None).unwrap(), None);
    }

    /// A listener saved before its JQL was checked cannot widen its export's JQL: a JQL that
    /// would leave its parentheses, or end in ORDER BY, is refused where it is joined.
    #[test]
    fn a_listener_jql_that_would_not_stay_inside_its_parentheses_is_refused() {
        for jql in [
            "type = Bug) OR (project = SECRET",
            "summary ~ \"open",
            "type = Bug ORDER BY key",
        ] {
            let err = effective_jql(Some("project = MKT"), Some(jql)).unwrap_err();
            assert_eq!(err.code(), "validation_failed", "{jql}: {err}");
            assert!(err.to_string().contains("listener's JQL"), "{err}");
        }
    }

    #[test]
    fn events_are_checked_and_default_to_issues_and_comments() {
        let mut problems = Vec::new();
        assert_eq!(checked_events(&[], &mut problems).len(), 6);
        let got = checked_events(
            &[
                "comment_created".to_owned(),
                "comment_created".to_owned(),
                "nope".to_owned(),
            ],
            &mut problems,
        );
        assert_eq!(got, vec!["comment_created"]);
        assert_eq!(problems.len(), 1);
        assert!(problems[0].contains("\"nope\""));
    }

    #[test]
    fn admin_steps_name_the_url_and_the_filter() {
        let steps = admin_steps(
            "https://jl.example.com/hooks/jira/abc",
            Some("https://demo.atlassian.net/"),
            &["jira:issue_created".to_owned()],
            Some("project = MKT"),
        );
        assert!(
            steps
                .iter()
                .any(|s| s.contains("https://jl.example.com/hooks/jira/abc"))
        );
        assert!(
            steps
                .iter()
                .any(|s| s.contains("(https://demo.atlassian.net/plugins/servlet/webhooks)"))
        );
        assert!(steps.iter().any(|s| s.contains("project = MKT")));
    }
}
