//! Paging streams return every record exactly once and stop where Jira says.

use futures::{StreamExt as _, TryStreamExt as _};
use jiralink_atlassian::{AtlassianError, RequestFilter, SearchRequest};
use pretty_assertions::assert_eq;
use serde_json::{Value, json};
use wiremock::{Mock, MockServer, Request, ResponseTemplate, matchers};

use crate::{csm_client, endpoints_at, shapes::assert_declared, site_client};

fn issues(ids: std::ops::Range<u32>) -> Value {
    Value::Array(
        ids.map(|i| json!({"id": i.to_string(), "key": format!("HSP-{i}"), "fields": {}}))
            .collect(),
    )
}

/// Three pages over `nextPageToken`; the last omits the token, as Jira does.
fn search_pages(req: &Request) -> ResponseTemplate {
    let body: Value = serde_json::from_slice(&req.body).unwrap_or_default();
    assert_eq!(body["jql"], "project = HSP ORDER BY key");
    let page = match body.get("nextPageToken").and_then(Value::as_str) {
        None => json!({"issues": issues(1..4), "isLast": false, "nextPageToken": "p2"}),
        Some("p2") => json!({"issues": issues(4..6), "isLast": false, "nextPageToken": "p3"}),
        Some("p3") => json!({"issues": issues(6..8), "isLast": true}),
        Some(other) => panic!("unexpected token {other}"),
    };
    ResponseTemplate::new(200).set_body_json(page)
}

#[tokio::test]
async fn search_jql_follows_next_page_token_to_the_end() {
    let server = MockServer::start().await;
    Mock::given(matchers::method("POST"))
        .and(matchers::path("/demo/rest/api/3/search/jql"))
        .respond_with(search_pages)
        .expect(3)
        .mount(&server)
        .await;
    let client = site_client(&endpoints_at(&server.uri())).0.build();
    let keys: Vec<String> = client
        .search_jql(SearchRequest {
            jql: "project = HSP ORDER BY key".into(),
            ..SearchRequest::default()
        })
        .map_ok(|i| i.key.unwrap_or_default())
        .try_collect()
        .await
        .unwrap();
    assert_eq!(keys, (1..8).map(|i| format!("HSP-{i}")).collect::<Vec<_>>());
    assert_declared(&server).await;
}

#[tokio::test]
async fn search_jql_stops_without_a_token_and_refuses_a_repeated_one() {
    let server = MockServer::start().await;
    Mock::given(matchers::method("POST"))
        .and(matchers::path("/demo/rest/api/3/search/jql"))
        .and(matchers::body_partial_json(json!({"jql": "no-token"})))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"issues": issues(1..3)})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(matchers::method("POST"))
        .and(matchers::path("/demo/rest/api/3/search/jql"))
        .and(matchers::body_partial_json(json!({"jql": "loop"})))
        .respond_with(|req: &Request| {
            let body: Value = serde_json::from_slice(&req.body).unwrap_or_default();
            let first = body.get("nextPageToken").is_none();
            ResponseTemplate::new(200).set_body_json(json!({
                "issues": if first { issues(1..2) } else { issues(2..3) },
                "isLast": false, "nextPageToken": "same"
            }))
        })
        .expect(2)
        .mount(&server)
        .await;
    let client = site_client(&endpoints_at(&server.uri())).0.build();
    let search = |jql: &str| {
        client.search_jql(SearchRequest {
            jql: jql.into(),
            ..SearchRequest::default()
        })
    };
    assert_eq!(
        search("no-token")
            .try_collect::<Vec<_>>()
            .await
            .unwrap()
            .len(),
        2
    );
    let results: Vec<_> = search("loop").collect().await;
    // The page that repeats the token is not trusted: the stream ends with an error there.
    assert_eq!(results.len(), 2);
    assert!(results[0].is_ok());
    assert!(
        matches!(&results[1], Err(AtlassianError::Decode { detail, .. }) if detail.contains("nextPageToken already read")),
        "{:?}",
        results[1]
    );
}

#[tokio::test]
async fn an_error_mid_stream_ends_it_after_the_records_already_read() {
    let server = MockServer::start().await;
    Mock::given(matchers::method("POST"))
        .and(matchers::path("/demo/rest/api/3/search/jql"))
        .and(|req: &Request| !String::from_utf8_lossy(&req.body).contains("nextPageToken"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(
                json!({"issues": issues(1..3), "isLast": false, "nextPageToken": "p2"}),
            ),
        )
        .mount(&server)
        .await;
    Mock::given(matchers::method("POST"))
        .and(matchers::path("/demo/rest/api/3/search/jql"))
        .and(matchers::body_partial_json(json!({"nextPageToken": "p2"})))
        .respond_with(ResponseTemplate::new(400).set_body_json(
            json!({"errorMessages": ["The provided next page token is invalid or expired."], "errors": {}}),
        ))
        .expect(1)
        .mount(&server)
        .await;
    let client = site_client(&endpoints_at(&server.uri())).0.build();
    let results: Vec<_> = client
        .search_jql(SearchRequest {
            jql: "project = A ORDER BY key".into(),
            ..SearchRequest::default()
        })
        .collect()
        .await;
    assert_eq!(results.len(), 3);
    assert!(matches!(
        &results[2],
        Err(AtlassianError::BadRequest { status: 400, .. })
    ));
}

#[tokio::test]
async fn changelog_bulkfetch_follows_next_page_token() {
    let server = MockServer::start().await;
    Mock::given(matchers::method("POST"))
        .and(matchers::path("/demo/rest/api/3/changelog/bulkfetch"))
        .and(matchers::body_json(
            json!({"issueIdsOrKeys": ["HSP-1", "HSP-2"], "fieldIds": ["status"]}),
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "issueChangeLogs": [{"issueId": "10001", "changeHistories": [{"id": "1"}]}],
            "nextPageToken": "n2"
        })))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(matchers::method("POST"))
        .and(matchers::path("/demo/rest/api/3/changelog/bulkfetch"))
        .and(matchers::body_json(json!({"issueIdsOrKeys": ["HSP-1", "HSP-2"], "fieldIds": ["status"], "nextPageToken": "n2"})))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "issueChangeLogs": [{"issueId": "10002", "changeHistories": [{"id": "2"}, {"id": "3"}]}]
        })))
        .expect(1)
        .mount(&server)
        .await;
    let client = site_client(&endpoints_at(&server.uri())).0.build();
    let logs: Vec<_> = client
        .changelog_bulkfetch(jiralink_atlassian::ChangelogRequest {
            issue_ids_or_keys: vec!["HSP-1".into(), "HSP-2".into()],
            field_ids: vec!["status".into()],
            max_results: None,
        })
        .try_collect()
        .await
        .unwrap();
    let ids: Vec<_> = logs
        .iter()
        .map(|l| (l.issue_id.as_str(), l.change_histories.len()))
        .collect();
    assert_eq!(ids, [("10001", 1), ("10002", 2)]);
    assert_declared(&server).await;
}

/// JSM caps pages at 3 and sends a short page that is not the last.
fn jsm_pages(req: &Request) -> ResponseTemplate {
    let start: u64 = req
        .url
        .query_pairs()
        .find(|(k, _)| k == "start")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(u64::MAX);
    let (ids, last): (std::ops::Range<u64>, bool) = match start {
        0 => (0..3, false),
        3 => (3..5, false),
        5 => (5..8, true),
        other => panic!("unexpected start {other}"),
    };
    let values: Vec<Value> = ids
        .clone()
        .map(|i| json!({"issueId": i.to_string(), "issueKey": format!("HELP-{i}")}))
        .collect();
    ResponseTemplate::new(200).set_body_json(json!({
        "start": start, "limit": 3, "size": values.len(), "isLastPage": last, "values": values,
        "_links": {"base": "https://x/rest/servicedeskapi"}
    }))
}

#[tokio::test]
async fn jsm_paging_advances_by_size_until_the_last_page() {
    let server = MockServer::start().await;
    Mock::given(matchers::method("GET"))
        .and(matchers::path("/demo/rest/servicedeskapi/request"))
        .and(matchers::query_param("serviceDeskId", "10"))
        .and(matchers::query_param("limit", "50"))
        .respond_with(jsm_pages)
        .expect(3)
        .mount(&server)
        .await;
    let client = site_client(&endpoints_at(&server.uri())).0.build();
    let filter = RequestFilter {
        service_desk_id: Some("10".into()),
        request_status: None,
    };
    let ids: Vec<String> = client
        .customer_requests(&filter)
        .map_ok(|r| r.issue_id)
        .try_collect()
        .await
        .unwrap();
    assert_eq!(ids, (0..8).map(|i| i.to_string()).collect::<Vec<_>>());
    assert_declared(&server).await;
}

#[tokio::test]
async fn jsm_empty_page_not_marked_last_is_an_error() {
    let server = MockServer::start().await;
    Mock::given(matchers::method("GET"))
        .and(matchers::path("/demo/rest/servicedeskapi/organization"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"start": 0, "limit": 50, "size": 0, "isLastPage": false, "values": []}),
        ))
        .expect(1)
        .mount(&server)
        .await;
    let client = site_client(&endpoints_at(&server.uri())).0.build();
    let err = client
        .organizations()
        .try_collect::<Vec<_>>()
        .await
        .unwrap_err();
    assert!(err.to_string().contains("empty page"), "{err}");
}

fn csm_pages(req: &Request) -> ResponseTemplate {
    let cursor = req
        .url
        .query_pairs()
        .find(|(k, _)| k == "cursor")
        .map(|(_, v)| v.into_owned());
    let (ids, next) = match cursor.as_deref() {
        None => (0..2, Some("c2")),
        Some("c2") => (2..4, Some("c3")),
        Some("c3") => (4..5, None),
        Some(other) => panic!("unexpected cursor {other}"),
    };
    let results: Vec<Value> = ids
        .map(|i| json!({"id": format!("prod-{i}"), "name": format!("Product {i}")}))
        .collect();
    let mut body = json!({"results": results});
    if let Some(next) = next {
        body["nextPageCursor"] = json!(next);
    }
    ResponseTemplate::new(200).set_body_json(body)
}

#[tokio::test]
async fn csm_cursor_paging_returns_every_record_once() {
    let server = MockServer::start().await;
    Mock::given(matchers::method("GET"))
        .and(matchers::path("/jsm/csm/cloudid/c-1/api/v1/product"))
        .and(matchers::query_param("limit", "50"))
        .respond_with(csm_pages)
        .expect(3)
        .mount(&server)
        .await;
    let client = csm_client(&server.uri(), "at-csm-2");
    let ids: Vec<String> = client
        .csm_products()
        .map_ok(|p| p.id)
        .try_collect()
        .await
        .unwrap();
    assert_eq!(ids, (0..5).map(|i| format!("prod-{i}")).collect::<Vec<_>>());
    assert_declared(&server).await;
}

#[tokio::test]
async fn search_jql_ends_an_a_b_a_token_cycle_with_an_error() {
    let server = MockServer::start().await;
    Mock::given(matchers::method("POST"))
        .and(matchers::path("/demo/rest/api/3/search/jql"))
        .respond_with(|req: &Request| {
            let body: Value = serde_json::from_slice(&req.body).unwrap_or_default();
            let next = match body.get("nextPageToken").and_then(Value::as_str) {
                None | Some("B") => "A",
                Some(_) => "B",
            };
            ResponseTemplate::new(200)
                .set_body_json(json!({"issues": issues(1..2), "nextPageToken": next}))
        })
        .expect(3)
        .mount(&server)
        .await;
    let client = site_client(&endpoints_at(&server.uri())).0.build();
    let results: Vec<_> = client
        .search_jql(SearchRequest {
            jql: "cycle".into(),
            ..SearchRequest::default()
        })
        .collect()
        .await;
    // None → A, A → B, B → A: the third answer points back at A.
    assert_eq!(results.len(), 3, "{results:?}");
    assert!(
        matches!(&results[2], Err(AtlassianError::Decode { detail, .. }) if detail.contains("nextPageToken already read")),
        "{:?}",
        results[2]
    );
}

#[tokio::test]
async fn csm_ends_a_cursor_cycle_with_an_error() {
    let server = MockServer::start().await;
    Mock::given(matchers::method("GET"))
        .and(matchers::path("/jsm/csm/cloudid/c-1/api/v1/product"))
        .respond_with(|req: &Request| {
            let cursor = req
                .url
                .query_pairs()
                .find(|(k, _)| k == "cursor")
                .map(|(_, v)| v.into_owned());
            // None → c2, c2 → c3, c3 → c2.
            let next = if cursor.as_deref() == Some("c2") {
                "c3"
            } else {
                "c2"
            };
            ResponseTemplate::new(200).set_body_json(json!({"results": [], "nextPageCursor": next}))
        })
        .expect(3)
        .mount(&server)
        .await;
    let client = csm_client(&server.uri(), "at-csm-2");
    let err = client
        .csm_products()
        .try_collect::<Vec<_>>()
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("nextPageCursor already read"),
        "{err}"
    );
}

#[tokio::test]
async fn jsm_ends_when_a_page_points_back_to_an_offset_already_read() {
    let server = MockServer::start().await;
    Mock::given(matchers::method("GET"))
        .and(matchers::path("/demo/rest/servicedeskapi/organization"))
        // Every page claims to start at 0, so the second one's start + size points back at 2.
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "start": 0, "limit": 50, "size": 2, "isLastPage": false,
            "values": [{"id": "1", "name": "a"}, {"id": "2", "name": "b"}]
        })))
        .expect(2)
        .mount(&server)
        .await;
    let client = site_client(&endpoints_at(&server.uri())).0.build();
    let err = client
        .organizations()
        .try_collect::<Vec<_>>()
        .await
        .unwrap_err();
    assert!(err.to_string().contains("start already read"), "{err}");
}
