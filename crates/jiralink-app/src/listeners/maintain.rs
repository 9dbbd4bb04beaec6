//! Keeping a listener working: its webhooks refreshed before Jira drops them, deliveries Jira
//! gave up on read back, and the safety net that finds what no event brought.

use std::collections::HashSet;

use jiralink_atlassian::SearchRequest;
use jiralink_store::{
    EventStored, JobRecord, ListenerEvent, ListenerRecord, NewJob, RunTrigger, StoreError,
};
use serde::Serialize;
use time::OffsetDateTime;
use uuid::Uuid;

use super::definitions::{BEHIND_AFTER, Status};
use super::process::{BATCH_ISSUES, FlowSource};
use super::receive::RETENTION;
use super::{MAX_DELIVERY_BYTES, UPKEEP_JOB, process_job, process_key, upkeep_key};
use crate::{App, AppError, AppResult, HealthState, Subject, SubjectKind, Topic};

/// How often the safety net looks.
pub const SAFETY_NET_EVERY: time::Duration = time::Duration::minutes(15);

/// Dynamic webhooks are refreshed once they have less than this left of their 30 days.
pub const REFRESH_BEFORE: time::Duration = time::Duration::days(7);

/// How long before its webhooks expire a listener whose refresh failed is reported.
const EXPIRY_WARNING: time::Duration = time::Duration::days(3);

/// How far below its last bound the safety net reads again (the search index lags).
const OVERLAP: time::Duration = time::Duration::minutes(5);

/// How far behind now the safety net stops, for the search index lag.
const INDEX_LAG: time::Duration = time::Duration::seconds(60);

/// Copied issues the safety net checks for deletions at each look; it walks all of a flow's
/// copies in turn, this many at a time.
pub const SWEEP_LINKS: u32 = 1_000;

/// Above this many originals missing in one look, and more than half of those checked, the
/// safety net deletes nothing: that is the connection losing sight of a project (a permission
/// or scope change), not deletions.
const SWEEP_REFUSE_ABOVE: usize = 20;

/// What one upkeep round did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UpkeepReport {
    /// The webhooks were refreshed (or registered again after they expired).
    pub refreshed: bool,
    /// Deliveries read back from `webhook/failed`.
    pub recovered: u64,
    /// Whether the safety net looked this round.
    pub safety_net_ran: bool,
    /// Changed issues it found that no event had brought.
    pub found: u64,
    /// Copies it deleted because their original was gone and no event had said so.
    pub deleted: u64,
    /// Events and replay keys forgotten.
    pub pruned: u64,
    /// Problems met (the round goes on past each).
    pub problems: Vec<String>,
}

/// Too many originals missing at once to be deletions.
fn looks_like_lost_sight(gone: usize, checked: usize) -> bool {
    gone > SWEEP_REFUSE_ABOVE && gone * 2 > checked
}

fn ms(t: OffsetDateTime) -> i64 {
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

impl App {
    /// Adds the listener's two jobs, due now.
    pub(crate) async fn plan_listener_jobs(&self, id: Uuid) -> AppResult<()> {
        let now = self.now();
        self.ensure_process_job(id, now).await?;
        self.ensure_definition_job(NewJob {
            kind: UPKEEP_JOB.to_owned(),
            key: upkeep_key(id),
            payload: serde_json::json!({ "listenerId": id }),
            next_run_at: now + SAFETY_NET_EVERY,
        })
        .await
    }

    /// Makes a deleted listener's jobs come due, so they delete themselves.
    pub(crate) async fn forget_listener_jobs(&self, id: Uuid) -> AppResult<()> {
        let now = self.now();
        self.store().reschedule_job(&process_key(id), now).await?;
        self.store().reschedule_job(&upkeep_key(id), now).await?;
        Ok(())
    }

    /// Runs a listener's upkeep job; `None`: the job is deleted (the listener is gone).
    pub(crate) async fn run_listener_upkeep_job(
        &self,
        job: &JobRecord,
    ) -> AppResult<(String, Option<OffsetDateTime>)> {
        let Some(id) = job
            .key
            .strip_prefix("listener-upkeep:")
            .and_then(|id| id.parse::<Uuid>().ok())
        else {
            return Ok(("not a listener's job".to_owned(), None));
        };
        let record = match self.store().get_listener(id).await {
            Ok(record) => record,
            Err(StoreError::NotFound { .. }) => {
                return Ok(("the listener was deleted".to_owned(), None));
            }
            Err(e) => return Err(e.into()),
        };
        let report = self.upkeep(record.clone()).await?;
        let mut detail = format!(
            "{}: {} recovered, safety net {}",
            record.name,
            report.recovered,
            if report.safety_net_ran {
                format!("found {}", report.found)
            } else {
                "not due".to_owned()
            }
        );
        if report.refreshed {
            detail.push_str(", webhooks refreshed");
        }
        for p in &report.problems {
            detail.push_str("; ");
            detail.push_str(p);
        }
        let record = self.store().get_listener(id).await?;
        Ok((detail, Some(self.next_upkeep(&record))))
    }

    /// When the listener's upkeep is due next: the safety net's next look, or sooner when the
    /// webhooks need refreshing.
    fn next_upkeep(&self, record: &ListenerRecord) -> OffsetDateTime {
        let status = Status::of(record);
        let now = self.now();
        let mut next = status
            .safety_net
            .last_at
            .map_or(now + SAFETY_NET_EVERY, |at| at + SAFETY_NET_EVERY)
            .max(now + time::Duration::seconds(30));
        if let Some(expires) = record.expires_at {
            next = next.min((expires - REFRESH_BEFORE).max(now + time::Duration::minutes(1)));
        }
        next
    }

    /// Runs a listener's upkeep now: refresh, recovery, safety net, clean-up.
    ///
    /// # Errors
    /// `listener_not_found`; store errors. Jira's refusals are reported in the result.
    pub async fn check_listener(&self, reference: &str) -> AppResult<UpkeepReport> {
        let record = self.find_listener(reference).await?;
        let mut report = self.upkeep_with(record, true).await?;
        report.problems.dedup();
        Ok(report)
    }

    async fn upkeep(&self, record: ListenerRecord) -> AppResult<UpkeepReport> {
        let due = Status::of(&record)
            .safety_net
            .last_at
            .is_none_or(|at| self.now() - at >= SAFETY_NET_EVERY - time::Duration::seconds(30));
        self.upkeep_with(record, due).await
    }

    async fn upkeep_with(
        &self,
        mut record: ListenerRecord,
        safety_net: bool,
    ) -> AppResult<UpkeepReport> {
        let mut report = UpkeepReport::default();
        let registered_before = record.webhook_ids.clone();
        if record.mode == "dynamic" {
            match self.refresh_webhooks(&mut record).await {
                Ok(refreshed) => report.refreshed = refreshed,
                Err(e) => report.problems.push(e.to_string()),
            }
            match self.recover_failed(&mut record).await {
                Ok(n) => report.recovered = n,
                Err(e) => report.problems.push(format!("reading webhook/failed: {e}")),
            }
        }
        if safety_net {
            report.safety_net_ran = true;
            match self.safety_net(&mut record).await {
                Ok((found, deleted)) => {
                    report.found = found;
                    report.deleted = deleted;
                }
                Err(e) => {
                    let mut status = Status::of(&record);
                    status.safety_net.error = Some(e.to_string());
                    status.safety_net.last_at = Some(self.now());
                    record.status = status.value();
                    report.problems.push(format!("safety net: {e}"));
                }
            }
        }
        record.updated_at = self.now();
        match self.store().update_listener(&record).await {
            Ok(_) => {}
            // Changed meanwhile (another round, on this server or another, or an edit) or
            // deleted: the stored listener stands, so webhooks this round registered would
            // be known to nobody and call on forever; they go.
            Err(StoreError::Changed { .. } | StoreError::NotFound { .. }) => {
                let orphans: Vec<u64> = record
                    .webhook_ids
                    .iter()
                    .copied()
                    .filter(|id| !registered_before.contains(id))
                    .collect();
                if !orphans.is_empty()
                    && let Ok(client) = self.listener_client(record.connection_id).await
                    && let Err(e) = client.delete_webhooks(&orphans).await
                {
                    tracing::warn!(listener = %record.id, error = %e, "webhooks registered by a round whose result was not kept could not be deleted; they expire within 30 days");
                }
                return Ok(report);
            }
            Err(e) => return Err(e.into()),
        }
        report.pruned = self
            .store()
            .prune_listener_events(self.now() - RETENTION)
            .await?;
        self.report_webhooks_expiring(&record).await;
        self.report_behind(&record).await?;
        if report.recovered > 0 {
            // The store made the processing job due with the recovered events.
            self.wake_worker();
        }
        Ok(report)
    }

    /// Refreshes the dynamic webhooks when less than [`REFRESH_BEFORE`] is left, or registers
    /// them again when Jira has dropped them. `true` when it did either.
    async fn refresh_webhooks(&self, record: &mut ListenerRecord) -> AppResult<bool> {
        let now = self.now();
        let due = record
            .expires_at
            .is_none_or(|expires| expires - now < REFRESH_BEFORE);
        if !due && record.state == "active" {
            return Ok(false);
        }
        let client = match self.listener_client(record.connection_id).await {
            Ok(client) => client,
            Err(e) => {
                self.listener_trouble(record, "failed", &e.to_string());
                return Err(e);
            }
        };
        let alive: HashSet<u64> = client
            .list_webhooks()
            .await
            .map_err(|e| AppError::WebhookRegistration {
                action: "list the webhooks",
                message: e.to_string(),
            })?
            .into_iter()
            .filter(|h| h.expiration > now)
            .map(|h| h.id)
            .collect();
        let kept: Vec<u64> = record
            .webhook_ids
            .iter()
            .copied()
            .filter(|id| alive.contains(id))
            .collect();
        if kept.is_empty() {
            // Jira dropped them (expired, or deleted on the site): register them again.
            let jql = self.listener_jql(record).await?;
            let spec = super::definitions::webhook_spec(record, jql);
            let url = self.listener_url_parsed(&record.token)?;
            let results = match client
                .register_webhooks(&url, std::slice::from_ref(&spec))
                .await
            {
                Ok(results) => results,
                Err(e) => {
                    let message = format!("Jira refused to register the webhook again: {e}");
                    self.listener_trouble(record, "expired", &message);
                    return Err(AppError::WebhookRegistration {
                        action: "register the webhook again",
                        message: e.to_string(),
                    });
                }
            };
            let mut ids = Vec::new();
            for r in results {
                match r {
                    Ok(id) => ids.push(id),
                    Err(errors) => {
                        let message = errors.join("; ");
                        self.listener_trouble(record, "expired", &message);
                        return Err(AppError::WebhookRegistration {
                            action: "register the webhook again",
                            message,
                        });
                    }
                }
            }
            record.webhook_ids = ids;
            record.expires_at = Some(self.webhook_expiry(&client, &record.webhook_ids).await);
        } else {
            match client.refresh_webhooks(&kept).await {
                Ok(expires) => {
                    record.webhook_ids = kept;
                    record.expires_at = Some(expires);
                }
                Err(e) => {
                    let message = format!("Jira refused to refresh the webhooks: {e}");
                    self.listener_trouble(record, "failed", &message);
                    return Err(AppError::WebhookRegistration {
                        action: "refresh the webhooks",
                        message: e.to_string(),
                    });
                }
            }
        }
        record.state = "active".to_owned();
        record.state_reason = None;
        tracing::info!(listener = %record.id, expires = ?record.expires_at, "listener webhooks refreshed");
        Ok(true)
    }

    fn listener_trouble(&self, record: &mut ListenerRecord, state: &str, reason: &str) {
        tracing::warn!(listener = %record.id, state, reason, "listener trouble");
        record.state = state.to_owned();
        record.state_reason = Some(reason.to_owned());
    }

    /// Reads back the deliveries Jira gave up on (`webhook/failed`) for this listener's URL
    /// and stores them like any delivery (the same identifier is not stored twice).
    async fn recover_failed(&self, record: &mut ListenerRecord) -> AppResult<u64> {
        let client = self.listener_client(record.connection_id).await?;
        let url = self.listener_url(&record.token);
        let mut status = Status::of(record);
        let mut after = status.failed_after.and_then(|ms| {
            OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).ok()
        });
        let mut recovered = 0;
        // Bounded: Jira keeps failed deliveries for 72 hours.
        for _ in 0..100 {
            let page =
                client
                    .failed_webhooks(after)
                    .await
                    .map_err(|e| AppError::WebhookRegistration {
                        action: "read the failed deliveries",
                        message: e.to_string(),
                    })?;
            for failed in &page.deliveries {
                after = Some(after.map_or(failed.failure_time, |a| a.max(failed.failure_time)));
                if failed.url.trim_end_matches('/') != url {
                    continue;
                }
                let Some(body) = &failed.body else {
                    continue;
                };
                let Ok(event) =
                    jiralink_atlassian::WebhookEvent::decode(body.as_bytes(), MAX_DELIVERY_BYTES)
                else {
                    continue;
                };
                let stored = self
                    .store()
                    .store_listener_event(
                        &ListenerEvent {
                            listener_id: record.id,
                            delivery_id: failed.id.clone(),
                            kind: event.kind.name().to_owned(),
                            issue_ids: event.issue_ids.clone(),
                            event_ms: event.timestamp_ms,
                            body: body.clone(),
                            received_at: self.now(),
                            state: "pending".to_owned(),
                            flow_run_id: None,
                            processed_at: None,
                        },
                        &format!("failed:{}", failed.id),
                        &process_job(record.id, self.now()),
                    )
                    .await?;
                if stored == EventStored::New {
                    recovered += 1;
                }
            }
            let before = after;
            match page.next_after {
                // Jira points on; a page that does not move on ends the reading.
                Some(next) if before.is_none_or(|b| next > b) || !page.deliveries.is_empty() => {
                    after = Some(after.map_or(next, |a| a.max(next)));
                }
                _ => break,
            }
        }
        status.failed_after = after.map(ms);
        status.safety_net.recovered_total += recovered;
        record.status = status.value();
        Ok(recovered)
    }

    /// Reads the issues the listener's JQL matches that changed since its last look, and
    /// sends through the flow those the id map has not seen in that state and no pending
    /// event names: what events missed. Then, when the listener takes deletions, checks the
    /// next [`SWEEP_LINKS`] copied issues and deletes the copies of those gone from the
    /// source. Returns how many changed issues it found and how many copies it deleted.
    async fn safety_net(&self, record: &mut ListenerRecord) -> AppResult<(u64, u64)> {
        let now = self.now();
        let mut status = Status::of(record);
        let upper = now - INDEX_LAG;
        let lower = status
            .safety_net
            .upper_ms
            .map_or_else(|| ms(record.created_at - OVERLAP), |u| u - ms_of(OVERLAP));
        let upper_ms = ms(upper);
        let flow = self.store().get_flow(record.flow_id).await?;
        let import = self.store().get_import(flow.import_id).await?;
        let client = self.listener_client(record.connection_id).await?;
        let jql = self.listener_jql(record).await?;
        let mut parts = Vec::new();
        if let Some(jql) = &jql {
            parts.push(format!("({jql})"));
        }
        parts.push(format!("updated >= {lower}"));
        parts.push(format!("updated <= {upper_ms}"));
        let request = SearchRequest {
            jql: format!("{} ORDER BY updated ASC, key ASC", parts.join(" AND ")),
            fields: vec!["updated".to_owned()],
            max_results: Some(500),
            ..SearchRequest::default()
        };
        let mut seen: Vec<(String, Option<String>)> = Vec::new();
        let mut token: Option<String> = None;
        let mut tokens = HashSet::new();
        loop {
            let page = client
                .search_jql_page_raw(&request, token.as_deref())
                .await
                .map_err(|e| AppError::Io(format!("the safety net's search failed: {e}")))?;
            for raw in &page.issues {
                let value: serde_json::Value = serde_json::from_str(raw.get())
                    .map_err(|e| AppError::Io(format!("Jira sent an unreadable issue: {e}")))?;
                let Some(id) = value.get("id").and_then(serde_json::Value::as_str) else {
                    continue;
                };
                let updated = value
                    .pointer("/fields/updated")
                    .and_then(serde_json::Value::as_str)
                    .map(str::to_owned);
                seen.push((id.to_owned(), updated));
            }
            match page.next_page_token {
                Some(next) if tokens.insert(next.clone()) => token = Some(next),
                _ => break,
            }
        }
        let ids: Vec<String> = seen.iter().map(|(id, _)| id.clone()).collect();
        let links = self
            .store()
            .sync_links(record.connection_id, import.connection_id, &ids)
            .await?;
        let pending: HashSet<String> = self
            .store()
            .pending_listener_events(record.id, 10_000)
            .await?
            .into_iter()
            .flat_map(|e| e.issue_ids)
            .collect();
        let missed: Vec<u64> = seen
            .iter()
            .filter(|(id, updated)| {
                !pending.contains(id)
                    && !links.get(id).is_some_and(|l| {
                        l.seen_updated
                            .as_deref()
                            .is_some_and(|s| crate::flows::same_instant(s, updated.as_deref()))
                    })
            })
            .filter_map(|(id, _)| id.parse().ok())
            .collect();
        let found = missed.len() as u64;
        for chunk in missed.chunks(BATCH_ISSUES) {
            self.safety_net_run(record, &flow.id.to_string(), chunk.to_vec(), Vec::new())
                .await?;
        }
        // The changes are in: the next look starts from here even if the sweep fails.
        status.safety_net.upper_ms = Some(upper_ms);
        status.safety_net.found = found;
        status.safety_net.found_total += found;
        record.status = status.value();
        let deleted = if record.events.iter().any(|e| e == "jira:issue_deleted") {
            self.sweep_deletions(
                record,
                &mut status,
                (record.connection_id, import.connection_id),
                &client,
                &pending,
            )
            .await?
        } else {
            Vec::new()
        };
        for chunk in deleted.chunks(BATCH_ISSUES) {
            self.safety_net_run(record, &flow.id.to_string(), Vec::new(), chunk.to_vec())
                .await?;
        }
        let deleted = deleted.len() as u64;
        status.safety_net.last_at = Some(now);
        status.safety_net.deleted = deleted;
        status.safety_net.deleted_total += deleted;
        status.safety_net.error = None;
        record.status = status.value();
        if found > 0 || deleted > 0 {
            tracing::info!(listener = %record.id, found, deleted, "the safety net found changes no event brought");
        }
        Ok((found, deleted))
    }

    /// One flow run of what the safety net found.
    async fn safety_net_run(
        &self,
        record: &ListenerRecord,
        flow: &str,
        changed: Vec<u64>,
        deleted: Vec<u64>,
    ) -> AppResult<()> {
        let source = FlowSource {
            listener: record.id,
            changed,
            deleted,
        };
        match self
            .run_flow_with(flow, RunTrigger::Listener, Some(source))
            .await?
        {
            (_, true) => Ok(()),
            (_, false) => Err(AppError::FlowWaiting {
                reason: "an earlier run of the flow was finished first; the safety net looks \
                         again next round"
                    .to_owned(),
            }),
        }
    }

    /// The next [`SWEEP_LINKS`] issues the flow copied, read back from the source by id: those
    /// gone, which no pending event names, are deletions no event brought. The walk goes on
    /// from where the last look stopped and starts over after the last copy.
    async fn sweep_deletions(
        &self,
        record: &ListenerRecord,
        status: &mut Status,
        (source, target): (jiralink_domain::ConnectionId, jiralink_domain::ConnectionId),
        client: &jiralink_atlassian::JiraClient,
        pending: &HashSet<String>,
    ) -> AppResult<Vec<u64>> {
        let links = self
            .store()
            .sync_links_after(source, target, status.sweep_after.as_deref(), SWEEP_LINKS)
            .await?;
        let next = if links.len() < SWEEP_LINKS as usize {
            None
        } else {
            links.last().map(|l| l.issue_id.clone())
        };
        if links.is_empty() {
            status.sweep_after = next;
            return Ok(Vec::new());
        }
        let there = crate::flows::read_updated(client, links.iter().map(|l| l.issue_id.as_str()))
            .await
            .map_err(|e| {
                AppError::Io(format!(
                    "the safety net's read of copied issues failed: {e}"
                ))
            })?;
        let gone: Vec<u64> = links
            .iter()
            .filter(|l| !there.contains_key(&l.issue_id) && !pending.contains(&l.issue_id))
            .filter_map(|l| l.issue_id.parse().ok())
            .collect();
        if looks_like_lost_sight(gone.len(), links.len()) {
            return Err(AppError::Io(format!(
                "{} of the {} copied issues checked cannot be read on the source site; their \
                 copies are kept. Check that the connection can still browse the flow's projects \
                 (jiralink connection test), then run jiralink listener check again",
                gone.len(),
                links.len()
            )));
        }
        tracing::debug!(listener = %record.id, checked = links.len(), gone = gone.len(), "the safety net checked copied issues");
        status.sweep_after = next;
        Ok(gone)
    }
}

impl App {
    /// Tells the listener's subscribers when its dynamic webhooks are within
    /// [`EXPIRY_WARNING`] of their end (refreshing them failed), and when they are renewed.
    async fn report_webhooks_expiring(&self, record: &ListenerRecord) {
        if record.mode != "dynamic" {
            return;
        }
        let now = self.now();
        let state = match record.expires_at {
            Some(expires) if expires - now < EXPIRY_WARNING => HealthState::Trouble {
                detail: format!(
                    "its webhooks on Jira expire at {}{}",
                    crate::format_time(expires),
                    record
                        .state_reason
                        .as_deref()
                        .map_or_else(String::new, |r| format!(": {r}"))
                ),
            },
            None => HealthState::Trouble {
                detail: record.state_reason.clone().unwrap_or_else(|| {
                    "it has no webhooks on Jira; check the connection's scopes".to_owned()
                }),
            },
            Some(_) => HealthState::Ok,
        };
        self.report_state(
            Topic::ListenerWebhooksExpiring,
            &listener_subject(record),
            state,
            &format!("/listeners/{}", record.id),
        )
        .await;
    }

    /// Tells the listener's subscribers when its oldest unprocessed event is more than
    /// [`BEHIND_AFTER`] old, and when it has caught up.
    pub(crate) async fn report_behind(&self, record: &ListenerRecord) -> AppResult<()> {
        let stats = self.store().listener_event_stats(record.id).await?;
        let lag = super::definitions::lag_of(&stats, self.now());
        let state = if lag > BEHIND_AFTER {
            HealthState::Trouble {
                detail: format!(
                    "{} event(s) wait, the oldest for {} minutes",
                    stats.pending,
                    lag.whole_minutes()
                ),
            }
        } else {
            HealthState::Ok
        };
        self.report_state(
            Topic::ListenerBehind,
            &listener_subject(record),
            state,
            &format!("/listeners/{}", record.id),
        )
        .await;
        Ok(())
    }
}

fn listener_subject(record: &ListenerRecord) -> Subject {
    Subject {
        kind: SubjectKind::Listener,
        id: record.id,
        name: record.name.clone(),
    }
}

fn ms_of(d: time::Duration) -> i64 {
    i64::try_from(d.whole_milliseconds()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::looks_like_lost_sight;

    #[test]
    fn many_originals_gone_at_once_are_not_taken_for_deletions() {
        assert!(!looks_like_lost_sight(0, 0));
        assert!(!looks_like_lost_sight(20, 20));
        assert!(!looks_like_lost_sight(21, 1000));
        assert!(!looks_like_lost_sight(500, 1000));
        assert!(looks_like_lost_sight(21, 40));
        assert!(looks_like_lost_sight(501, 1000));
    }
}
