//! Site configuration and people: `GET /project/search`, `GET /project/{k}`, `GET /field`,
//! `GET /field/search`, `GET /issuetype`, `GET /status`, `GET /user/search`,
//! `GET /users/search`.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use serde_json::{Value, json};

use super::json::push_array;
use super::params::{self, Params};
use super::render::Render;
use super::{ApiVersion, versioned};
use crate::auth::Caller;
use crate::data::{self, Project, SiteData, SiteUser};
use crate::errors::ApiError;
use crate::state::SimState;

/// Default and largest page of `GET /project/search`.
pub const PROJECT_PAGE: (i64, i64) = (50, 100);
/// Most `keys`/`id` values in a project search.
pub const MAX_PROJECT_FILTER: usize = 50;
/// Default and largest page of user searches.
pub const USER_PAGE: (i64, i64) = (50, 1_000);

fn parse_value(s: &str) -> Value {
    serde_json::from_str(s).unwrap_or(Value::Null)
}

pub(crate) fn last_update(site: &SiteData, project: &Project) -> Option<i64> {
    // Generated issues end at the anchor; overlay writes may be later.
    let generated = (site.generated_count() > 0).then(|| site.anchor_ms());
    generated
        .into_iter()
        .chain(
            site.overlay
                .values()
                .filter_map(|s| s.current())
                .filter(|v| v.issue.project_id == project.id)
                .map(|v| v.issue.updated),
        )
        .max()
}

fn issue_count(site: &SiteData, project: &Project) -> u64 {
    let position = site
        .projects()
        .iter()
        .position(|p| p.id == project.id)
        .unwrap_or(usize::MAX);
    let generated = site.generator.count_of(position);
    let deleted_generated = site
        .deleted
        .keys()
        .filter(|id| {
            site.generator
                .block_of(id.saturating_sub(data::model::FIRST_ISSUE_ID))
                .is_some_and(|b| b.project == position)
        })
        .count() as u64;
    let created = site
        .overlay
        .iter()
        .filter(|(id, _)| **id >= data::model::FIRST_ISSUE_ID + site.generated_count())
        .filter(|(id, _)| !site.deleted.contains_key(id))
        .filter_map(|(_, s)| s.current())
        .filter(|v| v.issue.project_id == project.id)
        .count() as u64;
    generated - deleted_generated.min(generated) + created
}

pub(crate) fn project_json(
    render: &Render<'_>,
    project: &Project,
    expand: &[String],
    full: bool,
    today: &str,
) -> Value {
    let site = render.data;
    let api = &render.api;
    let has = |e: &str| expand.iter().any(|x| x == e);
    let mut avatars = String::new();
    render.project_avatars(&mut avatars, project.id);
    let mut v = json!({
        "expand": "description,lead,issueTypes,url,projectKeys,permissions,insight",
        "self": format!("{api}/project/{}", project.id),
        "id": project.id.to_string(),
        "key": project.key,
        "name": project.name,
        "avatarUrls": parse_value(&avatars),
        "projectTypeKey": project.project_type_key,
        "simplified": project.simplified,
        "style": if project.simplified { "next-gen" } else { "classic" },
        "isPrivate": false,
        "properties": {},
        "projectCategory": super::catalogues::category_json(
            api,
            crate::data::parts::category_of(project),
        ),
    });
    if full || has("description") {
        v["description"] = json!(project.description);
    }
    if full || has("lead") {
        let mut lead = String::new();
        render.user(&mut lead, &project.lead);
        v["lead"] = parse_value(&lead);
    }
    if full || has("issueTypes") {
        v["issueTypes"] = Value::Array(
            project
                .issue_type_ids
                .iter()
                .map(|t| {
                    let mut s = String::new();
                    render.issue_type(&mut s, t);
                    parse_value(&s)
                })
                .collect(),
        );
    }
    if full {
        v["assigneeType"] = json!("UNASSIGNED");
        v["components"] = Value::Array(
            project
                .components
                .iter()
                .map(|c| super::parts::component_json(render, project, c))
                .collect(),
        );
        v["versions"] = Value::Array(
            project
                .versions
                .iter()
                .map(|ver| super::parts::version_json(api, project, ver, today, &[]))
                .collect(),
        );
        v["roles"] = json!({});
    }
    if has("url") {
        v["url"] = json!("");
    }
    if has("insight") {
        let mut insight = json!({ "totalIssueCount": issue_count(site, project) });
        if let Some(ms) = last_update(site, project) {
            insight["lastIssueUpdateTime"] = json!(render.datetime(ms));
        }
        v["insight"] = insight;
    }
    v
}

async fn search_projects(
    State(state): State<SimState>,
    version: ApiVersion,
    caller: Caller,
    params: Params,
) -> Result<Response, ApiError> {
    caller.require("searchProjects")?;
    let (start, max) = params::page(&params, PROJECT_PAGE.0, PROJECT_PAGE.1)?;
    let keys = params.list("keys");
    let ids = params.list("id");
    if keys.len() > MAX_PROJECT_FILTER || ids.len() > MAX_PROJECT_FILTER {
        return Err(ApiError::platform_bad_request(&format!(
            "Up to {MAX_PROJECT_FILTER} project keys or ids can be given."
        )));
    }
    let query = params.get("query").map(str::to_lowercase);
    let type_keys = params.list("typeKey");
    let category = match params.get("categoryId").map(str::trim) {
        None | Some("") => None,
        Some(_) => Some(params.int("categoryId", 0)?.to_string()),
    };
    let order = params.get("orderBy").unwrap_or("key").to_owned();
    let (descending, order_field) = match order.strip_prefix('-') {
        Some(f) => (true, f.to_owned()),
        None => (false, order.trim_start_matches('+').to_owned()),
    };
    let expand = params.list("expand");
    let entry = data::site(&state, &caller.site);
    let site = entry.read();
    let mut projects: Vec<&Project> = site
        .projects()
        .iter()
        .filter(|p| keys.is_empty() || keys.iter().any(|k| k.eq_ignore_ascii_case(&p.key)))
        .filter(|p| ids.is_empty() || ids.iter().any(|i| *i == p.id.to_string()))
        .filter(|p| {
            query.as_ref().is_none_or(|q| {
                p.key.to_lowercase().contains(q.as_str())
                    || p.name.to_lowercase().contains(q.as_str())
            })
        })
        .filter(|p| type_keys.is_empty() || type_keys.contains(&p.project_type_key))
        .filter(|p| {
            category
                .as_deref()
                .is_none_or(|c| crate::data::parts::category_of(p).id == c)
        })
        .collect();
    match order_field.as_str() {
        "key" => projects.sort_by(|a, b| a.key.cmp(&b.key)),
        "name" => projects.sort_by_key(|p| p.name.to_lowercase()),
        "issueCount" => projects.sort_by_key(|p| issue_count(&site, p)),
        "lastIssueUpdatedTime" => projects.sort_by_key(|p| last_update(&site, p)),
        "category" => projects.sort_by(|a, b| {
            let name = |p: &Project| crate::data::parts::category_of(p).name;
            name(a).cmp(name(b)).then(a.key.cmp(&b.key))
        }),
        "owner" => projects.sort_by(|a, b| a.lead.cmp(&b.lead).then(a.key.cmp(&b.key))),
        other => {
            return Err(ApiError::platform_bad_request(&format!(
                "The orderBy value '{other}' is not supported."
            )));
        }
    }
    if descending {
        projects.reverse();
    }
    if projects.is_empty() {
        return Err(ApiError::platform(
            StatusCode::NOT_FOUND,
            &["No projects were found matching the search criteria."],
            &[],
        ));
    }
    let render = Render::for_caller(&site, &caller, state.base_url(), version);
    let today = super::parts::today(&state);
    let total = projects.len();
    let values: Vec<Value> = projects
        .iter()
        .skip(start)
        .take(max)
        .map(|p| project_json(&render, p, &expand, false, &today))
        .collect();
    let count = values.len() as u64;
    let path = format!("{}/project/search", render.api);
    let body = params::page_body(&path, start, max, total, &values);
    Ok(params::value(StatusCode::OK, &body, count))
}

async fn get_project(
    State(state): State<SimState>,
    version: ApiVersion,
    caller: Caller,
    Path(key): Path<String>,
    params: Params,
) -> Result<Response, ApiError> {
    caller.require("getProject")?;
    let entry = data::site(&state, &caller.site);
    let site = entry.read();
    let project = params::project_or_404(&site, &key)?;
    let render = Render::for_caller(&site, &caller, state.base_url(), version);
    let body = project_json(
        &render,
        project,
        &params.list("expand"),
        true,
        &super::parts::today(&state),
    );
    Ok(params::value(StatusCode::OK, &body, 1))
}

async fn get_fields(State(state): State<SimState>, caller: Caller) -> Result<Response, ApiError> {
    caller.require("getFields")?;
    let entry = data::site(&state, &caller.site);
    let site = entry.read();
    let all: Vec<Value> = super::fields::all(&site)
        .iter()
        .map(|f| f.details())
        .collect();
    Ok(params::value(StatusCode::OK, &Value::Array(all), 0))
}

async fn search_fields(
    State(state): State<SimState>,
    version: ApiVersion,
    caller: Caller,
    params: Params,
) -> Result<Response, ApiError> {
    caller.require("getFieldsPaginated")?;
    let (start, max) = params::page(&params, 50, 50)?;
    let types = params.list("type");
    if let Some(bad) = types.iter().find(|t| *t != "custom" && *t != "system") {
        return Err(ApiError::platform_bad_request(&format!(
            "The type '{bad}' is not valid; use custom or system."
        )));
    }
    let ids = params.list("id");
    let query = params.get("query").map(str::to_lowercase);
    let expand = params.list("expand");
    let expanded = |e: &str| expand.iter().any(|x| x == e);
    if let Some(bad) = params
        .list("projectIds")
        .iter()
        .find(|p| p.parse::<u64>().is_err())
    {
        return Err(ApiError::platform_bad_request(&format!(
            "The value '{bad}' for the 'projectIds' parameter is not a valid number."
        )));
    }
    let entry = data::site(&state, &caller.site);
    let site = entry.read();
    let api = format!("{}/rest/api/{}", caller.base, version.segment());
    let description = |f: &super::fields::FieldDef| {
        f.custom_id
            .and_then(|id| site.catalog().custom_field(id))
            .map(|c| c.description.clone())
    };
    let mut fields: Vec<super::fields::FieldDef> = super::fields::all(&site)
        .into_iter()
        .filter(|f| f.schema().is_some())
        .filter(|f| types.is_empty() || types.iter().any(|t| (t == "custom") == f.custom))
        .filter(|f| ids.is_empty() || ids.contains(&f.id))
        .filter(|f| {
            query.as_ref().is_none_or(|q| {
                f.name.to_lowercase().contains(q.as_str())
                    || description(f).is_some_and(|d| d.to_lowercase().contains(q.as_str()))
            })
        })
        .collect();
    match params
        .get("orderBy")
        .map(|o| o.trim_start_matches(['+', '-']))
    {
        None | Some("name") => fields.sort_by_key(|f| f.name.to_lowercase()),
        Some("contextsCount" | "lastUsed" | "screensCount" | "projectsCount") => {}
        Some(other) => {
            return Err(ApiError::platform_bad_request(&format!(
                "The orderBy value '{other}' is not supported."
            )));
        }
    }
    if params.get("orderBy").is_some_and(|o| o.starts_with('-')) {
        fields.reverse();
    }
    let total = fields.len();
    let values: Vec<Value> = fields
        .iter()
        .skip(start)
        .take(max)
        .map(|f| {
            let custom = f.custom_id.and_then(|id| site.catalog().custom_field(id));
            let mut v = json!({
                "id": f.id,
                "name": f.name,
                "schema": f.schema(),
            });
            if let Some(d) = description(f) {
                v["description"] = json!(d);
            }
            if expanded("key") {
                v["key"] = json!(f.id);
            }
            if expanded("isLocked") {
                v["isLocked"] = json!(false);
            }
            if expanded("lastUsed") {
                // Only custom fields are tracked, and no value change is dated here.
                let kind = if f.custom {
                    "NO_INFORMATION"
                } else {
                    "NOT_TRACKED"
                };
                v["lastUsed"] = json!({ "type": kind });
            }
            if let Some(c) = custom {
                // Every custom field has one global context and sits on the default screen.
                if expanded("screensCount") {
                    v["screensCount"] = json!(1);
                }
                if expanded("contextsCount") {
                    v["contextsCount"] = json!(1);
                }
                if expanded("searcherKey") {
                    v["searcherKey"] = json!(searcher_key(c.kind));
                }
            }
            v
        })
        .collect();
    let body = params::page_body(&format!("{api}/field/search"), start, max, total, &values);
    Ok(params::value(StatusCode::OK, &body, 0))
}

/// The searcher Jira pairs with each custom field type.
fn searcher_key(kind: data::CustomKind) -> &'static str {
    use data::CustomKind as K;
    match kind {
        K::Select | K::MultiSelect => {
            "com.atlassian.jira.plugin.system.customfieldtypes:multiselectsearcher"
        }
        K::Cascading => "com.atlassian.jira.plugin.system.customfieldtypes:cascadingselectsearcher",
        K::User => "com.atlassian.jira.plugin.system.customfieldtypes:userpickergroupsearcher",
        K::Text | K::TextArea => "com.atlassian.jira.plugin.system.customfieldtypes:textsearcher",
        K::Number => "com.atlassian.jira.plugin.system.customfieldtypes:exactnumber",
        K::Date => "com.atlassian.jira.plugin.system.customfieldtypes:daterange",
        K::Labels => "com.atlassian.jira.plugin.system.customfieldtypes:labelsearcher",
    }
}

async fn issue_types(
    State(state): State<SimState>,
    version: ApiVersion,
    caller: Caller,
) -> Result<Response, ApiError> {
    caller.require("getIssueAllTypes")?;
    let entry = data::site(&state, &caller.site);
    let site = entry.read();
    let render = Render::for_caller(&site, &caller, state.base_url(), version);
    let mut out = String::new();
    push_array(&mut out, &site.catalog().issue_types, |out, t| {
        render.issue_type(out, &t.id)
    });
    Ok(params::json(StatusCode::OK, out, 0))
}

async fn statuses(
    State(state): State<SimState>,
    version: ApiVersion,
    caller: Caller,
) -> Result<Response, ApiError> {
    caller.require("getStatuses")?;
    let entry = data::site(&state, &caller.site);
    let site = entry.read();
    let render = Render::for_caller(&site, &caller, state.base_url(), version);
    let mut out = String::new();
    push_array(&mut out, &site.catalog().statuses, |out, s| {
        render.status(out, &s.id)
    });
    Ok(params::json(StatusCode::OK, out, 0))
}

pub(crate) fn user_json(render: &Render<'_>, user: &SiteUser) -> Value {
    let mut avatars = String::new();
    render.avatar_urls(&mut avatars, &user.account_id);
    json!({
        "self": format!("{}/user?accountId={}", render.api, user.account_id),
        "accountId": user.account_id,
        "accountType": "atlassian",
        "emailAddress": user.email,
        "avatarUrls": parse_value(&avatars),
        "displayName": user.display_name,
        "active": user.active,
        "timeZone": user.time_zone,
        "locale": user.locale,
    })
}

async fn find_users(
    State(state): State<SimState>,
    version: ApiVersion,
    caller: Caller,
    params: Params,
) -> Result<Response, ApiError> {
    caller.require("findUsers")?;
    let query = params.get("query").map(str::trim).filter(|q| !q.is_empty());
    let account = params
        .get("accountId")
        .map(str::trim)
        .filter(|q| !q.is_empty());
    let property = params.get("property").filter(|q| !q.trim().is_empty());
    if query.is_none() && account.is_none() && property.is_none() {
        return Err(ApiError::platform_bad_request(
            "One of 'query', 'accountId' or 'property' must be provided.",
        ));
    }
    let (start, max) = params::page(&params, USER_PAGE.0, USER_PAGE.1)?;
    let entry = data::site(&state, &caller.site);
    let site = entry.read();
    let render = Render::for_caller(&site, &caller, state.base_url(), version);
    let query = query.map(str::to_lowercase);
    let users: Vec<Value> = site
        .users()
        .iter()
        .filter(|u| account.is_none_or(|a| u.account_id == a))
        .filter(|u| {
            query.as_ref().is_none_or(|q| {
                u.display_name
                    .to_lowercase()
                    .split_whitespace()
                    .any(|w| w.starts_with(q.as_str()))
                    || u.display_name.to_lowercase().starts_with(q.as_str())
                    || u.email.to_lowercase().starts_with(q.as_str())
            })
        })
        // No user properties are stored, so a property search finds nobody.
        .filter(|_| property.is_none())
        .skip(start)
        .take(max)
        .map(|u| user_json(&render, u))
        .collect();
    let cost = 2 * users.len() as u64;
    Ok(params::value(StatusCode::OK, &Value::Array(users), cost))
}

async fn all_users(
    State(state): State<SimState>,
    version: ApiVersion,
    caller: Caller,
    params: Params,
) -> Result<Response, ApiError> {
    caller.require("getAllUsers")?;
    let (start, max) = params::page(&params, USER_PAGE.0, USER_PAGE.1)?;
    let entry = data::site(&state, &caller.site);
    let site = entry.read();
    let render = Render::for_caller(&site, &caller, state.base_url(), version);
    let users: Vec<Value> = site
        .users()
        .iter()
        .skip(start)
        .take(max)
        .map(|u| user_json(&render, u))
        .collect();
    let cost = 2 * users.len() as u64;
    Ok(params::value(StatusCode::OK, &Value::Array(users), cost))
}

/// Routes of this module.
pub fn router() -> Router<SimState> {
    let mut r = Router::new();
    r = versioned(r, "/project/search", &get(search_projects));
    r = versioned(r, "/project/{key}", &get(get_project));
    r = versioned(r, "/field", &get(get_fields));
    r = versioned(r, "/field/search", &get(search_fields));
    r = versioned(r, "/issuetype", &get(issue_types));
    r = versioned(r, "/status", &get(statuses));
    r = versioned(r, "/user/search", &get(find_users));
    versioned(r, "/users/search", &get(all_users))
}
