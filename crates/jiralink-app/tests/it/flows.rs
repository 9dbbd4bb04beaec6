//! Flows: a project on one simulated site kept in step with a project on another through two
//! flows, one each way — issues, status changes, edits and comments copied, each once, and
//! nothing sent back as a change.

use std::time::Duration;

use jiralink_app::{
    App, ConnectionSecrets, ExportDraft, FlowDraft, ImportDraft, ImportSpec, ResultsFormat,
    RunState, RunTrigger,
};
use jiralink_domain::ManualClock;
use jiralink_sim::{Sim, SimConfig, SimHandle};
use jiralink_vault::ApiToken;
use pretty_assertions::assert_eq;
use serde_json::{Value, json};

use crate::exports::app_on;
use crate::{actor, basic_draft};

async fn connect(app: &App, sim: &SimHandle, name: &str, subdomain: &str) {
    app.create_connection(
        &jiralink_domain::ConnectionDraft {
            username: Some(sim.samples().email.clone()),
            subdomain: Some(subdomain.to_owned()),
            ..basic_draft(name)
        },
        ConnectionSecrets {
            api_token: Some(ApiToken::new(&sim.samples().api_token)),
        },
        &actor(),
    )
    .await
    .unwrap();
}

fn mapping(from: &str) -> String {
    format!(
        r#"
operation = "upsert"
project = "MKT"
issue_type = "Task"
[external_id]
source = "key"
label_prefix = "from-{from}-"
[fields]
summary = "fields.summary"
[actions]
status = "fields.status.name"
"#
    )
}

/// The export of one side and the import into the other, and the flow joining them.
async fn one_way(app: &App, name: &str, from: &str, to: &str) {
    let mut spec = jiralink_sync::ExportSpec::new(jiralink_sync::Resource::Issues);
    spec.jql = Some("project = MKT".to_owned());
    spec.kind = jiralink_sync::ExportKind::Delta { start: None };
    spec.comments = true;
    app.create_export(
        ExportDraft {
            name: format!("{name} export"),
            connection: from.to_owned(),
            spec,
            schedule: None,
            enabled: true,
        },
        &actor(),
    )
    .await
    .unwrap();
    app.create_import(
        ImportDraft {
            name: format!("{name} import"),
            connection: to.to_owned(),
            spec: ImportSpec {
                mapping: mapping(&from.to_ascii_lowercase()),
                format: None,
                results_format: ResultsFormat::Ndjson,
                ledger: None,
                search_lag_secs: Some(0),
                input: None,
            },
            schedule: None,
            enabled: true,
        },
        &actor(),
    )
    .await
    .unwrap();
    app.create_flow(FlowDraft {
        name: name.to_owned(),
        export: format!("{name} export"),
        import: format!("{name} import"),
        schedule: None,
        enabled: true,
    })
    .await
    .unwrap();
}

/// Calls a simulated site as its sample user.
struct Site {
    http: reqwest::Client,
    base: String,
    email: String,
    token: String,
}

impl Site {
    fn new(sim: &SimHandle, subdomain: &str) -> Self {
        Self {
            http: jiralink_atlassian::build_client(&jiralink_atlassian::HttpConfig::default())
                .unwrap(),
            base: format!("{}/rest/api/3", sim.site_url(subdomain)),
            email: sim.samples().email.clone(),
            token: sim.samples().api_token.clone(),
        }
    }

    async fn send(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .basic_auth(&self.email, Some(&self.token));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        assert!(
            response.status().is_success(),
            "{path}: {}",
            response.status()
        );
        response.json().await.unwrap_or(Value::Null)
    }

    async fn issues(&self, jql: &str) -> Vec<Value> {
        let page = self
            .send(
                reqwest::Method::POST,
                "/search/jql",
                Some(json!({"jql": jql, "fields": ["summary", "labels", "status", "comment"], "maxResults": 100})),
            )
            .await;
        page["issues"].as_array().cloned().unwrap_or_default()
    }

    async fn comments(&self, key: &str) -> Vec<String> {
        let page = self
            .send(reqwest::Method::GET, &format!("/issue/{key}/comment"), None)
            .await;
        page["comments"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                c["body"]["content"][0]["content"][0]["text"]
                    .as_str()
                    .unwrap_or("")
                    .to_owned()
            })
            .collect()
    }

    async fn comment(&self, key: &str, text: &str) {
        self.send(
            reqwest::Method::POST,
            &format!("/issue/{key}/comment"),
            Some(json!({"body": {"type": "doc", "version": 1, "content": [{"type": "paragraph", "content": [{"type": "text", "text": text}]}]}})),
        )
        .await;
    }

    /// Takes the issue's first transition to another status; answers that status's name.
    async fn move_to_another_status(&self, key: &str) -> String {
        let issue = self
            .send(
                reqwest::Method::GET,
                &format!("/issue/{key}?fields=status"),
                None,
            )
            .await;
        let current = issue["fields"]["status"]["name"]
            .as_str()
            .unwrap()
            .to_owned();
        let transitions = self
            .send(
                reqwest::Method::GET,
                &format!("/issue/{key}/transitions"),
                None,
            )
            .await;
        let t = transitions["transitions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["to"]["name"].as_str() != Some(current.as_str()))
            .expect("a transition to another status")
            .clone();
        self.send(
            reqwest::Method::POST,
            &format!("/issue/{key}/transitions"),
            Some(json!({"transition": {"id": t["id"]}})),
        )
        .await;
        t["to"]["name"].as_str().unwrap().to_owned()
    }

    async fn comment_ids(&self, key: &str) -> Vec<String> {
        let page = self
            .send(reqwest::Method::GET, &format!("/issue/{key}/comment"), None)
            .await;
        page["comments"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["id"].as_str().unwrap().to_owned())
            .collect()
    }

    async fn edit_comment(&self, key: &str, id: &str, text: &str) {
        self.send(
            reqwest::Method::PUT,
            &format!("/issue/{key}/comment/{id}"),
            Some(json!({"body": {"type": "doc", "version": 1, "content": [{"type": "paragraph", "content": [{"type": "text", "text": text}]}]}})),
        )
        .await;
    }

    async fn rename(&self, key: &str, summary: &str) {
        self.send(
            reqwest::Method::PUT,
            &format!("/issue/{key}"),
            Some(json!({"fields": {"summary": summary}})),
        )
        .await;
    }
}

async fn run(
    app: &App,
    sim: &SimHandle,
    clock: &ManualClock,
    flow: &str,
) -> jiralink_app::FlowRunView {
    // Past the export's lag, so what was written before is read; the two clocks agree, as
    // Jira's and this machine's do.
    sim.control().advance(Duration::from_secs(120));
    clock.advance(Duration::from_secs(120));
    let run = app.run_flow(flow, RunTrigger::Cli).await.unwrap();
    assert_eq!(run.state, RunState::Succeeded, "{run:?}");
    assert_eq!(run.stats.failed, 0, "{run:?}");
    run
}

/// The copy of `key` on the other site, found by its external-id label.
async fn copy_of(site: &Site, label: &str) -> Value {
    let found = site.issues(&format!("labels = \"{label}\"")).await;
    assert_eq!(found.len(), 1, "exactly one copy labelled {label}");
    found[0].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_sites_stay_in_step_without_echo() {
    let sim = Sim::start(SimConfig::for_tests()).await.unwrap();
    let clock = ManualClock::new(sim.control().now());
    let (_dir, app) = app_on(&sim, &clock, None).await;
    connect(&app, &sim, "Demo", "demo").await;
    connect(&app, &sim, "Acme", "acme").await;
    one_way(&app, "Demo to Acme", "Demo", "Acme").await;
    one_way(&app, "Acme to Demo", "Acme", "Demo").await;
    let demo = Site::new(&sim, "demo");
    let acme = Site::new(&sim, "acme");
    let demo_issues = demo.issues("project = MKT").await.len() as u64;
    let acme_issues = acme.issues("project = MKT").await.len() as u64;

    // Everything of each side is copied to the other once.
    let first = run(&app, &sim, &clock, "Demo to Acme").await;
    assert_eq!(first.stats.exported, demo_issues);
    assert_eq!(first.stats.created, demo_issues);
    assert_eq!(first.stats.linked, demo_issues);
    let back = run(&app, &sim, &clock, "Acme to Demo").await;
    assert_eq!(
        back.stats.exported,
        acme_issues + demo_issues,
        "the copies are read back: {back:?}"
    );
    assert_eq!(
        back.stats.unchanged, demo_issues,
        "the copies are not sent back"
    );
    assert_eq!(back.stats.created, acme_issues);
    // And the copies of acme's issues are not sent to acme again.
    let again = run(&app, &sim, &clock, "Demo to Acme").await;
    assert_eq!(again.stats.sent, 0, "{again:?}");
    assert_eq!(again.stats.unchanged, acme_issues, "{again:?}");
    assert_eq!(
        acme.issues("project = MKT").await.len() as u64,
        acme_issues + demo_issues
    );
    assert_eq!(
        demo.issues("project = MKT").await.len() as u64,
        demo_issues + acme_issues
    );

    // An edit and a comment on one side reach the other, once.
    demo.rename("MKT-1", "Renamed on demo").await;
    demo.comment("MKT-1", "First comment").await;
    let delta = run(&app, &sim, &clock, "Demo to Acme").await;
    assert_eq!((delta.stats.sent, delta.stats.updated), (1, 1), "{delta:?}");
    assert_eq!(delta.stats.comments_added, 1);
    let copy = copy_of(&acme, "from-demo-MKT-1").await;
    let copy_key = copy["key"].as_str().unwrap().to_owned();
    assert_eq!(copy["fields"]["summary"], "Renamed on demo");
    let demo_comments = demo.comments("MKT-1").await;
    assert_eq!(acme.comments(&copy_key).await, demo_comments);
    // The flow back sees its own write and sends nothing.
    let quiet = run(&app, &sim, &clock, "Acme to Demo").await;
    assert_eq!(quiet.stats.sent, 0, "{quiet:?}");

    // A status change and an edited comment reach the copy too.
    let target = demo.move_to_another_status("MKT-1").await;
    let first_comment = demo.comment_ids("MKT-1").await[0].clone();
    demo.edit_comment("MKT-1", &first_comment, "Edited on demo")
        .await;
    let moved = run(&app, &sim, &clock, "Demo to Acme").await;
    assert_eq!((moved.stats.sent, moved.stats.updated), (1, 1), "{moved:?}");
    assert_eq!(moved.stats.comments_updated, 1, "{moved:?}");
    let copy = copy_of(&acme, "from-demo-MKT-1").await;
    assert_eq!(copy["fields"]["status"]["name"], target.as_str());
    let demo_comments = demo.comments("MKT-1").await;
    assert_eq!(demo_comments[0], "Edited on demo");
    assert_eq!(acme.comments(&copy_key).await, demo_comments);
    let quiet = run(&app, &sim, &clock, "Acme to Demo").await;
    assert_eq!(quiet.stats.sent, 0, "{quiet:?}");

    // A comment on the copy goes back to the original; the copied one does not.
    acme.comment(&copy_key, "Reply from acme").await;
    let reply = run(&app, &sim, &clock, "Acme to Demo").await;
    assert_eq!((reply.stats.sent, reply.stats.updated), (1, 1), "{reply:?}");
    assert_eq!(reply.stats.comments_added, 1, "{reply:?}");
    let mut expected = demo_comments.clone();
    expected.push("Reply from acme".to_owned());
    assert_eq!(demo.comments("MKT-1").await, expected);
    assert_eq!(acme.comments(&copy_key).await, expected);
    let settled = run(&app, &sim, &clock, "Demo to Acme").await;
    assert_eq!(settled.stats.sent, 0, "no echo: {settled:?}");
    let settled = run(&app, &sim, &clock, "Acme to Demo").await;
    assert_eq!(settled.stats.sent, 0, "no echo: {settled:?}");

    // One run history per flow.
    let runs = app
        .list_flow_runs(Some("Demo to Acme"), None)
        .await
        .unwrap();
    assert_eq!(runs.len(), 5);
    assert!(runs.iter().all(|r| r.export_run_id.is_some()));
}

/// The comments on the copies of `site`'s project MKT issues labelled `from-<from>-…`.
async fn copied_comments(site: &Site, from: &str) -> usize {
    site.issues(&format!("project = MKT AND labels in ({})", labels(from)))
        .await
        .iter()
        .map(|i| {
            i["fields"]["comment"]["comments"]
                .as_array()
                .map_or(0, Vec::len)
        })
        .sum()
}

fn labels(from: &str) -> String {
    (1..=40)
        .map(|n| format!("\"from-{from}-MKT-{n}\""))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A run killed while it copies comments (after the import, before the id map has them all)
/// is resumed from its link phase by the next run, once its lease has run out: the comments
/// already added are found and linked, not added again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flow_run_killed_while_copying_comments_is_resumed_without_doubles() {
    let sim = Sim::start(SimConfig::for_tests()).await.unwrap();
    let clock = ManualClock::new(sim.control().now());
    let (_dir, app) = app_on(&sim, &clock, None).await;
    connect(&app, &sim, "Demo", "demo").await;
    connect(&app, &sim, "Acme", "acme").await;
    one_way(&app, "Demo to Acme", "Demo", "Acme").await;
    let demo = Site::new(&sim, "demo");
    let acme = Site::new(&sim, "acme");
    let expected: usize = demo
        .issues("project = MKT")
        .await
        .iter()
        .map(|i| {
            i["fields"]["comment"]["comments"]
                .as_array()
                .map_or(0, Vec::len)
        })
        .sum();
    assert!(expected > 5, "the data set has comments to copy");
    sim.control().advance(Duration::from_secs(120));
    clock.advance(Duration::from_secs(120));
    sim.control().update_knobs(|k| k.latency_ms = 100).unwrap();
    let running = app.clone();
    let task = tokio::spawn(async move { running.run_flow("Demo to Acme", RunTrigger::Cli).await });
    crate::exports::eventually("some comments copied", || async {
        copied_comments(&acme, "demo").await >= 3
    })
    .await;
    task.abort();
    let _ = task.await;
    let interrupted = app.list_flow_runs(None, None).await.unwrap()[0].clone();
    assert_eq!(
        (interrupted.state, interrupted.phase.as_str()),
        (RunState::Running, "link")
    );
    let err = app
        .run_flow("Demo to Acme", RunTrigger::Cli)
        .await
        .unwrap_err();
    assert_eq!(err.code(), "flow_running", "refused while its lease holds");
    sim.control().update_knobs(|k| k.latency_ms = 0).unwrap();
    clock.advance(Duration::from_secs(61));
    let resumed = app.run_flow("Demo to Acme", RunTrigger::Cli).await.unwrap();
    assert_eq!(resumed.id, interrupted.id, "the same run, resumed");
    assert_eq!(resumed.state, RunState::Succeeded);
    // Comments of issues the killed run had finished are not met again; those of an issue it
    // was on when it died are found on the copy and linked (`comments_adopted`), not added.
    assert_eq!(
        copied_comments(&acme, "demo").await,
        expected,
        "each comment once"
    );
    assert_eq!(
        resumed.stats.created, resumed.stats.exported,
        "the import ran once"
    );
}

/// A scheduled flow is run by the worker at its times, as a scheduled run, and planned again;
/// "Run now" runs it at once; a deleted flow's job goes away.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_worker_runs_a_flow_by_its_schedule_and_on_request() {
    let sim = Sim::start(SimConfig::for_tests()).await.unwrap();
    let clock = ManualClock::new(sim.control().now());
    let (_dir, app) = app_on(&sim, &clock, None).await;
    connect(&app, &sim, "Demo", "demo").await;
    connect(&app, &sim, "Acme", "acme").await;
    one_way(&app, "Demo to Acme", "Demo", "Acme").await;
    let view = app
        .update_flow(
            "Demo to Acme",
            FlowDraft {
                name: "Demo to Acme".to_owned(),
                export: "Demo to Acme export".to_owned(),
                import: "Demo to Acme import".to_owned(),
                schedule: Some(jiralink_app::Schedule::Every {
                    minutes: 15,
                    time_zone: "UTC".to_owned(),
                }),
                enabled: true,
            },
            1,
        )
        .await
        .unwrap();
    let due = view.next_run_at.expect("a next run");
    let options = jiralink_app::WorkerOptions::from_config(app.config());
    let flow_jobs = |runs: Vec<jiralink_app::JobRun>| {
        runs.into_iter()
            .filter(|r| r.kind == jiralink_app::FLOW_RUN_JOB)
            .collect::<Vec<_>>()
    };
    let mut early = Vec::new();
    while let Some(run) = app.run_due_job(&options).await.unwrap() {
        early.push(run);
    }
    assert!(flow_jobs(early).is_empty(), "not due before its time");

    let wait = std::time::Duration::try_from(due - jiralink_domain::Clock::now(&clock)).unwrap();
    clock.advance(wait);
    sim.control().advance(wait);
    let mut ran = Vec::new();
    while let Some(run) = app.run_due_job(&options).await.unwrap() {
        ran.push(run);
    }
    let ran = flow_jobs(ran);
    assert_eq!(ran.len(), 1, "{ran:?}");
    let runs = app
        .list_flow_runs(Some("Demo to Acme"), None)
        .await
        .unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!(
        (runs[0].trigger, runs[0].state),
        (RunTrigger::Schedule, RunState::Succeeded)
    );
    assert!(runs[0].stats.created > 0);
    let next = app
        .get_flow("Demo to Acme")
        .await
        .unwrap()
        .next_run_at
        .unwrap();
    assert_eq!(next - due, time::Duration::minutes(15));

    app.request_flow_run("Demo to Acme").await.unwrap();
    let mut ran = Vec::new();
    while let Some(run) = app.run_due_job(&options).await.unwrap() {
        ran.push(run);
    }
    assert_eq!(flow_jobs(ran).len(), 1);
    let runs = app
        .list_flow_runs(Some("Demo to Acme"), None)
        .await
        .unwrap();
    assert_eq!(runs.len(), 2);
    assert!(
        runs.iter()
            .any(|r| r.trigger == RunTrigger::Manual && r.state == RunState::Succeeded),
        "{runs:?}"
    );

    app.delete_flow("Demo to Acme").await.unwrap();
    let mut ran = Vec::new();
    while let Some(run) = app.run_due_job(&options).await.unwrap() {
        ran.push(run);
    }
    assert_eq!(
        flow_jobs(ran).len(),
        1,
        "the job comes due and deletes itself"
    );
    assert!(
        !app.list_jobs()
            .await
            .unwrap()
            .iter()
            .any(|j| j.key.starts_with("flow:")),
        "no flow job is left"
    );
}

async fn set_mapping(app: &App, mapping: String, version: u64) {
    let view = app.get_import("Demo to Acme import").await.unwrap();
    app.update_import(
        "Demo to Acme import",
        ImportDraft {
            name: view.name,
            connection: "Acme".to_owned(),
            spec: ImportSpec {
                mapping,
                ..view.spec
            },
            schedule: None,
            enabled: true,
        },
        version,
        &actor(),
    )
    .await
    .unwrap();
}

/// Records the import refuses are read again by the next run: the export's cursor is moved
/// back past them, and once the mapping is fixed they are copied.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_records_are_read_again_by_the_next_run() {
    let sim = Sim::start(SimConfig::for_tests()).await.unwrap();
    let clock = ManualClock::new(sim.control().now());
    let (_dir, app) = app_on(&sim, &clock, None).await;
    connect(&app, &sim, "Demo", "demo").await;
    connect(&app, &sim, "Acme", "acme").await;
    one_way(&app, "Demo to Acme", "Demo", "Acme").await;
    let good = app.get_import("Demo to Acme import").await.unwrap();
    // Every summary is refused as a due date.
    let mut broken = good.spec.clone();
    broken.mapping.push_str("duedate = \"fields.summary\"\n");
    let broken = broken.mapping.replace(
        "[actions]\nstatus = \"fields.status.name\"\nduedate = \"fields.summary\"\n",
        "duedate = \"fields.summary\"\n[actions]\nstatus = \"fields.status.name\"\n",
    );
    set_mapping(&app, broken, good.version).await;
    sim.control().advance(Duration::from_secs(120));
    clock.advance(Duration::from_secs(120));
    let failed = app.run_flow("Demo to Acme", RunTrigger::Cli).await.unwrap();
    assert!(failed.stats.exported > 0);
    assert_eq!(failed.stats.failed, failed.stats.exported, "{failed:?}");
    assert!(failed.stats.rewound, "{failed:?}");

    set_mapping(&app, good.spec.mapping.clone(), good.version + 1).await;
    let fixed = run(&app, &sim, &clock, "Demo to Acme").await;
    assert_eq!(
        fixed.stats.exported, failed.stats.exported,
        "read again: {fixed:?}"
    );
    assert_eq!(fixed.stats.created, failed.stats.exported, "{fixed:?}");
    assert!(!fixed.stats.rewound);
    let again = run(&app, &sim, &clock, "Demo to Acme").await;
    assert_eq!(again.stats.sent, 0, "{again:?}");
}
