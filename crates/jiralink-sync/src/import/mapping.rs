//! The mapping file: what an import does and how each Jira field gets its value.
//!
//! ```toml
//! operation = "upsert"          # create | update | upsert
//! project = "DEMO"              # a constant, or { source = "project" }
//! issue_type = "Task"           # a constant, or { source = "type" }
//! key = "jira_key"              # the source field holding an issue key or id (update, upsert)
//! ignore_existing = false       # upsert: leave records Jira already has alone
//! ignore_missing = false        # upsert: leave records Jira does not have alone
//!
//! [external_id]                 # the record's own id, to find its issue again
//! source = "id"
//! field = "Customer Reference"  # a text custom field (name or id), or: label_prefix = "ext-",
//!                               # or: property = "crm.ticket" (an issue property {"id": …})
//!
//! [fields]                      # Jira field (name or id) = rule
//! summary = "title"                                  # a source field (dots reach inside)
//! description = { source = "body", format = "markdown" }
//! labels = { source = "tags", split = "," }
//! priority = { source = "severity", map = { P1 = "Highest", P2 = "High" }, default = "Medium" }
//! "Team" = { const = "Platform" }
//! environment = { template = "{os} {version}" }
//!
//! [actions]                     # after the create or update, on the record's issue
//! status = "state"                                   # transition to the status the rule names
//! transition_fields = { resolution = { const = "Done" } }  # its screen's fields
//! comment = { source = "note", format = "markdown" }
//! worklog = { time_spent = "hours", started = "day", comment = "work" }
//! links = [ { type = "Blocks", to = "blocks" } ]      # this issue blocks the keys in `blocks`
//! attachments = { source = "files", split = ";" }     # files in the job's attachment directory
//! ```
//!
//! A rule is a source field, `const`, or `template` (`{path}` placeholders, `{{`/`}}` for
//! braces); then `map` translates values, `default` fills a missing or empty one, `split` turns
//! text into a list, `format` says how text becomes rich text (`plain`, `markdown`, `adf`) and
//! `time_zone` how date-times without an offset are read.
//!
//! `[actions]` is described in [`super::actions`].

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// What an import does with each record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ImportOperation {
    /// Create an issue per record.
    Create,
    /// Update the issue the record names (by key or id), or the one its external id finds.
    Update,
    /// Update the issue the record names or its external id finds; create it otherwise.
    Upsert,
}

impl ImportOperation {
    /// The name used in mapping files and messages.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Create => "create",
            Self::Update => "update",
            Self::Upsert => "upsert",
        }
    }

    /// Whether records may become new issues.
    #[must_use]
    pub fn creates(self) -> bool {
        matches!(self, Self::Create | Self::Upsert)
    }
}

/// How text becomes rich text (ADF) for description, environment, comments and paragraph
/// custom fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TextFormat {
    /// Paragraphs on blank lines, line breaks kept; nothing interpreted.
    Plain,
    /// CommonMark with GitHub's tables and strikethrough.
    Markdown,
    /// The value already is an ADF document (JSON, or JSON text).
    Adf,
}

/// One rule: where a value comes from and how it is shaped.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// The source field; dots reach into objects (`fields.summary`) unless the record has a
    /// field with the dotted name itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// A constant value.
    #[serde(rename = "const", default, skip_serializing_if = "Option::is_none")]
    pub constant: Option<Value>,
    /// Text with `{path}` placeholders.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<String>,
    /// Translates values (exact text match); values not listed pass unchanged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub map: Option<BTreeMap<String, Value>>,
    /// Used when the value is missing, null or empty text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<Value>,
    /// Splits text into a list on this separator (parts trimmed, empty ones dropped).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub split: Option<String>,
    /// Rich-text fields: how the text is written (default `plain`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<TextFormat>,
    /// Date-time fields: the IANA zone of values written without an offset (default UTC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
}

/// A rule as written: a bare string names a source field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
enum RuleText {
    Source(String),
    Full(Rule),
}

impl From<RuleText> for Rule {
    fn from(text: RuleText) -> Self {
        match text {
            RuleText::Source(source) => Rule {
                source: Some(source),
                ..Rule::default()
            },
            RuleText::Full(rule) => rule,
        }
    }
}

/// A setting that is a constant unless written as a rule (`project`, `issue_type`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
enum SettingText {
    Constant(String),
    Full(Rule),
}

impl From<SettingText> for Rule {
    fn from(text: SettingText) -> Self {
        match text {
            SettingText::Constant(value) => Rule {
                constant: Some(Value::String(value)),
                ..Rule::default()
            },
            SettingText::Full(rule) => rule,
        }
    }
}

/// Where the record's own id is kept in Jira.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExternalIdTarget {
    /// A text custom field, by name or id.
    Field(String),
    /// A label: this prefix followed by the id.
    LabelPrefix(String),
    /// An issue property with this key, whose value is `{"id": <the id>}`.
    Property(String),
}

/// The longest issue property key Jira takes.
pub const MAX_PROPERTY_KEY: usize = 255;

/// The record's own id: found with [`ExternalId::source`], kept in Jira at [`ExternalId::target`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExternalId {
    /// The source field holding it.
    pub source: String,
    /// Where Jira keeps it.
    pub target: ExternalIdTarget,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExternalIdText {
    source: String,
    #[serde(default)]
    field: Option<String>,
    #[serde(default)]
    label_prefix: Option<String>,
    #[serde(default)]
    property: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MappingText {
    #[serde(default)]
    operation: Option<ImportOperation>,
    #[serde(default)]
    project: Option<SettingText>,
    #[serde(default)]
    issue_type: Option<SettingText>,
    #[serde(default)]
    key: Option<String>,
    #[serde(default)]
    external_id: Option<ExternalIdText>,
    #[serde(default)]
    ignore_existing: bool,
    #[serde(default)]
    ignore_missing: bool,
    #[serde(default)]
    fields: BTreeMap<String, RuleText>,
    #[serde(default)]
    actions: Option<ActionsText>,
    #[serde(default)]
    resource: Option<super::service::Resource>,
    #[serde(default)]
    service_desk: Option<String>,
    #[serde(default)]
    request_type: Option<String>,
    #[serde(default)]
    raise_on_behalf_of: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ActionsText {
    #[serde(default)]
    status: Option<RuleText>,
    #[serde(default)]
    transition_fields: BTreeMap<String, RuleText>,
    #[serde(default)]
    comment: Option<RuleText>,
    #[serde(default)]
    worklog: Option<WorklogText>,
    #[serde(default)]
    links: Vec<LinkText>,
    #[serde(default)]
    attachments: Option<RuleText>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct WorklogText {
    time_spent: RuleText,
    #[serde(default)]
    started: Option<RuleText>,
    #[serde(default)]
    comment: Option<RuleText>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LinkText {
    #[serde(rename = "type")]
    link_type: String,
    to: RuleText,
}

impl From<ActionsText> for Actions {
    fn from(raw: ActionsText) -> Self {
        Self {
            status: raw.status.map(Rule::from),
            transition_fields: raw
                .transition_fields
                .into_iter()
                .map(|(k, v)| (k, Rule::from(v)))
                .collect(),
            comment: raw.comment.map(Rule::from),
            worklog: raw.worklog.map(|w| WorklogRule {
                time_spent: w.time_spent.into(),
                started: w.started.map(Rule::from),
                comment: w.comment.map(Rule::from),
            }),
            links: raw
                .links
                .into_iter()
                .map(|l| LinkRule {
                    link_type: l.link_type,
                    to: l.to.into(),
                })
                .collect(),
            attachments: raw.attachments.map(Rule::from),
        }
    }
}

/// What is done to each record's issue after its create or update (see [`super::actions`]).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Actions {
    /// The status to move the issue to, by name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<Rule>,
    /// Values for the fields of the transition's screen, by field name or id.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub transition_fields: BTreeMap<String, Rule>,
    /// A comment to add (rich text: `format` as for fields).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<Rule>,
    /// Work to log.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worklog: Option<WorklogRule>,
    /// Links from this issue to others.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<LinkRule>,
    /// Files to attach, by name relative to the job's attachment directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attachments: Option<Rule>,
}

impl Actions {
    /// Whether there is nothing to do.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.status.is_none()
            && self.transition_fields.is_empty()
            && self.comment.is_none()
            && self.worklog.is_none()
            && self.links.is_empty()
            && self.attachments.is_none()
    }

    fn problems(&self, out: &mut Vec<String>) {
        if let Some(rule) = &self.status {
            rule.problems("actions.status", out);
        }
        if !self.transition_fields.is_empty() && self.status.is_none() {
            out.push("actions.transition_fields needs actions.status".to_owned());
        }
        for (field, rule) in &self.transition_fields {
            rule.problems(&format!("actions.transition_fields.{field}"), out);
        }
        if let Some(rule) = &self.comment {
            rule.problems("actions.comment", out);
        }
        if let Some(w) = &self.worklog {
            w.time_spent.problems("actions.worklog.time_spent", out);
            if let Some(rule) = &w.started {
                rule.problems("actions.worklog.started", out);
            }
            if let Some(rule) = &w.comment {
                rule.problems("actions.worklog.comment", out);
            }
        }
        for (n, link) in self.links.iter().enumerate() {
            let at = format!("actions.links[{n}]");
            if link.link_type.trim().is_empty() {
                out.push(format!("{at}: type needs the name of a link type"));
            }
            link.to.problems(&format!("{at}.to"), out);
        }
        if let Some(rule) = &self.attachments {
            rule.problems("actions.attachments", out);
        }
    }
}

/// Work logged on each record's issue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorklogRule {
    /// Seconds, or Jira's units: `3h 20m`, `1d`, `1.5h` (a day is 8 hours, a week 5 days).
    pub time_spent: Rule,
    /// When the work started (a date-time, as for date-time fields); the time of sending
    /// without it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started: Option<Rule>,
    /// A comment on the worklog (rich text).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<Rule>,
}

/// Links from each record's issue: it `type`s (outward) the issues `to` names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LinkRule {
    /// The link type's name, e.g. `Blocks`.
    #[serde(rename = "type")]
    pub link_type: String,
    /// Issue keys: a list, or text split on commas and spaces.
    pub to: Rule,
}

/// A parsed mapping, not yet checked against Jira (see [`super::plan`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Mapping {
    /// What to do with each record.
    pub operation: ImportOperation,
    /// The project of new issues.
    pub project: Option<Rule>,
    /// The issue type of new issues.
    pub issue_type: Option<Rule>,
    /// The source field holding an existing issue's key or id.
    pub key: Option<String>,
    /// The record's own id.
    pub external_id: Option<ExternalId>,
    /// Upsert: records whose issue exists are skipped.
    pub ignore_existing: bool,
    /// Upsert: records whose issue does not exist are skipped.
    pub ignore_missing: bool,
    /// Jira field (name or id) → rule.
    pub fields: BTreeMap<String, Rule>,
    /// What is done to each issue after its create or update.
    #[serde(default, skip_serializing_if = "Actions::is_empty")]
    pub actions: Actions,
    /// What records become (issues unless a Service Management resource is named), and the
    /// settings of the Service Management resources (see [`super::service`]).
    #[serde(default)]
    pub service: super::service::ServiceSettings,
}

impl Mapping {
    /// Reads a mapping file, listing every problem at once.
    ///
    /// # Errors
    /// The problems, one sentence each.
    pub fn from_toml(text: &str) -> Result<Self, Vec<String>> {
        let raw: MappingText = toml::from_str(text).map_err(|e| vec![toml_message(&e)])?;
        let mut problems = Vec::new();
        let (service, operation) = super::service::settings(
            raw.resource,
            raw.operation,
            (raw.service_desk, raw.request_type, raw.raise_on_behalf_of),
            &mut problems,
        );
        let external_id = match raw.external_id {
            None => None,
            Some(x) => match (x.field, x.label_prefix, x.property) {
                (Some(field), None, None) => Some(ExternalId {
                    source: x.source,
                    target: ExternalIdTarget::Field(field),
                }),
                (None, Some(prefix), None) => {
                    if prefix.chars().any(char::is_whitespace) {
                        problems.push("external_id.label_prefix cannot contain spaces".to_owned());
                    }
                    Some(ExternalId {
                        source: x.source,
                        target: ExternalIdTarget::LabelPrefix(prefix),
                    })
                }
                (None, None, Some(key)) => {
                    if let Some(problem) = property_key_problem(&key) {
                        problems.push(format!("external_id.property {problem}"));
                    }
                    Some(ExternalId {
                        source: x.source,
                        target: ExternalIdTarget::Property(key),
                    })
                }
                _ => {
                    problems.push(
                        "external_id needs exactly one of field, label_prefix or property"
                            .to_owned(),
                    );
                    None
                }
            },
        };
        let mapping = Mapping {
            operation,
            project: raw.project.map(Rule::from),
            issue_type: raw.issue_type.map(Rule::from),
            key: raw.key,
            external_id,
            ignore_existing: raw.ignore_existing,
            ignore_missing: raw.ignore_missing,
            fields: raw
                .fields
                .into_iter()
                .map(|(k, v)| (k, Rule::from(v)))
                .collect(),
            actions: raw.actions.map(Actions::from).unwrap_or_default(),
            service,
        };
        problems.extend(mapping.problems());
        if problems.is_empty() {
            Ok(mapping)
        } else {
            Err(problems)
        }
    }

    /// Problems found without asking Jira.
    #[must_use]
    pub fn problems(&self) -> Vec<String> {
        if self.service.resource.is_service() {
            return super::service::problems(self);
        }
        let mut out = Vec::new();
        let op = self.operation.as_str();
        if self.operation.creates() {
            if self.project.is_none() {
                out.push(format!("operation {op} needs project"));
            }
            if self.issue_type.is_none() {
                out.push(format!("operation {op} needs issue_type"));
            }
        }
        if self.operation == ImportOperation::Update
            && self.key.is_none()
            && self.external_id.is_none()
        {
            out.push("operation update needs key or external_id to find each issue".to_owned());
        }
        if matches!(
            self.external_id.as_ref().map(|x| &x.target),
            Some(ExternalIdTarget::Property(_))
        ) && self.project.is_none()
        {
            out.push(
                "external_id.property needs project: issues are found by their property among \
                 the project's issues"
                    .to_owned(),
            );
        }
        if self.operation != ImportOperation::Upsert
            && (self.ignore_existing || self.ignore_missing)
        {
            out.push(format!(
                "ignore_existing and ignore_missing apply to upsert, not to {op}"
            ));
        }
        if self.ignore_existing && self.ignore_missing {
            out.push("ignore_existing and ignore_missing together would skip every record".into());
        }
        for (what, rule) in [("project", &self.project), ("issue_type", &self.issue_type)] {
            if let Some(rule) = rule {
                rule.problems(what, &mut out);
            }
        }
        for (field, rule) in &self.fields {
            let lower = field.to_ascii_lowercase();
            if matches!(lower.as_str(), "project" | "issuetype" | "issue type") {
                out.push(format!(
                    "fields.{field}: set it with the top-level {} setting",
                    if lower == "project" {
                        "project"
                    } else {
                        "issue_type"
                    }
                ));
            }
            rule.problems(&format!("fields.{field}"), &mut out);
        }
        if self.fields.is_empty()
            && self.actions.is_empty()
            && self.operation != ImportOperation::Create
        {
            out.push("fields and actions are empty: there is nothing to update".to_owned());
        }
        self.actions.problems(&mut out);
        out
    }
}

impl Rule {
    pub(crate) fn problems(&self, at: &str, out: &mut Vec<String>) {
        let sources = [
            self.source.is_some(),
            self.constant.is_some(),
            self.template.is_some(),
        ]
        .into_iter()
        .filter(|x| *x)
        .count();
        if sources != 1 {
            out.push(format!(
                "{at}: give exactly one of source, const or template"
            ));
        }
        if let Some(t) = &self.template
            && let Err(e) = parse_template(t)
        {
            out.push(format!("{at}: {e}"));
        }
        if let Some(sep) = &self.split
            && sep.is_empty()
        {
            out.push(format!("{at}: split needs a separator"));
        }
        if let Some(zone) = &self.time_zone
            && jiff::tz::TimeZone::get(zone).is_err()
        {
            out.push(format!("{at}: unknown time zone {zone:?}"));
        }
    }

    /// The value for `record`: from the source, constant or template, then `map`, `default`
    /// and `split`. `None` when there is none.
    #[must_use]
    pub fn evaluate(&self, record: &Map<String, Value>) -> Option<Value> {
        let mut value = if let Some(path) = &self.source {
            lookup(record, path).cloned()
        } else if let Some(c) = &self.constant {
            Some(c.clone())
        } else {
            self.template
                .as_ref()
                .map(|t| Value::String(render_template(t, record)))
        };
        if let (Some(map), Some(v)) = (&self.map, &value) {
            let text = match v {
                Value::String(s) => Some(s.clone()),
                Value::Number(n) => Some(n.to_string()),
                Value::Bool(b) => Some(b.to_string()),
                _ => None,
            };
            if let Some(found) = text.and_then(|t| map.get(&t)) {
                value = Some(found.clone());
            }
        }
        if value.as_ref().is_none_or(is_empty) {
            value = self.default.clone();
        }
        if let (Some(sep), Some(Value::String(s))) = (&self.split, &value) {
            let parts: Vec<Value> = s
                .split(sep.as_str())
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .map(|p| Value::String(p.to_owned()))
                .collect();
            value = Some(Value::Array(parts));
        }
        value.filter(|v| !is_empty(v))
    }
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.trim().is_empty(),
        _ => false,
    }
}

/// A field of `record` by name, or by a dotted path into nested objects.
#[must_use]
pub fn lookup<'a>(record: &'a Map<String, Value>, path: &str) -> Option<&'a Value> {
    if let Some(v) = record.get(path) {
        return Some(v);
    }
    let mut parts = path.split('.');
    let mut current = record.get(parts.next()?)?;
    for part in parts {
        current = match current {
            Value::Object(m) => m.get(part)?,
            Value::Array(a) => a.get(part.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(current)
}

/// A value as template or identity text: strings bare, other scalars as JSON, null empty.
#[must_use]
pub fn text_of(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[derive(Debug, PartialEq)]
enum Piece<'a> {
    Text(&'a str),
    Field(&'a str),
}

fn parse_template(t: &str) -> Result<Vec<Piece<'_>>, String> {
    let mut out = Vec::new();
    let mut rest = t;
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix("{{") {
            out.push(Piece::Text("{"));
            rest = r;
        } else if let Some(r) = rest.strip_prefix("}}") {
            out.push(Piece::Text("}"));
            rest = r;
        } else if let Some(r) = rest.strip_prefix('{') {
            let end = r
                .find('}')
                .ok_or_else(|| "a { in the template is not closed".to_owned())?;
            let name = r[..end].trim();
            if name.is_empty() {
                return Err("the template has an empty {}".to_owned());
            }
            out.push(Piece::Field(name));
            rest = &r[end + 1..];
        } else if rest.starts_with('}') {
            return Err("a } in the template has no {; write }} for a brace".to_owned());
        } else {
            let end = rest.find(['{', '}']).unwrap_or(rest.len());
            out.push(Piece::Text(&rest[..end]));
            rest = &rest[end..];
        }
    }
    Ok(out)
}

fn render_template(t: &str, record: &Map<String, Value>) -> String {
    let mut out = String::new();
    for piece in parse_template(t).unwrap_or_default() {
        match piece {
            Piece::Text(s) => out.push_str(s),
            Piece::Field(name) => {
                if let Some(v) = lookup(record, name) {
                    out.push_str(&text_of(v));
                }
            }
        }
    }
    out
}

fn toml_message(e: &toml::de::Error) -> String {
    let msg = e.message().trim().to_owned();
    match e.span() {
        Some(span) => format!("mapping file, at byte {}: {msg}", span.start),
        None => format!("mapping file: {msg}"),
    }
}

/// What is wrong with an issue property key for the external id, if anything: Jira takes keys
/// of 1 to 255 characters; the key of jiralink's own mark is taken.
fn property_key_problem(key: &str) -> Option<String> {
    if key.trim().is_empty() {
        Some("needs a property key".to_owned())
    } else if key.chars().count() > MAX_PROPERTY_KEY {
        Some(format!(
            "is {} characters long; Jira takes property keys of at most {MAX_PROPERTY_KEY}",
            key.chars().count()
        ))
    } else if key != key.trim() {
        Some(format!("{key:?} starts or ends with a space"))
    } else if key == super::run::IMPORT_PROPERTY {
        Some(format!(
            "cannot be {:?}: jiralink keeps its own mark there",
            super::run::IMPORT_PROPERTY
        ))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;
    use serde_json::json;

    fn rec(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => Map::new(),
        }
    }

    #[test]
    fn reads_a_full_mapping() {
        let m = Mapping::from_toml(
            r#"
operation = "upsert"
project = "DEMO"
issue_type = { source = "type", default = "Task" }
[external_id]
source = "id"
field = "Customer Reference"
[fields]
summary = "title"
labels = { source = "tags", split = "," }
"Team" = { const = "Platform" }
"#,
        );
        let Ok(m) = m else {
            panic!("{m:?}");
        };
        assert_eq!(m.operation, ImportOperation::Upsert);
        assert_eq!(
            m.project.as_ref().and_then(|r| r.constant.clone()),
            Some(json!("DEMO"))
        );
        assert_eq!(
            m.external_id,
            Some(ExternalId {
                source: "id".into(),
                target: ExternalIdTarget::Field("Customer Reference".into())
            })
        );
        assert_eq!(m.fields.len(), 3);
    }

    #[test]
    fn the_external_id_can_be_an_issue_property() {
        let text = |place: &str| {
            format!(
                "operation = \"upsert\"\nproject = \"DEMO\"\nissue_type = \"Task\"\n\
                 [external_id]\nsource = \"id\"\n{place}\n[fields]\nsummary = \"title\"\n"
            )
        };
        let m = Mapping::from_toml(&text("property = \"crm.ticket\"")).unwrap();
        assert_eq!(
            m.external_id,
            Some(ExternalId {
                source: "id".into(),
                target: ExternalIdTarget::Property("crm.ticket".into())
            })
        );
        assert!(m.problems().is_empty(), "{:?}", m.problems());
        let longest = "k".repeat(MAX_PROPERTY_KEY);
        assert!(Mapping::from_toml(&text(&format!("property = \"{longest}\""))).is_ok());
        for (place, problem) in [
            (
                format!("property = \"{longest}k\""),
                "external_id.property is 256 characters long; Jira takes property keys of at most 255",
            ),
            (
                "property = \"\"".to_owned(),
                "external_id.property needs a property key",
            ),
            (
                "property = \" crm \"".to_owned(),
                "external_id.property \" crm \" starts or ends with a space",
            ),
            (
                "property = \"jiralink.import\"".to_owned(),
                "external_id.property cannot be \"jiralink.import\": jiralink keeps its own mark there",
            ),
            (
                "property = \"crm.ticket\"\nlabel_prefix = \"ext-\"".to_owned(),
                "external_id needs exactly one of field, label_prefix or property",
            ),
            (
                "field = \"Ref\"\nproperty = \"crm.ticket\"".to_owned(),
                "external_id needs exactly one of field, label_prefix or property",
            ),
            (
                String::new(),
                "external_id needs exactly one of field, label_prefix or property",
            ),
        ] {
            let Err(problems) = Mapping::from_toml(&text(&place)) else {
                panic!("accepted {place}");
            };
            assert_eq!(problems, vec![problem.to_owned()], "{place}");
        }
        let update = "operation = \"update\"\n[external_id]\nsource = \"id\"\n\
                      property = \"crm.ticket\"\n[fields]\nsummary = \"title\"\n";
        assert_eq!(
            Mapping::from_toml(update).err(),
            Some(vec![
                "external_id.property needs project: issues are found by their property among \
                 the project's issues"
                    .to_owned()
            ])
        );
    }

    #[test]
    fn lists_every_problem_at_once() {
        let Err(problems) = Mapping::from_toml(
            r#"
operation = "create"
ignore_missing = true
[fields]
summary = { source = "a", const = "b" }
description = { template = "{oops" }
x = { source = "y", time_zone = "Mars/Base", split = "" }
project = "p"
"#,
        ) else {
            panic!("accepted");
        };
        assert_eq!(
            problems,
            vec![
                "operation create needs project",
                "operation create needs issue_type",
                "ignore_existing and ignore_missing apply to upsert, not to create",
                "fields.description: a { in the template is not closed",
                "fields.project: set it with the top-level project setting",
                "fields.summary: give exactly one of source, const or template",
                "fields.x: split needs a separator",
                "fields.x: unknown time zone \"Mars/Base\"",
            ]
        );
    }

    #[test]
    fn reads_actions() {
        let m = Mapping::from_toml(
            r#"
operation = "update"
key = "key"
[actions]
status = { source = "state", map = { closed = "Done" } }
transition_fields = { resolution = { const = "Done" } }
comment = { source = "note", format = "markdown" }
worklog = { time_spent = "spent", started = { source = "day", time_zone = "Europe/Berlin" } }
links = [ { type = "Blocks", to = "blocks" }, { type = "Relates", to = { source = "rel", split = "|" } } ]
attachments = { source = "files", split = ";" }
"#,
        );
        let Ok(m) = m else {
            panic!("{m:?}");
        };
        let a = &m.actions;
        assert!(m.fields.is_empty(), "actions alone are something to update");
        assert_eq!(
            a.status.as_ref().and_then(|r| r.source.as_deref()),
            Some("state")
        );
        assert_eq!(
            a.transition_fields["resolution"].constant,
            Some(json!("Done"))
        );
        assert_eq!(
            a.comment.as_ref().and_then(|r| r.format),
            Some(TextFormat::Markdown)
        );
        let w = a.worklog.as_ref().map(|w| {
            (
                w.time_spent.source.clone(),
                w.started.as_ref().and_then(|r| r.time_zone.clone()),
                w.comment.is_none(),
            )
        });
        assert_eq!(
            w,
            Some((Some("spent".into()), Some("Europe/Berlin".into()), true))
        );
        let links: Vec<(&str, Option<&str>)> = a
            .links
            .iter()
            .map(|l| (l.link_type.as_str(), l.to.source.as_deref()))
            .collect();
        assert_eq!(
            links,
            vec![("Blocks", Some("blocks")), ("Relates", Some("rel"))]
        );
        assert_eq!(
            a.attachments.as_ref().and_then(|r| r.split.as_deref()),
            Some(";")
        );
        let none =
            Mapping::from_toml("operation = \"create\"\nproject = \"P\"\nissue_type = \"T\"");
        assert!(none.is_ok_and(|m| m.actions.is_empty()));
    }

    #[test]
    fn action_problems() {
        let problems = |text: &str| {
            Mapping::from_toml(&format!(
                "operation = \"create\"\nproject = \"P\"\nissue_type = \"T\"\n[actions]\n{text}"
            ))
            .err()
            .unwrap_or_default()
        };
        for (text, says) in [
            ("comments = \"note\"", "unknown field `comments`"),
            ("worklog = { spent = \"x\" }", "unknown field `spent`"),
            (
                "worklog = { started = \"x\" }",
                "missing field `time_spent`",
            ),
            (
                "links = [ { type = \"Blocks\", key = \"x\" } ]",
                "unknown field `key`",
            ),
            ("links = [ { to = \"x\" } ]", "missing field `type`"),
        ] {
            let p = problems(text);
            assert!(p.len() == 1 && p[0].contains(says), "{text}: {p:?}");
        }
        assert_eq!(
            problems(
                r#"
transition_fields = { resolution = { const = "Done", source = "r" } }
comment = { template = "{oops" }
worklog = { time_spent = "t", started = { source = "d", time_zone = "Mars/Base" } }
links = [ { type = " ", to = "b" } ]
attachments = { source = "f", split = "" }
"#
            ),
            vec![
                "actions.transition_fields needs actions.status",
                "actions.transition_fields.resolution: give exactly one of source, const or template",
                "actions.comment: a { in the template is not closed",
                "actions.worklog.started: unknown time zone \"Mars/Base\"",
                "actions.links[0]: type needs the name of a link type",
                "actions.attachments: split needs a separator",
            ]
        );
        let Err(p) = Mapping::from_toml("operation = \"update\"\nkey = \"k\"") else {
            panic!("accepted");
        };
        assert_eq!(
            p,
            vec!["fields and actions are empty: there is nothing to update"]
        );
    }

    #[test]
    fn toml_errors_say_where() {
        let Err(p) = Mapping::from_toml("operation = \"merge\"") else {
            panic!("accepted");
        };
        assert!(p[0].starts_with("mapping file, at byte"), "{p:?}");
        assert!(p[0].contains("merge"), "{p:?}");
        let Err(p) = Mapping::from_toml("operation = \"create\"\nbogus = 1") else {
            panic!("accepted");
        };
        assert!(p[0].contains("bogus"), "{p:?}");
    }

    #[test]
    fn rules_evaluate() {
        let r = rec(json!({"a": " ", "n": 3, "o": {"p": ["x", "y"]}, "t": "a, b,,c", "s": "P1"}));
        let rule = |t: &str| -> Rule {
            let v: RuleText = toml::from_str::<BTreeMap<String, RuleText>>(&format!("r = {t}"))
                .ok()
                .and_then(|m| m.into_values().next())
                .unwrap_or(RuleText::Source(String::new()));
            v.into()
        };
        assert_eq!(rule("\"o.p.1\"").evaluate(&r), Some(json!("y")));
        assert_eq!(rule("\"missing\"").evaluate(&r), None);
        assert_eq!(rule("\"a\"").evaluate(&r), None);
        assert_eq!(
            rule("{ source = \"a\", default = \"d\" }").evaluate(&r),
            Some(json!("d"))
        );
        assert_eq!(
            rule("{ source = \"t\", split = \",\" }").evaluate(&r),
            Some(json!(["a", "b", "c"]))
        );
        assert_eq!(
            rule("{ source = \"s\", map = { P1 = \"Highest\" } }").evaluate(&r),
            Some(json!("Highest"))
        );
        assert_eq!(
            rule("{ template = \"#{n}: {{{o.p.0}}} {missing}\" }").evaluate(&r),
            Some(json!("#3: {x} "))
        );
        assert_eq!(rule("{ const = [1, 2] }").evaluate(&r), Some(json!([1, 2])));
    }
}
