//! Users and groups: `GET /user`, `/user/bulk`, `/user/groups`, `/user/assignable/search`,
//! `/user/assignable/multiProjectSearch`, `/group`, `/group/bulk`, `/group/member`,
//! `/groups/picker`.
//!
//! Group membership is the site's (see [`crate::data::groups`]), the same `/myself` reports.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use serde_json::{Value, json};

use super::catalog::{USER_PAGE, user_json};
use super::params::{self, Params};
use super::render::Render;
use super::{ApiVersion, versioned};
use crate::auth::Caller;
use crate::data::groups::{Group, SERVICE_USERS, SOFTWARE_USERS};
use crate::data::{self, Project, SiteData, SiteUser};
use crate::errors::ApiError;
use crate::state::SimState;

/// Default and largest page of `GET /user/bulk`.
pub const BULK_PAGE: (i64, i64) = (10, 200);
/// Most `accountId` values `GET /user/bulk` takes.
pub const MAX_BULK_ACCOUNTS: usize = 90;
/// Default and largest page of `GET /group/member`.
pub const MEMBER_PAGE: (i64, i64) = (50, 50);
/// Default and largest number of groups `GET /groups/picker` returns.
pub const PICKER_MAX: (i64, i64) = (20, 1_000);

fn user_not_found() -> ApiError {
    ApiError::platform(
        StatusCode::NOT_FOUND,
        &["Specified user does not exist or you do not have required permissions"],
        &[],
    )
}

fn group_ref(api: &str, g: &Group) -> Value {
    json!({
        "name": g.name,
        "groupId": g.group_id,
        "self": format!("{api}/group?groupname={}", g.name),
    })
}

/// The application role every site user holds (Jira Software), as `/myself` shows it.
fn application_role(site: &SiteData) -> Value {
    let users = site.users().iter().filter(|u| u.active).count();
    json!({
        "key": "jira-software",
        "name": "Jira",
        "groups": [SOFTWARE_USERS],
        "groupDetails": [{"name": SOFTWARE_USERS, "groupId": crate::data::groups::group_id(site.seed(), SOFTWARE_USERS)}],
        "defaultGroups": [SOFTWARE_USERS],
        "selectedByDefault": false,
        "defined": true,
        "numberOfSeats": 35_000,
        "remainingSeats": 35_000_usize.saturating_sub(users),
        "userCount": users,
        "userCountDescription": "users",
        "hasUnlimitedSeats": false,
        "platform": false,
    })
}

/// The full `User` with `groups` and `applicationRoles` (items only when expanded).
fn full_user(render: &Render<'_>, user: &SiteUser, expand: &[String]) -> Value {
    let site = render.data;
    let mut v = user_json(render, user);
    let groups: Vec<Value> = site
        .groups_of(&user.account_id)
        .iter()
        .map(|g| group_ref(&render.api, g))
        .collect();
    let expanded = |e: &str| expand.iter().any(|x| x == e);
    v["groups"] = json!({
        "size": groups.len(),
        "items": if expanded("groups") { groups } else { Vec::new() },
    });
    v["applicationRoles"] = json!({
        "size": 1,
        "items": if expanded("applicationRoles") { vec![application_role(site)] } else { Vec::new() },
    });
    v["expand"] = json!("groups,applicationRoles");
    v
}

fn account_param<'a>(params: &'a Params, required: &str) -> Result<&'a str, ApiError> {
    params
        .get("accountId")
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .ok_or_else(|| ApiError::platform_bad_request(required))
}

async fn get_user(
    State(state): State<SimState>,
    version: ApiVersion,
    caller: Caller,
    params: Params,
) -> Result<Response, ApiError> {
    caller.require("getUser")?;
    let account = account_param(
        &params,
        "The accountId query parameter needs to be provided.",
    )?;
    let entry = data::site(&state, &caller.site);
    let site = entry.read();
    let user = site.user(account).ok_or_else(user_not_found)?;
    let render = Render::for_caller(&site, &caller, state.base_url(), version);
    let body = full_user(&render, user, &params.list("expand"));
    Ok(params::value(StatusCode::OK, &body, 1))
}

async fn bulk_users(
    State(state): State<SimState>,
    version: ApiVersion,
    caller: Caller,
    params: Params,
) -> Result<Response, ApiError> {
    caller.require("bulkGetUsers")?;
    let (start, max) = params::page(&params, BULK_PAGE.0, BULK_PAGE.1)?;
    let accounts: Vec<String> = params.list("accountId");
    if accounts.is_empty() {
        return Err(ApiError::platform_bad_request(
            "You must specify at least one accountId.",
        ));
    }
    if accounts.len() > MAX_BULK_ACCOUNTS {
        return Err(ApiError::platform_bad_request(&format!(
            "You can specify at most {MAX_BULK_ACCOUNTS} accountIds."
        )));
    }
    let entry = data::site(&state, &caller.site);
    let site = entry.read();
    let render = Render::for_caller(&site, &caller, state.base_url(), version);
    let mut seen = std::collections::BTreeSet::new();
    let found: Vec<&SiteUser> = accounts
        .iter()
        .filter(|a| seen.insert(a.as_str()))
        .filter_map(|a| site.user(a))
        .collect();
    let values: Vec<Value> = found
        .iter()
        .skip(start)
        .take(max)
        .map(|u| user_json(&render, u))
        .collect();
    let path = format!("{}/user/bulk", render.api);
    let cost = values.len() as u64;
    let body = params::page_body(&path, start, max, found.len(), &values);
    Ok(params::value(StatusCode::OK, &body, cost))
}

async fn user_groups(
    State(state): State<SimState>,
    version: ApiVersion,
    caller: Caller,
    params: Params,
) -> Result<Response, ApiError> {
    caller.require("getUserGroups")?;
    let account = account_param(
        &params,
        "The accountId query parameter needs to be provided.",
    )?;
    let entry = data::site(&state, &caller.site);
    let site = entry.read();
    site.user(account).ok_or_else(user_not_found)?;
    let api = format!("{}/rest/api/{}", caller.base, version.segment());
    let groups: Vec<Value> = site
        .groups_of(account)
        .iter()
        .map(|g| group_ref(&api, g))
        .collect();
    Ok(params::value(StatusCode::OK, &Value::Array(groups), 0))
}

/// Whether `user` may be assigned issues of `project`: active, and a service-management user
/// on a service desk.
fn assignable(site: &SiteData, project: &Project, user: &SiteUser) -> bool {
    user.active
        && (project.project_type_key != "service_desk"
            || site.is_member(&user.account_id, SERVICE_USERS))
}

fn matches_query(user: &SiteUser, query: Option<&str>) -> bool {
    query.is_none_or(|q| {
        let name = user.display_name.to_lowercase();
        name.starts_with(q)
            || name.split_whitespace().any(|w| w.starts_with(q))
            || user.email.to_lowercase().starts_with(q)
    })
}

async fn assignable_search(
    State(state): State<SimState>,
    version: ApiVersion,
    caller: Caller,
    params: Params,
) -> Result<Response, ApiError> {
    caller.require("findAssignableUsers")?;
    let (start, max) = params::page(&params, USER_PAGE.0, USER_PAGE.1)?;
    let query = params
        .get("query")
        .map(|q| q.trim().to_lowercase())
        .filter(|q| !q.is_empty());
    let account = params
        .get("accountId")
        .map(str::trim)
        .filter(|a| !a.is_empty());
    let entry = data::site(&state, &caller.site);
    let site = entry.read();
    let issue_ref = params
        .get("issueKey")
        .or_else(|| params.get("issueId"))
        .map(str::trim)
        .filter(|i| !i.is_empty());
    let project = if let Some(issue) = issue_ref {
        let issue = site.issue(issue).ok_or_else(params::issue_not_found)?;
        site.catalog()
            .project(issue.project_id)
            .ok_or_else(params::issue_not_found)?
    } else if let Some(key) = params
        .get("project")
        .map(str::trim)
        .filter(|p| !p.is_empty())
    {
        params::project_or_404(&site, key)?
    } else {
        return Err(ApiError::platform_bad_request(
            "A project, issue or action descriptor must be specified to search for assignable users.",
        ));
    };
    let render = Render::for_caller(&site, &caller, state.base_url(), version);
    let users: Vec<Value> = site
        .users()
        .iter()
        .filter(|u| assignable(&site, project, u))
        .filter(|u| account.is_none_or(|a| u.account_id == a))
        .filter(|u| matches_query(u, query.as_deref()))
        .skip(start)
        .take(max)
        .map(|u| user_json(&render, u))
        .collect();
    let cost = 2 * users.len() as u64;
    Ok(params::value(StatusCode::OK, &Value::Array(users), cost))
}

async fn multi_project_search(
    State(state): State<SimState>,
    version: ApiVersion,
    caller: Caller,
    params: Params,
) -> Result<Response, ApiError> {
    caller.require("findBulkAssignableUsers")?;
    let (start, max) = params::page(&params, USER_PAGE.0, USER_PAGE.1)?;
    let keys = params.list("projectKeys");
    if keys.is_empty() {
        return Err(ApiError::platform_bad_request(
            "The projectKeys parameter must be provided.",
        ));
    }
    let query = params
        .get("query")
        .map(|q| q.trim().to_lowercase())
        .filter(|q| !q.is_empty());
    let account = params
        .get("accountId")
        .map(str::trim)
        .filter(|a| !a.is_empty());
    let entry = data::site(&state, &caller.site);
    let site = entry.read();
    let projects = keys
        .iter()
        .map(|k| params::project_or_404(&site, k))
        .collect::<Result<Vec<&Project>, ApiError>>()?;
    let render = Render::for_caller(&site, &caller, state.base_url(), version);
    let users: Vec<Value> = site
        .users()
        .iter()
        .filter(|u| projects.iter().all(|p| assignable(&site, p, u)))
        .filter(|u| account.is_none_or(|a| u.account_id == a))
        .filter(|u| matches_query(u, query.as_deref()))
        .skip(start)
        .take(max)
        .map(|u| user_json(&render, u))
        .collect();
    let cost = 2 * users.len() as u64;
    Ok(params::value(StatusCode::OK, &Value::Array(users), cost))
}

fn group_param(site: &SiteData, params: &Params) -> Result<Group, ApiError> {
    let wanted = params
        .get("groupId")
        .or_else(|| params.get("groupname"))
        .map(str::trim)
        .filter(|g| !g.is_empty())
        .ok_or_else(|| {
            ApiError::platform_bad_request("Either a group name or a group id must be provided.")
        })?;
    site.find_group(wanted).ok_or_else(|| {
        ApiError::platform(
            StatusCode::NOT_FOUND,
            &[&format!("Group with name or id '{wanted}' does not exist.")],
            &[],
        )
    })
}

async fn group_members(
    State(state): State<SimState>,
    version: ApiVersion,
    caller: Caller,
    params: Params,
) -> Result<Response, ApiError> {
    caller.require("getUsersFromGroup")?;
    let (start, max) = params::page(&params, MEMBER_PAGE.0, MEMBER_PAGE.1)?;
    let inactive = params.bool("includeInactiveUsers", false)?;
    let entry = data::site(&state, &caller.site);
    let site = entry.read();
    let group = group_param(&site, &params)?;
    let render = Render::for_caller(&site, &caller, state.base_url(), version);
    let members: Vec<&SiteUser> = site
        .group_members(&group)
        .into_iter()
        .filter(|u| inactive || u.active)
        .collect();
    let values: Vec<Value> = members
        .iter()
        .skip(start)
        .take(max)
        .map(|u| user_details(&render, u))
        .collect();
    let path = format!(
        "{}/group/member?groupId={}&includeInactiveUsers={inactive}",
        render.api, group.group_id
    );
    let cost = values.len() as u64;
    let body = params::page_body(&path, start, max, members.len(), &values);
    Ok(params::value(StatusCode::OK, &body, cost))
}

fn user_details(render: &Render<'_>, u: &SiteUser) -> Value {
    let mut v = user_json(render, u);
    if let Some(o) = v.as_object_mut() {
        o.remove("locale");
    }
    v
}

/// Most members `GET /group?expand=users` lists.
pub const GROUP_USERS_PAGE: usize = 50;

/// `users` or `users[start:end]` (0-based, inclusive) in an `expand` list.
fn users_range(expand: &[String]) -> Result<Option<(usize, usize)>, ApiError> {
    let Some(e) = expand.iter().find(|e| e.starts_with("users")) else {
        return Ok(None);
    };
    let rest = &e["users".len()..];
    if rest.is_empty() {
        return Ok(Some((0, GROUP_USERS_PAGE - 1)));
    }
    let range = rest
        .strip_prefix('[')
        .and_then(|r| r.strip_suffix(']'))
        .and_then(|r| r.split_once(':'))
        .and_then(|(a, b)| {
            Some((
                a.trim().parse::<usize>().ok()?,
                b.trim().parse::<usize>().ok()?,
            ))
        })
        .filter(|(a, b)| a <= b);
    match range {
        Some((a, b)) => Ok(Some((a, b.min(a + GROUP_USERS_PAGE - 1)))),
        None => Err(ApiError::platform_bad_request(&format!(
            "The expand value '{e}' is not valid."
        ))),
    }
}

async fn get_group(
    State(state): State<SimState>,
    version: ApiVersion,
    caller: Caller,
    params: Params,
) -> Result<Response, ApiError> {
    caller.require("getGroup")?;
    let range = users_range(&params.list("expand"))?;
    let entry = data::site(&state, &caller.site);
    let site = entry.read();
    let group = group_param(&site, &params)?;
    let render = Render::for_caller(&site, &caller, state.base_url(), version);
    let members: Vec<&SiteUser> = site
        .group_members(&group)
        .into_iter()
        .filter(|u| u.active)
        .collect();
    let (start, end, items) = match range {
        Some((a, b)) => {
            let items: Vec<Value> = members
                .iter()
                .skip(a)
                .take(b + 1 - a)
                .map(|u| user_details(&render, u))
                .collect();
            let end = (a + items.len()).saturating_sub(1);
            (a, end, items)
        }
        None => (0, 0, Vec::new()),
    };
    let cost = items.len() as u64;
    let body = json!({
        "name": group.name,
        "groupId": group.group_id,
        "self": format!("{}/group?groupId={}", render.api, group.group_id),
        "users": {
            "size": members.len(),
            "items": items,
            "max-results": GROUP_USERS_PAGE,
            "start-index": start,
            "end-index": end,
        },
        "expand": "users",
    });
    Ok(params::value(StatusCode::OK, &body, cost))
}

/// Groups granting `access` to the product `app` (`GET /group/bulk` filters).
fn grants(group: &str, access: Option<&str>, app: Option<&str>) -> bool {
    let app_group = match app {
        None => None,
        Some("jira-software" | "jira-core" | "jira-product-discovery") => Some(SOFTWARE_USERS),
        Some(_) => Some(SERVICE_USERS),
    };
    match access {
        None => app_group.is_none_or(|g| g == group),
        Some("site-admin") => group == crate::data::groups::SITE_ADMINS,
        Some("admin") => group == crate::data::groups::ADMINISTRATORS,
        Some(_) => match app_group {
            Some(g) => g == group,
            None => group == SOFTWARE_USERS || group == SERVICE_USERS,
        },
    }
}

async fn bulk_groups(
    State(state): State<SimState>,
    version: ApiVersion,
    caller: Caller,
    params: Params,
) -> Result<Response, ApiError> {
    caller.require("bulkGetGroups")?;
    let (start, max) = params::page(&params, MEMBER_PAGE.0, MEMBER_PAGE.1)?;
    let access = params
        .get("accessType")
        .map(str::trim)
        .filter(|a| !a.is_empty());
    if let Some(a) = access.filter(|a| !matches!(*a, "site-admin" | "admin" | "user")) {
        return Err(ApiError::platform_bad_request(&format!(
            "The accessType '{a}' is not valid; use site-admin, admin or user."
        )));
    }
    let app = params
        .get("applicationKey")
        .map(str::trim)
        .filter(|a| !a.is_empty());
    if let Some(a) = app.filter(|a| {
        !matches!(
            *a,
            "jira-software" | "jira-servicedesk" | "jira-core" | "jira-product-discovery"
        )
    }) {
        return Err(ApiError::platform_bad_request(&format!(
            "The applicationKey '{a}' is not valid."
        )));
    }
    let ids = params.list("groupId");
    let names = params.list("groupName");
    let entry = data::site(&state, &caller.site);
    let site = entry.read();
    let found: Vec<Value> = site
        .groups()
        .into_iter()
        .filter(|g| ids.is_empty() || ids.contains(&g.group_id))
        .filter(|g| names.is_empty() || names.iter().any(|n| n.eq_ignore_ascii_case(&g.name)))
        .filter(|g| grants(&g.name, access, app))
        .map(|g| json!({ "name": g.name, "groupId": g.group_id }))
        .collect();
    let values: Vec<Value> = found.iter().skip(start).take(max).cloned().collect();
    let body = params::page_body(
        &format!("{}/rest/api/{}/group/bulk", caller.base, version.segment()),
        start,
        max,
        found.len(),
        &values,
    );
    Ok(params::value(StatusCode::OK, &body, 0))
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

async fn groups_picker(
    State(state): State<SimState>,
    caller: Caller,
    params: Params,
) -> Result<Response, ApiError> {
    caller.require("findGroups")?;
    let max = params
        .int("maxResults", PICKER_MAX.0)?
        .clamp(0, PICKER_MAX.1);
    let max = usize::try_from(max).unwrap_or(0);
    let query = params.get("query").map(str::trim).unwrap_or_default();
    let lower = query.to_lowercase();
    let exclude = params.list("exclude");
    let exclude_ids = params.list("excludeId");
    let account = params
        .get("accountId")
        .map(str::trim)
        .filter(|a| !a.is_empty());
    let entry = data::site(&state, &caller.site);
    let site = entry.read();
    let user_groups: Option<Vec<String>> =
        account.map(|a| site.groups_of(a).into_iter().map(|g| g.name).collect());
    let found: Vec<Group> = site
        .groups()
        .into_iter()
        .filter(|g| g.name.to_lowercase().contains(&lower))
        .filter(|g| !exclude.contains(&g.name) && !exclude_ids.contains(&g.group_id))
        .filter(|g| user_groups.as_ref().is_none_or(|ug| ug.contains(&g.name)))
        .collect();
    let shown: Vec<Value> = found
        .iter()
        .take(max)
        .map(|g| {
            let html = if query.is_empty() {
                html_escape(&g.name)
            } else {
                // Jira bolds the matched part of the name.
                let at = g.name.to_lowercase().find(&lower).unwrap_or(0);
                let end = (at + lower.len()).min(g.name.len());
                let part = |r: std::ops::Range<usize>| html_escape(g.name.get(r).unwrap_or(""));
                format!(
                    "{}<b>{}</b>{}",
                    part(0..at),
                    part(at..end),
                    part(end..g.name.len())
                )
            };
            json!({ "name": g.name, "html": html, "labels": [], "groupId": g.group_id })
        })
        .collect();
    let body = json!({
        "header": format!("Showing {} of {} matching groups", shown.len(), found.len()),
        "total": found.len(),
        "groups": shown,
    });
    Ok(params::value(StatusCode::OK, &body, 0))
}

/// Routes of this module.
pub fn router() -> Router<SimState> {
    let mut r = Router::new();
    r = versioned(r, "/user", &get(get_user));
    r = versioned(r, "/user/bulk", &get(bulk_users));
    r = versioned(r, "/user/groups", &get(user_groups));
    r = versioned(r, "/user/assignable/search", &get(assignable_search));
    r = versioned(
        r,
        "/user/assignable/multiProjectSearch",
        &get(multi_project_search),
    );
    r = versioned(r, "/group", &get(get_group));
    r = versioned(r, "/group/bulk", &get(bulk_groups));
    r = versioned(r, "/group/member", &get(group_members));
    versioned(r, "/groups/picker", &get(groups_picker))
}
