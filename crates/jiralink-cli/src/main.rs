//! The `jiralink` binary.
// Everything printed goes through `output` (`outln!`, `errln!`, tables, JSON), which keeps
// terminal control sequences out.
#![warn(clippy::print_stdout, clippy::print_stderr)]

#[macro_use]
mod output;

mod args;
mod bounded;
mod commands;
mod exit;
mod hint;
mod prompt;
mod secrets;

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::{CommandFactory, Parser};

use tracing_subscriber::EnvFilter;

use crate::args::{Cli, Command, GlobalArgs, LogFormat};

fn main() -> ExitCode {
    let mut cli = Cli::parse();
    if let Err(message) = cli.global.resolve_output() {
        errln!("error: {message}");
        return ExitCode::from(exit::USAGE);
    }
    init_logging(&cli.global, matches!(cli.command, Command::Serve(_)));
    if let Command::Completions { shell } = cli.command {
        clap_complete::generate(
            shell,
            &mut Cli::command(),
            "jiralink",
            &mut std::io::stdout(),
        );
        return ExitCode::SUCCESS;
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            errln!("error: could not start the async runtime: {e}");
            return ExitCode::from(exit::INTERNAL);
        }
    };
    let output = cli.global.output;
    if let Command::Sim(args) = cli.command {
        // The simulator needs no data directory or master key.
        return match runtime.block_on(jiralink_sim::cli::run(args)) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                errln!("error: {e}");
                ExitCode::from(exit::CONFIG)
            }
        };
    }
    match runtime.block_on(commands::run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => exit::report(&e, output),
    }
}

/// Logs go to stderr, so stdout stays the command's output. The filter is, by precedence:
/// --log-level, RUST_LOG, -v, then `warn` (`info` for a server, which has no other output).
fn init_logging(global: &GlobalArgs, serving: bool) {
    // PostgreSQL's NOTICE messages (e.g. "relation … already exists, skipping" while a
    // second server finds the migrations applied) are not news at `info`.
    let default = match (global.verbose, serving) {
        (0, false) => "warn",
        (0, true) | (1, _) => "info,sqlx::postgres::notice=warn",
        _ => "debug",
    };
    let filter = match &global.log_level {
        // Parsed once already by clap; an error here cannot happen.
        Some(directives) => EnvFilter::builder()
            .parse(directives)
            .unwrap_or_else(|_| EnvFilter::new(default)),
        None => EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default)),
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match global.log_format {
        LogFormat::Text => builder
            .with_ansi(std::io::stderr().is_terminal())
            .with_target(false)
            .init(),
        // Fields at the top level of each object, where log collectors look for them.
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            .init(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logging_flags_go_anywhere_and_bad_filters_are_refused() {
        let cli = Cli::try_parse_from([
            "jiralink",
            "serve",
            "--demo",
            "--bind",
            "127.0.0.1:0",
            "--log-format",
            "json",
            "--log-level",
            "info,jiralink_app=debug",
        ])
        .unwrap();
        assert_eq!(cli.global.log_format, LogFormat::Json);
        assert_eq!(
            cli.global.log_level.as_deref(),
            Some("info,jiralink_app=debug")
        );
        let Command::Serve(args) = cli.command else {
            panic!("not serve")
        };
        assert!(args.demo);
        assert_eq!(args.bind.port(), 0);

        let cli = Cli::try_parse_from(["jiralink", "--log-format", "text", "serve"]).unwrap();
        assert_eq!(cli.global.log_format, LogFormat::Text);
        let Command::Serve(args) = cli.command else {
            panic!("not serve")
        };
        assert!(!args.demo);
        assert_eq!(args.bind.to_string(), "127.0.0.1:8080");

        for bad in ["info,x=zz", "=debug"] {
            let e = Cli::try_parse_from(["jiralink", "--log-level", bad, "serve"]).unwrap_err();
            assert!(e.to_string().contains("use a level"), "{e}");
        }
        assert!(Cli::try_parse_from(["jiralink", "--log-format", "xml", "serve"]).is_err());
    }
}
