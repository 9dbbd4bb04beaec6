//! Jira Service Management: service desks, request types, customers, organizations, paging,
//! the experimental opt-in, `X-AACCOUNTID`, scopes, and response shapes checked against the JSM
//! OpenAPI document.

use std::collections::BTreeSet;

use pretty_assertions::assert_eq;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use jiralink_sim::SimHandle;

use crate::{
    alice_classic, assert_matches_schema, basic, client, gateway, read_spec, scoped_token, start,
};

const SPEC: &str = "jira-service-management.openapi.json";

fn spec() -> Value {
    read_spec(SPEC)
}

fn api(sim: &SimHandle) -> String {
    format!("{}/rest/servicedeskapi", sim.site_url("demo"))
}

struct Reply {
    status: StatusCode,
    headers: reqwest::header::HeaderMap,
    body: Value,
}

async fn send(
    method: Method,
    url: &str,
    auth: Option<&str>,
    opt_in: bool,
    body: Option<Value>,
) -> Reply {
    let mut req = client().request(method, url);
    if let Some(a) = auth {
        req = req.header("authorization", a);
    }
    if opt_in {
        req = req.header("x-experimentalapi", "opt-in");
    }
    if let Some(b) = &body {
        req = req.json(b);
    }
    let res = req.send().await.expect("request completes");
    let status = res.status();
    let headers = res.headers().clone();
    let text = res.text().await.expect("body");
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    };
    Reply {
        status,
        headers,
        body,
    }
}

async fn get(sim: &SimHandle, path: &str) -> Reply {
    send(
        Method::GET,
        &format!("{}{path}", api(sim)),
        Some(&alice_classic(sim)),
        false,
        None,
    )
    .await
}

async fn get_opt_in(sim: &SimHandle, path: &str) -> Reply {
    send(
        Method::GET,
        &format!("{}{path}", api(sim)),
        Some(&alice_classic(sim)),
        true,
        None,
    )
    .await
}

async fn write(sim: &SimHandle, method: Method, path: &str, opt_in: bool, body: Value) -> Reply {
    send(
        method,
        &format!("{}{path}", api(sim)),
        Some(&alice_classic(sim)),
        opt_in,
        Some(body),
    )
    .await
}

fn alice_id(sim: &SimHandle) -> String {
    sim.control()
        .site("demo")
        .expect("site")
        .members
        .into_iter()
        .find(|m| {
            sim.control()
                .state()
                .directory()
                .users
                .get(m)
                .is_some_and(|u| u.email == "alice@example.com")
        })
        .expect("alice")
}

/// Follows `start`/`limit` pages until `isLastPage`, checking each page's bookkeeping.
async fn all_pages(sim: &SimHandle, path: &str, limit: usize, opt_in: bool) -> Vec<Value> {
    let mut values = Vec::new();
    let mut start = 0;
    let sep = if path.contains('?') { '&' } else { '?' };
    loop {
        let url = format!("{path}{sep}start={start}&limit={limit}");
        let r = if opt_in {
            get_opt_in(sim, &url).await
        } else {
            get(sim, &url).await
        };
        assert_eq!(r.status, StatusCode::OK, "{url}: {}", r.body);
        let page = r.body;
        assert_eq!(page["start"], start);
        assert_eq!(page["limit"], limit);
        let items = page["values"].as_array().expect("values").clone();
        assert_eq!(page["size"], items.len());
        let last = page["isLastPage"].as_bool().expect("isLastPage");
        if !last {
            assert_eq!(items.len(), limit, "only the last page is short");
            assert!(page["_links"]["next"].is_string());
        }
        values.extend(items);
        if last {
            assert!(page["_links"].get("next").is_none());
            return values;
        }
        start += limit;
    }
}

#[tokio::test]
async fn service_desks_accept_every_identifier_and_match_the_schema() {
    let sim = start().await;
    let spec = spec();
    let r = get(&sim, "/servicedesk").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_matches_schema(&spec, "PagedDTOServiceDeskDTO", &r.body);
    assert_eq!(
        r.headers["x-aaccountid"].to_str().expect("ascii"),
        alice_id(&sim)
    );
    let desk = &r.body["values"][0];
    assert_eq!(desk["projectKey"], "HELP");
    assert_eq!(r.body["_links"]["base"], api(&sim));
    for id in ["1", "HELP", "projectKey:HELP", "projectId:10003"] {
        let r = get(&sim, &format!("/servicedesk/{id}")).await;
        assert_eq!(r.status, StatusCode::OK, "{id}");
        assert_matches_schema(&spec, "ServiceDeskDTO", &r.body);
        assert_eq!(&r.body, desk);
    }
    let r = get(&sim, "/servicedesk/NOPE").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_matches_schema(&spec, "ErrorResponse", &r.body);
    assert!(r.body["errorMessage"].is_string());
    assert_eq!(r.body["i18nErrorMessage"]["parameters"], json!([]));

    let unauth = send(
        Method::GET,
        &format!("{}/servicedesk", api(&sim)),
        None,
        false,
        None,
    )
    .await;
    assert_eq!(unauth.status, StatusCode::UNAUTHORIZED);
    assert!(unauth.headers.get("x-aaccountid").is_none());

    // Through the gateway, links use the gateway base.
    let url = format!(
        "{}/rest/servicedeskapi/servicedesk/1",
        gateway(&sim, "demo")
    );
    let r = send(Method::GET, &url, Some(&alice_classic(&sim)), false, None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["_links"]["self"], url);
}

#[tokio::test]
async fn request_types_filter_expand_and_match_the_schema() {
    let sim = start().await;
    let spec = spec();
    let r = get(&sim, "/servicedesk/HELP/requesttype").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_matches_schema(&spec, "PagedDTORequestTypeDTO", &r.body);
    assert_eq!(r.body["size"], 4);

    let names = |r: &Reply| -> Vec<String> {
        r.body["values"]
            .as_array()
            .expect("values")
            .iter()
            .map(|v| v["name"].as_str().expect("name").to_owned())
            .collect()
    };
    let r = get(&sim, "/servicedesk/1/requesttype?searchQuery=onboard").await;
    assert_eq!(
        names(&r),
        Vec::<String>::new(),
        "hidden types are left out of searches"
    );
    let r = get(
        &sim,
        "/servicedesk/1/requesttype?searchQuery=onboard&includeHiddenRequestTypesInSearch=true",
    )
    .await;
    assert_eq!(names(&r), vec!["Onboard a new employee"]);
    let r = get(&sim, "/servicedesk/1/requesttype?searchQuery=SYSTEM").await;
    assert_eq!(names(&r), vec!["Report a system problem"]);
    let r = get(&sim, "/servicedesk/1/requesttype?groupId=1").await;
    assert_eq!(names(&r), vec!["Get IT help", "Report a system problem"]);
    let r = get(
        &sim,
        "/servicedesk/1/requesttype?restrictionStatus=restricted",
    )
    .await;
    assert_eq!(r.body["size"], 0);
    let r = get(&sim, "/servicedesk/1/requesttype?restrictionStatus=maybe").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_matches_schema(&spec, "ErrorResponse", &r.body);

    let r = get(&sim, "/servicedesk/1/requesttype/2?expand=field").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_matches_schema(&spec, "RequestTypeDTO", &r.body);
    assert_eq!(
        r.body["fields"]["requestTypeFields"][0]["fieldId"],
        "summary"
    );
    let r = get(&sim, "/servicedesk/1/requesttype/2/field").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_matches_schema(&spec, "CustomerRequestCreateMetaDTO", &r.body);
    let fields = r.body["requestTypeFields"].as_array().expect("fields");
    let select = fields
        .iter()
        .find(|f| !f["validValues"].as_array().expect("values").is_empty())
        .expect("a select field");
    assert_eq!(select["required"], true);
    assert_eq!(r.body["canRaiseOnBehalfOf"], true);

    for path in [
        "/servicedesk/1/requesttype/99",
        "/servicedesk/1/requesttype/abc",
        "/servicedesk/9/requesttype/1/field",
    ] {
        let r = get(&sim, path).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{path}");
        assert_matches_schema(&spec, "ErrorResponse", &r.body);
    }
}

#[tokio::test]
async fn experimental_operations_need_the_opt_in_header() {
    let sim = start().await;
    let spec = spec();
    let r = get(&sim, "/requesttype").await;
    assert_eq!(r.status, StatusCode::PRECONDITION_FAILED);
    assert_matches_schema(&spec, "ErrorResponse", &r.body);
    assert!(
        r.body["errorMessage"]
            .as_str()
            .expect("message")
            .contains("X-ExperimentalApi: opt-in")
    );
    let r = get_opt_in(&sim, "/requesttype?serviceDeskId=1&serviceDeskId=2").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_matches_schema(&spec, "PagedDTORequestTypeDTO", &r.body);
    assert_eq!(r.body["size"], 4);
    let r = get_opt_in(&sim, "/requesttype?serviceDeskId=2").await;
    assert_eq!(r.body["size"], 0);
    let r = get_opt_in(&sim, "/requesttype?serviceDeskId=x").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);

    assert_eq!(
        get(&sim, "/servicedesk/1/customer").await.status,
        StatusCode::PRECONDITION_FAILED
    );
    let r = write(
        &sim,
        Method::DELETE,
        "/servicedesk/1/customer",
        false,
        json!({"accountIds":[]}),
    )
    .await;
    assert_eq!(r.status, StatusCode::PRECONDITION_FAILED);
    // Without credentials the 401 comes first.
    let r = send(
        Method::GET,
        &format!("{}/requesttype", api(&sim)),
        None,
        false,
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

/// Every operation served here, with whether the OpenAPI document marks it experimental.
const SERVED: &[(&str, &str)] = &[
    ("get", "/rest/servicedeskapi/servicedesk"),
    ("get", "/rest/servicedeskapi/servicedesk/{serviceDeskId}"),
    (
        "get",
        "/rest/servicedeskapi/servicedesk/{serviceDeskId}/requesttype",
    ),
    (
        "get",
        "/rest/servicedeskapi/servicedesk/{serviceDeskId}/requesttype/{requestTypeId}",
    ),
    (
        "get",
        "/rest/servicedeskapi/servicedesk/{serviceDeskId}/requesttype/{requestTypeId}/field",
    ),
    ("get", "/rest/servicedeskapi/requesttype"),
    ("post", "/rest/servicedeskapi/customer"),
    (
        "get",
        "/rest/servicedeskapi/servicedesk/{serviceDeskId}/customer",
    ),
    (
        "post",
        "/rest/servicedeskapi/servicedesk/{serviceDeskId}/customer",
    ),
    (
        "delete",
        "/rest/servicedeskapi/servicedesk/{serviceDeskId}/customer",
    ),
    ("get", "/rest/servicedeskapi/organization"),
    ("post", "/rest/servicedeskapi/organization"),
    ("get", "/rest/servicedeskapi/organization/{organizationId}"),
    (
        "delete",
        "/rest/servicedeskapi/organization/{organizationId}",
    ),
    (
        "get",
        "/rest/servicedeskapi/organization/{organizationId}/user",
    ),
    (
        "post",
        "/rest/servicedeskapi/organization/{organizationId}/user",
    ),
    (
        "delete",
        "/rest/servicedeskapi/organization/{organizationId}/user",
    ),
    (
        "get",
        "/rest/servicedeskapi/servicedesk/{serviceDeskId}/organization",
    ),
    (
        "post",
        "/rest/servicedeskapi/servicedesk/{serviceDeskId}/organization",
    ),
    (
        "delete",
        "/rest/servicedeskapi/servicedesk/{serviceDeskId}/organization",
    ),
    (
        "get",
        "/rest/servicedeskapi/request/{issueIdOrKey}/transition",
    ),
    (
        "post",
        "/rest/servicedeskapi/request/{issueIdOrKey}/transition",
    ),
    (
        "get",
        "/rest/servicedeskapi/request/{issueIdOrKey}/participant",
    ),
    (
        "post",
        "/rest/servicedeskapi/request/{issueIdOrKey}/participant",
    ),
    (
        "delete",
        "/rest/servicedeskapi/request/{issueIdOrKey}/participant",
    ),
    ("get", "/rest/servicedeskapi/request/{issueIdOrKey}/sla"),
    (
        "get",
        "/rest/servicedeskapi/request/{issueIdOrKey}/sla/{slaMetricId}",
    ),
    (
        "get",
        "/rest/servicedeskapi/servicedesk/{serviceDeskId}/queue",
    ),
    (
        "get",
        "/rest/servicedeskapi/servicedesk/{serviceDeskId}/queue/{queueId}",
    ),
    (
        "get",
        "/rest/servicedeskapi/servicedesk/{serviceDeskId}/queue/{queueId}/issue",
    ),
    (
        "get",
        "/rest/servicedeskapi/request/{issueIdOrKey}/approval",
    ),
    (
        "get",
        "/rest/servicedeskapi/request/{issueIdOrKey}/approval/{approvalId}",
    ),
    (
        "post",
        "/rest/servicedeskapi/request/{issueIdOrKey}/approval/{approvalId}",
    ),
    (
        "post",
        "/rest/servicedeskapi/servicedesk/{serviceDeskId}/attachTemporaryFile",
    ),
    (
        "get",
        "/rest/servicedeskapi/request/{issueIdOrKey}/attachment",
    ),
    (
        "post",
        "/rest/servicedeskapi/request/{issueIdOrKey}/attachment",
    ),
    (
        "get",
        "/rest/servicedeskapi/request/{issueIdOrKey}/comment/{commentId}/attachment",
    ),
];

#[test]
fn the_experimental_list_matches_the_openapi_document() {
    let spec = spec();
    let mut from_spec = BTreeSet::new();
    for (method, path) in SERVED {
        let op = &spec["paths"][*path][*method];
        assert!(op.is_object(), "{method} {path} is in the document");
        if op["x-experimental"] == json!(true) {
            from_spec.insert((method.to_uppercase(), (*path).to_owned()));
        }
    }
    let ours: BTreeSet<(String, String)> = jiralink_sim::jsm::EXPERIMENTAL
        .iter()
        .map(|(m, p)| ((*m).to_owned(), (*p).to_owned()))
        .collect();
    assert_eq!(ours, from_spec);
}

#[tokio::test]
async fn creating_customers_reports_duplicates_as_400_or_409() {
    let sim = start().await;
    let spec = spec();
    let body = json!({"email":"fred@example.org","displayName":"Fred F. User"});
    let r = write(&sim, Method::POST, "/customer", false, body.clone()).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_matches_schema(&spec, "UserDTO", &r.body);
    assert_eq!(r.body["displayName"], "Fred F. User");
    assert!(r.body["accountId"].as_str().expect("id").starts_with("qm:"));

    let r = write(&sim, Method::POST, "/customer", false, body.clone()).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_matches_schema(&spec, "ErrorResponse", &r.body);
    let r = write(
        &sim,
        Method::POST,
        "/customer?strictConflictStatusCode=true",
        false,
        body,
    )
    .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_matches_schema(&spec, "ErrorResponse", &r.body);
    let r = write(
        &sim,
        Method::POST,
        "/customer?strictConflictStatusCode=true",
        false,
        json!({"email":"bob@example.com","displayName":"Bob again"}),
    )
    .await;
    assert_eq!(
        r.status,
        StatusCode::CONFLICT,
        "site users count as accounts"
    );
    for bad in [
        json!({"email":"not-an-email","displayName":"X"}),
        json!({"email":"x@example.org"}),
        json!("not an object"),
    ] {
        let r = write(&sim, Method::POST, "/customer", false, bad.clone()).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}");
        assert_matches_schema(&spec, "ErrorResponse", &r.body);
    }
    let r = write(
        &sim,
        Method::POST,
        "/customer",
        false,
        json!({"email":"legacy@example.org","fullName":"Legacy Name"}),
    )
    .await;
    assert_eq!(
        r.status,
        StatusCode::CREATED,
        "fullName is the deprecated alias"
    );
    assert_eq!(r.body["displayName"], "Legacy Name");
}

#[tokio::test]
async fn service_desk_customers_page_filter_add_and_remove() {
    let sim = start().await;
    let spec = spec();
    let first = get_opt_in(&sim, "/servicedesk/1/customer?limit=5").await;
    assert_matches_schema(&spec, "PagedDTOUserDTO", &first.body);
    let all = all_pages(&sim, "/servicedesk/1/customer", 5, true).await;
    let ids: BTreeSet<&str> = all
        .iter()
        .map(|u| u["accountId"].as_str().expect("id"))
        .collect();
    assert_eq!(all.len(), 18);
    assert_eq!(ids.len(), 18, "every customer exactly once");

    let r = get_opt_in(&sim, "/servicedesk/HELP/customer?query=LOPEZ").await;
    assert_eq!(r.body["size"], 1);
    assert_eq!(
        r.body["values"][0]["emailAddress"],
        "dana.lopez@customer.example"
    );
    let r = get_opt_in(&sim, "/servicedesk/1/customer?limit=500").await;
    assert_eq!(r.body["limit"], 50, "limit is capped");

    let created = write(
        &sim,
        Method::POST,
        "/customer",
        false,
        json!({"email":"new@customer.example","displayName":"New Customer"}),
    )
    .await;
    let new_id = created.body["accountId"].as_str().expect("id").to_owned();
    let r = write(
        &sim,
        Method::POST,
        "/servicedesk/1/customer",
        false,
        json!({"accountIds":[new_id, "qm:nobody:0"]}),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "one account is unknown");
    assert_matches_schema(&spec, "ErrorResponse", &r.body);
    let r = get_opt_in(&sim, "/servicedesk/1/customer?query=new@customer").await;
    assert_eq!(r.body["size"], 1, "the valid account was still added");
    let r = write(
        &sim,
        Method::POST,
        "/servicedesk/1/customer",
        false,
        json!({"accountIds":[new_id, alice_id(&sim)]}),
    )
    .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "adding again is fine");
    assert_eq!(
        all_pages(&sim, "/servicedesk/1/customer", 50, true)
            .await
            .len(),
        20
    );

    let r = write(
        &sim,
        Method::DELETE,
        "/servicedesk/1/customer",
        true,
        json!({"accountIds":[new_id, "qm:never-added:0"]}),
    )
    .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(
        all_pages(&sim, "/servicedesk/1/customer", 50, true)
            .await
            .len(),
        19
    );
    let r = write(
        &sim,
        Method::POST,
        "/servicedesk/404/customer",
        false,
        json!({"accountIds":[]}),
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = get(&sim, "/servicedesk/1/customer?start=x").await;
    assert_eq!(
        r.status,
        StatusCode::PRECONDITION_FAILED,
        "opt-in is checked first"
    );
    let r = get_opt_in(&sim, "/servicedesk/1/customer?start=x").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_matches_schema(&spec, "ErrorResponse", &r.body);
}

#[tokio::test]
async fn organizations_round_trip() {
    let sim = start().await;
    let spec = spec();
    let first = get(&sim, "/organization?limit=4").await;
    assert_matches_schema(&spec, "PagedDTOOrganizationDTO", &first.body);
    let orgs = all_pages(&sim, "/organization", 4, false).await;
    assert_eq!(orgs.len(), 6);
    assert_eq!(
        orgs.iter()
            .map(|o| o["id"].as_str().expect("id"))
            .collect::<BTreeSet<_>>()
            .len(),
        6
    );

    let r = write(
        &sim,
        Method::POST,
        "/organization",
        false,
        json!({"name":"Tyrell"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_matches_schema(&spec, "OrganizationDTO", &r.body);
    let id = r.body["id"].as_str().expect("id").to_owned();
    let again = write(
        &sim,
        Method::POST,
        "/organization",
        false,
        json!({"name":"TYRELL"}),
    )
    .await;
    assert_eq!(again.status, StatusCode::CREATED);
    assert_eq!(
        again.body["id"],
        id.as_str(),
        "the existing organization is returned"
    );
    for bad in [
        json!({"name":""}),
        json!({"name":"x".repeat(201)}),
        json!({}),
    ] {
        let r = write(&sim, Method::POST, "/organization", false, bad).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
    }

    let r = get(&sim, &format!("/organization/{id}")).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_matches_schema(&spec, "OrganizationDTO", &r.body);
    assert_eq!(r.body["name"], "Tyrell");

    let customers = get_opt_in(&sim, "/servicedesk/1/customer?limit=3").await;
    let mut members: Vec<String> = customers.body["values"]
        .as_array()
        .expect("values")
        .iter()
        .map(|u| u["accountId"].as_str().expect("id").to_owned())
        .collect();
    members.push(alice_id(&sim));
    let r = write(
        &sim,
        Method::POST,
        &format!("/organization/{id}/user"),
        false,
        json!({ "accountIds": members }),
    )
    .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    let r = write(
        &sim,
        Method::POST,
        &format!("/organization/{id}/user"),
        false,
        json!({"accountIds":["qm:nobody:0"]}),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let users = get(&sim, &format!("/organization/{id}/user")).await;
    assert_matches_schema(&spec, "PagedDTOUserDTO", &users.body);
    let listed: Vec<String> = users.body["values"]
        .as_array()
        .expect("values")
        .iter()
        .map(|u| u["accountId"].as_str().expect("id").to_owned())
        .collect();
    let mut sorted = members.clone();
    sorted.sort();
    assert_eq!(listed, sorted, "ordered by account id");

    let alice = alice_id(&sim);
    let r = get(&sim, &format!("/organization?accountId={alice}")).await;
    assert_eq!(r.body["size"], 1);
    assert_eq!(r.body["values"][0]["id"], id.as_str());
    let r = get(&sim, "/organization?accountId=qm:nobody:0").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);

    let r = write(
        &sim,
        Method::DELETE,
        &format!("/organization/{id}/user"),
        false,
        json!({ "accountIds": [alice] }),
    )
    .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(
        get(&sim, &format!("/organization/{id}/user")).await.body["size"],
        3
    );

    // Service desk organizations.
    let desk = all_pages(&sim, "/servicedesk/1/organization", 2, false).await;
    assert_eq!(desk.len(), 3);
    let r = write(
        &sim,
        Method::POST,
        "/servicedesk/1/organization",
        false,
        json!({"organizationId": id.parse::<i64>().expect("numeric")}),
    )
    .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = get(&sim, "/servicedesk/HELP/organization").await;
    assert_matches_schema(&spec, "PagedDTOOrganizationDTO", &r.body);
    assert_eq!(r.body["size"], 4);
    let r = write(
        &sim,
        Method::POST,
        "/servicedesk/1/organization",
        false,
        json!({"organizationId": 999}),
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = write(
        &sim,
        Method::DELETE,
        "/servicedesk/1/organization",
        false,
        json!({"organizationId": 1}),
    )
    .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(
        get(&sim, "/servicedesk/1/organization").await.body["size"],
        3
    );

    let r = write(
        &sim,
        Method::DELETE,
        &format!("/organization/{id}"),
        false,
        json!({}),
    )
    .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = get(&sim, &format!("/organization/{id}")).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_matches_schema(&spec, "ErrorResponse", &r.body);
    assert_eq!(
        get(&sim, "/servicedesk/1/organization").await.body["size"],
        2,
        "deleting an organization removes it from service desks"
    );
}

#[tokio::test]
async fn jsm_scopes_are_enforced() {
    let sim = start().await;
    let token = |scopes: &[&str]| basic("alice@example.com", &scoped_token(&sim, scopes));
    let gw = format!("{}/rest/servicedeskapi", gateway(&sim, "demo"));
    let desk_reader = token(&["read:servicedesk-request"]);
    let r = send(
        Method::GET,
        &format!("{gw}/servicedesk"),
        Some(&desk_reader),
        false,
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    let r = send(
        Method::GET,
        &format!("{gw}/organization"),
        Some(&desk_reader),
        false,
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(
        r.body.to_string().contains("manage:servicedesk-customer"),
        "{}",
        r.body
    );

    let granular = token(&["read:organization:jira-service-management"]);
    let r = send(
        Method::GET,
        &format!("{gw}/organization"),
        Some(&granular),
        false,
        None,
    )
    .await;
    assert_eq!(
        r.status,
        StatusCode::OK,
        "the granular alternative is accepted"
    );
    let r = send(
        Method::POST,
        &format!("{gw}/organization"),
        Some(&granular),
        false,
        Some(json!({"name":"Nope"})),
    )
    .await;
    assert_eq!(
        r.status,
        StatusCode::FORBIDDEN,
        "creating needs the write scope too"
    );

    // The scoped token is refused on the site host altogether.
    let r = send(
        Method::GET,
        &format!("{}/servicedesk", api(&sim)),
        Some(&desk_reader),
        false,
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

async fn new_customer(sim: &SimHandle, email: &str) -> String {
    let r = write(
        sim,
        Method::POST,
        "/customer",
        false,
        json!({"email": email, "displayName": "Pat Customer"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    r.body["accountId"].as_str().expect("accountId").to_owned()
}

async fn platform(sim: &SimHandle, method: Method, path: &str, body: Option<Value>) -> Reply {
    send(
        method,
        &format!("{}/rest/api/3{path}", sim.site_url("demo")),
        Some(&alice_classic(sim)),
        false,
        body,
    )
    .await
}

fn hardware_request(on_behalf: &str, participants: &[&str]) -> Value {
    json!({
        "serviceDeskId": "1",
        "requestTypeId": "2",
        "requestFieldValues": {
            "summary": "Need a second monitor",
            "description": "My *old* one flickers",
            "customfield_10011": {"id": "10100"},
            "customfield_10017": "2026-02-01",
        },
        "raiseOnBehalfOf": on_behalf,
        "requestParticipants": participants,
    })
}

#[tokio::test]
async fn requests_are_help_issues_both_ways() {
    let sim = start().await;
    let spec = spec();
    let customer = new_customer(&sim, "pat@customer.example").await;
    let alice = alice_id(&sim);
    let r = write(
        &sim,
        Method::POST,
        "/request",
        false,
        hardware_request(&customer, &[&alice]),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_matches_schema(&spec, "CustomerRequestDTO", &r.body);
    let created = r.body;
    let key = created["issueKey"].as_str().expect("key").to_owned();
    assert!(key.starts_with("HELP-"), "{key}");
    assert_eq!(created["requestTypeId"], "2");
    assert_eq!(created["serviceDeskId"], "1");
    assert_eq!(created["reporter"]["accountId"], customer.as_str());
    for part in ["epochMillis", "iso8601", "jira", "friendly"] {
        assert!(
            !created["createdDate"][part].is_null(),
            "createdDate.{part}"
        );
    }
    assert_eq!(
        created["createdDate"]["epochMillis"],
        i64::try_from(sim.control().now().unix_timestamp_nanos() / 1_000_000).expect("ms")
    );
    assert_eq!(created["currentStatus"]["status"], "Waiting for support");
    assert_eq!(created["currentStatus"]["statusCategory"], "NEW");
    let fields = created["requestFieldValues"].as_array().expect("fields");
    let field = |id: &str| {
        fields
            .iter()
            .find(|f| f["fieldId"] == id)
            .unwrap_or_else(|| panic!("{id} in {fields:?}"))
            .clone()
    };
    assert_eq!(field("summary")["label"], "What do you need?");
    assert_eq!(field("description")["value"], "My *old* one flickers");
    assert!(
        field("description")["renderedValue"]["html"]
            .as_str()
            .expect("html")
            .contains("<b>old</b>")
    );
    assert_eq!(field("customfield_10011")["value"]["value"], "Platform");
    assert_eq!(field("customfield_10017")["value"], "2026-02-01");
    assert!(
        created["_links"]["self"]
            .as_str()
            .expect("self")
            .ends_with(&format!(
                "/rest/servicedeskapi/request/{}",
                created["issueId"].as_str().expect("id")
            ))
    );

    // The request is an issue of HELP: the platform API sees the same data.
    let issue = platform(&sim, Method::GET, &format!("/issue/{key}"), None).await;
    assert_eq!(issue.status, StatusCode::OK, "{}", issue.body);
    assert_eq!(issue.body["id"], created["issueId"]);
    assert_eq!(issue.body["fields"]["summary"], "Need a second monitor");
    assert_eq!(issue.body["fields"]["issuetype"]["name"], "Service Request");
    assert_eq!(
        issue.body["fields"]["reporter"]["accountId"],
        customer.as_str()
    );
    assert_eq!(
        issue.body["fields"]["customfield_10011"]["value"],
        "Platform"
    );
    assert_eq!(issue.body["fields"]["description"]["type"], "doc");
    let channel = platform(
        &sim,
        Method::GET,
        &format!("/issue/{key}/properties/request.channel.type"),
        None,
    )
    .await;
    assert_eq!(channel.body["value"], json!({"value": "api"}));

    // By id or key, with every expansion, still matching the schema.
    let all = "participant,status,sla,requestType,serviceDesk,attachment,action,comment";
    let by_id = get(
        &sim,
        &format!(
            "/request/{}?expand={all}",
            created["issueId"].as_str().expect("id")
        ),
    )
    .await;
    assert_eq!(by_id.status, StatusCode::OK, "{}", by_id.body);
    assert_matches_schema(&spec, "CustomerRequestDTO", &by_id.body);
    assert_eq!(by_id.body["issueKey"], key.as_str());
    assert_eq!(
        by_id.body["participants"]["values"][0]["accountId"],
        alice.as_str()
    );
    assert_eq!(by_id.body["requestType"]["name"], "Request new hardware");
    assert_eq!(by_id.body["serviceDesk"]["projectKey"], "HELP");
    assert_eq!(by_id.body["status"]["size"], 1);
    let by_key = get(&sim, &format!("/request/{key}")).await;
    assert_eq!(by_key.body["issueId"], created["issueId"]);
    assert!(by_key.body.get("participants").is_none(), "not expanded");

    // An issue created through the platform API in HELP is a request too.
    let made = platform(
        &sim,
        Method::POST,
        "/issue",
        Some(json!({"fields": {
            "project": {"key": "HELP"},
            "issuetype": {"name": "Incident"},
            "summary": "Printer on fire",
        }})),
    )
    .await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.body);
    let made_key = made.body["key"].as_str().expect("key");
    let r = get(&sim, &format!("/request/{made_key}")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_matches_schema(&spec, "CustomerRequestDTO", &r.body);
    assert_eq!(
        r.body["requestTypeId"], "3",
        "incidents are system problems"
    );
    assert_eq!(r.body["reporter"]["accountId"], alice.as_str());

    // Issues outside service desks are not requests.
    for missing in ["/request/DEMO-1", "/request/HELP-99999", "/request/nope"] {
        let r = get(&sim, missing).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{missing}");
        assert_matches_schema(&spec, "ErrorResponse", &r.body);
    }
}

#[tokio::test]
async fn creating_requests_validates_fields_forms_and_people() {
    let sim = start().await;
    let spec = spec();
    let customer = new_customer(&sim, "val@customer.example").await;
    let create = |body: Value, opt_in: bool| {
        let sim = &sim;
        async move { write(sim, Method::POST, "/request", opt_in, body).await }
    };
    let mut missing_description = hardware_request(&customer, &[]);
    missing_description["requestFieldValues"]
        .as_object_mut()
        .expect("map")
        .remove("description");
    let mut unknown_field = hardware_request(&customer, &[]);
    unknown_field["requestFieldValues"]["customfield_10014"] = json!("x");
    let mut bad_option = hardware_request(&customer, &[]);
    bad_option["requestFieldValues"]["customfield_10011"] = json!({"id": "999"});
    let mut bad_date = hardware_request(&customer, &[]);
    bad_date["requestFieldValues"]["customfield_10017"] = json!("soon");
    let mut bad_type = hardware_request(&customer, &[]);
    bad_type["requestTypeId"] = json!("77");
    let mut no_type = hardware_request(&customer, &[]);
    no_type
        .as_object_mut()
        .expect("map")
        .remove("requestTypeId");
    let cases = [
        (
            missing_description,
            StatusCode::BAD_REQUEST,
            "Why do you need this?",
        ),
        (unknown_field, StatusCode::BAD_REQUEST, "customfield_10014"),
        (bad_option, StatusCode::BAD_REQUEST, "999"),
        (bad_date, StatusCode::BAD_REQUEST, "soon"),
        (bad_type, StatusCode::BAD_REQUEST, "77"),
        (no_type, StatusCode::BAD_REQUEST, "requestTypeId"),
        (
            hardware_request("qm:nobody:0", &[]),
            StatusCode::BAD_REQUEST,
            "qm:nobody:0",
        ),
        (
            hardware_request(&customer, &["557058:ghost"]),
            StatusCode::BAD_REQUEST,
            "557058:ghost",
        ),
        (
            json!({"serviceDeskId": "9", "requestTypeId": "1", "requestFieldValues": {"summary": "x"}}),
            StatusCode::NOT_FOUND,
            "9",
        ),
    ];
    for (body, status, mention) in cases {
        let r = create(body.clone(), false).await;
        assert_eq!(r.status, status, "{body}: {}", r.body);
        assert_matches_schema(&spec, "ErrorResponse", &r.body);
        assert!(
            r.body["errorMessage"]
                .as_str()
                .expect("message")
                .contains(mention),
            "{mention} in {}",
            r.body
        );
    }
    let r = create(json!("not an object"), false).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);

    // ADF descriptions are experimental.
    let doc = json!({"type": "doc", "version": 1, "content": [
        {"type": "paragraph", "content": [{"type": "text", "text": "Rich text"}]}
    ]});
    let adf = json!({
        "serviceDeskId": "1", "requestTypeId": "1", "isAdfRequest": true,
        "requestFieldValues": {"summary": "ADF please", "description": doc},
    });
    let r = create(adf.clone(), false).await;
    assert_eq!(r.status, StatusCode::PRECONDITION_FAILED);
    assert_matches_schema(&spec, "ErrorResponse", &r.body);
    let r = create(adf, true).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let key = r.body["issueKey"].as_str().expect("key");
    let issue = platform(&sim, Method::GET, &format!("/issue/{key}"), None).await;
    assert_eq!(issue.body["fields"]["description"], doc);
    let r = create(
        json!({"serviceDeskId": "1", "requestTypeId": "1",
               "requestFieldValues": {"summary": "x", "description": doc}}),
        false,
    )
    .await;
    assert_eq!(
        r.status,
        StatusCode::BAD_REQUEST,
        "plain-text requests take text"
    );

    // The onboarding request type has a form: unanswered or malformed answers are a 422.
    let r = create(
        json!({"serviceDeskId": "1", "requestTypeId": "4",
               "form": {"answers": {"2": {"date": "next week"}}}}),
        false,
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_matches_schema(&spec, "FormValidationErrorResponseDTO", &r.body);
    assert_eq!(r.body["errorMessage"], "Invalid request");
    let errors = r.body["errors"].as_array().expect("errors");
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert_eq!(
        errors[0]["context"][0],
        json!({"id": "1", "type": "question"})
    );
    assert_eq!(errors[0]["detail"], "The field is required");
    assert_eq!(errors[0]["status"], 422);
    assert_eq!(errors[1]["context"][0]["id"], "2");
    let r = create(
        json!({"serviceDeskId": "HELP", "requestTypeId": 4,
               "form": {"answers": {"1": {"text": "Ann Lee"}, "2": {"date": "2026-03-02"}}}}),
        false,
    )
    .await;
    assert_eq!(
        r.status,
        StatusCode::NOT_FOUND,
        "serviceDeskId in the body is the numeric id"
    );
    let r = create(
        json!({"serviceDeskId": "1", "requestTypeId": 4,
               "form": {"answers": {"1": {"text": "Ann Lee"}, "2": {"date": "2026-03-02"}}}}),
        false,
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.body["summary"], "Ann Lee");
    let key = r.body["issueKey"].as_str().expect("key");
    let issue = platform(&sim, Method::GET, &format!("/issue/{key}"), None).await;
    assert_eq!(issue.body["fields"]["customfield_10017"], "2026-03-02");
    let r = create(
        json!({"serviceDeskId": "1", "requestTypeId": "1",
               "requestFieldValues": {"summary": "x"}, "form": {"answers": {}}}),
        false,
    )
    .await;
    assert_eq!(
        r.status,
        StatusCode::BAD_REQUEST,
        "request type 1 has no form"
    );
}

#[tokio::test]
async fn request_lists_page_and_filter() {
    let sim = start().await;
    let spec = spec();
    let customer = new_customer(&sim, "list@customer.example").await;
    let alice = alice_id(&sim);
    let on_behalf = write(
        &sim,
        Method::POST,
        "/request",
        false,
        hardware_request(&customer, &[&alice]),
    )
    .await;
    assert_eq!(on_behalf.status, StatusCode::CREATED);
    let own = write(
        &sim,
        Method::POST,
        "/request",
        false,
        json!({"serviceDeskId": "1", "requestTypeId": "1",
               "requestFieldValues": {"summary": "Zebra keyboard wanted"}}),
    )
    .await;
    assert_eq!(own.status, StatusCode::CREATED);

    let page = get(&sim, "/request?requestOwnership=ALL_REQUESTS&limit=5").await;
    assert_matches_schema(&spec, "PagedDTOCustomerRequestDTO", &page.body);
    let every = all_pages(&sim, "/request?requestOwnership=ALL_REQUESTS", 7, false).await;
    let keys: Vec<&str> = every
        .iter()
        .map(|r| r["issueKey"].as_str().expect("key"))
        .collect();
    let unique: BTreeSet<&str> = keys.iter().copied().collect();
    assert_eq!(unique.len(), keys.len(), "every request exactly once");
    assert!(keys.iter().all(|k| k.starts_with("HELP-")));
    assert!(
        keys.len() > 10,
        "generated HELP issues are requests: {}",
        keys.len()
    );
    assert_eq!(
        keys[0],
        own.body["issueKey"].as_str().expect("key"),
        "newest first"
    );
    let jql = platform(
        &sim,
        Method::POST,
        "/search/approximate-count",
        Some(json!({"jql": "project = HELP"})),
    )
    .await;
    assert_eq!(jql.body["count"], keys.len(), "the same issues JQL finds");

    // Default ownership: what alice reported or takes part in.
    let mine = all_pages(&sim, "/request", 50, false).await;
    let mine: BTreeSet<&str> = mine
        .iter()
        .map(|r| r["issueKey"].as_str().expect("key"))
        .collect();
    assert!(mine.contains(own.body["issueKey"].as_str().expect("key")));
    assert!(
        mine.contains(on_behalf.body["issueKey"].as_str().expect("key")),
        "participant"
    );
    let owned = all_pages(&sim, "/request?requestOwnership=OWNED_REQUESTS", 50, false).await;
    assert!(
        owned
            .iter()
            .all(|r| r["reporter"]["accountId"] == alice.as_str())
    );
    let part = all_pages(
        &sim,
        "/request?requestOwnership=PARTICIPATED_REQUESTS",
        50,
        false,
    )
    .await;
    assert_eq!(part.len(), 1);
    assert_eq!(part[0]["issueKey"], on_behalf.body["issueKey"]);

    let closed = all_pages(
        &sim,
        "/request?requestOwnership=ALL_REQUESTS&requestStatus=CLOSED_REQUESTS",
        50,
        false,
    )
    .await;
    let open = all_pages(
        &sim,
        "/request?requestOwnership=ALL_REQUESTS&requestStatus=OPEN_REQUESTS",
        50,
        false,
    )
    .await;
    assert!(
        closed
            .iter()
            .all(|r| r["currentStatus"]["statusCategory"] == "DONE")
    );
    assert!(
        open.iter()
            .all(|r| r["currentStatus"]["statusCategory"] != "DONE")
    );
    assert_eq!(closed.len() + open.len(), keys.len());

    let found = all_pages(
        &sim,
        "/request?requestOwnership=ALL_REQUESTS&searchTerm=zebra*",
        50,
        false,
    )
    .await;
    assert_eq!(found.len(), 1);
    let typed = all_pages(
        &sim,
        "/request?requestOwnership=ALL_REQUESTS&serviceDeskId=1&requestTypeId=2",
        50,
        false,
    )
    .await;
    assert!(!typed.is_empty());
    assert!(typed.iter().all(|r| r["requestTypeId"] == "2"));

    for (path, status) in [
        ("/request?serviceDeskId=9", StatusCode::NOT_FOUND),
        ("/request?requestTypeId=2", StatusCode::BAD_REQUEST),
        (
            "/request?requestOwnership=EVERYTHING",
            StatusCode::BAD_REQUEST,
        ),
        ("/request?requestStatus=HALF_OPEN", StatusCode::BAD_REQUEST),
        ("/request?limit=many", StatusCode::BAD_REQUEST),
    ] {
        let r = get(&sim, path).await;
        assert_eq!(r.status, status, "{path}");
        assert_matches_schema(&spec, "ErrorResponse", &r.body);
    }
}

#[tokio::test]
async fn request_comments_and_status_history() {
    let sim = start().await;
    let spec = spec();
    let r = write(
        &sim,
        Method::POST,
        "/request",
        false,
        json!({"serviceDeskId": "1", "requestTypeId": "3",
               "requestFieldValues": {"summary": "VPN is down", "priority": {"name": "High"}}}),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let key = r.body["issueKey"].as_str().expect("key").to_owned();
    let path = format!("/request/{key}/comment");

    let public = write(
        &sim,
        Method::POST,
        &path,
        false,
        json!({"body": "We are on it", "public": true}),
    )
    .await;
    assert_eq!(public.status, StatusCode::CREATED, "{}", public.body);
    assert_matches_schema(&spec, "CommentDTO", &public.body);
    assert_eq!(public.body["public"], true);
    assert_eq!(public.body["body"], "We are on it");
    let internal = write(
        &sim,
        Method::POST,
        &path,
        false,
        json!({"body": "Router *again*", "public": false}),
    )
    .await;
    assert_eq!(internal.status, StatusCode::CREATED);
    assert_eq!(internal.body["public"], false);
    for (body, what) in [
        (json!({"body": "no flag"}), "public is required"),
        (json!({"body": "  ", "public": true}), "empty body"),
    ] {
        let r = write(&sim, Method::POST, &path, false, body).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{what}");
        assert_matches_schema(&spec, "ErrorResponse", &r.body);
    }
    let r = write(
        &sim,
        Method::POST,
        "/request/DEMO-1/comment",
        false,
        json!({"body": "x", "public": true}),
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);

    let ids = |r: &Reply| -> Vec<String> {
        r.body["values"]
            .as_array()
            .expect("values")
            .iter()
            .map(|c| c["id"].as_str().expect("id").to_owned())
            .collect()
    };
    let both = get(&sim, &path).await;
    assert_matches_schema(&spec, "PagedDTOCommentDTO", &both.body);
    let (pid, iid) = (
        public.body["id"].as_str().expect("id").to_owned(),
        internal.body["id"].as_str().expect("id").to_owned(),
    );
    assert_eq!(ids(&both), vec![pid.clone(), iid.clone()]);
    assert_eq!(
        ids(&get(&sim, &format!("{path}?public=false")).await),
        vec![iid.clone()]
    );
    assert_eq!(
        ids(&get(&sim, &format!("{path}?internal=false")).await),
        vec![pid.clone()]
    );
    let one = get(&sim, &format!("{path}/{iid}?expand=renderedBody")).await;
    assert_eq!(one.status, StatusCode::OK);
    assert_matches_schema(&spec, "CommentDTO", &one.body);
    assert!(
        one.body["renderedBody"]["html"]
            .as_str()
            .expect("html")
            .contains("<b>again</b>")
    );
    assert_eq!(
        get(&sim, &format!("{path}/999999")).await.status,
        StatusCode::NOT_FOUND
    );

    // The platform API sees the internal note as a comment that customers do not see.
    let comments = platform(&sim, Method::GET, &format!("/issue/{key}/comment"), None).await;
    let notes = comments.body["comments"].as_array().expect("comments");
    let note = notes
        .iter()
        .find(|c| c["id"] == iid.as_str())
        .expect("note");
    assert_eq!(note["jsdPublic"], false);

    // Status history follows workflow transitions made through the platform API.
    let moved = platform(
        &sim,
        Method::POST,
        &format!("/issue/{key}/transitions"),
        Some(json!({"transition": {"id": "11"}})),
    )
    .await;
    assert_eq!(moved.status, StatusCode::NO_CONTENT, "{}", moved.body);
    let history = get(&sim, &format!("/request/{key}/status")).await;
    assert_eq!(history.status, StatusCode::OK);
    assert_matches_schema(&spec, "PagedDTOCustomerRequestStatusDTO", &history.body);
    let names: Vec<&str> = history.body["values"]
        .as_array()
        .expect("values")
        .iter()
        .map(|s| s["status"].as_str().expect("status"))
        .collect();
    assert_eq!(names, vec!["Waiting for support", "Waiting for customer"]);
    let now = get(&sim, &format!("/request/{key}")).await;
    assert_eq!(now.body["currentStatus"]["status"], "Waiting for customer");
    assert_eq!(now.body["currentStatus"]["statusCategory"], "INDETERMINATE");
    let fields = now.body["requestFieldValues"].as_array().expect("fields");
    let priority = fields
        .iter()
        .find(|f| f["fieldId"] == "priority")
        .expect("priority");
    assert_eq!(priority["value"]["name"], "High");
}

#[tokio::test]
async fn request_scopes_are_enforced() {
    let sim = start().await;
    let token = |scopes: &[&str]| basic("alice@example.com", &scoped_token(&sim, scopes));
    let gw = format!("{}/rest/servicedeskapi", gateway(&sim, "demo"));
    let body = json!({"serviceDeskId": "1", "requestTypeId": "1",
                      "requestFieldValues": {"summary": "Scoped"}});
    let reader = token(&["read:servicedesk-request"]);
    let r = send(
        Method::GET,
        &format!("{gw}/request"),
        Some(&reader),
        false,
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    let r = send(
        Method::POST,
        &format!("{gw}/request"),
        Some(&reader),
        false,
        Some(body.clone()),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(
        r.body.to_string().contains("write:servicedesk-request"),
        "{}",
        r.body
    );
    let writer = token(&[
        "read:request:jira-service-management",
        "write:request:jira-service-management",
        "read:user:jira",
    ]);
    let r = send(
        Method::POST,
        &format!("{gw}/request"),
        Some(&writer),
        false,
        Some(body),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert!(
        r.body["_links"]["self"]
            .as_str()
            .expect("self")
            .starts_with(&gw),
        "links use the gateway base"
    );
    let key = r.body["issueKey"].as_str().expect("key");
    let r = send(
        Method::POST,
        &format!("{gw}/request/{key}/comment"),
        Some(&writer),
        false,
        Some(json!({"body": "x", "public": true})),
    )
    .await;
    assert_eq!(
        r.status,
        StatusCode::FORBIDDEN,
        "comments need the comment scopes"
    );
    let r = send(
        Method::GET,
        &format!("{gw}/request/{key}/status"),
        Some(&writer),
        false,
        None,
    )
    .await;
    assert_eq!(
        r.status,
        StatusCode::FORBIDDEN,
        "status history needs read:request.status"
    );
}
