//! CSM organizations: detail fields and values, create/update/delete, fetch, profiles and
//! entitlements. Organization ids are the numeric JSM organization ids, as strings.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::auth::Caller;
use crate::csm::customer::account_json;
use crate::csm::details::{self, Entity};
use crate::csm::product::{holder_entitlements, new_entitlement};
use crate::csm::store::Holder;
use crate::csm::{
    CursorQuery, PREFIX, bad_request, cursor_page, details_json, error, not_found, parse_body,
    require_opt_in,
};
use crate::errors::ApiError;
use crate::jsm::store::{Organization, SiteDesk, with_site};
use crate::state::SimState;

/// Most ids per `POST /organization/fetch`.
pub const MAX_FETCH: usize = 100;
/// Most ids per `POST /organization/profile/fetch`.
pub const MAX_PROFILE_FETCH: usize = 25;

const READ: &str = "read:organization:jira-service-management";
const WRITE: &str = "write:organization:jira-service-management";
const READ_DETAIL: &str = "read:organization.detail:jira-service-management";
const WRITE_DETAIL: &str = "write:organization.detail:jira-service-management";
const READ_FIELD: &str = "read:organization.detail-field:jira-service-management";
const WRITE_FIELD: &str = "write:organization.detail-field:jira-service-management";
const READ_PROFILE: &str = "read:organization.profile:jira-service-management";
const READ_ENTITLEMENT: &str = "read:entitlement:jira-service-management";
const WRITE_ENTITLEMENT: &str = "write:entitlement:jira-service-management";

/// Routes of this module.
pub fn router() -> Router<SimState> {
    Router::new()
        .route(
            &format!("{PREFIX}/organization/details"),
            get(details::list_fields::<OrganizationFields>)
                .post(details::create_field::<OrganizationFields>),
        )
        .route(
            &format!("{PREFIX}/organization/details/{{fieldName}}"),
            put(details::edit_field::<OrganizationFields>)
                .delete(details::delete_field::<OrganizationFields>),
        )
        .route(&format!("{PREFIX}/organization"), post(create_organization))
        .route(
            &format!("{PREFIX}/organization/{{organizationId}}"),
            get(get_organization)
                .put(update_organization)
                .delete(delete_organization),
        )
        .route(
            &format!("{PREFIX}/organization/{{organizationId}}/details"),
            put(set_detail),
        )
        .route(
            &format!("{PREFIX}/organization/fetch"),
            post(fetch_organizations),
        )
        .route(
            &format!("{PREFIX}/organization/profile/{{organizationId}}"),
            get(get_profile),
        )
        .route(
            &format!("{PREFIX}/organization/profile/fetch"),
            post(fetch_profiles),
        )
        .route(
            &format!("{PREFIX}/organization/{{organizationId}}/entitlement"),
            get(list_entitlements).post(create_entitlement),
        )
}

/// `{"id","name"}`.
pub fn organization_json(o: &Organization) -> Value {
    json!({ "id": o.id.to_string(), "name": o.name })
}

/// `{"organization","details","customers"}`.
pub fn profile_json(desk: &SiteDesk, o: &Organization) -> Value {
    let customers: Vec<Value> = o
        .members
        .iter()
        .filter_map(|m| desk.customers.get(m))
        .map(account_json)
        .collect();
    json!({
        "organization": organization_json(o),
        "details": details_json(&desk.csm.organization_fields, &o.details),
        "customers": customers,
    })
}

/// 404 for an unknown organization id.
pub fn organization_not_found(id: &str) -> ApiError {
    not_found(&format!("The organization '{id}' does not exist."))
}

/// Parses and checks an organization id.
pub fn organization_id(desk: &SiteDesk, id: &str) -> Result<u64, ApiError> {
    id.trim()
        .parse::<u64>()
        .ok()
        .filter(|n| desk.organizations.contains_key(n))
        .ok_or_else(|| organization_not_found(id))
}

/// Validates an organization name (1–200 characters).
pub fn check_name(name: Option<String>) -> Result<String, ApiError> {
    let name = name.unwrap_or_default().trim().to_owned();
    let chars = name.chars().count();
    if chars == 0 || chars > crate::jsm::organization::MAX_NAME_CHARS {
        return Err(bad_request(
            "The organization name must contain 1-200 characters.",
        ));
    }
    Ok(name)
}

/// 409 for a name another organization has.
pub fn name_conflict(name: &str) -> ApiError {
    error(
        StatusCode::CONFLICT,
        &format!("An organization named '{name}' already exists."),
    )
}

/// The detail-field definitions of organizations and the scopes guarding them.
#[derive(Debug)]
struct OrganizationFields;

impl details::DetailFields for OrganizationFields {
    const ENTITY: Entity = Entity::Organization;
    const READ: &'static str = READ_FIELD;
    const WRITE: &'static str = WRITE_FIELD;
}

#[derive(Debug, Deserialize)]
struct NameInput {
    name: Option<String>,
}

async fn create_organization(
    State(state): State<SimState>,
    caller: Caller,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    require_opt_in(&headers)?;
    caller.require_any(&[&[WRITE]])?;
    let input: NameInput = parse_body(&body)?;
    let name = check_name(input.name)?;
    let now = state.now();
    let created = with_site(&state, &caller.site, |desk| {
        if desk.organization_by_name(&name).is_some() {
            return Err(name_conflict(&name));
        }
        let id = desk.add_organization(&name, now);
        Ok(organization_json(&desk.organizations[&id]))
    })?;
    Ok((StatusCode::CREATED, Json(created)).into_response())
}

async fn get_organization(
    State(state): State<SimState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.require_any(&[&[READ_DETAIL]])?;
    with_site(&state, &caller.site, |desk| {
        let o = &desk.organizations[&organization_id(desk, &id)?];
        let mut v = organization_json(o);
        v["details"] = details_json(&desk.csm.organization_fields, &o.details);
        Ok(Json(v))
    })
}

async fn update_organization(
    State(state): State<SimState>,
    caller: Caller,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    require_opt_in(&headers)?;
    caller.require_any(&[&[WRITE]])?;
    let input: NameInput = parse_body(&body)?;
    with_site(&state, &caller.site, |desk| {
        let oid = organization_id(desk, &id)?;
        rename(desk, oid, input.name)?;
        Ok(Json(organization_json(&desk.organizations[&oid])))
    })
}

/// Renames an organization (shared with the bulk operations).
pub fn rename(desk: &mut SiteDesk, id: u64, name: Option<String>) -> Result<(), ApiError> {
    let name = check_name(name)?;
    if desk
        .organization_by_name(&name)
        .is_some_and(|other| other.id != id)
    {
        return Err(name_conflict(&name));
    }
    let org = desk
        .organizations
        .get_mut(&id)
        .ok_or_else(|| organization_not_found(&id.to_string()))?;
    org.name = name;
    Ok(())
}

async fn delete_organization(
    State(state): State<SimState>,
    caller: Caller,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    require_opt_in(&headers)?;
    caller.require_any(&[&[WRITE]])?;
    with_site(&state, &caller.site, |desk| {
        let oid = organization_id(desk, &id)?;
        desk.remove_organization(oid);
        Ok(StatusCode::NO_CONTENT.into_response())
    })
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct FieldNameQuery {
    field_name: Option<String>,
}

async fn set_detail(
    State(state): State<SimState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(q): Query<FieldNameQuery>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    caller.require_any(&[&[WRITE_DETAIL]])?;
    with_site(&state, &caller.site, |desk| {
        let oid = organization_id(desk, &id)?;
        let (name, values) =
            details::check_values(desk, Entity::Organization, q.field_name.as_deref(), &body)?;
        let org = desk
            .organizations
            .get_mut(&oid)
            .ok_or_else(|| organization_not_found(&id))?;
        Ok(Json(details::store_values(&mut org.details, name, values)))
    })
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct FetchInput {
    organization_ids: Option<Vec<String>>,
}

fn fetch_ids(body: &Bytes, max: usize) -> Result<Vec<String>, ApiError> {
    let input: FetchInput = parse_body(body)?;
    let ids = input
        .organization_ids
        .filter(|ids| !ids.is_empty())
        .ok_or_else(|| bad_request("The field 'organizationIds' must list at least one id."))?;
    if ids.len() > max {
        return Err(bad_request(&format!(
            "At most {max} organizations can be fetched at once."
        )));
    }
    Ok(ids)
}

fn lookup<'a>(desk: &'a SiteDesk, ids: &[String]) -> Vec<&'a Organization> {
    ids.iter()
        .filter_map(|id| id.trim().parse::<u64>().ok())
        .filter_map(|id| desk.organizations.get(&id))
        .collect()
}

async fn fetch_organizations(
    State(state): State<SimState>,
    caller: Caller,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    require_opt_in(&headers)?;
    caller.require_any(&[&[READ]])?;
    let ids = fetch_ids(&body, MAX_FETCH)?;
    Ok(Json(with_site(&state, &caller.site, |desk| {
        let results: Vec<Value> = lookup(desk, &ids)
            .into_iter()
            .map(organization_json)
            .collect();
        json!({ "results": results })
    })))
}

async fn get_profile(
    State(state): State<SimState>,
    caller: Caller,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    require_opt_in(&headers)?;
    caller.require_any(&[&[READ_PROFILE]])?;
    with_site(&state, &caller.site, |desk| {
        let o = &desk.organizations[&organization_id(desk, &id)?];
        Ok(Json(profile_json(desk, o)))
    })
}

async fn fetch_profiles(
    State(state): State<SimState>,
    caller: Caller,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    require_opt_in(&headers)?;
    caller.require_any(&[&[READ_PROFILE]])?;
    let ids = fetch_ids(&body, MAX_PROFILE_FETCH)?;
    Ok(Json(with_site(&state, &caller.site, |desk| {
        let results: Vec<Value> = lookup(desk, &ids)
            .into_iter()
            .map(|o| profile_json(desk, o))
            .collect();
        json!({ "results": results })
    })))
}

async fn list_entitlements(
    State(state): State<SimState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(page): Query<CursorQuery>,
) -> Result<Json<Value>, ApiError> {
    caller.require_any(&[&[READ_ENTITLEMENT]])?;
    let items = with_site(&state, &caller.site, |desk| {
        let holder = Holder::Organization(organization_id(desk, &id)?);
        Ok::<_, ApiError>(holder_entitlements(&desk.csm, &holder))
    })?;
    cursor_page(items, page.limit.as_deref(), page.cursor.as_deref()).map(Json)
}

async fn create_entitlement(
    State(state): State<SimState>,
    caller: Caller,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    caller.require_any(&[&[WRITE_ENTITLEMENT]])?;
    let created = with_site(&state, &caller.site, |desk| {
        let holder = Holder::Organization(organization_id(desk, &id)?);
        new_entitlement(desk, holder, &body)
    })?;
    Ok((StatusCode::CREATED, Json(created)).into_response())
}
