//! Webhooks: registration (dynamic webhooks of OAuth 2.0 apps under `/rest/api/3/webhook`,
//! admin webhooks under `/rest/webhooks/1.0/webhook`) and delivery of the events writes cause.
//!
//! | Module | What |
//! |---|---|
//! | [`registry`] | registered webhooks and failed deliveries |
//! | [`dynamic`] | `/rest/api/{2,3,latest}/webhook`, `/webhook/refresh`, `/webhook/failed` |
//! | [`admin`] | `/rest/webhooks/1.0/webhook[/{id}]` |
//! | [`payload`] | event bodies |
//! | [`sign`] | JWT (dynamic) and `X-Hub-Signature` (admin) |
//! | [`deliver`] | the dispatcher: order per webhook, retries, the delivery knobs |
//!
//! Flow: every write records [`crate::data::Change`]s; when the write guard is released, the
//! [`Webhooks::route`] listener (still under the site's lock, so in write order) matches each
//! change against the site's webhooks (event, expiry, `fieldIdsFilter`, JQL through the
//! simulator's own engine on the issue as the write left it), renders one body per change and
//! queues one delivery per matching webhook. The write's HTTP answer never waits for a
//! delivery: the [`deliver`] task sends them. At most [`QUEUE_CAPACITY`] deliveries are
//! outstanding; more are lost (logged as `overflow`, and listed as failed for apps).

pub mod admin;
pub mod deliver;
pub mod dynamic;
pub mod payload;
pub mod registry;
pub mod sign;

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use axum::Router;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::clock::SimClock;
use crate::data::{Change, ChangeFeed, ChangeKind, SiteData};
use crate::jql::Compiled;
use crate::platform::ApiVersion;
use crate::platform::render::Render;
use crate::state::{SimState, lock};
pub use registry::{
    AdminWebhook, DynamicWebhook, FailedDelivery, Registry, Secret, WebhookInfo, WebhookKind,
    WebhookRef,
};

/// Most deliveries outstanding (queued, held, or being retried) at once.
pub const QUEUE_CAPACITY: usize = 10_000;

/// Most attempts the delivery log keeps.
pub const LOG_CAPACITY: usize = 10_000;

/// What became of one attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "outcome")]
pub enum AttemptOutcome {
    /// The receiver answered 2xx.
    Delivered {
        /// Its status.
        status: u16,
    },
    /// The receiver answered another status.
    Rejected {
        /// Its status.
        status: u16,
    },
    /// No connection, or it broke.
    ConnectionError,
    /// No answer within `webhooks.timeout_ms`.
    TimedOut,
    /// Lost by the `webhooks.drop_share` knob: never sent.
    Dropped,
    /// Lost because [`QUEUE_CAPACITY`] deliveries were outstanding: never sent.
    Overflow,
}

impl AttemptOutcome {
    /// Whether the receiver accepted the delivery.
    pub fn is_delivered(self) -> bool {
        matches!(self, Self::Delivered { .. })
    }
}

/// One attempt in the delivery log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryAttempt {
    /// The webhook.
    pub webhook: WebhookRef,
    /// `webhookEvent`.
    pub event: String,
    /// `X-Atlassian-Webhook-Identifier`.
    pub identifier: String,
    /// 0 for the first attempt, else the `X-Atlassian-Webhook-Retry` value sent.
    pub attempt: u32,
    /// A copy sent by the `webhooks.duplicate_share` knob.
    pub duplicate: bool,
    /// What happened.
    #[serde(flatten)]
    pub outcome: AttemptOutcome,
    /// When (simulator clock).
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
}

/// How a delivery proves its origin.
#[derive(Debug, Clone)]
pub(crate) enum Signing {
    /// `Authorization: Bearer <JWT>` signed with the app's client secret.
    Jwt {
        /// The app.
        client_id: String,
        /// The site's cloud id (`iss`).
        cloud_id: String,
    },
    /// `X-Hub-Signature` when the admin webhook has a secret.
    Hub(Option<Secret>),
}

/// One event for one webhook.
#[derive(Debug, Clone)]
pub(crate) struct Delivery {
    pub(crate) webhook: WebhookRef,
    pub(crate) url: String,
    pub(crate) event: &'static str,
    pub(crate) identifier: String,
    pub(crate) body: String,
    pub(crate) signing: Signing,
    /// The app a failed delivery is listed for (dynamic webhooks).
    pub(crate) client_id: Option<String>,
}

/// Webhook state of one simulator (in the state's typed slot).
pub struct Webhooks {
    registry: Mutex<Registry>,
    log: Mutex<VecDeque<DeliveryAttempt>>,
    /// Outstanding deliveries; tests wait for 0.
    pending: watch::Sender<usize>,
    /// Deliveries the `reorder_share` knob sent after a later one.
    reordered: AtomicU64,
    queue: Mutex<Option<mpsc::UnboundedSender<Delivery>>>,
    task: Mutex<Option<JoinHandle<()>>>,
    feed: Arc<ChangeFeed>,
    clock: SimClock,
    base_url: String,
}

impl std::fmt::Debug for Webhooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Webhooks")
            .field("pending", &*self.pending.borrow())
            .finish_non_exhaustive()
    }
}

/// The simulator's webhook state, created on first use.
pub fn hub(state: &SimState) -> Arc<Webhooks> {
    let feed = state.shared(ChangeFeed::default);
    let clock = state.clock().clone();
    let base_url = state.base_url().to_owned();
    state.shared(move || Webhooks {
        registry: Mutex::new(Registry::default()),
        log: Mutex::new(VecDeque::new()),
        pending: watch::channel(0).0,
        reordered: AtomicU64::new(0),
        queue: Mutex::new(None),
        task: Mutex::new(None),
        feed,
        clock,
        base_url,
    })
}

/// Starts the dispatcher and listens to the site's changes (called by [`crate::Sim::start`]).
pub fn start(state: &SimState) {
    let hub = hub(state);
    let (tx, rx) = mpsc::unbounded_channel();
    *lock(&hub.queue) = Some(tx);
    let weak = Arc::downgrade(&hub);
    hub.feed.listen(Arc::new(move |data, changes| {
        if let Some(hub) = weak.upgrade() {
            hub.route(data, changes);
        }
    }));
    let task = tokio::spawn(deliver::dispatch(state.clone(), hub.clone(), rx));
    *lock(&hub.task) = Some(task);
}

/// Stops the dispatcher (deliveries in flight are abandoned).
pub fn stop(state: &SimState) {
    let hub = hub(state);
    lock(&hub.queue).take();
    if let Some(task) = lock(&hub.task).take() {
        task.abort();
    }
}

/// The routes of both webhook APIs.
pub fn router() -> Router<SimState> {
    dynamic::router().merge(admin::router())
}

fn epoch_ms(t: OffsetDateTime) -> i64 {
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

/// Compiles `jql` for matching on `data`, as `account_id` at `now_ms`; `None` if it no longer
/// compiles (a project it names was deleted).
pub(crate) fn compile(
    data: &SiteData,
    jql: &str,
    account_id: Option<&str>,
    now_ms: i64,
) -> Result<Compiled, Vec<String>> {
    let query = crate::jql::parse(jql).map_err(|e| e.messages())?;
    let searcher = crate::data::Searcher {
        account_id,
        time_zone: "Etc/UTC",
        now_ms,
    };
    query
        .compile(&crate::data::SiteContext::new(data, searcher))
        .map_err(|e| e.messages())
}

fn issue_matches(data: &SiteData, query: Option<&Compiled>, change: &Change) -> bool {
    let Some(query) = query else { return true };
    if data.matches(query, &change.issue) {
        return true;
    }
    match &change.kind {
        ChangeKind::LinkCreated { other, .. } | ChangeKind::LinkDeleted { other, .. } => {
            data.matches(query, other)
        }
        _ => false,
    }
}

impl Webhooks {
    /// The registry (take, change, drop; never across an `.await`).
    pub fn registry(&self) -> MutexGuard<'_, Registry> {
        lock(&self.registry)
    }

    /// Call after adding or removing webhooks: writes record changes only while any exist.
    pub fn registry_changed(&self) {
        let any = !self.registry().is_empty();
        self.feed.set_wanted(any);
    }

    /// The delivery log, oldest first.
    pub fn attempts(&self) -> Vec<DeliveryAttempt> {
        lock(&self.log).iter().cloned().collect()
    }

    /// Empties the delivery log.
    pub fn clear_attempts(&self) {
        lock(&self.log).clear();
    }

    /// Deliveries the `reorder_share` knob sent after a later delivery of their webhook.
    pub fn reordered(&self) -> u64 {
        self.reordered.load(Ordering::Relaxed)
    }

    pub(crate) fn count_reordered(&self) {
        self.reordered.fetch_add(1, Ordering::Relaxed);
    }

    /// Deliveries queued, held or being retried.
    pub fn pending(&self) -> usize {
        *self.pending.borrow()
    }

    /// Waits until no delivery is outstanding.
    pub async fn settled(&self) {
        let mut rx = self.pending.subscribe();
        let _ = rx.wait_for(|n| *n == 0).await;
    }

    pub(crate) fn record(
        &self,
        d: &Delivery,
        attempt: u32,
        duplicate: bool,
        outcome: AttemptOutcome,
    ) {
        let mut log = lock(&self.log);
        if log.len() == LOG_CAPACITY {
            log.pop_front();
        }
        log.push_back(DeliveryAttempt {
            webhook: d.webhook.clone(),
            event: d.event.to_owned(),
            identifier: d.identifier.clone(),
            attempt,
            duplicate,
            outcome,
            at: self.clock.now(),
        });
    }

    /// Lists a delivery as failed (dynamic webhooks only; admin webhooks have no such list).
    pub(crate) fn fail(&self, d: &Delivery) {
        if let Some(client_id) = &d.client_id {
            let failure_ms = epoch_ms(self.clock.now());
            self.registry().add_failed(FailedDelivery {
                client_id: client_id.clone(),
                site: d.webhook.site.clone(),
                identifier: d.identifier.clone(),
                body: d.body.clone(),
                url: d.url.clone(),
                failure_ms,
            });
        }
    }

    /// One outstanding delivery is finished.
    pub(crate) fn done(&self) {
        self.pending.send_modify(|n| *n = n.saturating_sub(1));
    }

    fn enqueue(&self, d: Delivery) {
        let accepted = self.pending.send_if_modified(|n| {
            if *n >= QUEUE_CAPACITY {
                false
            } else {
                *n += 1;
                true
            }
        });
        if !accepted {
            self.record(&d, 0, false, AttemptOutcome::Overflow);
            self.fail(&d);
            return;
        }
        let sent = match lock(&self.queue).as_ref() {
            Some(tx) => tx.send(d).is_ok(),
            None => false,
        };
        if !sent {
            self.done();
        }
    }

    /// Matches a write guard's changes against the site's webhooks and queues the deliveries.
    pub(crate) fn route(&self, data: &SiteData, changes: &[Change]) {
        let site = data.subdomain().to_owned();
        let (dynamic, admin): (Vec<DynamicWebhook>, Vec<AdminWebhook>) = {
            let registry = self.registry();
            (
                registry
                    .dynamic
                    .values()
                    .filter(|h| h.site == site)
                    .cloned()
                    .collect(),
                registry
                    .admin
                    .values()
                    .filter(|h| h.site == site && h.enabled)
                    .cloned()
                    .collect(),
            )
        };
        if dynamic.is_empty() && admin.is_empty() {
            return;
        }
        let now_ms = changes.first().map_or(0, |c| c.at_ms);
        let mut queries: HashMap<(WebhookKind, u64), Option<Compiled>> = HashMap::new();
        for h in &dynamic {
            let q = compile(data, &h.jql, Some(&h.account_id), now_ms).ok();
            queries.insert((WebhookKind::Dynamic, h.id), q);
        }
        for h in &admin {
            let q = h
                .jql
                .as_deref()
                .filter(|j| !j.trim().is_empty())
                .and_then(|j| compile(data, j, None, now_ms).ok());
            queries.insert((WebhookKind::Admin, h.id), q);
        }
        let site_url = format!("{}/site/{site}", self.base_url);
        let render = Render::new(data, &site_url, &self.base_url, ApiVersion::V2);
        let mut out = Vec::new();
        for change in changes {
            let event = payload::event_name(&change.kind);
            let changed = payload::changed_fields(&change.kind);
            let mut body: Option<String> = None;
            let mut body_of = || {
                body.get_or_insert_with(|| payload::body(&render, change))
                    .clone()
            };
            for h in &dynamic {
                if !h.events.iter().any(|e| e == event) || h.expires_ms <= change.at_ms {
                    continue;
                }
                if event == "jira:issue_updated"
                    && let Some(ids) = &h.field_ids
                    && !changed.iter().any(|f| ids.iter().any(|i| i == f))
                {
                    continue;
                }
                let Some(Some(query)) = queries.get(&(WebhookKind::Dynamic, h.id)) else {
                    continue;
                };
                if !issue_matches(data, Some(query), change) {
                    continue;
                }
                out.push(Delivery {
                    webhook: WebhookRef {
                        kind: WebhookKind::Dynamic,
                        id: h.id,
                        site: site.clone(),
                    },
                    url: h.url.clone(),
                    event,
                    identifier: uuid::Uuid::new_v4().to_string(),
                    body: body_of(),
                    signing: Signing::Jwt {
                        client_id: h.client_id.clone(),
                        cloud_id: h.cloud_id.clone(),
                    },
                    client_id: Some(h.client_id.clone()),
                });
            }
            for h in &admin {
                if !h.events.iter().any(|e| e == event) {
                    continue;
                }
                let has_jql = h.jql.as_deref().is_some_and(|j| !j.trim().is_empty());
                let query = queries
                    .get(&(WebhookKind::Admin, h.id))
                    .and_then(Option::as_ref);
                if has_jql && query.is_none() {
                    continue;
                }
                if !issue_matches(data, query, change) {
                    continue;
                }
                out.push(Delivery {
                    webhook: WebhookRef {
                        kind: WebhookKind::Admin,
                        id: h.id,
                        site: site.clone(),
                    },
                    url: h.url.clone(),
                    event,
                    identifier: uuid::Uuid::new_v4().to_string(),
                    body: if h.exclude_body {
                        String::new()
                    } else {
                        body_of()
                    },
                    signing: Signing::Hub(h.secret.clone()),
                    client_id: None,
                });
            }
        }
        for d in out {
            self.enqueue(d);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::SimConfig;

    fn delivery(client_id: Option<&str>) -> Delivery {
        Delivery {
            webhook: WebhookRef {
                kind: WebhookKind::Dynamic,
                id: 10_000,
                site: "demo".to_owned(),
            },
            url: "http://127.0.0.1:9/hook".to_owned(),
            event: "jira:issue_created",
            identifier: "d1".to_owned(),
            body: "{}".to_owned(),
            signing: Signing::Hub(None),
            client_id: client_id.map(str::to_owned),
        }
    }

    #[test]
    fn a_full_queue_loses_the_delivery_and_lists_it_as_failed() {
        let state = SimState::new(SimConfig::for_tests(), "http://127.0.0.1:1".to_owned());
        let hub = hub(&state);
        hub.pending.send_modify(|n| *n = QUEUE_CAPACITY);
        hub.enqueue(delivery(Some("app")));
        assert_eq!(hub.pending(), QUEUE_CAPACITY);
        let attempts = hub.attempts();
        assert_eq!(attempts.len(), 1);
        assert_eq!(attempts[0].outcome, AttemptOutcome::Overflow);
        let now_ms = epoch_ms(state.now());
        let failed = hub.registry().failed_of("app", "demo", None, 10, now_ms);
        assert_eq!(failed.len(), 1);
        assert_eq!(failed[0].identifier, "d1");
    }

    #[test]
    fn without_a_dispatcher_nothing_stays_pending() {
        let state = SimState::new(SimConfig::for_tests(), "http://127.0.0.1:1".to_owned());
        let hub = hub(&state);
        hub.enqueue(delivery(None));
        assert_eq!(hub.pending(), 0);
        assert!(hub.attempts().is_empty());
    }
}
