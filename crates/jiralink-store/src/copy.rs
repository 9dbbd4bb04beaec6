//! `jiralink db copy`: every table of one database into another, rows unchanged.
//!
//! Sealed secrets move as they are: their AAD names the record's id and field, not the
//! database, so they open with the same master key on the other side. The whole copy is one
//! transaction on the target: a copy that is killed half-way leaves the target as it was
//! (empty), so it can simply be run again. Each table's row count is checked against the
//! source (read from one snapshot) before anything is committed.

use std::collections::BTreeMap;

use crate::sql::backend::{Arg, Backend};
use crate::sql::{Conn, RowExt, SqlStore, all, args, exec, opt};
use crate::url::each_backend;
use crate::{AnyStore, StoreError, StoreResult};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Text,
    Int,
    Bool,
    Bytes,
}

use Kind::{Bool, Bytes, Int, Text};

/// A table to copy: its columns (every one; a test checks that against the schema) and the
/// order that pages through it and keeps the order of insertion where it matters.
struct Table {
    name: &'static str,
    columns: &'static [(&'static str, Kind)],
    order: &'static str,
    /// Rows read and written per round trip.
    page: i64,
}

/// Every table, parents before children.
const TABLES: &[Table] = &[
    Table {
        name: "oauth_clients",
        columns: &[
            ("id", Text),
            ("name", Text),
            ("name_key", Text),
            ("client_id", Text),
            ("created_at", Text),
            ("updated_at", Text),
            ("version", Int),
        ],
        order: "id",
        page: PAGE,
    },
    Table {
        name: "connections",
        columns: &[
            ("id", Text),
            ("name", Text),
            ("name_key", Text),
            ("api_type", Text),
            ("auth_type", Text),
            ("oauth_client_id", Text),
            ("settings", Text),
            ("state", Text),
            ("state_changed_at", Text),
            ("created_at", Text),
            ("updated_at", Text),
            ("cloud_id", Text),
            ("last_tested_at", Text),
            ("debug_until", Text),
            ("access_token_expires_at", Text),
            ("refresh_pending_since", Text),
            ("version", Int),
            ("refresh_lease_holder", Text),
            ("refresh_lease_until", Text),
        ],
        order: "id",
        page: PAGE,
    },
    Table {
        name: "secrets",
        columns: &[
            ("owner_kind", Text),
            ("owner_id", Text),
            ("field", Text),
            ("key_id", Text),
            ("sealed", Text),
            ("updated_at", Text),
        ],
        order: "owner_kind, owner_id, field",
        page: PAGE,
    },
    Table {
        name: "audit_log",
        columns: &[
            ("id", Text),
            ("at", Text),
            ("actor", Text),
            ("source", Text),
            ("action", Text),
            ("resource_kind", Text),
            ("resource_id", Text),
            ("resource_name", Text),
            ("changes", Text),
        ],
        // Completed with the backend's insertion order, so entries of one microsecond keep it.
        order: "at",
        page: PAGE,
    },
    Table {
        name: "debug_log",
        columns: &[
            ("connection_id", Text),
            ("at", Text),
            ("request_id", Text),
            ("direction", Text),
            ("method", Text),
            ("url", Text),
            ("status", Int),
            ("duration_ms", Int),
            ("headers", Text),
            ("body", Text),
        ],
        order: "seq",
        page: PAGE,
    },
    Table {
        name: "oauth_states",
        columns: &[
            ("state_hash", Text),
            ("connection_id", Text),
            ("redirect_uri", Text),
            ("key_id", Text),
            ("sealed_state", Text),
            ("sealed_verifier", Text),
            ("created_at", Text),
            ("expires_at", Text),
        ],
        order: "state_hash",
        page: PAGE,
    },
    Table {
        name: "users",
        columns: &[
            ("id", Text),
            ("username", Text),
            ("username_key", Text),
            ("password_hash", Text),
            ("is_admin", Bool),
            ("created_at", Text),
            ("updated_at", Text),
            ("version", Int),
        ],
        order: "id",
        page: PAGE,
    },
    Table {
        name: "sessions",
        columns: &[
            ("id", Text),
            ("user_id", Text),
            ("csrf_token", Text),
            ("created_at", Text),
            ("last_seen_at", Text),
            ("expires_at", Text),
        ],
        order: "id",
        page: PAGE,
    },
    Table {
        name: "login_attempts",
        columns: &[("username_key", Text), ("address", Text), ("at", Text)],
        order: "username_key, address, at",
        page: PAGE,
    },
    Table {
        name: "api_keys",
        columns: &[
            ("id", Text),
            ("user_id", Text),
            ("name", Text),
            ("prefix", Text),
            ("key_hash", Text),
            ("created_at", Text),
            ("last_used_at", Text),
        ],
        order: "id",
        page: PAGE,
    },
    Table {
        name: "jobs",
        columns: &[
            ("id", Text),
            ("kind", Text),
            ("key", Text),
            ("payload", Text),
            ("next_run_at", Text),
            ("attempts", Int),
            ("lease_holder", Text),
            ("lease_until", Text),
            ("last_outcome", Text),
            ("last_finished_at", Text),
            ("created_at", Text),
            ("updated_at", Text),
        ],
        order: "id",
        page: PAGE,
    },
    Table {
        name: "job_runs",
        columns: &[
            ("id", Text),
            ("job_id", Text),
            ("kind", Text),
            ("holder", Text),
            ("attempt", Int),
            ("started_at", Text),
            ("finished_at", Text),
            ("outcome", Text),
            ("detail", Text),
        ],
        order: "id",
        page: PAGE,
    },
    Table {
        name: "connection_slots",
        columns: &[
            ("connection_id", Text),
            ("slot", Int),
            ("holder", Text),
            ("lease_until", Text),
        ],
        order: "connection_id, slot",
        page: PAGE,
    },
    Table {
        name: "settings",
        columns: &[("key", Text), ("value", Text), ("updated_at", Text)],
        order: "key",
        page: PAGE,
    },
    Table {
        name: "exports",
        columns: &[
            ("id", Text),
            ("name", Text),
            ("name_key", Text),
            ("connection_id", Text),
            ("spec", Text),
            ("schedule", Text),
            ("enabled", Bool),
            ("delta_cursor", Text),
            ("known_ids", Bytes),
            ("version", Int),
            ("created_at", Text),
            ("updated_at", Text),
        ],
        order: "id",
        page: PAGE,
    },
    Table {
        name: "imports",
        columns: &[
            ("id", Text),
            ("name", Text),
            ("name_key", Text),
            ("connection_id", Text),
            ("spec", Text),
            ("schedule", Text),
            ("enabled", Bool),
            ("version", Int),
            ("created_at", Text),
            ("updated_at", Text),
        ],
        order: "id",
        page: PAGE,
    },
    Table {
        name: "export_runs",
        columns: &[
            ("id", Text),
            ("export_id", Text),
            ("connection_id", Text),
            ("triggered_by", Text),
            ("spec", Text),
            ("state", Text),
            ("reason", Text),
            ("started_at", Text),
            ("finished_at", Text),
            ("holder", Text),
            ("lease_until", Text),
            ("stats", Text),
            ("checkpoint", Text),
            ("cursor_before", Text),
            ("cursor_after", Text),
            ("error", Text),
            ("cancel_requested", Bool),
            ("output_bytes", Int),
            ("output_chunks", Int),
            ("output_file", Text),
            ("output_expires_at", Text),
            ("resumed", Int),
            ("kind", Text),
            ("import_id", Text),
        ],
        order: "id",
        page: PAGE,
    },
    Table {
        name: "export_run_chunks",
        columns: &[("run_id", Text), ("seq", Int), ("data", Bytes)],
        order: "run_id, seq",
        // A chunk is a page of a run's output, possibly megabytes: few at a time.
        page: 16,
    },
    Table {
        name: "import_ledger",
        columns: &[
            ("connection_id", Text),
            ("scope", Text),
            ("identity", Text),
            ("state", Text),
            ("issue_key", Text),
            ("issue_id", Text),
            ("run_id", Text),
            ("at_ms", Int),
        ],
        order: "connection_id, scope, identity",
        page: PAGE,
    },
    Table {
        name: "flows",
        columns: &[
            ("id", Text),
            ("name", Text),
            ("name_key", Text),
            ("export_id", Text),
            ("import_id", Text),
            ("schedule", Text),
            ("enabled", Bool),
            ("version", Int),
            ("created_at", Text),
            ("updated_at", Text),
        ],
        order: "id",
        page: PAGE,
    },
    Table {
        name: "flow_runs",
        columns: &[
            ("id", Text),
            ("pair_key", Text),
            ("flow_id", Text),
            ("triggered_by", Text),
            ("state", Text),
            ("phase", Text),
            ("export_run_id", Text),
            ("import_run_id", Text),
            ("stats", Text),
            ("error", Text),
            ("holder", Text),
            ("lease_until", Text),
            ("started_at", Text),
            ("finished_at", Text),
            ("source", Text),
        ],
        order: "id",
        page: PAGE,
    },
    Table {
        name: "sync_links",
        columns: &[
            ("connection_id", Text),
            ("issue_id", Text),
            ("peer_connection_id", Text),
            ("issue_key", Text),
            ("peer_issue_id", Text),
            ("peer_issue_key", Text),
            ("seen_updated", Text),
            ("at", Text),
        ],
        order: "connection_id, issue_id, peer_connection_id",
        page: PAGE,
    },
    Table {
        name: "sync_comment_links",
        columns: &[
            ("connection_id", Text),
            ("comment_id", Text),
            ("peer_connection_id", Text),
            ("issue_id", Text),
            ("peer_comment_id", Text),
            ("body_hash", Text),
            ("at", Text),
        ],
        order: "connection_id, comment_id, peer_connection_id",
        page: PAGE,
    },
    Table {
        name: "listeners",
        columns: &[
            ("id", Text),
            ("name", Text),
            ("name_key", Text),
            ("connection_id", Text),
            ("flow_id", Text),
            ("token", Text),
            ("mode", Text),
            ("events", Text),
            ("jql", Text),
            ("field_ids", Text),
            ("webhook_ids", Text),
            ("expires_at", Text),
            ("state", Text),
            ("state_reason", Text),
            ("status", Text),
            ("version", Int),
            ("created_at", Text),
            ("updated_at", Text),
        ],
        order: "id",
        page: PAGE,
    },
    Table {
        name: "listener_events",
        columns: &[
            ("listener_id", Text),
            ("delivery_id", Text),
            ("kind", Text),
            ("issue_ids", Text),
            ("event_ms", Int),
            ("body", Text),
            ("received_at", Text),
            ("state", Text),
            ("flow_run_id", Text),
            ("processed_at", Text),
        ],
        order: "listener_id, delivery_id",
        page: PAGE,
    },
    Table {
        name: "listener_replays",
        columns: &[
            ("listener_id", Text),
            ("replay_key", Text),
            ("seen_at", Text),
        ],
        order: "listener_id, replay_key",
        page: PAGE,
    },
    Table {
        name: "listener_issues",
        columns: &[
            ("listener_id", Text),
            ("issue_id", Text),
            ("applied_ms", Int),
        ],
        order: "listener_id, issue_id",
        page: PAGE,
    },
    Table {
        name: "notification_subscriptions",
        columns: &[
            ("id", Text),
            ("user_id", Text),
            ("topic", Text),
            ("subject_kind", Text),
            ("subject_id", Text),
            ("channel", Text),
            ("address", Text),
            ("created_at", Text),
        ],
        order: "id",
        page: PAGE,
    },
    Table {
        name: "notification_states",
        columns: &[
            ("topic", Text),
            ("subject_kind", Text),
            ("subject_id", Text),
            ("state", Text),
            ("detail", Text),
            ("changed_at", Text),
        ],
        order: "topic, subject_kind, subject_id",
        page: PAGE,
    },
    Table {
        name: "notification_events",
        columns: &[
            ("id", Text),
            ("user_id", Text),
            ("channel", Text),
            ("address", Text),
            ("topic", Text),
            ("subject_kind", Text),
            ("subject_id", Text),
            ("subject_name", Text),
            ("state", Text),
            ("detail", Text),
            ("link", Text),
            ("at", Text),
        ],
        order: "id",
        page: PAGE,
    },
    Table {
        name: "notifications",
        columns: &[
            ("id", Text),
            ("user_id", Text),
            ("channel", Text),
            ("address", Text),
            ("title", Text),
            ("body", Text),
            ("events", Text),
            ("state", Text),
            ("attempts", Int),
            ("last_error", Text),
            ("next_attempt_at", Text),
            ("created_at", Text),
            ("sent_at", Text),
        ],
        order: "id",
        page: PAGE,
    },
];

/// Rows read and written per round trip, for most tables.
const PAGE: i64 = 500;

/// One table's rows in the source and in the target after the copy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableCount {
    pub table: &'static str,
    pub rows: u64,
}

/// What a copy moved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyReport {
    pub tables: Vec<TableCount>,
    /// How many sealed secrets each master key id sealed, in the target (the same as in the
    /// source: nothing is re-sealed).
    pub secrets_by_key: BTreeMap<String, u64>,
    /// Rows deleted from the target first (`force`).
    pub replaced_rows: u64,
}

/// The names of every table and its columns, as copied, for tests that compare them with
/// the schema.
#[must_use]
pub fn copied_columns() -> Vec<(&'static str, Vec<&'static str>)> {
    TABLES
        .iter()
        .map(|t| (t.name, t.columns.iter().map(|(c, _)| *c).collect()))
        .collect()
}

impl AnyStore {
    /// Copies every table of `self` into `target` (see the module docs). Both must be at the
    /// same schema version. A target with rows is refused unless `force`, which replaces them.
    /// `progress` hears each table's name and how many of its rows are copied so far.
    ///
    /// # Errors
    /// [`StoreError::NotEmpty`], [`StoreError::SchemaMismatch`], [`StoreError::CopyMismatch`],
    /// or a database error; in every case nothing is committed in the target.
    pub async fn copy_into(
        &self,
        target: &AnyStore,
        target_name: &str,
        force: bool,
        progress: &mut (dyn FnMut(&str, u64) + Send),
    ) -> StoreResult<CopyReport> {
        let (from, to) = (self.schema_status().await?, target.schema_status().await?);
        let (fv, tv) = (from.version.unwrap_or(0), to.version.unwrap_or(0));
        if fv != tv || !from.pending.is_empty() || !to.pending.is_empty() {
            return Err(StoreError::SchemaMismatch {
                source_version: fv,
                target_version: tv,
            });
        }
        each_backend!(self, s => each_backend!(target, t => copy(s, t, target_name, force, progress).await))
    }
}

async fn copy<S: Backend, T: Backend>(
    from: &SqlStore<S>,
    to: &SqlStore<T>,
    target_name: &str,
    force: bool,
    progress: &mut (dyn FnMut(&str, u64) + Send),
) -> StoreResult<CopyReport> {
    let mut source = from.begin().await?;
    // One snapshot of the source for every table (SQLite's read transaction is one).
    if let Some(sql) = S::SNAPSHOT {
        exec::<S>(&mut source, sql, args![]).await?;
    }
    let mut target = to.begin_write().await?;
    T::lock_key(&mut target, "jiralink:db-copy").await?;
    let mut present = 0;
    for table in TABLES {
        present += count::<T>(&mut target, table.name).await?;
    }
    let mut replaced_rows = 0;
    if present > 0 {
        if !force {
            return Err(StoreError::NotEmpty {
                target: target_name.to_owned(),
                rows: present,
            });
        }
        for table in TABLES.iter().rev() {
            replaced_rows +=
                exec::<T>(&mut target, format!("DELETE FROM {}", table.name), args![]).await?;
        }
    }
    let mut tables = Vec::with_capacity(TABLES.len());
    for table in TABLES {
        let expected = count::<S>(&mut source, table.name).await?;
        let copied = copy_table::<S, T>(&mut source, &mut target, table, progress).await?;
        let stored = count::<T>(&mut target, table.name).await?;
        if copied != expected || stored != expected {
            return Err(StoreError::CopyMismatch {
                table: table.name.to_owned(),
                source_rows: expected,
                target_rows: stored,
            });
        }
        tables.push(TableCount {
            table: table.name,
            rows: stored,
        });
    }
    let mut secrets_by_key = BTreeMap::new();
    for r in all::<T>(
        &mut target,
        "SELECT key_id, COUNT(*) AS n FROM secrets GROUP BY key_id",
        args![],
    )
    .await?
    {
        secrets_by_key.insert(r.text("key_id")?, u64::try_from(r.int("n")?).unwrap_or(0));
    }
    target.commit().await?;
    source.rollback().await?;
    Ok(CopyReport {
        tables,
        secrets_by_key,
        replaced_rows,
    })
}

async fn count<B: Backend>(conn: &mut Conn<B>, table: &str) -> StoreResult<u64> {
    let row = opt::<B>(conn, format!("SELECT COUNT(*) AS n FROM {table}"), args![])
        .await?
        .ok_or(StoreError::NotFound { kind: "table" })?;
    Ok(u64::try_from(row.int("n")?).unwrap_or(0))
}

async fn copy_table<S: Backend, T: Backend>(
    source: &mut Conn<S>,
    target: &mut Conn<T>,
    table: &Table,
    progress: &mut (dyn FnMut(&str, u64) + Send),
) -> StoreResult<u64> {
    let names: Vec<&str> = table.columns.iter().map(|(c, _)| *c).collect();
    let order = if table.name == "audit_log" {
        format!("{}, {}", table.order, S::AUDIT_SEQ)
    } else {
        table.order.to_owned()
    };
    let select = format!(
        "SELECT {} FROM {} ORDER BY {order} LIMIT $1 OFFSET $2",
        names.join(", "),
        table.name
    );
    let placeholders: Vec<String> = (1..=names.len()).map(|i| format!("${i}")).collect();
    let insert = format!(
        "INSERT INTO {} ({}) VALUES ({})",
        table.name,
        names.join(", "),
        placeholders.join(", ")
    );
    let mut copied = 0u64;
    loop {
        let offset = i64::try_from(copied).unwrap_or(i64::MAX);
        let rows = all::<S>(source, select.clone(), args![table.page, offset]).await?;
        if rows.is_empty() {
            break;
        }
        for row in &rows {
            let mut values = Vec::with_capacity(table.columns.len());
            for (column, kind) in table.columns {
                values.push(match kind {
                    Text => Arg::Text(row.opt_text(column)?),
                    Int => Arg::Int(row.opt_int(column)?),
                    Bool => Arg::Bool(row.boolean(column)?),
                    Bytes => Arg::Bytes(row.opt_bytes(column)?),
                });
            }
            exec::<T>(target, insert.clone(), values).await?;
        }
        copied += rows.len() as u64;
        progress(table.name, copied);
        if i64::try_from(rows.len()).unwrap_or(table.page) < table.page {
            break;
        }
    }
    Ok(copied)
}
