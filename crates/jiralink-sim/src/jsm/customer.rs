//! Customers: `POST /customer` and the customers of a service desk
//! (`GET|POST|DELETE /servicedesk/{id}/customer`; GET and DELETE are experimental).
//!
//! `POST /customer` answers 400 for an e-mail address that already belongs to an account, or
//! 409 with `strictConflictStatusCode=true`. Adding customers to a desk adds the valid ones even
//! when others are unknown (then 400), as documented; removing ignores customers not on the desk.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::Value;

use crate::auth::Caller;
use crate::errors::ApiError;
use crate::jsm::servicedesk::{api_base, resolve_service_desk};
use crate::jsm::store::with_site;
use crate::jsm::{
    AccountIds, PREFIX, Params, bad_request, customer_dto, find_person, no_content, page,
    parse_body, require_opt_in, unknown_accounts,
};
use crate::state::SimState;

/// Largest `limit` for service desk customers.
pub const MAX_LIMIT: usize = 50;

/// Routes of this module.
pub fn router() -> Router<SimState> {
    Router::new()
        .route(&format!("{PREFIX}/customer"), post(create_customer))
        .route(
            &format!("{PREFIX}/servicedesk/{{serviceDeskId}}/customer"),
            get(list_desk_customers)
                .post(add_desk_customers)
                .delete(remove_desk_customers),
        )
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CustomerCreate {
    email: Option<String>,
    display_name: Option<String>,
    full_name: Option<String>,
}

/// A plausible e-mail address: one `@`, a non-empty local part and a dotted domain.
pub fn valid_email(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !email.chars().any(char::is_whitespace)
}

async fn create_customer(
    State(state): State<SimState>,
    caller: Caller,
    params: Params,
    body: Bytes,
) -> Result<Response, ApiError> {
    caller.require_route(&Method::POST, "/rest/servicedeskapi/customer")?;
    let strict = params.bool("strictConflictStatusCode")?.unwrap_or(false);
    let input: CustomerCreate = parse_body(&body)?;
    let email = input.email.unwrap_or_default().trim().to_owned();
    if !valid_email(&email) {
        return Err(bad_request("The email address provided is not valid."));
    }
    let name = input
        .display_name
        .or(input.full_name)
        .map(|n| n.trim().to_owned())
        .filter(|n| !n.is_empty())
        .ok_or_else(|| bad_request("A display name is required to create a customer."))?;
    let taken_by_user = state.directory().user_by_email(&email).is_some();
    let now = state.now();
    with_site(&state, &caller.site, |desk| {
        if taken_by_user || desk.customer_by_email(&email).is_some() {
            let status = if strict {
                StatusCode::CONFLICT
            } else {
                StatusCode::BAD_REQUEST
            };
            return Err(ApiError::jsm(
                status,
                "An account already exists for this email.",
                "sd.customer.create.error.email.already.exists",
            ));
        }
        let id = desk.add_customer(&email, &name, "UTC", now);
        let customer = desk.customers.get(&id).cloned();
        Ok(customer)
    })?
    .map(|c| {
        (
            StatusCode::CREATED,
            Json(customer_dto(&caller.base, &state, &c)),
        )
            .into_response()
    })
    .ok_or_else(|| bad_request("The customer could not be created."))
}

async fn list_desk_customers(
    State(state): State<SimState>,
    caller: Caller,
    headers: HeaderMap,
    Path(id): Path<String>,
    params: Params,
) -> Result<Json<Value>, ApiError> {
    require_opt_in(&headers)?;
    caller.require_route(
        &Method::GET,
        "/rest/servicedeskapi/servicedesk/{serviceDeskId}/customer",
    )?;
    let paging = params.paging(MAX_LIMIT)?;
    let api = api_base(&caller);
    let query = params.get("query").map(str::trim).unwrap_or_default();
    let (sd_id, people) = with_site(&state, &caller.site, |desk| {
        let i = resolve_service_desk(desk, &id)?;
        let sd = &desk.service_desks[i];
        let people: Vec<_> = sd
            .customers
            .iter()
            .filter_map(|a| find_person(&state, &caller.site, &desk.customers, a))
            .filter(|p| query.is_empty() || p.matches(query))
            .collect();
        Ok::<_, ApiError>((sd.id, people))
    })?;
    let values = people.iter().map(|p| p.dto(&caller.base, &state)).collect();
    Ok(Json(page(
        values,
        paging,
        &api,
        &format!("/servicedesk/{sd_id}/customer"),
        &params,
        &[],
    )))
}

async fn add_desk_customers(
    State(state): State<SimState>,
    caller: Caller,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    caller.require_route(
        &Method::POST,
        "/rest/servicedeskapi/servicedesk/{serviceDeskId}/customer",
    )?;
    let input: AccountIds = parse_body(&body)?;
    with_site(&state, &caller.site, |desk| {
        let i = resolve_service_desk(desk, &id)?;
        let mut unknown = Vec::new();
        for account in input.all() {
            if find_person(&state, &caller.site, &desk.customers, account).is_none() {
                unknown.push(account.as_str());
                continue;
            }
            let sd = &mut desk.service_desks[i];
            if !sd.customers.contains(account) {
                sd.customers.push(account.clone());
            }
        }
        if unknown.is_empty() {
            Ok(no_content())
        } else {
            Err(unknown_accounts(&unknown))
        }
    })
}

async fn remove_desk_customers(
    State(state): State<SimState>,
    caller: Caller,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    require_opt_in(&headers)?;
    caller.require_route(
        &Method::DELETE,
        "/rest/servicedeskapi/servicedesk/{serviceDeskId}/customer",
    )?;
    let input: AccountIds = parse_body(&body)?;
    with_site(&state, &caller.site, |desk| {
        let i = resolve_service_desk(desk, &id)?;
        let remove: Vec<&String> = input.all().collect();
        desk.service_desks[i]
            .customers
            .retain(|c| !remove.contains(&c));
        Ok(no_content())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_validation() {
        assert!(valid_email("fred@example.com"));
        assert!(!valid_email("fred"));
        assert!(!valid_email("@example.com"));
        assert!(!valid_email("fred@example"));
        assert!(!valid_email("fred@@example.com"));
        assert!(!valid_email("fr ed@example.com"));
    }
}
