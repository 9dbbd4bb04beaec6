//! The deterministic generator: a site's configuration and its issues from `(seed, subdomain,
//! size)`.
//!
//! Issues are never stored: issue `i` (0-based, id `10000 + i`) is computed from
//! `hash(seed, i, attribute)` whenever it is needed. [`GenRow`] is the cheap part JQL reads
//! (type, status, people, labels, dates, summary), [`Generator::issue`] the full issue with
//! description, custom fields, comments, worklogs and a change history that leads from the
//! workflow's initial status to the current one. Both agree by construction, because the full
//! issue starts from the row.
//!
//! Layout: each project owns a contiguous block of indexes; within a project, local numbers run
//! in blocks of eight: position 0 is an epic every fourth block (software), positions 6 and 7
//! are sub-tasks of position 5 (software and business). Creation times rise with the local
//! number and spread over the 180 days before the anchor (midnight UTC of the simulator clock
//! when the site was generated), so every event lies in the past.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::model::{
    ChangeItem, Comment, Component, CustomField, CustomKind, CustomValue, FIRST_ISSUE_ID,
    FieldOption, History, Issue, IssueType, Priority, Project, Resolution, SiteUser, Status,
    StatusCategory, Tracking, Transition, Version, Workflow, Worklog,
};
use crate::config::DataSize;

const MINUTE_MS: i64 = 60_000;
const HOUR_MS: i64 = 60 * MINUTE_MS;
const DAY_MS: i64 = 24 * HOUR_MS;
/// Generated creation times spread over this many days before the anchor.
pub const SPAN_DAYS: i64 = 180;
const FIRST_DAY_OFFSET: i64 = -(SPAN_DAYS + 20);
const LAST_DAY_OFFSET: i64 = 120;

/// Issues generated per size (the default site; other sites are always `small`).
pub fn issue_count(size: DataSize) -> u64 {
    match size {
        DataSize::Small => 96,
        DataSize::Medium => 5_000,
        DataSize::Large => 1_000_000,
    }
}

/// Generated users (besides the site's directory members) per size.
fn user_count(size: DataSize) -> usize {
    match size {
        DataSize::Small => 12,
        DataSize::Medium => 40,
        DataSize::Large => 200,
    }
}

/// splitmix64 over the seed, an index and a salt: the generator's only source of randomness.
pub(crate) fn mix(seed: u64, index: u64, salt: u64) -> u64 {
    let mut z = seed
        ^ index.wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ salt.wrapping_mul(0xD1B5_4A32_D192_ED03).rotate_left(17);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn pick(h: u64, n: usize) -> usize {
    usize::try_from(h % (n.max(1) as u64)).unwrap_or(0)
}

/// Salts, one per attribute, so attributes vary independently.
mod salt {
    pub(super) const TYPE: u64 = 1;
    pub(super) const STATUS: u64 = 2;
    pub(super) const ASSIGNEE: u64 = 3;
    pub(super) const REPORTER: u64 = 4;
    pub(super) const LABELS: u64 = 5;
    pub(super) const CREATED: u64 = 6;
    pub(super) const DELTA: u64 = 7;
    pub(super) const SUMMARY: u64 = 8;
    pub(super) const PRIORITY: u64 = 9;
    pub(super) const COMMENTS: u64 = 10;
    pub(super) const WORKLOGS: u64 = 11;
    pub(super) const EPIC: u64 = 12;
    pub(super) const DESCRIPTION: u64 = 13;
    pub(super) const COMPONENTS: u64 = 14;
    pub(super) const VERSION: u64 = 15;
    pub(super) const DUE: u64 = 16;
    pub(super) const RESOLUTION: u64 = 17;
    pub(super) const ENVIRONMENT: u64 = 18;
    pub(super) const PROPERTY: u64 = 19;
    pub(super) const AFFECTED: u64 = 20;
    pub(super) const CUSTOM: u64 = 100;
    pub(super) const TEXT: u64 = 200;
}

/// Status category keys.
pub const NEW: &str = "new";
/// In progress.
pub const INDETERMINATE: &str = "indeterminate";
/// Done.
pub const DONE: &str = "done";

/// Issue type ids.
pub mod types {
    /// Epic.
    pub const EPIC: &str = "10000";
    /// Story.
    pub const STORY: &str = "10001";
    /// Task.
    pub const TASK: &str = "10002";
    /// Bug.
    pub const BUG: &str = "10003";
    /// Sub-task.
    pub const SUBTASK: &str = "10004";
    /// Service request (service desk).
    pub const SERVICE_REQUEST: &str = "10005";
    /// Incident (service desk).
    pub const INCIDENT: &str = "10006";
}

/// Custom field ids.
pub mod fields {
    /// Story Points (number).
    pub const STORY_POINTS: u64 = 10010;
    /// Team (select).
    pub const TEAM: u64 = 10011;
    /// Platforms (multi-select).
    pub const PLATFORMS: u64 = 10012;
    /// Region (cascading select).
    pub const REGION: u64 = 10013;
    /// Reviewer (user picker).
    pub const REVIEWER: u64 = 10014;
    /// Customer Reference (text).
    pub const CUSTOMER_REF: u64 = 10015;
    /// Acceptance Criteria (paragraph).
    pub const ACCEPTANCE: u64 = 10016;
    /// Target Date (date).
    pub const TARGET_DATE: u64 = 10017;
    /// Tags (labels).
    pub const TAGS: u64 = 10018;
}

/// The site configuration: everything except issues.
#[derive(Debug, Clone, PartialEq)]
pub struct Catalog {
    /// Projects.
    pub projects: Vec<Project>,
    /// Issue types.
    pub issue_types: Vec<IssueType>,
    /// Status categories.
    pub categories: Vec<StatusCategory>,
    /// Statuses.
    pub statuses: Vec<Status>,
    /// Workflows.
    pub workflows: Vec<Workflow>,
    /// Priorities, highest first.
    pub priorities: Vec<Priority>,
    /// Resolutions.
    pub resolutions: Vec<Resolution>,
    /// Custom fields.
    pub custom_fields: Vec<CustomField>,
    /// Users: the site's seeded members, generated users, then members added later.
    pub users: Vec<SiteUser>,
}

impl Catalog {
    /// A project by numeric id.
    pub fn project(&self, id: u64) -> Option<&Project> {
        self.projects.iter().find(|p| p.id == id)
    }

    /// A project by key (any case), numeric id or name (any case).
    pub fn project_by_key_or_id(&self, text: &str) -> Option<&Project> {
        let text = text.trim();
        self.projects.iter().find(|p| {
            p.key.eq_ignore_ascii_case(text)
                || p.id.to_string() == text
                || p.name.eq_ignore_ascii_case(text)
        })
    }

    /// An issue type by id or name (any case).
    pub fn issue_type(&self, id_or_name: &str) -> Option<&IssueType> {
        self.issue_types
            .iter()
            .find(|t| t.id == id_or_name || t.name.eq_ignore_ascii_case(id_or_name))
    }

    /// A status by id or name (any case).
    pub fn status(&self, id_or_name: &str) -> Option<&Status> {
        self.statuses
            .iter()
            .find(|s| s.id == id_or_name || s.name.eq_ignore_ascii_case(id_or_name))
    }

    /// A status category by key.
    pub fn category(&self, key: &str) -> Option<&StatusCategory> {
        self.categories.iter().find(|c| c.key == key)
    }

    /// The category of a status id (`new` when unknown).
    pub fn category_of(&self, status_id: &str) -> &str {
        self.status(status_id).map_or(NEW, |s| s.category.as_str())
    }

    /// The workflow of a project.
    pub fn workflow_of(&self, project: &Project) -> Option<&Workflow> {
        self.workflows.iter().find(|w| w.name == project.workflow)
    }

    /// A priority by id or name (any case).
    pub fn priority(&self, id_or_name: &str) -> Option<&Priority> {
        self.priorities
            .iter()
            .find(|p| p.id == id_or_name || p.name.eq_ignore_ascii_case(id_or_name))
    }

    /// A resolution by id or name (any case).
    pub fn resolution(&self, id_or_name: &str) -> Option<&Resolution> {
        self.resolutions
            .iter()
            .find(|r| r.id == id_or_name || r.name.eq_ignore_ascii_case(id_or_name))
    }

    /// A custom field by numeric id.
    pub fn custom_field(&self, id: u64) -> Option<&CustomField> {
        self.custom_fields.iter().find(|f| f.id == id)
    }

    /// A user by account id.
    pub fn user(&self, account_id: &str) -> Option<&SiteUser> {
        self.users.iter().find(|u| u.account_id == account_id)
    }
}

/// Where a project's generated issues sit in the index space.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Block {
    /// Position of the project in [`Catalog::projects`].
    pub project: usize,
    /// First global index.
    pub start: u64,
    /// Number of generated issues.
    pub count: u64,
}

/// The cheap, JQL-relevant part of generated issue `index`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GenRow {
    /// Global index.
    pub index: u64,
    /// Position of the project in the catalog.
    pub project: usize,
    /// Local number (key suffix).
    pub number: u64,
    /// Position of the issue type in the catalog.
    pub issue_type: usize,
    /// Position of the status in the catalog.
    pub status: usize,
    /// Assignee, as a position in the user pool.
    pub assignee: Option<usize>,
    /// Reporter, as a position in the user pool.
    pub reporter: usize,
    /// Position in the label-set table.
    pub labels: usize,
    /// Creation time (ms).
    pub created: i64,
    /// Last update time (ms).
    pub updated: i64,
    /// Position in the summary pool.
    pub summary: usize,
    /// Path from the initial status: position of the (workflow, status) pair in the path table.
    path: usize,
    comments: usize,
    worklogs: usize,
}

impl GenRow {
    /// The issue id.
    pub fn id(&self) -> u64 {
        FIRST_ISSUE_ID + self.index
    }
}

/// A generated custom-field value, as positions into the generator's tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum GenCustom {
    Option(usize),
    Options(u8),
    Cascade(usize, usize),
    User(usize),
    Text(usize),
    Rich(usize),
    Number(usize),
    Date(i64),
    Labels(usize),
}

/// A status path: the transitions from a workflow's initial status to a status.
#[derive(Debug, Clone, PartialEq, Eq)]
struct StatusPath {
    workflow: usize,
    status: String,
    /// `(transition id, from status id, to status id)`.
    steps: Vec<(String, String, String)>,
}

/// Everything needed to compute generated issues; built once per site.
#[derive(Debug, Clone)]
pub struct Generator {
    seed: u64,
    /// Midnight UTC of the day the data was generated (ms).
    pub anchor_ms: i64,
    /// Generated issues in total.
    pub total: u64,
    /// Index blocks per project, in catalog order.
    pub blocks: Vec<Block>,
    /// Accounts generated issues refer to (positions into [`Catalog::users`]).
    pool: Vec<usize>,
    active_pool: Vec<usize>,
    summaries: Vec<String>,
    desk_summaries: Vec<String>,
    sentences: Vec<&'static str>,
    customer_refs: Vec<String>,
    story_points: Vec<String>,
    days: Vec<String>,
    /// Label sets; the first ten are empty.
    pub label_sets: Vec<Vec<String>>,
    paths: Vec<StatusPath>,
    /// For each project, the positions into `paths` of its workflow's open and done statuses.
    project_paths: Vec<(Vec<usize>, Vec<usize>)>,
    /// For each project, the component and version ids it was generated with: generated issues
    /// pick from these, so later component and version writes do not reshuffle them.
    project_parts: Vec<(Vec<String>, Vec<String>)>,
    /// For each project, the ids of its versions released when generated: affected versions
    /// pick from these, so creating or releasing a version later does not reshuffle them.
    project_released: Vec<Vec<String>>,
}

/// Project templates: key, name, type, weight.
const PROJECTS: &[(&str, &str, &str, u64)] = &[
    ("DEMO", "Demo Software", "software", 40),
    ("MOB", "Mobile App", "software", 24),
    ("MKT", "Marketing", "business", 16),
    ("HELP", "Help Desk", "service_desk", 16),
    ("WEB", "Website", "software", 30),
    ("OPS", "Operations", "business", 14),
    ("DATA", "Data Platform", "software", 26),
    ("HR", "People Team", "business", 10),
];

fn project_templates(size: DataSize) -> &'static [(&'static str, &'static str, &'static str, u64)] {
    match size {
        DataSize::Small => &PROJECTS[..4],
        DataSize::Medium => &PROJECTS[..6],
        DataSize::Large => PROJECTS,
    }
}

const FIRST_NAMES: &[&str] = &[
    "Ada", "Ben", "Chloe", "Dev", "Elena", "Farid", "Grace", "Hiro", "Ines", "Jonas", "Kemi",
    "Lars", "Maya", "Nikolai", "Olga", "Pedro", "Quinn", "Rosa", "Sami", "Tara",
];
const LAST_NAMES: &[&str] = &[
    "Adams", "Berg", "Costa", "Dubois", "Evans", "Fischer", "Garcia", "Hansen", "Ito", "Jensen",
    "Kowalski", "Larsen",
];
const ZONES: &[&str] = &[
    "Europe/London",
    "Europe/Berlin",
    "America/New_York",
    "America/Los_Angeles",
    "Asia/Kolkata",
    "Asia/Tokyo",
    "Australia/Sydney",
    "Etc/UTC",
];
const VERBS: &[&str] = &[
    "Fix",
    "Improve",
    "Add",
    "Remove",
    "Refactor",
    "Investigate",
    "Document",
    "Update",
    "Migrate",
    "Optimise",
    "Review",
    "Design",
];
const OBJECTS: &[&str] = &[
    "login flow",
    "checkout page",
    "search results",
    "export job",
    "notification e-mails",
    "dashboard widgets",
    "API rate limiting",
    "user profile",
    "billing report",
    "mobile navigation",
    "password reset",
    "audit log",
    "invoice PDF",
    "onboarding wizard",
    "webhook retries",
    "CSV import",
];
const QUALIFIERS: &[&str] = &[
    "",
    " for large accounts",
    " on Safari",
    " after the last release",
    " in the admin area",
    " for new customers",
    " under load",
    " behind the proxy",
];
const DESK_ASKS: &[&str] = &[
    "Cannot access",
    "Request access to",
    "Password reset for",
    "Need a licence for",
    "Error when opening",
    "Slow response from",
];
const DESK_SYSTEMS: &[&str] = &[
    "the VPN",
    "e-mail",
    "the wiki",
    "the HR portal",
    "the CRM",
    "the build server",
    "office Wi-Fi",
    "the printer",
];
const SENTENCES: &[&str] = &[
    "The current behaviour confuses customers and creates support tickets.",
    "This was reported by several teams during the last sprint review.",
    "We should keep the change small and behind a feature flag.",
    "Logs show the problem started after the dependency upgrade.",
    "The design team prepared mock-ups for the new layout.",
    "Performance degrades noticeably with more than a thousand records.",
    "Acceptance tests must cover the happy path and the error cases.",
    "Coordinate the rollout with the support team before release.",
    "The old endpoint stays available until all clients have migrated.",
    "Measure the effect with the existing dashboard metrics.",
    "Security review is required because personal data is involved.",
    "A workaround exists but it is not documented anywhere.",
];
const LABELS: &[&str] = &[
    "backend",
    "frontend",
    "customer",
    "regression",
    "performance",
    "security",
    "tech-debt",
    "ux",
    "docs",
    "urgent",
];

/// Builds the configuration of a site: fixed catalogue plus seed-derived projects and users.
///
/// `members` are the site's members in the seeded identity directory (account id, display name,
/// e-mail, active, zone), first in the user list.
pub fn catalog(seed: u64, subdomain: &str, size: DataSize, members: Vec<SiteUser>) -> Catalog {
    let categories = vec![
        category(2, NEW, "To Do", "blue-gray"),
        category(4, INDETERMINATE, "In Progress", "yellow"),
        category(3, DONE, "Done", "green"),
    ];
    let statuses = vec![
        status("10000", "To Do", NEW, "Work that has not been started."),
        status("3", "In Progress", INDETERMINATE, "Work is being done."),
        status("10001", "In Review", INDETERMINATE, "Waiting for a review."),
        status("10002", "Done", DONE, "Work is complete."),
        status(
            "10003",
            "Waiting for support",
            NEW,
            "The team needs to act.",
        ),
        status(
            "10004",
            "Waiting for customer",
            INDETERMINATE,
            "The customer needs to act.",
        ),
        status("5", "Resolved", DONE, "The request is resolved."),
        status("6", "Closed", DONE, "The request is closed."),
    ];
    let workflows = vec![
        Workflow {
            name: "Software workflow".to_owned(),
            initial: "10000".to_owned(),
            statuses: strings(&["10000", "3", "10001", "10002"]),
            transitions: vec![
                transition("11", "Start progress", &["10000"], "3"),
                transition("21", "Submit for review", &["3"], "10001"),
                transition("31", "Done", &["3", "10001"], "10002"),
                transition("41", "Back to to do", &["3", "10001"], "10000"),
                transition("51", "Reopen", &["10002"], "10000"),
            ],
        },
        Workflow {
            name: "Business workflow".to_owned(),
            initial: "10000".to_owned(),
            statuses: strings(&["10000", "3", "10002"]),
            transitions: vec![
                transition("11", "To Do", &[], "10000"),
                transition("21", "In Progress", &[], "3"),
                transition("31", "Done", &[], "10002"),
            ],
        },
        Workflow {
            name: "Service desk workflow".to_owned(),
            initial: "10003".to_owned(),
            statuses: strings(&["10003", "10004", "5", "6"]),
            transitions: vec![
                transition("11", "Respond to customer", &["10003"], "10004"),
                transition("21", "Respond to support", &["10004"], "10003"),
                transition("31", "Resolve this issue", &["10003", "10004"], "5"),
                transition("41", "Close", &["5"], "6"),
                transition("51", "Reopen", &["5", "6"], "10003"),
            ],
        },
    ];
    let issue_types = vec![
        issue_type(
            types::EPIC,
            "Epic",
            "A big user story that needs to be broken down.",
            false,
            1,
            10307,
        ),
        issue_type(
            types::STORY,
            "Story",
            "Functionality or a feature expressed as a user goal.",
            false,
            0,
            10315,
        ),
        issue_type(
            types::TASK,
            "Task",
            "A small, distinct piece of work.",
            false,
            0,
            10318,
        ),
        issue_type(types::BUG, "Bug", "A problem or error.", false, 0, 10303),
        issue_type(
            types::SUBTASK,
            "Sub-task",
            "A small piece of work that's part of a larger task.",
            true,
            -1,
            10316,
        ),
        issue_type(
            types::SERVICE_REQUEST,
            "Service Request",
            "Ask for help or access.",
            false,
            0,
            10320,
        ),
        issue_type(
            types::INCIDENT,
            "Incident",
            "Report a system problem.",
            false,
            0,
            10321,
        ),
    ];
    let priorities = vec![
        priority("1", "Highest", "#d04437"),
        priority("2", "High", "#f15c75"),
        priority("3", "Medium", "#f79232"),
        priority("4", "Low", "#707070"),
        priority("5", "Lowest", "#999999"),
    ];
    let resolutions = vec![
        resolution("10000", "Done", "Work has been completed on this issue."),
        resolution("10001", "Won't Do", "This issue won't be actioned."),
        resolution(
            "10002",
            "Duplicate",
            "The problem is a duplicate of an existing issue.",
        ),
        resolution(
            "10003",
            "Cannot Reproduce",
            "The problem could not be reproduced.",
        ),
    ];
    let custom_fields = custom_fields();

    let mut users = members;
    let wanted = user_count(size);
    for n in 0..wanted {
        let first = FIRST_NAMES[n % FIRST_NAMES.len()];
        let last = LAST_NAMES[(n / FIRST_NAMES.len() + n) % LAST_NAMES.len()];
        let email = format!(
            "{}.{}{}@{subdomain}.example.com",
            first.to_ascii_lowercase(),
            last.to_ascii_lowercase(),
            n / (FIRST_NAMES.len() * LAST_NAMES.len()) + 1
        );
        users.push(SiteUser {
            account_id: crate::identity::account_id(seed, &email),
            display_name: format!("{first} {last}"),
            email,
            // Every ninth account is deactivated, like people who left.
            active: n % 9 != 8,
            time_zone: ZONES[pick(mix(seed, n as u64, 77), ZONES.len())].to_owned(),
            locale: "en_US".to_owned(),
        });
    }

    let lead_of = |n: usize| {
        users
            .get(n % users.len().max(1))
            .map(|u| u.account_id.clone())
    };
    let mut projects = Vec::new();
    for (n, (key, name, kind, _)) in project_templates(size).iter().enumerate() {
        let id = 10_000 + n as u64;
        let (type_ids, workflow) = match *kind {
            "software" => (
                strings(&[
                    types::EPIC,
                    types::STORY,
                    types::TASK,
                    types::BUG,
                    types::SUBTASK,
                ]),
                "Software workflow",
            ),
            "business" => (strings(&[types::TASK, types::SUBTASK]), "Business workflow"),
            _ => (
                strings(&[types::SERVICE_REQUEST, types::INCIDENT, types::TASK]),
                "Service desk workflow",
            ),
        };
        let component_names: &[&str] = match *kind {
            "software" => &["Backend", "Frontend", "API", "Database"],
            "business" => &["Campaigns", "Content", "Events"],
            _ => &["Hardware", "Access", "Software"],
        };
        let components = component_names
            .iter()
            .enumerate()
            .map(|(c, name)| Component {
                id: (10_000 + n * 10 + c).to_string(),
                name: (*name).to_owned(),
                description: format!("{name} work of {key}."),
                ..Component::default()
            })
            .collect();
        let versions = if *kind == "software" {
            [
                ("1.0.0", true, "2025-06-30"),
                ("1.1.0", true, "2025-10-15"),
                ("2.0.0", false, "2026-03-31"),
            ]
            .iter()
            .enumerate()
            .map(|(v, (name, released, date))| Version {
                id: (10_000 + n * 10 + v).to_string(),
                name: (*name).to_owned(),
                released: *released,
                release_date: Some((*date).to_owned()),
                ..Version::default()
            })
            .collect()
        } else {
            Vec::new()
        };
        projects.push(Project {
            id,
            key: (*key).to_owned(),
            name: (*name).to_owned(),
            description: format!("{name}: generated sample project."),
            project_type_key: (*kind).to_owned(),
            simplified: false,
            lead: lead_of(n).unwrap_or_default(),
            issue_type_ids: type_ids,
            workflow: workflow.to_owned(),
            components,
            versions,
        });
    }
    Catalog {
        projects,
        issue_types,
        categories,
        statuses,
        workflows,
        priorities,
        resolutions,
        custom_fields,
        users,
    }
}

fn custom_fields() -> Vec<CustomField> {
    let options = |first: u64, values: &[&str]| -> Vec<FieldOption> {
        values
            .iter()
            .enumerate()
            .map(|(n, v)| FieldOption {
                id: (first + n as u64).to_string(),
                value: (*v).to_owned(),
                children: Vec::new(),
            })
            .collect()
    };
    let regions = [
        ("Europe", ["Berlin", "Paris", "Lisbon"]),
        ("Americas", ["New York", "Toronto", "São Paulo"]),
        ("Asia Pacific", ["Sydney", "Tokyo", "Singapore"]),
    ];
    let region_options = regions
        .iter()
        .enumerate()
        .map(|(n, (parent, children))| FieldOption {
            id: (10_120 + n as u64).to_string(),
            value: (*parent).to_owned(),
            children: options(10_130 + 3 * n as u64, children),
        })
        .collect();
    let field =
        |id: u64, name: &str, description: &str, kind: CustomKind, options: Vec<FieldOption>| {
            CustomField {
                id,
                name: name.to_owned(),
                description: description.to_owned(),
                kind,
                options,
            }
        };
    vec![
        field(
            fields::STORY_POINTS,
            "Story Points",
            "Estimate in points.",
            CustomKind::Number,
            Vec::new(),
        ),
        field(
            fields::TEAM,
            "Team",
            "The owning team.",
            CustomKind::Select,
            options(
                10_100,
                &["Platform", "Payments", "Growth", "Mobile", "Support"],
            ),
        ),
        field(
            fields::PLATFORMS,
            "Platforms",
            "Affected platforms.",
            CustomKind::MultiSelect,
            options(10_110, &["iOS", "Android", "Web", "Desktop"]),
        ),
        field(
            fields::REGION,
            "Region",
            "Region and city.",
            CustomKind::Cascading,
            region_options,
        ),
        field(
            fields::REVIEWER,
            "Reviewer",
            "Who reviews the work.",
            CustomKind::User,
            Vec::new(),
        ),
        field(
            fields::CUSTOMER_REF,
            "Customer Reference",
            "The customer's own reference.",
            CustomKind::Text,
            Vec::new(),
        ),
        field(
            fields::ACCEPTANCE,
            "Acceptance Criteria",
            "When the work is done.",
            CustomKind::TextArea,
            Vec::new(),
        ),
        field(
            fields::TARGET_DATE,
            "Target Date",
            "Planned completion.",
            CustomKind::Date,
            Vec::new(),
        ),
        field(
            fields::TAGS,
            "Tags",
            "Free-form tags.",
            CustomKind::Labels,
            Vec::new(),
        ),
    ]
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

fn category(id: u64, key: &str, name: &str, color: &str) -> StatusCategory {
    StatusCategory {
        id,
        key: key.to_owned(),
        name: name.to_owned(),
        color_name: color.to_owned(),
    }
}

fn status(id: &str, name: &str, category: &str, description: &str) -> Status {
    Status {
        id: id.to_owned(),
        name: name.to_owned(),
        description: description.to_owned(),
        category: category.to_owned(),
    }
}

fn transition(id: &str, name: &str, from: &[&str], to: &str) -> Transition {
    Transition {
        id: id.to_owned(),
        name: name.to_owned(),
        from: strings(from),
        to: to.to_owned(),
    }
}

fn issue_type(
    id: &str,
    name: &str,
    description: &str,
    subtask: bool,
    level: i32,
    avatar: u64,
) -> IssueType {
    IssueType {
        id: id.to_owned(),
        name: name.to_owned(),
        description: description.to_owned(),
        subtask,
        hierarchy_level: level,
        avatar_id: avatar,
    }
}

fn priority(id: &str, name: &str, color: &str) -> Priority {
    Priority {
        id: id.to_owned(),
        name: name.to_owned(),
        color: color.to_owned(),
    }
}

fn resolution(id: &str, name: &str, description: &str) -> Resolution {
    Resolution {
        id: id.to_owned(),
        name: name.to_owned(),
        description: description.to_owned(),
    }
}

/// Shortest transition path from the workflow's initial status to `target`.
fn shortest_path(workflow: &Workflow, target: &str) -> Vec<(String, String, String)> {
    let mut previous: BTreeMap<String, (String, String)> = BTreeMap::new();
    let mut queue = std::collections::VecDeque::from([workflow.initial.clone()]);
    let mut seen = std::collections::BTreeSet::from([workflow.initial.clone()]);
    while let Some(at) = queue.pop_front() {
        if at == target {
            break;
        }
        for t in workflow.available_from(&at) {
            if seen.insert(t.to.clone()) {
                previous.insert(t.to.clone(), (at.clone(), t.id.clone()));
                queue.push_back(t.to.clone());
            }
        }
    }
    let mut steps = Vec::new();
    let mut at = target.to_owned();
    while let Some((from, id)) = previous.get(&at) {
        steps.push((id.clone(), from.clone(), at.clone()));
        at = from.clone();
    }
    steps.reverse();
    steps
}

impl Generator {
    /// Lays out `total` issues over the catalog's projects and precomputes the text pools.
    pub fn new(
        seed: u64,
        size: DataSize,
        total: u64,
        anchor_ms: i64,
        catalog: &Catalog,
        pool_len: usize,
    ) -> Self {
        let templates = project_templates(size);
        let weight_sum: u64 = templates.iter().map(|t| t.3).sum::<u64>().max(1);
        let mut blocks = Vec::new();
        let mut start = 0;
        for (n, (_, _, _, weight)) in templates.iter().enumerate() {
            let count = if n + 1 == templates.len() {
                total - start
            } else {
                total * weight / weight_sum
            };
            blocks.push(Block {
                project: n,
                start,
                count,
            });
            start += count;
        }
        let pool: Vec<usize> = (0..pool_len.min(catalog.users.len())).collect();
        let active_pool: Vec<usize> = pool
            .iter()
            .copied()
            .filter(|&u| catalog.users[u].active)
            .collect();
        let mut summaries = Vec::new();
        for verb in VERBS {
            for object in OBJECTS {
                for qualifier in QUALIFIERS {
                    summaries.push(format!("{verb} {object}{qualifier}"));
                }
            }
        }
        let mut desk_summaries = Vec::new();
        for ask in DESK_ASKS {
            for system in DESK_SYSTEMS {
                desk_summaries.push(format!("{ask} {system}"));
            }
        }
        let mut label_sets = vec![Vec::new(); 10];
        for n in 0..22u64 {
            let h = mix(seed, n, 555);
            let len = 1 + pick(h, 3);
            let mut set: Vec<String> = (0..len)
                .map(|k| LABELS[pick(mix(seed, n, 600 + k as u64), LABELS.len())].to_owned())
                .collect();
            set.sort();
            set.dedup();
            label_sets.push(set);
        }
        let anchor_day = anchor_ms.div_euclid(DAY_MS);
        let days = (FIRST_DAY_OFFSET..=LAST_DAY_OFFSET)
            .map(|d| day_string(anchor_day + d))
            .collect();
        let mut paths = Vec::new();
        let mut by_workflow: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        for (w, workflow) in catalog.workflows.iter().enumerate() {
            for status in &workflow.statuses {
                by_workflow
                    .entry(workflow.name.clone())
                    .or_default()
                    .push(paths.len());
                paths.push(StatusPath {
                    workflow: w,
                    status: status.clone(),
                    steps: shortest_path(workflow, status),
                });
            }
        }
        let project_paths = catalog
            .projects
            .iter()
            .map(|p| {
                by_workflow
                    .get(&p.workflow)
                    .cloned()
                    .unwrap_or_default()
                    .into_iter()
                    .partition(|&path| catalog.category_of(&paths[path].status) != DONE)
            })
            .collect();
        Self {
            seed,
            anchor_ms,
            total,
            blocks,
            pool,
            active_pool,
            summaries,
            desk_summaries,
            sentences: SENTENCES.to_vec(),
            customer_refs: (0..200)
                .map(|n| format!("CUST-{:04}", 1000 + n * 7))
                .collect(),
            story_points: strings(&["1", "2", "3", "5", "8", "13"]),
            days,
            label_sets,
            paths,
            project_paths,
            project_parts: catalog
                .projects
                .iter()
                .map(|p| {
                    (
                        p.components.iter().map(|c| c.id.clone()).collect(),
                        p.versions.iter().map(|v| v.id.clone()).collect(),
                    )
                })
                .collect(),
            project_released: catalog
                .projects
                .iter()
                .map(|p| {
                    p.versions
                        .iter()
                        .filter(|v| v.released)
                        .map(|v| v.id.clone())
                        .collect()
                })
                .collect(),
        }
    }

    fn h(&self, index: u64, salt: u64) -> u64 {
        mix(self.seed, index, salt)
    }

    /// The seed.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The block holding global index `index`.
    pub fn block_of(&self, index: u64) -> Option<&Block> {
        self.blocks
            .iter()
            .find(|b| index >= b.start && index < b.start + b.count)
    }

    /// The global index of `project`'s issue number `number`, if generated.
    pub fn index_of(&self, project: usize, number: u64) -> Option<u64> {
        let block = self.blocks.iter().find(|b| b.project == project)?;
        (number >= 1 && number <= block.count).then(|| block.start + number - 1)
    }

    /// Generated issues of a project.
    pub fn count_of(&self, project: usize) -> u64 {
        self.blocks
            .iter()
            .find(|b| b.project == project)
            .map_or(0, |b| b.count)
    }

    /// The user-pool position → catalog position.
    pub fn pool_user(&self, slot: usize) -> usize {
        self.pool.get(slot).copied().unwrap_or(0)
    }

    /// The cheap row of issue `index`.
    pub fn row(&self, catalog: &Catalog, index: u64) -> Option<GenRow> {
        let block = *self.block_of(index)?;
        let project = catalog.projects.get(block.project)?;
        let number = index - block.start + 1;
        let pos = (number - 1) % 8;
        let block_no = (number - 1) / 8;
        let type_id = match project.project_type_key.as_str() {
            "software" => match pos {
                0 if block_no.is_multiple_of(4) => types::EPIC,
                6 | 7 => types::SUBTASK,
                5 => types::STORY,
                _ => match self.h(index, salt::TYPE) % 4 {
                    0 | 1 => types::STORY,
                    2 => types::TASK,
                    _ => types::BUG,
                },
            },
            "business" => match pos {
                6 | 7 => types::SUBTASK,
                _ => types::TASK,
            },
            _ => {
                if self.h(index, salt::TYPE) % 5 < 3 {
                    types::SERVICE_REQUEST
                } else {
                    types::INCIDENT
                }
            }
        };
        let issue_type = catalog.issue_types.iter().position(|t| t.id == type_id)?;
        // Older issues are more often finished.
        let age_rank = 100 - (number * 100 / block.count.max(1)).min(100);
        let (open, done) = self.project_paths.get(block.project)?;
        let status_roll = self.h(index, salt::STATUS) % 100;
        let choice = self.h(index, salt::STATUS + 1000);
        let path = if status_roll < 15 + age_rank * 6 / 10 && !done.is_empty() {
            done[pick(choice, done.len())]
        } else if !open.is_empty() {
            open[pick(choice, open.len())]
        } else {
            *done.first()?
        };
        let status = catalog
            .statuses
            .iter()
            .position(|s| s.id == self.paths[path].status)?;
        let assignee = (self.h(index, salt::ASSIGNEE) % 100 >= 15 && !self.active_pool.is_empty())
            .then(|| {
                self.active_pool[pick(self.h(index, salt::ASSIGNEE + 1), self.active_pool.len())]
            });
        let reporter = *self
            .pool
            .get(pick(self.h(index, salt::REPORTER), self.pool.len()))?;
        let labels = pick(self.h(index, salt::LABELS), self.label_sets.len());
        let span = SPAN_DAYS * DAY_MS;
        let count = i64::try_from(block.count.max(1)).unwrap_or(i64::MAX);
        let local = i64::try_from(number - 1).unwrap_or(0);
        let step = (span / count).max(1);
        let jitter = i64::try_from(self.h(index, salt::CREATED) % u64::try_from(step).unwrap_or(1))
            .unwrap_or(0);
        let created = self.anchor_ms - span + local * (span / count) + jitter;
        let comments = pick(self.h(index, salt::COMMENTS), 5);
        let worklogs = if self.paths[path].steps.is_empty() {
            0
        } else {
            pick(self.h(index, salt::WORKLOGS), 4)
        };
        let events =
            usize::from(assignee.is_some()) + comments + worklogs + self.paths[path].steps.len();
        let updated = if events == 0 {
            created
        } else {
            let room = (self.anchor_ms - created).clamp(MINUTE_MS, 60 * DAY_MS);
            created
                + MINUTE_MS
                + i64::try_from(self.h(index, salt::DELTA) % u64::try_from(room).unwrap_or(1))
                    .unwrap_or(0)
        };
        let summary = if project.project_type_key == "service_desk" {
            pick(self.h(index, salt::SUMMARY), self.desk_summaries.len())
        } else {
            pick(self.h(index, salt::SUMMARY), self.summaries.len())
        };
        Some(GenRow {
            index,
            project: block.project,
            number,
            issue_type,
            status,
            assignee,
            reporter,
            labels,
            created,
            updated,
            summary,
            path,
            comments,
            worklogs,
        })
    }

    /// The component and fix-version ids generated issue `index` (of the project at catalog
    /// position `project`, resolved or not) is built with, without building it.
    pub fn parts_of(
        &self,
        index: u64,
        project: usize,
        resolved: bool,
    ) -> (Vec<String>, Vec<String>) {
        let Some((gen_components, gen_versions)) = self.project_parts.get(project) else {
            return (Vec::new(), Vec::new());
        };
        let h = |salt: u64| self.h(index, salt);
        let components = match h(salt::COMPONENTS) % 4 {
            0 => Vec::new(),
            n => gen_components
                .iter()
                .skip(pick(h(salt::COMPONENTS + 1), gen_components.len()))
                .take(usize::try_from(n).unwrap_or(1).min(2))
                .cloned()
                .collect(),
        };
        let fix_versions = if gen_versions.is_empty() {
            Vec::new()
        } else if resolved {
            gen_versions
                .get(pick(h(salt::VERSION), 2))
                .cloned()
                .into_iter()
                .collect()
        } else if h(salt::VERSION) % 10 < 3 {
            gen_versions.last().cloned().into_iter().collect()
        } else {
            Vec::new()
        };
        (components, fix_versions)
    }

    /// Whether the generated row ends in a done status (and so has a resolution).
    pub fn row_resolved(&self, catalog: &Catalog, row: &GenRow) -> bool {
        self.paths
            .get(row.path)
            .is_some_and(|p| catalog.category_of(&p.status) == DONE)
    }

    /// The priority id of generated issue `index`.
    pub fn priority_id(&self, index: u64) -> &'static str {
        match self.h(index, salt::PRIORITY) % 100 {
            0..=6 => "1",
            7..=26 => "2",
            27..=76 => "3",
            77..=91 => "4",
            _ => "5",
        }
    }

    /// The summary text of a row.
    pub fn summary<'a>(&'a self, catalog: &Catalog, row: &GenRow) -> &'a str {
        let desk = catalog
            .projects
            .get(row.project)
            .is_some_and(|p| p.project_type_key == "service_desk");
        let pool = if desk {
            &self.desk_summaries
        } else {
            &self.summaries
        };
        pool.get(row.summary).map_or("", String::as_str)
    }

    /// The parent of a generated issue, by global index.
    pub fn parent_index(&self, catalog: &Catalog, row: &GenRow) -> Option<u64> {
        let pos = (row.number - 1) % 8;
        let block = self.blocks.iter().find(|b| b.project == row.project)?;
        let type_id = &catalog.issue_types.get(row.issue_type)?.id;
        if type_id == types::SUBTASK {
            return Some(block.start + row.number - 1 - pos + 5);
        }
        if type_id == types::EPIC
            || catalog.projects.get(row.project)?.project_type_key != "software"
        {
            return None;
        }
        let epic_number = ((row.number - 1) / 32) * 32 + 1;
        (epic_number != row.number && self.h(row.index, salt::EPIC).is_multiple_of(2))
            .then(|| block.start + epic_number - 1)
    }

    /// Global indexes of the generated sub-tasks of generated issue `index`.
    pub fn subtask_indexes(&self, catalog: &Catalog, index: u64) -> Vec<u64> {
        let Some(row) = self.row(catalog, index) else {
            return Vec::new();
        };
        let Some(block) = self.block_of(index) else {
            return Vec::new();
        };
        if (row.number - 1) % 8 != 5 {
            return Vec::new();
        }
        (1..=2)
            .map(|k| index + k)
            .filter(|&i| i < block.start + block.count)
            .filter(|&i| {
                self.row(catalog, i).is_some_and(|r| {
                    catalog
                        .issue_types
                        .get(r.issue_type)
                        .is_some_and(|t| t.subtask)
                })
            })
            .collect()
    }

    fn gen_custom(&self, catalog: &Catalog, row: &GenRow, field: u64) -> Option<GenCustom> {
        let project = catalog.projects.get(row.project)?;
        let type_id = catalog.issue_types.get(row.issue_type)?.id.as_str();
        let h = self.h(row.index, salt::CUSTOM + field);
        let roll = h % 100;
        let software = project.project_type_key == "software";
        let business = project.project_type_key == "business";
        let desk = project.project_type_key == "service_desk";
        let value = match field {
            fields::STORY_POINTS
                if software && matches!(type_id, types::STORY | types::BUG) && roll < 70 =>
            {
                GenCustom::Number(pick(h >> 8, self.story_points.len()))
            }
            fields::TEAM if (software && roll < 80) || (business && roll < 40) => {
                GenCustom::Option(pick(h >> 8, 5))
            }
            fields::PLATFORMS if software && roll < 50 => {
                GenCustom::Options(u8::try_from((h >> 8) % 15 + 1).unwrap_or(1))
            }
            fields::REGION if (business && roll < 70) || (desk && roll < 50) => {
                GenCustom::Cascade(pick(h >> 8, 3), pick(h >> 16, 4))
            }
            fields::REVIEWER if software && roll < 30 && !self.active_pool.is_empty() => {
                GenCustom::User(self.active_pool[pick(h >> 8, self.active_pool.len())])
            }
            fields::CUSTOMER_REF if desk && roll < 90 => {
                GenCustom::Text(pick(h >> 8, self.customer_refs.len()))
            }
            fields::ACCEPTANCE if software && type_id == types::STORY && roll < 50 => {
                GenCustom::Rich(pick(h >> 8, self.sentences.len()))
            }
            fields::TARGET_DATE if business && roll < 60 => {
                GenCustom::Date(i64::try_from((h >> 8) % 120).unwrap_or(0) - 30)
            }
            fields::TAGS if software && roll < 20 => {
                GenCustom::Labels(10 + pick(h >> 8, self.label_sets.len() - 10))
            }
            _ => return None,
        };
        Some(value)
    }

    fn day(&self, offset: i64) -> &str {
        let position = offset - FIRST_DAY_OFFSET;
        usize::try_from(position)
            .ok()
            .and_then(|p| self.days.get(p))
            .map_or("", String::as_str)
    }

    fn day_of(&self, ms: i64) -> i64 {
        ms.div_euclid(DAY_MS) - self.anchor_ms.div_euclid(DAY_MS)
    }

    /// The text JQL compares for custom field `field` of a generated issue (multi-valued fields:
    /// the first value).
    pub fn custom_text<'a>(
        &'a self,
        catalog: &'a Catalog,
        row: &GenRow,
        field: u64,
    ) -> Option<&'a str> {
        let definition = catalog.custom_field(field)?;
        Some(match self.gen_custom(catalog, row, field)? {
            GenCustom::Option(o) => definition.options.get(o)?.value.as_str(),
            GenCustom::Options(mask) => {
                let first = (0..8).find(|b| mask & (1 << b) != 0)?;
                definition.options.get(first)?.value.as_str()
            }
            GenCustom::Cascade(p, _) => definition.options.get(p)?.value.as_str(),
            GenCustom::User(u) => catalog.users.get(u)?.account_id.as_str(),
            GenCustom::Text(t) => self.customer_refs.get(t)?.as_str(),
            GenCustom::Rich(s) => self.sentences.get(s)?,
            GenCustom::Number(n) => self.story_points.get(n)?.as_str(),
            GenCustom::Date(d) => self.day(d),
            GenCustom::Labels(set) => self.label_sets.get(set)?.first()?.as_str(),
        })
    }

    fn custom_value(
        &self,
        catalog: &Catalog,
        row: &GenRow,
        definition: &CustomField,
    ) -> Option<CustomValue> {
        Some(match self.gen_custom(catalog, row, definition.id)? {
            GenCustom::Option(o) => CustomValue::Option(definition.options.get(o)?.id.clone()),
            GenCustom::Options(mask) => CustomValue::Options(
                definition
                    .options
                    .iter()
                    .enumerate()
                    .filter(|(b, _)| mask & (1 << b) != 0)
                    .map(|(_, o)| o.id.clone())
                    .collect(),
            ),
            GenCustom::Cascade(p, c) => {
                let parent = definition.options.get(p)?;
                CustomValue::Cascade(
                    parent.id.clone(),
                    parent.children.get(c).map(|c| c.id.clone()),
                )
            }
            GenCustom::User(u) => CustomValue::User(catalog.users.get(u)?.account_id.clone()),
            GenCustom::Text(t) => CustomValue::Text(self.customer_refs.get(t)?.clone()),
            GenCustom::Rich(s) => CustomValue::Rich(doc(&[paragraph(self.sentences.get(s)?)])),
            GenCustom::Number(n) => CustomValue::Number(self.story_points.get(n)?.parse().ok()?),
            GenCustom::Date(d) => CustomValue::Date(self.day(d).to_owned()),
            GenCustom::Labels(set) => CustomValue::Labels(self.label_sets.get(set)?.clone()),
        })
    }

    /// The full generated issue `index`.
    pub fn issue(&self, catalog: &Catalog, index: u64) -> Option<Issue> {
        let row = self.row(catalog, index)?;
        let project = catalog.projects.get(row.project)?;
        let issue_type = catalog.issue_types.get(row.issue_type)?;
        let status = catalog.statuses.get(row.status)?;
        let user = |slot: usize| catalog.users.get(slot).map(|u| u.account_id.clone());
        let assignee = row.assignee.and_then(user);
        let reporter = user(row.reporter);
        let path = &self.paths[row.path].steps;
        let h = |salt: u64| self.h(index, salt);

        // Events in order: assignment, comments, worklogs, status changes; the last at `updated`.
        let events = usize::from(assignee.is_some()) + row.comments + row.worklogs + path.len();
        let event_time = |k: usize| -> i64 {
            if events == 0 {
                return row.created;
            }
            let k = i64::try_from(k + 1).unwrap_or(1);
            let n = i64::try_from(events).unwrap_or(1);
            row.created + (row.updated - row.created) * k / n
        };
        let mut k = 0;
        let mut changelog = Vec::new();
        let base_id = |kind: u64| 10_000 + index * 16 + kind;
        if let Some(a) = &assignee {
            let name = catalog.user(a).map(|u| u.display_name.clone());
            changelog.push(History {
                id: base_id(0),
                author: reporter.clone(),
                created: event_time(k),
                items: vec![ChangeItem {
                    field: "assignee".to_owned(),
                    fieldtype: "jira".to_owned(),
                    field_id: "assignee".to_owned(),
                    from: None,
                    from_string: None,
                    to: Some(a.clone()),
                    to_string: name,
                }],
            });
            k += 1;
        }
        let mut comments = Vec::new();
        for c in 0..row.comments {
            let author_slot = self
                .pool
                .get(pick(h(salt::TEXT + c as u64), self.pool.len()))
                .copied()
                .unwrap_or(0);
            let author = user(author_slot).unwrap_or_default();
            let at = event_time(k);
            k += 1;
            let sentence = self.comment_sentence(index, c);
            comments.push(Comment {
                id: 10_000 + index * 8 + c as u64,
                author: author.clone(),
                update_author: author,
                body: doc(&[paragraph(sentence)]),
                created: at,
                updated: at,
                visibility: None,
                jsd_public: true,
            });
        }
        let mut worklogs = Vec::new();
        for w in 0..row.worklogs {
            let at = event_time(k);
            k += 1;
            let seconds = Self::worklog_seconds(h(salt::TEXT + 20 + w as u64));
            let author = assignee
                .clone()
                .or_else(|| reporter.clone())
                .unwrap_or_default();
            worklogs.push(Worklog {
                id: 10_000 + index * 4 + w as u64,
                author: author.clone(),
                update_author: author,
                comment: Some(doc(&[paragraph("Worked on the issue.")])),
                started: at - i64::try_from(seconds).unwrap_or(0) * 1000,
                time_spent_seconds: seconds,
                created: at,
                updated: at,
            });
        }
        let mut status_changed = row.created;
        let mut resolution = None;
        let mut resolution_date = None;
        for (n, (_, from, to)) in path.iter().enumerate() {
            let at = event_time(k);
            k += 1;
            let name = |id: &str| catalog.status(id).map(|s| s.name.clone());
            let mut items = vec![ChangeItem {
                field: "status".to_owned(),
                fieldtype: "jira".to_owned(),
                field_id: "status".to_owned(),
                from: Some(from.clone()),
                from_string: name(from),
                to: Some(to.clone()),
                to_string: name(to),
            }];
            if catalog.category_of(from) != catalog.category_of(to) {
                status_changed = at;
            }
            if n + 1 == path.len()
                && catalog.category_of(to) == DONE
                && let Some(r) = self.resolution_pick(catalog, index)
            {
                items.push(ChangeItem {
                    field: "resolution".to_owned(),
                    fieldtype: "jira".to_owned(),
                    field_id: "resolution".to_owned(),
                    from: None,
                    from_string: None,
                    to: Some(r.id.clone()),
                    to_string: Some(r.name.clone()),
                });
                resolution = Some(r.id.clone());
                resolution_date = Some(at);
            }
            changelog.push(History {
                id: base_id(1 + n as u64),
                author: assignee.clone().or_else(|| reporter.clone()),
                created: at,
                items,
            });
        }

        let priority = self.priority_id(index);
        let (components, fix_versions) = self.parts_of(index, row.project, resolution.is_some());
        let due_date = self.due_offset(&row).map(|day| self.day(day).to_owned());
        let description =
            (h(salt::DESCRIPTION) % 100 < 85).then(|| self.description(index, &issue_type.id));
        let environment = self
            .environment_text(index, &issue_type.id)
            .map(|text| doc(&[paragraph(text)]));
        let mut custom = BTreeMap::new();
        for definition in &catalog.custom_fields {
            if let Some(value) = self.custom_value(catalog, &row, definition) {
                custom.insert(definition.id, value);
            }
        }
        let mut properties = BTreeMap::new();
        if h(salt::PROPERTY) % 3 == 0 {
            properties.insert(
                "sim.origin".to_owned(),
                json!({ "generated": true, "index": index }),
            );
        }
        let parent = self.parent_index(catalog, &row).map(|i| FIRST_ISSUE_ID + i);
        let summary = self.summary(catalog, &row).to_owned();
        let tracking = self.tracking_of(catalog, &row);
        Some(Issue {
            id: row.id(),
            key: format!("{}-{}", project.key, row.number),
            project_id: project.id,
            issue_type: issue_type.id.clone(),
            status: status.id.clone(),
            summary,
            description,
            environment,
            priority: Some(priority.to_owned()),
            resolution,
            labels: self.label_sets.get(row.labels).cloned().unwrap_or_default(),
            components,
            fix_versions,
            assignee,
            reporter: reporter.clone(),
            creator: reporter,
            created: row.created,
            updated: row.updated,
            resolution_date,
            status_category_changed: status_changed,
            due_date,
            parent,
            custom,
            comments,
            worklogs,
            changelog,
            properties,
            sprints: crate::agile::model::sprints_of_row(self, catalog, &row),
            tracking,
            versions: self
                .affected_of(index, row.project, &issue_type.id)
                .map(|v| vec![v.to_owned()])
                .unwrap_or_default(),
        })
    }

    /// The generated description of issue `index`, as ADF; [`Generator::description_texts`]
    /// lists the same text without building it.
    fn description(&self, index: u64, type_id: &str) -> Value {
        let h = |salt: u64| self.h(index, salt::DESCRIPTION + salt);
        let sentence = |salt: u64| self.sentences[pick(h(salt), self.sentences.len())];
        let mut blocks = vec![json!({
            "type": "paragraph",
            "content": [
                { "type": "text", "text": sentence(1) },
                { "type": "text", "text": " " },
                { "type": "text", "text": sentence(2), "marks": [{ "type": "strong" }] }
            ]
        })];
        if type_id == types::BUG {
            blocks.push(json!({
                "type": "heading", "attrs": { "level": 3 },
                "content": [{ "type": "text", "text": "Steps to reproduce" }]
            }));
            blocks.push(json!({
                "type": "orderedList",
                "content": [
                    list_item("Open the page"),
                    list_item("Repeat the last action"),
                    list_item("Compare with the expected result"),
                ]
            }));
        } else if h(3) % 3 == 0 {
            blocks.push(json!({
                "type": "bulletList",
                "content": [list_item(sentence(4)), list_item(sentence(5))]
            }));
        }
        if h(6) % 2 == 0 {
            blocks.push(paragraph(sentence(7)));
        }
        json!({ "type": "doc", "version": 1, "content": blocks })
    }
}

/// Fields of generated issues computed alone, without the full [`Issue`]: the full issue and
/// JQL's lazy view of a row both read them, so a search agrees with what a read returns.
impl Generator {
    /// The resolution a generated issue gets when its last transition ends in the done category.
    fn resolution_pick<'c>(&self, catalog: &'c Catalog, index: u64) -> Option<&'c Resolution> {
        let position = match self.h(index, salt::RESOLUTION) % 10 {
            0 => 1,
            1 => 2,
            _ => 0,
        };
        catalog.resolutions.get(position)
    }

    /// The resolution of a row and when it was set (the last event, at `updated`).
    pub fn resolution_of<'c>(
        &self,
        catalog: &'c Catalog,
        row: &GenRow,
    ) -> Option<(&'c Resolution, i64)> {
        let (_, _, last) = self.paths.get(row.path)?.steps.last()?;
        if catalog.category_of(last) != DONE {
            return None;
        }
        Some((self.resolution_pick(catalog, row.index)?, row.updated))
    }

    /// The affected version id generated issue `index` (of the project at catalog position
    /// `project`, of type `type_id`) is built with: some bugs name a version released when the
    /// site was generated.
    pub fn affected_of(&self, index: u64, project: usize, type_id: &str) -> Option<&str> {
        if type_id != types::BUG || self.h(index, salt::AFFECTED) % 10 >= 6 {
            return None;
        }
        let released = self.project_released.get(project)?;
        let nth = pick(self.h(index, salt::AFFECTED + 1), released.len());
        released.get(nth).map(String::as_str)
    }

    /// The due date of a row, in days after the anchor day.
    pub fn due_offset(&self, row: &GenRow) -> Option<i64> {
        (self.h(row.index, salt::DUE) % 10 < 3).then(|| {
            self.day_of(row.created)
                + 14
                + i64::try_from(self.h(row.index, salt::DUE + 1) % 47).unwrap_or(0)
        })
    }

    /// The due date of a row as days since 1970-01-01.
    pub fn due_epoch_day(&self, row: &GenRow) -> Option<i64> {
        self.due_offset(row)
            .map(|d| self.anchor_ms.div_euclid(DAY_MS) + d)
    }

    /// The environment text of generated issue `index`.
    pub fn environment_text(&self, index: u64, type_id: &str) -> Option<&'static str> {
        (type_id == types::BUG && self.h(index, salt::ENVIRONMENT).is_multiple_of(2))
            .then_some("Chrome 120 on macOS 14, production tenant")
    }

    /// The sentence of comment `c` of generated issue `index`.
    fn comment_sentence(&self, index: u64, c: usize) -> &'static str {
        self.sentences[pick(
            self.h(index, salt::TEXT + 10 + c as u64),
            self.sentences.len(),
        )]
    }

    /// The comment texts of a row.
    pub fn comment_texts(&self, row: &GenRow) -> impl Iterator<Item = &'static str> + '_ {
        let index = row.index;
        (0..row.comments).map(move |c| self.comment_sentence(index, c))
    }

    /// Calls `f` with each text of the description of a row, in document order, until it
    /// answers `true`; whether it did. Allocates nothing: `text ~` runs it over every issue.
    pub fn description_any(
        &self,
        catalog: &Catalog,
        row: &GenRow,
        f: &mut dyn FnMut(&str) -> bool,
    ) -> bool {
        let index = row.index;
        let Some(issue_type) = catalog.issue_types.get(row.issue_type) else {
            return false;
        };
        if self.h(index, salt::DESCRIPTION) % 100 >= 85 {
            return false;
        }
        let h = |salt: u64| self.h(index, salt::DESCRIPTION + salt);
        let sentence = |salt: u64| self.sentences[pick(h(salt), self.sentences.len())];
        if f(sentence(1)) || f(sentence(2)) {
            return true;
        }
        if issue_type.id == types::BUG {
            let steps = [
                "Steps to reproduce",
                "Open the page",
                "Repeat the last action",
                "Compare with the expected result",
            ];
            if steps.into_iter().any(&mut *f) {
                return true;
            }
        } else if h(3) % 3 == 0 && (f(sentence(4)) || f(sentence(5))) {
            return true;
        }
        h(6) % 2 == 0 && f(sentence(7))
    }

    /// Calls `f` with each text value of custom field `field` of a row (multi-valued fields:
    /// every value) until it answers `true`; `None` when the field is empty.
    pub fn custom_any<'a>(
        &'a self,
        catalog: &'a Catalog,
        row: &GenRow,
        field: u64,
        f: &mut dyn FnMut(&str) -> bool,
    ) -> Option<bool> {
        let definition = catalog.custom_field(field)?;
        match self.gen_custom(catalog, row, field)? {
            GenCustom::Options(mask) => Some(
                definition
                    .options
                    .iter()
                    .enumerate()
                    .filter(|(b, _)| mask & (1 << b) != 0)
                    .any(|(_, o)| f(&o.value)),
            ),
            GenCustom::Labels(set) => Some(self.label_sets.get(set)?.iter().any(|l| f(l))),
            _ => self.custom_text(catalog, row, field).map(f),
        }
    }
}

/// An ADF document of the given blocks.
pub fn doc(blocks: &[Value]) -> Value {
    json!({ "type": "doc", "version": 1, "content": blocks })
}

/// An ADF paragraph of plain text.
pub fn paragraph(text: &str) -> Value {
    json!({ "type": "paragraph", "content": [{ "type": "text", "text": text }] })
}

fn list_item(text: &str) -> Value {
    json!({ "type": "listItem", "content": [paragraph(text)] })
}

/// `YYYY-MM-DD` of an epoch day.
pub fn day_string(epoch_day: i64) -> String {
    let date =
        time::Date::from_julian_day(i32::try_from(epoch_day + 2_440_588).unwrap_or(2_440_588))
            .unwrap_or(time::Date::MIN);
    format!(
        "{:04}-{:02}-{:02}",
        date.year(),
        u8::from(date.month()),
        date.day()
    )
}

/// Salt of the tracking data (watchers, votes, estimates), apart from the issue salts.
const TRACKING_SALT: u64 = 3_000;

/// Original estimates generated issues get, in hours.
const ESTIMATE_HOURS: [u64; 7] = [1, 2, 4, 8, 16, 24, 40];

impl Generator {
    /// Watchers (the reporter, then whoever commented, as Jira's default watch settings do),
    /// a few voters and, outside service desks, an estimate reduced by the work logged; from
    /// the row alone, so JQL and aggregates need not build the issue.
    pub fn tracking_of(&self, catalog: &Catalog, row: &GenRow) -> Tracking {
        let index = row.index;
        let h = |n: u64| self.h(index, TRACKING_SALT + n);
        let account = |slot: usize| catalog.users.get(slot).map(|u| u.account_id.as_str());
        let reporter = account(row.reporter);
        let mut tracking = Tracking::default();
        if let Some(r) = reporter {
            tracking.watch(r);
        }
        for c in 0..row.comments {
            let slot = self
                .pool
                .get(pick(self.h(index, salt::TEXT + c as u64), self.pool.len()))
                .copied()
                .unwrap_or(0);
            if let Some(a) = account(slot) {
                tracking.watch(a);
            }
        }
        if h(0) % 10 < 2 && !self.pool.is_empty() {
            for n in 0..1 + h(1) % 3 {
                let slot = self.pool[pick(h(2 + n), self.pool.len())];
                if let Some(a) = account(slot)
                    && Some(a) != reporter
                    && !tracking.voters.iter().any(|v| v == a)
                {
                    tracking.voters.push(a.to_owned());
                }
            }
        }
        let project_type = catalog
            .projects
            .get(row.project)
            .map_or("", |p| p.project_type_key.as_str());
        if project_type != "service_desk" && h(10) % 10 < 6 {
            let spent: u64 = self.worklog_seconds_of(row).into_iter().sum();
            let original = 3_600 * ESTIMATE_HOURS[pick(h(11), ESTIMATE_HOURS.len())];
            tracking.original_estimate = Some(original);
            tracking.remaining_estimate = Some(original.saturating_sub(spent));
        }
        tracking
    }

    fn worklog_seconds(h: u64) -> u64 {
        900 * (1 + h % 32)
    }

    /// Seconds of each generated worklog of `row`'s issue.
    pub fn worklog_seconds_of(&self, row: &GenRow) -> Vec<u64> {
        (0..row.worklogs)
            .map(|w| Self::worklog_seconds(self.h(row.index, salt::TEXT + 20 + w as u64)))
            .collect()
    }

    /// How many comments and worklogs generated issue `index` has, without building it.
    pub fn comment_and_worklog_counts(&self, catalog: &Catalog, index: u64) -> (usize, usize) {
        self.row(catalog, index)
            .map_or((0, 0), |r| (r.comments, r.worklogs))
    }

    /// `(worklog id, updated ms)` of generated issue `index`'s worklogs, without building it
    /// (the same event times [`Generator::issue`] gives them).
    pub fn worklog_stamps(&self, catalog: &Catalog, index: u64) -> Vec<(u64, i64)> {
        let Some(row) = self.row(catalog, index) else {
            return Vec::new();
        };
        if row.worklogs == 0 {
            return Vec::new();
        }
        let before = usize::from(row.assignee.is_some()) + row.comments;
        let events = before + row.worklogs + self.paths[row.path].steps.len();
        let n = i64::try_from(events).unwrap_or(1).max(1);
        (0..row.worklogs)
            .map(|w| {
                let k = i64::try_from(before + w + 1).unwrap_or(1);
                let at = row.created + (row.updated - row.created) * k / n;
                (10_000 + index * 4 + w as u64, at)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setup(size: DataSize) -> (Catalog, Generator) {
        let catalog = catalog(7, "demo", size, Vec::new());
        let pool = catalog.users.len();
        let generator = Generator::new(
            7,
            size,
            issue_count(size),
            1_767_571_200_000,
            &catalog,
            pool,
        );
        (catalog, generator)
    }

    #[test]
    fn blocks_cover_every_index_once() {
        let (_, g) = setup(DataSize::Medium);
        let total: u64 = g.blocks.iter().map(|b| b.count).sum();
        assert_eq!(total, g.total);
        for pair in g.blocks.windows(2) {
            assert_eq!(pair[0].start + pair[0].count, pair[1].start);
        }
    }

    #[test]
    fn full_issue_agrees_with_its_row() {
        let (catalog, g) = setup(DataSize::Small);
        for index in 0..g.total {
            let row = g.row(&catalog, index).expect("row");
            let issue = g.issue(&catalog, index).expect("issue");
            assert_eq!(issue.status, catalog.statuses[row.status].id);
            assert_eq!(issue.updated, row.updated);
            assert!(issue.created <= issue.updated);
            assert!(issue.updated <= g.anchor_ms, "no event in the future");
            if let Some(last) = issue.changelog.last() {
                assert!(last.created <= issue.updated);
            }
            let statuses: Vec<&str> = issue
                .changelog
                .iter()
                .flat_map(|h| &h.items)
                .filter(|i| i.field == "status")
                .filter_map(|i| i.to.as_deref())
                .collect();
            if let Some(last) = statuses.last() {
                assert_eq!(*last, issue.status, "history ends at the current status");
            }
            let category = catalog.category_of(&issue.status);
            assert_eq!(
                issue.resolution.is_some(),
                category == DONE,
                "{}",
                issue.key
            );
        }
    }

    #[test]
    fn subtasks_point_at_an_earlier_standard_issue() {
        let (catalog, g) = setup(DataSize::Small);
        for index in 0..g.total {
            let issue = g.issue(&catalog, index).expect("issue");
            if issue.issue_type == types::SUBTASK {
                let parent = issue.parent.expect("sub-task has a parent");
                let parent = g.issue(&catalog, parent - FIRST_ISSUE_ID).expect("parent");
                assert!(parent.created <= issue.created);
                assert_ne!(parent.issue_type, types::SUBTASK);
                assert!(
                    g.subtask_indexes(&catalog, parent.id - FIRST_ISSUE_ID)
                        .contains(&index)
                );
            }
        }
    }

    #[test]
    fn same_seed_same_data_other_seed_other_data() {
        let (catalog, a) = setup(DataSize::Small);
        let (_, b) = setup(DataSize::Small);
        assert_eq!(a.issue(&catalog, 5), b.issue(&catalog, 5));
        let other_catalog = super::catalog(8, "demo", DataSize::Small, Vec::new());
        let pool = other_catalog.users.len();
        let c = Generator::new(8, DataSize::Small, 96, a.anchor_ms, &other_catalog, pool);
        let differs = (0..20).any(|i| {
            a.issue(&catalog, i).map(|x| x.summary) != c.issue(&other_catalog, i).map(|x| x.summary)
        });
        assert!(differs);
    }

    #[test]
    fn day_strings() {
        assert_eq!(day_string(0), "1970-01-01");
        assert_eq!(day_string(20_458), "2026-01-05");
    }
}
