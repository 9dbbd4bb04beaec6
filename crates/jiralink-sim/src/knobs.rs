//! Runtime knobs: rate limits, injected faults, latency and search index lag.
//!
//! [`Knobs`] is plain data (read and replaced through [`crate::Control`] and `/_sim/knobs`).
//! The stateful parts live beside it:
//!
//! * [`RateLimiter`]: Atlassian's three limits (§9 of the API notes), all answering **429** with
//!   `Retry-After`, `X-RateLimit-Limit`, `X-RateLimit-Remaining`, `X-RateLimit-Reset` (ISO-8601,
//!   whole seconds) and `RateLimit-Reason`:
//!   - burst: a token bucket per site × method class (`GET 100`, `POST 100`, `PUT 50`,
//!     `DELETE 50` per second by default), reason `jira-burst-based`;
//!   - hourly points quota for OAuth traffic only (API-token traffic is excluded, as on Jira
//!     Cloud), reset at the top of each UTC hour, reason `jira-quota-global-based` (per app) or
//!     `jira-quota-tenant-based` (per app and site); `X-RateLimit-NearLimit: true` below 20 %;
//!   - per-issue writes, by default 20 per 2 s and 100 per 30 s (knobs
//!     `per_issue_writes_per_2s`, `per_issue_writes_per_30s`), reason `jira-per-issue-on-write`,
//!     which write handlers check with [`crate::state::SimState::check_issue_write`].
//! * [`Faults`]: one-shot faults (`fail_next`, dropped connections, held requests, lost answers)
//!   and the seeded RNG behind `fail_rate` and `lose_rate`, so a seed reproduces the same failure
//!   pattern.
//!
//! Every window reads the simulator clock, so tests advance time instead of waiting.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::errors::ApiError;

/// Per-second burst capacities per method class.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BurstLimits {
    /// Whether the burst limiter is on.
    pub enabled: bool,
    /// GET (and HEAD) requests per second.
    pub get: u32,
    /// POST requests per second.
    pub post: u32,
    /// PUT and PATCH requests per second.
    pub put: u32,
    /// DELETE requests per second.
    pub delete: u32,
}

impl Default for BurstLimits {
    fn default() -> Self {
        Self {
            enabled: true,
            get: 100,
            post: 100,
            put: 50,
            delete: 50,
        }
    }
}

impl BurstLimits {
    /// The same limit for every method class (the `--rate-limit-per-second` flag); 0 turns it off.
    pub fn uniform(per_second: u32) -> Self {
        Self {
            enabled: per_second > 0,
            get: per_second,
            post: per_second,
            put: per_second,
            delete: per_second,
        }
    }

    fn capacity(&self, class: MethodClass) -> u32 {
        match class {
            MethodClass::Get => self.get,
            MethodClass::Post => self.post,
            MethodClass::Put => self.put,
            MethodClass::Delete => self.delete,
        }
    }
}

/// Whose points an hourly quota counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QuotaScope {
    /// One quota per OAuth app across all sites (Tier 1, `jira-quota-global-based`).
    #[default]
    Global,
    /// One quota per OAuth app and site (Tier 2, `jira-quota-tenant-based`).
    Tenant,
}

/// The knobs a test or a `jiralink sim` user can turn while the simulator runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Knobs {
    /// Burst limits per site × method class.
    pub burst: BurstLimits,
    /// Hourly points for OAuth traffic; `None` turns the quota off. Atlassian: 65,000.
    pub quota_points_per_hour: Option<u64>,
    /// Whether the quota is per app or per app and site.
    pub quota_scope: QuotaScope,
    /// Probability (0.0–1.0) that a request fails with a random 5xx.
    pub fail_rate: f64,
    /// Probability (0.0–1.0) that a write ([`is_write`]) is applied and its answer then lost:
    /// the connection closes without a response.
    pub lose_rate: f64,
    /// Real delay added to every request, in milliseconds.
    pub latency_ms: u64,
    /// Seconds before a write becomes visible to `/search/jql` (read by the search endpoint).
    pub index_lag_secs: u64,
    /// Log every request to the process output (the request log is always kept).
    pub log_requests: bool,
    /// Skip the OAuth consent page.
    pub auto_approve: bool,
    /// Writes to one issue allowed in any 2-second window; 0 turns this limit off. Jira: 20.
    pub per_issue_writes_per_2s: u32,
    /// Writes to one issue allowed in any 30-second window; 0 turns this limit off. Jira: 100.
    pub per_issue_writes_per_30s: u32,
    /// The most issues a `/search/jql` page holds, below the usual caps; 0: no lower cap.
    /// Jira may send fewer issues than `maxResults` asks for, and a client must page on.
    pub search_page_cap: u32,
    /// Webhook delivery: retry delays, timeout and faults (see [`crate::webhooks`]).
    pub webhooks: WebhookKnobs,
    /// Faults of every kind drawn at random per request, each at its own share.
    pub chaos: ChaosKnobs,
}

/// Faults drawn at random for each request, each kind at its own share, as Jira Cloud shows
/// them: 429 and 503 with `Retry-After` (whole seconds) or without, 500/502/504, a connection
/// closed before any answer, an answer cut off halfway (after the handler ran, so a write is
/// applied), and latency spikes. The draws come from an RNG seeded with the simulator's seed,
/// apart from the one behind `fail_rate` and `lose_rate`, so a seed's pattern for those is the
/// same whether or not these are on; a seed and a request sequence always give the same faults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ChaosKnobs {
    /// Share of requests answered 429 (`RateLimit-Reason: jira-burst-based`), not handled.
    pub rate_limited_share: f64,
    /// Share of requests answered 503, not handled.
    pub unavailable_share: f64,
    /// Share of the 429 and 503 answers sent without `Retry-After` (Jira's sometimes lack it).
    pub no_retry_after_share: f64,
    /// The least `Retry-After` sent, in seconds.
    pub retry_after_min_secs: u64,
    /// The most `Retry-After` sent, in seconds.
    pub retry_after_max_secs: u64,
    /// Share of requests answered 500, 502 or 504 (one of them at random), not handled.
    pub server_error_share: f64,
    /// Share of requests whose connection is closed before anything is handled or answered.
    pub reset_share: f64,
    /// Share of requests handled (a write is applied) whose answer is then cut off halfway:
    /// the status, headers and half the body are sent, then the connection closes.
    pub cut_share: f64,
    /// Share of requests held back by a latency spike before they are handled.
    pub spike_share: f64,
    /// The shortest spike, in real milliseconds.
    pub spike_min_ms: u64,
    /// The longest spike, in real milliseconds.
    pub spike_max_ms: u64,
}

impl Default for ChaosKnobs {
    fn default() -> Self {
        Self {
            rate_limited_share: 0.0,
            unavailable_share: 0.0,
            no_retry_after_share: 0.0,
            retry_after_min_secs: 1,
            retry_after_max_secs: 5,
            server_error_share: 0.0,
            reset_share: 0.0,
            cut_share: 0.0,
            spike_share: 0.0,
            spike_min_ms: 100,
            spike_max_ms: 500,
        }
    }
}

impl ChaosKnobs {
    /// The share of requests that get an answer-replacing fault (all kinds but spikes).
    fn failing_share(&self) -> f64 {
        self.rate_limited_share
            + self.unavailable_share
            + self.server_error_share
            + self.reset_share
            + self.cut_share
    }

    /// Whether any kind is on.
    pub fn any(&self) -> bool {
        self.failing_share() > 0.0 || self.spike_share > 0.0
    }

    /// Rejects shares outside 0–1, failing shares adding up to more than 1 and empty ranges.
    pub fn validate(&self) -> Result<(), String> {
        for (name, share) in [
            ("chaos.rate_limited_share", self.rate_limited_share),
            ("chaos.unavailable_share", self.unavailable_share),
            ("chaos.no_retry_after_share", self.no_retry_after_share),
            ("chaos.server_error_share", self.server_error_share),
            ("chaos.reset_share", self.reset_share),
            ("chaos.cut_share", self.cut_share),
            ("chaos.spike_share", self.spike_share),
        ] {
            if !(0.0..=1.0).contains(&share) {
                return Err(format!("{name} must be between 0 and 1, got {share}"));
            }
        }
        if self.failing_share() > 1.0 {
            return Err(
                "the chaos shares of 429, 503, 5xx, resets and cut answers add up to more than 1"
                    .to_owned(),
            );
        }
        if self.retry_after_min_secs > self.retry_after_max_secs {
            return Err("chaos.retry_after_min_secs is above retry_after_max_secs".to_owned());
        }
        if self.spike_min_ms > self.spike_max_ms {
            return Err("chaos.spike_min_ms is above spike_max_ms".to_owned());
        }
        Ok(())
    }
}

/// How the simulator delivers webhooks. Shares are probabilities (0.0–1.0) drawn per delivery
/// from an RNG seeded with the simulator's seed, so a seed reproduces the same pattern for the
/// same sequence of events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebhookKnobs {
    /// First retry delay in milliseconds; retry `n` waits `retry_backoff_ms × 2^(n-1)` (Jira
    /// retries up to 5 times with growing delays). Default 1,000.
    pub retry_backoff_ms: u64,
    /// How long one attempt may take before it counts as failed, in milliseconds (Jira: 10 s).
    pub timeout_ms: u64,
    /// Share of deliveries lost as if Jira had given up after its retries: never sent; a
    /// dynamic webhook's lost delivery is listed by `GET /rest/api/3/webhook/failed`.
    pub drop_share: f64,
    /// Share of deliveries sent twice: the copy carries the same identifier and
    /// `X-Atlassian-Webhook-Retry: 1`.
    pub duplicate_share: f64,
    /// Real time every delivery is held before its first attempt, in milliseconds.
    pub delay_ms: u64,
    /// Share of deliveries held back and sent after the next delivery to the same webhook.
    pub reorder_share: f64,
}

impl Default for WebhookKnobs {
    fn default() -> Self {
        Self {
            retry_backoff_ms: 1_000,
            timeout_ms: 10_000,
            drop_share: 0.0,
            duplicate_share: 0.0,
            delay_ms: 0,
            reorder_share: 0.0,
        }
    }
}

impl WebhookKnobs {
    /// Rejects shares outside 0–1 and a zero timeout.
    pub fn validate(&self) -> Result<(), String> {
        for (name, share) in [
            ("webhooks.drop_share", self.drop_share),
            ("webhooks.duplicate_share", self.duplicate_share),
            ("webhooks.reorder_share", self.reorder_share),
        ] {
            if !(0.0..=1.0).contains(&share) {
                return Err(format!("{name} must be between 0 and 1, got {share}"));
            }
        }
        if self.timeout_ms == 0 {
            return Err("webhooks.timeout_ms must be positive".to_owned());
        }
        Ok(())
    }
}

impl Default for Knobs {
    fn default() -> Self {
        Self {
            burst: BurstLimits::default(),
            quota_points_per_hour: Some(65_000),
            quota_scope: QuotaScope::Global,
            fail_rate: 0.0,
            lose_rate: 0.0,
            latency_ms: 0,
            index_lag_secs: 0,
            log_requests: false,
            auto_approve: false,
            per_issue_writes_per_2s: 20,
            per_issue_writes_per_30s: 100,
            search_page_cap: 0,
            webhooks: WebhookKnobs::default(),
            chaos: ChaosKnobs::default(),
        }
    }
}

impl Knobs {
    /// Rejects values that cannot work.
    pub fn validate(&self) -> Result<(), String> {
        if !(0.0..=1.0).contains(&self.fail_rate) {
            return Err(format!(
                "fail_rate must be between 0 and 1, got {}",
                self.fail_rate
            ));
        }
        if !(0.0..=1.0).contains(&self.lose_rate) {
            return Err(format!(
                "lose_rate must be between 0 and 1, got {}",
                self.lose_rate
            ));
        }
        if self.burst.enabled
            && [
                self.burst.get,
                self.burst.post,
                self.burst.put,
                self.burst.delete,
            ]
            .contains(&0)
        {
            return Err("burst limits must be positive when enabled".to_owned());
        }
        self.chaos.validate()?;
        self.webhooks.validate()
    }
}

/// Method classes the burst limiter counts separately.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MethodClass {
    /// GET, HEAD, OPTIONS.
    Get,
    /// POST.
    Post,
    /// PUT, PATCH.
    Put,
    /// DELETE.
    Delete,
}

impl MethodClass {
    /// Classifies a method.
    pub fn of(method: &Method) -> Self {
        match *method {
            Method::POST => Self::Post,
            Method::PUT | Method::PATCH => Self::Put,
            Method::DELETE => Self::Delete,
            _ => Self::Get,
        }
    }
}

/// A 429 decision with its headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimited {
    /// `RateLimit-Reason`.
    pub reason: &'static str,
    /// `Retry-After` in whole seconds (at least 1).
    pub retry_after_secs: u64,
    /// `X-RateLimit-Limit`.
    pub limit: u64,
    /// When the limit resets (`X-RateLimit-Reset`).
    pub reset: OffsetDateTime,
}

impl RateLimited {
    /// The 429 response Jira sends.
    pub fn into_error(self) -> ApiError {
        let reset = ceil_to_second(self.reset)
            .format(&Rfc3339)
            .unwrap_or_default();
        ApiError::platform(
            StatusCode::TOO_MANY_REQUESTS,
            &["Rate limit exceeded."],
            &[],
        )
        .with_header(header::RETRY_AFTER, &self.retry_after_secs.to_string())
        .with_header(
            HeaderName::from_static("x-ratelimit-limit"),
            &self.limit.to_string(),
        )
        .with_header(HeaderName::from_static("x-ratelimit-remaining"), "0")
        .with_header(HeaderName::from_static("x-ratelimit-reset"), &reset)
        .with_header(HeaderName::from_static("ratelimit-reason"), self.reason)
    }
}

/// Jira sends whole seconds (`2026-01-01T01:01:01Z`); rounding up keeps a client that waits
/// until the reset from retrying too early.
fn ceil_to_second(t: OffsetDateTime) -> OffsetDateTime {
    if t.nanosecond() == 0 {
        return t;
    }
    t.replace_nanosecond(0)
        .map_or(t, |whole| whole + time::Duration::SECOND)
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    last: OffsetDateTime,
}

#[derive(Debug, Clone, Copy)]
struct QuotaWindow {
    hour_start: OffsetDateTime,
    used: u64,
}

/// Quota headers for a successful OAuth request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuotaStatus {
    /// Points per hour.
    pub limit: u64,
    /// Points left this hour.
    pub remaining: u64,
    /// Per app or per app and site; names the policy in `Beta-RateLimit-Policy`.
    pub scope: QuotaScope,
}

impl QuotaStatus {
    /// Adds `X-RateLimit-Limit`, `X-RateLimit-Remaining`, `Beta-RateLimit-Policy` and, below
    /// 20 % remaining, `X-RateLimit-NearLimit: true`.
    pub fn apply(&self, headers: &mut HeaderMap) {
        let mut put = |name: &'static str, value: String| {
            if let Ok(v) = HeaderValue::from_str(&value) {
                headers.insert(HeaderName::from_static(name), v);
            }
        };
        put("x-ratelimit-limit", self.limit.to_string());
        put("x-ratelimit-remaining", self.remaining.to_string());
        let policy = match self.scope {
            QuotaScope::Global => "global-app-quota",
            QuotaScope::Tenant => "tenant-app-quota",
        };
        put(
            "beta-ratelimit-policy",
            format!("\"{policy}\";q={};w=3600", self.limit),
        );
        if self.remaining.saturating_mul(5) < self.limit {
            put("x-ratelimit-nearlimit", "true".to_owned());
        }
    }
}

/// State of the burst, quota and per-issue limiters.
#[derive(Debug, Default)]
pub struct RateLimiter {
    buckets: HashMap<(String, MethodClass), Bucket>,
    quotas: HashMap<String, QuotaWindow>,
    issue_writes: HashMap<(String, String), VecDeque<OffsetDateTime>>,
}

fn top_of_hour(t: OffsetDateTime) -> OffsetDateTime {
    t.replace_minute(0)
        .and_then(|t| t.replace_second(0))
        .and_then(|t| t.replace_nanosecond(0))
        .unwrap_or(t)
}

fn ceil_secs(d: time::Duration) -> u64 {
    let whole = d.whole_seconds().max(0).unsigned_abs();
    if d.subsec_nanoseconds() > 0 {
        whole + 1
    } else {
        whole.max(1)
    }
}

impl RateLimiter {
    /// Takes one token from the bucket of `site` × `class`.
    pub fn check_burst(
        &mut self,
        limits: &BurstLimits,
        site: &str,
        class: MethodClass,
        now: OffsetDateTime,
    ) -> Result<(), RateLimited> {
        if !limits.enabled {
            return Ok(());
        }
        let capacity = f64::from(limits.capacity(class));
        let bucket = self
            .buckets
            .entry((site.to_owned(), class))
            .or_insert(Bucket {
                tokens: capacity,
                last: now,
            });
        let elapsed = (now - bucket.last).as_seconds_f64().max(0.0);
        bucket.tokens = (bucket.tokens + elapsed * capacity).min(capacity);
        bucket.last = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            return Ok(());
        }
        let wait = (1.0 - bucket.tokens) / capacity;
        let reset = now + time::Duration::seconds_f64(wait);
        Err(RateLimited {
            reason: "jira-burst-based",
            retry_after_secs: ceil_secs(reset - now),
            limit: u64::from(limits.capacity(class)),
            reset,
        })
    }

    /// Charges `points` to the quota identified by `key`.
    pub fn charge_quota(
        &mut self,
        knobs: &Knobs,
        key: &str,
        points: u64,
        now: OffsetDateTime,
    ) -> Result<Option<QuotaStatus>, RateLimited> {
        let Some(limit) = knobs.quota_points_per_hour else {
            return Ok(None);
        };
        let hour = top_of_hour(now);
        let window = self.quotas.entry(key.to_owned()).or_insert(QuotaWindow {
            hour_start: hour,
            used: 0,
        });
        if window.hour_start != hour {
            *window = QuotaWindow {
                hour_start: hour,
                used: 0,
            };
        }
        if window.used.saturating_add(points) > limit {
            let reset = hour + time::Duration::HOUR;
            return Err(RateLimited {
                reason: match knobs.quota_scope {
                    QuotaScope::Global => "jira-quota-global-based",
                    QuotaScope::Tenant => "jira-quota-tenant-based",
                },
                retry_after_secs: ceil_secs(reset - now),
                limit,
                reset,
            });
        }
        window.used += points;
        Ok(Some(QuotaStatus {
            limit,
            remaining: limit - window.used,
            scope: knobs.quota_scope,
        }))
    }

    /// Adds points after the fact (for handlers that report a higher cost); never rejects.
    pub fn add_quota_cost(&mut self, key: &str, points: u64) {
        if let Some(window) = self.quotas.get_mut(key) {
            window.used = window.used.saturating_add(points);
        }
    }

    /// Records a write to `issue` on `site`: at most `per_issue_writes_per_2s` per 2 s and
    /// `per_issue_writes_per_30s` per 30 s (a 0 limit is off).
    pub fn check_issue_write(
        &mut self,
        knobs: &Knobs,
        site: &str,
        issue: &str,
        now: OffsetDateTime,
    ) -> Result<(), RateLimited> {
        let windows = [
            (2, knobs.per_issue_writes_per_2s),
            (30, knobs.per_issue_writes_per_30s),
        ];
        let log = self
            .issue_writes
            .entry((site.to_owned(), issue.to_owned()))
            .or_default();
        while log
            .front()
            .is_some_and(|t| now - *t >= time::Duration::seconds(30))
        {
            log.pop_front();
        }
        for (secs, max) in windows {
            let Ok(max) = usize::try_from(max) else {
                continue;
            };
            if max == 0 {
                continue;
            }
            let window = time::Duration::seconds(secs);
            let in_window: Vec<OffsetDateTime> =
                log.iter().copied().filter(|t| now - *t < window).collect();
            if in_window.len() >= max {
                let oldest = in_window[in_window.len() - max];
                let reset = oldest + window;
                return Err(RateLimited {
                    reason: "jira-per-issue-on-write",
                    retry_after_secs: ceil_secs(reset - now),
                    limit: max as u64,
                    reset,
                });
            }
        }
        log.push_back(now);
        Ok(())
    }
}

/// POST endpoints that only read: Jira clients retry them freely, so losing their answer would
/// not test what `lose_rate` is for (a write that happened although the client saw an error).
const POST_READS: &[&str] = &[
    "search/jql",
    "search/approximate-count",
    "issue/bulkfetch",
    "changelog/bulkfetch",
    "comment/list",
    "worklog/list",
];

/// Whether `lose_rate` applies to a request: POST, PUT, PATCH and DELETE, except the platform's
/// POST reads (`/rest/api/{version}/search/jql`, `search/approximate-count`, `issue/bulkfetch`,
/// `changelog/bulkfetch`, `comment/list`, `worklog/list`) and `/oauth/token`. `path` is the path
/// after site resolution (`/rest/api/3/issue`, without `/site/{sub}` or `/ex/jira/{cloudId}`).
pub fn is_write(method: &Method, path: &str) -> bool {
    if !matches!(
        *method,
        Method::POST | Method::PUT | Method::PATCH | Method::DELETE
    ) {
        return false;
    }
    if path == "/oauth/token" {
        return false;
    }
    let read = path
        .strip_prefix("/rest/api/")
        .and_then(|rest| rest.split_once('/'))
        .is_some_and(|(_, endpoint)| POST_READS.contains(&endpoint.trim_end_matches('/')));
    !(read && *method == Method::POST)
}

/// Queued one-shot faults, as the control API reports them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingFaults {
    /// Queued `fail_next` answers.
    pub fail_next: usize,
    /// Connections still to drop.
    pub drop_next: u32,
    /// Requests still to hold.
    pub hold_next: usize,
    /// Answers still to lose.
    pub lose_next: usize,
}

/// A one-shot failure queued with `fail_next`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailSpec {
    /// HTTP status to answer.
    pub status: u16,
    /// `Retry-After` seconds to send, if any.
    pub retry_after: Option<u64>,
}

/// When a held request is held: before its handler runs, or after (the write applied, the
/// answer not yet sent).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HoldStage {
    /// Before the handler: nothing happens until the hold ends, then the answer is 504.
    #[default]
    Before,
    /// After the handler: its writes are applied at once, its answer is sent when the hold
    /// ends, as a slow network would deliver it.
    After,
}

/// Which requests a queued hold waits for, and how it holds them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HoldSpec {
    /// Empty: any method.
    pub methods: Vec<Method>,
    /// `None`: any path; else only paths ending with this (the path after the site's prefix,
    /// e.g. `/rest/api/3/issue/bulk` for `/site/acme/rest/api/3/issue/bulk`).
    pub path_suffix: Option<String>,
    /// `None`: any site; else only requests to the site with this subdomain.
    pub site: Option<String>,
    /// Matching requests to let through before the one held.
    pub skip: u32,
    /// How long, in simulated time.
    pub hold: Duration,
    /// Before or after the handler.
    pub stage: HoldStage,
}

impl HoldSpec {
    /// Holds any request for `hold` before it is handled (what `hold_next` queues).
    pub fn any(hold: Duration) -> Self {
        Self {
            methods: Vec::new(),
            path_suffix: None,
            site: None,
            skip: 0,
            hold,
            stage: HoldStage::Before,
        }
    }

    fn matches(&self, method: &Method, path: &str, site: Option<&str>) -> bool {
        (self.methods.is_empty() || self.methods.contains(method))
            && self
                .path_suffix
                .as_deref()
                .is_none_or(|suffix| path.ends_with(suffix))
            && self.site.as_deref().is_none_or(|s| site == Some(s))
    }
}

/// Which requests a queued loss waits for.
#[derive(Debug, Clone, PartialEq, Eq)]
struct LoseSpec {
    /// Empty: any method.
    methods: Vec<Method>,
    /// `None`: any path.
    path_suffix: Option<String>,
}

/// What the fault stage decided for one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FaultAction {
    /// Let the request through.
    Pass,
    /// Close the connection without a response.
    Drop,
    /// Hold the request for this much simulated time, then answer 504.
    Hold(Duration),
    /// Handle the request, then hold its answer for this much simulated time before sending
    /// it.
    HoldAnswer(Duration),
    /// Answer with this failure.
    Fail(FailSpec),
    /// Handle the request, then close the connection instead of sending the answer.
    Lose,
    /// Answer 429 or 503 without handling the request, with `Retry-After` seconds when given.
    Throttle {
        /// 429 or 503.
        status: u16,
        /// `Retry-After` seconds.
        retry_after: Option<u64>,
    },
    /// Handle the request, then send the status, headers and half the body, and close.
    Cut,
}

/// Keeps a request counted in [`Faults::held`] while it lives.
#[derive(Debug)]
pub struct HeldGuard(Arc<AtomicUsize>);

impl Drop for HeldGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Pending one-shot faults and the seeded RNG for random failures.
#[derive(Debug)]
pub struct Faults {
    fail_next: VecDeque<FailSpec>,
    drop_next: u32,
    /// One entry per queued hold, in the order they were queued.
    hold_next: VecDeque<HoldSpec>,
    /// Requests being held right now (shared with the guards of the requests held).
    held: Arc<AtomicUsize>,
    /// Ends every hold under way at once ([`Faults::release_held`]).
    release: Arc<tokio::sync::Notify>,
    /// One entry per queued loss: the methods that consume it (empty: any method).
    lose_next: VecDeque<LoseSpec>,
    rng: ChaCha8Rng,
    /// Draws of the chaos knobs, apart from `rng` so its patterns stay as they were.
    chaos_rng: ChaCha8Rng,
    /// Faults injected so far, by kind.
    injected: BTreeMap<String, u64>,
}

impl Faults {
    /// Creates the fault state; `seed` drives random failures.
    pub fn new(seed: u64) -> Self {
        Self {
            fail_next: VecDeque::new(),
            drop_next: 0,
            hold_next: VecDeque::new(),
            held: Arc::new(AtomicUsize::new(0)),
            release: Arc::new(tokio::sync::Notify::new()),
            lose_next: VecDeque::new(),
            rng: ChaCha8Rng::seed_from_u64(seed ^ 0x5EED_FA17),
            chaos_rng: ChaCha8Rng::seed_from_u64(seed ^ 0xC4A0_5EED),
            injected: BTreeMap::new(),
        }
    }

    /// Faults injected so far, by kind (`429`, `429 without Retry-After`, `503`, `500`, `502`,
    /// `504`, `reset`, `cut`, `lost`, `spike`, `hold`), whether queued or drawn at random.
    pub fn injected(&self) -> BTreeMap<String, u64> {
        self.injected.clone()
    }

    /// Forgets the counts of [`Faults::injected`].
    pub fn clear_injected(&mut self) {
        self.injected.clear();
    }

    fn count(&mut self, kind: &str) {
        *self.injected.entry(kind.to_owned()).or_insert(0) += 1;
    }

    /// Counts `action` as injected (nothing for [`FaultAction::Pass`]) and returns it.
    fn counted(&mut self, action: FaultAction) -> FaultAction {
        let kind = match &action {
            FaultAction::Pass => return action,
            FaultAction::Drop => "reset".to_owned(),
            FaultAction::Hold(_) | FaultAction::HoldAnswer(_) => "hold".to_owned(),
            FaultAction::Lose => "lost".to_owned(),
            FaultAction::Cut => "cut".to_owned(),
            FaultAction::Fail(FailSpec {
                status,
                retry_after,
            })
            | FaultAction::Throttle {
                status,
                retry_after,
            } => match retry_after {
                Some(_) => status.to_string(),
                None if matches!(status, 429 | 503) => format!("{status} without Retry-After"),
                None => status.to_string(),
            },
        };
        self.count(&kind);
        action
    }

    /// A latency spike for the next request, drawn with `chaos.spike_share` (counted as
    /// `spike`); no draw while the share is 0.
    pub fn spike(&mut self, knobs: &Knobs) -> Option<Duration> {
        let chaos = &knobs.chaos;
        if chaos.spike_share <= 0.0 {
            return None;
        }
        let draw: f64 = self.chaos_rng.r#gen();
        if draw >= chaos.spike_share {
            return None;
        }
        let ms = self
            .chaos_rng
            .gen_range(chaos.spike_min_ms..=chaos.spike_max_ms);
        self.count("spike");
        Some(Duration::from_millis(ms))
    }

    /// The chaos knobs' answer-replacing draw: one value picks the kind by its share.
    fn chaos_action(&mut self, knobs: &Knobs) -> FaultAction {
        let chaos = &knobs.chaos;
        if chaos.failing_share() <= 0.0 {
            return FaultAction::Pass;
        }
        let draw: f64 = self.chaos_rng.r#gen();
        let mut edge = chaos.rate_limited_share;
        let throttle = if draw < edge {
            Some(429)
        } else {
            edge += chaos.unavailable_share;
            (draw < edge).then_some(503)
        };
        if let Some(status) = throttle {
            let bare: f64 = self.chaos_rng.r#gen();
            let retry_after = (bare >= chaos.no_retry_after_share).then(|| {
                self.chaos_rng
                    .gen_range(chaos.retry_after_min_secs..=chaos.retry_after_max_secs)
            });
            return FaultAction::Throttle {
                status,
                retry_after,
            };
        }
        edge += chaos.server_error_share;
        if draw < edge {
            let status = [500, 502, 504][self.chaos_rng.gen_range(0..3)];
            return FaultAction::Fail(FailSpec {
                status,
                retry_after: None,
            });
        }
        edge += chaos.reset_share;
        if draw < edge {
            return FaultAction::Drop;
        }
        edge += chaos.cut_share;
        if draw < edge {
            return FaultAction::Cut;
        }
        FaultAction::Pass
    }

    /// Queues `n` failures.
    pub fn fail_next(&mut self, n: u32, status: u16, retry_after: Option<u64>) {
        for _ in 0..n {
            self.fail_next.push_back(FailSpec {
                status,
                retry_after,
            });
        }
    }

    /// Drops the next `n` connections without answering.
    pub fn drop_next(&mut self, n: u32) {
        self.drop_next = self.drop_next.saturating_add(n);
    }

    /// Holds the next `n` requests for `hold` of simulated time.
    pub fn hold_next(&mut self, n: u32, hold: Duration) {
        self.hold_matching(n, &HoldSpec::any(hold));
    }

    /// Queues `n` holds of requests `spec` matches; each lets `spec.skip` matching requests
    /// through first (counted from when it becomes the first queued hold that matches).
    pub fn hold_matching(&mut self, n: u32, spec: &HoldSpec) {
        for _ in 0..n {
            self.hold_next.push_back(spec.clone());
        }
    }

    /// Requests being held right now.
    pub fn held(&self) -> usize {
        self.held.load(Ordering::SeqCst)
    }

    /// What a hold waits on besides the clock: notified when every hold under way is to end.
    pub fn release_signal(&self) -> Arc<tokio::sync::Notify> {
        Arc::clone(&self.release)
    }

    /// Ends every hold under way now, as if its time were up (a hold before the handler then
    /// answers 504; a held answer is sent).
    pub fn release_held(&self) {
        self.release.notify_waiters();
    }

    /// Counts a request as held until the guard is dropped (its hold ended, or its connection
    /// went away).
    pub fn held_guard(&self) -> HeldGuard {
        self.held.fetch_add(1, Ordering::SeqCst);
        HeldGuard(Arc::clone(&self.held))
    }

    /// Loses the answers of the next `n` requests whose method is in `methods` (empty: any
    /// method): they are handled, then their connection is closed without a response.
    pub fn lose_next(&mut self, n: u32, methods: &[Method]) {
        self.lose_next_matching(n, methods, None);
    }

    /// Like [`Faults::lose_next`], for requests whose path also ends with `path_suffix`
    /// (e.g. `/issue/bulk`).
    pub fn lose_next_matching(&mut self, n: u32, methods: &[Method], path_suffix: Option<&str>) {
        for _ in 0..n {
            self.lose_next.push_back(LoseSpec {
                methods: methods.to_vec(),
                path_suffix: path_suffix.map(str::to_owned),
            });
        }
    }

    /// Clears every queued one-shot fault.
    pub fn clear(&mut self) {
        self.fail_next.clear();
        self.drop_next = 0;
        self.hold_next.clear();
        self.lose_next.clear();
    }

    /// Number of queued one-shot faults of each kind.
    pub fn pending(&self) -> PendingFaults {
        PendingFaults {
            fail_next: self.fail_next.len(),
            drop_next: self.drop_next,
            hold_next: self.hold_next.len(),
            lose_next: self.lose_next.len(),
        }
    }

    /// Decides the fate of the next request. One-shot faults come first, in the order drop,
    /// hold (the first queued hold that matches: held, or counted against its `skip`), fail,
    /// lose (the first queued loss whose methods match); then the random failure draw
    /// (`fail_rate`), the chaos draw (`chaos`, from its own RNG, only while one of its
    /// answer-replacing shares is above 0), and for a write ([`is_write`]) that passed them, the
    /// random loss draw (`lose_rate`). The failure draw consumes RNG values on every request that
    /// reaches it; the loss draw only while `lose_rate` is above 0, so turning it on leaves the
    /// failure pattern of a seed unchanged until then. Every fault returned is counted in
    /// [`Faults::injected`].
    pub fn next_action(&mut self, method: &Method, path: &str, knobs: &Knobs) -> FaultAction {
        self.next_action_at(method, path, None, knobs)
    }

    /// [`Faults::next_action`] for a request to `site` (its subdomain; `None` for requests to
    /// no site), which holds limited to a site take into account.
    pub fn next_action_at(
        &mut self,
        method: &Method,
        path: &str,
        site: Option<&str>,
        knobs: &Knobs,
    ) -> FaultAction {
        let action = self.decide(method, path, site, knobs);
        self.counted(action)
    }

    fn decide(
        &mut self,
        method: &Method,
        path: &str,
        site: Option<&str>,
        knobs: &Knobs,
    ) -> FaultAction {
        if self.drop_next > 0 {
            self.drop_next -= 1;
            return FaultAction::Drop;
        }
        if let Some(at) = self
            .hold_next
            .iter()
            .position(|spec| spec.matches(method, path, site))
        {
            let spec = &mut self.hold_next[at];
            if spec.skip > 0 {
                spec.skip -= 1;
            } else {
                let hold = spec.hold;
                let stage = spec.stage;
                self.hold_next.remove(at);
                return match stage {
                    HoldStage::Before => FaultAction::Hold(hold),
                    HoldStage::After => FaultAction::HoldAnswer(hold),
                };
            }
        }
        if let Some(spec) = self.fail_next.pop_front() {
            return FaultAction::Fail(spec);
        }
        if let Some(at) = self.lose_next.iter().position(|spec| {
            (spec.methods.is_empty() || spec.methods.contains(method))
                && spec
                    .path_suffix
                    .as_deref()
                    .is_none_or(|suffix| path.ends_with(suffix))
        }) {
            self.lose_next.remove(at);
            return FaultAction::Lose;
        }
        let draw: f64 = self.rng.r#gen();
        let pick: usize = self.rng.gen_range(0..4);
        if draw < knobs.fail_rate {
            let status = [500, 502, 503, 504][pick];
            return FaultAction::Fail(FailSpec {
                status,
                retry_after: None,
            });
        }
        let chaos = self.chaos_action(knobs);
        if chaos != FaultAction::Pass {
            return chaos;
        }
        if knobs.lose_rate > 0.0 && is_write(method, path) {
            let draw: f64 = self.rng.r#gen();
            if draw < knobs.lose_rate {
                return FaultAction::Lose;
            }
        }
        FaultAction::Pass
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::response::IntoResponse as _;
    use time::macros::datetime;

    #[test]
    fn burst_bucket_refills_with_time() {
        let mut rl = RateLimiter::default();
        let limits = BurstLimits::uniform(2);
        let t0 = datetime!(2026-01-01 00:00 UTC);
        assert!(rl.check_burst(&limits, "s", MethodClass::Get, t0).is_ok());
        assert!(rl.check_burst(&limits, "s", MethodClass::Get, t0).is_ok());
        let limited = rl
            .check_burst(&limits, "s", MethodClass::Get, t0)
            .expect_err("limited");
        assert_eq!(limited.reason, "jira-burst-based");
        assert_eq!(limited.retry_after_secs, 1);
        // Other method classes and sites have their own buckets.
        assert!(rl.check_burst(&limits, "s", MethodClass::Post, t0).is_ok());
        assert!(rl.check_burst(&limits, "t", MethodClass::Get, t0).is_ok());
        let later = t0 + time::Duration::milliseconds(500);
        assert!(
            rl.check_burst(&limits, "s", MethodClass::Get, later)
                .is_ok()
        );
    }

    #[test]
    fn quota_resets_at_top_of_hour() {
        let mut rl = RateLimiter::default();
        let knobs = Knobs {
            quota_points_per_hour: Some(3),
            ..Knobs::default()
        };
        let t0 = datetime!(2026-01-01 10:59:00 UTC);
        for _ in 0..3 {
            rl.charge_quota(&knobs, "app", 1, t0).expect("within quota");
        }
        let limited = rl
            .charge_quota(&knobs, "app", 1, t0)
            .expect_err("over quota");
        assert_eq!(limited.retry_after_secs, 60);
        assert_eq!(limited.reset, datetime!(2026-01-01 11:00 UTC));
        let status = rl
            .charge_quota(&knobs, "app", 1, datetime!(2026-01-01 11:00 UTC))
            .expect("new hour");
        assert_eq!(
            status,
            Some(QuotaStatus {
                limit: 3,
                remaining: 2,
                scope: QuotaScope::Global,
            })
        );
    }

    #[test]
    fn near_limit_header_below_twenty_percent() {
        let mut headers = HeaderMap::new();
        QuotaStatus {
            limit: 100,
            remaining: 19,
            scope: QuotaScope::Global,
        }
        .apply(&mut headers);
        assert_eq!(headers["x-ratelimit-nearlimit"], "true");
        let mut headers = HeaderMap::new();
        QuotaStatus {
            limit: 100,
            remaining: 20,
            scope: QuotaScope::Global,
        }
        .apply(&mut headers);
        assert!(headers.get("x-ratelimit-nearlimit").is_none());
    }

    #[test]
    fn per_issue_write_windows() {
        let knobs = Knobs::default();
        let mut rl = RateLimiter::default();
        let t0 = datetime!(2026-01-01 00:00 UTC);
        for _ in 0..20 {
            rl.check_issue_write(&knobs, "s", "10001", t0)
                .expect("first 20");
        }
        let limited = rl
            .check_issue_write(&knobs, "s", "10001", t0)
            .expect_err("21st in 2 s");
        assert_eq!(limited.reason, "jira-per-issue-on-write");
        assert_eq!(limited.limit, 20);
        assert!(
            rl.check_issue_write(&knobs, "s", "10002", t0).is_ok(),
            "other issues are separate"
        );
        // 100 per 30 s: five more 2-second bursts of 20 fill it.
        let mut t = t0;
        for _ in 0..4 {
            t += time::Duration::seconds(2);
            for _ in 0..20 {
                rl.check_issue_write(&knobs, "s", "10001", t)
                    .expect("within 100/30s");
            }
        }
        t += time::Duration::seconds(2);
        let limited = rl
            .check_issue_write(&knobs, "s", "10001", t)
            .expect_err("101st in 30 s");
        assert_eq!(limited.limit, 100);
        assert_eq!(limited.reset, t0 + time::Duration::seconds(30));
    }

    #[test]
    fn per_issue_write_limits_follow_the_knobs() {
        let t0 = datetime!(2026-01-01 00:00 UTC);
        let tight = Knobs {
            per_issue_writes_per_2s: 3,
            per_issue_writes_per_30s: 0,
            ..Knobs::default()
        };
        let mut rl = RateLimiter::default();
        for _ in 0..3 {
            rl.check_issue_write(&tight, "s", "1", t0).expect("first 3");
        }
        let limited = rl
            .check_issue_write(&tight, "s", "1", t0)
            .expect_err("4th in 2 s");
        assert_eq!(limited.limit, 3);
        // With both limits off, nothing is refused, however many writes arrive.
        let off = Knobs {
            per_issue_writes_per_2s: 0,
            per_issue_writes_per_30s: 0,
            ..Knobs::default()
        };
        let mut rl = RateLimiter::default();
        for _ in 0..150 {
            rl.check_issue_write(&off, "s", "1", t0).expect("no limit");
        }
        // Only the 30-second window: 5 writes spread over 10 s, then refused until it slides.
        let slow = Knobs {
            per_issue_writes_per_2s: 0,
            per_issue_writes_per_30s: 5,
            ..Knobs::default()
        };
        let mut rl = RateLimiter::default();
        for i in 0..5 {
            rl.check_issue_write(&slow, "s", "1", t0 + time::Duration::seconds(2 * i))
                .expect("within 5 per 30 s");
        }
        let limited = rl
            .check_issue_write(&slow, "s", "1", t0 + time::Duration::seconds(10))
            .expect_err("6th in 30 s");
        assert_eq!(limited.limit, 5);
        assert_eq!(limited.reset, t0 + time::Duration::seconds(30));
    }

    #[test]
    fn rate_limit_reset_is_whole_seconds_rounded_up() {
        let limited = RateLimited {
            reason: "jira-burst-based",
            retry_after_secs: 1,
            limit: 100,
            reset: datetime!(2026-01-01 01:01:00.25 UTC),
        };
        let response = limited.into_error().into_response();
        assert_eq!(
            response.headers()["x-ratelimit-reset"],
            "2026-01-01T01:01:01Z"
        );
        let exact = RateLimited {
            reason: "jira-burst-based",
            retry_after_secs: 1,
            limit: 100,
            reset: datetime!(2026-01-01 01:01:00 UTC),
        };
        assert_eq!(
            exact.into_error().into_response().headers()["x-ratelimit-reset"],
            "2026-01-01T01:01:00Z"
        );
    }

    #[test]
    fn quota_policy_names_the_scope() {
        let policy = |scope| {
            let mut headers = HeaderMap::new();
            QuotaStatus {
                limit: 65_000,
                remaining: 64_000,
                scope,
            }
            .apply(&mut headers);
            headers["beta-ratelimit-policy"].clone()
        };
        assert_eq!(
            policy(QuotaScope::Global),
            "\"global-app-quota\";q=65000;w=3600"
        );
        assert_eq!(
            policy(QuotaScope::Tenant),
            "\"tenant-app-quota\";q=65000;w=3600"
        );
    }

    const READ: &str = "/rest/api/3/myself";
    const CREATE: &str = "/rest/api/3/issue";

    fn rates(fail_rate: f64, lose_rate: f64) -> Knobs {
        Knobs {
            fail_rate,
            lose_rate,
            ..Knobs::default()
        }
    }

    #[test]
    fn random_failures_depend_only_on_seed() {
        let pattern = |seed| {
            let mut f = Faults::new(seed);
            (0..64)
                .map(|_| f.next_action(&Method::GET, READ, &rates(0.3, 0.0)))
                .collect::<Vec<_>>()
        };
        assert_eq!(pattern(7), pattern(7));
        assert_ne!(pattern(7), pattern(8));
        assert!(pattern(7).iter().any(|a| *a != FaultAction::Pass));
    }

    #[test]
    fn writes_draw_no_loss_while_lose_rate_is_zero() {
        // Alternating reads and writes must fail exactly like reads alone: with lose_rate 0 a
        // write takes no extra RNG value, so existing seeds keep their failure patterns.
        let reads = {
            let mut f = Faults::new(7);
            (0..64)
                .map(|_| f.next_action(&Method::GET, READ, &rates(0.3, 0.0)))
                .collect::<Vec<_>>()
        };
        let mixed = {
            let mut f = Faults::new(7);
            (0..64)
                .map(|i| {
                    let (method, path) = if i % 2 == 0 {
                        (Method::POST, CREATE)
                    } else {
                        (Method::GET, READ)
                    };
                    f.next_action(&method, path, &rates(0.3, 0.0))
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(reads, mixed);
        assert!(!mixed.contains(&FaultAction::Lose));
    }

    #[test]
    fn random_losses_hit_only_writes_and_depend_only_on_seed() {
        let pattern = |seed| {
            let mut f = Faults::new(seed);
            (0..64)
                .map(|_| f.next_action(&Method::POST, CREATE, &rates(0.0, 0.5)))
                .collect::<Vec<_>>()
        };
        assert_eq!(pattern(7), pattern(7));
        assert_ne!(pattern(7), pattern(8));
        assert!(pattern(7).contains(&FaultAction::Lose));
        assert!(pattern(7).contains(&FaultAction::Pass));

        let mut f = Faults::new(7);
        let always = rates(0.0, 1.0);
        assert_eq!(
            f.next_action(&Method::PUT, "/rest/api/3/issue/DEMO-1", &always),
            FaultAction::Lose
        );
        for (method, path) in [
            (Method::GET, "/rest/api/3/issue/DEMO-1"),
            (Method::POST, "/rest/api/3/search/jql"),
            (Method::POST, "/oauth/token"),
        ] {
            assert_eq!(
                f.next_action(&method, path, &always),
                FaultAction::Pass,
                "{method} {path}"
            );
        }
    }

    #[test]
    fn writes_are_the_mutating_methods_except_post_reads() {
        for (method, path, write) in [
            (Method::POST, "/rest/api/3/issue", true),
            (Method::POST, "/rest/api/2/issue/bulk", true),
            (Method::PUT, "/rest/api/3/issue/DEMO-1", true),
            (Method::PATCH, "/rest/agile/1.0/sprint/1", true),
            (Method::DELETE, "/rest/api/3/issue/DEMO-1", true),
            (Method::POST, "/rest/servicedeskapi/request", true),
            (Method::GET, "/rest/api/3/issue/DEMO-1", false),
            (Method::HEAD, "/rest/api/3/issue/DEMO-1", false),
            (Method::POST, "/rest/api/3/search/jql", false),
            (
                Method::POST,
                "/rest/api/latest/search/approximate-count",
                false,
            ),
            (Method::POST, "/rest/api/3/issue/bulkfetch", false),
            (Method::POST, "/rest/api/2/changelog/bulkfetch", false),
            (Method::POST, "/rest/api/3/comment/list", false),
            (Method::POST, "/rest/api/3/worklog/list", false),
            (Method::POST, "/oauth/token", false),
        ] {
            assert_eq!(is_write(&method, path), write, "{method} {path}");
        }
    }

    #[test]
    fn one_shot_faults_come_first_in_order() {
        let mut f = Faults::new(1);
        let calm = Knobs::default();
        f.lose_next(1, &[]);
        f.fail_next(1, 503, Some(5));
        f.drop_next(1);
        f.hold_next(1, Duration::from_secs(3));
        assert_eq!(
            f.pending(),
            PendingFaults {
                fail_next: 1,
                drop_next: 1,
                hold_next: 1,
                lose_next: 1,
            }
        );
        let mut next = || f.next_action(&Method::GET, READ, &calm);
        assert_eq!(next(), FaultAction::Drop);
        assert_eq!(next(), FaultAction::Hold(Duration::from_secs(3)));
        assert_eq!(
            next(),
            FaultAction::Fail(FailSpec {
                status: 503,
                retry_after: Some(5)
            })
        );
        assert_eq!(next(), FaultAction::Lose);
        assert_eq!(next(), FaultAction::Pass);
    }

    #[test]
    fn queued_losses_can_wait_for_a_path() {
        let mut f = Faults::new(1);
        let knobs = Knobs::default();
        f.lose_next_matching(1, &[Method::POST], Some("/issue/bulk"));
        assert_eq!(
            f.next_action(&Method::POST, "/site/demo/rest/api/3/search/jql", &knobs),
            FaultAction::Pass
        );
        assert_eq!(
            f.next_action(&Method::POST, "/site/demo/rest/api/3/issue/bulk", &knobs),
            FaultAction::Lose
        );
        assert_eq!(f.pending().lose_next, 0);
    }

    #[test]
    fn queued_holds_wait_for_their_path_and_skip_the_first_matches() {
        let mut f = Faults::new(1);
        let calm = Knobs::default();
        let search = "/site/demo/rest/api/3/search/jql";
        f.hold_matching(
            1,
            &HoldSpec {
                methods: vec![Method::POST],
                path_suffix: Some("/search/jql".to_owned()),
                site: None,
                skip: 2,
                hold: Duration::from_secs(60),
                stage: HoldStage::Before,
            },
        );
        f.hold_matching(
            1,
            &HoldSpec {
                methods: vec![Method::POST],
                path_suffix: Some("/issue/bulk".to_owned()),
                site: Some("acme".to_owned()),
                skip: 0,
                hold: Duration::from_secs(5),
                stage: HoldStage::After,
            },
        );
        // Other requests pass and leave both queued; the third search is the one held.
        assert_eq!(f.next_action(&Method::GET, READ, &calm), FaultAction::Pass);
        assert_eq!(
            f.next_action(&Method::GET, search, &calm),
            FaultAction::Pass
        );
        assert_eq!(
            f.next_action(&Method::POST, search, &calm),
            FaultAction::Pass
        );
        assert_eq!(
            f.next_action(&Method::POST, search, &calm),
            FaultAction::Pass
        );
        assert_eq!(f.pending().hold_next, 2);
        // The bulk create waits for its site.
        assert_eq!(
            f.next_action_at(&Method::POST, "/rest/api/3/issue/bulk", Some("demo"), &calm),
            FaultAction::Pass
        );
        assert_eq!(
            f.next_action_at(&Method::POST, "/rest/api/3/issue/bulk", Some("acme"), &calm),
            FaultAction::HoldAnswer(Duration::from_secs(5))
        );
        assert_eq!(
            f.next_action(&Method::POST, search, &calm),
            FaultAction::Hold(Duration::from_secs(60))
        );
        assert_eq!(f.pending().hold_next, 0);
        assert_eq!(
            f.next_action(&Method::POST, search, &calm),
            FaultAction::Pass
        );
    }

    #[test]
    fn held_requests_are_counted_while_their_guards_live() {
        let f = Faults::new(1);
        assert_eq!(f.held(), 0);
        let one = f.held_guard();
        let two = f.held_guard();
        assert_eq!(f.held(), 2);
        drop(one);
        assert_eq!(f.held(), 1);
        drop(two);
        assert_eq!(f.held(), 0);
    }

    #[test]
    fn queued_losses_wait_for_a_listed_method() {
        let mut f = Faults::new(1);
        let calm = Knobs::default();
        f.lose_next(1, &[Method::POST, Method::PUT]);
        f.lose_next(1, &[]);
        // A GET skips the write-only loss and takes the next one that accepts any method.
        assert_eq!(f.next_action(&Method::GET, READ, &calm), FaultAction::Lose);
        assert_eq!(f.next_action(&Method::GET, READ, &calm), FaultAction::Pass);
        assert_eq!(f.pending().lose_next, 1);
        assert_eq!(
            f.next_action(&Method::PUT, "/rest/api/3/issue/DEMO-1", &calm),
            FaultAction::Lose
        );
        assert_eq!(f.pending().lose_next, 0);
        f.lose_next(2, &[Method::DELETE]);
        f.clear();
        assert_eq!(f.pending().lose_next, 0);
    }

    #[test]
    fn knobs_validate_fail_and_lose_rates() {
        for knobs in [rates(1.5, 0.0), rates(0.0, 1.5), rates(0.0, -0.1)] {
            assert!(knobs.validate().is_err(), "{knobs:?}");
        }
        assert!(rates(1.0, 1.0).validate().is_ok());
        assert!(Knobs::default().validate().is_ok());
    }
}
