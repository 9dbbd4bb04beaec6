//! JSON dump and load of the whole simulator state, and their control routes.
//!
//! ```json
//! {"version":2,"seed":1,"sites":{"demo":{
//!   "size":"small","generated":96,"anchor_ms":1767571200000,
//!   "counters":{"next_id":10097,"next_comment":10768,"next_worklog":10384,"next_history":11536,
//!               "next_number":{"10000":41}},
//!   "issues":[{"written_ms":1767605400000,"issue":{…}}],
//!   "deleted":{"10003":1767605400000},
//!   "links":{"types":[…],"links":{…},"removed_links":[…],"remote":{…},"attachments":{…},…}}},
//!  "identity":{"directory":{"sites":…,"users":…,"tokens":…,"apps":…},
//!              "oauth":{"pending":…,"codes":…,"grants":…,"access":…,"refresh":…}},
//!  "service_management":{"sites":{"demo":{"customers":…,"organizations":…,"request_types":…,
//!                                         "requests":…,"csm":{…},…}}}}
//! ```
//!
//! `issues` lists only created or changed issues; generated ones are rebuilt from the seed.
//! `links` holds the site's link types and the links, remote links and attachments (bytes in
//! base64) made through the API, and the generated ones deleted since; a dump without it keeps
//! the generated state.
//! `identity` (users, API tokens, OAuth apps, grants, codes and token families) and
//! `service_management` (JSM customers, organizations, request types, request metadata
//! (participants, and the comment and visibility of request attachments, whose files are
//! issue attachments under `links`), approvals and temporary uploads;
//! CSM detail fields and values, products, entitlements and tasks) are the stores themselves.
//! The dump therefore holds the simulated directory's credentials: treat it as test data.
//! A version-1 dump (sites only) leaves identity and service-management data as they are.
//!
//! | Route | Body | Answer |
//! |---|---|---|
//! | `GET /_sim/state/dump` | | the dump |
//! | `POST /_sim/state/load` | a dump | 204; 400 `{"error":…}` |
//! | `POST /_sim/state/generate` | `{"site":"demo","issues":1000000}` | 204: regenerates the site with that many issues, dropping its changes |

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::error::DataError;
use super::model::Issue;
use super::store::SiteData;
use super::tracking::Notification;
use super::{SiteEntry, Sites, seeded_members};
use crate::config::DataSize;
use crate::control::{Control, ControlError};
use crate::identity::Directory;
use crate::jsm::store::DeskStore;
use crate::oauth::OAuthStore;
use crate::state::{SimState, lock};

/// Dump format version.
pub const DUMP_VERSION: u32 = 2;

#[derive(Debug, Serialize, Deserialize)]
struct DumpFile {
    version: u32,
    seed: u64,
    sites: BTreeMap<String, SiteDump>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    identity: Option<IdentityDump>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    service_management: Option<DeskStore>,
}

#[derive(Debug, Serialize, Deserialize)]
struct IdentityDump {
    directory: Directory,
    oauth: OAuthStore,
}

fn desk_store(state: &SimState) -> Arc<Mutex<DeskStore>> {
    state.shared(|| Mutex::new(DeskStore::default()))
}

#[derive(Debug, Serialize, Deserialize)]
struct Counters {
    next_id: u64,
    next_comment: u64,
    next_worklog: u64,
    next_history: u64,
    next_number: BTreeMap<u64, u64>,
}

#[derive(Debug, Serialize, Deserialize)]
struct StoredIssue {
    written_ms: i64,
    issue: Issue,
}

#[derive(Debug, Serialize, Deserialize)]
struct SiteDump {
    size: DataSize,
    generated: u64,
    anchor_ms: i64,
    counters: Counters,
    issues: Vec<StoredIssue>,
    deleted: BTreeMap<u64, i64>,
    /// Boards, sprints and filters; absent in older dumps, which keep the generated ones.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    agile: Option<crate::agile::model::AgileData>,
    /// Issue links, link types, remote links and attachments; absent in older dumps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    links: Option<super::links::LinkStore>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    parts: Option<super::parts::PartsDump>,
    /// `(worklog id, deleted ms)`, for `GET /worklog/deleted`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    deleted_worklogs: Vec<(u64, i64)>,
    /// Accepted `POST /issue/{k}/notify` notifications.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    notifications: Vec<Notification>,
}

fn dump_site(data: &SiteData) -> SiteDump {
    let issues = data
        .overlay
        .iter()
        .filter(|(id, _)| !data.deleted.contains_key(id))
        .filter_map(|(_, stored)| stored.current())
        .filter(|v| v.at != i64::MIN)
        .map(|v| StoredIssue {
            written_ms: v.at,
            issue: (*v.issue).clone(),
        })
        .collect();
    let (deleted_worklogs, notifications) = data.track.dump();
    SiteDump {
        size: data.size,
        generated: data.generated_count(),
        anchor_ms: data.anchor_ms(),
        counters: Counters {
            next_id: data.next_id,
            next_comment: data.next_comment,
            next_worklog: data.next_worklog,
            next_history: data.next_history,
            next_number: data.next_number.clone(),
        },
        issues,
        deleted: data.deleted.clone(),
        agile: Some(data.agile().clone()),
        links: Some(data.links.clone()),
        parts: data.dump_parts(),
        deleted_worklogs,
        notifications,
    }
}

/// The whole state as JSON: every generated-so-far site's issue data (sites never used are
/// not listed: they regenerate identically), identity and service-management data.
pub fn dump(state: &SimState) -> Value {
    let sites = state.shared(Sites::default);
    let entries: Vec<(String, Arc<SiteEntry>)> = lock(&sites.map)
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let mut out = BTreeMap::new();
    for (subdomain, entry) in entries {
        out.insert(subdomain, dump_site(&entry.read()));
    }
    let file = DumpFile {
        version: DUMP_VERSION,
        seed: state.config().seed,
        sites: out,
        identity: None,
        service_management: None,
    };
    let mut value = serde_json::to_value(file).unwrap_or(Value::Null);
    // The stores are serialized under their locks rather than cloned (neither OAuth tokens
    // nor bulk tasks are `Clone`); the locks are taken one at a time, as everywhere else.
    let directory = serde_json::to_value(&*state.directory());
    let oauth = serde_json::to_value(&*state.oauth());
    let desks = serde_json::to_value(&*lock(&desk_store(state)));
    if let (Value::Object(map), Ok(directory), Ok(oauth), Ok(desks)) =
        (&mut value, directory, oauth, desks)
    {
        map.insert(
            "identity".to_owned(),
            json!({ "directory": directory, "oauth": oauth }),
        );
        map.insert("service_management".to_owned(), desks);
    }
    value
}

/// Replaces the state with a dump. Sites not in the dump start over from the seed; nothing
/// changes when the dump is invalid.
pub fn load(state: &SimState, dump: Value) -> Result<(), DataError> {
    let file: DumpFile =
        serde_json::from_value(dump).map_err(|e| DataError::Dump(e.to_string()))?;
    if !(1..=DUMP_VERSION).contains(&file.version) {
        return Err(DataError::Dump(format!(
            "version {} is not supported (expected {DUMP_VERSION})",
            file.version
        )));
    }
    let seed = state.config().seed;
    if file.seed != seed {
        return Err(DataError::Dump(format!(
            "it was made with seed {}; start the simulator with that seed",
            file.seed
        )));
    }
    let desks = file.service_management;
    let mut rebuilt = Vec::new();
    for (subdomain, site) in file.sites {
        let mut data = SiteData::generate(
            seed,
            &subdomain,
            site.size,
            site.anchor_ms,
            seeded_members(seed, &subdomain),
            Some(site.generated),
        );
        if let Some(parts) = site.parts {
            data.restore_parts(parts);
        }
        data.restore(
            site.issues
                .into_iter()
                .map(|s| (s.written_ms, s.issue))
                .collect(),
            site.deleted,
        );
        if let Some(agile) = site.agile {
            *data.agile_mut() = agile;
        }
        data.track
            .restore(site.deleted_worklogs, site.notifications);
        data.next_id = site.counters.next_id;
        data.next_comment = site.counters.next_comment;
        data.next_worklog = site.counters.next_worklog;
        data.next_history = site.counters.next_history;
        data.next_number = site.counters.next_number;
        if let Some(mut links) = site.links {
            links.reindex();
            data.links = links;
        }
        rebuilt.push((subdomain, data));
    }
    let sites = state.shared(Sites::default);
    {
        let mut map = lock(&sites.map);
        map.clear();
        for (subdomain, data) in rebuilt {
            map.insert(
                subdomain,
                Arc::new(SiteEntry::new(
                    data,
                    state.shared(super::ChangeFeed::default),
                )),
            );
        }
    }
    if let Some(identity) = file.identity {
        *state.directory() = identity.directory;
        *state.oauth() = identity.oauth;
    }
    if let Some(desks) = desks {
        *lock(&desk_store(state)) = desks;
    }
    Ok(())
}

/// Regenerates one site with `issues` generated issues, dropping its changes.
pub fn regenerate(state: &SimState, subdomain: &str, issues: u64) -> Result<(), DataError> {
    if !state.directory().sites.contains_key(subdomain) {
        return Err(DataError::Dump(format!("site {subdomain} does not exist")));
    }
    let data = super::generate_site(state, subdomain, Some(issues));
    let sites = state.shared(Sites::default);
    let existing = lock(&sites.map).get(subdomain).cloned();
    match existing {
        Some(entry) => entry.replace(data),
        None => {
            lock(&sites.map).insert(
                subdomain.to_owned(),
                Arc::new(SiteEntry::new(
                    data,
                    state.shared(super::ChangeFeed::default),
                )),
            );
        }
    }
    Ok(())
}

impl Control {
    /// The whole state as JSON: site issues, identity, JSM and CSM (see [`crate::data::dump`]).
    pub fn dump(&self) -> Value {
        dump(self.state())
    }

    /// Replaces the state with a dump made by [`Control::dump`].
    pub fn load(&self, dump: Value) -> Result<(), ControlError> {
        load(self.state(), dump).map_err(|e| ControlError::Invalid(e.to_string()))
    }

    /// Regenerates a site with `issues` generated issues (e.g. a million for load tests).
    pub fn generate_issues(&self, subdomain: &str, issues: u64) -> Result<(), ControlError> {
        regenerate(self.state(), subdomain, issues)
            .map_err(|e| ControlError::Invalid(e.to_string()))
    }
}

#[derive(Debug, Deserialize)]
struct Generate {
    site: String,
    issues: u64,
}

/// Most issues `POST /_sim/state/generate` accepts.
pub const MAX_GENERATED: u64 = 10_000_000;

fn error(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({ "error": message }))).into_response()
}

/// The `/_sim/state/…` routes.
pub fn router() -> Router<SimState> {
    Router::new()
        .route(
            "/_sim/state/dump",
            get(|State(s): State<SimState>| async move { Json(dump(&s)) }),
        )
        .route(
            "/_sim/state/load",
            post(
                |State(s): State<SimState>, Json(body): Json<Value>| async move {
                    match load(&s, body) {
                        Ok(()) => StatusCode::NO_CONTENT.into_response(),
                        Err(e) => error(StatusCode::BAD_REQUEST, &e.to_string()),
                    }
                },
            ),
        )
        .route(
            "/_sim/state/generate",
            post(
                |State(s): State<SimState>, Json(body): Json<Generate>| async move {
                    if body.issues > MAX_GENERATED {
                        return error(
                            StatusCode::BAD_REQUEST,
                            &format!("issues must be at most {MAX_GENERATED}"),
                        );
                    }
                    match regenerate(&s, &body.site, body.issues) {
                        Ok(()) => StatusCode::NO_CONTENT.into_response(),
                        Err(e) => error(StatusCode::NOT_FOUND, &e.to_string()),
                    }
                },
            ),
        )
}
