//! The import engine against the simulator: every record accounted for, bulk creates, upserts,
//! and no duplicate after an answer lost in transit or a crash between Jira's `201` and the
//! ledger write.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use jiralink_sim::SimConfig;
use jiralink_sync::SyncError;
use jiralink_sync::import::{
    ImportJob, ImportJournal, ImportLedger, ImportOutcome, ImportStats, InputFormat, LedgerEntry,
    LedgerState, Mapping, MemoryLedger, NoImportProgress, RecordResult, RecordState, UserDirectory,
    check_mapping, identity, reader, run_import,
};
use reqwest::Method;
use serde_json::{Value, json};

use crate::Env;

#[derive(Default)]
pub(crate) struct Results {
    results: Mutex<Vec<RecordResult>>,
    positions: Mutex<Vec<u64>>,
}

impl Results {
    pub(crate) fn all(&self) -> Vec<RecordResult> {
        self.results.lock().unwrap().clone()
    }

    pub(crate) fn states(&self) -> BTreeMap<&'static str, usize> {
        let mut out = BTreeMap::new();
        for r in self.all() {
            *out.entry(r.state.as_str()).or_default() += 1;
        }
        out
    }
}

#[async_trait]
impl ImportJournal for Results {
    async fn checkpoint(
        &self,
        results: &[RecordResult],
        position: u64,
        _stats: &ImportStats,
    ) -> Result<(), SyncError> {
        self.results.lock().unwrap().extend_from_slice(results);
        self.positions.lock().unwrap().push(position);
        Ok(())
    }

    async fn cancel_requested(&self) -> bool {
        false
    }
}

pub(crate) struct Users(pub(crate) HashMap<String, String>);

#[async_trait]
impl UserDirectory for Users {
    async fn account_id(&self, email: &str) -> Result<Option<String>, String> {
        Ok(self.0.get(email).cloned())
    }
}

pub(crate) fn mapping(text: &str) -> Mapping {
    Mapping::from_toml(text).unwrap_or_else(|p| panic!("{p:?}"))
}

const CREATE: &str = r#"
operation = "create"
project = "DEMO"
issue_type = "Story"
[external_id]
source = "ref"
label_prefix = "ext-"
[fields]
summary = "title"
"Story Points" = "points"
Team = { const = "Platform" }
labels = { source = "tags", split = ";" }
description = { source = "body", format = "markdown" }
"#;

fn csv(rows: usize, tag: &str) -> String {
    let mut out = String::from("ref,title,points,tags,body\n");
    for n in 0..rows {
        out.push_str(&format!(
            "{tag}-{n},Imported {n},{n},imported-{tag};batch-{},**bold** {n}\n",
            n / 50
        ));
    }
    out
}

impl Env {
    pub(crate) async fn import(
        &self,
        mapping: &Mapping,
        format: InputFormat,
        input: String,
        ledger: &dyn ImportLedger,
        run_id: &str,
        dry_run: bool,
    ) -> (Result<ImportOutcome, SyncError>, Results) {
        self.import_in(mapping, format, input, ledger, run_id, dry_run, None)
            .await
    }

    /// An import whose attachments are read from `attachment_dir`.
    #[allow(clippy::too_many_arguments, reason = "a test helper")]
    pub(crate) async fn import_in(
        &self,
        mapping: &Mapping,
        format: InputFormat,
        input: String,
        ledger: &dyn ImportLedger,
        run_id: &str,
        dry_run: bool,
        attachment_dir: Option<std::path::PathBuf>,
    ) -> (Result<ImportOutcome, SyncError>, Results) {
        let journal = Results::default();
        let users = Users(HashMap::new());
        let outcome = run_import(ImportJob {
            client: &self.client,
            mapping,
            source: reader(format, std::io::Cursor::new(input.into_bytes())),
            ledger,
            ledger_scope: "test",
            run_id,
            journal: &journal,
            progress: &NoImportProgress,
            users: &users,
            clock: Arc::new(self.clock.clone()),
            concurrency: 4,
            resume_from: 0,
            stats: ImportStats::default(),
            search_lag: Duration::from_secs(30),
            dry_run,
            attachment_dir,
        })
        .await;
        (outcome, journal)
    }

    /// Issues matching `jql` (after the search caught up), as (external id, key): the
    /// `ext-` label's id, or the Customer Reference.
    async fn found(&self, jql: &str) -> Vec<(String, String)> {
        self.advance(60);
        let (status, body) = self
            .http(
                Method::POST,
                "/search/jql",
                Some(json!({
                    "jql": jql,
                    "fields": ["customfield_10015", "labels"],
                    "maxResults": 5000
                })),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        let mut out: Vec<(String, String)> = body["issues"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| {
                let label = i["fields"]["labels"]
                    .as_array()
                    .and_then(|l| {
                        l.iter()
                            .filter_map(|v| v.as_str())
                            .find_map(|v| v.strip_prefix("ext-"))
                    })
                    .map(str::to_owned);
                let reference = i["fields"]["customfield_10015"].as_str().map(str::to_owned);
                (
                    label.or(reference).unwrap_or_default(),
                    i["key"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        out.sort();
        out
    }

    /// The issues imported with `csv(_, tag)`.
    async fn imported(&self, tag: &str) -> Vec<(String, String)> {
        self.found(&format!("project = DEMO AND labels = \"imported-{tag}\""))
            .await
    }
}

#[tokio::test]
async fn creates_in_bulk_and_accounts_for_every_record() {
    let env = Env::start(SimConfig::for_tests()).await;
    let mut input = csv(120, "bulk");
    // A number that is not one, and a record without a summary (Jira refuses it).
    input.push_str("bulk-bad,Bad points,many,,\n");
    input.push_str("bulk-nosummary,,3,,\n");
    let ledger = MemoryLedger::default();
    let (outcome, results) = env
        .import(
            &mapping(CREATE),
            InputFormat::Csv,
            input,
            &ledger,
            "run-1",
            false,
        )
        .await;
    let outcome = outcome.unwrap();
    assert_eq!(outcome.stats.read, 122);
    assert_eq!(outcome.stats.created, 120);
    assert_eq!(outcome.stats.failed, 2);
    assert_eq!(outcome.stats.bulk_requests, 3, "batches of 50");
    let all = results.all();
    assert_eq!(all.len(), 122, "one result per record");
    let lines: Vec<u64> = all.iter().map(|r| r.line).collect();
    assert_eq!(
        lines,
        (2..=123).collect::<Vec<_>>(),
        "in input order, with lines"
    );
    let bad = &all[120];
    assert_eq!(bad.state, RecordState::Failed);
    assert_eq!(
        bad.errors["Story Points"],
        "expected a number, found \"many\""
    );
    let nosummary = &all[121];
    assert_eq!(nosummary.state, RecordState::Failed);
    assert!(
        nosummary.errors.contains_key("summary") || nosummary.message.is_some(),
        "{nosummary:?}"
    );
    let imported = env.imported("bulk").await;
    assert_eq!(imported.len(), 120);
    // Each result names the issue holding its record.
    let by_ref: HashMap<&str, &str> = imported
        .iter()
        .map(|(r, k)| (r.as_str(), k.as_str()))
        .collect();
    for r in &all[..120] {
        assert_eq!(r.state, RecordState::Created);
        assert_eq!(
            by_ref.get(r.external_id.as_deref().unwrap()).copied(),
            r.key.as_deref()
        );
    }
    // The issue carries the converted values and the import's mark.
    let key = all[7].key.clone().unwrap();
    let (_, issue) = env
        .http(
            Method::GET,
            &format!("/issue/{key}?fields=customfield_10010,customfield_10011,labels,description&properties=jiralink.import"),
            None,
        )
        .await;
    assert_eq!(issue["fields"]["customfield_10010"].as_f64(), Some(7.0));
    assert_eq!(issue["fields"]["customfield_10011"]["value"], "Platform");
    assert_eq!(
        issue["fields"]["labels"],
        json!(["imported-bulk", "batch-0", "ext-bulk-7"])
    );
    assert_eq!(
        issue["fields"]["description"]["content"][0]["content"][0]["marks"][0]["type"],
        "strong"
    );
    assert_eq!(
        issue["properties"]["jiralink.import"],
        json!({"ledger": "test", "record": "x:bulk-7"})
    );
    // A re-run creates nothing: every record is skipped, with its issue.
    let (again, results) = env
        .import(
            &mapping(CREATE),
            InputFormat::Csv,
            csv(120, "bulk"),
            &ledger,
            "run-2",
            false,
        )
        .await;
    assert_eq!(again.unwrap().stats.skipped, 120);
    assert_eq!(results.states(), BTreeMap::from([("skipped", 120)]));
    assert_eq!(env.imported("bulk").await.len(), 120);
}

#[tokio::test]
async fn upsert_updates_what_exists_and_creates_the_rest() {
    let env = Env::start(SimConfig::for_tests()).await;
    // One issue made outside jiralink with the reference, found by search.
    let (status, made) = env
        .http(
            Method::POST,
            "/issue",
            Some(json!({"fields": {"project": {"key": "HELP"}, "issuetype": {"name": "Service Request"},
                "summary": "Made by hand", "customfield_10015": "up-1"}})),
        )
        .await;
    assert_eq!(status, 201, "{made}");
    env.advance(120);
    let upsert = r#"
operation = "upsert"
project = "HELP"
issue_type = "Service Request"
key = "key"
[external_id]
source = "ref"
field = "Customer Reference"
[fields]
summary = "title"
"#;
    let input = format!(
        "{}\n{}\n{}\n",
        json!({"ref": "up-1", "title": "Updated by import"}),
        json!({"ref": "up-2", "title": "New from import"}),
        json!({"key": "HELP-1", "title": "By key"}),
    );
    let ledger = MemoryLedger::default();
    let (outcome, results) = env
        .import(
            &mapping(upsert),
            InputFormat::Ndjson,
            input.clone(),
            &ledger,
            "r1",
            false,
        )
        .await;
    let stats = outcome.unwrap().stats;
    assert_eq!((stats.updated, stats.created), (2, 1));
    let all = results.all();
    assert_eq!(all[0].key.as_deref(), made["key"].as_str());
    assert_eq!(all[0].state, RecordState::Updated);
    assert_eq!(all[1].state, RecordState::Created);
    assert_eq!(all[2].key.as_deref(), Some("HELP-1"));
    let (_, one) = env
        .http(Method::GET, "/issue/HELP-1?fields=summary", None)
        .await;
    assert_eq!(one["fields"]["summary"], "By key");
    // Again: the created one is found in the ledger and updated, not created twice.
    let (outcome, results) = env
        .import(
            &mapping(upsert),
            InputFormat::Ndjson,
            input.clone(),
            &ledger,
            "r2",
            false,
        )
        .await;
    assert_eq!(outcome.unwrap().stats.updated, 3);
    assert_eq!(results.all()[1].key, all[1].key);
    let found = env
        .found("project = HELP AND \"Customer Reference\" ~ \"up\"")
        .await;
    assert_eq!(
        found.iter().filter(|(r, _)| r.starts_with("up-")).count(),
        2,
        "{found:?}"
    );
    // ignore_existing leaves them all alone.
    let ignoring = upsert.replace("key = \"key\"", "key = \"key\"\nignore_existing = true");
    let (outcome, _) = env
        .import(
            &mapping(&ignoring),
            InputFormat::Ndjson,
            input,
            &ledger,
            "r3",
            false,
        )
        .await;
    assert_eq!(outcome.unwrap().stats.skipped, 3);
}

#[tokio::test]
async fn a_lost_bulk_answer_is_looked_up_not_sent_again() {
    let env = Env::start(SimConfig::for_tests()).await;
    env.control()
        .update_knobs(|k| k.index_lag_secs = 10)
        .unwrap();
    // The first bulk create is applied, then its answer lost.
    env.control().lose_next_for(1, &[Method::POST]);
    let ledger = MemoryLedger::default();
    let (outcome, results) = env
        .import(
            &mapping(CREATE),
            InputFormat::Csv,
            csv(60, "lost"),
            &ledger,
            "r1",
            false,
        )
        .await;
    let stats = outcome.unwrap().stats;
    assert_eq!(stats.created, 60);
    assert_eq!((stats.uncertain_checked, stats.uncertain_found), (50, 50));
    assert_eq!(results.states(), BTreeMap::from([("created", 60)]));
    let imported = env.imported("lost").await;
    assert_eq!(imported.len(), 60, "each record once: {imported:?}");
    assert!(
        ledger
            .entries()
            .values()
            .all(|e| e.state == LedgerState::Done)
    );
}

#[tokio::test]
async fn an_uncertain_create_left_by_a_crash_is_settled_before_anything_else() {
    let env = Env::start(SimConfig::for_tests()).await;
    let m = mapping(CREATE);
    // A crash after Jira's 201 and before the ledger write: the issue exists, marked, and the
    // ledger says only that its create was sent.
    let (status, _) = env
        .http(
            Method::POST,
            "/issue",
            Some(json!({"fields": {"project": {"key": "DEMO"}, "issuetype": {"name": "Story"},
                "summary": "Imported 0", "labels": ["ext-crash-0", "imported-crash"]},
                "properties": [{"key": "jiralink.import", "value": {"ledger": "test", "record": "x:crash-0"}}]})),
        )
        .await;
    assert_eq!(status, 201);
    let sent = env.control().now().unix_timestamp() * 1000;
    let ledger = MemoryLedger::default();
    let uncertain = |_: ()| LedgerEntry {
        state: LedgerState::Uncertain,
        issue_key: None,
        issue_id: None,
        run_id: "crashed".into(),
        at_ms: sent,
    };
    ledger
        .put(&[
            (
                identity(Some("crash-0"), &serde_json::Map::new()),
                uncertain(()),
            ),
            // A crash before the request left: nothing exists.
            (
                identity(Some("crash-1"), &serde_json::Map::new()),
                uncertain(()),
            ),
        ])
        .await
        .unwrap();
    let (outcome, results) = env
        .import(&m, InputFormat::Csv, csv(3, "crash"), &ledger, "r2", false)
        .await;
    let stats = outcome.unwrap().stats;
    assert_eq!((stats.uncertain_checked, stats.uncertain_found), (2, 1));
    let all = results.all();
    assert_eq!(all[0].state, RecordState::Skipped, "{:?}", all[0]);
    assert_eq!(all[1].state, RecordState::Created);
    assert_eq!(all[2].state, RecordState::Created);
    assert_eq!(env.imported("crash").await.len(), 3, "no duplicate");
}

/// The same, resumed by the run that sent the create (a saved import's run taken over by
/// another process once the dead one's lease ran out): the record is the run's own create.
#[tokio::test]
async fn a_resumed_run_reports_its_own_settled_create_as_created() {
    let env = Env::start(SimConfig::for_tests()).await;
    let m = mapping(CREATE);
    let (status, _) = env
        .http(
            Method::POST,
            "/issue",
            Some(json!({"fields": {"project": {"key": "DEMO"}, "issuetype": {"name": "Story"},
                "summary": "Imported 0", "labels": ["ext-own-0", "imported-own"]},
                "properties": [{"key": "jiralink.import", "value": {"ledger": "test", "record": "x:own-0"}}]})),
        )
        .await;
    assert_eq!(status, 201);
    let sent = env.control().now().unix_timestamp() * 1000;
    let ledger = MemoryLedger::default();
    ledger
        .put(&[(
            identity(Some("own-0"), &serde_json::Map::new()),
            LedgerEntry {
                state: LedgerState::Uncertain,
                issue_key: None,
                issue_id: None,
                run_id: "r1".into(),
                at_ms: sent,
            },
        )])
        .await
        .unwrap();
    env.advance(61);
    let (outcome, results) = env
        .import(&m, InputFormat::Csv, csv(2, "own"), &ledger, "r1", false)
        .await;
    let stats = outcome.unwrap().stats;
    assert_eq!(
        (stats.uncertain_found, stats.created, stats.skipped),
        (1, 2, 0)
    );
    assert!(
        results
            .all()
            .iter()
            .all(|r| r.state == RecordState::Created),
        "{:?}",
        results.all()
    );
    assert_eq!(env.imported("own").await.len(), 2, "no duplicate");
}

#[tokio::test]
async fn mapping_problems_are_listed_before_anything_is_sent() {
    let env = Env::start(SimConfig::for_tests()).await;
    let m = mapping(
        r#"
operation = "create"
project = "DEMO"
issue_type = "Task"
[fields]
summary = "t"
Team = { const = "Nobody" }
"No such field" = "x"
"#,
    );
    env.control().clear_requests();
    let users = Users(HashMap::new());
    let err = check_mapping(&env.client, &m, &users).await.unwrap_err();
    let SyncError::InvalidSpec(text) = err else {
        panic!("{err:?}");
    };
    assert!(
        text.contains("\"Nobody\" is not an allowed value"),
        "{text}"
    );
    assert!(
        text.contains("no Jira field is called \"No such field\""),
        "{text}"
    );
    let writes = env
        .control()
        .requests()
        .into_iter()
        .filter(|r| r.method != "GET")
        .count();
    assert_eq!(writes, 0);
    let wrong_type = mapping(&CREATE.replace("\"Story\"", "\"Saga\""));
    let err = check_mapping(&env.client, &wrong_type, &users)
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("has no issue type \"Saga\""),
        "{err}"
    );
}

#[tokio::test]
async fn a_dry_run_writes_nothing_and_shows_each_request() {
    let env = Env::start(SimConfig::for_tests()).await;
    env.control().clear_requests();
    let ledger = MemoryLedger::default();
    let (outcome, results) = env
        .import(
            &mapping(CREATE),
            InputFormat::Csv,
            csv(3, "dry"),
            &ledger,
            "dry",
            true,
        )
        .await;
    assert_eq!(outcome.unwrap().stats.would_create, 3);
    let first = &results.all()[0];
    assert_eq!(first.state, RecordState::WouldCreate);
    let request = first.request.clone().unwrap();
    assert_eq!(request["fields"]["summary"], "Imported 0");
    assert_eq!(
        request["fields"]["customfield_10011"],
        json!({"id": "10100"})
    );
    assert!(
        env.control().requests().iter().all(|r| r.method == "GET"),
        "only reads"
    );
    assert!(ledger.entries().is_empty());
}

#[tokio::test]
async fn a_rate_limited_bulk_create_waits_and_is_sent_again() {
    let env = Env::start(SimConfig::for_tests()).await;
    // One POST a second: the second and third bulk creates of the run meet a 429.
    env.control().update_knobs(|k| k.burst.post = 1).unwrap();
    let ledger = MemoryLedger::default();
    let before = env.control().now();
    let (outcome, results) = env
        .import(
            &mapping(CREATE),
            InputFormat::Csv,
            csv(120, "rl"),
            &ledger,
            "r",
            false,
        )
        .await;
    let stats = outcome.unwrap().stats;
    assert_eq!(stats.created, 120, "{:?}", results.states());
    assert_eq!(stats.rate_limit_waits, 2);
    assert_eq!(stats.bulk_requests, 3, "a refused request is counted once");
    assert!(
        env.control().now() > before,
        "the waits passed on the shared clock"
    );
    assert_eq!(env.imported("rl").await.len(), 120);
}

#[tokio::test]
async fn records_without_an_external_id_are_found_by_their_mark_after_a_lost_answer() {
    let env = Env::start(SimConfig::for_tests()).await;
    env.control()
        .update_knobs(|k| k.index_lag_secs = 10)
        .unwrap();
    let plain = mapping(
        r#"
operation = "create"
project = "DEMO"
issue_type = "Task"
[fields]
summary = "title"
labels = { source = "tags", split = ";" }
"#,
    );
    env.control().lose_next_for(1, &[Method::POST]);
    let ledger = MemoryLedger::default();
    let (outcome, results) = env
        .import(
            &plain,
            InputFormat::Csv,
            csv(7, "plain"),
            &ledger,
            "r1",
            false,
        )
        .await;
    let stats = outcome.unwrap().stats;
    assert_eq!((stats.created, stats.uncertain_found), (7, 7));
    assert_eq!(results.states(), BTreeMap::from([("created", 7)]));
    assert_eq!(env.imported("plain").await.len(), 7);
    // The same records again: their content hashes are in the ledger.
    let (again, _) = env
        .import(
            &plain,
            InputFormat::Csv,
            csv(7, "plain"),
            &ledger,
            "r2",
            false,
        )
        .await;
    assert_eq!(again.unwrap().stats.skipped, 7);
    assert_eq!(env.imported("plain").await.len(), 7);
}

/// Two identical rows of one input, without an external id, are one record's identity: the
/// first creates the issue, the second is reported as the same record, not as created too.
#[tokio::test]
async fn a_repeated_row_is_reported_as_the_same_record_not_created_twice() {
    let env = Env::start(SimConfig::for_tests()).await;
    let plain = mapping(
        r#"
operation = "create"
project = "DEMO"
issue_type = "Task"
[fields]
summary = "title"
labels = { source = "tags", split = ";" }
"#,
    );
    let mut input = csv(3, "twice");
    let repeated = input.lines().nth(2).unwrap().to_owned();
    input.push_str(&repeated);
    input.push('\n');
    let ledger = MemoryLedger::default();
    let (outcome, results) = env
        .import(&plain, InputFormat::Csv, input, &ledger, "r1", false)
        .await;
    let stats = outcome.unwrap().stats;
    assert_eq!((stats.created, stats.skipped), (3, 1));
    let all = results.all();
    let last = all.iter().find(|r| r.line == 5).unwrap();
    assert_eq!(last.state.as_str(), "skipped");
    assert!(
        last.message
            .as_deref()
            .is_some_and(|m| m.contains("the same record as an earlier one")),
        "{last:?}"
    );
    let first = all.iter().find(|r| r.line == 3).unwrap();
    assert_eq!(
        last.key, first.key,
        "it names the issue the first one created"
    );
    assert_eq!(env.imported("twice").await.len(), 3);
}

#[tokio::test]
async fn records_naming_one_issue_are_written_in_input_order() {
    let env = Env::start(SimConfig::for_tests()).await;
    let update = mapping(
        r#"
operation = "update"
key = "key"
[fields]
summary = "title"
"#,
    );
    // Three records for DEMO-2 in one batch, among others: the last one must win.
    let mut input = String::new();
    for (n, key) in ["DEMO-2", "DEMO-3", "DEMO-2", "DEMO-4", "DEMO-2"]
        .iter()
        .enumerate()
    {
        input.push_str(&format!(
            "{}\n",
            json!({"key": key, "title": format!("Edit {n}")})
        ));
    }
    let ledger = MemoryLedger::default();
    let (outcome, results) = env
        .import(&update, InputFormat::Ndjson, input, &ledger, "r", false)
        .await;
    assert_eq!(outcome.unwrap().stats.updated, 5);
    let lines: Vec<u64> = results.all().iter().map(|r| r.line).collect();
    assert_eq!(
        lines,
        vec![1, 2, 3, 4, 5],
        "each record once, in input order"
    );
    let (_, issue) = env
        .http(Method::GET, "/issue/DEMO-2?fields=summary", None)
        .await;
    assert_eq!(issue["fields"]["summary"], "Edit 4");
}

#[tokio::test]
async fn updates_keep_the_labels_people_gave_an_issue() {
    let env = Env::start(SimConfig::for_tests()).await;
    let upsert = mapping(
        r#"
operation = "upsert"
project = "DEMO"
issue_type = "Task"
[external_id]
source = "id"
label_prefix = "keep-"
[fields]
summary = "title"
"#,
    );
    let input = format!("{}\n", json!({"id": "1", "title": "First"}));
    let ledger = MemoryLedger::default();
    let (outcome, results) = env
        .import(&upsert, InputFormat::Ndjson, input, &ledger, "r1", false)
        .await;
    assert_eq!(outcome.unwrap().stats.created, 1);
    let key = results.all()[0].key.clone().unwrap();
    let (status, _) = env
        .http(
            Method::PUT,
            &format!("/issue/{key}"),
            Some(json!({"update": {"labels": [{"add": "triaged"}]}})),
        )
        .await;
    assert_eq!(status, 204);
    let input = format!("{}\n", json!({"id": "1", "title": "Second"}));
    let (outcome, _) = env
        .import(&upsert, InputFormat::Ndjson, input, &ledger, "r2", false)
        .await;
    assert_eq!(outcome.unwrap().stats.updated, 1);
    let (_, issue) = env
        .http(
            Method::GET,
            &format!("/issue/{key}?fields=summary,labels"),
            None,
        )
        .await;
    assert_eq!(issue["fields"]["summary"], "Second");
    let mut labels: Vec<&str> = issue["fields"]["labels"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    labels.sort_unstable();
    assert_eq!(labels, ["keep-1", "triaged"]);
}

#[tokio::test]
async fn ignore_missing_skips_new_records_and_two_issues_with_one_id_fail_the_record() {
    let env = Env::start(SimConfig::for_tests()).await;
    // Two issues carry the same external id: updating one of them would be a guess.
    for summary in ["Twin one", "Twin two"] {
        let (status, _) = env
            .http(
                Method::POST,
                "/issue",
                Some(
                    json!({"fields": {"project": {"key": "DEMO"}, "issuetype": {"name": "Task"},
                    "summary": summary, "labels": ["miss-twin"]}}),
                ),
            )
            .await;
        assert_eq!(status, 201);
    }
    env.advance(60);
    let upsert = mapping(
        r#"
operation = "upsert"
project = "DEMO"
issue_type = "Task"
ignore_missing = true
[external_id]
source = "id"
label_prefix = "miss-"
[fields]
summary = "title"
"#,
    );
    let input = format!(
        "{}\n{}\n",
        json!({"id": "new", "title": "Not in Jira"}),
        json!({"id": "twin", "title": "Which one?"}),
    );
    let ledger = MemoryLedger::default();
    let (outcome, results) = env
        .import(&upsert, InputFormat::Ndjson, input, &ledger, "r", false)
        .await;
    let stats = outcome.unwrap().stats;
    assert_eq!((stats.skipped, stats.failed, stats.created), (1, 1, 0));
    let all = results.all();
    assert_eq!(all[0].state, RecordState::Skipped);
    assert!(
        all[0]
            .message
            .as_deref()
            .unwrap_or("")
            .contains("ignore_missing"),
        "{:?}",
        all[0]
    );
    assert_eq!(all[1].state, RecordState::Failed);
    assert!(
        all[1]
            .message
            .as_deref()
            .unwrap_or("")
            .contains("several issues"),
        "{:?}",
        all[1]
    );
}

/// An upsert whose external id is kept in the issue property `crm.ticket`.
const BY_PROPERTY: &str = r#"
operation = "upsert"
project = "HELP"
issue_type = "Service Request"
[external_id]
source = "ref"
property = "crm.ticket"
[fields]
summary = "title"
"#;

impl Env {
    /// The value of issue property `property` of `key`.
    async fn property(&self, key: &str, property: &str) -> Value {
        let (status, body) = self
            .http(
                Method::GET,
                &format!("/issue/{key}/properties/{property}"),
                None,
            )
            .await;
        assert_eq!(status, 200, "{body}");
        body["value"].clone()
    }
}

#[tokio::test]
async fn an_external_id_in_a_property_is_found_by_reading_the_project() {
    let env = Env::start(SimConfig::for_tests()).await;
    // One issue made by hand with the id, and two that claim one id.
    let mut made = Vec::new();
    for (summary, id) in [
        ("By hand", "crm-1"),
        ("Twin one", "crm-twin"),
        ("Twin two", "crm-twin"),
    ] {
        let (status, body) = env
            .http(
                Method::POST,
                "/issue",
                Some(json!({
                    "fields": {"project": {"key": "HELP"}, "issuetype": {"name": "Service Request"},
                        "summary": summary},
                    "properties": [{"key": "crm.ticket", "value": {"id": id}}],
                })),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        made.push(body["key"].as_str().unwrap().to_owned());
    }
    // Another case is another id.
    let (status, _) = env
        .http(
            Method::PUT,
            &format!("/issue/{}/properties/crm.ticket", made[1]),
            Some(json!({"id": "CRM-TWIN"})),
        )
        .await;
    assert!(status == 200 || status == 201, "{status}");
    env.advance(60);
    let input = |suffix: &str| {
        format!(
            "{}\n{}\n{}\n",
            json!({"ref": "crm-1", "title": format!("Updated {suffix}")}),
            json!({"ref": "crm-2", "title": format!("New {suffix}")}),
            json!({"ref": "crm-twin", "title": "Which one?"}),
        )
    };
    let first_ledger = MemoryLedger::default();
    let (outcome, results) = env
        .import(
            &mapping(BY_PROPERTY),
            InputFormat::Ndjson,
            input("once"),
            &first_ledger,
            "r1",
            false,
        )
        .await;
    let stats = outcome.unwrap().stats;
    let all = results.all();
    assert_eq!(
        (stats.updated, stats.created, stats.failed),
        (2, 1, 0),
        "{all:?}"
    );
    assert_eq!(all[0].state, RecordState::Updated);
    assert_eq!(all[0].key.as_deref(), Some(made[0].as_str()));
    assert_eq!(all[1].state, RecordState::Created);
    // {"id": "CRM-TWIN"} is not the id: one issue claims it.
    assert_eq!(all[2].state, RecordState::Updated, "{:?}", all[2]);
    assert_eq!(all[2].key.as_deref(), Some(made[2].as_str()));
    let created = all[1].key.clone().unwrap();
    assert_eq!(
        env.property(&created, "crm.ticket").await,
        json!({"id": "crm-2"})
    );

    // Now two issues claim crm-twin, and crm-2's issue is not in a fresh ledger: it is found
    // through the property, not created again.
    let (status, _) = env
        .http(
            Method::PUT,
            &format!("/issue/{}/properties/crm.ticket", made[1]),
            Some(json!({"id": "crm-twin"})),
        )
        .await;
    assert!(status == 200 || status == 201, "{status}");
    env.advance(60);
    let fresh = MemoryLedger::default();
    let (outcome, results) = env
        .import(
            &mapping(BY_PROPERTY),
            InputFormat::Ndjson,
            input("twice"),
            &fresh,
            "r2",
            false,
        )
        .await;
    let stats = outcome.unwrap().stats;
    let all = results.all();
    assert_eq!(
        (stats.updated, stats.created, stats.failed),
        (2, 0, 1),
        "{all:?}"
    );
    assert_eq!(all[1].key.as_deref(), Some(created.as_str()));
    assert!(fresh.entries().is_empty(), "nothing created");
    let (_, issue) = env
        .http(
            Method::GET,
            &format!("/issue/{created}?fields=summary"),
            None,
        )
        .await;
    assert_eq!(issue["fields"]["summary"], "New twice");
    assert_eq!(all[2].state, RecordState::Failed);
    assert!(
        all[2]
            .message
            .as_deref()
            .unwrap_or("")
            .contains("several issues"),
        "{:?}",
        all[2]
    );

    // An update writes the property again: someone changed it, the ledger finds the issue.
    let (status, _) = env
        .http(
            Method::PUT,
            &format!("/issue/{created}/properties/crm.ticket"),
            Some(json!({"id": "changed"})),
        )
        .await;
    assert!(status == 200 || status == 201, "{status}");
    let (outcome, results) = env
        .import(
            &mapping(BY_PROPERTY),
            InputFormat::Ndjson,
            input("thrice"),
            &first_ledger,
            "r3",
            false,
        )
        .await;
    outcome.unwrap();
    assert_eq!(results.all()[1].key.as_deref(), Some(created.as_str()));
    assert_eq!(
        env.property(&created, "crm.ticket").await,
        json!({"id": "crm-2"})
    );

    // A dry run shows the property with the request.
    let (outcome, results) = env
        .import(
            &mapping(BY_PROPERTY),
            InputFormat::Ndjson,
            format!("{}\n", json!({"ref": "crm-3", "title": "Not yet"})),
            &MemoryLedger::default(),
            "r4",
            true,
        )
        .await;
    outcome.unwrap();
    assert_eq!(
        results.all()[0]
            .request
            .as_ref()
            .map(|r| r["properties"].clone()),
        Some(json!([{"key": "crm.ticket", "value": {"id": "crm-3"}}]))
    );
}

#[tokio::test]
async fn a_lost_bulk_answer_is_settled_by_reading_the_project_for_a_property_id() {
    let env = Env::start(SimConfig::for_tests()).await;
    env.control()
        .update_knobs(|k| k.index_lag_secs = 10)
        .unwrap();
    // The first bulk create is applied, then its answer lost.
    env.control().lose_next_for(1, &[Method::POST]);
    let by_property = CREATE.replace("label_prefix = \"ext-\"", "property = \"crm.ticket\"");
    let ledger = MemoryLedger::default();
    let (outcome, results) = env
        .import(
            &mapping(&by_property),
            InputFormat::Csv,
            csv(60, "plost"),
            &ledger,
            "r1",
            false,
        )
        .await;
    let stats = outcome.unwrap().stats;
    assert_eq!(stats.created, 60);
    assert_eq!((stats.uncertain_checked, stats.uncertain_found), (50, 50));
    assert_eq!(results.states(), BTreeMap::from([("created", 60)]));
    let all = results.all();
    env.advance(60);
    let (status, body) = env
        .http(
            Method::POST,
            "/search/jql",
            Some(json!({
                "jql": "project = DEMO AND labels = \"imported-plost\"",
                "properties": ["crm.ticket"],
                "maxResults": 100
            })),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let mut ids: Vec<String> = body["issues"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            i["properties"]["crm.ticket"]["id"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    ids.sort();
    let mut expected: Vec<String> = (0..60).map(|n| format!("plost-{n}")).collect();
    expected.sort();
    assert_eq!(ids, expected, "each record once, with its id");
    assert_eq!(
        env.property(all[7].key.as_deref().unwrap(), "crm.ticket")
            .await,
        json!({"id": "plost-7"})
    );
    assert!(
        ledger
            .entries()
            .values()
            .all(|e| e.state == LedgerState::Done)
    );
}
