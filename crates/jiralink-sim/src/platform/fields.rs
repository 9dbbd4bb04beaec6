//! The field catalogue (`GET /field`, `GET /field/search`) and field selection for issue
//! responses (`fields=*all,-comment`).

use serde_json::{Value, json};

use crate::data::{CustomField, SiteData};

/// One field as `GET /field` describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldDef {
    /// Id (`summary`, `customfield_10010`).
    pub id: String,
    /// Display name.
    pub name: String,
    /// Whether it is a custom field.
    pub custom: bool,
    /// Numeric id of a custom field.
    pub custom_id: Option<u64>,
    /// `schema.type`; `None` for fields Jira lists without a schema (`parent`, `issuekey`).
    pub schema_type: Option<&'static str>,
    /// `schema.items`.
    pub items: Option<&'static str>,
    /// `schema.system` or `schema.custom`.
    pub schema_key: String,
    /// Returned by `*navigable`.
    pub navigable: bool,
    /// Usable in `ORDER BY`.
    pub orderable: bool,
    /// Usable in JQL.
    pub searchable: bool,
    /// JQL names.
    pub clause_names: Vec<String>,
    /// Written into `fields` of an issue (`issuekey` is not).
    pub rendered: bool,
}

impl FieldDef {
    /// The `JsonTypeBean` of the field.
    pub fn schema(&self) -> Option<Value> {
        let t = self.schema_type?;
        let mut schema = json!({ "type": t });
        if let Some(items) = self.items {
            schema["items"] = json!(items);
        }
        if let Some(id) = self.custom_id {
            schema["custom"] = json!(self.schema_key);
            schema["customId"] = json!(id);
        } else {
            schema["system"] = json!(self.schema_key);
        }
        Some(schema)
    }

    /// The `FieldDetails` representation.
    pub fn details(&self) -> Value {
        let mut v = json!({
            "id": self.id,
            "key": self.id,
            "name": self.name,
            "custom": self.custom,
            "orderable": self.orderable,
            "navigable": self.navigable,
            "searchable": self.searchable,
            "clauseNames": self.clause_names,
        });
        if let Some(schema) = self.schema() {
            v["schema"] = schema;
        }
        v
    }
}

type Sys = (
    &'static str,
    &'static str,
    Option<&'static str>,
    Option<&'static str>,
    bool,
    bool,
    bool,
    &'static [&'static str],
);

/// System fields: id, name, schema type, items, navigable, orderable, searchable, clause names.
const SYSTEM: &[Sys] = &[
    (
        "statuscategorychangedate",
        "Status Category Changed",
        Some("datetime"),
        None,
        true,
        false,
        true,
        &["statusCategoryChangedDate"],
    ),
    (
        "issuetype",
        "Issue Type",
        Some("issuetype"),
        None,
        true,
        true,
        true,
        &["issuetype", "type"],
    ),
    (
        "parent",
        "Parent",
        None,
        None,
        true,
        false,
        false,
        &["parent"],
    ),
    (
        "timespent",
        "Time Spent",
        Some("number"),
        None,
        true,
        false,
        false,
        &["timespent"],
    ),
    (
        "project",
        "Project",
        Some("project"),
        None,
        true,
        false,
        true,
        &["project"],
    ),
    (
        "fixVersions",
        "Fix versions",
        Some("array"),
        Some("version"),
        true,
        true,
        true,
        &["fixVersion"],
    ),
    (
        "versions",
        "Affects versions",
        Some("array"),
        Some("version"),
        true,
        true,
        true,
        &["affectedVersion"],
    ),
    (
        "aggregatetimespent",
        "Σ Time Spent",
        Some("number"),
        None,
        true,
        false,
        false,
        &[],
    ),
    (
        "resolution",
        "Resolution",
        Some("resolution"),
        None,
        true,
        true,
        true,
        &["resolution"],
    ),
    (
        "resolutiondate",
        "Resolved",
        Some("datetime"),
        None,
        true,
        false,
        true,
        &["resolutiondate", "resolved"],
    ),
    (
        "workratio",
        "Work Ratio",
        Some("number"),
        None,
        true,
        false,
        true,
        &["workratio"],
    ),
    (
        "watches",
        "Watchers",
        Some("watches"),
        None,
        true,
        false,
        true,
        &["watchers"],
    ),
    (
        "lastViewed",
        "Last Viewed",
        Some("datetime"),
        None,
        true,
        false,
        false,
        &["lastViewed"],
    ),
    (
        "created",
        "Created",
        Some("datetime"),
        None,
        true,
        false,
        true,
        &["created", "createdDate"],
    ),
    (
        "priority",
        "Priority",
        Some("priority"),
        None,
        true,
        true,
        true,
        &["priority"],
    ),
    (
        "labels",
        "Labels",
        Some("array"),
        Some("string"),
        true,
        true,
        true,
        &["labels"],
    ),
    (
        "timeestimate",
        "Remaining Estimate",
        Some("number"),
        None,
        true,
        false,
        false,
        &["remainingEstimate", "timeestimate"],
    ),
    (
        "aggregatetimeoriginalestimate",
        "Σ Original Estimate",
        Some("number"),
        None,
        true,
        false,
        false,
        &[],
    ),
    (
        "issuelinks",
        "Linked Issues",
        Some("array"),
        Some("issuelinks"),
        true,
        true,
        false,
        &["issueLink"],
    ),
    (
        "assignee",
        "Assignee",
        Some("user"),
        None,
        true,
        true,
        true,
        &["assignee"],
    ),
    (
        "updated",
        "Updated",
        Some("datetime"),
        None,
        true,
        false,
        true,
        &["updated", "updatedDate"],
    ),
    (
        "status",
        "Status",
        Some("status"),
        None,
        true,
        false,
        true,
        &["status"],
    ),
    (
        "components",
        "Components",
        Some("array"),
        Some("component"),
        true,
        true,
        true,
        &["component"],
    ),
    (
        "timeoriginalestimate",
        "Original Estimate",
        Some("number"),
        None,
        true,
        false,
        false,
        &["originalEstimate", "timeoriginalestimate"],
    ),
    (
        "description",
        "Description",
        Some("string"),
        None,
        true,
        true,
        true,
        &["description"],
    ),
    (
        "timetracking",
        "Time tracking",
        Some("timetracking"),
        None,
        false,
        true,
        false,
        &[],
    ),
    (
        "security",
        "Security Level",
        Some("securitylevel"),
        None,
        true,
        true,
        true,
        &["level"],
    ),
    (
        "attachment",
        "Attachment",
        Some("array"),
        Some("attachment"),
        false,
        true,
        true,
        &["attachments"],
    ),
    (
        "aggregatetimeestimate",
        "Σ Remaining Estimate",
        Some("number"),
        None,
        true,
        false,
        false,
        &[],
    ),
    (
        "summary",
        "Summary",
        Some("string"),
        None,
        true,
        true,
        true,
        &["summary"],
    ),
    (
        "creator",
        "Creator",
        Some("user"),
        None,
        true,
        false,
        true,
        &["creator"],
    ),
    (
        "subtasks",
        "Sub-tasks",
        Some("array"),
        Some("issuelinks"),
        true,
        false,
        true,
        &["subtasks"],
    ),
    (
        "reporter",
        "Reporter",
        Some("user"),
        None,
        true,
        true,
        true,
        &["reporter"],
    ),
    (
        "aggregateprogress",
        "Σ Progress",
        Some("progress"),
        None,
        true,
        false,
        false,
        &[],
    ),
    (
        "environment",
        "Environment",
        Some("string"),
        None,
        true,
        true,
        true,
        &["environment"],
    ),
    (
        "duedate",
        "Due date",
        Some("date"),
        None,
        true,
        true,
        true,
        &["due", "duedate"],
    ),
    (
        "progress",
        "Progress",
        Some("progress"),
        None,
        true,
        false,
        true,
        &["progress"],
    ),
    (
        "comment",
        "Comment",
        Some("comments-page"),
        None,
        false,
        true,
        true,
        &["comment"],
    ),
    (
        "votes",
        "Votes",
        Some("votes"),
        None,
        true,
        false,
        true,
        &["votes"],
    ),
    (
        "worklog",
        "Log Work",
        Some("array"),
        Some("worklog"),
        false,
        true,
        false,
        &[],
    ),
    (
        "issuekey",
        "Key",
        None,
        None,
        true,
        false,
        false,
        &["id", "issue", "issuekey", "key"],
    ),
];

fn custom_def(f: &CustomField) -> FieldDef {
    let (t, items) = f.kind.schema_type();
    FieldDef {
        id: f.field_id(),
        name: f.name.clone(),
        custom: true,
        custom_id: Some(f.id),
        schema_type: Some(t),
        items,
        schema_key: f.kind.type_key().to_owned(),
        navigable: true,
        orderable: true,
        searchable: true,
        clause_names: vec![format!("cf[{}]", f.id), f.name.clone()],
        rendered: true,
    }
}

/// Every field of the site: system fields, then custom fields.
pub fn all(data: &SiteData) -> Vec<FieldDef> {
    let mut out: Vec<FieldDef> = SYSTEM
        .iter()
        .map(|(id, name, t, items, nav, ord, search, clauses)| FieldDef {
            id: (*id).to_owned(),
            name: (*name).to_owned(),
            custom: false,
            custom_id: None,
            schema_type: *t,
            items: *items,
            schema_key: (*id).to_owned(),
            navigable: *nav,
            orderable: *ord,
            searchable: *search,
            clause_names: clauses.iter().map(|c| (*c).to_owned()).collect(),
            rendered: *id != "issuekey",
        })
        .collect();
    out.extend(data.catalog().custom_fields.iter().map(custom_def));
    out.push(crate::agile::render::sprint_field_def());
    out
}

/// Which fields a response includes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection {
    all: bool,
    navigable: bool,
    include: Vec<String>,
    exclude: Vec<String>,
}

/// What a missing `fields` parameter means for an endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DefaultFields {
    /// `/search/jql`: `id` only.
    IdOnly,
    /// `/issue/bulkfetch`: navigable fields.
    Navigable,
    /// `GET /issue`: all fields.
    All,
}

impl Selection {
    /// Reads `fields` values (each may be a comma list).
    pub fn parse(values: &[String], default: DefaultFields) -> Self {
        let mut s = Self {
            all: false,
            navigable: false,
            include: Vec::new(),
            exclude: Vec::new(),
        };
        let tokens: Vec<&str> = values
            .iter()
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .collect();
        for token in &tokens {
            match *token {
                "*all" => s.all = true,
                "*navigable" => s.navigable = true,
                t => match t.strip_prefix('-') {
                    Some(x) => s.exclude.push(x.to_owned()),
                    None => s.include.push(t.to_owned()),
                },
            }
        }
        if tokens.is_empty() {
            match default {
                DefaultFields::IdOnly => s.include.push("id".to_owned()),
                DefaultFields::Navigable => s.navigable = true,
                DefaultFields::All => s.all = true,
            }
        } else if !s.all && !s.navigable && s.include.is_empty() {
            // Only exclusions: they apply to the navigable fields.
            s.navigable = true;
        }
        s
    }

    /// Whether `field` is returned.
    pub fn wants(&self, field: &FieldDef) -> bool {
        if !field.rendered || self.exclude.contains(&field.id) {
            return false;
        }
        self.all || (self.navigable && field.navigable) || self.include.contains(&field.id)
    }

    /// Whether only `id` (and perhaps `key`) were asked for: the issue has no `fields` object.
    pub fn id_only(&self) -> bool {
        !self.all && !self.navigable && self.include.iter().all(|i| i == "id" || i == "key")
    }

    /// Whether `key` is among the explicit fields.
    pub fn wants_key(&self) -> bool {
        self.include.iter().any(|i| i == "key")
    }

    /// How many fields are asked for (for page-size caps).
    pub fn weight(&self, total: usize) -> usize {
        if self.all || self.navigable {
            total
        } else {
            self.include.len()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn def(id: &str, navigable: bool) -> FieldDef {
        FieldDef {
            id: id.to_owned(),
            name: id.to_owned(),
            custom: false,
            custom_id: None,
            schema_type: Some("string"),
            items: None,
            schema_key: id.to_owned(),
            navigable,
            orderable: true,
            searchable: true,
            clause_names: Vec::new(),
            rendered: true,
        }
    }

    #[test]
    fn selection_rules() {
        let summary = def("summary", true);
        let comment = def("comment", false);
        let s = Selection::parse(&[], DefaultFields::IdOnly);
        assert!(s.id_only() && !s.wants(&summary));
        let s = Selection::parse(&["-summary".to_owned()], DefaultFields::IdOnly);
        assert!(!s.wants(&summary) && !s.wants(&comment) && !s.id_only());
        let s = Selection::parse(&["*all,-summary".to_owned()], DefaultFields::IdOnly);
        assert!(!s.wants(&summary) && s.wants(&comment));
        let s = Selection::parse(
            &["summary".to_owned(), "comment".to_owned()],
            DefaultFields::All,
        );
        assert!(s.wants(&summary) && s.wants(&comment));
        let s = Selection::parse(&[], DefaultFields::Navigable);
        assert!(s.wants(&summary) && !s.wants(&comment));
    }
}
