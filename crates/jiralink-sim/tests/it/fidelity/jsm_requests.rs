//! JSM request operations beyond create/read/comment: transitions, participants, SLAs, queues,
//! approvals and request attachments, each succeeding and failing.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::{Area, Fidelity, Reply, error_sweep, resolve};

const API: &str = "/rest/servicedeskapi";

const BOUNDARY: &str = "jsmFidelityBoundary";

/// A `multipart/form-data` body with one part per `(field, file name, content)`.
fn multipart(files: &[(&str, &str, &str)]) -> Vec<u8> {
    let mut body = String::new();
    for (field, name, content) in files {
        body.push_str(&format!(
            "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"{name}\"\r\nContent-Type: text/plain\r\n\r\n{content}\r\n"
        ));
    }
    body.push_str(&format!("--{BOUNDARY}--\r\n"));
    body.into_bytes()
}

/// Sends a multipart upload on the site host as alice and judges the answer like every call.
async fn upload(fid: &Fidelity, path: &str, body: Vec<u8>, xsrf: bool) -> Reply {
    let url = format!("{}{API}{path}", fid.sim.site_url("demo"));
    let parsed = url::Url::parse(&url).expect("absolute URL");
    let (op, _) = resolve("POST", parsed.path()).expect("in the catalog");
    let mut req = crate::client()
        .post(url)
        .header("authorization", crate::alice_classic(&fid.sim))
        .header(
            "content-type",
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        .body(body);
    if xsrf {
        req = req.header("x-atlassian-token", "no-check");
    }
    let res = req.send().await.expect("request completes");
    let status = res.status();
    let headers = res.headers().clone();
    let media = headers
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let text = res.text().await.expect("body");
    let body: Value = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text.clone()))
    };
    fid.judge(op, status, &media, &body, text.is_empty());
    Reply {
        status,
        headers,
        body,
    }
}

pub(super) async fn exercise(fid: &Fidelity) {
    // A fresh burst window: the clock is manual and the calls before these used much of it.
    let next_window = || fid.sim.control().advance(std::time::Duration::from_secs(2));
    next_window();
    let get = |path: &str| fid.site(Method::GET, &format!("{API}{path}"));
    let post = |path: &str| fid.site(Method::POST, &format!("{API}{path}"));
    let delete = |path: &str| fid.site(Method::DELETE, &format!("{API}{path}"));

    let request = post("/request")
        .json(json!({
            "serviceDeskId": "1", "requestTypeId": "2",
            "requestFieldValues": {
                "summary": "Need a docking station", "description": "For the *new* laptop",
                "customfield_10011": {"id": "10101"}
            },
        }))
        .send()
        .await;
    request.expect(201);
    let key = request.str("/issueKey");
    let customer = post("/customer")
        .json(json!({"email": "participant@customer.example", "displayName": "Pat Participant"}))
        .send()
        .await;
    customer.expect(201);
    let customer_id = customer.str("/accountId");

    // Transitions.
    let transitions = get(&format!("/request/{key}/transition")).send().await;
    transitions.expect(200);
    let transition_id = transitions.str("/values/0/id");
    get("/request/DEMO-1/transition").send().await.expect(404);
    post(&format!("/request/{key}/transition"))
        .json(json!({"id": transition_id, "additionalComment": {"body": "Done on my side"}}))
        .send()
        .await
        .expect(204);
    post(&format!("/request/{key}/transition"))
        .json(json!({"id": "999"}))
        .send()
        .await
        .expect(400);
    post("/request/DEMO-1/transition")
        .json(json!({"id": "11"}))
        .send()
        .await
        .expect(404);

    // Participants.
    let participants = format!("/request/{key}/participant");
    post(&participants)
        .json(json!({"accountIds": [customer_id]}))
        .send()
        .await
        .expect(200);
    post(&participants)
        .json(json!({"accountIds": ["qm:nobody:0"]}))
        .send()
        .await
        .expect(400);
    get(&participants).send().await.expect(200);
    get("/request/DEMO-1/participant").send().await.expect(404);
    delete(&participants)
        .json(json!({"accountIds": [customer_id]}))
        .send()
        .await
        .expect(200);
    delete(&participants)
        .invalid_json(json!({"accountIds": "not a list"}))
        .send()
        .await
        .expect(400);

    // SLAs.
    get(&format!("/request/{key}/sla")).send().await.expect(200);
    get("/request/HELP-3/sla").send().await.expect(200);
    get("/request/DEMO-1/sla").send().await.expect(404);
    get(&format!("/request/{key}/sla/2"))
        .send()
        .await
        .expect(200);
    get("/request/HELP-2/sla/1").send().await.expect(200);
    get(&format!("/request/{key}/sla/77"))
        .send()
        .await
        .expect(404);
    get(&format!("/request/{key}"))
        .query(&[("expand", "sla,participant")])
        .send()
        .await
        .expect(200);

    next_window();

    // Queues.
    get("/servicedesk/1/queue")
        .query(&[("includeCount", "true")])
        .send()
        .await
        .expect(200);
    get("/servicedesk/1/queue").send().await.expect(200);
    get("/servicedesk/9/queue").send().await.expect(404);
    get("/servicedesk/HELP/queue/1")
        .query(&[("includeCount", "true")])
        .send()
        .await
        .expect(200);
    get("/servicedesk/1/queue/99").send().await.expect(404);
    get("/servicedesk/1/queue/1/issue")
        .query(&[("limit", "5")])
        .send()
        .await
        .expect(200);
    get("/servicedesk/1/queue/5/issue").send().await.expect(200);
    get("/servicedesk/1/queue/99/issue")
        .send()
        .await
        .expect(404);

    // Approvals (hardware requests wait for one).
    let approvals = get(&format!("/request/{key}/approval")).send().await;
    approvals.expect(200);
    let approval_id = approvals.str("/values/0/id");
    get("/request/DEMO-1/approval").send().await.expect(404);
    let approval = format!("/request/{key}/approval/{approval_id}");
    get(&approval).send().await.expect(200);
    get(&format!("/request/{key}/approval/999"))
        .send()
        .await
        .expect(404);
    post(&approval)
        .invalid_json(json!({"decision": "maybe"}))
        .send()
        .await
        .expect(400);
    post(&approval)
        .json(json!({"decision": "approve"}))
        .send()
        .await
        .expect(200);
    post(&approval)
        .json(json!({"decision": "decline"}))
        .send()
        .await
        .expect(409);
    get(&approval).send().await.expect(200);

    next_window();

    // Attachments.
    let uploaded = upload(
        fid,
        "/servicedesk/1/attachTemporaryFile",
        multipart(&[
            ("file", "notes.txt", "first"),
            ("file", "trace.log", "second"),
        ]),
        true,
    )
    .await;
    let temp_ids: Vec<String> = uploaded.expect(201)["temporaryAttachments"]
        .as_array()
        .expect("list")
        .iter()
        .map(|t| t["temporaryAttachmentId"].as_str().expect("id").to_owned())
        .collect();
    assert_eq!(
        upload(
            fid,
            "/servicedesk/1/attachTemporaryFile",
            multipart(&[("file", "a.txt", "x")]),
            false,
        )
        .await
        .status,
        StatusCode::FORBIDDEN
    );
    upload(
        fid,
        "/servicedesk/9/attachTemporaryFile",
        multipart(&[("file", "a.txt", "x")]),
        true,
    )
    .await
    .expect(404);
    let attached = post(&format!("/request/{key}/attachment"))
        .json(json!({"temporaryAttachmentIds": temp_ids, "public": true,
                     "additionalComment": {"body": "Logs attached"}}))
        .send()
        .await;
    let comment_id = attached.expect(201)["comment"]["id"]
        .as_str()
        .expect("comment id")
        .to_owned();
    // A request attachment is an issue attachment: the platform API serves what `jiraRest` names.
    let rest = attached.str("/attachments/values/0/_links/jiraRest");
    let attachment_id = rest.rsplit('/').next().unwrap_or_default().to_owned();
    fid.site(
        Method::GET,
        &format!("/rest/api/3/attachment/{attachment_id}"),
    )
    .send()
    .await
    .expect(200);
    post(&format!("/request/{key}/attachment"))
        .json(json!({"temporaryAttachmentIds": ["temp1"], "public": true}))
        .send()
        .await
        .expect(400);
    get(&format!("/request/{key}/attachment"))
        .send()
        .await
        .expect(200);
    get("/request/DEMO-1/attachment").send().await.expect(404);
    get(&format!("/request/{key}/comment/{comment_id}/attachment"))
        .opt_in()
        .send()
        .await
        .expect(200);
    get(&format!("/request/{key}/comment/{comment_id}/attachment"))
        .send()
        .await
        .expect(412);
    get(&format!("/request/{key}"))
        .query(&[("expand", "attachment,comment")])
        .send()
        .await
        .expect(200);
    get(&format!("/request/{key}/comment/{comment_id}"))
        .query(&[("expand", "attachment")])
        .send()
        .await
        .expect(200);

    let calls: Vec<(Method, String)> = [
        (Method::GET, "/request/HELP-1/transition"),
        (Method::POST, "/request/HELP-1/transition"),
        (Method::GET, "/request/HELP-1/participant"),
        (Method::POST, "/request/HELP-1/participant"),
        (Method::DELETE, "/request/HELP-1/participant"),
        (Method::GET, "/request/HELP-1/sla"),
        (Method::GET, "/request/HELP-1/sla/1"),
        (Method::GET, "/servicedesk/1/queue"),
        (Method::GET, "/servicedesk/1/queue/1"),
        (Method::GET, "/servicedesk/1/queue/1/issue"),
        (Method::GET, "/request/HELP-1/approval"),
        (Method::GET, "/request/HELP-1/approval/1"),
        (Method::POST, "/request/HELP-1/approval/1"),
        (Method::POST, "/servicedesk/1/attachTemporaryFile"),
        (Method::GET, "/request/HELP-1/attachment"),
        (Method::POST, "/request/HELP-1/attachment"),
        (Method::GET, "/request/HELP-1/comment/1/attachment"),
    ]
    .into_iter()
    .map(|(m, p)| (m, format!("{API}{p}")))
    .collect();
    next_window();
    error_sweep(fid, Area::Jsm, &calls).await;
    next_window();
}
