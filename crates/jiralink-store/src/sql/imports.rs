//! [`ImportStore`].

use std::collections::HashMap;

use async_trait::async_trait;
use jiralink_domain::ConnectionId;
use uuid::Uuid;

use super::{
    Arg, Backend, RowExt, SqlStore, args, exec, found, is_foreign_key_violation,
    is_unique_violation, sqlx_error,
};
use crate::codec::{fmt_time, from_json, from_u64, parse_time, parse_uuid, to_json, to_u64};
use crate::imports::{ImportRecord, ImportStore, LedgerRow};
use crate::{StoreError, StoreResult, export_name_key};

const IMPORT: &str = "import";

const IMPORT_COLUMNS: &str =
    "id, name, connection_id, spec, schedule, enabled, version, created_at, updated_at";

fn import_from_row(r: &impl RowExt) -> StoreResult<ImportRecord> {
    Ok(ImportRecord {
        id: parse_uuid(&r.text("id")?)?,
        name: r.text("name")?,
        connection_id: ConnectionId(parse_uuid(&r.text("connection_id")?)?),
        spec: from_json("import spec", &r.text("spec")?)?,
        schedule: r
            .opt_text("schedule")?
            .map(|s| from_json("import schedule", &s))
            .transpose()?,
        enabled: r.boolean("enabled")?,
        version: to_u64("import version", r.int("version")?)?,
        created_at: parse_time(&r.text("created_at")?)?,
        updated_at: parse_time(&r.text("updated_at")?)?,
    })
}

fn import_write_error(e: StoreError, name: &str) -> StoreError {
    match sqlx_error(&e) {
        Some(s) if is_unique_violation(s) => StoreError::Conflict {
            kind: IMPORT,
            name: name.to_owned(),
        },
        Some(s) if is_foreign_key_violation(s) => StoreError::NotFound { kind: "connection" },
        _ => e,
    }
}

/// `$first, $first+1, …` for `n` values.
pub(crate) fn placeholders(first: usize, n: usize) -> String {
    (first..first + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl<B: Backend> SqlStore<B> {
    /// The definitions in `table` (`exports`, `imports`) using any of the connections, as
    /// (connection, id, name), ordered by connection and then name.
    pub(crate) async fn definitions_using(
        &self,
        table: &'static str,
        connections: &[ConnectionId],
    ) -> StoreResult<Vec<(ConnectionId, Uuid, String)>> {
        if connections.is_empty() {
            return Ok(Vec::new());
        }
        let rows = self
            .all(
                format!(
                    "SELECT connection_id, id, name FROM {table} WHERE connection_id IN ({}) \
                     ORDER BY connection_id, name_key, id",
                    placeholders(1, connections.len())
                ),
                connections
                    .iter()
                    .map(|c| Arg::from(c.to_string()))
                    .collect(),
            )
            .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    ConnectionId(parse_uuid(&r.text("connection_id")?)?),
                    parse_uuid(&r.text("id")?)?,
                    r.text("name")?,
                ))
            })
            .collect()
    }
}

#[async_trait]
impl<B: Backend> ImportStore for SqlStore<B> {
    async fn insert_import(&self, i: &ImportRecord) -> StoreResult<()> {
        self.exec(
            "INSERT INTO imports (id, name, name_key, connection_id, spec, schedule, enabled, \
             version, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            vec![
                Arg::from(i.id.to_string()),
                Arg::from(i.name.as_str()),
                Arg::from(export_name_key(&i.name)),
                Arg::from(i.connection_id.to_string()),
                Arg::from(to_json(&i.spec)?),
                Arg::Text(i.schedule.as_ref().map(to_json).transpose()?),
                Arg::from(i.enabled),
                Arg::from(from_u64(i.version)),
                Arg::from(fmt_time(i.created_at)),
                Arg::from(fmt_time(i.updated_at)),
            ],
        )
        .await
        .map_err(|err| import_write_error(err, &i.name))?;
        Ok(())
    }

    async fn update_import(&self, i: &ImportRecord) -> StoreResult<u64> {
        let done = self
            .exec(
                "UPDATE imports SET name = $1, name_key = $2, connection_id = $3, spec = $4, \
                 schedule = $5, enabled = $6, updated_at = $7, version = version + 1 \
                 WHERE id = $8 AND version = $9",
                vec![
                    Arg::from(i.name.as_str()),
                    Arg::from(export_name_key(&i.name)),
                    Arg::from(i.connection_id.to_string()),
                    Arg::from(to_json(&i.spec)?),
                    Arg::Text(i.schedule.as_ref().map(to_json).transpose()?),
                    Arg::from(i.enabled),
                    Arg::from(fmt_time(i.updated_at)),
                    Arg::from(i.id.to_string()),
                    Arg::from(from_u64(i.version)),
                ],
            )
            .await
            .map_err(|err| import_write_error(err, &i.name))?;
        if done == 0 {
            let exists = self
                .opt(
                    "SELECT 1 AS one FROM imports WHERE id = $1",
                    args![i.id.to_string()],
                )
                .await?
                .is_some();
            return Err(if exists {
                StoreError::Changed { kind: IMPORT }
            } else {
                StoreError::NotFound { kind: IMPORT }
            });
        }
        Ok(i.version + 1)
    }

    async fn get_import(&self, id: Uuid) -> StoreResult<ImportRecord> {
        let row = self
            .opt(
                format!("SELECT {IMPORT_COLUMNS} FROM imports WHERE id = $1"),
                args![id.to_string()],
            )
            .await?
            .ok_or(StoreError::NotFound { kind: IMPORT })?;
        import_from_row(&row)
    }

    async fn find_import_by_name(&self, name: &str) -> StoreResult<Option<ImportRecord>> {
        let row = self
            .opt(
                format!("SELECT {IMPORT_COLUMNS} FROM imports WHERE name_key = $1"),
                args![export_name_key(name)],
            )
            .await?;
        row.as_ref().map(import_from_row).transpose()
    }

    async fn list_imports(&self) -> StoreResult<Vec<ImportRecord>> {
        let rows = self
            .all(
                format!("SELECT {IMPORT_COLUMNS} FROM imports ORDER BY name_key, id"),
                args![],
            )
            .await?;
        rows.iter().map(import_from_row).collect()
    }

    async fn imports_using(
        &self,
        connections: &[ConnectionId],
    ) -> StoreResult<Vec<(ConnectionId, Uuid, String)>> {
        self.definitions_using("imports", connections).await
    }

    async fn delete_import(&self, id: Uuid) -> StoreResult<()> {
        // Its runs and their results go with it (ON DELETE CASCADE).
        let done = self
            .exec("DELETE FROM imports WHERE id = $1", args![id.to_string()])
            .await
            .map_err(|e| match sqlx_error(&e) {
                // A flow still names it (ON DELETE RESTRICT).
                Some(s) if is_foreign_key_violation(s) => StoreError::InUse { kind: IMPORT },
                _ => e,
            })?;
        found(done, IMPORT)
    }

    async fn ledger_get(
        &self,
        connection: ConnectionId,
        scope: &str,
        identities: &[String],
    ) -> StoreResult<HashMap<String, LedgerRow>> {
        let mut out = HashMap::new();
        // A bounded number of values per statement, whatever the caller passes.
        for chunk in identities.chunks(500) {
            let mut values = vec![Arg::from(connection.to_string()), Arg::from(scope)];
            values.extend(chunk.iter().map(|i| Arg::from(i.as_str())));
            let rows = self
                .all(
                    format!(
                        "SELECT identity, state, issue_key, issue_id, run_id, at_ms \
                         FROM import_ledger WHERE connection_id = $1 AND scope = $2 \
                         AND identity IN ({})",
                        placeholders(3, chunk.len())
                    ),
                    values,
                )
                .await?;
            for r in &rows {
                out.insert(
                    r.text("identity")?,
                    LedgerRow {
                        state: r.text("state")?,
                        issue_key: r.opt_text("issue_key")?,
                        issue_id: r.opt_text("issue_id")?,
                        run_id: r.text("run_id")?,
                        at_ms: r.int("at_ms")?,
                    },
                );
            }
        }
        Ok(out)
    }

    async fn ledger_put(
        &self,
        connection: ConnectionId,
        scope: &str,
        entries: &[(String, LedgerRow)],
    ) -> StoreResult<()> {
        if entries.is_empty() {
            return Ok(());
        }
        let mut tx = self.begin_write().await?;
        for (identity, row) in entries {
            exec::<B>(
                &mut tx,
                "INSERT INTO import_ledger (connection_id, scope, identity, state, issue_key, \
                 issue_id, run_id, at_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
                 ON CONFLICT (connection_id, scope, identity) DO UPDATE SET \
                 state = excluded.state, issue_key = excluded.issue_key, \
                 issue_id = excluded.issue_id, run_id = excluded.run_id, at_ms = excluded.at_ms",
                vec![
                    Arg::from(connection.to_string()),
                    Arg::from(scope),
                    Arg::from(identity.as_str()),
                    Arg::from(row.state.as_str()),
                    Arg::from(row.issue_key.clone()),
                    Arg::from(row.issue_id.clone()),
                    Arg::from(row.run_id.as_str()),
                    Arg::from(row.at_ms),
                ],
            )
            .await
            .map_err(|e| match sqlx_error(&e) {
                Some(s) if is_foreign_key_violation(s) => {
                    StoreError::NotFound { kind: "connection" }
                }
                _ => e,
            })?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn ledger_remove(
        &self,
        connection: ConnectionId,
        scope: &str,
        identities: &[String],
    ) -> StoreResult<()> {
        if identities.is_empty() {
            return Ok(());
        }
        let mut tx = self.begin_write().await?;
        for chunk in identities.chunks(500) {
            let mut values = vec![Arg::from(connection.to_string()), Arg::from(scope)];
            values.extend(chunk.iter().map(|i| Arg::from(i.as_str())));
            exec::<B>(
                &mut tx,
                format!(
                    "DELETE FROM import_ledger WHERE connection_id = $1 AND scope = $2 \
                     AND identity IN ({})",
                    placeholders(3, chunk.len())
                ),
                values,
            )
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn ledger_counts(
        &self,
        connection: ConnectionId,
        scope: &str,
    ) -> StoreResult<HashMap<String, u64>> {
        let rows = self
            .all(
                "SELECT state, COUNT(*) AS n FROM import_ledger \
                 WHERE connection_id = $1 AND scope = $2 GROUP BY state",
                args![connection.to_string(), scope.to_owned()],
            )
            .await?;
        rows.iter()
            .map(|r| Ok((r.text("state")?, to_u64("ledger count", r.int("n")?)?)))
            .collect()
    }
}
