//! [`SlotStore`], [`SettingStore`] and [`Health`].

use async_trait::async_trait;
use jiralink_domain::ConnectionId;
use time::OffsetDateTime;

use super::{Backend, RowExt, SqlStore, args, exec, opt};
use crate::codec::fmt_time;
use crate::{Health, SettingStore, SlotStore, StoreResult};

#[async_trait]
impl<B: Backend> SlotStore for SqlStore<B> {
    async fn acquire_slot(
        &self,
        connection: ConnectionId,
        level: u8,
        holder: &str,
        now: OffsetDateTime,
        until: OffsetDateTime,
    ) -> StoreResult<Option<u8>> {
        let mut tx = self.begin_write().await?;
        let id = connection.to_string();
        // The slots below the level exist from the first request at that level on; creating
        // them again is a no-op. (`WHERE TRUE` tells SQLite's parser the ON belongs to the
        // upsert, not to a join.)
        exec::<B>(
            &mut tx,
            "INSERT INTO connection_slots (connection_id, slot) \
             WITH RECURSIVE n(slot) AS (SELECT 0 UNION ALL SELECT slot + 1 FROM n \
             WHERE slot + 1 < $2) SELECT $1, slot FROM n WHERE TRUE \
             ON CONFLICT (connection_id, slot) DO NOTHING",
            args![id.as_str(), i64::from(level)],
        )
        .await
        .map_err(|e| super::missing_parent(e, "connection"))?;
        let free = "(holder IS NULL OR lease_until <= $3)";
        let sql = format!(
            "UPDATE connection_slots SET holder = $1, lease_until = $2 \
             WHERE connection_id = $4 AND slot = (SELECT slot FROM connection_slots \
             WHERE connection_id = $4 AND slot < $5 AND {free} ORDER BY slot LIMIT 1{skip}) \
             AND {free} RETURNING slot",
            skip = B::SKIP_LOCKED
        );
        let row = opt::<B>(
            &mut tx,
            sql,
            args![
                holder,
                fmt_time(until),
                fmt_time(now),
                id.as_str(),
                i64::from(level)
            ],
        )
        .await?;
        tx.commit().await?;
        row.map(|r| Ok(u8::try_from(r.int("slot")?).unwrap_or(u8::MAX)))
            .transpose()
    }

    async fn release_slot(
        &self,
        connection: ConnectionId,
        slot: u8,
        holder: &str,
    ) -> StoreResult<()> {
        self.exec(
            "UPDATE connection_slots SET holder = NULL, lease_until = NULL \
             WHERE connection_id = $1 AND slot = $2 AND holder = $3",
            args![connection.to_string(), i64::from(slot), holder],
        )
        .await?;
        Ok(())
    }

    async fn slots_in_use(
        &self,
        connection: ConnectionId,
        now: OffsetDateTime,
    ) -> StoreResult<u32> {
        let row = self
            .opt(
                "SELECT COUNT(*) AS n FROM connection_slots WHERE connection_id = $1 \
                 AND holder IS NOT NULL AND lease_until > $2",
                args![connection.to_string(), fmt_time(now)],
            )
            .await?;
        Ok(match row {
            Some(r) => u32::try_from(r.int("n")?).unwrap_or(u32::MAX),
            None => 0,
        })
    }
}

#[async_trait]
impl<B: Backend> SettingStore for SqlStore<B> {
    async fn get_setting(&self, key: &str) -> StoreResult<Option<String>> {
        let row = self
            .opt("SELECT value FROM settings WHERE key = $1", args![key])
            .await?;
        row.map(|r| r.text("value")).transpose()
    }

    async fn put_setting_if_absent(
        &self,
        key: &str,
        value: &str,
        at: OffsetDateTime,
    ) -> StoreResult<String> {
        let mut tx = self.begin().await?;
        exec::<B>(
            &mut tx,
            "INSERT INTO settings (key, value, updated_at) VALUES ($1, $2, $3) \
             ON CONFLICT (key) DO NOTHING",
            args![key, value, fmt_time(at)],
        )
        .await?;
        let row = opt::<B>(
            &mut tx,
            "SELECT value FROM settings WHERE key = $1",
            args![key],
        )
        .await?;
        tx.commit().await?;
        match row {
            Some(r) => r.text("value"),
            None => Ok(value.to_owned()),
        }
    }

    async fn set_setting(&self, key: &str, value: &str, at: OffsetDateTime) -> StoreResult<()> {
        self.exec(
            "INSERT INTO settings (key, value, updated_at) VALUES ($1, $2, $3) \
             ON CONFLICT (key) DO UPDATE SET value = excluded.value, \
             updated_at = excluded.updated_at",
            args![key, value, fmt_time(at)],
        )
        .await?;
        Ok(())
    }

    async fn delete_setting(&self, key: &str) -> StoreResult<bool> {
        Ok(self
            .exec("DELETE FROM settings WHERE key = $1", args![key])
            .await?
            > 0)
    }
}

#[async_trait]
impl<B: Backend> Health for SqlStore<B> {
    fn backend(&self) -> &'static str {
        B::NAME
    }

    async fn ping(&self) -> StoreResult<()> {
        self.opt("SELECT 1 AS one", args![]).await?;
        Ok(())
    }
}
