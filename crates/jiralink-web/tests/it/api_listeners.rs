//! `/v1/listeners` against the simulator: every route answers as the OpenAPI document says
//! (through [`Api::call`], which holds each body to its schema), with the stable error codes.
//! A Basic connection's listener (an admin webhook: nothing to register in Jira) is created
//! with its secret shown once, fed one signed delivery through the public route, processed by
//! the worker into a flow run, checked, and deleted; the flow cannot go while it feeds it.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use jiralink_app::App;
use jiralink_sim::SimHandle;
use pretty_assertions::assert_eq;
use serde_json::{Value, json};

use crate::api::{Api, code};
use crate::exports::{export_clock, export_fixture_on, run_due_jobs};
use crate::flows::flow_parts;

pub(crate) const L: &str = "/v1/listeners";
pub(crate) const L_ID: &str = "/v1/listeners/{id}";
const L_EVENTS: &str = "/v1/listeners/{id}/events";
const L_CHECK: &str = "/v1/listeners/{id}/check";

/// The flow `demo-to-acme` (`demo-mkt`, a Basic connection's export of `MKT`, into
/// `acme-mkt`), through `/v1`.
pub(crate) async fn flow(api: &Api) {
    flow_parts(api).await;
    let r = api
        .call(
            Method::POST,
            "/v1/flows",
            None,
            "",
            Some(json!({"name": "demo-to-acme", "export": "demo-mkt", "import": "acme-mkt"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
}

/// `sha256=<hex HMAC-SHA256 of body>`, as Jira signs an admin webhook's delivery.
pub(crate) fn signed(body: &str, secret: &str) -> String {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.as_bytes());
    format!(
        "sha256={}",
        hex::encode(ring::hmac::sign(&key, body.as_bytes()).as_ref())
    )
}

/// The simulator's id of the issue `key` on the site `demo`.
pub(crate) async fn issue_id(app: &App, sim: &SimHandle, key: &str) -> String {
    let samples = sim.samples().clone();
    let res = app
        .http_client()
        .get(format!("{}/rest/api/3/issue/{key}", sim.site_url("demo")))
        .basic_auth(&samples.email, Some(&samples.api_token))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 200);
    let issue: Value = res.json().await.unwrap();
    issue["id"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listeners_answer_as_the_document_says() {
    let clock = export_clock();
    let api = Api::with(export_fixture_on(&clock).await).await;
    flow(&api).await;

    // Create: an admin webhook (Basic connection), its secret in this answer only.
    let r = api
        .call(
            Method::POST,
            L,
            None,
            "",
            Some(json!({"name": "demo-events", "flow": "DEMO-TO-ACME",
                        "jql": "type = Task", "fieldIds": ["summary"]})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let created = r.json();
    let id = created["id"].as_str().unwrap().to_owned();
    let secret = created["secret"].as_str().unwrap().to_owned();
    assert_eq!(secret.len(), 64, "{}", r.text);
    assert_eq!(created["mode"], "admin");
    assert_eq!(created["state"], "active");
    assert_eq!(created["flowName"], "demo-to-acme");
    assert_eq!(created["connectionName"], "Sim demo");
    assert_eq!(
        created["effectiveJql"], "(project = MKT) AND (type = Task)",
        "{}",
        r.text
    );
    assert_eq!(created["fieldIds"], json!(["summary"]));
    assert_eq!(
        created["events"],
        json!(jiralink_app::LISTENER_DEFAULT_EVENTS)
    );
    assert_eq!(created["webhookIds"], json!([]));
    let url = created["url"].as_str().unwrap().to_owned();
    let token = url.rsplit('/').next().unwrap().to_owned();
    assert!(url.contains("/hooks/jira/"), "{url}");
    let steps = created["setupSteps"].as_array().unwrap();
    assert!(
        steps.iter().any(|s| s.as_str().unwrap().contains(&url)),
        "{steps:?}"
    );

    // Never again: not in the listener, the list, its events or its check.
    let got = api
        .call(Method::GET, L_ID, Some("Demo-Events"), "", None)
        .await;
    assert_eq!(got.json()["id"], json!(id));
    assert!(got.json().get("secret").is_none());
    let list = api.call(Method::GET, L, None, "", None).await;
    assert_eq!(list.json().as_array().unwrap().len(), 1, "{}", list.text);
    for r in [&got, &list] {
        assert!(!r.text.contains(&secret), "the secret came back");
    }

    // Refusals: a taken name, an unknown flow, every problem at once, unknown fields.
    let r = api
        .call(
            Method::POST,
            L,
            None,
            "",
            Some(json!({"name": "DEMO-EVENTS", "flow": "demo-to-acme"})),
        )
        .await;
    assert_eq!(
        (r.status, code(&r).as_str()),
        (StatusCode::CONFLICT, "listener_name_taken")
    );
    let r = api
        .call(
            Method::POST,
            L,
            None,
            "",
            Some(json!({"name": "other", "flow": "nope"})),
        )
        .await;
    assert_eq!(
        (r.status, code(&r).as_str()),
        (StatusCode::NOT_FOUND, "flow_not_found")
    );
    let r = api
        .call(
            Method::POST,
            L,
            None,
            "",
            Some(json!({"name": "other", "flow": "demo-to-acme",
                        "events": ["jira:issue_created", "issue_exploded"],
                        "fieldIds": ["no spaces"],
                        // Joined to the export's JQL, it would leave its parentheses.
                        "jql": "type = Bug) OR (project = SECRET"})),
        )
        .await;
    assert_eq!(
        (r.status, code(&r).as_str()),
        (StatusCode::BAD_REQUEST, "validation_failed"),
        "{}",
        r.text
    );
    let message = r.json()["error"]["message"].as_str().unwrap().to_owned();
    assert!(message.contains("issue_exploded"), "{message}");
    assert!(message.contains("is not a field id"), "{message}");
    assert!(
        message.contains("the listener's JQL has a closing parenthesis without its opening one"),
        "{message}"
    );
    let r = api
        .call(
            Method::POST,
            L,
            None,
            "",
            Some(json!({"name": "other", "flow": "demo-to-acme", "secret": "mine"})),
        )
        .await;
    assert_eq!(code(&r), "unknown_field", "{}", r.text);
    assert!(!r.text.contains("mine"), "{}", r.text);
    let list = api.call(Method::GET, L, None, "", None).await;
    assert_eq!(list.json().as_array().unwrap().len(), 1, "{}", list.text);

    // Two signed deliveries through the public route: a change of a field the listener does
    // not watch (skipped), and one of `summary`, which the worker sends through the flow.
    let issue = issue_id(&api.f.app, &api.f.sim, "MKT-1").await;
    let now_ms = i64::try_from(api.f.app.now().unix_timestamp_nanos() / 1_000_000).unwrap();
    for (delivery, field) in [("delivery-1", "status"), ("delivery-2", "summary")] {
        let body = json!({"timestamp": now_ms, "webhookEvent": "jira:issue_updated",
                          "issue": {"id": issue, "key": "MKT-1"},
                          "changelog": {"id": "1", "items": [{"fieldId": field}]}})
        .to_string();
        let req = Request::builder()
            .method(Method::POST)
            .uri(format!("/hooks/jira/{token}"))
            .header("content-type", "application/json")
            .header("x-atlassian-webhook-identifier", delivery)
            .header("x-hub-signature", signed(&body, &secret))
            .body(Body::from(body))
            .unwrap();
        let r = crate::reply(&api.f.router, req).await;
        assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text);
    }
    let r = api.call(Method::GET, L_ID, Some(&id), "", None).await;
    let view = r.json();
    assert_eq!(
        (&view["received"], &view["pending"]),
        (&json!(2), &json!(2))
    );
    assert!(view["lastEventAt"].is_string(), "{}", r.text);
    run_due_jobs(&api.f.app).await;
    let r = api.call(Method::GET, L_ID, Some(&id), "", None).await;
    assert_eq!(r.json()["pending"], 0, "{}", r.text);
    assert_eq!(r.json()["lagSeconds"], 0, "{}", r.text);
    assert_eq!(r.json()["behind"], false, "{}", r.text);
    assert!(r.json()["lastProcessedAt"].is_string(), "{}", r.text);
    let r = api
        .call(Method::GET, L_EVENTS, Some(&id), "?limit=1", None)
        .await;
    assert_eq!(r.json().as_array().unwrap().len(), 1, "{}", r.text);
    for query in ["", "?limit=500"] {
        let r = api
            .call(Method::GET, L_EVENTS, Some(&id), query, None)
            .await;
        let events = r.json();
        let events = events.as_array().unwrap();
        assert_eq!(events.len(), 2, "{query}: {}", r.text);
        let by = |id: &str| {
            events
                .iter()
                .find(|e| e["deliveryId"] == id)
                .unwrap()
                .clone()
        };
        let (skipped, done) = (by("delivery-1"), by("delivery-2"));
        assert_eq!(skipped["state"], "skipped", "{}", r.text);
        assert_eq!(skipped["flowRunId"], Value::Null);
        assert_eq!(done["event"], "jira:issue_updated");
        assert_eq!(done["issueIds"], json!([issue]));
        assert_eq!(done["state"], "done", "{}", r.text);
        let run = done["flowRunId"].as_str().unwrap();
        let r = api
            .call(Method::GET, "/v1/flow-runs/{id}", Some(run), "", None)
            .await;
        assert_eq!(r.json()["trigger"], "listener", "{}", r.text);
        assert_eq!(r.json()["listenerId"], json!(id), "{}", r.text);
        let (export_run, import_run) = (
            r.json()["exportRunId"].clone(),
            r.json()["importRunId"].clone(),
        );
        // The update was read and sent: both runs exist and can be read.
        let export_run = export_run.as_str().expect("an export run");
        let r = api
            .call(Method::GET, "/v1/runs/{id}", Some(export_run), "", None)
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        let import_run = import_run.as_str().expect("an import run");
        let r = api
            .call(
                Method::GET,
                "/v1/import-runs/{id}",
                Some(import_run),
                "",
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    }
    for query in ["?limit=0", "?limit=501", "?limit=many", "?bogus=1"] {
        let r = api
            .call(Method::GET, L_EVENTS, Some(&id), query, None)
            .await;
        assert_eq!(code(&r), "invalid_query", "{query}: {}", r.text);
        assert!(!r.text.contains("many") && !r.text.contains("bogus"));
    }

    // Check: the upkeep runs now, the safety net with it.
    let r = api.call(Method::POST, L_CHECK, Some(&id), "", None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let report = r.json();
    assert_eq!(report["safetyNetRan"], true, "{}", r.text);
    // An admin webhook has nothing of jiralink's to refresh, and everything was delivered.
    assert_eq!(
        (&report["refreshed"], &report["found"], &report["deleted"]),
        (&json!(false), &json!(0), &json!(0)),
        "{}",
        r.text
    );
    assert_eq!(report["problems"], json!([]), "{}", r.text);
    let r = api.call(Method::GET, L_ID, Some(&id), "", None).await;
    assert!(r.json()["safetyNet"]["lastAt"].is_string(), "{}", r.text);
    assert_eq!(r.json()["safetyNet"]["error"], Value::Null, "{}", r.text);
    assert!(!r.text.contains(&secret));

    // The flow cannot go while the listener feeds it; the listener can.
    let r = api
        .call(
            Method::DELETE,
            "/v1/flows/{id}",
            Some("demo-to-acme"),
            "",
            None,
        )
        .await;
    assert_eq!(
        (r.status, code(&r).as_str()),
        (StatusCode::CONFLICT, "in_use"),
        "{}",
        r.text
    );
    assert!(
        r.text.contains("listener \\\"demo-events\\\""),
        "{}",
        r.text
    );
    let r = api.call(Method::DELETE, L_ID, Some(&id), "", None).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    for (method, template) in [
        (Method::GET, L_ID),
        (Method::DELETE, L_ID),
        (Method::GET, L_EVENTS),
        (Method::POST, L_CHECK),
    ] {
        for missing in [id.as_str(), "nope"] {
            let r = api
                .call(method.clone(), template, Some(missing), "", None)
                .await;
            assert_eq!(
                (r.status, code(&r).as_str()),
                (StatusCode::NOT_FOUND, "listener_not_found"),
                "{method} {template}"
            );
            assert!(!r.text.contains("nope"));
        }
    }
    let r = api.call(Method::GET, L, None, "", None).await;
    assert_eq!(r.json(), json!([]));
    let r = api
        .call(
            Method::DELETE,
            "/v1/flows/{id}",
            Some("demo-to-acme"),
            "",
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);

    let seen = api.seen.lock().unwrap().clone();
    let missing: Vec<_> = api
        .operations()
        .into_iter()
        .filter(|(_, t)| t.starts_with(L))
        .filter(|op| !seen.contains(op))
        .collect();
    assert!(missing.is_empty(), "not exercised: {missing:?}");
}

/// A listener whose JQL would leave its parentheses (saved before that was checked) still
/// shows, says why it does nothing, and can be deleted; its events wait, and no flow run is
/// started for them.
#[tokio::test]
async fn a_listener_saved_with_a_jql_that_would_escape_shows_why_and_runs_nothing() {
    let clock = export_clock();
    let api = Api::with(export_fixture_on(&clock).await).await;
    flow(&api).await;
    let r = api
        .call(
            Method::POST,
            L,
            None,
            "",
            Some(json!({"name": "old-one", "flow": "demo-to-acme", "jql": "type = Task"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let created = r.json();
    let id = created["id"].as_str().unwrap().to_owned();
    let token = created["url"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned();
    let secret = created["secret"].as_str().unwrap().to_owned();
    // As a listener saved before its JQL was checked.
    let store = api.f.app.store();
    let mut record = store
        .find_listener_by_name("old-one")
        .await
        .unwrap()
        .unwrap();
    record.jql = Some("type = Task) OR (project = SECRET".to_owned());
    store.update_listener(&record).await.unwrap();

    let r = api.call(Method::GET, L, None, "", None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = api.call(Method::GET, L_ID, Some(&id), "", None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let reason = r.json()["stateReason"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        reason.contains("listener \"old-one\": the listener's JQL has a closing parenthesis"),
        "{}",
        r.text
    );

    let issue = issue_id(&api.f.app, &api.f.sim, "MKT-1").await;
    let now_ms = i64::try_from(api.f.app.now().unix_timestamp_nanos() / 1_000_000).unwrap();
    let body = json!({"timestamp": now_ms, "webhookEvent": "jira:issue_updated",
                      "issue": {"id": issue, "key": "MKT-1"}})
    .to_string();
    let req = Request::builder()
        .method(Method::POST)
        .uri(format!("/hooks/jira/{token}"))
        .header("content-type", "application/json")
        .header("x-atlassian-webhook-identifier", "delivery-old-one")
        .header("x-hub-signature", signed(&body, &secret))
        .body(Body::from(body))
        .unwrap();
    let r = crate::reply(&api.f.router, req).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text);
    run_due_jobs(&api.f.app).await;
    let r = api.call(Method::GET, L_ID, Some(&id), "", None).await;
    assert_eq!(r.json()["pending"], 1, "the event waits: {}", r.text);
    let runs = api.f.app.list_flow_runs(None, Some(10)).await.unwrap();
    assert!(runs.is_empty(), "no flow run: {runs:?}");

    let r = api.call(Method::DELETE, L_ID, Some(&id), "", None).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
}
