//! Organizations: `GET|POST /organization`, `GET|DELETE /organization/{id}`,
//! `GET|POST|DELETE /organization/{id}/user` and `GET|POST|DELETE /servicedesk/{id}/organization`.
//!
//! Creating an organization whose name already exists (case-insensitive) returns the existing
//! one with 201, as documented. Members are listed ordered by account id. Adding users is
//! all-or-nothing: one unknown account id answers 400 and adds nobody.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::auth::Caller;
use crate::errors::ApiError;
use crate::jsm::servicedesk::{api_base, resolve_service_desk};
use crate::jsm::store::{Organization, SiteDesk, with_site};
use crate::jsm::{
    AccountIds, PREFIX, Params, bad_request, date_dto, find_person, no_content, not_found, page,
    parse_body, unknown_accounts,
};
use crate::state::SimState;

/// Largest `limit` for organizations and their users.
pub const MAX_LIMIT: usize = 50;

/// Longest organization name.
pub const MAX_NAME_CHARS: usize = 200;

/// Routes of this module.
pub fn router() -> Router<SimState> {
    Router::new()
        .route(
            &format!("{PREFIX}/organization"),
            get(list_organizations).post(create_organization),
        )
        .route(
            &format!("{PREFIX}/organization/{{organizationId}}"),
            get(get_organization).delete(delete_organization),
        )
        .route(
            &format!("{PREFIX}/organization/{{organizationId}}/user"),
            get(list_users).post(add_users).delete(remove_users),
        )
        .route(
            &format!("{PREFIX}/servicedesk/{{serviceDeskId}}/organization"),
            get(list_desk_organizations)
                .post(add_desk_organization)
                .delete(remove_desk_organization),
        )
}

/// `OrganizationDTO`.
pub fn organization_json(
    api: &str,
    org: &Organization,
    now: time::OffsetDateTime,
    tz: &str,
) -> Value {
    json!({
        "id": org.id.to_string(),
        "uuid": org.uuid.to_string(),
        "name": org.name,
        "scimManaged": false,
        "created": date_dto(org.created, now, tz),
        "_links": { "self": format!("{api}/organization/{}", org.id) },
    })
}

fn org_not_found(id: &str) -> ApiError {
    not_found(&format!("The organization '{id}' does not exist."))
}

fn parse_org_id(desk: &SiteDesk, id: &str) -> Result<u64, ApiError> {
    id.trim()
        .parse::<u64>()
        .ok()
        .filter(|n| desk.organizations.contains_key(n))
        .ok_or_else(|| org_not_found(id))
}

/// 404 when `accountId` names nobody on the site.
fn check_account(
    state: &SimState,
    caller: &Caller,
    desk: &SiteDesk,
    account: Option<&str>,
) -> Result<(), ApiError> {
    match account {
        Some(a) if find_person(state, &caller.site, &desk.customers, a).is_none() => {
            Err(not_found(&format!("The user '{a}' does not exist.")))
        }
        _ => Ok(()),
    }
}

async fn list_organizations(
    State(state): State<SimState>,
    caller: Caller,
    params: Params,
) -> Result<Json<Value>, ApiError> {
    caller.require_route(&Method::GET, "/rest/servicedeskapi/organization")?;
    let paging = params.paging(MAX_LIMIT)?;
    let api = api_base(&caller);
    let account = params.get("accountId").map(str::to_owned);
    let now = state.now();
    let values = with_site(&state, &caller.site, |desk| {
        check_account(&state, &caller, desk, account.as_deref())?;
        Ok::<_, ApiError>(
            desk.organizations
                .values()
                .filter(|o| account.as_ref().is_none_or(|a| o.members.contains(a)))
                .map(|o| organization_json(&api, o, now, &caller.user.time_zone))
                .collect::<Vec<_>>(),
        )
    })?;
    Ok(Json(page(
        values,
        paging,
        &api,
        "/organization",
        &params,
        &[],
    )))
}

#[derive(Debug, Deserialize)]
struct OrganizationCreate {
    name: Option<String>,
}

async fn create_organization(
    State(state): State<SimState>,
    caller: Caller,
    body: Bytes,
) -> Result<Response, ApiError> {
    caller.require_route(&Method::POST, "/rest/servicedeskapi/organization")?;
    let input: OrganizationCreate = parse_body(&body)?;
    let name = input.name.unwrap_or_default().trim().to_owned();
    let chars = name.chars().count();
    if chars == 0 || chars > MAX_NAME_CHARS {
        return Err(bad_request(
            "The organization name must contain 1-200 characters.",
        ));
    }
    let api = api_base(&caller);
    let now = state.now();
    let org = with_site(&state, &caller.site, |desk| {
        let id = match desk.organization_by_name(&name) {
            Some(existing) => existing.id,
            None => desk.add_organization(&name, now),
        };
        desk.organizations
            .get(&id)
            .map(|o| organization_json(&api, o, now, &caller.user.time_zone))
    })
    .ok_or_else(|| bad_request("The organization could not be created."))?;
    Ok((StatusCode::CREATED, Json(org)).into_response())
}

async fn get_organization(
    State(state): State<SimState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.require_route(
        &Method::GET,
        "/rest/servicedeskapi/organization/{organizationId}",
    )?;
    let api = api_base(&caller);
    let now = state.now();
    with_site(&state, &caller.site, |desk| {
        let id = parse_org_id(desk, &id)?;
        let org = &desk.organizations[&id];
        Ok(Json(organization_json(
            &api,
            org,
            now,
            &caller.user.time_zone,
        )))
    })
}

async fn delete_organization(
    State(state): State<SimState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    caller.require_route(
        &Method::DELETE,
        "/rest/servicedeskapi/organization/{organizationId}",
    )?;
    with_site(&state, &caller.site, |desk| {
        let id = parse_org_id(desk, &id)?;
        desk.remove_organization(id);
        Ok(no_content())
    })
}

async fn list_users(
    State(state): State<SimState>,
    caller: Caller,
    Path(id): Path<String>,
    params: Params,
) -> Result<Json<Value>, ApiError> {
    caller.require_route(
        &Method::GET,
        "/rest/servicedeskapi/organization/{organizationId}/user",
    )?;
    let paging = params.paging(MAX_LIMIT)?;
    let api = api_base(&caller);
    let (org_id, people) = with_site(&state, &caller.site, |desk| {
        let org_id = parse_org_id(desk, &id)?;
        let people: Vec<_> = desk.organizations[&org_id]
            .members
            .iter()
            .filter_map(|a| find_person(&state, &caller.site, &desk.customers, a))
            .collect();
        Ok::<_, ApiError>((org_id, people))
    })?;
    let values = people.iter().map(|p| p.dto(&caller.base, &state)).collect();
    Ok(Json(page(
        values,
        paging,
        &api,
        &format!("/organization/{org_id}/user"),
        &params,
        &[],
    )))
}

async fn add_users(
    State(state): State<SimState>,
    caller: Caller,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    caller.require_route(
        &Method::POST,
        "/rest/servicedeskapi/organization/{organizationId}/user",
    )?;
    let input: AccountIds = parse_body(&body)?;
    with_site(&state, &caller.site, |desk| {
        let org_id = parse_org_id(desk, &id)?;
        let accounts: Vec<&String> = input.all().collect();
        let unknown: Vec<&str> = accounts
            .iter()
            .filter(|a| find_person(&state, &caller.site, &desk.customers, a).is_none())
            .map(|a| a.as_str())
            .collect();
        if !unknown.is_empty() {
            return Err(unknown_accounts(&unknown));
        }
        if let Some(org) = desk.organizations.get_mut(&org_id) {
            org.members.extend(accounts.into_iter().cloned());
        }
        Ok(no_content())
    })
}

async fn remove_users(
    State(state): State<SimState>,
    caller: Caller,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    caller.require_route(
        &Method::DELETE,
        "/rest/servicedeskapi/organization/{organizationId}/user",
    )?;
    let input: AccountIds = parse_body(&body)?;
    with_site(&state, &caller.site, |desk| {
        let org_id = parse_org_id(desk, &id)?;
        if let Some(org) = desk.organizations.get_mut(&org_id) {
            for a in input.all() {
                org.members.remove(a);
            }
        }
        Ok(no_content())
    })
}

async fn list_desk_organizations(
    State(state): State<SimState>,
    caller: Caller,
    Path(id): Path<String>,
    params: Params,
) -> Result<Json<Value>, ApiError> {
    caller.require_route(
        &Method::GET,
        "/rest/servicedeskapi/servicedesk/{serviceDeskId}/organization",
    )?;
    let paging = params.paging(MAX_LIMIT)?;
    let api = api_base(&caller);
    let account = params.get("accountId").map(str::to_owned);
    let now = state.now();
    let (sd_id, values) = with_site(&state, &caller.site, |desk| {
        let i = resolve_service_desk(desk, &id)?;
        check_account(&state, &caller, desk, account.as_deref())?;
        let sd = &desk.service_desks[i];
        let values: Vec<Value> = sd
            .organizations
            .iter()
            .filter_map(|o| desk.organizations.get(o))
            .filter(|o| account.as_ref().is_none_or(|a| o.members.contains(a)))
            .map(|o| organization_json(&api, o, now, &caller.user.time_zone))
            .collect();
        Ok::<_, ApiError>((sd.id, values))
    })?;
    Ok(Json(page(
        values,
        paging,
        &api,
        &format!("/servicedesk/{sd_id}/organization"),
        &params,
        &[],
    )))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct DeskOrganization {
    organization_id: Option<i64>,
}

fn desk_org_ids(desk: &SiteDesk, id: &str, body: &Bytes) -> Result<(usize, u64), ApiError> {
    let i = resolve_service_desk(desk, id)?;
    let input: DeskOrganization = parse_body(body)?;
    let org = input
        .organization_id
        .ok_or_else(|| bad_request("The field 'organizationId' is required."))?;
    let org_id = parse_org_id(desk, &org.to_string())?;
    Ok((i, org_id))
}

async fn add_desk_organization(
    State(state): State<SimState>,
    caller: Caller,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    caller.require_route(
        &Method::POST,
        "/rest/servicedeskapi/servicedesk/{serviceDeskId}/organization",
    )?;
    with_site(&state, &caller.site, |desk| {
        let (i, org_id) = desk_org_ids(desk, &id, &body)?;
        let sd = &mut desk.service_desks[i];
        if !sd.organizations.contains(&org_id) {
            sd.organizations.push(org_id);
        }
        Ok(no_content())
    })
}

async fn remove_desk_organization(
    State(state): State<SimState>,
    caller: Caller,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    caller.require_route(
        &Method::DELETE,
        "/rest/servicedeskapi/servicedesk/{serviceDeskId}/organization",
    )?;
    with_site(&state, &caller.site, |desk| {
        let (i, org_id) = desk_org_ids(desk, &id, &body)?;
        desk.service_desks[i].organizations.retain(|o| *o != org_id);
        Ok(no_content())
    })
}
