//! The exact requests each typed operation sends: method, path, query, headers and body.

use std::sync::Arc;

use futures::TryStreamExt as _;
use jiralink_atlassian::{
    AccessibleResource, ApiBase, AuthRoute, BulkFetchRequest, Credentials, EditOptions, IssueInput,
    SearchRequest, StaticToken, USER_AGENT, operation,
};
use jiralink_domain::ApiType;
use jiralink_vault::AccessToken;
use pretty_assertions::assert_eq;
use serde_json::json;
use wiremock::{Mock, MockServer, Request, ResponseTemplate, matchers};

use crate::{BASIC, builder, csm_client, endpoints_at, site_client};

/// Matches when the query holds exactly `expected`, in order.
pub(crate) fn exact_query(
    expected: &'static [(&'static str, &'static str)],
) -> impl Fn(&Request) -> bool {
    move |req: &Request| {
        let got: Vec<(String, String)> = req.url.query_pairs().into_owned().collect();
        let want: Vec<(String, String)> = expected
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        got == want
    }
}

fn no_header(name: &'static str) -> impl Fn(&Request) -> bool {
    move |req: &Request| !req.headers.contains_key(name)
}

/// The headers every JSON request carries.
pub(crate) fn common(mock: wiremock::MockBuilder) -> wiremock::MockBuilder {
    mock.and(matchers::header("accept", "application/json"))
        .and(matchers::header("user-agent", USER_AGENT))
}

/// Every received request matches an operation of the catalogue, and sends only query
/// parameters that operation declares.
pub(crate) async fn assert_declared(server: &MockServer) {
    for req in server.received_requests().await.unwrap_or_default() {
        let path: Vec<&str> = req.url.path().trim_matches('/').split('/').collect();
        let op = operation::ALL
            .iter()
            .find(|op| {
                let template: Vec<&str> = op.path.trim_matches('/').split('/').collect();
                op.method.as_str() == req.method.as_str()
                    && path.len() >= template.len()
                    && path[path.len() - template.len()..]
                        .iter()
                        .zip(&template)
                        .all(|(p, t)| t.starts_with('{') || p == t)
            })
            .unwrap_or_else(|| panic!("no operation for {} {}", req.method, req.url));
        for (name, _) in req.url.query_pairs() {
            assert!(
                op.query.contains(&name.as_ref()),
                "{} sent undeclared query parameter {name}",
                op.id
            );
        }
    }
}

#[tokio::test]
async fn myself_and_server_info() {
    let server = MockServer::start().await;
    common(Mock::given(matchers::method("GET")))
        .and(matchers::path("/demo/rest/api/3/myself"))
        .and(exact_query(&[]))
        .and(matchers::header("authorization", BASIC))
        .and(no_header("content-type"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "accountId": "5b10a2844c20165700ede21g", "displayName": "Fred", "emailAddress": "fred@example.com",
            "timeZone": "Europe/Berlin", "active": true, "accountType": "atlassian",
        })))
        .expect(1)
        .mount(&server)
        .await;
    common(Mock::given(matchers::method("GET")))
        .and(matchers::path("/demo/rest/api/3/serverInfo"))
        .and(matchers::header("authorization", BASIC))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "baseUrl": "https://demo.atlassian.net", "version": "1001.0.0", "deploymentType": "Cloud",
        })))
        .expect(1)
        .mount(&server)
        .await;
    let (b, _) = site_client(&endpoints_at(&server.uri()));
    let client = b.build();
    let me = client.myself().await.unwrap();
    assert_eq!(me.account_id, "5b10a2844c20165700ede21g");
    assert_eq!(me.time_zone.as_deref(), Some("Europe/Berlin"));
    let info = client.server_info().await.unwrap();
    assert_eq!(info.deployment_type.as_deref(), Some("Cloud"));
    assert_declared(&server).await;
}

#[tokio::test]
async fn accessible_resources_use_the_bearer_token_on_the_gateway() {
    let server = MockServer::start().await;
    common(Mock::given(matchers::method("GET")))
        .and(matchers::path("/oauth/token/accessible-resources"))
        .and(matchers::header("authorization", "Bearer at-123456"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([{
            "id": "1324a887-45db-1bf4-1e99-ef0ff456d421", "name": "Site name",
            "url": "https://your-domain.atlassian.net", "scopes": ["write:jira-work"], "avatarUrl": "https://a/x.png"
        }])))
        .expect(1)
        .mount(&server)
        .await;
    let endpoints = endpoints_at(&server.uri());
    let base = ApiBase::resolve(
        &endpoints,
        ApiType::CloudPlatform,
        AuthRoute::OAuth2,
        None,
        Some("c-1"),
    )
    .unwrap();
    let creds = Credentials::Bearer(Arc::new(StaticToken::new(AccessToken::new("at-123456"))));
    let client = builder(base, creds).0.build();
    let resources = client.accessible_resources().await.unwrap();
    assert_eq!(
        resources,
        [AccessibleResource {
            id: "1324a887-45db-1bf4-1e99-ef0ff456d421".into(),
            name: "Site name".into(),
            url: "https://your-domain.atlassian.net".into(),
            scopes: vec!["write:jira-work".into()],
            avatar_url: Some("https://a/x.png".into()),
        }]
    );
    assert_declared(&server).await;
}

#[tokio::test]
async fn tenant_info_is_asked_without_credentials() {
    let server = MockServer::start().await;
    common(Mock::given(matchers::method("GET")))
        .and(matchers::path("/demo/_edge/tenant_info"))
        .and(no_header("authorization"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"cloudId": "c-77"})))
        .expect(1)
        .mount(&server)
        .await;
    let client = site_client(&endpoints_at(&server.uri())).0.build();
    assert_eq!(client.tenant_info().await.unwrap().cloud_id, "c-77");
}

#[tokio::test]
async fn search_count_get_and_bulkfetch() {
    let server = MockServer::start().await;
    common(Mock::given(matchers::method("POST")))
        .and(matchers::path("/demo/rest/api/3/search/jql"))
        .and(exact_query(&[]))
        .and(matchers::header("content-type", "application/json"))
        .and(matchers::header("authorization", BASIC))
        .and(matchers::body_json(json!({
            "jql": "project = HSP ORDER BY key", "fields": ["summary", "status"], "expand": "names", "maxResults": 100
        })))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "issues": [{"id": "10001", "key": "HSP-1", "self": "u", "fields": {"summary": "s"}}], "isLast": true
        })))
        .expect(1)
        .mount(&server)
        .await;
    common(Mock::given(matchers::method("POST")))
        .and(matchers::path("/demo/rest/api/3/search/approximate-count"))
        .and(matchers::header("content-type", "application/json"))
        .and(matchers::body_json(json!({"jql": "project = HSP"})))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"count": 153})))
        .expect(1)
        .mount(&server)
        .await;
    common(Mock::given(matchers::method("GET")))
        .and(matchers::path("/demo/rest/api/3/issue/HSP-1"))
        .and(exact_query(&[("fields", "summary,status")]))
        .and(no_header("content-type"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"id": "10001", "key": "HSP-1", "fields": {"summary": "s"}})),
        )
        .expect(1)
        .mount(&server)
        .await;
    common(Mock::given(matchers::method("POST")))
        .and(matchers::path("/demo/rest/api/3/issue/bulkfetch"))
        .and(matchers::body_json(
            json!({"issueIdsOrKeys": ["HSP-1", "10002"], "fields": ["summary"]}),
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "issues": [{"id": "10001", "key": "HSP-1", "fields": {}}],
            "issueErrors": [{"id": "10002", "errorMessage": "not found"}]
        })))
        .expect(1)
        .mount(&server)
        .await;

    let client = site_client(&endpoints_at(&server.uri())).0.build();
    let found: Vec<_> = client
        .search_jql(SearchRequest {
            jql: "project = HSP ORDER BY key".into(),
            fields: vec!["summary".into(), "status".into()],
            expand: Some("names".into()),
            max_results: Some(100),
            ..SearchRequest::default()
        })
        .try_collect()
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].key.as_deref(), Some("HSP-1"));
    assert_eq!(
        client.approximate_count("project = HSP").await.unwrap(),
        153
    );
    let issue = client
        .issue_get("HSP-1", &["summary", "status"])
        .await
        .unwrap();
    assert_eq!(issue.fields["summary"], "s");
    let bulk = client
        .issue_bulkfetch(&BulkFetchRequest {
            issue_ids_or_keys: vec!["HSP-1".into(), "10002".into()],
            fields: vec!["summary".into()],
            ..BulkFetchRequest::default()
        })
        .await
        .unwrap();
    assert_eq!((bulk.issues.len(), bulk.issue_errors.len()), (1, 1));
    assert_declared(&server).await;
}

#[tokio::test]
async fn create_and_edit() {
    let server = MockServer::start().await;
    let fields = json!({"project": {"id": "10000"}, "issuetype": {"id": "10000"}, "summary": "Main order flow broken"});
    common(Mock::given(matchers::method("POST")))
        .and(matchers::path("/demo/rest/api/3/issue"))
        .and(exact_query(&[]))
        .and(matchers::header("content-type", "application/json"))
        .and(matchers::header("authorization", BASIC))
        .and(matchers::body_json(json!({"fields": fields})))
        .respond_with(
            ResponseTemplate::new(201)
                .set_body_json(json!({"id": "10000", "key": "ED-24", "self": "u"})),
        )
        .expect(1)
        .mount(&server)
        .await;
    common(Mock::given(matchers::method("PUT")))
        .and(matchers::path("/demo/rest/api/3/issue/ED-24"))
        .and(exact_query(&[("notifyUsers", "false")]))
        .and(matchers::body_json(
            json!({"fields": {"summary": "Fixed"}, "update": {"labels": [{"add": "triaged"}]}}),
        ))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&server)
        .await;
    common(Mock::given(matchers::method("PUT")))
        .and(matchers::path("/demo/rest/api/3/issue/ED-25"))
        .and(exact_query(&[]))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&server)
        .await;

    let client = site_client(&endpoints_at(&server.uri())).0.build();
    let created = client
        .issue_create(&IssueInput {
            fields: fields.as_object().unwrap().clone(),
            ..IssueInput::default()
        })
        .await
        .unwrap();
    assert_eq!(created.key, "ED-24");
    let edit = IssueInput {
        fields: json!({"summary": "Fixed"}).as_object().unwrap().clone(),
        update: json!({"labels": [{"add": "triaged"}]})
            .as_object()
            .unwrap()
            .clone(),
        ..IssueInput::default()
    };
    client
        .issue_edit(
            "ED-24",
            &edit,
            EditOptions {
                notify_users: false,
            },
        )
        .await
        .unwrap();
    client
        .issue_edit("ED-25", &edit, EditOptions::default())
        .await
        .unwrap();
    assert_declared(&server).await;
}

#[tokio::test]
async fn service_desk_and_csm_first_pages() {
    let server = MockServer::start().await;
    common(Mock::given(matchers::method("GET")))
        .and(matchers::path("/demo/rest/servicedeskapi/servicedesk"))
        .and(exact_query(&[("start", "0"), ("limit", "50")]))
        .and(matchers::header("authorization", BASIC))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "start": 0, "limit": 50, "size": 1, "isLastPage": true,
            "values": [{"id": "10", "projectId": "11000", "projectKey": "HELP", "projectName": "Help"}]
        })))
        .expect(1)
        .mount(&server)
        .await;
    let client = site_client(&endpoints_at(&server.uri())).0.build();
    let desks: Vec<_> = client.service_desks().try_collect().await.unwrap();
    assert_eq!(desks[0].project_key.as_deref(), Some("HELP"));

    common(Mock::given(matchers::method("GET")))
        .and(matchers::path("/jsm/csm/cloudid/c-1/api/v1/customer/details"))
        .and(exact_query(&[("limit", "1")]))
        .and(matchers::header("authorization", "Bearer at-csm-1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "results": [{"name": "Region", "type": {"name": "SELECT", "options": ["AU", "EU"]}, "configuration": {"position": 1}}]
        })))
        .expect(1)
        .mount(&server)
        .await;
    let csm = csm_client(&server.uri(), "at-csm-1");
    let fields = csm.csm_customer_details_page().await.unwrap();
    assert_eq!(fields[0].name, "Region");
    assert_eq!(fields[0].field_type["name"], "SELECT");
    assert!(fields[0].extra.contains_key("configuration"));
    let err = csm.myself().await.unwrap_err();
    assert!(err.to_string().contains("not available"), "{err}");

    // The one-item pages a connection test may read.
    for (path, body) in [
        (
            "/jsm/csm/cloudid/c-1/api/v1/organization/details",
            json!({"results": [{"name": "Industry", "type": {"name": "SELECT"}}]}),
        ),
        (
            "/jsm/csm/cloudid/c-1/api/v1/product",
            json!({"results": [{"id": "p-1", "name": "Acme Widget"}], "nextPageCursor": "b2Zmc2V0OjE"}),
        ),
        (
            "/jsm/csm/cloudid/c-1/api/v1/entitlements",
            json!({"results": [{"id": "e-1", "product": {"id": "p-1", "name": "Acme Widget"}}]}),
        ),
    ] {
        common(Mock::given(matchers::method("GET")))
            .and(matchers::path(path))
            .and(exact_query(&[("limit", "1")]))
            .and(matchers::header("authorization", "Bearer at-csm-1"))
            .respond_with(ResponseTemplate::new(200).set_body_json(body))
            .expect(1)
            .mount(&server)
            .await;
    }
    let fields = csm.csm_organization_details_page().await.unwrap();
    assert_eq!(fields[0].name, "Industry");
    let products = csm.csm_products_page().await.unwrap();
    assert_eq!(products[0].name, "Acme Widget");
    let entitlements = csm.csm_entitlements_page().await.unwrap();
    assert_eq!(entitlements[0]["id"], "e-1");
    assert_declared(&server).await;
}

#[tokio::test]
async fn redirects_are_not_followed() {
    let server = MockServer::start().await;
    Mock::given(matchers::method("GET"))
        .and(matchers::path("/demo/rest/api/3/myself"))
        .respond_with(
            ResponseTemplate::new(302)
                .insert_header("location", "https://login.example.com/sso?next=x"),
        )
        .expect(1)
        .mount(&server)
        .await;
    let client = site_client(&endpoints_at(&server.uri())).0.build();
    let err = client.myself().await.unwrap_err();
    assert!(
        matches!(&err, jiralink_atlassian::AtlassianError::Redirect { status: 302, location: Some(l) } if l == "https://login.example.com/sso"),
        "{err:?}"
    );
}
