//! [`OAuthStore`]: authorizations in progress, tokens, and the refresh lease.
//!
//! The lease is two columns of the connection (`refresh_lease_holder`, `refresh_lease_until`),
//! taken and given back in short transactions. No transaction is open while the holder talks
//! to Atlassian, so a slow authorization server never blocks other writers.

use async_trait::async_trait;
use jiralink_domain::{AuditEntry, ConnectionId, ConnectionState};
use jiralink_vault::Sealed;
use time::OffsetDateTime;

use super::secrets::{SECRET_COLUMNS, secret_from_row};
use super::{Backend, Conn, RowExt, SqlStore, args, exec, found, insert_audit, opt, write_secrets};
use crate::codec::{fmt_time, parse_opt_time, parse_time, parse_uuid, to_json};
use crate::model::{
    PendingAuthorization, RefreshLease, RefreshOutcome, SecretField, SecretOwner, SecretWrite,
    StoredSecret, TokenRecord,
};
use crate::{OAuthStore, StoreError, StoreResult};

fn sealed(row: &impl RowExt, column: &str) -> StoreResult<Sealed> {
    Sealed::parse(&row.text(column)?).map_err(|e| StoreError::Corrupt(format!("{column}: {e}")))
}

async fn read_tokens_in<B: Backend>(
    conn: &mut Conn<B>,
    id: ConnectionId,
) -> StoreResult<TokenRecord> {
    let times = opt::<B>(
        conn,
        "SELECT access_token_expires_at, refresh_pending_since FROM connections WHERE id = $1",
        args![id.to_string()],
    )
    .await?
    .ok_or(StoreError::NotFound { kind: "connection" })?;
    let rows = super::all::<B>(
        conn,
        format!(
            "SELECT {SECRET_COLUMNS} FROM secrets WHERE owner_kind = 'connection' \
             AND owner_id = $1 AND field IN ('access_token', 'refresh_token')"
        ),
        args![id.to_string()],
    )
    .await?;
    let mut record = TokenRecord {
        access_token_expires_at: parse_opt_time(
            times.opt_text("access_token_expires_at")?.as_deref(),
        )?,
        refresh_pending_since: parse_opt_time(times.opt_text("refresh_pending_since")?.as_deref())?,
        ..TokenRecord::default()
    };
    for row in &rows {
        let secret: StoredSecret = secret_from_row(row)?;
        match secret.field {
            SecretField::AccessToken => record.access_token = Some(secret),
            SecretField::RefreshToken => record.refresh_token = Some(secret),
            SecretField::ApiToken
            | SecretField::ClientSecret
            | SecretField::WebhookSecret
            | SecretField::SigningSecret => {}
        }
    }
    Ok(record)
}

const DELETE_TOKENS: &str = "DELETE FROM secrets WHERE owner_kind = 'connection' \
     AND owner_id = $1 AND field IN ('access_token', 'refresh_token')";

/// Deletes the tokens and the refresh lease and moves the connection to `state`; returns
/// whether there were tokens.
async fn forget_in<B: Backend>(
    conn: &mut Conn<B>,
    id: ConnectionId,
    state: &ConnectionState,
    at: OffsetDateTime,
) -> StoreResult<bool> {
    let done = exec::<B>(
        conn,
        "UPDATE connections SET access_token_expires_at = NULL, refresh_pending_since = NULL, \
         refresh_lease_holder = NULL, refresh_lease_until = NULL, state = $1, \
         state_changed_at = CASE WHEN state = $1 THEN state_changed_at ELSE $2 END WHERE id = $3",
        args![to_json(state)?, fmt_time(at), id.to_string()],
    )
    .await?;
    found(done, "connection")?;
    let deleted = exec::<B>(conn, DELETE_TOKENS, args![id.to_string()]).await?;
    exec::<B>(
        conn,
        "DELETE FROM oauth_states WHERE connection_id = $1",
        args![id.to_string()],
    )
    .await?;
    Ok(deleted > 0)
}

#[async_trait]
impl<B: Backend> OAuthStore for SqlStore<B> {
    async fn insert_pending_authorization(&self, p: &PendingAuthorization) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        exec::<B>(
            &mut tx,
            "DELETE FROM oauth_states WHERE expires_at <= $1",
            args![fmt_time(p.created_at)],
        )
        .await?;
        exec::<B>(
            &mut tx,
            "INSERT INTO oauth_states (state_hash, connection_id, redirect_uri, key_id, \
             sealed_state, sealed_verifier, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            args![
                p.state_hash.as_str(),
                p.connection.to_string(),
                p.redirect_uri.as_str(),
                p.sealed_state.key_id().to_string(),
                p.sealed_state.to_text(),
                p.sealed_verifier.to_text(),
                fmt_time(p.created_at),
                fmt_time(p.expires_at),
            ],
        )
        .await
        .map_err(|e| super::missing_parent(e, "connection"))?;
        tx.commit().await?;
        Ok(())
    }

    async fn take_pending_authorization(
        &self,
        state_hash: &str,
        now: OffsetDateTime,
    ) -> StoreResult<Option<PendingAuthorization>> {
        // DELETE … RETURNING: the row is gone in the same statement that reads it, so two
        // callbacks with one state cannot both succeed, on whichever server they land.
        let Some(row) = self
            .opt(
                "DELETE FROM oauth_states WHERE state_hash = $1 RETURNING state_hash, \
                 connection_id, redirect_uri, sealed_state, sealed_verifier, created_at, \
                 expires_at",
                args![state_hash],
            )
            .await?
        else {
            return Ok(None);
        };
        let pending = PendingAuthorization {
            state_hash: row.text("state_hash")?,
            connection: ConnectionId(parse_uuid(&row.text("connection_id")?)?),
            redirect_uri: row.text("redirect_uri")?,
            sealed_state: sealed(&row, "sealed_state")?,
            sealed_verifier: sealed(&row, "sealed_verifier")?,
            created_at: parse_time(&row.text("created_at")?)?,
            expires_at: parse_time(&row.text("expires_at")?)?,
        };
        if pending.expires_at <= now {
            return Ok(None);
        }
        Ok(Some(pending))
    }

    async fn read_tokens(&self, id: ConnectionId) -> StoreResult<TokenRecord> {
        read_tokens_in::<B>(&mut *self.conn().await?, id).await
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
        let mut tx = self.begin_write().await?;
        let done = exec::<B>(
            &mut tx,
            "UPDATE connections SET access_token_expires_at = $1, cloud_id = $2, state = $3, \
             state_changed_at = $4, last_tested_at = $4, refresh_pending_since = NULL, \
             refresh_lease_holder = NULL, refresh_lease_until = NULL WHERE id = $5",
            args![
                fmt_time(access_token_expires_at),
                cloud_id,
                to_json(&ConnectionState::Online)?,
                fmt_time(at),
                id.to_string(),
            ],
        )
        .await?;
        found(done, "connection")?;
        // A new consent starts a new token family: nothing of the old one may survive.
        exec::<B>(&mut tx, DELETE_TOKENS, args![id.to_string()]).await?;
        write_secrets::<B>(&mut tx, SecretOwner::Connection(id), tokens, at).await?;
        insert_audit::<B>(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn lease_refresh(
        &self,
        id: ConnectionId,
        holder: &str,
        now: OffsetDateTime,
        until: OffsetDateTime,
    ) -> StoreResult<RefreshLease> {
        let mut tx = self.begin_write().await?;
        let taken = exec::<B>(
            &mut tx,
            "UPDATE connections SET refresh_lease_holder = $1, refresh_lease_until = $2 \
             WHERE id = $3 AND (refresh_lease_until IS NULL OR refresh_lease_until <= $4 \
             OR refresh_lease_holder = $1)",
            args![holder, fmt_time(until), id.to_string(), fmt_time(now)],
        )
        .await?;
        if taken == 0 {
            let row = opt::<B>(
                &mut tx,
                "SELECT refresh_lease_holder, refresh_lease_until FROM connections WHERE id = $1",
                args![id.to_string()],
            )
            .await?
            .ok_or(StoreError::NotFound { kind: "connection" })?;
            let held_until = parse_opt_time(row.opt_text("refresh_lease_until")?.as_deref())?;
            return Ok(RefreshLease::Held {
                holder: row.opt_text("refresh_lease_holder")?.unwrap_or_default(),
                until: held_until.unwrap_or(now),
            });
        }
        let tokens = read_tokens_in::<B>(&mut tx, id).await?;
        tx.commit().await?;
        Ok(RefreshLease::Acquired(tokens))
    }

    async fn finish_refresh(
        &self,
        id: ConnectionId,
        holder: &str,
        outcome: RefreshOutcome<'_>,
        at: OffsetDateTime,
    ) -> StoreResult<bool> {
        let mut tx = self.begin_write().await?;
        // Giving the lease back is the check that it is still ours: a holder whose lease ran
        // out and was taken by another stores nothing.
        let released = exec::<B>(
            &mut tx,
            "UPDATE connections SET refresh_lease_holder = NULL, refresh_lease_until = NULL \
             WHERE id = $1 AND refresh_lease_holder = $2",
            args![id.to_string(), holder],
        )
        .await?;
        if released == 0 {
            return Ok(false);
        }
        match outcome {
            RefreshOutcome::Tokens {
                tokens,
                access_token_expires_at,
            } => {
                write_secrets::<B>(&mut tx, SecretOwner::Connection(id), tokens, at).await?;
                exec::<B>(
                    &mut tx,
                    "UPDATE connections SET access_token_expires_at = $1, \
                     refresh_pending_since = NULL WHERE id = $2",
                    args![fmt_time(access_token_expires_at), id.to_string()],
                )
                .await?;
            }
            RefreshOutcome::Revoked { state } => {
                forget_in::<B>(&mut tx, id, state, at).await?;
            }
            RefreshOutcome::Pending { since } => {
                exec::<B>(
                    &mut tx,
                    "UPDATE connections SET \
                     refresh_pending_since = COALESCE(refresh_pending_since, $1) WHERE id = $2",
                    args![fmt_time(since), id.to_string()],
                )
                .await?;
            }
            RefreshOutcome::Released => {}
        }
        tx.commit().await?;
        Ok(true)
    }

    async fn forget_tokens(
        &self,
        id: ConnectionId,
        state: &ConnectionState,
        at: OffsetDateTime,
        audit: &AuditEntry,
    ) -> StoreResult<bool> {
        let mut tx = self.begin_write().await?;
        let existed = forget_in::<B>(&mut tx, id, state, at).await?;
        insert_audit::<B>(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(existed)
    }
}
