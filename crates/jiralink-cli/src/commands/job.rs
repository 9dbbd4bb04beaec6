//! `jiralink job …`: the background jobs servers share through the database.

use jiralink_app::{RECURRING_JOBS, format_time};

use crate::args::{JobCommand, OutputFormat};
use crate::commands::Ctx;
use crate::exit::CliError;
use crate::output;

pub(crate) async fn run(ctx: &Ctx, command: JobCommand) -> Result<(), CliError> {
    match command {
        JobCommand::List => {
            ctx.app.ensure_recurring_jobs().await?;
            let jobs = ctx.app.list_jobs().await?;
            match ctx.output {
                OutputFormat::Json => output::json(&jobs),
                OutputFormat::Table => {
                    output::table(
                        &["JOB", "NEXT RUN", "RUNNING ON", "LAST RUN", "ATTEMPTS"],
                        jobs.iter()
                            .map(|j| {
                                vec![
                                    j.key.clone(),
                                    format_time(j.next_run_at),
                                    j.running_on.clone().unwrap_or_else(|| "-".to_owned()),
                                    match (j.last_outcome, j.last_finished_at) {
                                        (Some(o), Some(at)) => {
                                            format!("{} at {}", o.as_str(), format_time(at))
                                        }
                                        _ => "never".to_owned(),
                                    },
                                    j.attempts.to_string(),
                                ]
                            })
                            .collect(),
                    );
                    Ok(())
                }
            }
        }
        JobCommand::Runs { limit } => {
            let runs = ctx.app.list_job_runs(limit).await?;
            match ctx.output {
                OutputFormat::Json => output::json(
                    &runs
                        .iter()
                        .map(|r| {
                            serde_json::json!({
                                "job": r.kind,
                                "holder": r.holder,
                                "attempt": r.attempt,
                                "startedAt": r.started_at.format(&time::format_description::well_known::Rfc3339).ok(),
                                "finishedAt": r.finished_at.and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok()),
                                "outcome": r.outcome,
                                "detail": r.detail,
                            })
                        })
                        .collect::<Vec<_>>(),
                ),
                OutputFormat::Table => {
                    output::table(
                        &["JOB", "STARTED", "ON", "OUTCOME", "DETAIL"],
                        runs.iter()
                            .map(|r| {
                                vec![
                                    r.kind.clone(),
                                    format_time(r.started_at),
                                    r.holder.clone(),
                                    r.outcome.as_str().to_owned(),
                                    r.detail.clone().unwrap_or_default(),
                                ]
                            })
                            .collect(),
                    );
                    Ok(())
                }
            }
        }
        JobCommand::Run { job } => {
            ctx.app.ensure_recurring_jobs().await?;
            if !ctx.app.run_job_now(&job).await? {
                return Err(CliError::Usage(format!(
                    "there is no such job; the jobs are {}",
                    RECURRING_JOBS.join(", ")
                )));
            }
            if ctx.output == OutputFormat::Table {
                outln!(
                    "The job {job} is due now: a running server (or `jiralink connection watch`) \
                     runs it within seconds."
                );
            }
            Ok(())
        }
    }
}
