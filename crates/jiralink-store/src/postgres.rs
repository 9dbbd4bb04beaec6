//! The PostgreSQL store: several `jiralink serve` processes share one database.
//!
//! Embedded forward-only migrations from `migrations/postgres`; sqlx runs them under an
//! advisory lock, so servers starting together apply them once.

use std::str::FromStr;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

use crate::sql::SqlStore;
use crate::sql::backend::Postgres;
use crate::{DatabaseUrl, PoolSettings, StoreError, StoreResult};

/// The store on a PostgreSQL database.
pub type PgStore = SqlStore<Postgres>;

impl SqlStore<Postgres> {
    /// Connects to the database at `url` (`postgres://…`) without touching its schema.
    pub async fn connect(url: &str, settings: &PoolSettings) -> StoreResult<Self> {
        let shown = DatabaseUrl::redact(url);
        let options = PgConnectOptions::from_str(url).map_err(|source| StoreError::Open {
            target: shown.clone(),
            source,
        })?;
        let pool = PgPoolOptions::new()
            .max_connections(settings.max_connections)
            .min_connections(settings.min_connections)
            .acquire_timeout(settings.acquire_timeout)
            .idle_timeout(settings.idle_timeout)
            .connect_with(options)
            .await
            .map_err(|source| StoreError::Open {
                target: shown,
                source,
            })?;
        Ok(Self::from_pool(pool))
    }

    /// Connects and applies pending migrations.
    pub async fn open(url: &str, settings: &PoolSettings) -> StoreResult<Self> {
        let store = Self::connect(url, settings).await?;
        store.migrate().await?;
        Ok(store)
    }
}

/// A schema of its own in a PostgreSQL database, for one test: created empty, reached through
/// [`TestSchema::url`] (which sets the `search_path`), dropped when the value is dropped.
/// Schemas such tests left behind more than an hour ago (a killed run) are dropped too.
#[derive(Debug)]
pub struct TestSchema {
    admin_url: String,
    name: String,
    url: String,
}

const TEST_SCHEMA_PREFIX: &str = "jiralink_test_";

/// The variable naming the PostgreSQL database tests make their schemas in.
pub const TEST_DATABASE_URL_ENV: &str = "JIRALINK_TEST_DATABASE_URL";
/// Set to skip the tests that need PostgreSQL on a machine without a server.
pub const SKIP_POSTGRES_ENV: &str = "JIRALINK_TEST_SKIP_POSTGRES";

impl TestSchema {
    /// The database the PostgreSQL tests use ([`TEST_DATABASE_URL_ENV`]); `None` when they
    /// are skipped on purpose ([`SKIP_POSTGRES_ENV`]).
    ///
    /// # Panics
    /// When neither is set, saying how to set them: a forgotten URL never passes silently.
    #[must_use]
    #[expect(
        clippy::panic,
        reason = "test support: a test without its database must fail, not pass by skipping"
    )]
    pub fn base_url() -> Option<String> {
        match std::env::var(TEST_DATABASE_URL_ENV) {
            Ok(url) => Some(url),
            Err(_) if std::env::var_os(SKIP_POSTGRES_ENV).is_some() => None,
            Err(_) => panic!(
                "set {TEST_DATABASE_URL_ENV} (e.g. postgres://postgres@127.0.0.1:5432/test) to \
                 run the tests that need PostgreSQL, or {SKIP_POSTGRES_ENV}=1 to skip them"
            ),
        }
    }

    /// Creates the schema in the database at `base_url`.
    pub async fn create(base_url: &str) -> StoreResult<Self> {
        let admin = PgStore::connect(base_url, &PoolSettings::postgres_for_tests()).await?;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or_default();
        let stale: Vec<String> = admin
            .all(
                "SELECT nspname FROM pg_namespace WHERE nspname LIKE 'jiralink\\_test\\_%'",
                crate::sql::args![],
            )
            .await?
            .iter()
            .filter_map(|r| {
                use crate::sql::RowExt as _;
                r.text("nspname").ok()
            })
            .filter(|n| {
                n.strip_prefix(TEST_SCHEMA_PREFIX)
                    .and_then(|rest| rest.split('_').next())
                    .and_then(|t| t.parse::<u64>().ok())
                    .is_some_and(|t| t + 3600 < now)
            })
            .collect();
        for schema in stale {
            admin
                .exec(
                    format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"),
                    crate::sql::args![],
                )
                .await?;
        }
        let name = format!(
            "{TEST_SCHEMA_PREFIX}{now}_{}",
            uuid::Uuid::new_v4().simple()
        );
        admin
            .exec(format!("CREATE SCHEMA \"{name}\""), crate::sql::args![])
            .await?;
        admin.close().await;
        let sep = if base_url.contains('?') { '&' } else { '?' };
        Ok(Self {
            admin_url: base_url.to_owned(),
            url: format!("{base_url}{sep}options[search_path]={name}"),
            name,
        })
    }

    /// The URL of the database with this schema as the only one searched.
    #[must_use]
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The schema's name.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Drop for TestSchema {
    fn drop(&mut self) {
        let admin_url = self.admin_url.clone();
        let name = self.name.clone();
        // Drop runs inside the test's runtime, which cannot be blocked on: a thread of its
        // own with a small runtime of its own drops the schema.
        let dropped = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async move {
                if let Ok(admin) =
                    PgStore::connect(&admin_url, &PoolSettings::postgres_for_tests()).await
                {
                    let _ = admin
                        .exec(
                            format!("DROP SCHEMA IF EXISTS \"{name}\" CASCADE"),
                            crate::sql::args![],
                        )
                        .await;
                    admin.close().await;
                }
            });
        });
        let _ = dropped.join();
    }
}
