//! Three `jiralink serve` processes on one PostgreSQL database (a schema of the test's own):
//! the one running an export's run is killed with SIGKILL in the middle of it; another takes
//! the run over once the leases have run out, and nothing is lost or doubled — the export's
//! output holds every issue once. (A flow's run is not taken over by another server after
//! its export phase: its input is in the first server's data directory.)

use std::collections::BTreeSet;
use std::process::Child;
use std::time::{Duration, Instant};

use jiralink_sim::control::HoldStage;
use jiralink_store::TestSchema;
use serde_json::Value;
use sqlx::Row as _;

use super::{Landings, Seeded, hold, long, points, same_minute_issues, sigkill};
use crate::common::{Env, connection_create, free_port};
use crate::exports::{ndjson_ids, pause, search_ids};

const API_KEY: &str = "jlk_crash_cluster_key_0123456789abcdef";
const MASTER_KEY: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

/// One server: its process and data directory.
struct Server {
    child: Child,
    log: super::Log,
    bind: String,
    _dir: tempfile::TempDir,
}

impl Server {
    fn start(env: &Env, bind: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut cmd = env.std_cmd();
        cmd.env("JIRALINK_DATA_DIR", dir.path())
            .args(["serve", "--bind", bind])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped());
        let (child, log) = super::serve_command(cmd);
        Self {
            child,
            log,
            bind: bind.to_owned(),
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

async fn api(method: reqwest::Method, url: String) -> (u16, String) {
    let client =
        jiralink_atlassian::build_client(&jiralink_atlassian::HttpConfig::default()).unwrap();
    let answer = client
        .request(method, url)
        .header("Authorization", format!("Bearer {API_KEY}"))
        .send()
        .await
        .unwrap();
    (answer.status().as_u16(), answer.text().await.unwrap())
}

/// The newest run of `table` (`export_runs` of the export `Big`): id, state,
/// holder and the number of checkpointed pages.
async fn newest(db: &sqlx::PgPool, table: &str) -> Option<(String, String, String, u64)> {
    assert_eq!(table, "export_runs");
    let sql = "SELECT id, state, holder, stats FROM export_runs WHERE export_id = \
               (SELECT id FROM exports WHERE name = 'Big') ORDER BY started_at DESC LIMIT 1";
    sqlx::query(sql).fetch_optional(db).await.unwrap().map(|r| {
        let stats: Value = serde_json::from_str(&r.get::<String, _>("stats")).unwrap();
        (
            r.get("id"),
            r.get("state"),
            r.get::<Option<String>, _>("holder").unwrap_or_default(),
            stats["pages"].as_u64().unwrap_or(0),
        )
    })
}

/// The run `id` of `table` once it has ended, and its holder then; `None` when it is still
/// running after two minutes.
async fn ended(db: &sqlx::PgPool, table: &str, id: &str) -> Option<(String, String)> {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT state, holder FROM {table} WHERE id = $1"
        )))
        .bind(id)
        .fetch_one(db)
        .await
        .unwrap();
        let state: String = row.get("state");
        if state != "running" {
            return Some((
                state,
                row.get::<Option<String>, _>("holder").unwrap_or_default(),
            ));
        }
        if Instant::now() > deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn pid_of(holder: &str) -> u32 {
    holder.split('/').nth(1).unwrap().parse().unwrap()
}

#[test]
fn three_servers_take_over_the_run_of_a_killed_one_and_lose_or_double_nothing() {
    let Some(base_url) = TestSchema::base_url() else {
        return;
    };
    let mut rng = Seeded::new();
    // Exports only: a flow's run left by a dead server waits for the flow's next run (its
    // schedule, or "Run now"); the job taking over does not resume it.
    let points = points(1);
    let same_minute = if long() { 600 } else { 200 };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let schema = runtime.block_on(TestSchema::create(&base_url)).unwrap();
    let mut env = Env::with_sim(jiralink_sim::SimConfig::default());
    for (k, v) in [
        ("JIRALINK_DATABASE_URL", schema.url()),
        ("JIRALINK_MASTER_KEY", MASTER_KEY),
        ("JIRALINK_API_KEY", API_KEY),
        ("JIRALINK_JOBS__LEASE", "10s"),
        ("JIRALINK_JOBS__POLL_SECS", "1"),
        ("JIRALINK_EXPORTS__LEASE", "10s"),
        // A dead server's concurrency slot stays leased for the request timeout and 30 s
        // more; on a connection of level 1 the run taken over waits for it.
        ("JIRALINK_HTTP__REQUEST_TIMEOUT_SECS", "10"),
    ] {
        env.extra_env.push((k.to_owned(), v.to_owned()));
    }
    let (email, token) = env.alice();
    env.run(
        &connection_create(
            "Jira",
            "basic",
            &[
                "--username",
                &email,
                "--api-token-stdin",
                "--concurrency-level",
                "1",
            ],
        ),
        Some(&token),
    )
    .ok();
    env.run(
        &[
            "connection",
            "create",
            "--name",
            "Acme",
            "--api-type",
            "cloud-platform",
            "--subdomain",
            "acme",
            "--auth-type",
            "basic",
            "--username",
            &email,
            "--api-token-stdin",
        ],
        Some(&token),
    )
    .ok();
    same_minute_issues(&env, "demo", "DEMO", "Story", same_minute, "same-minute");
    let expected = search_ids(&env, "project = DEMO");
    // No schedule: "Run now" makes its job due, and a server that takes the job over from a
    // dead one resumes the run it left once that run's lease is over.
    env.run(
        &[
            "export",
            "create",
            "--name",
            "Big",
            "--connection",
            "Jira",
            "--jql",
            "project = DEMO",
            "--fields",
            "summary,labels",
        ],
        None,
    )
    .ok();
    env.sim
        .control()
        .update_knobs(|k| {
            k.search_page_cap = 20;
            k.latency_ms = 30;
        })
        .unwrap();
    let binds: Vec<String> = (0..3)
        .map(|_| format!("127.0.0.1:{}", free_port()))
        .collect();
    let mut servers: Vec<Server> = binds.iter().map(|b| Server::start(&env, b)).collect();
    let db = runtime
        .block_on(sqlx::PgPool::connect(schema.url()))
        .unwrap();
    let total_pages = (expected.len() as u64).div_ceil(20);
    let mut landings = Landings::default();
    let mut found = Vec::new();
    for point in 0..points {
        let via = &servers[point % 3].bind;
        let (table, aim) = {
            let n = 1 + rng.below(total_pages);
            hold(
                &env,
                Some("demo"),
                "POST",
                "/search/jql",
                u32::try_from(n - 1).unwrap(),
                HoldStage::Before,
            );
            let (status, body) = runtime.block_on(api(
                reqwest::Method::POST,
                format!("http://{via}/v1/exports/Big/run"),
            ));
            assert_eq!(status, 202, "{body}");
            ("export_runs", format!("page {n} held"))
        };
        // The run is under way on some server, at the held request.
        let deadline = Instant::now() + Duration::from_secs(60);
        let (id, holder, pages) = loop {
            let run = runtime.block_on(newest(&db, table));
            if let Some((id, state, holder, pages)) = run
                && state == "running"
                && env.sim.control().held() == 1
                && !holder.is_empty()
            {
                break (id, holder, pages);
            }
            assert!(Instant::now() < deadline, "{aim}: not reached");
            pause(Duration::from_millis(50));
        };
        let pid = pid_of(&holder);
        let victim = servers
            .iter()
            .position(|s| s.child.id() == pid)
            .unwrap_or_else(|| panic!("no server has pid {pid} ({holder})"));
        sigkill(&mut servers[victim].child);
        super::release(&env);
        let killed_at = Instant::now();
        let Some((state, _)) = runtime.block_on(ended(&db, table, &id)) else {
            let jobs = runtime
                .block_on(
                    sqlx::query(
                        "SELECT key, kind, next_run_at, lease_holder, lease_until FROM jobs",
                    )
                    .fetch_all(&db),
                )
                .unwrap()
                .iter()
                .map(|r| {
                    format!(
                        "{:?} {:?} {:?} {:?} {:?}",
                        r.get::<Option<String>, _>(0),
                        r.get::<Option<String>, _>(1),
                        r.get::<Option<String>, _>(2),
                        r.get::<Option<String>, _>(3),
                        r.get::<Option<String>, _>(4)
                    )
                })
                .collect::<Vec<_>>();
            let logs: Vec<String> = servers
                .iter()
                .map(|s| s.log.lock().unwrap().clone())
                .collect();
            panic!(
                "{table} {id} never taken over; jobs {jobs:#?}; logs:\n{}",
                logs.join("\n----\n")
            );
        };
        if state != "succeeded" {
            let error: Option<String> = runtime
                .block_on(
                    sqlx::query(sqlx::AssertSqlSafe(format!(
                        "SELECT error FROM {table} WHERE id = $1"
                    )))
                    .bind(&id)
                    .fetch_one(&db),
                )
                .unwrap()
                .get(0);
            panic!("{table} {id} ended {state}: {error:?}");
        }
        let takeover = killed_at.elapsed();
        // Another server resumed it (its log says so; the job, without a schedule, is gone
        // with its history once done).
        let deadline = Instant::now() + Duration::from_secs(30);
        let taker = loop {
            let taker = servers.iter().enumerate().find(|(i, s)| {
                *i != victim
                    && s.log.lock().unwrap().lines().any(|l| {
                        l.contains("resuming an interrupted run") && l.contains(id.as_str())
                    })
            });
            if let Some((_, s)) = taker {
                break format!("x/{}/", s.child.id());
            }
            assert!(
                Instant::now() < deadline,
                "no other server says it resumed {id}"
            );
            pause(Duration::from_millis(100));
        };
        assert_ne!(pid_of(&taker), pid, "another server finished it");
        landings.record(
            point,
            "export-killed",
            format!("{aim}, server {victim} (pid {pid}) killed after {pages} checkpoints, finished by pid {} {} ms after the kill", pid_of(&taker), takeover.as_millis()),
        );
        {
            let other = &servers[(victim + 1) % 3].bind;
            let (status, output) = runtime.block_on(api(
                reqwest::Method::GET,
                format!("http://{other}/v1/runs/{id}/output"),
            ));
            assert_eq!(status, 200);
            let resumed: i64 = runtime
                .block_on(
                    sqlx::query("SELECT resumed FROM export_runs WHERE id = $1")
                        .bind(&id)
                        .fetch_one(&db),
                )
                .unwrap()
                .get(0);
            assert!(resumed >= 1, "the run was taken over, not started again");
            let (ids, lines) = ndjson_ids(&output);
            assert_eq!(lines, expected.len(), "every record once");
            assert_eq!(ids, expected);
            let got: BTreeSet<_> = ids;
            found.push(format!("records {}/{}", got.len(), expected.len()));
        }
        // Back to three servers.
        let bind = servers[victim].bind.clone();
        servers[victim] = Server::start(&env, &bind);
    }
    println!(
        "crash-proof instances: seed={} points={points} servers=3 | {} | found {found:?}",
        rng.seed,
        landings.summary(),
    );
    drop(servers);
    runtime.block_on(db.close());
    drop(schema);
}
