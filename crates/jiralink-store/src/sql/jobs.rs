//! [`JobStore`].

use async_trait::async_trait;
use time::OffsetDateTime;
use uuid::Uuid;

use super::{Backend, Conn, RowExt, SqlStore, args, exec, opt};
use crate::codec::{
    fmt_time, from_json, parse_opt_time, parse_time, parse_uuid, str_enum, to_json, to_u64,
};
use crate::jobs::{ClaimedJob, JobFinish, JobOutcome, JobRecord, JobRun, JobStore, NewJob};
use crate::{StoreError, StoreResult};

const JOB_COLUMNS: &str = "id, kind, key, payload, next_run_at, attempts, lease_holder, \
                           lease_until, last_outcome, last_finished_at, created_at";

fn job_from_row(r: &impl RowExt) -> StoreResult<JobRecord> {
    Ok(JobRecord {
        id: parse_uuid(&r.text("id")?)?,
        kind: r.text("kind")?,
        key: r.text("key")?,
        payload: from_json("job payload", &r.text("payload")?)?,
        next_run_at: parse_time(&r.text("next_run_at")?)?,
        attempts: u32::try_from(to_u64("job attempts", r.int("attempts")?)?).unwrap_or(u32::MAX),
        lease_holder: r.opt_text("lease_holder")?,
        lease_until: parse_opt_time(r.opt_text("lease_until")?.as_deref())?,
        last_outcome: r
            .opt_text("last_outcome")?
            .map(|o| str_enum("job outcome", &o))
            .transpose()?,
        last_finished_at: parse_opt_time(r.opt_text("last_finished_at")?.as_deref())?,
        created_at: parse_time(&r.text("created_at")?)?,
    })
}

fn run_from_row(r: &impl RowExt) -> StoreResult<JobRun> {
    Ok(JobRun {
        id: parse_uuid(&r.text("id")?)?,
        job_id: parse_uuid(&r.text("job_id")?)?,
        kind: r.text("kind")?,
        holder: r.text("holder")?,
        attempt: u32::try_from(to_u64("run attempt", r.int("attempt")?)?).unwrap_or(u32::MAX),
        started_at: parse_time(&r.text("started_at")?)?,
        finished_at: parse_opt_time(r.opt_text("finished_at")?.as_deref())?,
        outcome: str_enum("job outcome", &r.text("outcome")?)?,
        detail: r.opt_text("detail")?,
    })
}

/// `kind IN ($n, $n+1, …)` for the kinds, numbered from `first`.
fn kinds_clause(kinds: &[&str], first: usize) -> String {
    let list: Vec<String> = (0..kinds.len())
        .map(|i| format!("${}", first + i))
        .collect();
    if list.is_empty() {
        "FALSE".to_owned()
    } else {
        format!("kind IN ({})", list.join(", "))
    }
}

/// Makes `job` due at its `next_run_at` inside the caller's transaction, so what asked for
/// the run and the run itself are committed together: the job is added when missing, moved
/// forward when due later, and when a holder is running it, marked as asked for again
/// (`finish_job` keeps a time that changed while the job ran).
pub(super) async fn make_job_due<B: Backend>(conn: &mut Conn<B>, job: &NewJob) -> StoreResult<()> {
    exec::<B>(
        conn,
        "INSERT INTO jobs (id, kind, key, payload, next_run_at, attempts, created_at, \
         updated_at) VALUES ($1, $2, $3, $4, $5, 0, $5, $5) ON CONFLICT (key) DO UPDATE \
         SET next_run_at = excluded.next_run_at \
         WHERE jobs.next_run_at > excluded.next_run_at OR jobs.lease_until IS NOT NULL",
        args![
            Uuid::new_v4().to_string(),
            job.kind.as_str(),
            job.key.as_str(),
            to_json(&job.payload)?,
            fmt_time(job.next_run_at),
        ],
    )
    .await?;
    Ok(())
}

/// How many times [`JobStore::ensure_job`] adds a job that keeps being deleted under it.
const ENSURE_ROUNDS: usize = 5;

#[async_trait]
impl<B: Backend> JobStore for SqlStore<B> {
    async fn ensure_job(&self, job: &NewJob, now: OffsetDateTime) -> StoreResult<JobRecord> {
        // The job found by the insert's conflict can be finished and deleted by its holder
        // before it is read back (a one-off job, "Run now" asked again as it ends): then it
        // is added again. Each round either adds it or finds it, or it was deleted in between,
        // which a holder does once per run.
        for _ in 0..ENSURE_ROUNDS {
            self.exec(
                "INSERT INTO jobs (id, kind, key, payload, next_run_at, attempts, created_at, \
                 updated_at) VALUES ($1, $2, $3, $4, $5, 0, $6, $6) ON CONFLICT (key) DO NOTHING",
                args![
                    Uuid::new_v4().to_string(),
                    job.kind.as_str(),
                    job.key.as_str(),
                    to_json(&job.payload)?,
                    fmt_time(job.next_run_at),
                    fmt_time(now),
                ],
            )
            .await?;
            if let Some(row) = self
                .opt(
                    format!("SELECT {JOB_COLUMNS} FROM jobs WHERE key = $1"),
                    args![job.key.as_str()],
                )
                .await?
            {
                return job_from_row(&row);
            }
        }
        Err(StoreError::NotFound { kind: "job" })
    }

    async fn claim_job(
        &self,
        kinds: &[&str],
        holder: &str,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
    ) -> StoreResult<Option<ClaimedJob>> {
        let mut tx = self.begin_write().await?;
        // One statement picks and leases the job; the lease condition is checked again on
        // the row itself, so two holders can never both take it.
        let due = "next_run_at <= $3 AND (lease_until IS NULL OR lease_until <= $3)";
        let sql = format!(
            "UPDATE jobs SET lease_holder = $1, lease_until = $2, attempts = attempts + 1, \
             updated_at = $3 WHERE id = (SELECT id FROM jobs WHERE {due} AND {kinds} \
             ORDER BY next_run_at, id LIMIT 1{skip}) AND {due} RETURNING {JOB_COLUMNS}",
            kinds = kinds_clause(kinds, 4),
            skip = B::SKIP_LOCKED,
        );
        let mut values = args![holder, fmt_time(lease_until), fmt_time(now)];
        values.extend(kinds.iter().map(|k| super::Arg::from(*k)));
        let Some(row) = opt::<B>(&mut tx, sql, values).await? else {
            return Ok(None);
        };
        let job = job_from_row(&row)?;
        // A run still marked running belonged to a holder whose lease ran out.
        exec::<B>(
            &mut tx,
            "UPDATE job_runs SET outcome = 'abandoned', finished_at = $1 \
             WHERE job_id = $2 AND outcome = 'running'",
            args![fmt_time(now), job.id.to_string()],
        )
        .await?;
        let run = Uuid::new_v4();
        exec::<B>(
            &mut tx,
            "INSERT INTO job_runs (id, job_id, kind, holder, attempt, started_at, outcome) \
             VALUES ($1, $2, $3, $4, $5, $6, 'running')",
            args![
                run.to_string(),
                job.id.to_string(),
                job.kind.as_str(),
                holder,
                i64::from(job.attempts),
                fmt_time(now),
            ],
        )
        .await?;
        tx.commit().await?;
        Ok(Some(ClaimedJob { job, run }))
    }

    async fn renew_job_lease(
        &self,
        job: Uuid,
        holder: &str,
        lease_until: OffsetDateTime,
    ) -> StoreResult<bool> {
        let done = self
            .exec(
                "UPDATE jobs SET lease_until = $1 WHERE id = $2 AND lease_holder = $3",
                args![fmt_time(lease_until), job.to_string(), holder],
            )
            .await?;
        Ok(done == 1)
    }

    async fn finish_job(
        &self,
        claimed: &ClaimedJob,
        holder: &str,
        finish: &JobFinish,
    ) -> StoreResult<bool> {
        let mut tx = self.begin_write().await?;
        let id = claimed.job.id.to_string();
        exec::<B>(
            &mut tx,
            // A run already closed (as abandoned, by the server that took the job over) keeps
            // the outcome its successor recorded.
            "UPDATE job_runs SET outcome = $1, finished_at = $2, detail = $3 \
             WHERE id = $4 AND outcome = 'running'",
            args![
                finish.outcome.as_str(),
                fmt_time(finish.at),
                finish.detail.clone(),
                claimed.run.to_string(),
            ],
        )
        .await?;
        let held = opt::<B>(
            &mut tx,
            "SELECT 1 AS one FROM jobs WHERE id = $1 AND lease_holder = $2",
            args![id.as_str(), holder],
        )
        .await?
        .is_some();
        if held {
            match finish.next_run_at {
                None => {
                    exec::<B>(
                        &mut tx,
                        "DELETE FROM jobs WHERE id = $1",
                        args![id.as_str()],
                    )
                    .await?;
                }
                Some(next) => {
                    let succeeded = finish.outcome == JobOutcome::Succeeded;
                    // A run asked for while this one went on (the job made due again, so its
                    // time is no longer the one it was claimed at) is kept when sooner.
                    exec::<B>(
                        &mut tx,
                        "UPDATE jobs SET lease_holder = NULL, lease_until = NULL, \
                         next_run_at = CASE WHEN next_run_at <> $6 AND next_run_at < $1 \
                         THEN next_run_at ELSE $1 END, last_outcome = $2, \
                         last_finished_at = $3, \
                         attempts = CASE WHEN $4 THEN 0 ELSE attempts END, updated_at = $3 \
                         WHERE id = $5",
                        args![
                            fmt_time(next),
                            finish.outcome.as_str(),
                            fmt_time(finish.at),
                            succeeded,
                            id.as_str(),
                            fmt_time(claimed.job.next_run_at),
                        ],
                    )
                    .await?;
                }
            }
        }
        exec::<B>(
            &mut tx,
            "DELETE FROM job_runs WHERE job_id = $1 AND started_at < $2",
            args![id.as_str(), fmt_time(finish.forget_runs_before)],
        )
        .await?;
        tx.commit().await?;
        Ok(held)
    }

    async fn reschedule_job(&self, key: &str, at: OffsetDateTime) -> StoreResult<bool> {
        Ok(self
            .exec(
                "UPDATE jobs SET next_run_at = $1 WHERE key = $2",
                args![fmt_time(at), key],
            )
            .await?
            == 1)
    }

    async fn list_jobs(&self) -> StoreResult<Vec<JobRecord>> {
        let rows = self
            .all(
                format!("SELECT {JOB_COLUMNS} FROM jobs ORDER BY next_run_at, key"),
                args![],
            )
            .await?;
        rows.iter().map(job_from_row).collect()
    }

    async fn list_job_runs(&self, job: Option<Uuid>, limit: u32) -> StoreResult<Vec<JobRun>> {
        let rows = self
            .all(
                "SELECT id, job_id, kind, holder, attempt, started_at, finished_at, outcome, \
                 detail FROM job_runs WHERE ($1 IS NULL OR job_id = $1) \
                 ORDER BY started_at DESC, id LIMIT $2",
                args![job.map(|j| j.to_string()), i64::from(limit)],
            )
            .await?;
        rows.iter().map(run_from_row).collect()
    }

    async fn next_job_due(&self, kinds: &[&str]) -> StoreResult<Option<OffsetDateTime>> {
        let sql = format!(
            "SELECT MIN(CASE WHEN lease_until IS NOT NULL AND lease_until > next_run_at \
             THEN lease_until ELSE next_run_at END) AS due FROM jobs WHERE {}",
            kinds_clause(kinds, 1)
        );
        let values = kinds.iter().map(|k| super::Arg::from(*k)).collect();
        let row = self.opt(sql, values).await?;
        match row {
            Some(r) => parse_opt_time(r.opt_text("due")?.as_deref()),
            None => Ok(None),
        }
    }
}
