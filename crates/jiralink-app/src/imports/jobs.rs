//! The worker's import jobs.
//!
//! | Job | Key | What it does | Next run |
//! |---|---|---|---|
//! | `imports.run` | `import:<id>`, one per scheduled import | runs the import with its own input file (resuming its interrupted run first); records a `skipped` run while the connection is offline | the import's next scheduled time (when a run of it was going on elsewhere: the end of that run's lease if sooner, as for exports); deleted when the import has no schedule (or is disabled, or gone), and when its stored schedule cannot be read (a `skipped` run records why; saving the schedule again adds the job back) |

use jiralink_domain::ConnectionId;
use jiralink_store::{ImportRecord, JobRecord, RunState, RunTrigger, StoreError};
use jiralink_sync::import::NoImportProgress;
use uuid::Uuid;

use crate::exports::RunOutput;
use crate::schedule::{Definition, DefinitionJobRan, lease_wait_key, read_stored};
use crate::{App, AppError, AppResult};

/// Runs one import (its key names it).
pub(crate) const RUN_JOB: &str = "imports.run";

/// The key of an import's job.
pub(crate) fn job_key(id: Uuid) -> String {
    format!("import:{id}")
}

impl App {
    /// Runs the import a job names, when its schedule says so.
    pub(crate) async fn run_import_job(&self, job: &JobRecord) -> AppResult<DefinitionJobRan> {
        let Some(id) = job
            .key
            .strip_prefix("import:")
            .and_then(|id| id.parse::<Uuid>().ok())
        else {
            return Ok(DefinitionJobRan {
                detail: "not an import's job".to_owned(),
                next: None,
            });
        };
        // Every claim removes the mark, whichever way it returns.
        let wait_key = lease_wait_key("imports", id);
        let early = self.came_back_early(&wait_key, job).await?;
        let record = match self.store().get_import(id).await {
            Ok(record) => record,
            Err(StoreError::NotFound { .. }) => {
                return Ok(DefinitionJobRan {
                    detail: "the import was deleted".to_owned(),
                    next: None,
                });
            }
            Err(e) => return Err(e.into()),
        };
        let schedule = match read_stored(record.schedule.as_ref(), record.enabled) {
            Ok(Some(schedule)) => schedule,
            Ok(None) => {
                return Ok(DefinitionJobRan {
                    detail: "the import has no schedule now".to_owned(),
                    next: None,
                });
            }
            Err(problem) => {
                tracing::warn!(import = %record.id, problem = %problem, "the import's schedule cannot be read");
                let reason = format!(
                    "the import's schedule cannot be read ({problem}); edit the import and save \
                     its schedule again"
                );
                let detail = match self
                    .record_skipped_run(Definition::Import(&record), RunTrigger::Schedule, reason)
                    .await
                {
                    Ok(()) => format!("{}: skipped, its schedule cannot be read", record.name),
                    Err(e) => format!(
                        "{}: its schedule cannot be read, and the skipped run could not be \
                         recorded: {e}",
                        record.name
                    ),
                };
                return Ok(DefinitionJobRan { detail, next: None });
            }
        };
        if early && self.running_until(None, Some(id)).await?.is_none() {
            return Ok(DefinitionJobRan {
                detail: format!("{}: the run it waited for has ended", record.name),
                // From the time it waited for: a scheduled time that passed while it was
                // claimed late is due at once.
                next: schedule.next_after(job.next_run_at),
            });
        }
        let (detail, busy) = self.run_import_for_job(&record).await;
        let scheduled = schedule.next_after(self.now());
        let next = if busy {
            let until = self.running_until(None, Some(id)).await?.flatten();
            self.next_when_busy(&wait_key, until, scheduled).await?
        } else {
            scheduled
        };
        Ok(DefinitionJobRan { detail, next })
    }

    /// One scheduled run for the worker, described in words (failures are in the run's
    /// record), and whether it did not start because a run of the import was going on.
    async fn run_import_for_job(&self, record: &ImportRecord) -> (String, bool) {
        let offline = match self.offline_reason(record.connection_id).await {
            Ok(offline) => offline,
            Err(e) => return (format!("the connection could not be read: {e}"), false),
        };
        if let Some(reason) = offline {
            let detail = match self
                .record_skipped_run(Definition::Import(record), RunTrigger::Schedule, reason)
                .await
            {
                Ok(()) => format!("{}: skipped, the connection is offline", record.name),
                Err(e) => format!(
                    "{}: the skipped run could not be recorded: {e}",
                    record.name
                ),
            };
            return (detail, false);
        }
        let detail = match self
            .run_import(
                &record.id.to_string(),
                None,
                RunOutput::Store,
                RunTrigger::Schedule,
                &NoImportProgress,
            )
            .await
        {
            Ok(run) => format!(
                "{}: run {} {} ({} record(s) read){}",
                record.name,
                run.id.map(|id| id.to_string()).unwrap_or_default(),
                run.state.as_str(),
                run.stats.read,
                if run.resumed > 0 {
                    ", an interrupted run resumed"
                } else {
                    ""
                }
            ),
            Err(AppError::ImportRunning { .. }) => {
                return (format!("{}: a run is already going on", record.name), true);
            }
            Err(e) => format!("{}: {e}", record.name),
        };
        (detail, false)
    }

    /// Makes the scheduled imports of connections that came back online due at once when
    /// their last run was skipped. Returns how many.
    pub(crate) async fn rerun_skipped_imports(
        &self,
        connections: &[ConnectionId],
    ) -> AppResult<usize> {
        if connections.is_empty() {
            return Ok(0);
        }
        let mut due = 0;
        for (_, import, _) in self.store().imports_using(connections).await? {
            let record = self.store().get_import(import).await?;
            if !matches!(
                read_stored(record.schedule.as_ref(), record.enabled),
                Ok(Some(_))
            ) {
                continue;
            }
            let last = self.last_import_run(import).await?;
            if last.is_some_and(|r| r.state == RunState::Skipped) {
                self.ensure_import_job(import, self.now()).await?;
                due += 1;
            }
        }
        Ok(due)
    }
}
