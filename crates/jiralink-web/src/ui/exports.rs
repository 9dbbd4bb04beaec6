//! The export pages: the Exports list, the definition form, an export's page (its
//! definition, "Run now" and its history as a chart and a table), and a run's page with live
//! progress, cancel and the output download.
//!
//! "Run now" makes the definition's job due at once; a worker (on this server or another one
//! sharing the database) runs it. So the export page, after "Run now", watches its latest run
//! (`/exports/{id}/status`, a small JSON the page's script polls) and reloads when a run
//! starts or ends; the run page polls `/runs/{id}/progress` while the run runs. Without
//! JavaScript both pages refresh themselves (`<noscript>` meta refresh).
//!
//! The form drops what the chosen resource, export type and schedule do not use (as the
//! connection form drops hidden fields), so a value the user can no longer see neither takes
//! effect nor fails validation. A failed save shows each problem beside its field and keeps
//! everything typed.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum_extra::extract::Form;
use jiralink_app::{
    AppError, ExportDraft, ExportView, RunListFilter, RunState, RunView, Schedule, format_time,
};
use jiralink_sync::spec::ISSUE_EXPANDS;
use jiralink_sync::{AdfMode, ExportKind, ExportSpec, Format, Resource};
use serde::{Deserialize, Serialize};

use super::chart::{ChartRun, HistoryChart, duration_text, thousands};
use super::form::sentence;
use super::{
    Flash, Page, RouteTable, app_error_page, redirect_with_notice, render, render_with_status,
    run_requested, user_message,
};
use crate::AppState;
use crate::error::app_status;
use crate::session::CurrentUser;

pub(crate) fn table() -> RouteTable {
    vec![
        (Method::GET, "/exports", get(list)),
        (Method::POST, "/exports", post(create)),
        (Method::GET, "/exports/new", get(new_page)),
        (Method::GET, "/exports/{id}", get(show)),
        (Method::POST, "/exports/{id}", post(update)),
        (Method::GET, "/exports/{id}/edit", get(edit_page)),
        (Method::GET, "/exports/{id}/status", get(status)),
        (Method::POST, "/exports/{id}/run", post(run_now)),
        (Method::GET, "/exports/{id}/delete", get(confirm_delete)),
        (Method::POST, "/exports/{id}/delete", post(delete)),
        (Method::GET, "/runs", get(runs_page)),
        (Method::GET, "/runs/{id}", get(run_page)),
        (Method::GET, "/runs/{id}/progress", get(progress)),
        (Method::POST, "/runs/{id}/cancel", post(cancel)),
        (Method::GET, "/runs/{id}/output", get(download)),
    ]
}

super::page_deref!(
    ListPage,
    FormPage,
    ShowPage,
    RunPage,
    RunsPage,
    ConfirmDeletePage
);

/// How many runs an export's page lists (the chart shows the newest of them).
const HISTORY_RUNS: u32 = 50;

// ---------------------------------------------------------------------------------------------
// Labels shared by the pages

/// The label and badge class of a run state.
pub(crate) fn run_badge(state: &str) -> (&'static str, &'static str) {
    match state {
        "running" => ("Running", "badge-warning"),
        "succeeded" => ("Succeeded", "badge-online"),
        "failed" => ("Failed", "badge-offline"),
        "cancelled" => ("Cancelled", "badge-neutral"),
        "skipped" => ("Skipped", "badge-neutral"),
        _ => ("Unknown", "badge-neutral"),
    }
}

fn trigger_label(trigger: &str) -> &'static str {
    match trigger {
        "manual" => "Run now",
        "schedule" => "Schedule",
        "cli" => "CLI",
        "api" => "API",
        _ => "Other",
    }
}

fn kind_label(kind: &ExportKind) -> String {
    match kind {
        ExportKind::All => "All".to_owned(),
        ExportKind::Delta { start: None } => "Delta".to_owned(),
        ExportKind::Delta { start: Some(t) } => {
            format!("Delta, first run from {}", format_time(*t))
        }
        ExportKind::Test { limit } => {
            format!("Test, first {} records", thousands(u64::from(*limit)))
        }
    }
}

fn format_label(format: Format) -> &'static str {
    match format {
        Format::Ndjson => "NDJSON (one record per line)",
        Format::JsonArray => "JSON array",
        Format::Csv => "CSV (flattened fields)",
    }
}

fn adf_label(adf: AdfMode) -> &'static str {
    match adf {
        AdfMode::Raw => "As Jira sends them (ADF JSON)",
        AdfMode::Text => "Plain text",
        AdfMode::Markdown => "Markdown",
    }
}

fn schedule_label(schedule: Option<&Schedule>, enabled: bool) -> String {
    match schedule {
        None => "Only when run by hand".to_owned(),
        Some(s) if enabled => sentence(&s.describe()),
        Some(s) => format!("{} (disabled)", sentence(&s.describe())),
    }
}

/// Bytes as people read them.
fn size_text(bytes: u64) -> String {
    const KIB: u64 = 1024;
    match bytes {
        0..KIB => format!("{bytes} B"),
        KIB..1_048_576 => format!("{:.1} KiB", bytes as f64 / KIB as f64),
        1_048_576..1_073_741_824 => format!("{:.1} MiB", bytes as f64 / 1_048_576.0),
        _ => format!("{:.2} GiB", bytes as f64 / 1_073_741_824.0),
    }
}

/// The options of a spec in words, for the export's page.
fn options_text(spec: &ExportSpec) -> String {
    let mut parts = Vec::new();
    if !spec.fields.is_empty() {
        parts.push(format!("fields {}", spec.fields.join(", ")));
    }
    if !spec.expand.is_empty() {
        parts.push(format!("expand {}", spec.expand.join(", ")));
    }
    for (on, text) in [
        (spec.full_changelog, "complete changelog"),
        (spec.comments, "all comments"),
        (spec.worklogs, "all worklogs"),
        (spec.deletions, "deleted issues reported"),
    ] {
        if on {
            parts.push(text.to_owned());
        }
    }
    if spec.adf != AdfMode::Raw {
        parts.push(format!(
            "rich text as {}",
            adf_label(spec.adf).to_lowercase()
        ));
    }
    if let Some(desk) = &spec.service_desk {
        parts.push(format!("service desk {desk}"));
    }
    if let Some(s) = spec.overlap_secs {
        parts.push(format!("overlap {s} s"));
    }
    if let Some(s) = spec.lag_secs {
        parts.push(format!("index lag {s} s"));
    }
    sentence(&parts.join("; "))
}

/// A run as the lists show it.
struct RunRow {
    id: String,
    state_key: String,
    state: &'static str,
    badge: &'static str,
    reason: Option<String>,
    started: String,
    trigger: &'static str,
    records: String,
    duration: String,
    size: String,
    output_available: bool,
}

impl RunRow {
    fn of(run: &RunView) -> Self {
        let state_key = run.state.as_str().to_owned();
        let (state, badge) = run_badge(&state_key);
        Self {
            id: run.id.to_string(),
            state,
            badge,
            reason: run.reason.clone().or_else(|| run.error.clone()),
            started: format_time(run.started_at),
            trigger: trigger_label(run.trigger.as_str()),
            records: thousands(run.stats.total_records()),
            duration: run
                .duration_ms
                .map_or_else(|| "–".to_owned(), duration_text),
            size: size_text(run.output_bytes),
            output_available: run.output_available,
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
}

struct Row {
    id: String,
    name: String,
    connection: String,
    connection_offline: bool,
    resource: &'static str,
    last_run: Option<LastRun>,
    next_run: Option<String>,
    schedule: String,
    state: &'static str,
    state_badge: &'static str,
}

/// Whether the export's last run is running now.
fn last_run_running(view: &ExportView) -> bool {
    view.last_run
        .as_ref()
        .is_some_and(|r| r.state == RunState::Running)
}

/// The definition's state: running, or whether its schedule runs it.
fn export_state(view: &ExportView) -> (&'static str, &'static str) {
    if last_run_running(view) {
        ("Running", "badge-warning")
    } else if view.schedule.is_none() {
        ("Manual", "badge-neutral")
    } else if view.enabled {
        ("Scheduled", "badge-online")
    } else {
        ("Disabled", "badge-neutral")
    }
}

impl Row {
    fn of(view: &ExportView) -> Self {
        let (state, state_badge) = export_state(view);
        Self {
            id: view.id.to_string(),
            name: view.name.clone(),
            connection: view.connection_name.clone(),
            connection_offline: view.connection_offline,
            resource: view.spec.resource.label(),
            last_run: view.last_run.as_ref().map(|r| {
                let (state, badge) = run_badge(r.state.as_str());
                LastRun {
                    id: r.id.to_string(),
                    state,
                    badge,
                    started: format_time(r.started_at),
                }
            }),
            next_run: view.next_run_at.map(format_time),
            schedule: if view.schedule.is_some() {
                "Disabled".to_owned()
            } else {
                "By hand".to_owned()
            },
            state,
            state_badge,
        }
    }
}

#[derive(Template)]
#[template(path = "exports/list.html")]
struct ListPage {
    page: Page,
    rows: Vec<Row>,
}

async fn list(State(state): State<AppState>, user: CurrentUser, flash: Flash) -> Response {
    let page = Page::new(&user, flash);
    match state.app().list_exports().await {
        Ok(views) => render(&ListPage {
            page,
            rows: views.iter().map(Row::of).collect(),
        }),
        Err(e) => app_error_page(page, &e),
    }
}

// ---------------------------------------------------------------------------------------------
// The form

/// The definition form as posted. Check boxes are present when ticked.
#[derive(Debug, Deserialize, Default)]
#[serde(default)]
struct ExportForm {
    name: String,
    connection: String,
    resource: String,
    jql: String,
    fields: String,
    expand: Vec<String>,
    full_changelog: Option<String>,
    comments: Option<String>,
    worklogs: Option<String>,
    deletions: Option<String>,
    service_desk: String,
    kind: String,
    start: String,
    limit: String,
    format: String,
    adf: String,
    overlap_secs: String,
    lag_secs: String,
    schedule: String,
    cron: String,
    every_minutes: String,
    time_zone: String,
    enabled: Option<String>,
    /// Editing: the version of the export the form was filled from.
    version: Option<u64>,
}

/// What the form shows: as typed, or as saved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FormValues {
    name: String,
    connection: String,
    resource: String,
    jql: String,
    fields: String,
    expand: Vec<String>,
    full_changelog: bool,
    comments: bool,
    worklogs: bool,
    deletions: bool,
    service_desk: String,
    kind: String,
    start: String,
    limit: String,
    format: String,
    adf: String,
    overlap_secs: String,
    lag_secs: String,
    schedule: String,
    cron: String,
    every_minutes: String,
    time_zone: String,
    enabled: bool,
    version: Option<u64>,
}

impl Default for FormValues {
    fn default() -> Self {
        Self {
            name: String::new(),
            connection: String::new(),
            resource: Resource::Issues.as_str().to_owned(),
            jql: String::new(),
            fields: String::new(),
            expand: Vec::new(),
            full_changelog: false,
            comments: false,
            worklogs: false,
            deletions: false,
            service_desk: String::new(),
            kind: "all".to_owned(),
            start: String::new(),
            limit: "100".to_owned(),
            format: Format::Ndjson.as_str().to_owned(),
            adf: "raw".to_owned(),
            overlap_secs: String::new(),
            lag_secs: String::new(),
            schedule: "none".to_owned(),
            cron: String::new(),
            every_minutes: "60".to_owned(),
            time_zone: "UTC".to_owned(),
            enabled: true,
            version: None,
        }
    }
}

fn adf_value(adf: AdfMode) -> &'static str {
    match adf {
        AdfMode::Raw => "raw",
        AdfMode::Text => "text",
        AdfMode::Markdown => "markdown",
    }
}

/// RFC 3339 in UTC, as the start field shows a saved start.
fn rfc3339(t: time::OffsetDateTime) -> String {
    t.to_offset(time::UtcOffset::UTC)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

impl FormValues {
    fn of_view(view: &ExportView) -> Self {
        let spec = &view.spec;
        let mut values = Self {
            name: view.name.clone(),
            connection: view.connection_id.to_string(),
            resource: spec.resource.as_str().to_owned(),
            jql: spec.jql.clone().unwrap_or_default(),
            fields: spec.fields.join(", "),
            expand: spec.expand.clone(),
            full_changelog: spec.full_changelog,
            comments: spec.comments,
            worklogs: spec.worklogs,
            deletions: spec.deletions,
            service_desk: spec.service_desk.clone().unwrap_or_default(),
            format: spec.format.as_str().to_owned(),
            adf: adf_value(spec.adf).to_owned(),
            overlap_secs: spec.overlap_secs.map(|s| s.to_string()).unwrap_or_default(),
            lag_secs: spec.lag_secs.map(|s| s.to_string()).unwrap_or_default(),
            enabled: view.enabled,
            version: Some(view.version),
            ..Self::default()
        };
        match spec.kind {
            ExportKind::All => values.kind = "all".to_owned(),
            ExportKind::Delta { start } => {
                values.kind = "delta".to_owned();
                values.start = start.map(rfc3339).unwrap_or_default();
            }
            ExportKind::Test { limit } => {
                values.kind = "test".to_owned();
                values.limit = limit.to_string();
            }
        }
        match &view.schedule {
            None => values.schedule = "none".to_owned(),
            Some(Schedule::Cron { expr, time_zone }) => {
                values.schedule = "cron".to_owned();
                values.cron = expr.clone();
                values.time_zone = time_zone.clone();
            }
            Some(Schedule::Every { minutes, time_zone }) => {
                values.schedule = "every".to_owned();
                values.every_minutes = minutes.to_string();
                values.time_zone = time_zone.clone();
            }
        }
        values
    }
}

/// One problem next to its field.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Problem {
    pub(crate) field: &'static str,
    pub(crate) label: &'static str,
    #[serde(skip)]
    pub(crate) anchor: &'static str,
    pub(crate) message: String,
}

/// The form's fields: key (as in `data-field` and problems), label, and the control's id.
const FIELDS: &[(&str, &str, &str)] = &[
    ("name", "Name", "name"),
    ("connection", "Connection", "connection"),
    ("resource", "Resource", "resource"),
    ("jql", "JQL", "jql"),
    ("fields", "Fields", "fields"),
    ("expand", "Expand", "expand-renderedFields"),
    ("deletions", "Report deleted issues", "deletions"),
    ("service_desk", "Service desk", "service-desk"),
    ("kind", "Export type", "kind-all"),
    ("start", "Start", "start"),
    ("limit", "Records (test)", "limit"),
    ("format", "Format", "format"),
    ("adf", "Rich text fields", "adf"),
    ("overlap_secs", "Overlap", "overlap-secs"),
    ("lag_secs", "Index lag", "lag-secs"),
    ("schedule", "Schedule", "schedule-none"),
    ("every_minutes", "Every (minutes)", "every-minutes"),
    ("cron", "Cron expression", "cron"),
    ("time_zone", "Time zone", "time-zone"),
];

fn problem(field: &str, message: impl Into<String>) -> Problem {
    let (field, label, anchor) = FIELDS
        .iter()
        .copied()
        .find(|(key, _, _)| *key == field)
        .unwrap_or(("name", "Name", "name"));
    Problem {
        field,
        label,
        anchor,
        message: message.into(),
    }
}

/// Which field a message about the definition is about, by what it names; `None` for a
/// message about the whole definition (shown at the top only).
fn field_of_message(message: &str) -> Option<&'static str> {
    let m = message.to_lowercase();
    let rules: &[(&[&str], &str)] = &[
        (&["time zone"], "time_zone"),
        (&["the cron expression", "cron expression is"], "cron"),
        (&["every n minutes", "minutes"], "every_minutes"),
        (&["order by", "jql"], "jql"),
        (&["expansion", "expand option"], "expand"),
        (&["field name", "fields option"], "fields"),
        (&["test export"], "limit"),
        (&["deletions"], "deletions"),
        (&["service desk"], "service_desk"),
        (&["overlap"], "overlap_secs"),
        (&["lag"], "lag_secs"),
        (&["delta"], "kind"),
        (&["connection"], "connection"),
        (&["needs a name", "the name", "that name"], "name"),
    ];
    rules
        .iter()
        .find(|(needles, _)| needles.iter().any(|n| m.contains(n)))
        .map(|(_, field)| *field)
}

/// Parses a number field; a blank one is `None`.
fn number<T: std::str::FromStr>(
    text: &str,
    field: &'static str,
    what: &str,
    problems: &mut Vec<Problem>,
) -> Option<T> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    match text.parse() {
        Ok(n) => Some(n),
        Err(_) => {
            problems.push(problem(field, format!("{what} is a whole number")));
            None
        }
    }
}

/// A start date or time: RFC 3339, `YYYY-MM-DDTHH:MM[:SS]` (UTC) or `YYYY-MM-DD` (midnight UTC).
fn parse_start(text: &str) -> Option<time::OffsetDateTime> {
    use time::format_description::well_known::Rfc3339;
    use time::macros::format_description;
    let text = text.trim();
    if let Ok(t) = time::OffsetDateTime::parse(text, &Rfc3339) {
        return Some(t);
    }
    let text = text.replace(' ', "T");
    for f in [
        format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]"),
        format_description!("[year]-[month]-[day]T[hour]:[minute]"),
    ] {
        if let Ok(t) = time::PrimitiveDateTime::parse(&text, f) {
            return Some(t.assume_utc());
        }
    }
    time::Date::parse(&text, format_description!("[year]-[month]-[day]"))
        .ok()
        .map(|d| d.midnight().assume_utc())
}

impl ExportForm {
    /// The values to show again and, when everything could be read, the draft. Options the
    /// chosen resource, export type or schedule do not use are dropped (see the module docs).
    fn into_draft(self) -> (FormValues, Result<ExportDraft, Vec<Problem>>) {
        let values = FormValues {
            name: self.name,
            connection: self.connection,
            resource: self.resource,
            jql: self.jql,
            fields: self.fields,
            expand: self.expand,
            full_changelog: self.full_changelog.is_some(),
            comments: self.comments.is_some(),
            worklogs: self.worklogs.is_some(),
            deletions: self.deletions.is_some(),
            service_desk: self.service_desk,
            kind: self.kind,
            start: self.start,
            limit: self.limit,
            format: self.format,
            adf: self.adf,
            overlap_secs: self.overlap_secs,
            lag_secs: self.lag_secs,
            schedule: self.schedule,
            cron: self.cron,
            every_minutes: self.every_minutes,
            time_zone: self.time_zone,
            enabled: self.enabled.is_some(),
            version: self.version,
        };
        let draft = draft_of(&values);
        (values, draft)
    }
}

fn draft_of(v: &FormValues) -> Result<ExportDraft, Vec<Problem>> {
    // The application checks these too; checked here as well so that they are reported
    // together with the problems found below instead of after them.
    let mut problems = Vec::new();
    if v.name.trim().is_empty() {
        problems.push(problem("name", "the export needs a name"));
    }
    if v.connection.trim().is_empty() {
        problems.push(problem(
            "connection",
            "choose the connection to export through",
        ));
    }
    let Some(resource) = Resource::parse(&v.resource) else {
        problems.push(problem("resource", "choose what to export"));
        return Err(problems);
    };
    let issues = resource == Resource::Issues;
    let takes_jql = resource.needs_jql() || resource == Resource::CustomerRequests;
    let takes_desk = matches!(
        resource,
        Resource::RequestTypes
            | Resource::CustomerRequests
            | Resource::JsmCustomers
            | Resource::JsmOrganizations
    );
    let mut spec = ExportSpec::new(resource);
    let text = |s: &str| Some(s.trim().to_owned()).filter(|s| !s.is_empty());
    if takes_jql {
        spec.jql = text(&v.jql);
    }
    if issues {
        spec.fields = v
            .fields
            .split([',', '\n'])
            .map(str::trim)
            .filter(|f| !f.is_empty())
            .map(str::to_owned)
            .collect();
        spec.expand = v
            .expand
            .iter()
            .map(|e| e.trim().to_owned())
            .filter(|e| !e.is_empty())
            .collect();
        spec.full_changelog = v.full_changelog;
        spec.comments = v.comments;
        spec.worklogs = v.worklogs;
    }
    if takes_desk {
        spec.service_desk = text(&v.service_desk);
    }
    spec.kind = match v.kind.as_str() {
        "delta" => {
            let start = if v.start.trim().is_empty() {
                None
            } else {
                let parsed = parse_start(&v.start);
                if parsed.is_none() {
                    problems.push(problem(
                        "start",
                        "write a date such as 2026-01-31, or a time such as \
                         2026-01-31T08:00:00Z (without an offset it is UTC)",
                    ));
                }
                parsed
            };
            ExportKind::Delta { start }
        }
        "test" => match number::<u32>(&v.limit, "limit", "the number of records", &mut problems) {
            Some(limit) => ExportKind::Test { limit },
            None => {
                if v.limit.trim().is_empty() {
                    problems.push(problem("limit", "say how many records the test reads"));
                }
                ExportKind::Test { limit: 0 }
            }
        },
        _ => ExportKind::All,
    };
    spec.deletions = issues && v.deletions && matches!(spec.kind, ExportKind::Delta { .. });
    spec.format = match v.format.as_str() {
        "json-array" => Format::JsonArray,
        "csv" => Format::Csv,
        _ => Format::Ndjson,
    };
    spec.adf = match v.adf.as_str() {
        "text" => AdfMode::Text,
        "markdown" => AdfMode::Markdown,
        _ => AdfMode::Raw,
    };
    spec.overlap_secs = number(
        &v.overlap_secs,
        "overlap_secs",
        "the overlap",
        &mut problems,
    );
    spec.lag_secs = number(&v.lag_secs, "lag_secs", "the index lag", &mut problems);
    let time_zone = text(&v.time_zone).unwrap_or_else(|| "UTC".to_owned());
    let schedule = match v.schedule.as_str() {
        "cron" => Some(Schedule::Cron {
            expr: v.cron.trim().to_owned(),
            time_zone,
        }),
        "every" => {
            let minutes = number::<u32>(
                &v.every_minutes,
                "every_minutes",
                "the period",
                &mut problems,
            );
            if minutes.is_none() && v.every_minutes.trim().is_empty() {
                problems.push(problem(
                    "every_minutes",
                    "say every how many minutes it runs",
                ));
            }
            minutes.map(|minutes| Schedule::Every { minutes, time_zone })
        }
        _ => None,
    };
    if v.schedule == "cron" && v.cron.trim().is_empty() {
        problems.push(problem(
            "cron",
            "write a cron expression, e.g. 30 2 * * * for 02:30 every day",
        ));
    }
    if let Err(e) = spec.validate() {
        let message = match e {
            jiralink_sync::SyncError::InvalidSpec(m) => m,
            other => other.to_string(),
        };
        let field = field_of_message(&message).unwrap_or("resource");
        problems.push(problem(field, message));
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(ExportDraft {
        name: v.name.trim().to_owned(),
        connection: v.connection.trim().to_owned(),
        spec,
        schedule,
        enabled: v.enabled,
    })
}

/// A choice in a select.
#[derive(Debug, Clone)]
struct Choice {
    value: &'static str,
    label: &'static str,
}

/// A resource in the select, with what the page's script needs to show the right fields.
#[derive(Debug, Clone)]
struct ResourceChoice {
    value: &'static str,
    label: &'static str,
    needs_jql: bool,
    supports_delta: bool,
}

/// A connection in the picker; offline ones read "<name> – Offline", as integrator.io's
/// pickers show them.
#[derive(Debug, Clone)]
struct ConnectionChoice {
    id: String,
    name: String,
    offline: bool,
}

/// The export being edited.
#[derive(Debug, Clone)]
struct Editing {
    id: String,
    name: String,
}

#[derive(Template)]
#[template(path = "exports/form.html")]
struct FormPage {
    page: Page,
    title: String,
    form_action: String,
    editing: Option<Editing>,
    values: FormValues,
    problems: Vec<Problem>,
    form_error: Option<String>,
    connections: Vec<ConnectionChoice>,
    resources: Vec<ResourceChoice>,
    expand_choices: Vec<Choice>,
    formats: Vec<Choice>,
    adf_modes: Vec<Choice>,
    time_zones: &'static [&'static str],
}

/// Suggestions for the time zone field (any IANA name is accepted).
const TIME_ZONES: &[&str] = &[
    "UTC",
    "Europe/London",
    "Europe/Berlin",
    "Europe/Paris",
    "America/New_York",
    "America/Chicago",
    "America/Los_Angeles",
    "America/Sao_Paulo",
    "Asia/Kolkata",
    "Asia/Tokyo",
    "Asia/Singapore",
    "Australia/Sydney",
];

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

    fn expanded(&self, value: &str) -> bool {
        self.values.expand.iter().any(|e| e == value)
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
        render_with_status(StatusCode::UNPROCESSABLE_ENTITY, &self)
    }

    /// The page again with what went wrong: problems beside their fields, anything else at
    /// the top.
    fn with_error(mut self, error: &AppError, what: &str) -> Response {
        let problems: Vec<Problem> = match error {
            AppError::ExportNameTaken { .. } => vec![problem("name", error.to_string())],
            AppError::ConnectionNotFound { .. } => {
                vec![problem("connection", "choose one of the connections")]
            }
            AppError::InvalidInput(message) => problems_of_message(message),
            _ => Vec::new(),
        };
        if problems.is_empty() {
            self.form_error = Some(format!("{what}: {}", user_message(error)));
            return render_with_status(app_status(error), &self);
        }
        self.with_problems(problems, what)
    }
}

/// The problems in the application's message about a definition, which joins them with
/// `; `: each part goes beside the field it names, a part naming none continues the one
/// before (messages such as "…not valid; write five fields…" have two parts). Nothing when a
/// part before any field names none: the message is then shown whole at the top.
fn problems_of_message(message: &str) -> Vec<Problem> {
    let mut problems: Vec<Problem> = Vec::new();
    for part in message.split("; ") {
        match (field_of_message(part), problems.last_mut()) {
            (Some(field), _) => problems.push(problem(field, part)),
            (None, Some(last)) => {
                last.message.push_str("; ");
                last.message.push_str(part);
            }
            (None, None) => return Vec::new(),
        }
    }
    problems
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
        None => ("New export".to_owned(), "/exports".to_owned()),
        Some(e) => (
            format!("Edit export: {}", e.name),
            format!("/exports/{}", e.id),
        ),
    };
    Ok(FormPage {
        page,
        title,
        form_action,
        editing,
        values,
        problems: Vec::new(),
        form_error: None,
        connections,
        resources: Resource::ALL
            .iter()
            .map(|r| ResourceChoice {
                value: r.as_str(),
                label: r.label(),
                needs_jql: r.needs_jql() || *r == Resource::CustomerRequests,
                supports_delta: r.supports_delta(),
            })
            .collect(),
        expand_choices: ISSUE_EXPANDS
            .iter()
            .take(4)
            .map(|&e| Choice {
                value: e,
                label: match e {
                    "renderedFields" => "Rendered fields (HTML)",
                    "names" => "Field names",
                    "schema" => "Field schemas",
                    "changelog" => "Changelog (first 100 entries)",
                    other => other,
                },
            })
            .collect(),
        formats: [Format::Ndjson, Format::JsonArray, Format::Csv]
            .into_iter()
            .map(|f| Choice {
                value: f.as_str(),
                label: format_label(f),
            })
            .collect(),
        adf_modes: [AdfMode::Raw, AdfMode::Text, AdfMode::Markdown]
            .into_iter()
            .map(|a| Choice {
                value: adf_value(a),
                label: adf_label(a),
            })
            .collect(),
        time_zones: TIME_ZONES,
    })
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
    let view = match state.app().get_export(&id).await {
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
    Form(form): Form<ExportForm>,
) -> Response {
    submit(&state, &user, None, form).await
}

async fn update(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
    Form(form): Form<ExportForm>,
) -> Response {
    match state.app().get_export(&id).await {
        Ok(view) => {
            let editing = Editing {
                id: view.id.to_string(),
                name: view.name,
            };
            submit(&state, &user, Some(editing), form).await
        }
        Err(e) => app_error_page(Page::new(&user, Flash::default()), &e),
    }
}

async fn submit(
    state: &AppState,
    user: &CurrentUser,
    editing: Option<Editing>,
    form: ExportForm,
) -> Response {
    let (values, draft) = form.into_draft();
    let version = values.version;
    let editing_id = editing.as_ref().map(|e| e.id.clone());
    let page = Page::new(user, Flash::default());
    let form_page = match form_page(state, page.clone(), editing, values).await {
        Ok(form) => form,
        Err(e) => return app_error_page(page, &e),
    };
    let what = "The export was not saved";
    let draft = match draft {
        Ok(draft) => draft,
        Err(problems) => return form_page.with_problems(problems, what),
    };
    let actor = user.actor();
    let saved = match (&editing_id, version) {
        (None, _) => state.app().create_export(draft, &actor).await,
        (Some(id), Some(version)) => state.app().update_export(id, draft, version, &actor).await,
        (Some(_), None) => Err(AppError::InvalidInput(
            "the form does not say which version of the export it was made from; load the \
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
                &format!("/exports/{}", view.id),
                &format!("The export {} was {verb}.", view.name),
            )
        }
        Err(e) => form_page.with_error(&e, what),
    }
}

// ---------------------------------------------------------------------------------------------
// An export's page

#[derive(Template)]
#[template(path = "exports/show.html")]
struct ShowPage {
    page: Page,
    id: String,
    name: String,
    connection: String,
    connection_id: String,
    connection_offline: bool,
    resource: &'static str,
    state: &'static str,
    state_badge: &'static str,
    kind: String,
    format: &'static str,
    schedule: String,
    scheduled: bool,
    next_run: Option<String>,
    jql: Option<String>,
    options: String,
    chart: Option<HistoryChart>,
    runs: Vec<RunRow>,
    /// Whether the page watches for its latest run to start or end.
    watch: bool,
    watch_run: String,
    watch_state: String,
    requested: bool,
}

/// Whether the export is due now or its latest run runs: the page then watches.
fn is_busy(view: &ExportView, now: time::OffsetDateTime) -> bool {
    last_run_running(view) || view.next_run_at.is_some_and(|next| next <= now)
}

async fn show(
    State(state): State<AppState>,
    user: CurrentUser,
    flash: Flash,
    Path(id): Path<String>,
) -> Response {
    let page = Page::new(&user, flash);
    let view = match state.app().get_export(&id).await {
        Ok(view) => view,
        Err(e) => return app_error_page(page, &e),
    };
    let runs = match state
        .app()
        .list_runs(RunListFilter {
            export: Some(view.id.to_string()),
            connection: None,
            limit: Some(HISTORY_RUNS),
        })
        .await
    {
        Ok(runs) => runs,
        Err(e) => return app_error_page(page, &e),
    };
    let chart_runs: Vec<ChartRun> = runs
        .iter()
        .filter(|r| r.state.as_str() != "skipped")
        .map(|r| ChartRun {
            href: format!("/runs/{}", r.id),
            label: short_time(r.started_at),
            records: r.stats.total_records(),
            duration_ms: r.duration_ms,
            state: r.state.as_str().to_owned(),
        })
        .collect();
    let (state_label, state_badge) = export_state(&view);
    let watch = is_busy(&view, state.app().now());
    // Due, and its last run is not the one running: the requested run has not started yet.
    let requested = watch && !last_run_running(&view);
    render(&ShowPage {
        page,
        id: view.id.to_string(),
        connection: view.connection_name.clone(),
        connection_id: view.connection_id.to_string(),
        connection_offline: view.connection_offline,
        resource: view.spec.resource.label(),
        state: state_label,
        state_badge,
        kind: kind_label(&view.spec.kind),
        format: format_label(view.spec.format),
        schedule: schedule_label(view.schedule.as_ref(), view.enabled),
        scheduled: view.schedule.is_some(),
        next_run: view.next_run_at.map(format_time),
        jql: view.spec.jql.clone(),
        options: options_text(&view.spec),
        chart: HistoryChart::of(&chart_runs),
        runs: runs.iter().map(RunRow::of).collect(),
        watch,
        watch_run: view
            .last_run
            .as_ref()
            .map(|r| r.id.to_string())
            .unwrap_or_default(),
        watch_state: view
            .last_run
            .as_ref()
            .map(|r| r.state.as_str().to_owned())
            .unwrap_or_default(),
        requested,
        name: view.name,
    })
}

/// `01-02 03:04`: short enough for the chart's axis, in UTC like every time on the pages.
fn short_time(t: time::OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:02}-{:02} {:02}:{:02}",
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute()
    )
}

/// What the export page's script polls: its latest run.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct StatusBody {
    last_run_id: Option<String>,
    last_run_state: Option<String>,
    next_run_at: Option<String>,
}

async fn status(
    State(state): State<AppState>,
    _user: CurrentUser,
    Path(id): Path<String>,
) -> Response {
    match state.app().get_export(&id).await {
        Ok(view) => axum::Json(StatusBody {
            last_run_id: view.last_run.as_ref().map(|r| r.id.to_string()),
            last_run_state: view.last_run.as_ref().map(|r| r.state.as_str().to_owned()),
            next_run_at: view.next_run_at.map(format_time),
        })
        .into_response(),
        Err(e) => json_error(&e),
    }
}

/// An error for the pages' scripts.
fn json_error(error: &AppError) -> Response {
    #[derive(Serialize)]
    struct Body {
        message: String,
    }
    (
        app_status(error),
        axum::Json(Body {
            message: user_message(error),
        }),
    )
        .into_response()
}

async fn run_now(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    let app = state.app();
    let requested = app.request_export_run(&id).await;
    let page = match &requested {
        Ok(()) => app
            .get_export(&id)
            .await
            .ok()
            .map(|v| format!("/exports/{}", v.id)),
        Err(_) => None,
    };
    run_requested(&state, requested, page.as_deref(), "/exports", "export")
}

#[derive(Template)]
#[template(path = "exports/delete.html")]
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
    match state.app().get_export(&id).await {
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
    let notice = match state.app().delete_export(&id, &user.actor()).await {
        Ok(()) => "The export was deleted, with its runs.".to_owned(),
        Err(e) => format!("The export was not deleted: {}", user_message(&e)),
    };
    redirect_with_notice(&state, "/exports", &notice)
}

// ---------------------------------------------------------------------------------------------
// Every run

/// How many runs the runs page lists.
const RUNS_PAGE_RUNS: u32 = 100;

/// A run of the runs page: of which export, through which connection.
struct RunsRow {
    row: RunRow,
    export_id: Option<String>,
    export: String,
    connection: String,
}

#[derive(Template)]
#[template(path = "exports/runs.html")]
struct RunsPage {
    page: Page,
    runs: Vec<RunsRow>,
}

async fn runs_page(State(state): State<AppState>, user: CurrentUser, flash: Flash) -> Response {
    let page = Page::new(&user, flash);
    let filter = RunListFilter {
        limit: Some(RUNS_PAGE_RUNS),
        ..RunListFilter::default()
    };
    match state.app().list_runs(filter).await {
        Ok(runs) => render(&RunsPage {
            page,
            runs: runs
                .iter()
                .map(|r| RunsRow {
                    row: RunRow::of(r),
                    export_id: r.export_id.map(|id| id.to_string()),
                    export: r
                        .export_name
                        .clone()
                        .unwrap_or_else(|| format!("Ad hoc: {}", r.resource.replace('-', " "))),
                    connection: r
                        .connection_name
                        .clone()
                        .unwrap_or_else(|| "a deleted connection".to_owned()),
                })
                .collect(),
        }),
        Err(e) => app_error_page(page, &e),
    }
}

// ---------------------------------------------------------------------------------------------
// A run's page

#[derive(Template)]
#[template(path = "exports/run.html")]
struct RunPage {
    page: Page,
    id: String,
    short_id: String,
    export_id: Option<String>,
    export_name: String,
    connection: String,
    trigger: &'static str,
    started: String,
    finished: Option<String>,
    running: bool,
    cancel_requested: bool,
    state_key: String,
    state: &'static str,
    badge: &'static str,
    reason: Option<String>,
    error: Option<String>,
    records: String,
    records_raw: u64,
    expected: Option<u64>,
    expected_text: Option<String>,
    pages: String,
    size: String,
    requests: String,
    retries: String,
    waits: String,
    duplicates: String,
    duration: String,
    resumed: u32,
    per_resource: Vec<(String, String)>,
    output_available: bool,
    output_note: &'static str,
    cursor_before: Option<String>,
    cursor_after: Option<String>,
}

/// The numbers of a run, as the page and its script show them.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Progress {
    state: String,
    records: String,
    records_raw: u64,
    expected: Option<String>,
    expected_raw: Option<u64>,
    pages: String,
    size: String,
    requests: String,
    retries: String,
    waits: String,
    duplicates: String,
    duration: String,
}

impl Progress {
    fn of(run: &RunView, now: time::OffsetDateTime) -> Self {
        let s = &run.stats;
        let elapsed = run
            .duration_ms
            .or_else(|| u64::try_from((now - run.started_at).whole_milliseconds()).ok());
        Self {
            state: run.state.as_str().to_owned(),
            records: thousands(s.total_records()),
            records_raw: s.total_records(),
            expected: s.expected.map(thousands),
            expected_raw: s.expected,
            pages: thousands(s.pages),
            size: size_text(run.output_bytes.max(s.bytes)),
            requests: thousands(s.requests),
            retries: thousands(s.retries),
            waits: if s.rate_limit_waits == 0 {
                "0".to_owned()
            } else {
                format!(
                    "{} ({})",
                    thousands(s.rate_limit_waits),
                    duration_text(s.rate_limit_wait_ms)
                )
            },
            duplicates: thousands(s.duplicates_skipped),
            duration: elapsed.map_or_else(|| "–".to_owned(), duration_text),
        }
    }
}

fn cursor_text(cursor: Option<&serde_json::Value>) -> Option<String> {
    cursor.map(|c| serde_json::to_string(c).unwrap_or_default())
}

async fn run_page(
    State(state): State<AppState>,
    user: CurrentUser,
    flash: Flash,
    Path(id): Path<String>,
) -> Response {
    let page = Page::new(&user, flash);
    let run = match state.app().get_run(&id).await {
        Ok(run) => run,
        Err(e) => return app_error_page(page, &e),
    };
    let p = Progress::of(&run, state.app().now());
    let state_key = run.state.as_str().to_owned();
    let (label, badge) = run_badge(&state_key);
    let running = state_key == "running";
    let id = run.id.to_string();
    render(&RunPage {
        page,
        short_id: id.chars().take(8).collect(),
        export_id: run.export_id.map(|e| e.to_string()),
        export_name: run
            .export_name
            .clone()
            .unwrap_or_else(|| "an ad hoc export".to_owned()),
        connection: run
            .connection_name
            .clone()
            .unwrap_or_else(|| "a deleted connection".to_owned()),
        trigger: trigger_label(run.trigger.as_str()),
        started: format_time(run.started_at),
        finished: run.finished_at.map(format_time),
        running,
        cancel_requested: run.cancel_requested,
        state: label,
        badge,
        reason: run.reason.clone(),
        error: run.error.clone(),
        records: p.records,
        records_raw: p.records_raw,
        expected: p.expected_raw,
        expected_text: p.expected,
        pages: p.pages,
        size: p.size,
        requests: p.requests,
        retries: p.retries,
        waits: p.waits,
        duplicates: p.duplicates,
        duration: p.duration,
        resumed: run.resumed,
        per_resource: run
            .stats
            .records
            .iter()
            .map(|(k, v)| (k.clone(), thousands(*v)))
            .collect(),
        output_available: run.output_available,
        output_note: if state_key == "skipped" {
            "The run was skipped, so it wrote no output."
        } else {
            "The output of this run is not kept for download (it has expired, or the run wrote none)."
        },
        cursor_before: cursor_text(run.cursor_before.as_ref()),
        cursor_after: cursor_text(run.cursor_after.as_ref()),
        state_key,
        id,
    })
}

async fn progress(
    State(state): State<AppState>,
    _user: CurrentUser,
    Path(id): Path<String>,
) -> Response {
    match state.app().get_run(&id).await {
        Ok(run) => axum::Json(Progress::of(&run, state.app().now())).into_response(),
        Err(e) => json_error(&e),
    }
}

async fn cancel(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    match state.app().cancel_run(&id).await {
        Ok(run) => redirect_with_notice(
            &state,
            &format!("/runs/{}", run.id),
            "Cancelling: the run stops after the page it is writing.",
        ),
        Err(e) => redirect_with_notice(
            &state,
            &format!("/runs/{id}"),
            &format!("The run was not cancelled: {}", user_message(&e)),
        ),
    }
}

async fn download(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> Response {
    match crate::api::exports::output_response(&state, &id).await {
        Ok(res) => res,
        Err(e) => app_error_page(Page::new(&user, Flash::default()), &e),
    }
}

#[cfg(test)]
mod tests {
    use pretty_assertions::assert_eq;

    use super::*;

    fn values() -> FormValues {
        FormValues {
            name: "Open bugs".to_owned(),
            connection: "Jira".to_owned(),
            ..FormValues::default()
        }
    }

    #[test]
    fn options_the_resource_does_not_use_are_dropped() {
        let mut v = values();
        v.resource = "projects".to_owned();
        v.jql = "project = X".to_owned();
        v.fields = "summary".to_owned();
        v.comments = true;
        v.service_desk = "1".to_owned();
        let draft = draft_of(&v).unwrap();
        assert_eq!(draft.spec, ExportSpec::new(Resource::Projects));
    }

    #[test]
    fn delta_start_and_test_limit_are_read() {
        let mut v = values();
        v.kind = "delta".to_owned();
        v.start = "2026-01-31".to_owned();
        v.deletions = true;
        let draft = draft_of(&v).unwrap();
        assert_eq!(
            draft.spec.kind,
            ExportKind::Delta {
                start: Some(time::macros::datetime!(2026-01-31 00:00 UTC))
            }
        );
        assert!(draft.spec.deletions);
        v.start = "2026-01-31T08:30".to_owned();
        assert_eq!(
            draft_of(&v).unwrap().spec.kind,
            ExportKind::Delta {
                start: Some(time::macros::datetime!(2026-01-31 08:30 UTC))
            }
        );
        v.start = "2026-01-31T08:30:00+02:00".to_owned();
        assert_eq!(
            draft_of(&v).unwrap().spec.kind,
            ExportKind::Delta {
                start: Some(time::macros::datetime!(2026-01-31 06:30 UTC))
            }
        );
        v.kind = "test".to_owned();
        v.limit = "25".to_owned();
        let draft = draft_of(&v).unwrap();
        assert_eq!(draft.spec.kind, ExportKind::Test { limit: 25 });
        // Deletions apply to delta exports only: dropped, not refused.
        assert!(!draft.spec.deletions);
    }

    #[test]
    fn problems_name_their_fields() {
        let mut v = values();
        v.kind = "delta".to_owned();
        v.start = "yesterday".to_owned();
        v.jql = "project = X ORDER BY key".to_owned();
        v.overlap_secs = "five".to_owned();
        v.schedule = "cron".to_owned();
        let problems = draft_of(&v).unwrap_err();
        let fields: Vec<&str> = problems.iter().map(|p| p.field).collect();
        assert_eq!(
            fields,
            ["start", "overlap_secs", "cron", "jql"],
            "{problems:?}"
        );
        let mut v = values();
        v.kind = "test".to_owned();
        v.limit = "0".to_owned();
        assert_eq!(draft_of(&v).unwrap_err()[0].field, "limit");
        let mut v = values();
        v.resource = "projects".to_owned();
        v.kind = "delta".to_owned();
        assert_eq!(draft_of(&v).unwrap_err()[0].field, "kind");
    }

    #[test]
    fn schedules_are_read_with_their_zone() {
        let mut v = values();
        v.schedule = "every".to_owned();
        v.every_minutes = "15".to_owned();
        v.time_zone = "Europe/Berlin".to_owned();
        assert_eq!(
            draft_of(&v).unwrap().schedule,
            Some(Schedule::Every {
                minutes: 15,
                time_zone: "Europe/Berlin".to_owned()
            })
        );
        v.schedule = "cron".to_owned();
        v.cron = "0 6 * * 1-5".to_owned();
        v.time_zone = String::new();
        assert_eq!(
            draft_of(&v).unwrap().schedule,
            Some(Schedule::Cron {
                expr: "0 6 * * 1-5".to_owned(),
                time_zone: "UTC".to_owned()
            })
        );
    }

    #[test]
    fn messages_find_their_fields() {
        for (message, field) in [
            (
                "the schedule's time zone is not a known IANA time zone name",
                Some("time_zone"),
            ),
            ("the cron expression is not valid (x)", Some("cron")),
            (
                "every N minutes takes N between 1 and 1440",
                Some("every_minutes"),
            ),
            ("the export needs a name", Some("name")),
            ("write one such as UTC, Europe/Paris", None),
            ("something else entirely", None),
        ] {
            assert_eq!(field_of_message(message), field, "{message}");
        }
    }

    #[test]
    fn the_apps_joined_message_is_split_by_field() {
        let problems = problems_of_message(
            "the export needs a name; the cron expression is not valid (bad); write five \
             fields: minute hour day-of-month month day-of-week, e.g. \"30 2 * * *\"",
        );
        let fields: Vec<&str> = problems.iter().map(|p| p.field).collect();
        assert_eq!(fields, ["name", "cron"]);
        assert!(problems[1].message.contains("write five"), "{problems:?}");
        assert!(problems_of_message("something else; entirely").is_empty());
    }

    #[test]
    fn sizes_read_well() {
        assert_eq!(size_text(12), "12 B");
        assert_eq!(size_text(2048), "2.0 KiB");
        assert_eq!(size_text(5 * 1_048_576), "5.0 MiB");
    }
}
