//! Retry behaviour: attempt counts, waits (recorded by the manual clock, never slept), the
//! Retry-After floor and the cap, writes never re-sent, and the one refresh after a bearer 401.

use std::{
    sync::{
        Arc,
        atomic::{AtomicU32, Ordering},
    },
    time::Duration,
};

use async_trait::async_trait;
use jiralink_atlassian::{
    AmbiguousCause, ApiBase, AtlassianError, AuthRoute, Credentials, IssueInput, TokenSource,
    TransportKind,
};
use jiralink_domain::{ApiType, ManualClock};
use jiralink_vault::AccessToken;
use pretty_assertions::assert_eq;
use serde_json::json;
use time::macros::datetime;
use wiremock::{Mock, MockServer, ResponseTemplate, matchers};

use crate::{basic, builder, endpoints_at, sim, sim_endpoints, site_client};

fn secs(list: &[u64]) -> Vec<Duration> {
    list.iter().map(|s| Duration::from_secs(*s)).collect()
}

fn sim_client(sim: &jiralink_sim::SimHandle) -> (jiralink_atlassian::JiraClient, ManualClock) {
    let base = ApiBase::resolve(
        &sim_endpoints(sim),
        ApiType::CloudPlatform,
        AuthRoute::BasicClassic,
        Some(&crate::demo()),
        None,
    )
    .unwrap();
    let (b, clock) = builder(base, basic(&sim.samples().email, &sim.samples().api_token));
    (b.build(), clock)
}

#[tokio::test]
async fn get_on_503_is_tried_exactly_five_times_with_doubling_waits() {
    let sim = sim().await;
    sim.control().fail_next(10, 503, None);
    let (client, clock) = sim_client(&sim);
    let err = client.myself().await.unwrap_err();
    assert!(
        matches!(err, AtlassianError::Server { status: 503, .. }),
        "{err:?}"
    );
    assert_eq!(sim.control().requests().len(), 5);
    assert_eq!(clock.waits(), secs(&[2, 4, 8, 16]));
}

#[tokio::test]
async fn retry_after_is_the_floor_and_success_ends_the_retries() {
    let sim = sim().await;
    sim.control().fail_next(2, 429, Some(7));
    let (client, clock) = sim_client(&sim);
    let me = client.myself().await.unwrap();
    assert_eq!(me.email_address.as_deref(), Some("alice@example.com"));
    assert_eq!(sim.control().requests().len(), 3);
    // First retry: max(7, 2); second: max(7, 4).
    assert_eq!(clock.waits(), secs(&[7, 7]));
}

#[tokio::test]
async fn client_errors_are_never_retried() {
    for status in [400, 403, 404] {
        let sim = sim().await;
        sim.control().fail_next(1, status, None);
        let (client, clock) = sim_client(&sim);
        let err = client.myself().await.unwrap_err();
        assert_eq!(err.status(), Some(status));
        assert_eq!(sim.control().requests().len(), 1, "{status}");
        assert!(clock.waits().is_empty());
    }
}

#[tokio::test]
async fn a_dropped_create_is_sent_exactly_once_but_a_dropped_get_is_retried() {
    let sim = sim().await;
    let (client, clock) = sim_client(&sim);
    sim.control().drop_next(1);
    let err = client
        .issue_create(&IssueInput {
            fields: json!({"summary": "once"}).as_object().unwrap().clone(),
            ..IssueInput::default()
        })
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            AtlassianError::Ambiguous {
                operation: "createIssue",
                cause: AmbiguousCause::Reset
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("was not sent again"), "{err}");
    let log = sim.control().requests();
    assert_eq!(log.len(), 1);
    assert_eq!((log[0].method.as_str(), log[0].status), ("POST", None));
    assert!(clock.waits().is_empty());

    sim.control().clear_requests();
    sim.control().drop_next(1);
    client.myself().await.unwrap();
    assert_eq!(sim.control().requests().len(), 2);
    assert_eq!(clock.waits(), secs(&[2]));
}

#[tokio::test]
async fn connection_refused_on_a_create_is_returned_without_a_retry() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let (b, clock) = site_client(&endpoints_at(&format!("http://127.0.0.1:{port}")));
    let client = b.build();
    let err = client
        .issue_create(&IssueInput::default())
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            AtlassianError::Transport {
                kind: TransportKind::Connect,
                request_sent: false,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(clock.waits().is_empty());
}

#[tokio::test]
async fn a_create_answered_503_is_sent_once_and_hands_back_retry_after() {
    for status in [503, 429] {
        let sim = sim().await;
        sim.control().fail_next(10, status, Some(11));
        let (client, clock) = sim_client(&sim);
        let err = client
            .issue_create(&IssueInput {
                fields: json!({"summary": "once"}).as_object().unwrap().clone(),
                ..IssueInput::default()
            })
            .await
            .unwrap_err();
        assert_eq!(err.status(), Some(status), "{err:?}");
        assert_eq!(err.retry_after(), Some(Duration::from_secs(11)));
        assert_eq!(sim.control().requests().len(), 1);
        assert!(clock.waits().is_empty());
    }
}

#[tokio::test]
async fn http_date_retry_after_and_the_cap() {
    let server = MockServer::start().await;
    Mock::given(matchers::method("GET"))
        .and(matchers::path("/demo/rest/api/3/serverInfo"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("retry-after", "Mon, 05 Jan 2026 09:30:09 GMT")
                .insert_header("ratelimit-reason", "jira-burst-based"),
        )
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(matchers::method("GET"))
        .and(matchers::path("/demo/rest/api/3/serverInfo"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"version": "1"})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(matchers::method("GET"))
        .and(matchers::path("/demo/rest/api/3/myself"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("retry-after", "1847")
                .insert_header("ratelimit-reason", "jira-quota-tenant-based"),
        )
        .expect(1)
        .mount(&server)
        .await;
    let clock = ManualClock::new(datetime!(2026-01-05 09:30 UTC));
    let (b, _) = site_client(&endpoints_at(&server.uri()));
    let client = b.clock(Arc::new(clock.clone())).build();
    client.server_info().await.unwrap();
    assert_eq!(clock.waits(), secs(&[9]));

    // An hour-long quota wait is beyond the 30 s cap: returned at once for the caller to park.
    let err = client.myself().await.unwrap_err();
    let AtlassianError::RateLimited {
        retry_after,
        reason,
        ..
    } = &err
    else {
        panic!("{err:?}")
    };
    assert_eq!(*retry_after, Some(Duration::from_secs(1847)));
    assert_eq!(reason.as_deref(), Some("jira-quota-tenant-based"));
    assert_eq!(clock.waits(), secs(&[9]));
}

/// Hands out `old` until told it was rejected, then `new`.
#[derive(Debug, Default)]
struct Refreshing {
    rejected: AtomicU32,
}

#[async_trait]
impl TokenSource for Refreshing {
    async fn access_token(&self) -> Result<AccessToken, AtlassianError> {
        Ok(AccessToken::new(
            if self.rejected.load(Ordering::SeqCst) == 0 {
                "old-token-1"
            } else {
                "new-token-2"
            },
        ))
    }

    async fn rejected(&self, token: &AccessToken) -> Result<bool, AtlassianError> {
        assert_eq!(token.expose(), "old-token-1");
        Ok(self.rejected.fetch_add(1, Ordering::SeqCst) == 0)
    }
}

#[tokio::test]
async fn a_rejected_bearer_token_is_refreshed_once_and_the_request_sent_once_more() {
    let server = MockServer::start().await;
    Mock::given(matchers::method("GET"))
        .and(matchers::path("/ex/jira/c-1/rest/api/3/myself"))
        .and(matchers::header("authorization", "Bearer old-token-1"))
        .respond_with(
            ResponseTemplate::new(401)
                .set_body_json(json!({"code": 401, "message": "Unauthorized"})),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(matchers::method("GET"))
        .and(matchers::path("/ex/jira/c-1/rest/api/3/myself"))
        .and(matchers::header("authorization", "Bearer new-token-2"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"accountId": "a-1"})))
        .expect(1)
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
    let source = Arc::new(Refreshing::default());
    let client = builder(base.clone(), Credentials::Bearer(source.clone()))
        .0
        .build();
    assert_eq!(client.myself().await.unwrap().account_id, "a-1");
    assert_eq!(source.rejected.load(Ordering::SeqCst), 1);

    // A source with nothing new leaves the 401 standing after one attempt.
    server.reset().await;
    Mock::given(matchers::method("GET"))
        .respond_with(ResponseTemplate::new(401))
        .expect(1)
        .mount(&server)
        .await;
    let fixed = Credentials::Bearer(Arc::new(jiralink_atlassian::StaticToken::new(
        AccessToken::new("fixed-token"),
    )));
    let client = builder(base, fixed).0.build();
    assert!(matches!(
        client.myself().await.unwrap_err(),
        AtlassianError::Unauthorized { .. }
    ));
}
