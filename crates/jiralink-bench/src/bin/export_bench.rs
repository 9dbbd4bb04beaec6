//! Export throughput against a simulator in another process (see `scripts/bench-export` and
//! docs/benchmarks.md).
//!
//! ```console
//! cargo run --release -p jiralink-bench --bin export_bench -- \
//!     --base-url http://127.0.0.1:PORT --sim-pid PID --mode ndjson [--issues 100000]
//!     [--concurrency 1] [--jql 'project = DEMO'] [--max-seconds 300]
//! ```
//!
//! Modes:
//! - `bare`: a plain HTTP loop (reqwest, Basic auth) over the same bounded `search/jql` pages
//!   the engine asks for (`*all`, 100 per page), one page after the other, reading only the
//!   next page token (a `serde_json` pass over the page) and discarding the bodies;
//! - `bare-tail`: the same loop, reading the token from the page's last bytes instead of
//!   parsing the page: a loop that does nothing with a page but fetch it;
//! - `ndjson`, `json-array`, `csv`: [`run_export`] in that format with a journal that counts
//!   and discards the output;
//! - `full-changelog`, `comments`: NDJSON with that option.
//!
//! The export stops once `--issues` records are written (the journal asks to cancel; the
//! engine checks between pages), at the end of the results, or after `--max-seconds`.
//! Prints one line of JSON: issues, seconds, issues per second, peak resident memory of this
//! process (`VmHWM`), and CPU milliseconds per 1,000 issues of this process and of the
//! simulator (user + system from `/proc/<pid>/stat`).

use std::{
    borrow::Cow,
    process::ExitCode,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use async_trait::async_trait;
use jiralink_atlassian::SystemClock;
use jiralink_domain::Clock as _;
use jiralink_sync::{
    Checkpoint, ExportJob, ExportSpec, Format, NoProgress, Resource, RunJournal, RunStats,
    SyncError, run_export,
};
use serde::Deserialize;
use serde_json::json;
use url::Url;

use jiralink_bench::sim::{Site, demo_site};
use jiralink_bench::{
    BoxError,
    proc::{clock_ticks_per_second, cpu_ticks, peak_rss_kb},
};

const USAGE: &str = "usage: export_bench --base-url URL --sim-pid PID --mode \
    bare|bare-tail|ndjson|json-array|csv|full-changelog|comments [--issues N] [--concurrency N] \
    [--jql JQL] [--max-seconds S]";

#[derive(Debug)]
struct Args {
    base_url: Url,
    sim_pid: u32,
    mode: String,
    issues: u64,
    concurrency: usize,
    jql: Option<String>,
    max_seconds: u64,
}

impl Args {
    fn parse(mut argv: impl Iterator<Item = String>) -> Result<Self, String> {
        let mut args = Self {
            base_url: Url::parse("http://127.0.0.1/").map_err(|e| e.to_string())?,
            sim_pid: 0,
            mode: String::new(),
            issues: 100_000,
            concurrency: 1,
            jql: None,
            max_seconds: 300,
        };
        let mut base = None;
        while let Some(flag) = argv.next() {
            let value = argv
                .next()
                .ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))?;
            let bad = |e: &dyn std::fmt::Display| format!("{flag} {value}: {e}\n{USAGE}");
            match flag.as_str() {
                "--base-url" => base = Some(Url::parse(&value).map_err(|e| bad(&e))?),
                "--sim-pid" => args.sim_pid = value.parse().map_err(|e| bad(&e))?,
                "--mode" => args.mode = value,
                "--issues" => args.issues = value.parse().map_err(|e| bad(&e))?,
                "--concurrency" => args.concurrency = value.parse().map_err(|e| bad(&e))?,
                "--jql" => args.jql = Some(value).filter(|j| !j.trim().is_empty()),
                "--max-seconds" => args.max_seconds = value.parse().map_err(|e| bad(&e))?,
                _ => return Err(format!("unknown flag {flag}\n{USAGE}")),
            }
        }
        args.base_url = base.ok_or_else(|| format!("--base-url is required\n{USAGE}"))?;
        let loopback = match args.base_url.host() {
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            Some(url::Host::Domain(name)) => name == "localhost",
            None => false,
        };
        if !loopback || args.sim_pid == 0 || args.mode.is_empty() || args.concurrency == 0 {
            return Err(USAGE.to_owned());
        }
        Ok(args)
    }
}

/// Counts and drops the output; asks to stop once enough records are written.
struct CountingJournal {
    bytes: AtomicU64,
    records: AtomicU64,
    stop_at: u64,
    deadline: Instant,
}

#[async_trait]
impl RunJournal for CountingJournal {
    async fn checkpoint(
        &self,
        output: &[u8],
        checkpoint: &Checkpoint,
        stats: &RunStats,
    ) -> Result<(), SyncError> {
        // The checkpoint is serialised as a store would, so its cost is counted.
        let text =
            serde_json::to_vec(&checkpoint.0).map_err(|e| SyncError::Journal(e.to_string()))?;
        std::hint::black_box(text);
        self.bytes.fetch_add(output.len() as u64, Ordering::Relaxed);
        self.records.store(stats.total_records(), Ordering::Relaxed);
        Ok(())
    }

    async fn cancel_requested(&self) -> bool {
        self.records.load(Ordering::Relaxed) >= self.stop_at || Instant::now() >= self.deadline
    }
}

async fn site(base_url: &Url, concurrency: usize) -> Result<Site, BoxError> {
    demo_site(base_url, concurrency).await
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TokenOnly<'a> {
    #[serde(borrow, default)]
    next_page_token: Option<Cow<'a, str>>,
    #[serde(default)]
    is_last: Option<bool>,
    #[serde(default)]
    issues: Vec<serde::de::IgnoredAny>,
}

/// The token of a page read from its end, without parsing the page (the simulator puts
/// `nextPageToken` and `isLast` last), and the number of issues it holds (its top-level
/// objects, counted by the `{"expand":"renderedFields` that opens each issue the simulator
/// sends: good enough for a baseline).
fn tail_token(page: &[u8]) -> Result<(u64, Option<String>), BoxError> {
    let tail = &page[page.len().saturating_sub(512)..];
    let text = std::str::from_utf8(tail).unwrap_or_default();
    let count = memchr::memmem::find_iter(page, b"{\"expand\":\"renderedFields").count() as u64;
    if text.contains("\"isLast\":true") {
        return Ok((count, None));
    }
    let at = text
        .rfind("\"nextPageToken\":\"")
        .ok_or("a page without a token at its end")?;
    let rest = &text[at + 17..];
    let end = rest.find('"').ok_or("an unclosed token")?;
    Ok((count, Some(rest[..end].to_owned())))
}

/// The plain loop: the engine's first search, page after page, bodies dropped.
async fn bare(site: &Site, args: &Args) -> Result<(u64, u64), BoxError> {
    let upper = SystemClock.now().unix_timestamp_nanos() / 1_000_000;
    let jql = match &args.jql {
        Some(j) => format!("({j}) AND updated <= {upper} ORDER BY updated ASC, key ASC"),
        None => format!("updated <= {upper} ORDER BY updated ASC, key ASC"),
    };
    let url = format!(
        "{}/search/jql",
        site.platform.as_str().trim_end_matches('/')
    );
    let deadline = Instant::now() + Duration::from_secs(args.max_seconds);
    let (mut issues, mut bytes) = (0u64, 0u64);
    let mut token: Option<String> = None;
    loop {
        let mut body = json!({"jql": jql, "fields": ["*all"], "maxResults": 100});
        if let Some(t) = &token {
            body["nextPageToken"] = json!(t);
        }
        let page = site
            .http
            .post(&url)
            .basic_auth(&site.email, Some(&site.token))
            .json(&body)
            .send()
            .await?
            .error_for_status()?
            .bytes()
            .await?;
        bytes += page.len() as u64;
        if args.mode == "bare-tail" {
            let (count, next) = tail_token(&page)?;
            issues += count;
            token = next;
        } else {
            let head: TokenOnly<'_> = serde_json::from_slice(&page)?;
            issues += head.issues.len() as u64;
            token = match (head.is_last, head.next_page_token) {
                (Some(true), _) | (_, None) => None,
                (_, Some(t)) => Some(t.into_owned()),
            };
        }
        if token.is_none() || issues >= args.issues || Instant::now() >= deadline {
            return Ok((issues, bytes));
        }
    }
}

async fn export(site: &Site, args: &Args) -> Result<(u64, u64, RunStats), BoxError> {
    let mut spec = ExportSpec::new(Resource::Issues);
    spec.jql.clone_from(&args.jql);
    match args.mode.as_str() {
        "ndjson" => {}
        "json-array" => spec.format = Format::JsonArray,
        "csv" => spec.format = Format::Csv,
        "full-changelog" => spec.full_changelog = true,
        "comments" => spec.comments = true,
        other => return Err(format!("unknown mode {other}\n{USAGE}").into()),
    }
    let journal = CountingJournal {
        bytes: AtomicU64::new(0),
        records: AtomicU64::new(0),
        stop_at: args.issues,
        deadline: Instant::now() + Duration::from_secs(args.max_seconds),
    };
    let outcome = run_export(ExportJob {
        client: &site.client,
        spec: &spec,
        cursor: None,
        known_ids: None,
        resume: None,
        clock: Arc::new(SystemClock),
        concurrency: args.concurrency,
        journal: &journal,
        progress: &NoProgress,
    })
    .await?;
    let records = outcome.stats.total_records();
    Ok((
        records,
        journal.bytes.load(Ordering::Relaxed),
        outcome.stats,
    ))
}

async fn run(args: Args) -> Result<(), BoxError> {
    let site = site(&args.base_url, args.concurrency).await?;
    let (sim0, self0) = (cpu_ticks(args.sim_pid)?, cpu_ticks(0)?);
    let started = Instant::now();
    let (issues, bytes, stats) = if args.mode.starts_with("bare") {
        let (issues, bytes) = bare(&site, &args).await?;
        (issues, bytes, None)
    } else {
        let (issues, bytes, stats) = export(&site, &args).await?;
        (issues, bytes, Some(stats))
    };
    let secs = started.elapsed().as_secs_f64();
    let (sim1, self1) = (cpu_ticks(args.sim_pid)?, cpu_ticks(0)?);
    let ms_per_tick = 1000.0 / clock_ticks_per_second() as f64;
    let per_k = |ticks: u64| ticks as f64 * ms_per_tick * 1000.0 / issues.max(1) as f64;
    let line = json!({
        "mode": args.mode,
        "concurrency": args.concurrency,
        "jql": args.jql,
        "issues": issues,
        "seconds": (secs * 100.0).round() / 100.0,
        "issuesPerSecond": (issues as f64 / secs).round(),
        "bytes": bytes,
        "peakRssMb": (peak_rss_kb() as f64 / 1024.0 * 10.0).round() / 10.0,
        "cpuMsPer1000": (per_k(self1 - self0) * 10.0).round() / 10.0,
        "simCpuMsPer1000": (per_k(sim1 - sim0) * 10.0).round() / 10.0,
        "requests": stats.as_ref().map(|s| s.requests),
        "pages": stats.as_ref().map(|s| s.pages),
    });
    println!("{line}");
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = match Args::parse(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("export_bench: {e}");
            ExitCode::FAILURE
        }
    }
}
