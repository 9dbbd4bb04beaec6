//! The connections list and each connection's audit and debug pages, with the list's
//! actions (test, authorize, delete) and the debugger's controls.
//!
//! Actions are form POSTs answered with a `303` back to a page and a notice saying what
//! happened, so reloading a page never repeats an action.

use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use jiralink_app::{
    AppError, ConnectionView, DEBUG_WINDOWS_MINUTES, DebugLog, TestOutcome, format_time,
};
use jiralink_domain::{AuditAction, AuditEntry, AuthType, ConnectionState, FieldChange};
use serde::Deserialize;

use super::{
    Flash, Page, RouteTable, app_error_page, error_page, redirect_with_notice, render, state_badge,
    user_message,
};
use crate::AppState;
use crate::session::CurrentUser;

pub(crate) fn table() -> RouteTable {
    vec![
        (Method::GET, "/connections", get(list)),
        (Method::POST, "/connections/{id}/test", post(test)),
        (Method::POST, "/connections/{id}/authorize", post(authorize)),
        (Method::GET, "/connections/{id}/delete", get(confirm_delete)),
        (Method::POST, "/connections/{id}/delete", post(delete)),
        (Method::GET, "/connections/{id}/audit", get(audit)),
        (Method::GET, "/connections/{id}/debug", get(debug)),
        (
            Method::POST,
            "/connections/{id}/debug/start",
            post(debug_start),
        ),
        (
            Method::POST,
            "/connections/{id}/debug/stop",
            post(debug_stop),
        ),
        (
            Method::POST,
            "/connections/{id}/debug/clear",
            post(debug_clear),
        ),
    ]
}

super::page_deref!(ListPage, ConfirmDeletePage, AuditPage, DebugPage);

/// What the "Used by" column shows for a connection no export or import uses.
const NOT_USED: &str = "Not used";

/// "Not used", or the exports and imports using the connection by name.
fn used_by(usage: &jiralink_app::ConnectionUsage) -> String {
    let names: Vec<String> = usage
        .exports
        .iter()
        .map(|u| format!("export {}", u.name))
        .chain(usage.imports.iter().map(|u| format!("import {}", u.name)))
        .collect();
    if names.is_empty() {
        NOT_USED.to_owned()
    } else {
        names.join(", ")
    }
}

struct Row {
    id: String,
    name: String,
    api_type: &'static str,
    auth_type: &'static str,
    is_oauth: bool,
    state: &'static str,
    badge: &'static str,
    reason: Option<String>,
    since: Option<String>,
    tested: String,
    used_by: String,
}

fn auth_label(view: &ConnectionView) -> &'static str {
    view.auth_type
        .parse::<AuthType>()
        .map_or(view.auth_type, AuthType::label)
}

impl Row {
    fn of(view: &ConnectionView, used_by: String) -> Self {
        let (state, badge) = state_badge(&view.state);
        let reason = match &view.state {
            ConnectionState::Offline { reason } => Some(reason.clone()),
            ConnectionState::NeedsAuthorization => {
                Some("Authorize it to let jiralink call Jira.".to_owned())
            }
            ConnectionState::Untested | ConnectionState::Online => None,
        };
        let since = match view.state {
            ConnectionState::Offline { .. } => view.state_changed_at.map(format_time),
            _ => None,
        };
        Self {
            id: view.id.clone(),
            name: view.name.clone(),
            api_type: view.api_type_label,
            auth_type: auth_label(view),
            is_oauth: view.auth_type == AuthType::OAuth2.id(),
            state,
            badge,
            reason,
            since,
            tested: view
                .last_tested_at
                .map_or_else(|| "Never".to_owned(), format_time),
            used_by,
        }
    }
}

#[derive(Template)]
#[template(path = "connections/list.html")]
struct ListPage {
    page: Page,
    rows: Vec<Row>,
}

async fn list(State(state): State<AppState>, user: CurrentUser, flash: Flash) -> Response {
    let page = Page::new(&user, flash);
    match state.app().list_connections().await {
        Ok(views) => {
            let ids: Vec<_> = views.iter().map(|v| v.connection.id).collect();
            let mut usage = match state.app().connections_usage(&ids).await {
                Ok(usage) => usage,
                Err(e) => return app_error_page(page, &e),
            };
            let mut rows: Vec<Row> = views
                .iter()
                .map(|view| {
                    let usage = usage.remove(&view.connection.id).unwrap_or_default();
                    Row::of(view, used_by(&usage))
                })
                .collect();
            rows.sort_by_key(|r| r.name.to_lowercase());
            render(&ListPage { page, rows })
        }
        Err(e) => app_error_page(page, &e),
    }
}

/// The notice after a test: passed or failed, and why.
fn test_notice(outcome: &TestOutcome) -> String {
    let verdict = if outcome.passed() { "passed" } else { "failed" };
    format!(
        "Test of \"{}\" {verdict}: {}.",
        outcome.connection,
        outcome.summary().trim_end_matches('.')
    )
}

async fn test(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    let notice = match state.app().test_connection(&id).await {
        Ok(outcome) => test_notice(&outcome),
        Err(e) => format!("The test did not run: {}", user_message(&e)),
    };
    redirect_with_notice(&state, "/connections", &notice)
}

async fn authorize(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    let app = state.app();
    match app.begin_authorization(&id).await {
        // The browser is sent to this URL, so it must be the configured authorization
        // server and nowhere else.
        Ok(start) if start.url.origin() == app.config().atlassian.auth_server.origin() => {
            Redirect::to(start.url.as_str()).into_response()
        }
        Ok(_) => {
            tracing::error!("the authorize URL does not point at the configured auth server");
            redirect_with_notice(
                &state,
                "/connections",
                "The authorization did not start: the authorize URL does not point at the \
                 configured Atlassian authorization server (atlassian.auth_server); ask the \
                 administrator to check the configuration.",
            )
        }
        Err(e) => redirect_with_notice(
            &state,
            "/connections",
            &format!("The authorization did not start: {}", user_message(&e)),
        ),
    }
}

#[derive(Template)]
#[template(path = "connections/delete.html")]
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
    match state.app().get_connection(&id).await {
        Ok(view) => render(&ConfirmDeletePage {
            page,
            id: view.id,
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
    let notice = match state.app().delete_connection(&id, &user.actor()).await {
        Ok(deleted) => format!(
            "Deleted the connection \"{}\".",
            deleted.settings.name.as_str()
        ),
        Err(e) => format!("The connection was not deleted: {}", user_message(&e)),
    };
    redirect_with_notice(&state, "/connections", &notice)
}

struct AuditRow {
    when: String,
    who: String,
    source: &'static str,
    action: &'static str,
    changes: Vec<ChangeRow>,
}

struct ChangeRow {
    field: String,
    text: String,
}

fn action_label(action: AuditAction) -> &'static str {
    match action {
        AuditAction::Create => "Created",
        AuditAction::Update => "Changed",
        AuditAction::Delete => "Deleted",
        AuditAction::Authorize => "Authorized",
        AuditAction::KeyRotate => "Master key rotated",
    }
}

/// One change in words. Secrets only ever say that they were entered.
fn change_text(action: AuditAction, change: &FieldChange) -> String {
    if change.secret {
        return if action == AuditAction::Create {
            "set".to_owned()
        } else {
            "re-entered".to_owned()
        };
    }
    match (&change.before, &change.after) {
        (None, Some(after)) => format!("set to {after}"),
        (Some(before), None) => format!("{before} removed"),
        (Some(before), Some(after)) => format!("{before} → {after}"),
        (None, None) => "cleared".to_owned(),
    }
}

impl AuditRow {
    fn of(entry: &AuditEntry) -> Self {
        Self {
            when: format_time(entry.at),
            who: entry.actor.clone(),
            source: entry.source.as_str(),
            action: action_label(entry.action),
            changes: entry
                .changes
                .iter()
                .map(|c| ChangeRow {
                    field: c.field.replace('_', " "),
                    text: change_text(entry.action, c),
                })
                .collect(),
        }
    }
}

#[derive(Template)]
#[template(path = "connections/audit.html")]
struct AuditPage {
    page: Page,
    name: String,
    /// Set while the connection exists (a deleted one keeps its audit log).
    id: Option<String>,
    rows: Vec<AuditRow>,
}

async fn audit(
    State(state): State<AppState>,
    user: CurrentUser,
    flash: Flash,
    Path(id): Path<String>,
) -> Response {
    let page = Page::new(&user, flash);
    let entries = match state.app().connection_audit(&id).await {
        Ok(entries) => entries,
        Err(e) => return app_error_page(page, &e),
    };
    let current = state.app().get_connection(&id).await.ok();
    let name = current.as_ref().map_or_else(
        || {
            entries
                .last()
                .map(|e| e.resource_name.clone())
                .unwrap_or_default()
        },
        |v| v.name.clone(),
    );
    // Newest first: the latest change is what people look for.
    let rows = entries.iter().rev().map(AuditRow::of).collect();
    render(&AuditPage {
        page,
        name,
        id: current.map(|v| v.id),
        rows,
    })
}

#[derive(Template)]
#[template(path = "connections/debug.html")]
struct DebugPage {
    page: Page,
    id: String,
    name: String,
    recording: bool,
    until: Option<String>,
    windows: &'static [u32],
    line_count: usize,
    log: String,
}

/// The log as text, one exchange line per request or response, headers and bodies indented.
/// The lines were masked before they were stored.
fn log_text(log: &DebugLog) -> String {
    let mut out = String::new();
    for line in &log.lines {
        let id: String = line.request_id.chars().take(8).collect();
        let time = format_time(line.at);
        if line.direction.as_str() == "request" {
            out.push_str(&format!("{time}  {id}  -> {} {}\n", line.method, line.url));
        } else {
            let status = line
                .status
                .map_or_else(|| "no response".to_owned(), |s| s.to_string());
            let ms = line.duration_ms.unwrap_or(0);
            out.push_str(&format!(
                "{time}  {id}  <- {status} ({ms} ms) {} {}\n",
                line.method, line.url
            ));
        }
        for (name, value) in &line.headers {
            out.push_str(&format!("    {name}: {value}\n"));
        }
        if let Some(body) = line.body.as_deref().filter(|b| !b.is_empty()) {
            out.push_str(&format!("    body: {body}\n"));
        }
    }
    out
}

async fn debug(
    State(state): State<AppState>,
    user: CurrentUser,
    flash: Flash,
    Path(id): Path<String>,
) -> Response {
    let page = Page::new(&user, flash);
    match state.app().debug_log(&id).await {
        Ok(log) => render(&DebugPage {
            page,
            line_count: log.lines.len(),
            log: log_text(&log),
            id: log.id,
            name: log.connection,
            recording: log.recording,
            until: log.debug_until.map(format_time),
            windows: &DEBUG_WINDOWS_MINUTES,
        }),
        Err(e) => app_error_page(page, &e),
    }
}

#[derive(Deserialize)]
struct StartForm {
    #[serde(default)]
    minutes: String,
}

/// Where to return after a debugger action: the connection's debug page, by its real id.
fn debug_path(view: &ConnectionView) -> String {
    format!("/connections/{}/debug", view.id)
}

/// After a failed action: back to the debug page when the connection exists, else the list.
fn debug_failure(state: &AppState, id: &str, what: &str, e: &AppError) -> Response {
    let to = match e {
        AppError::ConnectionNotFound { .. } => "/connections".to_owned(),
        _ => format!("/connections/{}/debug", url_segment(id)),
    };
    redirect_with_notice(state, &to, &format!("{what}: {}", user_message(e)))
}

fn url_segment(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

async fn debug_start(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
    Form(form): Form<StartForm>,
) -> Response {
    let Ok(minutes) = form.minutes.trim().parse::<u32>() else {
        let page = Page::new(&user, Flash::default());
        return error_page(
            StatusCode::BAD_REQUEST,
            page,
            "Choose how long to record: 15, 30, 45 or 60 minutes.",
        );
    };
    match state.app().start_debug(&id, minutes).await {
        Ok(view) => {
            let until = view
                .debug_until
                .map_or_else(String::new, |u| format!(" until {}", format_time(u)));
            redirect_with_notice(
                &state,
                &debug_path(&view),
                &format!(
                    "Recording every request of \"{}\"{until}, with secrets masked.",
                    view.name
                ),
            )
        }
        Err(e) => debug_failure(&state, &id, "The debugger did not start", &e),
    }
}

async fn debug_stop(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    match state.app().stop_debug(&id).await {
        Ok(view) => redirect_with_notice(
            &state,
            &debug_path(&view),
            &format!(
                "The debugger of \"{}\" stopped recording; the lines recorded stay until \
                 cleared or 24 hours old.",
                view.name
            ),
        ),
        Err(e) => debug_failure(&state, &id, "The debugger did not stop", &e),
    }
}

async fn debug_clear(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    let cleared = match state.app().clear_debug_log(&id).await {
        Ok(n) => n,
        Err(e) => return debug_failure(&state, &id, "The debug log was not cleared", &e),
    };
    let to = match state.app().get_connection(&id).await {
        Ok(view) => debug_path(&view),
        Err(_) => "/connections".to_owned(),
    };
    redirect_with_notice(&state, &to, &format!("Cleared {cleared} debug line(s)."))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_in_the_audit_only_say_they_were_entered() {
        let secret = FieldChange {
            field: "api_token".to_owned(),
            before: None,
            after: None,
            secret: true,
        };
        assert_eq!(change_text(AuditAction::Create, &secret), "set");
        assert_eq!(change_text(AuditAction::Update, &secret), "re-entered");
        let renamed = FieldChange {
            field: "name".to_owned(),
            before: Some("a".to_owned()),
            after: Some("b".to_owned()),
            secret: false,
        };
        assert_eq!(change_text(AuditAction::Update, &renamed), "a → b");
    }
}
