//! [`AuditStore`] and [`DebugLogStore`]: append-only logs.

use async_trait::async_trait;
use jiralink_domain::{AuditEntry, ConnectionId, ResourceKind};
use time::OffsetDateTime;
use uuid::Uuid;

use super::{Backend, RowExt, SqlStore, args, exec, insert_audit};
use crate::codec::{enum_str, fmt_time, from_json, parse_time, parse_uuid, str_enum, to_json};
use crate::model::{DebugDirection, DebugLine};
use crate::{AuditStore, DebugLogStore, StoreError, StoreResult};

fn audit_from_row(r: &impl RowExt) -> StoreResult<AuditEntry> {
    Ok(AuditEntry {
        id: parse_uuid(&r.text("id")?)?,
        at: parse_time(&r.text("at")?)?,
        actor: r.text("actor")?,
        source: str_enum("audit source", &r.text("source")?)?,
        action: str_enum("audit action", &r.text("action")?)?,
        resource_kind: str_enum("resource kind", &r.text("resource_kind")?)?,
        resource_id: parse_uuid(&r.text("resource_id")?)?,
        resource_name: r.text("resource_name")?,
        changes: from_json("audit changes", &r.text("changes")?)?,
    })
}

#[async_trait]
impl<B: Backend> AuditStore for SqlStore<B> {
    async fn append_audit(&self, entry: &AuditEntry) -> StoreResult<()> {
        insert_audit::<B>(&mut *self.conn().await?, entry).await
    }

    async fn list_audit(&self, kind: ResourceKind, id: Uuid) -> StoreResult<Vec<AuditEntry>> {
        let rows = self
            .all(
                format!(
                    "SELECT id, at, actor, source, action, resource_kind, resource_id, \
                     resource_name, changes FROM audit_log \
                     WHERE resource_kind = $1 AND resource_id = $2 ORDER BY at, {}",
                    B::AUDIT_SEQ
                ),
                args![enum_str(&kind)?, id.to_string()],
            )
            .await?;
        rows.iter().map(audit_from_row).collect()
    }
}

fn debug_line_from_row(row: &impl RowExt) -> StoreResult<DebugLine> {
    let direction = row.text("direction")?;
    Ok(DebugLine {
        connection: ConnectionId(parse_uuid(&row.text("connection_id")?)?),
        at: parse_time(&row.text("at")?)?,
        request_id: row.text("request_id")?,
        direction: DebugDirection::parse(&direction)
            .ok_or_else(|| StoreError::Corrupt(format!("debug line direction {direction:?}")))?,
        method: row.text("method")?,
        url: row.text("url")?,
        status: row.opt_int("status")?.and_then(|s| u16::try_from(s).ok()),
        duration_ms: row
            .opt_int("duration_ms")?
            .and_then(|d| u64::try_from(d).ok()),
        headers: from_json("debug line headers", &row.text("headers")?)?,
        body: row.opt_text("body")?,
    })
}

#[async_trait]
impl<B: Backend> DebugLogStore for SqlStore<B> {
    async fn append_debug_lines(&self, lines: &[DebugLine]) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        for l in lines {
            exec::<B>(
                &mut tx,
                "INSERT INTO debug_log (connection_id, at, request_id, direction, method, url, \
                 status, duration_ms, headers, body) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                args![
                    l.connection.to_string(),
                    fmt_time(l.at),
                    l.request_id.as_str(),
                    l.direction.as_str(),
                    l.method.as_str(),
                    l.url.as_str(),
                    l.status.map(i64::from),
                    l.duration_ms.map(|d| i64::try_from(d).unwrap_or(i64::MAX)),
                    to_json(&l.headers)?,
                    l.body.clone(),
                ],
            )
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn list_debug_lines(
        &self,
        connection: ConnectionId,
        since: OffsetDateTime,
    ) -> StoreResult<Vec<DebugLine>> {
        let rows = self
            .all(
                "SELECT connection_id, at, request_id, direction, method, url, status, \
                 duration_ms, headers, body FROM debug_log \
                 WHERE connection_id = $1 AND at >= $2 ORDER BY at, seq",
                args![connection.to_string(), fmt_time(since)],
            )
            .await?;
        rows.iter().map(debug_line_from_row).collect()
    }

    async fn clear_debug_lines(&self, connection: ConnectionId) -> StoreResult<u64> {
        self.exec(
            "DELETE FROM debug_log WHERE connection_id = $1",
            args![connection.to_string()],
        )
        .await
    }

    async fn purge_debug_lines(&self, before: OffsetDateTime) -> StoreResult<u64> {
        self.exec(
            "DELETE FROM debug_log WHERE at < $1",
            args![fmt_time(before)],
        )
        .await
    }
}
