//! The embedded SQLite store (the default).
//!
//! WAL journal (readers never block the writer), foreign keys on, a busy timeout so two
//! processes on one file wait for each other instead of failing, and embedded forward-only
//! migrations from `migrations/sqlite`. The database file is created readable by its owner
//! only (SQLite gives its WAL and shared-memory files the same mode).

use std::path::Path;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

use crate::sql::SqlStore;
use crate::sql::backend::Sqlite;
use crate::{PoolSettings, StoreError, StoreResult};

/// The file name of the database inside the data directory.
pub const DATABASE_FILE: &str = "jiralink.db";

/// The store on an SQLite file.
pub type SqliteStore = SqlStore<Sqlite>;

impl SqlStore<Sqlite> {
    /// Opens (creating if needed) the database file and applies pending migrations.
    pub async fn open(path: &Path) -> StoreResult<Self> {
        let store = Self::connect(path, &PoolSettings::sqlite()).await?;
        store.migrate().await?;
        Ok(store)
    }

    /// Opens (creating if needed) the database file without touching its schema.
    pub async fn connect(path: &Path, settings: &PoolSettings) -> StoreResult<Self> {
        create_private_file(path)?;
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(settings.busy_timeout);
        let pool = SqlitePoolOptions::new()
            .max_connections(settings.max_connections)
            .min_connections(settings.min_connections)
            .acquire_timeout(settings.acquire_timeout)
            .idle_timeout(settings.idle_timeout)
            .connect_with(options)
            .await
            .map_err(|source| StoreError::Open {
                target: path.display().to_string(),
                source,
            })?;
        Ok(Self::from_pool(pool))
    }
}

/// Creates the database file with mode 0600 when it does not exist yet, so it is never
/// readable by others, even for a moment, whatever the umask.
fn create_private_file(path: &Path) -> StoreResult<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
        {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => {
                return Err(StoreError::Io {
                    target: path.display().to_string(),
                    message: e.to_string(),
                });
            }
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}
