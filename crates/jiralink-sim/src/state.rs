//! The shared simulator state every handler receives as `State<SimState>`.
//!
//! [`SimState`] is a cheap clone around one `Arc`. Each part sits behind its own `std` mutex:
//! take a lock, read or change, drop it (never across an `.await`). Modules added later keep
//! their own state in the typed slot [`SimState::shared`] instead of new fields, e.g.
//! `state.shared(|| Mutex::new(IssueStore::generate(seed)))`.
//!
//! The routing stage in [`crate::server`] resolves which site a request addresses and inserts a
//! [`SiteContext`] into the request extensions before the router runs; handlers read it through
//! [`crate::auth::Caller`] (or the `Extension<SiteContext>` extractor for anonymous routes).

use std::any::Any;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::clock::SimClock;
use crate::config::SimConfig;
use crate::errors::ApiError;
use crate::identity::{Directory, SampleCredentials, Site};
use crate::knobs::{Faults, Knobs, RateLimiter};
use crate::oauth::OAuthStore;

/// Locks a mutex, recovering the data if a panicking holder poisoned it (the state stays usable
/// for the remaining tests and requests).
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// How a request reached a site.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Via {
    /// The site host: `/site/{sub}/…`, `{sub}.localhost`, or the root for the default site
    /// (`https://{sub}.atlassian.net` on Jira Cloud).
    SiteHost,
    /// The API gateway: `/ex/jira/{cloudId}/…` or `/jsm/csm/cloudid/{cloudId}/…`
    /// (`https://api.atlassian.com` on Jira Cloud).
    Gateway,
}

/// The site a request addresses, inserted by the routing stage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiteContext {
    /// The site.
    pub site: Site,
    /// Site host or gateway.
    pub via: Via,
    /// URL prefix the caller used, without a trailing slash; `self` links are `base + path`.
    pub base: String,
}

/// One entry of the request log. Secrets are masked before they are stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoggedRequest {
    /// Sequence number, from 1.
    pub id: u64,
    /// Simulated time the request arrived.
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// HTTP method.
    pub method: String,
    /// Path as received (before routing strips prefixes).
    pub path: String,
    /// Query string with secret parameters masked.
    pub query: Option<String>,
    /// `Host` header.
    pub host: Option<String>,
    /// Subdomain of the addressed site, if any.
    pub site: Option<String>,
    /// Site host or gateway, if a site was addressed.
    pub via: Option<Via>,
    /// Selected request headers; `Authorization` keeps only its scheme.
    pub headers: BTreeMap<String, String>,
    /// Response status; `None` when the connection was dropped without an answer. A lost
    /// answer keeps the status the handler produced (see `lost`).
    pub status: Option<u16>,
    /// The request was handled but its answer never sent (`lose_next`, `lose_rate`) or cut off
    /// halfway (`chaos.cut_share`): the client saw the connection close although the write was
    /// applied.
    #[serde(default)]
    pub lost: bool,
    /// Wall-clock handling time in milliseconds.
    pub duration_ms: u64,
}

/// The bounded request log.
#[derive(Debug, Default)]
pub struct RequestLog {
    entries: VecDeque<LoggedRequest>,
    next_id: u64,
}

/// How many entries the log keeps before dropping the oldest.
pub const REQUEST_LOG_CAPACITY: usize = 10_000;

impl RequestLog {
    /// Appends an entry, assigning its id.
    pub fn push(&mut self, mut entry: LoggedRequest) {
        self.next_id += 1;
        entry.id = self.next_id;
        if self.entries.len() == REQUEST_LOG_CAPACITY {
            self.entries.pop_front();
        }
        self.entries.push_back(entry);
    }

    /// All entries, oldest first.
    pub fn entries(&self) -> Vec<LoggedRequest> {
        self.entries.iter().cloned().collect()
    }

    /// Removes every entry (ids keep counting).
    pub fn clear(&mut self) {
        self.entries.clear();
    }
}

struct Inner {
    config: SimConfig,
    base_url: String,
    clock: SimClock,
    samples: SampleCredentials,
    directory: Mutex<Directory>,
    oauth: Mutex<OAuthStore>,
    knobs: Mutex<Knobs>,
    limiter: Mutex<RateLimiter>,
    faults: Mutex<Faults>,
    log: Mutex<RequestLog>,
    shared: Mutex<HashMap<std::any::TypeId, Arc<dyn Any + Send + Sync>>>,
}

/// Shared state of one running simulator.
#[derive(Clone)]
pub struct SimState {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for SimState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimState")
            .field("base_url", &self.inner.base_url)
            .finish_non_exhaustive()
    }
}

impl SimState {
    /// Builds the state for a simulator reachable at `base_url`.
    pub fn new(config: SimConfig, base_url: String) -> Self {
        let clock = SimClock::new(config.clock);
        let (directory, samples) = Directory::seeded(config.seed, &config.oauth_callbacks);
        let mut knobs = config.knobs.clone();
        knobs.auto_approve |= config.auto_approve;
        let faults = Faults::new(config.seed);
        Self {
            inner: Arc::new(Inner {
                base_url,
                clock,
                samples,
                directory: Mutex::new(directory),
                oauth: Mutex::new(OAuthStore::default()),
                knobs: Mutex::new(knobs),
                limiter: Mutex::new(RateLimiter::default()),
                faults: Mutex::new(faults),
                log: Mutex::new(RequestLog::default()),
                shared: Mutex::new(HashMap::new()),
                config,
            }),
        }
    }

    /// Start-up configuration.
    pub fn config(&self) -> &SimConfig {
        &self.inner.config
    }

    /// `http(s)://127.0.0.1:PORT`, no trailing slash.
    pub fn base_url(&self) -> &str {
        &self.inner.base_url
    }

    /// The simulator clock.
    pub fn clock(&self) -> &SimClock {
        &self.inner.clock
    }

    /// Current simulated time.
    pub fn now(&self) -> OffsetDateTime {
        self.inner.clock.now()
    }

    /// The sample credentials of the seeded directory.
    pub fn samples(&self) -> &SampleCredentials {
        &self.inner.samples
    }

    /// Sites, users, tokens, apps.
    pub fn directory(&self) -> MutexGuard<'_, Directory> {
        lock(&self.inner.directory)
    }

    /// Authorization codes, grants and tokens.
    pub fn oauth(&self) -> MutexGuard<'_, OAuthStore> {
        lock(&self.inner.oauth)
    }

    /// A copy of the current knobs.
    pub fn knobs(&self) -> Knobs {
        lock(&self.inner.knobs).clone()
    }

    /// Replaces the knobs.
    pub fn set_knobs(&self, knobs: Knobs) {
        *lock(&self.inner.knobs) = knobs;
    }

    /// Rate-limiter state.
    pub fn limiter(&self) -> MutexGuard<'_, RateLimiter> {
        lock(&self.inner.limiter)
    }

    /// One-shot faults and the fault RNG.
    pub fn faults(&self) -> MutexGuard<'_, Faults> {
        lock(&self.inner.faults)
    }

    /// The request log.
    pub fn request_log(&self) -> MutexGuard<'_, RequestLog> {
        lock(&self.inner.log)
    }

    /// The canonical URL of a site: `{base}/site/{subdomain}`.
    pub fn site_url(&self, site: &Site) -> String {
        format!("{}/site/{}", self.inner.base_url, site.subdomain)
    }

    /// Checks Jira's per-issue write limits (knobs `per_issue_writes_per_2s` and
    /// `per_issue_writes_per_30s`, by default 20 per 2 s and 100 per 30 s) for one write to
    /// `issue_id` on `site`; write handlers call it before applying a change and return the
    /// error (a 429 with `RateLimit-Reason: jira-per-issue-on-write`) as is.
    pub fn check_issue_write(&self, site: &Site, issue_id: &str) -> Result<(), ApiError> {
        let now = self.now();
        let knobs = self.knobs();
        self.limiter()
            .check_issue_write(&knobs, &site.subdomain, issue_id, now)
            .map_err(crate::knobs::RateLimited::into_error)
    }

    /// A typed slot for state owned by other modules, created on first use.
    pub fn shared<T: Any + Send + Sync>(&self, init: impl FnOnce() -> T) -> Arc<T> {
        let mut map = lock(&self.inner.shared);
        let id = std::any::TypeId::of::<T>();
        if let Some(existing) = map.get(&id).cloned()
            && let Ok(value) = existing.downcast::<T>()
        {
            return value;
        }
        let value = Arc::new(init());
        map.insert(id, value.clone());
        value
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_slot_is_created_once() {
        let state = SimState::new(SimConfig::for_tests(), "http://127.0.0.1:1".to_owned());
        let a = state.shared(|| Mutex::new(1u32));
        *lock(&a) += 1;
        let b = state.shared(|| Mutex::new(100u32));
        assert_eq!(*lock(&b), 2);
    }

    #[test]
    fn request_log_is_bounded_and_numbered() {
        let mut log = RequestLog::default();
        let entry = LoggedRequest {
            id: 0,
            at: time::macros::datetime!(2026-01-01 00:00 UTC),
            method: "GET".to_owned(),
            path: "/".to_owned(),
            query: None,
            host: None,
            site: None,
            via: None,
            headers: BTreeMap::new(),
            status: Some(200),
            lost: false,
            duration_ms: 0,
        };
        for _ in 0..REQUEST_LOG_CAPACITY + 5 {
            log.push(entry.clone());
        }
        let entries = log.entries();
        assert_eq!(entries.len(), REQUEST_LOG_CAPACITY);
        assert_eq!(entries[0].id, 6);
        log.clear();
        assert!(log.entries().is_empty());
    }
}
