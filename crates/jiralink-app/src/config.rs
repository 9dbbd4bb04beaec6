//! Configuration, in layers: defaults, then `jiralink.toml` (in the data directory, or the
//! file named by `--config` / `JIRALINK_CONFIG`), then `JIRALINK_<SECTION>__<KEY>`
//! environment variables (`__` nests: `JIRALINK_SERVER__BASE_URL`).

use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use jiralink_domain::AtlassianEndpoints;
use serde::{Deserialize, Serialize};
use url::Url;

use crate::{AppError, AppResult};

/// The configuration file read from the data directory when no other is named.
pub const CONFIG_FILE: &str = "jiralink.toml";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// The format version of the file; only 1 exists.
    pub version: u32,
    pub server: ServerConfig,
    /// Where Atlassian lives. Point these at `jiralink sim` to work offline.
    pub atlassian: AtlassianEndpoints,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            version: 1,
            server: ServerConfig::default(),
            atlassian: AtlassianEndpoints::default(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// The URL users reach jiralink's server at. OAuth 2.0 callbacks go to
    /// `<base_url>/connection/oauth2callback`, which must be registered with Atlassian.
    pub base_url: Url,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            base_url: default_base_url(),
        }
    }
}

#[expect(clippy::expect_used, reason = "a constant that always parses")]
fn default_base_url() -> Url {
    Url::parse("http://127.0.0.1:8080").expect("constant URL parses")
}

impl Config {
    /// Loads the layers. A named file must exist; the data directory's file is optional.
    pub fn load(data_dir: &Path, file: Option<&Path>) -> AppResult<Self> {
        let (path, required): (PathBuf, bool) = match file {
            Some(p) => (p.to_path_buf(), true),
            None => (data_dir.join(CONFIG_FILE), false),
        };
        if required && !path.is_file() {
            return Err(AppError::Config(format!(
                "the configuration file {} does not exist",
                path.display()
            )));
        }
        let figment = Figment::from(Serialized::defaults(Config::default()))
            .merge(Toml::file(&path))
            .merge(
                Env::prefixed("JIRALINK_")
                    .filter(|k| k.as_str().contains("__"))
                    .split("__"),
            );
        let config: Config = figment
            .extract()
            .map_err(|e| AppError::Config(format!("{} ({})", e, path.display())))?;
        config.validate()?;
        Ok(config)
    }

    pub fn validate(&self) -> AppResult<()> {
        if self.version != 1 {
            return Err(AppError::Config(format!(
                "unsupported configuration version {}; this jiralink reads version 1",
                self.version
            )));
        }
        if !matches!(self.server.base_url.scheme(), "http" | "https") {
            return Err(AppError::Config(
                "server.base_url must be an http(s) URL, such as https://jiralink.example.com"
                    .into(),
            ));
        }
        self.atlassian
            .validate()
            .map_err(|e| AppError::Config(e.to_string()))?;
        Ok(())
    }
}

/// Environment variables jiralink reads that are not configuration keys.
const KNOWN_ENV: &[&str] = &[
    "JIRALINK_DATA_DIR",
    "JIRALINK_CONFIG",
    "JIRALINK_OUTPUT",
    "JIRALINK_MASTER_KEY",
    "JIRALINK_MASTER_KEY_FILE",
    "JIRALINK_TEST_PG_URL",
    "JIRALINK_SPECS_DIR",
];

/// A warning for each `JIRALINK_*` variable that jiralink does not read, so a typo such as
/// `JIRALINK_SERVER_BASE_URL` (one underscore) does not go unnoticed.
pub fn unknown_env_notices(names: &[String]) -> Vec<String> {
    let known_keys: Vec<String> = [
        "server__base_url",
        "atlassian__site_url_template",
        "atlassian__api_gateway",
        "atlassian__auth_server",
        "version",
    ]
    .iter()
    .map(|k| format!("JIRALINK_{}", k.to_uppercase()))
    .collect();
    names
        .iter()
        .filter(|n| n.starts_with("JIRALINK_"))
        .filter(|n| !KNOWN_ENV.contains(&n.as_str()) && !known_keys.contains(n))
        .map(|n| {
            format!(
                "ignoring the environment variable {n}: jiralink does not read it (see \
                 docs/configuration.md; nested keys use a double underscore, e.g. \
                 JIRALINK_SERVER__BASE_URL)"
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn unknown_jiralink_variables_are_reported() {
        let names: Vec<String> = [
            "JIRALINK_DATA_DIR",
            "JIRALINK_SERVER__BASE_URL",
            "JIRALINK_SERVER_BASE_URL",
            "PATH",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
        let notices = unknown_env_notices(&names);
        assert_eq!(notices.len(), 1);
        assert!(notices[0].contains("JIRALINK_SERVER_BASE_URL"));
    }

    use super::*;

    #[test]
    fn example_config_parses() {
        let text = include_str!("../../../jiralink.example.toml");
        let config: Config = toml::from_str(text).expect("example config parses");
        config.validate().expect("example config is valid");
    }

    #[test]
    fn unknown_keys_are_refused() {
        let err = toml::from_str::<Config>("[server]\nbase_ur = \"http://x\"\n");
        assert!(err.is_err());
    }

    #[test]
    fn named_file_must_exist() {
        let dir = tempfile::tempdir().unwrap();
        let err = Config::load(dir.path(), Some(&dir.path().join("nope.toml"))).unwrap_err();
        assert!(err.to_string().contains("does not exist"));
    }

    #[test]
    fn file_in_data_dir_is_read() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(CONFIG_FILE),
            "version = 1\n[server]\nbase_url = \"https://jl.example.com/\"\n",
        )
        .unwrap();
        let config = Config::load(dir.path(), None).unwrap();
        assert_eq!(config.server.base_url.as_str(), "https://jl.example.com/");
    }
}
