//! Knobs (rate limits, faults, latency), the request log, the control HTTP API and TLS.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::response::IntoResponse as _;
use pretty_assertions::assert_eq;
use reqwest::StatusCode;
use serde_json::{Value, json};

use jiralink_sim::knobs::BurstLimits;
use jiralink_sim::{Knobs, SimConfig};

use crate::oauth::{bearer, tokens};
use crate::platform::{Api, expect};
use crate::{alice_classic, basic, client, gateway, get, json, start, start_with};

fn server_info(sim: &jiralink_sim::SimHandle) -> String {
    format!("{}/rest/api/3/serverInfo", sim.site_url("demo"))
}

#[tokio::test]
async fn burst_limit_answers_429_with_atlassians_headers() {
    let sim = start().await;
    sim.control()
        .update_knobs(|k| k.burst = BurstLimits::uniform(2))
        .expect("knobs");
    let url = server_info(&sim);
    assert_eq!(get(&url, None).await.0, StatusCode::OK);
    assert_eq!(get(&url, None).await.0, StatusCode::OK);
    let (status, headers, body) = get(&url, None).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(headers["retry-after"], "1");
    assert_eq!(headers["x-ratelimit-limit"], "2");
    assert_eq!(headers["x-ratelimit-remaining"], "0");
    assert_eq!(headers["ratelimit-reason"], "jira-burst-based");
    // Two tokens per second: the next one is due half a second later, which Jira rounds up
    // to whole seconds.
    assert_eq!(headers["x-ratelimit-reset"], "2026-01-05T09:30:01Z");
    assert!(json(&body)["errorMessages"].is_array());
    // Other sites have their own bucket; time refills this one.
    assert_eq!(
        get(
            &format!("{}/rest/api/3/serverInfo", sim.site_url("acme")),
            None
        )
        .await
        .0,
        StatusCode::OK
    );
    sim.control().advance(Duration::from_secs(1));
    assert_eq!(get(&url, None).await.0, StatusCode::OK);
}

#[tokio::test]
async fn burst_limit_can_be_switched_off() {
    let sim = start_with(SimConfig {
        knobs: Knobs {
            burst: BurstLimits::uniform(0),
            ..Knobs::default()
        },
        ..SimConfig::for_tests()
    })
    .await;
    for _ in 0..5 {
        assert_eq!(get(&server_info(&sim), None).await.0, StatusCode::OK);
    }
}

#[tokio::test]
async fn hourly_quota_limits_oauth_traffic_until_the_top_of_the_hour() {
    let sim = start().await;
    sim.control()
        .update_knobs(|k| k.quota_points_per_hour = Some(5))
        .expect("knobs");
    let t = tokens(&sim).await;
    let url = format!("{}/rest/api/3/myself", gateway(&sim, "demo"));
    for i in 0..5u64 {
        let (status, headers, _) = get(&url, Some(&bearer(&t))).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            headers["x-ratelimit-remaining"],
            (4 - i).to_string().as_str()
        );
        assert_eq!(
            headers.get("x-ratelimit-nearlimit").is_some(),
            4 - i == 0,
            "request {i}"
        );
    }
    let (status, headers, _) = get(&url, Some(&bearer(&t))).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(headers["ratelimit-reason"], "jira-quota-global-based");
    assert_eq!(headers["retry-after"], "1800");
    assert_eq!(headers["x-ratelimit-reset"], "2026-01-05T10:00:00Z");
    assert_eq!(headers["x-ratelimit-limit"], "5");

    let (status, _, _) = get(&url, Some(&alice_classic(&sim))).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "API-token traffic is not counted against the quota"
    );

    sim.control().advance(Duration::from_secs(1800));
    assert_eq!(
        get(&url, Some(&bearer(&t))).await.0,
        StatusCode::OK,
        "a new hour"
    );
}

#[tokio::test]
async fn fail_next_answers_the_given_status_then_recovers() {
    let sim = start().await;
    sim.control().fail_next(2, 503, Some(7));
    for _ in 0..2 {
        let (status, headers, body) = get(&server_info(&sim), None).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(headers["retry-after"], "7");
        assert!(
            json(&body)["errorMessages"][0]
                .as_str()
                .expect("msg")
                .contains("503")
        );
    }
    assert_eq!(get(&server_info(&sim), None).await.0, StatusCode::OK);
    assert_eq!(sim.control().pending_faults().fail_next, 0);
}

async fn failure_pattern(seed: u64) -> Vec<u16> {
    let sim = start_with(SimConfig {
        seed,
        knobs: Knobs {
            fail_rate: 0.3,
            ..Knobs::default()
        },
        ..SimConfig::for_tests()
    })
    .await;
    let mut out = Vec::new();
    for _ in 0..40 {
        out.push(get(&server_info(&sim), None).await.0.as_u16());
    }
    sim.shutdown().await;
    out
}

#[tokio::test]
async fn random_failures_are_reproducible_by_seed() {
    let a = failure_pattern(7).await;
    assert_eq!(a, failure_pattern(7).await);
    assert_ne!(a, failure_pattern(8).await);
    assert!(a.iter().any(|s| *s >= 500) && a.contains(&200), "{a:?}");
    assert!(a.iter().all(|s| [200, 500, 502, 503, 504].contains(s)));
}

#[tokio::test]
async fn latency_is_added_to_every_request() {
    let sim = start().await;
    sim.control()
        .update_knobs(|k| k.latency_ms = 150)
        .expect("knobs");
    let started = Instant::now();
    assert_eq!(get(&server_info(&sim), None).await.0, StatusCode::OK);
    assert!(started.elapsed() >= Duration::from_millis(150));
}

#[tokio::test]
async fn dropped_connections_close_without_a_response() {
    let sim = start().await;
    sim.control().drop_next(1);
    let err = client()
        .get(server_info(&sim))
        .send()
        .await
        .expect_err("no response");
    assert!(!err.is_status() && !err.is_timeout(), "{err}");
    assert_eq!(get(&server_info(&sim), None).await.0, StatusCode::OK);
    let log = sim.control().requests();
    assert_eq!(log[0].status, None, "the log records the drop");
    assert_eq!(log[1].status, Some(200));
}

/// Sends a request that must end without a response (a lost answer) and checks how it failed.
async fn expect_lost(req: reqwest::RequestBuilder) {
    let err = req.send().await.expect_err("the answer is lost");
    assert!(
        err.is_request() && !err.is_status() && !err.is_timeout() && err.status().is_none(),
        "{err}"
    );
}

/// Keys of the issues `jql` finds, through `POST /search/jql` (a read: never lost).
async fn search_keys(api: &Api, jql: &str) -> Vec<String> {
    let reply = api
        .post(
            "/search/jql",
            &json!({"jql": jql, "fields": ["summary"], "maxResults": 50}),
        )
        .await;
    expect(&reply, StatusCode::OK)["issues"]
        .as_array()
        .expect("issues")
        .iter()
        .map(|i| i["key"].as_str().expect("key").to_owned())
        .collect()
}

#[tokio::test]
async fn lost_answer_of_a_create_still_creates_the_issue() {
    let sim = start().await;
    let api = Api::alice(&sim, "3");
    sim.control().lose_next(1);
    assert_eq!(sim.control().pending_faults().lose_next, 1);
    expect_lost(
        client()
            .post(format!("{}/issue", api.base))
            .header("authorization", &api.auth)
            .json(&json!({"fields": {
                "project": {"key": "DEMO"},
                "issuetype": {"name": "Task"},
                "summary": "Lostanswer create",
            }})),
    )
    .await;
    assert_eq!(sim.control().pending_faults().lose_next, 0);

    // Exactly one issue: the client saw an error, did not retry, and the write stands.
    let keys = search_keys(&api, "project = DEMO AND summary ~ lostanswer").await;
    assert_eq!(keys.len(), 1, "{keys:?}");
    let issue = api.get(&format!("/issue/{}?fields=summary", keys[0])).await;
    assert_eq!(
        expect(&issue, StatusCode::OK)["fields"]["summary"],
        "Lostanswer create"
    );

    let log = sim.control().requests();
    assert_eq!(log[0].method, "POST");
    assert_eq!(log[0].status, Some(201), "the log keeps the real status");
    assert!(log[0].lost);
    assert!(log[1..].iter().all(|e| !e.lost && e.status == Some(200)));
    let (_, served) = control_call(
        reqwest::Method::GET,
        format!("{}/_sim/requests", sim.base_url()),
        None,
    )
    .await;
    assert_eq!(served[0]["status"], 201);
    assert_eq!(served[0]["lost"], true);
    assert_eq!(served[1]["lost"], false);
}

#[tokio::test]
async fn lost_answer_of_a_bulk_create_keeps_every_issue() {
    let sim = start().await;
    let api = Api::alice(&sim, "3");
    sim.control().lose_next(1);
    let issue = |summary: &str| json!({"fields": {"project": {"key": "MKT"}, "issuetype": {"name": "Task"}, "summary": summary}});
    expect_lost(
        client()
            .post(format!("{}/issue/bulk", api.base))
            .header("authorization", &api.auth)
            .json(&json!({"issueUpdates": [issue("Bulklost one"), issue("Bulklost two")]})),
    )
    .await;
    let keys = search_keys(&api, "project = MKT AND summary ~ bulklost").await;
    assert_eq!(keys.len(), 2, "{keys:?}");
    let log = sim.control().requests();
    assert_eq!((log[0].status, log[0].lost), (Some(201), true));
}

#[tokio::test]
async fn lose_rate_loses_the_answers_of_writes_but_not_of_reads() {
    let sim = start().await;
    let api = Api::alice(&sim, "3");
    let knobs = format!("{}/_sim/knobs", sim.base_url());
    let (status, _) = control_call(
        reqwest::Method::PATCH,
        knobs.clone(),
        Some(json!({"lose_rate": 1.5})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "validated like fail_rate");
    let (status, set) = control_call(
        reqwest::Method::PATCH,
        knobs,
        Some(json!({"lose_rate": 1.0})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(set["lose_rate"], 1.0);

    expect_lost(
        client()
            .put(format!("{}/issue/DEMO-1", api.base))
            .header("authorization", &api.auth)
            .json(&json!({"fields": {"summary": "Edited while lost"}})),
    )
    .await;
    let read = api.get("/issue/DEMO-1?fields=summary").await;
    assert_eq!(
        expect(&read, StatusCode::OK)["fields"]["summary"],
        "Edited while lost"
    );
    assert_eq!(
        search_keys(&api, "key = DEMO-1").await,
        vec!["DEMO-1".to_owned()],
        "POST searches are reads"
    );
    let log = sim.control().requests();
    let outcomes: Vec<(&str, Option<u16>, bool)> = log
        .iter()
        .map(|e| (e.method.as_str(), e.status, e.lost))
        .collect();
    assert_eq!(
        outcomes,
        vec![
            ("PUT", Some(204), true),
            ("GET", Some(200), false),
            ("POST", Some(200), false)
        ]
    );
    assert_eq!(
        sim.control().pending_faults().lose_next,
        0,
        "the rate queues nothing"
    );
}

#[tokio::test]
async fn lose_next_over_http_can_be_limited_to_methods() {
    let sim = start().await;
    let api = Api::alice(&sim, "3");
    let lose_next = format!("{}/_sim/lose-next", sim.base_url());
    let (status, pending) = control_call(
        reqwest::Method::POST,
        lose_next.clone(),
        Some(json!({"count": 1, "methods": ["POST", "put"]})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        pending,
        json!({"fail_next":0,"drop_next":0,"hold_next":0,"lose_next":1})
    );
    let (status, _) = control_call(
        reqwest::Method::POST,
        lose_next.clone(),
        Some(json!({"methods": ["NOT A METHOD"]})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // Reads do not consume a loss meant for writes.
    expect(&api.get("/issue/DEMO-1").await, StatusCode::OK);
    assert_eq!(sim.control().pending_faults().lose_next, 1);
    expect_lost(
        client()
            .put(format!("{}/issue/DEMO-1", api.base))
            .header("authorization", &api.auth)
            .json(&json!({"fields": {"summary": "Written, answer lost"}})),
    )
    .await;
    assert_eq!(sim.control().pending_faults().lose_next, 0);
    let read = api.get("/issue/DEMO-1?fields=summary").await;
    assert_eq!(
        expect(&read, StatusCode::OK)["fields"]["summary"],
        "Written, answer lost"
    );

    // Without `methods` any request consumes it; DELETE /_sim/faults clears queued losses.
    let (_, pending) =
        control_call(reqwest::Method::POST, lose_next.clone(), Some(json!({}))).await;
    assert_eq!(pending["lose_next"], 1);
    expect_lost(
        client()
            .get(format!("{}/issue/DEMO-1", api.base))
            .header("authorization", &api.auth),
    )
    .await;
    let (_, pending) = control_call(
        reqwest::Method::POST,
        lose_next,
        Some(json!({"count": 3, "methods": []})),
    )
    .await;
    assert_eq!(pending["lose_next"], 3, "an empty list means any method");
    expect_lost(
        client()
            .get(format!("{}/issue/DEMO-1", api.base))
            .header("authorization", &api.auth),
    )
    .await;
    let (_, cleared) = control_call(
        reqwest::Method::DELETE,
        format!("{}/_sim/faults", sim.base_url()),
        None,
    )
    .await;
    assert_eq!(cleared["lose_next"], 0);
    expect(&api.get("/issue/DEMO-1").await, StatusCode::OK);
}

#[tokio::test]
async fn lose_next_for_counts_only_the_listed_methods() {
    let sim = start().await;
    let api = Api::alice(&sim, "3");
    sim.control().lose_next_for(1, &[reqwest::Method::DELETE]);
    expect(
        &api.put("/issue/DEMO-2", &json!({"fields": {"summary": "kept"}}))
            .await,
        StatusCode::NO_CONTENT,
    );
    expect_lost(
        client()
            .delete(format!("{}/issue/DEMO-2", api.base))
            .header("authorization", &api.auth),
    )
    .await;
    expect(&api.get("/issue/DEMO-2").await, StatusCode::NOT_FOUND);
    let log = sim.control().requests();
    assert_eq!((log[1].status, log[1].lost), (Some(204), true));
}

#[tokio::test]
#[expect(
    clippy::disallowed_methods,
    reason = "test clients talk to the local simulator"
)]
async fn held_requests_time_out_clients_and_release_on_the_sim_clock() {
    let sim = start().await;
    let control = sim.control();
    control.hold_next(1, Duration::from_secs(30));
    let _ = rustls::crypto::ring::default_provider().install_default();
    let impatient = reqwest::Client::builder()
        .timeout(Duration::from_millis(300))
        .build()
        .expect("client");
    let err = impatient
        .get(server_info(&sim))
        .send()
        .await
        .expect_err("held");
    assert!(err.is_timeout(), "{err}");

    control.hold_next(1, Duration::from_secs(30));
    let url = server_info(&sim);
    let request = tokio::spawn(async move { client().get(url).send().await.map(|r| r.status()) });
    for _ in 0..100_000 {
        if control.pending_faults().hold_next == 0 {
            break;
        }
        tokio::task::yield_now().await;
    }
    assert_eq!(
        control.pending_faults().hold_next,
        0,
        "the request reached the hold"
    );
    assert!(!request.is_finished());
    control.advance(Duration::from_secs(30));
    let status = request.await.expect("task").expect("response");
    assert_eq!(status, StatusCode::GATEWAY_TIMEOUT);
}

/// Waits (yielding) until `held` requests are held at the simulator.
async fn until_held(control: &jiralink_sim::Control, held: usize) {
    for _ in 0..1_000_000 {
        if control.held() == held {
            return;
        }
        tokio::task::yield_now().await;
    }
    panic!("{} request(s) held, not {held}", control.held());
}

#[tokio::test]
async fn a_held_answer_of_a_bulk_create_comes_late_with_the_issues_already_made() {
    let sim = start().await;
    let api = Api::alice(&sim, "3");
    let control = sim.control();
    // The second bulk create is the one held; a search passes meanwhile.
    control.hold_matching(
        1,
        &jiralink_sim::control::HoldSpec {
            methods: vec![reqwest::Method::POST],
            path_suffix: Some("/issue/bulk".to_owned()),
            site: Some("demo".to_owned()),
            skip: 1,
            hold: Duration::from_secs(60),
            stage: jiralink_sim::control::HoldStage::After,
        },
    );
    let issue = |summary: &str| json!({"fields": {"project": {"key": "MKT"}, "issuetype": {"name": "Task"}, "summary": summary}});
    let bulk = |summaries: &[&str]| {
        client()
            .post(format!("{}/issue/bulk", api.base))
            .header("authorization", &api.auth)
            .json(&json!({"issueUpdates": summaries.iter().map(|s| issue(s)).collect::<Vec<_>>()}))
            .send()
    };
    let first = bulk(&["Heldbulk one"]).await.expect("answer");
    assert_eq!(first.status(), StatusCode::CREATED, "the first passes");
    let held = tokio::spawn(bulk(&["Heldbulk two", "Heldbulk three"]));
    until_held(&control, 1).await;
    // Jira made them before the answer left.
    let keys = search_keys(&api, "project = MKT AND summary ~ heldbulk").await;
    assert_eq!(keys.len(), 3, "{keys:?}");
    assert!(!held.is_finished());
    assert_eq!(control.pending_faults().hold_next, 0);
    control.advance(Duration::from_secs(60));
    let answer = held.await.expect("task").expect("answer");
    assert_eq!(answer.status(), StatusCode::CREATED);
    let body: Value = answer.json().await.expect("json");
    assert_eq!(body["issues"].as_array().expect("issues").len(), 2);
    until_held(&control, 0).await;
    let log = control.requests();
    let creates: Vec<_> = log
        .iter()
        .filter(|r| r.path.ends_with("/issue/bulk"))
        .collect();
    assert_eq!(creates.len(), 2);
    assert!(creates.iter().all(|r| r.status == Some(201) && !r.lost));
}

#[tokio::test]
async fn hold_next_over_http_can_aim_at_one_request() {
    let sim = start().await;
    let base = sim.base_url();
    let (status, pending) = control_call(
        reqwest::Method::POST,
        format!("{base}/_sim/hold-next"),
        Some(json!({"count": 1, "seconds": 30, "methods": ["get"], "path": "/serverInfo", "skip": 1, "stage": "after"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{pending}");
    assert_eq!(pending["hold_next"], 1);
    let (status, _) = control_call(
        reqwest::Method::POST,
        format!("{base}/_sim/hold-next"),
        Some(json!({"count": 1, "seconds": 30, "methods": ["G E T"]})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // The first serverInfo passes (skipped), the second is answered only after the hold.
    assert_eq!(get(&server_info(&sim), None).await.0, StatusCode::OK);
    let url = server_info(&sim);
    let second = tokio::spawn(async move { client().get(url).send().await.map(|r| r.status()) });
    until_held(&sim.control(), 1).await;
    let (_, held) = control_call(reqwest::Method::GET, format!("{base}/_sim/held"), None).await;
    assert_eq!(held, json!({"held": 1}));
    // Released before its time: the clock has not moved.
    let (status, _) =
        control_call(reqwest::Method::DELETE, format!("{base}/_sim/held"), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(
        second.await.expect("task").expect("answer"),
        StatusCode::OK,
        "held after the handler: the real answer, late"
    );
    until_held(&sim.control(), 0).await;
}

#[tokio::test]
async fn per_issue_write_helper_limits_writes_to_one_issue() {
    let sim = start().await;
    let control = sim.control();
    let site = control.site("demo").expect("demo");
    for _ in 0..20 {
        control
            .state()
            .check_issue_write(&site, "10001")
            .expect("within 20 per 2 s");
    }
    let response = control
        .state()
        .check_issue_write(&site, "10001")
        .expect_err("21st")
        .into_response();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        response.headers()["ratelimit-reason"],
        "jira-per-issue-on-write"
    );
    assert_eq!(response.headers()["retry-after"], "2");
    control
        .state()
        .check_issue_write(&site, "10002")
        .expect("another issue");
    control.advance(Duration::from_secs(2));
    control
        .state()
        .check_issue_write(&site, "10001")
        .expect("window passed");
}

#[tokio::test]
async fn per_issue_write_limits_are_knobs_of_the_control_api() {
    let sim = start().await;
    let auth = alice_classic(&sim);
    let edit = |summary: &'static str| {
        let auth = auth.clone();
        let url = format!("{}/rest/api/3/issue/DEMO-1", sim.site_url("demo"));
        async move {
            client()
                .put(url)
                .header("authorization", auth)
                .json(&json!({"fields": {"summary": summary}}))
                .send()
                .await
                .expect("edit")
                .status()
        }
    };
    let (status, knobs) = control_call(
        reqwest::Method::PATCH,
        format!("{}/_sim/knobs", sim.base_url()),
        Some(json!({"per_issue_writes_per_2s": 2})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(knobs["per_issue_writes_per_2s"], 2);
    assert_eq!(knobs["per_issue_writes_per_30s"], 100);
    assert_eq!(edit("one").await, StatusCode::NO_CONTENT);
    assert_eq!(edit("two").await, StatusCode::NO_CONTENT);
    assert_eq!(edit("three").await, StatusCode::TOO_MANY_REQUESTS);

    // 0 switches the limit off: the same burst now goes through.
    sim.control()
        .update_knobs(|k| k.per_issue_writes_per_2s = 0)
        .expect("knobs");
    for _ in 0..25 {
        assert_eq!(edit("many").await, StatusCode::NO_CONTENT);
    }
}

#[tokio::test]
async fn request_log_records_requests_with_secrets_masked() {
    let sim = start().await;
    let auth = alice_classic(&sim);
    let _ = get(
        &format!("{}/rest/api/3/myself?expand=groups", sim.site_url("demo")),
        Some(&auth),
    )
    .await;
    let _ = get(
        &format!("{}/rest/api/3/myself", gateway(&sim, "acme")),
        Some(&auth),
    )
    .await;
    let _ = get(
        &format!(
            "{}/oauth/token/accessible-resources?token=abc",
            sim.base_url()
        ),
        None,
    )
    .await;
    let log = sim.control().requests();
    assert_eq!(log.len(), 3);
    assert_eq!(log[0].method, "GET");
    assert_eq!(log[0].path, "/site/demo/rest/api/3/myself");
    assert_eq!(log[0].query.as_deref(), Some("expand=groups"));
    assert_eq!(log[0].site.as_deref(), Some("demo"));
    assert_eq!(log[0].status, Some(200));
    assert_eq!(log[0].headers["authorization"], "Basic [redacted]");
    assert_eq!(log[1].site.as_deref(), Some("acme"));
    assert_eq!(log[1].via, Some(jiralink_sim::state::Via::Gateway));
    assert_eq!(log[2].query.as_deref(), Some("token=%5Bredacted%5D"));
    assert_eq!(log[2].status, Some(401));
    assert!(log.windows(2).all(|w| w[0].id < w[1].id));
    let serialized = serde_json::to_string(&log).expect("json");
    assert!(!serialized.contains(&sim.samples().api_token));
    assert!(!serialized.contains(auth.trim_start_matches("Basic ")));
    sim.control().clear_requests();
    assert!(sim.control().requests().is_empty());
}

pub(crate) async fn control_call(
    method: reqwest::Method,
    url: String,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut req = client().request(method, url);
    if let Some(body) = body {
        req = req.json(&body);
    }
    let res = req.send().await.expect("control request");
    let status = res.status();
    let text = res.text().await.expect("body");
    (
        status,
        if text.is_empty() {
            Value::Null
        } else {
            json(&text)
        },
    )
}

#[tokio::test]
async fn control_http_api_covers_knobs_faults_clock_identities_and_log() {
    let sim = start().await;
    let base = format!("{}/_sim", sim.base_url());
    use reqwest::Method;

    let (status, info) = control_call(Method::GET, format!("{base}/info"), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(info["site_url_template"], sim.site_url_template());
    assert_eq!(info["sample"]["email"], "alice@example.com");
    assert_eq!(info["sites"].as_array().expect("sites").len(), 2);

    let (status, knobs) = control_call(
        Method::PATCH,
        format!("{base}/knobs"),
        Some(json!({"index_lag_secs": 5, "burst": {"get": 3}})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(knobs["index_lag_secs"], 5);
    assert_eq!(knobs["burst"]["get"], 3);
    assert_eq!(knobs["burst"]["post"], 100);
    assert_eq!(sim.control().knobs().index_lag_secs, 5);
    let (status, _) = control_call(
        Method::PATCH,
        format!("{base}/knobs"),
        Some(json!({"fail_rate": 2.0})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = control_call(
        Method::PATCH,
        format!("{base}/knobs"),
        Some(json!({"no_such_knob": 1})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    let (status, pending) = control_call(
        Method::POST,
        format!("{base}/fail-next"),
        Some(json!({"count": 1, "status": 502, "retry_after": 3})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(pending["fail_next"], 1);
    assert_eq!(
        get(&server_info(&sim), None).await.0,
        StatusCode::BAD_GATEWAY
    );
    let (_, _) = control_call(
        Method::POST,
        format!("{base}/drop-next"),
        Some(json!({"count": 2})),
    )
    .await;
    let (_, cleared) = control_call(Method::DELETE, format!("{base}/faults"), None).await;
    assert_eq!(
        cleared,
        json!({"fail_next":0,"drop_next":0,"hold_next":0,"lose_next":0})
    );

    let (_, clock) = control_call(Method::GET, format!("{base}/clock"), None).await;
    assert_eq!(clock, json!({"now":"2026-01-05T09:30:00Z","mode":"manual"}));
    let (_, clock) = control_call(
        Method::POST,
        format!("{base}/clock/advance"),
        Some(json!({"seconds": 3600})),
    )
    .await;
    assert_eq!(clock["now"], "2026-01-05T10:30:00Z");
    let (_, clock) = control_call(
        Method::POST,
        format!("{base}/clock/set"),
        Some(json!({"at": "2026-02-01T00:00:00Z"})),
    )
    .await;
    assert_eq!(clock["now"], "2026-02-01T00:00:00Z");

    let (status, user) = control_call(
        Method::POST,
        format!("{base}/users"),
        Some(json!({"email":"erin@example.com","display_name":"Erin","sites":["acme"]})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(user["time_zone"], "Etc/UTC");
    let (status, _) = control_call(
        Method::POST,
        format!("{base}/users"),
        Some(json!({"email":"x@example.com","display_name":"X","sites":["nowhere"]})),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, token) = control_call(
        Method::POST,
        format!("{base}/api-tokens"),
        Some(json!({"email":"erin@example.com","kind":"scoped","scopes":["read:jira-user"]})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let erin = basic("erin@example.com", token["token"].as_str().expect("token"));
    let (status, _, body) = get(
        &format!("{}/rest/api/3/myself", gateway(&sim, "acme")),
        Some(&erin),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(json(&body)["displayName"], "Erin");

    let (status, app) = control_call(
        Method::POST,
        format!("{base}/oauth-apps"),
        Some(json!({"callbacks":["http://localhost:7000/cb"]})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    assert!(app["client_secret"].is_string());

    let (_, grants) = control_call(Method::GET, format!("{base}/grants"), None).await;
    assert_eq!(grants, json!([]));
    let (_, revoked) = control_call(
        Method::POST,
        format!("{base}/grants/revoke"),
        Some(json!({})),
    )
    .await;
    assert_eq!(revoked, json!({"revoked": 0}));

    let (_, log) = control_call(Method::GET, format!("{base}/requests"), None).await;
    let paths: Vec<&str> = log
        .as_array()
        .expect("log")
        .iter()
        .map(|e| e["path"].as_str().expect("path"))
        .collect();
    assert!(
        paths.iter().all(|p| !p.starts_with("/_sim")),
        "control calls are not logged: {paths:?}"
    );
    assert_eq!(paths.len(), 2);
    let (status, _) = control_call(Method::DELETE, format!("{base}/requests"), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(sim.control().requests().is_empty());
}

#[expect(
    clippy::disallowed_methods,
    reason = "test clients talk to the local simulator"
)]
fn tls_client(ca_pem: Option<&[u8]>) -> reqwest::Client {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject as _;
    let mut roots = rustls::RootCertStore::empty();
    if let Some(pem) = ca_pem {
        for cert in CertificateDer::pem_slice_iter(pem) {
            roots.add(cert.expect("pem")).expect("root");
        }
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("protocols")
    .with_root_certificates(roots)
    .with_no_client_auth();
    reqwest::Client::builder()
        .tls_backend_preconfigured(config)
        .build()
        .expect("client")
}

#[tokio::test]
async fn tls_serves_https_with_a_ca_clients_can_trust() {
    let sim = start_with(SimConfig {
        tls: true,
        ..SimConfig::for_tests()
    })
    .await;
    assert!(sim.base_url().starts_with("https://127.0.0.1:"));
    let ca_path = sim.ca_cert_pem_path().expect("CA file").to_owned();
    let pem = std::fs::read(&ca_path).expect("read CA");

    let trusted = tls_client(Some(&pem));
    let res = trusted
        .get(server_info(&sim))
        .send()
        .await
        .expect("https request");
    assert_eq!(res.status(), StatusCode::OK);
    let info: Value = res.json().await.expect("json");
    assert!(
        info["baseUrl"]
            .as_str()
            .expect("url")
            .starts_with("https://")
    );

    let port = sim.local_addr().port();
    let res = trusted
        .get(format!("https://localhost:{port}/rest/api/3/serverInfo"))
        .send()
        .await
        .expect("localhost name validates too");
    assert_eq!(res.status(), StatusCode::OK);

    let banner = jiralink_sim::cli::banner(&sim);
    assert!(banner.contains(&ca_path.display().to_string()), "{banner}");
    assert!(banner.contains(&sim.site_url_template()));
    assert!(banner.contains(&sim.samples().api_token));
    assert!(banner.contains(&sim.samples().oauth_client_secret));
    assert!(banner.contains("http://127.0.0.1:8080/connection/oauth2callback"));

    let untrusted = tls_client(None);
    assert!(
        untrusted.get(server_info(&sim)).send().await.is_err(),
        "unknown CA is refused"
    );

    sim.shutdown().await;
    assert!(!ca_path.exists(), "the CA file is removed on shutdown");
}
