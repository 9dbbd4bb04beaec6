//! `/search/jql` and `/search/approximate-count`: boundedness, paging, tokens, caps, index lag
//! and reconciliation.

use std::collections::BTreeSet;
use std::time::Duration;

use jiralink_sim::{DataSize, SimConfig};
use proptest::prelude::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::platform::{Api, assert_error_message, assert_schema, expect};
use crate::{start, start_with};

fn enc(jql: &str) -> String {
    url::form_urlencoded::byte_serialize(jql.as_bytes()).collect()
}

/// Pages through a search with GET, returning every issue id in order.
async fn page_all(api: &Api, jql: &str, page: usize) -> Vec<String> {
    let mut ids = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut path = format!("/search/jql?jql={}&maxResults={page}", enc(jql));
        if let Some(t) = &token {
            path.push_str(&format!("&nextPageToken={}", enc(t)));
        }
        let reply = api.get(&path).await;
        let body = expect(&reply, StatusCode::OK);
        assert!(body.get("total").is_none(), "no total on /search/jql");
        let issues = body["issues"].as_array().expect("issues");
        assert!(issues.len() <= page);
        ids.extend(
            issues
                .iter()
                .map(|i| i["id"].as_str().expect("id").to_owned()),
        );
        match body.get("nextPageToken") {
            Some(t) => {
                assert_eq!(body["isLast"], false);
                token = Some(t.as_str().expect("token").to_owned());
            }
            None => {
                assert_eq!(body["isLast"], true);
                return ids;
            }
        }
    }
}

#[tokio::test]
async fn jql_must_be_present_bounded_and_valid() {
    let sim = start().await;
    let api = Api::alice(&sim, "3");
    for path in [
        "/search/jql",
        "/search/jql?jql=",
        "/search/jql?jql=order%20by%20key%20desc",
    ] {
        let reply = api.get(path).await;
        assert_error_message(
            expect(&reply, StatusCode::BAD_REQUEST),
            "Unbounded JQL queries are not allowed",
        );
    }
    let syntax = api
        .get(&format!("/search/jql?jql={}", enc("project = ")))
        .await;
    assert_error_message(
        expect(&syntax, StatusCode::BAD_REQUEST),
        "Error in the JQL Query",
    );
    let unknown = api
        .get(&format!(
            "/search/jql?jql={}",
            enc("project = NOPE AND colour = red")
        ))
        .await;
    let body = expect(&unknown, StatusCode::BAD_REQUEST);
    assert_error_message(
        body,
        "The value 'NOPE' does not exist for the field 'project'.",
    );
    assert_error_message(body, "Field 'colour' does not exist");
    let post = api
        .post("/search/jql", &json!({"jql": "ORDER BY created"}))
        .await;
    assert_error_message(expect(&post, StatusCode::BAD_REQUEST), "Unbounded");
    let count = api
        .post("/search/approximate-count", &json!({"jql": ""}))
        .await;
    assert_error_message(expect(&count, StatusCode::BAD_REQUEST), "Unbounded");
    let extra = api
        .post(
            "/search/jql",
            &json!({"jql": "project = DEMO", "colour": 1}),
        )
        .await;
    expect(&extra, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn default_fields_are_ids_only_and_last_page_has_no_token() {
    let sim = start().await;
    let api = Api::alice(&sim, "3");
    let reply = api
        .get(&format!("/search/jql?jql={}", enc("project = MKT")))
        .await;
    let body = expect(&reply, StatusCode::OK);
    assert_schema("SearchAndReconcileResults", body);
    assert_eq!(body["isLast"], true);
    assert!(body.get("nextPageToken").is_none(), "omitted, not null");
    let first = &body["issues"][0];
    assert_eq!(
        first.as_object().expect("object").len(),
        1,
        "only the id: {first}"
    );
    let count = api
        .post(
            "/search/approximate-count",
            &json!({"jql": "project = MKT"}),
        )
        .await;
    let count = expect(&count, StatusCode::OK);
    assert_schema("JQLCountResultsBean", count);
    assert_eq!(
        count["count"].as_u64(),
        Some(body["issues"].as_array().expect("issues").len() as u64)
    );
}

#[tokio::test]
async fn paging_returns_every_issue_once_for_several_page_sizes() {
    let sim = start().await;
    // Hundreds of requests in one frozen second would hit the burst limit.
    sim.control()
        .update_knobs(|k| k.burst.enabled = false)
        .expect("knobs");
    let api = Api::alice(&sim, "3");
    let jql = "project in (DEMO, MOB, MKT, HELP) ORDER BY key ASC";
    let all = page_all(&api, jql, 1000).await;
    assert_eq!(all.len(), 96);
    assert_eq!(all.iter().collect::<BTreeSet<_>>().len(), all.len());
    for page in [1, 7, 50, 95, 96, 97] {
        assert_eq!(page_all(&api, jql, page).await, all, "page size {page}");
    }
    // The default order (created DESC) pages just as well.
    let newest_first = page_all(&api, "project in (DEMO, MOB, MKT, HELP)", 13).await;
    assert_eq!(
        newest_first.iter().collect::<BTreeSet<_>>(),
        all.iter().collect::<BTreeSet<_>>()
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]

    #[test]
    fn paging_is_exact_for_any_page_size(page in 1usize..60, project in 0usize..4) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        runtime.block_on(async {
            let sim = start().await;
            let api = Api::alice(&sim, "3");
            let key = ["DEMO", "MOB", "MKT", "HELP"][project];
            let jql = format!("project = {key} ORDER BY updated DESC");
            let whole = page_all(&api, &jql, 1000).await;
            let paged = page_all(&api, &jql, page).await;
            prop_assert_eq!(paged, whole);
            sim.shutdown().await;
            Ok(())
        })?;
    }
}

#[tokio::test]
async fn pages_stay_stable_while_issues_change() {
    let sim = start().await;
    let api = Api::alice(&sim, "3");
    let jql = "project = DEMO ORDER BY updated DESC";
    let first = api
        .get(&format!("/search/jql?jql={}&maxResults=10", enc(jql)))
        .await;
    let first = expect(&first, StatusCode::OK).clone();
    let token = first["nextPageToken"].as_str().expect("token").to_owned();
    // Touch an issue of a later page: it would jump to the front if the search ran again.
    let later = page_all(&api, jql, 1000).await[30].clone();
    let edit = api
        .put(
            &format!("/issue/{later}"),
            &json!({"fields": {"summary": "Moved to the top"}}),
        )
        .await;
    expect(&edit, StatusCode::NO_CONTENT);
    let mut seen: Vec<String> = first["issues"]
        .as_array()
        .expect("issues")
        .iter()
        .map(|i| i["id"].as_str().expect("id").to_owned())
        .collect();
    let mut next = Some(token);
    while let Some(t) = next {
        let reply = api
            .get(&format!(
                "/search/jql?jql={}&maxResults=10&nextPageToken={}",
                enc(jql),
                enc(&t)
            ))
            .await;
        let body = expect(&reply, StatusCode::OK);
        seen.extend(
            body["issues"]
                .as_array()
                .expect("issues")
                .iter()
                .map(|i| i["id"].as_str().expect("id").to_owned()),
        );
        next = body
            .get("nextPageToken")
            .and_then(Value::as_str)
            .map(str::to_owned);
    }
    assert_eq!(
        seen.iter().collect::<BTreeSet<_>>().len(),
        seen.len(),
        "no repeats"
    );
    assert!(seen.contains(&later));
}

#[tokio::test]
async fn tokens_are_opaque_bound_to_the_query_and_expire_after_seven_days() {
    let sim = start().await;
    let api = Api::alice(&sim, "3");
    let jql = "project = DEMO";
    let reply = api
        .get(&format!("/search/jql?jql={}&maxResults=5", enc(jql)))
        .await;
    let token = expect(&reply, StatusCode::OK)["nextPageToken"]
        .as_str()
        .expect("token")
        .to_owned();
    let garbage = api
        .get(&format!("/search/jql?jql={}&nextPageToken=abc", enc(jql)))
        .await;
    assert_error_message(expect(&garbage, StatusCode::BAD_REQUEST), "next page token");
    let other = api
        .get(&format!(
            "/search/jql?jql={}&nextPageToken={}",
            enc("project = MOB"),
            enc(&token)
        ))
        .await;
    expect(&other, StatusCode::BAD_REQUEST);
    sim.control().advance(Duration::from_secs(6 * 86_400));
    let still = api
        .get(&format!(
            "/search/jql?jql={}&maxResults=5&nextPageToken={}",
            enc(jql),
            enc(&token)
        ))
        .await;
    expect(&still, StatusCode::OK);
    sim.control().advance(Duration::from_secs(2 * 86_400));
    let expired = api
        .get(&format!(
            "/search/jql?jql={}&maxResults=5&nextPageToken={}",
            enc(jql),
            enc(&token)
        ))
        .await;
    assert_error_message(expect(&expired, StatusCode::BAD_REQUEST), "expired");
}

#[tokio::test]
async fn page_size_caps_depend_on_the_fields() {
    let sim = start_with(SimConfig {
        size: DataSize::Medium,
        ..SimConfig::for_tests()
    })
    .await;
    let api = Api::alice(&sim, "3");
    let jql = enc("project = DEMO");
    let ids = api
        .get(&format!(
            "/search/jql?jql={jql}&maxResults=6000&fields=id,key"
        ))
        .await;
    let ids = expect(&ids, StatusCode::OK);
    let n = ids["issues"].as_array().expect("issues").len();
    assert!(n > 1000, "DEMO has {n} issues in one id page");
    assert!(ids["issues"][0]["key"].is_string());
    let default = api.get(&format!("/search/jql?jql={jql}")).await;
    assert_eq!(
        expect(&default, StatusCode::OK)["issues"]
            .as_array()
            .expect("issues")
            .len(),
        50
    );
    let all = api
        .get(&format!("/search/jql?jql={jql}&maxResults=500&fields=*all"))
        .await;
    assert_eq!(
        expect(&all, StatusCode::OK)["issues"]
            .as_array()
            .expect("issues")
            .len(),
        100
    );
    let few = api
        .get(&format!(
            "/search/jql?jql={jql}&maxResults=5000&fields=summary,status"
        ))
        .await;
    assert_eq!(
        expect(&few, StatusCode::OK)["issues"]
            .as_array()
            .expect("issues")
            .len(),
        1000
    );
    let too_many = api
        .get(&format!("/search/jql?jql={jql}&properties=a,b,c,d,e,f"))
        .await;
    expect(&too_many, StatusCode::BAD_REQUEST);
    let ids: Vec<u64> = (10_000..10_051).collect();
    let reconcile = api
        .post(
            "/search/jql",
            &json!({"jql": "project = DEMO", "reconcileIssues": ids}),
        )
        .await;
    expect(&reconcile, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn the_page_cap_knob_sends_fewer_issues_than_asked_and_paging_goes_on() {
    let sim = start_with(SimConfig {
        size: DataSize::Medium,
        ..SimConfig::for_tests()
    })
    .await;
    let api = Api::alice(&sim, "3");
    let all = page_all(&api, "project = MKT ORDER BY key ASC", 5000).await;
    sim.control()
        .update_knobs(|k| k.search_page_cap = 30)
        .expect("knobs");
    let first = api
        .get(&format!(
            "/search/jql?jql={}&maxResults=5000",
            enc("project = MKT ORDER BY key ASC")
        ))
        .await;
    assert_eq!(
        expect(&first, StatusCode::OK)["issues"]
            .as_array()
            .expect("issues")
            .len(),
        30
    );
    assert_eq!(
        page_all(&api, "project = MKT ORDER BY key ASC", 5000).await,
        all
    );
}

#[tokio::test]
async fn all_fields_and_expansions_match_the_schema() {
    let sim = start().await;
    let api = Api::alice(&sim, "3");
    let body = json!({
        "jql": "project = DEMO ORDER BY key",
        "fields": ["*all"],
        "expand": "renderedFields,names,schema,transitions,operations,editmeta,changelog",
        "properties": ["sim.origin"],
        "maxResults": 20,
        "fieldsByKeys": false,
    });
    let reply = api.post("/search/jql", &body).await;
    let body = expect(&reply, StatusCode::OK);
    assert_schema("SearchAndReconcileResults", body);
    assert_eq!(body["names"]["summary"], "Summary");
    assert_eq!(body["schema"]["customfield_10010"]["type"], "number");
    for issue in body["issues"].as_array().expect("issues") {
        let fields = &issue["fields"];
        assert!(fields["summary"].is_string());
        assert_eq!(fields["project"]["key"], "DEMO");
        assert!(fields["status"]["statusCategory"]["key"].is_string());
        assert!(issue["transitions"].is_array());
        let histories = issue["changelog"]["histories"]
            .as_array()
            .expect("histories");
        assert!(histories.len() <= 20);
        assert!(
            fields["comment"]["comments"]
                .as_array()
                .expect("comments")
                .len()
                <= 20
        );
        if let Some(d) = fields.get("description").filter(|d| !d.is_null()) {
            assert_eq!(d["type"], "doc");
            assert!(
                issue["renderedFields"]["description"]
                    .as_str()
                    .expect("html")
                    .starts_with('<')
            );
        }
    }
    let with_parent = body["issues"]
        .as_array()
        .expect("issues")
        .iter()
        .find(|i| i["fields"]["issuetype"]["name"] == "Sub-task")
        .expect("a sub-task on the first page");
    assert!(with_parent["fields"]["parent"]["key"].is_string());
    let with_property = body["issues"].as_array().expect("issues").iter().find(|i| {
        i.get("properties")
            .is_some_and(|p| p.get("sim.origin").is_some())
    });
    assert!(
        with_property.is_some(),
        "generated properties are returned on request"
    );
}

#[tokio::test]
async fn index_lag_hides_writes_until_reconciled_or_indexed() {
    let sim = start().await;
    sim.control()
        .update_knobs(|k| k.index_lag_secs = 30)
        .expect("knobs");
    let api = Api::alice(&sim, "3");
    let created = api
        .post(
            "/issue",
            &json!({"fields": {"project": {"key": "MKT"}, "issuetype": {"name": "Task"}, "summary": "Lagging", "labels": ["lagging"]}}),
        )
        .await;
    let id: u64 = expect(&created, StatusCode::CREATED)["id"]
        .as_str()
        .expect("id")
        .parse()
        .expect("numeric");
    let get = api.get(&format!("/issue/{id}")).await;
    assert_eq!(
        expect(&get, StatusCode::OK)["fields"]["summary"],
        "Lagging",
        "reads are consistent"
    );
    let jql = enc("labels = lagging");
    let hidden = api.get(&format!("/search/jql?jql={jql}")).await;
    assert_eq!(expect(&hidden, StatusCode::OK)["issues"], json!([]));
    let reconciled = api
        .get(&format!("/search/jql?jql={jql}&reconcileIssues={id}"))
        .await;
    assert_eq!(
        expect(&reconciled, StatusCode::OK)["issues"][0]["id"],
        id.to_string()
    );
    let post = api
        .post(
            "/search/jql",
            &json!({"jql": "labels = lagging", "reconcileIssues": [id]}),
        )
        .await;
    assert_eq!(
        expect(&post, StatusCode::OK)["issues"][0]["id"],
        id.to_string()
    );

    // An edit of an indexed issue shows its old values until the lag passes.
    let edit = api
        .put(
            &format!("/issue/{id}"),
            &json!({"fields": {"labels": ["moved"]}}),
        )
        .await;
    expect(&edit, StatusCode::NO_CONTENT);
    sim.control().advance(Duration::from_secs(31));
    let now_visible = api.get(&format!("/search/jql?jql={jql}")).await;
    assert_eq!(
        expect(&now_visible, StatusCode::OK)["issues"],
        json!([]),
        "the edit is indexed too"
    );
    let moved = api
        .get(&format!("/search/jql?jql={}", enc("labels = moved")))
        .await;
    assert_eq!(
        expect(&moved, StatusCode::OK)["issues"][0]["id"],
        id.to_string()
    );
    let edit = api
        .put(
            &format!("/issue/{id}"),
            &json!({"fields": {"labels": ["again"]}}),
        )
        .await;
    expect(&edit, StatusCode::NO_CONTENT);
    let stale = api
        .get(&format!("/search/jql?jql={}", enc("labels = moved")))
        .await;
    assert_eq!(
        expect(&stale, StatusCode::OK)["issues"][0]["id"],
        id.to_string(),
        "index still has the old labels"
    );
}

#[tokio::test]
async fn v2_search_returns_wiki_markup() {
    let sim = start().await;
    let v2 = Api::alice(&sim, "2");
    let reply = v2
        .get(&format!(
            "/search/jql?jql={}&fields=description&maxResults=100",
            enc("project = DEMO")
        ))
        .await;
    let body = expect(&reply, StatusCode::OK);
    let description = body["issues"]
        .as_array()
        .expect("issues")
        .iter()
        .map(|i| &i["fields"]["description"])
        .find(|d| !d.is_null())
        .expect("a description");
    assert!(
        description.is_string(),
        "v2 rich text is a string: {description}"
    );
    assert!(
        body["issues"][0]["self"]
            .as_str()
            .expect("self")
            .contains("/rest/api/2/issue/")
    );
}
