//! Crash consistency: real `jiralink` processes killed with SIGKILL (`kill -9`) at seeded
//! points, then run again; each test checks that nothing was lost or doubled, checks that each
//! kill landed where it was aimed, and prints one summary line (`crash-proof …`: the seed, the
//! points, where each kill landed, records expected and found).
//!
//! A point is either a request the simulator holds (the Nth search page, a bulk create applied
//! with its answer held, …: the kill lands at a known place, asserted from the database
//! afterwards) or a seeded delay over the duration of an uninterrupted run measured first (the
//! kill lands wherever the run was; where that was is read back and reported).
//!
//! `JIRALINK_PROOF_LONG=1` selects the long size (20 points in every test, more data);
//! `JIRALINK_PROOF_SEED=N` replays the points of a seed a summary line printed.

mod exports;
mod flows;
mod imports;
mod instances;
mod listeners;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Child;
use std::time::{Duration, Instant};

use jiralink_sim::control::{HoldSpec, HoldStage};
use serde_json::{Value, json};

use crate::common::Env;

/// Whether the long size was asked for.
pub(crate) fn long() -> bool {
    std::env::var("JIRALINK_PROOF_LONG").is_ok_and(|v| v == "1")
}

/// The number of points: `short` in CI, 20 in the long size.
pub(crate) fn points(short: usize) -> usize {
    if long() { 20 } else { short }
}

/// The seeded source of the points (SplitMix64: small, and the same sequence everywhere).
pub(crate) struct Seeded {
    pub(crate) seed: u64,
    state: u64,
}

impl Seeded {
    /// `JIRALINK_PROOF_SEED` when set, else a new seed (printed in the summary line).
    pub(crate) fn new() -> Self {
        let seed = std::env::var("JIRALINK_PROOF_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap();
                now.as_secs() ^ u64::from(now.subsec_nanos()) ^ u64::from(std::process::id())
            });
        Self { seed, state: seed }
    }

    pub(crate) fn next(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n` ≥ 1).
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// Runs a future to its end on a runtime of its own.
pub(crate) fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

/// Kills `child` with SIGKILL (what `Child::kill` sends on Unix) and reaps it.
pub(crate) fn sigkill(child: &mut Child) {
    child.kill().unwrap();
    child.wait().unwrap();
}

/// Runs `sql` (one row, one text or integer column per field) against the data directory's
/// SQLite database, read-only, while jiralink processes may be using it.
pub(crate) fn query(env: &Env, sql: &str) -> Vec<Vec<Option<String>>> {
    use sqlx::Row as _;
    let path = env.data_dir().join("jiralink.db");
    block_on(async {
        let options = sqlx::sqlite::SqliteConnectOptions::new()
            .filename(&path)
            .read_only(true);
        let pool = sqlx::sqlite::SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options)
            .await
            .unwrap();
        // The statements are the tests' own, their values ids the tests read.
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()))
            .fetch_all(&pool)
            .await
            .unwrap();
        let out = rows
            .iter()
            .map(|row| {
                (0..row.columns().len())
                    .map(|i| {
                        row.try_get::<Option<String>, _>(i).unwrap_or_else(|_| {
                            row.try_get::<Option<i64>, _>(i)
                                .unwrap()
                                .map(|n| n.to_string())
                        })
                    })
                    .collect()
            })
            .collect();
        pool.close().await;
        out
    })
}

/// Now, written as the store writes times (so the two compare as text).
#[expect(
    clippy::disallowed_methods,
    reason = "the leases are on the system clock of the jiralink processes the tests run"
)]
fn now_text() -> String {
    time::OffsetDateTime::now_utc()
        .format(time::macros::format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z"
        ))
        .unwrap()
}

/// Waits until no running export, import or flow run holds an unexpired lease: what a killed
/// process held has run out, so the next command takes its run over instead of being refused.
pub(crate) fn wait_leases_over(env: &Env) {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let latest = query(
            env,
            "SELECT MAX(lease_until) FROM (\
               SELECT lease_until FROM export_runs WHERE state = 'running' \
               UNION ALL SELECT lease_until FROM flow_runs WHERE state = 'running')",
        );
        match latest[0][0].as_deref() {
            Some(until) if until >= now_text().as_str() => {}
            _ => return,
        }
        assert!(Instant::now() < deadline, "a lease never ran out");
        crate::exports::pause(Duration::from_millis(100));
    }
}

/// Queues a hold at the simulator of the request `skip` + 1 that is a `method` to a path
/// ending with `path` (on `site` only, when given) — before Jira handles it, or after (applied, its answer held) — for an
/// hour: the process waiting for it is killed long before.
pub(crate) fn hold(
    env: &Env,
    site: Option<&str>,
    method: &str,
    path: &str,
    skip: u32,
    stage: HoldStage,
) {
    env.sim.control().hold_matching(
        1,
        &HoldSpec {
            methods: vec![reqwest::Method::from_bytes(method.as_bytes()).unwrap()],
            path_suffix: Some(path.to_owned()),
            site: site.map(str::to_owned),
            skip,
            hold: Duration::from_secs(3600),
            stage,
        },
    );
}

/// Clears the holds still queued and ends the ones under way (their process is dead), and
/// waits until nothing is held.
pub(crate) fn release(env: &Env) {
    let control = env.sim.control();
    control.clear_faults();
    let deadline = Instant::now() + Duration::from_secs(30);
    while control.held() > 0 {
        control.release_held();
        assert!(Instant::now() < deadline, "held requests never ended");
        crate::exports::pause(Duration::from_millis(10));
    }
}

/// Waits until `done` holds, failing after two minutes or when `child` ends first (with the
/// end of its standard error).
pub(crate) fn wait_until(
    child: &mut Child,
    stderr: &Path,
    what: &str,
    mut done: impl FnMut() -> bool,
) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while !done() {
        assert!(Instant::now() < deadline, "{what}: not in time");
        if let Some(status) = child.try_wait().unwrap() {
            panic!(
                "{what}: the process ended first ({status}): {}",
                std::fs::read_to_string(stderr).unwrap_or_default()
            );
        }
        crate::exports::pause(Duration::from_millis(20));
    }
}

/// Creates `n` issues in `project` of site `site`, labelled `label`, with bulk creates of 50
/// while the simulator's clock stands still (it moves 10 ms between two bulk creates): they
/// all share one `updated` minute, many of them one instant. The clock runs on afterwards as
/// it did before.
pub(crate) fn same_minute_issues(
    env: &Env,
    site: &str,
    project: &str,
    issue_type: &str,
    n: usize,
    label: &str,
) {
    let control = env.sim.control();
    let manual = matches!(control.clock().mode(), jiralink_sim::ClockMode::Manual(_));
    if !manual {
        // Frozen at the start of a minute, so 10 ms steps stay inside it.
        let now = control.now();
        control.clock().set(
            now.replace_second(0)
                .unwrap()
                .replace_nanosecond(0)
                .unwrap(),
        );
    }
    let (email, token) = env.alice();
    let url = format!("{}/rest/api/3/issue/bulk", env.sim.site_url(site));
    block_on(async {
        let client =
            jiralink_atlassian::build_client(&jiralink_atlassian::HttpConfig::default()).unwrap();
        let mut made = 0;
        while made < n {
            let batch: Vec<Value> = (made..n.min(made + 50))
                .map(|i| {
                    json!({"fields": {
                        "project": {"key": project},
                        "issuetype": {"name": issue_type},
                        "summary": format!("Same minute {i}"),
                        "labels": [label],
                    }})
                })
                .collect();
            made += batch.len();
            let answer = client
                .post(&url)
                .basic_auth(&email, Some(&token))
                .json(&json!({"issueUpdates": batch}))
                .send()
                .await
                .unwrap();
            assert_eq!(
                answer.status().as_u16(),
                201,
                "{}",
                answer.text().await.unwrap()
            );
            control.advance(Duration::from_millis(10));
        }
    });
    if !manual {
        control.clock().resume_system();
    }
}

/// The issues of `jql` on `site` with the labels each carries, through plain searches.
pub(crate) fn labels_of(env: &Env, site: &str, jql: &str) -> BTreeMap<String, Vec<String>> {
    let (email, token) = env.alice();
    let url = format!("{}/rest/api/3/search/jql", env.sim.site_url(site));
    block_on(async {
        let client =
            jiralink_atlassian::build_client(&jiralink_atlassian::HttpConfig::default()).unwrap();
        let mut out = BTreeMap::new();
        let mut next: Option<String> = None;
        loop {
            let mut body = json!({"jql": jql, "fields": ["labels"], "maxResults": 100});
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
                let labels = issue["fields"]["labels"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|l| l.as_str().unwrap().to_owned())
                    .collect();
                out.insert(issue["key"].as_str().unwrap().to_owned(), labels);
            }
            match page["nextPageToken"].as_str() {
                Some(t) if page["isLast"] != true => next = Some(t.to_owned()),
                _ => break,
            }
        }
        out
    })
}

/// How many issues carry each label that starts with `prefix` (the prefix taken off).
pub(crate) fn copies(
    labels: &BTreeMap<String, Vec<String>>,
    prefix: &str,
) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for label in labels.values().flatten() {
        if let Some(rest) = label.strip_prefix(prefix) {
            *out.entry(rest.to_owned()).or_default() += 1;
        }
    }
    out
}

/// A `jiralink serve` on `bind` over the test's data directory: the child and its standard
/// error so far. Returns once it serves.
pub(crate) fn serve(env: &Env, bind: &str) -> (Child, Log) {
    let mut cmd = env.std_cmd();
    cmd.args(["serve", "--bind", bind])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped());
    serve_command(cmd)
}

/// What a server printed on standard error so far.
pub(crate) type Log = std::sync::Arc<std::sync::Mutex<String>>;

/// Starts `cmd` (a `serve` whose standard error is piped) and returns once it serves.
pub(crate) fn serve_command(mut cmd: std::process::Command) -> (Child, Log) {
    use std::io::BufRead as _;
    let mut child = cmd.spawn().unwrap();
    let log = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    let lines = std::sync::Arc::clone(&log);
    std::thread::spawn(move || {
        for line in stderr.lines() {
            let Ok(line) = line else { break };
            if line.contains("Serving on") {
                let _ = ready_tx.send(());
            }
            let mut log = lines.lock().unwrap();
            log.push_str(&line);
            log.push('\n');
        }
    });
    if ready_rx.recv_timeout(Duration::from_secs(60)).is_err() {
        sigkill(&mut child);
        panic!("the server did not start:\n{}", log.lock().unwrap());
    }
    (child, log)
}

/// Where kills landed, counted by kind, for the summary line.
#[derive(Default)]
pub(crate) struct Landings {
    list: Vec<String>,
    tally: BTreeMap<&'static str, usize>,
}

impl Landings {
    pub(crate) fn record(&mut self, point: usize, kind: &'static str, detail: String) {
        self.list
            .push([format!("#{point} {kind}: "), detail].concat());
        *self.tally.entry(kind).or_default() += 1;
    }

    pub(crate) fn count(&self, kind: &str) -> usize {
        self.tally.get(kind).copied().unwrap_or(0)
    }

    /// `kind=n, …; #0 …; #1 …`.
    pub(crate) fn summary(&self) -> String {
        let tally: Vec<String> = self.tally.iter().map(|(k, n)| format!("{k}={n}")).collect();
        format!("{} | {}", tally.join(" "), self.list.join("; "))
    }
}

/// Source key → copies of it on the destination (the flow `demo-to-acme`'s `MKT` on `acme`).
pub(crate) fn copies_on_acme(env: &Env) -> BTreeMap<String, usize> {
    copies(&labels_of(env, "acme", "project = MKT"), "from-demo-")
}

/// Every `MKT` issue of `demo` has exactly one copy on `acme`; answers the copies.
pub(crate) fn assert_each_copied_once(env: &Env) -> BTreeMap<String, usize> {
    let source = labels_of(env, "demo", "project = MKT");
    let copied = copies_on_acme(env);
    let doubled: Vec<_> = copied.iter().filter(|(_, n)| **n > 1).collect();
    assert!(doubled.is_empty(), "copied twice: {doubled:?}");
    let missing: Vec<_> = source.keys().filter(|k| !copied.contains_key(*k)).collect();
    assert!(missing.is_empty(), "not copied: {missing:?}");
    assert_eq!(copied.len(), source.len());
    copied
}
