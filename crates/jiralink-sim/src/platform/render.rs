//! Issue representations (`IssueBean` and its parts) for version 3 (ADF) and version 2 (wiki
//! markup), written with the [`super::json`] writer.
//!
//! A [`Render`] is built per request: it pre-writes the small catalogue objects (statuses,
//! issue types, priorities, projects) and memoises users, so a page of issues mostly copies
//! strings.

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt::Write as _;

use serde_json::Value;

use super::ApiVersion;
use super::fields::{FieldDef, Selection};
use super::json::{Obj, push_array, push_str, push_value};
use super::zone::Zone;
use crate::auth::Caller;
use crate::data::{Comment, CustomKind, CustomValue, History, Issue, SiteData, Worklog, adf};

/// Which `expand` options a response honours.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Expand {
    /// `renderedFields`.
    pub rendered: bool,
    /// `names`.
    pub names: bool,
    /// `schema`.
    pub schema: bool,
    /// `transitions`.
    pub transitions: bool,
    /// `operations`.
    pub operations: bool,
    /// `editmeta`.
    pub editmeta: bool,
    /// `changelog`.
    pub changelog: bool,
    /// `versionedRepresentations`.
    pub versioned: bool,
}

impl Expand {
    /// Reads comma lists (unknown names are ignored, as Jira does).
    pub fn parse(values: &[String]) -> Self {
        let mut e = Self::default();
        for token in values.iter().flat_map(|v| v.split(',')).map(str::trim) {
            match token {
                "renderedFields" => e.rendered = true,
                "names" => e.names = true,
                "schema" => e.schema = true,
                "transitions" => e.transitions = true,
                "operations" => e.operations = true,
                "editmeta" => e.editmeta = true,
                "changelog" => e.changelog = true,
                "versionedRepresentations" => e.versioned = true,
                _ => {}
            }
        }
        e
    }

    /// Whether anything is expanded.
    pub fn any(&self) -> bool {
        *self != Self::default()
    }
}

/// How one issue is written.
#[derive(Debug, Clone)]
pub struct IssueOptions<'a> {
    /// Fields to include.
    pub selection: &'a Selection,
    /// Expansions.
    pub expand: Expand,
    /// Issue properties to include.
    pub properties: &'a [String],
    /// Most change histories embedded (the latest ones).
    pub changelog_cap: usize,
    /// Most comments embedded in the `comment` field.
    pub comment_cap: usize,
    /// Whether `names`/`schema` go inside the issue (single-issue reads) rather than beside the
    /// page (search).
    pub names_inside: bool,
}

/// Pre-written JSON of a handful of catalogue objects; a linear scan beats hashing at this size.
#[derive(Debug)]
struct Fragments<K>(Vec<(K, String)>);

impl<K> Default for Fragments<K> {
    fn default() -> Self {
        Self(Vec::new())
    }
}

impl<K: PartialEq> Fragments<K> {
    fn insert(&mut self, key: K, json: String) {
        self.0.push((key, json));
    }

    fn get<Q>(&self, key: &Q) -> Option<&String>
    where
        K: std::borrow::Borrow<Q>,
        Q: PartialEq + ?Sized,
    {
        self.0
            .iter()
            .find(|(k, _)| k.borrow() == key)
            .map(|(_, v)| v)
    }
}

/// Per-request renderer.
#[derive(Debug)]
pub struct Render<'a> {
    /// The site's data.
    pub data: &'a SiteData,
    /// `{base}/rest/api/{v}`.
    pub api: String,
    avatars: String,
    /// API version.
    pub version: ApiVersion,
    /// Every field definition.
    pub fields: Vec<FieldDef>,
    statuses: Fragments<String>,
    types: Fragments<String>,
    priorities: Fragments<String>,
    projects: Fragments<u64>,
    resolutions: Fragments<String>,
    users: RefCell<HashMap<String, String>>,
    /// The caller, for `isWatching` and `hasVoted`.
    pub viewer: Option<String>,
    /// The last issue's `aggregate…` times, shared by its four aggregate fields.
    pub(super) aggregates: RefCell<Option<(u64, super::tracking::Times)>>,
    zone: Zone,
}

/// Jira's timestamp format for epoch milliseconds, in UTC (`+0000`); responses to an account
/// use [`Render::datetime`], in the account's zone.
pub fn datetime(ms: i64) -> String {
    super::zone::datetime_with_offset(ms, 0)
}

/// `3h 20m`, with Jira's default 8-hour days and 5-day weeks.
pub fn duration(seconds: u64) -> String {
    let minutes = seconds / 60;
    let parts = [
        (minutes / (60 * 8 * 5), "w"),
        (minutes / (60 * 8) % 5, "d"),
        (minutes / 60 % 8, "h"),
        (minutes % 60, "m"),
    ];
    let text: Vec<String> = parts
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, u)| format!("{n}{u}"))
        .collect();
    if text.is_empty() {
        "0m".to_owned()
    } else {
        text.join(" ")
    }
}

impl<'a> Render<'a> {
    /// A renderer for `data` answering at `base` (the caller's site or gateway prefix);
    /// `avatars` is the simulator's own origin.
    pub fn new(data: &'a SiteData, base: &str, avatars: &str, version: ApiVersion) -> Self {
        let api = format!("{base}/rest/api/{}", version.segment());
        let catalog = data.catalog();
        let mut r = Self {
            data,
            avatars: avatars.to_owned(),
            version,
            fields: super::fields::all(data),
            statuses: Fragments::default(),
            types: Fragments::default(),
            priorities: Fragments::default(),
            projects: Fragments::default(),
            resolutions: Fragments::default(),
            users: RefCell::new(HashMap::new()),
            zone: Zone::utc(),
            api,
            viewer: None,
            aggregates: RefCell::new(None),
        };
        for s in &catalog.statuses {
            let mut out = String::new();
            r.write_status(&mut out, &s.id);
            r.statuses.insert(s.id.clone(), out);
        }
        for t in &catalog.issue_types {
            let mut out = String::new();
            r.write_issue_type(&mut out, &t.id);
            r.types.insert(t.id.clone(), out);
        }
        for p in &catalog.priorities {
            let mut out = String::new();
            let mut o = Obj::new(&mut out);
            o.str("self", &format!("{}/priority/{}", r.api, p.id))
                .str(
                    "iconUrl",
                    &format!(
                        "{}/images/icons/priorities/{}.svg",
                        r.avatars,
                        p.name.to_ascii_lowercase()
                    ),
                )
                .str("name", &p.name)
                .str("id", &p.id);
            o.end();
            r.priorities.insert(p.id.clone(), out);
        }
        for p in &catalog.projects {
            let mut out = String::new();
            r.write_project_ref(&mut out, p.id);
            r.projects.insert(p.id, out);
        }
        for res in &catalog.resolutions {
            let mut out = String::new();
            let mut o = Obj::new(&mut out);
            o.str("self", &format!("{}/resolution/{}", r.api, res.id))
                .str("id", &res.id)
                .str("description", &res.description)
                .str("name", &res.name);
            o.end();
            r.resolutions.insert(res.id.clone(), out);
        }
        r
    }

    /// The renderer for `caller`: [`Render::new`] at the caller's URL prefix, writing date-times
    /// in the caller's time zone and answering `isWatching`/`hasVoted` for the caller.
    pub fn for_caller(
        data: &'a SiteData,
        caller: &Caller,
        avatars: &str,
        version: ApiVersion,
    ) -> Self {
        let mut render =
            Self::new(data, &caller.base, avatars, version).in_zone(&caller.user.time_zone);
        render.viewer = Some(caller.user.account_id.clone());
        render
    }

    /// Writes date-times in the IANA zone `time_zone` (UTC when unknown) instead of UTC.
    #[must_use]
    pub fn in_zone(mut self, time_zone: &str) -> Self {
        self.zone = Zone::named(time_zone);
        self
    }

    /// Jira's date-time text for epoch milliseconds, in the renderer's zone.
    pub fn datetime(&self, ms: i64) -> String {
        self.zone.datetime(ms)
    }

    /// Avatar URLs of an account (served by the simulator).
    pub fn avatar_urls(&self, out: &mut String, id: &str) {
        let mut o = Obj::new(out);
        for size in [48, 24, 16, 32] {
            o.str(
                &format!("{size}x{size}"),
                &format!("{}/avatars/{id}-{size}.svg", self.avatars),
            );
        }
        o.end();
    }

    /// A `UserDetails` object.
    pub fn user(&self, out: &mut String, account_id: &str) {
        if let Some(cached) = self.users.borrow().get(account_id) {
            out.push_str(cached);
            return;
        }
        let mut s = String::new();
        let mut o = Obj::new(&mut s);
        o.str("self", &format!("{}/user?accountId={account_id}", self.api))
            .str("accountId", account_id);
        match self.data.user(account_id) {
            Some(u) => {
                o.str("emailAddress", &u.email);
                self.avatar_urls(o.key("avatarUrls"), account_id);
                o.str("displayName", &u.display_name)
                    .bool("active", u.active)
                    .str("timeZone", &u.time_zone);
            }
            None => {
                self.avatar_urls(o.key("avatarUrls"), account_id);
                o.str("displayName", "Former user").bool("active", false);
            }
        }
        o.str("accountType", "atlassian");
        o.end();
        out.push_str(&s);
        self.users.borrow_mut().insert(account_id.to_owned(), s);
    }

    fn opt_user(&self, out: &mut String, account_id: Option<&str>) {
        match account_id {
            Some(a) => self.user(out, a),
            None => out.push_str("null"),
        }
    }

    /// A `StatusDetails` object.
    pub fn status(&self, out: &mut String, id: &str) {
        match self.statuses.get(id) {
            Some(s) => out.push_str(s),
            None => out.push_str("null"),
        }
    }

    fn write_status(&self, out: &mut String, id: &str) {
        let catalog = self.data.catalog();
        let Some(s) = catalog.status(id) else {
            out.push_str("null");
            return;
        };
        let mut o = Obj::new(out);
        o.str("self", &format!("{}/status/{}", self.api, s.id))
            .str("description", &s.description)
            .str(
                "iconUrl",
                &format!("{}/images/icons/statuses/generic.png", self.avatars),
            )
            .str("name", &s.name)
            .str("id", &s.id);
        if let Some(c) = catalog.category(&s.category) {
            let out = o.key("statusCategory");
            let mut c_o = Obj::new(out);
            c_o.str("self", &format!("{}/statuscategory/{}", self.api, c.id))
                .num("id", c.id)
                .str("key", &c.key)
                .str("colorName", &c.color_name)
                .str("name", &c.name);
            c_o.end();
        }
        o.end();
    }

    /// An `IssueTypeDetails` object.
    pub fn issue_type(&self, out: &mut String, id: &str) {
        match self.types.get(id) {
            Some(s) => out.push_str(s),
            None => out.push_str("null"),
        }
    }

    fn write_issue_type(&self, out: &mut String, id: &str) {
        let Some(t) = self.data.catalog().issue_type(id) else {
            out.push_str("null");
            return;
        };
        let mut o = Obj::new(out);
        o.str("self", &format!("{}/issuetype/{}", self.api, t.id))
            .str("id", &t.id)
            .str("description", &t.description)
            .str(
                "iconUrl",
                &format!(
                    "{}/images/icons/issuetypes/{}.svg",
                    self.avatars, t.avatar_id
                ),
            )
            .str("name", &t.name)
            .bool("subtask", t.subtask)
            .num("avatarId", t.avatar_id)
            .num("hierarchyLevel", t.hierarchy_level);
        o.end();
    }

    /// The short project object issues embed.
    pub fn project_ref(&self, out: &mut String, id: u64) {
        match self.projects.get(&id) {
            Some(s) => out.push_str(s),
            None => out.push_str("null"),
        }
    }

    /// Project avatar URLs.
    pub fn project_avatars(&self, out: &mut String, id: u64) {
        let mut o = Obj::new(out);
        for (size, name) in [(48, "large"), (24, "small"), (16, "xsmall"), (32, "medium")] {
            o.str(
                &format!("{size}x{size}"),
                &format!("{}/avatars/project-{id}-{name}.svg", self.avatars),
            );
        }
        o.end();
    }

    fn write_project_ref(&self, out: &mut String, id: u64) {
        let Some(p) = self.data.catalog().project(id) else {
            out.push_str("null");
            return;
        };
        let mut o = Obj::new(out);
        o.str("self", &format!("{}/project/{}", self.api, p.id))
            .str("id", &p.id.to_string())
            .str("key", &p.key)
            .str("name", &p.name)
            .str("projectTypeKey", &p.project_type_key)
            .bool("simplified", p.simplified);
        self.project_avatars(o.key("avatarUrls"), p.id);
        o.end();
    }

    /// Rich text in the version's form: ADF (v3) or wiki markup (v2).
    pub fn rich(&self, out: &mut String, doc: Option<&Value>) {
        match (doc, self.version) {
            (None, _) => out.push_str("null"),
            (Some(d), ApiVersion::V3) => push_value(out, d),
            (Some(d), ApiVersion::V2) => push_str(out, &adf::to_wiki(d)),
        }
    }

    /// A `Comment` object.
    pub fn comment(&self, out: &mut String, issue_id: u64, c: &Comment, rendered_body: bool) {
        let mut o = Obj::new(out);
        o.str(
            "self",
            &format!("{}/issue/{issue_id}/comment/{}", self.api, c.id),
        )
        .str("id", &c.id.to_string());
        self.user(o.key("author"), &c.author);
        self.rich(o.key("body"), Some(&c.body));
        if rendered_body {
            o.str("renderedBody", &adf::to_html(&c.body));
        }
        self.user(o.key("updateAuthor"), &c.update_author);
        o.str("created", &self.datetime(c.created))
            .str("updated", &self.datetime(c.updated))
            .bool("jsdPublic", c.jsd_public);
        if let Some(v) = &c.visibility {
            o.value("visibility", v);
        }
        o.end();
    }

    /// A `Worklog` object.
    pub fn worklog(&self, out: &mut String, issue_id: u64, w: &Worklog) {
        let mut o = Obj::new(out);
        o.str(
            "self",
            &format!("{}/issue/{issue_id}/worklog/{}", self.api, w.id),
        );
        self.user(o.key("author"), &w.author);
        self.user(o.key("updateAuthor"), &w.update_author);
        if let Some(c) = &w.comment {
            self.rich(o.key("comment"), Some(c));
        }
        o.str("created", &self.datetime(w.created))
            .str("updated", &self.datetime(w.updated))
            .str("started", &self.datetime(w.started))
            .str("timeSpent", &duration(w.time_spent_seconds))
            .num("timeSpentSeconds", w.time_spent_seconds)
            .str("id", &w.id.to_string())
            .str("issueId", &issue_id.to_string());
        o.end();
    }

    /// A `Changelog` (history) object.
    pub fn history(&self, out: &mut String, h: &History) {
        let mut o = Obj::new(out);
        o.str("id", &h.id.to_string());
        if let Some(a) = &h.author {
            self.user(o.key("author"), a);
        }
        o.str("created", &self.datetime(h.created));
        push_array(o.key("items"), &h.items, |out, i| {
            let mut io = Obj::new(out);
            io.str("field", &i.field)
                .str("fieldtype", &i.fieldtype)
                .str("fieldId", &i.field_id)
                .opt_str("from", i.from.as_deref())
                .opt_str("fromString", i.from_string.as_deref())
                .opt_str("to", i.to.as_deref())
                .opt_str("toString", i.to_string.as_deref());
            io.end();
        });
        o.end();
    }

    pub(crate) fn issue_link(&self, out: &mut String, id: u64) {
        let Some(linked) = self.data.link_view(id) else {
            out.push_str("null");
            return;
        };
        let mut o = Obj::new(out);
        o.str("id", &linked.id.to_string())
            .str("key", &linked.key)
            .str("self", &format!("{}/issue/{}", self.api, linked.id));
        let fields = o.key("fields");
        let mut f = Obj::new(fields);
        f.str("summary", &linked.summary);
        self.status(f.key("status"), &linked.status);
        match &linked.priority {
            Some(p) => {
                let out = f.key("priority");
                match self.priorities.get(p) {
                    Some(s) => out.push_str(s),
                    None => out.push_str("null"),
                }
            }
            None => {
                f.raw("priority", "null");
            }
        }
        self.issue_type(f.key("issuetype"), &linked.issue_type);
        f.end();
        o.end();
    }

    fn custom(&self, out: &mut String, def: &FieldDef, value: Option<&CustomValue>) {
        let Some(value) = value else {
            out.push_str("null");
            return;
        };
        let Some(id) = def.custom_id else {
            out.push_str("null");
            return;
        };
        let field = self.data.catalog().custom_field(id);
        let option = |out: &mut String, option_id: &str, child: Option<&str>| {
            let Some(opt) = field.and_then(|f| f.option_by_id(option_id)) else {
                out.push_str("null");
                return;
            };
            let mut o = Obj::new(out);
            o.str(
                "self",
                &format!("{}/customFieldOption/{}", self.api, opt.id),
            )
            .str("value", &opt.value)
            .str("id", &opt.id);
            if let Some(c) = child
                && let Some(child) = field.and_then(|f| f.option_by_id(c))
            {
                let out = o.key("child");
                let mut co = Obj::new(out);
                co.str(
                    "self",
                    &format!("{}/customFieldOption/{}", self.api, child.id),
                )
                .str("value", &child.value)
                .str("id", &child.id);
                co.end();
            }
            o.end();
        };
        match value {
            CustomValue::Option(o) => option(out, o, None),
            CustomValue::Options(os) => push_array(out, os, |out, o| option(out, o, None)),
            CustomValue::Cascade(p, c) => option(out, p, c.as_deref()),
            CustomValue::User(a) => self.user(out, a),
            CustomValue::Text(t) => push_str(out, t),
            CustomValue::Rich(d) => self.rich(out, Some(d)),
            CustomValue::Number(n) => {
                if n.is_finite() {
                    let _ = write!(out, "{n:?}");
                } else {
                    out.push_str("null");
                }
            }
            CustomValue::Date(d) => push_str(out, d),
            CustomValue::Labels(ls) => push_array(out, ls, |out, l| push_str(out, l)),
        }
    }

    /// Writes the value of field `def` of `issue`.
    pub fn field(&self, out: &mut String, def: &FieldDef, issue: &Issue, comment_cap: usize) {
        if def.custom_id == Some(crate::agile::model::SPRINT_FIELD_ID) {
            self.sprint_field(out, issue);
            return;
        }
        if def.custom {
            let id = def.custom_id.unwrap_or(0);
            self.custom(out, def, issue.custom.get(&id));
            return;
        }
        let spent = issue.time_spent();
        let opt_secs = |out: &mut String, s: u64| {
            if s == 0 {
                out.push_str("null");
            } else {
                let _ = write!(out, "{s}");
            }
        };
        match def.id.as_str() {
            "statuscategorychangedate" => {
                push_str(out, &self.datetime(issue.status_category_changed))
            }
            "issuetype" => self.issue_type(out, &issue.issue_type),
            "parent" => match issue.parent {
                Some(p) => self.issue_link(out, p),
                None => out.push_str("null"),
            },
            "timespent" => opt_secs(out, spent),
            "project" => self.project_ref(out, issue.project_id),
            "fixVersions" | "versions" => {
                let project = self.data.catalog().project(issue.project_id);
                let ids = if def.id == "versions" {
                    &issue.versions
                } else {
                    &issue.fix_versions
                };
                push_array(out, ids, |out, id| {
                    let Some(v) = project.and_then(|p| p.versions.iter().find(|v| v.id == *id))
                    else {
                        out.push_str("null");
                        return;
                    };
                    let mut o = Obj::new(out);
                    o.str("self", &format!("{}/version/{}", self.api, v.id))
                        .str("id", &v.id)
                        .str("description", &v.description)
                        .str("name", &v.name)
                        .bool("archived", v.archived)
                        .bool("released", v.released);
                    if let Some(d) = &v.release_date {
                        o.str("releaseDate", d);
                    }
                    o.end();
                });
            }
            "resolution" => match issue
                .resolution
                .as_ref()
                .and_then(|r| self.resolutions.get(r))
            {
                Some(s) => out.push_str(s),
                None => out.push_str("null"),
            },
            "resolutiondate" => match issue.resolution_date {
                Some(ms) => push_str(out, &self.datetime(ms)),
                None => out.push_str("null"),
            },
            "workratio"
            | "watches"
            | "timeestimate"
            | "aggregatetimeoriginalestimate"
            | "timeoriginalestimate"
            | "aggregatetimeestimate"
            | "aggregatetimespent"
            | "timetracking"
            | "aggregateprogress"
            | "progress"
            | "votes" => self.tracking_field(out, &def.id, issue),
            "lastViewed" | "security" => out.push_str("null"),
            "created" => push_str(out, &self.datetime(issue.created)),
            "updated" => push_str(out, &self.datetime(issue.updated)),
            "priority" => match issue.priority.as_ref().and_then(|p| self.priorities.get(p)) {
                Some(s) => out.push_str(s),
                None => out.push_str("null"),
            },
            "labels" => push_array(out, &issue.labels, |out, l| push_str(out, l)),
            "issuelinks" => self.issue_links(out, issue.id),
            "attachment" => self.attachments(out, issue.id),
            "assignee" => self.opt_user(out, issue.assignee.as_deref()),
            "reporter" => self.opt_user(out, issue.reporter.as_deref()),
            "creator" => self.opt_user(out, issue.creator.as_deref()),
            "status" => self.status(out, &issue.status),
            "components" => {
                let project = self.data.catalog().project(issue.project_id);
                push_array(out, &issue.components, |out, id| {
                    let name = project
                        .and_then(|p| p.components.iter().find(|c| c.id == *id))
                        .map_or("", |c| c.name.as_str());
                    let mut o = Obj::new(out);
                    o.str("self", &format!("{}/component/{id}", self.api))
                        .str("id", id)
                        .str("name", name);
                    o.end();
                });
            }
            "description" => self.rich(out, issue.description.as_ref()),
            "environment" => self.rich(out, issue.environment.as_ref()),
            "summary" => push_str(out, &issue.summary),
            "subtasks" => push_array(out, self.data.subtasks(issue.id), |out, id| {
                self.issue_link(out, id);
            }),
            "duedate" => match &issue.due_date {
                Some(d) => push_str(out, d),
                None => out.push_str("null"),
            },
            "comment" => {
                let skip = issue.comments.len().saturating_sub(comment_cap);
                let mut o = Obj::new(out);
                push_array(
                    o.key("comments"),
                    issue.comments.iter().skip(skip),
                    |out, c| {
                        self.comment(out, issue.id, c, false);
                    },
                );
                o.str("self", &format!("{}/issue/{}/comment", self.api, issue.id))
                    .num("maxResults", issue.comments.len() - skip)
                    .num("total", issue.comments.len())
                    .num("startAt", skip);
                o.end();
            }
            "worklog" => {
                let shown = issue.worklogs.len().min(20);
                let mut o = Obj::new(out);
                o.num("startAt", 0)
                    .num("maxResults", 20)
                    .num("total", issue.worklogs.len());
                push_array(
                    o.key("worklogs"),
                    issue.worklogs.iter().take(shown),
                    |out, w| {
                        self.worklog(out, issue.id, w);
                    },
                );
                o.end();
            }
            _ => out.push_str("null"),
        }
    }

    /// The selected field definitions, in catalogue order.
    pub fn selected(&self, selection: &Selection) -> Vec<&FieldDef> {
        self.fields.iter().filter(|f| selection.wants(f)).collect()
    }

    /// `names` for the selected fields.
    pub fn names(&self, out: &mut String, defs: &[&FieldDef]) {
        let mut o = Obj::new(out);
        for d in defs {
            o.str(&d.id, &d.name);
        }
        o.end();
    }

    /// `schema` for the selected fields.
    pub fn schemas(&self, out: &mut String, defs: &[&FieldDef]) {
        let mut o = Obj::new(out);
        for d in defs {
            if let Some(s) = d.schema() {
                o.value(&d.id, &s);
            }
        }
        o.end();
    }

    /// An `IssueTransition` list for the issue.
    pub fn transitions(&self, out: &mut String, issue: &Issue, with_fields: bool) {
        let transitions = self.data.transitions_for(issue);
        push_array(out, &transitions, |out, t| {
            let mut o = Obj::new(out);
            o.str("id", &t.id).str("name", &t.name);
            self.status(o.key("to"), &t.to);
            o.bool("hasScreen", with_fields)
                .bool("isGlobal", t.from.is_empty())
                .bool("isInitial", false)
                .bool("isAvailable", true)
                .bool("isConditional", false)
                .bool("isLooped", false);
            if with_fields {
                let done = self.data.catalog().category_of(&t.to) == crate::data::generate::DONE;
                let out = o.key("fields");
                let mut f = Obj::new(out);
                if done {
                    let def = self.resolution_meta(false);
                    f.value("resolution", &def);
                }
                f.end();
            }
            o.end();
        });
    }

    /// Field metadata of `resolution` (transition screens).
    pub fn resolution_meta(&self, required: bool) -> Value {
        let allowed: Vec<Value> = self
            .data
            .catalog()
            .resolutions
            .iter()
            .map(|r| {
                serde_json::json!({
                    "self": format!("{}/resolution/{}", self.api, r.id),
                    "id": r.id, "name": r.name, "description": r.description
                })
            })
            .collect();
        serde_json::json!({
            "required": required,
            "schema": { "type": "resolution", "system": "resolution" },
            "name": "Resolution",
            "key": "resolution",
            "operations": ["set"],
            "allowedValues": allowed,
            "hasDefaultValue": false,
        })
    }

    /// A whole `IssueBean`.
    pub fn issue(&self, out: &mut String, issue: &Issue, opts: &IssueOptions<'_>) {
        let mut o = Obj::new(out);
        if opts.selection.id_only() && !opts.expand.any() && opts.properties.is_empty() {
            o.str("id", &issue.id.to_string());
            if opts.selection.wants_key() {
                o.str("self", &format!("{}/issue/{}", self.api, issue.id))
                    .str("key", &issue.key);
            }
            o.end();
            return;
        }
        o.str(
            "expand",
            "renderedFields,names,schema,operations,editmeta,changelog,versionedRepresentations",
        )
        .str("id", &issue.id.to_string())
        .str("self", &format!("{}/issue/{}", self.api, issue.id))
        .str("key", &issue.key);
        let defs = self.selected(opts.selection);
        {
            let out = o.key("fields");
            let mut f = Obj::new(out);
            for d in &defs {
                self.field(f.key(&d.id), d, issue, opts.comment_cap);
            }
            f.end();
        }
        if opts.expand.rendered {
            let out = o.key("renderedFields");
            let mut f = Obj::new(out);
            for d in &defs {
                let rich = match d.id.as_str() {
                    "description" => Some(issue.description.as_ref()),
                    "environment" => Some(issue.environment.as_ref()),
                    _ => d.custom_id.and_then(|id| {
                        let kind = self.data.catalog().custom_field(id)?.kind;
                        (kind == CustomKind::TextArea).then(|| match issue.custom.get(&id) {
                            Some(CustomValue::Rich(doc)) => Some(doc),
                            _ => None,
                        })
                    }),
                };
                match rich {
                    Some(Some(doc)) => {
                        f.str(&d.id, &adf::to_html(doc));
                    }
                    Some(None) => {
                        f.raw(&d.id, "null");
                    }
                    None if d.id == "comment" => {
                        let out = f.key("comment");
                        let mut c = Obj::new(out);
                        push_array(c.key("comments"), &issue.comments, |out, comment| {
                            self.comment(out, issue.id, comment, true);
                        });
                        c.num("maxResults", issue.comments.len())
                            .num("total", issue.comments.len())
                            .num("startAt", 0);
                        c.end();
                    }
                    None => {
                        f.raw(&d.id, "null");
                    }
                }
            }
            f.end();
        }
        if opts.names_inside && opts.expand.names {
            self.names(o.key("names"), &defs);
        }
        if opts.names_inside && opts.expand.schema {
            self.schemas(o.key("schema"), &defs);
        }
        if opts.expand.transitions {
            self.transitions(o.key("transitions"), issue, false);
        }
        if opts.expand.operations {
            o.raw("operations", "{\"linkGroups\":[]}");
        }
        if opts.expand.editmeta {
            let meta = super::issues::edit_meta(self, issue);
            o.value("editmeta", &meta);
        }
        if opts.expand.changelog {
            let total = issue.changelog.len();
            let skip = total.saturating_sub(opts.changelog_cap);
            let out = o.key("changelog");
            let mut c = Obj::new(out);
            c.num("startAt", skip)
                .num("maxResults", total - skip)
                .num("total", total);
            push_array(
                c.key("histories"),
                issue.changelog.iter().skip(skip),
                |out, h| {
                    self.history(out, h);
                },
            );
            c.end();
        }
        if opts.expand.versioned {
            let out = o.key("versionedRepresentations");
            let mut v = Obj::new(out);
            for d in &defs {
                let out = v.key(&d.id);
                let mut inner = Obj::new(out);
                self.field(inner.key("1"), d, issue, opts.comment_cap);
                inner.end();
            }
            v.end();
        }
        if !opts.properties.is_empty() {
            let out = o.key("properties");
            let mut p = Obj::new(out);
            for key in opts.properties {
                if let Some(value) = issue.properties.get(key) {
                    p.value(key, value);
                }
            }
            p.end();
        }
        o.end();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_use_jira_units() {
        assert_eq!(duration(12_000), "3h 20m");
        assert_eq!(duration(8 * 3600), "1d");
        assert_eq!(duration(5 * 8 * 3600 + 60), "1w 1m");
        assert_eq!(duration(0), "0m");
    }

    #[test]
    fn datetimes_use_jira_format() {
        assert_eq!(datetime(1_767_605_400_000), "2026-01-05T09:30:00.000+0000");
        for ms in [
            0,
            951_782_400_123,
            1_709_164_799_999,
            4_102_444_800_000,
            -86_400_001,
        ] {
            let t = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
                .expect("in range");
            assert_eq!(datetime(ms), crate::platform::jira_datetime(t), "{ms}");
        }
    }
}
