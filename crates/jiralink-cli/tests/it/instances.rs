//! Three `jiralink serve` processes on one PostgreSQL database, as behind a load balancer:
//! what one server records, the others see; work is done once; a server that dies is taken
//! over. Runs against `JIRALINK_TEST_DATABASE_URL` in a schema of its own.

use std::io::{BufRead as _, BufReader};
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use jiralink_store::TestSchema;
use serde_json::{Value, json};
use sqlx::Row as _;

use crate::common::{Env, free_port};

const API_KEY: &str = "jlk_cluster_test_key_0123456789abcdef";
const ADMIN_PASSWORD: &str = "correct horse battery staple 42";
const MASTER_KEY: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
/// Offline connections the re-test job has to test again.
const OFFLINE: usize = 20;

/// The PostgreSQL server of the tests; `None` when the PostgreSQL leg is skipped on purpose.
/// One running server.
struct Server {
    name: &'static str,
    child: Child,
    url: String,
    log: Arc<Mutex<String>>,
    _dir: tempfile::TempDir,
}

impl Server {
    fn start(env: &Env, name: &'static str, port: u16) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let bind = format!("127.0.0.1:{port}");
        let mut child = env
            .std_cmd()
            .env("JIRALINK_DATA_DIR", dir.path())
            .args(["serve", "--bind", &bind])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let log = Arc::new(Mutex::new(String::new()));
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let stderr = BufReader::new(child.stderr.take().unwrap());
        let lines = Arc::clone(&log);
        std::thread::spawn(move || {
            for line in stderr.lines() {
                let Ok(line) = line else { break };
                if line.contains("Serving on") {
                    let _ = ready_tx.send(());
                }
                let mut log = lines.lock().unwrap();
                log.push_str(&line);
                log.push('\n');
            }
        });
        if ready_rx.recv_timeout(Duration::from_secs(60)).is_err() {
            let _ = child.kill();
            panic!("{name} did not start:\n{}", log.lock().unwrap());
        }
        Self {
            name,
            child,
            url: format!("http://{bind}"),
            log,
            _dir: dir,
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A client of the servers, as scripts and browsers are.
struct Client {
    http: reqwest::Client,
}

impl Client {
    async fn api(&self, method: &str, url: &str, body: Option<Value>) -> (u16, Value) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut request = self
            .http
            .request(method, url)
            .header("Authorization", format!("Bearer {API_KEY}"));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        let value = serde_json::from_str(&text).unwrap_or_else(|_| Value::String(text.clone()));
        (status, value)
    }

    /// Signs in through `/login` as a browser does; returns the session cookie.
    async fn sign_in(&self, server: &str) -> String {
        let page = self
            .http
            .get(format!("{server}/login"))
            .send()
            .await
            .unwrap();
        let login_cookie = cookie(&page, "jiralink_login");
        let html = page.text().await.unwrap();
        let marker = "name=\"_csrf\" value=\"";
        let at = html.find(marker).unwrap() + marker.len();
        let csrf = &html[at..at + html[at..].find('"').unwrap()];
        let answer = self
            .http
            .post(format!("{server}/login"))
            .header("Cookie", login_cookie)
            .form(&[
                ("_csrf", csrf),
                ("username", "admin"),
                ("password", ADMIN_PASSWORD),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status().as_u16(), 303);
        cookie(&answer, "jiralink_session")
    }
}

/// `name=value` of the cookie `name` an answer sets.
fn cookie(r: &reqwest::Response, name: &str) -> String {
    r.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(|v| v.split(';').next().unwrap().to_owned())
        .unwrap_or_else(|| panic!("no {name} cookie"))
}

fn basic_body(name: &str, email: &str, token: &str, version: Option<u64>) -> Value {
    let mut body = json!({
        "name": name, "apiType": "cloud-platform", "subdomain": "demo", "authType": "basic",
        "username": email, "apiToken": token,
    });
    if let Some(v) = version {
        body["version"] = json!(v);
    }
    body
}

/// Waits (polling, up to `within`) until `check` answers `Some`.
async fn eventually<T>(
    within: Duration,
    what: &str,
    mut check: impl AsyncFnMut() -> Option<T>,
) -> T {
    let deadline = Instant::now() + within;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(Instant::now() < deadline, "{what}: not within {within:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[test]
fn three_servers_share_one_database() {
    let Some(base_url) = TestSchema::base_url() else {
        return;
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let schema = runtime.block_on(TestSchema::create(&base_url)).unwrap();
    let mut env = Env::new();
    let ports = [free_port(), free_port(), free_port()];
    // Atlassian sends every consent back to the one public address; here it is server B's,
    // whichever server began the authorization.
    let public = format!("http://127.0.0.1:{}", ports[1]);
    let app = env.auto_approved_oauth_app(&public);
    for (k, v) in [
        ("JIRALINK_DATABASE_URL", schema.url()),
        ("JIRALINK_MASTER_KEY", MASTER_KEY),
        ("JIRALINK_API_KEY", API_KEY),
        ("JIRALINK_ADMIN_PASSWORD", ADMIN_PASSWORD),
        ("JIRALINK_SERVER__BASE_URL", &public),
        ("JIRALINK_CONNECTIONS__RETEST_INTERVAL", "10s"),
        ("JIRALINK_JOBS__LEASE", "10s"),
        ("JIRALINK_JOBS__POLL_SECS", "1"),
    ] {
        env.extra_env.push((k.to_owned(), v.to_owned()));
    }
    let (email, token) = env.alice();

    // Before the servers: an OAuth 2.0 connection to authorize, and connections that are
    // offline (their token was revoked), through the CLI on the same database.
    env.run(
        &[
            "oauth-client",
            "create",
            "--name",
            "Sim",
            "--client-id",
            &app.client_id,
            "--client-secret-stdin",
        ],
        Some(&app.client_secret),
    )
    .ok();
    env.run(
        &crate::common::connection_create(
            "Cloud",
            "oauth2",
            &[
                "--oauth-client",
                "Sim",
                "--scopes",
                "read:jira-work,read:jira-user,read:me",
            ],
        ),
        None,
    )
    .ok();
    let servers: Vec<Server> = ["A", "B", "C"]
        .into_iter()
        .zip(ports)
        .map(|(name, port)| Server::start(&env, name, port))
        .collect();
    let client = Client {
        http: jiralink_atlassian::build_client(&jiralink_atlassian::HttpConfig::default()).unwrap(),
    };
    let at = |i: usize, path: &str| format!("{}{path}", servers[i % 3].url);

    runtime.block_on(async {
        // Offline connections: a wrong token, tested once each through some server.
        for i in 0..OFFLINE {
            let (status, saved) = client
                .api(
                    "POST",
                    &at(i, "/v1/connections"),
                    Some(basic_body(
                        &format!("Offline {i}"),
                        &email,
                        "wrong-token",
                        None,
                    )),
                )
                .await;
            assert_eq!(status, 201, "{saved}");
            let id = saved["id"].as_str().unwrap();
            let (_, outcome) = client
                .api(
                    "POST",
                    &at(i + 1, &format!("/v1/connections/{id}/test")),
                    None,
                )
                .await;
            assert_eq!(outcome["result"], "failed", "{outcome}");
        }

        // A session made on one server works on the others.
        let session = client.sign_in(&servers[0].url).await;
        for server in &servers {
            let page = client
                .http
                .get(format!("{}/connections", server.url))
                .header("Cookie", &session)
                .send()
                .await
                .unwrap();
            assert_eq!(page.status().as_u16(), 200, "on {}", server.name);
        }

        // An authorization begun on A completes through the callback on B.
        let (status, start) = client
            .api("POST", &at(0, "/v1/connections/Cloud/authorize"), None)
            .await;
        assert_eq!(status, 200, "{start}");
        let consent = client
            .http
            .get(start["authorizationUrl"].as_str().unwrap())
            .send()
            .await
            .unwrap();
        let callback = consent.headers()["location"].to_str().unwrap().to_owned();
        assert!(callback.starts_with(&servers[1].url), "{callback}");
        let back = client.http.get(&callback).send().await.unwrap();
        assert_eq!(back.status().as_u16(), 200);
        let (_, cloud) = client
            .api("GET", &at(2, "/v1/connections/Cloud"), None)
            .await;
        assert_eq!(cloud["state"]["status"], "online", "{cloud}");

        // Its access token expires: fifty calls spread over the three servers cause exactly
        // one token request.
        let db = sqlx::PgPool::connect(schema.url()).await.unwrap();
        sqlx::query(
            "UPDATE connections SET access_token_expires_at = '2000-01-01T00:00:00.000000Z' \
             WHERE name = 'Cloud'",
        )
        .execute(&db)
        .await
        .unwrap();
        let token_requests = || {
            env.sim
                .control()
                .requests()
                .iter()
                .filter(|r| r.path == "/oauth/token")
                .count()
        };
        let before = token_requests();
        let calls = (0..50).map(|i| {
            let url = at(i, "/v1/connections/Cloud/test");
            let client = &client;
            async move { client.api("POST", &url, None).await }
        });
        for (status, outcome) in futures::future::join_all(calls).await {
            assert_eq!(
                (status, &outcome["result"]),
                (200, &json!("passed")),
                "{outcome}"
            );
        }
        assert_eq!(token_requests(), before + 1, "one refresh for fifty calls");

        // Concurrent edits through different servers: one winner, 409 for the others, and an
        // audit trail in which each change starts from the state the one before left.
        let (_, first) = client
            .api("GET", &at(0, "/v1/connections/Offline 0"), None)
            .await;
        let version = first["version"].as_u64().unwrap();
        let id = first["id"].as_str().unwrap().to_owned();
        let edits = (0..12).map(|i| {
            let url = at(i, &format!("/v1/connections/{id}"));
            let body = basic_body(&format!("Edited {i}"), &email, &token, Some(version));
            let client = &client;
            async move { client.api("PUT", &url, Some(body)).await }
        });
        let answers = futures::future::join_all(edits).await;
        let statuses: Vec<u16> = answers.iter().map(|(s, _)| *s).collect();
        assert_eq!(
            statuses.iter().filter(|s| **s == 200).count(),
            1,
            "{statuses:?}"
        );
        assert!(
            statuses.iter().all(|s| *s == 200 || *s == 409),
            "{statuses:?}"
        );
        let (_, audit) = client
            .api("GET", &at(1, &format!("/v1/connections/{id}/audit")), None)
            .await;
        let names: Vec<(Value, Value)> = audit
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|e| {
                e["changes"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|c| c["field"] == "name")
                    .map(|c| (c["before"].clone(), c["after"].clone()))
            })
            .collect();
        assert_eq!(names.len(), 2, "{names:?}");
        assert_eq!(names[1].0, json!("Offline 0"));

        // The re-test of the offline connections runs once per interval in total.
        let retests = || {
            let db = db.clone();
            async move {
                sqlx::query(
                    "SELECT started_at, holder FROM job_runs \
                     WHERE kind = 'connections.retest' AND outcome = 'succeeded' \
                     ORDER BY started_at",
                )
                .fetch_all(&db)
                .await
                .unwrap()
                .iter()
                .map(|r| {
                    (
                        r.get::<String, _>("started_at"),
                        r.get::<String, _>("holder"),
                    )
                })
                .collect::<Vec<_>>()
            }
        };
        let runs = eventually(
            Duration::from_secs(60),
            "three re-test rounds",
            async || {
                let runs = retests().await;
                (runs.len() >= 3).then_some(runs)
            },
        )
        .await;
        let started: Vec<time::OffsetDateTime> = runs
            .iter()
            .map(|(at, _)| {
                time::PrimitiveDateTime::parse(
                    at,
                    time::macros::format_description!(
                        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z"
                    ),
                )
                .unwrap()
                .assume_utc()
            })
            .collect();
        for pair in started.windows(2) {
            assert!(
                pair[1] - pair[0] >= time::Duration::seconds(9),
                "two re-test rounds within one interval: {runs:?}"
            );
        }

        // Kill the server running the re-test job (its first test request is held at the
        // simulator): once the lease has run out, another server takes the job over.
        env.sim.control().hold_next(1, Duration::from_secs(3600));
        let holder = eventually(
            Duration::from_secs(30),
            "a re-test in progress",
            async || {
                sqlx::query(
                    "SELECT holder FROM job_runs WHERE kind = 'connections.retest' \
                 AND outcome = 'running'",
                )
                .fetch_optional(&db)
                .await
                .unwrap()
                .map(|r| r.get::<String, _>("holder"))
            },
        )
        .await;
        let pid: u32 = holder.split('/').nth(1).unwrap().parse().unwrap();
        let victim = servers
            .iter()
            .position(|s| s.child.id() == pid)
            .unwrap_or_else(|| panic!("no server has pid {pid} ({holder})"));
        let killed = std::process::Command::new("kill")
            .args(["-9", &pid.to_string()])
            .status()
            .unwrap();
        assert!(killed.success());
        env.sim.control().clear_faults();
        let taken_over = eventually(Duration::from_secs(40), "the job taken over", async || {
            let rows = sqlx::query(
                "SELECT holder, outcome FROM job_runs WHERE kind = 'connections.retest' \
                 ORDER BY started_at",
            )
            .fetch_all(&db)
            .await
            .unwrap();
            let abandoned = rows.iter().any(|r| {
                r.get::<String, _>("holder") == holder
                    && r.get::<String, _>("outcome") == "abandoned"
            });
            let other = rows.iter().rev().find(|r| {
                r.get::<String, _>("holder") != holder
                    && r.get::<String, _>("outcome") == "succeeded"
            });
            match other {
                Some(r) if abandoned => Some(r.get::<String, _>("holder")),
                _ => None,
            }
        })
        .await;
        assert_ne!(taken_over, holder);
        // The others still answer, with what every server wrote.
        for (i, server) in servers.iter().enumerate() {
            if i == victim {
                continue;
            }
            let (status, list) = client
                .api("GET", &format!("{}/v1/connections", server.url), None)
                .await;
            assert_eq!(
                status,
                200,
                "{}: {}",
                server.name,
                server.log.lock().unwrap()
            );
            assert_eq!(list.as_array().unwrap().len(), OFFLINE + 1);
        }
        db.close().await;
    });
    drop(servers);
    drop(schema);
}
