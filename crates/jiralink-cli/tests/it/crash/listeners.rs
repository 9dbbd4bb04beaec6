//! `jiralink serve` killed with SIGKILL after it acknowledged a webhook delivery (`202`) and
//! before its processing finished, then started again: the event is processed and its issue
//! copied exactly once.

use std::time::{Duration, Instant};

use jiralink_sim::control::HoldStage;
use serde_json::{Value, json};

use super::{Landings, Seeded, block_on, copies, hold, labels_of, points, query, serve, sigkill};
use crate::common::{Env, free_port};
use crate::exports::pause;
use crate::flows::{create_demo_to_acme, env_with_two_sites};

/// Where a kill is aimed, once the delivery is stored and acknowledged.
#[derive(Debug, Clone, Copy)]
enum Aim {
    /// While the processing's read of the issue at the source is held: nothing written yet.
    SourceRead,
    /// While the copy's bulk create is applied at the destination and its `201` held.
    CreateAnswer,
    /// This long after the delivery was stored.
    Delay(Duration),
}

/// Creates an issue in MKT on `demo`; its id and key.
fn create_issue(env: &Env, summary: &str) -> (String, String) {
    let (email, token) = env.alice();
    let url = format!("{}/rest/api/3/issue", env.sim.site_url("demo"));
    block_on(async {
        let client =
            jiralink_atlassian::build_client(&jiralink_atlassian::HttpConfig::default()).unwrap();
        let answer: Value = client
            .post(&url)
            .basic_auth(&email, Some(&token))
            .json(&json!({"fields": {
                "project": {"key": "MKT"}, "issuetype": {"name": "Task"}, "summary": summary,
            }}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        (
            answer["id"].as_str().unwrap().to_owned(),
            answer["key"].as_str().unwrap().to_owned(),
        )
    })
}

/// The state of the stored delivery about issue `id`, if one is stored.
fn event_state(env: &Env, id: &str) -> Option<String> {
    query(
        env,
        &format!("SELECT state FROM listener_events WHERE issue_ids = '{id}'"),
    )
    .into_iter()
    .next()
    .and_then(|row| row.into_iter().next().flatten())
}

/// Copies of the source issue `key` on `acme`.
fn copies_of(env: &Env, key: &str) -> usize {
    copies(&labels_of(env, "acme", "project = MKT"), "from-demo-")
        .get(key)
        .copied()
        .unwrap_or(0)
}

#[test]
fn a_server_killed_between_a_webhooks_202_and_its_processing_copies_the_issue_once() {
    let mut rng = Seeded::new();
    let points = points(2);
    let mut env = env_with_two_sites();
    let bind = format!("127.0.0.1:{}", free_port());
    for (k, v) in [
        ("JIRALINK_SERVER__BASE_URL", format!("http://{bind}")),
        ("JIRALINK_JOBS__LEASE", "10s".to_owned()),
        ("JIRALINK_JOBS__POLL_SECS", "1".to_owned()),
        ("JIRALINK_EXPORTS__LEASE", "10s".to_owned()),
    ] {
        env.extra_env.push((k.to_owned(), v));
    }
    // A killed run's uncertain creates are looked up a second after their send.
    create_demo_to_acme(&env, &["--search-lag", "1"]);
    env.run(&["flow", "run", "demo-to-acme"], None).ok();
    let listener = env
        .run(
            &[
                "listener",
                "create",
                "--name",
                "demo-events",
                "--flow",
                "demo-to-acme",
                "--event",
                "jira:issue_created",
                "-o",
                "json",
            ],
            None,
        )
        .ok()
        .json();
    // What the site administrator does: an admin webhook with the listener's URL and secret.
    let (email, token) = env.alice();
    block_on(async {
        let client =
            jiralink_atlassian::build_client(&jiralink_atlassian::HttpConfig::default()).unwrap();
        let answer = client
            .post(format!(
                "{}/rest/webhooks/1.0/webhook",
                env.sim.site_url("demo")
            ))
            .basic_auth(&email, Some(&token))
            .json(&json!({
                "name": "jiralink",
                "url": listener["url"],
                "events": ["jira:issue_created"],
                "filters": {"issue-related-events-section": "project = MKT"},
                "excludeBody": false,
                "secret": listener["secret"],
            }))
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status().as_u16(), 201);
    });

    let (mut server, mut log) = serve(&env, &bind);
    let mut landings = Landings::default();
    let mut keys = Vec::new();
    for point in 0..points {
        let aim = match point {
            0 => Aim::SourceRead,
            1 => Aim::CreateAnswer,
            _ => match rng.below(3) {
                0 => Aim::SourceRead,
                1 => Aim::CreateAnswer,
                _ => Aim::Delay(Duration::from_millis(rng.below(1500))),
            },
        };
        match aim {
            Aim::SourceRead => {
                hold(
                    &env,
                    Some("demo"),
                    "POST",
                    "/search/jql",
                    0,
                    HoldStage::Before,
                );
            }
            Aim::CreateAnswer => {
                hold(
                    &env,
                    Some("acme"),
                    "POST",
                    "/issue/bulk",
                    0,
                    HoldStage::After,
                );
            }
            Aim::Delay(_) => {}
        }
        let (id, key) = create_issue(&env, &format!("Told by a webhook {point}"));
        keys.push(key.clone());
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let stored = event_state(&env, &id).is_some();
            let ready = match aim {
                Aim::SourceRead | Aim::CreateAnswer => stored && env.sim.control().held() == 1,
                Aim::Delay(_) => stored,
            };
            if ready {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{aim:?}: not reached; server log:\n{}",
                log.lock().unwrap()
            );
            pause(Duration::from_millis(20));
        }
        if let Aim::Delay(delay) = aim {
            // The seeded delay places the kill; it synchronises nothing.
            pause(delay);
        }
        sigkill(&mut server);
        super::release(&env);
        let state = event_state(&env, &id).unwrap();
        let copied = copies_of(&env, &key);
        let acknowledged = env.sim.control().webhook_deliveries().iter().any(|a| {
            matches!(
                a.outcome,
                jiralink_sim::webhooks::AttemptOutcome::Delivered { status: 202 }
            )
        });
        assert!(acknowledged, "the delivery was answered 202");
        match aim {
            Aim::SourceRead => assert_eq!((state.as_str(), copied), ("pending", 0)),
            Aim::CreateAnswer => assert_eq!((state.as_str(), copied), ("pending", 1)),
            Aim::Delay(_) => {}
        }
        let kind = match (state.as_str(), copied) {
            ("pending", 0) => "acknowledged-not-copied",
            ("pending", _) => "copied-not-recorded",
            _ => "after-processing",
        };
        landings.record(
            point,
            kind,
            format!("{aim:?} {key}: event {state}, copies {copied}"),
        );

        // Started again: the stored event is processed once its job's lease has run out.
        (server, log) = serve(&env, &bind);
        let deadline = Instant::now() + Duration::from_secs(90);
        while event_state(&env, &id).as_deref() != Some("done") {
            assert!(
                Instant::now() < deadline,
                "{key}: event never processed; server log:\n{}",
                log.lock().unwrap()
            );
            pause(Duration::from_millis(100));
        }
        assert_eq!(copies_of(&env, &key), 1, "{key}: copied exactly once");
    }
    sigkill(&mut server);
    let all = copies(&labels_of(&env, "acme", "project = MKT"), "from-demo-");
    let source = labels_of(&env, "demo", "project = MKT");
    assert!(all.values().all(|n| *n == 1), "{all:?}");
    assert_eq!(all.len(), source.len(), "every source issue has its copy");
    let pending = query(
        &env,
        "SELECT COUNT(*) FROM listener_events WHERE state <> 'done'",
    );
    assert_eq!(pending[0][0].as_deref(), Some("0"), "every event processed");
    println!(
        "crash-proof listeners: seed={} points={points} | {} | copies expected={} found={} \
         (events {})",
        rng.seed,
        landings.summary(),
        source.len(),
        all.values().sum::<usize>(),
        keys.join(","),
    );
}
