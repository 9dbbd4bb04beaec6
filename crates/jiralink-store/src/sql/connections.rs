//! [`ConnectionStore`] and [`OAuthClientStore`]'s connection half.

use async_trait::async_trait;
use jiralink_domain::{
    AuditEntry, Connection, ConnectionAuth, ConnectionId, ConnectionSettings, ConnectionState,
    OAuthClientId, SecretMeta,
};
use time::OffsetDateTime;

use super::{
    Backend, RowExt, SqlStore, args, commit_with_secrets_and_audit, exec, found, insert_audit,
    name_key, named_write_error, opt,
};
use crate::codec::{
    enum_str, fmt_time, from_json, from_u64, parse_opt_time, parse_time, parse_uuid, to_json,
    to_u64,
};
use crate::model::{ConnectionUpdate, SecretField, SecretOwner, SecretWrite};
use crate::{ConnectionStore, ExportStore, ImportStore, StoreError, StoreResult};

/// A connection with the time its API token was last set; the argument adds WHERE / ORDER BY.
macro_rules! select_connections {
    ($tail:literal) => {
        concat!(
            "SELECT c.id, c.settings, c.state, c.state_changed_at, c.created_at, c.updated_at, \
             c.cloud_id, c.last_tested_at, c.debug_until, c.version, \
             s.updated_at AS api_token_updated_at \
             FROM connections c LEFT JOIN secrets s ON s.owner_kind = 'connection' \
             AND s.owner_id = c.id AND s.field = 'api_token' ",
            $tail
        )
    };
}

fn connection_from_row(row: &impl RowExt) -> StoreResult<Connection> {
    Ok(Connection {
        id: ConnectionId(parse_uuid(&row.text("id")?)?),
        settings: from_json::<ConnectionSettings>("connection settings", &row.text("settings")?)?,
        state: from_json::<ConnectionState>("connection state", &row.text("state")?)?,
        state_changed_at: parse_opt_time(row.opt_text("state_changed_at")?.as_deref())?,
        created_at: parse_time(&row.text("created_at")?)?,
        updated_at: parse_time(&row.text("updated_at")?)?,
        api_token: parse_opt_time(row.opt_text("api_token_updated_at")?.as_deref())?
            .map(|updated_at| SecretMeta { updated_at }),
        cloud_id: row.opt_text("cloud_id")?,
        last_tested_at: parse_opt_time(row.opt_text("last_tested_at")?.as_deref())?,
        debug_until: parse_opt_time(row.opt_text("debug_until")?.as_deref())?,
        version: to_u64("connection version", row.int("version")?)?,
    })
}

fn oauth_client_of(settings: &ConnectionSettings) -> Option<String> {
    match &settings.auth {
        ConnectionAuth::OAuth2 { client, .. } => Some(client.to_string()),
        ConnectionAuth::Basic { .. } => None,
    }
}

impl<B: Backend> SqlStore<B> {
    /// `Changed` when the connection exists (at another version than asked), else `NotFound`.
    async fn connection_changed_or_missing(&self, id: ConnectionId) -> StoreResult<StoreError> {
        let exists = self
            .opt(
                "SELECT 1 AS one FROM connections WHERE id = $1",
                args![id.to_string()],
            )
            .await?
            .is_some();
        Ok(if exists {
            StoreError::Changed { kind: "connection" }
        } else {
            StoreError::NotFound { kind: "connection" }
        })
    }
}

#[async_trait]
impl<B: Backend> ConnectionStore for SqlStore<B> {
    async fn list_connections(&self) -> StoreResult<Vec<Connection>> {
        let rows = self
            .all(select_connections!("ORDER BY c.name_key"), args![])
            .await?;
        rows.iter().map(connection_from_row).collect()
    }

    async fn get_connection(&self, id: ConnectionId) -> StoreResult<Connection> {
        let row = self
            .opt(
                select_connections!("WHERE c.id = $1"),
                args![id.to_string()],
            )
            .await?
            .ok_or(StoreError::NotFound { kind: "connection" })?;
        connection_from_row(&row)
    }

    async fn find_connection_by_name(&self, name: &str) -> StoreResult<Option<Connection>> {
        let Some(key) = name_key(name) else {
            return Ok(None);
        };
        let row = self
            .opt(select_connections!("WHERE c.name_key = $1"), args![key])
            .await?;
        row.as_ref().map(connection_from_row).transpose()
    }

    async fn insert_connection(
        &self,
        c: &Connection,
        secrets: &[SecretWrite],
        audit: &AuditEntry,
    ) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        exec::<B>(
            &mut tx,
            "INSERT INTO connections (id, name, name_key, api_type, auth_type, oauth_client_id, \
             settings, state, state_changed_at, created_at, updated_at, cloud_id, \
             last_tested_at, debug_until, version) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
            args![
                c.id.to_string(),
                c.settings.name.as_str(),
                c.settings.name.key(),
                c.settings.api_type.id(),
                enum_str(&c.settings.auth.auth_type())?,
                oauth_client_of(&c.settings),
                to_json(&c.settings)?,
                to_json(&c.state)?,
                c.state_changed_at.map(fmt_time),
                fmt_time(c.created_at),
                fmt_time(c.updated_at),
                c.cloud_id.clone(),
                c.last_tested_at.map(fmt_time),
                c.debug_until.map(fmt_time),
                from_u64(c.version),
            ],
        )
        .await
        .map_err(|e| named_write_error(e, "connection", c.settings.name.as_str()))?;
        commit_with_secrets_and_audit::<B>(
            tx,
            SecretOwner::Connection(c.id),
            secrets,
            c.updated_at,
            audit,
        )
        .await
    }

    async fn update_connection(
        &self,
        update: &ConnectionUpdate<'_>,
        secrets: &[SecretWrite],
        audit: &AuditEntry,
    ) -> StoreResult<u64> {
        let c = update.connection;
        let mut tx = self.begin().await?;
        // The version check and the write are one statement: an edit made from an older
        // version changes nothing, and the audit entry (built from that version) describes
        // exactly the row replaced.
        let done = exec::<B>(
            &mut tx,
            "UPDATE connections SET name = $1, name_key = $2, api_type = $3, auth_type = $4, \
             oauth_client_id = $5, settings = $6, updated_at = $7, version = version + 1, \
             state = CASE WHEN $8 THEN $9 ELSE state END, \
             state_changed_at = CASE WHEN $8 AND state <> $9 THEN $10 ELSE state_changed_at END, \
             cloud_id = CASE WHEN $11 THEN NULL ELSE cloud_id END \
             WHERE id = $12 AND version = $13",
            args![
                c.settings.name.as_str(),
                c.settings.name.key(),
                c.settings.api_type.id(),
                enum_str(&c.settings.auth.auth_type())?,
                oauth_client_of(&c.settings),
                to_json(&c.settings)?,
                fmt_time(c.updated_at),
                update.set_state,
                to_json(&c.state)?,
                fmt_time(c.updated_at),
                update.clear_cloud_id,
                c.id.to_string(),
                from_u64(c.version),
            ],
        )
        .await
        .map_err(|e| named_write_error(e, "connection", c.settings.name.as_str()))?;
        if done == 0 {
            drop(tx);
            return Err(self.connection_changed_or_missing(c.id).await?);
        }
        // The state the connection is in now decides which secrets it keeps.
        let row = opt::<B>(
            &mut tx,
            "SELECT state FROM connections WHERE id = $1",
            args![c.id.to_string()],
        )
        .await?
        .ok_or(StoreError::NotFound { kind: "connection" })?;
        let mut stored = c.clone();
        stored.state = from_json("connection state", &row.text("state")?)?;
        for field in stored.dropped_secrets() {
            exec::<B>(
                &mut tx,
                "DELETE FROM secrets WHERE owner_kind = 'connection' AND owner_id = $1 \
                 AND field = $2",
                args![c.id.to_string(), SecretField::from(field).as_str()],
            )
            .await?;
        }
        commit_with_secrets_and_audit::<B>(
            tx,
            SecretOwner::Connection(c.id),
            secrets,
            c.updated_at,
            audit,
        )
        .await?;
        Ok(c.version + 1)
    }

    async fn set_connection_state(
        &self,
        id: ConnectionId,
        state: &ConnectionState,
        at: OffsetDateTime,
    ) -> StoreResult<()> {
        let done = self
            .exec(
                "UPDATE connections SET state = $1, state_changed_at = $2 WHERE id = $3",
                args![to_json(state)?, fmt_time(at), id.to_string()],
            )
            .await?;
        found(done, "connection")
    }

    async fn record_connection_test(
        &self,
        id: ConnectionId,
        tested_version: u64,
        state: &ConnectionState,
        tested_at: OffsetDateTime,
        cloud_id: Option<&str>,
    ) -> StoreResult<()> {
        // One statement: the version check and the write cannot be split by an edit.
        let done = self
            .exec(
                "UPDATE connections SET \
                 state_changed_at = CASE WHEN state = $1 THEN state_changed_at ELSE $2 END, \
                 state = $1, last_tested_at = $2, cloud_id = COALESCE($3, cloud_id) \
                 WHERE id = $4 AND version = $5",
                args![
                    to_json(state)?,
                    fmt_time(tested_at),
                    cloud_id,
                    id.to_string(),
                    from_u64(tested_version),
                ],
            )
            .await?;
        if done == 0 {
            return Err(self.connection_changed_or_missing(id).await?);
        }
        Ok(())
    }

    async fn set_debug_until(
        &self,
        id: ConnectionId,
        until: Option<OffsetDateTime>,
    ) -> StoreResult<()> {
        let done = self
            .exec(
                "UPDATE connections SET debug_until = $1 WHERE id = $2",
                args![until.map(fmt_time), id.to_string()],
            )
            .await?;
        found(done, "connection")
    }

    async fn delete_connection(&self, id: ConnectionId, audit: &AuditEntry) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        let done = match exec::<B>(
            &mut tx,
            "DELETE FROM connections WHERE id = $1",
            args![id.to_string()],
        )
        .await
        {
            // An export definition names it (ON DELETE RESTRICT): the conflict names one
            // (read outside the failed transaction, which PostgreSQL has aborted).
            Err(StoreError::Database(e)) if super::is_foreign_key_violation(&e) => {
                drop(tx);
                if let Some((_, _, name)) = self.exports_using(&[id]).await?.into_iter().next() {
                    return Err(StoreError::Conflict {
                        kind: "export of this connection",
                        name,
                    });
                }
                let name = self
                    .imports_using(&[id])
                    .await?
                    .into_iter()
                    .next()
                    .map_or_else(String::new, |(_, _, name)| name);
                return Err(StoreError::Conflict {
                    kind: "import of this connection",
                    name,
                });
            }
            other => other?,
        };
        found(done, "connection")?;
        exec::<B>(
            &mut tx,
            "DELETE FROM secrets WHERE owner_kind = 'connection' AND owner_id = $1",
            args![id.to_string()],
        )
        .await?;
        insert_audit::<B>(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn connections_using_client(
        &self,
        client: OAuthClientId,
    ) -> StoreResult<Vec<(ConnectionId, String)>> {
        let rows = self
            .all(
                "SELECT id, name FROM connections WHERE oauth_client_id = $1 ORDER BY name_key",
                args![client.to_string()],
            )
            .await?;
        rows.iter()
            .map(|r| Ok((ConnectionId(parse_uuid(&r.text("id")?)?), r.text("name")?)))
            .collect()
    }
}
