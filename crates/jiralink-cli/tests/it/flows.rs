//! `jiralink flow …`: a saved export feeding a saved import between two sites, run twice
//! (the second run sends nothing: nothing changed), listed, and refused when its parts do not
//! make a flow.

use crate::common::Env;

pub(crate) fn env_with_two_sites() -> Env {
    let env = Env::with_sim(jiralink_sim::SimConfig::default());
    env.create_alice("Jira");
    let (email, token) = env.alice();
    env.run(
        &[
            "connection",
            "create",
            "--name",
            "Acme",
            "--api-type",
            "cloud-platform",
            "--subdomain",
            "acme",
            "--auth-type",
            "basic",
            "--username",
            &email,
            "--api-token-stdin",
        ],
        Some(&token),
    )
    .ok();
    env
}

/// The flow `demo-to-acme`: the export `demo-mkt` (of `MKT` on the Basic connection "Jira")
/// into the import `acme-mkt` (on "Acme", mapped by [`COPY`]), with `import_args` added to
/// the import's.
pub(crate) fn create_demo_to_acme(env: &Env, import_args: &[&str]) {
    env.run(
        &[
            "export",
            "create",
            "--name",
            "demo-mkt",
            "--connection",
            "Jira",
            "--jql",
            "project = MKT",
        ],
        None,
    )
    .ok();
    let map = env.path().join("copy.toml");
    std::fs::write(&map, COPY).unwrap();
    env.run(
        &[
            "import",
            "create",
            "--name",
            "acme-mkt",
            "--connection",
            "Acme",
            "--map",
            map.to_str().unwrap(),
        ]
        .into_iter()
        .chain(import_args.iter().copied())
        .collect::<Vec<_>>(),
        None,
    )
    .ok();
    env.run(
        &[
            "flow",
            "create",
            "--name",
            "demo-to-acme",
            "--export",
            "demo-mkt",
            "--import",
            "acme-mkt",
        ],
        None,
    )
    .ok();
}

pub(crate) const COPY: &str = r#"
operation = "upsert"
project = "MKT"
issue_type = "Task"
[external_id]
source = "key"
label_prefix = "from-demo-"
[fields]
summary = "fields.summary"
"#;

#[test]
fn a_flow_copies_a_project_to_another_site_once() {
    let env = env_with_two_sites();
    env.run(
        &[
            "export",
            "create",
            "--name",
            "demo-mkt",
            "--connection",
            "Jira",
            "--jql",
            "project = MKT",
            "--comments",
        ],
        None,
    )
    .ok();
    let map = env.path().join("copy.toml");
    std::fs::write(&map, COPY).unwrap();
    env.run(
        &[
            "import",
            "create",
            "--name",
            "acme-mkt",
            "--connection",
            "Acme",
            "--map",
            map.to_str().unwrap(),
        ],
        None,
    )
    .ok();
    let created = env
        .run(
            &[
                "flow",
                "create",
                "--name",
                "demo-to-acme",
                "--export",
                "demo-mkt",
                "--import",
                "acme-mkt",
                "--every",
                "60",
                "-o",
                "json",
            ],
            None,
        )
        .ok()
        .json();
    assert_eq!(created["schedule"]["everyMinutes"], 60);
    assert!(created["nextRunAt"].is_string(), "{created}");

    let first = env
        .run(&["flow", "run", "demo-to-acme", "-o", "json"], None)
        .ok()
        .json();
    assert_eq!(first["state"], "succeeded", "{first}");
    let exported = first["stats"]["exported"].as_u64().unwrap();
    assert!(exported > 0);
    assert_eq!(
        first["stats"]["created"].as_u64(),
        Some(exported),
        "{first}"
    );
    assert_eq!(first["stats"]["linked"].as_u64(), Some(exported), "{first}");

    // Nothing changed: everything is read again and nothing is sent.
    let second = env
        .run(&["flow", "run", "demo-to-acme", "-o", "json"], None)
        .ok()
        .json();
    assert_eq!(
        second["stats"]["unchanged"].as_u64(),
        Some(exported),
        "{second}"
    );
    assert_eq!(second["stats"]["sent"], 0, "{second}");

    let runs = env
        .run(&["flow", "runs", "demo-to-acme", "-o", "json"], None)
        .ok()
        .json();
    assert_eq!(runs.as_array().unwrap().len(), 2);
    let table = env.run(&["flow", "list"], None).ok();
    assert!(table.stdout.contains("demo-to-acme"), "{}", table.stdout);
    assert!(
        table.stdout.contains("every 60 minute(s) (UTC)"),
        "{}",
        table.stdout
    );

    // The export cannot go while the flow uses it; the flow can.
    let refused = env
        .run(&["export", "delete", "demo-mkt", "--yes"], None)
        .fails_with(5);
    assert!(
        refused.stderr.contains("flow \"demo-to-acme\""),
        "{}",
        refused.stderr
    );
    env.run(&["flow", "delete", "demo-to-acme", "--yes"], None)
        .ok();
    env.run(&["export", "delete", "demo-mkt", "--yes"], None)
        .ok();
}

#[test]
fn parts_that_cannot_make_a_flow_are_refused_with_every_reason() {
    let env = env_with_two_sites();
    env.run(
        &[
            "export",
            "create",
            "--name",
            "csv",
            "--connection",
            "Jira",
            "--format",
            "csv",
            "--kind",
            "delta",
            "--deletions",
        ],
        None,
    )
    .ok();
    let map = env.path().join("create.toml");
    std::fs::write(
        &map,
        "operation = \"create\"\nproject = \"MKT\"\nissue_type = \"Task\"\n[fields]\nsummary = \"fields.summary\"\n",
    )
    .unwrap();
    env.run(
        &[
            "import",
            "create",
            "--name",
            "plain",
            "--connection",
            "Acme",
            "--map",
            map.to_str().unwrap(),
        ],
        None,
    )
    .ok();
    let out = env
        .run(
            &[
                "flow", "create", "--name", "f", "--export", "csv", "--import", "plain",
            ],
            None,
        )
        .fails_with(3);
    for reason in [
        "writes CSV",
        "sends deletions",
        "is not an upsert",
        "has no [external_id]",
    ] {
        assert!(out.stderr.contains(reason), "{reason}: {}", out.stderr);
    }
    let ignoring = env.path().join("ignoring.toml");
    std::fs::write(
        &ignoring,
        COPY.replace("[external_id]", "ignore_existing = true\n[external_id]"),
    )
    .unwrap();
    env.run(
        &[
            "import",
            "create",
            "--name",
            "ignoring",
            "--connection",
            "Acme",
            "--map",
            ignoring.to_str().unwrap(),
        ],
        None,
    )
    .ok();
    env.run(
        &[
            "export",
            "create",
            "--name",
            "mkt",
            "--connection",
            "Jira",
            "--jql",
            "project = MKT",
        ],
        None,
    )
    .ok();
    let out = env
        .run(
            &[
                "flow", "create", "--name", "f", "--export", "mkt", "--import", "ignoring",
            ],
            None,
        )
        .fails_with(3);
    assert!(
        out.stderr.contains("ignores existing issues"),
        "{}",
        out.stderr
    );
    env.run(&["flow", "list", "-o", "json"], None).ok();
}
