//! Dynamic webhooks of an OAuth 2.0 app: registration, events, signatures, filters, expiry,
//! retries and the failed list.

use std::collections::HashSet;
use std::time::Duration;

use jiralink_sim::webhooks::{AttemptOutcome, WebhookKind};
use pretty_assertions::assert_eq;
use reqwest::StatusCode;
use serde_json::{Value, json};

use super::{
    Receiver, alice_account, app, assert_error, create_issue, now_ms, register, register_unchecked,
    sim, verify_jwt,
};
use crate::platform::{Api, assert_schema, expect};
use crate::{alice_classic, alice_scoped, gateway};

fn doc(text: &str) -> Value {
    json!({"type": "doc", "version": 1, "content": [
        {"type": "paragraph", "content": [{"type": "text", "text": text}]}
    ]})
}

#[tokio::test]
async fn issue_and_comment_events_arrive_in_order_signed_with_the_client_secret() {
    let sim = sim().await;
    let receiver = Receiver::start().await;
    let app = app(&sim).await;
    let events = [
        "jira:issue_created",
        "jira:issue_updated",
        "jira:issue_deleted",
        "comment_created",
        "comment_updated",
        "comment_deleted",
    ];
    register(
        &app,
        &receiver.url,
        json!({"events": events, "jqlFilter": "project = DEMO"}),
    )
    .await;

    let key = create_issue(&app, "Webhook subject", &["hooked"]).await;
    let edit = app
        .put(
            &format!("/issue/{key}"),
            &json!({"fields": {"summary": "Renamed subject"}}),
        )
        .await;
    assert_eq!(edit.status, StatusCode::NO_CONTENT);
    let comment = app
        .post(
            &format!("/issue/{key}/comment"),
            &json!({"body": doc("First words")}),
        )
        .await;
    let comment_id = expect(&comment, StatusCode::CREATED)["id"]
        .as_str()
        .expect("comment id")
        .to_owned();
    let edited = app
        .put(
            &format!("/issue/{key}/comment/{comment_id}"),
            &json!({"body": doc("Second words")}),
        )
        .await;
    assert_eq!(edited.status, StatusCode::OK);
    let removed = app
        .delete(&format!("/issue/{key}/comment/{comment_id}"))
        .await;
    assert_eq!(removed.status, StatusCode::NO_CONTENT);
    let gone = app.delete(&format!("/issue/{key}")).await;
    assert_eq!(gone.status, StatusCode::NO_CONTENT);
    sim.control().deliveries_settled().await;

    let received = receiver.received();
    let seen: Vec<(String, String)> = received
        .iter()
        .map(|r| {
            let body = r.json();
            let kind = body["issue_event_type_name"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            (r.event(), kind)
        })
        .collect();
    let pair = |e: &str, k: &str| (e.to_owned(), k.to_owned());
    assert_eq!(
        seen,
        vec![
            pair("jira:issue_created", "issue_created"),
            pair("jira:issue_updated", "issue_updated"),
            pair("jira:issue_updated", "issue_commented"),
            pair("comment_created", ""),
            pair("jira:issue_updated", "issue_comment_edited"),
            pair("comment_updated", ""),
            pair("jira:issue_updated", "issue_comment_deleted"),
            pair("comment_deleted", ""),
            pair("jira:issue_deleted", "issue_deleted"),
        ]
    );

    // Headers: JSON, a unique identifier, no retry marker, a fresh token per delivery.
    let samples = sim.samples();
    let site = sim.control().site("demo").expect("site");
    let now = sim.control().now().unix_timestamp();
    let mut identifiers = HashSet::new();
    let mut jtis = HashSet::new();
    for r in &received {
        assert_eq!(r.header("content-type"), Some("application/json"));
        assert_eq!(
            r.header("user-agent"),
            Some("Atlassian Webhook HTTP Client")
        );
        assert_eq!(r.header("x-atlassian-webhook-retry"), None);
        assert!(
            identifiers.insert(
                r.header("x-atlassian-webhook-identifier")
                    .expect("id")
                    .to_owned()
            )
        );
        let token = r
            .header("authorization")
            .and_then(|a| a.strip_prefix("Bearer "))
            .expect("bearer token");
        let claims = verify_jwt(token, &samples.oauth_client_secret);
        assert_eq!(claims["iss"], json!(site.cloud_id.to_string()));
        assert_eq!(claims["aud"], json!(samples.oauth_client_id));
        assert_eq!(claims["iat"], json!(now));
        assert_eq!(claims["exp"], json!(now + 180));
        assert!(jtis.insert(claims["jti"].as_str().expect("jti").to_owned()));
    }
    assert!(
        verify_jwt_fails_with_another_secret(&received[0]),
        "a token must not verify with another key"
    );

    // Bodies as Jira sends them.
    let created = received[0].json();
    assert_eq!(created["timestamp"], json!(now_ms(&sim)));
    assert_eq!(created["user"]["accountId"], json!(alice_account(&sim)));
    let issue = &created["issue"];
    assert_eq!(issue["key"], json!(key));
    assert!(issue["id"].is_string() && issue["self"].is_string());
    for field in [
        "summary",
        "issuetype",
        "project",
        "status",
        "created",
        "updated",
    ] {
        assert!(!issue["fields"][field].is_null(), "{field} in {issue:#}");
    }
    assert_eq!(issue["fields"]["labels"], json!(["hooked"]));
    assert!(created.get("changelog").is_none());

    let updated = received[1].json();
    assert_eq!(
        updated["issue"]["fields"]["summary"],
        json!("Renamed subject")
    );
    let items = updated["changelog"]["items"].as_array().expect("items");
    assert!(updated["changelog"]["id"].is_string());
    let summary = items
        .iter()
        .find(|i| i["fieldId"] == json!("summary"))
        .expect("summary change");
    assert_eq!(summary["field"], json!("summary"));
    assert_eq!(summary["fieldtype"], json!("jira"));
    assert_eq!(summary["fromString"], json!("Webhook subject"));
    assert_eq!(summary["toString"], json!("Renamed subject"));

    let comment_created = received[3].json();
    let c = &comment_created["comment"];
    assert_eq!(c["id"], json!(comment_id));
    for field in [
        "self",
        "author",
        "body",
        "updateAuthor",
        "created",
        "updated",
    ] {
        assert!(!c[field].is_null(), "{field} in {c:#}");
    }
    assert_eq!(c["body"], json!("First words"), "v2 bodies are wiki text");
    assert_eq!(comment_created["issue"]["key"], json!(key));
    for field in ["summary", "issuetype", "project", "status"] {
        assert!(!comment_created["issue"]["fields"][field].is_null());
    }
    assert_eq!(received[5].json()["comment"]["body"], json!("Second words"));
    assert_eq!(received[8].json()["issue"]["key"], json!(key));

    // The log names the webhook and the outcome of every attempt.
    let log = sim.control().webhook_deliveries();
    assert_eq!(log.len(), received.len());
    assert!(log.iter().all(|a| a.webhook.kind == WebhookKind::Dynamic
        && a.attempt == 0
        && a.outcome == AttemptOutcome::Delivered { status: 200 }));
    sim.shutdown().await;
}

fn verify_jwt_fails_with_another_secret(r: &super::Received) -> bool {
    let token = r
        .header("authorization")
        .and_then(|a| a.strip_prefix("Bearer "))
        .unwrap_or_default()
        .to_owned();
    std::panic::catch_unwind(|| verify_jwt(&token, "not-the-secret")).is_err()
}

#[tokio::test]
async fn worklog_and_link_events_carry_their_objects() {
    let sim = sim().await;
    let receiver = Receiver::start().await;
    let app = app(&sim).await;
    register_unchecked(
        &app,
        json!({"url": receiver.url, "webhooks": [{
            "events": ["worklog_created", "worklog_updated", "worklog_deleted",
                       "issuelink_created", "issuelink_deleted"],
            "jqlFilter": "project = DEMO"}]}),
    )
    .await;
    let a = create_issue(&app, "Source", &[]).await;
    let b = create_issue(&app, "Target", &[]).await;
    let logged = app
        .post(
            &format!("/issue/{a}/worklog"),
            &json!({"timeSpentSeconds": 3600, "started": "2026-01-05T09:00:00.000+0000"}),
        )
        .await;
    let worklog_id = expect(&logged, StatusCode::CREATED)["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let changed = app
        .put(
            &format!("/issue/{a}/worklog/{worklog_id}"),
            &json!({"timeSpentSeconds": 7200}),
        )
        .await;
    assert_eq!(changed.status, StatusCode::OK, "{:#}", changed.body);
    let deleted = app
        .delete(&format!("/issue/{a}/worklog/{worklog_id}"))
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    let linked = app
        .post(
            "/issueLink",
            &json!({"type": {"name": "Blocks"}, "inwardIssue": {"key": a}, "outwardIssue": {"key": b}}),
        )
        .await;
    assert_eq!(linked.status, StatusCode::CREATED, "{:#}", linked.body);
    let links = app.get(&format!("/issue/{a}?fields=issuelinks")).await;
    let link_id = expect(&links, StatusCode::OK)["fields"]["issuelinks"][0]["id"]
        .as_str()
        .expect("link id")
        .to_owned();
    let unlinked = app.delete(&format!("/issueLink/{link_id}")).await;
    assert_eq!(unlinked.status, StatusCode::NO_CONTENT);
    sim.control().deliveries_settled().await;

    assert_eq!(
        receiver.events(),
        [
            "worklog_created",
            "worklog_updated",
            "worklog_deleted",
            "issuelink_created",
            "issuelink_deleted"
        ]
    );
    let received = receiver.received();
    let w = received[1].json()["worklog"].clone();
    assert_eq!(w["id"], json!(worklog_id));
    assert_eq!(w["timeSpentSeconds"], json!(7200));
    for field in ["issueId", "author", "started", "created", "updated"] {
        assert!(!w[field].is_null(), "{field} in {w:#}");
    }
    let link = received[3].json()["issueLink"].clone();
    assert_eq!(link["id"].to_string(), link_id);
    assert_eq!(link["systemLink"], json!(false));
    assert_eq!(link["issueLinkType"]["name"], json!("Blocks"));
    assert!(link["sourceIssueId"].is_u64() && link["destinationIssueId"].is_u64());
    assert_ne!(link["sourceIssueId"], link["destinationIssueId"]);
    sim.shutdown().await;
}

#[tokio::test]
async fn jql_and_field_filters_select_deliveries() {
    let sim = sim().await;
    let receiver = Receiver::start().await;
    let app = app(&sim).await;
    let hot = register(
        &app,
        &receiver.url,
        json!({"events": ["jira:issue_created"], "jqlFilter": "project = DEMO AND labels = hot"}),
    )
    .await;
    let summaries = register(
        &app,
        &receiver.url,
        json!({"events": ["jira:issue_updated"], "jqlFilter": "project = DEMO",
               "fieldIdsFilter": ["summary"]}),
    )
    .await;
    let other_project = register(
        &app,
        &receiver.url,
        json!({"events": ["jira:issue_created", "jira:issue_updated"], "jqlFilter": "project = MKT"}),
    )
    .await;

    let cold = create_issue(&app, "Cold", &["cold"]).await;
    let warm = create_issue(&app, "Warm", &["hot"]).await;
    app.put(
        &format!("/issue/{cold}"),
        &json!({"fields": {"labels": ["still-cold"]}}),
    )
    .await;
    app.put(
        &format!("/issue/{cold}"),
        &json!({"fields": {"summary": "Cold, renamed"}}),
    )
    .await;
    sim.control().deliveries_settled().await;

    let log = sim.control().webhook_deliveries();
    let by = |id: u64| -> Vec<String> {
        log.iter()
            .filter(|a| a.webhook.id == id)
            .map(|a| a.event.clone())
            .collect()
    };
    assert_eq!(by(hot), ["jira:issue_created"]);
    assert_eq!(by(summaries), ["jira:issue_updated"]);
    assert!(by(other_project).is_empty());
    let bodies: Vec<Value> = receiver
        .received()
        .iter()
        .map(super::Received::json)
        .collect();
    assert_eq!(bodies[0]["issue"]["key"], json!(warm));
    assert_eq!(
        bodies[1]["issue"]["fields"]["summary"],
        json!("Cold, renamed")
    );

    // A JQL that does not compile is refused per webhook, beside one that registers.
    let reply = app
        .post(
            "/webhook",
            &json!({"url": receiver.url, "webhooks": [
                {"events": ["jira:issue_created"], "jqlFilter": "project = NOPE"},
                {"events": ["no_such_event"], "jqlFilter": "project = DEMO"},
                {"events": ["jira:issue_created"], "jqlFilter": "project = DEMO"},
            ]}),
        )
        .await;
    let results = expect(&reply, StatusCode::OK)["webhookRegistrationResult"].clone();
    assert_schema("ContainerForRegisteredWebhooks", &reply.body);
    assert!(results[0]["errors"][0].is_string(), "{results:#}");
    assert!(results[1]["errors"][0].is_string(), "{results:#}");
    assert!(results[2]["createdWebhookId"].is_u64(), "{results:#}");
    sim.shutdown().await;
}

#[tokio::test]
async fn only_apps_with_the_scope_may_manage_webhooks() {
    let sim = sim().await;
    let basic_site = Api {
        base: format!("{}/rest/api/3", sim.site_url("demo")),
        auth: alice_classic(&sim),
    };
    let body = json!({"url": "http://127.0.0.1:9/hook", "webhooks": [
        {"events": ["jira:issue_created"], "jqlFilter": "project = DEMO"}]});
    assert_error(&basic_site.post("/webhook", &body).await, 403);
    assert_error(&basic_site.get("/webhook").await, 403);
    assert_error(&basic_site.get("/webhook/failed").await, 403);
    assert_error(
        &basic_site
            .put("/webhook/refresh", &json!({"webhookIds": [1]}))
            .await,
        403,
    );
    assert_error(
        &basic_site
            .send(
                reqwest::Method::DELETE,
                "/webhook",
                Some(&json!({"webhookIds": [1]})),
            )
            .await,
        403,
    );
    let scoped_gateway = Api {
        base: format!("{}/rest/api/3", gateway(&sim, "demo")),
        auth: alice_scoped(&sim),
    };
    assert_error(&scoped_gateway.post("/webhook", &body).await, 403);

    // An app token without manage:jira-webhook.
    let tokens = crate::oauth::tokens(&sim).await;
    let unscoped = Api {
        base: format!("{}/rest/api/3", gateway(&sim, "demo")),
        auth: crate::oauth::bearer(&tokens),
    };
    assert_error(&unscoped.post("/webhook", &body).await, 403);

    // Bad bodies.
    let app = app(&sim).await;
    assert_error(&app.post("/webhook", &json!({"webhooks": []})).await, 400);
    assert_error(&app.put("/webhook/refresh", &json!({})).await, 400);
    assert_error(
        &app.send(reqwest::Method::DELETE, "/webhook", Some(&json!({})))
            .await,
        400,
    );
    assert!(sim.control().webhooks().is_empty());
    sim.shutdown().await;
}

/// The list answers the document's `PageBeanWebhook`, except `expirationDate`: the document's
/// schema says epoch milliseconds while its examples (and Jira) send a date-time string.
fn assert_webhook_page(page: &Value) {
    let mut relaxed = page.clone();
    for v in relaxed["values"].as_array_mut().expect("values") {
        let date = v["expirationDate"].take();
        assert!(
            date.as_str()
                .is_some_and(|d| d.len() == 28 && d.ends_with("+0000")),
            "{date}"
        );
        v.as_object_mut().expect("object").remove("expirationDate");
    }
    assert_schema("PageBeanWebhook", &relaxed);
}

#[tokio::test]
async fn webhooks_expire_after_thirty_days_unless_refreshed() {
    let sim = sim().await;
    let receiver = Receiver::start().await;
    let app = app(&sim).await;
    let id = register(
        &app,
        &receiver.url,
        json!({"events": ["jira:issue_created"], "jqlFilter": "project = DEMO",
               "fieldIdsFilter": ["summary"]}),
    )
    .await;
    let page = expect(&app.get("/webhook").await, StatusCode::OK).clone();
    assert_webhook_page(&page);
    assert_eq!(page["total"], json!(1));
    assert_eq!(page["values"][0]["id"], json!(id));
    assert_eq!(page["values"][0]["fieldIdsFilter"], json!(["summary"]));
    assert_eq!(page["values"][0]["url"], json!(receiver.url));
    let registered = jiralink_sim::platform::render::datetime(now_ms(&sim) + 30 * 86_400_000);
    assert_eq!(page["values"][0]["expirationDate"], json!(registered));

    sim.control().advance(Duration::from_secs(30 * 86_400 + 1));
    let app = super::app(&sim).await;
    create_issue(&app, "Nobody hears this", &[]).await;
    sim.control().deliveries_settled().await;
    assert!(receiver.received().is_empty());
    assert!(!sim.control().webhooks()[0].active);

    let refreshed = app
        .put("/webhook/refresh", &json!({"webhookIds": [id, 999_999]}))
        .await;
    let body = expect(&refreshed, StatusCode::OK).clone();
    let expected = jiralink_sim::platform::render::datetime(now_ms(&sim) + 30 * 86_400_000);
    assert_eq!(body, json!({"expirationDate": expected}));
    create_issue(&app, "Heard again", &[]).await;
    sim.control().deliveries_settled().await;
    assert_eq!(receiver.events(), ["jira:issue_created"]);

    // Deleting ignores other ids and answers 202 without a body.
    let deleted = app
        .send(
            reqwest::Method::DELETE,
            "/webhook",
            Some(&json!({"webhookIds": [id, 424_242]})),
        )
        .await;
    assert_eq!(deleted.status, StatusCode::ACCEPTED);
    assert_eq!(deleted.body, Value::Null);
    let page = expect(&app.get("/webhook").await, StatusCode::OK).clone();
    assert_eq!(page["values"], json!([]));
    sim.shutdown().await;
}

#[tokio::test]
async fn failing_receivers_are_retried_then_listed_as_failed() {
    let sim = sim().await;
    let receiver = Receiver::start().await;
    receiver.answer(500);
    let app = app(&sim).await;
    register(
        &app,
        &receiver.url,
        json!({"events": ["jira:issue_created"], "jqlFilter": "project = DEMO"}),
    )
    .await;
    create_issue(&app, "Unlucky", &[]).await;
    sim.control().deliveries_settled().await;

    let received = receiver.received();
    assert_eq!(received.len(), 6, "one attempt and five retries");
    let identifier = received[0]
        .header("x-atlassian-webhook-identifier")
        .expect("identifier")
        .to_owned();
    for (n, r) in received.iter().enumerate() {
        assert_eq!(
            r.header("x-atlassian-webhook-identifier"),
            Some(identifier.as_str())
        );
        let retry = r.header("x-atlassian-webhook-retry").map(str::to_owned);
        assert_eq!(retry, (n > 0).then(|| n.to_string()));
        assert_eq!(r.body, received[0].body);
    }
    let log = sim.control().webhook_deliveries();
    assert_eq!(
        log.iter()
            .map(|a| (a.attempt, a.outcome))
            .collect::<Vec<_>>(),
        (0..=5)
            .map(|n| (n, AttemptOutcome::Rejected { status: 500 }))
            .collect::<Vec<_>>()
    );

    let failed = expect(&app.get("/webhook/failed").await, StatusCode::OK).clone();
    assert_schema("FailedWebhooks", &failed);
    let now = now_ms(&sim);
    assert_eq!(failed["values"].as_array().map(Vec::len), Some(1));
    let entry = &failed["values"][0];
    assert_eq!(entry["id"], json!(identifier));
    assert_eq!(entry["body"], json!(received[0].body));
    assert_eq!(entry["url"], json!(receiver.url));
    assert_eq!(entry["failureTime"], json!(now));
    assert_eq!(failed["maxResults"], json!(100));
    let next = failed["next"].as_str().expect("next");
    assert!(next.contains(&format!("failedAfter={now}")), "{next}");
    let after = app.get(&format!("/webhook/failed?after={now}")).await;
    assert_eq!(expect(&after, StatusCode::OK)["values"], json!([]));
    assert!(after.body.get("next").is_none());
    assert_error(&app.get("/webhook/failed?after=soon").await, 400);

    // Failures are kept for 72 hours.
    sim.control().advance(Duration::from_secs(72 * 3600 + 1));
    let app = super::app(&sim).await;
    let later = app.get("/webhook/failed").await;
    assert_eq!(expect(&later, StatusCode::OK)["values"], json!([]));

    // A receiver that recovers gets the next event at once, without a retry marker.
    receiver.clear();
    receiver.answer(204);
    create_issue(&app, "Lucky", &[]).await;
    sim.control().deliveries_settled().await;
    assert_eq!(receiver.received().len(), 1);
    assert_eq!(
        receiver.received()[0].header("x-atlassian-webhook-retry"),
        None
    );
    sim.shutdown().await;
}
