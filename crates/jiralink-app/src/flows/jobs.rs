//! The worker's flow jobs.
//!
//! | Job | Key | What it does | Next run |
//! |---|---|---|---|
//! | `flows.run` | `flow:<id>`, one per flow | runs the flow (resuming its interrupted or failed run first) | the flow's next scheduled time (when a run of it was going on elsewhere: the end of that run's lease, or of its export's or import's run, if sooner, so a run left by a server that died is resumed then); deleted when the flow has no schedule (or is disabled, or gone) and no run was asked for |
//!
//! "Run now" marks the flow as asked for (a setting only the claim of its job removes) and
//! makes the job due now, adding it for a flow without a schedule.

use jiralink_store::{FlowRecord, JobRecord, NewJob, RunTrigger, StoreError};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::schedule::{CheckedSchedule, lease_wait_key, read_stored};
use crate::{App, AppError, AppResult};

/// When a run asked for while another was going on is tried again.
const RETRY_BUSY: time::Duration = time::Duration::seconds(30);

/// Runs one flow (its key names it).
pub(crate) const RUN_JOB: &str = "flows.run";

pub(crate) fn job_key(id: Uuid) -> String {
    format!("flow:{id}")
}

/// The setting that says a run of the flow was asked for.
fn requested_key(id: Uuid) -> String {
    format!("flows.run_requested.{id}")
}

/// What a flow job did and when it is due again (`None`: the job is deleted).
pub(crate) struct FlowJobRan {
    pub(crate) detail: String,
    pub(crate) next: Option<OffsetDateTime>,
}

/// The flow's schedule when it runs by one (`None` without one, when disabled, or when the
/// stored one cannot be read any more).
fn schedule_of(record: &FlowRecord) -> Option<CheckedSchedule> {
    read_stored(record.schedule.as_ref(), record.enabled)
        .ok()
        .flatten()
}

impl App {
    /// "Run now": the worker of some server runs the flow at once; never two runs of it at a
    /// time.
    ///
    /// # Errors
    /// `flow_not_found`.
    pub async fn request_flow_run(&self, reference: &str) -> AppResult<()> {
        let record = self.find_flow(reference).await?;
        let now = self.now();
        self.set_setting(&requested_key(record.id), &crate::format_time(now))
            .await?;
        self.ensure_flow_job(record.id, now).await
    }

    /// Makes the flow's job due at its next scheduled time (adding it when missing); without
    /// a schedule nothing is planned (a job left from an earlier schedule deletes itself).
    pub(crate) async fn plan_flow_job(&self, record: &FlowRecord) -> AppResult<()> {
        let Some(schedule) = schedule_of(record) else {
            return Ok(());
        };
        let Some(next) = schedule.next_after(self.now()) else {
            return Ok(());
        };
        self.ensure_flow_job(record.id, next).await
    }

    /// Makes a deleted flow's job come due, so it deletes itself.
    pub(crate) async fn forget_flow_job(&self, id: Uuid) -> AppResult<()> {
        self.store()
            .reschedule_job(&job_key(id), self.now())
            .await?;
        Ok(())
    }

    async fn ensure_flow_job(&self, id: Uuid, at: OffsetDateTime) -> AppResult<()> {
        self.ensure_definition_job(NewJob {
            kind: RUN_JOB.to_owned(),
            key: job_key(id),
            payload: serde_json::json!({ "flowId": id }),
            next_run_at: at,
        })
        .await
    }

    /// Runs the flow a job names.
    pub(crate) async fn run_flow_job(&self, job: &JobRecord) -> AppResult<FlowJobRan> {
        let Some(id) = job
            .key
            .strip_prefix("flow:")
            .and_then(|id| id.parse::<Uuid>().ok())
        else {
            return Ok(FlowJobRan {
                detail: "not a flow's job".to_owned(),
                next: None,
            });
        };
        // Every claim removes the mark, whichever way it returns.
        let wait_key = lease_wait_key("flows", id);
        let early = self.came_back_early(&wait_key, job).await?;
        let record = match self.store().get_flow(id).await {
            Ok(record) => record,
            Err(StoreError::NotFound { .. }) => {
                return Ok(FlowJobRan {
                    detail: "the flow was deleted".to_owned(),
                    next: None,
                });
            }
            Err(e) => return Err(e.into()),
        };
        let requested = self.delete_setting(&requested_key(id)).await?;
        let schedule = schedule_of(&record);
        if !requested && schedule.is_none() {
            return Ok(FlowJobRan {
                detail: "the flow has no schedule now".to_owned(),
                next: None,
            });
        }
        if early && !requested && self.flow_running_until(&record).await?.is_none() {
            return Ok(FlowJobRan {
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
        let mut busy = false;
        let detail = match self.run_flow(&id.to_string(), trigger).await {
            Ok(run) => format!(
                "{}: flow run {} {} ({} exported, {} unchanged, {} created, {} updated, {} \
                 failed)",
                record.name,
                run.id,
                run.state.as_str(),
                run.stats.exported,
                run.stats.unchanged,
                run.stats.created,
                run.stats.updated,
                run.stats.failed
            ),
            Err(e @ (AppError::FlowRunning { .. } | AppError::FlowWaiting { .. })) => {
                busy = matches!(e, AppError::FlowRunning { .. });
                // A run asked for is not forgotten: it goes once the other run is over.
                if requested {
                    self.set_setting(&requested_key(id), &crate::format_time(self.now()))
                        .await?;
                }
                format!("{}: {e}", record.name)
            }
            Err(e) => format!("{}: {e}", record.name),
        };
        let next = if self.setting(&requested_key(id)).await?.is_some() {
            // Soon, not at once: a run that could not start now would only be refused again.
            Some(self.now() + RETRY_BUSY)
        } else {
            let scheduled = schedule.and_then(|s| s.next_after(self.now()));
            if busy {
                let until = self.flow_running_until(&record).await?.flatten();
                self.next_when_busy(&wait_key, until, scheduled).await?
            } else {
                scheduled
            }
        };
        Ok(FlowJobRan { detail, next })
    }
}
