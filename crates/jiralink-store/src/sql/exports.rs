//! [`ExportStore`].

use async_trait::async_trait;
use jiralink_domain::ConnectionId;
use time::OffsetDateTime;
use uuid::Uuid;

use super::{
    Arg, Backend, RowExt, SqlStore, args, exec, found, is_foreign_key_violation,
    is_unique_violation, opt, sqlx_error,
};
use crate::codec::{
    fmt_time, from_json, from_u64, parse_opt_time, parse_time, parse_uuid, str_enum, to_json,
    to_u64,
};
use crate::exports::{
    ExportRecord, ExportRunRecord, ExportStore, NewExportRun, RunFilter, RunFinish, RunState,
    export_name_key,
};
use crate::{ImportStore, StoreError, StoreResult};

const EXPORT: &str = "export";
const RUN: &str = "export run";

const EXPORT_COLUMNS: &str = "id, name, connection_id, spec, schedule, enabled, delta_cursor, \
                              version, created_at, updated_at";

const RUN_COLUMNS: &str = "id, export_id, connection_id, triggered_by, spec, state, reason, \
                           started_at, finished_at, holder, lease_until, stats, checkpoint, \
                           cursor_before, cursor_after, error, cancel_requested, output_bytes, \
                           output_chunks, output_file, output_expires_at, resumed, kind, import_id";

fn opt_json(what: &str, s: Option<String>) -> StoreResult<Option<serde_json::Value>> {
    s.map(|s| from_json(what, &s)).transpose()
}

fn json_arg(v: Option<&serde_json::Value>) -> StoreResult<Arg> {
    Ok(Arg::Text(v.map(to_json).transpose()?))
}

fn export_from_row(r: &impl RowExt) -> StoreResult<ExportRecord> {
    Ok(ExportRecord {
        id: parse_uuid(&r.text("id")?)?,
        name: r.text("name")?,
        connection_id: ConnectionId(parse_uuid(&r.text("connection_id")?)?),
        spec: from_json("export spec", &r.text("spec")?)?,
        schedule: opt_json("export schedule", r.opt_text("schedule")?)?,
        enabled: r.boolean("enabled")?,
        cursor: opt_json("export cursor", r.opt_text("delta_cursor")?)?,
        version: to_u64("export version", r.int("version")?)?,
        created_at: parse_time(&r.text("created_at")?)?,
        updated_at: parse_time(&r.text("updated_at")?)?,
    })
}

fn run_from_row(r: &impl RowExt) -> StoreResult<ExportRunRecord> {
    Ok(ExportRunRecord {
        id: parse_uuid(&r.text("id")?)?,
        export_id: r
            .opt_text("export_id")?
            .as_deref()
            .map(parse_uuid)
            .transpose()?,
        kind: str_enum("run kind", &r.text("kind")?)?,
        import_id: r
            .opt_text("import_id")?
            .as_deref()
            .map(parse_uuid)
            .transpose()?,
        connection_id: ConnectionId(parse_uuid(&r.text("connection_id")?)?),
        trigger: str_enum("run trigger", &r.text("triggered_by")?)?,
        spec: from_json("run spec", &r.text("spec")?)?,
        state: str_enum("run state", &r.text("state")?)?,
        reason: r.opt_text("reason")?,
        started_at: parse_time(&r.text("started_at")?)?,
        finished_at: parse_opt_time(r.opt_text("finished_at")?.as_deref())?,
        holder: r.opt_text("holder")?,
        lease_until: parse_opt_time(r.opt_text("lease_until")?.as_deref())?,
        stats: from_json("run stats", &r.text("stats")?)?,
        checkpoint: opt_json("run checkpoint", r.opt_text("checkpoint")?)?,
        cursor_before: opt_json("run cursor", r.opt_text("cursor_before")?)?,
        cursor_after: opt_json("run cursor", r.opt_text("cursor_after")?)?,
        error: r.opt_text("error")?,
        cancel_requested: r.boolean("cancel_requested")?,
        output_bytes: to_u64("run output bytes", r.int("output_bytes")?)?,
        output_chunks: to_u64("run output chunks", r.int("output_chunks")?)?,
        output_file: r.opt_text("output_file")?,
        output_expires_at: parse_opt_time(r.opt_text("output_expires_at")?.as_deref())?,
        resumed: u32::try_from(to_u64("run resumed", r.int("resumed")?)?).unwrap_or(u32::MAX),
    })
}

/// A failed write of an export: its name taken, or its connection gone.
fn export_write_error(e: StoreError, name: &str) -> StoreError {
    match sqlx_error(&e) {
        Some(s) if is_unique_violation(s) => StoreError::Conflict {
            kind: EXPORT,
            name: name.to_owned(),
        },
        Some(s) if is_foreign_key_violation(s) => StoreError::NotFound { kind: "connection" },
        _ => e,
    }
}

/// Free text from outside (an error Jira answered, a reason): PostgreSQL's text cannot hold
/// NUL, so it becomes U+FFFD on both backends alike rather than failing the write that
/// records the run's end.
fn free_text(s: Option<&str>) -> Arg {
    Arg::Text(s.map(|s| s.replace('\0', "\u{fffd}")))
}

/// A byte count or chunk count as stored.
fn len_i64(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

impl<B: Backend> SqlStore<B> {
    async fn exists(&self, table: &'static str, id: Uuid) -> StoreResult<bool> {
        Ok(self
            .opt(
                format!("SELECT 1 AS one FROM {table} WHERE id = $1"),
                args![id.to_string()],
            )
            .await?
            .is_some())
    }

    /// `NotFound` for a run that does not exist, else `value`.
    async fn run_must_exist<T>(&self, run: Uuid, value: T) -> StoreResult<T> {
        if self.exists("export_runs", run).await? {
            Ok(value)
        } else {
            Err(StoreError::NotFound { kind: RUN })
        }
    }
}

#[async_trait]
impl<B: Backend> ExportStore for SqlStore<B> {
    async fn insert_export(&self, e: &ExportRecord) -> StoreResult<()> {
        self.exec(
            "INSERT INTO exports (id, name, name_key, connection_id, spec, schedule, enabled, \
             delta_cursor, version, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            vec![
                Arg::from(e.id.to_string()),
                Arg::from(e.name.as_str()),
                Arg::from(export_name_key(&e.name)),
                Arg::from(e.connection_id.to_string()),
                Arg::from(to_json(&e.spec)?),
                json_arg(e.schedule.as_ref())?,
                Arg::from(e.enabled),
                json_arg(e.cursor.as_ref())?,
                Arg::from(from_u64(e.version)),
                Arg::from(fmt_time(e.created_at)),
                Arg::from(fmt_time(e.updated_at)),
            ],
        )
        .await
        .map_err(|err| export_write_error(err, &e.name))?;
        Ok(())
    }

    async fn update_export(&self, e: &ExportRecord) -> StoreResult<u64> {
        let done = self
            .exec(
                "UPDATE exports SET name = $1, name_key = $2, connection_id = $3, spec = $4, \
                 schedule = $5, enabled = $6, updated_at = $7, version = version + 1 \
                 WHERE id = $8 AND version = $9",
                vec![
                    Arg::from(e.name.as_str()),
                    Arg::from(export_name_key(&e.name)),
                    Arg::from(e.connection_id.to_string()),
                    Arg::from(to_json(&e.spec)?),
                    json_arg(e.schedule.as_ref())?,
                    Arg::from(e.enabled),
                    Arg::from(fmt_time(e.updated_at)),
                    Arg::from(e.id.to_string()),
                    Arg::from(from_u64(e.version)),
                ],
            )
            .await
            .map_err(|err| export_write_error(err, &e.name))?;
        if done == 0 {
            return Err(if self.exists("exports", e.id).await? {
                StoreError::Changed { kind: EXPORT }
            } else {
                StoreError::NotFound { kind: EXPORT }
            });
        }
        Ok(e.version + 1)
    }

    async fn get_export(&self, id: Uuid) -> StoreResult<ExportRecord> {
        let row = self
            .opt(
                format!("SELECT {EXPORT_COLUMNS} FROM exports WHERE id = $1"),
                args![id.to_string()],
            )
            .await?
            .ok_or(StoreError::NotFound { kind: EXPORT })?;
        export_from_row(&row)
    }

    async fn find_export_by_name(&self, name: &str) -> StoreResult<Option<ExportRecord>> {
        let row = self
            .opt(
                format!("SELECT {EXPORT_COLUMNS} FROM exports WHERE name_key = $1"),
                args![export_name_key(name)],
            )
            .await?;
        row.as_ref().map(export_from_row).transpose()
    }

    async fn list_exports(&self) -> StoreResult<Vec<ExportRecord>> {
        let rows = self
            .all(
                format!("SELECT {EXPORT_COLUMNS} FROM exports ORDER BY name_key, id"),
                args![],
            )
            .await?;
        rows.iter().map(export_from_row).collect()
    }

    async fn exports_using(
        &self,
        connections: &[ConnectionId],
    ) -> StoreResult<Vec<(ConnectionId, Uuid, String)>> {
        self.definitions_using("exports", connections).await
    }

    async fn delete_export(&self, id: Uuid) -> StoreResult<()> {
        // Its runs and their chunks go with it (ON DELETE CASCADE).
        let done = self
            .exec("DELETE FROM exports WHERE id = $1", args![id.to_string()])
            .await
            .map_err(|e| match sqlx_error(&e) {
                // A flow still names it (ON DELETE RESTRICT).
                Some(s) if is_foreign_key_violation(s) => StoreError::InUse { kind: EXPORT },
                _ => e,
            })?;
        found(done, EXPORT)
    }

    async fn export_known_ids(&self, id: Uuid) -> StoreResult<Option<Vec<u8>>> {
        let row = self
            .opt(
                "SELECT known_ids FROM exports WHERE id = $1",
                args![id.to_string()],
            )
            .await?
            .ok_or(StoreError::NotFound { kind: EXPORT })?;
        row.opt_bytes("known_ids")
    }

    async fn reset_export_cursor(&self, id: Uuid) -> StoreResult<()> {
        let done = self
            .exec(
                "UPDATE exports SET delta_cursor = NULL, known_ids = NULL WHERE id = $1",
                args![id.to_string()],
            )
            .await?;
        found(done, EXPORT)
    }

    async fn rewind_export_cursor(
        &self,
        id: Uuid,
        from: &serde_json::Value,
        to: Option<&serde_json::Value>,
    ) -> StoreResult<bool> {
        let done = self
            .exec(
                "UPDATE exports SET delta_cursor = $1 WHERE id = $2 AND delta_cursor = $3",
                vec![
                    Arg::Text(to.map(to_json).transpose()?),
                    Arg::from(id.to_string()),
                    Arg::from(to_json(from)?),
                ],
            )
            .await?;
        Ok(done == 1)
    }

    async fn start_export_run(&self, run: &NewExportRun) -> StoreResult<()> {
        let finished_at = (run.state != RunState::Running).then(|| fmt_time(run.started_at));
        let inserted = self
            .exec(
                "INSERT INTO export_runs (id, export_id, connection_id, triggered_by, spec, state, \
                 reason, started_at, finished_at, holder, lease_until, stats, cursor_before, \
                 output_file, kind, import_id) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, '{}', $12, $13, $14, $15)",
                vec![
                    Arg::from(run.id.to_string()),
                    Arg::from(run.export_id.map(|e| e.to_string())),
                    Arg::from(run.connection_id.to_string()),
                    Arg::from(run.trigger.as_str()),
                    Arg::from(to_json(&run.spec)?),
                    Arg::from(run.state.as_str()),
                    free_text(run.reason.as_deref()),
                    Arg::from(fmt_time(run.started_at)),
                    Arg::from(finished_at),
                    Arg::from(run.holder.clone()),
                    Arg::from(run.lease_until.map(fmt_time)),
                    json_arg(run.cursor_before.as_ref())?,
                    Arg::from(run.output_file.clone()),
                    Arg::from(run.kind.as_str()),
                    Arg::from(run.import_id.map(|e| e.to_string())),
                ],
            )
            .await;
        let Err(e) = inserted else {
            return Ok(());
        };
        match sqlx_error(&e) {
            // The unique index on the running run of each export: one is going already.
            Some(s) if is_unique_violation(s) => {
                if self.exists("export_runs", run.id).await? {
                    return Err(StoreError::Conflict {
                        kind: RUN,
                        name: run.id.to_string(),
                    });
                }
                if let Some(id) = run.import_id {
                    let name = match self.get_import(id).await {
                        Ok(import) => import.name,
                        Err(_) => id.to_string(),
                    };
                    return Err(StoreError::Conflict {
                        kind: "running run of import",
                        name,
                    });
                }
                let name = match run.export_id {
                    Some(id) => match self.get_export(id).await {
                        Ok(export) => export.name,
                        Err(_) => id.to_string(),
                    },
                    None => run.id.to_string(),
                };
                Err(StoreError::Conflict {
                    kind: "running run of export",
                    name,
                })
            }
            Some(s) if is_foreign_key_violation(s) => {
                let export_missing = match run.export_id {
                    Some(id) => !self.exists("exports", id).await?,
                    None => false,
                };
                let import_missing = match run.import_id {
                    Some(id) => !self.exists("imports", id).await?,
                    None => false,
                };
                Err(StoreError::NotFound {
                    kind: if export_missing {
                        EXPORT
                    } else if import_missing {
                        "import"
                    } else {
                        "connection"
                    },
                })
            }
            _ => Err(e),
        }
    }

    async fn interrupted_export_run(
        &self,
        export_id: Uuid,
        now: OffsetDateTime,
    ) -> StoreResult<Option<ExportRunRecord>> {
        let row = self
            .opt(
                format!(
                    "SELECT {RUN_COLUMNS} FROM export_runs WHERE export_id = $1 \
                     AND state = 'running' AND (lease_until IS NULL OR lease_until <= $2)"
                ),
                args![export_id.to_string(), fmt_time(now)],
            )
            .await?;
        row.as_ref().map(run_from_row).transpose()
    }

    async fn interrupted_export_runs(
        &self,
        now: OffsetDateTime,
    ) -> StoreResult<Vec<ExportRunRecord>> {
        let rows = self
            .all(
                format!(
                    "SELECT {RUN_COLUMNS} FROM export_runs WHERE state = 'running' \
                     AND (lease_until IS NULL OR lease_until <= $1) ORDER BY started_at, id"
                ),
                args![fmt_time(now)],
            )
            .await?;
        rows.iter().map(run_from_row).collect()
    }

    async fn take_over_export_run(
        &self,
        run: Uuid,
        holder: &str,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
    ) -> StoreResult<Option<ExportRunRecord>> {
        let mut tx = self.begin_write().await?;
        // One statement checks that the lease is free and takes it, so two servers taking
        // over the same crashed run cannot both succeed.
        let row = opt::<B>(
            &mut tx,
            format!(
                "UPDATE export_runs SET holder = $1, lease_until = $2, resumed = resumed + 1 \
                 WHERE id = $3 AND state = 'running' \
                 AND (holder = $1 OR lease_until IS NULL OR lease_until <= $4) \
                 RETURNING {RUN_COLUMNS}"
            ),
            args![
                holder,
                fmt_time(lease_until),
                run.to_string(),
                fmt_time(now)
            ],
        )
        .await?;
        tx.commit().await?;
        match row {
            Some(r) => Ok(Some(run_from_row(&r)?)),
            None => self.run_must_exist(run, None).await,
        }
    }

    async fn renew_export_run(
        &self,
        run: Uuid,
        holder: &str,
        lease_until: OffsetDateTime,
    ) -> StoreResult<bool> {
        let done = self
            .exec(
                "UPDATE export_runs SET lease_until = $1 \
                 WHERE id = $2 AND holder = $3 AND state = 'running'",
                args![fmt_time(lease_until), run.to_string(), holder],
            )
            .await?;
        Ok(done == 1)
    }

    async fn checkpoint_export_run(
        &self,
        run: Uuid,
        holder: &str,
        chunk: &[u8],
        checkpoint: &serde_json::Value,
        stats: &serde_json::Value,
    ) -> StoreResult<bool> {
        let mut tx = self.begin_write().await?;
        let added = i64::from(!chunk.is_empty());
        // Locks the run's row: the holder check and the chunk number hold until commit.
        let Some(row) = opt::<B>(
            &mut tx,
            "UPDATE export_runs SET checkpoint = $1, stats = $2, \
             output_bytes = output_bytes + $3, output_chunks = output_chunks + $4 \
             WHERE id = $5 AND holder = $6 AND state = 'running' RETURNING output_chunks",
            args![
                to_json(checkpoint)?,
                to_json(stats)?,
                len_i64(chunk.len()),
                added,
                run.to_string(),
                holder,
            ],
        )
        .await?
        else {
            tx.rollback().await?;
            return Ok(false);
        };
        if added == 1 {
            exec::<B>(
                &mut tx,
                "INSERT INTO export_run_chunks (run_id, seq, data) VALUES ($1, $2, $3)",
                args![run.to_string(), row.int("output_chunks")?, chunk],
            )
            .await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    async fn finish_export_run(
        &self,
        run: Uuid,
        holder: &str,
        finish: &RunFinish,
    ) -> StoreResult<bool> {
        let mut tx = self.begin_write().await?;
        let added = i64::from(!finish.tail.is_empty());
        let Some(row) = opt::<B>(
            &mut tx,
            "UPDATE export_runs SET state = $1, finished_at = $2, error = $3, stats = $4, \
             cursor_after = $5, output_expires_at = $6, holder = NULL, lease_until = NULL, \
             output_bytes = output_bytes + $7, output_chunks = output_chunks + $8 \
             WHERE id = $9 AND holder = $10 AND state = 'running' \
             RETURNING export_id, output_chunks",
            vec![
                Arg::from(finish.state.as_str()),
                Arg::from(fmt_time(finish.finished_at)),
                free_text(finish.error.as_deref()),
                Arg::from(to_json(&finish.stats)?),
                json_arg(finish.cursor_after.as_ref())?,
                Arg::from(finish.output_expires_at.map(fmt_time)),
                Arg::from(len_i64(finish.tail.len())),
                Arg::from(added),
                Arg::from(run.to_string()),
                Arg::from(holder),
            ],
        )
        .await?
        else {
            tx.rollback().await?;
            return Ok(false);
        };
        if added == 1 {
            exec::<B>(
                &mut tx,
                "INSERT INTO export_run_chunks (run_id, seq, data) VALUES ($1, $2, $3)",
                args![
                    run.to_string(),
                    row.int("output_chunks")?,
                    finish.tail.as_slice()
                ],
            )
            .await?;
        }
        // The cursor moves only together with the end of the output it covers.
        if let (RunState::Succeeded, Some(export)) = (finish.state, row.opt_text("export_id")?) {
            exec::<B>(
                &mut tx,
                "UPDATE exports SET delta_cursor = COALESCE($1, delta_cursor), \
                 known_ids = COALESCE($2, known_ids) WHERE id = $3",
                vec![
                    json_arg(finish.cursor_after.as_ref())?,
                    Arg::from(finish.known_ids.clone()),
                    Arg::from(export),
                ],
            )
            .await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    async fn get_export_run(&self, run: Uuid) -> StoreResult<ExportRunRecord> {
        let row = self
            .opt(
                format!("SELECT {RUN_COLUMNS} FROM export_runs WHERE id = $1"),
                args![run.to_string()],
            )
            .await?
            .ok_or(StoreError::NotFound { kind: RUN })?;
        run_from_row(&row)
    }

    async fn list_export_runs(&self, filter: &RunFilter) -> StoreResult<Vec<ExportRunRecord>> {
        let rows = self
            .all(
                format!(
                    "SELECT {RUN_COLUMNS} FROM export_runs \
                     WHERE ($1 IS NULL OR export_id = $1) AND ($2 IS NULL OR connection_id = $2) \
                     AND ($4 IS NULL OR import_id = $4) AND ($5 IS NULL OR kind = $5) \
                     AND ($6 IS NULL OR state = $6) \
                     ORDER BY started_at DESC, id DESC LIMIT $3"
                ),
                args![
                    filter.export_id.map(|e| e.to_string()),
                    filter.connection_id.map(|c| c.to_string()),
                    i64::from(filter.limit),
                    filter.import_id.map(|e| e.to_string()),
                    filter.kind.map(|k| k.as_str().to_owned()),
                    filter.state.map(|s| s.as_str().to_owned()),
                ],
            )
            .await?;
        rows.iter().map(run_from_row).collect()
    }

    async fn latest_export_runs(&self) -> StoreResult<Vec<ExportRunRecord>> {
        // One indexed look per export (export_runs_export), not a scan of every run.
        let rows = self
            .all(
                format!(
                    "SELECT {RUN_COLUMNS} FROM export_runs WHERE id IN (\
                     SELECT (SELECT r.id FROM export_runs r WHERE r.export_id = e.id \
                     ORDER BY r.started_at DESC, r.id DESC LIMIT 1) FROM exports e)"
                ),
                args![],
            )
            .await?;
        rows.iter().map(run_from_row).collect()
    }

    async fn request_export_run_cancel(&self, run: Uuid) -> StoreResult<bool> {
        let done = self
            .exec(
                "UPDATE export_runs SET cancel_requested = TRUE \
                 WHERE id = $1 AND state = 'running'",
                args![run.to_string()],
            )
            .await?;
        if done == 1 {
            Ok(true)
        } else {
            self.run_must_exist(run, false).await
        }
    }

    async fn export_run_output(
        &self,
        run: Uuid,
        after_seq: Option<u64>,
        limit: u32,
    ) -> StoreResult<Vec<(u64, Vec<u8>)>> {
        let rows = self
            .all(
                "SELECT seq, data FROM export_run_chunks WHERE run_id = $1 AND seq > $2 \
                 ORDER BY seq LIMIT $3",
                args![
                    run.to_string(),
                    from_u64(after_seq.unwrap_or(0)),
                    i64::from(limit)
                ],
            )
            .await?;
        if rows.is_empty() {
            return self.run_must_exist(run, Vec::new()).await;
        }
        rows.iter()
            .map(|r| {
                Ok((
                    to_u64("chunk number", r.int("seq")?)?,
                    r.opt_bytes("data")?.unwrap_or_default(),
                ))
            })
            .collect()
    }

    async fn delete_expired_export_outputs(&self, now: OffsetDateTime) -> StoreResult<u64> {
        let mut tx = self.begin_write().await?;
        let expired = "output_expires_at IS NOT NULL AND output_expires_at <= $1 \
                       AND state <> 'running'";
        exec::<B>(
            &mut tx,
            format!(
                "DELETE FROM export_run_chunks WHERE run_id IN \
                 (SELECT id FROM export_runs WHERE {expired})"
            ),
            args![fmt_time(now)],
        )
        .await?;
        let runs = exec::<B>(
            &mut tx,
            format!(
                "UPDATE export_runs SET output_chunks = 0 WHERE {expired} AND output_chunks > 0"
            ),
            args![fmt_time(now)],
        )
        .await?;
        tx.commit().await?;
        Ok(runs)
    }
}
