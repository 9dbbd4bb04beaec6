//! `jiralink db`: which database, its schema version, migrations, and copying one database
//! into another. None of this needs the master key: no secret is opened.

use std::path::Path;

use jiralink_store::{AnyStore, DatabaseUrl, SchemaStatus};
use serde::Serialize;

pub use jiralink_store::{CopyReport, TableCount};

use crate::{AppError, AppResult, Config};

/// A migration, by version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Migration {
    pub version: i64,
    pub description: String,
}

/// Where a database stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DatabaseStatus {
    /// The URL, any password replaced by `****`.
    pub url: String,
    pub backend: &'static str,
    /// The schema version applied, if any.
    pub version: Option<i64>,
    /// The newest schema version this jiralink knows.
    pub latest: i64,
    pub pending: Vec<Migration>,
    /// Versions applied by a newer jiralink: this one must not run against the database.
    pub unknown: Vec<i64>,
    /// A migration that started and did not finish.
    pub dirty: Option<i64>,
}

impl DatabaseStatus {
    fn of(url: &DatabaseUrl, s: SchemaStatus) -> Self {
        Self {
            url: url.to_string(),
            backend: s.backend.as_str(),
            version: s.version,
            latest: s.latest,
            pending: s
                .pending
                .into_iter()
                .map(|m| Migration {
                    version: m.version,
                    description: m.description,
                })
                .collect(),
            unknown: s.unknown,
            dirty: s.dirty,
        }
    }

    /// Whether this jiralink can run against the database as it is.
    pub fn up_to_date(&self) -> bool {
        self.pending.is_empty() && self.unknown.is_empty() && self.dirty.is_none()
    }
}

/// The database a data directory's configuration names (or `flag` names).
pub fn database_url(
    data_dir: &Path,
    config_file: Option<&Path>,
    flag: Option<&str>,
) -> AppResult<(Config, DatabaseUrl)> {
    let config = Config::load(data_dir, config_file)?;
    let url = config.database.resolve_url(flag, data_dir)?;
    Ok((config, url))
}

async fn connect(config: &Config, url: &DatabaseUrl) -> AppResult<AnyStore> {
    if let DatabaseUrl::Sqlite(path) = url
        && let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
    {
        crate::create_private_dir(dir)?;
    }
    Ok(AnyStore::connect(url, &config.database.pool_settings(url.backend())).await?)
}

/// The schema version and pending migrations, changing nothing (an SQLite file that does not
/// exist yet is not created).
pub async fn database_status(config: &Config, url: &DatabaseUrl) -> AppResult<DatabaseStatus> {
    if let DatabaseUrl::Sqlite(path) = url
        && !path.exists()
    {
        let known = jiralink_store::known_migrations(url.backend());
        return Ok(DatabaseStatus {
            url: url.to_string(),
            backend: url.backend().as_str(),
            version: None,
            latest: known.iter().map(|m| m.version).max().unwrap_or(0),
            pending: known
                .into_iter()
                .map(|m| Migration {
                    version: m.version,
                    description: m.description,
                })
                .collect(),
            unknown: Vec::new(),
            dirty: None,
        });
    }
    let store = connect(config, url).await?;
    let status = store.schema_status().await?;
    store.close().await;
    Ok(DatabaseStatus::of(url, status))
}

/// Applies the pending migrations (once, however many servers start together) and returns
/// where the schema stands afterwards.
pub async fn migrate_database(config: &Config, url: &DatabaseUrl) -> AppResult<DatabaseStatus> {
    let store = connect(config, url).await?;
    let before = store.schema_status().await?;
    if !before.unknown.is_empty() {
        return Err(AppError::Config(format!(
            "the database at {url} has schema versions this jiralink does not know ({}): a \
             newer jiralink upgraded it; run that version",
            before
                .unknown
                .iter()
                .map(i64::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    store.migrate().await?;
    let status = store.schema_status().await?;
    store.close().await;
    Ok(DatabaseStatus::of(url, status))
}

/// Copies every table of `from` into `to` (both brought up to date first), secrets still
/// sealed under the same master key, row counts checked; refused into a database that holds
/// rows unless `force`. One transaction on the target: stopped half-way, it leaves the target
/// as it was and can run again.
pub async fn copy_database(
    config: &Config,
    from: &str,
    to: &str,
    force: bool,
    progress: &mut (dyn FnMut(&str, u64) + Send),
) -> AppResult<CopyReport> {
    let parse = |what: &str, text: &str| {
        DatabaseUrl::parse(text).map_err(|e| AppError::InvalidInput(format!("{what}: {e}")))
    };
    let (from_url, to_url) = (parse("--from", from)?, parse("--to", to)?);
    if from_url == to_url {
        return Err(AppError::InvalidInput(
            "--from and --to name the same database".to_owned(),
        ));
    }
    if let DatabaseUrl::Sqlite(path) = &from_url
        && !path.is_file()
    {
        return Err(AppError::InvalidInput(format!(
            "--from: there is no SQLite database at {}",
            path.display()
        )));
    }
    let source = connect(config, &from_url).await?;
    let target = connect(config, &to_url).await?;
    source.migrate().await?;
    target.migrate().await?;
    let report = source
        .copy_into(&target, &to_url.to_string(), force, progress)
        .await?;
    source.close().await;
    target.close().await;
    Ok(report)
}
