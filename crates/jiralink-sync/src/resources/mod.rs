//! Exports of every resource but issues: comments, worklogs and changelogs of the issues a JQL
//! selects, and customer requests chosen by JQL ([`children`]), and the catalogue, people, Jira Service Management and Customer
//! Service Management lists ([`lists`]).
//!
//! Every run reads page by page and checkpoints after each page through the
//! [`RunJournal`](crate::journal::RunJournal), as the issue export does: the checkpoint holds
//! where the next page starts (a [`PageAt`], an issue search token, a worklog change time), the
//! encoder's state and the counts, so a resumed run continues after the last page written.
//!
//! Only comments, worklogs and changelogs have a change time to export a delta by
//! ([`Resource::supports_delta`](crate::spec::Resource::supports_delta)); the other lists are
//! read whole each time.

mod children;
mod lists;

use std::sync::Arc;

use jiralink_atlassian::{PageAt, RequestMeter};
use serde::{Deserialize, Serialize};
use serde_json::{Value, value::RawValue};

use crate::{
    adf::AdfEncoder,
    csv::{Columns, CsvEncoder},
    cursor::Checkpoint,
    engine::{ExportJob, ExportOutcome},
    error::SyncError,
    output::{Encoder, EncoderContext, encoder},
    spec::{ExportKind, Format, Resource},
    stats::RunStats,
};

/// The version of [`ResourceCheckpoint`].
const CHECKPOINT_V1: u32 = 1;

/// The checkpoint of a resource run (the JSON inside [`Checkpoint`]).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ResourceCheckpoint {
    v: u32,
    /// Which resource it belongs to (a checkpoint of another resource is refused).
    resource: String,
    /// Whether the output's opening (`[`, the CSV header) is written.
    begun: bool,
    /// The encoder's state.
    encoder: Value,
    /// The counts so far.
    stats: RunStats,
    /// Where the run stands; its meaning is the resource's.
    pos: Pos,
}

/// Where a resource run stands.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct Pos {
    /// Whether the plan below is decided (it is decided once, on the first page).
    pub(crate) planned: bool,
    /// The lists to read in order, e.g. one service desk id each.
    pub(crate) units: Vec<String>,
    /// The list being read.
    pub(crate) unit: usize,
    /// Where its next page starts (`None`: at its start).
    pub(crate) at: Option<PageAt>,
    /// Ids already written, where one record may be reached twice (CSM customers of several
    /// desks).
    pub(crate) seen: Vec<String>,
    /// The issue search's next page token.
    pub(crate) token: Option<String>,
    /// The run's bounds (epoch ms) and the search's lower bound.
    pub(crate) lower_ms: Option<i64>,
    pub(crate) upper_ms: Option<i64>,
    pub(crate) search_lower_ms: Option<i64>,
    /// The highest issue `updated` written so far, where a refused token restarts.
    pub(crate) position_ms: Option<i64>,
    /// Issues written at the position (a restarted search returns them again).
    pub(crate) tail: Vec<u64>,
    /// `(id, ms)` written at or above `upper − overlap`: the next cursor's boundary.
    pub(crate) near: Vec<(u64, i64)>,
    /// Worklog deltas: 0 reads changed worklogs, 1 deleted ones.
    pub(crate) phase: u8,
    /// Whether everything is written.
    pub(crate) done: bool,
}

/// How a page ended the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flow {
    /// Read on.
    Continue,
    /// The test limit is reached.
    Full,
    /// The user asked to stop.
    Cancelled,
}

/// Writes pages and checkpoints for one resource run.
pub(crate) struct Sink<'j, 'a> {
    job: &'j ExportJob<'a>,
    meter: Arc<RequestMeter>,
    base: RunStats,
    enc: Option<Box<dyn Encoder>>,
    begun: bool,
    stats: RunStats,
    limit: Option<u64>,
    resource: Resource,
}

impl<'j, 'a> Sink<'j, 'a> {
    /// Records written so far, of every kind.
    pub(crate) fn written(&self) -> u64 {
        self.stats.total_records()
    }

    /// How many more records the test limit allows (`None`: no limit).
    pub(crate) fn room(&self) -> Option<u64> {
        self.limit.map(|l| l.saturating_sub(self.written()))
    }

    pub(crate) fn stats_mut(&mut self) -> &mut RunStats {
        &mut self.stats
    }

    pub(crate) fn job(&self) -> &'j ExportJob<'a> {
        self.job
    }

    /// The encoder, made on the first page that has records (CSV columns come from it).
    fn encoder_for(&mut self, records: &[Box<RawValue>]) -> Result<(), SyncError> {
        if self.enc.is_some() {
            return Ok(());
        }
        let spec = self.job.spec;
        let enc = if spec.format == Format::Csv {
            let values = records
                .iter()
                .map(|r| serde_json::from_str::<Value>(r.get()))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| SyncError::Decode(format!("a record Jira sent ({e})")))?;
            AdfEncoder::wrap(
                Box::new(CsvEncoder::new(Columns::from_records(&values))),
                spec.adf,
            )
        } else {
            encoder(spec, &EncoderContext::default())?
        };
        self.enc = Some(enc);
        Ok(())
    }

    /// Writes up to the test limit of `records` as `kind`, then checkpoints `pos`.
    pub(crate) async fn page(
        &mut self,
        records: &[Box<RawValue>],
        kind: &str,
        pos: &Pos,
    ) -> Result<Flow, SyncError> {
        let take = self.room().map_or(records.len(), |r| {
            records.len().min(usize::try_from(r).unwrap_or(usize::MAX))
        });
        let records = &records[..take];
        let mut out = Vec::new();
        if !records.is_empty() {
            self.encoder_for(records)?;
            if let Some(enc) = self.enc.as_mut() {
                if !self.begun {
                    enc.begin(&mut out)?;
                    self.begun = true;
                }
                for record in records {
                    enc.record(record, &mut out)?;
                }
            }
            self.stats.add_records(kind, records.len() as u64);
        }
        self.stats.pages += 1;
        self.checkpoint(&out, pos).await?;
        if self.room() == Some(0) {
            return Ok(Flow::Full);
        }
        if self.job.journal.cancel_requested().await {
            return Ok(Flow::Cancelled);
        }
        Ok(Flow::Continue)
    }

    /// Checkpoints `pos` with `out` (which may be empty).
    pub(crate) async fn checkpoint(&mut self, out: &[u8], pos: &Pos) -> Result<(), SyncError> {
        let counts = self.meter.counts();
        self.stats.requests = self.base.requests + counts.requests;
        self.stats.retries = self.base.retries + counts.retries;
        self.stats.rate_limit_waits = self.base.rate_limit_waits + counts.rate_limit_waits;
        self.stats.rate_limit_wait_ms = self.base.rate_limit_wait_ms + counts.rate_limit_wait_ms;
        self.stats.bytes += out.len() as u64;
        let cp = ResourceCheckpoint {
            v: CHECKPOINT_V1,
            resource: self.resource.as_str().to_owned(),
            begun: self.begun,
            encoder: self.enc.as_ref().map_or(Value::Null, |e| e.state()),
            stats: self.stats.clone(),
            pos: pos.clone(),
        };
        let checkpoint = Checkpoint(
            serde_json::to_value(&cp)
                .map_err(|e| SyncError::Decode(format!("the run's checkpoint ({e})")))?,
        );
        self.job
            .journal
            .checkpoint(out, &checkpoint, &self.stats)
            .await?;
        self.job.progress.advanced(&self.stats);
        Ok(())
    }

    /// The output's last bytes (its opening too when no record was written).
    fn close(&mut self) -> Result<Vec<u8>, SyncError> {
        let mut tail = Vec::new();
        self.encoder_for(&[])?;
        if let Some(enc) = self.enc.as_mut() {
            if !self.begun {
                enc.begin(&mut tail)?;
                self.begun = true;
            }
            enc.finish(&mut tail)?;
        }
        self.stats.bytes += tail.len() as u64;
        Ok(tail)
    }

    /// The outcome of a run that ended (`cancelled` when the user stopped it).
    pub(crate) fn outcome(
        mut self,
        cursor_after: Option<crate::cursor::DeltaCursor>,
        cancelled: bool,
    ) -> Result<ExportOutcome, SyncError> {
        let tail = self.close()?;
        Ok(ExportOutcome {
            stats: self.stats,
            cursor_after,
            known_ids: None,
            tail,
            cancelled,
        })
    }
}

/// Runs an export of any resource but issues.
///
/// # Errors
/// [`SyncError`]: a Jira failure after the client's retries, a journal failure, an option the
/// resource cannot honour, a checkpoint of another resource.
pub(crate) async fn run(job: ExportJob<'_>) -> Result<ExportOutcome, SyncError> {
    let resource = job.spec.resource;
    let resumed = match job.resume {
        None => None,
        Some(cp) => {
            let cp: ResourceCheckpoint = serde_json::from_value(cp.0.clone())
                .map_err(|e| SyncError::Decode(format!("the run's checkpoint ({e})")))?;
            if cp.v != CHECKPOINT_V1 || cp.resource != resource.as_str() {
                return Err(SyncError::Decode(format!(
                    "the run's checkpoint (version {} of {:?}, not of {})",
                    cp.v,
                    cp.resource,
                    resource.as_str()
                )));
            }
            Some(cp)
        }
    };
    let meter = Arc::new(RequestMeter::new());
    let client = job.client.metered(Arc::clone(&meter));
    let limit = match job.spec.kind {
        ExportKind::Test { limit } => Some(u64::from(limit)),
        _ => None,
    };
    let (pos, sink) = match resumed {
        Some(cp) => {
            let enc = if cp.encoder.is_null() && !cp.begun {
                None
            } else {
                let ctx = EncoderContext {
                    state: Some(cp.encoder.clone()),
                    records_written: cp.stats.total_records(),
                    fields: None,
                };
                Some(encoder(job.spec, &ctx)?)
            };
            let sink = Sink {
                job: &job,
                meter,
                base: cp.stats.clone(),
                enc,
                begun: cp.begun,
                stats: cp.stats,
                limit,
                resource,
            };
            (cp.pos, sink)
        }
        None => {
            let sink = Sink {
                job: &job,
                meter,
                base: RunStats::default(),
                enc: None,
                begun: false,
                stats: RunStats::default(),
                limit,
                resource,
            };
            (Pos::default(), sink)
        }
    };
    let by_jql = job.spec.user_jql().is_some();
    match resource {
        Resource::Comments | Resource::Worklogs | Resource::Changelogs => {
            children::run(&client, sink, pos).await
        }
        Resource::CustomerRequests if by_jql => {
            if job.spec.service_desk.is_some() {
                return Err(SyncError::InvalidSpec(
                    "choose customer requests by JQL or by service desk, not both".into(),
                ));
            }
            children::run(&client, sink, pos).await
        }
        _ => lists::run(&client, sink, pos).await,
    }
}

/// `record` with `fields` added at its start (`{"issueId":"1",…}`); the rest stays as sent.
///
/// # Errors
/// [`SyncError::Decode`] when the record is not a JSON object.
pub(crate) fn with_fields(
    record: &RawValue,
    fields: &[(&str, &str)],
) -> Result<Box<RawValue>, SyncError> {
    let text = record.get().trim_start();
    let Some(rest) = text.strip_prefix('{') else {
        return Err(SyncError::Decode(format!(
            "a record Jira sent (not an object: {})",
            text.chars().take(40).collect::<String>()
        )));
    };
    let mut out = String::with_capacity(text.len() + 64);
    out.push('{');
    for (i, (name, value)) in fields.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&json_string(name));
        out.push(':');
        out.push_str(&json_string(value));
    }
    if !fields.is_empty() && !rest.trim_start().starts_with('}') {
        out.push(',');
    }
    out.push_str(rest);
    RawValue::from_string(out).map_err(|e| SyncError::Decode(format!("a record Jira sent ({e})")))
}

fn json_string(s: &str) -> String {
    Value::String(s.to_owned()).to_string()
}

/// A record from a JSON value.
pub(crate) fn raw(value: &Value) -> Result<Box<RawValue>, SyncError> {
    serde_json::value::to_raw_value(value).map_err(|e| SyncError::Decode(format!("a record ({e})")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_added_at_the_start_of_a_record() {
        let r = RawValue::from_string(r#"{"id":"7","body":"x"}"#.into()).unwrap();
        let out = with_fields(&r, &[("issueId", "1"), ("issueKey", "A-\"1")]).unwrap();
        assert_eq!(
            out.get(),
            r#"{"issueId":"1","issueKey":"A-\"1","id":"7","body":"x"}"#
        );
        let empty = RawValue::from_string("{ }".into()).unwrap();
        assert_eq!(
            with_fields(&empty, &[("a", "b")]).unwrap().get(),
            r#"{"a":"b" }"#
        );
        let not = RawValue::from_string("[1]".into()).unwrap();
        assert!(with_fields(&not, &[("a", "b")]).is_err());
    }
}
