//! Watchers, votes, assignment, notifications, time tracking, worklog and comment lists, and
//! deleting issues with sub-tasks.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::platform::{Api, Reply, assert_error_message, assert_schema, expect};
use crate::start;

fn doc(text: &str) -> Value {
    json!({"type":"doc","version":1,"content":[{"type":"paragraph","content":[
        {"type":"text","text":text}
    ]}]})
}

async fn account(api: &Api, query: &str) -> String {
    let reply = api.get(&format!("/user/search?query={query}")).await;
    expect(&reply, StatusCode::OK)[0]["accountId"]
        .as_str()
        .expect("accountId")
        .to_owned()
}

async fn me(api: &Api) -> String {
    expect(&api.get("/myself").await, StatusCode::OK)["accountId"]
        .as_str()
        .expect("accountId")
        .to_owned()
}

async fn create(api: &Api, fields: Value) -> String {
    let mut all =
        json!({"project": {"key": "DEMO"}, "issuetype": {"name": "Task"}, "summary": "Tracked"});
    if let (Some(all), Some(extra)) = (all.as_object_mut(), fields.as_object()) {
        all.extend(extra.clone());
    }
    let reply = api.post("/issue", &json!({ "fields": all })).await;
    expect(&reply, StatusCode::CREATED)["key"]
        .as_str()
        .expect("key")
        .to_owned()
}

async fn raw(api: &Api, method: Method, path: &str, body: &str) -> Reply {
    let res = crate::client()
        .request(method, format!("{}{path}", api.base))
        .header("authorization", &api.auth)
        .header("content-type", "application/json")
        .body(body.to_owned())
        .send()
        .await
        .expect("request completes");
    let status = res.status();
    let headers = res.headers().clone();
    let text = res.text().await.expect("body");
    Reply {
        status,
        headers,
        body: if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).expect("json")
        },
    }
}

fn ids(list: &Value, key: &str) -> Vec<String> {
    list.as_array()
        .expect("array")
        .iter()
        .map(|v| v[key].as_str().expect(key).to_owned())
        .collect()
}

#[tokio::test]
async fn reporters_creators_and_commenters_watch_and_watchers_can_change() {
    let sim = start().await;
    let api = Api::alice(&sim, "3");
    let alice = me(&api).await;
    let bob = account(&api, "bob").await;
    let key = create(&api, json!({"reporter": {"accountId": bob}})).await;
    let path = format!("/issue/{key}/watchers");

    let watchers = api.get(&path).await;
    let body = expect(&watchers, StatusCode::OK);
    assert_schema("Watchers", body);
    assert_eq!(body["watchCount"], 2, "reporter and creator: {body:#}");
    assert_eq!(body["isWatching"], true);
    let mut listed = ids(&body["watchers"], "accountId");
    listed.sort();
    let mut want = vec![alice.clone(), bob.clone()];
    want.sort();
    assert_eq!(listed, want);

    expect(
        &api.delete(&format!("{path}?accountId={alice}")).await,
        StatusCode::NO_CONTENT,
    );
    let issue = api.get(&format!("/issue/{key}?fields=watches")).await;
    let watches = &expect(&issue, StatusCode::OK)["fields"]["watches"];
    assert_eq!(watches["watchCount"], 1);
    assert_eq!(watches["isWatching"], false);

    // An empty body adds the caller; a JSON string adds that account.
    expect(
        &raw(&api, Method::POST, &path, "").await,
        StatusCode::NO_CONTENT,
    );
    assert_eq!(
        expect(&api.get(&path).await, StatusCode::OK)["isWatching"],
        true
    );
    let carol = account(&api, "carol").await;
    expect(
        &api.post(&path, &json!(carol)).await,
        StatusCode::NO_CONTENT,
    );
    expect(
        &api.post(&path, &json!(carol)).await,
        StatusCode::NO_CONTENT,
    );
    assert_eq!(
        expect(&api.get(&path).await, StatusCode::OK)["watchCount"],
        3
    );

    // Commenting makes the author watch again.
    expect(
        &api.delete(&format!("{path}?accountId={alice}")).await,
        StatusCode::NO_CONTENT,
    );
    expect(
        &api.post(
            &format!("/issue/{key}/comment"),
            &json!({"body": doc("Looking")}),
        )
        .await,
        StatusCode::CREATED,
    );
    assert_eq!(
        expect(&api.get(&path).await, StatusCode::OK)["isWatching"],
        true
    );

    let bad = api.post(&path, &json!({"accountId": carol})).await;
    assert_error_message(expect(&bad, StatusCode::BAD_REQUEST), "Invalid request");
    let unknown = api.post(&path, &json!("no-such-account")).await;
    assert_error_message(expect(&unknown, StatusCode::NOT_FOUND), "no-such-account");
    let missing = api.delete(&path).await;
    assert_error_message(expect(&missing, StatusCode::BAD_REQUEST), "accountId");
    expect(
        &api.get("/issue/NOPE-1/watchers").await,
        StatusCode::NOT_FOUND,
    );

    // Generated issues: the reporter watches; the lazy view agrees with the JQL accessor.
    let generated = api.get("/issue/DEMO-5?fields=watches,reporter").await;
    let generated = expect(&generated, StatusCode::OK);
    let reporter = generated["fields"]["reporter"]["accountId"]
        .as_str()
        .expect("reporter")
        .to_owned();
    let listed = api.get("/issue/DEMO-5/watchers").await;
    let listed = ids(&expect(&listed, StatusCode::OK)["watchers"], "accountId");
    assert!(listed.contains(&reporter));
    assert_eq!(
        generated["fields"]["watches"]["watchCount"],
        json!(listed.len())
    );
    let entry = jiralink_sim::data::site_by_subdomain(sim.control().state(), "demo").expect("site");
    let data = entry.read();
    let id = data.resolve("DEMO-5").expect("exists");
    assert_eq!(data.watchers_of(id), listed);
    assert!(data.is_watching(id, &reporter));
}

#[tokio::test]
async fn votes_follow_jira_rules() {
    let sim = start().await;
    let api = Api::alice(&sim, "3");
    let bob = account(&api, "bob").await;
    let key = create(&api, json!({"reporter": {"accountId": bob}})).await;
    let path = format!("/issue/{key}/votes");

    expect(&api.post(&path, &Value::Null).await, StatusCode::NO_CONTENT);
    let votes = api.get(&path).await;
    let body = expect(&votes, StatusCode::OK);
    assert_schema("Votes", body);
    assert_eq!(body["votes"], 1);
    assert_eq!(body["hasVoted"], true);
    assert_eq!(body["voters"].as_array().expect("voters").len(), 1);
    let issue = api.get(&format!("/issue/{key}?fields=votes")).await;
    assert_eq!(
        expect(&issue, StatusCode::OK)["fields"]["votes"]["hasVoted"],
        true
    );
    expect(&api.delete(&path).await, StatusCode::NO_CONTENT);
    let again = api.delete(&path).await;
    assert_error_message(expect(&again, StatusCode::NOT_FOUND), "not voted");

    // Not on one's own report, nor on a resolved issue.
    let own = create(&api, json!({})).await;
    let refused = api.post(&format!("/issue/{own}/votes"), &Value::Null).await;
    assert_error_message(
        expect(&refused, StatusCode::NOT_FOUND),
        "You cannot vote for an issue you have reported.",
    );
    for transition in ["11", "31"] {
        expect(
            &api.post(
                &format!("/issue/{key}/transitions"),
                &json!({"transition": {"id": transition}}),
            )
            .await,
            StatusCode::NO_CONTENT,
        );
    }
    let resolved = api.post(&path, &Value::Null).await;
    assert_error_message(expect(&resolved, StatusCode::NOT_FOUND), "resolved issues");
    expect(&api.get("/issue/NOPE-1/votes").await, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn assignee_and_notify() {
    let sim = start().await;
    let api = Api::alice(&sim, "3");
    let alice = me(&api).await;
    let bob = account(&api, "bob").await;
    let key = create(&api, json!({})).await;
    let path = format!("/issue/{key}/assignee");

    expect(
        &api.put(&path, &json!({"accountId": bob})).await,
        StatusCode::NO_CONTENT,
    );
    let issue = api
        .get(&format!("/issue/{key}?fields=assignee&expand=changelog"))
        .await;
    let issue = expect(&issue, StatusCode::OK);
    assert_eq!(issue["fields"]["assignee"]["accountId"], bob.as_str());
    let last = issue["changelog"]["histories"]
        .as_array()
        .and_then(|h| h.last())
        .expect("history");
    assert_eq!(last["items"][0]["field"], "assignee");
    assert_eq!(last["items"][0]["to"], bob.as_str());

    expect(
        &api.put(&path, &json!({"accountId": null})).await,
        StatusCode::NO_CONTENT,
    );
    let issue = api.get(&format!("/issue/{key}?fields=assignee")).await;
    assert_eq!(
        expect(&issue, StatusCode::OK)["fields"]["assignee"],
        Value::Null
    );
    expect(
        &api.put(&path, &json!({"accountId": "-1"})).await,
        StatusCode::NO_CONTENT,
    );
    let lead = api.get("/project/DEMO").await;
    let lead = expect(&lead, StatusCode::OK)["lead"].clone();
    let issue = api.get(&format!("/issue/{key}?fields=assignee")).await;
    let assigned = &expect(&issue, StatusCode::OK)["fields"]["assignee"];
    if lead["active"] == true {
        assert_eq!(assigned["accountId"], lead["accountId"]);
    } else {
        assert_eq!(assigned, &Value::Null, "an inactive lead takes no issues");
    }
    expect(&api.put(&path, &json!({})).await, StatusCode::BAD_REQUEST);
    expect(
        &api.put(&path, &json!({"accountId": "nobody"})).await,
        StatusCode::BAD_REQUEST,
    );
    expect(
        &api.put("/issue/NOPE-1/assignee", &json!({"accountId": bob}))
            .await,
        StatusCode::NOT_FOUND,
    );

    // Notifications are accepted and recorded, not mailed.
    let notify = format!("/issue/{key}/notify");
    expect(
        &api.post(
            &notify,
            &json!({"subject": "Results", "textBody": "Done", "to": {"reporter": true, "users": [{"accountId": bob}]}}),
        )
        .await,
        StatusCode::NO_CONTENT,
    );
    let only_me = api
        .post(&notify, &json!({"to": {"users": [{"accountId": alice}]}}))
        .await;
    assert_error_message(expect(&only_me, StatusCode::BAD_REQUEST), "No recipients");
    let sent = sim.control().notifications("demo");
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].subject, "Results");
    assert_eq!(
        sent[0].recipients,
        vec![bob.clone()],
        "the sender is left out"
    );
}

#[tokio::test]
async fn time_tracking_estimates_and_worklog_adjustments() {
    let sim = start().await;
    let api = Api::alice(&sim, "3");
    let key = create(
        &api,
        json!({"timetracking": {"originalEstimate": "1d", "remainingEstimate": "6h"}}),
    )
    .await;
    let fields = "timetracking,timeoriginalestimate,timeestimate,timespent,aggregatetimeoriginalestimate,aggregatetimeestimate,aggregatetimespent,progress,aggregateprogress,workratio";
    let read = |api: &Api, key: String| {
        let path = format!("/issue/{key}?fields={fields}");
        let api = Api {
            base: api.base.clone(),
            auth: api.auth.clone(),
        };
        async move {
            let reply = api.get(&path).await;
            expect(&reply, StatusCode::OK)["fields"].clone()
        }
    };
    let f = read(&api, key.clone()).await;
    assert_eq!(
        f["timetracking"],
        json!({"originalEstimate": "1d", "remainingEstimate": "6h", "originalEstimateSeconds": 28800, "remainingEstimateSeconds": 21600})
    );
    assert_schema("TimeTrackingDetails", &f["timetracking"]);
    assert_eq!(f["timeoriginalestimate"], 28_800);
    assert_eq!(f["aggregatetimeestimate"], 21_600);
    assert_eq!(f["timespent"], Value::Null);
    assert_eq!(f["workratio"], 0);
    assert_eq!(
        f["progress"],
        json!({"progress": 0, "total": 21600, "percent": 0})
    );

    // Edit through `update … edit`: history records the estimate fields.
    expect(
        &api.put(
            &format!("/issue/{key}"),
            &json!({"update": {"timetracking": [{"edit": {"originalEstimate": "2d", "remainingEstimate": "1d"}}]}}),
        )
        .await,
        StatusCode::NO_CONTENT,
    );
    let bad = api
        .put(
            &format!("/issue/{key}"),
            &json!({"fields": {"timetracking": {"originalEstimate": "soon"}}}),
        )
        .await;
    assert_eq!(
        expect(&bad, StatusCode::BAD_REQUEST)["errors"]["timetracking"],
        "The original estimate specified is not valid."
    );

    // Worklogs: auto, new, manual, leave; update and delete.
    let worklogs = format!("/issue/{key}/worklog");
    let logged = api
        .post(
            &worklogs,
            &json!({"timeSpent": "2h", "comment": doc("Work")}),
        )
        .await;
    let first = expect(&logged, StatusCode::CREATED)["id"]
        .as_str()
        .expect("id")
        .to_owned();
    assert_eq!(read(&api, key.clone()).await["timeestimate"], 6 * 3600);
    expect(
        &api.post(
            &format!("{worklogs}?adjustEstimate=new&newEstimate=3h"),
            &json!({"timeSpentSeconds": 600}),
        )
        .await,
        StatusCode::CREATED,
    );
    assert_eq!(read(&api, key.clone()).await["timeestimate"], 3 * 3600);
    expect(
        &api.post(
            &format!("{worklogs}?adjustEstimate=manual&reduceBy=30m"),
            &json!({"timeSpentSeconds": 600}),
        )
        .await,
        StatusCode::CREATED,
    );
    expect(
        &api.post(
            &format!("{worklogs}?adjustEstimate=leave"),
            &json!({"timeSpentSeconds": 600}),
        )
        .await,
        StatusCode::CREATED,
    );
    let f = read(&api, key.clone()).await;
    assert_eq!(f["timeestimate"], 9_000);
    assert_eq!(f["timespent"], 7_200 + 1_800);
    assert_eq!(f["workratio"], 9_000 * 100 / (16 * 3600));
    assert_eq!(
        f["progress"],
        json!({"progress": 9000, "total": 18000, "percent": 50})
    );
    let missing = api
        .post(
            &format!("{worklogs}?adjustEstimate=new"),
            &json!({"timeSpentSeconds": 60}),
        )
        .await;
    assert!(
        expect(&missing, StatusCode::BAD_REQUEST)["errors"]
            .get("newEstimate")
            .is_some()
    );

    let one = format!("{worklogs}/{first}");
    let got = api.get(&one).await;
    assert_schema("Worklog", expect(&got, StatusCode::OK));
    let updated = api.put(&one, &json!({"timeSpent": "3h"})).await;
    assert_eq!(
        expect(&updated, StatusCode::OK)["timeSpentSeconds"],
        3 * 3600
    );
    assert_eq!(read(&api, key.clone()).await["timeestimate"], 9_000 - 3_600);
    expect(
        &api.delete(&format!("{one}?adjustEstimate=manual&increaseBy=1h"))
            .await,
        StatusCode::NO_CONTENT,
    );
    assert_eq!(read(&api, key.clone()).await["timeestimate"], 9_000);
    expect(&api.get(&one).await, StatusCode::NOT_FOUND);
    expect(&api.delete(&one).await, StatusCode::NOT_FOUND);

    let history = api.get(&format!("/issue/{key}/changelog")).await;
    let changed: Vec<String> = expect(&history, StatusCode::OK)["values"]
        .as_array()
        .expect("values")
        .iter()
        .flat_map(|h| h["items"].as_array().cloned().unwrap_or_default())
        .map(|i| i["field"].as_str().unwrap_or_default().to_owned())
        .collect();
    for field in ["timeoriginalestimate", "timeestimate", "timespent"] {
        assert!(changed.iter().any(|f| f == field), "{field}: {changed:?}");
    }

    // Generated issues have deterministic estimates consistent with their work.
    let generated = api
        .get(&format!(
            "/search/jql?jql=project%3DDEMO&fields={fields}&maxResults=50"
        ))
        .await;
    let issues = expect(&generated, StatusCode::OK)["issues"]
        .as_array()
        .expect("issues")
        .clone();
    let estimated = issues
        .iter()
        .filter(|i| i["fields"]["timeoriginalestimate"].is_u64())
        .count();
    assert!(estimated > 0, "some generated issues are estimated");
    for i in &issues {
        assert_schema("TimeTrackingDetails", &i["fields"]["timetracking"]);
    }
}

#[tokio::test]
async fn comment_and_worklog_lists_and_changes_since() {
    let sim = start().await;
    let api = Api::alice(&sim, "3");
    let key = create(&api, json!({})).await;
    let comment = api
        .post(
            &format!("/issue/{key}/comment"),
            &json!({"body": doc("Listed")}),
        )
        .await;
    let comment_id = expect(&comment, StatusCode::CREATED)["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let generated = api.get("/issue/DEMO-3/comment").await;
    let generated_ids = ids(&expect(&generated, StatusCode::OK)["comments"], "id");
    let mut wanted: Vec<u64> = generated_ids
        .iter()
        .chain([&comment_id])
        .map(|i| i.parse().expect("number"))
        .collect();
    wanted.push(1);
    let listed = api.post("/comment/list", &json!({"ids": wanted})).await;
    let page = expect(&listed, StatusCode::OK);
    assert_schema("PageBeanComment", page);
    assert_eq!(page["total"], json!(generated_ids.len() + 1));
    assert!(ids(&page["values"], "id").contains(&comment_id));
    let too_many: Vec<u64> = (0..1001).collect();
    expect(
        &api.post("/comment/list", &json!({"ids": too_many})).await,
        StatusCode::BAD_REQUEST,
    );
    expect(
        &api.post("/comment/list", &json!({"ids": []})).await,
        StatusCode::BAD_REQUEST,
    );

    let start_ms = sim.control().now().unix_timestamp() * 1000;
    let logged = api
        .post(
            &format!("/issue/{key}/worklog"),
            &json!({"timeSpentSeconds": 900}),
        )
        .await;
    let worklog_id: u64 = expect(&logged, StatusCode::CREATED)["id"]
        .as_str()
        .expect("id")
        .parse()
        .expect("number");
    let updated = api.get(&format!("/worklog/updated?since={start_ms}")).await;
    let page = expect(&updated, StatusCode::OK);
    assert_schema("ChangedWorklogs", page);
    assert_eq!(page["values"], json!([]), "the last minute is left out");
    sim.control().advance(Duration::from_secs(61));
    let updated = api.get(&format!("/worklog/updated?since={start_ms}")).await;
    let page = expect(&updated, StatusCode::OK);
    assert_eq!(page["values"][0]["worklogId"], worklog_id);
    assert_eq!(page["lastPage"], true);

    // Paging over generated worklogs from the beginning.
    let first = api.get("/worklog/updated?since=0").await;
    let first = expect(&first, StatusCode::OK);
    let values = first["values"].as_array().expect("values");
    assert!(!values.is_empty());
    let times: Vec<i64> = values
        .iter()
        .map(|v| v["updatedTime"].as_i64().expect("time"))
        .collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]));
    let worklog_ids: Vec<u64> = values
        .iter()
        .take(5)
        .map(|v| v["worklogId"].as_u64().expect("id"))
        .chain([worklog_id])
        .collect();
    let listed = api
        .post("/worklog/list", &json!({"ids": worklog_ids}))
        .await;
    let listed = expect(&listed, StatusCode::OK)
        .as_array()
        .expect("array")
        .clone();
    assert_eq!(listed.len(), worklog_ids.len());
    for w in &listed {
        assert_schema("Worklog", w);
    }

    expect(
        &api.delete(&format!("/issue/{key}/worklog/{worklog_id}"))
            .await,
        StatusCode::NO_CONTENT,
    );
    sim.control().advance(Duration::from_secs(61));
    let deleted = api.get(&format!("/worklog/deleted?since={start_ms}")).await;
    let page = expect(&deleted, StatusCode::OK);
    assert_schema("ChangedWorklogs", page);
    assert_eq!(page["values"][0]["worklogId"], worklog_id);
    let listed = api
        .post("/worklog/list", &json!({"ids": [worklog_id]}))
        .await;
    assert_eq!(expect(&listed, StatusCode::OK), &json!([]));

    // Deleted worklogs and notifications survive dump and load.
    let dump = sim.control().dump();
    let fresh = start().await;
    fresh.control().load(dump).expect("loads");
    fresh.control().advance(Duration::from_secs(3600));
    let fresh_api = Api::alice(&fresh, "3");
    let deleted = fresh_api
        .get(&format!("/worklog/deleted?since={start_ms}"))
        .await;
    assert_eq!(
        expect(&deleted, StatusCode::OK)["values"][0]["worklogId"],
        worklog_id
    );
}

#[tokio::test]
async fn watchers_votes_and_estimates_survive_dump_and_load() {
    let sim = start().await;
    let api = Api::alice(&sim, "3");
    let bob = account(&api, "bob").await;
    let key = create(
        &api,
        json!({"reporter": {"accountId": bob}, "timetracking": {"originalEstimate": "3h"}}),
    )
    .await;
    expect(
        &api.post(&format!("/issue/{key}/votes"), &Value::Null).await,
        StatusCode::NO_CONTENT,
    );
    let fields = "watches,votes,timetracking";
    let before = api.get(&format!("/issue/{key}?fields={fields}")).await;
    let before = expect(&before, StatusCode::OK)["fields"].clone();
    let fresh = start().await;
    fresh.control().load(sim.control().dump()).expect("loads");
    let fresh_api = Api::alice(&fresh, "3");
    let after = fresh_api
        .get(&format!("/issue/{key}?fields={fields}"))
        .await;
    let after = expect(&after, StatusCode::OK)["fields"].clone();
    let strip = |v: &Value, base: &str| v.to_string().replace(base, "BASE");
    assert_eq!(
        strip(&before, &sim.base_url()),
        strip(&after, &fresh.base_url())
    );
    assert_eq!(after["votes"]["votes"], 1);
    assert_eq!(after["timetracking"]["remainingEstimate"], "3h");
}

#[tokio::test]
async fn deleting_an_issue_with_subtasks_needs_delete_subtasks() {
    let sim = start().await;
    let api = Api::alice(&sim, "3");
    let parent = create(&api, json!({})).await;
    let sub = api
        .post(
            "/issue",
            &json!({"fields": {"project": {"key": "DEMO"}, "issuetype": {"name": "Sub-task"}, "summary": "Part", "parent": {"key": parent}}}),
        )
        .await;
    let sub = expect(&sub, StatusCode::CREATED)["key"]
        .as_str()
        .expect("key")
        .to_owned();
    let logged = api
        .post(
            &format!("/issue/{sub}/worklog"),
            &json!({"timeSpentSeconds": 60}),
        )
        .await;
    let worklog_id = expect(&logged, StatusCode::CREATED)["id"].clone();
    let refused = api.delete(&format!("/issue/{parent}")).await;
    assert_error_message(expect(&refused, StatusCode::BAD_REQUEST), "deleteSubtasks");
    expect(&api.get(&format!("/issue/{sub}")).await, StatusCode::OK);
    expect(
        &api.delete(&format!("/issue/{parent}?deleteSubtasks=false"))
            .await,
        StatusCode::BAD_REQUEST,
    );
    expect(
        &api.delete(&format!("/issue/{parent}?deleteSubtasks=maybe"))
            .await,
        StatusCode::BAD_REQUEST,
    );
    expect(
        &api.delete(&format!("/issue/{parent}?deleteSubtasks=true"))
            .await,
        StatusCode::NO_CONTENT,
    );
    expect(
        &api.get(&format!("/issue/{parent}")).await,
        StatusCode::NOT_FOUND,
    );
    expect(
        &api.get(&format!("/issue/{sub}")).await,
        StatusCode::NOT_FOUND,
    );
    sim.control().advance(Duration::from_secs(61));
    let deleted = api.get("/worklog/deleted?since=0").await;
    let deleted = expect(&deleted, StatusCode::OK)["values"]
        .as_array()
        .expect("values")
        .iter()
        .map(|v| v["worklogId"].to_string())
        .collect::<Vec<_>>();
    assert!(
        deleted.contains(&worklog_id.as_str().expect("id").to_owned()),
        "{deleted:?}"
    );

    // A generated epic's deletion leaves its child issues, without their parent.
    let epic = create(
        &api,
        json!({"issuetype": {"name": "Epic"}, "summary": "Theme"}),
    )
    .await;
    let child = create(&api, json!({"parent": {"key": epic}})).await;
    expect(
        &api.delete(&format!("/issue/{epic}")).await,
        StatusCode::NO_CONTENT,
    );
    let child = api.get(&format!("/issue/{child}?fields=parent")).await;
    assert_eq!(
        expect(&child, StatusCode::OK)["fields"]["parent"],
        Value::Null
    );
}
