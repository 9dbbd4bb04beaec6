//! JSM requests beyond creation: customer transitions, participants, SLAs on the simulator
//! clock, queues over the JQL engine, approvals and request attachments.

use std::time::Duration;

use pretty_assertions::assert_eq;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use jiralink_sim::SimHandle;

use crate::{alice_classic, client, start};

struct Reply {
    status: StatusCode,
    body: Value,
}

async fn send(sim: &SimHandle, method: Method, url: &str, body: Option<Value>) -> Reply {
    let mut req = client()
        .request(method, url)
        .header("authorization", alice_classic(sim));
    if let Some(b) = &body {
        req = req.json(b);
    }
    let res = req.send().await.expect("request completes");
    let status = res.status();
    let text = res.text().await.expect("body");
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    };
    Reply { status, body }
}

async fn jsm(sim: &SimHandle, method: Method, path: &str, body: Option<Value>) -> Reply {
    let url = format!("{}/rest/servicedeskapi{path}", sim.site_url("demo"));
    send(sim, method, &url, body).await
}

async fn get(sim: &SimHandle, path: &str) -> Value {
    let r = jsm(sim, Method::GET, path, None).await;
    assert_eq!(r.status, StatusCode::OK, "GET {path}: {}", r.body);
    r.body
}

async fn platform(sim: &SimHandle, path: &str) -> Value {
    let url = format!("{}/rest/api/3{path}", sim.site_url("demo"));
    let r = send(sim, Method::GET, &url, None).await;
    assert_eq!(r.status, StatusCode::OK, "GET {path}: {}", r.body);
    r.body
}

async fn new_request(sim: &SimHandle, request_type: &str, summary: &str) -> String {
    let mut fields = json!({"summary": summary, "description": "Details"});
    if request_type == "2" {
        fields["customfield_10011"] = json!({"id": "10100"});
    }
    let r = jsm(
        sim,
        Method::POST,
        "/request",
        Some(json!({"serviceDeskId": "1", "requestTypeId": request_type, "requestFieldValues": fields})),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    r.body["issueKey"].as_str().expect("key").to_owned()
}

fn names(page: &Value, key: &str) -> Vec<String> {
    page["values"]
        .as_array()
        .expect("values")
        .iter()
        .map(|v| v[key].as_str().unwrap_or_default().to_owned())
        .collect()
}

async fn transition(sim: &SimHandle, key: &str, name: &str, comment: Option<&str>) {
    let list = get(sim, &format!("/request/{key}/transition")).await;
    let id = list["values"]
        .as_array()
        .expect("values")
        .iter()
        .find(|t| t["name"] == name)
        .unwrap_or_else(|| panic!("{name} offered: {list}"))["id"]
        .clone();
    let mut body = json!({"id": id});
    if let Some(c) = comment {
        body["additionalComment"] = json!({"body": c});
    }
    let r = jsm(
        sim,
        Method::POST,
        &format!("/request/{key}/transition"),
        Some(body),
    )
    .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
}

#[tokio::test]
async fn customer_transitions_move_the_issue_and_its_status_history() {
    let sim = start().await;
    let key = new_request(&sim, "1", "Printer jammed").await;
    let offered = get(&sim, &format!("/request/{key}/transition")).await;
    assert_eq!(names(&offered, "name"), vec!["Resolve this issue"]);

    sim.control().advance(Duration::from_secs(60));
    transition(&sim, &key, "Resolve this issue", Some("Fixed it myself")).await;

    let status = get(&sim, &format!("/request/{key}/status")).await;
    assert_eq!(
        names(&status, "status"),
        vec!["Waiting for support", "Resolved"]
    );
    let request = get(&sim, &format!("/request/{key}")).await;
    assert_eq!(request["currentStatus"]["status"], "Resolved");
    assert_eq!(request["currentStatus"]["statusCategory"], "DONE");
    let comments = get(&sim, &format!("/request/{key}/comment")).await;
    assert_eq!(names(&comments, "body"), vec!["Fixed it myself"]);
    assert_eq!(comments["values"][0]["public"], true);

    let issue = platform(&sim, &format!("/issue/{key}?expand=changelog")).await;
    assert_eq!(issue["fields"]["status"]["name"], "Resolved");
    assert_eq!(issue["fields"]["resolution"]["name"], "Done");
    let histories = issue["changelog"]["histories"]
        .as_array()
        .expect("histories");
    assert!(histories.iter().any(|h| {
        h["items"]
            .as_array()
            .expect("items")
            .iter()
            .any(|i| i["field"] == "status" && i["toString"] == "Resolved")
    }));

    // Resolved: customers may reopen, not close (an agent's step).
    let offered = get(&sim, &format!("/request/{key}/transition")).await;
    assert_eq!(names(&offered, "name"), vec!["Reopen"]);
    let bad = jsm(
        &sim,
        Method::POST,
        &format!("/request/{key}/transition"),
        Some(json!({"id": "41"})),
    )
    .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    let missing = jsm(
        &sim,
        Method::POST,
        &format!("/request/{key}/transition"),
        Some(json!({})),
    )
    .await;
    assert_eq!(missing.status, StatusCode::BAD_REQUEST);
    assert!(missing.body["errorMessage"].is_string());
}

#[tokio::test]
async fn participants_are_added_removed_and_recorded() {
    let sim = start().await;
    let key = new_request(&sim, "1", "Shared drive is full").await;
    let customer = jsm(
        &sim,
        Method::POST,
        "/customer",
        Some(json!({"email": "pia@customer.example", "displayName": "Pia Part"})),
    )
    .await;
    assert_eq!(customer.status, StatusCode::CREATED);
    let pia = customer.body["accountId"].as_str().expect("id").to_owned();
    let path = format!("/request/{key}/participant");

    let added = jsm(
        &sim,
        Method::POST,
        &path,
        Some(json!({"accountIds": [pia, pia]})),
    )
    .await;
    assert_eq!(added.status, StatusCode::OK, "{}", added.body);
    assert_eq!(names(&added.body, "accountId"), vec![pia.clone()]);
    assert_eq!(
        names(&get(&sim, &path).await, "displayName"),
        vec!["Pia Part"]
    );
    let request = get(&sim, &format!("/request/{key}?expand=participant")).await;
    assert_eq!(
        request["participants"]["values"][0]["accountId"],
        pia.as_str()
    );

    let unknown = jsm(
        &sim,
        Method::POST,
        &path,
        Some(json!({"accountIds": ["qm:nobody:0", pia]})),
    )
    .await;
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST);
    assert!(
        unknown.body["errorMessage"]
            .as_str()
            .expect("message")
            .contains("qm:nobody:0")
    );

    // A participant sees the request among the ones they take part in.
    let removed = jsm(
        &sim,
        Method::DELETE,
        &path,
        Some(json!({"accountIds": [pia]})),
    )
    .await;
    assert_eq!(removed.status, StatusCode::OK);
    assert_eq!(removed.body["size"], 0);

    let issue = platform(&sim, &format!("/issue/{key}?expand=changelog")).await;
    let items: Vec<Value> = issue["changelog"]["histories"]
        .as_array()
        .expect("histories")
        .iter()
        .flat_map(|h| h["items"].as_array().cloned().unwrap_or_default())
        .filter(|i| i["field"] == "Request participants")
        .collect();
    assert_eq!(items.len(), 2, "{items:#?}");
    assert_eq!(items[0]["toString"], "Pia Part");
    assert_eq!(items[1]["fromString"], "Pia Part");
    assert!(items[1]["toString"].is_null());

    // Generated requests take participants too.
    let r = jsm(
        &sim,
        Method::POST,
        "/request/HELP-2/participant",
        Some(json!({"accountIds": [pia]})),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(get(&sim, "/request/HELP-2/participant").await["size"], 1);
}

fn sla<'a>(page: &'a Value, name: &str) -> &'a Value {
    page["values"]
        .as_array()
        .expect("values")
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("{name} in {page}"))
}

#[tokio::test]
async fn slas_run_on_the_simulator_clock() {
    let sim = start().await;
    let key = new_request(&sim, "1", "VPN drops every hour").await;
    let path = format!("/request/{key}/sla");
    let fresh = get(&sim, &path).await;
    let first = sla(&fresh, "Time to first response");
    assert_eq!(first["ongoingCycle"]["goalDuration"]["millis"], 14_400_000);
    assert_eq!(first["ongoingCycle"]["goalDuration"]["friendly"], "4h 240m");
    assert_eq!(first["ongoingCycle"]["elapsedTime"]["millis"], 0);
    assert_eq!(first["ongoingCycle"]["breached"], false);
    assert_eq!(first["ongoingCycle"]["paused"], false);
    assert_eq!(first["completedCycles"], json!([]));
    // Dates are in the caller's zone (alice: Australia/Sydney).
    let start_iso = first["ongoingCycle"]["startTime"]["iso8601"]
        .as_str()
        .expect("iso");
    assert!(
        start_iso.ends_with("+1100") || start_iso.ends_with("+1000"),
        "{start_iso}"
    );
    // No priority given: Medium's 24 h goal.
    let resolution = sla(&fresh, "Time to resolution");
    assert_eq!(
        resolution["ongoingCycle"]["goalDuration"]["millis"],
        86_400_000
    );

    // Five hours later, unanswered: first response breached.
    sim.control().advance(Duration::from_secs(5 * 3600));
    let late = get(&sim, &format!("{path}/1")).await;
    assert_eq!(late["ongoingCycle"]["breached"], true);
    assert_eq!(late["ongoingCycle"]["elapsedTime"]["millis"], 18_000_000);
    assert_eq!(late["ongoingCycle"]["remainingTime"]["millis"], -3_600_000);
    assert_eq!(
        late["ongoingCycle"]["remainingTime"]["friendly"],
        "-1h -60m"
    );

    // Alice raised it, so her comment is no first response; an agent's public comment is.
    let own = jsm(
        &sim,
        Method::POST,
        &format!("/request/{key}/comment"),
        Some(json!({"body": "Still broken", "public": true})),
    )
    .await;
    assert_eq!(own.status, StatusCode::CREATED);
    assert!(get(&sim, &format!("{path}/1")).await["ongoingCycle"].is_object());

    sim.control().advance(Duration::from_secs(3600));
    transition(&sim, &key, "Resolve this issue", None).await;
    let done = get(&sim, &path).await;
    let first = sla(&done, "Time to first response");
    assert!(first.get("ongoingCycle").is_none());
    assert_eq!(first["completedCycles"][0]["breached"], true);
    assert_eq!(
        first["completedCycles"][0]["elapsedTime"]["millis"],
        21_600_000
    );
    let resolution = sla(&done, "Time to resolution");
    assert!(resolution.get("ongoingCycle").is_none());
    assert_eq!(resolution["completedCycles"][0]["breached"], false);
    assert_eq!(
        resolution["completedCycles"][0]["remainingTime"]["millis"],
        86_400_000 - 21_600_000
    );

    // Reopening starts a new resolution cycle; the clock keeps its elapsed time.
    sim.control().advance(Duration::from_secs(600));
    transition(&sim, &key, "Reopen", None).await;
    sim.control().advance(Duration::from_secs(120));
    let reopened = get(&sim, &format!("{path}/2")).await;
    assert_eq!(
        reopened["completedCycles"].as_array().map(Vec::len),
        Some(1)
    );
    assert_eq!(reopened["ongoingCycle"]["elapsedTime"]["millis"], 120_000);

    // The `sla` expand of the request carries the same records.
    let expanded = get(&sim, &format!("/request/{key}?expand=sla")).await;
    assert_eq!(expanded["sla"]["size"], 2);
    assert_eq!(expanded["sla"]["values"][1], reopened);

    let unknown = jsm(&sim, Method::GET, &format!("{path}/9"), None).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn high_priority_incidents_have_an_eight_hour_goal_and_agents_answer_first() {
    let sim = start().await;
    let r = jsm(
        &sim,
        Method::POST,
        "/request",
        Some(json!({"serviceDeskId": "1", "requestTypeId": "3",
            "requestFieldValues": {"summary": "Checkout is down", "priority": {"id": "1"}}})),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let key = r.body["issueKey"].as_str().expect("key").to_owned();
    let goal =
        get(&sim, &format!("/request/{key}/sla/2")).await["ongoingCycle"]["goalDuration"]["millis"]
            .clone();
    assert_eq!(goal, 28_800_000);

    // A request reported by a customer, answered by alice in public, stops the first response.
    let customer = jsm(
        &sim,
        Method::POST,
        "/customer",
        Some(json!({"email": "quick@customer.example", "displayName": "Quick Q"})),
    )
    .await;
    let quick = customer.body["accountId"].as_str().expect("id").to_owned();
    let r = jsm(
        &sim,
        Method::POST,
        "/request",
        Some(
            json!({"serviceDeskId": "1", "requestTypeId": "1", "raiseOnBehalfOf": quick,
            "requestFieldValues": {"summary": "Password reset"}}),
        ),
    )
    .await;
    let key = r.body["issueKey"].as_str().expect("key").to_owned();
    sim.control().advance(Duration::from_secs(1800));
    let note = jsm(
        &sim,
        Method::POST,
        &format!("/request/{key}/comment"),
        Some(json!({"body": "Internal: check AD", "public": false})),
    )
    .await;
    assert_eq!(note.status, StatusCode::CREATED);
    let still = get(&sim, &format!("/request/{key}/sla/1")).await;
    assert!(
        still["ongoingCycle"].is_object(),
        "internal notes do not count"
    );
    sim.control().advance(Duration::from_secs(1800));
    let answer = jsm(
        &sim,
        Method::POST,
        &format!("/request/{key}/comment"),
        Some(json!({"body": "Reset done", "public": true})),
    )
    .await;
    assert_eq!(answer.status, StatusCode::CREATED);
    let answered = get(&sim, &format!("/request/{key}/sla/1")).await;
    assert!(answered.get("ongoingCycle").is_none());
    assert_eq!(
        answered["completedCycles"][0]["elapsedTime"],
        json!({"millis": 3_600_000, "friendly": "1h 60m"})
    );
}

#[tokio::test]
async fn queues_count_and_list_what_their_jql_matches() {
    let sim = start().await;
    let queues = get(&sim, "/servicedesk/1/queue?includeCount=true").await;
    assert_eq!(
        names(&queues, "name"),
        vec![
            "All open",
            "Unassigned issues",
            "Assigned to me",
            "Incidents",
            "Resolved"
        ]
    );
    let plain = get(&sim, "/servicedesk/1/queue").await;
    assert!(plain["values"][0].get("issueCount").is_none());

    // Counts agree with the platform search of the same JQL.
    for q in queues["values"].as_array().expect("values") {
        let jql = q["jql"].as_str().expect("jql");
        let url = format!(
            "{}/rest/api/3/search/approximate-count",
            sim.site_url("demo")
        );
        let r = send(&sim, Method::POST, &url, Some(json!({"jql": jql}))).await;
        assert_eq!(r.status, StatusCode::OK, "{jql}: {}", r.body);
        assert_eq!(r.body["count"], q["issueCount"], "{jql}");
    }

    let open_before = queues["values"][0]["issueCount"].as_u64().expect("count");
    let key = new_request(&sim, "1", "Queue me").await;
    let one = get(&sim, "/servicedesk/HELP/queue/1?includeCount=true").await;
    assert_eq!(one["issueCount"].as_u64(), Some(open_before + 1));
    let issues = get(&sim, "/servicedesk/1/queue/1/issue?limit=3").await;
    assert_eq!(issues["size"], 3);
    assert_eq!(issues["isLastPage"], false);
    assert_eq!(issues["values"][0]["key"], key.as_str(), "newest first");
    let fields = issues["values"][0]["fields"].as_object().expect("fields");
    let mut keys: Vec<&str> = fields.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        vec![
            "assignee",
            "created",
            "issuetype",
            "reporter",
            "status",
            "summary"
        ]
    );

    // Resolving moves it to the Resolved queue.
    transition(&sim, &key, "Resolve this issue", None).await;
    let resolved = get(&sim, "/servicedesk/1/queue/5/issue?limit=50").await;
    assert_eq!(resolved["values"][0]["key"], key.as_str());
    let open = get(&sim, "/servicedesk/1/queue/1?includeCount=true").await;
    assert_eq!(open["issueCount"].as_u64(), Some(open_before));
}

#[tokio::test]
async fn hardware_requests_wait_for_an_approval() {
    let sim = start().await;
    let key = new_request(&sim, "2", "New laptop").await;
    let plain = new_request(&sim, "1", "No approval needed").await;
    assert_eq!(
        get(&sim, &format!("/request/{plain}/approval")).await["size"],
        0
    );
    let list = get(&sim, &format!("/request/{key}/approval")).await;
    assert_eq!(list["size"], 1);
    let approval = &list["values"][0];
    assert_eq!(approval["finalDecision"], "pending");
    assert_eq!(approval["canAnswerApproval"], true);
    assert_eq!(
        approval["approvers"][0]["approver"]["emailAddress"],
        "alice@example.com"
    );
    assert!(approval.get("completedDate").is_none());
    let id = approval["id"].as_str().expect("id").to_owned();

    let pending = get(
        &sim,
        "/request?requestOwnership=APPROVER&approvalStatus=MY_PENDING_APPROVAL",
    )
    .await;
    assert_eq!(names(&pending, "issueKey"), vec![key.clone()]);

    sim.control().advance(Duration::from_secs(90));
    let path = format!("/request/{key}/approval/{id}");
    let answered = jsm(
        &sim,
        Method::POST,
        &path,
        Some(json!({"decision": "approve"})),
    )
    .await;
    assert_eq!(answered.status, StatusCode::OK, "{}", answered.body);
    assert_eq!(answered.body["finalDecision"], "approved");
    assert_eq!(answered.body["canAnswerApproval"], false);
    assert_eq!(
        answered.body["approvers"][0]["approverDecision"],
        "approved"
    );
    assert!(answered.body["completedDate"]["epochMillis"].is_number());
    assert_eq!(get(&sim, &path).await, answered.body);

    let again = jsm(
        &sim,
        Method::POST,
        &path,
        Some(json!({"decision": "decline"})),
    )
    .await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    let bad = jsm(&sim, Method::POST, &path, Some(json!({"decision": "yes"}))).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);

    let pending = get(
        &sim,
        "/request?requestOwnership=APPROVER&approvalStatus=MY_PENDING_APPROVAL",
    )
    .await;
    assert_eq!(pending["size"], 0);
    let history = get(
        &sim,
        "/request?requestOwnership=APPROVER&approvalStatus=MY_HISTORY_APPROVAL",
    )
    .await;
    assert_eq!(names(&history, "issueKey"), vec![key.clone()]);
    let approver = get(&sim, "/request?requestOwnership=APPROVER").await;
    assert_eq!(names(&approver, "issueKey"), vec![key.clone()]);

    // Approvals and participants survive a dump and load.
    let dump = sim.control().dump();
    let fresh = start().await;
    fresh.control().load(dump).expect("load");
    let reloaded = get(&fresh, &format!("/request/{key}/approval/{id}")).await;
    assert_eq!(reloaded["finalDecision"], "approved");
}

async fn upload(sim: &SimHandle, files: &[(&str, &str, &[u8])]) -> Reply {
    let boundary = "it-boundary-7e3";
    let mut body: Vec<u8> = Vec::new();
    for (name, media, content) in files {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\nContent-Type: {media}\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(content);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    let res = client()
        .post(format!(
            "{}/rest/servicedeskapi/servicedesk/1/attachTemporaryFile",
            sim.site_url("demo")
        ))
        .header("authorization", alice_classic(sim))
        .header("x-atlassian-token", "no-check")
        .header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(body)
        .send()
        .await
        .expect("upload");
    let status = res.status();
    let body = res.json().await.unwrap_or(Value::Null);
    Reply { status, body }
}

fn temp_ids(r: &Reply) -> Vec<String> {
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    r.body["temporaryAttachments"]
        .as_array()
        .expect("list")
        .iter()
        .map(|t| t["temporaryAttachmentId"].as_str().expect("id").to_owned())
        .collect()
}

#[tokio::test]
async fn files_are_uploaded_then_attached_with_a_comment() {
    let sim = start().await;
    let key = new_request(&sim, "1", "Screen flickers").await;
    let png: &[u8] = &[0x89, b'P', b'N', b'G', 0, 1, 2, 255];
    let uploaded = upload(
        &sim,
        &[
            ("screen.png", "image/png", png),
            ("dmesg.log", "text/plain", b"line one\r\nline two"),
        ],
    )
    .await;
    assert_eq!(
        uploaded.body["temporaryAttachments"][0]["fileName"],
        "screen.png"
    );
    let ids = temp_ids(&uploaded);
    assert_eq!(ids.len(), 2);
    assert!(ids.iter().all(|i| i.starts_with("temp")));

    let missing_public = jsm(
        &sim,
        Method::POST,
        &format!("/request/{key}/attachment"),
        Some(json!({"temporaryAttachmentIds": ids})),
    )
    .await;
    assert_eq!(missing_public.status, StatusCode::BAD_REQUEST);

    sim.control().advance(Duration::from_secs(60));
    let attached = jsm(
        &sim,
        Method::POST,
        &format!("/request/{key}/attachment"),
        Some(json!({"temporaryAttachmentIds": ids, "public": false,
                    "additionalComment": {"body": "From the agent's laptop"}})),
    )
    .await;
    assert_eq!(attached.status, StatusCode::CREATED, "{}", attached.body);
    let comment = &attached.body["comment"];
    assert_eq!(comment["public"], false);
    assert_eq!(
        comment["body"],
        "From the agent's laptop !screen.png|thumbnail! [^dmesg.log]"
    );
    let files = &attached.body["attachments"]["values"];
    assert_eq!(files[0]["filename"], "screen.png");
    assert_eq!(files[0]["mimeType"], "image/png");
    assert_eq!(files[0]["size"], png.len());
    assert!(files[0]["_links"]["thumbnail"].is_string());
    assert_eq!(files[1]["size"], 18);
    assert!(files[1]["_links"].get("thumbnail").is_none());
    assert_eq!(files[1]["author"]["emailAddress"], "alice@example.com");

    // A temporary file is used once.
    let again = jsm(
        &sim,
        Method::POST,
        &format!("/request/{key}/attachment"),
        Some(json!({"temporaryAttachmentIds": [ids[0]], "public": true})),
    )
    .await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST);

    let listed = get(&sim, &format!("/request/{key}/attachment")).await;
    assert_eq!(names(&listed, "filename"), vec!["screen.png", "dmesg.log"]);
    let expanded = get(&sim, &format!("/request/{key}?expand=attachment")).await;
    assert_eq!(expanded["attachments"]["size"], 2);
    let comment_id = comment["id"].as_str().expect("id");
    let with_files = get(
        &sim,
        &format!("/request/{key}/comment/{comment_id}?expand=attachment"),
    )
    .await;
    assert_eq!(with_files["attachments"]["size"], 2);

    let issue = platform(&sim, &format!("/issue/{key}?expand=changelog")).await;
    let added: Vec<String> = issue["changelog"]["histories"]
        .as_array()
        .expect("histories")
        .iter()
        .flat_map(|h| h["items"].as_array().cloned().unwrap_or_default())
        .filter(|i| i["fieldId"] == "attachment")
        .map(|i| i["toString"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(added, vec!["screen.png", "dmesg.log"]);

    // Kept across a dump and load, content included.
    let dump = sim.control().dump();
    let fresh = start().await;
    fresh.control().load(dump).expect("load");
    let reloaded = get(&fresh, &format!("/request/{key}/attachment")).await;
    assert_eq!(reloaded["values"][0]["size"], png.len());
    let content = send(
        &fresh,
        Method::GET,
        &format!(
            "{}?redirect=false",
            reloaded["values"][0]["_links"]["content"]
                .as_str()
                .expect("content")
        ),
        None,
    )
    .await;
    assert_eq!(content.status, StatusCode::OK);
}

/// Uploads `files` to issue `key` through the platform API; the new attachments.
async fn platform_upload(sim: &SimHandle, key: &str, files: &[(&str, &[u8])]) -> Value {
    let boundary = "it-boundary-p41";
    let mut body: Vec<u8> = Vec::new();
    for (name, content) in files {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n\r\n")
                .as_bytes(),
        );
        body.extend_from_slice(content);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    let res = client()
        .post(format!(
            "{}/rest/api/3/issue/{key}/attachments",
            sim.site_url("demo")
        ))
        .header("authorization", alice_classic(sim))
        .header("x-atlassian-token", "no-check")
        .header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(body)
        .send()
        .await
        .expect("upload");
    assert_eq!(res.status(), StatusCode::OK);
    res.json().await.expect("attachments")
}

/// Downloads `url` (a `content` link), following Jira's redirect to the bytes.
async fn download(sim: &SimHandle, url: &str) -> Vec<u8> {
    let first = client()
        .get(url)
        .header("authorization", alice_classic(sim))
        .send()
        .await
        .expect("download");
    assert_eq!(first.status(), StatusCode::SEE_OTHER);
    let location = first
        .headers()
        .get("location")
        .and_then(|l| l.to_str().ok())
        .expect("location")
        .to_owned();
    let location = if location.starts_with("http") {
        location
    } else {
        let base = url::Url::parse(url).expect("url");
        base.join(&location).expect("joined").to_string()
    };
    let bytes = client()
        .get(location)
        .header("authorization", alice_classic(sim))
        .send()
        .await
        .expect("bytes");
    assert_eq!(bytes.status(), StatusCode::OK);
    bytes.bytes().await.expect("body").to_vec()
}

#[tokio::test]
async fn request_attachments_are_issue_attachments() {
    let sim = start().await;
    let key = new_request(&sim, "1", "Printer jams").await;
    let direct = platform_upload(&sim, &key, &[("photo.txt", b"taken by the agent")]).await;
    let direct_id = direct[0]["id"].as_str().expect("id").to_owned();

    let ids = temp_ids(
        &upload(
            &sim,
            &[
                ("jam.png", "image/png", &[0x89, b'P', b'N', b'G']),
                ("steps.txt", "text/plain", b"open tray 2"),
            ],
        )
        .await,
    );
    let attached = jsm(
        &sim,
        Method::POST,
        &format!("/request/{key}/attachment"),
        Some(json!({"temporaryAttachmentIds": ids, "public": true})),
    )
    .await;
    assert_eq!(attached.status, StatusCode::CREATED, "{}", attached.body);
    let new = &attached.body["attachments"]["values"];

    // One id space: the platform's `attachment` field lists all three, ids distinct.
    let issue = platform(&sim, &format!("/issue/{key}?fields=attachment")).await;
    let on_issue: Vec<(String, String)> = issue["fields"]["attachment"]
        .as_array()
        .expect("attachment")
        .iter()
        .map(|a| {
            (
                a["id"].as_str().expect("id").to_owned(),
                a["filename"].as_str().expect("name").to_owned(),
            )
        })
        .collect();
    let names_on_issue: Vec<&str> = on_issue.iter().map(|(_, n)| n.as_str()).collect();
    assert_eq!(names_on_issue, vec!["photo.txt", "jam.png", "steps.txt"]);
    assert_eq!(on_issue[0].0, direct_id);
    let mut unique: Vec<&String> = on_issue.iter().map(|(i, _)| i).collect();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 3);

    // The request lists the issue's attachments, the platform upload included.
    let listed = get(&sim, &format!("/request/{key}/attachment")).await;
    assert_eq!(
        names(&listed, "filename"),
        vec!["photo.txt", "jam.png", "steps.txt"]
    );

    // Every link resolves.
    let steps = &new[1];
    let rest = send(
        &sim,
        Method::GET,
        steps["_links"]["jiraRest"].as_str().expect("jiraRest"),
        None,
    )
    .await;
    assert_eq!(rest.status, StatusCode::OK, "{}", rest.body);
    assert_eq!(rest.body["filename"], "steps.txt");
    assert_eq!(rest.body["id"].to_string(), on_issue[2].0);
    let bytes = download(&sim, steps["_links"]["content"].as_str().expect("content")).await;
    assert_eq!(bytes, b"open tray 2");
    let thumb = download(
        &sim,
        new[0]["_links"]["thumbnail"].as_str().expect("thumbnail"),
    )
    .await;
    assert_eq!(thumb, vec![0x89, b'P', b'N', b'G']);

    // Deleting through the platform API removes it from the request.
    let deleted = send(
        &sim,
        Method::DELETE,
        &format!(
            "{}/rest/api/3/attachment/{}",
            sim.site_url("demo"),
            on_issue[1].0
        ),
        None,
    )
    .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    let listed = get(&sim, &format!("/request/{key}/attachment")).await;
    assert_eq!(names(&listed, "filename"), vec!["photo.txt", "steps.txt"]);
    let comment_id = attached.body["comment"]["id"].as_str().expect("id");
    let with_files = get(
        &sim,
        &format!("/request/{key}/comment/{comment_id}?expand=attachment"),
    )
    .await;
    assert_eq!(
        names(&with_files["attachments"], "filename"),
        vec!["steps.txt"]
    );
    let after_delete = get(&sim, &format!("/request/{key}?expand=attachment")).await;
    assert_eq!(after_delete["attachments"]["size"], 2);
}

#[tokio::test]
async fn generated_requests_show_their_generated_attachments() {
    let sim = start().await;
    let found = platform(
        &sim,
        "/search/jql?jql=project%3DHELP%20ORDER%20BY%20key&fields=attachment&maxResults=100",
    )
    .await;
    let (key, files) = found["issues"]
        .as_array()
        .expect("issues")
        .iter()
        .find_map(|i| {
            let files = i["fields"]["attachment"].as_array()?;
            (!files.is_empty()).then(|| {
                (
                    i["key"].as_str().unwrap_or_default().to_owned(),
                    files.clone(),
                )
            })
        })
        .expect("a generated request with attachments");
    let listed = get(&sim, &format!("/request/{key}/attachment")).await;
    let expected: Vec<String> = files
        .iter()
        .map(|f| f["filename"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(names(&listed, "filename"), expected);
    let first_id = files[0]["id"].as_str().expect("id");
    assert!(
        listed["values"][0]["_links"]["jiraRest"]
            .as_str()
            .expect("jiraRest")
            .ends_with(&format!("/rest/api/2/attachment/{first_id}"))
    );
    let expanded = get(&sim, &format!("/request/{key}?expand=attachment")).await;
    assert_eq!(expanded["attachments"]["size"], files.len());
}

#[tokio::test]
async fn uploads_need_the_xsrf_header_and_expire() {
    let sim = start().await;
    let key = new_request(&sim, "1", "Old upload").await;
    let no_token = client()
        .post(format!(
            "{}/rest/servicedeskapi/servicedesk/1/attachTemporaryFile",
            sim.site_url("demo")
        ))
        .header("authorization", alice_classic(&sim))
        .header("content-type", "multipart/form-data; boundary=b")
        .body("--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\n\r\nx\r\n--b--\r\n")
        .send()
        .await
        .expect("upload");
    assert_eq!(no_token.status(), StatusCode::FORBIDDEN);

    let ids = temp_ids(&upload(&sim, &[("a.txt", "text/plain", b"x")]).await);
    sim.control().advance(Duration::from_secs(2 * 3600));
    let late = jsm(
        &sim,
        Method::POST,
        &format!("/request/{key}/attachment"),
        Some(json!({"temporaryAttachmentIds": ids, "public": true})),
    )
    .await;
    assert_eq!(late.status, StatusCode::BAD_REQUEST);
    assert!(
        late.body["errorMessage"]
            .as_str()
            .expect("message")
            .contains("expired")
    );
}
