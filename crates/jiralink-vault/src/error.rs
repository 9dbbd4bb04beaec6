//! The one error type of this crate.
//!
//! Every message is safe to show and to log: no variant carries key material, plaintext or the
//! text a user typed as a key. Messages say what to do next.

use std::io;
use std::path::PathBuf;

use crate::key::KeyId;

/// Everything that can go wrong while loading keys or sealing and opening secrets.
#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    /// Authentication of a sealed secret failed. Wrong key, wrong record or field, and tampering
    /// deliberately look the same.
    #[error(
        "sealed secret could not be opened: the key is wrong, or the value was altered or moved \
         from another record or field; enter the secret again"
    )]
    DecryptFailed,

    /// The secret names a key that is not loaded.
    #[error(
        "secret was sealed with master key {key_id}, which is not loaded; supply that key \
         through JIRALINK_MASTER_KEY, JIRALINK_MASTER_KEY_FILE or the data directory's master.key"
    )]
    UnknownKey {
        /// Id of the key the secret was sealed with.
        key_id: KeyId,
    },

    /// [`open`](crate::open) was given a key other than the one the secret names.
    #[error(
        "secret was sealed with a different master key than the one supplied; open it with the \
         key whose id it names"
    )]
    KeyMismatch,

    /// A key id is not 16 lower-case hex characters.
    #[error("invalid key id: expected 16 lower-case hex characters")]
    InvalidKeyId,

    /// The text is not a well-formed `enc:v1:` value.
    #[error("malformed sealed secret: {0}; the stored value is damaged and must be entered again")]
    MalformedBlob(&'static str),

    /// A component of the associated data cannot be encoded unambiguously.
    #[error("invalid associated data: {0}")]
    InvalidAad(&'static str),

    /// A master key given as text is not a 32-byte key. Never holds the text itself.
    #[error("invalid master key: {0}")]
    InvalidKey(String),

    /// A key file exists but does not hold a valid key.
    #[error(
        "master key file {} is not valid: {reason}; it must hold one 32-byte key as base64 \
         (44 characters) or hex (64 characters)",
        path.display()
    )]
    InvalidKeyFile {
        /// The file that was read.
        path: PathBuf,
        /// What is wrong with its contents.
        reason: &'static str,
    },

    /// Reading or writing a key file failed.
    #[error(
        "cannot access master key file {}; check that it and its directory exist and that \
         jiralink may read and write them",
        path.display()
    )]
    KeyFile {
        /// The file involved.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },

    /// A new key file would replace an existing one.
    #[error(
        "master key file {} already exists; refusing to overwrite it, as secrets sealed with it \
         would become unreadable (move it away first if you really mean to replace it)",
        path.display()
    )]
    KeyFileExists {
        /// The existing file.
        path: PathBuf,
    },

    /// Both key environment variables are set, so the intended key is unclear.
    #[error("both JIRALINK_MASTER_KEY and JIRALINK_MASTER_KEY_FILE are set; unset one of them")]
    ConflictingKeySources,

    /// No key was supplied and creating one was not allowed.
    #[error(
        "no master key: set JIRALINK_MASTER_KEY or JIRALINK_MASTER_KEY_FILE, or create {}",
        path.display()
    )]
    NoMasterKey {
        /// Where a key file was looked for.
        path: PathBuf,
    },

    /// An opened secret was expected to be text but is not UTF-8.
    #[error("sealed secret is not UTF-8 text; it was stored as binary data by something else")]
    NotUtf8,

    /// The AEAD refused to encrypt; its only failure is a plaintext beyond AES-GCM's size limit.
    #[error("secret could not be sealed: it is larger than AES-GCM allows")]
    SealFailed,

    /// The operating system's random number generator failed.
    #[error("the operating system's random number generator failed; retry, or check the host")]
    RandomUnavailable,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_fragments_are_lower_case() {
        let errors = [
            VaultError::DecryptFailed,
            VaultError::KeyMismatch,
            VaultError::MalformedBlob("too short"),
            VaultError::InvalidAad("contains '|'"),
            VaultError::InvalidKey("wrong length".to_owned()),
            VaultError::KeyFileExists {
                path: PathBuf::from("/x/master.key"),
            },
            VaultError::ConflictingKeySources,
            VaultError::NotUtf8,
            VaultError::SealFailed,
            VaultError::RandomUnavailable,
        ];
        for e in errors {
            let text = e.to_string();
            let first = text.chars().next().unwrap_or_default();
            assert!(!first.is_uppercase(), "{text}");
            assert!(!text.ends_with('.'), "{text}");
        }
    }

    #[test]
    fn key_file_error_names_path_and_keeps_source() {
        let e = VaultError::KeyFile {
            path: PathBuf::from("/data/master.key"),
            source: io::Error::from(io::ErrorKind::PermissionDenied),
        };
        assert!(e.to_string().contains("/data/master.key"));
        assert!(std::error::Error::source(&e).is_some());
    }
}
