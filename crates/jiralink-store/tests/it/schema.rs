//! The two migration folders describe one schema.

use std::collections::BTreeSet;

use jiralink_store::copied_columns;

use crate::sql_names;

#[test]
fn both_backends_have_the_same_migrations() {
    let names = |dir: &str| -> BTreeSet<String> {
        std::fs::read_dir(format!("{}/migrations/{dir}", env!("CARGO_MANIFEST_DIR")))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect()
    };
    let sqlite = names("sqlite");
    assert_eq!(sqlite, names("postgres"));
    assert!(sqlite.len() >= 6, "{sqlite:?}");
}

crate::on_both_backends! {
    every_table_and_column_is_copied: super::every_table_and_column_is_copied,
}

/// `jiralink db copy` names its tables and columns; a migration that adds one must add it
/// there too, or the copy would silently leave it behind.
pub(crate) async fn every_table_and_column_is_copied(db: &crate::TestDb) {
    let schema = sql_names::tables_and_columns(db).await;
    let copied: BTreeSet<(String, BTreeSet<String>)> = copied_columns()
        .into_iter()
        .map(|(t, cols)| (t.to_owned(), cols.into_iter().map(str::to_owned).collect()))
        .collect();
    assert_eq!(schema, copied);
}

/// The database file is created readable by its owner only, and SQLite gives the WAL and
/// shared-memory files that exist while it is open the same mode.
#[cfg(unix)]
#[tokio::test]
async fn the_sqlite_files_are_private_while_open() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(jiralink_store::DATABASE_FILE);
    let store = jiralink_store::SqliteStore::open(&path).await.unwrap();
    let store: &dyn jiralink_store::Store = &store;
    store
        .set_setting("probe", "1", time::OffsetDateTime::UNIX_EPOCH)
        .await
        .unwrap();
    for file in ["jiralink.db", "jiralink.db-wal", "jiralink.db-shm"] {
        let meta = std::fs::metadata(dir.path().join(file))
            .unwrap_or_else(|e| panic!("{file} should exist while the store is open: {e}"));
        assert_eq!(meta.permissions().mode() & 0o777, 0o600, "{file}");
    }
}
