//! Bulk operations and tasks (all experimental):
//!
//! | Endpoint | Body list | Items | Task type |
//! |---|---|---|---|
//! | `POST /customer/bulk` | `customers[{operationType: CREATE\|UPDATE\|DELETE, payload{id?,email?,displayName?}}]` | ≤ 50 | `BULK_CUSTOMER_ACCOUNT_MANAGE` |
//! | `POST /customer/details/bulk` | `customers[{customerId, operations[{operationType: UPDATE\|PATCH\|DELETE, fieldName, values}]}]` | ≤ 100 | `BULK_CUSTOMER_DETAIL_UPDATE` |
//! | `POST /customer/profile/bulk` | `customerProfiles[{operationType: UPSERT\|DELETE, payload{id?,email?,displayName?,details?,associateOrganizations?{organizationIds}}}]` | ≤ 100 | `BULK_CUSTOMER_PROFILE_CREATE_UPDATE` |
//! | `POST /organization/bulk` | `organizations[{operationType, payload{id?,name?}}]` | ≤ 50 | `BULK_ORGANIZATION_MANAGE` |
//! | `POST /organization/details/bulk` | `organizations[{organizationId, operations[…]}]` | ≤ 100 | `BULK_ORGANIZATION_DETAIL_UPDATE` |
//! | `POST /organization/profile/bulk` | `organizationProfiles[{operationType: UPSERT\|DELETE, payload{id?,name?,details?}}]` | ≤ 100 | `BULK_ORGANIZATION_PROFILE_CREATE_UPDATE` |
//!
//! Every submission needs an `Idempotency-Key` header: the same key with the same endpoint and
//! body returns the same task; with anything else it answers 400. A site holds at most
//! [`MAX_ACTIVE_TASKS`] queued or running tasks (400 `Maximum number of tasks reached`).
//! Submissions answer **202** `{"id","statusUrl"}`.
//!
//! Tasks run on the simulator clock: `NOT_STARTED` for [`crate::csm::store::QUEUE_SECS`] s,
//! `IN_PROGRESS` for [`crate::csm::store::RUN_SECS`] s, then the operations are applied in order and the task ends `FINISHED` (check
//! `failures`) or `FAILED` when no item succeeded. `GET /tasks/{id}` answers 404 three days after
//! the task ended.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::auth::Caller;
use crate::csm::store::{
    DetailField, Failure, IdempotencyRecord, MAX_ACTIVE_TASKS, Task, TaskStatus,
};
use crate::csm::{PREFIX, bad_request, not_found, require_opt_in};
use crate::errors::ApiError;
use crate::jsm::store::{SiteDesk, with_site};
use crate::state::SimState;

/// Most items of an account bulk call.
pub const MAX_ACCOUNT_ITEMS: usize = 50;
/// Most items of a profile or detail bulk call.
pub const MAX_PROFILE_ITEMS: usize = 100;
/// Message of the 400 when the task cap is reached.
pub const TASK_CAP_MESSAGE: &str = "Maximum number of tasks reached";

/// Routes of this module.
pub fn router() -> Router<SimState> {
    Router::new()
        .route(&format!("{PREFIX}/customer/bulk"), post(customer_bulk))
        .route(
            &format!("{PREFIX}/customer/details/bulk"),
            post(customer_details_bulk),
        )
        .route(
            &format!("{PREFIX}/customer/profile/bulk"),
            post(customer_profile_bulk),
        )
        .route(
            &format!("{PREFIX}/organization/bulk"),
            post(organization_bulk),
        )
        .route(
            &format!("{PREFIX}/organization/details/bulk"),
            post(organization_details_bulk),
        )
        .route(
            &format!("{PREFIX}/organization/profile/bulk"),
            post(organization_profile_bulk),
        )
        .route(&format!("{PREFIX}/tasks/{{taskId}}"), get(get_task))
}

/// What an account or profile item does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Operation {
    /// Create a new entity.
    Create,
    /// Change an existing entity.
    Update,
    /// Update if it exists, else create.
    Upsert,
    /// Delete the entity.
    Delete,
}

impl Operation {
    fn name(self) -> &'static str {
        match self {
            Self::Create => "CREATE",
            Self::Update => "UPDATE",
            Self::Upsert => "UPSERT",
            Self::Delete => "DELETE",
        }
    }

    fn parse(s: &str, allowed: &[Self]) -> Option<Self> {
        allowed
            .iter()
            .copied()
            .find(|o| o.name().eq_ignore_ascii_case(s))
    }
}

/// What a detail operation does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum DetailOpKind {
    /// Replace the values.
    Update,
    /// Add the values (MULTISELECT keeps existing ones; other types replace).
    Patch,
    /// Remove the field's value.
    Delete,
}

/// One detail operation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DetailOp {
    /// Kind.
    pub kind: DetailOpKind,
    /// Field name.
    pub field: String,
    /// Values.
    pub values: Vec<String>,
}

/// One item of a bulk task.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum BulkItem {
    /// Customer account create/update/delete, or profile upsert/delete.
    Customer {
        /// Operation.
        op: Operation,
        /// Account id.
        id: Option<String>,
        /// E-mail address.
        email: Option<String>,
        /// Display name.
        display_name: Option<String>,
        /// Detail values (profiles).
        details: Vec<(String, Vec<String>)>,
        /// Organizations to join (profiles).
        organizations: Vec<String>,
    },
    /// Detail operations on one customer.
    CustomerDetails {
        /// Account id.
        id: String,
        /// Operations.
        ops: Vec<DetailOp>,
    },
    /// Organization create/update/delete, or profile upsert/delete.
    Organization {
        /// Operation.
        op: Operation,
        /// Organization id.
        id: Option<String>,
        /// Name.
        name: Option<String>,
        /// Detail values (profiles).
        details: Vec<(String, Vec<String>)>,
    },
    /// Detail operations on one organization.
    OrganizationDetails {
        /// Organization id.
        id: String,
        /// Operations.
        ops: Vec<DetailOp>,
    },
}

/// The parsed operations of a task.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BulkOps {
    /// Items in request order.
    pub items: Vec<BulkItem>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct DetailValueInput {
    name: String,
    #[serde(default)]
    values: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct OrgIdsInput {
    #[serde(default)]
    organization_ids: Vec<Value>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PayloadInput {
    id: Option<Value>,
    email: Option<String>,
    display_name: Option<String>,
    name: Option<String>,
    #[serde(default)]
    details: Vec<DetailValueInput>,
    #[serde(default)]
    associate_organizations: OrgIdsInput,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ItemInput {
    operation_type: String,
    #[serde(default)]
    payload: PayloadInput,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct DetailOpInput {
    operation_type: String,
    field_name: String,
    #[serde(default)]
    values: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct DetailItemInput {
    customer_id: Option<Value>,
    organization_id: Option<Value>,
    operations: Vec<DetailOpInput>,
}

fn id_string(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn list<T: serde::de::DeserializeOwned>(
    body: &Value,
    key: &str,
    max: usize,
) -> Result<Vec<T>, ApiError> {
    let items = body
        .get(key)
        .cloned()
        .ok_or_else(|| bad_request(&format!("The field '{key}' is required.")))?;
    let items: Vec<T> = serde_json::from_value(items)
        .map_err(|e| bad_request(&format!("The field '{key}' is not valid: {e}")))?;
    if items.is_empty() {
        return Err(bad_request(&format!(
            "The field '{key}' must contain at least one item."
        )));
    }
    if items.len() > max {
        return Err(bad_request(&format!(
            "The field '{key}' accepts at most {max} items."
        )));
    }
    Ok(items)
}

fn operation(s: &str, allowed: &[Operation]) -> Result<Operation, ApiError> {
    Operation::parse(s, allowed).ok_or_else(|| {
        let names: Vec<&str> = allowed.iter().map(|o| o.name()).collect();
        bad_request(&format!(
            "The operationType '{s}' is not valid; use one of {}.",
            names.join(", ")
        ))
    })
}

fn details(d: Vec<DetailValueInput>) -> Vec<(String, Vec<String>)> {
    d.into_iter().map(|d| (d.name, d.values)).collect()
}

fn detail_ops(ops: Vec<DetailOpInput>) -> Result<Vec<DetailOp>, ApiError> {
    ops.into_iter()
        .map(|o| {
            let kind = match o.operation_type.to_ascii_uppercase().as_str() {
                "UPDATE" => DetailOpKind::Update,
                "PATCH" => DetailOpKind::Patch,
                "DELETE" => DetailOpKind::Delete,
                other => {
                    return Err(bad_request(&format!(
                        "The operationType '{other}' is not valid; use one of UPDATE, PATCH, DELETE."
                    )));
                }
            };
            Ok(DetailOp {
                kind,
                field: o.field_name,
                values: o.values,
            })
        })
        .collect()
}

/// The kinds of bulk endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    CustomerAccounts,
    CustomerDetails,
    CustomerProfiles,
    OrganizationAccounts,
    OrganizationDetails,
    OrganizationProfiles,
}

impl Kind {
    fn task_type(self) -> &'static str {
        match self {
            Self::CustomerAccounts => "BULK_CUSTOMER_ACCOUNT_MANAGE",
            Self::CustomerDetails => "BULK_CUSTOMER_DETAIL_UPDATE",
            Self::CustomerProfiles => "BULK_CUSTOMER_PROFILE_CREATE_UPDATE",
            Self::OrganizationAccounts => "BULK_ORGANIZATION_MANAGE",
            Self::OrganizationDetails => "BULK_ORGANIZATION_DETAIL_UPDATE",
            Self::OrganizationProfiles => "BULK_ORGANIZATION_PROFILE_CREATE_UPDATE",
        }
    }

    fn scope(self) -> &'static str {
        match self {
            Self::CustomerAccounts => "write:customer:jira-service-management",
            Self::CustomerDetails => "write:customer.detail:jira-service-management",
            Self::CustomerProfiles => "write:customer.profile:jira-service-management",
            Self::OrganizationAccounts => "write:organization:jira-service-management",
            Self::OrganizationDetails => "write:organization.detail:jira-service-management",
            Self::OrganizationProfiles => "write:organization.profile:jira-service-management",
        }
    }

    fn parse(self, body: &Value) -> Result<BulkOps, ApiError> {
        use Operation::{Create, Delete, Update, Upsert};
        let items = match self {
            Self::CustomerAccounts | Self::CustomerProfiles => {
                let (key, max, allowed): (_, _, &[Operation]) = if self == Self::CustomerAccounts {
                    ("customers", MAX_ACCOUNT_ITEMS, &[Create, Update, Delete])
                } else {
                    ("customerProfiles", MAX_PROFILE_ITEMS, &[Upsert, Delete])
                };
                list::<ItemInput>(body, key, max)?
                    .into_iter()
                    .map(|i| {
                        Ok(BulkItem::Customer {
                            op: operation(&i.operation_type, allowed)?,
                            id: id_string(i.payload.id.as_ref()),
                            email: i.payload.email,
                            display_name: i.payload.display_name,
                            details: details(i.payload.details),
                            organizations: i
                                .payload
                                .associate_organizations
                                .organization_ids
                                .iter()
                                .filter_map(|v| id_string(Some(v)))
                                .collect(),
                        })
                    })
                    .collect::<Result<Vec<_>, ApiError>>()?
            }
            Self::OrganizationAccounts | Self::OrganizationProfiles => {
                let (key, max, allowed): (_, _, &[Operation]) =
                    if self == Self::OrganizationAccounts {
                        (
                            "organizations",
                            MAX_ACCOUNT_ITEMS,
                            &[Create, Update, Delete],
                        )
                    } else {
                        ("organizationProfiles", MAX_PROFILE_ITEMS, &[Upsert, Delete])
                    };
                list::<ItemInput>(body, key, max)?
                    .into_iter()
                    .map(|i| {
                        Ok(BulkItem::Organization {
                            op: operation(&i.operation_type, allowed)?,
                            id: id_string(i.payload.id.as_ref()),
                            name: i.payload.name,
                            details: details(i.payload.details),
                        })
                    })
                    .collect::<Result<Vec<_>, ApiError>>()?
            }
            Self::CustomerDetails | Self::OrganizationDetails => {
                let customers = self == Self::CustomerDetails;
                let key = if customers {
                    "customers"
                } else {
                    "organizations"
                };
                list::<DetailItemInput>(body, key, MAX_PROFILE_ITEMS)?
                    .into_iter()
                    .map(|i| {
                        let id = if customers {
                            id_string(i.customer_id.as_ref())
                        } else {
                            id_string(i.organization_id.as_ref())
                        };
                        let id = id.ok_or_else(|| {
                            bad_request(if customers {
                                "Every item needs a 'customerId'."
                            } else {
                                "Every item needs an 'organizationId'."
                            })
                        })?;
                        let ops = detail_ops(i.operations)?;
                        Ok(if customers {
                            BulkItem::CustomerDetails { id, ops }
                        } else {
                            BulkItem::OrganizationDetails { id, ops }
                        })
                    })
                    .collect::<Result<Vec<_>, ApiError>>()?
            }
        };
        Ok(BulkOps { items })
    }
}

async fn submit(
    state: &SimState,
    caller: &Caller,
    headers: &HeaderMap,
    uri: &Uri,
    body: &Bytes,
    kind: Kind,
) -> Result<Response, ApiError> {
    require_opt_in(headers)?;
    caller.require_any(&[&[kind.scope()]])?;
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .map(str::to_owned)
        .ok_or_else(|| {
            bad_request("The Idempotency-Key header is required for bulk operations.")
        })?;
    let parsed: Value = crate::csm::parse_body(body)?;
    let ops = kind.parse(&parsed)?;
    // serde_json sorts object keys, so equal JSON documents print identically.
    let fingerprint = format!("{}\n{parsed}", uri.path());
    let now = state.now();
    let task_id = with_site(state, &caller.site, |desk| {
        if let Some(record) = desk.csm.idempotency.get(&key) {
            return if record.fingerprint == fingerprint {
                Ok(record.task_id.clone())
            } else {
                Err(bad_request(
                    "The Idempotency-Key was already used for a different request; use a new key.",
                ))
            };
        }
        if desk.csm.active_tasks(now) >= MAX_ACTIVE_TASKS {
            return Err(bad_request(TASK_CAP_MESSAGE));
        }
        let id = desk.csm.new_id("task");
        desk.csm.tasks.insert(
            id.clone(),
            Task {
                id: id.clone(),
                task_type: kind.task_type(),
                created: now,
                ops,
                outcome: None,
                failures: Vec::new(),
            },
        );
        desk.csm.idempotency.insert(
            key,
            IdempotencyRecord {
                fingerprint,
                task_id: id.clone(),
            },
        );
        Ok(id)
    })?;
    let status_url = format!("{}/api/v1/tasks/{task_id}", caller.base);
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({ "id": task_id, "statusUrl": status_url })),
    )
        .into_response())
}

macro_rules! bulk_handler {
    ($name:ident, $kind:expr) => {
        async fn $name(
            State(state): State<SimState>,
            caller: Caller,
            headers: HeaderMap,
            uri: Uri,
            body: Bytes,
        ) -> Result<Response, ApiError> {
            submit(&state, &caller, &headers, &uri, &body, $kind).await
        }
    };
}

bulk_handler!(customer_bulk, Kind::CustomerAccounts);
bulk_handler!(customer_details_bulk, Kind::CustomerDetails);
bulk_handler!(customer_profile_bulk, Kind::CustomerProfiles);
bulk_handler!(organization_bulk, Kind::OrganizationAccounts);
bulk_handler!(organization_details_bulk, Kind::OrganizationDetails);
bulk_handler!(organization_profile_bulk, Kind::OrganizationProfiles);

async fn get_task(
    State(state): State<SimState>,
    caller: Caller,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    require_opt_in(&headers)?;
    caller.require_any(&[&["read:task:jira-service-management"]])?;
    let now = state.now();
    with_site(&state, &caller.site, |desk| {
        desk.csm
            .tasks
            .get(&id)
            .map(|t| Json(t.to_json(now)))
            .ok_or_else(|| not_found(&format!("The task '{id}' does not exist.")))
    })
}

fn find_field<'a>(fields: &'a [DetailField], name: &str) -> Result<&'a DetailField, String> {
    fields
        .iter()
        .find(|f| f.name.eq_ignore_ascii_case(name))
        .ok_or_else(|| "Invalid detail field".to_owned())
}

/// Checks detail values and returns them keyed by canonical field name.
fn checked_details(
    fields: &[DetailField],
    values: &[(String, Vec<String>)],
) -> Result<Vec<(String, Vec<String>)>, String> {
    values
        .iter()
        .map(|(name, v)| {
            let f = find_field(fields, name)?;
            f.validate(v)?;
            Ok((f.name.clone(), v.clone()))
        })
        .collect()
}

/// Applies detail operations to one entity's values; nothing changes if one fails.
fn apply_detail_ops(
    fields: &[DetailField],
    current: &std::collections::BTreeMap<String, Vec<String>>,
    ops: &[DetailOp],
) -> Result<std::collections::BTreeMap<String, Vec<String>>, String> {
    let mut next = current.clone();
    for op in ops {
        let f = find_field(fields, &op.field)?;
        match op.kind {
            DetailOpKind::Delete => {
                next.remove(&f.name);
            }
            DetailOpKind::Update => {
                f.validate(&op.values)?;
                next.insert(f.name.clone(), op.values.clone());
            }
            DetailOpKind::Patch => {
                let mut merged = if f.kind == crate::csm::store::FieldKind::Multiselect {
                    next.get(&f.name).cloned().unwrap_or_default()
                } else {
                    Vec::new()
                };
                for v in &op.values {
                    if !merged.contains(v) {
                        merged.push(v.clone());
                    }
                }
                f.validate(&merged)?;
                next.insert(f.name.clone(), merged);
            }
        }
    }
    next.retain(|_, v| !v.is_empty());
    Ok(next)
}

fn failure(entity: &str, id: &str, op: &str, error: impl Into<String>) -> Failure {
    Failure {
        entity: entity.to_owned(),
        entity_id: id.to_owned(),
        operation: op.to_owned(),
        error: error.into(),
    }
}

fn error_text(e: &ApiError) -> String {
    format!("Request failed with status {}", e.status().as_u16())
}

fn apply_customer(
    desk: &mut SiteDesk,
    item: &BulkItem,
    now: OffsetDateTime,
) -> Result<(), Failure> {
    let BulkItem::Customer {
        op,
        id,
        email,
        display_name,
        details,
        organizations,
    } = item
    else {
        return Ok(());
    };
    let label = id.clone().or_else(|| email.clone()).unwrap_or_default();
    let fail = |e: String| failure("CUSTOMER", &label, op.name(), e);
    let existing = match (id, email) {
        (Some(id), _) => desk.customers.get(id).map(|c| c.account_id.clone()),
        (None, Some(e)) if *op == Operation::Upsert => {
            desk.customer_by_email(e).map(|c| c.account_id.clone())
        }
        _ => None,
    };
    let checked = checked_details(&desk.csm.customer_fields, details).map_err(fail)?;
    let mut org_ids = Vec::new();
    for o in organizations {
        match o.parse::<u64>() {
            Ok(n) if desk.organizations.contains_key(&n) => org_ids.push(n),
            _ => return Err(fail(format!("Organization {o} does not exist"))),
        }
    }
    let target = match (op, existing) {
        (Operation::Delete, Some(acc)) => {
            desk.remove_customer(&acc);
            return Ok(());
        }
        (Operation::Delete | Operation::Update, None) => {
            return Err(fail("Customer does not exist".to_owned()));
        }
        (Operation::Create, Some(_)) => {
            return Err(fail("Customer already exists".to_owned()));
        }
        (Operation::Update | Operation::Upsert, Some(acc)) => {
            crate::csm::customer::apply_account_update(
                desk,
                &acc,
                email.clone(),
                display_name.clone(),
                false,
            )
            .map_err(|e| fail(error_text(&e)))?;
            acc
        }
        (Operation::Create | Operation::Upsert, None) => {
            let Some(email) = email.as_deref().map(str::trim) else {
                return Err(fail("An email address is required".to_owned()));
            };
            if !crate::jsm::customer::valid_email(email) {
                return Err(fail("Invalid email address".to_owned()));
            }
            if desk.customer_by_email(email).is_some() {
                return Err(fail("Customer already exists".to_owned()));
            }
            let name = display_name
                .as_deref()
                .map(str::trim)
                .filter(|n| !n.is_empty())
                .unwrap_or(email)
                .to_owned();
            desk.add_customer(email, &name, "UTC", now)
        }
    };
    if let Some(c) = desk.customers.get_mut(&target) {
        for (name, values) in checked {
            if values.is_empty() {
                c.details.remove(&name);
            } else {
                c.details.insert(name, values);
            }
        }
    }
    for o in org_ids {
        if let Some(org) = desk.organizations.get_mut(&o) {
            org.members.insert(target.clone());
        }
    }
    Ok(())
}

fn apply_organization(
    desk: &mut SiteDesk,
    item: &BulkItem,
    now: OffsetDateTime,
) -> Result<(), Failure> {
    let BulkItem::Organization {
        op,
        id,
        name,
        details,
    } = item
    else {
        return Ok(());
    };
    let label = id.clone().or_else(|| name.clone()).unwrap_or_default();
    let fail = |e: String| failure("ORGANIZATION", &label, op.name(), e);
    let existing = match (id, name) {
        (Some(id), _) => id
            .parse::<u64>()
            .ok()
            .filter(|n| desk.organizations.contains_key(n)),
        (None, Some(n)) if *op == Operation::Upsert => desk.organization_by_name(n).map(|o| o.id),
        _ => None,
    };
    let checked = checked_details(&desk.csm.organization_fields, details).map_err(fail)?;
    let target = match (op, existing) {
        (Operation::Delete, Some(oid)) => {
            desk.remove_organization(oid);
            return Ok(());
        }
        (Operation::Delete | Operation::Update, None) => {
            return Err(fail("Organization does not exist".to_owned()));
        }
        (Operation::Create, Some(_)) => {
            return Err(fail("Organization already exists".to_owned()));
        }
        (Operation::Update | Operation::Upsert, Some(oid)) => {
            if name.is_some() {
                crate::csm::organization::rename(desk, oid, name.clone())
                    .map_err(|e| fail(error_text(&e)))?;
            }
            oid
        }
        (Operation::Create | Operation::Upsert, None) => {
            let n = crate::csm::organization::check_name(name.clone())
                .map_err(|e| fail(error_text(&e)))?;
            if desk.organization_by_name(&n).is_some() {
                return Err(fail("Organization already exists".to_owned()));
            }
            desk.add_organization(&n, now)
        }
    };
    if let Some(org) = desk.organizations.get_mut(&target) {
        for (name, values) in checked {
            if values.is_empty() {
                org.details.remove(&name);
            } else {
                org.details.insert(name, values);
            }
        }
    }
    Ok(())
}

fn apply_item(desk: &mut SiteDesk, item: &BulkItem, now: OffsetDateTime) -> Result<(), Failure> {
    match item {
        BulkItem::Customer { .. } => apply_customer(desk, item, now),
        BulkItem::Organization { .. } => apply_organization(desk, item, now),
        BulkItem::CustomerDetails { id, ops } => {
            let fail = |e: String| failure("CUSTOMER", id, "UPDATE", e);
            let current = desk
                .customers
                .get(id)
                .map(|c| c.details.clone())
                .ok_or_else(|| fail("Customer does not exist".to_owned()))?;
            let next = apply_detail_ops(&desk.csm.customer_fields, &current, ops).map_err(fail)?;
            if let Some(c) = desk.customers.get_mut(id) {
                c.details = next;
            }
            Ok(())
        }
        BulkItem::OrganizationDetails { id, ops } => {
            let fail = |e: String| failure("ORGANIZATION", id, "UPDATE", e);
            let oid = id
                .parse::<u64>()
                .ok()
                .filter(|n| desk.organizations.contains_key(n))
                .ok_or_else(|| fail("Organization does not exist".to_owned()))?;
            let current = desk.organizations[&oid].details.clone();
            let next =
                apply_detail_ops(&desk.csm.organization_fields, &current, ops).map_err(fail)?;
            if let Some(o) = desk.organizations.get_mut(&oid) {
                o.details = next;
            }
            Ok(())
        }
    }
}

/// Applies a due task's operations and records its outcome.
pub fn run_task(desk: &mut SiteDesk, task_id: &str, now: OffsetDateTime) {
    let Some(task) = desk.csm.tasks.get(task_id) else {
        return;
    };
    let items = task.ops.items.clone();
    let finished_at = task.due_at();
    let mut failures = Vec::new();
    for item in &items {
        if let Err(f) = apply_item(desk, item, now) {
            failures.push(f);
        }
    }
    let status = if !items.is_empty() && failures.len() == items.len() {
        TaskStatus::Failed
    } else {
        TaskStatus::Finished
    };
    if let Some(task) = desk.csm.tasks.get_mut(task_id) {
        task.failures = failures;
        task.outcome = Some((status, finished_at));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::DEFAULT_SITE;
    use time::macros::datetime;

    #[test]
    fn every_task_type_survives_a_state_dump() {
        for kind in [
            Kind::CustomerAccounts,
            Kind::CustomerDetails,
            Kind::CustomerProfiles,
            Kind::OrganizationAccounts,
            Kind::OrganizationDetails,
            Kind::OrganizationProfiles,
        ] {
            assert!(
                crate::csm::store::TASK_TYPES.contains(&kind.task_type()),
                "{kind:?}"
            );
        }
    }

    fn demo() -> SiteDesk {
        SiteDesk::seeded(1, DEFAULT_SITE, datetime!(2026-01-05 09:30 UTC))
    }

    #[test]
    fn parse_rejects_empty_oversized_and_unknown_operations() {
        let empty = json!({ "customers": [] });
        assert!(Kind::CustomerAccounts.parse(&empty).is_err());
        let many: Vec<Value> = (0..51)
            .map(
                |i| json!({"operationType":"CREATE","payload":{"email":format!("p{i}@x.example")}}),
            )
            .collect();
        assert!(
            Kind::CustomerAccounts
                .parse(&json!({ "customers": many }))
                .is_err()
        );
        let bad = json!({"customerProfiles":[{"operationType":"CREATE","payload":{}}]});
        assert!(
            Kind::CustomerProfiles.parse(&bad).is_err(),
            "profiles take UPSERT and DELETE only"
        );
        let ok = json!({"customerProfiles":[{"operationType":"upsert","payload":{"email":"a@b.example"}}]});
        assert_eq!(
            Kind::CustomerProfiles.parse(&ok).expect("ok").items.len(),
            1
        );
    }

    #[test]
    fn patch_merges_multiselect_and_replaces_single_values() {
        let desk = demo();
        let fields = &desk.csm.customer_fields;
        let mut current = std::collections::BTreeMap::new();
        current.insert("Languages".to_owned(), vec!["English".to_owned()]);
        current.insert("Region".to_owned(), vec!["EU".to_owned()]);
        let ops = vec![
            DetailOp {
                kind: DetailOpKind::Patch,
                field: "languages".to_owned(),
                values: vec!["French".to_owned()],
            },
            DetailOp {
                kind: DetailOpKind::Patch,
                field: "Region".to_owned(),
                values: vec!["US".to_owned()],
            },
        ];
        let next = apply_detail_ops(fields, &current, &ops).expect("valid");
        assert_eq!(next["Languages"], vec!["English", "French"]);
        assert_eq!(next["Region"], vec!["US"]);
        let bad = vec![DetailOp {
            kind: DetailOpKind::Update,
            field: "Region".to_owned(),
            values: vec!["Mars".to_owned()],
        }];
        assert!(apply_detail_ops(fields, &current, &bad).is_err());
    }

    #[test]
    fn a_task_with_only_failures_ends_failed() {
        let mut desk = demo();
        let now = datetime!(2026-01-05 09:30 UTC);
        desk.csm.tasks.insert(
            "t".to_owned(),
            Task {
                id: "t".to_owned(),
                task_type: "X",
                created: now,
                ops: BulkOps {
                    items: vec![BulkItem::CustomerDetails {
                        id: "nobody".to_owned(),
                        ops: Vec::new(),
                    }],
                },
                outcome: None,
                failures: Vec::new(),
            },
        );
        run_task(&mut desk, "t", now);
        let t = &desk.csm.tasks["t"];
        assert_eq!(t.outcome.map(|o| o.0), Some(TaskStatus::Failed));
        assert_eq!(t.failures.len(), 1);
    }
}
