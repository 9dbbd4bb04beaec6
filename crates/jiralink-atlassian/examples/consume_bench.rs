//! CPU per `search/jql` page: what a simulator in another process spends serving it against
//! what jiralink's client spends consuming it (see `scripts/bench-sim-vs-client` and
//! docs/benchmarks.md).
//!
//! ```console
//! cargo run --release -p jiralink-atlassian --example consume_bench -- \
//!     --base-url http://127.0.0.1:PORT --sim-pid PID [--pages 2000] [--max-seconds 120]
//!     [--page-size 100] [--fields '*all'] [--jql 'project = DEMO ORDER BY key ASC']
//!     [--site demo]
//! ```
//!
//! Reads the sample credentials from the simulator's `/_sim/info`, then pages through the JQL
//! with [`JiraClient::search_jql`] (Basic auth, the site host), decoding every issue into
//! [`Issue`] and folding over its fields so the decoding cannot be optimised away. The first
//! page is a warm-up: it pays for the JQL evaluation, the connection and the allocator, none
//! of which recur per page. CPU is user + system time from `/proc/<pid>/stat` (all threads)
//! for the simulator and from `/proc/self/stat` for this process, read before and after the
//! measured pages; the stream fetches a page only once the previous one is used up, so no
//! request is in flight at either reading.
//!
//! Stops after `--pages` pages, at the end of the results, or after `--max-seconds`.
//!
//! Then, to show where the client's time goes, it fetches one raw page and times on this thread
//! (`/proc/thread-self/schedstat`) the two passes the client makes over every answer: masking
//! the body for the [`Observer`](jiralink_atlassian::Observer) and decoding it into issues.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use base64::Engine as _;
use futures::StreamExt as _;
use jiralink_atlassian::{
    ApiBase, AuthRoute, Credentials, HttpConfig, Issue, JiraClient, Masker, SearchRequest,
    build_client, mask_body,
};
use jiralink_domain::{ApiType, AtlassianEndpoints, Email, Subdomain};
use jiralink_vault::ApiToken;
use serde::Deserialize;
use serde_json::{Value, json};
use url::Url;

type BoxError = Box<dyn std::error::Error>;

#[derive(Debug)]
struct Args {
    base_url: Url,
    sim_pid: u32,
    pages: u64,
    max_seconds: u64,
    page_size: u32,
    fields: String,
    jql: String,
    site: String,
}

const USAGE: &str = "usage: consume_bench --base-url URL --sim-pid PID [--pages N] \
                     [--max-seconds S] [--page-size N] [--fields LIST] [--jql JQL] [--site NAME]";

impl Args {
    fn parse(mut argv: impl Iterator<Item = String>) -> Result<Self, String> {
        let (mut base_url, mut sim_pid) = (None, None);
        let mut args = Self {
            base_url: Url::parse("http://127.0.0.1/").map_err(|e| e.to_string())?,
            sim_pid: 0,
            pages: 2000,
            max_seconds: 120,
            page_size: 100,
            fields: "*all".to_owned(),
            jql: "project = DEMO ORDER BY key ASC".to_owned(),
            site: "demo".to_owned(),
        };
        while let Some(flag) = argv.next() {
            let value = argv
                .next()
                .ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))?;
            let bad = |e: &dyn std::fmt::Display| format!("{flag} {value}: {e}\n{USAGE}");
            match flag.as_str() {
                "--base-url" => base_url = Some(Url::parse(&value).map_err(|e| bad(&e))?),
                "--sim-pid" => sim_pid = Some(value.parse().map_err(|e| bad(&e))?),
                "--pages" => args.pages = value.parse().map_err(|e| bad(&e))?,
                "--max-seconds" => args.max_seconds = value.parse().map_err(|e| bad(&e))?,
                "--page-size" => args.page_size = value.parse().map_err(|e| bad(&e))?,
                "--fields" => args.fields = value,
                "--jql" => args.jql = value,
                "--site" => args.site = value,
                _ => return Err(format!("unknown flag {flag}\n{USAGE}")),
            }
        }
        args.base_url = base_url.ok_or_else(|| format!("--base-url is required\n{USAGE}"))?;
        // The benchmark reads a local simulator's CPU, so it never talks to another machine.
        let loopback = match args.base_url.host() {
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            Some(url::Host::Domain(name)) => name == "localhost",
            None => false,
        };
        if !loopback {
            return Err(format!("--base-url must be a loopback address\n{USAGE}"));
        }
        args.sim_pid = sim_pid.ok_or_else(|| format!("--sim-pid is required\n{USAGE}"))?;
        if args.pages == 0 || args.page_size == 0 {
            return Err(format!("--pages and --page-size must be positive\n{USAGE}"));
        }
        Ok(args)
    }
}

/// Clock ticks per second, from the auxiliary vector (`AT_CLKTCK`), so no libc call is needed.
fn clock_ticks_per_second() -> u64 {
    const AT_CLKTCK: u64 = 17;
    let Ok(auxv) = std::fs::read("/proc/self/auxv") else {
        return 100;
    };
    auxv.chunks_exact(16)
        .filter_map(|entry| {
            let key = u64::from_ne_bytes(entry[..8].try_into().ok()?);
            let value = u64::from_ne_bytes(entry[8..].try_into().ok()?);
            (key == AT_CLKTCK && value > 0).then_some(value)
        })
        .next()
        .unwrap_or(100)
}

/// User + system CPU of a whole process (every thread), in clock ticks.
fn cpu_ticks(stat_path: &str) -> Result<u64, BoxError> {
    let stat =
        std::fs::read_to_string(stat_path).map_err(|e| format!("cannot read {stat_path}: {e}"))?;
    // The command name may hold spaces and parentheses; the fields start after the last ')'.
    let rest = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .ok_or_else(|| format!("{stat_path}: unexpected format"))?;
    // After the name come state (field 3) … utime (field 14) and stime (field 15).
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let field = |i: usize| -> Result<u64, BoxError> {
        Ok(fields
            .get(i)
            .ok_or_else(|| format!("{stat_path}: too few fields"))?
            .parse()?)
    };
    Ok(field(11)? + field(12)?)
}

/// A cheap digest of everything decoded, so the optimiser must keep the decoding.
fn fold_issue(acc: u64, issue: &Issue) -> u64 {
    let mut acc = acc
        .rotate_left(5)
        .wrapping_add(issue.id.len() as u64)
        .wrapping_add(issue.key.as_ref().map_or(0, String::len) as u64)
        .wrapping_add(issue.fields.len() as u64);
    for (name, value) in &issue.fields {
        let weight = match value {
            Value::Null => 1,
            Value::Bool(b) => 2 + u64::from(*b),
            Value::Number(n) => n.as_f64().map_or(3, f64::to_bits),
            Value::String(s) => s.len() as u64,
            Value::Array(items) => items.len() as u64,
            Value::Object(map) => map.len() as u64,
        };
        acc = acc.rotate_left(3) ^ (name.len() as u64).wrapping_add(weight);
    }
    acc
}

/// CPU time of the calling thread, from `/proc/thread-self/schedstat` (nanoseconds on CPU).
fn thread_cpu() -> Result<Duration, BoxError> {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat")?;
    let ns: u64 = stat
        .split_whitespace()
        .next()
        .ok_or("/proc/thread-self/schedstat is empty")?
        .parse()?;
    Ok(Duration::from_nanos(ns))
}

/// Mean CPU milliseconds of `work` over `rounds` runs on this thread.
fn cpu_ms_per_run(rounds: u32, mut work: impl FnMut() -> u64) -> Result<(f64, u64), BoxError> {
    let start = thread_cpu()?;
    let mut acc = 0u64;
    for _ in 0..rounds {
        acc = acc.wrapping_add(std::hint::black_box(work()));
    }
    let spent = thread_cpu()?.saturating_sub(start);
    Ok((spent.as_secs_f64() * 1000.0 / f64::from(rounds), acc))
}

#[derive(Deserialize)]
struct RawPage {
    #[serde(default)]
    issues: Vec<Issue>,
}

struct Sample {
    sim: u64,
    client: u64,
    at: Instant,
}

fn sample(sim_stat: &str) -> Result<Sample, BoxError> {
    Ok(Sample {
        sim: cpu_ticks(sim_stat)?,
        client: cpu_ticks("/proc/self/stat")?,
        at: Instant::now(),
    })
}

async fn sample_credentials(http: &reqwest::Client, base: &Url) -> Result<Value, BoxError> {
    let info: Value = http
        .get(base.join("/_sim/info")?)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    Ok(info)
}

async fn run(args: Args) -> Result<(), BoxError> {
    let http = build_client(&HttpConfig::default())?;
    let info = sample_credentials(&http, &args.base_url).await?;
    let text = |pointer: &str| -> Result<String, BoxError> {
        Ok(info
            .pointer(pointer)
            .and_then(Value::as_str)
            .ok_or_else(|| format!("/_sim/info has no {pointer}"))?
            .to_owned())
    };
    let endpoints = AtlassianEndpoints {
        site_url_template: text("/site_url_template")?,
        api_gateway: Url::parse(&text("/api_gateway")?)?,
        auth_server: Url::parse(&text("/auth_server")?)?,
    };
    let base = ApiBase::resolve(
        &endpoints,
        ApiType::CloudPlatform,
        AuthRoute::BasicClassic,
        Some(&Subdomain::from_label(&args.site)?),
        None,
    )?;
    let (email, token) = (text("/sample/email")?, text("/sample/api_token")?);
    let credentials = Credentials::basic(Email::parse(&email)?, ApiToken::new(token.clone()));
    let platform = base
        .platform
        .clone()
        .ok_or("the site has no platform API URL")?;
    let client = JiraClient::builder(http.clone(), base, credentials).build();

    let page_size = u64::from(args.page_size);
    let mut issues = Box::pin(client.search_jql(SearchRequest {
        jql: args.jql.clone(),
        fields: args.fields.split(',').map(str::to_owned).collect(),
        max_results: Some(args.page_size),
        ..SearchRequest::default()
    }));
    let sim_stat = format!("/proc/{}/stat", args.sim_pid);
    let mut acc = 0u64;
    let mut consumed = 0u64;

    let warm = Instant::now();
    while consumed < page_size {
        match issues.next().await {
            Some(issue) => acc = fold_issue(acc, &issue?),
            None => return Err("the warm-up page ended the results: use a broader --jql".into()),
        }
        consumed += 1;
    }
    let warm_up = warm.elapsed();

    let before = sample(&sim_stat)?;
    let deadline = before.at + Duration::from_secs(args.max_seconds);
    let target = page_size * (args.pages + 1);
    let mut stop = "page count reached";
    while consumed < target {
        let Some(issue) = issues.next().await else {
            stop = "end of results";
            break;
        };
        acc = fold_issue(acc, &issue?);
        consumed += 1;
        if consumed.is_multiple_of(page_size) && Instant::now() >= deadline {
            stop = "time limit reached";
            break;
        }
    }
    let after = sample(&sim_stat)?;
    let acc = std::hint::black_box(acc);

    let measured_issues = consumed - page_size;
    let pages = measured_issues.div_ceil(page_size);
    if pages == 0 {
        return Err("no page after the warm-up: use a broader --jql".into());
    }
    let wall = after.at.duration_since(before.at).as_secs_f64();
    let ms_per_tick = 1000.0 / clock_ticks_per_second() as f64;
    let per_page = |ticks: u64| ticks as f64 * ms_per_tick / pages as f64;
    let sim_ms = per_page(after.sim - before.sim);
    let client_ms = per_page(after.client - before.client);

    println!("simulator vs client, CPU per search/jql page");
    println!(
        "  query                {} (fields={})",
        args.jql, args.fields
    );
    println!(
        "  warm-up              1 page in {:.0} ms (not measured)",
        warm_up.as_secs_f64() * 1000.0
    );
    println!(
        "  pages measured       {pages} of {page_size} issues ({measured_issues} issues; {stop})"
    );
    println!("  wall time            {wall:.2} s");
    println!("  pages per second     {:.0}", pages as f64 / wall);
    println!(
        "  simulator CPU        {sim_ms:.2} ms/page (pid {}, user+system)",
        args.sim_pid
    );
    println!("  client CPU           {client_ms:.2} ms/page (this process, user+system)");
    if sim_ms > 0.0 {
        println!("  client / simulator   {:.2}", client_ms / sim_ms);
    } else {
        println!("  client / simulator   n/a (no simulator CPU measured)");
    }
    println!(
        "  clock resolution     {ms_per_tick:.0} ms per tick ({:.3} ms per page)",
        ms_per_tick / pages as f64
    );

    // The same secrets the client's masker gets for Basic auth.
    let pair = format!("{email}:{token}");
    let encoded = base64::engine::general_purpose::STANDARD.encode(&pair);
    let masker = Masker::new([token.as_str(), encoded.as_str(), pair.as_str()]);
    let body = http
        .post(format!(
            "{}/search/jql",
            platform.as_str().trim_end_matches('/')
        ))
        .header(reqwest::header::AUTHORIZATION, format!("Basic {encoded}"))
        .json(&json!({
            "jql": args.jql,
            "fields": args.fields.split(',').collect::<Vec<_>>(),
            "maxResults": args.page_size,
        }))
        .send()
        .await?
        .error_for_status()?
        .bytes()
        .await?;
    let rounds = 20;
    let (mask_ms, mask_acc) = cpu_ms_per_run(rounds, || {
        mask_body(&body, Some("application/json"), &masker).len() as u64
    })?;
    let (decode_ms, decode_acc) = cpu_ms_per_run(rounds, || {
        // As the client decodes: lossy UTF-8, then the typed page.
        let text = String::from_utf8_lossy(&body);
        serde_json::from_str::<RawPage>(text.trim_start())
            .map_or(0, |page| page.issues.iter().fold(0, fold_issue))
    })?;
    println!(
        "  one page, {} bytes, CPU on one thread ({rounds} runs each):",
        body.len()
    );
    println!(
        "    mask for observer  {mask_ms:.2} ms (mask_body: parse, mask, re-serialise, clean)"
    );
    println!("    decode into Issue  {decode_ms:.2} ms (serde_json into Issue, plus the fold)");
    let acc = std::hint::black_box(acc ^ mask_acc ^ decode_acc);
    println!("  digest               {acc:016x}");
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
            eprintln!("consume_bench: {e}");
            ExitCode::FAILURE
        }
    }
}
