//! `GET|POST /search/jql` and `POST /search/approximate-count`.
//!
//! The first page runs the query once and keeps the ordered ids as a snapshot; `nextPageToken`
//! names the snapshot and an offset, so later pages neither parse JQL nor search again and the
//! pages of one search list every matching issue exactly once, in order, even while issues
//! change (fields are read when each page is served). Tokens are valid for 7 days of simulated
//! time; when a snapshot was evicted (the last [`MAX_SNAPSHOTS`] are kept) the query is run
//! again from the request's `jql` and paging continues at the token's offset.
//!
//! Page-size caps (`maxResults`, default 50):
//!
//! | Request | Cap |
//! |---|---|
//! | only `id`/`key` fields, no `expand`, no `properties` | 5,000 |
//! | up to 10 named fields, at most `names`/`schema` expanded | 1,000 |
//! | anything else (`*all`, `*navigable`, other expands, properties) | 100 |
//!
//! The knob `search_page_cap` lowers every cap (Jira may send fewer than asked).
//!
//! Embedded `comment` and `changelog` hold the latest 20 entries. `failFast` and `fieldsByKeys`
//! are accepted and change nothing (field keys equal field ids here, and every field is
//! always available).

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use base64::Engine as _;
use serde::Deserialize;
use serde_json::json;

use super::fields::{DefaultFields, Selection};
use super::json::{Obj, push_array};
use super::params::{self, Params};
use super::render::{Expand, IssueOptions, Render};
use super::{ApiVersion, versioned};
use crate::auth::Caller;
use crate::data::{self, Consistency, Searcher, SiteContext};
use crate::errors::ApiError;
use crate::jql::{JqlError, JqlErrors};
use crate::state::{SimState, lock};

/// Snapshots kept per site.
pub const MAX_SNAPSHOTS: usize = 64;
/// A `nextPageToken` is honoured this long after the first page (ms).
pub const TOKEN_LIFETIME_MS: i64 = 7 * 24 * 3_600_000;
/// Most `reconcileIssues` ids.
pub const MAX_RECONCILE: usize = 50;
/// Most `properties`.
pub const MAX_PROPERTIES: usize = 5;
/// Most histories or comments embedded per issue in search results.
pub const EMBEDDED_CAP: usize = 20;
/// Cap for id/key-only pages.
pub const CAP_IDS: usize = 5_000;
/// Cap for pages with a few named fields.
pub const CAP_LIGHT: usize = 1_000;
/// Cap for pages with many fields or expansions.
pub const CAP_HEAVY: usize = 100;

/// Message for a token that is malformed, expired or belongs to another query.
pub const BAD_TOKEN: &str = "The provided next page token is invalid or expired.";

/// The ordered result of one search.
#[derive(Debug)]
pub struct Snapshot {
    jql: String,
    account: Option<String>,
    ids: Vec<u64>,
    created_ms: i64,
}

/// Search snapshots of one site.
#[derive(Debug, Default)]
pub struct SearchCache {
    entries: HashMap<u64, Arc<Snapshot>>,
    order: VecDeque<u64>,
    next: u64,
}

impl SearchCache {
    fn insert(&mut self, snapshot: Snapshot) -> (u64, Arc<Snapshot>) {
        self.next += 1;
        let id = self.next;
        let snapshot = Arc::new(snapshot);
        self.entries.insert(id, snapshot.clone());
        self.order.push_back(id);
        while self.order.len() > MAX_SNAPSHOTS {
            if let Some(old) = self.order.pop_front() {
                self.entries.remove(&old);
            }
        }
        (id, snapshot)
    }

    fn get(&self, id: u64) -> Option<Arc<Snapshot>> {
        self.entries.get(&id).cloned()
    }
}

/// What a token carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Token {
    snapshot: u64,
    offset: usize,
    created_ms: i64,
    jql_hash: u64,
}

fn jql_hash(jql: &str) -> u64 {
    crate::data::generate::mix(0x5EED, jql.len() as u64, 0)
        ^ jql.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        })
}

impl Token {
    fn encode(&self) -> String {
        let text = format!(
            "{}:{}:{}:{:x}",
            self.snapshot, self.offset, self.created_ms, self.jql_hash
        );
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text)
    }

    fn decode(token: &str) -> Option<Self> {
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(token.trim())
            .ok()?;
        let text = String::from_utf8(bytes).ok()?;
        let mut parts = text.split(':');
        let token = Self {
            snapshot: parts.next()?.parse().ok()?,
            offset: parts.next()?.parse().ok()?,
            created_ms: parts.next()?.parse().ok()?,
            jql_hash: u64::from_str_radix(parts.next()?, 16).ok()?,
        };
        parts.next().is_none().then_some(token)
    }
}

/// A search request from either verb.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SearchBody {
    jql: Option<String>,
    next_page_token: Option<String>,
    max_results: Option<i64>,
    #[serde(default)]
    fields: Vec<String>,
    expand: Option<String>,
    #[serde(default)]
    properties: Vec<String>,
    #[serde(default)]
    fields_by_keys: bool,
    #[serde(default)]
    fail_fast: bool,
    #[serde(default)]
    reconcile_issues: Vec<i64>,
}

impl SearchBody {
    fn from_query(p: &Params) -> Result<Self, ApiError> {
        let reconcile = p
            .list("reconcileIssues")
            .iter()
            .map(|v| {
                v.parse::<i64>().map_err(|_| {
                    ApiError::platform_bad_request(&format!(
                        "The value '{v}' for the 'reconcileIssues' parameter is not a valid number."
                    ))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            jql: p.get("jql").map(str::to_owned),
            next_page_token: p.get("nextPageToken").map(str::to_owned),
            max_results: p
                .get("maxResults")
                .map(|_| p.int("maxResults", 50))
                .transpose()?,
            fields: p.list("fields"),
            expand: Some(p.list("expand").join(",")).filter(|e| !e.is_empty()),
            properties: p.list("properties"),
            fields_by_keys: p.bool("fieldsByKeys", false)?,
            fail_fast: p.bool("failFast", false)?,
            reconcile_issues: reconcile,
        })
    }
}

fn jql_error(errors: &JqlErrors) -> ApiError {
    let messages = errors.messages();
    let refs: Vec<&str> = messages.iter().map(String::as_str).collect();
    ApiError::platform(StatusCode::BAD_REQUEST, &refs, &[])
}

/// Parses, checks boundedness and compiles; runs the search.
fn run_query(
    state: &SimState,
    caller: &Caller,
    site: &data::SiteData,
    jql: &str,
    reconcile: &BTreeSet<u64>,
    count_only: bool,
) -> Result<(Vec<u64>, u64), ApiError> {
    let query = crate::jql::parse(jql).map_err(|e| jql_error(&e))?;
    if !query.is_bounded() {
        return Err(jql_error(&JqlErrors::single(JqlError::Unbounded)));
    }
    let now = data::now_ms(state);
    let searcher = Searcher {
        account_id: Some(&caller.user.account_id),
        time_zone: &caller.user.time_zone,
        now_ms: now,
    };
    let compiled = query
        .compile(&SiteContext::new(site, searcher))
        .map_err(|e| jql_error(&e))?;
    let lag = i64::try_from(state.knobs().index_lag_secs)
        .unwrap_or(i64::MAX / 2_000)
        .saturating_mul(1000);
    let consistency = Consistency {
        indexed_until: now.saturating_sub(lag),
        reconcile,
    };
    if count_only {
        return Ok((Vec::new(), site.count(&compiled, consistency)));
    }
    let ids = site.search(&compiled, consistency);
    let n = ids.len() as u64;
    Ok((ids, n))
}

fn cap_for(selection: &Selection, expand: &Expand, properties: &[String]) -> usize {
    let heavy_expand = expand.rendered
        || expand.transitions
        || expand.operations
        || expand.editmeta
        || expand.changelog
        || expand.versioned;
    if selection.id_only() && !expand.any() && properties.is_empty() {
        CAP_IDS
    } else if !heavy_expand && properties.is_empty() && selection.weight(usize::MAX) <= 10 {
        CAP_LIGHT
    } else {
        CAP_HEAVY
    }
}

/// Serves one page of a search.
pub fn search(
    state: &SimState,
    caller: &Caller,
    version: ApiVersion,
    req: &SearchBody,
) -> Result<Response, ApiError> {
    let _ = (req.fields_by_keys, req.fail_fast);
    let jql = req.jql.clone().unwrap_or_default();
    if req.properties.len() > MAX_PROPERTIES {
        return Err(ApiError::platform_bad_request(&format!(
            "Only {MAX_PROPERTIES} issue properties can be requested at a time."
        )));
    }
    if req.reconcile_issues.len() > MAX_RECONCILE {
        return Err(ApiError::platform_bad_request(&format!(
            "The 'reconcileIssues' list can contain at most {MAX_RECONCILE} issue ids."
        )));
    }
    let reconcile: BTreeSet<u64> = req
        .reconcile_issues
        .iter()
        .filter_map(|i| u64::try_from(*i).ok())
        .collect();
    let selection = Selection::parse(&req.fields, DefaultFields::IdOnly);
    let expand = Expand::parse(req.expand.as_slice());
    let max = req.max_results.unwrap_or(50);
    if max < 0 {
        return Err(ApiError::platform_bad_request(
            "The 'maxResults' parameter must be greater than or equal to 0.",
        ));
    }
    let cap = match state.knobs().search_page_cap {
        0 => cap_for(&selection, &expand, &req.properties),
        knob => cap_for(&selection, &expand, &req.properties).min(knob as usize),
    };
    let page_size = usize::try_from(max).unwrap_or(usize::MAX).clamp(1, cap);
    let now = data::now_ms(state);
    let entry = data::site(state, &caller.site);
    let site = entry.read();

    let (snapshot_id, snapshot, offset) = match &req.next_page_token {
        Some(raw) if !raw.trim().is_empty() => {
            let token = Token::decode(raw)
                .filter(|t| now.saturating_sub(t.created_ms) <= TOKEN_LIFETIME_MS)
                .filter(|t| t.jql_hash == jql_hash(&jql))
                .ok_or_else(|| ApiError::platform_bad_request(BAD_TOKEN))?;
            let cached = lock(&entry.searches)
                .get(token.snapshot)
                .filter(|s| s.jql == jql && s.account.as_deref() == Some(&caller.user.account_id));
            match cached {
                Some(s) => (token.snapshot, s, token.offset),
                None => {
                    let (ids, _) = run_query(state, caller, &site, &jql, &reconcile, false)?;
                    let (id, s) = lock(&entry.searches).insert(Snapshot {
                        jql: jql.clone(),
                        account: Some(caller.user.account_id.clone()),
                        ids,
                        created_ms: token.created_ms,
                    });
                    (id, s, token.offset)
                }
            }
        }
        _ => {
            let (ids, _) = run_query(state, caller, &site, &jql, &reconcile, false)?;
            let (id, s) = lock(&entry.searches).insert(Snapshot {
                jql: jql.clone(),
                account: Some(caller.user.account_id.clone()),
                ids,
                created_ms: now,
            });
            (id, s, 0)
        }
    };

    let end = offset.saturating_add(page_size).min(snapshot.ids.len());
    let page_ids = snapshot.ids.get(offset.min(end)..end).unwrap_or(&[]);
    let render = Render::for_caller(&site, caller, state.base_url(), version);
    let opts = IssueOptions {
        selection: &selection,
        expand,
        properties: &req.properties,
        changelog_cap: EMBEDDED_CAP,
        comment_cap: EMBEDDED_CAP,
        names_inside: false,
    };
    let mut body = String::with_capacity(256 + page_ids.len() * 512);
    let mut returned = 0u64;
    {
        let mut o = Obj::new(&mut body);
        if selection.id_only() && !expand.any() && req.properties.is_empty() {
            // Ids and keys need no issue to be built.
            let with_key = selection.wants_key();
            push_array(
                o.key("issues"),
                page_ids
                    .iter()
                    .filter_map(|id| site.key_of(*id).map(|k| (*id, k))),
                |out, (id, key)| {
                    returned += 1;
                    let mut i = Obj::new(out);
                    i.str("id", &id.to_string());
                    if with_key {
                        i.str("self", &format!("{}/issue/{id}", render.api))
                            .str("key", &key);
                    }
                    i.end();
                },
            );
        } else {
            push_array(
                o.key("issues"),
                page_ids.iter().filter_map(|id| site.issue_by_id(*id)),
                |out, issue| {
                    returned += 1;
                    render.issue(out, &issue, &opts);
                },
            );
        }
        let is_last = end >= snapshot.ids.len();
        if !is_last {
            let token = Token {
                snapshot: snapshot_id,
                offset: end,
                created_ms: snapshot.created_ms,
                jql_hash: jql_hash(&jql),
            };
            o.str("nextPageToken", &token.encode());
        }
        o.bool("isLast", is_last);
        let defs = render.selected(&selection);
        if expand.names {
            render.names(o.key("names"), &defs);
        }
        if expand.schema {
            render.schemas(o.key("schema"), &defs);
        }
        o.end();
    }
    Ok(params::json(StatusCode::OK, body, returned))
}

async fn search_get(
    State(state): State<SimState>,
    version: ApiVersion,
    caller: Caller,
    query: Params,
) -> Result<Response, ApiError> {
    caller.require("searchAndReconsileIssuesUsingJql")?;
    let req = SearchBody::from_query(&query)?;
    search(&state, &caller, version, &req)
}

async fn search_post(
    State(state): State<SimState>,
    version: ApiVersion,
    caller: Caller,
    bytes: axum::body::Bytes,
) -> Result<Response, ApiError> {
    caller.require("searchAndReconsileIssuesUsingJqlPost")?;
    let req: SearchBody = params::body(&bytes)?;
    search(&state, &caller, version, &req)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CountBody {
    jql: Option<String>,
}

async fn approximate_count(
    State(state): State<SimState>,
    caller: Caller,
    bytes: axum::body::Bytes,
) -> Result<Response, ApiError> {
    caller.require("countIssues")?;
    let req: CountBody = params::body(&bytes)?;
    let entry = data::site(&state, &caller.site);
    let site = entry.read();
    let (_, count) = run_query(
        &state,
        &caller,
        &site,
        req.jql.as_deref().unwrap_or(""),
        &BTreeSet::new(),
        true,
    )?;
    Ok(params::value(StatusCode::OK, &json!({ "count": count }), 0))
}

/// Routes of this module.
pub fn router() -> Router<SimState> {
    let r = versioned(
        Router::new(),
        "/search/jql",
        &get(search_get).post(search_post),
    );
    versioned(r, "/search/approximate-count", &post(approximate_count))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_reject_garbage() {
        let t = Token {
            snapshot: 7,
            offset: 100,
            created_ms: 1_767_605_400_000,
            jql_hash: jql_hash("project = DEMO"),
        };
        assert_eq!(Token::decode(&t.encode()), Some(t));
        assert_eq!(Token::decode("not a token"), None);
        assert_ne!(jql_hash("project = DEMO"), jql_hash("project = MOB"));
    }

    #[test]
    fn caps_depend_on_the_request() {
        let ids = Selection::parse(&["id".to_owned(), "key".to_owned()], DefaultFields::IdOnly);
        let few = Selection::parse(&["summary,status".to_owned()], DefaultFields::IdOnly);
        let all = Selection::parse(&["*all".to_owned()], DefaultFields::IdOnly);
        let none = Expand::default();
        assert_eq!(cap_for(&ids, &none, &[]), CAP_IDS);
        assert_eq!(cap_for(&few, &none, &[]), CAP_LIGHT);
        assert_eq!(cap_for(&all, &none, &[]), CAP_HEAVY);
        let changelog = Expand::parse(&["changelog".to_owned()]);
        assert_eq!(cap_for(&few, &changelog, &[]), CAP_HEAVY);
    }
}
