//! JQL over a site: the [`JqlContext`] of a site and the search itself.
//!
//! Generated issues are evaluated lazily from their [`GenRow`] (a few hashes each, no
//! allocation), overlay issues from the version the index holds: an issue written less than
//! `lag` ago shows its previous version (or is missing when it was just created) unless its id
//! is reconciled. Deleted issues disappear at once, as a search hit that can no longer be loaded
//! is dropped by Jira too.

use std::collections::BTreeSet;

use super::generate::GenRow;
use super::model::FIRST_ISSUE_ID;
use super::store::{IssueVersion, SiteData};
use crate::jql::{Compiled, IssueRef, JqlContext, JqlIssue};

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
