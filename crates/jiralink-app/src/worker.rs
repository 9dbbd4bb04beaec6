//! Background work as jobs in the database, so servers sharing it do each piece once.
//!
//! Every `jiralink serve` runs a worker: it claims a due job ([`jiralink_store::JobStore`]),
//! runs it while renewing its lease, records how the run ended and when the job is due again,
//! and otherwise waits until the next job is due. A worker that dies stops renewing; when its
//! lease runs out another worker takes the job over. Four recurring jobs are added once per
//! database; scheduled exports and imports add one job each (see [`crate::exports`] and
//! [`crate::imports`]):
//!
//! | Job | What it does | Next run |
//! |---|---|---|
//! | `connections.retest` | tests every offline connection again; those that pass are online | `connections.retest_interval` later |
//! | `connections.keep_alive` | refreshes OAuth 2.0 tokens unused for `connections.refresh_idle_after`, and finishes refreshes whose answer was lost | the same, or within a minute while a refresh is unfinished |
//! | `exports.cleanup` | deletes export outputs older than `exports.output_retention` | an hour later |
//! | `exports.run` (key `export:<id>`) | runs one export | its schedule's next time |
//! | `imports.run` (key `import:<id>`) | runs one import with its own input file | its schedule's next time |
//! | `flows.run` (key `flow:<id>`) | runs one flow | its schedule's next time |
//! | `listeners.process` (key `listener:<id>`) | sends a listener's stored events through its flow | at once when a delivery arrives; a second later while its flow is busy; else a minute later |
//! | `listeners.upkeep` (key `listener-upkeep:<id>`) | refreshes the listener's webhooks, reads back failed deliveries, runs the safety net, forgets old events | every 15 minutes, sooner when the webhooks need refreshing |
//! | `notifications.dispatch` | composes notifications from changes of state and sends them, retrying failed ones | when the next change's window ends or a retry is due, at most `connections.retest_interval` later |

use std::future::Future;
use std::time::Duration;

use jiralink_store::{ClaimedJob, JobFinish, JobOutcome, JobRecord, JobRun, NewJob};
use serde::Serialize;
use time::OffsetDateTime;

use crate::connection_test::PENDING_REFRESH_RECHECK;
use crate::{App, AppResult};

/// Tests offline connections again.
pub const RETEST_JOB: &str = "connections.retest";
/// Keeps OAuth 2.0 grants alive and finishes refreshes whose answer was lost.
pub const TOKEN_KEEP_ALIVE_JOB: &str = "connections.keep_alive";
/// Runs one export (key `export:<id>`; one job per scheduled export).
pub const EXPORT_RUN_JOB: &str = crate::exports::RUN_JOB;
/// Runs one flow (key `flow:<id>`; one job per scheduled flow).
pub const FLOW_RUN_JOB: &str = crate::flows::RUN_JOB;
/// Runs one import (key `import:<id>`; one job per scheduled import).
pub const IMPORT_RUN_JOB: &str = crate::imports::RUN_JOB;
/// Sends a listener's stored events through its flow (key `listener:<id>`).
pub const LISTENER_PROCESS_JOB: &str = crate::listeners::PROCESS_JOB;
/// Keeps a listener working (key `listener-upkeep:<id>`).
pub const LISTENER_UPKEEP_JOB: &str = crate::listeners::UPKEEP_JOB;
/// Deletes export outputs kept longer than `exports.output_retention`.
pub const EXPORT_CLEANUP_JOB: &str = crate::exports::CLEANUP_JOB;
/// Composes and sends notifications.
pub const NOTIFICATION_DISPATCH_JOB: &str = crate::notifications::DISPATCH_JOB;
/// Every kind of job this version runs.
pub const JOB_KINDS: &[&str] = &[
    RETEST_JOB,
    TOKEN_KEEP_ALIVE_JOB,
    EXPORT_RUN_JOB,
    IMPORT_RUN_JOB,
    EXPORT_CLEANUP_JOB,
    FLOW_RUN_JOB,
    LISTENER_PROCESS_JOB,
    LISTENER_UPKEEP_JOB,
    NOTIFICATION_DISPATCH_JOB,
];
/// The jobs each database has once, keyed by their kind.
pub const RECURRING_JOBS: &[&str] = &[
    RETEST_JOB,
    TOKEN_KEEP_ALIVE_JOB,
    EXPORT_CLEANUP_JOB,
    NOTIFICATION_DISPATCH_JOB,
];

/// Exports and imports one worker runs at a time, beside the other jobs.
pub const CONCURRENT_EXPORTS: usize = 4;

/// The jobs that run beside the others, at most [`CONCURRENT_EXPORTS`] at a time.
const LONG_JOBS: &[&str] = &[
    EXPORT_RUN_JOB,
    IMPORT_RUN_JOB,
    FLOW_RUN_JOB,
    LISTENER_PROCESS_JOB,
    LISTENER_UPKEEP_JOB,
];

/// How long a job's run history is kept.
const RUN_HISTORY: time::Duration = time::Duration::days(7);

/// How a worker runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorkerOptions {
    /// How long a claimed job is leased; renewed every third of it while the job runs.
    pub lease: Duration,
    /// The longest idle wait before looking for due jobs again.
    pub poll: Duration,
    /// The time between re-tests of offline connections (and keep-alive rounds).
    pub retest_interval: Duration,
}

impl WorkerOptions {
    /// The options configured in `[jobs]`.
    #[must_use]
    pub fn from_config(config: &crate::Config) -> Self {
        Self {
            lease: config.jobs.lease.get(),
            poll: Duration::from_secs(config.jobs.poll_secs),
            retest_interval: config.connections.retest_interval.get(),
        }
    }
}

/// A job as listed.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct JobView {
    pub kind: String,
    pub key: String,
    #[serde(with = "time::serde::rfc3339")]
    pub next_run_at: OffsetDateTime,
    /// The holder running it now (an unexpired lease).
    pub running_on: Option<String>,
    pub attempts: u32,
    pub last_outcome: Option<JobOutcome>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_finished_at: Option<OffsetDateTime>,
}

/// This process's name as a lease holder: host, process id and a random part.
pub(crate) fn holder_id() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|h| h.trim().to_owned())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "host".to_owned());
    let random = uuid::Uuid::new_v4().simple().to_string();
    format!("{host}/{}/{}", std::process::id(), &random[..8])
}

/// What one run did.
struct Ran {
    detail: String,
    next: Next,
}

/// When a job is due again.
enum Next {
    In(Duration),
    At(OffsetDateTime),
    /// One-off work that is done: the job is deleted.
    Never,
}

impl App {
    /// Adds the recurring jobs unless the database has them, due at once.
    pub async fn ensure_recurring_jobs(&self) -> AppResult<()> {
        let now = self.now();
        for kind in RECURRING_JOBS {
            self.store()
                .ensure_job(
                    &NewJob {
                        kind: (*kind).to_owned(),
                        key: (*kind).to_owned(),
                        payload: serde_json::json!({}),
                        next_run_at: now,
                    },
                    now,
                )
                .await?;
        }
        Ok(())
    }

    /// The jobs, soonest due first.
    pub async fn list_jobs(&self) -> AppResult<Vec<JobView>> {
        let now = self.now();
        Ok(self
            .store()
            .list_jobs()
            .await?
            .into_iter()
            .map(|j: JobRecord| JobView {
                running_on: j
                    .lease_holder
                    .filter(|_| j.lease_until.is_some_and(|until| until > now)),
                kind: j.kind,
                key: j.key,
                next_run_at: j.next_run_at,
                attempts: j.attempts,
                last_outcome: j.last_outcome,
                last_finished_at: j.last_finished_at,
            })
            .collect())
    }

    /// The latest runs of every job, newest first.
    pub async fn list_job_runs(&self, limit: u32) -> AppResult<Vec<JobRun>> {
        Ok(self.store().list_job_runs(None, limit).await?)
    }

    /// Makes a recurring job due now ("run now"); `false` for an unknown key.
    pub async fn run_job_now(&self, key: &str) -> AppResult<bool> {
        Ok(self.store().reschedule_job(key, self.now()).await?)
    }

    /// Claims one due job and runs it to the end, renewing its lease meanwhile; `None` when
    /// nothing is due. Waits within the job (retries) go through the application's clock.
    pub async fn run_due_job(&self, options: &WorkerOptions) -> AppResult<Option<JobRun>> {
        match self.claim_due_job(JOB_KINDS, options).await? {
            Some(claimed) => self.run_claimed_job(claimed, options).await.map(Some),
            None => Ok(None),
        }
    }

    /// Claims the due job among `kinds` that has waited longest.
    async fn claim_due_job(
        &self,
        kinds: &[&str],
        options: &WorkerOptions,
    ) -> AppResult<Option<ClaimedJob>> {
        let now = self.now();
        let claimed = self
            .store()
            .claim_job(kinds, self.holder(), now, now + options.lease)
            .await?;
        if let Some(claimed) = &claimed {
            tracing::debug!(job = %claimed.job.key, attempt = claimed.job.attempts, "job claimed");
        }
        Ok(claimed)
    }

    /// Runs a claimed job to the end, renewing its lease meanwhile, and records how it ended
    /// and when it is due again.
    async fn run_claimed_job(
        &self,
        claimed: ClaimedJob,
        options: &WorkerOptions,
    ) -> AppResult<JobRun> {
        let now = self.now();
        let result = {
            let run = std::pin::pin!(self.run_job(&claimed.job, options));
            let renew = std::pin::pin!(self.keep_lease(&claimed, options));
            tokio::select! {
                result = run => Some(result),
                () = renew => None,
            }
        };
        let at = self.now();
        let (outcome, detail, next) = match result {
            // The lease was lost (this process was paused past it): another holder has the
            // job; this run stops where it is.
            None => {
                tracing::warn!(job = %claimed.job.key, "job lease lost; stopping the run");
                (JobOutcome::Abandoned, "the lease ran out".to_owned(), None)
            }
            Some(Ok(ran)) => (JobOutcome::Succeeded, ran.detail, Some(ran.next)),
            Some(Err(e)) => {
                tracing::warn!(job = %claimed.job.key, error = %e, "job failed");
                (JobOutcome::Failed, e.to_string(), None)
            }
        };
        metrics::counter!("jiralink_job_runs_total", "kind" => claimed.job.kind.clone(), "outcome" => outcome.as_str()).increment(1);
        // After a failure: the job's interval, so a broken database or site is not hammered.
        let next_run_at = match next.unwrap_or(Next::In(options.retest_interval)) {
            Next::In(d) => Some(at + d),
            Next::At(t) => Some(t),
            Next::Never => None,
        };
        self.store()
            .finish_job(
                &claimed,
                self.holder(),
                &JobFinish {
                    outcome,
                    detail: Some(detail.clone()),
                    at,
                    next_run_at,
                    forget_runs_before: at - RUN_HISTORY,
                },
            )
            .await?;
        Ok(JobRun {
            id: claimed.run,
            job_id: claimed.job.id,
            kind: claimed.job.kind,
            holder: self.holder().to_owned(),
            attempt: claimed.job.attempts,
            started_at: now,
            finished_at: Some(at),
            outcome,
            detail: Some(detail),
        })
    }

    /// Runs due jobs until `shutdown` completes; between them waits on the application's
    /// clock until the next is due (at most `options.poll`). `report` sees each run.
    ///
    /// Exports and imports, which can run for hours, run beside the other jobs (at most
    /// [`CONCURRENT_EXPORTS`] at a time), so a long run does not hold up re-tests and token
    /// refreshes. Runs still going when `shutdown` completes stop where they are; their
    /// leases run out and they are resumed later, here or on another server.
    pub async fn run_worker(
        &self,
        options: &WorkerOptions,
        shutdown: impl Future<Output = ()>,
        report: &mut (dyn FnMut(&JobRun) + Send),
    ) {
        let mut shutdown = std::pin::pin!(shutdown);
        let clock = self.clock();
        if let Err(e) = self.ensure_recurring_jobs().await {
            tracing::warn!(error = %e, "the recurring jobs could not be added");
        }
        let mut exports: tokio::task::JoinSet<AppResult<JobRun>> = tokio::task::JoinSet::new();
        let others: Vec<&str> = JOB_KINDS
            .iter()
            .copied()
            .filter(|k| !LONG_JOBS.contains(k))
            .collect();
        loop {
            while let Some(done) = exports.try_join_next() {
                match done {
                    Ok(Ok(run)) => report(&run),
                    Ok(Err(e)) => tracing::warn!(error = %e, "an export job could not be recorded"),
                    Err(e) => tracing::warn!(error = %e, "an export job stopped"),
                }
            }
            let kinds: &[&str] = if exports.len() < CONCURRENT_EXPORTS {
                JOB_KINDS
            } else {
                &others
            };
            let wait = match self.claim_due_job(kinds, options).await {
                Ok(Some(claimed)) if LONG_JOBS.contains(&claimed.job.kind.as_str()) => {
                    let app = self.clone();
                    let options = *options;
                    exports.spawn(async move { app.run_claimed_job(claimed, &options).await });
                    Duration::ZERO
                }
                Ok(Some(claimed)) => {
                    match self.run_claimed_job(claimed, options).await {
                        Ok(run) => report(&run),
                        Err(e) => tracing::warn!(error = %e, "a job could not be recorded"),
                    }
                    Duration::ZERO
                }
                Ok(None) => self.idle_wait(kinds, options).await,
                // A busy or briefly unreachable database is no reason to stop.
                Err(e) => {
                    tracing::warn!(error = %e, "looking for due jobs failed");
                    options.poll
                }
            };
            tokio::select! {
                biased;
                () = &mut shutdown => return,
                () = clock.sleep(wait) => {}
                // A job made due now in this process (a listener's delivery).
                () = self.inner.job_signal.notified(), if !wait.is_zero() => {}
                // An export that ends frees a place at once.
                Some(done) = exports.join_next(), if !exports.is_empty() && !wait.is_zero() => {
                    match done {
                        Ok(Ok(run)) => report(&run),
                        Ok(Err(e)) => tracing::warn!(error = %e, "an export job could not be recorded"),
                        Err(e) => tracing::warn!(error = %e, "an export job stopped"),
                    }
                }
            }
        }
    }

    /// Until the next job is due, at most `options.poll`.
    /// (With every export place taken, an export that is due does not count.)
    async fn idle_wait(&self, kinds: &[&str], options: &WorkerOptions) -> Duration {
        match self.store().next_job_due(kinds).await {
            Ok(Some(due)) => std::time::Duration::try_from(due - self.now())
                .unwrap_or(Duration::ZERO)
                .min(options.poll),
            Ok(None) => options.poll,
            Err(e) => {
                tracing::warn!(error = %e, "the next due job could not be read");
                options.poll
            }
        }
    }

    /// Renews the lease every third of it; completes only when the lease is lost. The
    /// renewals follow the process's own timer: a lease says this process is alive and
    /// working, whatever time its clock shows (its expiry is still read on that clock).
    async fn keep_lease(&self, claimed: &ClaimedJob, options: &WorkerOptions) {
        loop {
            tokio::time::sleep(options.lease / 3).await;
            let until = self.now() + options.lease;
            match self
                .store()
                .renew_job_lease(claimed.job.id, self.holder(), until)
                .await
            {
                Ok(true) => {}
                Ok(false) => return,
                Err(e) => {
                    tracing::warn!(job = %claimed.job.key, error = %e, "the job lease could not be renewed")
                }
            }
        }
    }

    async fn run_job(&self, job: &JobRecord, options: &WorkerOptions) -> AppResult<Ran> {
        let interval = options.retest_interval;
        match job.kind.as_str() {
            RETEST_JOB => {
                let offline: Vec<jiralink_domain::ConnectionId> = self
                    .store()
                    .list_connections()
                    .await?
                    .into_iter()
                    .filter(|c| matches!(c.state, jiralink_domain::ConnectionState::Offline { .. }))
                    .map(|c| c.id)
                    .collect();
                let outcomes = self.retest_offline_connections().await?;
                let back = outcomes.iter().filter(|o| o.passed()).count();
                let mut detail = format!(
                    "{} offline connection(s) tested again, {back} back online",
                    outcomes.len()
                );
                if back > 0 {
                    let online: Vec<_> = self
                        .store()
                        .list_connections()
                        .await?
                        .into_iter()
                        .filter(|c| {
                            offline.contains(&c.id)
                                && !matches!(
                                    c.state,
                                    jiralink_domain::ConnectionState::Offline { .. }
                                )
                        })
                        .map(|c| c.id)
                        .collect();
                    let due = self.rerun_skipped_exports(&online).await?;
                    if due > 0 {
                        detail.push_str(&format!(
                            "; {due} export(s) whose last run was skipped are due now"
                        ));
                    }
                    let due = self.rerun_skipped_imports(&online).await?;
                    if due > 0 {
                        detail.push_str(&format!(
                            "; {due} import(s) whose last run was skipped are due now"
                        ));
                    }
                }
                Ok(Ran {
                    detail,
                    next: Next::In(interval),
                })
            }
            EXPORT_RUN_JOB => {
                let ran = self.run_export_job(job).await?;
                Ok(Ran {
                    detail: ran.detail,
                    next: ran.next.map_or(Next::Never, Next::At),
                })
            }
            FLOW_RUN_JOB => {
                let ran = self.run_flow_job(job).await?;
                Ok(Ran {
                    detail: ran.detail,
                    next: ran.next.map_or(Next::Never, Next::At),
                })
            }
            LISTENER_PROCESS_JOB => {
                let (detail, next) = self.run_listener_process_job(job).await?;
                Ok(Ran {
                    detail,
                    next: next.map_or(Next::Never, Next::At),
                })
            }
            LISTENER_UPKEEP_JOB => {
                let (detail, next) = self.run_listener_upkeep_job(job).await?;
                Ok(Ran {
                    detail,
                    next: next.map_or(Next::Never, Next::At),
                })
            }
            IMPORT_RUN_JOB => {
                let ran = self.run_import_job(job).await?;
                Ok(Ran {
                    detail: ran.detail,
                    next: ran.next.map_or(Next::Never, Next::At),
                })
            }
            EXPORT_CLEANUP_JOB => {
                let deleted = self.cleanup_export_outputs().await?;
                let ended = self.end_interrupted_adhoc_runs().await?;
                let mut detail = format!("{deleted} expired export output(s) deleted");
                if ended > 0 {
                    detail.push_str(&format!(
                        "; {ended} interrupted ad hoc run(s) recorded as failed"
                    ));
                }
                Ok(Ran {
                    detail,
                    next: Next::In(crate::exports::CLEANUP_EVERY),
                })
            }
            NOTIFICATION_DISPATCH_JOB => {
                let r = self.dispatch_notifications().await?;
                // Idle, it comes back with the re-tests (whose changes it sends); a queued
                // change makes it due sooner.
                let next = match r.next_due {
                    Some(due) if due < self.now() + interval => Next::At(due),
                    _ => Next::In(interval),
                };
                Ok(Ran {
                    detail: format!(
                        "{} notification(s) composed, {} sent, {} to be tried again, {} given up",
                        r.composed, r.sent, r.retrying, r.failed
                    ),
                    next,
                })
            }
            TOKEN_KEEP_ALIVE_JOB => {
                let refreshed = self.keep_grants_alive().await?;
                let next_in = if self.refresh_pending().await? {
                    interval.min(PENDING_REFRESH_RECHECK)
                } else {
                    interval
                };
                Ok(Ran {
                    detail: format!("{refreshed} OAuth 2.0 connection(s) refreshed"),
                    next: Next::In(next_in),
                })
            }
            other => Err(crate::AppError::InvalidInput(format!(
                "this version of jiralink does not run jobs of kind {other:?}"
            ))),
        }
    }
}
