use crate::common::{Env, connection_create};

#[test]
fn basic_cloud_platform_lifecycle() {
    let env = Env::new();
    let created = env.create_basic("Jira - acme", "token-one");
    assert_eq!(created["apiType"], "cloud-platform");
    assert_eq!(created["authType"], "basic");
    assert_eq!(created["subdomain"], "demo");
    assert_eq!(created["username"], "me@example.com");
    assert_eq!(created["apiToken"]["set"], true);
    assert!(created["apiToken"]["updatedAt"].is_string());

    let list = env.run(&["connection", "list"], None).ok();
    assert!(list.stdout.contains("Jira - acme"));
    assert!(
        list.stdout
            .contains("Cloud Platform and Service Management")
    );

    let show = env.run(&["connection", "show", "jira - ACME"], None).ok();
    assert!(show.stdout.contains("API token"));
    assert!(show.stdout.contains("set, updated"));

    // Editing asks for the API token again: without it nothing changes.
    let out = env
        .run(
            &[
                "connection",
                "edit",
                "Jira - acme",
                "--subdomain",
                "acme-eu",
            ],
            None,
        )
        .fails_with(3);
    assert!(out.stderr.contains("API token"), "{}", out.stderr);
    let unchanged = env
        .run(&["connection", "show", "Jira - acme", "-o", "json"], None)
        .ok()
        .json();
    assert_eq!(unchanged["subdomain"], "demo");

    let edited = env
        .run(
            &[
                "connection",
                "edit",
                "Jira - acme",
                "--subdomain",
                "acme-eu",
                "--api-token-stdin",
                "--no-test",
                "-o",
                "json",
            ],
            Some("token-two\n"),
        )
        .ok()
        .json();
    assert_eq!(edited["subdomain"], "acme-eu");
    assert_eq!(edited["username"], "me@example.com");

    env.run(&["connection", "delete", "Jira - acme", "--yes"], None)
        .ok();
    env.run(&["connection", "show", "Jira - acme"], None)
        .fails_with(4);
    let list = env
        .run(&["connection", "list", "-o", "json"], None)
        .ok()
        .json();
    assert_eq!(list.as_array().unwrap().len(), 0);
}

#[test]
fn token_from_file_and_env() {
    let env = Env::new();
    let file = env.path().join("token.txt");
    std::fs::write(&file, "file-token\n").unwrap();
    env.run(
        &connection_create(
            "From file",
            "basic",
            &[
                "--username",
                "me@example.com",
                "--api-token-file",
                file.to_str().unwrap(),
                "--no-test",
            ],
        ),
        None,
    )
    .ok();
    let mut cmd = env.cmd();
    cmd.env("MY_TOKEN", "env-token").args(connection_create(
        "From env",
        "basic",
        &[
            "--username",
            "me@example.com",
            "--api-token-env",
            "MY_TOKEN",
            "--no-test",
        ],
    ));
    cmd.assert().success();
    let out = env
        .run(
            &connection_create(
                "Missing env",
                "basic",
                &[
                    "--username",
                    "me@example.com",
                    "--api-token-env",
                    "NOT_SET_ANYWHERE_123",
                ],
            ),
            None,
        )
        .fails_with(2);
    assert!(out.stderr.contains("NOT_SET_ANYWHERE_123"));
}

/// The application's message names no command and repeats nothing typed; the CLI's own hint
/// line names both.
#[test]
fn errors_get_the_clis_hint_line() {
    let env = Env::new();
    let out = env
        .run(&["connection", "show", "Jira - nope"], None)
        .fails_with(4);
    let mut lines = out.stderr.lines().skip_while(|l| l.starts_with("note:"));
    assert_eq!(
        lines.next(),
        Some("error: no connection has that name or id"),
        "{}",
        out.stderr
    );
    assert_eq!(
        lines.next(),
        Some(
            "hint: 'Jira - nope' is not a connection's name or id; `jiralink connection list` \
             shows them"
        ),
        "{}",
        out.stderr
    );
    let json = env
        .run(&["connection", "show", "Jira - nope", "-o", "json"], None)
        .fails_with(4);
    let body: serde_json::Value =
        serde_json::from_str(json.stderr.trim().lines().last().unwrap()).unwrap();
    assert_eq!(body["error"]["code"], "connection_not_found");
    assert_eq!(
        body["error"]["message"],
        "no connection has that name or id"
    );
}

/// A secret file or pipe that never ends (here `/dev/zero`) is read only up to the longest
/// usable secret and refused like any secret too long, instead of filling memory.
#[test]
fn endless_secret_sources_are_cut_at_the_bound() {
    let env = Env::new();
    let mut cmd = env.cmd();
    cmd.args(connection_create(
        "Endless",
        "basic",
        &[
            "--username",
            "me@example.com",
            "--no-test",
            "--api-token-file",
            "/dev/zero",
        ],
    ));
    let out = crate::common::Output::of(&mut cmd).fails_with(3);
    assert!(
        out.stderr.contains("longer than 4096 characters"),
        "{}",
        out.stderr
    );
    // A pipe from /dev/zero, not a buffer: the CLI reads from a source that never ends.
    let out = env
        .std_cmd()
        .args(connection_create(
            "Endless",
            "basic",
            &[
                "--username",
                "me@example.com",
                "--no-test",
                "--api-token-stdin",
            ],
        ))
        .stdin(std::fs::File::open("/dev/zero").unwrap())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("longer than 4096 characters"), "{stderr}");
}

/// Every way the CLI reads a secret reaches the same length limit as the API and the form,
/// and the refusal never repeats the value.
#[test]
fn oversized_secrets_are_refused_from_every_source() {
    let env = Env::new();
    let huge = format!("CANARY-{}", "x".repeat(5000));
    let file = env.path().join("token.txt");
    std::fs::write(&file, format!("{huge}\n")).unwrap();
    let file = file.to_str().unwrap().to_owned();
    let sources: [(&[&str], Option<&str>); 3] = [
        (&["--api-token-stdin"], Some(huge.as_str())),
        (&["--api-token-file", &file], None),
        (&["--api-token-env", "HUGE_TOKEN"], None),
    ];
    for (flags, stdin) in sources {
        let mut rest = vec!["--username", "me@example.com", "--no-test"];
        rest.extend_from_slice(flags);
        let mut cmd = env.cmd();
        cmd.env("HUGE_TOKEN", &huge)
            .args(connection_create("Huge", "basic", &rest))
            .write_stdin(stdin.unwrap_or(""));
        let out = crate::common::Output::of(&mut cmd).fails_with(3);
        assert!(
            out.stderr.contains("longer than 4096 characters"),
            "{flags:?}: {}",
            out.stderr
        );
        assert!(!out.stderr.contains("CANARY") && !out.stderr.contains("xxxx"));
    }
    let out = env
        .run(
            &[
                "oauth-client",
                "create",
                "--name",
                "App",
                "--client-id",
                "abc",
                "--client-secret-stdin",
            ],
            Some(&huge),
        )
        .fails_with(3);
    assert!(out.stderr.contains("Client secret"), "{}", out.stderr);
    assert!(!out.stderr.contains("CANARY"));
    let list = env.run(&["connection", "list", "-o", "json"], None).ok();
    assert_eq!(list.json().as_array().unwrap().len(), 0, "{}", list.stdout);
}

#[test]
fn oauth_connections_of_both_api_types() {
    let env = Env::new();
    env.create_client("App", "client-secret-1");
    let cloud = env
        .run(
            &[
                "connection",
                "create",
                "--name",
                "Jira OAuth",
                "--api-type",
                "Cloud Platform and Service Management",
                "--subdomain",
                "https://Demo.atlassian.net/",
                "--auth-type",
                "OAuth 2.0",
                "--oauth-client",
                "app",
                "--scopes",
                "read:jira-work write:jira-work",
                "--scopes",
                "offline_access",
                "-o",
                "json",
            ],
            None,
        )
        .ok();
    assert!(cloud.stderr.contains("offline_access"), "{}", cloud.stderr);
    assert!(cloud.stderr.contains("demo"), "{}", cloud.stderr);
    let cloud = cloud.json();
    assert_eq!(cloud["subdomain"], "demo");
    assert_eq!(cloud["authType"], "oauth2");
    assert_eq!(cloud["oauthClient"]["name"], "App");
    assert_eq!(
        cloud["scopes"],
        serde_json::json!(["read:jira-work", "write:jira-work"])
    );
    assert!(cloud.get("apiToken").is_none());
    assert_eq!(cloud["state"]["status"], "needs_authorization");

    let csm = env
        .run(
            &[
                "connection",
                "create",
                "--name",
                "CSM",
                "--api-type",
                "csm",
                "--oauth-client",
                "App",
                "--scopes",
                "read:customer:jira-service-management",
                "-o",
                "json",
            ],
            None,
        )
        .ok()
        .json();
    assert_eq!(csm["apiType"], "customer-service-management");
    assert_eq!(csm["subdomain"], serde_json::Value::Null);

    // Scope edits: add and remove.
    let edited = env
        .run(
            &[
                "connection",
                "edit",
                "Jira OAuth",
                "--add-scope",
                "manage:jira-project",
                "--remove-scope",
                "write:jira-work",
                "-o",
                "json",
            ],
            None,
        )
        .ok();
    assert!(edited.stderr.contains("authorize"), "{}", edited.stderr);
    assert_eq!(
        edited.json()["scopes"],
        serde_json::json!(["manage:jira-project", "read:jira-work"])
    );

    // HTTP view of each shape.
    let view = env
        .run_with_default_endpoints(&["connection", "http-view", "Jira OAuth", "-o", "json"])
        .ok()
        .json();
    let text = view.to_string();
    assert!(
        text.contains("https://api.atlassian.com/ex/jira/{cloudId}"),
        "{text}"
    );
    assert!(
        text.contains("https://auth.atlassian.com/authorize"),
        "{text}"
    );
    assert!(text.contains("offline_access"), "{text}");
    assert!(text.contains("client-abc"), "{text}");
    assert!(!text.contains("client-secret-1"));
    let view = env.run(&["connection", "http-view", "CSM"], None).ok();
    assert!(view.stdout.contains("/jsm/csm/cloudid/"), "{}", view.stdout);

    // Switching the Cloud connection to Basic drops the OAuth settings and needs a token.
    let switched = env
        .run(
            &[
                "connection",
                "edit",
                "Jira OAuth",
                "--auth-type",
                "basic",
                "--username",
                "me@example.com",
                "--api-token-stdin",
                "--no-test",
                "-o",
                "json",
            ],
            Some("tok"),
        )
        .ok()
        .json();
    assert_eq!(switched["authType"], "basic");
    assert_eq!(switched["scopes"], serde_json::json!([]));
}

#[test]
fn every_problem_is_reported_at_once() {
    let env = Env::new();
    let out = env
        .run(
            &[
                "connection",
                "create",
                "--api-type",
                "cloud-platform",
                "--subdomain",
                "demo.jira.com",
                "--auth-type",
                "basic",
                "--username",
                "not-an-email",
                "-o",
                "json",
            ],
            None,
        )
        .fails_with(3);
    let body: serde_json::Value =
        serde_json::from_str(out.stderr.trim().lines().last().unwrap()).unwrap();
    assert_eq!(body["error"]["code"], "validation_failed");
    let fields: Vec<&str> = body["error"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap())
        .collect();
    for f in ["name", "subdomain", "username", "api_token"] {
        assert!(fields.contains(&f), "{f} missing from {fields:?}");
    }
    let table = env
        .run(
            &[
                "connection",
                "create",
                "--api-type",
                "csm",
                "--subdomain",
                "demo",
                "--auth-type",
                "basic",
            ],
            None,
        )
        .fails_with(3);
    assert!(table.stderr.contains("Subdomain"), "{}", table.stderr);
    assert!(table.stderr.contains("Auth type"), "{}", table.stderr);
    assert!(
        table.stderr.contains("OAuth 2.0 client"),
        "{}",
        table.stderr
    );
    // Nothing was saved.
    let list = env
        .run(&["connection", "list", "-o", "json"], None)
        .ok()
        .json();
    assert_eq!(list.as_array().unwrap().len(), 0);
}

#[test]
fn names_are_unique_without_regard_to_case() {
    let env = Env::new();
    env.create_basic("Jira", "t1");
    let out = env
        .run(
            &connection_create(
                "  JIRA ",
                "basic",
                &["--username", "me@example.com", "--api-token-stdin"],
            ),
            Some("t2"),
        )
        .fails_with(3);
    assert!(
        out.stderr.contains("Name your connection"),
        "{}",
        out.stderr
    );
}

#[test]
fn audit_records_who_changed_what() {
    let env = Env::new();
    let created = env.create_basic("Audited", "tok-1");
    env.run(
        &[
            "connection",
            "edit",
            "Audited",
            "--subdomain",
            "other",
            "--api-token-stdin",
            "--no-test",
        ],
        Some("tok-2"),
    )
    .ok();
    let entries = env
        .run(&["connection", "audit", "Audited", "-o", "json"], None)
        .ok()
        .json();
    let entries = entries.as_array().unwrap();
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[0]["action"], "create");
    assert_eq!(entries[1]["action"], "update");
    assert_eq!(entries[1]["actor"], "tester");
    assert_eq!(entries[1]["source"], "cli");
    let changes = entries[1]["changes"].to_string();
    assert!(changes.contains("subdomain"), "{changes}");
    assert!(changes.contains("api_token"), "{changes}");
    assert!(!changes.contains("tok-2"));
    let table = env.run(&["connection", "audit", "Audited"], None).ok();
    assert!(
        table.stdout.contains("api_token: re-entered"),
        "{}",
        table.stdout
    );
    // The trail outlives the connection, by id.
    env.run(&["connection", "delete", "Audited", "--yes"], None)
        .ok();
    let id = created["id"].as_str().unwrap();
    let after = env
        .run(&["connection", "audit", id, "-o", "json"], None)
        .ok()
        .json();
    assert_eq!(after.as_array().unwrap().len(), 3);
}

#[test]
fn scopes_catalogue_is_listed() {
    let env = Env::new();
    let out = env
        .run(
            &["connection", "scopes", "--api-type", "csm", "-o", "json"],
            None,
        )
        .ok()
        .json();
    let names: Vec<&str> = out
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"read:customer:jira-service-management"));
    let out = env.run(&["connection", "scopes"], None).ok();
    assert!(out.stdout.contains("read:jira-work"));
}

#[test]
fn rate_limit_handling_is_set_on_create_and_edit() {
    let env = Env::new();
    let created = env.create_basic("Jira", "token-one");
    assert_eq!(created["rateLimitAutoRecover"], true);
    assert_eq!(created["rateLimitMaxRetries"], 4);
    let show = env.run(&["connection", "show", "Jira"], None).ok();
    assert!(
        show.stdout.contains("auto-recover on, up to 4 retries"),
        "{}",
        show.stdout
    );

    let edit = |recover: &str, retries: &str| {
        env.run(
            &[
                "connection",
                "edit",
                "Jira",
                "--rate-limit-auto-recover",
                recover,
                "--rate-limit-max-retries",
                retries,
                "--api-token-stdin",
                "--no-test",
                "-o",
                "json",
            ],
            Some("token-two\n"),
        )
    };
    let edited = edit("off", "2").ok().json();
    assert_eq!(edited["rateLimitAutoRecover"], false);
    assert_eq!(edited["rateLimitMaxRetries"], 2);
    // Other edits keep the setting.
    let renamed = env
        .run(
            &[
                "connection",
                "edit",
                "Jira",
                "--name",
                "Jira renamed",
                "--api-token-stdin",
                "--no-test",
                "-o",
                "json",
            ],
            Some("token-three\n"),
        )
        .ok()
        .json();
    assert_eq!(renamed["rateLimitAutoRecover"], false);
    assert_eq!(renamed["rateLimitMaxRetries"], 2);

    let out = env
        .run(
            &[
                "connection",
                "edit",
                "Jira renamed",
                "--rate-limit-auto-recover",
                "sometimes",
                "--rate-limit-max-retries",
                "11",
                "--api-token-stdin",
                "--no-test",
            ],
            Some("token-four\n"),
        )
        .fails_with(3);
    assert!(
        out.stderr.contains("Rate-limit auto-recover"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("from 0 to 10"), "{}", out.stderr);
}

/// `--api-token VALUE` is refused by `create` and `edit` before anything is read, stored or
/// sent: the value would already be in shell history and the process list, and the refusal
/// never repeats it.
#[test]
fn api_token_as_argument_value_is_refused() {
    let env = Env::new();
    env.create_basic("Jira", "stored-token");
    env.sim.control().clear_requests();
    let before = env
        .run(&["connection", "show", "Jira", "-o", "json"], None)
        .ok()
        .json();
    let (email, _) = env.alice();
    let create = connection_create(
        "Other",
        "basic",
        &["--username", &email, "--api-token", "plain-token-arg"],
    );
    let edit = [
        "connection",
        "edit",
        "Jira",
        "--api-token",
        "plain-token-arg",
    ];
    for args in [create.as_slice(), edit.as_slice()] {
        let out = env.run(args, None).fails_with(2);
        assert!(out.stderr.contains("--api-token-stdin"), "{}", out.stderr);
        assert!(!out.stderr.contains("plain-token-arg"), "{}", out.stderr);
        assert!(!out.stdout.contains("plain-token-arg"), "{}", out.stdout);
    }
    let list = env
        .run(&["connection", "list", "-o", "json"], None)
        .ok()
        .json();
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
    let after = env
        .run(&["connection", "show", "Jira", "-o", "json"], None)
        .ok()
        .json();
    assert_eq!(after, before, "the stored token is untouched");
    assert!(
        env.sim.control().requests().is_empty(),
        "nothing reached the simulator"
    );
}
