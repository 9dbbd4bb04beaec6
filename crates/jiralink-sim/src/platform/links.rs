//! Issue links, link types, remote links and attachments:
//! `/issueLinkType[/{id}]`, `/issueLink[/{id}]`, `/issue/{k}/remotelink[/{id}]`,
//! `/issue/{k}/attachments` and `/attachment/…`, plus the `issuelinks` and `attachment` fields
//! of issues. The data lives in [`crate::data::links`].

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Map, Value};

use super::json::{Obj, push_array, push_value};
use super::params::{self, Params, data_error, issue_not_found};
use super::render::Render;
use super::{ApiVersion, versioned};
use crate::auth::Caller;
use crate::data::links::{
    Attachment, Direction, IssueLink, LinkType, NewAttachment, NewRemoteLink, RemoteLink,
    UPLOAD_LIMIT, mime_for,
};
use crate::data::{self, DataError, NewComment, adf};
use crate::errors::ApiError;
use crate::state::SimState;

/// Most files one upload request may carry (Jira Cloud: 60).
pub const MAX_FILES_PER_UPLOAD: usize = 60;

impl Render<'_> {
    /// An `IssueLinkType` object.
    pub fn link_type(&self, out: &mut String, kind: &LinkType) {
        let mut o = Obj::new(out);
        o.str("id", &kind.id)
            .str("name", &kind.name)
            .str("inward", &kind.inward)
            .str("outward", &kind.outward)
            .str("self", &format!("{}/issueLinkType/{}", self.api, kind.id));
        o.end();
    }

    fn link_type_by_id(&self, out: &mut String, id: &str) {
        match self.data.link_type(id) {
            Some(kind) => self.link_type(out, kind),
            None => out.push_str("null"),
        }
    }

    /// The `issuelinks` field of issue `id`.
    pub fn issue_links(&self, out: &mut String, id: u64) {
        push_array(out, self.data.links_of(id), |out, end| {
            let mut o = Obj::new(out);
            o.str("id", &end.link_id.to_string())
                .str("self", &format!("{}/issueLink/{}", self.api, end.link_id));
            self.link_type_by_id(o.key("type"), &end.type_id);
            let side = match end.direction {
                Direction::Outward => "outwardIssue",
                Direction::Inward => "inwardIssue",
            };
            self.issue_link(o.key(side), end.other);
            o.end();
        });
    }

    /// An `IssueLink` as `GET /issueLink/{id}` answers it.
    pub fn link(&self, out: &mut String, link: &IssueLink) {
        let mut o = Obj::new(out);
        o.str("id", &link.id.to_string())
            .str("self", &format!("{}/issueLink/{}", self.api, link.id));
        self.link_type_by_id(o.key("type"), &link.type_id);
        self.issue_link(o.key("inwardIssue"), link.source);
        self.issue_link(o.key("outwardIssue"), link.target);
        o.end();
    }

    /// The `attachment` field of issue `id`.
    pub fn attachments(&self, out: &mut String, id: u64) {
        push_array(out, self.data.attachments_of(id), |out, a| {
            self.attachment(out, &a, false);
        });
    }

    /// An `Attachment` (issue field, upload answer) or, with `metadata`, `AttachmentMetadata`
    /// (`GET /attachment/{id}`: numeric id, `properties`).
    pub fn attachment(&self, out: &mut String, a: &Attachment, metadata: bool) {
        let mut o = Obj::new(out);
        o.str("self", &format!("{}/attachment/{}", self.api, a.id));
        if metadata {
            o.num("id", a.id);
        } else {
            o.str("id", &a.id.to_string());
        }
        o.str("filename", &a.filename);
        self.user(o.key("author"), &a.author);
        o.str("created", &self.datetime(a.created))
            .num("size", a.size)
            .str("mimeType", &a.mime_type);
        if metadata {
            o.raw("properties", "{}");
        }
        o.str(
            "content",
            &format!("{}/attachment/content/{}", self.api, a.id),
        );
        o.end();
    }

    /// A `RemoteIssueLink`.
    pub fn remote_link(&self, out: &mut String, key: &str, r: &RemoteLink) {
        let mut o = Obj::new(out);
        o.num("id", r.id).str(
            "self",
            &format!("{}/issue/{key}/remotelink/{}", self.api, r.id),
        );
        if let Some(g) = &r.global_id {
            o.str("globalId", g);
        }
        if let Some(app) = &r.application {
            push_value(o.key("application"), app);
        }
        if let Some(rel) = &r.relationship {
            o.str("relationship", rel);
        }
        push_value(o.key("object"), &r.object);
        o.end();
    }
}

fn render<'a>(
    state: &SimState,
    caller: &Caller,
    site: &'a data::SiteData,
    version: ApiVersion,
) -> Render<'a> {
    Render::for_caller(site, caller, state.base_url(), version)
}

fn json_object(bytes: &[u8]) -> Result<Map<String, Value>, ApiError> {
    match params::body::<Value>(bytes)? {
        Value::Object(map) => Ok(map),
        _ => Err(ApiError::platform_bad_request(params::INVALID_PAYLOAD)),
    }
}

fn text_of<'a>(map: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    map.get(key)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

// ----- link types -----

fn link_type_not_found(id: &str) -> ApiError {
    ApiError::platform(
        StatusCode::NOT_FOUND,
        &[&format!("No issue link type with id '{id}' exists.")],
        &[],
    )
}

async fn list_link_types(
    State(state): State<SimState>,
    version: ApiVersion,
    caller: Caller,
) -> Result<Response, ApiError> {
    caller.require("getIssueLinkTypes")?;
    let entry = data::site(&state, &caller.site);
    let site = entry.read();
    let r = render(&state, &caller, &site, version);
    let mut out = String::new();
    let mut o = Obj::new(&mut out);
    push_array(o.key("issueLinkTypes"), site.link_types(), |out, t| {
        r.link_type(out, t);
    });
    o.end();
    Ok(params::json(StatusCode::OK, out, 0))
}

async fn get_link_type(
    State(state): State<SimState>,
    version: ApiVersion,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    caller.require("getIssueLinkType")?;
    let entry = data::site(&state, &caller.site);
    let site = entry.read();
    let kind = site
        .link_types()
        .iter()
        .find(|t| t.id == id)
        .ok_or_else(|| link_type_not_found(&id))?;
    let mut out = String::new();
    render(&state, &caller, &site, version).link_type(&mut out, kind);
    Ok(params::json(StatusCode::OK, out, 0))
}

fn link_type_error(e: DataError, id: &str) -> ApiError {
    match e {
        DataError::ItemNotFound(_) => link_type_not_found(id),
        e => data_error(e),
    }
}

async fn create_link_type(
    State(state): State<SimState>,
    version: ApiVersion,
    caller: Caller,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    caller.require("createIssueLinkType")?;
    let body = json_object(&bytes)?;
    let mut errors = Vec::new();
    for (field, what) in [
        ("name", "name"),
        ("inward", "inward description"),
        ("outward", "outward description"),
    ] {
        if text_of(&body, field).is_none() {
            errors.push((field, format!("The issue link type {what} is required.")));
        }
    }
    let (Some(name), Some(inward), Some(outward)) = (
        text_of(&body, "name"),
        text_of(&body, "inward"),
        text_of(&body, "outward"),
    ) else {
        let pairs: Vec<(&str, &str)> = errors.iter().map(|(k, v)| (*k, v.as_str())).collect();
        return Err(ApiError::platform(StatusCode::BAD_REQUEST, &[], &pairs));
    };
    let entry = data::site(&state, &caller.site);
    let mut site = entry.write();
    let kind = site
        .create_link_type(name, inward, outward)
        .map_err(data_error)?;
    let mut out = String::new();
    render(&state, &caller, &site, version).link_type(&mut out, &kind);
    Ok(params::json(StatusCode::CREATED, out, 0))
}

async fn update_link_type(
    State(state): State<SimState>,
    version: ApiVersion,
    caller: Caller,
    Path(id): Path<String>,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    caller.require("updateIssueLinkType")?;
    let body = json_object(&bytes)?;
    let entry = data::site(&state, &caller.site);
    let mut site = entry.write();
    let kind = site
        .update_link_type(
            &id,
            text_of(&body, "name"),
            text_of(&body, "inward"),
            text_of(&body, "outward"),
        )
        .map_err(|e| link_type_error(e, &id))?;
    let mut out = String::new();
    render(&state, &caller, &site, version).link_type(&mut out, &kind);
    Ok(params::json(StatusCode::OK, out, 0))
}

async fn delete_link_type(
    State(state): State<SimState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    caller.require("deleteIssueLinkType")?;
    let entry = data::site(&state, &caller.site);
    entry
        .write()
        .delete_link_type(&id)
        .map_err(|e| link_type_error(e, &id))?;
    Ok(params::no_content())
}

// ----- issue links -----

fn link_id(text: &str) -> Result<u64, ApiError> {
    text.trim().parse().map_err(|_| {
        ApiError::platform_bad_request(&format!("The issue link id '{text}' is not valid."))
    })
}

fn link_not_found(id: u64) -> ApiError {
    ApiError::platform(
        StatusCode::NOT_FOUND,
        &[&format!("No issue link with id '{id}' exists.")],
        &[],
    )
}

/// The issue a `LinkedIssue` names by `id` or `key`.
fn linked_issue(site: &data::SiteData, value: &Value) -> Result<u64, ApiError> {
    let reference = value
        .get("key")
        .or_else(|| value.get("id"))
        .and_then(|v| match v {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        })
        .ok_or_else(|| ApiError::platform_bad_request("The issue key or id must be given."))?;
    site.resolve(&reference).ok_or_else(|| {
        ApiError::platform(
            StatusCode::NOT_FOUND,
            &[&format!(
                "Issue '{reference}' does not exist or you do not have permission to see it."
            )],
            &[],
        )
    })
}

async fn create_link(
    State(state): State<SimState>,
    version: ApiVersion,
    caller: Caller,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    caller.require("linkIssues")?;
    let body = json_object(&bytes)?;
    let missing: Vec<&str> = ["type", "inwardIssue", "outwardIssue"]
        .into_iter()
        .filter(|k| !body.get(*k).is_some_and(Value::is_object))
        .collect();
    if let Some(first) = missing.first() {
        return Err(ApiError::platform_bad_request(&format!(
            "The '{first}' of the issue link is required."
        )));
    }
    let kind = body.get("type").cloned().unwrap_or(Value::Null);
    let entry = data::site(&state, &caller.site);
    let (type_id, source, target) = {
        let site = entry.read();
        let by_id = kind.get("id").and_then(Value::as_str);
        let by_name = kind.get("name").and_then(Value::as_str);
        let found = match (by_id, by_name) {
            (Some(id), _) => site.link_types().iter().find(|t| t.id == id),
            (None, Some(name)) => site
                .link_types()
                .iter()
                .find(|t| t.name.eq_ignore_ascii_case(name)),
            (None, None) => {
                return Err(ApiError::platform_bad_request(
                    "The issue link type id or name is required.",
                ));
            }
        };
        let Some(found) = found else {
            let message = match by_id {
                Some(id) => format!("No issue link type with id '{id}' exists."),
                None => format!(
                    "No issue link type with name '{}' found.",
                    by_name.unwrap_or_default()
                ),
            };
            return Err(ApiError::platform(StatusCode::NOT_FOUND, &[&message], &[]));
        };
        let source = linked_issue(&site, body.get("inwardIssue").unwrap_or(&Value::Null))?;
        let target = linked_issue(&site, body.get("outwardIssue").unwrap_or(&Value::Null))?;
        (found.id.clone(), source, target)
    };
    let comment = match body.get("comment") {
        None | Some(Value::Null) => None,
        Some(c) => {
            let raw = c.get("body").unwrap_or(&Value::Null);
            let doc = match (version, raw) {
                (ApiVersion::V2, Value::String(s)) if !s.trim().is_empty() => adf::from_wiki(s),
                (ApiVersion::V3, v) if adf::is_doc(v) => v.clone(),
                _ => {
                    return Err(ApiError::platform(
                        StatusCode::BAD_REQUEST,
                        &[],
                        &[("comment", "Comment body can not be empty!")],
                    ));
                }
            };
            Some(NewComment {
                body: doc,
                visibility: c.get("visibility").filter(|v| !v.is_null()).cloned(),
                public: true,
            })
        }
    };
    // Both issues are written (history, `updated`).
    state.check_issue_write(&caller.site, &source.to_string())?;
    state.check_issue_write(&caller.site, &target.to_string())?;
    let now = data::now_ms(&state);
    let mut site = entry.write();
    site.link_issues(&type_id, source, target, &caller.user.account_id, now)
        .map_err(data_error)?;
    if let Some(comment) = comment {
        site.add_comment(target, comment, &caller.user.account_id, now)
            .map_err(data_error)?;
    }
    Ok(params::json(StatusCode::CREATED, String::new(), 0))
}

async fn get_link(
    State(state): State<SimState>,
    version: ApiVersion,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    caller.require("getIssueLink")?;
    let id = link_id(&id)?;
    let entry = data::site(&state, &caller.site);
    let site = entry.read();
    let link = site.issue_link(id).ok_or_else(|| link_not_found(id))?;
    let mut out = String::new();
    render(&state, &caller, &site, version).link(&mut out, &link);
    // Both issues of the link are returned.
    Ok(params::json(StatusCode::OK, out, 2))
}

async fn delete_link(
    State(state): State<SimState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    caller.require("deleteIssueLink")?;
    let id = link_id(&id)?;
    let entry = data::site(&state, &caller.site);
    let link = entry
        .read()
        .issue_link(id)
        .ok_or_else(|| link_not_found(id))?;
    state.check_issue_write(&caller.site, &link.source.to_string())?;
    state.check_issue_write(&caller.site, &link.target.to_string())?;
    let now = data::now_ms(&state);
    match entry.write().delete_link(id, &caller.user.account_id, now) {
        Ok(()) => Ok(params::no_content()),
        Err(DataError::ItemNotFound(_)) => Err(link_not_found(id)),
        Err(e) => Err(data_error(e)),
    }
}

/// An `update.issuelinks` `add` of issue create or edit: the link type and the other issue,
/// named by `outwardIssue` (this issue is the source) or `inwardIssue` (the other one is).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkAdd {
    type_id: String,
    other: u64,
    this_is_source: bool,
}

impl LinkAdd {
    /// The other issue's id.
    pub fn other(&self) -> u64 {
        self.other
    }
}

/// Reads one `{"add":{"type":{…},"outwardIssue"|"inwardIssue":{…}}}` operation.
pub fn parse_link_add(site: &data::SiteData, op: &Value) -> Result<LinkAdd, String> {
    let add = op
        .get("add")
        .filter(|a| a.is_object())
        .ok_or_else(|| "Only the 'add' operation is supported for issue links.".to_owned())?;
    let kind = add.get("type").unwrap_or(&Value::Null);
    let named = kind
        .get("id")
        .and_then(Value::as_str)
        .or_else(|| kind.get("name").and_then(Value::as_str))
        .ok_or_else(|| "The issue link type id or name is required.".to_owned())?;
    let kind = site
        .link_type(named)
        .ok_or_else(|| format!("No issue link type with name '{named}' found."))?;
    let (side, this_is_source) = match (add.get("outwardIssue"), add.get("inwardIssue")) {
        (Some(o), None) => (o, true),
        (None, Some(i)) => (i, false),
        _ => return Err("Give either 'outwardIssue' or 'inwardIssue'.".to_owned()),
    };
    let reference = side
        .get("key")
        .or_else(|| side.get("id"))
        .and_then(|v| match v {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        })
        .ok_or_else(|| "The issue key or id must be given.".to_owned())?;
    let other = site
        .resolve(&reference)
        .ok_or_else(|| format!("Issue '{reference}' could not be found."))?;
    Ok(LinkAdd {
        type_id: kind.id.clone(),
        other,
        this_is_source,
    })
}

/// Makes the links of `update.issuelinks` for issue `id`.
pub fn apply_link_adds(
    site: &mut data::SiteData,
    id: u64,
    adds: Vec<LinkAdd>,
    actor: &str,
    now: i64,
) -> Result<(), DataError> {
    for add in adds {
        let (source, target) = if add.this_is_source {
            (id, add.other)
        } else {
            (add.other, id)
        };
        site.link_issues(&add.type_id, source, target, actor, now)
            .map_err(|e| match e {
                DataError::Invalid(m) => DataError::Fields(vec![("issuelinks".to_owned(), m)]),
                e => e,
            })?;
    }
    Ok(())
}

// ----- remote links -----

fn remote_not_found(what: &str) -> ApiError {
    ApiError::platform(
        StatusCode::NOT_FOUND,
        &[&format!("No remote link with {what} exists on the issue.")],
        &[],
    )
}

fn remote_id(text: &str) -> Result<u64, ApiError> {
    text.trim().parse().map_err(|_| {
        ApiError::platform_bad_request(&format!("The remote link id '{text}' is not valid."))
    })
}

/// Reads a `RemoteIssueLinkRequest`: `object` with `url` and `title` is required.
fn remote_request(bytes: &[u8]) -> Result<NewRemoteLink, ApiError> {
    let body = json_object(bytes)?;
    let object = body.get("object").filter(|o| o.is_object());
    let mut errors: Vec<(&str, &str)> = Vec::new();
    match object {
        None => errors.push(("object", "'object' is required.")),
        Some(o) => {
            if o.get("url")
                .and_then(Value::as_str)
                .is_none_or(|s| s.trim().is_empty())
            {
                errors.push(("url", "'url' is required."));
            }
            if o.get("title")
                .and_then(Value::as_str)
                .is_none_or(|s| s.trim().is_empty())
            {
                errors.push(("title", "'title' is required."));
            }
        }
    }
    let global_id = body
        .get("globalId")
        .and_then(Value::as_str)
        .map(str::to_owned);
    if global_id.as_ref().is_some_and(|g| g.chars().count() > 255) {
        errors.push(("globalId", "The global id must be at most 255 characters."));
    }
    if !errors.is_empty() {
        return Err(ApiError::platform(StatusCode::BAD_REQUEST, &[], &errors));
    }
    Ok(NewRemoteLink {
        global_id,
        application: body.get("application").filter(|a| a.is_object()).cloned(),
        relationship: body
            .get("relationship")
            .and_then(Value::as_str)
            .map(str::to_owned),
        object: object.cloned().unwrap_or(Value::Null),
    })
}

async fn list_remote_links(
    State(state): State<SimState>,
    version: ApiVersion,
    caller: Caller,
    Path(key): Path<String>,
    params: Params,
) -> Result<Response, ApiError> {
    caller.require("getRemoteIssueLinks")?;
    let entry = data::site(&state, &caller.site);
    let site = entry.read();
    let id = site.resolve(&key).ok_or_else(issue_not_found)?;
    let issue_key = site.key_of(id).unwrap_or(key);
    let links = site.remote_links_of(id);
    let r = render(&state, &caller, &site, version);
    let mut out = String::new();
    match params.get("globalId") {
        Some(global) => {
            let link = links
                .iter()
                .find(|l| l.global_id.as_deref() == Some(global))
                .ok_or_else(|| remote_not_found(&format!("global id '{global}'")))?;
            r.remote_link(&mut out, &issue_key, link);
        }
        None => push_array(&mut out, &links, |out, l| r.remote_link(out, &issue_key, l)),
    }
    Ok(params::json(StatusCode::OK, out, 0))
}

fn remote_identifies(r: &Render<'_>, key: &str, link: &RemoteLink) -> String {
    let mut out = String::new();
    let mut o = Obj::new(&mut out);
    o.num("id", link.id).str(
        "self",
        &format!("{}/issue/{key}/remotelink/{}", r.api, link.id),
    );
    o.end();
    out
}

async fn upsert_remote_link(
    State(state): State<SimState>,
    version: ApiVersion,
    caller: Caller,
    Path(key): Path<String>,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    caller.require("createOrUpdateRemoteIssueLink")?;
    let entry = data::site(&state, &caller.site);
    let id = entry.read().resolve(&key).ok_or_else(issue_not_found)?;
    let new = remote_request(&bytes)?;
    state.check_issue_write(&caller.site, &id.to_string())?;
    let now = data::now_ms(&state);
    let mut site = entry.write();
    let (link, created) = site
        .upsert_remote_link(id, new, &caller.user.account_id, now)
        .map_err(data_error)?;
    let issue_key = site.key_of(id).unwrap_or(key);
    let out = remote_identifies(&render(&state, &caller, &site, version), &issue_key, &link);
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok(params::json(status, out, 0))
}

async fn get_remote_link(
    State(state): State<SimState>,
    version: ApiVersion,
    caller: Caller,
    Path((key, link)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    caller.require("getRemoteIssueLinkById")?;
    let link_id = remote_id(&link)?;
    let entry = data::site(&state, &caller.site);
    let site = entry.read();
    let id = site.resolve(&key).ok_or_else(issue_not_found)?;
    let link = site
        .remote_link(id, link_id)
        .ok_or_else(|| remote_not_found(&format!("id '{link_id}'")))?;
    let issue_key = site.key_of(id).unwrap_or(key);
    let mut out = String::new();
    render(&state, &caller, &site, version).remote_link(&mut out, &issue_key, &link);
    Ok(params::json(StatusCode::OK, out, 0))
}

async fn update_remote_link(
    State(state): State<SimState>,
    caller: Caller,
    Path((key, link)): Path<(String, String)>,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    caller.require("updateRemoteIssueLink")?;
    let link_id = remote_id(&link)?;
    let entry = data::site(&state, &caller.site);
    let id = entry.read().resolve(&key).ok_or_else(issue_not_found)?;
    let new = remote_request(&bytes)?;
    state.check_issue_write(&caller.site, &id.to_string())?;
    match entry.write().replace_remote_link(id, link_id, new) {
        Ok(_) => Ok(params::no_content()),
        Err(DataError::ItemNotFound(_)) => Err(remote_not_found(&format!("id '{link_id}'"))),
        Err(e) => Err(data_error(e)),
    }
}

async fn delete_remote_link(
    State(state): State<SimState>,
    caller: Caller,
    Path((key, link)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    caller.require("deleteRemoteIssueLinkById")?;
    let link_id = remote_id(&link)?;
    let entry = data::site(&state, &caller.site);
    let id = entry.read().resolve(&key).ok_or_else(issue_not_found)?;
    state.check_issue_write(&caller.site, &id.to_string())?;
    let now = data::now_ms(&state);
    match entry
        .write()
        .delete_remote_link(id, link_id, &caller.user.account_id, now)
    {
        Ok(()) => Ok(params::no_content()),
        Err(DataError::ItemNotFound(_)) => Err(remote_not_found(&format!("id '{link_id}'"))),
        Err(e) => Err(data_error(e)),
    }
}

async fn delete_remote_by_global_id(
    State(state): State<SimState>,
    caller: Caller,
    Path(key): Path<String>,
    params: Params,
) -> Result<Response, ApiError> {
    caller.require("deleteRemoteIssueLinkByGlobalId")?;
    let global = params
        .get("globalId")
        .filter(|g| !g.trim().is_empty())
        .ok_or_else(|| ApiError::platform_bad_request("The 'globalId' parameter is required."))?
        .to_owned();
    let entry = data::site(&state, &caller.site);
    let (id, link_id) = {
        let site = entry.read();
        let id = site.resolve(&key).ok_or_else(issue_not_found)?;
        let link = site
            .remote_links_of(id)
            .into_iter()
            .find(|l| l.global_id.as_deref() == Some(global.as_str()))
            .ok_or_else(|| remote_not_found(&format!("global id '{global}'")))?;
        (id, link.id)
    };
    state.check_issue_write(&caller.site, &id.to_string())?;
    let now = data::now_ms(&state);
    entry
        .write()
        .delete_remote_link(id, link_id, &caller.user.account_id, now)
        .map_err(data_error)?;
    Ok(params::no_content())
}

// ----- attachments -----

fn attachment_id(text: &str) -> Result<u64, ApiError> {
    text.trim().parse().map_err(|_| {
        ApiError::platform_bad_request(&format!("The attachment id '{text}' is not valid."))
    })
}

fn attachment_not_found(id: u64) -> ApiError {
    ApiError::platform(
        StatusCode::NOT_FOUND,
        &[&format!("The attachment with id '{id}' does not exist.")],
        &[],
    )
}

fn too_large(message: &str) -> ApiError {
    ApiError::platform(StatusCode::PAYLOAD_TOO_LARGE, &[message], &[])
}

async fn add_attachments(
    State(state): State<SimState>,
    version: ApiVersion,
    caller: Caller,
    Path(key): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    caller.require("addAttachment")?;
    if !crate::multipart::xsrf_passed(&headers) {
        return Err(ApiError::from_response(
            (
                StatusCode::FORBIDDEN,
                [(header::CONTENT_TYPE, "text/plain;charset=UTF-8")],
                "XSRF check failed",
            )
                .into_response(),
        ));
    }
    let entry = data::site(&state, &caller.site);
    let id = entry.read().resolve(&key).ok_or_else(issue_not_found)?;
    let limit = usize::try_from(UPLOAD_LIMIT).unwrap_or(usize::MAX);
    let bytes = axum::body::to_bytes(body, limit.saturating_mul(2))
        .await
        .map_err(|_| too_large("The attachments exceed the maximum attachment size for issues."))?;
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let parts = crate::multipart::parse(content_type, &bytes).ok_or_else(|| {
        ApiError::platform_bad_request("The request is not a valid multipart/form-data body.")
    })?;
    let files: Vec<NewAttachment> = parts
        .into_iter()
        .filter(|p| p.name == "file")
        .map(|p| {
            let filename = p
                .filename
                .filter(|f| !f.is_empty())
                .unwrap_or_else(|| "file".to_owned());
            let mime_type = p
                .content_type
                .filter(|c| !c.is_empty())
                .unwrap_or_else(|| mime_for(&filename).to_owned());
            NewAttachment {
                filename,
                mime_type,
                content: p.data,
            }
        })
        .collect();
    if files.is_empty() {
        return Err(ApiError::platform_bad_request(
            "No attachments were given: send them as multipart parts named 'file'.",
        ));
    }
    if files.len() > MAX_FILES_PER_UPLOAD {
        return Err(too_large(&format!(
            "At most {MAX_FILES_PER_UPLOAD} files can be uploaded in one request."
        )));
    }
    if let Some(big) = files.iter().find(|f| f.content.len() > limit) {
        return Err(too_large(&format!(
            "The file '{}' is {} bytes, larger than the attachment size limit of {UPLOAD_LIMIT} bytes.",
            big.filename,
            big.content.len()
        )));
    }
    state.check_issue_write(&caller.site, &id.to_string())?;
    let now = data::now_ms(&state);
    let mut site = entry.write();
    let added = site
        .add_attachments(id, files, &caller.user.account_id, now)
        .map_err(data_error)?;
    let r = render(&state, &caller, &site, version);
    let mut out = String::new();
    push_array(&mut out, &added, |out, a| r.attachment(out, a, false));
    Ok(params::json(StatusCode::OK, out, 2 * added.len() as u64))
}

async fn attachment_meta(caller: Caller) -> Result<Response, ApiError> {
    caller.require("getAttachmentMeta")?;
    let mut out = String::new();
    let mut o = Obj::new(&mut out);
    o.bool("enabled", true).num("uploadLimit", UPLOAD_LIMIT);
    o.end();
    Ok(params::json(StatusCode::OK, out, 0))
}

async fn get_attachment(
    State(state): State<SimState>,
    version: ApiVersion,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    caller.require("getAttachment")?;
    let id = attachment_id(&id)?;
    let entry = data::site(&state, &caller.site);
    let site = entry.read();
    let a = site
        .attachment(id)
        .ok_or_else(|| attachment_not_found(id))?;
    let mut out = String::new();
    render(&state, &caller, &site, version).attachment(&mut out, &a, true);
    // The uploader is returned as a user.
    Ok(params::json(StatusCode::OK, out, 2))
}

async fn delete_attachment(
    State(state): State<SimState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    caller.require("removeAttachment")?;
    let id = attachment_id(&id)?;
    let entry = data::site(&state, &caller.site);
    let a = entry
        .read()
        .attachment(id)
        .ok_or_else(|| attachment_not_found(id))?;
    state.check_issue_write(&caller.site, &a.issue.to_string())?;
    let now = data::now_ms(&state);
    entry
        .write()
        .delete_attachment(id, &caller.user.account_id, now)
        .map_err(|_| attachment_not_found(id))?;
    Ok(params::no_content())
}

/// A single `bytes=` range of a body of `len` bytes: `Ok(None)` without a header,
/// `Err(400)` when malformed, `Err(416)` when unsatisfiable.
fn byte_range(header: Option<&str>, len: u64) -> Result<Option<(u64, u64)>, StatusCode> {
    let Some(value) = header else {
        return Ok(None);
    };
    let spec = value
        .trim()
        .strip_prefix("bytes=")
        .filter(|s| !s.contains(','))
        .ok_or(StatusCode::BAD_REQUEST)?;
    let (first, last) = spec.split_once('-').ok_or(StatusCode::BAD_REQUEST)?;
    let num = |s: &str| s.trim().parse::<u64>().map_err(|_| StatusCode::BAD_REQUEST);
    let (start, end) = match (first.trim().is_empty(), last.trim().is_empty()) {
        (true, true) => return Err(StatusCode::BAD_REQUEST),
        (true, false) => {
            let suffix = num(last)?;
            (len.saturating_sub(suffix), len.saturating_sub(1))
        }
        (false, true) => (num(first)?, len.saturating_sub(1)),
        (false, false) => (num(first)?, num(last)?.min(len.saturating_sub(1))),
    };
    if len == 0 || start >= len || start > end {
        return Err(StatusCode::RANGE_NOT_SATISFIABLE);
    }
    Ok(Some((start, end)))
}

async fn attachment_content(
    State(state): State<SimState>,
    version: ApiVersion,
    caller: Caller,
    Path(id): Path<String>,
    params: Params,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    caller.require("getAttachmentContent")?;
    let redirect = params.bool("redirect", true)?;
    let id = attachment_id(&id)?;
    let entry = data::site(&state, &caller.site);
    let (meta, content) = entry
        .read()
        .attachment_content(id)
        .ok_or_else(|| attachment_not_found(id))?;
    if redirect {
        // Jira sends clients to its media service; here the same resource serves the bytes.
        let location = format!(
            "{}/rest/api/{}/attachment/content/{id}?redirect=false",
            caller.base,
            version.segment()
        );
        return Ok((StatusCode::SEE_OTHER, [(header::LOCATION, location)]).into_response());
    }
    let len = content.len() as u64;
    let range = headers.get(header::RANGE).and_then(|v| v.to_str().ok());
    let disposition = format!(
        "attachment; filename=\"{}\"",
        meta.filename.replace('"', "")
    );
    match byte_range(range, len) {
        Ok(None) => Ok((
            StatusCode::OK,
            [
                (header::CONTENT_TYPE, meta.mime_type),
                (header::CONTENT_DISPOSITION, disposition),
                (header::ACCEPT_RANGES, "bytes".to_owned()),
            ],
            content,
        )
            .into_response()),
        Ok(Some((start, end))) => {
            let from = usize::try_from(start).unwrap_or(usize::MAX);
            let to = usize::try_from(end).unwrap_or(usize::MAX);
            let slice = content.get(from..=to).unwrap_or_default().to_vec();
            Ok((
                StatusCode::PARTIAL_CONTENT,
                [
                    (header::CONTENT_TYPE, meta.mime_type),
                    (header::CONTENT_DISPOSITION, disposition),
                    (header::CONTENT_RANGE, format!("bytes {start}-{end}/{len}")),
                ],
                slice,
            )
                .into_response())
        }
        Err(StatusCode::RANGE_NOT_SATISFIABLE) => Err(ApiError::platform(
            StatusCode::RANGE_NOT_SATISFIABLE,
            &[&format!(
                "The range cannot be satisfied: the attachment has {len} bytes."
            )],
            &[],
        )
        .with_header(header::CONTENT_RANGE, &format!("bytes */{len}"))),
        Err(_) => Err(ApiError::platform_bad_request(
            "The Range header is not valid.",
        )),
    }
}

/// Entries an archive expansion lists (Jira's `jira.attachment.number.of.zip.entries`).
pub const MAX_ARCHIVE_ENTRIES: usize = 30;

fn le16(bytes: &[u8], at: usize) -> Option<usize> {
    let b = bytes.get(at..at + 2)?;
    Some(usize::from(u16::from_le_bytes([b[0], b[1]])))
}

fn le32(bytes: &[u8], at: usize) -> Option<u64> {
    let b = bytes.get(at..at + 4)?;
    Some(u64::from(u32::from_le_bytes([b[0], b[1], b[2], b[3]])))
}

/// The files of a ZIP archive (name, uncompressed size) from its central directory, without
/// directories; `None` when the bytes are no readable ZIP.
fn zip_entries(bytes: &[u8]) -> Option<Vec<(String, u64)>> {
    const END: [u8; 4] = [0x50, 0x4b, 0x05, 0x06];
    const ENTRY: [u8; 4] = [0x50, 0x4b, 0x01, 0x02];
    // The end record is 22 bytes plus a comment of at most 65,535.
    let earliest = bytes.len().saturating_sub(22 + 65_535);
    let end = (earliest..=bytes.len().checked_sub(22)?)
        .rev()
        .find(|&i| bytes.get(i..i + 4) == Some(&END[..]))?;
    let count = le16(bytes, end + 10)?;
    let mut at = usize::try_from(le32(bytes, end + 16)?).ok()?;
    let mut out = Vec::new();
    for _ in 0..count {
        if bytes.get(at..at + 4) != Some(&ENTRY[..]) {
            return None;
        }
        let size = le32(bytes, at + 24)?;
        let name_len = le16(bytes, at + 28)?;
        let extra = le16(bytes, at + 30)?;
        let comment = le16(bytes, at + 32)?;
        let name = String::from_utf8_lossy(bytes.get(at + 46..at + 46 + name_len)?).into_owned();
        if !name.ends_with('/') {
            out.push((name, size));
        }
        at += 46 + name_len + extra + comment;
    }
    Some(out)
}

/// Jira's short file sizes: `0.3 k` under a kilobyte, `119 kB`, `1.36 MB`.
fn human_size(size: u64) -> String {
    let bytes = size as f64;
    if size < 1024 {
        format!("{:.1} k", bytes / 1024.0)
    } else if size < 1024 * 1024 {
        format!("{:.0} kB", bytes / 1024.0)
    } else {
        format!("{:.2} MB", bytes / (1024.0 * 1024.0))
    }
}

/// A long path as Jira labels it: the first four and last three segments around `...`.
fn abbreviated(path: &str) -> String {
    let parts: Vec<&str> = path.split('/').collect();
    if parts.len() <= 7 {
        return path.to_owned();
    }
    let head = parts.get(..4).unwrap_or_default().join("/");
    let tail = parts.get(parts.len() - 3..).unwrap_or_default().join("/");
    format!("{head}/.../{tail}")
}

/// Archive kinds Jira recognises but cannot expand.
fn unsupported_archive(a: &Attachment) -> bool {
    let name = a.filename.to_ascii_lowercase();
    [".tar", ".tgz", ".gz", ".7z", ".rar", ".bz2", ".xz"]
        .iter()
        .any(|ext| name.ends_with(ext))
        || matches!(
            a.mime_type.as_str(),
            "application/x-tar"
                | "application/gzip"
                | "application/x-7z-compressed"
                | "application/vnd.rar"
                | "application/x-rar-compressed"
        )
}

fn expand_attachment(
    state: &SimState,
    caller: &Caller,
    id: &str,
    human: bool,
) -> Result<Response, ApiError> {
    caller.require(if human {
        "expandAttachmentForHumans"
    } else {
        "expandAttachmentForMachines"
    })?;
    let id = attachment_id(id)?;
    let entry = data::site(state, &caller.site);
    let (meta, content) = entry
        .read()
        .attachment_content(id)
        .ok_or_else(|| attachment_not_found(id))?;
    if unsupported_archive(&meta) {
        return Err(ApiError::platform(
            StatusCode::CONFLICT,
            &[&format!(
                "The attachment '{}' is an archive in a format that cannot be expanded; only ZIP archives can.",
                meta.filename
            )],
            &[],
        ));
    }
    let entries = zip_entries(&content).unwrap_or_default();
    let mut out = String::new();
    let mut o = Obj::new(&mut out);
    push_array(
        o.key("entries"),
        entries.iter().take(MAX_ARCHIVE_ENTRIES).enumerate(),
        |out, (n, (name, size))| {
            let mut e = Obj::new(out);
            if human {
                e.num("index", n)
                    .str("label", &abbreviated(name))
                    .str("mediaType", mime_for(name))
                    .str("path", name)
                    .str("size", &human_size(*size));
            } else {
                e.str("abbreviatedName", &abbreviated(name))
                    .num("entryIndex", n)
                    .str("mediaType", mime_for(name))
                    .str("name", name)
                    .num("size", size);
            }
            e.end();
        },
    );
    if human {
        o.num("id", meta.id)
            .str("mediaType", &meta.mime_type)
            .str("name", &meta.filename);
    }
    o.num("totalEntryCount", entries.len());
    o.end();
    Ok(params::json(StatusCode::OK, out, 0))
}

async fn expand_human(
    State(state): State<SimState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    expand_attachment(&state, &caller, &id, true)
}

async fn expand_raw(
    State(state): State<SimState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    expand_attachment(&state, &caller, &id, false)
}

/// Every route of this module.
pub fn router() -> Router<SimState> {
    let mut r = Router::new();
    r = versioned(
        r,
        "/issueLinkType",
        &get(list_link_types).post(create_link_type),
    );
    r = versioned(
        r,
        "/issueLinkType/{id}",
        &get(get_link_type)
            .put(update_link_type)
            .delete(delete_link_type),
    );
    r = versioned(r, "/issueLink", &post(create_link));
    r = versioned(r, "/issueLink/{id}", &get(get_link).delete(delete_link));
    r = versioned(
        r,
        "/issue/{key}/remotelink",
        &get(list_remote_links)
            .post(upsert_remote_link)
            .delete(delete_remote_by_global_id),
    );
    r = versioned(
        r,
        "/issue/{key}/remotelink/{link}",
        &get(get_remote_link)
            .put(update_remote_link)
            .delete(delete_remote_link),
    );
    r = versioned(r, "/issue/{key}/attachments", &post(add_attachments));
    r = versioned(r, "/attachment/meta", &get(attachment_meta));
    r = versioned(r, "/attachment/content/{id}", &get(attachment_content));
    r = versioned(r, "/attachment/{id}/expand/human", &get(expand_human));
    r = versioned(r, "/attachment/{id}/expand/raw", &get(expand_raw));
    versioned(
        r,
        "/attachment/{id}",
        &get(get_attachment).delete(delete_attachment),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stored (uncompressed) ZIP of `files`.
    pub(crate) fn zip(files: &[(&str, &[u8])]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut central = Vec::new();
        for (name, data) in files {
            let offset = out.len() as u32;
            let len = data.len() as u32;
            out.extend_from_slice(&[0x50, 0x4b, 0x03, 0x04, 20, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
            out.extend_from_slice(&0u32.to_le_bytes());
            out.extend_from_slice(&len.to_le_bytes());
            out.extend_from_slice(&len.to_le_bytes());
            out.extend_from_slice(&(name.len() as u16).to_le_bytes());
            out.extend_from_slice(&0u16.to_le_bytes());
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(data);
            central.extend_from_slice(&[0x50, 0x4b, 0x01, 0x02, 20, 0, 20, 0, 0, 0, 0, 0]);
            central.extend_from_slice(&[0; 4]);
            central.extend_from_slice(&0u32.to_le_bytes());
            central.extend_from_slice(&len.to_le_bytes());
            central.extend_from_slice(&len.to_le_bytes());
            central.extend_from_slice(&(name.len() as u16).to_le_bytes());
            central.extend_from_slice(&[0; 12]);
            central.extend_from_slice(&offset.to_le_bytes());
            central.extend_from_slice(name.as_bytes());
        }
        let cd_offset = out.len() as u32;
        let cd_len = central.len() as u32;
        out.extend_from_slice(&central);
        out.extend_from_slice(&[0x50, 0x4b, 0x05, 0x06, 0, 0, 0, 0]);
        out.extend_from_slice(&(files.len() as u16).to_le_bytes());
        out.extend_from_slice(&(files.len() as u16).to_le_bytes());
        out.extend_from_slice(&cd_len.to_le_bytes());
        out.extend_from_slice(&cd_offset.to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes());
        out
    }

    #[test]
    fn zip_central_directories_are_read() {
        let bytes = zip(&[
            ("a.txt", b"hello"),
            ("dir/", b""),
            ("dir/b.png", &[1, 2, 3]),
        ]);
        assert_eq!(
            zip_entries(&bytes),
            Some(vec![("a.txt".to_owned(), 5), ("dir/b.png".to_owned(), 3)])
        );
        assert_eq!(zip_entries(b"not a zip at all, just text"), None);
        assert_eq!(human_size(300), "0.3 k");
        assert_eq!(human_size(121_856), "119 kB");
        assert_eq!(human_size(1_430_174), "1.36 MB");
        assert_eq!(
            abbreviated(
                "long/path/thanks/to/lots/of/subdirectories/inside/making/it/quite/hard/to/reach/the/leaf.txt"
            ),
            "long/path/thanks/to/.../reach/the/leaf.txt"
        );
    }

    #[test]
    fn byte_ranges_follow_rfc_9110() {
        assert_eq!(byte_range(None, 10), Ok(None));
        assert_eq!(byte_range(Some("bytes=0-3"), 10), Ok(Some((0, 3))));
        assert_eq!(byte_range(Some("bytes=5-"), 10), Ok(Some((5, 9))));
        assert_eq!(byte_range(Some("bytes=-4"), 10), Ok(Some((6, 9))));
        assert_eq!(byte_range(Some("bytes=8-100"), 10), Ok(Some((8, 9))));
        assert_eq!(
            byte_range(Some("bytes=10-"), 10),
            Err(StatusCode::RANGE_NOT_SATISFIABLE)
        );
        assert_eq!(
            byte_range(Some("items=1-2"), 10),
            Err(StatusCode::BAD_REQUEST)
        );
    }
}
