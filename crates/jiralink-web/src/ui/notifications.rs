//! The Notifications page: the signed-in user's history and subscriptions (subscribe,
//! unsubscribe, send a test), and for administrators the channels (the webhook's URL and
//! its signing secret, shown once; the SMTP settings read from the configuration).

use askama::Template;
use axum::extract::{Path, State};
use axum::http::{Method, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use axum_extra::extract::Form;
use jiralink_app::{
    Actor, AppError, Channel, ChannelsView, NotificationView, SubscriptionDraft, SubscriptionView,
    Topic, format_time,
};
use jiralink_domain::AuditSource;
use serde::Deserialize;

use super::{
    Flash, Page, RouteTable, app_error_page, redirect_with_notice, render, render_with_status,
    user_message,
};
use crate::AppState;
use crate::session::CurrentUser;

pub(crate) fn table() -> RouteTable {
    vec![
        (Method::GET, "/notifications", get(show)),
        (
            Method::POST,
            "/notifications/subscriptions",
            post(subscribe),
        ),
        (
            Method::POST,
            "/notifications/subscriptions/{id}/delete",
            post(unsubscribe),
        ),
        (Method::POST, "/notifications/test", post(send_test)),
        (Method::POST, "/notifications/webhook", post(set_webhook)),
        (
            Method::POST,
            "/notifications/webhook/delete",
            post(remove_webhook),
        ),
    ]
}

super::page_deref!(NotificationsPage);

/// Messages the page lists.
const HISTORY: u32 = 50;

struct HistoryRow {
    id: String,
    created: String,
    channel: String,
    address: String,
    title: String,
    state: String,
    badge: &'static str,
    attempts: u32,
    last_error: Option<String>,
    links: Vec<(String, String)>,
}

impl HistoryRow {
    fn of(n: &NotificationView) -> Self {
        let badge = match n.state.as_str() {
            "sent" => "badge-online",
            "failed" => "badge-offline",
            _ => "badge-neutral",
        };
        Self {
            id: n.id.to_string(),
            created: format_time(n.created_at),
            channel: n.channel.clone(),
            address: n.address.clone().unwrap_or_else(|| "webhook".to_owned()),
            title: n.title.clone(),
            state: n.state.clone(),
            badge,
            attempts: n.attempts,
            last_error: n.last_error.clone(),
            links: n
                .events
                .iter()
                .map(|e| (e.subject_name.clone(), e.link.clone()))
                .collect(),
        }
    }
}

struct SubscriptionRow {
    id: String,
    topic: String,
    subject: String,
    channel: String,
    address: String,
}

impl SubscriptionRow {
    fn of(s: &SubscriptionView) -> Self {
        let subject = match (&s.subject_kind, &s.subject_name, &s.subject_id) {
            (None, _, _) => "every one".to_owned(),
            (Some(kind), Some(name), _) => format!("{kind} {name}"),
            (Some(kind), None, id) => format!("{kind} {}", id.as_deref().unwrap_or("")),
        };
        Self {
            id: s.id.to_string(),
            topic: s.topic.clone(),
            subject,
            channel: s.channel.clone(),
            address: s.address.clone().unwrap_or_default(),
        }
    }
}

struct TopicChoice {
    name: &'static str,
    description: &'static str,
}

#[derive(Template)]
#[template(path = "notifications/page.html")]
struct NotificationsPage {
    page: Page,
    history: Vec<HistoryRow>,
    subscriptions: Vec<SubscriptionRow>,
    topics: Vec<TopicChoice>,
    channels: ChannelsView,
    /// The webhook's signing secret, right after it was generated (shown this once).
    new_secret: Option<String>,
    /// Why the last form was not accepted.
    problem: Option<String>,
}

async fn page_of(
    state: &AppState,
    user: &CurrentUser,
    page: Page,
) -> Result<NotificationsPage, AppError> {
    let app = state.app();
    let history = app
        .list_notifications(Some(&user.username), None, HISTORY)
        .await?
        .iter()
        .map(HistoryRow::of)
        .collect();
    let subscriptions = app
        .list_subscriptions(Some(&user.username))
        .await?
        .iter()
        .map(SubscriptionRow::of)
        .collect();
    Ok(NotificationsPage {
        page,
        history,
        subscriptions,
        topics: Topic::ALL
            .iter()
            .map(|t| TopicChoice {
                name: t.as_str(),
                description: t.description(),
            })
            .collect(),
        channels: app.notification_channels(user.is_admin).await?,
        new_secret: None,
        problem: None,
    })
}

async fn show(State(state): State<AppState>, user: CurrentUser, flash: Flash) -> Response {
    let page = Page::new(&user, flash);
    match page_of(&state, &user, page.clone()).await {
        Ok(p) => render(&p),
        Err(e) => app_error_page(page, &e),
    }
}

/// The page again with a problem, answered with `status`.
async fn with_problem(
    state: &AppState,
    user: &CurrentUser,
    status: StatusCode,
    problem: String,
) -> Response {
    let page = Page::new(user, Flash::default());
    match page_of(state, user, page.clone()).await {
        Ok(mut p) => {
            p.problem = Some(problem);
            render_with_status(status, &p)
        }
        Err(e) => app_error_page(page, &e),
    }
}

fn status_of(e: &AppError) -> StatusCode {
    match e {
        AppError::InvalidInput(_) => StatusCode::UNPROCESSABLE_ENTITY,
        other => crate::error::app_status(other),
    }
}

#[derive(Debug, Deserialize, Default)]
#[serde(default)]
struct SubscribeForm {
    topic: String,
    subject_kind: String,
    subject: String,
    channel: String,
    address: String,
}

async fn subscribe(
    State(state): State<AppState>,
    user: CurrentUser,
    Form(form): Form<SubscribeForm>,
) -> Response {
    let opt = |s: String| Some(s.trim().to_owned()).filter(|s| !s.is_empty());
    let draft = SubscriptionDraft {
        topic: form.topic,
        subject_kind: opt(form.subject_kind),
        subject: opt(form.subject),
        channel: form.channel,
        address: opt(form.address),
    };
    match state.app().subscribe(&user.username, draft).await {
        Ok(s) => redirect_with_notice(
            &state,
            "/notifications",
            &format!("Subscribed to {} by {}.", s.topic, s.channel),
        ),
        Err(e) => with_problem(&state, &user, status_of(&e), user_message(&e)).await,
    }
}

async fn unsubscribe(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> Response {
    match state.app().unsubscribe(&user.username, &id).await {
        Ok(()) => redirect_with_notice(&state, "/notifications", "Unsubscribed."),
        Err(e) => with_problem(&state, &user, status_of(&e), user_message(&e)).await,
    }
}

#[derive(Debug, Deserialize, Default)]
#[serde(default)]
struct TestForm {
    channel: String,
    address: String,
}

async fn send_test(
    State(state): State<AppState>,
    user: CurrentUser,
    Form(form): Form<TestForm>,
) -> Response {
    let Some(channel) = Channel::parse(&form.channel) else {
        return with_problem(
            &state,
            &user,
            StatusCode::UNPROCESSABLE_ENTITY,
            "Choose e-mail or the webhook.".to_owned(),
        )
        .await;
    };
    let address = Some(form.address.trim()).filter(|a| !a.is_empty());
    match state
        .app()
        .send_test_notification(&user.username, channel, address)
        .await
    {
        Ok(n) if n.state == "sent" => {
            redirect_with_notice(&state, "/notifications", "The test notification was sent.")
        }
        Ok(n) => redirect_with_notice(
            &state,
            "/notifications",
            &format!(
                "The test notification could not be sent yet ({}); it will be tried again.",
                n.last_error.unwrap_or_default()
            ),
        ),
        Err(e) => with_problem(&state, &user, status_of(&e), user_message(&e)).await,
    }
}

fn actor_of(user: &CurrentUser) -> Actor {
    Actor {
        name: user.username.clone(),
        source: AuditSource::Ui,
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct WebhookForm {
    url: String,
    new_secret: Option<String>,
}

// The signing secret typed into the form never shows where the form is formatted.
impl std::fmt::Debug for WebhookForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookForm")
            .field("url", &self.url)
            .field(
                "new_secret",
                &self.new_secret.as_ref().map(|_| "[redacted]"),
            )
            .finish()
    }
}

async fn set_webhook(
    State(state): State<AppState>,
    user: CurrentUser,
    Form(form): Form<WebhookForm>,
) -> Response {
    if !user.is_admin {
        return with_problem(
            &state,
            &user,
            StatusCode::FORBIDDEN,
            "Only administrators change the notification channels.".to_owned(),
        )
        .await;
    }
    match state
        .app()
        .set_notification_webhook(&form.url, form.new_secret.is_some(), &actor_of(&user))
        .await
    {
        // The secret is shown on this answer only: never in a redirect's cookie.
        Ok(saved) => {
            let mut page = Page::new(&user, Flash::default());
            page.notices.push("The webhook was saved.".to_owned());
            match page_of(&state, &user, page.clone()).await {
                Ok(mut p) => {
                    p.new_secret = saved.secret.as_ref().map(|s| s.expose().to_owned());
                    render(&p)
                }
                Err(e) => app_error_page(page, &e),
            }
        }
        Err(e) => with_problem(&state, &user, status_of(&e), user_message(&e)).await,
    }
}

async fn remove_webhook(State(state): State<AppState>, user: CurrentUser) -> Response {
    if !user.is_admin {
        return with_problem(
            &state,
            &user,
            StatusCode::FORBIDDEN,
            "Only administrators change the notification channels.".to_owned(),
        )
        .await;
    }
    match state
        .app()
        .remove_notification_webhook(&actor_of(&user))
        .await
    {
        Ok(_) => redirect_with_notice(&state, "/notifications", "The webhook was removed."),
        Err(e) => with_problem(&state, &user, status_of(&e), user_message(&e)).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_webhook_form_formatted_shows_no_new_secret() {
        let form = WebhookForm {
            url: "https://hooks.example/jiralink".to_owned(),
            new_secret: Some("CANARY-webhook-secret-7a8b9c0d1e".to_owned()),
        };
        let shown = format!("{form:?} {form:#?}");
        assert!(shown.contains("hooks.example"), "{shown}");
        assert!(shown.contains("[redacted]"), "{shown}");
        assert!(!shown.contains("CANARY"), "{shown}");
    }
}
