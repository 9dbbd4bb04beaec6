//! `jiralink import …` against the in-process simulator: every record accounted for, exit
//! codes, a dry run, mapping problems before anything is sent, and imports killed with SIGKILL
//! at many points — including between Jira's `201` and the ledger write — that create no issue
//! twice when run again.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::{Env, Output};

const MAPPING: &str = r#"
operation = "upsert"
project = "DEMO"
issue_type = "Story"

[external_id]
source = "id"
label_prefix = "ext-"

[fields]
summary = "title"
"Story Points" = "points"
labels = { source = "tags", split = ";" }
description = { source = "notes", format = "markdown" }
"#;

/// The simulator on the system clock: rate-limit windows refill while the CLI waits in real
/// time.
fn env_with_jira() -> Env {
    let env = Env::with_sim(jiralink_sim::SimConfig::default());
    env.create_alice("Jira");
    env
}

fn records(n: usize, tag: &str) -> String {
    let mut out = String::from("id,title,points,tags,notes\n");
    for i in 0..n {
        out.push_str(&format!(
            "{tag}-{i},Record {i},{},batch-{tag},**note** {i}\n",
            i % 8
        ));
    }
    out
}

/// The external ids of the issues labelled `batch-{tag}`, with how many issues carry each.
fn imported(env: &Env, tag: &str) -> BTreeMap<String, usize> {
    let (email, token) = env.alice();
    let url = format!("{}/rest/api/3/search/jql", env.sim.site_url("demo"));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let client =
            jiralink_atlassian::build_client(&jiralink_atlassian::HttpConfig::default()).unwrap();
        let mut counts = BTreeMap::new();
        let mut next: Option<String> = None;
        loop {
            let mut body = serde_json::json!({
                "jql": format!("project = DEMO AND labels = \"batch-{tag}\""),
                "fields": ["labels"], "maxResults": 100
            });
            if let Some(t) = &next {
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
                for label in issue["fields"]["labels"].as_array().unwrap() {
                    if let Some(x) = label.as_str().and_then(|l| l.strip_prefix("ext-")) {
                        *counts.entry(x.to_owned()).or_default() += 1;
                    }
                }
            }
            match page["nextPageToken"].as_str() {
                Some(t) if page["isLast"] != true => next = Some(t.to_owned()),
                _ => break,
            }
        }
        counts
    })
}

fn results(path: &std::path::Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn import(env: &Env, input: &std::path::Path, extra: &[&str]) -> Output {
    let map = env.path().join("map.toml");
    if !map.exists() {
        std::fs::write(&map, MAPPING).unwrap();
    }
    let mut args = vec![
        "import",
        "issues",
        "--connection",
        "Jira",
        "--file",
        input.to_str().unwrap(),
        "--map",
        map.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    env.run(&args, None)
}

#[test]
fn every_record_ends_in_one_state_and_a_second_run_creates_nothing() {
    let env = env_with_jira();
    let input = env.path().join("in.csv");
    let mut text = records(60, "a");
    text.push_str("a-bad,Bad,many,batch-a,\n");
    std::fs::write(&input, text).unwrap();
    let out_file = env.path().join("results.ndjson");
    let out = import(&env, &input, &["--results", out_file.to_str().unwrap()]);
    assert_eq!(out.code, 12, "some records failed: {}", out.stderr);
    assert!(out.stderr.contains("60 created"), "{}", out.stderr);
    assert!(out.stderr.contains("1 failed"), "{}", out.stderr);
    let lines = results(&out_file);
    assert_eq!(lines.len(), 61);
    assert_eq!(lines[60]["line"], 62);
    assert_eq!(lines[60]["state"], "failed");
    assert_eq!(
        lines[60]["errors"]["Story Points"],
        "expected a number, found \"many\""
    );
    assert!(lines[..60].iter().all(|l| l["state"] == "created"));
    // Again, without the bad record: every issue found and updated, none created.
    std::fs::write(&input, records(60, "a")).unwrap();
    let out = import(&env, &input, &["-o", "json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let run = out.json();
    assert_eq!(run["stats"]["updated"], 60);
    assert_eq!(run["stats"]["created"], 0);
    let counts = imported(&env, "a");
    assert_eq!(counts.len(), 60);
    assert!(counts.values().all(|n| *n == 1), "{counts:?}");
    // The results are kept with the run.
    let id = run["id"].as_str().unwrap();
    let kept = env.run(&["run", "output", id], None).ok();
    assert_eq!(kept.stdout.lines().count(), 60);
    // And the run is listed.
    let runs = env.run(&["import", "runs", "-o", "json"], None).ok().json();
    assert_eq!(runs.as_array().unwrap().len(), 2);
}

#[test]
fn a_dry_run_sends_nothing_and_mapping_problems_come_first() {
    let env = env_with_jira();
    let input = env.path().join("in.csv");
    std::fs::write(&input, records(3, "d")).unwrap();
    let out = import(&env, &input, &["--dry-run"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let lines: Vec<Value> = out
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[0]["state"], "would-create");
    assert_eq!(lines[0]["request"]["fields"]["summary"], "Record 0");
    assert!(imported(&env, "d").is_empty());
    // A mapping that does not fit: every problem, exit code 3, no run recorded.
    let bad = env.path().join("bad.toml");
    std::fs::write(
        &bad,
        MAPPING.replace(
            "\"Story Points\" = \"points\"",
            "\"Story Pointz\" = \"points\"\nTeam = { const = \"Nobody\" }",
        ),
    )
    .unwrap();
    let out = env.run(
        &[
            "import",
            "issues",
            "--connection",
            "Jira",
            "--file",
            input.to_str().unwrap(),
            "--map",
            bad.to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert!(out.stderr.contains("Story Pointz"), "{}", out.stderr);
    assert!(
        out.stderr.contains("\"Nobody\" is not an allowed value"),
        "{}",
        out.stderr
    );
    let runs = env.run(&["import", "runs", "-o", "json"], None).ok().json();
    assert_eq!(runs.as_array().unwrap().len(), 0);
}

/// Waits until `done` holds, failing after a minute or when the child ends first (with what
/// it printed to `stderr`).
fn wait_for(
    child: &mut std::process::Child,
    stderr: &std::path::Path,
    what: &str,
    mut done: impl FnMut() -> bool,
) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !done() {
        assert!(Instant::now() < deadline, "{what}: not in time");
        if let Some(status) = child.try_wait().unwrap() {
            panic!(
                "{what}: the import ended first ({status}): {}",
                std::fs::read_to_string(stderr).unwrap_or_default()
            );
        }
        std::thread::yield_now();
    }
}

/// Writes the simulator has received: bulk creates and edits.
fn writes(env: &Env) -> usize {
    env.sim
        .control()
        .requests()
        .into_iter()
        .filter(|r| {
            (r.method == "POST" && r.path.ends_with("/issue/bulk"))
                || (r.method == "PUT" && r.path.contains("/issue/"))
        })
        .count()
}

#[test]
fn imports_killed_at_many_points_create_each_issue_once() {
    let env = env_with_jira();
    let input = env.path().join("in.csv");
    std::fs::write(&input, records(400, "k")).unwrap();
    let spawn = |extra: &[&str]| {
        let map = env.path().join("map.toml");
        if !map.exists() {
            std::fs::write(&map, MAPPING).unwrap();
        }
        env.std_cmd()
            .args([
                "import",
                "issues",
                "--connection",
                "Jira",
                "--file",
                input.to_str().unwrap(),
                "--map",
                map.to_str().unwrap(),
            ])
            .args(extra)
            .stdout(std::process::Stdio::null())
            .stderr(std::fs::File::create(env.path().join("stderr.txt")).unwrap())
            .spawn()
            .unwrap()
    };
    // Slow answers, so each kill lands inside a run.
    env.sim
        .control()
        .update_knobs(|k| k.latency_ms = 20)
        .unwrap();
    // Killed after 1, 14, 27, 40, 53 writes (bulk creates, then edits of what earlier runs
    // created) since its start.
    for k in 0..5 {
        let before = writes(&env);
        let mut child = spawn(&[]);
        wait_for(&mut child, &env.path().join("stderr.txt"), "writes", || {
            writes(&env) > before + 13 * k
        });
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
    }
    // Killed between Jira's 201 and the ledger write: the answer to a bulk create is lost
    // after Jira applied it, and the process dies while it waits to look the issues up.
    let control = env.sim.control();
    control.lose_next_matching(1, &[reqwest::Method::POST], Some("/issue/bulk"));
    let mut child = spawn(&["--search-lag", "600"]);
    wait_for(
        &mut child,
        &env.path().join("stderr.txt"),
        "a lost bulk create",
        || control.requests().iter().any(|r| r.lost),
    );
    child.kill().unwrap();
    child.wait().unwrap();
    env.sim
        .control()
        .update_knobs(|k| k.latency_ms = 0)
        .unwrap();
    // Stale ad hoc runs are left running by the killed processes; a run to the end settles
    // everything: the uncertain creates are looked up, nothing is created twice.
    let out_file = env.path().join("final.ndjson");
    let out = import(
        &env,
        &input,
        &[
            "--search-lag",
            "1",
            "--results",
            out_file.to_str().unwrap(),
            "-o",
            "json",
        ],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let run = out.json();
    assert_eq!(run["stats"]["read"], 400);
    assert!(
        run["stats"]["uncertainChecked"].as_u64().unwrap() >= 1,
        "{run}"
    );
    let lines = results(&out_file);
    assert_eq!(lines.len(), 400, "every record in the results");
    assert!(
        lines.iter().all(|l| matches!(
            l["state"].as_str(),
            Some("created" | "updated" | "skipped")
        ) && l["key"].is_string()),
        "each record names its issue"
    );
    let counts = imported(&env, "k");
    assert_eq!(counts.len(), 400, "every record has its issue");
    let doubled: Vec<_> = counts.iter().filter(|(_, n)| **n > 1).collect();
    assert!(doubled.is_empty(), "created twice: {doubled:?}");
}

#[test]
fn saved_imports_are_created_listed_edited_run_and_deleted() {
    let env = env_with_jira();
    let input = env.path().join("tickets.csv");
    std::fs::write(&input, records(5, "s")).unwrap();
    let map = env.path().join("map.toml");
    std::fs::write(&map, MAPPING).unwrap();
    let created = env
        .run(
            &[
                "import",
                "create",
                "--name",
                "Tickets",
                "--connection",
                "Jira",
                "--map",
                map.to_str().unwrap(),
                "--input",
                input.to_str().unwrap(),
                "-o",
                "json",
            ],
            None,
        )
        .ok()
        .json();
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(created["ledger"], format!("import:{id}"));
    // A bad mapping is refused with every problem; a taken name too.
    let bad = env.path().join("bad.toml");
    std::fs::write(&bad, "operation = \"create\"\n").unwrap();
    let out = env.run(
        &[
            "import",
            "create",
            "--name",
            "Other",
            "--connection",
            "Jira",
            "--map",
            bad.to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert!(
        out.stderr.contains("needs project") && out.stderr.contains("needs issue_type"),
        "{}",
        out.stderr
    );
    let out = env.run(
        &[
            "import",
            "create",
            "--name",
            "tickets",
            "--connection",
            "Jira",
            "--map",
            map.to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(out.code, 5, "{}", out.stderr);
    let list = env.run(&["import", "list", "-o", "json"], None).ok().json();
    assert_eq!(list.as_array().unwrap().len(), 1);
    // Run it: its own input file.
    let run = env
        .run(&["import", "run", "Tickets", "-o", "json"], None)
        .ok()
        .json();
    assert_eq!(run["stats"]["created"], 5);
    assert_eq!(run["importId"], id.as_str());
    let shown = env
        .run(&["import", "show", "Tickets", "-o", "json"], None)
        .ok()
        .json();
    assert_eq!(shown["lastRun"]["stats"]["created"], 5);
    // Edited to read another file; a run with --file reads that one.
    let other = env.path().join("more.csv");
    std::fs::write(&other, records(3, "t")).unwrap();
    let edited = env
        .run(
            &[
                "import",
                "edit",
                "Tickets",
                "--input",
                other.to_str().unwrap(),
                "-o",
                "json",
            ],
            None,
        )
        .ok()
        .json();
    assert_eq!(edited["version"], 2);
    let run = env
        .run(
            &[
                "import",
                "run",
                "Tickets",
                "--file",
                input.to_str().unwrap(),
                "-o",
                "json",
            ],
            None,
        )
        .ok()
        .json();
    assert_eq!(run["stats"]["updated"], 5);
    let run = env
        .run(&["import", "run", "Tickets", "-o", "json"], None)
        .ok()
        .json();
    assert_eq!(run["stats"]["created"], 3);
    // The connection is in use.
    let out = env.run(&["connection", "delete", "Jira", "--yes"], None);
    assert_eq!(out.code, 5, "{}", out.stderr);
    assert!(out.stderr.contains("import \"Tickets\""), "{}", out.stderr);
    let usage = env
        .run(&["connection", "show", "Jira", "-o", "json"], None)
        .ok()
        .json();
    let _ = usage;
    env.run(&["import", "delete", "Tickets", "--yes"], None)
        .ok();
    let list = env.run(&["import", "list", "-o", "json"], None).ok().json();
    assert!(list.as_array().unwrap().is_empty());
}

#[test]
fn a_saved_import_killed_with_sigkill_is_resumed_and_accounts_for_each_record_once() {
    let mut env = env_with_jira();
    env.extra_env
        .push(("JIRALINK_EXPORTS__LEASE".to_owned(), "10s".to_owned()));
    let input = env.path().join("big.csv");
    std::fs::write(&input, records(500, "r")).unwrap();
    let map = env.path().join("map.toml");
    std::fs::write(&map, MAPPING).unwrap();
    env.run(
        &[
            "import",
            "create",
            "--name",
            "Big",
            "--connection",
            "Jira",
            "--map",
            map.to_str().unwrap(),
            "--input",
            input.to_str().unwrap(),
        ],
        None,
    )
    .ok();
    env.sim
        .control()
        .update_knobs(|k| k.latency_ms = 30)
        .unwrap();
    let results = env.path().join("results.ndjson");
    let stderr = env.path().join("stderr.txt");
    let mut child = env
        .std_cmd()
        .args([
            "import",
            "run",
            "Big",
            "--results",
            results.to_str().unwrap(),
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&stderr).unwrap())
        .spawn()
        .unwrap();
    // Killed once two batches are checkpointed.
    wait_for(&mut child, &stderr, "two checkpoints", || {
        std::fs::read_to_string(&results)
            .map(|t| t.lines().count() >= 100)
            .unwrap_or(false)
    });
    child.kill().unwrap();
    child.wait().unwrap();
    env.sim
        .control()
        .update_knobs(|k| k.latency_ms = 0)
        .unwrap();
    let killed = env.run(&["import", "runs", "-o", "json"], None).ok().json()[0].clone();
    assert_eq!(killed["state"], "running");
    // Refused while the dead run's lease lasts, then that run resumes.
    let deadline = Instant::now() + Duration::from_secs(60);
    let resumed = loop {
        let out = env.run(&["import", "run", "Big", "-o", "json"], None);
        if out.code == 0 {
            break out.json();
        }
        assert_eq!(out.code, 5, "{}", out.stderr);
        assert!(Instant::now() < deadline, "never resumed");
        crate::exports::pause(Duration::from_millis(200));
    };
    assert_eq!(resumed["id"], killed["id"], "the same run, resumed");
    assert_eq!(resumed["resumed"], 1);
    assert_eq!(resumed["stats"]["read"], 500);
    // The batch the kill interrupted was created but not checkpointed: read again, its
    // records find their issues in the ledger and are updated (upsert), not created twice.
    let (created, updated) = (
        resumed["stats"]["created"].as_u64().unwrap(),
        resumed["stats"]["updated"].as_u64().unwrap(),
    );
    assert_eq!(created + updated, 500, "{resumed}");
    assert!(updated <= 50, "at most one batch again: {resumed}");
    // Its results file holds every record once, in order.
    let lines = results_of(&results);
    let records: Vec<u64> = lines
        .iter()
        .map(|l| l["record"].as_u64().unwrap())
        .collect();
    assert_eq!(records, (0..500).collect::<Vec<_>>());
    let counts = imported(&env, "r");
    assert_eq!(counts.len(), 500);
    assert!(counts.values().all(|n| *n == 1));
}

fn results_of(path: &std::path::Path) -> Vec<Value> {
    results(path)
}

#[test]
fn an_export_run_of_one_site_is_imported_into_another() {
    let env = env_with_jira();
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
    let exported = env.path().join("mkt.ndjson");
    env.run(
        &[
            "export",
            "issues",
            "--connection",
            "Jira",
            "--jql",
            "project = MKT",
            "--limit",
            "12",
            "--output",
            exported.to_str().unwrap(),
        ],
        None,
    )
    .ok();
    let run = env.run(&["run", "list", "-o", "json"], None).ok().json()[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let map = env.path().join("copy.toml");
    std::fs::write(
        &map,
        r#"
operation = "upsert"
project = "MKT"
issue_type = "Task"
[external_id]
source = "key"
label_prefix = "copied-"
[fields]
summary = "fields.summary"
"#,
    )
    .unwrap();
    let copy = |expect: &str| {
        let out = env
            .run(
                &[
                    "import",
                    "issues",
                    "--connection",
                    "Acme",
                    "--from-run",
                    &run,
                    "--map",
                    map.to_str().unwrap(),
                    "-o",
                    "json",
                ],
                None,
            )
            .ok()
            .json();
        assert_eq!(out["stats"][expect], 12, "{out}");
    };
    copy("created");
    copy("updated");
    assert!(
        !env.data_dir()
            .join("imports")
            .read_dir()
            .unwrap()
            .any(|_| true),
        "the fetched copy of the export's output is removed after the run"
    );
}

#[test]
fn records_can_come_from_standard_input() {
    let env = env_with_jira();
    let map = env.path().join("map.toml");
    std::fs::write(&map, MAPPING).unwrap();
    let stdin: String = (0..3)
        .map(|i| format!("{}\n", serde_json::json!({"id": format!("in-{i}"), "title": format!("From stdin {i}"), "tags": "batch-in"})))
        .collect();
    let out = env.run(
        &[
            "import",
            "issues",
            "--connection",
            "Jira",
            "--file",
            "-",
            "--format",
            "ndjson",
            "--map",
            map.to_str().unwrap(),
            "-o",
            "json",
        ],
        Some(&stdin),
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.json()["stats"]["created"], 3);
    assert_eq!(imported(&env, "in").len(), 3);
    // Without --format, standard input cannot be read.
    let out = env.run(
        &[
            "import",
            "issues",
            "--connection",
            "Jira",
            "--file",
            "-",
            "--map",
            map.to_str().unwrap(),
        ],
        Some(&stdin),
    );
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert!(out.stderr.contains("--format"), "{}", out.stderr);
}

#[test]
fn schedule_flags_of_saved_imports_round_trip() {
    let env = Env::new();
    env.create_alice("Jira");
    let input = env.path().join("tickets.csv");
    std::fs::write(&input, records(1, "f")).unwrap();
    let map = env.path().join("map.toml");
    std::fs::write(&map, MAPPING).unwrap();
    let create = |name: &str, extra: &[&str]| {
        let mut args = vec![
            "import",
            "create",
            "--name",
            name,
            "--connection",
            "Jira",
            "--map",
            map.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        env.run(&args, None)
    };
    // A schedule needs the import's own input file.
    let out = create("Nightly", &["--cron", "30 2 * * *"]).fails_with(3);
    assert!(out.stderr.contains("needs an input file"), "{}", out.stderr);
    let out = create(
        "Nightly",
        &["--input", input.to_str().unwrap(), "--cron", "61 * * * *"],
    )
    .fails_with(3);
    assert!(out.stderr.contains("cron expression"), "{}", out.stderr);
    let created = create(
        "Nightly",
        &[
            "--input",
            input.to_str().unwrap(),
            "--cron",
            "30 2 * * *",
            "--time-zone",
            "Europe/Paris",
            "-o",
            "json",
        ],
    )
    .ok()
    .json();
    assert_eq!(created["schedule"]["cron"], "30 2 * * *");
    assert_eq!(created["schedule"]["timeZone"], "Europe/Paris");
    assert_eq!(created["enabled"], true);
    assert!(created["nextRunAt"].is_string(), "{created}");

    let list = env.run(&["import", "list"], None).ok();
    assert!(
        list.stdout.contains("cron 30 2 * * * (Europe/Paris)"),
        "{}",
        list.stdout
    );
    assert!(list.stdout.contains("NEXT RUN"), "{}", list.stdout);
    let show = env.run(&["import", "show", "nightly"], None).ok();
    assert!(
        show.stdout.contains("cron 30 2 * * * (Europe/Paris)"),
        "{}",
        show.stdout
    );
    assert!(show.stdout.contains("Next run"), "{}", show.stdout);

    // --every keeps the zone; --disable keeps the schedule without a next run.
    let edited = env
        .run(
            &[
                "import",
                "edit",
                "Nightly",
                "--every",
                "15",
                "--disable",
                "-o",
                "json",
            ],
            None,
        )
        .ok()
        .json();
    assert_eq!(edited["schedule"]["everyMinutes"], 15);
    assert_eq!(edited["schedule"]["timeZone"], "Europe/Paris");
    assert_eq!(edited["enabled"], false);
    assert_eq!(edited["nextRunAt"], Value::Null);
    let show = env.run(&["import", "show", "Nightly"], None).ok();
    assert!(
        show.stdout
            .contains("every 15 minute(s) (Europe/Paris) (disabled)"),
        "{}",
        show.stdout
    );
    let edited = env
        .run(
            &["import", "edit", "Nightly", "--enable", "-o", "json"],
            None,
        )
        .ok()
        .json();
    assert_eq!(edited["enabled"], true);
    assert!(edited["nextRunAt"].is_string(), "{edited}");
    let edited = env
        .run(
            &["import", "edit", "Nightly", "--no-schedule", "-o", "json"],
            None,
        )
        .ok()
        .json();
    assert_eq!(edited["schedule"], Value::Null);
    assert_eq!(edited["nextRunAt"], Value::Null);
    // Usage errors: a zone alone, a schedule removed and set at once.
    env.run(&["import", "edit", "Nightly", "--time-zone", "UTC"], None)
        .fails_with(2);
    env.run(
        &["import", "edit", "Nightly", "--no-schedule", "--every", "5"],
        None,
    )
    .fails_with(2);
}

/// A `--map` that names something huge or endless (an export, a device) ends in a clear error
/// after at most 1 MiB was read, before anything runs.
#[test]
fn oversized_mappings_are_refused_before_anything_runs() {
    let env = Env::new();
    let input = env.path().join("in.csv");
    std::fs::write(&input, "id,title\n1,a\n").unwrap();
    let big = env.path().join("big.toml");
    std::fs::write(&big, format!("# {}\n", "x".repeat(2 << 20))).unwrap();
    for map in [big.to_str().unwrap(), "/dev/zero"] {
        let started = Instant::now();
        let out = env.run(
            &[
                "import",
                "issues",
                "--connection",
                "Jira",
                "--file",
                input.to_str().unwrap(),
                "--map",
                map,
            ],
            None,
        );
        assert_ne!(out.code, 0, "{map}");
        assert!(
            out.stderr.contains("is larger than 1 MiB"),
            "{map}: {}",
            out.stderr
        );
        assert!(started.elapsed() < Duration::from_secs(60), "{map}");
    }
}
