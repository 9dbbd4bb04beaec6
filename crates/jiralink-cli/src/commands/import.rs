//! `jiralink import …`: records into Jira, and the history of import runs.

use jiralink_app::{
    ImportRequest, ImportRunView, ImportSource, ImportSpec, InputFormat, ResultsFormat, RunOutput,
    RunState, RunTrigger, format_time,
};

use crate::args::{ImportCommand, ImportIssues, OutputFormat};
use crate::commands::Ctx;
use crate::commands::export::Bar;
use crate::exit::CliError;
use crate::output;

pub(crate) async fn run(ctx: &Ctx, command: ImportCommand) -> Result<(), CliError> {
    match command {
        ImportCommand::Issues(args) => issues(ctx, args).await,
        ImportCommand::Runs { limit } => {
            let runs = ctx.app.list_import_runs(limit).await?;
            match ctx.output {
                OutputFormat::Json => output::json(&runs),
                OutputFormat::Table => {
                    let rows = runs
                        .iter()
                        .map(|r| {
                            vec![
                                r.id.map(|i| i.to_string()).unwrap_or_default(),
                                r.connection_name.clone().unwrap_or_default(),
                                r.state.as_str().to_owned(),
                                format_time(r.started_at),
                                counts(r),
                            ]
                        })
                        .collect();
                    output::table(&["ID", "CONNECTION", "STATE", "STARTED", "RECORDS"], rows);
                    Ok(())
                }
            }
        }
    }
}

fn input_format(name: &str) -> Result<InputFormat, CliError> {
    match name {
        "ndjson" => Ok(InputFormat::Ndjson),
        "json" => Ok(InputFormat::Json),
        "csv" => Ok(InputFormat::Csv),
        other => Err(CliError::Usage(format!(
            "--format takes ndjson, json or csv, not {other:?}"
        ))),
    }
}

async fn issues(ctx: &Ctx, args: ImportIssues) -> Result<(), CliError> {
    let mapping = tokio::fs::read_to_string(&args.map).await.map_err(|e| {
        CliError::Io(format!(
            "could not read the mapping {}: {e}",
            args.map.display()
        ))
    })?;
    let format = args.format.as_deref().map(input_format).transpose()?;
    let source = if args.file.as_os_str() == "-" {
        ImportSource::Stdin
    } else {
        ImportSource::File(args.file.clone())
    };
    let results_format = match args.results_format.as_deref() {
        Some("csv") => ResultsFormat::Csv,
        _ => ResultsFormat::Ndjson,
    };
    let results = match &args.results {
        Some(path) => RunOutput::File(path.clone()),
        None if args.dry_run => RunOutput::Stdout,
        None => RunOutput::Store,
    };
    let request = ImportRequest {
        connection: args.connection.clone(),
        spec: ImportSpec {
            mapping,
            format,
            results_format,
            ledger: args.ledger.clone(),
            search_lag_secs: args.search_lag,
        },
        source,
        results: results.clone(),
        dry_run: args.dry_run,
        trigger: RunTrigger::Cli,
    };
    let bar = Bar::new(ctx, &results);
    let run = ctx.app.run_adhoc_import(request, &bar);
    let mut run = std::pin::pin!(run);
    let outcome = tokio::select! {
        result = &mut run => result,
        signal = tokio::signal::ctrl_c() => {
            if signal.is_ok() {
                bar.stop();
            }
            tokio::select! {
                result = &mut run => result,
                _ = tokio::signal::ctrl_c() => {
                    bar.done();
                    return Err(CliError::Cancelled(
                        "stopped without waiting for the import to end; run it again: the \
                         ledger makes sure nothing is created twice"
                            .to_owned(),
                    ));
                }
            }
        }
    };
    bar.done();
    let view = outcome?;
    summary(ctx, &view, &results)?;
    if view.state == RunState::Cancelled {
        return Err(CliError::Cancelled("the import was cancelled".to_owned()));
    }
    if view.stats.failed > 0 {
        return Err(CliError::RecordsFailed(format!(
            "{} of {} record(s) failed; the results say which and why",
            view.stats.failed, view.stats.read
        )));
    }
    Ok(())
}

fn counts(r: &ImportRunView) -> String {
    let s = &r.stats;
    if r.dry_run {
        return format!(
            "{} read: {} would be created, {} updated, {} skipped, {} failed",
            s.read, s.would_create, s.would_update, s.skipped, s.failed
        );
    }
    format!(
        "{} read: {} created, {} updated, {} skipped, {} failed",
        s.read, s.created, s.updated, s.skipped, s.failed
    )
}

fn summary(ctx: &Ctx, view: &ImportRunView, results: &RunOutput) -> Result<(), CliError> {
    match ctx.output {
        OutputFormat::Json => {
            // Standard output carries a dry run's results: the summary goes to stderr then.
            if view.dry_run && *results == RunOutput::Stdout {
                let text = serde_json::to_string(view)
                    .map_err(|e| CliError::Io(format!("could not write the summary: {e}")))?;
                output::print_json_err(&text);
                Ok(())
            } else {
                output::json(view)
            }
        }
        OutputFormat::Table => {
            let what = if view.dry_run { "Dry run" } else { "Import" };
            let mut line = format!("{what} {}: {}", view.state.as_str(), counts(view));
            if view.stats.uncertain_checked > 0 {
                line.push_str(&format!(
                    "; {} create(s) of unknown outcome looked up in Jira, {} found",
                    view.stats.uncertain_checked, view.stats.uncertain_found
                ));
            }
            line.push('.');
            errln!("{line}");
            match (&view.results_file, view.id) {
                (Some(file), _) => errln!("Results: {file}"),
                (None, Some(id)) => errln!("Results: jiralink run output {id}"),
                (None, None) => {}
            }
            Ok(())
        }
    }
}
