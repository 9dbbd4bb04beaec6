//! What an export reads and how it writes it: the definition's options, checked by
//! [`ExportSpec::validate`].

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::error::SyncError;

/// What an export reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Resource {
    /// Issues by JQL (`search/jql`).
    Issues,
    /// Comments of the issues a JQL selects.
    Comments,
    /// Worklogs of the issues a JQL selects.
    Worklogs,
    /// Changelogs of the issues a JQL selects.
    Changelogs,
    /// Projects.
    Projects,
    /// Users.
    Users,
    /// Fields (system and custom).
    Fields,
    /// Statuses.
    Statuses,
    /// Issue types.
    IssueTypes,
    /// Priorities.
    Priorities,
    /// Resolutions.
    Resolutions,
    /// Jira Service Management service desks.
    ServiceDesks,
    /// Jira Service Management request types.
    RequestTypes,
    /// Jira Service Management customer requests.
    CustomerRequests,
    /// Jira Service Management customers.
    JsmCustomers,
    /// Jira Service Management organizations.
    JsmOrganizations,
    /// Customer Service Management customers.
    CsmCustomers,
    /// Customer Service Management organizations.
    CsmOrganizations,
    /// Customer Service Management products.
    CsmProducts,
    /// Customer Service Management entitlements.
    CsmEntitlements,
}

/// Which API a resource is read from (and so which connections can export it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ResourceApi {
    /// Jira platform REST API v3.
    Platform,
    /// Jira Service Management.
    ServiceDesk,
    /// Customer Service Management.
    Csm,
}

impl Resource {
    /// Every resource, in the order lists show them.
    pub const ALL: &[Resource] = &[
        Self::Issues,
        Self::Comments,
        Self::Worklogs,
        Self::Changelogs,
        Self::Projects,
        Self::Users,
        Self::Fields,
        Self::Statuses,
        Self::IssueTypes,
        Self::Priorities,
        Self::Resolutions,
        Self::ServiceDesks,
        Self::RequestTypes,
        Self::CustomerRequests,
        Self::JsmCustomers,
        Self::JsmOrganizations,
        Self::CsmCustomers,
        Self::CsmOrganizations,
        Self::CsmProducts,
        Self::CsmEntitlements,
    ];

    /// The kebab-case name (`issues`, `issue-types`, `jsm-customers`, …), as in JSON.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Issues => "issues",
            Self::Comments => "comments",
            Self::Worklogs => "worklogs",
            Self::Changelogs => "changelogs",
            Self::Projects => "projects",
            Self::Users => "users",
            Self::Fields => "fields",
            Self::Statuses => "statuses",
            Self::IssueTypes => "issue-types",
            Self::Priorities => "priorities",
            Self::Resolutions => "resolutions",
            Self::ServiceDesks => "service-desks",
            Self::RequestTypes => "request-types",
            Self::CustomerRequests => "customer-requests",
            Self::JsmCustomers => "jsm-customers",
            Self::JsmOrganizations => "jsm-organizations",
            Self::CsmCustomers => "csm-customers",
            Self::CsmOrganizations => "csm-organizations",
            Self::CsmProducts => "csm-products",
            Self::CsmEntitlements => "csm-entitlements",
        }
    }

    /// The resource named `name` (its kebab-case name, case-insensitive; `_` counts as `-`).
    #[must_use]
    pub fn parse(name: &str) -> Option<Self> {
        let name = name.trim().to_ascii_lowercase().replace('_', "-");
        Self::ALL.iter().copied().find(|r| r.as_str() == name)
    }

    /// The name people read ("Issues", "JSM customers").
    #[must_use]
    pub fn label(self) -> &'static str {
        match self {
            Self::Issues => "Issues",
            Self::Comments => "Comments",
            Self::Worklogs => "Worklogs",
            Self::Changelogs => "Changelogs",
            Self::Projects => "Projects",
            Self::Users => "Users",
            Self::Fields => "Fields",
            Self::Statuses => "Statuses",
            Self::IssueTypes => "Issue types",
            Self::Priorities => "Priorities",
            Self::Resolutions => "Resolutions",
            Self::ServiceDesks => "Service desks",
            Self::RequestTypes => "Request types",
            Self::CustomerRequests => "Customer requests",
            Self::JsmCustomers => "JSM customers",
            Self::JsmOrganizations => "JSM organizations",
            Self::CsmCustomers => "CSM customers",
            Self::CsmOrganizations => "CSM organizations",
            Self::CsmProducts => "CSM products",
            Self::CsmEntitlements => "CSM entitlements",
        }
    }

    /// Whether a delta export (only what changed since the last run) is possible: the records
    /// carry an update time Jira can search by.
    #[must_use]
    pub fn supports_delta(self) -> bool {
        matches!(
            self,
            Self::Issues | Self::Comments | Self::Worklogs | Self::Changelogs
        )
    }

    /// Whether the resource is read through an issue search, so a JQL chooses what it covers.
    #[must_use]
    pub fn needs_jql(self) -> bool {
        matches!(
            self,
            Self::Issues | Self::Comments | Self::Worklogs | Self::Changelogs
        )
    }

    /// The API the resource is read from.
    #[must_use]
    pub fn api(self) -> ResourceApi {
        match self {
            Self::Issues
            | Self::Comments
            | Self::Worklogs
            | Self::Changelogs
            | Self::Projects
            | Self::Users
            | Self::Fields
            | Self::Statuses
            | Self::IssueTypes
            | Self::Priorities
            | Self::Resolutions => ResourceApi::Platform,
            Self::ServiceDesks
            | Self::RequestTypes
            | Self::CustomerRequests
            | Self::JsmCustomers
            | Self::JsmOrganizations => ResourceApi::ServiceDesk,
            Self::CsmCustomers
            | Self::CsmOrganizations
            | Self::CsmProducts
            | Self::CsmEntitlements => ResourceApi::Csm,
        }
    }

    /// Whether a JQL may narrow the resource (the issue-search ones, and customer requests).
    fn takes_jql(self) -> bool {
        self.needs_jql() || self == Self::CustomerRequests
    }

    /// Whether `serviceDesk` narrows the resource to one desk.
    fn takes_service_desk(self) -> bool {
        matches!(
            self,
            Self::RequestTypes
                | Self::CustomerRequests
                | Self::JsmCustomers
                | Self::JsmOrganizations
        )
    }
}

impl std::fmt::Display for Resource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// All, only what changed, or a quick sample.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum ExportKind {
    /// Everything the options select.
    #[default]
    All,
    /// What changed since the last successful run; the first run reads everything updated at
    /// or after `start` (everything when absent).
    Delta {
        /// Where the first run starts.
        #[serde(default, with = "time::serde::rfc3339::option")]
        start: Option<OffsetDateTime>,
    },
    /// The first `limit` records, to check a definition quickly.
    Test {
        /// How many records.
        limit: u32,
    },
}

/// How records are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    /// One JSON record per line.
    #[default]
    Ndjson,
    /// One JSON array.
    JsonArray,
    /// Comma-separated values with flattened fields.
    Csv,
}

impl Format {
    /// The name as in JSON (`ndjson`, `json-array`, `csv`).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ndjson => "ndjson",
            Self::JsonArray => "json-array",
            Self::Csv => "csv",
        }
    }

    /// The HTTP content type of the output.
    #[must_use]
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Ndjson => "application/x-ndjson",
            Self::JsonArray => "application/json",
            Self::Csv => "text/csv; charset=utf-8",
        }
    }

    /// The usual file extension, without the dot.
    #[must_use]
    pub fn extension(self) -> &'static str {
        match self {
            Self::Ndjson => "ndjson",
            Self::JsonArray => "json",
            Self::Csv => "csv",
        }
    }
}

/// How fields in Atlassian Document Format (rich text) are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AdfMode {
    /// As Jira sends them (ADF JSON).
    #[default]
    Raw,
    /// As plain text.
    Text,
    /// As Markdown.
    Markdown,
}

/// The expansions an issue export may ask for.
pub const ISSUE_EXPANDS: &[&str] = &[
    "renderedFields",
    "names",
    "schema",
    "changelog",
    "transitions",
    "operations",
    "editmeta",
    "versionedRepresentations",
];

/// The largest test export.
pub const MAX_TEST_LIMIT: u32 = 10_000;
/// The default overlap below the last cursor, in seconds.
pub const DEFAULT_OVERLAP_SECS: u32 = 300;
/// The default allowance for the search index lag, in seconds.
pub const DEFAULT_LAG_SECS: u32 = 60;
/// The largest overlap or lag accepted (one day).
const MAX_TUNING_SECS: u32 = 86_400;

/// An export's options.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExportSpec {
    /// What is read.
    pub resource: Resource,
    /// Which issues (issues, comments, worklogs, changelogs; customer requests where JQL can
    /// filter them). Absent: all the connection can see.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jql: Option<String>,
    /// Issue fields: `*all` (the default when empty), `*navigable`, ids, or names (custom
    /// fields by name, resolved through `/field` when the run starts).
    #[serde(default)]
    pub fields: Vec<String>,
    /// Issue expansions: `renderedFields`, `names`, `schema`, `changelog`, ….
    #[serde(default)]
    pub expand: Vec<String>,
    /// Each issue's complete changelog through `changelog/bulkfetch` (replaces the embedded one,
    /// which Jira cuts at 100 entries).
    #[serde(default)]
    pub full_changelog: bool,
    /// Embed every comment (all pages) into each issue.
    #[serde(default)]
    pub comments: bool,
    /// Embed every worklog (all pages) into each issue.
    #[serde(default)]
    pub worklogs: bool,
    /// How rich-text fields are written.
    #[serde(default)]
    pub adf: AdfMode,
    /// All, delta or test.
    #[serde(default)]
    pub kind: ExportKind,
    /// Output format.
    #[serde(default)]
    pub format: Format,
    /// Report issues deleted since the last run (issues, delta only).
    #[serde(default)]
    pub deletions: bool,
    /// Only these issues (at most 50, issues only), read consistently despite the search
    /// index's lag (`reconcileIssues`): what a listener's events named.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub issue_ids: Vec<u64>,
    /// One service desk (id or name) for request types, customer requests, customers and
    /// organizations; all desks when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_desk: Option<String>,
    /// How far below the last cursor a delta run reads again, in seconds (default 300).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overlap_secs: Option<u32>,
    /// How far behind now a run stops, allowing for the search index lag, in seconds (default 60).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lag_secs: Option<u32>,
}

impl ExportSpec {
    /// A spec for `resource` with every option at its default.
    #[must_use]
    pub fn new(resource: Resource) -> Self {
        Self {
            resource,
            jql: None,
            fields: Vec::new(),
            expand: Vec::new(),
            full_changelog: false,
            comments: false,
            worklogs: false,
            adf: AdfMode::Raw,
            kind: ExportKind::All,
            format: Format::Ndjson,
            deletions: false,
            issue_ids: Vec::new(),
            service_desk: None,
            overlap_secs: None,
            lag_secs: None,
        }
    }

    /// The overlap below the last cursor, in milliseconds.
    #[must_use]
    pub fn overlap_ms(&self) -> i64 {
        i64::from(self.overlap_secs.unwrap_or(DEFAULT_OVERLAP_SECS)) * 1000
    }

    /// The index lag allowance, in milliseconds.
    #[must_use]
    pub fn lag_ms(&self) -> i64 {
        i64::from(self.lag_secs.unwrap_or(DEFAULT_LAG_SECS)) * 1000
    }

    /// The user's JQL without surrounding blanks, `None` when empty.
    #[must_use]
    pub fn user_jql(&self) -> Option<&str> {
        self.jql.as_deref().map(str::trim).filter(|j| !j.is_empty())
    }

    /// Checks that the options fit together.
    ///
    /// # Errors
    /// [`SyncError::InvalidSpec`] naming the option and what to do.
    pub fn validate(&self) -> Result<(), SyncError> {
        let r = self.resource;
        let invalid = |m: String| Err(SyncError::InvalidSpec(m));
        if let Some(jql) = self.user_jql() {
            if !r.takes_jql() {
                return invalid(format!("{} cannot be chosen by JQL", r.label()));
            }
            if let Some(problem) = unbalanced(jql) {
                return invalid(format!(
                    "the JQL has {problem}: close every quote and parenthesis it opens"
                ));
            }
            if contains_order_by(jql) {
                return invalid(
                    "leave ORDER BY out of the JQL: exports order by update time themselves".into(),
                );
            }
        }
        let issue_only = [
            ("fields", !self.fields.is_empty()),
            ("expand", !self.expand.is_empty()),
            ("full changelog", self.full_changelog),
            ("comments", self.comments),
            ("worklogs", self.worklogs),
        ];
        for (name, set) in issue_only {
            if set && r != Resource::Issues {
                return invalid(format!(
                    "the {name} option applies to issue exports only, not {}",
                    r.label()
                ));
            }
        }
        if let Some(f) = self.fields.iter().find(|f| f.trim().is_empty()) {
            return invalid(format!("field name {f:?} is empty"));
        }
        if let Some(e) = self
            .expand
            .iter()
            .find(|e| !ISSUE_EXPANDS.contains(&e.trim()))
        {
            return invalid(format!(
                "unknown expansion {e:?}; choose from {}",
                ISSUE_EXPANDS.join(", ")
            ));
        }
        match self.kind {
            ExportKind::Delta { .. } if !r.supports_delta() => {
                return invalid(format!(
                    "{} cannot be exported as a delta: Jira cannot search them by update time; use all",
                    r.label()
                ));
            }
            ExportKind::Test { limit } if limit == 0 || limit > MAX_TEST_LIMIT => {
                return invalid(format!(
                    "a test export reads 1 to {MAX_TEST_LIMIT} records, not {limit}"
                ));
            }
            _ => {}
        }
        if self.deletions
            && (r != Resource::Issues || !matches!(self.kind, ExportKind::Delta { .. }))
        {
            return invalid("deletions are reported by delta exports of issues only".into());
        }
        if !self.issue_ids.is_empty()
            && (r != Resource::Issues || !matches!(self.kind, ExportKind::All))
        {
            return invalid("issue ids narrow exports of all issues only".into());
        }
        if self.issue_ids.len() > MAX_ISSUE_IDS {
            return invalid(format!(
                "at most {MAX_ISSUE_IDS} issue ids are read at a time, not {}",
                self.issue_ids.len()
            ));
        }
        if self.service_desk.is_some() && !r.takes_service_desk() {
            return invalid(format!(
                "a service desk cannot narrow {}; it applies to request types, customer requests, JSM customers and JSM organizations",
                r.label()
            ));
        }
        for (name, value) in [("overlap", self.overlap_secs), ("lag", self.lag_secs)] {
            if value.is_some_and(|v| v > MAX_TUNING_SECS) {
                return invalid(format!(
                    "the {name} is at most {MAX_TUNING_SECS} seconds (one day)"
                ));
            }
        }
        Ok(())
    }
}

/// The most issue ids one export reads (Jira's `reconcileIssues` limit).
pub const MAX_ISSUE_IDS: usize = 50;

/// Whether `jql` has an `ORDER BY` outside quoted text: a filter jiralink joins to others and
/// orders itself cannot take one.
pub fn contains_order_by(jql: &str) -> bool {
    let words: Vec<String> = unquoted(jql)
        .split_whitespace()
        .map(str::to_ascii_lowercase)
        .collect();
    words.windows(2).any(|w| w == ["order", "by"])
}

/// Why `jql` cannot be placed inside parentheses, if it cannot: the export wraps it as
/// `(<jql>) AND <bounds>` (and a listener joins its own JQL to its export's the same way), so
/// a quote left open, a dangling backslash or a parenthesis without its partner would carry
/// what follows into a string or out of the parentheses, and the search would no longer be
/// bounded (or no longer be the export's).
pub fn unbalanced(jql: &str) -> Option<&'static str> {
    let mut quote: Option<char> = None;
    let mut escaped = false;
    let mut depth = 0usize;
    for c in jql.chars() {
        if escaped {
            escaped = false;
            continue;
        }
        match (quote, c) {
            (_, '\\') => escaped = true,
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, '(') => depth += 1,
            (None, ')') => match depth.checked_sub(1) {
                Some(d) => depth = d,
                None => return Some("a closing parenthesis without its opening one"),
            },
            (None, _) => {}
        }
    }
    if escaped {
        Some("a backslash with nothing after it")
    } else if quote.is_some() {
        Some("a quoted text that is not closed")
    } else if depth > 0 {
        Some("an opening parenthesis without its closing one")
    } else {
        None
    }
}

/// `jql` with quoted text blanked out and escaped characters (a backslash escapes the next
/// one, inside quotes or not) kept as part of their word, as JQL reads them.
fn unquoted(jql: &str) -> String {
    let mut out = String::with_capacity(jql.len());
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for c in jql.chars() {
        let shown = if escaped {
            escaped = false;
            if quote.is_some() { ' ' } else { '_' }
        } else {
            match (quote, c) {
                (None, '\\') => {
                    escaped = true;
                    '_'
                }
                (Some(_), '\\') => {
                    escaped = true;
                    ' '
                }
                (Some(q), c) if c == q => {
                    quote = None;
                    ' '
                }
                (Some(_), _) => ' ',
                (None, '"' | '\'') => {
                    quote = Some(c);
                    ' '
                }
                (None, c) => c,
            }
        };
        out.push(shown);
    }
    out
}

#[cfg(test)]
mod tests {
    use pretty_assertions::assert_eq;
    use serde_json::json;

    use super::*;

    #[test]
    fn resources_round_trip_by_name() {
        for r in Resource::ALL {
            assert_eq!(Resource::parse(r.as_str()), Some(*r));
            let json = serde_json::to_value(r).unwrap_or_default();
            assert_eq!(json, json!(r.as_str()));
        }
        assert_eq!(Resource::parse("Issue_Types"), Some(Resource::IssueTypes));
        assert_eq!(Resource::parse("tickets"), None);
        assert_eq!(Resource::JsmCustomers.label(), "JSM customers");
        assert_eq!(Resource::CsmProducts.api(), ResourceApi::Csm);
    }

    #[test]
    fn specs_read_with_defaults_and_the_documented_names() {
        let spec: ExportSpec = serde_json::from_value(json!({
            "resource": "issues", "jql": "project = ED", "fullChangelog": true,
            "kind": {"type": "delta", "start": "2026-01-01T00:00:00Z"}, "format": "json-array"
        }))
        .unwrap_or_else(|_| ExportSpec::new(Resource::Fields));
        assert_eq!(spec.resource, Resource::Issues);
        assert!(spec.full_changelog);
        assert_eq!(spec.format, Format::JsonArray);
        assert_eq!(spec.adf, AdfMode::Raw);
        assert!(matches!(spec.kind, ExportKind::Delta { start: Some(_) }));
        assert_eq!(spec.overlap_ms(), 300_000);
        assert_eq!(spec.lag_ms(), 60_000);
        let back = serde_json::to_value(&spec).unwrap_or_default();
        assert_eq!(back["kind"]["type"], "delta");
        assert_eq!(back["fullChangelog"], true);
        let test: ExportKind =
            serde_json::from_value(json!({"type":"test","limit":5})).unwrap_or_default();
        assert_eq!(test, ExportKind::Test { limit: 5 });
    }

    fn invalid(spec: &ExportSpec) -> String {
        match spec.validate() {
            Err(SyncError::InvalidSpec(m)) => m,
            other => format!("not refused: {other:?}"),
        }
    }

    /// Found by the `export_jql` fuzz target: `'` was accepted and the run's bounds became
    /// part of a string (`(' ) AND updated <= …`), so the search was no longer bounded.
    #[test]
    fn jql_that_would_escape_its_parentheses_is_refused() {
        let mut s = ExportSpec::new(Resource::Issues);
        for jql in [
            "'   ",
            "summary ~ \"open",
            "project = ED) OR (project = OPS",
            "(project = ED",
            "project = ED)",
            "summary ~ abc\\",
        ] {
            s.jql = Some(jql.into());
            let message = invalid(&s);
            assert!(message.contains("close every quote"), "{jql}: {message}");
        }
        for jql in [
            "summary ~ \"a ) b\"",
            "summary ~ 'it\\'s'",
            "(project = ED OR project = OPS) AND summary ~ \\(",
            "summary ~ \"back\\\\\"",
        ] {
            s.jql = Some(jql.into());
            assert!(s.validate().is_ok(), "{jql}: {:?}", s.validate());
        }
    }

    #[test]
    fn validation_explains_what_does_not_fit() {
        let mut s = ExportSpec::new(Resource::Issues);
        assert!(s.validate().is_ok());
        s.jql = Some("project = ED order by key".into());
        assert!(invalid(&s).contains("ORDER BY"));
        s.jql = Some("summary ~ \"order by\"".into());
        assert!(s.validate().is_ok());
        s.jql = Some("summary ~ order\\ by".into());
        assert!(s.validate().is_ok());
        s.kind = ExportKind::Test { limit: 0 };
        assert!(invalid(&s).contains("1 to"));
        s.kind = ExportKind::All;
        s.deletions = true;
        assert!(invalid(&s).contains("delta"));
        s.kind = ExportKind::Delta { start: None };
        assert!(s.validate().is_ok());
        s.expand = vec!["everything".into()];
        assert!(invalid(&s).contains("unknown expansion"));

        let mut p = ExportSpec::new(Resource::Projects);
        p.jql = Some("project = ED".into());
        assert!(invalid(&p).contains("JQL"));
        p.jql = None;
        p.kind = ExportKind::Delta { start: None };
        assert!(invalid(&p).contains("delta"));
        p.kind = ExportKind::All;
        p.comments = true;
        assert!(invalid(&p).contains("issue exports only"));
        p.comments = false;
        p.service_desk = Some("1".into());
        assert!(invalid(&p).contains("service desk"));
        p.service_desk = None;
        p.lag_secs = Some(100_000);
        assert!(invalid(&p).contains("lag"));
    }
}
