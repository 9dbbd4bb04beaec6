//! `jiralink export …` and `jiralink run …` against the in-process simulator: every command
//! once, ad hoc exports in each format, and a run killed with SIGKILL then resumed.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::{Env, Output};

/// The issue ids `jql` matches, from a plain `POST /rest/api/3/search/jql` to the simulator.
pub(crate) fn search_ids(env: &Env, jql: &str) -> BTreeSet<String> {
    let (email, token) = env.alice();
    let url = format!("{}/rest/api/3/search/jql", env.sim.site_url("demo"));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let client =
            jiralink_atlassian::build_client(&jiralink_atlassian::HttpConfig::default()).unwrap();
        let mut ids = BTreeSet::new();
        let mut token_next: Option<String> = None;
        loop {
            let mut body = serde_json::json!({"jql": jql, "fields": ["id"], "maxResults": 100});
            if let Some(t) = &token_next {
                body["nextPageToken"] = Value::String(t.clone());
            }
            let page: Value = client
                .post(&url)
                .basic_auth(&email, Some(&token))
                .json(&body)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            for issue in page["issues"].as_array().unwrap() {
                ids.insert(issue["id"].as_str().unwrap().to_owned());
            }
            match page["nextPageToken"].as_str() {
                Some(t) if page["isLast"] != Value::Bool(true) => token_next = Some(t.to_owned()),
                _ => break,
            }
        }
        ids
    })
}

/// The ids of an NDJSON file, and its number of lines.
pub(crate) fn ndjson_ids(text: &str) -> (BTreeSet<String>, usize) {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let ids = lines
        .iter()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["id"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    (ids, lines.len())
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap()
}

#[test]
fn every_export_and_run_command_works_against_the_simulator() {
    let env = Env::new();
    env.create_alice("Jira");
    let created = env
        .run(
            &[
                "export",
                "create",
                "--name",
                "Demo",
                "--connection",
                "Jira",
                "--jql",
                "project = DEMO",
                "--fields",
                "summary,status",
                "--every",
                "60",
                "--time-zone",
                "Europe/Paris",
                "-o",
                "json",
            ],
            None,
        )
        .ok()
        .json();
    assert_eq!(created["name"], "Demo");
    assert_eq!(created["spec"]["jql"], "project = DEMO");
    assert_eq!(created["schedule"]["everyMinutes"], 60);
    assert_eq!(created["schedule"]["timeZone"], "Europe/Paris");
    assert!(created["nextRunAt"].is_string());

    let out = env
        .run(
            &[
                "export",
                "create",
                "--name",
                "demo",
                "--connection",
                "Jira",
                "--jql",
                "x = 1",
            ],
            None,
        )
        .fails_with(5);
    assert!(
        out.stderr.contains("jiralink export list"),
        "{}",
        out.stderr
    );
    let out = env
        .run(
            &[
                "export",
                "create",
                "--name",
                "Bad",
                "--connection",
                "Jira",
                "--cron",
                "61 * * * *",
            ],
            None,
        )
        .fails_with(3);
    assert!(out.stderr.contains("cron expression"), "{}", out.stderr);

    let list = env.run(&["export", "list"], None).ok();
    assert!(list.stdout.contains("Demo"), "{}", list.stdout);
    assert!(
        list.stdout.contains("every 60 minute(s) (Europe/Paris)"),
        "{}",
        list.stdout
    );
    let show = env.run(&["export", "show", "demo"], None).ok();
    assert!(show.stdout.contains("project = DEMO"), "{}", show.stdout);
    assert!(show.stdout.contains("summary, status"), "{}", show.stdout);

    let edited = env
        .run(
            &[
                "export",
                "edit",
                "Demo",
                "--no-schedule",
                "--format",
                "csv",
                "-o",
                "json",
            ],
            None,
        )
        .ok()
        .json();
    assert_eq!(edited["schedule"], Value::Null);
    assert_eq!(edited["spec"]["format"], "csv");
    assert_eq!(edited["version"], 2);
    env.run(&["export", "edit", "Demo", "--format", "ndjson"], None)
        .ok();

    // A run into the database, then its output downloaded.
    let run = env
        .run(&["export", "run", "Demo", "-o", "json"], None)
        .ok()
        .json();
    assert_eq!(run["state"], "succeeded");
    assert_eq!(run["stats"]["records"]["issues"], 40);
    let id = run["id"].as_str().unwrap().to_owned();
    let downloaded = env.run(&["run", "output", &id], None).ok();
    let expected = search_ids(&env, "project = DEMO");
    assert_eq!(ndjson_ids(&downloaded.stdout), (expected.clone(), 40));
    let file = env.path().join("downloaded.ndjson");
    env.run(
        &["run", "output", &id, "--output", file.to_str().unwrap()],
        None,
    )
    .ok();
    assert_eq!(read(&file), downloaded.stdout);

    // A run into a file, with the summary in table form.
    let file = env.path().join("demo.ndjson");
    let out = env
        .run(
            &["export", "run", "Demo", "--output", file.to_str().unwrap()],
            None,
        )
        .ok();
    assert!(
        out.stdout.contains("succeeded: 40 record(s)"),
        "{}",
        out.stdout
    );
    assert_eq!(ndjson_ids(&read(&file)), (expected.clone(), 40));
    // --stdout: the records on stdout, the summary on stderr.
    let out = env.run(&["export", "run", "Demo", "--stdout"], None).ok();
    assert_eq!(ndjson_ids(&out.stdout), (expected, 40));
    assert!(out.stderr.contains("succeeded"), "{}", out.stderr);

    let runs = env.run(&["run", "list", "-o", "json"], None).ok().json();
    assert_eq!(runs.as_array().unwrap().len(), 3);
    let table = env.run(&["run", "list", "--export", "Demo"], None).ok();
    assert!(table.stdout.contains("succeeded"), "{}", table.stdout);
    let shown = env.run(&["run", "show", &id], None).ok();
    assert!(shown.stdout.contains("issues 40"), "{}", shown.stdout);
    assert!(shown.stdout.contains("Pages"), "{}", shown.stdout);
    // Cancelling a run that has ended shows it as it is.
    let cancelled = env
        .run(&["run", "cancel", &id, "-o", "json"], None)
        .ok()
        .json();
    assert_eq!(cancelled["state"], "succeeded");
    env.run(&["run", "show", "not-a-run"], None).fails_with(4);

    // The connection is used: its deletion is refused with the export's name.
    let out = env
        .run(
            &["connection", "delete", "Jira", "--yes", "-o", "json"],
            None,
        )
        .fails_with(5);
    let error: Value = serde_json::from_str(&out.stderr).unwrap();
    assert_eq!(error["error"]["code"], "connection_in_use");
    assert!(error["error"]["message"].as_str().unwrap().contains("Demo"));

    env.run(&["export", "delete", "Demo"], None).fails_with(2);
    env.run(&["export", "delete", "Demo", "--yes"], None).ok();
    env.run(&["export", "show", "Demo"], None).fails_with(4);
    env.run(&["connection", "delete", "Jira", "--yes"], None)
        .ok();
}

#[test]
fn ad_hoc_exports_write_each_format() {
    let env = Env::new();
    env.create_alice("Jira");
    let expected = search_ids(&env, "project = MKT");
    assert_eq!(expected.len(), 16);

    let ndjson = env.path().join("mkt.ndjson");
    let out = env
        .run(
            &[
                "export",
                "issues",
                "--connection",
                "Jira",
                "--jql",
                "project = MKT",
                "--output",
                ndjson.to_str().unwrap(),
            ],
            None,
        )
        .ok();
    assert!(
        out.stdout.contains("succeeded: 16 record(s)"),
        "{}",
        out.stdout
    );
    assert_eq!(ndjson_ids(&read(&ndjson)), (expected.clone(), 16));

    let array = env.path().join("mkt.json");
    env.run(
        &[
            "export",
            "issues",
            "--connection",
            "Jira",
            "--jql",
            "project = MKT",
            "--format",
            "json-array",
            "--output",
            array.to_str().unwrap(),
        ],
        None,
    )
    .ok();
    let parsed: Value = serde_json::from_str(&read(&array)).unwrap();
    let ids: BTreeSet<String> = parsed
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids, expected);

    let csv = env.path().join("mkt.csv");
    env.run(
        &[
            "export",
            "issues",
            "--connection",
            "Jira",
            "--jql",
            "project = MKT",
            "--fields",
            "summary,status",
            "--format",
            "csv",
            "--output",
            csv.to_str().unwrap(),
        ],
        None,
    )
    .ok();
    let text = read(&csv);
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    assert!(
        header.contains("Summary") || header.contains("summary"),
        "{header}"
    );
    assert_eq!(lines.filter(|l| !l.is_empty()).count(), 16, "{text}");

    // Without a file the records go to stdout, the summary to stderr; JSON summary too.
    let out = env
        .run(
            &[
                "export",
                "issues",
                "--connection",
                "Jira",
                "--jql",
                "project = MKT",
                "--limit",
                "5",
                "-o",
                "json",
            ],
            None,
        )
        .ok();
    assert_eq!(ndjson_ids(&out.stdout).1, 5);
    let summary: Value = serde_json::from_str(&out.stderr).unwrap();
    assert_eq!(summary["stats"]["records"]["issues"], 5);

    // Another resource.
    let out = env
        .run(&["export", "projects", "--connection", "Jira"], None)
        .ok();
    let projects: Vec<Value> = out
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(projects.iter().any(|p| p["key"] == "MKT"), "{}", out.stdout);

    // A file only where records are written.
    env.run(&["connection", "list", "--output", "x.txt"], None)
        .fails_with(2);
    // An offline or unknown connection.
    env.run(
        &[
            "export",
            "issues",
            "--connection",
            "nope",
            "--jql",
            "project = MKT",
        ],
        None,
    )
    .fails_with(4);
}

/// The interval of a poll loop (each loop has its own deadline); what it waits for is
/// checked after every pause.
pub(crate) fn pause(interval: Duration) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    runtime.block_on(async { tokio::time::sleep(interval).await });
}

/// The export's runs, as `run list -o json` shows them.
fn runs(env: &Env) -> Vec<Value> {
    let out = Output::of(env.cmd().args(["run", "list", "-o", "json"]));
    if out.code != 0 {
        return Vec::new();
    }
    out.json().as_array().cloned().unwrap_or_default()
}

#[test]
fn a_run_killed_with_sigkill_is_resumed_and_its_file_holds_every_issue_once() {
    // Several hundred issues, read 100 a page by a connection that sends one request at a
    // time.
    let mut env = medium_env_with_jira();
    // A short lease, so the killed run's lease runs out within the test.
    env.extra_env
        .push(("JIRALINK_EXPORTS__LEASE".to_owned(), "10s".to_owned()));
    let jql = "project = OPS";
    env.run(
        &[
            "export",
            "create",
            "--name",
            "All",
            "--connection",
            "Jira",
            "--jql",
            jql,
        ],
        None,
    )
    .ok();
    // Slow pages, so the kill lands in the middle.
    env.sim
        .control()
        .update_knobs(|k| k.latency_ms = 300)
        .unwrap();
    let file = env.path().join("all.ndjson");
    let mut child = env
        .std_cmd()
        .args(["export", "run", "All", "--output", file.to_str().unwrap()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let pages = runs(&env)
            .first()
            .and_then(|r| r["stats"]["pages"].as_u64())
            .unwrap_or(0);
        if pages >= 2 {
            break;
        }
        assert!(Instant::now() < deadline, "no two checkpoints in time");
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run ended before the kill"
        );
        pause(Duration::from_millis(50));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let killed = runs(&env)[0].clone();
    assert_eq!(killed["state"], "running");
    let written = std::fs::metadata(&file).unwrap().len();
    assert!(written > 0);

    // Run again: refused while the dead run's lease lasts, then it resumes that run.
    env.sim
        .control()
        .update_knobs(|k| k.latency_ms = 0)
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let resumed = loop {
        let out = env.run(
            &[
                "export",
                "run",
                "All",
                "--output",
                file.to_str().unwrap(),
                "-o",
                "json",
            ],
            None,
        );
        if out.code == 0 {
            break out.json();
        }
        assert_eq!(
            out.code, 5,
            "stdout: {}\nstderr: {}",
            out.stdout, out.stderr
        );
        assert!(out.stderr.contains("already running"), "{}", out.stderr);
        assert!(Instant::now() < deadline, "the lease never ran out");
        pause(Duration::from_millis(250));
    };
    assert_eq!(
        resumed["id"], killed["id"],
        "the interrupted run is the one resumed"
    );
    assert_eq!(resumed["state"], "succeeded");
    assert_eq!(resumed["resumed"], 1);
    let expected = search_ids(&env, jql);
    assert!(expected.len() > 300, "{}", expected.len());
    assert_eq!(ndjson_ids(&read(&file)), (expected.clone(), expected.len()));
    assert_eq!(runs(&env).len(), 1, "no second run");
}

/// A medium site behind a connection "Jira" at concurrency 1.
fn medium_env_with_jira() -> Env {
    let env = Env::with_sim(jiralink_sim::SimConfig {
        size: jiralink_sim::DataSize::Medium,
        ..jiralink_sim::SimConfig::for_tests()
    });
    let (email, token) = env.alice();
    env.run(
        &crate::common::connection_create(
            "Jira",
            "basic",
            &[
                "--username",
                &email,
                "--api-token-stdin",
                "--concurrency-level",
                "1",
            ],
        ),
        Some(&token),
    )
    .ok();
    env
}

/// Starts `args` with slow pages and waits until its run has checkpointed a page, so that a
/// signal lands in the middle of the run.
fn spawn_until_a_checkpoint(env: &Env, args: &[&str]) -> std::process::Child {
    env.sim
        .control()
        .update_knobs(|k| k.latency_ms = 300)
        .unwrap();
    let mut child = env
        .std_cmd()
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let pages = runs(env)
            .first()
            .and_then(|r| r["stats"]["pages"].as_u64())
            .unwrap_or(0);
        if pages >= 1 {
            return child;
        }
        assert!(Instant::now() < deadline, "no checkpoint in time");
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run ended before the signal"
        );
        pause(Duration::from_millis(50));
    }
}

fn interrupt(child: &mut std::process::Child) -> Option<i32> {
    let sent = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    child.wait().unwrap().code()
}

#[test]
fn ctrl_c_cancels_an_ad_hoc_run_and_closes_its_output() {
    let env = medium_env_with_jira();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("ops.json");
    let path = file.to_str().unwrap().to_owned();
    let mut child = spawn_until_a_checkpoint(
        &env,
        &[
            "export",
            "issues",
            "--connection",
            "Jira",
            "--jql",
            "project = OPS",
            "--format",
            "json-array",
            "--output",
            &path,
        ],
    );
    assert_eq!(interrupt(&mut child), Some(130));
    let run = runs(&env)[0].clone();
    assert_eq!(run["state"], "cancelled");
    assert_eq!(run["exportId"], Value::Null);
    // What was written is one closed JSON array, each record once.
    let written: Vec<Value> = serde_json::from_str(&read(&file)).unwrap();
    let ids: BTreeSet<&str> = written.iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert!(!written.is_empty());
    assert_eq!(ids.len(), written.len());
    assert!(written.len() < search_ids(&env, "project = OPS").len());
}

#[test]
fn ctrl_c_cancels_the_run_and_gives_its_lease_back() {
    let env = medium_env_with_jira();
    env.run(
        &[
            "export",
            "create",
            "--name",
            "All",
            "--connection",
            "Jira",
            "--jql",
            "project = OPS",
        ],
        None,
    )
    .ok();
    let mut child = spawn_until_a_checkpoint(&env, &["export", "run", "All"]);
    assert_eq!(interrupt(&mut child), Some(130));
    let id = runs(&env)[0]["id"].as_str().unwrap().to_owned();
    let shown = env
        .run(&["run", "show", &id, "-o", "json"], None)
        .ok()
        .json();
    assert_eq!(shown["state"], "cancelled");
    // The lease was given back: the next run starts at once, afresh.
    env.sim
        .control()
        .update_knobs(|k| k.latency_ms = 0)
        .unwrap();
    let next = env
        .run(&["export", "run", "All", "-o", "json"], None)
        .ok()
        .json();
    assert_ne!(next["id"], shown["id"]);
    assert_eq!(next["state"], "succeeded");
}
