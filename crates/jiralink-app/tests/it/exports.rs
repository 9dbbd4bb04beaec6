//! Exports: definitions, schedules, runs through the worker, offline connections, usage,
//! cancel and resume, against the simulator on 127.0.0.1 with a manual clock.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt as _;
use jiralink_app::{
    App, AppError, ConnectionSecrets, ExportDraft, ExportSpec, NoProgress, OpenOptions, Resource,
    RunListFilter, RunOutput, RunState, RunTrigger, Schedule,
};
use jiralink_domain::{ConnectionState, ManualClock};
use jiralink_sim::{Sim, SimConfig, SimHandle};
use jiralink_vault::ApiToken;
use pretty_assertions::assert_eq;

use crate::{actor, basic_draft};

const MASTER_KEY: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

pub(crate) struct Fx {
    pub(crate) _dir: tempfile::TempDir,
    pub(crate) sim: SimHandle,
    pub(crate) app: App,
    pub(crate) clock: ManualClock,
}

/// The time the applications start at: after every issue the simulator made (its own clock
/// stands at 2026-01-05 09:30), so the exports' upper bound covers them all.
pub(crate) fn start() -> time::OffsetDateTime {
    time::macros::datetime!(2026-01-05 10:00 UTC)
}

pub(crate) async fn app_on(
    sim: &SimHandle,
    clock: &ManualClock,
    database: Option<String>,
) -> (tempfile::TempDir, App) {
    app_with_clock(sim, Arc::new(clock.clone()), database).await
}

pub(crate) async fn app_with_clock(
    sim: &SimHandle,
    clock: Arc<dyn jiralink_domain::Clock>,
    database: Option<String>,
) -> (tempfile::TempDir, App) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("jiralink.toml"),
        format!(
            "version = 1\n[atlassian]\nsite_url_template = \"{}\"\napi_gateway = \"{}\"\n\
             auth_server = \"{}\"\n",
            sim.site_url_template(),
            sim.api_gateway(),
            sim.auth_server()
        ),
    )
    .unwrap();
    let app = App::open(OpenOptions {
        data_dir: dir.path().to_path_buf(),
        config_file: None,
        database,
        clock,
        env: Box::new(|k| (k == "JIRALINK_MASTER_KEY").then(|| MASTER_KEY.to_owned())),
    })
    .await
    .unwrap()
    .value;
    (dir, app)
}

pub(crate) async fn fixture() -> Fx {
    fixture_with(SimConfig::for_tests(), None).await
}

/// A simulator with `config`, and the connection "Jira" at `concurrency` (default 10).
async fn fixture_with(config: SimConfig, concurrency: Option<&str>) -> Fx {
    let sim = Sim::start(config).await.unwrap();
    let clock = ManualClock::new(start());
    let (dir, app) = app_on(&sim, &clock, None).await;
    add_jira_at(&app, &sim, concurrency).await;
    Fx {
        _dir: dir,
        sim,
        app,
        clock,
    }
}

/// A Basic connection "Jira" for the simulator's sample account.
async fn add_jira(app: &App, sim: &SimHandle) {
    add_jira_at(app, sim, None).await;
}

pub(crate) async fn add_jira_at(app: &App, sim: &SimHandle, concurrency: Option<&str>) {
    app.create_connection(
        &jiralink_domain::ConnectionDraft {
            username: Some(sim.samples().email.clone()),
            concurrency_level: concurrency.map(str::to_owned),
            ..basic_draft("Jira")
        },
        ConnectionSecrets {
            api_token: Some(ApiToken::new(&sim.samples().api_token)),
        },
        &actor(),
    )
    .await
    .unwrap();
}

pub(crate) fn issues(jql: &str) -> ExportSpec {
    let mut spec = ExportSpec::new(Resource::Issues);
    spec.jql = Some(jql.to_owned());
    spec
}

fn draft(name: &str, jql: &str, schedule: Option<Schedule>) -> ExportDraft {
    ExportDraft {
        name: name.to_owned(),
        connection: "Jira".to_owned(),
        spec: issues(jql),
        schedule,
        enabled: true,
    }
}

fn every(minutes: u32) -> Option<Schedule> {
    Some(Schedule::Every {
        minutes,
        time_zone: "UTC".to_owned(),
    })
}

/// The ids of the issues `jql` matches, from a plain search.
async fn ids_of(app: &App, jql: &str) -> BTreeSet<String> {
    let client = app.jira_client("Jira").await.unwrap();
    let issues: Vec<_> = client
        .search_jql(jiralink_atlassian::SearchRequest {
            jql: jql.to_owned(),
            fields: vec!["id".to_owned()],
            max_results: Some(100),
            ..Default::default()
        })
        .collect()
        .await;
    issues.into_iter().map(|i| i.unwrap().id).collect()
}

/// The ids in NDJSON output, and how many lines there were.
fn ndjson_ids(bytes: &[u8]) -> (BTreeSet<String>, usize) {
    let text = std::str::from_utf8(bytes).unwrap();
    let lines: Vec<&str> = text.lines().filter(|l| !l.is_empty()).collect();
    let ids = lines
        .iter()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            v["id"].as_str().unwrap().to_owned()
        })
        .collect();
    (ids, lines.len())
}

async fn output_of(app: &App, run: &str) -> Vec<u8> {
    let stream = app.run_output(run).await.unwrap();
    let chunks: Vec<_> = stream.collect().await;
    chunks
        .into_iter()
        .flat_map(|c| c.unwrap().to_vec())
        .collect()
}

#[tokio::test]
async fn definitions_are_created_read_edited_and_deleted() {
    let f = fixture().await;
    let created = f
        .app
        .create_export(draft("Nightly", "project = DEMO", None), &actor())
        .await
        .unwrap();
    assert_eq!(created.name, "Nightly");
    assert_eq!(created.connection_name, "Jira");
    assert_eq!(created.version, 1);
    assert!(created.next_run_at.is_none(), "no schedule, no next run");
    assert!(created.last_run.is_none());

    // Names are unique without regard to case; the connection can be named by id.
    let connection_id = f.app.find_connection("jira").await.unwrap().id.to_string();
    let err = f
        .app
        .create_export(
            ExportDraft {
                connection: connection_id.clone(),
                ..draft("NIGHTLY", "project = MOB", None)
            },
            &actor(),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), "export_name_taken");
    let err = f
        .app
        .create_export(
            ExportDraft {
                connection: "nope".to_owned(),
                ..draft("Other", "project = MOB", None)
            },
            &actor(),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), "connection_not_found");
    // Every problem of a draft at once, none repeating what was sent.
    let err = f
        .app
        .create_export(
            ExportDraft {
                name: " ".to_owned(),
                schedule: Some(Schedule::Cron {
                    expr: "every day".to_owned(),
                    time_zone: "Nowhere/Land".to_owned(),
                }),
                ..draft("x", "project = MOB", None)
            },
            &actor(),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), "validation_failed");
    let message = err.to_string();
    assert!(message.contains("needs a name"), "{message}");
    assert!(!message.contains("Nowhere"), "{message}");

    // Read by name (any case) or id; listed by name.
    let by_id = f.app.get_export(&created.id.to_string()).await.unwrap();
    assert_eq!(by_id.name, "Nightly");
    f.app
        .create_export(
            ExportDraft {
                connection: connection_id,
                ..draft("Archive", "project = MOB", None)
            },
            &actor(),
        )
        .await
        .unwrap();
    let names: Vec<String> = f
        .app
        .list_exports()
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.name)
        .collect();
    assert_eq!(names, ["Archive", "Nightly"]);

    // An edit names the version it was made from; a stale one changes nothing.
    let edited = f
        .app
        .update_export(
            "nightly",
            draft("Nightly DEMO", "project = DEMO", every(30)),
            1,
            &actor(),
        )
        .await
        .unwrap();
    assert_eq!(edited.version, 2);
    assert_eq!(edited.name, "Nightly DEMO");
    assert_eq!(
        edited.next_run_at,
        Some(time::macros::datetime!(2026-01-05 10:30 UTC))
    );
    let err = f
        .app
        .update_export(
            "Nightly DEMO",
            draft("Stale", "project = DEMO", None),
            1,
            &actor(),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            AppError::Conflict {
                expected: 1,
                current: 2,
                ..
            }
        ),
        "{err:?}"
    );
    let err = f
        .app
        .update_export(
            "Nightly DEMO",
            draft("archive", "project = DEMO", None),
            2,
            &actor(),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), "export_name_taken");

    f.app.delete_export("nightly demo", &actor()).await.unwrap();
    assert_eq!(
        f.app.get_export("Nightly DEMO").await.unwrap_err().code(),
        "export_not_found"
    );
    assert_eq!(f.app.list_exports().await.unwrap().len(), 1);
}

#[tokio::test]
async fn a_cron_schedule_runs_in_its_time_zone() {
    let f = fixture().await;
    // 10:00 UTC is 11:00 in Paris; 02:30 Paris the next day is 01:30 UTC.
    let view = f
        .app
        .create_export(
            draft(
                "Paris",
                "project = DEMO",
                Some(Schedule::Cron {
                    expr: "30 2 * * *".to_owned(),
                    time_zone: "Europe/Paris".to_owned(),
                }),
            ),
            &actor(),
        )
        .await
        .unwrap();
    assert_eq!(
        view.next_run_at,
        Some(time::macros::datetime!(2026-01-06 01:30 UTC))
    );
    // Disabled: the schedule stays, nothing runs by it.
    let disabled = f
        .app
        .update_export(
            "Paris",
            ExportDraft {
                enabled: false,
                ..draft("Paris", "project = DEMO", view.schedule.clone())
            },
            1,
            &actor(),
        )
        .await
        .unwrap();
    assert!(!disabled.enabled);
    assert!(disabled.schedule.is_some());
}

#[tokio::test]
async fn a_run_exports_every_issue_once_and_keeps_its_output() {
    let f = fixture().await;
    f.app
        .create_export(draft("Demo", "project = DEMO", None), &actor())
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("demo.ndjson");
    let run = f
        .app
        .run_export(
            "demo",
            RunTrigger::Cli,
            RunOutput::File(file.clone()),
            &NoProgress,
        )
        .await
        .unwrap();
    assert_eq!(run.state, RunState::Succeeded);
    assert_eq!(run.export_name.as_deref(), Some("Demo"));
    let expected = ids_of(&f.app, "project = DEMO").await;
    assert_eq!(expected.len(), 40);
    assert_eq!(run.stats.records.get("issues"), Some(&40));
    let bytes = std::fs::read(&file).unwrap();
    assert_eq!(ndjson_ids(&bytes), (expected.clone(), 40));
    assert_eq!(run.output_bytes, bytes.len() as u64);
    // The database holds the same bytes, for a download from any instance.
    assert_eq!(output_of(&f.app, &run.id.to_string()).await, bytes);
    assert!(run.output_available);

    let listed = f
        .app
        .list_runs(RunListFilter {
            export: Some("Demo".to_owned()),
            ..RunListFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);
    let view = f.app.get_export("Demo").await.unwrap();
    assert_eq!(view.last_run.unwrap().id, run.id);

    // Ad hoc: a run without a definition.
    let adhoc = f
        .app
        .run_adhoc_export(
            "Jira",
            issues("project = MKT"),
            RunOutput::Store,
            &NoProgress,
        )
        .await
        .unwrap();
    assert_eq!(adhoc.export_id, None);
    let (ids, lines) = ndjson_ids(&output_of(&f.app, &adhoc.id.to_string()).await);
    assert_eq!((ids, lines), (ids_of(&f.app, "project = MKT").await, 16));

    // Outputs go after exports.output_retention (7 days); the run's record stays.
    f.clock.advance(Duration::from_secs(8 * 86_400));
    let rounds = crate::job_rounds(&f.app, &f.clock, 1).await;
    assert!(
        rounds[0]
            .iter()
            .any(|r| r.kind == jiralink_app::EXPORT_CLEANUP_JOB
                && r.detail.as_deref() == Some("2 expired export output(s) deleted")),
        "{rounds:?}"
    );
    let gone = f.app.get_run(&run.id.to_string()).await.unwrap();
    assert!(!gone.output_available);
    let err = f.app.run_output(&run.id.to_string()).await.err().unwrap();
    assert_eq!(err.code(), "output_expired");
}

#[tokio::test]
async fn scheduled_runs_go_through_the_worker() {
    let f = fixture().await;
    let view = f
        .app
        .create_export(draft("Hourly", "project = MKT", every(60)), &actor())
        .await
        .unwrap();
    assert_eq!(
        view.next_run_at,
        Some(time::macros::datetime!(2026-01-05 11:00 UTC))
    );
    // The rounds run the recurring jobs at 10:00, 10:15, 10:30 and 10:45, then the export at
    // 11:00, which is due again at 12:00.
    let rounds = crate::job_rounds(&f.app, &f.clock, 5).await;
    let export_runs: Vec<_> = rounds
        .iter()
        .flatten()
        .filter(|r| r.kind == jiralink_app::EXPORT_RUN_JOB)
        .collect();
    assert_eq!(export_runs.len(), 1, "{rounds:?}");
    let runs = f.app.list_runs(RunListFilter::default()).await.unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].trigger, RunTrigger::Schedule);
    assert_eq!(runs[0].state, RunState::Succeeded);
    assert_eq!(runs[0].stats.records.get("issues"), Some(&16));
    assert_eq!(
        f.app.get_export("Hourly").await.unwrap().next_run_at,
        Some(time::macros::datetime!(2026-01-05 12:00 UTC))
    );

    // "Run now" of an export without a schedule: the job is added, runs once, and goes.
    f.app
        .create_export(draft("Once", "project = HELP", None), &actor())
        .await
        .unwrap();
    f.app.request_export_run("once").await.unwrap();
    let options = jiralink_app::WorkerOptions::from_config(f.app.config());
    let mut ran = Vec::new();
    while let Some(run) = f.app.run_due_job(&options).await.unwrap() {
        if run.kind == jiralink_app::EXPORT_RUN_JOB {
            ran.push(run);
        }
    }
    assert_eq!(ran.len(), 1, "{ran:?}");
    let once = f
        .app
        .list_runs(RunListFilter {
            export: Some("Once".to_owned()),
            ..RunListFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(once.len(), 1);
    assert_eq!(once[0].trigger, RunTrigger::Manual);
    assert!(
        !f.app
            .list_jobs()
            .await
            .unwrap()
            .iter()
            .any(|j| j.key.ends_with(&once[0].export_id.unwrap().to_string())),
        "the one-off job is gone"
    );
}

#[tokio::test]
async fn an_offline_connection_skips_the_run_and_it_runs_once_back_online() {
    let f = fixture().await;
    f.app
        .create_export(draft("Hourly", "project = MKT", every(60)), &actor())
        .await
        .unwrap();
    // The connection goes offline (a test answered 401).
    f.sim.control().fail_next(1, 401, None);
    f.app.test_connection("Jira").await.unwrap();
    assert!(matches!(
        f.app.get_connection("Jira").await.unwrap().state,
        ConnectionState::Offline { .. }
    ));
    let view = f.app.get_export("Hourly").await.unwrap();
    assert!(view.connection_offline);
    // 11:00: the run is skipped, with the reason.
    f.clock.set(time::macros::datetime!(2026-01-05 11:00 UTC));
    let options = jiralink_app::WorkerOptions::from_config(f.app.config());
    while f.app.run_due_job(&options).await.unwrap().is_some() {}
    let runs = f.app.list_runs(RunListFilter::default()).await.unwrap();
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert_eq!(runs[0].state, RunState::Skipped);
    let reason = runs[0].reason.clone().unwrap();
    assert!(reason.contains("offline"), "{reason}");
    assert!(reason.contains("rejected"), "{reason}");
    // A minute later the re-test job passes: the export whose last run was skipped is due
    // at once.
    f.clock.advance(Duration::from_secs(60));
    f.app.ensure_recurring_jobs().await.unwrap();
    let mut details = Vec::new();
    while let Some(run) = f.app.run_due_job(&options).await.unwrap() {
        details.push((run.kind.clone(), run.detail.clone().unwrap_or_default()));
    }
    assert!(
        details.iter().any(|(k, d)| k == jiralink_app::RETEST_JOB
            && d.contains("1 export(s) whose last run was skipped are due now")),
        "{details:?}"
    );
    let runs = f.app.list_runs(RunListFilter::default()).await.unwrap();
    assert_eq!(runs.len(), 2, "{runs:?}");
    assert_eq!(runs[0].state, RunState::Succeeded);
    assert_eq!(
        f.app.get_export("Hourly").await.unwrap().next_run_at,
        Some(time::macros::datetime!(2026-01-05 12:00 UTC)),
        "the schedule goes on"
    );
}

/// A run of the export held by another server ("elsewhere") from `at`, leased until
/// `lease_until`, as that server left it when it died.
async fn plant_running_run(
    app: &App,
    export: uuid::Uuid,
    at: time::OffsetDateTime,
    lease_until: time::OffsetDateTime,
) -> uuid::Uuid {
    let record = app.store().get_export(export).await.unwrap();
    let id = uuid::Uuid::new_v4();
    app.store()
        .start_export_run(&jiralink_store::NewExportRun {
            id,
            export_id: Some(export),
            kind: jiralink_store::RunKind::Export,
            import_id: None,
            connection_id: record.connection_id,
            trigger: RunTrigger::Schedule,
            spec: record.spec.clone(),
            state: RunState::Running,
            reason: None,
            cursor_before: record.cursor.clone(),
            holder: Some("elsewhere".to_owned()),
            lease_until: Some(lease_until),
            started_at: at,
            output_file: None,
        })
        .await
        .unwrap();
    id
}

/// Ends, as succeeded at `at`, the run [`plant_running_run`] planted for "elsewhere": that
/// server was alive after all.
async fn finish_elsewhere(app: &App, run: uuid::Uuid, at: time::OffsetDateTime) {
    let finished = app
        .store()
        .finish_export_run(
            run,
            "elsewhere",
            &jiralink_store::RunFinish {
                state: RunState::Succeeded,
                error: None,
                stats: serde_json::json!({}),
                tail: Vec::new(),
                cursor_after: None,
                known_ids: None,
                finished_at: at,
                output_expires_at: None,
            },
        )
        .await
        .unwrap();
    assert!(finished);
}

/// When the export the schedule tests plant a run of starts it, and when that run's lease ends.
const ELEVEN: time::OffsetDateTime = time::macros::datetime!(2026-01-05 11:00 UTC);
const LEASE_END: time::OffsetDateTime = time::macros::datetime!(2026-01-05 11:01:30 UTC);

/// The export "Hourly" (every hour, `project = MKT`), whose 11:00 run another server
/// ("elsewhere") holds until 11:01:30, and its job claimed at 11:00: that run's id and the
/// details of the jobs run.
async fn hourly_held_elsewhere(f: &Fx) -> (uuid::Uuid, Vec<String>) {
    f.app
        .create_export(draft("Hourly", "project = MKT", every(60)), &actor())
        .await
        .unwrap();
    let export = f.app.get_export("Hourly").await.unwrap().id;
    let other = plant_running_run(&f.app, export, ELEVEN, LEASE_END).await;
    f.clock.set(ELEVEN);
    (other, run_due(&f.app).await)
}

/// The details of the jobs due now, run one after another.
async fn run_due(app: &App) -> Vec<String> {
    let options = jiralink_app::WorkerOptions::from_config(app.config());
    let mut details = Vec::new();
    while let Some(run) = app.run_due_job(&options).await.unwrap() {
        details.push(run.detail.unwrap_or_default());
    }
    details
}

/// A scheduled run that another server was running when it died is resumed when its lease
/// runs out, by whichever server's worker claims the export's job then, not at the next
/// scheduled time.
#[tokio::test]
async fn a_scheduled_run_left_by_a_dead_server_is_resumed_when_its_lease_runs_out() {
    let f = fixture().await;
    let (left, details) = hourly_held_elsewhere(&f).await;
    assert!(
        details
            .iter()
            .any(|d| d.contains("a run is already going on")),
        "{details:?}"
    );
    assert_eq!(
        f.app.get_export("Hourly").await.unwrap().next_run_at,
        Some(LEASE_END),
        "back when the lease runs out"
    );
    // Not a moment sooner.
    f.clock.set(LEASE_END - time::Duration::seconds(1));
    assert_eq!(run_due(&f.app).await, Vec::<String>::new());
    f.clock.set(LEASE_END);
    let details = run_due(&f.app).await;
    assert!(
        details
            .iter()
            .any(|d| d.contains(&format!("run {left} succeeded"))),
        "{details:?}"
    );
    let runs = f.app.list_runs(RunListFilter::default()).await.unwrap();
    assert_eq!(runs.len(), 1, "resumed, nothing new started: {runs:?}");
    assert_eq!(runs[0].state, RunState::Succeeded);
    assert!(runs[0].resumed >= 1);
    assert_eq!(
        runs[0].stats.records.values().sum::<u64>(),
        ids_of(&f.app, "project = MKT").await.len() as u64
    );
    assert_eq!(
        f.app.get_export("Hourly").await.unwrap().next_run_at,
        Some(time::macros::datetime!(2026-01-05 12:00 UTC)),
        "the schedule goes on"
    );
}

/// The job that came back for a run held elsewhere starts nothing when that run has ended
/// meanwhile (its server was alive): the scheduled time it came from was that run's.
#[tokio::test]
async fn a_job_back_for_a_run_that_ended_meanwhile_starts_nothing() {
    let f = fixture().await;
    let (other, _) = hourly_held_elsewhere(&f).await;
    finish_elsewhere(&f.app, other, ELEVEN + time::Duration::seconds(30)).await;
    f.clock.set(LEASE_END);
    let details = run_due(&f.app).await;
    assert!(
        details
            .iter()
            .any(|d| d.contains("the run it waited for has ended")),
        "{details:?}"
    );
    let runs = f.app.list_runs(RunListFilter::default()).await.unwrap();
    assert_eq!(runs.len(), 1, "no run started: {runs:?}");
    assert_eq!(
        f.app.get_export("Hourly").await.unwrap().next_run_at,
        Some(time::macros::datetime!(2026-01-05 12:00 UTC))
    );
    // At 12:00 it runs by its schedule as before.
    f.clock.set(time::macros::datetime!(2026-01-05 12:00 UTC));
    run_due(&f.app).await;
    let runs = f.app.list_runs(RunListFilter::default()).await.unwrap();
    assert_eq!(runs.len(), 2, "{runs:?}");
    assert_eq!(runs[0].trigger, RunTrigger::Schedule);
}

/// The mark of a job that waits for another server's run holds only for the time it waited
/// for: a schedule saved meanwhile makes the job due at another time, when it runs by its
/// schedule as usual (the run it waited for having ended).
#[tokio::test]
async fn a_schedule_saved_while_the_job_waits_for_a_run_runs_at_its_time() {
    let f = fixture().await;
    let (other, _) = hourly_held_elsewhere(&f).await;
    assert_eq!(
        f.app.get_export("Hourly").await.unwrap().next_run_at,
        Some(LEASE_END)
    );
    // The other server finishes; the schedule is changed to every 20 minutes (11:20).
    finish_elsewhere(&f.app, other, ELEVEN + time::Duration::seconds(30)).await;
    f.clock.set(ELEVEN + time::Duration::seconds(40));
    let edited = f
        .app
        .update_export(
            "Hourly",
            draft("Hourly", "project = MKT", every(20)),
            1,
            &actor(),
        )
        .await
        .unwrap();
    assert_eq!(
        edited.next_run_at,
        Some(time::macros::datetime!(2026-01-05 11:20 UTC))
    );
    f.clock.set(time::macros::datetime!(2026-01-05 11:20 UTC));
    let details = run_due(&f.app).await;
    let runs = f.app.list_runs(RunListFilter::default()).await.unwrap();
    assert_eq!(runs.len(), 2, "the 11:20 run ran: {details:?} {runs:?}");
    assert_eq!(runs[0].trigger, RunTrigger::Schedule);
    assert_eq!(runs[0].state, RunState::Succeeded);
}

/// "Run now" while another server runs the export is not forgotten: the job tries again
/// 30 s later, and the run asked for goes once the other one is over.
#[tokio::test]
async fn run_now_while_another_server_runs_the_export_goes_after_that_run() {
    let f = fixture().await;
    f.app
        .create_export(draft("Adhoc", "project = MKT", None), &actor())
        .await
        .unwrap();
    let export = f.app.get_export("Adhoc").await.unwrap().id;
    let now = start();
    let other = plant_running_run(&f.app, export, now, now + time::Duration::minutes(5)).await;
    f.app.request_export_run("Adhoc").await.unwrap();
    let details = run_due(&f.app).await;
    assert!(
        details
            .iter()
            .any(|d| d.contains("a run is already going on")),
        "{details:?}"
    );
    let job = f
        .app
        .list_jobs()
        .await
        .unwrap()
        .into_iter()
        .find(|j| j.key == format!("export:{export}"))
        .expect("the job stays for the run asked for");
    assert_eq!(job.next_run_at, now + time::Duration::seconds(30));
    finish_elsewhere(&f.app, other, now + time::Duration::seconds(10)).await;
    f.clock.set(now + time::Duration::seconds(30));
    run_due(&f.app).await;
    let runs = f.app.list_runs(RunListFilter::default()).await.unwrap();
    assert_eq!(runs.len(), 2, "{runs:?}");
    assert_eq!(runs[0].trigger, RunTrigger::Manual);
    assert_eq!(runs[0].state, RunState::Succeeded);
}

#[tokio::test]
async fn a_used_connection_lists_its_exports_and_cannot_be_deleted() {
    let f = fixture().await;
    for name in ["Nightly", "Archive"] {
        f.app
            .create_export(draft(name, "project = DEMO", None), &actor())
            .await
            .unwrap();
    }
    let usage = f.app.connection_usage("Jira").await.unwrap();
    let names: Vec<&str> = usage.exports.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["Archive", "Nightly"]);
    let err = f.app.delete_connection("Jira", &actor()).await.unwrap_err();
    assert_eq!(err.code(), "connection_in_use");
    assert!(
        err.to_string()
            .contains("export \"Archive\", export \"Nightly\""),
        "{err}"
    );
    f.app.delete_export("Archive", &actor()).await.unwrap();
    f.app.delete_export("Nightly", &actor()).await.unwrap();
    assert!(
        f.app
            .connection_usage("Jira")
            .await
            .unwrap()
            .exports
            .is_empty()
    );
    f.app.delete_connection("Jira", &actor()).await.unwrap();
}

/// Polls `check` until it holds, for at most ten seconds.
pub(crate) async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !check().await {
        assert!(
            std::time::Instant::now() < deadline,
            "{what} did not happen in time"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The issues of the slow export: several hundred in the medium data set.
const SLOW_JQL: &str = "project = OPS";

/// A medium data set, a connection that sends one request at a time (so pages hold 100
/// issues with every field), and an export of several pages slowed down by the simulator's
/// latency.
async fn slow_fixture() -> Fx {
    let f = fixture_with(
        SimConfig {
            size: jiralink_sim::DataSize::Medium,
            ..SimConfig::for_tests()
        },
        Some("1"),
    )
    .await;
    f.sim
        .control()
        .update_knobs(|k| k.latency_ms = 150)
        .unwrap();
    let spec = issues(SLOW_JQL);
    f.app
        .create_export(
            ExportDraft {
                spec,
                ..draft("Slow", "unused", None)
            },
            &actor(),
        )
        .await
        .unwrap();
    f
}

async fn running_run(app: &App) -> Option<jiralink_app::RunView> {
    app.list_runs(RunListFilter::default())
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.state == RunState::Running)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_run_stops_at_its_next_page() {
    let f = slow_fixture().await;
    let app = f.app.clone();
    let task = tokio::spawn(async move {
        app.run_export("Slow", RunTrigger::Cli, RunOutput::Store, &NoProgress)
            .await
    });
    eventually("a checkpoint", || async {
        running_run(&f.app)
            .await
            .is_some_and(|r| r.stats.pages >= 1)
    })
    .await;
    let running = running_run(&f.app).await.unwrap();
    let asked = f.app.cancel_run(&running.id.to_string()).await.unwrap();
    assert!(asked.cancel_requested);
    let ended = task.await.unwrap().unwrap();
    assert_eq!(ended.state, RunState::Cancelled);
    let expected = ids_of(&f.app, SLOW_JQL).await;
    assert!(expected.len() > 300, "{}", expected.len());
    assert!(ended.stats.records.values().sum::<u64>() < expected.len() as u64);
    // A cancelled run is not resumed: the next run starts afresh.
    f.sim.control().update_knobs(|k| k.latency_ms = 0).unwrap();
    let next = f
        .app
        .run_export("Slow", RunTrigger::Cli, RunOutput::Store, &NoProgress)
        .await
        .unwrap();
    assert_ne!(next.id, ended.id);
    assert_eq!(
        next.stats.records.get("issues"),
        Some(&(expected.len() as u64))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_run_is_resumed_and_its_file_holds_every_issue_once() {
    let f = slow_fixture().await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("slow.ndjson");
    let app = f.app.clone();
    let out = file.clone();
    let task = tokio::spawn(async move {
        app.run_export("Slow", RunTrigger::Cli, RunOutput::File(out), &NoProgress)
            .await
    });
    eventually("two checkpoints", || async {
        running_run(&f.app)
            .await
            .is_some_and(|r| r.stats.pages >= 2)
    })
    .await;
    // The process "dies": the task stops where it is, its lease is left to run out.
    task.abort();
    let _ = task.await;
    let interrupted = running_run(&f.app).await.unwrap();
    assert!(interrupted.stats.pages >= 2);
    // Within the lease nobody else may run the export.
    let err = f
        .app
        .run_export("Slow", RunTrigger::Cli, RunOutput::Store, &NoProgress)
        .await
        .unwrap_err();
    assert_eq!(err.code(), "export_running");
    // After it, the next run resumes the interrupted one.
    f.clock.advance(Duration::from_secs(61));
    f.sim.control().update_knobs(|k| k.latency_ms = 0).unwrap();
    let resumed = f
        .app
        .run_export(
            "Slow",
            RunTrigger::Cli,
            RunOutput::File(file.clone()),
            &NoProgress,
        )
        .await
        .unwrap();
    assert_eq!(resumed.id, interrupted.id);
    assert_eq!(resumed.state, RunState::Succeeded);
    assert_eq!(resumed.resumed, 1);
    let expected = ids_of(&f.app, SLOW_JQL).await;
    let bytes = std::fs::read(&file).unwrap();
    assert_eq!(ndjson_ids(&bytes), (expected.clone(), expected.len()));
    assert_eq!(output_of(&f.app, &resumed.id.to_string()).await, bytes);
}

/// Two servers on one database: a run interrupted on the first (its process dies, its lease
/// runs out) is taken over by the second, which continues the same output in the database;
/// both serve the same bytes, every issue once. With one cursor and with parallel hydration
/// (whose checkpoints fall inside id pages).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_interrupted_on_one_server_is_resumed_by_another() {
    let Some(base) = jiralink_store::TestSchema::base_url() else {
        return;
    };
    for concurrency in ["1", "4"] {
        let schema = jiralink_store::TestSchema::create(&base).await.unwrap();
        let sim = Sim::start(SimConfig {
            size: jiralink_sim::DataSize::Medium,
            ..SimConfig::for_tests()
        })
        .await
        .unwrap();
        sim.control().update_knobs(|k| k.latency_ms = 150).unwrap();
        let clock = ManualClock::new(start());
        let (_a_dir, a) = app_on(&sim, &clock, Some(schema.url().to_owned())).await;
        let (_b_dir, b) = app_on(&sim, &clock, Some(schema.url().to_owned())).await;
        add_jira_at(&a, &sim, Some(concurrency)).await;
        a.create_export(
            ExportDraft {
                spec: issues(SLOW_JQL),
                ..draft("Slow", "unused", None)
            },
            &actor(),
        )
        .await
        .unwrap();
        let app = a.clone();
        let task = tokio::spawn(async move {
            app.run_export("Slow", RunTrigger::Cli, RunOutput::Store, &NoProgress)
                .await
        });
        eventually("two checkpoints on the first server", || async {
            running_run(&b).await.is_some_and(|r| r.stats.pages >= 2)
        })
        .await;
        task.abort();
        let _ = task.await;
        let interrupted = running_run(&b).await.unwrap();
        let err = b
            .run_export("Slow", RunTrigger::Cli, RunOutput::Store, &NoProgress)
            .await
            .unwrap_err();
        assert_eq!(err.code(), "export_running", "concurrency {concurrency}");
        clock.advance(Duration::from_secs(61));
        sim.control().update_knobs(|k| k.latency_ms = 0).unwrap();
        let resumed = b
            .run_export("Slow", RunTrigger::Cli, RunOutput::Store, &NoProgress)
            .await
            .unwrap();
        assert_eq!(resumed.id, interrupted.id, "concurrency {concurrency}");
        assert_eq!(resumed.state, RunState::Succeeded);
        assert_eq!(resumed.resumed, 1);
        let expected = ids_of(&b, SLOW_JQL).await;
        let from_b = output_of(&b, &resumed.id.to_string()).await;
        assert_eq!(
            ndjson_ids(&from_b),
            (expected.clone(), expected.len()),
            "concurrency {concurrency}"
        );
        assert_eq!(output_of(&a, &resumed.id.to_string()).await, from_b);
        drop(schema);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_due_export_is_run_once_by_two_servers_on_one_database() {
    let Some(base) = jiralink_store::TestSchema::base_url() else {
        return;
    };
    let schema = jiralink_store::TestSchema::create(&base).await.unwrap();
    let sim = Sim::start(SimConfig::for_tests()).await.unwrap();
    let clock = ManualClock::new(start());
    let (_a_dir, a) = app_on(&sim, &clock, Some(schema.url().to_owned())).await;
    let (_b_dir, b) = app_on(&sim, &clock, Some(schema.url().to_owned())).await;
    add_jira(&a, &sim).await;
    a.create_export(draft("Hourly", "project = MKT", every(60)), &actor())
        .await
        .unwrap();
    a.ensure_recurring_jobs().await.unwrap();
    clock.set(time::macros::datetime!(2026-01-05 11:00 UTC));
    let options = jiralink_app::WorkerOptions::from_config(a.config());
    let work = |app: App| async move {
        let mut ran = Vec::new();
        while let Some(run) = app.run_due_job(&options).await.unwrap() {
            ran.push(run.kind);
        }
        ran
    };
    let (ran_a, ran_b) = tokio::join!(tokio::spawn(work(a.clone())), tokio::spawn(work(b.clone())));
    let export_jobs = ran_a
        .unwrap()
        .into_iter()
        .chain(ran_b.unwrap())
        .filter(|k| k == jiralink_app::EXPORT_RUN_JOB)
        .count();
    assert_eq!(export_jobs, 1);
    let runs = b.list_runs(RunListFilter::default()).await.unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].state, RunState::Succeeded);
    drop(schema);
}

/// A server's worker runs an export beside its other jobs: the re-test and the other
/// recurring jobs finish while the (slow) export is still going. The worker's idle waits move
/// a manual clock on, past the job's lease, so this one runs on the system clock.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_worker_runs_other_jobs_while_an_export_runs() {
    let f = slow_fixture().await;
    let (_dir, app) = app_with_clock(&f.sim, Arc::new(jiralink_app::SystemClock), None).await;
    add_jira_at(&app, &f.sim, Some("1")).await;
    app.create_export(draft("Slow", SLOW_JQL, None), &actor())
        .await
        .unwrap();
    app.request_export_run("Slow").await.unwrap();
    let options = jiralink_app::WorkerOptions::from_config(app.config());
    let done = Arc::new(tokio::sync::Notify::new());
    let mut order = Vec::new();
    let notify = Arc::clone(&done);
    let mut report = |run: &jiralink_app::JobRun| {
        order.push(run.kind.clone());
        if run.kind == jiralink_app::EXPORT_RUN_JOB {
            notify.notify_one();
        }
    };
    let worker = app.run_worker(&options, done.notified(), &mut report);
    tokio::time::timeout(Duration::from_secs(60), worker)
        .await
        .expect("the export ran within a minute");
    assert_eq!(
        order.last().map(String::as_str),
        Some(jiralink_app::EXPORT_RUN_JOB),
        "{order:?}"
    );
    assert!(
        order.iter().any(|k| k == jiralink_app::RETEST_JOB),
        "the re-test ran while the export did: {order:?}"
    );
    let runs = app.list_runs(RunListFilter::default()).await.unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].state, RunState::Succeeded);
    assert_eq!(runs[0].trigger, RunTrigger::Manual);
}

/// Cancelling a run whose process died ends it at once; the next run starts afresh.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_a_dead_run_ends_it_at_once() {
    let f = slow_fixture().await;
    let app = f.app.clone();
    let task = tokio::spawn(async move {
        app.run_export("Slow", RunTrigger::Cli, RunOutput::Store, &NoProgress)
            .await
    });
    eventually("a checkpoint", || async {
        running_run(&f.app)
            .await
            .is_some_and(|r| r.stats.pages >= 1)
    })
    .await;
    task.abort();
    let _ = task.await;
    let dead = running_run(&f.app).await.unwrap();
    f.clock.advance(Duration::from_secs(61));
    let cancelled = f.app.cancel_run(&dead.id.to_string()).await.unwrap();
    assert_eq!(cancelled.state, RunState::Cancelled);
    assert!(cancelled.stats.pages >= 1, "its statistics stay");
    f.sim.control().update_knobs(|k| k.latency_ms = 0).unwrap();
    let next = f
        .app
        .run_export("Slow", RunTrigger::Cli, RunOutput::Store, &NoProgress)
        .await
        .unwrap();
    assert_ne!(next.id, dead.id);
    assert_eq!(next.resumed, 0);
    assert_eq!(next.state, RunState::Succeeded);
}

/// Asks the run it watches to stop once it has written `after` pages (as the CLI does on
/// Ctrl-C, from any moment of the run).
struct StopAfter {
    after: u64,
    stop: std::sync::atomic::AtomicBool,
}

impl jiralink_app::Progress for StopAfter {
    fn expected(&self, _total: Option<u64>) {}
    fn advanced(&self, stats: &jiralink_app::RunStats) {
        if stats.pages >= self.after {
            self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        }
    }
    fn stop_requested(&self) -> bool {
        self.stop.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// A run, saved or ad hoc, whose watcher asks it to stop ends cancelled at its next page, its
/// lease given back; asked before it starts, it stops after its first page.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_stops_when_its_watcher_asks() {
    let f = slow_fixture().await;
    let expected = ids_of(&f.app, SLOW_JQL).await;
    for after in [0, 2] {
        let watcher = StopAfter {
            after,
            stop: (after == 0).into(),
        };
        let adhoc = f
            .app
            .run_adhoc_export("Jira", issues(SLOW_JQL), RunOutput::Store, &watcher)
            .await
            .unwrap();
        assert_eq!(adhoc.state, RunState::Cancelled, "ad hoc, after {after}");
        assert_eq!(adhoc.stats.pages, after.max(1));
        assert!(adhoc.stats.records.values().sum::<u64>() < expected.len() as u64);
        let watcher = StopAfter {
            after,
            stop: (after == 0).into(),
        };
        let saved = f
            .app
            .run_export("Slow", RunTrigger::Cli, RunOutput::Store, &watcher)
            .await
            .unwrap();
        assert_eq!(saved.state, RunState::Cancelled, "saved, after {after}");
        assert_eq!(saved.stats.pages, after.max(1));
    }
    // Nothing was left running: the next run starts afresh at once.
    let next = f
        .app
        .run_export("Slow", RunTrigger::Cli, RunOutput::Store, &NoProgress)
        .await
        .unwrap();
    assert_eq!(next.state, RunState::Succeeded);
    assert_eq!(next.resumed, 0);
}

/// An ad hoc run whose process died cannot be resumed: the cleanup job records it as failed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_ad_hoc_run_is_recorded_as_failed_by_the_cleanup_job() {
    let f = slow_fixture().await;
    let app = f.app.clone();
    let task = tokio::spawn(async move {
        app.run_adhoc_export("Jira", issues(SLOW_JQL), RunOutput::Store, &NoProgress)
            .await
    });
    eventually("a checkpoint", || async {
        running_run(&f.app)
            .await
            .is_some_and(|r| r.stats.pages >= 1)
    })
    .await;
    task.abort();
    let _ = task.await;
    let dead = running_run(&f.app).await.unwrap();
    assert_eq!(dead.export_id, None);
    f.clock.advance(Duration::from_secs(61));
    f.app.ensure_recurring_jobs().await.unwrap();
    f.app
        .run_job_now(jiralink_app::EXPORT_CLEANUP_JOB)
        .await
        .unwrap();
    let options = jiralink_app::WorkerOptions::from_config(f.app.config());
    let mut details = Vec::new();
    while let Some(run) = f.app.run_due_job(&options).await.unwrap() {
        details.push(run.detail.unwrap_or_default());
    }
    assert!(
        details
            .iter()
            .any(|d| d.contains("1 interrupted ad hoc run(s) recorded as failed")),
        "{details:?}"
    );
    let ended = f.app.get_run(&dead.id.to_string()).await.unwrap();
    assert_eq!(ended.state, RunState::Failed);
    assert!(ended.error.unwrap().contains("run it again"));
    assert!(ended.stats.pages >= 1);
}

/// Ends a run of the export as succeeded with `cursor` and `known_ids`, through the store:
/// the way to put a saved delta state the application cannot read in place.
async fn save_delta_state(
    app: &App,
    export: uuid::Uuid,
    cursor: Option<serde_json::Value>,
    known_ids: Option<Vec<u8>>,
) {
    let record = app.store().get_export(export).await.unwrap();
    let now = start();
    let id = uuid::Uuid::new_v4();
    app.store()
        .start_export_run(&jiralink_store::NewExportRun {
            id,
            export_id: Some(export),
            kind: jiralink_store::RunKind::Export,
            import_id: None,
            connection_id: record.connection_id,
            trigger: RunTrigger::Cli,
            spec: record.spec.clone(),
            state: RunState::Running,
            reason: None,
            cursor_before: record.cursor.clone(),
            holder: Some("elsewhere".to_owned()),
            lease_until: Some(now + time::Duration::minutes(1)),
            started_at: now,
            output_file: None,
        })
        .await
        .unwrap();
    let finished = app
        .store()
        .finish_export_run(
            id,
            "elsewhere",
            &jiralink_store::RunFinish {
                state: RunState::Succeeded,
                error: None,
                stats: serde_json::json!({}),
                tail: Vec::new(),
                cursor_after: cursor,
                known_ids,
                finished_at: now,
                output_expires_at: None,
            },
        )
        .await
        .unwrap();
    assert!(finished);
}

/// The run an error names, as recorded.
async fn failed_run(app: &App, err: &AppError) -> jiralink_app::RunView {
    let AppError::ExportFailed { run: Some(run), .. } = err else {
        panic!("not a failed run: {err:?}");
    };
    let run = app.get_run(run).await.unwrap();
    assert_eq!(run.state, RunState::Failed);
    run
}

/// A delta run whose export's saved cursor or known ids cannot be read fails, saying what to
/// do, instead of exporting everything again and losing the deletions; the saved state stays.
#[tokio::test]
async fn an_unreadable_delta_cursor_or_known_ids_fails_the_run() {
    let f = fixture().await;
    let mut spec = issues("project = MKT");
    spec.kind = jiralink_sync::ExportKind::Delta { start: None };
    spec.deletions = true;
    f.app
        .create_export(
            ExportDraft {
                spec,
                ..draft("Delta", "project = MKT", None)
            },
            &actor(),
        )
        .await
        .unwrap();
    let first = f
        .app
        .run_export("Delta", RunTrigger::Cli, RunOutput::Store, &NoProgress)
        .await
        .unwrap();
    assert_eq!(first.state, RunState::Succeeded);
    let export = f.app.get_export("Delta").await.unwrap();
    let good_cursor = export.cursor.clone().unwrap();
    let good_known = f.app.store().export_known_ids(export.id).await.unwrap();
    assert!(good_known.is_some(), "the first run saved the ids it saw");

    // A cursor that is not one.
    let bad_cursor = serde_json::json!("not a cursor");
    save_delta_state(&f.app, export.id, Some(bad_cursor.clone()), None).await;
    let err = f
        .app
        .run_export("Delta", RunTrigger::Cli, RunOutput::Store, &NoProgress)
        .await
        .unwrap_err();
    assert_eq!(err.code(), "export_failed");
    assert!(!err.error_code().retryable);
    let message = err.to_string();
    assert!(
        message.contains("saved delta cursor cannot be read"),
        "{message}"
    );
    assert!(
        message.contains("delete the export and create it again"),
        "{message}"
    );
    let run = failed_run(&f.app, &err).await;
    assert!(run.error.unwrap().contains("delta cursor"));
    assert_eq!(
        run.stats.records.values().sum::<u64>(),
        0,
        "nothing was exported"
    );
    assert_eq!(
        f.app.get_export("Delta").await.unwrap().cursor,
        Some(bad_cursor),
        "the saved cursor is left as it was"
    );

    // Known ids that are not an encoding of ids, with a good cursor.
    save_delta_state(&f.app, export.id, Some(good_cursor), Some(vec![0xff, 0xff])).await;
    let err = f
        .app
        .run_export("Delta", RunTrigger::Cli, RunOutput::Store, &NoProgress)
        .await
        .unwrap_err();
    assert_eq!(err.code(), "export_failed");
    let message = err.to_string();
    assert!(
        message.contains("saved known issue ids cannot be read"),
        "{message}"
    );
    let run = failed_run(&f.app, &err).await;
    assert!(run.error.unwrap().contains("known issue ids"));
    assert_eq!(
        f.app.store().export_known_ids(export.id).await.unwrap(),
        Some(vec![0xff, 0xff]),
        "the saved ids are left as they were"
    );
}

/// A stored schedule that cannot be read does not make the export's job vanish silently:
/// the run is recorded as skipped with the reason, and the export stays.
#[tokio::test]
async fn an_unreadable_schedule_records_a_skipped_run() {
    let f = fixture().await;
    let view = f
        .app
        .create_export(draft("Hourly", "project = MKT", every(60)), &actor())
        .await
        .unwrap();
    let mut record = f.app.store().get_export(view.id).await.unwrap();
    record.schedule = Some(serde_json::json!(42));
    f.app.store().update_export(&record).await.unwrap();
    f.clock.set(time::macros::datetime!(2026-01-05 11:00 UTC));
    let options = jiralink_app::WorkerOptions::from_config(f.app.config());
    let mut details = Vec::new();
    while let Some(run) = f.app.run_due_job(&options).await.unwrap() {
        if run.kind == jiralink_app::EXPORT_RUN_JOB {
            details.push(run.detail.unwrap_or_default());
        }
    }
    assert_eq!(details.len(), 1, "{details:?}");
    assert!(
        details[0].contains("skipped, its schedule cannot be read"),
        "{details:?}"
    );
    let runs = f.app.list_runs(RunListFilter::default()).await.unwrap();
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert_eq!(runs[0].state, RunState::Skipped);
    assert_eq!(runs[0].trigger, RunTrigger::Schedule);
    let reason = runs[0].reason.clone().unwrap();
    assert!(reason.contains("schedule cannot be read"), "{reason}");
    assert!(reason.contains("save its schedule again"), "{reason}");
    let export = f.app.get_export("Hourly").await.unwrap();
    assert_eq!(
        export.last_run.map(|r| r.state),
        Some(RunState::Skipped),
        "the export shows the skipped run"
    );
}

/// Settings that no longer fit the site, found when the run starts (a field name Jira does
/// not know), are the caller's to fix: `validation_failed`, not a failed export.
#[tokio::test]
async fn a_field_name_unknown_to_jira_fails_the_run_as_invalid_input() {
    let f = fixture().await;
    let mut spec = issues("project = MKT");
    spec.fields = vec!["No Such Field".to_owned()];
    f.app
        .create_export(
            ExportDraft {
                spec,
                ..draft("Fields", "project = MKT", None)
            },
            &actor(),
        )
        .await
        .unwrap();
    let err = f
        .app
        .run_export("Fields", RunTrigger::Cli, RunOutput::Store, &NoProgress)
        .await
        .unwrap_err();
    let code = err.error_code();
    assert_eq!(code.code, "validation_failed");
    assert_eq!(code.http_status, 400);
    assert!(!code.retryable);
    let message = err.to_string();
    assert!(message.contains("no field is called"), "{message}");
    assert!(
        message.contains("change the export's settings"),
        "{message}"
    );
    let run = failed_run(&f.app, &err).await;
    assert!(run.error.unwrap().contains("no field is called"));
}
