//! [`FlowStore`].

use std::collections::HashMap;

use async_trait::async_trait;
use jiralink_domain::ConnectionId;
use time::OffsetDateTime;
use uuid::Uuid;

use super::imports::placeholders;
use super::{
    Arg, Backend, RowExt, SqlStore, args, exec, found, is_foreign_key_violation,
    is_unique_violation, sqlx_error,
};
use crate::codec::{
    enum_str, fmt_time, from_json, from_u64, parse_opt_time, parse_time, parse_uuid, str_enum,
    to_json, to_u64,
};
use crate::flows::{CommentLink, FlowRecord, FlowRunRecord, FlowStore, SyncLink};
use crate::{StoreError, StoreResult, export_name_key};

const FLOW: &str = "flow";
const FLOW_RUN: &str = "flow run";

const FLOW_COLUMNS: &str =
    "id, name, export_id, import_id, schedule, enabled, version, created_at, updated_at";
const RUN_COLUMNS: &str = "id, flow_id, pair_key, triggered_by, state, phase, export_run_id, \
     import_run_id, stats, error, holder, lease_until, started_at, finished_at, source";

fn flow_from_row(r: &impl RowExt) -> StoreResult<FlowRecord> {
    Ok(FlowRecord {
        id: parse_uuid(&r.text("id")?)?,
        name: r.text("name")?,
        export_id: parse_uuid(&r.text("export_id")?)?,
        import_id: parse_uuid(&r.text("import_id")?)?,
        schedule: r
            .opt_text("schedule")?
            .map(|s| from_json("flow schedule", &s))
            .transpose()?,
        enabled: r.boolean("enabled")?,
        version: to_u64("flow version", r.int("version")?)?,
        created_at: parse_time(&r.text("created_at")?)?,
        updated_at: parse_time(&r.text("updated_at")?)?,
    })
}

fn run_from_row(r: &impl RowExt) -> StoreResult<FlowRunRecord> {
    let uuid = |c: &str| -> StoreResult<Option<Uuid>> {
        r.opt_text(c)?.as_deref().map(parse_uuid).transpose()
    };
    Ok(FlowRunRecord {
        id: parse_uuid(&r.text("id")?)?,
        flow_id: parse_uuid(&r.text("flow_id")?)?,
        pair_key: r.text("pair_key")?,
        trigger: str_enum("flow run trigger", &r.text("triggered_by")?)?,
        state: str_enum("flow run state", &r.text("state")?)?,
        phase: r.text("phase")?,
        export_run_id: uuid("export_run_id")?,
        import_run_id: uuid("import_run_id")?,
        stats: from_json("flow run stats", &r.text("stats")?)?,
        error: r.opt_text("error")?,
        holder: r.opt_text("holder")?,
        lease_until: parse_opt_time(r.opt_text("lease_until")?.as_deref())?,
        started_at: parse_time(&r.text("started_at")?)?,
        finished_at: parse_opt_time(r.opt_text("finished_at")?.as_deref())?,
        source: r
            .opt_text("source")?
            .map(|s| from_json("flow run source", &s))
            .transpose()?,
    })
}

fn flow_write_error(e: StoreError, name: &str) -> StoreError {
    match sqlx_error(&e) {
        Some(s) if is_unique_violation(s) => StoreError::Conflict {
            kind: FLOW,
            name: name.to_owned(),
        },
        Some(s) if is_foreign_key_violation(s) => StoreError::NotFound {
            kind: "export or import",
        },
        _ => e,
    }
}

fn link_from_row(r: &impl RowExt) -> StoreResult<SyncLink> {
    Ok(SyncLink {
        connection_id: ConnectionId(parse_uuid(&r.text("connection_id")?)?),
        issue_id: r.text("issue_id")?,
        issue_key: r.text("issue_key")?,
        peer_connection_id: ConnectionId(parse_uuid(&r.text("peer_connection_id")?)?),
        peer_issue_id: r.text("peer_issue_id")?,
        peer_issue_key: r.text("peer_issue_key")?,
        seen_updated: r.opt_text("seen_updated")?,
        at: parse_time(&r.text("at")?)?,
    })
}

fn comment_from_row(r: &impl RowExt) -> StoreResult<CommentLink> {
    Ok(CommentLink {
        connection_id: ConnectionId(parse_uuid(&r.text("connection_id")?)?),
        comment_id: r.text("comment_id")?,
        peer_connection_id: ConnectionId(parse_uuid(&r.text("peer_connection_id")?)?),
        issue_id: r.text("issue_id")?,
        peer_comment_id: r.text("peer_comment_id")?,
        body_hash: r.text("body_hash")?,
        at: parse_time(&r.text("at")?)?,
    })
}

fn connection_missing(e: StoreError) -> StoreError {
    match sqlx_error(&e) {
        Some(s) if is_foreign_key_violation(s) => StoreError::NotFound { kind: "connection" },
        _ => e,
    }
}

impl<B: Backend> SqlStore<B> {
    /// The rows of an id-map table (`select` up to its `FROM`) between one pair of connections
    /// whose `id_column` is among `ids`, a bounded number of values per statement.
    async fn pair_rows(
        &self,
        select: &str,
        id_column: &str,
        (connection, peer): (ConnectionId, ConnectionId),
        ids: &[String],
    ) -> StoreResult<Vec<B::Row>> {
        let mut out = Vec::new();
        for chunk in ids.chunks(500) {
            let mut values = vec![
                Arg::from(connection.to_string()),
                Arg::from(peer.to_string()),
            ];
            values.extend(chunk.iter().map(|i| Arg::from(i.as_str())));
            out.extend(
                self.all(
                    format!(
                        "{select} WHERE connection_id = $1 AND peer_connection_id = $2 \
                         AND {id_column} IN ({})",
                        placeholders(3, chunk.len())
                    ),
                    values,
                )
                .await?,
            );
        }
        Ok(out)
    }

    /// Runs the upsert `sql` once per row of arguments, in one transaction.
    async fn put_rows(&self, sql: &'static str, rows: Vec<Vec<Arg>>) -> StoreResult<()> {
        if rows.is_empty() {
            return Ok(());
        }
        let mut tx = self.begin_write().await?;
        for args in rows {
            exec::<B>(&mut tx, sql, args)
                .await
                .map_err(connection_missing)?;
        }
        tx.commit().await?;
        Ok(())
    }
}

#[async_trait]
impl<B: Backend> FlowStore for SqlStore<B> {
    async fn insert_flow(&self, f: &FlowRecord) -> StoreResult<()> {
        self.exec(
            "INSERT INTO flows (id, name, name_key, export_id, import_id, schedule, enabled, \
             version, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            vec![
                Arg::from(f.id.to_string()),
                Arg::from(f.name.as_str()),
                Arg::from(export_name_key(&f.name)),
                Arg::from(f.export_id.to_string()),
                Arg::from(f.import_id.to_string()),
                Arg::Text(f.schedule.as_ref().map(to_json).transpose()?),
                Arg::from(f.enabled),
                Arg::from(from_u64(f.version)),
                Arg::from(fmt_time(f.created_at)),
                Arg::from(fmt_time(f.updated_at)),
            ],
        )
        .await
        .map_err(|err| flow_write_error(err, &f.name))?;
        Ok(())
    }

    async fn update_flow(&self, f: &FlowRecord) -> StoreResult<u64> {
        let done = self
            .exec(
                "UPDATE flows SET name = $1, name_key = $2, export_id = $3, import_id = $4, \
                 schedule = $5, enabled = $6, updated_at = $7, version = version + 1 \
                 WHERE id = $8 AND version = $9",
                vec![
                    Arg::from(f.name.as_str()),
                    Arg::from(export_name_key(&f.name)),
                    Arg::from(f.export_id.to_string()),
                    Arg::from(f.import_id.to_string()),
                    Arg::Text(f.schedule.as_ref().map(to_json).transpose()?),
                    Arg::from(f.enabled),
                    Arg::from(fmt_time(f.updated_at)),
                    Arg::from(f.id.to_string()),
                    Arg::from(from_u64(f.version)),
                ],
            )
            .await
            .map_err(|err| flow_write_error(err, &f.name))?;
        if done == 0 {
            let exists = self
                .opt(
                    "SELECT 1 AS one FROM flows WHERE id = $1",
                    args![f.id.to_string()],
                )
                .await?
                .is_some();
            return Err(if exists {
                StoreError::Changed { kind: FLOW }
            } else {
                StoreError::NotFound { kind: FLOW }
            });
        }
        Ok(f.version + 1)
    }

    async fn get_flow(&self, id: Uuid) -> StoreResult<FlowRecord> {
        let row = self
            .opt(
                format!("SELECT {FLOW_COLUMNS} FROM flows WHERE id = $1"),
                args![id.to_string()],
            )
            .await?
            .ok_or(StoreError::NotFound { kind: FLOW })?;
        flow_from_row(&row)
    }

    async fn find_flow_by_name(&self, name: &str) -> StoreResult<Option<FlowRecord>> {
        let row = self
            .opt(
                format!("SELECT {FLOW_COLUMNS} FROM flows WHERE name_key = $1"),
                args![export_name_key(name)],
            )
            .await?;
        row.as_ref().map(flow_from_row).transpose()
    }

    async fn list_flows(&self) -> StoreResult<Vec<FlowRecord>> {
        let rows = self
            .all(
                format!("SELECT {FLOW_COLUMNS} FROM flows ORDER BY name_key, id"),
                args![],
            )
            .await?;
        rows.iter().map(flow_from_row).collect()
    }

    async fn delete_flow(&self, id: Uuid) -> StoreResult<()> {
        let done = self
            .exec("DELETE FROM flows WHERE id = $1", args![id.to_string()])
            .await?;
        found(done, FLOW)
    }

    async fn insert_flow_run(&self, r: &FlowRunRecord) -> StoreResult<()> {
        self.exec(
            format!(
                "INSERT INTO flow_runs ({RUN_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, \
                 $9, $10, $11, $12, $13, $14, $15)"
            ),
            vec![
                Arg::from(r.id.to_string()),
                Arg::from(r.flow_id.to_string()),
                Arg::from(r.pair_key.as_str()),
                Arg::from(enum_str(&r.trigger)?),
                Arg::from(enum_str(&r.state)?),
                Arg::from(r.phase.as_str()),
                Arg::from(r.export_run_id.map(|u| u.to_string())),
                Arg::from(r.import_run_id.map(|u| u.to_string())),
                Arg::from(to_json(&r.stats)?),
                Arg::from(r.error.clone()),
                Arg::from(r.holder.clone()),
                Arg::from(r.lease_until.map(fmt_time)),
                Arg::from(fmt_time(r.started_at)),
                Arg::from(r.finished_at.map(fmt_time)),
                Arg::Text(r.source.as_ref().map(to_json).transpose()?),
            ],
        )
        .await
        .map_err(|e| match sqlx_error(&e) {
            Some(s) if is_unique_violation(s) => StoreError::Conflict {
                kind: FLOW_RUN,
                name: r.flow_id.to_string(),
            },
            Some(s) if is_foreign_key_violation(s) => StoreError::NotFound { kind: FLOW },
            _ => e,
        })?;
        Ok(())
    }

    async fn save_flow_run(&self, r: &FlowRunRecord, holder: &str) -> StoreResult<bool> {
        let done = self
            .exec(
                "UPDATE flow_runs SET state = $1, phase = $2, export_run_id = $3, \
                 import_run_id = $4, stats = $5, error = $6, lease_until = $7, finished_at = $8 \
                 WHERE id = $9 AND holder = $10 AND state = 'running'",
                vec![
                    Arg::from(enum_str(&r.state)?),
                    Arg::from(r.phase.as_str()),
                    Arg::from(r.export_run_id.map(|u| u.to_string())),
                    Arg::from(r.import_run_id.map(|u| u.to_string())),
                    Arg::from(to_json(&r.stats)?),
                    Arg::from(r.error.clone()),
                    Arg::from(r.lease_until.map(fmt_time)),
                    Arg::from(r.finished_at.map(fmt_time)),
                    Arg::from(r.id.to_string()),
                    Arg::from(holder),
                ],
            )
            .await?;
        Ok(done == 1)
    }

    async fn renew_flow_run(
        &self,
        id: Uuid,
        holder: &str,
        lease_until: OffsetDateTime,
    ) -> StoreResult<bool> {
        let done = self
            .exec(
                "UPDATE flow_runs SET lease_until = $1 WHERE id = $2 AND holder = $3 \
                 AND state = 'running'",
                vec![
                    Arg::from(fmt_time(lease_until)),
                    Arg::from(id.to_string()),
                    Arg::from(holder),
                ],
            )
            .await?;
        Ok(done == 1)
    }

    async fn take_over_flow_run(
        &self,
        id: Uuid,
        holder: &str,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
    ) -> StoreResult<Option<FlowRunRecord>> {
        let done = self
            .exec(
                "UPDATE flow_runs SET holder = $1, lease_until = $2 WHERE id = $3 \
                 AND state = 'running' AND (lease_until IS NULL OR lease_until <= $4)",
                vec![
                    Arg::from(holder),
                    Arg::from(fmt_time(lease_until)),
                    Arg::from(id.to_string()),
                    Arg::from(fmt_time(now)),
                ],
            )
            .await?;
        if done == 0 {
            return Ok(None);
        }
        self.get_flow_run(id).await.map(Some)
    }

    async fn get_flow_run(&self, id: Uuid) -> StoreResult<FlowRunRecord> {
        let row = self
            .opt(
                format!("SELECT {RUN_COLUMNS} FROM flow_runs WHERE id = $1"),
                args![id.to_string()],
            )
            .await?
            .ok_or(StoreError::NotFound { kind: FLOW_RUN })?;
        run_from_row(&row)
    }

    async fn list_flow_runs(
        &self,
        flow: Option<Uuid>,
        limit: u32,
    ) -> StoreResult<Vec<FlowRunRecord>> {
        let rows = match flow {
            Some(f) => {
                self.all(
                    format!(
                        "SELECT {RUN_COLUMNS} FROM flow_runs WHERE flow_id = $1 \
                         ORDER BY started_at DESC, id DESC LIMIT $2"
                    ),
                    vec![Arg::from(f.to_string()), Arg::from(i64::from(limit))],
                )
                .await?
            }
            None => {
                self.all(
                    format!(
                        "SELECT {RUN_COLUMNS} FROM flow_runs \
                         ORDER BY started_at DESC, id DESC LIMIT $1"
                    ),
                    vec![Arg::from(i64::from(limit))],
                )
                .await?
            }
        };
        rows.iter().map(run_from_row).collect()
    }

    async fn sync_links(
        &self,
        connection: ConnectionId,
        peer: ConnectionId,
        issue_ids: &[String],
    ) -> StoreResult<HashMap<String, SyncLink>> {
        let rows = self
            .pair_rows(
                "SELECT connection_id, issue_id, issue_key, peer_connection_id, peer_issue_id, \
                 peer_issue_key, seen_updated, at FROM sync_links",
                "issue_id",
                (connection, peer),
                issue_ids,
            )
            .await?;
        rows.iter()
            .map(|r| link_from_row(r).map(|l| (l.issue_id.clone(), l)))
            .collect()
    }

    async fn sync_links_after(
        &self,
        connection: ConnectionId,
        peer: ConnectionId,
        after: Option<&str>,
        limit: u32,
    ) -> StoreResult<Vec<SyncLink>> {
        let rows = self
            .all(
                "SELECT connection_id, issue_id, issue_key, peer_connection_id, peer_issue_id, \
                 peer_issue_key, seen_updated, at FROM sync_links WHERE connection_id = $1 \
                 AND peer_connection_id = $2 AND ($3 IS NULL OR issue_id > $3) \
                 ORDER BY issue_id LIMIT $4",
                args![
                    connection.to_string(),
                    peer.to_string(),
                    after,
                    i64::from(limit)
                ],
            )
            .await?;
        rows.iter().map(link_from_row).collect()
    }

    async fn delete_sync_links(
        &self,
        connection: ConnectionId,
        peer: ConnectionId,
        issue_ids: &[String],
    ) -> StoreResult<u64> {
        let links = self.sync_links(connection, peer, issue_ids).await?;
        if links.is_empty() {
            return Ok(0);
        }
        let mut tx = self.begin_write().await?;
        for link in links.values() {
            for (side, issue, other) in [
                (connection, link.issue_id.as_str(), peer),
                (peer, link.peer_issue_id.as_str(), connection),
            ] {
                exec::<B>(
                    &mut tx,
                    "DELETE FROM sync_links WHERE connection_id = $1 AND issue_id = $2 \
                     AND peer_connection_id = $3",
                    args![side.to_string(), issue, other.to_string()],
                )
                .await?;
                exec::<B>(
                    &mut tx,
                    "DELETE FROM sync_comment_links WHERE connection_id = $1 AND issue_id = $2 \
                     AND peer_connection_id = $3",
                    args![side.to_string(), issue, other.to_string()],
                )
                .await?;
            }
        }
        tx.commit().await?;
        Ok(links.len() as u64)
    }

    async fn put_sync_links(&self, links: &[SyncLink]) -> StoreResult<()> {
        self.put_rows(
            "INSERT INTO sync_links (connection_id, issue_id, peer_connection_id, issue_key, \
             peer_issue_id, peer_issue_key, seen_updated, at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
             ON CONFLICT (connection_id, issue_id, peer_connection_id) DO UPDATE SET \
             issue_key = excluded.issue_key, peer_issue_id = excluded.peer_issue_id, \
             peer_issue_key = excluded.peer_issue_key, \
             seen_updated = excluded.seen_updated, at = excluded.at",
            links
                .iter()
                .map(|l| {
                    vec![
                        Arg::from(l.connection_id.to_string()),
                        Arg::from(l.issue_id.as_str()),
                        Arg::from(l.peer_connection_id.to_string()),
                        Arg::from(l.issue_key.as_str()),
                        Arg::from(l.peer_issue_id.as_str()),
                        Arg::from(l.peer_issue_key.as_str()),
                        Arg::from(l.seen_updated.clone()),
                        Arg::from(fmt_time(l.at)),
                    ]
                })
                .collect(),
        )
        .await
    }

    async fn comment_links(
        &self,
        connection: ConnectionId,
        peer: ConnectionId,
        comment_ids: &[String],
    ) -> StoreResult<HashMap<String, CommentLink>> {
        let rows = self
            .pair_rows(
                "SELECT connection_id, comment_id, peer_connection_id, issue_id, \
                 peer_comment_id, body_hash, at FROM sync_comment_links",
                "comment_id",
                (connection, peer),
                comment_ids,
            )
            .await?;
        rows.iter()
            .map(|r| comment_from_row(r).map(|l| (l.comment_id.clone(), l)))
            .collect()
    }

    async fn put_comment_links(&self, links: &[CommentLink]) -> StoreResult<()> {
        self.put_rows(
            "INSERT INTO sync_comment_links (connection_id, comment_id, peer_connection_id, \
             issue_id, peer_comment_id, body_hash, at) VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (connection_id, comment_id, peer_connection_id) DO UPDATE SET \
             issue_id = excluded.issue_id, peer_comment_id = excluded.peer_comment_id, \
             body_hash = excluded.body_hash, at = excluded.at",
            links
                .iter()
                .map(|l| {
                    vec![
                        Arg::from(l.connection_id.to_string()),
                        Arg::from(l.comment_id.as_str()),
                        Arg::from(l.peer_connection_id.to_string()),
                        Arg::from(l.issue_id.as_str()),
                        Arg::from(l.peer_comment_id.as_str()),
                        Arg::from(l.body_hash.as_str()),
                        Arg::from(fmt_time(l.at)),
                    ]
                })
                .collect(),
        )
        .await
    }
}
