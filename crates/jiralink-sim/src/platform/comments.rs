//! Comments, worklogs and change history: `/issue/{k}/comment[/{id}]`, `/issue/{k}/worklog`,
//! `/issue/{k}/changelog` and `POST /changelog/bulkfetch`.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use base64::Engine as _;
use serde_json::{Map, Value};

use super::json::{Obj, push_array};
use super::params::{self, Params, data_error, issue_not_found};
use super::render::Render;
use super::{ApiVersion, versioned};
use crate::auth::Caller;
use crate::data::{self, DataError, NewComment, adf};
use crate::errors::ApiError;
use crate::state::SimState;

/// Default and largest `maxResults` of comment pages.
pub const COMMENT_PAGE: i64 = 100;
/// Default and largest `maxResults` of worklog pages.
pub const WORKLOG_PAGE: i64 = 5_000;
/// Default and largest `maxResults` of changelog pages.
pub const CHANGELOG_PAGE: i64 = 100;
/// Most issues in one changelog bulk fetch.
pub const BULK_CHANGELOG_ISSUES: usize = 1_000;
/// Most field ids in one changelog bulk fetch.
pub const BULK_CHANGELOG_FIELDS: usize = 10;
/// Default and largest histories per changelog bulk-fetch page.
pub const BULK_CHANGELOG_PAGE: (i64, i64) = (1_000, 10_000);

fn comment_not_found(id: &str) -> ApiError {
    ApiError::platform(
        StatusCode::NOT_FOUND,
        &[&format!("Can not find a comment for the id: {id}.")],
        &[],
    )
}

async fn list_comments(
    State(state): State<SimState>,
    version: ApiVersion,
    caller: Caller,
    Path(key): Path<String>,
    params: Params,
) -> Result<Response, ApiError> {
    caller.require("getComments")?;
    let (start, max) = params::page(&params, COMMENT_PAGE, COMMENT_PAGE)?;
    let descending = match params.get("orderBy").map(str::trim) {
        None | Some("" | "created" | "+created") => false,
        Some("-created") => true,
        Some(other) => {
            return Err(ApiError::platform_bad_request(&format!(
                "The orderBy value '{other}' is not supported; use created, +created or -created."
            )));
        }
    };
    let rendered = params.list("expand").iter().any(|e| e == "renderedBody");
    let entry = data::site(&state, &caller.site);
    let site = entry.read();
    let issue = site.issue(&key).ok_or_else(issue_not_found)?;
    let render = Render::for_caller(&site, &caller, state.base_url(), version);
    let mut comments: Vec<&data::Comment> = issue.comments.iter().collect();
    if descending {
        comments.reverse();
    }
    let page: Vec<&data::Comment> = comments.iter().skip(start).take(max).copied().collect();
    let mut out = String::new();
    let mut o = Obj::new(&mut out);
    push_array(o.key("comments"), &page, |out, c| {
        render.comment(out, issue.id, c, rendered)
    });
    o.num("maxResults", max)
        .num("total", comments.len())
        .num("startAt", start);
    o.end();
    Ok(params::json(StatusCode::OK, out, page.len() as u64))
}

fn comment_body(version: ApiVersion, body: &Map<String, Value>) -> Result<Value, ApiError> {
    let invalid = || {
        ApiError::platform(
            StatusCode::BAD_REQUEST,
            &[],
            &[("comment", "Comment body can not be empty!")],
        )
    };
    match (body.get("body"), version) {
        (Some(Value::String(s)), ApiVersion::V2) if !s.trim().is_empty() => Ok(adf::from_wiki(s)),
        (Some(doc), ApiVersion::V3) if adf::is_doc(doc) && !adf::plain_text(doc).is_empty() => {
            Ok(doc.clone())
        }
        (Some(doc), ApiVersion::V3) if adf::is_doc(doc) => Err(invalid()),
        (Some(Value::String(_)), ApiVersion::V3) => Err(ApiError::platform(
            StatusCode::BAD_REQUEST,
            &[],
            &[(
                "comment",
                "Comment body must be an Atlassian Document (see the Atlassian Document Format).",
            )],
        )),
        _ => Err(invalid()),
    }
}

fn visibility(body: &Map<String, Value>) -> Result<Option<Value>, ApiError> {
    match body.get("visibility") {
        None | Some(Value::Null) => Ok(None),
        Some(v) => {
            let kind = v.get("type").and_then(Value::as_str);
            let named = v
                .get("value")
                .or_else(|| v.get("identifier"))
                .and_then(Value::as_str);
            match (kind, named) {
                (Some("role" | "group"), Some(_)) => Ok(Some(v.clone())),
                _ => Err(ApiError::platform(
                    StatusCode::BAD_REQUEST,
                    &[],
                    &[(
                        "commentLevel",
                        "You are currently not a member of the project role or group.",
                    )],
                )),
            }
        }
    }
}

fn comment_response(
    state: &SimState,
    caller: &Caller,
    version: ApiVersion,
    issue_id: u64,
    comment: &data::Comment,
    status: StatusCode,
) -> Response {
    let entry = data::site(state, &caller.site);
    let site = entry.read();
    let render = Render::for_caller(&site, caller, state.base_url(), version);
    let mut out = String::new();
    render.comment(&mut out, issue_id, comment, false);
    params::json(status, out, 0)
}

async fn add_comment(
    State(state): State<SimState>,
    version: ApiVersion,
    caller: Caller,
    Path(key): Path<String>,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    caller.require("addComment")?;
    let body: Map<String, Value> = params::body(&bytes)?;
    let doc = comment_body(version, &body)?;
    let visibility = visibility(&body)?;
    let public = body
        .get("jsdPublic")
        .and_then(Value::as_bool)
        .unwrap_or(true);
    let entry = data::site(&state, &caller.site);
    let id = entry.read().resolve(&key).ok_or_else(issue_not_found)?;
    state.check_issue_write(&caller.site, &id.to_string())?;
    let now = data::now_ms(&state);
    let comment = entry
        .write()
        .add_comment(
            id,
            NewComment {
                body: doc,
                visibility,
                public,
            },
            &caller.user.account_id,
            now,
        )
        .map_err(data_error)?;
    Ok(comment_response(
        &state,
        &caller,
        version,
        id,
        &comment,
        StatusCode::CREATED,
    ))
}

async fn get_comment(
    State(state): State<SimState>,
    version: ApiVersion,
    caller: Caller,
    Path((key, comment_id)): Path<(String, String)>,
    params: Params,
) -> Result<Response, ApiError> {
    caller.require("getComment")?;
    let rendered = params.list("expand").iter().any(|e| e == "renderedBody");
    let entry = data::site(&state, &caller.site);
    let site = entry.read();
    let issue = site.issue(&key).ok_or_else(issue_not_found)?;
    let comment = issue
        .comments
        .iter()
        .find(|c| c.id.to_string() == comment_id)
        .ok_or_else(|| comment_not_found(&comment_id))?;
    let render = Render::for_caller(&site, &caller, state.base_url(), version);
    let mut out = String::new();
    render.comment(&mut out, issue.id, comment, rendered);
    Ok(params::json(StatusCode::OK, out, 1))
}

async fn update_comment(
    State(state): State<SimState>,
    version: ApiVersion,
    caller: Caller,
    Path((key, comment_id)): Path<(String, String)>,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    caller.require("updateComment")?;
    let body: Map<String, Value> = params::body(&bytes)?;
    let doc = comment_body(version, &body)?;
    let visibility = visibility(&body)?;
    let cid: u64 = comment_id
        .parse()
        .map_err(|_| comment_not_found(&comment_id))?;
    let entry = data::site(&state, &caller.site);
    let id = entry.read().resolve(&key).ok_or_else(issue_not_found)?;
    state.check_issue_write(&caller.site, &id.to_string())?;
    let now = data::now_ms(&state);
    let result =
        entry
            .write()
            .update_comment(id, cid, doc, visibility, &caller.user.account_id, now);
    let comment = match result {
        Ok(c) => c,
        Err(DataError::ItemNotFound(_)) => return Err(comment_not_found(&comment_id)),
        Err(e) => return Err(data_error(e)),
    };
    Ok(comment_response(
        &state,
        &caller,
        version,
        id,
        &comment,
        StatusCode::OK,
    ))
}

async fn delete_comment(
    State(state): State<SimState>,
    caller: Caller,
    Path((key, comment_id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    caller.require("deleteComment")?;
    let cid: u64 = comment_id
        .parse()
        .map_err(|_| comment_not_found(&comment_id))?;
    let entry = data::site(&state, &caller.site);
    let id = entry.read().resolve(&key).ok_or_else(issue_not_found)?;
    state.check_issue_write(&caller.site, &id.to_string())?;
    let now = data::now_ms(&state);
    match entry
        .write()
        .delete_comment(id, cid, &caller.user.account_id, now)
    {
        Ok(()) => Ok(params::no_content()),
        Err(DataError::ItemNotFound(_)) => Err(comment_not_found(&comment_id)),
        Err(e) => Err(data_error(e)),
    }
}

async fn list_worklogs(
    State(state): State<SimState>,
    version: ApiVersion,
    caller: Caller,
    Path(key): Path<String>,
    params: Params,
) -> Result<Response, ApiError> {
    caller.require("getIssueWorklog")?;
    let (start, max) = params::page(&params, WORKLOG_PAGE, WORKLOG_PAGE)?;
    let after = params.int("startedAfter", i64::MIN)?;
    let before = params.int("startedBefore", i64::MAX)?;
    let entry = data::site(&state, &caller.site);
    let site = entry.read();
    let issue = site.issue(&key).ok_or_else(issue_not_found)?;
    let matching: Vec<&data::Worklog> = issue
        .worklogs
        .iter()
        .filter(|w| w.started >= after && w.started < before)
        .collect();
    let page: Vec<&data::Worklog> = matching.iter().skip(start).take(max).copied().collect();
    let render = Render::for_caller(&site, &caller, state.base_url(), version);
    let mut out = String::new();
    let mut o = Obj::new(&mut out);
    o.num("startAt", start)
        .num("maxResults", max)
        .num("total", matching.len());
    push_array(o.key("worklogs"), &page, |out, w| {
        render.worklog(out, issue.id, w)
    });
    o.end();
    Ok(params::json(StatusCode::OK, out, page.len() as u64))
}

async fn add_worklog(
    State(state): State<SimState>,
    version: ApiVersion,
    caller: Caller,
    Path(key): Path<String>,
    params: Params,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    caller.require("addWorklog")?;
    let adjust = super::tracking::adjust_param(&params, false)?;
    let body: Map<String, Value> = params::body(&bytes)?;
    let now = data::now_ms(&state);
    let parts = super::tracking::worklog_parts(version, &body)?;
    let entry = data::site(&state, &caller.site);
    let id = entry.read().resolve(&key).ok_or_else(issue_not_found)?;
    state.check_issue_write(&caller.site, &id.to_string())?;
    let worklog = entry
        .write()
        .log_work(
            id,
            super::tracking::new_worklog(parts, now),
            adjust,
            &caller.user.account_id,
            now,
        )
        .map_err(data_error)?;
    let site = entry.read();
    let render = Render::for_caller(&site, &caller, state.base_url(), version);
    let mut out = String::new();
    render.worklog(&mut out, id, &worklog);
    Ok(params::json(StatusCode::CREATED, out, 0))
}

/// `1w 2d 3h 4m` (Jira units: 8-hour days, 5-day weeks) → seconds.
pub fn parse_duration(text: &str) -> Option<u64> {
    let mut total = 0u64;
    for part in text.split_whitespace() {
        let (n, unit) = part.split_at(part.len().checked_sub(1)?);
        let n: u64 = n.parse().ok()?;
        total += n * match unit {
            "w" => 5 * 8 * 3600,
            "d" => 8 * 3600,
            "h" => 3600,
            "m" => 60,
            _ => return None,
        };
    }
    (total > 0).then_some(total)
}

async fn list_changelog(
    State(state): State<SimState>,
    version: ApiVersion,
    caller: Caller,
    Path(key): Path<String>,
    params: Params,
) -> Result<Response, ApiError> {
    caller.require("getChangeLogs")?;
    let (start, max) = params::page(&params, CHANGELOG_PAGE, CHANGELOG_PAGE)?;
    let entry = data::site(&state, &caller.site);
    let site = entry.read();
    let issue = site.issue(&key).ok_or_else(issue_not_found)?;
    let total = issue.changelog.len();
    let page: Vec<&data::History> = issue.changelog.iter().skip(start).take(max).collect();
    let render = Render::for_caller(&site, &caller, state.base_url(), version);
    let is_last = start.saturating_add(page.len()) >= total;
    let path = format!("{}/issue/{}/changelog", render.api, issue.key);
    let mut out = String::new();
    let mut o = Obj::new(&mut out);
    o.str("self", &format!("{path}?maxResults={max}&startAt={start}"));
    if !is_last {
        o.str(
            "nextPage",
            &format!("{path}?maxResults={max}&startAt={}", start + page.len()),
        );
    }
    o.num("maxResults", max)
        .num("startAt", start)
        .num("total", total)
        .bool("isLast", is_last);
    push_array(o.key("values"), &page, |out, h| render.history(out, h));
    o.end();
    Ok(params::json(StatusCode::OK, out, 1))
}

async fn bulk_changelog(
    State(state): State<SimState>,
    version: ApiVersion,
    caller: Caller,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    caller.require("getBulkChangelogs")?;
    let body: Map<String, Value> = params::body(&bytes)?;
    let strings = |key: &str| -> Vec<String> {
        body.get(key)
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|v| match v {
                        Value::String(s) => Some(s.clone()),
                        Value::Number(n) => Some(n.to_string()),
                        _ => None,
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    let keys = strings("issueIdsOrKeys");
    if keys.is_empty() || keys.len() > BULK_CHANGELOG_ISSUES {
        return Err(ApiError::platform_bad_request(&format!(
            "The 'issueIdsOrKeys' list must contain between 1 and {BULK_CHANGELOG_ISSUES} issue ids or keys."
        )));
    }
    let field_ids = strings("fieldIds");
    if field_ids.len() > BULK_CHANGELOG_FIELDS {
        return Err(ApiError::platform_bad_request(&format!(
            "The 'fieldIds' list can contain at most {BULK_CHANGELOG_FIELDS} field ids."
        )));
    }
    let max = body
        .get("maxResults")
        .and_then(Value::as_i64)
        .unwrap_or(BULK_CHANGELOG_PAGE.0)
        .clamp(1, BULK_CHANGELOG_PAGE.1);
    let max = usize::try_from(max).unwrap_or(1);
    let skip: usize = match body.get("nextPageToken").and_then(Value::as_str) {
        None => 0,
        Some(token) => base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(token)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .and_then(|t| t.strip_prefix("changelog:").and_then(|n| n.parse().ok()))
            .ok_or_else(|| ApiError::platform_bad_request(super::search::BAD_TOKEN))?,
    };
    let entry = data::site(&state, &caller.site);
    let site = entry.read();
    let mut issues: Vec<std::sync::Arc<data::Issue>> =
        keys.iter().filter_map(|k| site.issue(k)).collect();
    issues.sort_by_key(|i| i.id);
    issues.dedup_by_key(|i| i.id);
    let render = Render::for_caller(&site, &caller, state.base_url(), version);
    // Histories across all issues in (issue id, history id) order, filtered by field.
    let mut flat: Vec<(u64, data::History)> = Vec::new();
    for issue in &issues {
        for h in &issue.changelog {
            let mut h = h.clone();
            if !field_ids.is_empty() {
                h.items.retain(|i| field_ids.contains(&i.field_id));
                if h.items.is_empty() {
                    continue;
                }
            }
            flat.push((issue.id, h));
        }
    }
    let end = skip.saturating_add(max).min(flat.len());
    let page = flat.get(skip.min(end)..end).unwrap_or(&[]);
    let mut out = String::new();
    let mut o = Obj::new(&mut out);
    let mut groups: Vec<(u64, Vec<&data::History>)> = Vec::new();
    for (id, h) in page {
        match groups.last_mut() {
            Some((last, list)) if last == id => list.push(h),
            _ => groups.push((*id, vec![h])),
        }
    }
    push_array(o.key("issueChangeLogs"), &groups, |out, (id, histories)| {
        let mut g = Obj::new(out);
        g.str("issueId", &id.to_string());
        push_array(g.key("changeHistories"), histories, |out, h| {
            render.history(out, h)
        });
        g.end();
    });
    if end < flat.len() {
        o.str(
            "nextPageToken",
            &base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("changelog:{end}")),
        );
    }
    o.end();
    Ok(params::json(StatusCode::OK, out, issues.len() as u64))
}

/// Routes of this module.
pub fn router() -> Router<SimState> {
    let mut r = Router::new();
    r = versioned(
        r,
        "/issue/{key}/comment",
        &get(list_comments).post(add_comment),
    );
    r = versioned(
        r,
        "/issue/{key}/comment/{id}",
        &get(get_comment).put(update_comment).delete(delete_comment),
    );
    r = versioned(
        r,
        "/issue/{key}/worklog",
        &get(list_worklogs).post(add_worklog),
    );
    r = versioned(r, "/issue/{key}/changelog", &get(list_changelog));
    versioned(r, "/changelog/bulkfetch", &post(bulk_changelog))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("3h 20m"), Some(12_000));
        assert_eq!(parse_duration("1w 1d"), Some(48 * 3600));
        assert_eq!(parse_duration("soon"), None);
        assert_eq!(parse_duration(""), None);
    }
}
