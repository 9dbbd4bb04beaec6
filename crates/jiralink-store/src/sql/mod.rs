//! The store's logic, written once over [`Backend`] and used by [`crate::SqliteStore`] and
//! [`crate::PgStore`]. Public only because the store types name the backend in their type;
//! nothing here is meant to be called from outside the crate.

mod audit;
pub mod backend;
mod connections;
mod exports;
mod flows;
mod imports;
mod jobs;
mod listeners;
mod notifications;
mod oauth;
mod oauth_clients;
mod secrets;
mod slots;
mod users;

use std::fmt;
use std::marker::PhantomData;

use jiralink_domain::AuditEntry;
use time::OffsetDateTime;

use crate::codec::{enum_str, fmt_time, to_json};
use crate::model::{SecretOwner, SecretWrite};
use crate::{StoreError, StoreResult};
pub(crate) use backend::{Arg, Backend, RowExt, Sql, args, found};

/// A connection of the backend's pool, or the inside of a transaction (`&mut *tx`).
pub(crate) type Conn<B> = <<B as Backend>::Db as sqlx::Database>::Connection;
pub(crate) type Tx<B> = sqlx::Transaction<'static, <B as Backend>::Db>;

/// The store on one backend: a pool and nothing else, so every clone (and every process)
/// sees the same truth — the database.
pub struct SqlStore<B: Backend> {
    pub(crate) pool: sqlx::Pool<B::Db>,
    _backend: PhantomData<B>,
}

impl<B: Backend> Clone for SqlStore<B> {
    fn clone(&self) -> Self {
        Self::from_pool(self.pool.clone())
    }
}

impl<B: Backend> fmt::Debug for SqlStore<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqlStore")
            .field("backend", &B::NAME)
            .field("connections", &self.pool.size())
            .finish()
    }
}

impl<B: Backend> SqlStore<B> {
    pub(crate) fn from_pool(pool: sqlx::Pool<B::Db>) -> Self {
        Self {
            pool,
            _backend: PhantomData,
        }
    }

    /// The pool, for tests that look at the database directly.
    #[doc(hidden)]
    pub fn pool(&self) -> &sqlx::Pool<B::Db> {
        &self.pool
    }

    /// Closes the pool (on SQLite this checkpoints the WAL into the main file).
    pub async fn close(&self) {
        self.pool.close().await;
    }

    pub(crate) async fn conn(&self) -> StoreResult<sqlx::pool::PoolConnection<B::Db>> {
        Ok(self.pool.acquire().await?)
    }

    pub(crate) async fn begin(&self) -> StoreResult<Tx<B>> {
        Ok(self.pool.begin().await?)
    }

    pub(crate) async fn begin_write(&self) -> StoreResult<Tx<B>> {
        Ok(B::begin_write(&self.pool).await?)
    }

    /// Runs one statement on a pooled connection.
    pub(crate) async fn exec(&self, sql: impl Into<Sql>, args: Vec<Arg>) -> StoreResult<u64> {
        exec::<B>(&mut *self.conn().await?, sql, args).await
    }

    pub(crate) async fn all(
        &self,
        sql: impl Into<Sql>,
        args: Vec<Arg>,
    ) -> StoreResult<Vec<B::Row>> {
        all::<B>(&mut *self.conn().await?, sql, args).await
    }

    pub(crate) async fn opt(
        &self,
        sql: impl Into<Sql>,
        args: Vec<Arg>,
    ) -> StoreResult<Option<B::Row>> {
        opt::<B>(&mut *self.conn().await?, sql, args).await
    }
}

pub(crate) async fn exec<B: Backend>(
    conn: &mut Conn<B>,
    sql: impl Into<Sql>,
    args: Vec<Arg>,
) -> StoreResult<u64> {
    Ok(B::execute(conn, sql.into(), args).await?)
}

pub(crate) async fn all<B: Backend>(
    conn: &mut Conn<B>,
    sql: impl Into<Sql>,
    args: Vec<Arg>,
) -> StoreResult<Vec<B::Row>> {
    Ok(B::fetch_all(conn, sql.into(), args).await?)
}

pub(crate) async fn opt<B: Backend>(
    conn: &mut Conn<B>,
    sql: impl Into<Sql>,
    args: Vec<Arg>,
) -> StoreResult<Option<B::Row>> {
    Ok(B::fetch_optional(conn, sql.into(), args).await?)
}

pub(crate) fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.is_unique_violation())
}

pub(crate) fn is_foreign_key_violation(e: &sqlx::Error) -> bool {
    // SQLite enforces ON DELETE RESTRICT through an internal trigger, so that violation
    // carries SQLITE_CONSTRAINT_TRIGGER rather than the foreign-key code sqlx recognises.
    matches!(e, sqlx::Error::Database(d)
        if d.is_foreign_key_violation() || d.message().contains("FOREIGN KEY constraint failed"))
}

/// The sqlx error inside a store error, if it is one.
pub(crate) fn sqlx_error(e: &StoreError) -> Option<&sqlx::Error> {
    match e {
        StoreError::Database(e) => Some(e),
        _ => None,
    }
}

/// What a failed write of a named record means to callers: a name already taken, or (for a
/// connection) an OAuth 2.0 client that no longer exists.
pub(crate) fn named_write_error(e: StoreError, kind: &'static str, name: &str) -> StoreError {
    match sqlx_error(&e) {
        Some(s) if is_unique_violation(s) => StoreError::Conflict {
            kind,
            name: name.to_owned(),
        },
        Some(s) if is_foreign_key_violation(s) => StoreError::NotFound {
            kind: "OAuth 2.0 client",
        },
        _ => e,
    }
}

/// A write naming a record that does not exist (a foreign key), as `NotFound { kind }`.
pub(crate) fn missing_parent(e: StoreError, kind: &'static str) -> StoreError {
    match sqlx_error(&e) {
        Some(s) if is_foreign_key_violation(s) => StoreError::NotFound { kind },
        _ => e,
    }
}

pub(crate) async fn write_secrets<B: Backend>(
    conn: &mut Conn<B>,
    owner: SecretOwner,
    secrets: &[SecretWrite],
    at: OffsetDateTime,
) -> StoreResult<()> {
    for s in secrets {
        exec::<B>(
            conn,
            "INSERT INTO secrets (owner_kind, owner_id, field, key_id, sealed, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (owner_kind, owner_id, field) DO UPDATE SET \
             key_id = excluded.key_id, sealed = excluded.sealed, updated_at = excluded.updated_at",
            args![
                owner.kind(),
                owner.id().to_string(),
                s.field.as_str(),
                s.sealed.key_id().to_string(),
                s.sealed.to_text(),
                fmt_time(at),
            ],
        )
        .await?;
    }
    Ok(())
}

pub(crate) async fn insert_audit<B: Backend>(
    conn: &mut Conn<B>,
    e: &AuditEntry,
) -> StoreResult<()> {
    exec::<B>(
        conn,
        "INSERT INTO audit_log (id, at, actor, source, action, resource_kind, resource_id, \
         resource_name, changes) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        args![
            e.id.to_string(),
            fmt_time(e.at),
            e.actor.as_str(),
            enum_str(&e.source)?,
            enum_str(&e.action)?,
            enum_str(&e.resource_kind)?,
            e.resource_id.to_string(),
            e.resource_name.as_str(),
            to_json(&e.changes)?,
        ],
    )
    .await?;
    Ok(())
}

/// The end of every write of a connection or client: its sealed secrets and its audit entry
/// commit together with it.
pub(crate) async fn commit_with_secrets_and_audit<B: Backend>(
    mut tx: Tx<B>,
    owner: SecretOwner,
    secrets: &[SecretWrite],
    at: OffsetDateTime,
    audit: &AuditEntry,
) -> StoreResult<()> {
    write_secrets::<B>(&mut tx, owner, secrets, at).await?;
    insert_audit::<B>(&mut tx, audit).await?;
    tx.commit().await?;
    Ok(())
}

/// The key [`jiralink_domain::ConnectionName::key`] computes, for look-ups by a raw name;
/// `None` for text that is no valid name, which no stored row can carry.
pub(crate) fn name_key(name: &str) -> Option<String> {
    jiralink_domain::ConnectionName::parse(name)
        .ok()
        .map(|n| n.key())
}
