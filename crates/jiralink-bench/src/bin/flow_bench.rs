//! A flow between two simulated sites: rate and memory against a simulator in another process
//! (see `scripts/bench-flow` and docs/benchmarks.md, "Flow between two sites").
//!
//! ```console
//! cargo run --release -p jiralink-bench --bin flow_bench -- \
//!     --base-url http://127.0.0.1:PORT --sim-pid PID --mode flow [--issues 10000]
//!     [--tag r1-flow] [--max-seconds 900]
//! cargo run --release -p jiralink-bench --bin flow_bench -- table RESULTS
//! ```
//!
//! Every mode first seeds `--issues` Tasks into MKT on the simulator's `demo` site (not
//! measured): bulk creates of 50, each issue labelled `flow-bench` and with the run's tag, so
//! `project = MKT AND labels = <tag>` finds exactly them. Before seeding, the simulator's burst
//! limiter is switched off through its control API (`PATCH /_sim/knobs
//! {"burst":{"enabled":false}}`).
//!
//! Modes:
//! - `bare`: a plain HTTP loop (the client from `build_client`, Basic auth) doing the flow's
//!   essential requests one after the other: the `search/jql` pages the flow's export reads
//!   (the same JQL, fields `summary` and `updated`, 1,000 per page, following
//!   `nextPageToken`), then bulk creates of 50 into MKT on `acme`, each element with the
//!   fields the flow's import sends (project, issue type, summary, the external-id label) and
//!   the `jiralink.import` property. Bodies are built from the pages read (that part is timed:
//!   it is what the flow must do too) and sent as they are ready.
//! - `flow`: an application ([`App`], SQLite in a temporary data directory, [`SystemClock`])
//!   with Basic connections to `demo` and `acme`, an issues export of `demo` (delta, fields
//!   `summary`, lag 0 s), an upsert import into MKT on `acme` (external id `key` as a
//!   `from-demo-` label, `summary`, search lag 0 s) and a flow joining them. Measured: one
//!   `run_flow` (every issue created on `acme`), then a second `run_flow` right after with
//!   nothing changed (it reads the same issues again through the delta's overlap and must send
//!   none). The simulator's request log of the first run, counted by route, goes with the
//!   line (`simRequests`).
//!
//! Prints one line of JSON per run: issues, seconds, issues per second, peak resident memory
//! of this process (`VmHWM`), CPU milliseconds of this process and of the simulator during the
//! measured part (user + system from `/proc/<pid>/stat`); a flow run also the flow's statistics
//! and the second run's figures. `table` prints the Markdown table of a file of such lines,
//! with each `flow` run's ratio to the `bare` run before it.

use std::{
    path::{Path, PathBuf},
    process::ExitCode,
    time::{Duration, Instant},
};

use jiralink_app::{App, FlowRunView, RunState, RunTrigger};
use serde::Deserialize;
use serde_json::{Value, json};
use url::Url;

use jiralink_bench::demo_flow::{self, DataDir, LABEL_PREFIX, PROJECT};
use jiralink_bench::sim::{Site, site};
use jiralink_bench::{
    BoxError,
    proc::{clock_ticks_per_second, cpu_ticks, load_average, peak_rss_kb},
    valid_tag,
};

const USAGE: &str = "usage: flow_bench --base-url URL --sim-pid PID --mode bare|flow \
    [--issues N] [--tag TAG] [--max-seconds S]\n       flow_bench table RESULTS";

/// Issues per bulk-create request, as the import engine sends them.
const PER_REQUEST: usize = jiralink_sync::import::BATCH;

/// Issues per search page when a few fields are named, as the export engine reads them.
const PAGE: u32 = 1_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Bare,
    Flow,
}

impl Mode {
    fn parse(text: &str) -> Option<Self> {
        match text {
            "bare" => Some(Self::Bare),
            "flow" => Some(Self::Flow),
            _ => None,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Self::Bare => "bare",
            Self::Flow => "flow",
        }
    }
}

#[derive(Debug, PartialEq)]
struct Args {
    base_url: Url,
    sim_pid: u32,
    mode: Mode,
    issues: u64,
    tag: String,
    max_seconds: u64,
}

/// What the command line asks for.
#[derive(Debug, PartialEq)]
enum Command {
    Run(Args),
    Table(PathBuf),
}

impl Command {
    fn parse(mut argv: impl Iterator<Item = String>) -> Result<Self, String> {
        let mut base = None;
        let mut sim_pid = 0;
        let mut mode = None;
        let mut issues = 10_000;
        let mut tag = None;
        let mut max_seconds = 900;
        let mut first = true;
        while let Some(flag) = argv.next() {
            if first && flag == "table" {
                let path = argv.next().ok_or_else(|| USAGE.to_owned())?;
                if argv.next().is_some() {
                    return Err(USAGE.to_owned());
                }
                return Ok(Self::Table(PathBuf::from(path)));
            }
            first = false;
            let value = argv
                .next()
                .ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))?;
            let bad = |e: &dyn std::fmt::Display| format!("{flag} {value}: {e}\n{USAGE}");
            match flag.as_str() {
                "--base-url" => base = Some(Url::parse(&value).map_err(|e| bad(&e))?),
                "--sim-pid" => sim_pid = value.parse().map_err(|e| bad(&e))?,
                "--mode" => {
                    mode = Some(Mode::parse(&value).ok_or_else(|| bad(&"unknown mode"))?);
                }
                "--issues" => issues = value.parse().map_err(|e| bad(&e))?,
                "--tag" => {
                    if !valid_tag(&value) {
                        return Err(bad(&"letters, digits, - and _ only"));
                    }
                    tag = Some(value);
                }
                "--max-seconds" => max_seconds = value.parse().map_err(|e| bad(&e))?,
                _ => return Err(format!("unknown flag {flag}\n{USAGE}")),
            }
        }
        let base_url = base.ok_or_else(|| format!("--base-url is required\n{USAGE}"))?;
        let loopback = match base_url.host() {
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            Some(url::Host::Domain(name)) => name == "localhost",
            None => false,
        };
        let mode = mode.ok_or_else(|| format!("--mode is required\n{USAGE}"))?;
        if !loopback || sim_pid == 0 || issues == 0 || max_seconds == 0 {
            return Err(USAGE.to_owned());
        }
        let tag = tag.unwrap_or_else(|| format!("{}-{}", mode.as_str(), std::process::id()));
        Ok(Self::Run(Args {
            base_url,
            sim_pid,
            mode,
            issues,
            tag,
            max_seconds,
        }))
    }
}

// ---------------------------------------------------------------------------------------------
// The simulator

/// The text of issue `n`'s summary.
fn summary(n: u64) -> String {
    format!("Flow issue {n}: keep the two projects in step")
}

/// Creates `issues` Tasks in MKT on `demo`, labelled `flow-bench` and `tag`.
async fn seed(demo: &Site, issues: u64, tag: &str) -> Result<(), BoxError> {
    let mut created = 0;
    let mut n = 0;
    while n < issues {
        let end = (n + PER_REQUEST as u64).min(issues);
        let updates: Vec<Value> = (n..end)
            .map(|i| {
                json!({ "fields": {
                    "project": { "key": PROJECT },
                    "issuetype": { "name": "Task" },
                    "summary": summary(i),
                    "labels": ["flow-bench", tag],
                }})
            })
            .collect();
        created += demo
            .bulk_create(serde_json::to_vec(&json!({ "issueUpdates": updates }))?)
            .await?;
        n = end;
    }
    if created != issues {
        return Err(format!("{created} of {issues} issues were seeded").into());
    }
    Ok(())
}

/// The JQL that finds the run's seeded issues.
fn seeded_jql(tag: &str) -> String {
    format!("project = {PROJECT} AND labels = {tag}")
}

// ---------------------------------------------------------------------------------------------
// The bare loop

/// A search page: its issues' keys and summaries, and the next page's token.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SearchPage {
    #[serde(default)]
    issues: Vec<PageIssue>,
    next_page_token: Option<String>,
}

#[derive(Deserialize)]
struct PageIssue {
    key: String,
    fields: PageFields,
}

#[derive(Deserialize)]
struct PageFields {
    #[serde(default)]
    summary: String,
}

/// The bulk-create element the flow's import sends for an issue of `demo`.
fn copy_of(issue: &PageIssue) -> Value {
    json!({
        "fields": {
            "project": { "key": PROJECT },
            "issuetype": { "name": "Task" },
            "summary": issue.fields.summary,
            "labels": [format!("{LABEL_PREFIX}{}", issue.key)],
        },
        "properties": [{
            "key": jiralink_sync::import::IMPORT_PROPERTY,
            "value": {
                "ledger": "flow-bench",
                "record": jiralink_sync::import::identity(Some(&issue.key), &serde_json::Map::new()),
            },
        }],
    })
}

/// What a bare run did: issues read, issues created, requests.
struct BareCounts {
    read: u64,
    created: u64,
    requests: u64,
}

/// Reads the seeded issues page by page from `demo` and creates their copies on `acme`, 50 per
/// request, as the pages come.
async fn bare(
    demo: &Site,
    acme: &Site,
    tag: &str,
    deadline: Instant,
) -> Result<BareCounts, BoxError> {
    let search = format!(
        "{}/search/jql",
        demo.platform.as_str().trim_end_matches('/')
    );
    let jql = format!("{} ORDER BY updated ASC, key ASC", seeded_jql(tag));
    let mut counts = BareCounts {
        read: 0,
        created: 0,
        requests: 0,
    };
    let mut token: Option<String> = None;
    let mut pending: Vec<Value> = Vec::with_capacity(PER_REQUEST);
    loop {
        let mut body = json!({ "jql": jql, "fields": ["summary", "updated"], "maxResults": PAGE });
        if let (Some(t), Value::Object(map)) = (&token, &mut body) {
            map.insert("nextPageToken".into(), json!(t));
        }
        let page = demo
            .http
            .post(&search)
            .basic_auth(&demo.email, Some(&demo.token))
            .json(&body)
            .send()
            .await?
            .error_for_status()?
            .bytes()
            .await?;
        counts.requests += 1;
        let page: SearchPage = serde_json::from_slice(&page)?;
        counts.read += page.issues.len() as u64;
        for issue in &page.issues {
            pending.push(copy_of(issue));
            if pending.len() == PER_REQUEST {
                let body = serde_json::to_vec(&json!({ "issueUpdates": pending }))?;
                pending.clear();
                counts.created += acme.bulk_create(body).await?;
                counts.requests += 1;
            }
        }
        token = page.next_page_token;
        if token.is_none() || Instant::now() >= deadline {
            break;
        }
    }
    if !pending.is_empty() {
        let body = serde_json::to_vec(&json!({ "issueUpdates": pending }))?;
        counts.created += acme.bulk_create(body).await?;
        counts.requests += 1;
    }
    Ok(counts)
}

// ---------------------------------------------------------------------------------------------
// The flow

/// An application on a fresh data directory, configured for the simulator's endpoints, with
/// the connections "Demo" and "Acme".
async fn open_app(base_url: &Url, tag: &str) -> Result<(DataDir, App), BoxError> {
    let dir = format!("jiralink-flow-bench-{}-{tag}", std::process::id());
    demo_flow::open_app(base_url, &dir, None, "flow-bench").await
}

/// The flow "Demo to Acme" over the run's seeded issues.
async fn create_flow(app: &App, tag: &str) -> Result<(), BoxError> {
    demo_flow::create_demo_to_acme(app, &seeded_jql(tag), "flow-bench").await
}

/// Clears the simulator's request log.
async fn clear_requests(site: &Site, base_url: &Url) -> Result<(), BoxError> {
    site.http
        .delete(base_url.join("/_sim/requests")?)
        .send()
        .await?
        .error_for_status()?;
    Ok(())
}

/// The simulator's request log since it was cleared, counted by method, site and route
/// (numbers in the path as `N`): `{"POST acme search/jql": 400, …}`.
async fn count_requests(site: &Site, base_url: &Url) -> Result<Value, BoxError> {
    let log: Vec<Value> = site
        .http
        .get(base_url.join("/_sim/requests")?)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let mut counts = std::collections::BTreeMap::<String, u64>::new();
    for entry in &log {
        let text = |f: &str| entry.get(f).and_then(Value::as_str).unwrap_or("?");
        let path = text("path");
        let route = path.split_once("/rest/api/3/").map_or(path, |(_, r)| r);
        let mut name = String::new();
        let mut in_number = false;
        for c in route.chars() {
            if c.is_ascii_digit() {
                if !in_number {
                    name.push('N');
                }
                in_number = true;
            } else {
                name.push(c);
                in_number = false;
            }
        }
        *counts
            .entry(format!("{} {} {name}", text("method"), text("site")))
            .or_default() += 1;
    }
    Ok(json!(counts))
}

/// One run of the flow, failing unless it succeeded with no failed record.
async fn run_flow(app: &App, max_seconds: u64) -> Result<FlowRunView, BoxError> {
    let run = tokio::time::timeout(
        Duration::from_secs(max_seconds),
        app.run_flow("Demo to Acme", RunTrigger::Cli),
    )
    .await
    .map_err(|_| format!("the flow run took more than {max_seconds} s"))??;
    if run.state != RunState::Succeeded || run.stats.failed > 0 {
        return Err(format!("the flow run did not succeed: {run:?}").into());
    }
    Ok(run)
}

// ---------------------------------------------------------------------------------------------
// Runs

/// CPU ticks of this process and of the simulator, and the time, at one moment.
struct Mark {
    at: Instant,
    own: u64,
    sim: u64,
}

impl Mark {
    fn now(sim_pid: u32) -> Result<Self, BoxError> {
        Ok(Self {
            own: cpu_ticks(0)?,
            sim: cpu_ticks(sim_pid)?,
            at: Instant::now(),
        })
    }

    /// Seconds, CPU ms of this process and of the simulator since `self`.
    fn since(&self, sim_pid: u32) -> Result<Value, BoxError> {
        let secs = self.at.elapsed().as_secs_f64();
        let (own, sim) = (cpu_ticks(0)?, cpu_ticks(sim_pid)?);
        let ms = |ticks: u64| (ticks as f64 * 1000.0 / clock_ticks_per_second() as f64).round();
        Ok(json!({
            "seconds": (secs * 100.0).round() / 100.0,
            "cpuMs": ms(own.saturating_sub(self.own)),
            "simCpuMs": ms(sim.saturating_sub(self.sim)),
        }))
    }
}

async fn run(args: Args) -> Result<(), BoxError> {
    let demo = site(&args.base_url, "demo", 1).await?;
    let acme = site(&args.base_url, "acme", 1).await?;
    let burst = demo.burst_off(&args.base_url).await?;
    let seeding = Instant::now();
    seed(&demo, args.issues, &args.tag).await?;
    let seed_seconds = seeding.elapsed().as_secs_f64();
    let deadline = Instant::now() + Duration::from_secs(args.max_seconds);
    let mut extra = serde_json::Map::new();
    let (measured, done, requests) = match args.mode {
        Mode::Bare => {
            let mark = Mark::now(args.sim_pid)?;
            let counts = bare(&demo, &acme, &args.tag, deadline).await?;
            let measured = mark.since(args.sim_pid)?;
            if counts.read != args.issues {
                return Err(format!("read {} of {} issues", counts.read, args.issues).into());
            }
            (measured, counts.created, counts.requests)
        }
        Mode::Flow => {
            let (_dir, app) = open_app(&args.base_url, &args.tag).await?;
            create_flow(&app, &args.tag).await?;
            clear_requests(&demo, &args.base_url).await?;
            let mark = Mark::now(args.sim_pid)?;
            let first = run_flow(&app, args.max_seconds).await?;
            let measured = mark.since(args.sim_pid)?;
            extra.insert(
                "simRequests".into(),
                count_requests(&demo, &args.base_url).await?,
            );
            let rss_after_first = peak_rss_kb();
            let mark = Mark::now(args.sim_pid)?;
            let second = run_flow(&app, args.max_seconds).await?;
            let mut again = mark.since(args.sim_pid)?;
            if let Value::Object(map) = &mut again {
                map.insert("stats".into(), json!(second.stats));
            }
            if second.stats.sent != 0 {
                return Err(format!("the second run sent issues: {:?}", second.stats).into());
            }
            extra.insert("stats".into(), json!(first.stats));
            extra.insert("second".into(), again);
            extra.insert(
                "peakRssMbFirst".into(),
                json!((rss_after_first as f64 / 102.4).round() / 10.0),
            );
            (measured, first.stats.created, 0)
        }
    };
    if done != args.issues {
        return Err(format!(
            "{done} of {} issues were created on acme (time limit {} s)",
            args.issues, args.max_seconds
        )
        .into());
    }
    let num = |field: &str| measured.get(field).and_then(Value::as_f64).unwrap_or(0.0);
    let per_k = |ms: f64| (ms * 10_000.0 / done as f64).round() / 10.0;
    let mut line = json!({
        "mode": args.mode.as_str(),
        "tag": args.tag,
        "issues": done,
        "seconds": num("seconds"),
        "issuesPerSecond": (done as f64 / num("seconds").max(0.001)).round(),
        "peakRssMb": (peak_rss_kb() as f64 / 102.4).round() / 10.0,
        "cpuMs": num("cpuMs"),
        "cpuMsPer1000": per_k(num("cpuMs")),
        "simCpuMs": num("simCpuMs"),
        "simCpuMsPer1000": per_k(num("simCpuMs")),
        "seedSeconds": (seed_seconds * 100.0).round() / 100.0,
        "burst": burst,
        "loadAverage": load_average(),
    });
    if let Value::Object(map) = &mut line {
        if requests > 0 {
            map.insert("requests".into(), json!(requests));
        }
        map.extend(extra);
    }
    println!("{line}");
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// The table

/// One row per run, in the order of the file; a `flow` run's ratio is against the last `bare`
/// run before it.
fn table(lines: &str) -> Result<String, BoxError> {
    use std::fmt::Write as _;
    let mut out = String::from(
        "| Run | Issues | Seconds | Issues/s | Ratio to bare | Peak RSS MB | CPU ms / 1,000 | Simulator CPU ms / 1,000 | No-op second run s (CPU ms, simulator CPU ms) |\n\
         |---|---|---|---|---|---|---|---|---|\n",
    );
    let mut last_bare: Option<f64> = None;
    for line in lines.lines().filter(|l| l.starts_with('{')) {
        let run: Value = serde_json::from_str(line)?;
        let num = |field: &str| run.get(field).and_then(Value::as_f64).unwrap_or(f64::NAN);
        let mode = run.get("mode").and_then(Value::as_str).unwrap_or("?");
        let rate = num("issuesPerSecond");
        let ratio = match (mode, last_bare) {
            ("bare", _) => {
                last_bare = Some(rate);
                "—".to_owned()
            }
            ("flow", Some(b)) if b > 0.0 => format!("{:.0} %", 100.0 * rate / b),
            _ => "—".to_owned(),
        };
        let second = match run.get("second") {
            Some(s) => {
                let n = |f: &str| s.get(f).and_then(Value::as_f64).unwrap_or(f64::NAN);
                format!(
                    "{:.2} ({:.0}, {:.0})",
                    n("seconds"),
                    n("cpuMs"),
                    n("simCpuMs")
                )
            }
            None => "—".to_owned(),
        };
        writeln!(
            out,
            "| {mode} | {:.0} | {:.2} | {rate:.0} | {ratio} | {:.1} | {:.1} | {:.1} | {second} |",
            num("issues"),
            num("seconds"),
            num("peakRssMb"),
            num("cpuMsPer1000"),
            num("simCpuMsPer1000"),
        )?;
    }
    Ok(out)
}

fn print_table(path: &Path) -> Result<(), BoxError> {
    let text = std::fs::read_to_string(path)?;
    print!("{}", table(&text)?);
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    let command = match Command::parse(std::env::args().skip(1)) {
        Ok(c) => c,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    let outcome = match command {
        Command::Run(args) => run(args).await,
        Command::Table(path) => print_table(&path),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("flow_bench: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Result<Command, String> {
        Command::parse(list.iter().map(|s| (*s).to_owned()))
    }

    #[test]
    fn parses_runs_and_refuses_what_cannot_run() {
        let base = ["--base-url", "http://127.0.0.1:9/", "--sim-pid", "42"];
        let with = |more: &[&str]| {
            let mut all: Vec<&str> = base.to_vec();
            all.extend(more);
            args(&all)
        };
        let Ok(Command::Run(flow)) = with(&["--mode", "flow", "--tag", "r1-flow"]) else {
            panic!("flow did not parse");
        };
        assert_eq!(
            (flow.mode, flow.issues, flow.tag.as_str(), flow.max_seconds),
            (Mode::Flow, 10_000, "r1-flow", 900)
        );
        let Ok(Command::Run(bare)) = with(&["--mode", "bare", "--issues", "200"]) else {
            panic!("bare did not parse");
        };
        assert_eq!((bare.mode, bare.issues), (Mode::Bare, 200));
        assert!(bare.tag.starts_with("bare-"));
        assert!(with(&[]).is_err(), "no mode");
        assert!(with(&["--mode", "fast"]).is_err());
        assert!(with(&["--mode", "flow", "--tag", "a b"]).is_err());
        assert!(with(&["--mode", "flow", "--issues", "0"]).is_err());
        assert!(
            args(&[
                "--base-url",
                "http://example.com/",
                "--sim-pid",
                "1",
                "--mode",
                "flow"
            ])
            .is_err(),
            "not on loopback"
        );
        assert_eq!(
            args(&["table", "r.ndjson"]),
            Ok(Command::Table(PathBuf::from("r.ndjson")))
        );
    }

    #[test]
    fn copies_carry_the_external_id_label_and_the_import_property() {
        let issue = PageIssue {
            key: "MKT-7".to_owned(),
            fields: PageFields {
                summary: summary(7),
            },
        };
        let copy = copy_of(&issue);
        assert_eq!(copy["fields"]["labels"], json!(["from-demo-MKT-7"]));
        assert_eq!(copy["fields"]["summary"], json!(summary(7)));
        assert_eq!(copy["properties"][0]["key"], json!("jiralink.import"));
    }

    #[test]
    fn the_table_compares_each_flow_run_with_the_bare_run_before_it() {
        let lines = [
            r#"{"mode":"bare","issues":10000,"seconds":4.0,"issuesPerSecond":2500,"peakRssMb":20,"cpuMsPer1000":10,"simCpuMsPer1000":200}"#,
            r#"{"mode":"flow","issues":10000,"seconds":8.0,"issuesPerSecond":1250,"peakRssMb":40,"cpuMsPer1000":90,"simCpuMsPer1000":250,"second":{"seconds":1.5,"cpuMs":300,"simCpuMs":400}}"#,
        ]
        .join("\n");
        let text = table(&lines).unwrap();
        assert!(
            text.contains(
                "| flow | 10000 | 8.00 | 1250 | 50 % | 40.0 | 90.0 | 250.0 | 1.50 (300, 400) |"
            ),
            "{text}"
        );
        assert!(
            text.contains("| bare | 10000 | 4.00 | 2500 | — |"),
            "{text}"
        );
    }
}
