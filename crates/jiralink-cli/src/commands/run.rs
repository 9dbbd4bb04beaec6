//! `jiralink run …`: export runs.

use std::path::PathBuf;

use futures::StreamExt as _;
use jiralink_app::{RunListFilter, RunView, format_time};
use tokio::io::AsyncWriteExt as _;

use crate::args::{OutputFormat, RunCommand};
use crate::commands::Ctx;
use crate::exit::CliError;
use crate::output;

pub(crate) async fn run(
    ctx: &Ctx,
    command: RunCommand,
    file: Option<PathBuf>,
) -> Result<(), CliError> {
    if file.is_some() && !matches!(command, RunCommand::Output { .. }) {
        return Err(CliError::Usage(
            "--output takes table or json here; a file is only for `export run`, ad hoc \
             exports and `run output`"
                .to_owned(),
        ));
    }
    match command {
        RunCommand::List {
            export,
            connection,
            limit,
        } => {
            let runs = ctx
                .app
                .list_runs(RunListFilter {
                    export,
                    connection,
                    limit: Some(limit),
                })
                .await?;
            match ctx.output {
                OutputFormat::Json => output::json(&runs),
                OutputFormat::Table => {
                    output::table(
                        &[
                            "RUN", "EXPORT", "TRIGGER", "STATE", "STARTED", "RECORDS", "DURATION",
                        ],
                        runs.iter()
                            .map(|r| {
                                vec![
                                    r.id.to_string(),
                                    r.export_name
                                        .clone()
                                        .unwrap_or_else(|| format!("(ad hoc {})", r.resource)),
                                    r.trigger.as_str().to_owned(),
                                    r.state.as_str().to_owned(),
                                    format_time(r.started_at),
                                    records(r).to_string(),
                                    r.duration_ms.map_or_else(|| "-".to_owned(), duration),
                                ]
                            })
                            .collect(),
                    );
                    Ok(())
                }
            }
        }
        RunCommand::Show { run } => {
            let view = ctx.app.get_run(&run).await?;
            print_run(ctx, &view)
        }
        RunCommand::Cancel { run } => {
            let view = ctx.app.cancel_run(&run).await?;
            match ctx.output {
                OutputFormat::Json => output::json(&view),
                OutputFormat::Table => {
                    if view.state == jiralink_app::RunState::Running {
                        outln!(
                            "Cancel requested: the run stops after the page it is on \
                             (`jiralink run show {}` follows it).",
                            view.id
                        );
                    } else {
                        outln!("{}", summary_line(&view));
                    }
                    Ok(())
                }
            }
        }
        RunCommand::Output { run } => {
            let stream = ctx.app.run_output(&run).await?;
            let mut stream = std::pin::pin!(stream);
            let write_error =
                |e: std::io::Error| CliError::Io(format!("could not write the output: {e}"));
            match &file {
                Some(path) => {
                    let mut out = tokio::fs::File::create(path).await.map_err(|e| {
                        CliError::Io(format!("could not create {}: {e}", path.display()))
                    })?;
                    while let Some(chunk) = stream.next().await {
                        out.write_all(&chunk?).await.map_err(write_error)?;
                    }
                    out.sync_all().await.map_err(write_error)?;
                }
                None => {
                    // The records as they are: this is the command's output, not text for
                    // a person, so nothing is filtered.
                    let mut out = tokio::io::stdout();
                    while let Some(chunk) = stream.next().await {
                        out.write_all(&chunk?).await.map_err(write_error)?;
                    }
                    out.flush().await.map_err(write_error)?;
                }
            }
            Ok(())
        }
    }
}

fn records(run: &RunView) -> u64 {
    run.stats.records.values().sum()
}

fn duration(ms: u64) -> String {
    if ms < 10_000 {
        format!("{:.1} s", ms as f64 / 1000.0)
    } else if ms < 3_600_000 {
        format!("{}m {:02}s", ms / 60_000, (ms / 1000) % 60)
    } else {
        format!("{}h {:02}m", ms / 3_600_000, (ms / 60_000) % 60)
    }
}

fn bytes(n: u64) -> String {
    match n {
        n if n < 1024 => format!("{n} B"),
        n if n < 1024 * 1024 => format!("{:.1} KiB", n as f64 / 1024.0),
        n => format!("{:.1} MiB", n as f64 / (1024.0 * 1024.0)),
    }
}

/// One line about a run: "Run … succeeded: 96 records (96 issues), 2 pages, 120.3 KiB in 1.2 s".
pub(crate) fn summary_line(run: &RunView) -> String {
    let per: Vec<String> = run
        .stats
        .records
        .iter()
        .map(|(k, v)| format!("{v} {k}"))
        .collect();
    let mut line = format!(
        "Run {} {}: {} record(s)",
        run.id,
        run.state.as_str(),
        records(run)
    );
    if !per.is_empty() {
        line.push_str(&format!(" ({})", per.join(", ")));
    }
    line.push_str(&format!(
        ", {} page(s), {}",
        run.stats.pages,
        bytes(run.output_bytes)
    ));
    if let Some(ms) = run.duration_ms {
        line.push_str(&format!(" in {}", duration(ms)));
        if ms > 0 {
            line.push_str(&format!(
                " ({:.0} records/s)",
                records(run) as f64 * 1000.0 / ms as f64
            ));
        }
    }
    if run.resumed > 0 {
        line.push_str(&format!(", resumed {} time(s)", run.resumed));
    }
    if let Some(reason) = &run.reason {
        line.push_str(&format!(" — {reason}"));
    }
    if let Some(error) = &run.error {
        line.push_str(&format!(" — {error}"));
    }
    line
}

pub(crate) fn print_run(ctx: &Ctx, run: &RunView) -> Result<(), CliError> {
    match ctx.output {
        OutputFormat::Json => output::json(run),
        OutputFormat::Table => {
            let s = &run.stats;
            let mut pairs = vec![
                ("Run", run.id.to_string()),
                (
                    "Export",
                    run.export_name
                        .clone()
                        .unwrap_or_else(|| "(ad hoc)".to_owned()),
                ),
                (
                    "Connection",
                    run.connection_name
                        .clone()
                        .unwrap_or_else(|| "-".to_owned()),
                ),
                ("Resource", run.resource.clone()),
                ("Format", run.format.clone()),
                ("Trigger", run.trigger.as_str().to_owned()),
                ("State", run.state.as_str().to_owned()),
                ("Started", format_time(run.started_at)),
                (
                    "Finished",
                    run.finished_at.map_or_else(|| "-".to_owned(), format_time),
                ),
                (
                    "Duration",
                    run.duration_ms.map_or_else(|| "-".to_owned(), duration),
                ),
                (
                    "Records",
                    if s.records.is_empty() {
                        "0".to_owned()
                    } else {
                        s.records
                            .iter()
                            .map(|(k, v)| format!("{k} {v}"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    },
                ),
                ("Duplicates skipped", s.duplicates_skipped.to_string()),
                ("Pages", s.pages.to_string()),
                ("Requests", s.requests.to_string()),
                ("Retries", s.retries.to_string()),
                (
                    "Rate-limit waits",
                    format!("{} ({} ms)", s.rate_limit_waits, s.rate_limit_wait_ms),
                ),
                ("Output", bytes(run.output_bytes)),
                (
                    "Output kept until",
                    match (run.output_available, run.output_expires_at) {
                        (true, Some(t)) => format_time(t),
                        (true, None) => "the run ends".to_owned(),
                        (false, _) => "no longer kept".to_owned(),
                    },
                ),
            ];
            if let Some(file) = &run.output_file {
                pairs.push(("Output file", file.clone()));
            }
            if let Some(expected) = s.expected {
                pairs.push(("Expected (approximate)", expected.to_string()));
            }
            pairs.push((
                "Cursor before",
                run.cursor_before
                    .as_ref()
                    .map_or_else(|| "-".to_owned(), ToString::to_string),
            ));
            pairs.push((
                "Cursor after",
                run.cursor_after
                    .as_ref()
                    .map_or_else(|| "-".to_owned(), ToString::to_string),
            ));
            if run.resumed > 0 {
                pairs.push(("Resumed", format!("{} time(s)", run.resumed)));
            }
            if run.cancel_requested {
                pairs.push(("Cancel requested", "yes".to_owned()));
            }
            if let Some(reason) = &run.reason {
                pairs.push(("Reason", reason.clone()));
            }
            if let Some(error) = &run.error {
                pairs.push(("Error", error.clone()));
            }
            output::details(&pairs);
            Ok(())
        }
    }
}
