//! Sealing secrets with AES-256-GCM.
//!
//! # Wire format
//!
//! A sealed secret is stored as ASCII text:
//!
//! ```text
//! enc:v1:<kid>:<payload>
//! kid     = KeyId of the master key: 16 lower-case hex characters
//! payload = base64url without padding of  nonce(12) || ciphertext || tag(16)
//! nonce   = 96 random bits from the OS CSPRNG, fresh for every seal
//! ```
//!
//! Parsing is strict: one spelling per value (no whitespace, no padding, no upper-case kid, no
//! non-zero trailing bits), and a payload shorter than nonce plus tag is rejected before any
//! decryption is attempted.
//!
//! # Associated data
//!
//! Every seal is bound to the record and field it belongs to. [`Aad`] encodes as
//!
//! ```text
//! jiralink:aead:v1|kind=<record_kind>|id=<record_id>|field=<field>
//! ```
//!
//! and the AEAD authenticates that string followed by `|kid=<kid>`. A blob copied to another
//! record or field, or whose kid was edited, fails to open. Components must not contain `|`,
//! which keeps the encoding unambiguous.
//!
//! Opening fails with a detail-free [`VaultError::DecryptFailed`]: a wrong key, wrong associated
//! data and tampering look alike.
//!
//! Random nonces keep a key safe for about 2^32 seals (NIST SP 800-38D §8.3); rotate the master
//! key well before that.

use std::fmt;
use std::str::FromStr;

use aes_gcm::Nonce;
use aes_gcm::aead::{Aead, Payload};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use rand::rngs::OsRng;
use zeroize::{Zeroize, Zeroizing};

use crate::error::VaultError;
use crate::key::{KeyId, MasterKey};

/// Prefix of every sealed value in format version 1.
pub const SEALED_PREFIX: &str = "enc:v1:";
/// Length of the AES-GCM nonce in bytes.
pub const NONCE_LEN: usize = 12;
/// Length of the AES-GCM tag in bytes.
pub const TAG_LEN: usize = 16;

const AAD_PREFIX: &str = "jiralink:aead:v1";
/// Shortest payload text that can hold a nonce and a tag: ceil((12 + 16) * 4 / 3).
const MIN_PAYLOAD_CHARS: usize = ((NONCE_LEN + TAG_LEN) * 4).div_ceil(3);

/// What a sealed secret belongs to. Use stable ids, never display names that can be renamed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Aad<'a> {
    /// Kind of record, e.g. `connection`.
    pub record_kind: &'a str,
    /// Id of the record, e.g. a connection's UUID.
    pub record_id: &'a str,
    /// Field of the record, e.g. `api_token`.
    pub field: &'a str,
}

impl<'a> Aad<'a> {
    /// Associated data for `field` of the record `record_kind`/`record_id`.
    pub fn new(record_kind: &'a str, record_id: &'a str, field: &'a str) -> Self {
        Self {
            record_kind,
            record_id,
            field,
        }
    }

    /// `jiralink:aead:v1|kind=<kind>|id=<id>|field=<field>`, or an error if a component
    /// contains `|`.
    pub fn encode(&self) -> Result<Vec<u8>, VaultError> {
        for component in [self.record_kind, self.record_id, self.field] {
            if component.contains('|') {
                return Err(VaultError::InvalidAad(
                    "record kind, record id and field must not contain '|'",
                ));
            }
        }
        Ok(format!(
            "{AAD_PREFIX}|kind={}|id={}|field={}",
            self.record_kind, self.record_id, self.field
        )
        .into_bytes())
    }

    /// What the AEAD authenticates: the encoding plus the key id.
    fn bind(&self, key_id: &KeyId) -> Result<Vec<u8>, VaultError> {
        let mut bytes = self.encode()?;
        bytes.extend_from_slice(format!("|kid={key_id}").as_bytes());
        Ok(bytes)
    }
}

/// A sealed secret: key id, nonce and ciphertext with its tag. Not secret itself; store it with
/// [`Sealed::to_text`].
#[derive(Clone, PartialEq, Eq)]
pub struct Sealed {
    key_id: KeyId,
    nonce: [u8; NONCE_LEN],
    /// Ciphertext followed by the tag; always at least `TAG_LEN` bytes.
    ciphertext: Vec<u8>,
}

impl Sealed {
    /// `enc:v1:<kid>:<base64url-nopad(nonce || ciphertext || tag)>`.
    pub fn to_text(&self) -> String {
        let mut payload = Vec::with_capacity(NONCE_LEN + self.ciphertext.len());
        payload.extend_from_slice(&self.nonce);
        payload.extend_from_slice(&self.ciphertext);
        let mut text = String::with_capacity(SEALED_PREFIX.len() + 17 + payload.len() * 4 / 3 + 4);
        text.push_str(SEALED_PREFIX);
        text.push_str(&self.key_id.to_string());
        text.push(':');
        URL_SAFE_NO_PAD.encode_string(&payload, &mut text);
        text
    }

    /// Parses the text form strictly; anything but the exact spelling [`Sealed::to_text`] writes
    /// is [`VaultError::MalformedBlob`]. Never decrypts.
    pub fn parse(s: &str) -> Result<Self, VaultError> {
        let rest = s
            .strip_prefix("enc:")
            .ok_or(VaultError::MalformedBlob("it does not start with 'enc:'"))?;
        let rest = rest
            .strip_prefix("v1:")
            .ok_or(VaultError::MalformedBlob("unsupported format version"))?;
        let (kid, payload) = rest.split_once(':').ok_or(VaultError::MalformedBlob(
            "the key id or payload is missing",
        ))?;
        let key_id = KeyId::from_str(kid).map_err(|_| {
            VaultError::MalformedBlob("the key id is not 16 lower-case hex characters")
        })?;
        if payload.len() < MIN_PAYLOAD_CHARS {
            return Err(VaultError::MalformedBlob(
                "the payload is too short to hold a nonce and tag",
            ));
        }
        let bytes = URL_SAFE_NO_PAD.decode(payload).map_err(|_| {
            VaultError::MalformedBlob("the payload is not canonical unpadded base64url")
        })?;
        let Some((nonce, ciphertext)) = bytes.split_first_chunk::<NONCE_LEN>() else {
            return Err(VaultError::MalformedBlob(
                "the payload is too short to hold a nonce",
            ));
        };
        if ciphertext.len() < TAG_LEN {
            return Err(VaultError::MalformedBlob(
                "the payload is too short to hold a nonce and tag",
            ));
        }
        Ok(Self {
            key_id,
            nonce: *nonce,
            ciphertext: ciphertext.to_vec(),
        })
    }

    /// Id of the key this was sealed with.
    pub fn key_id(&self) -> &KeyId {
        &self.key_id
    }

    /// The nonce this was sealed with. Read-only: no API accepts a nonce.
    pub fn nonce(&self) -> &[u8; NONCE_LEN] {
        &self.nonce
    }

    /// Length of the sealed plaintext in bytes.
    pub fn plaintext_len(&self) -> usize {
        self.ciphertext.len() - TAG_LEN
    }
}

impl fmt::Debug for Sealed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sealed")
            .field("key_id", &self.key_id)
            .field("plaintext_len", &self.plaintext_len())
            .finish_non_exhaustive()
    }
}

impl fmt::Display for Sealed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_text())
    }
}

impl FromStr for Sealed {
    type Err = VaultError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// Seals `plaintext` under `key`, bound to `aad`, with a fresh random nonce.
pub fn seal(key: &MasterKey, plaintext: &[u8], aad: &Aad<'_>) -> Result<Sealed, VaultError> {
    let mut nonce = [0u8; NONCE_LEN];
    OsRng
        .try_fill_bytes(&mut nonce)
        .map_err(|_| VaultError::RandomUnavailable)?;
    seal_with_nonce(key, nonce, plaintext, aad)
}

/// Private on purpose: a caller-chosen nonce invites reuse, which breaks AES-GCM. Tests use it
/// for the frozen vector.
fn seal_with_nonce(
    key: &MasterKey,
    nonce: [u8; NONCE_LEN],
    plaintext: &[u8],
    aad: &Aad<'_>,
) -> Result<Sealed, VaultError> {
    let key_id = *key.id();
    let bound = aad.bind(&key_id)?;
    let ciphertext = key
        .cipher()
        .encrypt(
            Nonce::from_slice(&nonce),
            Payload {
                msg: plaintext,
                aad: &bound,
            },
        )
        .map_err(|_| VaultError::SealFailed)?;
    Ok(Sealed {
        key_id,
        nonce,
        ciphertext,
    })
}

/// Opens `sealed` with `key`, checking that it belongs to `aad`.
///
/// [`VaultError::KeyMismatch`] if `sealed` names another key; [`VaultError::DecryptFailed`] if
/// authentication fails for any reason.
pub fn open(
    key: &MasterKey,
    sealed: &Sealed,
    aad: &Aad<'_>,
) -> Result<Zeroizing<Vec<u8>>, VaultError> {
    if sealed.key_id != *key.id() {
        return Err(VaultError::KeyMismatch);
    }
    let bound = aad.bind(&sealed.key_id)?;
    key.cipher()
        .decrypt(
            Nonce::from_slice(&sealed.nonce),
            Payload {
                msg: &sealed.ciphertext,
                aad: &bound,
            },
        )
        .map(Zeroizing::new)
        .map_err(|_| VaultError::DecryptFailed)
}

/// [`open`], for secrets that are text; [`VaultError::NotUtf8`] otherwise.
pub fn open_string(
    key: &MasterKey,
    sealed: &Sealed,
    aad: &Aad<'_>,
) -> Result<Zeroizing<String>, VaultError> {
    into_string(open(key, sealed, aad)?)
}

/// Moves the bytes into a `String` without copying, wiping them if they are not UTF-8.
pub(crate) fn into_string(mut bytes: Zeroizing<Vec<u8>>) -> Result<Zeroizing<String>, VaultError> {
    match String::from_utf8(std::mem::take(&mut *bytes)) {
        Ok(text) => Ok(Zeroizing::new(text)),
        Err(e) => {
            e.into_bytes().zeroize();
            Err(VaultError::NotUtf8)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Committed on purpose: if this literal stops matching, the stored format changed and every
    /// secret already at rest would become unreadable. Cross-checked with Python's
    /// `cryptography` AESGCM.
    const FROZEN: &str = "enc:v1:aa43cf4e9d7472c6:oKGio6Slpqeoqaqrp0w9eRH4evkEIsHjKhyysQrJNz3k0iEY83wq_pBRDQtJETDh6Kbn70ZB";

    /// Key bytes 0, 1, …, 31.
    fn frozen_key() -> MasterKey {
        let mut bytes = [0u8; 32];
        for (byte, value) in bytes.iter_mut().zip(0u8..) {
            *byte = value;
        }
        MasterKey::from_bytes(bytes)
    }

    /// Nonce bytes 0xa0, 0xa1, …, 0xab.
    fn frozen_nonce() -> [u8; NONCE_LEN] {
        let mut nonce = [0u8; NONCE_LEN];
        for (byte, value) in nonce.iter_mut().zip(0xa0u8..) {
            *byte = value;
        }
        nonce
    }

    const FROZEN_AAD: Aad<'static> = Aad {
        record_kind: "connection",
        record_id: "0b6f3c1e-8d2a-4f5b-9c7e-1a2b3c4d5e6f",
        field: "api_token",
    };
    const FROZEN_PLAINTEXT: &str = "ATATT3xFfGF0-frozen-vector";

    #[test]
    fn frozen_vector_seals_to_the_committed_text() {
        let sealed = seal_with_nonce(
            &frozen_key(),
            frozen_nonce(),
            FROZEN_PLAINTEXT.as_bytes(),
            &FROZEN_AAD,
        )
        .unwrap();
        assert_eq!(sealed.to_text(), FROZEN);
    }

    #[test]
    fn frozen_vector_opens() {
        let sealed = Sealed::parse(FROZEN).unwrap();
        let plain = open_string(&frozen_key(), &sealed, &FROZEN_AAD).unwrap();
        assert_eq!(plain.as_str(), FROZEN_PLAINTEXT);
    }

    #[test]
    fn aad_encoding_is_documented_form() {
        let encoded = FROZEN_AAD.encode().unwrap();
        assert_eq!(
            encoded,
            b"jiralink:aead:v1|kind=connection|id=0b6f3c1e-8d2a-4f5b-9c7e-1a2b3c4d5e6f|field=api_token"
        );
        let bound = FROZEN_AAD.bind(frozen_key().id()).unwrap();
        assert!(bound.ends_with(b"|field=api_token|kid=aa43cf4e9d7472c6"));
    }

    #[test]
    fn aad_rejects_separator_in_components() {
        // Without the check these two would both encode as "...|id=a|field=b|field=c".
        let a = Aad::new("k", "a|field=b", "c");
        let b = Aad::new("k", "a", "b|field=c");
        assert!(matches!(a.encode(), Err(VaultError::InvalidAad(_))));
        assert!(matches!(b.encode(), Err(VaultError::InvalidAad(_))));
        let key = frozen_key();
        assert!(matches!(
            seal(&key, b"x", &a),
            Err(VaultError::InvalidAad(_))
        ));
    }

    #[test]
    fn edited_key_id_fails_even_with_the_right_key_bytes() {
        let key = frozen_key();
        let sealed = seal(&key, b"secret", &FROZEN_AAD).unwrap();
        let mut other_id = key.id().to_bytes();
        other_id[0] ^= 0x80;
        let relabelled_key = key.with_id_for_test(KeyId::from_bytes(other_id));
        let mut relabelled = sealed.clone();
        relabelled.key_id = *relabelled_key.id();
        // Same AES key, matching ids: only the authenticated kid can catch the edit.
        assert!(matches!(
            open(&relabelled_key, &relabelled, &FROZEN_AAD),
            Err(VaultError::DecryptFailed)
        ));
        assert_eq!(
            open(&key, &sealed, &FROZEN_AAD).unwrap().as_slice(),
            b"secret"
        );
    }

    #[test]
    fn empty_plaintext_round_trips_at_minimum_length() {
        let key = frozen_key();
        let sealed = seal(&key, b"", &FROZEN_AAD).unwrap();
        let text = sealed.to_text();
        let payload = text.rsplit(':').next().unwrap();
        assert_eq!(payload.len(), MIN_PAYLOAD_CHARS);
        let parsed = Sealed::parse(&text).unwrap();
        assert_eq!(parsed, sealed);
        assert_eq!(parsed.plaintext_len(), 0);
        assert!(open(&key, &parsed, &FROZEN_AAD).unwrap().is_empty());
    }

    #[test]
    fn parse_rejects_non_canonical_text() {
        let key = frozen_key();
        let text = seal(&key, b"value", &FROZEN_AAD).unwrap().to_text();
        let payload = text.rsplit(':').next().unwrap().to_owned();
        let kid = key.id().to_string();
        let cases = [
            format!("ENC:v1:{kid}:{payload}"),
            format!("enc:v2:{kid}:{payload}"),
            format!("enc:v1:{}:{payload}", kid.to_uppercase()),
            format!("enc:v1:{kid}{payload}"),
            format!("enc:v1:{kid}:{payload}="),
            format!("enc:v1:{kid}:{payload}\n"),
            format!(" {text}"),
            format!(
                "enc:v1:{kid}:{}",
                payload.replace('-', "+").replace('_', "/")
            ),
            format!("enc:v1:{kid}:{payload}:extra"),
            format!("enc:v1:{kid}:"),
            format!("enc:v1:{kid}:{}", &payload[..MIN_PAYLOAD_CHARS - 1]),
            "enc:v1:".to_owned(),
            String::new(),
        ];
        for case in cases {
            if case == text {
                continue;
            }
            assert!(
                matches!(Sealed::parse(&case), Err(VaultError::MalformedBlob(_))),
                "{case:?}"
            );
        }
    }

    #[test]
    fn debug_shows_no_ciphertext() {
        let sealed = Sealed::parse(FROZEN).unwrap();
        let debug = format!("{sealed:?}");
        let payload = FROZEN.rsplit(':').next().unwrap();
        assert!(!debug.contains(&payload[..8]), "{debug}");
        assert!(debug.contains("aa43cf4e9d7472c6"));
    }

    #[test]
    fn not_utf8_is_reported_and_text_is_kept() {
        let key = frozen_key();
        let sealed = seal(&key, &[0xff, 0xfe], &FROZEN_AAD).unwrap();
        assert!(matches!(
            open_string(&key, &sealed, &FROZEN_AAD),
            Err(VaultError::NotUtf8)
        ));
    }
}
