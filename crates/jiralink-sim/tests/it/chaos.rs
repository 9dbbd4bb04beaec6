//! Faults drawn at a seeded random rate (`Knobs::chaos`) and the retry watch: every kind shows
//! as Jira shows it, at about its share, the same for a seed, counted as injected; early
//! retries after `Retry-After` are caught on the simulator's clock.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use pretty_assertions::assert_eq;
use reqwest::StatusCode;
use serde_json::json;

use jiralink_sim::knobs::{BurstLimits, ChaosKnobs};
use jiralink_sim::{Knobs, SimConfig, SimHandle};

use crate::platform::{Api, expect};
use crate::{client, get, start_with};

async fn sim_with(seed: u64, chaos: ChaosKnobs) -> SimHandle {
    start_with(SimConfig {
        seed,
        knobs: Knobs {
            burst: BurstLimits::uniform(0),
            chaos,
            ..Knobs::default()
        },
        ..SimConfig::for_tests()
    })
    .await
}

fn server_info(sim: &SimHandle) -> String {
    format!("{}/rest/api/3/serverInfo", sim.site_url("demo"))
}

/// What one GET came back as: a status with its `Retry-After`, or `None` without an answer.
async fn outcome(url: &str) -> Option<(u16, Option<String>)> {
    let response = client().get(url).send().await.ok()?;
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    // A cut answer fails while its body is read.
    response.bytes().await.ok()?;
    Some((status, retry_after))
}

async fn pattern(seed: u64, chaos: ChaosKnobs, n: usize) -> Vec<Option<(u16, Option<String>)>> {
    let sim = sim_with(seed, chaos).await;
    let mut out = Vec::new();
    for _ in 0..n {
        out.push(outcome(&server_info(&sim)).await);
    }
    sim.shutdown().await;
    out
}

fn everything() -> ChaosKnobs {
    ChaosKnobs {
        rate_limited_share: 0.1,
        unavailable_share: 0.1,
        no_retry_after_share: 0.3,
        retry_after_min_secs: 2,
        retry_after_max_secs: 4,
        server_error_share: 0.1,
        reset_share: 0.1,
        cut_share: 0.1,
        ..ChaosKnobs::default()
    }
}

#[tokio::test]
async fn chaos_is_reproducible_by_seed_and_shows_every_kind_as_jira_does() {
    let a = pattern(7, everything(), 300).await;
    assert_eq!(a, pattern(7, everything(), 300).await);
    assert_ne!(a, pattern(8, everything(), 300).await);
    let mut by_kind: BTreeMap<String, usize> = BTreeMap::new();
    for o in &a {
        let kind = match o {
            None => "no answer".to_owned(),
            Some((status @ (429 | 503), Some(secs))) => {
                let secs: u64 = secs.parse().unwrap();
                assert!((2..=4).contains(&secs), "Retry-After {secs}");
                format!("{status}")
            }
            Some((status, None)) => format!("{status} bare"),
            Some((status, Some(_))) => panic!("{status} with Retry-After"),
        };
        *by_kind.entry(kind).or_insert(0) += 1;
    }
    // Each kind near its share of 300 (30 each; 60 without an answer: resets and cuts).
    for (kind, low, high) in [
        ("200 bare", 120, 180),
        ("no answer", 35, 85),
        ("429", 10, 35),
        ("503", 10, 35),
        ("429 bare", 2, 20),
        ("503 bare", 2, 20),
    ] {
        let n = by_kind.get(kind).copied().unwrap_or(0);
        assert!((low..=high).contains(&n), "{kind}: {n} in {by_kind:?}");
    }
    let server_errors: usize = ["500 bare", "502 bare", "504 bare"]
        .iter()
        .map(|k| by_kind.get(*k).copied().unwrap_or(0))
        .sum();
    assert!((15..=45).contains(&server_errors), "{by_kind:?}");
}

#[tokio::test]
async fn injected_faults_are_counted_by_kind() {
    let sim = sim_with(3, everything()).await;
    let mut answered: BTreeMap<String, u64> = BTreeMap::new();
    for _ in 0..200 {
        if let Some((status, retry_after)) = outcome(&server_info(&sim)).await {
            let kind = match (status, retry_after) {
                (200, _) => continue,
                (s @ (429 | 503), None) => format!("{s} without Retry-After"),
                (s, _) => s.to_string(),
            };
            *answered.entry(kind).or_insert(0) += 1;
        }
    }
    let injected = sim.control().injected_faults();
    let no_answer =
        injected.get("reset").copied().unwrap_or(0) + injected.get("cut").copied().unwrap_or(0);
    assert!(no_answer > 0, "{injected:?}");
    let mut answered_kinds = injected.clone();
    answered_kinds.remove("reset");
    answered_kinds.remove("cut");
    assert_eq!(answered_kinds, answered);
    assert_eq!(sim.control().retry_report().requests, 200);
    sim.control().clear_fault_records();
    assert!(sim.control().injected_faults().is_empty());
}

#[tokio::test]
async fn a_cut_answer_sends_half_the_body_after_the_write_was_applied() {
    let sim = sim_with(
        1,
        ChaosKnobs {
            cut_share: 1.0,
            ..ChaosKnobs::default()
        },
    )
    .await;
    let api = Api::alice(&sim, "3");
    let response = client()
        .post(format!("{}/issue", api.base))
        .header("authorization", &api.auth)
        .json(&json!({"fields": {
            "project": {"key": "DEMO"},
            "issuetype": {"name": "Task"},
            "summary": "Cutanswer create",
        }}))
        .send()
        .await
        .expect("the status and headers arrive");
    assert_eq!(response.status(), StatusCode::CREATED);
    let length: usize = response.headers()["content-length"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(length > 10);
    assert!(response.bytes().await.is_err(), "the body is cut off");
    sim.control()
        .update_knobs(|k| k.chaos = ChaosKnobs::default())
        .unwrap();
    let found = api
        .post(
            "/search/jql",
            &json!({"jql": "project = DEMO AND summary ~ cutanswer", "fields": ["summary"]}),
        )
        .await;
    assert_eq!(
        expect(&found, StatusCode::OK)["issues"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let log = sim.control().requests();
    assert_eq!((log[0].status, log[0].lost), (Some(201), true));
    assert_eq!(sim.control().injected_faults()["cut"], 1);
}

#[tokio::test]
async fn a_reset_closes_before_anything_is_applied_and_spikes_hold_requests_back() {
    let sim = sim_with(
        1,
        ChaosKnobs {
            reset_share: 1.0,
            ..ChaosKnobs::default()
        },
    )
    .await;
    assert_eq!(outcome(&server_info(&sim)).await, None);
    assert_eq!(sim.control().requests()[0].status, None);
    sim.control()
        .update_knobs(|k| {
            k.chaos = ChaosKnobs {
                spike_share: 1.0,
                spike_min_ms: 150,
                spike_max_ms: 200,
                ..ChaosKnobs::default()
            }
        })
        .unwrap();
    let started = Instant::now();
    assert_eq!(get(&server_info(&sim), None).await.0, StatusCode::OK);
    assert!(started.elapsed() >= Duration::from_millis(150));
    let injected = sim.control().injected_faults();
    assert_eq!((injected["reset"], injected["spike"]), (1, 1));
}

#[tokio::test]
async fn chaos_shares_are_validated() {
    for bad in [
        ChaosKnobs {
            rate_limited_share: 1.5,
            ..ChaosKnobs::default()
        },
        ChaosKnobs {
            rate_limited_share: 0.6,
            reset_share: 0.6,
            ..ChaosKnobs::default()
        },
        ChaosKnobs {
            retry_after_min_secs: 5,
            retry_after_max_secs: 4,
            ..ChaosKnobs::default()
        },
    ] {
        let knobs = Knobs {
            chaos: bad.clone(),
            ..Knobs::default()
        };
        assert!(knobs.validate().is_err(), "{bad:?}");
    }
}

#[tokio::test]
async fn the_retry_watch_catches_a_retry_sooner_than_retry_after_on_the_sim_clock() {
    let sim = sim_with(1, ChaosKnobs::default()).await;
    let url = server_info(&sim);
    let control = sim.control();
    control.fail_next(1, 429, Some(5));
    assert_eq!(get(&url, None).await.0, StatusCode::TOO_MANY_REQUESTS);
    // Sent again after 4 s of simulator time: early.
    control.advance(Duration::from_secs(4));
    control.fail_next(1, 503, Some(2));
    assert_eq!(get(&url, None).await.0, StatusCode::SERVICE_UNAVAILABLE);
    // Then waited out.
    control.advance(Duration::from_secs(2));
    assert_eq!(get(&url, None).await.0, StatusCode::OK);
    let report = control.retry_report();
    assert_eq!(
        (
            report.requests,
            report.retries,
            report.told_to_wait,
            report.came_again,
            report.early
        ),
        (3, 2, 2, 2, 1)
    );
    assert_eq!(report.early_examples[0].retry_after_secs, 5);
    assert_eq!(report.early_examples[0].waited_ms, 4_000);
    assert_eq!(report.max_attempts_read, 3);
    // Another request, or the same one from other credentials, is not a retry.
    control.fail_next(1, 429, Some(5));
    assert_eq!(get(&url, None).await.0, StatusCode::TOO_MANY_REQUESTS);
    let other = format!("{}/rest/api/3/serverInfo", sim.site_url("acme"));
    assert_eq!(get(&other, None).await.0, StatusCode::OK);
    assert_eq!(control.retry_report().early, 1);
    let (_, served) = crate::knobs::control_call(
        reqwest::Method::GET,
        format!("{}/_sim/retries", sim.base_url()),
        None,
    )
    .await;
    assert_eq!(served["early"], 1);
    assert_eq!(served["told_to_wait"], 3);
}
