//! jiralink's secret types and vault.
//!
//! - [`secret`]: newtypes such as [`ApiToken`] and [`RefreshToken`] that wipe their value on drop,
//!   print as `[redacted]` and cannot be cloned, displayed or serialised by accident.
//! - [`key`]: the 256-bit [`MasterKey`], its public [`KeyId`], key files and
//!   [`load_master_key`].
//! - [`seal`](mod@seal): AES-256-GCM sealing bound to a record and field, stored as
//!   `enc:v1:<kid>:<payload>` text.
//! - [`keyring`]: one active key for sealing plus retired keys for opening, for rotation.
//!
//! ```
//! use jiralink_vault::{Aad, ApiToken, Keyring, MasterKey, Sealed};
//!
//! let ring = Keyring::new(MasterKey::generate());
//! let token = ApiToken::new("ATATT3x-example");
//! let aad = Aad::new("connection", "0b6f3c1e-8d2a-4f5b-9c7e-1a2b3c4d5e6f", "api_token");
//! let stored = ring.seal(token.expose().as_bytes(), &aad)?.to_text();
//!
//! let opened = ApiToken::from(ring.open_string(&Sealed::parse(&stored)?, &aad)?);
//! assert_eq!(opened.expose(), "ATATT3x-example");
//! # Ok::<(), jiralink_vault::VaultError>(())
//! ```

pub mod error;
pub mod key;
pub mod keyring;
pub mod seal;
pub mod secret;

pub use error::VaultError;
pub use key::{
    KeyId, KeyOrigin, LoadedKey, MASTER_KEY_ENV, MASTER_KEY_FILE, MASTER_KEY_FILE_ENV, MasterKey,
    load_master_key, read_key_file, write_key_file,
};
pub use keyring::Keyring;
pub use seal::{Aad, Sealed, open, open_string, seal};
pub use secret::{
    AccessToken, ApiToken, ClientSecret, OAuthState, Password, PkceVerifier, RefreshToken,
    SecretText, SessionToken, UserApiKey, WebhookSecret,
};
pub use zeroize::Zeroizing;

#[cfg(test)]
mod tests {
    use super::*;

    /// The app shares keys and secrets across async tasks.
    #[test]
    fn public_types_are_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<MasterKey>();
        assert_send_sync::<Keyring>();
        assert_send_sync::<Sealed>();
        assert_send_sync::<KeyId>();
        assert_send_sync::<LoadedKey>();
        assert_send_sync::<VaultError>();
        assert_send_sync::<ApiToken>();
        assert_send_sync::<RefreshToken>();
        assert_send_sync::<Aad<'static>>();
    }
}
