//! An export in the browser: the Exports page in the navigation, the definition form (the
//! connection picker marks offline connections "– Offline"; a failed save shows each problem
//! beside its field and keeps what was typed), "Run now" run by the server's worker, the run
//! page following the run live until it ends, the output downloaded, the history chart, and
//! a run cancelled from its page.

use std::time::Duration;

use jiralink_app::WorkerOptions;
use serde_json::json;

use super::Browser;

/// The server's worker, as `jiralink serve` runs it, until the flow ends.
fn start_worker(b: &Browser) -> tokio::task::JoinHandle<()> {
    let app = b.app.clone();
    tokio::spawn(async move {
        let options = WorkerOptions {
            lease: Duration::from_secs(30),
            poll: Duration::from_millis(200),
            retest_interval: Duration::from_secs(3600),
        };
        app.run_worker(&options, std::future::pending(), &mut |_| {})
            .await;
    })
}

#[tokio::test]
async fn creating_and_running_an_export() {
    let b = Browser::signed_in("exports").await;
    let worker = start_worker(&b);

    // Two connections: one online, one offline (its token is wrong).
    b.create_basic("Jira demo").await;
    b.click_and_load(&format!("{} button.action-test", Browser::row("Jira demo")))
        .await;
    b.goto("/connections/new").await;
    b.wait_for("form#connection-form").await;
    b.fill_basic("Jira broken").await;
    b.fill("input#api-token", "not-the-token").await;
    b.click_and_load("button#save").await;
    b.click_and_load(&format!(
        "{} button.action-test",
        Browser::row("Jira broken")
    ))
    .await;
    b.wait_text(
        &format!("{} td.col-state .badge", Browser::row("Jira broken")),
        "Offline",
    )
    .await;

    // The Exports page is in the navigation; there are none yet.
    b.click_and_load("nav a[href=\"/exports\"]").await;
    b.wait_for("#empty-state").await;
    b.shot("no-exports").await;
    b.click_and_load("a#new-export").await;
    b.wait_for("form#export-form").await;
    let choices = b.texts("select#connection option").await;
    let choices: Vec<&str> = choices.iter().map(|c| c.trim()).collect();
    assert_eq!(
        choices,
        ["Choose a connection", "Jira broken – Offline", "Jira demo"]
    );
    // The fields follow the export type and the schedule.
    assert!(!b.is_shown("input#start").await);
    assert!(!b.is_shown("input#cron").await);
    b.click("input#kind-delta").await;
    b.wait_visible("input#start").await;
    b.click("input#schedule-cron").await;
    b.wait_visible("input#cron").await;
    b.click("input#schedule-none").await;
    b.wait_hidden("input#cron").await;
    b.shot("new-export-form").await;

    // A failed save: each problem beside its field, nothing typed lost.
    b.select("select#connection", &connection_id(&b, "Jira demo").await)
        .await;
    b.fill("textarea#jql", "project = ED ORDER BY key").await;
    b.fill("input#fields", "summary, status, Story Points")
        .await;
    b.click_and_load("button#save").await;
    b.wait_for("#form-summary").await;
    let name_error = b.text(".field-error[data-for=\"name\"]").await;
    assert!(name_error.contains("name"), "{name_error}");
    let jql_error = b.text(".field-error[data-for=\"jql\"]").await;
    assert!(jql_error.contains("ORDER BY"), "{jql_error}");
    assert_eq!(b.value("textarea#jql").await, "project = ED ORDER BY key");
    assert_eq!(
        b.value("input#fields").await,
        "summary, status, Story Points"
    );
    assert_eq!(
        b.value("select#connection").await,
        connection_id(&b, "Jira demo").await
    );
    assert!(
        b.is_shown("input#start").await,
        "the delta start stays shown"
    );
    b.shot_of("#form-summary", "validation-errors").await;

    // Fixed and saved: the export's page.
    b.fill("input#name", "Demo issues").await;
    b.fill("textarea#jql", "").await;
    b.fill("input#fields", "").await;
    b.click_and_load("button#save").await;
    b.wait_text("h1#export-name", "Demo issues").await;
    b.wait_text(".notice", "Demo issues").await;
    b.wait_for("#no-runs").await;
    b.shot("export-page").await;

    // Slow Jira down so the run lasts long enough to be watched.
    b.sim
        .control()
        .update_knobs(|k| k.latency_ms = 2_000)
        .unwrap();
    b.click_and_load("button#run-now").await;
    b.wait_for("#run-requested").await;
    // The page notices the run start by itself.
    let running = b.wait_for("#runs tr[data-run-id] a").await;
    b.shot("run-started").await;
    running.click().await.unwrap();
    b.wait_for("#run").await;
    let state = b.text("#run-state").await;
    assert_eq!(
        state.trim(),
        "Running",
        "the run ended before its page showed"
    );
    b.wait_for("#run[data-progress-url]").await;
    b.shot("run-page-running").await;
    // It follows the run to its end without being reloaded by hand.
    b.wait_text("#run-state", "Succeeded").await;
    b.sim.control().update_knobs(|k| k.latency_ms = 0).unwrap();
    let records: u64 = b
        .text("#run-records")
        .await
        .trim()
        .replace(',', "")
        .parse()
        .unwrap();
    assert!(records > 0);
    let cursor = b.text("#cursor-after").await;
    assert!(cursor.contains("upperMs"), "{cursor}");
    b.shot("run-page-succeeded").await;

    // The output downloads with a file name, one record per line.
    let href = b.attr("a#download-output", "href").await.unwrap();
    let download =
        b.c.execute_async(
            "const done = arguments[arguments.length - 1];\
             fetch(arguments[0], {credentials: 'same-origin'}).then(r => r.text().then(t => \
               done({status: r.status, type: r.headers.get('content-type'), \
                     disposition: r.headers.get('content-disposition'), text: t})));",
            vec![json!(href)],
        )
        .await
        .unwrap();
    assert_eq!(download["status"], 200);
    assert_eq!(download["type"], "application/x-ndjson");
    let disposition = download["disposition"].as_str().unwrap();
    assert!(
        disposition.starts_with("attachment; filename=\"demo-issues-"),
        "{disposition}"
    );
    let text = download["text"].as_str().unwrap();
    assert_eq!(text.lines().count() as u64, records);
    for line in text.lines() {
        let issue: serde_json::Value = serde_json::from_str(line).unwrap();
        assert!(issue["key"].is_string());
    }

    // The history chart: one bar with the run's records.
    b.click_and_load(".breadcrumb a[href^=\"/exports/\"]").await;
    let bar = b.wait_for("svg#history-chart rect.chart-bar").await;
    assert_eq!(
        bar.attr("data-records").await.unwrap(),
        Some(records.to_string())
    );
    assert_eq!(
        bar.attr("data-state").await.unwrap().as_deref(),
        Some("succeeded")
    );
    b.shot_of("#history", "history-chart").await;

    // A second run, cancelled from its page: the run is asked to stop after the page it is
    // writing (this one has a single page, so it may end first; the engine's tests show the
    // stop itself).
    b.sim
        .control()
        .update_knobs(|k| k.latency_ms = 2_000)
        .unwrap();
    b.click_and_load("button#run-now").await;
    let running = b.wait_for("#runs tr[data-run-state=\"running\"] a").await;
    running.click().await.unwrap();
    b.wait_for("button#cancel-run").await;
    let run_id = b.path().await.trim_start_matches("/runs/").to_owned();
    let marker = b.mark_page().await;
    b.click("button#cancel-run").await;
    // The confirmation of app.js.
    b.c.accept_alert().await.unwrap();
    b.wait_new_page(&marker).await;
    b.wait_text(".notice", "Cancelling").await;
    assert!(b.app.get_run(&run_id).await.unwrap().cancel_requested);
    b.shot("run-cancel-requested").await;
    let ended = b.wait_text("#run-state", "ed").await;
    assert!(
        ["Cancelled", "Succeeded"].contains(&ended.trim()),
        "{ended}"
    );
    b.sim.control().update_knobs(|k| k.latency_ms = 0).unwrap();
    b.click_and_load(".breadcrumb a[href^=\"/exports/\"]").await;
    let bars =
        b.c.execute(
            "return document.querySelectorAll('svg#history-chart rect.chart-bar').length;",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(bars, json!(2));

    // The list shows it with its last run; the connection lists it as its user.
    b.click_and_load("nav a[href=\"/exports\"]").await;
    let row = "tr[data-export-name=\"Demo issues\"]";
    b.wait_text(&format!("{row} td.col-connection"), "Jira demo")
        .await;
    b.wait_text(&format!("{row} td.col-resource"), "Issues")
        .await;
    b.wait_text(&format!("{row} td.col-last-run"), "Succeeded")
        .await;
    b.shot("exports-list").await;
    b.click_and_load("nav a[href=\"/connections\"]").await;
    b.wait_text(
        &format!("{} td.col-used-by", Browser::row("Jira demo")),
        "export Demo issues",
    )
    .await;

    worker.abort();
    b.finish().await;
}

/// The id of a connection, from its row in the connections list's data.
async fn connection_id(b: &Browser, name: &str) -> String {
    b.app.find_connection(name).await.unwrap().id.to_string()
}
