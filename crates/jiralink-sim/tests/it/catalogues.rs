//! Catalogues, versions and components, users and groups, and the consent page's default site.

use std::collections::HashMap;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::platform::{Api, assert_schema, assert_schema_each, expect};
use crate::{client, start};

fn ids(values: &Value) -> Vec<String> {
    values
        .as_array()
        .expect("array")
        .iter()
        .map(|v| v["id"].as_str().expect("id").to_owned())
        .collect()
}

#[tokio::test]
async fn deprecated_lists_answer_on_v2_and_v3() {
    let sim = start().await;
    for v in ["2", "3", "latest"] {
        let api = Api::alice(&sim, v);
        let projects = api.get("/project?expand=description,lead").await;
        let projects = expect(&projects, StatusCode::OK);
        assert_schema_each("Project", projects);
        let keys: Vec<&str> = projects
            .as_array()
            .expect("array")
            .iter()
            .map(|p| p["key"].as_str().expect("key"))
            .collect();
        assert_eq!(keys, ["DEMO", "HELP", "MKT", "MOB"]);
        assert_eq!(projects[0]["projectCategory"]["name"], "Engineering");
        assert!(projects[0]["lead"]["accountId"].is_string());
        let priorities = api.get("/priority").await;
        let priorities = expect(&priorities, StatusCode::OK);
        assert_eq!(ids(priorities), ["1", "2", "3", "4", "5"]);
        assert_eq!(priorities[2]["isDefault"], true);
    }
    let api = Api::alice(&sim, "3");
    let recent = api.get("/project?recent=2").await;
    assert_eq!(
        expect(&recent, StatusCode::OK).as_array().map(Vec::len),
        Some(2)
    );
    let categories = api.get("/projectCategory").await;
    assert_schema_each("ProjectCategory", expect(&categories, StatusCode::OK));
    let by_category = api.get("/project/search?orderBy=category").await;
    let keys: Vec<&str> = expect(&by_category, StatusCode::OK)["values"]
        .as_array()
        .expect("values")
        .iter()
        .map(|p| p["key"].as_str().expect("key"))
        .collect();
    assert_eq!(
        keys,
        ["MKT", "DEMO", "MOB", "HELP"],
        "Business, Engineering, Service"
    );
    let service = api.get("/project/search?categoryId=10002").await;
    assert_eq!(expect(&service, StatusCode::OK)["values"][0]["key"], "HELP");
    expect(
        &api.get("/project/search?categoryId=pets").await,
        StatusCode::BAD_REQUEST,
    );
}

#[tokio::test]
async fn paged_catalogues_follow_jiras_page_shape() {
    let sim = start().await;
    let api = Api::alice(&sim, "3");
    let page = api.get("/priority/search?maxResults=2&startAt=1").await;
    let page = expect(&page, StatusCode::OK);
    assert_schema("PageBeanPriority", page);
    assert_eq!(page["total"], 5);
    assert_eq!(page["isLast"], false);
    assert_eq!(ids(&page["values"]), ["2", "3"]);
    assert!(
        page["nextPage"]
            .as_str()
            .expect("next")
            .contains("startAt=3")
    );
    let default = api.get("/priority/search?onlyDefault=true").await;
    assert_eq!(ids(&expect(&default, StatusCode::OK)["values"]), ["3"]);
    let named = api.get("/priority/search?priorityName=low").await;
    assert_eq!(ids(&expect(&named, StatusCode::OK)["values"]), ["4", "5"]);

    let resolutions = api.get("/resolution/search?id=10001&id=10002").await;
    let resolutions = expect(&resolutions, StatusCode::OK);
    assert_eq!(resolutions["total"], 2);
    assert_eq!(resolutions["isLast"], true);

    let fields = api.get("/field/search?maxResults=3").await;
    let fields = expect(&fields, StatusCode::OK);
    assert_eq!(fields["maxResults"], 3);
    assert_eq!(fields["isLast"], false);
    let total = fields["total"].as_u64().expect("total");
    let last = api
        .get(&format!("/field/search?startAt={}", total - 1))
        .await;
    let last = expect(&last, StatusCode::OK);
    assert_eq!(last["isLast"], true);
    assert_eq!(last["values"].as_array().map(Vec::len), Some(1));
    assert!(last["values"][0].get("key").is_none(), "key only on expand");
    let expanded = api
        .get("/field/search?type=custom&expand=key,searcherKey,lastUsed&maxResults=1")
        .await;
    let expanded = expect(&expanded, StatusCode::OK);
    assert_schema("PageBeanField", expanded);
    let field = &expanded["values"][0];
    assert_eq!(field["key"], field["id"]);
    assert!(
        field["searcherKey"]
            .as_str()
            .expect("searcher")
            .contains("searcher")
            || field["searcherKey"]
                .as_str()
                .expect("searcher")
                .ends_with(":exactnumber")
            || field["searcherKey"]
                .as_str()
                .expect("searcher")
                .ends_with(":daterange")
    );
    assert_eq!(field["lastUsed"]["type"], "NO_INFORMATION");

    let categories = api.get("/statuscategory").await;
    let keys: Vec<String> = expect(&categories, StatusCode::OK)
        .as_array()
        .expect("array")
        .iter()
        .map(|c| c["key"].as_str().expect("key").to_owned())
        .collect();
    assert_eq!(keys, ["undefined", "new", "indeterminate", "done"]);
    let statuses = api.get("/project/DEMO/statuses").await;
    let statuses = expect(&statuses, StatusCode::OK);
    assert_schema_each("IssueTypeWithStatus", statuses);
    assert_eq!(statuses[0]["statuses"].as_array().map(Vec::len), Some(4));
}

#[tokio::test]
async fn labels_include_those_written_on_issues() {
    let sim = start().await;
    let api = Api::alice(&sim, "3");
    let before = api.get("/label").await;
    let before = expect(&before, StatusCode::OK).clone();
    assert_schema("PageBeanString", &before);
    assert_eq!(before["maxResults"], 1000);
    assert!(!before["values"].as_array().expect("values").is_empty());
    let created = api
        .post(
            "/issue",
            &json!({"fields": {"project": {"key": "DEMO"}, "issuetype": {"name": "Task"},
                               "summary": "Labelled", "labels": ["zz-brand-new"]}}),
        )
        .await;
    expect(&created, StatusCode::CREATED);
    let after = api.get("/label").await;
    let values = expect(&after, StatusCode::OK)["values"].clone();
    assert!(
        values
            .as_array()
            .expect("values")
            .contains(&json!("zz-brand-new"))
    );
    assert_eq!(
        after.body["total"],
        before["total"].as_u64().expect("total") + 1
    );
}

#[tokio::test]
async fn versions_are_writable_and_issues_follow_their_deletion() {
    let sim = start().await;
    let api = Api::alice(&sim, "3");
    let created = api
        .post(
            "/version",
            &json!({"name": "4.0", "projectId": 10000, "releaseDate": "2026-01-01",
                    "description": "The next one"}),
        )
        .await;
    let created = expect(&created, StatusCode::CREATED).clone();
    assert_schema("Version", &created);
    assert_eq!(
        created["overdue"], true,
        "released before today, not released"
    );
    assert_eq!(created["userReleaseDate"], "1/Jan/26");
    let new_id = created["id"].as_str().expect("id").to_owned();

    // The new version is usable on issues at once.
    let issue = api
        .post(
            "/issue",
            &json!({"fields": {"project": {"key": "DEMO"}, "issuetype": {"name": "Task"},
                               "summary": "Versioned", "fixVersions": [{"name": "4.0"}]}}),
        )
        .await;
    let key = expect(&issue, StatusCode::CREATED)["key"]
        .as_str()
        .expect("key")
        .to_owned();
    let fetched = api.get(&format!("/issue/{key}?fields=fixVersions")).await;
    let fetched = expect(&fetched, StatusCode::OK);
    assert_eq!(
        fetched["fields"]["fixVersions"][0]["description"],
        "The next one"
    );

    // Paged lists, filters and the project agree.
    let page = api
        .get("/project/DEMO/version?status=unreleased&orderBy=-name")
        .await;
    let page = expect(&page, StatusCode::OK);
    assert_schema("PageBeanVersion", page);
    let names: Vec<&str> = page["values"]
        .as_array()
        .expect("values")
        .iter()
        .map(|v| v["name"].as_str().expect("name"))
        .collect();
    assert_eq!(names, ["4.0", "2.0.0"]);
    let project = api.get("/project/DEMO").await;
    assert!(ids(&expect(&project, StatusCode::OK)["versions"]).contains(&new_id));

    // A generated issue with version 1.0.0 or 1.1.0, moved to 4.0 when its version goes.
    let versions = api.get("/project/DEMO/versions").await;
    let first = expect(&versions, StatusCode::OK)[0].clone();
    let first_id = first["id"].as_str().expect("id").to_owned();
    let counts = api
        .get(&format!("/version/{first_id}/relatedIssueCounts"))
        .await;
    let fixed = expect(&counts, StatusCode::OK)["issuesFixedCount"]
        .as_u64()
        .expect("count");
    assert!(fixed > 0, "generated issues carry 1.0.0");
    let search = api
        .post(
            "/search/jql",
            &json!({"jql": "project = DEMO ORDER BY key", "fields": ["fixVersions"], "maxResults": 100}),
        )
        .await;
    let with_first: Vec<String> = expect(&search, StatusCode::OK)["issues"]
        .as_array()
        .expect("issues")
        .iter()
        .filter(|i| ids(&i["fields"]["fixVersions"]).contains(&first_id))
        .map(|i| i["key"].as_str().expect("key").to_owned())
        .collect();
    assert_eq!(with_first.len() as u64, fixed);
    let bad = api
        .delete(&format!("/version/{first_id}?moveFixIssuesTo=77"))
        .await;
    expect(&bad, StatusCode::BAD_REQUEST);
    let deleted = api
        .delete(&format!("/version/{first_id}?moveFixIssuesTo={new_id}"))
        .await;
    expect(&deleted, StatusCode::NO_CONTENT);
    let moved = api
        .get(&format!("/issue/{}?fields=fixVersions", with_first[0]))
        .await;
    let moved = ids(&expect(&moved, StatusCode::OK)["fields"]["fixVersions"]);
    assert!(moved.contains(&new_id) && !moved.contains(&first_id));
    let counts = api
        .get(&format!("/version/{new_id}/unresolvedIssueCount"))
        .await;
    assert_eq!(
        expect(&counts, StatusCode::OK)["issuesCount"].as_u64(),
        Some(fixed + 1)
    );
    expect(
        &api.get(&format!("/version/{first_id}")).await,
        StatusCode::NOT_FOUND,
    );

    // removeAndSwap is the body form of the same deletion.
    let spare = api
        .post("/version", &json!({"name": "spare", "projectId": 10000}))
        .await;
    let spare = expect(&spare, StatusCode::CREATED)["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let swapped = api
        .post(
            &format!("/version/{spare}/removeAndSwap"),
            &json!({"moveFixIssuesTo": new_id.parse::<u64>().expect("numeric")}),
        )
        .await;
    expect(&swapped, StatusCode::NO_CONTENT);
    expect(
        &api.get(&format!("/version/{spare}")).await,
        StatusCode::NOT_FOUND,
    );

    // Renaming keeps names unique per project; the edit shows on the issue.
    let dup = api
        .put(&format!("/version/{new_id}"), &json!({"name": "2.0.0"}))
        .await;
    assert_eq!(
        expect(&dup, StatusCode::BAD_REQUEST)["errors"]["name"],
        "A version with this name already exists in this project."
    );
    let renamed = api
        .put(
            &format!("/version/{new_id}"),
            &json!({"name": "4.0.1", "released": true}),
        )
        .await;
    assert_eq!(expect(&renamed, StatusCode::OK)["overdue"], false);
    let fetched = api.get(&format!("/issue/{key}?fields=fixVersions")).await;
    assert_eq!(
        expect(&fetched, StatusCode::OK)["fields"]["fixVersions"][0]["name"],
        "4.0.1"
    );

    // Releasing 2.0.0 moves its unresolved issues to 4.0.1; resolved ones keep it.
    let versions = api.get("/project/DEMO/versions?expand=issuesstatus").await;
    let versions = expect(&versions, StatusCode::OK).clone();
    let two = versions
        .as_array()
        .expect("versions")
        .iter()
        .find(|v| v["name"] == "2.0.0")
        .expect("2.0.0")
        .clone();
    let two_id = two["id"].as_str().expect("id").to_owned();
    let status = &two["issuesStatusForFixVersion"];
    let open = status["toDo"].as_u64().expect("toDo")
        + status["inProgress"].as_u64().expect("in progress");
    assert!(open > 0, "{two}");
    let before = api
        .get(&format!("/version/{new_id}/relatedIssueCounts"))
        .await;
    let before = expect(&before, StatusCode::OK)["issuesFixedCount"]
        .as_u64()
        .expect("count");
    let released = api
        .put(
            &format!("/version/{two_id}"),
            &json!({"released": true, "moveUnfixedIssuesTo": format!("{}/version/{new_id}", api.base)}),
        )
        .await;
    assert_eq!(expect(&released, StatusCode::OK)["released"], true);
    let unresolved = api
        .get(&format!("/version/{two_id}/unresolvedIssueCount"))
        .await;
    assert_eq!(
        expect(&unresolved, StatusCode::OK)["issuesUnresolvedCount"],
        0
    );
    let after = api
        .get(&format!("/version/{new_id}/relatedIssueCounts"))
        .await;
    assert_eq!(
        expect(&after, StatusCode::OK)["issuesFixedCount"].as_u64(),
        Some(before + open)
    );

    // Version writes survive dump and load.
    let dump = sim.control().dump();
    let fresh = start().await;
    let loaded = client()
        .post(format!("{}/_sim/state/load", fresh.base_url()))
        .json(&dump)
        .send()
        .await
        .expect("request");
    assert_eq!(loaded.status(), StatusCode::NO_CONTENT);
    let fresh_api = Api::alice(&fresh, "3");
    let got = fresh_api.get(&format!("/version/{new_id}")).await;
    assert_eq!(expect(&got, StatusCode::OK)["name"], "4.0.1");
    let moved = fresh_api
        .get(&format!("/issue/{}?fields=fixVersions", with_first[0]))
        .await;
    assert!(ids(&expect(&moved, StatusCode::OK)["fields"]["fixVersions"]).contains(&new_id));
}

#[tokio::test]
async fn components_are_writable_and_deletion_moves_issues() {
    let sim = start().await;
    let api = Api::alice(&sim, "3");
    let me = api.get("/myself").await;
    let account = expect(&me, StatusCode::OK)["accountId"].clone();
    let created = api
        .post(
            "/component",
            &json!({"name": "Billing", "project": "DEMO", "leadAccountId": account,
                    "assigneeType": "COMPONENT_LEAD"}),
        )
        .await;
    let created = expect(&created, StatusCode::CREATED).clone();
    assert_schema("ProjectComponent", &created);
    assert_eq!(created["realAssigneeType"], "COMPONENT_LEAD");
    assert_eq!(created["assignee"]["accountId"], account);
    let billing = created["id"].as_str().expect("id").to_owned();

    let page = api.get("/project/DEMO/component?orderBy=-issueCount").await;
    let page = expect(&page, StatusCode::OK).clone();
    assert_schema("PageBeanComponentWithIssueCount", &page);
    let counts: HashMap<String, u64> = page["values"]
        .as_array()
        .expect("values")
        .iter()
        .map(|c| {
            (
                c["id"].as_str().expect("id").to_owned(),
                c["issueCount"].as_u64().expect("count"),
            )
        })
        .collect();
    assert_eq!(counts[&billing], 0);
    let backend = page["values"][0]["id"].as_str().expect("id").to_owned();
    let moved_count = counts[&backend];
    assert!(moved_count > 0);

    let deleted = api
        .delete(&format!("/component/{backend}?moveIssuesTo={billing}"))
        .await;
    expect(&deleted, StatusCode::NO_CONTENT);
    let count = api
        .get(&format!("/component/{billing}/relatedIssueCounts"))
        .await;
    assert_eq!(
        expect(&count, StatusCode::OK)["issueCount"].as_u64(),
        Some(moved_count)
    );
    let list = api.get("/project/DEMO/components").await;
    assert!(!ids(expect(&list, StatusCode::OK)).contains(&backend));
    let across = api
        .get("/component?projectIdsOrKeys=DEMO&projectIdsOrKeys=HELP&query=bill")
        .await;
    let across = expect(&across, StatusCode::OK);
    assert_schema("PageBean2ComponentJsonBean", across);
    assert_eq!(ids(&across["values"]), std::slice::from_ref(&billing));
    let all = api.get("/component?maxResults=50").await;
    let total = expect(&all, StatusCode::OK)["total"].as_u64();
    assert_eq!(
        total,
        Some(4 + 4 + 3 + 3 - 1 + 1),
        "every project's components"
    );
    let edit = api
        .post(
            "/issue",
            &json!({"fields": {"project": {"key": "DEMO"}, "issuetype": {"name": "Task"},
                               "summary": "Gone component", "components": [{"id": backend}]}}),
        )
        .await;
    expect(&edit, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn groups_agree_between_myself_members_and_pickers() {
    let sim = start().await;
    let api = Api::alice(&sim, "3");
    let me = api.get("/myself?expand=groups").await;
    let me = expect(&me, StatusCode::OK).clone();
    let account = me["accountId"].as_str().expect("account").to_owned();
    let mine: Vec<String> = me["groups"]["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|g| g["name"].as_str().expect("name").to_owned())
        .collect();
    assert_eq!(
        mine,
        [
            "jira-administrators",
            "jira-servicemanagement-users",
            "jira-software-users",
            "site-admins"
        ]
    );
    let via_user = api.get(&format!("/user/groups?accountId={account}")).await;
    let via_user = expect(&via_user, StatusCode::OK);
    assert_schema_each("GroupName", via_user);
    assert_eq!(
        via_user[0]["groupId"], me["groups"]["items"][0]["groupId"],
        "the same stable group ids"
    );
    let user = api
        .get(&format!(
            "/user?accountId={account}&expand=groups,applicationRoles"
        ))
        .await;
    let user = expect(&user, StatusCode::OK);
    assert_schema("User", user);
    assert_eq!(user["groups"]["items"], me["groups"]["items"]);

    let admins = api.get("/group/member?groupname=site-admins").await;
    let admins = expect(&admins, StatusCode::OK);
    assert_schema("PageBeanUserDetails", admins);
    assert_eq!(admins["total"], 1);
    assert_eq!(admins["values"][0]["accountId"], account.as_str());
    let members = api
        .get("/group/member?groupname=jira-software-users&maxResults=5")
        .await;
    let active = expect(&members, StatusCode::OK)["total"]
        .as_u64()
        .expect("total");
    let all = api
        .get("/group/member?groupname=jira-software-users&includeInactiveUsers=true")
        .await;
    assert!(
        expect(&all, StatusCode::OK)["total"]
            .as_u64()
            .expect("total")
            > active
    );

    let group = api
        .get("/group?groupname=jira-software-users&expand=users[1:2]")
        .await;
    let group = expect(&group, StatusCode::OK);
    assert_schema("Group", group);
    assert_eq!(group["users"]["start-index"], 1);
    assert_eq!(group["users"]["end-index"], 2);
    assert_eq!(group["users"]["size"], active);
    let bulk_groups = api
        .get("/group/bulk?accessType=user&applicationKey=jira-servicedesk")
        .await;
    let bulk_groups = expect(&bulk_groups, StatusCode::OK);
    assert_schema("PageBeanGroupDetails", bulk_groups);
    assert_eq!(
        bulk_groups["values"][0]["name"],
        "jira-servicemanagement-users"
    );
    assert_eq!(bulk_groups["total"], 1);
    let picker = api
        .get("/groups/picker?query=admin&exclude=site-admins")
        .await;
    let picker = expect(&picker, StatusCode::OK);
    assert_schema("FoundGroups", picker);
    assert_eq!(picker["total"], 1);
    assert_eq!(picker["groups"][0]["html"], "jira-<b>admin</b>istrators");

    let bulk = api
        .get(&format!("/user/bulk?accountId={account}&accountId=unknown"))
        .await;
    let bulk = expect(&bulk, StatusCode::OK);
    assert_schema("PageBeanUser", bulk);
    assert_eq!(bulk["total"], 1);

    let assignable = api
        .get("/user/assignable/search?issueKey=DEMO-1&query=ali")
        .await;
    let assignable = expect(&assignable, StatusCode::OK);
    assert_eq!(assignable[0]["accountId"], account.as_str());
    let desk = api.get("/user/assignable/search?project=HELP").await;
    let desk: Vec<&str> = expect(&desk, StatusCode::OK)
        .as_array()
        .expect("array")
        .iter()
        .map(|u| u["accountId"].as_str().expect("account"))
        .collect();
    assert!(
        desk.contains(&account.as_str()),
        "the administrator is an agent"
    );
    let carol = api
        .get("/user/assignable/multiProjectSearch?projectKeys=DEMO,MOB&query=carol")
        .await;
    assert_eq!(
        expect(&carol, StatusCode::OK).as_array().map(Vec::len),
        Some(0),
        "inactive people cannot be assigned"
    );
}

/// The consent page preselects the site `serve --demo` tells people to use.
#[tokio::test]
async fn accepting_the_consent_page_as_shown_grants_the_default_site() {
    let sim = start().await;
    let samples = sim.samples().clone();
    let redirect = "http://127.0.0.1:8080/connection/oauth2callback";
    let page = client()
        .get(format!("{}/authorize", sim.auth_server()))
        .query(&[
            ("audience", "api.atlassian.com"),
            ("client_id", samples.oauth_client_id.as_str()),
            ("scope", "read:jira-work read:jira-user"),
            ("redirect_uri", redirect),
            ("state", "s"),
            ("response_type", "code"),
            ("prompt", "consent"),
        ])
        .send()
        .await
        .expect("authorize");
    assert_eq!(page.status(), StatusCode::OK);
    let page = page.text().await.expect("page");
    let field = |marker: &str| {
        let start = page.find(marker).expect("marker") + marker.len();
        let end = page[start..].find('"').expect("quote") + start;
        page[start..end].to_owned()
    };
    // A browser submits the first option when nothing is chosen.
    let first_site = field("<option value=\"");
    let demo = sim.control().site("demo").expect("demo");
    assert_eq!(first_site, demo.cloud_id.to_string());
    let res = client()
        .post(format!("{}/authorize/consent", sim.auth_server()))
        .form(&[
            ("request", field("name=\"request\" value=\"")),
            ("decision", "accept".to_owned()),
            ("site", first_site),
        ])
        .send()
        .await
        .expect("consent");
    assert_eq!(res.status(), StatusCode::FOUND);
    let location = res.headers()["location"]
        .to_str()
        .expect("ascii")
        .to_owned();
    let code = url::Url::parse(&location)
        .expect("url")
        .query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .expect("code");
    let tokens: Value = client()
        .post(format!("{}/oauth/token", sim.auth_server()))
        .json(
            &json!({"grant_type": "authorization_code", "client_id": samples.oauth_client_id,
                      "client_secret": samples.oauth_client_secret, "code": code,
                      "redirect_uri": redirect}),
        )
        .send()
        .await
        .expect("token")
        .json()
        .await
        .expect("json");
    let resources: Value = client()
        .get(format!(
            "{}/oauth/token/accessible-resources",
            sim.api_gateway()
        ))
        .bearer_auth(tokens["access_token"].as_str().expect("token"))
        .send()
        .await
        .expect("resources")
        .json()
        .await
        .expect("json");
    assert_eq!(resources[0]["id"], demo.cloud_id.to_string());
    assert_eq!(resources.as_array().map(Vec::len), Some(1));
}

/// `maxResults=0` answers an empty page without a `nextPage`, so a client following
/// `nextPage` until it is absent stops instead of asking for the same page forever.
#[tokio::test]
async fn an_empty_page_names_no_next_page() {
    let sim = start().await;
    let api = Api::alice(&sim, "3");
    for path in [
        "/priority/search?maxResults=0",
        "/resolution/search?maxResults=0",
        "/field/search?maxResults=0",
        "/project/search?maxResults=0",
        "/project/DEMO/version?maxResults=0",
        "/group/member?groupname=jira-software-users&maxResults=0",
    ] {
        let page = api.get(path).await;
        let page = expect(&page, StatusCode::OK);
        assert_eq!(page["values"], json!([]), "{path}");
        assert!(page["total"].as_u64().unwrap_or(0) > 0, "{path}");
        assert!(page.get("nextPage").is_none(), "{path}: {page}");
    }
}

#[tokio::test]
async fn deleting_versions_moves_affected_versions_with_history() {
    let sim = start().await;
    let api = Api::alice(&sim, "3");
    let mut made = Vec::new();
    for name in ["A", "B", "C"] {
        let v = api
            .post("/version", &json!({"name": name, "projectId": 10000}))
            .await;
        made.push(
            expect(&v, StatusCode::CREATED)["id"]
                .as_str()
                .expect("id")
                .to_owned(),
        );
    }
    let [a, b, c] = [made[0].clone(), made[1].clone(), made[2].clone()];
    let issue = api
        .post(
            "/issue",
            &json!({"fields": {"project": {"key": "DEMO"}, "issuetype": {"name": "Bug"},
                               "summary": "Affected", "versions": [{"id": a}],
                               "fixVersions": [{"id": a}]}}),
        )
        .await;
    let key = expect(&issue, StatusCode::CREATED)["key"]
        .as_str()
        .expect("key")
        .to_owned();
    expect(
        &api.delete(&format!("/version/{a}?moveAffectedIssuesTo={a}"))
            .await,
        StatusCode::BAD_REQUEST,
    );
    let deleted = api
        .delete(&format!(
            "/version/{a}?moveFixIssuesTo={b}&moveAffectedIssuesTo={c}"
        ))
        .await;
    expect(&deleted, StatusCode::NO_CONTENT);
    let moved = api
        .get(&format!(
            "/issue/{key}?fields=versions,fixVersions&expand=changelog"
        ))
        .await;
    let moved = expect(&moved, StatusCode::OK).clone();
    assert_eq!(ids(&moved["fields"]["versions"]), vec![c.clone()]);
    assert_eq!(ids(&moved["fields"]["fixVersions"]), vec![b.clone()]);
    let items: Vec<(String, String, String)> = moved["changelog"]["histories"]
        .as_array()
        .expect("histories")
        .iter()
        .flat_map(|h| h["items"].as_array().expect("items").clone())
        .map(|i| {
            (
                i["field"].as_str().unwrap_or_default().to_owned(),
                i["from"].as_str().unwrap_or_default().to_owned(),
                i["to"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    assert!(
        items.contains(&("Fix Version".to_owned(), a.clone(), b.clone())),
        "{items:?}"
    );
    assert!(
        items.contains(&("Version".to_owned(), a.clone(), c.clone())),
        "{items:?}"
    );

    // removeAndSwap moves affected versions too.
    let swapped = api
        .post(
            &format!("/version/{c}/removeAndSwap"),
            &json!({"moveAffectedIssuesTo": b.parse::<u64>().expect("numeric")}),
        )
        .await;
    expect(&swapped, StatusCode::NO_CONTENT);
    let moved = api.get(&format!("/issue/{key}?fields=versions")).await;
    assert_eq!(
        ids(&expect(&moved, StatusCode::OK)["fields"]["versions"]),
        vec![b]
    );
}

/// The banner lists the default site first, like the consent page, so the subdomain a new user
/// reads first is the one that works without choosing.
#[tokio::test]
async fn the_banner_lists_the_default_site_first() {
    let sim = start().await;
    let banner = jiralink_sim::cli::banner(&sim);
    let demo = banner.find("Site demo:").expect("demo listed");
    let acme = banner.find("Site acme:").expect("acme listed");
    assert!(demo < acme, "{banner}");
    let sites: Vec<String> = sim
        .control()
        .sites()
        .into_iter()
        .map(|s| s.subdomain)
        .collect();
    assert_eq!(sites, ["demo", "acme"]);
}
