//! Watchers, votes, time tracking and the site-wide worklog and comment look-ups.
//!
//! Generated issues carry their watchers (reporter and commenters), voters and estimates from
//! [`super::generate::Generator::tracking_of`], computed from the issue's row, so JQL and
//! aggregates read them without building the issue. Overlay issues keep them in
//! [`Issue::tracking`].
//!
//! `worklog/updated` reads two ordered indexes: one over the overlay's worklogs, kept by every
//! write, and one over generated worklogs, built on first use from the rows (16 bytes per
//! worklog, about 24 MB for the million-issue site) because their times are derivable but not
//! monotonic in the issue index.

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::sync::{Arc, OnceLock};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::changes::{Change, ChangeKind};
use super::error::DataError;
use super::model::{Comment, FIRST_ISSUE_ID, Issue, Tracking, Worklog};
use super::store::{NewWorklog, SiteData};

/// How a worklog write changes the remaining estimate (`adjustEstimate`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Adjust {
    /// By the time logged (Jira's default).
    Auto,
    /// Not at all.
    Leave,
    /// Set to this many seconds.
    New(u64),
    /// Reduced (adding, updating) or increased (deleting) by this many seconds.
    Manual(u64),
}

/// A notification accepted by `POST /issue/{k}/notify` (no mail is sent).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notification {
    /// Issue id.
    pub issue_id: u64,
    /// Who sent it.
    pub from: String,
    /// Subject (Jira's default when none was given: the issue key and summary).
    pub subject: String,
    /// Plain-text body.
    pub text_body: String,
    /// HTML body.
    pub html_body: String,
    /// Account ids it would have been mailed to.
    pub recipients: Vec<String>,
    /// Group names it was addressed to.
    #[serde(default)]
    pub groups: Vec<String>,
    /// When (ms).
    pub at: i64,
}

/// Changes to an existing worklog; `None` leaves a part as it is.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WorklogEdit {
    /// New ADF comment (`Some(None)` removes it).
    pub comment: Option<Option<Value>>,
    /// New start (ms).
    pub started: Option<i64>,
    /// New time spent (seconds, > 0).
    pub time_spent_seconds: Option<u64>,
}

/// The site-wide tracking indexes (part of [`SiteData`]).
#[derive(Default)]
pub struct TrackIndex {
    /// Overlay worklog id → (issue id, updated ms).
    worklogs: HashMap<u64, (u64, i64)>,
    /// Overlay worklogs by (updated ms, id).
    updated: BTreeSet<(i64, u64)>,
    /// Overlay comment id → issue id.
    comments: HashMap<u64, u64>,
    /// Deleted worklogs by (deleted ms, id).
    deleted: BTreeSet<(i64, u64)>,
    notifications: Vec<Notification>,
    /// Generated worklogs by (updated ms, id), built on first use.
    generated: OnceLock<Arc<Vec<(i64, u64)>>>,
}

impl fmt::Debug for TrackIndex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TrackIndex")
            .field("worklogs", &self.worklogs.len())
            .field("comments", &self.comments.len())
            .field("deleted", &self.deleted.len())
            .field("notifications", &self.notifications.len())
            .field("generated", &self.generated.get().map(|g| g.len()))
            .finish()
    }
}

impl TrackIndex {
    /// Re-indexes an overlay issue's worklogs and comments after a write.
    pub(crate) fn index_issue(&mut self, previous: Option<&Issue>, issue: &Issue) {
        if let Some(p) = previous {
            for w in &p.worklogs {
                if let Some((_, at)) = self.worklogs.remove(&w.id) {
                    self.updated.remove(&(at, w.id));
                }
            }
            for c in &p.comments {
                self.comments.remove(&c.id);
            }
        }
        for w in &issue.worklogs {
            self.worklogs.insert(w.id, (issue.id, w.updated));
            self.updated.insert((w.updated, w.id));
        }
        for c in &issue.comments {
            self.comments.insert(c.id, issue.id);
        }
    }

    /// Records a deleted worklog.
    pub(crate) fn worklog_deleted(&mut self, id: u64, at: i64) {
        if let Some((_, updated)) = self.worklogs.remove(&id) {
            self.updated.remove(&(updated, id));
        }
        self.deleted.insert((at, id));
    }

    /// Deleted worklogs and notifications as dumped.
    pub(crate) fn dump(&self) -> (Vec<(u64, i64)>, Vec<Notification>) {
        (
            self.deleted.iter().map(|(at, id)| (*id, *at)).collect(),
            self.notifications.clone(),
        )
    }

    /// Restores what [`TrackIndex::dump`] wrote.
    pub(crate) fn restore(&mut self, deleted: Vec<(u64, i64)>, notifications: Vec<Notification>) {
        self.deleted = deleted.into_iter().map(|(id, at)| (at, id)).collect();
        self.notifications = notifications;
    }
}

/// Applies a `timetracking` change. Without work logged, the remaining estimate follows a new
/// original estimate unless it is given too, as in Jira.
pub(crate) fn set_estimates(
    issue: &mut Issue,
    original: Option<Option<u64>>,
    remaining: Option<Option<u64>>,
) {
    if let Some(o) = original {
        issue.tracking.original_estimate = o;
        if remaining.is_none() && issue.time_spent() == 0 {
            issue.tracking.remaining_estimate = o;
        }
    }
    if let Some(r) = remaining {
        issue.tracking.remaining_estimate = r;
    }
}

/// Change-history items of the time-tracking fields (seconds as both raw and display value,
/// as Jira records them).
pub(crate) fn diff_times<F>(old: &Issue, new: &Issue, item: &mut F)
where
    F: FnMut(&str, &str, &str, Option<String>, Option<String>, Option<String>, Option<String>),
{
    let spent = |i: &Issue| Some(i.time_spent()).filter(|s| *s > 0);
    for (field, a, b) in [
        (
            "timeoriginalestimate",
            old.tracking.original_estimate,
            new.tracking.original_estimate,
        ),
        (
            "timeestimate",
            old.tracking.remaining_estimate,
            new.tracking.remaining_estimate,
        ),
        ("timespent", spent(old), spent(new)),
    ] {
        if a != b {
            let text = |v: Option<u64>| v.map(|s| s.to_string());
            item(field, field, "jira", text(a), text(a), text(b), text(b));
        }
    }
}

fn adjust_remaining(tracking: &mut Tracking, adjust: Adjust, delta: i128) {
    let clamp = |v: i128| u64::try_from(v.max(0)).unwrap_or(u64::MAX);
    match adjust {
        Adjust::Leave => {}
        Adjust::New(s) => tracking.remaining_estimate = Some(s),
        Adjust::Auto | Adjust::Manual(_) => {
            let delta = match adjust {
                Adjust::Manual(s) => i128::from(s) * delta.signum(),
                _ => delta,
            };
            if let Some(r) = tracking.remaining_estimate {
                tracking.remaining_estimate = Some(clamp(i128::from(r) - delta));
            }
        }
    }
}

fn worklog_not_found(id: u64) -> DataError {
    DataError::ItemNotFound(format!("worklog {id}"))
}

impl SiteData {
    /// The tracking data of an issue (watchers, voters, estimates) without building a generated
    /// issue; `None` when it does not exist.
    pub fn tracking_of(&self, id: u64) -> Option<Tracking> {
        if !self.exists(id) {
            return None;
        }
        match self.overlay.get(&id).and_then(|s| s.current()) {
            Some(v) => Some(v.issue.tracking.clone()),
            None => {
                let index = self.index_of_id(id)?;
                let row = self.generator.row(&self.catalog, index)?;
                Some(self.generator.tracking_of(&self.catalog, &row))
            }
        }
    }

    /// Account ids watching an issue (for JQL `watcher = x`, `watcher in membersOf(…)`).
    pub fn watchers_of(&self, id: u64) -> Vec<String> {
        self.tracking_of(id).map(|t| t.watchers).unwrap_or_default()
    }

    /// Whether `account_id` watches issue `id`.
    pub fn is_watching(&self, id: u64, account_id: &str) -> bool {
        self.watchers_of(id).iter().any(|w| w == account_id)
    }

    /// Account ids that voted for an issue (for JQL `voter = x`).
    pub fn voters_of(&self, id: u64) -> Vec<String> {
        self.tracking_of(id).map(|t| t.voters).unwrap_or_default()
    }

    /// `(original, remaining, spent)` seconds of an issue and its sub-tasks together (Jira's
    /// `aggregate…` fields), without building generated issues.
    pub fn aggregate_times(&self, issue: &Issue) -> (Option<u64>, Option<u64>, u64) {
        let mut original = issue.tracking.original_estimate;
        let mut remaining = issue.tracking.remaining_estimate;
        let mut spent = issue.time_spent();
        let add = |a: Option<u64>, b: Option<u64>| match (a, b) {
            (None, None) => None,
            (a, b) => Some(a.unwrap_or(0) + b.unwrap_or(0)),
        };
        for sub in self.subtasks(issue.id) {
            let (o, r, s) = self.own_times(sub);
            original = add(original, o);
            remaining = add(remaining, r);
            spent += s;
        }
        (original, remaining, spent)
    }

    fn own_times(&self, id: u64) -> (Option<u64>, Option<u64>, u64) {
        if let Some(v) = self.overlay.get(&id).and_then(|s| s.current()) {
            let t = &v.issue.tracking;
            return (
                t.original_estimate,
                t.remaining_estimate,
                v.issue.time_spent(),
            );
        }
        let Some(index) = self.index_of_id(id) else {
            return (None, None, 0);
        };
        let Some(row) = self.generator.row(&self.catalog, index) else {
            return (None, None, 0);
        };
        let t = self.generator.tracking_of(&self.catalog, &row);
        let spent = self
            .generator
            .worklog_seconds_of(&row)
            .into_iter()
            .sum::<u64>();
        (t.original_estimate, t.remaining_estimate, spent)
    }

    /// Adds a watcher (Jira does not record watching in the history or move `updated`).
    pub fn add_watcher(&mut self, id: u64, account_id: &str, now_ms: i64) -> Result<(), DataError> {
        if self
            .tracking_of(id)
            .is_some_and(|t| t.watchers.iter().any(|w| w == account_id))
        {
            return Ok(());
        }
        self.write(id, None, now_ms, false, |_, issue| {
            issue.tracking.watch(account_id);
            Ok(())
        })
        .map(|_| ())
    }

    /// Removes a watcher; removing one who does not watch changes nothing.
    pub fn remove_watcher(
        &mut self,
        id: u64,
        account_id: &str,
        now_ms: i64,
    ) -> Result<(), DataError> {
        if !self.is_watching(id, account_id) {
            return if self.exists(id) {
                Ok(())
            } else {
                Err(DataError::IssueNotFound(id.to_string()))
            };
        }
        self.write(id, None, now_ms, false, |_, issue| {
            issue.tracking.watchers.retain(|w| w != account_id);
            Ok(())
        })
        .map(|_| ())
    }

    fn check_vote(issue: &Issue, account_id: &str) -> Result<(), DataError> {
        if issue.resolution.is_some() {
            return Err(DataError::Invalid(
                "You cannot vote or change your vote on resolved issues.".to_owned(),
            ));
        }
        if issue.reporter.as_deref() == Some(account_id) {
            return Err(DataError::Invalid(
                "You cannot vote for an issue you have reported.".to_owned(),
            ));
        }
        Ok(())
    }

    /// Votes for an issue. Jira refuses votes on resolved issues and on one's own reports.
    pub fn add_vote(&mut self, id: u64, account_id: &str, now_ms: i64) -> Result<(), DataError> {
        let issue = self
            .issue_by_id(id)
            .ok_or_else(|| DataError::IssueNotFound(id.to_string()))?;
        Self::check_vote(&issue, account_id)?;
        if issue.tracking.voters.iter().any(|v| v == account_id) {
            return Ok(());
        }
        self.write(id, None, now_ms, false, |_, issue| {
            issue.tracking.voters.push(account_id.to_owned());
            Ok(())
        })
        .map(|_| ())
    }

    /// Withdraws a vote.
    pub fn remove_vote(&mut self, id: u64, account_id: &str, now_ms: i64) -> Result<(), DataError> {
        let issue = self
            .issue_by_id(id)
            .ok_or_else(|| DataError::IssueNotFound(id.to_string()))?;
        Self::check_vote(&issue, account_id)?;
        if !issue.tracking.voters.iter().any(|v| v == account_id) {
            return Err(DataError::Invalid(
                "You have not voted for this issue.".to_owned(),
            ));
        }
        self.write(id, None, now_ms, false, |_, issue| {
            issue.tracking.voters.retain(|v| v != account_id);
            Ok(())
        })
        .map(|_| ())
    }

    /// Logs work and adjusts the remaining estimate; records `timespent`/`timeestimate` history.
    pub fn log_work(
        &mut self,
        id: u64,
        new: NewWorklog,
        adjust: Adjust,
        author: &str,
        now_ms: i64,
    ) -> Result<Worklog, DataError> {
        if new.time_spent_seconds == 0 {
            return Err(DataError::Fields(vec![(
                "timeLogged".to_owned(),
                "You must indicate the time spent working.".to_owned(),
            )]));
        }
        let worklog = Worklog {
            id: self.next_worklog,
            author: author.to_owned(),
            update_author: author.to_owned(),
            comment: new.comment,
            started: new.started,
            time_spent_seconds: new.time_spent_seconds,
            created: now_ms,
            updated: now_ms,
        };
        let added = worklog.clone();
        let issue = self.write_as(
            id,
            Some(author),
            now_ms,
            true,
            Some("issue_work_logged"),
            |_, issue| {
                if issue.worklogs.len() >= super::store::MAX_WORKLOGS {
                    return Err(DataError::LimitReached {
                        what: "worklogs",
                        limit: super::store::MAX_WORKLOGS,
                    });
                }
                adjust_remaining(
                    &mut issue.tracking,
                    adjust,
                    i128::from(worklog.time_spent_seconds),
                );
                issue.worklogs.push(worklog);
                Ok(())
            },
        )?;
        self.next_worklog += 1;
        self.outbox.push(|| Change {
            at_ms: now_ms,
            actor: Some(author.to_owned()),
            issue,
            kind: ChangeKind::WorklogCreated(added.clone()),
        });
        Ok(added)
    }

    /// Changes a worklog; `Adjust::Auto` moves the remaining estimate by the change in time.
    pub fn update_worklog(
        &mut self,
        id: u64,
        worklog_id: u64,
        edit: WorklogEdit,
        adjust: Adjust,
        author: &str,
        now_ms: i64,
    ) -> Result<Worklog, DataError> {
        if edit.time_spent_seconds == Some(0) {
            return Err(DataError::Fields(vec![(
                "timeLogged".to_owned(),
                "You must indicate the time spent working.".to_owned(),
            )]));
        }
        let issue = self.write_as(
            id,
            Some(author),
            now_ms,
            true,
            Some("issue_worklog_updated"),
            |_, issue| {
                let w = issue
                    .worklogs
                    .iter_mut()
                    .find(|w| w.id == worklog_id)
                    .ok_or_else(|| worklog_not_found(worklog_id))?;
                let before = w.time_spent_seconds;
                if let Some(c) = edit.comment {
                    w.comment = c;
                }
                if let Some(s) = edit.started {
                    w.started = s;
                }
                if let Some(s) = edit.time_spent_seconds {
                    w.time_spent_seconds = s;
                }
                w.update_author = author.to_owned();
                w.updated = now_ms;
                let delta = i128::from(w.time_spent_seconds) - i128::from(before);
                adjust_remaining(&mut issue.tracking, adjust, delta);
                Ok(())
            },
        )?;
        let updated = issue
            .worklogs
            .iter()
            .find(|w| w.id == worklog_id)
            .cloned()
            .ok_or_else(|| worklog_not_found(worklog_id))?;
        self.outbox.push(|| Change {
            at_ms: now_ms,
            actor: Some(author.to_owned()),
            issue,
            kind: ChangeKind::WorklogUpdated(updated.clone()),
        });
        Ok(updated)
    }

    /// Deletes a worklog; `Adjust::Auto` gives its time back to the remaining estimate and
    /// `Adjust::Manual` adds the given amount.
    pub fn delete_worklog(
        &mut self,
        id: u64,
        worklog_id: u64,
        adjust: Adjust,
        author: &str,
        now_ms: i64,
    ) -> Result<(), DataError> {
        let mut gone = None;
        let issue = self.write_as(
            id,
            Some(author),
            now_ms,
            true,
            Some("issue_worklog_deleted"),
            |_, issue| {
                let position = issue
                    .worklogs
                    .iter()
                    .position(|w| w.id == worklog_id)
                    .ok_or_else(|| worklog_not_found(worklog_id))?;
                let removed = issue.worklogs.remove(position);
                adjust_remaining(
                    &mut issue.tracking,
                    adjust,
                    -i128::from(removed.time_spent_seconds),
                );
                gone = Some(removed);
                Ok(())
            },
        )?;
        self.track.worklog_deleted(worklog_id, now_ms);
        if let Some(worklog) = gone {
            self.outbox.push(|| Change {
                at_ms: now_ms,
                actor: Some(author.to_owned()),
                issue,
                kind: ChangeKind::WorklogDeleted(worklog),
            });
        }
        Ok(())
    }

    /// The issue id holding worklog `worklog_id`, if any.
    pub fn worklog_owner(&self, worklog_id: u64) -> Option<u64> {
        if let Some((issue, _)) = self.track.worklogs.get(&worklog_id) {
            return self.exists(*issue).then_some(*issue);
        }
        let offset = worklog_id.checked_sub(10_000)?;
        let index = offset / 4;
        if index >= self.generator.total || self.is_touched(index) {
            return None;
        }
        let (_, count) = self
            .generator
            .comment_and_worklog_counts(&self.catalog, index);
        (offset % 4 < count as u64).then_some(FIRST_ISSUE_ID + index)
    }

    /// A worklog by id with its issue id.
    pub fn worklog_by_id(&self, worklog_id: u64) -> Option<(u64, Worklog)> {
        let issue_id = self.worklog_owner(worklog_id)?;
        let issue = self.issue_by_id(issue_id)?;
        let w = issue.worklogs.iter().find(|w| w.id == worklog_id)?.clone();
        Some((issue_id, w))
    }

    /// The issue id holding comment `comment_id`, if any.
    pub fn comment_owner(&self, comment_id: u64) -> Option<u64> {
        if let Some(issue) = self.track.comments.get(&comment_id) {
            return self.exists(*issue).then_some(*issue);
        }
        let offset = comment_id.checked_sub(10_000)?;
        let index = offset / 8;
        if index >= self.generator.total || self.is_touched(index) {
            return None;
        }
        let (count, _) = self
            .generator
            .comment_and_worklog_counts(&self.catalog, index);
        (offset % 8 < count as u64).then_some(FIRST_ISSUE_ID + index)
    }

    /// A comment by id with its issue id.
    pub fn comment_by_id(&self, comment_id: u64) -> Option<(u64, Comment)> {
        let issue_id = self.comment_owner(comment_id)?;
        let issue = self.issue_by_id(issue_id)?;
        let c = issue.comments.iter().find(|c| c.id == comment_id)?.clone();
        Some((issue_id, c))
    }

    fn generated_worklogs(&self) -> Arc<Vec<(i64, u64)>> {
        self.track
            .generated
            .get_or_init(|| {
                let mut all = Vec::new();
                for index in 0..self.generator.total {
                    for (id, at) in self.generator.worklog_stamps(&self.catalog, index) {
                        all.push((at, id));
                    }
                }
                all.sort_unstable();
                all.shrink_to_fit();
                Arc::new(all)
            })
            .clone()
    }

    /// Up to `limit` `(worklog id, updated ms)` pairs updated at or after `since` and before
    /// `until`, oldest first.
    pub fn worklogs_updated(&self, since: i64, until: i64, limit: usize) -> Vec<(u64, i64)> {
        if since >= until {
            return Vec::new();
        }
        let generated = self.generated_worklogs();
        let start = generated.partition_point(|(at, _)| *at < since);
        let mut gen_iter = generated[start..]
            .iter()
            .take_while(|(at, _)| *at < until)
            .filter(|(_, id)| !self.is_touched((id - 10_000) / 4))
            .peekable();
        let mut over_iter = self
            .track
            .updated
            .range((since, 0)..(until, 0))
            .filter(|(_, id)| {
                self.track
                    .worklogs
                    .get(id)
                    .is_some_and(|(issue, _)| self.exists(*issue))
            })
            .peekable();
        let mut out = Vec::new();
        while out.len() < limit {
            let next = match (gen_iter.peek(), over_iter.peek()) {
                (Some(g), Some(o)) if g <= o => gen_iter.next(),
                (Some(_), Some(_)) | (None, Some(_)) => over_iter.next(),
                (Some(_), None) => gen_iter.next(),
                (None, None) => None,
            };
            let Some((at, id)) = next else { break };
            out.push((*id, *at));
        }
        out
    }

    /// Up to `limit` `(worklog id, deleted ms)` pairs deleted at or after `since` and before
    /// `until`, oldest first.
    pub fn worklogs_deleted(&self, since: i64, until: i64, limit: usize) -> Vec<(u64, i64)> {
        if since >= until {
            return Vec::new();
        }
        self.track
            .deleted
            .range((since, 0)..(until, 0))
            .take(limit)
            .map(|(at, id)| (*id, *at))
            .collect()
    }

    /// Records a notification (nothing is mailed).
    pub fn record_notification(&mut self, notification: Notification) {
        self.track.notifications.push(notification);
    }

    /// Notifications accepted so far, oldest first.
    pub fn notifications(&self) -> &[Notification] {
        &self.track.notifications
    }
}

impl crate::control::Control {
    /// Notifications `POST /issue/{k}/notify` accepted on a site, oldest first (nothing is
    /// mailed).
    pub fn notifications(&self, subdomain: &str) -> Vec<Notification> {
        super::site_by_subdomain(self.state(), subdomain)
            .map(|entry| entry.read().notifications().to_vec())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::store::tests::site;

    const NOW: i64 = 1_767_605_400_000;

    #[test]
    fn generated_tracking_agrees_with_the_built_issue() {
        let data = site();
        for index in 0..data.generated_count() {
            let id = FIRST_ISSUE_ID + index;
            let issue = data.issue_by_id(id).expect("generated");
            assert_eq!(data.tracking_of(id), Some(issue.tracking.clone()));
            if let Some(r) = &issue.reporter {
                assert!(issue.tracking.watchers.contains(r));
                assert!(!issue.tracking.voters.contains(r));
            }
            let stamps: Vec<(u64, i64)> =
                issue.worklogs.iter().map(|w| (w.id, w.updated)).collect();
            assert_eq!(data.generator.worklog_stamps(&data.catalog, index), stamps);
            for w in &issue.worklogs {
                assert_eq!(data.worklog_owner(w.id), Some(id));
            }
            for c in &issue.comments {
                assert_eq!(data.comment_owner(c.id), Some(id));
            }
        }
    }

    #[test]
    fn worklogs_adjust_the_remaining_estimate() {
        let mut data = site();
        let who = data.users()[0].account_id.clone();
        let id = data.resolve("DEMO-2").expect("exists");
        data.edit_issue(
            id,
            vec![super::super::FieldChange::TimeTracking {
                original: Some(Some(36_000)),
                remaining: Some(Some(36_000)),
            }],
            &who,
            NOW,
        )
        .expect("estimate");
        let new = |s| NewWorklog {
            comment: None,
            started: NOW,
            time_spent_seconds: s,
        };
        let w = data
            .log_work(id, new(3_600), Adjust::Auto, &who, NOW)
            .expect("auto");
        assert_eq!(
            data.tracking_of(id).and_then(|t| t.remaining_estimate),
            Some(32_400)
        );
        data.log_work(id, new(60), Adjust::New(7_200), &who, NOW)
            .expect("new");
        assert_eq!(
            data.tracking_of(id).and_then(|t| t.remaining_estimate),
            Some(7_200)
        );
        data.log_work(id, new(60), Adjust::Manual(600), &who, NOW)
            .expect("manual");
        assert_eq!(
            data.tracking_of(id).and_then(|t| t.remaining_estimate),
            Some(6_600)
        );
        data.log_work(id, new(60), Adjust::Leave, &who, NOW)
            .expect("leave");
        assert_eq!(
            data.tracking_of(id).and_then(|t| t.remaining_estimate),
            Some(6_600)
        );
        let edit = WorklogEdit {
            time_spent_seconds: Some(7_200),
            ..WorklogEdit::default()
        };
        data.update_worklog(id, w.id, edit, Adjust::Auto, &who, NOW + 1)
            .expect("update");
        assert_eq!(
            data.tracking_of(id).and_then(|t| t.remaining_estimate),
            Some(3_000)
        );
        data.delete_worklog(id, w.id, Adjust::Auto, &who, NOW + 2)
            .expect("delete");
        assert_eq!(
            data.tracking_of(id).and_then(|t| t.remaining_estimate),
            Some(10_200)
        );
        assert_eq!(
            data.worklogs_deleted(NOW, NOW + 10, 10),
            vec![(w.id, NOW + 2)]
        );
        let issue = data.issue_by_id(id).expect("issue");
        let fields: Vec<&str> = issue
            .changelog
            .iter()
            .flat_map(|h| h.items.iter().map(|i| i.field.as_str()))
            .collect();
        for f in ["timeoriginalestimate", "timeestimate", "timespent"] {
            assert!(fields.contains(&f), "{f} in {fields:?}");
        }
    }

    #[test]
    fn votes_follow_jira_rules() {
        let mut data = site();
        let id = data.resolve("DEMO-2").expect("exists");
        let issue = data.issue_by_id(id).expect("issue");
        let reporter = issue.reporter.clone().expect("reporter");
        let other = data
            .users()
            .iter()
            .find(|u| u.account_id != reporter)
            .map(|u| u.account_id.clone())
            .expect("another user");
        assert!(matches!(
            data.add_vote(id, &reporter, NOW),
            Err(DataError::Invalid(_))
        ));
        if issue.resolution.is_none() {
            data.add_vote(id, &other, NOW).expect("vote");
            assert!(data.voters_of(id).contains(&other));
            data.remove_vote(id, &other, NOW).expect("unvote");
            assert!(matches!(
                data.remove_vote(id, &other, NOW),
                Err(DataError::Invalid(_))
            ));
        }
    }

    #[test]
    fn updated_worklogs_merge_generated_and_overlay() {
        let mut data = site();
        let all = data.worklogs_updated(i64::MIN, i64::MAX, usize::MAX);
        assert!(all.windows(2).all(|w| w[0].1 <= w[1].1));
        let who = data.users()[0].account_id.clone();
        let id = data.resolve("DEMO-3").expect("exists");
        let w = data
            .log_work(
                id,
                NewWorklog {
                    comment: None,
                    started: NOW,
                    time_spent_seconds: 60,
                },
                Adjust::Auto,
                &who,
                NOW,
            )
            .expect("logged");
        let after = data.worklogs_updated(i64::MIN, i64::MAX, usize::MAX);
        let before_issue = all
            .iter()
            .filter(|(wid, _)| data.worklog_owner(*wid) == Some(id))
            .count();
        assert_eq!(after.len(), all.len() + 1, "{before_issue} kept once");
        assert_eq!(after.last(), Some(&(w.id, NOW)));
        assert_eq!(data.worklogs_updated(NOW, NOW + 1, 10), vec![(w.id, NOW)]);
    }
}
