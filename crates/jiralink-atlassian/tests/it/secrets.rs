//! Canary credentials never show in observed exchanges, errors or `Debug` output, even when the
//! server echoes them back.

use std::sync::Arc;

use base64::Engine as _;
use jiralink_atlassian::{
    ApiBase, AuthRoute, Credentials, ExchangeOutcome, IssueInput, MASK, RecordingObserver,
    StaticToken,
};
use jiralink_domain::ApiType;
use jiralink_vault::AccessToken;
use serde_json::json;
use wiremock::{Mock, MockServer, Request, ResponseTemplate, matchers};

use crate::{assert_no_secret, basic, builder, demo, endpoints_at};

const TOKEN: &str = "CANARY-9d1e6c0b-4a2f-8e7d-3c5b-a1f0e9d8c7b6";
const ACCESS: &str = "ZQ-b7c6d5e4f3a2918070qz";

/// Answers with the request's credentials echoed in a header and the body.
fn echo(status: u16) -> impl Fn(&Request) -> ResponseTemplate {
    move |req: &Request| {
        let auth = req
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        ResponseTemplate::new(status)
            .insert_header("x-echo", auth.as_str())
            .set_body_json(json!({
                "errorMessages": [format!("bad credentials {auth}")],
                "errors": {"token": TOKEN, "access_token": ACCESS},
                "accountId": "a", "echo": TOKEN,
            }))
    }
}

fn assert_clean(text: &str) {
    assert_no_secret(text, TOKEN);
    assert_no_secret(text, ACCESS);
    let basic =
        base64::engine::general_purpose::STANDARD.encode(format!("fred@example.com:{TOKEN}"));
    assert_no_secret(text, &basic);
}

#[tokio::test]
async fn basic_credentials_never_reach_the_observer_or_errors() {
    let server = MockServer::start().await;
    Mock::given(matchers::method("GET"))
        .and(matchers::path("/demo/rest/api/3/myself"))
        .respond_with(echo(200))
        .mount(&server)
        .await;
    Mock::given(matchers::method("POST"))
        .respond_with(echo(400))
        .mount(&server)
        .await;
    Mock::given(matchers::method("GET"))
        .and(matchers::path("/demo/rest/api/3/serverInfo"))
        .respond_with(echo(401))
        .mount(&server)
        .await;
    let base = ApiBase::resolve(
        &endpoints_at(&server.uri()),
        ApiType::CloudPlatform,
        AuthRoute::BasicClassic,
        Some(&demo()),
        None,
    )
    .unwrap();
    let recorder = RecordingObserver::new();
    let client = builder(base, basic("fred@example.com", TOKEN))
        .0
        .observer(Arc::new(recorder.clone()))
        .build();
    client.myself().await.unwrap();
    let input = IssueInput {
        fields: json!({"summary": TOKEN, "password": "hunter2-secret"})
            .as_object()
            .unwrap()
            .clone(),
        ..IssueInput::default()
    };
    let create = client.issue_create(&input).await.unwrap_err();
    let unauthorized = client.server_info().await.unwrap_err();
    for e in [&create, &unauthorized] {
        assert_clean(&format!("{e} {e:?}"));
    }
    assert_clean(&format!("{client:?}"));

    let exchanges = recorder.exchanges();
    assert_eq!(exchanges.len(), 3);
    for ex in &exchanges {
        assert_clean(&format!("{ex:?}"));
        let auth = ex
            .request_headers
            .iter()
            .find(|(k, _)| k == "authorization")
            .map(|(_, v)| v.as_str());
        assert_eq!(auth, Some("Basic ********"));
    }
    let post = &exchanges[1];
    assert_eq!(post.operation, "createIssue");
    let body = post.request_body.as_deref().unwrap();
    assert!(body.contains(MASK) && !body.contains("hunter2"), "{body}");
    let ExchangeOutcome::Response { status, .. } = &post.outcome else {
        panic!("{:?}", post.outcome)
    };
    assert_eq!(*status, 400);
}

#[tokio::test]
async fn bearer_tokens_never_reach_the_observer_or_errors() {
    let server = MockServer::start().await;
    Mock::given(matchers::method("GET"))
        .respond_with(echo(403))
        .mount(&server)
        .await;
    let base = ApiBase::resolve(
        &endpoints_at(&server.uri()),
        ApiType::CloudPlatform,
        AuthRoute::OAuth2,
        None,
        Some("c-1"),
    )
    .unwrap();
    let recorder = RecordingObserver::new();
    let creds = Credentials::Bearer(Arc::new(StaticToken::new(AccessToken::new(ACCESS))));
    let client = builder(base, creds)
        .0
        .observer(Arc::new(recorder.clone()))
        .build();
    let err = client.myself().await.unwrap_err();
    // The echoed API token is unknown to a bearer client; the access token is what it holds.
    assert_no_secret(&format!("{err} {err:?}"), ACCESS);
    let ex = &recorder.exchanges()[0];
    assert_no_secret(&format!("{ex:?}"), ACCESS);
    assert!(
        ex.request_headers
            .contains(&("authorization".into(), "Bearer ********".into()))
    );
}

/// An observer that keeps nothing and counts the exchanges it is handed anyway.
#[derive(Debug, Default)]
struct Uninterested {
    handed: std::sync::atomic::AtomicUsize,
}

impl jiralink_atlassian::Observer for Uninterested {
    fn on_exchange(&self, _exchange: jiralink_atlassian::Exchange) {
        self.handed
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }

    fn records(&self) -> bool {
        false
    }
}

#[tokio::test]
async fn exchanges_are_masked_and_built_only_for_an_observer_that_records() {
    let server = MockServer::start().await;
    Mock::given(matchers::method("GET"))
        .respond_with(echo(200))
        .mount(&server)
        .await;
    let base = ApiBase::resolve(
        &endpoints_at(&server.uri()),
        ApiType::CloudPlatform,
        AuthRoute::BasicClassic,
        Some(&demo()),
        None,
    )
    .unwrap();
    let quiet = Arc::new(Uninterested::default());
    let client = builder(base.clone(), basic("fred@example.com", TOKEN))
        .0
        .observer(quiet.clone())
        .build();
    client.myself().await.unwrap();
    assert_eq!(quiet.handed.load(std::sync::atomic::Ordering::SeqCst), 0);

    let recorder = RecordingObserver::new();
    let client = builder(base, basic("fred@example.com", TOKEN))
        .0
        .observer(Arc::new(recorder.clone()))
        .build();
    client.myself().await.unwrap();
    let exchanges = recorder.exchanges();
    assert_eq!(exchanges.len(), 1);
    assert_clean(&format!("{exchanges:?}"));
}
