//! [`OAuthStore`] on SQLite.
//!
//! The refresh lock is a `BEGIN IMMEDIATE` transaction: SQLite grants one writer per database
//! file, so a second process (or pool connection) waits, within the busy timeout, until the
//! first has committed the rotated tokens, and then reads them.

use async_trait::async_trait;
use jiralink_domain::{AuditEntry, ConnectionId, ConnectionState};
use jiralink_vault::Sealed;
use sqlx::Row as _;
use time::OffsetDateTime;

use super::{fmt_time, insert_audit, parse_time, secret_from_row, to_json, write_secrets};
use crate::model::{
    PendingAuthorization, SecretField, SecretOwner, SecretWrite, StoredSecret, TokenRecord,
};
use crate::{OAuthStore, SqliteStore, StoreError, StoreResult, TokenLock};

fn sealed(row: &sqlx::sqlite::SqliteRow, column: &str) -> StoreResult<Sealed> {
    let text: String = row.try_get(column)?;
    Sealed::parse(&text).map_err(|e| StoreError::Corrupt(format!("{column}: {e}")))
}

async fn read_tokens_in(
    conn: &mut sqlx::SqliteConnection,
    id: ConnectionId,
) -> StoreResult<TokenRecord> {
    let times: Option<(Option<String>, Option<String>)> = sqlx::query_as(
        "SELECT access_token_expires_at, refresh_pending_since FROM connections WHERE id = ?",
    )
    .bind(id.to_string())
    .fetch_optional(&mut *conn)
    .await?;
    let Some((expires, pending)) = times else {
        return Err(StoreError::NotFound { kind: "connection" });
    };
    let rows = sqlx::query(
        "SELECT owner_kind, owner_id, field, sealed, updated_at FROM secrets \
         WHERE owner_kind = 'connection' AND owner_id = ? \
         AND field IN ('access_token', 'refresh_token')",
    )
    .bind(id.to_string())
    .fetch_all(&mut *conn)
    .await?;
    let mut record = TokenRecord {
        access_token_expires_at: expires.as_deref().map(parse_time).transpose()?,
        refresh_pending_since: pending.as_deref().map(parse_time).transpose()?,
        ..TokenRecord::default()
    };
    for row in &rows {
        let secret: StoredSecret = secret_from_row(row)?;
        match secret.field {
            SecretField::AccessToken => record.access_token = Some(secret),
            SecretField::RefreshToken => record.refresh_token = Some(secret),
            SecretField::ApiToken | SecretField::ClientSecret => {}
        }
    }
    Ok(record)
}

const DELETE_TOKENS: &str = "DELETE FROM secrets WHERE owner_kind = 'connection' \
     AND owner_id = ? AND field IN ('access_token', 'refresh_token')";

#[async_trait]
impl OAuthStore for SqliteStore {
    async fn insert_pending_authorization(&self, p: &PendingAuthorization) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM oauth_states WHERE expires_at <= ?")
            .bind(fmt_time(p.created_at))
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO oauth_states (state_hash, connection_id, redirect_uri, key_id, \
             sealed_state, sealed_verifier, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&p.state_hash)
        .bind(p.connection.to_string())
        .bind(&p.redirect_uri)
        .bind(p.sealed_state.key_id().to_string())
        .bind(p.sealed_state.to_text())
        .bind(p.sealed_verifier.to_text())
        .bind(fmt_time(p.created_at))
        .bind(fmt_time(p.expires_at))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn take_pending_authorization(
        &self,
        state_hash: &str,
        now: OffsetDateTime,
    ) -> StoreResult<Option<PendingAuthorization>> {
        // DELETE … RETURNING: the row is gone in the same statement that reads it, so two
        // callbacks with one state cannot both succeed.
        let row = sqlx::query(
            "DELETE FROM oauth_states WHERE state_hash = ? RETURNING state_hash, connection_id, \
             redirect_uri, sealed_state, sealed_verifier, created_at, expires_at",
        )
        .bind(state_hash)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let connection: String = row.try_get("connection_id")?;
        let created_at: String = row.try_get("created_at")?;
        let expires_at: String = row.try_get("expires_at")?;
        let pending = PendingAuthorization {
            state_hash: row.try_get("state_hash")?,
            connection: ConnectionId(super::parse_uuid(&connection)?),
            redirect_uri: row.try_get("redirect_uri")?,
            sealed_state: sealed(&row, "sealed_state")?,
            sealed_verifier: sealed(&row, "sealed_verifier")?,
            created_at: parse_time(&created_at)?,
            expires_at: parse_time(&expires_at)?,
        };
        if pending.expires_at <= now {
            return Ok(None);
        }
        Ok(Some(pending))
    }

    async fn read_tokens(&self, id: ConnectionId) -> StoreResult<TokenRecord> {
        let mut conn = self.pool.acquire().await?;
        read_tokens_in(&mut conn, id).await
    }

    async fn save_authorization(
        &self,
        id: ConnectionId,
        tokens: &[SecretWrite],
        access_token_expires_at: OffsetDateTime,
        cloud_id: &str,
        at: OffsetDateTime,
        audit: &AuditEntry,
    ) -> StoreResult<()> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let done = sqlx::query(
            "UPDATE connections SET access_token_expires_at = ?, cloud_id = ?, state = ?, \
             state_changed_at = ?, last_tested_at = ?, refresh_pending_since = NULL WHERE id = ?",
        )
        .bind(fmt_time(access_token_expires_at))
        .bind(cloud_id)
        .bind(to_json(&ConnectionState::Online)?)
        .bind(fmt_time(at))
        .bind(fmt_time(at))
        .bind(id.to_string())
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound { kind: "connection" });
        }
        // A new consent starts a new token family: nothing of the old one may survive.
        sqlx::query(DELETE_TOKENS)
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?;
        write_secrets(&mut tx, SecretOwner::Connection(id), tokens, at).await?;
        insert_audit(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(())
    }

    // The lock holds one pool connection for its whole life; a caller that needs another
    // while holding it could wait on itself, so callers read everything else first.
    async fn lock_tokens(&self, id: ConnectionId) -> StoreResult<Box<dyn TokenLock>> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let tokens = read_tokens_in(&mut tx, id).await?;
        Ok(Box::new(SqliteTokenLock { tx, id, tokens }))
    }

    async fn forget_tokens(
        &self,
        id: ConnectionId,
        state: &ConnectionState,
        at: OffsetDateTime,
        audit: &AuditEntry,
    ) -> StoreResult<bool> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let existed = forget_in(&mut tx, id, state, at).await?;
        insert_audit(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(existed)
    }
}

async fn forget_in(
    tx: &mut sqlx::Transaction<'static, sqlx::Sqlite>,
    id: ConnectionId,
    state: &ConnectionState,
    at: OffsetDateTime,
) -> StoreResult<bool> {
    let done = sqlx::query(
        "UPDATE connections SET access_token_expires_at = NULL, refresh_pending_since = NULL, \
         state = ?, state_changed_at = CASE WHEN state = ? THEN state_changed_at ELSE ? END WHERE id = ?",
    )
    .bind(to_json(state)?)
    .bind(to_json(state)?)
    .bind(fmt_time(at))
    .bind(id.to_string())
    .execute(&mut **tx)
    .await?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound { kind: "connection" });
    }
    let deleted = sqlx::query(DELETE_TOKENS)
        .bind(id.to_string())
        .execute(&mut **tx)
        .await?;
    sqlx::query("DELETE FROM oauth_states WHERE connection_id = ?")
        .bind(id.to_string())
        .execute(&mut **tx)
        .await?;
    Ok(deleted.rows_affected() > 0)
}

struct SqliteTokenLock {
    tx: sqlx::Transaction<'static, sqlx::Sqlite>,
    id: ConnectionId,
    tokens: TokenRecord,
}

impl std::fmt::Debug for SqliteTokenLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteTokenLock")
            .field("connection", &self.id)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl TokenLock for SqliteTokenLock {
    fn tokens(&self) -> &TokenRecord {
        &self.tokens
    }

    async fn commit_tokens(
        self: Box<Self>,
        tokens: &[SecretWrite],
        access_token_expires_at: OffsetDateTime,
        at: OffsetDateTime,
    ) -> StoreResult<()> {
        let Self { mut tx, id, .. } = *self;
        write_secrets(&mut tx, SecretOwner::Connection(id), tokens, at).await?;
        sqlx::query(
            "UPDATE connections SET access_token_expires_at = ?, refresh_pending_since = NULL \
             WHERE id = ?",
        )
        .bind(fmt_time(access_token_expires_at))
        .bind(id.to_string())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn commit_revoked(
        self: Box<Self>,
        state: &ConnectionState,
        at: OffsetDateTime,
    ) -> StoreResult<()> {
        let Self { mut tx, id, .. } = *self;
        forget_in(&mut tx, id, state, at).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn commit_pending(self: Box<Self>, since: OffsetDateTime) -> StoreResult<()> {
        let Self { mut tx, id, .. } = *self;
        sqlx::query(
            "UPDATE connections SET refresh_pending_since = COALESCE(refresh_pending_since, ?) \
             WHERE id = ?",
        )
        .bind(fmt_time(since))
        .bind(id.to_string())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }
}
