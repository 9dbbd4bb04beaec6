//! `jiralink listener …` on a Basic connection's flow (an admin webhook: nothing to register
//! in Jira): created with the URL, the secret printed once on stdout and the administrator's
//! steps; shown, listed, its events listed, checked; refused with the CLI's exit codes; the
//! flow kept while the listener feeds it; deleted only with confirmation.

use crate::common::Env;
use crate::flows::{create_demo_to_acme, env_with_two_sites};

/// The flow `demo-to-acme`: the export `demo-mkt` (of `MKT` on the Basic connection "Jira")
/// into the import `acme-mkt`.
fn env_with_flow() -> Env {
    let env = env_with_two_sites();
    create_demo_to_acme(&env, &[]);
    env
}

fn is_secret(line: &str) -> bool {
    line.len() == 64 && line.bytes().all(|b| b.is_ascii_hexdigit())
}

#[test]
fn a_listener_is_created_with_its_secret_once_shown_checked_and_deleted() {
    let env = env_with_flow();
    let out = env
        .run(
            &[
                "listener",
                "create",
                "--name",
                "demo-events",
                "--flow",
                "DEMO-TO-ACME",
                "--event",
                "jira:issue_created",
                "--event",
                "jira:issue_updated",
                "--jql",
                "type = Task",
                "--field-id",
                "summary",
            ],
            None,
        )
        .ok();
    let secrets: Vec<&str> = out.stdout.lines().filter(|l| is_secret(l)).collect();
    assert_eq!(secrets.len(), 1, "{}", out.stdout);
    let secret = secrets[0].to_owned();
    assert!(!out.stderr.contains(&secret), "{}", out.stderr);
    assert!(out.stdout.contains("not shown again"), "{}", out.stdout);
    let url = out
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("URL: "))
        .unwrap()
        .to_owned();
    assert!(url.contains("/hooks/jira/"), "{url}");
    // The steps name the URL and the filter the administrator enters.
    assert!(out.stdout.contains("Setup, for a Jira site administrator"));
    assert!(
        out.stdout.contains("(project = MKT) AND (type = Task)"),
        "{}",
        out.stdout
    );

    // With -o json: the view and the secret, in that one answer.
    let created = env
        .run(
            &[
                "listener",
                "create",
                "--name",
                "second",
                "--flow",
                "demo-to-acme",
                "-o",
                "json",
            ],
            None,
        )
        .ok()
        .json();
    assert!(is_secret(created["secret"].as_str().unwrap()), "{created}");
    assert_eq!(created["mode"], "admin");
    assert_eq!(
        created["events"].as_array().unwrap().len(),
        6,
        "the default events: {created}"
    );

    // Never again.
    let shown = env.run(&["listener", "show", "demo-events"], None).ok();
    for needle in [
        "demo-to-acme",
        url.as_str(),
        "admin",
        "summary",
        "Safety net",
        "never",
    ] {
        assert!(shown.stdout.contains(needle), "{needle}: {}", shown.stdout);
    }
    let json = env
        .run(&["listener", "show", "demo-events", "-o", "json"], None)
        .ok();
    assert_eq!(json.json()["url"], url.as_str());
    assert_eq!(json.json()["fieldIds"], serde_json::json!(["summary"]));
    assert!(json.json().get("secret").is_none());
    let list = env.run(&["listener", "list"], None).ok();
    assert!(list.stdout.contains("demo-events"), "{}", list.stdout);
    assert!(list.stdout.contains("second"), "{}", list.stdout);
    let list_json = env.run(&["listener", "list", "-o", "json"], None).ok();
    assert_eq!(list_json.json().as_array().unwrap().len(), 2);
    for out in [&shown, &json, &list, &list_json] {
        assert!(!out.stdout.contains(&secret), "the secret came back");
    }

    let events = env
        .run(&["listener", "events", "demo-events", "-o", "json"], None)
        .ok();
    assert_eq!(events.json(), serde_json::json!([]));
    env.run(&["listener", "events", "demo-events", "--limit", "0"], None)
        .fails_with(2);

    // Check: the safety net looks now.
    let report = env
        .run(&["listener", "check", "demo-events", "-o", "json"], None)
        .ok()
        .json();
    assert_eq!(report["safetyNetRan"], true, "{report}");
    assert_eq!(report["problems"], serde_json::json!([]), "{report}");
    let table = env.run(&["listener", "check", "demo-events"], None).ok();
    assert!(
        table.stdout.contains("Checked listener"),
        "{}",
        table.stdout
    );
    let shown = env
        .run(&["listener", "show", "demo-events", "-o", "json"], None)
        .ok()
        .json();
    assert!(shown["safetyNet"]["lastAt"].is_string(), "{shown}");

    // Refusals, with the CLI's exit codes.
    env.run(
        &[
            "listener",
            "create",
            "--name",
            "DEMO-EVENTS",
            "--flow",
            "demo-to-acme",
        ],
        None,
    )
    .fails_with(5);
    env.run(
        &["listener", "create", "--name", "x", "--flow", "nope"],
        None,
    )
    .fails_with(4);
    let bad = env
        .run(
            &[
                "listener",
                "create",
                "--name",
                "x",
                "--flow",
                "demo-to-acme",
                "--event",
                "issue_exploded",
            ],
            None,
        )
        .fails_with(3);
    assert!(bad.stderr.contains("issue_exploded"), "{}", bad.stderr);
    let missing = env.run(&["listener", "show", "nope"], None).fails_with(4);
    assert!(
        missing.stderr.contains("jiralink listener list"),
        "{}",
        missing.stderr
    );
    env.run(&["listener", "check", "nope"], None).fails_with(4);

    // The flow stays while listeners feed it.
    let refused = env
        .run(&["flow", "delete", "demo-to-acme", "--yes"], None)
        .fails_with(5);
    assert!(
        refused.stderr.contains("listener \"demo-events\""),
        "{}",
        refused.stderr
    );

    // Deleting asks first; without a terminal it needs --yes.
    env.run(&["listener", "delete", "demo-events"], None)
        .fails_with(2);
    let deleted = env
        .run(&["listener", "delete", "demo-events", "--yes"], None)
        .ok();
    assert!(
        deleted.stdout.contains("Deleted listener"),
        "{}",
        deleted.stdout
    );
    env.run(&["listener", "show", "demo-events"], None)
        .fails_with(4);
    env.run(
        &["listener", "delete", "second", "--yes", "-o", "json"],
        None,
    )
    .ok();
    env.run(&["flow", "delete", "demo-to-acme", "--yes"], None)
        .ok();
}
