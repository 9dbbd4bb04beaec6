//! Service Management resources: JSM customer requests, customers and organizations, and CSM
//! customer and organization profiles.
//!
//! ```toml
//! resource = "customer-requests"   # issues (default) | customer-requests | jsm-customers
//!                                  # | jsm-organizations | csm-customers | csm-organizations
//! service_desk = "HELP"            # id, project key or project name
//! request_type = "Get IT help"     # by name (or id), among the desk's request types
//! raise_on_behalf_of = "email"     # source field: a customer's e-mail or account id
//! [fields]                         # request field (id or portal name) = rule
//! summary = "title"
//! ```
//!
//! Customers take `fields.email` and `fields.displayName`, organizations `fields.name`; CSM
//! profiles also take their detail fields by name (`"Region" = "region"`). Results, ledger and
//! journal work as for issues ([`super::run`]): each record ends created, updated, skipped or
//! failed, and a re-run creates nothing twice.
//!
//! - Customer requests: the ledger marks the record uncertain before `POST /request` leaves.
//!   JSM's create takes no issue properties, so after an unknown outcome the request is found
//!   again by search: the desk's project, created since shortly before the send, with the
//!   record's summary (and reporter, when raised on behalf of someone), each issue claimed
//!   once. Without a summary the record fails instead of being sent again.
//! - JSM customers: an e-mail has at most one account (`strictConflictStatusCode`), so a repeat
//!   never makes a second one; the desk's customers are read first and those already there are
//!   skipped. After an unknown outcome the create is sent again: a 409 means the account exists,
//!   and its id is looked up on the desk and in the user directory.
//! - JSM organizations: found by name (all organizations are read first); after an unknown
//!   outcome they are read again before creating again. Adding to a desk is repeated freely.
//! - CSM profiles: one bulk upsert per batch, whose `Idempotency-Key` is a hash of the ledger
//!   scope, the records' identities and the body, so sending it again after an unknown outcome
//!   (or in a resumed run) is the same operation for Jira; the task is polled on the job's
//!   clock until it ends and its `failures` are matched to records by e-mail or name.

use std::{
    collections::{HashMap, HashSet},
    time::Duration,
};

use futures::{StreamExt, TryStreamExt};
use jiralink_atlassian::{AtlassianError, JiraClient, NewCustomerRequest, SearchRequest};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::{
    convert::UserDirectory,
    input::InputRecord,
    ledger::{ImportStats, LedgerEntry, LedgerState, RecordResult, RecordState},
    mapping::{ImportOperation, Mapping, Rule, text_of},
    run::{BATCH, ImportJob, ImportOutcome, ends_run, identity, now_ms, with_waits},
};
use crate::error::SyncError;

/// What the records of an import become.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Resource {
    /// Jira issues ([`super::run`]).
    #[default]
    Issues,
    /// JSM customer requests (`POST /request`).
    CustomerRequests,
    /// JSM customers (`POST /customer`, optionally added to a desk).
    JsmCustomers,
    /// JSM organizations (`POST /organization`, optionally added to a desk).
    JsmOrganizations,
    /// CSM customer profiles (`POST /customer/profile/bulk`, upsert by e-mail).
    CsmCustomers,
    /// CSM organization profiles (`POST /organization/profile/bulk`, upsert by name).
    CsmOrganizations,
}

impl Resource {
    /// The name mapping files use.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Issues => "issues",
            Self::CustomerRequests => "customer-requests",
            Self::JsmCustomers => "jsm-customers",
            Self::JsmOrganizations => "jsm-organizations",
            Self::CsmCustomers => "csm-customers",
            Self::CsmOrganizations => "csm-organizations",
        }
    }

    /// Whether it is one of the Service Management resources (handled here).
    #[must_use]
    pub fn is_service(self) -> bool {
        self != Self::Issues
    }

    /// The only operation the resource does.
    fn operation(self) -> ImportOperation {
        match self {
            Self::CsmCustomers | Self::CsmOrganizations => ImportOperation::Upsert,
            _ => ImportOperation::Create,
        }
    }
}

/// The mapping settings of the Service Management resources.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ServiceSettings {
    /// What records become.
    #[serde(default)]
    pub resource: Resource,
    /// The service desk: id, project key or project name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_desk: Option<String>,
    /// The request type, by name or id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_type: Option<String>,
    /// The source field holding the e-mail or account id a request is raised for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raise_on_behalf_of: Option<String>,
}

/// The settings and operation a mapping file gives (problems added to `problems`).
pub(crate) fn settings(
    resource: Option<Resource>,
    operation: Option<ImportOperation>,
    (service_desk, request_type, raise_on_behalf_of): (
        Option<String>,
        Option<String>,
        Option<String>,
    ),
    problems: &mut Vec<String>,
) -> (ServiceSettings, ImportOperation) {
    let resource = resource.unwrap_or_default();
    let operation = if resource.is_service() {
        let only = resource.operation();
        if let Some(op) = operation.filter(|op| *op != only) {
            problems.push(format!(
                "resource {} does {}, not {}",
                resource.as_str(),
                only.as_str(),
                op.as_str()
            ));
        }
        only
    } else {
        operation.unwrap_or_else(|| {
            problems.push("mapping file: missing field `operation`".to_owned());
            ImportOperation::Create
        })
    };
    (
        ServiceSettings {
            resource,
            service_desk,
            request_type,
            raise_on_behalf_of,
        },
        operation,
    )
}

/// The problems of a Service Management mapping found without asking Jira.
pub(crate) fn problems(m: &Mapping) -> Vec<String> {
    let mut out = Vec::new();
    let s = &m.service;
    let name = s.resource.as_str();
    let issue_only = [
        ("project", m.project.is_some()),
        ("issue_type", m.issue_type.is_some()),
        ("key", m.key.is_some()),
        ("external_id", m.external_id.is_some()),
        ("ignore_existing", m.ignore_existing),
        ("ignore_missing", m.ignore_missing),
    ];
    for (setting, given) in issue_only {
        if given {
            out.push(format!("{setting} applies to issues, not to {name}"));
        }
    }
    let desk_ok = matches!(
        s.resource,
        Resource::CustomerRequests | Resource::JsmCustomers | Resource::JsmOrganizations
    );
    if s.service_desk.is_some() && !desk_ok {
        out.push(format!("service_desk does not apply to {name}"));
    }
    if s.resource == Resource::CustomerRequests {
        if s.service_desk.is_none() {
            out.push("resource customer-requests needs service_desk".to_owned());
        }
        if s.request_type.is_none() {
            out.push("resource customer-requests needs request_type".to_owned());
        }
        if m.fields.is_empty() {
            out.push("fields is empty: a request needs its fields".to_owned());
        }
    } else {
        for (setting, given) in [
            ("request_type", s.request_type.is_some()),
            ("raise_on_behalf_of", s.raise_on_behalf_of.is_some()),
        ] {
            if given {
                out.push(format!(
                    "{setting} applies to customer-requests, not to {name}"
                ));
            }
        }
        let (key, allowed): (&str, &[&str]) = match s.resource {
            Resource::JsmCustomers => ("email", &["email", "displayName"]),
            Resource::JsmOrganizations => ("name", &["name"]),
            Resource::CsmCustomers => ("email", &[]),
            _ => ("name", &[]),
        };
        if !m.fields.contains_key(key) {
            out.push(format!("resource {name} needs fields.{key}"));
        }
        if !allowed.is_empty() {
            for field in m.fields.keys().filter(|f| !allowed.contains(&f.as_str())) {
                out.push(format!(
                    "fields.{field}: {name} takes only {}",
                    allowed.join(", ")
                ));
            }
        }
    }
    for (field, rule) in &m.fields {
        rule.problems(&format!("fields.{field}"), &mut out);
    }
    out
}

/// A mapping resolved against Jira: the desk, the request type and the request fields.
#[derive(Debug, Clone, Default)]
pub struct ServicePlan {
    /// The service desk's id.
    pub desk_id: Option<String>,
    /// Its project key.
    pub project_key: Option<String>,
    /// The request type's id.
    pub request_type_id: Option<String>,
    /// Request field id → rule.
    pub fields: Vec<(String, Rule)>,
}

/// Checks a Service Management mapping against Jira (the desk, the request type and its
/// fields) without writing anything.
///
/// # Errors
/// [`SyncError::InvalidSpec`] with every problem, or a Jira failure.
pub async fn check_service_mapping(
    client: &JiraClient,
    mapping: &Mapping,
    _users: &dyn UserDirectory,
) -> Result<ServicePlan, SyncError> {
    let problems = mapping.problems();
    if !problems.is_empty() {
        return Err(SyncError::InvalidSpec(problems.join("; ")));
    }
    let s = &mapping.service;
    let mut plan = ServicePlan::default();
    if let Some(wanted) = &s.service_desk {
        let desks: Vec<_> = client.service_desks().try_collect().await?;
        let desk = desks
            .iter()
            .find(|d| &d.id == wanted)
            .or_else(|| {
                desks.iter().find(|d| {
                    d.project_key
                        .as_deref()
                        .is_some_and(|k| k.eq_ignore_ascii_case(wanted))
                })
            })
            .or_else(|| {
                desks.iter().find(|d| {
                    d.project_name
                        .as_deref()
                        .is_some_and(|n| n.eq_ignore_ascii_case(wanted))
                })
            })
            .ok_or_else(|| {
                SyncError::InvalidSpec(format!(
                    "there is no service desk {wanted:?} (there are: {})",
                    desks
                        .iter()
                        .map(|d| d.project_key.clone().unwrap_or_else(|| d.id.clone()))
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            })?;
        plan.desk_id = Some(desk.id.clone());
        plan.project_key.clone_from(&desk.project_key);
    }
    if s.resource == Resource::CustomerRequests {
        let (Some(desk), Some(wanted)) = (&plan.desk_id, &s.request_type) else {
            return Err(SyncError::InvalidSpec(
                "customer-requests needs service_desk and request_type".into(),
            ));
        };
        let types = client.request_types(desk).await?;
        let ty = types
            .iter()
            .find(|t| t.name.eq_ignore_ascii_case(wanted))
            .or_else(|| types.iter().find(|t| &t.id == wanted))
            .ok_or_else(|| {
                SyncError::InvalidSpec(format!(
                    "service desk {} has no request type {wanted:?} (it has: {})",
                    s.service_desk.as_deref().unwrap_or(desk),
                    types
                        .iter()
                        .map(|t| t.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            })?;
        let meta = client.request_type_fields(desk, &ty.id).await?;
        let mut problems = Vec::new();
        for (name, rule) in &mapping.fields {
            let field = meta
                .request_type_fields
                .iter()
                .find(|f| &f.field_id == name)
                .or_else(|| {
                    meta.request_type_fields
                        .iter()
                        .find(|f| f.name.eq_ignore_ascii_case(name))
                });
            match field {
                Some(f) => plan.fields.push((f.field_id.clone(), rule.clone())),
                None => problems.push(format!(
                    "fields.{name}: request type {:?} has no such field (it has: {})",
                    ty.name,
                    meta.request_type_fields
                        .iter()
                        .map(|f| format!("{} ({})", f.field_id, f.name))
                        .collect::<Vec<_>>()
                        .join(", ")
                )),
            }
        }
        for f in meta.request_type_fields.iter().filter(|f| f.required) {
            if !plan.fields.iter().any(|(id, _)| id == &f.field_id) {
                problems.push(format!(
                    "request type {:?} requires {} ({}), which fields does not set",
                    ty.name, f.field_id, f.name
                ));
            }
        }
        if s.raise_on_behalf_of.is_some() && !meta.can_raise_on_behalf_of {
            problems.push("this connection may not raise requests on behalf of others".into());
        }
        if !problems.is_empty() {
            return Err(SyncError::InvalidSpec(problems.join("; ")));
        }
        plan.request_type_id = Some(ty.id.clone());
    }
    Ok(plan)
}

/// A record read and mapped.
struct Item {
    line: u64,
    ordinal: u64,
    identity: String,
    /// The e-mail, name or summary the record is known by.
    label: String,
    /// The body or payload.
    payload: Map<String, Value>,
    /// Customer requests: who it is raised for (e-mail or account id).
    on_behalf: Option<String>,
}

impl Item {
    fn result(&self, state: RecordState) -> RecordResult {
        RecordResult {
            line: self.line,
            record: self.ordinal,
            state,
            key: None,
            id: None,
            external_id: None,
            message: None,
            errors: Map::new(),
            actions: Vec::new(),
            request: None,
        }
    }

    fn done(&self, state: RecordState, key: Option<String>, id: Option<String>) -> RecordResult {
        RecordResult {
            key,
            id,
            ..self.result(state)
        }
    }

    fn with_message(&self, state: RecordState, message: impl Into<String>) -> RecordResult {
        RecordResult {
            message: Some(message.into()),
            ..self.result(state)
        }
    }

    fn failed_with(&self, e: &AtlassianError) -> RecordResult {
        match e {
            AtlassianError::BadRequest {
                messages,
                field_errors,
                ..
            } => RecordResult {
                message: messages
                    .first()
                    .cloned()
                    .or_else(|| Some("Jira refused the record".into())),
                errors: field_errors
                    .iter()
                    .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                    .collect(),
                ..self.result(RecordState::Failed)
            },
            other => self.with_message(RecordState::Failed, other.to_string()),
        }
    }
}

fn failed_line(line: u64, ordinal: u64, message: impl Into<String>) -> RecordResult {
    RecordResult {
        line,
        record: ordinal,
        state: RecordState::Failed,
        key: None,
        id: None,
        external_id: None,
        message: Some(message.into()),
        errors: Map::new(),
        actions: Vec::new(),
        request: None,
    }
}

/// What a run knows of Jira beyond the ledger.
#[derive(Default)]
struct Known {
    /// Lower-case e-mail → account id of the desk's customers.
    desk_customers: HashMap<String, String>,
    /// Lower-case name → id of every organization.
    organizations: HashMap<String, String>,
    /// Organization ids on the desk.
    desk_organizations: HashSet<String>,
    /// Issues already matched to a record by a look-up.
    claimed: HashSet<String>,
}

impl Known {
    async fn load(
        client: &JiraClient,
        mapping: &Mapping,
        plan: &ServicePlan,
    ) -> Result<Self, SyncError> {
        let mut known = Self::default();
        match (mapping.service.resource, &plan.desk_id) {
            (Resource::JsmCustomers | Resource::CustomerRequests, Some(desk)) => {
                known.refresh_customers(client, desk).await?;
            }
            (Resource::JsmOrganizations, desk) => {
                known.refresh_organizations(client).await?;
                if let Some(desk) = desk {
                    known.desk_organizations = client
                        .desk_organizations(desk)
                        .await?
                        .into_iter()
                        .map(|o| o.id)
                        .collect();
                }
            }
            _ => {}
        }
        Ok(known)
    }

    async fn refresh_customers(
        &mut self,
        client: &JiraClient,
        desk: &str,
    ) -> Result<(), SyncError> {
        self.desk_customers = client
            .desk_customers(desk)
            .await?
            .into_iter()
            .filter_map(|u| {
                u.email_address
                    .map(|e| (e.trim().to_ascii_lowercase(), u.account_id))
            })
            .collect();
        Ok(())
    }

    async fn refresh_organizations(&mut self, client: &JiraClient) -> Result<(), SyncError> {
        self.organizations = client
            .all_organizations()
            .await?
            .into_iter()
            .map(|o| (o.name.trim().to_lowercase(), o.id))
            .collect();
        Ok(())
    }
}

/// Attempts of a create whose outcome stays unknown.
const ROUNDS: u32 = 3;
/// How far back from a send the search for a lost request reaches (clocks differ).
const CLOCK_MARGIN_MS: i64 = 10 * 60 * 1000;
/// The longest a CSM task is waited for (Jira times tasks out after 30 minutes).
const TASK_WAIT: Duration = Duration::from_secs(35 * 60);

/// Runs an import of a Service Management resource, a checkpoint after every batch.
///
/// # Errors
/// As [`super::run::run_import`].
pub(crate) async fn run_service_import(mut job: ImportJob<'_>) -> Result<ImportOutcome, SyncError> {
    let plan = check_service_mapping(job.client, job.mapping, job.users).await?;
    let mut known = Known::load(job.client, job.mapping, &plan).await?;
    let mut stats = job.stats.clone();
    let mut ended = false;
    while !ended {
        if job.progress.stop_requested() || job.journal.cancel_requested().await {
            return Ok(ImportOutcome {
                stats,
                cancelled: true,
            });
        }
        let mut batch: Vec<InputRecord> = Vec::new();
        while !ended && batch.len() < BATCH {
            match job.source.next_record() {
                Ok(Some(r)) if r.ordinal < job.resume_from => {}
                Ok(Some(r)) => batch.push(r),
                Ok(None) => ended = true,
                Err(e) => return Err(SyncError::Input(e.to_string())),
            }
        }
        let Some(position) = batch.iter().map(|r| r.ordinal + 1).max() else {
            break;
        };
        let mut run = ServiceBatch {
            job: &job,
            plan: &plan,
            known: &mut known,
            stats: &mut stats,
        };
        let mut results = run.process(batch).await?;
        results.sort_by_key(|r| r.record);
        for r in &results {
            stats.count(r.state);
        }
        job.journal.checkpoint(&results, position, &stats).await?;
        job.progress.advanced(&stats);
    }
    Ok(ImportOutcome {
        stats,
        cancelled: false,
    })
}

struct ServiceBatch<'j, 'a> {
    job: &'j ImportJob<'a>,
    plan: &'j ServicePlan,
    known: &'j mut Known,
    stats: &'j mut ImportStats,
}

impl ServiceBatch<'_, '_> {
    async fn process(&mut self, records: Vec<InputRecord>) -> Result<Vec<RecordResult>, SyncError> {
        let job = self.job;
        let mut results = Vec::new();
        let mut items: Vec<Item> = Vec::new();
        let mut seen: HashMap<String, u64> = HashMap::new();
        for rec in records {
            let fields = match rec.fields {
                Ok(f) => f,
                Err(reason) => {
                    results.push(failed_line(rec.line, rec.ordinal, reason));
                    continue;
                }
            };
            match self.prepare(rec.line, rec.ordinal, &fields) {
                Err(why) => results.push(failed_line(rec.line, rec.ordinal, why)),
                Ok(item) => {
                    if let Some(first) = seen.get(&item.identity) {
                        let what = item.label.clone();
                        results.push(item.with_message(
                            RecordState::Skipped,
                            format!("{what} is also on line {first}, which this run handles"),
                        ));
                    } else {
                        seen.insert(item.identity.clone(), item.line);
                        items.push(item);
                    }
                }
            }
        }
        let identities: Vec<String> = items.iter().map(|i| i.identity.clone()).collect();
        let ledger = job.ledger.get(&identities).await?;
        let mut pending = Vec::new();
        for item in items {
            match ledger.get(&item.identity) {
                Some(e) if e.state == LedgerState::Done => {
                    results.push(if e.run_id == job.run_id {
                        item.done(
                            RecordState::Created,
                            e.issue_key.clone(),
                            e.issue_id.clone(),
                        )
                    } else {
                        RecordResult {
                            message: Some("an earlier run created it".into()),
                            ..item.done(
                                RecordState::Skipped,
                                e.issue_key.clone(),
                                e.issue_id.clone(),
                            )
                        }
                    });
                }
                entry => pending.push((item, entry.cloned())),
            }
        }
        match job.mapping.service.resource {
            Resource::CustomerRequests => {
                for (item, entry) in pending {
                    results.push(self.customer_request(item, entry).await?);
                }
            }
            Resource::JsmCustomers => {
                for (item, entry) in pending {
                    results.push(self.jsm_customer(item, entry).await?);
                }
            }
            Resource::JsmOrganizations => {
                for (item, entry) in pending {
                    results.push(self.jsm_organization(item, entry).await?);
                }
            }
            Resource::CsmCustomers | Resource::CsmOrganizations => {
                let items: Vec<Item> = pending.into_iter().map(|(i, _)| i).collect();
                results.extend(self.csm_upsert(items).await?);
            }
            Resource::Issues => {}
        }
        Ok(results)
    }

    fn prepare(
        &self,
        line: u64,
        ordinal: u64,
        record: &Map<String, Value>,
    ) -> Result<Item, String> {
        let mapping = self.job.mapping;
        let resource = mapping.service.resource;
        let text = |name: &str| {
            mapping
                .fields
                .get(name)
                .and_then(|r| r.evaluate(record))
                .map(|v| text_of(&v).trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let mut payload = Map::new();
        let label;
        let identity_of;
        match resource {
            Resource::CustomerRequests => {
                for (id, rule) in &self.plan.fields {
                    if let Some(v) = rule.evaluate(record) {
                        payload.insert(id.clone(), v);
                    }
                }
                label = payload.get("summary").map(text_of).unwrap_or_default();
                identity_of = identity(None, record);
            }
            Resource::JsmCustomers | Resource::CsmCustomers => {
                let Some(email) = text("email") else {
                    return Err(String::from("the record has no e-mail"));
                };
                if !email.contains('@') || email.chars().any(char::is_whitespace) {
                    return Err(format!("{email:?} is not an e-mail address"));
                }
                payload.insert("email".into(), Value::String(email.clone()));
                identity_of = identity(Some(&email.to_ascii_lowercase()), record);
                label = email;
            }
            Resource::JsmOrganizations | Resource::CsmOrganizations => {
                let Some(name) = text("name") else {
                    return Err(String::from("the record has no name"));
                };
                payload.insert("name".into(), Value::String(name.clone()));
                identity_of = identity(Some(&name.to_lowercase()), record);
                label = name;
            }
            Resource::Issues => {
                return Err(String::from("not a Service Management import"));
            }
        }
        if let Some(name) = text("displayName")
            && matches!(resource, Resource::JsmCustomers | Resource::CsmCustomers)
        {
            payload.insert("displayName".into(), Value::String(name));
        }
        if matches!(
            resource,
            Resource::CsmCustomers | Resource::CsmOrganizations
        ) {
            let mut details = Vec::new();
            for (field, rule) in &mapping.fields {
                if matches!(field.as_str(), "email" | "displayName" | "name") {
                    continue;
                }
                let values: Vec<String> = match rule.evaluate(record) {
                    None => continue,
                    Some(Value::Array(a)) => a.iter().map(text_of).collect(),
                    Some(v) => vec![text_of(&v)],
                };
                details.push(json!({ "name": field, "values": values }));
            }
            if !details.is_empty() {
                payload.insert("details".into(), Value::Array(details));
            }
        }
        let on_behalf = mapping
            .service
            .raise_on_behalf_of
            .as_deref()
            .and_then(|src| super::mapping::lookup(record, src))
            .map(|v| text_of(v).trim().to_owned())
            .filter(|v| !v.is_empty());
        if mapping.service.raise_on_behalf_of.is_some() && on_behalf.is_none() {
            return Err(String::from(
                "the record has no one to raise the request on behalf of",
            ));
        }
        Ok(Item {
            line,
            ordinal,
            identity: identity_of,
            label,
            payload,
            on_behalf,
        })
    }

    async fn mark(
        &self,
        identity: &str,
        state: LedgerState,
        key: Option<String>,
        id: Option<String>,
    ) -> Result<(), SyncError> {
        let entry = LedgerEntry {
            state,
            issue_key: key,
            issue_id: id,
            run_id: self.job.run_id.to_owned(),
            at_ms: now_ms(&*self.job.clock),
        };
        self.job.ledger.put(&[(identity.to_owned(), entry)]).await
    }

    async fn forget(&self, identity: &str) -> Result<(), SyncError> {
        self.job.ledger.remove(&[identity.to_owned()]).await
    }

    /// The state a found record ends in: created by this run, or by an earlier one.
    fn found_state(&self, entry: Option<&LedgerEntry>) -> RecordState {
        match entry {
            Some(e) if e.run_id != self.job.run_id => RecordState::Skipped,
            _ => RecordState::Created,
        }
    }

    async fn customer_request(
        &mut self,
        item: Item,
        entry: Option<LedgerEntry>,
    ) -> Result<RecordResult, SyncError> {
        let job = self.job;
        let on_behalf = match &item.on_behalf {
            None => None,
            Some(v) if v.contains('@') => {
                let lower = v.to_ascii_lowercase();
                let found = match self.known.desk_customers.get(&lower) {
                    Some(a) => Some(a.clone()),
                    None => job.users.account_id(v).await.unwrap_or(None),
                };
                let Some(account) = found else {
                    return Ok(item.with_message(
                        RecordState::Failed,
                        format!("no customer of the desk or user has the e-mail {v}"),
                    ));
                };
                Some(account)
            }
            Some(v) => Some(v.clone()),
        };
        let request = NewCustomerRequest {
            service_desk_id: self.plan.desk_id.clone().unwrap_or_default(),
            request_type_id: self.plan.request_type_id.clone().unwrap_or_default(),
            request_field_values: item.payload.clone(),
            raise_on_behalf_of: on_behalf.clone(),
        };
        if job.dry_run {
            return Ok(RecordResult {
                request: serde_json::to_value(&request).ok(),
                ..item.result(RecordState::WouldCreate)
            });
        }
        if let Some(e) = entry.as_ref().filter(|e| e.state == LedgerState::Uncertain) {
            self.stats.uncertain_checked += 1;
            match self
                .find_request(&item, on_behalf.as_deref(), e.at_ms)
                .await?
            {
                Some((key, id)) => {
                    self.stats.uncertain_found += 1;
                    let state = self.found_state(Some(e));
                    let mut done = e.clone();
                    done.state = LedgerState::Done;
                    done.issue_key = Some(key.clone());
                    done.issue_id = Some(id.clone());
                    job.ledger.put(&[(item.identity.clone(), done)]).await?;
                    return Ok(item.done(state, Some(key), Some(id)));
                }
                None if item.label.is_empty() => {
                    return Ok(item.with_message(
                        RecordState::Failed,
                        "an earlier create's outcome is unknown and a request without summary cannot be looked up; check Jira",
                    ));
                }
                None => self.forget(&item.identity).await?,
            }
        }
        for _ in 0..ROUNDS {
            let sent_at = now_ms(&*job.clock);
            self.mark(&item.identity, LedgerState::Uncertain, None, None)
                .await?;
            let answer = with_waits(&*job.clock, false, || {
                job.client.create_customer_request(&request)
            })
            .await;
            match answer {
                Ok((created, waits)) => {
                    self.stats.rate_limit_waits += u64::from(waits);
                    self.known.claimed.insert(created.issue_key.clone());
                    self.mark(
                        &item.identity,
                        LedgerState::Done,
                        Some(created.issue_key.clone()),
                        Some(created.issue_id.clone()),
                    )
                    .await?;
                    return Ok(item.done(
                        RecordState::Created,
                        Some(created.issue_key),
                        Some(created.issue_id),
                    ));
                }
                Err(AtlassianError::Ambiguous { .. }) => {
                    self.stats.uncertain_checked += 1;
                    if item.label.is_empty() {
                        return Ok(item.with_message(
                            RecordState::Failed,
                            "Jira's answer was lost and a request without summary cannot be looked up; check Jira",
                        ));
                    }
                    if let Some((key, id)) = self
                        .find_request(&item, on_behalf.as_deref(), sent_at)
                        .await?
                    {
                        self.stats.uncertain_found += 1;
                        self.mark(
                            &item.identity,
                            LedgerState::Done,
                            Some(key.clone()),
                            Some(id.clone()),
                        )
                        .await?;
                        return Ok(item.done(RecordState::Created, Some(key), Some(id)));
                    }
                    self.forget(&item.identity).await?;
                }
                Err(e) => {
                    self.forget(&item.identity).await?;
                    if ends_run(&e) {
                        return Err(e.into());
                    }
                    return Ok(item.failed_with(&e));
                }
            }
        }
        Ok(item.with_message(
            RecordState::Failed,
            "Jira's answer was lost every time and the request was not found",
        ))
    }

    /// Searches the desk's project for the request `item` became: created since shortly before
    /// `sent_at` (once the search caught up), with its summary and reporter, not yet claimed.
    async fn find_request(
        &mut self,
        item: &Item,
        reporter: Option<&str>,
        sent_at: i64,
    ) -> Result<Option<(String, String)>, SyncError> {
        let job = self.job;
        let Some(project) = &self.plan.project_key else {
            return Ok(None);
        };
        let ready_at = sent_at
            .saturating_add(i64::try_from(job.search_lag.as_millis()).unwrap_or(i64::MAX / 2));
        let now = now_ms(&*job.clock);
        if ready_at > now {
            let wait = u64::try_from(ready_at - now).unwrap_or(0);
            job.clock.sleep(Duration::from_millis(wait)).await;
        }
        let request = SearchRequest {
            jql: format!(
                "project = \"{}\" AND created >= {} ORDER BY created ASC",
                project.replace('"', "\\\""),
                sent_at.saturating_sub(CLOCK_MARGIN_MS)
            ),
            fields: vec!["summary".into(), "reporter".into()],
            max_results: Some(100),
            ..SearchRequest::default()
        };
        let mut issues = std::pin::pin!(job.client.search_jql(request));
        while let Some(issue) = issues.next().await {
            let issue = issue?;
            let Some(key) = issue.key.clone() else {
                continue;
            };
            if self.known.claimed.contains(&key) {
                continue;
            }
            let summary = issue.fields.get("summary").map(text_of).unwrap_or_default();
            if summary.trim() != item.label.trim() {
                continue;
            }
            if let Some(r) = reporter {
                let by = issue
                    .fields
                    .get("reporter")
                    .and_then(|u| u.get("accountId"))
                    .and_then(Value::as_str);
                if by != Some(r) {
                    continue;
                }
            }
            self.known.claimed.insert(key.clone());
            return Ok(Some((key, issue.id)));
        }
        Ok(None)
    }

    async fn jsm_customer(
        &mut self,
        item: Item,
        entry: Option<LedgerEntry>,
    ) -> Result<RecordResult, SyncError> {
        let job = self.job;
        let desk = self.plan.desk_id.clone();
        let email = item.label.clone();
        let lower = email.to_ascii_lowercase();
        if let Some(account) = self.known.desk_customers.get(&lower).cloned() {
            let state = self.found_state(entry.as_ref());
            if entry.is_some() {
                self.mark(
                    &item.identity,
                    LedgerState::Done,
                    Some(email.clone()),
                    Some(account.clone()),
                )
                .await?;
            }
            return Ok(if state == RecordState::Created && entry.is_some() {
                item.done(RecordState::Created, Some(email), Some(account))
            } else {
                RecordResult {
                    message: Some("already a customer of the service desk".into()),
                    ..item.done(RecordState::Skipped, Some(email), Some(account))
                }
            });
        }
        if job.dry_run {
            return Ok(RecordResult {
                request: Some(Value::Object(item.payload.clone())),
                ..item.result(RecordState::WouldCreate)
            });
        }
        let display = item
            .payload
            .get("displayName")
            .and_then(Value::as_str)
            .map_or_else(|| email.clone(), str::to_owned);
        let mut unsure = entry.is_some_and(|e| e.state == LedgerState::Uncertain);
        let mut account = None;
        for _ in 0..ROUNDS {
            self.mark(&item.identity, LedgerState::Uncertain, None, None)
                .await?;
            match with_waits(&*job.clock, false, || {
                job.client.create_customer(&email, Some(&display))
            })
            .await
            {
                Ok((user, _)) => {
                    account = Some(user.account_id);
                    break;
                }
                Err(AtlassianError::Ambiguous { .. }) => {
                    // The account may exist now; a repeat is refused (409) if it does.
                    self.stats.uncertain_checked += 1;
                    unsure = true;
                }
                Err(AtlassianError::Conflict { .. }) => {
                    if unsure {
                        self.stats.uncertain_checked += 1;
                    }
                    let found = match self.known.desk_customers.get(&lower) {
                        Some(a) => Some(a.clone()),
                        None => job.users.account_id(&email).await.unwrap_or(None),
                    };
                    match (found, unsure) {
                        (Some(a), true) => {
                            self.stats.uncertain_found += 1;
                            account = Some(a);
                            break;
                        }
                        (found, false) => {
                            self.forget(&item.identity).await?;
                            let Some(a) = found else {
                                return Ok(item.with_message(
                                    RecordState::Skipped,
                                    "an account with this e-mail exists",
                                ));
                            };
                            if let Some(desk) = &desk {
                                self.add_customer(desk, &a).await?;
                            }
                            return Ok(RecordResult {
                                message: Some("the account existed".into()),
                                ..item.done(RecordState::Updated, Some(email), Some(a))
                            });
                        }
                        (None, true) => {
                            // Left uncertain: a later run looks again.
                            return Ok(item.with_message(
                                RecordState::Failed,
                                "Jira's answer was lost and the account now exists, but its id is not visible to this connection; add it to the service desk in Jira",
                            ));
                        }
                    }
                }
                Err(e) => {
                    self.forget(&item.identity).await?;
                    if ends_run(&e) {
                        return Err(e.into());
                    }
                    return Ok(item.failed_with(&e));
                }
            }
        }
        let Some(account) = account else {
            return Err(SyncError::Jira(AtlassianError::Decode {
                what: "createCustomer",
                detail: "Jira's answer was lost every time".into(),
            }));
        };
        if let Some(desk) = &desk
            && let Err(e) = self.add_customer(desk, &account).await
        {
            self.mark(
                &item.identity,
                LedgerState::Done,
                Some(email.clone()),
                Some(account.clone()),
            )
            .await?;
            return Ok(RecordResult {
                message: Some(format!(
                    "the account was created but not added to the desk: {e}"
                )),
                ..item.done(RecordState::Failed, Some(email), Some(account))
            });
        }
        self.known.desk_customers.insert(lower, account.clone());
        self.mark(
            &item.identity,
            LedgerState::Done,
            Some(email.clone()),
            Some(account.clone()),
        )
        .await?;
        Ok(item.done(RecordState::Created, Some(email), Some(account)))
    }

    /// Adding a customer twice changes nothing, so an unknown outcome is sent again.
    async fn add_customer(&self, desk: &str, account: &str) -> Result<(), SyncError> {
        let job = self.job;
        let ids = [account.to_owned()];
        with_waits(&*job.clock, true, || {
            job.client.add_desk_customers(desk, &ids)
        })
        .await?;
        Ok(())
    }

    async fn jsm_organization(
        &mut self,
        item: Item,
        entry: Option<LedgerEntry>,
    ) -> Result<RecordResult, SyncError> {
        let job = self.job;
        let name = item.label.clone();
        let lower = name.to_lowercase();
        let desk = self.plan.desk_id.clone();
        let existing = self.known.organizations.get(&lower).cloned();
        if job.dry_run {
            let state = if existing.is_some() {
                RecordState::Skipped
            } else {
                RecordState::WouldCreate
            };
            return Ok(RecordResult {
                request: Some(Value::Object(item.payload.clone())),
                ..item.done(state, Some(name), existing)
            });
        }
        let (id, state, message) = if let Some(id) = existing {
            let state = if entry.is_some() {
                self.found_state(entry.as_ref())
            } else {
                RecordState::Skipped
            };
            let message =
                (state == RecordState::Skipped).then(|| "the organization exists".to_owned());
            (id, state, message)
        } else {
            let mut made = None;
            for round in 0..ROUNDS {
                self.mark(&item.identity, LedgerState::Uncertain, None, None)
                    .await?;
                match with_waits(&*job.clock, false, || job.client.create_organization(&name)).await
                {
                    Ok((o, _)) => {
                        made = Some(o.id);
                        break;
                    }
                    Err(AtlassianError::Ambiguous { .. }) if round + 1 < ROUNDS => {
                        self.stats.uncertain_checked += 1;
                        self.known.refresh_organizations(job.client).await?;
                        if let Some(id) = self.known.organizations.get(&lower) {
                            self.stats.uncertain_found += 1;
                            made = Some(id.clone());
                            break;
                        }
                        self.forget(&item.identity).await?;
                    }
                    Err(e) => {
                        if !matches!(e, AtlassianError::Ambiguous { .. }) {
                            self.forget(&item.identity).await?;
                        }
                        if ends_run(&e) || matches!(e, AtlassianError::Ambiguous { .. }) {
                            return Err(e.into());
                        }
                        return Ok(item.failed_with(&e));
                    }
                }
            }
            let Some(id) = made else {
                return Ok(
                    item.with_message(RecordState::Failed, "the organization was not created")
                );
            };
            self.known.organizations.insert(lower, id.clone());
            (id, RecordState::Created, None)
        };
        let mut state = state;
        let mut message = message;
        if let Some(desk) = &desk
            && !self.known.desk_organizations.contains(&id)
        {
            let added = with_waits(&*job.clock, true, || {
                job.client.add_desk_organization(desk, &id)
            })
            .await;
            match added {
                Ok(_) => {
                    self.known.desk_organizations.insert(id.clone());
                    if state == RecordState::Skipped {
                        state = RecordState::Updated;
                        message =
                            Some("the organization existed; added to the service desk".into());
                    }
                }
                Err(e) if ends_run(&e) => return Err(e.into()),
                Err(e) => {
                    state = RecordState::Failed;
                    message = Some(format!("not added to the service desk: {e}"));
                }
            }
        }
        if state != RecordState::Skipped || entry.is_some() {
            self.mark(
                &item.identity,
                LedgerState::Done,
                Some(name.clone()),
                Some(id.clone()),
            )
            .await?;
        }
        Ok(RecordResult {
            message,
            ..item.done(state, Some(name), Some(id))
        })
    }

    /// One bulk upsert for the batch, its task polled until it ends.
    async fn csm_upsert(&mut self, items: Vec<Item>) -> Result<Vec<RecordResult>, SyncError> {
        let job = self.job;
        if items.is_empty() {
            return Ok(Vec::new());
        }
        let customers = job.mapping.service.resource == Resource::CsmCustomers;
        let payloads: Vec<Map<String, Value>> = items.iter().map(|i| i.payload.clone()).collect();
        if job.dry_run {
            return Ok(items
                .iter()
                .map(|i| RecordResult {
                    request: Some(json!({ "operationType": "UPSERT", "payload": i.payload })),
                    ..i.result(RecordState::WouldUpdate)
                })
                .collect());
        }
        let key = idempotency_key(
            job.mapping.service.resource,
            job.ledger_scope,
            &items,
            &payloads,
        );
        let now = now_ms(&*job.clock);
        let intents: Vec<(String, LedgerEntry)> = items
            .iter()
            .map(|i| {
                (
                    i.identity.clone(),
                    LedgerEntry {
                        state: LedgerState::Uncertain,
                        issue_key: Some(key.clone()),
                        issue_id: None,
                        run_id: job.run_id.to_owned(),
                        at_ms: now,
                    },
                )
            })
            .collect();
        job.ledger.put(&intents).await?;
        self.stats.bulk_requests += 1;
        // The same key and body are the same task for Jira: an unknown outcome is sent again.
        let submitted = with_waits(&*job.clock, true, || {
            if customers {
                futures::future::Either::Left(
                    job.client.csm_customer_profiles_upsert(&payloads, &key),
                )
            } else {
                futures::future::Either::Right(
                    job.client.csm_organization_profiles_upsert(&payloads, &key),
                )
            }
        })
        .await;
        let task_id = match submitted {
            Ok((task, waits)) => {
                self.stats.rate_limit_waits += u64::from(waits);
                task.id
            }
            Err(e @ AtlassianError::Ambiguous { .. }) => return Err(e.into()),
            Err(e) => {
                let ids: Vec<String> = items.iter().map(|i| i.identity.clone()).collect();
                job.ledger.remove(&ids).await?;
                if ends_run(&e) {
                    return Err(e.into());
                }
                return Ok(items.iter().map(|i| i.failed_with(&e)).collect());
            }
        };
        let mut waited = Duration::ZERO;
        let mut pause = Duration::from_secs(1);
        let task = loop {
            let (task, _) = with_waits(&*job.clock, true, || job.client.csm_task(&task_id)).await?;
            if task.ended() {
                break task;
            }
            if waited >= TASK_WAIT {
                return Err(SyncError::Jira(AtlassianError::Decode {
                    what: "getTaskStatus",
                    detail: format!(
                        "task {task_id} did not end in {} minutes",
                        TASK_WAIT.as_secs() / 60
                    ),
                }));
            }
            job.clock.sleep(pause).await;
            waited += pause;
            pause = (pause * 2).min(Duration::from_secs(10));
        };
        let mut failures: HashMap<String, String> = HashMap::new();
        for f in &task.failures {
            if let Some(id) = &f.entity_id {
                failures.insert(
                    id.trim().to_lowercase(),
                    f.error
                        .clone()
                        .unwrap_or_else(|| "Jira did not apply it".into()),
                );
            }
        }
        let failed_task = task.status == "FAILED";
        let mut done = Vec::new();
        let mut gone = Vec::new();
        let mut results = Vec::new();
        let at = now_ms(&*job.clock);
        for item in &items {
            let error = failures
                .get(&item.label.to_lowercase())
                .cloned()
                .or_else(|| failed_task.then(|| "the task failed".to_owned()));
            match error {
                Some(message) => {
                    gone.push(item.identity.clone());
                    results.push(item.with_message(RecordState::Failed, message));
                }
                None => {
                    done.push((
                        item.identity.clone(),
                        LedgerEntry {
                            state: LedgerState::Done,
                            issue_key: Some(item.label.clone()),
                            issue_id: None,
                            run_id: job.run_id.to_owned(),
                            at_ms: at,
                        },
                    ));
                    results.push(RecordResult {
                        message: Some(format!("upserted by task {task_id}")),
                        ..item.done(RecordState::Updated, Some(item.label.clone()), None)
                    });
                }
            }
        }
        job.ledger.put(&done).await?;
        job.ledger.remove(&gone).await?;
        Ok(results)
    }
}

/// The `Idempotency-Key` of a batch: a hash of the resource, the ledger scope, the records'
/// identities and the body, so the same batch is the same key in any run.
fn idempotency_key(
    resource: Resource,
    scope: &str,
    items: &[Item],
    payloads: &[Map<String, Value>],
) -> String {
    let mut h = Sha256::new();
    h.update(resource.as_str().as_bytes());
    h.update(b"\n");
    h.update(scope.as_bytes());
    for item in items {
        h.update(b"\n");
        h.update(item.identity.as_bytes());
    }
    h.update(b"\n");
    h.update(serde_json::to_vec(payloads).unwrap_or_default());
    let digest = h.finalize();
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("jiralink-{}", &hex[..40])
}
