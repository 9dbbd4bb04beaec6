//! `jiralink export run NAME --output FILE` killed at seeded points and run again: each run's
//! file and stored output hold every issue exactly once.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use jiralink_sim::control::HoldStage;
use serde_json::Value;

use super::{
    Landings, Seeded, hold, long, points, same_minute_issues, sigkill, wait_leases_over, wait_until,
};
use crate::common::{Env, Output, connection_create};
use crate::exports::{ndjson_ids, pause, search_ids};

/// Where a kill is aimed.
#[derive(Debug, Clone, Copy)]
enum Aim {
    /// While the attempt's search request for its `n`th page (from 1) is held at Jira.
    Page(u64),
    /// This long after the process started.
    Delay(Duration),
}

/// The newest run of the export `Crash`.
fn newest(env: &Env) -> Option<Value> {
    let out = Output::of(
        env.cmd()
            .args(["run", "list", "--export", "Crash", "-o", "json"]),
    );
    if out.code != 0 {
        return None;
    }
    out.json().as_array().and_then(|runs| runs.first().cloned())
}

fn pages(run: &Value) -> u64 {
    run["stats"]["pages"].as_u64().unwrap_or(0)
}

#[test]
fn an_export_killed_at_seeded_points_writes_every_issue_exactly_once() {
    let mut rng = Seeded::new();
    let same_minute = if long() { 600 } else { 200 };
    let points = points(6);
    let mut env = Env::new();
    // The shortest lease, so a killed run can be taken over within seconds.
    env.extra_env
        .push(("JIRALINK_EXPORTS__LEASE".to_owned(), "10s".to_owned()));
    let (email, token) = env.alice();
    env.run(
        &connection_create(
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
    same_minute_issues(&env, "demo", "DEMO", "Story", same_minute, "same-minute");
    let jql = "project = DEMO";
    let expected = search_ids(&env, jql);
    assert_eq!(expected.len(), same_minute + 40);
    for name in ["Calibration", "Crash"] {
        env.run(
            &[
                "export",
                "create",
                "--name",
                name,
                "--connection",
                "Jira",
                "--jql",
                jql,
                "--fields",
                "summary,labels",
            ],
            None,
        )
        .ok();
    }
    // Small pages, each a little slow: many checkpoints, and a run long enough to land in.
    env.sim
        .control()
        .update_knobs(|k| {
            k.search_page_cap = 20;
            k.latency_ms = 40;
            // The simulator's clock stands still here, so its per-second burst bucket would
            // never refill: the long size's hundreds of searches would end in 429s.
            k.burst.enabled = false;
        })
        .unwrap();

    // One run without a kill: how long a run takes, and how many pages it has.
    let calibration = env.path().join("calibration.ndjson");
    let started = Instant::now();
    let run = env
        .run(
            &[
                "export",
                "run",
                "Calibration",
                "--output",
                calibration.to_str().unwrap(),
                "-o",
                "json",
            ],
            None,
        )
        .ok()
        .json();
    let duration = started.elapsed();
    let total_pages = pages(&run);
    assert!(total_pages >= 10, "{run}");
    assert_eq!(
        ndjson_ids(&std::fs::read_to_string(&calibration).unwrap()),
        (expected.clone(), expected.len())
    );

    let mut landings = Landings::default();
    // Every run of `Crash` with its file, in order.
    let mut finished: Vec<(String, PathBuf)> = Vec::new();
    // The file of the run a kill interrupted, until it finishes.
    let mut current: Option<PathBuf> = None;
    let stderr = env.path().join("stderr.txt");
    for point in 0..points {
        let before = current.as_ref().and_then(|_| newest(&env));
        let pages_before = before.as_ref().map_or(0, pages);
        let remaining = total_pages - pages_before;
        let aim = match point {
            // Before the attempt's first checkpoint, then after all but the last page.
            0 => Aim::Page(1),
            1 => Aim::Page(remaining),
            // A run killed after its last page's checkpoint fetches nothing more when resumed:
            // only a delay can land in it (a held page would never come).
            _ if remaining > 0 && rng.below(2) == 0 => Aim::Page(1 + rng.below(remaining)),
            _ => Aim::Delay(Duration::from_millis(
                rng.below(u64::try_from(duration.as_millis()).unwrap()),
            )),
        };
        let file = current
            .get_or_insert_with(|| env.path().join(format!("crash-{}.ndjson", finished.len())))
            .clone();
        wait_leases_over(&env);
        if let Aim::Page(n) = aim {
            hold(
                &env,
                None,
                "POST",
                "/search/jql",
                u32::try_from(n - 1).unwrap(),
                HoldStage::Before,
            );
        }
        let mut child = env
            .std_cmd()
            .args(["export", "run", "Crash", "--output", file.to_str().unwrap()])
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&stderr).unwrap())
            .spawn()
            .unwrap();
        let control = env.sim.control();
        match aim {
            Aim::Page(n) => {
                // The page is held and every page before it checkpointed: the run waits there.
                wait_until(&mut child, &stderr, "the held page", || {
                    control.held() == 1
                        && newest(&env).is_some_and(|run| {
                            run["state"] == "running"
                                && before.as_ref().is_none_or(|b| b["id"] == run["id"])
                                && pages(&run) == pages_before + n - 1
                        })
                });
                sigkill(&mut child);
                super::release(&env);
            }
            Aim::Delay(delay) => {
                // The seeded delay places the kill; it synchronises nothing.
                pause(delay);
                match child.try_wait().unwrap() {
                    Some(status) => assert!(status.success(), "{status}"),
                    None => sigkill(&mut child),
                }
            }
        }
        let run = newest(&env).filter(|run| {
            !finished
                .iter()
                .any(|(id, _)| run["id"].as_str() == Some(id.as_str()))
        });
        let Some(run) = run else {
            // Killed before the run was recorded: nothing of it exists; the next attempt
            // starts it.
            assert!(matches!(aim, Aim::Delay(_)), "{aim:?}");
            landings.record(point, "before-the-run", format!("{aim:?}"));
            continue;
        };
        if let Some(b) = &before {
            assert_eq!(run["id"], b["id"], "the interrupted run is the one resumed");
        }
        let pages_after = pages(&run);
        let done = run["state"] == "succeeded";
        let aimed = match aim {
            Aim::Page(n) => {
                assert_eq!(
                    pages_after,
                    pages_before + n - 1,
                    "killed while page {n} was held: every page before it checkpointed, no other"
                );
                assert!(!done, "{run}");
                format!("held page {n}")
            }
            Aim::Delay(d) => format!("{} ms", d.as_millis()),
        };
        let kind = if done {
            "after-finish"
        } else if pages_after == pages_before {
            "before-first-checkpoint"
        } else if pages_after == total_pages {
            "after-last-page"
        } else {
            "between-checkpoints"
        };
        landings.record(
            point,
            kind,
            format!("{aimed}, checkpoints {pages_before}->{pages_after}/{total_pages}"),
        );
        if done {
            finished.push((run["id"].as_str().unwrap().to_owned(), file));
            current = None;
        } else {
            assert_eq!(run["state"], "running", "{run}");
        }
    }
    if let Some(file) = current.take() {
        wait_leases_over(&env);
        let run = env
            .run(
                &[
                    "export",
                    "run",
                    "Crash",
                    "--output",
                    file.to_str().unwrap(),
                    "-o",
                    "json",
                ],
                None,
            )
            .ok()
            .json();
        assert_eq!(run["state"], "succeeded");
        assert!(run["resumed"].as_u64().unwrap() >= 1, "{run}");
        finished.push((run["id"].as_str().unwrap().to_owned(), file));
    }
    assert!(landings.count("before-first-checkpoint") >= 1);
    assert!(landings.count("between-checkpoints") + landings.count("after-last-page") >= 1);

    // Each run: its file and its stored output hold every issue once, and are the same.
    let mut found = Vec::new();
    for (id, file) in &finished {
        let text = std::fs::read_to_string(file).unwrap();
        let (ids, lines) = ndjson_ids(&text);
        found.push(lines);
        assert_eq!(lines, expected.len(), "run {id}: every record once");
        assert_eq!(ids, expected, "run {id}: every issue");
        let stored = env.run(&["run", "output", id], None).ok();
        assert_eq!(
            stored.stdout, text,
            "run {id}: the file is the stored output"
        );
    }
    println!(
        "crash-proof exports: seed={} points={points} pages={total_pages} calibration={}ms \
         issues={} (one minute: {same_minute}) runs={} | {} | records expected={} found={found:?}",
        rng.seed,
        duration.as_millis(),
        expected.len(),
        finished.len(),
        landings.summary(),
        expected.len(),
    );
}
