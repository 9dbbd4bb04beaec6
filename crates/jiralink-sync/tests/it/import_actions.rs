//! The mapping's actions against the simulator: transition, comment, worklog, link and
//! attachments after each create or update, nothing added twice when the records come again,
//! and files read only from inside the attachment directory.

use std::path::{Path, PathBuf};

use jiralink_sim::SimConfig;
use jiralink_sync::SyncError;
use jiralink_sync::import::{InputFormat, MemoryLedger, RecordState, check_mapping};
use reqwest::Method;
use serde_json::{Value, json};

use crate::Env;
use crate::import::{Users, mapping};

/// A directory that is removed when the test ends.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let dir =
            std::env::temp_dir().join(format!("jiralink-it-{tag}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }

    fn path(&self) -> &Path {
        &self.0
    }

    fn write(&self, name: &str, bytes: &[u8]) {
        let path = self.0.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

const UPSERT: &str = r#"
operation = "upsert"
project = "MKT"
issue_type = "Task"
[external_id]
source = "ref"
label_prefix = "act-"
[fields]
summary = "title"
[actions]
status = "state"
transition_fields = { resolution = { const = "Done" } }
comment = { source = "note", format = "markdown" }
worklog = { time_spent = "spent", started = "day", comment = "work" }
links = [ { type = "Blocks", to = "blocks" } ]
attachments = { source = "files", split = ";" }
"#;

fn ndjson(records: &[Value]) -> String {
    records.iter().map(|r| format!("{r}\n")).collect()
}

impl Env {
    /// Creates an issue by hand and returns its key.
    async fn make_issue(&self, project: &str, summary: &str) -> String {
        let (status, made) = self
            .http(
                Method::POST,
                "/issue",
                Some(json!({"fields": {"project": {"key": project},
                    "issuetype": {"name": "Task"}, "summary": summary}})),
            )
            .await;
        assert_eq!(status, 201, "{made}");
        made["key"].as_str().unwrap().to_owned()
    }

    /// What Jira holds of an issue's status, comments, worklogs, attachments and links.
    async fn issue_parts(&self, key: &str) -> Value {
        let (status, issue) = self
            .http(
                Method::GET,
                &format!(
                    "/issue/{key}?fields=summary,status,resolution,comment,worklog,attachment,issuelinks&properties=jiralink.import"
                ),
                None,
            )
            .await;
        assert_eq!(status, 200, "{issue}");
        issue
    }

    /// Requests that may change something (a search is a POST that does not).
    fn writes(&self) -> usize {
        self.control()
            .requests()
            .into_iter()
            .filter(|r| r.method != "GET" && !r.path.ends_with("/search/jql"))
            .count()
    }
}

fn count(issue: &Value, field: &str, list: &str) -> usize {
    let v = &issue["fields"][field];
    let items = if list.is_empty() { v } else { &v[list] };
    items.as_array().map_or(0, Vec::len)
}

#[tokio::test]
async fn actions_follow_the_write_and_are_not_repeated() {
    let env = Env::start(SimConfig::for_tests()).await;
    let target = env.make_issue("MKT", "Blocked by the import").await;
    let files = TempDir::new("actions");
    files.write("spec.txt", b"the spec");
    files.write("img/shot.png", b"\x89PNG not really");
    let first = json!({
        "ref": "a1", "title": "First", "state": "done", "note": "**Shipped**",
        "spent": "3h 20m", "day": "2026-01-05 09:30", "work": "wrote it",
        "blocks": target, "files": "spec.txt; img/shot.png"
    });
    let second = json!({"ref": "a2", "title": "Second", "state": "In Progress", "note": "started"});
    let m = mapping(UPSERT);
    let ledger = MemoryLedger::default();
    let dir = Some(files.path().to_owned());
    let (outcome, results) = env
        .import_in(
            &m,
            InputFormat::Ndjson,
            ndjson(&[first.clone(), second.clone()]),
            &ledger,
            "r1",
            false,
            dir.clone(),
        )
        .await;
    let stats = outcome.unwrap().stats;
    let all = results.all();
    assert_eq!(stats.created, 2, "{all:?}");
    assert_eq!(
        all[0].actions,
        vec![
            "transitioned to Done".to_owned(),
            "commented".into(),
            "logged 3h 20m".into(),
            format!("linked (Blocks) to {target}"),
            "attached spec.txt".into(),
            "attached shot.png".into(),
        ]
    );
    assert_eq!(
        all[1].actions,
        vec!["transitioned to In Progress", "commented"]
    );
    assert_eq!(stats.actions, 8);
    let key = all[0].key.clone().unwrap();
    let issue = env.issue_parts(&key).await;
    assert_eq!(issue["fields"]["status"]["name"], "Done");
    assert_eq!(issue["fields"]["resolution"]["name"], "Done");
    let comments = &issue["fields"]["comment"]["comments"];
    assert_eq!(comments.as_array().map(Vec::len), Some(1), "{comments}");
    assert_eq!(
        comments[0]["body"]["content"][0]["content"][0]["marks"][0]["type"],
        "strong"
    );
    let worklogs = &issue["fields"]["worklog"]["worklogs"];
    assert_eq!(worklogs.as_array().map(Vec::len), Some(1), "{worklogs}");
    assert_eq!(worklogs[0]["timeSpentSeconds"], 12_000);
    // Jira shows it in the user's zone.
    let started = jiff::fmt::strtime::parse(
        "%Y-%m-%dT%H:%M:%S%.f%z",
        worklogs[0]["started"].as_str().unwrap(),
    )
    .unwrap()
    .to_timestamp()
    .unwrap();
    assert_eq!(
        started,
        "2026-01-05T09:30:00Z".parse::<jiff::Timestamp>().unwrap()
    );
    let attachments = issue["fields"]["attachment"].as_array().unwrap();
    let mut names: Vec<(&str, &str)> = attachments
        .iter()
        .map(|a| {
            (
                a["filename"].as_str().unwrap(),
                a["mimeType"].as_str().unwrap(),
            )
        })
        .collect();
    names.sort_unstable();
    assert_eq!(
        names,
        vec![("shot.png", "image/png"), ("spec.txt", "text/plain")]
    );
    let links = issue["fields"]["issuelinks"].as_array().unwrap();
    assert_eq!(links.len(), 1, "{links:?}");
    assert_eq!(links[0]["type"]["name"], "Blocks");
    assert_eq!(links[0]["outwardIssue"]["key"], target.as_str());
    let marks = &issue["properties"]["jiralink.import"];
    assert_eq!(marks["ledger"], "test");
    assert_eq!(marks["record"], "x:a1");
    assert_eq!(marks["actions"].as_object().map(|a| a.len()), Some(4));

    // The same records again, one with another title: updated, and nothing added twice.
    let mut edited = first.clone();
    edited["title"] = json!("First, edited");
    let (outcome, results) = env
        .import_in(
            &m,
            InputFormat::Ndjson,
            ndjson(&[edited, second]),
            &ledger,
            "r2",
            false,
            dir,
        )
        .await;
    let stats = outcome.unwrap().stats;
    let again = results.all();
    assert_eq!(stats.updated, 2, "{again:?}");
    assert_eq!(
        again[0].actions,
        vec![
            "already in Done".to_owned(),
            "comment already added".into(),
            "3h 20m already logged".into(),
            format!("linked (Blocks) to {target}"),
            "spec.txt already attached".into(),
            "shot.png already attached".into(),
        ]
    );
    assert_eq!(
        again[1].actions,
        vec!["already in In Progress", "comment already added"]
    );
    assert_eq!(stats.actions, 1, "only the link, which Jira keeps once");
    let issue = env.issue_parts(&key).await;
    assert_eq!(issue["fields"]["summary"], "First, edited");
    assert_eq!(count(&issue, "comment", "comments"), 1);
    assert_eq!(count(&issue, "worklog", "worklogs"), 1);
    assert_eq!(count(&issue, "attachment", ""), 2);
    assert_eq!(count(&issue, "issuelinks", ""), 1);
    let second_key = again[1].key.clone().unwrap();
    assert_eq!(
        count(&env.issue_parts(&second_key).await, "comment", "comments"),
        1
    );
}

#[tokio::test]
async fn a_resumed_create_adds_once_and_a_new_run_adds_nothing() {
    let env = Env::start(SimConfig::for_tests()).await;
    let m = mapping(
        r#"
operation = "create"
project = "DEMO"
issue_type = "Task"
[fields]
summary = "title"
[actions]
comment = "note"
worklog = { time_spent = "spent" }
"#,
    );
    let input = "title,note,spent\nOne,first note,1h\nTwo,second note,90\n".to_owned();
    let ledger = MemoryLedger::default();
    let (outcome, results) = env
        .import(&m, InputFormat::Csv, input.clone(), &ledger, "r1", false)
        .await;
    assert_eq!(outcome.unwrap().stats.created, 2);
    let first = results.all();
    assert_eq!(first[1].actions, vec!["commented", "logged 1m 30s"]);
    // The run resumed from its start, as after a crash before its checkpoint (by another
    // process, once the dead one's lease ran out): the ledger has the issues, and the marks in
    // them say their actions were applied.
    env.advance(61);
    let (outcome, results) = env
        .import(&m, InputFormat::Csv, input.clone(), &ledger, "r1", false)
        .await;
    let stats = outcome.unwrap().stats;
    assert_eq!((stats.created, stats.actions), (2, 0));
    assert_eq!(
        results.all()[0].actions,
        vec!["comment already added", "1h already logged"]
    );
    // A new run leaves the issues an earlier run created alone, actions included.
    let (outcome, results) = env
        .import(&m, InputFormat::Csv, input, &ledger, "r2", false)
        .await;
    assert_eq!(outcome.unwrap().stats.skipped, 2);
    assert!(results.all().iter().all(|r| r.actions.is_empty()));
    for r in &first {
        let issue = env.issue_parts(r.key.as_deref().unwrap()).await;
        assert_eq!(count(&issue, "comment", "comments"), 1);
        assert_eq!(count(&issue, "worklog", "worklogs"), 1);
    }
}

#[tokio::test]
async fn an_unreachable_status_fails_the_record_and_keeps_its_key() {
    let env = Env::start(SimConfig::for_tests()).await;
    let m = mapping(
        r#"
operation = "create"
project = "DEMO"
issue_type = "Task"
[fields]
summary = "title"
[actions]
status = { source = "state", map = { closed = "Done" } }
comment = "note"
"#,
    );
    let input = ndjson(&[
        json!({"title": "Too far", "state": "closed", "note": "still commented"}),
        json!({"title": "Near", "state": "In Progress"}),
    ]);
    let ledger = MemoryLedger::default();
    let (outcome, results) = env
        .import(&m, InputFormat::Ndjson, input, &ledger, "r1", false)
        .await;
    let stats = outcome.unwrap().stats;
    assert_eq!((stats.created, stats.failed), (1, 1));
    let all = results.all();
    let failed = &all[0];
    assert_eq!(failed.state, RecordState::Failed);
    assert_eq!(
        failed.errors["status"],
        "no transition leads from To Do to 'Done' (reachable: In Progress)"
    );
    assert_eq!(
        failed.message.as_deref(),
        Some("the issue was created, but some of its actions failed: status")
    );
    assert_eq!(failed.actions, vec!["commented"]);
    let key = failed.key.clone().expect("the issue was written");
    let issue = env.issue_parts(&key).await;
    assert_eq!(issue["fields"]["summary"], "Too far");
    assert_eq!(issue["fields"]["status"]["name"], "To Do");
    assert_eq!(count(&issue, "comment", "comments"), 1);
    assert_eq!(all[1].actions, vec!["transitioned to In Progress"]);
}

#[tokio::test]
async fn files_outside_the_directory_are_refused_before_anything_is_sent() {
    let env = Env::start(SimConfig::for_tests()).await;
    let root = TempDir::new("escape");
    root.write("secret.txt", b"not for jira");
    root.write("files/ok.txt", b"fine");
    let files = root.path().join("files");
    #[cfg(unix)]
    std::os::unix::fs::symlink(root.path().join("secret.txt"), files.join("link.txt")).unwrap();
    let m = mapping(
        r#"
operation = "create"
project = "DEMO"
issue_type = "Task"
[fields]
summary = "title"
[actions]
attachments = { source = "files", split = "," }
"#,
    );
    let mut bad = vec![
        ("ok.txt, ../secret.txt", "leaves the attachment directory"),
        ("/etc/passwd", "absolute path"),
        ("https://example.com/secret.txt", "is a URL"),
        ("nothing.txt", "no such file"),
    ];
    if cfg!(unix) {
        bad.push(("link.txt", "outside the attachment directory"));
    }
    let input = ndjson(
        &bad.iter()
            .map(|(f, _)| json!({"title": "Bad file", "files": f}))
            .collect::<Vec<_>>(),
    );
    env.control().clear_requests();
    let ledger = MemoryLedger::default();
    let (outcome, results) = env
        .import_in(
            &m,
            InputFormat::Ndjson,
            input.clone(),
            &ledger,
            "r1",
            false,
            Some(files.clone()),
        )
        .await;
    assert_eq!(outcome.unwrap().stats.failed, bad.len() as u64);
    for (r, (file, says)) in results.all().iter().zip(&bad) {
        let text = r.errors["attachments"].as_str().unwrap();
        assert!(text.contains(says), "{file}: {text}");
        assert_eq!(r.key, None);
    }
    assert_eq!(env.writes(), 0, "no issue, no upload");
    // Without a directory the mapping is refused as a whole.
    let (outcome, _) = env
        .import_in(&m, InputFormat::Ndjson, input, &ledger, "r2", false, None)
        .await;
    let Err(SyncError::InvalidSpec(text)) = outcome else {
        panic!("{outcome:?}");
    };
    assert!(text.contains("actions.attachments"), "{text}");
    assert_eq!(env.writes(), 0);
}

#[tokio::test]
async fn a_dry_run_lists_the_actions_and_mapping_problems_come_first() {
    let env = Env::start(SimConfig::for_tests()).await;
    let files = TempDir::new("dry");
    files.write("a.pdf", b"%PDF");
    let m = mapping(UPSERT);
    let input = ndjson(&[json!({
        "ref": "d1", "title": "Dry", "state": "Done", "note": "hello",
        "spent": "2h", "day": "2026-02-01T10:00:00Z", "blocks": "mkt-1, MKT-2", "files": "a.pdf"
    })]);
    env.control().clear_requests();
    let ledger = MemoryLedger::default();
    let (outcome, results) = env
        .import_in(
            &m,
            InputFormat::Ndjson,
            input,
            &ledger,
            "dry",
            true,
            Some(files.path().to_owned()),
        )
        .await;
    assert_eq!(outcome.unwrap().stats.would_create, 1);
    let request = results.all()[0].request.clone().unwrap();
    let actions = request["actions"].as_array().unwrap();
    let kinds: Vec<&str> = actions
        .iter()
        .map(|a| a["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        vec![
            "transition",
            "comment",
            "worklog",
            "link",
            "link",
            "attachment"
        ]
    );
    assert_eq!(
        actions[0],
        json!({"action": "transition", "status": "Done", "fields": {"resolution": "Done"}})
    );
    assert_eq!(actions[2]["timeSpentSeconds"], 7200);
    assert_eq!(actions[2]["started"], "2026-02-01T10:00:00.000+0000");
    assert_eq!(actions[3]["to"], "MKT-1");
    assert_eq!(
        actions[5],
        json!({"action": "attachment", "file": "a.pdf", "contentType": "application/pdf", "size": 4})
    );
    assert_eq!(env.writes(), 0, "only reads");

    let users = Users(Default::default());
    let wrong = mapping(&UPSERT.replace("resolution =", "Resolutoin ="));
    let err = check_mapping(&env.client, &wrong, &users)
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("actions.transition_fields.Resolutoin: no Jira field is called"),
        "{err}"
    );
}

#[tokio::test]
async fn rate_limited_actions_wait_and_are_sent_again() {
    let env = Env::start(SimConfig::for_tests()).await;
    // One POST a second: the comments after the bulk create meet 429s.
    env.control().update_knobs(|k| k.burst.post = 1).unwrap();
    let m = mapping(
        r#"
operation = "create"
project = "DEMO"
issue_type = "Task"
[fields]
summary = "title"
[actions]
comment = "note"
"#,
    );
    let input: String = (0..4)
        .map(|n| {
            format!(
                "{}\n",
                json!({"title": format!("Limited {n}"), "note": "hi"})
            )
        })
        .collect();
    let ledger = MemoryLedger::default();
    let (outcome, results) = env
        .import(&m, InputFormat::Ndjson, input, &ledger, "r", false)
        .await;
    let stats = outcome.unwrap().stats;
    assert_eq!(stats.created, 4, "{:?}", results.all());
    assert_eq!(stats.actions, 4);
    assert!(stats.rate_limit_waits >= 1, "{stats:?}");
    for r in results.all() {
        let issue = env.issue_parts(r.key.as_deref().unwrap()).await;
        assert_eq!(count(&issue, "comment", "comments"), 1);
    }
}

#[tokio::test]
async fn an_update_of_actions_alone_logs_work_once() {
    let env = Env::start(SimConfig::for_tests()).await;
    let key = env.make_issue("DEMO", "Timesheet target").await;
    let m = mapping(
        r#"
operation = "update"
key = "issue"
[actions]
worklog = { time_spent = "hours", started = "day", comment = "what" }
"#,
    );
    let input = format!(
        "issue,hours,day,what\n{key},2h,2026-03-02,review\n{key},2h,2026-03-03,review\nDEMO-99999,1h,2026-03-02,nothing\n"
    );
    let ledger = MemoryLedger::default();
    for run in ["r1", "r2"] {
        let (outcome, results) = env
            .import(&m, InputFormat::Csv, input.clone(), &ledger, run, false)
            .await;
        let stats = outcome.unwrap().stats;
        let all = results.all();
        assert_eq!((stats.updated, stats.failed), (2, 1), "{all:?}");
        assert_eq!(
            all[2].message.as_deref(),
            Some("issue DEMO-99999 does not exist")
        );
        let expected = if run == "r1" {
            "logged 2h"
        } else {
            "2h already logged"
        };
        assert_eq!(all[0].actions, vec![expected]);
        assert_eq!(all[1].actions, vec![expected]);
    }
    let issue = env.issue_parts(&key).await;
    assert_eq!(count(&issue, "worklog", "worklogs"), 2, "one per day");
}
