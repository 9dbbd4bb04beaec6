//! The exact requests of the write operations, and how their answers are read where the
//! simulator cannot vary them: bulk create answers that do not add up, create-metadata pages
//! under other list keys, and 404s.

use jiralink_atlassian::{
    AtlassianError, BulkElement, IssueInput, JiraClient, TransitionInput, WorklogInput,
};
use pretty_assertions::assert_eq;
use serde_json::{Value, json};
use wiremock::{Mock, MockServer, Request, ResponseTemplate, matchers};

use crate::{
    endpoints_at,
    shapes::{assert_declared, common, exact_query},
    site_client,
};

async fn client(server: &MockServer) -> JiraClient {
    site_client(&endpoints_at(&server.uri())).0.build()
}

fn summary(text: &str) -> IssueInput {
    IssueInput {
        fields: json!({"summary": text}).as_object().unwrap().clone(),
        ..IssueInput::default()
    }
}

fn element_error(at: u64) -> Value {
    json!({"status": 400, "failedElementNumber": at,
        "elementErrors": {"errorMessages": [], "errors": {"summary": "You must specify a summary of the issue."}}})
}

fn created(n: u32) -> Value {
    json!({"id": (10_000 + n).to_string(), "key": format!("ED-{n}"), "self": "u"})
}

#[tokio::test]
async fn bulk_create_sends_issue_updates_and_reads_both_answers() {
    let server = MockServer::start().await;
    common(Mock::given(matchers::method("POST")))
        .and(matchers::path("/demo/rest/api/3/issue/bulk"))
        .and(matchers::header("content-type", "application/json"))
        .and(matchers::body_json(json!({"issueUpdates": [
            {"fields": {"summary": ""}}, {"fields": {"summary": "b"}}
        ]})))
        .respond_with(
            ResponseTemplate::new(201)
                .set_body_json(json!({"issues": [created(1)], "errors": [element_error(0)]})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let client = client(&server).await;
    let out = client
        .issue_bulk_create(&[summary(""), summary("b")])
        .await
        .unwrap();
    let BulkElement::Failed(e) = &out[0] else {
        panic!("{out:?}")
    };
    assert_eq!(e.status, Some(400));
    assert_eq!(
        e.field_errors["summary"],
        "You must specify a summary of the issue."
    );
    let BulkElement::Created(c) = &out[1] else {
        panic!("{out:?}")
    };
    assert_eq!(c.key, "ED-1");
    assert_declared(&server).await;
}

#[tokio::test]
async fn bulk_answers_that_do_not_add_up_or_are_no_bulk_answer_are_errors() {
    let cases = [
        // 201 listing more issues than inputs.
        (
            201,
            json!({"issues": [created(1), created(2)], "errors": [element_error(0)]}),
        ),
        // 400 with an error outside the inputs.
        (
            400,
            json!({"issues": [], "errors": [element_error(0), element_error(5)]}),
        ),
    ];
    for (status, body) in cases {
        let server = MockServer::start().await;
        Mock::given(matchers::method("POST"))
            .respond_with(ResponseTemplate::new(status).set_body_json(body))
            .mount(&server)
            .await;
        let e = client(&server)
            .await
            .issue_bulk_create(&[summary("a"), summary("b")])
            .await
            .unwrap_err();
        assert!(
            matches!(
                e,
                AtlassianError::Decode {
                    what: "createIssues",
                    ..
                }
            ),
            "{status}: {e:?}"
        );
    }

    let server = MockServer::start().await;
    Mock::given(matchers::method("POST"))
        .respond_with(ResponseTemplate::new(400).set_body_json(
            json!({"errorMessages": ["Bulk create is switched off."], "errors": {}}),
        ))
        .mount(&server)
        .await;
    let e = client(&server)
        .await
        .issue_bulk_create(&[summary("a")])
        .await
        .unwrap_err();
    let AtlassianError::BadRequest { messages, .. } = &e else {
        panic!("{e:?}")
    };
    assert_eq!(messages, &["Bulk create is switched off."]);
}

/// Serves `total` issue types two at a time under `key`, by `startAt`, whatever page size
/// was asked for.
fn meta_pages(key: &'static str, total: usize) -> impl Fn(&Request) -> ResponseTemplate {
    move |req: &Request| {
        let start: usize = req
            .url
            .query_pairs()
            .find(|(k, _)| k == "startAt")
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(0);
        let page: Vec<Value> = (start..total.min(start + 2))
            .map(|i| json!({"id": i.to_string(), "name": format!("Type {i}"), "fieldId": format!("f{i}"), "required": false, "schema": {"type": "string"}, "operations": []}))
            .collect();
        ResponseTemplate::new(200).set_body_json(json!({
            key: page, "startAt": start, "maxResults": 2, "total": total
        }))
    }
}

#[tokio::test]
async fn createmeta_follows_start_at_to_the_total_whatever_the_list_is_called() {
    let server = MockServer::start().await;
    common(Mock::given(matchers::method("GET")))
        .and(matchers::path(
            "/demo/rest/api/3/issue/createmeta/ED/issuetypes",
        ))
        .respond_with(meta_pages("values", 5))
        .expect(3)
        .mount(&server)
        .await;
    common(Mock::given(matchers::method("GET")))
        .and(matchers::path(
            "/demo/rest/api/3/issue/createmeta/ED/issuetypes/10001",
        ))
        .respond_with(meta_pages("fields", 3))
        .expect(2)
        .mount(&server)
        .await;
    let client = client(&server).await;
    let types = client.createmeta_issue_types("ED").await.unwrap();
    let ids: Vec<&str> = types.iter().map(|t| t.id.as_str()).collect();
    assert_eq!(ids, ["0", "1", "2", "3", "4"]);
    let fields = client.createmeta_fields("ED", "10001").await.unwrap();
    let ids: Vec<&str> = fields.iter().map(|f| f.field_id.as_str()).collect();
    assert_eq!(ids, ["f0", "f1", "f2"]);
    let first: Vec<(String, String)> = server.received_requests().await.unwrap()[0]
        .url
        .query_pairs()
        .into_owned()
        .collect();
    assert_eq!(
        first,
        [
            ("startAt".to_owned(), "0".to_owned()),
            ("maxResults".to_owned(), "200".to_owned())
        ]
    );
    assert_declared(&server).await;
}

#[tokio::test]
async fn createmeta_refuses_a_page_without_a_list_or_at_another_offset() {
    for body in [
        json!({"startAt": 0, "total": 3}),
        json!({"issueTypes": [], "startAt": 0, "total": 3}),
        json!({"issueTypes": [{"id": "1", "name": "Bug"}], "startAt": 7, "total": 9}),
    ] {
        let server = MockServer::start().await;
        Mock::given(matchers::method("GET"))
            .respond_with(ResponseTemplate::new(200).set_body_json(body.clone()))
            .mount(&server)
            .await;
        let e = client(&server)
            .await
            .createmeta_issue_types("ED")
            .await
            .unwrap_err();
        assert!(matches!(e, AtlassianError::Decode { .. }), "{body}: {e:?}");
    }
}

#[tokio::test]
async fn transitions_comments_worklogs_links_and_properties_send_jiras_bodies() {
    let server = MockServer::start().await;
    let adf = json!({"type": "doc", "version": 1, "content": []});
    common(Mock::given(matchers::method("GET")))
        .and(matchers::path("/demo/rest/api/3/issue/ED-1/transitions"))
        .and(exact_query(&[("expand", "transitions.fields")]))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"transitions": [
            {"id": "31", "name": "Done", "to": {"id": "10002", "name": "Done"}, "hasScreen": true,
             "fields": {"resolution": {"name": "Resolution", "required": true, "operations": ["set"], "schema": {"type": "resolution", "system": "resolution"}}}},
            {"id": "11", "name": "Start", "to": {"id": "3", "name": "In Progress"}}
        ]})))
        .expect(1)
        .mount(&server)
        .await;
    for (path, body, status) in [
        (
            "/demo/rest/api/3/issue/ED-1/transitions",
            json!({"transition": {"id": "31"}, "fields": {"resolution": {"name": "Done"}}}),
            204,
        ),
        (
            "/demo/rest/api/3/issue/ED-1/comment",
            json!({"body": adf}),
            201,
        ),
        (
            "/demo/rest/api/3/issue/ED-1/worklog",
            json!({"timeSpentSeconds": 60, "started": "2026-01-05T09:30:00.000+0000", "comment": adf}),
            201,
        ),
        (
            "/demo/rest/api/3/issueLink",
            json!({"type": {"name": "Blocks"}, "inwardIssue": {"key": "ED-1"}, "outwardIssue": {"key": "ED-2"}}),
            201,
        ),
    ] {
        let answer = if status == 201 && !path.ends_with("issueLink") {
            ResponseTemplate::new(201).set_body_json(json!({"id": "1"}))
        } else {
            ResponseTemplate::new(status)
        };
        common(Mock::given(matchers::method("POST")))
            .and(matchers::path(path))
            .and(exact_query(&[]))
            .and(matchers::header("content-type", "application/json"))
            .and(matchers::body_json(body))
            .respond_with(answer)
            .expect(1)
            .mount(&server)
            .await;
    }
    common(Mock::given(matchers::method("PUT")))
        .and(matchers::path(
            "/demo/rest/api/3/issue/ED-1/properties/import",
        ))
        .and(matchers::body_json(json!({"n": 1})))
        .respond_with(ResponseTemplate::new(201))
        .expect(1)
        .mount(&server)
        .await;

    let client = client(&server).await;
    let transitions = client.issue_transitions("ED-1").await.unwrap();
    assert_eq!(transitions.len(), 2);
    assert_eq!(transitions[0].to.name, "Done");
    assert!(transitions[0].fields["resolution"].required);
    assert_eq!(transitions[0].fields["resolution"].field_id, "resolution");
    assert_eq!(transitions[0].extra["hasScreen"], true);
    assert!(transitions[1].fields.is_empty());
    client
        .issue_transition(
            "ED-1",
            &TransitionInput {
                id: "31".into(),
                fields: json!({"resolution": {"name": "Done"}})
                    .as_object()
                    .unwrap()
                    .clone(),
                ..TransitionInput::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(client.comment_add("ED-1", &adf).await.unwrap()["id"], "1");
    let worklog = WorklogInput {
        time_spent_seconds: 60,
        started: "2026-01-05T09:30:00.000+0000".into(),
        comment: Some(adf.clone()),
    };
    client.worklog_add("ED-1", &worklog).await.unwrap();
    client
        .issue_link_create("Blocks", "ED-1", "ED-2")
        .await
        .unwrap();
    client
        .issue_property_set("ED-1", "import", &json!({"n": 1}))
        .await
        .unwrap();
    assert_declared(&server).await;
}

#[tokio::test]
async fn an_upload_is_one_multipart_file_part_exempt_from_the_xsrf_check() {
    let server = MockServer::start().await;
    common(Mock::given(matchers::method("POST")))
        .and(matchers::path("/demo/rest/api/3/issue/ED-1/attachments"))
        .and(matchers::header("x-atlassian-token", "no-check"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!([{"id": "10", "filename": "a.png"}])),
        )
        .expect(1)
        .mount(&server)
        .await;
    let png = vec![0x89, b'P', b'N', b'G', 0, 0xff];
    let out = client(&server)
        .await
        .attachment_add("ED-1", "a.png", "image/png", png.clone())
        .await
        .unwrap();
    assert_eq!(out[0]["id"], "10");

    let request = &server.received_requests().await.unwrap()[0];
    let content_type = request.headers["content-type"].to_str().unwrap();
    let boundary = content_type
        .strip_prefix("multipart/form-data; boundary=")
        .unwrap_or_else(|| panic!("{content_type}"));
    let mut expected = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.png\"\r\n\
         Content-Type: image/png\r\n\r\n"
    )
    .into_bytes();
    expected.extend_from_slice(&png);
    expected.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    assert_eq!(request.body, expected);
    assert_declared(&server).await;
}

#[tokio::test]
async fn a_missing_property_or_issue_is_none_but_an_unknown_site_is_an_error() {
    let server = MockServer::start().await;
    Mock::given(matchers::method("GET"))
        .and(matchers::path("/demo/rest/api/3/issue/ED-1/properties/import"))
        .respond_with(ResponseTemplate::new(404).set_body_json(
            json!({"errorMessages": ["The property with key 'import' does not exist."], "errors": {}}),
        ))
        .mount(&server)
        .await;
    Mock::given(matchers::method("GET"))
        .and(matchers::path("/demo/rest/api/3/issue/ED-2"))
        .respond_with(ResponseTemplate::new(404).set_body_json(
            json!({"errorMessages": ["Issue does not exist or you do not have permission to see it."], "errors": {}}),
        ))
        .mount(&server)
        .await;
    Mock::given(matchers::method("GET"))
        .respond_with(
            ResponseTemplate::new(404)
                .insert_header("content-type", "text/html")
                .set_body_string("<html>Site not found</html>"),
        )
        .mount(&server)
        .await;
    let client = client(&server).await;
    assert_eq!(
        client.issue_property_get("ED-1", "import").await.unwrap(),
        None
    );
    assert_eq!(client.issue_find("ED-2", &[]).await.unwrap(), None);
    let e = client.issue_find("ED-3", &[]).await.unwrap_err();
    assert!(
        matches!(e, AtlassianError::NotFound { html: true, .. }),
        "{e:?}"
    );
    let e = client
        .issue_property_get("ED-3", "import")
        .await
        .unwrap_err();
    assert!(
        matches!(e, AtlassianError::NotFound { html: true, .. }),
        "{e:?}"
    );
}

#[tokio::test]
async fn users_are_searched_by_query() {
    let server = MockServer::start().await;
    common(Mock::given(matchers::method("GET")))
        .and(matchers::path("/demo/rest/api/3/user/search"))
        .and(exact_query(&[("query", "mia@example.com")]))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([{
            "accountId": "5b10a2844c20165700ede21g", "accountType": "atlassian", "active": true,
            "displayName": "Mia Krystof", "emailAddress": "mia@example.com", "self": "u"
        }])))
        .expect(1)
        .mount(&server)
        .await;
    let users = client(&server)
        .await
        .users_find("mia@example.com")
        .await
        .unwrap();
    assert_eq!(users[0].account_id, "5b10a2844c20165700ede21g");
    assert_eq!(users[0].display_name.as_deref(), Some("Mia Krystof"));
    assert_eq!(users[0].extra["self"], "u");
    assert_declared(&server).await;
}
