//! The store contract: what every backend must do. Each contract test runs on SQLite and on
//! PostgreSQL (`JIRALINK_TEST_DATABASE_URL`, a schema of its own per test, dropped after).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail loudly"
)]

mod concurrency;
mod contract;
mod copy;
mod exports;
mod flows;
mod imports;
mod jobs;
mod listeners;
mod notifications;
mod oauth;
mod schema;
mod sql_names;
mod users;

use std::sync::Arc;

use jiralink_store::{AnyStore, DatabaseUrl, PoolSettings, Store, TestSchema};

/// A database of its own for one test.
pub(crate) struct TestDb {
    pub(crate) any: AnyStore,
    store: Arc<dyn Store>,
    url: DatabaseUrl,
    _dir: Option<tempfile::TempDir>,
    _schema: Option<TestSchema>,
}

impl TestDb {
    pub(crate) async fn sqlite() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let url = DatabaseUrl::sqlite(&dir.path().join("test.db"));
        Self::open(url, Some(dir), None).await
    }

    /// `None` only when the PostgreSQL leg is skipped on purpose.
    pub(crate) async fn postgres() -> Option<Self> {
        let base = TestSchema::base_url()?;
        let schema = TestSchema::create(&base).await.unwrap();
        let url = DatabaseUrl::parse(schema.url()).unwrap();
        Some(Self::open(url, None, Some(schema)).await)
    }

    async fn open(
        url: DatabaseUrl,
        dir: Option<tempfile::TempDir>,
        schema: Option<TestSchema>,
    ) -> Self {
        let any = AnyStore::open(&url, &settings(&url)).await.unwrap();
        Self {
            store: any.clone().into_store(),
            any,
            url,
            _dir: dir,
            _schema: schema,
        }
    }

    pub(crate) fn store(&self) -> &dyn Store {
        &*self.store
    }

    pub(crate) fn sqlite_pool(&self) -> sqlx::SqlitePool {
        match &self.any {
            AnyStore::Sqlite(s) => s.pool().clone(),
            AnyStore::Postgres(_) => panic!("not SQLite"),
        }
    }

    pub(crate) fn pg_pool(&self) -> sqlx::PgPool {
        match &self.any {
            AnyStore::Postgres(s) => s.pool().clone(),
            AnyStore::Sqlite(_) => panic!("not PostgreSQL"),
        }
    }

    /// Another pool on the same database: what a second process sees.
    pub(crate) async fn another(&self) -> Arc<dyn Store> {
        AnyStore::connect(&self.url, &settings(&self.url))
            .await
            .unwrap()
            .into_store()
    }
}

fn settings(url: &DatabaseUrl) -> PoolSettings {
    match url {
        DatabaseUrl::Sqlite(_) => PoolSettings::sqlite(),
        DatabaseUrl::Postgres(_) => PoolSettings::postgres_for_tests(),
    }
}

/// `name: path` runs the test at `path` (an `async fn(&TestDb)`) as `name::sqlite` and
/// `name::postgres`.
macro_rules! on_both_backends {
    ($($name:ident: $test:path),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    let db = crate::TestDb::sqlite().await;
                    $test(&db).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    let Some(db) = crate::TestDb::postgres().await else { return };
                    $test(&db).await;
                }
            }
        )*
    };
}
pub(crate) use on_both_backends;
