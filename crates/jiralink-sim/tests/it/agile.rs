//! Jira Software (`/rest/agile/1.0`): boards, sprints, backlog, epics, the Sprint field.

use jiralink_sim::SimHandle;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::{alice_classic, basic, client, gateway, scoped_token, start};

async fn call(
    sim: &SimHandle,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    call_as(
        sim,
        &alice_classic(sim),
        &sim.site_url("demo"),
        method,
        path,
        body,
    )
    .await
}

async fn call_as(
    _sim: &SimHandle,
    auth: &str,
    base: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut req = client()
        .request(method, format!("{base}{path}"))
        .header("authorization", auth);
    if let Some(body) = body {
        req = req.json(&body);
    }
    let res = req.send().await.expect("request completes");
    let status = res.status();
    let text = res.text().await.expect("body");
    let value = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    };
    (status, value)
}

fn ids(page: &Value) -> Vec<u64> {
    page["issues"]
        .as_array()
        .expect("issues")
        .iter()
        .map(|i| i["id"].as_str().expect("id").parse().expect("numeric"))
        .collect()
}

async fn all_issue_ids(sim: &SimHandle, path: &str) -> Vec<u64> {
    let sep = if path.contains('?') { '&' } else { '?' };
    let (status, page) = call(
        sim,
        Method::GET,
        &format!("{path}{sep}maxResults=100&fields=summary"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page["total"].as_u64().expect("total") <= 100, "{page}");
    ids(&page)
}

#[tokio::test]
async fn generated_boards_sprints_and_filters() {
    let sim = start().await;
    let (status, boards) = call(&sim, Method::GET, "/rest/agile/1.0/board", None).await;
    assert_eq!(status, StatusCode::OK, "{boards}");
    assert_eq!(
        boards["total"], 3,
        "DEMO, MOB scrum and MKT kanban: {boards}"
    );
    assert_eq!(boards["isLast"], true);
    let values = boards["values"].as_array().expect("values");
    assert_eq!(values[0]["name"], "DEMO board");
    assert_eq!(values[0]["type"], "scrum");
    assert_eq!(values[0]["location"]["projectKey"], "DEMO");
    assert_eq!(values[2]["type"], "kanban");
    let (_, kanban) = call(&sim, Method::GET, "/rest/agile/1.0/board?type=kanban", None).await;
    assert_eq!(kanban["total"], 1);
    let (_, mob) = call(
        &sim,
        Method::GET,
        "/rest/agile/1.0/board?projectKeyOrId=MOB",
        None,
    )
    .await;
    assert_eq!(mob["values"][0]["name"], "MOB board");
    let (_, paged) = call(
        &sim,
        Method::GET,
        "/rest/agile/1.0/board?maxResults=2",
        None,
    )
    .await;
    assert_eq!(paged["isLast"], false);
    assert_eq!(paged["values"].as_array().map(Vec::len), Some(2));

    let (status, config) = call(
        &sim,
        Method::GET,
        "/rest/agile/1.0/board/1/configuration",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{config}");
    assert_eq!(
        config["estimation"]["field"]["fieldId"],
        "customfield_10010"
    );
    assert_eq!(config["columnConfig"]["columns"][1]["name"], "In Progress");
    let filter_id = config["filter"]["id"]
        .as_str()
        .expect("filter id")
        .to_owned();
    let (status, filter) = call(
        &sim,
        Method::GET,
        &format!("/rest/api/3/filter/{filter_id}"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{filter}");
    assert_eq!(filter["jql"], "project = DEMO ORDER BY Rank ASC");

    let (status, sprints) = call(&sim, Method::GET, "/rest/agile/1.0/board/1/sprint", None).await;
    assert_eq!(status, StatusCode::OK, "{sprints}");
    let states: Vec<&str> = sprints["values"]
        .as_array()
        .expect("values")
        .iter()
        .map(|s| s["state"].as_str().expect("state"))
        .collect();
    assert_eq!(
        states,
        [
            "closed", "closed", "closed", "closed", "active", "future", "future"
        ]
    );
    let (_, active) = call(
        &sim,
        Method::GET,
        "/rest/agile/1.0/board/1/sprint?state=active",
        None,
    )
    .await;
    let active = &active["values"][0];
    assert!(active["startDate"].as_str().expect("start").ends_with('Z'));
    assert!(active["goal"].as_str().is_some_and(|g| !g.is_empty()));
    let (status, err) = call(&sim, Method::GET, "/rest/agile/1.0/board/3/sprint", None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{err}");
    assert_eq!(
        err["errorMessages"][0],
        "The board does not support sprints"
    );
    let (status, err) = call(&sim, Method::GET, "/rest/agile/1.0/board/99", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        err["errorMessages"][0],
        "Board does not exist or you do not have permission to see it."
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn board_lists_partition_the_scrum_issues() {
    let sim = start().await;
    let board = all_issue_ids(&sim, "/rest/agile/1.0/board/1/issue").await;
    assert!(!board.is_empty());
    let backlog = all_issue_ids(&sim, "/rest/agile/1.0/board/1/backlog").await;
    let (_, sprints) = call(&sim, Method::GET, "/rest/agile/1.0/board/1/sprint", None).await;
    let mut in_open = Vec::new();
    for s in sprints["values"].as_array().expect("values") {
        let id = s["id"].as_u64().expect("id");
        let issues = all_issue_ids(&sim, &format!("/rest/agile/1.0/sprint/{id}/issue")).await;
        let on_board =
            all_issue_ids(&sim, &format!("/rest/agile/1.0/board/1/sprint/{id}/issue")).await;
        assert_eq!(issues, on_board);
        if s["state"] != "closed" {
            in_open.extend(issues);
        }
    }
    assert!(!in_open.is_empty() && !backlog.is_empty());
    for id in &backlog {
        assert!(!in_open.contains(id), "{id} is in the backlog and a sprint");
        assert!(board.contains(id));
    }
    // Rank order: ascending ids until issues are ranked; the board's JQL narrows the list.
    let mut sorted = board.clone();
    sorted.sort_unstable();
    assert_eq!(board, sorted);
    let (status, _) = call(
        &sim,
        Method::PUT,
        "/rest/agile/1.0/issue/rank",
        Some(json!({"issues": [board[3].to_string(), board[4].to_string()], "rankBeforeIssue": board[0].to_string()})),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let ranked = all_issue_ids(&sim, "/rest/agile/1.0/board/1/issue").await;
    assert_eq!(
        ranked[..5],
        [board[3], board[4], board[0], board[1], board[2]]
    );
    let (status, err) = call(
        &sim,
        Method::PUT,
        "/rest/agile/1.0/issue/rank",
        Some(json!({"issues": [board[0].to_string()], "rankAfterIssue": board[0].to_string()})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{err}");
    let (status, page) = call(
        &sim,
        Method::GET,
        "/rest/agile/1.0/board/1/issue?jql=status%20%3D%20Done&maxResults=5",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(page["maxResults"], 5);
    for issue in page["issues"].as_array().expect("issues") {
        assert_eq!(issue["fields"]["status"]["name"], "Done");
        assert!(
            issue["self"]
                .as_str()
                .expect("self")
                .contains("/rest/agile/1.0/issue/")
        );
        assert!(issue["fields"].get("sprint").is_some());
        assert!(issue["fields"].get("epic").is_some());
    }
    let (status, err) = call(
        &sim,
        Method::GET,
        "/rest/agile/1.0/board/1/issue?jql=status%20%3D%20Nope",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{err}");
    sim.shutdown().await;
}

#[tokio::test]
async fn sprint_lifecycle_and_moving_issues() {
    let sim = start().await;
    let (status, created) = call(
        &sim,
        Method::POST,
        "/rest/agile/1.0/sprint",
        Some(json!({"name": "DEMO Hardening", "originBoardId": 1, "goal": "Fix it"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["state"], "future");
    let id = created["id"].as_u64().expect("id");

    let (status, moved) = call(
        &sim,
        Method::POST,
        &format!("/rest/agile/1.0/sprint/{id}/issue"),
        Some(json!({"issues": ["DEMO-2", "DEMO-6", "MOB-2"]})),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{moved}");
    let in_sprint = all_issue_ids(&sim, &format!("/rest/agile/1.0/sprint/{id}/issue")).await;
    // DEMO-6 takes its sub-tasks DEMO-7 and DEMO-8 along; MOB-2 comes from another project.
    assert_eq!(in_sprint.len(), 5, "{in_sprint:?}");
    let (_, issue) = call(
        &sim,
        Method::GET,
        "/rest/api/2/issue/DEMO-2?expand=changelog",
        None,
    )
    .await;
    let field = &issue["fields"]["customfield_10020"];
    assert_eq!(
        field.as_array().and_then(|a| a.last()).map(|s| &s["id"]),
        Some(&json!(id))
    );
    let histories = issue["changelog"]["histories"]
        .as_array()
        .expect("histories");
    let item = &histories.last().expect("history")["items"][0];
    assert_eq!(item["field"], "Sprint");
    assert_eq!(item["fieldId"], "customfield_10020");
    assert!(
        item["toString"]
            .as_str()
            .expect("to")
            .contains("DEMO Hardening")
    );
    let (_, agile_issue) = call(&sim, Method::GET, "/rest/agile/1.0/issue/DEMO-2", None).await;
    assert_eq!(agile_issue["fields"]["sprint"]["id"], json!(id));

    // Starting needs dates; only one active sprint per board.
    let (status, err) = call(
        &sim,
        Method::POST,
        &format!("/rest/agile/1.0/sprint/{id}"),
        Some(json!({"state": "active"})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{err}");
    let dates = json!({"state": "active", "startDate": "2026-01-05T09:00:00.000Z", "endDate": "2026-01-19T09:00:00.000Z"});
    let (status, err) = call(
        &sim,
        Method::POST,
        &format!("/rest/agile/1.0/sprint/{id}"),
        Some(dates.clone()),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "another sprint is active: {err}"
    );
    let (_, active) = call(
        &sim,
        Method::GET,
        "/rest/agile/1.0/board/1/sprint?state=active",
        None,
    )
    .await;
    let active_id = active["values"][0]["id"].as_u64().expect("active");
    let (status, closed) = call(
        &sim,
        Method::POST,
        &format!("/rest/agile/1.0/sprint/{active_id}"),
        Some(json!({"state": "closed"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{closed}");
    assert_eq!(closed["state"], "closed");
    assert!(closed["completeDate"].is_string());
    let (status, started) = call(
        &sim,
        Method::POST,
        &format!("/rest/agile/1.0/sprint/{id}"),
        Some(dates),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{started}");
    assert_eq!(started["state"], "active");
    assert_eq!(started["goal"], "Fix it");

    // Back to the backlog: the open sprint goes, closed ones stay as history.
    let (status, _) = call(
        &sim,
        Method::POST,
        "/rest/agile/1.0/backlog/issue",
        Some(json!({"issues": ["DEMO-2"]})),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let backlog = all_issue_ids(&sim, "/rest/agile/1.0/board/1/backlog?jql=key%3DDEMO-2").await;
    let (_, issue) = call(&sim, Method::GET, "/rest/agile/1.0/issue/DEMO-2", None).await;
    assert_eq!(issue["fields"]["sprint"], Value::Null);
    let done = issue["fields"]["status"]["statusCategory"]["key"] == "done";
    assert_eq!(backlog.len(), usize::from(!done));

    let (status, err) = call(
        &sim,
        Method::POST,
        &format!("/rest/agile/1.0/sprint/{active_id}/issue"),
        Some(json!({"issues": ["DEMO-3"]})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "closed sprint: {err}");
    let (status, _) = call(
        &sim,
        Method::POST,
        "/rest/agile/1.0/backlog/issue",
        Some(json!({"issues": ["NOPE-1"]})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = call(
        &sim,
        Method::DELETE,
        &format!("/rest/agile/1.0/sprint/{id}"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = call(
        &sim,
        Method::GET,
        &format!("/rest/agile/1.0/sprint/{id}"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // State survives dump and load.
    let dump = sim.control().dump();
    let (status, _) = call(&sim, Method::DELETE, "/rest/agile/1.0/board/2", None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    sim.control().load(dump).expect("loads");
    let (status, board) = call(&sim, Method::GET, "/rest/agile/1.0/board/2", None).await;
    assert_eq!(status, StatusCode::OK, "{board}");
    let (_, sprint) = call(
        &sim,
        Method::GET,
        &format!("/rest/agile/1.0/sprint/{active_id}"),
        None,
    )
    .await;
    assert_eq!(sprint["state"], "closed");
    sim.shutdown().await;
}

#[tokio::test]
async fn epics_and_filter_backed_boards() {
    let sim = start().await;
    let (status, epics) = call(&sim, Method::GET, "/rest/agile/1.0/board/1/epic", None).await;
    assert_eq!(status, StatusCode::OK, "{epics}");
    let epic = &epics["values"][0];
    assert_eq!(epic["key"], "DEMO-1");
    let (status, one) = call(&sim, Method::GET, "/rest/agile/1.0/epic/DEMO-1", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(one["id"], epic["id"]);
    let (status, _) = call(&sim, Method::GET, "/rest/agile/1.0/epic/DEMO-2", None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    let (status, _) = call(
        &sim,
        Method::POST,
        "/rest/agile/1.0/epic/DEMO-1/issue",
        Some(json!({"issues": ["DEMO-3"]})),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let children = all_issue_ids(&sim, "/rest/agile/1.0/epic/DEMO-1/issue").await;
    let (_, demo3) = call(&sim, Method::GET, "/rest/agile/1.0/issue/DEMO-3", None).await;
    let demo3_id: u64 = demo3["id"].as_str().expect("id").parse().expect("n");
    assert!(children.contains(&demo3_id));
    assert_eq!(demo3["fields"]["epic"]["key"], "DEMO-1");
    let on_board = all_issue_ids(&sim, "/rest/agile/1.0/board/1/epic/DEMO-1/issue").await;
    assert_eq!(children, on_board);
    let (status, _) = call(
        &sim,
        Method::POST,
        "/rest/agile/1.0/epic/none/issue",
        Some(json!({"issues": ["DEMO-3"]})),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let none = all_issue_ids(
        &sim,
        "/rest/agile/1.0/board/1/epic/none/issue?jql=key%3DDEMO-3",
    )
    .await;
    assert_eq!(none, vec![demo3_id]);

    let (status, filter) = call(
        &sim,
        Method::POST,
        "/rest/api/3/filter",
        Some(json!({"name": "Mobile bugs", "jql": "project = MOB AND issuetype = Bug"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{filter}");
    let filter_id: u64 = filter["id"].as_str().expect("id").parse().expect("n");
    let (status, board) = call(
        &sim,
        Method::POST,
        "/rest/agile/1.0/board",
        Some(
            json!({"name": "Bug board", "type": "kanban", "filterId": filter_id,
                    "location": {"type": "project", "projectKeyOrId": "MOB"}}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{board}");
    let board_id = board["id"].as_u64().expect("id");
    let (_, page) = call(
        &sim,
        Method::GET,
        &format!("/rest/agile/1.0/board/{board_id}/issue?maxResults=100&fields=issuetype"),
        None,
    )
    .await;
    assert!(page["total"].as_u64().expect("total") > 0);
    for issue in page["issues"].as_array().expect("issues") {
        assert_eq!(issue["fields"]["issuetype"]["name"], "Bug");
    }
    let (status, err) = call(
        &sim,
        Method::POST,
        "/rest/agile/1.0/board",
        Some(json!({"name": "x", "type": "scrum", "filterId": 1})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{err}");
    sim.shutdown().await;
}

#[tokio::test]
async fn gateway_and_scopes() {
    let sim = start().await;
    let base = gateway(&sim, "demo");
    let email = sim.samples().email.clone();
    let software = scoped_token(
        &sim,
        &["read:board-scope:jira-software", "read:project:jira"],
    );
    let (status, boards) = call_as(
        &sim,
        &basic(&email, &software),
        &base,
        Method::GET,
        "/rest/agile/1.0/board",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{boards}");
    let (status, err) = call_as(
        &sim,
        &basic(&email, &software),
        &base,
        Method::GET,
        "/rest/agile/1.0/board/1/sprint",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{err}");
    assert!(
        err["errorMessages"][0]
            .as_str()
            .expect("message")
            .contains("read:sprint:jira-software")
    );
    let classic = scoped_token(&sim, &["read:jira-work"]);
    let (status, _) = call_as(
        &sim,
        &basic(&email, &classic),
        &base,
        Method::GET,
        "/rest/agile/1.0/board/1/sprint",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = call_as(
        &sim,
        &basic(&email, &classic),
        &base,
        Method::POST,
        "/rest/agile/1.0/sprint",
        Some(json!({"name": "x", "originBoardId": 1})),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    sim.shutdown().await;
}

#[tokio::test]
async fn sprint_field_is_listed_and_rendered() {
    let sim = start().await;
    let (_, fields) = call(&sim, Method::GET, "/rest/api/3/field", None).await;
    let sprint = fields
        .as_array()
        .expect("fields")
        .iter()
        .find(|f| f["id"] == "customfield_10020")
        .expect("Sprint field listed");
    assert_eq!(sprint["name"], "Sprint");
    assert_eq!(
        sprint["schema"]["custom"],
        "com.pyxis.greenhopper.jira:gh-sprint"
    );
    let (_, page) = call(
        &sim,
        Method::GET,
        "/rest/api/3/search/jql?jql=project%3DDEMO&fields=customfield_10020,issuetype&maxResults=100",
        None,
    )
    .await;
    let with_sprints = page["issues"]
        .as_array()
        .expect("issues")
        .iter()
        .filter(|i| i["fields"]["customfield_10020"].is_array())
        .count();
    assert!(with_sprints > 10, "{with_sprints}");
    for issue in page["issues"].as_array().expect("issues") {
        if issue["fields"]["issuetype"]["name"] == "Epic" {
            assert_eq!(issue["fields"]["customfield_10020"], Value::Null);
        }
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn sprint_field_is_set_on_create_and_edit() {
    let sim = start().await;
    let (status, created) = call(
        &sim,
        Method::POST,
        "/rest/api/2/issue",
        Some(
            json!({"fields": {"project": {"key": "DEMO"}, "issuetype": {"name": "Story"},
                    "summary": "Planned", "customfield_10020": 5}}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let key = created["key"].as_str().expect("key").to_owned();
    let (_, issue) = call(
        &sim,
        Method::GET,
        &format!("/rest/agile/1.0/issue/{key}"),
        None,
    )
    .await;
    assert_eq!(issue["fields"]["sprint"]["id"], 5);
    assert_eq!(issue["fields"]["customfield_10020"][0]["state"], "active");
    let sprint5 = all_issue_ids(&sim, "/rest/agile/1.0/sprint/5/issue").await;
    let id: u64 = created["id"].as_str().expect("id").parse().expect("n");
    assert!(sprint5.contains(&id));

    let (status, err) = call(
        &sim,
        Method::PUT,
        &format!("/rest/api/2/issue/{key}"),
        Some(json!({"fields": {"customfield_10020": 1}})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "closed sprint: {err}");
    assert!(err["errors"]["customfield_10020"].is_string(), "{err}");
    let (status, _) = call(
        &sim,
        Method::PUT,
        &format!("/rest/api/2/issue/{key}"),
        Some(json!({"fields": {"customfield_10020": 6}})),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = call(
        &sim,
        Method::PUT,
        &format!("/rest/api/2/issue/{key}"),
        Some(json!({"fields": {"customfield_10020": null}})),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, issue) = call(
        &sim,
        Method::GET,
        &format!("/rest/api/2/issue/{key}?expand=changelog"),
        None,
    )
    .await;
    assert_eq!(issue["fields"]["customfield_10020"], Value::Null);
    let sprint_items: Vec<&Value> = issue["changelog"]["histories"]
        .as_array()
        .expect("histories")
        .iter()
        .flat_map(|h| h["items"].as_array().expect("items"))
        .filter(|i| i["field"] == "Sprint")
        .collect();
    assert_eq!(sprint_items.len(), 2, "{sprint_items:?}");
    assert_eq!(sprint_items[0]["from"], "5");
    assert_eq!(sprint_items[0]["to"], "6");
    assert_eq!(sprint_items[1]["to"], Value::Null);

    // Not on the screens of epics or business projects.
    let (status, err) = call(
        &sim,
        Method::POST,
        "/rest/api/2/issue",
        Some(
            json!({"fields": {"project": {"key": "MKT"}, "issuetype": {"name": "Task"},
                    "summary": "No sprints here", "customfield_10020": 5}}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{err}");
    sim.shutdown().await;
}

#[tokio::test]
async fn sprint_field_is_on_the_screens_of_standard_software_issue_types() {
    let sim = start().await;
    let (status, types) = call(
        &sim,
        Method::GET,
        "/rest/api/3/issue/createmeta/DEMO/issuetypes",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{types}");
    let expected_schema = json!({
        "type": "array",
        "items": "json",
        "custom": "com.pyxis.greenhopper.jira:gh-sprint",
        "customId": 10020,
    });
    let mut seen_standard = false;
    for t in types["issueTypes"].as_array().expect("types") {
        let id = t["id"].as_str().expect("id");
        let (status, page) = call(
            &sim,
            Method::GET,
            &format!("/rest/api/3/issue/createmeta/DEMO/issuetypes/{id}?maxResults=200"),
            None,
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{page}");
        let sprint = page["fields"]
            .as_array()
            .expect("fields")
            .iter()
            .find(|f| f["fieldId"] == "customfield_10020");
        let standard = t["subtask"] == false && t["hierarchyLevel"] == 0;
        assert_eq!(sprint.is_some(), standard, "type {t}");
        if let Some(sprint) = sprint {
            seen_standard = true;
            assert_eq!(sprint["schema"], expected_schema);
            assert_eq!(sprint["operations"], json!(["set"]));
            assert_eq!(sprint["name"], "Sprint");
        }
    }
    assert!(seen_standard);

    let (status, edit) = call(&sim, Method::GET, "/rest/api/3/issue/DEMO-1/editmeta", None).await;
    assert_eq!(status, StatusCode::OK, "{edit}");
    let (_, issue) = call(
        &sim,
        Method::GET,
        "/rest/api/3/issue/DEMO-1?fields=issuetype",
        None,
    )
    .await;
    let standard = issue["fields"]["issuetype"]["subtask"] == false
        && issue["fields"]["issuetype"]["hierarchyLevel"] == 0;
    assert_eq!(
        edit["fields"].get("customfield_10020").is_some(),
        standard,
        "{edit}"
    );
    if standard {
        assert_eq!(
            edit["fields"]["customfield_10020"]["schema"],
            expected_schema
        );
        assert_eq!(
            edit["fields"]["customfield_10020"]["operations"],
            json!(["set"])
        );
    }

    // Business projects have no sprints.
    let (_, types) = call(
        &sim,
        Method::GET,
        "/rest/api/3/issue/createmeta/MKT/issuetypes",
        None,
    )
    .await;
    for t in types["issueTypes"].as_array().expect("types") {
        let id = t["id"].as_str().expect("id");
        let (_, page) = call(
            &sim,
            Method::GET,
            &format!("/rest/api/3/issue/createmeta/MKT/issuetypes/{id}?maxResults=200"),
            None,
        )
        .await;
        assert!(
            page["fields"]
                .as_array()
                .expect("fields")
                .iter()
                .all(|f| f["fieldId"] != "customfield_10020")
        );
    }
}
