//! The import ledger, records' results, and where a run makes them durable.

use std::collections::HashMap;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::SyncError;

/// What the ledger knows of one record identity (`x:` + external id, or `h:` + a hash of the
/// record).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LedgerEntry {
    /// Whether the create is done or its outcome unknown.
    pub state: LedgerState,
    /// The issue, once known.
    pub issue_key: Option<String>,
    /// The issue id, once known.
    pub issue_id: Option<String>,
    /// The run that wrote the entry.
    pub run_id: String,
    /// When the create was sent or confirmed (epoch ms).
    pub at_ms: i64,
}

/// A ledger entry's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LedgerState {
    /// A create was sent and its outcome is not known (yet): the issue may exist. Written
    /// before the request leaves, so a crash anywhere after it leaves this state behind.
    Uncertain,
    /// The issue exists.
    Done,
}

/// Record identity → issue, kept per connection and ledger scope, across runs. The
/// application implements it over the store.
#[async_trait]
pub trait ImportLedger: Send + Sync {
    /// The entries of these identities that exist.
    async fn get(&self, identities: &[String]) -> Result<HashMap<String, LedgerEntry>, SyncError>;
    /// Writes (inserts or replaces) entries, durably, before returning.
    async fn put(&self, entries: &[(String, LedgerEntry)]) -> Result<(), SyncError>;
    /// Forgets identities whose create certainly did not happen.
    async fn remove(&self, identities: &[String]) -> Result<(), SyncError>;
}

/// What happened to one input record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RecordState {
    /// A new issue.
    Created,
    /// An existing issue was changed.
    Updated,
    /// Left alone, for the reason given.
    Skipped,
    /// Not written: the input, the mapping or Jira refused it.
    Failed,
    /// Dry run: would create.
    WouldCreate,
    /// Dry run: would update.
    WouldUpdate,
}

impl RecordState {
    /// The name results and summaries use.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Created => "created",
            Self::Updated => "updated",
            Self::Skipped => "skipped",
            Self::Failed => "failed",
            Self::WouldCreate => "would-create",
            Self::WouldUpdate => "would-update",
        }
    }
}

/// One line of the results file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RecordResult {
    /// The input line the record starts on.
    pub line: u64,
    /// The record's position in the input, from 0.
    pub record: u64,
    /// What happened.
    pub state: RecordState,
    /// The issue.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// The issue id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The record's external id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    /// Why (skipped, failed), or Jira's general message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Field name → what is wrong with its value.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub errors: Map<String, Value>,
    /// Dry run: the request the record would become (with `actions`, what would follow it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<Value>,
    /// What the mapping's actions did to the issue (`transitioned to Done`, `commented`, …),
    /// including what earlier runs had done (`comment already added`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub actions: Vec<String>,
}

/// What an import run did, kept with each checkpoint.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ImportStats {
    /// Records read (each ends in exactly one state below).
    pub read: u64,
    /// Issues created.
    pub created: u64,
    /// Issues updated.
    pub updated: u64,
    /// Records skipped.
    pub skipped: u64,
    /// Records failed.
    pub failed: u64,
    /// Dry run: records that would create an issue.
    pub would_create: u64,
    /// Dry run: records that would update one.
    pub would_update: u64,
    /// Creates whose outcome was unknown and looked up in Jira.
    pub uncertain_checked: u64,
    /// Of those, the ones that had been created.
    pub uncertain_found: u64,
    /// Bulk-create requests sent.
    pub bulk_requests: u64,
    /// Waits because Jira limited the rate (429, 503).
    pub rate_limit_waits: u64,
    /// Requests of the mapping's actions that changed an issue: transitions taken, comments,
    /// worklogs, links and attachments added.
    pub actions: u64,
}

impl ImportStats {
    /// Counts one result.
    pub fn count(&mut self, state: RecordState) {
        self.read += 1;
        match state {
            RecordState::Created => self.created += 1,
            RecordState::Updated => self.updated += 1,
            RecordState::Skipped => self.skipped += 1,
            RecordState::Failed => self.failed += 1,
            RecordState::WouldCreate => self.would_create += 1,
            RecordState::WouldUpdate => self.would_update += 1,
        }
    }
}

/// Makes an import run's results durable.
#[async_trait]
pub trait ImportJournal: Send + Sync {
    /// Durably appends `results` and records that the first `position` records are accounted
    /// for, with `stats`, all or nothing.
    async fn checkpoint(
        &self,
        results: &[RecordResult],
        position: u64,
        stats: &ImportStats,
    ) -> Result<(), SyncError>;

    /// Whether the user asked to cancel (checked between batches).
    async fn cancel_requested(&self) -> bool;
}

/// Told how an import advances.
pub trait ImportProgress: Send + Sync {
    /// The counts after a checkpoint.
    fn advanced(&self, stats: &ImportStats);
    /// Whether the watcher asks the run to stop (Ctrl-C at a terminal).
    fn stop_requested(&self) -> bool {
        false
    }
}

/// Progress nobody watches.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoImportProgress;

impl ImportProgress for NoImportProgress {
    fn advanced(&self, _stats: &ImportStats) {}
}

/// A ledger held in memory, for dry runs and tests.
#[derive(Debug, Default)]
pub struct MemoryLedger(std::sync::Mutex<HashMap<String, LedgerEntry>>);

impl MemoryLedger {
    /// Every entry.
    #[must_use]
    pub fn entries(&self) -> HashMap<String, LedgerEntry> {
        self.0
            .lock()
            .map(|m| m.clone())
            .unwrap_or_else(|p| p.into_inner().clone())
    }
}

#[async_trait]
impl ImportLedger for MemoryLedger {
    async fn get(&self, identities: &[String]) -> Result<HashMap<String, LedgerEntry>, SyncError> {
        let map = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        Ok(identities
            .iter()
            .filter_map(|i| map.get(i).map(|e| (i.clone(), e.clone())))
            .collect())
    }

    async fn put(&self, entries: &[(String, LedgerEntry)]) -> Result<(), SyncError> {
        let mut map = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for (i, e) in entries {
            map.insert(i.clone(), e.clone());
        }
        Ok(())
    }

    async fn remove(&self, identities: &[String]) -> Result<(), SyncError> {
        let mut map = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for i in identities {
            map.remove(i);
        }
        Ok(())
    }
}

/// How a results file is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ResultsFormat {
    /// One JSON object per record.
    #[default]
    Ndjson,
    /// CSV with a header row: `line,record,state,key,id,externalId,message,errors,actions`
    /// (`actions` joined with `; `).
    Csv,
}

/// The CSV columns of a results file.
pub const RESULT_COLUMNS: [&str; 9] = [
    "line",
    "record",
    "state",
    "key",
    "id",
    "externalId",
    "message",
    "errors",
    "actions",
];

/// Encodes results; `header` adds the CSV header row first.
///
/// # Errors
/// [`SyncError::Journal`] when they cannot be encoded.
pub fn encode_results(
    results: &[RecordResult],
    format: ResultsFormat,
    header: bool,
) -> Result<Vec<u8>, SyncError> {
    let fail = |e: &dyn std::fmt::Display| SyncError::Journal(format!("results: {e}"));
    match format {
        ResultsFormat::Ndjson => {
            let mut out = Vec::with_capacity(results.len() * 96);
            for r in results {
                serde_json::to_writer(&mut out, r).map_err(|e| fail(&e))?;
                out.push(b'\n');
            }
            Ok(out)
        }
        ResultsFormat::Csv => {
            let mut w = csv::Writer::from_writer(Vec::with_capacity(results.len() * 64));
            if header {
                w.write_record(RESULT_COLUMNS).map_err(|e| fail(&e))?;
            }
            for r in results {
                let errors = if r.errors.is_empty() {
                    String::new()
                } else {
                    Value::Object(r.errors.clone()).to_string()
                };
                w.write_record([
                    r.line.to_string().as_str(),
                    r.record.to_string().as_str(),
                    r.state.as_str(),
                    r.key.as_deref().unwrap_or(""),
                    r.id.as_deref().unwrap_or(""),
                    r.external_id.as_deref().unwrap_or(""),
                    r.message.as_deref().unwrap_or(""),
                    errors.as_str(),
                    r.actions.join("; ").as_str(),
                ])
                .map_err(|e| fail(&e))?;
            }
            w.into_inner().map_err(|e| fail(&e))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    fn sample() -> Vec<RecordResult> {
        let mut errors = Map::new();
        errors.insert("Due date".into(), Value::String("bad, \"date\"".into()));
        vec![
            RecordResult {
                line: 2,
                record: 0,
                state: RecordState::Created,
                key: Some("DEMO-1".into()),
                id: Some("10001".into()),
                external_id: Some("a-1".into()),
                message: None,
                errors: Map::new(),
                request: None,
                actions: vec!["commented".into(), "attached a.txt".into()],
            },
            RecordResult {
                line: 3,
                record: 1,
                state: RecordState::Failed,
                key: None,
                id: None,
                external_id: None,
                message: Some("a value does not fit its field".into()),
                errors,
                request: None,
                actions: Vec::new(),
            },
        ]
    }

    #[test]
    fn ndjson_results() {
        let out = encode_results(&sample(), ResultsFormat::Ndjson, true).unwrap_or_default();
        let text = String::from_utf8(out).unwrap_or_default();
        assert_eq!(
            text,
            "{\"line\":2,\"record\":0,\"state\":\"created\",\"key\":\"DEMO-1\",\"id\":\"10001\",\"externalId\":\"a-1\",\"actions\":[\"commented\",\"attached a.txt\"]}\n\
             {\"line\":3,\"record\":1,\"state\":\"failed\",\"message\":\"a value does not fit its field\",\"errors\":{\"Due date\":\"bad, \\\"date\\\"\"}}\n"
        );
    }

    #[test]
    fn csv_results() {
        let out = encode_results(&sample(), ResultsFormat::Csv, true).unwrap_or_default();
        let text = String::from_utf8(out).unwrap_or_default();
        assert_eq!(
            text,
            "line,record,state,key,id,externalId,message,errors,actions\n\
             2,0,created,DEMO-1,10001,a-1,,,commented; attached a.txt\n\
             3,1,failed,,,,a value does not fit its field,\"{\"\"Due date\"\":\"\"bad, \\\"\"date\\\"\"\"\"}\",\n"
        );
        let no_header =
            encode_results(&sample()[..1], ResultsFormat::Csv, false).unwrap_or_default();
        assert_eq!(
            no_header,
            b"2,0,created,DEMO-1,10001,a-1,,,commented; attached a.txt\n"
        );
    }

    #[tokio::test]
    async fn the_memory_ledger_puts_gets_and_removes() {
        let ledger = MemoryLedger::default();
        let entry = LedgerEntry {
            state: LedgerState::Done,
            issue_key: Some("DEMO-1".into()),
            issue_id: None,
            run_id: "r".into(),
            at_ms: 1,
        };
        ledger
            .put(&[("x:1".into(), entry.clone())])
            .await
            .unwrap_or(());
        let got = ledger
            .get(&["x:1".into(), "x:2".into()])
            .await
            .unwrap_or_default();
        assert_eq!(got, HashMap::from([("x:1".to_owned(), entry)]));
        ledger.remove(&["x:1".into()]).await.unwrap_or(());
        assert!(ledger.entries().is_empty());
    }

    #[test]
    fn stats_count_each_state() {
        let mut s = ImportStats::default();
        for st in [
            RecordState::Created,
            RecordState::Failed,
            RecordState::WouldUpdate,
        ] {
            s.count(st);
        }
        assert_eq!((s.read, s.created, s.failed, s.would_update), (3, 1, 1, 1));
    }
}
