//! The issue export: bounded `search/jql` pages in update order, written as Jira sent them.
//!
//! One run:
//! 1. fixes its bounds: `upper` = now (minus the index-lag allowance for a delta), `lower` =
//!    the last cursor minus the overlap (delta), the start date (first delta) or none;
//! 2. reads `(<jql>) AND updated >= lower AND updated <= upper ORDER BY updated ASC, key ASC`
//!    (epoch milliseconds, so no time zone is involved) page by page, the next page fetched
//!    by a separate task while the current one is written;
//! 3. leaves out a record whose `(id, updated)` the last cursor's boundary or this run's tail
//!    holds, writes the rest, and checkpoints after every page (output, where to resume, counts);
//! 4. optionally scans the ids the JQL matches and reports the known ones that are gone (in
//!    the tail, written with the finish together with the ids it was compared against);
//! 5. returns the next cursor: `upper`, and every `(id, updated)` seen at or above
//!    `upper − overlap`.
//!
//! With a concurrency above 1 the pages hold ids only and the issues are hydrated through
//! `issue/bulkfetch`, several batches at once, the output kept in the id pages' order.

use std::{
    collections::{BTreeSet, HashMap, HashSet},
    sync::Arc,
};

use futures::{StreamExt as _, TryStreamExt as _, stream};
use jiralink_atlassian::{
    AtlassianError, BulkFetchRequest, ChangelogRequest, JiraClient, RecordList, RequestMeter,
    SearchRequest,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json, value::RawValue};
use time::format_description::well_known::Rfc3339;
use tokio::sync::mpsc;

use crate::{
    bulk,
    cursor::{Checkpoint, DeltaCursor, KnownIds},
    engine::{ExportJob, ExportOutcome},
    error::SyncError,
    light::{head, unix_ms, with_members},
    output::{Encoder, EncoderContext, encoder},
    scan::{Span, next_page, scan_bulk, scan_page, tail_continuation},
    spec::{ExportKind, ExportSpec, Format},
    stats::RunStats,
};

/// Issues per page when every field is asked for (Jira's cap for `*all`).
const HEAVY_PAGE: u32 = 100;
/// Issues per page with a few named fields.
const LIGHT_PAGE: u32 = 1_000;
/// Ids per page in parallel mode (Jira's cap for id-only pages). Under latency the id pages,
/// read one after the other, would pace the bulk fetches if they were small; the writer still
/// checkpoints after every bulk fetch (a sub-page of 100), so their size costs no memory.
const ID_PAGE: u32 = 5_000;
/// Bulk fetches under way or waiting to be written in order, at most: twice the connection's
/// level, so a finished fetch waiting for an earlier one does not hold a request slot (the
/// client's limiter keeps requests at the level), but never more than this, which bounds the
/// memory they take (about 2.5 MB each with all fields) whatever the level.
const MAX_HYDRATING: usize = 16;
/// Ids per page of the deletion scan (Jira's cap for id-only pages).
const SCAN_PAGE: u32 = 5_000;
/// Issues per `issue/bulkfetch` call (Jira's cap).
const BULK: usize = 100;
/// Issues per `changelog/bulkfetch` call (Jira's cap is 1,000; a page holds fewer).
const CHANGELOG_BULK: usize = 1_000;
/// The checkpoint format.
const CHECKPOINT_V1: u32 = 1;

/// What the record counts of an issue export are kept under.
pub(crate) const ISSUES: &str = "issues";
/// What reported deletions are counted under.
pub(crate) const DELETED: &str = "deleted";

/// How the issue pages were read, which decides what a page token means.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum Mode {
    /// Full issues per page, one cursor.
    Pages,
    /// Id-only pages, hydrated in parallel.
    Ids,
}

/// Where a run stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum Phase {
    /// Reading issue pages.
    Issues,
    /// Every issue page is written; the deletion scan is next.
    Deletions,
    /// Every issue page is written; only the tail is left.
    Done,
}

/// The engine's checkpoint of an issue run (the JSON inside [`Checkpoint`]).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct IssueCheckpoint {
    v: u32,
    phase: Phase,
    /// The run's bounds (epoch ms).
    lower_ms: Option<i64>,
    upper_ms: i64,
    /// The fields asked for, after names were resolved.
    fields: Vec<String>,
    /// The search the token belongs to: its mode and lower bound (the run's, or the tail
    /// position after a restart).
    mode: Mode,
    search_lower_ms: Option<i64>,
    /// The next page of that search.
    token: Option<String>,
    /// Parallel mode: the ids of the current id page not yet written, in the page's order. A
    /// resumed run reads them before it follows `token`, so it never reads that id page again
    /// (whose issues may have changed since).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pending_ids: Vec<u64>,
    /// The highest `updated` at or below `upper` written so far: the search's position.
    position_ms: Option<i64>,
    /// `(id, updated)` written at or after the position (or above `upper`): what a restarted
    /// search from the position would return again.
    tail: Vec<(u64, i64)>,
    /// `(id, updated)` seen at or above `upper − overlap`: the next cursor's boundary.
    near: Vec<(u64, i64)>,
    /// The encoder's state.
    encoder: Value,
    /// The counts so far.
    stats: RunStats,
}

impl IssueCheckpoint {
    fn read(checkpoint: &Checkpoint) -> Result<Self, SyncError> {
        let cp: Self = serde_json::from_value(checkpoint.0.clone())
            .map_err(|e| SyncError::Decode(format!("the run's checkpoint ({e})")))?;
        if cp.v != CHECKPOINT_V1 {
            return Err(SyncError::Decode(format!(
                "the run's checkpoint (version {})",
                cp.v
            )));
        }
        Ok(cp)
    }
}

/// The search every page of a run belongs to.
#[derive(Debug, Clone)]
struct Search {
    user_jql: Option<String>,
    /// Issues read by id, consistently (`reconcileIssues`).
    reconcile: Vec<u64>,
    upper_ms: i64,
    fields: Vec<String>,
    expand: Vec<String>,
    page: u32,
}

impl Search {
    fn jql(&self, lower_ms: Option<i64>) -> String {
        bounded_jql(self.user_jql.as_deref(), lower_ms, self.upper_ms)
    }

    fn request(&self, mode: Mode, lower_ms: Option<i64>) -> SearchRequest {
        match mode {
            Mode::Pages => SearchRequest {
                jql: self.jql(lower_ms),
                fields: self.fields.clone(),
                expand: (!self.expand.is_empty()).then(|| self.expand.join(",")),
                max_results: Some(self.page),
                reconcile_issues: self.reconcile.clone(),
                ..SearchRequest::default()
            },
            Mode::Ids => SearchRequest {
                jql: self.jql(lower_ms),
                fields: vec!["id".into()],
                max_results: Some(ID_PAGE),
                reconcile_issues: self.reconcile.clone(),
                ..SearchRequest::default()
            },
        }
    }
}

const DAY_MS: i64 = 86_400_000;

/// The user's JQL, narrowed to the spec's issue ids when it names some.
pub(crate) fn by_ids_jql(spec: &ExportSpec) -> Option<String> {
    if spec.issue_ids.is_empty() {
        return spec.user_jql().map(str::to_owned);
    }
    let ids = spec
        .issue_ids
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    Some(match spec.user_jql() {
        Some(user) => format!("({user}) AND id in ({ids})"),
        None => format!("id in ({ids})"),
    })
}

/// `(<user jql>) AND updated >= lower AND updated <= upper ORDER BY updated ASC, key ASC`.
pub(crate) fn bounded_jql(user: Option<&str>, lower_ms: Option<i64>, upper_ms: i64) -> String {
    let mut parts = Vec::with_capacity(3);
    if let Some(user) = user {
        parts.push(format!("({user})"));
    }
    if let Some(lower) = lower_ms {
        parts.push(format!("updated >= {lower}"));
    }
    parts.push(format!("updated <= {upper_ms}"));
    format!("{} ORDER BY updated ASC, key ASC", parts.join(" AND "))
}

/// What is added to each issue after it is read.
#[derive(Debug, Clone, Copy)]
struct Enrich {
    full_changelog: bool,
    comments: bool,
    worklogs: bool,
    concurrency: usize,
}

impl Enrich {
    fn any(self) -> bool {
        self.full_changelog || self.comments || self.worklogs
    }
}

/// One page for the writer: the issues' JSON texts in `body`, where `spans` say.
#[derive(Debug)]
struct Page {
    body: String,
    /// `None`: the page is as Jira sent it and the writer scans it (the reader took `next`
    /// from the page's end, [`tail_continuation`]).
    spans: Option<Vec<Span>>,
    /// The search's next page (`None`: this was the last, unless `rest` holds ids).
    next: Option<String>,
    /// Parallel mode: the ids of this page's id page that later pages hold (empty on the last
    /// part of an id page).
    rest: Vec<u64>,
    /// The lower bound of the search `next` belongs to.
    search_lower_ms: Option<i64>,
    /// Ids the id page listed that were gone when hydrated ([`RunStats::vanished`]).
    vanished: u64,
}

/// Stops the page reader when the run ends or is dropped (a killed run leaves nothing behind).
struct AbortOnDrop<T = ()>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The dedupe and cursor bookkeeping of one run.
#[derive(Debug, Default)]
pub(crate) struct Ledger {
    upper_ms: i64,
    near_from_ms: i64,
    boundary: HashSet<(u64, i64)>,
    position_ms: Option<i64>,
    tail: HashSet<(u64, i64)>,
    near: HashSet<(u64, i64)>,
}

/// What to do with one record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    Write,
    Skip,
}

impl Ledger {
    pub(crate) fn new(
        upper_ms: i64,
        overlap_ms: i64,
        boundary: impl IntoIterator<Item = (u64, i64)>,
    ) -> Self {
        Self {
            upper_ms,
            near_from_ms: upper_ms.saturating_sub(overlap_ms),
            boundary: boundary.into_iter().collect(),
            ..Self::default()
        }
    }

    /// Records that `(id, updated)` was read, and says whether to write it.
    pub(crate) fn see(&mut self, id: u64, updated_ms: i64) -> Verdict {
        let key = (id, updated_ms);
        if updated_ms <= self.upper_ms {
            self.position_ms = Some(self.position_ms.map_or(updated_ms, |p| p.max(updated_ms)));
        }
        if updated_ms >= self.near_from_ms {
            self.near.insert(key);
        }
        if self.boundary.contains(&key) || self.tail.contains(&key) {
            return Verdict::Skip;
        }
        self.tail.insert(key);
        Verdict::Write
    }

    /// Forgets tail entries below the position (a restarted search cannot return them).
    pub(crate) fn settle(&mut self) {
        if let Some(p) = self.position_ms {
            self.tail.retain(|(_, u)| *u >= p);
        }
    }

    /// The next cursor's boundary: what this run saw near the top, and what the last boundary
    /// held that is still near the top.
    pub(crate) fn boundary_after(&self) -> Vec<(String, i64)> {
        let all: BTreeSet<(u64, i64)> = self
            .near
            .iter()
            .chain(self.boundary.iter())
            .filter(|(_, u)| *u >= self.near_from_ms)
            .copied()
            .collect();
        all.into_iter().map(|(id, u)| (id.to_string(), u)).collect()
    }

    fn sorted(set: &HashSet<(u64, i64)>) -> Vec<(u64, i64)> {
        let mut v: Vec<_> = set.iter().copied().collect();
        v.sort_unstable();
        v
    }
}

/// Runs an issue export.
pub(crate) async fn run(job: ExportJob<'_>) -> Result<ExportOutcome, SyncError> {
    let spec = job.spec;
    let meter = Arc::new(RequestMeter::new());
    let client = job.client.metered(Arc::clone(&meter));
    let resumed = job.resume.map(IssueCheckpoint::read).transpose()?;
    let overlap_ms = spec.overlap_ms();
    let delta = matches!(spec.kind, ExportKind::Delta { .. });
    let limit = match spec.kind {
        ExportKind::Test { limit } => Some(u64::from(limit)),
        _ => None,
    };
    let mode = if job.concurrency > 1 && limit.is_none() {
        Mode::Ids
    } else {
        Mode::Pages
    };

    let field_list = if spec.format == Format::Csv || needs_field_list(&spec.fields) {
        Some(Arc::new(client.fields().await?))
    } else {
        None
    };

    let mut cp = match resumed {
        Some(cp) => cp,
        None => {
            let now_ms = unix_ms(job.clock.now());
            let upper_ms = if delta {
                now_ms.saturating_sub(spec.lag_ms())
            } else if spec.issue_ids.is_empty() {
                now_ms
            } else {
                // Issues read by id are read as they are now, whatever the two clocks say.
                now_ms.saturating_add(DAY_MS)
            };
            let lower_ms = match (spec.kind, job.cursor) {
                (ExportKind::Delta { .. }, Some(cursor)) => {
                    Some(cursor.upper_ms.saturating_sub(overlap_ms))
                }
                (ExportKind::Delta { start: Some(start) }, None) => Some(unix_ms(start)),
                _ => None,
            };
            let fields = resolve_fields(&spec.fields, field_list.as_deref())?;
            IssueCheckpoint {
                v: CHECKPOINT_V1,
                phase: Phase::Issues,
                lower_ms,
                upper_ms,
                fields,
                mode,
                search_lower_ms: lower_ms,
                token: None,
                pending_ids: Vec::new(),
                position_ms: None,
                tail: Vec::new(),
                near: Vec::new(),
                encoder: Value::Null,
                stats: RunStats::default(),
            }
        }
    };
    let fresh = job.resume.is_none();
    let base = cp.stats.clone();

    let search = Search {
        user_jql: by_ids_jql(spec),
        reconcile: spec.issue_ids.clone(),
        upper_ms: cp.upper_ms,
        fields: cp.fields.clone(),
        expand: expansions(spec),
        page: limit.map_or(page_size(&cp.fields, spec), |l| {
            page_size(&cp.fields, spec).min(u32::try_from(l).unwrap_or(u32::MAX))
        }),
    };
    // The count only feeds the progress bar: it is asked for beside the first page, not
    // before it (on a large site both take a while).
    let count = fresh.then(|| {
        let (client, jql) = (client.clone(), search.jql(cp.lower_ms));
        AbortOnDrop(tokio::spawn(async move {
            client.approximate_count(&jql).await.ok()
        }))
    });

    let boundary = match (delta, job.cursor) {
        (true, Some(cursor)) => cursor
            .boundary
            .iter()
            .filter_map(|(id, u)| id.parse::<u64>().ok().map(|id| (id, *u)))
            .collect(),
        _ => Vec::new(),
    };
    let mut ledger = Ledger::new(cp.upper_ms, overlap_ms, boundary);
    ledger.position_ms = cp.position_ms;
    ledger.tail = cp.tail.iter().copied().collect();
    ledger.near = cp.near.iter().copied().collect();

    let ctx = EncoderContext {
        state: (!fresh).then(|| cp.encoder.clone()),
        records_written: cp.stats.total_records(),
        fields: field_list,
    };
    let mut enc = encoder(spec, &ctx)?;
    let mut opening = Vec::new();
    if fresh {
        enc.begin(&mut opening)?;
    }

    let mut run = Writer {
        job: &job,
        meter: &meter,
        base,
        enc: enc.as_mut(),
        pending: opening,
    };

    if cp.phase == Phase::Issues {
        let enrich = Enrich {
            full_changelog: spec.full_changelog,
            comments: spec.comments,
            worklogs: spec.worklogs,
            concurrency: job.concurrency.max(1),
        };
        // A token (and the rest of an id page) means something only to the search (and mode)
        // it came from.
        let same_mode = cp.mode == mode;
        let start = if same_mode { cp.token.clone() } else { None };
        let pending = if same_mode {
            std::mem::take(&mut cp.pending_ids)
        } else {
            Vec::new()
        };
        let restart_at = if same_mode {
            cp.position_ms.or(cp.search_lower_ms)
        } else {
            cp.position_ms.or(cp.lower_ms)
        };
        // Only after the rest of an id page does the writer handle a refused token itself.
        let mut restartable = !pending.is_empty() && start.is_some();
        let from = if fresh || start.is_some() || !pending.is_empty() {
            // After the rest of an id page, the position has moved on: a refused token is
            // handled here (below), where the position is known, not by the reader.
            let restart = pending.is_empty().then_some(restart_at);
            StartAt {
                lower: cp.search_lower_ms,
                token: start,
                restart,
                pending,
            }
        } else {
            StartAt {
                lower: restart_at,
                token: None,
                restart: None,
                pending: Vec::new(),
            }
        };
        cp.mode = mode;
        let mut pages = spawn_pages(client.clone(), search.clone(), mode, from, enrich);
        if let Some(mut count) = count {
            let count = (&mut count.0).await.ok().flatten();
            cp.stats.expected = match (count, limit) {
                (Some(c), Some(l)) => Some(c.min(l)),
                (c, _) => c,
            };
            job.progress.expected(cp.stats.expected);
        }
        let mut written = cp.stats.records.get(ISSUES).copied().unwrap_or(0);
        let mut limit_reached = limit.is_some_and(|l| written >= l);
        while !limit_reached {
            let Some(page) = pages.rx.recv().await else {
                return Err(SyncError::Decode(
                    "the issue pages: the reader stopped early".into(),
                ));
            };
            let page = match page {
                Err(SyncError::Jira(e)) if restartable && token_refused(&e) => {
                    // Jira refused the saved token after the rest of an id page was written:
                    // search again from the position now reached, leaving out the tail.
                    restartable = false;
                    ledger.settle();
                    let lower = ledger.position_ms.or(cp.search_lower_ms);
                    tracing::info!(
                        restart_at = lower,
                        "jira refused the saved page token; searching again from the last position"
                    );
                    drop(pages);
                    pages = spawn_pages(
                        client.clone(),
                        search.clone(),
                        mode,
                        StartAt {
                            lower,
                            token: None,
                            restart: None,
                            pending: Vec::new(),
                        },
                        enrich,
                    );
                    continue;
                }
                other => other?,
            };
            cp.stats.pages += 1;
            cp.stats.vanished += page.vanished;
            let spans = match page.spans {
                Some(spans) => spans,
                None => {
                    let scanned = scan_page(&page.body)?;
                    if next_page(scanned.is_last, scanned.next_page_token)? != page.next {
                        return Err(SyncError::Decode(
                            "a search page: its end and its full reading disagree on the next page"
                                .into(),
                        ));
                    }
                    scanned.spans
                }
            };
            for span in &spans {
                if limit.is_some_and(|l| written >= l) {
                    limit_reached = true;
                    break;
                }
                let updated = span.updated_ms.ok_or_else(|| {
                    SyncError::Decode(format!("issue {}: Jira sent no update time", span.id))
                })?;
                match ledger.see(span.id, updated) {
                    Verdict::Skip => cp.stats.duplicates_skipped += 1,
                    Verdict::Write => {
                        let text = page.body.get(span.start..span.end).ok_or_else(|| {
                            SyncError::Decode("an issue's place in its page".into())
                        })?;
                        run.enc.record_text(text, &mut run.pending)?;
                        cp.stats.add_records(ISSUES, 1);
                        written += 1;
                    }
                }
            }
            if limit.is_some_and(|l| written >= l) {
                limit_reached = true;
            }
            ledger.settle();
            cp.search_lower_ms = page.search_lower_ms;
            cp.token = page.next.clone();
            cp.pending_ids = page.rest;
            let last = (page.next.is_none() && cp.pending_ids.is_empty()) || limit_reached;
            if last {
                cp.phase = if spec.deletions {
                    Phase::Deletions
                } else {
                    Phase::Done
                };
                cp.token = None;
                cp.pending_ids.clear();
            }
            cp.position_ms = ledger.position_ms;
            cp.tail = Ledger::sorted(&ledger.tail);
            cp.near = Ledger::sorted(&ledger.near);
            run.checkpoint(&mut cp).await?;
            if last {
                break;
            }
            if job.journal.cancel_requested().await {
                let tail = run.close()?;
                return Ok(ExportOutcome {
                    stats: cp.stats,
                    cursor_after: None,
                    known_ids: None,
                    tail,
                    cancelled: true,
                });
            }
        }
        drop(pages);
    }

    let mut known_ids = None;
    if cp.phase == Phase::Deletions {
        let now = job.clock.now();
        let (known, gone) =
            deletions(&client, spec, job.known_ids, job.journal, job.concurrency).await?;
        let Some(known) = known else {
            let tail = run.close()?;
            return Ok(ExportOutcome {
                stats: cp.stats,
                cursor_after: None,
                known_ids: None,
                tail,
                cancelled: true,
            });
        };
        let detected = now
            .format(&Rfc3339)
            .map_err(|e| SyncError::Decode(format!("the time ({e})")))?;
        for id in gone {
            let record = serde_json::value::to_raw_value(&json!({
                "id": id.to_string(), "deleted": true, "detectedAt": detected
            }))
            .map_err(|e| SyncError::Decode(format!("a deletion record ({e})")))?;
            run.enc.record(&record, &mut run.pending)?;
            cp.stats.add_records(DELETED, 1);
        }
        // No checkpoint here: the deletion records go out with the tail, in the same finishing
        // transaction as the known ids they were computed against. A run killed before that
        // repeats the scan.
        known_ids = Some(known);
    }

    let tail = run.close()?;
    let cursor_after = delta.then(|| DeltaCursor {
        upper_ms: cp.upper_ms,
        boundary: ledger.boundary_after(),
    });
    Ok(ExportOutcome {
        stats: cp.stats,
        cursor_after,
        known_ids,
        tail,
        cancelled: false,
    })
}

/// Writes checkpoints.
struct Writer<'j, 'a> {
    job: &'j ExportJob<'a>,
    meter: &'j RequestMeter,
    /// The counts the run had when this process took it over.
    base: RunStats,
    enc: &'j mut dyn Encoder,
    /// Output not yet checkpointed.
    pending: Vec<u8>,
}

impl Writer<'_, '_> {
    async fn checkpoint(&mut self, cp: &mut IssueCheckpoint) -> Result<(), SyncError> {
        let counts = self.meter.counts();
        cp.stats.requests = self.base.requests + counts.requests;
        cp.stats.retries = self.base.retries + counts.retries;
        cp.stats.rate_limit_waits = self.base.rate_limit_waits + counts.rate_limit_waits;
        cp.stats.rate_limit_wait_ms = self.base.rate_limit_wait_ms + counts.rate_limit_wait_ms;
        cp.stats.bytes += self.pending.len() as u64;
        cp.encoder = self.enc.state();
        let checkpoint = Checkpoint(
            serde_json::to_value(&*cp)
                .map_err(|e| SyncError::Decode(format!("the run's checkpoint ({e})")))?,
        );
        self.job
            .journal
            .checkpoint(&self.pending, &checkpoint, &cp.stats)
            .await?;
        self.pending.clear();
        self.job.progress.advanced(&cp.stats);
        Ok(())
    }

    fn close(&mut self) -> Result<Vec<u8>, SyncError> {
        let mut tail = std::mem::take(&mut self.pending);
        self.enc.finish(&mut tail)?;
        Ok(tail)
    }
}

/// Whether a field list names fields that `/field` must resolve.
fn needs_field_list(fields: &[String]) -> bool {
    fields
        .iter()
        .map(|f| f.trim())
        .any(|f| !f.starts_with('*') && !f.starts_with('-'))
}

/// The fields to ask for: `*all` by default, names turned into ids, and always `updated`
/// (the cursor needs it).
fn resolve_fields(fields: &[String], list: Option<&Vec<Value>>) -> Result<Vec<String>, SyncError> {
    let mut out: Vec<String> = Vec::new();
    for f in fields.iter().map(|f| f.trim()) {
        if f.starts_with('*') {
            out.push(f.to_owned());
            continue;
        }
        if let Some(excluded) = f.strip_prefix('-') {
            if !excluded.eq_ignore_ascii_case("updated") {
                out.push(f.to_owned());
            }
            continue;
        }
        out.push(resolve_field(f, list)?);
    }
    if out.iter().all(|f| f.starts_with('-')) {
        out.insert(0, "*all".into());
    }
    if !out
        .iter()
        .any(|f| f == "updated" || f == "*all" || f == "*navigable")
    {
        out.push("updated".into());
    }
    let mut seen = HashSet::new();
    out.retain(|f| seen.insert(f.clone()));
    Ok(out)
}

fn resolve_field(name: &str, list: Option<&Vec<Value>>) -> Result<String, SyncError> {
    let Some(list) = list else {
        return Ok(name.to_owned());
    };
    let text = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
    if let Some(f) = list
        .iter()
        .find(|f| text(f, "id").as_deref() == Some(name) || text(f, "key").as_deref() == Some(name))
    {
        return Ok(text(f, "id").unwrap_or_else(|| name.to_owned()));
    }
    let by_name: Vec<String> = list
        .iter()
        .filter(|f| text(f, "name").is_some_and(|n| n.trim().eq_ignore_ascii_case(name)))
        .filter_map(|f| text(f, "id"))
        .collect();
    match by_name.as_slice() {
        [one] => Ok(one.clone()),
        [] => Err(SyncError::InvalidSpec(format!(
            "no field is called {name:?}; use a field id or a name from Jira's field list"
        ))),
        many => Err(SyncError::InvalidSpec(format!(
            "several fields are called {name:?} ({}); choose one by id",
            many.join(", ")
        ))),
    }
}

/// The expansions asked for; the embedded changelog is left out when the full one replaces it.
fn expansions(spec: &ExportSpec) -> Vec<String> {
    spec.expand
        .iter()
        .map(|e| e.trim().to_owned())
        .filter(|e| !(spec.full_changelog && e == "changelog"))
        .collect()
}

/// Jira's page caps: 100 with many fields or heavy expansions, 1,000 with a few fields.
fn page_size(fields: &[String], spec: &ExportSpec) -> u32 {
    let heavy_expand = expansions(spec)
        .iter()
        .any(|e| !matches!(e.as_str(), "names" | "schema"));
    if heavy_expand || fields.iter().any(|f| f.starts_with('*')) || fields.len() > 10 {
        HEAVY_PAGE
    } else {
        LIGHT_PAGE
    }
}

/// The page reader: a task that fetches the next page while the writer writes this one.
struct Pages {
    rx: mpsc::Receiver<Result<Page, SyncError>>,
    _task: AbortOnDrop,
}

/// Where the page reader starts.
struct StartAt {
    /// The lower bound of the search.
    lower: Option<i64>,
    /// The page to start at (`None`: the first).
    token: Option<String>,
    /// Where to search again when Jira refuses `token` (`None`: the refusal is an error).
    restart: Option<Option<i64>>,
    /// Parallel mode: ids of an id page to read before `token`'s page.
    pending: Vec<u64>,
}

fn spawn_pages(
    client: JiraClient,
    search: Search,
    mode: Mode,
    from: StartAt,
    enrich: Enrich,
) -> Pages {
    // One page waits in the channel while the next is fetched: two pages in memory at most
    // besides the one being written.
    let (tx, rx) = mpsc::channel(1);
    let task = tokio::spawn(async move {
        let result = match mode {
            Mode::Pages => {
                read_pages(
                    &client,
                    &search,
                    from.lower,
                    from.token,
                    from.restart,
                    enrich,
                    &tx,
                )
                .await
            }
            Mode::Ids => read_id_pages(client, Arc::new(search), from, enrich, &tx).await,
        };
        if let Err(e) = result {
            let _ = tx.send(Err(e)).await;
        }
    });
    Pages {
        rx,
        _task: AbortOnDrop(task),
    }
}

/// Whether Jira refused a page token (it answers 400 for one it no longer honours).
fn token_refused(e: &AtlassianError) -> bool {
    matches!(e, AtlassianError::BadRequest { .. })
}

/// Fetches one page of a search with `read`, from `token` (`None`: the first page). When Jira
/// refuses the token and `restart_at` allows it, searches again from `restart_at` (the writer
/// skips the tail it already wrote): `lower` becomes that position and `token` is cleared. The
/// one place this rule lives, for every search an export pages through. `request` builds the
/// search from a lower bound.
pub(crate) async fn first_or_next<T, Fut>(
    lower: &mut Option<i64>,
    token: &mut Option<String>,
    restart_at: &mut Option<Option<i64>>,
    request: impl Fn(Option<i64>) -> SearchRequest,
    read: impl Fn(SearchRequest, Option<String>) -> Fut,
) -> Result<T, SyncError>
where
    Fut: std::future::Future<Output = Result<T, AtlassianError>>,
{
    match read(request(*lower), token.clone()).await {
        Ok(page) => {
            *restart_at = None;
            Ok(page)
        }
        Err(e) if token.is_some() && token_refused(&e) && restart_at.is_some() => {
            let at = restart_at.take().flatten();
            tracing::info!(
                restart_at = at,
                "jira refused the saved page token; searching again from the last position"
            );
            *lower = at;
            *token = None;
            Ok(read(request(*lower), None).await?)
        }
        Err(e) => Err(e.into()),
    }
}

async fn read_pages(
    client: &JiraClient,
    search: &Search,
    mut lower: Option<i64>,
    mut token: Option<String>,
    mut restart: Option<Option<i64>>,
    enrich: Enrich,
    tx: &mpsc::Sender<Result<Page, SyncError>>,
) -> Result<(), SyncError> {
    let mut seen = HashSet::new();
    // Issues change only when page-level names or schema are merged in, or when they are
    // enriched.
    let as_received = !enrich.any()
        && !search
            .expand
            .iter()
            .any(|e| matches!(e.as_str(), "names" | "schema"));
    loop {
        let bytes = first_or_next(
            &mut lower,
            &mut token,
            &mut restart,
            |lower| search.request(Mode::Pages, lower),
            |request, token| async move {
                client
                    .search_jql_page_bytes(&request, token.as_deref())
                    .await
            },
        )
        .await?;
        let body = String::from_utf8(bytes)
            .map_err(|_| SyncError::Decode("a search page Jira sent (not UTF-8)".into()))?;
        // The common case: the page goes out as received, and the writer scans it while the
        // next page is fetched.
        if as_received && let Some(next) = tail_continuation(&body) {
            if let Some(n) = &next
                && !seen.insert(n.clone())
            {
                return Err(SyncError::Decode(
                    "the issue pages: Jira pointed back to a page already read".into(),
                ));
            }
            let done = next.is_none();
            token.clone_from(&next);
            let page = Page {
                body,
                spans: None,
                next,
                rest: Vec::new(),
                search_lower_ms: lower,
                vanished: 0,
            };
            if tx.send(Ok(page)).await.is_err() || done {
                return Ok(());
            }
            continue;
        }
        let scanned = scan_page(&body)?;
        let next = next_page(scanned.is_last, scanned.next_page_token)?;
        if let Some(n) = &next
            && !seen.insert(n.clone())
        {
            return Err(SyncError::Decode(
                "the issue pages: Jira pointed back to a page already read".into(),
            ));
        }
        let slice = |(a, z): (usize, usize)| {
            body.get(a..z)
                .ok_or_else(|| SyncError::Decode("a search page's member".into()))
                .and_then(|t| {
                    RawValue::from_string(t.to_owned())
                        .map_err(|e| SyncError::Decode(format!("a search page ({e})")))
                })
        };
        let names = scanned.names.map(slice).transpose()?;
        let schema = scanned.schema.map(slice).transpose()?;
        // The common case goes out as received; only a page whose issues change (page-level
        // names and schema added, changelogs, comments, worklogs) is rebuilt.
        let mut vanished = 0;
        let (body, spans) = if names.is_none() && schema.is_none() && !enrich.any() {
            (body, scanned.spans)
        } else {
            let mut members: Vec<(&str, &RawValue)> = Vec::new();
            if let Some(names) = &names {
                members.push(("names", names));
            }
            if let Some(schema) = &schema {
                members.push(("schema", schema));
            }
            let records = scanned
                .spans
                .iter()
                .map(|span| {
                    let text = body
                        .get(span.start..span.end)
                        .ok_or_else(|| SyncError::Decode("an issue's place in its page".into()))?;
                    let raw = RawValue::from_string(text.to_owned())
                        .map_err(|e| SyncError::Decode(format!("an issue Jira sent ({e})")))?;
                    with_members(raw, &members)
                })
                .collect::<Result<Vec<_>, _>>()?;
            let (records, gone) = enrich_records(client, enrich, records).await?;
            vanished = gone;
            joined(&records)?
        };
        let done = next.is_none();
        token.clone_from(&next);
        let page = Page {
            body,
            spans: Some(spans),
            next,
            rest: Vec::new(),
            search_lower_ms: lower,
            vanished,
        };
        if tx.send(Ok(page)).await.is_err() || done {
            return Ok(());
        }
    }
}

/// Records put into one text, with their spans.
fn joined(records: &[Box<RawValue>]) -> Result<(String, Vec<Span>), SyncError> {
    let mut body = String::with_capacity(records.iter().map(|r| r.get().len()).sum());
    let mut spans = Vec::with_capacity(records.len());
    for raw in records {
        let h = head(raw)?;
        let start = body.len();
        body.push_str(raw.get());
        spans.push(Span {
            start,
            end: body.len(),
            id: h.id,
            updated_ms: h.updated_ms,
        });
    }
    Ok((body, spans))
}

/// Id-only pages, hydrated through `issue/bulkfetch` with up to `enrich.concurrency` calls in
/// flight across page boundaries; each page's issues come out in the page's order.
async fn read_id_pages(
    client: JiraClient,
    search: Arc<Search>,
    from: StartAt,
    enrich: Enrich,
    tx: &mpsc::Sender<Result<Page, SyncError>>,
) -> Result<(), SyncError> {
    struct IdState {
        lower: Option<i64>,
        token: Option<String>,
        restart: Option<Option<i64>>,
        /// The rest of an id page a resumed run starts with.
        pending: Option<Vec<u64>>,
        seen: HashSet<String>,
        done: bool,
    }
    let state = IdState {
        lower: from.lower,
        token: from.token,
        restart: from.restart,
        pending: (!from.pending.is_empty()).then_some(from.pending),
        seen: HashSet::new(),
        done: false,
    };
    let (c, s) = (client.clone(), Arc::clone(&search));
    let id_pages = stream::try_unfold(state, move |mut st| {
        let (client, search) = (c.clone(), Arc::clone(&s));
        async move {
            if st.done {
                return Ok(None);
            }
            if let Some(ids) = st.pending.take() {
                // Its id page led to the saved token (none: it was the last).
                let next = st.token.clone();
                if let Some(n) = &next {
                    st.seen.insert(n.clone());
                }
                st.done = next.is_none();
                let lower = st.lower;
                return Ok(Some(((ids, next, lower), st)));
            }
            let page = first_or_next(
                &mut st.lower,
                &mut st.token,
                &mut st.restart,
                |lower| search.request(Mode::Ids, lower),
                |request, token| {
                    let client = &client;
                    async move { client.search_jql_page_raw(&request, token.as_deref()).await }
                },
            )
            .await?;
            let ids = page
                .issues
                .iter()
                .map(|raw| head(raw).map(|h| h.id))
                .collect::<Result<Vec<u64>, _>>()?;
            let next = page.next_page_token;
            if let Some(n) = &next
                && !st.seen.insert(n.clone())
            {
                return Err(SyncError::Decode(
                    "the issue pages: Jira pointed back to a page already read".into(),
                ));
            }
            st.done = next.is_none();
            st.token.clone_from(&next);
            let lower = st.lower;
            Ok::<_, SyncError>(Some(((ids, next, lower), st)))
        }
    });
    // The id pages are read ahead by their own task, so a bulk fetch never waits for the next
    // id page: under latency that wait would cost one round trip per page.
    let (page_tx, page_rx) = mpsc::channel(2);
    let reader = AbortOnDrop(tokio::spawn(async move {
        let mut id_pages = std::pin::pin!(id_pages);
        loop {
            let next = id_pages.next().await;
            let end = !matches!(next, Some(Ok(_)));
            let Some(item) = next else { return };
            if page_tx.send(item).await.is_err() || end {
                return;
            }
        }
    }));
    let id_pages = stream::unfold(page_rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    let batches = id_pages
        .map_ok(|(ids, next, lower)| {
            let chunks: Vec<Vec<u64>> = if ids.is_empty() {
                vec![Vec::new()]
            } else {
                ids.chunks(BULK).map(<[u64]>::to_vec).collect()
            };
            let n = chunks.len();
            let ids = Arc::new(ids);
            stream::iter(chunks.into_iter().enumerate().map(move |(i, chunk)| {
                // What a checkpoint after this part keeps of the id page: the ids after it.
                let rest = ids.get((i + 1) * BULK..).unwrap_or_default().to_vec();
                debug_assert_eq!(rest.is_empty(), i + 1 == n);
                Ok::<_, SyncError>((chunk, lower, next.clone(), rest))
            }))
        })
        .try_flatten();
    let hydrated = batches
        .map(|item| {
            let (client, search) = (client.clone(), Arc::clone(&search));
            // A task per bulk fetch: decoding the answers then uses every core.
            // An error of the id pages keeps its place in the queue, behind the fetches before
            // it: those are written first (a resumed run's pending ids among them).
            let task = item.map(|(ids, lower, next, rest)| {
                AbortOnDrop(tokio::spawn(async move {
                    let (body, spans, vanished) = hydrate(&client, &search, &ids).await?;
                    if !enrich.any() {
                        return Ok::<_, SyncError>((body, spans, vanished, lower, next, rest));
                    }
                    let records = split(&body, &spans)?;
                    drop(body);
                    let (records, gone) = enrich_records(&client, enrich, records).await?;
                    let (body, spans) = joined(&records)?;
                    Ok((body, spans, vanished + gone, lower, next, rest))
                }))
            });
            async move {
                let mut task = task?;
                (&mut task.0).await.map_err(|e| {
                    SyncError::Decode(format!("a bulk fetch stopped unexpectedly ({e})"))
                })?
            }
        })
        .buffered((enrich.concurrency * 2).min(MAX_HYDRATING));
    futures::pin_mut!(hydrated);
    // One page per bulk fetch, so the writer checkpoints as often as with full pages and holds
    // no more than one id page's share at a time.
    while let Some(item) = hydrated.next().await {
        let (body, spans, vanished, lower, next, rest) = item?;
        let done = next.is_none() && rest.is_empty();
        let page = Page {
            body,
            spans: Some(spans),
            rest,
            next,
            search_lower_ms: lower,
            vanished,
        };
        if tx.send(Ok(page)).await.is_err() || done {
            return Ok(());
        }
    }
    drop(reader);
    Ok(())
}

/// The issues `ids` in that order (bulk fetch answers by ascending id), as one text with
/// their spans, and how many of `ids` vanished. An id the answer lacks is asked for once more
/// (Jira may have dropped it from a large answer); one still missing was deleted or hidden
/// since the id page was read: it is counted and logged, never dropped silently. An
/// `issueErrors` entry other than "does not exist or no permission" fails the run with Jira's
/// message. Each answer is scanned once; no issue is parsed.
async fn hydrate(
    client: &JiraClient,
    search: &Search,
    ids: &[u64],
) -> Result<(String, Vec<Span>, u64), SyncError> {
    if ids.is_empty() {
        return Ok((String::new(), Vec::new(), 0));
    }
    let fetch = |ids: &[u64]| {
        let request = BulkFetchRequest {
            issue_ids_or_keys: ids.iter().map(u64::to_string).collect(),
            fields: search.fields.clone(),
            expand: search.expand.clone(),
            ..BulkFetchRequest::default()
        };
        async move { bulk_fetch(client, &request).await }
    };
    let with_ids = |spans: Vec<Span>, answer: usize| {
        spans.into_iter().map(move |span| (span.id, (answer, span)))
    };
    let (body, spans, errors) = fetch(ids).await?;
    let mut first = bulk::account(ids, with_ids(spans, 0), &errors)?;
    let mut bodies = vec![body];
    let mut vanished = Vec::new();
    if !first.absent.is_empty() {
        let (body, spans, errors) = fetch(&first.absent).await?;
        let again = bulk::account(&first.absent, with_ids(spans, 1), &errors)?;
        bodies.push(body);
        first.found.extend(again.found);
        vanished = again.absent;
    }
    if !vanished.is_empty() {
        tracing::warn!(
            count = vanished.len(),
            ids = ?vanished,
            "issues listed by the id page were gone when read in full (deleted or hidden meanwhile)"
        );
    }
    let mut out = String::with_capacity(bodies.iter().map(String::len).sum());
    let mut spans = Vec::with_capacity(ids.len());
    for (answer, span) in ids.iter().filter_map(|id| first.found.remove(id)) {
        let text = bodies[answer]
            .get(span.start..span.end)
            .ok_or_else(|| SyncError::Decode("an issue's place in its answer".into()))?;
        let start = out.len();
        out.push_str(text);
        spans.push(Span {
            start,
            end: out.len(),
            ..span
        });
    }
    Ok((out, spans, vanished.len() as u64))
}

/// One `issue/bulkfetch` answer as Jira sent it, scanned: its text, its issues' spans and its
/// `issueErrors` entries.
async fn bulk_fetch(
    client: &JiraClient,
    request: &BulkFetchRequest,
) -> Result<(String, Vec<Span>, Vec<Value>), SyncError> {
    let bytes = client.issue_bulkfetch_bytes(request).await?;
    let body = String::from_utf8(bytes)
        .map_err(|_| SyncError::Decode("a bulk fetch answer Jira sent (not UTF-8)".into()))?;
    let (spans, errors) = scan_bulk(&body)?;
    Ok((body, spans, errors))
}

/// The records of a text with spans, one [`RawValue`] each (for enrichment).
fn split(body: &str, spans: &[Span]) -> Result<Vec<Box<RawValue>>, SyncError> {
    spans
        .iter()
        .map(|span| {
            let text = body
                .get(span.start..span.end)
                .ok_or_else(|| SyncError::Decode("an issue's place in its page".into()))?;
            RawValue::from_string(text.to_owned())
                .map_err(|e| SyncError::Decode(format!("an issue Jira sent ({e})")))
        })
        .collect()
}

/// Adds the complete changelog, all comments and all worklogs to each issue, as asked, and
/// says how many issues vanished: an issue whose comments or worklogs Jira answers 404 for
/// was deleted (or hidden) since it was read; it is left out, counted and logged.
async fn enrich_records(
    client: &JiraClient,
    enrich: Enrich,
    records: Vec<Box<RawValue>>,
) -> Result<(Vec<Box<RawValue>>, u64), SyncError> {
    if !enrich.any() || records.is_empty() {
        return Ok((records, 0));
    }
    let mut issues = records
        .iter()
        .map(|raw| {
            serde_json::from_str::<Map<String, Value>>(raw.get())
                .map_err(|e| SyncError::Decode(format!("an issue Jira sent ({e})")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    drop(records);
    let ids: Vec<String> = issues
        .iter()
        .map(|i| match i.get("id") {
            Some(Value::String(s)) => s.clone(),
            other => other.map(ToString::to_string).unwrap_or_default(),
        })
        .collect();
    if enrich.full_changelog {
        let mut histories: HashMap<String, Vec<Value>> = HashMap::new();
        for chunk in ids.chunks(CHANGELOG_BULK) {
            let request = ChangelogRequest {
                issue_ids_or_keys: chunk.to_vec(),
                ..ChangelogRequest::default()
            };
            let mut logs = std::pin::pin!(client.changelog_bulkfetch(request));
            while let Some(log) = logs.try_next().await? {
                histories
                    .entry(log.issue_id)
                    .or_default()
                    .extend(log.change_histories);
            }
        }
        for (issue, id) in issues.iter_mut().zip(&ids) {
            let list = histories.remove(id).unwrap_or_default();
            let n = list.len();
            issue.insert(
                "changelog".into(),
                json!({"startAt": 0, "maxResults": n, "total": n, "histories": list}),
            );
        }
    }
    let mut gone: BTreeSet<usize> = BTreeSet::new();
    for (wanted, member, list_name) in [
        (enrich.comments, "comment", "comments"),
        (enrich.worklogs, "worklog", "worklogs"),
    ] {
        if !wanted {
            continue;
        }
        // Owned inputs: the stream runs inside a spawned task.
        let lists: Vec<Option<RecordList>> = ids
            .iter()
            .enumerate()
            .map(|(i, id)| {
                (!gone.contains(&i)).then(|| {
                    if member == "comment" {
                        RecordList::Comments { issue: id.clone() }
                    } else {
                        RecordList::Worklogs { issue: id.clone() }
                    }
                })
            })
            .collect();
        let all: Vec<Option<Vec<Box<RawValue>>>> = stream::iter(lists.into_iter().map(|list| {
            let client = client.clone();
            async move {
                match list {
                    Some(list) => client.record_list_all(&list).await,
                    None => Ok(None),
                }
            }
        }))
        .buffered(enrich.concurrency)
        .try_collect()
        .await?;
        for (i, (issue, list)) in issues.iter_mut().zip(all).enumerate() {
            let Some(list) = list else {
                gone.insert(i);
                continue;
            };
            let n = list.len();
            if let Some(fields) = fields_of(issue) {
                fields.insert(
                    member.into(),
                    json!({list_name: list, "startAt": 0, "maxResults": n, "total": n}),
                );
            }
        }
    }
    if !gone.is_empty() {
        let vanished: Vec<&str> = gone
            .iter()
            .filter_map(|i| ids.get(*i))
            .map(String::as_str)
            .collect();
        tracing::warn!(
            count = vanished.len(),
            ids = ?vanished,
            "issues were gone when their comments or worklogs were read (deleted or hidden meanwhile)"
        );
    }
    let records = issues
        .iter()
        .enumerate()
        .filter(|(i, _)| !gone.contains(i))
        .map(|(_, issue)| {
            serde_json::value::to_raw_value(issue)
                .map_err(|e| SyncError::Decode(format!("an issue ({e})")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok((records, gone.len() as u64))
}

fn fields_of(issue: &mut Map<String, Value>) -> Option<&mut Map<String, Value>> {
    let fields = issue
        .entry("fields")
        .or_insert_with(|| Value::Object(Map::new()));
    if !fields.is_object() {
        *fields = Value::Object(Map::new());
    }
    fields.as_object_mut()
}

/// The deletion check: every id the JQL matches now (id-only pages, no time bounds), and the
/// known ids that are gone — those `issue/bulkfetch` no longer returns, each confirmed by
/// `GET /issue/{id}` answering 404 — so an issue that merely left the JQL (moved, edited) is
/// not reported, nor one bulk fetch left out for another reason. `None` when the user
/// cancelled.
async fn deletions(
    client: &JiraClient,
    spec: &ExportSpec,
    previous: Option<&KnownIds>,
    journal: &dyn crate::journal::RunJournal,
    concurrency: usize,
) -> Result<(Option<KnownIds>, Vec<u64>), SyncError> {
    let jql = match spec.user_jql() {
        Some(user) => format!("({user}) ORDER BY id ASC"),
        None => "updated >= 0 ORDER BY id ASC".to_owned(),
    };
    let request = SearchRequest {
        jql,
        fields: vec!["id".into()],
        max_results: Some(SCAN_PAGE),
        ..SearchRequest::default()
    };
    let mut ids = Vec::new();
    let mut token: Option<String> = None;
    let mut seen = HashSet::new();
    loop {
        let page = client
            .search_jql_page_raw(&request, token.as_deref())
            .await?;
        for raw in &page.issues {
            ids.push(head(raw)?.id);
        }
        match page.next_page_token {
            None => break,
            Some(next) => {
                if !seen.insert(next.clone()) {
                    return Err(SyncError::Decode(
                        "the id scan: Jira pointed back to a page already read".into(),
                    ));
                }
                token = Some(next);
            }
        }
        if journal.cancel_requested().await {
            return Ok((None, Vec::new()));
        }
    }
    let known = KnownIds::new(ids);
    let Some(previous) = previous else {
        return Ok((Some(known), Vec::new()));
    };
    let missing: Vec<u64> = previous
        .ids()
        .iter()
        .copied()
        .filter(|id| !known.contains(*id))
        .collect();
    let mut candidates = Vec::new();
    for chunk in missing.chunks(BULK) {
        let request = BulkFetchRequest {
            issue_ids_or_keys: chunk.iter().map(u64::to_string).collect(),
            fields: vec!["id".into()],
            ..BulkFetchRequest::default()
        };
        let (_, spans, errors) = bulk_fetch(client, &request).await?;
        let found = spans.into_iter().map(|span| (span.id, ()));
        candidates.extend(bulk::account(chunk, found, &errors)?.absent);
    }
    // Bulk fetch leaves out an issue the account may not see as well as a deleted one; each
    // candidate is confirmed with a single read, whose 404 is the only answer that counts.
    let confirmed: Vec<Option<u64>> = stream::iter(candidates.into_iter().map(|id| async move {
        match client.issue_get(&id.to_string(), &["id"]).await {
            Ok(_) => Ok(None),
            Err(AtlassianError::NotFound { .. }) => Ok(Some(id)),
            Err(e) => Err(SyncError::from(e)),
        }
    }))
    .buffered(concurrency.max(1))
    .try_collect()
    .await?;
    let gone = confirmed.into_iter().flatten().collect();
    Ok((Some(known), gone))
}

#[cfg(test)]
mod tests {
    use pretty_assertions::assert_eq;

    use super::*;

    #[test]
    fn jql_is_bounded_in_epoch_milliseconds() {
        assert_eq!(
            bounded_jql(Some("project = ED OR project = X"), Some(5), 9),
            "(project = ED OR project = X) AND updated >= 5 AND updated <= 9 ORDER BY updated ASC, key ASC"
        );
        assert_eq!(
            bounded_jql(None, None, 9),
            "updated <= 9 ORDER BY updated ASC, key ASC"
        );
    }

    #[test]
    fn fields_default_to_all_and_always_carry_updated() {
        let list = vec![
            json!({"id": "summary", "key": "summary", "name": "Summary"}),
            json!({"id": "customfield_10010", "key": "customfield_10010", "name": "Story Points"}),
            json!({"id": "customfield_10011", "name": "Team"}),
            json!({"id": "customfield_10012", "name": "Team"}),
        ];
        let f = |names: &[&str]| {
            let names: Vec<String> = names.iter().map(|s| (*s).to_owned()).collect();
            resolve_fields(&names, Some(&list))
        };
        assert_eq!(f(&[]).unwrap(), ["*all"]);
        assert_eq!(f(&["-updated", "-summary"]).unwrap(), ["*all", "-summary"]);
        assert_eq!(
            f(&["summary", "story points"]).unwrap(),
            ["summary", "customfield_10010", "updated"]
        );
        assert!(
            matches!(f(&["Team"]), Err(SyncError::InvalidSpec(m)) if m.contains("customfield_10011, customfield_10012"))
        );
        assert!(matches!(f(&["Nope"]), Err(SyncError::InvalidSpec(_))));
        assert!(!needs_field_list(&["*all".into(), "-x".into()]));
        assert!(needs_field_list(&["Team".into()]));
    }

    #[test]
    fn ledger_skips_the_boundary_and_keeps_the_near_top() {
        let mut l = Ledger::new(1_000, 100, [(1, 950)]);
        assert_eq!(l.see(1, 950), Verdict::Skip);
        assert_eq!(l.see(2, 960), Verdict::Write);
        assert_eq!(l.see(2, 960), Verdict::Skip);
        assert_eq!(l.see(3, 1_500), Verdict::Write, "changed during the run");
        l.settle();
        assert_eq!(l.position_ms, Some(960));
        assert_eq!(
            l.boundary_after(),
            [("1".into(), 950), ("2".into(), 960), ("3".into(), 1_500)]
        );
    }

    /// One run of the model: what it writes, and its cursor.
    fn model_run(
        current: &mut [i64],
        now: &mut i64,
        cursor: Option<&DeltaCursor>,
        during: &[usize],
        written: &mut Vec<(u64, i64)>,
    ) -> DeltaCursor {
        let (lag, overlap) = (60_000, 300_000);
        let upper = *now - lag;
        let lower = cursor.map(|c| c.upper_ms - overlap);
        // The search's snapshot: what is indexed in the bounds at the start, by update time.
        let mut snapshot: Vec<(i64, u64)> = current
            .iter()
            .enumerate()
            .filter(|(_, u)| lower.is_none_or(|l| **u >= l) && **u <= upper)
            .map(|(i, u)| (*u, i as u64))
            .collect();
        snapshot.sort_unstable();
        // Writes while the run reads: those issues are served in their new version.
        for &i in during {
            *now += 1;
            current[i % current.len()] = *now;
        }
        let boundary = cursor
            .map(|c| {
                c.boundary
                    .iter()
                    .map(|(id, u)| (id.parse::<u64>().unwrap(), *u))
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default();
        let mut ledger = Ledger::new(upper, overlap, boundary);
        for (_, id) in snapshot {
            let served = current[id as usize];
            if ledger.see(id, served) == Verdict::Write {
                written.push((id, served));
            }
            ledger.settle();
        }
        DeltaCursor {
            upper_ms: upper,
            boundary: ledger.boundary_after(),
        }
    }

    proptest::proptest! {
        /// Over any sequence of delta runs, with writes between and during them, no version is
        /// written twice and every issue's latest version is written.
        #[test]
        fn delta_runs_write_each_version_at_most_once_and_the_latest_always(
            issues in 1usize..12,
            rounds in proptest::collection::vec(
                (0i64..900_000, proptest::collection::vec(0usize..12, 0..4), proptest::collection::vec(0usize..12, 0..4)),
                1..8,
            ),
        ) {
            let mut now = 10_000_000i64;
            let mut current: Vec<i64> = (0..issues as i64).map(|i| 1_000_000 + i * 1_000).collect();
            let mut written = Vec::new();
            let mut cursor = None;
            for (step, before, during) in &rounds {
                for &i in before {
                    now += 1 + step / 4;
                    current[i % issues] = now;
                }
                now += step;
                cursor = Some(model_run(&mut current, &mut now, cursor.as_ref(), during, &mut written));
            }
            now += 1_000_000;
            model_run(&mut current, &mut now, cursor.as_ref(), &[], &mut written);

            let unique: HashSet<&(u64, i64)> = written.iter().collect();
            proptest::prop_assert_eq!(unique.len(), written.len(), "a version written twice: {:?}", written);
            for (id, updated) in current.iter().enumerate() {
                proptest::prop_assert!(
                    written.contains(&(id as u64, *updated)),
                    "issue {} version {} never written: {:?}", id, updated, written
                );
            }
        }
    }
}
