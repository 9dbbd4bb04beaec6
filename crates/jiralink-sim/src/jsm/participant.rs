//! Request participants: `GET|POST|DELETE /request/{issueIdOrKey}/participant`.
//!
//! Participants live in [`crate::jsm::store::RequestMeta::participants`] beside the issue. Adding
//! and removing answer the whole list afterwards, and each change is recorded in the issue's
//! change history under the "Request participants" field ([`PARTICIPANTS_FIELD`]), as Jira does.
//! Every named account must exist (a portal customer or a site user), else 400 and nothing
//! changes; adding a participant twice or removing a non-participant changes nothing.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::Method;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::Value;

use crate::auth::Caller;
use crate::data::{self, ChangeItem};
use crate::errors::ApiError;
use crate::jsm::request::{
    DeskView, MAX_LIMIT, customer_as_site_user, data_error, find_request, renderer,
};
use crate::jsm::store::with_site;
use crate::jsm::{AccountIds, PREFIX, Params, bad_request, page, parse_body, unknown_accounts};
use crate::state::SimState;

/// Field id of "Request participants" in change histories.
pub const PARTICIPANTS_FIELD: &str = "customfield_10026";

/// Routes of this module.
pub fn router() -> Router<SimState> {
    Router::new().route(
        &format!("{PREFIX}/request/{{issueIdOrKey}}/participant"),
        get(list_participants)
            .post(add_participants)
            .delete(remove_participants),
    )
}

async fn list_participants(
    State(state): State<SimState>,
    caller: Caller,
    Path(id): Path<String>,
    params: Params,
) -> Result<Json<Value>, ApiError> {
    caller.require_route(
        &Method::GET,
        "/rest/servicedeskapi/request/{issueIdOrKey}/participant",
    )?;
    let paging = params.paging(MAX_LIMIT)?;
    let desk = DeskView::take(&state, &caller);
    let site = data::site(&state, &caller.site);
    let data = site.read();
    let issue = find_request(&desk, &data, &id)?;
    let r = renderer(&state, &caller, &desk, &data);
    let values = desk
        .participants(issue.id)
        .iter()
        .map(|a| r.person(a))
        .collect();
    Ok(Json(page(
        values,
        paging,
        &r.api,
        &format!("/request/{}/participant", issue.id),
        &params,
        &[],
    )))
}

async fn add_participants(
    State(state): State<SimState>,
    caller: Caller,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    caller.require_route(
        &Method::POST,
        "/rest/servicedeskapi/request/{issueIdOrKey}/participant",
    )?;
    change(&state, &caller, &id, &body, true)
}

async fn remove_participants(
    State(state): State<SimState>,
    caller: Caller,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    caller.require_route(
        &Method::DELETE,
        "/rest/servicedeskapi/request/{issueIdOrKey}/participant",
    )?;
    change(&state, &caller, &id, &body, false)
}

fn names(data: &data::SiteData, desk: &DeskView, accounts: &[String]) -> String {
    accounts
        .iter()
        .map(|a| {
            desk.customers
                .get(a)
                .map(|c| c.display_name.clone())
                .or_else(|| data.user(a).map(|u| u.display_name.clone()))
                .unwrap_or_else(|| a.clone())
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn change(
    state: &SimState,
    caller: &Caller,
    id: &str,
    body: &Bytes,
    add: bool,
) -> Result<Json<Value>, ApiError> {
    let input: AccountIds = parse_body(body)?;
    let named: Vec<String> = input.all().cloned().collect();
    if named.is_empty() {
        return Err(bad_request("At least one account id must be given."));
    }
    let mut desk = DeskView::take(state, caller);
    let site = data::site(state, &caller.site);
    let (issue_id, type_id) = {
        let data = site.read();
        let issue = find_request(&desk, &data, id)?;
        let unknown: Vec<&str> = named
            .iter()
            .filter(|a| !desk.customers.contains_key(*a) && data.user(a).is_none())
            .map(String::as_str)
            .collect();
        if !unknown.is_empty() {
            return Err(unknown_accounts(&unknown));
        }
        let type_id = desk
            .desk_of(&issue)
            .and_then(|sd| desk.request_type(sd, &issue))
            .map(|rt| rt.id)
            .unwrap_or_default();
        (issue.id, type_id)
    };
    let before = desk.participants(issue_id).to_vec();
    let mut after = before.clone();
    for account in &named {
        if add && !after.contains(account) {
            after.push(account.clone());
        }
        if !add {
            after.retain(|a| a != account);
        }
    }
    if after != before {
        state.check_issue_write(&caller.site, &issue_id.to_string())?;
        let now_ms = data::now_ms(state);
        {
            let mut data = site.write();
            for account in &after {
                if let Some(c) = desk.customers.get(account) {
                    data.add_user(customer_as_site_user(c));
                }
            }
            let from_string = names(&data, &desk, &before);
            let to_string = names(&data, &desk, &after);
            data.record_change(
                issue_id,
                vec![ChangeItem {
                    field: "Request participants".to_owned(),
                    fieldtype: "custom".to_owned(),
                    field_id: PARTICIPANTS_FIELD.to_owned(),
                    from: Some(before.join(", ")).filter(|s| !s.is_empty()),
                    from_string: Some(from_string).filter(|s| !s.is_empty()),
                    to: Some(after.join(", ")).filter(|s| !s.is_empty()),
                    to_string: Some(to_string).filter(|s| !s.is_empty()),
                }],
                &caller.user.account_id,
                now_ms,
            )
            .map_err(data_error)?;
        }
        let stored = after.clone();
        with_site(state, &caller.site, |d| {
            d.request_meta(issue_id, type_id).participants = stored;
        });
        desk.request_meta_mut(issue_id, type_id).participants = after;
    }
    let data = site.read();
    let r = renderer(state, caller, &desk, &data);
    let values = desk
        .participants(issue_id)
        .iter()
        .map(|a| r.person(a))
        .collect();
    Ok(Json(page(
        values,
        crate::jsm::Paging {
            start: 0,
            limit: MAX_LIMIT,
        },
        &r.api,
        &format!("/request/{issue_id}/participant"),
        &Params::default(),
        &[],
    )))
}
