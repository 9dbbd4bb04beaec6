//! `jiralink import …`: records into Jira, and the history of import runs.

use jiralink_app::{
    ImportDraft, ImportRequest, ImportRunView, ImportSource, ImportSpec, ImportView, InputFormat,
    ResultsFormat, RunOutput, RunState, RunTrigger, format_time,
};

use crate::args::{ImportCommand, ImportIssues, ImportSettings, OutputFormat};
use crate::commands::Ctx;
use crate::commands::export::{Bar, confirm_delete, edited_schedule, schedule_of};
use crate::exit::CliError;
use crate::output;

pub(crate) async fn run(ctx: &Ctx, command: ImportCommand) -> Result<(), CliError> {
    match command {
        ImportCommand::Issues(args) => issues(ctx, args).await,
        ImportCommand::Create {
            name,
            connection,
            settings,
            schedule,
            disabled,
        } => {
            let mut spec = ImportSpec {
                mapping: String::new(),
                format: None,
                results_format: ResultsFormat::Ndjson,
                ledger: None,
                search_lag_secs: None,
                input: None,
            };
            if settings.map.is_none() {
                return Err(CliError::Usage("a new import needs --map FILE".to_owned()));
            }
            apply_settings(&mut spec, &settings).await?;
            let view = ctx
                .app
                .create_import(
                    ImportDraft {
                        name,
                        connection,
                        spec,
                        schedule: schedule_of(&schedule, None)?,
                        enabled: !disabled,
                    },
                    &ctx.actor,
                )
                .await?;
            show(ctx, &view, "Saved")
        }
        ImportCommand::List => {
            let views = ctx.app.list_imports().await?;
            match ctx.output {
                OutputFormat::Json => output::json(&views),
                OutputFormat::Table => {
                    let rows = views
                        .iter()
                        .map(|v| {
                            vec![
                                v.name.clone(),
                                v.connection_name.clone(),
                                operation(v),
                                schedule_label(v),
                                v.last_run
                                    .as_ref()
                                    .map_or_else(|| "never".to_owned(), last_run),
                                v.next_run_at.map_or_else(|| "-".to_owned(), format_time),
                            ]
                        })
                        .collect();
                    output::table(
                        &[
                            "NAME",
                            "CONNECTION",
                            "OPERATION",
                            "SCHEDULE",
                            "LAST RUN",
                            "NEXT RUN",
                        ],
                        rows,
                    );
                    Ok(())
                }
            }
        }
        ImportCommand::Show { import } => {
            let view = ctx.app.get_import(&import).await?;
            show(ctx, &view, "")
        }
        ImportCommand::Edit {
            import,
            name,
            connection,
            settings,
            schedule,
            no_schedule,
            enable,
            disable,
        } => {
            let current = ctx.app.get_import(&import).await?;
            let mut spec = current.spec.clone();
            apply_settings(&mut spec, &settings).await?;
            let (schedule, enabled) = edited_schedule(
                &schedule,
                no_schedule,
                (enable, disable),
                current.schedule.as_ref(),
                current.enabled,
            )?;
            let draft = ImportDraft {
                name: name.unwrap_or_else(|| current.name.clone()),
                connection: connection.unwrap_or_else(|| current.connection_id.to_string()),
                spec,
                schedule,
                enabled,
            };
            let view = ctx
                .app
                .update_import(&current.id.to_string(), draft, current.version, &ctx.actor)
                .await?;
            show(ctx, &view, "Saved")
        }
        ImportCommand::Delete { import, yes } => {
            let view = ctx.app.get_import(&import).await?;
            if !yes {
                confirm_delete(
                    ctx,
                    &view.name,
                    &format!(
                        "Delete the import {:?} with its run history? Its ledger stays.",
                        view.name
                    ),
                )?;
            }
            ctx.app
                .delete_import(&view.id.to_string(), &ctx.actor)
                .await?;
            match ctx.output {
                OutputFormat::Json => output::json(&serde_json::json!({
                    "deleted": { "id": view.id, "name": view.name }
                })),
                OutputFormat::Table => {
                    outln!("Deleted import {:?}.", view.name);
                    Ok(())
                }
            }
        }
        ImportCommand::Run {
            import,
            file,
            results,
        } => {
            let results = results.map_or(RunOutput::Store, RunOutput::File);
            let bar = Bar::new(ctx, &results);
            let asked = file.clone();
            let view = until_interrupted(
                &bar,
                ctx.app
                    .run_import(&import, file, results.clone(), RunTrigger::Cli, &bar),
            )
            .await?;
            bar.done();
            if view.resumed > 0 && ctx.output == OutputFormat::Table {
                // The interrupted run came first, with the file it started with.
                errln!(
                    "This finished the run interrupted earlier{}; run `jiralink import run` again \
                     for {}.",
                    view.input_file
                        .as_deref()
                        .map(|f| format!(" (it read {f})"))
                        .unwrap_or_default(),
                    asked.map_or_else(
                        || "the import's input file".to_owned(),
                        |f| f.display().to_string()
                    )
                );
            }
            conclude(ctx, &view, &results)
        }
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
    let mapping = crate::bounded::read_mapping(&args.map)?;
    let format = args.format.as_deref().map(input_format).transpose()?;
    let source = match (&args.file, &args.from_run) {
        (_, Some(run)) => ImportSource::ExportRun(run.clone()),
        (Some(file), None) if file.as_os_str() == "-" => ImportSource::Stdin,
        (Some(file), None) => ImportSource::File(file.clone()),
        (None, None) => {
            return Err(CliError::Usage(
                "say where the records are: --file or --from-run".into(),
            ));
        }
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
            input: None,
        },
        source,
        results: results.clone(),
        dry_run: args.dry_run,
        trigger: RunTrigger::Cli,
        attachment_dir: args.attachments.clone(),
    };
    let bar = Bar::new(ctx, &results);
    let view = until_interrupted(&bar, ctx.app.run_adhoc_import(request, &bar)).await;
    bar.done();
    conclude(ctx, &view?, &results)
}

/// Runs an import to its end. A Ctrl-C asks it to stop after its current batch (recorded as
/// cancelled); a second one leaves without waiting.
async fn until_interrupted(
    bar: &Bar,
    run: impl std::future::Future<Output = jiralink_app::AppResult<ImportRunView>>,
) -> Result<ImportRunView, CliError> {
    let mut run = std::pin::pin!(run);
    tokio::select! {
        result = &mut run => return Ok(result?),
        signal = tokio::signal::ctrl_c() => {
            if signal.is_err() {
                return Ok(run.await?);
            }
        }
    }
    bar.stop();
    tokio::select! {
        result = &mut run => Ok(result?),
        _ = tokio::signal::ctrl_c() => {
            bar.done();
            Err(CliError::Cancelled(
                "stopped without waiting for the import to end; run it again: the ledger makes \
                 sure nothing is created twice"
                    .to_owned(),
            ))
        }
    }
}

/// The summary, and the exit code the run deserves.
fn conclude(ctx: &Ctx, view: &ImportRunView, results: &RunOutput) -> Result<(), CliError> {
    summary(ctx, view, results)?;
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

async fn apply_settings(spec: &mut ImportSpec, settings: &ImportSettings) -> Result<(), CliError> {
    if let Some(path) = &settings.map {
        spec.mapping = crate::bounded::read_mapping(path)?;
    }
    if let Some(format) = settings.format.as_deref() {
        spec.format = Some(input_format(format)?);
    }
    if let Some(format) = settings.results_format.as_deref() {
        spec.results_format = if format == "csv" {
            ResultsFormat::Csv
        } else {
            ResultsFormat::Ndjson
        };
    }
    if let Some(input) = &settings.input {
        spec.input = Some(std::path::absolute(input).unwrap_or_else(|_| input.clone()));
    }
    if let Some(ledger) = &settings.ledger {
        spec.ledger = Some(ledger.clone());
    }
    if let Some(lag) = settings.search_lag {
        spec.search_lag_secs = Some(lag);
    }
    Ok(())
}

/// The mapping's operation, as the list shows it.
fn operation(view: &ImportView) -> String {
    view.spec
        .parse_mapping()
        .map(|m| m.operation.as_str().to_owned())
        .unwrap_or_else(|_| "?".to_owned())
}

fn schedule_label(v: &ImportView) -> String {
    match (&v.schedule, v.enabled) {
        (None, _) => "-".to_owned(),
        (Some(s), true) => s.describe(),
        (Some(s), false) => format!("{} (disabled)", s.describe()),
    }
}

fn last_run(run: &ImportRunView) -> String {
    match (&run.state, &run.reason) {
        (RunState::Skipped, Some(reason)) => {
            format!("skipped {}: {reason}", format_time(run.started_at))
        }
        _ => format!(
            "{} {} ({})",
            run.state.as_str(),
            format_time(run.started_at),
            counts(run)
        ),
    }
}

fn show(ctx: &Ctx, view: &ImportView, verb: &str) -> Result<(), CliError> {
    match ctx.output {
        OutputFormat::Json => output::json(view),
        OutputFormat::Table => {
            if !verb.is_empty() {
                outln!("{verb} import {:?}.", view.name);
            }
            let pairs = vec![
                ("Name", view.name.clone()),
                ("ID", view.id.to_string()),
                ("Connection", view.connection_name.clone()),
                ("Operation", operation(view)),
                (
                    "Input",
                    view.spec
                        .input
                        .as_ref()
                        .map_or_else(|| "-".to_owned(), |p| p.display().to_string()),
                ),
                ("Ledger", view.ledger.clone()),
                ("Schedule", schedule_label(view)),
                (
                    "Last run",
                    view.last_run
                        .as_ref()
                        .map_or_else(|| "never".to_owned(), last_run),
                ),
                (
                    "Next run",
                    view.next_run_at.map_or_else(|| "-".to_owned(), format_time),
                ),
                ("Version", view.version.to_string()),
                ("Updated", format_time(view.updated_at)),
                ("Mapping", view.spec.mapping.trim().to_owned()),
            ];
            output::details(&pairs);
            Ok(())
        }
    }
}
