//! Notifications: subscriptions, the last known state of every watched subject, the changes
//! waiting to be told and the messages (history).
//!
//! A change of state is recorded with [`NotificationStore::record_state`], which says whether
//! the state changed: only a change becomes a notification, however often the same state is
//! reported. Changes wait per recipient in `notification_events` until the dispatcher turns
//! them into messages ([`NotificationStore::compose_notifications`]), in the same transaction
//! that deletes them, so a change is told once even with several servers dispatching.

use async_trait::async_trait;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::{SecretWrite, StoreResult};

/// A user's subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionRecord {
    pub id: Uuid,
    pub user_id: Uuid,
    /// e.g. `connection.offline`.
    pub topic: String,
    /// Empty (with `subject_id`) for every subject of the topic.
    pub subject_kind: String,
    pub subject_id: String,
    /// `email` or `webhook`.
    pub channel: String,
    /// The e-mail address; empty for the webhook.
    pub address: String,
    pub created_at: OffsetDateTime,
}

/// A state reported for one (topic, subject).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateReport<'a> {
    pub topic: &'a str,
    pub subject_kind: &'a str,
    pub subject_id: &'a str,
    /// `ok` or `trouble`.
    pub state: &'a str,
    pub detail: Option<&'a str>,
    pub at: OffsetDateTime,
}

/// A change waiting for one recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventRecord {
    pub id: Uuid,
    pub user_id: Uuid,
    pub channel: String,
    pub address: String,
    pub topic: String,
    pub subject_kind: String,
    pub subject_id: String,
    pub subject_name: String,
    pub state: String,
    pub detail: Option<String>,
    pub link: String,
    pub at: OffsetDateTime,
}

/// A message, sent or not.
#[derive(Debug, Clone, PartialEq)]
pub struct NotificationRecord {
    pub id: Uuid,
    pub user_id: Uuid,
    pub channel: String,
    pub address: String,
    pub title: String,
    pub body: String,
    /// The changes it tells, as the app's JSON.
    pub events: serde_json::Value,
    /// `pending`, `sent` or `failed`.
    pub state: String,
    pub attempts: u32,
    pub last_error: Option<String>,
    /// When a pending message is tried (again).
    pub next_attempt_at: Option<OffsetDateTime>,
    pub created_at: OffsetDateTime,
    pub sent_at: Option<OffsetDateTime>,
}

/// How one delivery attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryUpdate {
    pub state: String,
    pub attempts: u32,
    pub last_error: Option<String>,
    pub next_attempt_at: Option<OffsetDateTime>,
    pub sent_at: Option<OffsetDateTime>,
}

/// The installation's outgoing webhook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookRecord {
    pub url: String,
    pub updated_at: OffsetDateTime,
}

/// Subscriptions, states, waiting changes and messages.
#[async_trait]
pub trait NotificationStore: Send + Sync {
    /// [`crate::StoreError::Conflict`] when the user has the same subscription;
    /// [`crate::StoreError::NotFound`] when the user does not exist.
    async fn insert_subscription(&self, s: &SubscriptionRecord) -> StoreResult<()>;
    /// One user's subscriptions (or everybody's), oldest first.
    async fn list_subscriptions(&self, user: Option<Uuid>) -> StoreResult<Vec<SubscriptionRecord>>;
    /// Deletes one subscription of `user`; [`crate::StoreError::NotFound`] when `user` has no
    /// such subscription.
    async fn delete_subscription(&self, id: Uuid, user: Uuid) -> StoreResult<()>;
    /// The subscriptions to `topic` for this subject or for every subject.
    async fn subscriptions_for(
        &self,
        topic: &str,
        subject_kind: &str,
        subject_id: &str,
    ) -> StoreResult<Vec<SubscriptionRecord>>;

    /// Stores the state and returns the previous one when it differs (a subject never seen
    /// counts as `ok`), `None` when nothing changed. Serialised per (topic, subject), so of
    /// two processes reporting the same change only one hears it changed; a change queues
    /// `events` (the change for each recipient) in the same transaction.
    async fn record_state(
        &self,
        report: &StateReport<'_>,
        events: &[EventRecord],
    ) -> StoreResult<Option<String>>;
    /// The last known state of every subject of `topic` (all topics for `None`), as
    /// (topic, subject kind, subject id, state, detail).
    async fn list_states(
        &self,
        topic: Option<&str>,
    ) -> StoreResult<Vec<(String, String, String, String, Option<String>)>>;

    /// The recipients (channel, address) with a change waiting since `before` or longer.
    async fn recipients_due(&self, before: OffsetDateTime) -> StoreResult<Vec<(String, String)>>;
    /// Every change waiting for one recipient, oldest first.
    async fn events_for(&self, channel: &str, address: &str) -> StoreResult<Vec<EventRecord>>;
    /// When the oldest waiting change was recorded, if any.
    async fn oldest_event(&self) -> StoreResult<Option<OffsetDateTime>>;
    /// Deletes the changes `events` and stores `messages` in one transaction; `false`, with
    /// nothing changed, when another process took some of the changes first.
    async fn compose_notifications(
        &self,
        events: &[Uuid],
        messages: &[NotificationRecord],
    ) -> StoreResult<bool>;

    /// Stores a message on its own (a test message).
    async fn insert_notification(&self, n: &NotificationRecord) -> StoreResult<()>;
    /// [`crate::StoreError::NotFound`] when there is no such message.
    async fn get_notification(&self, id: Uuid) -> StoreResult<NotificationRecord>;
    /// Messages newest first: one user's (or everybody's), older than the message `before`
    /// when given, at most `limit`.
    async fn list_notifications(
        &self,
        user: Option<Uuid>,
        before: Option<Uuid>,
        limit: u32,
    ) -> StoreResult<Vec<NotificationRecord>>;
    /// Pending messages due at `now`, the longest waiting first, at most `limit`.
    async fn due_notifications(
        &self,
        now: OffsetDateTime,
        limit: u32,
    ) -> StoreResult<Vec<NotificationRecord>>;
    /// When the next pending message is due, if any.
    async fn next_notification_due(&self) -> StoreResult<Option<OffsetDateTime>>;
    /// Records an attempt, only while the message is still pending with `attempts_before`
    /// attempts (so two processes never both record one); returns whether it was recorded.
    async fn record_delivery(
        &self,
        id: Uuid,
        attempts_before: u32,
        update: &DeliveryUpdate,
    ) -> StoreResult<bool>;

    /// The webhook, if one is configured.
    async fn get_webhook(&self) -> StoreResult<Option<WebhookRecord>>;
    /// Sets the webhook's URL, with its signing secret when given (else the stored one is
    /// kept), or removes both (`None`), in one transaction.
    async fn set_webhook(
        &self,
        webhook: Option<&WebhookRecord>,
        secret: Option<&SecretWrite>,
    ) -> StoreResult<()>;
}
