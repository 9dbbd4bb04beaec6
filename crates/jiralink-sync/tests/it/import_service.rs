//! Service Management imports against the simulator: JSM customer requests, customers and
//! organizations, CSM customer and organization profiles; re-runs skip, lost answers create
//! nothing twice, an unknown request type is refused before anything is sent.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use futures::TryStreamExt;
use jiralink_atlassian::{
    ApiBase, AuthRoute, Credentials, HttpConfig, JiraClient, RetryPolicy, SearchRequest,
    build_client,
};
use jiralink_domain::{ApiType, AtlassianEndpoints, Email, Subdomain};
use jiralink_sim::SimConfig;
use jiralink_sync::SyncError;
use jiralink_sync::import::{
    ImportJob, ImportJournal, ImportOutcome, ImportStats, InputFormat, Mapping, MemoryLedger,
    NoImportProgress, RecordResult, UserDirectory, reader, run_import,
};
use jiralink_vault::ApiToken;
use reqwest::Method;
use url::Url;

use crate::Env;

#[derive(Default)]
struct Journal(Mutex<Vec<RecordResult>>);

impl Journal {
    fn all(&self) -> Vec<RecordResult> {
        self.0.lock().unwrap().clone()
    }

    fn states(&self) -> BTreeMap<&'static str, usize> {
        let mut out = BTreeMap::new();
        for r in self.all() {
            *out.entry(r.state.as_str()).or_default() += 1;
        }
        out
    }
}

#[async_trait]
impl ImportJournal for Journal {
    async fn checkpoint(
        &self,
        results: &[RecordResult],
        _position: u64,
        _stats: &ImportStats,
    ) -> Result<(), SyncError> {
        self.0.lock().unwrap().extend_from_slice(results);
        Ok(())
    }

    async fn cancel_requested(&self) -> bool {
        false
    }
}

struct NoUsers;

#[async_trait]
impl UserDirectory for NoUsers {
    async fn account_id(&self, _email: &str) -> Result<Option<String>, String> {
        Ok(None)
    }
}

fn mapping(text: &str) -> Mapping {
    Mapping::from_toml(text).unwrap_or_else(|p| panic!("{p:?}"))
}

/// A client of the simulator's CSM API for `demo`.
fn csm_client(env: &Env) -> JiraClient {
    let cloud_id = env.control().site("demo").unwrap().cloud_id.to_string();
    let endpoints = AtlassianEndpoints {
        site_url_template: env.sim.site_url_template(),
        api_gateway: Url::parse(&env.sim.api_gateway()).unwrap(),
        auth_server: Url::parse(&env.sim.auth_server()).unwrap(),
    };
    let base = ApiBase::resolve(
        &endpoints,
        ApiType::CustomerServiceManagement,
        AuthRoute::BasicClassic,
        Some(&Subdomain::from_label("demo").unwrap()),
        Some(&cloud_id),
    )
    .unwrap();
    let credentials =
        Credentials::basic(Email::parse(&env.email).unwrap(), ApiToken::new(&env.token));
    JiraClient::builder(
        build_client(&HttpConfig::default()).unwrap(),
        base,
        credentials,
    )
    .clock(Arc::new(env.clock.clone()))
    .retry_policy(RetryPolicy {
        jitter: 1.0..=1.0,
        ..RetryPolicy::default()
    })
    .build()
}

async fn import(
    env: &Env,
    client: &JiraClient,
    mapping: &Mapping,
    input: &str,
    ledger: &MemoryLedger,
    run_id: &str,
) -> (Result<ImportOutcome, SyncError>, Journal) {
    let journal = Journal::default();
    let outcome = run_import(ImportJob {
        client,
        mapping,
        source: reader(
            InputFormat::Csv,
            std::io::Cursor::new(input.as_bytes().to_vec()),
        ),
        ledger,
        ledger_scope: "svc-test",
        run_id,
        journal: &journal,
        progress: &NoImportProgress,
        users: &NoUsers,
        clock: Arc::new(env.clock.clone()),
        concurrency: 4,
        resume_from: 0,
        stats: ImportStats::default(),
        search_lag: Duration::from_secs(30),
        dry_run: false,
        attachment_dir: None,
    })
    .await;
    (outcome, journal)
}

/// Summaries of the `HELP` issues whose summary starts with `prefix`, with how many each.
async fn help_summaries(env: &Env, prefix: &str) -> HashMap<String, usize> {
    env.advance(60);
    let request = SearchRequest {
        jql: "project = HELP ORDER BY created ASC".into(),
        fields: vec!["summary".into()],
        max_results: Some(100),
        ..SearchRequest::default()
    };
    let issues: Vec<_> = env.client.search_jql(request).try_collect().await.unwrap();
    let mut out = HashMap::new();
    for i in issues {
        let s = i.fields["summary"].as_str().unwrap_or_default().to_owned();
        if s.starts_with(prefix) {
            *out.entry(s).or_default() += 1;
        }
    }
    out
}

const REQUESTS: &str = r#"
resource = "customer-requests"
service_desk = "HELP"
request_type = "Get IT help"
raise_on_behalf_of = "who"
[fields]
summary = "title"
"Why do you need this?" = { source = "body", default = "none" }
"#;

fn request_rows(n: usize, tag: &str, who: &str) -> String {
    let mut out = String::from("title,body,who\n");
    for i in 0..n {
        out.push_str(&format!("{tag} request {i},Details {i},{who}\n"));
    }
    out
}

async fn a_customer_email(env: &Env) -> String {
    let customers = env.client.desk_customers("1").await.unwrap();
    customers[0].email_address.clone().unwrap()
}

#[tokio::test]
async fn customer_requests_are_created_once_and_a_rerun_skips() {
    let env = Env::start(SimConfig::for_tests()).await;
    let fields = env.client.request_type_fields("1", "1").await.unwrap();
    let names: Vec<_> = fields
        .request_type_fields
        .iter()
        .map(|f| (f.field_id.clone(), f.name.clone()))
        .collect();
    let description = names
        .iter()
        .find(|(id, _)| id == "description")
        .map(|(_, n)| n.clone())
        .unwrap();
    let text = REQUESTS.replace("Why do you need this?", &description);
    let m = mapping(&text);
    let who = a_customer_email(&env).await;
    let input = request_rows(3, "Svc", &who);
    let ledger = MemoryLedger::default();
    let (outcome, journal) = import(&env, &env.client, &m, &input, &ledger, "r1").await;
    let stats = outcome.unwrap().stats;
    assert_eq!(stats.created, 3, "{:?}", journal.all());
    let first = journal.all();
    assert!(
        first
            .iter()
            .all(|r| r.key.as_deref().is_some_and(|k| k.starts_with("HELP-")))
    );
    assert_eq!(
        first.iter().map(|r| r.line).collect::<Vec<_>>(),
        vec![2, 3, 4]
    );
    let request = env
        .client
        .customer_request(first[0].key.as_deref().unwrap())
        .await
        .unwrap()
        .unwrap();
    let request: serde_json::Value = serde_json::from_str(request.get()).unwrap();
    assert_eq!(request["requestTypeId"], "1");
    assert_eq!(request["reporter"]["emailAddress"], who.as_str());

    let (outcome, journal) = import(&env, &env.client, &m, &input, &ledger, "r2").await;
    assert_eq!(outcome.unwrap().stats.created, 0);
    assert_eq!(journal.states(), BTreeMap::from([("skipped", 3)]));
    let found = help_summaries(&env, "Svc request").await;
    assert_eq!(found.len(), 3);
    assert!(found.values().all(|n| *n == 1), "{found:?}");
}

#[tokio::test]
async fn a_lost_request_answer_creates_nothing_twice() {
    let env = Env::start(SimConfig::for_tests()).await;
    let m = mapping(
        r#"
resource = "customer-requests"
service_desk = "HELP"
request_type = "Get IT help"
[fields]
summary = "title"
"#,
    );
    let input = "title\nLost request 0\nLost request 1\n";
    env.control()
        .lose_next_matching(1, &[Method::POST], Some("/servicedeskapi/request"));
    let ledger = MemoryLedger::default();
    let (outcome, journal) = import(&env, &env.client, &m, input, &ledger, "r1").await;
    let stats = outcome.unwrap().stats;
    assert_eq!(stats.created, 2, "{:?}", journal.all());
    assert_eq!((stats.uncertain_checked, stats.uncertain_found), (1, 1));
    let found = help_summaries(&env, "Lost request").await;
    assert_eq!(found.len(), 2);
    assert!(found.values().all(|n| *n == 1), "{found:?}");
}

#[tokio::test]
async fn an_unknown_request_type_is_refused_before_anything_is_sent() {
    let env = Env::start(SimConfig::for_tests()).await;
    let m = mapping(
        r#"
resource = "customer-requests"
service_desk = "HELP"
request_type = "Fix my coffee machine"
[fields]
summary = "title"
"#,
    );
    let ledger = MemoryLedger::default();
    let (outcome, journal) =
        import(&env, &env.client, &m, "title\nNever sent\n", &ledger, "r1").await;
    let Err(SyncError::InvalidSpec(why)) = outcome else {
        panic!("{outcome:?}");
    };
    assert!(
        why.contains("no request type \"Fix my coffee machine\""),
        "{why}"
    );
    assert!(why.contains("Get IT help"), "{why}");
    assert!(journal.all().is_empty());
    assert!(ledger.entries().is_empty());
    assert!(help_summaries(&env, "Never sent").await.is_empty());
    // An unknown field of a known type is refused as well.
    let m = mapping(
        r#"
resource = "customer-requests"
service_desk = "HELP"
request_type = "Get IT help"
[fields]
summary = "title"
"Shoe size" = "size"
"#,
    );
    let (outcome, _) = import(&env, &env.client, &m, "title,size\nx,1\n", &ledger, "r1").await;
    assert!(
        matches!(&outcome, Err(SyncError::InvalidSpec(w)) if w.contains("fields.Shoe size")),
        "{outcome:?}"
    );
}

const CUSTOMERS: &str = r#"
resource = "jsm-customers"
service_desk = "HELP"
[fields]
email = "mail"
displayName = "name"
"#;

#[tokio::test]
async fn jsm_customers_are_created_added_to_the_desk_and_a_rerun_skips() {
    let env = Env::start(SimConfig::for_tests()).await;
    let m = mapping(CUSTOMERS);
    let existing = a_customer_email(&env).await;
    let input = format!(
        "mail,name\nnew.one@import.example,New One\nnew.two@import.example,New Two\n{existing},Old\nnot-an-email,X\n"
    );
    let ledger = MemoryLedger::default();
    // The answer of the first add to the desk is lost: it is sent again (adding is repeatable).
    env.control()
        .lose_next_matching(1, &[Method::POST], Some("/servicedesk/1/customer"));
    let (outcome, journal) = import(&env, &env.client, &m, &input, &ledger, "r1").await;
    outcome.unwrap();
    assert_eq!(
        journal.states(),
        BTreeMap::from([("created", 2), ("failed", 1), ("skipped", 1)]),
        "{:?}",
        journal.all()
    );
    let desk: Vec<_> = env
        .client
        .desk_customers("1")
        .await
        .unwrap()
        .into_iter()
        .filter_map(|u| u.email_address)
        .collect();
    for e in ["new.one@import.example", "new.two@import.example"] {
        assert_eq!(
            desk.iter().filter(|d| d.as_str() == e).count(),
            1,
            "{desk:?}"
        );
    }
    let (outcome, journal) = import(&env, &env.client, &m, &input, &ledger, "r2").await;
    outcome.unwrap();
    assert_eq!(
        journal.states(),
        BTreeMap::from([("failed", 1), ("skipped", 3)]),
        "{:?}",
        journal.all()
    );
}

#[tokio::test]
async fn a_lost_customer_create_never_makes_a_second_account() {
    let env = Env::start(SimConfig::for_tests()).await;
    let m = mapping(CUSTOMERS);
    let input = "mail,name\nlost.one@import.example,Lost One\n";
    env.control()
        .lose_next_matching(1, &[Method::POST], Some("/servicedeskapi/customer"));
    let ledger = MemoryLedger::default();
    let (outcome, journal) = import(&env, &env.client, &m, input, &ledger, "r1").await;
    outcome.unwrap();
    let results = journal.all();
    // The repeat is refused (409): the account exists once; its id is not visible to a JSM
    // connection without the desk, so the record says so and stays uncertain in the ledger.
    assert_eq!(results[0].state.as_str(), "failed", "{results:?}");
    assert!(
        results[0]
            .message
            .as_deref()
            .unwrap()
            .contains("answer was lost"),
        "{results:?}"
    );
    let again = env
        .client
        .create_customer("lost.one@import.example", Some("Again"))
        .await;
    assert!(
        matches!(
            again,
            Err(jiralink_atlassian::AtlassianError::Conflict { .. })
        ),
        "{again:?}"
    );
}

const ORGANIZATIONS: &str = r#"
resource = "jsm-organizations"
service_desk = "HELP"
[fields]
name = "org"
"#;

#[tokio::test]
async fn jsm_organizations_are_created_once_even_after_a_lost_answer() {
    let env = Env::start(SimConfig::for_tests()).await;
    let m = mapping(ORGANIZATIONS);
    let input = "org\nImported Org A\nImported Org B\nInitech\n";
    env.control()
        .lose_next_matching(1, &[Method::POST], Some("/servicedeskapi/organization"));
    let ledger = MemoryLedger::default();
    let (outcome, journal) = import(&env, &env.client, &m, input, &ledger, "r1").await;
    let stats = outcome.unwrap().stats;
    assert_eq!(stats.created, 2, "{:?}", journal.all());
    assert_eq!(stats.uncertain_found, 1);
    let orgs = env.client.all_organizations().await.unwrap();
    for name in ["Imported Org A", "Imported Org B"] {
        assert_eq!(orgs.iter().filter(|o| o.name == name).count(), 1);
    }
    let desk = env.client.desk_organizations("1").await.unwrap();
    for name in ["Imported Org A", "Imported Org B", "Initech"] {
        assert_eq!(
            desk.iter().filter(|o| o.name == name).count(),
            1,
            "{desk:?}"
        );
    }
    let (outcome, journal) = import(&env, &env.client, &m, input, &ledger, "r2").await;
    outcome.unwrap();
    assert_eq!(journal.states(), BTreeMap::from([("skipped", 3)]));
}

#[tokio::test]
async fn csm_profiles_are_upserted_with_a_stable_idempotency_key() {
    let env = Env::start(SimConfig::for_tests()).await;
    let csm = csm_client(&env);
    let m = mapping(
        r#"
resource = "csm-customers"
[fields]
email = "mail"
displayName = "name"
Region = "region"
"#,
    );
    let input = "mail,name,region\ncsm.one@import.example,Csm One,EU\ncsm.two@import.example,Csm Two,Mars\n";
    // The submission's answer is lost: sent again with the same key, it is the same task.
    env.control()
        .lose_next_matching(1, &[Method::POST], Some("/customer/profile/bulk"));
    let ledger = MemoryLedger::default();
    let (outcome, journal) = import(&env, &csm, &m, input, &ledger, "r1").await;
    let stats = outcome.unwrap().stats;
    assert_eq!(stats.bulk_requests, 1);
    let results = journal.all();
    assert_eq!(results[0].state.as_str(), "updated", "{results:?}");
    assert_eq!(results[1].state.as_str(), "failed", "{results:?}");
    assert_eq!(results[1].line, 3);
    let (outcome, journal) = import(&env, &csm, &m, input, &ledger, "r2").await;
    outcome.unwrap();
    assert_eq!(
        journal.states(),
        BTreeMap::from([("failed", 1), ("skipped", 1)]),
        "{:?}",
        journal.all()
    );
    // Exactly one account has the e-mail (JSM sees CSM customers).
    let again = env
        .client
        .create_customer("csm.one@import.example", Some("Again"))
        .await;
    assert!(
        matches!(
            again,
            Err(jiralink_atlassian::AtlassianError::Conflict { .. })
        ),
        "{again:?}"
    );

    let m = mapping(
        r#"
resource = "csm-organizations"
[fields]
name = "org"
Industry = "industry"
"#,
    );
    let (outcome, journal) = import(
        &env,
        &csm,
        &m,
        "org,industry\nCsm Org One,\n",
        &ledger,
        "r3",
    )
    .await;
    outcome.unwrap();
    assert_eq!(
        journal.states(),
        BTreeMap::from([("updated", 1)]),
        "{:?}",
        journal.all()
    );
    let orgs = env.client.all_organizations().await.unwrap();
    assert_eq!(orgs.iter().filter(|o| o.name == "Csm Org One").count(), 1);
}
