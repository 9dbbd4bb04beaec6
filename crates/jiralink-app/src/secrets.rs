//! The one way secrets are sealed and opened.
//!
//! Every sealed value is bound to what it belongs to by its AAD:
//! `jiralink:aead:v1|kind=<record kind>|id=<record id>|field=<field>` (+ the key id, added by
//! the vault). The AAD is built here and nowhere else, so a value copied to another record or
//! field never opens.

use jiralink_store::{SecretField, SecretOwner, SecretWrite};
use jiralink_vault::{Aad, Sealed};
use zeroize::Zeroizing;

use crate::{App, AppError, AppResult};

/// What a sealed value belongs to.
#[derive(Debug, Clone, Copy)]
pub(crate) enum SealOwner<'a> {
    /// A stored record's secret (a connection's token, a client's secret).
    Record(SecretOwner),
    /// An authorization in progress, found by the SHA-256 of its `state`.
    OAuthState(&'a str),
}

impl SealOwner<'_> {
    fn kind(&self) -> &'static str {
        match self {
            Self::Record(owner) => owner.kind(),
            Self::OAuthState(_) => "oauth_state",
        }
    }

    fn id(&self) -> String {
        match self {
            Self::Record(owner) => owner.id().to_string(),
            Self::OAuthState(hash) => (*hash).to_owned(),
        }
    }
}

impl From<SecretOwner> for SealOwner<'_> {
    fn from(owner: SecretOwner) -> Self {
        Self::Record(owner)
    }
}

/// Calls `f` with the AAD of `owner`'s `field`: the one place it is built.
pub(crate) fn with_aad<R>(owner: SealOwner<'_>, field: &str, f: impl FnOnce(&Aad<'_>) -> R) -> R {
    let id = owner.id();
    f(&Aad {
        record_kind: owner.kind(),
        record_id: &id,
        field,
    })
}

/// [`AppError::SecretUnreadable`] for `owner`'s `field`, logged without any content: the
/// value was tampered with, truncated or moved, and has to be entered again.
pub(crate) fn unreadable(owner: SealOwner<'_>, field: &str) -> AppError {
    let id = owner.id();
    tracing::error!(
        owner = owner.kind(),
        id = %id,
        field,
        "a stored secret failed authentication; it was tampered with or moved"
    );
    AppError::SecretUnreadable {
        what: format!("{field} of {} {id}", owner.kind()),
        owner: match owner {
            SealOwner::Record(SecretOwner::Connection(_)) => format!("connection {id}"),
            SealOwner::Record(SecretOwner::OAuthClient(_)) => format!("oauth-client {id}"),
            SealOwner::Record(SecretOwner::Listener(_)) => format!("listener {id}"),
            SealOwner::Record(SecretOwner::NotificationWebhook) => {
                "the notification webhook (set it again)".to_owned()
            }
            SealOwner::OAuthState(_) => "authorization".to_owned(),
        },
    }
}

impl App {
    /// Seals `value` for `owner`'s `field`.
    pub(crate) fn seal<'a>(
        &self,
        owner: impl Into<SealOwner<'a>>,
        field: &str,
        value: &str,
    ) -> AppResult<Sealed> {
        Ok(with_aad(owner.into(), field, |aad| {
            self.keyring().seal(value.as_bytes(), aad)
        })?)
    }

    /// Opens a value sealed for `owner`'s `field`. A value that fails authentication (moved,
    /// tampered with, or sealed for something else) is [`AppError::SecretUnreadable`], logged
    /// without its content.
    pub(crate) fn open_sealed<'a>(
        &self,
        owner: impl Into<SealOwner<'a>>,
        field: &str,
        sealed: &Sealed,
    ) -> AppResult<Zeroizing<String>> {
        let owner = owner.into();
        match with_aad(owner, field, |aad| self.keyring().open_string(sealed, aad)) {
            Ok(s) => Ok(s),
            Err(jiralink_vault::VaultError::DecryptFailed) => Err(unreadable(owner, field)),
            Err(e) => Err(e.into()),
        }
    }

    /// A record's secret, sealed, ready to be written with the record.
    pub(crate) fn seal_secret(
        &self,
        owner: SecretOwner,
        field: SecretField,
        value: &str,
    ) -> AppResult<SecretWrite> {
        Ok(SecretWrite {
            field,
            sealed: self.seal(owner, field.as_str(), value)?,
        })
    }

    /// A record's stored secret, opened; `None` when none is stored.
    pub(crate) async fn stored_secret(
        &self,
        owner: SecretOwner,
        field: SecretField,
    ) -> AppResult<Option<Zeroizing<String>>> {
        match self.store().get_secret(owner, field).await? {
            Some(stored) => Ok(Some(self.open_sealed(
                owner,
                field.as_str(),
                &stored.sealed,
            )?)),
            None => Ok(None),
        }
    }
}
