//! [`UserStore`].

use async_trait::async_trait;
use jiralink_domain::AuditEntry;
use time::OffsetDateTime;
use uuid::Uuid;

use super::{
    Backend, RowExt, SqlStore, args, exec, found, insert_audit, missing_parent, named_write_error,
    opt,
};
use crate::codec::{fmt_time, from_u64, parse_opt_time, parse_time, parse_uuid, to_u64};
use crate::users::{ApiKeyRecord, SessionRecord, UserRecord, username_key};
use crate::{SignInAttempt, StoreError, StoreResult, UserStore};

// Column lists as macros, so queries stay `concat!`-ed literals.
macro_rules! user_columns {
    () => {
        "u.id, u.username, u.password_hash, u.is_admin, u.created_at, u.updated_at, u.version"
    };
}

macro_rules! api_key_columns {
    () => {
        "k.id AS k_id, k.user_id AS k_user_id, k.name AS k_name, k.prefix AS k_prefix, \
         k.key_hash AS k_key_hash, k.created_at AS k_created_at, \
         k.last_used_at AS k_last_used_at"
    };
}

const INSERT_USER: &str = "INSERT INTO users (id, username, username_key, password_hash, \
                           is_admin, created_at, updated_at, version)";

fn user_from_row(row: &impl RowExt) -> StoreResult<UserRecord> {
    Ok(UserRecord {
        id: parse_uuid(&row.text("id")?)?,
        username: row.text("username")?,
        password_hash: row.text("password_hash")?,
        is_admin: row.boolean("is_admin")?,
        created_at: parse_time(&row.text("created_at")?)?,
        updated_at: parse_time(&row.text("updated_at")?)?,
        version: to_u64("user version", row.int("version")?)?,
    })
}

fn session_from_row(row: &impl RowExt) -> StoreResult<SessionRecord> {
    Ok(SessionRecord {
        id: row.text("s_id")?,
        user_id: parse_uuid(&row.text("s_user_id")?)?,
        csrf_token: row.text("s_csrf_token")?,
        created_at: parse_time(&row.text("s_created_at")?)?,
        last_seen_at: parse_time(&row.text("s_last_seen_at")?)?,
        expires_at: parse_time(&row.text("s_expires_at")?)?,
    })
}

fn api_key_from_row(row: &impl RowExt) -> StoreResult<ApiKeyRecord> {
    Ok(ApiKeyRecord {
        id: parse_uuid(&row.text("k_id")?)?,
        user_id: parse_uuid(&row.text("k_user_id")?)?,
        name: row.text("k_name")?,
        prefix: row.text("k_prefix")?,
        key_hash: row.text("k_key_hash")?,
        created_at: parse_time(&row.text("k_created_at")?)?,
        last_used_at: parse_opt_time(row.opt_text("k_last_used_at")?.as_deref())?,
    })
}

/// A user's columns, in the order `INSERT_USER` lists them.
fn user_args(user: &UserRecord) -> Vec<super::Arg> {
    args![
        user.id.to_string(),
        user.username.as_str(),
        username_key(&user.username),
        user.password_hash.as_str(),
        user.is_admin,
        fmt_time(user.created_at),
        fmt_time(user.updated_at),
        from_u64(user.version),
    ]
}

#[async_trait]
impl<B: Backend> UserStore for SqlStore<B> {
    async fn list_users(&self) -> StoreResult<Vec<UserRecord>> {
        let rows = self
            .all(
                concat!(
                    "SELECT ",
                    user_columns!(),
                    " FROM users u ORDER BY u.username_key"
                ),
                args![],
            )
            .await?;
        rows.iter().map(user_from_row).collect()
    }

    async fn get_user(&self, id: Uuid) -> StoreResult<UserRecord> {
        let row = self
            .opt(
                concat!("SELECT ", user_columns!(), " FROM users u WHERE u.id = $1"),
                args![id.to_string()],
            )
            .await?
            .ok_or(StoreError::NotFound { kind: "user" })?;
        user_from_row(&row)
    }

    async fn find_user_by_name(&self, username: &str) -> StoreResult<Option<UserRecord>> {
        let row = self
            .opt(
                concat!(
                    "SELECT ",
                    user_columns!(),
                    " FROM users u WHERE u.username_key = $1"
                ),
                args![username_key(username)],
            )
            .await?;
        row.as_ref().map(user_from_row).transpose()
    }

    async fn insert_user(&self, user: &UserRecord, audit: &AuditEntry) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        exec::<B>(
            &mut tx,
            format!("{INSERT_USER} VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"),
            user_args(user),
        )
        .await
        .map_err(|e| named_write_error(e, "user", &user.username))?;
        insert_audit::<B>(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn insert_first_user(&self, user: &UserRecord, audit: &AuditEntry) -> StoreResult<bool> {
        let mut tx = self.begin_write().await?;
        // Two servers starting together on PostgreSQL: the lock makes the check and the
        // insert one step (SQLite's write transaction already is).
        B::lock_key(&mut tx, "jiralink:first-user").await?;
        let done = exec::<B>(
            &mut tx,
            format!(
                "{INSERT_USER} SELECT $1, $2, $3, $4, $5, $6, $7, $8 \
                 WHERE NOT EXISTS (SELECT 1 FROM users)"
            ),
            user_args(user),
        )
        .await
        .map_err(|e| named_write_error(e, "user", &user.username))?;
        if done == 0 {
            return Ok(false);
        }
        insert_audit::<B>(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn set_password(
        &self,
        id: Uuid,
        password_hash: &str,
        at: OffsetDateTime,
        expected_version: Option<u64>,
        audit: &AuditEntry,
    ) -> StoreResult<u64> {
        let mut tx = self.begin().await?;
        let row = opt::<B>(
            &mut tx,
            "UPDATE users SET password_hash = $1, updated_at = $2, version = version + 1 \
             WHERE id = $3 AND ($4 IS NULL OR version = $4) RETURNING version",
            args![
                password_hash,
                fmt_time(at),
                id.to_string(),
                expected_version.map(from_u64),
            ],
        )
        .await?;
        let Some(row) = row else {
            drop(tx);
            let exists = self
                .opt(
                    "SELECT 1 AS one FROM users WHERE id = $1",
                    args![id.to_string()],
                )
                .await?
                .is_some();
            return Err(if exists {
                StoreError::Changed { kind: "user" }
            } else {
                StoreError::NotFound { kind: "user" }
            });
        };
        exec::<B>(
            &mut tx,
            "DELETE FROM sessions WHERE user_id = $1",
            args![id.to_string()],
        )
        .await?;
        insert_audit::<B>(&mut tx, audit).await?;
        tx.commit().await?;
        to_u64("user version", row.int("version")?)
    }

    async fn delete_user(&self, id: Uuid, audit: &AuditEntry) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        // Two deletions of the last two administrators at once cannot both succeed: on
        // PostgreSQL the lock serialises them, on SQLite the write transaction does.
        B::lock_key(&mut tx, "jiralink:administrators").await?;
        let done = exec::<B>(
            &mut tx,
            "DELETE FROM users WHERE id = $1 AND (NOT is_admin OR \
             (SELECT COUNT(*) FROM users WHERE is_admin) > 1)",
            args![id.to_string()],
        )
        .await?;
        if done == 0 {
            let exists = opt::<B>(
                &mut tx,
                "SELECT 1 AS one FROM users WHERE id = $1",
                args![id.to_string()],
            )
            .await?
            .is_some();
            return Err(if exists {
                StoreError::InUse {
                    kind: "the last administrator",
                }
            } else {
                StoreError::NotFound { kind: "user" }
            });
        }
        insert_audit::<B>(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn insert_session(&self, s: &SessionRecord) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        exec::<B>(
            &mut tx,
            "DELETE FROM sessions WHERE expires_at <= $1",
            args![fmt_time(s.created_at)],
        )
        .await?;
        exec::<B>(
            &mut tx,
            "INSERT INTO sessions (id, user_id, csrf_token, created_at, last_seen_at, \
             expires_at) VALUES ($1, $2, $3, $4, $5, $6)",
            args![
                s.id.as_str(),
                s.user_id.to_string(),
                s.csrf_token.as_str(),
                fmt_time(s.created_at),
                fmt_time(s.last_seen_at),
                fmt_time(s.expires_at),
            ],
        )
        .await
        .map_err(|e| missing_parent(e, "user"))?;
        tx.commit().await?;
        Ok(())
    }

    async fn get_session(&self, id: &str) -> StoreResult<Option<(SessionRecord, UserRecord)>> {
        let row = self
            .opt(
                concat!(
                    "SELECT s.id AS s_id, s.user_id AS s_user_id, s.csrf_token AS s_csrf_token, \
                     s.created_at AS s_created_at, s.last_seen_at AS s_last_seen_at, \
                     s.expires_at AS s_expires_at, ",
                    user_columns!(),
                    " FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id = $1"
                ),
                args![id],
            )
            .await?;
        row.map(|r| Ok((session_from_row(&r)?, user_from_row(&r)?)))
            .transpose()
    }

    async fn touch_session(&self, id: &str, at: OffsetDateTime) -> StoreResult<()> {
        self.exec(
            "UPDATE sessions SET last_seen_at = $1 WHERE id = $2",
            args![fmt_time(at), id],
        )
        .await?;
        Ok(())
    }

    async fn delete_session(&self, id: &str) -> StoreResult<bool> {
        Ok(self
            .exec("DELETE FROM sessions WHERE id = $1", args![id])
            .await?
            > 0)
    }

    async fn delete_user_sessions(&self, user: Uuid) -> StoreResult<u64> {
        self.exec(
            "DELETE FROM sessions WHERE user_id = $1",
            args![user.to_string()],
        )
        .await
    }

    async fn begin_sign_in(
        &self,
        username_key: &str,
        address: &str,
        at: OffsetDateTime,
        since: OffsetDateTime,
        max: u32,
    ) -> StoreResult<SignInAttempt> {
        let mut tx = self.begin_write().await?;
        // Concurrent attempts for one name and address are counted one after the other.
        B::lock_key(
            &mut tx,
            &format!("jiralink:sign-in:{username_key}\n{address}"),
        )
        .await?;
        exec::<B>(
            &mut tx,
            "DELETE FROM login_attempts WHERE at < $1",
            args![fmt_time(since)],
        )
        .await?;
        let recent = super::all::<B>(
            &mut tx,
            "SELECT at FROM login_attempts WHERE username_key = $1 AND address = $2 \
             AND at >= $3 ORDER BY at",
            args![username_key, address, fmt_time(since)],
        )
        .await?;
        if recent.len() >= usize::try_from(max).unwrap_or(usize::MAX) {
            let recent = recent
                .iter()
                .map(|r| parse_time(&r.text("at")?))
                .collect::<StoreResult<Vec<_>>>()?;
            return Ok(SignInAttempt::Throttled { recent });
        }
        exec::<B>(
            &mut tx,
            "INSERT INTO login_attempts (username_key, address, at) VALUES ($1, $2, $3)",
            args![username_key, address, fmt_time(at)],
        )
        .await?;
        tx.commit().await?;
        Ok(SignInAttempt::Counted)
    }

    async fn login_failures(
        &self,
        username_key: &str,
        address: &str,
        since: OffsetDateTime,
    ) -> StoreResult<Vec<OffsetDateTime>> {
        let rows = self
            .all(
                "SELECT at FROM login_attempts WHERE username_key = $1 AND address = $2 \
                 AND at >= $3 ORDER BY at",
                args![username_key, address, fmt_time(since)],
            )
            .await?;
        rows.iter().map(|r| parse_time(&r.text("at")?)).collect()
    }

    async fn clear_login_failures(&self, username_key: &str, address: &str) -> StoreResult<()> {
        self.exec(
            "DELETE FROM login_attempts WHERE username_key = $1 AND address = $2",
            args![username_key, address],
        )
        .await?;
        Ok(())
    }

    async fn insert_api_key(&self, key: &ApiKeyRecord, audit: &AuditEntry) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        exec::<B>(
            &mut tx,
            "INSERT INTO api_keys (id, user_id, name, prefix, key_hash, created_at, \
             last_used_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            args![
                key.id.to_string(),
                key.user_id.to_string(),
                key.name.as_str(),
                key.prefix.as_str(),
                key.key_hash.as_str(),
                fmt_time(key.created_at),
                key.last_used_at.map(fmt_time),
            ],
        )
        .await
        .map_err(|e| missing_parent(e, "user"))?;
        insert_audit::<B>(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn list_api_keys(&self, user: Option<Uuid>) -> StoreResult<Vec<(ApiKeyRecord, String)>> {
        let rows = self
            .all(
                concat!(
                    "SELECT ",
                    api_key_columns!(),
                    ", u.username AS username FROM api_keys k \
                     JOIN users u ON u.id = k.user_id WHERE ($1 IS NULL OR k.user_id = $1) \
                     ORDER BY k.created_at, k.id"
                ),
                args![user.map(|u| u.to_string())],
            )
            .await?;
        rows.iter()
            .map(|r| Ok((api_key_from_row(r)?, r.text("username")?)))
            .collect()
    }

    async fn find_api_key(
        &self,
        key_hash: &str,
    ) -> StoreResult<Option<(ApiKeyRecord, UserRecord)>> {
        let row = self
            .opt(
                concat!(
                    "SELECT ",
                    api_key_columns!(),
                    ", ",
                    user_columns!(),
                    " FROM api_keys k JOIN users u ON u.id = k.user_id WHERE k.key_hash = $1"
                ),
                args![key_hash],
            )
            .await?;
        row.map(|r| Ok((api_key_from_row(&r)?, user_from_row(&r)?)))
            .transpose()
    }

    async fn touch_api_key(&self, id: Uuid, at: OffsetDateTime) -> StoreResult<()> {
        self.exec(
            "UPDATE api_keys SET last_used_at = $1 WHERE id = $2",
            args![fmt_time(at), id.to_string()],
        )
        .await?;
        Ok(())
    }

    async fn delete_api_key(&self, id: Uuid, audit: &AuditEntry) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        let done = exec::<B>(
            &mut tx,
            "DELETE FROM api_keys WHERE id = $1",
            args![id.to_string()],
        )
        .await?;
        found(done, "API key")?;
        insert_audit::<B>(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(())
    }
}
