//! Admin webhooks: `/rest/webhooks/1.0/webhook` (create, list) and `/{id}` (get, replace,
//! delete), for site administrators (members of `jira-administrators` or `site-admins`); other
//! callers get 403. They never expire. With a `secret`, deliveries carry `X-Hub-Signature`; the
//! secret is never answered back.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use serde_json::{Map, Value, json};

use super::registry::{AdminWebhook, SUPPORTED_EVENTS, Secret};
use super::{compile, hub};
use crate::auth::Caller;
use crate::data;
use crate::data::groups::{ADMINISTRATORS, SITE_ADMINS};
use crate::errors::ApiError;
use crate::platform::params;
use crate::state::SimState;

/// Path of the admin webhook API.
pub const PATH: &str = "/rest/webhooks/1.0/webhook";

/// The JQL key inside `filters`.
const JQL_FILTER: &str = "issue-related-events-section";

/// The scope OAuth and scoped-token callers need besides being administrators.
const SCOPE: &str = "manage:jira-webhook";

fn require_admin(caller: &Caller) -> Result<(), ApiError> {
    let admin = caller
        .user
        .groups
        .iter()
        .any(|g| g == ADMINISTRATORS || g == SITE_ADMINS);
    if !admin {
        return Err(ApiError::platform(
            StatusCode::FORBIDDEN,
            &["Only site administrators can manage webhooks."],
            &[],
        ));
    }
    if caller.scopes.as_ref().is_some_and(|s| !s.contains(SCOPE)) {
        return Err(ApiError::insufficient_scope(&[vec![SCOPE.to_owned()]]));
    }
    Ok(())
}

fn not_found(id: &str) -> ApiError {
    ApiError::platform(
        StatusCode::NOT_FOUND,
        &[&format!("Webhook with id {id} does not exist.")],
        &[],
    )
}

fn render(caller: &Caller, h: &AdminWebhook, display_name: &str) -> Value {
    let mut filters = Map::new();
    if let Some(jql) = &h.jql {
        filters.insert(JQL_FILTER.to_owned(), json!(jql));
    }
    json!({
        "self": caller.url(&format!("{PATH}/{}", h.id)),
        "name": h.name,
        "url": h.url,
        "events": h.events,
        "filters": filters,
        "excludeBody": h.exclude_body,
        "enabled": h.enabled,
        "lastUpdatedUser": h.last_updated_by,
        "lastUpdatedDisplayName": display_name,
        "lastUpdated": h.last_updated_ms,
    })
}

fn display_name(state: &SimState, account_id: &str) -> String {
    state
        .directory()
        .users
        .get(account_id)
        .map(|u| u.display_name.clone())
        .unwrap_or_default()
}

/// A webhook from a request body; `previous` supplies the secret when the body has none.
fn parse(
    state: &SimState,
    caller: &Caller,
    bytes: &Bytes,
    previous: Option<&AdminWebhook>,
) -> Result<AdminWebhook, ApiError> {
    let body: Map<String, Value> = params::body(bytes)?;
    let text = |key: &str| body.get(key).and_then(Value::as_str).map(str::trim);
    let mut errors: Vec<(&str, String)> = Vec::new();
    let name = text("name").unwrap_or_default().to_owned();
    if name.is_empty() {
        errors.push(("name", "The webhook name must not be empty.".to_owned()));
    }
    let url = text("url").unwrap_or_default().to_owned();
    if !url::Url::parse(&url).is_ok_and(|u| matches!(u.scheme(), "http" | "https")) {
        errors.push((
            "url",
            "The URL must be an absolute http or https URL.".to_owned(),
        ));
    }
    let events: Vec<String> = body
        .get("events")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    if events.is_empty() {
        errors.push(("events", "At least one event must be specified.".to_owned()));
    }
    if let Some(bad) = events
        .iter()
        .find(|e| !SUPPORTED_EVENTS.contains(&e.as_str()))
    {
        errors.push(("events", format!("The event {bad} is not supported.")));
    }
    let jql = body
        .get("filters")
        .and_then(|f| f.get(JQL_FILTER))
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|j| !j.is_empty())
        .map(str::to_owned);
    if let Some(jql) = &jql {
        let entry = data::site(state, &caller.site);
        let site = entry.read();
        if let Err(messages) = compile(&site, jql, None, data::now_ms(state)) {
            errors.push(("filters", messages.join(" ")));
        }
    }
    if !errors.is_empty() {
        let pairs: Vec<(&str, &str)> = errors.iter().map(|(k, v)| (*k, v.as_str())).collect();
        return Err(ApiError::platform(StatusCode::BAD_REQUEST, &[], &pairs));
    }
    let secret = match body.get("secret") {
        None => previous.and_then(|p| p.secret.clone()),
        Some(Value::String(s)) if !s.is_empty() => Some(Secret::new(s.clone())),
        Some(_) => None,
    };
    Ok(AdminWebhook {
        id: previous.map_or(0, |p| p.id),
        site: caller.site.subdomain.clone(),
        name,
        url,
        events,
        jql,
        exclude_body: body
            .get("excludeBody")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        secret,
        enabled: body.get("enabled").and_then(Value::as_bool).unwrap_or(true),
        last_updated_ms: data::now_ms(state),
        last_updated_by: caller.user.account_id.clone(),
    })
}

async fn create(
    State(state): State<SimState>,
    caller: Caller,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    require_admin(&caller)?;
    let mut hook = parse(&state, &caller, &bytes, None)?;
    let hub = hub(&state);
    hook.id = hub.registry().add_admin(hook.clone());
    hub.registry_changed();
    let name = display_name(&state, &hook.last_updated_by);
    Ok(params::value(
        StatusCode::CREATED,
        &render(&caller, &hook, &name),
        0,
    ))
}

async fn list(State(state): State<SimState>, caller: Caller) -> Result<Response, ApiError> {
    require_admin(&caller)?;
    let hooks: Vec<AdminWebhook> = hub(&state)
        .registry()
        .admin
        .values()
        .filter(|h| h.site == caller.site.subdomain)
        .cloned()
        .collect();
    let values: Vec<Value> = hooks
        .iter()
        .map(|h| render(&caller, h, &display_name(&state, &h.last_updated_by)))
        .collect();
    Ok(params::value(StatusCode::OK, &Value::Array(values), 0))
}

fn find(state: &SimState, caller: &Caller, id: &str) -> Result<AdminWebhook, ApiError> {
    let n: u64 = id.parse().map_err(|_| not_found(id))?;
    hub(state)
        .registry()
        .admin
        .get(&n)
        .filter(|h| h.site == caller.site.subdomain)
        .cloned()
        .ok_or_else(|| not_found(id))
}

async fn read(
    State(state): State<SimState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    require_admin(&caller)?;
    let hook = find(&state, &caller, &id)?;
    let name = display_name(&state, &hook.last_updated_by);
    Ok(params::value(
        StatusCode::OK,
        &render(&caller, &hook, &name),
        0,
    ))
}

async fn replace(
    State(state): State<SimState>,
    caller: Caller,
    Path(id): Path<String>,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    require_admin(&caller)?;
    let previous = find(&state, &caller, &id)?;
    let hook = parse(&state, &caller, &bytes, Some(&previous))?;
    hub(&state).registry().admin.insert(hook.id, hook.clone());
    let name = display_name(&state, &hook.last_updated_by);
    Ok(params::value(
        StatusCode::OK,
        &render(&caller, &hook, &name),
        0,
    ))
}

async fn remove(
    State(state): State<SimState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    require_admin(&caller)?;
    let hook = find(&state, &caller, &id)?;
    let hub = hub(&state);
    hub.registry().admin.remove(&hook.id);
    hub.registry_changed();
    Ok(params::no_content())
}

/// The admin-webhook routes.
pub fn router() -> Router<SimState> {
    Router::new()
        .route("/rest/webhooks/1.0/webhook", get(list).post(create))
        .route(
            "/rest/webhooks/1.0/webhook/{id}",
            get(read).put(replace).delete(remove),
        )
}
