//! `jiralink flow run` (an export of one site feeding an import into another) killed at
//! seeded points in each of its phases and run again: the destination ends with exactly one
//! copy of each source issue.

use std::process::Stdio;
use std::time::{Duration, Instant};

use jiralink_sim::control::HoldStage;

use super::{
    Landings, Seeded, assert_each_copied_once, copies_on_acme, hold, labels_of, long, points,
    query, same_minute_issues, sigkill, wait_leases_over, wait_until,
};
use crate::common::Env;
use crate::exports::pause;
use crate::flows::{create_demo_to_acme, env_with_two_sites};

/// Where a kill is aimed.
#[derive(Debug, Clone, Copy)]
enum Aim {
    /// While the export's `n`th search page (from 1) of the attempt is held at the source.
    ExportPage(u64),
    /// While the import's `n`th bulk create of the attempt is applied at the destination and
    /// its `201` held.
    CreateAnswer(u64),
    /// This long after the process started.
    Delay(Duration),
}

/// The newest flow run: (id, state, phase).
fn newest(env: &Env) -> Option<(String, String, String)> {
    query(
        env,
        "SELECT id, state, phase FROM flow_runs ORDER BY started_at DESC LIMIT 1",
    )
    .into_iter()
    .next()
    .map(|row| {
        let mut row = row.into_iter().map(Option::unwrap);
        (
            row.next().unwrap(),
            row.next().unwrap(),
            row.next().unwrap(),
        )
    })
}

/// Pages the export run of flow run `id` has checkpointed.
fn export_pages(env: &Env, id: &str) -> u64 {
    let rows = query(
        env,
        &format!(
            "SELECT stats FROM export_runs WHERE id = \
             (SELECT export_run_id FROM flow_runs WHERE id = '{id}')"
        ),
    );
    rows.first()
        .and_then(|row| row[0].as_deref())
        .map_or(0, |stats| {
            serde_json::from_str::<serde_json::Value>(stats).unwrap()["pages"]
                .as_u64()
                .unwrap_or(0)
        })
}

#[test]
fn a_flow_killed_at_seeded_points_copies_each_issue_exactly_once() {
    let mut rng = Seeded::new();
    let per_round = if long() { 400 } else { 100 };
    let points = points(5);
    let mut env = env_with_two_sites();
    env.extra_env
        .push(("JIRALINK_EXPORTS__LEASE".to_owned(), "10s".to_owned()));
    // A killed run's uncertain creates are looked up a second after their send.
    create_demo_to_acme(&env, &["--search-lag", "1"]);
    let mut round = 0;
    same_minute_issues(&env, "demo", "MKT", "Task", per_round, "round-0");
    env.sim
        .control()
        .update_knobs(|k| {
            k.search_page_cap = 25;
            k.latency_ms = 20;
        })
        .unwrap();
    // One run without a kill (it copies the first round): how long a run takes.
    let started = Instant::now();
    let first = env
        .run(&["flow", "run", "demo-to-acme", "-o", "json"], None)
        .ok()
        .json();
    let duration = started.elapsed();
    assert_eq!(first["state"], "succeeded", "{first}");
    assert!(copies_on_acme(&env).values().all(|n| *n == 1));
    let mut landings = Landings::default();
    let stderr = env.path().join("stderr.txt");
    for point in 0..points {
        let before = newest(&env).filter(|(_, state, _)| state == "running");
        let source = labels_of(&env, "demo", "project = MKT").len() as u64;
        let copied = copies_on_acme(&env).len() as u64;
        if before.is_none() && copied == source {
            // Everything is copied: new issues give the next points work.
            round += 1;
            same_minute_issues(
                &env,
                "demo",
                "MKT",
                "Task",
                per_round,
                &format!("round-{round}"),
            );
        }
        let source = labels_of(&env, "demo", "project = MKT").len() as u64;
        let pages = source.div_ceil(25);
        // A resumed attempt past its export writes what is not copied yet.
        let creates = (source - copied) / 50;
        // Pages the export of this attempt reads: all of them, or those its interrupted
        // export run has not checkpointed yet.
        let exported = before
            .as_ref()
            .map_or(0, |(id, _, _)| export_pages(&env, id));
        let pages_left = pages.saturating_sub(exported).max(1);
        let in_export = before
            .as_ref()
            .is_none_or(|(_, _, phase)| phase == "export");
        let aim = match point {
            0 => Aim::ExportPage(1 + rng.below(pages_left)),
            1 if creates >= 1 => Aim::CreateAnswer(1 + rng.below(creates)),
            _ => match rng.below(3) {
                0 if in_export => Aim::ExportPage(1 + rng.below(pages_left)),
                1 if creates >= 1 => Aim::CreateAnswer(1 + rng.below(creates)),
                _ => Aim::Delay(Duration::from_millis(
                    rng.below(u64::try_from(duration.as_millis()).unwrap()),
                )),
            },
        };
        wait_leases_over(&env);
        match aim {
            Aim::ExportPage(n) => {
                hold(
                    &env,
                    Some("demo"),
                    "POST",
                    "/search/jql",
                    (n - 1) as u32,
                    HoldStage::Before,
                );
            }
            Aim::CreateAnswer(n) => {
                hold(
                    &env,
                    Some("acme"),
                    "POST",
                    "/issue/bulk",
                    (n - 1) as u32,
                    HoldStage::After,
                );
            }
            Aim::Delay(_) => {}
        }
        let mut child = env
            .std_cmd()
            .args(["flow", "run", "demo-to-acme"])
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&stderr).unwrap())
            .spawn()
            .unwrap();
        let control = env.sim.control();
        let mut finished = false;
        match aim {
            Aim::ExportPage(_) | Aim::CreateAnswer(_) => {
                wait_until(&mut child, &stderr, "the held request", || {
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
                        assert!(
                            status.success(),
                            "{status}: {}",
                            std::fs::read_to_string(&stderr).unwrap()
                        );
                        finished = true;
                    }
                    None => sigkill(&mut child),
                }
            }
        }
        let after = newest(&env);
        let phase = after
            .as_ref()
            .map_or("none".to_owned(), |(_, s, p)| format!("{s}/{p}"));
        match aim {
            Aim::ExportPage(_) => assert_eq!(phase, "running/export", "killed in the export"),
            Aim::CreateAnswer(_) => assert_eq!(phase, "running/import", "killed in the import"),
            Aim::Delay(_) => {}
        }
        let kind = match after.as_ref().map(|(_, s, p)| (s.as_str(), p.as_str())) {
            _ if finished => "after-finish",
            Some(("running", "export")) => "in-export",
            Some(("running", "import")) => "in-import",
            Some(("running", "link")) => "in-link",
            Some(("succeeded", _)) => "after-finish",
            _ => "before-the-run",
        };
        landings.record(
            point,
            kind,
            format!("{aim:?} source {source} copied before {copied} run {phase}"),
        );
        if kind == "after-finish" {
            let copied = copies_on_acme(&env);
            assert!(copied.values().all(|n| *n == 1), "{copied:?}");
        }
    }
    assert!(landings.count("in-export") >= 1);
    if points >= 2 {
        assert!(landings.count("in-import") >= 1);
    }

    // The interrupted run resumed to its end, then a run with nothing left to send.
    wait_leases_over(&env);
    let last = env
        .run(&["flow", "run", "demo-to-acme", "-o", "json"], None)
        .ok()
        .json();
    assert_eq!(last["state"], "succeeded", "{last}");
    let again = env
        .run(&["flow", "run", "demo-to-acme", "-o", "json"], None)
        .ok()
        .json();
    assert_eq!(again["state"], "succeeded", "{again}");
    assert_eq!(again["stats"]["sent"], 0, "nothing left to copy: {again}");
    let copied = assert_each_copied_once(&env);
    println!(
        "crash-proof flows: seed={} points={points} rounds={} | {} | copies expected={} found={}",
        rng.seed,
        round + 1,
        landings.summary(),
        copied.len(),
        copied.values().sum::<usize>(),
    );
}
