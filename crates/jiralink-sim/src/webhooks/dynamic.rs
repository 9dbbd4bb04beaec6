//! Dynamic webhooks of OAuth 2.0 apps: `POST/GET/DELETE /rest/api/{v}/webhook`,
//! `PUT /webhook/refresh` and `GET /webhook/failed`, owned per app (client id) and site.
//!
//! Only OAuth 2.0 callers may use them (Basic and API-token callers get 403, as non-apps do on
//! Jira Cloud); each operation then checks its scopes like every platform route.

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, put};
use serde::Deserialize;
use serde_json::{Value, json};

use super::registry::{DynamicWebhook, LIFETIME_MS, SUPPORTED_EVENTS};
use super::{compile, epoch_ms, hub};
use crate::auth::{AuthKind, Caller};
use crate::data;
use crate::errors::ApiError;
use crate::platform::params::{self, Params};
use crate::platform::render::datetime;
use crate::platform::{ApiVersion, versioned};
use crate::state::SimState;

/// The message non-app callers get.
pub const NOT_AN_APP: &str = "Only Connect and OAuth 2.0 apps can use this operation.";

/// The app behind an OAuth caller, after the operation's scope check.
fn app_of(caller: &Caller, operation_id: &str) -> Result<String, ApiError> {
    let AuthKind::OAuth { client_id, .. } = &caller.auth else {
        return Err(ApiError::platform(
            StatusCode::FORBIDDEN,
            &[NOT_AN_APP],
            &[],
        ));
    };
    caller.require(operation_id)?;
    Ok(client_id.clone())
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Details {
    events: Option<Vec<String>>,
    jql_filter: Option<String>,
    field_ids_filter: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
struct Registration {
    url: Option<String>,
    webhooks: Option<Vec<Details>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Ids {
    webhook_ids: Option<Vec<u64>>,
}

fn ids(bytes: &Bytes) -> Result<Vec<u64>, ApiError> {
    let body: Ids = params::body(bytes)?;
    body.webhook_ids
        .ok_or_else(|| ApiError::platform_bad_request("webhookIds must not be null"))
}

fn valid_url(url: &str) -> bool {
    url::Url::parse(url).is_ok_and(|u| matches!(u.scheme(), "http" | "https"))
}

async fn register(
    State(state): State<SimState>,
    caller: Caller,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    let client_id = app_of(&caller, "registerDynamicWebhooks")?;
    let body: Registration = params::body(&bytes)?;
    let url = body
        .url
        .filter(|u| !u.trim().is_empty())
        .ok_or_else(|| ApiError::platform_bad_request("url must not be empty"))?;
    if !valid_url(&url) {
        return Err(ApiError::platform_bad_request(&format!(
            "The URL {url} is not valid."
        )));
    }
    let details = body
        .webhooks
        .ok_or_else(|| ApiError::platform_bad_request("webhooks must not be null"))?;
    let now_ms = data::now_ms(&state);
    // Check every filter against the site first; the registry lock is never held while the
    // site's lock is taken (deliveries take them the other way round).
    let checked: Vec<Result<Details, Vec<String>>> = {
        let entry = data::site(&state, &caller.site);
        let site = entry.read();
        details
            .into_iter()
            .map(|d| {
                let mut errors = Vec::new();
                let events = d.events.clone().unwrap_or_default();
                if events.is_empty() {
                    errors.push("At least one event must be specified.".to_owned());
                }
                for e in &events {
                    if !SUPPORTED_EVENTS.contains(&e.as_str()) {
                        errors.push(format!("The event {e} is not supported."));
                    }
                }
                match d.jql_filter.as_deref().filter(|j| !j.trim().is_empty()) {
                    None => errors.push("The JQL filter must not be empty.".to_owned()),
                    Some(jql) => {
                        if let Err(messages) =
                            compile(&site, jql, Some(&caller.user.account_id), now_ms)
                        {
                            errors.extend(messages);
                        }
                    }
                }
                if errors.is_empty() {
                    Ok(d)
                } else {
                    Err(errors)
                }
            })
            .collect()
    };
    let hub = hub(&state);
    let results: Vec<Value> = {
        let mut registry = hub.registry();
        checked
            .into_iter()
            .map(|checked| match checked {
                Ok(d) => {
                    let id = registry.add_dynamic(DynamicWebhook {
                        id: 0,
                        client_id: client_id.clone(),
                        site: caller.site.subdomain.clone(),
                        cloud_id: caller.site.cloud_id.to_string(),
                        account_id: caller.user.account_id.clone(),
                        url: url.clone(),
                        events: d.events.unwrap_or_default(),
                        jql: d.jql_filter.unwrap_or_default(),
                        field_ids: d.field_ids_filter,
                        expires_ms: now_ms + LIFETIME_MS,
                    });
                    json!({ "createdWebhookId": id })
                }
                Err(errors) => json!({ "errors": errors }),
            })
            .collect()
    };
    hub.registry_changed();
    Ok(params::value(
        StatusCode::OK,
        &json!({ "webhookRegistrationResult": results }),
        0,
    ))
}

async fn list(
    State(state): State<SimState>,
    version: ApiVersion,
    caller: Caller,
    params: Params,
) -> Result<Response, ApiError> {
    let client_id = app_of(&caller, "getDynamicWebhooksForApp")?;
    let (start, max) = params::page(&params, 100, 100)?;
    let hub = hub(&state);
    let mine: Vec<Value> = hub
        .registry()
        .dynamic_of(&client_id, &caller.site.subdomain)
        .map(|h| {
            let mut v = json!({
                "id": h.id,
                "jqlFilter": h.jql,
                "events": h.events,
                "expirationDate": datetime(h.expires_ms),
                "url": h.url,
            });
            if let Some(ids) = &h.field_ids {
                v["fieldIdsFilter"] = json!(ids);
            }
            v
        })
        .collect();
    let total = mine.len();
    let values: Vec<Value> = mine.into_iter().skip(start).take(max).collect();
    let path = caller.url(&format!("/rest/api/{}/webhook", version.segment()));
    Ok(params::value(
        StatusCode::OK,
        &params::page_body(&path, start, max, total, &values),
        0,
    ))
}

async fn remove(
    State(state): State<SimState>,
    caller: Caller,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    let client_id = app_of(&caller, "deleteWebhookById")?;
    let ids = ids(&bytes)?;
    let hub = hub(&state);
    hub.registry().dynamic.retain(|id, h| {
        !(ids.contains(id) && h.client_id == client_id && h.site == caller.site.subdomain)
    });
    hub.registry_changed();
    Ok(params::json(StatusCode::ACCEPTED, String::new(), 0))
}

async fn refresh(
    State(state): State<SimState>,
    caller: Caller,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    let client_id = app_of(&caller, "refreshWebhooks")?;
    let ids = ids(&bytes)?;
    let expires_ms = data::now_ms(&state) + LIFETIME_MS;
    let hub = hub(&state);
    for (id, h) in &mut hub.registry().dynamic {
        if ids.contains(id) && h.client_id == client_id && h.site == caller.site.subdomain {
            h.expires_ms = expires_ms;
        }
    }
    Ok(params::value(
        StatusCode::OK,
        &json!({ "expirationDate": datetime(expires_ms) }),
        0,
    ))
}

async fn failed(
    State(state): State<SimState>,
    version: ApiVersion,
    caller: Caller,
    params: Params,
) -> Result<Response, ApiError> {
    let client_id = app_of(&caller, "getFailedWebhooks")?;
    let max = params.int("maxResults", 100)?;
    if max < 0 {
        return Err(ApiError::platform_bad_request(
            "The 'maxResults' parameter must be greater than or equal to 0.",
        ));
    }
    let max = usize::try_from(max.min(100)).unwrap_or(100);
    // The document names the parameter `after`; its `next` links use `failedAfter`.
    let after = match params.get("after").or_else(|| params.get("failedAfter")) {
        None => None,
        Some(text) => Some(text.trim().parse::<i64>().map_err(|_| {
            ApiError::platform_bad_request(&format!("The value '{text}' is not a valid 'after'."))
        })?),
    };
    let now_ms = epoch_ms(state.now());
    let found =
        hub(&state)
            .registry()
            .failed_of(&client_id, &caller.site.subdomain, after, max, now_ms);
    let values: Vec<Value> = found
        .iter()
        .map(|f| {
            json!({
                "id": f.identifier,
                "body": f.body,
                "url": f.url,
                "failureTime": f.failure_ms,
            })
        })
        .collect();
    let mut body = json!({ "values": values, "maxResults": max });
    if let Some(last) = found.last() {
        body["next"] = json!(caller.url(&format!(
            "/rest/api/{}/webhook/failed?failedAfter={}&maxResults={max}",
            version.segment(),
            last.failure_ms
        )));
    }
    Ok(params::value(StatusCode::OK, &body, 0))
}

/// The dynamic-webhook routes.
pub fn router() -> Router<SimState> {
    let mut r = Router::new();
    r = versioned(r, "/webhook", &get(list).post(register).delete(remove));
    r = versioned(r, "/webhook/refresh", &put(refresh));
    r = versioned(r, "/webhook/failed", &get(failed));
    r
}
