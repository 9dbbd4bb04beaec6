//! `jiralink import issues` killed at seeded points — among them after Jira applied a bulk
//! create and before its answer reached the process, so before the ledger could say `done` —
//! and run again: one issue per external id, every ledger entry done.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use jiralink_sim::control::HoldStage;
use serde_json::Value;

use super::{Landings, Seeded, copies, hold, labels_of, long, points, query, sigkill, wait_until};
use crate::common::{Env, Output};
use crate::exports::pause;

/// Each record once, by external id (kept in a label): `create` never updates, so a record
/// the ledger knows is skipped and a second issue could only come from a second create.
const MAPPING: &str = r#"
operation = "create"
project = "DEMO"
issue_type = "Story"

[external_id]
source = "id"
label_prefix = "ext-"

[fields]
summary = "title"
labels = { source = "tags", split = ";" }
"#;

const BATCH: u64 = 50;

/// Where a kill is aimed.
#[derive(Debug, Clone, Copy)]
enum Aim {
    /// While the attempt's `n`th bulk create (from 1) is applied by Jira and its `201` held.
    AnswerHeld(u64),
    /// While the attempt's `n`th bulk create is held before Jira handles it.
    RequestHeld(u64),
    /// This long after the process started.
    Delay(Duration),
}

fn write_records(path: &Path, n: usize, tag: &str) {
    let mut out = String::from("id,title,tags\n");
    for i in 0..n {
        out.push_str(&format!("{tag}-{i},Record {i} of {tag},batch-{tag}\n"));
    }
    std::fs::write(path, out).unwrap();
}

/// The ledger entries of the records tagged `tag`: (done, uncertain) external ids.
fn ledger(env: &Env, tag: &str) -> (BTreeSet<String>, BTreeSet<String>) {
    let rows = query(
        env,
        &format!("SELECT identity, state FROM import_ledger WHERE identity LIKE 'x:{tag}-%'"),
    );
    let mut done = BTreeSet::new();
    let mut uncertain = BTreeSet::new();
    for row in rows {
        let id = row[0]
            .as_deref()
            .unwrap()
            .strip_prefix("x:")
            .unwrap()
            .to_owned();
        match row[1].as_deref() {
            Some("done") => done.insert(id),
            Some("uncertain") => uncertain.insert(id),
            other => panic!("ledger state {other:?}"),
        };
    }
    (done, uncertain)
}

/// External id → how many issues of DEMO carry it, for the records tagged `tag`.
fn issues_of(env: &Env, tag: &str) -> std::collections::BTreeMap<String, usize> {
    copies(
        &labels_of(
            env,
            "demo",
            &format!("project = DEMO AND labels = \"batch-{tag}\""),
        ),
        "ext-",
    )
}

/// Bulk creates the simulator has answered or is holding.
fn bulk_creates(env: &Env) -> usize {
    env.sim
        .control()
        .requests()
        .iter()
        .filter(|r| r.method == "POST" && r.path.ends_with("/issue/bulk"))
        .count()
}

fn import_args<'a>(env: &'a Env, input: &'a str, map: &'a str) -> Vec<&'a str> {
    let _ = env;
    vec![
        "import",
        "issues",
        "--connection",
        "Jira",
        "--file",
        input,
        "--map",
        map,
        // A killed run's uncertain creates are looked up a second after their send.
        "--search-lag",
        "1",
    ]
}

#[test]
fn an_import_killed_at_seeded_points_creates_each_issue_exactly_once() {
    let mut rng = Seeded::new();
    let records = if long() { 2000 } else { 300 };
    let points = points(8);
    let env = Env::with_sim(jiralink_sim::SimConfig::default());
    env.create_alice("Jira");
    let map = env.path().join("map.toml");
    std::fs::write(&map, MAPPING).unwrap();
    let map = map.to_str().unwrap().to_owned();
    env.sim
        .control()
        .update_knobs(|k| k.latency_ms = 60)
        .unwrap();

    // One import without a kill, of other records: how long a run takes.
    let calibration = env.path().join("calibration.csv");
    write_records(&calibration, records, "cal");
    let started = Instant::now();
    let out = Output::of(
        env.cmd()
            .args(import_args(&env, calibration.to_str().unwrap(), &map))
            .args(["-o", "json"]),
    )
    .ok();
    let duration = started.elapsed();
    assert_eq!(out.json()["stats"]["created"], records);

    let mut landings = Landings::default();
    let stderr = env.path().join("stderr.txt");
    // Rounds: when every record of one is done, the next points go to new records.
    let mut round = 0;
    let mut tags = vec!["r0".to_owned()];
    write_records(&env.path().join("r0.csv"), records, "r0");
    for point in 0..points {
        // Records this attempt has to create: not done, and not made by Jira already (an
        // uncertain entry whose issue exists is found by the lookup, not created).
        let to_create = |tag: &str| {
            let (done, uncertain) = ledger(&env, tag);
            let in_jira = issues_of(&env, tag);
            let applied = uncertain
                .iter()
                .filter(|id| in_jira.contains_key(*id))
                .count();
            let left = (records - done.len() - applied) as u64;
            (done, left)
        };
        if to_create(tags.last().unwrap()).1 == 0 {
            round += 1;
            tags.push(format!("r{round}"));
            write_records(
                &env.path().join(format!("r{round}.csv")),
                records,
                &format!("r{round}"),
            );
        }
        let tag = tags.last().unwrap().clone();
        let input = env.path().join(format!("{tag}.csv"));
        let (done_before, left) = to_create(&tag);
        let uncertain_before = ledger(&env, &tag).1;
        // Bulk creates of 50 this attempt sends at least.
        let batches = (left / BATCH).max(1);
        let aim = match point {
            0 => Aim::AnswerHeld(1),
            1 => Aim::AnswerHeld(batches),
            _ => match rng.below(3) {
                0 => Aim::AnswerHeld(1 + rng.below(batches)),
                1 => Aim::RequestHeld(1 + rng.below(batches)),
                _ => Aim::Delay(Duration::from_millis(
                    rng.below(u64::try_from(duration.as_millis()).unwrap()),
                )),
            },
        };
        match aim {
            Aim::AnswerHeld(n) => hold(
                &env,
                None,
                "POST",
                "/issue/bulk",
                (n - 1) as u32,
                HoldStage::After,
            ),
            Aim::RequestHeld(n) => {
                hold(
                    &env,
                    None,
                    "POST",
                    "/issue/bulk",
                    (n - 1) as u32,
                    HoldStage::Before,
                );
            }
            Aim::Delay(_) => {}
        }
        let creates_before = bulk_creates(&env);
        let mut child = env
            .std_cmd()
            .args(import_args(&env, input.to_str().unwrap(), &map))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&stderr).unwrap())
            .spawn()
            .unwrap();
        let control = env.sim.control();
        let mut finished = false;
        match aim {
            Aim::AnswerHeld(_) | Aim::RequestHeld(_) => {
                wait_until(&mut child, &stderr, "the held bulk create", || {
                    control.held() == 1
                });
                sigkill(&mut child);
                super::release(&env);
            }
            Aim::Delay(delay) => {
                // The seeded delay places the kill; it synchronises nothing.
                pause(delay);
                match child.try_wait().unwrap() {
                    Some(status) => {
                        assert!(status.success(), "{status}");
                        finished = true;
                    }
                    None => sigkill(&mut child),
                }
            }
        }
        let (done, uncertain) = ledger(&env, &tag);
        let in_jira = issues_of(&env, &tag);
        let creates = bulk_creates(&env) - creates_before;
        match aim {
            Aim::AnswerHeld(_) => {
                // Jira made the batch and its answer never arrived: the ledger still says
                // uncertain, and every uncertain record has its issue.
                assert!(!uncertain.is_empty(), "no uncertain entry at the kill");
                assert!(uncertain.len() as u64 <= BATCH);
                for id in &uncertain {
                    assert_eq!(in_jira.get(id), Some(&1), "{id}: applied by Jira");
                }
            }
            Aim::RequestHeld(_) => {
                assert!(!uncertain.is_empty(), "no uncertain entry at the kill");
                for id in &uncertain {
                    assert_eq!(in_jira.get(id), None, "{id}: not applied by Jira");
                }
            }
            Aim::Delay(_) => {}
        }
        let kind = if finished {
            "after-finish"
        } else if !uncertain.is_empty() && matches!(aim, Aim::AnswerHeld(_)) {
            "after-201-before-ledger"
        } else if matches!(aim, Aim::RequestHeld(_))
            || (!uncertain.is_empty() && uncertain != uncertain_before)
        {
            "create-in-flight"
        } else if done.len() > done_before.len() {
            "between-batches"
        } else {
            "before-first-create"
        };
        landings.record(
            point,
            kind,
            format!(
                "{aim:?} [{tag}] done {}->{} uncertain {} answered bulk creates {creates}",
                done_before.len(),
                done.len(),
                uncertain.len()
            ),
        );
    }
    assert!(landings.count("after-201-before-ledger") >= 2);

    // Each round run to its end: every uncertain entry looked up first, nothing created twice.
    let mut found = Vec::new();
    for tag in &tags {
        let input = env.path().join(format!("{tag}.csv"));
        let results = env.path().join(format!("{tag}-results.ndjson"));
        let out = Output::of(
            env.cmd()
                .args(import_args(&env, input.to_str().unwrap(), &map))
                .args(["--results", results.to_str().unwrap(), "-o", "json"]),
        )
        .ok();
        let run = out.json();
        assert_eq!(run["stats"]["read"], records, "{run}");
        let lines: Vec<Value> = std::fs::read_to_string(&results)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), records);
        assert!(
            lines.iter().all(
                |l| matches!(l["state"].as_str(), Some("created" | "skipped"))
                    && l["key"].is_string()
            ),
            "each record names its issue"
        );
        let in_jira = issues_of(&env, tag);
        let doubled: Vec<_> = in_jira.iter().filter(|(_, n)| **n > 1).collect();
        assert!(doubled.is_empty(), "[{tag}] created twice: {doubled:?}");
        assert_eq!(in_jira.len(), records, "[{tag}] every record has its issue");
        let (done, uncertain) = ledger(&env, tag);
        assert!(
            uncertain.is_empty(),
            "[{tag}] uncertain left: {uncertain:?}"
        );
        assert_eq!(
            done.len(),
            records,
            "[{tag}] every record done in the ledger"
        );
        found.push(in_jira.values().sum::<usize>());
    }
    println!(
        "crash-proof imports: seed={} points={points} records={records} per round, rounds={} \
         calibration={}ms | {} | issues expected={records} per round found={found:?}",
        rng.seed,
        tags.len(),
        duration.as_millis(),
        landings.summary(),
    );
}

#[test]
fn a_saved_import_killed_after_jiras_201_resumes_its_run_and_creates_each_issue_once() {
    let mut rng = Seeded::new();
    let records = if long() { 2000 } else { 300 };
    let points = points(2);
    let mut env = Env::with_sim(jiralink_sim::SimConfig::default());
    env.extra_env
        .push(("JIRALINK_EXPORTS__LEASE".to_owned(), "10s".to_owned()));
    env.create_alice("Jira");
    let map = env.path().join("map.toml");
    std::fs::write(&map, MAPPING).unwrap();
    let input = env.path().join("saved.csv");
    write_records(&input, records, "s");
    env.run(
        &[
            "import",
            "create",
            "--name",
            "Saved",
            "--connection",
            "Jira",
            "--map",
            map.to_str().unwrap(),
            "--input",
            input.to_str().unwrap(),
            "--search-lag",
            "1",
        ],
        None,
    )
    .ok();
    env.sim
        .control()
        .update_knobs(|k| k.latency_ms = 20)
        .unwrap();
    let results = env.path().join("results.ndjson");
    let stderr = env.path().join("stderr.txt");
    let mut landings = Landings::default();
    let mut run_id: Option<String> = None;
    for point in 0..points {
        let (done, uncertain) = ledger(&env, "s");
        let in_jira = issues_of(&env, "s");
        let applied = uncertain
            .iter()
            .filter(|id| in_jira.contains_key(*id))
            .count();
        let left = (records - done.len() - applied) as u64;
        if left < BATCH {
            break;
        }
        // The nth bulk create of the resumed run, applied by Jira, its 201 held.
        let n = 1 + rng.below(left / BATCH);
        super::wait_leases_over(&env);
        hold(
            &env,
            None,
            "POST",
            "/issue/bulk",
            u32::try_from(n - 1).unwrap(),
            HoldStage::After,
        );
        let mut child = env
            .std_cmd()
            .args([
                "import",
                "run",
                "Saved",
                "--results",
                results.to_str().unwrap(),
            ])
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&stderr).unwrap())
            .spawn()
            .unwrap();
        let control = env.sim.control();
        wait_until(&mut child, &stderr, "the held bulk create", || {
            control.held() == 1
        });
        sigkill(&mut child);
        super::release(&env);
        let (done_after, uncertain) = ledger(&env, "s");
        let in_jira = issues_of(&env, "s");
        assert!(!uncertain.is_empty(), "no uncertain entry at the kill");
        for id in &uncertain {
            assert_eq!(in_jira.get(id), Some(&1), "{id}: applied by Jira");
        }
        let runs = env.run(&["import", "runs", "-o", "json"], None).ok().json();
        let run = runs[0].clone();
        assert_eq!(run["state"], "running", "{run}");
        if let Some(id) = &run_id {
            assert_eq!(
                run["id"].as_str(),
                Some(id.as_str()),
                "the same run, resumed"
            );
        }
        run_id = run["id"].as_str().map(str::to_owned);
        landings.record(
            point,
            "after-201-before-ledger",
            format!(
                "bulk create {n} held: done {}->{}, uncertain {}",
                done.len(),
                done_after.len(),
                uncertain.len()
            ),
        );
    }
    super::wait_leases_over(&env);
    let resumed = env
        .run(
            &[
                "import",
                "run",
                "Saved",
                "--results",
                results.to_str().unwrap(),
                "-o",
                "json",
            ],
            None,
        )
        .ok()
        .json();
    if let Some(id) = &run_id {
        assert_eq!(
            resumed["id"].as_str(),
            Some(id.as_str()),
            "the interrupted run resumed"
        );
        assert!(resumed["resumed"].as_u64().unwrap() >= 1, "{resumed}");
    }
    assert_eq!(resumed["stats"]["read"], records, "{resumed}");
    // The results file: every record once, in order, each naming its issue.
    let lines: Vec<Value> = std::fs::read_to_string(&results)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let numbers: Vec<u64> = lines
        .iter()
        .map(|l| l["record"].as_u64().unwrap())
        .collect();
    assert_eq!(numbers, (0..records as u64).collect::<Vec<_>>());
    assert!(
        lines.iter().all(|l| l["key"].is_string()),
        "each record names its issue"
    );
    let in_jira = issues_of(&env, "s");
    let doubled: Vec<_> = in_jira.iter().filter(|(_, n)| **n > 1).collect();
    assert!(doubled.is_empty(), "created twice: {doubled:?}");
    assert_eq!(in_jira.len(), records);
    let (done, uncertain) = ledger(&env, "s");
    assert!(uncertain.is_empty(), "uncertain left: {uncertain:?}");
    assert_eq!(done.len(), records);
    println!(
        "crash-proof saved-imports: seed={} points={} records={records} | {} | issues \
         expected={records} found={} results={}",
        rng.seed,
        landings.count("after-201-before-ledger"),
        landings.summary(),
        in_jira.values().sum::<usize>(),
        lines.len(),
    );
}
