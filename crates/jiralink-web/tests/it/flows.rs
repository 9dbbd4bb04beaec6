//! `/v1/flows` and `/v1/flow-runs` against the simulator's two sites: every route answers as
//! the OpenAPI document says (through [`Api::call`], which holds each body to its schema), with
//! the stable error codes. A flow is saved with a schedule, an export and an import that cannot
//! make a flow are refused with every reason, a stale version changes nothing; "Run now" makes
//! the flow's `flows.run` job due and a worker run (driven here one job at a time, on the
//! manual clock) records a run with its export run and import run.

use axum::http::{Method, StatusCode};
use pretty_assertions::assert_eq;
use serde_json::{Value, json};

use crate::api::{Api, code};
use crate::exports::{connection, export_clock, export_fixture_on, run_due_jobs};

pub(crate) const F: &str = "/v1/flows";
pub(crate) const F_ID: &str = "/v1/flows/{id}";
pub(crate) const F_RUN: &str = "/v1/flows/{id}/run";
pub(crate) const RUNS: &str = "/v1/flow-runs";
pub(crate) const RUN_ID: &str = "/v1/flow-runs/{id}";

/// How a flow writes the issues of `MKT` on the other site: an upsert with an external id.
pub(crate) const MAPPING: &str = r#"
operation = "upsert"
project = "MKT"
issue_type = "Task"
[external_id]
source = "key"
label_prefix = "from-demo-"
[fields]
summary = "fields.summary"
"#;

/// A create-only import without an external id: two reasons it cannot be a flow's.
pub(crate) const CREATE_ONLY: &str = r#"
operation = "create"
project = "MKT"
issue_type = "Task"
[fields]
summary = "fields.summary"
"#;

/// A Basic connection to the simulator's second site (`acme`), through `/v1`.
pub(crate) async fn acme_connection(api: &Api, name: &str) -> String {
    let samples = api.f.sim.samples().clone();
    let mut body = crate::api::basic(name, &samples.email, Some(&samples.api_token));
    body["subdomain"] = json!("acme");
    let r = api
        .call(Method::POST, "/v1/connections", None, "", Some(body))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    r.json()["id"].as_str().unwrap().to_owned()
}

/// Saves what flows are made of, through `/v1`: the connections "Sim demo" and "Sim acme";
/// the exports `demo-mkt` (a delta export of `MKT` with comments) and `demo-csv` (CSV); the
/// imports `acme-mkt` (an upsert with an external id) and `acme-create` (create only).
pub(crate) async fn flow_parts(api: &Api) {
    connection(api, "Sim demo").await;
    acme_connection(api, "Sim acme").await;
    for (name, spec) in [
        (
            "demo-mkt",
            json!({"resource": "issues", "jql": "project = MKT", "kind": {"type": "delta"},
                   "comments": true}),
        ),
        (
            "demo-csv",
            json!({"resource": "issues", "jql": "project = MKT", "format": "csv"}),
        ),
    ] {
        let r = api
            .call(
                Method::POST,
                "/v1/exports",
                None,
                "",
                Some(json!({"name": name, "connection": "Sim demo", "spec": spec})),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    }
    for (name, mapping) in [("acme-mkt", MAPPING), ("acme-create", CREATE_ONLY)] {
        let r = api
            .call(
                Method::POST,
                "/v1/imports",
                None,
                "",
                Some(json!({"name": name, "connection": "Sim acme",
                            "spec": {"mapping": mapping, "searchLagSecs": 0}})),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    }
}

fn flow_body(name: &str, export: &str, import: &str) -> Value {
    json!({"name": name, "export": export, "import": import})
}

/// The worker's job of a flow, as `(kind, due)`.
async fn job_of(api: &Api, id: &str) -> Option<(String, String)> {
    api.f
        .app
        .list_jobs()
        .await
        .unwrap()
        .into_iter()
        .find(|j| j.key == format!("flow:{id}"))
        .map(|j| {
            (
                j.kind,
                j.next_run_at
                    .format(&time::format_description::well_known::Rfc3339)
                    .unwrap(),
            )
        })
}

#[tokio::test]
async fn flows_answer_as_the_document_says() {
    let clock = export_clock();
    let api = Api::with(export_fixture_on(&clock).await).await;
    flow_parts(&api).await;

    // Create, with a schedule: its job is planned at the schedule's next time.
    let mut body = flow_body("demo-to-acme", "demo-mkt", "ACME-MKT");
    body["schedule"] = json!({"everyMinutes": 15, "timeZone": "UTC"});
    let r = api
        .call(Method::POST, F, None, "", Some(body.clone()))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let created = r.json();
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(created["exportName"], "demo-mkt");
    assert_eq!(created["importName"], "acme-mkt");
    assert_eq!(created["version"], 1);
    assert_eq!(created["enabled"], true);
    assert_eq!(created["lastRun"], Value::Null);
    assert_eq!(
        created["schedule"],
        json!({"everyMinutes": 15, "timeZone": "UTC"})
    );
    assert_eq!(created["nextRunAt"], "2026-01-06T12:15:00Z", "{}", r.text);
    assert_ne!(created["sourceConnectionId"], created["targetConnectionId"]);
    assert_eq!(
        job_of(&api, &id).await,
        Some(("flows.run".to_owned(), "2026-01-06T12:15:00Z".to_owned()))
    );

    // Refusals: a taken name, unknown parts, parts that cannot make a flow (every reason at
    // once), a bad schedule, unknown fields.
    let r = api
        .call(
            Method::POST,
            F,
            None,
            "",
            Some(flow_body("DEMO-TO-ACME", "demo-mkt", "acme-mkt")),
        )
        .await;
    assert_eq!(
        (r.status, code(&r).as_str()),
        (StatusCode::CONFLICT, "flow_name_taken")
    );
    for (body, status, want) in [
        (
            flow_body("Other", "nope", "acme-mkt"),
            StatusCode::NOT_FOUND,
            "export_not_found",
        ),
        (
            flow_body("Other", "demo-mkt", "nope"),
            StatusCode::NOT_FOUND,
            "import_not_found",
        ),
        (
            json!({"name": "Other", "export": "demo-mkt", "import": "acme-mkt", "jql": "x"}),
            StatusCode::BAD_REQUEST,
            "unknown_field",
        ),
        (
            json!({"name": "Other", "export": "demo-mkt", "import": "acme-mkt",
                   "schedule": {"everyMinutes": "often", "timeZone": "UTC"}}),
            StatusCode::BAD_REQUEST,
            "invalid_json",
        ),
    ] {
        let r = api
            .call(Method::POST, F, None, "", Some(body.clone()))
            .await;
        assert_eq!(
            (r.status, code(&r).as_str()),
            (status, want),
            "{body}: {}",
            r.text
        );
        assert!(
            !r.text.contains("often") && !r.text.contains("jql"),
            "{}",
            r.text
        );
    }
    let r = api
        .call(
            Method::POST,
            F,
            None,
            "",
            Some(flow_body("Other", "demo-csv", "acme-create")),
        )
        .await;
    assert_eq!(
        (r.status, code(&r).as_str()),
        (StatusCode::BAD_REQUEST, "validation_failed"),
        "{}",
        r.text
    );
    let message = r.json()["error"]["message"].as_str().unwrap().to_owned();
    for reason in [
        "the export \"demo-csv\" writes CSV",
        "the import \"acme-create\" is not an upsert",
        "the import \"acme-create\" has no [external_id]",
    ] {
        assert!(message.contains(reason), "{reason}: {message}");
    }
    let mut bad = flow_body("Other", "demo-mkt", "acme-mkt");
    bad["schedule"] = json!({"cron": "61 * * * *", "timeZone": "UTC"});
    let r = api.call(Method::POST, F, None, "", Some(bad)).await;
    assert_eq!(code(&r), "validation_failed", "{}", r.text);
    let list = api.call(Method::GET, F, None, "", None).await;
    assert_eq!(list.json().as_array().unwrap().len(), 1, "{}", list.text);
    let r = api
        .call(Method::GET, F_ID, Some("Demo-To-Acme"), "", None)
        .await;
    assert_eq!(r.json()["id"], json!(id));

    // Replace: the version read is required, a stale one changes nothing.
    let mut edit = flow_body("demo-to-acme", "demo-mkt", "acme-mkt");
    edit["schedule"] = json!({"cron": "0 6 * * *", "timeZone": "Europe/Berlin"});
    let r = api
        .call_as_sent(Method::PUT, F_ID, Some(&id), Some(edit.clone()))
        .await;
    assert_eq!(code(&r), "validation_failed", "{}", r.text);
    assert!(r.text.contains("version is required"), "{}", r.text);
    edit["version"] = json!(1);
    let r = api
        .call_as_sent(Method::PUT, F_ID, Some(&id), Some(edit.clone()))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json()["version"], 2);
    assert_eq!(r.json()["nextRunAt"], "2026-01-07T05:00:00Z", "{}", r.text);
    edit["name"] = json!("stale");
    let r = api
        .call_as_sent(Method::PUT, F_ID, Some(&id), Some(edit))
        .await;
    assert_eq!(
        (r.status, code(&r).as_str()),
        (StatusCode::CONFLICT, "conflict")
    );
    let r = api.call(Method::GET, F_ID, Some(&id), "", None).await;
    assert_eq!(r.json()["name"], "demo-to-acme");
    assert_eq!(r.json()["version"], 2);

    // The flow's export cannot be deleted while the flow uses it.
    let r = api
        .call(
            Method::DELETE,
            "/v1/exports/{id}",
            Some("demo-mkt"),
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
    assert!(r.text.contains("flow \\\"demo-to-acme\\\""), "{}", r.text);

    // Run now: the flow's job is due at once; a worker runs it.
    let r = api.call(Method::POST, F_RUN, Some(&id), "", None).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text);
    assert_eq!(r.json()["id"], json!(id));
    assert_eq!(
        job_of(&api, &id).await,
        Some(("flows.run".to_owned(), "2026-01-06T12:00:00Z".to_owned()))
    );
    run_due_jobs(&api.f.app).await;

    let r = api.call(Method::GET, F_ID, Some(&id), "", None).await;
    let last = r.json()["lastRun"].clone();
    assert_eq!(last["state"], "succeeded", "{}", r.text);
    assert_eq!(last["trigger"], "manual");
    assert_eq!(last["phase"], "done");
    assert_eq!(last["flowName"], "demo-to-acme");
    let stats = &last["stats"];
    assert!(stats["exported"].as_u64().unwrap() > 0, "{}", r.text);
    assert_eq!(stats["created"], stats["exported"], "{}", r.text);
    assert_eq!(stats["failed"], 0, "{}", r.text);
    let run = last["id"].as_str().unwrap().to_owned();
    // Its export run and import run are runs of their own.
    let export_run = last["exportRunId"].as_str().unwrap();
    let r = api
        .call(Method::GET, "/v1/runs/{id}", Some(export_run), "", None)
        .await;
    assert_eq!(r.json()["exportName"], "demo-mkt", "{}", r.text);
    let import_run = last["importRunId"].as_str().unwrap();
    let r = api
        .call(
            Method::GET,
            "/v1/import-runs/{id}",
            Some(import_run),
            "",
            None,
        )
        .await;
    assert_eq!(r.json()["stats"]["created"], stats["created"], "{}", r.text);
    // The job waits for the schedule's next time again.
    assert_eq!(
        job_of(&api, &id).await,
        Some(("flows.run".to_owned(), "2026-01-07T05:00:00Z".to_owned()))
    );

    for query in [
        "",
        "?flow=DEMO-TO-ACME",
        "?flow=demo-to-acme&limit=1",
        "?limit=1000",
    ] {
        let r = api.call(Method::GET, RUNS, None, query, None).await;
        let runs = r.json();
        assert_eq!(runs.as_array().unwrap().len(), 1, "{query}: {}", r.text);
        assert_eq!(runs[0]["id"], json!(run), "{query}: {}", r.text);
    }
    for (query, want) in [
        ("?limit=0", "invalid_query"),
        ("?limit=1001", "invalid_query"),
        ("?limit=many", "invalid_query"),
        ("?bogus=1", "invalid_query"),
        ("?flow=nope", "flow_not_found"),
    ] {
        let r = api.call(Method::GET, RUNS, None, query, None).await;
        assert_eq!(code(&r), want, "{query}: {}", r.text);
        assert!(!r.text.contains("nope") && !r.text.contains("bogus"));
    }
    let r = api.call(Method::GET, RUN_ID, Some(&run), "", None).await;
    assert_eq!(r.json(), last);

    // Delete: the flow and its runs go; its export, import and their runs stay.
    let r = api.call(Method::DELETE, F_ID, Some(&id), "", None).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    for (method, template) in [
        (Method::GET, F_ID),
        (Method::PUT, F_ID),
        (Method::DELETE, F_ID),
        (Method::POST, F_RUN),
    ] {
        let body =
            (method == Method::PUT).then(|| flow_body("demo-to-acme", "demo-mkt", "acme-mkt"));
        let r = api
            .call(method.clone(), template, Some(&id), "", body)
            .await;
        assert_eq!(
            (r.status, code(&r).as_str()),
            (StatusCode::NOT_FOUND, "flow_not_found"),
            "{method} {template}"
        );
    }
    for missing in [run.as_str(), "nope"] {
        let r = api.call(Method::GET, RUN_ID, Some(missing), "", None).await;
        assert_eq!(
            (r.status, code(&r).as_str()),
            (StatusCode::NOT_FOUND, "flow_run_not_found")
        );
    }
    let r = api.call(Method::GET, RUNS, None, "", None).await;
    assert_eq!(r.json(), json!([]));
    let r = api
        .call(Method::GET, "/v1/runs/{id}", Some(export_run), "", None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = api
        .call(
            Method::DELETE,
            "/v1/exports/{id}",
            Some("demo-mkt"),
            "",
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);

    let seen = api.seen.lock().unwrap().clone();
    let missing: Vec<_> = api
        .operations()
        .into_iter()
        .filter(|(_, t)| t.starts_with(F) || t.starts_with(RUNS))
        .filter(|op| !seen.contains(op))
        .collect();
    assert!(missing.is_empty(), "not exercised: {missing:?}");
}
