//! Background work shared by every server on one database: jobs, claimed with a lease by one
//! holder at a time, and the history of their runs.
//!
//! A job is due when `next_run_at` has passed and nobody holds an unexpired lease on it.
//! [`JobStore::claim_job`] takes one due job in one statement (PostgreSQL skips rows another
//! transaction is claiming; SQLite has one writer at a time), so no two holders ever run the
//! same job at once. A holder that dies stops renewing its lease; once the lease runs out the
//! job is due again and another holder takes it, marking the dead holder's run `abandoned`.
//!
//! Recurring work (re-testing offline connections, keeping OAuth 2.0 grants alive) is a job
//! with a fixed `key` whose next run is set when a run finishes. One-off work (a run of an
//! export) is a job with its own key that is deleted when it is done.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::StoreResult;

/// A job to add.
#[derive(Debug, Clone, PartialEq)]
pub struct NewJob {
    /// What runs it, e.g. `connections.retest`.
    pub kind: String,
    /// Unique: a second job with the same key is not added.
    pub key: String,
    /// What the job needs, as JSON (never a secret).
    pub payload: serde_json::Value,
    /// When it first becomes due.
    pub next_run_at: OffsetDateTime,
}

/// A job as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct JobRecord {
    pub id: Uuid,
    pub kind: String,
    pub key: String,
    pub payload: serde_json::Value,
    pub next_run_at: OffsetDateTime,
    /// Claims since the job last succeeded.
    pub attempts: u32,
    /// Who holds the lease, and until when (expired leases are left until the next claim).
    pub lease_holder: Option<String>,
    pub lease_until: Option<OffsetDateTime>,
    pub last_outcome: Option<JobOutcome>,
    pub last_finished_at: Option<OffsetDateTime>,
    pub created_at: OffsetDateTime,
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobOutcome {
    /// Still running (or its holder died and nobody has claimed the job since).
    Running,
    Succeeded,
    Failed,
    /// Its holder stopped renewing the lease; another holder took the job over.
    Abandoned,
}

impl JobOutcome {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Abandoned => "abandoned",
        }
    }
}

/// One run of a job: who ran it, when, and how it ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobRun {
    pub id: Uuid,
    pub job_id: Uuid,
    pub kind: String,
    pub holder: String,
    /// Which claim of the job since it last succeeded (1 for the first).
    pub attempt: u32,
    pub started_at: OffsetDateTime,
    pub finished_at: Option<OffsetDateTime>,
    pub outcome: JobOutcome,
    /// What the run did or why it failed, in words (never a secret).
    pub detail: Option<String>,
}

/// A job its holder now runs.
#[derive(Debug, Clone, PartialEq)]
pub struct ClaimedJob {
    pub job: JobRecord,
    /// The run recorded for this claim.
    pub run: Uuid,
}

/// How a claimed job's run ended, and what comes next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobFinish {
    pub outcome: JobOutcome,
    pub detail: Option<String>,
    pub at: OffsetDateTime,
    /// When the job is due again; `None` deletes it (one-off work that is done).
    pub next_run_at: Option<OffsetDateTime>,
    /// Runs that started before this are deleted from the history.
    pub forget_runs_before: OffsetDateTime,
}

/// Jobs and their runs.
#[async_trait]
pub trait JobStore: Send + Sync {
    /// Adds the job unless one with its key exists; returns the stored job either way.
    async fn ensure_job(&self, job: &NewJob, now: OffsetDateTime) -> StoreResult<JobRecord>;
    /// Claims the due job that has waited longest, among `kinds`: leases it to `holder` until
    /// `lease_until`, counts the attempt and records a run. `None` when nothing is due.
    async fn claim_job(
        &self,
        kinds: &[&str],
        holder: &str,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
    ) -> StoreResult<Option<ClaimedJob>>;
    /// Renews the lease while the job runs; `false` when `holder` no longer holds it.
    async fn renew_job_lease(
        &self,
        job: Uuid,
        holder: &str,
        lease_until: OffsetDateTime,
    ) -> StoreResult<bool>;
    /// Records how the run ended and gives the lease back (or deletes the job); `false`, with
    /// nothing changed but the run's record, when `holder` no longer holds the lease. When the
    /// job was made due again while it ran ([`JobStore::reschedule_job`]), that time is kept
    /// if it is sooner than `finish.next_run_at`: a run asked for meanwhile is not lost.
    async fn finish_job(
        &self,
        claimed: &ClaimedJob,
        holder: &str,
        finish: &JobFinish,
    ) -> StoreResult<bool>;
    /// Makes a job due at `at` (sooner than planned, e.g. "run now"); `false` if no job has
    /// the key.
    async fn reschedule_job(&self, key: &str, at: OffsetDateTime) -> StoreResult<bool>;
    /// Every job, soonest due first.
    async fn list_jobs(&self) -> StoreResult<Vec<JobRecord>>;
    /// The latest runs (of one job, or of all), newest first.
    async fn list_job_runs(&self, job: Option<Uuid>, limit: u32) -> StoreResult<Vec<JobRun>>;
    /// When the next job among `kinds` is due (an expired lease counts as due at its
    /// expiry), if any.
    async fn next_job_due(&self, kinds: &[&str]) -> StoreResult<Option<OffsetDateTime>>;
}
