//! `/v1/notifications` against the OpenAPI document (through [`Api::call`], which holds every
//! body to its schema): subscriptions acting for the key's user, the webhook set by
//! administrators with its secret shown once, a test message to a local receiver, and the
//! history paged newest first.

use std::sync::Arc;

use axum::http::{Method, StatusCode};
use jiralink_app::Actor;
use jiralink_domain::AuditSource;
use pretty_assertions::assert_eq;
use serde_json::json;

use crate::api::{Api, code};
use crate::call;

pub(crate) const N: &str = "/v1/notifications";
const TEST: &str = "/v1/notifications/test";
const TOPICS: &str = "/v1/notifications/topics";
const SUBS: &str = "/v1/notifications/subscriptions";
const SUB_ID: &str = "/v1/notifications/subscriptions/{id}";
const CHANNELS: &str = "/v1/notifications/channels";
const WEBHOOK: &str = "/v1/notifications/channels/webhook";

fn admin() -> Actor {
    Actor {
        name: "admin".to_owned(),
        source: AuditSource::Cli,
    }
}

/// A receiver on 127.0.0.1 that answers 204 and counts the calls.
async fn receiver() -> (String, Arc<std::sync::atomic::AtomicUsize>) {
    let calls = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let c = Arc::clone(&calls);
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move || {
            let c = Arc::clone(&c);
            async move {
                c.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                StatusCode::NO_CONTENT
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, calls)
}

#[tokio::test]
async fn notifications_api_follows_its_document() {
    let api = Api::with(crate::fixture().await).await;
    let f = &api.f;
    for (name, is_admin) in [("ann", false), ("root", true)] {
        f.app
            .create_user(
                name,
                &jiralink_vault::Password::new("a long enough password 1"),
                is_admin,
                &admin(),
            )
            .await
            .unwrap();
    }
    let ann_key = f
        .app
        .create_api_key("ann", "ci", &admin())
        .await
        .unwrap()
        .key
        .expose()
        .to_owned();

    let r = api.call(Method::GET, TOPICS, None, "", None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json().as_array().unwrap().len(), 6);

    let r = api.call(Method::GET, CHANNELS, None, "", None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json(), json!({"email": null, "webhook": null}));

    // The server's key acts for nobody: it names the user.
    let body = json!({"topic": "connection.offline", "channel": "webhook"});
    let r = api
        .call(Method::POST, SUBS, None, "", Some(body.clone()))
        .await;
    assert_eq!(code(&r), "validation_failed", "{}", r.text);
    let mut for_ann = body.clone();
    for_ann["user"] = json!("ann");
    let r = api
        .call(Method::POST, SUBS, None, "", Some(for_ann.clone()))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let sub = r.json();
    assert_eq!(sub["user"], "ann");
    assert_eq!(sub["subjectKind"], json!(null));
    let r = api.call(Method::POST, SUBS, None, "", Some(for_ann)).await;
    assert_eq!(
        (r.status, code(&r).as_str()),
        (StatusCode::CONFLICT, "subscription_exists")
    );
    let r = api
        .call(
            Method::POST,
            SUBS,
            None,
            "",
            Some(json!({"user": "ann", "topic": "nope", "channel": "webhook"})),
        )
        .await;
    assert_eq!(code(&r), "validation_failed");
    let r = api
        .call(
            Method::POST,
            SUBS,
            None,
            "",
            Some(
                json!({"user": "ann", "topic": "connection.offline", "subject": "nope",
                        "channel": "email", "address": "ann@example.com"}),
            ),
        )
        .await;
    assert_eq!(code(&r), "connection_not_found");
    let r = api
        .call(
            Method::POST,
            SUBS,
            None,
            "",
            Some(json!({"user": "nobody", "topic": "run.failed", "channel": "webhook"})),
        )
        .await;
    assert_eq!(
        (r.status, code(&r).as_str()),
        (StatusCode::NOT_FOUND, "user_not_found")
    );

    let r = api.call(Method::GET, SUBS, None, "?user=ann", None).await;
    assert_eq!(r.json().as_array().unwrap().len(), 1);
    // Ann's own key sees hers, and may not act for someone else.
    let r = call(&f.router, Method::GET, SUBS, None, Some(&ann_key)).await;
    assert_eq!(r.status, StatusCode::OK);
    api.check(&Method::GET, SUBS, &r);
    assert_eq!(r.json()[0]["id"], sub["id"]);
    let r = call(
        &f.router,
        Method::GET,
        &format!("{SUBS}?user=root"),
        None,
        Some(&ann_key),
    )
    .await;
    assert_eq!(
        (r.status, code(&r).as_str()),
        (StatusCode::FORBIDDEN, "forbidden")
    );
    api.check(&Method::GET, SUBS, &r);
    // Nor change the channels.
    let r = call(
        &f.router,
        Method::PUT,
        WEBHOOK,
        Some(json!({"url": "http://127.0.0.1:9/hook"})),
        Some(&ann_key),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    api.check(&Method::PUT, WEBHOOK, &r);

    // The webhook: a bad URL, then one that answers; the secret comes back once.
    let r = api
        .call_as_sent(Method::PUT, WEBHOOK, None, Some(json!({"url": "ftp://x"})))
        .await;
    assert_eq!(code(&r), "validation_failed");
    let (url, calls) = receiver().await;
    let r = api
        .call_as_sent(Method::PUT, WEBHOOK, None, Some(json!({"url": url})))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let secret = r.json()["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_"));
    let r = api
        .call_as_sent(Method::PUT, WEBHOOK, None, Some(json!({"url": url})))
        .await;
    assert_eq!(r.json().get("secret"), None);
    let r = api.call(Method::GET, CHANNELS, None, "", None).await;
    assert_eq!(r.json()["webhook"]["secretSet"], true);
    assert_eq!(r.json()["webhook"]["url"], json!(url));
    assert!(!r.text.contains(&secret));
    // Someone who may not change the channels sees the webhook's origin, not its path (chat
    // tools put their credential there).
    let r = call(&f.router, Method::GET, CHANNELS, None, Some(&ann_key)).await;
    assert_eq!(r.status, StatusCode::OK);
    api.check(&Method::GET, CHANNELS, &r);
    let origin = url::Url::parse(&url)
        .unwrap()
        .origin()
        .ascii_serialization();
    assert_eq!(r.json()["webhook"]["url"], json!(format!("{origin}/…")));
    assert!(!r.text.contains(&url), "{}", r.text);

    // A test message, sent at once.
    let r = api
        .call(
            Method::POST,
            TEST,
            None,
            "",
            Some(json!({"user": "ann", "channel": "webhook"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.json()["state"], "sent");
    assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 1);
    let r = api
        .call(
            Method::POST,
            TEST,
            None,
            "",
            Some(json!({"user": "ann", "channel": "email",
                                                         "address": "ann@example.com"})),
        )
        .await;
    assert_eq!(
        (r.status, code(&r).as_str()),
        (StatusCode::CONFLICT, "channel_not_configured")
    );
    for _ in 0..2 {
        let r = api
            .call(
                Method::POST,
                TEST,
                None,
                "",
                Some(json!({"user": "ann", "channel": "webhook"})),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED);
    }

    // History, newest first, paged with `before`.
    let r = api
        .call(Method::GET, N, None, "?user=ann&limit=2", None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let page = r.json();
    assert_eq!(page.as_array().unwrap().len(), 2);
    let last = page[1]["id"].as_str().unwrap().to_owned();
    let r = api
        .call(
            Method::GET,
            N,
            None,
            &format!("?user=ann&limit=2&before={last}"),
            None,
        )
        .await;
    assert_eq!(r.json().as_array().unwrap().len(), 1);
    let r = call(&f.router, Method::GET, N, None, Some(&ann_key)).await;
    assert_eq!(r.json().as_array().unwrap().len(), 3);
    api.check(&Method::GET, N, &r);
    let r = api.call(Method::GET, N, None, "?limit=0", None).await;
    assert_eq!(code(&r), "invalid_query");
    let r = api
        .call(
            Method::GET,
            N,
            None,
            &format!("?before={}", uuid::Uuid::new_v4()),
            None,
        )
        .await;
    assert_eq!(code(&r), "notification_not_found");

    // Unsubscribe: only the user's own.
    let id = sub["id"].as_str().unwrap();
    let r = api
        .call(Method::DELETE, SUB_ID, Some(id), "?user=root", None)
        .await;
    assert_eq!(code(&r), "subscription_not_found");
    let r = api
        .call(Method::DELETE, SUB_ID, Some(id), "?user=ann", None)
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);

    let r = api.call(Method::DELETE, WEBHOOK, None, "", None).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = api.call(Method::DELETE, WEBHOOK, None, "", None).await;
    assert_eq!(code(&r), "channel_not_configured");

    let seen = api.seen.lock().unwrap().clone();
    let missing: Vec<_> = api
        .operations()
        .into_iter()
        .filter(|(_, t)| t.starts_with(N))
        .filter(|op| !seen.contains(op))
        .collect();
    assert!(missing.is_empty(), "not exercised: {missing:?}");
}
