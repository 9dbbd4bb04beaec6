//! Three `jiralink serve` processes on one PostgreSQL database (a schema of the test's own),
//! each point a scheduled run: an export's, or a flow's (an export of one site feeding an
//! import into another). The server running it is killed with SIGKILL in the middle of it
//! (in the export's search, or in the flow's import with a bulk create applied and its `201`
//! held); another takes the run over once the leases have run out, long before the next
//! scheduled time, and nothing is lost or doubled: the export's output holds every issue
//! once, the flow leaves exactly one copy of each source issue.

use std::collections::BTreeSet;
use std::process::Child;
use std::time::{Duration, Instant};

use jiralink_sim::control::HoldStage;
use jiralink_store::TestSchema;
use serde_json::Value;
use sqlx::Row as _;

use super::{
    Landings, Seeded, assert_each_copied_once, hold, long, points, same_minute_issues, sigkill,
};
use crate::common::{Env, connection_create, free_port};
use crate::exports::{ndjson_ids, pause, search_ids};
use crate::flows::create_demo_to_acme;

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

/// What a point kills.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// The export `Big`, in its search.
    Export,
    /// The flow `demo-to-acme`, in its import.
    Flow,
}

/// A cron expression for the next whole minute at least 10 s away (UTC), and how long until
/// it.
#[expect(
    clippy::disallowed_methods,
    reason = "the schedule is on the system clock of the jiralink processes the test runs"
)]
fn next_minute_cron() -> (String, Duration) {
    let now = time::OffsetDateTime::now_utc();
    let mut at = now
        .replace_second(0)
        .unwrap()
        .replace_nanosecond(0)
        .unwrap()
        + time::Duration::minutes(1);
    if at - now < time::Duration::seconds(10) {
        at += time::Duration::minutes(1);
    }
    (
        format!("{} {} * * *", at.minute(), at.hour()),
        Duration::try_from(at - now).unwrap(),
    )
}

/// The newest flow run: id, state, holder, phase.
async fn newest_flow_run(db: &sqlx::PgPool) -> Option<(String, String, String, String)> {
    let sql = "SELECT id, state, holder, phase FROM flow_runs ORDER BY started_at DESC LIMIT 1";
    sqlx::query(sql).fetch_optional(db).await.unwrap().map(|r| {
        (
            r.get("id"),
            r.get("state"),
            r.get::<Option<String>, _>("holder").unwrap_or_default(),
            r.get("phase"),
        )
    })
}

#[test]
fn three_servers_take_over_the_scheduled_run_of_a_killed_one_and_lose_or_double_nothing() {
    let Some(base_url) = TestSchema::base_url() else {
        return;
    };
    let mut rng = Seeded::new();
    // Even points kill an export, odd ones a flow.
    let points = points(2);
    let same_minute = if long() { 600 } else { 200 };
    let per_flow_round = 120;
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
    // Each point gives its export or flow a schedule due at the next minute.
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
    create_demo_to_acme(&env, &["--search-lag", "1"]);
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
        let kind = if point % 2 == 0 {
            Kind::Export
        } else {
            Kind::Flow
        };
        let (cron, wait) = next_minute_cron();
        let (table, aim, before) = match kind {
            Kind::Export => {
                let n = 1 + rng.below(total_pages);
                hold(
                    &env,
                    Some("demo"),
                    "POST",
                    "/search/jql",
                    u32::try_from(n - 1).unwrap(),
                    HoldStage::Before,
                );
                let before = runtime.block_on(newest(&db, "export_runs")).map(|r| r.0);
                env.run(&["export", "edit", "Big", "--cron", &cron], None)
                    .ok();
                ("export_runs", format!("page {n} held"), before)
            }
            Kind::Flow => {
                same_minute_issues(
                    &env,
                    "demo",
                    "MKT",
                    "Task",
                    per_flow_round,
                    &format!("round-{point}"),
                );
                let creates = u64::try_from(per_flow_round / 50).unwrap().max(1);
                let n = 1 + rng.below(creates);
                // The create is applied at the destination; its answer is held.
                hold(
                    &env,
                    Some("acme"),
                    "POST",
                    "/issue/bulk",
                    u32::try_from(n - 1).unwrap(),
                    HoldStage::After,
                );
                let before = runtime.block_on(newest_flow_run(&db)).map(|r| r.0);
                env.run(&["flow", "edit", "demo-to-acme", "--cron", &cron], None)
                    .ok();
                (
                    "flow_runs",
                    format!("bulk create {n} applied, its answer held"),
                    before,
                )
            }
        };
        // The scheduled run is under way on some server, at the held request.
        let deadline = Instant::now() + wait + Duration::from_secs(90);
        let (id, holder, progress) =
            loop {
                let run =
                    match kind {
                        Kind::Export => runtime.block_on(newest(&db, table)).map(
                            |(id, state, holder, pages)| {
                                (id, state, holder, format!("{pages} checkpoints"))
                            },
                        ),
                        Kind::Flow => runtime.block_on(newest_flow_run(&db)).map(
                            |(id, state, holder, phase)| {
                                (id, state, holder, format!("phase {phase}"))
                            },
                        ),
                    };
                if let Some((id, state, holder, progress)) = run
                    && Some(&id) != before.as_ref()
                    && state == "running"
                    && env.sim.control().held() == 1
                    && !holder.is_empty()
                {
                    break (id, holder, progress);
                }
                assert!(Instant::now() < deadline, "{kind:?} {aim}: not reached");
                pause(Duration::from_millis(50));
            };
        let trigger: String = runtime
            .block_on(
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT triggered_by FROM {table} WHERE id = $1"
                )))
                .bind(&id)
                .fetch_one(&db),
            )
            .unwrap()
            .get(0);
        assert_eq!(trigger, "schedule", "{kind:?}: a scheduled run");
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
        // Another server resumed it (its log says so).
        let said = match kind {
            Kind::Export => "resuming an interrupted run",
            Kind::Flow => "resuming an interrupted flow run",
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        let taker = loop {
            let taker = servers.iter().enumerate().find(|(i, s)| {
                *i != victim
                    && s.log
                        .lock()
                        .unwrap()
                        .lines()
                        .any(|l| l.contains(said) && l.contains(id.as_str()))
            });
            if let Some((_, s)) = taker {
                break s.child.id();
            }
            assert!(
                Instant::now() < deadline,
                "no other server says it resumed {id}"
            );
            pause(Duration::from_millis(100));
        };
        assert_ne!(taker, pid, "another server finished it");
        landings.record(
            point,
            match kind {
                Kind::Export => "export-killed",
                Kind::Flow => "flow-killed",
            },
            format!(
                "{aim}, server {victim} (pid {pid}) killed at {progress}, finished by pid \
                 {taker} {} ms after the kill",
                takeover.as_millis()
            ),
        );
        let other = &servers[(victim + 1) % 3].bind;
        match kind {
            Kind::Export => {
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
                found.push(format!("export records {}/{}", got.len(), expected.len()));
            }
            Kind::Flow => {
                let copied = assert_each_copied_once(&env);
                found.push(format!("flow: {} issues, one copy each", copied.len()));
            }
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
