//! Detail field definitions and values, shared by customers and organizations:
//! `GET|POST /{entity}/details`, `PUT|DELETE /{entity}/details/{fieldName}` and
//! `PUT /{entity}/{id}/details?fieldName=`.
//!
//! Renaming a field moves its stored values; deleting it (or removing a SELECT option) drops the
//! values that no longer fit.

use std::collections::BTreeMap;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::auth::Caller;
use crate::csm::store::{DetailField, FieldKind, MAX_DETAIL_FIELDS};
use crate::csm::{bad_request, error, not_found, parse_body};
use crate::errors::ApiError;
use crate::jsm::store::{SiteDesk, with_site};
use crate::state::SimState;

/// Customers or organizations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entity {
    /// Customer detail fields.
    Customer,
    /// Organization detail fields.
    Organization,
}

impl Entity {
    fn is_customer(self) -> bool {
        self == Self::Customer
    }

    /// The granular scope suffix (`customer` or `organization`).
    pub fn scope_noun(self) -> &'static str {
        match self {
            Self::Customer => "customer",
            Self::Organization => "organization",
        }
    }
}

/// One entity's detail-field definitions and the scopes that guard reading and changing them;
/// the routes of `customer` and `organization` share the handlers below through it.
pub trait DetailFields {
    const ENTITY: Entity;
    const READ: &'static str;
    const WRITE: &'static str;
}

/// `GET …/details`
pub async fn list_fields<D: DetailFields>(
    State(state): State<SimState>,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    caller.require_any(&[&[D::READ]])?;
    Ok(Json(with_site(&state, &caller.site, |desk| {
        list(desk, D::ENTITY)
    })))
}

/// `POST …/details`
pub async fn create_field<D: DetailFields>(
    State(state): State<SimState>,
    caller: Caller,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    caller.require_any(&[&[D::WRITE]])?;
    with_site(&state, &caller.site, |desk| {
        create(desk, D::ENTITY, &body).map(Json)
    })
}

/// `PUT …/details/{fieldName}`
pub async fn edit_field<D: DetailFields>(
    State(state): State<SimState>,
    caller: Caller,
    Path(name): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    caller.require_any(&[&[D::WRITE]])?;
    with_site(&state, &caller.site, |desk| {
        edit(desk, D::ENTITY, &name, &body).map(Json)
    })
}

/// `DELETE …/details/{fieldName}`
pub async fn delete_field<D: DetailFields>(
    State(state): State<SimState>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    caller.require_any(&[&[D::WRITE]])?;
    with_site(&state, &caller.site, |desk| delete(desk, D::ENTITY, &name))?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Stored values of every entity of one kind, by entity key.
fn value_maps(desk: &mut SiteDesk, entity: Entity) -> Vec<&mut BTreeMap<String, Vec<String>>> {
    match entity {
        Entity::Customer => desk
            .customers
            .values_mut()
            .map(|c| &mut c.details)
            .collect(),
        Entity::Organization => desk
            .organizations
            .values_mut()
            .map(|o| &mut o.details)
            .collect(),
    }
}

/// `{"results":[field…]}` in position order.
pub fn list(desk: &SiteDesk, entity: Entity) -> Value {
    let mut fields: Vec<&DetailField> = desk.csm.fields(entity.is_customer()).iter().collect();
    fields.sort_by_key(|f| f.position);
    json!({ "results": fields.iter().map(|f| f.to_json()).collect::<Vec<_>>() })
}

#[derive(Debug, Deserialize)]
struct TypeInput {
    name: Option<String>,
    #[serde(default)]
    options: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
struct CreateInput {
    name: Option<String>,
    #[serde(rename = "type")]
    kind: Option<TypeInput>,
}

fn check_options(kind: FieldKind, options: Option<Vec<String>>) -> Result<Vec<String>, ApiError> {
    match (kind.has_options(), options) {
        (true, Some(opts)) => {
            let mut seen = std::collections::BTreeSet::new();
            if opts.is_empty()
                || opts
                    .iter()
                    .any(|o| o.trim().is_empty() || !seen.insert(o.to_lowercase()))
            {
                return Err(bad_request(
                    "SELECT and MULTISELECT fields need unique, non-empty options.",
                ));
            }
            Ok(opts)
        }
        (true, None) => Err(bad_request(
            "SELECT and MULTISELECT fields need unique, non-empty options.",
        )),
        (false, Some(opts)) if !opts.is_empty() => Err(bad_request(
            "Only SELECT and MULTISELECT fields have options.",
        )),
        (false, _) => Ok(Vec::new()),
    }
}

fn field_index(desk: &SiteDesk, entity: Entity, name: &str) -> Result<usize, ApiError> {
    desk.csm
        .fields(entity.is_customer())
        .iter()
        .position(|f| f.name.eq_ignore_ascii_case(name))
        .ok_or_else(|| not_found(&format!("The detail field '{name}' does not exist.")))
}

/// `POST /{entity}/details`.
pub fn create(desk: &mut SiteDesk, entity: Entity, body: &Bytes) -> Result<Value, ApiError> {
    let input: CreateInput = parse_body(body)?;
    let name = input.name.unwrap_or_default().trim().to_owned();
    if name.is_empty() || name.chars().count() > 255 {
        return Err(bad_request(
            "The detail field name must contain 1-255 characters.",
        ));
    }
    let ty = input
        .kind
        .ok_or_else(|| bad_request("The detail field type is required."))?;
    let kind = ty
        .name
        .as_deref()
        .and_then(FieldKind::parse)
        .ok_or_else(|| {
            bad_request(
                "The detail field type must be one of TEXT, NUMBER, EMAIL, URL, PHONE, DATE, SELECT, MULTISELECT.",
            )
        })?;
    let options = check_options(kind, ty.options)?;
    let fields = desk.csm.fields_mut(entity.is_customer());
    if fields.iter().any(|f| f.name.eq_ignore_ascii_case(&name)) {
        return Err(error(
            StatusCode::CONFLICT,
            &format!("A detail field named '{name}' already exists."),
        ));
    }
    if fields.len() >= MAX_DETAIL_FIELDS {
        return Err(bad_request(&format!(
            "You can create up to {MAX_DETAIL_FIELDS} detail fields."
        )));
    }
    let position = fields.iter().map(|f| f.position).max().unwrap_or(0) + 1;
    let field = DetailField {
        name,
        kind,
        options,
        position,
    };
    let out = field.to_json();
    fields.push(field);
    Ok(out)
}

#[derive(Debug, Deserialize)]
struct EditInput {
    name: Option<String>,
    options: Option<Vec<String>>,
}

/// `PUT /{entity}/details/{fieldName}`: `{"name": new name, "options"?: […]}`.
pub fn edit(
    desk: &mut SiteDesk,
    entity: Entity,
    field_name: &str,
    body: &Bytes,
) -> Result<Value, ApiError> {
    let input: EditInput = parse_body(body)?;
    let i = field_index(desk, entity, field_name)?;
    let new_name = input.name.unwrap_or_default().trim().to_owned();
    if new_name.is_empty() || new_name.chars().count() > 255 {
        return Err(bad_request(
            "The detail field name must contain 1-255 characters.",
        ));
    }
    let fields = desk.csm.fields(entity.is_customer());
    if fields
        .iter()
        .enumerate()
        .any(|(j, f)| j != i && f.name.eq_ignore_ascii_case(&new_name))
    {
        return Err(error(
            StatusCode::CONFLICT,
            &format!("A detail field named '{new_name}' already exists."),
        ));
    }
    let old = fields[i].clone();
    let options = match input.options {
        Some(opts) => check_options(old.kind, Some(opts))?,
        None => old.options.clone(),
    };
    for values in value_maps(desk, entity) {
        if let Some(mut v) = values.remove(&old.name) {
            if old.kind.has_options() {
                v.retain(|x| options.contains(x));
            }
            if !v.is_empty() {
                values.insert(new_name.clone(), v);
            }
        }
    }
    let field = &mut desk.csm.fields_mut(entity.is_customer())[i];
    field.name = new_name;
    field.options = options;
    Ok(field.to_json())
}

/// `DELETE /{entity}/details/{fieldName}`.
pub fn delete(desk: &mut SiteDesk, entity: Entity, field_name: &str) -> Result<(), ApiError> {
    let i = field_index(desk, entity, field_name)?;
    let removed = desk.csm.fields_mut(entity.is_customer()).remove(i);
    for values in value_maps(desk, entity) {
        values.remove(&removed.name);
    }
    Ok(())
}

#[derive(Debug, Deserialize)]
struct ValuesInput {
    values: Option<Vec<String>>,
}

/// Validates `{"values":[…]}` for `field_name`; returns the canonical field name and values.
pub fn check_values(
    desk: &SiteDesk,
    entity: Entity,
    field_name: Option<&str>,
    body: &Bytes,
) -> Result<(String, Vec<String>), ApiError> {
    let field_name = field_name
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| bad_request("The query parameter 'fieldName' is required."))?;
    let input: ValuesInput = parse_body(body)?;
    let values = input
        .values
        .ok_or_else(|| bad_request("The field 'values' is required."))?;
    let field = &desk.csm.fields(entity.is_customer())[field_index(desk, entity, field_name)?];
    field.validate(&values).map_err(|m| bad_request(&m))?;
    Ok((field.name.clone(), values))
}

/// Stores (or, for no values, clears) a detail value and returns `{"name","values"}`.
pub fn store_values(
    details: &mut BTreeMap<String, Vec<String>>,
    name: String,
    values: Vec<String>,
) -> Value {
    let out = json!({ "name": name, "values": values });
    if values.is_empty() {
        details.remove(&name);
    } else {
        details.insert(name, values);
    }
    out
}
