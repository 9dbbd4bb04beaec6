//! [`ListenerStore`].

use std::collections::HashMap;

use async_trait::async_trait;
use jiralink_domain::ConnectionId;
use time::OffsetDateTime;
use uuid::Uuid;

use super::imports::placeholders;
use super::jobs::make_job_due;
use super::{
    Arg, Backend, RowExt, SqlStore, all, args, exec, found, is_foreign_key_violation,
    is_unique_violation, opt, sqlx_error, write_secrets,
};
use crate::codec::{
    fmt_time, from_json, from_u64, parse_opt_time, parse_time, parse_uuid, to_json, to_u64,
};
use crate::jobs::NewJob;
use crate::listeners::{
    EventStored, ListenerEvent, ListenerEventStats, ListenerRecord, ListenerStore,
};
use crate::model::{SecretOwner, SecretWrite};
use crate::{StoreError, StoreResult, export_name_key};

const LISTENER: &str = "listener";

const COLUMNS: &str = "id, name, connection_id, flow_id, token, mode, events, jql, field_ids, \
     webhook_ids, expires_at, state, state_reason, status, version, created_at, updated_at";
const EVENT_COLUMNS: &str = "listener_id, delivery_id, kind, issue_ids, event_ms, body, \
     received_at, state, flow_run_id, processed_at";

fn listener_from_row(r: &impl RowExt) -> StoreResult<ListenerRecord> {
    Ok(ListenerRecord {
        id: parse_uuid(&r.text("id")?)?,
        name: r.text("name")?,
        connection_id: ConnectionId(parse_uuid(&r.text("connection_id")?)?),
        flow_id: parse_uuid(&r.text("flow_id")?)?,
        token: r.text("token")?,
        mode: r.text("mode")?,
        events: from_json("listener events", &r.text("events")?)?,
        jql: r.opt_text("jql")?,
        field_ids: from_json("listener field ids", &r.text("field_ids")?)?,
        webhook_ids: from_json("listener webhook ids", &r.text("webhook_ids")?)?,
        expires_at: parse_opt_time(r.opt_text("expires_at")?.as_deref())?,
        state: r.text("state")?,
        state_reason: r.opt_text("state_reason")?,
        status: from_json("listener status", &r.text("status")?)?,
        version: to_u64("listener version", r.int("version")?)?,
        created_at: parse_time(&r.text("created_at")?)?,
        updated_at: parse_time(&r.text("updated_at")?)?,
    })
}

fn event_from_row(r: &impl RowExt) -> StoreResult<ListenerEvent> {
    let ids = r.text("issue_ids")?;
    Ok(ListenerEvent {
        listener_id: parse_uuid(&r.text("listener_id")?)?,
        delivery_id: r.text("delivery_id")?,
        kind: r.text("kind")?,
        issue_ids: ids
            .split(',')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
        event_ms: r.int("event_ms")?,
        body: r.text("body")?,
        received_at: parse_time(&r.text("received_at")?)?,
        state: r.text("state")?,
        flow_run_id: r
            .opt_text("flow_run_id")?
            .as_deref()
            .map(parse_uuid)
            .transpose()?,
        processed_at: parse_opt_time(r.opt_text("processed_at")?.as_deref())?,
    })
}

fn write_error(e: StoreError, name: &str) -> StoreError {
    match sqlx_error(&e) {
        Some(s) if is_unique_violation(s) => StoreError::Conflict {
            kind: LISTENER,
            name: name.to_owned(),
        },
        Some(s) if is_foreign_key_violation(s) => StoreError::NotFound {
            kind: "connection or flow",
        },
        _ => e,
    }
}

fn listener_args(l: &ListenerRecord) -> StoreResult<Vec<Arg>> {
    Ok(vec![
        Arg::from(l.name.as_str()),
        Arg::from(export_name_key(&l.name)),
        Arg::from(l.connection_id.to_string()),
        Arg::from(l.flow_id.to_string()),
        Arg::from(l.token.as_str()),
        Arg::from(l.mode.as_str()),
        Arg::from(to_json(&l.events)?),
        Arg::from(l.jql.clone()),
        Arg::from(to_json(&l.field_ids)?),
        Arg::from(to_json(&l.webhook_ids)?),
        Arg::from(l.expires_at.map(fmt_time)),
        Arg::from(l.state.as_str()),
        Arg::from(l.state_reason.clone()),
        Arg::from(to_json(&l.status)?),
        Arg::from(fmt_time(l.updated_at)),
    ])
}

#[async_trait]
impl<B: Backend> ListenerStore for SqlStore<B> {
    async fn insert_listener(
        &self,
        l: &ListenerRecord,
        secrets: &[SecretWrite],
    ) -> StoreResult<()> {
        let mut values = listener_args(l)?;
        values.extend([
            Arg::from(l.id.to_string()),
            Arg::from(from_u64(l.version)),
            Arg::from(fmt_time(l.created_at)),
        ]);
        let mut tx = self.begin_write().await?;
        exec::<B>(
            &mut tx,
            "INSERT INTO listeners (name, name_key, connection_id, flow_id, token, mode, events, \
             jql, field_ids, webhook_ids, expires_at, state, state_reason, status, updated_at, \
             id, version, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, \
             $12, $13, $14, $15, $16, $17, $18)",
            values,
        )
        .await
        .map_err(|e| write_error(e, &l.name))?;
        write_secrets::<B>(&mut tx, SecretOwner::Listener(l.id), secrets, l.created_at).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn update_listener(&self, l: &ListenerRecord) -> StoreResult<u64> {
        let mut values = listener_args(l)?;
        values.extend([Arg::from(l.id.to_string()), Arg::from(from_u64(l.version))]);
        let done = self
            .exec(
                "UPDATE listeners SET name = $1, name_key = $2, connection_id = $3, \
                 flow_id = $4, token = $5, mode = $6, events = $7, jql = $8, field_ids = $9, \
                 webhook_ids = $10, expires_at = $11, state = $12, state_reason = $13, \
                 status = $14, updated_at = $15, version = version + 1 \
                 WHERE id = $16 AND version = $17",
                values,
            )
            .await
            .map_err(|e| write_error(e, &l.name))?;
        if done == 0 {
            let exists = self
                .opt(
                    "SELECT 1 AS one FROM listeners WHERE id = $1",
                    args![l.id.to_string()],
                )
                .await?
                .is_some();
            return Err(if exists {
                StoreError::Changed { kind: LISTENER }
            } else {
                StoreError::NotFound { kind: LISTENER }
            });
        }
        Ok(l.version + 1)
    }

    async fn get_listener(&self, id: Uuid) -> StoreResult<ListenerRecord> {
        let row = self
            .opt(
                format!("SELECT {COLUMNS} FROM listeners WHERE id = $1"),
                args![id.to_string()],
            )
            .await?
            .ok_or(StoreError::NotFound { kind: LISTENER })?;
        listener_from_row(&row)
    }

    async fn find_listener_by_name(&self, name: &str) -> StoreResult<Option<ListenerRecord>> {
        let row = self
            .opt(
                format!("SELECT {COLUMNS} FROM listeners WHERE name_key = $1"),
                args![export_name_key(name)],
            )
            .await?;
        row.as_ref().map(listener_from_row).transpose()
    }

    async fn find_listener_by_token(&self, token: &str) -> StoreResult<Option<ListenerRecord>> {
        let row = self
            .opt(
                format!("SELECT {COLUMNS} FROM listeners WHERE token = $1"),
                args![token],
            )
            .await?;
        row.as_ref().map(listener_from_row).transpose()
    }

    async fn list_listeners(&self) -> StoreResult<Vec<ListenerRecord>> {
        let rows = self
            .all(
                format!("SELECT {COLUMNS} FROM listeners ORDER BY name_key, id"),
                args![],
            )
            .await?;
        rows.iter().map(listener_from_row).collect()
    }

    async fn listeners_of_flow(&self, flow: Uuid) -> StoreResult<Vec<(Uuid, String)>> {
        let rows = self
            .all(
                "SELECT id, name FROM listeners WHERE flow_id = $1 ORDER BY name_key, id",
                args![flow.to_string()],
            )
            .await?;
        rows.iter()
            .map(|r| Ok((parse_uuid(&r.text("id")?)?, r.text("name")?)))
            .collect()
    }

    async fn delete_listener(&self, id: Uuid) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        let owner = SecretOwner::Listener(id);
        exec::<B>(
            &mut tx,
            "DELETE FROM secrets WHERE owner_kind = $1 AND owner_id = $2",
            args![owner.kind(), id.to_string()],
        )
        .await?;
        let done = exec::<B>(
            &mut tx,
            "DELETE FROM listeners WHERE id = $1",
            args![id.to_string()],
        )
        .await?;
        found(done, LISTENER)?;
        tx.commit().await?;
        Ok(())
    }

    async fn store_listener_event(
        &self,
        e: &ListenerEvent,
        replay_key: &str,
        process: &NewJob,
    ) -> StoreResult<EventStored> {
        let mut tx = self.begin_write().await?;
        let listener = e.listener_id.to_string();
        if opt::<B>(
            &mut tx,
            "SELECT 1 AS one FROM listener_events WHERE listener_id = $1 AND delivery_id = $2",
            args![listener.as_str(), e.delivery_id.as_str()],
        )
        .await?
        .is_some()
        {
            return Ok(EventStored::Duplicate);
        }
        let fresh = exec::<B>(
            &mut tx,
            "INSERT INTO listener_replays (listener_id, replay_key, seen_at) VALUES ($1, $2, $3) \
             ON CONFLICT (listener_id, replay_key) DO NOTHING",
            args![listener.as_str(), replay_key, fmt_time(e.received_at)],
        )
        .await
        .map_err(|err| match sqlx_error(&err) {
            Some(s) if is_foreign_key_violation(s) => StoreError::NotFound { kind: LISTENER },
            _ => err,
        })?;
        if fresh == 0 {
            return Ok(EventStored::Replayed);
        }
        let stored = exec::<B>(
            &mut tx,
            format!(
                "INSERT INTO listener_events ({EVENT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, \
                 $7, $8, $9, $10) ON CONFLICT (listener_id, delivery_id) DO NOTHING"
            ),
            vec![
                Arg::from(listener.as_str()),
                Arg::from(e.delivery_id.as_str()),
                Arg::from(e.kind.as_str()),
                Arg::from(e.issue_ids.join(",")),
                Arg::from(e.event_ms),
                Arg::from(e.body.as_str()),
                Arg::from(fmt_time(e.received_at)),
                Arg::from(e.state.as_str()),
                Arg::from(e.flow_run_id.map(|u| u.to_string())),
                Arg::from(e.processed_at.map(fmt_time)),
            ],
        )
        .await?;
        if stored != 1 {
            return Ok(EventStored::Duplicate);
        }
        make_job_due::<B>(&mut tx, process).await?;
        tx.commit().await?;
        Ok(EventStored::New)
    }

    async fn pending_listener_events(
        &self,
        listener: Uuid,
        limit: u32,
    ) -> StoreResult<Vec<ListenerEvent>> {
        let rows = self
            .all(
                format!(
                    "SELECT {EVENT_COLUMNS} FROM listener_events WHERE listener_id = $1 \
                     AND state = 'pending' ORDER BY event_ms, received_at, delivery_id LIMIT $2"
                ),
                args![listener.to_string(), i64::from(limit)],
            )
            .await?;
        rows.iter().map(event_from_row).collect()
    }

    async fn finish_listener_events(
        &self,
        listener: Uuid,
        delivery_ids: &[String],
        state: &str,
        flow_run: Option<Uuid>,
        at: OffsetDateTime,
    ) -> StoreResult<()> {
        if delivery_ids.is_empty() {
            return Ok(());
        }
        let mut tx = self.begin_write().await?;
        for chunk in delivery_ids.chunks(500) {
            let mut values = vec![
                Arg::from(state),
                Arg::from(flow_run.map(|u| u.to_string())),
                Arg::from(fmt_time(at)),
                Arg::from(listener.to_string()),
            ];
            values.extend(chunk.iter().map(|d| Arg::from(d.as_str())));
            exec::<B>(
                &mut tx,
                format!(
                    "UPDATE listener_events SET state = $1, flow_run_id = $2, processed_at = $3 \
                     WHERE listener_id = $4 AND delivery_id IN ({})",
                    placeholders(5, chunk.len())
                ),
                values,
            )
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn listener_applied(
        &self,
        listener: Uuid,
        issue_ids: &[String],
    ) -> StoreResult<HashMap<String, i64>> {
        let mut out = HashMap::new();
        for chunk in issue_ids.chunks(500) {
            let mut values = vec![Arg::from(listener.to_string())];
            values.extend(chunk.iter().map(|i| Arg::from(i.as_str())));
            for row in self
                .all(
                    format!(
                        "SELECT issue_id, applied_ms FROM listener_issues WHERE listener_id = $1 \
                         AND issue_id IN ({})",
                        placeholders(2, chunk.len())
                    ),
                    values,
                )
                .await?
            {
                out.insert(row.text("issue_id")?, row.int("applied_ms")?);
            }
        }
        Ok(out)
    }

    async fn put_listener_applied(
        &self,
        listener: Uuid,
        applied: &[(String, i64)],
    ) -> StoreResult<()> {
        if applied.is_empty() {
            return Ok(());
        }
        let mut tx = self.begin_write().await?;
        for (issue, ms) in applied {
            exec::<B>(
                &mut tx,
                "INSERT INTO listener_issues (listener_id, issue_id, applied_ms) \
                 VALUES ($1, $2, $3) ON CONFLICT (listener_id, issue_id) DO UPDATE SET \
                 applied_ms = excluded.applied_ms \
                 WHERE excluded.applied_ms > listener_issues.applied_ms",
                args![listener.to_string(), issue.as_str(), *ms],
            )
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn listener_event_stats(&self, listener: Uuid) -> StoreResult<ListenerEventStats> {
        let mut conn = self.conn().await?;
        let id = listener.to_string();
        let totals = opt::<B>(
            &mut conn,
            "SELECT COUNT(*) AS received, MAX(received_at) AS last_received, \
             MAX(processed_at) AS last_processed FROM listener_events WHERE listener_id = $1",
            args![id.as_str()],
        )
        .await?;
        let pending = opt::<B>(
            &mut conn,
            "SELECT COUNT(*) AS pending, MIN(event_ms) AS oldest, \
             MIN(received_at) AS oldest_received FROM listener_events \
             WHERE listener_id = $1 AND state = 'pending'",
            args![id.as_str()],
        )
        .await?;
        let mut stats = ListenerEventStats::default();
        if let Some(r) = totals {
            stats.received = to_u64("event count", r.int("received")?)?;
            stats.last_received_at = parse_opt_time(r.opt_text("last_received")?.as_deref())?;
            stats.last_processed_at = parse_opt_time(r.opt_text("last_processed")?.as_deref())?;
        }
        if let Some(r) = pending {
            stats.pending = to_u64("event count", r.int("pending")?)?;
            stats.oldest_pending_ms = r.opt_int("oldest")?;
            stats.oldest_pending_received_at =
                parse_opt_time(r.opt_text("oldest_received")?.as_deref())?;
        }
        Ok(stats)
    }

    async fn recent_listener_events(
        &self,
        listener: Uuid,
        limit: u32,
    ) -> StoreResult<Vec<ListenerEvent>> {
        let rows = all::<B>(
            &mut *self.conn().await?,
            format!(
                "SELECT {EVENT_COLUMNS} FROM listener_events WHERE listener_id = $1 \
                 ORDER BY received_at DESC, delivery_id DESC LIMIT $2"
            ),
            args![listener.to_string(), i64::from(limit)],
        )
        .await?;
        rows.iter().map(event_from_row).collect()
    }

    async fn prune_listener_events(&self, before: OffsetDateTime) -> StoreResult<u64> {
        let at = fmt_time(before);
        let mut tx = self.begin_write().await?;
        let events = exec::<B>(
            &mut tx,
            "DELETE FROM listener_events WHERE state <> 'pending' AND received_at < $1",
            args![at.as_str()],
        )
        .await?;
        let replays = exec::<B>(
            &mut tx,
            "DELETE FROM listener_replays WHERE seen_at < $1",
            args![at.as_str()],
        )
        .await?;
        tx.commit().await?;
        Ok(events + replays)
    }
}
