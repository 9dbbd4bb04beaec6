//! Dynamic webhook operations: the exact requests, the answers as the OpenAPI document's
//! examples write them, paging, retries and the 403 of connections that may not use them.

use std::sync::Arc;

use jiralink_atlassian::{
    ApiBase, AtlassianError, AuthRoute, Credentials, FailedDelivery, JiraClient, RegisteredWebhook,
    StaticToken, WebhookEventKind, WebhookSpec,
};
use jiralink_domain::ApiType;
use jiralink_vault::AccessToken;
use pretty_assertions::assert_eq;
use serde_json::{Value, json};
use time::macros::datetime;
use url::Url;
use wiremock::{Mock, MockServer, Request, ResponseTemplate, matchers};

use crate::{
    builder, endpoints_at,
    openapi::load,
    shapes::{assert_declared, common, exact_query},
    site_client,
};

const BEARER: &str = "Bearer at-webhooks-1";
const ROOT: &str = "/ex/jira/c-1/rest/api/3";

/// A client of an OAuth 2.0 connection to cloud id `c-1`, through the gateway at `server`.
fn oauth_client(server: &MockServer) -> JiraClient {
    let base = ApiBase::resolve(
        &endpoints_at(&server.uri()),
        ApiType::CloudPlatform,
        AuthRoute::OAuth2,
        None,
        Some("c-1"),
    )
    .unwrap();
    let creds = Credentials::Bearer(Arc::new(StaticToken::new(AccessToken::new(
        "at-webhooks-1",
    ))));
    builder(base, creds).0.build()
}

/// The example the document gives for an answer of `method path`, as JSON.
fn example(path: &str, method: &str) -> Value {
    let spec = load("jira-platform-v3.openapi.json");
    let example =
        &spec["paths"][path][method]["responses"]["200"]["content"]["application/json"]["example"];
    let text = example.as_str().expect("examples are JSON text");
    serde_json::from_str(text).unwrap()
}

fn receiver() -> Url {
    Url::parse("https://jiralink.example/hooks/jira").unwrap()
}

fn spec(events: &[WebhookEventKind], jql: &str, fields: &[&str]) -> WebhookSpec {
    WebhookSpec {
        events: events.to_vec(),
        jql_filter: jql.to_owned(),
        field_ids_filter: fields.iter().map(|f| (*f).to_owned()).collect(),
    }
}

#[tokio::test]
async fn registration_sends_the_details_and_reads_each_outcome_in_place() {
    let server = MockServer::start().await;
    common(Mock::given(matchers::method("POST")))
        .and(matchers::path(format!("{ROOT}/webhook")))
        .and(exact_query(&[]))
        .and(matchers::header("authorization", BEARER))
        .and(matchers::header("content-type", "application/json"))
        .and(matchers::body_json(json!({
            "url": "https://jiralink.example/hooks/jira",
            "webhooks": [
                {"events": ["jira:issue_created", "jira:issue_updated"], "jqlFilter": "project = PROJ", "fieldIdsFilter": ["summary", "customfield_10029"]},
                {"events": ["jira:issue_deleted"], "jqlFilter": "watchCount > 1"},
                {"events": ["worklog_created", "issuelink_deleted"], "jqlFilter": "project = PROJ"}
            ]
        })))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(example("/rest/api/3/webhook", "post")),
        )
        .expect(1)
        .mount(&server)
        .await;
    let client = oauth_client(&server);
    let out = client
        .register_webhooks(
            &receiver(),
            &[
                spec(
                    &[
                        WebhookEventKind::IssueCreated,
                        WebhookEventKind::IssueUpdated,
                    ],
                    "project = PROJ",
                    &["summary", "customfield_10029"],
                ),
                spec(&[WebhookEventKind::IssueDeleted], "watchCount > 1", &[]),
                spec(
                    &[
                        WebhookEventKind::WorklogCreated,
                        WebhookEventKind::IssueLinkDeleted,
                    ],
                    "project = PROJ",
                    &[],
                ),
            ],
        )
        .await
        .unwrap();
    assert_eq!(
        out,
        vec![
            Ok(1000),
            Err(vec!["The clause watchCount is unsupported".to_owned()]),
            Ok(1001)
        ]
    );
    assert_eq!(
        client.register_webhooks(&receiver(), &[]).await.unwrap(),
        []
    );
    assert_declared(&server).await;
}

#[tokio::test]
async fn registration_answers_that_do_not_account_for_every_spec_are_errors() {
    let cases = [
        json!({"webhookRegistrationResult": [{"createdWebhookId": 1}]}),
        json!({"webhookRegistrationResult": [{"createdWebhookId": 1}, {}]}),
        json!({"webhookRegistrationResult": [{"createdWebhookId": 1}, {"createdWebhookId": 2, "errors": ["x"]}]}),
        json!({}),
    ];
    for body in cases {
        let server = MockServer::start().await;
        Mock::given(matchers::method("POST"))
            .respond_with(ResponseTemplate::new(200).set_body_json(&body))
            .mount(&server)
            .await;
        let two = [
            spec(&[WebhookEventKind::IssueCreated], "project = A", &[]),
            spec(&[WebhookEventKind::IssueCreated], "project = B", &[]),
        ];
        let e = oauth_client(&server)
            .register_webhooks(&receiver(), &two)
            .await
            .unwrap_err();
        assert!(
            matches!(
                e,
                AtlassianError::Decode {
                    what: "registerDynamicWebhooks",
                    ..
                }
            ),
            "{body}: {e:?}"
        );
    }
}

/// Serves the document's example webhooks two at a time, by `startAt`.
fn webhook_pages(req: &Request) -> ResponseTemplate {
    let all = example("/rest/api/3/webhook", "get")["values"].clone();
    let all = all.as_array().unwrap();
    let start: usize = req
        .url
        .query_pairs()
        .find(|(k, _)| k == "startAt")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let page: Vec<Value> = all.iter().skip(start).take(2).cloned().collect();
    ResponseTemplate::new(200).set_body_json(json!({
        "startAt": start, "maxResults": 2, "total": all.len(),
        "isLast": start + page.len() >= all.len(), "values": page
    }))
}

#[tokio::test]
async fn the_list_reads_every_page_as_the_document_writes_it() {
    let server = MockServer::start().await;
    common(Mock::given(matchers::method("GET")))
        .and(matchers::path(format!("{ROOT}/webhook")))
        .and(matchers::header("authorization", BEARER))
        .respond_with(webhook_pages)
        .expect(2)
        .mount(&server)
        .await;
    let list = oauth_client(&server).list_webhooks().await.unwrap();
    let expiry = datetime!(2019-06-01 12:42:30 UTC);
    assert_eq!(
        list,
        vec![
            RegisteredWebhook {
                id: 10000,
                events: vec![
                    WebhookEventKind::IssueUpdated,
                    WebhookEventKind::IssueCreated
                ],
                jql_filter: "project = PRJ".into(),
                field_ids_filter: vec!["summary".into(), "customfield_10029".into()],
                url: Some("https://your-app.example.com/webhook-received".into()),
                expiration: expiry,
            },
            RegisteredWebhook {
                id: 10001,
                events: vec![WebhookEventKind::IssueCreated],
                jql_filter: "issuetype = Bug".into(),
                field_ids_filter: Vec::new(),
                url: Some("https://your-app.example.com/webhook-received".into()),
                expiration: expiry,
            },
            RegisteredWebhook {
                id: 10002,
                events: vec![WebhookEventKind::Other("issue_property_set".into())],
                jql_filter: "project = PRJ".into(),
                field_ids_filter: Vec::new(),
                url: Some("https://your-app.example.com/webhook-received".into()),
                expiration: expiry,
            },
        ]
    );
    let asked: Vec<String> = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| r.url.query().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(
        asked,
        ["startAt=0&maxResults=100", "startAt=2&maxResults=100"]
    );
    assert_declared(&server).await;
}

#[tokio::test]
async fn delete_and_refresh_send_the_ids() {
    let server = MockServer::start().await;
    common(Mock::given(matchers::method("DELETE")))
        .and(matchers::path(format!("{ROOT}/webhook")))
        .and(matchers::header("authorization", BEARER))
        .and(matchers::header("content-type", "application/json"))
        .and(matchers::body_json(
            json!({"webhookIds": [10000, 10001, 10042]}),
        ))
        .respond_with(ResponseTemplate::new(202))
        .expect(1)
        .mount(&server)
        .await;
    common(Mock::given(matchers::method("PUT")))
        .and(matchers::path(format!("{ROOT}/webhook/refresh")))
        .and(matchers::header("authorization", BEARER))
        .and(matchers::body_json(json!({"webhookIds": [10000]})))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(example("/rest/api/3/webhook/refresh", "put")),
        )
        .expect(1)
        .mount(&server)
        .await;
    let client = oauth_client(&server);
    client
        .delete_webhooks(&[10000, 10001, 10042])
        .await
        .unwrap();
    client.delete_webhooks(&[]).await.unwrap();
    assert_eq!(
        client.refresh_webhooks(&[10000]).await.unwrap(),
        datetime!(2019-06-01 12:42:30 UTC)
    );
    let e = client.refresh_webhooks(&[]).await.unwrap_err();
    assert!(e.to_string().contains("not sent"), "{e}");
    assert_declared(&server).await;
}

#[tokio::test]
async fn failed_deliveries_are_paged_after_the_last_failure() {
    let server = MockServer::start().await;
    common(Mock::given(matchers::method("GET")))
        .and(matchers::path(format!("{ROOT}/webhook/failed")))
        .and(exact_query(&[]))
        .and(matchers::header("authorization", BEARER))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(example("/rest/api/3/webhook/failed", "get")),
        )
        .expect(1)
        .mount(&server)
        .await;
    common(Mock::given(matchers::method("GET")))
        .and(matchers::path(format!("{ROOT}/webhook/failed")))
        .and(exact_query(&[("after", "1573540473480")]))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"values": [], "maxResults": 100})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let client = oauth_client(&server);
    let first = client.failed_webhooks(None).await.unwrap();
    assert_eq!(
        first.deliveries,
        vec![
            FailedDelivery {
                id: "1".into(),
                body: Some(r#"{"data":"webhook data"}"#.into()),
                url: "https://example.com".into(),
                failure_time: datetime!(2019-11-07 09:15:32 UTC),
            },
            FailedDelivery {
                id: "2".into(),
                body: None,
                url: "https://example.com".into(),
                failure_time: datetime!(2019-11-12 06:34:33.48 UTC),
            },
        ]
    );
    assert_eq!(first.max_results, 100);
    assert_eq!(
        first.next_after,
        Some(datetime!(2019-11-12 06:34:33.48 UTC))
    );
    assert!(!first.more(), "a short page is the last for now");
    let second = client.failed_webhooks(first.next_after).await.unwrap();
    assert_eq!(second.deliveries, []);
    assert_eq!(second.next_after, None);
    assert!(!second.more());
    assert_declared(&server).await;
}

#[tokio::test]
async fn a_403_says_the_connection_must_be_oauth_with_the_webhook_scope() {
    let server = MockServer::start().await;
    Mock::given(matchers::any())
        .respond_with(ResponseTemplate::new(403).set_body_json(
            json!({"errorMessages": ["Only Connect and OAuth 2.0 apps can use this operation."], "errors": {}}),
        ))
        .mount(&server)
        .await;
    // A Basic connection, as Jira refuses them.
    let client = site_client(&endpoints_at(&server.uri())).0.build();
    let one = [spec(&[WebhookEventKind::IssueCreated], "project = A", &[])];
    let errors = [
        client
            .register_webhooks(&receiver(), &one)
            .await
            .unwrap_err(),
        client.list_webhooks().await.unwrap_err(),
        client.delete_webhooks(&[1]).await.unwrap_err(),
        client.refresh_webhooks(&[1]).await.unwrap_err(),
        client.failed_webhooks(None).await.unwrap_err(),
    ];
    for e in errors {
        let AtlassianError::WebhooksNotAllowed { message } = &e else {
            panic!("{e:?}")
        };
        assert!(message.contains("OAuth 2.0 apps"), "{message}");
        let shown = e.to_string();
        assert!(
            shown.contains("oauth 2.0") && shown.contains("manage:jira-webhook"),
            "{shown}"
        );
    }
    assert_eq!(server.received_requests().await.unwrap().len(), 5);
}

#[tokio::test]
async fn delete_and_refresh_are_repeated_after_a_503_and_registration_is_not() {
    let server = MockServer::start().await;
    Mock::given(matchers::any())
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(matchers::method("DELETE"))
        .respond_with(ResponseTemplate::new(202))
        .mount(&server)
        .await;
    Mock::given(matchers::method("PUT"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"expirationDate": 1_559_392_950_000_i64})),
        )
        .mount(&server)
        .await;
    let client = oauth_client(&server);
    client.delete_webhooks(&[1]).await.unwrap();
    assert_eq!(server.received_requests().await.unwrap().len(), 2);

    Mock::given(matchers::any())
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    assert_eq!(
        client.refresh_webhooks(&[1]).await.unwrap(),
        datetime!(2019-06-01 12:42:30 UTC)
    );
    assert_eq!(server.received_requests().await.unwrap().len(), 4);

    Mock::given(matchers::method("POST"))
        .respond_with(ResponseTemplate::new(503).set_body_json(json!({"errorMessages": ["busy"]})))
        .with_priority(1)
        .mount(&server)
        .await;
    let one = [spec(&[WebhookEventKind::IssueCreated], "project = A", &[])];
    let e = client
        .register_webhooks(&receiver(), &one)
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(503), "{e:?}");
    assert_eq!(server.received_requests().await.unwrap().len(), 5);
}
