//! The API key that guards `/v1`.
//!
//! Only the key's SHA-256 is kept, in the database (setting [`API_KEY_SETTING`]), and read
//! there on every request ([`ServerKey::Stored`]), so every server sharing the database
//! accepts the same key and a reset takes effect on all of them at once. A key created on the
//! first start (or by a reset) is printed once and never stored. Presented keys are hashed
//! and compared with the stored hash in constant time. `JIRALINK_API_KEY` sets the key
//! instead ([`ServerKey::Fixed`]; then it must be the same on every server).

use std::fmt;
use std::path::Path;

use jiralink_app::App;
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::error::{WebError, WebResult};

/// Where earlier versions kept the hash: `<data dir>/api-key.sha256`. Read once, moved into
/// the database.
pub const API_KEY_FILE: &str = "api-key.sha256";
/// The database setting holding the hex SHA-256 of the server's API key.
pub const API_KEY_SETTING: &str = "server_api_key_sha256";
/// The environment variable that sets the API key instead.
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

/// Which server key `/v1` accepts.
#[derive(Debug, Clone)]
pub enum ServerKey {
    /// A key given to this process (`JIRALINK_API_KEY`, tests).
    Fixed(ApiKeyHash),
    /// The hash in the database, read on every request.
    Stored,
}

impl From<ApiKeyHash> for ServerKey {
    fn from(hash: ApiKeyHash) -> Self {
        Self::Fixed(hash)
    }
}

impl ServerKey {
    /// Whether `presented` is the server's key now. A stored hash that cannot be read counts
    /// as no key (and is logged), so a damaged setting never lets a key through.
    pub async fn accepts(&self, app: &App, presented: &str) -> bool {
        match self {
            Self::Fixed(hash) => hash.verify(presented),
            Self::Stored => match app.setting(API_KEY_SETTING).await {
                Ok(Some(stored)) => match ApiKeyHash::from_hex(&stored) {
                    Some(hash) => hash.verify(presented),
                    None => {
                        tracing::error!(
                            setting = API_KEY_SETTING,
                            "the stored server API key is not a hex SHA-256; reset it"
                        );
                        false
                    }
                },
                Ok(None) => false,
                Err(e) => {
                    tracing::error!(error = %e, "reading the server API key failed");
                    false
                }
            },
        }
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
    /// The database: created by an earlier start of this or another server.
    Database,
    /// The hash file of an earlier version, now moved into the database.
    File,
    /// Created now; its hash is in the database.
    Created(NewApiKey),
}

/// Reads the API key from `env_key` (the value of `JIRALINK_API_KEY`), else the database,
/// else the hash file an earlier version wrote in `data_dir` (moving it into the database),
/// else creates a random key and stores its hash. Servers starting together agree on one key:
/// the first hash stored wins, and only the server that stored it prints its key.
pub async fn load_or_create_api_key(
    app: &App,
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
    if let Some(stored) = app.setting(API_KEY_SETTING).await? {
        return Ok((stored_hash(&stored)?, ApiKeySource::Database));
    }
    let legacy = app.data_dir().join(API_KEY_FILE);
    if let Some(hash) = read_hash(&legacy)? {
        let stored = app
            .put_setting_if_absent(API_KEY_SETTING, &hash.to_hex())
            .await?;
        let _ = std::fs::remove_file(&legacy);
        return Ok((stored_hash(&stored)?, ApiKeySource::File));
    }
    let key = random_key();
    let hash = ApiKeyHash::of(&key);
    let stored = app
        .put_setting_if_absent(API_KEY_SETTING, &hash.to_hex())
        .await?;
    if stored == hash.to_hex() {
        Ok((hash, ApiKeySource::Created(NewApiKey(key))))
    } else {
        // Another server stored its key first: that one is the key.
        Ok((stored_hash(&stored)?, ApiKeySource::Database))
    }
}

/// Replaces the server's key with a new random one and returns it, to be shown once. Every
/// server reading the key from the database accepts the new key, and refuses the old one, from
/// the next request on (servers given `JIRALINK_API_KEY` keep that key).
pub async fn reset_api_key(app: &App) -> WebResult<NewApiKey> {
    let _ = std::fs::remove_file(app.data_dir().join(API_KEY_FILE));
    let key = random_key();
    app.set_setting(API_KEY_SETTING, &ApiKeyHash::of(&key).to_hex())
        .await?;
    Ok(NewApiKey(key))
}

fn random_key() -> Zeroizing<String> {
    let mut bytes = Zeroizing::new([0u8; 32]);
    rand::rngs::OsRng.fill_bytes(&mut *bytes);
    Zeroizing::new(format!("jlk_{}", hex::encode(*bytes)))
}

fn stored_hash(text: &str) -> WebResult<ApiKeyHash> {
    ApiKeyHash::from_hex(text).ok_or_else(|| WebError::ApiKeyFile {
        path: format!("the database setting {API_KEY_SETTING}"),
        reason: "it does not hold a hex SHA-256; reset the server's API key to create a new one"
            .to_owned(),
    })
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
    fn the_server_key_formatted_shows_neither_the_key_nor_its_hash() {
        let key = "jlk_CANARY-server-key-5e6f7a8b9c0d";
        let hash = ApiKeyHash::of(key);
        let server_key = ServerKey::from(hash.clone());
        let shown = format!("{server_key:?} {server_key:#?}");
        assert!(shown.contains("Fixed"), "{shown}");
        assert!(!shown.contains("CANARY"), "{shown}");
        assert!(!shown.contains(&hash.to_hex()), "{shown}");
    }
}
