//! Running one import: [`run_import`].
//!
//! Records are read in batches of [`BATCH`]. For each batch:
//!
//! 1. every record is read, mapped and converted (a problem fails that record alone);
//! 2. the ledger is asked what earlier runs did with each identity; an *uncertain* create (sent,
//!    outcome unknown) is looked up in Jira before anything else happens to it;
//! 3. records to update are found (their key, the ledger, or a search by external id);
//! 4. updates are sent concurrently, creates through bulk create in one request per batch, each
//!    identity marked uncertain in the ledger *before* its request leaves and done after;
//! 5. the mapping's actions are applied to each issue created or updated
//!    ([`super::actions`]), concurrently across issues;
//! 6. the batch's results and the position reached are made durable in one checkpoint.
//!
//! A crash anywhere leaves at most the last batch's records unaccounted for; the resumed run
//! reads them again, finds in the ledger what was created, and looks up what is uncertain.

use std::{
    collections::{HashMap, HashSet},
    path::{Path, PathBuf},
    sync::Arc,
    time::Duration,
};

use futures::{StreamExt, TryStreamExt};
use jiralink_atlassian::{
    AtlassianError, BulkElement, EditOptions, IssueInput, JiraClient, SearchRequest,
};
use jiralink_domain::Clock;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::{
    actions::{Context, RecordActions, Report, check_attachment_dir},
    convert::{FieldInfo, UserDirectory},
    input::{InputRecord, RecordSource},
    ledger::{
        ImportJournal, ImportLedger, ImportProgress, ImportStats, LedgerEntry, LedgerState,
        RecordResult, RecordState,
    },
    mapping::{ExternalIdTarget, ImportOperation, Mapping, lookup, text_of},
    plan::{ExternalPlace, Plan, Screen, resolve},
};
use crate::error::SyncError;

/// Records per batch: Jira's bulk-create limit.
pub const BATCH: usize = 50;

/// The issue property every created issue carries: which ledger and record it came from, so an
/// uncertain create can be found again even without an external id.
pub const IMPORT_PROPERTY: &str = "jiralink.import";

/// Attempts of one request refused for its rate (429, 503) or not delivered at all; also the
/// rounds of a bulk create whose outcome was unknown (looked up, then what is missing sent
/// again), so one bulk create's records are sent at most `SEND_ATTEMPTS²` times.
pub const SEND_ATTEMPTS: u32 = 6;

/// Everything one import run needs.
pub struct ImportJob<'a> {
    /// The connection's client.
    pub client: &'a JiraClient,
    /// What to do with each record.
    pub mapping: &'a Mapping,
    /// The records.
    pub source: Box<dyn RecordSource>,
    /// Identity → issue, across runs.
    pub ledger: &'a dyn ImportLedger,
    /// The ledger's scope, written into each created issue's [`IMPORT_PROPERTY`].
    pub ledger_scope: &'a str,
    /// This run's id (ledger entries name it).
    pub run_id: &'a str,
    /// Where results go.
    pub journal: &'a dyn ImportJournal,
    /// Who watches.
    pub progress: &'a dyn ImportProgress,
    /// Finds account ids for e-mail addresses.
    pub users: &'a dyn UserDirectory,
    /// The time source.
    pub clock: Arc<dyn Clock>,
    /// How many updates may be in flight.
    pub concurrency: usize,
    /// Records already accounted for by an interrupted run (skipped on reading).
    pub resume_from: u64,
    /// The interrupted run's counts.
    pub stats: ImportStats,
    /// How long Jira's search may lag behind a write: an uncertain create is only taken as not
    /// done once a search this long after it finds nothing.
    pub search_lag: Duration,
    /// Convert and look up, but write nothing.
    pub dry_run: bool,
    /// The directory the files of `actions.attachments` are read from, by names relative to
    /// it; required when the mapping attaches files. Never anything outside it.
    pub attachment_dir: Option<PathBuf>,
}

impl std::fmt::Debug for ImportJob<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImportJob")
            .field("mapping", self.mapping)
            .field("run_id", &self.run_id)
            .field("resume_from", &self.resume_from)
            .field("dry_run", &self.dry_run)
            .field("attachment_dir", &self.attachment_dir)
            .finish_non_exhaustive()
    }
}

/// How a run ended.
#[derive(Debug, Clone, Default)]
pub struct ImportOutcome {
    /// The counts.
    pub stats: ImportStats,
    /// Whether it stopped because the user asked.
    pub cancelled: bool,
}

/// A project and issue type (both `None` for updates, which have no screen).
type Pair = (Option<String>, Option<String>);

/// A plan, or the problems that kept a pair from having one.
type PlanFor = Result<Arc<Plan>, String>;

/// Resolved plans per project and issue type; a pair that does not resolve keeps its problems.
struct Plans {
    site_fields: Vec<FieldInfo>,
    by_pair: HashMap<Pair, PlanFor>,
}

/// Reads the site's fields and, when the mapping names its project and issue type as
/// constants, checks the mapping against their create screen. Nothing is written.
///
/// # Errors
/// [`SyncError::InvalidSpec`] with every problem, or a Jira failure.
pub async fn check_mapping(
    client: &JiraClient,
    mapping: &Mapping,
    users: &dyn UserDirectory,
) -> Result<(), SyncError> {
    if mapping.service.resource.is_service() {
        return super::service::check_service_mapping(client, mapping, users)
            .await
            .map(|_| ());
    }
    checked_plans(client, mapping, users).await.map(drop)
}

/// The site's fields read once, and the mapping checked against the screen of its constant
/// project and issue type (or, for updates, the site's fields): the plans a run goes on with,
/// so a run reads `/field` and that create screen once.
async fn checked_plans(
    client: &JiraClient,
    mapping: &Mapping,
    users: &dyn UserDirectory,
) -> Result<Plans, SyncError> {
    let mut plans = Plans::load(client).await?;
    let fixed = |r: &Option<super::mapping::Rule>| {
        r.as_ref()
            .and_then(|r| r.constant.as_ref().filter(|_| r.map.is_none()))
            .map(text_of)
    };
    let pair = if mapping.operation.creates() {
        match (fixed(&mapping.project), fixed(&mapping.issue_type)) {
            (Some(p), Some(t)) => Some((Some(p), Some(t))),
            _ => None,
        }
    } else {
        Some((None, None))
    };
    if let Some((project, issue_type)) = pair {
        plans
            .get(client, mapping, project, issue_type, users)
            .await?
            .map_err(SyncError::InvalidSpec)?;
    }
    Ok(plans)
}

impl Plans {
    async fn load(client: &JiraClient) -> Result<Self, SyncError> {
        let site_fields = client
            .fields()
            .await?
            .iter()
            .filter_map(FieldInfo::from_json)
            .collect();
        Ok(Self {
            site_fields,
            by_pair: HashMap::new(),
        })
    }

    async fn get(
        &mut self,
        client: &JiraClient,
        mapping: &Mapping,
        project: Option<String>,
        issue_type: Option<String>,
        users: &dyn UserDirectory,
    ) -> Result<Result<Arc<Plan>, String>, SyncError> {
        let pair = (project.clone(), issue_type.clone());
        if let Some(found) = self.by_pair.get(&pair) {
            return Ok(found.clone());
        }
        let plan = self
            .build(client, mapping, project, issue_type, users)
            .await?;
        self.by_pair.insert(pair, plan.clone());
        Ok(plan)
    }

    async fn build(
        &self,
        client: &JiraClient,
        mapping: &Mapping,
        project: Option<String>,
        issue_type: Option<String>,
        users: &dyn UserDirectory,
    ) -> Result<Result<Arc<Plan>, String>, SyncError> {
        let (Some(project), Some(issue_type)) = (project, issue_type) else {
            let plan = resolve(
                mapping,
                &self.site_fields,
                Screen {
                    label: "the site",
                    fields: None,
                },
                None,
                None,
                users,
            )
            .await;
            return Ok(plan.map(Arc::new).map_err(|p| p.join("; ")));
        };
        let types = match client.createmeta_issue_types(&project).await {
            Ok(t) => t,
            Err(AtlassianError::NotFound { .. }) => {
                return Ok(Err(format!(
                    "project {project:?} does not exist or the connection cannot create issues in it"
                )));
            }
            Err(e) => return Err(e.into()),
        };
        let Some(ty) = types.iter().find(|t| t.id == issue_type).or_else(|| {
            types
                .iter()
                .find(|t| t.name.eq_ignore_ascii_case(&issue_type))
        }) else {
            return Ok(Err(format!(
                "project {project} has no issue type {issue_type:?} (it has: {})",
                types
                    .iter()
                    .map(|t| t.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        };
        let screen: Vec<FieldInfo> = client
            .createmeta_fields(&project, &ty.id)
            .await?
            .iter()
            .map(FieldInfo::from_meta)
            .collect();
        let label = format!("{project} / {}", ty.name);
        let plan = resolve(
            mapping,
            &self.site_fields,
            Screen {
                label: &label,
                fields: Some(&screen),
            },
            Some(project.to_ascii_uppercase()),
            Some(ty.id.clone()),
            users,
        )
        .await;
        Ok(plan.map(Arc::new).map_err(|p| p.join("; ")))
    }
}

/// A record read, mapped and converted.
struct Prepared {
    /// What follows the write; taken out before the write is decided.
    actions: Option<Box<RecordActions>>,
    line: u64,
    ordinal: u64,
    identity: String,
    external_id: Option<String>,
    key: Option<String>,
    project: Option<String>,
    plan: Arc<Plan>,
    fields: Map<String, Value>,
}

enum Slot {
    Done(RecordResult),
    Pending(Prepared),
}

fn result(line: u64, ordinal: u64, state: RecordState) -> RecordResult {
    RecordResult {
        line,
        record: ordinal,
        state,
        key: None,
        id: None,
        external_id: None,
        message: None,
        errors: Map::new(),
        request: None,
        actions: Vec::new(),
    }
}

fn failed(line: u64, ordinal: u64, message: impl Into<String>) -> RecordResult {
    RecordResult {
        message: Some(message.into()),
        ..result(line, ordinal, RecordState::Failed)
    }
}

impl Prepared {
    fn result(&self, state: RecordState) -> RecordResult {
        RecordResult {
            external_id: self.external_id.clone(),
            ..result(self.line, self.ordinal, state)
        }
    }

    fn done(&self, state: RecordState, key: Option<String>, id: Option<String>) -> RecordResult {
        RecordResult {
            key,
            id,
            ..self.result(state)
        }
    }

    fn failed(&self, message: impl Into<String>) -> RecordResult {
        RecordResult {
            message: Some(message.into()),
            ..self.result(RecordState::Failed)
        }
    }

    fn skipped(&self, message: impl Into<String>, key: Option<String>) -> RecordResult {
        RecordResult {
            message: Some(message.into()),
            key,
            ..self.result(RecordState::Skipped)
        }
    }

    /// The edit of an existing issue: the mapped fields, without project and issue type. An
    /// external-id label the mapping does not set labels with is *added*, so the labels people
    /// gave the issue in Jira stay.
    fn update_input(&self) -> IssueInput {
        let mut fields = self.fields.clone();
        fields.remove("project");
        fields.remove("issuetype");
        let mut update = Map::new();
        let labels_mapped = self.plan.targets.iter().any(|t| t.field.id == "labels");
        if let (Some(ExternalPlace::Label(prefix)), Some(x), false) =
            (&self.plan.external, &self.external_id, labels_mapped)
        {
            fields.remove("labels");
            update.insert("labels".into(), json!([{ "add": format!("{prefix}{x}") }]));
        }
        let properties = match (&self.plan.external, &self.external_id) {
            (Some(place), Some(x)) => place.property(x).into_iter().collect(),
            _ => Vec::new(),
        };
        IssueInput {
            fields,
            update,
            properties,
        }
    }
}

/// An update's slot, issue key and id, and how it went (the rate-limit waits on success).
type UpdateOutcome = (usize, String, Option<String>, Result<u32, AtlassianError>);

/// The action reports of the records of one issue, by slot.
type IssueReports = Result<Vec<(usize, Report)>, SyncError>;

/// One record's actions, to apply to `key`.
struct ActionWork {
    slot: usize,
    key: String,
    actions: Box<RecordActions>,
}

/// The identity of a record: its external id, or a hash of its content.
#[must_use]
pub fn identity(external_id: Option<&str>, record: &Map<String, Value>) -> String {
    match external_id {
        Some(x) => format!("x:{x}"),
        None => {
            // serde_json's map is ordered by key, so equal records hash equally.
            let text = serde_json::to_vec(record).unwrap_or_default();
            let digest = Sha256::digest(&text);
            format!("h:{}", hex_lower(&digest))
        }
    }
}

fn hex_lower(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::with_capacity(64), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// Runs one import to its end, a checkpoint after every batch.
///
/// # Errors
/// [`SyncError`]: a mapping that does not fit Jira (before anything is written), input that
/// cannot be read any more, a journal or ledger failure, or Jira refusing the credentials.
/// Whatever was checkpointed stays valid to resume from.
pub async fn run_import(mut job: ImportJob<'_>) -> Result<ImportOutcome, SyncError> {
    let problems = job.mapping.problems();
    if !problems.is_empty() {
        return Err(SyncError::InvalidSpec(problems.join("; ")));
    }
    if job.mapping.service.resource.is_service() {
        return super::service::run_service_import(job).await;
    }
    let base = check_attachment_dir(&job.mapping.actions, job.attachment_dir.as_deref())?;
    let mut plans = checked_plans(job.client, job.mapping, job.users).await?;
    let mut stats = job.stats.clone();
    let mut by_property = PropertyIndex::new();
    // Ledger entries of this run written from now on are this process's: a record whose
    // identity one of them holds repeats an earlier record of the input. Entries the run wrote
    // before (a killed process, whose lease had to run out first) are older.
    let started_ms = now_ms(&*job.clock);
    let mut position = job.resume_from;
    let mut input = Input {
        source: std::mem::replace(&mut job.source, Box::new(Exhausted)),
        resume_from: job.resume_from,
        ended: false,
    };
    let job = &job;
    let mut preparer = Preparer {
        job,
        plans: &mut plans,
        base: base.as_deref(),
    };
    // The batches are pipelined: while one batch is decided, written and its bulk create is in
    // flight, the next one is read and converted. Nothing of the next batch touches the ledger,
    // Jira or the journal before this one is checkpointed, so the order of writes is the one of
    // a batch after the other; only reading and converting move ahead.
    let mut next = preparer.next_batch(&mut input, Vec::new()).await;
    loop {
        if job.progress.stop_requested() || job.journal.cancel_requested().await {
            return Ok(ImportOutcome {
                stats,
                cancelled: true,
            });
        }
        // A read that failed while the batch before was in flight ends the run here, after
        // that batch's checkpoint, as it would have without the pipeline.
        let Some(mut batch) = next? else { break };
        let carry = std::mem::take(&mut batch.deferred);
        // Records deferred to the next batch (a repeated identity) are not yet accounted for,
        // so the position stops before the first of them.
        let first_deferred = carry.iter().map(|r| r.ordinal).min();
        let mut writer = Batch {
            job,
            stats: &mut stats,
            by_property: &mut by_property,
            base: base.as_deref(),
            started_ms,
        };
        let (results, upcoming) =
            futures::join!(writer.finish(batch), preparer.next_batch(&mut input, carry));
        let results = results?;
        next = upcoming;
        let done_upto = results
            .iter()
            .map(|r| r.record + 1)
            .max()
            .unwrap_or(position);
        position = first_deferred.map_or(done_upto, |first| first.min(done_upto));
        for r in &results {
            stats.count(r.state);
        }
        job.journal.checkpoint(&results, position, &stats).await?;
        job.progress.advanced(&stats);
    }
    Ok(ImportOutcome {
        stats,
        cancelled: false,
    })
}

/// The record source of a run, and how far it has been read.
struct Input {
    source: Box<dyn RecordSource>,
    resume_from: u64,
    ended: bool,
}

impl Input {
    /// Up to [`BATCH`] records after `carry`: the records an interrupted run accounted for
    /// are skipped.
    fn read(&mut self, mut batch: Vec<InputRecord>) -> Result<Vec<InputRecord>, SyncError> {
        while !self.ended && batch.len() < BATCH {
            match self.source.next_record() {
                Ok(Some(r)) if r.ordinal < self.resume_from => {}
                Ok(Some(r)) => batch.push(r),
                Ok(None) => self.ended = true,
                Err(e) => return Err(SyncError::Input(e.to_string())),
            }
        }
        Ok(batch)
    }
}

/// What a run's source becomes once the run has taken it.
struct Exhausted;

impl RecordSource for Exhausted {
    fn next_record(&mut self) -> Result<Option<InputRecord>, super::input::InputError> {
        Ok(None)
    }
}

/// A batch read, mapped and converted, not yet decided.
struct PreparedBatch {
    slots: Vec<Slot>,
    /// Each pending slot's actions, taken out before the write is decided.
    planned: Vec<Option<Box<RecordActions>>>,
    /// The records put off to the next batch (a repeated identity or issue).
    deferred: Vec<InputRecord>,
}

/// Reads, maps and converts batches: nothing it does writes anything.
struct Preparer<'j, 'a> {
    job: &'j ImportJob<'a>,
    plans: &'j mut Plans,
    /// The attachment directory, canonical.
    base: Option<&'j Path>,
}

/// External id → the issues (key, id) that carry it in an issue property, per project and
/// property key: read once per run, by one paged search of the project.
type PropertyIndex = HashMap<(String, String), HashMap<String, Vec<(String, String)>>>;

/// Decides, writes and records one prepared batch.
struct Batch<'j, 'a> {
    job: &'j ImportJob<'a>,
    stats: &'j mut ImportStats,
    by_property: &'j mut PropertyIndex,
    /// The attachment directory, canonical.
    base: Option<&'j Path>,
    /// When this process started the run (ms).
    started_ms: i64,
}

fn context<'j>(job: &'j ImportJob<'_>, base: Option<&'j Path>) -> Context<'j> {
    Context {
        client: job.client,
        clock: &*job.clock,
        users: job.users,
        base,
        scope: job.ledger_scope,
    }
}

impl Preparer<'_, '_> {
    /// The next batch: `carry` and the records read after it, prepared; `None` once the input
    /// has ended and nothing is carried.
    async fn next_batch(
        &mut self,
        input: &mut Input,
        carry: Vec<InputRecord>,
    ) -> Result<Option<PreparedBatch>, SyncError> {
        let records = input.read(carry)?;
        if records.is_empty() {
            return Ok(None);
        }
        self.prepare_batch(records).await.map(Some)
    }

    /// The records' slots, in input order, and the records put off to the next batch.
    async fn prepare_batch(
        &mut self,
        records: Vec<InputRecord>,
    ) -> Result<PreparedBatch, SyncError> {
        let mut slots: Vec<Slot> = Vec::with_capacity(records.len());
        let mut seen: HashSet<String> = HashSet::new();
        let mut deferred = Vec::new();
        for rec in records {
            if !deferred.is_empty() {
                // Keep the input order: once one record waits, all after it wait too.
                deferred.push(rec);
                continue;
            }
            let fields = match rec.fields {
                Ok(f) => f,
                Err(reason) => {
                    slots.push(Slot::Done(failed(rec.line, rec.ordinal, reason)));
                    continue;
                }
            };
            match self.prepare(rec.line, rec.ordinal, &fields).await? {
                Err(r) => slots.push(Slot::Done(r)),
                Ok(p) => {
                    // Two records of one identity, or naming one issue, go to different
                    // batches: within a batch writes run concurrently, and the later record
                    // must be written last.
                    let key = p.key.as_ref().map(|k| format!("key:{}", k.to_uppercase()));
                    let fresh = !seen.contains(&p.identity)
                        && key.as_ref().is_none_or(|k| !seen.contains(k));
                    if fresh {
                        seen.insert(p.identity.clone());
                        seen.extend(key);
                        slots.push(Slot::Pending(p));
                    } else {
                        deferred.push(InputRecord {
                            ordinal: rec.ordinal,
                            line: rec.line,
                            fields: Ok(fields),
                        });
                    }
                }
            }
        }
        let planned: Vec<Option<Box<RecordActions>>> = slots
            .iter_mut()
            .map(|s| match s {
                Slot::Pending(p) => p.actions.take(),
                Slot::Done(_) => None,
            })
            .collect();
        Ok(PreparedBatch {
            slots,
            planned,
            deferred,
        })
    }

    async fn prepare(
        &mut self,
        line: u64,
        ordinal: u64,
        record: &Map<String, Value>,
    ) -> Result<Result<Prepared, RecordResult>, SyncError> {
        let job = self.job;
        let mapping = job.mapping;
        let text = |rule: &Option<super::mapping::Rule>| {
            rule.as_ref()
                .and_then(|r| r.evaluate(record))
                .map(|v| text_of(&v))
        };
        let (project, issue_type) = if mapping.operation.creates() {
            let p = text(&mapping.project);
            let t = text(&mapping.issue_type);
            if p.is_none() || t.is_none() {
                return Ok(Err(failed(
                    line,
                    ordinal,
                    "the record has no project or issue type to create an issue with",
                )));
            }
            (p, t)
        } else {
            (None, None)
        };
        let plan = match self
            .plans
            .get(job.client, mapping, project.clone(), issue_type, job.users)
            .await?
        {
            Ok(p) => p,
            Err(problems) => return Ok(Err(failed(line, ordinal, problems))),
        };
        let external_id = match &mapping.external_id {
            None => None,
            Some(x) => match lookup(record, &x.source).map(text_of) {
                Some(v) if !v.trim().is_empty() => {
                    let v = v.trim().to_owned();
                    if matches!(x.target, ExternalIdTarget::LabelPrefix(_))
                        && v.chars().any(char::is_whitespace)
                    {
                        return Ok(Err(failed(
                            line,
                            ordinal,
                            format!("the external id {v:?} contains a space, which a label cannot"),
                        )));
                    }
                    Some(v)
                }
                _ => None,
            },
        };
        let key = mapping
            .key
            .as_deref()
            .and_then(|k| lookup(record, k))
            .map(text_of)
            .map(|k| k.trim().to_owned())
            .filter(|k| !k.is_empty());
        if external_id.is_none() && key.is_none() && mapping.operation != ImportOperation::Create {
            let what = match (&mapping.key, &mapping.external_id) {
                (Some(k), Some(x)) => format!("{k} or {}", x.source),
                (Some(k), None) => k.clone(),
                (None, Some(x)) => x.source.clone(),
                (None, None) => "key".into(),
            };
            return Ok(Err(failed(
                line,
                ordinal,
                format!("the record has no {what} to find its issue by"),
            )));
        }
        let identity = identity(external_id.as_deref(), record);
        let fields = plan
            .fields_for(record, external_id.as_deref(), mapping.operation, job.users)
            .await;
        let actions = if mapping.actions.is_empty() {
            Ok(None)
        } else {
            RecordActions::prepare(
                &mapping.actions,
                record,
                &identity,
                &context(job, self.base),
            )
            .await
            .map(|a| Some(Box::new(a)))
        };
        let (fields, actions) = match (fields, actions) {
            (Ok(f), Ok(a)) => (f, a),
            (fields, actions) => {
                let mut errors = fields.err().unwrap_or_default();
                let field_errors = !errors.is_empty();
                errors.extend(actions.err().unwrap_or_default());
                return Ok(Err(RecordResult {
                    errors,
                    external_id,
                    message: Some(if field_errors {
                        "a value does not fit its field".into()
                    } else {
                        "a value does not fit its action".into()
                    }),
                    ..result(line, ordinal, RecordState::Failed)
                }));
            }
        };
        // An external id kept in a property is found among the project's issues, which
        // updates (resolved without a project) name in the mapping.
        let project = plan.project.clone().or_else(|| {
            matches!(plan.external, Some(ExternalPlace::Property(_)))
                .then(|| text(&mapping.project).map(|p| p.trim().to_ascii_uppercase()))
                .flatten()
        });
        Ok(Ok(Prepared {
            actions,
            line,
            ordinal,
            identity,
            external_id,
            key,
            project,
            plan,
            fields,
        }))
    }
}

impl Batch<'_, '_> {
    /// The batch's results in input order.
    async fn finish(&mut self, batch: PreparedBatch) -> Result<Vec<RecordResult>, SyncError> {
        let PreparedBatch {
            mut slots, planned, ..
        } = batch;
        self.decide(&mut slots).await?;
        self.apply_actions(&mut slots, planned).await?;
        Ok(slots
            .into_iter()
            .map(|s| match s {
                Slot::Done(r) => r,
                Slot::Pending(p) => p.failed("not processed"),
            })
            .collect())
    }

    /// Decides, sends and records each pending slot.
    async fn decide(&mut self, slots: &mut [Slot]) -> Result<(), SyncError> {
        let job = self.job;
        let op = job.mapping.operation;
        let identities: Vec<String> = slots
            .iter()
            .filter_map(|s| match s {
                Slot::Pending(p) => Some(p.identity.clone()),
                Slot::Done(_) => None,
            })
            .collect();
        let mut ledger = job.ledger.get(&identities).await?;
        self.settle_uncertain(slots, &mut ledger).await?;

        // What each record becomes: an update of a known issue, or a create.
        let mut existing: HashMap<usize, (String, Option<String>, bool)> = HashMap::new();
        for (i, slot) in slots.iter_mut().enumerate() {
            let Slot::Pending(p) = slot else { continue };
            if let Some(e) = ledger
                .get(&p.identity)
                .filter(|e| e.state == LedgerState::Done)
            {
                let key = e.issue_key.clone();
                if op == ImportOperation::Create {
                    *slot = Slot::Done(if e.run_id != job.run_id {
                        p.skipped("an earlier run created its issue", key)
                    } else if e.at_ms >= self.started_ms {
                        p.skipped(
                            "the same record as an earlier one of this input: its issue was \
                             created for that one",
                            key,
                        )
                    } else {
                        // Created by this run before its process died; the results it wrote
                        // then stop before this record.
                        p.done(RecordState::Created, key, e.issue_id.clone())
                    });
                    continue;
                }
                if let Some(k) = key {
                    existing.insert(i, (k, e.issue_id.clone(), false));
                }
                continue;
            }
            if let Some(k) = &p.key {
                existing.insert(i, (k.clone(), None, true));
            }
        }
        if op != ImportOperation::Create {
            self.find_by_external_id(slots, &mut existing).await?;
        }

        let mut updates: Vec<usize> = Vec::new();
        let mut creates: Vec<usize> = Vec::new();
        for (i, slot) in slots.iter_mut().enumerate() {
            let Slot::Pending(p) = slot else { continue };
            match (op, existing.get(&i)) {
                (ImportOperation::Create, _) => creates.push(i),
                (ImportOperation::Update, None) => {
                    *slot = Slot::Done(p.failed(format!(
                        "no issue has the external id {}",
                        p.external_id.as_deref().unwrap_or("")
                    )));
                }
                (ImportOperation::Upsert, Some((key, _, _))) if job.mapping.ignore_existing => {
                    *slot = Slot::Done(
                        p.skipped("the issue exists (ignore_existing)", Some(key.clone())),
                    );
                }
                (_, Some(_)) => updates.push(i),
                (ImportOperation::Upsert, None) if job.mapping.ignore_missing => {
                    *slot = Slot::Done(p.skipped("no issue exists (ignore_missing)", None));
                }
                (ImportOperation::Upsert, None) => creates.push(i),
            }
        }

        let missing = self.send_updates(slots, &updates, &existing).await?;
        for i in missing {
            let Slot::Pending(p) = &slots[i] else {
                continue;
            };
            let key = existing.get(&i).map(|e| e.0.clone()).unwrap_or_default();
            let done = if op == ImportOperation::Upsert && !job.mapping.ignore_missing {
                creates.push(i);
                continue;
            } else if op == ImportOperation::Upsert {
                p.skipped(format!("issue {key} does not exist (ignore_missing)"), None)
            } else {
                p.failed(format!("issue {key} does not exist"))
            };
            slots[i] = Slot::Done(done);
        }
        creates.sort_unstable();
        self.send_creates(slots, &creates).await
    }

    /// Applies each written record's actions to its issue (a dry run lists them in the
    /// record's request instead). The records of one issue go one after another, so their
    /// marks in its property do not overwrite each other.
    async fn apply_actions(
        &mut self,
        slots: &mut [Slot],
        planned: Vec<Option<Box<RecordActions>>>,
    ) -> Result<(), SyncError> {
        let mut by_issue: HashMap<String, Vec<ActionWork>> = HashMap::new();
        for (i, actions) in planned.into_iter().enumerate() {
            let Some(actions) = actions.filter(|a| !a.is_empty()) else {
                continue;
            };
            let Some(Slot::Done(r)) = slots.get_mut(i) else {
                continue;
            };
            match (r.state, r.key.clone()) {
                (RecordState::WouldCreate | RecordState::WouldUpdate, _) => {
                    if let Some(Value::Object(request)) = &mut r.request {
                        request.insert("actions".into(), actions.describe());
                    }
                }
                (RecordState::Created | RecordState::Updated, Some(key)) => {
                    by_issue
                        .entry(key.to_ascii_uppercase())
                        .or_default()
                        .push(ActionWork {
                            slot: i,
                            key,
                            actions,
                        });
                }
                _ => {}
            }
        }
        if by_issue.is_empty() {
            return Ok(());
        }
        let cx = context(self.job, self.base);
        let cx = &cx;
        let groups: Vec<IssueReports> =
            futures::stream::iter(by_issue.into_values().map(|work| async move {
                let mut out = Vec::with_capacity(work.len());
                for w in work {
                    out.push((w.slot, w.actions.apply(cx, &w.key).await?));
                }
                Ok(out)
            }))
            .buffer_unordered(self.job.concurrency.max(1))
            .collect()
            .await;
        for group in groups {
            for (i, report) in group? {
                self.stats.rate_limit_waits += u64::from(report.waits);
                self.stats.actions += report.applied;
                let Some(Slot::Done(r)) = slots.get_mut(i) else {
                    continue;
                };
                r.actions = report.done;
                if !report.errors.is_empty() {
                    let failed: Vec<&str> = report.errors.keys().map(String::as_str).collect();
                    r.message = Some(format!(
                        "the issue was {}, but some of its actions failed: {}",
                        r.state.as_str(),
                        failed.join(", ")
                    ));
                    r.state = RecordState::Failed;
                    r.errors.extend(report.errors);
                }
            }
        }
        Ok(())
    }

    /// Looks up every uncertain create of the batch in Jira; found ones become done, the
    /// others are forgotten (and created again).
    async fn settle_uncertain(
        &mut self,
        slots: &[Slot],
        ledger: &mut HashMap<String, LedgerEntry>,
    ) -> Result<(), SyncError> {
        let uncertain: Vec<(&Prepared, i64)> = slots
            .iter()
            .filter_map(|s| match s {
                Slot::Pending(p) => ledger
                    .get(&p.identity)
                    .filter(|e| e.state == LedgerState::Uncertain)
                    // Its process died with the request: Jira finishes what it received
                    // within the search lag (the default leaves it half a minute).
                    .map(|e| (p, e.at_ms)),
                Slot::Done(_) => None,
            })
            .collect();
        if uncertain.is_empty() {
            return Ok(());
        }
        // The issue, if it exists, is the sending run's: a resumed run reports it created, a
        // new run as created by an earlier one.
        let senders: HashMap<String, String> = uncertain
            .iter()
            .filter_map(|(p, _)| {
                ledger
                    .get(&p.identity)
                    .map(|e| (p.identity.clone(), e.run_id.clone()))
            })
            .collect();
        let found = self.look_up_creates(&uncertain).await?;
        let mut done = Vec::new();
        let mut gone = Vec::new();
        for (p, sent_ms) in &uncertain {
            self.stats.uncertain_checked += 1;
            match found.get(&p.identity) {
                Some((key, id)) => {
                    self.stats.uncertain_found += 1;
                    let entry = LedgerEntry {
                        state: LedgerState::Done,
                        issue_key: Some(key.clone()),
                        issue_id: Some(id.clone()),
                        run_id: senders
                            .get(&p.identity)
                            .cloned()
                            .unwrap_or_else(|| self.job.run_id.to_owned()),
                        // When its create was sent (by the process that died), not now: the
                        // record is this run's own create, not a repeat of an earlier record.
                        at_ms: *sent_ms,
                    };
                    ledger.insert(p.identity.clone(), entry.clone());
                    done.push((p.identity.clone(), entry));
                }
                None => {
                    ledger.remove(&p.identity);
                    gone.push(p.identity.clone());
                }
            }
        }
        if !self.job.dry_run {
            self.job.ledger.put(&done).await?;
            self.job.ledger.remove(&gone).await?;
        }
        Ok(())
    }

    /// Searches the projects of `creates` for issues carrying their [`IMPORT_PROPERTY`],
    /// created since a minute before the earliest send, once the search has caught up with
    /// the latest one.
    async fn look_up_creates(
        &mut self,
        creates: &[(&Prepared, i64)],
    ) -> Result<HashMap<String, (String, String)>, SyncError> {
        let job = self.job;
        let latest = creates.iter().map(|(_, at)| *at).max().unwrap_or(0);
        let earliest = creates.iter().map(|(_, at)| *at).min().unwrap_or(0);
        let ready_at = latest
            .saturating_add(i64::try_from(job.search_lag.as_millis()).unwrap_or(i64::MAX / 2));
        let now = now_ms(&*job.clock);
        if ready_at > now {
            let wait = u64::try_from(ready_at - now).unwrap_or(0);
            job.clock.sleep(Duration::from_millis(wait)).await;
        }
        let wanted: HashSet<&str> = creates.iter().map(|(p, _)| p.identity.as_str()).collect();
        // Records with an external id are searched by it, whatever the clocks say; the others
        // among the project's issues created since a while before the earliest send (the
        // margin allows for a Jira clock behind this machine's).
        let mut searches: Vec<String> = Vec::new();
        let mut by_place: HashMap<(String, String), (ExternalPlace, Vec<String>)> = HashMap::new();
        let mut windows: HashSet<&str> = HashSet::new();
        let mut whole: HashSet<&str> = HashSet::new();
        for (p, _) in creates {
            let Some(project) = p.project.as_deref() else {
                continue;
            };
            match (&p.external_id, &p.plan.external) {
                // JQL cannot search the external id's property: the whole project is read
                // for the mark, whatever the clocks say.
                (Some(_), Some(ExternalPlace::Property(_))) => {
                    whole.insert(project);
                }
                (Some(x), Some(place)) => {
                    by_place
                        .entry((project.to_owned(), place_key(place)))
                        .or_insert_with(|| (place.clone(), Vec::new()))
                        .1
                        .push(x.clone());
                }
                _ => {
                    windows.insert(project);
                }
            }
        }
        for ((project, _), (place, ids)) in &by_place {
            if let Some((clause, _)) = external_clause(place, ids) {
                searches.push(format!("project = \"{project}\" AND {clause}"));
            }
        }
        for project in &whole {
            searches.push(format!("project = \"{project}\""));
        }
        for project in windows.difference(&whole) {
            searches.push(format!(
                "project = \"{project}\" AND created >= {} ORDER BY created ASC",
                earliest.saturating_sub(CLOCK_MARGIN_MS)
            ));
        }
        let mut found = HashMap::new();
        for jql in searches {
            let request = SearchRequest {
                jql,
                fields: vec!["created".into()],
                properties: vec![IMPORT_PROPERTY.into()],
                max_results: Some(100),
                ..SearchRequest::default()
            };
            let mut issues = std::pin::pin!(job.client.search_jql(request));
            while let Some(issue) = issues.try_next().await? {
                let Some(prop) = issue
                    .extra
                    .get("properties")
                    .and_then(|p| p.get(IMPORT_PROPERTY))
                else {
                    continue;
                };
                if prop.get("ledger").and_then(Value::as_str) != Some(job.ledger_scope) {
                    continue;
                }
                if let Some(record) = prop.get("record").and_then(Value::as_str)
                    && wanted.contains(record)
                    && let Some(key) = issue.key.clone()
                {
                    found.insert(record.to_owned(), (key, issue.id.clone()));
                }
            }
        }
        Ok(found)
    }

    /// Finds issues by external id for pending records without a known issue.
    async fn find_by_external_id(
        &mut self,
        slots: &[Slot],
        existing: &mut HashMap<usize, (String, Option<String>, bool)>,
    ) -> Result<(), SyncError> {
        // By place and project: records of several projects are searched in each.
        let mut by_place: HashMap<PlaceIn, Vec<(usize, String)>> = HashMap::new();
        let mut places: HashMap<PlaceIn, (ExternalPlace, Option<String>)> = HashMap::new();
        for (i, slot) in slots.iter().enumerate() {
            let Slot::Pending(p) = slot else { continue };
            let (Some(x), None, Some(place)) = (&p.external_id, existing.get(&i), &p.plan.external)
            else {
                continue;
            };
            let place_key = (place_key(place), p.project.clone());
            by_place
                .entry(place_key.clone())
                .or_default()
                .push((i, x.clone()));
            places.insert(place_key, (place.clone(), p.project.clone()));
        }
        for (place_key, wanted) in by_place {
            let Some((place, project)) = places.get(&place_key) else {
                continue;
            };
            if let ExternalPlace::Property(property) = place {
                let Some(project) = project else {
                    continue;
                };
                let index = self.property_index(project, property).await?;
                for (i, x) in wanted {
                    match index.get(&x).map(Vec::as_slice) {
                        Some([(key, id)]) => {
                            existing.insert(i, (key.clone(), Some(id.clone()), false));
                        }
                        Some(many) if many.len() > 1 => {
                            existing.insert(i, (claimants(many), None, false));
                        }
                        _ => {}
                    }
                }
                continue;
            }
            let ids: Vec<String> = wanted.iter().map(|(_, x)| x.clone()).collect();
            let Some((clause, field)) = external_clause(place, &ids) else {
                continue;
            };
            let jql = match project {
                Some(p) => format!("project = \"{p}\" AND {clause}"),
                None => clause,
            };
            let request = SearchRequest {
                jql,
                fields: vec![field.clone()],
                max_results: Some(100),
                ..SearchRequest::default()
            };
            let mut matches: HashMap<String, Vec<(String, String)>> = HashMap::new();
            let mut issues = std::pin::pin!(self.job.client.search_jql(request));
            while let Some(issue) = issues.try_next().await? {
                let Some(key) = issue.key.clone() else {
                    continue;
                };
                let value = issue.fields.get(&field).cloned().unwrap_or(Value::Null);
                for (_, x) in &wanted {
                    let hit = match place {
                        ExternalPlace::Field(_) => value.as_str() == Some(x.as_str()),
                        ExternalPlace::Label(prefix) => value.as_array().is_some_and(|a| {
                            a.iter()
                                .any(|l| l.as_str() == Some(&format!("{prefix}{x}")))
                        }),
                        ExternalPlace::Property(_) => false,
                    };
                    if hit {
                        matches
                            .entry(x.clone())
                            .or_default()
                            .push((key.clone(), issue.id.clone()));
                    }
                }
            }
            for (i, x) in wanted {
                match matches.get(&x).map(Vec::as_slice) {
                    Some([(key, id)]) => {
                        existing.insert(i, (key.clone(), Some(id.clone()), false));
                    }
                    Some(many) if many.len() > 1 => {
                        // Several issues claim the id: updating one would be a guess.
                        existing.insert(i, (claimants(many), None, false));
                    }
                    _ => {}
                }
            }
        }
        Ok(())
    }

    /// External id → issues of `project` whose `property` holds `{"id": <external id>}`: one
    /// paged search of the project, the first time a run needs it (Jira's search cannot find a
    /// property's value unless an app indexes it). Values are compared exactly.
    async fn property_index(
        &mut self,
        project: &str,
        property: &str,
    ) -> Result<&HashMap<String, Vec<(String, String)>>, SyncError> {
        let wanted = (project.to_owned(), property.to_owned());
        if !self.by_property.contains_key(&wanted) {
            let request = SearchRequest {
                jql: format!("project = \"{}\"", jql_escape(project)),
                fields: vec!["created".into()],
                properties: vec![property.to_owned()],
                max_results: Some(100),
                ..SearchRequest::default()
            };
            let mut index: HashMap<String, Vec<(String, String)>> = HashMap::new();
            let mut issues = std::pin::pin!(self.job.client.search_jql(request));
            while let Some(issue) = issues.try_next().await? {
                let id = issue
                    .extra
                    .get("properties")
                    .and_then(|p| p.get(property))
                    .and_then(|v| v.get("id"))
                    .and_then(Value::as_str);
                if let (Some(x), Some(key)) = (id, issue.key.clone()) {
                    index
                        .entry(x.to_owned())
                        .or_default()
                        .push((key, issue.id.clone()));
                }
            }
            self.by_property.insert(wanted.clone(), index);
        }
        self.by_property
            .get(&wanted)
            .ok_or_else(|| SyncError::Decode("an external-id index went missing".into()))
    }

    /// Sends the updates; returns the slots whose issue does not exist (404).
    async fn send_updates(
        &mut self,
        slots: &mut [Slot],
        updates: &[usize],
        existing: &HashMap<usize, (String, Option<String>, bool)>,
    ) -> Result<Vec<usize>, SyncError> {
        let job = self.job;
        let mut missing = Vec::new();
        if job.dry_run {
            for &i in updates {
                let Slot::Pending(p) = &slots[i] else {
                    continue;
                };
                let key = existing.get(&i).map(|e| e.0.clone());
                let input = p.update_input();
                let mut request = json!({
                    "method": "PUT",
                    "issue": key,
                    "fields": input.fields,
                    "update": input.update,
                });
                if !input.properties.is_empty()
                    && let Value::Object(r) = &mut request
                {
                    r.insert("properties".into(), Value::Array(input.properties));
                }
                slots[i] = Slot::Done(RecordResult {
                    request: Some(request),
                    ..p.done(RecordState::WouldUpdate, key, None)
                });
            }
            return Ok(missing);
        }
        let mut work = Vec::new();
        for &i in updates {
            let Slot::Pending(p) = &slots[i] else {
                continue;
            };
            let Some((key, id, _)) = existing.get(&i) else {
                continue;
            };
            if key.contains(',') {
                slots[i] = Slot::Done(p.failed(format!(
                    "several issues have this external id ({key}); fix them in Jira first"
                )));
                continue;
            }
            work.push((i, key.clone(), id.clone(), p.update_input()));
        }
        let clock = job.clock.clone();
        let client = job.client;
        let outcomes: Vec<UpdateOutcome> =
            futures::stream::iter(work.into_iter().map(|(i, key, id, input)| {
                let clock = clock.clone();
                async move {
                    if input.fields.is_empty() && input.properties.is_empty() {
                        // A mapping of actions alone has nothing to edit; the issue need only
                        // exist, for the actions to follow.
                        let r = match client.issue_find(&key, &["status"]).await {
                            Ok(Some(_)) => Ok(0),
                            Ok(None) => Err(AtlassianError::NotFound {
                                message: None,
                                html: false,
                            }),
                            Err(e) => Err(e),
                        };
                        return (i, key, id, r);
                    }
                    let r = with_waits(&*clock, true, || {
                        client.issue_edit(&key, &input, EditOptions::default())
                    })
                    .await;
                    (i, key, id, r.map(|((), waits)| waits))
                }
            }))
            .buffer_unordered(job.concurrency.max(1))
            .collect()
            .await;
        for (i, key, id, outcome) in outcomes {
            let Slot::Pending(p) = &slots[i] else {
                continue;
            };
            slots[i] = Slot::Done(match outcome {
                Ok(waits) => {
                    self.stats.rate_limit_waits += u64::from(waits);
                    p.done(RecordState::Updated, Some(key), id)
                }
                Err(AtlassianError::NotFound { .. }) => {
                    missing.push(i);
                    continue;
                }
                Err(e) if ends_run(&e) => return Err(e.into()),
                Err(e) => fail_with(p, &e, Some(key)),
            });
        }
        Ok(missing)
    }

    /// Creates the records of `creates` in one bulk request each [`BATCH`].
    async fn send_creates(
        &mut self,
        slots: &mut [Slot],
        creates: &[usize],
    ) -> Result<(), SyncError> {
        let job = self.job;
        for chunk in creates.chunks(BATCH) {
            // The fields move into the request: a record's result never needs them again.
            let inputs: Vec<IssueInput> = chunk
                .iter()
                .filter_map(|&i| match &mut slots[i] {
                    Slot::Pending(p) => {
                        let mut properties = vec![json!({
                            "key": IMPORT_PROPERTY,
                            "value": { "ledger": job.ledger_scope, "record": p.identity },
                        })];
                        if let (Some(place), Some(x)) = (&p.plan.external, &p.external_id) {
                            properties.extend(place.property(x));
                        }
                        Some(IssueInput {
                            fields: std::mem::take(&mut p.fields),
                            properties,
                            ..IssueInput::default()
                        })
                    }
                    Slot::Done(_) => None,
                })
                .collect();
            if inputs.len() != chunk.len() {
                return Err(SyncError::Decode(
                    "an import batch lost track of a record".into(),
                ));
            }
            if job.dry_run {
                for (&i, input) in chunk.iter().zip(inputs) {
                    let Slot::Pending(p) = &slots[i] else {
                        continue;
                    };
                    let mut request =
                        json!({ "method": "POST", "fields": Value::Object(input.fields) });
                    // The external id's property, when it is one (not jiralink's own mark).
                    let external: Vec<Value> = input.properties.into_iter().skip(1).collect();
                    if !external.is_empty()
                        && let Value::Object(r) = &mut request
                    {
                        r.insert("properties".into(), Value::Array(external));
                    }
                    slots[i] = Slot::Done(RecordResult {
                        request: Some(request),
                        ..p.done(RecordState::WouldCreate, None, None)
                    });
                }
                continue;
            }
            self.create_chunk(slots, chunk, inputs).await?;
        }
        Ok(())
    }

    async fn create_chunk(
        &mut self,
        slots: &mut [Slot],
        chunk: &[usize],
        inputs: Vec<IssueInput>,
    ) -> Result<(), SyncError> {
        let job = self.job;
        // The records still to create and their bodies, side by side: the bodies are sent as
        // they are, never copied.
        let (mut idx, mut bodies) = (chunk.to_vec(), inputs);
        let mut rounds = 0;
        while !idx.is_empty() {
            rounds += 1;
            let sent_at = now_ms(&*job.clock);
            let intents: Vec<(String, LedgerEntry)> = idx
                .iter()
                .filter_map(|i| match &slots[*i] {
                    Slot::Pending(p) => Some((
                        p.identity.clone(),
                        LedgerEntry {
                            state: LedgerState::Uncertain,
                            issue_key: None,
                            issue_id: None,
                            run_id: job.run_id.to_owned(),
                            at_ms: sent_at,
                        },
                    )),
                    Slot::Done(_) => None,
                })
                .collect();
            job.ledger.put(&intents).await?;
            self.stats.bulk_requests += 1;
            let answer =
                with_waits(&*job.clock, false, || job.client.issue_bulk_create(&bodies)).await;
            match answer {
                Ok((elements, waits)) => {
                    self.stats.rate_limit_waits += u64::from(waits);
                    if elements.len() != idx.len() {
                        return Err(SyncError::Decode(
                            "a bulk-create answer with a different number of elements".into(),
                        ));
                    }
                    let now = now_ms(&*job.clock);
                    let mut done = Vec::new();
                    let mut refused = Vec::new();
                    for (i, element) in idx.iter().zip(elements) {
                        let Slot::Pending(p) = &slots[*i] else {
                            continue;
                        };
                        match element {
                            BulkElement::Created(c) => {
                                done.push((
                                    p.identity.clone(),
                                    LedgerEntry {
                                        state: LedgerState::Done,
                                        issue_key: Some(c.key.clone()),
                                        issue_id: Some(c.id.clone()),
                                        run_id: job.run_id.to_owned(),
                                        at_ms: now,
                                    },
                                ));
                                let r = p.done(RecordState::Created, Some(c.key), Some(c.id));
                                slots[*i] = Slot::Done(r);
                            }
                            BulkElement::Failed(e) => {
                                refused.push(p.identity.clone());
                                let r = RecordResult {
                                    message: e
                                        .messages
                                        .first()
                                        .cloned()
                                        .or_else(|| Some("Jira refused the issue".into())),
                                    errors: named_errors(&p.plan, &e.field_errors),
                                    ..p.result(RecordState::Failed)
                                };
                                slots[*i] = Slot::Done(r);
                            }
                        }
                    }
                    job.ledger.put(&done).await?;
                    job.ledger.remove(&refused).await?;
                    idx.clear();
                    bodies.clear();
                }
                Err(e) if outcome_unknown(&e) && rounds < SEND_ATTEMPTS => {
                    // Jira may have created some or all (a timeout or reset after sending, or a
                    // server error: bulk create is not one transaction): look before sending
                    // any again. Jira may still be working on the request when the answer is
                    // given up on, so the search lag counts from then, not from the send.
                    let unknown_since = now_ms(&*job.clock);
                    let pending: Vec<(&Prepared, i64)> = idx
                        .iter()
                        .filter_map(|i| match &slots[*i] {
                            Slot::Pending(p) => Some((p, unknown_since)),
                            Slot::Done(_) => None,
                        })
                        .collect();
                    let found = self.look_up_creates(&pending).await?;
                    let now = now_ms(&*job.clock);
                    let mut done = Vec::new();
                    let mut gone = Vec::new();
                    let mut rest = Vec::new();
                    let taken = std::mem::take(&mut idx)
                        .into_iter()
                        .zip(std::mem::take(&mut bodies));
                    for (i, input) in taken {
                        let Slot::Pending(p) = &slots[i] else {
                            continue;
                        };
                        self.stats.uncertain_checked += 1;
                        if let Some((key, id)) = found.get(&p.identity) {
                            self.stats.uncertain_found += 1;
                            done.push((
                                p.identity.clone(),
                                LedgerEntry {
                                    state: LedgerState::Done,
                                    issue_key: Some(key.clone()),
                                    issue_id: Some(id.clone()),
                                    run_id: job.run_id.to_owned(),
                                    at_ms: now,
                                },
                            ));
                            slots[i] = Slot::Done(p.done(
                                RecordState::Created,
                                Some(key.clone()),
                                Some(id.clone()),
                            ));
                        } else {
                            gone.push(p.identity.clone());
                            rest.push((i, input));
                        }
                    }
                    job.ledger.put(&done).await?;
                    job.ledger.remove(&gone).await?;
                    (idx, bodies) = rest.into_iter().unzip();
                }
                Err(e) => {
                    // Jira answered: nothing of this request was created.
                    let identities: Vec<String> = idx
                        .iter()
                        .filter_map(|i| match &slots[*i] {
                            Slot::Pending(p) => Some(p.identity.clone()),
                            Slot::Done(_) => None,
                        })
                        .collect();
                    if outcome_unknown(&e) {
                        // Still unknown after every attempt: the ledger keeps them uncertain
                        // for the next run to look up.
                        return Err(e.into());
                    }
                    job.ledger.remove(&identities).await?;
                    if ends_run(&e) {
                        return Err(e.into());
                    }
                    bodies.clear();
                    for i in std::mem::take(&mut idx) {
                        let Slot::Pending(p) = &slots[i] else {
                            continue;
                        };
                        slots[i] = Slot::Done(fail_with(p, &e, None));
                    }
                }
            }
        }
        Ok(())
    }
}

/// Whether an error ends the whole run rather than one record: the credentials are refused,
/// so every later record would fail the same way.
pub(super) fn ends_run(e: &AtlassianError) -> bool {
    matches!(
        e,
        AtlassianError::Unauthorized { .. }
            | AtlassianError::TokenUnavailable { .. }
            | AtlassianError::Credentials { .. }
    )
}

/// A record's failure from Jira's answer.
fn fail_with(p: &Prepared, e: &AtlassianError, key: Option<String>) -> RecordResult {
    match e {
        AtlassianError::BadRequest {
            messages,
            field_errors,
            ..
        } => RecordResult {
            key,
            message: messages
                .first()
                .cloned()
                .or_else(|| Some("Jira refused the record".into())),
            errors: named_errors(&p.plan, field_errors),
            ..p.result(RecordState::Failed)
        },
        other => RecordResult {
            key,
            message: Some(other.to_string()),
            ..p.result(RecordState::Failed)
        },
    }
}

/// Jira's per-field errors keyed by field name (as the mapping wrote it) instead of id.
fn named_errors(
    plan: &Plan,
    errors: &std::collections::BTreeMap<String, String>,
) -> Map<String, Value> {
    errors
        .iter()
        .map(|(id, msg)| {
            let name = plan
                .targets
                .iter()
                .find(|t| &t.field.id == id)
                .map_or_else(|| id.clone(), |t| t.field.name.clone());
            (name, Value::String(msg.clone()))
        })
        .collect()
}

/// Whether Jira may have applied a bulk create whose answer says neither yes nor no: no answer
/// (a timeout or reset after sending), or a server error (bulk create is not one transaction).
fn outcome_unknown(e: &AtlassianError) -> bool {
    matches!(e, AtlassianError::Ambiguous { .. })
        || e.status().is_some_and(|s| s >= 500 && s != 503)
}

/// Where an external id is kept ([`place_key`]) and the project searched for it.
type PlaceIn = (String, Option<String>);

/// The keys of the issues that claim one external id, as one text.
fn claimants(many: &[(String, String)]) -> String {
    many.iter()
        .map(|(k, _)| k.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

/// How far back from the earliest uncertain send the search by creation time reaches.
const CLOCK_MARGIN_MS: i64 = 10 * 60 * 1000;

fn place_key(place: &ExternalPlace) -> String {
    match place {
        ExternalPlace::Field(f) => format!("f:{}", f.id),
        ExternalPlace::Label(prefix) => format!("l:{prefix}"),
        ExternalPlace::Property(key) => format!("p:{key}"),
    }
}

/// The JQL clause matching any of `ids` at `place`, and the field that holds them; `None` for
/// a property, which JQL cannot search unless an app indexes it.
fn external_clause(place: &ExternalPlace, ids: &[String]) -> Option<(String, String)> {
    Some(match place {
        ExternalPlace::Field(f) => {
            let n = f.id.trim_start_matches("customfield_");
            let parts: Vec<String> = ids
                .iter()
                .map(|x| format!("cf[{n}] ~ \"\\\"{}\\\"\"", jql_escape(x)))
                .collect();
            (format!("({})", parts.join(" OR ")), f.id.clone())
        }
        ExternalPlace::Label(prefix) => {
            let parts: Vec<String> = ids
                .iter()
                .map(|x| format!("\"{}\"", jql_escape(&format!("{prefix}{x}"))))
                .collect();
            (
                format!("labels in ({})", parts.join(", ")),
                "labels".to_owned(),
            )
        }
        ExternalPlace::Property(_) => return None,
    })
}

pub(crate) fn jql_escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

pub(super) fn now_ms(clock: &dyn Clock) -> i64 {
    i64::try_from(clock.now().unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

/// Sends a write again when Jira said it did not apply it (429, 503) or it never left (connect
/// error), waiting as asked; `idempotent` writes are also sent again after an unknown outcome.
/// Returns the answer and how many waits were for rate limits.
pub(super) async fn with_waits<T, F, Fut>(
    clock: &dyn Clock,
    idempotent: bool,
    mut send: F,
) -> Result<(T, u32), AtlassianError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, AtlassianError>>,
{
    let mut waits = 0;
    let mut attempt = 0;
    loop {
        attempt += 1;
        match send().await {
            Ok(v) => return Ok((v, waits)),
            Err(e) if attempt < SEND_ATTEMPTS => {
                let limited = matches!(e, AtlassianError::RateLimited { .. })
                    || matches!(e, AtlassianError::Server { status: 503, .. });
                let unsent = matches!(
                    e,
                    AtlassianError::Transport {
                        kind: jiralink_atlassian::TransportKind::Connect,
                        ..
                    }
                );
                let ambiguous = matches!(e, AtlassianError::Ambiguous { .. });
                if !(limited || unsent || (idempotent && ambiguous)) {
                    return Err(e);
                }
                if limited {
                    waits += 1;
                }
                let backoff = Duration::from_secs(1 << attempt.min(4));
                let wait = e
                    .retry_after()
                    .unwrap_or(backoff)
                    .min(Duration::from_secs(60));
                clock.sleep(wait).await;
            }
            Err(e) => return Err(e),
        }
    }
}
