//! Service desks and request types: `GET /servicedesk[/{id}]`,
//! `GET /servicedesk/{id}/requesttype[/{rt}[/field]]` and `GET /requesttype` (experimental).
//!
//! `{serviceDeskId}` accepts the id, the project key (`HELP`), `projectKey:HELP` and
//! `projectId:10001`. Request types without groups are hidden from the portal: a `searchQuery`
//! leaves them out unless `includeHiddenRequestTypesInSearch=true`.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

use crate::auth::Caller;
use crate::errors::ApiError;
use crate::jsm::store::{RequestType, RequestTypeField, ServiceDesk, SiteDesk, with_site};
use crate::jsm::{PREFIX, Params, bad_request, not_found, page, require_opt_in};
use crate::state::SimState;

/// Largest `limit` for service desks and request types.
pub const MAX_LIMIT: usize = 100;

/// Routes of this module.
pub fn router() -> Router<SimState> {
    Router::new()
        .route(&format!("{PREFIX}/servicedesk"), get(list_service_desks))
        .route(
            &format!("{PREFIX}/servicedesk/{{serviceDeskId}}"),
            get(get_service_desk),
        )
        .route(
            &format!("{PREFIX}/servicedesk/{{serviceDeskId}}/requesttype"),
            get(list_request_types),
        )
        .route(
            &format!("{PREFIX}/servicedesk/{{serviceDeskId}}/requesttype/{{requestTypeId}}"),
            get(get_request_type),
        )
        .route(
            &format!("{PREFIX}/servicedesk/{{serviceDeskId}}/requesttype/{{requestTypeId}}/field"),
            get(get_request_type_fields),
        )
        .route(
            &format!("{PREFIX}/requesttype"),
            get(list_all_request_types),
        )
}

/// The API base of a caller: `{base}/rest/servicedeskapi`.
pub fn api_base(caller: &Caller) -> String {
    format!("{}{PREFIX}", caller.base)
}

/// `ServiceDeskDTO`.
pub fn service_desk_json(api: &str, sd: &ServiceDesk) -> Value {
    json!({
        "id": sd.id.to_string(),
        "projectId": sd.project_id,
        "projectName": sd.project_name,
        "projectKey": sd.project_key,
        "projectTypeKey": "service_desk",
        "_links": { "self": format!("{api}/servicedesk/{}", sd.id) },
    })
}

/// 404 for an unknown `{serviceDeskId}`.
pub fn service_desk_not_found(id: &str) -> ApiError {
    not_found(&format!(
        "The service desk '{id}' does not exist or you do not have permission to see it."
    ))
}

/// Resolves `{serviceDeskId}` to an index into [`SiteDesk::service_desks`].
pub fn resolve_service_desk(desk: &SiteDesk, id: &str) -> Result<usize, ApiError> {
    desk.service_desk_index(id)
        .ok_or_else(|| service_desk_not_found(id))
}

fn field_json(f: &RequestTypeField) -> Value {
    let mut schema = json!({ "type": f.schema.kind });
    if let Some(system) = &f.schema.system {
        schema["system"] = Value::from(system.clone());
    }
    if let Some(custom) = &f.schema.custom {
        schema["custom"] = Value::from(custom.clone());
    }
    if let Some(id) = f.schema.custom_id {
        schema["customId"] = Value::from(id);
    }
    json!({
        "fieldId": f.field_id,
        "name": f.name,
        "description": f.description,
        "required": f.required,
        "visible": f.visible,
        "jiraSchema": schema,
        "validValues": f.valid_values.iter()
            .map(|o| json!({ "value": o.value, "label": o.label, "children": [] }))
            .collect::<Vec<_>>(),
        "presetValues": [],
        "defaultValues": [],
    })
}

/// `CustomerRequestCreateMetaDTO`: site users may raise on behalf of customers and add
/// participants.
pub fn fields_json(rt: &RequestType) -> Value {
    json!({
        "canRaiseOnBehalfOf": true,
        "canAddRequestParticipants": true,
        "requestTypeFields": rt.fields.iter().map(field_json).collect::<Vec<_>>(),
    })
}

/// `RequestTypeDTO`; `fields` included with `expand=field`.
pub fn request_type_json(api: &str, base: &str, rt: &RequestType, expand: &[String]) -> Value {
    let icon = |size: &str| {
        format!(
            "{base}/rest/api/2/universal_avatar/view/type/SD_REQTYPE/avatar/{}?size={size}",
            rt.icon_id
        )
    };
    let mut v = json!({
        "_expands": [],
        "id": rt.id.to_string(),
        "_links": {
            "self": format!("{api}/servicedesk/{}/requesttype/{}", rt.service_desk_id, rt.id)
        },
        "name": rt.name,
        "description": rt.description,
        "helpText": rt.help_text,
        "issueTypeId": rt.issue_type_id,
        "serviceDeskId": rt.service_desk_id.to_string(),
        "portalId": rt.service_desk_id.to_string(),
        "groupIds": rt.group_ids,
        "icon": {
            "id": rt.icon_id,
            "_links": { "iconUrls": {
                "48x48": icon("large"), "24x24": icon("small"),
                "16x16": icon("xsmall"), "32x32": icon("medium"),
            }},
        },
        "restrictionStatus": "OPEN",
        "canCreateRequest": true,
    });
    if expand.iter().any(|e| e == "field") {
        v["fields"] = fields_json(rt);
    }
    v
}

/// Applies `searchQuery`, `includeHiddenRequestTypesInSearch`, `groupId` and `restrictionStatus`.
fn filter_request_types<'a>(
    types: impl Iterator<Item = &'a RequestType>,
    params: &Params,
) -> Result<Vec<&'a RequestType>, ApiError> {
    let search = params
        .get("searchQuery")
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_lowercase);
    let include_hidden = params
        .bool("includeHiddenRequestTypesInSearch")?
        .unwrap_or(false);
    let group = params.int("groupId")?.map(|g| g.to_string());
    let restricted = match params.get("restrictionStatus").map(str::to_ascii_lowercase) {
        None => None,
        Some(s) if s == "open" => Some(false),
        Some(s) if s == "restricted" => Some(true),
        Some(_) => {
            return Err(bad_request(
                "The parameter 'restrictionStatus' must be 'open' or 'restricted'.",
            ));
        }
    };
    Ok(types
        .filter(|rt| match &search {
            Some(q) => {
                (rt.name.to_lowercase().contains(q) || rt.description.to_lowercase().contains(q))
                    && (include_hidden || !rt.group_ids.is_empty())
            }
            None => true,
        })
        .filter(|rt| group.as_ref().is_none_or(|g| rt.group_ids.contains(g)))
        // Every seeded request type is open, so asking for restricted ones finds none.
        .filter(|_| restricted != Some(true))
        .collect())
}

async fn list_service_desks(
    State(state): State<SimState>,
    caller: Caller,
    params: Params,
) -> Result<Json<Value>, ApiError> {
    caller.require_route(&Method::GET, "/rest/servicedeskapi/servicedesk")?;
    let paging = params.paging(MAX_LIMIT)?;
    let api = api_base(&caller);
    let values = with_site(&state, &caller.site, |desk| {
        desk.service_desks
            .iter()
            .map(|sd| service_desk_json(&api, sd))
            .collect::<Vec<_>>()
    });
    Ok(Json(page(
        values,
        paging,
        &api,
        "/servicedesk",
        &params,
        &[],
    )))
}

async fn get_service_desk(
    State(state): State<SimState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.require_route(
        &Method::GET,
        "/rest/servicedeskapi/servicedesk/{serviceDeskId}",
    )?;
    let api = api_base(&caller);
    with_site(&state, &caller.site, |desk| {
        let i = resolve_service_desk(desk, &id)?;
        Ok(Json(service_desk_json(&api, &desk.service_desks[i])))
    })
}

async fn list_request_types(
    State(state): State<SimState>,
    caller: Caller,
    Path(id): Path<String>,
    params: Params,
) -> Result<Json<Value>, ApiError> {
    caller.require_route(
        &Method::GET,
        "/rest/servicedeskapi/servicedesk/{serviceDeskId}/requesttype",
    )?;
    let paging = params.paging(MAX_LIMIT)?;
    let api = api_base(&caller);
    let expand = params.all("expand");
    let (sd_id, values) = with_site(&state, &caller.site, |desk| {
        let i = resolve_service_desk(desk, &id)?;
        let sd_id = desk.service_desks[i].id;
        let types = filter_request_types(
            desk.request_types
                .iter()
                .filter(|rt| rt.service_desk_id == sd_id),
            &params,
        )?;
        let values: Vec<Value> = types
            .into_iter()
            .map(|rt| request_type_json(&api, &caller.base, rt, &expand))
            .collect();
        Ok::<_, ApiError>((sd_id, values))
    })?;
    Ok(Json(page(
        values,
        paging,
        &api,
        &format!("/servicedesk/{sd_id}/requesttype"),
        &params,
        &[],
    )))
}

fn find_request_type<'a>(
    desk: &'a SiteDesk,
    sd: &str,
    rt: &str,
) -> Result<&'a RequestType, ApiError> {
    let i = resolve_service_desk(desk, sd)?;
    let sd_id = desk.service_desks[i].id;
    rt.trim()
        .parse::<u64>()
        .ok()
        .and_then(|rt_id| {
            desk.request_types
                .iter()
                .find(|t| t.id == rt_id && t.service_desk_id == sd_id)
        })
        .ok_or_else(|| {
            not_found(&format!(
                "The request type '{rt}' does not exist in this service desk."
            ))
        })
}

async fn get_request_type(
    State(state): State<SimState>,
    caller: Caller,
    Path((sd, rt)): Path<(String, String)>,
    params: Params,
) -> Result<Json<Value>, ApiError> {
    caller.require_route(
        &Method::GET,
        "/rest/servicedeskapi/servicedesk/{serviceDeskId}/requesttype/{requestTypeId}",
    )?;
    let api = api_base(&caller);
    let expand = params.all("expand");
    with_site(&state, &caller.site, |desk| {
        let rt = find_request_type(desk, &sd, &rt)?;
        Ok(Json(request_type_json(&api, &caller.base, rt, &expand)))
    })
}

async fn get_request_type_fields(
    State(state): State<SimState>,
    caller: Caller,
    Path((sd, rt)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    caller.require_route(
        &Method::GET,
        "/rest/servicedeskapi/servicedesk/{serviceDeskId}/requesttype/{requestTypeId}/field",
    )?;
    with_site(&state, &caller.site, |desk| {
        let rt = find_request_type(desk, &sd, &rt)?;
        Ok(Json(fields_json(rt)))
    })
}

async fn list_all_request_types(
    State(state): State<SimState>,
    caller: Caller,
    headers: HeaderMap,
    params: Params,
) -> Result<Json<Value>, ApiError> {
    require_opt_in(&headers)?;
    caller.require_route(&Method::GET, "/rest/servicedeskapi/requesttype")?;
    let paging = params.paging(MAX_LIMIT)?;
    let api = api_base(&caller);
    let expand = params.all("expand");
    let desks: Vec<u64> = params
        .all("serviceDeskId")
        .iter()
        .map(|s| {
            s.parse::<u64>()
                .map_err(|_| bad_request("The parameter 'serviceDeskId' must be a number."))
        })
        .collect::<Result<_, _>>()?;
    let values = with_site(&state, &caller.site, |desk| {
        let types = filter_request_types(
            desk.request_types
                .iter()
                .filter(|rt| desks.is_empty() || desks.contains(&rt.service_desk_id)),
            &params,
        )?;
        Ok::<_, ApiError>(
            types
                .into_iter()
                .map(|rt| request_type_json(&api, &caller.base, rt, &expand))
                .collect::<Vec<_>>(),
        )
    })?;
    Ok(Json(page(
        values,
        paging,
        &api,
        "/requesttype",
        &params,
        &[],
    )))
}
