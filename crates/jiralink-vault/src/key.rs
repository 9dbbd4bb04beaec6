//! Master keys: their ids, text forms, key files and where a running jiralink finds its key.
//!
//! A master key is 32 random bytes. Its text form, and the whole content of a key file, is
//! standard base64 (44 characters) followed by a newline; [`MasterKey::parse`] also accepts
//! URL-safe base64 and 64 hex characters, so `openssl rand -base64 32` and `openssl rand -hex 32`
//! both make usable keys.
//!
//! A [`KeyId`] names a key without revealing it: the first 8 bytes of
//! `SHA-256("jiralink/key-id/v1" || key)`, as 16 lower-case hex characters. Every sealed secret
//! carries the id of its key, so a keyring can pick the right key and a missing one can be named.
//!
//! [`load_master_key`] looks, in order, at `JIRALINK_MASTER_KEY` (the key itself),
//! `JIRALINK_MASTER_KEY_FILE` (a path to a key file) and `<data_dir>/master.key`, and can create
//! the last one on first start.

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use aes_gcm::{Aes256Gcm, Key, KeyInit};
use base64::Engine;
use base64::alphabet;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use rand::RngCore;
use rand::rngs::OsRng;
use sha2::{Digest, Sha256};
use zeroize::{Zeroize, Zeroizing};

use crate::error::VaultError;

/// Name of the key file inside the data directory.
pub const MASTER_KEY_FILE: &str = "master.key";
/// Environment variable holding a master key in text form.
pub const MASTER_KEY_ENV: &str = "JIRALINK_MASTER_KEY";
/// Environment variable holding the path of a key file.
pub const MASTER_KEY_FILE_ENV: &str = "JIRALINK_MASTER_KEY_FILE";
/// Length of a master key in bytes.
pub const KEY_LEN: usize = 32;

const KEY_ID_LEN: usize = 8;
const KEY_ID_DOMAIN: &[u8] = b"jiralink/key-id/v1";
/// A key file holds 45 bytes; anything far larger is not a key file and is not read whole.
const MAX_KEY_FILE_LEN: usize = 1024;
const EXPECTED_KEY_FORM: &str = "expected 32 random bytes as standard or URL-safe base64 \
     (44 characters, or 43 without padding) or as hex (64 characters), e.g. from \
     `openssl rand -base64 32`";

/// Key text may come padded or not; both alphabets still reject non-zero trailing bits, so each
/// key has one base64 spelling per alphabet and padding choice.
const KEY_BASE64_CONFIG: GeneralPurposeConfig =
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent);
const KEY_BASE64_STANDARD: GeneralPurpose =
    GeneralPurpose::new(&alphabet::STANDARD, KEY_BASE64_CONFIG);
const KEY_BASE64_URL_SAFE: GeneralPurpose =
    GeneralPurpose::new(&alphabet::URL_SAFE, KEY_BASE64_CONFIG);

/// The public name of a master key: 16 lower-case hex characters.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyId([u8; KEY_ID_LEN]);

impl KeyId {
    fn derive(key: &[u8; KEY_LEN]) -> Self {
        let mut hasher = Sha256::new();
        hasher.update(KEY_ID_DOMAIN);
        hasher.update(key);
        let digest = hasher.finalize();
        let mut id = [0u8; KEY_ID_LEN];
        id.copy_from_slice(&digest[..KEY_ID_LEN]);
        Self(id)
    }

    /// The id as 8 raw bytes.
    pub fn to_bytes(self) -> [u8; KEY_ID_LEN] {
        self.0
    }

    /// Builds an id from raw bytes, e.g. to look for a key whose id is known.
    pub fn from_bytes(bytes: [u8; KEY_ID_LEN]) -> Self {
        Self(bytes)
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyId({self})")
    }
}

impl FromStr for KeyId {
    type Err = VaultError;

    /// Accepts exactly the form `Display` writes, so each id has one spelling.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let canonical =
            s.len() == 2 * KEY_ID_LEN && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        if !canonical {
            return Err(VaultError::InvalidKeyId);
        }
        let mut id = [0u8; KEY_ID_LEN];
        hex::decode_to_slice(s, &mut id).map_err(|_| VaultError::InvalidKeyId)?;
        Ok(Self(id))
    }
}

/// A 256-bit AES key and its id. Wiped on drop; `Debug` shows only the id.
///
/// Not `Clone`: a second copy of a key is made on purpose with [`MasterKey::duplicate`].
pub struct MasterKey {
    bytes: Zeroizing<[u8; KEY_LEN]>,
    id: KeyId,
}

impl MasterKey {
    /// A new random key from the operating system's CSPRNG.
    ///
    /// # Panics
    ///
    /// If the operating system cannot supply random bytes; [`MasterKey::try_generate`] reports
    /// that as an error instead.
    pub fn generate() -> Self {
        let mut bytes = Zeroizing::new([0u8; KEY_LEN]);
        OsRng.fill_bytes(bytes.as_mut_slice());
        Self::from_zeroizing(bytes)
    }

    /// A new random key, or [`VaultError::RandomUnavailable`].
    pub fn try_generate() -> Result<Self, VaultError> {
        let mut bytes = Zeroizing::new([0u8; KEY_LEN]);
        OsRng
            .try_fill_bytes(bytes.as_mut_slice())
            .map_err(|_| VaultError::RandomUnavailable)?;
        Ok(Self::from_zeroizing(bytes))
    }

    /// A key from raw bytes. The caller's copy is the caller's to wipe.
    pub fn from_bytes(bytes: [u8; KEY_LEN]) -> Self {
        let mut local = bytes;
        let key = Self::from_zeroizing(Zeroizing::new(local));
        local.zeroize();
        key
    }

    fn from_zeroizing(bytes: Zeroizing<[u8; KEY_LEN]>) -> Self {
        let id = KeyId::derive(&bytes);
        Self { bytes, id }
    }

    /// Parses the text form of a key: standard or URL-safe base64 of exactly 32 bytes (padding
    /// optional), or 64 hex characters, with surrounding whitespace ignored. The error says what
    /// was expected and never repeats the input.
    pub fn parse(text: &str) -> Result<Self, VaultError> {
        decode_key_text(text)
            .map(Self::from_zeroizing)
            .map_err(|reason| VaultError::InvalidKey(format!("{reason}; {EXPECTED_KEY_FORM}")))
    }

    /// The key as standard base64, the form a key file holds.
    pub fn encode(&self) -> Zeroizing<String> {
        // Sized up front so the buffer never reallocates and leaves an unwiped copy behind.
        let mut text = Zeroizing::new(String::with_capacity(44));
        STANDARD.encode_string(self.bytes.as_slice(), &mut text);
        text
    }

    /// The key's id.
    pub fn id(&self) -> &KeyId {
        &self.id
    }

    /// A second, independent copy of this key.
    pub fn duplicate(&self) -> Self {
        Self {
            bytes: self.bytes.clone(),
            id: self.id,
        }
    }

    pub(crate) fn cipher(&self) -> Aes256Gcm {
        Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(self.bytes.as_slice()))
    }

    /// The same key bytes under another id, to show that the id is authenticated.
    #[cfg(test)]
    pub(crate) fn with_id_for_test(&self, id: KeyId) -> Self {
        Self {
            bytes: self.bytes.clone(),
            id,
        }
    }
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MasterKey(id={})", self.id)
    }
}

/// Decodes key text into 32 bytes, or says in a few words what is wrong without quoting it.
fn decode_key_text(text: &str) -> Result<Zeroizing<[u8; KEY_LEN]>, &'static str> {
    let text = text.trim();
    let mut key = Zeroizing::new([0u8; KEY_LEN]);
    match text.len() {
        0 => Err("the value is empty"),
        64 => {
            hex::decode_to_slice(text, key.as_mut_slice()).map_err(|_| "the value is not hex")?;
            Ok(key)
        }
        43 | 44 => {
            // Room for the decoder's length estimate; a 44-character input may decode to 31-33
            // bytes depending on padding, and only exactly 32 is a key.
            let mut buf = Zeroizing::new([0u8; 48]);
            let len = KEY_BASE64_STANDARD
                .decode_slice(text, buf.as_mut_slice())
                .or_else(|_| KEY_BASE64_URL_SAFE.decode_slice(text, buf.as_mut_slice()))
                .map_err(|_| "the value is not canonical base64")?;
            if len != KEY_LEN {
                return Err("the value does not decode to 32 bytes");
            }
            key.copy_from_slice(&buf[..KEY_LEN]);
            Ok(key)
        }
        _ => Err("the value has the wrong length"),
    }
}

/// Where the loaded key came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyOrigin {
    /// `JIRALINK_MASTER_KEY`.
    Env,
    /// The file named by `JIRALINK_MASTER_KEY_FILE`.
    EnvFile(PathBuf),
    /// An existing `<data_dir>/master.key`.
    DataDir(PathBuf),
    /// A key generated just now and written to this path.
    Created(PathBuf),
}

/// The result of [`load_master_key`]. `warnings` are meant for the operator, e.g. printed at
/// start-up; none contains key material.
#[derive(Debug)]
pub struct LoadedKey {
    /// The key.
    pub key: MasterKey,
    /// Where it came from.
    pub origin: KeyOrigin,
    /// Advice about how the key is kept.
    pub warnings: Vec<String>,
}

/// Order: JIRALINK_MASTER_KEY, then JIRALINK_MASTER_KEY_FILE, then <data_dir>/master.key;
/// if none exists and `create_if_missing`, a new key is written to <data_dir>/master.key with
/// mode 0600 (create_new, fsync file and dir).
///
/// `env` reads an environment variable; pass `&|name| std::env::var(name).ok()` in production.
/// Setting both variables is an error, as is setting either to an empty value: silently falling
/// back to another key would seal new secrets under a key the operator did not choose.
pub fn load_master_key(
    env: &dyn Fn(&str) -> Option<String>,
    data_dir: &Path,
    create_if_missing: bool,
) -> Result<LoadedKey, VaultError> {
    let inline = env(MASTER_KEY_ENV).map(Zeroizing::new);
    let file = env(MASTER_KEY_FILE_ENV);
    match (inline, file) {
        (Some(_), Some(_)) => Err(VaultError::ConflictingKeySources),
        (Some(text), None) => {
            let key = decode_key_text(&text)
                .map(MasterKey::from_zeroizing)
                .map_err(|reason| {
                    VaultError::InvalidKey(format!(
                        "{MASTER_KEY_ENV} is not a valid key: {reason}; {EXPECTED_KEY_FORM}"
                    ))
                })?;
            Ok(LoadedKey {
                key,
                origin: KeyOrigin::Env,
                warnings: vec![format!(
                    "the master key is read from {MASTER_KEY_ENV}, which other processes of the \
                     same user can read; prefer {MASTER_KEY_FILE_ENV} pointing at a file with \
                     mode 0600"
                )],
            })
        }
        (None, Some(path)) => {
            if path.trim().is_empty() {
                return Err(VaultError::InvalidKey(format!(
                    "{MASTER_KEY_FILE_ENV} is set but empty; set it to the path of a key file \
                     or unset it"
                )));
            }
            let path = PathBuf::from(path);
            let key = read_key_file(&path)?;
            let warnings = permission_warning(&path).into_iter().collect();
            Ok(LoadedKey {
                key,
                origin: KeyOrigin::EnvFile(path),
                warnings,
            })
        }
        (None, None) => load_from_data_dir(data_dir, create_if_missing),
    }
}

fn load_from_data_dir(data_dir: &Path, create_if_missing: bool) -> Result<LoadedKey, VaultError> {
    let path = data_dir.join(MASTER_KEY_FILE);
    match fs::symlink_metadata(&path) {
        Ok(_) => existing_data_dir_key(path),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            if !create_if_missing {
                return Err(VaultError::NoMasterKey { path });
            }
            create_private_dir(data_dir)?;
            let key = MasterKey::try_generate()?;
            match write_key_file(&path, &key) {
                Ok(()) => {
                    let warnings = vec![format!(
                        "Created a new master key at {p} (readable only by you). Every secret \
                         jiralink stores is encrypted with it, so back it up now, e.g. into a \
                         password manager or with `cp {p} /somewhere/safe/`: without it the \
                         stored secrets cannot be recovered. Elsewhere, supply it with \
                         JIRALINK_MASTER_KEY_FILE.",
                        p = path.display()
                    )];
                    Ok(LoadedKey {
                        key,
                        origin: KeyOrigin::Created(path),
                        warnings,
                    })
                }
                // Another process created the file first; its key is the one to use.
                Err(VaultError::KeyFileExists { path }) => existing_data_dir_key(path),
                Err(e) => Err(e),
            }
        }
        Err(source) => Err(VaultError::KeyFile { path, source }),
    }
}

fn existing_data_dir_key(path: PathBuf) -> Result<LoadedKey, VaultError> {
    let key = read_key_file(&path)?;
    let warnings = permission_warning(&path).into_iter().collect();
    Ok(LoadedKey {
        key,
        origin: KeyOrigin::DataDir(path),
        warnings,
    })
}

/// Writes `key` to a new file at `path`, never overwriting one, mode 0600.
///
/// The key is written and flushed to a temporary file beside `path` first, then linked to
/// `path` (which fails if `path` exists) and the directory flushed: a process killed at any
/// point leaves either no file at `path` or the whole key, never a partial one that a later
/// start would take for a broken key, and a crash cannot lose a key that may already have
/// sealed secrets. A temporary file left by a kill holds a key nothing uses.
pub fn write_key_file(path: &Path, key: &MasterKey) -> Result<(), VaultError> {
    let key_file_error = |source| VaultError::KeyFile {
        path: path.to_path_buf(),
        source,
    };
    let exists = || VaultError::KeyFileExists {
        path: path.to_path_buf(),
    };
    if path.exists() {
        return Err(exists());
    }
    let mut suffix = [0u8; 8];
    OsRng
        .try_fill_bytes(&mut suffix)
        .map_err(|_| VaultError::RandomUnavailable)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temp = path.with_file_name(format!(".{name}.{}.tmp", hex::encode(suffix)));
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(&temp).map_err(key_file_error)?;
    let filled = fill_key_file(&mut file, key);
    drop(file);
    let linked = filled.and_then(|()| fs::hard_link(&temp, path));
    // The temporary name goes either way: after a link the key lives on under `path`.
    let _ = fs::remove_file(&temp);
    match linked {
        Ok(()) => sync_parent_dir(path).map_err(key_file_error),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Err(exists()),
        Err(e) => Err(key_file_error(e)),
    }
}

fn fill_key_file(file: &mut File, key: &MasterKey) -> io::Result<()> {
    #[cfg(unix)]
    {
        // The umask can only clear bits of the requested mode; pin it to exactly 0600 anyway.
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(fs::Permissions::from_mode(0o600))?;
    }
    let encoded = key.encode();
    file.write_all(encoded.as_bytes())?;
    file.write_all(b"\n")?;
    file.sync_all()
}

#[cfg(unix)]
fn sync_parent_dir(path: &Path) -> io::Result<()> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    File::open(dir)?.sync_all()
}

#[cfg(not(unix))]
fn sync_parent_dir(_path: &Path) -> io::Result<()> {
    Ok(())
}

#[cfg(unix)]
fn create_private_dir(dir: &Path) -> Result<(), VaultError> {
    use std::os::unix::fs::DirBuilderExt;
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|source| VaultError::KeyFile {
            path: dir.to_path_buf(),
            source,
        })
}

#[cfg(not(unix))]
fn create_private_dir(dir: &Path) -> Result<(), VaultError> {
    fs::create_dir_all(dir).map_err(|source| VaultError::KeyFile {
        path: dir.to_path_buf(),
        source,
    })
}

/// Reads a key file: the key's text form, surrounding whitespace ignored.
pub fn read_key_file(path: &Path) -> Result<MasterKey, VaultError> {
    let key_file_error = |source| VaultError::KeyFile {
        path: path.to_path_buf(),
        source,
    };
    let invalid = |reason| VaultError::InvalidKeyFile {
        path: path.to_path_buf(),
        reason,
    };
    let file = File::open(path).map_err(key_file_error)?;
    // Sized up front so reading never reallocates and leaves an unwiped copy of the key behind.
    let mut content = Zeroizing::new(Vec::with_capacity(MAX_KEY_FILE_LEN + 1));
    file.take(MAX_KEY_FILE_LEN as u64 + 1)
        .read_to_end(&mut content)
        .map_err(key_file_error)?;
    if content.len() > MAX_KEY_FILE_LEN {
        return Err(invalid("it is far larger than a key file"));
    }
    let text = std::str::from_utf8(&content).map_err(|_| invalid("it is not text"))?;
    decode_key_text(text)
        .map(MasterKey::from_zeroizing)
        .map_err(invalid)
}

/// A warning if group or others may access the key file.
#[cfg(unix)]
fn permission_warning(path: &Path) -> Option<String> {
    use std::os::unix::fs::PermissionsExt;
    let mode = fs::metadata(path).ok()?.permissions().mode() & 0o777;
    (mode & 0o077 != 0).then(|| {
        format!(
            "master key file {path} can be accessed by group or others (mode {mode:04o}); \
             restrict it with `chmod 600 {path}`",
            path = path.display()
        )
    })
}

#[cfg(not(unix))]
fn permission_warning(_path: &Path) -> Option<String> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};

    /// Bytes 0, 1, …, 31.
    fn sample_bytes() -> [u8; KEY_LEN] {
        let mut bytes = [0u8; KEY_LEN];
        for (byte, value) in bytes.iter_mut().zip(0u8..) {
            *byte = value;
        }
        bytes
    }

    #[test]
    fn key_id_is_frozen() {
        // sha256(b"jiralink/key-id/v1" + bytes(range(32)))[:8], computed outside this crate.
        let key = MasterKey::from_bytes(sample_bytes());
        assert_eq!(key.id().to_string(), "aa43cf4e9d7472c6");
    }

    #[test]
    fn key_id_depends_on_every_byte() {
        let base = MasterKey::from_bytes(sample_bytes());
        for i in 0..KEY_LEN {
            let mut bytes = sample_bytes();
            bytes[i] ^= 1;
            assert_ne!(MasterKey::from_bytes(bytes).id(), base.id(), "byte {i}");
        }
    }

    #[test]
    fn key_id_round_trips_through_text() {
        let id = *MasterKey::generate().id();
        let text = id.to_string();
        assert_eq!(text.len(), 16);
        assert_eq!(text.parse::<KeyId>().unwrap(), id);
        assert_eq!(KeyId::from_bytes(id.to_bytes()), id);
        assert_eq!(format!("{id:?}"), format!("KeyId({text})"));
    }

    #[test]
    fn key_id_rejects_non_canonical_text() {
        for bad in [
            "",
            "0123456789abcde",
            "0123456789abcdef0",
            "0123456789ABCDEF",
            "0123456789abcdeg",
            " 0123456789abcdef",
            "0123456789abcdé",
        ] {
            assert!(
                matches!(bad.parse::<KeyId>(), Err(VaultError::InvalidKeyId)),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn parse_accepts_every_documented_form() {
        let bytes = sample_bytes();
        let expected = *MasterKey::from_bytes(bytes).id();
        let forms = [
            STANDARD.encode(bytes),
            STANDARD_NO_PAD.encode(bytes),
            URL_SAFE.encode(bytes),
            URL_SAFE_NO_PAD.encode(bytes),
            hex::encode(bytes),
            hex::encode_upper(bytes),
            format!("  {}\n", STANDARD.encode(bytes)),
            format!("{}\r\n", hex::encode(bytes)),
        ];
        for form in forms {
            assert_eq!(MasterKey::parse(&form).unwrap().id(), &expected, "{form:?}");
        }
    }

    #[test]
    fn url_safe_and_standard_alphabets_both_decode() {
        // 0xfb 0xff bytes make '+', '/', '-' and '_' appear in the encodings.
        let bytes = [0xfb; KEY_LEN];
        let std_text = STANDARD.encode(bytes);
        let url_text = URL_SAFE.encode(bytes);
        assert_ne!(std_text, url_text);
        let a = MasterKey::parse(&std_text).unwrap();
        let b = MasterKey::parse(&url_text).unwrap();
        assert_eq!(a.id(), b.id());
    }

    #[test]
    fn encode_is_standard_padded_base64() {
        let key = MasterKey::from_bytes(sample_bytes());
        let text = key.encode();
        assert_eq!(text.as_str(), STANDARD.encode(sample_bytes()));
        assert_eq!(text.len(), 44);
        assert_eq!(MasterKey::parse(&text).unwrap().id(), key.id());
    }

    #[test]
    fn parse_rejects_wrong_forms_without_echoing_them() {
        let short = STANDARD.encode([7u8; 31]);
        let long = STANDARD.encode([7u8; 33]);
        let mut bad_trailing = STANDARD_NO_PAD.encode([7u8; KEY_LEN]);
        // The last character carries 2 unused bits; setting them makes a non-canonical spelling.
        bad_trailing.pop();
        bad_trailing.push('B');
        let cases = [
            String::new(),
            "   ".to_owned(),
            short,
            long,
            "z".repeat(64),
            "!".repeat(44),
            bad_trailing,
            format!("{}==", STANDARD_NO_PAD.encode([7u8; 31])),
        ];
        for case in cases {
            let err = MasterKey::parse(&case).unwrap_err();
            let VaultError::InvalidKey(message) = &err else {
                panic!("unexpected error {err:?}");
            };
            assert!(message.contains("base64"), "{message}");
            if case.trim().len() >= 4 {
                assert!(!message.contains(case.trim()), "{message}");
                assert!(!err.to_string().contains(case.trim()));
            }
        }
    }

    #[test]
    fn debug_shows_only_the_id() {
        let key = MasterKey::from_bytes(sample_bytes());
        let debug = format!("{key:?}");
        assert_eq!(debug, format!("MasterKey(id={})", key.id()));
        assert!(!debug.contains(key.encode().as_str()));
        assert!(!debug.contains(&hex::encode(sample_bytes())[..16]));
    }

    #[test]
    fn duplicate_is_the_same_key() {
        let key = MasterKey::generate();
        let copy = key.duplicate();
        assert_eq!(copy.id(), key.id());
        assert_eq!(copy.encode().as_str(), key.encode().as_str());
    }

    #[test]
    fn generated_keys_differ() {
        let a = MasterKey::generate();
        let b = MasterKey::try_generate().unwrap();
        assert_ne!(a.id(), b.id());
        assert_ne!(a.encode().as_str(), b.encode().as_str());
    }
}
