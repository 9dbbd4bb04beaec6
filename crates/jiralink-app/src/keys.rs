//! Opening the vault for a data directory, and rotating its master key.
//!
//! Rotation is resumable. A new key is first written to `<data dir>/master.key.next`; every
//! secret is then re-sealed one row at a time with a compare-and-swap on its key id; only
//! when no row is left under an old key does the new key take its place: moved over
//! `master.key` (an atomic rename), or, for a key from the environment, written to the file
//! named with `--new-key-file`. A process killed at any point leaves every row readable: any
//! later start loads the pending key too, and running `jiralink key rotate` again finishes.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use jiralink_store::Store;
use jiralink_vault::{
    KeyId, KeyOrigin, Keyring, LoadedKey, MASTER_KEY_FILE, MasterKey, load_master_key,
    read_key_file, write_key_file,
};

use crate::{AppError, AppResult};

/// The file a rotation in progress keeps its new key in, inside the data directory.
pub const NEXT_KEY_FILE: &str = "master.key.next";

/// The vault of an opened data directory.
#[derive(Debug)]
pub(crate) struct OpenedVault {
    pub(crate) keyring: Keyring,
    pub(crate) origin: KeyOrigin,
    pub(crate) notices: Vec<String>,
}

pub(crate) fn describe_origin(origin: &KeyOrigin) -> String {
    match origin {
        KeyOrigin::Env => "JIRALINK_MASTER_KEY".to_owned(),
        KeyOrigin::EnvFile(p) => format!("JIRALINK_MASTER_KEY_FILE ({})", p.display()),
        KeyOrigin::DataDir(p) | KeyOrigin::Created(p) => p.display().to_string(),
    }
}

pub(crate) fn env_has_key(env: &dyn Fn(&str) -> Option<String>) -> bool {
    env("JIRALINK_MASTER_KEY").is_some() || env("JIRALINK_MASTER_KEY_FILE").is_some()
}

/// Loads the master key (creating one only for a database that holds no secret yet) and
/// checks that it opens what the database holds. Fails without changing anything.
///
/// `from_env` is the key already read from the environment, if one is set there (read
/// before the database is opened, so that a malformed key changes nothing).
/// The database setting naming the id of the master key the installation uses: every
/// process sharing the database must hold that key.
pub(crate) const MASTER_KEY_SETTING: &str = "master_key_id";

pub(crate) async fn open_vault(
    store: &dyn Store,
    data_dir: &Path,
    env: &dyn Fn(&str) -> Option<String>,
    from_env: Option<LoadedKey>,
    now: time::OffsetDateTime,
) -> AppResult<OpenedVault> {
    let counts = store.count_secrets_by_key().await?;
    let key_path = data_dir.join(MASTER_KEY_FILE);
    let next_path = data_dir.join(NEXT_KEY_FILE);

    // A rotation interrupted between its last two steps leaves the new key only in the
    // pending file: that key is the key, and moving it into place finishes the rotation.
    let promote = from_env.is_none() && !key_path.exists() && next_path.exists();
    let loaded = match from_env {
        Some(loaded) => loaded,
        None if promote => LoadedKey {
            key: read_key_file(&next_path)?,
            origin: KeyOrigin::DataDir(key_path.clone()),
            warnings: Vec::new(),
        },
        None if !key_path.exists() && !counts.is_empty() => {
            return Err(AppError::KeyMissing {
                expected: counts.iter().map(|(k, _)| k.to_string()).collect(),
                path: key_path.display().to_string(),
            });
        }
        None => load_master_key(env, data_dir, counts.is_empty())?,
    };
    // The vault already words the first-run notice (where the key is, how to back it up).
    let mut notices = loaded.warnings;
    let active_id = *loaded.key.id();
    let mut keyring = Keyring::new(loaded.key);
    if !promote && next_path.exists() {
        let next = read_key_file(&next_path)?;
        if next.id() != &active_id {
            keyring.add(next);
            notices.push(format!(
                "A key rotation is in progress (new key in {}); rotate the key again to \
                 finish it.",
                next_path.display()
            ));
        }
    }
    let missing: Vec<String> = counts
        .iter()
        .filter(|(kid, _)| !keyring.has_key(kid))
        .map(|(kid, _)| kid.to_string())
        .collect();
    if !missing.is_empty() {
        return Err(AppError::KeyMismatch {
            expected: missing,
            active: active_id.to_string(),
            origin: describe_origin(&loaded.origin),
        });
    }
    if promote {
        std::fs::rename(&next_path, &key_path).map_err(|e| {
            AppError::Io(format!(
                "could not finish the interrupted key rotation (moving {} to {}): {e}",
                next_path.display(),
                key_path.display()
            ))
        })?;
        sync_dir(data_dir);
    }
    // The first process to open the database records its key's id; another process with
    // another key (a server set up without the shared key file) is refused before it seals
    // anything the others could not open.
    let recorded = store
        .put_setting_if_absent(MASTER_KEY_SETTING, &active_id.to_string(), now)
        .await?;
    let recorded_key = KeyId::from_str(&recorded).ok();
    if !recorded_key.is_some_and(|kid| keyring.has_key(&kid)) {
        return Err(AppError::KeyMismatch {
            expected: vec![recorded],
            active: active_id.to_string(),
            origin: describe_origin(&loaded.origin),
        });
    }
    Ok(OpenedVault {
        keyring,
        origin: loaded.origin,
        notices,
    })
}

fn sync_dir(dir: &Path) {
    if let Ok(d) = std::fs::File::open(dir) {
        // Makes a rename durable; failing here only weakens crash safety, so it is not fatal.
        let _ = d.sync_all();
    }
}

/// What a rotation did.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RotationReport {
    pub from_key_ids: Vec<String>,
    pub to_key_id: String,
    pub resealed: u64,
    pub already_done: u64,
    pub key_file: PathBuf,
    /// What the user still has to do (when the key comes from the environment).
    pub next_steps: Option<String>,
}

/// What opening every stored secret found (`jiralink key status --check`).
#[derive(Debug, Clone, Default, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SecretsCheck {
    /// Secrets that opened.
    pub opened: u64,
    /// The ones that did not.
    pub unreadable: Vec<UnreadableSecret>,
}

/// A stored secret that does not open, as [`crate::AppError::SecretUnreadable`] names it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct UnreadableSecret {
    /// Which secret, e.g. `api_token of connection <id>`.
    pub what: String,
    /// The resource to edit, as `connection <id>` or `oauth-client <id>`.
    pub owner: String,
}

/// Where a rotation keeps its new key while it runs, and where the key ends up.
pub(crate) struct RotationPlan {
    pub(crate) new_key: MasterKey,
    /// `<data dir>/master.key.next`: always in the data directory, so that any later start
    /// (whatever the key's source) loads it and every secret stays readable.
    pub(crate) pending: PathBuf,
    /// For a key from the environment: the file the user asked the new key to be written to.
    /// `None`: the new key replaces `<data dir>/master.key`.
    pub(crate) destination: Option<PathBuf>,
}

pub(crate) fn plan_rotation(
    data_dir: &Path,
    origin: &KeyOrigin,
    active: &KeyId,
    new_key_file: Option<&Path>,
) -> AppResult<RotationPlan> {
    let destination = match (origin, new_key_file) {
        (KeyOrigin::DataDir(_) | KeyOrigin::Created(_), None) => None,
        (KeyOrigin::DataDir(_) | KeyOrigin::Created(_), Some(_)) => {
            return Err(AppError::Config(format!(
                "the master key lives in {}, where the rotation puts the new key; \
                 a file for the new key is only for keys supplied through the environment",
                describe_origin(origin)
            )));
        }
        (KeyOrigin::Env | KeyOrigin::EnvFile(_), Some(path)) => Some(path.to_path_buf()),
        (KeyOrigin::Env | KeyOrigin::EnvFile(_), None) => {
            return Err(AppError::Config(format!(
                "the master key comes from {}, which jiralink cannot change; name the file \
                 the new key is to be written to",
                describe_origin(origin)
            )));
        }
    };
    let pending = data_dir.join(NEXT_KEY_FILE);
    let new_key = if pending.exists() {
        // Resuming: the new key was written by the interrupted run.
        read_key_file(&pending)?
    } else {
        let key = MasterKey::generate();
        write_key_file(&pending, &key)?;
        key
    };
    if new_key.id() == active {
        return Err(AppError::Config(format!(
            "{} holds the key already in use; remove it and rotate the key again",
            pending.display()
        )));
    }
    if let Some(dest) = &destination
        && dest.exists()
        && read_key_file(dest)?.id() != new_key.id()
    {
        return Err(AppError::Config(format!(
            "{} already exists and holds another key; choose a new file",
            dest.display()
        )));
    }
    Ok(RotationPlan {
        new_key,
        pending,
        destination,
    })
}

/// Re-seals every secret not yet under `keyring`'s active key.
pub(crate) async fn reseal_all(
    store: &dyn Store,
    keyring: &Keyring,
    progress: &dyn Fn(u64, u64),
) -> AppResult<(u64, u64, Vec<String>)> {
    let secrets = store.list_secrets().await?;
    let total = secrets.len() as u64;
    let active = *keyring.active_id();
    let mut resealed = 0;
    let mut already = 0;
    let mut from: Vec<String> = Vec::new();
    for (i, s) in secrets.iter().enumerate() {
        let old = *s.sealed.key_id();
        if old == active {
            already += 1;
        } else {
            let sealed = crate::secrets::with_aad(s.owner.into(), s.field.as_str(), |aad| {
                keyring.reseal(&s.sealed, aad)
            })?;
            // A row changed meanwhile was sealed with the active key by its writer.
            if store.reseal_secret(s.owner, s.field, &old, &sealed).await? {
                resealed += 1;
            }
            let old = old.to_string();
            if !from.contains(&old) {
                from.push(old);
            }
        }
        progress(i as u64 + 1, total);
    }
    Ok((resealed, already, from))
}

/// The last step: the new key takes its final place and the pending file goes.
pub(crate) fn install_key(data_dir: &Path, plan: &RotationPlan) -> AppResult<PathBuf> {
    let target = match &plan.destination {
        None => {
            let target = data_dir.join(MASTER_KEY_FILE);
            std::fs::rename(&plan.pending, &target).map_err(|e| {
                AppError::Io(format!(
                    "every secret is re-sealed, but moving {} to {} failed: {e}; move it by hand",
                    plan.pending.display(),
                    target.display()
                ))
            })?;
            target
        }
        Some(dest) => {
            if !dest.exists() {
                write_key_file(dest, &plan.new_key)?;
            }
            std::fs::remove_file(&plan.pending).map_err(|e| {
                AppError::Io(format!(
                    "the new key is in {}, but removing {} failed: {e}; remove it by hand",
                    dest.display(),
                    plan.pending.display()
                ))
            })?;
            dest.clone()
        }
    };
    sync_dir(data_dir);
    Ok(target)
}
