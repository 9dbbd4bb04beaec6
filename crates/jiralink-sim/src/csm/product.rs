//! CSM products (`GET|POST /product`, `GET|PUT|DELETE /product/{id}`) and entitlements
//! (`GET /entitlements`, `GET|DELETE /entitlement/{id}`; creation lives under the customer and
//! organization routes). Deleting a product deletes its entitlements.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::auth::Caller;
use crate::csm::store::{CsmData, Entitlement, Holder};
use crate::csm::{CursorQuery, PREFIX, bad_request, cursor_page, error, not_found, parse_body};
use crate::errors::ApiError;
use crate::jsm::store::{SiteDesk, with_site};
use crate::state::SimState;

const READ: &str = "read:product:jira-service-management";
const WRITE: &str = "write:product:jira-service-management";
const READ_ENTITLEMENT: &str = "read:entitlement:jira-service-management";
const WRITE_ENTITLEMENT: &str = "write:entitlement:jira-service-management";

/// Longest product name.
pub const MAX_NAME_CHARS: usize = 255;

/// Routes of this module.
pub fn router() -> Router<SimState> {
    Router::new()
        .route(
            &format!("{PREFIX}/product"),
            get(list_products).post(create_product),
        )
        .route(
            &format!("{PREFIX}/product/{{productId}}"),
            get(get_product).put(rename_product).delete(delete_product),
        )
        .route(&format!("{PREFIX}/entitlements"), get(list_entitlements))
        .route(
            &format!("{PREFIX}/entitlement/{{entitlementId}}"),
            get(get_entitlement).delete(delete_entitlement),
        )
}

fn product_json(data: &CsmData, id: &str) -> Option<Value> {
    data.products
        .iter()
        .find(|p| p.id == id)
        .map(|p| json!({ "id": p.id, "name": p.name }))
}

/// `{"id","product":{"id","name"},"customerId"|"organizationId","details":[]}`.
pub fn entitlement_json(data: &CsmData, e: &Entitlement) -> Value {
    let mut v = json!({
        "id": e.id,
        "product": product_json(data, &e.product_id).unwrap_or(Value::Null),
        "details": [],
    });
    match &e.holder {
        Holder::Customer(c) => v["customerId"] = Value::from(c.clone()),
        Holder::Organization(o) => v["organizationId"] = Value::from(o.to_string()),
    }
    v
}

/// The entitlements held by `holder`, as [`entitlement_json`].
pub fn holder_entitlements(data: &CsmData, holder: &Holder) -> Vec<Value> {
    data.entitlements
        .iter()
        .filter(|e| e.holder == *holder)
        .map(|e| entitlement_json(data, e))
        .collect()
}

fn product_not_found(id: &str) -> ApiError {
    not_found(&format!("The product '{id}' does not exist."))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct EntitlementInput {
    product_id: Option<String>,
}

/// Creates an entitlement of `holder` to the product in `{"productId"}`.
pub fn new_entitlement(
    desk: &mut SiteDesk,
    holder: Holder,
    body: &Bytes,
) -> Result<Value, ApiError> {
    let input: EntitlementInput = parse_body(body)?;
    let product = input
        .product_id
        .ok_or_else(|| bad_request("The field 'productId' is required."))?;
    if !desk.csm.products.iter().any(|p| p.id == product) {
        return Err(product_not_found(&product));
    }
    if desk
        .csm
        .entitlements
        .iter()
        .any(|e| e.holder == holder && e.product_id == product)
    {
        return Err(error(
            StatusCode::CONFLICT,
            "This entitlement already exists.",
        ));
    }
    let id = desk.csm.new_id("entitlement");
    let e = Entitlement {
        id,
        product_id: product,
        holder,
    };
    let out = entitlement_json(&desk.csm, &e);
    desk.csm.entitlements.push(e);
    Ok(out)
}

#[derive(Debug, Deserialize)]
struct NameInput {
    name: Option<String>,
}

fn check_name(desk: &SiteDesk, body: &Bytes, except: Option<&str>) -> Result<String, ApiError> {
    let input: NameInput = parse_body(body)?;
    let name = input.name.unwrap_or_default().trim().to_owned();
    let chars = name.chars().count();
    if chars == 0 || chars > MAX_NAME_CHARS {
        return Err(bad_request(
            "The product name must contain 1-255 characters.",
        ));
    }
    if desk
        .csm
        .products
        .iter()
        .any(|p| Some(p.id.as_str()) != except && p.name.eq_ignore_ascii_case(&name))
    {
        return Err(error(
            StatusCode::CONFLICT,
            &format!("A product named '{name}' already exists."),
        ));
    }
    Ok(name)
}

async fn list_products(
    State(state): State<SimState>,
    caller: Caller,
    Query(page): Query<CursorQuery>,
) -> Result<Json<Value>, ApiError> {
    caller.require_any(&[&[READ]])?;
    let items = with_site(&state, &caller.site, |desk| {
        desk.csm
            .products
            .iter()
            .map(|p| json!({ "id": p.id, "name": p.name }))
            .collect::<Vec<_>>()
    });
    cursor_page(items, page.limit.as_deref(), page.cursor.as_deref()).map(Json)
}

async fn create_product(
    State(state): State<SimState>,
    caller: Caller,
    body: Bytes,
) -> Result<Response, ApiError> {
    caller.require_any(&[&[WRITE]])?;
    let created = with_site(&state, &caller.site, |desk| {
        let name = check_name(desk, &body, None)?;
        let id = desk.csm.add_product(&name);
        product_json(&desk.csm, &id).ok_or_else(|| product_not_found(&id))
    })?;
    Ok((StatusCode::CREATED, Json(created)).into_response())
}

async fn get_product(
    State(state): State<SimState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.require_any(&[&[READ]])?;
    with_site(&state, &caller.site, |desk| {
        product_json(&desk.csm, &id)
            .map(Json)
            .ok_or_else(|| product_not_found(&id))
    })
}

async fn rename_product(
    State(state): State<SimState>,
    caller: Caller,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    caller.require_any(&[&[WRITE]])?;
    with_site(&state, &caller.site, |desk| {
        if product_json(&desk.csm, &id).is_none() {
            return Err(product_not_found(&id));
        }
        let name = check_name(desk, &body, Some(&id))?;
        if let Some(p) = desk.csm.products.iter_mut().find(|p| p.id == id) {
            p.name = name;
        }
        product_json(&desk.csm, &id)
            .map(Json)
            .ok_or_else(|| product_not_found(&id))
    })
}

async fn delete_product(
    State(state): State<SimState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    caller.require_any(&[&[WRITE]])?;
    with_site(&state, &caller.site, |desk| {
        let before = desk.csm.products.len();
        desk.csm.products.retain(|p| p.id != id);
        if desk.csm.products.len() == before {
            return Err(product_not_found(&id));
        }
        desk.csm.entitlements.retain(|e| e.product_id != id);
        Ok(StatusCode::NO_CONTENT.into_response())
    })
}

async fn list_entitlements(
    State(state): State<SimState>,
    caller: Caller,
    Query(page): Query<CursorQuery>,
) -> Result<Json<Value>, ApiError> {
    caller.require_any(&[&[READ_ENTITLEMENT]])?;
    let items = with_site(&state, &caller.site, |desk| {
        desk.csm
            .entitlements
            .iter()
            .map(|e| entitlement_json(&desk.csm, e))
            .collect::<Vec<_>>()
    });
    cursor_page(items, page.limit.as_deref(), page.cursor.as_deref()).map(Json)
}

fn entitlement_not_found(id: &str) -> ApiError {
    not_found(&format!("The entitlement '{id}' does not exist."))
}

async fn get_entitlement(
    State(state): State<SimState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.require_any(&[&[READ_ENTITLEMENT]])?;
    with_site(&state, &caller.site, |desk| {
        desk.csm
            .entitlements
            .iter()
            .find(|e| e.id == id)
            .map(|e| Json(entitlement_json(&desk.csm, e)))
            .ok_or_else(|| entitlement_not_found(&id))
    })
}

async fn delete_entitlement(
    State(state): State<SimState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    caller.require_any(&[&[WRITE_ENTITLEMENT]])?;
    with_site(&state, &caller.site, |desk| {
        let before = desk.csm.entitlements.len();
        desk.csm.entitlements.retain(|e| e.id != id);
        if desk.csm.entitlements.len() == before {
            Err(entitlement_not_found(&id))
        } else {
            Ok(StatusCode::NO_CONTENT.into_response())
        }
    })
}
