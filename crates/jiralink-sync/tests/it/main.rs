//! Integration tests of the export engine against the simulator on 127.0.0.1. No test sleeps:
//! the engine, the client's retry waits and the simulator share one clock that moves only when
//! a test (or a retry wait) moves it.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test helpers fail the test by panicking"
)]

mod csv;
mod delta;
mod import;
mod import_actions;
mod import_service;
mod issues;
mod resources;
mod resume;

use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use async_trait::async_trait;
use jiralink_atlassian::{
    ApiBase, AuthRoute, Credentials, HttpConfig, JiraClient, RetryPolicy, build_client,
};
use jiralink_domain::{ApiType, AtlassianEndpoints, Clock, Email, Sleep, Subdomain};
use jiralink_sim::{Control, Sim, SimConfig, SimHandle};
use jiralink_sync::{
    Checkpoint, DeltaCursor, ExportJob, ExportOutcome, ExportSpec, KnownIds, NoProgress,
    RunJournal, RunStats, SyncError, run_export,
};
use jiralink_vault::ApiToken;
use serde_json::Value;
use time::OffsetDateTime;
use url::Url;

/// The simulator's clock as a jiralink clock: a wait moves the simulator on, so rate-limit
/// windows and `Retry-After` pass without sleeping.
#[derive(Clone)]
pub(crate) struct SimTime(pub(crate) Control);

impl std::fmt::Debug for SimTime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SimTime")
    }
}

impl Clock for SimTime {
    fn now(&self) -> OffsetDateTime {
        self.0.now()
    }

    fn sleep(&self, duration: Duration) -> Sleep {
        self.0.advance(duration);
        Box::pin(std::future::ready(()))
    }
}

/// A simulator, a client of its `demo` site, and the shared clock.
pub(crate) struct Env {
    pub(crate) sim: SimHandle,
    pub(crate) client: JiraClient,
    pub(crate) clock: SimTime,
    pub(crate) email: String,
    pub(crate) token: String,
}

impl Env {
    pub(crate) async fn start(config: SimConfig) -> Self {
        let sim = Sim::start(config).await.expect("simulator starts");
        let email = sim.samples().email.clone();
        let token = sim.samples().api_token.clone();
        Self::with_account(sim, email, token)
    }

    pub(crate) fn with_account(sim: SimHandle, email: String, token: String) -> Self {
        let clock = SimTime(sim.control());
        let client = client_for(&sim, &email, &token, &clock);
        Self {
            sim,
            client,
            clock,
            email,
            token,
        }
    }

    pub(crate) fn control(&self) -> Control {
        self.sim.control()
    }

    pub(crate) fn advance(&self, secs: u64) {
        self.control().advance(Duration::from_secs(secs));
    }

    /// Runs one export with `journal`.
    pub(crate) async fn run(
        &self,
        spec: &ExportSpec,
        cursor: Option<&DeltaCursor>,
        known: Option<&KnownIds>,
        resume: Option<&Checkpoint>,
        concurrency: usize,
        journal: &MemJournal,
    ) -> Result<ExportOutcome, SyncError> {
        run_export(ExportJob {
            client: &self.client,
            spec,
            cursor,
            known_ids: known,
            resume,
            clock: Arc::new(self.clock.clone()),
            concurrency,
            journal,
            progress: &NoProgress,
        })
        .await
    }

    /// Runs to the end and returns the outcome and the whole output (tail included).
    pub(crate) async fn run_all(
        &self,
        spec: &ExportSpec,
        cursor: Option<&DeltaCursor>,
        known: Option<&KnownIds>,
        concurrency: usize,
    ) -> (ExportOutcome, Vec<u8>) {
        let journal = MemJournal::default();
        let outcome = self
            .run(spec, cursor, known, None, concurrency, &journal)
            .await
            .expect("export runs");
        let mut out = journal.output();
        out.extend_from_slice(&outcome.tail);
        (outcome, out)
    }

    /// Sends a request to the simulator's platform API as the test account.
    pub(crate) async fn http(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let url = format!("{}/rest/api/3{path}", self.sim.site_url("demo"));
        let http = build_client(&HttpConfig::default()).unwrap();
        let mut request = http
            .request(method, url)
            .basic_auth(&self.email, Some(&self.token));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// Sets an issue's summary (a write that moves its `updated` to now).
    pub(crate) async fn edit(&self, key: &str, summary: &str) {
        self.editor().edit(key, summary).await;
    }

    /// Something that edits issues from inside a journal hook.
    pub(crate) fn editor(&self) -> Editor {
        Editor {
            site: self.sim.site_url("demo"),
            email: self.email.clone(),
            token: self.token.clone(),
        }
    }
}

/// Edits issues of the simulator over HTTP.
#[derive(Clone)]
pub(crate) struct Editor {
    site: String,
    email: String,
    token: String,
}

impl Editor {
    pub(crate) async fn edit(&self, key: &str, summary: &str) {
        let http = build_client(&HttpConfig::default()).unwrap();
        let response = http
            .put(format!("{}/rest/api/3/issue/{key}", self.site))
            .basic_auth(&self.email, Some(&self.token))
            .json(&serde_json::json!({"fields": {"summary": summary}}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 204, "edit {key}");
    }
}

pub(crate) fn client_for(sim: &SimHandle, email: &str, token: &str, clock: &SimTime) -> JiraClient {
    let endpoints = AtlassianEndpoints {
        site_url_template: sim.site_url_template(),
        api_gateway: Url::parse(&sim.api_gateway()).unwrap(),
        auth_server: Url::parse(&sim.auth_server()).unwrap(),
    };
    let base = ApiBase::resolve(
        &endpoints,
        ApiType::CloudPlatform,
        AuthRoute::BasicClassic,
        Some(&Subdomain::from_label("demo").unwrap()),
        None,
    )
    .unwrap();
    let credentials = Credentials::basic(Email::parse(email).unwrap(), ApiToken::new(token));
    JiraClient::builder(
        build_client(&HttpConfig::default()).unwrap(),
        base,
        credentials,
    )
    .clock(Arc::new(clock.clone()))
    .retry_policy(RetryPolicy {
        jitter: 1.0..=1.0,
        ..RetryPolicy::default()
    })
    .build()
}

/// Work done between two pages of a run.
pub(crate) type Hook = Arc<dyn Fn(usize) -> futures::future::BoxFuture<'static, ()> + Send + Sync>;

/// A journal in memory: chunks, the last checkpoint, and optional faults.
#[derive(Default)]
pub(crate) struct MemJournal {
    state: Mutex<JournalState>,
}

#[derive(Default)]
pub(crate) struct JournalState {
    pub(crate) chunks: Vec<Vec<u8>>,
    pub(crate) checkpoints: Vec<Checkpoint>,
    pub(crate) stats: Option<RunStats>,
    /// Refuse (and so end the run, like a kill) once this many checkpoints are recorded.
    pub(crate) fail_after: Option<usize>,
    /// Ask to cancel once this many checkpoints are recorded.
    pub(crate) cancel_after: Option<usize>,
    /// Called after each recorded checkpoint with its number (1-based): writes that land
    /// while the run goes on.
    pub(crate) on_checkpoint: Option<Hook>,
}

impl MemJournal {
    pub(crate) fn with(f: impl FnOnce(&mut JournalState)) -> Self {
        let j = Self::default();
        f(&mut j.state.lock().unwrap());
        j
    }

    /// Continues the output of `other` (a resumed run writes to the same output).
    pub(crate) fn continuing(other: &MemJournal) -> Self {
        let s = other.state.lock().unwrap();
        Self::with(|j| {
            j.chunks.clone_from(&s.chunks);
            j.checkpoints.clone_from(&s.checkpoints);
        })
    }

    pub(crate) fn output(&self) -> Vec<u8> {
        self.state.lock().unwrap().chunks.concat()
    }

    pub(crate) fn checkpoints(&self) -> Vec<Checkpoint> {
        self.state.lock().unwrap().checkpoints.clone()
    }
}

#[async_trait]
impl RunJournal for MemJournal {
    async fn checkpoint(
        &self,
        output: &[u8],
        checkpoint: &Checkpoint,
        stats: &RunStats,
    ) -> Result<(), SyncError> {
        let (hook, n) = {
            let mut s = self.state.lock().unwrap();
            if s.fail_after.is_some_and(|n| s.checkpoints.len() >= n) {
                return Err(SyncError::Journal("killed".into()));
            }
            s.chunks.push(output.to_vec());
            s.checkpoints.push(checkpoint.clone());
            s.stats = Some(stats.clone());
            (s.on_checkpoint.clone(), s.checkpoints.len())
        };
        if let Some(hook) = hook {
            hook(n).await;
        }
        Ok(())
    }

    async fn cancel_requested(&self) -> bool {
        let s = self.state.lock().unwrap();
        s.cancel_after.is_some_and(|n| s.checkpoints.len() >= n)
    }
}

/// The records of NDJSON output.
pub(crate) fn lines(out: &[u8]) -> Vec<Value> {
    std::str::from_utf8(out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// `(id, updated)` of each issue record.
pub(crate) fn versions(records: &[Value]) -> Vec<(String, String)> {
    records
        .iter()
        .map(|r| {
            (
                r["id"].as_str().unwrap().to_owned(),
                r["fields"]["updated"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            )
        })
        .collect()
}

/// How many times each id occurs.
pub(crate) fn id_counts(records: &[Value]) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for r in records {
        *m.entry(r["id"].as_str().unwrap().to_owned()).or_insert(0) += 1;
    }
    m
}

/// Every issue id of the site as the client sees it now (an unbounded-in-time search).
pub(crate) async fn all_ids(client: &JiraClient, jql: &str) -> Vec<String> {
    use futures::TryStreamExt as _;
    client
        .search_jql(jiralink_atlassian::SearchRequest {
            jql: format!("{jql} ORDER BY id ASC"),
            fields: vec!["id".into()],
            max_results: Some(5000),
            ..Default::default()
        })
        .map_ok(|i| i.id)
        .try_collect()
        .await
        .unwrap()
}
