//! The site data model: configuration (projects, issue types, statuses, workflows, fields,
//! users) and issues with their comments, worklogs, change history and properties.
//!
//! Times are epoch milliseconds (UTC). Rich text (`description`, `environment`, textarea custom
//! fields, comment bodies, worklog comments) is always stored as an ADF document; the platform
//! API converts it to wiki markup for version 2.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Id of the first generated issue; later ones count up from it.
pub const FIRST_ISSUE_ID: u64 = 10_000;

/// A Jira project.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Project {
    /// Numeric id (`10000`…).
    pub id: u64,
    /// Key, e.g. `DEMO`.
    pub key: String,
    /// Display name.
    pub name: String,
    /// Plain-text description.
    pub description: String,
    /// `software`, `business` or `service_desk`.
    pub project_type_key: String,
    /// Team-managed (`true`) or company-managed.
    pub simplified: bool,
    /// Account id of the project lead.
    pub lead: String,
    /// Issue types usable in the project, by id, in display order.
    pub issue_type_ids: Vec<String>,
    /// Name of the workflow every issue type of the project uses.
    pub workflow: String,
    /// Components.
    pub components: Vec<Component>,
    /// Versions (for `fixVersions`).
    pub versions: Vec<Version>,
}

/// A project component.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Component {
    /// Numeric id as a string.
    pub id: String,
    /// Name.
    pub name: String,
    /// Description.
    #[serde(default)]
    pub description: String,
    /// Account id of the component lead.
    #[serde(default)]
    pub lead: Option<String>,
    /// `PROJECT_DEFAULT`, `COMPONENT_LEAD`, `PROJECT_LEAD` or `UNASSIGNED`.
    #[serde(default)]
    pub assignee_type: Option<String>,
}

/// A project version.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Version {
    /// Numeric id as a string.
    pub id: String,
    /// Name, e.g. `1.2.0`.
    pub name: String,
    /// Whether it is released.
    pub released: bool,
    /// Release date `YYYY-MM-DD`.
    pub release_date: Option<String>,
    /// Description.
    #[serde(default)]
    pub description: String,
    /// Whether it is archived.
    #[serde(default)]
    pub archived: bool,
    /// Start date `YYYY-MM-DD`.
    #[serde(default)]
    pub start_date: Option<String>,
    /// Account id of the driver.
    #[serde(default)]
    pub driver: Option<String>,
}

/// An issue type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssueType {
    /// Numeric id as a string.
    pub id: String,
    /// Name, e.g. `Story`.
    pub name: String,
    /// Description.
    pub description: String,
    /// Whether issues of this type are sub-tasks (need a parent).
    pub subtask: bool,
    /// 1 for epics, 0 for standard types, -1 for sub-tasks.
    pub hierarchy_level: i32,
    /// Avatar id for the icon URL.
    pub avatar_id: u64,
}

/// A status category (Jira's fixed set: `new`, `indeterminate`, `done`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusCategory {
    /// Numeric id (2 new, 4 indeterminate, 3 done).
    pub id: u64,
    /// `new`, `indeterminate` or `done`.
    pub key: String,
    /// `To Do`, `In Progress` or `Done`.
    pub name: String,
    /// `blue-gray`, `yellow` or `green`.
    pub color_name: String,
}

/// A workflow status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    /// Numeric id as a string.
    pub id: String,
    /// Name, e.g. `In Progress`.
    pub name: String,
    /// Description.
    pub description: String,
    /// Key of its [`StatusCategory`].
    pub category: String,
}

/// A workflow transition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transition {
    /// Id, unique within the workflow.
    pub id: String,
    /// Name shown on the issue, e.g. `Start progress`.
    pub name: String,
    /// Status ids the transition starts from; empty for a global transition (from any status).
    pub from: Vec<String>,
    /// Target status id.
    pub to: String,
}

/// A workflow: statuses and the transitions between them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Workflow {
    /// Unique name.
    pub name: String,
    /// Status of newly created issues.
    pub initial: String,
    /// Every status of the workflow.
    pub statuses: Vec<String>,
    /// Transitions.
    pub transitions: Vec<Transition>,
}

impl Workflow {
    /// Transitions available from `status`, in workflow order; a transition to the current
    /// status is not offered.
    pub fn available_from<'a>(&'a self, status: &'a str) -> impl Iterator<Item = &'a Transition> {
        self.transitions.iter().filter(move |t| {
            t.to != status && (t.from.is_empty() || t.from.iter().any(|f| f == status))
        })
    }
}

/// An issue priority.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Priority {
    /// Numeric id as a string (`1` Highest … `5` Lowest).
    pub id: String,
    /// Name.
    pub name: String,
    /// Colour used in the UI.
    pub color: String,
}

/// An issue resolution.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resolution {
    /// Numeric id as a string.
    pub id: String,
    /// Name, e.g. `Done`.
    pub name: String,
    /// Description.
    pub description: String,
}

/// The kinds of custom field the simulator models.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CustomKind {
    /// Single select: `{"value":…}` / `{"id":…}`.
    Select,
    /// Multi-select: array of options.
    MultiSelect,
    /// Cascading select: `{"value":…,"child":{"value":…}}`.
    Cascading,
    /// User picker: `{"accountId":…}`.
    User,
    /// Single-line text: a string.
    Text,
    /// Paragraph: ADF in v3, wiki markup in v2.
    TextArea,
    /// Number.
    Number,
    /// Date picker: `YYYY-MM-DD`.
    Date,
    /// Labels: array of strings without spaces.
    Labels,
}

impl CustomKind {
    /// The `schema.custom` type key Jira reports.
    pub fn type_key(self) -> &'static str {
        match self {
            Self::Select => "com.atlassian.jira.plugin.system.customfieldtypes:select",
            Self::MultiSelect => "com.atlassian.jira.plugin.system.customfieldtypes:multiselect",
            Self::Cascading => "com.atlassian.jira.plugin.system.customfieldtypes:cascadingselect",
            Self::User => "com.atlassian.jira.plugin.system.customfieldtypes:userpicker",
            Self::Text => "com.atlassian.jira.plugin.system.customfieldtypes:textfield",
            Self::TextArea => "com.atlassian.jira.plugin.system.customfieldtypes:textarea",
            Self::Number => "com.atlassian.jira.plugin.system.customfieldtypes:float",
            Self::Date => "com.atlassian.jira.plugin.system.customfieldtypes:datepicker",
            Self::Labels => "com.atlassian.jira.plugin.system.customfieldtypes:labels",
        }
    }

    /// `schema.type` (and `schema.items` for arrays).
    pub fn schema_type(self) -> (&'static str, Option<&'static str>) {
        match self {
            Self::Select => ("option", None),
            Self::MultiSelect => ("array", Some("option")),
            Self::Cascading => ("option-with-child", None),
            Self::User => ("user", None),
            Self::Text | Self::TextArea => ("string", None),
            Self::Number => ("number", None),
            Self::Date => ("date", None),
            Self::Labels => ("array", Some("string")),
        }
    }
}

/// An option of a select, multi-select or cascading field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldOption {
    /// Numeric id as a string.
    pub id: String,
    /// Display value.
    pub value: String,
    /// Child options (cascading fields only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub children: Vec<FieldOption>,
}

/// A custom field, `customfield_{id}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomField {
    /// Numeric id (10010…).
    pub id: u64,
    /// Display name, also usable in JQL.
    pub name: String,
    /// Description.
    pub description: String,
    /// Type.
    pub kind: CustomKind,
    /// Options (select kinds only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<FieldOption>,
}

impl CustomField {
    /// `customfield_{id}`.
    pub fn field_id(&self) -> String {
        format!("customfield_{}", self.id)
    }

    /// Finds an option (top level) by id or value.
    pub fn option(&self, id_or_value: &str) -> Option<&FieldOption> {
        self.options
            .iter()
            .find(|o| o.id == id_or_value || o.value == id_or_value)
    }

    /// Finds an option at any level by id.
    pub fn option_by_id(&self, id: &str) -> Option<&FieldOption> {
        self.options
            .iter()
            .flat_map(|o| std::iter::once(o).chain(o.children.iter()))
            .find(|o| o.id == id)
    }
}

/// A user as the site's issues see them. Members of the site in the identity directory appear
/// here too, so `alice`, `bob` and `carol` can be assignees.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SiteUser {
    /// Account id.
    pub account_id: String,
    /// Display name.
    pub display_name: String,
    /// E-mail address.
    pub email: String,
    /// Whether the account is active.
    pub active: bool,
    /// IANA time zone.
    pub time_zone: String,
    /// Locale, e.g. `en_US`.
    pub locale: String,
}

/// The value of a custom field on an issue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type", content = "value")]
pub enum CustomValue {
    /// Select: option id.
    Option(String),
    /// Multi-select: option ids.
    Options(Vec<String>),
    /// Cascading select: parent and optional child option ids.
    Cascade(String, Option<String>),
    /// User picker: account id.
    User(String),
    /// Single-line text.
    Text(String),
    /// Paragraph: ADF document.
    Rich(Value),
    /// Number.
    Number(f64),
    /// Date `YYYY-MM-DD`.
    Date(String),
    /// Labels.
    Labels(Vec<String>),
}

/// A comment on an issue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Comment {
    /// Numeric id.
    pub id: u64,
    /// Author's account id.
    pub author: String,
    /// Account id of the last editor.
    pub update_author: String,
    /// ADF body.
    pub body: Value,
    /// Creation time (ms).
    pub created: i64,
    /// Last edit time (ms).
    pub updated: i64,
    /// Restriction, e.g. `{"type":"role","value":"Administrators"}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub visibility: Option<Value>,
    /// Whether a service-desk customer can see it (`jsdPublic`); internal notes are `false`.
    #[serde(default = "yes")]
    pub jsd_public: bool,
}

fn yes() -> bool {
    true
}

/// Time logged on an issue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Worklog {
    /// Numeric id.
    pub id: u64,
    /// Author's account id.
    pub author: String,
    /// Account id of the last editor.
    pub update_author: String,
    /// ADF comment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<Value>,
    /// When the work started (ms).
    pub started: i64,
    /// Time spent in seconds.
    pub time_spent_seconds: u64,
    /// Creation time (ms).
    pub created: i64,
    /// Last edit time (ms).
    pub updated: i64,
}

/// One field change inside a history entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeItem {
    /// Field name as Jira reports it (`status`, `assignee`, `Story Points`…).
    pub field: String,
    /// `jira` for system fields, `custom` for custom fields.
    pub fieldtype: String,
    /// Field id (`status`, `customfield_10010`…).
    pub field_id: String,
    /// Old raw value (ids, account ids).
    pub from: Option<String>,
    /// Old display value.
    pub from_string: Option<String>,
    /// New raw value.
    pub to: Option<String>,
    /// New display value.
    pub to_string: Option<String>,
}

/// One change-history entry (a changelog "history").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct History {
    /// Numeric id.
    pub id: u64,
    /// Who made the change.
    pub author: Option<String>,
    /// When (ms).
    pub created: i64,
    /// What changed.
    pub items: Vec<ChangeItem>,
}

/// A Jira issue with everything the simulator keeps about it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Issue {
    /// Numeric id.
    pub id: u64,
    /// Current key, e.g. `DEMO-12`.
    pub key: String,
    /// Project id.
    pub project_id: u64,
    /// Issue type id.
    pub issue_type: String,
    /// Status id.
    pub status: String,
    /// Summary.
    pub summary: String,
    /// ADF description.
    pub description: Option<Value>,
    /// ADF environment.
    pub environment: Option<Value>,
    /// Priority id.
    pub priority: Option<String>,
    /// Resolution id (set while the status is in the `done` category).
    pub resolution: Option<String>,
    /// Labels.
    pub labels: Vec<String>,
    /// Component ids.
    pub components: Vec<String>,
    /// Fix version ids.
    pub fix_versions: Vec<String>,
    /// Assignee's account id.
    pub assignee: Option<String>,
    /// Reporter's account id.
    pub reporter: Option<String>,
    /// Creator's account id.
    pub creator: Option<String>,
    /// Creation time (ms).
    pub created: i64,
    /// Last update time (ms).
    pub updated: i64,
    /// When the resolution was set (ms).
    pub resolution_date: Option<i64>,
    /// When the status category last changed (ms).
    pub status_category_changed: i64,
    /// Due date `YYYY-MM-DD`.
    pub due_date: Option<String>,
    /// Parent issue id (sub-tasks; epics for standard issues).
    pub parent: Option<u64>,
    /// Custom field values by numeric field id.
    pub custom: BTreeMap<u64, CustomValue>,
    /// Comments, oldest first.
    pub comments: Vec<Comment>,
    /// Worklogs, oldest first.
    pub worklogs: Vec<Worklog>,
    /// Change history, oldest first.
    pub changelog: Vec<History>,
    /// Issue properties.
    pub properties: BTreeMap<String, Value>,
    // Jira Software (agile).
    /// Ids of the sprints the issue is or was in (the `Sprint` field), oldest first; at most
    /// one of them is open (future or active).
    #[serde(default)]
    pub sprints: Vec<u64>,
    // Tracking: watchers, votes and time estimates.
    /// Watchers, votes, original and remaining estimate.
    #[serde(default)]
    pub tracking: Tracking,
    // JQL fields.
    /// Affects-version ids (the `versions` field).
    #[serde(default)]
    pub versions: Vec<String>,
}

impl Issue {
    /// The number part of the key.
    pub fn number(&self) -> u64 {
        self.key
            .rsplit_once('-')
            .and_then(|(_, n)| n.parse().ok())
            .unwrap_or(0)
    }

    /// Total time logged, in seconds.
    pub fn time_spent(&self) -> u64 {
        self.worklogs.iter().map(|w| w.time_spent_seconds).sum()
    }
}

/// Who watches and voted for an issue, and its time estimates.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tracking {
    /// Account ids watching the issue, in the order they started.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub watchers: Vec<String>,
    /// Account ids that voted for the issue.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub voters: Vec<String>,
    /// Original estimate in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub original_estimate: Option<u64>,
    /// Remaining estimate in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remaining_estimate: Option<u64>,
}

impl Tracking {
    /// Adds a watcher unless present; `true` when added.
    pub fn watch(&mut self, account_id: &str) -> bool {
        if self.watchers.iter().any(|w| w == account_id) {
            return false;
        }
        self.watchers.push(account_id.to_owned());
        true
    }
}

/// The issue a write created or touched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssueRef {
    /// Numeric id.
    pub id: u64,
    /// Key.
    pub key: String,
}
