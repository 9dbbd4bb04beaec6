//! The embedded SQLite store (the default).
//!
//! WAL journal (readers never block the writer), foreign keys on, a busy timeout so two
//! jiralink processes on one file wait for each other instead of failing, and embedded
//! forward-only migrations from `migrations/sqlite`.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use jiralink_domain::{
    AuditEntry, Connection, ConnectionId, ConnectionSettings, ConnectionState, OAuthClient,
    OAuthClientId, OAuthClientSettings, ResourceKind, SecretMeta,
};
use jiralink_vault::{KeyId, Sealed};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Row, SqlitePool, sqlite::SqliteRow};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::model::{
    DebugDirection, DebugLine, SecretField, SecretOwner, SecretWrite, StoredSecret,
};
use crate::{
    AuditStore, ConnectionStore, DebugLogStore, OAuthClientStore, SecretStore, StoreError,
    StoreResult,
};

mod oauth;
mod users;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// The file name of the database inside the data directory.
pub const DATABASE_FILE: &str = "jiralink.db";

/// How long a connection waits for another writer before failing with "database is locked".
/// Work done while holding a write lock (a token refresh's request to Atlassian) must stay
/// well below it.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// SQLite-backed [`crate::Store`].
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    /// Opens (creating if needed) the database file and applies pending migrations.
    pub async fn open(path: &Path) -> StoreResult<Self> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(BUSY_TIMEOUT);
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await
            .map_err(|source| StoreError::Open {
                path: path.display().to_string(),
                source,
            })?;
        MIGRATOR.run(&pool).await?;
        Ok(Self { pool })
    }

    /// Closes the pool, checkpointing the WAL into the main file.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

// Times are stored as fixed-width UTC text so that text order is time order.
const TIME_FORMAT: &[time::format_description::BorrowedFormatItem<'static>] = time::macros::format_description!(
    "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z"
);

fn fmt_time(t: OffsetDateTime) -> String {
    t.to_offset(time::UtcOffset::UTC)
        .format(TIME_FORMAT)
        .unwrap_or_else(|_| t.unix_timestamp().to_string())
}

fn parse_time(s: &str) -> StoreResult<OffsetDateTime> {
    time::PrimitiveDateTime::parse(s, TIME_FORMAT)
        .map(|t| t.assume_utc())
        .map_err(|e| StoreError::Corrupt(format!("timestamp {s:?}: {e}")))
}

fn parse_uuid(s: &str) -> StoreResult<Uuid> {
    Uuid::parse_str(s).map_err(|e| StoreError::Corrupt(format!("id {s:?}: {e}")))
}

fn to_json<T: serde::Serialize>(v: &T) -> StoreResult<String> {
    serde_json::to_string(v).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn from_json<T: serde::de::DeserializeOwned>(what: &str, s: &str) -> StoreResult<T> {
    serde_json::from_str(s).map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))
}

/// Unit-like enums are stored as their serde name.
fn enum_str<T: serde::Serialize>(v: &T) -> StoreResult<String> {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => Ok(s),
        Ok(other) => Err(StoreError::Corrupt(format!("unexpected enum form {other}"))),
        Err(e) => Err(StoreError::Corrupt(e.to_string())),
    }
}

fn str_enum<T: serde::de::DeserializeOwned>(what: &str, s: &str) -> StoreResult<T> {
    serde_json::from_value(serde_json::Value::String(s.to_owned()))
        .map_err(|e| StoreError::Corrupt(format!("{what} {s:?}: {e}")))
}

fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.is_unique_violation())
}

/// What a failed write of a named record means to callers: a name already taken, or (for a
/// connection) an OAuth 2.0 client that no longer exists.
fn named_write_error(e: sqlx::Error, kind: &'static str, name: &str) -> StoreError {
    if is_unique_violation(&e) {
        StoreError::Conflict {
            kind,
            name: name.to_owned(),
        }
    } else if is_foreign_key_violation(&e) {
        StoreError::NotFound {
            kind: "OAuth 2.0 client",
        }
    } else {
        e.into()
    }
}

fn is_foreign_key_violation(e: &sqlx::Error) -> bool {
    // SQLite enforces ON DELETE RESTRICT through an internal trigger, so that violation
    // carries SQLITE_CONSTRAINT_TRIGGER rather than the foreign-key code sqlx recognises.
    matches!(e, sqlx::Error::Database(d)
        if d.is_foreign_key_violation() || d.message().contains("FOREIGN KEY constraint failed"))
}

/// A connection with the time its API token was last set; `$tail` adds WHERE / ORDER BY.
macro_rules! select_connections {
    ($tail:literal) => {
        concat!(
            "SELECT c.id, c.settings, c.state, c.state_changed_at, c.created_at, c.updated_at, \
             c.cloud_id, c.last_tested_at, c.debug_until, \
             s.updated_at AS api_token_updated_at \
             FROM connections c LEFT JOIN secrets s ON s.owner_kind = 'connection' \
             AND s.owner_id = c.id AND s.field = 'api_token' ",
            $tail
        )
    };
}

fn connection_from_row(row: &SqliteRow) -> StoreResult<Connection> {
    let id: String = row.try_get("id")?;
    let settings: String = row.try_get("settings")?;
    let state: String = row.try_get("state")?;
    let state_changed_at: Option<String> = row.try_get("state_changed_at")?;
    let created_at: String = row.try_get("created_at")?;
    let updated_at: String = row.try_get("updated_at")?;
    let token_at: Option<String> = row.try_get("api_token_updated_at")?;
    let cloud_id: Option<String> = row.try_get("cloud_id")?;
    let last_tested_at: Option<String> = row.try_get("last_tested_at")?;
    let debug_until: Option<String> = row.try_get("debug_until")?;
    Ok(Connection {
        id: ConnectionId(parse_uuid(&id)?),
        settings: from_json::<ConnectionSettings>("connection settings", &settings)?,
        state: from_json::<ConnectionState>("connection state", &state)?,
        state_changed_at: state_changed_at.as_deref().map(parse_time).transpose()?,
        created_at: parse_time(&created_at)?,
        updated_at: parse_time(&updated_at)?,
        api_token: token_at
            .as_deref()
            .map(parse_time)
            .transpose()?
            .map(|updated_at| SecretMeta { updated_at }),
        cloud_id,
        last_tested_at: last_tested_at.as_deref().map(parse_time).transpose()?,
        debug_until: debug_until.as_deref().map(parse_time).transpose()?,
    })
}

/// An OAuth 2.0 client with the time its secret was last set.
macro_rules! select_clients {
    ($tail:literal) => {
        concat!(
            "SELECT o.id, o.name, o.client_id, o.created_at, o.updated_at, \
             s.updated_at AS secret_updated_at \
             FROM oauth_clients o LEFT JOIN secrets s ON s.owner_kind = 'oauth_client' \
             AND s.owner_id = o.id AND s.field = 'client_secret' ",
            $tail
        )
    };
}

fn client_from_row(row: &SqliteRow) -> StoreResult<OAuthClient> {
    let id: String = row.try_get("id")?;
    let name: String = row.try_get("name")?;
    let client_id: String = row.try_get("client_id")?;
    let created_at: String = row.try_get("created_at")?;
    let updated_at: String = row.try_get("updated_at")?;
    let secret_at: Option<String> = row.try_get("secret_updated_at")?;
    let settings = OAuthClientSettings {
        name: jiralink_domain::ConnectionName::parse(&name)
            .map_err(|e| StoreError::Corrupt(format!("oauth client name: {e}")))?,
        client_id,
    };
    Ok(OAuthClient {
        id: OAuthClientId(parse_uuid(&id)?),
        settings,
        created_at: parse_time(&created_at)?,
        updated_at: parse_time(&updated_at)?,
        client_secret: secret_at
            .as_deref()
            .map(parse_time)
            .transpose()?
            .map(|updated_at| SecretMeta { updated_at }),
    })
}

fn oauth_client_of(settings: &ConnectionSettings) -> Option<String> {
    match &settings.auth {
        jiralink_domain::ConnectionAuth::OAuth2 { client, .. } => Some(client.to_string()),
        jiralink_domain::ConnectionAuth::Basic { .. } => None,
    }
}

async fn write_secrets(
    tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
    owner: SecretOwner,
    secrets: &[SecretWrite],
    at: OffsetDateTime,
) -> StoreResult<()> {
    for s in secrets {
        sqlx::query(
            "INSERT INTO secrets (owner_kind, owner_id, field, key_id, sealed, updated_at) \
             VALUES (?, ?, ?, ?, ?, ?) \
             ON CONFLICT (owner_kind, owner_id, field) DO UPDATE SET \
             key_id = excluded.key_id, sealed = excluded.sealed, updated_at = excluded.updated_at",
        )
        .bind(owner.kind())
        .bind(owner.id().to_string())
        .bind(s.field.as_str())
        .bind(s.sealed.key_id().to_string())
        .bind(s.sealed.to_text())
        .bind(fmt_time(at))
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// The end of every write of a connection or client: its sealed secrets and its audit entry
/// commit together with it.
async fn commit_with_secrets_and_audit(
    mut tx: sqlx::Transaction<'_, sqlx::Sqlite>,
    owner: SecretOwner,
    secrets: &[SecretWrite],
    at: OffsetDateTime,
    audit: &AuditEntry,
) -> StoreResult<()> {
    write_secrets(&mut tx, owner, secrets, at).await?;
    insert_audit(&mut tx, audit).await?;
    tx.commit().await?;
    Ok(())
}

async fn insert_audit(
    tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
    e: &AuditEntry,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO audit_log (id, at, actor, source, action, resource_kind, resource_id, \
         resource_name, changes) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(e.id.to_string())
    .bind(fmt_time(e.at))
    .bind(&e.actor)
    .bind(enum_str(&e.source)?)
    .bind(enum_str(&e.action)?)
    .bind(enum_str(&e.resource_kind)?)
    .bind(e.resource_id.to_string())
    .bind(&e.resource_name)
    .bind(to_json(&e.changes)?)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

#[async_trait]
impl ConnectionStore for SqliteStore {
    async fn list_connections(&self) -> StoreResult<Vec<Connection>> {
        let rows = sqlx::query(select_connections!("ORDER BY c.name_key"))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(connection_from_row).collect()
    }

    async fn get_connection(&self, id: ConnectionId) -> StoreResult<Connection> {
        let row = sqlx::query(select_connections!("WHERE c.id = ?"))
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::NotFound { kind: "connection" })?;
        connection_from_row(&row)
    }

    async fn find_connection_by_name(&self, name: &str) -> StoreResult<Option<Connection>> {
        let key = name_key(name);
        let row = sqlx::query(select_connections!("WHERE c.name_key = ?"))
            .bind(key)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(connection_from_row).transpose()
    }

    async fn insert_connection(
        &self,
        c: &Connection,
        secrets: &[SecretWrite],
        audit: &AuditEntry,
    ) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        let res = sqlx::query(
            "INSERT INTO connections (id, name, name_key, api_type, auth_type, oauth_client_id, \
             settings, state, state_changed_at, created_at, updated_at, cloud_id, \
             last_tested_at, debug_until) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(c.id.to_string())
        .bind(c.settings.name.as_str())
        .bind(c.settings.name.key())
        .bind(c.settings.api_type.id())
        .bind(enum_str(&c.settings.auth.auth_type())?)
        .bind(oauth_client_of(&c.settings))
        .bind(to_json(&c.settings)?)
        .bind(to_json(&c.state)?)
        .bind(c.state_changed_at.map(fmt_time))
        .bind(fmt_time(c.created_at))
        .bind(fmt_time(c.updated_at))
        .bind(c.cloud_id.as_deref())
        .bind(c.last_tested_at.map(fmt_time))
        .bind(c.debug_until.map(fmt_time))
        .execute(&mut *tx)
        .await;
        res.map_err(|e| named_write_error(e, "connection", c.settings.name.as_str()))?;
        commit_with_secrets_and_audit(
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
        c: &Connection,
        secrets: &[SecretWrite],
        audit: &AuditEntry,
    ) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        let res = sqlx::query(
            "UPDATE connections SET name = ?, name_key = ?, api_type = ?, auth_type = ?, \
             oauth_client_id = ?, settings = ?, state = ?, state_changed_at = ?, updated_at = ?, \
             cloud_id = ?, last_tested_at = ? WHERE id = ?",
        )
        .bind(c.settings.name.as_str())
        .bind(c.settings.name.key())
        .bind(c.settings.api_type.id())
        .bind(enum_str(&c.settings.auth.auth_type())?)
        .bind(oauth_client_of(&c.settings))
        .bind(to_json(&c.settings)?)
        .bind(to_json(&c.state)?)
        .bind(c.state_changed_at.map(fmt_time))
        .bind(fmt_time(c.updated_at))
        .bind(c.cloud_id.as_deref())
        .bind(c.last_tested_at.map(fmt_time))
        .bind(c.id.to_string())
        .execute(&mut *tx)
        .await;
        let done = res.map_err(|e| named_write_error(e, "connection", c.settings.name.as_str()))?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound { kind: "connection" });
        }
        // A connection keeps only the secrets its auth type uses: an OAuth connection no API
        // token, a Basic one no OAuth tokens, and one that needs authorizing again no tokens
        // granted for its old client, scopes or site.
        let keep: Vec<&str> = match (&c.settings.auth, &c.state) {
            (jiralink_domain::ConnectionAuth::Basic { .. }, _) => vec!["api_token"],
            (
                jiralink_domain::ConnectionAuth::OAuth2 { .. },
                ConnectionState::NeedsAuthorization,
            ) => {
                vec![]
            }
            (jiralink_domain::ConnectionAuth::OAuth2 { .. }, _) => {
                vec!["access_token", "refresh_token"]
            }
        };
        let mut q = sqlx::QueryBuilder::<sqlx::Sqlite>::new(
            "DELETE FROM secrets WHERE owner_kind = 'connection' AND owner_id = ",
        );
        q.push_bind(c.id.to_string());
        if !keep.is_empty() {
            q.push(" AND field NOT IN (");
            let mut sep = q.separated(", ");
            for k in keep {
                sep.push_bind(k);
            }
            q.push(")");
        }
        q.build().execute(&mut *tx).await?;
        commit_with_secrets_and_audit(
            tx,
            SecretOwner::Connection(c.id),
            secrets,
            c.updated_at,
            audit,
        )
        .await
    }

    async fn set_connection_state(
        &self,
        id: ConnectionId,
        state: &ConnectionState,
        at: OffsetDateTime,
    ) -> StoreResult<()> {
        let done =
            sqlx::query("UPDATE connections SET state = ?, state_changed_at = ? WHERE id = ?")
                .bind(to_json(state)?)
                .bind(fmt_time(at))
                .bind(id.to_string())
                .execute(&self.pool)
                .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound { kind: "connection" });
        }
        Ok(())
    }

    async fn record_connection_test(
        &self,
        id: ConnectionId,
        tested_version: OffsetDateTime,
        state: &ConnectionState,
        tested_at: OffsetDateTime,
        cloud_id: Option<&str>,
    ) -> StoreResult<()> {
        let state = to_json(state)?;
        // One statement: the version check and the write cannot be split by an edit.
        let done = sqlx::query(
            "UPDATE connections SET \
             state_changed_at = CASE WHEN state = ? THEN state_changed_at ELSE ? END, \
             state = ?, last_tested_at = ?, cloud_id = COALESCE(?, cloud_id) \
             WHERE id = ? AND updated_at = ?",
        )
        .bind(&state)
        .bind(fmt_time(tested_at))
        .bind(&state)
        .bind(fmt_time(tested_at))
        .bind(cloud_id)
        .bind(id.to_string())
        .bind(fmt_time(tested_version))
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 0 {
            let exists = sqlx::query("SELECT 1 FROM connections WHERE id = ?")
                .bind(id.to_string())
                .fetch_optional(&self.pool)
                .await?
                .is_some();
            return Err(if exists {
                StoreError::Changed { kind: "connection" }
            } else {
                StoreError::NotFound { kind: "connection" }
            });
        }
        Ok(())
    }

    async fn set_debug_until(
        &self,
        id: ConnectionId,
        until: Option<OffsetDateTime>,
    ) -> StoreResult<()> {
        let done = sqlx::query("UPDATE connections SET debug_until = ? WHERE id = ?")
            .bind(until.map(fmt_time))
            .bind(id.to_string())
            .execute(&self.pool)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound { kind: "connection" });
        }
        Ok(())
    }

    async fn delete_connection(&self, id: ConnectionId, audit: &AuditEntry) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query("DELETE FROM connections WHERE id = ?")
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound { kind: "connection" });
        }
        sqlx::query("DELETE FROM secrets WHERE owner_kind = 'connection' AND owner_id = ?")
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?;
        insert_audit(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn connections_using_client(
        &self,
        client: OAuthClientId,
    ) -> StoreResult<Vec<(ConnectionId, String)>> {
        let rows = sqlx::query(
            "SELECT id, name FROM connections WHERE oauth_client_id = ? ORDER BY name_key",
        )
        .bind(client.to_string())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let id: String = r.try_get("id")?;
                let name: String = r.try_get("name")?;
                Ok((ConnectionId(parse_uuid(&id)?), name))
            })
            .collect()
    }
}

#[async_trait]
impl OAuthClientStore for SqliteStore {
    async fn list_oauth_clients(&self) -> StoreResult<Vec<OAuthClient>> {
        let rows = sqlx::query(select_clients!("ORDER BY o.name_key"))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(client_from_row).collect()
    }

    async fn get_oauth_client(&self, id: OAuthClientId) -> StoreResult<OAuthClient> {
        let row = sqlx::query(select_clients!("WHERE o.id = ?"))
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::NotFound {
                kind: "OAuth 2.0 client",
            })?;
        client_from_row(&row)
    }

    async fn find_oauth_client_by_name(&self, name: &str) -> StoreResult<Option<OAuthClient>> {
        let row = sqlx::query(select_clients!("WHERE o.name_key = ?"))
            .bind(name_key(name))
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(client_from_row).transpose()
    }

    async fn insert_oauth_client(
        &self,
        o: &OAuthClient,
        secrets: &[SecretWrite],
        audit: &AuditEntry,
    ) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        let res = sqlx::query(
            "INSERT INTO oauth_clients (id, name, name_key, client_id, created_at, updated_at) \
             VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(o.id.to_string())
        .bind(o.settings.name.as_str())
        .bind(o.settings.name.key())
        .bind(&o.settings.client_id)
        .bind(fmt_time(o.created_at))
        .bind(fmt_time(o.updated_at))
        .execute(&mut *tx)
        .await;
        res.map_err(|e| named_write_error(e, "OAuth 2.0 client", o.settings.name.as_str()))?;
        commit_with_secrets_and_audit(
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
    ) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        let res = sqlx::query(
            "UPDATE oauth_clients SET name = ?, name_key = ?, client_id = ?, updated_at = ? \
             WHERE id = ?",
        )
        .bind(o.settings.name.as_str())
        .bind(o.settings.name.key())
        .bind(&o.settings.client_id)
        .bind(fmt_time(o.updated_at))
        .bind(o.id.to_string())
        .execute(&mut *tx)
        .await;
        let done =
            res.map_err(|e| named_write_error(e, "OAuth 2.0 client", o.settings.name.as_str()))?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound {
                kind: "OAuth 2.0 client",
            });
        }
        commit_with_secrets_and_audit(
            tx,
            SecretOwner::OAuthClient(o.id),
            secrets,
            o.updated_at,
            audit,
        )
        .await
    }

    async fn delete_oauth_client(&self, id: OAuthClientId, audit: &AuditEntry) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        let res = sqlx::query("DELETE FROM oauth_clients WHERE id = ?")
            .bind(id.to_string())
            .execute(&mut *tx)
            .await;
        let done = match res {
            Err(e) if is_foreign_key_violation(&e) => {
                return Err(StoreError::InUse {
                    kind: "OAuth 2.0 client",
                });
            }
            other => other?,
        };
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound {
                kind: "OAuth 2.0 client",
            });
        }
        sqlx::query("DELETE FROM secrets WHERE owner_kind = 'oauth_client' AND owner_id = ?")
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?;
        insert_audit(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(())
    }
}

fn secret_from_row(row: &SqliteRow) -> StoreResult<StoredSecret> {
    let kind: String = row.try_get("owner_kind")?;
    let id: String = row.try_get("owner_id")?;
    let field: String = row.try_get("field")?;
    let sealed: String = row.try_get("sealed")?;
    let updated_at: String = row.try_get("updated_at")?;
    Ok(StoredSecret {
        owner: SecretOwner::parse(&kind, &id)
            .ok_or_else(|| StoreError::Corrupt(format!("secret owner {kind}/{id}")))?,
        field: SecretField::parse(&field)
            .ok_or_else(|| StoreError::Corrupt(format!("secret field {field:?}")))?,
        sealed: Sealed::parse(&sealed)
            .map_err(|e| StoreError::Corrupt(format!("sealed secret of {kind}/{id}: {e}")))?,
        updated_at: parse_time(&updated_at)?,
    })
}

#[async_trait]
impl SecretStore for SqliteStore {
    async fn get_secret(
        &self,
        owner: SecretOwner,
        field: SecretField,
    ) -> StoreResult<Option<StoredSecret>> {
        let row = sqlx::query(
            "SELECT owner_kind, owner_id, field, sealed, updated_at FROM secrets \
             WHERE owner_kind = ? AND owner_id = ? AND field = ?",
        )
        .bind(owner.kind())
        .bind(owner.id().to_string())
        .bind(field.as_str())
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(secret_from_row).transpose()
    }

    async fn list_secrets(&self) -> StoreResult<Vec<StoredSecret>> {
        let rows = sqlx::query(
            "SELECT owner_kind, owner_id, field, sealed, updated_at FROM secrets \
             ORDER BY owner_kind, owner_id, field",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(secret_from_row).collect()
    }

    async fn delete_secret(&self, owner: SecretOwner, field: SecretField) -> StoreResult<bool> {
        let done =
            sqlx::query("DELETE FROM secrets WHERE owner_kind = ? AND owner_id = ? AND field = ?")
                .bind(owner.kind())
                .bind(owner.id().to_string())
                .bind(field.as_str())
                .execute(&self.pool)
                .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn count_secrets_by_key(&self) -> StoreResult<Vec<(KeyId, u64)>> {
        let rows = sqlx::query(
            "SELECT key_id, COUNT(*) AS n FROM secrets GROUP BY key_id ORDER BY key_id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let kid: String = r.try_get("key_id")?;
                let n: i64 = r.try_get("n")?;
                let kid = KeyId::from_str(&kid)
                    .map_err(|e| StoreError::Corrupt(format!("key id {kid:?}: {e}")))?;
                Ok((kid, u64::try_from(n).unwrap_or(0)))
            })
            .collect()
    }

    async fn reseal_secret(
        &self,
        owner: SecretOwner,
        field: SecretField,
        expected: &KeyId,
        sealed: &Sealed,
    ) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE secrets SET key_id = ?, sealed = ? \
             WHERE owner_kind = ? AND owner_id = ? AND field = ? AND key_id = ?",
        )
        .bind(sealed.key_id().to_string())
        .bind(sealed.to_text())
        .bind(owner.kind())
        .bind(owner.id().to_string())
        .bind(field.as_str())
        .bind(expected.to_string())
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }
}

#[async_trait]
impl AuditStore for SqliteStore {
    async fn append_audit(&self, entry: &AuditEntry) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        insert_audit(&mut tx, entry).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn list_audit(&self, kind: ResourceKind, id: Uuid) -> StoreResult<Vec<AuditEntry>> {
        let rows = sqlx::query(
            "SELECT id, at, actor, source, action, resource_kind, resource_id, resource_name, \
             changes FROM audit_log WHERE resource_kind = ? AND resource_id = ? \
             ORDER BY at, rowid",
        )
        .bind(enum_str(&kind)?)
        .bind(id.to_string())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let id: String = r.try_get("id")?;
                let at: String = r.try_get("at")?;
                let source: String = r.try_get("source")?;
                let action: String = r.try_get("action")?;
                let kind: String = r.try_get("resource_kind")?;
                let rid: String = r.try_get("resource_id")?;
                let changes: String = r.try_get("changes")?;
                Ok(AuditEntry {
                    id: parse_uuid(&id)?,
                    at: parse_time(&at)?,
                    actor: r.try_get("actor")?,
                    source: str_enum("audit source", &source)?,
                    action: str_enum("audit action", &action)?,
                    resource_kind: str_enum("resource kind", &kind)?,
                    resource_id: parse_uuid(&rid)?,
                    resource_name: r.try_get("resource_name")?,
                    changes: from_json("audit changes", &changes)?,
                })
            })
            .collect()
    }
}

fn debug_line_from_row(row: &SqliteRow) -> StoreResult<DebugLine> {
    let connection: String = row.try_get("connection_id")?;
    let at: String = row.try_get("at")?;
    let direction: String = row.try_get("direction")?;
    let status: Option<i64> = row.try_get("status")?;
    let duration_ms: Option<i64> = row.try_get("duration_ms")?;
    let headers: String = row.try_get("headers")?;
    Ok(DebugLine {
        connection: ConnectionId(parse_uuid(&connection)?),
        at: parse_time(&at)?,
        request_id: row.try_get("request_id")?,
        direction: DebugDirection::parse(&direction)
            .ok_or_else(|| StoreError::Corrupt(format!("debug line direction {direction:?}")))?,
        method: row.try_get("method")?,
        url: row.try_get("url")?,
        status: status.and_then(|s| u16::try_from(s).ok()),
        duration_ms: duration_ms.and_then(|d| u64::try_from(d).ok()),
        headers: from_json("debug line headers", &headers)?,
        body: row.try_get("body")?,
    })
}

#[async_trait]
impl DebugLogStore for SqliteStore {
    async fn append_debug_lines(&self, lines: &[DebugLine]) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        for l in lines {
            sqlx::query(
                "INSERT INTO debug_log (connection_id, at, request_id, direction, method, url, \
                 status, duration_ms, headers, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(l.connection.to_string())
            .bind(fmt_time(l.at))
            .bind(&l.request_id)
            .bind(l.direction.as_str())
            .bind(&l.method)
            .bind(&l.url)
            .bind(l.status.map(i64::from))
            .bind(l.duration_ms.map(|d| i64::try_from(d).unwrap_or(i64::MAX)))
            .bind(to_json(&l.headers)?)
            .bind(l.body.as_deref())
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn list_debug_lines(
        &self,
        connection: ConnectionId,
        since: OffsetDateTime,
    ) -> StoreResult<Vec<DebugLine>> {
        let rows = sqlx::query(
            "SELECT connection_id, at, request_id, direction, method, url, status, duration_ms, \
             headers, body FROM debug_log WHERE connection_id = ? AND at >= ? ORDER BY at, seq",
        )
        .bind(connection.to_string())
        .bind(fmt_time(since))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(debug_line_from_row).collect()
    }

    async fn clear_debug_lines(&self, connection: ConnectionId) -> StoreResult<u64> {
        let done = sqlx::query("DELETE FROM debug_log WHERE connection_id = ?")
            .bind(connection.to_string())
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    async fn purge_debug_lines(&self, before: OffsetDateTime) -> StoreResult<u64> {
        let done = sqlx::query("DELETE FROM debug_log WHERE at < ?")
            .bind(fmt_time(before))
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }
}

/// The same key [`jiralink_domain::ConnectionName::key`] computes, for look-ups by a raw name.
fn name_key(name: &str) -> String {
    jiralink_domain::ConnectionName::parse(name)
        .map(|n| n.key())
        .unwrap_or_else(|_| name.trim().to_lowercase())
}
