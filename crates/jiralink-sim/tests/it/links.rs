//! Issue links, link types, remote links and attachments.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::platform::{Api, assert_error_message, assert_schema, expect};
use crate::{client, start};

async fn create_task(api: &Api, summary: &str) -> String {
    let reply = api
        .post(
            "/issue",
            &json!({"fields": {"project": {"key": "DEMO"}, "issuetype": {"name": "Task"}, "summary": summary}}),
        )
        .await;
    expect(&reply, StatusCode::CREATED)["key"]
        .as_str()
        .expect("key")
        .to_owned()
}

fn doc(text: &str) -> Value {
    json!({"type": "doc", "version": 1, "content": [
        {"type": "paragraph", "content": [{"type": "text", "text": text}]}
    ]})
}

async fn field(api: &Api, key: &str, name: &str) -> Value {
    let reply = api.get(&format!("/issue/{key}?fields={name}")).await;
    expect(&reply, StatusCode::OK)["fields"][name].clone()
}

/// The `field` items of the issue's change history, as (from, fromString, to, toString).
async fn history(api: &Api, key: &str, field: &str) -> Vec<[Value; 4]> {
    let reply = api
        .get(&format!("/issue/{key}/changelog?maxResults=100"))
        .await;
    expect(&reply, StatusCode::OK)["values"]
        .as_array()
        .expect("values")
        .iter()
        .flat_map(|h| h["items"].as_array().cloned().unwrap_or_default())
        .filter(|i| i["field"] == field)
        .map(|i| {
            [
                i["from"].clone(),
                i["fromString"].clone(),
                i["to"].clone(),
                i["toString"].clone(),
            ]
        })
        .collect()
}

const BOUNDARY: &str = "test-boundary-x81";

fn multipart(files: &[(&str, &str, &[u8])]) -> Vec<u8> {
    let mut body = Vec::new();
    for (name, mime, bytes) in files {
        body.extend_from_slice(
            format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\nContent-Type: {mime}\r\n\r\n").as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    body
}

async fn upload(api: &Api, key: &str, body: Vec<u8>, token: bool) -> reqwest::Response {
    let mut req = client()
        .post(format!("{}/issue/{key}/attachments", api.base))
        .header("authorization", &api.auth)
        .header(
            "content-type",
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        .body(body);
    if token {
        req = req.header("x-atlassian-token", "no-check");
    }
    req.send().await.expect("request")
}

#[tokio::test]
async fn link_types_start_as_jiras_and_can_be_managed() {
    let sim = start().await;
    let api = Api::alice(&sim, "3");
    let types = api.get("/issueLinkType").await;
    let types = expect(&types, StatusCode::OK);
    assert_schema("IssueLinkTypes", types);
    let names: Vec<(&str, &str, &str, &str)> = types["issueLinkTypes"]
        .as_array()
        .expect("types")
        .iter()
        .map(|t| {
            (
                t["id"].as_str().unwrap_or_default(),
                t["name"].as_str().unwrap_or_default(),
                t["inward"].as_str().unwrap_or_default(),
                t["outward"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        names,
        vec![
            ("10000", "Blocks", "is blocked by", "blocks"),
            ("10001", "Cloners", "is cloned by", "clones"),
            ("10002", "Duplicate", "is duplicated by", "duplicates"),
            ("10003", "Relates", "relates to", "relates to"),
        ]
    );
    let created = api
        .post(
            "/issueLinkType",
            &json!({"name": "Causes", "inward": "is caused by", "outward": "causes"}),
        )
        .await;
    let id = expect(&created, StatusCode::CREATED)["id"]
        .as_str()
        .expect("id")
        .to_owned();
    assert_eq!(id, "10004");
    let duplicate = api
        .post(
            "/issueLinkType",
            &json!({"name": "CAUSES", "inward": "a", "outward": "b"}),
        )
        .await;
    assert_error_message(
        expect(&duplicate, StatusCode::BAD_REQUEST),
        "already exists",
    );
    let updated = api
        .put(
            &format!("/issueLinkType/{id}"),
            &json!({"outward": "leads to"}),
        )
        .await;
    assert_eq!(expect(&updated, StatusCode::OK)["outward"], "leads to");
    assert_eq!(
        expect(
            &api.get(&format!("/issueLinkType/{id}")).await,
            StatusCode::OK
        )["name"],
        "Causes"
    );
    let (a, b) = (create_task(&api, "A").await, create_task(&api, "B").await);
    expect(
        &api.post(
            "/issueLink",
            &json!({"type": {"id": id}, "inwardIssue": {"key": a}, "outwardIssue": {"key": b}}),
        )
        .await,
        StatusCode::CREATED,
    );
    expect(
        &api.delete(&format!("/issueLinkType/{id}")).await,
        StatusCode::NO_CONTENT,
    );
    expect(
        &api.get(&format!("/issueLinkType/{id}")).await,
        StatusCode::NOT_FOUND,
    );
    assert_eq!(
        field(&api, &a, "issuelinks").await,
        json!([]),
        "links of a deleted type go with it"
    );
}

#[tokio::test]
async fn a_link_shows_on_both_issues_with_history_and_goes_away() {
    let sim = start().await;
    let api = Api::alice(&sim, "3");
    let v2 = Api::alice(&sim, "2");
    let (a, b) = (
        create_task(&api, "Blocker").await,
        create_task(&api, "Blocked").await,
    );
    let created = api
        .post(
            "/issueLink",
            &json!({
                "type": {"name": "Blocks"},
                "inwardIssue": {"key": a},
                "outwardIssue": {"key": b},
                "comment": {"body": doc("Linked because of the outage")}
            }),
        )
        .await;
    assert_eq!(expect(&created, StatusCode::CREATED), &Value::Null);

    let on_a = field(&api, &a, "issuelinks").await;
    let on_b = field(&api, &b, "issuelinks").await;
    assert_eq!(on_a.as_array().map(Vec::len), Some(1));
    let link = &on_a[0];
    assert_eq!(link["type"]["name"], "Blocks");
    assert_eq!(link["outwardIssue"]["key"], b.as_str());
    assert_eq!(link["outwardIssue"]["fields"]["summary"], "Blocked");
    assert!(link["outwardIssue"]["fields"]["status"]["name"].is_string());
    assert!(link.get("inwardIssue").is_none());
    assert_eq!(on_b[0]["id"], link["id"]);
    assert_eq!(on_b[0]["inwardIssue"]["key"], a.as_str());
    let link_id = link["id"].as_str().expect("id").to_owned();

    let fetched = api.get(&format!("/issueLink/{link_id}")).await;
    let fetched = expect(&fetched, StatusCode::OK);
    assert_schema("IssueLink", fetched);
    assert_eq!(fetched["inwardIssue"]["key"], a.as_str());
    assert_eq!(fetched["outwardIssue"]["key"], b.as_str());

    assert_eq!(
        history(&api, &a, "Link").await,
        vec![[
            Value::Null,
            Value::Null,
            json!(b),
            json!(format!("This issue blocks {b}"))
        ]]
    );
    assert_eq!(
        history(&api, &b, "Link").await,
        vec![[
            Value::Null,
            Value::Null,
            json!(a),
            json!(format!("This issue is blocked by {a}"))
        ]]
    );
    let comments = api.get(&format!("/issue/{b}/comment")).await;
    assert_eq!(expect(&comments, StatusCode::OK)["total"], 1);

    // Search, bulk fetch and v2 show the same links.
    let found = api
        .get(&format!("/search/jql?jql=key%3D{a}&fields=issuelinks"))
        .await;
    assert_eq!(
        expect(&found, StatusCode::OK)["issues"][0]["fields"]["issuelinks"][0]["id"],
        link_id.as_str()
    );
    let bulk = api
        .post(
            "/issue/bulkfetch",
            &json!({"issueIdsOrKeys": [b], "fields": ["issuelinks"]}),
        )
        .await;
    assert_eq!(
        expect(&bulk, StatusCode::OK)["issues"][0]["fields"]["issuelinks"][0]["inwardIssue"]["key"],
        a.as_str()
    );
    let in_v2 = field(&v2, &b, "issuelinks").await;
    assert!(
        in_v2[0]["self"]
            .as_str()
            .is_some_and(|s| s.contains("/rest/api/2/issueLink/"))
    );

    // Linking again is accepted and makes no second link.
    expect(
        &api.post(
            "/issueLink",
            &json!({"type": {"name": "blocks"}, "inwardIssue": {"key": a}, "outwardIssue": {"key": b}}),
        )
        .await,
        StatusCode::CREATED,
    );
    assert_eq!(
        field(&api, &a, "issuelinks").await.as_array().map(Vec::len),
        Some(1)
    );

    expect(
        &api.delete(&format!("/issueLink/{link_id}")).await,
        StatusCode::NO_CONTENT,
    );
    assert_eq!(field(&api, &a, "issuelinks").await, json!([]));
    assert_eq!(field(&api, &b, "issuelinks").await, json!([]));
    assert_eq!(
        history(&api, &a, "Link").await.last(),
        Some(&[
            json!(b),
            json!(format!("This issue blocks {b}")),
            Value::Null,
            Value::Null
        ])
    );
    expect(
        &api.get(&format!("/issueLink/{link_id}")).await,
        StatusCode::NOT_FOUND,
    );
}

#[tokio::test]
async fn link_requests_are_checked_as_jira_checks_them() {
    let sim = start().await;
    let api = Api::alice(&sim, "3");
    let a = create_task(&api, "A").await;
    let missing = api
        .post(
            "/issueLink",
            &json!({"type": {"name": "Blocks"}, "inwardIssue": {"key": a}}),
        )
        .await;
    expect(&missing, StatusCode::BAD_REQUEST);
    let unknown_type = api
        .post(
            "/issueLink",
            &json!({"type": {"name": "Fixes"}, "inwardIssue": {"key": a}, "outwardIssue": {"key": "DEMO-1"}}),
        )
        .await;
    assert_error_message(
        expect(&unknown_type, StatusCode::NOT_FOUND),
        "No issue link type with name 'Fixes' found.",
    );
    let unknown_issue = api
        .post(
            "/issueLink",
            &json!({"type": {"name": "Blocks"}, "inwardIssue": {"key": a}, "outwardIssue": {"key": "DEMO-99999"}}),
        )
        .await;
    expect(&unknown_issue, StatusCode::NOT_FOUND);
    let itself = api
        .post(
            "/issueLink",
            &json!({"type": {"name": "Blocks"}, "inwardIssue": {"key": a}, "outwardIssue": {"key": a}}),
        )
        .await;
    expect(&itself, StatusCode::BAD_REQUEST);
    let bad_comment = api
        .post(
            "/issueLink",
            &json!({"type": {"name": "Blocks"}, "inwardIssue": {"key": a}, "outwardIssue": {"key": "DEMO-1"}, "comment": {"body": "plain text in v3"}}),
        )
        .await;
    expect(&bad_comment, StatusCode::BAD_REQUEST);
    assert_eq!(
        field(&api, &a, "issuelinks").await,
        json!([]),
        "a refused comment refuses the link"
    );
    expect(&api.get("/issueLink/x1").await, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn deleting_an_issue_removes_its_links() {
    let sim = start().await;
    let api = Api::alice(&sim, "3");
    let (a, b) = (create_task(&api, "A").await, create_task(&api, "B").await);
    expect(
        &api.post(
            "/issueLink",
            &json!({"type": {"name": "Relates"}, "inwardIssue": {"key": a}, "outwardIssue": {"key": b}}),
        )
        .await,
        StatusCode::CREATED,
    );
    let link_id = field(&api, &a, "issuelinks").await[0]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    expect(
        &api.delete(&format!("/issue/{b}")).await,
        StatusCode::NO_CONTENT,
    );
    assert_eq!(field(&api, &a, "issuelinks").await, json!([]));
    expect(
        &api.get(&format!("/issueLink/{link_id}")).await,
        StatusCode::NOT_FOUND,
    );
}

#[tokio::test]
async fn generated_issues_are_linked_from_both_ends() {
    let sim = start().await;
    let api = Api::alice(&sim, "3");
    let page = api
        .get("/search/jql?jql=project%3DDEMO%20ORDER%20BY%20key&fields=issuelinks&maxResults=100")
        .await;
    let issues = expect(&page, StatusCode::OK)["issues"]
        .as_array()
        .expect("issues")
        .clone();
    let mut checked = 0;
    for issue in &issues {
        for link in issue["fields"]["issuelinks"].as_array().expect("links") {
            let (side, back) = if link.get("outwardIssue").is_some() {
                ("outwardIssue", "inwardIssue")
            } else {
                ("inwardIssue", "outwardIssue")
            };
            let other = link[side]["key"].as_str().expect("key");
            let there = field(&api, other, "issuelinks").await;
            assert!(
                there
                    .as_array()
                    .expect("links")
                    .iter()
                    .any(|l| l["id"] == link["id"] && l[back]["key"] == issue["key"]),
                "{} is not linked back from {other}",
                issue["key"]
            );
            checked += 1;
        }
    }
    assert!(checked > 0, "the generated project has links");
    let first = issues
        .iter()
        .flat_map(|i| {
            i["fields"]["issuelinks"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .next()
        .expect("a link");
    let id = first["id"].as_str().expect("id");
    expect(
        &api.delete(&format!("/issueLink/{id}")).await,
        StatusCode::NO_CONTENT,
    );
    expect(
        &api.get(&format!("/issueLink/{id}")).await,
        StatusCode::NOT_FOUND,
    );
}

#[tokio::test]
async fn remote_links_upsert_by_global_id() {
    let sim = start().await;
    let api = Api::alice(&sim, "3");
    let key = create_task(&api, "Remote").await;
    let body = json!({
        "globalId": "system=https://ci.example.com&id=1",
        "application": {"name": "CI", "type": "com.example.ci"},
        "object": {"url": "https://ci.example.com/1", "title": "Build 1"}
    });
    let created = api.post(&format!("/issue/{key}/remotelink"), &body).await;
    let created = expect(&created, StatusCode::CREATED).clone();
    assert_schema("RemoteIssueLinkIdentifies", &created);
    let id = created["id"].as_u64().expect("id");
    let mut again = body.clone();
    again["object"]["title"] = json!("Build 1 (rerun)");
    let updated = api.post(&format!("/issue/{key}/remotelink"), &again).await;
    assert_eq!(expect(&updated, StatusCode::OK)["id"], id);
    let listed = api.get(&format!("/issue/{key}/remotelink")).await;
    let listed = expect(&listed, StatusCode::OK);
    assert_eq!(listed.as_array().map(Vec::len), Some(1));
    assert_schema("RemoteIssueLink", &listed[0]);
    assert_eq!(listed[0]["object"]["title"], "Build 1 (rerun)");
    let missing_title = api
        .post(
            &format!("/issue/{key}/remotelink"),
            &json!({"object": {"url": "https://x"}}),
        )
        .await;
    assert_eq!(
        expect(&missing_title, StatusCode::BAD_REQUEST)["errors"]["title"],
        "'title' is required."
    );
    expect(
        &api.put(
            &format!("/issue/{key}/remotelink/{id}"),
            &json!({"object": {"url": "https://ci.example.com/2", "title": "Build 2"}}),
        )
        .await,
        StatusCode::NO_CONTENT,
    );
    let one = api.get(&format!("/issue/{key}/remotelink/{id}")).await;
    let one = expect(&one, StatusCode::OK);
    assert_eq!(one["object"]["title"], "Build 2");
    assert!(one.get("globalId").is_none(), "PUT replaces every field");
    assert_eq!(
        history(&api, &key, "RemoteIssueLink").await.len(),
        1,
        "creation is recorded"
    );
    expect(
        &api.delete(&format!("/issue/{key}/remotelink/{id}")).await,
        StatusCode::NO_CONTENT,
    );
    expect(
        &api.get(&format!("/issue/{key}/remotelink/{id}")).await,
        StatusCode::NOT_FOUND,
    );
    expect(
        &api.post(&format!("/issue/{key}/remotelink"), &body).await,
        StatusCode::CREATED,
    );
    expect(
        &api.delete(&format!(
            "/issue/{key}/remotelink?globalId=system%3Dhttps%3A%2F%2Fci.example.com%26id%3D1"
        ))
        .await,
        StatusCode::NO_CONTENT,
    );
    assert_eq!(
        expect(
            &api.get(&format!("/issue/{key}/remotelink")).await,
            StatusCode::OK
        ),
        &json!([])
    );
}

#[tokio::test]
async fn attachments_upload_download_and_delete() {
    let sim = start().await;
    let api = Api::alice(&sim, "3");
    let key = create_task(&api, "With files").await;
    let body = multipart(&[
        ("notes.txt", "text/plain", b"hello attachments"),
        ("pixel.png", "image/png", &[0x89, b'P', b'N', b'G', 0, 1]),
    ]);
    let refused = upload(&api, &key, body.clone(), false).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert_eq!(refused.text().await.expect("text"), "XSRF check failed");
    let uploaded = upload(&api, &key, body, true).await;
    assert_eq!(uploaded.status(), StatusCode::OK);
    let uploaded: Value = uploaded.json().await.expect("json");
    let files = uploaded.as_array().expect("array");
    assert_eq!(files.len(), 2);
    for f in files {
        assert_schema("Attachment", f);
    }
    assert_eq!(files[0]["filename"], "notes.txt");
    assert_eq!(files[0]["size"], 17);
    assert_eq!(files[1]["mimeType"], "image/png");
    let id = files[0]["id"].as_str().expect("id").to_owned();

    let on_issue = field(&api, &key, "attachment").await;
    assert_eq!(on_issue.as_array().map(Vec::len), Some(2));
    assert_eq!(on_issue[0]["id"], id.as_str());
    let meta = api.get(&format!("/attachment/{id}")).await;
    let meta = expect(&meta, StatusCode::OK);
    assert_schema("AttachmentMetadata", meta);
    assert_eq!(meta["author"]["displayName"], "Alice Admin");

    let redirect = client()
        .get(format!("{}/attachment/content/{id}", api.base))
        .header("authorization", &api.auth)
        .send()
        .await
        .expect("request");
    assert_eq!(redirect.status(), StatusCode::SEE_OTHER);
    let location = redirect.headers()["location"]
        .to_str()
        .expect("location")
        .to_owned();
    let content = client()
        .get(&location)
        .header("authorization", &api.auth)
        .send()
        .await
        .expect("request");
    assert_eq!(content.status(), StatusCode::OK);
    assert_eq!(content.headers()["content-type"], "text/plain");
    assert_eq!(content.text().await.expect("text"), "hello attachments");
    let part = client()
        .get(&location)
        .header("authorization", &api.auth)
        .header("range", "bytes=6-")
        .send()
        .await
        .expect("request");
    assert_eq!(part.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(part.text().await.expect("text"), "attachments");

    let limits = api.get("/attachment/meta").await;
    let limits = expect(&limits, StatusCode::OK).clone();
    assert_eq!(limits["enabled"], true);
    let limit = usize::try_from(limits["uploadLimit"].as_u64().expect("limit")).expect("usize");
    let too_big = upload(
        &api,
        &key,
        multipart(&[("big.bin", "application/octet-stream", &vec![7; limit + 1])]),
        true,
    )
    .await;
    assert_eq!(too_big.status(), StatusCode::PAYLOAD_TOO_LARGE);

    assert_eq!(
        history(&api, &key, "Attachment").await.first(),
        Some(&[Value::Null, Value::Null, json!(id), json!("notes.txt")])
    );
    expect(
        &api.delete(&format!("/attachment/{id}")).await,
        StatusCode::NO_CONTENT,
    );
    expect(
        &api.get(&format!("/attachment/{id}")).await,
        StatusCode::NOT_FOUND,
    );
    assert_eq!(
        field(&api, &key, "attachment")
            .await
            .as_array()
            .map(Vec::len),
        Some(1)
    );
    assert_eq!(
        history(&api, &key, "Attachment").await.last(),
        Some(&[json!(id), json!("notes.txt"), Value::Null, Value::Null])
    );
}

/// Sends a JSON body to the JSM API of the `demo` site as alice.
async fn jsm(
    api: &Api,
    sim: &jiralink_sim::SimHandle,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut req = client()
        .request(
            method,
            format!("{}/rest/servicedeskapi{path}", sim.site_url("demo")),
        )
        .header("authorization", &api.auth);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let res = req.send().await.expect("request");
    let status = res.status();
    (status, res.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn request_attachments_are_issue_attachments_with_the_same_ids() {
    let sim = start().await;
    let api = Api::alice(&sim, "3");
    let task = create_task(&api, "Platform upload first").await;
    let first = upload(
        &api,
        &task,
        multipart(&[("a.txt", "text/plain", b"a")]),
        true,
    )
    .await;
    assert_eq!(first.status(), StatusCode::OK);
    let first: Value = first.json().await.expect("json");
    let first_id: u64 = first[0]["id"]
        .as_str()
        .expect("id")
        .parse()
        .expect("number");

    let (status, request) = jsm(
        &api,
        &sim,
        reqwest::Method::POST,
        "/request",
        Some(json!({"serviceDeskId": "1", "requestTypeId": "1",
                    "requestFieldValues": {"summary": "Attached on the portal"}})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{request}");
    let key = request["issueKey"].as_str().expect("key").to_owned();
    let temp = client()
        .post(format!(
            "{}/rest/servicedeskapi/servicedesk/1/attachTemporaryFile",
            sim.site_url("demo")
        ))
        .header("authorization", &api.auth)
        .header("x-atlassian-token", "no-check")
        .header(
            "content-type",
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        .body(multipart(&[("b.txt", "text/plain", b"from the portal")]))
        .send()
        .await
        .expect("upload");
    assert_eq!(temp.status(), StatusCode::CREATED);
    let temp: Value = temp.json().await.expect("json");
    let (status, attached) = jsm(
        &api,
        &sim,
        reqwest::Method::POST,
        &format!("/request/{key}/attachment"),
        Some(json!({"temporaryAttachmentIds": [temp["temporaryAttachments"][0]["temporaryAttachmentId"]],
                    "public": true})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{attached}");

    // One counter for both APIs: the next id after the platform upload.
    let id = (first_id + 1).to_string();
    let on_issue = field(&api, &key, "attachment").await;
    assert_schema("Attachment", &on_issue[0]);
    assert_eq!(on_issue[0]["id"], id.as_str());
    assert_eq!(on_issue[0]["filename"], "b.txt");
    let meta = api.get(&format!("/attachment/{id}")).await;
    let meta = expect(&meta, StatusCode::OK);
    assert_schema("AttachmentMetadata", meta);
    assert_eq!(meta["size"], 15);
    assert_eq!(
        history(&api, &key, "Attachment").await,
        vec![[Value::Null, Value::Null, json!(id), json!("b.txt")]]
    );
    let content = client()
        .get(format!(
            "{}/attachment/content/{id}?redirect=false",
            api.base
        ))
        .header("authorization", &api.auth)
        .send()
        .await
        .expect("request");
    assert_eq!(content.text().await.expect("text"), "from the portal");

    expect(
        &api.delete(&format!("/attachment/{id}")).await,
        StatusCode::NO_CONTENT,
    );
    let (status, listed) = jsm(
        &api,
        &sim,
        reqwest::Method::GET,
        &format!("/request/{key}/attachment"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(listed["size"], 0);
}

#[tokio::test]
async fn generated_issues_carry_attachments_with_content() {
    let sim = start().await;
    let api = Api::alice(&sim, "3");
    let page = api
        .get("/search/jql?jql=project%3DDEMO%20ORDER%20BY%20key&fields=attachment&maxResults=100")
        .await;
    let issues = expect(&page, StatusCode::OK)["issues"]
        .as_array()
        .expect("issues")
        .clone();
    let attachment = issues
        .iter()
        .flat_map(|i| {
            i["fields"]["attachment"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .next()
        .expect("a generated attachment");
    let id = attachment["id"].as_str().expect("id");
    let bytes = client()
        .get(format!(
            "{}/attachment/content/{id}?redirect=false",
            api.base
        ))
        .header("authorization", &api.auth)
        .send()
        .await
        .expect("request")
        .bytes()
        .await
        .expect("bytes");
    assert_eq!(Some(bytes.len() as u64), attachment["size"].as_u64());
    expect(
        &api.delete(&format!("/attachment/{id}")).await,
        StatusCode::NO_CONTENT,
    );
    expect(
        &api.get(&format!("/attachment/{id}")).await,
        StatusCode::NOT_FOUND,
    );
}

#[tokio::test]
async fn links_remote_links_and_attachments_survive_dump_and_load() {
    let sim = start().await;
    let api = Api::alice(&sim, "3");
    let (a, b) = (create_task(&api, "A").await, create_task(&api, "B").await);
    expect(
        &api.post(
            "/issueLink",
            &json!({"type": {"name": "Duplicate"}, "inwardIssue": {"key": a}, "outwardIssue": {"key": b}}),
        )
        .await,
        StatusCode::CREATED,
    );
    expect(
        &api.post(
            &format!("/issue/{a}/remotelink"),
            &json!({"object": {"url": "https://x.example/1", "title": "X"}}),
        )
        .await,
        StatusCode::CREATED,
    );
    let uploaded = upload(
        &api,
        &b,
        multipart(&[("raw.bin", "application/octet-stream", &[0, 255, 10, 13])]),
        true,
    )
    .await;
    let uploaded: Value = uploaded.json().await.expect("json");
    let attachment = uploaded[0]["id"].as_str().expect("id").to_owned();
    let dump = sim.control().dump();

    let fresh = start().await;
    fresh.control().load(dump).expect("load");
    let again = Api::alice(&fresh, "3");
    assert_eq!(
        field(&again, &a, "issuelinks").await[0]["outwardIssue"]["key"],
        b.as_str()
    );
    let remote = again.get(&format!("/issue/{a}/remotelink")).await;
    assert_eq!(expect(&remote, StatusCode::OK)[0]["object"]["title"], "X");
    let bytes = client()
        .get(format!(
            "{}/attachment/content/{attachment}?redirect=false",
            again.base
        ))
        .header("authorization", &again.auth)
        .send()
        .await
        .expect("request")
        .bytes()
        .await
        .expect("bytes");
    assert_eq!(bytes.as_ref(), &[0, 255, 10, 13]);
}

#[tokio::test]
async fn issues_are_linked_through_update_issuelinks() {
    let sim = start().await;
    let api = Api::alice(&sim, "3");
    let a = create_task(&api, "Existing").await;
    let created = api
        .post(
            "/issue",
            &json!({
                "fields": {"project": {"key": "DEMO"}, "issuetype": {"name": "Task"}, "summary": "New"},
                "update": {"issuelinks": [{"add": {"type": {"name": "Blocks"}, "outwardIssue": {"key": a}}}]}
            }),
        )
        .await;
    let b = expect(&created, StatusCode::CREATED)["key"]
        .as_str()
        .expect("key")
        .to_owned();
    assert_eq!(
        field(&api, &b, "issuelinks").await[0]["outwardIssue"]["key"],
        a.as_str()
    );
    expect(
        &api.put(
            &format!("/issue/{a}"),
            &json!({"update": {"issuelinks": [{"add": {"type": {"name": "Relates"}, "inwardIssue": {"key": "DEMO-1"}}}]}}),
        )
        .await,
        StatusCode::NO_CONTENT,
    );
    let on_a = field(&api, &a, "issuelinks").await;
    assert_eq!(on_a.as_array().map(Vec::len), Some(2));
    assert!(
        on_a.as_array()
            .expect("links")
            .iter()
            .any(|l| l["type"]["name"] == "Relates" && l["inwardIssue"]["key"] == "DEMO-1")
    );
    let bad = api
        .put(
            &format!("/issue/{a}"),
            &json!({"update": {"issuelinks": [{"add": {"type": {"name": "Fixes"}, "inwardIssue": {"key": "DEMO-1"}}}]}}),
        )
        .await;
    assert_eq!(
        expect(&bad, StatusCode::BAD_REQUEST)["errors"]["issuelinks"],
        "No issue link type with name 'Fixes' found."
    );
    let itself = api
        .put(
            &format!("/issue/{a}"),
            &json!({"update": {"issuelinks": [{"add": {"type": {"name": "Blocks"}, "outwardIssue": {"key": a}}}]}}),
        )
        .await;
    expect(&itself, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn zip_attachments_expand_to_their_files() {
    let sim = start().await;
    let api = Api::alice(&sim, "3");
    let key = create_task(&api, "Archives").await;
    let names: Vec<String> = (0..35).map(|n| format!("logs/day-{n:02}.log")).collect();
    let files: Vec<(&str, &[u8])> = names.iter().map(|n| (n.as_str(), &b"ok"[..])).collect();
    let archive = crate::fidelity::links::zip(&files);
    let uploaded = upload(
        &api,
        &key,
        multipart(&[
            ("logs.zip", "application/zip", &archive),
            ("plain.txt", "text/plain", b"no archive"),
        ]),
        true,
    )
    .await;
    let uploaded: Value = uploaded.json().await.expect("json");
    let zip_id = uploaded[0]["id"].as_str().expect("id");
    let txt_id = uploaded[1]["id"].as_str().expect("id");
    let raw = api.get(&format!("/attachment/{zip_id}/expand/raw")).await;
    let raw = expect(&raw, StatusCode::OK);
    assert_schema("AttachmentArchiveImpl", raw);
    assert_eq!(raw["totalEntryCount"], 35);
    assert_eq!(raw["entries"].as_array().map(Vec::len), Some(30));
    assert_eq!(raw["entries"][2]["name"], "logs/day-02.log");
    assert_eq!(raw["entries"][2]["size"], 2);
    let human = api.get(&format!("/attachment/{zip_id}/expand/human")).await;
    let human = expect(&human, StatusCode::OK);
    assert_schema("AttachmentArchiveMetadataReadable", human);
    assert_eq!(human["name"], "logs.zip");
    assert_eq!(human["entries"][0]["size"], "0.0 k");
    let plain = api.get(&format!("/attachment/{txt_id}/expand/raw")).await;
    assert_eq!(
        expect(&plain, StatusCode::OK),
        &json!({"entries": [], "totalEntryCount": 0})
    );
}
