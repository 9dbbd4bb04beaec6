//! Customer transitions: `GET|POST /request/{issueIdOrKey}/transition`.
//!
//! The transitions are the issue's workflow transitions available from its status, without the
//! ones only agents perform in the portal ([`AGENT_ONLY`]). Performing one moves the issue
//! through [`crate::data::SiteData::transition_issue`], so the change history, the status
//! history of `GET /request/{issueIdOrKey}/status` and the issue at `/rest/api/3/issue` follow
//! at once; an `additionalComment` becomes a public comment by the caller.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::Method;
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::auth::Caller;
use crate::data::{self, Issue, NewComment, SiteData, Transition, adf};
use crate::errors::ApiError;
use crate::jsm::request::{DeskView, MAX_LIMIT, data_error, find_request, renderer};
use crate::jsm::{PREFIX, Params, bad_request, no_content, page, parse_body};
use crate::state::SimState;

/// Workflow transitions the portal does not offer customers: answering the customer and
/// closing a resolved request are agent work.
pub const AGENT_ONLY: &[&str] = &["Respond to customer", "Close"];

/// Longest `additionalComment` accepted (Jira's default comment limit).
pub const MAX_COMMENT_CHARS: usize = 32_767;

/// Routes of this module.
pub fn router() -> Router<SimState> {
    Router::new().route(
        &format!("{PREFIX}/request/{{issueIdOrKey}}/transition"),
        get(list_transitions).post(perform_transition),
    )
}

/// The transitions a customer may perform on `issue` now, in workflow order.
pub fn customer_transitions(data: &SiteData, issue: &Issue) -> Vec<Transition> {
    data.transitions_for(issue)
        .into_iter()
        .filter(|t| !AGENT_ONLY.contains(&t.name.as_str()))
        .collect()
}

async fn list_transitions(
    State(state): State<SimState>,
    caller: Caller,
    Path(id): Path<String>,
    params: Params,
) -> Result<Json<Value>, ApiError> {
    caller.require_route(
        &Method::GET,
        "/rest/servicedeskapi/request/{issueIdOrKey}/transition",
    )?;
    let paging = params.paging(MAX_LIMIT)?;
    let desk = DeskView::take(&state, &caller);
    let site = data::site(&state, &caller.site);
    let data = site.read();
    let issue = find_request(&desk, &data, &id)?;
    let r = renderer(&state, &caller, &desk, &data);
    let values = customer_transitions(&data, &issue)
        .into_iter()
        .map(|t| json!({ "id": t.id, "name": t.name }))
        .collect();
    Ok(Json(page(
        values,
        paging,
        &r.api,
        &format!("/request/{}/transition", issue.id),
        &params,
        &[],
    )))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct TransitionInput {
    id: Option<Value>,
    additional_comment: Option<CommentInput>,
}

#[derive(Debug, Deserialize)]
struct CommentInput {
    body: Option<String>,
}

async fn perform_transition(
    State(state): State<SimState>,
    caller: Caller,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    caller.require_route(
        &Method::POST,
        "/rest/servicedeskapi/request/{issueIdOrKey}/transition",
    )?;
    let input: TransitionInput = parse_body(&body)?;
    let transition_id = match &input.id {
        Some(Value::String(s)) if !s.trim().is_empty() => s.trim().to_owned(),
        Some(Value::Number(n)) => n.to_string(),
        _ => return Err(bad_request("The transition id is required.")),
    };
    let comment = input
        .additional_comment
        .and_then(|c| c.body)
        .map(|b| b.trim().to_owned())
        .filter(|b| !b.is_empty());
    if comment
        .as_ref()
        .is_some_and(|c| c.chars().count() > MAX_COMMENT_CHARS)
    {
        return Err(bad_request(&format!(
            "The comment must not be longer than {MAX_COMMENT_CHARS} characters."
        )));
    }
    let desk = DeskView::take(&state, &caller);
    let site = data::site(&state, &caller.site);
    let issue_id = {
        let data = site.read();
        let issue = find_request(&desk, &data, &id)?;
        if !customer_transitions(&data, &issue)
            .iter()
            .any(|t| t.id == transition_id)
        {
            return Err(bad_request(&format!(
                "The transition '{transition_id}' is not valid for this request."
            )));
        }
        issue.id
    };
    state.check_issue_write(&caller.site, &issue_id.to_string())?;
    let now_ms = data::now_ms(&state);
    let mut data = site.write();
    data.transition_issue(
        issue_id,
        &transition_id,
        Vec::new(),
        &caller.user.account_id,
        now_ms,
    )
    .map_err(data_error)?;
    if let Some(text) = comment {
        data.add_comment(
            issue_id,
            NewComment {
                body: adf::from_wiki(&text),
                visibility: None,
                public: true,
            },
            &caller.user.account_id,
            now_ms,
        )
        .map_err(data_error)?;
    }
    Ok(no_content())
}
