//! Job claims per second: due one-off jobs taken by one or more claimer processes, each with
//! a connection pool of its own, until none is left.
//!
//! `claims` opens the database (applying migrations), deletes jobs of the benchmark's kind
//! left by an earlier run, adds `--jobs` due one-off jobs through [`JobStore::ensure_job`],
//! starts `--claimers` processes of this binary (`claim-worker`), waits until each has its
//! database connection open, lets them all go at once, gathers what each claimed and checks
//! that every job was claimed exactly once. The rate is the jobs claimed divided by the time
//! from the first claim's start to the last claim's end, over all processes.
//!
//! Modes:
//! - `store`: [`JobStore::claim_job`] + [`JobStore::finish_job`] with `next_run_at: None`
//!   (the job is deleted), as a worker of `jiralink serve` does for one-off work;
//! - `statement`: the claim statement of `claim_job` alone (the same `UPDATE … RETURNING`),
//!   then `DELETE FROM jobs WHERE key = …`, each in its own transaction: the same two
//!   commits per job as `store`, without the run bookkeeping (the job's run is neither
//!   recorded nor finished, and nothing else is read or checked);
//! - `select1`: `SELECT 1` round trips on the same database, `--jobs` of them in all.

use std::io::{BufRead as _, BufReader, Write as _};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use jiralink_store::{AnyStore, DatabaseUrl, JobFinish, JobOutcome, NewJob, PoolSettings, Store};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::Row as _;
use std::sync::Arc;
use time::OffsetDateTime;

use crate::BoxError;
use crate::proc::{cpus, load_average};
use jiralink_bench::percentile_ms;

/// The kind of the benchmark's jobs; nothing else claims it.
const KIND: &str = "bench.claim";
/// How the database URL reaches the claimer processes (not on their command line, where a
/// password would show).
const DATABASE_ENV: &str = "JIRALINK_BENCH_DATABASE_URL";
/// Tasks adding the jobs before a run.
const SEEDERS: usize = 8;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Mode {
    /// claim_job + finish_job (deleting the job)
    Store,
    /// The bare claim statement, then a DELETE of the job
    Statement,
    /// SELECT 1 round trips
    Select1,
}

#[derive(Debug, clap::Args)]
pub(crate) struct ClaimsArgs {
    /// sqlite:///path/to/file.db or postgres://user@host/db
    #[arg(long, env = DATABASE_ENV, hide_env_values = true)]
    database: String,
    /// Due jobs to add (round trips, for select1)
    #[arg(long, default_value_t = 2000)]
    jobs: usize,
    /// Claimer processes
    #[arg(long, default_value_t = 1)]
    claimers: usize,
    #[arg(long, value_enum, default_value_t = Mode::Store)]
    mode: Mode,
    /// What this run is, for the report
    #[arg(long)]
    label: String,
    /// The label of the run this one is compared with
    #[arg(long)]
    baseline: Option<String>,
}

#[derive(Debug, clap::Args)]
pub(crate) struct WorkerArgs {
    #[arg(long, env = DATABASE_ENV, hide_env_values = true)]
    database: String,
    #[arg(long, value_enum)]
    mode: Mode,
    /// The lease holder's name
    #[arg(long)]
    holder: String,
    /// select1: how many round trips
    #[arg(long, default_value_t = 0)]
    round_trips: usize,
}

/// What one claimer process reports.
#[derive(Debug, Default, Serialize, Deserialize)]
struct WorkerReport {
    /// The keys of the jobs it claimed (empty for select1).
    keys: Vec<String>,
    /// Per claim (claim + finish in `store` mode), in microseconds.
    latencies_us: Vec<u32>,
    started_unix_us: u128,
    finished_unix_us: u128,
    errors: u64,
    first_error: Option<String>,
    /// Claims that found nothing while a job was still due (another claimer held the row).
    misses: u64,
}

#[expect(
    clippy::disallowed_methods,
    reason = "claimers run against the real clock, as a server's worker does"
)]
fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

fn unix_us() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros())
}

/// The store and its pool, for the statements the store does not offer.
struct Db {
    store: Arc<dyn Store>,
    raw: Raw,
}

enum Raw {
    Sqlite(sqlx::SqlitePool),
    Postgres(sqlx::PgPool),
}

impl Db {
    async fn open(url: &str, max_connections: u32, migrate: bool) -> Result<Self, BoxError> {
        let url = DatabaseUrl::parse(url)?;
        let settings = PoolSettings {
            max_connections,
            min_connections: 1,
            ..PoolSettings::defaults(url.backend())
        };
        let any = if migrate {
            AnyStore::open(&url, &settings).await?
        } else {
            AnyStore::connect(&url, &settings).await?
        };
        let raw = match &any {
            AnyStore::Sqlite(s) => Raw::Sqlite(s.pool().clone()),
            AnyStore::Postgres(s) => Raw::Postgres(s.pool().clone()),
        };
        Ok(Self {
            store: any.into_store(),
            raw,
        })
    }

    /// Runs one statement with text arguments; returns the `key` column of the row it
    /// returns, if any (or `"1"` for a row without one).
    async fn text_statement(
        &self,
        sql: &str,
        args: &[&str],
    ) -> Result<Option<String>, sqlx::Error> {
        fn key_of<R: sqlx::Row>(row: &R) -> String
        where
            for<'c> &'c str: sqlx::ColumnIndex<R>,
            String: for<'r> sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
        {
            row.try_get::<String, _>("key")
                .unwrap_or_else(|_| "1".to_owned())
        }
        match &self.raw {
            Raw::Sqlite(pool) => {
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()));
                for a in args {
                    q = q.bind(a.to_string());
                }
                Ok(q.fetch_optional(pool).await?.as_ref().map(key_of))
            }
            Raw::Postgres(pool) => {
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()));
                for a in args {
                    q = q.bind(a.to_string());
                }
                Ok(q.fetch_optional(pool).await?.as_ref().map(key_of))
            }
        }
    }

    /// How many rows a query counts (`SELECT COUNT(*) AS n …`).
    async fn count(&self, sql: &'static str) -> Result<i64, sqlx::Error> {
        match &self.raw {
            Raw::Sqlite(pool) => sqlx::query(sql).fetch_one(pool).await?.try_get("n"),
            Raw::Postgres(pool) => sqlx::query(sql).fetch_one(pool).await?.try_get("n"),
        }
    }

    async fn execute(&self, sql: &'static str) -> Result<u64, sqlx::Error> {
        match &self.raw {
            Raw::Sqlite(pool) => Ok(sqlx::query(sql).execute(pool).await?.rows_affected()),
            Raw::Postgres(pool) => Ok(sqlx::query(sql).execute(pool).await?.rows_affected()),
        }
    }

    /// `claim_job`'s claim statement (crates/jiralink-store/src/sql/jobs.rs), for one kind,
    /// with the same `RETURNING` columns.
    fn claim_statement(&self) -> String {
        let skip = match self.raw {
            Raw::Sqlite(_) => "",
            Raw::Postgres(_) => " FOR UPDATE SKIP LOCKED",
        };
        let due = "next_run_at <= $3 AND (lease_until IS NULL OR lease_until <= $3)";
        format!(
            "UPDATE jobs SET lease_holder = $1, lease_until = $2, attempts = attempts + 1, \
             updated_at = $3 WHERE id = (SELECT id FROM jobs WHERE {due} AND kind IN ($4) \
             ORDER BY next_run_at, id LIMIT 1{skip}) AND {due} RETURNING id, kind, key, \
             payload, next_run_at, attempts, lease_holder, lease_until, last_outcome, \
             last_finished_at, created_at"
        )
    }
}

/// A time as the store writes it (`jiralink-store`'s `codec::fmt_time`).
fn stored_time(t: OffsetDateTime) -> String {
    const FORMAT: &[time::format_description::BorrowedFormatItem<'static>] = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z"
    );
    t.to_offset(time::UtcOffset::UTC)
        .format(FORMAT)
        .unwrap_or_default()
}

struct Claimer {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Claimer {
    fn line(&mut self) -> Result<String, BoxError> {
        let mut line = String::new();
        if self.stdout.read_line(&mut line)? == 0 {
            return Err("a claimer process stopped early (see its errors above)".into());
        }
        Ok(line)
    }
}

pub(crate) async fn run(args: &ClaimsArgs) -> Result<(), BoxError> {
    let db = Db::open(&args.database, u32::try_from(SEEDERS)?, true).await?;
    db.execute("DELETE FROM jobs WHERE kind = 'bench.claim'")
        .await?;

    let seeding = Instant::now();
    if args.mode != Mode::Select1 {
        // Due an hour ago, a millisecond apart: the oldest is claimed first. Added by a few
        // tasks at once (not measured), so PostgreSQL commits them in groups.
        let base = now() - time::Duration::hours(1);
        let run = uuid::Uuid::new_v4().simple().to_string();
        let mut tasks = tokio::task::JoinSet::new();
        for task in 0..SEEDERS {
            let (store, run, jobs) = (db.store.clone(), run.clone(), args.jobs);
            tasks.spawn(async move {
                for i in (task..jobs).step_by(SEEDERS) {
                    let at = base + time::Duration::milliseconds(i64::try_from(i)?);
                    store
                        .ensure_job(
                            &NewJob {
                                kind: KIND.to_owned(),
                                key: format!("bench-{}-{i:05}", &run[..8]),
                                payload: json!({ "i": i }),
                                next_run_at: at,
                            },
                            now(),
                        )
                        .await?;
                }
                Ok::<_, BoxError>(())
            });
        }
        while let Some(done) = tasks.join_next().await {
            done??;
        }
    }
    let seeding = seeding.elapsed().as_secs_f64();

    let claimers = args.claimers.max(1);
    let exe = std::env::current_exe()?;
    let mut children = Vec::with_capacity(claimers);
    for k in 0..claimers {
        let share = args.jobs / claimers + usize::from(k < args.jobs % claimers);
        let mut child = Command::new(&exe)
            .args(["claim-worker", "--holder", &format!("bench-claimer-{k}")])
            .args(["--round-trips", &share.to_string()])
            .args([
                "--mode",
                match args.mode {
                    Mode::Store => "store",
                    Mode::Statement => "statement",
                    Mode::Select1 => "select1",
                },
            ])
            .env(DATABASE_ENV, &args.database)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()?;
        let stdin = child.stdin.take().ok_or("no stdin")?;
        let stdout = BufReader::new(child.stdout.take().ok_or("no stdout")?);
        children.push(Claimer {
            child,
            stdin,
            stdout,
        });
    }
    // Blocking reads of pipes: on a blocking thread, so the runtime stays free.
    let finished = tokio::task::spawn_blocking(move || -> Result<_, BoxError> {
        for c in &mut children {
            let line = c.line()?;
            if line.trim() != "READY" {
                return Err(format!("a claimer said {line:?} instead of READY").into());
            }
        }
        for c in &mut children {
            c.stdin.write_all(b"GO\n")?;
            c.stdin.flush()?;
        }
        let mut reports = Vec::new();
        for c in &mut children {
            let line = c.line()?;
            reports.push(serde_json::from_str::<WorkerReport>(&line)?);
            let status = c.child.wait()?;
            if !status.success() {
                return Err(format!("a claimer exited with {status}").into());
            }
        }
        Ok(reports)
    })
    .await??;

    // Exactly once: every key claimed, none twice, and (store mode) none left behind.
    let mut keys: Vec<&str> = finished
        .iter()
        .flat_map(|r| r.keys.iter().map(String::as_str))
        .collect();
    let claimed = keys.len();
    keys.sort_unstable();
    keys.dedup();
    let distinct = keys.len();
    let left = db
        .count("SELECT COUNT(*) AS n FROM jobs WHERE kind = 'bench.claim' AND lease_holder IS NULL")
        .await?;
    let leased = db
        .count(
            "SELECT COUNT(*) AS n FROM jobs WHERE kind = 'bench.claim' AND lease_holder IS NOT NULL",
        )
        .await?;
    let runs_left = db
        .count(
            "SELECT COUNT(*) AS n FROM job_runs WHERE kind = 'bench.claim' AND outcome = 'running'",
        )
        .await?;
    let done = if args.mode == Mode::Select1 {
        finished.iter().map(|r| r.latencies_us.len()).sum()
    } else {
        claimed
    };
    let exactly_once = match args.mode {
        Mode::Select1 => done == args.jobs,
        Mode::Store => {
            claimed == args.jobs
                && distinct == claimed
                && left == 0
                && leased == 0
                && runs_left == 0
        }
        // The claimers delete each job they claim: none may be left, leased or not.
        Mode::Statement => claimed == args.jobs && distinct == claimed && left == 0 && leased == 0,
    };
    db.execute("DELETE FROM jobs WHERE kind = 'bench.claim'")
        .await?;

    let first = finished
        .iter()
        .map(|r| r.started_unix_us)
        .min()
        .unwrap_or(0);
    let last = finished
        .iter()
        .map(|r| r.finished_unix_us)
        .max()
        .unwrap_or(0);
    let seconds = Duration::from_micros(u64::try_from(last.saturating_sub(first))?).as_secs_f64();
    let mut latencies: Vec<u32> = finished
        .iter()
        .flat_map(|r| r.latencies_us.iter().copied())
        .collect();
    latencies.sort_unstable();
    let errors: u64 = finished.iter().map(|r| r.errors).sum();
    let first_error = finished.iter().find_map(|r| r.first_error.clone());
    println!(
        "{}",
        json!({
            "kind": "claims",
            "label": args.label,
            "baseline": args.baseline,
            "mode": args.mode,
            "backend": DatabaseUrl::parse(&args.database)?.backend().as_str(),
            "claimers": claimers,
            "jobs": args.jobs,
            "done": done,
            "distinct": distinct,
            "exactly_once": exactly_once,
            "left_unclaimed": left,
            "seconds": seconds,
            "per_second": if seconds > 0.0 { done as f64 / seconds } else { 0.0 },
            "p50_ms": percentile_ms(&latencies, 0.50),
            "p99_ms": percentile_ms(&latencies, 0.99),
            "errors": errors,
            "first_error": first_error,
            "misses": finished.iter().map(|r| r.misses).sum::<u64>(),
            "per_claimer": finished.iter().map(|r| r.latencies_us.len()).collect::<Vec<_>>(),
            "seeding_seconds": seeding,
            "load_average": load_average(),
            "cpus": cpus(),
        })
    );
    if !exactly_once {
        return Err(format!(
            "not every job was claimed exactly once: {claimed} claims of {distinct} distinct \
             jobs out of {}, {left} left unclaimed, {leased} still leased, {runs_left} runs \
             still running",
            args.jobs
        )
        .into());
    }
    Ok(())
}

/// Counts an error (keeping the first); `false` once there are too many to go on.
fn failed(report: &mut WorkerReport, e: &dyn std::fmt::Display) -> bool {
    report.errors += 1;
    report.first_error.get_or_insert_with(|| e.to_string());
    report.errors < 100
}

/// One claimer process: opens its pool, says READY, waits for GO on stdin, claims until no
/// job is due, prints its [`WorkerReport`] as one JSON line.
pub(crate) async fn worker(args: &WorkerArgs) -> Result<(), BoxError> {
    let db = Db::open(&args.database, 1, false).await?;
    db.store.ping().await?;
    println!("READY");
    std::io::stdout().flush()?;
    let go = tokio::task::spawn_blocking(|| {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line).map(|_| line)
    })
    .await??;
    if go.trim() != "GO" {
        return Err("the benchmark stopped before it started".into());
    }

    let mut report = WorkerReport {
        started_unix_us: unix_us(),
        ..WorkerReport::default()
    };
    let claim_sql = db.claim_statement();
    let holder = args.holder.as_str();
    let lease = time::Duration::minutes(5);
    loop {
        let started = Instant::now();
        let claimed_key = match args.mode {
            Mode::Select1 => {
                if report.latencies_us.len() >= args.round_trips {
                    break;
                }
                match db.text_statement("SELECT 1 AS one", &[]).await {
                    Ok(_) => Some(String::new()),
                    Err(e) if failed(&mut report, &e) => continue,
                    Err(_) => break,
                }
            }
            Mode::Store => {
                let at = now();
                match db.store.claim_job(&[KIND], holder, at, at + lease).await {
                    Ok(Some(claimed)) => {
                        let done = now();
                        let finish = JobFinish {
                            outcome: JobOutcome::Succeeded,
                            detail: None,
                            at: done,
                            next_run_at: None,
                            forget_runs_before: done - time::Duration::days(7),
                        };
                        match db.store.finish_job(&claimed, holder, &finish).await {
                            Ok(true) => Some(claimed.job.key),
                            Ok(false) => {
                                failed(&mut report, &"finish_job: the lease was lost");
                                Some(claimed.job.key)
                            }
                            Err(e) if failed(&mut report, &e) => continue,
                            Err(_) => break,
                        }
                    }
                    Ok(None) => None,
                    Err(e) if failed(&mut report, &e) => continue,
                    Err(_) => break,
                }
            }
            Mode::Statement => {
                let at = now();
                let (at_text, until) = (stored_time(at), stored_time(at + lease));
                match db
                    .text_statement(&claim_sql, &[holder, &until, &at_text, KIND])
                    .await
                {
                    Ok(Some(key)) => {
                        match db
                            .text_statement("DELETE FROM jobs WHERE key = $1", &[&key])
                            .await
                        {
                            Ok(_) => Some(key),
                            Err(e) if failed(&mut report, &e) => continue,
                            Err(_) => break,
                        }
                    }
                    Ok(None) => None,
                    Err(e) if failed(&mut report, &e) => continue,
                    Err(_) => break,
                }
            }
        };
        match claimed_key {
            Some(key) => {
                let us = started.elapsed().as_micros();
                report
                    .latencies_us
                    .push(u32::try_from(us).unwrap_or(u32::MAX));
                if args.mode != Mode::Select1 {
                    report.keys.push(key);
                }
            }
            None => {
                // Nothing claimed: done, unless a job is still due (its row was held by
                // another claimer at that moment).
                match db.store.next_job_due(&[KIND]).await {
                    Ok(Some(due)) if due <= now() => report.misses += 1,
                    Ok(_) => break,
                    Err(e) if failed(&mut report, &e) => {}
                    Err(_) => break,
                }
            }
        }
    }
    report.finished_unix_us = unix_us();
    println!("{}", serde_json::to_string(&report)?);
    Ok(())
}
