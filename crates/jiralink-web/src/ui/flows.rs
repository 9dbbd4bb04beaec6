//! The flow pages: the Flows list with the "New flow" form (a saved export, a saved import and
//! a schedule), a flow's page (its parts, "Run now" and its run history) and the confirmation
//! of a delete.
//!
//! "Run now" makes the flow's job due at once; a worker (on this server or another one sharing
//! the database) runs it, and the run then shows in the flow's history, with links to the
//! export run and the import run it made.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::{Method, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use axum_extra::extract::Form;
use jiralink_app::{AppError, FlowDraft, FlowRunView, FlowView, Schedule, format_time};
use serde::Deserialize;

use super::exports::run_badge;
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
        (Method::GET, "/flows", get(list)),
        (Method::POST, "/flows", post(create)),
        (Method::GET, "/flows/{id}", get(show)),
        (Method::POST, "/flows/{id}/run", post(run_now)),
        (Method::GET, "/flows/{id}/delete", get(confirm_delete)),
        (Method::POST, "/flows/{id}/delete", post(delete)),
    ]
}

super::page_deref!(ListPage, ShowPage, ConfirmDeletePage);

/// How many runs a flow's page lists.
const HISTORY_RUNS: u32 = 50;

fn trigger_label(trigger: &str) -> &'static str {
    match trigger {
        "manual" => "Run now",
        "schedule" => "Schedule",
        "cli" => "CLI",
        "api" => "API",
        "listener" => "Listener",
        _ => "Other",
    }
}

fn schedule_label(schedule: Option<&Schedule>, enabled: bool) -> String {
    match schedule {
        None => "Only when run by hand".to_owned(),
        Some(s) if enabled => sentence(&s.describe()),
        Some(s) => format!("{} (disabled)", sentence(&s.describe())),
    }
}

// ---------------------------------------------------------------------------------------------
// The list and the form

struct LastRun {
    state: &'static str,
    badge: &'static str,
    started: String,
}

struct Row {
    id: String,
    name: String,
    export_id: String,
    export: String,
    import_id: String,
    import: String,
    schedule: String,
    next_run: Option<String>,
    last_run: Option<LastRun>,
}

impl Row {
    fn of(view: &FlowView) -> Self {
        Self {
            id: view.id.to_string(),
            name: view.name.clone(),
            export_id: view.export_id.to_string(),
            export: view.export_name.clone(),
            import_id: view.import_id.to_string(),
            import: view.import_name.clone(),
            schedule: schedule_label(view.schedule.as_ref(), view.enabled),
            next_run: view.next_run_at.map(format_time),
            last_run: view.last_run.as_ref().map(|r| {
                let (state, badge) = run_badge(r.state.as_str());
                LastRun {
                    state,
                    badge,
                    started: format_time(r.started_at),
                }
            }),
        }
    }
}

/// A saved export or import the form offers.
struct Choice {
    id: String,
    name: String,
}

/// The "New flow" form as posted. The check box is present when ticked.
#[derive(Debug, Deserialize, Default)]
#[serde(default)]
struct FlowForm {
    name: String,
    export: String,
    import: String,
    schedule: String,
    every_minutes: String,
    cron: String,
    time_zone: String,
    enabled: Option<String>,
}

/// What the form shows: as typed, or blank.
struct FormValues {
    name: String,
    export: String,
    import: String,
    schedule: String,
    every_minutes: String,
    cron: String,
    time_zone: String,
    enabled: bool,
}

impl Default for FormValues {
    fn default() -> Self {
        Self {
            name: String::new(),
            export: String::new(),
            import: String::new(),
            schedule: "none".to_owned(),
            every_minutes: "60".to_owned(),
            cron: String::new(),
            time_zone: "UTC".to_owned(),
            enabled: true,
        }
    }
}

impl FlowForm {
    fn into_values(self) -> FormValues {
        FormValues {
            name: self.name,
            export: self.export,
            import: self.import,
            schedule: self.schedule,
            every_minutes: self.every_minutes,
            cron: self.cron,
            time_zone: self.time_zone,
            enabled: self.enabled.is_some(),
        }
    }
}

/// The draft of the form's values, or what to fix (every problem at once).
fn draft_of(v: &FormValues) -> Result<FlowDraft, Vec<String>> {
    let mut problems = Vec::new();
    if v.name.trim().is_empty() {
        problems.push("the flow needs a name".to_owned());
    }
    if v.export.trim().is_empty() {
        problems.push("choose the export the flow reads".to_owned());
    }
    if v.import.trim().is_empty() {
        problems.push("choose the import the flow writes through".to_owned());
    }
    let time_zone = Some(v.time_zone.trim().to_owned())
        .filter(|z| !z.is_empty())
        .unwrap_or_else(|| "UTC".to_owned());
    let schedule = match v.schedule.as_str() {
        "every" => match v.every_minutes.trim().parse::<u32>() {
            Ok(minutes) => Some(Schedule::Every { minutes, time_zone }),
            Err(_) => {
                problems.push("say every how many minutes it runs (a whole number)".to_owned());
                None
            }
        },
        "cron" if v.cron.trim().is_empty() => {
            problems
                .push("write a cron expression, e.g. 30 2 * * * for 02:30 every day".to_owned());
            None
        }
        "cron" => Some(Schedule::Cron {
            expr: v.cron.trim().to_owned(),
            time_zone,
        }),
        _ => None,
    };
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(FlowDraft {
        name: v.name.trim().to_owned(),
        export: v.export.trim().to_owned(),
        import: v.import.trim().to_owned(),
        schedule,
        enabled: v.enabled,
    })
}

#[derive(Template)]
#[template(path = "flows/list.html")]
struct ListPage {
    page: Page,
    rows: Vec<Row>,
    exports: Vec<Choice>,
    imports: Vec<Choice>,
    values: FormValues,
    /// Why the form was not saved, one entry per problem.
    problems: Vec<String>,
}

async fn list_page(state: &AppState, page: Page, values: FormValues) -> Result<ListPage, AppError> {
    let app = state.app();
    let rows: Vec<Row> = app.list_flows().await?.iter().map(Row::of).collect();
    let mut exports: Vec<Choice> = app
        .list_exports()
        .await?
        .into_iter()
        .map(|e| Choice {
            id: e.id.to_string(),
            name: e.name,
        })
        .collect();
    exports.sort_by_key(|c| c.name.to_lowercase());
    let mut imports: Vec<Choice> = app
        .list_imports()
        .await?
        .into_iter()
        .map(|i| Choice {
            id: i.id.to_string(),
            name: i.name,
        })
        .collect();
    imports.sort_by_key(|c| c.name.to_lowercase());
    Ok(ListPage {
        page,
        rows,
        exports,
        imports,
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

async fn create(
    State(state): State<AppState>,
    user: CurrentUser,
    Form(form): Form<FlowForm>,
) -> Response {
    let values = form.into_values();
    let draft = draft_of(&values);
    let page = Page::new(&user, Flash::default());
    let mut list = match list_page(&state, page.clone(), values).await {
        Ok(list) => list,
        Err(e) => return app_error_page(page, &e),
    };
    let (status, problems) = match draft {
        Err(problems) => (StatusCode::UNPROCESSABLE_ENTITY, problems),
        Ok(draft) => match state.app().create_flow(draft).await {
            Ok(view) => {
                return redirect_with_notice(
                    &state,
                    &format!("/flows/{}", view.id),
                    &format!("The flow {} was created.", view.name),
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
    list.problems = problems.iter().map(|p| sentence(p)).collect();
    render_with_status(status, &list)
}

// ---------------------------------------------------------------------------------------------
// A flow's page

/// A run as the history lists it.
struct RunRow {
    /// The run's id, the row's anchor (a listener's events link to it).
    id: String,
    started: String,
    finished: Option<String>,
    trigger: &'static str,
    state: &'static str,
    badge: &'static str,
    phase: String,
    error: Option<String>,
    exported: u64,
    unchanged: u64,
    created: u64,
    updated: u64,
    skipped: u64,
    failed: u64,
    linked: u64,
    comments: u64,
    export_run: Option<String>,
    import_run: Option<String>,
}

impl RunRow {
    fn of(run: &FlowRunView) -> Self {
        let (state, badge) = run_badge(run.state.as_str());
        let s = &run.stats;
        Self {
            id: run.id.to_string(),
            started: format_time(run.started_at),
            finished: run.finished_at.map(format_time),
            trigger: trigger_label(run.trigger.as_str()),
            state,
            badge,
            phase: run.phase.clone(),
            error: run.error.clone(),
            exported: s.exported,
            unchanged: s.unchanged,
            created: s.created,
            updated: s.updated,
            skipped: s.skipped,
            failed: s.failed,
            linked: s.linked,
            comments: s.comments_added + s.comments_updated,
            export_run: run.export_run_id.map(|id| id.to_string()),
            import_run: run.import_run_id.map(|id| id.to_string()),
        }
    }
}

#[derive(Template)]
#[template(path = "flows/show.html")]
struct ShowPage {
    page: Page,
    id: String,
    name: String,
    export_id: String,
    export: String,
    import_id: String,
    import: String,
    schedule: String,
    next_run: Option<String>,
    runs: Vec<RunRow>,
}

async fn show(
    State(state): State<AppState>,
    user: CurrentUser,
    flash: Flash,
    Path(id): Path<String>,
) -> Response {
    let page = Page::new(&user, flash);
    let view = match state.app().get_flow(&id).await {
        Ok(view) => view,
        Err(e) => return app_error_page(page, &e),
    };
    let runs = match state
        .app()
        .list_flow_runs(Some(&view.id.to_string()), Some(HISTORY_RUNS))
        .await
    {
        Ok(runs) => runs,
        Err(e) => return app_error_page(page, &e),
    };
    render(&ShowPage {
        page,
        id: view.id.to_string(),
        export_id: view.export_id.to_string(),
        export: view.export_name.clone(),
        import_id: view.import_id.to_string(),
        import: view.import_name.clone(),
        schedule: schedule_label(view.schedule.as_ref(), view.enabled),
        next_run: view.next_run_at.map(format_time),
        runs: runs.iter().map(RunRow::of).collect(),
        name: view.name,
    })
}

async fn run_now(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    let app = state.app();
    let requested = app.request_flow_run(&id).await;
    let page = match &requested {
        Ok(()) => app
            .get_flow(&id)
            .await
            .ok()
            .map(|v| format!("/flows/{}", v.id)),
        Err(_) => None,
    };
    run_requested(&state, requested, page.as_deref(), "/flows", "flow")
}

#[derive(Template)]
#[template(path = "flows/delete.html")]
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
    match state.app().get_flow(&id).await {
        Ok(view) => render(&ConfirmDeletePage {
            page,
            id: view.id.to_string(),
            name: view.name,
        }),
        Err(e) => app_error_page(page, &e),
    }
}

async fn delete(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    let notice = match state.app().delete_flow(&id).await {
        Ok(()) => "The flow was deleted, with its runs.".to_owned(),
        Err(e) => format!("The flow was not deleted: {}", user_message(&e)),
    };
    redirect_with_notice(&state, "/flows", &notice)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_form_lists_every_problem_and_reads_schedules() {
        let problems = draft_of(&FormValues {
            schedule: "every".to_owned(),
            every_minutes: "often".to_owned(),
            ..FormValues::default()
        })
        .unwrap_err();
        assert_eq!(problems.len(), 4, "{problems:?}");
        let draft = draft_of(&FormValues {
            name: " a ".to_owned(),
            export: "e".to_owned(),
            import: "i".to_owned(),
            schedule: "cron".to_owned(),
            cron: "0 6 * * *".to_owned(),
            time_zone: String::new(),
            ..FormValues::default()
        })
        .unwrap();
        assert_eq!(draft.name, "a");
        assert_eq!(
            draft.schedule,
            Some(Schedule::Cron {
                expr: "0 6 * * *".to_owned(),
                time_zone: "UTC".to_owned()
            })
        );
        let draft = draft_of(&FormValues {
            name: "a".to_owned(),
            export: "e".to_owned(),
            import: "i".to_owned(),
            ..FormValues::default()
        })
        .unwrap();
        assert_eq!(draft.schedule, None);
    }
}
