//! Listeners against a simulator in another process (see `scripts/bench-listener` and
//! docs/benchmarks.md, "Listeners").
//!
//! ```console
//! cargo run --release -p jiralink-bench --bin listener_bench -- \
//!     --base-url http://127.0.0.1:PORT --sim-pid PID --mode ingest [--seconds 10]
//!     [--senders 4] [--rounds 3]
//! cargo run --release -p jiralink-bench --bin listener_bench -- \
//!     --base-url http://127.0.0.1:PORT --sim-pid PID --mode latency --rate 10 [--seconds 60]
//!     [--rss-every 30]
//! ```
//!
//! Both modes open an application in this process ([`App`], SQLite in a temporary data
//! directory, [`SystemClock`]) with Basic connections "Demo" and "Acme" to the simulator, a
//! flow "Demo to Acme" (an export of MKT on `demo`, delta; an upsert import into MKT on
//! `acme`, external id `key` as a `from-demo-` label, `summary`), a listener on that flow (a
//! Basic connection's: an admin webhook with a secret) and serve the whole router
//! ([`jiralink_web::router`]) on 127.0.0.1 with `server.base_url` its own address.
//!
//! - `ingest`: `--senders` clients, each with one request in flight over a keep-alive
//!   connection, post HMAC-signed (`X-Hub-Signature`) bodies shaped like Jira's
//!   `jira:issue_updated` events, every one distinct with its own delivery id, for `--seconds`
//!   (after one second of the same load), alternately to a bare axum route on 127.0.0.1 that
//!   reads the body and answers 202 (the baseline) and to `POST /hooks/jira/{token}`;
//!   `--rounds` times. No worker runs, so what is measured is verify + store + acknowledge.
//!   Afterwards the listener's stored count is read back and compared with the deliveries
//!   acknowledged as new.
//! - `latency`: the worker runs for real ([`App::run_worker`]). A site administrator's admin
//!   webhook on `demo` (issue created and updated in MKT) delivers to the listener; another on
//!   `acme` delivers to a small receiver in this process. Writes go to `demo` through the
//!   simulator's REST API at `--rate` per second for `--seconds`: every other one creates an
//!   issue, the others rename an issue created some two seconds before (each issue once).
//!   Every write's summary ends with its number, so the receiver can tell which write an event
//!   of `acme` carries: the latency of a write is the `timestamp` of the first `acme` event
//!   with its summary (the simulator's clock, which follows the system clock) less the system
//!   time just before the write was sent to `demo`. A write is *superseded* when its issue's
//!   later write reached `acme` first (the flow copies an issue's current state), and *not
//!   copied* otherwise. At the end MKT on `acme` is read back: each written issue must have
//!   exactly one copy with the summary of its last write. With `--rss-every S`, the resident
//!   memory of this process (the server, the worker and the bench's own small part) and of the
//!   simulator is sampled every S seconds.
//! - `latency --baseline`: the same writes and measurement, but `demo`'s admin webhook
//!   delivers to a bare relay in this process instead of jiralink: it verifies nothing,
//!   stores nothing and runs no flow, and for each event creates the issue's copy on `acme`
//!   (the same `from-demo-<key>` label) or renames it, one event of an issue at a time. What
//!   is left is the simulator's two deliveries and one write: the floor any listener has.
//!
//! Prints one line of JSON per run.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use jiralink_app::{App, ListenerDraft, RunTrigger, WorkerOptions};
use jiralink_web::{ApiKeyHash, AppState};
use serde_json::{Value, json};
use url::Url;

use jiralink_bench::demo_flow::{self, DataDir, PROJECT};
use jiralink_bench::sim::{Site, site};
use jiralink_bench::{
    BoxError, percentile_ms,
    proc::{load_average, rss_kb},
};

const USAGE: &str = "usage: listener_bench --base-url URL --sim-pid PID --mode ingest|latency \
    [--seconds S] [--senders N] [--rounds N] [--rate PER_SECOND] [--rss-every S] [--baseline]";

/// The server's API key (no request of the benchmark uses `/v1`).
const API_KEY: &str = "listener-bench-api-key-not-used-by-any-request";

/// Who the benchmark acts as.
const BENCH: &str = "listener-bench";

/// The listener's name.
const LISTENER: &str = "demo-events";

/// Writes in flight to `demo` at most: pacing must not wait for a slow answer, but a stalled
/// simulator must not pile up tasks either.
const IN_FLIGHT: usize = 64;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Ingest,
    Latency,
}

#[derive(Debug, PartialEq)]
struct Args {
    base_url: Url,
    sim_pid: u32,
    mode: Mode,
    seconds: u64,
    senders: usize,
    rounds: u32,
    rate: f64,
    rss_every: u64,
    /// Latency through the bare relay instead of jiralink.
    baseline: bool,
}

impl Args {
    fn parse(mut argv: impl Iterator<Item = String>) -> Result<Self, String> {
        let mut base = None;
        let mut sim_pid = 0;
        let mut mode = None;
        let mut seconds = None;
        let mut senders = 4;
        let mut rounds = 3;
        let mut rate: f64 = 10.0;
        let mut rss_every = 0;
        let mut baseline = false;
        while let Some(flag) = argv.next() {
            if flag == "--baseline" {
                baseline = true;
                continue;
            }
            let value = argv
                .next()
                .ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))?;
            let bad = |e: &dyn std::fmt::Display| format!("{flag} {value}: {e}\n{USAGE}");
            match flag.as_str() {
                "--base-url" => base = Some(Url::parse(&value).map_err(|e| bad(&e))?),
                "--sim-pid" => sim_pid = value.parse().map_err(|e| bad(&e))?,
                "--mode" => {
                    mode = Some(match value.as_str() {
                        "ingest" => Mode::Ingest,
                        "latency" => Mode::Latency,
                        _ => return Err(bad(&"unknown mode")),
                    });
                }
                "--seconds" => seconds = Some(value.parse().map_err(|e| bad(&e))?),
                "--senders" => senders = value.parse().map_err(|e| bad(&e))?,
                "--rounds" => rounds = value.parse().map_err(|e| bad(&e))?,
                "--rate" => rate = value.parse().map_err(|e| bad(&e))?,
                "--rss-every" => rss_every = value.parse().map_err(|e| bad(&e))?,
                _ => return Err(format!("unknown flag {flag}\n{USAGE}")),
            }
        }
        let base_url = base.ok_or_else(|| format!("--base-url is required\n{USAGE}"))?;
        let loopback = matches!(base_url.host(), Some(url::Host::Ipv4(ip)) if ip.is_loopback());
        let mode = mode.ok_or_else(|| format!("--mode is required\n{USAGE}"))?;
        let seconds = seconds.unwrap_or(match mode {
            Mode::Ingest => 10,
            Mode::Latency => 60,
        });
        let rate_ok = rate.is_finite() && (0.1..=1000.0).contains(&rate);
        if !loopback || sim_pid == 0 || seconds == 0 || senders == 0 || rounds == 0 || !rate_ok {
            return Err(USAGE.to_owned());
        }
        if baseline && mode != Mode::Latency {
            return Err(format!("--baseline is for --mode latency\n{USAGE}"));
        }
        Ok(Self {
            base_url,
            sim_pid,
            mode,
            seconds,
            senders,
            rounds,
            rate,
            rss_every,
            baseline,
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Pure helpers

/// When write `n` (from 0) is due, after the start, at `rate` writes per second: paced from
/// the start, so a late write does not push back the ones after it.
fn due_after(n: u64, rate: f64) -> Duration {
    Duration::try_from_secs_f64(n as f64 / rate).unwrap_or(Duration::MAX)
}

/// How many writes fit in `seconds` at `rate` per second.
fn writes_in(seconds: u64, rate: f64) -> u64 {
    (seconds as f64 * rate).round() as u64
}

/// The summary of write `n`; [`write_of`] reads the number back.
fn summary(n: u64) -> String {
    format!("Listener bench write w{n}")
}

fn write_of(summary: &str) -> Option<u64> {
    summary
        .strip_prefix("Listener bench write w")
        .and_then(|n| n.parse().ok())
}

/// Milliseconds since the Unix epoch on the system clock (the simulator's events use the same
/// clock).
fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Start, middle, end and largest of samples.
fn start_middle_end_max(samples: &[u64]) -> Option<(u64, u64, u64, u64)> {
    let first = *samples.first()?;
    let last = *samples.last()?;
    let middle = samples[samples.len() / 2];
    let max = samples.iter().copied().max().unwrap_or(first);
    Some((first, middle, last, max))
}

/// One write to `demo`: its issue, and when it was sent.
#[derive(Debug, Clone)]
struct Write {
    n: u64,
    issue: String,
    sent_ms: i64,
}

/// What became of the writes, given the first time each write's summary was seen on `acme`.
#[derive(Debug, Default, PartialEq)]
struct Outcome {
    /// Milliseconds from the write on `demo` to the write on `acme`, sorted, as microseconds.
    latencies_us: Vec<u32>,
    superseded: u64,
    not_copied: Vec<u64>,
}

fn outcome(writes: &[Write], seen: &HashMap<u64, i64>) -> Outcome {
    // The newest write of each issue that reached acme.
    let mut newest_seen: HashMap<&str, u64> = HashMap::new();
    for w in writes {
        if seen.contains_key(&w.n) {
            let e = newest_seen.entry(w.issue.as_str()).or_insert(w.n);
            *e = (*e).max(w.n);
        }
    }
    let mut out = Outcome::default();
    for w in writes {
        match seen.get(&w.n) {
            Some(at) => {
                let us = (at - w.sent_ms).max(0).saturating_mul(1000);
                out.latencies_us.push(u32::try_from(us).unwrap_or(u32::MAX));
            }
            None if newest_seen.get(w.issue.as_str()).is_some_and(|n| *n > w.n) => {
                out.superseded += 1;
            }
            None => out.not_copied.push(w.n),
        }
    }
    out.latencies_us.sort_unstable();
    out
}

/// A body shaped like Jira's `jira:issue_updated` event (a summary changed), numbered `n`.
fn event_body(n: u64, timestamp_ms: i64) -> String {
    let id = 10_000 + n % 1_000;
    json!({
        "timestamp": timestamp_ms,
        "webhookEvent": "jira:issue_updated",
        "issue_event_type_name": "issue_updated",
        "user": {
            "self": "https://demo.atlassian.net/rest/api/2/user?accountId=5b10a2844c20165700ede21g",
            "accountId": "5b10a2844c20165700ede21g",
            "displayName": "Sample User",
            "active": true,
            "timeZone": "UTC",
            "accountType": "atlassian",
        },
        "issue": {
            "id": id.to_string(),
            "self": format!("https://demo.atlassian.net/rest/api/2/{id}"),
            "key": format!("MKT-{}", id - 10_000 + 1),
            "fields": {
                "summary": format!("Ingest event {n}"),
                "issuetype": {"id": "10001", "name": "Task", "subtask": false},
                "project": {"id": "10000", "key": PROJECT, "name": "Marketing"},
                "status": {"id": "3", "name": "In Progress", "statusCategory": {"id": 4, "key": "indeterminate"}},
                "priority": {"id": "3", "name": "Medium"},
                "labels": ["ingest"],
                "created": "2026-01-05T10:00:00.000+0000",
                "updated": "2026-01-05T10:00:00.000+0000",
            },
        },
        "changelog": {
            "id": (100_000 + n).to_string(),
            "items": [{
                "field": "summary",
                "fieldtype": "jira",
                "fieldId": "summary",
                "from": null,
                "fromString": format!("Ingest event {}", n.saturating_sub(1)),
                "to": null,
                "toString": format!("Ingest event {n}"),
            }],
        },
    })
    .to_string()
}

fn hub_signature(body: &str, secret: &[u8]) -> String {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret);
    format!(
        "sha256={}",
        hex::encode(ring::hmac::sign(&key, body.as_bytes()).as_ref())
    )
}

// ---------------------------------------------------------------------------------------------
// The application

/// The application, served on 127.0.0.1, with its flow and its listener.
struct Served {
    _dir: DataDir,
    app: App,
    addr: SocketAddr,
    /// The listener's delivery URL and secret.
    url: String,
    secret: String,
}

async fn serve(base_url: &Url) -> Result<Served, BoxError> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let dir = format!(
        "jiralink-listener-bench-{}-{}",
        std::process::id(),
        addr.port()
    );
    let (dir, app) =
        demo_flow::open_app(base_url, &dir, Some(&format!("http://{addr}/")), BENCH).await?;
    demo_flow::create_demo_to_acme(&app, &format!("project = {PROJECT}"), BENCH).await?;
    // The issues there are already: copied by an ordinary run, before anything is measured.
    app.run_flow("Demo to Acme", RunTrigger::Cli).await?;
    let created = app
        .create_listener(ListenerDraft {
            name: LISTENER.to_owned(),
            flow: "Demo to Acme".to_owned(),
            events: vec![
                "jira:issue_created".to_owned(),
                "jira:issue_updated".to_owned(),
            ],
            jql: None,
            field_ids: Vec::new(),
        })
        .await?;
    let secret = created
        .secret
        .ok_or("a Basic connection's listener has a secret")?
        .expose()
        .to_owned();
    let router = jiralink_web::router(AppState::new(app.clone(), ApiKeyHash::of(API_KEY)));
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, router).await {
            eprintln!("listener_bench: the server stopped: {e}");
        }
    });
    Ok(Served {
        _dir: dir,
        app,
        addr,
        url: created.view.url,
        secret,
    })
}

/// Serves `router` on 127.0.0.1; returns its address.
async fn spawn_server(router: axum::Router) -> Result<SocketAddr, BoxError> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, router).await {
            eprintln!("listener_bench: a server stopped: {e}");
        }
    });
    Ok(addr)
}

// ---------------------------------------------------------------------------------------------
// Ingest

/// What the senders of one run counted.
#[derive(Default)]
struct Sent {
    latencies_us: Vec<u32>,
    stored: u64,
    duplicates: u64,
    errors: u64,
}

/// `senders` clients, each one request in flight, posting numbered signed events to `url`
/// for `warmup` then `seconds`; only the second part is counted.
async fn send_events(
    url: &str,
    secret: &[u8],
    senders: usize,
    warmup: Duration,
    seconds: Duration,
    next: &Arc<AtomicU64>,
) -> Result<(Sent, Sent, f64), BoxError> {
    let client = jiralink_atlassian::build_client(&jiralink_atlassian::HttpConfig::default())?;
    let start = Instant::now();
    let measure_from = start + warmup;
    let end = measure_from + seconds;
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..senders {
        let (client, url, secret, next) = (
            client.clone(),
            url.to_owned(),
            secret.to_vec(),
            Arc::clone(next),
        );
        tasks.spawn(async move {
            let (mut warm, mut measured) = (Sent::default(), Sent::default());
            loop {
                let began = Instant::now();
                if began >= end {
                    break;
                }
                let n = next.fetch_add(1, Ordering::Relaxed);
                let body = event_body(n, now_ms());
                let signature = hub_signature(&body, &secret);
                let answer = client
                    .post(&url)
                    .header("content-type", "application/json")
                    .header("x-hub-signature", signature)
                    .header("x-atlassian-webhook-identifier", format!("ingest-{n}"))
                    .body(body)
                    .send()
                    .await;
                let counts = if began >= measure_from {
                    &mut measured
                } else {
                    &mut warm
                };
                match answer {
                    Ok(res) if res.status() == reqwest::StatusCode::ACCEPTED => {
                        let body: Value = res.json().await.unwrap_or(Value::Null);
                        if body.get("duplicate") == Some(&Value::Bool(true)) {
                            counts.duplicates += 1;
                        } else {
                            counts.stored += 1;
                        }
                        let us = began.elapsed().as_micros();
                        counts
                            .latencies_us
                            .push(u32::try_from(us).unwrap_or(u32::MAX));
                    }
                    _ => counts.errors += 1,
                }
            }
            (warm, measured)
        });
    }
    let (mut warm, mut measured) = (Sent::default(), Sent::default());
    while let Some(done) = tasks.join_next().await {
        let (w, m) = done?;
        for (all, one) in [(&mut warm, w), (&mut measured, m)] {
            all.latencies_us.extend(one.latencies_us);
            all.stored += one.stored;
            all.duplicates += one.duplicates;
            all.errors += one.errors;
        }
    }
    let measured_secs = start.elapsed().saturating_sub(warmup).as_secs_f64();
    measured.latencies_us.sort_unstable();
    Ok((warm, measured, measured_secs))
}

async fn bare_route(body: Bytes) -> StatusCode {
    // Read, as the real route reads it; nothing else.
    std::hint::black_box(body.len());
    StatusCode::ACCEPTED
}

async fn ingest(args: &Args) -> Result<(), BoxError> {
    let served = serve(&args.base_url).await?;
    let bare_addr =
        spawn_server(axum::Router::new().route("/hooks/jira/{token}", post(bare_route))).await?;
    let token = served.url.rsplit('/').next().unwrap_or_default().to_owned();
    let bare_url = format!("http://{bare_addr}/hooks/jira/{token}");
    let real_url = format!("http://{}/hooks/jira/{token}", served.addr);
    let next = Arc::new(AtomicU64::new(0));
    let (mut acknowledged, mut errors_real) = (0, 0);
    let seconds = Duration::from_secs(args.seconds);
    for round in 1..=args.rounds {
        let mut bare_rate = f64::NAN;
        for (label, url) in [("bare", &bare_url), ("jiralink", &real_url)] {
            let (warm, run, secs) = send_events(
                url,
                served.secret.as_bytes(),
                args.senders,
                Duration::from_secs(1),
                seconds,
                &next,
            )
            .await?;
            let total = run.stored + run.duplicates;
            let rate = total as f64 / secs.max(0.001);
            let mut line = json!({
                "kind": "ingest",
                "label": label,
                "round": round,
                "senders": args.senders,
                "seconds": (secs * 100.0).round() / 100.0,
                "events": total,
                "perSecond": rate.round(),
                "p50Ms": percentile_ms(&run.latencies_us, 0.50),
                "p99Ms": percentile_ms(&run.latencies_us, 0.99),
                "errors": run.errors + warm.errors,
                "loadAverage": load_average(),
            });
            if label == "bare" {
                bare_rate = rate;
            } else {
                acknowledged += warm.stored + run.stored;
                errors_real += warm.errors + run.errors;
                if let Value::Object(map) = &mut line {
                    map.insert("duplicates".into(), json!(run.duplicates + warm.duplicates));
                    map.insert(
                        "ratioToBare".into(),
                        json!((rate / bare_rate * 1000.0).round() / 1000.0),
                    );
                }
            }
            println!("{line}");
        }
    }
    let stored = served.app.get_listener(LISTENER).await?.received;
    println!(
        "{}",
        json!({
            "kind": "ingest-stored",
            "acknowledgedNew": acknowledged,
            "storedReadBack": stored,
            "errors": errors_real,
            "everyAcknowledgedStored": stored == acknowledged,
        })
    );
    if stored != acknowledged {
        return Err(format!("{acknowledged} deliveries acknowledged, {stored} stored").into());
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Latency

/// The first time each write's summary was seen in an event of `acme`, and the events.
#[derive(Default)]
struct Seen {
    first_ms: HashMap<u64, i64>,
    events: u64,
}

type SeenState = Arc<Mutex<Seen>>;

async fn acme_event(State(seen): State<SeenState>, body: Bytes) -> StatusCode {
    let Ok(event) = serde_json::from_slice::<Value>(&body) else {
        return StatusCode::BAD_REQUEST;
    };
    let at = event.get("timestamp").and_then(Value::as_i64);
    let n = event
        .pointer("/issue/fields/summary")
        .and_then(Value::as_str)
        .and_then(write_of);
    let mut seen = seen.lock().unwrap_or_else(PoisonError::into_inner);
    seen.events += 1;
    if let (Some(n), Some(at)) = (n, at) {
        let first = seen.first_ms.entry(n).or_insert(at);
        *first = (*first).min(at);
    }
    StatusCode::OK
}

/// Registers an admin webhook on `site` for MKT's created and updated issues.
async fn admin_webhook(site: &Site, url: &str, secret: Option<&str>) -> Result<(), BoxError> {
    let hooks = format!(
        "{}/rest/webhooks/1.0/webhook",
        site.platform
            .as_str()
            .trim_end_matches('/')
            .trim_end_matches("/rest/api/3")
    );
    let mut body = json!({
        "name": "listener-bench",
        "url": url,
        "events": ["jira:issue_created", "jira:issue_updated"],
        "filters": {"issue-related-events-section": format!("project = {PROJECT}")},
        "excludeBody": false,
    });
    if let (Some(secret), Value::Object(map)) = (secret, &mut body) {
        map.insert("secret".into(), json!(secret));
    }
    site.http
        .post(hooks)
        .basic_auth(&site.email, Some(&site.token))
        .json(&body)
        .send()
        .await?
        .error_for_status()?;
    Ok(())
}

/// Creates an issue (`edit` None) or renames one on `demo`; returns the issue's key.
async fn write(demo: &Site, n: u64, edit: Option<String>) -> Result<String, BoxError> {
    let base = demo.platform.as_str().trim_end_matches('/');
    let request = match &edit {
        None => demo
            .http
            .post(format!("{base}/issue"))
            .json(&json!({"fields": {
                "project": {"key": PROJECT},
                "issuetype": {"name": "Task"},
                "summary": summary(n),
            }})),
        Some(key) => demo
            .http
            .put(format!("{base}/issue/{key}"))
            .json(&json!({"fields": {"summary": summary(n)}})),
    };
    let res = request
        .basic_auth(&demo.email, Some(&demo.token))
        .send()
        .await?
        .error_for_status()?;
    match edit {
        Some(key) => Ok(key),
        None => {
            let created: Value = res.json().await?;
            Ok(created
                .get("key")
                .and_then(Value::as_str)
                .ok_or("a created issue without a key")?
                .to_owned())
        }
    }
}

/// The MKT issues of `acme` with a `from-demo-` label: (label, summaries of its copies).
async fn acme_copies(acme: &Site) -> Result<HashMap<String, Vec<String>>, BoxError> {
    let search = format!(
        "{}/search/jql",
        acme.platform.as_str().trim_end_matches('/')
    );
    let mut copies: HashMap<String, Vec<String>> = HashMap::new();
    let mut token: Option<String> = None;
    loop {
        let mut body = json!({
            "jql": format!("project = {PROJECT} ORDER BY key"),
            "fields": ["summary", "labels"],
            "maxResults": 1000,
        });
        if let (Some(t), Value::Object(map)) = (&token, &mut body) {
            map.insert("nextPageToken".into(), json!(t));
        }
        let page: Value = acme
            .http
            .post(&search)
            .basic_auth(&acme.email, Some(&acme.token))
            .json(&body)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        for issue in page
            .get("issues")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let summary = issue
                .pointer("/fields/summary")
                .and_then(Value::as_str)
                .unwrap_or_default();
            for label in issue
                .pointer("/fields/labels")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .filter(|l| l.starts_with("from-demo-"))
            {
                copies
                    .entry(label.to_owned())
                    .or_default()
                    .push(summary.to_owned());
            }
        }
        token = page
            .get("nextPageToken")
            .and_then(Value::as_str)
            .map(str::to_owned);
        if token.is_none() {
            return Ok(copies);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The latency baseline: a bare relay

/// Per `demo` issue: its copy's key on `acme` and the newest event time applied.
type CopySlot = Arc<tokio::sync::Mutex<Option<(String, i64)>>>;

/// The bare relay: `acme`, and one slot per `demo` issue (an issue's events go one at a time,
/// so a rename waits for the copy its create is making).
struct Relay {
    acme: Site,
    copies: Mutex<HashMap<String, CopySlot>>,
    failures: AtomicU64,
}

async fn relay_event(State(relay): State<Arc<Relay>>, body: Bytes) -> StatusCode {
    let Ok(event) = serde_json::from_slice::<Value>(&body) else {
        return StatusCode::BAD_REQUEST;
    };
    let at = event.get("timestamp").and_then(Value::as_i64).unwrap_or(0);
    let (Some(key), Some(summary)) = (
        event.pointer("/issue/key").and_then(Value::as_str),
        event
            .pointer("/issue/fields/summary")
            .and_then(Value::as_str),
    ) else {
        return StatusCode::OK;
    };
    let slot = Arc::clone(
        relay
            .copies
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(key.to_owned())
            .or_default(),
    );
    let mut copy = slot.lock().await;
    if copy.as_ref().is_some_and(|(_, applied)| at < *applied) {
        return StatusCode::OK;
    }
    let acme = &relay.acme;
    let base = acme.platform.as_str().trim_end_matches('/');
    let sent = match copy.as_ref() {
        None => acme
            .http
            .post(format!("{base}/issue"))
            .json(&json!({"fields": {
                "project": {"key": PROJECT},
                "issuetype": {"name": "Task"},
                "summary": summary,
                "labels": [format!("from-demo-{key}")],
            }})),
        Some((copy_key, _)) => acme
            .http
            .put(format!("{base}/issue/{copy_key}"))
            .json(&json!({"fields": {"summary": summary}})),
    }
    .basic_auth(&acme.email, Some(&acme.token))
    .send()
    .await
    .and_then(reqwest::Response::error_for_status);
    let copy_key = match (sent, copy.as_ref()) {
        (Ok(_), Some((k, _))) => k.clone(),
        (Ok(res), None) => match res
            .json::<Value>()
            .await
            .ok()
            .and_then(|v| v.get("key").and_then(Value::as_str).map(str::to_owned))
        {
            Some(k) => k,
            None => {
                relay.failures.fetch_add(1, Ordering::Relaxed);
                return StatusCode::INTERNAL_SERVER_ERROR;
            }
        },
        (Err(_), _) => {
            // The simulator delivers the event again.
            relay.failures.fetch_add(1, Ordering::Relaxed);
            return StatusCode::INTERNAL_SERVER_ERROR;
        }
    };
    *copy = Some((copy_key, at));
    StatusCode::OK
}

/// Resident memory samples: seconds since the start, this process's and the simulator's kB.
type RssSamples = Arc<Mutex<Vec<(u64, u64, u64)>>>;

#[expect(
    clippy::too_many_lines,
    reason = "one measured run, its steps in the order they happen"
)]
async fn latency(args: &Args) -> Result<(), BoxError> {
    let demo = site(&args.base_url, "demo", 1).await?;
    let acme = site(&args.base_url, "acme", 1).await?;
    let burst = demo.burst_off(&args.base_url).await?;
    let seen: SeenState = Arc::default();
    let receiver = spawn_server(
        axum::Router::new()
            .route("/acme", post(acme_event))
            .with_state(Arc::clone(&seen)),
    )
    .await?;
    let (served, relay) = if args.baseline {
        let relay = Arc::new(Relay {
            acme: site(&args.base_url, "acme", 1).await?,
            copies: Mutex::default(),
            failures: AtomicU64::new(0),
        });
        let addr = spawn_server(
            axum::Router::new()
                .route("/demo", post(relay_event))
                .with_state(Arc::clone(&relay)),
        )
        .await?;
        admin_webhook(&demo, &format!("http://{addr}/demo"), None).await?;
        (None, Some(relay))
    } else {
        let served = serve(&args.base_url).await?;
        admin_webhook(&demo, &served.url, Some(&served.secret)).await?;
        (Some(served), None)
    };
    admin_webhook(&acme, &format!("http://{receiver}/acme"), None).await?;

    let (stop, stopped) = tokio::sync::watch::channel(false);
    let worker = served.as_ref().map(|served| {
        let app = served.app.clone();
        let mut stopped = stopped.clone();
        tokio::spawn(async move {
            let options = WorkerOptions {
                lease: Duration::from_secs(60),
                poll: Duration::from_secs(1),
                retest_interval: Duration::from_secs(3600),
            };
            let shutdown = async move {
                let _ = stopped.wait_for(|s| *s).await;
            };
            app.run_worker(&options, shutdown, &mut |_| {}).await;
        })
    });

    let start = Instant::now();
    let samples: RssSamples = Arc::default();
    let sampler = (args.rss_every > 0).then(|| {
        let (samples, sim_pid, every) = (Arc::clone(&samples), args.sim_pid, args.rss_every);
        let mut stopped = stopped.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(every));
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    _ = stopped.wait_for(|s| *s) => break,
                }
                let sample = (start.elapsed().as_secs(), rss_kb(0), rss_kb(sim_pid));
                samples
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push(sample);
            }
        })
    });

    // The writes, paced; every other one renames an issue created about two seconds before.
    let total = writes_in(args.seconds, args.rate);
    let lag = (args.rate.ceil() as usize).max(1);
    let created: Arc<Mutex<Vec<String>>> = Arc::default();
    let mut edits = 0usize;
    let slots = Arc::new(tokio::sync::Semaphore::new(IN_FLIGHT));
    let mut tasks = tokio::task::JoinSet::new();
    let mut writes = Vec::with_capacity(usize::try_from(total)?);
    let demo = Arc::new(demo);
    for n in 0..total {
        // A finished task keeps its memory until it is joined: joined as they finish, so the
        // bench's own share of the resident memory does not grow with the writes made.
        while let Some(done) = tasks.try_join_next() {
            writes.push(done??);
        }
        tokio::time::sleep_until((start + due_after(n, args.rate)).into()).await;
        let edit = if n % 2 == 1 {
            let list = created.lock().unwrap_or_else(PoisonError::into_inner);
            (list.len() > edits + lag).then(|| list[edits].clone())
        } else {
            None
        };
        if edit.is_some() {
            edits += 1;
        }
        let permit = Arc::clone(&slots).acquire_owned().await?;
        let (demo, created) = (Arc::clone(&demo), Arc::clone(&created));
        tasks.spawn(async move {
            let sent_ms = now_ms();
            let is_create = edit.is_none();
            let issue = write(&demo, n, edit).await;
            drop(permit);
            let issue = issue?;
            if is_create {
                created
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push(issue.clone());
            }
            Ok::<_, BoxError>(Write { n, issue, sent_ms })
        });
    }
    while let Some(done) = tasks.join_next().await {
        writes.push(done??);
    }
    let writing_secs = start.elapsed().as_secs_f64();
    writes.sort_by_key(|w| w.n);

    // Until every write reached acme or was overtaken by its issue's next one, at most 120 s.
    let settle_by = Instant::now() + Duration::from_secs(120);
    let mut result;
    loop {
        let first = seen
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .first_ms
            .clone();
        result = outcome(&writes, &first);
        if result.not_copied.is_empty() || Instant::now() >= settle_by {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let settle_secs = start.elapsed().as_secs_f64() - writing_secs;
    let _ = stop.send(true);
    if let Some(worker) = worker {
        let _ = worker.await;
    }
    if let Some(sampler) = sampler {
        let _ = sampler.await;
    }

    // Read back: each issue written has one copy, with its last write's summary.
    let copies = acme_copies(&acme).await?;
    let mut last: BTreeMap<&str, u64> = BTreeMap::new();
    for w in &writes {
        last.insert(w.issue.as_str(), w.n);
    }
    let mut wrong = Vec::new();
    for (issue, n) in &last {
        let label = format!("from-demo-{issue}");
        let ok = copies
            .get(&label)
            .is_some_and(|c| c.len() == 1 && c[0] == summary(*n));
        if !ok {
            wrong.push(json!({"issue": issue, "copies": copies.get(&label)}));
        }
    }
    let listener = match &served {
        Some(served) => {
            let view = served.app.get_listener(LISTENER).await?;
            let runs = served
                .app
                .list_flow_runs(Some("Demo to Acme"), Some(100_000))
                .await?;
            let listener_runs = runs
                .iter()
                .filter(|r| r.trigger == RunTrigger::Listener)
                .count();
            json!({"listenerReceived": view.received, "listenerPending": view.pending,
                   "listenerRuns": listener_runs})
        }
        None => json!({}),
    };
    let lat = &result.latencies_us;
    let samples = samples
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    let own: Vec<u64> = samples.iter().map(|s| s.1).collect();
    let mut line = json!({
        "kind": "latency",
        "label": if args.baseline { "bare-relay" } else { "jiralink" },
        "rate": args.rate,
        "seconds": args.seconds,
        "writes": writes.len(),
        "achievedPerSecond": (writes.len() as f64 / writing_secs.max(0.001) * 100.0).round() / 100.0,
        "creates": writes.len() - edits,
        "edits": edits,
        "measured": lat.len(),
        "superseded": result.superseded,
        "notCopied": result.not_copied.len(),
        "notCopiedFirst": result.not_copied.iter().take(10).collect::<Vec<_>>(),
        "p50Ms": percentile_ms(lat, 0.50),
        "p99Ms": percentile_ms(lat, 0.99),
        "maxMs": percentile_ms(lat, 1.0),
        "settleSeconds": (settle_secs * 10.0).round() / 10.0,
        "issuesWritten": last.len(),
        "readBackWrong": wrong.len(),
        "readBackWrongFirst": wrong.iter().take(5).collect::<Vec<_>>(),
        "acmeEvents": seen.lock().unwrap_or_else(PoisonError::into_inner).events,
        "burst": burst,
        "loadAverage": load_average(),
    });
    if let (Value::Object(map), Value::Object(more)) = (&mut line, listener) {
        map.extend(more);
    }
    if let (Some(relay), Value::Object(map)) = (&relay, &mut line) {
        map.insert(
            "relayFailures".into(),
            json!(relay.failures.load(Ordering::Relaxed)),
        );
    }
    if let (Some((first, middle, end, max)), Value::Object(map)) =
        (start_middle_end_max(&own), &mut line)
    {
        map.insert(
            "rssMb".into(),
            json!({
                "start": mb(first), "middle": mb(middle), "end": mb(end), "max": mb(max),
            }),
        );
        map.insert(
            "rssSamples".into(),
            json!(
                samples
                    .iter()
                    .map(|(t, own, sim)| json!([t, mb(*own), mb(*sim)]))
                    .collect::<Vec<_>>()
            ),
        );
    }
    println!("{line}");
    if !result.not_copied.is_empty() || !wrong.is_empty() {
        return Err(format!(
            "{} write(s) not copied, {} issue(s) wrong on acme",
            result.not_copied.len(),
            wrong.len()
        )
        .into());
    }
    Ok(())
}

fn mb(kb: u64) -> f64 {
    (kb as f64 / 102.4).round() / 10.0
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = match Args::parse(std::env::args().skip(1)) {
        Ok(a) => a,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    let outcome = match args.mode {
        Mode::Ingest => ingest(&args).await,
        Mode::Latency => latency(&args).await,
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("listener_bench: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Result<Args, String> {
        Args::parse(list.iter().map(|s| (*s).to_owned()))
    }

    #[test]
    fn parses_runs_and_refuses_what_cannot_run() {
        let base = ["--base-url", "http://127.0.0.1:9/", "--sim-pid", "42"];
        let with = |more: &[&str]| {
            let mut all: Vec<&str> = base.to_vec();
            all.extend(more);
            args(&all)
        };
        let ingest = with(&["--mode", "ingest"]).unwrap();
        assert_eq!(
            (ingest.mode, ingest.seconds, ingest.senders, ingest.rounds),
            (Mode::Ingest, 10, 4, 3)
        );
        let latency = with(&["--mode", "latency", "--rate", "100", "--rss-every", "30"]).unwrap();
        assert_eq!(
            (latency.seconds, latency.rate, latency.rss_every),
            (60, 100.0, 30)
        );
        assert!(!latency.baseline);
        let bare = with(&["--mode", "latency", "--baseline", "--rate", "10"]).unwrap();
        assert!(bare.baseline);
        assert_eq!(bare.rate, 10.0);
        assert!(with(&["--mode", "ingest", "--baseline"]).is_err());
        assert!(with(&[]).is_err(), "no mode");
        assert!(with(&["--mode", "latency", "--rate", "0"]).is_err());
        assert!(with(&["--mode", "latency", "--rate", "NaN"]).is_err());
        assert!(with(&["--mode", "ingest", "--senders", "0"]).is_err());
        assert!(
            args(&[
                "--base-url",
                "http://10.0.0.1:9/",
                "--sim-pid",
                "1",
                "--mode",
                "ingest"
            ])
            .is_err(),
            "not on loopback"
        );
    }

    #[test]
    fn writes_are_paced_from_the_start() {
        assert_eq!(due_after(0, 10.0), Duration::ZERO);
        assert_eq!(due_after(5, 10.0), Duration::from_millis(500));
        assert_eq!(due_after(250, 100.0), Duration::from_millis(2500));
        assert_eq!(writes_in(60, 10.0), 600);
        assert_eq!(writes_in(30, 100.0), 3000);
    }

    #[test]
    fn summaries_carry_the_write_number() {
        assert_eq!(write_of(&summary(1234)), Some(1234));
        assert_eq!(write_of("Listener bench write wx"), None);
        assert_eq!(write_of("Something else"), None);
    }

    #[test]
    fn writes_are_copied_superseded_or_not_copied() {
        let w = |n, issue: &str, sent_ms| Write {
            n,
            issue: issue.to_owned(),
            sent_ms,
        };
        let writes = [
            w(0, "MKT-1", 1_000),
            w(1, "MKT-2", 1_100),
            w(2, "MKT-1", 1_200),
            w(3, "MKT-3", 1_300),
        ];
        // MKT-1's first write was overtaken by its second; MKT-3's never arrived.
        let seen = HashMap::from([(1, 1_150), (2, 1_500)]);
        let out = outcome(&writes, &seen);
        assert_eq!(out.latencies_us, vec![50_000, 300_000]);
        assert_eq!(out.superseded, 1);
        assert_eq!(out.not_copied, vec![3]);
    }

    #[test]
    fn memory_samples_give_start_middle_end_and_max() {
        assert_eq!(
            start_middle_end_max(&[10, 30, 20, 25, 15]),
            Some((10, 20, 15, 30))
        );
        assert_eq!(start_middle_end_max(&[]), None);
    }

    #[test]
    fn ingest_bodies_are_distinct_signed_jira_events() {
        let (a, b) = (event_body(1, 5), event_body(2, 5));
        assert_ne!(a, b);
        let event = jiralink_atlassian::WebhookEvent::decode(a.as_bytes(), 1 << 20).unwrap();
        assert_eq!(event.issue_ids, vec!["10001"]);
        let signature = hub_signature(&a, b"s3cret");
        assert_eq!(
            jiralink_atlassian::verify_hub_signature(a.as_bytes(), Some(&signature), b"s3cret"),
            Ok(())
        );
    }
}
