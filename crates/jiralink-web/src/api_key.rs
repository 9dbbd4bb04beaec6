//! The API key that guards `/v1`.
//!
//! Only the key's SHA-256 is kept, in memory and in `<data dir>/api-key.sha256` (mode 0600):
//! a key created on first start is printed once and never stored. Presented keys are hashed
//! and compared with the stored hash in constant time.

use std::fmt;
use std::io::Write;
use std::path::Path;

use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::error::{WebError, WebResult};

/// The file holding the hex SHA-256 of the API key.
pub const API_KEY_FILE: &str = "api-key.sha256";
/// The environment variable that sets the API key instead of the file.
pub const API_KEY_ENV: &str = "JIRALINK_API_KEY";
/// Keys given in the environment must be at least this long.
pub const MIN_API_KEY_LEN: usize = 24;

/// The SHA-256 of the API key.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKeyHash([u8; 32]);

impl fmt::Debug for ApiKeyHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKeyHash(..)")
    }
}

impl ApiKeyHash {
    pub fn of(key: &str) -> Self {
        Self(Sha256::digest(key.as_bytes()).into())
    }

    /// Whether `presented` is the key, in time independent of where a wrong key differs.
    pub fn verify(&self, presented: &str) -> bool {
        let presented = Self::of(presented);
        self.0.ct_eq(&presented.0).into()
    }

    fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    fn from_hex(text: &str) -> Option<Self> {
        let bytes = hex::decode(text.trim()).ok()?;
        Some(Self(bytes.try_into().ok()?))
    }
}

/// A key created on this start: shown to the user once, then dropped (and wiped).
pub struct NewApiKey(Zeroizing<String>);

impl fmt::Debug for NewApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("NewApiKey([redacted])")
    }
}

impl NewApiKey {
    /// The key.
    ///
    /// # Security
    /// Print it once for the user; never log or store it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// Where the key in use comes from.
#[derive(Debug)]
pub enum ApiKeySource {
    /// `JIRALINK_API_KEY`.
    Env,
    /// The hash file of an earlier start.
    File,
    /// Created now; the hash file was written.
    Created(NewApiKey),
}

/// Reads the API key from `env_key` (the value of `JIRALINK_API_KEY`), else the hash file in
/// `data_dir`, else creates a random key and writes its hash there with mode 0600.
pub fn load_or_create_api_key(
    data_dir: &Path,
    env_key: Option<&str>,
) -> WebResult<(ApiKeyHash, ApiKeySource)> {
    if let Some(key) = env_key.filter(|k| !k.is_empty()) {
        if key.chars().count() < MIN_API_KEY_LEN {
            return Err(WebError::ApiKeyTooShort {
                min: MIN_API_KEY_LEN,
            });
        }
        return Ok((ApiKeyHash::of(key), ApiKeySource::Env));
    }
    let path = data_dir.join(API_KEY_FILE);
    if let Some(hash) = read_hash(&path)? {
        return Ok((hash, ApiKeySource::File));
    }
    let mut bytes = Zeroizing::new([0u8; 32]);
    rand::rngs::OsRng.fill_bytes(&mut *bytes);
    let key = Zeroizing::new(format!("jlk_{}", hex::encode(*bytes)));
    let hash = ApiKeyHash::of(&key);
    match write_new(&path, &hash) {
        Ok(()) => Ok((hash, ApiKeySource::Created(NewApiKey(key)))),
        // Another process created it first: use theirs.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => match read_hash(&path)? {
            Some(hash) => Ok((hash, ApiKeySource::File)),
            None => Err(file_error(&path, "it vanished while being read")),
        },
        Err(e) => Err(file_error(&path, &e.to_string())),
    }
}

fn file_error(path: &Path, reason: &str) -> WebError {
    WebError::ApiKeyFile {
        path: path.display().to_string(),
        reason: reason.to_owned(),
    }
}

fn read_hash(path: &Path) -> WebResult<Option<ApiKeyHash>> {
    match std::fs::read_to_string(path) {
        Ok(text) => ApiKeyHash::from_hex(&text).map(Some).ok_or_else(|| {
            file_error(
                path,
                "it does not hold a hex SHA-256; delete it to create a new key on the next start",
            )
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(file_error(path, &e.to_string())),
    }
}

fn write_new(path: &Path, hash: &ApiKeyHash) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    writeln!(file, "{}", hash.to_hex())?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_key_itself_verifies() {
        let hash = ApiKeyHash::of("jlk_right");
        assert!(hash.verify("jlk_right"));
        assert!(!hash.verify("jlk_wrong"));
        assert!(!hash.verify(""));
        assert_eq!(ApiKeyHash::from_hex(&hash.to_hex()), Some(hash));
        assert_eq!(ApiKeyHash::from_hex("abcd"), None);
    }

    #[test]
    fn a_created_key_is_stored_as_its_hash_only_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let (hash, source) = load_or_create_api_key(dir.path(), None).unwrap();
        let ApiKeySource::Created(key) = source else {
            panic!("expected a new key, got {source:?}")
        };
        assert!(hash.verify(key.expose()));
        let stored = std::fs::read_to_string(dir.path().join(API_KEY_FILE)).unwrap();
        assert!(!stored.contains(key.expose()));
        assert_eq!(stored.trim(), hash.to_hex());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(API_KEY_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let (again, source) = load_or_create_api_key(dir.path(), None).unwrap();
        assert!(matches!(source, ApiKeySource::File));
        assert!(again.verify(key.expose()));
        assert!(!format!("{key:?}").contains(key.expose()));
    }

    #[test]
    fn the_environment_wins_and_must_be_long_enough() {
        let dir = tempfile::tempdir().unwrap();
        let long = "k".repeat(MIN_API_KEY_LEN);
        let (hash, source) = load_or_create_api_key(dir.path(), Some(&long)).unwrap();
        assert!(matches!(source, ApiKeySource::Env));
        assert!(hash.verify(&long));
        assert!(!dir.path().join(API_KEY_FILE).exists());
        let err = load_or_create_api_key(dir.path(), Some("short")).unwrap_err();
        assert!(matches!(err, WebError::ApiKeyTooShort { .. }), "{err}");
    }

    #[test]
    fn a_damaged_hash_file_is_reported_not_replaced() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(API_KEY_FILE), "not hex").unwrap();
        let err = load_or_create_api_key(dir.path(), None).unwrap_err();
        assert!(err.to_string().contains("delete it"), "{err}");
    }
}
