//! What differs between SQLite and PostgreSQL, behind one small trait, so the store's logic
//! (the SQL and the rules around it) is written once for both.
//!
//! The SQL text is shared: both backends take `$1`-style placeholders, `ON CONFLICT … DO
//! UPDATE`, `RETURNING` and `DELETE … RETURNING`. What is not shared is here: how a write
//! transaction starts, how a critical section is serialised, the `FOR UPDATE SKIP LOCKED`
//! clause, and how the audit log's insertion order is named. Arguments go through [`Arg`]
//! and rows through [`RowExt`], so the logic never needs sqlx's generic bounds.

use std::borrow::Cow;

use futures::future::BoxFuture;
use sqlx::{Database, Row as _};

use crate::{StoreError, StoreResult};

/// SQL text: a literal, or built once from literals and a backend's clauses.
pub type Sql = Cow<'static, str>;

/// A value bound to a placeholder.
#[derive(Debug, Clone, PartialEq)]
pub enum Arg {
    Text(Option<String>),
    Int(Option<i64>),
    Bool(bool),
    /// `BLOB` on SQLite, `BYTEA` on PostgreSQL.
    Bytes(Option<Vec<u8>>),
}

impl From<String> for Arg {
    fn from(v: String) -> Self {
        Self::Text(Some(v))
    }
}

impl From<&String> for Arg {
    fn from(v: &String) -> Self {
        Self::Text(Some(v.clone()))
    }
}

impl From<&str> for Arg {
    fn from(v: &str) -> Self {
        Self::Text(Some(v.to_owned()))
    }
}

impl From<Option<String>> for Arg {
    fn from(v: Option<String>) -> Self {
        Self::Text(v)
    }
}

impl From<Option<&str>> for Arg {
    fn from(v: Option<&str>) -> Self {
        Self::Text(v.map(str::to_owned))
    }
}

impl From<i64> for Arg {
    fn from(v: i64) -> Self {
        Self::Int(Some(v))
    }
}

impl From<Option<i64>> for Arg {
    fn from(v: Option<i64>) -> Self {
        Self::Int(v)
    }
}

impl From<Vec<u8>> for Arg {
    fn from(v: Vec<u8>) -> Self {
        Self::Bytes(Some(v))
    }
}

impl From<&[u8]> for Arg {
    fn from(v: &[u8]) -> Self {
        Self::Bytes(Some(v.to_vec()))
    }
}

impl From<Option<Vec<u8>>> for Arg {
    fn from(v: Option<Vec<u8>>) -> Self {
        Self::Bytes(v)
    }
}

impl From<bool> for Arg {
    fn from(v: bool) -> Self {
        Self::Bool(v)
    }
}

/// `args![a, b, …]`: the values for `$1`, `$2`, …
macro_rules! args {
    ($($value:expr),* $(,)?) => {
        vec![$($crate::sql::backend::Arg::from($value)),*]
    };
}
pub(crate) use args;

/// Typed reads of a row's columns by name.
pub trait RowExt: sealed::Sealed {
    fn text(&self, column: &str) -> StoreResult<String>;
    fn opt_text(&self, column: &str) -> StoreResult<Option<String>>;
    fn int(&self, column: &str) -> StoreResult<i64>;
    fn opt_int(&self, column: &str) -> StoreResult<Option<i64>>;
    fn boolean(&self, column: &str) -> StoreResult<bool>;
    fn opt_bytes(&self, column: &str) -> StoreResult<Option<Vec<u8>>>;
}

mod sealed {
    /// Only this crate's backends and rows implement the traits here.
    pub trait Sealed {}
}

/// The backend-specific half of the store.
pub trait Backend: sealed::Sealed + Send + Sync + 'static {
    type Db: Database;
    type Row: RowExt + Send + Sync;

    /// `sqlite` or `postgres`, as `jiralink db status` shows it.
    const NAME: &'static str;
    /// Appended to a `SELECT` inside an `UPDATE … WHERE id = (SELECT …)` that claims one row:
    /// PostgreSQL skips rows another transaction holds; SQLite has one writer at a time.
    const SKIP_LOCKED: &'static str;
    /// The audit log's insertion order (entries of the same microsecond keep it).
    const AUDIT_SEQ: &'static str;
    /// Makes a read transaction see one snapshot for all its statements, when the backend
    /// does not already.
    const SNAPSHOT: Option<&'static str>;
    /// `n` = 1 when sqlx's table of applied migrations exists.
    const MIGRATIONS_TABLE_EXISTS: &'static str;

    /// The backend's embedded migrations.
    fn migrator() -> &'static sqlx::migrate::Migrator;

    /// Applies the pending migrations (under a lock, on PostgreSQL).
    fn run_migrations(
        pool: &sqlx::Pool<Self::Db>,
    ) -> BoxFuture<'_, Result<(), sqlx::migrate::MigrateError>>;

    fn execute<'a>(
        conn: &'a mut <Self::Db as Database>::Connection,
        sql: Sql,
        args: Vec<Arg>,
    ) -> BoxFuture<'a, Result<u64, sqlx::Error>>;

    fn fetch_all<'a>(
        conn: &'a mut <Self::Db as Database>::Connection,
        sql: Sql,
        args: Vec<Arg>,
    ) -> BoxFuture<'a, Result<Vec<Self::Row>, sqlx::Error>>;

    fn fetch_optional<'a>(
        conn: &'a mut <Self::Db as Database>::Connection,
        sql: Sql,
        args: Vec<Arg>,
    ) -> BoxFuture<'a, Result<Option<Self::Row>, sqlx::Error>>;

    /// Begins a transaction that will write. SQLite takes the write lock at once (`BEGIN
    /// IMMEDIATE`), so a read-then-write inside it cannot be overtaken by another writer.
    fn begin_write(
        pool: &sqlx::Pool<Self::Db>,
    ) -> BoxFuture<'_, Result<sqlx::Transaction<'static, Self::Db>, sqlx::Error>>;

    /// Serialises the rest of the transaction against every other transaction naming `key`:
    /// a transaction-scoped advisory lock on PostgreSQL; on SQLite the write transaction
    /// already excludes every other writer.
    fn lock_key<'a>(
        conn: &'a mut <Self::Db as Database>::Connection,
        key: &'a str,
    ) -> BoxFuture<'a, Result<(), sqlx::Error>>;
}

/// The calls every backend makes the same way; only the types differ.
macro_rules! glue {
    ($db:ty, $row:ty) => {
        fn execute<'a>(
            conn: &'a mut <$db as sqlx::Database>::Connection,
            sql: Sql,
            args: Vec<$crate::sql::backend::Arg>,
        ) -> futures::future::BoxFuture<'a, Result<u64, sqlx::Error>> {
            Box::pin(async move {
                let query = $crate::sql::backend::bind_all(
                    sqlx::query::<$db>(sqlx::AssertSqlSafe(sql)),
                    args,
                );
                Ok(query.execute(&mut *conn).await?.rows_affected())
            })
        }

        fn fetch_all<'a>(
            conn: &'a mut <$db as sqlx::Database>::Connection,
            sql: Sql,
            args: Vec<$crate::sql::backend::Arg>,
        ) -> futures::future::BoxFuture<'a, Result<Vec<$row>, sqlx::Error>> {
            Box::pin(async move {
                $crate::sql::backend::bind_all(sqlx::query::<$db>(sqlx::AssertSqlSafe(sql)), args)
                    .fetch_all(&mut *conn)
                    .await
            })
        }

        fn fetch_optional<'a>(
            conn: &'a mut <$db as sqlx::Database>::Connection,
            sql: Sql,
            args: Vec<$crate::sql::backend::Arg>,
        ) -> futures::future::BoxFuture<'a, Result<Option<$row>, sqlx::Error>> {
            Box::pin(async move {
                $crate::sql::backend::bind_all(sqlx::query::<$db>(sqlx::AssertSqlSafe(sql)), args)
                    .fetch_optional(&mut *conn)
                    .await
            })
        }
    };
}

/// Binds `args` in order. Generic over the backend only through the bounds each value type
/// already has on both.
pub(crate) fn bind_all<'q, DB>(
    mut query: sqlx::query::Query<'q, DB, <DB as Database>::Arguments>,
    args: Vec<Arg>,
) -> sqlx::query::Query<'q, DB, <DB as Database>::Arguments>
where
    DB: Database,
    Option<String>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    Option<i64>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    bool: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    Option<Vec<u8>>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    for arg in args {
        query = match arg {
            Arg::Text(v) => query.bind(v),
            Arg::Int(v) => query.bind(v),
            Arg::Bool(v) => query.bind(v),
            Arg::Bytes(v) => query.bind(v),
        };
    }
    query
}

/// Column reads, the same for every row type.
macro_rules! row_ext {
    ($row:ty) => {
        impl sealed::Sealed for $row {}
        impl $crate::sql::backend::RowExt for $row {
            fn text(&self, column: &str) -> $crate::StoreResult<String> {
                Ok(self.try_get::<String, _>(column)?)
            }
            fn opt_text(&self, column: &str) -> $crate::StoreResult<Option<String>> {
                Ok(self.try_get::<Option<String>, _>(column)?)
            }
            fn int(&self, column: &str) -> $crate::StoreResult<i64> {
                Ok(self.try_get::<i64, _>(column)?)
            }
            fn opt_int(&self, column: &str) -> $crate::StoreResult<Option<i64>> {
                Ok(self.try_get::<Option<i64>, _>(column)?)
            }
            fn boolean(&self, column: &str) -> $crate::StoreResult<bool> {
                Ok(self.try_get::<bool, _>(column)?)
            }
            fn opt_bytes(&self, column: &str) -> $crate::StoreResult<Option<Vec<u8>>> {
                Ok(self.try_get::<Option<Vec<u8>>, _>(column)?)
            }
        }
    };
}

/// SQLite.
#[cfg(feature = "sqlite")]
#[derive(Debug)]
pub enum Sqlite {}

#[cfg(feature = "sqlite")]
row_ext!(sqlx::sqlite::SqliteRow);

#[cfg(feature = "sqlite")]
impl sealed::Sealed for Sqlite {}

#[cfg(feature = "sqlite")]
impl Backend for Sqlite {
    type Db = sqlx::Sqlite;
    type Row = sqlx::sqlite::SqliteRow;
    const NAME: &'static str = "sqlite";
    const SKIP_LOCKED: &'static str = "";
    const AUDIT_SEQ: &'static str = "rowid";
    const SNAPSHOT: Option<&'static str> = None;
    const MIGRATIONS_TABLE_EXISTS: &'static str = "SELECT COUNT(*) AS n FROM sqlite_master \
         WHERE type = 'table' AND name = '_sqlx_migrations'";

    fn migrator() -> &'static sqlx::migrate::Migrator {
        static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
        &MIGRATOR
    }

    fn run_migrations(
        pool: &sqlx::Pool<sqlx::Sqlite>,
    ) -> BoxFuture<'_, Result<(), sqlx::migrate::MigrateError>> {
        Box::pin(Self::migrator().run(pool))
    }

    glue!(sqlx::Sqlite, sqlx::sqlite::SqliteRow);

    fn begin_write(
        pool: &sqlx::Pool<sqlx::Sqlite>,
    ) -> BoxFuture<'_, Result<sqlx::Transaction<'static, sqlx::Sqlite>, sqlx::Error>> {
        Box::pin(pool.begin_with("BEGIN IMMEDIATE"))
    }

    fn lock_key<'a>(
        _conn: &'a mut sqlx::SqliteConnection,
        _key: &'a str,
    ) -> BoxFuture<'a, Result<(), sqlx::Error>> {
        Box::pin(async { Ok(()) })
    }
}

/// PostgreSQL.
#[cfg(feature = "postgres")]
#[derive(Debug)]
pub enum Postgres {}

#[cfg(feature = "postgres")]
row_ext!(sqlx::postgres::PgRow);

#[cfg(feature = "postgres")]
impl sealed::Sealed for Postgres {}

#[cfg(feature = "postgres")]
impl Backend for Postgres {
    type Db = sqlx::Postgres;
    type Row = sqlx::postgres::PgRow;
    const NAME: &'static str = "postgres";
    const SKIP_LOCKED: &'static str = " FOR UPDATE SKIP LOCKED";
    const AUDIT_SEQ: &'static str = "seq";
    const SNAPSHOT: Option<&'static str> =
        Some("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY");
    const MIGRATIONS_TABLE_EXISTS: &'static str = "SELECT COUNT(*) AS n FROM \
         information_schema.tables WHERE table_schema = current_schema() \
         AND table_name = '_sqlx_migrations'";

    fn migrator() -> &'static sqlx::migrate::Migrator {
        static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");
        &MIGRATOR
    }

    fn run_migrations(
        pool: &sqlx::Pool<sqlx::Postgres>,
    ) -> BoxFuture<'_, Result<(), sqlx::migrate::MigrateError>> {
        Box::pin(Self::migrator().run(pool))
    }

    glue!(sqlx::Postgres, sqlx::postgres::PgRow);

    fn begin_write(
        pool: &sqlx::Pool<sqlx::Postgres>,
    ) -> BoxFuture<'_, Result<sqlx::Transaction<'static, sqlx::Postgres>, sqlx::Error>> {
        Box::pin(pool.begin())
    }

    fn lock_key<'a>(
        conn: &'a mut sqlx::PgConnection,
        key: &'a str,
    ) -> BoxFuture<'a, Result<(), sqlx::Error>> {
        Box::pin(async move {
            sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
                .bind(key)
                .execute(&mut *conn)
                .await
                .map(|_| ())
        })
    }
}

/// `rows == 0` as "no such record".
pub(crate) fn found(rows: u64, kind: &'static str) -> StoreResult<()> {
    if rows == 0 {
        Err(StoreError::NotFound { kind })
    } else {
        Ok(())
    }
}
