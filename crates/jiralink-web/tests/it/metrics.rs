//! `/metrics`: the key is required, the exposition parses, routes are templates, and Jira
//! calls, rate-limit waits, token refreshes and connection states are counted, against the
//! simulator. Each test records into its own Prometheus recorder, set for its thread only.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::{Method, StatusCode, header};
use jiralink_app::App;
use jiralink_atlassian::{ApiBase, AuthRoute, Credentials, JiraClient, RetryPolicy, SystemClock};
use jiralink_domain::{ApiType, AtlassianEndpoints, Clock as _, Email, ManualClock, Subdomain};
use jiralink_sim::{Sim, SimConfig, SimHandle};
use jiralink_vault::ApiToken;
use jiralink_web::{ApiKeyHash, AppState, ServerOptions, router};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusRecorder};
use pretty_assertions::assert_eq;
use serde_json::json;

use crate::{KEY, call};

struct MetricsFixture {
    _dir: tempfile::TempDir,
    sim: SimHandle,
    app: App,
    clock: ManualClock,
    router: Router,
    recorder: Arc<PrometheusRecorder>,
}

/// The server as the binary builds it: the same histogram buckets, `/metrics` rendering
/// this test's recorder.
async fn fixture() -> MetricsFixture {
    let sim = Sim::start(SimConfig::for_tests()).await.unwrap();
    let clock = crate::test_clock();
    let (dir, app) = crate::open_app(&crate::sim_config(&sim), &clock).await;
    let recorder = Arc::new(
        PrometheusBuilder::new()
            .set_buckets_for_metric(
                Matcher::Full(jiralink_web::HTTP_REQUEST_DURATION_SECONDS.to_owned()),
                jiralink_web::HTTP_REQUEST_DURATION_BUCKETS,
            )
            .unwrap()
            .build_recorder(),
    );
    let handle = recorder.handle();
    let options = ServerOptions {
        demo: None,
        metrics: Some(Arc::new(move || handle.render())),
    };
    let router = router(AppState::new(app.clone(), ApiKeyHash::of(KEY)).with_options(options));
    MetricsFixture {
        _dir: dir,
        sim,
        app,
        clock,
        router,
        recorder,
    }
}

/// One sample line: the metric's name, its labels and value.
#[derive(Debug)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// Parses the text exposition strictly enough to catch a malformed one: every sample line is
/// `name{label="value",…} number`, and every sample's family was declared with `# TYPE`.
fn parse_exposition(text: &str) -> Vec<Sample> {
    let mut types: HashMap<String, String> = HashMap::new();
    let mut samples = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap();
            assert!(
                ["counter", "gauge", "histogram", "summary"].contains(&kind),
                "{line}"
            );
            types.insert(name.to_owned(), kind.to_owned());
            continue;
        }
        if line.starts_with("# HELP ") {
            continue;
        }
        assert!(!line.starts_with('#'), "unknown comment: {line}");
        let (series, value) = line.rsplit_once(' ').unwrap();
        let value: f64 = value
            .parse()
            .unwrap_or_else(|e| panic!("{e}: bad value in {line}"));
        let (name, labels) = match series.split_once('{') {
            Some((name, rest)) => {
                let inner = rest.strip_suffix('}').unwrap_or_else(|| panic!("{line}"));
                let labels = inner
                    .split(',')
                    .filter(|p| !p.is_empty())
                    .map(|pair| {
                        let (k, v) = pair.split_once('=').unwrap_or_else(|| panic!("{line}"));
                        let v = v
                            .strip_prefix('"')
                            .and_then(|v| v.strip_suffix('"'))
                            .unwrap_or_else(|| panic!("unquoted label value: {line}"));
                        (k.to_owned(), v.to_owned())
                    })
                    .collect();
                (name.to_owned(), labels)
            }
            None => (series.to_owned(), BTreeMap::new()),
        };
        assert!(
            name.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'),
            "{line}"
        );
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| name.strip_suffix(s).filter(|f| types.contains_key(*f)))
            .unwrap_or(&name);
        assert!(types.contains_key(family), "no # TYPE for {line}");
        samples.push(Sample {
            name,
            labels,
            value,
        });
    }
    samples
}

/// The value of the series `name` with exactly these labels, if rendered.
fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let want: BTreeMap<String, String> = labels
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    samples
        .iter()
        .find(|s| s.name == name && s.labels == want)
        .map(|s| s.value)
}

async fn scrape(router: &Router) -> Vec<Sample> {
    let r = call(router, Method::GET, "/metrics", None, Some(KEY)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(
        r.headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4"),
        "{:?}",
        r.headers
    );
    parse_exposition(&r.text)
}

async fn basic_connection(f: &MetricsFixture) -> String {
    let samples = f.sim.samples();
    let r = call(
        &f.router,
        Method::POST,
        "/v1/connections",
        Some(json!({
            "name": "Jira demo", "apiType": "cloud-platform", "subdomain": "demo",
            "authType": "basic", "username": samples.email, "apiToken": samples.api_token,
        })),
        Some(KEY),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    r.json()["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn metrics_need_the_key_and_count_requests_by_route_template() {
    let f = fixture().await;
    let _local = ::metrics::set_default_local_recorder(&*f.recorder);
    jiralink_web::describe_metrics();
    for key in [None, Some("wrong-key")] {
        let r = call(&f.router, Method::GET, "/metrics", None, key).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{key:?}");
        assert_eq!(r.json()["error"]["code"], "unauthorized");
        assert!(!r.text.contains("jiralink_"), "{}", r.text);
    }
    let id = basic_connection(&f).await;
    let path = format!("/v1/connections/{id}");
    assert_eq!(
        call(&f.router, Method::GET, &path, None, Some(KEY))
            .await
            .status,
        StatusCode::OK
    );
    let missing = "/v1/connections/no-such-connection";
    assert_eq!(
        call(&f.router, Method::GET, missing, None, Some(KEY))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    call(&f.router, Method::GET, "/healthz", None, None).await;
    call(&f.router, Method::GET, "/v1/no/such/route", None, Some(KEY)).await;

    let r = call(&f.router, Method::GET, "/metrics", None, Some(KEY)).await;
    // Neither ids nor raw paths become label values.
    assert!(!r.text.contains(&id), "{}", r.text);
    assert!(!r.text.contains("no-such-connection"), "{}", r.text);
    assert!(!r.text.contains("/no/such/route"), "{}", r.text);
    let samples = parse_exposition(&r.text);
    let requests = "jiralink_http_requests_total";
    let by = |method, route, status| {
        value(
            &samples,
            requests,
            &[("method", method), ("route", route), ("status", status)],
        )
    };
    assert_eq!(by("GET", "/healthz", "200"), Some(1.0));
    assert_eq!(by("POST", "/v1/connections", "201"), Some(1.0));
    assert_eq!(by("GET", "/v1/connections/{id}", "200"), Some(1.0));
    assert_eq!(by("GET", "/v1/connections/{id}", "404"), Some(1.0));
    assert_eq!(by("GET", "/metrics", "401"), Some(2.0));
    assert_eq!(by("GET", "unmatched", "404"), Some(1.0));
    // The histogram has buckets, a sum and a count per route.
    let duration = jiralink_web::HTTP_REQUEST_DURATION_SECONDS;
    let labels = [("method", "GET"), ("route", "/healthz")];
    assert_eq!(
        value(&samples, &format!("{duration}_count"), &labels),
        Some(1.0)
    );
    assert!(value(&samples, &format!("{duration}_sum"), &labels).is_some());
    assert_eq!(
        value(
            &samples,
            &format!("{duration}_bucket"),
            &[("method", "GET"), ("route", "/healthz"), ("le", "+Inf")]
        ),
        Some(1.0)
    );
    // Connection gauges come from the store at scrape time, every state present.
    for (state, n) in [
        ("untested", 1.0),
        ("online", 0.0),
        ("offline", 0.0),
        ("needs_authorization", 0.0),
    ] {
        assert_eq!(
            value(&samples, "jiralink_connections", &[("state", state)]),
            Some(n),
            "{state}"
        );
    }
    assert_eq!(
        value(&samples, "jiralink_connections_offline", &[]),
        Some(0.0)
    );
    assert!(
        r.text
            .contains("# HELP jiralink_http_requests_total Requests the server answered"),
        "{}",
        r.text
    );
}

/// A client of the sample account on the simulator's `demo` site that retries without
/// sleeping (its waits go on `clock`), with jitter fixed at 1.
fn sample_client(sim: &SimHandle, clock: &ManualClock) -> JiraClient {
    let endpoints = AtlassianEndpoints {
        site_url_template: sim.site_url_template(),
        api_gateway: url::Url::parse(&sim.api_gateway()).unwrap(),
        auth_server: url::Url::parse(&sim.auth_server()).unwrap(),
    };
    let base = ApiBase::resolve(
        &endpoints,
        ApiType::CloudPlatform,
        AuthRoute::BasicClassic,
        Some(&Subdomain::from_label("demo").unwrap()),
        None,
    )
    .unwrap();
    let samples = sim.samples();
    let credentials = Credentials::basic(
        Email::parse(&samples.email).unwrap(),
        ApiToken::new(samples.api_token.as_str()),
    );
    let http =
        jiralink_atlassian::build_client(&jiralink_atlassian::HttpConfig::default()).unwrap();
    JiraClient::builder(http, base, credentials)
        .clock(Arc::new(clock.clone()))
        .retry_policy(RetryPolicy {
            jitter: 1.0..=1.0,
            ..RetryPolicy::default()
        })
        .build()
}

#[tokio::test]
async fn jira_calls_and_rate_limit_waits_are_counted_against_the_simulator() {
    let f = fixture().await;
    let _local = ::metrics::set_default_local_recorder(&*f.recorder);
    let id = basic_connection(&f).await;
    let test = format!("/v1/connections/{id}/test");
    let r = call(&f.router, Method::POST, &test, None, Some(KEY)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let samples = scrape(&f.router).await;
    let jira = "jiralink_jira_requests_total";
    // Saving may test too: count from here on.
    let answered = value(&samples, jira, &[("status", "200")]).unwrap();
    assert!(answered >= 1.0);
    assert_eq!(
        value(&samples, "jiralink_rate_limit_waits_total", &[]),
        None
    );
    assert_eq!(
        value(&samples, "jiralink_connections", &[("state", "online")]),
        Some(1.0)
    );

    // Jira answers 429 with Retry-After: 7; the client waits, then the retry passes.
    // A clock of its own, on the real time the simulator's answers are on.
    let clock = ManualClock::new(SystemClock.now());
    let client = sample_client(&f.sim, &clock);
    f.sim.control().fail_next(1, 429, Some(7));
    client.myself().await.unwrap();
    let waits = clock.waits();
    assert_eq!(waits.len(), 1, "{waits:?}");
    assert!(waits[0] >= Duration::from_secs(7), "{waits:?}");
    // And 503 counts as a rate-limit wait too.
    f.sim.control().fail_next(1, 503, Some(2));
    client.myself().await.unwrap();
    let waits = clock.waits();
    assert_eq!(waits.len(), 2, "{waits:?}");

    let samples = scrape(&f.router).await;
    assert_eq!(value(&samples, jira, &[("status", "429")]), Some(1.0));
    assert_eq!(value(&samples, jira, &[("status", "503")]), Some(1.0));
    assert_eq!(
        value(&samples, jira, &[("status", "200")]),
        Some(answered + 2.0)
    );
    assert_eq!(
        value(&samples, "jiralink_rate_limit_waits_total", &[]),
        Some(2.0)
    );
    let whole_seconds: u64 = waits
        .iter()
        .map(|w| w.as_secs() + u64::from(w.subsec_nanos() > 0))
        .sum();
    assert_eq!(
        value(&samples, "jiralink_rate_limit_wait_seconds_total", &[]),
        Some(whole_seconds as f64)
    );

    // An answer that never arrives counts as `error`, and is no rate-limit wait.
    f.sim.control().drop_next(1);
    call(&f.router, Method::POST, &test, None, Some(KEY)).await;
    f.sim.control().clear_faults();
    let samples = scrape(&f.router).await;
    assert_eq!(value(&samples, jira, &[("status", "error")]), Some(1.0));
    assert_eq!(
        value(&samples, "jiralink_rate_limit_waits_total", &[]),
        Some(2.0)
    );
    // A refused token takes the connection offline; the gauges follow at the next scrape.
    f.sim.control().fail_next(1, 401, None);
    call(&f.router, Method::POST, &test, None, Some(KEY)).await;
    let samples = scrape(&f.router).await;
    assert_eq!(value(&samples, jira, &[("status", "401")]), Some(1.0));
    assert_eq!(
        value(&samples, "jiralink_connections_offline", &[]),
        Some(1.0)
    );
    assert_eq!(
        value(&samples, "jiralink_connections", &[("state", "offline")]),
        Some(1.0)
    );
    assert_eq!(
        value(&samples, "jiralink_connections", &[("state", "online")]),
        Some(0.0)
    );
}

#[tokio::test]
async fn token_refreshes_are_counted_by_outcome() {
    let f = fixture().await;
    let _local = ::metrics::set_default_local_recorder(&*f.recorder);
    let id = crate::sim_oauth_connection(&f.router, &f.sim, "Jira OAuth").await;
    let start = call(
        &f.router,
        Method::POST,
        &format!("/v1/connections/{id}/authorize"),
        None,
        Some(KEY),
    )
    .await;
    assert_eq!(start.status, StatusCode::OK, "{}", start.text);
    let authorize = start.json()["authorizationUrl"]
        .as_str()
        .unwrap()
        .to_owned();
    let res = f.app.http_client().get(authorize).send().await.unwrap();
    let back = url::Url::parse(res.headers()["location"].to_str().unwrap()).unwrap();
    let callback = format!("{}?{}", back.path(), back.query().unwrap());
    let r = call(&f.router, Method::GET, &callback, None, None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);

    let test = format!("/v1/connections/{id}/test");
    // Past the access token's hour, a use refreshes it.
    f.clock.advance(Duration::from_secs(2 * 3600));
    let r = call(&f.router, Method::POST, &test, None, Some(KEY)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    // Revoked on Atlassian's side, the next refresh is rejected.
    f.sim.control().revoke_grants(None, None);
    f.clock.advance(Duration::from_secs(2 * 3600));
    call(&f.router, Method::POST, &test, None, Some(KEY)).await;

    let samples = scrape(&f.router).await;
    let refreshes = "jiralink_token_refreshes_total";
    assert_eq!(value(&samples, refreshes, &[("outcome", "ok")]), Some(1.0));
    assert_eq!(
        value(&samples, refreshes, &[("outcome", "rejected")]),
        Some(1.0)
    );
    assert_eq!(value(&samples, refreshes, &[("outcome", "failed")]), None);
}

#[tokio::test]
async fn a_fresh_server_lists_the_event_counters_at_zero() {
    let f = fixture().await;
    let _local = ::metrics::set_default_local_recorder(&*f.recorder);
    // What `jiralink serve` calls at start-up, before any wait or refresh happened.
    jiralink_web::describe_metrics();
    let samples = scrape(&f.router).await;
    let refreshes = "jiralink_token_refreshes_total";
    for (name, labels) in [
        ("jiralink_rate_limit_waits_total", &[][..]),
        ("jiralink_rate_limit_wait_seconds_total", &[][..]),
        (refreshes, &[("outcome", "ok")][..]),
        (refreshes, &[("outcome", "rejected")][..]),
        (refreshes, &[("outcome", "failed")][..]),
    ] {
        assert_eq!(
            value(&samples, name, labels),
            Some(0.0),
            "{name} {labels:?}"
        );
    }
    // Starting them at 0 never resets a counter that already counts.
    ::metrics::counter!(refreshes, "outcome" => "ok").increment(2);
    jiralink_web::describe_metrics();
    let samples = scrape(&f.router).await;
    assert_eq!(value(&samples, refreshes, &[("outcome", "ok")]), Some(2.0));
}

#[tokio::test]
async fn a_server_without_a_recorder_says_so_behind_the_key() {
    let f = crate::fixture().await;
    let r = call(&f.router, Method::GET, "/metrics", None, None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let r = call(&f.router, Method::GET, "/metrics", None, Some(KEY)).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
    assert!(r.text.contains("metrics recorder"), "{}", r.text);
}

#[test]
fn the_parser_refuses_malformed_expositions() {
    let ok = "# TYPE a counter\na{x=\"1\"} 2\n";
    assert_eq!(parse_exposition(ok).len(), 1);
    for bad in [
        "a 1\n",
        "# TYPE a counter\na{x=1} 2\n",
        "# TYPE a counter\na two\n",
    ] {
        assert!(
            std::panic::catch_unwind(|| parse_exposition(bad)).is_err(),
            "{bad}"
        );
    }
}
