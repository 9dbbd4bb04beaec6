//! Two applications on one PostgreSQL database, as two servers: a connection's concurrency
//! level holds across them.

use std::sync::Arc;
use std::time::Duration;

use jiralink_app::SystemClock;
use jiralink_app::{App, ConnectionSecrets, OpenOptions};
use jiralink_domain::ConnectionDraft;
use jiralink_sim::{Sim, SimConfig, SimHandle};
use jiralink_store::TestSchema;
use jiralink_vault::ApiToken;

use crate::{actor, basic_draft};

const MASTER_KEY: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

/// The PostgreSQL server of the tests; `None` when its leg is skipped on purpose.
/// A server: its own data directory (configuration) on the shared database.
async fn server(sim: &SimHandle, database: &str) -> (tempfile::TempDir, App) {
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
        database: Some(database.to_owned()),
        clock: Arc::new(SystemClock),
        env: Box::new(|k| (k == "JIRALINK_MASTER_KEY").then(|| MASTER_KEY.to_owned())),
    })
    .await
    .unwrap()
    .value;
    (dir, app)
}

/// Six requests of a connection whose level is 2, three from each server: the simulator
/// holds every request it gets (until its clock moves on), and never holds more than two at
/// a time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connections_level_holds_across_servers() {
    let Some(base) = TestSchema::base_url() else {
        return;
    };
    let schema = TestSchema::create(&base).await.unwrap();
    let sim = Sim::start(SimConfig::for_tests()).await.unwrap();
    let (_a_dir, a) = server(&sim, schema.url()).await;
    let (_b_dir, b) = server(&sim, schema.url()).await;
    let draft = ConnectionDraft {
        username: Some(sim.samples().email.clone()),
        concurrency_level: Some("2".to_owned()),
        ..basic_draft("Jira")
    };
    a.create_connection(
        &draft,
        ConnectionSecrets {
            api_token: Some(ApiToken::new(&sim.samples().api_token)),
        },
        &actor(),
    )
    .await
    .unwrap();
    let control = sim.control();
    control.hold_next(6, Duration::from_secs(60));
    let calls: Vec<_> = (0..6)
        .map(|i| {
            let app = if i % 2 == 0 { a.clone() } else { b.clone() };
            tokio::spawn(async move {
                let client = app.jira_client("Jira").await.map_err(|e| e.to_string())?;
                client.myself().await.map_err(|e| e.to_string())
            })
        })
        .collect();
    let held = |n: usize| {
        let control = sim.control();
        async move {
            for _ in 0..500 {
                if control.pending_faults().hold_next == 6 - n {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            panic!("{n} requests were not held in time");
        }
    };
    for round in 1..=3 {
        held(2 * round).await;
        // Two are on the wire; the other requests wait for a slot (this is the only time the
        // test waits for something not to happen).
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(
            control.pending_faults().hold_next,
            6 - 2 * round,
            "round {round}"
        );
        control.advance(Duration::from_secs(61));
    }
    // A held request that outlives its hold is answered 504 by the simulator.
    for call in calls {
        if let Err(e) = call.await.unwrap() {
            assert!(e.contains("504"), "{e}");
        }
    }
    // Every slot is given back (as each request ends, without waiting for its lease).
    let id = a.find_connection("Jira").await.unwrap().id;
    for _ in 0..500 {
        if a.store().slots_in_use(id, a.now()).await.unwrap() == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(a.store().slots_in_use(id, a.now()).await.unwrap(), 0);
    drop(schema);
}
