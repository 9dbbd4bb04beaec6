//! `connection test`, testing before saving, offline / online, `watch` and the debugger,
//! against the in-process simulator.

use crate::common::{Env, connection_create};

const WRONG: &str = "wrong-token-0123456789";

fn create_args<'a>(name: &'a str, email: &'a str, subdomain: &'a str) -> Vec<&'a str> {
    vec![
        "connection",
        "create",
        "--name",
        name,
        "--api-type",
        "cloud-platform",
        "--subdomain",
        subdomain,
        "--auth-type",
        "basic",
        "--username",
        email,
        "--api-token-stdin",
    ]
}

#[test]
fn a_passing_test_marks_the_connection_online_and_shows_the_account() {
    let env = Env::new();
    let created = env.create_alice("Jira");
    assert_eq!(created["state"]["status"], "online", "saving ran the test");
    assert!(created["lastTestedAt"].is_string());

    let out = env.run(&["connection", "test", "jira"], None).ok();
    assert!(out.stdout.contains("passed"), "{}", out.stdout);
    assert!(out.stdout.contains("alice@example.com"), "{}", out.stdout);
    assert!(out.stdout.contains("Account ID"), "{}", out.stdout);
    assert!(out.stdout.contains("Latency"), "{}", out.stdout);
    assert!(
        out.stdout.contains("GET /rest/api/3/myself"),
        "the request sent: {}",
        out.stdout
    );
    assert!(
        out.stdout.contains(&env.sim.site_url("demo")),
        "{}",
        out.stdout
    );

    let report = env
        .run(&["connection", "test", "Jira", "-o", "json"], None)
        .ok()
        .json();
    assert_eq!(report["result"], "passed");
    assert_eq!(report["reachable"], true);
    assert_eq!(report["account"]["email"], "alice@example.com");
    assert!(report["account"]["accountId"].is_string());
    assert!(report["latencyMs"].is_u64());
    assert_eq!(report["probe"], "GET /rest/api/3/myself");
    assert_eq!(report["state"]["status"], "online");

    let list = env.run(&["connection", "list"], None).ok();
    assert!(list.stdout.contains("online"), "{}", list.stdout);
    assert!(list.stdout.contains("LAST TESTED"), "{}", list.stdout);
    assert!(!list.stdout.contains("never"), "{}", list.stdout);
}

#[test]
fn a_wrong_token_is_refused_unless_saved_anyway_and_then_the_connection_is_offline() {
    let env = Env::new();
    let (email, _) = env.alice();
    let out = env
        .run(&create_args("Jira", &email, "demo"), Some(WRONG))
        .fails_with(8);
    assert!(out.stderr.contains("nothing was saved"), "{}", out.stderr);
    assert!(out.stderr.contains("--save-anyway"), "{}", out.stderr);
    assert!(out.stderr.contains("API token"), "{}", out.stderr);
    let list = env
        .run(&["connection", "list", "-o", "json"], None)
        .ok()
        .json();
    assert_eq!(list.as_array().unwrap().len(), 0);

    let mut args = create_args("Jira", &email, "demo");
    args.extend(["--save-anyway", "-o", "json"]);
    let saved = env.run(&args, Some(WRONG)).ok().json();
    assert_eq!(saved["state"]["status"], "offline");
    assert!(
        saved["state"]["reason"]
            .as_str()
            .unwrap()
            .contains("rejected"),
        "{saved}"
    );

    let out = env
        .run(&["connection", "test", "Jira", "-o", "json"], None)
        .fails_with(8);
    let report = out.json();
    assert_eq!(report["result"], "failed");
    assert_eq!(report["failure"]["kind"], "wrong_credentials");
    assert_eq!(report["failure"]["httpStatus"], 401);
    assert!(
        report["failure"]["fix"]
            .as_str()
            .unwrap()
            .contains("create a new API token"),
        "{report}"
    );
    let error: serde_json::Value =
        serde_json::from_str(out.stderr.trim().lines().last().unwrap()).unwrap();
    assert_eq!(error["error"]["code"], "connection_test_failed");
    assert!(!out.stdout.contains(WRONG) && !out.stderr.contains(WRONG));

    let list = env.run(&["connection", "list"], None).ok();
    assert!(
        list.stdout.contains("offline: Jira rejected"),
        "{}",
        list.stdout
    );
}

#[test]
fn an_unknown_subdomain_is_named_with_its_fix() {
    let env = Env::new();
    let (email, token) = env.alice();
    let out = env
        .run(&create_args("Jira", &email, "no-such-site"), Some(&token))
        .fails_with(8);
    assert!(out.stderr.contains("no Jira site"), "{}", out.stderr);
    assert!(out.stderr.contains("check the subdomain"), "{}", out.stderr);
}

#[test]
fn a_rate_limit_is_reported_with_the_wait() {
    let env = Env::new();
    env.create_alice("Jira");
    env.sim.control().fail_next(1, 429, Some(30));
    let out = env.run(&["connection", "test", "Jira"], None).fails_with(8);
    assert!(out.stdout.contains("rate limited"), "{}", out.stdout);
    assert!(out.stdout.contains("wait 30 seconds"), "{}", out.stdout);
    assert!(out.stdout.contains("Retry after"), "{}", out.stdout);
    let view = env
        .run(&["connection", "show", "Jira", "-o", "json"], None)
        .ok()
        .json();
    assert_eq!(
        view["state"]["status"], "online",
        "a rate limit does not take a connection offline"
    );
}

#[test]
fn saving_without_testing_sends_nothing() {
    let env = Env::new();
    let mut args = create_args("Offline work", "me@example.com", "demo");
    args.extend(["--no-test", "-o", "json"]);
    let saved = env.run(&args, Some(WRONG)).ok().json();
    assert_eq!(saved["state"]["status"], "untested");
    assert!(saved["lastTestedAt"].is_null());
    assert!(env.sim.control().requests().is_empty());
    let show = env.run(&["connection", "show", "Offline work"], None).ok();
    assert!(show.stdout.contains("not tested yet"), "{}", show.stdout);
    assert!(show.stdout.contains("never"), "{}", show.stdout);
}

#[test]
fn oauth_connections_are_saved_and_reported_as_needing_authorization() {
    let env = Env::new();
    env.create_client("App", "client-secret-value");
    let out = env
        .run(
            &connection_create(
                "OAuth",
                "oauth2",
                &[
                    "--oauth-client",
                    "App",
                    "--scopes",
                    "read:jira-work",
                    "--test",
                ],
            ),
            None,
        )
        .ok();
    assert!(
        out.stderr.contains("once it is authorized"),
        "{}",
        out.stderr
    );
    let out = env
        .run(&["connection", "test", "OAuth"], None)
        .fails_with(9);
    assert!(out.stdout.contains("needs authorization"), "{}", out.stdout);
    assert!(!out.stdout.contains("wrong"), "{}", out.stdout);
    assert!(env.sim.control().requests().is_empty());
}

#[test]
fn an_edit_is_tested_before_it_is_saved() {
    let env = Env::new();
    env.create_alice("Jira");
    let out = env
        .run(
            &["connection", "edit", "Jira", "--api-token-stdin", "--test"],
            Some(WRONG),
        )
        .fails_with(8);
    assert!(out.stderr.contains("nothing was saved"), "{}", out.stderr);
    let audit = env
        .run(&["connection", "audit", "Jira", "-o", "json"], None)
        .ok()
        .json();
    assert_eq!(audit.as_array().unwrap().len(), 1, "only the create");
    let (_, token) = env.alice();
    let edited = env
        .run(
            &[
                "connection",
                "edit",
                "Jira",
                "--api-token-stdin",
                "-o",
                "json",
            ],
            Some(&token),
        )
        .ok()
        .json();
    assert_eq!(edited["state"]["status"], "online");
}

#[test]
fn watch_brings_a_connection_back_online_when_its_credentials_work_again() {
    let env = Env::new();
    env.create_alice("Jira");
    env.sim.control().fail_next(1, 401, None);
    env.run(&["connection", "test", "Jira"], None).fails_with(8);
    let list = env.run(&["connection", "list"], None).ok();
    assert!(list.stdout.contains("offline"), "{}", list.stdout);

    let out = env.run(&["connection", "watch", "--once"], None).ok();
    assert!(out.stdout.contains("back online"), "{}", out.stdout);
    let view = env
        .run(&["connection", "show", "Jira", "-o", "json"], None)
        .ok()
        .json();
    assert_eq!(view["state"]["status"], "online");
    let out = env.run(&["connection", "watch", "--once"], None).ok();
    assert!(
        out.stderr.contains("No connection is offline"),
        "{}",
        out.stderr
    );

    let out = env
        .run(&["connection", "watch", "--interval", "soon"], None)
        .fails_with(2);
    assert!(out.stderr.contains("not an interval"), "{}", out.stderr);
}

#[test]
fn the_debugger_records_show_and_clear() {
    let env = Env::new();
    let (email, _) = env.alice();
    let mut args = create_args("Jira", &email, "demo");
    args.push("--save-anyway");
    env.run(&args, Some(WRONG)).ok();

    env.run(&["connection", "debug", "Jira", "--minutes", "20"], None)
        .fails_with(2);
    let out = env.run(&["connection", "debug", "show", "Jira"], None).ok();
    assert!(
        out.stderr.contains("No requests recorded"),
        "{}",
        out.stderr
    );

    let started = env
        .run(
            &[
                "connection",
                "debug",
                "Jira",
                "--minutes",
                "30",
                "-o",
                "json",
            ],
            None,
        )
        .ok()
        .json();
    assert!(started["debugUntil"].is_string());
    let show = env.run(&["connection", "show", "Jira"], None).ok();
    assert!(show.stdout.contains("recording until"), "{}", show.stdout);

    env.run(&["connection", "test", "Jira"], None).fails_with(8);
    let log = env
        .run(&["connection", "debug", "show", "Jira", "-o", "json"], None)
        .ok()
        .json();
    assert_eq!(log["recording"], true);
    let lines = log["lines"].as_array().unwrap();
    assert_eq!(lines.len(), 2, "{log}");
    assert_eq!(lines[0]["direction"], "request");
    assert_eq!(lines[0]["method"], "GET");
    assert_eq!(lines[1]["direction"], "response");
    assert_eq!(lines[1]["status"], 401);
    assert!(lines[1]["durationMs"].is_u64());
    assert_eq!(lines[0]["requestId"], lines[1]["requestId"]);
    let text = log.to_string();
    assert!(text.contains("Basic ********"), "{text}");
    assert!(!text.contains(WRONG), "{text}");

    let table = env.run(&["connection", "debug", "show", "Jira"], None).ok();
    assert!(table.stdout.contains("-> GET"), "{}", table.stdout);
    assert!(table.stdout.contains("<- 401"), "{}", table.stdout);
    assert!(table.stdout.contains("authorization: Basic ********"));

    let cleared = env
        .run(
            &["connection", "debug", "clear", "Jira", "-o", "json"],
            None,
        )
        .ok()
        .json();
    assert_eq!(cleared["cleared"], 2);
    let log = env
        .run(&["connection", "debug", "show", "Jira", "-o", "json"], None)
        .ok()
        .json();
    assert!(log["lines"].as_array().unwrap().is_empty());

    env.run(&["connection", "debug", "stop", "Jira"], None).ok();
    env.run(&["connection", "test", "Jira"], None).fails_with(8);
    let log = env
        .run(&["connection", "debug", "show", "Jira", "-o", "json"], None)
        .ok()
        .json();
    assert_eq!(log["recording"], false);
    assert!(log["lines"].as_array().unwrap().is_empty());
}

/// A display name Jira sends with terminal escape sequences (colour, an OSC 8 link, BEL, a
/// carriage return, an 8-bit CSI, a right-to-left override) reaches the terminal inert; the
/// JSON output keeps it, escaped.
#[test]
fn remote_text_reaches_the_terminal_without_control_sequences() {
    use jiralink_sim::control::{NewApiToken, NewUser, TokenKindInput};

    const HOSTILE: &str = "Eve\u{1b}[31m Red\u{1b}]8;;https://evil.example\u{7}link\u{1b}]8;;\u{7}\rX\u{9b}2J\u{202e}txt.exe";
    let env = Env::new();
    let control = env.sim.control();
    control
        .add_user(NewUser {
            email: "eve@example.com".to_owned(),
            display_name: HOSTILE.to_owned(),
            time_zone: None,
            sites: vec!["demo".to_owned()],
            active: None,
        })
        .unwrap();
    let token = control
        .add_api_token(NewApiToken {
            email: "eve@example.com".to_owned(),
            kind: TokenKindInput::Classic,
            scopes: vec![],
            expires_in_secs: None,
            label: None,
        })
        .unwrap()
        .token;
    env.run(&create_args("Eve", "eve@example.com", "demo"), Some(&token))
        .ok();

    let out = env.run(&["connection", "test", "Eve"], None).ok();
    for text in [&out.stdout, &out.stderr] {
        for c in ['\u{1b}', '\u{7}', '\r', '\u{9b}', '\u{202e}'] {
            assert!(!text.contains(c), "{c:?} reached the terminal: {text:?}");
        }
    }
    assert!(out.stdout.contains("Eve\u{FFFD}[31m Red"), "{}", out.stdout);

    let json = env
        .run(&["connection", "test", "Eve", "-o", "json"], None)
        .ok();
    assert!(!json.stdout.contains('\u{1b}') && !json.stdout.contains('\u{9b}'));
    assert_eq!(json.json()["account"]["displayName"], HOSTILE);
}
