//! The `notifications.dispatch` job: changes that waited their window become messages (one
//! per change, or one digest), and due messages are sent, a failed one tried again later
//! with exponential backoff until `notifications.max_attempts`.

use time::OffsetDateTime;
use uuid::Uuid;

use jiralink_store::{DeliveryUpdate, EventRecord, NotificationRecord};

use super::{EventView, Topic};
use crate::{App, AppResult};

/// Composes and sends notifications.
pub const DISPATCH_JOB: &str = "notifications.dispatch";

/// The longest wait between two retries of one message.
const MAX_RETRY_WAIT: time::Duration = time::Duration::hours(1);

/// Messages sent per run of the job at most; the job comes back at once for the rest.
const SEND_BATCH: u32 = 100;

/// What one dispatch did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DispatchReport {
    /// Messages composed from waiting changes.
    pub composed: u32,
    pub sent: u32,
    /// Attempts that failed and will be tried again.
    pub retrying: u32,
    /// Messages given up on.
    pub failed: u32,
    /// When something is due next (a change's window ends, a retry).
    pub next_due: Option<OffsetDateTime>,
}

impl App {
    /// Composes the messages whose window has passed and sends every due message.
    pub async fn dispatch_notifications(&self) -> AppResult<DispatchReport> {
        let mut report = DispatchReport::default();
        self.check_secret_ages().await?;
        let now = self.now();
        let window = self.digest_window();
        for (channel, address) in self.store().recipients_due(now - window).await? {
            let events = self.store().events_for(&channel, &address).await?;
            if events.is_empty() {
                continue;
            }
            let messages = self.compose(&events, now);
            let ids: Vec<Uuid> = events.iter().map(|e| e.id).collect();
            if self.store().compose_notifications(&ids, &messages).await? {
                report.composed += u32::try_from(messages.len()).unwrap_or(u32::MAX);
            }
        }
        for n in self.store().due_notifications(now, SEND_BATCH).await? {
            match self.deliver(&n).await? {
                Delivery::Sent => report.sent += 1,
                Delivery::Retrying => report.retrying += 1,
                Delivery::Failed => report.failed += 1,
                Delivery::Elsewhere => {}
            }
        }
        let next_event = self.store().oldest_event().await?.map(|at| at + window);
        let next_retry = self.store().next_notification_due().await?;
        report.next_due = match (next_event, next_retry) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        Ok(report)
    }

    /// One message per change, or one digest when there are more than
    /// `notifications.digest_after` of them.
    fn compose(&self, events: &[EventRecord], now: OffsetDateTime) -> Vec<NotificationRecord> {
        let views: Vec<EventView> = events.iter().map(event_view).collect();
        let digest_after = usize::try_from(self.config().notifications.digest_after).unwrap_or(3);
        let first = &events[0];
        let message = |title: String, body: String, events: &[EventView]| NotificationRecord {
            id: Uuid::new_v4(),
            user_id: first.user_id,
            channel: first.channel.clone(),
            address: first.address.clone(),
            title,
            body,
            events: serde_json::to_value(events).unwrap_or_default(),
            state: "pending".to_owned(),
            attempts: 0,
            last_error: None,
            next_attempt_at: Some(now),
            created_at: now,
            sent_at: None,
        };
        if views.len() > digest_after {
            let trouble = views.iter().filter(|v| v.state == "trouble").count();
            let title = format!(
                "jiralink: {} changes ({trouble} need attention, {} resolved)",
                views.len(),
                views.len() - trouble
            );
            let mut body = String::from("Several things changed at once:\n\n");
            for v in &views {
                body.push_str(&format!("- {}\n", line(v)));
            }
            vec![message(title, body, &views)]
        } else {
            views
                .iter()
                .map(|v| {
                    message(
                        v.title.clone(),
                        format!("{}\n", line(v)),
                        std::slice::from_ref(v),
                    )
                })
                .collect()
        }
    }

    /// Tries to send one message and records the attempt.
    pub(super) async fn deliver(&self, n: &NotificationRecord) -> AppResult<Delivery> {
        let result = self.send_message(n).await;
        let at = self.now();
        let attempts = n.attempts + 1;
        let cfg = &self.config().notifications;
        let (update, delivery) = match result {
            Ok(()) => (
                DeliveryUpdate {
                    state: "sent".to_owned(),
                    attempts,
                    last_error: None,
                    next_attempt_at: None,
                    sent_at: Some(at),
                },
                Delivery::Sent,
            ),
            Err(error) if attempts >= cfg.max_attempts => {
                tracing::warn!(notification = %n.id, attempts, %error, "a notification could not be sent; giving up");
                (
                    DeliveryUpdate {
                        state: "failed".to_owned(),
                        attempts,
                        last_error: Some(error),
                        next_attempt_at: None,
                        sent_at: None,
                    },
                    Delivery::Failed,
                )
            }
            Err(error) => {
                let wait = retry_wait(self.retry_after(), attempts);
                tracing::info!(notification = %n.id, attempts, %error, "a notification could not be sent; trying again later");
                (
                    DeliveryUpdate {
                        state: "pending".to_owned(),
                        attempts,
                        last_error: Some(error),
                        next_attempt_at: Some(at + wait),
                        sent_at: None,
                    },
                    Delivery::Retrying,
                )
            }
        };
        if self
            .store()
            .record_delivery(n.id, n.attempts, &update)
            .await?
        {
            metrics::counter!("jiralink_notifications_total", "channel" => n.channel.clone(), "outcome" => update.state.clone()).increment(1);
            if let Some(next) = update.next_attempt_at {
                self.dispatch_soon(next).await;
            }
            Ok(delivery)
        } else {
            Ok(Delivery::Elsewhere)
        }
    }

    fn retry_after(&self) -> time::Duration {
        time::Duration::try_from(self.config().notifications.retry_after.get())
            .unwrap_or(time::Duration::seconds(30))
    }

    /// Makes the dispatch job due at `at`, unless something else is due sooner.
    pub(super) async fn dispatch_soon(&self, at: OffsetDateTime) {
        let sooner = async {
            let retry = self.store().next_notification_due().await?;
            let event = self
                .store()
                .oldest_event()
                .await?
                .map(|e| e + self.digest_window());
            let due = [Some(at), retry, event]
                .into_iter()
                .flatten()
                .min()
                .unwrap_or(at)
                .max(self.now());
            self.store().reschedule_job(DISPATCH_JOB, due).await
        };
        if let Err(e) = sooner.await {
            tracing::warn!(error = %e, "the notification job could not be made due");
        }
    }
}

/// How one attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Delivery {
    Sent,
    Retrying,
    Failed,
    /// Another process recorded this attempt first.
    Elsewhere,
}

/// The wait after the `attempts`-th failed attempt: `first`, doubled each time, at most an
/// hour.
fn retry_wait(first: time::Duration, attempts: u32) -> time::Duration {
    let factor = 1i32 << attempts.saturating_sub(1).min(20);
    (first * factor).min(MAX_RETRY_WAIT)
}

fn event_view(e: &EventRecord) -> EventView {
    let trouble = e.state == "trouble";
    let title = Topic::parse(&e.topic)
        .map_or_else(|| e.topic.clone(), |t| t.headline(&e.subject_name, trouble));
    EventView {
        topic: e.topic.clone(),
        subject_kind: e.subject_kind.clone(),
        subject_id: e.subject_id.clone(),
        subject_name: e.subject_name.clone(),
        state: e.state.clone(),
        detail: e.detail.clone(),
        link: e.link.clone(),
        at: e.at,
        title,
    }
}

/// One change in words, with its link.
fn line(v: &EventView) -> String {
    let mut s = v.title.clone();
    if let Some(d) = &v.detail {
        s.push_str(&format!(": {d}"));
    }
    s.push_str(&format!(" ({})\n  {}", crate::format_time(v.at), v.link));
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_wait_twice_as_long_each_time_up_to_an_hour() {
        let first = time::Duration::seconds(30);
        assert_eq!(retry_wait(first, 1), time::Duration::seconds(30));
        assert_eq!(retry_wait(first, 2), time::Duration::seconds(60));
        assert_eq!(retry_wait(first, 3), time::Duration::seconds(120));
        assert_eq!(retry_wait(first, 12), MAX_RETRY_WAIT);
        assert_eq!(retry_wait(first, 500), MAX_RETRY_WAIT);
    }
}
