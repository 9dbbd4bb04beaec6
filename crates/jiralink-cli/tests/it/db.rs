//! `jiralink db …` and `jiralink job …`: the schema's state, migrations, copying the embedded
//! database into PostgreSQL, and the background jobs.

use jiralink_store::TestSchema;

use crate::common::Env;

const MASTER_KEY: &str = "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100";

#[test]
fn status_and_migrate_say_where_the_schema_stands() {
    let env = Env::new();
    // A data directory nothing has opened yet: everything is pending, and nothing is created.
    let out = env.run(&["db", "status"], None).fails_with(7);
    assert!(
        out.stdout.contains("backend") && out.stdout.contains("sqlite"),
        "{}",
        out.stdout
    );
    assert!(
        out.stderr.contains("migration(s) pending"),
        "{}",
        out.stderr
    );
    assert!(!env.data_dir().join("jiralink.db").exists());
    let status = env
        .run(&["db", "status", "-o", "json"], None)
        .fails_with(7)
        .json();
    assert_eq!(status["version"], serde_json::Value::Null);
    let latest = status["latest"].as_i64().unwrap();
    // Every migration is pending; versions need not be contiguous (10 is not in this build).
    let pending: Vec<i64> = status["pending"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["version"].as_i64().unwrap())
        .collect();
    assert_eq!(pending.last().copied(), Some(latest));
    assert!(pending.len() >= 9, "{pending:?}");

    let out = env.run(&["db", "migrate"], None).ok();
    assert!(
        out.stderr
            .contains(&format!("Applied {} migration(s)", pending.len())),
        "{}",
        out.stderr
    );
    let status = env.run(&["db", "status", "-o", "json"], None).ok().json();
    assert_eq!(status["version"], latest);
    assert!(status["pending"].as_array().unwrap().is_empty());
    let out = env.run(&["db", "migrate"], None).ok();
    assert!(out.stderr.contains("Nothing to apply"), "{}", out.stderr);

    // A URL of another kind is refused, and a password in a URL is never shown.
    let out = env
        .run(
            &["db", "status", "--database", "mysql://u:s3cret@db/x"],
            None,
        )
        .fails_with(7);
    assert!(!out.stderr.contains("s3cret"), "{}", out.stderr);
    assert!(out.stderr.contains("sqlite://") && out.stderr.contains("postgres://"));
}

#[test]
fn jobs_are_listed_run_now_and_their_runs_kept() {
    let env = Env::new();
    let jobs = env.run(&["job", "list", "-o", "json"], None).ok().json();
    let keys: Vec<&str> = jobs
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["key"].as_str().unwrap())
        .collect();
    assert_eq!(keys.len(), 4, "{jobs}");
    assert!(keys.contains(&"notifications.dispatch"), "{jobs}");
    assert!(keys.contains(&"connections.retest") && keys.contains(&"connections.keep_alive"));
    assert!(keys.contains(&"exports.cleanup"), "{jobs}");
    env.run(&["job", "run", "connections.retest"], None).ok();
    let out = env.run(&["job", "run", "nope"], None).fails_with(2);
    assert!(out.stderr.contains("connections.retest"), "{}", out.stderr);
    // `connection watch --once` runs a round directly; the job runs are kept by a worker
    // (`serve`, or `connection watch` without --once), so there is none yet.
    let runs = env.run(&["job", "runs", "-o", "json"], None).ok().json();
    assert_eq!(runs, serde_json::json!([]));
}

#[test]
fn the_embedded_database_is_copied_into_postgres_with_its_secrets_still_sealed() {
    let Some(base) = TestSchema::base_url() else {
        return;
    };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let schema = runtime.block_on(TestSchema::create(&base)).unwrap();
    let mut env = Env::new();
    env.extra_env
        .push(("JIRALINK_MASTER_KEY".to_owned(), MASTER_KEY.to_owned()));
    env.create_alice("Jira alice");
    env.create_client("Atlassian app", "client-secret-value");
    let sqlite = env.data_dir().join("jiralink.db");

    let out = env
        .run(
            &[
                "db",
                "copy",
                "--from",
                sqlite.to_str().unwrap(),
                "--to",
                schema.url(),
            ],
            None,
        )
        .ok();
    assert!(out.stdout.contains("connections"), "{}", out.stdout);
    assert!(out.stdout.contains("row count matches"), "{}", out.stdout);
    // jiralink on PostgreSQL, with the same master key: the connection works as it did.
    let listed = env
        .run(
            &[
                "connection",
                "list",
                "--database",
                schema.url(),
                "-o",
                "json",
            ],
            None,
        )
        .ok()
        .json();
    assert_eq!(listed[0]["name"], "Jira alice");
    env.run(
        &[
            "connection",
            "test",
            "Jira alice",
            "--database",
            schema.url(),
        ],
        None,
    )
    .ok();
    let status = env
        .run(
            &["db", "status", "--database", schema.url(), "-o", "json"],
            None,
        )
        .ok()
        .json();
    assert_eq!(status["backend"], "postgres");

    // Into a database that holds rows: refused, unless forced.
    let args = [
        "db",
        "copy",
        "--from",
        sqlite.to_str().unwrap(),
        "--to",
        schema.url(),
    ];
    let out = env.run(&args, None).fails_with(5);
    assert!(out.stderr.contains("not empty"), "{}", out.stderr);
    let mut forced = args.to_vec();
    forced.push("--force");
    env.run(&forced, None).ok();
    drop(schema);
}

#[cfg(unix)]
#[test]
fn the_database_is_private_even_in_a_data_directory_others_can_read() {
    use std::os::unix::fs::PermissionsExt as _;
    let env = Env::new();
    std::fs::create_dir_all(env.data_dir()).unwrap();
    std::fs::set_permissions(env.data_dir(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = env.create_alice("Private");
    assert_eq!(out["name"], "Private");
    let again = env.run(&["connection", "list"], None).ok();
    assert!(
        again.stderr.contains("can be read by other users") && again.stderr.contains("chmod 700"),
        "{}",
        again.stderr
    );
    let mut checked = 0;
    for file in ["jiralink.db", "jiralink.db-wal", "jiralink.db-shm"] {
        if let Ok(meta) = std::fs::metadata(env.data_dir().join(file)) {
            assert_eq!(meta.permissions().mode() & 0o777, 0o600, "{file}");
            checked += 1;
        }
    }
    assert!(checked >= 1, "no database file in the data directory");
    // Once restricted, no warning.
    std::fs::set_permissions(env.data_dir(), std::fs::Permissions::from_mode(0o700)).unwrap();
    let quiet = env.run(&["connection", "list"], None).ok();
    assert!(!quiet.stderr.contains("other users"), "{}", quiet.stderr);
}

/// A database another master key has opened records that key's id: `db copy` into it is
/// refused and leaves it as it was. Replaced with `--force`, the target holds the source's
/// sealed secrets and key id, so only the source's key opens it; the other key is refused
/// naming the source's.
#[test]
fn a_copy_into_a_database_of_another_key_is_refused() {
    const OTHER_KEY: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
    let mut env = Env::new();
    env.extra_env
        .push(("JIRALINK_MASTER_KEY".to_owned(), MASTER_KEY.to_owned()));
    env.create_alice("Jira alice");
    let source_key = env.run(&["key", "status", "-o", "json"], None).ok().json()["activeKeyId"]
        .as_str()
        .unwrap()
        .to_owned();
    let source = env.data_dir().join("jiralink.db");
    let target = format!("sqlite://{}", env.path().join("target.db").display());
    let with_other_key = |args: &[&str]| {
        let mut cmd = env.cmd();
        cmd.env("JIRALINK_MASTER_KEY", OTHER_KEY).args(args);
        crate::common::Output::of(&mut cmd)
    };
    let listed = with_other_key(&["connection", "list", "--database", &target, "-o", "json"])
        .ok()
        .json();
    assert_eq!(listed, serde_json::json!([]));

    let out = env
        .run(
            &[
                "db",
                "copy",
                "--from",
                source.to_str().unwrap(),
                "--to",
                &target,
            ],
            None,
        )
        .fails_with(5);
    assert!(out.stderr.contains("--force"), "{}", out.stderr);
    let listed = with_other_key(&["connection", "list", "--database", &target, "-o", "json"])
        .ok()
        .json();
    assert_eq!(listed, serde_json::json!([]), "the target is unchanged");

    env.run(
        &[
            "db",
            "copy",
            "--from",
            source.to_str().unwrap(),
            "--to",
            &target,
            "--force",
        ],
        None,
    )
    .ok();
    let refused = with_other_key(&["connection", "list", "--database", &target]).fails_with(6);
    assert!(refused.stderr.contains(&source_key), "{}", refused.stderr);
    let listed = env
        .run(
            &["connection", "list", "--database", &target, "-o", "json"],
            None,
        )
        .ok()
        .json();
    assert_eq!(listed[0]["name"], "Jira alice");
}

/// A database URL's password never reaches the output or the log, at any log level, whether
/// the database cannot be reached or the URL is refused, in the user info or the query.
#[test]
fn a_database_urls_password_is_never_shown() {
    let env = Env::new();
    env.create_basic("Jira", "tok");
    let source = env.data_dir().join("jiralink.db");
    let source = source.to_str().unwrap();
    for url in [
        "postgres://user:SECRETPW@127.0.0.1:1/x",
        "postgres://user@127.0.0.1:1/x?password=SECRETPW",
        "postgresql://user:SECRETPW@127.0.0.1:1/x?sslmode=disable",
    ] {
        let commands: [&[&str]; 5] = [
            &["connection", "list", "--database", url],
            &["db", "status", "--database", url, "-o", "json"],
            &["db", "migrate", "--database", url],
            &["db", "copy", "--from", source, "--to", url],
            &[
                "db",
                "copy",
                "--from",
                url,
                "--to",
                "sqlite:///nonexistent/x.db",
            ],
        ];
        for args in commands {
            let mut cmd = env.cmd();
            // Nothing listens on port 1: one second of waiting for a connection is enough.
            cmd.env("JIRALINK_DATABASE__ACQUIRE_TIMEOUT_SECS", "1")
                .args(["--log-level", "trace"])
                .args(args);
            let out = crate::common::Output::of(&mut cmd);
            assert_ne!(out.code, 0, "{args:?}");
            for text in [&out.stdout, &out.stderr] {
                assert!(!text.contains("SECRETPW"), "{args:?}: {text}");
            }
            assert!(
                out.stderr.contains("****") || out.stdout.contains("****"),
                "{args:?} names the database with its password masked: {}",
                out.stderr
            );
        }
    }
}
