//! The Jira data of every simulated site: configuration, issues and their history.
//!
//! # Using it from a product module
//!
//! ```ignore
//! use jiralink_sim::data::{self, NewIssue, FieldChange, NewComment};
//!
//! let site = data::site(&state, &caller.site);          // Arc<SiteEntry>, generated on first use
//! {
//!     let data = site.read();                              // RwLock read guard over SiteData
//!     let desks = data.projects().iter().filter(|p| p.project_type_key == "service_desk");
//!     let issue = data.issue("HELP-3");                    // Option<Arc<Issue>>, by key or id
//! }
//! let now = data::now_ms(&state);
//! let created = site.write().create_issue(
//!     NewIssue { project: "HELP".into(), issue_type: "Service Request".into(),
//!                summary: "Need a laptop".into(), ..NewIssue::default() },
//!     &caller.user.account_id, now)?;                      // IssueRef { id, key }
//! site.write().add_comment(created.id,
//!     NewComment { body: data::adf::from_wiki("Thanks"), visibility: None, public: true },
//!     &caller.user.account_id, now)?;
//! ```
//!
//! Take a guard, read or change, drop it; never hold one across an `.await`, and never call
//! [`site`] while holding one (it may take the directory lock).
//!
//! | Need | Call |
//! |---|---|
//! | projects | [`SiteData::projects`], [`SiteData::project_by_key_or_id`] |
//! | issue types, statuses, workflows, fields, priorities | [`SiteData::catalog`] ([`Catalog`]) |
//! | users | [`SiteData::users`], [`SiteData::user`] |
//! | read an issue | [`SiteData::issue`] (id or key), [`SiteData::issue_by_id`], [`SiteData::resolve`] |
//! | create / edit / transition / delete | [`SiteData::create_issue`], [`SiteData::edit_issue`], [`SiteData::transition_issue`], [`SiteData::transitions_for`], [`SiteData::delete_issue`] |
//! | comments, worklogs, properties | [`SiteData::add_comment`], [`SiteData::update_comment`], [`SiteData::delete_comment`], [`SiteData::add_worklog`], [`SiteData::set_property`], [`SiteData::delete_property`] |
//! | issue links, link types, remote links, attachments | [`links`]: [`SiteData::links_of`], [`SiteData::link_types`], [`SiteData::attachments_of`], [`SiteData::remote_links_of`] |
//! | versions, components (writable), their issue counts | [`SiteData::version`], [`SiteData::component`], [`SiteData::create_version`], [`SiteData::update_version`], [`SiteData::delete_version`] (and `_component`), [`SiteData::part_counts`], [`SiteData::row_parts`] (a generated row's parts as reads build them; what JQL reads) ([`parts`]) |
//! | groups, `membersOf()` | [`SiteData::groups`], [`SiteData::find_group`], [`SiteData::groups_of`], [`SiteData::is_member`], [`SiteData::group_members`] ([`groups`]) |
//! | labels in use | [`SiteData::labels`] |
//! | JQL | [`SiteData::search`], [`SiteData::count`] with [`SiteContext`] |
//! | watchers, votes, time tracking | [`SiteData::watchers_of`], [`SiteData::is_watching`], [`SiteData::voters_of`], [`SiteData::tracking_of`], [`SiteData::aggregate_times`], [`SiteData::add_watcher`], [`SiteData::add_vote`], [`SiteData::log_work`], [`SiteData::update_worklog`], [`SiteData::delete_worklog`] |
//! | site-wide worklogs and comments | [`SiteData::worklog_by_id`], [`SiteData::comment_by_id`], [`SiteData::worklogs_updated`], [`SiteData::worklogs_deleted`], [`SiteData::notifications`] |
//! | rich text | [`adf`]: ADF ↔ wiki markup, plain text, HTML |
//! | boards, sprints, saved filters (Jira Software) | [`SiteData::agile`], [`SiteData::sprint_ids`], [`SiteData::sprint_ids_of_row`], [`SiteData::sprint_state`], [`SiteData::sprint_ids_named`], [`SiteData::move_to_sprint`], [`SiteData::epic_of`] (see [`crate::agile`]) |
//!
//! Every write records the change history Jira would (fields changed, who, when), moves
//! `updated`, and is visible to reads at once and to JQL search after the `index_lag_secs` knob.
//! Writers should call [`crate::state::SimState::check_issue_write`] first.
//!
//! # What is generated
//!
//! From `(seed, subdomain, size)`, deterministically (see [`generate`]): projects (software,
//! business and the service desk `HELP` with `projectTypeKey: "service_desk"`), issue types
//! (Epic, Story, Task, Bug, Sub-task, Service Request, Incident), statuses in three categories,
//! one workflow per project type, priorities, resolutions, nine custom fields (number, select,
//! multi-select, cascading, user, text, paragraph, date, labels), users (the site's seeded
//! members alice, bob, carol, then generated people) and issues with descriptions, comments,
//! worklogs, properties and a change history consistent with their current values, issue links
//! between neighbouring issues and attachments (see [`links`]).
//!
//! | Size | Projects | Issues | Generated users |
//! |---|---|---|---|
//! | `small` (default) | 4 | 96 | 12 |
//! | `medium` | 6 | 5,000 | 40 |
//! | `large` | 8 | 1,000,000 | 200 |
//!
//! The default site uses `SimConfig::size`; other sites are always `small`. Generated issues are
//! computed on demand and never stored, so a million-issue site costs a few megabytes until it
//! is changed; the overlay keeps changed, created and deleted issues.
//!
//! # Dump and load
//!
//! [`dump`] (and `GET /_sim/state/dump`, `Control::dump_data`) writes every site's seed, size,
//! anchor, counters, overlay issues and deleted ids as JSON. Unchanged generated issues are not
//! listed: [`load`] regenerates them from the seed and replays the overlay. Versions older than
//! the current one (kept for index lag) are not dumped, so after a load every issue is indexed.

pub mod adf;
pub mod changes;
pub mod dump;
pub mod error;
pub mod generate;
pub mod groups;
pub mod links;
pub mod model;
pub mod parts;
pub mod search;
pub mod store;
pub mod tracking;

use std::collections::HashMap;
use std::ops::{Deref, DerefMut};
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard};

pub use changes::{Change, ChangeFeed, ChangeKind};
pub use error::DataError;
pub use generate::Catalog;
pub use model::{
    ChangeItem, Comment, Component, CustomField, CustomKind, CustomValue, FieldOption, History,
    Issue, IssueRef, IssueType, Priority, Project, Resolution, SiteUser, Status, StatusCategory,
    Tracking, Transition, Version, Workflow, Worklog,
};
pub use search::{Consistency, Searcher, SiteContext};
pub use store::{FieldChange, LinkView, NewComment, NewIssue, NewWorklog, SiteData};
pub use tracking::{Adjust, Notification, WorklogEdit};

use crate::config::DataSize;
use crate::identity::{DEFAULT_SITE, Directory, Site};
use crate::state::{SimState, lock};

/// One site's data with the caches the platform API keeps beside it.
#[derive(Debug)]
pub struct SiteEntry {
    data: RwLock<SiteData>,
    /// Search snapshots for `nextPageToken` paging (owned by the platform search).
    pub searches: Mutex<crate::platform::search::SearchCache>,
    feed: Arc<ChangeFeed>,
}

/// Exclusive access to a site's data; when dropped, the changes the writes recorded go to the
/// [`ChangeFeed`] (see [`changes`]) before the lock is released.
#[derive(Debug)]
pub struct SiteWrite<'a> {
    guard: RwLockWriteGuard<'a, SiteData>,
    feed: &'a ChangeFeed,
}

impl Deref for SiteWrite<'_> {
    type Target = SiteData;

    fn deref(&self) -> &SiteData {
        &self.guard
    }
}

impl DerefMut for SiteWrite<'_> {
    fn deref_mut(&mut self) -> &mut SiteData {
        &mut self.guard
    }
}

impl Drop for SiteWrite<'_> {
    fn drop(&mut self) {
        let changes = self.guard.outbox.take();
        self.feed.publish(&self.guard, &changes);
    }
}

impl SiteEntry {
    fn new(data: SiteData, feed: Arc<ChangeFeed>) -> Self {
        Self {
            data: RwLock::new(data),
            searches: Mutex::new(crate::platform::search::SearchCache::default()),
            feed,
        }
    }

    /// Shared read access.
    pub fn read(&self) -> RwLockReadGuard<'_, SiteData> {
        self.data
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Exclusive write access.
    pub fn write(&self) -> SiteWrite<'_> {
        let mut guard = self
            .data
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        guard.outbox.set_enabled(self.feed.wanted());
        SiteWrite {
            guard,
            feed: &self.feed,
        }
    }

    /// Replaces the data (load) and forgets search snapshots.
    pub fn replace(&self, data: SiteData) {
        *self.write() = data;
        *lock(&self.searches) = crate::platform::search::SearchCache::default();
    }
}

/// Every site's data, in the state's typed slot.
#[derive(Debug, Default)]
pub struct Sites {
    map: Mutex<HashMap<String, Arc<SiteEntry>>>,
}

/// Current simulated time in epoch milliseconds.
pub fn now_ms(state: &SimState) -> i64 {
    let nanos = state.now().unix_timestamp_nanos() / 1_000_000;
    i64::try_from(nanos).unwrap_or(i64::MAX)
}

/// The size a site is generated with.
pub fn size_for(state: &SimState, subdomain: &str) -> DataSize {
    if subdomain == DEFAULT_SITE {
        state.config().size
    } else {
        DataSize::Small
    }
}

/// The site's seeded directory members (alice, bob, carol on `demo`) as issue users.
fn seeded_members(seed: u64, subdomain: &str) -> Vec<SiteUser> {
    let (directory, _) = Directory::seeded(seed, &[]);
    let Some(site) = directory.sites.get(subdomain) else {
        return Vec::new();
    };
    site.members
        .iter()
        .filter_map(|id| directory.users.get(id))
        .map(site_user)
        .collect()
}

fn site_user(u: &crate::identity::User) -> SiteUser {
    SiteUser {
        account_id: u.account_id.clone(),
        display_name: u.display_name.clone(),
        email: u.email.clone(),
        active: u.active,
        time_zone: u.time_zone.clone(),
        locale: u.locale.clone(),
    }
}

/// Generates a site's data as the simulator would on first use.
pub fn generate_site(state: &SimState, subdomain: &str, total: Option<u64>) -> SiteData {
    let seed = state.config().seed;
    let day = 86_400_000;
    let anchor = now_ms(state).div_euclid(day) * day;
    SiteData::generate(
        seed,
        subdomain,
        size_for(state, subdomain),
        anchor,
        seeded_members(seed, subdomain),
        total,
    )
}

/// The data of `site`, generated on first use. Members that joined the site after generation
/// (through the control API) are added as users.
pub fn site(state: &SimState, site: &Site) -> Arc<SiteEntry> {
    let sites = state.shared(Sites::default);
    let entry = {
        let mut map = lock(&sites.map);
        map.entry(site.subdomain.clone())
            .or_insert_with(|| {
                Arc::new(SiteEntry::new(
                    generate_site(state, &site.subdomain, None),
                    state.shared(ChangeFeed::default),
                ))
            })
            .clone()
    };
    let missing: Vec<String> = {
        let data = entry.read();
        site.members
            .iter()
            .filter(|m| data.user(m).is_none() || !data.knows_directory_groups(m))
            .cloned()
            .collect()
    };
    if !missing.is_empty() {
        let users: Vec<(SiteUser, Vec<String>)> = {
            let directory = state.directory();
            missing
                .iter()
                .filter_map(|id| directory.users.get(id))
                .map(|u| (site_user(u), u.groups.clone()))
                .collect()
        };
        let mut data = entry.write();
        for (user, groups) in users {
            data.note_directory_groups(&user.account_id, &groups);
            data.add_user(user);
        }
    }
    entry
}

/// The data of a site by subdomain, if the site exists.
pub fn site_by_subdomain(state: &SimState, subdomain: &str) -> Option<Arc<SiteEntry>> {
    let found = state.directory().sites.get(subdomain).cloned()?;
    Some(site(state, &found))
}

pub use dump::{dump, load};
