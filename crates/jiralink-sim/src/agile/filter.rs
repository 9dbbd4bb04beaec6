//! Saved filters (`GET /rest/api/{2,3,latest}/filter/{id}`, `POST …/filter`): the JQL boards
//! are built on. Filters are shared with nobody and owned by their creator.

use std::collections::BTreeSet;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};

use super::model::Filter;
use crate::auth::Caller;
use crate::data::{self, Searcher, SiteContext, SiteData};
use crate::errors::ApiError;
use crate::platform::params::{self, Params};
use crate::platform::render::Render;
use crate::platform::{ApiVersion, versioned};
use crate::state::SimState;

/// Routes of this module.
pub fn router() -> Router<SimState> {
    let mut r = Router::new();
    r = versioned(r, "/filter", &post(create_filter));
    versioned(r, "/filter/{id}", &get(get_filter))
}

fn filter_not_found(id: &str) -> ApiError {
    ApiError::platform(
        StatusCode::BAD_REQUEST,
        &[&format!(
            "The selected filter is not available to you, perhaps it has been deleted or had its permissions changed. (id {id})"
        )],
        &[],
    )
}

/// A filter as the platform API shows it.
pub fn filter_json(
    state: &SimState,
    caller: &Caller,
    site: &SiteData,
    version: ApiVersion,
    filter: &Filter,
) -> Value {
    let api = caller.url(&format!("/rest/api/{}", version.segment()));
    let render = Render::for_caller(site, caller, state.base_url(), version);
    let owner = filter.owner.as_deref().map_or(Value::Null, |a| {
        let mut out = String::new();
        render.user(&mut out, a);
        serde_json::from_str(&out).unwrap_or(Value::Null)
    });
    let jql = url::form_urlencoded::byte_serialize(filter.jql.as_bytes()).collect::<String>();
    json!({
        "self": format!("{api}/filter/{}", filter.id),
        "id": filter.id.to_string(),
        "name": filter.name,
        "description": filter.description,
        "owner": owner,
        "jql": filter.jql,
        "viewUrl": caller.url(&format!("/issues/?filter={}", filter.id)),
        "searchUrl": format!("{api}/search/jql?jql={jql}"),
        "favourite": filter.favourite,
        "favouritedCount": u8::from(filter.favourite),
        "sharePermissions": [],
        "editPermissions": [],
        "subscriptions": { "size": 0, "items": [], "max-results": 0, "start-index": 0, "end-index": 0 },
        "sharedUsers": { "size": 0, "items": [], "max-results": 0, "start-index": 0, "end-index": 0 },
    })
}

async fn get_filter(
    State(state): State<SimState>,
    version: ApiVersion,
    caller: Caller,
    Path(id): Path<String>,
    _params: Params,
) -> Result<Response, ApiError> {
    caller.require("getFilter")?;
    let entry = data::site(&state, &caller.site);
    let site = entry.read();
    let filter = id
        .trim()
        .parse::<u64>()
        .ok()
        .and_then(|n| site.agile().filter(n))
        .ok_or_else(|| filter_not_found(&id))?;
    let body = filter_json(&state, &caller, &site, version, filter);
    Ok(params::value(StatusCode::OK, &body, 1))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct NewFilter {
    name: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    jql: Option<String>,
    #[serde(default)]
    favourite: Option<bool>,
}

async fn create_filter(
    State(state): State<SimState>,
    version: ApiVersion,
    caller: Caller,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    caller.require("createFilter")?;
    let body: NewFilter = params::body(&bytes)?;
    let name = body.name.as_deref().map(str::trim).unwrap_or_default();
    if name.is_empty() {
        return Err(ApiError::platform(
            StatusCode::BAD_REQUEST,
            &[],
            &[(
                "filterName",
                "You must specify a name to save this filter as.",
            )],
        ));
    }
    if name.chars().count() > 255 {
        return Err(ApiError::platform(
            StatusCode::BAD_REQUEST,
            &[],
            &[(
                "filterName",
                "The filter name must be 255 characters or fewer.",
            )],
        ));
    }
    let jql = body.jql.unwrap_or_default();
    let entry = data::site(&state, &caller.site);
    let mut site = entry.write();
    if !jql.trim().is_empty() {
        let query = crate::jql::parse(&jql).map_err(|e| jql_error(&e))?;
        let searcher = Searcher {
            account_id: Some(&caller.user.account_id),
            time_zone: &caller.user.time_zone,
            now_ms: data::now_ms(&state),
        };
        let stripped = crate::jql::Query {
            where_clause: query.where_clause.clone(),
            order_by: query
                .order_by
                .iter()
                .filter(|o| !matches!(&o.field, crate::jql::Field::Named(n) if n.eq_ignore_ascii_case("rank")))
                .cloned()
                .collect(),
        };
        stripped
            .compile(&SiteContext::new(&site, searcher))
            .map_err(|e| jql_error(&e))?;
    }
    let owner = caller.user.account_id.clone();
    let taken: BTreeSet<String> = site
        .agile()
        .filters
        .values()
        .filter(|f| f.owner.as_deref() == Some(owner.as_str()))
        .map(|f| f.name.to_lowercase())
        .collect();
    if taken.contains(&name.to_lowercase()) {
        return Err(ApiError::platform(
            StatusCode::BAD_REQUEST,
            &[],
            &[("filterName", "Filter with same name already exists.")],
        ));
    }
    let agile = site.agile_mut();
    let id = agile.next_filter;
    agile.next_filter += 1;
    let filter = Filter {
        id,
        name: name.to_owned(),
        description: body.description.unwrap_or_default(),
        jql,
        owner: Some(owner),
        favourite: body.favourite.unwrap_or(false),
    };
    agile.filters.insert(id, filter.clone());
    let body = filter_json(&state, &caller, &site, version, &filter);
    Ok(params::value(StatusCode::OK, &body, 1))
}

fn jql_error(errors: &crate::jql::JqlErrors) -> ApiError {
    let messages = errors.messages();
    let refs: Vec<&str> = messages.iter().map(String::as_str).collect();
    ApiError::platform(StatusCode::BAD_REQUEST, &refs, &[])
}
