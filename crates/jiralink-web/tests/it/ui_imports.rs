//! The import pages. In Chromium: an import created through the mapping table (a failed save
//! lists every problem beside its field; the TOML built from the table is shown and saved), a
//! CSV previewed (a dry run: each record's state and request) and then uploaded and run (the
//! run's counts, the results downloaded), a second run skipping what the first created, the
//! mapping edited in the table and as TOML, a stale edit refused, and the import deleted.
//! Without a browser: the upload's size limit and CSRF token.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use jiralink_app::Actor;
use jiralink_domain::AuditSource;
use serde_json::json;

use crate::browser::Browser;
use crate::{fixture, reply, sign_in};

const CSV: &str = "id,title,notes,tags\n\
                   T-1,Checkout fails on Safari,**Steps**: open the cart,web;checkout\n\
                   T-2,Search is slow,,search\n";

/// The id of a connection.
async fn connection_id(b: &Browser, name: &str) -> String {
    b.app.find_connection(name).await.unwrap().id.to_string()
}

/// Chooses `content` as the file of the upload form, written to a temporary file first.
async fn choose_file(b: &Browser, dir: &tempfile::TempDir, name: &str, content: &str) {
    let path = dir.path().join(name);
    std::fs::write(&path, content).unwrap();
    let input = b.wait_for("input#file").await;
    input.send_keys(path.to_str().unwrap()).await.unwrap();
}

#[tokio::test]
async fn an_import_is_created_previewed_run_edited_and_deleted() {
    let b = Browser::signed_in("imports").await;
    let files = tempfile::tempdir().unwrap();
    b.create_basic("Jira demo").await;
    b.click_and_load(&format!("{} button.action-test", Browser::row("Jira demo")))
        .await;
    let demo = connection_id(&b, "Jira demo").await;

    // The Imports page is in the navigation; there are none yet.
    b.click_and_load("nav a[href=\"/imports\"]").await;
    b.wait_for("#empty-state").await;
    b.shot("no-imports").await;
    b.click_and_load("a#new-import").await;
    b.wait_for("form#import-form").await;
    assert_eq!(b.value("input#row-0-field").await, "summary");
    assert!(!b.is_shown("input#row-6-field").await);
    b.click_and_load("button#add-rows").await;
    b.wait_visible("input#row-6-field").await;

    // A failed save lists every problem at once, each beside its field; nothing is lost.
    b.select("select#operation", "upsert").await;
    b.fill("input#row-1-value", "notes").await;
    b.fill("input#row-2-field", "environment").await;
    b.select("select#row-2-kind", "template").await;
    b.fill("input#row-2-value", "{os").await;
    b.click_and_load("button#save").await;
    b.wait_for("#form-summary").await;
    for field in [
        "name",
        "connection",
        "project",
        "issue_type",
        "row-0",
        "row-1",
        "row-2",
    ] {
        b.wait_for(&format!(".field-error[data-for=\"{field}\"]"))
            .await;
    }
    let template = b.text(".field-error[data-for=\"row-2\"]").await;
    assert!(template.contains("not closed"), "{template}");
    assert_eq!(b.value("input#row-2-value").await, "{os");
    assert_eq!(b.value("select#operation").await, "upsert");
    b.shot_of("#form-summary", "validation-errors").await;

    // Fixed: the TOML of the table is built by the server and shown.
    b.fill("input#name", "Tickets").await;
    b.select("select#connection", &demo).await;
    b.select("select#operation", "create").await;
    b.fill("input#project", "DEMO").await;
    b.fill("input#issue-type", "Story").await;
    b.fill("input#ext-source", "id").await;
    b.fill("input#ext-value", "ticket-").await;
    b.fill("input#row-0-value", "title").await;
    b.fill("input#row-1-field", "description").await;
    b.select("select#row-1-format", "markdown").await;
    b.fill("input#row-2-field", "labels").await;
    b.select("select#row-2-kind", "source").await;
    b.fill("input#row-2-value", "tags").await;
    b.fill("input#row-2-split", ";").await;
    b.click_and_load("button#build-toml").await;
    b.wait_for("#toml-note").await;
    let toml = b.value("textarea#toml").await;
    assert_eq!(
        toml,
        "operation = \"create\"\nproject = \"DEMO\"\nissue_type = \"Story\"\n\n\
         [external_id]\nsource = \"id\"\nlabel_prefix = \"ticket-\"\n\n[fields]\n\
         summary = \"title\"\ndescription = { source = \"notes\", format = \"markdown\" }\n\
         labels = { source = \"tags\", split = \";\" }\n"
    );
    assert!(!b.is_shown(".field-error").await, "no problems left");
    b.shot_of("#toml-section", "toml-of-the-table").await;
    b.click_and_load("button#save").await;
    b.wait_text("h1#import-name", "Tickets").await;
    b.wait_text(".notice", "Tickets").await;
    let saved = b.app.get_import("Tickets").await.unwrap();
    assert_eq!(saved.spec.mapping, toml, "the TOML shown is what is saved");
    assert_eq!(
        b.text("#mapping-table tr[data-field-name=\"labels\"] .col-options")
            .await
            .trim(),
        "split on ;"
    );
    b.wait_for("#no-runs").await;
    b.shot("import-page").await;

    // Preview: a dry run of the uploaded CSV, each record's state and request.
    choose_file(&b, &files, "tickets.csv", CSV).await;
    b.click_and_load("button#preview-upload").await;
    b.wait_text("#preview-would-create", "2").await;
    assert_eq!(b.text("#preview-failed").await, "0");
    let states = b.texts("#preview-records .col-state").await;
    assert_eq!(states, ["Would create", "Would create"]);
    b.click("#preview-records tr[data-line=\"2\"] details summary")
        .await;
    let request = b.text("#preview-records tr[data-line=\"2\"] pre").await;
    assert!(request.contains("Checkout fails on Safari"), "{request}");
    assert!(request.contains("ticket-T-1"), "{request}");
    b.shot("preview").await;
    assert!(
        b.app.list_import_runs(None).await.unwrap().is_empty(),
        "a preview records no run"
    );

    // Upload and run: the run's page with its counts; the results download.
    b.click_and_load("a#back-to-import").await;
    choose_file(&b, &files, "tickets.csv", CSV).await;
    b.click_and_load("button#run-upload").await;
    b.wait_text("#run-state", "Succeeded").await;
    b.wait_text(".notice", "2 created").await;
    assert_eq!(b.text("#run-created").await, "2");
    assert_eq!(b.text("#run-failed").await, "0");
    b.shot("run").await;
    let href = b.attr("a#download-results", "href").await.unwrap();
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
        disposition.starts_with("attachment; filename=\"tickets-results-"),
        "{disposition}"
    );
    let results: Vec<serde_json::Value> = download["text"]
        .as_str()
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(results.len(), 2);
    for r in &results {
        assert_eq!(r["state"], "created", "{r}");
        assert!(r["key"].as_str().unwrap().starts_with("DEMO-"), "{r}");
    }
    let uploads = b.app.data_dir().join("uploads");
    assert_eq!(
        std::fs::read_dir(&uploads).unwrap().count(),
        0,
        "the uploaded file and the preview's results are removed"
    );

    // The same file again: the ledger knows both records, nothing is created twice.
    b.click_and_load(".breadcrumb a[href^=\"/imports/\"]").await;
    choose_file(&b, &files, "tickets.csv", CSV).await;
    b.click_and_load("button#run-upload").await;
    b.wait_text("#run-skipped", "2").await;
    assert_eq!(b.text("#run-created").await, "0");
    b.click_and_load(".breadcrumb a[href^=\"/imports/\"]").await;
    assert_eq!(
        b.texts("#runs td.col-created").await,
        ["0", "2"],
        "the history, newest first"
    );
    b.shot_of("#history", "history").await;

    // The list shows it with its last run.
    b.click_and_load("nav a[href=\"/imports\"]").await;
    let row = "tr[data-import-name=\"Tickets\"]";
    b.wait_text(&format!("{row} td.col-connection"), "Jira demo")
        .await;
    b.wait_text(&format!("{row} td.col-operation"), "Create")
        .await;
    b.wait_text(&format!("{row} td.col-last-run"), "2 skipped")
        .await;
    b.shot("imports-list").await;

    // Edit in the table: the row is there, changed, saved.
    b.click_and_load(&format!("{row} a.action-edit")).await;
    b.wait_for("form#import-form").await;
    let summary_row =
        b.c.execute(
            "return Array.from(document.querySelectorAll('input[name=row_field]'))\
               .findIndex(i => i.value === 'summary');",
            vec![],
        )
        .await
        .unwrap();
    let i = summary_row.as_i64().unwrap();
    assert!(i >= 0);
    b.select(&format!("select#row-{i}-kind"), "template").await;
    b.fill(&format!("input#row-{i}-value"), "{title} ({id})")
        .await;
    assert!(
        !b.c.find(fantoccini::Locator::Css("input#use-toml"))
            .await
            .unwrap()
            .is_selected()
            .await
            .unwrap(),
        "editing the table saves the table"
    );

    // Someone else saves it meanwhile (with an input file and a schedule, which the form does
    // not set): this edit is refused, nothing typed is lost.
    let mut other = b.app.get_import("Tickets").await.unwrap();
    let hourly = Some(jiralink_app::Schedule::Every {
        minutes: 60,
        time_zone: "UTC".to_owned(),
    });
    let actor = Actor {
        name: "someone else".to_owned(),
        source: AuditSource::Cli,
    };
    other.spec.search_lag_secs = Some(5);
    other.spec.input = Some(b.app.data_dir().join("tickets.csv"));
    b.app
        .update_import(
            "Tickets",
            jiralink_app::ImportDraft {
                name: other.name.clone(),
                connection: other.connection_id.to_string(),
                spec: other.spec.clone(),
                schedule: hourly.clone(),
                enabled: other.enabled,
            },
            other.version,
            &actor,
        )
        .await
        .unwrap();
    b.click_and_load("button#save").await;
    let conflict = b.text("#form-summary").await;
    assert!(conflict.contains("read it again"), "{conflict}");
    assert_eq!(
        b.value(&format!("input#row-{i}-value")).await,
        "{title} ({id})"
    );
    b.shot_of("#form-summary", "stale-edit").await;

    // Loaded again and saved.
    b.click_and_load("a#edit-import-again").await;
    b.wait_for("form#import-form").await;
    b.select(&format!("select#row-{i}-kind"), "template").await;
    b.fill(&format!("input#row-{i}-value"), "{title} ({id})")
        .await;
    b.click_and_load("button#save").await;
    b.wait_text(".notice", "was saved").await;
    let saved = b.app.get_import("Tickets").await.unwrap();
    assert!(
        saved
            .spec
            .mapping
            .contains("summary = { template = \"{title} ({id})\" }"),
        "{}",
        saved.spec.mapping
    );
    assert_eq!(saved.spec.search_lag_secs, Some(5), "the other change kept");
    assert_eq!(saved.schedule, hourly, "the form keeps the schedule");
    assert!(saved.enabled);
    assert!(saved.next_run_at.is_some());

    // Edit as TOML: typing there saves the TOML; a mapping the table cannot show stays TOML.
    b.click_and_load("a#edit-import").await;
    b.click("#toml-section summary").await;
    let text = format!(
        "{}Team = {{ const = \"Platform\", map = {{ Platform = \"Payments\" }} }}\n",
        saved.spec.mapping
    );
    b.fill("textarea#toml", &text).await;
    assert!(
        b.c.find(fantoccini::Locator::Css("input#use-toml"))
            .await
            .unwrap()
            .is_selected()
            .await
            .unwrap(),
        "editing the TOML saves the TOML"
    );
    // The table cannot show a map: the TOML stays what is saved.
    b.click_and_load("button#load-table").await;
    b.wait_text("#toml-note", "cannot show").await;
    assert_eq!(b.value("textarea#toml").await.replace("\r\n", "\n"), text);
    b.click_and_load("button#save").await;
    b.wait_text(".notice", "was saved").await;
    assert_eq!(
        b.app.get_import("Tickets").await.unwrap().spec.mapping,
        text
    );
    b.wait_for("#import-toml").await;
    assert!(!b.is_shown("#mapping-table").await);
    b.click_and_load("a#edit-import").await;
    b.wait_for("#table-unavailable").await;
    assert!(b.is_shown("textarea#toml").await);
    b.shot("edit-as-toml").await;

    // Deleted: the list is empty again.
    b.goto(&format!("/imports/{}", saved.id)).await;
    b.click_and_load("a#delete-import").await;
    b.click_and_load("button#confirm-delete-yes").await;
    b.wait_text(".notice", "deleted").await;
    b.wait_for("#empty-state").await;
    assert!(b.app.list_imports().await.unwrap().is_empty());
    b.shot("deleted").await;

    b.finish().await;
}

/// A multipart body with the CSRF token (when given) and a file of `size` bytes.
fn upload_body(csrf: Option<&str>, size: usize) -> (String, Vec<u8>) {
    let boundary = "----jiralinktest";
    let mut body = Vec::new();
    if let Some(csrf) = csrf {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"_csrf\"\r\n\r\n{csrf}\r\n"
            )
            .as_bytes(),
        );
    }
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; \
             filename=\"t.csv\"\r\nContent-Type: text/csv\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend(std::iter::repeat_n(b'x', size));
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

#[tokio::test]
async fn uploads_need_the_csrf_token_and_are_bounded() {
    let f = fixture().await;
    let b = sign_in(&f, "ada").await;
    let send = |content_type: String, body: Vec<u8>| {
        let req = Request::builder()
            .method(Method::POST)
            .uri("/imports/00000000-0000-4000-8000-000000000000/preview")
            .header(header::COOKIE, &b.cookie)
            .header(header::CONTENT_TYPE, content_type)
            .body(Body::from(body))
            .unwrap();
        reply(&f.router, req)
    };
    let (ct, body) = upload_body(None, 10);
    assert_eq!(send(ct, body).await.status, StatusCode::FORBIDDEN);
    let (ct, body) = upload_body(Some("wrong"), 10);
    assert_eq!(send(ct, body).await.status, StatusCode::FORBIDDEN);
    let (ct, body) = upload_body(Some(&b.csrf), 11 << 20);
    let r = send(ct, body).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(r.text.contains("at most 10 MiB"), "{}", r.text);
    // With the token, the handler answers (here: no such import).
    let (ct, body) = upload_body(Some(&b.csrf), 10);
    let r = send(ct, body).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
}
