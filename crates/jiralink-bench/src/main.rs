//! Benchmarks of `jiralink serve` and of the job store, driven by
//! `scripts/bench-serve-and-jobs` (see docs/benchmarks.md). Never a dependency of another
//! crate.
//!
//! - `seed`: creates connections through `POST /v1/connections` and saves one real
//!   `GET /v1/connections` body;
//! - `plain-serve`: a bare HTTP server answering those saved bytes, the floor of HTTP serving;
//! - `load`: a closed-loop load generator (a fixed number of clients, each with one keep-alive
//!   HTTP/1.1 connection per address, requests spread round-robin over the addresses), after
//!   a warm-up, for a fixed duration;
//! - `claims`: pre-creates due one-off jobs and lets one or more claimer processes take them
//!   (`claim_job` + `finish_job`, or the bare claim statement, or `SELECT 1`), then checks
//!   that every job was claimed exactly once;
//! - `report`: the table of the results (median and spread of repeated runs, ratio to the
//!   baseline).
//!
//! Every measurement prints one JSON line, so the script only collects lines.

mod claims;
mod http;
mod report;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use jiralink_bench::{BoxError, proc};

#[derive(Debug, Parser)]
#[command(
    name = "jiralink-bench",
    about = "jiralink's serve and job-claim benchmarks"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create connections through the API, then save one GET /v1/connections body
    Seed(http::SeedArgs),
    /// Serve a file's bytes as application/json on every path (the plain baseline)
    PlainServe {
        /// The body to answer
        #[arg(long)]
        body: PathBuf,
        /// Where to listen; port 0 picks one ("Serving on http://ADDR" on stderr)
        #[arg(long, default_value = "127.0.0.1:0")]
        bind: std::net::SocketAddr,
    },
    /// Closed-loop HTTP load over one or more addresses; prints one JSON line
    Load(http::LoadArgs),
    /// Job claims per second with one or more claimer processes; prints one JSON line
    Claims(claims::ClaimsArgs),
    /// One claimer process (started by `claims`)
    #[command(hide = true)]
    ClaimWorker(claims::WorkerArgs),
    /// The table of a file of result lines
    Report {
        /// Result lines written by `load` and `claims`
        results: PathBuf,
    },
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
    let outcome = runtime.block_on(async {
        match cli.command {
            Command::Seed(args) => http::seed(&args).await,
            Command::PlainServe { body, bind } => http::plain_serve(&body, bind).await,
            Command::Load(args) => http::load(&args).await,
            Command::Claims(args) => claims::run(&args).await,
            Command::ClaimWorker(args) => claims::worker(&args).await,
            Command::Report { results } => report::print(&results),
        }
    });
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
