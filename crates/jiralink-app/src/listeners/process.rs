//! Processing stored deliveries through the listener's flow.
//!
//! Events are hints, not data: for the issues they name, the flow reads each issue's current
//! state (a consistent read by id) and sends what changed since the id map last saw it. So a
//! repeated event, or an old one arriving after a newer one, changes nothing twice; an event
//! older than the newest one already applied to its issue is skipped outright. A deletion
//! deletes the copy (after checking the original is really gone). Events are marked done only
//! once their flow run succeeded: at least once, never lost.

use std::collections::HashMap;

use jiralink_store::{JobRecord, ListenerEvent, ListenerRecord, RunTrigger, StoreError};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use super::process_job;
use crate::{App, AppError, AppResult};

/// Issues one flow run reads at most (Jira's `reconcileIssues` takes 50 ids).
pub(crate) const BATCH_ISSUES: usize = 50;

/// Events read from the store at a time.
const READ_EVENTS: u32 = 1000;

/// When the job looks again with nothing to do: a delivery stored meanwhile makes it due at
/// once (also while it runs: the store keeps the sooner time), this only bounds the wait for
/// events stored by other means.
const IDLE_RECHECK: time::Duration = time::Duration::minutes(1);

/// When a batch that could not run (the flow, or its other direction, was running) is tried
/// again.
const RETRY_BUSY: time::Duration = time::Duration::seconds(1);

/// When a batch whose flow run failed is tried again.
const RETRY_FAILED: time::Duration = time::Duration::seconds(30);

/// What a flow run fed by a listener reads: the issues its events named.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct FlowSource {
    pub(crate) listener: Uuid,
    /// Issues created or changed: read and sent.
    #[serde(default)]
    pub(crate) changed: Vec<u64>,
    /// Issues deleted: their copies are deleted.
    #[serde(default)]
    pub(crate) deleted: Vec<u64>,
}

/// What one processing pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Processed {
    pub(crate) events: u64,
    pub(crate) skipped: u64,
    pub(crate) runs: u64,
    /// Work is left that could not go now.
    pub(crate) busy: Option<String>,
    pub(crate) failed: Option<String>,
}

/// One issue's pending work.
#[derive(Debug, Default)]
struct IssueWork {
    deleted: bool,
    newest_ms: i64,
    deliveries: Vec<String>,
}

/// The fields an update event says changed (its changelog's field ids).
fn changed_fields(body: &str) -> Vec<String> {
    let Ok(value) = serde_json::from_str::<serde_json::Value>(body) else {
        return Vec::new();
    };
    value
        .pointer("/changelog/items")
        .and_then(serde_json::Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(|i| {
                    i.get("fieldId")
                        .or_else(|| i.get("field"))
                        .and_then(serde_json::Value::as_str)
                        .map(str::to_owned)
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Whether the listener takes this event at all (its events, its field filter).
fn wanted(listener: &ListenerRecord, event: &ListenerEvent) -> bool {
    if !listener.events.iter().any(|e| e == &event.kind) || event.issue_ids.is_empty() {
        return false;
    }
    if event.kind == "jira:issue_updated" && !listener.field_ids.is_empty() {
        let changed = changed_fields(&event.body);
        return changed.iter().any(|f| listener.field_ids.contains(f));
    }
    true
}

/// Splits pending events into those skipped and the work per issue, in event order.
fn plan(
    listener: &ListenerRecord,
    events: Vec<ListenerEvent>,
    applied: &HashMap<String, i64>,
) -> (Vec<String>, Vec<(String, IssueWork)>) {
    let mut skipped = Vec::new();
    let mut order: Vec<String> = Vec::new();
    let mut work: HashMap<String, IssueWork> = HashMap::new();
    for event in events {
        // An event older than the newest one applied to every issue it names was already
        // covered: that newer event's read saw the issue after it.
        let stale = event
            .issue_ids
            .iter()
            .all(|i| applied.get(i).is_some_and(|a| event.event_ms < *a));
        if !wanted(listener, &event) || stale {
            skipped.push(event.delivery_id);
            continue;
        }
        for issue in &event.issue_ids {
            let entry = work.entry(issue.clone()).or_insert_with(|| {
                order.push(issue.clone());
                IssueWork::default()
            });
            entry.newest_ms = entry.newest_ms.max(event.event_ms);
            entry.deleted |= event.kind == "jira:issue_deleted";
            entry.deliveries.push(event.delivery_id.clone());
        }
    }
    let planned = order
        .into_iter()
        .filter_map(|i| work.remove(&i).map(|w| (i, w)))
        .collect();
    (skipped, planned)
}

impl App {
    pub(crate) async fn ensure_process_job(&self, id: Uuid, at: OffsetDateTime) -> AppResult<()> {
        self.ensure_definition_job(process_job(id, at)).await
    }

    /// Runs a listener's processing job; `None`: the job is deleted (the listener is gone).
    pub(crate) async fn run_listener_process_job(
        &self,
        job: &JobRecord,
    ) -> AppResult<(String, Option<OffsetDateTime>)> {
        let Some(id) = job
            .key
            .strip_prefix("listener:")
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
        let done = self.process_listener(&record).await?;
        self.report_behind(&record).await?;
        let mut detail = format!(
            "{}: {} event(s) processed in {} flow run(s), {} skipped",
            record.name, done.events, done.runs, done.skipped
        );
        let now = self.now();
        let next = if let Some(busy) = &done.busy {
            detail.push_str(&format!("; waiting: {busy}"));
            now + RETRY_BUSY
        } else if let Some(failed) = &done.failed {
            detail.push_str(&format!("; failed: {failed}"));
            now + RETRY_FAILED
        } else if self
            .store()
            .pending_listener_events(id, 1)
            .await?
            .is_empty()
        {
            now + IDLE_RECHECK
        } else {
            now
        };
        Ok((detail, Some(next)))
    }

    /// Processes the listener's pending events, a batch of issues per flow run, until none
    /// is left or one cannot go now.
    pub(crate) async fn process_listener(&self, record: &ListenerRecord) -> AppResult<Processed> {
        let mut done = Processed::default();
        // A JQL that cannot be joined to the export's (a listener saved before it was
        // checked) would fail every flow run: its events wait, and no run is started.
        if let Err(e) = super::definitions::check_listener_jql(record) {
            done.failed = Some(e.to_string());
            return Ok(done);
        }
        // Bounded, so one busy listener does not hold the worker forever.
        for _ in 0..20 {
            let events = self
                .store()
                .pending_listener_events(record.id, READ_EVENTS)
                .await?;
            if events.is_empty() {
                break;
            }
            let ids: Vec<String> = {
                let mut ids: Vec<String> =
                    events.iter().flat_map(|e| e.issue_ids.clone()).collect();
                ids.sort();
                ids.dedup();
                ids
            };
            let applied = self.store().listener_applied(record.id, &ids).await?;
            let (skipped, planned) = plan(record, events, &applied);
            let now = self.now();
            self.store()
                .finish_listener_events(record.id, &skipped, "skipped", None, now)
                .await?;
            done.skipped += skipped.len() as u64;
            let Some(batch) = planned.chunks(BATCH_ISSUES).next() else {
                continue;
            };
            let mut source = FlowSource {
                listener: record.id,
                ..FlowSource::default()
            };
            for (issue, work) in batch {
                let Ok(id) = issue.parse::<u64>() else {
                    continue;
                };
                if work.deleted {
                    source.deleted.push(id);
                } else {
                    source.changed.push(id);
                }
            }
            let result = self
                .run_flow_with(
                    &record.flow_id.to_string(),
                    RunTrigger::Listener,
                    Some(source),
                )
                .await;
            let run = match result {
                Ok((run, true)) => run,
                // A run left by a process that died, or a failed run's retry, went first:
                // this batch is still pending, and goes next.
                Ok((_, false)) => {
                    done.runs += 1;
                    continue;
                }
                Err(e @ (AppError::FlowRunning { .. } | AppError::FlowWaiting { .. })) => {
                    done.busy = Some(e.to_string());
                    return Ok(done);
                }
                Err(e) => {
                    tracing::warn!(listener = %record.id, error = %e, "a listener's flow run failed; its events are tried again");
                    done.failed = Some(e.to_string());
                    return Ok(done);
                }
            };
            done.runs += 1;
            let mut deliveries: Vec<String> = batch
                .iter()
                .flat_map(|(_, w)| w.deliveries.clone())
                .collect();
            deliveries.sort();
            deliveries.dedup();
            let applied: Vec<(String, i64)> = batch
                .iter()
                .map(|(issue, w)| (issue.clone(), w.newest_ms))
                .collect();
            self.store()
                .put_listener_applied(record.id, &applied)
                .await?;
            self.store()
                .finish_listener_events(record.id, &deliveries, "done", Some(run.id), self.now())
                .await?;
            done.events += deliveries.len() as u64;
        }
        Ok(done)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn listener(fields: &[&str]) -> ListenerRecord {
        ListenerRecord {
            id: Uuid::nil(),
            name: "l".to_owned(),
            connection_id: jiralink_domain::ConnectionId(Uuid::nil()),
            flow_id: Uuid::nil(),
            token: "t".to_owned(),
            mode: "dynamic".to_owned(),
            events: super::super::DEFAULT_EVENTS
                .iter()
                .map(|e| (*e).to_owned())
                .collect(),
            jql: None,
            field_ids: fields.iter().map(|f| (*f).to_owned()).collect(),
            webhook_ids: vec![],
            expires_at: None,
            state: "active".to_owned(),
            state_reason: None,
            status: json!({}),
            version: 1,
            created_at: OffsetDateTime::UNIX_EPOCH,
            updated_at: OffsetDateTime::UNIX_EPOCH,
        }
    }

    fn event(
        id: &str,
        kind: &str,
        issue: &str,
        ms: i64,
        body: &serde_json::Value,
    ) -> ListenerEvent {
        ListenerEvent {
            listener_id: Uuid::nil(),
            delivery_id: id.to_owned(),
            kind: kind.to_owned(),
            issue_ids: vec![issue.to_owned()],
            event_ms: ms,
            body: body.to_string(),
            received_at: OffsetDateTime::UNIX_EPOCH,
            state: "pending".to_owned(),
            flow_run_id: None,
            processed_at: None,
        }
    }

    #[test]
    fn stale_unwanted_and_filtered_events_are_skipped() {
        let l = listener(&["summary"]);
        let events = vec![
            event(
                "old",
                "jira:issue_updated",
                "1",
                5,
                &json!({"changelog": {"items": [{"fieldId": "summary"}]}}),
            ),
            event(
                "new",
                "jira:issue_updated",
                "1",
                20,
                &json!({"changelog": {"items": [{"fieldId": "summary"}]}}),
            ),
            event(
                "prio",
                "jira:issue_updated",
                "2",
                20,
                &json!({"changelog": {"items": [{"fieldId": "priority"}]}}),
            ),
            event("wl", "worklog_created", "2", 20, &json!({})),
            event("c", "comment_created", "3", 1, &json!({})),
            event("d", "jira:issue_deleted", "3", 2, &json!({})),
        ];
        let applied = HashMap::from([("1".to_owned(), 10)]);
        let (skipped, planned) = plan(&l, events, &applied);
        assert_eq!(skipped, vec!["old", "prio", "wl"]);
        let issues: Vec<&str> = planned.iter().map(|(i, _)| i.as_str()).collect();
        assert_eq!(issues, vec!["1", "3"]);
        assert!(!planned[0].1.deleted);
        assert!(planned[1].1.deleted, "a deletion wins over earlier changes");
        assert_eq!(planned[1].1.newest_ms, 2);
        assert_eq!(planned[1].1.deliveries, vec!["c", "d"]);
    }

    #[test]
    fn an_event_as_old_as_the_newest_applied_is_still_processed() {
        // Two writes in the same millisecond: the first one's read may not have seen the
        // second.
        let l = listener(&[]);
        let events = vec![event("b", "jira:issue_updated", "1", 10, &json!({}))];
        let applied = HashMap::from([("1".to_owned(), 10)]);
        let (skipped, planned) = plan(&l, events, &applied);
        assert!(skipped.is_empty());
        assert_eq!(planned.len(), 1);
    }
}
