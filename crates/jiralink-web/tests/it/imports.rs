//! `/v1/imports` and `/v1/import-runs` against the simulator: every route answers as the
//! OpenAPI document says (through [`Api::call`] and [`Api::check`], which hold each body to its
//! schema), with the stable error codes. A run reads the records of the request body (CSV,
//! NDJSON, a JSON array) or the import's own file, inside the request, creates the issues in
//! the simulator and answers the counts; running the same records again creates nothing twice;
//! a dry run answers each record's request and writes nothing.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use pretty_assertions::assert_eq;
use serde_json::{Value, json};

use crate::api::{Api, code};
use crate::exports::{connection, export_clock, export_fixture, export_fixture_on};
use crate::{KEY, Reply, call, reply};

pub(crate) const I: &str = "/v1/imports";
pub(crate) const I_ID: &str = "/v1/imports/{id}";
pub(crate) const I_RUN: &str = "/v1/imports/{id}/run";
pub(crate) const RUNS: &str = "/v1/import-runs";
pub(crate) const RUN_ID: &str = "/v1/import-runs/{id}";
const RUN_CANCEL: &str = "/v1/import-runs/{id}/cancel";
const RUN_OUTPUT: &str = "/v1/import-runs/{id}/output";

const MAPPING: &str = r#"
operation = "upsert"
project = "DEMO"
issue_type = "Story"

[external_id]
source = "id"
label_prefix = "ext-"

[fields]
summary = "title"
"Story Points" = "points"
labels = { source = "tags", split = ";" }
"#;

/// Three tickets, the last with points Jira cannot take.
const CSV: &str = "id,title,points,tags\n\
                   T-1,Checkout fails on Safari,3,web;api-import\n\
                   T-2,Export times out,5,api-import\n\
                   T-3,Bad points,many,api-import\n";

fn import_body(name: &str, connection: &str, spec: Value) -> Value {
    let mut body = json!({"name": name, "connection": connection});
    body["spec"] = spec;
    body
}

fn lines(text: &str) -> Vec<Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

/// `POST /v1/imports/{id}/run` with `body` sent as `content_type` (none: no header), checked
/// against the document.
async fn run(
    api: &Api,
    id: &str,
    query: &str,
    content_type: Option<&str>,
    body: impl Into<Body>,
) -> Reply {
    let path = format!("{}{query}", I_RUN.replace("{id}", &id.replace(' ', "%20")));
    let mut req = Request::post(path).header(header::AUTHORIZATION, format!("Bearer {KEY}"));
    if let Some(ct) = content_type {
        req = req.header(header::CONTENT_TYPE, ct);
    }
    let r = reply(&api.f.router, req.body(body.into()).unwrap()).await;
    api.check(&Method::POST, I_RUN, &r);
    r
}

/// The files left in the uploads directory of the data directory.
fn uploads(api: &Api) -> Vec<String> {
    let dir = api.f.app.data_dir().join("imports/uploads");
    match std::fs::read_dir(dir) {
        Ok(entries) => entries
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect(),
        Err(_) => Vec::new(),
    }
}

/// An issue as the simulator has it (a direct read, which search's index lag does not delay).
async fn issue(api: &Api, key: &str) -> Value {
    let samples = api.f.sim.samples().clone();
    let client =
        jiralink_atlassian::build_client(&jiralink_atlassian::HttpConfig::default()).unwrap();
    let res = client
        .get(format!(
            "{}/rest/api/3/issue/{key}?fields=summary,labels",
            api.f.sim.site_url("demo")
        ))
        .basic_auth(&samples.email, Some(&samples.api_token))
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success(), "{key}: {}", res.status());
    res.json().await.unwrap()
}

/// Requests that would write to Jira (creates, updates, properties) since the log was cleared.
fn writes(api: &Api) -> Vec<String> {
    api.f
        .sim
        .control()
        .requests()
        .into_iter()
        .filter(|r| matches!(r.method.as_str(), "POST" | "PUT" | "DELETE"))
        .filter(|r| r.path.contains("/issue"))
        .map(|r| format!("{} {}", r.method, r.path))
        .collect()
}

#[tokio::test]
async fn imports_answer_as_the_document_says() {
    let clock = export_clock();
    let api = Api::with(export_fixture_on(&clock).await).await;
    let connection_id = connection(&api, "Jira demo").await;

    // Create: a taken name, an unknown connection, problems of the mapping, unknown fields.
    let spec = json!({"mapping": MAPPING});
    let r = api
        .call(
            Method::POST,
            I,
            None,
            "",
            Some(import_body("Tickets", "jira DEMO", spec.clone())),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let created = r.json();
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(created["connectionId"], json!(connection_id));
    assert_eq!(created["connectionName"], "Jira demo");
    assert_eq!(created["version"], 1);
    assert_eq!(created["lastRun"], Value::Null);
    assert_eq!(created["ledger"], format!("import:{id}"));
    assert_eq!(created["spec"]["resultsFormat"], "ndjson");
    assert_eq!(created["spec"]["format"], Value::Null);
    assert_eq!(created["spec"]["mapping"], MAPPING);

    let r = api
        .call(
            Method::POST,
            I,
            None,
            "",
            Some(import_body("TICKETS", "Jira demo", spec.clone())),
        )
        .await;
    assert_eq!(
        (r.status, code(&r).as_str()),
        (StatusCode::CONFLICT, "import_name_taken")
    );
    let r = api
        .call(
            Method::POST,
            I,
            None,
            "",
            Some(import_body("Other", "nope", spec.clone())),
        )
        .await;
    assert_eq!(
        (r.status, code(&r).as_str()),
        (StatusCode::NOT_FOUND, "connection_not_found"),
        "{}",
        r.text
    );
    // Every problem of the mapping at once.
    let bad = "operation = \"create\"\n[fields]\nsummary = { source = \"a\", const = \"b\" }\n\
               labels = { source = \"t\", split = \"\" }\n";
    let r = api
        .call(
            Method::POST,
            I,
            None,
            "",
            Some(import_body("Other", "Jira demo", json!({"mapping": bad}))),
        )
        .await;
    assert_eq!(
        (r.status, code(&r).as_str()),
        (StatusCode::BAD_REQUEST, "validation_failed"),
        "{}",
        r.text
    );
    let message = r.json()["error"]["message"].as_str().unwrap().to_owned();
    for problem in [
        "the mapping is not valid",
        "needs project",
        "needs issue_type",
        "fields.summary: give exactly one of source, const or template",
        "fields.labels: split needs a separator",
    ] {
        assert!(message.contains(problem), "{problem}: {message}");
    }
    let r = api
        .call(
            Method::POST,
            I,
            None,
            "",
            Some(import_body(
                "Other",
                "Jira demo",
                json!({"mapping": "operation = "}),
            )),
        )
        .await;
    assert_eq!(code(&r), "validation_failed", "{}", r.text);
    assert!(r.text.contains("mapping file, at byte"), "{}", r.text);
    for (body, want, says) in [
        (
            json!({"name": "Other", "connection": "Jira demo", "spec": spec, "every": 5}),
            "unknown_field",
            "spec",
        ),
        (
            import_body("Other", "Jira demo", json!({"mappings": MAPPING})),
            "unknown_field",
            "spec.mapping",
        ),
        (
            import_body(
                "Other",
                "Jira demo",
                json!({"mapping": MAPPING, "format": "xml"}),
            ),
            "invalid_json",
            "spec.format",
        ),
        (
            import_body("Other", "Jira demo", json!({})),
            "invalid_json",
            "spec.mapping",
        ),
        (
            import_body(
                "Other",
                "Jira demo",
                json!({"mapping": MAPPING, "input": "../jiralink.toml"}),
            ),
            "validation_failed",
            "import files directory",
        ),
        (
            import_body(
                "Other",
                "Jira demo",
                json!({"mapping": MAPPING, "input": "/etc/passwd"}),
            ),
            "validation_failed",
            "import files directory",
        ),
    ] {
        let r = api
            .call(Method::POST, I, None, "", Some(body.clone()))
            .await;
        assert_eq!(code(&r), want, "{body}: {}", r.text);
        assert!(r.text.contains(says), "{body}: {}", r.text);
        assert!(!r.text.contains("xml") && !r.text.contains("passwd"));
    }

    let list = api.call(Method::GET, I, None, "", None).await;
    assert_eq!(list.json().as_array().unwrap().len(), 1, "{}", list.text);
    let r = api.call(Method::GET, I_ID, Some("tickets"), "", None).await;
    assert_eq!(r.json()["id"], json!(id));

    // Replace: the version read is required, a stale one changes nothing.
    let mut edit = import_body(
        "Tickets",
        "Jira demo",
        json!({"mapping": MAPPING, "searchLagSecs": 5, "input": "tickets.csv"}),
    );
    let r = api
        .call_as_sent(Method::PUT, I_ID, Some(&id), Some(edit.clone()))
        .await;
    assert_eq!(code(&r), "validation_failed", "{}", r.text);
    assert!(r.text.contains("version is required"), "{}", r.text);
    edit["version"] = json!(1);
    let r = api
        .call_as_sent(Method::PUT, I_ID, Some(&id), Some(edit.clone()))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json()["version"], 2);
    assert_eq!(r.json()["spec"]["searchLagSecs"], 5);
    let input = api.f.app.data_dir().join("imports/files/tickets.csv");
    assert_eq!(
        r.json()["spec"]["input"],
        json!(input.display().to_string())
    );
    let r = api
        .call_as_sent(Method::PUT, I_ID, Some(&id), Some(edit))
        .await;
    assert_eq!(
        (r.status, code(&r).as_str()),
        (StatusCode::CONFLICT, "conflict")
    );

    // The connection names its imports, and cannot be deleted while they use it.
    let usage = api
        .call(
            Method::GET,
            "/v1/connections/{id}/usage",
            Some(&connection_id),
            "",
            None,
        )
        .await;
    assert_eq!(
        usage.json()["imports"][0]["name"],
        "Tickets",
        "{}",
        usage.text
    );
    let r = api
        .call(
            Method::DELETE,
            "/v1/connections/{id}",
            Some(&connection_id),
            "",
            None,
        )
        .await;
    assert_eq!(code(&r), "connection_in_use", "{}", r.text);

    // A run with the records in the body: every record accounted for, the issues created.
    let r = run(&api, "Tickets", "", Some("text/csv"), CSV).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let first = r.json();
    assert_eq!(first["state"], "succeeded", "{}", r.text);
    assert_eq!(first["trigger"], "api");
    assert_eq!(first["importId"], json!(id));
    assert_eq!(first["dryRun"], false);
    let stats = &first["stats"];
    assert_eq!(
        (&stats["read"], &stats["created"], &stats["failed"]),
        (&json!(3), &json!(2), &json!(1)),
        "{}",
        r.text
    );
    let notices = first["notices"].as_array().unwrap();
    assert_eq!(notices.len(), 1, "{}", r.text);
    assert!(
        notices[0]
            .as_str()
            .unwrap()
            .starts_with("1 of 3 records failed"),
        "{}",
        r.text
    );
    assert!(
        first["inputFile"]
            .as_str()
            .unwrap()
            .contains("imports/uploads"),
        "{}",
        r.text
    );
    assert_eq!(uploads(&api), Vec::<String>::new(), "the upload is deleted");
    let run_id = first["id"].as_str().unwrap().to_owned();

    // Its results: one per record, downloadable with a file name.
    let r = api
        .call(Method::GET, RUN_OUTPUT, Some(&run_id), "", None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.headers[header::CONTENT_TYPE], "application/x-ndjson");
    assert_eq!(
        r.headers[header::CONTENT_DISPOSITION],
        "attachment; filename=\"tickets-results-20260106T120000Z.ndjson\""
    );
    assert_eq!(r.text.len() as u64, first["resultsBytes"].as_u64().unwrap());
    let results = lines(&r.text);
    let states: Vec<&str> = results
        .iter()
        .map(|l| l["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["created", "created", "failed"], "{}", r.text);
    assert_eq!(results[2]["line"], 4);
    assert!(
        results[2]["errors"]["Story Points"].is_string(),
        "{}",
        r.text
    );
    for (result, summary) in results
        .iter()
        .zip(["Checkout fails on Safari", "Export times out"])
    {
        let key = result["key"].as_str().unwrap();
        let found = issue(&api, key).await;
        assert_eq!(found["fields"]["summary"], summary, "{found}");
        let labels = found["fields"]["labels"].as_array().unwrap();
        assert!(labels.contains(&json!("api-import")), "{found}");
        assert!(
            labels.contains(&json!(format!(
                "ext-{}",
                result["externalId"].as_str().unwrap()
            ))),
            "{found}"
        );
    }

    // The same records again, a minute later: the ledger finds their issues, nothing is
    // created twice.
    clock.advance(std::time::Duration::from_secs(60));
    let r = run(&api, &id, "", Some("text/csv; charset=utf-8"), CSV).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let second = r.json();
    let stats = &second["stats"];
    assert_eq!(
        (&stats["created"], &stats["updated"], &stats["failed"]),
        (&json!(0), &json!(2), &json!(1)),
        "{}",
        r.text
    );
    let second_id = second["id"].as_str().unwrap().to_owned();

    // The runs, newest first, filtered by import; the import's last run.
    let r = api.call(Method::GET, RUNS, None, "", None).await;
    let ids: Vec<Value> = r
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].clone())
        .collect();
    assert_eq!(ids, [json!(second_id), json!(run_id)], "{}", r.text);
    let r = api
        .call(Method::GET, RUNS, None, "?import=TICKETS&limit=1", None)
        .await;
    assert_eq!(r.json().as_array().unwrap().len(), 1);
    assert_eq!(r.json()[0]["id"], json!(second_id));
    for (query, want) in [
        ("?limit=0", "invalid_query"),
        ("?limit=1001", "invalid_query"),
        ("?bogus=1", "invalid_query"),
        ("?import=nope", "import_not_found"),
    ] {
        let r = api.call(Method::GET, RUNS, None, query, None).await;
        assert_eq!(code(&r), want, "{query}: {}", r.text);
    }
    let r = api.call(Method::GET, I_ID, Some(&id), "", None).await;
    assert_eq!(r.json()["lastRun"]["id"], json!(second_id), "{}", r.text);
    let r = api.call(Method::GET, RUN_ID, Some(&run_id), "", None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json()["stats"]["created"], 2);
    assert_eq!(r.json()["resultsFormat"], "ndjson");
    // Cancelling a run that ended changes nothing.
    let r = api
        .call(Method::POST, RUN_CANCEL, Some(&run_id), "", None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json()["state"], "succeeded");

    // Import runs are not export runs: `/v1/runs` neither lists nor answers them.
    let r = api
        .call(Method::GET, crate::exports::RUNS, None, "", None)
        .await;
    assert_eq!(r.json(), json!([]), "{}", r.text);
    for (method, template) in [
        (Method::GET, crate::exports::RUN_ID),
        (Method::POST, "/v1/runs/{id}/cancel"),
        (Method::GET, "/v1/runs/{id}/output"),
    ] {
        let r = api
            .call(method.clone(), template, Some(&run_id), "", None)
            .await;
        assert_eq!(
            (r.status, code(&r).as_str()),
            (StatusCode::NOT_FOUND, "run_not_found"),
            "{method} {template}"
        );
    }

    // Deleting the import deletes its runs.
    let r = api.call(Method::DELETE, I_ID, Some(&id), "", None).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    for (method, template) in [
        (Method::GET, I_ID),
        (Method::PUT, I_ID),
        (Method::DELETE, I_ID),
        (Method::POST, I_RUN),
    ] {
        let body =
            (method == Method::PUT).then(|| import_body("Tickets", "Jira demo", spec.clone()));
        let r = api
            .call(method.clone(), template, Some(&id), "", body)
            .await;
        assert_eq!(
            (r.status, code(&r).as_str()),
            (StatusCode::NOT_FOUND, "import_not_found"),
            "{method} {template}"
        );
    }
    for (method, template) in [
        (Method::GET, RUN_ID),
        (Method::POST, RUN_CANCEL),
        (Method::GET, RUN_OUTPUT),
    ] {
        for missing in [run_id.as_str(), "nope"] {
            let r = api
                .call(method.clone(), template, Some(missing), "", None)
                .await;
            assert_eq!(
                (r.status, code(&r).as_str()),
                (StatusCode::NOT_FOUND, "run_not_found"),
                "{method} {template}"
            );
        }
    }
    let r = api.call(Method::GET, RUNS, None, "", None).await;
    assert_eq!(r.json(), json!([]), "{}", r.text);

    let seen = api.seen.lock().unwrap().clone();
    let missing: Vec<_> = api
        .operations()
        .into_iter()
        .filter(|(_, t)| t.starts_with(I) || t.starts_with(RUNS))
        .filter(|op| !seen.contains(op))
        .collect();
    assert!(missing.is_empty(), "not exercised: {missing:?}");
}

/// `?dryRun=true` reads, maps and converts the records and answers each one's would-be
/// request as NDJSON: no write reaches Jira, no run is recorded, no upload is left.
#[tokio::test]
async fn imports_take_a_schedule_as_exports_do() {
    let clock = export_clock();
    let api = Api::with(export_fixture_on(&clock).await).await;
    connection(&api, "Jira demo").await;
    let mut body = import_body("Nightly", "Jira demo", json!({"mapping": MAPPING}));
    body["schedule"] = json!({"everyMinutes": 30, "timeZone": "Europe/Berlin"});
    // Without an input file of its own, an import cannot run by itself.
    let r = api
        .call(Method::POST, I, None, "", Some(body.clone()))
        .await;
    assert_eq!(
        (r.status, code(&r).as_str()),
        (StatusCode::BAD_REQUEST, "validation_failed"),
        "{}",
        r.text
    );
    assert!(r.text.contains("needs an input file"), "{}", r.text);
    body["spec"]["input"] = json!("tickets.csv");
    body["schedule"] = json!({"cron": "not cron", "timeZone": "UTC"});
    let r = api
        .call(Method::POST, I, None, "", Some(body.clone()))
        .await;
    assert_eq!(code(&r), "validation_failed", "{}", r.text);
    assert!(r.text.contains("cron expression"), "{}", r.text);
    body["schedule"] = json!({"cron": "0 9 * * *"});
    let r = api
        .call(Method::POST, I, None, "", Some(body.clone()))
        .await;
    assert_eq!(code(&r), "invalid_json", "{}", r.text);

    body["schedule"] = json!({"everyMinutes": 30, "timeZone": "Europe/Berlin"});
    let r = api
        .call(Method::POST, I, None, "", Some(body.clone()))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let created = r.json();
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(created["schedule"], body["schedule"]);
    assert_eq!(created["enabled"], true);
    assert_eq!(created["connectionOffline"], false);
    assert!(created["nextRunAt"].is_string(), "{}", r.text);
    let r = api.call(Method::GET, I_ID, Some("nightly"), "", None).await;
    assert_eq!(r.json()["schedule"], body["schedule"]);
    let list = api.call(Method::GET, I, None, "", None).await;
    assert_eq!(
        list.json()[0]["schedule"],
        body["schedule"],
        "{}",
        list.text
    );

    // Disabled: the schedule stays, with no next run; then removed; then a cron rule.
    body["enabled"] = json!(false);
    let r = api
        .call(Method::PUT, I_ID, Some(&id), "", Some(body.clone()))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json()["enabled"], false);
    assert_eq!(r.json()["schedule"], body["schedule"]);
    assert_eq!(r.json()["nextRunAt"], Value::Null);
    body["enabled"] = json!(true);
    body["schedule"] = Value::Null;
    let r = api
        .call(Method::PUT, I_ID, Some(&id), "", Some(body.clone()))
        .await;
    assert_eq!(r.json()["schedule"], Value::Null, "{}", r.text);
    assert_eq!(r.json()["nextRunAt"], Value::Null);
    body["schedule"] = json!({"cron": "0 9 * * *", "timeZone": "UTC"});
    let r = api
        .call(Method::PUT, I_ID, Some(&id), "", Some(body.clone()))
        .await;
    assert_eq!(r.json()["schedule"], body["schedule"], "{}", r.text);
    assert!(r.json()["nextRunAt"].is_string(), "{}", r.text);
}

#[tokio::test]
async fn a_dry_run_answers_each_request_and_writes_nothing() {
    let api = Api::with(export_fixture().await).await;
    connection(&api, "Jira demo").await;
    let r = api
        .call(
            Method::POST,
            I,
            None,
            "",
            Some(import_body(
                "Tickets",
                "Jira demo",
                json!({"mapping": MAPPING, "resultsFormat": "csv"}),
            )),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    api.f.sim.control().clear_requests();

    let ndjson = "{\"id\":\"D-1\",\"title\":\"Dry one\",\"points\":2,\"tags\":\"x\"}\n\
                  {\"id\":\"D-2\",\"title\":\"Dry two\",\"points\":\"many\"}\n";
    let r = run(
        &api,
        "Tickets",
        "?dryRun=true",
        Some("application/x-ndjson"),
        ndjson,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.headers[header::CONTENT_TYPE], "application/x-ndjson");
    let results = lines(&r.text);
    assert_eq!(results.len(), 2, "{}", r.text);
    assert_eq!(results[0]["state"], "would-create", "{}", r.text);
    assert_eq!(results[0]["externalId"], "D-1");
    assert_eq!(results[0]["request"]["fields"]["summary"], "Dry one");
    assert_eq!(results[0]["request"]["fields"]["project"]["key"], "DEMO");
    assert_eq!(results[1]["state"], "failed", "{}", r.text);

    assert_eq!(
        writes(&api),
        Vec::<String>::new(),
        "a dry run writes nothing"
    );
    let r = api.call(Method::GET, RUNS, None, "", None).await;
    assert_eq!(r.json(), json!([]), "no run is recorded");
    let r = api.call(Method::GET, I_ID, Some("Tickets"), "", None).await;
    assert_eq!(r.json()["lastRun"], Value::Null);
    assert_eq!(uploads(&api), Vec::<String>::new());

    // A mapping that does not fit Jira is refused before anything is read or sent.
    let unfit = "operation = \"create\"\nproject = \"DEMO\"\nissue_type = \"Story\"\n\
                 [fields]\nsummary = \"title\"\n\"No such field\" = \"x\"\n";
    let r = api
        .call(
            Method::POST,
            I,
            None,
            "",
            Some(import_body("Unfit", "Jira demo", json!({"mapping": unfit}))),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    for query in ["?dryRun=true", ""] {
        let r = run(&api, "Unfit", query, Some("text/csv"), "title,x\nA,b\n").await;
        assert_eq!(
            (r.status, code(&r).as_str()),
            (StatusCode::BAD_REQUEST, "validation_failed"),
            "{query}: {}",
            r.text
        );
        assert!(r.text.contains("does not fit Jira"), "{}", r.text);
    }
    assert_eq!(writes(&api), Vec::<String>::new());
    assert_eq!(uploads(&api), Vec::<String>::new());
}

/// Records come as CSV, NDJSON or a JSON array, or from the import's own file in the data
/// directory; what cannot be read is refused with its code.
#[tokio::test]
async fn runs_read_every_format_and_refuse_what_they_cannot_read() {
    let api = Api::with(export_fixture().await).await;
    connection(&api, "Jira demo").await;
    let r = api
        .call(
            Method::POST,
            I,
            None,
            "",
            Some(import_body(
                "Own file",
                "Jira demo",
                json!({"mapping": MAPPING, "input": "own.ndjson"}),
            )),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let r = api
        .call(
            Method::POST,
            I,
            None,
            "",
            Some(import_body(
                "Body only",
                "Jira demo",
                json!({"mapping": MAPPING, "resultsFormat": "csv"}),
            )),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);

    // Its own file, once it is there; without a body.
    let r = run(&api, "Own file", "", None, Body::empty()).await;
    assert_eq!(code(&r), "validation_failed", "{}", r.text);
    let dir = api.f.app.data_dir().join("imports/files");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("own.ndjson"),
        "{\"id\":\"O-1\",\"title\":\"From the file\",\"points\":1}\n\
         {\"id\":\"O-2\",\"title\":\"From the file too\",\"points\":2}\n",
    )
    .unwrap();
    let r = run(&api, "Own file", "", None, Body::empty()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json()["stats"]["created"], 2, "{}", r.text);
    assert_eq!(r.json()["notices"], json!([]));
    assert_eq!(
        r.json()["inputFile"],
        json!(dir.join("own.ndjson").display().to_string())
    );
    assert!(dir.join("own.ndjson").exists(), "its own file is kept");

    // A JSON array; results in CSV.
    let array = json!([{"id": "J-1", "title": "From an array", "points": 8}]).to_string();
    let r = run(&api, "Body only", "", Some("application/json"), array).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json()["stats"]["created"], 1, "{}", r.text);
    assert_eq!(r.json()["resultsFormat"], "csv");
    let run_id = r.json()["id"].as_str().unwrap().to_owned();
    let r = api
        .call(Method::GET, RUN_OUTPUT, Some(&run_id), "", None)
        .await;
    assert_eq!(r.headers[header::CONTENT_TYPE], "text/csv; charset=utf-8");
    assert!(
        r.text
            .starts_with("line,record,state,key,id,externalId,message,errors,actions\n"),
        "{}",
        r.text
    );
    assert!(r.text.contains(",created,DEMO-"), "{}", r.text);

    // What cannot be read.
    let r = run(&api, "Body only", "", None, Body::empty()).await;
    assert_eq!(code(&r), "validation_failed", "{}", r.text);
    assert!(r.text.contains("request body"), "{}", r.text);
    for (content_type, body) in [(Some("text/plain"), "a,b\n"), (None, "id,title\n")] {
        let r = run(&api, "Body only", "", content_type, body).await;
        assert_eq!(
            (r.status, code(&r).as_str()),
            (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type"),
            "{content_type:?}: {}",
            r.text
        );
        assert!(r.text.contains("text/csv"), "{}", r.text);
    }
    for query in ["?dryRun=maybe", "?bogus=1"] {
        let r = run(&api, "Body only", query, Some("text/csv"), CSV).await;
        assert_eq!(code(&r), "invalid_query", "{query}: {}", r.text);
    }
    // Too large: said in advance, or found while reading.
    let limit = jiralink_web::MAX_RECORDS_BYTES;
    let path = I_RUN.replace("{id}", "Body%20only");
    let req = Request::post(&path)
        .header(header::AUTHORIZATION, format!("Bearer {KEY}"))
        .header(header::CONTENT_TYPE, "text/csv")
        .header(header::CONTENT_LENGTH, (limit + 1).to_string())
        .body(Body::from("id,title\n"))
        .unwrap();
    let r = reply(&api.f.router, req).await;
    api.check(&Method::POST, I_RUN, &r);
    assert_eq!(
        (r.status, code(&r).as_str()),
        (StatusCode::PAYLOAD_TOO_LARGE, "body_too_large"),
        "{}",
        r.text
    );
    let mut huge = b"id,title\n".to_vec();
    huge.resize(usize::try_from(limit).unwrap() + 1, b'x');
    let r = run(&api, "Body only", "", Some("text/csv"), huge).await;
    assert_eq!(
        (r.status, code(&r).as_str()),
        (StatusCode::PAYLOAD_TOO_LARGE, "body_too_large"),
        "{}",
        r.text
    );
    assert!(r.text.contains("64 MiB"), "{}", r.text);
    assert_eq!(
        uploads(&api),
        Vec::<String>::new(),
        "refused uploads are deleted"
    );
    let r = api
        .call(Method::GET, RUNS, None, "?import=Body%20only", None)
        .await;
    assert_eq!(r.json().as_array().unwrap().len(), 1, "{}", r.text);
}

/// Every import route needs the key.
#[tokio::test]
async fn import_routes_need_the_key() {
    let api = Api::with(export_fixture().await).await;
    let ops: Vec<_> = api
        .operations()
        .into_iter()
        .filter(|(_, t)| t.starts_with(I) || t.starts_with(RUNS))
        .collect();
    assert_eq!(ops.len(), 10, "{ops:?}");
    for (method, template) in ops {
        let method: Method = method.parse().unwrap();
        let path = template.replace("{id}", "x");
        for key in [None, Some("wrong-key")] {
            let r = call(&api.f.router, method.clone(), &path, Some(json!({})), key).await;
            assert_eq!(
                (r.status, code(&r).as_str()),
                (StatusCode::UNAUTHORIZED, "unauthorized"),
                "{method} {path}"
            );
            api.check(&method, &template, &r);
        }
    }
}
