//! `jiralink flow …`: a saved export feeding a saved import, and the history of their runs.

use jiralink_app::{FlowDraft, FlowRunView, FlowView, RunState, RunTrigger, format_time};

use crate::args::{FlowCommand, OutputFormat};
use crate::commands::Ctx;
use crate::commands::export::{confirm_delete, edited_schedule, schedule_of};
use crate::exit::CliError;
use crate::output;

pub(crate) async fn run(ctx: &Ctx, command: FlowCommand) -> Result<(), CliError> {
    match command {
        FlowCommand::Create {
            name,
            export,
            import,
            schedule,
            disabled,
        } => {
            let view = ctx
                .app
                .create_flow(FlowDraft {
                    name,
                    export,
                    import,
                    schedule: schedule_of(&schedule, None)?,
                    enabled: !disabled,
                })
                .await?;
            show(ctx, &view, "Saved")
        }
        FlowCommand::List => {
            let views = ctx.app.list_flows().await?;
            match ctx.output {
                OutputFormat::Json => output::json(&views),
                OutputFormat::Table => {
                    let rows = views
                        .iter()
                        .map(|v| {
                            vec![
                                v.name.clone(),
                                v.export_name.clone(),
                                v.import_name.clone(),
                                schedule_text(v),
                                v.last_run
                                    .as_ref()
                                    .map_or_else(|| "never".to_owned(), run_text),
                            ]
                        })
                        .collect();
                    output::table(&["NAME", "EXPORT", "IMPORT", "SCHEDULE", "LAST RUN"], rows);
                    Ok(())
                }
            }
        }
        FlowCommand::Show { flow } => {
            let view = ctx.app.get_flow(&flow).await?;
            show(ctx, &view, "")
        }
        FlowCommand::Edit {
            flow,
            name,
            export,
            import,
            schedule,
            no_schedule,
            enable,
            disable,
        } => {
            let current = ctx.app.get_flow(&flow).await?;
            let (schedule, enabled) = edited_schedule(
                &schedule,
                no_schedule,
                (enable, disable),
                current.schedule.as_ref(),
                current.enabled,
            )?;
            let draft = FlowDraft {
                name: name.unwrap_or_else(|| current.name.clone()),
                export: export.unwrap_or_else(|| current.export_id.to_string()),
                import: import.unwrap_or_else(|| current.import_id.to_string()),
                schedule,
                enabled,
            };
            let view = ctx
                .app
                .update_flow(&current.id.to_string(), draft, current.version)
                .await?;
            show(ctx, &view, "Saved")
        }
        FlowCommand::Delete { flow, yes } => {
            let view = ctx.app.get_flow(&flow).await?;
            if !yes {
                confirm_delete(
                    ctx,
                    &view.name,
                    &format!(
                        "Delete the flow {:?} and its run history (its export, import and id map \
                         stay)?",
                        view.name
                    ),
                )?;
            }
            ctx.app.delete_flow(&view.id.to_string()).await?;
            if ctx.output == OutputFormat::Table {
                outln!("Deleted flow {:?}.", view.name);
            }
            Ok(())
        }
        FlowCommand::Run { flow } => {
            if ctx.output == OutputFormat::Table {
                errln!("Running flow {flow:?}: export, import, link…");
            }
            let view = ctx.app.run_flow(&flow, RunTrigger::Cli).await?;
            match ctx.output {
                OutputFormat::Json => output::json(&view)?,
                OutputFormat::Table => run_details(&view),
            }
            if view.stats.failed > 0 {
                return Err(CliError::RecordsFailed(format!(
                    "{} record(s) failed; their reasons are in the import run's results: \
                     jiralink run output {}",
                    view.stats.failed,
                    view.import_run_id
                        .map_or_else(|| "-".to_owned(), |id| id.to_string())
                )));
            }
            Ok(())
        }
        FlowCommand::Runs { flow, limit } => {
            let runs = ctx.app.list_flow_runs(flow.as_deref(), limit).await?;
            match ctx.output {
                OutputFormat::Json => output::json(&runs),
                OutputFormat::Table => {
                    let rows = runs
                        .iter()
                        .map(|r| {
                            vec![
                                r.id.to_string(),
                                r.flow_name.clone().unwrap_or_default(),
                                format_time(r.started_at),
                                r.state.as_str().to_owned(),
                                counts(r),
                            ]
                        })
                        .collect();
                    output::table(&["RUN", "FLOW", "STARTED", "STATE", "RECORDS"], rows);
                    Ok(())
                }
            }
        }
    }
}

fn schedule_text(view: &FlowView) -> String {
    match (&view.schedule, view.enabled) {
        (None, _) => "on request".to_owned(),
        (Some(s), true) => s.describe(),
        (Some(s), false) => format!("{} (disabled)", s.describe()),
    }
}

fn counts(run: &FlowRunView) -> String {
    let s = &run.stats;
    format!(
        "{} exported, {} unchanged, {} created, {} updated, {} failed",
        s.exported, s.unchanged, s.created, s.updated, s.failed
    )
}

fn run_text(run: &FlowRunView) -> String {
    format!(
        "{} {} ({})",
        format_time(run.started_at),
        run.state.as_str(),
        counts(run)
    )
}

fn id_text(id: Option<impl std::fmt::Display>) -> String {
    id.map_or_else(|| "-".to_owned(), |id| id.to_string())
}

fn run_details(run: &FlowRunView) {
    let s = &run.stats;

    let mut pairs = vec![
        ("Run", run.id.to_string()),
        ("Flow", run.flow_name.clone().unwrap_or_default()),
        ("State", run.state.as_str().to_owned()),
        ("Exported", s.exported.to_string()),
        (
            "Unchanged",
            format!(
                "{} (not sent: nothing changed since the last copy)",
                s.unchanged
            ),
        ),
        ("Created", s.created.to_string()),
        ("Updated", s.updated.to_string()),
        ("Skipped", s.skipped.to_string()),
        ("Failed", s.failed.to_string()),
        ("Linked", s.linked.to_string()),
        (
            "Comments",
            format!("{} added, {} updated", s.comments_added, s.comments_updated),
        ),
        ("Export run", id_text(run.export_run_id)),
        ("Import run", id_text(run.import_run_id)),
    ];
    if run.state != RunState::Succeeded
        && let Some(error) = &run.error
    {
        pairs.push(("Error", error.clone()));
    }
    output::details(&pairs);
}

fn show(ctx: &Ctx, view: &FlowView, verb: &str) -> Result<(), CliError> {
    match ctx.output {
        OutputFormat::Json => output::json(view),
        OutputFormat::Table => {
            if !verb.is_empty() {
                outln!("{verb} flow {:?}.", view.name);
            }
            let pairs = vec![
                ("Name", view.name.clone()),
                ("ID", view.id.to_string()),
                ("Export", view.export_name.clone()),
                ("Import", view.import_name.clone()),
                ("Schedule", schedule_text(view)),
                (
                    "Next run",
                    view.next_run_at.map_or_else(|| "-".to_owned(), format_time),
                ),
                (
                    "Last run",
                    view.last_run
                        .as_ref()
                        .map_or_else(|| "never".to_owned(), run_text),
                ),
                ("Version", view.version.to_string()),
                ("Updated", format_time(view.updated_at)),
            ];
            output::details(&pairs);
            Ok(())
        }
    }
}
