use crate::common::{Env, connection_create};

#[test]
fn create_list_show_edit_delete() {
    let env = Env::new();
    let created = env.create_client("Atlassian app", "s3cret-value");
    assert_eq!(created["name"], "Atlassian app");
    assert_eq!(created["clientId"], "client-abc");
    assert_eq!(created["clientSecret"]["set"], true);
    assert_eq!(
        created["callbackUrl"],
        "http://127.0.0.1:8080/connection/oauth2callback"
    );

    let listed = env
        .run(&["oauth-client", "list", "-o", "json"], None)
        .ok()
        .json();
    assert_eq!(listed.as_array().unwrap().len(), 1);

    let table = env
        .run(&["oauth-client", "show", "atlassian APP"], None)
        .ok();
    assert!(table.stdout.contains("Callback URL"));
    assert!(table.stdout.contains("set, updated"));

    // The secret must be entered again on edit.
    let out = env
        .run(
            &[
                "oauth-client",
                "edit",
                "Atlassian app",
                "--client-id",
                "new-id",
            ],
            None,
        )
        .fails_with(3);
    assert!(out.stderr.contains("Client secret"), "{}", out.stderr);
    let unchanged = env
        .run(
            &["oauth-client", "show", "Atlassian app", "-o", "json"],
            None,
        )
        .ok()
        .json();
    assert_eq!(unchanged["clientId"], "client-abc");

    let edited = env
        .run(
            &[
                "oauth-client",
                "edit",
                "Atlassian app",
                "--client-id",
                "new-id",
                "--name",
                "Renamed app",
                "--client-secret-stdin",
                "-o",
                "json",
            ],
            Some("another-secret\n"),
        )
        .ok()
        .json();
    assert_eq!(edited["clientId"], "new-id");
    assert_eq!(edited["name"], "Renamed app");

    env.run(&["oauth-client", "delete", "Renamed app"], None)
        .fails_with(2);
    env.run(&["oauth-client", "delete", "Renamed app", "--yes"], None)
        .ok();
    env.run(&["oauth-client", "show", "Renamed app"], None)
        .fails_with(4);
}

#[test]
fn deleting_a_client_in_use_lists_its_connections() {
    let env = Env::new();
    env.create_client("App", "secret-1");
    for name in ["Jira one", "Jira two"] {
        env.run(
            &connection_create(
                name,
                "oauth2",
                &["--oauth-client", "App", "--scopes", "read:jira-work"],
            ),
            None,
        )
        .ok();
    }
    let out = env
        .run(&["oauth-client", "delete", "App", "--yes"], None)
        .fails_with(5);
    assert!(out.stderr.contains("Jira one"), "{}", out.stderr);
    assert!(out.stderr.contains("Jira two"), "{}", out.stderr);
    let json = env
        .run(
            &["oauth-client", "delete", "App", "--yes", "-o", "json"],
            None,
        )
        .fails_with(5);
    let body: serde_json::Value =
        serde_json::from_str(json.stderr.trim().lines().last().unwrap()).unwrap();
    assert_eq!(body["error"]["code"], "oauth_client_in_use");
    let shown = env
        .run(&["oauth-client", "show", "App", "-o", "json"], None)
        .ok()
        .json();
    assert_eq!(shown["usedBy"].as_array().unwrap().len(), 2);
}

#[test]
fn client_names_are_unique_without_regard_to_case() {
    let env = Env::new();
    env.create_client("App", "secret-1");
    let out = env
        .run(
            &[
                "oauth-client",
                "create",
                "--name",
                " app ",
                "--client-id",
                "x",
                "--client-secret-stdin",
            ],
            Some("secret-2"),
        )
        .fails_with(3);
    assert!(out.stderr.contains("already"), "{}", out.stderr);
}

#[test]
fn secret_as_argument_value_is_refused() {
    let env = Env::new();
    let out = env
        .run(
            &[
                "oauth-client",
                "create",
                "--name",
                "A",
                "--client-id",
                "x",
                "--client-secret",
                "plain-secret-arg",
            ],
            None,
        )
        .fails_with(2);
    assert!(out.stderr.contains("--client-secret-stdin"));
    assert!(!out.stderr.contains("plain-secret-arg"));
}
