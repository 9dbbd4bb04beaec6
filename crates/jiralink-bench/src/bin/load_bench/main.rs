//! `jiralink serve` under load: many signed-in users of the web UI and the API against three
//! servers on one PostgreSQL database (see `scripts/bench-load` and docs/benchmarks.md,
//! "Server under load").
//!
//! ```console
//! load_bench --jiralink target/release/jiralink [--users 200] [--seconds 30] [--warmup 10]
//!     [--baseline-seconds 10] [--think-ms 0] [--max-growth-mb MB] [--results FILE]
//! ```
//!
//! 1. Starts `jiralink sim` (burst and points limits off) and three `jiralink serve`, all on
//!    127.0.0.1 with free ports, on a schema of their own in the PostgreSQL database of
//!    `JIRALINK_TEST_DATABASE_URL` (dropped at the end), sharing one master key, the
//!    administrator's password and the server's API key; Atlassian's addresses are the
//!    simulator's.
//! 2. The administrator signs in on each server and adds `--users` users through the users
//!    page, and an API key for each (read from the page that shows it once). Each user makes
//!    a Basic connection to the simulator's `demo` site and an export of ten of its issues
//!    through `/v1`. User `i` uses server `i mod 3` throughout, over one keep-alive connection.
//! 3. Every user signs in once through the sign-in form (at most `--sign-in-concurrency` at a
//!    time: each sign-in is an Argon2 verification of 19 MiB) and keeps the session.
//! 4. For `--warmup` + `--seconds` every user goes round a mix (`user::MIX`): the pages of
//!    connections, a connection, its audit trail, exports, an export, runs, flows, listeners
//!    and notifications; the connection form (create, delete, and with problems: 422); Test
//!    connection; the OAuth 2.0 client dialog (create, edit, and refused: 422); through `/v1`
//!    with its key: connections listed and read, its own connections and OAuth 2.0 clients
//!    created, replaced and deleted, refused bodies (400), tests against the simulator, export
//!    runs started and read. Latencies count after the warm-up; every answer counts for the
//!    checks. The resident memory (`VmRSS`) of each server is sampled every second.
//! 5. Baselines in the same run, the same users and connections: every user GETs `/healthz`
//!    of its jiralink server (jiralink's cheapest route), then the same against three plain
//!    axum processes answering as many bytes as the mix's mean answer, on every path.
//!
//! Fails (exit 1) on any 5xx, any request without an answer (refused, reset, or none within
//! 30 s), any status a request does not expect (a 4xx is expected only where the mix provokes
//! it), a test of the connection that does not pass, an export run that fails, a server that
//! exits, and, with `--max-growth-mb`, a server whose memory grew more than that after the
//! warm-up. Prints Markdown tables and, with `--results`, one JSON line.

mod client;
mod cluster;
mod stats;
mod user;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};
use serde_json::json;
use tokio::sync::Semaphore;

use jiralink_bench::BoxError;
use jiralink_bench::proc::{cpus, load_average, rss_kb};
use jiralink_store::TestSchema;

use crate::client::{Auth, Body, Conn};
use crate::cluster::{Memory, Process, Samples};
use crate::stats::{Tally, percentiles};
use crate::user::{Admin, Ctx, User};

#[derive(Debug, Parser)]
#[command(name = "load_bench", about = "jiralink serve under load")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    run: RunArgs,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// The plain baseline server (started by the run itself)
    #[command(hide = true)]
    PlainServe {
        #[arg(long)]
        bytes: usize,
    },
}

#[derive(Debug, clap::Args)]
struct RunArgs {
    /// The `jiralink` binary to run (a release build)
    #[arg(long, default_value = "target/release/jiralink")]
    jiralink: PathBuf,
    /// The PostgreSQL database to make the run's schema in
    #[arg(
        long,
        env = "JIRALINK_TEST_DATABASE_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/test"
    )]
    database: String,
    /// Concurrent users
    #[arg(long, default_value_t = 200)]
    users: usize,
    /// Seconds measured, after the warm-up
    #[arg(long, default_value_t = 30.0)]
    seconds: f64,
    /// Seconds of the same load before measuring
    #[arg(long, default_value_t = 10.0)]
    warmup: f64,
    /// Seconds of each baseline (after 2 s of the same load)
    #[arg(long, default_value_t = 10.0)]
    baseline_seconds: f64,
    /// Mean pause of a user between requests, in ms (uniform in 0..2×); 0: none
    #[arg(long, default_value_t = 0)]
    think_ms: u64,
    /// Sign-ins in flight at once while the users arrive
    #[arg(long, default_value_t = 8)]
    sign_in_concurrency: usize,
    /// Fail when a server's resident memory grew more than this after the warm-up (MB)
    #[arg(long)]
    max_growth_mb: Option<f64>,
    /// Also append the result line to this file
    #[arg(long)]
    results: Option<PathBuf>,
}

const SERVERS: usize = 3;

fn random_hex(bytes: usize) -> String {
    let mut out = String::new();
    while out.len() < bytes * 2 {
        out.push_str(&uuid::Uuid::new_v4().simple().to_string());
    }
    out.truncate(bytes * 2);
    out
}

/// A closed loop of `users` clients, client `i` on `addrs[i % n]`, each GETting `path` as
/// soon as its last answer came, for 2 s of warm-up and `seconds` measured.
async fn baseline(
    addrs: &[SocketAddr],
    users: usize,
    path: &'static str,
    seconds: Duration,
) -> Tally {
    let start = Instant::now();
    let measure_from = start + Duration::from_secs(2);
    let end = measure_from + seconds;
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..users {
        let addr = addrs[i % addrs.len()];
        tasks.spawn(async move {
            let mut tally = Tally::default();
            let Ok(mut conn) = Conn::new(addr) else {
                return tally;
            };
            while Instant::now() < end {
                user::call(
                    &mut conn,
                    &mut tally,
                    measure_from,
                    path,
                    axum::http::Method::GET,
                    path,
                    Auth::None,
                    None,
                    Body::Empty,
                    &[200],
                )
                .await;
            }
            tally
        });
    }
    let mut all = Tally::default();
    while let Some(t) = tasks.join_next().await {
        if let Ok(t) = t {
            all.merge(t);
        }
    }
    all
}

struct Outcome {
    failed: Vec<String>,
}

#[expect(clippy::too_many_lines, reason = "the run, step by step")]
async fn run(args: &RunArgs) -> Result<Outcome, BoxError> {
    let mut failed = Vec::new();
    let work = cluster::WorkDir::create()?;
    let dir = work.path();
    println!(
        "machine: {} CPUs, load average {:.2}; {} users, {} s warm-up + {} s measured, think {} ms",
        cpus(),
        load_average(),
        args.users,
        args.warmup,
        args.seconds,
        args.think_ms
    );

    let sim = cluster::start_sim(&args.jiralink, dir).await?;
    let schema = TestSchema::create(&args.database).await?;
    let admin_password = format!("load-admin-{}", random_hex(12));
    let user_password = format!("load-user-{}", random_hex(12));
    let mut env: Vec<(String, String)> = vec![
        ("JIRALINK_DATABASE_URL".into(), schema.url().to_owned()),
        ("JIRALINK_MASTER_KEY".into(), random_hex(32)),
        (
            "JIRALINK_API_KEY".into(),
            format!("load-{}", random_hex(16)),
        ),
        ("JIRALINK_ADMIN_PASSWORD".into(), admin_password.clone()),
    ];
    env.extend(sim.endpoints.iter().cloned());
    let mut servers: Vec<(Process, SocketAddr)> = Vec::new();
    for i in 0..SERVERS {
        // The first applies the migrations and makes the administrator alone.
        servers.push(
            cluster::start_server(&args.jiralink, dir, &format!("serve-{}", i + 1), &env).await?,
        );
    }
    let addrs: Vec<SocketAddr> = servers.iter().map(|s| s.1).collect();
    let pids: Vec<u32> = servers.iter().map(|s| s.0.pid()).collect();
    let idle_mb: Vec<f64> = pids.iter().map(|p| rss_kb(*p) as f64 / 1024.0).collect();
    println!(
        "servers: {addrs:?} (pids {pids:?}), simulator pid {}",
        sim.process.pid()
    );

    let ctx_template = (sim.email.clone(), sim.token.clone());
    let setup = Instant::now();
    // Users and keys: one administrator session per server, users spread over them.
    let mut admins = Vec::new();
    for addr in &addrs {
        admins.push(Admin::sign_in(*addr, &admin_password).await?);
    }
    let mut made = tokio::task::JoinSet::new();
    for (a, mut admin) in admins.into_iter().enumerate() {
        let (users, password) = (args.users, user_password.clone());
        made.spawn(async move {
            let mut keys = Vec::new();
            for i in (a..users).step_by(SERVERS) {
                let name = format!("load-u{i}");
                let key = admin.add_user(&name, &password).await?;
                keys.push((i, name, key));
            }
            Ok::<_, BoxError>(keys)
        });
    }
    let mut keys = Vec::new();
    while let Some(done) = made.join_next().await {
        keys.extend(done??);
    }
    keys.sort_by_key(|k| k.0);
    let prepare_ctx = Arc::new(Ctx {
        measure_from: Instant::now(),
        end: Instant::now(),
        sim_email: ctx_template.0.clone(),
        sim_token: ctx_template.1.clone(),
        think: Duration::ZERO,
    });
    let gate = Arc::new(Semaphore::new(16));
    let mut prepared = tokio::task::JoinSet::new();
    for (i, name, key) in keys {
        let (gate, ctx, addr) = (gate.clone(), prepare_ctx.clone(), addrs[i % SERVERS]);
        prepared.spawn(async move {
            let _permit = gate.acquire().await?;
            User::prepare(i, name, &key, addr, &ctx).await
        });
    }
    let mut users = Vec::new();
    while let Some(done) = prepared.join_next().await {
        users.push(done??);
    }
    users.sort_by_key(|u| u.index);
    let setup_secs = setup.elapsed().as_secs_f64();

    // Every user signs in once.
    let signing = Instant::now();
    let gate = Arc::new(Semaphore::new(args.sign_in_concurrency.max(1)));
    let mut signed = tokio::task::JoinSet::new();
    for mut u in users {
        let (gate, password) = (gate.clone(), user_password.clone());
        signed.spawn(async move {
            let mut tally = Tally::default();
            let _permit = gate.acquire().await?;
            u.sign_in(&password, &mut tally).await?;
            Ok::<_, BoxError>((u, tally))
        });
    }
    let mut users = Vec::new();
    let mut sign_ins = Tally::default();
    while let Some(done) = signed.join_next().await {
        let (u, t) = done??;
        users.push(u);
        sign_ins.merge(t);
    }
    let sign_in_secs = signing.elapsed().as_secs_f64();
    println!(
        "setup: {} users with keys, connections and exports in {setup_secs:.1} s; all signed in \
         in {sign_in_secs:.1} s",
        users.len()
    );

    // The load.
    let start = Instant::now();
    let measure_from = start + Duration::try_from_secs_f64(args.warmup)?;
    let ctx = Arc::new(Ctx {
        measure_from,
        end: measure_from + Duration::try_from_secs_f64(args.seconds)?,
        sim_email: ctx_template.0,
        sim_token: ctx_template.1,
        think: Duration::from_millis(args.think_ms),
    });
    let (samples, sampler) = Samples::start(pids.clone(), start, Duration::from_secs(1));
    let mut running = tokio::task::JoinSet::new();
    for u in users {
        running.spawn(u.run(ctx.clone(), Tally::default()));
    }
    let mut tally = Tally::default();
    while let Some(done) = running.join_next().await {
        tally.merge(done?);
    }
    let load_secs = start.elapsed().as_secs_f64();
    sampler.abort();
    let rows = samples.rows();
    let load_avg = load_average();
    for (process, _) in &mut servers {
        if !process.alive() {
            failed.push(format!("{} exited:\n{}", process.name, process.tail()));
        }
    }

    // Baselines, on the same machine right after.
    let overall = tally.overall();
    let mean_bytes = usize::try_from(overall.bytes / overall.answers().max(1)).unwrap_or(0);
    let baseline_for = Duration::try_from_secs_f64(args.baseline_seconds)?;
    let healthz = baseline(&addrs, args.users, "/healthz", baseline_for).await;
    drop(servers);
    let mut plains = Vec::new();
    for i in 0..SERVERS {
        plains.push(cluster::start_plain(dir, &format!("plain-{}", i + 1), mean_bytes).await?);
    }
    let plain_addrs: Vec<SocketAddr> = plains.iter().map(|p| p.1).collect();
    let plain = baseline(&plain_addrs, args.users, "/", baseline_for).await;
    drop(plains);

    // Report.
    println!();
    println!(
        "Sign-in of {} users ({} at a time), {sign_in_secs:.1} s:",
        sign_ins.routes.get("POST /login").map_or(0, |t| t.ok),
        args.sign_in_concurrency
    );
    println!();
    stats::print_table(&sign_ins, sign_in_secs);
    println!();
    println!(
        "The mix: {} users over {SERVERS} servers, {} s measured after {} s of warm-up \
         (1-minute load average at the end {load_avg:.2}):",
        args.users, args.seconds, args.warmup
    );
    println!();
    stats::print_table(&tally, args.seconds);
    let mut all = overall.latencies_us.clone();
    let [p50, p95, p99, _] = percentiles(&mut all);
    let rate = all.len() as f64 / args.seconds;
    println!();
    println!(
        "Baselines, {} s each after 2 s of the same load, the same {} users and connections:",
        args.baseline_seconds, args.users
    );
    println!();
    println!("| Run | Requests/s | p50 ms | p95 ms | p99 ms | Failures | Mix rate ÷ this |");
    println!("|---|---|---|---|---|---|---|");
    println!(
        "| the mix ({mean_bytes} B mean answer) | {rate:.0} | {p50:.1} | {p95:.1} | {p99:.1} | {} | 1 |",
        overall.failures()
    );
    let mut baselines = Vec::new();
    for (label, t) in [
        ("jiralink GET /healthz", &healthz),
        ("plain axum, same bytes", &plain),
    ] {
        let o = t.overall();
        let mut lat = o.latencies_us.clone();
        let [b50, b95, b99, _] = percentiles(&mut lat);
        let b_rate = lat.len() as f64 / args.baseline_seconds;
        println!(
            "| {label} | {b_rate:.0} | {b50:.1} | {b95:.1} | {b99:.1} | {} | {:.3} |",
            o.failures(),
            rate / b_rate
        );
        if o.failures() > 0 {
            failed.push(format!(
                "{label}: {} failures, the first: {}",
                o.failures(),
                o.first_failure.clone().unwrap_or_default()
            ));
        }
        baselines.push(json!({
            "label": label, "per_second": b_rate, "p50_ms": b50, "p95_ms": b95, "p99_ms": b99,
            "failures": o.failures(), "mix_ratio": rate / b_rate,
        }));
    }

    let warm_at = args.warmup;
    let memories: Vec<Memory> = (0..SERVERS)
        .map(|c| cluster::memory(&rows, c, warm_at, 5.0))
        .collect();
    println!();
    println!(
        "Resident memory (VmRSS) of each server, sampled every second over {load_secs:.0} s \
         (start, end of the warm-up and end: the median of 5 s of samples; slope: least \
         squares after the warm-up):"
    );
    println!();
    println!(
        "| Server | Idle MB | Start MB | After warm-up MB | End MB | Growth after warm-up MB | Slope MB/min |"
    );
    println!("|---|---|---|---|---|---|---|");
    for (i, m) in memories.iter().enumerate() {
        println!(
            "| serve-{} | {:.1} | {:.1} | {:.1} | {:.1} | {:+.1} | {:+.2} |",
            i + 1,
            idle_mb.get(i).copied().unwrap_or(f64::NAN),
            m.start_mb,
            m.warm_mb,
            m.end_mb,
            m.growth_mb(),
            m.slope_mb_per_min
        );
        if let Some(bound) = args.max_growth_mb
            && m.growth_mb() > bound
        {
            failed.push(format!(
                "serve-{}: memory grew {:.1} MB after the warm-up, more than {bound} MB",
                i + 1,
                m.growth_mb()
            ));
        }
    }
    if let Some(bound) = args.max_growth_mb {
        println!();
        println!("Bound: growth after the warm-up at most {bound} MB per server.");
    }

    for (label, t) in [("sign-in", &sign_ins), ("the mix", &tally)] {
        for (route, r) in &t.routes {
            if r.failures() > 0 {
                failed.push(format!(
                    "{label}, {route}: {} unexpected, {} 5xx, {} without an answer; the first: {}",
                    r.unexpected,
                    r.server_errors,
                    r.transport,
                    r.first_failure.clone().unwrap_or_default()
                ));
            }
        }
    }

    let line = json!({
        "kind": "load",
        "users": args.users,
        "servers": SERVERS,
        "seconds": args.seconds,
        "warmup": args.warmup,
        "think_ms": args.think_ms,
        "requests": all.len(),
        "per_second": rate,
        "p50_ms": p50, "p95_ms": p95, "p99_ms": p99,
        "expected_4xx": overall.expected_4xx,
        "unexpected": overall.unexpected,
        "server_errors": overall.server_errors,
        "transport_errors": overall.transport,
        "mean_bytes": mean_bytes,
        "routes": tally.routes.iter().map(|(r, t)| stats::route_json(r, t, args.seconds)).collect::<Vec<_>>(),
        "baselines": baselines,
        "memory": memories.iter().enumerate().map(|(i, m)| json!({
            "server": i + 1, "idle_mb": idle_mb.get(i), "start_mb": m.start_mb,
            "warm_mb": m.warm_mb, "end_mb": m.end_mb, "growth_mb": m.growth_mb(),
            "slope_mb_per_min": m.slope_mb_per_min,
        })).collect::<Vec<_>>(),
        "max_growth_mb": args.max_growth_mb,
        "load_average": load_avg,
        "cpus": cpus(),
        "failed": failed,
    });
    if let Some(path) = &args.results {
        use std::io::Write as _;
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        writeln!(f, "{line}")?;
    }
    drop(sim);
    drop(schema);
    Ok(Outcome { failed })
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: the runtime cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let Some(Command::PlainServe { bytes }) = cli.command {
        return match runtime.block_on(cluster::plain_serve(bytes)) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        };
    }
    match runtime.block_on(run(&cli.run)) {
        Ok(Outcome { failed }) if failed.is_empty() => {
            println!();
            println!("PASS: no 5xx, every request answered as expected");
            ExitCode::SUCCESS
        }
        Ok(Outcome { failed }) => {
            println!();
            for f in &failed {
                println!("FAIL: {f}");
            }
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
