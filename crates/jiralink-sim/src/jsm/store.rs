//! Service-management data of every site: portal customers, organizations, service desks,
//! request types and (for CSM) detail fields, products, entitlements and bulk tasks.
//!
//! JSM and CSM share one store because they share the entities: a customer created with
//! `POST /rest/servicedeskapi/customer` is the CSM customer with the same account id, and a JSM
//! organization is the CSM organization with the same numeric id.
//!
//! The store lives in the typed slot of [`SimState`] (one mutex, one [`SiteDesk`] per site,
//! created and seeded on first use). Every access first runs [`SiteDesk::tick`], which moves bulk
//! tasks along the simulator clock, so state never changes behind a reader's back between two
//! clock readings.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::csm::store::CsmData;
use crate::identity::{DEFAULT_SITE, Site, derive};
use crate::state::{SimState, lock};

/// A portal-only customer (an Atlassian account of type `customer`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Customer {
    /// `qm:{uuid}:{hex}` account id.
    pub account_id: String,
    /// E-mail address, unique per site (case-insensitive).
    pub email: String,
    /// Display name.
    pub display_name: String,
    /// IANA time zone.
    pub time_zone: String,
    /// Whether the account is active.
    pub active: bool,
    /// CSM detail values by field name.
    pub details: BTreeMap<String, Vec<String>>,
    /// Creation time.
    pub created: OffsetDateTime,
}

/// A JSM/CSM organization.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Organization {
    /// Numeric id.
    pub id: u64,
    /// Group-directory uuid.
    pub uuid: Uuid,
    /// Name, unique per site (case-insensitive).
    pub name: String,
    /// Creation time.
    pub created: OffsetDateTime,
    /// Member account ids (kept sorted: Jira lists members ordered by account id).
    pub members: BTreeSet<String>,
    /// CSM detail values by field name.
    pub details: BTreeMap<String, Vec<String>>,
}

/// A service desk (the service-management side of a project).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceDesk {
    /// Service desk id.
    pub id: u64,
    /// Id of the peer project.
    pub project_id: String,
    /// Key of the peer project.
    pub project_key: String,
    /// Project name.
    pub project_name: String,
    /// Customer account ids, in the order they were added.
    pub customers: Vec<String>,
    /// Organization ids, in the order they were added.
    pub organizations: Vec<u64>,
}

/// One allowed value of a select-like request type field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldOption {
    /// Option id (`value`).
    pub value: String,
    /// Text shown to the customer.
    pub label: String,
}

/// Jira's field schema (`jiraSchema`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldSchema {
    /// `string`, `option`, `date`, `priority`, `user`, `array`.
    pub kind: String,
    /// System field name, for system fields.
    pub system: Option<String>,
    /// Custom field type key, for custom fields.
    pub custom: Option<String>,
    /// Numeric custom field id, for custom fields.
    pub custom_id: Option<i64>,
}

/// A field of a request type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestTypeField {
    /// Jira field id (`summary`, `customfield_10060`).
    pub field_id: String,
    /// Label on the portal.
    pub name: String,
    /// Help text under the field.
    pub description: String,
    /// Whether a value is required.
    pub required: bool,
    /// Whether the field is shown on the portal.
    pub visible: bool,
    /// Field schema.
    pub schema: FieldSchema,
    /// Allowed values (select-like fields only).
    pub valid_values: Vec<FieldOption>,
}

/// A request type of a service desk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestType {
    /// Request type id.
    pub id: u64,
    /// Owning service desk.
    pub service_desk_id: u64,
    /// Name.
    pub name: String,
    /// Description.
    pub description: String,
    /// Help text.
    pub help_text: String,
    /// Issue type the requests are created with.
    pub issue_type_id: String,
    /// Request type groups; empty means hidden from the portal.
    pub group_ids: Vec<String>,
    /// Icon id.
    pub icon_id: String,
    /// Fields in portal order.
    pub fields: Vec<RequestTypeField>,
    /// The form customers fill in, when the request type has one.
    pub form: Option<Form>,
}

/// What a form question accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum QuestionKind {
    /// `{"text": "…"}`.
    Text,
    /// `{"date": "YYYY-MM-DD"}`.
    Date,
}

/// A question of a request type's form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FormQuestion {
    /// Question id, the key in `form.answers`.
    pub id: String,
    /// Question text.
    pub label: String,
    /// Answer kind.
    pub kind: QuestionKind,
    /// Whether an answer is required.
    pub required: bool,
    /// Jira field the answer is written to.
    pub linked_field: String,
}

/// A request type's form (the `form.answers` of `POST /request`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Form {
    /// Questions in form order.
    pub questions: Vec<FormQuestion>,
}

/// What JSM keeps about a request beside its issue.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RequestMeta {
    /// Request type id.
    pub request_type_id: u64,
    /// Participant account ids, in the order they were added.
    pub participants: Vec<String>,
    /// What JSM knows about the issue attachments added through
    /// `POST /request/{issueIdOrKey}/attachment`, by attachment id. The files themselves are
    /// issue attachments ([`crate::data::SiteData::attachments_of`]).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attachment_facts: BTreeMap<u64, RequestAttachment>,
}

/// Request type whose requests wait for an approval (the seeded "Request new hardware").
pub const HARDWARE_REQUEST_TYPE: u64 = 2;

/// An approver's answer, or the outcome of an approval.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Decision {
    /// Approved.
    Approved,
    /// Declined.
    Declined,
    /// Not answered yet.
    Pending,
}

impl Decision {
    /// The wire value (`approved`, `declined`, `pending`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Approved => "approved",
            Self::Declined => "declined",
            Self::Pending => "pending",
        }
    }
}

/// One approver of an approval and their answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Approver {
    /// Account id.
    pub account_id: String,
    /// Their answer.
    pub decision: Decision,
}

/// An approval a request waits for. One answer decides it (Jira's default of one required
/// approver): the first approval approves it, the first decline declines it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Approval {
    /// Approval id, unique per site.
    pub id: u64,
    /// Issue id of the request.
    pub issue_id: u64,
    /// What is asked.
    pub name: String,
    /// Approvers in the order they were asked.
    pub approvers: Vec<Approver>,
    /// Creation time (epoch ms).
    pub created: i64,
    /// When it was decided (epoch ms).
    pub completed: Option<i64>,
}

impl Approval {
    /// The outcome so far.
    pub fn final_decision(&self) -> Decision {
        let answered = |d| self.approvers.iter().any(|a| a.decision == d);
        if answered(Decision::Declined) {
            Decision::Declined
        } else if answered(Decision::Approved) {
            Decision::Approved
        } else {
            Decision::Pending
        }
    }
}

/// A file uploaded with `attachTemporaryFile`, waiting to be attached to a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemporaryFile {
    /// `temp…` id.
    pub id: String,
    /// Service desk it was uploaded to.
    pub service_desk_id: u64,
    /// File name.
    pub file_name: String,
    /// Media type sent with the part (or guessed from the name).
    pub mime_type: String,
    /// Content.
    #[serde(with = "base64_bytes")]
    pub content: Vec<u8>,
    /// Uploader's account id.
    pub uploaded_by: String,
    /// Upload time (epoch ms); the file expires [`TEMPORARY_FILE_TTL_MS`] later.
    pub created: i64,
}

/// How long a temporary file can be attached (Jira keeps them for about an hour).
pub const TEMPORARY_FILE_TTL_MS: i64 = 3_600_000;

/// What JSM adds to an issue attachment attached through the request API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestAttachment {
    /// The comment created with it.
    pub comment_id: u64,
    /// Whether customers see it.
    pub public: bool,
}

/// File content, written as base64 text in dumps.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Content(#[serde(with = "base64_bytes")] pub Vec<u8>);

/// Binary content as base64 text in dumps.
mod base64_bytes {
    use base64::Engine as _;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(bytes))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        base64::engine::general_purpose::STANDARD
            .decode(text.as_bytes())
            .map_err(serde::de::Error::custom)
    }
}

/// Everything service-management about one site.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct SiteDesk {
    /// Customers by account id.
    pub customers: BTreeMap<String, Customer>,
    /// Organizations by id.
    pub organizations: BTreeMap<u64, Organization>,
    /// Next organization id.
    pub next_org_id: u64,
    /// Service desks in id order.
    pub service_desks: Vec<ServiceDesk>,
    /// Request types in id order.
    pub request_types: Vec<RequestType>,
    /// Requests created through JSM, by issue id (other issues of a service-desk project get
    /// the request type matching their issue type).
    pub requests: BTreeMap<u64, RequestMeta>,
    /// Approvals by id.
    #[serde(default)]
    pub approvals: BTreeMap<u64, Approval>,
    /// Uploaded files not attached yet, by id.
    #[serde(default)]
    pub temporary_files: BTreeMap<String, TemporaryFile>,
    /// CSM-only data.
    pub csm: CsmData,
    /// Seed for derived ids.
    pub seed: u64,
}

/// All sites' service-management data (the typed-slot value).
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct DeskStore {
    sites: HashMap<String, SiteDesk>,
}

/// Runs `f` on the data of `site`, seeding it on first use and advancing bulk tasks first.
pub fn with_site<R>(state: &SimState, site: &Site, f: impl FnOnce(&mut SiteDesk) -> R) -> R {
    let store = state.shared(|| Mutex::new(DeskStore::default()));
    let now = state.now();
    let seed = state.config().seed;
    let mut guard = lock(&store);
    let desk = guard
        .sites
        .entry(site.subdomain.clone())
        .or_insert_with(|| SiteDesk::seeded(seed, &site.subdomain, now));
    desk.tick(now);
    f(desk)
}

/// Deterministic portal-customer account id: `qm:{uuid}:{24 hex}`.
pub fn customer_account_id(seed: u64, subdomain: &str, email: &str) -> String {
    let scope = derive(seed, &format!("customers\0{subdomain}"));
    let mut b = [0u8; 16];
    b.copy_from_slice(&scope[..16]);
    let uuid = uuid::Builder::from_random_bytes(b).into_uuid();
    let local = derive(seed, &format!("customer\0{}", email.to_ascii_lowercase()));
    let hex: String = local[..12].iter().map(|b| format!("{b:02x}")).collect();
    format!("qm:{uuid}:{hex}")
}

/// Deterministic uuid for a label.
pub fn derived_uuid(seed: u64, label: &str) -> Uuid {
    let bytes = derive(seed, label);
    let mut b = [0u8; 16];
    b.copy_from_slice(&bytes[..16]);
    uuid::Builder::from_random_bytes(b).into_uuid()
}

const SEED_CUSTOMERS: &[(&str, &str, &str)] = &[
    (
        "Dana Lopez",
        "dana.lopez@customer.example",
        "America/Los_Angeles",
    ),
    (
        "Erik Nilsson",
        "erik.nilsson@customer.example",
        "Europe/Stockholm",
    ),
    (
        "Fatima Khan",
        "fatima.khan@customer.example",
        "Asia/Karachi",
    ),
    (
        "George Okafor",
        "george.okafor@customer.example",
        "Africa/Lagos",
    ),
    ("Hana Sato", "hana.sato@customer.example", "Asia/Tokyo"),
    (
        "Ivan Petrov",
        "ivan.petrov@customer.example",
        "Europe/Sofia",
    ),
    ("Julia Rossi", "julia.rossi@customer.example", "Europe/Rome"),
    (
        "Kofi Mensah",
        "kofi.mensah@customer.example",
        "Africa/Accra",
    ),
    (
        "Laura Schmidt",
        "laura.schmidt@customer.example",
        "Europe/Berlin",
    ),
    (
        "Mateo Garcia",
        "mateo.garcia@customer.example",
        "Europe/Madrid",
    ),
    (
        "Nina Kowalski",
        "nina.kowalski@customer.example",
        "Europe/Warsaw",
    ),
    ("Omar Haddad", "omar.haddad@customer.example", "Asia/Dubai"),
    ("Priya Nair", "priya.nair@customer.example", "Asia/Kolkata"),
    (
        "Quinn Murphy",
        "quinn.murphy@customer.example",
        "Europe/Dublin",
    ),
    (
        "Rosa Silva",
        "rosa.silva@customer.example",
        "America/Sao_Paulo",
    ),
    (
        "Sam Taylor",
        "sam.taylor@customer.example",
        "Australia/Melbourne",
    ),
    ("Tariq Aziz", "tariq.aziz@customer.example", "Asia/Riyadh"),
    ("Uma Patel", "uma.patel@customer.example", "Europe/London"),
    (
        "Victor Chen",
        "victor.chen@customer.example",
        "Asia/Shanghai",
    ),
    (
        "Wendy Brooks",
        "wendy.brooks@customer.example",
        "America/Chicago",
    ),
    (
        "Xavier Dubois",
        "xavier.dubois@customer.example",
        "Europe/Paris",
    ),
    ("Yara Costa", "yara.costa@customer.example", "Europe/Lisbon"),
    ("Zoe Adams", "zoe.adams@customer.example", "America/Toronto"),
];

/// Seeded organizations: name and the indexes of their members in [`SEED_CUSTOMERS`].
const SEED_ORGS: &[(&str, &[usize])] = &[
    ("Acme Widgets", &[0, 1, 2, 3, 4]),
    ("Globex Corporation", &[5, 6, 7, 8]),
    ("Initech", &[9, 10, 11]),
    ("Umbrella Health", &[]),
    ("Stark Logistics", &[12, 13]),
    ("Wayne Enterprises", &[14]),
];

/// Project of the seeded service desk (the `HELP` service-management project).
pub const HELP_PROJECT_KEY: &str = "HELP";

fn text_schema(system: &str) -> FieldSchema {
    FieldSchema {
        kind: "string".to_owned(),
        system: Some(system.to_owned()),
        custom: None,
        custom_id: None,
    }
}

fn custom_schema(kind: &str, custom: &str, id: i64) -> FieldSchema {
    FieldSchema {
        kind: kind.to_owned(),
        system: None,
        custom: Some(format!(
            "com.atlassian.jira.plugin.system.customfieldtypes:{custom}"
        )),
        custom_id: Some(id),
    }
}

fn field(
    id: &str,
    name: &str,
    required: bool,
    schema: FieldSchema,
    options: &[(&str, &str)],
) -> RequestTypeField {
    RequestTypeField {
        field_id: id.to_owned(),
        name: name.to_owned(),
        description: String::new(),
        required,
        visible: true,
        schema,
        valid_values: options
            .iter()
            .map(|(v, l)| FieldOption {
                value: (*v).to_owned(),
                label: (*l).to_owned(),
            })
            .collect(),
    }
}

fn summary(label: &str) -> RequestTypeField {
    field("summary", label, true, text_schema("summary"), &[])
}

fn description(label: &str, required: bool) -> RequestTypeField {
    field(
        "description",
        label,
        required,
        text_schema("description"),
        &[],
    )
}

/// Issue type of service requests in `crate::data`'s catalogue.
pub const SERVICE_REQUEST_TYPE: &str = crate::data::generate::types::SERVICE_REQUEST;
/// Issue type of incidents in `crate::data`'s catalogue.
pub const INCIDENT_TYPE: &str = crate::data::generate::types::INCIDENT;

/// Options of `crate::data`'s "Team" select field, as request type fields list them.
const TEAM_OPTIONS: &[(&str, &str)] = &[
    ("10100", "Platform"),
    ("10101", "Payments"),
    ("10102", "Growth"),
    ("10103", "Mobile"),
    ("10104", "Support"),
];

/// The seeded request types of service desk 1. Their fields are real fields of the `HELP`
/// project (`crate::data`'s catalogue), shown under portal labels.
fn seed_request_types() -> Vec<RequestType> {
    use crate::data::generate::fields::{TARGET_DATE, TEAM};
    let priority = FieldSchema {
        kind: "priority".to_owned(),
        system: Some("priority".to_owned()),
        custom: None,
        custom_id: None,
    };
    let team = |required| {
        field(
            &format!("customfield_{TEAM}"),
            "Which team is it for?",
            required,
            custom_schema("option", "select", i64::try_from(TEAM).unwrap_or_default()),
            TEAM_OPTIONS,
        )
    };
    let date = |label: &str, required| {
        field(
            &format!("customfield_{TARGET_DATE}"),
            label,
            required,
            custom_schema(
                "date",
                "datepicker",
                i64::try_from(TARGET_DATE).unwrap_or_default(),
            ),
            &[],
        )
    };
    let rt =
        |id: u64, name: &str, desc: &str, issue_type: &str, groups: &[&str], fields| RequestType {
            id,
            service_desk_id: 1,
            name: name.to_owned(),
            description: desc.to_owned(),
            help_text: format!("Tell us what you need: {}", desc.to_ascii_lowercase()),
            issue_type_id: issue_type.to_owned(),
            group_ids: groups.iter().map(|g| (*g).to_owned()).collect(),
            icon_id: format!("{}", 10_600 + id),
            fields,
            form: None,
        };
    let mut onboard = rt(
        4,
        "Onboard a new employee",
        "Prepare accounts and equipment for a new starter.",
        SERVICE_REQUEST_TYPE,
        &[],
        vec![summary("Who is starting?"), date("Start date", true)],
    );
    onboard.form = Some(Form {
        questions: vec![
            FormQuestion {
                id: "1".to_owned(),
                label: "Full name of the new employee".to_owned(),
                kind: QuestionKind::Text,
                required: true,
                linked_field: "summary".to_owned(),
            },
            FormQuestion {
                id: "2".to_owned(),
                label: "First working day".to_owned(),
                kind: QuestionKind::Date,
                required: true,
                linked_field: format!("customfield_{TARGET_DATE}"),
            },
        ],
    });
    vec![
        rt(
            1,
            "Get IT help",
            "Get assistance for general IT problems and questions.",
            SERVICE_REQUEST_TYPE,
            &["1"],
            vec![
                summary("What do you need?"),
                description("Why do you need this?", false),
            ],
        ),
        rt(
            2,
            "Request new hardware",
            "Request a laptop, monitor or other equipment.",
            SERVICE_REQUEST_TYPE,
            &["2"],
            vec![
                summary("What do you need?"),
                description("Why do you need this?", true),
                team(true),
                date("Needed by", false),
            ],
        ),
        rt(
            3,
            "Report a system problem",
            "Let us know when a system is broken or slow.",
            INCIDENT_TYPE,
            &["1", "3"],
            vec![
                summary("Summarize the problem"),
                description("What happened?", false),
                field(
                    "priority",
                    "How urgent is it?",
                    false,
                    priority,
                    &[
                        ("1", "Highest"),
                        ("2", "High"),
                        ("3", "Medium"),
                        ("4", "Low"),
                    ],
                ),
            ],
        ),
        onboard,
    ]
}

impl SiteDesk {
    /// Seed data: every site has the `HELP` service desk and its request types; the demo site
    /// also has customers and organizations.
    pub fn seeded(seed: u64, subdomain: &str, now: OffsetDateTime) -> Self {
        let mut desk = Self {
            seed,
            next_org_id: 1,
            csm: CsmData::seeded(seed, subdomain),
            ..Self::default()
        };
        // `crate::data` generates the HELP project (id 10003) on every site.
        desk.service_desks.push(ServiceDesk {
            id: 1,
            project_id: "10003".to_owned(),
            project_key: HELP_PROJECT_KEY.to_owned(),
            project_name: "Help Desk".to_owned(),
            customers: Vec::new(),
            organizations: Vec::new(),
        });
        desk.request_types = seed_request_types();
        if subdomain != DEFAULT_SITE {
            return desk;
        }
        let created = now - time::Duration::days(30);
        let mut ids = Vec::new();
        for (name, email, tz) in SEED_CUSTOMERS {
            let id = desk.add_customer(email, name, tz, created);
            ids.push(id);
        }
        crate::csm::store::seed_customer_details(&mut desk, &ids);
        for (name, members) in SEED_ORGS {
            let id = desk.add_organization(name, created);
            if let Some(org) = desk.organizations.get_mut(&id) {
                org.members = members
                    .iter()
                    .filter_map(|i| ids.get(*i).cloned())
                    .collect();
            }
        }
        crate::csm::store::seed_organization_details(&mut desk);
        if let Some(help) = desk.service_desks.first_mut() {
            help.customers = ids.iter().take(18).cloned().collect();
            help.organizations = vec![1, 2, 3];
        }
        desk.csm.seed_entitlements(&ids);
        desk
    }

    /// Adds a customer and returns its account id (the caller checks for duplicates).
    pub fn add_customer(
        &mut self,
        email: &str,
        display_name: &str,
        time_zone: &str,
        now: OffsetDateTime,
    ) -> String {
        let account_id = customer_account_id(self.seed, "site", email);
        self.customers.insert(
            account_id.clone(),
            Customer {
                account_id: account_id.clone(),
                email: email.to_owned(),
                display_name: display_name.to_owned(),
                time_zone: time_zone.to_owned(),
                active: true,
                details: BTreeMap::new(),
                created: now,
            },
        );
        account_id
    }

    /// The customer with this e-mail address (case-insensitive).
    pub fn customer_by_email(&self, email: &str) -> Option<&Customer> {
        self.customers
            .values()
            .find(|c| c.email.eq_ignore_ascii_case(email))
    }

    /// Adds an organization and returns its id (the caller checks for duplicates).
    pub fn add_organization(&mut self, name: &str, now: OffsetDateTime) -> u64 {
        let id = self.next_org_id;
        self.next_org_id += 1;
        self.organizations.insert(
            id,
            Organization {
                id,
                uuid: derived_uuid(self.seed, &format!("organization\0{id}\0{name}")),
                name: name.to_owned(),
                created: now,
                members: BTreeSet::new(),
                details: BTreeMap::new(),
            },
        );
        id
    }

    /// The organization with this name (case-insensitive).
    pub fn organization_by_name(&self, name: &str) -> Option<&Organization> {
        self.organizations
            .values()
            .find(|o| o.name.eq_ignore_ascii_case(name))
    }

    /// Deletes a customer everywhere it is referenced.
    pub fn remove_customer(&mut self, account_id: &str) -> bool {
        if self.customers.remove(account_id).is_none() {
            return false;
        }
        for org in self.organizations.values_mut() {
            org.members.remove(account_id);
        }
        for sd in &mut self.service_desks {
            sd.customers.retain(|c| c != account_id);
        }
        self.csm.forget_customer(account_id);
        true
    }

    /// Deletes an organization everywhere it is referenced.
    pub fn remove_organization(&mut self, id: u64) -> bool {
        if self.organizations.remove(&id).is_none() {
            return false;
        }
        for sd in &mut self.service_desks {
            sd.organizations.retain(|o| *o != id);
        }
        self.csm.forget_organization(id);
        true
    }

    /// Resolves a `{serviceDeskId}` path value: `10`, `ABC`, `projectKey:ABC`, `projectId:10012`.
    pub fn service_desk_index(&self, id: &str) -> Option<usize> {
        let id = id.trim();
        if let Some(key) = id.strip_prefix("projectKey:") {
            return self
                .service_desks
                .iter()
                .position(|sd| sd.project_key.eq_ignore_ascii_case(key));
        }
        if let Some(pid) = id.strip_prefix("projectId:") {
            return self
                .service_desks
                .iter()
                .position(|sd| sd.project_id == pid);
        }
        if let Ok(n) = id.parse::<u64>() {
            return self.service_desks.iter().position(|sd| sd.id == n);
        }
        self.service_desks
            .iter()
            .position(|sd| sd.project_key.eq_ignore_ascii_case(id))
    }

    /// The next approval id.
    pub fn next_approval_id(&self) -> u64 {
        self.approvals.keys().next_back().map_or(1, |id| id + 1)
    }

    /// Approvals of a request, oldest first.
    pub fn approvals_of(&self, issue_id: u64) -> Vec<Approval> {
        self.approvals
            .values()
            .filter(|a| a.issue_id == issue_id)
            .cloned()
            .collect()
    }

    /// The meta of a request, created (with `request_type_id`) when the issue has none yet.
    pub fn request_meta(&mut self, issue_id: u64, request_type_id: u64) -> &mut RequestMeta {
        self.requests
            .entry(issue_id)
            .or_insert_with(|| RequestMeta {
                request_type_id,
                ..RequestMeta::default()
            })
    }

    /// Advances bulk tasks to `now` (see [`crate::csm`]).
    pub fn tick(&mut self, now: OffsetDateTime) {
        let due = self.csm.due_tasks(now);
        for task_id in due {
            crate::csm::bulk::run_task(self, &task_id, now);
        }
        self.csm.expire(now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn demo() -> SiteDesk {
        SiteDesk::seeded(1, DEFAULT_SITE, datetime!(2026-01-05 09:30 UTC))
    }

    #[test]
    fn service_desk_accepts_every_identifier_form() {
        let desk = demo();
        for id in ["1", "HELP", "help", "projectKey:HELP", "projectId:10003"] {
            assert_eq!(desk.service_desk_index(id), Some(0), "{id}");
        }
        for id in ["2", "NOPE", "projectKey:NOPE", "projectId:1"] {
            assert_eq!(desk.service_desk_index(id), None, "{id}");
        }
    }

    #[test]
    fn customer_ids_are_deterministic_and_customer_shaped() {
        let a = customer_account_id(1, "site", "Dana@Example.com");
        assert_eq!(a, customer_account_id(1, "site", "dana@example.com"));
        assert_ne!(a, customer_account_id(2, "site", "dana@example.com"));
        assert!(a.starts_with("qm:"));
        assert_eq!(a.split(':').count(), 3);
    }

    #[test]
    fn removing_a_customer_clears_memberships() {
        let mut desk = demo();
        let id = desk
            .customer_by_email("dana.lopez@customer.example")
            .map(|c| c.account_id.clone())
            .expect("seeded");
        assert!(desk.organizations[&1].members.contains(&id));
        assert!(desk.remove_customer(&id));
        assert!(!desk.organizations[&1].members.contains(&id));
        assert!(!desk.service_desks[0].customers.contains(&id));
        assert!(!desk.remove_customer(&id));
    }

    #[test]
    fn other_sites_have_the_desk_but_no_people() {
        let desk = SiteDesk::seeded(1, "acme", datetime!(2026-01-05 09:30 UTC));
        assert_eq!(desk.service_desks.len(), 1);
        assert!(desk.service_desks[0].customers.is_empty());
        assert!(desk.customers.is_empty());
        assert!(desk.organizations.is_empty());
        assert_eq!(desk.request_types.len(), 4);
    }
}
