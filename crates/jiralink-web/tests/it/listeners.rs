//! Listeners end to end: two simulated sites kept in step by two flows, each fed by a
//! listener on Jira's dynamic webhooks, delivered to the real route over HTTP while the
//! simulator drops, duplicates, delays and reorders a share of deliveries — nothing lost,
//! nothing doubled, no echo. And the route's refusals.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use jiralink_app::{
    Actor, App, CallbackParams, ConnectionSecrets, ExportDraft, FlowDraft, ImportDraft, ImportSpec,
    ListenerDraft, OAuthClientSecrets, OpenOptions, ResultsFormat, RunTrigger, SubscriptionDraft,
    WorkerOptions,
};
use jiralink_domain::{AuditSource, ConnectionDraft, ManualClock, OAuthClientDraft};
use jiralink_sim::knobs::WebhookKnobs;
use jiralink_sim::webhooks::AttemptOutcome;
use jiralink_sim::{Sim, SimConfig, SimHandle};
use jiralink_vault::{ApiToken, ClientSecret};
use jiralink_web::{ApiKeyHash, AppState, router};
use pretty_assertions::assert_eq;
use serde_json::{Value, json};

use crate::{KEY, reply};

const SCOPES: [&str; 4] = [
    "read:jira-work",
    "write:jira-work",
    "read:jira-user",
    "manage:jira-webhook",
];

fn actor() -> Actor {
    Actor {
        name: "test".to_owned(),
        source: AuditSource::Cli,
    }
}

/// A server on 127.0.0.1 (so the simulator can deliver to it), on the simulator's clock.
struct Served {
    sim: SimHandle,
    app: App,
    clock: ManualClock,
    router: axum::Router,
    _dir: tempfile::TempDir,
    _server: tokio::task::JoinHandle<()>,
}

/// A server on 127.0.0.1 and a simulator whose OAuth 2.0 app sends its users back to it.
async fn serve() -> Served {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let sim = Sim::start(SimConfig {
        oauth_callbacks: vec![format!("http://127.0.0.1:{port}/connection/oauth2callback")],
        ..SimConfig::for_tests()
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("jiralink.toml"),
        format!(
            "version = 1\n[server]\nbase_url = \"http://127.0.0.1:{port}/\"\n{}",
            crate::sim_config(&sim)
        ),
    )
    .unwrap();
    let clock = ManualClock::new(sim.control().now());
    let app = App::open(OpenOptions {
        data_dir: dir.path().to_path_buf(),
        config_file: None,
        database: None,
        clock: Arc::new(clock.clone()),
        env: Box::new(|_| None),
    })
    .await
    .unwrap()
    .value;
    let router = router(AppState::new(app.clone(), ApiKeyHash::of(KEY)));
    let served = router.clone();
    let server = tokio::spawn(async move {
        axum::serve(listener, served).await.unwrap();
    });
    Served {
        sim,
        app,
        clock,
        router,
        _dir: dir,
        _server: server,
    }
}

fn worker() -> WorkerOptions {
    WorkerOptions {
        lease: Duration::from_secs(60),
        poll: Duration::from_secs(1),
        retest_interval: Duration::from_secs(3600),
    }
}

impl Served {
    /// Until nothing moves: every delivery the simulator owes has been answered (so stored),
    /// and every job due has run (the jobs' writes cause more deliveries, and so on).
    async fn settle(&self) {
        for _ in 0..50 {
            self.sim.control().deliveries_settled().await;
            let mut ran = 0;
            while self.app.run_due_job(&worker()).await.unwrap().is_some() {
                ran += 1;
            }
            if ran == 0 && self.sim.control().pending_deliveries() == 0 {
                return;
            }
        }
        panic!("the listeners did not settle");
    }

    async fn oauth_connection(&self, name: &str, subdomain: &str) {
        self.app
            .create_connection(
                &ConnectionDraft {
                    name: Some(name.to_owned()),
                    api_type: Some("cloud-platform".to_owned()),
                    subdomain: Some(subdomain.to_owned()),
                    auth_type: Some("oauth2".to_owned()),
                    oauth_client: Some("Sim app".to_owned()),
                    scopes: SCOPES.iter().map(|s| (*s).to_owned()).collect(),
                    ..ConnectionDraft::default()
                },
                ConnectionSecrets::default(),
                &actor(),
            )
            .await
            .unwrap();
        let start = self.app.begin_authorization(name).await.unwrap();
        let mut url = start.url.clone();
        url.query_pairs_mut().append_pair("sim_site", subdomain);
        let res = self.app.http_client().get(url).send().await.unwrap();
        assert_eq!(res.status().as_u16(), 302, "authorize should redirect");
        let location = url::Url::parse(res.headers()["location"].to_str().unwrap()).unwrap();
        let params = CallbackParams::from_query(location.query().unwrap_or_default());
        self.app
            .complete_authorization(&params, &|_| None, &actor())
            .await
            .unwrap();
    }

    /// One way: the source's MKT issues with their comments, upserted into the target's MKT.
    async fn flow(&self, name: &str, from: &str, to: &str) {
        let mut spec = jiralink_sync::ExportSpec::new(jiralink_sync::Resource::Issues);
        spec.jql = Some("project = MKT".to_owned());
        spec.kind = jiralink_sync::ExportKind::Delta { start: None };
        spec.comments = true;
        self.app
            .create_export(
                ExportDraft {
                    name: format!("{name} export"),
                    connection: from.to_owned(),
                    spec,
                    schedule: None,
                    enabled: true,
                },
                &actor(),
            )
            .await
            .unwrap();
        let mapping = format!(
            "operation = \"upsert\"\nproject = \"MKT\"\nissue_type = \"Task\"\n\
             [external_id]\nsource = \"key\"\nlabel_prefix = \"from-{}-\"\n\
             [fields]\nsummary = \"fields.summary\"\n",
            from.to_ascii_lowercase()
        );
        self.app
            .create_import(
                ImportDraft {
                    name: format!("{name} import"),
                    connection: to.to_owned(),
                    spec: ImportSpec {
                        mapping,
                        format: None,
                        results_format: ResultsFormat::Ndjson,
                        ledger: None,
                        search_lag_secs: Some(0),
                        input: None,
                    },
                    schedule: None,
                    enabled: true,
                },
                &actor(),
            )
            .await
            .unwrap();
        self.app
            .create_flow(FlowDraft {
                name: name.to_owned(),
                export: format!("{name} export"),
                import: format!("{name} import"),
                schedule: None,
                enabled: true,
            })
            .await
            .unwrap();
    }
}

/// Calls a simulated site as its sample user.
struct Site {
    http: reqwest::Client,
    base: String,
    email: String,
    token: String,
}

impl Site {
    fn new(sim: &SimHandle, subdomain: &str) -> Self {
        Self {
            http: jiralink_atlassian::build_client(&jiralink_atlassian::HttpConfig::default())
                .unwrap(),
            base: format!("{}/rest/api/3", sim.site_url(subdomain)),
            email: sim.samples().email.clone(),
            token: sim.samples().api_token.clone(),
        }
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .basic_auth(&self.email, Some(&self.token));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    async fn send(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let (status, value) = self.call(method, path, body).await;
        assert!((200..300).contains(&status), "{path}: {status} {value}");
        value
    }

    async fn issues(&self) -> Vec<Value> {
        let page = self
            .send(
                reqwest::Method::POST,
                "/search/jql",
                Some(json!({"jql": "project = MKT ORDER BY key", "fields": ["summary", "labels"], "maxResults": 200})),
            )
            .await;
        page["issues"].as_array().cloned().unwrap_or_default()
    }

    async fn create(&self, summary: &str) -> String {
        let created = self
            .send(
                reqwest::Method::POST,
                "/issue",
                Some(json!({"fields": {"project": {"key": "MKT"}, "issuetype": {"name": "Task"}, "summary": summary}})),
            )
            .await;
        created["key"].as_str().unwrap().to_owned()
    }

    async fn comments(&self, key: &str) -> Vec<String> {
        let page = self
            .send(reqwest::Method::GET, &format!("/issue/{key}/comment"), None)
            .await;
        page["comments"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                c["body"]["content"][0]["content"][0]["text"]
                    .as_str()
                    .unwrap_or("")
                    .to_owned()
            })
            .collect()
    }
}

fn adf(text: &str) -> Value {
    json!({"type": "doc", "version": 1, "content": [{"type": "paragraph", "content": [{"type": "text", "text": text}]}]})
}

/// The copy on `site` of the issue `key` of `from` (by its external-id label).
async fn copy_of(site: &Site, from: &str, key: &str) -> Vec<Value> {
    let label = format!("from-{from}-{key}");
    site.issues()
        .await
        .into_iter()
        .filter(|i| {
            i["fields"]["labels"]
                .as_array()
                .is_some_and(|l| l.iter().any(|v| v.as_str() == Some(label.as_str())))
        })
        .collect()
}

async fn two_sites_with_listeners() -> Served {
    let s = serve().await;
    s.sim
        .control()
        .update_knobs(|k| k.auto_approve = true)
        .unwrap();
    let samples = s.sim.samples();
    s.app
        .create_oauth_client(
            &OAuthClientDraft {
                name: Some("Sim app".to_owned()),
                client_id: Some(samples.oauth_client_id.clone()),
                client_secret: jiralink_domain::SecretEntry::Missing,
            },
            OAuthClientSecrets {
                client_secret: Some(ClientSecret::new(samples.oauth_client_secret.clone())),
            },
            &actor(),
        )
        .await
        .unwrap();
    s.oauth_connection("Demo", "demo").await;
    s.oauth_connection("Acme", "acme").await;
    s.flow("demo-to-acme", "Demo", "Acme").await;
    s.flow("acme-to-demo", "Acme", "Demo").await;
    // The issues there are already: copied once each way by ordinary runs.
    for flow in ["demo-to-acme", "acme-to-demo", "demo-to-acme"] {
        s.app.run_flow(flow, RunTrigger::Cli).await.unwrap();
    }
    for (name, flow) in [
        ("demo-events", "demo-to-acme"),
        ("acme-events", "acme-to-demo"),
    ] {
        let created = s
            .app
            .create_listener(ListenerDraft {
                name: name.to_owned(),
                flow: flow.to_owned(),
                events: Vec::new(),
                jql: None,
                field_ids: Vec::new(),
            })
            .await
            .unwrap();
        assert_eq!(created.view.mode, "dynamic");
        assert!(created.secret.is_none(), "dynamic webhooks need no secret");
        assert_eq!(created.view.webhook_ids.len(), 1);
        assert_eq!(created.view.state, "active");
    }
    s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listener_copies_new_issues_edits_comments_and_deletions_despite_lost_deliveries() {
    let s = two_sites_with_listeners().await;
    let (demo, acme) = (Site::new(&s.sim, "demo"), Site::new(&s.sim, "acme"));
    let before = (demo.issues().await.len(), acme.issues().await.len());
    assert_eq!(before.0, before.1, "both sites hold each other's issues");
    assert_eq!(s.sim.control().webhooks().len(), 2);
    s.sim
        .control()
        .set_webhook_knobs(WebhookKnobs {
            retry_backoff_ms: 1,
            drop_share: 0.2,
            duplicate_share: 0.3,
            delay_ms: 5,
            reorder_share: 0.3,
            ..WebhookKnobs::default()
        })
        .unwrap();

    // New issues, an edit, comments, an edited comment: on demo only.
    let mut keys = Vec::new();
    for n in 0..8 {
        keys.push(demo.create(&format!("Listened {n}")).await);
    }
    let first = keys[0].clone();
    demo.send(
        reqwest::Method::PUT,
        &format!("/issue/{first}"),
        Some(json!({"fields": {"summary": "Listened 0, renamed"}})),
    )
    .await;
    demo.send(
        reqwest::Method::POST,
        &format!("/issue/{first}/comment"),
        Some(json!({"body": adf("first comment")})),
    )
    .await;
    let second = demo
        .send(
            reqwest::Method::POST,
            &format!("/issue/{first}/comment"),
            Some(json!({"body": adf("second comment")})),
        )
        .await;
    let second_id = second["id"].as_str().unwrap().to_owned();
    demo.send(
        reqwest::Method::PUT,
        &format!("/issue/{first}/comment/{second_id}"),
        Some(json!({"body": adf("second comment, edited")})),
    )
    .await;
    s.settle().await;
    // Deliveries the simulator dropped are read back from Jira's webhook/failed.
    let demo_check = s.app.check_listener("demo-events").await.unwrap();
    let acme_check = s.app.check_listener("acme-events").await.unwrap();
    assert!(demo_check.problems.is_empty(), "{demo_check:?}");
    assert!(acme_check.problems.is_empty(), "{acme_check:?}");
    s.settle().await;
    let attempts = s.sim.control().webhook_deliveries();
    let dropped = attempts
        .iter()
        .filter(|a| matches!(a.outcome, AttemptOutcome::Dropped))
        .count();
    let doubled = attempts.iter().filter(|a| a.duplicate).count();
    let reordered = s.sim.control().webhook_reordered();
    assert!(
        dropped > 0 && doubled > 0 && reordered > 0,
        "the knobs lost, doubled and reordered deliveries: {dropped} dropped, {doubled} \
         doubled, {reordered} sent after a later one, of {}",
        attempts.len()
    );
    assert!(
        demo_check.recovered + acme_check.recovered > 0,
        "what was dropped was read back from webhook/failed"
    );
    // Every delivery that reached jiralink, and every one read back, was processed once.
    for name in ["demo-events", "acme-events"] {
        let events = s.app.listener_events(name, 500).await.unwrap();
        assert!(
            events.iter().all(|e| e.state != "pending"),
            "{name}: nothing is left pending"
        );
    }

    // Every new issue copied once; nothing came back to demo.
    for key in &keys {
        let copies = copy_of(&acme, "demo", key).await;
        assert_eq!(copies.len(), 1, "{key} is copied exactly once");
    }
    let copy = &copy_of(&acme, "demo", &first).await[0];
    assert_eq!(copy["fields"]["summary"], "Listened 0, renamed");
    let copy_key = copy["key"].as_str().unwrap().to_owned();
    assert_eq!(
        acme.comments(&copy_key).await,
        vec!["first comment", "second comment, edited"]
    );
    assert_eq!(demo.issues().await.len(), before.0 + keys.len(), "no echo");
    assert_eq!(acme.issues().await.len(), before.1 + keys.len());
    assert_eq!(demo.comments(&first).await.len(), 2, "no comment echo");

    // The runs came from the listeners.
    let runs = s
        .app
        .list_flow_runs(Some("demo-to-acme"), Some(50))
        .await
        .unwrap();
    assert!(
        runs.iter()
            .any(|r| r.trigger == RunTrigger::Listener && r.stats.created > 0),
        "{runs:?}"
    );
    let view = s.app.get_listener("demo-events").await.unwrap();
    assert_eq!(view.pending, 0);
    assert!(view.received > 0 && view.last_event_at.is_some());

    // A deletion on demo deletes the copy.
    let (status, _) = demo
        .call(reqwest::Method::DELETE, &format!("/issue/{first}"), None)
        .await;
    assert_eq!(status, 204);
    s.settle().await;
    // A dropped delivery of the deletion is read back from webhook/failed here; it is then
    // pending, so the safety net's walk over the copies leaves it to the event.
    let report = s.app.check_listener("demo-events").await.unwrap();
    assert_eq!(report.deleted, 0, "the event deletes the copy: {report:?}");
    s.settle().await;
    let (status, _) = acme
        .call(reqwest::Method::GET, &format!("/issue/{copy_key}"), None)
        .await;
    assert_eq!(status, 404, "the copy is deleted with its original");
    assert_eq!(acme.issues().await.len(), before.1 + keys.len() - 1);
    assert_eq!(demo.issues().await.len(), before.0 + keys.len() - 1);

    // Quiet again: nothing more to send either way, and the safety net finds nothing.
    s.sim
        .control()
        .set_webhook_knobs(WebhookKnobs::default())
        .unwrap();
    let deliveries = s.sim.control().webhook_deliveries().len();
    s.settle().await;
    assert_eq!(s.sim.control().webhook_deliveries().len(), deliveries);
    for listener in ["demo-events", "acme-events"] {
        let report = s.app.check_listener(listener).await.unwrap();
        assert_eq!(
            (report.recovered, report.found, report.deleted),
            (0, 0, 0),
            "{listener}: {report:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_listener_deletes_its_webhooks_and_its_flow_cannot_go_first() {
    let s = two_sites_with_listeners().await;
    let err = s.app.delete_flow("demo-to-acme").await.unwrap_err();
    assert_eq!(err.code(), "in_use");
    assert!(err.to_string().contains("demo-events"), "{err}");
    s.app.delete_listener("demo-events").await.unwrap();
    assert_eq!(s.sim.control().webhooks().len(), 1);
    s.app.delete_flow("demo-to-acme").await.unwrap();
    assert_eq!(
        s.app.get_listener("demo-events").await.unwrap_err().code(),
        "listener_not_found"
    );
}

/// A Basic connection's listener: an admin webhook with a secret.
async fn basic_listener() -> (Served, String, String) {
    basic_listener_with(None).await
}

/// Basic connections Demo and Acme, the flow demo-to-acme and its listener `demo-events`
/// (issue created and deleted, `jql` its own filter): the server, the secret, the token.
async fn basic_listener_with(jql: Option<&str>) -> (Served, String, String) {
    let s = serve().await;
    for (name, sub) in [("Demo", "demo"), ("Acme", "acme")] {
        s.app
            .create_connection(
                &ConnectionDraft {
                    name: Some(name.to_owned()),
                    api_type: Some("cloud-platform".to_owned()),
                    subdomain: Some(sub.to_owned()),
                    auth_type: Some("basic".to_owned()),
                    username: Some(s.sim.samples().email.clone()),
                    ..ConnectionDraft::default()
                },
                ConnectionSecrets {
                    api_token: Some(ApiToken::new(&s.sim.samples().api_token)),
                },
                &actor(),
            )
            .await
            .unwrap();
    }
    s.flow("demo-to-acme", "Demo", "Acme").await;
    let created = s
        .app
        .create_listener(ListenerDraft {
            name: "demo-events".to_owned(),
            flow: "demo-to-acme".to_owned(),
            // Deletions too, so the safety net looks for the ones no event brought.
            events: vec![
                "jira:issue_created".to_owned(),
                "jira:issue_deleted".to_owned(),
            ],
            jql: jql.map(str::to_owned),
            field_ids: Vec::new(),
        })
        .await
        .unwrap();
    assert_eq!(created.view.mode, "admin");
    assert!(created.view.webhook_ids.is_empty());
    assert!(
        created
            .view
            .setup_steps
            .iter()
            .any(|step| step.contains(&created.view.url))
    );
    // The administrator's page on the connection's own site (here the simulator's).
    let admin_page = format!(
        "{}/plugins/servlet/webhooks",
        s.sim.site_url("demo").trim_end_matches('/')
    );
    assert!(
        created
            .view
            .setup_steps
            .iter()
            .any(|step| step.contains(&admin_page)),
        "{:?}",
        created.view.setup_steps
    );
    let secret = created
        .secret
        .expect("a secret for the administrator")
        .expose()
        .to_owned();
    assert_eq!(secret.len(), 64);
    let token = created.view.url.rsplit('/').next().unwrap().to_owned();
    (s, secret, token)
}

/// What a site administrator does, through the simulator's admin webhooks: a webhook on
/// `demo` for MKT's created issues, delivering to `url` signed with `secret`.
async fn admin_webhook(s: &Served, demo: &Site, url: &str, secret: &str) {
    let res = demo
        .http
        .post(format!(
            "{}/rest/webhooks/1.0/webhook",
            s.sim.site_url("demo")
        ))
        .basic_auth(&demo.email, Some(&demo.token))
        .json(&json!({
            "name": "jiralink",
            "url": url,
            "events": ["jira:issue_created"],
            "filters": {"issue-related-events-section": "project = MKT"},
            "excludeBody": false,
            "secret": secret,
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 201);
}

fn signed(body: &str, secret: &str) -> String {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.as_bytes());
    format!(
        "sha256={}",
        hex::encode(ring::hmac::sign(&key, body.as_bytes()).as_ref())
    )
}

async fn deliver(
    router: &axum::Router,
    token: &str,
    body: &str,
    signature: Option<&str>,
    identifier: &str,
) -> (StatusCode, Value) {
    let mut req = Request::builder()
        .method(Method::POST)
        .uri(format!("/hooks/jira/{token}"))
        .header("content-type", "application/json")
        .header("x-atlassian-webhook-identifier", identifier);
    if let Some(signature) = signature {
        req = req.header("x-hub-signature", signature);
    }
    let r = reply(router, req.body(Body::from(body.to_owned())).unwrap()).await;
    let json = r.json();
    (r.status, json)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_route_takes_only_verified_fresh_deliveries_and_stores_each_once() {
    let (s, secret, token) = basic_listener().await;
    let now_ms = (s.app.now().unix_timestamp_nanos() / 1_000_000) as i64;
    let body = json!({
        "timestamp": now_ms,
        "webhookEvent": "jira:issue_created",
        "issue": {"id": "10001", "key": "MKT-1", "fields": {"summary": "x"}},
    })
    .to_string();
    let good = signed(&body, &secret);

    // Unsigned, badly signed, or for no listener: the same answer.
    let refused = [
        deliver(&s.router, &token, &body, None, "d-1").await,
        deliver(
            &s.router,
            &token,
            &body,
            Some(&signed(&body, "wrong")),
            "d-1",
        )
        .await,
        deliver(&s.router, "no-such-listener", &body, Some(&good), "d-1").await,
        deliver(
            &s.router,
            &token,
            &body.replace("x", "y"),
            Some(&good),
            "d-1",
        )
        .await,
    ];
    for (status, json) in &refused {
        assert_eq!(*status, StatusCode::UNAUTHORIZED);
        assert_eq!(json, &refused[0].1, "no caller learns more than another");
        assert_eq!(json["error"]["code"], "delivery_refused");
    }
    assert_eq!(s.app.get_listener("demo-events").await.unwrap().received, 0);

    let (status, json) = deliver(&s.router, &token, &body, Some(&good), "d-1").await;
    assert_eq!(status, StatusCode::ACCEPTED, "{json}");
    assert_eq!(json["duplicate"], false);
    // Jira's retry of the same delivery: acknowledged, stored once.
    let (status, json) = deliver(&s.router, &token, &body, Some(&good), "d-1").await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(json["duplicate"], true);
    // The same signed body under another identifier: a replay.
    let (status, json) = deliver(&s.router, &token, &body, Some(&good), "d-2").await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(json["error"]["code"], "delivery_replayed");
    // A signed body from three days ago.
    let old = json!({
        "timestamp": now_ms - 3 * 86_400_000,
        "webhookEvent": "jira:issue_created",
        "issue": {"id": "10002"},
    })
    .to_string();
    let (status, _) = deliver(&s.router, &token, &old, Some(&signed(&old, &secret)), "d-3").await;
    assert_eq!(status, StatusCode::CONFLICT);
    // Verified, but not a Jira event.
    let junk = r#"{"hello": "world"}"#;
    let (status, json) =
        deliver(&s.router, &token, junk, Some(&signed(junk, &secret)), "d-4").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{json}");
    // Too large, refused before anything is read.
    let big = "x".repeat(jiralink_app::MAX_DELIVERY_BYTES + 1);
    let (status, _) = deliver(&s.router, &token, &big, Some(&good), "d-5").await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);

    let view = s.app.get_listener("demo-events").await.unwrap();
    assert_eq!((view.received, view.pending), (1, 1));
    let events = s.app.listener_events("demo-events", 10).await.unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].delivery_id, "d-1");
    assert_eq!(events[0].issue_ids, vec!["10001"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_webhook_registered_with_the_secret_feeds_the_flow() {
    let (s, secret, _) = basic_listener().await;
    let view = s.app.get_listener("demo-events").await.unwrap();
    // What the site administrator does, through the simulator's admin webhooks.
    let demo = Site::new(&s.sim, "demo");
    admin_webhook(&s, &demo, &view.url, &secret).await;
    let acme = Site::new(&s.sim, "acme");
    let before = acme.issues().await.len();
    let key = demo.create("Told by an admin webhook").await;
    s.settle().await;
    let copies = copy_of(&acme, "demo", &key).await;
    assert_eq!(copies.len(), 1);
    assert_eq!(acme.issues().await.len(), before + 1);
    // Only the first run read the whole project: this one read the new issue by id.
    let runs = s
        .app
        .list_flow_runs(Some("demo-to-acme"), Some(10))
        .await
        .unwrap();
    assert_eq!(runs[0].trigger, RunTrigger::Listener);
    assert_eq!(runs[0].stats.exported, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_listeners_own_jql_holds_when_the_admin_webhook_lacks_it() {
    let (s, secret, _) = basic_listener_with(Some("summary ~ wanted")).await;
    let view = s.app.get_listener("demo-events").await.unwrap();
    let demo = Site::new(&s.sim, "demo");
    // The administrator registered the webhook without the listener's filter.
    admin_webhook(&s, &demo, &view.url, &secret).await;
    let acme = Site::new(&s.sim, "acme");
    let wanted = demo.create("A wanted one").await;
    let other = demo.create("Another one").await;
    s.settle().await;
    assert_eq!(copy_of(&acme, "demo", &wanted).await.len(), 1);
    assert!(copy_of(&acme, "demo", &other).await.is_empty());
    let view = s.app.get_listener("demo-events").await.unwrap();
    assert_eq!((view.received, view.pending), (2, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_safety_net_finds_what_every_lost_delivery_missed() {
    let (s, secret, _) = basic_listener().await;
    let view = s.app.get_listener("demo-events").await.unwrap();
    let demo = Site::new(&s.sim, "demo");
    admin_webhook(&s, &demo, &view.url, &secret).await;
    // Every delivery lost; an admin webhook has no webhook/failed to read them back from.
    s.sim
        .control()
        .set_webhook_knobs(WebhookKnobs {
            drop_share: 1.0,
            ..WebhookKnobs::default()
        })
        .unwrap();
    let acme = Site::new(&s.sim, "acme");
    let keys = [demo.create("Missed 1").await, demo.create("Missed 2").await];
    s.settle().await;
    assert!(
        copy_of(&acme, "demo", &keys[0]).await.is_empty(),
        "nothing arrived"
    );
    assert_eq!(s.app.get_listener("demo-events").await.unwrap().received, 0);

    // The safety net reads up to a minute ago (the search index's lag): a little later, it
    // finds both.
    let later = Duration::from_secs(120);
    s.clock.advance(later);
    s.sim.control().advance(later);
    let report = s.app.check_listener("demo-events").await.unwrap();
    assert!(report.safety_net_ran);
    assert_eq!(report.found, 2, "{report:?}");
    s.settle().await;
    for key in &keys {
        assert_eq!(copy_of(&acme, "demo", key).await.len(), 1, "{key}");
    }
    let view = s.app.get_listener("demo-events").await.unwrap();
    assert_eq!(view.safety_net.found, 2);
    assert_eq!(view.safety_net.found_total, 2);
    // Looking again finds nothing new: both are in the id map as they are.
    s.clock.advance(later);
    s.sim.control().advance(later);
    let again = s.app.check_listener("demo-events").await.unwrap();
    assert_eq!(again.found, 0, "{again:?}");
    assert_eq!(again.deleted, 0, "{again:?}");

    // A deletion whose delivery was lost: the safety net's walk over the copies finds the
    // original gone and deletes its copy, and only that one.
    let (status, _) = demo
        .call(
            reqwest::Method::DELETE,
            &format!("/issue/{}", keys[0]),
            None,
        )
        .await;
    assert_eq!(status, 204);
    s.clock.advance(later);
    s.sim.control().advance(later);
    let report = s.app.check_listener("demo-events").await.unwrap();
    assert_eq!((report.found, report.deleted), (0, 1), "{report:?}");
    s.settle().await;
    assert!(copy_of(&acme, "demo", &keys[0]).await.is_empty());
    assert_eq!(copy_of(&acme, "demo", &keys[1]).await.len(), 1);
    let view = s.app.get_listener("demo-events").await.unwrap();
    assert_eq!(
        (view.safety_net.deleted, view.safety_net.deleted_total),
        (1, 1)
    );
    let runs = s
        .app
        .list_flow_runs(Some("demo-to-acme"), Some(1))
        .await
        .unwrap();
    assert_eq!(runs[0].trigger, RunTrigger::Listener);
    assert_eq!(runs[0].stats.deleted, 1);
    // Nothing more to delete at the next look.
    s.clock.advance(later);
    s.sim.control().advance(later);
    let again = s.app.check_listener("demo-events").await.unwrap();
    assert_eq!((again.found, again.deleted), (0, 0), "{again:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamic_webhooks_are_refreshed_before_they_expire_and_registered_again_after() {
    let s = two_sites_with_listeners().await;
    let day = Duration::from_secs(86_400);
    let advance = |by: Duration| {
        s.clock.advance(by);
        s.sim.control().advance(by);
    };
    let hook_of = |id: u64| {
        s.sim
            .control()
            .webhooks()
            .into_iter()
            .find(|w| w.id == id)
            .expect("the webhook on the simulator")
    };
    let before = s.app.get_listener("demo-events").await.unwrap();
    let first_expiry = before.expires_at.expect("dynamic webhooks expire");
    assert_eq!(
        hook_of(before.webhook_ids[0]).expires_at,
        Some(first_expiry)
    );

    // Three weeks on, more than 7 of the 30 days are left: the upkeep job leaves them be.
    advance(day * 21);
    s.settle().await;
    let view = s.app.get_listener("demo-events").await.unwrap();
    assert_eq!(view.expires_at, Some(first_expiry));

    // Six days left: the upkeep job refreshes them, on Jira and in the listener.
    advance(day * 3);
    s.settle().await;
    let view = s.app.get_listener("demo-events").await.unwrap();
    let refreshed = view.expires_at.unwrap();
    assert!(
        refreshed >= first_expiry + time::Duration::days(23),
        "{first_expiry} → {refreshed}"
    );
    assert_eq!(view.webhook_ids, before.webhook_ids);
    assert_eq!(view.state, "active");
    let hook = hook_of(view.webhook_ids[0]);
    assert_eq!((hook.expires_at, hook.active), (Some(refreshed), true));

    // Nobody ran the upkeep for 31 days (the server was down): Jira dropped them, and the
    // next check registers them again.
    advance(day * 31);
    assert!(!hook_of(view.webhook_ids[0]).active, "expired on Jira");
    let report = s.app.check_listener("demo-events").await.unwrap();
    assert!(report.refreshed, "{report:?}");
    let again = s.app.get_listener("demo-events").await.unwrap();
    assert_eq!(again.state, "active", "{:?}", again.state_reason);
    assert_eq!(again.webhook_ids.len(), 1);
    let hook = hook_of(again.webhook_ids[0]);
    assert!(hook.active);
    assert!(hook.expires_at.unwrap() > s.sim.control().now() + time::Duration::days(29));
    // And events flow again.
    let (demo, acme) = (Site::new(&s.sim, "demo"), Site::new(&s.sim, "acme"));
    let key = demo.create("After the gap").await;
    s.settle().await;
    assert_eq!(copy_of(&acme, "demo", &key).await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listener_falling_behind_is_told_once_and_once_more_when_it_caught_up() {
    let (s, secret, token) = basic_listener().await;
    s.app
        .create_user(
            "ann",
            &jiralink_vault::Password::new("a long enough password 1"),
            false,
            &actor(),
        )
        .await
        .unwrap();
    // A webhook nobody answers: the messages are composed and kept in the history either way.
    s.app
        .set_notification_webhook("http://127.0.0.1:9/hook", false, &actor())
        .await
        .unwrap();
    s.app
        .subscribe(
            "ann",
            SubscriptionDraft {
                topic: "listener.behind".to_owned(),
                subject_kind: Some("listener".to_owned()),
                subject: Some("demo-events".to_owned()),
                channel: "webhook".to_owned(),
                address: None,
            },
        )
        .await
        .unwrap();
    let view = s.app.get_listener("demo-events").await.unwrap();

    // A delivery is stored, and no worker gets to it for six minutes.
    let now_ms = (s.app.now().unix_timestamp_nanos() / 1_000_000) as i64;
    let body = json!({
        "timestamp": now_ms,
        "webhookEvent": "jira:issue_created",
        "issue": {"id": "10001", "key": "MKT-1", "fields": {"summary": "x"}},
    })
    .to_string();
    let (status, _) = deliver(
        &s.router,
        &token,
        &body,
        Some(&signed(&body, &secret)),
        "d-1",
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let minutes = |n: u64| {
        let by = Duration::from_secs(n * 60);
        s.clock.advance(by);
        s.sim.control().advance(by);
    };
    minutes(6);
    for _ in 0..3 {
        s.app.check_listener("demo-events").await.unwrap();
    }
    assert!(s.app.get_listener("demo-events").await.unwrap().behind);
    minutes(2);
    let report = s.app.dispatch_notifications().await.unwrap();
    assert_eq!(report.composed, 1, "{report:?}");
    let history = s
        .app
        .list_notifications(Some("ann"), None, 10)
        .await
        .unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].title, "Listener demo-events is falling behind");
    let link = &history[0].events[0].link;
    assert!(
        link.starts_with("http://127.0.0.1:") && link.ends_with(&format!("/listeners/{}", view.id)),
        "{link}"
    );

    // The worker processes it: caught up, told once more.
    s.settle().await;
    assert!(!s.app.get_listener("demo-events").await.unwrap().behind);
    minutes(2);
    s.app.dispatch_notifications().await.unwrap();
    let history = s
        .app
        .list_notifications(Some("ann"), None, 10)
        .await
        .unwrap();
    assert_eq!(history.len(), 2, "{history:?}");
    assert_eq!(history[0].title, "Listener demo-events caught up");
}
