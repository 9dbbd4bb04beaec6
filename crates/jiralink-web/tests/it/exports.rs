//! `/v1/exports` and `/v1/runs` against the simulator: every route answers as the OpenAPI
//! document says (through [`Api::call`], which checks each body against its schema), with the
//! stable error codes; "Run now" makes the export due and a worker run (driven here one job
//! at a time, on the manual clock) records a run whose output downloads with its format's
//! content type and a file name. The PostgreSQL leg serves one server's run from another.

use std::time::Duration;

use axum::http::{Method, StatusCode, header};
use jiralink_app::{App, WorkerOptions};
use jiralink_domain::ManualClock;
use jiralink_web::{ApiKeyHash, AppState, router};
use pretty_assertions::assert_eq;
use serde_json::{Value, json};

use crate::api::{Api, code};
use crate::{Fixture, KEY, call, open_app, sim_config};

pub(crate) const E: &str = "/v1/exports";
pub(crate) const E_ID: &str = "/v1/exports/{id}";
pub(crate) const RUNS: &str = "/v1/runs";
pub(crate) const RUN_ID: &str = "/v1/runs/{id}";

/// After the simulator's data was last updated (its clock starts at 2026-01-05 09:30), so
/// every issue lies below a run's upper bound (now minus the index lag).
pub(crate) fn export_clock() -> ManualClock {
    ManualClock::new(time::macros::datetime!(2026-01-06 12:00 UTC))
}

/// A server on the simulator whose clock is [`export_clock`].
pub(crate) async fn export_fixture() -> Fixture {
    export_fixture_on(&export_clock()).await
}

/// A server on the simulator whose clock is `clock`.
pub(crate) async fn export_fixture_on(clock: &ManualClock) -> Fixture {
    let sim = jiralink_sim::Sim::start(jiralink_sim::SimConfig::for_tests())
        .await
        .unwrap();
    let (dir, app) = open_app(&sim_config(&sim), clock).await;
    let router = router(AppState::new(app.clone(), ApiKeyHash::of(KEY)));
    Fixture {
        _dir: dir,
        sim,
        app,
        router,
    }
}

fn worker() -> WorkerOptions {
    WorkerOptions {
        lease: Duration::from_secs(60),
        poll: Duration::from_secs(1),
        retest_interval: Duration::from_secs(3600),
    }
}

/// Runs due jobs until none is due: a requested export runs to its end.
pub(crate) async fn run_due_jobs(app: &App) {
    for _ in 0..20 {
        match app.run_due_job(&worker()).await.unwrap() {
            Some(_) => {}
            None => return,
        }
    }
    panic!("jobs kept coming due");
}

/// A Basic connection to the simulator's sample site, through `/v1`.
pub(crate) async fn connection(api: &Api, name: &str) -> String {
    let samples = api.f.sim.samples().clone();
    let r = api
        .call(
            Method::POST,
            "/v1/connections",
            None,
            "",
            Some(crate::api::basic(
                name,
                &samples.email,
                Some(&samples.api_token),
            )),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    r.json()["id"].as_str().unwrap().to_owned()
}

fn export_body(name: &str, connection: &str, spec: Value) -> Value {
    let mut body = json!({"name": name, "connection": connection});
    body["spec"] = spec;
    body
}

fn lines(text: &str) -> Vec<Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

#[tokio::test]
async fn exports_and_runs_answer_as_the_document_says() {
    let api = Api::with(export_fixture().await).await;
    let connection_id = connection(&api, "Jira demo").await;

    // Create: validation, a taken name, an unknown connection, unknown spec options.
    let spec = json!({"resource": "issues", "kind": {"type": "test", "limit": 5}});
    let r = api
        .call(
            Method::POST,
            E,
            None,
            "",
            Some(export_body("Sample", "jira DEMO", spec.clone())),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let created = r.json();
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(created["connectionId"], json!(connection_id));
    assert_eq!(created["connectionName"], "Jira demo");
    assert_eq!(created["connectionOffline"], false);
    assert_eq!(created["version"], 1);
    assert_eq!(created["enabled"], true);
    assert_eq!(created["lastRun"], Value::Null);
    assert_eq!(created["nextRunAt"], Value::Null);

    let r = api
        .call(
            Method::POST,
            E,
            None,
            "",
            Some(export_body("SAMPLE", "Jira demo", spec.clone())),
        )
        .await;
    assert_eq!(
        (r.status, code(&r).as_str()),
        (StatusCode::CONFLICT, "export_name_taken")
    );
    let r = api
        .call(
            Method::POST,
            E,
            None,
            "",
            Some(export_body("Other", "nope", spec.clone())),
        )
        .await;
    assert_eq!(code(&r), "connection_not_found", "{}", r.text);
    let bad = json!({"resource": "issues", "kind": {"type": "test", "limit": 0}});
    let r = api
        .call(
            Method::POST,
            E,
            None,
            "",
            Some(export_body("Other", "Jira demo", bad)),
        )
        .await;
    assert_eq!(
        (r.status, code(&r).as_str()),
        (StatusCode::BAD_REQUEST, "validation_failed")
    );
    assert!(r.text.contains("1 to"), "{}", r.text);
    let r = api
        .call(
            Method::POST,
            E,
            None,
            "",
            Some(export_body(
                "Other",
                "Jira demo",
                json!({"resource": "issues", "jqll": "x"}),
            )),
        )
        .await;
    assert_eq!(code(&r), "unknown_field", "{}", r.text);
    assert!(r.text.contains("spec.jql"), "{}", r.text);
    let mut scheduled = export_body("Other", "Jira demo", json!({"resource": "projects"}));
    scheduled["schedule"] = json!({"cron": "not cron", "timeZone": "UTC"});
    let r = api
        .call(Method::POST, E, None, "", Some(scheduled.clone()))
        .await;
    assert_eq!(code(&r), "validation_failed", "{}", r.text);
    assert!(r.text.contains("cron expression"), "{}", r.text);
    scheduled["schedule"] = json!({"everyMinutes": 30, "timeZone": "Europe/Berlin"});
    let r = api.call(Method::POST, E, None, "", Some(scheduled)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert!(r.json()["nextRunAt"].is_string(), "{}", r.text);
    let projects = r.json()["id"].as_str().unwrap().to_owned();

    let list = api.call(Method::GET, E, None, "", None).await;
    let names: Vec<String> = list
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(names, ["Other", "Sample"]);
    let r = api.call(Method::GET, E_ID, Some("sample"), "", None).await;
    assert_eq!(r.json()["id"], json!(id));

    // Replace: the version read is required, a stale one changes nothing.
    let mut edit = export_body("Sample", "Jira demo", spec.clone());
    edit["spec"]["format"] = json!("ndjson");
    let r = api
        .call_as_sent(Method::PUT, E_ID, Some(&id), Some(edit.clone()))
        .await;
    assert_eq!(code(&r), "validation_failed", "{}", r.text);
    assert!(r.text.contains("version is required"), "{}", r.text);
    edit["version"] = json!(1);
    let r = api
        .call_as_sent(Method::PUT, E_ID, Some(&id), Some(edit.clone()))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json()["version"], 2);
    let r = api
        .call_as_sent(Method::PUT, E_ID, Some(&id), Some(edit))
        .await;
    assert_eq!(
        (r.status, code(&r).as_str()),
        (StatusCode::CONFLICT, "conflict")
    );

    // The connection lists its exports, and cannot be deleted while they use it.
    let usage = api
        .call(
            Method::GET,
            "/v1/connections/{id}/usage",
            Some(&connection_id),
            "",
            None,
        )
        .await;
    let used: Vec<String> = usage.json()["exports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(used, ["Other", "Sample"], "{}", usage.text);
    let r = api
        .call(
            Method::DELETE,
            "/v1/connections/{id}",
            Some(&connection_id),
            "",
            None,
        )
        .await;
    assert_eq!(
        (r.status, code(&r).as_str()),
        (StatusCode::CONFLICT, "connection_in_use")
    );
    assert!(r.text.contains("Sample"), "{}", r.text);

    // Run now: the export is due at once; a worker runs it.
    let r = api
        .call(Method::POST, "/v1/exports/{id}/run", Some(&id), "", None)
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text);
    assert_eq!(r.json()["nextRunAt"], "2026-01-06T12:00:00Z");
    run_due_jobs(&api.f.app).await;

    let r = api.call(Method::GET, E_ID, Some(&id), "", None).await;
    let last = r.json()["lastRun"].clone();
    assert_eq!(last["state"], "succeeded", "{}", r.text);
    assert_eq!(last["trigger"], "manual");
    let run = last["id"].as_str().unwrap().to_owned();

    let runs = api.call(Method::GET, RUNS, None, "", None).await;
    assert_eq!(runs.json().as_array().unwrap().len(), 1, "{}", runs.text);
    for query in [
        "?export=SAMPLE",
        "?connection=Jira%20demo&limit=1",
        "?limit=1000",
    ] {
        let r = api.call(Method::GET, RUNS, None, query, None).await;
        assert_eq!(r.json()[0]["id"], json!(run), "{query}: {}", r.text);
    }
    let r = api
        .call(Method::GET, RUNS, None, "?export=Other", None)
        .await;
    assert_eq!(r.json(), json!([]));
    for (query, want) in [
        ("?limit=0", "invalid_query"),
        ("?limit=1001", "invalid_query"),
        ("?limit=many", "invalid_query"),
        ("?bogus=1", "invalid_query"),
        ("?export=nope", "export_not_found"),
        ("?connection=nope", "connection_not_found"),
    ] {
        let r = api.call(Method::GET, RUNS, None, query, None).await;
        assert_eq!(code(&r), want, "{query}: {}", r.text);
    }

    let r = api.call(Method::GET, RUN_ID, Some(&run), "", None).await;
    let view = r.json();
    assert_eq!(view["state"], "succeeded");
    assert_eq!(view["exportName"], "Sample");
    assert_eq!(view["stats"]["records"]["issues"], 5, "{}", r.text);
    assert_eq!(view["outputAvailable"], true);
    // Cancelling a run that ended changes nothing.
    let r = api
        .call(Method::POST, "/v1/runs/{id}/cancel", Some(&run), "", None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json()["state"], "succeeded");

    // The output: NDJSON with a file name.
    let r = api
        .call(Method::GET, "/v1/runs/{id}/output", Some(&run), "", None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.headers[header::CONTENT_TYPE], "application/x-ndjson");
    assert_eq!(
        r.headers[header::CONTENT_DISPOSITION],
        "attachment; filename=\"sample-20260106T120000Z.ndjson\""
    );
    let records = lines(&r.text);
    assert_eq!(records.len(), 5);
    assert!(
        records
            .iter()
            .all(|i| i["key"].is_string() && i["fields"].is_object())
    );
    assert_eq!(r.text.len() as u64, view["outputBytes"].as_u64().unwrap());

    // Deleting the export deletes its runs; the other export keeps the connection in use.
    let r = api.call(Method::DELETE, E_ID, Some(&id), "", None).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    for (method, template) in [
        (Method::GET, E_ID),
        (Method::PUT, E_ID),
        (Method::DELETE, E_ID),
        (Method::POST, "/v1/exports/{id}/run"),
    ] {
        let body =
            (method == Method::PUT).then(|| export_body("Sample", "Jira demo", spec.clone()));
        let r = api
            .call(method.clone(), template, Some(&id), "", body)
            .await;
        assert_eq!(
            (r.status, code(&r).as_str()),
            (StatusCode::NOT_FOUND, "export_not_found"),
            "{method} {template}"
        );
    }
    for (method, template) in [
        (Method::GET, RUN_ID),
        (Method::POST, "/v1/runs/{id}/cancel"),
        (Method::GET, "/v1/runs/{id}/output"),
    ] {
        for missing in [run.as_str(), "nope"] {
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
    let r = api
        .call(Method::DELETE, E_ID, Some(&projects), "", None)
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = api
        .call(
            Method::DELETE,
            "/v1/connections/{id}",
            Some(&connection_id),
            "",
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);

    let seen = api.seen.lock().unwrap().clone();
    let missing: Vec<_> = api
        .operations()
        .into_iter()
        .filter(|(_, t)| t.starts_with(E) || t.starts_with(RUNS))
        .filter(|op| !seen.contains(op))
        .collect();
    assert!(missing.is_empty(), "not exercised: {missing:?}");
}

/// Each format downloads with its content type and extension; an output past its retention
/// answers `410 output_expired`.
#[tokio::test]
async fn outputs_download_in_their_format_until_they_expire() {
    let clock = export_clock();
    let api = Api::with(export_fixture_on(&clock).await).await;
    connection(&api, "Jira demo").await;
    let mut runs = Vec::new();
    for (name, format) in [("As array", "json-array"), ("As CSV", "csv")] {
        let spec =
            json!({"resource": "issues", "format": format, "kind": {"type": "test", "limit": 3}});
        let r = api
            .call(
                Method::POST,
                E,
                None,
                "",
                Some(export_body(name, "Jira demo", spec)),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        let id = r.json()["id"].as_str().unwrap().to_owned();
        api.call(Method::POST, "/v1/exports/{id}/run", Some(&id), "", None)
            .await;
        run_due_jobs(&api.f.app).await;
        let r = api.call(Method::GET, E_ID, Some(&id), "", None).await;
        assert_eq!(r.json()["lastRun"]["state"], "succeeded", "{}", r.text);
        runs.push(r.json()["lastRun"]["id"].as_str().unwrap().to_owned());
    }
    let array = api
        .call(
            Method::GET,
            "/v1/runs/{id}/output",
            Some(&runs[0]),
            "",
            None,
        )
        .await;
    assert_eq!(array.headers[header::CONTENT_TYPE], "application/json");
    assert!(
        array.headers[header::CONTENT_DISPOSITION]
            .to_str()
            .unwrap()
            .ends_with(".json\"")
    );
    assert_eq!(array.json().as_array().unwrap().len(), 3);
    let csv = api
        .call(
            Method::GET,
            "/v1/runs/{id}/output",
            Some(&runs[1]),
            "",
            None,
        )
        .await;
    assert!(
        csv.headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    assert!(
        csv.headers[header::CONTENT_DISPOSITION]
            .to_str()
            .unwrap()
            .ends_with(".csv\"")
    );
    assert!(csv.text.lines().count() >= 4, "{}", csv.text);

    // Past the retention (7 days by default), nothing is served.
    clock.advance(time::Duration::days(8));
    let r = api
        .call(Method::GET, RUN_ID, Some(&runs[0]), "", None)
        .await;
    assert_eq!(r.json()["outputAvailable"], false, "{}", r.text);
    let r = api
        .call(
            Method::GET,
            "/v1/runs/{id}/output",
            Some(&runs[0]),
            "",
            None,
        )
        .await;
    assert_eq!(
        (r.status, code(&r).as_str()),
        (StatusCode::GONE, "output_expired")
    );
}

/// Values sent in an export body never come back in an error.
#[tokio::test]
async fn export_errors_never_repeat_what_was_sent() {
    let api = Api::with(export_fixture().await).await;
    connection(&api, "Jira demo").await;
    let mark = "ZqMark";
    for spec in [
        json!({"resource": format!("{mark}-resource")}),
        json!({"resource": "issues", "format": mark}),
        json!({"resource": "issues", "jql": format!("{mark} order by key")}),
        json!({"resource": "issues", "kind": {"type": mark}}),
        json!({"resource": "issues", "kind": {"type": "delta", "start": mark}}),
        json!({"resource": "issues", "expand": [mark]}),
        json!({"resource": "issues", "fields": [" "], mark: 1}),
        json!(mark),
    ] {
        let body = export_body(&format!("{mark}\u{202e}"), mark, spec.clone());
        let r = api.call(Method::POST, E, None, "", Some(body)).await;
        assert!(r.status.is_client_error(), "{spec}: {}", r.text);
        assert!(
            !r.text.to_lowercase().contains("zqmark"),
            "{spec}: {}",
            r.text
        );
    }
    let r = api
        .call(
            Method::GET,
            RUNS,
            None,
            &format!("?export={mark}&connection={mark}"),
            None,
        )
        .await;
    assert!(!r.text.to_lowercase().contains("zqmark"), "{}", r.text);
}

/// Three servers on the simulator and one PostgreSQL database (`schema_url`), with the
/// connection "Jira demo" (concurrency `level`, the default when `None`) created through the
/// first.
async fn three_servers_at(
    sim: &jiralink_sim::SimHandle,
    clock: &ManualClock,
    schema_url: &str,
    level: Option<u32>,
) -> Vec<(tempfile::TempDir, App, axum::Router)> {
    let master_key = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
    let mut servers = Vec::new();
    for _ in 0..3 {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("jiralink.toml"),
            format!("version = 1\n{}", sim_config(sim)),
        )
        .unwrap();
        let key = master_key.to_owned();
        let app = App::open(jiralink_app::OpenOptions {
            data_dir: dir.path().to_path_buf(),
            config_file: None,
            database: Some(schema_url.to_owned()),
            clock: std::sync::Arc::new(clock.clone()),
            env: Box::new(move |name| (name == "JIRALINK_MASTER_KEY").then(|| key.clone())),
        })
        .await
        .unwrap()
        .value;
        let router = router(AppState::new(app.clone(), ApiKeyHash::of(KEY)));
        servers.push((dir, app, router));
    }
    let samples = sim.samples().clone();
    let mut body = crate::api::basic("Jira demo", &samples.email, Some(&samples.api_token));
    if let Some(level) = level {
        body["concurrencyLevel"] = json!(level);
    }
    let r = call(
        &servers[0].2,
        Method::POST,
        "/v1/connections",
        Some(body),
        Some(KEY),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    servers
}

/// The run's output downloaded from each server; the same bytes from all of them.
async fn output_from_every_server(
    servers: &[(tempfile::TempDir, App, axum::Router)],
    run: &str,
) -> String {
    let mut outputs = Vec::new();
    for (_, _, router) in servers {
        let r = call(
            router,
            Method::GET,
            &format!("/v1/runs/{run}/output"),
            None,
            Some(KEY),
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        outputs.push(r.text);
    }
    assert!(outputs.iter().all(|o| *o == outputs[0]));
    outputs.swap_remove(0)
}

async fn three_servers(
    sim: &jiralink_sim::SimHandle,
    clock: &ManualClock,
    schema_url: &str,
) -> Vec<(tempfile::TempDir, App, axum::Router)> {
    three_servers_at(sim, clock, schema_url, None).await
}

/// Three servers on one PostgreSQL database: a scheduled run ("Run now" on the third server)
/// that the first server's worker runs and then dies in (its task stops, its leases run out)
/// is taken over by the second server's worker, which resumes the same run from its last
/// checkpoint; its output, the same bytes from every server, holds every issue once. With one
/// cursor and in parallel mode (id pages of 150, so the run dies inside one).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_whose_server_dies_is_resumed_by_another() {
    let Some(base_url) = jiralink_store::TestSchema::base_url() else {
        return;
    };
    for level in [1, 4] {
        let schema = jiralink_store::TestSchema::create(&base_url).await.unwrap();
        let sim = jiralink_sim::Sim::start(jiralink_sim::SimConfig {
            size: jiralink_sim::DataSize::Medium,
            ..jiralink_sim::SimConfig::for_tests()
        })
        .await
        .unwrap();
        let clock = export_clock();
        let servers = three_servers_at(&sim, &clock, schema.url(), Some(level)).await;
        let (_, a, a_router) = &servers[0];
        let spec = json!({"resource": "issues", "jql": "project = OPS"});
        let r = call(
            a_router,
            Method::POST,
            E,
            Some(export_body("Ops", "Jira demo", spec)),
            Some(KEY),
        )
        .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        let r = call(
            &servers[2].2,
            Method::POST,
            "/v1/exports/Ops/run",
            None,
            Some(KEY),
        )
        .await;
        assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text);
        sim.control()
            .update_knobs(|k| {
                k.latency_ms = 150;
                k.search_page_cap = 150;
            })
            .unwrap();
        let first = a.clone();
        let worker_a = tokio::spawn(async move { run_due_jobs(&first).await });
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        let run_id = loop {
            let running = a
                .list_runs(jiralink_app::RunListFilter::default())
                .await
                .unwrap()
                .into_iter()
                .find(|r| r.state == jiralink_app::RunState::Running && r.stats.pages >= 2);
            if let Some(run) = running {
                break run.id.to_string();
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no checkpoint in time"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        // The first server dies mid-run.
        worker_a.abort();
        let _ = worker_a.await;
        sim.control().update_knobs(|k| k.latency_ms = 0).unwrap();
        clock.advance(Duration::from_secs(120));
        let (_, b, _) = &servers[1];
        run_due_jobs(b).await;
        let r = call(
            &servers[2].2,
            Method::GET,
            &format!("/v1/runs/{run_id}"),
            None,
            Some(KEY),
        )
        .await;
        assert_eq!(r.json()["state"], "succeeded", "level {level}: {}", r.text);
        assert_eq!(r.json()["resumed"], 1, "level {level}: {}", r.text);
        let output = output_from_every_server(&servers, &run_id).await;
        let records = lines(&output);
        let ids: std::collections::BTreeSet<&str> =
            records.iter().map(|r| r["id"].as_str().unwrap()).collect();
        assert_eq!(ids.len(), records.len(), "level {level}: each issue once");
        let expected = a
            .jira_client("Jira demo")
            .await
            .unwrap()
            .approximate_count("project = OPS")
            .await
            .unwrap();
        assert_eq!(records.len() as u64, expected, "level {level}");
        for (_, app, _) in &servers {
            app.close_database().await;
        }
    }
}

/// Three servers on one PostgreSQL database: an export created through one, run by another's
/// worker after "Run now" on the third, downloads the same bytes from every one of them.
#[tokio::test]
async fn a_runs_output_downloads_from_every_server() {
    let Some(base_url) = jiralink_store::TestSchema::base_url() else {
        return;
    };
    let schema = jiralink_store::TestSchema::create(&base_url).await.unwrap();
    let sim = jiralink_sim::Sim::start(jiralink_sim::SimConfig::for_tests())
        .await
        .unwrap();
    let clock = export_clock();
    let servers = three_servers(&sim, &clock, schema.url()).await;
    let (_, _, a_router) = &servers[0];
    let spec = json!({"resource": "issues", "kind": {"type": "test", "limit": 7}});
    let r = call(
        a_router,
        Method::POST,
        E,
        Some(export_body("Shared", "Jira demo", spec)),
        Some(KEY),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);

    let (_, _, c_router) = &servers[2];
    let r = call(
        c_router,
        Method::POST,
        "/v1/exports/Shared/run",
        None,
        Some(KEY),
    )
    .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text);
    let (_, b, _) = &servers[1];
    run_due_jobs(b).await;

    let r = call(a_router, Method::GET, "/v1/exports/Shared", None, Some(KEY)).await;
    let run = r.json()["lastRun"]["id"].as_str().unwrap().to_owned();
    assert_eq!(r.json()["lastRun"]["state"], "succeeded", "{}", r.text);
    let output = output_from_every_server(&servers, &run).await;
    assert_eq!(lines(&output).len(), 7);
    for (_, app, _) in &servers {
        app.close_database().await;
    }
}
