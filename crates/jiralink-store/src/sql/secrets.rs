//! [`SecretStore`]: sealed values only.

use std::str::FromStr;

use async_trait::async_trait;
use jiralink_vault::{KeyId, Sealed};

use super::{Backend, RowExt, SqlStore, args};
use crate::codec::parse_time;
use crate::model::{SecretField, SecretOwner, StoredSecret};
use crate::{SecretStore, StoreError, StoreResult};

pub(crate) const SECRET_COLUMNS: &str = "owner_kind, owner_id, field, key_id, sealed, updated_at";

/// A secret row. A sealed value that is not in the exact form jiralink writes, or whose key id
/// differs from the row's `key_id` column, was edited outside jiralink: it is
/// [`StoreError::SecretUnreadable`], as a value that fails to open is.
pub(crate) fn secret_from_row(row: &impl RowExt) -> StoreResult<StoredSecret> {
    let kind = row.text("owner_kind")?;
    let id = row.text("owner_id")?;
    let field = row.text("field")?;
    let owner = SecretOwner::parse(&kind, &id)
        .ok_or_else(|| StoreError::Corrupt(format!("secret owner {kind}/{id}")))?;
    let field = SecretField::parse(&field)
        .ok_or_else(|| StoreError::Corrupt(format!("secret field {field:?}")))?;
    let column_kid = row.text("key_id")?;
    // Text that does not even decode (bytes that are not UTF-8) is as unreadable as any other
    // edit of the value.
    let sealed = row
        .text("sealed")
        .ok()
        .and_then(|text| Sealed::parse(&text).ok())
        .filter(|sealed| sealed.key_id().to_string() == column_kid)
        .ok_or(StoreError::SecretUnreadable { owner, field })?;
    Ok(StoredSecret {
        owner,
        field,
        sealed,
        updated_at: parse_time(&row.text("updated_at")?)?,
    })
}

#[async_trait]
impl<B: Backend> SecretStore for SqlStore<B> {
    async fn get_secret(
        &self,
        owner: SecretOwner,
        field: SecretField,
    ) -> StoreResult<Option<StoredSecret>> {
        let row = self
            .opt(
                format!(
                    "SELECT {SECRET_COLUMNS} FROM secrets \
                     WHERE owner_kind = $1 AND owner_id = $2 AND field = $3"
                ),
                args![owner.kind(), owner.id().to_string(), field.as_str()],
            )
            .await?;
        row.as_ref().map(secret_from_row).transpose()
    }

    async fn list_secrets(&self) -> StoreResult<Vec<StoredSecret>> {
        let rows = self
            .all(
                format!(
                    "SELECT {SECRET_COLUMNS} FROM secrets ORDER BY owner_kind, owner_id, field"
                ),
                args![],
            )
            .await?;
        rows.iter().map(secret_from_row).collect()
    }

    async fn delete_secret(&self, owner: SecretOwner, field: SecretField) -> StoreResult<bool> {
        let done = self
            .exec(
                "DELETE FROM secrets WHERE owner_kind = $1 AND owner_id = $2 AND field = $3",
                args![owner.kind(), owner.id().to_string(), field.as_str()],
            )
            .await?;
        Ok(done > 0)
    }

    async fn count_secrets_by_key(&self) -> StoreResult<Vec<(KeyId, u64)>> {
        let rows = self
            .all(
                "SELECT key_id, COUNT(*) AS n FROM secrets GROUP BY key_id ORDER BY key_id",
                args![],
            )
            .await?;
        rows.iter()
            .map(|r| {
                let kid = r.text("key_id")?;
                let kid = KeyId::from_str(&kid)
                    .map_err(|e| StoreError::Corrupt(format!("key id {kid:?}: {e}")))?;
                Ok((kid, u64::try_from(r.int("n")?).unwrap_or(0)))
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
        let done = self
            .exec(
                "UPDATE secrets SET key_id = $1, sealed = $2 \
                 WHERE owner_kind = $3 AND owner_id = $4 AND field = $5 AND key_id = $6",
                args![
                    sealed.key_id().to_string(),
                    sealed.to_text(),
                    owner.kind(),
                    owner.id().to_string(),
                    field.as_str(),
                    expected.to_string(),
                ],
            )
            .await?;
        Ok(done == 1)
    }
}
