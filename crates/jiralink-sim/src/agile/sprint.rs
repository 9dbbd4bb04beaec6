//! `/sprint`: sprints and their issues.
//!
//! States move future → active (needs a start and an end date; one active sprint per board)
//! → closed (sets `completeDate`); a closed sprint keeps its state. Deleting a sprint takes it
//! off its issues, so its open issues are in the backlog again.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::Value;

use super::issues::{Keep, issues_page, move_issues, search, sprint_json};
use super::model::{BoardKind, Sprint, SprintState};
use super::{PREFIX, bad_request, path_id, require, sprint_not_found};
use crate::auth::Caller;
use crate::data::{self, SiteData};
use crate::errors::ApiError;
use crate::platform::params::{self, Params};
use crate::state::SimState;

/// Longest sprint name.
pub const MAX_NAME: usize = 255;

/// Routes of this module.
pub fn router() -> Router<SimState> {
    Router::new()
        .route(&format!("{PREFIX}/sprint"), post(create_sprint))
        .route(
            &format!("{PREFIX}/sprint/{{id}}"),
            get(get_sprint)
                .put(update_sprint)
                .post(partially_update_sprint)
                .delete(delete_sprint),
        )
        .route(
            &format!("{PREFIX}/sprint/{{id}}/issue"),
            get(sprint_issues).post(move_to_sprint),
        )
}

fn sprint_of(site: &SiteData, id: &str) -> Result<Sprint, ApiError> {
    let id = path_id(id, sprint_not_found)?;
    site.agile()
        .sprint(id)
        .cloned()
        .ok_or_else(sprint_not_found)
}

/// Tells an absent field (`None`) from `null` (`Some(None)`).
fn some_field<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SprintBody {
    #[serde(default, deserialize_with = "some_field")]
    name: Option<Option<String>>,
    #[serde(default, deserialize_with = "some_field")]
    state: Option<Option<String>>,
    #[serde(default, deserialize_with = "some_field")]
    start_date: Option<Option<String>>,
    #[serde(default, deserialize_with = "some_field")]
    end_date: Option<Option<String>>,
    #[serde(default, deserialize_with = "some_field")]
    goal: Option<Option<String>>,
    #[serde(default)]
    origin_board_id: Option<u64>,
}

fn date(field: &str, text: Option<&String>) -> Result<Option<i64>, ApiError> {
    match text.map(|t| t.trim()).filter(|t| !t.is_empty()) {
        None => Ok(None),
        Some(t) => super::parse_datetime(t).map(Some).ok_or_else(|| {
            bad_request(&format!(
                "The {field} '{t}' is not a valid date-time (use ISO 8601, e.g. 2026-01-05T09:00:00.000Z)."
            ))
        }),
    }
}

fn check_name(name: &str) -> Result<String, ApiError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(bad_request("The sprint name is required."));
    }
    if name.chars().count() > MAX_NAME {
        return Err(bad_request(&format!(
            "The sprint name must be {MAX_NAME} characters or fewer."
        )));
    }
    Ok(name.to_owned())
}

async fn create_sprint(
    State(state): State<SimState>,
    caller: Caller,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    require(&caller, "createSprint")?;
    let body: SprintBody = params::body(&bytes)?;
    let name = check_name(body.name.flatten().as_deref().unwrap_or_default())?;
    let board_id = body
        .origin_board_id
        .ok_or_else(|| bad_request("The originBoardId is required."))?;
    let start = date("startDate", body.start_date.flatten().as_ref())?;
    let end = date("endDate", body.end_date.flatten().as_ref())?;
    if let (Some(s), Some(e)) = (start, end)
        && e < s
    {
        return Err(bad_request(
            "The sprint end date must be after its start date.",
        ));
    }
    let now = data::now_ms(&state);
    let entry = data::site(&state, &caller.site);
    let mut site = entry.write();
    let board = site
        .agile()
        .board(board_id)
        .ok_or_else(|| {
            bad_request(&format!(
                "Board {board_id} does not exist or you do not have permission to see it."
            ))
        })?
        .clone();
    if board.kind != BoardKind::Scrum {
        return Err(bad_request("The board does not support sprints"));
    }
    let agile = site.agile_mut();
    let id = agile.next_sprint;
    agile.next_sprint += 1;
    let sprint = Sprint {
        id,
        name,
        state: SprintState::Future,
        board_id,
        start,
        end,
        complete: None,
        created: now,
        goal: body.goal.flatten().unwrap_or_default(),
    };
    agile.sprints.insert(id, sprint.clone());
    Ok(params::value(
        StatusCode::CREATED,
        &sprint_json(&caller, &sprint),
        1,
    ))
}

async fn get_sprint(
    State(state): State<SimState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    require(&caller, "getSprint")?;
    let entry = data::site(&state, &caller.site);
    let site = entry.read();
    let sprint = sprint_of(&site, &id)?;
    Ok(params::value(
        StatusCode::OK,
        &sprint_json(&caller, &sprint),
        1,
    ))
}

/// Applies an update; `full` sets absent fields to nothing (a full `PUT`), except the state,
/// which stays as it is when not given.
fn apply(
    site: &SiteData,
    mut sprint: Sprint,
    body: SprintBody,
    full: bool,
    now: i64,
) -> Result<Sprint, ApiError> {
    let absent = |v: Option<Option<String>>| if full { v.or(Some(None)) } else { v };
    if let Some(name) = body.name {
        sprint.name = check_name(name.as_deref().unwrap_or_default())?;
    } else if full {
        return Err(bad_request("The sprint name is required."));
    }
    if let Some(goal) = absent(body.goal) {
        sprint.goal = goal.unwrap_or_default();
    }
    let closed = sprint.state == SprintState::Closed;
    if let Some(start) = absent(body.start_date) {
        let at = date("startDate", start.as_ref())?;
        if closed && at != sprint.start {
            return Err(bad_request(
                "The dates of a closed sprint cannot be changed.",
            ));
        }
        sprint.start = at;
    }
    if let Some(end) = absent(body.end_date) {
        let at = date("endDate", end.as_ref())?;
        if closed && at != sprint.end {
            return Err(bad_request(
                "The dates of a closed sprint cannot be changed.",
            ));
        }
        sprint.end = at;
    }
    if let (Some(s), Some(e)) = (sprint.start, sprint.end)
        && e < s
    {
        return Err(bad_request(
            "The sprint end date must be after its start date.",
        ));
    }
    let target = match body.state.flatten() {
        Some(text) => SprintState::parse(&text)
            .ok_or_else(|| bad_request(&format!("The sprint state '{text}' is not valid.")))?,
        None => sprint.state,
    };
    match (sprint.state, target) {
        (a, b) if a == b => {}
        (SprintState::Future, SprintState::Active) => {
            if sprint.start.is_none() || sprint.end.is_none() {
                return Err(bad_request(
                    "A sprint needs a start date and an end date to be started.",
                ));
            }
            if site
                .agile()
                .sprints_of(sprint.board_id)
                .any(|s| s.id != sprint.id && s.state == SprintState::Active)
            {
                return Err(bad_request(
                    "The board already has an active sprint; complete it before starting another.",
                ));
            }
            sprint.state = SprintState::Active;
        }
        (SprintState::Active, SprintState::Closed) => {
            sprint.state = SprintState::Closed;
            sprint.complete = Some(now);
        }
        (from, to) => {
            return Err(bad_request(&format!(
                "A {} sprint cannot become {}.",
                from.as_str(),
                to.as_str()
            )));
        }
    }
    Ok(sprint)
}

fn update(
    state: &SimState,
    caller: &Caller,
    id: &str,
    bytes: &Bytes,
    full: bool,
) -> Result<Response, ApiError> {
    let body: SprintBody = params::body(bytes)?;
    let now = data::now_ms(state);
    let entry = data::site(state, &caller.site);
    let mut site = entry.write();
    let sprint = sprint_of(&site, id)?;
    let updated = apply(&site, sprint, body, full, now)?;
    site.agile_mut().sprints.insert(updated.id, updated.clone());
    Ok(params::value(
        StatusCode::OK,
        &sprint_json(caller, &updated),
        1,
    ))
}

async fn update_sprint(
    State(state): State<SimState>,
    caller: Caller,
    Path(id): Path<String>,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    require(&caller, "updateSprint")?;
    update(&state, &caller, &id, &bytes, true)
}

async fn partially_update_sprint(
    State(state): State<SimState>,
    caller: Caller,
    Path(id): Path<String>,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    require(&caller, "partiallyUpdateSprint")?;
    update(&state, &caller, &id, &bytes, false)
}

async fn delete_sprint(
    State(state): State<SimState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    require(&caller, "deleteSprint")?;
    let entry = data::site(&state, &caller.site);
    let mut site = entry.write();
    let sprint = sprint_of(&site, &id)?;
    site.agile_mut().sprints.remove(&sprint.id);
    Ok(params::no_content())
}

async fn sprint_issues(
    State(state): State<SimState>,
    caller: Caller,
    Path(id): Path<String>,
    params: Params,
) -> Result<Response, ApiError> {
    require(&caller, "getIssuesForSprint")?;
    let entry = data::site(&state, &caller.site);
    let site = entry.read();
    let sprint = sprint_of(&site, &id)?;
    let scope = site.sprint_scope(&sprint);
    let ids = match scope {
        None => Vec::new(),
        Some(scope) => search(
            &state,
            &caller,
            &site,
            Some(&scope),
            &params,
            Keep::Sprint(sprint.id),
        )?,
    };
    issues_page(&state, &caller, &site, &ids, &params)
}

impl SiteData {
    /// A JQL restriction holding every issue that can be in `sprint`, so a sprint's issues are
    /// not looked for among every issue of the site: generated issues are only in the
    /// generated sprints of their project's board, and any other issue was written, so it is
    /// in the overlay. `None` when nothing can be in the sprint.
    pub fn sprint_scope(&self, sprint: &Sprint) -> Option<String> {
        let written: Vec<String> = self
            .overlay
            .keys()
            .filter(|id| self.sprint_ids(**id).contains(&sprint.id))
            .map(u64::to_string)
            .collect();
        let project = self
            .agile()
            .board(sprint.board_id)
            .and_then(|b| b.project_id)
            .and_then(|p| self.catalog.projects.iter().position(|x| x.id == p))
            .filter(|position| {
                super::model::first_sprint_id(&self.catalog, *position).is_some_and(|first| {
                    (first..first + super::model::SPRINTS_PER_BOARD).contains(&sprint.id)
                })
            })
            .and_then(|position| self.catalog.projects.get(position))
            .map(|p| format!("project = \"{}\"", p.key));
        let written = (!written.is_empty()).then(|| format!("id in ({})", written.join(", ")));
        match (project, written) {
            (Some(p), Some(w)) => Some(format!("{p} OR {w}")),
            (Some(p), None) => Some(p),
            (None, Some(w)) => Some(w),
            (None, None) => None,
        }
    }
}

async fn move_to_sprint(
    State(state): State<SimState>,
    caller: Caller,
    Path(id): Path<String>,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    require(&caller, "moveIssuesToSprintAndRank")?;
    move_issues(&state, &caller, &bytes, |site| {
        let sprint = sprint_of(site, &id)?;
        if sprint.state == SprintState::Closed {
            return Err(bad_request("Issues cannot be moved to a closed sprint."));
        }
        Ok(Some(sprint.id))
    })
}

/// The sprint a `customfield_10020` value names on create or edit (a sprint id, `{"id":…}`,
/// or `null` for the backlog); the sprint's state is checked when the change is applied.
pub fn sprint_value(_site: &SiteData, value: &Value) -> Result<Option<u64>, String> {
    if value.is_null() {
        return Ok(None);
    }
    value
        .as_u64()
        .or_else(|| value.as_str().and_then(|s| s.trim().parse().ok()))
        .or_else(|| value.get("id").and_then(Value::as_u64))
        .map(Some)
        .ok_or_else(|| "Number value expected as the Sprint id.".to_owned())
}

/// Whether the Sprint field is on the create and edit screens: standard issue types of
/// software projects (epics and sub-tasks are not planned in sprints).
pub fn on_screen(data: &SiteData, project: &crate::data::Project, issue_type: &str) -> bool {
    project.project_type_key == "software"
        && data
            .catalog()
            .issue_type(issue_type)
            .is_some_and(|t| t.hierarchy_level == 0 && !t.subtask)
}
