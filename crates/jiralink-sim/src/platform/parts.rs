//! Project versions and components: `GET /project/{k}/versions`, `GET /project/{k}/version`
//! (paged), `POST /version`, `GET|PUT|DELETE /version/{id}`, `POST /version/{id}/removeAndSwap`,
//! `/version/{id}/relatedIssueCounts`,
//! `/version/{id}/unresolvedIssueCount`; `GET /project/{k}/components`,
//! `GET /project/{k}/component` (paged), `GET|POST /component`, `GET|PUT|DELETE /component/{id}`,
//! `/component/{id}/relatedIssueCounts`.
//!
//! The data is the project's own lists ([`crate::data::parts`]), so issues, create/edit
//! validation and `GET /project/{k}` see every write at once.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use serde_json::{Map, Value, json};

use super::params::page_body;
use super::params::{self, Params};
use super::render::Render;
use super::{ApiVersion, versioned};
use crate::auth::Caller;
use crate::data::parts::{PartCounts, PartWrite};
use crate::data::store::valid_date;
use crate::data::{self, Component, DataError, Project, SiteData, Version};
use crate::errors::ApiError;
use crate::state::SimState;

/// Default and largest page of the paged version and component lists.
pub const PARTS_PAGE: (i64, i64) = (50, 50);
/// Largest version description, in bytes.
pub const MAX_VERSION_DESCRIPTION: usize = 16_384;
/// Component assignee types Jira accepts.
pub const ASSIGNEE_TYPES: [&str; 4] = [
    "PROJECT_DEFAULT",
    "COMPONENT_LEAD",
    "PROJECT_LEAD",
    "UNASSIGNED",
];

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// `2026-03-31` in the site's default day format, `31/Mar/26`.
fn user_date(date: &str) -> Option<String> {
    let mut parts = date.split('-');
    let year: u32 = parts.next()?.parse().ok()?;
    let month: usize = parts.next()?.parse().ok()?;
    let day: u32 = parts.next()?.parse().ok()?;
    let name = MONTHS.get(month.checked_sub(1)?)?;
    Some(format!("{day}/{name}/{:02}", year % 100))
}

/// Today's date (UTC) on the simulated clock, `YYYY-MM-DD`.
pub fn today(state: &SimState) -> String {
    let day = data::now_ms(state).div_euclid(86_400_000);
    data::generate::day_string(day)
}

/// The `Version` representation.
pub fn version_json(
    api: &str,
    project: &Project,
    v: &Version,
    today: &str,
    expand: &[String],
) -> Value {
    let mut out = json!({
        "self": format!("{api}/version/{}", v.id),
        "id": v.id,
        "name": v.name,
        "archived": v.archived,
        "released": v.released,
        "projectId": project.id,
    });
    if !v.description.is_empty() {
        out["description"] = json!(v.description);
    }
    if let Some(d) = &v.start_date {
        out["startDate"] = json!(d);
        if let Some(u) = user_date(d) {
            out["userStartDate"] = json!(u);
        }
    }
    if let Some(d) = &v.release_date {
        out["releaseDate"] = json!(d);
        out["overdue"] = json!(!v.released && d.as_str() < today);
        if let Some(u) = user_date(d) {
            out["userReleaseDate"] = json!(u);
        }
    }
    let has = |e: &str| expand.iter().any(|x| x == e);
    if has("driver")
        && let Some(d) = &v.driver
    {
        out["driver"] = json!(d);
    }
    if has("approvers") {
        out["approvers"] = json!([]);
    }
    if has("operations") {
        out["operations"] = json!([]);
    }
    out
}

/// Adds `issuesStatusForFixVersion` (the `issuesstatus` expansion) when asked for.
fn add_issue_status(out: &mut Value, counts: Option<&PartCounts>, id: &str) {
    let Some(counts) = counts else {
        return;
    };
    let of = |key: &str| {
        counts
            .categories
            .get(id)
            .and_then(|c| c.get(key))
            .copied()
            .unwrap_or(0)
    };
    out["issuesStatusForFixVersion"] = json!({
        "unmapped": 0,
        "toDo": of("new"),
        "inProgress": of("indeterminate"),
        "done": of("done"),
    });
}

/// Counts for the `issuesstatus` expansion, only when it is asked for.
fn status_counts(site: &SiteData, project: &Project, expand: &[String]) -> Option<PartCounts> {
    expand
        .iter()
        .any(|e| e == "issuesstatus")
        .then(|| site.part_counts(project.id))
}

/// The `ProjectComponent` representation.
pub fn component_json(render: &Render<'_>, project: &Project, c: &Component) -> Value {
    let site = render.data;
    let user = |id: &str| {
        let mut s = String::new();
        render.user(&mut s, id);
        serde_json::from_str::<Value>(&s).unwrap_or(Value::Null)
    };
    let assignee_type = c.assignee_type.as_deref().unwrap_or("PROJECT_DEFAULT");
    // The project's own default assignee is "unassigned".
    let (real_type, real, valid) = match assignee_type {
        "COMPONENT_LEAD" => match c.lead.as_deref().filter(|l| site.user(l).is_some()) {
            Some(lead) => ("COMPONENT_LEAD", Some(lead), true),
            None => ("UNASSIGNED", None, false),
        },
        "PROJECT_LEAD" => ("PROJECT_LEAD", Some(project.lead.as_str()), true),
        _ => ("UNASSIGNED", None, true),
    };
    let mut out = json!({
        "self": format!("{}/component/{}", render.api, c.id),
        "id": c.id,
        "name": c.name,
        "assigneeType": assignee_type,
        "realAssigneeType": real_type,
        "isAssigneeTypeValid": valid,
        "project": project.key,
        "projectId": project.id,
    });
    if !c.description.is_empty() {
        out["description"] = json!(c.description);
    }
    if let Some(lead) = c.lead.as_deref().filter(|l| site.user(l).is_some()) {
        out["lead"] = user(lead);
        out["leadAccountId"] = json!(lead);
    }
    if (assignee_type == "COMPONENT_LEAD" || assignee_type == "PROJECT_LEAD")
        && let Some(a) = real
    {
        out["assignee"] = user(a);
    }
    if let Some(a) = real {
        out["realAssignee"] = user(a);
    }
    out
}

fn version_not_found(id: &str) -> ApiError {
    ApiError::platform(
        StatusCode::NOT_FOUND,
        &[&format!("Could not find version for id '{id}'")],
        &[],
    )
}

fn component_not_found(id: &str) -> ApiError {
    ApiError::platform(
        StatusCode::NOT_FOUND,
        &[&format!("The component with id {id} does not exist.")],
        &[],
    )
}

fn field_error(field: &str, message: &str) -> ApiError {
    ApiError::platform(StatusCode::BAD_REQUEST, &[], &[(field, message)])
}

fn api_of(caller: &Caller, version: ApiVersion) -> String {
    format!("{}/rest/api/{}", caller.base, version.segment())
}

fn order(params: &Params, allowed: &[&str]) -> Result<Option<(String, bool)>, ApiError> {
    let Some(raw) = params
        .get("orderBy")
        .map(str::trim)
        .filter(|o| !o.is_empty())
    else {
        return Ok(None);
    };
    let (descending, field) = match raw.strip_prefix('-') {
        Some(f) => (true, f),
        None => (false, raw.trim_start_matches('+')),
    };
    if !allowed.contains(&field) {
        return Err(ApiError::platform_bad_request(&format!(
            "The orderBy value '{raw}' is not supported."
        )));
    }
    Ok(Some((field.to_owned(), descending)))
}

// ---------------------------------------------------------------------------------------------
// Versions.

async fn project_versions(
    State(state): State<SimState>,
    version: ApiVersion,
    caller: Caller,
    Path(key): Path<String>,
    params: Params,
) -> Result<Response, ApiError> {
    caller.require("getProjectVersions")?;
    let entry = data::site(&state, &caller.site);
    let site = entry.read();
    let project = params::project_or_404(&site, &key)?;
    let api = api_of(&caller, version);
    let today = today(&state);
    let expand = params.list("expand");
    let counts = status_counts(&site, project, &expand);
    let all: Vec<Value> = project
        .versions
        .iter()
        .map(|v| {
            let mut out = version_json(&api, project, v, &today, &expand);
            add_issue_status(&mut out, counts.as_ref(), &v.id);
            out
        })
        .collect();
    Ok(params::value(StatusCode::OK, &Value::Array(all), 0))
}

async fn project_versions_paged(
    State(state): State<SimState>,
    version: ApiVersion,
    caller: Caller,
    Path(key): Path<String>,
    params: Params,
) -> Result<Response, ApiError> {
    caller.require("getProjectVersionsPaginated")?;
    let (start, max) = params::page(&params, PARTS_PAGE.0, PARTS_PAGE.1)?;
    let order = order(
        &params,
        &[
            "description",
            "name",
            "releaseDate",
            "sequence",
            "startDate",
        ],
    )?;
    let statuses = params.list("status");
    if let Some(bad) = statuses
        .iter()
        .find(|s| !matches!(s.as_str(), "released" | "unreleased" | "archived"))
    {
        return Err(ApiError::platform_bad_request(&format!(
            "The status '{bad}' is not valid; use released, unreleased or archived."
        )));
    }
    let query = params
        .get("query")
        .map(|q| q.trim().to_lowercase())
        .filter(|q| !q.is_empty());
    let entry = data::site(&state, &caller.site);
    let site = entry.read();
    let project = params::project_or_404(&site, &key)?;
    let mut versions: Vec<&Version> = project
        .versions
        .iter()
        .filter(|v| {
            statuses.is_empty()
                || statuses.iter().any(|s| match s.as_str() {
                    "released" => v.released && !v.archived,
                    "unreleased" => !v.released && !v.archived,
                    _ => v.archived,
                })
        })
        .filter(|v| {
            query.as_ref().is_none_or(|q| {
                v.name.to_lowercase().contains(q.as_str())
                    || v.description.to_lowercase().contains(q.as_str())
            })
        })
        .collect();
    if let Some((field, descending)) = order {
        match field.as_str() {
            "name" => versions.sort_by_key(|v| v.name.to_lowercase()),
            "description" => versions.sort_by_key(|v| v.description.to_lowercase()),
            "releaseDate" => versions.sort_by(|a, b| a.release_date.cmp(&b.release_date)),
            "startDate" => versions.sort_by(|a, b| a.start_date.cmp(&b.start_date)),
            _ => {}
        }
        if descending {
            versions.reverse();
        }
    }
    let api = api_of(&caller, version);
    let today = today(&state);
    let expand = params.list("expand");
    let counts = status_counts(&site, project, &expand);
    let values: Vec<Value> = versions
        .iter()
        .skip(start)
        .take(max)
        .map(|v| {
            let mut out = version_json(&api, project, v, &today, &expand);
            add_issue_status(&mut out, counts.as_ref(), &v.id);
            out
        })
        .collect();
    let body = page_body(
        &format!("{api}/project/{}/version", project.key),
        start,
        max,
        versions.len(),
        &values,
    );
    Ok(params::value(StatusCode::OK, &body, 0))
}

fn opt_string(body: &Map<String, Value>, key: &str) -> Result<Option<String>, ApiError> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(ApiError::platform_bad_request(params::INVALID_PAYLOAD)),
    }
}

fn opt_bool(body: &Map<String, Value>, key: &str) -> Result<Option<bool>, ApiError> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => Err(ApiError::platform_bad_request(params::INVALID_PAYLOAD)),
    }
}

fn opt_date(body: &Map<String, Value>, key: &str) -> Result<Option<Option<String>>, ApiError> {
    match body.get(key) {
        None => Ok(None),
        Some(Value::Null) => Ok(Some(None)),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(Some(None)),
        Some(Value::String(s)) if valid_date(s.trim()) => Ok(Some(Some(s.trim().to_owned()))),
        Some(_) => Err(field_error(
            key,
            "The date format is invalid; use yyyy-MM-dd.",
        )),
    }
}

/// Applies the writable `Version` fields of a request body.
fn apply_version_body(v: &mut Version, body: &Map<String, Value>) -> Result<(), ApiError> {
    if let Some(name) = opt_string(body, "name")? {
        v.name = name.trim().to_owned();
    }
    if let Some(d) = opt_string(body, "description")? {
        if d.len() > MAX_VERSION_DESCRIPTION {
            return Err(field_error(
                "description",
                "The description must not exceed 16384 bytes.",
            ));
        }
        v.description = d;
    }
    if let Some(b) = opt_bool(body, "archived")? {
        v.archived = b;
    }
    if let Some(b) = opt_bool(body, "released")? {
        v.released = b;
    }
    if let Some(d) = opt_date(body, "releaseDate")? {
        v.release_date = d;
    }
    if let Some(d) = opt_date(body, "startDate")? {
        v.start_date = d;
    }
    if let (Some(s), Some(r)) = (&v.start_date, &v.release_date)
        && s > r
    {
        return Err(field_error(
            "startDate",
            "The start date must be before the release date.",
        ));
    }
    Ok(())
}

fn part_error(e: DataError) -> ApiError {
    params::data_error(e)
}

fn body_project<'a>(
    site: &'a SiteData,
    body: &Map<String, Value>,
    message: &str,
) -> Result<&'a Project, ApiError> {
    let wanted = match (body.get("projectId"), body.get("project")) {
        (Some(Value::Number(n)), _) => n.to_string(),
        (Some(Value::String(s)), _) | (None | Some(Value::Null), Some(Value::String(s))) => {
            s.clone()
        }
        (None | Some(Value::Null), None | Some(Value::Null)) => {
            return Err(field_error("project", message));
        }
        _ => return Err(ApiError::platform_bad_request(params::INVALID_PAYLOAD)),
    };
    site.project_by_key_or_id(wanted.trim())
        .ok_or_else(|| params::project_not_found(&wanted))
}

async fn create_version(
    State(state): State<SimState>,
    version: ApiVersion,
    caller: Caller,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    caller.require("createVersion")?;
    let body: Map<String, Value> = params::body(&bytes)?;
    let mut new = Version::default();
    apply_version_body(&mut new, &body)?;
    let entry = data::site(&state, &caller.site);
    let created = {
        let mut site = entry.write();
        let project_id = body_project(
            &site,
            &body,
            "Project must be specified to create a version.",
        )?
        .id;
        site.create_version(project_id, new).map_err(part_error)?
    };
    let site = entry.read();
    let (project, v) = site
        .version(&created.id)
        .ok_or_else(|| version_not_found(&created.id))?;
    let body = version_json(&api_of(&caller, version), project, v, &today(&state), &[]);
    Ok(params::value(StatusCode::CREATED, &body, 1))
}

async fn get_version(
    State(state): State<SimState>,
    version: ApiVersion,
    caller: Caller,
    Path(id): Path<String>,
    params: Params,
) -> Result<Response, ApiError> {
    caller.require("getVersion")?;
    let entry = data::site(&state, &caller.site);
    let site = entry.read();
    let (project, v) = site.version(&id).ok_or_else(|| version_not_found(&id))?;
    let expand = params.list("expand");
    let mut body = version_json(
        &api_of(&caller, version),
        project,
        v,
        &today(&state),
        &expand,
    );
    add_issue_status(
        &mut body,
        status_counts(&site, project, &expand).as_ref(),
        &v.id,
    );
    Ok(params::value(StatusCode::OK, &body, 0))
}

async fn update_version(
    State(state): State<SimState>,
    version: ApiVersion,
    caller: Caller,
    Path(id): Path<String>,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    caller.require("updateVersion")?;
    let body: Map<String, Value> = params::body(&bytes)?;
    let entry = data::site(&state, &caller.site);
    {
        let mut site = entry.write();
        let (project, current) = site.version(&id).ok_or_else(|| version_not_found(&id))?;
        let was_released = current.released;
        let mut changed = current.clone();
        apply_version_body(&mut changed, &body)?;
        // The target is given as the other version's `self` URL; its last segment is the id.
        let unfixed_to = opt_string(&body, "moveUnfixedIssuesTo")?
            .map(|url| {
                let target = url.trim().trim_end_matches('/');
                let target = target.rsplit('/').next().unwrap_or_default().to_owned();
                if target == changed.id || !project.versions.iter().any(|v| v.id == target) {
                    return Err(field_error(
                        "moveUnfixedIssuesTo",
                        "The version to move unfixed issues to does not exist in the project.",
                    ));
                }
                Ok(target)
            })
            .transpose()?;
        let releasing = changed.released && !was_released;
        site.update_version(&id, |v| *v = changed)
            .map_err(part_error)?;
        if releasing && let Some(target) = unfixed_to {
            let from = id.trim().to_owned();
            let by = PartWrite {
                actor: &caller.user.account_id,
                now_ms: data::now_ms(&state),
            };
            site.move_unfixed_issues(&from, &target, by)
                .map_err(part_error)?;
        }
    }
    let site = entry.read();
    let (project, v) = site.version(&id).ok_or_else(|| version_not_found(&id))?;
    let body = version_json(&api_of(&caller, version), project, v, &today(&state), &[]);
    Ok(params::value(StatusCode::OK, &body, 1))
}

async fn delete_version(
    State(state): State<SimState>,
    caller: Caller,
    Path(id): Path<String>,
    params: Params,
) -> Result<Response, ApiError> {
    caller.require("deleteVersion")?;
    let fix_to = params
        .get("moveFixIssuesTo")
        .map(str::trim)
        .filter(|s| !s.is_empty());
    let affected_to = params
        .get("moveAffectedIssuesTo")
        .map(str::trim)
        .filter(|s| !s.is_empty());
    let entry = data::site(&state, &caller.site);
    let by = PartWrite {
        actor: &caller.user.account_id,
        now_ms: data::now_ms(&state),
    };
    remove_version(&mut entry.write(), &id, fix_to, affected_to, by)?;
    Ok(params::no_content())
}

fn remove_version(
    site: &mut SiteData,
    id: &str,
    fix_to: Option<&str>,
    affected_to: Option<&str>,
    by: PartWrite<'_>,
) -> Result<(), ApiError> {
    let (project, _) = site.version(id).ok_or_else(|| version_not_found(id))?;
    if let Some(t) = affected_to
        && (t == id.trim() || !project.versions.iter().any(|v| v.id == t))
    {
        return Err(ApiError::platform_bad_request(&format!(
            "The version with id {t} to move affected issues to does not exist in the project."
        )));
    }
    if fix_to == Some(id.trim()) {
        return Err(ApiError::platform_bad_request(
            "A version cannot be replaced by itself.",
        ));
    }
    site.delete_version(id, fix_to, affected_to, by)
        .map_err(part_error)
}

/// A version id given as a JSON number (or a numeric string).
fn body_version_id(body: &Map<String, Value>, key: &str) -> Result<Option<String>, ApiError> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(Value::String(s)) if s.trim().parse::<u64>().is_ok() => Ok(Some(s.trim().to_owned())),
        Some(_) => Err(ApiError::platform_bad_request(params::INVALID_PAYLOAD)),
    }
}

async fn remove_and_swap(
    State(state): State<SimState>,
    caller: Caller,
    Path(id): Path<String>,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    caller.require("deleteAndReplaceVersion")?;
    let body: Map<String, Value> = params::body(&bytes)?;
    let fix_to = body_version_id(&body, "moveFixIssuesTo")?;
    let affected_to = body_version_id(&body, "moveAffectedIssuesTo")?;
    // Custom version fields do not exist here, so a replacement can only name an unknown one.
    if let Some(Value::Array(list)) = body.get("customFieldReplacementList")
        && let Some(first) = list.first()
    {
        let field = first
            .get("customFieldId")
            .map(Value::to_string)
            .unwrap_or_default();
        return Err(ApiError::platform_bad_request(&format!(
            "The custom field {field} is not a version field."
        )));
    }
    let entry = data::site(&state, &caller.site);
    let by = PartWrite {
        actor: &caller.user.account_id,
        now_ms: data::now_ms(&state),
    };
    remove_version(
        &mut entry.write(),
        &id,
        fix_to.as_deref(),
        affected_to.as_deref(),
        by,
    )?;
    Ok(params::no_content())
}

async fn version_related_counts(
    State(state): State<SimState>,
    version: ApiVersion,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    caller.require("getVersionRelatedIssues")?;
    let entry = data::site(&state, &caller.site);
    let site = entry.read();
    let (project, v) = site.version(&id).ok_or_else(|| version_not_found(&id))?;
    let counts = site.part_counts(project.id);
    let body = json!({
        "self": format!("{}/version/{}", api_of(&caller, version), v.id),
        "issuesFixedCount": counts.fixed.get(&v.id).copied().unwrap_or(0),
        "issuesAffectedCount": counts.affected.get(&v.id).copied().unwrap_or(0),
        "issueCountWithCustomFieldsShowingVersion": 0,
        "customFieldUsage": [],
    });
    Ok(params::value(StatusCode::OK, &body, 1))
}

async fn version_unresolved_count(
    State(state): State<SimState>,
    version: ApiVersion,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    caller.require("getVersionUnresolvedIssues")?;
    let entry = data::site(&state, &caller.site);
    let site = entry.read();
    let (project, v) = site.version(&id).ok_or_else(|| version_not_found(&id))?;
    let counts = site.part_counts(project.id);
    let body = json!({
        "self": format!("{}/version/{}", api_of(&caller, version), v.id),
        "issuesCount": counts.fixed.get(&v.id).copied().unwrap_or(0),
        "issuesUnresolvedCount": counts.unresolved.get(&v.id).copied().unwrap_or(0),
    });
    Ok(params::value(StatusCode::OK, &body, 1))
}

// ---------------------------------------------------------------------------------------------
// Components.

fn component_source(params: &Params) -> Result<(), ApiError> {
    match params.get("componentSource").map(str::trim) {
        None | Some("" | "jira" | "auto") => Ok(()),
        // No Compass components exist on a simulated site; the list is just empty.
        Some("compass") => Ok(()),
        Some(other) => Err(ApiError::platform_bad_request(&format!(
            "The componentSource value '{other}' is not valid; use jira, compass or auto."
        ))),
    }
}

async fn project_components(
    State(state): State<SimState>,
    version: ApiVersion,
    caller: Caller,
    Path(key): Path<String>,
    params: Params,
) -> Result<Response, ApiError> {
    caller.require("getProjectComponents")?;
    component_source(&params)?;
    let compass_only = params.get("componentSource").map(str::trim) == Some("compass");
    let entry = data::site(&state, &caller.site);
    let site = entry.read();
    let project = params::project_or_404(&site, &key)?;
    let render = Render::for_caller(&site, &caller, state.base_url(), version);
    let all: Vec<Value> = project
        .components
        .iter()
        .filter(|_| !compass_only)
        .map(|c| component_json(&render, project, c))
        .collect();
    Ok(params::value(StatusCode::OK, &Value::Array(all), 0))
}

async fn project_components_paged(
    State(state): State<SimState>,
    version: ApiVersion,
    caller: Caller,
    Path(key): Path<String>,
    params: Params,
) -> Result<Response, ApiError> {
    caller.require("getProjectComponentsPaginated")?;
    let (start, max) = params::page(&params, PARTS_PAGE.0, PARTS_PAGE.1)?;
    component_source(&params)?;
    let compass_only = params.get("componentSource").map(str::trim) == Some("compass");
    let order = order(&params, &["description", "issueCount", "lead", "name"])?;
    let query = params
        .get("query")
        .map(|q| q.trim().to_lowercase())
        .filter(|q| !q.is_empty());
    let entry = data::site(&state, &caller.site);
    let site = entry.read();
    let project = params::project_or_404(&site, &key)?;
    let counts = site.part_counts(project.id);
    let count = |c: &Component| counts.components.get(&c.id).copied().unwrap_or(0);
    let mut components: Vec<&Component> = project
        .components
        .iter()
        .filter(|_| !compass_only)
        .filter(|c| {
            query.as_ref().is_none_or(|q| {
                c.name.to_lowercase().contains(q.as_str())
                    || c.description.to_lowercase().contains(q.as_str())
            })
        })
        .collect();
    let (field, descending) = order.unwrap_or(("name".to_owned(), false));
    match field.as_str() {
        "description" => components.sort_by_key(|c| c.description.to_lowercase()),
        "issueCount" => components.sort_by_key(|c| count(c)),
        "lead" => components.sort_by(|a, b| a.lead.cmp(&b.lead)),
        _ => components.sort_by_key(|c| c.name.to_lowercase()),
    }
    if descending {
        components.reverse();
    }
    let render = Render::for_caller(&site, &caller, state.base_url(), version);
    let values: Vec<Value> = components
        .iter()
        .skip(start)
        .take(max)
        .map(|c| {
            let mut v = component_json(&render, project, c);
            if let Some(o) = v.as_object_mut() {
                o.remove("leadAccountId");
            }
            v["issueCount"] = json!(count(c));
            v
        })
        .collect();
    let body = page_body(
        &format!("{}/project/{}/component", render.api, project.key),
        start,
        max,
        components.len(),
        &values,
    );
    Ok(params::value(StatusCode::OK, &body, 0))
}

async fn components_of_projects(
    State(state): State<SimState>,
    version: ApiVersion,
    caller: Caller,
    params: Params,
) -> Result<Response, ApiError> {
    caller.require("findComponentsForProjects")?;
    let (start, max) = params::page(&params, PARTS_PAGE.0, PARTS_PAGE.1)?;
    let order = order(&params, &["description", "name"])?;
    let query = params
        .get("query")
        .map(|q| q.trim().to_lowercase())
        .filter(|q| !q.is_empty());
    let wanted = params.list("projectIdsOrKeys");
    let entry = data::site(&state, &caller.site);
    let site = entry.read();
    let projects: Vec<&Project> = if wanted.is_empty() {
        site.projects().iter().collect()
    } else {
        wanted
            .iter()
            .map(|k| params::project_or_404(&site, k))
            .collect::<Result<_, _>>()?
    };
    let mut components: Vec<&Component> = projects
        .iter()
        .flat_map(|p| p.components.iter())
        .filter(|c| {
            query.as_ref().is_none_or(|q| {
                c.name.to_lowercase().contains(q.as_str())
                    || c.description.to_lowercase().contains(q.as_str())
            })
        })
        .collect();
    if let Some((field, descending)) = order {
        if field == "description" {
            components.sort_by_key(|c| c.description.to_lowercase());
        } else {
            components.sort_by_key(|c| c.name.to_lowercase());
        }
        if descending {
            components.reverse();
        }
    }
    let api = api_of(&caller, version);
    let values: Vec<Value> = components
        .iter()
        .skip(start)
        .take(max)
        .map(|c| {
            let mut v = json!({
                "self": format!("{api}/component/{}", c.id),
                "id": c.id,
                "name": c.name,
            });
            if !c.description.is_empty() {
                v["description"] = json!(c.description);
            }
            v
        })
        .collect();
    let body = page_body(
        &format!("{api}/component"),
        start,
        max,
        components.len(),
        &values,
    );
    Ok(params::value(StatusCode::OK, &body, 0))
}

/// Applies the writable `ProjectComponent` fields of a request body.
fn apply_component_body(
    site: &SiteData,
    c: &mut Component,
    body: &Map<String, Value>,
) -> Result<(), ApiError> {
    if let Some(name) = opt_string(body, "name")? {
        c.name = name.trim().to_owned();
    }
    if let Some(d) = opt_string(body, "description")? {
        c.description = d;
    }
    match body.get("leadAccountId") {
        None => {}
        Some(Value::Null) => c.lead = None,
        Some(Value::String(s)) if s.trim().is_empty() => c.lead = None,
        Some(Value::String(s)) => {
            if site.user(s.trim()).is_none() {
                return Err(field_error(
                    "leadAccountId",
                    &format!("The user {s} does not exist."),
                ));
            }
            c.lead = Some(s.trim().to_owned());
        }
        Some(_) => return Err(ApiError::platform_bad_request(params::INVALID_PAYLOAD)),
    }
    if let Some(t) = opt_string(body, "assigneeType")? {
        if !ASSIGNEE_TYPES.contains(&t.as_str()) {
            return Err(field_error(
                "assigneeType",
                &format!("The assignee type '{t}' is not valid."),
            ));
        }
        c.assignee_type = Some(t);
    }
    Ok(())
}

async fn create_component(
    State(state): State<SimState>,
    version: ApiVersion,
    caller: Caller,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    caller.require("createComponent")?;
    let body: Map<String, Value> = params::body(&bytes)?;
    let entry = data::site(&state, &caller.site);
    let created = {
        let mut site = entry.write();
        let mut new = Component::default();
        apply_component_body(&site, &mut new, &body)?;
        let project_id = body_project(&site, &body, "The component must belong to a project.")?.id;
        site.create_component(project_id, new).map_err(part_error)?
    };
    let site = entry.read();
    let (project, c) = site
        .component(&created.id)
        .ok_or_else(|| component_not_found(&created.id))?;
    let render = Render::for_caller(&site, &caller, state.base_url(), version);
    let body = component_json(&render, project, c);
    Ok(params::value(StatusCode::CREATED, &body, 1))
}

async fn get_component(
    State(state): State<SimState>,
    version: ApiVersion,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    caller.require("getComponent")?;
    let entry = data::site(&state, &caller.site);
    let site = entry.read();
    let (project, c) = site
        .component(&id)
        .ok_or_else(|| component_not_found(&id))?;
    let render = Render::for_caller(&site, &caller, state.base_url(), version);
    let body = component_json(&render, project, c);
    Ok(params::value(StatusCode::OK, &body, 0))
}

async fn update_component(
    State(state): State<SimState>,
    version: ApiVersion,
    caller: Caller,
    Path(id): Path<String>,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    caller.require("updateComponent")?;
    let body: Map<String, Value> = params::body(&bytes)?;
    let entry = data::site(&state, &caller.site);
    {
        let mut site = entry.write();
        let (_, current) = site
            .component(&id)
            .ok_or_else(|| component_not_found(&id))?;
        let mut changed = current.clone();
        apply_component_body(&site, &mut changed, &body)?;
        site.update_component(&id, |c| *c = changed)
            .map_err(part_error)?;
    }
    let site = entry.read();
    let (project, c) = site
        .component(&id)
        .ok_or_else(|| component_not_found(&id))?;
    let render = Render::for_caller(&site, &caller, state.base_url(), version);
    let body = component_json(&render, project, c);
    Ok(params::value(StatusCode::OK, &body, 1))
}

async fn delete_component(
    State(state): State<SimState>,
    caller: Caller,
    Path(id): Path<String>,
    params: Params,
) -> Result<Response, ApiError> {
    caller.require("deleteComponent")?;
    let move_to = params
        .get("moveIssuesTo")
        .map(str::trim)
        .filter(|s| !s.is_empty());
    let entry = data::site(&state, &caller.site);
    let mut site = entry.write();
    site.component(&id)
        .ok_or_else(|| component_not_found(&id))?;
    if move_to.is_some_and(|t| site.component(t).is_none() || t == id.trim()) {
        return Err(component_not_found(move_to.unwrap_or_default()));
    }
    let by = PartWrite {
        actor: &caller.user.account_id,
        now_ms: data::now_ms(&state),
    };
    site.delete_component(&id, move_to, by)
        .map_err(part_error)?;
    Ok(params::no_content())
}

async fn component_related_counts(
    State(state): State<SimState>,
    version: ApiVersion,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    caller.require("getComponentRelatedIssues")?;
    let entry = data::site(&state, &caller.site);
    let site = entry.read();
    let (project, c) = site
        .component(&id)
        .ok_or_else(|| component_not_found(&id))?;
    let counts = site.part_counts(project.id);
    let body = json!({
        "self": format!("{}/component/{}", api_of(&caller, version), c.id),
        "issueCount": counts.components.get(&c.id).copied().unwrap_or(0),
    });
    Ok(params::value(StatusCode::OK, &body, 1))
}

/// Routes of this module.
pub fn router() -> Router<SimState> {
    let mut r = Router::new();
    r = versioned(r, "/project/{key}/versions", &get(project_versions));
    r = versioned(r, "/project/{key}/version", &get(project_versions_paged));
    r = versioned(r, "/version", &post(create_version));
    r = versioned(
        r,
        "/version/{id}",
        &get(get_version).put(update_version).delete(delete_version),
    );
    r = versioned(r, "/version/{id}/removeAndSwap", &post(remove_and_swap));
    r = versioned(
        r,
        "/version/{id}/relatedIssueCounts",
        &get(version_related_counts),
    );
    r = versioned(
        r,
        "/version/{id}/unresolvedIssueCount",
        &get(version_unresolved_count),
    );
    r = versioned(r, "/project/{key}/components", &get(project_components));
    r = versioned(
        r,
        "/project/{key}/component",
        &get(project_components_paged),
    );
    r = versioned(
        r,
        "/component",
        &get(components_of_projects).post(create_component),
    );
    r = versioned(
        r,
        "/component/{id}",
        &get(get_component)
            .put(update_component)
            .delete(delete_component),
    );
    versioned(
        r,
        "/component/{id}/relatedIssueCounts",
        &get(component_related_counts),
    )
}
