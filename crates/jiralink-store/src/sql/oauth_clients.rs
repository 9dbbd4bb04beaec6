//! [`OAuthClientStore`].

use async_trait::async_trait;
use jiralink_domain::{AuditEntry, OAuthClient, OAuthClientId, OAuthClientSettings, SecretMeta};

use super::{
    Backend, RowExt, SqlStore, args, commit_with_secrets_and_audit, exec, found, insert_audit,
    is_foreign_key_violation, name_key, named_write_error,
};
use crate::codec::{fmt_time, from_u64, parse_opt_time, parse_time, parse_uuid, to_u64};
use crate::model::{SecretOwner, SecretWrite};
use crate::{OAuthClientStore, StoreError, StoreResult};

const KIND: &str = "OAuth 2.0 client";

/// An OAuth 2.0 client with the time its secret was last set.
macro_rules! select_clients {
    ($tail:literal) => {
        concat!(
            "SELECT o.id, o.name, o.client_id, o.created_at, o.updated_at, o.version, \
             s.updated_at AS secret_updated_at \
             FROM oauth_clients o LEFT JOIN secrets s ON s.owner_kind = 'oauth_client' \
             AND s.owner_id = o.id AND s.field = 'client_secret' ",
            $tail
        )
    };
}

fn client_from_row(row: &impl RowExt) -> StoreResult<OAuthClient> {
    let settings = OAuthClientSettings {
        name: jiralink_domain::ConnectionName::parse(&row.text("name")?)
            .map_err(|e| StoreError::Corrupt(format!("oauth client name: {e}")))?,
        client_id: row.text("client_id")?,
    };
    Ok(OAuthClient {
        id: OAuthClientId(parse_uuid(&row.text("id")?)?),
        settings,
        created_at: parse_time(&row.text("created_at")?)?,
        updated_at: parse_time(&row.text("updated_at")?)?,
        client_secret: parse_opt_time(row.opt_text("secret_updated_at")?.as_deref())?
            .map(|updated_at| SecretMeta { updated_at }),
        version: to_u64("client version", row.int("version")?)?,
    })
}

#[async_trait]
impl<B: Backend> OAuthClientStore for SqlStore<B> {
    async fn list_oauth_clients(&self) -> StoreResult<Vec<OAuthClient>> {
        let rows = self
            .all(select_clients!("ORDER BY o.name_key"), args![])
            .await?;
        rows.iter().map(client_from_row).collect()
    }

    async fn get_oauth_client(&self, id: OAuthClientId) -> StoreResult<OAuthClient> {
        let row = self
            .opt(select_clients!("WHERE o.id = $1"), args![id.to_string()])
            .await?
            .ok_or(StoreError::NotFound { kind: KIND })?;
        client_from_row(&row)
    }

    async fn find_oauth_client_by_name(&self, name: &str) -> StoreResult<Option<OAuthClient>> {
        let Some(key) = name_key(name) else {
            return Ok(None);
        };
        let row = self
            .opt(select_clients!("WHERE o.name_key = $1"), args![key])
            .await?;
        row.as_ref().map(client_from_row).transpose()
    }

    async fn insert_oauth_client(
        &self,
        o: &OAuthClient,
        secrets: &[SecretWrite],
        audit: &AuditEntry,
    ) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        exec::<B>(
            &mut tx,
            "INSERT INTO oauth_clients (id, name, name_key, client_id, created_at, updated_at, \
             version) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            args![
                o.id.to_string(),
                o.settings.name.as_str(),
                o.settings.name.key(),
                o.settings.client_id.as_str(),
                fmt_time(o.created_at),
                fmt_time(o.updated_at),
                from_u64(o.version),
            ],
        )
        .await
        .map_err(|e| named_write_error(e, KIND, o.settings.name.as_str()))?;
        commit_with_secrets_and_audit::<B>(
            tx,
            SecretOwner::OAuthClient(o.id),
            secrets,
            o.updated_at,
            audit,
        )
        .await
    }

    async fn update_oauth_client(
        &self,
        o: &OAuthClient,
        secrets: &[SecretWrite],
        audit: &AuditEntry,
    ) -> StoreResult<u64> {
        let mut tx = self.begin().await?;
        let done = exec::<B>(
            &mut tx,
            "UPDATE oauth_clients SET name = $1, name_key = $2, client_id = $3, updated_at = $4, \
             version = version + 1 WHERE id = $5 AND version = $6",
            args![
                o.settings.name.as_str(),
                o.settings.name.key(),
                o.settings.client_id.as_str(),
                fmt_time(o.updated_at),
                o.id.to_string(),
                from_u64(o.version),
            ],
        )
        .await
        .map_err(|e| named_write_error(e, KIND, o.settings.name.as_str()))?;
        if done == 0 {
            drop(tx);
            let exists = self
                .opt(
                    "SELECT 1 AS one FROM oauth_clients WHERE id = $1",
                    args![o.id.to_string()],
                )
                .await?
                .is_some();
            return Err(if exists {
                StoreError::Changed { kind: KIND }
            } else {
                StoreError::NotFound { kind: KIND }
            });
        }
        commit_with_secrets_and_audit::<B>(
            tx,
            SecretOwner::OAuthClient(o.id),
            secrets,
            o.updated_at,
            audit,
        )
        .await?;
        Ok(o.version + 1)
    }

    async fn delete_oauth_client(&self, id: OAuthClientId, audit: &AuditEntry) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        let done = match exec::<B>(
            &mut tx,
            "DELETE FROM oauth_clients WHERE id = $1",
            args![id.to_string()],
        )
        .await
        {
            Err(StoreError::Database(e)) if is_foreign_key_violation(&e) => {
                return Err(StoreError::InUse { kind: KIND });
            }
            other => other?,
        };
        found(done, KIND)?;
        exec::<B>(
            &mut tx,
            "DELETE FROM secrets WHERE owner_kind = 'oauth_client' AND owner_id = $1",
            args![id.to_string()],
        )
        .await?;
        insert_audit::<B>(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(())
    }
}
