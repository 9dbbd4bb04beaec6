//! What a write changed, as Jira's webhooks report it: the one place every issue, comment,
//! worklog and issue-link write is observed.
//!
//! [`SiteData`] methods append a [`Change`] to the site's [`Outbox`] as they write (only while
//! someone listens, see [`ChangeFeed::set_wanted`]). The write guard
//! ([`super::SiteEntry::write`]) hands the batch to the [`ChangeFeed`] when it is dropped, while
//! the lock is still held: listeners see changes in the order they happened, together with the
//! site's data as the batch left it, and never wait for a later write.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};

use super::links::IssueLink;
use super::model::{Comment, History, Issue, Worklog};
use super::store::SiteData;

/// What happened.
#[derive(Debug, Clone, PartialEq)]
pub enum ChangeKind {
    /// An issue was created.
    IssueCreated,
    /// An issue changed. `history` is the change-history entry the write recorded, if any;
    /// `event_type` is Jira's `issue_event_type_name` for writes that name their own
    /// (`issue_commented`, `issue_work_logged`…), `None` to derive it from the history.
    IssueUpdated {
        /// The recorded history entry.
        history: Option<History>,
        /// `issue_event_type_name` given by the write.
        event_type: Option<&'static str>,
    },
    /// An issue was deleted (the issue is its last state).
    IssueDeleted,
    /// A comment was added.
    CommentCreated(Comment),
    /// A comment was edited.
    CommentUpdated(Comment),
    /// A comment was deleted (its last state).
    CommentDeleted(Comment),
    /// Work was logged.
    WorklogCreated(Worklog),
    /// A worklog was edited.
    WorklogUpdated(Worklog),
    /// A worklog was deleted (its last state).
    WorklogDeleted(Worklog),
    /// Two issues were linked; `other` is the link's target issue (the change's issue is the
    /// source).
    LinkCreated {
        /// The link.
        link: IssueLink,
        /// The target issue.
        other: Arc<Issue>,
    },
    /// A link was removed.
    LinkDeleted {
        /// The link.
        link: IssueLink,
        /// The target issue.
        other: Arc<Issue>,
    },
}

/// One change to one issue.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    /// When (epoch ms, simulator clock).
    pub at_ms: i64,
    /// Who made it, when known.
    pub actor: Option<String>,
    /// The issue after the change (before it, for deletions).
    pub issue: Arc<Issue>,
    /// What happened.
    pub kind: ChangeKind,
}

/// Changes recorded by writes under the current write guard.
#[derive(Debug, Default)]
pub struct Outbox {
    enabled: bool,
    changes: Vec<Change>,
}

impl Outbox {
    /// Records a change, if anyone listens.
    pub(crate) fn push(&mut self, change: impl FnOnce() -> Change) {
        if self.enabled {
            self.changes.push(change());
        }
    }

    /// Whether writes record changes now.
    pub fn enabled(&self) -> bool {
        self.enabled
    }

    pub(crate) fn set_enabled(&mut self, enabled: bool) {
        self.enabled = enabled;
    }

    pub(crate) fn take(&mut self) -> Vec<Change> {
        std::mem::take(&mut self.changes)
    }
}

/// A listener: called with the site's data and the changes of one write guard, in order.
pub type ChangeListener = Arc<dyn Fn(&SiteData, &[Change]) + Send + Sync>;

/// Where every site's changes go (one per simulator, in the state's typed slot).
#[derive(Default)]
pub struct ChangeFeed {
    wanted: AtomicBool,
    listener: RwLock<Option<ChangeListener>>,
}

impl std::fmt::Debug for ChangeFeed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChangeFeed")
            .field("wanted", &self.wanted())
            .finish_non_exhaustive()
    }
}

impl ChangeFeed {
    /// Installs the listener (replacing any earlier one).
    pub fn listen(&self, listener: ChangeListener) {
        *self
            .listener
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(listener);
    }

    /// Turns recording on or off; off costs writes nothing (no webhook is registered).
    pub fn set_wanted(&self, wanted: bool) {
        self.wanted.store(wanted, Ordering::SeqCst);
    }

    /// Whether writes should record changes.
    pub fn wanted(&self) -> bool {
        self.wanted.load(Ordering::SeqCst)
    }

    /// Hands a batch to the listener.
    pub(crate) fn publish(&self, data: &SiteData, changes: &[Change]) {
        if changes.is_empty() {
            return;
        }
        let listener = self
            .listener
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        if let Some(listener) = listener {
            listener(data, changes);
        }
    }
}
