//! [`NotificationStore`].

use async_trait::async_trait;
use uuid::Uuid;

use super::{
    Arg, Backend, RowExt, SqlStore, args, exec, is_unique_violation, missing_parent, opt,
    sqlx_error, write_secrets,
};
use crate::codec::{fmt_time, from_json, parse_opt_time, parse_time, parse_uuid, to_json};
use crate::notifications::{
    DeliveryUpdate, EventRecord, NotificationRecord, NotificationStore, StateReport,
    SubscriptionRecord, WebhookRecord,
};
use crate::{SecretOwner, SecretWrite, StoreError, StoreResult};

/// The settings key of the webhook's URL.
const WEBHOOK_SETTING: &str = "notifications.webhook_url";

const SUBSCRIPTION_COLUMNS: &str =
    "id, user_id, topic, subject_kind, subject_id, channel, address, created_at";
const EVENT_COLUMNS: &str = "id, user_id, channel, address, topic, subject_kind, subject_id, \
     subject_name, state, detail, link, at";
const NOTIFICATION_COLUMNS: &str = "id, user_id, channel, address, title, body, events, state, \
     attempts, last_error, next_attempt_at, created_at, sent_at";

fn subscription_from_row(r: &impl RowExt) -> StoreResult<SubscriptionRecord> {
    Ok(SubscriptionRecord {
        id: parse_uuid(&r.text("id")?)?,
        user_id: parse_uuid(&r.text("user_id")?)?,
        topic: r.text("topic")?,
        subject_kind: r.text("subject_kind")?,
        subject_id: r.text("subject_id")?,
        channel: r.text("channel")?,
        address: r.text("address")?,
        created_at: parse_time(&r.text("created_at")?)?,
    })
}

fn event_from_row(r: &impl RowExt) -> StoreResult<EventRecord> {
    Ok(EventRecord {
        id: parse_uuid(&r.text("id")?)?,
        user_id: parse_uuid(&r.text("user_id")?)?,
        channel: r.text("channel")?,
        address: r.text("address")?,
        topic: r.text("topic")?,
        subject_kind: r.text("subject_kind")?,
        subject_id: r.text("subject_id")?,
        subject_name: r.text("subject_name")?,
        state: r.text("state")?,
        detail: r.opt_text("detail")?,
        link: r.text("link")?,
        at: parse_time(&r.text("at")?)?,
    })
}

fn notification_from_row(r: &impl RowExt) -> StoreResult<NotificationRecord> {
    Ok(NotificationRecord {
        id: parse_uuid(&r.text("id")?)?,
        user_id: parse_uuid(&r.text("user_id")?)?,
        channel: r.text("channel")?,
        address: r.text("address")?,
        title: r.text("title")?,
        body: r.text("body")?,
        events: from_json("notification events", &r.text("events")?)?,
        state: r.text("state")?,
        attempts: u32::try_from(r.int("attempts")?).unwrap_or(u32::MAX),
        last_error: r.opt_text("last_error")?,
        next_attempt_at: parse_opt_time(r.opt_text("next_attempt_at")?.as_deref())?,
        created_at: parse_time(&r.text("created_at")?)?,
        sent_at: parse_opt_time(r.opt_text("sent_at")?.as_deref())?,
    })
}

fn notification_args(n: &NotificationRecord) -> StoreResult<Vec<Arg>> {
    Ok(args![
        n.id.to_string(),
        n.user_id.to_string(),
        n.channel.as_str(),
        n.address.as_str(),
        n.title.as_str(),
        n.body.as_str(),
        to_json(&n.events)?,
        n.state.as_str(),
        i64::from(n.attempts),
        n.last_error.clone(),
        n.next_attempt_at.map(fmt_time),
        fmt_time(n.created_at),
        n.sent_at.map(fmt_time),
    ])
}

fn insert_notification_sql() -> String {
    format!(
        "INSERT INTO notifications ({NOTIFICATION_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, \
         $8, $9, $10, $11, $12, $13)"
    )
}

#[async_trait]
impl<B: Backend> NotificationStore for SqlStore<B> {
    async fn insert_subscription(&self, s: &SubscriptionRecord) -> StoreResult<()> {
        self.exec(
            format!(
                "INSERT INTO notification_subscriptions ({SUBSCRIPTION_COLUMNS}) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
            ),
            args![
                s.id.to_string(),
                s.user_id.to_string(),
                s.topic.as_str(),
                s.subject_kind.as_str(),
                s.subject_id.as_str(),
                s.channel.as_str(),
                s.address.as_str(),
                fmt_time(s.created_at),
            ],
        )
        .await
        .map_err(|e| match sqlx_error(&e) {
            Some(x) if is_unique_violation(x) => StoreError::Conflict {
                kind: "subscription",
                name: s.topic.clone(),
            },
            _ => missing_parent(e, "user"),
        })?;
        Ok(())
    }

    async fn list_subscriptions(&self, user: Option<Uuid>) -> StoreResult<Vec<SubscriptionRecord>> {
        let rows = match user {
            Some(u) => {
                self.all(
                    format!(
                        "SELECT {SUBSCRIPTION_COLUMNS} FROM notification_subscriptions \
                         WHERE user_id = $1 ORDER BY created_at, id"
                    ),
                    args![u.to_string()],
                )
                .await?
            }
            None => {
                self.all(
                    format!(
                        "SELECT {SUBSCRIPTION_COLUMNS} FROM notification_subscriptions \
                         ORDER BY created_at, id"
                    ),
                    args![],
                )
                .await?
            }
        };
        rows.iter().map(subscription_from_row).collect()
    }

    async fn delete_subscription(&self, id: Uuid, user: Uuid) -> StoreResult<()> {
        let done = self
            .exec(
                "DELETE FROM notification_subscriptions WHERE id = $1 AND user_id = $2",
                args![id.to_string(), user.to_string()],
            )
            .await?;
        if done == 0 {
            return Err(StoreError::NotFound {
                kind: "subscription",
            });
        }
        Ok(())
    }

    async fn subscriptions_for(
        &self,
        topic: &str,
        subject_kind: &str,
        subject_id: &str,
    ) -> StoreResult<Vec<SubscriptionRecord>> {
        let rows = self
            .all(
                format!(
                    "SELECT {SUBSCRIPTION_COLUMNS} FROM notification_subscriptions \
                     WHERE topic = $1 AND ((subject_kind = '' AND subject_id = '') \
                     OR (subject_kind = $2 AND subject_id = $3)) ORDER BY created_at, id"
                ),
                args![topic, subject_kind, subject_id],
            )
            .await?;
        rows.iter().map(subscription_from_row).collect()
    }

    async fn record_state(
        &self,
        report: &StateReport<'_>,
        events: &[EventRecord],
    ) -> StoreResult<Option<String>> {
        let mut tx = self.begin_write().await?;
        let key = format!(
            "jiralink:notification-state:{}:{}:{}",
            report.topic, report.subject_kind, report.subject_id
        );
        B::lock_key(&mut tx, &key).await?;
        let previous = opt::<B>(
            &mut tx,
            "SELECT state FROM notification_states \
             WHERE topic = $1 AND subject_kind = $2 AND subject_id = $3",
            args![report.topic, report.subject_kind, report.subject_id],
        )
        .await?
        .map(|r| r.text("state"))
        .transpose()?;
        let changed = match &previous {
            Some(p) => p != report.state,
            None => report.state != "ok",
        };
        if previous.is_none() || changed {
            exec::<B>(
                &mut tx,
                "INSERT INTO notification_states (topic, subject_kind, subject_id, state, detail, \
                 changed_at) VALUES ($1, $2, $3, $4, $5, $6) \
                 ON CONFLICT (topic, subject_kind, subject_id) DO UPDATE SET \
                 state = excluded.state, detail = excluded.detail, \
                 changed_at = excluded.changed_at",
                args![
                    report.topic,
                    report.subject_kind,
                    report.subject_id,
                    report.state,
                    report.detail,
                    fmt_time(report.at),
                ],
            )
            .await?;
        }
        if !changed {
            tx.commit().await?;
            return Ok(None);
        }
        for e in events {
            exec::<B>(
                &mut tx,
                format!(
                    "INSERT INTO notification_events ({EVENT_COLUMNS}) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
                ),
                args![
                    e.id.to_string(),
                    e.user_id.to_string(),
                    e.channel.as_str(),
                    e.address.as_str(),
                    e.topic.as_str(),
                    e.subject_kind.as_str(),
                    e.subject_id.as_str(),
                    e.subject_name.as_str(),
                    e.state.as_str(),
                    e.detail.clone(),
                    e.link.as_str(),
                    fmt_time(e.at),
                ],
            )
            .await
            .map_err(|err| missing_parent(err, "user"))?;
        }
        tx.commit().await?;
        Ok(Some(previous.unwrap_or_else(|| "ok".to_owned())))
    }

    async fn list_states(
        &self,
        topic: Option<&str>,
    ) -> StoreResult<Vec<(String, String, String, String, Option<String>)>> {
        let select =
            "SELECT topic, subject_kind, subject_id, state, detail FROM notification_states";
        let rows = match topic {
            Some(t) => {
                self.all(
                    format!("{select} WHERE topic = $1 ORDER BY topic, subject_kind, subject_id"),
                    args![t],
                )
                .await?
            }
            None => {
                self.all(
                    format!("{select} ORDER BY topic, subject_kind, subject_id"),
                    args![],
                )
                .await?
            }
        };
        rows.iter()
            .map(|r| {
                Ok((
                    r.text("topic")?,
                    r.text("subject_kind")?,
                    r.text("subject_id")?,
                    r.text("state")?,
                    r.opt_text("detail")?,
                ))
            })
            .collect()
    }

    async fn recipients_due(
        &self,
        before: time::OffsetDateTime,
    ) -> StoreResult<Vec<(String, String)>> {
        let rows = self
            .all(
                "SELECT DISTINCT channel, address FROM notification_events WHERE at <= $1 \
                 ORDER BY channel, address",
                args![fmt_time(before)],
            )
            .await?;
        rows.iter()
            .map(|r| Ok((r.text("channel")?, r.text("address")?)))
            .collect()
    }

    async fn events_for(&self, channel: &str, address: &str) -> StoreResult<Vec<EventRecord>> {
        let rows = self
            .all(
                format!(
                    "SELECT {EVENT_COLUMNS} FROM notification_events \
                     WHERE channel = $1 AND address = $2 ORDER BY at, id"
                ),
                args![channel, address],
            )
            .await?;
        rows.iter().map(event_from_row).collect()
    }

    async fn oldest_event(&self) -> StoreResult<Option<time::OffsetDateTime>> {
        let row = self
            .opt("SELECT MIN(at) AS at FROM notification_events", args![])
            .await?;
        parse_opt_time(
            row.map(|r| r.opt_text("at"))
                .transpose()?
                .flatten()
                .as_deref(),
        )
    }

    async fn compose_notifications(
        &self,
        events: &[Uuid],
        messages: &[NotificationRecord],
    ) -> StoreResult<bool> {
        let mut tx = self.begin_write().await?;
        for id in events {
            let done = exec::<B>(
                &mut tx,
                "DELETE FROM notification_events WHERE id = $1",
                args![id.to_string()],
            )
            .await?;
            if done == 0 {
                tx.rollback().await?;
                return Ok(false);
            }
        }
        for m in messages {
            exec::<B>(&mut tx, insert_notification_sql(), notification_args(m)?).await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    async fn insert_notification(&self, n: &NotificationRecord) -> StoreResult<()> {
        self.exec(insert_notification_sql(), notification_args(n)?)
            .await
            .map_err(|e| missing_parent(e, "user"))?;
        Ok(())
    }

    async fn get_notification(&self, id: Uuid) -> StoreResult<NotificationRecord> {
        let row = self
            .opt(
                format!("SELECT {NOTIFICATION_COLUMNS} FROM notifications WHERE id = $1"),
                args![id.to_string()],
            )
            .await?
            .ok_or(StoreError::NotFound {
                kind: "notification",
            })?;
        notification_from_row(&row)
    }

    async fn list_notifications(
        &self,
        user: Option<Uuid>,
        before: Option<Uuid>,
        limit: u32,
    ) -> StoreResult<Vec<NotificationRecord>> {
        let mut conditions = Vec::new();
        let mut values: Vec<Arg> = Vec::new();
        if let Some(u) = user {
            values.push(Arg::from(u.to_string()));
            conditions.push(format!("user_id = ${}", values.len()));
        }
        if let Some(b) = before {
            let anchor = self
                .opt(
                    "SELECT created_at FROM notifications WHERE id = $1",
                    args![b.to_string()],
                )
                .await?
                .ok_or(StoreError::NotFound {
                    kind: "notification",
                })?;
            values.push(Arg::from(anchor.text("created_at")?));
            let t = values.len();
            values.push(Arg::from(b.to_string()));
            let i = values.len();
            conditions.push(format!(
                "(created_at < ${t} OR (created_at = ${t} AND id < ${i}))"
            ));
        }
        values.push(Arg::from(i64::from(limit)));
        let filter = if conditions.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", conditions.join(" AND "))
        };
        let rows = self
            .all(
                format!(
                    "SELECT {NOTIFICATION_COLUMNS} FROM notifications {filter} \
                     ORDER BY created_at DESC, id DESC LIMIT ${}",
                    values.len()
                ),
                values,
            )
            .await?;
        rows.iter().map(notification_from_row).collect()
    }

    async fn due_notifications(
        &self,
        now: time::OffsetDateTime,
        limit: u32,
    ) -> StoreResult<Vec<NotificationRecord>> {
        let rows = self
            .all(
                format!(
                    "SELECT {NOTIFICATION_COLUMNS} FROM notifications WHERE state = 'pending' \
                     AND next_attempt_at <= $1 ORDER BY next_attempt_at, id LIMIT $2"
                ),
                args![fmt_time(now), i64::from(limit)],
            )
            .await?;
        rows.iter().map(notification_from_row).collect()
    }

    async fn next_notification_due(&self) -> StoreResult<Option<time::OffsetDateTime>> {
        let row = self
            .opt(
                "SELECT MIN(next_attempt_at) AS at FROM notifications WHERE state = 'pending'",
                args![],
            )
            .await?;
        parse_opt_time(
            row.map(|r| r.opt_text("at"))
                .transpose()?
                .flatten()
                .as_deref(),
        )
    }

    async fn record_delivery(
        &self,
        id: Uuid,
        attempts_before: u32,
        u: &DeliveryUpdate,
    ) -> StoreResult<bool> {
        let done = self
            .exec(
                "UPDATE notifications SET state = $1, attempts = $2, last_error = $3, \
                 next_attempt_at = $4, sent_at = $5 \
                 WHERE id = $6 AND state = 'pending' AND attempts = $7",
                args![
                    u.state.as_str(),
                    i64::from(u.attempts),
                    u.last_error.clone(),
                    u.next_attempt_at.map(fmt_time),
                    u.sent_at.map(fmt_time),
                    id.to_string(),
                    i64::from(attempts_before),
                ],
            )
            .await?;
        Ok(done > 0)
    }

    async fn get_webhook(&self) -> StoreResult<Option<WebhookRecord>> {
        let row = self
            .opt(
                "SELECT value, updated_at FROM settings WHERE key = $1",
                args![WEBHOOK_SETTING],
            )
            .await?;
        row.map(|r| {
            Ok(WebhookRecord {
                url: r.text("value")?,
                updated_at: parse_time(&r.text("updated_at")?)?,
            })
        })
        .transpose()
    }

    async fn set_webhook(
        &self,
        webhook: Option<&WebhookRecord>,
        secret: Option<&SecretWrite>,
    ) -> StoreResult<()> {
        let owner = SecretOwner::NotificationWebhook;
        let mut tx = self.begin_write().await?;
        match webhook {
            Some(w) => {
                exec::<B>(
                    &mut tx,
                    "INSERT INTO settings (key, value, updated_at) VALUES ($1, $2, $3) \
                     ON CONFLICT (key) DO UPDATE SET value = excluded.value, \
                     updated_at = excluded.updated_at",
                    args![WEBHOOK_SETTING, w.url.as_str(), fmt_time(w.updated_at)],
                )
                .await?;
                if let Some(s) = secret {
                    write_secrets::<B>(&mut tx, owner, std::slice::from_ref(s), w.updated_at)
                        .await?;
                }
            }
            None => {
                exec::<B>(
                    &mut tx,
                    "DELETE FROM settings WHERE key = $1",
                    args![WEBHOOK_SETTING],
                )
                .await?;
                exec::<B>(
                    &mut tx,
                    "DELETE FROM secrets WHERE owner_kind = $1 AND owner_id = $2",
                    args![owner.kind(), owner.id().to_string()],
                )
                .await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }
}
