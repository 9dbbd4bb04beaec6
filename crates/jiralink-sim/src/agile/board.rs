//! `/board`: boards, their configuration, projects, epics, sprints and issue lists.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use serde::Deserialize;
use serde_json::{Value, json};

use super::issues::{Keep, epic_json, issues_page, search, sprint_json};
use super::model::{Board, BoardKind, ESTIMATION_FIELD, RANK_FIELD_ID, SprintState};
use super::{
    PREFIX, bad_request, board_not_found, page, path_id, require, sprint_not_found, values_page,
};
use crate::auth::Caller;
use crate::data::generate::{DONE, INDETERMINATE, NEW};
use crate::data::{self, SiteData};
use crate::errors::ApiError;
use crate::platform::params::{self, Params};
use crate::state::SimState;

/// Most boards, sprints, epics or projects per page.
pub const MAX_VALUES: i64 = 50;

/// Routes of this module.
pub fn router() -> Router<SimState> {
    Router::new()
        .route(
            &format!("{PREFIX}/board"),
            get(list_boards).post(create_board),
        )
        .route(
            &format!("{PREFIX}/board/{{id}}"),
            get(get_board).delete(delete_board),
        )
        .route(
            &format!("{PREFIX}/board/{{id}}/configuration"),
            get(configuration),
        )
        .route(&format!("{PREFIX}/board/{{id}}/issue"), get(board_issues))
        .route(&format!("{PREFIX}/board/{{id}}/backlog"), get(backlog))
        .route(&format!("{PREFIX}/board/{{id}}/epic"), get(epics))
        .route(
            &format!("{PREFIX}/board/{{id}}/epic/none/issue"),
            get(board_no_epic_issues),
        )
        .route(
            &format!("{PREFIX}/board/{{id}}/epic/{{epic}}/issue"),
            get(board_epic_issues),
        )
        .route(&format!("{PREFIX}/board/{{id}}/sprint"), get(sprints))
        .route(
            &format!("{PREFIX}/board/{{id}}/sprint/{{sprint}}/issue"),
            get(board_sprint_issues),
        )
        .route(&format!("{PREFIX}/board/{{id}}/project"), get(projects))
}

/// A board as `GET /board/{id}` shows it.
pub fn board_json(caller: &Caller, site: &SiteData, board: &Board) -> Value {
    let mut v = json!({
        "id": board.id,
        "self": super::url(caller, &format!("/board/{}", board.id)),
        "name": board.name,
        "type": board.kind.as_str(),
        "isPrivate": false,
    });
    if let Some(p) = board.project_id.and_then(|id| site.catalog().project(id)) {
        v["location"] = json!({
            "projectId": p.id,
            "displayName": format!("{} ({})", p.name, p.key),
            "projectName": p.name,
            "projectKey": p.key,
            "projectTypeKey": p.project_type_key,
            "avatarURI": format!("/secure/projectavatar?size=small&s=small&pid={}", p.id),
            "name": format!("{} ({})", p.name, p.key),
        });
    }
    v
}

fn board_of(site: &SiteData, id: &str) -> Result<Board, ApiError> {
    let id = path_id(id, board_not_found)?;
    site.agile().board(id).cloned().ok_or_else(board_not_found)
}

fn filter_jql(site: &SiteData, board: &Board) -> Option<String> {
    site.agile().filter(board.filter_id).map(|f| f.jql.clone())
}

async fn list_boards(
    State(state): State<SimState>,
    caller: Caller,
    params: Params,
) -> Result<Response, ApiError> {
    require(&caller, "getAllBoards")?;
    let (start, max) = page(&params, MAX_VALUES)?;
    let kinds = params.list("type");
    for k in &kinds {
        if BoardKind::parse(k).is_none() && !k.eq_ignore_ascii_case("simple") {
            return Err(bad_request(&format!("The board type '{k}' is not valid.")));
        }
    }
    let entry = data::site(&state, &caller.site);
    let site = entry.read();
    let project = match params
        .get("projectKeyOrId")
        .filter(|p| !p.trim().is_empty())
    {
        Some(p) => Some(params::project_or_404(&site, p)?.id),
        None => None,
    };
    let name = params.get("name").map(str::to_lowercase);
    let all: Vec<Value> = site
        .agile()
        .boards
        .values()
        .filter(|b| {
            kinds.is_empty()
                || kinds
                    .iter()
                    .any(|k| k.eq_ignore_ascii_case(b.kind.as_str()))
        })
        .filter(|b| project.is_none() || b.project_id == project)
        .filter(|b| {
            name.as_ref()
                .is_none_or(|n| b.name.to_lowercase().contains(n.as_str()))
        })
        .map(|b| board_json(&caller, &site, b))
        .collect();
    let body = values_page(all, start, max, true);
    Ok(params::value(StatusCode::OK, &body, 1))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct NewBoard {
    name: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    filter_id: Option<u64>,
    location: Option<NewLocation>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct NewLocation {
    #[serde(rename = "type")]
    kind: Option<String>,
    project_key_or_id: Option<String>,
}

async fn create_board(
    State(state): State<SimState>,
    caller: Caller,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    require(&caller, "createBoard")?;
    let body: NewBoard = params::body(&bytes)?;
    let name = body
        .name
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .ok_or_else(|| bad_request("The board name is required."))?
        .to_owned();
    if name.chars().count() > 255 {
        return Err(bad_request(
            "The board name must be 255 characters or fewer.",
        ));
    }
    let kind = body
        .kind
        .as_deref()
        .and_then(BoardKind::parse)
        .ok_or_else(|| bad_request("The board type must be 'scrum' or 'kanban'."))?;
    let filter_id = body
        .filter_id
        .ok_or_else(|| bad_request("The filterId is required."))?;
    let entry = data::site(&state, &caller.site);
    let mut site = entry.write();
    if site.agile().filter(filter_id).is_none() {
        return Err(bad_request(&format!(
            "The filter with id {filter_id} does not exist or you do not have permission to see it."
        )));
    }
    let project_id = match &body.location {
        Some(loc) => {
            if loc.kind.as_deref().is_some_and(|k| k != "project") {
                return Err(bad_request("Only 'project' board locations are supported."));
            }
            match loc.project_key_or_id.as_deref() {
                Some(p) => Some(params::project_or_404(&site, p)?.id),
                None => None,
            }
        }
        None => None,
    };
    let agile = site.agile_mut();
    let id = agile.next_board;
    agile.next_board += 1;
    let board = Board {
        id,
        name,
        kind,
        filter_id,
        project_id,
    };
    agile.boards.insert(id, board.clone());
    let body = board_json(&caller, &site, &board);
    Ok(params::value(StatusCode::CREATED, &body, 1))
}

async fn get_board(
    State(state): State<SimState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    require(&caller, "getBoard")?;
    let entry = data::site(&state, &caller.site);
    let site = entry.read();
    let board = board_of(&site, &id)?;
    Ok(params::value(
        StatusCode::OK,
        &board_json(&caller, &site, &board),
        1,
    ))
}

async fn delete_board(
    State(state): State<SimState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    require(&caller, "deleteBoard")?;
    let entry = data::site(&state, &caller.site);
    let mut site = entry.write();
    let board = board_of(&site, &id)?;
    site.agile_mut().boards.remove(&board.id);
    Ok(params::no_content())
}

async fn configuration(
    State(state): State<SimState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    require(&caller, "getConfiguration")?;
    let entry = data::site(&state, &caller.site);
    let site = entry.read();
    let board = board_of(&site, &id)?;
    let catalog = site.catalog();
    let api = caller.url("/rest/api/2");
    let project = board.project_id.and_then(|p| catalog.project(p));
    let statuses: Vec<&crate::data::Status> = match project.and_then(|p| catalog.workflow_of(p)) {
        Some(w) => w
            .statuses
            .iter()
            .filter_map(|s| catalog.status(s))
            .collect(),
        None => catalog.statuses.iter().collect(),
    };
    let columns: Vec<Value> = [
        (NEW, "To Do"),
        (INDETERMINATE, "In Progress"),
        (DONE, "Done"),
    ]
    .iter()
    .map(|(category, name)| {
        let members: Vec<Value> = statuses
            .iter()
            .filter(|s| s.category == *category)
            .map(|s| json!({ "id": s.id, "self": format!("{api}/status/{}", s.id) }))
            .collect();
        json!({ "name": name, "statuses": members })
    })
    .collect();
    let mut body = json!({
        "id": board.id,
        "name": board.name,
        "type": board.kind.as_str(),
        "self": super::url(&caller, &format!("/board/{}/configuration", board.id)),
        "filter": {
            "id": board.filter_id.to_string(),
            "self": format!("{api}/filter/{}", board.filter_id),
        },
        "columnConfig": {
            "columns": columns,
            "constraintType": if board.kind == BoardKind::Kanban { "issueCount" } else { "none" },
        },
        "ranking": { "rankCustomFieldId": RANK_FIELD_ID },
    });
    if let Some(p) = project {
        body["location"] = json!({
            "type": "project",
            "key": p.key,
            "id": p.id.to_string(),
            "self": format!("{api}/project/{}", p.id),
            "name": p.name,
        });
    }
    match board.kind {
        BoardKind::Scrum => {
            body["estimation"] = json!({
                "type": "field",
                "field": { "fieldId": ESTIMATION_FIELD, "displayName": "Story Points" },
            });
        }
        BoardKind::Kanban => {
            body["subQuery"] =
                json!({ "query": "fixVersion in unreleasedVersions() OR fixVersion is EMPTY" });
        }
    }
    Ok(params::value(StatusCode::OK, &body, 1))
}

fn board_list(
    state: &SimState,
    caller: &Caller,
    id: &str,
    params: &Params,
    keep: impl FnOnce(&SiteData, &Board) -> Result<Keep, ApiError>,
) -> Result<Response, ApiError> {
    let entry = data::site(state, &caller.site);
    let site = entry.read();
    let board = board_of(&site, id)?;
    let keep = keep(&site, &board)?;
    let base = filter_jql(&site, &board);
    let ids = search(state, caller, &site, base.as_deref(), params, keep)?;
    issues_page(state, caller, &site, &ids, params)
}

async fn board_issues(
    State(state): State<SimState>,
    caller: Caller,
    Path(id): Path<String>,
    params: Params,
) -> Result<Response, ApiError> {
    require(&caller, "getIssuesForBoard")?;
    board_list(&state, &caller, &id, &params, |_, _| Ok(Keep::All))
}

async fn backlog(
    State(state): State<SimState>,
    caller: Caller,
    Path(id): Path<String>,
    params: Params,
) -> Result<Response, ApiError> {
    require(&caller, "getIssuesForBacklog")?;
    board_list(&state, &caller, &id, &params, |_, board| {
        Ok(match board.kind {
            BoardKind::Scrum => Keep::ScrumBacklog,
            BoardKind::Kanban => Keep::KanbanBacklog,
        })
    })
}

async fn board_no_epic_issues(
    State(state): State<SimState>,
    caller: Caller,
    Path(id): Path<String>,
    params: Params,
) -> Result<Response, ApiError> {
    require(&caller, "getIssuesWithoutEpicForBoard")?;
    board_list(&state, &caller, &id, &params, |_, _| Ok(Keep::NoEpic))
}

async fn board_epic_issues(
    State(state): State<SimState>,
    caller: Caller,
    Path((id, epic)): Path<(String, String)>,
    params: Params,
) -> Result<Response, ApiError> {
    require(&caller, "getBoardIssuesForEpic")?;
    board_list(&state, &caller, &id, &params, |site, _| {
        let epic = site
            .resolve(&epic)
            .filter(|e| site.is_epic(*e))
            .ok_or_else(|| super::not_found(&format!("Epic '{epic}' does not exist.")))?;
        Ok(Keep::Epic(epic))
    })
}

async fn board_sprint_issues(
    State(state): State<SimState>,
    caller: Caller,
    Path((id, sprint)): Path<(String, String)>,
    params: Params,
) -> Result<Response, ApiError> {
    require(&caller, "getBoardIssuesForSprint")?;
    board_list(&state, &caller, &id, &params, |site, _| {
        let sprint = path_id(&sprint, sprint_not_found)?;
        site.agile().sprint(sprint).ok_or_else(sprint_not_found)?;
        Ok(Keep::Sprint(sprint))
    })
}

async fn epics(
    State(state): State<SimState>,
    caller: Caller,
    Path(id): Path<String>,
    params: Params,
) -> Result<Response, ApiError> {
    require(&caller, "getEpics")?;
    let (start, max) = page(&params, MAX_VALUES)?;
    let done = match params.get("done").map(str::trim).filter(|d| !d.is_empty()) {
        None => None,
        Some(_) => Some(params.bool("done", false)?),
    };
    let entry = data::site(&state, &caller.site);
    let site = entry.read();
    let board = board_of(&site, &id)?;
    let base = filter_jql(&site, &board);
    let ids = search(
        &state,
        &caller,
        &site,
        base.as_deref(),
        &Params::default(),
        Keep::All,
    )?;
    let all: Vec<Value> = ids
        .into_iter()
        .filter(|i| site.is_epic(*i))
        .filter_map(|i| epic_json(&caller, &site, i))
        .filter(|e| done.is_none_or(|d| e["done"] == json!(d)))
        .collect();
    let body = values_page(all, start, max, false);
    Ok(params::value(StatusCode::OK, &body, 1))
}

async fn sprints(
    State(state): State<SimState>,
    caller: Caller,
    Path(id): Path<String>,
    params: Params,
) -> Result<Response, ApiError> {
    require(&caller, "getAllSprints")?;
    let (start, max) = page(&params, MAX_VALUES)?;
    let mut states = Vec::new();
    for s in params.list("state") {
        states.push(
            SprintState::parse(&s)
                .ok_or_else(|| bad_request(&format!("The sprint state '{s}' is not valid.")))?,
        );
    }
    let entry = data::site(&state, &caller.site);
    let site = entry.read();
    let board = board_of(&site, &id)?;
    if board.kind != BoardKind::Scrum {
        return Err(bad_request("The board does not support sprints"));
    }
    let all: Vec<Value> = site
        .agile()
        .sprints_of(board.id)
        .filter(|s| states.is_empty() || states.contains(&s.state))
        .map(|s| sprint_json(&caller, s))
        .collect();
    let body = values_page(all, start, max, false);
    Ok(params::value(StatusCode::OK, &body, 1))
}

async fn projects(
    State(state): State<SimState>,
    caller: Caller,
    Path(id): Path<String>,
    params: Params,
) -> Result<Response, ApiError> {
    require(&caller, "getProjects")?;
    let (start, max) = page(&params, MAX_VALUES)?;
    let entry = data::site(&state, &caller.site);
    let site = entry.read();
    let board = board_of(&site, &id)?;
    let api = caller.url("/rest/api/2");
    let avatars = state.base_url();
    let all: Vec<Value> = board
        .project_id
        .and_then(|p| site.catalog().project(p))
        .into_iter()
        .map(|p| {
            let urls: serde_json::Map<String, Value> =
                [(48, "large"), (24, "small"), (16, "xsmall"), (32, "medium")]
                    .iter()
                    .map(|(size, name)| {
                        (
                            format!("{size}x{size}"),
                            json!(format!("{avatars}/avatars/project-{}-{name}.svg", p.id)),
                        )
                    })
                    .collect();
            json!({
                "self": format!("{api}/project/{}", p.id),
                "id": p.id.to_string(),
                "key": p.key,
                "name": p.name,
                "avatarUrls": urls,
                "projectTypeKey": p.project_type_key,
                "simplified": p.simplified,
            })
        })
        .collect();
    let body = values_page(all, start, max, true);
    Ok(params::value(StatusCode::OK, &body, 1))
}
