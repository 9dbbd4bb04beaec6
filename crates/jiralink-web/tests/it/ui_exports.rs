//! The export pages driven like a browser without JavaScript: the list, the definition form
//! (offline connections marked, problems beside their fields with everything typed kept, a
//! stale edit refused), "Run now" run by the worker, the run page, its progress JSON, the
//! download through the session, cancel, the history chart, and deleting.

use axum::http::{Method, StatusCode, header};
use pretty_assertions::assert_eq;

use crate::exports::{export_fixture, run_due_jobs};
use crate::{KEY, call, sign_in};

fn field_error<'a>(html: &'a str, field: &str) -> Option<&'a str> {
    let marker = format!("data-for=\"{field}\" id=\"{field}-error\">");
    let start = html.find(&marker)? + marker.len();
    let end = html[start..].find("</p>")? + start;
    Some(&html[start..end])
}

/// The form fields of a delta export of every issue through "Jira demo".
fn fields<'a>(name: &'a str, connection: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("name", name),
        ("connection", connection),
        ("resource", "issues"),
        ("jql", ""),
        ("fields", ""),
        ("kind", "delta"),
        ("start", ""),
        ("limit", "100"),
        ("format", "ndjson"),
        ("adf", "raw"),
        ("schedule", "none"),
        ("every_minutes", "60"),
        ("time_zone", "UTC"),
        ("enabled", "on"),
    ]
}

#[tokio::test]
async fn an_export_is_defined_run_and_downloaded_without_javascript() {
    let f = export_fixture().await;
    let b = sign_in(&f, "ada").await;
    let samples = f.sim.samples().clone();
    for (name, token) in [
        ("Jira demo", samples.api_token.as_str()),
        ("Jira broken", "wrong-token"),
    ] {
        let r = call(
            &f.router,
            Method::POST,
            "/v1/connections",
            Some(crate::api::basic(name, &samples.email, Some(token))),
            Some(KEY),
        )
        .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        f.app.test_connection(name).await.unwrap();
    }
    let demo = f
        .app
        .find_connection("Jira demo")
        .await
        .unwrap()
        .id
        .to_string();

    let empty = b.get(&f, "/exports").await;
    assert_eq!(empty.status, StatusCode::OK);
    assert!(empty.text.contains("id=\"empty-state\""), "{}", empty.text);
    assert!(
        empty.text.contains("href=\"/exports\">Exports</a>"),
        "the navigation links it"
    );

    let form = b.get(&f, "/exports/new").await;
    assert!(
        form.text.contains(">Jira broken – Offline</option>"),
        "{}",
        form.text
    );
    assert!(form.text.contains(">Jira demo</option>"), "{}", form.text);

    // Problems beside their fields; what was typed comes back.
    let mut bad = fields("", &demo);
    bad.retain(|(k, _)| {
        !matches!(
            *k,
            "jql" | "fields" | "kind" | "start" | "schedule" | "cron"
        )
    });
    bad.extend([
        ("jql", "project = ED ORDER BY key"),
        ("fields", "summary, Story Points"),
        ("kind", "delta"),
        ("start", "last tuesday"),
        ("schedule", "cron"),
        ("cron", ""),
    ]);
    let r = b.post(&f, "/exports", &bad).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    for field in ["name", "jql", "start", "cron"] {
        assert!(field_error(&r.text, field).is_some(), "{field}: {}", r.text);
    }
    assert!(r.text.contains("project = ED ORDER BY key</textarea>"));
    assert!(r.text.contains("value=\"summary, Story Points\""));
    assert!(r.text.contains("value=\"last tuesday\""));
    assert!(
        r.text
            .contains(&format!("<option value=\"{demo}\" selected")),
        "{}",
        r.text
    );
    // A problem the application finds (the time zone) is placed beside its field too.
    let mut zone = fields("Zoned", &demo);
    zone.retain(|(k, _)| !matches!(*k, "schedule" | "time_zone"));
    zone.extend([("schedule", "every"), ("time_zone", "Mars/Olympus")]);
    let r = b.post(&f, "/exports", &zone).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    let message = field_error(&r.text, "time_zone").unwrap_or_else(|| panic!("{}", r.text));
    assert!(message.contains("IANA"), "{message}");

    // Saved: the export's page; listed with its connection and resource.
    let r = b.post(&f, "/exports", &fields("Demo issues", &demo)).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    let page = b.follow(&f, &r).await;
    assert!(
        page.text.contains("The export Demo issues was created."),
        "{}",
        page.text
    );
    let id = f
        .app
        .get_export("Demo issues")
        .await
        .unwrap()
        .id
        .to_string();
    let list = b.get(&f, "/exports").await;
    assert!(
        list.text.contains("data-export-name=\"Demo issues\""),
        "{}",
        list.text
    );
    assert!(
        list.text.contains("<td class=\"col-resource\">Issues</td>"),
        "{}",
        list.text
    );

    // Run now: requested, the worker runs it, the page shows it with its chart.
    let r = b.post(&f, &format!("/exports/{id}/run"), &[]).await;
    let page = b.follow(&f, &r).await;
    assert!(page.text.contains("id=\"run-requested\""), "{}", page.text);
    assert!(
        page.text.contains("data-watch-url"),
        "the page watches for the run"
    );
    let status = b.get(&f, &format!("/exports/{id}/status")).await;
    assert_eq!(status.json()["lastRunId"], serde_json::Value::Null);
    run_due_jobs(&f.app).await;
    let status = b.get(&f, &format!("/exports/{id}/status")).await;
    assert_eq!(
        status.json()["lastRunState"],
        "succeeded",
        "{}",
        status.text
    );
    let run = status.json()["lastRunId"].as_str().unwrap().to_owned();
    let page = b.get(&f, &format!("/exports/{id}")).await;
    assert!(
        page.text.contains("<svg id=\"history-chart\""),
        "{}",
        page.text
    );
    assert!(page.text.contains(&format!("href=\"/runs/{run}\"")));
    assert!(
        !page.text.contains("data-watch-url"),
        "nothing to watch any more"
    );

    // The run page, its progress and the download through the session.
    let page = b.get(&f, &format!("/runs/{run}")).await;
    assert!(page.text.contains(">Succeeded</span>"), "{}", page.text);
    assert!(
        page.text.contains("id=\"download-output\""),
        "{}",
        page.text
    );
    assert!(
        !page.text.contains("data-progress-url"),
        "a finished run is not polled"
    );
    let progress = b.get(&f, &format!("/runs/{run}/progress")).await;
    assert_eq!(progress.json()["state"], "succeeded", "{}", progress.text);
    let records = progress.json()["recordsRaw"].as_u64().unwrap();
    assert!(records > 0);
    let download = b.get(&f, &format!("/runs/{run}/output")).await;
    assert_eq!(download.status, StatusCode::OK);
    assert_eq!(
        download.headers[header::CONTENT_TYPE],
        "application/x-ndjson"
    );
    assert!(
        download.headers[header::CONTENT_DISPOSITION]
            .to_str()
            .unwrap()
            .starts_with("attachment; filename=\"demo-issues-")
    );
    assert_eq!(download.text.lines().count() as u64, records);
    let api = call(
        &f.router,
        Method::GET,
        &format!("/v1/runs/{run}/output"),
        None,
        Some(KEY),
    )
    .await;
    assert_eq!(
        api.text, download.text,
        "the page and the API serve the same bytes"
    );
    // Cancelling a run that ended says so and changes nothing.
    let r = b.post(&f, &format!("/runs/{run}/cancel"), &[]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(
        f.app.get_run(&run).await.unwrap().state.as_str(),
        "succeeded"
    );
    // Without a session nothing of it is served.
    let stranger = crate::send(
        &f.router,
        Method::GET,
        &format!("/runs/{run}/output"),
        None,
        None,
    )
    .await;
    assert_eq!(stranger.status, StatusCode::SEE_OTHER);

    // Every run, from the Exports page.
    let runs = b.get(&f, "/runs").await;
    assert_eq!(runs.status, StatusCode::OK);
    assert!(
        runs.text.contains(&format!(
            "data-run-id=\"{run}\" data-run-state=\"succeeded\""
        )),
        "{}",
        runs.text
    );
    assert!(
        runs.text
            .contains(&format!("<a href=\"/exports/{id}\">Demo issues</a>")),
        "{}",
        runs.text
    );
    assert!(b.get(&f, "/exports").await.text.contains("href=\"/runs\""));

    // Edit: the form comes back filled; a stale version is refused, nothing changes.
    let edit = b.get(&f, &format!("/exports/{id}/edit")).await;
    assert!(edit.text.contains("value=\"Demo issues\""), "{}", edit.text);
    assert!(
        edit.text.contains("id=\"kind-delta\" checked"),
        "{}",
        edit.text
    );
    let mut renamed = fields("Demo issues 2", &demo);
    renamed.push(("version", "1"));
    let r = b.post(&f, &format!("/exports/{id}"), &renamed).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    let r = b.post(&f, &format!("/exports/{id}"), &renamed).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);
    assert!(r.text.contains("form-summary"), "{}", r.text);
    assert_eq!(f.app.get_export(&id).await.unwrap().version, 2);

    // Delete, after its confirmation page; the connection is then free.
    let confirm = b.get(&f, &format!("/exports/{id}/delete")).await;
    assert!(confirm.text.contains("Demo issues 2"), "{}", confirm.text);
    let r = b.post(&f, &format!("/exports/{id}/delete"), &[]).await;
    let list = b.follow(&f, &r).await;
    assert!(
        list.text.contains("The export was deleted"),
        "{}",
        list.text
    );
    assert!(list.text.contains("id=\"empty-state\""));
    let gone = b.get(&f, &format!("/runs/{run}")).await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
}
