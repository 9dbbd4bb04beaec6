//! [`SiteData`]: one site's configuration, its generated issues and the overlay of changes.
//!
//! Unchanged generated issues live nowhere: [`SiteData::issue`] computes them. The first write
//! to a generated issue copies it into the overlay; created issues live only there; deleted
//! issues are remembered by id. Every overlay write keeps the previous versions (up to
//! [`MAX_VERSIONS`]) with their write times, so search can see an issue as the index saw it
//! `index_lag_secs` ago (see `search.rs`), while reads are always current.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use serde_json::Value;

use super::adf;
use super::changes::{Change, ChangeKind};
use super::error::DataError;
use super::generate::{Catalog, DONE, Generator, catalog, issue_count};
use super::model::{
    ChangeItem, Comment, CustomKind, CustomValue, FIRST_ISSUE_ID, History, Issue, IssueRef,
    Project, SiteUser, Tracking, Worklog,
};
use crate::config::DataSize;

/// Versions kept per overlay issue for the index-lag view.
pub const MAX_VERSIONS: usize = 8;
/// Comments one issue may hold (Jira Cloud: 5,000); more answers 413.
pub const MAX_COMMENTS: usize = 5_000;
/// Worklogs one issue may hold (Jira Cloud: 10,000); more answers 413.
pub const MAX_WORKLOGS: usize = 10_000;
/// Properties one issue may hold.
pub const MAX_PROPERTIES: usize = 100;
/// Longest summary Jira accepts.
pub const MAX_SUMMARY: usize = 255;

/// One stored state of an overlay issue.
#[derive(Debug, Clone)]
pub(crate) struct IssueVersion {
    /// When the write happened (ms); `i64::MIN` for the generated original.
    pub(crate) at: i64,
    pub(crate) issue: Arc<Issue>,
    /// Custom-field values as text, for JQL.
    pub(crate) texts: Vec<(u64, String)>,
}

/// An issue of the overlay with its recent versions, oldest first.
#[derive(Debug, Clone)]
pub(crate) struct Stored {
    pub(crate) versions: Vec<IssueVersion>,
}

impl Stored {
    pub(crate) fn current(&self) -> Option<&IssueVersion> {
        self.versions.last()
    }

    /// The version the search index holds at `indexed_until` (ms); `None` when the issue was
    /// created later.
    pub(crate) fn visible_at(&self, indexed_until: i64) -> Option<&IssueVersion> {
        self.versions.iter().rev().find(|v| v.at <= indexed_until)
    }
}

/// A field change, as `PUT /issue`, transitions and creation apply them.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldChange {
    /// `summary`.
    Summary(String),
    /// `description` (ADF).
    Description(Option<Value>),
    /// `environment` (ADF).
    Environment(Option<Value>),
    /// `issuetype` by id or name.
    IssueType(String),
    /// `priority` by id or name.
    Priority(Option<String>),
    /// `assignee` account id.
    Assignee(Option<String>),
    /// `reporter` account id.
    Reporter(Option<String>),
    /// `labels`, the full new list.
    Labels(Vec<String>),
    /// `components` by id or name, the full new list.
    Components(Vec<String>),
    /// `fixVersions` by id or name, the full new list.
    FixVersions(Vec<String>),
    /// `versions` (affects versions) by id or name, the full new list.
    AffectsVersions(Vec<String>),
    /// `duedate` `YYYY-MM-DD`.
    DueDate(Option<String>),
    /// `parent` by key or id.
    Parent(Option<String>),
    /// `resolution` by id or name.
    Resolution(Option<String>),
    /// A custom field.
    Custom(u64, Option<CustomValue>),
    /// The Sprint field (`customfield_10020`): an open sprint id, or `None` for the backlog.
    Sprint(Option<u64>),
    /// `timetracking`: original and remaining estimate in seconds; `None` leaves one as it is,
    /// `Some(None)` clears it.
    TimeTracking {
        /// Original estimate.
        original: Option<Option<u64>>,
        /// Remaining estimate.
        remaining: Option<Option<u64>>,
    },
}

impl FieldChange {
    /// The field id the change targets (for error maps).
    pub fn field_id(&self) -> String {
        match self {
            Self::Summary(_) => "summary".to_owned(),
            Self::Description(_) => "description".to_owned(),
            Self::Environment(_) => "environment".to_owned(),
            Self::IssueType(_) => "issuetype".to_owned(),
            Self::Priority(_) => "priority".to_owned(),
            Self::Assignee(_) => "assignee".to_owned(),
            Self::Reporter(_) => "reporter".to_owned(),
            Self::Labels(_) => "labels".to_owned(),
            Self::Components(_) => "components".to_owned(),
            Self::FixVersions(_) => "fixVersions".to_owned(),
            Self::AffectsVersions(_) => "versions".to_owned(),
            Self::DueDate(_) => "duedate".to_owned(),
            Self::Parent(_) => "parent".to_owned(),
            Self::Resolution(_) => "resolution".to_owned(),
            Self::Custom(id, _) => format!("customfield_{id}"),
            Self::Sprint(_) => crate::agile::model::SPRINT_FIELD.to_owned(),
            Self::TimeTracking { .. } => "timetracking".to_owned(),
        }
    }
}

/// A new issue. Project and issue type accept ids, keys or names; everything else is optional
/// and validated like `POST /rest/api/3/issue`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct NewIssue {
    /// Project key or id.
    pub project: String,
    /// Issue type id or name.
    pub issue_type: String,
    /// Summary (required, ≤ 255 characters).
    pub summary: String,
    /// Further fields (description, assignee, custom fields…).
    pub fields: Vec<FieldChange>,
    /// Issue properties.
    pub properties: BTreeMap<String, Value>,
    /// Status to start in instead of the workflow's initial status (for imports; must belong
    /// to the project's workflow).
    pub status: Option<String>,
}

/// A new comment.
#[derive(Debug, Clone, PartialEq)]
pub struct NewComment {
    /// ADF body.
    pub body: Value,
    /// Restriction, e.g. `{"type":"role","value":"Administrators"}`.
    pub visibility: Option<Value>,
    /// Whether a service-desk customer sees it (`false` for internal notes).
    pub public: bool,
}

/// A new worklog.
#[derive(Debug, Clone, PartialEq)]
pub struct NewWorklog {
    /// ADF comment.
    pub comment: Option<Value>,
    /// Start (ms).
    pub started: i64,
    /// Seconds spent (> 0).
    pub time_spent_seconds: u64,
}

/// The fields an issue link (parent, sub-task) shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkView {
    /// Id.
    pub id: u64,
    /// Key.
    pub key: String,
    /// Summary.
    pub summary: String,
    /// Status id.
    pub status: String,
    /// Priority id.
    pub priority: Option<String>,
    /// Issue type id.
    pub issue_type: String,
}

/// A site's issues and configuration. Obtain it through [`crate::data::site`].
#[derive(Debug)]
pub struct SiteData {
    pub(crate) seed: u64,
    pub(crate) subdomain: String,
    pub(crate) size: DataSize,
    pub(crate) catalog: Catalog,
    pub(crate) generator: Generator,
    pub(crate) overlay: BTreeMap<u64, Stored>,
    pub(crate) deleted: BTreeMap<u64, i64>,
    /// Bit per generated index: set when the overlay or the deleted set holds it.
    touched: Vec<u64>,
    keys: HashMap<String, u64>,
    children: BTreeMap<u64, BTreeSet<u64>>,
    pub(crate) next_id: u64,
    pub(crate) next_comment: u64,
    pub(crate) next_worklog: u64,
    pub(crate) next_history: u64,
    pub(crate) next_number: BTreeMap<u64, u64>,
    revision: u64,
    /// Boards, sprints and saved filters.
    pub(crate) agile: crate::agile::model::AgileData,
    /// Issue links, link types, remote links and attachments (see `links.rs`).
    pub(crate) links: super::links::LinkStore,
    /// Version and component writes (see [`super::parts`]).
    pub(crate) parts: super::parts::PartsState,
    /// Directory members' groups (see [`super::groups`]).
    pub(crate) directory_groups: super::groups::DirectoryGroups,
    /// Watchers, votes, worklog and comment indexes, deleted worklogs, notifications.
    pub(crate) track: super::tracking::TrackIndex,
    /// Changes recorded for webhooks (see [`super::changes`]).
    pub(crate) outbox: super::changes::Outbox,
}

fn split_key(key: &str) -> Option<(&str, u64)> {
    let (project, number) = key.rsplit_once('-')?;
    if project.is_empty() || number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((project, number.parse().ok()?))
}

impl SiteData {
    /// Generates a site. `members` (the site's seeded directory members) come first in the user
    /// list; `anchor_ms` is the instant generated history ends at; `total` overrides the size's
    /// issue count.
    pub fn generate(
        seed: u64,
        subdomain: &str,
        size: DataSize,
        anchor_ms: i64,
        members: Vec<SiteUser>,
        total: Option<u64>,
    ) -> Self {
        let catalog = catalog(seed, subdomain, size, members);
        let total = total.unwrap_or_else(|| issue_count(size));
        let pool = catalog.users.len();
        let generator = Generator::new(seed, size, total, anchor_ms, &catalog, pool);
        let agile = crate::agile::model::AgileData::generate(&catalog, anchor_ms);
        let next_number = catalog
            .projects
            .iter()
            .enumerate()
            .map(|(n, p)| (p.id, generator.count_of(n) + 1))
            .collect();
        let words = usize::try_from(total.div_ceil(64)).unwrap_or(0);
        Self {
            seed,
            subdomain: subdomain.to_owned(),
            size,
            next_id: FIRST_ISSUE_ID + total,
            next_comment: 10_000 + total * 8,
            next_worklog: 10_000 + total * 4,
            next_history: 10_000 + total * 16,
            catalog,
            generator,
            overlay: BTreeMap::new(),
            deleted: BTreeMap::new(),
            touched: vec![0; words],
            keys: HashMap::new(),
            children: BTreeMap::new(),
            next_number,
            revision: 0,
            agile,
            links: super::links::LinkStore::new(total),
            parts: super::parts::PartsState::default(),
            directory_groups: super::groups::DirectoryGroups::default(),
            track: super::tracking::TrackIndex::default(),
            outbox: super::changes::Outbox::default(),
        }
    }

    /// The seed the site was generated from.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The site's subdomain.
    pub fn subdomain(&self) -> &str {
        &self.subdomain
    }

    /// The configuration (projects, types, statuses, workflows, fields, users).
    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    /// Projects, in creation order.
    pub fn projects(&self) -> &[Project] {
        &self.catalog.projects
    }

    /// A project by key (any case), numeric id or name.
    pub fn project_by_key_or_id(&self, text: &str) -> Option<&Project> {
        self.catalog.project_by_key_or_id(text)
    }

    /// Users that can appear on issues.
    pub fn users(&self) -> &[SiteUser] {
        &self.catalog.users
    }

    /// A user by account id.
    pub fn user(&self, account_id: &str) -> Option<&SiteUser> {
        self.catalog.user(account_id)
    }

    /// Adds a user (a directory member that joined after generation); ignored when known.
    pub fn add_user(&mut self, user: SiteUser) {
        if self.catalog.user(&user.account_id).is_none() {
            self.catalog.users.push(user);
            self.revision += 1;
        }
    }

    /// Changes on every write; caches key on it.
    pub fn revision(&self) -> u64 {
        self.revision
    }

    pub(crate) fn bump_revision(&mut self) {
        self.revision += 1;
    }

    /// A generated issue as it is now: built from the seed, with deleted versions and
    /// components moved.
    fn generated_issue(&self, index: u64) -> Option<Issue> {
        let mut issue = self.generator.issue(&self.catalog, index)?;
        self.apply_part_moves(&mut issue);
        Some(issue)
    }

    /// Generated issues (including those since changed or deleted).
    pub fn generated_count(&self) -> u64 {
        self.generator.total
    }

    /// The instant generated history ends at (ms).
    pub fn anchor_ms(&self) -> i64 {
        self.generator.anchor_ms
    }

    pub(crate) fn index_of_id(&self, id: u64) -> Option<u64> {
        id.checked_sub(FIRST_ISSUE_ID)
            .filter(|i| *i < self.generator.total)
    }

    pub(crate) fn is_touched(&self, index: u64) -> bool {
        let word = usize::try_from(index / 64).unwrap_or(usize::MAX);
        self.touched
            .get(word)
            .is_some_and(|w| w & (1 << (index % 64)) != 0)
    }

    fn touch(&mut self, id: u64) {
        if let Some(index) = self.index_of_id(id) {
            let word = usize::try_from(index / 64).unwrap_or(usize::MAX);
            if let Some(w) = self.touched.get_mut(word) {
                *w |= 1 << (index % 64);
            }
        }
    }

    /// The id of an existing (not deleted) issue by numeric id or key (any case).
    pub fn resolve(&self, id_or_key: &str) -> Option<u64> {
        let text = id_or_key.trim();
        let id = if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
            text.parse::<u64>().ok()?
        } else {
            let upper = text.to_ascii_uppercase();
            if let Some(id) = self.keys.get(&upper) {
                *id
            } else {
                let (project, number) = split_key(&upper)?;
                let position = self
                    .catalog
                    .projects
                    .iter()
                    .position(|p| p.key == project)?;
                FIRST_ISSUE_ID + self.generator.index_of(position, number)?
            }
        };
        self.exists(id).then_some(id)
    }

    /// Whether issue `id` exists.
    pub fn exists(&self, id: u64) -> bool {
        if self.deleted.contains_key(&id) {
            return false;
        }
        self.overlay.contains_key(&id) || self.index_of_id(id).is_some()
    }

    /// The current issue by id or key.
    pub fn issue(&self, id_or_key: &str) -> Option<Arc<Issue>> {
        self.issue_by_id(self.resolve(id_or_key)?)
    }

    /// The current issue by id.
    pub fn issue_by_id(&self, id: u64) -> Option<Arc<Issue>> {
        if self.deleted.contains_key(&id) {
            return None;
        }
        if let Some(stored) = self.overlay.get(&id) {
            return stored.current().map(|v| v.issue.clone());
        }
        let index = self.index_of_id(id)?;
        self.generated_issue(index).map(Arc::new)
    }

    /// The key of an existing issue, without building the issue.
    pub fn key_of(&self, id: u64) -> Option<String> {
        if self.deleted.contains_key(&id) {
            return None;
        }
        if let Some(stored) = self.overlay.get(&id) {
            return stored.current().map(|v| v.issue.key.clone());
        }
        let index = self.index_of_id(id)?;
        let block = self.generator.block_of(index)?;
        let project = self.catalog.projects.get(block.project)?;
        Some(format!("{}-{}", project.key, index - block.start + 1))
    }

    /// What links to an issue show (parent, sub-tasks), without building generated issues.
    pub fn link_view(&self, id: u64) -> Option<LinkView> {
        if self.deleted.contains_key(&id) {
            return None;
        }
        if let Some(stored) = self.overlay.get(&id) {
            let issue = &stored.current()?.issue;
            return Some(LinkView {
                id,
                key: issue.key.clone(),
                summary: issue.summary.clone(),
                status: issue.status.clone(),
                priority: issue.priority.clone(),
                issue_type: issue.issue_type.clone(),
            });
        }
        let index = self.index_of_id(id)?;
        let row = self.generator.row(&self.catalog, index)?;
        Some(LinkView {
            id,
            key: self.key_of(id)?,
            summary: self.generator.summary(&self.catalog, &row).to_owned(),
            status: self.catalog.statuses.get(row.status)?.id.clone(),
            priority: Some(self.generator.priority_id(index).to_owned()),
            issue_type: self.catalog.issue_types.get(row.issue_type)?.id.clone(),
        })
    }

    /// Ids of the current sub-tasks of an issue, ascending.
    pub fn subtasks(&self, id: u64) -> Vec<u64> {
        let mut out: BTreeSet<u64> = BTreeSet::new();
        if let Some(index) = self.index_of_id(id) {
            for child in self.generator.subtask_indexes(&self.catalog, index) {
                if !self.is_touched(child) {
                    out.insert(FIRST_ISSUE_ID + child);
                }
            }
        }
        if let Some(children) = self.children.get(&id) {
            out.extend(children.iter().copied().filter(|c| self.exists(*c)));
        }
        out.into_iter().collect()
    }

    /// Ids of every existing issue in ascending order (for dumps and small sites; a large site
    /// yields a million ids).
    pub fn issue_ids(&self) -> impl Iterator<Item = u64> + '_ {
        let generated = (0..self.generator.total)
            .filter(|i| !self.is_touched(*i))
            .map(|i| FIRST_ISSUE_ID + i);
        let overlay = self
            .overlay
            .keys()
            .copied()
            .filter(|id| !self.deleted.contains_key(id));
        let mut all: Vec<u64> = generated.chain(overlay).collect();
        all.sort_unstable();
        all.into_iter()
    }

    pub(crate) fn custom_texts(&self, issue: &Issue) -> Vec<(u64, String)> {
        issue
            .custom
            .iter()
            .filter_map(|(id, value)| {
                let field = self.catalog.custom_field(*id)?;
                let text = match value {
                    CustomValue::Option(o) => field.option_by_id(o)?.value.clone(),
                    CustomValue::Options(os) => field.option_by_id(os.first()?)?.value.clone(),
                    CustomValue::Cascade(p, _) => field.option_by_id(p)?.value.clone(),
                    CustomValue::User(a) | CustomValue::Text(a) | CustomValue::Date(a) => a.clone(),
                    CustomValue::Rich(doc) => adf::plain_text(doc),
                    CustomValue::Number(n) => format_number(*n),
                    CustomValue::Labels(ls) => ls.first()?.clone(),
                };
                Some((*id, text))
            })
            .collect()
    }

    /// Stores a new current version of an issue written at `now_ms`.
    fn store(&mut self, issue: Issue, now_ms: i64) {
        let id = issue.id;
        let previous = self
            .overlay
            .get(&id)
            .and_then(Stored::current)
            .map(|v| v.issue.clone());
        self.track.index_issue(previous.as_deref(), &issue);
        let texts = self.custom_texts(&issue);
        let parent = issue.parent;
        let previous_parent = self
            .overlay
            .get(&id)
            .and_then(Stored::current)
            .and_then(|v| v.issue.parent);
        if !self.overlay.contains_key(&id)
            && let Some(index) = self.index_of_id(id)
            && let Some(original) = self.generated_issue(index)
        {
            // The generated original is what the index held before the first write.
            let texts = self.custom_texts(&original);
            self.overlay.insert(
                id,
                Stored {
                    versions: vec![IssueVersion {
                        at: i64::MIN,
                        issue: Arc::new(original),
                        texts,
                    }],
                },
            );
            self.touch(id);
        }
        if self.index_of_id(id).is_none() {
            self.keys.insert(issue.key.to_ascii_uppercase(), id);
        }
        let stored = self.overlay.entry(id).or_insert(Stored {
            versions: Vec::new(),
        });
        stored.versions.push(IssueVersion {
            at: now_ms,
            issue: Arc::new(issue),
            texts,
        });
        if stored.versions.len() > MAX_VERSIONS {
            stored.versions.remove(0);
        }
        if previous_parent != parent
            && let Some(old) = previous_parent
            && let Some(set) = self.children.get_mut(&old)
        {
            set.remove(&id);
        }
        if let Some(parent) = parent {
            self.children.entry(parent).or_default().insert(id);
        }
        self.revision += 1;
    }

    fn user_name(&self, account_id: &str) -> Option<String> {
        self.catalog
            .user(account_id)
            .map(|u| u.display_name.clone())
    }

    /// Validates and applies field changes to `issue` (not stored); errors per field id.
    fn apply_changes(
        &self,
        issue: &mut Issue,
        changes: Vec<FieldChange>,
        errors: &mut Vec<(String, String)>,
    ) {
        let project = self.catalog.project(issue.project_id).cloned();
        for change in changes {
            let field = change.field_id();
            let affects = matches!(change, FieldChange::AffectsVersions(_));
            let mut fail = |message: String| errors.push((field.clone(), message));
            match change {
                FieldChange::Summary(s) => {
                    let s = s.trim().to_owned();
                    if s.is_empty() {
                        fail("You must specify a summary of the issue.".to_owned());
                    } else if s.chars().count() > MAX_SUMMARY {
                        fail("Summary must be less than 255 characters.".to_owned());
                    } else if s.contains('\n') {
                        fail("The summary is invalid because it contains newline characters.".to_owned());
                    } else {
                        issue.summary = s;
                    }
                }
                FieldChange::Description(d) => match d {
                    Some(doc) if !adf::is_doc(&doc) => fail(
                        "Operation value must be an Atlassian Document (see the Atlassian Document Format)".to_owned(),
                    ),
                    d => issue.description = d,
                },
                FieldChange::Environment(d) => match d {
                    Some(doc) if !adf::is_doc(&doc) => fail(
                        "Operation value must be an Atlassian Document (see the Atlassian Document Format)".to_owned(),
                    ),
                    d => issue.environment = d,
                },
                FieldChange::IssueType(t) => {
                    let allowed = project.as_ref().and_then(|p| {
                        let t = self.catalog.issue_type(&t)?;
                        p.issue_type_ids.contains(&t.id).then_some(t)
                    });
                    match allowed {
                        Some(t) => issue.issue_type = t.id.clone(),
                        None => fail("The issue type selected is invalid.".to_owned()),
                    }
                }
                FieldChange::Priority(p) => match p {
                    None => issue.priority = None,
                    Some(p) => match self.catalog.priority(&p) {
                        Some(found) => issue.priority = Some(found.id.clone()),
                        None => fail("The priority selected is invalid.".to_owned()),
                    },
                },
                FieldChange::Assignee(a) | FieldChange::Reporter(a) => {
                    let is_assignee = field == "assignee";
                    let value = match a {
                        None => None,
                        Some(a) => match self.catalog.user(&a) {
                            Some(u) if u.active || !is_assignee => Some(u.account_id.clone()),
                            Some(_) => {
                                fail(format!("User '{a}' cannot be assigned issues."));
                                continue;
                            }
                            None => {
                                fail(format!("User with accountId '{a}' does not exist."));
                                continue;
                            }
                        },
                    };
                    if is_assignee {
                        issue.assignee = value;
                    } else if value.is_none() {
                        fail("Reporter is required.".to_owned());
                    } else {
                        issue.reporter = value;
                    }
                }
                FieldChange::Labels(labels) => {
                    if let Some(bad) = labels.iter().find(|l| l.contains(char::is_whitespace) || l.is_empty()) {
                        fail(format!("The label '{bad}' contains spaces which is invalid."));
                    } else if let Some(long) = labels.iter().find(|l| l.chars().count() > 255) {
                        fail(format!("The label '{long}' exceeds the 255 character limit."));
                    } else {
                        let mut labels = labels;
                        labels.dedup();
                        issue.labels = labels;
                    }
                }
                FieldChange::Components(items) => {
                    let Some(project) = &project else { continue };
                    let mut ids = Vec::new();
                    for item in &items {
                        match project.components.iter().find(|c| c.id == *item || c.name.eq_ignore_ascii_case(item)) {
                            Some(c) => ids.push(c.id.clone()),
                            None => {
                                fail(format!("Component with id or name '{item}' does not exist."));
                            }
                        }
                    }
                    if ids.len() == items.len() {
                        issue.components = ids;
                    }
                }
                FieldChange::FixVersions(items) | FieldChange::AffectsVersions(items) => {
                    let Some(project) = &project else { continue };
                    let mut ids = Vec::new();
                    for item in &items {
                        match project.versions.iter().find(|v| v.id == *item || v.name == *item) {
                            Some(v) => ids.push(v.id.clone()),
                            None => fail(format!("Version with id or name '{item}' does not exist.")),
                        }
                    }
                    if ids.len() == items.len() {
                        if affects {
                            issue.versions = ids;
                        } else {
                            issue.fix_versions = ids;
                        }
                    }
                }
                FieldChange::DueDate(d) => match d {
                    None => issue.due_date = None,
                    Some(d) if valid_date(&d) => issue.due_date = Some(d),
                    Some(d) => fail(format!("Error parsing date string: {d}")),
                },
                FieldChange::Parent(p) => match p {
                    None => issue.parent = None,
                    Some(p) => match self.resolve(&p).and_then(|id| self.issue_by_id(id)) {
                        None => fail(format!("Issue '{p}' could not be found.")),
                        Some(parent) if parent.id == issue.id => {
                            fail("An issue cannot be its own parent.".to_owned());
                        }
                        Some(parent) => issue.parent = Some(parent.id),
                    },
                },
                FieldChange::Sprint(target) => match self.agile.sprint_move(&issue.sprints, target) {
                    Ok(next) => issue.sprints = next,
                    Err(message) => fail(message),
                },
                FieldChange::Resolution(r) => match r {
                    None => issue.resolution = None,
                    Some(r) => match self.catalog.resolution(&r) {
                        Some(found) => issue.resolution = Some(found.id.clone()),
                        None => fail(format!("Resolution '{r}' does not exist.")),
                    },
                },
                FieldChange::TimeTracking {
                    original,
                    remaining,
                } => super::tracking::set_estimates(issue, original, remaining),
                FieldChange::Custom(id, value) => {
                    let Some(definition) = self.catalog.custom_field(id) else {
                        fail(format!(
                            "Field '{field}' cannot be set. It is not on the appropriate screen, or unknown."
                        ));
                        continue;
                    };
                    match value {
                        None => {
                            issue.custom.remove(&id);
                        }
                        Some(value) => match self.check_custom(definition.kind, id, value) {
                            Ok(v) => {
                                issue.custom.insert(id, v);
                            }
                            Err(message) => fail(message),
                        },
                    }
                }
            }
        }
        self.check_hierarchy(issue, errors);
    }

    fn check_custom(
        &self,
        kind: CustomKind,
        id: u64,
        value: CustomValue,
    ) -> Result<CustomValue, String> {
        let field = self
            .catalog
            .custom_field(id)
            .ok_or_else(|| "Field does not exist.".to_owned())?;
        let option = |o: &str| -> Result<String, String> {
            field
                .option(o)
                .map(|f| f.id.clone())
                .ok_or_else(|| format!("Option id '{o}' is not valid"))
        };
        match (kind, value) {
            (CustomKind::Select, CustomValue::Option(o)) => Ok(CustomValue::Option(option(&o)?)),
            (CustomKind::MultiSelect, CustomValue::Options(os)) => Ok(CustomValue::Options(
                os.iter().map(|o| option(o)).collect::<Result<_, _>>()?,
            )),
            (CustomKind::Cascading, CustomValue::Cascade(p, c)) => {
                let parent = field
                    .option(&p)
                    .ok_or_else(|| format!("Option id '{p}' is not valid"))?;
                let child = match c {
                    None => None,
                    Some(c) => Some(
                        parent
                            .children
                            .iter()
                            .find(|x| x.id == c || x.value == c)
                            .map(|x| x.id.clone())
                            .ok_or_else(|| {
                                format!("Option id '{c}' is not a child of option '{}'", parent.id)
                            })?,
                    ),
                };
                Ok(CustomValue::Cascade(parent.id.clone(), child))
            }
            (CustomKind::User, CustomValue::User(a)) => self
                .catalog
                .user(&a)
                .map(|u| CustomValue::User(u.account_id.clone()))
                .ok_or_else(|| format!("User with accountId '{a}' does not exist.")),
            (CustomKind::Text, CustomValue::Text(t)) => {
                if t.chars().count() > 255 {
                    Err("The entered text is too long. It exceeds the allowed limit of 255 characters.".to_owned())
                } else {
                    Ok(CustomValue::Text(t))
                }
            }
            (CustomKind::TextArea, CustomValue::Rich(doc)) if adf::is_doc(&doc) => {
                Ok(CustomValue::Rich(doc))
            }
            (CustomKind::TextArea, CustomValue::Rich(_)) => Err(
                "Operation value must be an Atlassian Document (see the Atlassian Document Format)"
                    .to_owned(),
            ),
            (CustomKind::Number, CustomValue::Number(n)) if n.is_finite() => {
                Ok(CustomValue::Number(n))
            }
            (CustomKind::Date, CustomValue::Date(d)) if valid_date(&d) => Ok(CustomValue::Date(d)),
            (CustomKind::Date, CustomValue::Date(d)) => {
                Err(format!("Error parsing date string: {d}"))
            }
            (CustomKind::Labels, CustomValue::Labels(ls)) => {
                if let Some(bad) = ls.iter().find(|l| l.contains(char::is_whitespace)) {
                    Err(format!(
                        "The label '{bad}' contains spaces which is invalid."
                    ))
                } else {
                    Ok(CustomValue::Labels(ls))
                }
            }
            _ => Err("Operation value must be of the field's type.".to_owned()),
        }
    }

    /// Sub-tasks need a standard parent in the same project; others may have an epic parent.
    fn check_hierarchy(&self, issue: &Issue, errors: &mut Vec<(String, String)>) {
        if errors
            .iter()
            .any(|(f, _)| f == "parent" || f == "issuetype")
        {
            return;
        }
        let Some(issue_type) = self.catalog.issue_type(&issue.issue_type) else {
            return;
        };
        match issue.parent.and_then(|p| self.issue_by_id(p)) {
            None if issue_type.subtask => errors.push((
                "parent".to_owned(),
                "Sub-task issues need a parent: set the parent field.".to_owned(),
            )),
            None => {}
            Some(parent) => {
                let parent_type = self.catalog.issue_type(&parent.issue_type);
                let parent_level = parent_type.map_or(0, |t| t.hierarchy_level);
                if parent.project_id != issue.project_id && issue_type.subtask {
                    errors.push((
                        "project".to_owned(),
                        "Sub-tasks must be created in the same project as the parent.".to_owned(),
                    ));
                } else if parent_level != issue_type.hierarchy_level + 1 {
                    errors.push((
                        "parent".to_owned(),
                        "Given parent issue does not belong to appropriate hierarchy.".to_owned(),
                    ));
                }
            }
        }
    }

    /// Creates an issue (as `POST /issue`): validates every field, assigns the next key in the
    /// project, starts in the workflow's initial status (or `new.status`) and records `actor`
    /// as creator (and reporter unless set).
    pub fn create_issue(
        &mut self,
        new: NewIssue,
        actor: &str,
        now_ms: i64,
    ) -> Result<IssueRef, DataError> {
        let (issue, number) = self.build_issue(new, actor, now_ms)?;
        self.next_id += 1;
        self.next_number.insert(issue.project_id, number + 1);
        let created = IssueRef {
            id: issue.id,
            key: issue.key.clone(),
        };
        self.store(issue, now_ms);
        if let Some(issue) = self.issue_by_id(created.id) {
            self.outbox.push(|| Change {
                at_ms: now_ms,
                actor: Some(actor.to_owned()),
                issue,
                kind: ChangeKind::IssueCreated,
            });
        }
        Ok(created)
    }

    /// Checks a new issue without creating it (the errors `create_issue` would return).
    pub fn validate_new_issue(
        &self,
        new: NewIssue,
        actor: &str,
        now_ms: i64,
    ) -> Result<(), DataError> {
        self.build_issue(new, actor, now_ms).map(|_| ())
    }

    fn build_issue(
        &self,
        new: NewIssue,
        actor: &str,
        now_ms: i64,
    ) -> Result<(Issue, u64), DataError> {
        let mut errors = Vec::new();
        let project = if new.project.trim().is_empty() {
            errors.push((
                "project".to_owned(),
                "Specify a valid project ID or key".to_owned(),
            ));
            None
        } else {
            let found = self.catalog.project_by_key_or_id(&new.project).cloned();
            if found.is_none() {
                errors.push((
                    "project".to_owned(),
                    "Specify a valid project ID or key".to_owned(),
                ));
            }
            found
        };
        let issue_type = if new.issue_type.trim().is_empty() {
            errors.push(("issuetype".to_owned(), "Specify an issue type".to_owned()));
            None
        } else {
            let found = self.catalog.issue_type(&new.issue_type).cloned();
            match (&found, &project) {
                (None, _) => errors.push((
                    "issuetype".to_owned(),
                    "The issue type selected is invalid.".to_owned(),
                )),
                (Some(t), Some(p)) if !p.issue_type_ids.contains(&t.id) => {
                    errors.push((
                        "issuetype".to_owned(),
                        "The issue type selected is invalid.".to_owned(),
                    ));
                }
                _ => {}
            }
            found
        };
        if new.summary.trim().is_empty() {
            errors.push((
                "summary".to_owned(),
                "You must specify a summary of the issue.".to_owned(),
            ));
        }
        let (Some(project), Some(issue_type)) = (project, issue_type) else {
            return Err(DataError::Fields(errors));
        };
        let Some(workflow) = self.catalog.workflow_of(&project).cloned() else {
            return Err(DataError::Invalid(
                "The project has no workflow.".to_owned(),
            ));
        };
        let status = match &new.status {
            None => workflow.initial.clone(),
            Some(s) => match self
                .catalog
                .status(s)
                .filter(|st| workflow.statuses.contains(&st.id))
            {
                Some(st) => st.id.clone(),
                None => {
                    errors.push((
                        "status".to_owned(),
                        format!("Status '{s}' is not part of the project's workflow."),
                    ));
                    workflow.initial.clone()
                }
            },
        };
        let number = self.next_number.get(&project.id).copied().unwrap_or(1);
        let mut issue = Issue {
            id: self.next_id,
            key: format!("{}-{number}", project.key),
            project_id: project.id,
            issue_type: issue_type.id.clone(),
            status: status.clone(),
            summary: String::new(),
            description: None,
            environment: None,
            priority: Some("3".to_owned()),
            resolution: None,
            labels: Vec::new(),
            components: Vec::new(),
            fix_versions: Vec::new(),
            assignee: None,
            reporter: Some(actor.to_owned()),
            creator: Some(actor.to_owned()),
            created: now_ms,
            updated: now_ms,
            resolution_date: None,
            status_category_changed: now_ms,
            due_date: None,
            parent: None,
            custom: BTreeMap::new(),
            comments: Vec::new(),
            worklogs: Vec::new(),
            changelog: Vec::new(),
            properties: new.properties,
            sprints: Vec::new(),
            tracking: Tracking::default(),
            versions: Vec::new(),
        };
        let mut changes = vec![FieldChange::Summary(new.summary)];
        changes.extend(new.fields);
        self.apply_changes(&mut issue, changes, &mut errors);
        // Jira makes the reporter and the creator watch a new issue.
        for watcher in [issue.reporter.clone(), issue.creator.clone()]
            .into_iter()
            .flatten()
        {
            issue.tracking.watch(&watcher);
        }
        if self.catalog.category_of(&status) == DONE && issue.resolution.is_none() {
            issue.resolution = self.catalog.resolutions.first().map(|r| r.id.clone());
            issue.resolution_date = Some(now_ms);
        }
        if !errors.is_empty() {
            return Err(DataError::Fields(errors));
        }
        if issue.properties.len() > MAX_PROPERTIES {
            return Err(DataError::LimitReached {
                what: "properties",
                limit: MAX_PROPERTIES,
            });
        }
        Ok((issue, number))
    }

    /// Builds the change history entry between two versions of an issue.
    fn diff(&self, old: &Issue, new: &Issue) -> Vec<ChangeItem> {
        let mut items = Vec::new();
        let mut item = |field: &str,
                        id: &str,
                        fieldtype: &str,
                        from: Option<String>,
                        from_s: Option<String>,
                        to: Option<String>,
                        to_s: Option<String>| {
            items.push(ChangeItem {
                field: field.to_owned(),
                fieldtype: fieldtype.to_owned(),
                field_id: id.to_owned(),
                from,
                from_string: from_s,
                to,
                to_string: to_s,
            });
        };
        if old.summary != new.summary {
            item(
                "summary",
                "summary",
                "jira",
                None,
                Some(old.summary.clone()),
                None,
                Some(new.summary.clone()),
            );
        }
        if old.issue_type != new.issue_type {
            let name = |id: &str| self.catalog.issue_type(id).map(|t| t.name.clone());
            item(
                "issuetype",
                "issuetype",
                "jira",
                Some(old.issue_type.clone()),
                name(&old.issue_type),
                Some(new.issue_type.clone()),
                name(&new.issue_type),
            );
        }
        if old.status != new.status {
            let name = |id: &str| self.catalog.status(id).map(|s| s.name.clone());
            item(
                "status",
                "status",
                "jira",
                Some(old.status.clone()),
                name(&old.status),
                Some(new.status.clone()),
                name(&new.status),
            );
        }
        if old.resolution != new.resolution {
            let name = |id: &Option<String>| {
                id.as_deref()
                    .and_then(|r| self.catalog.resolution(r))
                    .map(|r| r.name.clone())
            };
            item(
                "resolution",
                "resolution",
                "jira",
                old.resolution.clone(),
                name(&old.resolution),
                new.resolution.clone(),
                name(&new.resolution),
            );
        }
        if old.priority != new.priority {
            let name = |id: &Option<String>| {
                id.as_deref()
                    .and_then(|p| self.catalog.priority(p))
                    .map(|p| p.name.clone())
            };
            item(
                "priority",
                "priority",
                "jira",
                old.priority.clone(),
                name(&old.priority),
                new.priority.clone(),
                name(&new.priority),
            );
        }
        for (field, a, b) in [
            ("assignee", &old.assignee, &new.assignee),
            ("reporter", &old.reporter, &new.reporter),
        ] {
            if a != b {
                let name = |id: &Option<String>| id.as_deref().and_then(|u| self.user_name(u));
                item(field, field, "jira", a.clone(), name(a), b.clone(), name(b));
            }
        }
        if old.description != new.description {
            let text = |d: &Option<Value>| d.as_ref().map(adf::to_wiki);
            item(
                "description",
                "description",
                "jira",
                None,
                text(&old.description),
                None,
                text(&new.description),
            );
        }
        if old.environment != new.environment {
            let text = |d: &Option<Value>| d.as_ref().map(adf::to_wiki);
            item(
                "environment",
                "environment",
                "jira",
                None,
                text(&old.environment),
                None,
                text(&new.environment),
            );
        }
        if old.labels != new.labels {
            item(
                "labels",
                "labels",
                "jira",
                None,
                Some(old.labels.join(" ")),
                None,
                Some(new.labels.join(" ")),
            );
        }
        if old.due_date != new.due_date {
            item(
                "duedate",
                "duedate",
                "jira",
                old.due_date.clone(),
                old.due_date.clone(),
                new.due_date.clone(),
                new.due_date.clone(),
            );
        }
        if old.parent != new.parent {
            let key =
                |id: &Option<u64>| id.and_then(|i| self.issue_by_id(i)).map(|i| i.key.clone());
            item(
                "IssueParentAssociation",
                "parent",
                "jira",
                old.parent.map(|p| p.to_string()),
                key(&old.parent),
                new.parent.map(|p| p.to_string()),
                key(&new.parent),
            );
        }
        if old.components != new.components {
            item(
                "Component",
                "components",
                "jira",
                Some(old.components.join(",")),
                None,
                Some(new.components.join(",")),
                None,
            );
        }
        if old.fix_versions != new.fix_versions {
            item(
                "Fix Version",
                "fixVersions",
                "jira",
                Some(old.fix_versions.join(",")),
                None,
                Some(new.fix_versions.join(",")),
                None,
            );
        }
        super::tracking::diff_times(old, new, &mut item);
        if old.versions != new.versions {
            item(
                "Version",
                "versions",
                "jira",
                Some(old.versions.join(",")),
                None,
                Some(new.versions.join(",")),
                None,
            );
        }
        let ids: BTreeSet<u64> = old
            .custom
            .keys()
            .chain(new.custom.keys())
            .copied()
            .collect();
        for id in ids {
            let (a, b) = (old.custom.get(&id), new.custom.get(&id));
            if a != b {
                let name = self
                    .catalog
                    .custom_field(id)
                    .map_or_else(|| format!("customfield_{id}"), |f| f.name.clone());
                let show = |v: Option<&CustomValue>| v.map(|v| self.custom_display(id, v));
                item(
                    &name,
                    &format!("customfield_{id}"),
                    "custom",
                    None,
                    show(a),
                    None,
                    show(b),
                );
            }
        }
        if old.sprints != new.sprints {
            items.push(self.agile.sprint_change(&old.sprints, &new.sprints));
        }
        items
    }

    /// A custom value as display text (for change history).
    pub fn custom_display(&self, id: u64, value: &CustomValue) -> String {
        let field = self.catalog.custom_field(id);
        let option = |o: &str| {
            field
                .and_then(|f| f.option_by_id(o))
                .map_or_else(|| o.to_owned(), |x| x.value.clone())
        };
        match value {
            CustomValue::Option(o) => option(o),
            CustomValue::Options(os) => os.iter().map(|o| option(o)).collect::<Vec<_>>().join(","),
            CustomValue::Cascade(p, c) => match c {
                Some(c) => format!(
                    "Parent values: {}({p})Level 1 values: {}({c})",
                    option(p),
                    option(c)
                ),
                None => format!("Parent values: {}({p})", option(p)),
            },
            CustomValue::User(a) => self.user_name(a).unwrap_or_else(|| a.clone()),
            CustomValue::Text(t) | CustomValue::Date(t) => t.clone(),
            CustomValue::Rich(doc) => adf::to_wiki(doc),
            CustomValue::Number(n) => format_number(*n),
            CustomValue::Labels(ls) => ls.join(" "),
        }
    }

    /// Applies `f` to a copy of the current issue and stores the result as a new version,
    /// recording a change-history entry for changed fields when `actor` is given.
    pub(crate) fn write(
        &mut self,
        id: u64,
        actor: Option<&str>,
        now_ms: i64,
        touch_updated: bool,
        f: impl FnOnce(&Self, &mut Issue) -> Result<(), DataError>,
    ) -> Result<Arc<Issue>, DataError> {
        self.write_as(id, actor, now_ms, touch_updated, None, f)
    }

    /// [`SiteData::write`] for writes that name their own `issue_event_type_name` (comments,
    /// worklogs): with `event_type`, an issue update is recorded for webhooks even when no
    /// change history is; without, only when one is.
    pub(crate) fn write_as(
        &mut self,
        id: u64,
        actor: Option<&str>,
        now_ms: i64,
        touch_updated: bool,
        event_type: Option<&'static str>,
        f: impl FnOnce(&Self, &mut Issue) -> Result<(), DataError>,
    ) -> Result<Arc<Issue>, DataError> {
        let old = self
            .issue_by_id(id)
            .ok_or_else(|| DataError::IssueNotFound(id.to_string()))?;
        let mut issue = (*old).clone();
        f(self, &mut issue)?;
        let items = self.diff(&old, &issue);
        if !items.is_empty() {
            let history_id = self.next_history;
            self.next_history += 1;
            issue.changelog.push(History {
                id: history_id,
                author: actor.map(str::to_owned),
                created: now_ms,
                items,
            });
        }
        if self.catalog.category_of(&old.status) != self.catalog.category_of(&issue.status) {
            issue.status_category_changed = now_ms;
        }
        if touch_updated {
            issue.updated = issue.updated.max(now_ms);
        }
        let history = (issue.changelog.len() > old.changelog.len())
            .then(|| issue.changelog.last().cloned())
            .flatten();
        self.store(issue, now_ms);
        let stored = self
            .issue_by_id(id)
            .ok_or_else(|| DataError::IssueNotFound(id.to_string()))?;
        if history.is_some() || event_type.is_some() {
            let actor = actor
                .map(str::to_owned)
                .or_else(|| history.as_ref().and_then(|h| h.author.clone()));
            self.outbox.push(|| Change {
                at_ms: now_ms,
                actor,
                issue: stored.clone(),
                kind: ChangeKind::IssueUpdated {
                    history,
                    event_type,
                },
            });
        }
        Ok(stored)
    }

    /// Edits fields (as `PUT /issue`), recording history.
    pub fn edit_issue(
        &mut self,
        id: u64,
        changes: Vec<FieldChange>,
        actor: &str,
        now_ms: i64,
    ) -> Result<Arc<Issue>, DataError> {
        self.write(id, Some(actor), now_ms, true, |data, issue| {
            let mut errors = Vec::new();
            data.apply_changes(issue, changes, &mut errors);
            if errors.is_empty() {
                Ok(())
            } else {
                Err(DataError::Fields(errors))
            }
        })
    }

    /// Moves an issue through a workflow transition, then applies `changes` (the transition
    /// screen's fields). Entering a `done` status sets the resolution (`Done` unless given) and
    /// leaving one clears it.
    pub fn transition_issue(
        &mut self,
        id: u64,
        transition_id: &str,
        changes: Vec<FieldChange>,
        actor: &str,
        now_ms: i64,
    ) -> Result<Arc<Issue>, DataError> {
        let issue = self
            .issue_by_id(id)
            .ok_or_else(|| DataError::IssueNotFound(id.to_string()))?;
        let target = self
            .transitions_for(&issue)
            .into_iter()
            .find(|t| t.id == transition_id)
            .map(|t| t.to)
            .ok_or_else(|| DataError::InvalidTransition(transition_id.to_owned()))?;
        self.write(id, Some(actor), now_ms, true, |data, issue| {
            let was_done = data.catalog.category_of(&issue.status) == DONE;
            issue.status = target.clone();
            let mut errors = Vec::new();
            data.apply_changes(issue, changes, &mut errors);
            if !errors.is_empty() {
                return Err(DataError::Fields(errors));
            }
            let done = data.catalog.category_of(&issue.status) == DONE;
            if done && issue.resolution.is_none() {
                issue.resolution = data.catalog.resolutions.first().map(|r| r.id.clone());
            }
            if done && !was_done {
                issue.resolution_date = Some(now_ms);
            }
            if !done {
                issue.resolution = None;
                issue.resolution_date = None;
            }
            Ok(())
        })
    }

    /// Records a change Jira keeps outside the fields modelled here (such as JSM request
    /// participants) as one history entry by `actor`; `updated` moves to now.
    pub fn record_change(
        &mut self,
        id: u64,
        items: Vec<ChangeItem>,
        actor: &str,
        now_ms: i64,
    ) -> Result<Arc<Issue>, DataError> {
        let history_id = self.next_history;
        let issue = self.write(id, Some(actor), now_ms, true, |_, issue| {
            issue.changelog.push(History {
                id: history_id,
                author: Some(actor.to_owned()),
                created: now_ms,
                items,
            });
            Ok(())
        })?;
        self.next_history = self.next_history.max(history_id + 1);
        Ok(issue)
    }

    /// Transitions available to an issue from its current status.
    pub fn transitions_for(&self, issue: &Issue) -> Vec<super::model::Transition> {
        self.catalog
            .project(issue.project_id)
            .and_then(|p| self.catalog.workflow_of(p))
            .map(|w| w.available_from(&issue.status).cloned().collect())
            .unwrap_or_default()
    }

    /// Deletes an issue. An issue with sub-tasks needs `delete_subtasks`, which deletes them too.
    pub fn delete_issue(
        &mut self,
        id: u64,
        delete_subtasks: bool,
        actor: &str,
        now_ms: i64,
    ) -> Result<Vec<u64>, DataError> {
        if !self.exists(id) {
            return Err(DataError::IssueNotFound(id.to_string()));
        }
        // Child issues of an epic stay, without their parent; only sub-tasks go with it.
        let (subtasks, children): (Vec<u64>, Vec<u64>) =
            self.subtasks(id).into_iter().partition(|child| {
                self.link_view(*child)
                    .and_then(|v| self.catalog.issue_type(&v.issue_type).map(|t| t.subtask))
                    .unwrap_or(true)
            });
        if !subtasks.is_empty() && !delete_subtasks {
            return Err(DataError::Invalid(
                "The issue has subtasks. To delete them too, set deleteSubtasks to true."
                    .to_owned(),
            ));
        }
        let mut removed = vec![id];
        removed.extend(subtasks);
        for gone in &removed {
            if let Some(issue) = self.issue_by_id(*gone) {
                for w in &issue.worklogs {
                    self.track.worklog_deleted(w.id, now_ms);
                }
                self.outbox.push(|| Change {
                    at_ms: now_ms,
                    actor: Some(actor.to_owned()),
                    issue,
                    kind: ChangeKind::IssueDeleted,
                });
            }
        }
        for gone in &removed {
            self.deleted.insert(*gone, now_ms);
            self.touch(*gone);
        }
        self.forget_issues(&removed);
        for child in children {
            self.write(child, None, now_ms, true, |_, issue| {
                issue.parent = None;
                Ok(())
            })?;
        }
        self.revision += 1;
        Ok(removed)
    }

    /// Adds a comment; `updated` moves to now.
    pub fn add_comment(
        &mut self,
        id: u64,
        new: NewComment,
        author: &str,
        now_ms: i64,
    ) -> Result<Comment, DataError> {
        if !adf::is_doc(&new.body) {
            return Err(DataError::Fields(vec![(
                "comment".to_owned(),
                "Comment body can not be empty!".to_owned(),
            )]));
        }
        let comment_id = self.next_comment;
        let comment = Comment {
            id: comment_id,
            author: author.to_owned(),
            update_author: author.to_owned(),
            body: new.body,
            created: now_ms,
            updated: now_ms,
            visibility: new.visibility,
            jsd_public: new.public,
        };
        let added = comment.clone();
        let issue = self.write_as(
            id,
            Some(author),
            now_ms,
            true,
            Some("issue_commented"),
            |_, issue| {
                if issue.comments.len() >= MAX_COMMENTS {
                    return Err(DataError::LimitReached {
                        what: "comments",
                        limit: MAX_COMMENTS,
                    });
                }
                issue.comments.push(comment);
                issue.tracking.watch(author);
                Ok(())
            },
        )?;
        self.next_comment += 1;
        self.outbox.push(|| Change {
            at_ms: now_ms,
            actor: Some(author.to_owned()),
            issue,
            kind: ChangeKind::CommentCreated(added.clone()),
        });
        Ok(added)
    }

    /// Replaces a comment's body (and visibility when given).
    pub fn update_comment(
        &mut self,
        id: u64,
        comment_id: u64,
        body: Value,
        visibility: Option<Value>,
        author: &str,
        now_ms: i64,
    ) -> Result<Comment, DataError> {
        if !adf::is_doc(&body) {
            return Err(DataError::Fields(vec![(
                "comment".to_owned(),
                "Comment body can not be empty!".to_owned(),
            )]));
        }
        let issue = self.write_as(
            id,
            Some(author),
            now_ms,
            true,
            Some("issue_comment_edited"),
            |_, issue| {
                let comment = issue
                    .comments
                    .iter_mut()
                    .find(|c| c.id == comment_id)
                    .ok_or_else(|| DataError::ItemNotFound(format!("comment {comment_id}")))?;
                comment.body = body;
                if visibility.is_some() {
                    comment.visibility = visibility;
                }
                comment.update_author = author.to_owned();
                comment.updated = now_ms;
                Ok(())
            },
        )?;
        let updated = issue
            .comments
            .iter()
            .find(|c| c.id == comment_id)
            .cloned()
            .ok_or_else(|| DataError::ItemNotFound(format!("comment {comment_id}")))?;
        self.outbox.push(|| Change {
            at_ms: now_ms,
            actor: Some(author.to_owned()),
            issue,
            kind: ChangeKind::CommentUpdated(updated.clone()),
        });
        Ok(updated)
    }

    /// Deletes a comment.
    pub fn delete_comment(
        &mut self,
        id: u64,
        comment_id: u64,
        actor: &str,
        now_ms: i64,
    ) -> Result<(), DataError> {
        let mut removed = None;
        let issue = self.write_as(
            id,
            Some(actor),
            now_ms,
            true,
            Some("issue_comment_deleted"),
            |_, issue| {
                let at = issue
                    .comments
                    .iter()
                    .position(|c| c.id == comment_id)
                    .ok_or_else(|| DataError::ItemNotFound(format!("comment {comment_id}")))?;
                removed = Some(issue.comments.remove(at));
                Ok(())
            },
        )?;
        if let Some(comment) = removed {
            self.outbox.push(|| Change {
                at_ms: now_ms,
                actor: Some(actor.to_owned()),
                issue,
                kind: ChangeKind::CommentDeleted(comment),
            });
        }
        Ok(())
    }

    /// Logs work, reducing the remaining estimate by the time spent (Jira's `auto`).
    pub fn add_worklog(
        &mut self,
        id: u64,
        new: NewWorklog,
        author: &str,
        now_ms: i64,
    ) -> Result<Worklog, DataError> {
        self.log_work(id, new, super::tracking::Adjust::Auto, author, now_ms)
    }

    /// Sets an issue property; `true` when it was created (201), `false` when replaced (200).
    pub fn set_property(
        &mut self,
        id: u64,
        key: &str,
        value: Value,
        now_ms: i64,
    ) -> Result<bool, DataError> {
        let mut created = false;
        self.write(id, None, now_ms, false, |_, issue| {
            created = !issue.properties.contains_key(key);
            if created && issue.properties.len() >= MAX_PROPERTIES {
                return Err(DataError::LimitReached {
                    what: "properties",
                    limit: MAX_PROPERTIES,
                });
            }
            issue.properties.insert(key.to_owned(), value);
            Ok(())
        })?;
        Ok(created)
    }

    /// Deletes an issue property.
    pub fn delete_property(&mut self, id: u64, key: &str, now_ms: i64) -> Result<(), DataError> {
        self.write(id, None, now_ms, false, |_, issue| {
            issue
                .properties
                .remove(key)
                .map(|_| ())
                .ok_or_else(|| DataError::ItemNotFound(format!("property {key}")))
        })
        .map(|_| ())
    }

    /// Replaces the overlay with dumped issues (used by `load`).
    pub(crate) fn restore(&mut self, issues: Vec<(i64, Issue)>, deleted: BTreeMap<u64, i64>) {
        for (at, issue) in issues {
            let id = issue.id;
            self.track.index_issue(None, &issue);
            let texts = self.custom_texts(&issue);
            if self.index_of_id(id).is_none() {
                self.keys.insert(issue.key.to_ascii_uppercase(), id);
            } else {
                self.touch(id);
            }
            if let Some(parent) = issue.parent {
                self.children.entry(parent).or_default().insert(id);
            }
            self.overlay.insert(
                id,
                Stored {
                    versions: vec![IssueVersion {
                        at,
                        issue: Arc::new(issue),
                        texts,
                    }],
                },
            );
        }
        for (id, at) in deleted {
            self.touch(id);
            self.deleted.insert(id, at);
        }
        self.revision += 1;
    }
}

/// Numbers as Jira shows them: integers without a fraction.
pub fn format_number(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{n:.0}")
    } else {
        n.to_string()
    }
}

/// Whether `text` is a valid `YYYY-MM-DD` date.
pub fn valid_date(text: &str) -> bool {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(text, &format).is_ok()
}

#[cfg(test)]
pub(crate) mod tests {
    use serde_json::json;

    use super::*;

    const NOW: i64 = 1_767_605_400_000;

    /// A small generated site (fixture shared with the search tests).
    pub(crate) fn site() -> SiteData {
        SiteData::generate(
            1,
            "demo",
            DataSize::Small,
            1_767_571_200_000,
            Vec::new(),
            None,
        )
    }

    fn actor(data: &SiteData) -> String {
        data.users()[0].account_id.clone()
    }

    #[test]
    fn keys_and_ids_resolve_both_ways() {
        let data = site();
        let issue = data.issue("demo-3").expect("generated issue");
        assert_eq!(issue.key, "DEMO-3");
        assert_eq!(data.resolve(&issue.id.to_string()), Some(issue.id));
        assert!(data.issue("DEMO-999").is_none());
        assert!(data.issue("NOPE-1").is_none());
    }

    #[test]
    fn create_assigns_the_next_key_and_validates_fields() {
        let mut data = site();
        let who = actor(&data);
        let created = data
            .create_issue(
                NewIssue {
                    project: "DEMO".to_owned(),
                    issue_type: "Task".to_owned(),
                    summary: "New work".to_owned(),
                    fields: vec![FieldChange::Labels(vec!["x".to_owned()])],
                    ..NewIssue::default()
                },
                &who,
                NOW,
            )
            .expect("created");
        let count = data.generator.count_of(0);
        assert_eq!(created.key, format!("DEMO-{}", count + 1));
        let issue = data.issue(&created.key).expect("stored");
        assert_eq!(issue.status, "10000");
        assert_eq!(issue.reporter.as_deref(), Some(who.as_str()));

        let err = data
            .create_issue(
                NewIssue {
                    project: "DEMO".to_owned(),
                    issue_type: "Sub-task".to_owned(),
                    summary: String::new(),
                    fields: vec![FieldChange::Priority(Some("Urgentest".to_owned()))],
                    ..NewIssue::default()
                },
                &who,
                NOW,
            )
            .expect_err("invalid");
        let DataError::Fields(errors) = err else {
            panic!("field errors expected")
        };
        let fields: Vec<&str> = errors.iter().map(|(f, _)| f.as_str()).collect();
        assert!(fields.contains(&"summary"), "{errors:?}");
        assert!(fields.contains(&"priority"), "{errors:?}");
    }

    #[test]
    fn edits_record_history_and_keep_versions() {
        let mut data = site();
        let who = actor(&data);
        let id = data.resolve("DEMO-2").expect("exists");
        let before = data.issue_by_id(id).expect("issue");
        let edited = data
            .edit_issue(
                id,
                vec![FieldChange::Summary("Renamed".to_owned())],
                &who,
                NOW,
            )
            .expect("edited");
        assert_eq!(edited.summary, "Renamed");
        assert_eq!(edited.changelog.len(), before.changelog.len() + 1);
        let last = edited.changelog.last().expect("history");
        assert_eq!(
            last.items[0].from_string.as_deref(),
            Some(before.summary.as_str())
        );
        let stored = &data.overlay[&id];
        assert_eq!(stored.versions.len(), 2, "original and edit");
        assert_eq!(
            stored.visible_at(NOW - 1).map(|v| v.issue.summary.clone()),
            Some(before.summary.clone())
        );
    }

    #[test]
    fn transitions_follow_the_workflow() {
        let mut data = site();
        let who = actor(&data);
        let created = data
            .create_issue(
                NewIssue {
                    project: "DEMO".to_owned(),
                    issue_type: "Task".to_owned(),
                    summary: "Flow".to_owned(),
                    ..NewIssue::default()
                },
                &who,
                NOW,
            )
            .expect("created");
        let err = data.transition_issue(created.id, "31", Vec::new(), &who, NOW);
        assert!(
            matches!(err, Err(DataError::InvalidTransition(_))),
            "To Do cannot go straight to Done"
        );
        data.transition_issue(created.id, "11", Vec::new(), &who, NOW)
            .expect("start");
        let done = data
            .transition_issue(created.id, "31", Vec::new(), &who, NOW)
            .expect("done");
        assert_eq!(done.status, "10002");
        assert_eq!(done.resolution.as_deref(), Some("10000"));
        let reopened = data
            .transition_issue(created.id, "51", Vec::new(), &who, NOW)
            .expect("reopen");
        assert_eq!(reopened.resolution, None);
    }

    #[test]
    fn deleting_a_parent_needs_delete_subtasks() {
        let mut data = site();
        let parent = (0..data.generated_count())
            .map(|i| FIRST_ISSUE_ID + i)
            .find(|id| !data.subtasks(*id).is_empty())
            .expect("a generated parent");
        let subtasks = data.subtasks(parent);
        assert!(matches!(
            data.delete_issue(parent, false, "tester", NOW),
            Err(DataError::Invalid(_))
        ));
        let removed = data
            .delete_issue(parent, true, "tester", NOW)
            .expect("deleted");
        assert_eq!(removed.len(), 1 + subtasks.len());
        assert!(data.issue_by_id(parent).is_none());
        assert!(subtasks.iter().all(|s| data.issue_by_id(*s).is_none()));
    }

    #[test]
    fn comments_and_properties() {
        let mut data = site();
        let who = actor(&data);
        let id = data.resolve("MKT-1").expect("exists");
        let body = json!({"type":"doc","version":1,"content":[]});
        let comment = data
            .add_comment(
                id,
                NewComment {
                    body: body.clone(),
                    visibility: None,
                    public: true,
                },
                &who,
                NOW,
            )
            .expect("comment");
        assert!(
            data.issue_by_id(id)
                .expect("issue")
                .comments
                .iter()
                .any(|c| c.id == comment.id)
        );
        data.delete_comment(id, comment.id, "tester", NOW)
            .expect("deleted");
        assert!(matches!(
            data.delete_comment(id, comment.id, "tester", NOW),
            Err(DataError::ItemNotFound(_))
        ));
        assert!(data.set_property(id, "k", json!(1), NOW).expect("set"));
        assert!(!data.set_property(id, "k", json!(2), NOW).expect("replaced"));
        data.delete_property(id, "k", NOW).expect("deleted");
    }
}
