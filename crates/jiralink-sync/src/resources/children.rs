//! Comments, worklogs and changelogs of the issues a JQL selects.
//!
//! The issues are found with the issue export's bounded search (`(<jql>) AND updated >= lower
//! AND updated <= upper ORDER BY updated ASC, key ASC`, ids and `updated` only, 100 a page);
//! for each page the issues' records are read (comments and worklogs with up to the
//! connection's concurrency level of issues at once, changelogs through
//! `changelog/bulkfetch`), written in the page's issue order, and the page is checkpointed.
//!
//! Records: a comment with `issueId` and `issueKey` added; a worklog as Jira sends it (it
//! carries `issueId`); a change group (`id`, `author`, `created`, `items`) with `issueId` and
//! `issueKey` added. Customer requests chosen by JQL are read the same way: the JQL's issues,
//! then `GET /servicedeskapi/request/{issue}` for each (issues that are no request are left
//! out).
//!
//! **Delta** runs read the issues updated since the last run (adding a comment, a worklog or a
//! change updates the issue) and write the records whose own time (`updated` of comments and
//! worklogs, `created` of change groups) is at or after the lower bound, skipping those the
//! last run wrote (its boundary, by `(id, time)`). Worklog deltas use Jira's own change feed
//! instead ([`worklog_delta`]), which also reports deleted worklogs.

use std::{
    borrow::Cow,
    collections::{BTreeSet, HashMap, HashSet},
};

use futures::{StreamExt as _, TryStreamExt as _, stream};
use jiralink_atlassian::{
    ChangelogRequest, JiraClient, PageAt, RecordList, SearchRequest, WorklogChangeKind,
    records::WORKLOG_IDS_PER_CALL,
};
use serde::Deserialize;
use serde_json::{Value, json, value::RawValue};

use super::{Flow, Pos, Sink, raw, with_fields};
use crate::{
    cursor::DeltaCursor,
    engine::ExportOutcome,
    error::SyncError,
    issues::{bounded_jql, first_or_next},
    light::{head, parse_jira_time, unix_ms},
    spec::{ExportKind, Resource},
};

/// Issues per search page.
const ISSUE_PAGE: u32 = 100;
/// The stats key of deleted worklogs.
const DELETED: &str = "deleted";

/// Which records of an issue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Child {
    Comments,
    Worklogs,
    Changelogs,
    /// Customer requests chosen by JQL: `GET /request/{issue}` of each issue that is one.
    Requests,
}

impl Child {
    fn of(resource: Resource) -> Self {
        match resource {
            Resource::Worklogs => Self::Worklogs,
            Resource::Changelogs => Self::Changelogs,
            Resource::CustomerRequests => Self::Requests,
            _ => Self::Comments,
        }
    }

    /// The field holding a record's own time.
    fn time_field(self) -> &'static str {
        match self {
            Self::Changelogs | Self::Requests => "created",
            Self::Comments | Self::Worklogs => "updated",
        }
    }
}

/// Dedupe against the last run's boundary and the next run's boundary.
#[derive(Debug, Default)]
struct Ledger {
    lower_ms: Option<i64>,
    near_from_ms: i64,
    boundary: HashSet<(u64, i64)>,
    near: BTreeSet<(u64, i64)>,
}

impl Ledger {
    /// Whether to write a record `(id, ms)`; remembers it for the next boundary.
    fn write(&mut self, id: u64, ms: i64) -> bool {
        if self.lower_ms.is_some_and(|l| ms < l) {
            return false;
        }
        if ms >= self.near_from_ms {
            self.near.insert((id, ms));
        }
        !self.boundary.contains(&(id, ms))
    }

    fn boundary_after(&self) -> Vec<(String, i64)> {
        let all: BTreeSet<(u64, i64)> = self
            .near
            .iter()
            .chain(self.boundary.iter())
            .filter(|(_, ms)| *ms >= self.near_from_ms)
            .copied()
            .collect();
        all.into_iter()
            .map(|(id, ms)| (id.to_string(), ms))
            .collect()
    }
}

#[derive(Deserialize)]
struct ChildHead<'a> {
    #[serde(borrow)]
    id: Cow<'a, str>,
    #[serde(borrow, default)]
    updated: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    created: Option<Cow<'a, str>>,
}

/// A record's numeric id and its time in epoch ms.
fn child_head(record: &RawValue, child: Child) -> Result<(u64, i64), SyncError> {
    let h: ChildHead<'_> = serde_json::from_str(record.get())
        .map_err(|e| SyncError::Decode(format!("a record Jira sent ({e})")))?;
    let id =
        h.id.parse::<u64>()
            .map_err(|_| SyncError::Decode(format!("the record id {:?}", h.id)))?;
    let time = match child {
        Child::Changelogs | Child::Requests => h.created,
        Child::Comments | Child::Worklogs => h.updated.or(h.created),
    };
    let ms = time.as_deref().and_then(parse_jira_time).ok_or_else(|| {
        SyncError::Decode(format!("the {} time of record {id}", child.time_field()))
    })?;
    Ok((id, ms))
}

/// Decides the run's bounds, once.
fn plan(sink: &Sink<'_, '_>, pos: &mut Pos) {
    if pos.planned {
        return;
    }
    let job = sink.job();
    let spec = job.spec;
    let delta = matches!(spec.kind, ExportKind::Delta { .. });
    let now_ms = unix_ms(job.clock.now());
    let upper_ms = if delta {
        now_ms.saturating_sub(spec.lag_ms())
    } else {
        now_ms
    };
    let lower_ms = match (spec.kind, job.cursor) {
        (ExportKind::Delta { .. }, Some(cursor)) => {
            Some(cursor.upper_ms.saturating_sub(spec.overlap_ms()))
        }
        (ExportKind::Delta { start: Some(start) }, None) => Some(unix_ms(start)),
        _ => None,
    };
    pos.upper_ms = Some(upper_ms);
    pos.lower_ms = lower_ms;
    pos.search_lower_ms = lower_ms;
    pos.planned = true;
}

fn ledger_for(sink: &Sink<'_, '_>, pos: &Pos, upper_ms: i64) -> Ledger {
    let job = sink.job();
    let delta = matches!(job.spec.kind, ExportKind::Delta { .. });
    let boundary = match (delta, job.cursor) {
        (true, Some(cursor)) => cursor
            .boundary
            .iter()
            .filter_map(|(id, ms)| id.parse::<u64>().ok().map(|id| (id, *ms)))
            .collect(),
        _ => HashSet::new(),
    };
    Ledger {
        lower_ms: pos.lower_ms,
        near_from_ms: upper_ms.saturating_sub(job.spec.overlap_ms()),
        boundary,
        near: pos.near.iter().copied().collect(),
    }
}

/// Runs a comments, worklogs or changelogs export from `pos`.
pub(crate) async fn run(
    client: &JiraClient,
    mut sink: Sink<'_, '_>,
    mut pos: Pos,
) -> Result<ExportOutcome, SyncError> {
    let spec = sink.job().spec;
    let delta = matches!(spec.kind, ExportKind::Delta { .. });
    let child = Child::of(spec.resource);
    plan(&sink, &mut pos);
    if child == Child::Worklogs && delta {
        return worklog_delta(client, sink, pos).await;
    }
    let upper_ms = pos.upper_ms.unwrap_or_default();
    let mut ledger = ledger_for(&sink, &pos, upper_ms);
    let user = spec.user_jql().map(str::to_owned);
    let concurrency = sink.job().concurrency.max(1);
    let kind = spec.resource.as_str();
    let mut tail: HashSet<u64> = pos.tail.iter().copied().collect();
    while !pos.done {
        let request = SearchRequest {
            jql: bounded_jql(user.as_deref(), pos.search_lower_ms, upper_ms),
            fields: vec!["updated".into()],
            max_results: Some(ISSUE_PAGE),
            ..SearchRequest::default()
        };
        // After a refused saved token: search again from the last position and leave out the
        // issues already written there.
        let mut restart = Some(pos.position_ms.or(pos.search_lower_ms));
        let page =
            first_or_next(
                &mut pos.search_lower_ms,
                &mut pos.token,
                &mut restart,
                |lower| SearchRequest {
                    jql: bounded_jql(user.as_deref(), lower, upper_ms),
                    ..request.clone()
                },
                |request, token| async move {
                    client.search_jql_page_raw(&request, token.as_deref()).await
                },
            )
            .await?;
        let mut issues = Vec::with_capacity(page.issues.len());
        for issue in &page.issues {
            let h = head(issue)?;
            let updated = h.updated_ms.unwrap_or(i64::MIN);
            if pos.position_ms == Some(updated) && tail.contains(&h.id) {
                sink.stats_mut().duplicates_skipped += 1;
                continue;
            }
            if updated <= upper_ms {
                if pos.position_ms != Some(updated) {
                    tail.clear();
                }
                pos.position_ms = Some(pos.position_ms.map_or(updated, |p| p.max(updated)));
                tail.insert(h.id);
            }
            issues.push((h.id.to_string(), h.key.unwrap_or_default()));
        }
        let (found, vanished) = read_children(client, child, &issues, concurrency).await?;
        sink.stats_mut().vanished += vanished;
        let mut records = Vec::with_capacity(found.len());
        for record in found {
            // Customer requests have no delta, so nothing to weigh them against.
            if child == Child::Requests {
                records.push(record);
                continue;
            }
            let (id, ms) = child_head(&record, child)?;
            if ledger.write(id, ms) {
                records.push(record);
            } else {
                sink.stats_mut().duplicates_skipped += 1;
            }
        }
        pos.token = page.next_page_token;
        pos.done = pos.token.is_none();
        pos.tail = tail.iter().copied().collect();
        pos.near = ledger.near.iter().copied().collect();
        match sink.page(&records, kind, &pos).await? {
            Flow::Continue => {}
            Flow::Full => break,
            Flow::Cancelled => return sink.outcome(None, true),
        }
    }
    let cursor = delta.then(|| DeltaCursor {
        upper_ms,
        boundary: ledger.boundary_after(),
    });
    sink.outcome(cursor, false)
}

/// The records of `issues` (`(id, key)`), in their order, and how many of the issues were
/// gone when their comments or worklogs were read ([`RunStats::vanished`]).
///
/// [`RunStats::vanished`]: crate::stats::RunStats::vanished
async fn read_children(
    client: &JiraClient,
    child: Child,
    issues: &[(String, String)],
    concurrency: usize,
) -> Result<(Vec<Box<RawValue>>, u64), SyncError> {
    if issues.is_empty() {
        return Ok((Vec::new(), 0));
    }
    if child == Child::Changelogs {
        let keys: HashMap<&str, &str> = issues
            .iter()
            .map(|(id, key)| (id.as_str(), key.as_str()))
            .collect();
        let logs: Vec<_> = client
            .changelog_bulkfetch(ChangelogRequest {
                issue_ids_or_keys: issues.iter().map(|(id, _)| id.clone()).collect(),
                ..ChangelogRequest::default()
            })
            .try_collect()
            .await?;
        // An issue's changes may span pages: gather them per issue, in the issues' order.
        let mut by_issue: HashMap<String, Vec<Value>> = HashMap::new();
        for log in logs {
            by_issue
                .entry(log.issue_id)
                .or_default()
                .extend(log.change_histories);
        }
        let mut out = Vec::new();
        for (id, _) in issues {
            for history in by_issue.remove(id).unwrap_or_default() {
                let key = keys.get(id.as_str()).copied().unwrap_or("");
                out.push(with_fields(
                    &raw(&history)?,
                    &[("issueId", id), ("issueKey", key)],
                )?);
            }
        }
        return Ok((out, 0));
    }
    if child == Child::Requests {
        let found: Vec<Option<Box<RawValue>>> = stream::iter(issues.iter().cloned())
            .map(|(id, _)| async move { client.customer_request(&id).await })
            .buffered(concurrency)
            .try_collect()
            .await?;
        return Ok((found.into_iter().flatten().collect(), 0));
    }
    let per_issue: Vec<Option<Vec<Box<RawValue>>>> = stream::iter(issues.iter().cloned())
        .map(|(id, key)| async move {
            let list = match child {
                Child::Worklogs => RecordList::Worklogs { issue: id.clone() },
                _ => RecordList::Comments { issue: id.clone() },
            };
            // `None`: deleted (or hidden) since the search listed it; skipped and counted.
            let Some(records) = client.record_list_all(&list).await? else {
                return Ok::<_, SyncError>(None);
            };
            let records = match child {
                Child::Comments => records
                    .iter()
                    .map(|r| with_fields(r, &[("issueId", &id), ("issueKey", &key)]))
                    .collect::<Result<Vec<_>, _>>()?,
                _ => records,
            };
            Ok(Some(records))
        })
        .buffered(concurrency)
        .try_collect()
        .await?;
    let gone: Vec<&str> = issues
        .iter()
        .zip(&per_issue)
        .filter(|(_, list)| list.is_none())
        .map(|((id, _), _)| id.as_str())
        .collect();
    if !gone.is_empty() {
        tracing::warn!(
            count = gone.len(),
            ids = ?gone,
            "issues were gone when their records were read (deleted or hidden meanwhile)"
        );
    }
    let vanished = gone.len() as u64;
    Ok((
        per_issue.into_iter().flatten().flatten().collect(),
        vanished,
    ))
}

/// A worklog delta through Jira's change feed: the worklogs changed since the lower bound
/// (`/worklog/updated`, read through `/worklog/list`), then the ones deleted since it
/// (`/worklog/deleted`), each a record `{"worklogId", "deleted": true, "updatedTime"}`.
/// Changes after the upper bound are left to the next run. With a JQL, changed worklogs of
/// other issues are left out; deleted ones cannot be told apart (Jira no longer says their
/// issue), so all are reported.
async fn worklog_delta(
    client: &JiraClient,
    mut sink: Sink<'_, '_>,
    mut pos: Pos,
) -> Result<ExportOutcome, SyncError> {
    let spec = sink.job().spec;
    let upper_ms = pos.upper_ms.unwrap_or_default();
    let start = pos.lower_ms.unwrap_or(0).max(0);
    let mut ledger = ledger_for(&sink, &pos, upper_ms);
    let user = spec.user_jql().map(str::to_owned);
    while !pos.done {
        let since = match pos.at {
            Some(PageAt::Since(s)) => s,
            _ => start,
        };
        let kind = if pos.phase == 0 {
            WorklogChangeKind::Updated
        } else {
            WorklogChangeKind::Deleted
        };
        let changes = client.worklog_changes(kind, since).await?;
        let window: Vec<_> = changes
            .values
            .iter()
            .filter(|c| c.updated_time <= upper_ms)
            .collect();
        let mut records = Vec::new();
        if kind == WorklogChangeKind::Updated {
            let times: HashMap<u64, i64> = window
                .iter()
                .map(|c| (c.worklog_id, c.updated_time))
                .collect();
            let ids: Vec<u64> = window
                .iter()
                .filter(|c| ledger.boundary_allows(c.worklog_id, c.updated_time))
                .map(|c| c.worklog_id)
                .collect();
            let mut found = Vec::new();
            for chunk in ids.chunks(WORKLOG_IDS_PER_CALL) {
                found.extend(client.worklogs_by_id(chunk).await?);
            }
            let found = match &user {
                Some(jql) => only_matching(client, jql, found).await?,
                None => found,
            };
            for record in found {
                let (id, _) = child_head(&record, Child::Worklogs)?;
                let ms = times.get(&id).copied().unwrap_or(upper_ms);
                if ledger.write(id, ms) {
                    records.push(record);
                }
            }
        } else {
            for c in &window {
                if ledger.write(c.worklog_id, c.updated_time) {
                    records.push(raw(&json!({
                        "worklogId": c.worklog_id.to_string(),
                        "deleted": true,
                        "updatedTime": c.updated_time,
                    }))?);
                }
            }
        }
        sink.stats_mut().duplicates_skipped += (window.len() - records.len()) as u64;
        let until = changes.until.unwrap_or(since);
        let end_of_phase = changes.last_page || until > upper_ms || changes.values.is_empty();
        if end_of_phase {
            pos.at = None;
            pos.phase += 1;
            pos.done = pos.phase > 1;
        } else if until <= since {
            return Err(SyncError::Decode(
                "the worklog changes: Jira's next page starts where this one did".into(),
            ));
        } else {
            pos.at = Some(PageAt::Since(until));
        }
        pos.near = ledger.near.iter().copied().collect();
        let key = if kind == WorklogChangeKind::Updated {
            Resource::Worklogs.as_str()
        } else {
            DELETED
        };
        match sink.page(&records, key, &pos).await? {
            Flow::Continue => {}
            Flow::Full => break,
            Flow::Cancelled => return sink.outcome(None, true),
        }
    }
    let cursor = DeltaCursor {
        upper_ms,
        boundary: ledger.boundary_after(),
    };
    sink.outcome(Some(cursor), false)
}

impl Ledger {
    /// Whether the last run's boundary leaves `(id, ms)` to be written (without remembering
    /// it).
    fn boundary_allows(&self, id: u64, ms: i64) -> bool {
        !self.boundary.contains(&(id, ms))
    }
}

/// The worklogs (of `records`) whose issue matches `jql`.
async fn only_matching(
    client: &JiraClient,
    jql: &str,
    records: Vec<Box<RawValue>>,
) -> Result<Vec<Box<RawValue>>, SyncError> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct IssueOf<'a> {
        #[serde(borrow)]
        issue_id: Cow<'a, str>,
    }
    let mut issue_ids = Vec::with_capacity(records.len());
    for record in &records {
        let of: IssueOf<'_> = serde_json::from_str(record.get())
            .map_err(|e| SyncError::Decode(format!("a worklog Jira sent ({e})")))?;
        issue_ids.push(of.issue_id.into_owned());
    }
    let distinct: BTreeSet<&str> = issue_ids
        .iter()
        .map(String::as_str)
        .filter(|id| id.chars().all(|c| c.is_ascii_digit()) && !id.is_empty())
        .collect();
    let distinct: Vec<&str> = distinct.into_iter().collect();
    let mut matching = HashSet::new();
    for chunk in distinct.chunks(ISSUE_PAGE as usize) {
        let request = SearchRequest {
            jql: format!("({jql}) AND id in ({}) ORDER BY id ASC", chunk.join(", ")),
            fields: vec!["id".into()],
            max_results: Some(ISSUE_PAGE),
            ..SearchRequest::default()
        };
        let mut token: Option<String> = None;
        loop {
            let page = client
                .search_jql_page_raw(&request, token.as_deref())
                .await?;
            for issue in &page.issues {
                matching.insert(head(issue)?.id.to_string());
            }
            match page.next_page_token {
                Some(next) if Some(&next) != token.as_ref() => token = Some(next),
                _ => break,
            }
        }
    }
    Ok(records
        .into_iter()
        .zip(issue_ids)
        .filter(|(_, issue)| matching.contains(issue))
        .map(|(record, _)| record)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ledger_skips_the_last_boundary_and_keeps_the_next() {
        let mut l = Ledger {
            lower_ms: Some(100),
            near_from_ms: 900,
            boundary: HashSet::from([(1, 950)]),
            near: BTreeSet::new(),
        };
        assert!(!l.write(5, 99), "below the lower bound");
        assert!(!l.write(1, 950), "written by the last run");
        assert!(l.write(1, 960), "changed again since");
        assert!(l.write(2, 500));
        assert_eq!(
            l.boundary_after(),
            vec![("1".to_owned(), 950), ("1".to_owned(), 960)]
        );
    }

    #[test]
    fn child_heads_read_ids_and_times() {
        let r = RawValue::from_string(
            r#"{"id":"10","created":"2026-01-05T09:30:00.000+0000","updated":"2026-01-05T10:30:00.000+0000"}"#.into(),
        )
        .unwrap();
        assert_eq!(
            child_head(&r, Child::Comments).unwrap(),
            (10, 1_767_609_000_000)
        );
        assert_eq!(
            child_head(&r, Child::Changelogs).unwrap(),
            (10, 1_767_605_400_000)
        );
    }
}
