//! The store contract: what every backend must do. Runs on SQLite; a PostgreSQL store
//! will run the same suite.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail loudly"
)]

mod contract;
mod oauth;
mod users;

use jiralink_store::SqliteStore;

pub(crate) async fn sqlite() -> (tempfile::TempDir, SqliteStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("test.db"))
        .await
        .unwrap();
    (dir, store)
}

#[tokio::test]
async fn sqlite_contract() {
    let (_dir, store) = sqlite().await;
    contract::run_all(&store).await;
}

#[tokio::test]
async fn sqlite_survives_reopen() {
    let (dir, store) = sqlite().await;
    contract::connections_round_trip(&store).await;
    store.close().await;
    let again = SqliteStore::open(&dir.path().join("test.db"))
        .await
        .unwrap();
    use jiralink_store::ConnectionStore;
    assert_eq!(again.list_connections().await.unwrap().len(), 1);
}
