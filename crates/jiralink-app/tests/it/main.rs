//! Service-level tests of jiralink-app on temporary data directories.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test helpers fail loudly"
)]

mod connection_test;
mod exports;
mod faults;
mod flows;
mod imports;
mod instances;
mod keys;
mod notifications;
mod oauth;
mod oauth_tokens;
mod panic_canary;
mod probe_scopes;
mod rate_limit;
mod services;
mod tamper;
mod users;

use std::path::Path;
use std::sync::Arc;

use jiralink_app::{Actor, App, ConnectionSecrets, OAuthClientSecrets, OpenOptions};
use jiralink_domain::{AuditSource, ConnectionDraft, ManualClock, OAuthClientDraft};
use jiralink_vault::{ApiToken, ClientSecret};

pub(crate) fn actor() -> Actor {
    Actor {
        name: "tester".to_owned(),
        source: AuditSource::Cli,
    }
}

pub(crate) async fn open(dir: &Path) -> App {
    try_open(dir, Vec::new()).await.unwrap()
}

pub(crate) async fn try_open(
    dir: &Path,
    env: Vec<(&'static str, String)>,
) -> jiralink_app::AppResult<App> {
    let clock = ManualClock::new(time::macros::datetime!(2026-01-02 03:04:05 UTC));
    App::open(OpenOptions {
        data_dir: dir.to_path_buf(),
        config_file: None,
        database: None,
        clock: Arc::new(clock),
        env: Box::new(move |k| env.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone())),
    })
    .await
    .map(|saved| saved.value)
}

pub(crate) fn basic_draft(name: &str) -> ConnectionDraft {
    ConnectionDraft {
        name: Some(name.to_owned()),
        api_type: Some("cloud-platform".to_owned()),
        subdomain: Some("demo".to_owned()),
        auth_type: Some("basic".to_owned()),
        username: Some("me@example.com".to_owned()),
        ..ConnectionDraft::default()
    }
}

pub(crate) async fn add_basic(app: &App, name: &str, token: &str) -> jiralink_app::ConnectionView {
    app.create_connection(
        &basic_draft(name),
        ConnectionSecrets {
            api_token: Some(ApiToken::new(token)),
        },
        &actor(),
    )
    .await
    .unwrap()
    .value
}

pub(crate) async fn add_client(
    app: &App,
    name: &str,
    secret: &str,
) -> jiralink_app::OAuthClientView {
    app.create_oauth_client(
        &OAuthClientDraft {
            name: Some(name.to_owned()),
            client_id: Some("client-id".to_owned()),
            client_secret: jiralink_domain::SecretEntry::Missing,
        },
        OAuthClientSecrets {
            client_secret: Some(ClientSecret::new(secret)),
        },
        &actor(),
    )
    .await
    .unwrap()
    .value
}

/// Runs the background jobs as a server would, `rounds` times: each round runs every due job,
/// then moves the clock to when the next one is due. Returns each round's runs.
pub(crate) async fn job_rounds(
    app: &App,
    clock: &ManualClock,
    rounds: usize,
) -> Vec<Vec<jiralink_app::JobRun>> {
    let options = jiralink_app::WorkerOptions::from_config(app.config());
    app.ensure_recurring_jobs().await.unwrap();
    let mut out = Vec::new();
    for _ in 0..rounds {
        let mut round = Vec::new();
        while let Some(run) = app.run_due_job(&options).await.unwrap() {
            round.push(run);
        }
        out.push(round);
        let next = app
            .store()
            .next_job_due(jiralink_app::JOB_KINDS)
            .await
            .unwrap()
            .unwrap();
        if next > jiralink_domain::Clock::now(clock) {
            clock.set(next);
        }
    }
    out
}

/// How long after its last run each job is due again.
pub(crate) async fn job_intervals(app: &App) -> Vec<(String, std::time::Duration)> {
    app.list_jobs()
        .await
        .unwrap()
        .into_iter()
        .map(|j| {
            let last = j.last_finished_at.unwrap();
            (
                j.key,
                std::time::Duration::try_from(j.next_run_at - last).unwrap(),
            )
        })
        .collect()
}
