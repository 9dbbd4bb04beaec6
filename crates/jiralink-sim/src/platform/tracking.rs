//! Watchers, votes, assignment, notifications, time tracking and the site-wide comment and
//! worklog lists: `/issue/{k}/watchers`, `/issue/{k}/votes`, `/issue/{k}/assignee`,
//! `/issue/{k}/notify`, `/issue/{k}/worklog/{id}`, `/comment/list`, `/worklog/updated`,
//! `/worklog/deleted` and `/worklog/list`.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post, put};
use serde_json::{Map, Value};

use super::json::{Obj, push_array};
use super::params::{self, Params, data_error, issue_not_found};
use super::render::{Render, duration};
use super::{ApiVersion, versioned};
use crate::auth::Caller;
use crate::data::{
    self, Adjust, DataError, FieldChange, Issue, NewWorklog, Notification, WorklogEdit, adf,
};
use crate::errors::ApiError;
use crate::state::SimState;

/// Most ids `POST /comment/list` and `POST /worklog/list` accept.
pub const MAX_LIST_IDS: usize = 1_000;
/// Worklogs per `worklog/updated` and `worklog/deleted` page.
pub const CHANGED_PAGE: usize = 1_000;
/// `maxResults` Jira reports on a `comment/list` page (all comments come on one page).
pub const COMMENT_LIST_MAX: usize = 1_048_576;
/// `(original, remaining, spent)` seconds.
pub type Times = (Option<u64>, Option<u64>, u64);

/// Changes younger than this are left out of `worklog/updated` and `worklog/deleted`.
pub const SETTLE_MS: i64 = 60_000;

impl Render<'_> {
    /// The time-tracking, watcher and vote fields of an issue, as Jira renders them.
    pub fn tracking_field(&self, out: &mut String, field: &str, issue: &Issue) {
        let t = &issue.tracking;
        let spent = issue.time_spent();
        let secs = |out: &mut String, v: Option<u64>| match v {
            Some(s) => {
                let _ = write!(out, "{s}");
            }
            None => out.push_str("null"),
        };
        let nonzero = |s: u64| Some(s).filter(|s| *s > 0);
        let progress = |out: &mut String, spent: u64, remaining: Option<u64>| {
            let total = spent + remaining.unwrap_or(0);
            let mut o = Obj::new(out);
            o.num("progress", spent).num("total", total);
            if let Some(percent) = (spent * 100).checked_div(total) {
                o.num("percent", percent);
            }
            o.end();
        };
        match field {
            "watches" => {
                let mut o = Obj::new(out);
                o.str(
                    "self",
                    &format!("{}/issue/{}/watchers", self.api, issue.key),
                )
                .num("watchCount", t.watchers.len())
                .bool("isWatching", self.viewer_in(&t.watchers));
                o.end();
            }
            "votes" => {
                let mut o = Obj::new(out);
                o.str("self", &format!("{}/issue/{}/votes", self.api, issue.key))
                    .num("votes", t.voters.len())
                    .bool("hasVoted", self.viewer_in(&t.voters));
                o.end();
            }
            "timeoriginalestimate" => secs(out, t.original_estimate),
            "timeestimate" => secs(out, t.remaining_estimate),
            "timespent" => secs(out, nonzero(spent)),
            "workratio" => match t.original_estimate {
                Some(o) if o > 0 => {
                    let _ = write!(out, "{}", spent * 100 / o);
                }
                _ => out.push_str("-1"),
            },
            "timetracking" => {
                let mut o = Obj::new(out);
                if let Some(s) = t.original_estimate {
                    o.str("originalEstimate", &duration(s));
                }
                if let Some(s) = t.remaining_estimate {
                    o.str("remainingEstimate", &duration(s));
                }
                if spent > 0 {
                    o.str("timeSpent", &duration(spent));
                }
                if let Some(s) = t.original_estimate {
                    o.num("originalEstimateSeconds", s);
                }
                if let Some(s) = t.remaining_estimate {
                    o.num("remainingEstimateSeconds", s);
                }
                if spent > 0 {
                    o.num("timeSpentSeconds", spent);
                }
                o.end();
            }
            "progress" => progress(out, spent, t.remaining_estimate),
            "aggregatetimeoriginalestimate" => secs(out, self.aggregate(issue).0),
            "aggregatetimeestimate" => secs(out, self.aggregate(issue).1),
            "aggregatetimespent" => secs(out, nonzero(self.aggregate(issue).2)),
            "aggregateprogress" => {
                let (_, remaining, spent) = self.aggregate(issue);
                progress(out, spent, remaining);
            }
            _ => out.push_str("null"),
        }
    }

    fn aggregate(&self, issue: &Issue) -> Times {
        if let Some((id, times)) = *self.aggregates.borrow()
            && id == issue.id
        {
            return times;
        }
        let subtask = self
            .data
            .catalog()
            .issue_type(&issue.issue_type)
            .is_some_and(|t| t.subtask);
        let times = if subtask {
            let t = &issue.tracking;
            (
                t.original_estimate,
                t.remaining_estimate,
                issue.time_spent(),
            )
        } else {
            self.data.aggregate_times(issue)
        };
        *self.aggregates.borrow_mut() = Some((issue.id, times));
        times
    }

    fn viewer_in(&self, accounts: &[String]) -> bool {
        self.viewer
            .as_deref()
            .is_some_and(|v| accounts.iter().any(|a| a == v))
    }
}

/// Reads a Jira duration: `1w 2d 3h 4m` (8-hour days, 5-day weeks) or a bare number of
/// minutes; zero is allowed.
pub fn parse_estimate(text: &str) -> Option<u64> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    if text.bytes().all(|b| b.is_ascii_digit()) {
        return text.parse::<u64>().ok().map(|m| m * 60);
    }
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
    Some(total)
}

/// `fields.timetracking` or an `update.timetracking` `edit`/`set` argument → a change.
pub fn timetracking_change(value: &Value) -> Result<FieldChange, String> {
    let Value::Object(map) = value else {
        return Err("Operation value must be an object".to_owned());
    };
    let read = |key: &str, which: &str| -> Result<Option<Option<u64>>, String> {
        match map.get(key) {
            None => Ok(None),
            Some(Value::Null) => Ok(Some(None)),
            Some(Value::String(s)) if s.trim().is_empty() => Ok(Some(None)),
            Some(Value::String(s)) => parse_estimate(s)
                .map(|v| Some(Some(v)))
                .ok_or_else(|| format!("The {which} estimate specified is not valid.")),
            Some(_) => Err(format!("The {which} estimate specified is not valid.")),
        }
    };
    Ok(FieldChange::TimeTracking {
        original: read("originalEstimate", "original")?,
        remaining: read("remainingEstimate", "remaining")?,
    })
}

fn estimate_param(params: &Params, key: &str, message: &str) -> Result<u64, ApiError> {
    params
        .get(key)
        .and_then(parse_estimate)
        .ok_or_else(|| ApiError::platform(StatusCode::BAD_REQUEST, &[], &[(key, message)]))
}

/// `adjustEstimate` with `newEstimate`, `reduceBy` (adding) or `increaseBy` (deleting).
pub fn adjust_param(params: &Params, deleting: bool) -> Result<Adjust, ApiError> {
    match params.get("adjustEstimate").map(str::trim) {
        None | Some("" | "auto") => Ok(Adjust::Auto),
        Some("leave") => Ok(Adjust::Leave),
        Some("new") => estimate_param(
            params,
            "newEstimate",
            "You must supply a valid new estimate.",
        )
        .map(Adjust::New),
        Some("manual") if deleting => estimate_param(
            params,
            "increaseBy",
            "You must supply a valid amount to increase the estimate by.",
        )
        .map(Adjust::Manual),
        Some("manual") => estimate_param(
            params,
            "reduceBy",
            "You must supply a valid amount to reduce the estimate by.",
        )
        .map(Adjust::Manual),
        Some(other) => Err(ApiError::platform_bad_request(&format!(
            "The adjustEstimate value '{other}' is invalid; use auto, new, leave or manual."
        ))),
    }
}

/// The parts of a worklog body: comment, start and time spent, each `None` when absent.
pub fn worklog_parts(
    version: ApiVersion,
    body: &Map<String, Value>,
) -> Result<WorklogEdit, ApiError> {
    let seconds = match (body.get("timeSpentSeconds"), body.get("timeSpent")) {
        (Some(v), _) => Some(v.as_u64().unwrap_or(0)),
        (None, Some(Value::String(text))) => {
            Some(super::comments::parse_duration(text).unwrap_or(0))
        }
        (None, Some(_)) => Some(0),
        (None, None) => None,
    };
    let started = match body.get("started") {
        None | Some(Value::Null) => None,
        Some(v) => Some(v.as_str().and_then(params::parse_datetime).ok_or_else(|| {
            ApiError::platform(
                StatusCode::BAD_REQUEST,
                &[],
                &[("started", "Invalid date format. Please enter the date in the format \"yyyy-MM-dd'T'HH:mm:ss.SSSZ\".")],
            )
        })?),
    };
    let comment = match body.get("comment") {
        None => None,
        Some(Value::Null) => Some(None),
        Some(Value::String(s)) if version == ApiVersion::V2 => Some(Some(adf::from_wiki(s))),
        Some(doc) if version == ApiVersion::V3 && adf::is_doc(doc) => Some(Some(doc.clone())),
        Some(_) => {
            return Err(ApiError::platform(
                StatusCode::BAD_REQUEST,
                &[],
                &[(
                    "comment",
                    "Comment must be an Atlassian Document in API version 3 and a string in version 2.",
                )],
            ));
        }
    };
    Ok(WorklogEdit {
        comment,
        started,
        time_spent_seconds: seconds,
    })
}

/// Logs work on `id` with `edit`'s parts (`started` defaults to now).
pub fn new_worklog(edit: WorklogEdit, now: i64) -> NewWorklog {
    NewWorklog {
        comment: edit.comment.flatten(),
        started: edit.started.unwrap_or(now),
        time_spent_seconds: edit.time_spent_seconds.unwrap_or(0),
    }
}

fn user_not_found(account_id: &str) -> ApiError {
    ApiError::platform(
        StatusCode::NOT_FOUND,
        &[&format!(
            "The user with account ID '{account_id}' does not exist."
        )],
        &[],
    )
}

fn worklog_not_found(id: &str) -> ApiError {
    ApiError::platform(
        StatusCode::NOT_FOUND,
        &[&format!("Can not find a worklog for the id: {id}.")],
        &[],
    )
}

async fn get_watchers(
    State(state): State<SimState>,
    version: ApiVersion,
    caller: Caller,
    Path(key): Path<String>,
) -> Result<Response, ApiError> {
    caller.require("getIssueWatchers")?;
    let entry = data::site(&state, &caller.site);
    let site = entry.read();
    let issue = site.issue(&key).ok_or_else(issue_not_found)?;
    let render = Render::for_caller(&site, &caller, state.base_url(), version);
    let watchers = &issue.tracking.watchers;
    let mut out = String::new();
    let mut o = Obj::new(&mut out);
    o.str(
        "self",
        &format!("{}/issue/{}/watchers", render.api, issue.key),
    )
    .bool("isWatching", watchers.contains(&caller.user.account_id))
    .num("watchCount", watchers.len());
    push_array(o.key("watchers"), watchers, |out, a| render.user(out, a));
    o.end();
    Ok(params::json(StatusCode::OK, out, 1))
}

async fn add_watcher(
    State(state): State<SimState>,
    caller: Caller,
    Path(key): Path<String>,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    caller.require("addWatcher")?;
    let account = if bytes.iter().all(u8::is_ascii_whitespace) {
        caller.user.account_id.clone()
    } else {
        match params::body::<Value>(&bytes)? {
            Value::String(s) if !s.trim().is_empty() => s.trim().to_owned(),
            _ => return Err(ApiError::platform_bad_request(params::INVALID_PAYLOAD)),
        }
    };
    let entry = data::site(&state, &caller.site);
    let id = {
        let site = entry.read();
        let id = site.resolve(&key).ok_or_else(issue_not_found)?;
        if site.user(&account).is_none() {
            return Err(user_not_found(&account));
        }
        id
    };
    state.check_issue_write(&caller.site, &id.to_string())?;
    let now = data::now_ms(&state);
    entry
        .write()
        .add_watcher(id, &account, now)
        .map_err(data_error)?;
    Ok(params::no_content())
}

async fn remove_watcher(
    State(state): State<SimState>,
    caller: Caller,
    Path(key): Path<String>,
    params: Params,
) -> Result<Response, ApiError> {
    caller.require("removeWatcher")?;
    let entry = data::site(&state, &caller.site);
    let id = entry.read().resolve(&key).ok_or_else(issue_not_found)?;
    let account = match params.get("accountId").map(str::trim) {
        Some(a) if !a.is_empty() => a.to_owned(),
        _ => {
            return Err(ApiError::platform_bad_request(
                "The accountId query parameter must be provided.",
            ));
        }
    };
    if entry.read().user(&account).is_none() {
        return Err(user_not_found(&account));
    }
    state.check_issue_write(&caller.site, &id.to_string())?;
    let now = data::now_ms(&state);
    entry
        .write()
        .remove_watcher(id, &account, now)
        .map_err(data_error)?;
    Ok(params::no_content())
}

async fn get_votes(
    State(state): State<SimState>,
    version: ApiVersion,
    caller: Caller,
    Path(key): Path<String>,
) -> Result<Response, ApiError> {
    caller.require("getVotes")?;
    let entry = data::site(&state, &caller.site);
    let site = entry.read();
    let issue = site.issue(&key).ok_or_else(issue_not_found)?;
    let render = Render::for_caller(&site, &caller, state.base_url(), version);
    let voters = &issue.tracking.voters;
    let mut out = String::new();
    let mut o = Obj::new(&mut out);
    o.str("self", &format!("{}/issue/{}/votes", render.api, issue.key))
        .num("votes", voters.len())
        .bool("hasVoted", voters.contains(&caller.user.account_id));
    push_array(o.key("voters"), voters, |out, a| render.user(out, a));
    o.end();
    Ok(params::json(StatusCode::OK, out, 1))
}

/// Vote refusals answer 404, as Jira's vote resource does.
fn vote_error(e: DataError) -> ApiError {
    match e {
        DataError::Invalid(message) => ApiError::platform(StatusCode::NOT_FOUND, &[&message], &[]),
        other => data_error(other),
    }
}

async fn add_vote(
    State(state): State<SimState>,
    caller: Caller,
    Path(key): Path<String>,
) -> Result<Response, ApiError> {
    caller.require("addVote")?;
    vote(&state, &caller, &key, crate::data::SiteData::add_vote)
}

async fn remove_vote(
    State(state): State<SimState>,
    caller: Caller,
    Path(key): Path<String>,
) -> Result<Response, ApiError> {
    caller.require("removeVote")?;
    vote(&state, &caller, &key, crate::data::SiteData::remove_vote)
}

/// Casts or withdraws the caller's vote on `key` with `change` (Jira answers a refused vote 404).
fn vote(
    state: &SimState,
    caller: &Caller,
    key: &str,
    change: fn(&mut crate::data::SiteData, u64, &str, i64) -> Result<(), DataError>,
) -> Result<Response, ApiError> {
    let entry = data::site(state, &caller.site);
    let id = entry.read().resolve(key).ok_or_else(issue_not_found)?;
    state.check_issue_write(&caller.site, &id.to_string())?;
    let now = data::now_ms(state);
    change(&mut entry.write(), id, &caller.user.account_id, now).map_err(vote_error)?;
    Ok(params::no_content())
}

async fn assign(
    State(state): State<SimState>,
    caller: Caller,
    Path(key): Path<String>,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    caller.require("assignIssue")?;
    let body: Map<String, Value> = params::body(&bytes)?;
    let given: Vec<(&str, &Value)> = ["accountId", "name", "key"]
        .iter()
        .filter_map(|k| body.get(*k).map(|v| (*k, v)))
        .collect();
    let value = match given.as_slice() {
        [] => {
            return Err(ApiError::platform_bad_request(
                "One of 'accountId', 'name' or 'key' must be provided.",
            ));
        }
        [(_, v)] => *v,
        _ => {
            return Err(ApiError::platform_bad_request(
                "Only one of 'accountId', 'name' or 'key' may be provided.",
            ));
        }
    };
    let entry = data::site(&state, &caller.site);
    let (id, target) = {
        let site = entry.read();
        let issue = site.issue(&key).ok_or_else(issue_not_found)?;
        let target = match value {
            Value::Null => None,
            // The project's default assignee: its lead when the lead can take issues.
            Value::String(s) if s == "-1" => site
                .catalog()
                .project(issue.project_id)
                .and_then(|p| site.user(&p.lead))
                .filter(|u| u.active)
                .map(|u| u.account_id.clone()),
            Value::String(s) => Some(s.clone()),
            _ => return Err(ApiError::platform_bad_request(params::INVALID_PAYLOAD)),
        };
        (issue.id, target)
    };
    state.check_issue_write(&caller.site, &id.to_string())?;
    let now = data::now_ms(&state);
    entry
        .write()
        .edit_issue(
            id,
            vec![FieldChange::Assignee(target)],
            &caller.user.account_id,
            now,
        )
        .map_err(data_error)?;
    Ok(params::no_content())
}

fn account_ids(value: Option<&Value>) -> Vec<String> {
    value
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|u| u.get("accountId").and_then(Value::as_str))
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

async fn notify(
    State(state): State<SimState>,
    caller: Caller,
    Path(key): Path<String>,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    caller.require("notify")?;
    let body: Map<String, Value> = params::body(&bytes)?;
    let text = |k: &str| -> Result<String, ApiError> {
        match body.get(k) {
            None | Some(Value::Null) => Ok(String::new()),
            Some(Value::String(s)) => Ok(s.clone()),
            Some(_) => Err(ApiError::platform_bad_request(params::INVALID_PAYLOAD)),
        }
    };
    let (subject, text_body, html_body) = (text("subject")?, text("textBody")?, text("htmlBody")?);
    let to = match body.get("to") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(m)) => m.clone(),
        Some(_) => return Err(ApiError::platform_bad_request(params::INVALID_PAYLOAD)),
    };
    let flag = |k: &str| to.get(k).and_then(Value::as_bool).unwrap_or(false);
    let entry = data::site(&state, &caller.site);
    let now = data::now_ms(&state);
    let notification = {
        let site = entry.read();
        let issue = site.issue(&key).ok_or_else(issue_not_found)?;
        let mut recipients: BTreeSet<String> = BTreeSet::new();
        for account in account_ids(to.get("users")) {
            if site.user(&account).is_none() {
                return Err(ApiError::platform_bad_request(&format!(
                    "User with accountId '{account}' does not exist."
                )));
            }
            recipients.insert(account);
        }
        if flag("assignee") {
            recipients.extend(issue.assignee.clone());
        }
        if flag("reporter") {
            recipients.extend(issue.reporter.clone());
        }
        if flag("watchers") {
            recipients.extend(issue.tracking.watchers.iter().cloned());
        }
        if flag("voters") {
            recipients.extend(issue.tracking.voters.iter().cloned());
        }
        recipients.remove(&caller.user.account_id);
        let groups: Vec<String> = to
            .get("groups")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|g| g.get("name").and_then(Value::as_str))
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        if recipients.is_empty() && groups.is_empty() {
            return Err(ApiError::platform_bad_request(
                "No recipients were defined for notification.",
            ));
        }
        Notification {
            issue_id: issue.id,
            from: caller.user.account_id.clone(),
            subject: if subject.is_empty() {
                format!("[JIRA] ({}) {}", issue.key, issue.summary)
            } else {
                subject
            },
            text_body,
            html_body,
            recipients: recipients.into_iter().collect(),
            groups,
            at: now,
        }
    };
    entry.write().record_notification(notification);
    Ok(params::no_content())
}

fn worklog_id(text: &str) -> Result<u64, ApiError> {
    text.parse().map_err(|_| worklog_not_found(text))
}

fn worklog_response(
    state: &SimState,
    caller: &Caller,
    version: ApiVersion,
    issue_id: u64,
    worklog: &data::Worklog,
) -> Response {
    let entry = data::site(state, &caller.site);
    let site = entry.read();
    let render = Render::for_caller(&site, caller, state.base_url(), version);
    let mut out = String::new();
    render.worklog(&mut out, issue_id, worklog);
    params::json(StatusCode::OK, out, 1)
}

async fn get_worklog(
    State(state): State<SimState>,
    version: ApiVersion,
    caller: Caller,
    Path((key, wid)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    caller.require("getWorklog")?;
    let entry = data::site(&state, &caller.site);
    let (id, worklog) = {
        let site = entry.read();
        let issue = site.issue(&key).ok_or_else(issue_not_found)?;
        let worklog = issue
            .worklogs
            .iter()
            .find(|w| w.id.to_string() == wid)
            .cloned()
            .ok_or_else(|| worklog_not_found(&wid))?;
        (issue.id, worklog)
    };
    Ok(worklog_response(&state, &caller, version, id, &worklog))
}

async fn update_worklog(
    State(state): State<SimState>,
    version: ApiVersion,
    caller: Caller,
    Path((key, wid)): Path<(String, String)>,
    params: Params,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    caller.require("updateWorklog")?;
    let adjust = match adjust_param(&params, false)? {
        // `manual` is not offered when updating.
        Adjust::Manual(_) => Adjust::Auto,
        a => a,
    };
    let body: Map<String, Value> = params::body(&bytes)?;
    let edit = worklog_parts(version, &body)?;
    let worklog_id = worklog_id(&wid)?;
    let entry = data::site(&state, &caller.site);
    let id = entry.read().resolve(&key).ok_or_else(issue_not_found)?;
    state.check_issue_write(&caller.site, &id.to_string())?;
    let now = data::now_ms(&state);
    let result =
        entry
            .write()
            .update_worklog(id, worklog_id, edit, adjust, &caller.user.account_id, now);
    let worklog = match result {
        Ok(w) => w,
        Err(DataError::ItemNotFound(_)) => return Err(worklog_not_found(&wid)),
        Err(e) => return Err(data_error(e)),
    };
    Ok(worklog_response(&state, &caller, version, id, &worklog))
}

async fn delete_worklog(
    State(state): State<SimState>,
    caller: Caller,
    Path((key, wid)): Path<(String, String)>,
    params: Params,
) -> Result<Response, ApiError> {
    caller.require("deleteWorklog")?;
    let adjust = adjust_param(&params, true)?;
    let worklog_id = worklog_id(&wid)?;
    let entry = data::site(&state, &caller.site);
    let id = entry.read().resolve(&key).ok_or_else(issue_not_found)?;
    state.check_issue_write(&caller.site, &id.to_string())?;
    let now = data::now_ms(&state);
    let result = entry
        .write()
        .delete_worklog(id, worklog_id, adjust, &caller.user.account_id, now);
    match result {
        Ok(()) => Ok(params::no_content()),
        Err(DataError::ItemNotFound(_)) => Err(worklog_not_found(&wid)),
        Err(e) => Err(data_error(e)),
    }
}

/// The `ids` of a `{"ids":[…]}` body: 1 to 1,000 numbers.
fn list_ids(bytes: &[u8], what: &str) -> Result<Vec<u64>, ApiError> {
    let body: Map<String, Value> = params::body(bytes)?;
    let Some(Value::Array(items)) = body.get("ids") else {
        return Err(ApiError::platform_bad_request(params::INVALID_PAYLOAD));
    };
    let ids: Option<Vec<u64>> = items
        .iter()
        .map(|v| match v {
            Value::Number(n) => n.as_u64(),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        })
        .collect();
    let ids = ids.ok_or_else(|| ApiError::platform_bad_request(params::INVALID_PAYLOAD))?;
    if ids.is_empty() || ids.len() > MAX_LIST_IDS {
        return Err(ApiError::platform_bad_request(&format!(
            "The number of {what} IDs must be between 1 and {MAX_LIST_IDS}."
        )));
    }
    let unique: BTreeSet<u64> = ids.into_iter().collect();
    Ok(unique.into_iter().collect())
}

async fn comment_list(
    State(state): State<SimState>,
    version: ApiVersion,
    caller: Caller,
    params: Params,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    caller.require("getCommentsByIds")?;
    let ids = list_ids(&bytes, "comment")?;
    let rendered = params.list("expand").iter().any(|e| e == "renderedBody");
    let entry = data::site(&state, &caller.site);
    let site = entry.read();
    let found: Vec<(u64, data::Comment)> = ids
        .iter()
        .filter_map(|id| site.comment_by_id(*id))
        .collect();
    let render = Render::for_caller(&site, &caller, state.base_url(), version);
    let mut out = String::new();
    let mut o = Obj::new(&mut out);
    o.bool("isLast", true)
        .num("maxResults", COMMENT_LIST_MAX)
        .num("startAt", 0)
        .num("total", found.len());
    push_array(o.key("values"), &found, |out, (issue, c)| {
        render.comment(out, *issue, c, rendered);
    });
    o.end();
    Ok(params::json(StatusCode::OK, out, found.len() as u64))
}

async fn worklog_list(
    State(state): State<SimState>,
    version: ApiVersion,
    caller: Caller,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    caller.require("getWorklogsForIds")?;
    let ids = list_ids(&bytes, "worklog")?;
    let entry = data::site(&state, &caller.site);
    let site = entry.read();
    let found: Vec<(u64, data::Worklog)> = ids
        .iter()
        .filter_map(|id| site.worklog_by_id(*id))
        .collect();
    let render = Render::for_caller(&site, &caller, state.base_url(), version);
    let mut out = String::new();
    push_array(&mut out, &found, |out, (issue, w)| {
        render.worklog(out, *issue, w);
    });
    Ok(params::json(StatusCode::OK, out, found.len() as u64))
}

fn changed_page(api: &str, path: &str, since: i64, found: &[(u64, i64)], props: bool) -> String {
    let last_page = found.len() <= CHANGED_PAGE;
    let page = &found[..found.len().min(CHANGED_PAGE)];
    let until = page.last().map_or(since, |(_, at)| *at);
    let mut out = String::new();
    let mut o = Obj::new(&mut out);
    push_array(o.key("values"), page, |out, (id, at)| {
        let mut v = Obj::new(out);
        v.num("worklogId", *id).num("updatedTime", *at);
        if props {
            v.raw("properties", "[]");
        }
        v.end();
    });
    o.num("since", since)
        .num("until", until)
        .str("self", &format!("{api}{path}?since={since}"))
        .str("nextPage", &format!("{api}{path}?since={until}"))
        .bool("lastPage", last_page);
    o.end();
    out
}

async fn worklogs_updated(
    State(state): State<SimState>,
    version: ApiVersion,
    caller: Caller,
    params: Params,
) -> Result<Response, ApiError> {
    caller.require("getIdsOfWorklogsModifiedSince")?;
    let since = params.int("since", 0)?;
    let entry = data::site(&state, &caller.site);
    let site = entry.read();
    let until = data::now_ms(&state) - SETTLE_MS;
    let found = site.worklogs_updated(since, until, CHANGED_PAGE + 1);
    let api = format!("{}/rest/api/{}", caller.base, version.segment());
    let out = changed_page(&api, "/worklog/updated", since, &found, true);
    Ok(params::json(StatusCode::OK, out, 1))
}

async fn worklogs_deleted(
    State(state): State<SimState>,
    version: ApiVersion,
    caller: Caller,
    params: Params,
) -> Result<Response, ApiError> {
    caller.require("getIdsOfWorklogsDeletedSince")?;
    let since = params.int("since", 0)?;
    let entry = data::site(&state, &caller.site);
    let site = entry.read();
    let until = data::now_ms(&state) - SETTLE_MS;
    let found = site.worklogs_deleted(since, until, CHANGED_PAGE + 1);
    let api = format!("{}/rest/api/{}", caller.base, version.segment());
    let out = changed_page(&api, "/worklog/deleted", since, &found, true);
    Ok(params::json(StatusCode::OK, out, 1))
}

/// Routes of this module.
pub fn router() -> Router<SimState> {
    let mut r = Router::new();
    r = versioned(
        r,
        "/issue/{key}/watchers",
        &get(get_watchers).post(add_watcher).delete(remove_watcher),
    );
    r = versioned(
        r,
        "/issue/{key}/votes",
        &get(get_votes).post(add_vote).delete(remove_vote),
    );
    r = versioned(r, "/issue/{key}/assignee", &put(assign));
    r = versioned(r, "/issue/{key}/notify", &post(notify));
    r = versioned(
        r,
        "/issue/{key}/worklog/{id}",
        &get(get_worklog).put(update_worklog).delete(delete_worklog),
    );
    r = versioned(r, "/comment/list", &post(comment_list));
    r = versioned(r, "/worklog/list", &post(worklog_list));
    r = versioned(r, "/worklog/updated", &get(worklogs_updated));
    versioned(r, "/worklog/deleted", &get(worklogs_deleted))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn estimates_parse_like_jira() {
        assert_eq!(parse_estimate("1w 2d"), Some(56 * 3600));
        assert_eq!(parse_estimate("0m"), Some(0));
        assert_eq!(parse_estimate("90"), Some(5_400));
        assert_eq!(parse_estimate("soon"), None);
        assert_eq!(parse_estimate(" "), None);
    }

    #[test]
    fn timetracking_values_read_both_estimates() {
        let change = timetracking_change(
            &serde_json::json!({"originalEstimate":"1d","remainingEstimate":null}),
        )
        .expect("valid");
        assert_eq!(
            change,
            FieldChange::TimeTracking {
                original: Some(Some(8 * 3600)),
                remaining: Some(None),
            }
        );
        assert!(timetracking_change(&serde_json::json!({"originalEstimate":"x"})).is_err());
    }
}
