//! Site-wide catalogues: `GET /project` (the deprecated full list), project types, project
//! categories, priorities, resolutions, status categories, a project's statuses per issue type,
//! project roles and labels.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use serde_json::{Value, json};

use super::params::{self, Params};
use super::render::Render;
use super::{ApiVersion, versioned};
use crate::auth::Caller;
use crate::data::parts::{CATEGORIES, ProjectCategory};
use crate::data::{self, Priority, Project, Resolution, SiteData};
use crate::errors::ApiError;
use crate::state::SimState;

/// Default and largest page of `GET /priority/search` and `GET /resolution/search`.
pub const CATALOGUE_PAGE: (i64, i64) = (50, 50);
/// Default and largest page of `GET /label`.
pub const LABEL_PAGE: (i64, i64) = (1_000, 1_000);
/// Most projects `GET /project?recent=` returns.
pub const MAX_RECENT: i64 = 20;
/// The default priority of the site (Medium), as on a new Jira site.
pub const DEFAULT_PRIORITY: &str = "3";
/// The default resolution (Done).
pub const DEFAULT_RESOLUTION: &str = "10000";

/// The `ProjectCategory` representation.
pub fn category_json(api: &str, c: &ProjectCategory) -> Value {
    json!({
        "self": format!("{api}/projectCategory/{}", c.id),
        "id": c.id,
        "name": c.name,
        "description": c.description,
    })
}

fn priority_description(id: &str) -> &'static str {
    match id {
        "1" => "This problem will block progress.",
        "2" => "Serious problem that could block progress.",
        "3" => "Has the potential to affect progress.",
        "4" => "Minor problem or easily worked around.",
        _ => "Trivial problem with little or no impact on progress.",
    }
}

fn priority_json(render: &Render<'_>, avatars: &str, p: &Priority) -> Value {
    json!({
        "self": format!("{}/priority/{}", render.api, p.id),
        "statusColor": p.color,
        "description": priority_description(&p.id),
        "iconUrl": format!("{avatars}/images/icons/priorities/{}.svg", p.name.to_ascii_lowercase()),
        "name": p.name,
        "id": p.id,
        "isDefault": p.id == DEFAULT_PRIORITY,
    })
}

fn resolution_json(render: &Render<'_>, r: &Resolution, with_default: bool) -> Value {
    let mut v = json!({
        "self": format!("{}/resolution/{}", render.api, r.id),
        "id": r.id,
        "description": r.description,
        "name": r.name,
    });
    if with_default {
        v["default"] = json!(r.id == DEFAULT_RESOLUTION);
    }
    v
}

/// The ids in a repeated/comma list parameter, or a 400 when one is not a number.
fn numeric_ids(params: &Params, key: &str) -> Result<Vec<String>, ApiError> {
    let ids = params.list(key);
    if let Some(bad) = ids.iter().find(|i| i.parse::<u64>().is_err()) {
        return Err(ApiError::platform_bad_request(&format!(
            "The value '{bad}' for the '{key}' parameter is not a valid number."
        )));
    }
    Ok(ids)
}

async fn all_projects(
    State(state): State<SimState>,
    version: ApiVersion,
    caller: Caller,
    params: Params,
) -> Result<Response, ApiError> {
    caller.require("getAllProjects")?;
    let recent = match params.get("recent").map(str::trim) {
        None | Some("") => None,
        Some(_) => Some(params.int("recent", 0)?.clamp(0, MAX_RECENT)),
    };
    let expand = params.list("expand");
    let entry = data::site(&state, &caller.site);
    let site = entry.read();
    let render = Render::for_caller(&site, &caller, state.base_url(), version);
    let mut projects: Vec<&Project> = site.projects().iter().collect();
    projects.sort_by(|a, b| a.key.cmp(&b.key));
    if let Some(n) = recent {
        // No views are tracked, so "recently accessed" means most recently updated.
        projects.sort_by_key(|p| std::cmp::Reverse(super::catalog::last_update(&site, p)));
        projects.truncate(usize::try_from(n).unwrap_or(0));
    }
    let today = super::parts::today(&state);
    let values: Vec<Value> = projects
        .iter()
        .map(|p| super::catalog::project_json(&render, p, &expand, false, &today))
        .collect();
    let cost = values.len() as u64;
    Ok(params::value(StatusCode::OK, &Value::Array(values), cost))
}

/// Project types the site is licensed for: key, formatted key, colour.
const PROJECT_TYPES: &[(&str, &str, &str)] = &[
    ("business", "Business", "#FFAB00"),
    ("service_desk", "Service Desk", "#36B37E"),
    ("software", "Software", "#0065FF"),
];

fn project_type_json(key: &str, formatted: &str, color: &str) -> Value {
    use base64::Engine as _;
    let svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"16\" height=\"16\"><rect width=\"16\" height=\"16\" rx=\"3\" fill=\"{color}\"/></svg>"
    );
    json!({
        "key": key,
        "formattedKey": formatted,
        "descriptionI18nKey": format!("jira.project.type.{key}.description"),
        "icon": base64::engine::general_purpose::STANDARD.encode(svg),
        "color": color,
    })
}

async fn project_types(caller: Caller) -> Result<Response, ApiError> {
    caller.require("getAllProjectTypes")?;
    let all: Vec<Value> = PROJECT_TYPES
        .iter()
        .map(|(k, f, c)| project_type_json(k, f, c))
        .collect();
    Ok(params::value(StatusCode::OK, &Value::Array(all), 0))
}

async fn project_type(caller: Caller, Path(key): Path<String>) -> Result<Response, ApiError> {
    caller.require("getProjectTypeByKey")?;
    let Some((k, f, c)) = PROJECT_TYPES.iter().find(|(k, _, _)| *k == key) else {
        return Err(ApiError::platform(
            StatusCode::NOT_FOUND,
            &[&format!(
                "The project type with key '{key}' does not exist."
            )],
            &[],
        ));
    };
    Ok(params::value(
        StatusCode::OK,
        &project_type_json(k, f, c),
        0,
    ))
}

fn api_of(caller: &Caller, version: ApiVersion) -> String {
    format!("{}/rest/api/{}", caller.base, version.segment())
}

async fn categories(version: ApiVersion, caller: Caller) -> Result<Response, ApiError> {
    caller.require("getAllProjectCategories")?;
    let api = api_of(&caller, version);
    let all: Vec<Value> = CATEGORIES.iter().map(|c| category_json(&api, c)).collect();
    Ok(params::value(StatusCode::OK, &Value::Array(all), 0))
}

async fn category(
    version: ApiVersion,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    caller.require("getProjectCategoryById")?;
    let Some(c) = CATEGORIES.iter().find(|c| c.id == id.trim()) else {
        return Err(ApiError::platform(
            StatusCode::NOT_FOUND,
            &[&format!("No project category with ID {id} found.")],
            &[],
        ));
    };
    let body = category_json(&api_of(&caller, version), c);
    Ok(params::value(StatusCode::OK, &body, 0))
}

async fn priorities(
    State(state): State<SimState>,
    version: ApiVersion,
    caller: Caller,
) -> Result<Response, ApiError> {
    caller.require("getPriorities")?;
    let entry = data::site(&state, &caller.site);
    let site = entry.read();
    let render = Render::for_caller(&site, &caller, state.base_url(), version);
    let all: Vec<Value> = site
        .catalog()
        .priorities
        .iter()
        .map(|p| priority_json(&render, state.base_url(), p))
        .collect();
    Ok(params::value(StatusCode::OK, &Value::Array(all), 0))
}

async fn search_priorities(
    State(state): State<SimState>,
    version: ApiVersion,
    caller: Caller,
    params: Params,
) -> Result<Response, ApiError> {
    caller.require("searchPriorities")?;
    let (start, max) = params::page(&params, CATALOGUE_PAGE.0, CATALOGUE_PAGE.1)?;
    let ids = numeric_ids(&params, "id")?;
    let project_ids = numeric_ids(&params, "projectId")?;
    let name = params
        .get("priorityName")
        .map(|n| n.trim().to_lowercase())
        .filter(|n| !n.is_empty());
    let only_default = params.bool("onlyDefault", false)?;
    let entry = data::site(&state, &caller.site);
    let site = entry.read();
    // Every project uses the default priority scheme, which holds every priority.
    let scheme_matches = project_ids.is_empty()
        || project_ids
            .iter()
            .any(|p| site.projects().iter().any(|x| x.id.to_string() == *p));
    let render = Render::for_caller(&site, &caller, state.base_url(), version);
    let matching: Vec<&Priority> = site
        .catalog()
        .priorities
        .iter()
        .filter(|_| scheme_matches)
        .filter(|p| ids.is_empty() || ids.contains(&p.id))
        .filter(|p| {
            name.as_ref()
                .is_none_or(|n| p.name.to_lowercase().contains(n.as_str()))
        })
        .filter(|p| !only_default || p.id == DEFAULT_PRIORITY)
        .collect();
    let values: Vec<Value> = matching
        .iter()
        .skip(start)
        .take(max)
        .map(|p| priority_json(&render, state.base_url(), p))
        .collect();
    let body = params::page_body(
        &format!("{}/priority/search", render.api),
        start,
        max,
        matching.len(),
        &values,
    );
    Ok(params::value(StatusCode::OK, &body, 0))
}

async fn priority(
    State(state): State<SimState>,
    version: ApiVersion,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    caller.require("getPriority")?;
    let entry = data::site(&state, &caller.site);
    let site = entry.read();
    let Some(p) = site.catalog().priorities.iter().find(|p| p.id == id.trim()) else {
        return Err(ApiError::platform(
            StatusCode::NOT_FOUND,
            &[&format!("The priority with ID '{id}' does not exist.")],
            &[],
        ));
    };
    let render = Render::for_caller(&site, &caller, state.base_url(), version);
    let body = priority_json(&render, state.base_url(), p);
    Ok(params::value(StatusCode::OK, &body, 0))
}

async fn resolutions(
    State(state): State<SimState>,
    version: ApiVersion,
    caller: Caller,
) -> Result<Response, ApiError> {
    caller.require("getResolutions")?;
    let entry = data::site(&state, &caller.site);
    let site = entry.read();
    let render = Render::for_caller(&site, &caller, state.base_url(), version);
    let all: Vec<Value> = site
        .catalog()
        .resolutions
        .iter()
        .map(|r| resolution_json(&render, r, false))
        .collect();
    Ok(params::value(StatusCode::OK, &Value::Array(all), 0))
}

async fn search_resolutions(
    State(state): State<SimState>,
    version: ApiVersion,
    caller: Caller,
    params: Params,
) -> Result<Response, ApiError> {
    caller.require("searchResolutions")?;
    let (start, max) = params::page(&params, CATALOGUE_PAGE.0, CATALOGUE_PAGE.1)?;
    let ids = numeric_ids(&params, "id")?;
    let only_default = params.bool("onlyDefault", false)?;
    let entry = data::site(&state, &caller.site);
    let site = entry.read();
    let render = Render::for_caller(&site, &caller, state.base_url(), version);
    let matching: Vec<&Resolution> = site
        .catalog()
        .resolutions
        .iter()
        .filter(|r| ids.is_empty() || ids.contains(&r.id))
        .filter(|r| !only_default || r.id == DEFAULT_RESOLUTION)
        .collect();
    let values: Vec<Value> = matching
        .iter()
        .skip(start)
        .take(max)
        .map(|r| resolution_json(&render, r, true))
        .collect();
    let body = params::page_body(
        &format!("{}/resolution/search", render.api),
        start,
        max,
        matching.len(),
        &values,
    );
    Ok(params::value(StatusCode::OK, &body, 0))
}

async fn resolution(
    State(state): State<SimState>,
    version: ApiVersion,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    caller.require("getResolution")?;
    let entry = data::site(&state, &caller.site);
    let site = entry.read();
    let Some(r) = site
        .catalog()
        .resolutions
        .iter()
        .find(|r| r.id == id.trim())
    else {
        return Err(ApiError::platform(
            StatusCode::NOT_FOUND,
            &[&format!("The resolution with ID '{id}' does not exist.")],
            &[],
        ));
    };
    let render = Render::for_caller(&site, &caller, state.base_url(), version);
    Ok(params::value(
        StatusCode::OK,
        &resolution_json(&render, r, false),
        0,
    ))
}

/// Jira's fixed status categories, with the `undefined` one no status uses.
fn status_categories(site: &SiteData) -> Vec<(u64, String, String, String)> {
    let mut all = vec![(
        1,
        "undefined".to_owned(),
        "medium-gray".to_owned(),
        "No Category".to_owned(),
    )];
    all.extend(
        site.catalog()
            .categories
            .iter()
            .map(|c| (c.id, c.key.clone(), c.color_name.clone(), c.name.clone())),
    );
    all
}

fn status_category_json(api: &str, c: &(u64, String, String, String)) -> Value {
    json!({
        "self": format!("{api}/statuscategory/{}", c.0),
        "id": c.0,
        "key": c.1,
        "colorName": c.2,
        "name": c.3,
    })
}

async fn all_status_categories(
    State(state): State<SimState>,
    version: ApiVersion,
    caller: Caller,
) -> Result<Response, ApiError> {
    caller.require("getStatusCategories")?;
    let entry = data::site(&state, &caller.site);
    let site = entry.read();
    let api = api_of(&caller, version);
    let all: Vec<Value> = status_categories(&site)
        .iter()
        .map(|c| status_category_json(&api, c))
        .collect();
    Ok(params::value(StatusCode::OK, &Value::Array(all), 0))
}

async fn status_category(
    State(state): State<SimState>,
    version: ApiVersion,
    caller: Caller,
    Path(id_or_key): Path<String>,
) -> Result<Response, ApiError> {
    caller.require("getStatusCategory")?;
    let entry = data::site(&state, &caller.site);
    let site = entry.read();
    let wanted = id_or_key.trim();
    let Some(c) = status_categories(&site)
        .into_iter()
        .find(|c| c.0.to_string() == wanted || c.1.eq_ignore_ascii_case(wanted))
    else {
        return Err(ApiError::platform(
            StatusCode::NOT_FOUND,
            &[&format!(
                "No status category with ID or key '{wanted}' found."
            )],
            &[],
        ));
    };
    let body = status_category_json(&api_of(&caller, version), &c);
    Ok(params::value(StatusCode::OK, &body, 0))
}

async fn project_statuses(
    State(state): State<SimState>,
    version: ApiVersion,
    caller: Caller,
    Path(key): Path<String>,
) -> Result<Response, ApiError> {
    caller.require("getAllStatuses")?;
    let entry = data::site(&state, &caller.site);
    let site = entry.read();
    let project = params::project_or_404(&site, &key)?;
    let render = Render::for_caller(&site, &caller, state.base_url(), version);
    let statuses: Vec<Value> = site
        .catalog()
        .workflow_of(project)
        .map(|w| {
            w.statuses
                .iter()
                .map(|s| {
                    let mut out = String::new();
                    render.status(&mut out, s);
                    serde_json::from_str(&out).unwrap_or(Value::Null)
                })
                .collect()
        })
        .unwrap_or_default();
    let all: Vec<Value> = project
        .issue_type_ids
        .iter()
        .filter_map(|t| site.catalog().issue_type(t))
        .map(|t| {
            json!({
                "self": format!("{}/issueType/{}", render.api, t.id),
                "id": t.id,
                "name": t.name,
                "subtask": t.subtask,
                "statuses": statuses,
            })
        })
        .collect();
    Ok(params::value(StatusCode::OK, &Value::Array(all), 0))
}

/// Project roles of a site: id, name, description, whether service desks only.
const ROLES: &[(u64, &str, &str, bool)] = &[
    (
        10002,
        "Administrators",
        "A project role that represents administrators in a project",
        false,
    ),
    (
        10003,
        "Member",
        "A project role that represents members in a project",
        false,
    ),
    (
        10004,
        "Viewer",
        "A project role that represents viewers in a project",
        false,
    ),
    (
        10100,
        "Service Desk Team",
        "Members of the service desk team",
        true,
    ),
    (
        10101,
        "Service Desk Customers",
        "Customers of the service desk",
        true,
    ),
];

fn roles_of(
    project: &Project,
) -> impl Iterator<Item = &'static (u64, &'static str, &'static str, bool)> {
    let desk = project.project_type_key == "service_desk";
    ROLES.iter().filter(move |r| desk || !r.3)
}

fn role_json(api: &str, role: &(u64, &str, &str, bool)) -> Value {
    json!({
        "self": format!("{api}/role/{}", role.0),
        "name": role.1,
        "id": role.0,
        "description": role.2,
        "admin": role.0 == 10002,
        "default": role.0 == 10003,
        "roleConfigurable": true,
        "translatedName": role.1,
    })
}

async fn all_roles(version: ApiVersion, caller: Caller) -> Result<Response, ApiError> {
    caller.require("getAllProjectRoles")?;
    let api = api_of(&caller, version);
    let all: Vec<Value> = ROLES.iter().map(|r| role_json(&api, r)).collect();
    Ok(params::value(StatusCode::OK, &Value::Array(all), 0))
}

async fn project_roles(
    State(state): State<SimState>,
    version: ApiVersion,
    caller: Caller,
    Path(key): Path<String>,
) -> Result<Response, ApiError> {
    caller.require("getProjectRoles")?;
    let entry = data::site(&state, &caller.site);
    let site = entry.read();
    let project = params::project_or_404(&site, &key)?;
    let api = api_of(&caller, version);
    let map: serde_json::Map<String, Value> = roles_of(project)
        .map(|r| {
            (
                r.1.to_owned(),
                json!(format!("{api}/project/{}/role/{}", project.id, r.0)),
            )
        })
        .collect();
    Ok(params::value(StatusCode::OK, &Value::Object(map), 0))
}

async fn project_role(
    State(state): State<SimState>,
    version: ApiVersion,
    caller: Caller,
    Path((key, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    caller.require("getProjectRole")?;
    let entry = data::site(&state, &caller.site);
    let site = entry.read();
    let project = params::project_or_404(&site, &key)?;
    let Some(role) = roles_of(project).find(|r| r.0.to_string() == id.trim()) else {
        return Err(ApiError::platform(
            StatusCode::NOT_FOUND,
            &[&format!("No role with ID {id} exists in the project.")],
            &[],
        ));
    };
    let api = api_of(&caller, version);
    let mut body = role_json(&api, role);
    body["self"] = json!(format!("{api}/project/{}/role/{}", project.id, role.0));
    // The lead administers the project; members and viewers come from the users group.
    let actors: Vec<Value> = match role.0 {
        10002 => site
            .user(&project.lead)
            .map(|u| {
                json!({
                    "id": 1,
                    "displayName": u.display_name,
                    "type": "atlassian-user-role-actor",
                    "actorUser": { "accountId": u.account_id },
                })
            })
            .into_iter()
            .collect(),
        10003 | 10100 => {
            let group = if role.0 == 10003 {
                crate::data::groups::SOFTWARE_USERS
            } else {
                crate::data::groups::SERVICE_USERS
            };
            vec![json!({
                "id": 2,
                "displayName": group,
                "name": group,
                "type": "atlassian-group-role-actor",
                "actorGroup": {
                    "name": group,
                    "displayName": group,
                    "groupId": crate::data::groups::group_id(site.seed(), group),
                },
            })]
        }
        _ => Vec::new(),
    };
    body["actors"] = Value::Array(actors);
    Ok(params::value(StatusCode::OK, &body, 0))
}

async fn labels(
    State(state): State<SimState>,
    version: ApiVersion,
    caller: Caller,
    params: Params,
) -> Result<Response, ApiError> {
    caller.require("getAllLabels")?;
    let (start, max) = params::page(&params, LABEL_PAGE.0, LABEL_PAGE.1)?;
    let entry = data::site(&state, &caller.site);
    let all = entry.read().labels();
    let values: Vec<Value> = all.iter().skip(start).take(max).map(|l| json!(l)).collect();
    let body = params::page_body(
        &format!("{}/label", api_of(&caller, version)),
        start,
        max,
        all.len(),
        &values,
    );
    Ok(params::value(StatusCode::OK, &body, 0))
}

/// Routes of this module.
pub fn router() -> Router<SimState> {
    let mut r = Router::new();
    r = versioned(r, "/project", &get(all_projects));
    r = versioned(r, "/project/type", &get(project_types));
    r = versioned(r, "/project/type/{key}", &get(project_type));
    r = versioned(r, "/projectCategory", &get(categories));
    r = versioned(r, "/projectCategory/{id}", &get(category));
    r = versioned(r, "/priority", &get(priorities));
    r = versioned(r, "/priority/search", &get(search_priorities));
    r = versioned(r, "/priority/{id}", &get(priority));
    r = versioned(r, "/resolution", &get(resolutions));
    r = versioned(r, "/resolution/search", &get(search_resolutions));
    r = versioned(r, "/resolution/{id}", &get(resolution));
    r = versioned(r, "/statuscategory", &get(all_status_categories));
    r = versioned(r, "/statuscategory/{idOrKey}", &get(status_category));
    r = versioned(r, "/project/{key}/statuses", &get(project_statuses));
    r = versioned(r, "/role", &get(all_roles));
    r = versioned(r, "/project/{key}/role", &get(project_roles));
    r = versioned(r, "/project/{key}/role/{id}", &get(project_role));
    versioned(r, "/label", &get(labels))
}
