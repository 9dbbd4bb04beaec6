//! Agile issue lists and single issues, epics, and moving issues to the backlog or an epic.
//!
//! Issue lists (`/board/{id}/issue`, `…/backlog`, `…/sprint/{id}/issue`, `/sprint/{id}/issue`,
//! `/epic/{k}/issue`, `/epic/none/issue`…) run the board's filter JQL and the request's `jql`
//! together with the site's JQL engine, then keep the issues the list is about (in a sprint,
//! under an epic…). The order is the request's `ORDER BY`, else the filter's; `ORDER BY Rank`
//! is the issues' creation order. Issues are the platform's version-2 `IssueBean`s plus the
//! Agile fields `sprint`, `closedSprints`, `flagged` and `epic`, with `self` under
//! `/rest/agile/1.0`.

use std::collections::BTreeSet;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post, put};
use serde::Deserialize;
use serde_json::{Value, json};

use super::model::{ESTIMATION_FIELD, SprintState};
use super::{PREFIX, bad_request, board_not_found, path_id, require};
use crate::auth::Caller;
use crate::data::generate::DONE;
use crate::data::model::FIRST_ISSUE_ID;
use crate::data::{self, Consistency, CustomValue, Searcher, SiteContext, SiteData};
use crate::errors::ApiError;
use crate::jql::{Clause, Field, JqlErrors, Query};
use crate::platform::ApiVersion;
use crate::platform::fields::{DefaultFields, Selection};
use crate::platform::params::{self, Params, issue_not_found};
use crate::platform::render::{Expand, IssueOptions, Render};
use crate::state::SimState;

/// Most issues per page.
pub const MAX_ISSUES: i64 = 100;
/// Most issues one move request may name.
pub const MAX_MOVE: usize = 50;

/// Which issues of the searched set a list keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keep {
    /// Every matching issue.
    All,
    /// Scrum backlog: not done, in no open sprint, not an epic.
    ScrumBacklog,
    /// Kanban backlog: issues in a `To Do` status.
    KanbanBacklog,
    /// Issues in this sprint.
    Sprint(u64),
    /// Issues whose epic is this issue.
    Epic(u64),
    /// Standard issues without an epic.
    NoEpic,
}

/// Routes of this module.
pub fn router() -> Router<SimState> {
    Router::new()
        .route(&format!("{PREFIX}/issue/{{key}}"), get(get_issue))
        .route(
            &format!("{PREFIX}/issue/{{key}}/estimation"),
            get(get_estimation),
        )
        .route(&format!("{PREFIX}/issue/rank"), put(rank_issues))
        .route(&format!("{PREFIX}/backlog/issue"), post(move_to_backlog))
        .route(
            &format!("{PREFIX}/epic/none/issue"),
            get(no_epic_issues).post(remove_from_epic),
        )
        .route(&format!("{PREFIX}/epic/{{key}}"), get(get_epic))
        .route(
            &format!("{PREFIX}/epic/{{key}}/issue"),
            get(epic_issues).post(move_to_epic),
        )
}

fn jql_error(errors: &JqlErrors) -> ApiError {
    let messages = errors.messages();
    let refs: Vec<&str> = messages.iter().map(String::as_str).collect();
    ApiError::platform(StatusCode::BAD_REQUEST, &refs, &[])
}

fn is_rank(field: &Field) -> bool {
    matches!(field, Field::Named(n) if n.eq_ignore_ascii_case("rank"))
}

impl SiteData {
    /// The parent of an issue (epic or, for sub-tasks, the standard issue), computed without
    /// building generated issues.
    pub fn parent_of(&self, id: u64) -> Option<u64> {
        if self.overlay.contains_key(&id) {
            return self.issue_by_id(id)?.parent;
        }
        let index = id.checked_sub(FIRST_ISSUE_ID)?;
        let row = self.generator.row(&self.catalog, index)?;
        self.generator
            .parent_index(&self.catalog, &row)
            .map(|i| FIRST_ISSUE_ID + i)
    }

    /// Whether an existing issue is an epic (hierarchy level 1).
    pub fn is_epic(&self, id: u64) -> bool {
        self.link_view(id).is_some_and(|v| {
            self.catalog
                .issue_type(&v.issue_type)
                .is_some_and(|t| t.hierarchy_level == 1)
        })
    }

    /// Whether an existing issue is a sub-task.
    pub fn is_subtask(&self, id: u64) -> bool {
        self.link_view(id).is_some_and(|v| {
            self.catalog
                .issue_type(&v.issue_type)
                .is_some_and(|t| t.subtask)
        })
    }

    /// The epic of an issue: its parent when that is an epic.
    pub fn epic_of(&self, id: u64) -> Option<u64> {
        self.parent_of(id).filter(|p| self.is_epic(*p))
    }

    /// What the lists look at, read from the generated row when the issue is unchanged (no
    /// issue is built, so scanning a million issues stays cheap).
    fn facts(&self, id: u64) -> Option<Facts<'_>> {
        if !self.overlay.contains_key(&id)
            && let Some(row) = id
                .checked_sub(FIRST_ISSUE_ID)
                .filter(|i| *i < self.generator.total)
                .and_then(|i| self.generator.row(&self.catalog, i))
        {
            let issue_type = self.catalog.issue_types.get(row.issue_type)?;
            let status = self.catalog.statuses.get(row.status)?;
            return Some(Facts {
                level: issue_type.hierarchy_level,
                category: self.catalog.category_of(&status.id),
                parent: self
                    .generator
                    .parent_index(&self.catalog, &row)
                    .map(|i| FIRST_ISSUE_ID + i),
                row: Some(row),
            });
        }
        let issue = self.issue_by_id(id)?;
        let level = self
            .catalog
            .issue_type(&issue.issue_type)
            .map_or(0, |t| t.hierarchy_level);
        let category = self
            .catalog
            .statuses
            .iter()
            .find(|s| s.id == issue.status)
            .map_or("", |s| self.catalog.category_of(&s.id));
        Some(Facts {
            level,
            category,
            parent: issue.parent,
            row: None,
        })
    }

    fn sprints_of_facts(&self, id: u64, facts: &Facts<'_>) -> Vec<u64> {
        match &facts.row {
            Some(row) => self.sprint_ids_of_row(row),
            None => self.sprint_ids(id),
        }
    }

    /// Whether issue `id` belongs to a list.
    pub fn keeps(&self, keep: Keep, id: u64) -> bool {
        if keep == Keep::All {
            return true;
        }
        let Some(facts) = self.facts(id) else {
            return false;
        };
        match keep {
            Keep::All => true,
            Keep::ScrumBacklog => {
                facts.level < 1
                    && facts.category != DONE
                    && !self
                        .sprints_of_facts(id, &facts)
                        .iter()
                        .any(|s| self.sprint_state(*s).is_some_and(SprintState::is_open))
            }
            Keep::KanbanBacklog => facts.level < 1 && facts.category == crate::data::generate::NEW,
            Keep::Sprint(sprint) => self.sprints_of_facts(id, &facts).contains(&sprint),
            Keep::Epic(epic) => facts.parent == Some(epic),
            Keep::NoEpic => facts.level == 0 && facts.parent.is_none_or(|p| !self.is_epic(p)),
        }
    }
}

/// An issue's type level, status category, parent and (for unchanged generated issues) row.
struct Facts<'a> {
    level: i32,
    category: &'a str,
    parent: Option<u64>,
    row: Option<crate::data::generate::GenRow>,
}

/// Runs `base` (a board's filter) and the request's `jql` together and keeps what `keep`
/// selects, in order.
pub fn search(
    state: &SimState,
    caller: &Caller,
    site: &SiteData,
    base: Option<&str>,
    params: &Params,
    keep: Keep,
) -> Result<Vec<u64>, ApiError> {
    let base = match base {
        Some(text) => Some(crate::jql::parse(text).map_err(|e| jql_error(&e))?),
        None => None,
    };
    let user = match params.get("jql").map(str::trim).filter(|j| !j.is_empty()) {
        Some(text) => Some(crate::jql::parse(text).map_err(|e| jql_error(&e))?),
        None => None,
    };
    let clauses: Vec<Clause> = [&base, &user]
        .into_iter()
        .flatten()
        .filter_map(|q| q.where_clause.clone())
        .collect();
    let where_clause = match clauses.len() {
        0 => None,
        1 => clauses.into_iter().next(),
        _ => Some(Clause::And(clauses)),
    };
    let order = match (&user, &base) {
        (Some(u), _) if !u.order_by.is_empty() => u.order_by.clone(),
        (_, Some(b)) => b.order_by.clone(),
        _ => Vec::new(),
    };
    let by_rank = order.is_empty() || order.first().is_some_and(|o| is_rank(&o.field));
    let query = Query {
        where_clause,
        order_by: order.into_iter().filter(|o| !is_rank(&o.field)).collect(),
    };
    let now = data::now_ms(state);
    let searcher = Searcher {
        account_id: Some(&caller.user.account_id),
        time_zone: &caller.user.time_zone,
        now_ms: now,
    };
    let compiled = query
        .compile(&SiteContext::new(site, searcher))
        .map_err(|e| jql_error(&e))?;
    let none = BTreeSet::new();
    let mut ids = site.search(
        &compiled,
        Consistency {
            indexed_until: i64::MAX,
            reconcile: &none,
        },
    );
    ids.retain(|id| site.keeps(keep, *id));
    if by_rank {
        let agile = site.agile();
        ids.sort_by(|a, b| agile.rank_of(*a).total_cmp(&agile.rank_of(*b)));
    }
    Ok(ids)
}

fn wants(tokens: &[String], name: &str) -> bool {
    if tokens.iter().any(|t| t.strip_prefix('-') == Some(name)) {
        return false;
    }
    tokens.iter().all(|t| t.starts_with('-'))
        || tokens
            .iter()
            .any(|t| t == "*all" || t == "*navigable" || t == name)
}

/// A sprint as the Agile API shows it.
pub fn sprint_json(caller: &Caller, s: &super::model::Sprint) -> Value {
    let mut v = json!({
        "id": s.id,
        "self": super::url(caller, &format!("/sprint/{}", s.id)),
        "state": s.state.as_str(),
        "name": s.name,
        "createdDate": super::datetime(s.created),
        "originBoardId": s.board_id,
        "goal": s.goal,
    });
    for (key, at) in [
        ("startDate", s.start),
        ("endDate", s.end),
        ("completeDate", s.complete),
    ] {
        if let Some(ms) = at {
            v[key] = json!(super::datetime(ms));
        }
    }
    v
}

/// An epic as the Agile API shows it.
pub fn epic_json(caller: &Caller, site: &SiteData, id: u64) -> Option<Value> {
    let view = site.link_view(id)?;
    Some(json!({
        "id": id,
        "key": view.key,
        "self": super::url(caller, &format!("/epic/{id}")),
        "name": view.summary,
        "summary": view.summary,
        "color": { "key": format!("color_{}", id % 14 + 1) },
        "done": site.catalog().category_of(&view.status) == DONE,
    }))
}

/// One issue: the platform bean (version 2) with the Agile fields.
fn issue_json(
    caller: &Caller,
    site: &SiteData,
    render: &Render<'_>,
    opts: &IssueOptions<'_>,
    tokens: &[String],
    issue: &crate::data::Issue,
) -> Value {
    let mut out = String::new();
    render.issue(&mut out, issue, opts);
    let mut value: Value = serde_json::from_str(&out).unwrap_or(Value::Null);
    if let Some(obj) = value.as_object_mut() {
        obj.insert(
            "self".to_owned(),
            json!(super::url(caller, &format!("/issue/{}", issue.id))),
        );
    }
    if let Some(fields) = value.get_mut("fields").and_then(Value::as_object_mut) {
        let agile = site.agile();
        let sprints: Vec<&super::model::Sprint> = agile.existing(&issue.sprints).collect();
        if wants(tokens, "sprint") {
            let open = sprints
                .iter()
                .rev()
                .find(|s| s.state.is_open())
                .map_or(Value::Null, |s| sprint_json(caller, s));
            fields.insert("sprint".to_owned(), open);
        }
        if wants(tokens, "closedSprints") {
            let closed: Vec<Value> = sprints
                .iter()
                .filter(|s| s.state == SprintState::Closed)
                .map(|s| sprint_json(caller, s))
                .collect();
            if !closed.is_empty() {
                fields.insert("closedSprints".to_owned(), Value::Array(closed));
            }
        }
        if wants(tokens, "flagged") {
            fields.insert("flagged".to_owned(), json!(false));
        }
        if wants(tokens, "epic") {
            let epic = site
                .epic_of(issue.id)
                .and_then(|e| epic_json(caller, site, e))
                .unwrap_or(Value::Null);
            fields.insert("epic".to_owned(), epic);
        }
    }
    value
}

/// A page of issues, `{expand,startAt,maxResults,total,issues}`.
pub fn issues_page(
    state: &SimState,
    caller: &Caller,
    site: &SiteData,
    ids: &[u64],
    params: &Params,
) -> Result<Response, ApiError> {
    let (start, max) = super::page(params, MAX_ISSUES)?;
    let tokens = params.list("fields");
    let selection = Selection::parse(&tokens, DefaultFields::Navigable);
    let expand = Expand::parse(&params.list("expand"));
    let render = Render::for_caller(site, caller, state.base_url(), ApiVersion::V2);
    let opts = IssueOptions {
        selection: &selection,
        expand,
        properties: &[],
        changelog_cap: 20,
        comment_cap: 20,
        names_inside: false,
    };
    let issues: Vec<Value> = ids
        .iter()
        .skip(start)
        .take(max)
        .filter_map(|id| site.issue_by_id(*id))
        .map(|issue| issue_json(caller, site, &render, &opts, &tokens, &issue))
        .collect();
    let cost = issues.len() as u64;
    let body = json!({
        "expand": "schema,names",
        "startAt": start,
        "maxResults": max,
        "total": ids.len(),
        "issues": issues,
    });
    Ok(params::value(StatusCode::OK, &body, cost))
}

async fn get_issue(
    State(state): State<SimState>,
    caller: Caller,
    Path(key): Path<String>,
    params: Params,
) -> Result<Response, ApiError> {
    require(&caller, "getIssue")?;
    let entry = data::site(&state, &caller.site);
    let site = entry.read();
    let issue = site.issue(&key).ok_or_else(issue_not_found)?;
    let tokens = params.list("fields");
    let selection = Selection::parse(&tokens, DefaultFields::Navigable);
    let render = Render::for_caller(&site, &caller, state.base_url(), ApiVersion::V2);
    let opts = IssueOptions {
        selection: &selection,
        expand: Expand::parse(&params.list("expand")),
        properties: &[],
        changelog_cap: 100,
        comment_cap: usize::MAX,
        names_inside: true,
    };
    let body = issue_json(&caller, &site, &render, &opts, &tokens, &issue);
    Ok(params::value(StatusCode::OK, &body, 1))
}

async fn get_estimation(
    State(state): State<SimState>,
    caller: Caller,
    Path(key): Path<String>,
    params: Params,
) -> Result<Response, ApiError> {
    require(&caller, "getIssueEstimationForBoard")?;
    let board_id = params
        .get("boardId")
        .ok_or_else(|| bad_request("The 'boardId' parameter is required."))?;
    let board_id = path_id(board_id, board_not_found)?;
    let entry = data::site(&state, &caller.site);
    let site = entry.read();
    let issue = site.issue(&key).ok_or_else(issue_not_found)?;
    site.agile().board(board_id).ok_or_else(board_not_found)?;
    let value = match issue.custom.get(&10010) {
        Some(CustomValue::Number(n)) => json!(n),
        _ => Value::Null,
    };
    Ok(params::value(
        StatusCode::OK,
        &json!({ "fieldId": ESTIMATION_FIELD, "value": value }),
        0,
    ))
}

/// `{"issues":[…]}` of a move request.
#[derive(Debug, Deserialize)]
pub struct IssueList {
    /// Issue ids or keys.
    #[serde(default)]
    pub issues: Vec<String>,
}

/// Resolves the issues of a move request (all or nothing, ≤ 50).
pub fn resolve_moves(site: &SiteData, body: &IssueList) -> Result<Vec<u64>, ApiError> {
    if body.issues.is_empty() {
        return Err(bad_request(
            "The 'issues' list must name at least one issue.",
        ));
    }
    if body.issues.len() > MAX_MOVE {
        return Err(bad_request(&format!(
            "At most {MAX_MOVE} issues may be moved at once."
        )));
    }
    let mut ids = Vec::with_capacity(body.issues.len());
    for text in &body.issues {
        let id = site.resolve(text).ok_or_else(|| {
            bad_request(&format!(
                "Issue '{text}' does not exist or you do not have permission to see it."
            ))
        })?;
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    Ok(ids)
}

/// Moves issues (with their sub-tasks) to `target` or the backlog after the per-issue limits.
pub fn move_issues(
    state: &SimState,
    caller: &Caller,
    bytes: &Bytes,
    target: impl Fn(&SiteData) -> Result<Option<u64>, ApiError>,
) -> Result<Response, ApiError> {
    let body: IssueList = params::body(bytes)?;
    let entry = data::site(state, &caller.site);
    let (ids, sprint) = {
        let site = entry.read();
        let sprint = target(&site)?;
        let ids = resolve_moves(&site, &body)?;
        if let Some(sub) = ids.iter().find(|id| site.is_subtask(**id)) {
            return Err(bad_request(&format!(
                "Issue '{}' is a sub-task; sub-tasks move with their parent.",
                site.key_of(*sub).unwrap_or_default()
            )));
        }
        let mut all = Vec::new();
        for id in ids {
            all.push(id);
            all.extend(site.subtasks(id));
        }
        (all, sprint)
    };
    for id in &ids {
        state.check_issue_write(&caller.site, &id.to_string())?;
    }
    let now = data::now_ms(state);
    entry
        .write()
        .move_to_sprint(&ids, sprint, &caller.user.account_id, now)
        .map_err(params::data_error)?;
    Ok(params::no_content())
}

async fn move_to_backlog(
    State(state): State<SimState>,
    caller: Caller,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    require(&caller, "moveIssuesToBacklog")?;
    move_issues(&state, &caller, &bytes, |_| Ok(None))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RankRequest {
    #[serde(default)]
    issues: Vec<String>,
    rank_before_issue: Option<String>,
    rank_after_issue: Option<String>,
    rank_custom_field_id: Option<u64>,
}

async fn rank_issues(
    State(state): State<SimState>,
    caller: Caller,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    require(&caller, "rankIssues")?;
    let body: RankRequest = params::body(&bytes)?;
    if body
        .rank_custom_field_id
        .is_some_and(|f| f != super::model::RANK_FIELD_ID)
    {
        return Err(bad_request(&format!(
            "The rank field must be {}.",
            super::model::RANK_FIELD_ID
        )));
    }
    let (anchor, before) = match (&body.rank_before_issue, &body.rank_after_issue) {
        (Some(a), None) => (a.clone(), true),
        (None, Some(a)) => (a.clone(), false),
        _ => {
            return Err(bad_request(
                "Exactly one of rankBeforeIssue and rankAfterIssue must be given.",
            ));
        }
    };
    let entry = data::site(&state, &caller.site);
    let mut site = entry.write();
    let ids = resolve_moves(
        &site,
        &IssueList {
            issues: body.issues,
        },
    )?;
    let anchor_id = site.resolve(&anchor).ok_or_else(|| {
        bad_request(&format!(
            "Issue '{anchor}' does not exist or you do not have permission to see it."
        ))
    })?;
    if ids.contains(&anchor_id) {
        return Err(bad_request("An issue cannot be ranked relative to itself."));
    }
    site.agile_mut().rank(&ids, anchor_id, before);
    Ok(params::no_content())
}

/// The epic named by a path segment: 404 when missing, 400 when not an epic.
fn epic_id(site: &SiteData, key: &str) -> Result<u64, ApiError> {
    let id = site.resolve(key).ok_or_else(issue_not_found)?;
    if !site.is_epic(id) {
        return Err(bad_request(&format!("Issue '{key}' is not an epic.")));
    }
    Ok(id)
}

async fn get_epic(
    State(state): State<SimState>,
    caller: Caller,
    Path(key): Path<String>,
) -> Result<Response, ApiError> {
    require(&caller, "getEpic")?;
    let entry = data::site(&state, &caller.site);
    let site = entry.read();
    let id = epic_id(&site, &key)?;
    let body = epic_json(&caller, &site, id).ok_or_else(issue_not_found)?;
    Ok(params::value(StatusCode::OK, &body, 1))
}

async fn epic_issues(
    State(state): State<SimState>,
    caller: Caller,
    Path(key): Path<String>,
    params: Params,
) -> Result<Response, ApiError> {
    require(&caller, "getIssuesForEpic")?;
    let entry = data::site(&state, &caller.site);
    let site = entry.read();
    let id = epic_id(&site, &key)?;
    let scope = site.epic_scope(id);
    let ids = search(
        &state,
        &caller,
        &site,
        scope.as_deref(),
        &params,
        Keep::Epic(id),
    )?;
    issues_page(&state, &caller, &site, &ids, &params)
}

impl SiteData {
    /// A JQL restriction holding every issue that can be under epic `epic`: generated children
    /// are in the epic's project, any other child was written and is in the overlay.
    pub fn epic_scope(&self, epic: u64) -> Option<String> {
        let project = self
            .issue_by_id(epic)
            .and_then(|e| self.catalog.project(e.project_id))
            .map(|p| format!("project = \"{}\"", p.key))?;
        let written: Vec<String> = self
            .overlay
            .keys()
            .filter(|id| self.parent_of(**id) == Some(epic) && self.exists(**id))
            .map(u64::to_string)
            .collect();
        Some(if written.is_empty() {
            project
        } else {
            format!("{project} OR id in ({})", written.join(", "))
        })
    }
}

async fn no_epic_issues(
    State(state): State<SimState>,
    caller: Caller,
    params: Params,
) -> Result<Response, ApiError> {
    require(&caller, "getIssuesWithoutEpic")?;
    let entry = data::site(&state, &caller.site);
    let site = entry.read();
    let ids = search(&state, &caller, &site, None, &params, Keep::NoEpic)?;
    issues_page(&state, &caller, &site, &ids, &params)
}

fn set_epics(
    state: &SimState,
    caller: &Caller,
    bytes: &Bytes,
    epic: Option<&str>,
) -> Result<Response, ApiError> {
    let body: IssueList = params::body(bytes)?;
    let entry = data::site(state, &caller.site);
    let (ids, epic) = {
        let site = entry.read();
        let epic = epic.map(|k| epic_id(&site, k)).transpose()?;
        let ids = resolve_moves(&site, &body)?;
        if let Some(bad) = ids
            .iter()
            .find(|id| site.is_epic(**id) || site.is_subtask(**id))
        {
            return Err(bad_request(&format!(
                "Issue '{}' cannot be added to an epic: epics and sub-tasks have no epic.",
                site.key_of(*bad).unwrap_or_default()
            )));
        }
        // Removing the epic leaves issues whose parent is no epic alone.
        let ids: Vec<u64> = ids
            .into_iter()
            .filter(|id| epic.is_some() || site.epic_of(*id).is_some())
            .collect();
        (ids, epic)
    };
    for id in &ids {
        state.check_issue_write(&caller.site, &id.to_string())?;
    }
    let now = data::now_ms(state);
    let mut site = entry.write();
    for id in ids {
        site.set_epic(id, epic, &caller.user.account_id, now)
            .map_err(params::data_error)?;
    }
    Ok(params::no_content())
}

async fn move_to_epic(
    State(state): State<SimState>,
    caller: Caller,
    Path(key): Path<String>,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    require(&caller, "moveIssuesToEpic")?;
    set_epics(&state, &caller, &bytes, Some(&key))
}

async fn remove_from_epic(
    State(state): State<SimState>,
    caller: Caller,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    require(&caller, "removeIssuesFromEpic")?;
    set_epics(&state, &caller, &bytes, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agile_fields_follow_the_fields_parameter() {
        let t = |s: &[&str]| s.iter().map(|x| (*x).to_owned()).collect::<Vec<_>>();
        assert!(wants(&[], "sprint"));
        assert!(wants(&t(&["*navigable"]), "epic"));
        assert!(wants(&t(&["summary", "sprint"]), "sprint"));
        assert!(!wants(&t(&["summary"]), "sprint"));
        assert!(!wants(&t(&["-sprint"]), "sprint"));
        assert!(wants(&t(&["-summary"]), "sprint"));
    }
}
