//! The flow pages in Chromium: parts that cannot make a flow refused with every reason listed,
//! a flow created from a saved export and a saved import with a schedule, listed, run with
//! "Run now" (the worker's job run here) and its run shown with links to its export run and
//! import run, "Run now" from the list, and the flow deleted after a confirmation (cancelled
//! once).

use std::time::Duration;

use jiralink_app::{
    Actor, App, ConnectionSecrets, ExportDraft, ImportDraft, ImportSpec, ResultsFormat,
    WorkerOptions,
};
use jiralink_domain::{AuditSource, ConnectionDraft};
use jiralink_vault::ApiToken;

use crate::browser::Browser;
use crate::flows::{CREATE_ONLY, MAPPING};

fn actor() -> Actor {
    Actor {
        name: "setup".to_owned(),
        source: AuditSource::Cli,
    }
}

/// The connections "Sim demo" and "Sim acme", the exports `demo-mkt` and `demo-csv`, the
/// imports `acme-mkt` and `acme-create`; returns the ids of `demo-mkt`, `acme-mkt`,
/// `demo-csv` and `acme-create`.
pub(crate) async fn parts(app: &App, b: &Browser) -> [String; 4] {
    let samples = b.sim.samples().clone();
    for (name, subdomain) in [("Sim demo", "demo"), ("Sim acme", "acme")] {
        app.create_connection(
            &ConnectionDraft {
                name: Some(name.to_owned()),
                api_type: Some("cloud-platform".to_owned()),
                subdomain: Some(subdomain.to_owned()),
                auth_type: Some("basic".to_owned()),
                username: Some(samples.email.clone()),
                ..ConnectionDraft::default()
            },
            ConnectionSecrets {
                api_token: Some(ApiToken::new(&samples.api_token)),
            },
            &actor(),
        )
        .await
        .unwrap();
    }
    let export = |name: &str, csv: bool| {
        let mut spec = jiralink_sync::ExportSpec::new(jiralink_sync::Resource::Issues);
        spec.jql = Some("project = MKT".to_owned());
        if csv {
            spec.format = jiralink_sync::Format::Csv;
        } else {
            spec.kind = jiralink_sync::ExportKind::Delta { start: None };
            spec.comments = true;
        }
        ExportDraft {
            name: name.to_owned(),
            connection: "Sim demo".to_owned(),
            spec,
            schedule: None,
            enabled: true,
        }
    };
    let import = |name: &str, mapping: &str| ImportDraft {
        name: name.to_owned(),
        connection: "Sim acme".to_owned(),
        spec: ImportSpec {
            mapping: mapping.to_owned(),
            format: None,
            results_format: ResultsFormat::Ndjson,
            ledger: None,
            search_lag_secs: Some(0),
            input: None,
        },
        schedule: None,
        enabled: true,
    };
    let flow_export = app
        .create_export(export("demo-mkt", false), &actor())
        .await
        .unwrap();
    let csv_export = app
        .create_export(export("demo-csv", true), &actor())
        .await
        .unwrap();
    let flow_import = app
        .create_import(import("acme-mkt", MAPPING), &actor())
        .await
        .unwrap();
    let create_import = app
        .create_import(import("acme-create", CREATE_ONLY), &actor())
        .await
        .unwrap();
    [
        flow_export.id.to_string(),
        flow_import.id.to_string(),
        csv_export.id.to_string(),
        create_import.id.to_string(),
    ]
}

#[tokio::test]
async fn a_flow_is_created_listed_run_and_deleted() {
    let b = Browser::signed_in("flows").await;
    let [export, import, csv_export, create_import] = parts(&b.app, &b).await;

    // The Flows page is in the navigation; there are none yet.
    b.click_and_load("nav a[href=\"/flows\"]").await;
    b.wait_for("#empty-state").await;
    b.wait_for("form#flow-form").await;
    b.shot("no-flows").await;

    // Parts that cannot make a flow: every reason listed, what was chosen kept.
    b.fill("input#name", "demo-to-acme").await;
    b.select("select#export", &csv_export).await;
    b.select("select#import", &create_import).await;
    b.click_and_load("button#save").await;
    b.wait_for("#form-summary").await;
    let reasons = b.texts("#form-summary li").await;
    assert_eq!(reasons.len(), 3, "{reasons:?}");
    for (reason, says) in
        reasons
            .iter()
            .zip(["writes CSV", "is not an upsert", "has no [external_id]"])
    {
        assert!(reason.contains(says), "{says}: {reasons:?}");
    }
    assert_eq!(b.value("input#name").await, "demo-to-acme");
    assert_eq!(b.value("select#export").await, csv_export);
    b.shot_of("#form-summary", "refused").await;

    // Created with a schedule: the flow's page.
    b.select("select#export", &export).await;
    b.select("select#import", &import).await;
    b.click("input#schedule-every").await;
    b.fill("input#every-minutes", "15").await;
    b.click_and_load("button#save").await;
    b.wait_text("h1#flow-name", "demo-to-acme").await;
    b.wait_text(".notice", "was created").await;
    assert!(b.text("#flow-schedule").await.contains("15"));
    b.wait_for("#no-runs").await;
    let id = b.app.get_flow("demo-to-acme").await.unwrap().id.to_string();
    b.shot("flow-page").await;

    // Listed with its parts and schedule.
    b.click_and_load("nav a[href=\"/flows\"]").await;
    let row = "tr[data-flow-name=\"demo-to-acme\"]";
    assert_eq!(b.text(&format!("{row} .col-export")).await, "demo-mkt");
    assert_eq!(b.text(&format!("{row} .col-import")).await, "acme-mkt");
    assert!(
        b.text(&format!("{row} .col-last-run"))
            .await
            .contains("Never")
    );

    // Run now: the flow's job is due; a worker runs it, and the run shows in the history.
    b.click_and_load(&format!("{row} a[href=\"/flows/{id}\"]"))
        .await;
    b.click_and_load("button#run-now").await;
    b.wait_text(".notice", "requested").await;
    let job = b
        .app
        .list_jobs()
        .await
        .unwrap()
        .into_iter()
        .find(|j| j.key == format!("flow:{id}"))
        .unwrap();
    assert_eq!(job.kind, "flows.run");
    assert!(job.next_run_at <= b.app.now());
    let options = WorkerOptions {
        lease: Duration::from_secs(60),
        poll: Duration::from_secs(1),
        retest_interval: Duration::from_secs(3600),
    };
    let ran = b.app.run_due_job(&options).await.unwrap().unwrap();
    assert_eq!(ran.kind, "flows.run", "{ran:?}");
    b.goto(&format!("/flows/{id}")).await;
    b.wait_for("#runs tr.flow-run").await;
    assert_eq!(
        b.text("#runs tr.flow-run .col-state .badge").await,
        "Succeeded"
    );
    assert_ne!(b.text("#runs tr.flow-run .col-exported").await, "0");
    let export_run = b
        .attr("#runs tr.flow-run .col-export-run a", "href")
        .await
        .unwrap();
    let import_run = b
        .attr("#runs tr.flow-run .col-import-run a", "href")
        .await
        .unwrap();
    b.shot("run").await;
    b.goto(&import_run).await;
    b.wait_for("h1").await;
    b.goto(&export_run).await;
    b.wait_for("h1").await;
    b.click_and_load("nav a[href=\"/flows\"]").await;
    b.wait_text(&format!("{row} .col-last-run"), "Succeeded")
        .await;
    b.shot("listed").await;
    // The row's Run now asks again.
    b.click_and_load(&format!("{row} button.action-run")).await;
    b.wait_text(".notice", "requested").await;

    // Deleted after a confirmation (cancelled once); its export and import stay.
    b.goto(&format!("/flows/{id}")).await;
    b.click_and_load("a#delete-flow").await;
    b.wait_text("h1", "Delete flow").await;
    b.click_and_load("a.btn-secondary[href^=\"/flows/\"]").await;
    b.wait_text("h1#flow-name", "demo-to-acme").await;
    b.click_and_load("nav a[href=\"/flows\"]").await;
    b.click_and_load(&format!("{row} a.action-delete-page"))
        .await;
    b.wait_text("h1", "Delete flow").await;
    b.click_and_load("button#confirm-delete-yes").await;
    b.wait_text(".notice", "deleted").await;
    b.wait_for("#empty-state").await;
    assert!(b.app.list_flows().await.unwrap().is_empty());
    assert_eq!(b.app.list_exports().await.unwrap().len(), 2);
    b.shot("deleted").await;

    b.finish().await;
}
