//! The Service Management writes an import needs: JSM customer requests, customers and
//! organizations (and their desks), and CSM customer and organization profile upserts through
//! the bulk endpoints, with their tasks.
//!
//! Every write is [`Replay::Unsafe`](crate::retry::Replay::Unsafe): never sent twice by the
//! client; after a timeout or a reset it fails with [`AtlassianError::Ambiguous`]. A CSM bulk
//! submission carries an `Idempotency-Key`, so the caller may send the same body with the same
//! key again: Jira answers with the task of the first.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::{
    client::JiraClient,
    error::AtlassianError,
    operation::{
        CSM_CUSTOMER_PROFILES_BULK, CSM_ORGANIZATION_PROFILES_BULK, CSM_TASK, CUSTOMER_CREATE,
        DESK_CUSTOMERS_ADD, DESK_ORGANIZATION_ADD, ORGANIZATION_CREATE, Operation, REQUEST_CREATE,
        REQUEST_TYPE_FIELDS,
    },
    records::RecordList,
};

/// A request type of a service desk (`RequestTypeDTO`).
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestType {
    /// Request type id.
    pub id: String,
    /// Name, e.g. `Get IT help`.
    pub name: String,
    /// Everything else.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One field of a request type (`RequestTypeFieldDTO`).
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestTypeField {
    /// Jira field id, e.g. `summary` or `customfield_10011`.
    pub field_id: String,
    /// The portal label, e.g. `What do you need?`.
    pub name: String,
    /// Whether a value must be given.
    #[serde(default)]
    pub required: bool,
    /// The values it accepts, when it lists them.
    #[serde(default)]
    pub valid_values: Vec<Value>,
    /// The Jira field's type.
    #[serde(default)]
    pub jira_schema: Value,
    /// Everything else.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// What creating a request of a type takes (`CustomerRequestCreateMetaDTO`).
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestTypeFields {
    /// Whether the account may raise requests on behalf of customers.
    #[serde(default)]
    pub can_raise_on_behalf_of: bool,
    /// The fields.
    #[serde(default)]
    pub request_type_fields: Vec<RequestTypeField>,
}

/// `POST /request` body (`RequestCreateDTO`).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NewCustomerRequest {
    /// The service desk's numeric id.
    pub service_desk_id: String,
    /// The request type id.
    pub request_type_id: String,
    /// Field id → value, in the portal's shapes.
    pub request_field_values: Map<String, Value>,
    /// The customer (account id) the request is raised for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub raise_on_behalf_of: Option<String>,
}

/// The request `POST /request` created (part of `CustomerRequestDTO`).
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CreatedRequest {
    /// Issue id.
    pub issue_id: String,
    /// Issue key.
    pub issue_key: String,
    /// Everything else.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A JSM customer or user (`UserDTO`).
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct JsmUser {
    /// Account id.
    pub account_id: String,
    /// E-mail, when Jira shows it.
    #[serde(default)]
    pub email_address: Option<String>,
    /// Display name.
    #[serde(default)]
    pub display_name: Option<String>,
    /// Everything else.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A JSM organization as lists and create answer it.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
pub struct JsmOrganization {
    /// Organization id (numeric, as text).
    pub id: String,
    /// Name.
    pub name: String,
}

/// What a CSM bulk submission answers: its task.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SubmittedTask {
    /// Task id, for [`JiraClient::csm_task`].
    pub id: String,
    /// Where its status is read.
    #[serde(default)]
    pub status_url: Option<String>,
}

/// A CSM task (`GET /tasks/{id}`).
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CsmTask {
    /// Task id.
    pub id: String,
    /// `NOT_STARTED`, `IN_PROGRESS`, `FINISHED` or `FAILED`.
    pub status: String,
    /// The items that were not applied (also when `FINISHED`).
    #[serde(default)]
    pub failures: Vec<TaskFailure>,
    /// Everything else (`type`, `createdAt`, `updatedAt`).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl CsmTask {
    /// Whether the task ended (`FINISHED` or `FAILED`).
    #[must_use]
    pub fn ended(&self) -> bool {
        matches!(self.status.as_str(), "FINISHED" | "FAILED")
    }
}

/// One item a CSM task did not apply.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskFailure {
    /// `CUSTOMER` or `ORGANIZATION`.
    #[serde(default)]
    pub entity: Option<String>,
    /// The item's id, or its e-mail (customers) or name (organizations) when it had no id.
    #[serde(default)]
    pub entity_id: Option<String>,
    /// The item's operation.
    #[serde(default)]
    pub operation: Option<String>,
    /// Why.
    #[serde(default)]
    pub error: Option<String>,
}

/// The most items one profile bulk submission takes.
pub const MAX_PROFILE_BULK: usize = 100;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CustomerBody<'a> {
    email: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    display_name: Option<&'a str>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AccountIdsBody<'a> {
    account_ids: &'a [String],
}

#[derive(Serialize)]
struct NameBody<'a> {
    name: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct OrganizationIdBody {
    organization_id: u64,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ProfileItem<'a> {
    operation_type: &'static str,
    payload: &'a Map<String, Value>,
}

fn parse_raw<T: serde::de::DeserializeOwned>(
    op: &'static str,
    raw: &serde_json::value::RawValue,
) -> Result<T, AtlassianError> {
    serde_json::from_str(raw.get()).map_err(|e| AtlassianError::Decode {
        what: op,
        detail: crate::error::truncate(&e.to_string()),
    })
}

impl JiraClient {
    /// Every request type of a service desk (id, project key or `projectKey:KEY`).
    ///
    /// # Errors
    /// Any [`AtlassianError`]; [`AtlassianError::NotFound`] for an unknown desk.
    pub async fn request_types(
        &self,
        service_desk: &str,
    ) -> Result<Vec<RequestType>, AtlassianError> {
        let list = RecordList::RequestTypes {
            service_desk: service_desk.to_owned(),
        };
        let Some(raw) = self.record_list_all(&list).await? else {
            return Err(AtlassianError::NotFound {
                message: Some(format!("service desk {service_desk} was not found")),
                html: false,
            });
        };
        raw.iter()
            .map(|r| parse_raw("getRequestTypes", r))
            .collect()
    }

    /// The fields of a request type, and whether the account may raise on behalf of others.
    ///
    /// # Errors
    /// Any [`AtlassianError`].
    pub async fn request_type_fields(
        &self,
        service_desk: &str,
        request_type: &str,
    ) -> Result<RequestTypeFields, AtlassianError> {
        let call = self.call(
            &REQUEST_TYPE_FIELDS,
            &[
                "servicedesk",
                service_desk,
                "requesttype",
                request_type,
                "field",
            ],
        )?;
        self.json(call).await
    }

    /// Creates a customer request. Never sent twice: after a timeout or a reset it fails with
    /// [`AtlassianError::Ambiguous`].
    ///
    /// # Errors
    /// Any [`AtlassianError`]; [`AtlassianError::BadRequest`] when Jira refuses the fields.
    pub async fn create_customer_request(
        &self,
        request: &NewCustomerRequest,
    ) -> Result<CreatedRequest, AtlassianError> {
        let call = self
            .call(&REQUEST_CREATE, &["request"])?
            .json_body(request)?;
        self.json(call).await
    }

    /// Creates a customer account (`strictConflictStatusCode=true`: an e-mail that already has
    /// an account is refused with [`AtlassianError::Conflict`], so a repeat creates nothing).
    ///
    /// # Errors
    /// Any [`AtlassianError`].
    pub async fn create_customer(
        &self,
        email: &str,
        display_name: Option<&str>,
    ) -> Result<JsmUser, AtlassianError> {
        let call = self
            .call(&CUSTOMER_CREATE, &["customer"])?
            .query("strictConflictStatusCode", true)
            .json_body(&CustomerBody {
                email,
                display_name,
            })?;
        self.json(call).await
    }

    /// Makes accounts customers of a service desk (adding one twice changes nothing).
    ///
    /// # Errors
    /// Any [`AtlassianError`].
    pub async fn add_desk_customers(
        &self,
        service_desk: &str,
        account_ids: &[String],
    ) -> Result<(), AtlassianError> {
        let call = self
            .call(
                &DESK_CUSTOMERS_ADD,
                &["servicedesk", service_desk, "customer"],
            )?
            .json_body(&AccountIdsBody { account_ids })?;
        self.execute(call).await.map(|_| ())
    }

    /// Every customer of a service desk (an experimental operation).
    ///
    /// # Errors
    /// Any [`AtlassianError`].
    pub async fn desk_customers(&self, service_desk: &str) -> Result<Vec<JsmUser>, AtlassianError> {
        let list = RecordList::DeskCustomers {
            service_desk: service_desk.to_owned(),
        };
        let raw = self.record_list_all(&list).await?.unwrap_or_default();
        raw.iter().map(|r| parse_raw("getCustomers", r)).collect()
    }

    /// Every organization of the site.
    ///
    /// # Errors
    /// Any [`AtlassianError`].
    pub async fn all_organizations(&self) -> Result<Vec<JsmOrganization>, AtlassianError> {
        let raw = self
            .record_list_all(&RecordList::Organizations)
            .await?
            .unwrap_or_default();
        raw.iter()
            .map(|r| parse_raw("getOrganizations", r))
            .collect()
    }

    /// The organizations of a service desk.
    ///
    /// # Errors
    /// Any [`AtlassianError`].
    pub async fn desk_organizations(
        &self,
        service_desk: &str,
    ) -> Result<Vec<JsmOrganization>, AtlassianError> {
        let list = RecordList::DeskOrganizations {
            service_desk: service_desk.to_owned(),
        };
        let raw = self.record_list_all(&list).await?.unwrap_or_default();
        raw.iter()
            .map(|r| parse_raw("getOrganizations", r))
            .collect()
    }

    /// Creates an organization; Jira answers with the existing one when the name is taken.
    ///
    /// # Errors
    /// Any [`AtlassianError`].
    pub async fn create_organization(&self, name: &str) -> Result<JsmOrganization, AtlassianError> {
        let call = self
            .call(&ORGANIZATION_CREATE, &["organization"])?
            .json_body(&NameBody { name })?;
        self.json(call).await
    }

    /// Adds an organization to a service desk (adding it twice changes nothing).
    ///
    /// # Errors
    /// Any [`AtlassianError`]; [`AtlassianError::BadRequest`] for an id that is not a number.
    pub async fn add_desk_organization(
        &self,
        service_desk: &str,
        organization_id: &str,
    ) -> Result<(), AtlassianError> {
        let id = organization_id
            .parse::<u64>()
            .map_err(|_| AtlassianError::BadRequest {
                status: 400,
                messages: vec![format!(
                    "not sent: organization id {organization_id:?} is not a number"
                )],
                field_errors: std::collections::BTreeMap::new(),
            })?;
        let call = self
            .call(
                &DESK_ORGANIZATION_ADD,
                &["servicedesk", service_desk, "organization"],
            )?
            .json_body(&OrganizationIdBody {
                organization_id: id,
            })?;
        self.execute(call).await.map(|_| ())
    }

    /// Submits customer profile upserts (`payload`s: `email`, `displayName`, `details`,
    /// `associateOrganizations`, or `id`), at most [`MAX_PROFILE_BULK`], under
    /// `idempotency_key`: the same key and payloads again answer the same task.
    ///
    /// # Errors
    /// Any [`AtlassianError`]; [`AtlassianError::BadRequest`] without sending for too many.
    pub async fn csm_customer_profiles_upsert(
        &self,
        payloads: &[Map<String, Value>],
        idempotency_key: &str,
    ) -> Result<SubmittedTask, AtlassianError> {
        self.profiles_bulk(
            &CSM_CUSTOMER_PROFILES_BULK,
            &["customer", "profile", "bulk"],
            "customerProfiles",
            payloads,
            idempotency_key,
        )
        .await
    }

    /// Submits organization profile upserts (`payload`s: `name`, `details`, or `id`), as
    /// [`csm_customer_profiles_upsert`](Self::csm_customer_profiles_upsert).
    ///
    /// # Errors
    /// Any [`AtlassianError`].
    pub async fn csm_organization_profiles_upsert(
        &self,
        payloads: &[Map<String, Value>],
        idempotency_key: &str,
    ) -> Result<SubmittedTask, AtlassianError> {
        self.profiles_bulk(
            &CSM_ORGANIZATION_PROFILES_BULK,
            &["organization", "profile", "bulk"],
            "organizationProfiles",
            payloads,
            idempotency_key,
        )
        .await
    }

    async fn profiles_bulk(
        &self,
        op: &'static Operation,
        segments: &[&str],
        list: &str,
        payloads: &[Map<String, Value>],
        idempotency_key: &str,
    ) -> Result<SubmittedTask, AtlassianError> {
        if payloads.is_empty() || payloads.len() > MAX_PROFILE_BULK {
            return Err(AtlassianError::BadRequest {
                status: 400,
                messages: vec![format!(
                    "not sent: {} takes 1 to {MAX_PROFILE_BULK} items, not {}",
                    op.id,
                    payloads.len()
                )],
                field_errors: std::collections::BTreeMap::new(),
            });
        }
        let items: Vec<ProfileItem<'_>> = payloads
            .iter()
            .map(|payload| ProfileItem {
                operation_type: "UPSERT",
                payload,
            })
            .collect();
        let mut body = Map::new();
        body.insert(
            list.to_owned(),
            serde_json::to_value(items).map_err(|e| AtlassianError::Decode {
                what: op.id,
                detail: e.to_string(),
            })?,
        );
        let call = self
            .call(op, segments)?
            .experimental()
            .idempotency_key(idempotency_key)?
            .json_body(&body)?;
        self.json(call).await
    }

    /// A CSM task's status.
    ///
    /// # Errors
    /// Any [`AtlassianError`]; [`AtlassianError::NotFound`] for a task Jira no longer keeps.
    pub async fn csm_task(&self, task_id: &str) -> Result<CsmTask, AtlassianError> {
        let call = self.call(&CSM_TASK, &["tasks", task_id])?.experimental();
        self.json(call).await
    }
}
