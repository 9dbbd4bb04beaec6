//! Listeners: Jira's webhooks feeding a flow.
//!
//! A delivery is stored before it is acknowledged ([`ListenerStore::store_listener_event`]),
//! so an acknowledged event is never lost; it is processed afterwards, at least once, and
//! applied idempotently: per issue, an event older than the newest one applied changes
//! nothing ([`ListenerStore::listener_applied`]).

use std::collections::HashMap;

use async_trait::async_trait;
use jiralink_domain::ConnectionId;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::StoreResult;

#[derive(Debug, Clone, PartialEq)]
pub struct ListenerRecord {
    pub id: Uuid,
    pub name: String,
    pub connection_id: ConnectionId,
    pub flow_id: Uuid,
    /// The last segment of the listener's URL: routes a delivery, proves nothing.
    pub token: String,
    /// `dynamic` (jiralink registers Jira's webhooks, deliveries carry a JWT) or `admin` (a
    /// site administrator registers one, deliveries carry an `X-Hub-Signature`).
    pub mode: String,
    pub events: Vec<String>,
    pub jql: Option<String>,
    pub field_ids: Vec<String>,
    pub webhook_ids: Vec<u64>,
    pub expires_at: Option<OffsetDateTime>,
    /// `active`, `failed` (registration or refresh failed: `state_reason` says why) or
    /// `expired`.
    pub state: String,
    pub state_reason: Option<String>,
    /// Bookkeeping the listener's jobs keep: the safety net's cursor and last result, the
    /// `webhook/failed` position, ….
    pub status: serde_json::Value,
    pub version: u64,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

/// A delivery as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenerEvent {
    pub listener_id: Uuid,
    /// Jira's `X-Atlassian-Webhook-Identifier`: the same on every retry of one delivery.
    pub delivery_id: String,
    /// Jira's `webhookEvent`.
    pub kind: String,
    /// The issues the event is about (a link names two).
    pub issue_ids: Vec<String>,
    /// The event's own `timestamp`, epoch milliseconds.
    pub event_ms: i64,
    pub body: String,
    pub received_at: OffsetDateTime,
    /// `pending`, `done` or `skipped`.
    pub state: String,
    pub flow_run_id: Option<Uuid>,
    pub processed_at: Option<OffsetDateTime>,
}

/// What [`ListenerStore::store_listener_event`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventStored {
    /// Stored: acknowledge it.
    New,
    /// The same delivery again (Jira retried it): already stored, acknowledge it.
    Duplicate,
    /// The same signed request seen before under another delivery id: refused.
    Replayed,
}

/// What the listener's events look like now, for its page and its lag.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListenerEventStats {
    pub pending: u64,
    pub received: u64,
    pub last_received_at: Option<OffsetDateTime>,
    /// The event time of the oldest event still to process.
    pub oldest_pending_ms: Option<i64>,
    /// When the longest-waiting event still to process was received.
    pub oldest_pending_received_at: Option<OffsetDateTime>,
    pub last_processed_at: Option<OffsetDateTime>,
}

#[async_trait]
pub trait ListenerStore: Send + Sync {
    /// Inserts the listener with its sealed secrets in one transaction.
    /// [`crate::StoreError::Conflict`] when the name is taken; `NotFound` (`connection or
    /// flow`) when either is gone.
    async fn insert_listener(
        &self,
        listener: &ListenerRecord,
        secrets: &[crate::SecretWrite],
    ) -> StoreResult<()>;
    /// Replaces the listener when the stored version is still `listener.version`
    /// ([`crate::StoreError::Changed`] otherwise); returns the new version.
    async fn update_listener(&self, listener: &ListenerRecord) -> StoreResult<u64>;
    async fn get_listener(&self, id: Uuid) -> StoreResult<ListenerRecord>;
    async fn find_listener_by_name(&self, name: &str) -> StoreResult<Option<ListenerRecord>>;
    async fn find_listener_by_token(&self, token: &str) -> StoreResult<Option<ListenerRecord>>;
    async fn list_listeners(&self) -> StoreResult<Vec<ListenerRecord>>;
    /// The listeners feeding a flow, as (id, name).
    async fn listeners_of_flow(&self, flow: Uuid) -> StoreResult<Vec<(Uuid, String)>>;
    /// Deletes the listener with its events and its secret.
    async fn delete_listener(&self, id: Uuid) -> StoreResult<()>;

    /// Stores a delivery, unless its delivery id is known ([`EventStored::Duplicate`]) or
    /// `replay_key` (what its signature covered) was seen under another
    /// ([`EventStored::Replayed`]). A new event makes `process` (the listener's processing
    /// job) due at its `next_run_at` in the same transaction: one commit per delivery, and no
    /// stored event without a run to process it.
    async fn store_listener_event(
        &self,
        event: &ListenerEvent,
        replay_key: &str,
        process: &crate::NewJob,
    ) -> StoreResult<EventStored>;
    /// The listener's pending events, oldest event time first.
    async fn pending_listener_events(
        &self,
        listener: Uuid,
        limit: u32,
    ) -> StoreResult<Vec<ListenerEvent>>;
    /// Marks events processed (`done` or `skipped`) by a flow run.
    async fn finish_listener_events(
        &self,
        listener: Uuid,
        delivery_ids: &[String],
        state: &str,
        flow_run: Option<Uuid>,
        at: OffsetDateTime,
    ) -> StoreResult<()>;
    /// The newest event time applied per issue, for those of `issue_ids` that have one.
    async fn listener_applied(
        &self,
        listener: Uuid,
        issue_ids: &[String],
    ) -> StoreResult<HashMap<String, i64>>;
    /// Records event times applied; an older time never replaces a newer one.
    async fn put_listener_applied(
        &self,
        listener: Uuid,
        applied: &[(String, i64)],
    ) -> StoreResult<()>;
    async fn listener_event_stats(&self, listener: Uuid) -> StoreResult<ListenerEventStats>;
    /// The newest events received, newest first.
    async fn recent_listener_events(
        &self,
        listener: Uuid,
        limit: u32,
    ) -> StoreResult<Vec<ListenerEvent>>;
    /// Forgets processed events received before `before`, and replay keys seen before it.
    /// Returns how many rows went.
    async fn prune_listener_events(&self, before: OffsetDateTime) -> StoreResult<u64>;
}
