//! A simulator in a process of its own, so a benchmark can read its CPU time from
//! `/proc/<pid>/stat` apart from the client's (see `scripts/bench-sim-vs-client` and
//! docs/benchmarks.md).
//!
//! ```console
//! cargo run --release -p jiralink-sim --example sim_serve -- \
//!     --port 0 --size large --rate-limit-per-second 0 --max-seconds 600
//! ```
//!
//! Takes every `jiralink sim` flag plus `--max-seconds`. Prints the usual banner, then one line
//! a script can read:
//!
//! ```text
//! SIM_READY base_url=http://127.0.0.1:PORT pid=PID
//! ```
//!
//! and serves until Ctrl-C, SIGTERM or `--max-seconds` pass, so a forgotten simulator never
//! outlives its benchmark for long.

use std::io::Write as _;
use std::time::Duration;

use clap::Parser;
use jiralink_sim::Sim;
use jiralink_sim::cli::{SimArgs, banner};
use tokio::signal::unix::{SignalKind, signal};

#[derive(Debug, Parser)]
#[command(about = "Serve the jiralink simulator until stopped or a time limit passes")]
struct Args {
    #[command(flatten)]
    sim: SimArgs,
    /// Stop by itself after this many seconds.
    #[arg(long, default_value_t = 600, value_parser = clap::value_parser!(u64).range(1..))]
    max_seconds: u64,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let sim = Sim::start(args.sim.to_config()?).await?;
    let mut out = std::io::stdout().lock();
    write!(out, "{}", banner(&sim))?;
    writeln!(
        out,
        "SIM_READY base_url={} pid={}",
        sim.base_url(),
        std::process::id()
    )?;
    out.flush()?;
    drop(out);

    let mut term = signal(SignalKind::terminate())?;
    let reason = tokio::select! {
        _ = tokio::signal::ctrl_c() => "interrupted",
        _ = term.recv() => "terminated",
        () = tokio::time::sleep(Duration::from_secs(args.max_seconds)) => "time limit reached",
    };
    eprintln!("simulator stopping: {reason}");
    sim.shutdown().await;
    Ok(())
}
