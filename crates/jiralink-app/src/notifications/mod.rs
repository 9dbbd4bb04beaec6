//! Notifications people act on: users subscribe to topics (a connection going offline, a
//! run failing, …), for every subject or one, by e-mail or through the installation's
//! webhook.
//!
//! What is watched reports its state with [`App::record_state`]; the store keeps the last
//! known state per (topic, subject) and only a change (ok → trouble, trouble → ok) becomes a
//! notification, however often the same state is reported (a connection failing a thousand
//! calls is told once). Each change waits `notifications.digest_window` for others to the
//! same recipient; more than `notifications.digest_after` of them go out as one digest. The
//! `notifications.dispatch` job ([`dispatch`]) composes and sends them, retrying failed
//! deliveries with exponential backoff, and keeps every message as history.

mod channels;
mod dispatch;
mod watch;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use jiralink_store::{
    EventRecord, NotificationRecord, StateReport, StoreError, SubscriptionRecord,
};

use crate::{Actor, App, AppError, AppResult};

pub use channels::{SIGNATURE_HEADER, SigningSecret, signature};
pub use dispatch::{DISPATCH_JOB, DispatchReport};
pub use watch::{CLIENT_SECRET_MAX_AGE, REFRESH_TOKEN_WARNING_AGE};

/// What a subscription is about. Each topic has one "trouble" state and its "ok" state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Topic {
    /// A connection went offline (trouble) or came back online (ok).
    #[serde(rename = "connection.offline")]
    ConnectionOffline,
    /// A run of an export, import or flow failed or finished with failed records (trouble),
    /// or a later run finished cleanly (ok).
    #[serde(rename = "run.failed")]
    RunFailed,
    /// A listener fell behind with the events it receives (trouble), or caught up (ok).
    #[serde(rename = "listener.behind")]
    ListenerBehind,
    /// A listener's webhooks registered with Jira are about to expire (trouble), or were
    /// renewed (ok).
    #[serde(rename = "listener.webhooks_expiring")]
    ListenerWebhooksExpiring,
    /// An OAuth 2.0 connection's refresh token nears the end of Atlassian's 90 days of
    /// inactivity (trouble), or was used again (ok).
    #[serde(rename = "oauth.refresh_token_expiring")]
    RefreshTokenExpiring,
    /// An OAuth 2.0 client's secret is older than a year and due for rotation (trouble), or
    /// was replaced (ok).
    #[serde(rename = "oauth_client.secret_old")]
    ClientSecretOld,
}

impl Topic {
    pub const ALL: [Topic; 6] = [
        Self::ConnectionOffline,
        Self::RunFailed,
        Self::ListenerBehind,
        Self::ListenerWebhooksExpiring,
        Self::RefreshTokenExpiring,
        Self::ClientSecretOld,
    ];

    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ConnectionOffline => "connection.offline",
            Self::RunFailed => "run.failed",
            Self::ListenerBehind => "listener.behind",
            Self::ListenerWebhooksExpiring => "listener.webhooks_expiring",
            Self::RefreshTokenExpiring => "oauth.refresh_token_expiring",
            Self::ClientSecretOld => "oauth_client.secret_old",
        }
    }

    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == s.trim())
    }

    /// What kinds of subject the topic is about, for subscriptions narrowed to one.
    #[must_use]
    pub fn subject_kinds(self) -> &'static [SubjectKind] {
        match self {
            Self::ConnectionOffline | Self::RefreshTokenExpiring => &[SubjectKind::Connection],
            Self::RunFailed => &[SubjectKind::Export, SubjectKind::Import, SubjectKind::Flow],
            Self::ListenerBehind | Self::ListenerWebhooksExpiring => &[SubjectKind::Listener],
            Self::ClientSecretOld => &[SubjectKind::OauthClient],
        }
    }

    /// In words, for the subscription list.
    #[must_use]
    pub fn description(self) -> &'static str {
        match self {
            Self::ConnectionOffline => "a connection goes offline or comes back online",
            Self::RunFailed => {
                "a run of an export, import or flow fails or has failed records, and when runs \
                 work again"
            }
            Self::ListenerBehind => "a listener falls behind, and when it catches up",
            Self::ListenerWebhooksExpiring => "a listener's webhooks are about to expire",
            Self::RefreshTokenExpiring => {
                "an OAuth 2.0 connection's refresh token nears Atlassian's 90 days of inactivity"
            }
            Self::ClientSecretOld => "an OAuth 2.0 client's secret is due for rotation",
        }
    }

    /// The message's headline for a change of `name` to `trouble` (or back).
    fn headline(self, name: &str, trouble: bool) -> String {
        match (self, trouble) {
            (Self::ConnectionOffline, true) => format!("Connection {name} is offline"),
            (Self::ConnectionOffline, false) => format!("Connection {name} is back online"),
            (Self::RunFailed, true) => format!("{name}: the last run failed"),
            (Self::RunFailed, false) => format!("{name}: runs work again"),
            (Self::ListenerBehind, true) => format!("Listener {name} is falling behind"),
            (Self::ListenerBehind, false) => format!("Listener {name} caught up"),
            (Self::ListenerWebhooksExpiring, true) => {
                format!("Listener {name}: its webhooks expire soon")
            }
            (Self::ListenerWebhooksExpiring, false) => {
                format!("Listener {name}: its webhooks were renewed")
            }
            (Self::RefreshTokenExpiring, true) => {
                format!("Connection {name} must be used or authorized again soon")
            }
            (Self::RefreshTokenExpiring, false) => {
                format!("Connection {name}: its refresh token is in use again")
            }
            (Self::ClientSecretOld, true) => {
                format!("OAuth 2.0 client {name}: rotate its secret")
            }
            (Self::ClientSecretOld, false) => format!("OAuth 2.0 client {name}: secret rotated"),
        }
    }
}

/// The kind of thing a state is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SubjectKind {
    Connection,
    Export,
    Import,
    Flow,
    Listener,
    OauthClient,
}

impl SubjectKind {
    pub const ALL: [SubjectKind; 6] = [
        Self::Connection,
        Self::Export,
        Self::Import,
        Self::Flow,
        Self::Listener,
        Self::OauthClient,
    ];

    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Connection => "connection",
            Self::Export => "export",
            Self::Import => "import",
            Self::Flow => "flow",
            Self::Listener => "listener",
            Self::OauthClient => "oauth_client",
        }
    }

    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s.trim())
    }
}

/// What a state is about: its kind, id and (for messages) its name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject {
    pub kind: SubjectKind,
    pub id: Uuid,
    pub name: String,
}

/// A reported state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HealthState {
    Ok,
    Trouble { detail: String },
}

impl HealthState {
    fn as_str(&self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Trouble { .. } => "trouble",
        }
    }

    fn detail(&self) -> Option<&str> {
        match self {
            Self::Ok => None,
            Self::Trouble { detail } => Some(detail),
        }
    }
}

/// How a message reaches its recipient.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// To the subscription's e-mail address, through `notifications.smtp`.
    Email,
    /// To the webhook an administrator set.
    Webhook,
}

impl Channel {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Email => "email",
            Self::Webhook => "webhook",
        }
    }

    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim() {
            "email" => Some(Self::Email),
            "webhook" => Some(Self::Webhook),
            _ => None,
        }
    }
}

/// A subscription as asked for.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SubscriptionDraft {
    /// A topic name, e.g. `connection.offline`.
    pub topic: String,
    /// Narrows it to one subject: its kind (`connection`, `export`, …; optional when the
    /// topic has one kind) …
    #[serde(default)]
    pub subject_kind: Option<String>,
    /// … and its id or name.
    #[serde(default)]
    pub subject: Option<String>,
    /// `email` or `webhook`.
    pub channel: String,
    /// The e-mail address (e-mail only).
    #[serde(default)]
    pub address: Option<String>,
}

/// A subscription as shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SubscriptionView {
    pub id: Uuid,
    pub user: String,
    pub topic: String,
    /// `None` for every subject of the topic.
    pub subject_kind: Option<String>,
    pub subject_id: Option<String>,
    /// The subject's name now, when it still exists.
    pub subject_name: Option<String>,
    pub channel: String,
    pub address: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// One change of state a message tells.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventView {
    pub topic: String,
    pub subject_kind: String,
    pub subject_id: String,
    pub subject_name: String,
    /// `ok` or `trouble`.
    pub state: String,
    pub detail: Option<String>,
    /// The page that explains and fixes it.
    pub link: String,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// The message's headline for this change.
    pub title: String,
}

/// A message, sent or not.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NotificationView {
    pub id: Uuid,
    pub user: String,
    pub channel: String,
    pub address: Option<String>,
    pub title: String,
    pub body: String,
    pub events: Vec<EventView>,
    /// `pending`, `sent` or `failed`.
    pub state: String,
    pub attempts: u32,
    pub last_error: Option<String>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub next_attempt_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub sent_at: Option<OffsetDateTime>,
}

/// The channels and how they are set up (no secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ChannelsView {
    /// `None` when `notifications.smtp.host` is not set.
    pub email: Option<EmailChannelView>,
    /// `None` until an administrator sets one.
    pub webhook: Option<WebhookView>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EmailChannelView {
    pub host: String,
    pub port: u16,
    pub tls: String,
    pub from: String,
    pub username: Option<String>,
    pub password_set: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WebhookView {
    pub url: String,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    /// Whether a signing secret is stored (it is never shown again).
    pub secret_set: bool,
}

/// The webhook as set, with its new signing secret when one was generated.
#[derive(Debug)]
pub struct SavedWebhook {
    pub webhook: WebhookView,
    /// Shown once: receivers check `X-Jiralink-Signature` with it.
    pub secret: Option<SigningSecret>,
}

/// The most messages one page of history holds.
pub const MAX_HISTORY_PAGE: u32 = 200;

impl App {
    /// Records the state of `subject` for `topic`, and when it differs from the last one
    /// recorded (a subject never seen counts as ok), queues a notification for every
    /// subscriber. `link_path` is the path (below `server.base_url`) of the page that explains
    /// and fixes it. Returns whether the state changed. Reporting the same state again is
    /// cheap and changes nothing, so callers report on every outcome, not only on changes.
    pub(crate) async fn record_state(
        &self,
        topic: Topic,
        subject: &Subject,
        state: HealthState,
        link_path: &str,
    ) -> AppResult<bool> {
        let now = self.now();
        let link = self.link(link_path);
        let subject_id = subject.id.to_string();
        let subscriptions = self
            .store()
            .subscriptions_for(topic.as_str(), subject.kind.as_str(), &subject_id)
            .await?;
        // One event per recipient: two users subscribed through the webhook (or to one
        // address) get one message there.
        let mut seen = std::collections::HashSet::new();
        let events: Vec<EventRecord> = subscriptions
            .into_iter()
            .filter(|s| seen.insert((s.channel.clone(), s.address.clone())))
            .map(|s| EventRecord {
                id: Uuid::new_v4(),
                user_id: s.user_id,
                channel: s.channel,
                address: s.address,
                topic: topic.as_str().to_owned(),
                subject_kind: subject.kind.as_str().to_owned(),
                subject_id: subject_id.clone(),
                subject_name: subject.name.clone(),
                state: state.as_str().to_owned(),
                detail: state.detail().map(str::to_owned),
                link: link.clone(),
                at: now,
            })
            .collect();
        let changed = self
            .store()
            .record_state(
                &StateReport {
                    topic: topic.as_str(),
                    subject_kind: subject.kind.as_str(),
                    subject_id: &subject_id,
                    state: state.as_str(),
                    detail: state.detail(),
                    at: now,
                },
                &events,
            )
            .await?
            .is_some();
        if changed {
            tracing::info!(
                topic = topic.as_str(),
                subject = %subject.id,
                state = state.as_str(),
                recipients = events.len(),
                "state changed"
            );
            if !events.is_empty() {
                self.dispatch_soon(now + self.digest_window()).await;
            }
        }
        Ok(changed)
    }

    /// Reports a failure of record_state without failing what reported it: a notification
    /// that cannot be queued must not turn a run or a test into an error.
    pub(crate) async fn report_state(
        &self,
        topic: Topic,
        subject: &Subject,
        state: HealthState,
        link_path: &str,
    ) {
        if let Err(e) = self.record_state(topic, subject, state, link_path).await {
            tracing::warn!(topic = topic.as_str(), subject = %subject.id, error = %e, "a change of state could not be recorded for notifications");
        }
    }

    /// `server.base_url` joined with `path`.
    fn link(&self, path: &str) -> String {
        let base = self.config().server.base_url.as_str().trim_end_matches('/');
        format!("{base}/{}", path.trim_start_matches('/'))
    }

    fn digest_window(&self) -> time::Duration {
        time::Duration::try_from(self.config().notifications.digest_window.get())
            .unwrap_or(time::Duration::minutes(1))
    }

    /// Subscribes `user` (a name or id) to a topic.
    pub async fn subscribe(
        &self,
        user: &str,
        draft: SubscriptionDraft,
    ) -> AppResult<SubscriptionView> {
        let user = self.find_user(user).await?;
        let topic = Topic::parse(&draft.topic).ok_or_else(|| {
            AppError::InvalidInput(format!(
                "topic: one of {}",
                Topic::ALL.map(Topic::as_str).join(", ")
            ))
        })?;
        let channel = Channel::parse(&draft.channel)
            .ok_or_else(|| AppError::InvalidInput("channel: `email` or `webhook`".to_owned()))?;
        let address = match channel {
            Channel::Email => {
                let address = draft.address.as_deref().map(str::trim).unwrap_or_default();
                if address.parse::<lettre::Address>().is_err() {
                    return Err(AppError::InvalidInput(
                        "address: the e-mail address to send to, e.g. ops@example.com".to_owned(),
                    ));
                }
                address.to_owned()
            }
            Channel::Webhook => {
                if draft
                    .address
                    .as_deref()
                    .is_some_and(|a| !a.trim().is_empty())
                {
                    return Err(AppError::InvalidInput(
                        "address: only e-mail subscriptions have one; the webhook's URL is set \
                         by an administrator"
                            .to_owned(),
                    ));
                }
                String::new()
            }
        };
        let (subject_kind, subject_id) = match draft.subject.as_deref().map(str::trim) {
            None | Some("") => (String::new(), String::new()),
            Some(reference) => {
                let kind = match draft.subject_kind.as_deref().map(str::trim) {
                    Some(k) if !k.is_empty() => SubjectKind::parse(k)
                        .filter(|k| topic.subject_kinds().contains(k))
                        .ok_or_else(|| {
                            AppError::InvalidInput(format!(
                                "subjectKind: for {} one of {}",
                                topic.as_str(),
                                topic
                                    .subject_kinds()
                                    .iter()
                                    .map(|k| k.as_str())
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            ))
                        })?,
                    _ => match topic.subject_kinds() {
                        [only] => *only,
                        _ => {
                            return Err(AppError::InvalidInput(format!(
                                "subjectKind: {} is about several kinds of subject; name one",
                                topic.as_str()
                            )));
                        }
                    },
                };
                let id = self.subject_id(kind, reference).await?;
                (kind.as_str().to_owned(), id.to_string())
            }
        };
        let record = SubscriptionRecord {
            id: Uuid::new_v4(),
            user_id: user.id,
            topic: topic.as_str().to_owned(),
            subject_kind,
            subject_id,
            channel: channel.as_str().to_owned(),
            address,
            created_at: self.now(),
        };
        self.store()
            .insert_subscription(&record)
            .await
            .map_err(|e| match e {
                StoreError::Conflict { .. } => AppError::SubscriptionExists,
                other => other.into(),
            })?;
        self.subscription_view(&record, &user.username).await
    }

    /// The id of the subject named by `reference` (an id or a name).
    async fn subject_id(&self, kind: SubjectKind, reference: &str) -> AppResult<Uuid> {
        Ok(match kind {
            SubjectKind::Connection => self.find_connection(reference).await?.id.0,
            SubjectKind::Export => self.find_export(reference).await?.id,
            SubjectKind::Import => self.find_import(reference).await?.id,
            SubjectKind::Flow => self.find_flow(reference).await?.id,
            SubjectKind::OauthClient => self.find_oauth_client(reference).await?.id.0,
            SubjectKind::Listener => self.find_listener(reference).await?.id,
        })
    }

    /// The subject's name now, if it still exists.
    async fn subject_name(&self, kind: &str, id: &str) -> Option<String> {
        let kind = SubjectKind::parse(kind)?;
        match kind {
            SubjectKind::Connection => self
                .find_connection(id)
                .await
                .ok()
                .map(|c| c.settings.name.as_str().to_owned()),
            SubjectKind::Export => self.find_export(id).await.ok().map(|e| e.name),
            SubjectKind::Import => self.find_import(id).await.ok().map(|i| i.name),
            SubjectKind::Flow => self.find_flow(id).await.ok().map(|f| f.name),
            SubjectKind::OauthClient => self
                .find_oauth_client(id)
                .await
                .ok()
                .map(|c| c.settings.name.as_str().to_owned()),
            SubjectKind::Listener => self.find_listener(id).await.ok().map(|l| l.name),
        }
    }

    async fn subscription_view(
        &self,
        s: &SubscriptionRecord,
        username: &str,
    ) -> AppResult<SubscriptionView> {
        let narrowed = !s.subject_id.is_empty();
        Ok(SubscriptionView {
            id: s.id,
            user: username.to_owned(),
            topic: s.topic.clone(),
            subject_kind: narrowed.then(|| s.subject_kind.clone()),
            subject_id: narrowed.then(|| s.subject_id.clone()),
            subject_name: if narrowed {
                self.subject_name(&s.subject_kind, &s.subject_id).await
            } else {
                None
            },
            channel: s.channel.clone(),
            address: (!s.address.is_empty()).then(|| s.address.clone()),
            created_at: s.created_at,
        })
    }

    /// One user's subscriptions, or everybody's (`None`).
    pub async fn list_subscriptions(&self, user: Option<&str>) -> AppResult<Vec<SubscriptionView>> {
        let names = self.usernames().await?;
        let user_id = match user {
            Some(u) => Some(self.find_user(u).await?.id),
            None => None,
        };
        let mut views = Vec::new();
        for s in self.store().list_subscriptions(user_id).await? {
            let name = names.get(&s.user_id).cloned().unwrap_or_default();
            views.push(self.subscription_view(&s, &name).await?);
        }
        Ok(views)
    }

    /// Deletes one of `user`'s subscriptions.
    pub async fn unsubscribe(&self, user: &str, id: &str) -> AppResult<()> {
        let user = self.find_user(user).await?;
        let id: Uuid = id
            .trim()
            .parse()
            .map_err(|_| AppError::SubscriptionNotFound)?;
        self.store()
            .delete_subscription(id, user.id)
            .await
            .map_err(|e| match e {
                StoreError::NotFound { .. } => AppError::SubscriptionNotFound,
                other => other.into(),
            })
    }

    async fn usernames(&self) -> AppResult<std::collections::HashMap<Uuid, String>> {
        Ok(self
            .list_users()
            .await?
            .into_iter()
            .map(|u| (u.id, u.username))
            .collect())
    }

    /// Messages newest first: one user's (or everybody's), older than `before` (a message's
    /// id, from the previous page), at most `limit` (1 to [`MAX_HISTORY_PAGE`]).
    pub async fn list_notifications(
        &self,
        user: Option<&str>,
        before: Option<&str>,
        limit: u32,
    ) -> AppResult<Vec<NotificationView>> {
        if !(1..=MAX_HISTORY_PAGE).contains(&limit) {
            return Err(AppError::InvalidInput(format!(
                "limit: a number from 1 to {MAX_HISTORY_PAGE}"
            )));
        }
        let user_id = match user {
            Some(u) => Some(self.find_user(u).await?.id),
            None => None,
        };
        let before = match before.map(str::trim).filter(|b| !b.is_empty()) {
            Some(b) => Some(
                b.parse::<Uuid>()
                    .map_err(|_| AppError::NotificationNotFound)?,
            ),
            None => None,
        };
        let names = self.usernames().await?;
        let records = self
            .store()
            .list_notifications(user_id, before, limit)
            .await
            .map_err(|e| match e {
                StoreError::NotFound { .. } => AppError::NotificationNotFound,
                other => other.into(),
            })?;
        Ok(records
            .iter()
            .map(|n| notification_view(n, &names))
            .collect())
    }

    /// One message.
    pub async fn get_notification(&self, id: &str) -> AppResult<NotificationView> {
        let id: Uuid = id
            .trim()
            .parse()
            .map_err(|_| AppError::NotificationNotFound)?;
        let record = self
            .store()
            .get_notification(id)
            .await
            .map_err(|e| match e {
                StoreError::NotFound { .. } => AppError::NotificationNotFound,
                other => other.into(),
            })?;
        Ok(notification_view(&record, &self.usernames().await?))
    }

    /// The channels and how they are set up. The webhook's URL is shown whole only to
    /// those who may change the channels (`may_manage`: administrators, the server's key, the
    /// CLI on the data directory); others see its origin only, since chat tools put their
    /// credential in the path.
    pub async fn notification_channels(&self, may_manage: bool) -> AppResult<ChannelsView> {
        let smtp = &self.config().notifications.smtp;
        let email = smtp.host.as_ref().map(|host| EmailChannelView {
            host: host.clone(),
            port: smtp.port(),
            tls: smtp.tls.as_str().to_owned(),
            from: smtp.from.clone().unwrap_or_default(),
            username: smtp.username.clone(),
            password_set: smtp.password_file.is_some(),
        });
        let mut webhook = self.webhook_view().await?;
        if !may_manage && let Some(w) = webhook.as_mut() {
            w.url = channels::origin_only(&w.url);
        }
        Ok(ChannelsView { email, webhook })
    }

    async fn webhook_view(&self) -> AppResult<Option<WebhookView>> {
        let Some(hook) = self.store().get_webhook().await? else {
            return Ok(None);
        };
        let secret_set = self
            .store()
            .get_secret(
                jiralink_store::SecretOwner::NotificationWebhook,
                jiralink_store::SecretField::SigningSecret,
            )
            .await?
            .is_some();
        Ok(Some(WebhookView {
            url: hook.url,
            updated_at: hook.updated_at,
            secret_set,
        }))
    }

    /// Sets the webhook's URL. A signing secret is generated when there is none yet or
    /// `new_secret` asks for one, and returned that once.
    pub async fn set_notification_webhook(
        &self,
        url: &str,
        new_secret: bool,
        actor: &Actor,
    ) -> AppResult<SavedWebhook> {
        let url = channels::parse_webhook_url(url)?;
        let had_secret = self.webhook_view().await?.is_some_and(|w| w.secret_set);
        let secret = (new_secret || !had_secret).then(SigningSecret::generate);
        let sealed = secret
            .as_ref()
            .map(|s| {
                self.seal_secret(
                    jiralink_store::SecretOwner::NotificationWebhook,
                    jiralink_store::SecretField::SigningSecret,
                    s.expose(),
                )
            })
            .transpose()?;
        let now = self.now();
        self.store()
            .set_webhook(
                Some(&jiralink_store::WebhookRecord {
                    url: url.to_string(),
                    updated_at: now,
                }),
                sealed.as_ref(),
            )
            .await?;
        tracing::info!(actor = %actor.name, new_secret = secret.is_some(), "notification webhook set");
        let webhook = self
            .webhook_view()
            .await?
            .ok_or(AppError::ChannelNotConfigured { channel: "webhook" })?;
        Ok(SavedWebhook { webhook, secret })
    }

    /// Removes the webhook and its secret; webhook subscriptions stay, and their messages
    /// fail until a webhook is set again.
    pub async fn remove_notification_webhook(&self, actor: &Actor) -> AppResult<bool> {
        let had = self.store().get_webhook().await?.is_some();
        self.store().set_webhook(None, None).await?;
        tracing::info!(actor = %actor.name, "notification webhook removed");
        Ok(had)
    }

    /// Sends a test message to `user` through `channel` (to `address` for e-mail) now, and
    /// returns it as recorded: sent, or pending with the error of its first attempt.
    pub async fn send_test_notification(
        &self,
        user: &str,
        channel: Channel,
        address: Option<&str>,
    ) -> AppResult<NotificationView> {
        let user = self.find_user(user).await?;
        let address = match channel {
            Channel::Email => {
                let a = address.map(str::trim).unwrap_or_default();
                if a.parse::<lettre::Address>().is_err() {
                    return Err(AppError::InvalidInput(
                        "address: the e-mail address to send the test to".to_owned(),
                    ));
                }
                a.to_owned()
            }
            Channel::Webhook => String::new(),
        };
        self.check_channel(channel).await?;
        let now = self.now();
        let link = self.link("/notifications");
        let record = NotificationRecord {
            id: Uuid::new_v4(),
            user_id: user.id,
            channel: channel.as_str().to_owned(),
            address,
            title: "jiralink test notification".to_owned(),
            body: format!(
                "This is a test of jiralink's {} notifications, asked for by {}.\n\nNotifications: {link}\n",
                channel.as_str(),
                user.username
            ),
            events: serde_json::json!([]),
            state: "pending".to_owned(),
            attempts: 0,
            last_error: None,
            next_attempt_at: Some(now),
            created_at: now,
            sent_at: None,
        };
        self.store().insert_notification(&record).await?;
        self.deliver(&record).await?;
        self.get_notification(&record.id.to_string()).await
    }

    /// `channel_not_configured` when a channel cannot send.
    async fn check_channel(&self, channel: Channel) -> AppResult<()> {
        let ready = match channel {
            Channel::Email => self.config().notifications.smtp.host.is_some(),
            Channel::Webhook => self.store().get_webhook().await?.is_some(),
        };
        if ready {
            Ok(())
        } else {
            Err(AppError::ChannelNotConfigured {
                channel: channel.as_str(),
            })
        }
    }
}

fn notification_view(
    n: &NotificationRecord,
    names: &std::collections::HashMap<Uuid, String>,
) -> NotificationView {
    NotificationView {
        id: n.id,
        user: names.get(&n.user_id).cloned().unwrap_or_default(),
        channel: n.channel.clone(),
        address: (!n.address.is_empty()).then(|| n.address.clone()),
        title: n.title.clone(),
        body: n.body.clone(),
        events: serde_json::from_value(n.events.clone()).unwrap_or_default(),
        state: n.state.clone(),
        attempts: n.attempts,
        last_error: n.last_error.clone(),
        next_attempt_at: n.next_attempt_at,
        created_at: n.created_at,
        sent_at: n.sent_at,
    }
}
