//! Choosing a database by URL, its pool settings, and the schema's state.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::sql::backend::Backend as SqlBackend;
use crate::sql::{RowExt as _, SqlStore, args};
use crate::{Store, StoreError, StoreResult};

/// Which kind of database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendKind {
    Sqlite,
    Postgres,
}

impl BackendKind {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sqlite => "sqlite",
            Self::Postgres => "postgres",
        }
    }
}

/// Where the database is: `sqlite://<path>` (or a plain file path) or `postgres://…`.
#[derive(Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    Sqlite(PathBuf),
    Postgres(String),
}

impl DatabaseUrl {
    /// Reads a database URL. `sqlite://relative/file.db`, `sqlite:///absolute/file.db` and a
    /// plain path name an SQLite file; `postgres://` and `postgresql://` a PostgreSQL database.
    ///
    /// # Errors
    /// [`StoreError::InvalidUrl`] for another scheme or an empty path. The message never
    /// contains the URL (it may hold a password).
    pub fn parse(text: &str) -> StoreResult<Self> {
        let text = text.trim();
        if text.starts_with("postgres://") || text.starts_with("postgresql://") {
            return Ok(Self::Postgres(text.to_owned()));
        }
        let path = if let Some(rest) = text.strip_prefix("sqlite://") {
            rest
        } else if let Some(rest) = text.strip_prefix("sqlite:") {
            rest
        } else if text.contains("://") {
            return Err(StoreError::InvalidUrl(
                "the database URL must start with sqlite:// or postgres://".to_owned(),
            ));
        } else {
            text
        };
        let path = path.split('?').next().unwrap_or_default();
        if path.is_empty() {
            return Err(StoreError::InvalidUrl(
                "the SQLite database URL names no file; write sqlite:///path/to/jiralink.db"
                    .to_owned(),
            ));
        }
        Ok(Self::Sqlite(PathBuf::from(path)))
    }

    /// The SQLite file at `path`.
    #[must_use]
    pub fn sqlite(path: &Path) -> Self {
        Self::Sqlite(path.to_path_buf())
    }

    #[must_use]
    pub fn backend(&self) -> BackendKind {
        match self {
            Self::Sqlite(_) => BackendKind::Sqlite,
            Self::Postgres(_) => BackendKind::Postgres,
        }
    }

    /// A URL with any password replaced by `****`, for messages and logs.
    #[must_use]
    pub fn redact(url: &str) -> String {
        match url::Url::parse(url) {
            Ok(mut u) if u.password().is_some() => {
                let _ = u.set_password(Some("****"));
                u.to_string()
            }
            Ok(u) => u.to_string(),
            Err(_) => "(an unreadable database URL)".to_owned(),
        }
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Sqlite(path) => write!(f, "sqlite://{}", path.display()),
            Self::Postgres(url) => f.write_str(&Self::redact(url)),
        }
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DatabaseUrl({self})")
    }
}

/// How many connections a server keeps to the database, and how long it waits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolSettings {
    pub max_connections: u32,
    pub min_connections: u32,
    /// How long a request waits for a free connection before failing.
    pub acquire_timeout: Duration,
    /// Idle connections above `min_connections` are closed after this long.
    pub idle_timeout: Duration,
    /// SQLite: how long a writer waits for another before "database is locked".
    pub busy_timeout: Duration,
}

impl PoolSettings {
    /// The defaults for an embedded SQLite file: one writer at a time, so few connections.
    #[must_use]
    pub fn sqlite() -> Self {
        Self {
            max_connections: 4,
            min_connections: 0,
            acquire_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(600),
            busy_timeout: Duration::from_secs(10),
        }
    }

    /// The defaults for a PostgreSQL server.
    #[must_use]
    pub fn postgres() -> Self {
        Self {
            max_connections: 10,
            ..Self::sqlite()
        }
    }

    /// A small pool for tests, which run many stores at once.
    #[must_use]
    pub fn postgres_for_tests() -> Self {
        Self {
            max_connections: 3,
            ..Self::postgres()
        }
    }

    /// The defaults for `backend`.
    #[must_use]
    pub fn defaults(backend: BackendKind) -> Self {
        match backend {
            BackendKind::Sqlite => Self::sqlite(),
            BackendKind::Postgres => Self::postgres(),
        }
    }
}

/// One migration, by version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationInfo {
    pub version: i64,
    pub description: String,
}

/// Where a database's schema stands against this build's migrations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaStatus {
    pub backend: BackendKind,
    /// The highest applied version, if any.
    pub version: Option<i64>,
    /// The newest version this build knows.
    pub latest: i64,
    pub pending: Vec<MigrationInfo>,
    /// Applied versions this build does not know: the database was upgraded by a newer
    /// jiralink.
    pub unknown: Vec<i64>,
    /// A migration that started and did not finish.
    pub dirty: Option<i64>,
}

/// A store on either backend, chosen by URL.
#[derive(Debug, Clone)]
pub enum AnyStore {
    #[cfg(feature = "sqlite")]
    Sqlite(crate::SqliteStore),
    #[cfg(feature = "postgres")]
    Postgres(crate::PgStore),
}

/// Runs `$body` with `$s` bound to the store inside `$any`, whichever backend it is.
macro_rules! each_backend {
    ($any:expr, $s:ident => $body:expr) => {
        match $any {
            #[cfg(feature = "sqlite")]
            AnyStore::Sqlite($s) => $body,
            #[cfg(feature = "postgres")]
            AnyStore::Postgres($s) => $body,
        }
    };
}
pub(crate) use each_backend;

impl AnyStore {
    /// Connects to the database without touching its schema.
    ///
    /// # Errors
    /// When the database cannot be reached or the backend is not built in.
    pub async fn connect(url: &DatabaseUrl, settings: &PoolSettings) -> StoreResult<Self> {
        match url {
            #[cfg(feature = "sqlite")]
            DatabaseUrl::Sqlite(path) => Ok(Self::Sqlite(
                crate::SqliteStore::connect(path, settings).await?,
            )),
            #[cfg(feature = "postgres")]
            DatabaseUrl::Postgres(url) => Ok(Self::Postgres(
                crate::PgStore::connect(url, settings).await?,
            )),
            #[allow(unreachable_patterns, reason = "when a backend is not built in")]
            _ => Err(StoreError::InvalidUrl(format!(
                "this jiralink was built without {} support",
                url.backend().as_str()
            ))),
        }
    }

    /// Connects and applies pending migrations.
    ///
    /// # Errors
    /// As [`AnyStore::connect`], or when a migration fails.
    pub async fn open(url: &DatabaseUrl, settings: &PoolSettings) -> StoreResult<Self> {
        let store = Self::connect(url, settings).await?;
        store.migrate().await?;
        Ok(store)
    }

    #[must_use]
    pub fn backend(&self) -> BackendKind {
        each_backend!(self, s => s.backend_kind())
    }

    /// Applies pending migrations.
    ///
    /// # Errors
    /// When a migration fails (it is rolled back; nothing after it runs).
    pub async fn migrate(&self) -> StoreResult<()> {
        each_backend!(self, s => s.migrate().await)
    }

    /// The schema's version and what is pending, read without changing anything.
    ///
    /// # Errors
    /// When the database cannot be read.
    pub async fn schema_status(&self) -> StoreResult<SchemaStatus> {
        each_backend!(self, s => s.schema_status().await)
    }

    /// The store, for the application.
    #[must_use]
    pub fn into_store(self) -> Arc<dyn Store> {
        each_backend!(self, s => Arc::new(s))
    }

    /// Closes the pool.
    pub async fn close(&self) {
        each_backend!(self, s => s.close().await);
    }
}

/// The migrations this build carries for `backend`, oldest first.
#[must_use]
pub fn known_migrations(backend: BackendKind) -> Vec<MigrationInfo> {
    match backend {
        #[cfg(feature = "sqlite")]
        BackendKind::Sqlite => migrations_of::<crate::sql::backend::Sqlite>(),
        #[cfg(feature = "postgres")]
        BackendKind::Postgres => migrations_of::<crate::sql::backend::Postgres>(),
        #[allow(unreachable_patterns, reason = "when a backend is not built in")]
        _ => Vec::new(),
    }
}

fn migrations_of<B: SqlBackend>() -> Vec<MigrationInfo> {
    B::migrator()
        .iter()
        .filter(|m| m.migration_type.is_up_migration())
        .map(|m| MigrationInfo {
            version: m.version,
            description: m.description.to_string(),
        })
        .collect()
}

impl<B: SqlBackend> SqlStore<B> {
    pub(crate) fn backend_kind(&self) -> BackendKind {
        if B::NAME == "postgres" {
            BackendKind::Postgres
        } else {
            BackendKind::Sqlite
        }
    }

    /// Applies pending migrations.
    ///
    /// # Errors
    /// When a migration fails.
    pub async fn migrate(&self) -> StoreResult<()> {
        B::run_migrations(&self.pool).await?;
        Ok(())
    }

    /// The schema's version and what is pending, read without changing anything.
    ///
    /// # Errors
    /// When the database cannot be read.
    pub async fn schema_status(&self) -> StoreResult<SchemaStatus> {
        let exists = self
            .opt(B::MIGRATIONS_TABLE_EXISTS, args![])
            .await?
            .map(|r| r.int("n"))
            .transpose()?
            .unwrap_or(0)
            > 0;
        let mut applied: Vec<(i64, bool)> = Vec::new();
        if exists {
            for r in self
                .all(
                    "SELECT version, success FROM _sqlx_migrations ORDER BY version",
                    args![],
                )
                .await?
            {
                applied.push((r.int("version")?, r.boolean("success")?));
            }
        }
        let known = migrations_of::<B>();
        let done = |v: i64| applied.iter().any(|(a, ok)| *a == v && *ok);
        Ok(SchemaStatus {
            backend: self.backend_kind(),
            version: applied.iter().filter(|(_, ok)| *ok).map(|(v, _)| *v).max(),
            latest: known.iter().map(|m| m.version).max().unwrap_or(0),
            pending: known.iter().filter(|m| !done(m.version)).cloned().collect(),
            unknown: applied
                .iter()
                .map(|(v, _)| *v)
                .filter(|v| !known.iter().any(|m| m.version == *v))
                .collect(),
            dirty: applied.iter().find(|(_, ok)| !ok).map(|(v, _)| *v),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_a_backend() {
        assert_eq!(
            DatabaseUrl::parse("sqlite:///var/lib/jiralink/jiralink.db").unwrap(),
            DatabaseUrl::Sqlite(PathBuf::from("/var/lib/jiralink/jiralink.db"))
        );
        assert_eq!(
            DatabaseUrl::parse("sqlite://data/jl.db?mode=rwc").unwrap(),
            DatabaseUrl::Sqlite(PathBuf::from("data/jl.db"))
        );
        assert_eq!(
            DatabaseUrl::parse("/tmp/x.db").unwrap(),
            DatabaseUrl::Sqlite(PathBuf::from("/tmp/x.db"))
        );
        let pg = DatabaseUrl::parse("postgresql://jl:s3cret@db.internal/jiralink").unwrap();
        assert_eq!(pg.backend(), BackendKind::Postgres);
        for bad in ["mysql://x/y", "sqlite://", ""] {
            assert!(DatabaseUrl::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn passwords_never_show() {
        let pg = DatabaseUrl::parse("postgres://jl:s3cret@db.internal:5432/jiralink").unwrap();
        for shown in [pg.to_string(), format!("{pg:?}")] {
            assert!(!shown.contains("s3cret"), "{shown}");
            assert!(shown.contains("db.internal"), "{shown}");
        }
        let err = DatabaseUrl::parse("mysql://u:s3cret@h/db").unwrap_err();
        assert!(!err.to_string().contains("s3cret"));
    }
}
