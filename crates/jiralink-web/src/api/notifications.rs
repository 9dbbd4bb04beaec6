//! `/v1/notifications`: the history of messages sent (or being retried, or given up on),
//! subscriptions, the channels, and a test message.
//!
//! A user's API key acts for that user: their subscriptions, their history. An
//! administrator's key, or the server's key, may name another user with `user`; the
//! server's key must name one for anything done on a user's behalf.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use jiralink_app::{Actor, AppError, Channel, MAX_HISTORY_PAGE, SubscriptionDraft};
use serde::{Deserialize, Serialize};

use super::{ApiJson, ApiPath};
use crate::AppState;
use crate::error::{WebError, WebResult};

/// Messages per page unless `limit` says otherwise.
const DEFAULT_HISTORY_PAGE: u32 = 50;

/// Who the request acts for: the key's user, or the user named (administrators and the
/// server's key only). `None` means everybody (the server's key naming nobody).
async fn acting_for(s: &AppState, actor: &Actor, named: Option<&str>) -> WebResult<Option<String>> {
    let named = named.map(str::trim).filter(|n| !n.is_empty());
    let key_user = s.app().find_user(&actor.name).await.ok();
    match (key_user, named) {
        (None, named) => Ok(named.map(str::to_owned)),
        (Some(me), None) => Ok(Some(me.username)),
        (Some(me), Some(other)) => {
            if me.is_admin || me.username.eq_ignore_ascii_case(other) {
                Ok(Some(other.to_owned()))
            } else {
                Err(WebError::Forbidden(
                    "only administrators act for another user".to_owned(),
                ))
            }
        }
    }
}

/// As [`acting_for`], for what needs one user.
async fn one_user(s: &AppState, actor: &Actor, named: Option<&str>) -> WebResult<String> {
    acting_for(s, actor, named).await?.ok_or_else(|| {
        AppError::InvalidInput(
            "user: the server's API key acts for no user; name one with `user`".to_owned(),
        )
        .into()
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct HistoryQuery {
    user: Option<String>,
    /// The id of the last message of the previous page.
    before: Option<String>,
    limit: Option<u32>,
}

pub(super) async fn list_notifications(
    State(s): State<AppState>,
    Extension(actor): Extension<Actor>,
    query: Result<Query<HistoryQuery>, QueryRejection>,
) -> WebResult<Response> {
    let Query(q) = query.map_err(|_| {
        WebError::InvalidQuery(format!(
            "the query parameters are `user`, `before` (a notification's id) and `limit` (1 to \
             {MAX_HISTORY_PAGE})"
        ))
    })?;
    let limit = q.limit.unwrap_or(DEFAULT_HISTORY_PAGE);
    if !(1..=MAX_HISTORY_PAGE).contains(&limit) {
        return Err(WebError::InvalidQuery(format!(
            "`limit` is a number from 1 to {MAX_HISTORY_PAGE}"
        )));
    }
    let user = acting_for(&s, &actor, q.user.as_deref()).await?;
    let page = s
        .app()
        .list_notifications(user.as_deref(), q.before.as_deref(), limit)
        .await?;
    Ok(Json(page).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct UserQuery {
    user: Option<String>,
}

fn user_query(query: Result<Query<UserQuery>, QueryRejection>) -> WebResult<Option<String>> {
    query
        .map(|Query(q)| q.user)
        .map_err(|_| WebError::InvalidQuery("the query parameter is `user`".to_owned()))
}

pub(super) async fn list_subscriptions(
    State(s): State<AppState>,
    Extension(actor): Extension<Actor>,
    query: Result<Query<UserQuery>, QueryRejection>,
) -> WebResult<Response> {
    let named = user_query(query)?;
    let user = acting_for(&s, &actor, named.as_deref()).await?;
    Ok(Json(s.app().list_subscriptions(user.as_deref()).await?).into_response())
}

/// A subscription as sent by a client.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct SubscriptionBody {
    #[serde(default)]
    user: Option<String>,
    #[serde(default)]
    topic: String,
    #[serde(default)]
    subject_kind: Option<String>,
    #[serde(default)]
    subject: Option<String>,
    #[serde(default)]
    channel: String,
    #[serde(default)]
    address: Option<String>,
}

pub(super) async fn create_subscription(
    State(s): State<AppState>,
    Extension(actor): Extension<Actor>,
    ApiJson(body): ApiJson<SubscriptionBody>,
) -> WebResult<Response> {
    let user = one_user(&s, &actor, body.user.as_deref()).await?;
    let draft = SubscriptionDraft {
        topic: body.topic,
        subject_kind: body.subject_kind,
        subject: body.subject,
        channel: body.channel,
        address: body.address,
    };
    let view = s.app().subscribe(&user, draft).await?;
    Ok((StatusCode::CREATED, Json(view)).into_response())
}

pub(super) async fn delete_subscription(
    State(s): State<AppState>,
    Extension(actor): Extension<Actor>,
    ApiPath(id): ApiPath<String>,
    query: Result<Query<UserQuery>, QueryRejection>,
) -> WebResult<Response> {
    let named = user_query(query)?;
    let user = one_user(&s, &actor, named.as_deref()).await?;
    s.app().unsubscribe(&user, &id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub(super) async fn list_topics() -> WebResult<Response> {
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct TopicView {
        name: &'static str,
        description: &'static str,
        subject_kinds: Vec<&'static str>,
    }
    let topics: Vec<TopicView> = jiralink_app::Topic::ALL
        .iter()
        .map(|t| TopicView {
            name: t.as_str(),
            description: t.description(),
            subject_kinds: t.subject_kinds().iter().map(|k| k.as_str()).collect(),
        })
        .collect();
    Ok(Json(topics).into_response())
}

pub(super) async fn get_channels(
    State(s): State<AppState>,
    Extension(actor): Extension<Actor>,
) -> WebResult<Response> {
    let may_manage = match require_admin(&s, &actor).await {
        Ok(()) => true,
        Err(WebError::Forbidden(_)) => false,
        Err(e) => return Err(e),
    };
    Ok(Json(s.app().notification_channels(may_manage).await?).into_response())
}

/// Only administrators (and the server's key) change the channels.
async fn require_admin(s: &AppState, actor: &Actor) -> WebResult<()> {
    match s.app().find_user(&actor.name).await {
        Ok(user) if !user.is_admin => Err(WebError::Forbidden(
            "only administrators change the notification channels".to_owned(),
        )),
        Ok(_) => Ok(()),
        // The server's key acts for no user.
        Err(jiralink_app::AppError::UserNotFound { .. }) => Ok(()),
        // Anything else (the database away) refuses: never allowed by accident.
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct WebhookBody {
    #[serde(default)]
    url: String,
    /// Generates a new signing secret even when one is stored.
    #[serde(default)]
    new_secret: bool,
}

pub(super) async fn set_webhook(
    State(s): State<AppState>,
    Extension(actor): Extension<Actor>,
    ApiJson(body): ApiJson<WebhookBody>,
) -> WebResult<Response> {
    require_admin(&s, &actor).await?;
    let saved = s
        .app()
        .set_notification_webhook(&body.url, body.new_secret, &actor)
        .await?;
    let mut value = serde_json::to_value(&saved.webhook).map_err(|_| WebError::Internal)?;
    if let (Some(obj), Some(secret)) = (value.as_object_mut(), &saved.secret) {
        // Shown this once, so the receiver can check signatures.
        obj.insert("secret".to_owned(), secret.expose().into());
    }
    Ok(Json(value).into_response())
}

pub(super) async fn delete_webhook(
    State(s): State<AppState>,
    Extension(actor): Extension<Actor>,
) -> WebResult<Response> {
    require_admin(&s, &actor).await?;
    if !s.app().remove_notification_webhook(&actor).await? {
        return Err(AppError::ChannelNotConfigured { channel: "webhook" }.into());
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct TestBody {
    #[serde(default)]
    user: Option<String>,
    #[serde(default)]
    channel: String,
    #[serde(default)]
    address: Option<String>,
}

pub(super) async fn send_test(
    State(s): State<AppState>,
    Extension(actor): Extension<Actor>,
    ApiJson(body): ApiJson<TestBody>,
) -> WebResult<Response> {
    let user = one_user(&s, &actor, body.user.as_deref()).await?;
    let channel = Channel::parse(&body.channel).ok_or_else(|| {
        WebError::from(AppError::InvalidInput(
            "channel: `email` or `webhook`".to_owned(),
        ))
    })?;
    let view = s
        .app()
        .send_test_notification(&user, channel, body.address.as_deref())
        .await?;
    Ok((StatusCode::CREATED, Json(view)).into_response())
}
