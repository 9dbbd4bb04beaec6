//! The worker's export jobs.
//!
//! | Job | Key | What it does | Next run |
//! |---|---|---|---|
//! | `exports.run` | `export:<id>`, one per export | resumes the export's interrupted run, else starts one; records a `skipped` run while the connection is offline; with no schedule and no run asked for, only finishes a run left by a server that died running this job | the export's next scheduled time (when a run of it was going on elsewhere: the end of that run's lease if sooner, so a run left by a server that died is resumed then; coming back so finds the run ended or resumes it, and starts nothing new); deleted when the export has no schedule (or is disabled, or gone) and no run was asked for and none is left to finish, and when its stored schedule cannot be read (a `skipped` run records why; saving the schedule again adds the job back) |
//! | `exports.cleanup` | `exports.cleanup` | deletes outputs older than `exports.output_retention`; records ad hoc runs whose process died as failed | an hour later |
//!
//! "Run now" marks the export as asked for (a setting only the claim of its job removes) and
//! makes the job due now, adding it for an export without a schedule. A run asked for while
//! another run of the export is going on (on another server) stays asked for: the job tries
//! again 30 s later.

use jiralink_domain::ConnectionId;
use jiralink_store::{JobRecord, RunState, RunTrigger, StoreError};
use jiralink_sync::NoProgress;
use uuid::Uuid;

use super::RunOutput;
use crate::schedule::{Definition, DefinitionJobRan, lease_wait_key, read_stored};
use crate::{App, AppError, AppResult};

/// Runs one export (its key names it).
pub(crate) const RUN_JOB: &str = "exports.run";
/// When a run asked for while another run of the export was going on is tried again.
const RETRY_BUSY: time::Duration = time::Duration::seconds(30);
/// Deletes expired outputs.
pub(crate) const CLEANUP_JOB: &str = "exports.cleanup";
/// How often expired outputs are looked for.
pub(crate) const CLEANUP_EVERY: std::time::Duration = std::time::Duration::from_secs(3600);

/// The setting that says a run of the export was asked for.
fn requested_key(id: Uuid) -> String {
    format!("exports.run_requested.{id}")
}

impl App {
    /// "Run now": the worker of some server (or `connection watch`) runs the export at once;
    /// never two runs of it at a time.
    pub async fn request_export_run(&self, reference: &str) -> AppResult<()> {
        let record = self.find_export(reference).await?;
        let now = self.now();
        self.set_setting(&requested_key(record.id), &crate::format_time(now))
            .await?;
        self.ensure_export_job(record.id, now).await
    }

    /// Runs the export a job names.
    pub(crate) async fn run_export_job(&self, job: &JobRecord) -> AppResult<DefinitionJobRan> {
        let Some(id) = job
            .key
            .strip_prefix("export:")
            .and_then(|id| id.parse::<Uuid>().ok())
        else {
            return Ok(DefinitionJobRan {
                detail: "not an export's job".to_owned(),
                next: None,
            });
        };
        // Every claim removes the mark, whichever way it returns.
        let wait_key = lease_wait_key("exports", id);
        let early = self.came_back_early(&wait_key, job).await?;
        let record = match self.store().get_export(id).await {
            Ok(record) => record,
            Err(StoreError::NotFound { .. }) => {
                return Ok(DefinitionJobRan {
                    detail: "the export was deleted".to_owned(),
                    next: None,
                });
            }
            Err(e) => return Err(e.into()),
        };
        let requested = self.delete_setting(&requested_key(id)).await?;
        let schedule = match read_stored(record.schedule.as_ref(), record.enabled) {
            Ok(schedule) => schedule,
            Err(problem) => {
                // Not a reason to forget the export: its run is recorded as skipped with the
                // reason, which shows as its last run until the schedule is saved again.
                tracing::warn!(export = %record.id, problem = %problem, "the export's schedule cannot be read");
                let reason = format!(
                    "the export's schedule cannot be read ({problem}); edit the export and save \
                     its schedule again"
                );
                let trigger = if requested {
                    RunTrigger::Manual
                } else {
                    RunTrigger::Schedule
                };
                let detail = match self
                    .record_skipped_run(Definition::Export(&record), trigger, reason)
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
        if !requested && schedule.is_none() {
            return self.finish_orphaned_run(&record).await;
        }
        if early && !requested && self.running_until(Some(id), None).await?.is_none() {
            return Ok(DefinitionJobRan {
                detail: format!("{}: the run it waited for has ended", record.name),
                // From the time it waited for: a scheduled time that passed while it was
                // claimed late is due at once.
                next: schedule.and_then(|s| s.next_after(job.next_run_at)),
            });
        }
        let trigger = if requested {
            RunTrigger::Manual
        } else {
            RunTrigger::Schedule
        };
        let (detail, busy) = self.run_export_for_job(&record, trigger).await;
        if busy && requested {
            // A run asked for is not forgotten: it goes once the other run is over.
            self.set_setting(&requested_key(id), &crate::format_time(self.now()))
                .await?;
        }
        // A run asked for while this one ran goes next; one that could not start now is
        // tried again soon, not at once (it would only be refused again).
        let next = if self.setting(&requested_key(id)).await?.is_some() {
            Some(if busy {
                self.now() + RETRY_BUSY
            } else {
                self.now()
            })
        } else {
            let scheduled = schedule.and_then(|s| s.next_after(self.now()));
            if busy {
                let until = self.running_until(Some(id), None).await?.flatten();
                self.next_when_busy(&wait_key, until, scheduled).await?
            } else {
                scheduled
            }
        };
        Ok(DefinitionJobRan { detail, next })
    }

    /// The job of an export that nothing would run now (no schedule, no "Run now" pending),
    /// taken over from a server that died while running it: the run that server left is
    /// resumed here once its lease has run out (the job and the run have leases of their own),
    /// or the job comes back when it will have. Nothing new is started, and a disabled export's
    /// run is left to its next run.
    async fn finish_orphaned_run(
        &self,
        record: &jiralink_store::ExportRecord,
    ) -> AppResult<DefinitionJobRan> {
        let nothing = || DefinitionJobRan {
            detail: "the export has no schedule now".to_owned(),
            next: None,
        };
        if !record.enabled {
            return Ok(nothing());
        }
        let running = self
            .last_export_run(record.id)
            .await?
            .filter(|r| r.state == RunState::Running);
        let Some(running) = running else {
            return Ok(nothing());
        };
        match running.lease_until {
            Some(until) if until > self.now() => Ok(DefinitionJobRan {
                detail: format!(
                    "{}: run {} is still leased; back when its lease runs out",
                    record.name, running.id
                ),
                next: Some(until),
            }),
            _ => {
                let detail = match self.resume_interrupted_run(record).await {
                    Ok(Some(run)) => format!(
                        "{}: interrupted run {} resumed, {} ({} record(s))",
                        record.name,
                        run.id,
                        run.state.as_str(),
                        run.stats.records.values().sum::<u64>()
                    ),
                    Ok(None) => format!("{}: no interrupted run left", record.name),
                    Err(AppError::ExportRunning { .. }) => {
                        format!("{}: another server resumed the run", record.name)
                    }
                    Err(e) => format!("{}: {e}", record.name),
                };
                Ok(DefinitionJobRan { detail, next: None })
            }
        }
    }

    /// One run for the worker, described in words (failures are in the run's record), and
    /// whether it did not start because a run of the export was going on.
    async fn run_export_for_job(
        &self,
        record: &jiralink_store::ExportRecord,
        trigger: RunTrigger,
    ) -> (String, bool) {
        let offline = match self.offline_reason(record.connection_id).await {
            Ok(offline) => offline,
            Err(e) => return (format!("the connection could not be read: {e}"), false),
        };
        if let Some(reason) = offline {
            let detail = match self
                .record_skipped_run(Definition::Export(record), trigger, reason)
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
            .run_export(
                &record.id.to_string(),
                trigger,
                RunOutput::Store,
                &NoProgress,
            )
            .await
        {
            Ok(run) => format!(
                "{}: run {} {} ({} record(s))",
                record.name,
                run.id,
                run.state.as_str(),
                run.stats.records.values().sum::<u64>()
            ),
            Err(AppError::ExportRunning { .. }) => {
                return (format!("{}: a run is already going on", record.name), true);
            }
            Err(e) => format!("{}: {e}", record.name),
        };
        (detail, false)
    }

    /// Makes the exports of connections that came back online due at once when their last
    /// run was skipped. Returns how many.
    pub(crate) async fn rerun_skipped_exports(
        &self,
        connections: &[ConnectionId],
    ) -> AppResult<usize> {
        if connections.is_empty() {
            return Ok(0);
        }
        let mut due = 0;
        for (_, export, _) in self.store().exports_using(connections).await? {
            let last = self.last_export_run(export).await?;
            if last.is_some_and(|r| r.state == RunState::Skipped) {
                self.ensure_export_job(export, self.now()).await?;
                due += 1;
            }
        }
        Ok(due)
    }

    /// Deletes the outputs kept longer than `exports.output_retention`.
    pub(crate) async fn cleanup_export_outputs(&self) -> AppResult<u64> {
        Ok(self
            .store()
            .delete_expired_export_outputs(self.now())
            .await?)
    }

    /// Ends the ad hoc runs whose process died (their lease ran out): nothing can resume a
    /// run without a definition, so it is recorded as failed. Runs of saved exports are left
    /// for their export's next run, which resumes them. Returns how many were ended.
    pub(crate) async fn end_interrupted_adhoc_runs(&self) -> AppResult<usize> {
        let now = self.now();
        let mut ended = 0;
        for run in self.store().interrupted_export_runs(now).await? {
            // A saved export's or import's run is resumed by its next run, not ended here.
            if run.export_id.is_some() || run.import_id.is_some() {
                continue;
            }
            let Some(taken) = self
                .store()
                .take_over_export_run(run.id, self.holder(), now, now + self.export_lease())
                .await?
            else {
                continue;
            };
            if taken.kind == jiralink_store::RunKind::Import {
                self.end_orphaned_import_run(&taken).await;
                ended += 1;
                continue;
            }
            let stats = serde_json::from_value(taken.stats.clone()).unwrap_or_default();
            self.finish_failed(
                &taken,
                "the process running this ad hoc export stopped; an export without a saved \
                 definition is not resumed: run it again",
                stats,
            )
            .await;
            ended += 1;
        }
        Ok(ended)
    }
}
