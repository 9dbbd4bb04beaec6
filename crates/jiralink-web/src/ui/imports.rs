//! The import pages: the Imports list, the definition form (the mapping as a table, with the
//! same mapping as TOML under "Advanced"), an import's page (its settings, mapping, an upload
//! to preview or run, and its run history), a preview's results, and a run's page with its
//! counts and the results download.
//!
//! The server builds the mapping's TOML from the table ([`mapping_toml`]), and that text is
//! what is saved and shown; a mapping the table cannot show (a `map`, a constant that is not
//! text) is edited as TOML only. Every problem is listed at once: the table's own, those of
//! `Mapping::from_toml`, and those of the application's checks.
//!
//! An upload is a `multipart/form-data` form of at most [`MAX_UPLOAD_BYTES`]. A preview is a
//! dry run through the import's connection, spec and ledger, its results written to a
//! temporary file in the data directory and read back for the page. A run writes the upload
//! to `uploads/` in the data directory and runs the import with that file; the file is
//! removed when the run ends (a run whose server dies keeps it, so the run can be resumed).
//! The run goes on in its own task when the browser leaves the page.

use std::path::PathBuf;

use askama::Template;
use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum_extra::extract::Form;
use jiralink_app::{
    AppError, ImportDraft, ImportRequest, ImportRunView, ImportSource, ImportSpec, ImportView,
    InputFormat, NoImportProgress, ResultsFormat, RunOutput, RunTrigger, format_time,
};
use jiralink_sync::import::{
    ExternalIdTarget, ImportOperation, Mapping, RecordResult, RecordState, Rule, TextFormat,
};
use serde::Deserialize;

use super::chart::thousands;
use super::form::sentence;
use super::multipart::{self, MAX_UPLOAD_BODY_BYTES, MAX_UPLOAD_BYTES, Part};
use super::{
    Flash, Page, RouteTable, app_error_page, redirect_with_notice, render, render_with_status,
    user_message,
};
use crate::AppState;
use crate::error::app_status;
use crate::session::CurrentUser;

pub(crate) fn table() -> RouteTable {
    vec![
        (Method::GET, "/imports", get(list)),
        (Method::POST, "/imports", post(create)),
        (Method::GET, "/imports/new", get(new_page)),
        (Method::GET, "/imports/{id}", get(show)),
        (Method::POST, "/imports/{id}", post(update)),
        (Method::GET, "/imports/{id}/edit", get(edit_page)),
        (Method::POST, "/imports/{id}/preview", post(preview)),
        (Method::POST, "/imports/{id}/run", post(run)),
        (Method::GET, "/imports/{id}/delete", get(confirm_delete)),
        (Method::POST, "/imports/{id}/delete", post(delete)),
        (Method::GET, "/import-runs/{id}", get(run_page)),
        (Method::GET, "/import-runs/{id}/results", get(download)),
    ]
}

super::page_deref!(
    ListPage,
    FormPage,
    ShowPage,
    PreviewPage,
    RunPage,
    ConfirmDeletePage
);

/// How many runs an import's page lists.
const HISTORY_RUNS: usize = 50;
/// How many of the newest import runs are searched for an import's own.
const RUNS_SEARCHED: u32 = 1000;
/// How many records a preview shows.
const PREVIEW_ROWS: usize = 200;
/// Blank rows the form offers below the mapping.
const BLANK_ROWS: usize = 3;

// ---------------------------------------------------------------------------------------------
// The mapping as a table, and as TOML

/// One row of the mapping table: a Jira field and where its value comes from.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct RowValues {
    pub(crate) field: String,
    /// `source`, `const` or `template`.
    pub(crate) kind: String,
    pub(crate) value: String,
    pub(crate) default: String,
    pub(crate) split: String,
    /// Rich text: empty (plain, the default), `plain`, `markdown` or `adf`.
    pub(crate) format: String,
    /// Date-times without an offset: an IANA zone (empty: UTC).
    pub(crate) time_zone: String,
}

impl RowValues {
    fn blank() -> Self {
        Self {
            kind: "source".to_owned(),
            ..Self::default()
        }
    }

    fn is_blank(&self) -> bool {
        [
            &self.field,
            &self.value,
            &self.default,
            &self.split,
            &self.format,
            &self.time_zone,
        ]
        .iter()
        .all(|s| s.trim().is_empty())
    }
}

/// The mapping as the form's table and top settings show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MappingValues {
    pub(crate) operation: String,
    pub(crate) project: String,
    /// `const` or `source`.
    pub(crate) project_from: String,
    pub(crate) issue_type: String,
    pub(crate) issue_type_from: String,
    pub(crate) key: String,
    pub(crate) ext_source: String,
    /// `label_prefix` or `field`.
    pub(crate) ext_target: String,
    pub(crate) ext_value: String,
    pub(crate) ignore_existing: bool,
    pub(crate) ignore_missing: bool,
    pub(crate) rows: Vec<RowValues>,
}

impl Default for MappingValues {
    fn default() -> Self {
        Self {
            operation: "create".to_owned(),
            project: String::new(),
            project_from: "const".to_owned(),
            issue_type: String::new(),
            issue_type_from: "const".to_owned(),
            key: String::new(),
            ext_source: String::new(),
            ext_target: "label_prefix".to_owned(),
            ext_value: String::new(),
            ignore_existing: false,
            ignore_missing: false,
            rows: Vec::new(),
        }
    }
}

/// `s` as a TOML basic string.
fn toml_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `k` as a TOML key: bare when it can be.
fn toml_key(k: &str) -> String {
    if !k.is_empty()
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        k.to_owned()
    } else {
        toml_string(k)
    }
}

/// A setting that is a constant unless it comes from a source field.
fn setting_toml(value: &str, from: &str) -> String {
    if from == "source" {
        format!("{{ source = {} }}", toml_string(value.trim()))
    } else {
        toml_string(value.trim())
    }
}

/// A row's rule: a bare source field when it has nothing else, else an inline table.
fn rule_toml(row: &RowValues) -> String {
    let (kind, value) = match row.kind.as_str() {
        "const" => ("const", row.value.clone()),
        "template" => ("template", row.value.clone()),
        _ => ("source", row.value.trim().to_owned()),
    };
    let mut extras = Vec::new();
    if !row.default.is_empty() {
        extras.push(format!("default = {}", toml_string(&row.default)));
    }
    if !row.split.is_empty() {
        extras.push(format!("split = {}", toml_string(&row.split)));
    }
    if !row.format.trim().is_empty() {
        extras.push(format!("format = {}", toml_string(row.format.trim())));
    }
    if !row.time_zone.trim().is_empty() {
        extras.push(format!("time_zone = {}", toml_string(row.time_zone.trim())));
    }
    if kind == "source" && extras.is_empty() {
        return toml_string(&value);
    }
    let mut parts = vec![format!("{kind} = {}", toml_string(&value))];
    parts.extend(extras);
    format!("{{ {} }}", parts.join(", "))
}

/// The mapping file the table and the top settings describe: what is saved and shown. Blank
/// rows are left out; the rows keep their order.
pub(crate) fn mapping_toml(m: &MappingValues) -> String {
    let mut out = format!("operation = {}\n", toml_string(m.operation.trim()));
    if !m.project.trim().is_empty() {
        out.push_str(&format!(
            "project = {}\n",
            setting_toml(&m.project, &m.project_from)
        ));
    }
    if !m.issue_type.trim().is_empty() {
        out.push_str(&format!(
            "issue_type = {}\n",
            setting_toml(&m.issue_type, &m.issue_type_from)
        ));
    }
    if !m.key.trim().is_empty() {
        out.push_str(&format!("key = {}\n", toml_string(m.key.trim())));
    }
    if m.ignore_existing {
        out.push_str("ignore_existing = true\n");
    }
    if m.ignore_missing {
        out.push_str("ignore_missing = true\n");
    }
    if !m.ext_source.trim().is_empty() || !m.ext_value.trim().is_empty() {
        let target = if m.ext_target == "field" {
            "field"
        } else {
            "label_prefix"
        };
        out.push_str(&format!(
            "\n[external_id]\nsource = {}\n{target} = {}\n",
            toml_string(m.ext_source.trim()),
            toml_string(m.ext_value.trim())
        ));
    }
    out.push_str("\n[fields]\n");
    for row in m
        .rows
        .iter()
        .filter(|r| !r.is_blank() && !r.field.trim().is_empty())
    {
        out.push_str(&format!(
            "{} = {}\n",
            toml_key(row.field.trim()),
            rule_toml(row)
        ));
    }
    out
}

fn format_name(f: TextFormat) -> &'static str {
    match f {
        TextFormat::Plain => "plain",
        TextFormat::Markdown => "markdown",
        TextFormat::Adf => "adf",
    }
}

/// A constant or default the table can show: text.
fn text_value(v: Option<&serde_json::Value>) -> Option<String> {
    match v {
        None => Some(String::new()),
        Some(serde_json::Value::String(s)) => Some(s.clone()),
        Some(_) => None,
    }
}

/// A top-level setting (project, issue type) as the table's value and origin.
fn setting_values(rule: Option<&Rule>) -> Option<(String, String)> {
    let Some(rule) = rule else {
        return Some((String::new(), "const".to_owned()));
    };
    let plain = rule.map.is_none()
        && rule.default.is_none()
        && rule.split.is_none()
        && rule.format.is_none()
        && rule.time_zone.is_none()
        && rule.template.is_none();
    match (&rule.source, &rule.constant) {
        (Some(s), None) if plain => Some((s.clone(), "source".to_owned())),
        (None, Some(serde_json::Value::String(c))) if plain => {
            Some((c.clone(), "const".to_owned()))
        }
        _ => None,
    }
}

impl MappingValues {
    /// The table of a parsed mapping; `None` when the table cannot show it (a `map`, a
    /// constant or default that is not text, a computed project): it is edited as TOML then.
    pub(crate) fn of_mapping(m: &Mapping) -> Option<Self> {
        let (project, project_from) = setting_values(m.project.as_ref())?;
        let (issue_type, issue_type_from) = setting_values(m.issue_type.as_ref())?;
        let (ext_source, ext_target, ext_value) = match &m.external_id {
            None => (String::new(), "label_prefix".to_owned(), String::new()),
            Some(x) => match &x.target {
                ExternalIdTarget::Field(f) => (x.source.clone(), "field".to_owned(), f.clone()),
                ExternalIdTarget::LabelPrefix(p) => {
                    (x.source.clone(), "label_prefix".to_owned(), p.clone())
                }
                // The table offers a field or a label; a property is edited as TOML.
                ExternalIdTarget::Property(_) => return None,
            },
        };
        let mut rows = Vec::with_capacity(m.fields.len());
        for (field, rule) in &m.fields {
            if rule.map.is_some() {
                return None;
            }
            let (kind, value) = match (&rule.source, &rule.constant, &rule.template) {
                (Some(s), None, None) => ("source", s.clone()),
                (None, Some(c), None) => ("const", text_value(Some(c))?),
                (None, None, Some(t)) => ("template", t.clone()),
                _ => return None,
            };
            rows.push(RowValues {
                field: field.clone(),
                kind: kind.to_owned(),
                value,
                default: text_value(rule.default.as_ref())?,
                split: rule.split.clone().unwrap_or_default(),
                format: rule.format.map(format_name).unwrap_or_default().to_owned(),
                time_zone: rule.time_zone.clone().unwrap_or_default(),
            });
        }
        Some(Self {
            operation: m.operation.as_str().to_owned(),
            project,
            project_from,
            issue_type,
            issue_type_from,
            key: m.key.clone().unwrap_or_default(),
            ext_source,
            ext_target,
            ext_value,
            ignore_existing: m.ignore_existing,
            ignore_missing: m.ignore_missing,
            rows,
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Labels

fn operation_label(op: ImportOperation) -> &'static str {
    match op {
        ImportOperation::Create => "Create",
        ImportOperation::Update => "Update",
        ImportOperation::Upsert => "Upsert",
    }
}

fn input_format_label(f: Option<InputFormat>) -> &'static str {
    match f {
        None => "From the file name",
        Some(InputFormat::Csv) => "CSV",
        Some(InputFormat::Ndjson) => "NDJSON",
        Some(InputFormat::Json) => "JSON array",
    }
}

fn results_format_label(f: ResultsFormat) -> &'static str {
    match f {
        ResultsFormat::Ndjson => "NDJSON",
        ResultsFormat::Csv => "CSV",
    }
}

fn parse_input_format(s: &str) -> Option<InputFormat> {
    match s {
        "csv" => Some(InputFormat::Csv),
        "ndjson" => Some(InputFormat::Ndjson),
        "json" => Some(InputFormat::Json),
        _ => None,
    }
}

fn trigger_label(trigger: RunTrigger) -> &'static str {
    match trigger {
        RunTrigger::Manual => "Web UI",
        RunTrigger::Schedule => "Schedule",
        RunTrigger::Cli => "CLI",
        RunTrigger::Api => "API",
        RunTrigger::Listener => "Listener",
    }
}

fn record_badge(state: RecordState) -> (&'static str, &'static str) {
    match state {
        RecordState::Created => ("Created", "badge-online"),
        RecordState::Updated => ("Updated", "badge-online"),
        RecordState::Skipped => ("Skipped", "badge-neutral"),
        RecordState::Failed => ("Failed", "badge-offline"),
        RecordState::WouldCreate => ("Would create", "badge-warning"),
        RecordState::WouldUpdate => ("Would update", "badge-warning"),
    }
}

/// "3 created, 1 failed": the counts that are not zero.
fn counts_text(s: &jiralink_app::ImportStats) -> String {
    let parts: Vec<String> = [
        (s.created, "created"),
        (s.updated, "updated"),
        (s.skipped, "skipped"),
        (s.failed, "failed"),
        (s.would_create, "would create"),
        (s.would_update, "would update"),
    ]
    .into_iter()
    .filter(|(n, _)| *n > 0)
    .map(|(n, what)| format!("{} {what}", thousands(n)))
    .collect();
    if parts.is_empty() {
        format!("{} read", thousands(s.read))
    } else {
        parts.join(", ")
    }
}

/// A run as the lists show it.
struct RunRow {
    id: String,
    state_key: String,
    state: &'static str,
    badge: &'static str,
    started: String,
    trigger: &'static str,
    read: String,
    created: String,
    updated: String,
    skipped: String,
    failed: String,
    error: Option<String>,
    has_results: bool,
}

impl RunRow {
    fn of(run: &ImportRunView) -> Self {
        let state_key = run.state.as_str().to_owned();
        let (state, badge) = super::exports::run_badge(&state_key);
        let s = &run.stats;
        Self {
            id: run.id.map(|i| i.to_string()).unwrap_or_default(),
            state,
            badge,
            started: format_time(run.started_at),
            trigger: trigger_label(run.trigger),
            read: thousands(s.read),
            created: thousands(s.created),
            updated: thousands(s.updated),
            skipped: thousands(s.skipped),
            failed: thousands(s.failed),
            error: run.error.clone(),
            has_results: run.results_bytes > 0,
            state_key,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The list

struct LastRun {
    id: String,
    state: &'static str,
    badge: &'static str,
    started: String,
    counts: String,
}

struct Row {
    id: String,
    name: String,
    connection: String,
    operation: &'static str,
    last_run: Option<LastRun>,
}

impl Row {
    fn of(view: &ImportView) -> Self {
        Self {
            id: view.id.to_string(),
            name: view.name.clone(),
            connection: view.connection_name.clone(),
            operation: view
                .spec
                .parse_mapping()
                .map_or("Not valid", |m| operation_label(m.operation)),
            last_run: view.last_run.as_ref().map(|r| {
                let (state, badge) = super::exports::run_badge(r.state.as_str());
                LastRun {
                    id: r.id.map(|i| i.to_string()).unwrap_or_default(),
                    state,
                    badge,
                    started: format_time(r.started_at),
                    counts: counts_text(&r.stats),
                }
            }),
        }
    }
}

#[derive(Template)]
#[template(path = "imports/list.html")]
struct ListPage {
    page: Page,
    rows: Vec<Row>,
}

async fn list(State(state): State<AppState>, user: CurrentUser, flash: Flash) -> Response {
    let page = Page::new(&user, flash);
    match state.app().list_imports().await {
        Ok(views) => render(&ListPage {
            page,
            rows: views.iter().map(Row::of).collect(),
        }),
        Err(e) => app_error_page(page, &e),
    }
}

// ---------------------------------------------------------------------------------------------
// The form

/// The definition form as posted. The table's columns come as repeated fields, one value per
/// row (text inputs and selects only, so the columns stay aligned).
#[derive(Debug, Deserialize, Default)]
#[serde(default)]
struct ImportForm {
    name: String,
    connection: String,
    operation: String,
    project: String,
    project_from: String,
    issue_type: String,
    issue_type_from: String,
    key: String,
    ext_source: String,
    ext_target: String,
    ext_value: String,
    ignore_existing: Option<String>,
    ignore_missing: Option<String>,
    row_field: Vec<String>,
    row_kind: Vec<String>,
    row_value: Vec<String>,
    row_default: Vec<String>,
    row_split: Vec<String>,
    row_format: Vec<String>,
    row_time_zone: Vec<String>,
    toml: String,
    use_toml: Option<String>,
    format: String,
    results_format: String,
    ledger: String,
    search_lag: String,
    /// `save` (the default), `toml` (build the TOML from the table), `table` (fill the table
    /// from the TOML) or `add-rows`.
    action: String,
    version: Option<u64>,
}

/// What the form shows: as typed, or as saved.
#[derive(Debug, Clone, PartialEq, Eq)]
struct FormValues {
    name: String,
    connection: String,
    mapping: MappingValues,
    toml: String,
    /// The TOML, not the table, is saved.
    use_toml: bool,
    format: String,
    results_format: String,
    ledger: String,
    search_lag: String,
    version: Option<u64>,
}

impl Default for FormValues {
    fn default() -> Self {
        let mut mapping = MappingValues::default();
        mapping.rows.push(RowValues {
            field: "summary".to_owned(),
            ..RowValues::blank()
        });
        let toml = mapping_toml(&mapping);
        Self {
            name: String::new(),
            connection: String::new(),
            mapping,
            toml,
            use_toml: false,
            format: String::new(),
            results_format: "ndjson".to_owned(),
            ledger: String::new(),
            search_lag: String::new(),
            version: None,
        }
    }
}

impl FormValues {
    fn of_view(view: &ImportView) -> Self {
        let spec = &view.spec;
        let table = Mapping::from_toml(&spec.mapping)
            .ok()
            .and_then(|m| MappingValues::of_mapping(&m));
        Self {
            name: view.name.clone(),
            connection: view.connection_id.to_string(),
            use_toml: table.is_none(),
            mapping: table.unwrap_or_default(),
            toml: spec.mapping.clone(),
            format: spec
                .format
                .map(|f| f.as_str().to_owned())
                .unwrap_or_default(),
            results_format: match spec.results_format {
                ResultsFormat::Ndjson => "ndjson",
                ResultsFormat::Csv => "csv",
            }
            .to_owned(),
            ledger: spec.ledger.clone().unwrap_or_default(),
            search_lag: spec
                .search_lag_secs
                .map(|s| s.to_string())
                .unwrap_or_default(),
            version: Some(view.version),
        }
    }
}

impl ImportForm {
    fn into_values(self) -> (FormValues, String) {
        let n = self.row_field.len();
        let at = |v: &Vec<String>, i: usize| v.get(i).cloned().unwrap_or_default();
        let rows = (0..n)
            .map(|i| RowValues {
                field: at(&self.row_field, i),
                kind: Some(at(&self.row_kind, i))
                    .filter(|k| !k.is_empty())
                    .unwrap_or_else(|| "source".to_owned()),
                value: at(&self.row_value, i),
                default: at(&self.row_default, i),
                split: at(&self.row_split, i),
                format: at(&self.row_format, i),
                time_zone: at(&self.row_time_zone, i),
            })
            .collect();
        let or = |s: String, d: &str| if s.is_empty() { d.to_owned() } else { s };
        let values = FormValues {
            name: self.name,
            connection: self.connection,
            mapping: MappingValues {
                operation: or(self.operation, "create"),
                project: self.project,
                project_from: or(self.project_from, "const"),
                issue_type: self.issue_type,
                issue_type_from: or(self.issue_type_from, "const"),
                key: self.key,
                ext_source: self.ext_source,
                ext_target: or(self.ext_target, "label_prefix"),
                ext_value: self.ext_value,
                ignore_existing: self.ignore_existing.is_some(),
                ignore_missing: self.ignore_missing.is_some(),
                rows,
            },
            // Browsers send a textarea's lines with CRLF.
            toml: self.toml.replace("\r\n", "\n"),
            use_toml: self.use_toml.is_some(),
            format: self.format,
            results_format: or(self.results_format, "ndjson"),
            ledger: self.ledger,
            search_lag: self.search_lag,
            version: self.version,
        };
        (values, self.action)
    }
}

/// One problem next to its field.
#[derive(Debug, Clone)]
struct Problem {
    /// The key of the field (`name`, `row-2`, `toml`, …).
    field: String,
    label: String,
    /// The id of the control the summary links to.
    anchor: String,
    message: String,
}

/// The form's fields: key, label, and the control's id.
const FIELDS: &[(&str, &str, &str)] = &[
    ("name", "Name", "name"),
    ("connection", "Connection", "connection"),
    ("operation", "Operation", "operation"),
    ("project", "Project", "project"),
    ("issue_type", "Issue type", "issue-type"),
    ("key", "Key column", "key"),
    ("external_id", "External id", "ext-source"),
    ("ignore", "Upsert options", "ignore-existing"),
    ("mapping", "Mapping", "mapping-table"),
    ("toml", "Mapping (TOML)", "toml"),
    ("format", "Input format", "format"),
    ("ledger", "Ledger", "ledger"),
    ("search_lag", "Search lag", "search-lag"),
];

fn problem(field: &str, message: impl Into<String>) -> Problem {
    let (field, label, anchor) = FIELDS
        .iter()
        .copied()
        .find(|(key, _, _)| *key == field)
        .unwrap_or(("mapping", "Mapping", "mapping-table"));
    Problem {
        field: field.to_owned(),
        label: label.to_owned(),
        anchor: anchor.to_owned(),
        message: message.into(),
    }
}

fn row_problem(i: usize, row: &RowValues, message: impl Into<String>) -> Problem {
    let name = row.field.trim();
    Problem {
        field: format!("row-{i}"),
        label: if name.is_empty() {
            format!("Mapping row {}", i + 1)
        } else {
            format!("Mapping row {} ({name})", i + 1)
        },
        anchor: format!("row-{i}-field"),
        message: message.into(),
    }
}

/// Where a problem of `Mapping::from_toml` belongs: a top setting, a row of the table (by its
/// Jira field), or the TOML when that is what is saved.
fn mapping_problem(message: &str, m: &MappingValues, from_toml: bool) -> Problem {
    if from_toml {
        return problem("toml", message);
    }
    if let Some(rest) = message.strip_prefix("fields.") {
        let found = m.rows.iter().enumerate().find(|(_, r)| {
            let f = r.field.trim();
            !f.is_empty() && rest.starts_with(&format!("{f}:"))
        });
        if let Some((i, row)) = found {
            return row_problem(i, row, message);
        }
        return problem("mapping", message);
    }
    let field = if message.starts_with("external_id") {
        "external_id"
    } else if message.starts_with("ignore_") {
        "ignore"
    } else if message.contains("needs project") || message.starts_with("project") {
        "project"
    } else if message.contains("needs issue_type") || message.starts_with("issue_type") {
        "issue_type"
    } else if message.contains("needs key or external_id") {
        "key"
    } else if message.starts_with("mapping file") {
        "toml"
    } else {
        "mapping"
    };
    problem(field, message)
}

/// The table's own problems: rows without a Jira field or a value, a field mapped twice.
fn table_problems(m: &MappingValues) -> Vec<Problem> {
    let mut out = Vec::new();
    let mut seen: Vec<String> = Vec::new();
    for (i, row) in m.rows.iter().enumerate().filter(|(_, r)| !r.is_blank()) {
        let field = row.field.trim();
        if field.is_empty() {
            out.push(row_problem(i, row, "name the Jira field this row fills"));
            continue;
        }
        if seen.iter().any(|s| s.eq_ignore_ascii_case(field)) {
            out.push(row_problem(i, row, format!("{field} is mapped twice")));
        }
        seen.push(field.to_owned());
        if row.value.trim().is_empty() {
            let what = match row.kind.as_str() {
                "const" => "the constant value",
                "template" => "the template",
                _ => "the source field",
            };
            out.push(row_problem(i, row, format!("write {what}")));
        }
    }
    if m.operation != "create" && !["update", "upsert"].contains(&m.operation.as_str()) {
        out.push(problem("operation", "choose create, update or upsert"));
    }
    out
}

/// The problems of a form and, when there are none, the draft to save.
fn draft_of(v: &FormValues, input: Option<PathBuf>) -> Result<ImportDraft, Vec<Problem>> {
    let mut problems = Vec::new();
    if v.name.trim().is_empty() {
        problems.push(problem("name", "the import needs a name"));
    }
    if v.connection.trim().is_empty() {
        problems.push(problem(
            "connection",
            "choose the connection to import through",
        ));
    }
    if !v.use_toml {
        problems.extend(table_problems(&v.mapping));
    }
    if let Err(found) = Mapping::from_toml(&v.toml) {
        problems.extend(
            found
                .iter()
                .map(|m| mapping_problem(m, &v.mapping, v.use_toml)),
        );
    }
    let search_lag_secs = match v.search_lag.trim() {
        "" => None,
        text => match text.parse::<u64>() {
            Ok(n) => Some(n),
            Err(_) => {
                problems.push(problem(
                    "search_lag",
                    "the search lag is a whole number of seconds",
                ));
                None
            }
        },
    };
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(ImportDraft {
        name: v.name.trim().to_owned(),
        connection: v.connection.trim().to_owned(),
        spec: ImportSpec {
            mapping: v.toml.clone(),
            format: parse_input_format(&v.format),
            results_format: if v.results_format == "csv" {
                ResultsFormat::Csv
            } else {
                ResultsFormat::Ndjson
            },
            ledger: Some(v.ledger.trim().to_owned()).filter(|l| !l.is_empty()),
            search_lag_secs,
            input,
        },
        // The form sets neither (it sets no input file, which a schedule needs); an edit
        // keeps the import's own (see `submit`).
        schedule: None,
        enabled: true,
    })
}

/// A connection in the picker.
#[derive(Debug, Clone)]
struct ConnectionChoice {
    id: String,
    name: String,
    offline: bool,
}

/// The import being edited.
#[derive(Debug, Clone)]
struct Editing {
    id: String,
    name: String,
}

/// A row of the table as the template shows it.
struct RowView {
    index: usize,
    values: RowValues,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "imports/form.html")]
struct FormPage {
    page: Page,
    title: String,
    form_action: String,
    editing: Option<Editing>,
    values: FormValues,
    rows: Vec<RowView>,
    problems: Vec<Problem>,
    form_error: Option<String>,
    /// Said above the TOML: how it relates to the table.
    toml_note: Option<String>,
    /// The saved mapping cannot be shown as a table.
    table_unavailable: bool,
    connections: Vec<ConnectionChoice>,
}

impl FormPage {
    /// The messages for one field, joined.
    fn error(&self, field: &str) -> Option<String> {
        let messages: Vec<&str> = self
            .problems
            .iter()
            .filter(|p| p.field == field)
            .map(|p| p.message.as_str())
            .collect();
        (!messages.is_empty()).then(|| sentence(&messages.join("; ")))
    }

    fn has_error(&self, field: &str) -> bool {
        self.problems.iter().any(|p| p.field == field)
    }

    /// The rows with their problems, and blank ones to fill in.
    fn set_rows(&mut self, blank: usize) {
        let mut rows = self.values.mapping.rows.clone();
        let blanks = rows.iter().rev().take_while(|r| r.is_blank()).count();
        rows.extend((blanks..blank).map(|_| RowValues::blank()));
        self.rows = rows
            .into_iter()
            .enumerate()
            .map(|(index, values)| RowView {
                error: self.error(&format!("row-{index}")),
                index,
                values,
            })
            .collect();
    }

    fn with_problems(mut self, problems: Vec<Problem>, what: &str) -> Response {
        self.form_error = Some(format!(
            "{what}: fix the {} below.",
            if problems.len() == 1 {
                "problem".to_owned()
            } else {
                format!("{} problems", problems.len())
            }
        ));
        self.problems = problems;
        self.set_rows(BLANK_ROWS);
        render_with_status(StatusCode::UNPROCESSABLE_ENTITY, &self)
    }

    /// The page again with what went wrong: problems beside their fields, anything else at
    /// the top.
    fn with_error(mut self, error: &AppError, what: &str) -> Response {
        let problems: Vec<Problem> = match error {
            AppError::ImportNameTaken { .. } => vec![problem("name", error.to_string())],
            AppError::ConnectionNotFound { .. } => {
                vec![problem("connection", "choose one of the connections")]
            }
            AppError::InvalidInput(message) => problems_of_message(message, &self.values),
            _ => Vec::new(),
        };
        if problems.is_empty() {
            self.form_error = Some(format!("{what}: {}", user_message(error)));
            self.set_rows(BLANK_ROWS);
            return render_with_status(app_status(error), &self);
        }
        self.with_problems(problems, what)
    }
}

/// The application's message about a draft, which joins its problems with `; `.
fn problems_of_message(message: &str, v: &FormValues) -> Vec<Problem> {
    let mut out = Vec::new();
    let mut in_mapping = false;
    for part in message.split("; ") {
        let lower = part.to_lowercase();
        if let Some(rest) = part.strip_prefix("the mapping is not valid: ") {
            in_mapping = true;
            out.push(mapping_problem(rest, &v.mapping, v.use_toml));
        } else if lower.contains("name") && !lower.contains("ledger") {
            in_mapping = false;
            out.push(problem("name", part));
        } else if lower.contains("ledger") {
            in_mapping = false;
            out.push(problem("ledger", part));
        } else if in_mapping {
            out.push(mapping_problem(part, &v.mapping, v.use_toml));
        } else {
            return Vec::new();
        }
    }
    out
}

async fn form_page(
    state: &AppState,
    page: Page,
    editing: Option<Editing>,
    values: FormValues,
) -> Result<FormPage, AppError> {
    let mut connections: Vec<ConnectionChoice> = state
        .app()
        .list_connections()
        .await?
        .into_iter()
        .map(|c| ConnectionChoice {
            offline: matches!(c.state, jiralink_domain::ConnectionState::Offline { .. }),
            id: c.id,
            name: c.name,
        })
        .collect();
    connections.sort_by_key(|c| c.name.to_lowercase());
    let (title, form_action) = match &editing {
        None => ("New import".to_owned(), "/imports".to_owned()),
        Some(e) => (
            format!("Edit import: {}", e.name),
            format!("/imports/{}", e.id),
        ),
    };
    let table_unavailable = values.use_toml
        && Mapping::from_toml(&values.toml)
            .ok()
            .and_then(|m| MappingValues::of_mapping(&m))
            .is_none();
    let mut form = FormPage {
        page,
        title,
        form_action,
        editing,
        values,
        rows: Vec::new(),
        problems: Vec::new(),
        form_error: None,
        toml_note: None,
        table_unavailable,
        connections,
    };
    form.set_rows(BLANK_ROWS);
    Ok(form)
}

async fn new_page(State(state): State<AppState>, user: CurrentUser, flash: Flash) -> Response {
    let page = Page::new(&user, flash);
    match form_page(&state, page.clone(), None, FormValues::default()).await {
        Ok(form) => render(&form),
        Err(e) => app_error_page(page, &e),
    }
}

async fn edit_page(
    State(state): State<AppState>,
    user: CurrentUser,
    flash: Flash,
    Path(id): Path<String>,
) -> Response {
    let page = Page::new(&user, flash);
    let view = match state.app().get_import(&id).await {
        Ok(view) => view,
        Err(e) => return app_error_page(page, &e),
    };
    let editing = Editing {
        id: view.id.to_string(),
        name: view.name.clone(),
    };
    match form_page(
        &state,
        page.clone(),
        Some(editing),
        FormValues::of_view(&view),
    )
    .await
    {
        Ok(form) => render(&form),
        Err(e) => app_error_page(page, &e),
    }
}

async fn create(
    State(state): State<AppState>,
    user: CurrentUser,
    Form(form): Form<ImportForm>,
) -> Response {
    submit(&state, &user, None, form).await
}

async fn update(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
    Form(form): Form<ImportForm>,
) -> Response {
    match state.app().get_import(&id).await {
        Ok(view) => submit(&state, &user, Some(view), form).await,
        Err(e) => app_error_page(Page::new(&user, Flash::default()), &e),
    }
}

async fn submit(
    state: &AppState,
    user: &CurrentUser,
    editing: Option<ImportView>,
    form: ImportForm,
) -> Response {
    let (mut values, action) = form.into_values();
    let version = values.version;
    let input = editing.as_ref().and_then(|v| v.spec.input.clone());
    // The schedule is set with the CLI or the API; an edit here keeps it.
    let kept = editing.as_ref().map(|v| (v.schedule.clone(), v.enabled));
    let editing_id = editing.as_ref().map(|v| v.id.to_string());
    let editing = editing.map(|v| Editing {
        id: v.id.to_string(),
        name: v.name,
    });
    let mut note = None;
    match action.as_str() {
        "table" => match Mapping::from_toml(&values.toml) {
            Ok(m) => match MappingValues::of_mapping(&m) {
                Some(table) => {
                    values.mapping = table;
                    values.use_toml = false;
                    note = Some("The table was filled from the TOML.".to_owned());
                }
                None => {
                    values.use_toml = true;
                    note = Some(
                        "This mapping uses options the table cannot show (a map, or constants \
                         that are not text): edit it as TOML."
                            .to_owned(),
                    );
                }
            },
            Err(_) => values.use_toml = true,
        },
        _ if !values.use_toml => {
            values.toml = mapping_toml(&values.mapping);
            if action == "toml" {
                note = Some(
                    "The TOML below was built from the table; it is what is saved.".to_owned(),
                );
            }
        }
        _ => {}
    }
    let extra_rows = if action == "add-rows" {
        values.mapping.rows.len() + BLANK_ROWS
    } else {
        BLANK_ROWS
    };
    let page = Page::new(user, Flash::default());
    let mut form_page = match form_page(state, page.clone(), editing, values).await {
        Ok(form) => form,
        Err(e) => return app_error_page(page, &e),
    };
    form_page.toml_note = note;
    let what = "The import was not saved";
    let draft = draft_of(&form_page.values, input).map(|mut draft| {
        if let Some((schedule, enabled)) = kept {
            draft.schedule = schedule;
            draft.enabled = enabled;
        }
        draft
    });
    if matches!(action.as_str(), "table" | "toml" | "add-rows") {
        // Not saved: the form again, with what is wrong so far.
        if let Err(problems) = draft {
            form_page.problems = problems
                .into_iter()
                .filter(|p| !matches!(p.field.as_str(), "name" | "connection"))
                .collect();
        }
        form_page.set_rows(extra_rows);
        return render(&form_page);
    }
    let draft = match draft {
        Ok(draft) => draft,
        Err(problems) => return form_page.with_problems(problems, what),
    };
    let actor = user.actor();
    let saved = match (&editing_id, version) {
        (None, _) => state.app().create_import(draft, &actor).await,
        (Some(id), Some(version)) => state.app().update_import(id, draft, version, &actor).await,
        (Some(_), None) => Err(AppError::InvalidInput(
            "the form does not say which version of the import it was made from; load the \
             page again and make the change again"
                .to_owned(),
        )),
    };
    match saved {
        Ok(view) => {
            let verb = if editing_id.is_some() {
                "saved"
            } else {
                "created"
            };
            redirect_with_notice(
                state,
                &format!("/imports/{}", view.id),
                &format!("The import {} was {verb}.", view.name),
            )
        }
        Err(e) => form_page.with_error(&e, what),
    }
}

// ---------------------------------------------------------------------------------------------
// An import's page

#[derive(Template)]
#[template(path = "imports/show.html")]
struct ShowPage {
    page: Page,
    id: String,
    name: String,
    connection: String,
    connection_id: String,
    operation: &'static str,
    mapping: Option<MappingValues>,
    mapping_problems: Vec<String>,
    toml: String,
    input_format: &'static str,
    results_format: &'static str,
    ledger: String,
    input_file: Option<String>,
    runs: Vec<RunRow>,
    max_upload_mib: usize,
}

async fn show(
    State(state): State<AppState>,
    user: CurrentUser,
    flash: Flash,
    Path(id): Path<String>,
) -> Response {
    let page = Page::new(&user, flash);
    let view = match state.app().get_import(&id).await {
        Ok(view) => view,
        Err(e) => return app_error_page(page, &e),
    };
    let runs = match state.app().list_import_runs(Some(RUNS_SEARCHED)).await {
        Ok(runs) => runs,
        Err(e) => return app_error_page(page, &e),
    };
    let parsed = Mapping::from_toml(&view.spec.mapping);
    render(&ShowPage {
        page,
        id: view.id.to_string(),
        connection: view.connection_name.clone(),
        connection_id: view.connection_id.to_string(),
        operation: parsed
            .as_ref()
            .map_or("Not valid", |m| operation_label(m.operation)),
        mapping: parsed.as_ref().ok().and_then(MappingValues::of_mapping),
        mapping_problems: parsed.err().unwrap_or_default(),
        toml: view.spec.mapping.clone(),
        input_format: input_format_label(view.spec.format),
        results_format: results_format_label(view.spec.results_format),
        ledger: view.ledger.clone(),
        input_file: view.spec.input.as_ref().map(|p| p.display().to_string()),
        runs: runs
            .iter()
            .filter(|r| r.import_id == Some(view.id))
            .take(HISTORY_RUNS)
            .map(RunRow::of)
            .collect(),
        max_upload_mib: MAX_UPLOAD_BYTES >> 20,
        name: view.name,
    })
}

// ---------------------------------------------------------------------------------------------
// Uploads: preview and run

/// A file sent with the upload form.
struct Upload {
    file_name: String,
    data: Vec<u8>,
    /// Chosen in the form; `None`: from the import, else the file name.
    format: Option<InputFormat>,
}

/// Reads the upload form; `Err` is the sentence to show.
async fn read_upload(req: Request) -> Result<Upload, String> {
    let boundary = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(multipart::boundary)
        .ok_or_else(|| "send the file with the page's upload form".to_owned())?;
    let too_large = || {
        format!(
            "the file is too large: an upload may have at most {} MiB; split it into smaller files",
            MAX_UPLOAD_BYTES >> 20
        )
    };
    let body = axum::body::to_bytes(req.into_body(), MAX_UPLOAD_BODY_BYTES)
        .await
        .map_err(|_| too_large())?;
    let parts = multipart::parse(&body, &boundary)?;
    let field = |name: &str| -> Option<&Part> { parts.iter().find(|p| p.name == name) };
    let file = field("file")
        .filter(|p| p.file_name.as_deref().is_some_and(|n| !n.is_empty()))
        .ok_or_else(|| "choose a file to upload".to_owned())?;
    if file.data.len() > MAX_UPLOAD_BYTES {
        return Err(too_large());
    }
    if file.data.is_empty() {
        return Err("the file is empty".to_owned());
    }
    let file_name = file.file_name.clone().unwrap_or_default();
    let format = field("format").and_then(|p| parse_input_format(p.text().trim()));
    Ok(Upload {
        // Some browsers send the whole path: only its last part names the file.
        file_name: file_name
            .rsplit(['/', '\\'])
            .next()
            .unwrap_or(&file_name)
            .to_owned(),
        data: file.data.clone(),
        format,
    })
}

impl Upload {
    /// The format to read the file as: the one chosen, the import's own, or the file
    /// name's.
    fn input_format(&self, spec: &ImportSpec) -> Result<InputFormat, String> {
        if let (Some(chosen), Some(own)) = (self.format, spec.format)
            && chosen != own
        {
            return Err(format!(
                "this import reads {} files; choose that format, or change the import's input \
                 format with Edit",
                input_format_label(Some(own))
            ));
        }
        self.format
            .or(spec.format)
            .or_else(|| InputFormat::from_file_name(&self.file_name))
            .ok_or_else(|| {
                "say how the file is written: choose CSV, NDJSON or JSON (the file name does not \
                 end in .csv, .ndjson, .jsonl or .json)"
                    .to_owned()
            })
    }
}

/// A fresh name for a file in the data directory's `uploads/`.
fn upload_path(state: &AppState, suffix: &str) -> Result<PathBuf, AppError> {
    use rand::RngCore as _;
    let dir = state.app().data_dir().join("uploads");
    std::fs::create_dir_all(&dir)
        .map_err(|e| AppError::Io(format!("could not create {}: {e}", dir.display())))?;
    let mut token = [0_u8; 12];
    rand::rngs::OsRng.fill_bytes(&mut token);
    Ok(dir.join(format!("{}{suffix}", hex::encode(token))))
}

/// One record of a preview.
struct PreviewRow {
    line: u64,
    state: &'static str,
    badge: &'static str,
    key: String,
    external_id: String,
    message: String,
    request: Option<String>,
}

impl PreviewRow {
    fn of(r: RecordResult) -> Self {
        let (state, badge) = record_badge(r.state);
        let mut message: Vec<String> = r.message.into_iter().collect();
        message.extend(r.errors.iter().map(|(field, e)| match e {
            serde_json::Value::String(s) => format!("{field}: {s}"),
            other => format!("{field}: {other}"),
        }));
        Self {
            line: r.line,
            state,
            badge,
            key: r.key.unwrap_or_default(),
            external_id: r.external_id.unwrap_or_default(),
            message: message.join("; "),
            request: r
                .request
                .map(|v| serde_json::to_string_pretty(&v).unwrap_or_default()),
        }
    }
}

#[derive(Template)]
#[template(path = "imports/preview.html")]
struct PreviewPage {
    page: Page,
    id: String,
    name: String,
    file_name: String,
    error: Option<String>,
    read: String,
    would_create: String,
    would_update: String,
    skipped: String,
    failed: String,
    rows: Vec<PreviewRow>,
    /// Records beyond the ones shown.
    more: String,
    has_more: bool,
}

/// Reads the first [`PREVIEW_ROWS`] results of a dry run's NDJSON file; counts the rest.
async fn read_preview(path: &std::path::Path) -> Result<(Vec<PreviewRow>, u64), AppError> {
    use tokio::io::AsyncBufReadExt as _;
    let file = tokio::fs::File::open(path)
        .await
        .map_err(|e| AppError::Io(format!("the preview could not be read: {e}")))?;
    let mut lines = tokio::io::BufReader::new(file).lines();
    let mut rows = Vec::new();
    let mut more = 0_u64;
    while let Some(line) = lines
        .next_line()
        .await
        .map_err(|e| AppError::Io(format!("the preview could not be read: {e}")))?
    {
        if line.trim().is_empty() {
            continue;
        }
        if rows.len() >= PREVIEW_ROWS {
            more += 1;
            continue;
        }
        let result: RecordResult = serde_json::from_str(&line)
            .map_err(|e| AppError::Io(format!("the preview could not be read: {e}")))?;
        rows.push(PreviewRow::of(result));
    }
    Ok((rows, more))
}

async fn preview(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
    req: Request,
) -> Response {
    let page = Page::new(&user, Flash::default());
    let view = match state.app().get_import(&id).await {
        Ok(view) => view,
        Err(e) => return app_error_page(page, &e),
    };
    let mut out = PreviewPage {
        page,
        id: view.id.to_string(),
        name: view.name.clone(),
        file_name: String::new(),
        error: None,
        read: "0".to_owned(),
        would_create: "0".to_owned(),
        would_update: "0".to_owned(),
        skipped: "0".to_owned(),
        failed: "0".to_owned(),
        rows: Vec::new(),
        more: String::new(),
        has_more: false,
    };
    let upload = match read_upload(req).await {
        Ok(u) => u,
        Err(message) => {
            out.error = Some(sentence(&message));
            return render_with_status(StatusCode::UNPROCESSABLE_ENTITY, &out);
        }
    };
    out.file_name = upload.file_name.clone();
    let format = match upload.input_format(&view.spec) {
        Ok(f) => f,
        Err(message) => {
            out.error = Some(sentence(&message));
            return render_with_status(StatusCode::UNPROCESSABLE_ENTITY, &out);
        }
    };
    let results = match upload_path(&state, "-preview.ndjson") {
        Ok(p) => p,
        Err(e) => return app_error_page(out.page, &e),
    };
    // The import's own settings and ledger: the preview says what a run would do.
    let spec = ImportSpec {
        format: Some(format),
        results_format: ResultsFormat::Ndjson,
        ledger: Some(view.ledger.clone()),
        input: None,
        ..view.spec.clone()
    };
    let request = ImportRequest {
        connection: view.connection_id.to_string(),
        spec,
        source: ImportSource::Bytes {
            name: upload.file_name,
            data: upload.data,
        },
        results: RunOutput::File(results.clone()),
        dry_run: true,
        trigger: RunTrigger::Manual,
        // The server reads no files a request names.
        attachment_dir: None,
    };
    let done = state
        .app()
        .run_adhoc_import(request, &NoImportProgress)
        .await;
    let read = match &done {
        Ok(_) => read_preview(&results).await,
        Err(_) => Ok((Vec::new(), 0)),
    };
    if let Err(e) = tokio::fs::remove_file(&results).await
        && e.kind() != std::io::ErrorKind::NotFound
    {
        tracing::warn!(path = %results.display(), error = %e, "a preview's results were not removed");
    }
    let run = match done.and_then(|run| read.map(|r| (run, r))) {
        Ok(x) => x,
        Err(e) => {
            out.error = Some(user_message(&e));
            return render_with_status(app_status(&e), &out);
        }
    };
    let (run, (rows, more)) = run;
    let s = &run.stats;
    out.read = thousands(s.read);
    out.would_create = thousands(s.would_create);
    out.would_update = thousands(s.would_update);
    out.skipped = thousands(s.skipped);
    out.failed = thousands(s.failed);
    out.rows = rows;
    out.has_more = more > 0;
    out.more = thousands(more);
    render(&out)
}

async fn run(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
    req: Request,
) -> Response {
    let page = Page::new(&user, Flash::default());
    let view = match state.app().get_import(&id).await {
        Ok(view) => view,
        Err(e) => return app_error_page(page, &e),
    };
    let back = format!("/imports/{}", view.id);
    let not_run = |message: &str| {
        redirect_with_notice(
            &state,
            &back,
            &format!("The import did not run: {}", sentence(message)),
        )
    };
    let upload = match read_upload(req).await {
        Ok(u) => u,
        Err(message) => return not_run(&message),
    };
    let format = match upload.input_format(&view.spec) {
        Ok(f) => f,
        Err(message) => return not_run(&message),
    };
    // The file's extension says its format to the run (the import's own format, when it has
    // one, is the same: checked above).
    let path = match upload_path(&state, &format!(".{}", format.as_str())) {
        Ok(p) => p,
        Err(e) => return not_run(&user_message(&e)),
    };
    if let Err(e) = tokio::fs::write(&path, &upload.data).await {
        return not_run(&format!("the upload could not be stored: {e}"));
    }
    // Its own task: the run goes on (and the file is removed after it) when the browser
    // leaves.
    let app = state.app().clone();
    let import = view.id.to_string();
    let task = tokio::spawn(async move {
        let result = app
            .run_import(
                &import,
                Some(path.clone()),
                RunOutput::Store,
                RunTrigger::Manual,
                &NoImportProgress,
            )
            .await;
        if let Err(e) = tokio::fs::remove_file(&path).await {
            tracing::warn!(path = %path.display(), error = %e, "an uploaded file was not removed");
        }
        result
    });
    match task.await {
        Ok(Ok(run)) => {
            let to = run
                .id
                .map_or_else(|| back.clone(), |id| format!("/import-runs/{id}"));
            redirect_with_notice(
                &state,
                &to,
                &format!("The import ran: {}.", counts_text(&run.stats)),
            )
        }
        Ok(Err(AppError::ImportFailed {
            run: Some(run),
            message,
            ..
        })) => redirect_with_notice(
            &state,
            &format!("/import-runs/{run}"),
            &format!("The import run failed: {message}"),
        ),
        Ok(Err(e)) => not_run(&user_message(&e)),
        Err(e) => {
            tracing::error!(error = %e, "an import run's task failed");
            not_run("the run stopped unexpectedly; the server log has the details")
        }
    }
}

// ---------------------------------------------------------------------------------------------
// A run's page and its results

#[derive(Template)]
#[template(path = "imports/run.html")]
struct RunPage {
    page: Page,
    id: String,
    short_id: String,
    import_id: Option<String>,
    import_name: String,
    connection: String,
    trigger: &'static str,
    started: String,
    finished: Option<String>,
    state: &'static str,
    badge: &'static str,
    error: Option<String>,
    read: String,
    created: String,
    updated: String,
    skipped: String,
    failed: String,
    requests: String,
    waits: String,
    resumed: u32,
    has_results: bool,
}

async fn run_page(
    State(state): State<AppState>,
    user: CurrentUser,
    flash: Flash,
    Path(id): Path<String>,
) -> Response {
    let page = Page::new(&user, flash);
    let run = match state.app().get_import_run(&id).await {
        Ok(run) => run,
        Err(e) => return app_error_page(page, &e),
    };
    let import_name = match run.import_id {
        Some(i) => state
            .app()
            .get_import(&i.to_string())
            .await
            .map_or_else(|_| "a deleted import".to_owned(), |v| v.name),
        None => "an ad hoc import".to_owned(),
    };
    let id = run.id.map(|i| i.to_string()).unwrap_or_default();
    let (label, badge) = super::exports::run_badge(run.state.as_str());
    let s = &run.stats;
    render(&RunPage {
        page,
        short_id: id.chars().take(8).collect(),
        import_id: run.import_id.map(|i| i.to_string()),
        import_name,
        connection: run
            .connection_name
            .clone()
            .unwrap_or_else(|| "a deleted connection".to_owned()),
        trigger: trigger_label(run.trigger),
        started: format_time(run.started_at),
        finished: run.finished_at.map(format_time),
        state: label,
        badge,
        error: run.error.clone(),
        read: thousands(s.read),
        created: thousands(s.created),
        updated: thousands(s.updated),
        skipped: thousands(s.skipped),
        failed: thousands(s.failed),
        requests: thousands(s.bulk_requests),
        waits: thousands(s.rate_limit_waits),
        resumed: run.resumed,
        has_results: run.results_bytes > 0,
        id,
    })
}

/// The results of a run: NDJSON or CSV, as the import writes them.
async fn download(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> Response {
    let page = || Page::new(&user, Flash::default());
    let run = match state.app().get_import_run(&id).await {
        Ok(run) => run,
        Err(e) => return app_error_page(page(), &e),
    };
    let import = match run.import_id {
        Some(i) => state.app().get_import(&i.to_string()).await.ok(),
        None => None,
    };
    let format = import
        .as_ref()
        .map_or(ResultsFormat::Ndjson, |v| v.spec.results_format);
    let stream = match state.app().run_output(&id).await {
        Ok(s) => s,
        Err(e) => return app_error_page(page(), &e),
    };
    let (content_type, ext) = match format {
        ResultsFormat::Ndjson => ("application/x-ndjson", "ndjson"),
        ResultsFormat::Csv => ("text/csv; charset=utf-8", "csv"),
    };
    let name = crate::api::exports::download_name(
        &format!(
            "{}-results",
            import.as_ref().map_or("import", |v| v.name.as_str())
        ),
        run.started_at,
        ext,
    );
    let mut res = Body::from_stream(stream).into_response();
    let headers = res.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, v);
    }
    res
}

// ---------------------------------------------------------------------------------------------
// Deleting

#[derive(Template)]
#[template(path = "imports/delete.html")]
struct ConfirmDeletePage {
    page: Page,
    id: String,
    name: String,
}

async fn confirm_delete(
    State(state): State<AppState>,
    user: CurrentUser,
    flash: Flash,
    Path(id): Path<String>,
) -> Response {
    let page = Page::new(&user, flash);
    match state.app().get_import(&id).await {
        Ok(view) => render(&ConfirmDeletePage {
            page,
            id: view.id.to_string(),
            name: view.name,
        }),
        Err(e) => app_error_page(page, &e),
    }
}

async fn delete(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> Response {
    let notice = match state.app().delete_import(&id, &user.actor()).await {
        Ok(()) => "The import was deleted, with its runs and their results.".to_owned(),
        Err(e) => format!("The import was not deleted: {}", user_message(&e)),
    };
    redirect_with_notice(&state, "/imports", &notice)
}

#[cfg(test)]
mod tests {
    use pretty_assertions::assert_eq;

    use super::*;

    fn row(field: &str, kind: &str, value: &str) -> RowValues {
        RowValues {
            field: field.to_owned(),
            kind: kind.to_owned(),
            value: value.to_owned(),
            ..RowValues::default()
        }
    }

    fn full() -> MappingValues {
        MappingValues {
            operation: "upsert".to_owned(),
            project: "DEMO".to_owned(),
            project_from: "const".to_owned(),
            issue_type: "type".to_owned(),
            issue_type_from: "source".to_owned(),
            key: "jira_key".to_owned(),
            ext_source: "id".to_owned(),
            ext_target: "label_prefix".to_owned(),
            ext_value: "ticket-".to_owned(),
            ignore_existing: true,
            ignore_missing: false,
            rows: vec![
                row("summary", "source", "title"),
                RowValues {
                    format: "markdown".to_owned(),
                    ..row("description", "source", "notes")
                },
                row("Story Points", "source", "points"),
                RowValues {
                    default: "Platform".to_owned(),
                    ..row("Team", "const", "Payments \"EU\" \\ ü")
                },
                RowValues {
                    split: ";".to_owned(),
                    ..row("labels", "source", "tags")
                },
                RowValues {
                    time_zone: "Europe/Berlin".to_owned(),
                    ..row("duedate", "source", "due")
                },
                row("environment", "template", "{os} {{v}}"),
                RowValues::blank(),
            ],
        }
    }

    #[test]
    fn the_table_becomes_toml() {
        let toml = mapping_toml(&full());
        assert_eq!(
            toml,
            r#"operation = "upsert"
project = "DEMO"
issue_type = { source = "type" }
key = "jira_key"
ignore_existing = true

[external_id]
source = "id"
label_prefix = "ticket-"

[fields]
summary = "title"
description = { source = "notes", format = "markdown" }
"Story Points" = "points"
Team = { const = "Payments \"EU\" \\ ü", default = "Platform" }
labels = { source = "tags", split = ";" }
duedate = { source = "due", time_zone = "Europe/Berlin" }
environment = { template = "{os} {{v}}" }
"#
        );
    }

    #[test]
    fn the_table_and_the_toml_round_trip() {
        let values = full();
        let mapping = Mapping::from_toml(&mapping_toml(&values)).unwrap();
        let table = MappingValues::of_mapping(&mapping).unwrap();
        // The table comes back by field name; the blank row is gone.
        let mut expected = values.clone();
        expected.rows.retain(|r| !r.is_blank());
        expected.rows.sort_by(|a, b| a.field.cmp(&b.field));
        let mut got = table.clone();
        got.rows.sort_by(|a, b| a.field.cmp(&b.field));
        assert_eq!(got, expected);
        // And the TOML of the table parses to the same mapping.
        assert_eq!(Mapping::from_toml(&mapping_toml(&table)).unwrap(), mapping);
    }

    #[test]
    fn mappings_the_table_cannot_show_are_left_to_the_toml() {
        for toml in [
            "operation = \"create\"\nproject = \"D\"\nissue_type = \"Task\"\n[fields]\nTeam = { source = \"t\", map = { a = \"b\" } }\n",
            "operation = \"create\"\nproject = \"D\"\nissue_type = \"Task\"\n[fields]\n\"Story Points\" = { const = 3 }\n",
            "operation = \"create\"\nproject = { source = \"p\", default = \"D\" }\nissue_type = \"Task\"\n",
        ] {
            let m = Mapping::from_toml(toml).unwrap();
            assert_eq!(MappingValues::of_mapping(&m), None, "{toml}");
        }
    }

    #[test]
    fn every_problem_is_placed() {
        let mut v = FormValues {
            name: String::new(),
            ..FormValues::default()
        };
        v.mapping = MappingValues {
            operation: "update".to_owned(),
            ignore_existing: true,
            rows: vec![
                row("summary", "source", ""),
                row("", "source", "x"),
                row("environment", "template", "{os"),
                row("Summary", "source", "y"),
            ],
            ..MappingValues::default()
        };
        v.toml = mapping_toml(&v.mapping);
        v.search_lag = "soon".to_owned();
        let problems = draft_of(&v, None).unwrap_err();
        let mut fields: Vec<&str> = problems.iter().map(|p| p.field.as_str()).collect();
        fields.sort_unstable();
        assert_eq!(
            fields,
            [
                "connection",
                "ignore",
                "key",
                "name",
                "row-0",
                "row-1",
                "row-2",
                "row-3",
                "search_lag"
            ],
            "{problems:?}"
        );
        // Saving the TOML instead: the mapping's problems go beside it.
        v.use_toml = true;
        v.toml = "operation = \"create\"\n".to_owned();
        let problems = draft_of(&v, None).unwrap_err();
        assert!(problems.iter().any(|p| p.field == "toml"), "{problems:?}");
        assert!(problems.iter().all(|p| !p.field.starts_with("row-")));
    }

    #[test]
    fn the_apps_message_is_split_by_field() {
        let v = FormValues::default();
        let problems = problems_of_message(
            "the import needs a name; the ledger name must have 1 to 100 characters",
            &v,
        );
        let fields: Vec<&str> = problems.iter().map(|p| p.field.as_str()).collect();
        assert_eq!(fields, ["name", "ledger"]);
        assert!(problems_of_message("something else", &v).is_empty());
    }

    #[test]
    fn toml_keys_and_strings() {
        assert_eq!(toml_key("summary"), "summary");
        assert_eq!(toml_key("customfield_10010"), "customfield_10010");
        assert_eq!(toml_key("Story Points"), "\"Story Points\"");
        assert_eq!(toml_string("a\u{7f}\n"), "\"a\\u007F\\n\"");
    }
}
