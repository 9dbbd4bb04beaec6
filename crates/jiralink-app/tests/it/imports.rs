//! Imports through the application: saved definitions, runs recorded with their results, a
//! run interrupted on one server resumed by another on the same database, a dead run
//! cancelled with its counts kept, and schedules run by the worker on a manual clock.

use std::time::Duration;

use jiralink_app::{
    ImportDraft, ImportSpec, NoImportProgress, ResultsFormat, RunOutput, RunState, RunTrigger,
    Schedule,
};
use jiralink_domain::{ConnectionState, ManualClock};
use jiralink_sim::{Sim, SimConfig};
use pretty_assertions::assert_eq;

use crate::actor;
use crate::exports::{add_jira_at, app_on, eventually, fixture, start};

const MAPPING: &str = r#"
operation = "create"
project = "DEMO"
issue_type = "Task"
[external_id]
source = "id"
label_prefix = "app-"
[fields]
summary = "title"
"#;

fn csv(n: usize) -> String {
    let mut out = String::from("id,title\n");
    for i in 0..n {
        out.push_str(&format!("{i},Imported {i}\n"));
    }
    out
}

fn draft(input: &std::path::Path) -> ImportDraft {
    ImportDraft {
        name: "Tickets".to_owned(),
        connection: "Jira".to_owned(),
        spec: ImportSpec {
            mapping: MAPPING.to_owned(),
            format: None,
            results_format: ResultsFormat::Ndjson,
            ledger: None,
            search_lag_secs: Some(0),
            input: Some(input.to_path_buf()),
        },
        schedule: None,
        enabled: true,
    }
}

pub(crate) async fn results_of(app: &jiralink_app::App, run: &str) -> Vec<serde_json::Value> {
    use futures::StreamExt as _;
    let mut bytes = Vec::new();
    let mut stream = std::pin::pin!(app.run_output(run).await.unwrap());
    while let Some(chunk) = stream.next().await {
        bytes.extend_from_slice(&chunk.unwrap());
    }
    String::from_utf8(bytes)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Two servers on one database: a run interrupted on the first (its task dies, its lease runs
/// out) is taken over by the second, which goes on from the checkpoint with the same file:
/// every record once in the results, no issue created twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_import_interrupted_on_one_server_is_resumed_by_another() {
    let Some(base) = jiralink_store::TestSchema::base_url() else {
        return;
    };
    let schema = jiralink_store::TestSchema::create(&base).await.unwrap();
    let sim = Sim::start(SimConfig::for_tests()).await.unwrap();
    sim.control().update_knobs(|k| k.latency_ms = 100).unwrap();
    let clock = ManualClock::new(start());
    let (dir, a) = app_on(&sim, &clock, Some(schema.url().to_owned())).await;
    let (_b_dir, b) = app_on(&sim, &clock, Some(schema.url().to_owned())).await;
    add_jira_at(&a, &sim, Some("1")).await;
    let input = dir.path().join("tickets.csv");
    std::fs::write(&input, csv(300)).unwrap();
    a.create_import(draft(&input), &actor()).await.unwrap();
    let app = a.clone();
    let task = tokio::spawn(async move {
        app.run_import(
            "Tickets",
            None,
            RunOutput::Store,
            RunTrigger::Cli,
            &NoImportProgress,
        )
        .await
    });
    eventually("two checkpoints on the first server", || async {
        b.list_import_runs(None)
            .await
            .unwrap()
            .first()
            .is_some_and(|r| r.stats.read >= 100)
    })
    .await;
    task.abort();
    let _ = task.await;
    let interrupted = b.list_import_runs(None).await.unwrap()[0].clone();
    assert_eq!(interrupted.state, RunState::Running);
    let err = b
        .run_import(
            "Tickets",
            None,
            RunOutput::Store,
            RunTrigger::Cli,
            &NoImportProgress,
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), "import_running");
    clock.advance(Duration::from_secs(61));
    sim.control().update_knobs(|k| k.latency_ms = 0).unwrap();
    let resumed = b
        .run_import(
            "Tickets",
            None,
            RunOutput::Store,
            RunTrigger::Cli,
            &NoImportProgress,
        )
        .await
        .unwrap();
    assert_eq!(resumed.id, interrupted.id);
    assert_eq!(resumed.resumed, 1);
    assert_eq!(resumed.state, RunState::Succeeded);
    assert_eq!(resumed.stats.read, 300);
    let results = results_of(&b, &resumed.id.unwrap().to_string()).await;
    let records: Vec<u64> = results
        .iter()
        .map(|r| r["record"].as_u64().unwrap())
        .collect();
    assert_eq!(
        records,
        (0..300).collect::<Vec<_>>(),
        "each record once, in order"
    );
    let mut keys: Vec<&str> = results.iter().map(|r| r["key"].as_str().unwrap()).collect();
    keys.sort_unstable();
    keys.dedup();
    assert_eq!(keys.len(), 300, "an issue per record");
    drop(schema);
}

/// Cancelling a run whose process died ends it at once, its counts kept; the ledger keeps
/// the next run from creating what the dead one did.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_a_dead_import_run_keeps_its_counts() {
    let sim = Sim::start(SimConfig::for_tests()).await.unwrap();
    sim.control().update_knobs(|k| k.latency_ms = 100).unwrap();
    let clock = ManualClock::new(start());
    let (dir, app) = app_on(&sim, &clock, None).await;
    add_jira_at(&app, &sim, Some("1")).await;
    let input = dir.path().join("tickets.csv");
    std::fs::write(&input, csv(200)).unwrap();
    app.create_import(draft(&input), &actor()).await.unwrap();
    let running = app.clone();
    let task = tokio::spawn(async move {
        running
            .run_import(
                "Tickets",
                None,
                RunOutput::Store,
                RunTrigger::Cli,
                &NoImportProgress,
            )
            .await
    });
    eventually("a checkpoint", || async {
        app.list_import_runs(None)
            .await
            .unwrap()
            .first()
            .is_some_and(|r| r.stats.read >= 50)
    })
    .await;
    task.abort();
    let _ = task.await;
    let dead = app.list_import_runs(None).await.unwrap()[0].clone();
    clock.advance(Duration::from_secs(61));
    app.cancel_run(&dead.id.unwrap().to_string()).await.unwrap();
    let cancelled = app
        .get_import_run(&dead.id.unwrap().to_string())
        .await
        .unwrap();
    assert_eq!(cancelled.state, RunState::Cancelled);
    assert!(
        cancelled.stats.created >= 50,
        "its counts stay: {:?}",
        cancelled.stats
    );
    sim.control().update_knobs(|k| k.latency_ms = 0).unwrap();
    let next = app
        .run_import(
            "Tickets",
            None,
            RunOutput::Store,
            RunTrigger::Cli,
            &NoImportProgress,
        )
        .await
        .unwrap();
    assert_ne!(next.id, dead.id);
    assert_eq!(next.stats.read, 200);
    assert_eq!(
        next.stats.created + next.stats.skipped,
        200,
        "what the dead run created is skipped: {:?}",
        next.stats
    );
    assert!(next.stats.skipped >= 50);
}

fn hourly() -> Option<Schedule> {
    Some(Schedule::Every {
        minutes: 60,
        time_zone: "UTC".to_owned(),
    })
}

/// Runs every due job; answers the import jobs' details.
async fn run_due_imports(app: &jiralink_app::App) -> Vec<String> {
    let options = jiralink_app::WorkerOptions::from_config(app.config());
    let mut details = Vec::new();
    while let Some(run) = app.run_due_job(&options).await.unwrap() {
        if run.kind == jiralink_app::IMPORT_RUN_JOB {
            details.push(run.detail.unwrap_or_default());
        }
    }
    details
}

#[tokio::test]
async fn a_scheduled_import_runs_when_due_and_is_rescheduled() {
    let f = fixture().await;
    let input = f._dir.path().join("tickets.csv");
    std::fs::write(&input, csv(3)).unwrap();
    let view = f
        .app
        .create_import(
            ImportDraft {
                schedule: hourly(),
                ..draft(&input)
            },
            &actor(),
        )
        .await
        .unwrap();
    assert_eq!(view.schedule, hourly());
    assert!(view.enabled);
    assert_eq!(
        view.next_run_at,
        Some(time::macros::datetime!(2026-01-05 11:00 UTC))
    );
    // Not due yet: nothing runs.
    assert!(run_due_imports(&f.app).await.is_empty());
    assert!(f.app.list_import_runs(None).await.unwrap().is_empty());
    f.clock.set(time::macros::datetime!(2026-01-05 11:00 UTC));
    let details = run_due_imports(&f.app).await;
    assert_eq!(details.len(), 1, "{details:?}");
    let runs = f.app.list_import_runs(None).await.unwrap();
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert_eq!(runs[0].trigger, RunTrigger::Schedule);
    assert_eq!(runs[0].state, RunState::Succeeded);
    assert_eq!(runs[0].stats.read, 3);
    assert_eq!(runs[0].stats.created, 3);
    assert_eq!(
        runs[0].input_file.as_deref(),
        Some(input.display().to_string().as_str())
    );
    let results = results_of(&f.app, &runs[0].id.unwrap().to_string()).await;
    assert_eq!(results.len(), 3, "the results are kept");
    let view = f.app.get_import("Tickets").await.unwrap();
    assert_eq!(
        view.next_run_at,
        Some(time::macros::datetime!(2026-01-05 12:00 UTC)),
        "rescheduled"
    );
    assert_eq!(view.last_run.unwrap().id, runs[0].id);
    // The next hour runs it again: the ledger creates nothing twice.
    f.clock.set(time::macros::datetime!(2026-01-05 12:00 UTC));
    assert_eq!(run_due_imports(&f.app).await.len(), 1);
    let runs = f.app.list_import_runs(None).await.unwrap();
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[0].stats.created, 0, "{:?}", runs[0].stats);

    // Disabled, it keeps its schedule but has no next run; its job goes when it comes due.
    let current = f.app.get_import("Tickets").await.unwrap();
    let disabled = f
        .app
        .update_import(
            "Tickets",
            ImportDraft {
                schedule: hourly(),
                enabled: false,
                ..draft(&input)
            },
            current.version,
            &actor(),
        )
        .await
        .unwrap();
    assert_eq!(disabled.schedule, hourly());
    assert_eq!(disabled.next_run_at, None);
    f.clock.set(time::macros::datetime!(2026-01-05 13:00 UTC));
    assert_eq!(
        run_due_imports(&f.app).await,
        ["the import has no schedule now"]
    );
    assert_eq!(f.app.list_import_runs(None).await.unwrap().len(), 2);
    assert!(
        !f.app
            .list_jobs()
            .await
            .unwrap()
            .iter()
            .any(|j| j.kind == jiralink_app::IMPORT_RUN_JOB)
    );
}

#[tokio::test]
async fn an_offline_connection_skips_the_scheduled_import_until_it_is_back() {
    let f = fixture().await;
    let input = f._dir.path().join("tickets.csv");
    std::fs::write(&input, csv(2)).unwrap();
    f.app
        .create_import(
            ImportDraft {
                schedule: hourly(),
                ..draft(&input)
            },
            &actor(),
        )
        .await
        .unwrap();
    f.sim.control().fail_next(1, 401, None);
    f.app.test_connection("Jira").await.unwrap();
    assert!(matches!(
        f.app.get_connection("Jira").await.unwrap().state,
        ConnectionState::Offline { .. }
    ));
    assert!(
        f.app
            .get_import("Tickets")
            .await
            .unwrap()
            .connection_offline
    );
    f.clock.set(time::macros::datetime!(2026-01-05 11:00 UTC));
    let details = run_due_imports(&f.app).await;
    assert!(details[0].contains("skipped"), "{details:?}");
    let runs = f.app.list_import_runs(None).await.unwrap();
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert_eq!(runs[0].state, RunState::Skipped);
    assert_eq!(runs[0].trigger, RunTrigger::Schedule);
    let reason = runs[0].reason.clone().unwrap();
    assert!(reason.contains("offline"), "{reason}");
    assert_eq!(
        f.app.get_import("Tickets").await.unwrap().next_run_at,
        Some(time::macros::datetime!(2026-01-05 12:00 UTC))
    );
    // The re-test passes a minute later: the import whose last run was skipped runs at once.
    f.clock.advance(Duration::from_secs(60));
    f.app.ensure_recurring_jobs().await.unwrap();
    let options = jiralink_app::WorkerOptions::from_config(f.app.config());
    let mut details = Vec::new();
    while let Some(run) = f.app.run_due_job(&options).await.unwrap() {
        details.push((run.kind.clone(), run.detail.clone().unwrap_or_default()));
    }
    assert!(
        details.iter().any(|(k, d)| k == jiralink_app::RETEST_JOB
            && d.contains("1 import(s) whose last run was skipped are due now")),
        "{details:?}"
    );
    let runs = f.app.list_import_runs(None).await.unwrap();
    assert_eq!(runs.len(), 2, "{runs:?}");
    assert_eq!(runs[0].state, RunState::Succeeded);
    assert_eq!(runs[0].stats.created, 2);
    assert_eq!(
        f.app.get_import("Tickets").await.unwrap().next_run_at,
        Some(time::macros::datetime!(2026-01-05 12:00 UTC)),
        "the schedule goes on"
    );
}

/// A scheduled import's run whose process died while its lease outlasts the next scheduled
/// time: the job comes back when the lease runs out and resumes it, rather than an hour
/// later.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scheduled_import_run_left_by_a_dead_process_is_resumed_when_its_lease_runs_out() {
    let sim = Sim::start(SimConfig::for_tests()).await.unwrap();
    sim.control().update_knobs(|k| k.latency_ms = 100).unwrap();
    let clock = ManualClock::new(time::macros::datetime!(2026-01-05 10:59:30 UTC));
    let (dir, app) = app_on(&sim, &clock, None).await;
    add_jira_at(&app, &sim, Some("1")).await;
    let input = dir.path().join("tickets.csv");
    std::fs::write(&input, csv(200)).unwrap();
    app.create_import(
        ImportDraft {
            schedule: hourly(),
            ..draft(&input)
        },
        &actor(),
    )
    .await
    .unwrap();
    let running = app.clone();
    let task = tokio::spawn(async move {
        running
            .run_import(
                "Tickets",
                None,
                RunOutput::Store,
                RunTrigger::Cli,
                &NoImportProgress,
            )
            .await
    });
    eventually("a checkpoint", || async {
        app.list_import_runs(None)
            .await
            .unwrap()
            .first()
            .is_some_and(|r| r.stats.read >= 50)
    })
    .await;
    task.abort();
    let _ = task.await;
    let dead = app.list_import_runs(None).await.unwrap()[0].clone();
    sim.control().update_knobs(|k| k.latency_ms = 0).unwrap();
    // 11:00, the scheduled time: the dead run is still leased.
    clock.set(time::macros::datetime!(2026-01-05 11:00 UTC));
    let details = run_due_imports(&app).await;
    assert!(
        details
            .iter()
            .any(|d| d.contains("a run is already going on")),
        "{details:?}"
    );
    let next = app
        .get_import("Tickets")
        .await
        .unwrap()
        .next_run_at
        .unwrap();
    assert!(
        next < time::macros::datetime!(2026-01-05 11:02 UTC),
        "back when the lease runs out, not at 12:00: {next}"
    );
    clock.set(next);
    let details = run_due_imports(&app).await;
    assert_eq!(details.len(), 1, "{details:?}");
    assert!(
        details[0].contains("an interrupted run resumed"),
        "{details:?}"
    );
    let runs = app.list_import_runs(None).await.unwrap();
    assert_eq!(runs.len(), 1, "resumed, nothing new started: {runs:?}");
    assert_eq!(runs[0].id, dead.id);
    assert_eq!(runs[0].state, RunState::Succeeded);
    assert_eq!(runs[0].stats.read, 200);
    assert_eq!(
        runs[0].stats.created + runs[0].stats.skipped,
        200,
        "{:?}",
        runs[0].stats
    );
    assert_eq!(
        app.get_import("Tickets").await.unwrap().next_run_at,
        Some(time::macros::datetime!(2026-01-05 12:00 UTC)),
        "the schedule goes on"
    );
}

#[tokio::test]
async fn deleting_a_scheduled_import_removes_its_job() {
    let f = fixture().await;
    let input = f._dir.path().join("tickets.csv");
    std::fs::write(&input, csv(1)).unwrap();
    let view = f
        .app
        .create_import(
            ImportDraft {
                schedule: hourly(),
                ..draft(&input)
            },
            &actor(),
        )
        .await
        .unwrap();
    let key = format!("import:{}", view.id);
    let jobs = f.app.list_jobs().await.unwrap();
    assert!(
        jobs.iter()
            .any(|j| j.key == key && j.kind == jiralink_app::IMPORT_RUN_JOB),
        "{jobs:?}"
    );
    f.app.delete_import("Tickets", &actor()).await.unwrap();
    assert_eq!(
        run_due_imports(&f.app).await,
        ["the import was deleted"],
        "the job is due at once and finds its import gone"
    );
    assert!(
        !f.app
            .list_jobs()
            .await
            .unwrap()
            .iter()
            .any(|j| j.key == key)
    );
    assert!(f.app.list_import_runs(None).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_schedule_needs_an_input_file_and_a_valid_rule() {
    let f = fixture().await;
    let input = f._dir.path().join("tickets.csv");
    let no_input = |schedule| {
        let mut d = draft(&input);
        d.spec.input = None;
        d.schedule = schedule;
        d
    };
    let err = f
        .app
        .create_import(no_input(hourly()), &actor())
        .await
        .unwrap_err();
    assert_eq!(err.code(), "validation_failed");
    assert!(err.to_string().contains("needs an input file"), "{err}");
    assert!(f.app.list_imports().await.unwrap().is_empty());
    // Saved without a schedule, it cannot be given one on edit either.
    let saved = f.app.create_import(no_input(None), &actor()).await.unwrap();
    assert_eq!(saved.schedule, None);
    assert_eq!(saved.next_run_at, None);
    let err = f
        .app
        .update_import("Tickets", no_input(hourly()), saved.version, &actor())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("needs an input file"), "{err}");
    // A bad rule or zone says what to write, with every problem at once.
    let bad = ImportDraft {
        schedule: Some(Schedule::Cron {
            expr: "61 * * * *".to_owned(),
            time_zone: "Mars/Olympus".to_owned(),
        }),
        ..draft(&input)
    };
    let err = f
        .app
        .update_import("Tickets", bad, saved.version, &actor())
        .await
        .unwrap_err();
    assert_eq!(err.code(), "validation_failed");
    assert!(err.to_string().contains("IANA"), "{err}");
    assert!(
        !f.app
            .list_jobs()
            .await
            .unwrap()
            .iter()
            .any(|j| j.kind == jiralink_app::IMPORT_RUN_JOB)
    );
    assert_eq!(
        f.app.get_import("Tickets").await.unwrap().version,
        saved.version
    );
}
