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
