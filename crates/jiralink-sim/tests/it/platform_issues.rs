//! Issues, bulk operations, transitions, comments, worklogs, changelogs, properties and
//! metadata.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::platform::{Api, assert_error_message, assert_schema, assert_schema_each, expect};
use crate::start;

fn doc(text: &str) -> Value {
    json!({"type":"doc","version":1,"content":[{"type":"paragraph","content":[
        {"type":"text","text":text},
        {"type":"text","text":" bold","marks":[{"type":"strong"}]}
    ]}]})
}

async fn create_task(api: &Api, summary: &str) -> (String, String) {
    let reply = api
        .post(
            "/issue",
            &json!({"fields": {
                "project": {"key": "DEMO"},
                "issuetype": {"name": "Task"},
                "summary": summary,
                "description": doc("Created by a test"),
                "labels": ["test"],
                "priority": {"name": "High"},
                "customfield_10011": {"value": "Payments"},
            }}),
        )
        .await;
    let body = expect(&reply, StatusCode::CREATED);
    assert_schema("CreatedIssue", body);
    (
        body["id"].as_str().expect("id").to_owned(),
        body["key"].as_str().expect("key").to_owned(),
    )
}

#[tokio::test]
async fn get_issue_in_v3_and_v2() {
    let sim = start().await;
    let v3 = Api::alice(&sim, "3");
    let v2 = Api::alice(&sim, "2");
    let (id, key) = create_task(&v3, "Rich text").await;
    let issue = v3.get(&format!("/issue/{key}?expand=names,schema,renderedFields,transitions,editmeta,changelog,operations&properties=*all")).await;
    let issue = expect(&issue, StatusCode::OK);
    assert_schema("IssueBean", issue);
    assert_eq!(issue["id"], id);
    assert_eq!(issue["fields"]["description"]["type"], "doc");
    assert_eq!(issue["fields"]["customfield_10011"]["value"], "Payments");
    assert_eq!(issue["fields"]["priority"]["name"], "High");
    assert_eq!(issue["names"]["customfield_10011"], "Team");
    assert_eq!(
        issue["renderedFields"]["description"],
        "<p>Created by a test<b> bold</b></p>"
    );
    assert!(
        issue["fields"].get("comment").is_some(),
        "GET issue returns all fields by default"
    );

    let old = v2.get(&format!("/issue/{id}")).await;
    let old = expect(&old, StatusCode::OK);
    assert_schema("IssueBean", old);
    assert_eq!(old["fields"]["description"], "Created by a test* bold*");
    assert!(old["self"].as_str().expect("self").contains("/rest/api/2/"));

    let some = v3
        .get(&format!("/issue/{key}?fields=summary,-labels"))
        .await;
    let some = expect(&some, StatusCode::OK);
    assert_eq!(some["fields"].as_object().expect("fields").len(), 1);
    let lower = v3.get(&format!("/issue/{}", key.to_lowercase())).await;
    expect(&lower, StatusCode::OK);
    let missing = v3.get("/issue/DEMO-99999").await;
    assert_error_message(
        expect(&missing, StatusCode::NOT_FOUND),
        "Issue does not exist",
    );
}

#[tokio::test]
async fn create_validates_fields_like_jira() {
    let sim = start().await;
    let api = Api::alice(&sim, "3");
    let bad = api
        .post(
            "/issue",
            &json!({"fields": {
                "project": {"key": "DEMO"},
                "issuetype": {"name": "Task"},
                "priority": {"name": "Urgentest"},
                "description": "plain text is not ADF in v3",
                "customfield_10013": {"value": "Europe"},
                "colour": "red",
            }}),
        )
        .await;
    let body = expect(&bad, StatusCode::BAD_REQUEST);
    assert_schema("ErrorCollection", body);
    let errors = body["errors"].as_object().expect("errors");
    assert_eq!(
        errors["summary"],
        "You must specify a summary of the issue."
    );
    assert!(
        errors["priority"]
            .as_str()
            .expect("priority")
            .contains("invalid")
    );
    assert!(
        errors["description"]
            .as_str()
            .expect("description")
            .contains("Atlassian Document")
    );
    assert!(
        errors["customfield_10013"]
            .as_str()
            .expect("screen")
            .contains("not on the appropriate screen")
    );
    assert!(errors.contains_key("colour"));

    let no_project = api
        .post(
            "/issue",
            &json!({"fields": {"summary": "x", "issuetype": {"name": "Task"}}}),
        )
        .await;
    assert!(expect(&no_project, StatusCode::BAD_REQUEST)["errors"]["project"].is_string());
    let orphan = api
        .post("/issue", &json!({"fields": {"project": {"key": "DEMO"}, "issuetype": {"name": "Sub-task"}, "summary": "x"}}))
        .await;
    assert!(expect(&orphan, StatusCode::BAD_REQUEST)["errors"]["parent"].is_string());
    let wrong_type = api
        .post("/issue", &json!({"fields": {"project": {"key": "MKT"}, "issuetype": {"name": "Bug"}, "summary": "x"}}))
        .await;
    assert_eq!(
        expect(&wrong_type, StatusCode::BAD_REQUEST)["errors"]["issuetype"],
        "The issue type selected is invalid."
    );
    let not_json = crate::client()
        .post(format!("{}/issue", api.base))
        .header("authorization", &api.auth)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .expect("request");
    assert_eq!(not_json.status(), StatusCode::BAD_REQUEST);

    let parent = api
        .post(
            "/issue",
            &json!({"fields": {"project": {"key": "DEMO"}, "issuetype": {"name": "Story"}, "summary": "Parent"},
                    "update": {"labels": [{"add": "one"}, {"add": "two"}]},
                    "properties": [{"key": "origin", "value": {"by": "test"}}]}),
        )
        .await;
    let parent_key = expect(&parent, StatusCode::CREATED)["key"]
        .as_str()
        .expect("key")
        .to_owned();
    let child = api
        .post(
            "/issue",
            &json!({"fields": {"project": {"key": "DEMO"}, "issuetype": {"name": "Sub-task"}, "summary": "Child",
                               "parent": {"key": parent_key}, "customfield_10011": {"value": "Mobile"}}}),
        )
        .await;
    let child_key = expect(&child, StatusCode::CREATED)["key"]
        .as_str()
        .expect("key")
        .to_owned();
    let parent = api
        .get(&format!("/issue/{parent_key}?properties=origin"))
        .await;
    let parent = expect(&parent, StatusCode::OK);
    assert_eq!(parent["fields"]["labels"], json!(["one", "two"]));
    assert_eq!(parent["fields"]["subtasks"][0]["key"], child_key);
    assert_eq!(parent["properties"]["origin"]["by"], "test");
    let child = api.get(&format!("/issue/{child_key}")).await;
    assert_eq!(
        expect(&child, StatusCode::OK)["fields"]["customfield_10011"]["value"],
        "Mobile"
    );
}

#[tokio::test]
async fn edit_applies_fields_and_update_verbs_and_records_history() {
    let sim = start().await;
    let api = Api::alice(&sim, "3");
    let (_, key) = create_task(&api, "Before").await;
    let edit = api
        .put(
            &format!("/issue/{key}"),
            &json!({
                "fields": {"summary": "After", "customfield_10011": {"id": "10102"}},
                "update": {"labels": [{"add": "triaged"}, {"remove": "test"}], "comment": [{"add": {"body": doc("Edited")}}]},
                "properties": [{"key": "k", "value": 1}],
            }),
        )
        .await;
    assert_eq!(edit.status, StatusCode::NO_CONTENT, "{:#}", edit.body);
    let issue = api.get(&format!("/issue/{key}?expand=changelog")).await;
    let issue = expect(&issue, StatusCode::OK);
    assert_eq!(issue["fields"]["summary"], "After");
    assert_eq!(issue["fields"]["labels"], json!(["triaged"]));
    assert_eq!(issue["fields"]["customfield_10011"]["value"], "Growth");
    assert_eq!(issue["fields"]["comment"]["total"], 1);
    let history = issue["changelog"]["histories"]
        .as_array()
        .expect("histories")
        .last()
        .expect("history")
        .clone();
    let fields: Vec<&str> = history["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| i["field"].as_str().expect("field"))
        .collect();
    assert!(
        fields.contains(&"summary") && fields.contains(&"labels") && fields.contains(&"Team"),
        "{fields:?}"
    );

    let returned = api
        .put(
            &format!("/issue/{key}?returnIssue=true"),
            &json!({"fields": {"duedate": "2026-02-01"}}),
        )
        .await;
    let returned = expect(&returned, StatusCode::OK);
    assert_eq!(returned["fields"]["duedate"], "2026-02-01");
    let both = api
        .put(
            &format!("/issue/{key}"),
            &json!({"fields": {"labels": []}, "update": {"labels": [{"add": "x"}]}}),
        )
        .await;
    assert!(expect(&both, StatusCode::BAD_REQUEST)["errors"]["labels"].is_string());
    let bad_date = api
        .put(
            &format!("/issue/{key}"),
            &json!({"fields": {"duedate": "tomorrow"}}),
        )
        .await;
    assert!(expect(&bad_date, StatusCode::BAD_REQUEST)["errors"]["duedate"].is_string());
    let missing = api
        .put("/issue/DEMO-99999", &json!({"fields": {"summary": "x"}}))
        .await;
    expect(&missing, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn delete_needs_delete_subtasks_for_parents() {
    let sim = start().await;
    let api = Api::alice(&sim, "3");
    // DEMO-6 is a generated story with sub-tasks DEMO-7 and DEMO-8.
    let parent = api.get("/issue/DEMO-6?fields=subtasks").await;
    let subtasks = expect(&parent, StatusCode::OK)["fields"]["subtasks"]
        .as_array()
        .expect("subtasks")
        .len();
    assert_eq!(subtasks, 2);
    let refused = api.delete("/issue/DEMO-6").await;
    assert_error_message(expect(&refused, StatusCode::BAD_REQUEST), "subtasks");
    let deleted = api.delete("/issue/DEMO-6?deleteSubtasks=true").await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    for key in ["DEMO-6", "DEMO-7", "DEMO-8"] {
        expect(
            &api.get(&format!("/issue/{key}")).await,
            StatusCode::NOT_FOUND,
        );
    }
    let again = api.delete("/issue/DEMO-6").await;
    expect(&again, StatusCode::NOT_FOUND);
    let leaf = api.delete("/issue/DEMO-2").await;
    assert_eq!(leaf.status, StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn bulk_create_reports_partial_failures_by_position() {
    let sim = start().await;
    let api = Api::alice(&sim, "3");
    let good = |s: &str| json!({"fields": {"project": {"key": "MKT"}, "issuetype": {"name": "Task"}, "summary": s}});
    let bad = json!({"fields": {"project": {"key": "MKT"}, "issuetype": {"name": "Epic"}, "summary": "wrong type"}});
    let reply = api
        .post(
            "/issue/bulk",
            &json!({"issueUpdates": [good("one"), bad, good("three")]}),
        )
        .await;
    let body = expect(&reply, StatusCode::CREATED);
    assert_schema("CreatedIssues", body);
    assert_eq!(body["issues"].as_array().expect("issues").len(), 2);
    assert_eq!(body["errors"][0]["failedElementNumber"], 1);
    assert_eq!(body["errors"][0]["status"], 400);
    assert_eq!(
        body["errors"][0]["elementErrors"]["errors"]["issuetype"],
        "The issue type selected is invalid."
    );

    let none = api
        .post(
            "/issue/bulk",
            &json!({"issueUpdates": [json!({"fields": {}}), json!({"fields": {"summary": "x"}})]}),
        )
        .await;
    let none = expect(&none, StatusCode::BAD_REQUEST);
    assert_schema("CreatedIssues", none);
    assert_eq!(none["issues"], json!([]));
    assert_eq!(none["errors"][1]["failedElementNumber"], 1);
    let too_many: Vec<Value> = (0..51).map(|n| good(&n.to_string())).collect();
    let refused = api
        .post("/issue/bulk", &json!({"issueUpdates": too_many}))
        .await;
    expect(&refused, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn bulk_create_takes_fields_update_and_properties_per_issue() {
    let sim = start().await;
    let api = Api::alice(&sim, "3");
    let element = |summary: &str, label: &str, origin: &str| {
        json!({
            "fields": {"project": {"key": "DEMO"}, "issuetype": {"name": "Task"}, "summary": summary,
                       "description": doc("Bulk")},
            "update": {"labels": [{"add": label}], "comment": [{"add": {"body": doc("From update")}}]},
            "properties": [{"key": "origin", "value": {"by": origin}}, {"key": "n", "value": 1}],
        })
    };
    let reply = api
        .post(
            "/issue/bulk",
            &json!({"issueUpdates": [element("First", "one", "a"), element("Second", "two", "b")]}),
        )
        .await;
    let body = expect(&reply, StatusCode::CREATED);
    assert_schema("CreatedIssues", body);
    assert_eq!(body["errors"], json!([]));
    let keys: Vec<&str> = body["issues"]
        .as_array()
        .expect("issues")
        .iter()
        .map(|i| i["key"].as_str().expect("key"))
        .collect();
    assert_eq!(keys.len(), 2);
    for (key, (summary, label, origin)) in keys
        .iter()
        .zip([("First", "one", "a"), ("Second", "two", "b")])
    {
        let issue = api
            .get(&format!(
                "/issue/{key}?fields=summary,labels,comment,description&properties=*all"
            ))
            .await;
        let issue = expect(&issue, StatusCode::OK);
        assert_eq!(issue["fields"]["summary"], summary);
        assert_eq!(issue["fields"]["labels"], json!([label]));
        assert_eq!(issue["fields"]["description"]["type"], "doc");
        assert_eq!(issue["fields"]["comment"]["total"], 1);
        assert_eq!(issue["properties"]["origin"]["by"], origin);
        assert_eq!(issue["properties"]["n"], 1);
        let property = api.get(&format!("/issue/{key}/properties/origin")).await;
        assert_eq!(
            expect(&property, StatusCode::OK)["value"]["by"],
            origin,
            "bulk-created properties are real entity properties"
        );
    }

    // A bad property key fails its own element only, like `POST /issue`.
    let bad = json!({"fields": {"project": {"key": "DEMO"}, "issuetype": {"name": "Task"}, "summary": "Bad"},
                     "properties": [{"key": "", "value": 1}]});
    let reply = api
        .post(
            "/issue/bulk",
            &json!({"issueUpdates": [bad, element("Third", "three", "c")]}),
        )
        .await;
    let body = expect(&reply, StatusCode::CREATED);
    assert_eq!(body["issues"].as_array().expect("issues").len(), 1);
    assert_eq!(body["errors"][0]["failedElementNumber"], 0);
    assert!(
        body["errors"][0]["elementErrors"]["errors"]["properties"]
            .as_str()
            .expect("properties error")
            .contains("Property key")
    );
}

#[tokio::test]
async fn bulk_fetch_orders_by_id_and_leaves_missing_issues_out_silently() {
    let sim = start().await;
    let api = Api::alice(&sim, "3");
    let reply = api
        .post("/issue/bulkfetch", &json!({"issueIdsOrKeys": ["MOB-3", "10001", "DEMO-1", "NOPE-1", "10001"], "fields": ["summary"], "expand": ["changelog"]}))
        .await;
    let body = expect(&reply, StatusCode::OK);
    assert_schema("BulkIssueResults", body);
    let ids: Vec<u64> = body["issues"]
        .as_array()
        .expect("issues")
        .iter()
        .map(|i| i["id"].as_str().expect("id").parse().expect("n"))
        .collect();
    let mut sorted = ids.clone();
    sorted.sort_unstable();
    assert_eq!(ids, sorted);
    assert_eq!(ids.len(), 3);
    assert!(!body.to_string().contains("NOPE-1"));
    assert_eq!(body["issueErrors"], json!([]));
    assert!(
        body["issues"][0]["changelog"]["histories"]
            .as_array()
            .expect("h")
            .len()
            <= 40
    );
    let navigable = api
        .post("/issue/bulkfetch", &json!({"issueIdsOrKeys": ["DEMO-1"]}))
        .await;
    let fields = &expect(&navigable, StatusCode::OK)["issues"][0]["fields"];
    assert!(
        fields.get("summary").is_some() && fields.get("comment").is_none(),
        "default is *navigable"
    );
    let empty = api
        .post("/issue/bulkfetch", &json!({"issueIdsOrKeys": []}))
        .await;
    expect(&empty, StatusCode::BAD_REQUEST);
    let many: Vec<String> = (0..101).map(|n| (10_000 + n).to_string()).collect();
    let refused = api
        .post("/issue/bulkfetch", &json!({"issueIdsOrKeys": many}))
        .await;
    expect(&refused, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn transitions_follow_the_workflow() {
    let sim = start().await;
    let api = Api::alice(&sim, "3");
    let (_, key) = create_task(&api, "Flow").await;
    let list = api
        .get(&format!(
            "/issue/{key}/transitions?expand=transitions.fields"
        ))
        .await;
    let list = expect(&list, StatusCode::OK);
    assert_schema("Transitions", list);
    let names: Vec<&str> = list["transitions"]
        .as_array()
        .expect("t")
        .iter()
        .map(|t| t["name"].as_str().expect("name"))
        .collect();
    assert_eq!(
        names,
        ["Start progress"],
        "only transitions valid from To Do"
    );
    let skip = api
        .post(
            &format!("/issue/{key}/transitions"),
            &json!({"transition": {"id": "31"}}),
        )
        .await;
    assert_error_message(
        expect(&skip, StatusCode::BAD_REQUEST),
        "Transition id '31' is not valid",
    );
    let start_progress = api
        .post(
            &format!("/issue/{key}/transitions"),
            &json!({"transition": {"id": "11"}}),
        )
        .await;
    assert_eq!(start_progress.status, StatusCode::NO_CONTENT);
    let done = api
        .post(
            &format!("/issue/{key}/transitions"),
            &json!({"transition": {"id": "31"}, "fields": {"resolution": {"name": "Won't Do"}},
                    "update": {"comment": [{"add": {"body": doc("Closing")}}]}}),
        )
        .await;
    assert_eq!(done.status, StatusCode::NO_CONTENT, "{:#}", done.body);
    let issue = api
        .get(&format!(
            "/issue/{key}?fields=status,resolution,resolutiondate,comment"
        ))
        .await;
    let issue = expect(&issue, StatusCode::OK);
    assert_eq!(issue["fields"]["status"]["name"], "Done");
    assert_eq!(issue["fields"]["resolution"]["name"], "Won't Do");
    assert!(issue["fields"]["resolutiondate"].is_string());
    assert_eq!(issue["fields"]["comment"]["total"], 1);
    let after = api.get(&format!("/issue/{key}/transitions")).await;
    assert_eq!(
        expect(&after, StatusCode::OK)["transitions"][0]["name"],
        "Reopen"
    );
    let missing = api.post("/issue/DEMO-1/transitions", &json!({})).await;
    expect(&missing, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn comments_crud_in_both_versions() {
    let sim = start().await;
    let v3 = Api::alice(&sim, "3");
    let v2 = Api::alice(&sim, "2");
    let (_, key) = create_task(&v3, "Comments").await;
    let added = v3.post(&format!("/issue/{key}/comment"), &json!({"body": doc("First"), "visibility": {"type": "role", "value": "Administrators"}})).await;
    let added = expect(&added, StatusCode::CREATED).clone();
    assert_schema("Comment", &added);
    assert_eq!(added["body"]["type"], "doc");
    assert_eq!(added["visibility"]["value"], "Administrators");
    let id = added["id"].as_str().expect("id").to_owned();
    let wiki = v2
        .post(
            &format!("/issue/{key}/comment"),
            &json!({"body": "Second *bold*"}),
        )
        .await;
    let wiki = expect(&wiki, StatusCode::CREATED);
    assert_eq!(wiki["body"], "Second *bold*");
    let as_v3 = v3
        .get(&format!(
            "/issue/{key}/comment/{}",
            wiki["id"].as_str().expect("id")
        ))
        .await;
    assert_eq!(
        expect(&as_v3, StatusCode::OK)["body"]["content"][0]["content"][1]["marks"][0]["type"],
        "strong"
    );

    let page = v3
        .get(&format!(
            "/issue/{key}/comment?orderBy=-created&maxResults=1&expand=renderedBody"
        ))
        .await;
    let page = expect(&page, StatusCode::OK);
    assert_schema("PageOfComments", page);
    assert_eq!(page["total"], 2);
    assert_eq!(page["comments"].as_array().expect("c").len(), 1);
    assert!(page["comments"][0]["renderedBody"].is_string());

    let updated = v3
        .put(
            &format!("/issue/{key}/comment/{id}"),
            &json!({"body": doc("Changed")}),
        )
        .await;
    assert_eq!(
        expect(&updated, StatusCode::OK)["body"]["content"][0]["content"][0]["text"],
        "Changed"
    );
    let empty = v3
        .post(
            &format!("/issue/{key}/comment"),
            &json!({"body": {"type":"doc","version":1,"content":[]}}),
        )
        .await;
    expect(&empty, StatusCode::BAD_REQUEST);
    let string_in_v3 = v3
        .post(&format!("/issue/{key}/comment"), &json!({"body": "text"}))
        .await;
    expect(&string_in_v3, StatusCode::BAD_REQUEST);
    let deleted = v3.delete(&format!("/issue/{key}/comment/{id}")).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    let gone = v3.get(&format!("/issue/{key}/comment/{id}")).await;
    expect(&gone, StatusCode::NOT_FOUND);
    expect(
        &v3.delete(&format!("/issue/{key}/comment/{id}")).await,
        StatusCode::NOT_FOUND,
    );
    expect(
        &v3.get("/issue/DEMO-99999/comment").await,
        StatusCode::NOT_FOUND,
    );
}

#[tokio::test]
async fn worklogs_changelogs_and_properties() {
    let sim = start().await;
    let api = Api::alice(&sim, "3");
    let (id, key) = create_task(&api, "Work").await;
    let logged = api
        .post(&format!("/issue/{key}/worklog"), &json!({"timeSpentSeconds": 12000, "started": "2026-01-04T10:00:00.000+0000", "comment": doc("Did it")}))
        .await;
    let logged = expect(&logged, StatusCode::CREATED);
    assert_schema("Worklog", logged);
    assert_eq!(logged["timeSpent"], "3h 20m");
    let second = api
        .post(
            &format!("/issue/{key}/worklog"),
            &json!({"timeSpent": "1h", "started": "2026-01-05T08:00:00.000+0000"}),
        )
        .await;
    expect(&second, StatusCode::CREATED);
    let zero = api
        .post(
            &format!("/issue/{key}/worklog"),
            &json!({"timeSpentSeconds": 0}),
        )
        .await;
    expect(&zero, StatusCode::BAD_REQUEST);
    let page = api
        .get(&format!("/issue/{key}/worklog?startedAfter=1767571200000"))
        .await;
    let page = expect(&page, StatusCode::OK);
    assert_schema("PageOfWorklogs", page);
    assert_eq!(page["total"], 1, "only the worklog started on 2026-01-05");

    let edit = api
        .put(
            &format!("/issue/{key}"),
            &json!({"fields": {"summary": "Work done"}}),
        )
        .await;
    expect(&edit, StatusCode::NO_CONTENT);
    let changelog = api.get(&format!("/issue/{key}/changelog")).await;
    let changelog = expect(&changelog, StatusCode::OK);
    assert_schema("PageBeanChangelog", changelog);
    // Logged work is in the history too (`timespent`), before the summary change.
    let last = changelog["values"]
        .as_array()
        .and_then(|v| v.last())
        .expect("history");
    assert_eq!(last["items"][0]["toString"], "Work done");
    let generated = api.get("/issue/DEMO-2/changelog?maxResults=1").await;
    let generated = expect(&generated, StatusCode::OK);
    assert_schema("PageBeanChangelog", generated);
    let bulk = api
        .post("/changelog/bulkfetch", &json!({"issueIdsOrKeys": [id, "DEMO-2", "DEMO-3"], "fieldIds": ["status"], "maxResults": 2}))
        .await;
    let bulk = expect(&bulk, StatusCode::OK);
    assert_schema("BulkChangelogResponseBean", bulk);
    for log in bulk["issueChangeLogs"].as_array().expect("logs") {
        for h in log["changeHistories"].as_array().expect("h") {
            assert!(
                h["items"]
                    .as_array()
                    .expect("items")
                    .iter()
                    .all(|i| i["fieldId"] == "status")
            );
        }
    }

    let created = api
        .put(
            &format!("/issue/{key}/properties/sync.state"),
            &json!({"rev": 1}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED);
    let replaced = api
        .put(
            &format!("/issue/{key}/properties/sync.state"),
            &json!({"rev": 2}),
        )
        .await;
    assert_eq!(replaced.status, StatusCode::OK);
    let keys = api.get(&format!("/issue/{key}/properties")).await;
    let keys = expect(&keys, StatusCode::OK);
    assert_schema("PropertyKeys", keys);
    assert_eq!(keys["keys"][0]["key"], "sync.state");
    let one = api
        .get(&format!("/issue/{key}/properties/sync.state"))
        .await;
    let one = expect(&one, StatusCode::OK);
    assert_schema("EntityProperty", one);
    assert_eq!(one["value"]["rev"], 2);
    let deleted = api
        .delete(&format!("/issue/{key}/properties/sync.state"))
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    expect(
        &api.get(&format!("/issue/{key}/properties/sync.state"))
            .await,
        StatusCode::NOT_FOUND,
    );
    expect(
        &api.delete(&format!("/issue/{key}/properties/sync.state"))
            .await,
        StatusCode::NOT_FOUND,
    );
}

#[tokio::test]
async fn create_and_edit_metadata() {
    let sim = start().await;
    let api = Api::alice(&sim, "3");
    let types = api.get("/issue/createmeta/DEMO/issuetypes").await;
    let types = expect(&types, StatusCode::OK);
    assert_schema("PageOfCreateMetaIssueTypes", types);
    assert_eq!(types["total"], 5);
    let fields = api.get("/issue/createmeta/DEMO/issuetypes/10004").await;
    let fields = expect(&fields, StatusCode::OK);
    assert_schema("PageOfCreateMetaIssueTypeWithField", fields);
    let parent = fields["fields"]
        .as_array()
        .expect("fields")
        .iter()
        .find(|f| f["fieldId"] == "parent")
        .expect("parent");
    assert_eq!(parent["required"], true, "sub-tasks need a parent");
    expect(
        &api.get("/issue/createmeta/NOPE/issuetypes").await,
        StatusCode::NOT_FOUND,
    );
    expect(
        &api.get("/issue/createmeta/MKT/issuetypes/10003").await,
        StatusCode::NOT_FOUND,
    );
    let edit = api.get("/issue/DEMO-1/editmeta").await;
    let edit = expect(&edit, StatusCode::OK);
    assert_schema("IssueUpdateMetadata", edit);
    assert_eq!(
        edit["fields"]["labels"]["operations"],
        json!(["add", "set", "remove"])
    );
    let priorities = edit["fields"]["priority"]["allowedValues"]
        .as_array()
        .expect("allowed");
    assert_eq!(priorities.len(), 5);
    assert_schema_each("IssueTypeIssueCreateMetadata", &types["issueTypes"]);
}

#[tokio::test]
async fn per_issue_write_limit_answers_429() {
    let sim = start().await;
    let api = Api::alice(&sim, "3");
    let (_, key) = create_task(&api, "Hot issue").await;
    let mut statuses = Vec::new();
    for n in 0..21 {
        let reply = api
            .put(
                &format!("/issue/{key}"),
                &json!({"fields": {"summary": format!("rev {n}")}}),
            )
            .await;
        statuses.push((reply.status, reply.headers.get("ratelimit-reason").cloned()));
    }
    assert!(
        statuses[..20]
            .iter()
            .all(|(s, _)| *s == StatusCode::NO_CONTENT)
    );
    let (status, reason) = &statuses[20];
    assert_eq!(*status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(reason.as_ref().expect("reason"), "jira-per-issue-on-write");
    let comment = api
        .post(&format!("/issue/{key}/comment"), &json!({"body": doc("x")}))
        .await;
    expect(&comment, StatusCode::TOO_MANY_REQUESTS);
    sim.control().advance(std::time::Duration::from_secs(3));
    let later = api
        .put(
            &format!("/issue/{key}"),
            &json!({"fields": {"summary": "calm"}}),
        )
        .await;
    assert_eq!(later.status, StatusCode::NO_CONTENT);
}
