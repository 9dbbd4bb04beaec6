//! The Notifications page in Chromium: subscribing (to one connection, by the webhook), the
//! webhook set by an administrator with its signing secret shown once, a test message sent to
//! a receiver on 127.0.0.1 and listed in the history, a notification's link leading to the
//! page that fixes it, and unsubscribing. A user who is no administrator sees no webhook form.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::http::StatusCode;
use jiralink_app::{Actor, ConnectionSecrets};
use jiralink_domain::{AuditSource, ConnectionDraft};
use jiralink_store::NotificationRecord;
use jiralink_vault::{ApiToken, Password};
use serde_json::json;

use crate::browser::{Browser, PASSWORD};

fn actor() -> Actor {
    Actor {
        name: "setup".to_owned(),
        source: AuditSource::Cli,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notifications_page_subscribes_sets_the_webhook_and_lists_what_was_sent() {
    let b = Browser::start("notifications").await;
    let app = b.app.clone();
    app.create_user("root", &Password::new(PASSWORD), true, &actor())
        .await
        .unwrap();
    let samples = b.sim.samples().clone();
    let connection = app
        .create_connection(
            &ConnectionDraft {
                name: Some("Sim demo".to_owned()),
                api_type: Some("cloud-platform".to_owned()),
                subdomain: Some("demo".to_owned()),
                auth_type: Some("basic".to_owned()),
                username: Some(samples.email.clone()),
                ..ConnectionDraft::default()
            },
            ConnectionSecrets {
                api_token: Some(ApiToken::new(&samples.api_token)),
            },
            &actor(),
        )
        .await
        .unwrap()
        .value;
    let calls = Arc::new(AtomicUsize::new(0));
    let c = Arc::clone(&calls);
    let receiver = axum::Router::new().route(
        "/hook",
        axum::routing::post(move || {
            let c = Arc::clone(&c);
            async move {
                c.fetch_add(1, Ordering::SeqCst);
                StatusCode::NO_CONTENT
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hook_url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, receiver).await.unwrap() });

    b.goto("/login").await;
    b.sign_in("root", PASSWORD).await;
    b.wait_for("a#new-connection").await;
    b.goto("/notifications").await;
    b.wait_for("#history-empty").await;
    b.wait_for("#subscriptions-empty").await;
    assert!(b.text("#webhook-channel").await.contains("not set"));
    b.shot("empty").await;

    // A subscription to one connection, through the webhook.
    b.select("#topic", "connection.offline").await;
    b.select("#subject_kind", "connection").await;
    b.fill("#subject", "Sim demo").await;
    b.select("#channel", "webhook").await;
    b.click_and_load("#subscribe").await;
    b.wait_text(".notice", "Subscribed to connection.offline")
        .await;
    let row = b.text("#subscriptions-table tbody tr").await;
    assert!(row.contains("connection Sim demo"), "{row}");
    assert!(row.contains("webhook"), "{row}");

    // A subscription the page refuses says why and keeps the rest.
    b.select("#channel", "email").await;
    b.fill("#address", "not an address").await;
    b.click_and_load("#subscribe").await;
    b.wait_text("#problem", "e-mail address").await;
    b.shot("refused").await;

    // The webhook: the secret is shown on the answer, once.
    b.fill("#webhook-url", &hook_url).await;
    b.click_and_load("#save-webhook").await;
    let secret = b.wait_text("#webhook-secret", "whsec_").await;
    assert_eq!(b.text("#webhook-channel").await, hook_url);
    b.shot("webhook-secret").await;
    b.goto("/notifications").await;
    b.wait_for("#subscriptions-table").await;
    assert!(!b.is_shown("#webhook-secret").await);
    let html = b.c.source().await.unwrap();
    assert!(!html.contains(&secret), "the secret is shown once only");

    // A test message goes at once and is listed.
    b.select("#test-channel", "webhook").await;
    b.click_and_load("#send-test").await;
    b.wait_text(".notice", "was sent").await;
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    b.wait_text("#history-table", "jiralink test notification")
        .await;
    assert!(b.text("#history-table .col-state").await.contains("sent"));

    // A notification about the connection links to its page.
    let link = format!("{}/connections/{}/edit", b.base, connection.id);
    let user = app.find_user("root").await.unwrap();
    let now = app.now();
    app.store()
        .insert_notification(&NotificationRecord {
            id: uuid::Uuid::new_v4(),
            user_id: user.id,
            channel: "webhook".to_owned(),
            address: String::new(),
            title: "Connection Sim demo is offline".to_owned(),
            body: format!("Connection Sim demo is offline\n  {link}\n"),
            events: json!([{"topic": "connection.offline", "subjectKind": "connection",
                "subjectId": connection.id, "subjectName": "Sim demo", "state": "trouble",
                "detail": "HTTP 401", "link": link,
                "at": "2026-01-02T03:04:05Z", "title": "Connection Sim demo is offline"}]),
            state: "sent".to_owned(),
            attempts: 1,
            last_error: None,
            next_attempt_at: None,
            created_at: now + time::Duration::seconds(1),
            sent_at: Some(now + time::Duration::seconds(1)),
        })
        .await
        .unwrap();
    b.goto("/notifications").await;
    b.wait_text("#history-table", "Connection Sim demo is offline")
        .await;
    b.shot("history").await;
    assert_eq!(
        b.attr("#history-table a.notification-link", "href")
            .await
            .as_deref(),
        Some(link.as_str())
    );
    b.click_and_load("#history-table a.notification-link").await;
    assert_eq!(
        b.path().await,
        format!("/connections/{}/edit", connection.id)
    );

    b.goto("/notifications").await;
    b.click_and_load(".action-unsubscribe").await;
    b.wait_text(".notice", "Unsubscribed").await;
    b.wait_for("#subscriptions-empty").await;
    b.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_who_is_no_administrator_sees_no_webhook_form() {
    let b = Browser::signed_in("notifications-user").await;
    // An administrator set a webhook whose path holds a chat tool's credential.
    b.app
        .set_notification_webhook(
            "https://chat.example.com/hooks/T0001/B0001/credential",
            false,
            &jiralink_app::Actor {
                name: "root".to_owned(),
                source: jiralink_domain::AuditSource::Cli,
            },
        )
        .await
        .unwrap();
    b.goto("/notifications").await;
    b.wait_for("#subscribe-form").await;
    assert!(!b.is_shown("#webhook-form").await);
    assert_eq!(
        b.text("#webhook-channel").await,
        "https://chat.example.com/…"
    );
    b.shot("user").await;
    b.finish().await;
}
