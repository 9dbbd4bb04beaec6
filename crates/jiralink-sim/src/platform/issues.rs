//! Issues: `GET|PUT|DELETE /issue/{k}`, `POST /issue`, `POST /issue/bulk`,
//! `POST /issue/bulkfetch`, `GET|POST /issue/{k}/transitions`, `/issue/{k}/properties[/{key}]`,
//! `GET /issue/createmeta/{project}/issuetypes[/{typeId}]` and `GET /issue/{k}/editmeta`.
//!
//! Field values are read in Jira's shapes (`{"id":…}`/`{"name":…}`/`{"key":…}` references,
//! `{"accountId":…}` users, ADF in v3 and wiki markup in v2 for rich text) and `update` takes
//! the verbs `set`, `add`, `remove` (and `edit` for comments is not supported). Only the fields
//! of the create/edit screen of the issue's project and type can be set; others answer Jira's
//! "cannot be set. It is not on the appropriate screen, or unknown." error.

use std::collections::BTreeMap;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use serde_json::{Map, Value, json};

use super::fields::{DefaultFields, Selection};
use super::json::{Obj, push_array};
use super::params::{self, Params, data_error, issue_not_found};
use super::render::{Expand, IssueOptions, Render};
use super::{ApiVersion, versioned};
use crate::auth::Caller;
use crate::data::generate::{fields as cf, types};
use crate::data::{
    self, CustomKind, CustomValue, DataError, FieldChange, Issue, NewComment, NewIssue, SiteData,
    adf,
};
use crate::errors::ApiError;
use crate::state::SimState;

/// Most issues `POST /issue/bulk` creates.
pub const MAX_BULK_CREATE: usize = 50;
/// Most issues `POST /issue/bulkfetch` returns.
pub const MAX_BULK_FETCH: usize = 100;
/// Most histories embedded by `expand=changelog` on single reads.
pub const CHANGELOG_CAP: usize = 100;
/// Most histories embedded by `expand=changelog` in bulk fetch.
pub const BULK_CHANGELOG_CAP: usize = 40;

/// Custom fields on the screens of a project type and issue type.
pub fn screen_custom_fields(project_type: &str, issue_type: &str) -> Vec<u64> {
    match project_type {
        "software" => {
            let mut f = vec![cf::TEAM, cf::PLATFORMS, cf::REVIEWER, cf::TAGS];
            if matches!(issue_type, types::STORY | types::BUG) {
                f.insert(0, cf::STORY_POINTS);
            }
            if issue_type == types::STORY {
                f.push(cf::ACCEPTANCE);
            }
            f
        }
        "business" => vec![cf::TEAM, cf::REGION, cf::TARGET_DATE],
        _ => vec![cf::CUSTOMER_REF, cf::REGION],
    }
}

/// System fields on the create and edit screens.
const SCREEN_SYSTEM: &[&str] = &[
    "summary",
    "issuetype",
    "description",
    "reporter",
    "assignee",
    "priority",
    "labels",
    "components",
    "fixVersions",
    "versions",
    "duedate",
    "parent",
    "environment",
    "timetracking",
];

/// Fields a request may set on an issue of `project` and `issue_type`.
fn on_screen(data: &SiteData, project_id: u64, issue_type: &str, field: &str) -> bool {
    let Some(project) = data.catalog().project(project_id) else {
        return false;
    };
    if field == crate::agile::model::SPRINT_FIELD {
        return crate::agile::sprint::on_screen(data, project, issue_type);
    }
    if let Some(id) = field
        .strip_prefix("customfield_")
        .and_then(|n| n.parse::<u64>().ok())
    {
        return screen_custom_fields(&project.project_type_key, issue_type).contains(&id);
    }
    match field {
        "components" => !project.components.is_empty(),
        "fixVersions" | "versions" => !project.versions.is_empty(),
        "environment" => issue_type == types::BUG || issue_type == types::INCIDENT,
        "timetracking" => project.project_type_key != "service_desk",
        _ => SCREEN_SYSTEM.contains(&field),
    }
}

fn reference(value: &Value, keys: &[&str]) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Object(o) => keys.iter().find_map(|k| match o.get(*k) {
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        }),
        _ => None,
    }
}

fn rich(version: ApiVersion, value: &Value) -> Result<Option<Value>, String> {
    match (value, version) {
        (Value::Null, _) => Ok(None),
        (Value::String(s), ApiVersion::V2) => Ok(Some(adf::from_wiki(s))),
        (v, ApiVersion::V3) if adf::is_doc(v) => Ok(Some(v.clone())),
        (_, ApiVersion::V3) => Err(
            "Operation value must be an Atlassian Document (see the Atlassian Document Format)"
                .to_owned(),
        ),
        (_, ApiVersion::V2) => Err("Operation value must be a string".to_owned()),
    }
}

fn strings(value: &Value, keys: &[&str]) -> Result<Vec<String>, String> {
    match value {
        Value::Null => Ok(Vec::new()),
        Value::Array(items) => items
            .iter()
            .map(|i| reference(i, keys).ok_or_else(|| "Invalid value in the list.".to_owned()))
            .collect(),
        _ => Err("Operation value must be an array.".to_owned()),
    }
}

/// The list value of a multi-valued field on `issue`.
fn current_list(issue: Option<&Issue>, field: &str) -> Vec<String> {
    let Some(issue) = issue else {
        return Vec::new();
    };
    match field {
        "labels" => issue.labels.clone(),
        "components" => issue.components.clone(),
        "fixVersions" => issue.fix_versions.clone(),
        "versions" => issue.versions.clone(),
        f => match f
            .strip_prefix("customfield_")
            .and_then(|n| n.parse::<u64>().ok())
            .and_then(|id| issue.custom.get(&id))
        {
            Some(CustomValue::Options(os)) => os.clone(),
            Some(CustomValue::Labels(ls)) => ls.clone(),
            _ => Vec::new(),
        },
    }
}

/// One field's value → a change.
fn change_for(
    data: &SiteData,
    version: ApiVersion,
    field: &str,
    value: &Value,
) -> Result<FieldChange, String> {
    let optional = |keys: &[&str]| -> Result<Option<String>, String> {
        if value.is_null() {
            return Ok(None);
        }
        reference(value, keys)
            .map(Some)
            .ok_or_else(|| format!("Could not find valid 'id' or 'name' in {field} object."))
    };
    Ok(match field {
        "summary" => FieldChange::Summary(
            value
                .as_str()
                .ok_or_else(|| "Operation value must be a string".to_owned())?
                .to_owned(),
        ),
        "description" => FieldChange::Description(rich(version, value)?),
        "environment" => FieldChange::Environment(rich(version, value)?),
        "issuetype" => FieldChange::IssueType(
            optional(&["id", "name"])?.ok_or_else(|| "Specify an issue type".to_owned())?,
        ),
        "priority" => FieldChange::Priority(optional(&["id", "name"])?),
        "assignee" => FieldChange::Assignee(optional(&["accountId", "id"])?),
        "reporter" => FieldChange::Reporter(optional(&["accountId", "id"])?),
        "labels" => FieldChange::Labels(strings(value, &[])?),
        "components" => FieldChange::Components(strings(value, &["id", "name"])?),
        "fixVersions" => FieldChange::FixVersions(strings(value, &["id", "name"])?),
        "versions" => FieldChange::AffectsVersions(strings(value, &["id", "name"])?),
        "duedate" => FieldChange::DueDate(optional(&[])?),
        "parent" => FieldChange::Parent(optional(&["key", "id"])?),
        "resolution" => FieldChange::Resolution(optional(&["id", "name"])?),
        crate::agile::model::SPRINT_FIELD => {
            FieldChange::Sprint(crate::agile::sprint::sprint_value(data, value)?)
        }
        "timetracking" => super::tracking::timetracking_change(value)?,
        other => {
            let id = other
                .strip_prefix("customfield_")
                .and_then(|n| n.parse::<u64>().ok())
                .ok_or_else(|| cannot_set(other))?;
            let kind = data
                .catalog()
                .custom_field(id)
                .map(|f| f.kind)
                .ok_or_else(|| cannot_set(other))?;
            if value.is_null() {
                return Ok(FieldChange::Custom(id, None));
            }
            let v = match kind {
                CustomKind::Select => CustomValue::Option(
                    reference(value, &["id", "value"]).ok_or("Specify a valid 'id' or 'value'")?,
                ),
                CustomKind::MultiSelect => CustomValue::Options(strings(value, &["id", "value"])?),
                CustomKind::Cascading => {
                    let parent = reference(value, &["id", "value"])
                        .ok_or("Specify a valid 'id' or 'value' for the parent option")?;
                    let child = value
                        .get("child")
                        .and_then(|c| reference(c, &["id", "value"]));
                    CustomValue::Cascade(parent, child)
                }
                CustomKind::User => CustomValue::User(
                    reference(value, &["accountId", "id"]).ok_or("Specify a valid 'accountId'")?,
                ),
                CustomKind::Text => CustomValue::Text(
                    value
                        .as_str()
                        .ok_or("Operation value must be a string")?
                        .to_owned(),
                ),
                CustomKind::TextArea => match rich(version, value)? {
                    Some(doc) => CustomValue::Rich(doc),
                    None => return Ok(FieldChange::Custom(id, None)),
                },
                CustomKind::Number => {
                    CustomValue::Number(value.as_f64().ok_or("Operation value must be a number")?)
                }
                CustomKind::Date => CustomValue::Date(
                    value
                        .as_str()
                        .ok_or("Operation value must be a string")?
                        .to_owned(),
                ),
                CustomKind::Labels => CustomValue::Labels(strings(value, &[])?),
            };
            FieldChange::Custom(id, Some(v))
        }
    })
}

fn cannot_set(field: &str) -> String {
    format!("Field '{field}' cannot be set. It is not on the appropriate screen, or unknown.")
}

/// `fields` + `update` of an `IssueUpdateDetails`, read against the site.
#[derive(Debug, Default)]
struct Parsed {
    project: Option<String>,
    issue_type: Option<String>,
    summary: Option<String>,
    changes: Vec<FieldChange>,
    comments: Vec<Value>,
    /// `update.issuelinks` `add` operations.
    links: Vec<super::links::LinkAdd>,
    errors: Vec<(String, String)>,
}

fn parse_update(
    data: &SiteData,
    version: ApiVersion,
    body: &Map<String, Value>,
    issue: Option<&Issue>,
) -> Parsed {
    let mut p = Parsed::default();
    let empty = Map::new();
    let fields = match body.get("fields") {
        None | Some(Value::Null) => &empty,
        Some(Value::Object(f)) => f,
        Some(_) => {
            p.errors
                .push(("fields".to_owned(), params::INVALID_PAYLOAD.to_owned()));
            return p;
        }
    };
    let update = match body.get("update") {
        None | Some(Value::Null) => &empty,
        Some(Value::Object(u)) => u,
        Some(_) => {
            p.errors
                .push(("update".to_owned(), params::INVALID_PAYLOAD.to_owned()));
            return p;
        }
    };
    let project_id = match (issue, fields.get("project")) {
        (Some(i), _) => Some(i.project_id),
        (None, Some(v)) => reference(v, &["id", "key"])
            .and_then(|r| data.project_by_key_or_id(&r))
            .map(|pr| pr.id),
        (None, None) => None,
    };
    let type_id = fields
        .get("issuetype")
        .and_then(|v| reference(v, &["id", "name"]))
        .and_then(|t| data.catalog().issue_type(&t))
        .map(|t| t.id.clone())
        .or_else(|| issue.map(|i| i.issue_type.clone()));
    let screen = |field: &str| match (project_id, &type_id) {
        (Some(pid), Some(tid)) => on_screen(data, pid, tid, field),
        // Without a valid project or type the field cannot be judged; those errors come first.
        _ => true,
    };
    for (field, value) in fields {
        if update.contains_key(field) {
            p.errors.push((
                field.clone(),
                format!("Field '{field}' cannot be set in both 'fields' and 'update'."),
            ));
            continue;
        }
        match field.as_str() {
            "project" if issue.is_none() => {
                p.project = Some(reference(value, &["id", "key"]).unwrap_or_default());
            }
            "issuetype" if issue.is_none() => {
                p.issue_type = Some(reference(value, &["id", "name"]).unwrap_or_default());
            }
            "summary" if issue.is_none() => match value.as_str() {
                Some(s) => p.summary = Some(s.to_owned()),
                None => p.errors.push((
                    "summary".to_owned(),
                    "Operation value must be a string".to_owned(),
                )),
            },
            f if !screen(f) => p.errors.push((f.to_owned(), cannot_set(f))),
            f => match change_for(data, version, f, value) {
                Ok(c) => p.changes.push(c),
                Err(e) => p.errors.push((f.to_owned(), e)),
            },
        }
    }
    for (field, ops) in update {
        let Some(ops) = ops.as_array() else {
            p.errors
                .push((field.clone(), params::INVALID_PAYLOAD.to_owned()));
            continue;
        };
        if field == "comment" {
            for op in ops {
                match op.get("add").and_then(|a| a.get("body")) {
                    Some(body) => match rich(version, body) {
                        Ok(Some(doc)) => p.comments.push(doc),
                        Ok(None) => {}
                        Err(e) => p.errors.push(("comment".to_owned(), e)),
                    },
                    None => p.errors.push((
                        "comment".to_owned(),
                        "Only the 'add' operation with a 'body' is supported for comments."
                            .to_owned(),
                    )),
                }
            }
            continue;
        }
        if field == "issuelinks" {
            for op in ops {
                match super::links::parse_link_add(data, op) {
                    Ok(add) if issue.is_some_and(|i| i.id == add.other()) => p.errors.push((
                        "issuelinks".to_owned(),
                        "You cannot link an issue to itself.".to_owned(),
                    )),
                    Ok(add) => p.links.push(add),
                    Err(e) => p.errors.push(("issuelinks".to_owned(), e)),
                }
            }
            continue;
        }
        if !screen(field) {
            p.errors.push((field.clone(), cannot_set(field)));
            continue;
        }
        if field == "timetracking" {
            for op in ops {
                match op.get("edit").or_else(|| op.get("set")) {
                    Some(arg) => match super::tracking::timetracking_change(arg) {
                        Ok(c) => p.changes.push(c),
                        Err(e) => p.errors.push((field.clone(), e)),
                    },
                    None => p.errors.push((
                        field.clone(),
                        "The operation is not supported by the field 'timetracking'; use 'edit' or 'set'.".to_owned(),
                    )),
                }
            }
            continue;
        }
        let is_list = matches!(
            field.as_str(),
            "labels" | "components" | "fixVersions" | "versions"
        ) || field
            .strip_prefix("customfield_")
            .and_then(|n| n.parse::<u64>().ok())
            .and_then(|id| data.catalog().custom_field(id))
            .is_some_and(|f| matches!(f.kind, CustomKind::MultiSelect | CustomKind::Labels));
        let mut list = current_list(issue, field);
        let mut set_value: Option<Value> = None;
        let mut ok = true;
        for op in ops {
            let Some((verb, arg)) = op.as_object().and_then(|o| o.iter().next()) else {
                ok = false;
                break;
            };
            match (verb.as_str(), is_list) {
                ("set", _) => {
                    set_value = Some(arg.clone());
                    if is_list {
                        match strings(arg, &["id", "name", "value"]) {
                            Ok(l) => list = l,
                            Err(e) => {
                                p.errors.push((field.clone(), e));
                                ok = false;
                            }
                        }
                    }
                }
                ("add", true) => {
                    if let Some(r) = reference(arg, &["id", "name", "value"])
                        && !list.contains(&r)
                    {
                        list.push(r);
                    }
                }
                ("remove", true) => {
                    if let Some(r) = reference(arg, &["id", "name", "value"]) {
                        let named = resolve_named(data, issue, field, &r);
                        list.retain(|x| *x != r && Some(x) != named.as_ref());
                    }
                }
                (verb, _) => {
                    p.errors.push((
                        field.clone(),
                        format!("The operation '{verb}' is not supported by the field '{field}'."),
                    ));
                    ok = false;
                }
            }
        }
        if !ok {
            continue;
        }
        let value = if is_list {
            Value::Array(list.into_iter().map(Value::String).collect())
        } else {
            set_value.unwrap_or(Value::Null)
        };
        match change_for(data, version, field, &value) {
            Ok(c) => p.changes.push(c),
            Err(e) => p.errors.push((field.clone(), e)),
        }
    }
    p
}

/// For `remove` by name: the id a component/version/option name stands for.
fn resolve_named(
    data: &SiteData,
    issue: Option<&Issue>,
    field: &str,
    name: &str,
) -> Option<String> {
    let project = data.catalog().project(issue?.project_id)?;
    match field {
        "components" => project
            .components
            .iter()
            .find(|c| c.name.eq_ignore_ascii_case(name))
            .map(|c| c.id.clone()),
        "fixVersions" | "versions" => project
            .versions
            .iter()
            .find(|v| v.name == name)
            .map(|v| v.id.clone()),
        f => {
            let id = f.strip_prefix("customfield_")?.parse::<u64>().ok()?;
            data.catalog()
                .custom_field(id)?
                .option(name)
                .map(|o| o.id.clone())
        }
    }
}

fn properties_of(body: &Map<String, Value>) -> Result<BTreeMap<String, Value>, (String, String)> {
    let mut out = BTreeMap::new();
    match body.get("properties") {
        None | Some(Value::Null) => {}
        Some(Value::Array(items)) => {
            for item in items {
                let key = item
                    .get("key")
                    .and_then(Value::as_str)
                    .filter(|k| !k.is_empty() && k.len() <= 255)
                    .ok_or_else(|| {
                        (
                            "properties".to_owned(),
                            "Property key must be between 1 and 255 characters.".to_owned(),
                        )
                    })?;
                out.insert(
                    key.to_owned(),
                    item.get("value").cloned().unwrap_or(Value::Null),
                );
            }
        }
        Some(_) => return Err(("properties".to_owned(), params::INVALID_PAYLOAD.to_owned())),
    }
    Ok(out)
}

/// Adds the public comments an `update.comment` list asked for, as `author`.
fn add_update_comments(
    site: &mut SiteData,
    id: u64,
    comments: Vec<Value>,
    author: &str,
    now: i64,
) -> Result<(), DataError> {
    for body in comments {
        let comment = NewComment {
            body,
            visibility: None,
            public: true,
        };
        site.add_comment(id, comment, author, now)?;
    }
    Ok(())
}

/// Creates one issue from an `IssueUpdateDetails` body; returns `CreatedIssue` JSON.
fn create_one(
    state: &SimState,
    caller: &Caller,
    version: ApiVersion,
    body: &Value,
) -> Result<Value, DataError> {
    let Some(body) = body.as_object() else {
        return Err(DataError::Invalid(params::INVALID_PAYLOAD.to_owned()));
    };
    let entry = data::site(state, &caller.site);
    let now = data::now_ms(state);
    let mut site = entry.write();
    let parsed = parse_update(&site, version, body, None);
    let mut errors = parsed.errors;
    let properties = match properties_of(body) {
        Ok(p) => p,
        Err(e) => {
            errors.push(e);
            BTreeMap::new()
        }
    };
    let new = NewIssue {
        project: parsed.project.unwrap_or_default(),
        issue_type: parsed.issue_type.unwrap_or_default(),
        summary: parsed.summary.unwrap_or_default(),
        fields: parsed.changes,
        properties,
        status: None,
    };
    if !errors.is_empty() {
        if let Err(DataError::Fields(mut more)) =
            site.validate_new_issue(new, &caller.user.account_id, now)
        {
            errors.append(&mut more);
        }
        return Err(DataError::Fields(dedup(errors)));
    }
    let created = site.create_issue(new, &caller.user.account_id, now)?;
    add_update_comments(
        &mut site,
        created.id,
        parsed.comments,
        &caller.user.account_id,
        now,
    )?;
    super::links::apply_link_adds(
        &mut site,
        created.id,
        parsed.links,
        &caller.user.account_id,
        now,
    )?;
    let mut out = json!({
        "id": created.id.to_string(),
        "key": created.key,
        "self": format!("{}/rest/api/{}/issue/{}", caller.base, version.segment(), created.id),
    });
    if let Some(t) = body.get("transition").and_then(|t| reference(t, &["id"])) {
        match site.transition_issue(created.id, &t, Vec::new(), &caller.user.account_id, now) {
            Ok(_) => {
                out["transition"] = json!({ "status": 204, "errorCollection": { "errorMessages": [], "errors": {} } })
            }
            Err(e) => {
                out["transition"] = json!({
                    "status": 400,
                    "errorCollection": { "errorMessages": [e.to_string()], "errors": {} }
                });
            }
        }
    }
    Ok(out)
}

fn dedup(errors: Vec<(String, String)>) -> Vec<(String, String)> {
    let mut seen = BTreeMap::new();
    for (k, v) in errors {
        seen.entry(k).or_insert(v);
    }
    seen.into_iter().collect()
}

async fn create_issue(
    State(state): State<SimState>,
    version: ApiVersion,
    caller: Caller,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    caller.require("createIssue")?;
    let body: Value = params::body(&bytes)?;
    // Validation and creation happen under one write lock, so a rejected body never half-writes.
    let created = create_one(&state, &caller, version, &body).map_err(data_error)?;
    Ok(params::value(StatusCode::CREATED, &created, 0))
}

async fn create_bulk(
    State(state): State<SimState>,
    version: ApiVersion,
    caller: Caller,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    caller.require("createIssues")?;
    let body: Value = params::body(&bytes)?;
    let Some(updates) = body.get("issueUpdates").and_then(Value::as_array) else {
        return Err(ApiError::platform_bad_request(params::INVALID_PAYLOAD));
    };
    if updates.len() > MAX_BULK_CREATE {
        return Err(ApiError::platform_bad_request(&format!(
            "You can create at most {MAX_BULK_CREATE} issues in one request; this one has {}.",
            updates.len()
        )));
    }
    let mut issues = Vec::new();
    let mut errors = Vec::new();
    for (n, update) in updates.iter().enumerate() {
        match create_one(&state, &caller, version, update) {
            Ok(created) => issues.push(created),
            Err(e) => {
                let (messages, fields, status) = match e {
                    DataError::Fields(f) => (Vec::new(), f, 400),
                    DataError::LimitReached { .. } => (vec![e.to_string()], Vec::new(), 413),
                    other => (vec![other.to_string()], Vec::new(), 400),
                };
                let fields: Map<String, Value> = fields
                    .into_iter()
                    .map(|(k, v)| (k, Value::String(v)))
                    .collect();
                errors.push(json!({
                    "status": status,
                    "elementErrors": { "errorMessages": messages, "errors": fields },
                    "failedElementNumber": n,
                }));
            }
        }
    }
    let status = if issues.is_empty() && !updates.is_empty() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::CREATED
    };
    Ok(params::value(
        status,
        &json!({ "issues": issues, "errors": errors }),
        0,
    ))
}

/// Field metadata (`FieldMetadata`) of a field for an issue of `project` and `type`.
fn field_meta(
    render: &Render<'_>,
    project_id: u64,
    type_id: &str,
    field: &str,
    creating: bool,
) -> Option<Value> {
    let data = render.data;
    let project = data.catalog().project(project_id)?;
    let def = render.fields.iter().find(|f| f.id == field)?;
    let api = &render.api;
    let subtask = data
        .catalog()
        .issue_type(type_id)
        .is_some_and(|t| t.subtask);
    let required = match field {
        "summary" | "issuetype" | "project" => true,
        "parent" => subtask,
        "reporter" => false,
        _ => false,
    };
    let mut operations: Vec<&str> = vec!["set"];
    if def.items.is_some() {
        operations = vec!["add", "set", "remove"];
    }
    if field == "timetracking" {
        operations = vec!["set", "edit"];
    }
    // Jira takes one sprint on the screens even though the field lists every sprint.
    if field == crate::agile::model::SPRINT_FIELD {
        operations = vec!["set"];
    }
    let mut meta = json!({
        "required": required,
        "schema": def.schema().unwrap_or_else(|| json!({ "type": "issuelink", "system": field })),
        "name": def.name,
        "key": def.id,
        "operations": operations,
        "hasDefaultValue": matches!(field, "priority" | "reporter" | "issuetype"),
    });
    if creating {
        meta["fieldId"] = json!(def.id);
    }
    let allowed: Option<Vec<Value>> = match field {
        "priority" => Some(
            data.catalog()
                .priorities
                .iter()
                .map(|p| json!({ "self": format!("{api}/priority/{}", p.id), "id": p.id, "name": p.name }))
                .collect(),
        ),
        "issuetype" => Some(
            project
                .issue_type_ids
                .iter()
                .filter_map(|t| data.catalog().issue_type(t))
                .map(|t| json!({ "self": format!("{api}/issuetype/{}", t.id), "id": t.id, "name": t.name, "subtask": t.subtask }))
                .collect(),
        ),
        "components" => Some(
            project
                .components
                .iter()
                .map(|c| json!({ "self": format!("{api}/component/{}", c.id), "id": c.id, "name": c.name }))
                .collect(),
        ),
        "fixVersions" | "versions" => Some(
            project
                .versions
                .iter()
                .map(|v| json!({ "self": format!("{api}/version/{}", v.id), "id": v.id, "name": v.name, "released": v.released, "archived": v.archived }))
                .collect(),
        ),
        "project" => Some(vec![json!({ "self": format!("{api}/project/{}", project.id), "id": project.id.to_string(), "key": project.key, "name": project.name })]),
        f => f
            .strip_prefix("customfield_")
            .and_then(|n| n.parse::<u64>().ok())
            .and_then(|id| data.catalog().custom_field(id))
            .filter(|cf| !cf.options.is_empty())
            .map(|cf| {
                cf.options
                    .iter()
                    .map(|o| {
                        let mut v = json!({ "self": format!("{api}/customFieldOption/{}", o.id), "value": o.value, "id": o.id });
                        if !o.children.is_empty() {
                            v["children"] = json!(o.children.iter().map(|c| json!({ "self": format!("{api}/customFieldOption/{}", c.id), "value": c.value, "id": c.id })).collect::<Vec<_>>());
                        }
                        v
                    })
                    .collect()
            }),
    };
    if let Some(allowed) = allowed {
        meta["allowedValues"] = Value::Array(allowed);
    }
    if matches!(field, "assignee" | "reporter" | "customfield_10014") {
        meta["autoCompleteUrl"] = json!(format!("{api}/user/search?query="));
    }
    Some(meta)
}

/// Fields on the screen of `project` × `type`, in screen order.
fn screen_fields(data: &SiteData, project_id: u64, type_id: &str, creating: bool) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    if creating {
        out.push("project".to_owned());
    }
    for f in SCREEN_SYSTEM {
        if on_screen(data, project_id, type_id, f) {
            out.push((*f).to_owned());
        }
    }
    if let Some(project) = data.catalog().project(project_id) {
        out.extend(
            screen_custom_fields(&project.project_type_key, type_id)
                .into_iter()
                .map(|id| format!("customfield_{id}")),
        );
    }
    if on_screen(data, project_id, type_id, crate::agile::model::SPRINT_FIELD) {
        out.push(crate::agile::model::SPRINT_FIELD.to_owned());
    }
    out
}

/// The `IssueUpdateMetadata` of an issue (`editmeta`).
pub fn edit_meta(render: &Render<'_>, issue: &Issue) -> Value {
    let mut fields = Map::new();
    for f in screen_fields(render.data, issue.project_id, &issue.issue_type, false) {
        if let Some(meta) = field_meta(render, issue.project_id, &issue.issue_type, &f, false) {
            fields.insert(f, meta);
        }
    }
    fields.insert(
        "comment".to_owned(),
        json!({
            "required": false,
            "schema": { "type": "comments-page", "system": "comment" },
            "name": "Comment", "key": "comment", "operations": ["add", "edit", "remove"],
            "hasDefaultValue": false,
        }),
    );
    json!({ "fields": fields })
}

fn expand_of(params: &Params) -> Expand {
    Expand::parse(&params.list("expand"))
}

fn issue_properties(params: &Params, issue: &Issue) -> Vec<String> {
    let requested = params.list("properties");
    if requested.iter().any(|p| p == "*all") {
        return issue.properties.keys().cloned().collect();
    }
    requested
        .into_iter()
        .filter(|p| !p.starts_with('-'))
        .collect()
}

async fn get_issue(
    State(state): State<SimState>,
    version: ApiVersion,
    caller: Caller,
    Path(key): Path<String>,
    params: Params,
) -> Result<Response, ApiError> {
    caller.require("getIssue")?;
    let entry = data::site(&state, &caller.site);
    let site = entry.read();
    let issue = site.issue(&key).ok_or_else(issue_not_found)?;
    let selection = Selection::parse(&params.list("fields"), DefaultFields::All);
    let properties = issue_properties(&params, &issue);
    let render = Render::for_caller(&site, &caller, state.base_url(), version);
    let opts = IssueOptions {
        selection: &selection,
        expand: expand_of(&params),
        properties: &properties,
        changelog_cap: CHANGELOG_CAP,
        comment_cap: usize::MAX,
        names_inside: true,
    };
    let mut out = String::new();
    render.issue(&mut out, &issue, &opts);
    Ok(params::json(StatusCode::OK, out, 1))
}

async fn edit_issue(
    State(state): State<SimState>,
    version: ApiVersion,
    caller: Caller,
    Path(key): Path<String>,
    params: Params,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    caller.require("editIssue")?;
    let return_issue = params.bool("returnIssue", false)?;
    let _ = params.bool("notifyUsers", true)?;
    let body: Value = params::body(&bytes)?;
    let body = body
        .as_object()
        .ok_or_else(|| ApiError::platform_bad_request(params::INVALID_PAYLOAD))?;
    let entry = data::site(&state, &caller.site);
    let id = entry.read().resolve(&key).ok_or_else(issue_not_found)?;
    state.check_issue_write(&caller.site, &id.to_string())?;
    let now = data::now_ms(&state);
    let mut site = entry.write();
    let current = site.issue_by_id(id).ok_or_else(issue_not_found)?;
    let parsed = parse_update(&site, version, body, Some(&current));
    let mut errors = parsed.errors;
    let properties = properties_of(body).unwrap_or_else(|e| {
        errors.push(e);
        BTreeMap::new()
    });
    if !errors.is_empty() {
        return Err(data_error(DataError::Fields(dedup(errors))));
    }
    if !parsed.changes.is_empty() {
        site.edit_issue(id, parsed.changes, &caller.user.account_id, now)
            .map_err(data_error)?;
    }
    add_update_comments(&mut site, id, parsed.comments, &caller.user.account_id, now)
        .map_err(data_error)?;
    super::links::apply_link_adds(&mut site, id, parsed.links, &caller.user.account_id, now)
        .map_err(data_error)?;
    for (k, v) in properties {
        site.set_property(id, &k, v, now).map_err(data_error)?;
    }
    if !return_issue {
        return Ok(params::no_content());
    }
    let issue = site.issue_by_id(id).ok_or_else(issue_not_found)?;
    let selection = Selection::parse(&[], DefaultFields::All);
    let render = Render::for_caller(&site, &caller, state.base_url(), version);
    let mut out = String::new();
    render.issue(
        &mut out,
        &issue,
        &IssueOptions {
            selection: &selection,
            expand: expand_of(&params),
            properties: &[],
            changelog_cap: CHANGELOG_CAP,
            comment_cap: usize::MAX,
            names_inside: true,
        },
    );
    Ok(params::json(StatusCode::OK, out, 0))
}

async fn delete_issue(
    State(state): State<SimState>,
    caller: Caller,
    Path(key): Path<String>,
    params: Params,
) -> Result<Response, ApiError> {
    caller.require("deleteIssue")?;
    let delete_subtasks = params.bool("deleteSubtasks", false)?;
    let entry = data::site(&state, &caller.site);
    let id = entry.read().resolve(&key).ok_or_else(issue_not_found)?;
    state.check_issue_write(&caller.site, &id.to_string())?;
    let now = data::now_ms(&state);
    entry
        .write()
        .delete_issue(id, delete_subtasks, &caller.user.account_id, now)
        .map_err(data_error)?;
    Ok(params::no_content())
}

async fn bulk_fetch(
    State(state): State<SimState>,
    version: ApiVersion,
    caller: Caller,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    caller.require("bulkFetchIssues")?;
    let body: Value = params::body(&bytes)?;
    let ids: Vec<String> = match body.get("issueIdsOrKeys") {
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| {
                reference(i, &[])
                    .ok_or_else(|| ApiError::platform_bad_request(params::INVALID_PAYLOAD))
            })
            .collect::<Result<_, _>>()?,
        _ => {
            return Err(ApiError::platform(
                StatusCode::BAD_REQUEST,
                &[],
                &[("issueIdsOrKeys", "The 'issueIdsOrKeys' list is required.")],
            ));
        }
    };
    if ids.is_empty() || ids.len() > MAX_BULK_FETCH {
        return Err(ApiError::platform_bad_request(&format!(
            "The 'issueIdsOrKeys' list must contain between 1 and {MAX_BULK_FETCH} issue ids or keys."
        )));
    }
    let list = |key: &str| -> Vec<String> {
        body.get(key)
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    let properties = list("properties");
    if properties.len() > 5 {
        return Err(ApiError::platform_bad_request(
            "Only 5 issue properties can be requested at a time.",
        ));
    }
    let selection = Selection::parse(&list("fields"), DefaultFields::Navigable);
    let expand = Expand::parse(&list("expand"));
    let entry = data::site(&state, &caller.site);
    let site = entry.read();
    // Jira leaves missing and forbidden issues out silently; `issueErrors` stays empty so a
    // client cannot probe which keys exist.
    let mut found: Vec<_> = ids.iter().filter_map(|r| site.issue(r)).collect();
    found.sort_by_key(|i| i.id);
    found.dedup_by_key(|i| i.id);
    let render = Render::for_caller(&site, &caller, state.base_url(), version);
    let opts = IssueOptions {
        selection: &selection,
        expand,
        properties: &properties,
        changelog_cap: BULK_CHANGELOG_CAP,
        comment_cap: usize::MAX,
        names_inside: true,
    };
    let mut out = String::new();
    let mut o = Obj::new(&mut out);
    push_array(o.key("issues"), &found, |out, issue| {
        render.issue(out, issue, &opts)
    });
    o.value("issueErrors", &Value::Array(Vec::new()));
    o.end();
    Ok(params::json(StatusCode::OK, out, found.len() as u64))
}

async fn get_transitions(
    State(state): State<SimState>,
    version: ApiVersion,
    caller: Caller,
    Path(key): Path<String>,
    params: Params,
) -> Result<Response, ApiError> {
    caller.require("getTransitions")?;
    let entry = data::site(&state, &caller.site);
    let site = entry.read();
    let issue = site.issue(&key).ok_or_else(issue_not_found)?;
    let with_fields = params
        .list("expand")
        .iter()
        .any(|e| e == "transitions.fields");
    let only = params.get("transitionId").map(str::to_owned);
    let render = Render::for_caller(&site, &caller, state.base_url(), version);
    let mut list = String::new();
    render.transitions(&mut list, &issue, with_fields);
    let mut all: Value = serde_json::from_str(&list).unwrap_or(Value::Array(Vec::new()));
    if let (Some(only), Some(items)) = (only, all.as_array_mut()) {
        items.retain(|t| t["id"] == only.as_str());
    }
    Ok(params::value(
        StatusCode::OK,
        &json!({ "expand": "transitions", "transitions": all }),
        1,
    ))
}

async fn do_transition(
    State(state): State<SimState>,
    version: ApiVersion,
    caller: Caller,
    Path(key): Path<String>,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    caller.require("doTransition")?;
    let body: Value = params::body(&bytes)?;
    let body = body
        .as_object()
        .ok_or_else(|| ApiError::platform_bad_request(params::INVALID_PAYLOAD))?;
    let Some(transition) = body.get("transition").and_then(|t| reference(t, &["id"])) else {
        return Err(ApiError::platform_bad_request(
            "Missing 'transition' identifier.",
        ));
    };
    let entry = data::site(&state, &caller.site);
    let id = entry.read().resolve(&key).ok_or_else(issue_not_found)?;
    state.check_issue_write(&caller.site, &id.to_string())?;
    let now = data::now_ms(&state);
    let mut site = entry.write();
    let current = site.issue_by_id(id).ok_or_else(issue_not_found)?;
    let mut fields_only = body.clone();
    fields_only.remove("transition");
    // The resolution is on every transition screen into a done status.
    let mut resolution = None;
    if let Some(Value::Object(f)) = fields_only.get_mut("fields") {
        resolution = f.remove("resolution");
    }
    let parsed = parse_update(&site, version, &fields_only, Some(&current));
    let mut changes = parsed.changes;
    let mut errors = parsed.errors;
    if let Some(r) = resolution {
        match change_for(&site, version, "resolution", &r) {
            Ok(c) => changes.push(c),
            Err(e) => errors.push(("resolution".to_owned(), e)),
        }
    }
    if !errors.is_empty() {
        return Err(data_error(DataError::Fields(dedup(errors))));
    }
    site.transition_issue(id, &transition, changes, &caller.user.account_id, now)
        .map_err(data_error)?;
    add_update_comments(&mut site, id, parsed.comments, &caller.user.account_id, now)
        .map_err(data_error)?;
    Ok(params::no_content())
}

async fn property_keys(
    State(state): State<SimState>,
    version: ApiVersion,
    caller: Caller,
    Path(key): Path<String>,
) -> Result<Response, ApiError> {
    caller.require("getIssuePropertyKeys")?;
    let entry = data::site(&state, &caller.site);
    let site = entry.read();
    let issue = site.issue(&key).ok_or_else(issue_not_found)?;
    let keys: Vec<Value> = issue
        .properties
        .keys()
        .map(|k| {
            json!({
                "key": k,
                "self": format!("{}/rest/api/{}/issue/{}/properties/{k}", caller.base, version.segment(), issue.id),
            })
        })
        .collect();
    Ok(params::value(StatusCode::OK, &json!({ "keys": keys }), 0))
}

fn property_not_found(key: &str) -> ApiError {
    ApiError::platform(
        StatusCode::NOT_FOUND,
        &[&format!("The property with key '{key}' does not exist.")],
        &[],
    )
}

async fn get_property(
    State(state): State<SimState>,
    caller: Caller,
    Path((key, property)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    caller.require("getIssueProperty")?;
    let entry = data::site(&state, &caller.site);
    let site = entry.read();
    let issue = site.issue(&key).ok_or_else(issue_not_found)?;
    let value = issue
        .properties
        .get(&property)
        .ok_or_else(|| property_not_found(&property))?;
    Ok(params::value(
        StatusCode::OK,
        &json!({ "key": property, "value": value }),
        0,
    ))
}

/// Largest property value Jira stores (32,768 bytes).
pub const MAX_PROPERTY_BYTES: usize = 32_768;

async fn set_property(
    State(state): State<SimState>,
    caller: Caller,
    Path((key, property)): Path<(String, String)>,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    caller.require("setIssueProperty")?;
    if property.is_empty() || property.len() > 255 {
        return Err(ApiError::platform_bad_request(
            "The property key must be between 1 and 255 characters.",
        ));
    }
    if bytes.len() > MAX_PROPERTY_BYTES {
        return Err(ApiError::platform_bad_request(&format!(
            "The property value can be at most {MAX_PROPERTY_BYTES} bytes."
        )));
    }
    let value: Value = params::body(&bytes)?;
    let entry = data::site(&state, &caller.site);
    let id = entry.read().resolve(&key).ok_or_else(issue_not_found)?;
    state.check_issue_write(&caller.site, &id.to_string())?;
    let now = data::now_ms(&state);
    let created = entry
        .write()
        .set_property(id, &property, value, now)
        .map_err(data_error)?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok(params::json(status, String::new(), 0))
}

async fn delete_property(
    State(state): State<SimState>,
    caller: Caller,
    Path((key, property)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    caller.require("deleteIssueProperty")?;
    let entry = data::site(&state, &caller.site);
    let id = entry.read().resolve(&key).ok_or_else(issue_not_found)?;
    state.check_issue_write(&caller.site, &id.to_string())?;
    let now = data::now_ms(&state);
    match entry.write().delete_property(id, &property, now) {
        Ok(()) => Ok(params::no_content()),
        Err(DataError::ItemNotFound(_)) => Err(property_not_found(&property)),
        Err(e) => Err(data_error(e)),
    }
}

async fn createmeta_types(
    State(state): State<SimState>,
    version: ApiVersion,
    caller: Caller,
    Path(project): Path<String>,
    params: Params,
) -> Result<Response, ApiError> {
    caller.require("getCreateIssueMetaIssueTypes")?;
    let (start, max) = params::page(&params, 50, 200)?;
    let entry = data::site(&state, &caller.site);
    let site = entry.read();
    let project = params::project_or_404(&site, &project)?;
    let render = Render::for_caller(&site, &caller, state.base_url(), version);
    let all: Vec<Value> = project
        .issue_type_ids
        .iter()
        .filter_map(|t| site.catalog().issue_type(t))
        .map(|t| {
            let mut s = String::new();
            render.issue_type(&mut s, &t.id);
            serde_json::from_str(&s).unwrap_or(Value::Null)
        })
        .collect();
    let total = all.len();
    let page: Vec<Value> = all.into_iter().skip(start).take(max).collect();
    Ok(params::value(
        StatusCode::OK,
        &json!({ "issueTypes": page, "maxResults": max, "startAt": start, "total": total }),
        0,
    ))
}

async fn createmeta_fields(
    State(state): State<SimState>,
    version: ApiVersion,
    caller: Caller,
    Path((project, type_id)): Path<(String, String)>,
    params: Params,
) -> Result<Response, ApiError> {
    caller.require("getCreateIssueMetaIssueTypeId")?;
    let (start, max) = params::page(&params, 50, 200)?;
    let entry = data::site(&state, &caller.site);
    let site = entry.read();
    let project = params::project_or_404(&site, &project)?;
    if !project.issue_type_ids.contains(&type_id) {
        return Err(ApiError::platform(
            StatusCode::NOT_FOUND,
            &["The issue type does not exist or is not valid for the project."],
            &[],
        ));
    }
    let render = Render::for_caller(&site, &caller, state.base_url(), version);
    let all: Vec<Value> = screen_fields(&site, project.id, &type_id, true)
        .iter()
        .filter_map(|f| field_meta(&render, project.id, &type_id, f, true))
        .collect();
    let total = all.len();
    let page: Vec<Value> = all.into_iter().skip(start).take(max).collect();
    Ok(params::value(
        StatusCode::OK,
        &json!({ "fields": page, "maxResults": max, "startAt": start, "total": total }),
        0,
    ))
}

async fn editmeta(
    State(state): State<SimState>,
    version: ApiVersion,
    caller: Caller,
    Path(key): Path<String>,
) -> Result<Response, ApiError> {
    caller.require("getEditIssueMeta")?;
    let entry = data::site(&state, &caller.site);
    let site = entry.read();
    let issue = site.issue(&key).ok_or_else(issue_not_found)?;
    let render = Render::for_caller(&site, &caller, state.base_url(), version);
    Ok(params::value(
        StatusCode::OK,
        &edit_meta(&render, &issue),
        0,
    ))
}

/// Routes of this module.
pub fn router() -> Router<SimState> {
    let mut r = Router::new();
    r = versioned(r, "/issue", &post(create_issue));
    r = versioned(r, "/issue/bulk", &post(create_bulk));
    r = versioned(r, "/issue/bulkfetch", &post(bulk_fetch));
    r = versioned(
        r,
        "/issue/{key}",
        &get(get_issue).put(edit_issue).delete(delete_issue),
    );
    r = versioned(
        r,
        "/issue/{key}/transitions",
        &get(get_transitions).post(do_transition),
    );
    r = versioned(r, "/issue/{key}/properties", &get(property_keys));
    r = versioned(
        r,
        "/issue/{key}/properties/{property}",
        &get(get_property).put(set_property).delete(delete_property),
    );
    r = versioned(
        r,
        "/issue/createmeta/{project}/issuetypes",
        &get(createmeta_types),
    );
    r = versioned(
        r,
        "/issue/createmeta/{project}/issuetypes/{type_id}",
        &get(createmeta_fields),
    );
    versioned(r, "/issue/{key}/editmeta", &get(editmeta))
}
