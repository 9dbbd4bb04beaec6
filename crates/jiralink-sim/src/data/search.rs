//! JQL over a site: the [`JqlContext`] of a site and the search itself.
//!
//! Generated issues are evaluated lazily from their [`GenRow`] (a few hashes each, no
//! allocation), overlay issues from the version the index holds: an issue written less than
//! `lag` ago shows its previous version (or is missing when it was just created) unless its id
//! is reconciled. Deleted issues disappear at once, as a search hit that can no longer be loaded
//! is dropped by Jira too.

use std::collections::BTreeSet;

use super::adf;
use super::generate::GenRow;
use super::links::Direction as LinkDirection;
use super::model::FIRST_ISSUE_ID;
use super::model::{CustomKind, CustomValue};
use super::store::{IssueVersion, SiteData};
use crate::agile::model::SprintState;
use crate::jql::{
    Compiled, CustomFieldType, IdField, IssueRef, JqlContext, JqlIssue, JqlVersion, ListField,
    SprintStateFilter, TextField, day_number,
};

/// The searching account and time.
#[derive(Debug, Clone)]
pub struct Searcher<'a> {
    /// Account id, or `None` for anonymous.
    pub account_id: Option<&'a str>,
    /// IANA zone for JQL dates.
    pub time_zone: &'a str,
    /// Now (ms).
    pub now_ms: i64,
}

/// [`JqlContext`] over a site for one searcher.
#[derive(Debug)]
pub struct SiteContext<'a> {
    data: &'a SiteData,
    searcher: Searcher<'a>,
}

impl<'a> SiteContext<'a> {
    /// The context for `searcher` on `data`.
    pub fn new(data: &'a SiteData, searcher: Searcher<'a>) -> Self {
        Self { data, searcher }
    }
}

impl JqlContext for SiteContext<'_> {
    fn project_id(&self, key_id_or_name: &str) -> Option<u64> {
        self.data.project_by_key_or_id(key_id_or_name).map(|p| p.id)
    }

    fn status_exists(&self, name_or_id: &str) -> bool {
        self.data.catalog.status(name_or_id).is_some()
    }

    fn issue_type_exists(&self, name_or_id: &str) -> bool {
        self.data.catalog.issue_type(name_or_id).is_some()
    }

    fn find_issue(&self, key_or_id: &str) -> Option<IssueRef> {
        let id = self.data.resolve(key_or_id)?;
        let key = self.data.issue_by_id(id)?.key.clone();
        Some(IssueRef { id, key })
    }

    fn users_matching(&self, text: &str) -> Vec<String> {
        self.data
            .users()
            .iter()
            .filter(|u| {
                u.account_id == text
                    || u.email.eq_ignore_ascii_case(text)
                    || u.display_name.eq_ignore_ascii_case(text)
            })
            .map(|u| u.account_id.clone())
            .collect()
    }

    fn current_user_account_id(&self) -> Option<&str> {
        self.searcher.account_id
    }

    fn now_ms(&self) -> i64 {
        self.searcher.now_ms
    }

    fn time_zone(&self) -> &str {
        self.searcher.time_zone
    }

    fn custom_field_by_name(&self, name: &str) -> Option<u64> {
        let name = name.trim();
        self.data
            .catalog
            .custom_fields
            .iter()
            .find(|f| f.name.eq_ignore_ascii_case(name))
            .map(|f| f.id)
            .or_else(|| {
                name.strip_prefix("customfield_")
                    .and_then(|n| n.parse().ok())
                    .filter(|id| self.data.catalog.custom_field(*id).is_some())
            })
    }

    fn custom_field_exists(&self, id: u64) -> bool {
        self.data.catalog.custom_field(id).is_some()
    }

    fn custom_field_type(&self, id: u64) -> CustomFieldType {
        match self.data.catalog.custom_field(id).map(|f| f.kind) {
            Some(CustomKind::Number) => CustomFieldType::Number,
            Some(CustomKind::User) => CustomFieldType::User,
            Some(CustomKind::Date) => CustomFieldType::Date,
            _ => CustomFieldType::Text,
        }
    }

    fn text_custom_fields(&self) -> Vec<u64> {
        self.data
            .catalog
            .custom_fields
            .iter()
            .filter(|f| matches!(f.kind, CustomKind::Text | CustomKind::TextArea))
            .map(|f| f.id)
            .collect()
    }

    fn priorities(&self) -> Vec<(String, String)> {
        self.data
            .catalog
            .priorities
            .iter()
            .map(|p| (p.id.clone(), p.name.clone()))
            .collect()
    }

    fn resolutions(&self) -> Vec<(String, String)> {
        self.data
            .catalog
            .resolutions
            .iter()
            .map(|r| (r.id.clone(), r.name.clone()))
            .collect()
    }

    fn statuses_in_category(&self, name_key_or_id: &str) -> Option<Vec<String>> {
        let text = name_key_or_id.trim();
        let category = self.data.catalog.categories.iter().find(|c| {
            c.id.to_string() == text
                || c.key.eq_ignore_ascii_case(text)
                || c.name.eq_ignore_ascii_case(text)
        })?;
        Some(
            self.data
                .catalog
                .statuses
                .iter()
                .filter(|s| s.category == category.key)
                .map(|s| s.id.clone())
                .collect(),
        )
    }

    fn components_matching(&self, name_or_id: &str) -> Vec<String> {
        self.data
            .catalog
            .projects
            .iter()
            .flat_map(|p| &p.components)
            .filter(|c| c.id == name_or_id || c.name.eq_ignore_ascii_case(name_or_id))
            .map(|c| c.id.clone())
            .collect()
    }

    fn group_member_ids(&self, name_or_id: &str) -> Option<Vec<String>> {
        let group = self.data.find_group(name_or_id)?;
        Some(
            self.data
                .group_members(&group)
                .into_iter()
                .map(|u| u.account_id.clone())
                .collect(),
        )
    }

    fn sprints_matching(&self, name_or_id: &str) -> Vec<u64> {
        let mut ids = self.data.sprint_ids_named(name_or_id);
        if let Ok(id) = name_or_id.trim().parse::<u64>()
            && self.data.sprint_state(id).is_some()
            && !ids.contains(&id)
        {
            ids.push(id);
        }
        ids
    }

    fn sprints_in_state(&self, state: SprintStateFilter) -> Vec<u64> {
        let wanted = match state {
            SprintStateFilter::Active => SprintState::Active,
            SprintStateFilter::Closed => SprintState::Closed,
            SprintStateFilter::Future => SprintState::Future,
        };
        self.data
            .agile()
            .sprints
            .values()
            .filter(|s| s.state == wanted)
            .map(|s| s.id)
            .collect()
    }

    fn linked_issues(&self, issue: u64, link: Option<&str>) -> Option<Vec<u64>> {
        let Some(link) = link else {
            return Some(self.data.linked_issues(issue, None));
        };
        let tokens = self.link_type_tokens(link);
        if tokens.is_empty() {
            return None;
        }
        let mut out: Vec<u64> = self
            .data
            .links_of(issue)
            .into_iter()
            .filter(|end| {
                tokens
                    .iter()
                    .any(|t| *t == link_token(&end.type_id, end.direction))
            })
            .map(|end| end.other)
            .collect();
        out.sort_unstable();
        out.dedup();
        Some(out)
    }

    fn link_type_tokens(&self, description: &str) -> Vec<String> {
        // A description ("blocks", "is blocked by") names one side; a type name that is no
        // description names both.
        let text = description.trim();
        let mut out = Vec::new();
        for kind in self.data.link_types() {
            if kind.outward.eq_ignore_ascii_case(text) {
                out.push(link_token(&kind.id, LinkDirection::Outward));
            }
            if kind.inward.eq_ignore_ascii_case(text) {
                out.push(link_token(&kind.id, LinkDirection::Inward));
            }
        }
        if out.is_empty()
            && let Some(kind) = self
                .data
                .link_types()
                .iter()
                .find(|k| k.name.eq_ignore_ascii_case(text))
        {
            out.push(link_token(&kind.id, LinkDirection::Outward));
            out.push(link_token(&kind.id, LinkDirection::Inward));
        }
        out
    }

    fn versions(&self) -> Vec<JqlVersion> {
        self.data
            .catalog
            .projects
            .iter()
            .flat_map(|p| {
                p.versions.iter().map(|v| JqlVersion {
                    id: v.id.clone(),
                    name: v.name.clone(),
                    project_id: p.id,
                    released: v.released,
                })
            })
            .collect()
    }
}

/// A key such as `DEMO-123456` without allocating.
#[derive(Clone, Copy)]
struct KeyBuf {
    bytes: [u8; 32],
    len: usize,
}

impl KeyBuf {
    fn new(project: &str, number: u64) -> Self {
        let mut bytes = [0u8; 32];
        let p = project.as_bytes();
        let plen = p.len().min(10);
        bytes[..plen].copy_from_slice(&p[..plen]);
        bytes[plen] = b'-';
        let mut digits = [0u8; 20];
        let mut n = number;
        let mut d = 0;
        loop {
            digits[d] = b'0' + u8::try_from(n % 10).unwrap_or(0);
            d += 1;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        for k in 0..d {
            bytes[plen + 1 + k] = digits[d - 1 - k];
        }
        Self {
            bytes,
            len: plen + 1 + d,
        }
    }

    fn as_str(&self) -> &str {
        std::str::from_utf8(&self.bytes[..self.len]).unwrap_or("")
    }
}

/// A generated issue as JQL sees it.
struct GenView<'a> {
    data: &'a SiteData,
    row: GenRow,
    key: KeyBuf,
}

impl<'a> GenView<'a> {
    fn new(data: &'a SiteData, row: GenRow) -> Self {
        let project = data
            .catalog
            .projects
            .get(row.project)
            .map_or("", |p| p.key.as_str());
        Self {
            key: KeyBuf::new(project, row.number),
            data,
            row,
        }
    }
}

impl JqlIssue for GenView<'_> {
    fn id(&self) -> u64 {
        self.row.id()
    }
    fn key(&self) -> &str {
        self.key.as_str()
    }
    fn project_key(&self) -> &str {
        self.data
            .catalog
            .projects
            .get(self.row.project)
            .map_or("", |p| p.key.as_str())
    }
    fn project_id(&self) -> u64 {
        self.data
            .catalog
            .projects
            .get(self.row.project)
            .map_or(0, |p| p.id)
    }
    fn status(&self) -> (&str, &str) {
        self.data
            .catalog
            .statuses
            .get(self.row.status)
            .map_or(("", ""), |s| (s.id.as_str(), s.name.as_str()))
    }
    fn issue_type(&self) -> (&str, &str) {
        self.data
            .catalog
            .issue_types
            .get(self.row.issue_type)
            .map_or(("", ""), |t| (t.id.as_str(), t.name.as_str()))
    }
    fn assignee(&self) -> Option<&str> {
        let slot = self.row.assignee?;
        self.data
            .catalog
            .users
            .get(slot)
            .map(|u| u.account_id.as_str())
    }
    fn reporter(&self) -> Option<&str> {
        self.data
            .catalog
            .users
            .get(self.row.reporter)
            .map(|u| u.account_id.as_str())
    }
    fn labels(&self) -> &[String] {
        self.data
            .generator
            .label_sets
            .get(self.row.labels)
            .map_or(&[], Vec::as_slice)
    }
    fn created_ms(&self) -> i64 {
        self.row.created
    }
    fn updated_ms(&self) -> i64 {
        self.row.updated
    }
    fn summary(&self) -> &str {
        self.data.generator.summary(&self.data.catalog, &self.row)
    }
    fn custom_field(&self, id: u64) -> Option<&str> {
        self.data
            .generator
            .custom_text(&self.data.catalog, &self.row, id)
    }
    fn custom_any(&self, id: u64, f: &mut dyn FnMut(&str) -> bool) -> Option<bool> {
        self.data
            .generator
            .custom_any(&self.data.catalog, &self.row, id, f)
    }
    fn id_field(&self, field: IdField) -> Option<&str> {
        match field {
            IdField::Priority => Some(self.data.generator.priority_id(self.row.index)),
            IdField::Resolution => self
                .data
                .generator
                .resolution_of(&self.data.catalog, &self.row)
                .map(|(r, _)| r.id.as_str()),
        }
    }
    fn list_any(&self, field: ListField, f: &mut dyn FnMut(&str) -> bool) -> Option<bool> {
        // The same rule reads build generated issues with, so a search never disagrees with
        // them after versions or components are created, released or deleted.
        let ids = match field {
            ListField::Component | ListField::FixVersion | ListField::AffectedVersion => {
                let parts = self.data.row_parts(&self.row);
                match field {
                    ListField::Component => parts.components,
                    ListField::FixVersion => parts.fix_versions,
                    _ => parts.affected,
                }
            }
            ListField::Watcher | ListField::Voter => {
                let tracking = self
                    .data
                    .generator
                    .tracking_of(&self.data.catalog, &self.row);
                if field == ListField::Watcher {
                    tracking.watchers
                } else {
                    tracking.voters
                }
            }
            ListField::Sprint => return sprint_any(&self.data.sprint_ids_of_row(&self.row), f),
            ListField::LinkType => return link_any(self.data, self.row.id(), f),
        };
        (!ids.is_empty()).then(|| ids.iter().any(|id| f(id)))
    }
    fn text_any(&self, field: TextField, f: &mut dyn FnMut(&str) -> bool) -> bool {
        let generator = &self.data.generator;
        match field {
            TextField::Summary => f(self.summary()),
            TextField::Description => generator.description_any(&self.data.catalog, &self.row, f),
            TextField::Environment => generator
                .environment_text(self.row.index, self.issue_type().0)
                .is_some_and(f),
            TextField::Comment => generator.comment_texts(&self.row).any(f),
        }
    }
    fn creator(&self) -> Option<&str> {
        self.reporter()
    }
    fn resolved_ms(&self) -> Option<i64> {
        self.data
            .generator
            .resolution_of(&self.data.catalog, &self.row)
            .map(|(_, at)| at)
    }
    fn due_day(&self) -> Option<i64> {
        self.data.generator.due_epoch_day(&self.row)
    }
    fn parent_id(&self) -> Option<u64> {
        self.data
            .generator
            .parent_index(&self.data.catalog, &self.row)
            .map(|i| FIRST_ISSUE_ID + i)
    }
}

/// A stored issue version as JQL sees it.
struct StoredView<'a> {
    data: &'a SiteData,
    version: &'a IssueVersion,
    project_key: &'a str,
}

impl JqlIssue for StoredView<'_> {
    fn id(&self) -> u64 {
        self.version.issue.id
    }
    fn key(&self) -> &str {
        &self.version.issue.key
    }
    fn project_key(&self) -> &str {
        self.project_key
    }
    fn project_id(&self) -> u64 {
        self.version.issue.project_id
    }
    fn status(&self) -> (&str, &str) {
        let id = self.version.issue.status.as_str();
        let name = self.data.catalog.status(id).map_or("", |s| s.name.as_str());
        (id, name)
    }
    fn issue_type(&self) -> (&str, &str) {
        let id = self.version.issue.issue_type.as_str();
        let name = self
            .data
            .catalog
            .issue_type(id)
            .map_or("", |t| t.name.as_str());
        (id, name)
    }
    fn assignee(&self) -> Option<&str> {
        self.version.issue.assignee.as_deref()
    }
    fn reporter(&self) -> Option<&str> {
        self.version.issue.reporter.as_deref()
    }
    fn labels(&self) -> &[String] {
        &self.version.issue.labels
    }
    fn created_ms(&self) -> i64 {
        self.version.issue.created
    }
    fn updated_ms(&self) -> i64 {
        self.version.issue.updated
    }
    fn summary(&self) -> &str {
        &self.version.issue.summary
    }
    fn custom_field(&self, id: u64) -> Option<&str> {
        self.version
            .texts
            .iter()
            .find(|(f, _)| *f == id)
            .map(|(_, t)| t.as_str())
    }
    fn custom_any(&self, id: u64, f: &mut dyn FnMut(&str) -> bool) -> Option<bool> {
        let issue = &self.version.issue;
        let field = self.data.catalog.custom_field(id)?;
        match issue.custom.get(&id)? {
            CustomValue::Options(os) => Some(
                os.iter()
                    .filter_map(|o| field.option_by_id(o))
                    .any(|o| f(&o.value)),
            ),
            CustomValue::Labels(ls) => Some(ls.iter().any(|l| f(l))),
            _ => self.custom_field(id).map(f),
        }
    }
    fn id_field(&self, field: IdField) -> Option<&str> {
        match field {
            IdField::Priority => self.version.issue.priority.as_deref(),
            IdField::Resolution => self.version.issue.resolution.as_deref(),
        }
    }
    fn list_any(&self, field: ListField, f: &mut dyn FnMut(&str) -> bool) -> Option<bool> {
        let issue = &self.version.issue;
        let ids = match field {
            ListField::Component => &issue.components,
            ListField::FixVersion => &issue.fix_versions,
            ListField::AffectedVersion => &issue.versions,
            ListField::Watcher => &issue.tracking.watchers,
            ListField::Voter => &issue.tracking.voters,
            ListField::Sprint => {
                let mut live = issue.sprints.clone();
                live.retain(|s| self.data.sprint_state(*s).is_some());
                return sprint_any(&live, f);
            }
            ListField::LinkType => return link_any(self.data, issue.id, f),
        };
        (!ids.is_empty()).then(|| ids.iter().any(|id| f(id)))
    }
    fn text_any(&self, field: TextField, f: &mut dyn FnMut(&str) -> bool) -> bool {
        let issue = &self.version.issue;
        // Overlay issues are few; their rich text is flattened per evaluation.
        match field {
            TextField::Summary => f(&issue.summary),
            TextField::Description => issue
                .description
                .as_ref()
                .is_some_and(|d| f(&adf::plain_text(d))),
            TextField::Environment => issue
                .environment
                .as_ref()
                .is_some_and(|d| f(&adf::plain_text(d))),
            TextField::Comment => issue.comments.iter().any(|c| f(&adf::plain_text(&c.body))),
        }
    }
    fn creator(&self) -> Option<&str> {
        self.version.issue.creator.as_deref()
    }
    fn resolved_ms(&self) -> Option<i64> {
        let issue = &self.version.issue;
        issue.resolution.as_ref().and(issue.resolution_date)
    }
    fn due_day(&self) -> Option<i64> {
        self.version.issue.due_date.as_deref().and_then(day_number)
    }
    fn parent_id(&self) -> Option<u64> {
        self.version.issue.parent
    }
}

/// Sprint ids as the decimal text [`ListField::Sprint`] compares.
fn sprint_any(ids: &[u64], f: &mut dyn FnMut(&str) -> bool) -> Option<bool> {
    (!ids.is_empty()).then(|| ids.iter().any(|id| f(&id.to_string())))
}

/// The issue's links as the tokens [`ListField::LinkType`] compares.
fn link_any(data: &SiteData, id: u64, f: &mut dyn FnMut(&str) -> bool) -> Option<bool> {
    let ends = data.links_of(id);
    (!ends.is_empty()).then(|| {
        ends.iter()
            .any(|end| f(&link_token(&end.type_id, end.direction)))
    })
}

fn link_token(type_id: &str, direction: LinkDirection) -> String {
    let side = match direction {
        LinkDirection::Outward => '>',
        LinkDirection::Inward => '<',
    };
    format!("{type_id}{side}")
}

enum Candidate<'a> {
    Gen(GenView<'a>),
    Stored(StoredView<'a>),
}

impl Candidate<'_> {
    fn view(&self) -> &dyn JqlIssue {
        match self {
            Self::Gen(g) => g,
            Self::Stored(s) => s,
        }
    }
}

/// What the index shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Consistency<'a> {
    /// Writes at or before this instant (ms) are indexed.
    pub indexed_until: i64,
    /// Issue ids read consistently regardless of lag.
    pub reconcile: &'a BTreeSet<u64>,
}

impl SiteData {
    fn candidates<'a>(
        &'a self,
        consistency: Consistency<'_>,
        mut keep: impl FnMut(&dyn JqlIssue) -> bool,
    ) -> Vec<Candidate<'a>> {
        let mut out = Vec::new();
        for index in 0..self.generator.total {
            if self.is_touched(index) {
                continue;
            }
            let Some(row) = self.generator.row(&self.catalog, index) else {
                continue;
            };
            let view = GenView::new(self, row);
            if keep(&view) {
                out.push(Candidate::Gen(view));
            }
        }
        for (id, stored) in &self.overlay {
            if self.deleted.contains_key(id) {
                continue;
            }
            let version = if consistency.reconcile.contains(id) {
                stored.current()
            } else {
                stored.visible_at(consistency.indexed_until)
            };
            let Some(version) = version else { continue };
            let view = if version.at == i64::MIN {
                // Never indexed since the first write: the generated original.
                let Some(row) = id
                    .checked_sub(FIRST_ISSUE_ID)
                    .and_then(|i| self.generator.row(&self.catalog, i))
                else {
                    continue;
                };
                Candidate::Gen(GenView::new(self, row))
            } else {
                let project_key = self
                    .catalog
                    .project(version.issue.project_id)
                    .map_or("", |p| p.key.as_str());
                Candidate::Stored(StoredView {
                    data: self,
                    version,
                    project_key,
                })
            };
            if keep(view.view()) {
                out.push(view);
            }
        }
        out
    }

    /// Ids of the issues matching `query`, in its order.
    pub fn search(&self, query: &Compiled, consistency: Consistency<'_>) -> Vec<u64> {
        let mut hits = self.candidates(consistency, |issue| query.matches(issue));
        hits.sort_by(|a, b| query.compare(a.view(), b.view()));
        hits.iter().map(|c| c.view().id()).collect()
    }

    /// Whether `issue` (any state of an issue of this site, even a deleted one) matches
    /// `query`, read like a stored issue: webhooks match the issue as the write left it, not as
    /// the index holds it.
    pub fn matches(&self, query: &Compiled, issue: &std::sync::Arc<super::model::Issue>) -> bool {
        let version = IssueVersion {
            at: 0,
            issue: issue.clone(),
            texts: self.custom_texts(issue),
        };
        let project_key = self
            .catalog
            .project(issue.project_id)
            .map_or("", |p| p.key.as_str());
        query.matches(&StoredView {
            data: self,
            version: &version,
            project_key,
        })
    }

    /// How many issues match `query`.
    pub fn count(&self, query: &Compiled, consistency: Consistency<'_>) -> u64 {
        let mut n = 0u64;
        let _ = self.candidates(consistency, |issue| {
            if query.matches(issue) {
                n += 1;
            }
            false
        });
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::store::tests::site;
    use crate::data::store::{FieldChange, NewIssue};

    const NOW: i64 = 1_767_605_400_000;

    fn run(data: &SiteData, jql: &str, indexed_until: i64, reconcile: &BTreeSet<u64>) -> Vec<u64> {
        let searcher = Searcher {
            account_id: None,
            time_zone: "Etc/UTC",
            now_ms: NOW,
        };
        let query = crate::jql::parse(jql).expect("parses");
        let compiled = query
            .compile(&SiteContext::new(data, searcher))
            .expect("compiles");
        data.search(
            &compiled,
            Consistency {
                indexed_until,
                reconcile,
            },
        )
    }

    #[test]
    fn key_buffer_formats_keys() {
        assert_eq!(KeyBuf::new("DEMO", 1).as_str(), "DEMO-1");
        assert_eq!(KeyBuf::new("HELP", 1_000_000).as_str(), "HELP-1000000");
    }

    #[test]
    fn search_matches_generated_issues_like_their_full_form() {
        let data = site();
        let none = BTreeSet::new();
        let ids = run(
            &data,
            "project = DEMO AND status = \"In Progress\"",
            NOW,
            &none,
        );
        assert!(!ids.is_empty());
        for id in &ids {
            let issue = data.issue_by_id(*id).expect("exists");
            assert!(issue.key.starts_with("DEMO-"));
            assert_eq!(issue.status, "3");
        }
        let all = run(&data, "project = DEMO", NOW, &none);
        let expected = (0..data.generated_count())
            .filter_map(|i| data.issue_by_id(FIRST_ISSUE_ID + i))
            .filter(|i| i.key.starts_with("DEMO-"))
            .count();
        assert_eq!(all.len(), expected);
    }

    /// Everything JQL reads from a generated row equals the full generated issue, so a search
    /// never disagrees with a read.
    #[test]
    fn lazy_view_agrees_with_the_full_issue() {
        let data = site();
        for index in 0..data.generated_count() {
            let row = data.generator.row(&data.catalog, index).expect("row");
            let view = GenView::new(&data, row);
            let issue = data.issue_by_id(FIRST_ISSUE_ID + index).expect("issue");
            let key = issue.key.as_str();
            assert_eq!(
                view.id_field(IdField::Priority),
                issue.priority.as_deref(),
                "{key}"
            );
            assert_eq!(
                view.id_field(IdField::Resolution),
                issue.resolution.as_deref(),
                "{key}"
            );
            assert_eq!(view.resolved_ms(), issue.resolution_date, "{key}");
            assert_eq!(view.creator(), issue.creator.as_deref(), "{key}");
            assert_eq!(view.parent_id(), issue.parent, "{key}");
            assert_eq!(
                view.due_day(),
                issue.due_date.as_deref().and_then(day_number),
                "{key}"
            );
            let sprints: Vec<String> = data
                .sprint_ids(issue.id)
                .iter()
                .map(u64::to_string)
                .collect();
            for (field, ids) in [
                (ListField::Component, &issue.components),
                (ListField::FixVersion, &issue.fix_versions),
                (ListField::AffectedVersion, &issue.versions),
                (ListField::Watcher, &issue.tracking.watchers),
                (ListField::Voter, &issue.tracking.voters),
                (ListField::Sprint, &sprints),
            ] {
                let mut seen = Vec::new();
                let any = view.list_any(field, &mut |v| {
                    seen.push(v.to_owned());
                    false
                });
                assert_eq!(any.is_some(), !ids.is_empty(), "{key} {field:?}");
                assert_eq!(&seen, ids, "{key} {field:?}");
            }
            let texts = |field: TextField| {
                let mut seen = Vec::new();
                view.text_any(field, &mut |t| {
                    seen.push(t.to_owned());
                    false
                });
                seen.join(" ")
            };
            let words = |text: &str| -> Vec<String> {
                text.split(|c: char| !c.is_alphanumeric())
                    .filter(|w| !w.is_empty())
                    .map(str::to_owned)
                    .collect()
            };
            let plain =
                |doc: Option<&serde_json::Value>| doc.map(adf::plain_text).unwrap_or_default();
            assert_eq!(
                words(&texts(TextField::Description)),
                words(&plain(issue.description.as_ref())),
                "{key}"
            );
            assert_eq!(
                words(&texts(TextField::Environment)),
                words(&plain(issue.environment.as_ref())),
                "{key}"
            );
            let comments: Vec<String> = issue
                .comments
                .iter()
                .map(|c| adf::plain_text(&c.body))
                .collect();
            assert_eq!(
                words(&texts(TextField::Comment)),
                words(&comments.join(" ")),
                "{key}"
            );
            for (id, value) in &issue.custom {
                let mut seen = Vec::new();
                let _ = view.custom_any(*id, &mut |v| {
                    seen.push(v.to_owned());
                    false
                });
                let field = data.catalog.custom_field(*id).expect("field");
                if let CustomValue::Options(os) = value {
                    let names: Vec<String> = os
                        .iter()
                        .filter_map(|o| field.option_by_id(o))
                        .map(|o| o.value.clone())
                        .collect();
                    assert_eq!(seen, names, "{key} {id}");
                } else {
                    assert!(!seen.is_empty(), "{key} {id}");
                }
            }
        }
    }

    #[test]
    fn lagging_writes_need_reconcile() {
        let mut data = site();
        let who = data.users()[0].account_id.clone();
        let created = data
            .create_issue(
                NewIssue {
                    project: "MKT".to_owned(),
                    issue_type: "Task".to_owned(),
                    summary: "Fresh".to_owned(),
                    fields: vec![FieldChange::Labels(vec!["fresh".to_owned()])],
                    ..NewIssue::default()
                },
                &who,
                NOW,
            )
            .expect("created");
        let none = BTreeSet::new();
        assert!(run(&data, "labels = fresh", NOW - 5_000, &none).is_empty());
        let reconcile = BTreeSet::from([created.id]);
        assert_eq!(
            run(&data, "labels = fresh", NOW - 5_000, &reconcile),
            vec![created.id]
        );
        assert_eq!(run(&data, "labels = fresh", NOW, &none), vec![created.id]);
    }
}
