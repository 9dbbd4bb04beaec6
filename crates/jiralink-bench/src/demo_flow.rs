//! An application with the flow "Demo to Acme" between the simulator's sites `demo` and
//! `acme`, as the flow and listener benchmarks set it up.

use std::path::PathBuf;
use std::sync::Arc;

use jiralink_app::{
    Actor, App, ConnectionSecrets, ExportDraft, ExportKind, ExportSpec, FlowDraft, ImportDraft,
    ImportSpec, OpenOptions, Resource, ResultsFormat, SystemClock,
};
use jiralink_domain::{AuditSource, ConnectionDraft};
use jiralink_vault::ApiToken;
use serde_json::Value;
use url::Url;

use crate::BoxError;

/// The project on both sites.
pub const PROJECT: &str = "MKT";

/// The label the import marks each copy with, before the original's key.
pub const LABEL_PREFIX: &str = "from-demo-";

/// A stand-in master key for the application's vault (its secrets live only as long as the
/// run's temporary data directory).
const MASTER_KEY: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

/// A data directory removed when dropped.
#[derive(Debug)]
pub struct DataDir(pub PathBuf);

impl Drop for DataDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The actor the benchmark `name` acts as.
#[must_use]
pub fn actor(name: &str) -> Actor {
    Actor {
        name: name.to_owned(),
        source: AuditSource::Cli,
    }
}

/// An application on a fresh data directory `<temp>/<dir_name>`, configured for the
/// simulator's endpoints (and `server.base_url` when given), with the Basic connections
/// "Demo" and "Acme" of the simulator's sample account.
///
/// # Errors
/// The simulator cannot be reached, or the application refuses the set-up.
pub async fn open_app(
    base_url: &Url,
    dir_name: &str,
    server_base_url: Option<&str>,
    bench: &str,
) -> Result<(DataDir, App), BoxError> {
    let http = jiralink_atlassian::build_client(&jiralink_atlassian::HttpConfig::default())?;
    let info: Value = http
        .get(base_url.join("/_sim/info")?)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let text = |pointer: &str| -> Result<String, BoxError> {
        Ok(info
            .pointer(pointer)
            .and_then(Value::as_str)
            .ok_or_else(|| format!("/_sim/info has no {pointer}"))?
            .to_owned())
    };
    let dir = DataDir(std::env::temp_dir().join(dir_name));
    std::fs::create_dir_all(&dir.0)?;
    let server = server_base_url
        .map(|url| format!("[server]\nbase_url = \"{url}\"\n"))
        .unwrap_or_default();
    std::fs::write(
        dir.0.join("jiralink.toml"),
        format!(
            "version = 1\n{server}[atlassian]\nsite_url_template = \"{}\"\n\
             api_gateway = \"{}\"\nauth_server = \"{}\"\n",
            text("/site_url_template")?,
            text("/api_gateway")?,
            text("/auth_server")?,
        ),
    )?;
    let app = App::open(OpenOptions {
        data_dir: dir.0.clone(),
        config_file: None,
        database: None,
        clock: Arc::new(SystemClock),
        env: Box::new(|k| (k == "JIRALINK_MASTER_KEY").then(|| MASTER_KEY.to_owned())),
    })
    .await?
    .value;
    let (email, token) = (text("/sample/email")?, text("/sample/api_token")?);
    for (name, subdomain) in [("Demo", "demo"), ("Acme", "acme")] {
        app.create_connection(
            &ConnectionDraft {
                name: Some(name.to_owned()),
                api_type: Some("cloud-platform".to_owned()),
                subdomain: Some(subdomain.to_owned()),
                auth_type: Some("basic".to_owned()),
                username: Some(email.clone()),
                ..ConnectionDraft::default()
            },
            ConnectionSecrets {
                api_token: Some(ApiToken::new(&token)),
            },
            &actor(bench),
        )
        .await?;
    }
    Ok((dir, app))
}

/// The flow "Demo to Acme": a delta export of `jql` on "Demo" (`summary`, lag 0 s) feeding
/// an upsert import into [`PROJECT`] on "Acme" (external id `key` as a [`LABEL_PREFIX`]
/// label, search lag 0 s).
///
/// # Errors
/// The application refuses a definition.
pub async fn create_demo_to_acme(app: &App, jql: &str, bench: &str) -> Result<(), BoxError> {
    let mut spec = ExportSpec::new(Resource::Issues);
    spec.jql = Some(jql.to_owned());
    spec.fields = vec!["summary".to_owned()];
    spec.kind = ExportKind::Delta { start: None };
    spec.lag_secs = Some(0);
    app.create_export(
        ExportDraft {
            name: "Demo export".to_owned(),
            connection: "Demo".to_owned(),
            spec,
            schedule: None,
            enabled: true,
        },
        &actor(bench),
    )
    .await?;
    app.create_import(
        ImportDraft {
            name: "Acme import".to_owned(),
            connection: "Acme".to_owned(),
            spec: ImportSpec {
                mapping: format!(
                    "operation = \"upsert\"\nproject = \"{PROJECT}\"\nissue_type = \"Task\"\n\
                     [external_id]\nsource = \"key\"\nlabel_prefix = \"{LABEL_PREFIX}\"\n\
                     [fields]\nsummary = \"fields.summary\"\n"
                ),
                format: None,
                results_format: ResultsFormat::Ndjson,
                ledger: None,
                search_lag_secs: Some(0),
                input: None,
            },
            schedule: None,
            enabled: true,
        },
        &actor(bench),
    )
    .await?;
    app.create_flow(FlowDraft {
        name: "Demo to Acme".to_owned(),
        export: "Demo export".to_owned(),
        import: "Acme import".to_owned(),
        schedule: None,
        enabled: true,
    })
    .await?;
    Ok(())
}
