//! The listener pages: the Listeners list with the "New listener" form (a flow, the events,
//! a JQL filter and field ids), the page shown once after creating one (for an admin webhook:
//! the URL, the secret and the steps a site administrator follows), a listener's page (its
//! state, lag, safety net and recent deliveries, "Check now") and the confirmation of a
//! delete.
//!
//! The creation's answer is the only page that ever has the secret: it is rendered in the
//! response to the form's POST, not behind a redirect, so it is never stored to be shown
//! again.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::{Method, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use axum_extra::extract::Form;
use jiralink_app::{
    AppError, LISTENER_DEFAULT_EVENTS, LISTENER_EVENTS, ListenerDraft, ListenerEventView,
    ListenerView, format_time,
};
use serde::Deserialize;
use zeroize::Zeroizing;

use super::form::sentence;
use super::{
    Flash, Page, RouteTable, app_error_page, redirect_with_notice, render, render_with_status,
    user_message,
};
use crate::AppState;
use crate::error::app_status;
use crate::session::CurrentUser;

pub(crate) fn table() -> RouteTable {
    vec![
        (Method::GET, "/listeners", get(list)),
        (Method::POST, "/listeners", post(create)),
        (Method::GET, "/listeners/{id}", get(show)),
        (Method::POST, "/listeners/{id}/check", post(check_now)),
        (Method::GET, "/listeners/{id}/delete", get(confirm_delete)),
        (Method::POST, "/listeners/{id}/delete", post(delete)),
    ]
}

super::page_deref!(ListPage, CreatedPage, ShowPage, ConfirmDeletePage);

/// How many deliveries a listener's page lists.
const RECENT_EVENTS: u32 = 50;

/// The label and badge class of a listener's state.
fn state_badge(state: &str) -> (&'static str, &'static str) {
    match state {
        "active" => ("Active", "badge-online"),
        "failed" => ("Failed", "badge-offline"),
        "expired" => ("Expired", "badge-warning"),
        _ => ("Unknown", "badge-neutral"),
    }
}

fn mode_label(mode: &str) -> &'static str {
    if mode == "dynamic" {
        "Dynamic webhook (registered by jiralink)"
    } else {
        "Admin webhook (registered by a site administrator)"
    }
}

/// `2m 5s`, `1h 3m`, `12s`.
fn duration_label(seconds: u64) -> String {
    let (h, m, s) = (seconds / 3600, (seconds % 3600) / 60, seconds % 60);
    if h > 0 {
        format!("{h}h {m}m")
    } else if m > 0 {
        format!("{m}m {s}s")
    } else {
        format!("{s}s")
    }
}

/// What the lag column says: nothing waits, or how long the oldest event has waited.
fn lag_label(view: &ListenerView) -> String {
    if view.pending == 0 {
        "Up to date".to_owned()
    } else {
        format!(
            "{} waiting, oldest {}",
            view.pending,
            duration_label(view.lag_seconds)
        )
    }
}

// ---------------------------------------------------------------------------------------------
// The list and the form

struct Row {
    id: String,
    name: String,
    flow_id: String,
    flow: String,
    connection: String,
    mode: &'static str,
    state: &'static str,
    badge: &'static str,
    state_reason: Option<String>,
    last_event: Option<String>,
    lag: String,
    behind: bool,
}

impl Row {
    fn of(view: &ListenerView) -> Self {
        let (state, badge) = state_badge(&view.state);
        Self {
            id: view.id.to_string(),
            name: view.name.clone(),
            flow_id: view.flow_id.to_string(),
            flow: view.flow_name.clone(),
            connection: view.connection_name.clone(),
            mode: if view.mode == "dynamic" {
                "Dynamic"
            } else {
                "Admin"
            },
            state,
            badge,
            state_reason: view.state_reason.clone(),
            last_event: view.last_event_at.map(format_time),
            lag: lag_label(view),
            behind: view.behind,
        }
    }
}

/// A flow the form offers.
struct Choice {
    id: String,
    name: String,
}

/// An event check box.
struct EventChoice {
    name: &'static str,
    checked: bool,
}

/// The "New listener" form as posted: each ticked event box sends `event`.
#[derive(Debug, Deserialize, Default)]
#[serde(default)]
struct ListenerForm {
    name: String,
    flow: String,
    #[serde(rename = "event")]
    events: Vec<String>,
    jql: String,
    field_ids: String,
}

/// What the form shows: as typed, or blank with the default events ticked.
struct FormValues {
    name: String,
    flow: String,
    events: Vec<String>,
    jql: String,
    field_ids: String,
}

impl Default for FormValues {
    fn default() -> Self {
        Self {
            name: String::new(),
            flow: String::new(),
            events: LISTENER_DEFAULT_EVENTS
                .iter()
                .map(|e| (*e).to_owned())
                .collect(),
            jql: String::new(),
            field_ids: String::new(),
        }
    }
}

impl ListenerForm {
    fn into_values(self) -> FormValues {
        FormValues {
            name: self.name,
            flow: self.flow,
            events: self.events,
            jql: self.jql,
            field_ids: self.field_ids,
        }
    }
}

/// The draft of the form's values, or what to fix (every problem at once). Field ids are
/// separated by commas or white space.
fn draft_of(v: &FormValues) -> Result<ListenerDraft, Vec<String>> {
    let mut problems = Vec::new();
    if v.name.trim().is_empty() {
        problems.push("the listener needs a name".to_owned());
    }
    if v.flow.trim().is_empty() {
        problems.push("choose the flow the listener feeds".to_owned());
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(ListenerDraft {
        name: v.name.trim().to_owned(),
        flow: v.flow.trim().to_owned(),
        events: v.events.clone(),
        jql: Some(v.jql.trim().to_owned()).filter(|j| !j.is_empty()),
        field_ids: v
            .field_ids
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|id| !id.is_empty())
            .map(str::to_owned)
            .collect(),
    })
}

#[derive(Template)]
#[template(path = "listeners/list.html")]
struct ListPage {
    page: Page,
    rows: Vec<Row>,
    flows: Vec<Choice>,
    events: Vec<EventChoice>,
    values: FormValues,
    /// Why the form was not saved, one entry per problem.
    problems: Vec<String>,
}

async fn list_page(state: &AppState, page: Page, values: FormValues) -> Result<ListPage, AppError> {
    let app = state.app();
    let rows: Vec<Row> = app.list_listeners().await?.iter().map(Row::of).collect();
    let mut flows: Vec<Choice> = app
        .list_flows()
        .await?
        .into_iter()
        .map(|f| Choice {
            id: f.id.to_string(),
            name: f.name,
        })
        .collect();
    flows.sort_by_key(|c| c.name.to_lowercase());
    let events = LISTENER_EVENTS
        .iter()
        .map(|name| EventChoice {
            name,
            checked: values.events.iter().any(|e| e == name),
        })
        .collect();
    Ok(ListPage {
        page,
        rows,
        flows,
        events,
        values,
        problems: Vec::new(),
    })
}

async fn list(State(state): State<AppState>, user: CurrentUser, flash: Flash) -> Response {
    let page = Page::new(&user, flash);
    match list_page(&state, page.clone(), FormValues::default()).await {
        Ok(list) => render(&list),
        Err(e) => app_error_page(page, &e),
    }
}

/// The page shown once after creating a listener.
#[derive(Template)]
#[template(path = "listeners/created.html")]
struct CreatedPage {
    page: Page,
    id: String,
    name: String,
    flow_id: String,
    flow: String,
    connection: String,
    dynamic: bool,
    url: String,
    /// An admin webhook's secret, this once.
    secret: Option<Zeroizing<String>>,
    setup_steps: Vec<String>,
    webhook_ids: String,
    expires: Option<String>,
}

async fn create(
    State(state): State<AppState>,
    user: CurrentUser,
    Form(form): Form<ListenerForm>,
) -> Response {
    let values = form.into_values();
    let draft = draft_of(&values);
    let page = Page::new(&user, Flash::default());
    let (status, problems) = match draft {
        Err(problems) => (StatusCode::UNPROCESSABLE_ENTITY, problems),
        Ok(draft) => match state.app().create_listener(draft).await {
            Ok(created) => {
                let view = created.view;
                return render_with_status(
                    StatusCode::CREATED,
                    &CreatedPage {
                        page,
                        id: view.id.to_string(),
                        flow_id: view.flow_id.to_string(),
                        flow: view.flow_name,
                        connection: view.connection_name,
                        dynamic: view.mode == "dynamic",
                        url: view.url,
                        secret: created
                            .secret
                            .as_ref()
                            .map(|s| Zeroizing::new(s.expose().to_owned())),
                        setup_steps: view.setup_steps,
                        webhook_ids: view
                            .webhook_ids
                            .iter()
                            .map(ToString::to_string)
                            .collect::<Vec<_>>()
                            .join(", "),
                        expires: view.expires_at.map(format_time),
                        name: view.name,
                    },
                );
            }
            // The application lists every problem, joined with "; ".
            Err(AppError::InvalidInput(message)) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                message.split("; ").map(str::to_owned).collect(),
            ),
            Err(e) => (app_status(&e), vec![user_message(&e)]),
        },
    };
    let mut list = match list_page(&state, page.clone(), values).await {
        Ok(list) => list,
        Err(e) => return app_error_page(page, &e),
    };
    list.problems = problems.iter().map(|p| sentence(p)).collect();
    render_with_status(status, &list)
}

// ---------------------------------------------------------------------------------------------
// A listener's page

/// A delivery as the page lists it.
struct EventRow {
    received: String,
    event: String,
    issues: String,
    state: String,
    badge: &'static str,
    flow_run: Option<String>,
    processed: Option<String>,
}

impl EventRow {
    fn of(e: &ListenerEventView) -> Self {
        Self {
            received: format_time(e.received_at),
            event: e.event.clone(),
            issues: e.issue_ids.join(", "),
            badge: match e.state.as_str() {
                "done" => "badge-online",
                "pending" => "badge-warning",
                _ => "badge-neutral",
            },
            state: e.state.clone(),
            flow_run: e.flow_run_id.map(|id| id.to_string()),
            processed: e.processed_at.map(format_time),
        }
    }
}

#[derive(Template)]
#[template(path = "listeners/show.html")]
struct ShowPage {
    page: Page,
    id: String,
    name: String,
    flow_id: String,
    flow: String,
    connection: String,
    mode: &'static str,
    dynamic: bool,
    url: String,
    events: String,
    jql: Option<String>,
    effective_jql: Option<String>,
    field_ids: String,
    webhook_ids: String,
    expires: Option<String>,
    state: &'static str,
    badge: &'static str,
    state_reason: Option<String>,
    last_event: Option<String>,
    last_processed: Option<String>,
    received: u64,
    pending: u64,
    lag: String,
    behind: bool,
    net_last: Option<String>,
    net_found: u64,
    net_found_total: u64,
    net_deleted: u64,
    net_deleted_total: u64,
    net_recovered_total: u64,
    net_error: Option<String>,
    setup_steps: Vec<String>,
    recent: Vec<EventRow>,
}

async fn show(
    State(state): State<AppState>,
    user: CurrentUser,
    flash: Flash,
    Path(id): Path<String>,
) -> Response {
    let page = Page::new(&user, flash);
    let view = match state.app().get_listener(&id).await {
        Ok(view) => view,
        Err(e) => return app_error_page(page, &e),
    };
    let recent = match state
        .app()
        .listener_events(&view.id.to_string(), RECENT_EVENTS)
        .await
    {
        Ok(events) => events,
        Err(e) => return app_error_page(page, &e),
    };
    let (badge_state, badge) = state_badge(&view.state);
    let net = &view.safety_net;
    render(&ShowPage {
        page,
        id: view.id.to_string(),
        flow_id: view.flow_id.to_string(),
        flow: view.flow_name.clone(),
        connection: view.connection_name.clone(),
        mode: mode_label(&view.mode),
        dynamic: view.mode == "dynamic",
        url: view.url.clone(),
        events: view.events.join(", "),
        jql: view.jql.clone(),
        effective_jql: view.effective_jql.clone(),
        field_ids: view.field_ids.join(", "),
        webhook_ids: view
            .webhook_ids
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", "),
        expires: view.expires_at.map(format_time),
        state: badge_state,
        badge,
        state_reason: view.state_reason.clone(),
        last_event: view.last_event_at.map(format_time),
        last_processed: view.last_processed_at.map(format_time),
        received: view.received,
        pending: view.pending,
        lag: lag_label(&view),
        behind: view.behind,
        net_last: net.last_at.map(format_time),
        net_found: net.found,
        net_found_total: net.found_total,
        net_deleted: net.deleted,
        net_deleted_total: net.deleted_total,
        net_recovered_total: net.recovered_total,
        net_error: net.error.clone(),
        setup_steps: view.setup_steps.clone(),
        recent: recent.iter().map(EventRow::of).collect(),
        name: view.name,
    })
}

/// Runs the listener's upkeep now and comes back to its page with what it did.
async fn check_now(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    let app = state.app();
    let view = match app.get_listener(&id).await {
        Ok(view) => view,
        Err(e) => {
            return redirect_with_notice(
                &state,
                "/listeners",
                &format!("The listener was not checked: {}", user_message(&e)),
            );
        }
    };
    let page = format!("/listeners/{}", view.id);
    let notice = match app.check_listener(&view.id.to_string()).await {
        Ok(report) => {
            let mut notice = format!(
                "Checked: the safety net found {} change(s) no event had brought",
                report.found
            );
            if report.deleted > 0 {
                notice.push_str(&format!(
                    "; it deleted {} copy(ies) of issues deleted without an event",
                    report.deleted
                ));
            }
            if report.recovered > 0 {
                notice.push_str(&format!(
                    "; {} delivery(ies) Jira gave up on were read back",
                    report.recovered
                ));
            }
            if report.refreshed {
                notice.push_str("; the webhooks were refreshed");
            }
            notice.push('.');
            for p in &report.problems {
                notice.push_str(&format!(" Problem: {}.", p.trim_end_matches('.')));
            }
            notice
        }
        Err(e) => format!("The listener was not checked: {}", user_message(&e)),
    };
    redirect_with_notice(&state, &page, &notice)
}

#[derive(Template)]
#[template(path = "listeners/delete.html")]
struct ConfirmDeletePage {
    page: Page,
    id: String,
    name: String,
    dynamic: bool,
}

async fn confirm_delete(
    State(state): State<AppState>,
    user: CurrentUser,
    flash: Flash,
    Path(id): Path<String>,
) -> Response {
    let page = Page::new(&user, flash);
    match state.app().get_listener(&id).await {
        Ok(view) => render(&ConfirmDeletePage {
            page,
            id: view.id.to_string(),
            dynamic: view.mode == "dynamic",
            name: view.name,
        }),
        Err(e) => app_error_page(page, &e),
    }
}

async fn delete(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    let notice = match state.app().delete_listener(&id).await {
        Ok(()) => "The listener was deleted, with its stored events.".to_owned(),
        Err(e) => format!("The listener was not deleted: {}", user_message(&e)),
    };
    redirect_with_notice(&state, "/listeners", &notice)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_form_lists_every_problem_and_splits_field_ids() {
        let problems = draft_of(&FormValues {
            events: Vec::new(),
            ..FormValues::default()
        })
        .unwrap_err();
        assert_eq!(problems.len(), 2, "{problems:?}");
        // No event ticked: the application's defaults, as for the API and the CLI.
        let draft = draft_of(&FormValues {
            name: "a".to_owned(),
            flow: "f".to_owned(),
            events: Vec::new(),
            ..FormValues::default()
        })
        .unwrap();
        assert!(draft.events.is_empty());
        let draft = draft_of(&FormValues {
            name: " a ".to_owned(),
            flow: "f".to_owned(),
            jql: "  ".to_owned(),
            field_ids: "summary, customfield_10010\nstatus".to_owned(),
            ..FormValues::default()
        })
        .unwrap();
        assert_eq!(draft.name, "a");
        assert_eq!(draft.jql, None);
        assert_eq!(
            draft.field_ids,
            vec!["summary", "customfield_10010", "status"]
        );
        assert_eq!(draft.events.len(), LISTENER_DEFAULT_EVENTS.len());
    }

    #[test]
    fn lag_reads_in_hours_minutes_and_seconds() {
        assert_eq!(duration_label(12), "12s");
        assert_eq!(duration_label(125), "2m 5s");
        assert_eq!(duration_label(3780), "1h 3m");
    }
}
