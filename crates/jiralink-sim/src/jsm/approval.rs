//! Approvals: `GET /request/{issueIdOrKey}/approval`, `GET|POST
//! /request/{issueIdOrKey}/approval/{approvalId}`.
//!
//! A request of the "Request new hardware" type ([`HARDWARE_REQUEST_TYPE`]) is created waiting
//! for one approval, asked of the site's active Jira administrators. One answer decides it (Jira's
//! default of one required approver); answering again, or answering a decided approval, is a
//! 409, and only an approver may answer (403). The decision does not move the issue: the
//! simulator's service-desk workflow has no approval step.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{Method, StatusCode};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::auth::Caller;
use crate::data;
use crate::errors::ApiError;
use crate::identity::Site;
use crate::jsm::request::{DeskView, MAX_LIMIT, Render, find_request, renderer};
use crate::jsm::store::{Approval, Approver, Decision, SiteDesk, with_site};
use crate::jsm::{PREFIX, Params, bad_request, not_found, page, parse_body};
use crate::state::SimState;

/// What the seeded approval asks.
pub const APPROVAL_NAME: &str = "Approve the purchase";

/// Routes of this module.
pub fn router() -> Router<SimState> {
    Router::new()
        .route(
            &format!("{PREFIX}/request/{{issueIdOrKey}}/approval"),
            get(list_approvals),
        )
        .route(
            &format!("{PREFIX}/request/{{issueIdOrKey}}/approval/{{approvalId}}"),
            get(get_approval).post(answer_approval),
        )
}

/// The people asked to approve new requests: the site's active Jira administrators.
pub fn default_approvers(state: &SimState, site: &Site) -> Vec<String> {
    let directory = state.directory();
    site.members
        .iter()
        .filter_map(|id| directory.users.get(id))
        .filter(|u| u.active && u.groups.iter().any(|g| g == "jira-administrators"))
        .map(|u| u.account_id.clone())
        .collect()
}

/// Opens a pending approval on a request; `None` when nobody can approve.
pub fn open_approval(
    desk: &mut SiteDesk,
    issue_id: u64,
    approvers: &[String],
    now_ms: i64,
) -> Option<Approval> {
    if approvers.is_empty() {
        return None;
    }
    let approval = Approval {
        id: desk.next_approval_id(),
        issue_id,
        name: APPROVAL_NAME.to_owned(),
        approvers: approvers
            .iter()
            .map(|a| Approver {
                account_id: a.clone(),
                decision: Decision::Pending,
            })
            .collect(),
        created: now_ms,
        completed: None,
    };
    desk.approvals.insert(approval.id, approval.clone());
    Some(approval)
}

/// Whether `account_id` may still answer `approval`.
pub fn can_answer(approval: &Approval, account_id: &str) -> bool {
    approval.final_decision() == Decision::Pending
        && approval
            .approvers
            .iter()
            .any(|a| a.account_id == account_id && a.decision == Decision::Pending)
}

impl Render<'_> {
    /// `ApprovalDTO`.
    pub(crate) fn approval(&self, a: &Approval) -> Value {
        let approvers: Vec<Value> = a
            .approvers
            .iter()
            .map(|p| json!({ "approver": self.person(&p.account_id), "approverDecision": p.decision.as_str() }))
            .collect();
        let mut v = json!({
            "id": a.id.to_string(),
            "name": a.name,
            "finalDecision": a.final_decision().as_str(),
            "canAnswerApproval": can_answer(a, &self.caller.user.account_id),
            "approvers": approvers,
            "createdDate": self.date(a.created),
            "_links": { "self": format!("{}/request/{}/approval/{}", self.api, a.issue_id, a.id) },
        });
        if let Some(done) = a.completed {
            v["completedDate"] = self.date(done);
        }
        v
    }
}

fn approval_not_found(id: &str) -> ApiError {
    not_found(&format!(
        "The approval '{id}' does not exist on this request."
    ))
}

fn find_approval(desk: &DeskView, issue_id: u64, id: &str) -> Result<Approval, ApiError> {
    id.trim()
        .parse::<u64>()
        .ok()
        .and_then(|n| desk.approvals.get(&n))
        .filter(|a| a.issue_id == issue_id)
        .cloned()
        .ok_or_else(|| approval_not_found(id))
}

async fn list_approvals(
    State(state): State<SimState>,
    caller: Caller,
    Path(id): Path<String>,
    params: Params,
) -> Result<Json<Value>, ApiError> {
    caller.require_route(
        &Method::GET,
        "/rest/servicedeskapi/request/{issueIdOrKey}/approval",
    )?;
    let paging = params.paging(MAX_LIMIT)?;
    let desk = DeskView::take(&state, &caller);
    let site = data::site(&state, &caller.site);
    let data = site.read();
    let issue = find_request(&desk, &data, &id)?;
    let r = renderer(&state, &caller, &desk, &data);
    let values = desk
        .approvals
        .values()
        .filter(|a| a.issue_id == issue.id)
        .map(|a| r.approval(a))
        .collect();
    Ok(Json(page(
        values,
        paging,
        &r.api,
        &format!("/request/{}/approval", issue.id),
        &params,
        &[],
    )))
}

async fn get_approval(
    State(state): State<SimState>,
    caller: Caller,
    Path((id, approval_id)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    caller.require_route(
        &Method::GET,
        "/rest/servicedeskapi/request/{issueIdOrKey}/approval/{approvalId}",
    )?;
    let desk = DeskView::take(&state, &caller);
    let site = data::site(&state, &caller.site);
    let data = site.read();
    let issue = find_request(&desk, &data, &id)?;
    let approval = find_approval(&desk, issue.id, &approval_id)?;
    let r = renderer(&state, &caller, &desk, &data);
    Ok(Json(r.approval(&approval)))
}

#[derive(Debug, Deserialize)]
struct DecisionInput {
    decision: Option<String>,
}

async fn answer_approval(
    State(state): State<SimState>,
    caller: Caller,
    Path((id, approval_id)): Path<(String, String)>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    caller.require_route(
        &Method::POST,
        "/rest/servicedeskapi/request/{issueIdOrKey}/approval/{approvalId}",
    )?;
    let input: DecisionInput = parse_body(&body)?;
    let decision = match input.decision.as_deref().map(str::trim) {
        Some(d) if d.eq_ignore_ascii_case("approve") => Decision::Approved,
        Some(d) if d.eq_ignore_ascii_case("decline") => Decision::Declined,
        _ => {
            return Err(bad_request(
                "The decision must be either 'approve' or 'decline'.",
            ));
        }
    };
    let desk = DeskView::take(&state, &caller);
    let site = data::site(&state, &caller.site);
    let issue_id = {
        let data = site.read();
        find_request(&desk, &data, &id)?.id
    };
    let me = caller.user.account_id.clone();
    let now_ms = data::now_ms(&state);
    let updated = with_site(&state, &caller.site, |d| {
        let approval = approval_id
            .trim()
            .parse::<u64>()
            .ok()
            .and_then(|n| d.approvals.get_mut(&n))
            .filter(|a| a.issue_id == issue_id)
            .ok_or_else(|| approval_not_found(&approval_id))?;
        let Some(slot) = approval.approvers.iter().position(|a| a.account_id == me) else {
            return Err(ApiError::jsm(
                StatusCode::FORBIDDEN,
                "You are not an approver of this approval.",
                "sd.approval.error.not.approver",
            ));
        };
        if !can_answer(approval, &me) {
            return Err(ApiError::jsm(
                StatusCode::CONFLICT,
                "A decision has already been made for this approval.",
                "sd.approval.error.already.decided",
            ));
        }
        approval.approvers[slot].decision = decision;
        if approval.final_decision() != Decision::Pending {
            approval.completed = Some(now_ms);
        }
        Ok(approval.clone())
    })?;
    let mut desk = desk;
    desk.approvals.insert(updated.id, updated.clone());
    let data = site.read();
    let r = renderer(&state, &caller, &desk, &data);
    Ok(Json(r.approval(&updated)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn approval(decisions: &[Decision]) -> Approval {
        Approval {
            id: 1,
            issue_id: 7,
            name: APPROVAL_NAME.to_owned(),
            approvers: decisions
                .iter()
                .enumerate()
                .map(|(n, d)| Approver {
                    account_id: format!("a{n}"),
                    decision: *d,
                })
                .collect(),
            created: 0,
            completed: None,
        }
    }

    #[test]
    fn one_answer_decides() {
        use Decision::{Approved, Declined, Pending};
        assert_eq!(approval(&[Pending, Pending]).final_decision(), Pending);
        assert_eq!(approval(&[Approved, Pending]).final_decision(), Approved);
        assert_eq!(approval(&[Approved, Declined]).final_decision(), Declined);
        assert!(can_answer(&approval(&[Pending, Pending]), "a1"));
        assert!(!can_answer(&approval(&[Approved, Pending]), "a1"));
        assert!(!can_answer(&approval(&[Pending]), "someone"));
    }
}
