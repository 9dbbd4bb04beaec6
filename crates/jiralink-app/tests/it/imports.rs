//! Imports through the application: saved definitions, runs recorded with their results, a
//! run interrupted on one server resumed by another on the same database, and a dead run
//! cancelled with its counts kept.

use std::time::Duration;

use jiralink_app::{
    ImportDraft, ImportSpec, NoImportProgress, ResultsFormat, RunOutput, RunState, RunTrigger,
};
use jiralink_domain::ManualClock;
use jiralink_sim::{Sim, SimConfig};
use pretty_assertions::assert_eq;

use crate::actor;
use crate::exports::{add_jira_at, app_on, eventually, start};

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
    }
}

async fn results_of(app: &jiralink_app::App, run: &str) -> Vec<serde_json::Value> {
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
