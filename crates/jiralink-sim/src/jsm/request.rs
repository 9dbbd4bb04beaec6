//! Customer requests: `GET|POST /request`, `GET /request/{issueIdOrKey}`,
//! `GET|POST /request/{issueIdOrKey}/comment`, `GET /request/{issueIdOrKey}/comment/{commentId}`
//! and `GET /request/{issueIdOrKey}/status`.
//!
//! A request **is** an issue of a service desk's project, created and read through
//! [`crate::data`], so it is visible at `/rest/api/3/issue/{key}` at once, and every issue of the
//! project is a request. What Jira keeps in hidden fields (the request type, the participants)
//! lives in [`SiteDesk::requests`]; an issue raised elsewhere gets the first request type of the
//! desk with its issue type.
//!
//! * `requestFieldValues` take the portal's shapes: text for `summary`, `description` (wiki
//!   markup, stored as ADF) and text fields, `{"id"}`/`{"name"}`/`{"value"}` or a bare string for
//!   priorities and options, `YYYY-MM-DD` for dates. With `isAdfRequest: true` (experimental, so
//!   it needs `X-ExperimentalApi: opt-in`) rich-text fields take ADF documents instead.
//! * Field problems answer 400 with the JSM error body; `form` answers that break the form's
//!   rules answer **422** with `FormValidationErrorResponseDTO`.
//! * `GET /request` lists newest first. Without `requestOwnership` it applies Jira's default
//!   (`OWNED_REQUESTS`, `PARTICIPATED_REQUESTS`, `ALL_ORGANIZATIONS`); `ALL_REQUESTS` lists every
//!   request. A request belongs to the organizations its reporter is a member of.
//! * Comments: `public: false` adds an internal note. Every caller of the simulator is a
//!   licensed agent, so internal notes are listed; the customer view (public comments only) is
//!   what [`visible_comments`] gives a viewer who is not an agent.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use time::OffsetDateTime;

use crate::auth::Caller;
use crate::data::{self, DataError, FieldChange, Issue, NewComment, NewIssue, SiteData, adf};
use crate::errors::ApiError;
use crate::jsm::servicedesk::{api_base, request_type_json, service_desk_json};
use crate::jsm::store::{
    Approval, Customer, Decision, Form, HARDWARE_REQUEST_TYPE, Organization, QuestionKind,
    RequestMeta, RequestType, ServiceDesk, with_site,
};
use crate::jsm::{
    PREFIX, Paging, Params, bad_request, customer_dto, date_dto, not_found, page, page_window,
    parse_body, require_opt_in, site_user_dto,
};
use crate::state::SimState;

/// Largest `limit` for requests, comments and status history.
pub const MAX_LIMIT: usize = 100;

/// What a `CustomerRequestDTO` can expand.
pub const REQUEST_EXPANDS: &[&str] = &[
    "participant",
    "status",
    "sla",
    "requestType",
    "serviceDesk",
    "attachment",
    "action",
    "comment",
];

/// What a `CommentDTO` can expand.
pub const COMMENT_EXPANDS: &[&str] = &["attachment", "renderedBody"];

/// Property Jira sets on issues raised through the service-desk API.
pub const CHANNEL_PROPERTY: &str = "request.channel.type";

/// Routes of this module.
pub fn router() -> Router<SimState> {
    Router::new()
        .route(
            &format!("{PREFIX}/request"),
            get(list_requests).post(create_request),
        )
        .route(
            &format!("{PREFIX}/request/{{issueIdOrKey}}"),
            get(get_request),
        )
        .route(
            &format!("{PREFIX}/request/{{issueIdOrKey}}/comment"),
            get(list_comments).post(add_comment),
        )
        .route(
            &format!("{PREFIX}/request/{{issueIdOrKey}}/comment/{{commentId}}"),
            get(get_comment),
        )
        .route(
            &format!("{PREFIX}/request/{{issueIdOrKey}}/status"),
            get(status_history),
        )
}

/// A copy of the service-management data a request needs, taken so the desk lock is never held
/// together with the site data lock.
#[derive(Debug, Clone)]
pub(crate) struct DeskView {
    pub(crate) service_desks: Vec<ServiceDesk>,
    pub(crate) request_types: Vec<RequestType>,
    pub(crate) customers: BTreeMap<String, Customer>,
    pub(crate) organizations: BTreeMap<u64, Organization>,
    pub(crate) requests: BTreeMap<u64, RequestMeta>,
    pub(crate) approvals: BTreeMap<u64, Approval>,
}

impl DeskView {
    pub(crate) fn take(state: &SimState, caller: &Caller) -> Self {
        with_site(state, &caller.site, |desk| Self {
            service_desks: desk.service_desks.clone(),
            request_types: desk.request_types.clone(),
            customers: desk.customers.clone(),
            organizations: desk.organizations.clone(),
            requests: desk.requests.clone(),
            approvals: desk.approvals.clone(),
        })
    }

    /// The service desk whose project holds `issue`.
    pub(crate) fn desk_of(&self, issue: &Issue) -> Option<&ServiceDesk> {
        self.service_desks
            .iter()
            .find(|sd| sd.project_id == issue.project_id.to_string())
    }

    pub(crate) fn request_type(&self, sd: &ServiceDesk, issue: &Issue) -> Option<&RequestType> {
        let of_desk = || {
            self.request_types
                .iter()
                .filter(|rt| rt.service_desk_id == sd.id)
        };
        match self.requests.get(&issue.id) {
            Some(meta) => of_desk().find(|rt| rt.id == meta.request_type_id),
            None => of_desk()
                .find(|rt| rt.issue_type_id == issue.issue_type)
                .or_else(|| of_desk().next()),
        }
    }

    pub(crate) fn participants(&self, issue_id: u64) -> &[String] {
        self.requests
            .get(&issue_id)
            .map_or(&[], |m| m.participants.as_slice())
    }

    /// The meta of a request in this copy, created when the issue has none yet.
    pub(crate) fn request_meta_mut(
        &mut self,
        issue_id: u64,
        request_type_id: u64,
    ) -> &mut RequestMeta {
        self.requests
            .entry(issue_id)
            .or_insert_with(|| RequestMeta {
                request_type_id,
                ..RequestMeta::default()
            })
    }

    /// Organizations `account_id` is a member of.
    fn organizations_of(&self, account_id: &str) -> BTreeSet<u64> {
        self.organizations
            .values()
            .filter(|o| o.members.contains(account_id))
            .map(|o| o.id)
            .collect()
    }
}

/// Everything needed to render requests for one caller.
pub(crate) struct Render<'a> {
    pub(crate) state: &'a SimState,
    pub(crate) caller: &'a Caller,
    pub(crate) api: String,
    pub(crate) site_url: String,
    pub(crate) now: OffsetDateTime,
    pub(crate) desk: &'a DeskView,
    pub(crate) data: &'a SiteData,
}

pub(crate) fn at(ms: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

fn category_key(category: &str) -> &'static str {
    match category {
        "new" => "NEW",
        "indeterminate" => "INDETERMINATE",
        "done" => "DONE",
        _ => "UNDEFINED",
    }
}

impl Render<'_> {
    pub(crate) fn date(&self, ms: i64) -> Value {
        date_dto(at(ms), self.now, &self.caller.user.time_zone)
    }

    /// `UserDTO` of any account the site knows: a portal customer or a site user.
    pub(crate) fn person(&self, account_id: &str) -> Value {
        if let Some(c) = self.desk.customers.get(account_id) {
            return customer_dto(&self.caller.base, self.state, c);
        }
        match self.data.user(account_id) {
            Some(u) => site_user_dto(&self.caller.base, self.state, u),
            None => json!({ "accountId": account_id }),
        }
    }

    fn status_dto(&self, status_id: &str, since_ms: i64) -> Value {
        let catalog = self.data.catalog();
        let name = catalog
            .status(status_id)
            .map_or_else(|| status_id.to_owned(), |s| s.name.clone());
        json!({
            "status": name,
            "statusCategory": category_key(catalog.category_of(status_id)),
            "statusDate": self.date(since_ms),
        })
    }

    /// Statuses the issue went through, oldest first, each with the time it was reached.
    pub(crate) fn status_history(&self, issue: &Issue) -> Vec<(String, i64)> {
        let changes: Vec<(Option<String>, Option<String>, i64)> = issue
            .changelog
            .iter()
            .flat_map(|h| {
                h.items
                    .iter()
                    .filter(|i| i.field_id == "status")
                    .map(move |i| (i.from.clone(), i.to.clone(), h.created))
            })
            .collect();
        let first = changes
            .first()
            .and_then(|(from, _, _)| from.clone())
            .unwrap_or_else(|| issue.status.clone());
        let mut history = vec![(first, issue.created)];
        for (_, to, when) in changes {
            if let Some(to) = to {
                history.push((to, when));
            }
        }
        history
    }

    fn current_status(&self, issue: &Issue) -> Value {
        let since = self
            .status_history(issue)
            .last()
            .map_or(issue.created, |(_, t)| *t);
        self.status_dto(&issue.status, since)
    }

    fn field_value(&self, issue: &Issue, field_id: &str) -> Option<(Value, Option<Value>)> {
        let base = &self.caller.base;
        match field_id {
            "summary" => Some((Value::from(issue.summary.clone()), None)),
            "description" => issue.description.as_ref().map(|d| {
                (
                    Value::from(adf::to_wiki(d)),
                    Some(json!({ "html": adf::to_html(d) })),
                )
            }),
            "priority" => issue.priority.as_ref().map(|p| {
                let name = self
                    .data
                    .catalog()
                    .priority(p)
                    .map_or_else(|| p.clone(), |x| x.name.clone());
                (
                    json!({ "self": format!("{base}/rest/api/2/priority/{p}"), "name": name, "id": p }),
                    None,
                )
            }),
            "labels" => (!issue.labels.is_empty()).then(|| (json!(issue.labels), None)),
            other => {
                let id: u64 = other.strip_prefix("customfield_")?.parse().ok()?;
                let value = issue.custom.get(&id)?;
                let rendered = match value {
                    data::CustomValue::Option(o) => {
                        let label = self
                            .data
                            .catalog()
                            .custom_field(id)
                            .and_then(|f| f.option_by_id(o))
                            .map_or_else(|| o.clone(), |x| x.value.clone());
                        json!({
                            "self": format!("{base}/rest/api/2/customFieldOption/{o}"),
                            "value": label,
                            "id": o,
                        })
                    }
                    data::CustomValue::Rich(doc) => Value::from(adf::to_wiki(doc)),
                    _ => Value::from(self.data.custom_display(id, value)),
                };
                Some((rendered, None))
            }
        }
    }

    fn field_values(&self, issue: &Issue, rt: Option<&RequestType>) -> Vec<Value> {
        let Some(rt) = rt else {
            return vec![
                json!({ "fieldId": "summary", "label": "Summary", "value": issue.summary }),
            ];
        };
        rt.fields
            .iter()
            .filter(|f| f.visible)
            .filter_map(|f| {
                let (value, rendered) = self.field_value(issue, &f.field_id)?;
                let mut v = json!({ "fieldId": f.field_id, "label": f.name, "value": value });
                if let Some(r) = rendered {
                    v["renderedValue"] = r;
                }
                Some(v)
            })
            .collect()
    }

    pub(crate) fn people_page(&self, accounts: &[String], path: &str) -> Value {
        let values = accounts.iter().map(|a| self.person(a)).collect();
        page(
            values,
            Paging {
                start: 0,
                limit: crate::jsm::DEFAULT_LIMIT,
            },
            &self.api,
            path,
            &Params::default(),
            &[],
        )
    }

    fn request(&self, issue: &Issue, expand: &[String]) -> Value {
        let sd = self.desk.desk_of(issue);
        let rt = sd.and_then(|sd| self.desk.request_type(sd, issue));
        let sd_id = sd.map(|s| s.id).unwrap_or_default();
        let base = &self.caller.base;
        let reporter = issue.reporter.as_deref().unwrap_or_default();
        let mut v = json!({
            "_expands": REQUEST_EXPANDS,
            "issueId": issue.id.to_string(),
            "issueKey": issue.key,
            "summary": issue.summary,
            "requestTypeId": rt.map(|r| r.id.to_string()).unwrap_or_default(),
            "serviceDeskId": sd_id.to_string(),
            "createdDate": self.date(issue.created),
            "reporter": self.person(reporter),
            "requestFieldValues": self.field_values(issue, rt),
            "currentStatus": self.current_status(issue),
            "_links": {
                "jiraRest": format!("{base}/rest/api/2/issue/{}", issue.id),
                "web": format!("{}/servicedesk/customer/portal/{sd_id}/{}", self.site_url, issue.key),
                "agent": format!("{}/browse/{}", self.site_url, issue.key),
                "self": format!("{}/request/{}", self.api, issue.id),
            },
        });
        let wants = |e: &str| expand.iter().any(|x| x == e);
        let path = format!("/request/{}", issue.id);
        if wants("serviceDesk")
            && let Some(sd) = sd
        {
            v["serviceDesk"] = service_desk_json(&self.api, sd);
        }
        if wants("requestType")
            && let Some(rt) = rt
        {
            v["requestType"] = request_type_json(&self.api, base, rt, &[]);
        }
        if wants("participant") {
            v["participants"] = self.people_page(
                self.desk.participants(issue.id),
                &format!("{path}/participant"),
            );
        }
        if wants("status") {
            let values = self
                .status_history(issue)
                .iter()
                .map(|(s, t)| self.status_dto(s, *t))
                .collect();
            v["status"] = page(
                values,
                Paging {
                    start: 0,
                    limit: MAX_LIMIT,
                },
                &self.api,
                &format!("{path}/status"),
                &Params::default(),
                &[],
            );
        }
        if wants("sla") {
            v["sla"] = page(
                self.slas(issue),
                Paging {
                    start: 0,
                    limit: MAX_LIMIT,
                },
                &self.api,
                &format!("{path}/sla"),
                &Params::default(),
                &[],
            );
        }
        if wants("attachment") {
            v["attachments"] = self.attachments_page(issue, None);
        }
        if wants("action") {
            let yes = json!({ "allowed": true });
            v["actions"] = json!({
                "addAttachment": yes, "addComment": yes,
                "addParticipant": yes, "removeParticipant": yes,
            });
        }
        if wants("comment") {
            let values = visible_comments(issue, true, true, true)
                .map(|c| self.comment(issue, c, &[]))
                .collect();
            v["comments"] = page(
                values,
                Paging {
                    start: 0,
                    limit: MAX_LIMIT,
                },
                &self.api,
                &format!("{path}/comment"),
                &Params::default(),
                COMMENT_EXPANDS,
            );
        }
        v
    }

    pub(crate) fn comment(&self, issue: &Issue, c: &data::Comment, expand: &[String]) -> Value {
        let mut v = json!({
            "_expands": COMMENT_EXPANDS,
            "id": c.id.to_string(),
            "body": adf::to_wiki(&c.body),
            "public": c.jsd_public,
            "author": self.person(&c.author),
            "created": self.date(c.created),
            "_links": { "self": format!("{}/request/{}/comment/{}", self.api, issue.id, c.id) },
        });
        if expand.iter().any(|e| e == "renderedBody") {
            v["renderedBody"] = json!({ "html": adf::to_html(&c.body) });
        }
        if expand.iter().any(|e| e == "attachment") {
            v["attachments"] = self.attachments_page(issue, Some(c.id));
        }
        v
    }
}

/// The comments a viewer may see, oldest first: public ones when `public`, internal notes when
/// `internal` and the viewer is an agent (customers never see internal notes).
pub fn visible_comments(
    issue: &Issue,
    viewer_is_agent: bool,
    public: bool,
    internal: bool,
) -> impl Iterator<Item = &data::Comment> {
    issue.comments.iter().filter(move |c| {
        if c.jsd_public {
            public
        } else {
            internal && viewer_is_agent
        }
    })
}

/// Whether the caller works the queues. Portal customers have no credentials the simulator
/// accepts, so every authenticated caller is a licensed agent.
pub(crate) fn is_agent(caller: &Caller) -> bool {
    caller.site.members.contains(&caller.user.account_id)
}

pub(crate) fn request_not_found(id: &str) -> ApiError {
    not_found(&format!(
        "The request '{id}' does not exist or you do not have permission to see it."
    ))
}

/// Loads the issue behind `{issueIdOrKey}` when it belongs to a service desk.
pub(crate) fn find_request(
    desk: &DeskView,
    data: &SiteData,
    id: &str,
) -> Result<Arc<Issue>, ApiError> {
    data.issue(id.trim())
        .filter(|issue| desk.desk_of(issue).is_some())
        .ok_or_else(|| request_not_found(id))
}

fn jsm_error(status: StatusCode, message: &str, i18n_key: &str, parameters: &[String]) -> ApiError {
    ApiError::from_response(
        (
            status,
            Json(json!({
                "errorMessage": message,
                "i18nErrorMessage": { "i18nKey": i18n_key, "parameters": parameters },
            })),
        )
            .into_response(),
    )
}

/// 400 for request field values, in the wording of the portal's validation.
fn field_error(message: &str) -> ApiError {
    jsm_error(
        StatusCode::BAD_REQUEST,
        &format!(
            "Your request could not be created. Please check the fields have been correctly filled in. {message}"
        ),
        "sd.validation.request.creation.failure.required.field",
        &[message.to_owned()],
    )
}

/// One form answer that broke a rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormProblem {
    /// Question id.
    pub question: String,
    /// What is wrong.
    pub detail: String,
}

/// The 422 `FormValidationErrorResponseDTO`.
fn form_error(problems: &[FormProblem]) -> ApiError {
    let errors: Vec<Value> = problems
        .iter()
        .map(|p| {
            json!({
                "code": "VALIDATION_ERROR",
                "context": [{ "id": p.question, "type": "question" }],
                "detail": p.detail,
                "status": 422,
                "title": "Validation failed",
            })
        })
        .collect();
    ApiError::from_response(
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(json!({
                "errorMessage": "Invalid request",
                "errors": errors,
                "i18nErrorMessage": {
                    "i18nKey": "sd.request.create.error.proforma.form.validation.error",
                    "parameters": [],
                },
            })),
        )
            .into_response(),
    )
}

/// Why form answers were refused.
#[derive(Debug)]
pub enum FormRejection {
    /// The request is malformed (400).
    Request(ApiError),
    /// Answers broke the form's rules (422).
    Answers(Vec<FormProblem>),
}

/// Checks `form.answers` against the request type's form and returns the values of the Jira
/// fields the answers are linked to.
pub fn apply_form(
    form: Option<&Form>,
    answers: Option<&Value>,
) -> Result<Vec<(String, Value)>, FormRejection> {
    let Some(form) = form else {
        return match answers {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(_) => Err(FormRejection::Request(bad_request(
                "This request type does not have a form.",
            ))),
        };
    };
    let empty = Map::new();
    let answers = match answers.and_then(|f| f.get("answers")) {
        None | Some(Value::Null) => &empty,
        Some(Value::Object(m)) => m,
        Some(_) => {
            return Err(FormRejection::Request(bad_request(
                "'form.answers' must be an object.",
            )));
        }
    };
    if let Some(unknown) = answers
        .keys()
        .find(|k| !form.questions.iter().any(|q| &q.id == *k))
    {
        return Err(FormRejection::Answers(vec![FormProblem {
            question: unknown.clone(),
            detail: "The question does not exist on this form".to_owned(),
        }]));
    }
    let mut problems = Vec::new();
    let mut values = Vec::new();
    for q in &form.questions {
        let key = match q.kind {
            QuestionKind::Text => "text",
            QuestionKind::Date => "date",
        };
        let answer = answers
            .get(&q.id)
            .and_then(|a| a.get(key))
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|a| !a.is_empty());
        match answer {
            None if q.required => problems.push(FormProblem {
                question: q.id.clone(),
                detail: "The field is required".to_owned(),
            }),
            None => {}
            Some(a) if q.kind == QuestionKind::Date && !data::store::valid_date(a) => {
                problems.push(FormProblem {
                    question: q.id.clone(),
                    detail: "Enter a date in the format YYYY-MM-DD".to_owned(),
                });
            }
            Some(a) => values.push((q.linked_field.clone(), Value::from(a))),
        }
    }
    if problems.is_empty() {
        Ok(values)
    } else {
        Err(FormRejection::Answers(problems))
    }
}

fn id_of(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Object(m) => ["id", "name", "value"]
            .iter()
            .find_map(|k| m.get(*k).and_then(id_of)),
        _ => None,
    }
}

fn text_of(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Turns `requestFieldValues` into issue field changes, checking them against the request
/// type's fields. Returns the summary and the other changes.
pub fn field_changes(
    rt: &RequestType,
    values: &Map<String, Value>,
    adf_request: bool,
) -> Result<(String, Vec<FieldChange>), ApiError> {
    if let Some(unknown) = values
        .keys()
        .find(|k| !rt.fields.iter().any(|f| &f.field_id == *k))
    {
        return Err(field_error(&format!(
            "The field '{unknown}' is not part of the request type '{}'.",
            rt.name
        )));
    }
    let present = |v: &Value| match v {
        Value::Null => false,
        Value::String(s) => !s.trim().is_empty(),
        Value::Array(a) => !a.is_empty(),
        _ => true,
    };
    if let Some(missing) = rt
        .fields
        .iter()
        .find(|f| f.required && !values.get(&f.field_id).is_some_and(present))
    {
        return Err(field_error(&format!("{} is required.", missing.name)));
    }
    let mut summary = String::new();
    let mut changes = Vec::new();
    for f in &rt.fields {
        let Some(value) = values.get(&f.field_id).filter(|v| present(v)) else {
            continue;
        };
        let wrong = || field_error(&format!("The value of '{}' is not valid.", f.name));
        match (f.field_id.as_str(), f.schema.kind.as_str()) {
            ("summary", _) => summary = text_of(value).ok_or_else(wrong)?,
            ("description", _) => {
                let doc = if adf_request {
                    value.is_object().then(|| value.clone()).ok_or_else(wrong)?
                } else {
                    adf::from_wiki(&text_of(value).ok_or_else(wrong)?)
                };
                changes.push(FieldChange::Description(Some(doc)));
            }
            ("priority", _) => {
                changes.push(FieldChange::Priority(Some(id_of(value).ok_or_else(wrong)?)))
            }
            ("labels", _) => {
                let labels = value
                    .as_array()
                    .ok_or_else(wrong)?
                    .iter()
                    .map(text_of)
                    .collect::<Option<Vec<_>>>()
                    .ok_or_else(wrong)?;
                changes.push(FieldChange::Labels(labels));
            }
            (field, kind) => {
                let id: u64 = field
                    .strip_prefix("customfield_")
                    .and_then(|n| n.parse().ok())
                    .ok_or_else(wrong)?;
                let custom = match kind {
                    "option" => data::CustomValue::Option(id_of(value).ok_or_else(wrong)?),
                    "date" => data::CustomValue::Date(text_of(value).ok_or_else(wrong)?),
                    _ => data::CustomValue::Text(text_of(value).ok_or_else(wrong)?),
                };
                changes.push(FieldChange::Custom(id, Some(custom)));
            }
        }
    }
    Ok((summary, changes))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RequestCreate {
    service_desk_id: Option<Value>,
    request_type_id: Option<Value>,
    #[serde(default)]
    request_field_values: Map<String, Value>,
    #[serde(default)]
    request_participants: Vec<String>,
    raise_on_behalf_of: Option<String>,
    #[serde(default)]
    is_adf_request: bool,
    form: Option<Value>,
    #[serde(default)]
    channel: Option<String>,
}

/// The site user record a portal customer gets when they report or take part in a request, so
/// the issue can name them.
pub(crate) fn customer_as_site_user(c: &Customer) -> data::SiteUser {
    data::SiteUser {
        account_id: c.account_id.clone(),
        display_name: c.display_name.clone(),
        email: c.email.clone(),
        active: c.active,
        time_zone: c.time_zone.clone(),
        locale: "en_US".to_owned(),
    }
}

pub(crate) fn data_error(e: DataError) -> ApiError {
    match e {
        DataError::Fields(errors) => {
            let text = errors
                .iter()
                .map(|(_, m)| m.as_str())
                .collect::<Vec<_>>()
                .join(" ");
            field_error(&text)
        }
        DataError::IssueNotFound(id) => request_not_found(&id),
        DataError::LimitReached { .. } => ApiError::jsm(
            StatusCode::PAYLOAD_TOO_LARGE,
            &e.to_string(),
            "sd.public.api.error.limit.reached",
        ),
        other => bad_request(&other.to_string()),
    }
}

async fn create_request(
    State(state): State<SimState>,
    caller: Caller,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    caller.require_route(&Method::POST, "/rest/servicedeskapi/request")?;
    let input: RequestCreate = parse_body(&body)?;
    if input.is_adf_request {
        require_opt_in(&headers)?;
    }
    let sd_ref = input
        .service_desk_id
        .as_ref()
        .and_then(id_of)
        .ok_or_else(|| bad_request("The serviceDeskId is required."))?;
    let rt_ref = input
        .request_type_id
        .as_ref()
        .and_then(id_of)
        .ok_or_else(|| bad_request("The requestTypeId is required."))?;
    let desk = DeskView::take(&state, &caller);
    let sd = desk
        .service_desks
        .iter()
        .find(|sd| sd.id.to_string() == sd_ref.trim())
        .cloned()
        .ok_or_else(|| crate::jsm::servicedesk::service_desk_not_found(&sd_ref))?;
    let rt = desk
        .request_types
        .iter()
        .find(|rt| rt.service_desk_id == sd.id && rt.id.to_string() == rt_ref.trim())
        .cloned()
        .ok_or_else(|| {
            bad_request(&format!(
                "The request type '{rt_ref}' does not exist in service desk {}.",
                sd.id
            ))
        })?;
    let mut values = input.request_field_values.clone();
    match apply_form(rt.form.as_ref(), input.form.as_ref()) {
        Ok(linked) => {
            for (field, value) in linked {
                values.insert(field, value);
            }
        }
        Err(FormRejection::Request(e)) => return Err(e),
        Err(FormRejection::Answers(problems)) => return Err(form_error(&problems)),
    }
    let (summary, mut changes) = field_changes(&rt, &values, input.is_adf_request)?;

    let site = data::site(&state, &caller.site);
    let known = |account: &str, data: &SiteData| {
        desk.customers.contains_key(account) || data.user(account).is_some()
    };
    let mut people: Vec<&str> = input
        .request_participants
        .iter()
        .map(String::as_str)
        .collect();
    if let Some(r) = &input.raise_on_behalf_of {
        people.push(r);
    }
    {
        let data = site.read();
        if let Some(unknown) = people.iter().find(|a| !known(a, &data)) {
            return Err(bad_request(&format!(
                "The user '{unknown}' does not exist or cannot be added to requests."
            )));
        }
    }
    if let Some(r) = &input.raise_on_behalf_of {
        changes.push(FieldChange::Reporter(Some(r.clone())));
    }
    let now_ms = data::now_ms(&state);
    let mut properties = BTreeMap::new();
    properties.insert(
        CHANNEL_PROPERTY.to_owned(),
        json!({ "value": input.channel.as_deref().unwrap_or("api") }),
    );
    let created = {
        let mut data = site.write();
        for account in &people {
            if let Some(c) = desk.customers.get(*account) {
                data.add_user(customer_as_site_user(c));
            }
        }
        data.create_issue(
            NewIssue {
                project: sd.project_key.clone(),
                issue_type: rt.issue_type_id.clone(),
                summary,
                fields: changes,
                properties,
                status: None,
            },
            &caller.user.account_id,
            now_ms,
        )
        .map_err(data_error)?
    };
    let mut participants: Vec<String> = Vec::new();
    for p in &input.request_participants {
        if !participants.contains(p) {
            participants.push(p.clone());
        }
    }
    let meta = RequestMeta {
        request_type_id: rt.id,
        participants,
        ..RequestMeta::default()
    };
    let approvers = if rt.id == HARDWARE_REQUEST_TYPE {
        crate::jsm::approval::default_approvers(&state, &caller.site)
    } else {
        Vec::new()
    };
    let approval = with_site(&state, &caller.site, |d| {
        d.requests.insert(created.id, meta.clone());
        crate::jsm::approval::open_approval(d, created.id, &approvers, now_ms)
    });
    let mut desk = desk;
    desk.requests.insert(created.id, meta);
    if let Some(a) = approval {
        desk.approvals.insert(a.id, a);
    }
    let data = site.read();
    let issue = data
        .issue_by_id(created.id)
        .ok_or_else(|| request_not_found(&created.key))?;
    let r = renderer(&state, &caller, &desk, &data);
    Ok((StatusCode::CREATED, Json(r.request(&issue, &[]))).into_response())
}

pub(crate) fn renderer<'a>(
    state: &'a SimState,
    caller: &'a Caller,
    desk: &'a DeskView,
    data: &'a SiteData,
) -> Render<'a> {
    Render {
        state,
        caller,
        api: api_base(caller),
        site_url: state.site_url(&caller.site),
        now: state.now(),
        desk,
        data,
    }
}

/// Which requests `GET /request` lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ownership {
    Owned,
    Participated,
    Organization,
    AllOrganizations,
    Approver,
    All,
}

fn ownership(params: &Params) -> Result<Vec<Ownership>, ApiError> {
    let given = params.all("requestOwnership");
    if given.is_empty() {
        return Ok(vec![
            Ownership::Owned,
            Ownership::Participated,
            Ownership::AllOrganizations,
        ]);
    }
    given
        .iter()
        .map(|v| match v.to_ascii_uppercase().as_str() {
            "OWNED_REQUESTS" => Ok(Ownership::Owned),
            "PARTICIPATED_REQUESTS" => Ok(Ownership::Participated),
            "ORGANIZATION" => Ok(Ownership::Organization),
            "ALL_ORGANIZATIONS" => Ok(Ownership::AllOrganizations),
            "APPROVER" => Ok(Ownership::Approver),
            "ALL_REQUESTS" => Ok(Ownership::All),
            other => Err(bad_request(&format!(
                "'{other}' is not a valid value for requestOwnership."
            ))),
        })
        .collect()
}

async fn list_requests(
    State(state): State<SimState>,
    caller: Caller,
    params: Params,
) -> Result<Json<Value>, ApiError> {
    caller.require_route(&Method::GET, "/rest/servicedeskapi/request")?;
    let paging = params.paging(MAX_LIMIT)?;
    let owners = ownership(&params)?;
    let open = match params
        .get("requestStatus")
        .map(str::to_ascii_uppercase)
        .as_deref()
    {
        None | Some("" | "ALL_REQUESTS") => None,
        Some("OPEN_REQUESTS") => Some(true),
        Some("CLOSED_REQUESTS") => Some(false),
        Some(other) => {
            return Err(bad_request(&format!(
                "'{other}' is not a valid value for requestStatus."
            )));
        }
    };
    // Only meaningful for the requests the caller approves, as Jira documents.
    let approval_filter = match params
        .get("approvalStatus")
        .map(str::to_ascii_uppercase)
        .as_deref()
    {
        None | Some("") => None,
        Some("MY_PENDING_APPROVAL") => Some(true),
        Some("MY_HISTORY_APPROVAL") => Some(false),
        Some(other) => {
            return Err(bad_request(&format!(
                "'{other}' is not a valid value for approvalStatus."
            )));
        }
    }
    .filter(|_| owners.contains(&Ownership::Approver));
    let desk_filter = params.int("serviceDeskId")?;
    let type_filter = params.int("requestTypeId")?;
    if type_filter.is_some() && desk_filter.is_none() {
        return Err(bad_request(
            "The serviceDeskId must be given to filter by requestTypeId.",
        ));
    }
    let org_filter = params.int("organizationId")?;
    let search = params
        .get("searchTerm")
        .map(|s| s.replace(['*', '?'], " ").trim().to_lowercase())
        .filter(|s| !s.is_empty());
    let expand = params.all("expand");
    let desk = DeskView::take(&state, &caller);
    let desks: Vec<&ServiceDesk> = match desk_filter {
        None => desk.service_desks.iter().collect(),
        Some(id) => {
            let found = desk
                .service_desks
                .iter()
                .find(|sd| i64::try_from(sd.id).ok() == Some(id))
                .ok_or_else(|| crate::jsm::servicedesk::service_desk_not_found(&id.to_string()))?;
            vec![found]
        }
    };
    let me = caller.user.account_id.clone();
    let my_orgs = desk.organizations_of(&me);
    if let Some(org) = org_filter
        && !my_orgs.iter().any(|o| i64::try_from(*o).ok() == Some(org))
        && owners.contains(&Ownership::Organization)
    {
        return Err(bad_request(
            "You must be a member of the organization to list its requests.",
        ));
    }
    let site = data::site(&state, &caller.site);
    let data = site.read();
    let catalog = data.catalog();
    let project_ids: Vec<u64> = desks
        .iter()
        .filter_map(|sd| sd.project_id.parse().ok())
        .collect();
    let mut matches: Vec<Arc<Issue>> = data
        .issue_ids()
        .filter_map(|id| data.issue_by_id(id))
        .filter(|issue| project_ids.contains(&issue.project_id))
        .filter(|issue| {
            owners.iter().any(|o| match o {
                Ownership::All => true,
                Ownership::Owned => issue.reporter.as_deref() == Some(&me),
                Ownership::Participated => desk.participants(issue.id).contains(&me),
                Ownership::Approver => desk.approvals.values().any(|a| {
                    a.issue_id == issue.id && a.approvers.iter().any(|p| p.account_id == me)
                }),
                Ownership::AllOrganizations | Ownership::Organization => {
                    let reporter_orgs =
                        desk.organizations_of(issue.reporter.as_deref().unwrap_or_default());
                    match (o, org_filter) {
                        (Ownership::Organization, Some(org)) => reporter_orgs
                            .iter()
                            .any(|r| i64::try_from(*r).ok() == Some(org)),
                        (Ownership::Organization, None) => false,
                        _ => !reporter_orgs.is_disjoint(&my_orgs),
                    }
                }
            })
        })
        .filter(|issue| {
            approval_filter.is_none_or(|pending| {
                desk.approvals.values().any(|a| {
                    a.issue_id == issue.id
                        && if pending {
                            crate::jsm::approval::can_answer(a, &me)
                        } else {
                            a.approvers
                                .iter()
                                .any(|p| p.account_id == me && p.decision != Decision::Pending)
                        }
                })
            })
        })
        .filter(|issue| match open {
            None => true,
            Some(want_open) => (catalog.category_of(&issue.status) != "done") == want_open,
        })
        .filter(|issue| {
            type_filter.is_none_or(|t| {
                desk.desk_of(issue)
                    .and_then(|sd| desk.request_type(sd, issue))
                    .is_some_and(|rt| i64::try_from(rt.id).ok() == Some(t))
            })
        })
        .filter(|issue| {
            search
                .as_ref()
                .is_none_or(|q| issue.summary.to_lowercase().contains(q.as_str()))
        })
        .collect();
    matches.sort_by(|a, b| b.created.cmp(&a.created).then(b.id.cmp(&a.id)));
    let r = renderer(&state, &caller, &desk, &data);
    let items: Vec<Value> = matches
        .iter()
        .skip(paging.start)
        .take(paging.limit)
        .map(|issue| r.request(issue, &expand))
        .collect();
    Ok(Json(page_window(
        matches.len(),
        items,
        paging,
        &r.api,
        "/request",
        &params,
        &[],
    )))
}

async fn get_request(
    State(state): State<SimState>,
    caller: Caller,
    Path(id): Path<String>,
    params: Params,
) -> Result<Json<Value>, ApiError> {
    caller.require_route(&Method::GET, "/rest/servicedeskapi/request/{issueIdOrKey}")?;
    let desk = DeskView::take(&state, &caller);
    let site = data::site(&state, &caller.site);
    let data = site.read();
    let issue = find_request(&desk, &data, &id)?;
    let r = renderer(&state, &caller, &desk, &data);
    Ok(Json(r.request(&issue, &params.all("expand"))))
}

async fn status_history(
    State(state): State<SimState>,
    caller: Caller,
    Path(id): Path<String>,
    params: Params,
) -> Result<Json<Value>, ApiError> {
    caller.require_route(
        &Method::GET,
        "/rest/servicedeskapi/request/{issueIdOrKey}/status",
    )?;
    let paging = params.paging(MAX_LIMIT)?;
    let desk = DeskView::take(&state, &caller);
    let site = data::site(&state, &caller.site);
    let data = site.read();
    let issue = find_request(&desk, &data, &id)?;
    let r = renderer(&state, &caller, &desk, &data);
    let values = r
        .status_history(&issue)
        .iter()
        .map(|(s, t)| r.status_dto(s, *t))
        .collect();
    Ok(Json(page(
        values,
        paging,
        &r.api,
        &format!("/request/{}/status", issue.id),
        &params,
        &[],
    )))
}

async fn list_comments(
    State(state): State<SimState>,
    caller: Caller,
    Path(id): Path<String>,
    params: Params,
) -> Result<Json<Value>, ApiError> {
    caller.require_route(
        &Method::GET,
        "/rest/servicedeskapi/request/{issueIdOrKey}/comment",
    )?;
    let paging = params.paging(MAX_LIMIT)?;
    let public = params.bool("public")?.unwrap_or(true);
    let internal = params.bool("internal")?.unwrap_or(true);
    let expand = params.all("expand");
    let desk = DeskView::take(&state, &caller);
    let site = data::site(&state, &caller.site);
    let data = site.read();
    let issue = find_request(&desk, &data, &id)?;
    let r = renderer(&state, &caller, &desk, &data);
    let values = visible_comments(&issue, is_agent(&caller), public, internal)
        .map(|c| r.comment(&issue, c, &expand))
        .collect();
    Ok(Json(page(
        values,
        paging,
        &r.api,
        &format!("/request/{}/comment", issue.id),
        &params,
        COMMENT_EXPANDS,
    )))
}

async fn get_comment(
    State(state): State<SimState>,
    caller: Caller,
    Path((id, comment_id)): Path<(String, String)>,
    params: Params,
) -> Result<Json<Value>, ApiError> {
    caller.require_route(
        &Method::GET,
        "/rest/servicedeskapi/request/{issueIdOrKey}/comment/{commentId}",
    )?;
    let desk = DeskView::take(&state, &caller);
    let site = data::site(&state, &caller.site);
    let data = site.read();
    let issue = find_request(&desk, &data, &id)?;
    let r = renderer(&state, &caller, &desk, &data);
    let comment = visible_comments(&issue, is_agent(&caller), true, true)
        .find(|c| c.id.to_string() == comment_id.trim())
        .ok_or_else(|| {
            not_found(&format!(
                "The comment '{comment_id}' does not exist on this request."
            ))
        })?;
    Ok(Json(r.comment(&issue, comment, &params.all("expand"))))
}

#[derive(Debug, Deserialize)]
struct CommentCreate {
    body: Option<String>,
    public: Option<bool>,
}

async fn add_comment(
    State(state): State<SimState>,
    caller: Caller,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    caller.require_route(
        &Method::POST,
        "/rest/servicedeskapi/request/{issueIdOrKey}/comment",
    )?;
    let input: CommentCreate = parse_body(&body)?;
    let public = input
        .public
        .ok_or_else(|| bad_request("The 'public' property is required."))?;
    let text = input
        .body
        .map(|b| b.trim().to_owned())
        .filter(|b| !b.is_empty())
        .ok_or_else(|| bad_request("The comment body cannot be empty."))?;
    let desk = DeskView::take(&state, &caller);
    let site = data::site(&state, &caller.site);
    let issue_id = {
        let data = site.read();
        find_request(&desk, &data, &id)?.id
    };
    state.check_issue_write(&caller.site, &issue_id.to_string())?;
    let now_ms = data::now_ms(&state);
    let comment = site
        .write()
        .add_comment(
            issue_id,
            NewComment {
                body: adf::from_wiki(&text),
                visibility: None,
                public,
            },
            &caller.user.account_id,
            now_ms,
        )
        .map_err(data_error)?;
    let data = site.read();
    let issue = data
        .issue_by_id(issue_id)
        .ok_or_else(|| request_not_found(&id))?;
    let r = renderer(&state, &caller, &desk, &data);
    Ok((StatusCode::CREATED, Json(r.comment(&issue, &comment, &[]))).into_response())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::jsm::store::{FieldOption, FieldSchema, FormQuestion, RequestTypeField};

    fn rt() -> RequestType {
        let f = |id: &str, kind: &str, required: bool| RequestTypeField {
            field_id: id.to_owned(),
            name: format!("Label of {id}"),
            description: String::new(),
            required,
            visible: true,
            schema: FieldSchema {
                kind: kind.to_owned(),
                system: None,
                custom: None,
                custom_id: None,
            },
            valid_values: vec![FieldOption {
                value: "1".to_owned(),
                label: "One".to_owned(),
            }],
        };
        RequestType {
            id: 9,
            service_desk_id: 1,
            name: "Test".to_owned(),
            description: String::new(),
            help_text: String::new(),
            issue_type_id: "10005".to_owned(),
            group_ids: Vec::new(),
            icon_id: String::new(),
            fields: vec![
                f("summary", "string", true),
                f("description", "string", false),
                f("priority", "priority", false),
                f("customfield_10011", "option", false),
                f("customfield_10017", "date", false),
            ],
            form: None,
        }
    }

    fn values(v: &Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn field_values_become_issue_changes() {
        let (summary, changes) = field_changes(
            &rt(),
            &values(&json!({
                "summary": "Laptop",
                "description": "I need a *new* one",
                "priority": {"id": "2"},
                "customfield_10011": {"value": "Platform"},
                "customfield_10017": "2026-02-01",
            })),
            false,
        )
        .expect("valid");
        assert_eq!(summary, "Laptop");
        assert_eq!(
            changes[0],
            FieldChange::Description(Some(adf::from_wiki("I need a *new* one")))
        );
        assert_eq!(changes[1], FieldChange::Priority(Some("2".to_owned())));
        assert_eq!(
            changes[2],
            FieldChange::Custom(
                10011,
                Some(data::CustomValue::Option("Platform".to_owned()))
            )
        );
        assert_eq!(
            changes[3],
            FieldChange::Custom(
                10017,
                Some(data::CustomValue::Date("2026-02-01".to_owned()))
            )
        );
    }

    #[test]
    fn missing_unknown_and_malformed_fields_are_refused() {
        let t = rt();
        assert!(field_changes(&t, &values(&json!({"description": "x"})), false).is_err());
        assert!(field_changes(&t, &values(&json!({"summary": "  "})), false).is_err());
        assert!(
            field_changes(
                &t,
                &values(&json!({"summary": "x", "customfield_1": "y"})),
                false
            )
            .is_err()
        );
        assert!(
            field_changes(
                &t,
                &values(&json!({"summary": "x", "description": "text"})),
                true
            )
            .is_err(),
            "an ADF request needs ADF descriptions"
        );
        let doc = adf::from_wiki("rich");
        let (_, changes) = field_changes(
            &t,
            &values(&json!({"summary": "x", "description": doc.clone()})),
            true,
        )
        .expect("ADF accepted");
        assert_eq!(changes, vec![FieldChange::Description(Some(doc))]);
    }

    #[test]
    fn forms_require_answers_and_fill_linked_fields() {
        let form = Form {
            questions: vec![
                FormQuestion {
                    id: "1".to_owned(),
                    label: "Name".to_owned(),
                    kind: QuestionKind::Text,
                    required: true,
                    linked_field: "summary".to_owned(),
                },
                FormQuestion {
                    id: "2".to_owned(),
                    label: "Day".to_owned(),
                    kind: QuestionKind::Date,
                    required: false,
                    linked_field: "customfield_10017".to_owned(),
                },
            ],
        };
        let ok = apply_form(
            Some(&form),
            Some(&json!({"answers": {"1": {"text": "Ann"}, "2": {"date": "2026-03-02"}}})),
        )
        .expect("valid");
        assert_eq!(
            ok,
            vec![
                ("summary".to_owned(), json!("Ann")),
                ("customfield_10017".to_owned(), json!("2026-03-02"))
            ]
        );
        let Err(FormRejection::Answers(problems)) = apply_form(
            Some(&form),
            Some(&json!({"answers": {"2": {"date": "tomorrow"}}})),
        ) else {
            panic!("expected form problems");
        };
        assert_eq!(
            problems
                .iter()
                .map(|p| p.question.as_str())
                .collect::<Vec<_>>(),
            vec!["1", "2"]
        );
        assert!(matches!(
            apply_form(None, Some(&json!({"answers": {}}))),
            Err(FormRejection::Request(_))
        ));
        assert_eq!(apply_form(None, None).expect("no form"), Vec::new());
    }

    #[test]
    fn customers_never_see_internal_notes() {
        let note = |id: u64, public: bool| data::Comment {
            id,
            author: "a".to_owned(),
            update_author: "a".to_owned(),
            body: adf::from_wiki("x"),
            created: 0,
            updated: 0,
            visibility: None,
            jsd_public: public,
        };
        let issue = Issue {
            comments: vec![note(1, true), note(2, false)],
            ..test_issue()
        };
        let ids = |agent, public, internal| {
            visible_comments(&issue, agent, public, internal)
                .map(|c| c.id)
                .collect::<Vec<_>>()
        };
        assert_eq!(ids(true, true, true), vec![1, 2]);
        assert_eq!(ids(false, true, true), vec![1]);
        assert_eq!(ids(true, false, true), vec![2]);
        assert_eq!(ids(true, true, false), vec![1]);
    }

    pub(crate) fn test_issue() -> Issue {
        Issue {
            id: 1,
            key: "HELP-1".to_owned(),
            project_id: 10003,
            issue_type: "10005".to_owned(),
            status: "10003".to_owned(),
            summary: "s".to_owned(),
            description: None,
            environment: None,
            priority: None,
            resolution: None,
            labels: Vec::new(),
            components: Vec::new(),
            fix_versions: Vec::new(),
            assignee: None,
            reporter: None,
            creator: None,
            created: 0,
            updated: 0,
            resolution_date: None,
            status_category_changed: 0,
            due_date: None,
            parent: None,
            custom: BTreeMap::new(),
            comments: Vec::new(),
            worklogs: Vec::new(),
            changelog: Vec::new(),
            properties: BTreeMap::new(),
            sprints: Vec::new(),
            tracking: crate::data::Tracking::default(),
            versions: Vec::new(),
        }
    }
}
