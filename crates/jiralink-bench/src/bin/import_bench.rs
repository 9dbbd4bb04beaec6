//! Import throughput and memory against a simulator in another process (see
//! `scripts/bench-import` and docs/benchmarks.md, "Issue import").
//!
//! ```console
//! cargo run --release -p jiralink-bench --bin import_bench -- \
//!     --base-url http://127.0.0.1:PORT --sim-pid PID --mode engine [--records 10000]
//!     [--tag r1-engine] [--max-seconds 600]
//! cargo run --release -p jiralink-bench --bin import_bench -- table RESULTS
//! ```
//!
//! Every mode first writes `--records` CSV records to a temporary file (streamed, not held in
//! memory; not measured): an external id, a summary, a number, `;`-separated labels (among them
//! `--tag`, so each run's issues can be told apart) and a Markdown description of a few
//! paragraphs. All modes use one mapping ([`MAPPING`]): create in DEMO as a Story, summary,
//! labels, description from Markdown, the Story Points custom field, and the external id as an
//! `ext-` label. Before measuring, the simulator's burst limiter is switched off through its
//! control API (`PATCH /_sim/knobs {"burst":{"enabled":false}}`).
//!
//! Modes:
//! - `bare`: a plain HTTP loop (the client from `build_client`, Basic auth) posting the engine's
//!   own bulk-create bodies to `/rest/api/3/issue/bulk`, 50 issues per request, one request
//!   after the other, counting the created issues. The bodies are taken from the engine: a
//!   dry run of [`run_import`] over the same file (not measured) gives each record's `fields`
//!   exactly as a real run sends them; the `jiralink.import` property is added as the engine
//!   adds it (ledger scope and record identity), and each request body is serialised before
//!   the clock starts. The loop does nothing but send bytes and count the answer's issues.
//! - `engine`: [`run_import`] over the file (create, concurrency 1, [`MemoryLedger`]), with a
//!   journal that encodes each batch's results as NDJSON ([`encode_results`]) and writes them
//!   to `/dev/null`, as a dry run's results file would be written. The whole run is measured,
//!   the mapping check against the create screen included.
//! - `dry-run`: the same over `--records` (default 1,000,000) records with `dry_run: true`;
//!   results (each with its request) encoded to `/dev/null`.
//!
//! `scripts/bench-import` runs each measurement against a fresh simulator (its cost per created
//! issue grows with the issues it holds), after a bare warm-up of 1,000 records.
//!
//! Prints one line of JSON per run: records, seconds, records per second, peak resident memory
//! of this process (`VmHWM`), CPU milliseconds of this process and of the simulator during the
//! measured part (user + system from `/proc/<pid>/stat`). `table` prints the Markdown table of
//! a file of such lines, with each `engine` run's ratio to the `bare` run of its round.

use std::{
    fs::File,
    io::{BufReader, BufWriter, Write as _},
    path::{Path, PathBuf},
    process::ExitCode,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use async_trait::async_trait;
use jiralink_atlassian::SystemClock;
use jiralink_sync::SyncError;
use jiralink_sync::import::{
    IMPORT_PROPERTY, ImportJob, ImportJournal, ImportStats, InputFormat, Mapping, MemoryLedger,
    NoImportProgress, RecordResult, RecordState, ResultsFormat, UserDirectory, encode_results,
    identity, reader, run_import,
};
use serde_json::{Map, Value, json};
use url::Url;

use jiralink_bench::sim::{Site, demo_site};
use jiralink_bench::{
    BoxError,
    proc::{clock_ticks_per_second, cpu_ticks, load_average, peak_rss_kb},
    valid_tag,
};

const USAGE: &str = "usage: import_bench --base-url URL --sim-pid PID --mode bare|engine|dry-run \
    [--records N] [--tag TAG] [--max-seconds S]\n       import_bench table RESULTS";

/// Issues per bulk-create request, as the engine sends them.
const PER_REQUEST: usize = jiralink_sync::import::BATCH;

/// The ledger scope every run writes into the `jiralink.import` property.
const LEDGER_SCOPE: &str = "import-bench";

/// The mapping of every mode.
const MAPPING: &str = r#"
operation = "create"
project = "DEMO"
issue_type = "Story"

[external_id]
source = "ref"
label_prefix = "ext-"

[fields]
summary = "title"
labels = { source = "tags", split = ";" }
description = { source = "body", format = "markdown" }
"Story Points" = "points"
"#;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Bare,
    Engine,
    DryRun,
}

impl Mode {
    fn parse(text: &str) -> Option<Self> {
        match text {
            "bare" => Some(Self::Bare),
            "engine" => Some(Self::Engine),
            "dry-run" => Some(Self::DryRun),
            _ => None,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Self::Bare => "bare",
            Self::Engine => "engine",
            Self::DryRun => "dry-run",
        }
    }
}

#[derive(Debug, PartialEq)]
struct Args {
    base_url: Url,
    sim_pid: u32,
    mode: Mode,
    records: u64,
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
        let mut records = None;
        let mut tag = None;
        let mut max_seconds = 600;
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
                "--records" => records = Some(value.parse().map_err(|e| bad(&e))?),
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
        let records = records.unwrap_or(match mode {
            Mode::Bare | Mode::Engine => 10_000,
            Mode::DryRun => 1_000_000,
        });
        if !loopback || sim_pid == 0 || records == 0 || max_seconds == 0 {
            return Err(USAGE.to_owned());
        }
        let tag = tag.unwrap_or_else(|| format!("{}-{}", mode.as_str(), std::process::id()));
        Ok(Self::Run(Args {
            base_url,
            sim_pid,
            mode,
            records,
            tag,
            max_seconds,
        }))
    }
}

// ---------------------------------------------------------------------------------------------
// Input

/// The CSV header of the generated input.
const HEADER: &str = "ref,title,points,tags,body\n";

/// Writes record `n` of a run tagged `tag` as one CSV row (its description spans lines).
fn write_row(out: &mut impl std::io::Write, n: u64, tag: &str) -> std::io::Result<()> {
    write!(
        out,
        "{tag}-{n},Imported issue {n} from the legacy tracker,{points},import-bench;{tag};batch-{batch},\
         \"Imported from the **legacy tracker** (record {n}).\n\n\
         Steps to reproduce:\n\n\
         1. Open the *settings* page\n\
         2. Press `Save` twice\n\n\
         See [ticket {n}](https://tracker.example.com/t/{n}) for the history.\"\n",
        points = n % 13,
        batch = n / PER_REQUEST as u64,
    )
}

/// Writes `records` rows after the header; returns the bytes written.
fn write_input(out: impl std::io::Write, records: u64, tag: &str) -> std::io::Result<u64> {
    let mut out = CountingWriter {
        inner: out,
        bytes: 0,
    };
    out.write_all(HEADER.as_bytes())?;
    for n in 0..records {
        write_row(&mut out, n, tag)?;
    }
    out.flush()?;
    Ok(out.bytes)
}

struct CountingWriter<W> {
    inner: W,
    bytes: u64,
}

impl<W: std::io::Write> std::io::Write for CountingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// A temporary input file, removed when dropped.
struct TempInput {
    path: PathBuf,
    bytes: u64,
}

impl TempInput {
    fn create(records: u64, tag: &str) -> Result<Self, BoxError> {
        let path = std::env::temp_dir().join(format!(
            "jiralink-import-bench-{}-{tag}.csv",
            std::process::id()
        ));
        let file = File::create(&path)?;
        // Removed on drop from here on, even if writing fails.
        let mut this = Self { path, bytes: 0 };
        this.bytes = write_input(BufWriter::with_capacity(1 << 16, file), records, tag)?;
        Ok(this)
    }

    fn open(&self) -> Result<BufReader<File>, BoxError> {
        Ok(BufReader::with_capacity(1 << 16, File::open(&self.path)?))
    }
}

impl Drop for TempInput {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

// ---------------------------------------------------------------------------------------------
// The simulator

async fn site(base_url: &Url) -> Result<Site, BoxError> {
    demo_site(base_url, 1).await
}

// ---------------------------------------------------------------------------------------------
// Journals

/// Encodes each batch's results as NDJSON and writes them to a file (`/dev/null`), as a
/// results file is written; counts records and bytes.
struct EncodingJournal {
    out: Mutex<File>,
    records: AtomicU64,
    bytes: AtomicU64,
    deadline: Instant,
}

impl EncodingJournal {
    fn to_dev_null(max_seconds: u64) -> Result<Self, BoxError> {
        Ok(Self {
            out: Mutex::new(std::fs::OpenOptions::new().write(true).open("/dev/null")?),
            records: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            deadline: Instant::now() + Duration::from_secs(max_seconds),
        })
    }
}

#[async_trait]
impl ImportJournal for EncodingJournal {
    async fn checkpoint(
        &self,
        results: &[RecordResult],
        _position: u64,
        stats: &ImportStats,
    ) -> Result<(), SyncError> {
        let bytes = encode_results(results, ResultsFormat::Ndjson, false)?;
        // The statistics are serialised with every checkpoint, as the application does.
        std::hint::black_box(
            serde_json::to_vec(stats).map_err(|e| SyncError::Journal(e.to_string()))?,
        );
        self.out
            .lock()
            .map_err(|_| SyncError::Journal("a poisoned lock".into()))?
            .write_all(&bytes)
            .map_err(|e| SyncError::Journal(e.to_string()))?;
        self.bytes.fetch_add(bytes.len() as u64, Ordering::Relaxed);
        self.records
            .fetch_add(results.len() as u64, Ordering::Relaxed);
        Ok(())
    }

    async fn cancel_requested(&self) -> bool {
        Instant::now() >= self.deadline
    }
}

/// Keeps, from a dry run, each record's bulk-create element as the engine would send it,
/// serialised into request bodies.
struct CaptureJournal {
    bodies: Mutex<Bodies>,
    problem: Mutex<Option<String>>,
}

/// The `issueUpdates` element the engine sends for a dry run's result: the request's fields and
/// the `jiralink.import` property naming the ledger scope and the record's identity (the
/// records of this benchmark all have an external id).
fn issue_update(result: &RecordResult, scope: &str) -> Result<Value, String> {
    if result.state != RecordState::WouldCreate {
        return Err(format!(
            "record {} is {} ({:?} {:?}), not would-create",
            result.record,
            result.state.as_str(),
            result.message,
            result.errors
        ));
    }
    let fields = result
        .request
        .as_ref()
        .and_then(|r| r.get("fields"))
        .ok_or_else(|| format!("record {} has no request fields", result.record))?;
    let external = result
        .external_id
        .as_deref()
        .ok_or_else(|| format!("record {} has no external id", result.record))?;
    Ok(json!({
        "fields": fields,
        "properties": [{
            "key": IMPORT_PROPERTY,
            "value": { "ledger": scope, "record": identity(Some(external), &Map::new()) },
        }],
    }))
}

/// Request bodies, `{"issueUpdates":[...]}` with [`PER_REQUEST`] elements each, serialised
/// as the elements arrive (the same bytes as serialising the whole body at once).
#[derive(Debug, Default)]
struct Bodies {
    done: Vec<Vec<u8>>,
    current: Vec<u8>,
    in_current: usize,
}

impl Bodies {
    fn push(&mut self, element: &Value) -> Result<(), serde_json::Error> {
        if self.in_current == 0 {
            self.current.extend_from_slice(b"{\"issueUpdates\":[");
        } else {
            self.current.push(b',');
        }
        serde_json::to_writer(&mut self.current, element)?;
        self.in_current += 1;
        if self.in_current == PER_REQUEST {
            self.close();
        }
        Ok(())
    }

    fn close(&mut self) {
        if self.in_current > 0 {
            self.current.extend_from_slice(b"]}");
            self.done.push(std::mem::take(&mut self.current));
            self.in_current = 0;
        }
    }

    fn finish(mut self) -> Vec<Vec<u8>> {
        self.close();
        self.done
    }
}

#[async_trait]
impl ImportJournal for CaptureJournal {
    async fn checkpoint(
        &self,
        results: &[RecordResult],
        _position: u64,
        _stats: &ImportStats,
    ) -> Result<(), SyncError> {
        fn poisoned<T>(_: T) -> SyncError {
            SyncError::Journal("a poisoned lock".into())
        }
        let mut bodies = self.bodies.lock().map_err(poisoned)?;
        for r in results {
            match issue_update(r, LEDGER_SCOPE) {
                Ok(u) => bodies
                    .push(&u)
                    .map_err(|e| SyncError::Journal(e.to_string()))?,
                Err(problem) => {
                    self.problem
                        .lock()
                        .map_err(poisoned)?
                        .get_or_insert(problem);
                }
            }
        }
        Ok(())
    }

    async fn cancel_requested(&self) -> bool {
        false
    }
}

/// Nobody has an e-mail address here: the mapping has no user field.
struct NoUsers;

#[async_trait]
impl UserDirectory for NoUsers {
    async fn account_id(&self, _email: &str) -> Result<Option<String>, String> {
        Ok(None)
    }
}

// ---------------------------------------------------------------------------------------------
// Runs

/// One import run over `input`.
async fn import(
    site: &Site,
    input: &TempInput,
    tag: &str,
    journal: &dyn ImportJournal,
    dry_run: bool,
) -> Result<ImportStats, BoxError> {
    let mapping = Mapping::from_toml(MAPPING).map_err(|p| format!("{p:?}"))?;
    let ledger = MemoryLedger::default();
    let outcome = run_import(ImportJob {
        client: &site.client,
        mapping: &mapping,
        source: reader(InputFormat::Csv, input.open()?),
        ledger: &ledger,
        ledger_scope: LEDGER_SCOPE,
        run_id: tag,
        journal,
        progress: &NoImportProgress,
        users: &NoUsers,
        clock: Arc::new(SystemClock),
        concurrency: 1,
        resume_from: 0,
        stats: ImportStats::default(),
        search_lag: Duration::from_secs(30),
        dry_run,
        attachment_dir: None,
    })
    .await?;
    Ok(outcome.stats)
}

/// What a measured part did.
#[derive(Debug, Default)]
struct Measured {
    records: u64,
    requests: u64,
    extra: Map<String, Value>,
}

/// Sends `bodies` one after the other; returns the issues created.
async fn bare_loop(site: &Site, bodies: Vec<Vec<u8>>, deadline: Instant) -> Result<u64, BoxError> {
    let mut created = 0;
    for body in bodies {
        created += site.bulk_create(body).await?;
        if Instant::now() >= deadline {
            break;
        }
    }
    Ok(created)
}

fn journal_extra(journal: &EncodingJournal, stats: &ImportStats) -> Map<String, Value> {
    let mut extra = Map::new();
    extra.insert(
        "resultsBytes".into(),
        json!(journal.bytes.load(Ordering::Relaxed)),
    );
    extra.insert("stats".into(), json!(stats));
    extra
}

async fn run(args: Args) -> Result<(), BoxError> {
    let site = site(&args.base_url).await?;
    let burst = site.burst_off(&args.base_url).await?;
    let generating = Instant::now();
    let input = TempInput::create(args.records, &args.tag)?;
    let generate_seconds = generating.elapsed().as_secs_f64();
    let deadline = Instant::now() + Duration::from_secs(args.max_seconds);

    // Not measured: the bare loop's bodies, from a dry run of the engine over the same file.
    let mut prepared = None;
    if args.mode == Mode::Bare {
        let capturing = Instant::now();
        let capture = CaptureJournal {
            bodies: Mutex::new(Bodies::default()),
            problem: Mutex::new(None),
        };
        import(&site, &input, &args.tag, &capture, true).await?;
        if let Some(problem) = capture
            .problem
            .lock()
            .map_err(|_| "a poisoned lock")?
            .take()
        {
            return Err(problem.into());
        }
        let bodies = std::mem::take(&mut *capture.bodies.lock().map_err(|_| "a poisoned lock")?);
        let bodies = bodies.finish();
        let bytes: usize = bodies.iter().map(Vec::len).sum();
        prepared = Some((bodies, capturing.elapsed().as_secs_f64(), bytes));
    }

    let (sim0, self0) = (cpu_ticks(args.sim_pid)?, cpu_ticks(0)?);
    let started = Instant::now();
    let measured = match (args.mode, prepared) {
        (Mode::Bare, Some((bodies, capture_seconds, bytes))) => {
            let requests = bodies.len() as u64;
            let created = bare_loop(&site, bodies, deadline).await?;
            let mut extra = Map::new();
            extra.insert(
                "captureSeconds".into(),
                json!((capture_seconds * 100.0).round() / 100.0),
            );
            extra.insert("requestBytes".into(), json!(bytes));
            Measured {
                records: created,
                requests,
                extra,
            }
        }
        (Mode::Bare, None) => return Err("no bodies were prepared".into()),
        (Mode::Engine | Mode::DryRun, _) => {
            let journal = EncodingJournal::to_dev_null(args.max_seconds)?;
            let dry = args.mode == Mode::DryRun;
            let stats = import(&site, &input, &args.tag, &journal, dry).await?;
            let done = if dry {
                stats.would_create
            } else {
                stats.created
            };
            if done != stats.read || stats.failed > 0 {
                return Err(format!("not every record went through: {stats:?}").into());
            }
            Measured {
                records: done,
                requests: stats.bulk_requests,
                extra: journal_extra(&journal, &stats),
            }
        }
    };
    let secs = started.elapsed().as_secs_f64();
    let (sim1, self1) = (cpu_ticks(args.sim_pid)?, cpu_ticks(0)?);
    if measured.records != args.records {
        return Err(format!(
            "{} of {} records went through (time limit {} s)",
            measured.records, args.records, args.max_seconds
        )
        .into());
    }
    let ms_per_tick = 1000.0 / clock_ticks_per_second() as f64;
    let ms = |ticks: u64| ticks as f64 * ms_per_tick;
    let per_k = |ticks: u64| ms(ticks) * 1000.0 / measured.records.max(1) as f64;
    let round1 = |v: f64| (v * 10.0).round() / 10.0;
    let mut line = json!({
        "mode": args.mode.as_str(),
        "tag": args.tag,
        "records": measured.records,
        "seconds": (secs * 100.0).round() / 100.0,
        "recordsPerSecond": (measured.records as f64 / secs).round(),
        "peakRssMb": round1(peak_rss_kb() as f64 / 1024.0),
        "cpuMs": ms(self1 - self0).round(),
        "cpuMsPer1000": round1(per_k(self1 - self0)),
        "simCpuMs": ms(sim1 - sim0).round(),
        "simCpuMsPer1000": round1(per_k(sim1 - sim0)),
        "requests": measured.requests,
        "inputBytes": input.bytes,
        "generateSeconds": (generate_seconds * 100.0).round() / 100.0,
        "burst": burst,
        "loadAverage": load_average(),
    });
    if let Value::Object(map) = &mut line {
        map.extend(measured.extra);
    }
    println!("{line}");
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// The table

/// One row per run, in the order of the file; an `engine` run's ratio is against the last
/// `bare` run before it (the same round), and the medians of both close the table.
fn table(lines: &str) -> Result<String, BoxError> {
    use std::fmt::Write as _;
    let mut out = String::from(
        "| Run | Records | Seconds | Records/s | Ratio to bare | Peak RSS MB | CPU ms (per 1,000) | Simulator CPU ms (per 1,000) |\n\
         |---|---|---|---|---|---|---|---|\n",
    );
    let mut last_bare: Option<f64> = None;
    let (mut bare, mut engine, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    let mut round = 0;
    for line in lines.lines().filter(|l| l.starts_with('{')) {
        let run: Value = serde_json::from_str(line)?;
        let num = |field: &str| run.get(field).and_then(Value::as_f64).unwrap_or(f64::NAN);
        let mode = run.get("mode").and_then(Value::as_str).unwrap_or("?");
        let rate = num("recordsPerSecond");
        let ratio = match mode {
            "bare" => {
                round += 1;
                last_bare = Some(rate);
                bare.push(rate);
                "—".to_owned()
            }
            "engine" => {
                engine.push(rate);
                match last_bare {
                    Some(b) if b > 0.0 => {
                        ratios.push(rate / b);
                        format!("{:.0} %", 100.0 * rate / b)
                    }
                    _ => "—".to_owned(),
                }
            }
            _ => "—".to_owned(),
        };
        let label = match mode {
            "bare" | "engine" => format!("{mode} (round {round})"),
            other => other.to_owned(),
        };
        writeln!(
            out,
            "| {label} | {:.0} | {:.2} | {:.0} | {ratio} | {:.1} | {:.0} ({:.1}) | {:.0} ({:.1}) |",
            num("records"),
            num("seconds"),
            rate,
            num("peakRssMb"),
            num("cpuMs"),
            num("cpuMsPer1000"),
            num("simCpuMs"),
            num("simCpuMsPer1000"),
        )?;
    }
    if !bare.is_empty() && !engine.is_empty() {
        let (b, e) = (median(bare), median(engine));
        writeln!(
            out,
            "\nMedians: bare {b:.0} records/s, engine {e:.0} records/s ({:.0} % of bare); \
             per-round ratios: {}",
            100.0 * e / b,
            ratios
                .iter()
                .map(|r| format!("{:.0} %", 100.0 * r))
                .collect::<Vec<_>>()
                .join(", ")
        )?;
    }
    Ok(out)
}

fn median(mut values: Vec<f64>) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    if values.len() % 2 == 1 {
        values[mid]
    } else {
        f64::midpoint(values[mid - 1], values[mid])
    }
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
            eprintln!("import_bench: {e}");
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
    fn parses_a_run_with_defaults_per_mode() {
        let base = ["--base-url", "http://127.0.0.1:9/", "--sim-pid", "42"];
        let run = |mode: &str, more: &[&str]| {
            let mut all: Vec<&str> = base.to_vec();
            all.extend(["--mode", mode]);
            all.extend(more);
            args(&all)
        };
        let Ok(Command::Run(engine)) = run("engine", &["--tag", "r1-engine"]) else {
            panic!("engine did not parse");
        };
        assert_eq!(engine.mode, Mode::Engine);
        assert_eq!(engine.records, 10_000);
        assert_eq!(engine.tag, "r1-engine");
        assert_eq!(engine.sim_pid, 42);
        let Ok(Command::Run(dry)) = run("dry-run", &[]) else {
            panic!("dry-run did not parse");
        };
        assert_eq!(dry.records, 1_000_000);
        assert!(dry.tag.starts_with("dry-run-"));
        let Ok(Command::Run(bare)) = run("bare", &["--records", "500", "--max-seconds", "5"])
        else {
            panic!("bare did not parse");
        };
        assert_eq!(
            (bare.mode, bare.records, bare.max_seconds),
            (Mode::Bare, 500, 5)
        );
    }

    #[test]
    fn refuses_what_cannot_run() {
        let local = ["--base-url", "http://127.0.0.1:9/", "--sim-pid", "42"];
        let with = |more: &[&str]| {
            let mut all: Vec<&str> = local.to_vec();
            all.extend(more);
            args(&all)
        };
        assert!(with(&[]).is_err(), "no mode");
        assert!(with(&["--mode", "fast"]).is_err());
        assert!(with(&["--mode", "bare", "--tag", "has space"]).is_err());
        assert!(with(&["--mode", "bare", "--records", "0"]).is_err());
        assert!(with(&["--mode", "bare", "--records"]).is_err(), "no value");
        assert!(with(&["--mode", "bare", "--what", "1"]).is_err());
        assert!(
            args(&[
                "--base-url",
                "http://example.com/",
                "--sim-pid",
                "1",
                "--mode",
                "bare"
            ])
            .is_err(),
            "not on loopback"
        );
        assert!(
            args(&["--base-url", "http://[::1]:9/", "--mode", "bare"]).is_err(),
            "no pid"
        );
        assert_eq!(
            args(&["table", "results.ndjson"]),
            Ok(Command::Table(PathBuf::from("results.ndjson")))
        );
        assert!(args(&["table"]).is_err());
    }

    #[test]
    fn tags_fit_in_a_label() {
        assert!(valid_tag("r1-bare_2"));
        assert!(!valid_tag(""));
        assert!(!valid_tag("a b"));
        assert!(!valid_tag("a;b"));
        assert!(!valid_tag(&"x".repeat(65)));
    }

    #[test]
    fn the_input_is_csv_the_engine_reads_record_by_record() {
        let mut buf = Vec::new();
        let bytes = write_input(&mut buf, 120, "t1").unwrap();
        assert_eq!(bytes, buf.len() as u64);
        let mut source = reader(InputFormat::Csv, std::io::Cursor::new(buf));
        let mut n = 0;
        let mut last_line = 0;
        while let Some(record) = source.next_record().unwrap() {
            let fields = record.fields.unwrap();
            assert_eq!(record.ordinal, n);
            assert!(record.line > last_line);
            last_line = record.line;
            assert_eq!(fields["ref"], json!(format!("t1-{n}")));
            assert_eq!(fields["points"], json!((n % 13).to_string()));
            assert_eq!(
                fields["tags"],
                json!(format!("import-bench;t1;batch-{}", n / 50))
            );
            let body = fields["body"].as_str().unwrap();
            assert!(body.contains(&format!("(record {n})")), "{body}");
            assert!(body.contains("\n\n1. Open the *settings* page\n"), "{body}");
            n += 1;
        }
        assert_eq!(n, 120);
        // Each record spans 8 lines (its description holds 7 line breaks), after the header.
        assert_eq!(last_line, 2 + 119 * 8);
    }

    #[test]
    fn the_mapping_parses() {
        let mapping = Mapping::from_toml(MAPPING).unwrap();
        assert!(mapping.problems().is_empty(), "{:?}", mapping.problems());
    }

    fn would_create(record: u64, external: Option<&str>) -> RecordResult {
        RecordResult {
            line: record + 2,
            record,
            state: RecordState::WouldCreate,
            key: None,
            id: None,
            external_id: external.map(str::to_owned),
            message: None,
            errors: Map::new(),
            actions: Vec::new(),
            request: Some(json!({
                "method": "POST",
                "fields": { "project": { "key": "DEMO" }, "summary": format!("s{record}") },
            })),
        }
    }

    #[test]
    fn bulk_elements_carry_the_fields_and_the_import_property() {
        let update = issue_update(&would_create(3, Some("t-3")), "scope").unwrap();
        assert_eq!(
            update,
            json!({
                "fields": { "project": { "key": "DEMO" }, "summary": "s3" },
                "properties": [{
                    "key": "jiralink.import",
                    "value": { "ledger": "scope", "record": "x:t-3" },
                }],
            })
        );
        assert!(issue_update(&would_create(3, None), "scope").is_err());
        let failed = RecordResult {
            state: RecordState::Failed,
            ..would_create(4, Some("t-4"))
        };
        assert!(issue_update(&failed, "scope").is_err());
        let no_request = RecordResult {
            request: None,
            ..would_create(5, Some("t-5"))
        };
        assert!(issue_update(&no_request, "scope").is_err());
    }

    #[test]
    fn bodies_hold_fifty_elements_each_serialised_as_a_whole_body_would_be() {
        let updates: Vec<Value> = (0..120)
            .map(|n| json!({ "fields": { "summary": format!("s{n}"), "n": n } }))
            .collect();
        let mut bodies = Bodies::default();
        for u in &updates {
            bodies.push(u).unwrap();
        }
        let bodies = bodies.finish();
        let expected: Vec<Vec<u8>> = updates
            .chunks(50)
            .map(|chunk| serde_json::to_vec(&json!({ "issueUpdates": chunk })).unwrap())
            .collect();
        assert_eq!(bodies, expected);
        assert_eq!(bodies.len(), 3);
        assert!(Bodies::default().finish().is_empty());
        let mut exact = Bodies::default();
        for u in &updates[..50] {
            exact.push(u).unwrap();
        }
        assert_eq!(exact.finish().len(), 1, "no empty body after a full one");
    }

    #[test]
    fn the_table_compares_each_engine_run_with_its_rounds_bare_run() {
        let lines = [
            r#"{"mode":"bare","records":10000,"seconds":2.0,"recordsPerSecond":5000,"peakRssMb":30,"cpuMs":400,"cpuMsPer1000":40,"simCpuMs":1000,"simCpuMsPer1000":100}"#,
            r#"{"mode":"engine","records":10000,"seconds":2.5,"recordsPerSecond":4000,"peakRssMb":20,"cpuMs":900,"cpuMsPer1000":90,"simCpuMs":1000,"simCpuMsPer1000":100}"#,
            "not a result",
            r#"{"mode":"bare","records":10000,"seconds":2.0,"recordsPerSecond":4000,"peakRssMb":30,"cpuMs":400,"cpuMsPer1000":40,"simCpuMs":1000,"simCpuMsPer1000":100}"#,
            r#"{"mode":"engine","records":10000,"seconds":2.5,"recordsPerSecond":3600,"peakRssMb":20,"cpuMs":900,"cpuMsPer1000":90,"simCpuMs":1000,"simCpuMsPer1000":100}"#,
            r#"{"mode":"dry-run","records":1000000,"seconds":50,"recordsPerSecond":20000,"peakRssMb":12.5,"cpuMs":50000,"cpuMsPer1000":50,"simCpuMs":10,"simCpuMsPer1000":0}"#,
        ]
        .join("\n");
        let text = table(&lines).unwrap();
        assert!(
            text.contains("| engine (round 1) | 10000 | 2.50 | 4000 | 80 % | 20.0 | 900 (90.0) | 1000 (100.0) |"),
            "{text}"
        );
        assert!(
            text.contains("| engine (round 2) | 10000 | 2.50 | 3600 | 90 % |"),
            "{text}"
        );
        assert!(
            text.contains("| bare (round 2) | 10000 | 2.00 | 4000 | — |"),
            "{text}"
        );
        assert!(
            text.contains("| dry-run | 1000000 | 50.00 | 20000 | — | 12.5 |"),
            "{text}"
        );
        assert!(
            text.contains(
                "Medians: bare 4500 records/s, engine 3800 records/s (84 % of bare); per-round ratios: 80 %, 90 %"
            ),
            "{text}"
        );
    }

    #[test]
    fn medians() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(vec![4.0, 1.0, 2.0, 3.0]), 2.5);
        assert!(median(Vec::new()).is_nan());
    }
}
