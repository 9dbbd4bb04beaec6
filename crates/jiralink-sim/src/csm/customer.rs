//! CSM customers: detail fields and values, accounts, profiles, search and entitlements.
//!
//! Customer ids are the Atlassian account ids of portal customers (the same accounts JSM's
//! `POST /rest/servicedeskapi/customer` creates).

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::auth::Caller;
use crate::csm::details::{self, Entity};
use crate::csm::organization::organization_json;
use crate::csm::product::{holder_entitlements, new_entitlement};
use crate::csm::store::Holder;
use crate::csm::{
    CursorQuery, PREFIX, bad_request, cursor_page, details_json, error, not_found, parse_body,
    require_opt_in,
};
use crate::errors::ApiError;
use crate::jsm::customer::valid_email;
use crate::jsm::store::{Customer, SiteDesk, with_site};
use crate::state::SimState;

/// Most ids per `POST /customer/profile/fetch`.
pub const MAX_PROFILE_FETCH: usize = 100;

const READ: &str = "read:customer:jira-service-management";
const WRITE: &str = "write:customer:jira-service-management";
const READ_DETAIL: &str = "read:customer.detail:jira-service-management";
const WRITE_DETAIL: &str = "write:customer.detail:jira-service-management";
const READ_FIELD: &str = "read:customer.detail-field:jira-service-management";
const WRITE_FIELD: &str = "write:customer.detail-field:jira-service-management";
const READ_PROFILE: &str = "read:customer.profile:jira-service-management";
const READ_ENTITLEMENT: &str = "read:entitlement:jira-service-management";
const WRITE_ENTITLEMENT: &str = "write:entitlement:jira-service-management";

/// Routes of this module.
pub fn router() -> Router<SimState> {
    Router::new()
        .route(
            &format!("{PREFIX}/customer/details"),
            get(details::list_fields::<CustomerFields>)
                .post(details::create_field::<CustomerFields>),
        )
        .route(
            &format!("{PREFIX}/customer/details/{{fieldName}}"),
            put(details::edit_field::<CustomerFields>)
                .delete(details::delete_field::<CustomerFields>),
        )
        .route(
            &format!("{PREFIX}/customer/{{customerId}}"),
            get(get_details),
        )
        .route(
            &format!("{PREFIX}/customer/{{customerId}}/details"),
            put(set_detail),
        )
        .route(
            &format!("{PREFIX}/customer/search-by-detail-field"),
            post(search_by_detail),
        )
        .route(&format!("{PREFIX}/customer"), post(create_account))
        .route(
            &format!("{PREFIX}/customer/account/{{customerId}}"),
            get(get_account).put(update_account).delete(delete_account),
        )
        .route(
            &format!("{PREFIX}/customer/profile/{{customerId}}"),
            get(get_profile),
        )
        .route(
            &format!("{PREFIX}/customer/profile/fetch"),
            post(fetch_profiles),
        )
        .route(
            &format!("{PREFIX}/customer/{{customerId}}/entitlement"),
            get(list_entitlements).post(create_entitlement),
        )
}

/// `{"id","displayName","email"}`.
pub fn account_json(c: &Customer) -> Value {
    json!({ "id": c.account_id, "displayName": c.display_name, "email": c.email })
}

/// `{"account","details","organizations"}`.
pub fn profile_json(desk: &SiteDesk, c: &Customer) -> Value {
    let orgs: Vec<Value> = desk
        .organizations
        .values()
        .filter(|o| o.members.contains(&c.account_id))
        .map(organization_json)
        .collect();
    json!({
        "account": account_json(c),
        "details": details_json(&desk.csm.customer_fields, &c.details),
        "organizations": orgs,
    })
}

/// 404 for an unknown customer id.
pub fn customer_not_found(id: &str) -> ApiError {
    not_found(&format!("The customer '{id}' does not exist."))
}

fn customer<'a>(desk: &'a SiteDesk, id: &str) -> Result<&'a Customer, ApiError> {
    desk.customers.get(id).ok_or_else(|| customer_not_found(id))
}

/// The detail-field definitions of customers and the scopes guarding them.
#[derive(Debug)]
struct CustomerFields;

impl details::DetailFields for CustomerFields {
    const ENTITY: Entity = Entity::Customer;
    const READ: &'static str = READ_FIELD;
    const WRITE: &'static str = WRITE_FIELD;
}

async fn get_details(
    State(state): State<SimState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.require_any(&[&[READ_DETAIL]])?;
    with_site(&state, &caller.site, |desk| {
        let c = customer(desk, &id)?;
        Ok(Json(json!({
            "details": details_json(&desk.csm.customer_fields, &c.details)
        })))
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
        customer(desk, &id)?;
        let (name, values) =
            details::check_values(desk, Entity::Customer, q.field_name.as_deref(), &body)?;
        let c = desk
            .customers
            .get_mut(&id)
            .ok_or_else(|| customer_not_found(&id))?;
        Ok(Json(details::store_values(&mut c.details, name, values)))
    })
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SearchInput {
    field_name: Option<String>,
    value: Option<String>,
}

async fn search_by_detail(
    State(state): State<SimState>,
    caller: Caller,
    Query(page): Query<CursorQuery>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    caller.require_any(&[&[READ_DETAIL]])?;
    let input: SearchInput = parse_body(&body)?;
    let (Some(field), Some(value)) = (input.field_name, input.value) else {
        return Err(bad_request(
            "The fields 'fieldName' and 'value' are required.",
        ));
    };
    let items = with_site(&state, &caller.site, |desk| {
        let Some(field) = desk
            .csm
            .customer_fields
            .iter()
            .find(|f| f.name.eq_ignore_ascii_case(&field))
        else {
            return Err(not_found(&format!(
                "The detail field '{field}' does not exist."
            )));
        };
        Ok(desk
            .customers
            .values()
            .filter(|c| {
                c.details
                    .get(&field.name)
                    .is_some_and(|v| v.iter().any(|x| x.eq_ignore_ascii_case(&value)))
            })
            .map(account_json)
            .collect::<Vec<_>>())
    })?;
    cursor_page(items, page.limit.as_deref(), page.cursor.as_deref()).map(Json)
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct AccountInput {
    email: Option<String>,
    display_name: Option<String>,
}

fn check_email(email: &str) -> Result<(), ApiError> {
    if valid_email(email) {
        Ok(())
    } else {
        Err(bad_request("The email address is not valid."))
    }
}

fn conflict(email: &str) -> ApiError {
    error(
        StatusCode::CONFLICT,
        &format!("An account already exists for '{email}'."),
    )
}

async fn create_account(
    State(state): State<SimState>,
    caller: Caller,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    require_opt_in(&headers)?;
    caller.require_any(&[&[WRITE]])?;
    let input: AccountInput = parse_body(&body)?;
    let email = input.email.unwrap_or_default().trim().to_owned();
    check_email(&email)?;
    let name = input
        .display_name
        .map(|n| n.trim().to_owned())
        .filter(|n| !n.is_empty())
        .ok_or_else(|| bad_request("The field 'displayName' is required."))?;
    let taken = state.directory().user_by_email(&email).is_some();
    let now = state.now();
    let account = with_site(&state, &caller.site, |desk| {
        if taken || desk.customer_by_email(&email).is_some() {
            return Err(conflict(&email));
        }
        let id = desk.add_customer(&email, &name, "UTC", now);
        customer(desk, &id).map(account_json)
    })?;
    Ok((StatusCode::CREATED, Json(account)).into_response())
}

async fn get_account(
    State(state): State<SimState>,
    caller: Caller,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    require_opt_in(&headers)?;
    caller.require_any(&[&[READ]])?;
    with_site(&state, &caller.site, |desk| {
        customer(desk, &id).map(|c| Json(account_json(c)))
    })
}

async fn update_account(
    State(state): State<SimState>,
    caller: Caller,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    require_opt_in(&headers)?;
    caller.require_any(&[&[WRITE]])?;
    let input: AccountInput = parse_body(&body)?;
    let taken = input
        .email
        .as_deref()
        .is_some_and(|e| state.directory().user_by_email(e.trim()).is_some());
    with_site(&state, &caller.site, |desk| {
        customer(desk, &id)?;
        apply_account_update(desk, &id, input.email, input.display_name, taken)?;
        customer(desk, &id).map(|c| Json(account_json(c)))
    })
}

/// Validates and applies an account update (shared with the bulk operations).
pub fn apply_account_update(
    desk: &mut SiteDesk,
    id: &str,
    email: Option<String>,
    display_name: Option<String>,
    email_taken_by_user: bool,
) -> Result<(), ApiError> {
    let email = email.map(|e| e.trim().to_owned());
    if let Some(e) = &email {
        check_email(e)?;
        if email_taken_by_user
            || desk
                .customer_by_email(e)
                .is_some_and(|other| other.account_id != id)
        {
            return Err(conflict(e));
        }
    }
    let name = display_name.map(|n| n.trim().to_owned());
    if name.as_deref() == Some("") {
        return Err(bad_request("The field 'displayName' must not be empty."));
    }
    let c = desk
        .customers
        .get_mut(id)
        .ok_or_else(|| customer_not_found(id))?;
    if let Some(e) = email {
        c.email = e;
    }
    if let Some(n) = name {
        c.display_name = n;
    }
    Ok(())
}

async fn delete_account(
    State(state): State<SimState>,
    caller: Caller,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    require_opt_in(&headers)?;
    caller.require_any(&[&[WRITE]])?;
    with_site(&state, &caller.site, |desk| {
        if desk.remove_customer(&id) {
            Ok(StatusCode::NO_CONTENT.into_response())
        } else {
            Err(customer_not_found(&id))
        }
    })
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
        let c = customer(desk, &id)?;
        Ok(Json(profile_json(desk, c)))
    })
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct FetchInput {
    customer_ids: Option<Vec<String>>,
}

async fn fetch_profiles(
    State(state): State<SimState>,
    caller: Caller,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    require_opt_in(&headers)?;
    caller.require_any(&[&[READ_PROFILE]])?;
    let input: FetchInput = parse_body(&body)?;
    let ids = input
        .customer_ids
        .filter(|ids| !ids.is_empty())
        .ok_or_else(|| bad_request("The field 'customerIds' must list at least one id."))?;
    if ids.len() > MAX_PROFILE_FETCH {
        return Err(bad_request(&format!(
            "At most {MAX_PROFILE_FETCH} customers can be fetched at once."
        )));
    }
    Ok(Json(with_site(&state, &caller.site, |desk| {
        let results: Vec<Value> = ids
            .iter()
            .filter_map(|id| desk.customers.get(id))
            .map(|c| profile_json(desk, c))
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
        customer(desk, &id)?;
        Ok::<_, ApiError>(holder_entitlements(
            &desk.csm,
            &Holder::Customer(id.clone()),
        ))
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
        customer(desk, &id)?;
        new_entitlement(desk, Holder::Customer(id.clone()), &body)
    })?;
    Ok((StatusCode::CREATED, Json(created)).into_response())
}
