//! The Jira Software (Agile) REST API, `/rest/agile/1.0/…`, on the site host and through the
//! gateway (`/ex/jira/{cloudId}/rest/agile/1.0/…`).
//!
//! | Module | Operations |
//! |---|---|
//! | [`board`] | boards (list, create, get, delete), configuration, projects, epics, sprints |
//! | [`sprint`] | sprints (create, get, update, partial update, delete), moving issues to a sprint |
//! | [`issues`] | issue lists (board, backlog, sprint, epic, no epic), agile issue, estimation, rank, backlog moves, epics |
//! | [`filter`] | the platform's saved filters (`/rest/api/{2,3,latest}/filter`) that back boards |
//! | [`model`], [`data`] | boards, sprints and filters of a site; the sprints of issues |
//! | [`render`] | the Sprint field (`customfield_10020`) of platform issues |
//!
//! Shared rules: errors are `ErrorCollection`s; pages are `{maxResults,startAt,total?,isLast,
//! values}` (issue lists `{expand,startAt,maxResults,total,issues}`), `maxResults` defaults to
//! 50; scoped callers are checked per operation against [`OPERATIONS`] (the scopes Atlassian's
//! Jira Software reference names: the classic `read:jira-work`/`write:jira-work` or the
//! granular `…:jira-software` set).

pub mod board;
pub mod data;
pub mod filter;
pub mod issues;
pub mod model;
pub mod render;
pub mod sprint;

use axum::Router;
use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::auth::Caller;
use crate::errors::ApiError;
use crate::platform::params::Params;
use crate::state::SimState;

/// Path prefix of the API.
pub const PREFIX: &str = "/rest/agile/1.0";

/// Default page size.
pub const DEFAULT_MAX: i64 = 50;

/// One operation with the scope sets that allow it.
#[derive(Debug, Clone, Copy)]
pub struct AgileOp {
    /// `operationId` in Atlassian's document.
    pub id: &'static str,
    /// Method.
    pub method: &'static str,
    /// Path template.
    pub path: &'static str,
    /// Alternative scope sets.
    pub scopes: &'static [&'static [&'static str]],
}

const READ: &[&str] = &["read:jira-work"];
const WRITE: &[&str] = &["write:jira-work"];

const fn agile(
    id: &'static str,
    method: &'static str,
    path: &'static str,
    scopes: &'static [&'static [&'static str]],
) -> AgileOp {
    AgileOp {
        id,
        method,
        path,
        scopes,
    }
}

/// Every served Agile operation and its scopes.
pub const OPERATIONS: &[AgileOp] = &[
    agile(
        "getAllBoards",
        "GET",
        "/rest/agile/1.0/board",
        &[
            READ,
            &["read:board-scope:jira-software", "read:project:jira"],
        ],
    ),
    agile(
        "createBoard",
        "POST",
        "/rest/agile/1.0/board",
        &[WRITE, &["write:board-scope:jira-software"]],
    ),
    agile(
        "getBoard",
        "GET",
        "/rest/agile/1.0/board/{boardId}",
        &[
            READ,
            &["read:board-scope:jira-software", "read:project:jira"],
        ],
    ),
    agile(
        "deleteBoard",
        "DELETE",
        "/rest/agile/1.0/board/{boardId}",
        &[WRITE, &["delete:board-scope.admin:jira-software"]],
    ),
    agile(
        "getIssuesForBacklog",
        "GET",
        "/rest/agile/1.0/board/{boardId}/backlog",
        &[
            READ,
            &["read:board-scope:jira-software", "read:issue-details:jira"],
        ],
    ),
    agile(
        "getConfiguration",
        "GET",
        "/rest/agile/1.0/board/{boardId}/configuration",
        &[
            READ,
            &["read:board-scope.admin:jira-software", "read:project:jira"],
        ],
    ),
    agile(
        "getEpics",
        "GET",
        "/rest/agile/1.0/board/{boardId}/epic",
        &[
            READ,
            &["read:board-scope:jira-software", "read:epic:jira-software"],
        ],
    ),
    agile(
        "getIssuesWithoutEpicForBoard",
        "GET",
        "/rest/agile/1.0/board/{boardId}/epic/none/issue",
        &[
            READ,
            &[
                "read:board-scope:jira-software",
                "read:epic:jira-software",
                "read:issue-details:jira",
            ],
        ],
    ),
    agile(
        "getBoardIssuesForEpic",
        "GET",
        "/rest/agile/1.0/board/{boardId}/epic/{epicId}/issue",
        &[
            READ,
            &[
                "read:board-scope:jira-software",
                "read:epic:jira-software",
                "read:issue-details:jira",
            ],
        ],
    ),
    agile(
        "getIssuesForBoard",
        "GET",
        "/rest/agile/1.0/board/{boardId}/issue",
        &[
            READ,
            &["read:board-scope:jira-software", "read:issue-details:jira"],
        ],
    ),
    agile(
        "getProjects",
        "GET",
        "/rest/agile/1.0/board/{boardId}/project",
        &[
            READ,
            &["read:board-scope:jira-software", "read:project:jira"],
        ],
    ),
    agile(
        "getAllSprints",
        "GET",
        "/rest/agile/1.0/board/{boardId}/sprint",
        &[READ, &["read:sprint:jira-software"]],
    ),
    agile(
        "getBoardIssuesForSprint",
        "GET",
        "/rest/agile/1.0/board/{boardId}/sprint/{sprintId}/issue",
        &[
            READ,
            &[
                "read:board-scope:jira-software",
                "read:sprint:jira-software",
                "read:issue-details:jira",
            ],
        ],
    ),
    agile(
        "moveIssuesToBacklog",
        "POST",
        "/rest/agile/1.0/backlog/issue",
        &[WRITE, &["write:board-scope:jira-software"]],
    ),
    agile(
        "getIssuesWithoutEpic",
        "GET",
        "/rest/agile/1.0/epic/none/issue",
        &[
            READ,
            &[
                "read:epic:jira-software",
                "read:issue-details:jira",
                "read:jql:jira",
            ],
        ],
    ),
    agile(
        "removeIssuesFromEpic",
        "POST",
        "/rest/agile/1.0/epic/none/issue",
        &[WRITE, &["write:epic:jira-software"]],
    ),
    agile(
        "getEpic",
        "GET",
        "/rest/agile/1.0/epic/{epicIdOrKey}",
        &[READ, &["read:epic:jira-software"]],
    ),
    agile(
        "getIssuesForEpic",
        "GET",
        "/rest/agile/1.0/epic/{epicIdOrKey}/issue",
        &[
            READ,
            &["read:epic:jira-software", "read:issue-details:jira"],
        ],
    ),
    agile(
        "moveIssuesToEpic",
        "POST",
        "/rest/agile/1.0/epic/{epicIdOrKey}/issue",
        &[WRITE, &["write:epic:jira-software"]],
    ),
    agile(
        "rankIssues",
        "PUT",
        "/rest/agile/1.0/issue/rank",
        &[WRITE, &["write:issue:jira-software"]],
    ),
    agile(
        "getIssue",
        "GET",
        "/rest/agile/1.0/issue/{issueIdOrKey}",
        &[READ, &["read:issue:jira-software"]],
    ),
    agile(
        "getIssueEstimationForBoard",
        "GET",
        "/rest/agile/1.0/issue/{issueIdOrKey}/estimation",
        &[READ, &["read:issue:jira-software"]],
    ),
    agile(
        "createSprint",
        "POST",
        "/rest/agile/1.0/sprint",
        &[WRITE, &["write:sprint:jira-software"]],
    ),
    agile(
        "getSprint",
        "GET",
        "/rest/agile/1.0/sprint/{sprintId}",
        &[READ, &["read:sprint:jira-software"]],
    ),
    agile(
        "updateSprint",
        "PUT",
        "/rest/agile/1.0/sprint/{sprintId}",
        &[WRITE, &["write:sprint:jira-software"]],
    ),
    agile(
        "partiallyUpdateSprint",
        "POST",
        "/rest/agile/1.0/sprint/{sprintId}",
        &[WRITE, &["write:sprint:jira-software"]],
    ),
    agile(
        "deleteSprint",
        "DELETE",
        "/rest/agile/1.0/sprint/{sprintId}",
        &[WRITE, &["delete:sprint:jira-software"]],
    ),
    agile(
        "getIssuesForSprint",
        "GET",
        "/rest/agile/1.0/sprint/{sprintId}/issue",
        &[
            READ,
            &["read:sprint:jira-software", "read:issue-details:jira"],
        ],
    ),
    agile(
        "moveIssuesToSprintAndRank",
        "POST",
        "/rest/agile/1.0/sprint/{sprintId}/issue",
        &[WRITE, &["write:sprint:jira-software"]],
    ),
];

/// The Jira Software scopes a token or app can be granted (with the platform's).
pub const SOFTWARE_SCOPES: &[&str] = &[
    "read:board-scope:jira-software",
    "write:board-scope:jira-software",
    "read:board-scope.admin:jira-software",
    "write:board-scope.admin:jira-software",
    "delete:board-scope.admin:jira-software",
    "read:sprint:jira-software",
    "write:sprint:jira-software",
    "delete:sprint:jira-software",
    "read:epic:jira-software",
    "write:epic:jira-software",
    "read:issue:jira-software",
    "write:issue:jira-software",
    "read:source-code:jira-software",
    "write:source-code:jira-software",
    "read:feature-flag:jira-software",
    "write:feature-flag:jira-software",
    "delete:feature-flag:jira-software",
    "read:deployment:jira-software",
    "write:deployment:jira-software",
    "delete:deployment:jira-software",
    "read:build:jira-software",
    "write:build:jira-software",
    "delete:build:jira-software",
    "read:remote-link:jira-software",
    "write:remote-link:jira-software",
    "delete:remote-link:jira-software",
];

/// The operation by `operationId`.
pub fn operation(id: &str) -> Option<&'static AgileOp> {
    OPERATIONS.iter().find(|op| op.id == id)
}

/// Checks a scope-limited caller against the operation's scope sets (403 `ErrorCollection`
/// naming them otherwise); classic tokens pass.
pub fn require(caller: &Caller, operation_id: &str) -> Result<(), ApiError> {
    let Some(held) = &caller.scopes else {
        return Ok(());
    };
    let alternatives = operation(operation_id).map_or(&[][..], |op| op.scopes);
    if alternatives
        .iter()
        .any(|set| set.iter().all(|s| held.contains(*s)))
    {
        return Ok(());
    }
    let alts: Vec<Vec<String>> = alternatives
        .iter()
        .map(|set| set.iter().map(|s| (*s).to_owned()).collect())
        .collect();
    Err(ApiError::insufficient_scope(&alts))
}

/// Every Agile route, and the saved-filter routes of the platform API.
pub fn router() -> Router<SimState> {
    Router::new()
        .merge(board::router())
        .merge(sprint::router())
        .merge(issues::router())
        .merge(filter::router())
}

/// `{base}/rest/agile/1.0{path}`.
pub fn url(caller: &Caller, path: &str) -> String {
    caller.url(&format!("{PREFIX}{path}"))
}

/// 400 with one message.
pub fn bad_request(message: &str) -> ApiError {
    ApiError::platform_bad_request(message)
}

/// 404 with one message.
pub fn not_found(message: &str) -> ApiError {
    ApiError::platform(StatusCode::NOT_FOUND, &[message], &[])
}

/// The 404 of an unknown board.
pub fn board_not_found() -> ApiError {
    not_found("Board does not exist or you do not have permission to see it.")
}

/// The 404 of an unknown sprint.
pub fn sprint_not_found() -> ApiError {
    not_found(
        "The requested sprint cannot be viewed because it either does not exist or you do not have permission to view it.",
    )
}

/// A numeric path id, or the 404 `missing` gives.
pub fn path_id(text: &str, missing: fn() -> ApiError) -> Result<u64, ApiError> {
    text.trim().parse().map_err(|_| missing())
}

/// `startAt`/`maxResults` (default 50, capped at `cap`).
pub fn page(params: &Params, cap: i64) -> Result<(usize, usize), ApiError> {
    crate::platform::params::page(params, DEFAULT_MAX, cap)
}

/// A `values` page of `all`, with `total` when the operation reports it.
pub fn values_page(all: Vec<Value>, start: usize, max: usize, with_total: bool) -> Value {
    let total = all.len();
    let values: Vec<Value> = all.into_iter().skip(start).take(max).collect();
    let is_last = start.saturating_add(values.len()) >= total;
    let mut page = json!({
        "maxResults": max,
        "startAt": start,
        "isLast": is_last,
        "values": values,
    });
    if with_total {
        page["total"] = json!(total);
    }
    page
}

/// Jira Software's timestamp form (`2026-01-05T09:30:00.000Z`).
pub fn datetime(ms: i64) -> String {
    let plain = crate::platform::render::datetime(ms);
    plain
        .strip_suffix("+0000")
        .map_or(plain.clone(), |head| format!("{head}Z"))
}

/// Parses a date-time the Agile API accepts (ISO 8601 with `Z` or an offset, or Jira's form).
pub fn parse_datetime(text: &str) -> Option<i64> {
    crate::platform::params::parse_datetime(text)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::scopes::ScopeTable;

    /// A scope an operation accepts but no token or app could be granted would lock OAuth
    /// callers out of it.
    #[test]
    fn every_scope_the_operations_accept_is_grantable() {
        let known = ScopeTable::get().known_scopes();
        for op in OPERATIONS {
            assert_eq!(op.scopes.len(), 2, "{}: classic and granular", op.id);
            for scope in op.scopes.iter().flat_map(|set| set.iter()) {
                assert!(
                    known.contains(*scope),
                    "{}: {scope} is not grantable",
                    op.id
                );
            }
        }
        let ids: BTreeSet<&str> = OPERATIONS.iter().map(|op| op.id).collect();
        assert_eq!(ids.len(), OPERATIONS.len(), "operation ids repeat");
    }

    /// An operation without an entry would refuse every scoped caller.
    #[test]
    fn every_served_operation_has_scopes() {
        let sources = [
            include_str!("board.rs"),
            include_str!("issues.rs"),
            include_str!("sprint.rs"),
            include_str!("filter.rs"),
        ];
        let marker = concat!("require(&caller, ", "\"");
        let mut served = 0;
        for source in sources {
            for (at, _) in source.match_indices(marker) {
                let rest = &source[at + marker.len()..];
                let id = rest.split('"').next().unwrap_or_default();
                assert!(operation(id).is_some(), "{id} has no scope entry");
                served += 1;
            }
        }
        assert_eq!(
            served,
            OPERATIONS.len(),
            "an entry for an operation not served"
        );
    }

    #[test]
    fn agile_times_end_in_z() {
        assert_eq!(datetime(1_767_605_400_000), "2026-01-05T09:30:00.000Z");
        assert_eq!(
            parse_datetime("2026-01-05T09:30:00.000Z"),
            Some(1_767_605_400_000)
        );
    }
}
