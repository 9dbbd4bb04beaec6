//! Queues: `GET /servicedesk/{serviceDeskId}/queue`, `GET
//! /servicedesk/{serviceDeskId}/queue/{queueId}` and `GET
//! /servicedesk/{serviceDeskId}/queue/{queueId}/issue`.
//!
//! Every service desk has the queues of [`queues`], written in JQL over its project by resolution
//! and status category. Counts and issues come from the JQL engine through
//! [`crate::data::SiteData::search`], with the same index lag as `/search/jql`, and issues are
//! rendered as platform issues (`IssueBean`, version 2) with the queue's fields; a page of issues
//! is charged to the hourly quota like a search page (a point per issue).

use std::collections::BTreeSet;

use axum::extract::{Path, State};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

use crate::auth::Caller;
use crate::data::{self, Consistency, Searcher, SiteContext, SiteData};
use crate::errors::ApiError;
use crate::jsm::servicedesk::{api_base, service_desk_not_found};
use crate::jsm::store::{ServiceDesk, with_site};
use crate::jsm::{PREFIX, Params, not_found, page_window};
use crate::platform::ApiVersion;
use crate::platform::fields::{DefaultFields, Selection};
use crate::platform::render::{Expand, IssueOptions, Render};
use crate::server::QuotaCost;
use crate::state::SimState;

/// Largest `limit` for queues and queue issues.
pub const MAX_LIMIT: usize = 50;

/// Fields the queues show (and their issues carry).
pub const QUEUE_FIELDS: &[&str] = &[
    "issuetype",
    "issuekey",
    "summary",
    "reporter",
    "assignee",
    "status",
    "created",
];

/// A queue of a service desk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Queue {
    /// Queue id, unique within the desk.
    pub id: u64,
    /// Name.
    pub name: String,
    /// The requests it holds.
    pub jql: String,
}

/// The queues of `sd`. Like Jira's default queues they select open requests by resolution and
/// resolved ones by status category, so they hold whatever statuses the workflow has.
pub fn queues(sd: &ServiceDesk, _data: &SiteData) -> Vec<Queue> {
    let open = "resolution = Unresolved";
    let project = format!("project = \"{}\"", sd.project_key);
    let q = |id: u64, name: &str, jql: String| Queue {
        id,
        name: name.to_owned(),
        jql,
    };
    vec![
        q(
            1,
            "All open",
            format!("{project} AND {open} ORDER BY created DESC"),
        ),
        q(
            2,
            "Unassigned issues",
            format!("{project} AND assignee is EMPTY AND {open} ORDER BY created ASC"),
        ),
        q(
            3,
            "Assigned to me",
            format!("{project} AND assignee = currentUser() AND {open} ORDER BY created ASC"),
        ),
        q(
            4,
            "Incidents",
            format!("{project} AND issuetype = Incident AND {open} ORDER BY created ASC"),
        ),
        q(
            5,
            "Resolved",
            format!("{project} AND statusCategory = Done ORDER BY updated DESC"),
        ),
    ]
}

/// Routes of this module.
pub fn router() -> Router<SimState> {
    Router::new()
        .route(
            &format!("{PREFIX}/servicedesk/{{serviceDeskId}}/queue"),
            get(list_queues),
        )
        .route(
            &format!("{PREFIX}/servicedesk/{{serviceDeskId}}/queue/{{queueId}}"),
            get(get_queue),
        )
        .route(
            &format!("{PREFIX}/servicedesk/{{serviceDeskId}}/queue/{{queueId}}/issue"),
            get(queue_issues),
        )
}

fn find_desk(state: &SimState, caller: &Caller, id: &str) -> Result<ServiceDesk, ApiError> {
    with_site(state, &caller.site, |d| {
        d.service_desk_index(id)
            .and_then(|i| d.service_desks.get(i).cloned())
    })
    .ok_or_else(|| service_desk_not_found(id))
}

fn find_queue(sd: &ServiceDesk, data: &SiteData, id: &str) -> Result<Queue, ApiError> {
    queues(sd, data)
        .into_iter()
        .find(|q| id.trim().parse::<u64>().ok() == Some(q.id))
        .ok_or_else(|| {
            not_found(&format!(
                "The queue '{id}' does not exist in service desk {}.",
                sd.id
            ))
        })
}

/// Runs a queue's JQL for the caller: matching issue ids in queue order.
fn run(
    state: &SimState,
    caller: &Caller,
    data: &SiteData,
    queue: &Queue,
    count_only: bool,
) -> Result<(Vec<u64>, u64), ApiError> {
    let broken = |messages: Vec<String>| {
        ApiError::jsm(
            StatusCode::INTERNAL_SERVER_ERROR,
            &format!("The queue's JQL cannot run: {}", messages.join(" ")),
            "sd.queue.error.jql",
        )
    };
    let query = crate::jql::parse(&queue.jql).map_err(|e| broken(e.messages()))?;
    let now = data::now_ms(state);
    let searcher = Searcher {
        account_id: Some(&caller.user.account_id),
        time_zone: &caller.user.time_zone,
        now_ms: now,
    };
    let compiled = query
        .compile(&SiteContext::new(data, searcher))
        .map_err(|e| broken(e.messages()))?;
    let lag = i64::try_from(state.knobs().index_lag_secs)
        .unwrap_or(i64::MAX / 2_000)
        .saturating_mul(1000);
    let reconcile = BTreeSet::new();
    let consistency = Consistency {
        indexed_until: now.saturating_sub(lag),
        reconcile: &reconcile,
    };
    if count_only {
        return Ok((Vec::new(), data.count(&compiled, consistency)));
    }
    let ids = data.search(&compiled, consistency);
    let n = ids.len() as u64;
    Ok((ids, n))
}

fn queue_json(api: &str, sd: &ServiceDesk, q: &Queue, count: Option<u64>) -> Value {
    let mut v = json!({
        "id": q.id.to_string(),
        "name": q.name,
        "jql": q.jql,
        "fields": QUEUE_FIELDS,
        "_links": { "self": format!("{api}/servicedesk/{}/queue/{}", sd.id, q.id) },
    });
    if let Some(n) = count {
        v["issueCount"] = Value::from(n);
    }
    v
}

async fn list_queues(
    State(state): State<SimState>,
    caller: Caller,
    Path(id): Path<String>,
    params: Params,
) -> Result<Json<Value>, ApiError> {
    caller.require_route(
        &Method::GET,
        "/rest/servicedeskapi/servicedesk/{serviceDeskId}/queue",
    )?;
    let paging = params.paging(MAX_LIMIT)?;
    let include_count = params.bool("includeCount")?.unwrap_or(false);
    let sd = find_desk(&state, &caller, &id)?;
    let api = api_base(&caller);
    let site = data::site(&state, &caller.site);
    let data = site.read();
    let all = queues(&sd, &data);
    let total = all.len();
    let items = all
        .iter()
        .skip(paging.start)
        .take(paging.limit)
        .map(|q| {
            let count = if include_count {
                Some(run(&state, &caller, &data, q, true)?.1)
            } else {
                None
            };
            Ok(queue_json(&api, &sd, q, count))
        })
        .collect::<Result<Vec<Value>, ApiError>>()?;
    Ok(Json(page_window(
        total,
        items,
        paging,
        &api,
        &format!("/servicedesk/{}/queue", sd.id),
        &params,
        &[],
    )))
}

async fn get_queue(
    State(state): State<SimState>,
    caller: Caller,
    Path((id, queue_id)): Path<(String, String)>,
    params: Params,
) -> Result<Json<Value>, ApiError> {
    caller.require_route(
        &Method::GET,
        "/rest/servicedeskapi/servicedesk/{serviceDeskId}/queue/{queueId}",
    )?;
    let include_count = params.bool("includeCount")?.unwrap_or(false);
    let sd = find_desk(&state, &caller, &id)?;
    let site = data::site(&state, &caller.site);
    let data = site.read();
    let queue = find_queue(&sd, &data, &queue_id)?;
    let count = if include_count {
        Some(run(&state, &caller, &data, &queue, true)?.1)
    } else {
        None
    };
    Ok(Json(queue_json(&api_base(&caller), &sd, &queue, count)))
}

async fn queue_issues(
    State(state): State<SimState>,
    caller: Caller,
    Path((id, queue_id)): Path<(String, String)>,
    params: Params,
) -> Result<Response, ApiError> {
    caller.require_route(
        &Method::GET,
        "/rest/servicedeskapi/servicedesk/{serviceDeskId}/queue/{queueId}/issue",
    )?;
    let paging = params.paging(MAX_LIMIT)?;
    let sd = find_desk(&state, &caller, &id)?;
    let site = data::site(&state, &caller.site);
    let data = site.read();
    let queue = find_queue(&sd, &data, &queue_id)?;
    let (ids, _) = run(&state, &caller, &data, &queue, false)?;
    let fields: Vec<String> = QUEUE_FIELDS.iter().map(|f| (*f).to_owned()).collect();
    let selection = Selection::parse(&fields, DefaultFields::Navigable);
    let render = Render::for_caller(&data, &caller, state.base_url(), ApiVersion::V2);
    let opts = IssueOptions {
        selection: &selection,
        expand: Expand::default(),
        properties: &[],
        changelog_cap: 0,
        comment_cap: 0,
        names_inside: false,
    };
    let items: Vec<Value> = ids
        .iter()
        .skip(paging.start)
        .take(paging.limit)
        .filter_map(|id| data.issue_by_id(*id))
        .map(|issue| {
            let mut out = String::new();
            render.issue(&mut out, &issue, &opts);
            serde_json::from_str::<Value>(&out).unwrap_or(Value::Null)
        })
        .collect();
    // Charged like a search page: one point per issue returned.
    let cost = items.len() as u64;
    let mut response = Json(page_window(
        ids.len(),
        items,
        paging,
        &api_base(&caller),
        &format!("/servicedesk/{}/queue/{}/issue", sd.id, queue.id),
        &params,
        &[],
    ))
    .into_response();
    if cost > 0 {
        response.extensions_mut().insert(QuotaCost(cost));
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::DataSize;

    #[test]
    fn seeded_queues_are_valid_jql_over_the_desk() {
        let data = SiteData::generate(1, "demo", DataSize::Small, 0, Vec::new(), None);
        let sd = ServiceDesk {
            id: 1,
            project_id: "10003".to_owned(),
            project_key: "HELP".to_owned(),
            project_name: "Help Desk".to_owned(),
            customers: Vec::new(),
            organizations: Vec::new(),
        };
        let qs = queues(&sd, &data);
        assert_eq!(qs.len(), 5);
        assert!(qs[0].jql.contains("resolution = Unresolved"));
        assert!(qs[4].jql.contains("statusCategory = Done"));
        for q in &qs {
            let parsed = crate::jql::parse(&q.jql).expect("parses");
            let searcher = Searcher {
                account_id: Some("nobody"),
                time_zone: "UTC",
                now_ms: 0,
            };
            parsed
                .compile(&SiteContext::new(&data, searcher))
                .unwrap_or_else(|e| panic!("{}: {:?}", q.name, e.messages()));
        }
    }
}
