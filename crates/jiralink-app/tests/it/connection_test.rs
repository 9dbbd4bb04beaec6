//! "Test connection", online / offline, the re-test loop and the debugger, against the
//! simulator on 127.0.0.1 with a manual clock. Nothing sleeps and nothing leaves the machine.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use jiralink_app::{App, AppError, ConnectionSecrets, OpenOptions, TestResult};
use jiralink_atlassian::AtlassianError;
use jiralink_domain::{Clock as _, ConnectionDraft, ConnectionId, ConnectionState, ManualClock};
use jiralink_sim::{Sim, SimConfig, SimHandle};
use jiralink_vault::ApiToken;
use pretty_assertions::assert_eq;

use crate::{actor, basic_draft};

const CANARY: &str = "CANARY-debug-3e1f9a7c5b2d4e6f";

pub(crate) struct Fixture {
    pub(crate) _dir: tempfile::TempDir,
    pub(crate) sim: SimHandle,
    pub(crate) app: App,
    pub(crate) clock: ManualClock,
}

pub(crate) async fn fixture() -> Fixture {
    let sim = Sim::start(SimConfig::for_tests()).await.unwrap();
    let auth_server = sim.auth_server();
    fixture_with_auth_server(sim, &auth_server).await
}

/// The same with the application's authorization server at `auth_server` (something standing
/// between it and the simulator's).
pub(crate) async fn fixture_with_auth_server(sim: SimHandle, auth_server: &str) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("jiralink.toml"),
        format!(
            "version = 1\n[atlassian]\nsite_url_template = \"{}\"\napi_gateway = \"{}\"\n\
             auth_server = \"{}\"\n",
            sim.site_url_template(),
            sim.api_gateway(),
            auth_server
        ),
    )
    .unwrap();
    let clock = ManualClock::new(time::macros::datetime!(2026-01-02 03:04:05 UTC));
    let app = App::open(OpenOptions {
        data_dir: dir.path().to_path_buf(),
        config_file: None,
        database: None,
        clock: Arc::new(clock.clone()),
        env: Box::new(|_| None),
    })
    .await
    .unwrap()
    .value;
    Fixture {
        _dir: dir,
        sim,
        app,
        clock,
    }
}

fn alice_draft(f: &Fixture, name: &str) -> ConnectionDraft {
    ConnectionDraft {
        username: Some(f.sim.samples().email.clone()),
        ..basic_draft(name)
    }
}

fn token(value: &str) -> ConnectionSecrets {
    ConnectionSecrets {
        api_token: Some(ApiToken::new(value)),
    }
}

/// Saves a Basic connection for alice on `demo` with `api_token`, without testing it.
async fn save(f: &Fixture, name: &str, api_token: &str) -> String {
    f.app
        .create_connection(&alice_draft(f, name), token(api_token), &actor())
        .await
        .unwrap()
        .value
        .id
}

#[tokio::test]
async fn a_passing_test_marks_the_connection_online_with_the_account() {
    let f = fixture().await;
    let id = save(&f, "Jira", &f.sim.samples().api_token).await;
    let before = f.app.get_connection(&id).await.unwrap();
    assert_eq!(before.state, ConnectionState::Untested);
    assert_eq!(before.last_tested_at, None);

    let outcome = f.app.test_connection("jira").await.unwrap();
    assert_eq!(outcome.result, TestResult::Passed, "{}", outcome.summary());
    assert!(outcome.reachable);
    let account = outcome.account.clone().unwrap();
    assert_eq!(account.email.as_deref(), Some("alice@example.com"));
    assert!(!account.account_id.is_empty());
    assert!(account.display_name.is_some());
    assert_eq!(
        outcome.site_url.as_deref(),
        Some(f.sim.site_url("demo").as_str())
    );
    // The cloud id comes from the site's tenant info when the site serves it.
    if let Some(found) = &outcome.cloud_id {
        let cloud_id = f.sim.control().site("demo").unwrap().cloud_id.to_string();
        assert_eq!(found, &cloud_id);
    }
    assert!(outcome.latency_ms.is_some());
    assert_eq!(outcome.state, Some(ConnectionState::Online));
    assert!(outcome.summary().contains("alice@example.com"));

    let after = f.app.get_connection(&id).await.unwrap();
    assert_eq!(after.state, ConnectionState::Online);
    assert_eq!(after.cloud_id, outcome.cloud_id);
    assert_eq!(after.last_tested_at, Some(f.clock.now()));
    assert_eq!(after.state_changed_at, Some(f.clock.now()));
    f.app.usable_connection(&id).await.unwrap();
}

#[tokio::test]
async fn a_wrong_token_takes_the_connection_offline_and_flows_refuse_it() {
    let f = fixture().await;
    let id = save(&f, "Jira", CANARY).await;
    let outcome = f.app.test_connection(&id).await.unwrap();
    assert_eq!(outcome.result, TestResult::Failed);
    let failure = outcome.failure.clone().unwrap();
    assert_eq!(failure.kind, "wrong_credentials");
    assert_eq!(failure.http_status, Some(401));
    assert!(failure.takes_offline);
    assert!(failure.fix.contains("API token"), "{}", failure.fix);
    assert!(outcome.reachable);
    let text = format!("{outcome:?} {}", serde_json::to_string(&outcome).unwrap());
    assert!(!text.contains("CANARY"), "{text}");

    let view = f.app.get_connection(&id).await.unwrap();
    let ConnectionState::Offline { reason } = &view.state else {
        panic!("expected offline, got {:?}", view.state);
    };
    assert_eq!(reason, &failure.message);
    assert!(view.state_text().starts_with("offline: "));

    let err = f.app.usable_connection("Jira").await.unwrap_err();
    assert_eq!(err.code(), "connection_offline");
    assert_eq!(err.error_code().http_status, 409);
    assert!(matches!(err, AppError::ConnectionOffline { .. }));
    let message = err.to_string();
    assert!(
        message.contains("offline since 2026-01-02 03:04:05 UTC"),
        "{message}"
    );
    assert!(message.contains("test the connection"), "{message}");
    assert!(
        !message.contains("jiralink "),
        "no front end's command: {message}"
    );
}

#[tokio::test]
async fn an_unknown_subdomain_is_named_and_does_not_take_the_connection_offline() {
    let f = fixture().await;
    let mut draft = alice_draft(&f, "Nowhere");
    draft.subdomain = Some("no-such-site".to_owned());
    let view = f
        .app
        .create_connection(&draft, token(&f.sim.samples().api_token), &actor())
        .await
        .unwrap()
        .value;
    let outcome = f.app.test_connection(&view.id).await.unwrap();
    let failure = outcome.failure.clone().unwrap();
    assert_eq!(failure.kind, "unknown_site");
    assert!(failure.fix.contains("subdomain"), "{}", failure.fix);
    assert!(!outcome.reachable);
    assert_eq!(outcome.state, Some(ConnectionState::Untested));
    let after = f.app.get_connection(&view.id).await.unwrap();
    assert_eq!(after.state, ConnectionState::Untested);
    assert!(
        after.last_tested_at.is_some(),
        "the attempt is still recorded"
    );
}

#[tokio::test]
async fn a_rate_limit_is_reported_with_its_wait() {
    let f = fixture().await;
    let id = save(&f, "Jira", &f.sim.samples().api_token).await;
    f.app.test_connection(&id).await.unwrap();
    f.sim.control().fail_next(1, 429, Some(30));
    let outcome = f.app.test_connection(&id).await.unwrap();
    let failure = outcome.failure.clone().unwrap();
    assert_eq!(failure.kind, "rate_limited");
    assert_eq!(failure.retry_after_secs, Some(30));
    assert!(failure.fix.contains("wait 30 seconds"), "{}", failure.fix);
    assert_eq!(
        outcome.state,
        Some(ConnectionState::Online),
        "a rate limit says nothing about the credentials"
    );
}

#[tokio::test]
async fn drafts_are_tested_without_saving_anything() {
    let f = fixture().await;
    let good = f
        .app
        .test_draft(
            &alice_draft(&f, "Draft"),
            &token(&f.sim.samples().api_token),
            None,
        )
        .await
        .unwrap();
    assert!(good.passed(), "{}", good.summary());
    assert_eq!(good.state, None);
    let bad = f
        .app
        .test_draft(&alice_draft(&f, "Draft"), &token(CANARY), None)
        .await
        .unwrap();
    assert_eq!(bad.failure.unwrap().kind, "wrong_credentials");
    assert!(f.app.list_connections().await.unwrap().is_empty());

    // Invalid settings are reported as a save would report them, before any request.
    let mut invalid = alice_draft(&f, "Draft");
    invalid.subdomain = Some("not a host!".to_owned());
    let err = f
        .app
        .test_draft(&invalid, &token(CANARY), None)
        .await
        .unwrap_err();
    assert_eq!(err.code(), "validation_failed");

    // OAuth 2.0 connections need authorizing first: not a failure of their settings.
    let requests_before = f.sim.control().requests().len();
    crate::add_client(&f.app, "App", "client-secret").await;
    let oauth = ConnectionDraft {
        name: Some("OAuth".to_owned()),
        api_type: Some("cloud-platform".to_owned()),
        subdomain: Some("demo".to_owned()),
        auth_type: Some("oauth2".to_owned()),
        oauth_client: Some("App".to_owned()),
        scopes: vec!["read:jira-work".to_owned()],
        ..ConnectionDraft::default()
    };
    let outcome = f
        .app
        .test_draft(&oauth, &ConnectionSecrets::default(), None)
        .await
        .unwrap();
    assert_eq!(outcome.result, TestResult::NeedsAuthorization);
    let saved = f
        .app
        .create_connection(&oauth, ConnectionSecrets::default(), &actor())
        .await
        .unwrap()
        .value;
    let outcome = f.app.test_connection(&saved.id).await.unwrap();
    assert_eq!(outcome.result, TestResult::NeedsAuthorization);
    assert_eq!(outcome.state, Some(ConnectionState::NeedsAuthorization));
    assert_eq!(
        f.sim.control().requests().len(),
        requests_before,
        "nothing is sent for an OAuth 2.0 connection that is not authorized"
    );
}

#[tokio::test]
async fn a_test_before_saving_is_recorded_on_the_saved_connection() {
    let f = fixture().await;
    let draft = alice_draft(&f, "Jira");
    let secrets = token(&f.sim.samples().api_token);
    let outcome = f.app.test_draft(&draft, &secrets, None).await.unwrap();
    let saved = f
        .app
        .create_connection(&draft, secrets, &actor())
        .await
        .unwrap()
        .value;
    let view = f.app.apply_test_outcome(&saved.id, &outcome).await.unwrap();
    assert_eq!(view.state, ConnectionState::Online);
    assert_eq!(view.cloud_id, outcome.cloud_id);
}

#[tokio::test]
async fn authentication_failures_in_any_use_take_the_connection_offline() {
    let f = fixture().await;
    let id = save(&f, "Jira", &f.sim.samples().api_token).await;
    let cid: ConnectionId = id.parse().unwrap();
    let network = AtlassianError::Transport {
        kind: jiralink_atlassian::TransportKind::Connect,
        detail: "refused".to_owned(),
        request_sent: false,
    };
    assert!(!f.app.note_request_failure(cid, &network).await.unwrap());
    assert_eq!(
        f.app.get_connection(&id).await.unwrap().state,
        ConnectionState::Untested
    );
    let unauthorized = AtlassianError::Unauthorized { hint: None };
    assert!(
        f.app
            .note_request_failure(cid, &unauthorized)
            .await
            .unwrap()
    );
    assert!(
        !f.app
            .note_request_failure(cid, &unauthorized)
            .await
            .unwrap(),
        "already offline"
    );
    assert_eq!(
        f.app.usable_connection(&id).await.unwrap_err().code(),
        "connection_offline"
    );
}

#[tokio::test]
async fn the_retest_loop_brings_an_offline_connection_back_online() {
    let f = fixture().await;
    let id = save(&f, "Jira", &f.sim.samples().api_token).await;
    // Two 401s: the first test, then the loop's first round. The loop stops after its
    // third wait.
    f.sim.control().fail_next(2, 401, None);
    f.app.test_connection(&id).await.unwrap();
    assert!(matches!(
        f.app.get_connection(&id).await.unwrap().state,
        ConnectionState::Offline { .. }
    ));
    let offline_since = f.clock.now();

    let interval = f.app.config().connections.retest_interval.get();
    assert_eq!(interval, Duration::from_secs(15 * 60));
    let rounds = crate::job_rounds(&f.app, &f.clock, 3).await;
    let retests: Vec<String> = rounds
        .iter()
        .flatten()
        .filter(|r| r.kind == jiralink_app::RETEST_JOB)
        .map(|r| r.detail.clone().unwrap())
        .collect();
    assert_eq!(
        retests,
        [
            "1 offline connection(s) tested again, 0 back online",
            "1 offline connection(s) tested again, 1 back online",
            "0 offline connection(s) tested again, 0 back online",
        ],
        "offline, then back online, then nothing left to re-test"
    );
    assert!(
        crate::job_intervals(&f.app)
            .await
            .iter()
            .filter(|(key, _)| key.starts_with("connections."))
            .all(|(_, every)| *every == interval)
    );
    let view = f.app.get_connection(&id).await.unwrap();
    assert_eq!(view.state, ConnectionState::Online);
    assert_eq!(
        view.state_changed_at,
        Some(offline_since + time::Duration::minutes(15)),
        "back online at the second round"
    );
}

#[tokio::test]
async fn the_debugger_records_masked_lines_for_its_window_only() {
    let f = fixture().await;
    let id = save(&f, "Jira", CANARY).await;
    let err = f.app.start_debug(&id, 20).await.unwrap_err();
    assert_eq!(err.code(), "validation_failed");

    // Outside a window nothing is recorded.
    f.app.test_connection(&id).await.unwrap();
    assert!(f.app.debug_log(&id).await.unwrap().lines.is_empty());

    let view = f.app.start_debug(&id, 15).await.unwrap();
    assert_eq!(
        view.debug_until,
        Some(f.clock.now() + time::Duration::minutes(15))
    );
    f.app.test_connection(&id).await.unwrap();
    let log = f.app.debug_log(&id).await.unwrap();
    assert!(log.recording);
    assert_eq!(
        log.lines.len(),
        2,
        "one 401 exchange: a request and a response"
    );
    let (request, response) = (&log.lines[0], &log.lines[1]);
    assert_eq!(request.method, "GET");
    assert!(
        request.url.ends_with("/rest/api/3/myself"),
        "{}",
        request.url
    );
    assert!(
        request
            .headers
            .iter()
            .any(|(k, v)| k == "authorization" && v == "Basic ********"),
        "{:?}",
        request.headers
    );
    assert_eq!(response.status, Some(401));
    assert_eq!(response.request_id, request.request_id);
    let text = serde_json::to_string(&log).unwrap();
    assert!(!text.contains("CANARY"), "{text}");
    let b64 = base64::engine::general_purpose::STANDARD
        .encode(format!("{}:{CANARY}", f.sim.samples().email));
    assert!(!text.contains(&b64[..20]), "{text}");

    // The window ends: later requests are not recorded, earlier lines stay.
    f.clock.advance(time::Duration::minutes(16));
    f.app.test_connection(&id).await.unwrap();
    let log = f.app.debug_log(&id).await.unwrap();
    assert!(!log.recording);
    assert_eq!(log.lines.len(), 2);

    // Lines are kept 24 hours.
    f.clock.advance(time::Duration::hours(24));
    assert!(f.app.debug_log(&id).await.unwrap().lines.is_empty());

    // Clear.
    f.app.start_debug(&id, 60).await.unwrap();
    f.app.test_connection(&id).await.unwrap();
    assert_eq!(f.app.clear_debug_log(&id).await.unwrap(), 2);
    assert!(f.app.debug_log(&id).await.unwrap().lines.is_empty());
    let stopped = f.app.stop_debug(&id).await.unwrap();
    assert_eq!(stopped.debug_until, Some(f.clock.now()));
    f.app.test_connection(&id).await.unwrap();
    assert!(f.app.debug_log(&id).await.unwrap().lines.is_empty());
}

#[tokio::test]
async fn only_a_401_in_a_use_takes_the_connection_offline() {
    let f = fixture().await;
    let id = save(&f, "Jira", &f.sim.samples().api_token).await;
    let cid: ConnectionId = id.parse().unwrap();
    // The credentials authenticated: a missing permission or scope concerns that request.
    for forbidden in [
        AtlassianError::Forbidden {
            missing_scope: None,
            message: "You do not have permission to see this issue.".to_owned(),
        },
        AtlassianError::Forbidden {
            missing_scope: None,
            message: "Unauthorized; scope does not match".to_owned(),
        },
        AtlassianError::Forbidden {
            missing_scope: Some("write:jira-work".to_owned()),
            message: "the token needs write:jira-work".to_owned(),
        },
    ] {
        assert!(!f.app.note_request_failure(cid, &forbidden).await.unwrap());
        assert_eq!(
            f.app.get_connection(&id).await.unwrap().state,
            ConnectionState::Untested
        );
        f.app.usable_connection(&id).await.unwrap();
    }

    let unauthorized = AtlassianError::Unauthorized { hint: None };
    assert!(
        f.app
            .note_request_failure(cid, &unauthorized)
            .await
            .unwrap()
    );
    assert_eq!(
        f.app.usable_connection(&id).await.unwrap_err().code(),
        "connection_offline"
    );
}

#[tokio::test]
async fn a_use_started_before_the_debugger_records_what_it_sends_after() {
    let f = fixture().await;
    let id = save(&f, "Jira", &f.sim.samples().api_token).await;
    // The use begins while the debugger is off.
    let client = f.app.jira_client(&id).await.unwrap();
    client.myself().await.unwrap();
    f.app.flush_debug_lines().await;
    assert!(f.app.debug_log(&id).await.unwrap().lines.is_empty());

    f.app.start_debug(&id, 15).await.unwrap();
    // A running use sees the window once its copy of it is due for a refresh.
    f.clock.advance(jiralink_app::DEBUG_REFRESH);
    client.server_info().await.unwrap();
    f.app.flush_debug_lines().await;
    // The client is still in use, and its request is already in the log.
    let log = f.app.debug_log(&id).await.unwrap();
    assert_eq!(log.lines.len(), 2, "{:?}", log.lines);
    assert!(log.lines[0].url.ends_with("/rest/api/3/serverInfo"));
    assert_eq!(log.lines[1].status, Some(200));

    client.myself().await.unwrap();
    f.app.flush_debug_lines().await;
    assert_eq!(f.app.debug_log(&id).await.unwrap().lines.len(), 4);

    // Closing the window reaches the running use the same way.
    f.app.stop_debug(&id).await.unwrap();
    f.clock.advance(jiralink_app::DEBUG_REFRESH);
    client.myself().await.unwrap();
    f.app.flush_debug_lines().await;
    assert_eq!(f.app.debug_log(&id).await.unwrap().lines.len(), 4);
    drop(client);
}

#[tokio::test]
async fn a_test_result_never_overwrites_an_edit_made_during_the_test() {
    let f = fixture().await;
    let id = save(&f, "Jira", &f.sim.samples().api_token).await;
    // The probe's request waits at the simulator until its clock moves.
    f.sim.control().hold_next(1, Duration::from_secs(60));
    let app = f.app.clone();
    let test_id = id.clone();
    let test = tokio::spawn(async move { app.test_connection(&test_id).await });
    while f.sim.control().pending_faults().hold_next > 0 {
        tokio::task::yield_now().await;
    }
    f.clock.advance(time::Duration::seconds(1));
    let edit = ConnectionDraft {
        concurrency_level: Some("3".to_owned()),
        ..alice_draft(&f, "Jira")
    };
    let version = f.app.get_connection(&id).await.unwrap().version;
    f.app
        .update_connection(
            &id,
            version,
            &edit,
            token(&f.sim.samples().api_token),
            &actor(),
        )
        .await
        .unwrap();
    let before = f.app.get_connection(&id).await.unwrap();
    while !test.is_finished() {
        f.sim.control().advance(Duration::from_secs(61));
        tokio::task::yield_now().await;
    }
    let err = test.await.unwrap().unwrap_err();
    assert!(matches!(err, AppError::ChangedDuringTest { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        "the connection changed during the test; test it again"
    );
    let after = f.app.get_connection(&id).await.unwrap();
    assert_eq!(
        serde_json::to_value(&after).unwrap(),
        serde_json::to_value(&before).unwrap()
    );

    // Tested again, the result is recorded.
    let again = f.app.test_connection(&id).await.unwrap();
    assert_eq!(again.result, TestResult::Passed, "{}", again.summary());
}
