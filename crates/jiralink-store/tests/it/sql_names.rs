//! What the database itself says its tables and columns are.

use std::collections::BTreeSet;

use jiralink_store::AnyStore;
use sqlx::Row as _;

/// Every table jiralink created, with its columns; the columns each backend adds for its own
/// bookkeeping (PostgreSQL's `seq` of the audit log, kept by `rowid` on SQLite) are left out,
/// as is sqlx's migration table.
pub(crate) async fn tables_and_columns(db: &crate::TestDb) -> BTreeSet<(String, BTreeSet<String>)> {
    let pairs: Vec<(String, String)> = match &db.any {
        AnyStore::Sqlite(_) => {
            let pool = db.sqlite_pool();
            sqlx::query(
                "SELECT m.name AS t, p.name AS c FROM sqlite_master m, pragma_table_info(m.name) p \
                 WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' \
                 AND m.name <> '_sqlx_migrations'",
            )
            .fetch_all(&pool)
            .await
            .unwrap()
            .iter()
            .map(|r| (r.get("t"), r.get("c")))
            .collect()
        }
        AnyStore::Postgres(_) => {
            let pool = db.pg_pool();
            sqlx::query(
                "SELECT table_name::text AS t, column_name::text AS c \
                 FROM information_schema.columns WHERE table_schema = current_schema() \
                 AND table_name <> '_sqlx_migrations'",
            )
            .fetch_all(&pool)
            .await
            .unwrap()
            .iter()
            .map(|r| (r.get("t"), r.get("c")))
            .collect()
        }
    };
    let mut tables: std::collections::BTreeMap<String, BTreeSet<String>> = Default::default();
    for (t, c) in pairs {
        if c == "seq" && (t == "audit_log" || t == "debug_log") {
            continue;
        }
        tables.entry(t).or_default().insert(c);
    }
    tables.into_iter().collect()
}
