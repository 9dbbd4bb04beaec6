//! CSM-only data: detail field definitions, products, entitlements and bulk tasks.
//!
//! Customers and organizations (with their detail values) live in
//! [`crate::jsm::store::SiteDesk`], which embeds this struct.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::csm::bulk::BulkOps;
use crate::jsm::store::{SiteDesk, derived_uuid};

/// Most detail fields per entity type (Atlassian: "You can create up to 50 detail fields").
pub const MAX_DETAIL_FIELDS: usize = 50;

/// Type of a detail field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum FieldKind {
    /// Free text.
    Text,
    /// A number.
    Number,
    /// An e-mail address.
    Email,
    /// An http(s) URL.
    Url,
    /// A phone number (`+` and digits, spaces, dashes, parentheses).
    Phone,
    /// A calendar date `YYYY-MM-DD`.
    Date,
    /// One of `options`.
    Select,
    /// Any subset of `options`.
    Multiselect,
}

impl FieldKind {
    /// Every kind, in wire-name order.
    pub const ALL: [Self; 8] = [
        Self::Text,
        Self::Number,
        Self::Email,
        Self::Url,
        Self::Phone,
        Self::Date,
        Self::Select,
        Self::Multiselect,
    ];

    /// Wire name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Text => "TEXT",
            Self::Number => "NUMBER",
            Self::Email => "EMAIL",
            Self::Url => "URL",
            Self::Phone => "PHONE",
            Self::Date => "DATE",
            Self::Select => "SELECT",
            Self::Multiselect => "MULTISELECT",
        }
    }

    /// Parses a wire name (case-insensitive).
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|k| k.name().eq_ignore_ascii_case(name))
    }

    /// Whether the kind carries options.
    pub fn has_options(self) -> bool {
        matches!(self, Self::Select | Self::Multiselect)
    }
}

/// A detail field definition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DetailField {
    /// Name (unique per entity type, case-insensitive).
    pub name: String,
    /// Type.
    pub kind: FieldKind,
    /// Options of SELECT and MULTISELECT fields.
    pub options: Vec<String>,
    /// Position in the UI, from 1.
    pub position: usize,
}

impl DetailField {
    /// `{"name","type":{"name","options"?},"configuration":{"position"}}`.
    pub fn to_json(&self) -> Value {
        let mut ty = json!({ "name": self.kind.name() });
        if self.kind.has_options() {
            ty["options"] = json!(self.options);
        }
        json!({ "name": self.name, "type": ty, "configuration": { "position": self.position } })
    }

    /// Checks values for this field; the error is a message for the caller.
    pub fn validate(&self, values: &[String]) -> Result<(), String> {
        let name = &self.name;
        if values.len() > 1 && self.kind != FieldKind::Multiselect {
            return Err(format!("The detail field '{name}' accepts a single value."));
        }
        for v in values {
            let ok = match self.kind {
                FieldKind::Text => !v.is_empty() && v.chars().count() <= 255,
                FieldKind::Number => v.trim().parse::<f64>().is_ok_and(f64::is_finite),
                FieldKind::Email => crate::jsm::customer::valid_email(v),
                FieldKind::Url => url::Url::parse(v)
                    .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some()),
                FieldKind::Phone => {
                    v.chars().filter(char::is_ascii_digit).count() >= 3
                        && v.chars()
                            .all(|c| c.is_ascii_digit() || matches!(c, '+' | ' ' | '-' | '(' | ')'))
                }
                FieldKind::Date => {
                    time::Date::parse(v, time::macros::format_description!("[year]-[month]-[day]"))
                        .is_ok()
                }
                FieldKind::Select | FieldKind::Multiselect => self.options.contains(v),
            };
            if !ok {
                return Err(format!(
                    "The value '{v}' is not valid for the {} detail field '{name}'.",
                    self.kind.name()
                ));
            }
        }
        Ok(())
    }
}

/// A product customers can be entitled to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Product {
    /// UUID.
    pub id: String,
    /// Name.
    pub name: String,
}

/// Who an entitlement belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Holder {
    /// A customer, by account id.
    Customer(String),
    /// An organization, by id.
    Organization(u64),
}

/// A customer's or organization's entitlement to a product.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entitlement {
    /// UUID.
    pub id: String,
    /// Product id.
    pub product_id: String,
    /// Holder.
    pub holder: Holder,
}

/// Lifecycle state of a bulk task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TaskStatus {
    /// Queued.
    NotStarted,
    /// Running.
    InProgress,
    /// Done; `failures` tells complete from partial success.
    Finished,
    /// Every item failed.
    Failed,
}

impl TaskStatus {
    /// Wire name.
    pub fn name(self) -> &'static str {
        match self {
            Self::NotStarted => "NOT_STARTED",
            Self::InProgress => "IN_PROGRESS",
            Self::Finished => "FINISHED",
            Self::Failed => "FAILED",
        }
    }

    /// Whether the task is done.
    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Finished | Self::Failed)
    }
}

/// One failed item of a bulk task.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    /// `CUSTOMER` or `ORGANIZATION`.
    pub entity: String,
    /// Account id, organization id or the e-mail/name the item named.
    pub entity_id: String,
    /// `CREATE`, `UPDATE`, `DELETE`, `UPSERT`, `PATCH`.
    pub operation: String,
    /// Why.
    pub error: String,
}

/// A bulk task.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Task {
    /// UUID.
    pub id: String,
    /// `BULK_CUSTOMER_PROFILE_CREATE_UPDATE` etc.
    #[serde(deserialize_with = "known_task_type")]
    pub task_type: TaskType,
    /// Submission time.
    pub created: OffsetDateTime,
    /// The operations, applied when the task finishes.
    pub ops: BulkOps,
    /// Terminal outcome, once run.
    pub outcome: Option<(TaskStatus, OffsetDateTime)>,
    /// Failures, once run.
    pub failures: Vec<Failure>,
}

/// A task type name. An alias because serde treats a field written `&str` as borrowed from
/// the input, which would tie a deserialized [`Task`] to the dump's lifetime; the names are
/// `'static` entries of [`TASK_TYPES`] instead.
pub type TaskType = &'static str;

/// The task types bulk endpoints create (`csm::bulk`); a state dump names one of them.
pub const TASK_TYPES: &[&str] = &[
    "BULK_CUSTOMER_ACCOUNT_MANAGE",
    "BULK_CUSTOMER_DETAIL_UPDATE",
    "BULK_CUSTOMER_PROFILE_CREATE_UPDATE",
    "BULK_ORGANIZATION_MANAGE",
    "BULK_ORGANIZATION_DETAIL_UPDATE",
    "BULK_ORGANIZATION_PROFILE_CREATE_UPDATE",
];

fn known_task_type<'de, D: serde::Deserializer<'de>>(d: D) -> Result<TaskType, D::Error> {
    let name = String::deserialize(d)?;
    TASK_TYPES
        .iter()
        .copied()
        .find(|t| *t == name)
        .ok_or_else(|| serde::de::Error::custom(format!("unknown task type {name}")))
}

/// Seconds a task waits in `NOT_STARTED`.
pub const QUEUE_SECS: i64 = 1;
/// Seconds a task stays `IN_PROGRESS`.
pub const RUN_SECS: i64 = 2;
/// How long finished tasks (and their idempotency keys) are kept.
pub const RETENTION: time::Duration = time::Duration::days(3);
/// Most non-terminal bulk tasks per site.
pub const MAX_ACTIVE_TASKS: usize = 5;

impl Task {
    /// When the task leaves `NOT_STARTED`.
    pub fn started_at(&self) -> OffsetDateTime {
        self.created + time::Duration::seconds(QUEUE_SECS)
    }

    /// When the task reaches its terminal state.
    pub fn due_at(&self) -> OffsetDateTime {
        self.started_at() + time::Duration::seconds(RUN_SECS)
    }

    /// Status and last change at `now`.
    pub fn status_at(&self, now: OffsetDateTime) -> (TaskStatus, OffsetDateTime) {
        if let Some(outcome) = self.outcome {
            return outcome;
        }
        if now < self.started_at() {
            (TaskStatus::NotStarted, self.created)
        } else {
            (TaskStatus::InProgress, self.started_at())
        }
    }

    /// `TaskStatusResponse`.
    pub fn to_json(&self, now: OffsetDateTime) -> Value {
        let (status, updated) = self.status_at(now);
        json!({
            "id": self.id,
            "type": self.task_type,
            "status": status.name(),
            "failures": self.failures.iter().map(|f| json!({
                "entity": f.entity,
                "entityId": f.entity_id,
                "operation": f.operation,
                "error": f.error,
            })).collect::<Vec<_>>(),
            "createdAt": rfc3339(self.created),
            "updatedAt": rfc3339(updated),
        })
    }
}

/// `2025-01-15T11:12:13Z`.
pub fn rfc3339(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// What an idempotency key was first used for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdempotencyRecord {
    /// Endpoint and canonical body.
    pub fingerprint: String,
    /// The task it created.
    pub task_id: String,
}

/// The CSM part of a site.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct CsmData {
    /// Customer detail fields.
    pub customer_fields: Vec<DetailField>,
    /// Organization detail fields.
    pub organization_fields: Vec<DetailField>,
    /// Products in creation order.
    pub products: Vec<Product>,
    /// Entitlements in creation order.
    pub entitlements: Vec<Entitlement>,
    /// Tasks by id.
    pub tasks: BTreeMap<String, Task>,
    /// Idempotency keys.
    pub idempotency: HashMap<String, IdempotencyRecord>,
    /// Counter for derived ids.
    pub next_id: u64,
    seed: u64,
    subdomain: String,
}

fn field(name: &str, kind: FieldKind, options: &[&str], position: usize) -> DetailField {
    DetailField {
        name: name.to_owned(),
        kind,
        options: options.iter().map(|o| (*o).to_owned()).collect(),
        position,
    }
}

impl CsmData {
    /// Seeded definitions and products (every site has the same catalogue).
    pub fn seeded(seed: u64, subdomain: &str) -> Self {
        let mut data = Self {
            seed,
            subdomain: subdomain.to_owned(),
            ..Self::default()
        };
        data.customer_fields = vec![
            field("Region", FieldKind::Select, &["AU", "EU", "US"], 1),
            field("Tier", FieldKind::Select, &["Bronze", "Silver", "Gold"], 2),
            field(
                "Languages",
                FieldKind::Multiselect,
                &["English", "German", "French", "Japanese"],
                3,
            ),
            field("Phone number", FieldKind::Phone, &[], 4),
            field("Website", FieldKind::Url, &[], 5),
            field("Contract start", FieldKind::Date, &[], 6),
            field("Seats", FieldKind::Number, &[], 7),
            field("Billing email", FieldKind::Email, &[], 8),
            field("Notes", FieldKind::Text, &[], 9),
        ];
        data.organization_fields = vec![
            field(
                "Industry",
                FieldKind::Select,
                &["Manufacturing", "Healthcare", "Retail", "Software"],
                1,
            ),
            field("Account manager", FieldKind::Email, &[], 2),
            field("Website", FieldKind::Url, &[], 3),
            field("Employees", FieldKind::Number, &[], 4),
        ];
        for name in [
            "Acme Widget",
            "Acme Gadget Pro",
            "Acme Cloud Sync",
            "Acme Support Plus",
        ] {
            data.add_product(name);
        }
        data
    }

    /// A new deterministic UUID.
    pub fn new_id(&mut self, kind: &str) -> String {
        self.next_id += 1;
        derived_uuid(
            self.seed,
            &format!("csm\0{}\0{kind}\0{}", self.subdomain, self.next_id),
        )
        .to_string()
    }

    /// Adds a product and returns its id.
    pub fn add_product(&mut self, name: &str) -> String {
        let id = self.new_id("product");
        self.products.push(Product {
            id: id.clone(),
            name: name.to_owned(),
        });
        id
    }

    /// Seeded entitlements: the first customers to the first product, org 1 to the second.
    pub fn seed_entitlements(&mut self, customers: &[String]) {
        let (Some(p0), Some(p1)) = (
            self.products.first().map(|p| p.id.clone()),
            self.products.get(1).map(|p| p.id.clone()),
        ) else {
            return;
        };
        for c in customers.iter().take(3) {
            let id = self.new_id("entitlement");
            self.entitlements.push(Entitlement {
                id,
                product_id: p0.clone(),
                holder: Holder::Customer(c.clone()),
            });
        }
        let id = self.new_id("entitlement");
        self.entitlements.push(Entitlement {
            id,
            product_id: p1,
            holder: Holder::Organization(1),
        });
    }

    /// Detail fields of customers (`true`) or organizations (`false`).
    pub fn fields(&self, customers: bool) -> &[DetailField] {
        if customers {
            &self.customer_fields
        } else {
            &self.organization_fields
        }
    }

    /// Mutable detail fields of customers or organizations.
    pub fn fields_mut(&mut self, customers: bool) -> &mut Vec<DetailField> {
        if customers {
            &mut self.customer_fields
        } else {
            &mut self.organization_fields
        }
    }

    /// Drops a deleted customer's entitlements.
    pub fn forget_customer(&mut self, account_id: &str) {
        self.entitlements
            .retain(|e| e.holder != Holder::Customer(account_id.to_owned()));
    }

    /// Drops a deleted organization's entitlements.
    pub fn forget_organization(&mut self, id: u64) {
        self.entitlements
            .retain(|e| e.holder != Holder::Organization(id));
    }

    /// Tasks whose run time has come, oldest first.
    pub fn due_tasks(&self, now: OffsetDateTime) -> Vec<String> {
        let mut due: Vec<&Task> = self
            .tasks
            .values()
            .filter(|t| t.outcome.is_none() && t.due_at() <= now)
            .collect();
        due.sort_by_key(|t| t.created);
        due.into_iter().map(|t| t.id.clone()).collect()
    }

    /// Forgets tasks (and their idempotency keys) finished more than [`RETENTION`] ago.
    pub fn expire(&mut self, now: OffsetDateTime) {
        let old: Vec<String> = self
            .tasks
            .values()
            .filter(|t| t.outcome.is_some_and(|(_, at)| at + RETENTION <= now))
            .map(|t| t.id.clone())
            .collect();
        for id in &old {
            self.tasks.remove(id);
        }
        self.idempotency.retain(|_, r| !old.contains(&r.task_id));
    }

    /// Queued or running tasks.
    pub fn active_tasks(&self, now: OffsetDateTime) -> usize {
        self.tasks
            .values()
            .filter(|t| !t.status_at(now).0.is_terminal())
            .count()
    }
}

/// Detail values seeded on the demo customers.
pub fn seed_customer_details(desk: &mut SiteDesk, ids: &[String]) {
    let regions = ["EU", "US", "AU"];
    let tiers = ["Gold", "Silver", "Bronze"];
    for (i, id) in ids.iter().enumerate() {
        let Some(c) = desk.customers.get_mut(id) else {
            continue;
        };
        c.details
            .insert("Region".to_owned(), vec![regions[i % 3].to_owned()]);
        if i % 2 == 0 {
            c.details
                .insert("Tier".to_owned(), vec![tiers[i % 3].to_owned()]);
        }
        if i < 5 {
            c.details.insert(
                "Languages".to_owned(),
                vec!["English".to_owned(), "German".to_owned()],
            );
        }
    }
}

/// Detail values seeded on the demo organizations.
pub fn seed_organization_details(desk: &mut SiteDesk) {
    let industries = [
        "Manufacturing",
        "Software",
        "Software",
        "Healthcare",
        "Retail",
    ];
    for (i, org) in desk.organizations.values_mut().enumerate() {
        if let Some(industry) = industries.get(i) {
            org.details
                .insert("Industry".to_owned(), vec![(*industry).to_owned()]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn values(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn detail_values_are_checked_per_type() {
        let data = CsmData::seeded(1, "demo");
        let f = |name: &str| {
            data.customer_fields
                .iter()
                .find(|f| f.name == name)
                .expect("seeded")
        };
        assert!(f("Region").validate(&values(&["EU"])).is_ok());
        assert!(f("Region").validate(&values(&["Mars"])).is_err());
        assert!(f("Region").validate(&values(&["EU", "US"])).is_err());
        assert!(
            f("Languages")
                .validate(&values(&["English", "French"]))
                .is_ok()
        );
        assert!(f("Seats").validate(&values(&["12.5"])).is_ok());
        assert!(f("Seats").validate(&values(&["twelve"])).is_err());
        assert!(
            f("Contract start")
                .validate(&values(&["2026-02-30"]))
                .is_err()
        );
        assert!(
            f("Contract start")
                .validate(&values(&["2026-02-28"]))
                .is_ok()
        );
        assert!(
            f("Website")
                .validate(&values(&["ftp://x.example"]))
                .is_err()
        );
        assert!(
            f("Website")
                .validate(&values(&["https://x.example"]))
                .is_ok()
        );
        assert!(
            f("Phone number")
                .validate(&values(&["+61 2 9999 0000"]))
                .is_ok()
        );
        assert!(f("Phone number").validate(&values(&["call me"])).is_err());
        assert!(
            f("Billing email")
                .validate(&values(&["a@b.example"]))
                .is_ok()
        );
        assert!(f("Notes").validate(&values(&[""])).is_err());
        assert!(
            f("Notes").validate(&[]).is_ok(),
            "no values clears the field"
        );
    }

    #[test]
    fn task_status_follows_the_clock() {
        let t0 = datetime!(2026-01-05 09:30 UTC);
        let task = Task {
            id: "t".to_owned(),
            task_type: "X",
            created: t0,
            ops: BulkOps::default(),
            outcome: None,
            failures: Vec::new(),
        };
        assert_eq!(task.status_at(t0).0, TaskStatus::NotStarted);
        assert_eq!(
            task.status_at(t0 + time::Duration::seconds(1)).0,
            TaskStatus::InProgress
        );
        assert_eq!(task.due_at(), t0 + time::Duration::seconds(3));
        assert_eq!(rfc3339(t0), "2026-01-05T09:30:00Z");
    }

    #[test]
    fn kinds_round_trip() {
        for k in FieldKind::ALL {
            assert_eq!(FieldKind::parse(&k.name().to_lowercase()), Some(k));
        }
        assert_eq!(FieldKind::parse("COLOUR"), None);
    }
}
