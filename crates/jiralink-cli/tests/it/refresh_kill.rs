//! A `jiralink` process SIGKILLed after Atlassian rotated the refresh token but before the
//! new tokens were committed. Atlassian (the simulator) tolerates the old refresh token for
//! ten minutes: a later process within that leeway recovers the connection with one token
//! request and commits the family's live token; past it the connection goes offline
//! ("re-authorization required") after at most one token request.
//!
//! The kill is placed by the simulator: it handles the refresh (rotating the family) and loses
//! every answer to it, so the process can only be retrying when the test sees the first lost
//! answer in the simulator's log and kills it. The dead process's refresh lease runs out
//! after 60 s of real time, which the next process waits for: each case takes about a minute.

use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::Value;
use sqlx::Connection as _;

use crate::common::Env;
use crate::key_kill::{add_authorized_oauth, add_sim_client, open_app};

fn token_requests(env: &Env) -> Vec<jiralink_sim::state::LoggedRequest> {
    env.sim
        .control()
        .requests()
        .into_iter()
        .filter(|r| r.path == "/oauth/token")
        .collect()
}

/// Marks the stored access token of `name` as expired, so the next use refreshes.
async fn expire_access_token(env: &Env, name: &str) {
    let opts =
        sqlx::sqlite::SqliteConnectOptions::new().filename(env.data_dir().join("jiralink.db"));
    let mut db = sqlx::SqliteConnection::connect_with(&opts).await.unwrap();
    let done = sqlx::query(
        "UPDATE connections SET access_token_expires_at = '2000-01-01T00:00:00.000000Z' \
         WHERE name = ?",
    )
    .bind(name)
    .execute(&mut db)
    .await
    .unwrap();
    assert_eq!(done.rows_affected(), 1);
}

fn show(env: &Env) -> Value {
    env.run(&["connection", "show", "Cloud", "-o", "json"], None)
        .ok()
        .json()
}

/// Sets up "Cloud", authorized, then runs `connection test Cloud` with an expired access
/// token and SIGKILLs it once the simulator has rotated the refresh token and lost its answer.
/// Returns the environment and the runtime that drives the test's own async work.
fn killed_mid_refresh() -> (Env, tokio::runtime::Runtime) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let env = Env::new();
    runtime.block_on(async {
        let app = open_app(&env).await;
        add_sim_client(&env, &app).await;
        add_authorized_oauth(&app, "Cloud").await;
        app.close_database().await;
        expire_access_token(&env, "Cloud").await;
    });
    let before = token_requests(&env).len();
    // Every attempt of the refresh (the first and its retries) is handled, then lost.
    env.sim
        .control()
        .lose_next_matching(8, &[axum::http::Method::POST], Some("/oauth/token"));
    let mut child = env
        .std_cmd()
        .args(["connection", "test", "Cloud", "-o", "json"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if token_requests(&env)[before..].iter().any(|r| r.lost) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no refresh reached the simulator"
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "the process ended before its refresh was lost"
        );
        runtime.block_on(async { tokio::time::sleep(Duration::from_millis(1)).await });
    }
    child.kill().unwrap();
    let status = child.wait().unwrap();
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(9),
        "SIGKILL, not an exit"
    );
    env.sim.control().clear_faults();
    let sent = token_requests(&env);
    assert!(sent.len() > before, "the refresh was sent");
    assert!(
        sent[before..].iter().all(|r| r.lost),
        "no answer reached the killed process: {:?}",
        &sent[before..]
    );
    // Nothing was committed: the connection is as it was, still holding the old token.
    assert_eq!(show(&env)["state"]["status"], "online");
    (env, runtime)
}

#[test]
fn a_refresh_killed_before_its_commit_recovers_within_atlassians_leeway() {
    let (env, runtime) = killed_mid_refresh();
    env.sim.control().advance(Duration::from_secs(5 * 60));
    let before = token_requests(&env).len();
    let out = env
        .run(&["connection", "test", "Cloud", "-o", "json"], None)
        .ok();
    assert_eq!(out.json()["result"], "passed", "{}", out.stdout);
    assert_eq!(
        token_requests(&env).len(),
        before + 1,
        "one token request after the restart"
    );
    assert_eq!(show(&env)["state"]["status"], "online");

    // What was committed is the family's live refresh token, not the old one: past the
    // leeway (where the old one would revoke the family) the next refresh works.
    env.sim.control().advance(Duration::from_secs(11 * 60));
    runtime.block_on(expire_access_token(&env, "Cloud"));
    let before = token_requests(&env).len();
    let out = env
        .run(&["connection", "test", "Cloud", "-o", "json"], None)
        .ok();
    assert_eq!(out.json()["result"], "passed", "{}", out.stdout);
    assert_eq!(token_requests(&env).len(), before + 1);
    assert_eq!(show(&env)["state"]["status"], "online");
}

#[test]
fn a_refresh_killed_before_its_commit_goes_offline_past_the_leeway() {
    let (env, _runtime) = killed_mid_refresh();
    env.sim.control().advance(Duration::from_secs(11 * 60));
    let before = token_requests(&env).len();
    let out = env.run(&["connection", "test", "Cloud", "-o", "json"], None);
    assert_ne!(out.code, 0, "{}", out.stdout);
    assert!(
        token_requests(&env).len() <= before + 1,
        "at most one further token request"
    );
    let shown = show(&env);
    assert_eq!(shown["state"]["status"], "offline", "{shown}");
    assert!(
        shown["state"]["reason"]
            .as_str()
            .is_some_and(|r| r.contains("re-authorization required")),
        "{shown}"
    );
    // And it stays there without asking Atlassian again.
    let again = token_requests(&env).len();
    env.run(&["connection", "test", "Cloud", "-o", "json"], None);
    assert_eq!(token_requests(&env).len(), again);
}
