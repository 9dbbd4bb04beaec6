//! [`UserStore`] on SQLite.

use async_trait::async_trait;
use jiralink_domain::AuditEntry;
use sqlx::Row as _;
use sqlx::sqlite::SqliteRow;
use time::OffsetDateTime;
use uuid::Uuid;

use super::{fmt_time, insert_audit, named_write_error, parse_time, parse_uuid};
use crate::users::{ApiKeyRecord, SessionRecord, UserRecord, username_key};
use crate::{SqliteStore, StoreError, StoreResult, UserStore};

// Column lists as macros, so queries stay `concat!`-ed literals.
macro_rules! user_columns {
    () => {
        "u.id, u.username, u.password_hash, u.is_admin, u.created_at, u.updated_at"
    };
}

macro_rules! api_key_columns {
    () => {
        "k.id AS k_id, k.user_id AS k_user_id, k.name AS k_name, k.prefix AS k_prefix, \
         k.key_hash AS k_key_hash, k.created_at AS k_created_at, \
         k.last_used_at AS k_last_used_at"
    };
}

fn user_from_row(row: &SqliteRow) -> StoreResult<UserRecord> {
    let id: String = row.try_get("id")?;
    let created_at: String = row.try_get("created_at")?;
    let updated_at: String = row.try_get("updated_at")?;
    Ok(UserRecord {
        id: parse_uuid(&id)?,
        username: row.try_get("username")?,
        password_hash: row.try_get("password_hash")?,
        is_admin: row.try_get::<i64, _>("is_admin")? != 0,
        created_at: parse_time(&created_at)?,
        updated_at: parse_time(&updated_at)?,
    })
}

fn session_from_row(row: &SqliteRow) -> StoreResult<SessionRecord> {
    let user_id: String = row.try_get("s_user_id")?;
    let created_at: String = row.try_get("s_created_at")?;
    let last_seen_at: String = row.try_get("s_last_seen_at")?;
    let expires_at: String = row.try_get("s_expires_at")?;
    Ok(SessionRecord {
        id: row.try_get("s_id")?,
        user_id: parse_uuid(&user_id)?,
        csrf_token: row.try_get("s_csrf_token")?,
        created_at: parse_time(&created_at)?,
        last_seen_at: parse_time(&last_seen_at)?,
        expires_at: parse_time(&expires_at)?,
    })
}

fn api_key_from_row(row: &SqliteRow) -> StoreResult<ApiKeyRecord> {
    let id: String = row.try_get("k_id")?;
    let user_id: String = row.try_get("k_user_id")?;
    let created_at: String = row.try_get("k_created_at")?;
    let last_used_at: Option<String> = row.try_get("k_last_used_at")?;
    Ok(ApiKeyRecord {
        id: parse_uuid(&id)?,
        user_id: parse_uuid(&user_id)?,
        name: row.try_get("k_name")?,
        prefix: row.try_get("k_prefix")?,
        key_hash: row.try_get("k_key_hash")?,
        created_at: parse_time(&created_at)?,
        last_used_at: last_used_at.as_deref().map(parse_time).transpose()?,
    })
}

/// Binds a user's columns, in the order `INSERT INTO users` lists them in both inserts.
fn bind_user<'q>(
    query: sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments>,
    user: &'q UserRecord,
) -> sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments> {
    query
        .bind(user.id.to_string())
        .bind(&user.username)
        .bind(username_key(&user.username))
        .bind(&user.password_hash)
        .bind(i64::from(user.is_admin))
        .bind(fmt_time(user.created_at))
        .bind(fmt_time(user.updated_at))
}

/// A write naming a user that does not exist (the foreign key to `users`).
fn missing_user_error(e: sqlx::Error) -> StoreError {
    if super::is_foreign_key_violation(&e) {
        StoreError::NotFound { kind: "user" }
    } else {
        e.into()
    }
}

#[async_trait]
impl UserStore for SqliteStore {
    async fn list_users(&self) -> StoreResult<Vec<UserRecord>> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            user_columns!(),
            " FROM users u ORDER BY u.username_key"
        ))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(user_from_row).collect()
    }

    async fn get_user(&self, id: Uuid) -> StoreResult<UserRecord> {
        let row = sqlx::query(concat!(
            "SELECT ",
            user_columns!(),
            " FROM users u WHERE u.id = ?"
        ))
        .bind(id.to_string())
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound { kind: "user" })?;
        user_from_row(&row)
    }

    async fn find_user_by_name(&self, username: &str) -> StoreResult<Option<UserRecord>> {
        let row = sqlx::query(concat!(
            "SELECT ",
            user_columns!(),
            " FROM users u WHERE u.username_key = ?"
        ))
        .bind(username_key(username))
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(user_from_row).transpose()
    }

    async fn insert_user(&self, user: &UserRecord, audit: &AuditEntry) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        bind_user(
            sqlx::query(
                "INSERT INTO users (id, username, username_key, password_hash, is_admin, \
                 created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            ),
            user,
        )
        .execute(&mut *tx)
        .await
        .map_err(|e| named_write_error(e, "user", &user.username))?;
        insert_audit(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn insert_first_user(&self, user: &UserRecord, audit: &AuditEntry) -> StoreResult<bool> {
        let mut tx = self.pool.begin().await?;
        let done = bind_user(
            sqlx::query(
                "INSERT INTO users (id, username, username_key, password_hash, is_admin, \
                 created_at, updated_at) SELECT ?, ?, ?, ?, ?, ?, ? \
                 WHERE NOT EXISTS (SELECT 1 FROM users)",
            ),
            user,
        )
        .execute(&mut *tx)
        .await
        .map_err(|e| named_write_error(e, "user", &user.username))?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        insert_audit(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn set_password(
        &self,
        id: Uuid,
        password_hash: &str,
        at: OffsetDateTime,
        audit: &AuditEntry,
    ) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query("UPDATE users SET password_hash = ?, updated_at = ? WHERE id = ?")
            .bind(password_hash)
            .bind(fmt_time(at))
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound { kind: "user" });
        }
        sqlx::query("DELETE FROM sessions WHERE user_id = ?")
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?;
        insert_audit(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn delete_user(&self, id: Uuid, audit: &AuditEntry) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        // The count is part of the statement, so two concurrent deletions of the last two
        // administrators cannot both succeed.
        let done = sqlx::query(
            "DELETE FROM users WHERE id = ? AND (is_admin = 0 OR \
             (SELECT COUNT(*) FROM users WHERE is_admin = 1) > 1)",
        )
        .bind(id.to_string())
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            let exists: Option<(i64,)> = sqlx::query_as("SELECT 1 FROM users WHERE id = ?")
                .bind(id.to_string())
                .fetch_optional(&mut *tx)
                .await?;
            return Err(match exists {
                Some(_) => StoreError::InUse {
                    kind: "the last administrator",
                },
                None => StoreError::NotFound { kind: "user" },
            });
        }
        insert_audit(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn insert_session(&self, s: &SessionRecord) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM sessions WHERE expires_at <= ?")
            .bind(fmt_time(s.created_at))
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO sessions (id, user_id, csrf_token, created_at, last_seen_at, \
             expires_at) VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(&s.id)
        .bind(s.user_id.to_string())
        .bind(&s.csrf_token)
        .bind(fmt_time(s.created_at))
        .bind(fmt_time(s.last_seen_at))
        .bind(fmt_time(s.expires_at))
        .execute(&mut *tx)
        .await
        .map_err(missing_user_error)?;
        tx.commit().await?;
        Ok(())
    }

    async fn get_session(&self, id: &str) -> StoreResult<Option<(SessionRecord, UserRecord)>> {
        let row = sqlx::query(concat!(
            "SELECT s.id AS s_id, s.user_id AS s_user_id, s.csrf_token AS s_csrf_token, \
             s.created_at AS s_created_at, s.last_seen_at AS s_last_seen_at, \
             s.expires_at AS s_expires_at, ",
            user_columns!(),
            " \
             FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id = ?"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| Ok((session_from_row(&r)?, user_from_row(&r)?)))
            .transpose()
    }

    async fn touch_session(&self, id: &str, at: OffsetDateTime) -> StoreResult<()> {
        sqlx::query("UPDATE sessions SET last_seen_at = ? WHERE id = ?")
            .bind(fmt_time(at))
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn delete_session(&self, id: &str) -> StoreResult<bool> {
        let done = sqlx::query("DELETE FROM sessions WHERE id = ?")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn delete_user_sessions(&self, user: Uuid) -> StoreResult<u64> {
        let done = sqlx::query("DELETE FROM sessions WHERE user_id = ?")
            .bind(user.to_string())
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    async fn record_login_failure(
        &self,
        username_key: &str,
        address: &str,
        at: OffsetDateTime,
        forget_before: OffsetDateTime,
    ) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM login_attempts WHERE at < ?")
            .bind(fmt_time(forget_before))
            .execute(&mut *tx)
            .await?;
        sqlx::query("INSERT INTO login_attempts (username_key, address, at) VALUES (?, ?, ?)")
            .bind(username_key)
            .bind(address)
            .bind(fmt_time(at))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn login_failures(
        &self,
        username_key: &str,
        address: &str,
        since: OffsetDateTime,
    ) -> StoreResult<Vec<OffsetDateTime>> {
        let rows: Vec<(String,)> = sqlx::query_as(
            "SELECT at FROM login_attempts WHERE username_key = ? AND address = ? AND at >= ? \
             ORDER BY at",
        )
        .bind(username_key)
        .bind(address)
        .bind(fmt_time(since))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|(at,)| parse_time(at)).collect()
    }

    async fn clear_login_failures(&self, username_key: &str, address: &str) -> StoreResult<()> {
        sqlx::query("DELETE FROM login_attempts WHERE username_key = ? AND address = ?")
            .bind(username_key)
            .bind(address)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn insert_api_key(&self, key: &ApiKeyRecord, audit: &AuditEntry) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO api_keys (id, user_id, name, prefix, key_hash, created_at, \
             last_used_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(key.id.to_string())
        .bind(key.user_id.to_string())
        .bind(&key.name)
        .bind(&key.prefix)
        .bind(&key.key_hash)
        .bind(fmt_time(key.created_at))
        .bind(key.last_used_at.map(fmt_time))
        .execute(&mut *tx)
        .await
        .map_err(missing_user_error)?;
        insert_audit(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn list_api_keys(&self, user: Option<Uuid>) -> StoreResult<Vec<(ApiKeyRecord, String)>> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            api_key_columns!(),
            ", u.username AS username FROM api_keys k \
             JOIN users u ON u.id = k.user_id WHERE (? IS NULL OR k.user_id = ?) \
             ORDER BY k.created_at, k.id"
        ))
        .bind(user.map(|u| u.to_string()))
        .bind(user.map(|u| u.to_string()))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok((api_key_from_row(r)?, r.try_get("username")?)))
            .collect()
    }

    async fn find_api_key(
        &self,
        key_hash: &str,
    ) -> StoreResult<Option<(ApiKeyRecord, UserRecord)>> {
        let row = sqlx::query(concat!(
            "SELECT ",
            api_key_columns!(),
            ", ",
            user_columns!(),
            " FROM api_keys k \
             JOIN users u ON u.id = k.user_id WHERE k.key_hash = ?"
        ))
        .bind(key_hash)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| Ok((api_key_from_row(&r)?, user_from_row(&r)?)))
            .transpose()
    }

    async fn touch_api_key(&self, id: Uuid, at: OffsetDateTime) -> StoreResult<()> {
        sqlx::query("UPDATE api_keys SET last_used_at = ? WHERE id = ?")
            .bind(fmt_time(at))
            .bind(id.to_string())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn delete_api_key(&self, id: Uuid, audit: &AuditEntry) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query("DELETE FROM api_keys WHERE id = ?")
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound { kind: "API key" });
        }
        insert_audit(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(())
    }
}
