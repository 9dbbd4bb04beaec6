//! `jiralink serve` end to end: the API key is created once and required on /v1, no route
//! starts an authorization without it, and `connection authorize` starts one on the shared
//! data directory and hands the callback to the running server, which brings the connection
//! online. Ctrl-C stops the server.

use std::io::{BufRead as _, BufReader, Read as _};
use std::process::{Child, Stdio};
use std::sync::mpsc;

use crate::common::{Env, connection_create, free_port};

fn spawn(env: &Env, args: &[&str]) -> Child {
    env.std_cmd()
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

#[test]
fn authorize_hands_off_to_a_running_server() {
    let mut env = Env::new();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let app = env.auto_approved_oauth_app(&base);
    env.extra_env
        .push(("JIRALINK_SERVER__BASE_URL".to_owned(), base.clone()));
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
    let created = env
        .run(
            &connection_create(
                "Cloud",
                "oauth2",
                &[
                    "--oauth-client",
                    "Sim",
                    "--scopes",
                    "read:jira-work,read:jira-user,read:me",
                    "-o",
                    "json",
                ],
            ),
            None,
        )
        .ok()
        .json();
    let id = created["id"].as_str().unwrap().to_owned();

    let bind = format!("127.0.0.1:{port}");
    let mut server = spawn(&env, &["serve", "--bind", &bind]);
    let mut server_out = BufReader::new(server.stdout.take().unwrap());
    let mut key = String::new();
    server_out.read_line(&mut key).unwrap();
    let key = key.trim().to_owned();
    assert!(key.starts_with("jlk_"), "{key}");
    // Follow stderr on a thread; "Serving on" is written once the port is bound.
    let (lines_tx, lines_rx) = mpsc::channel();
    let server_err = BufReader::new(server.stderr.take().unwrap());
    let drain = std::thread::spawn(move || {
        for line in server_err.lines() {
            let Ok(line) = line else { break };
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut server_log = String::new();
    loop {
        let line = lines_rx.recv().expect("the server exited before serving");
        server_log.push_str(&line);
        server_log.push('\n');
        if line.contains("Serving on") {
            break;
        }
    }
    // Only the key's hash is kept, in the database.
    assert!(!env.data_dir().join("api-key.sha256").exists());
    let mut stored = Vec::new();
    for file in ["jiralink.db", "jiralink.db-wal"] {
        if let Ok(bytes) = std::fs::read(env.data_dir().join(file)) {
            stored.extend(bytes);
        }
    }
    assert!(!stored.is_empty());
    assert!(!String::from_utf8_lossy(&stored).contains(&key));

    let http =
        jiralink_atlassian::build_client(&jiralink_atlassian::HttpConfig::default()).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let list = format!("{base}/v1/connections");
        let res = http.get(&list).send().await.unwrap();
        assert_eq!(res.status().as_u16(), 401);
        let res = http.get(&list).bearer_auth(&key).send().await.unwrap();
        assert_eq!(res.status().as_u16(), 200);
        let body: serde_json::Value = res.json().await.unwrap();
        assert_eq!(body[0]["id"], id.as_str());
        // Starting an authorization needs the key; the old browser start route is gone.
        let start = format!("{base}/v1/connections/{id}/authorize");
        let res = http.post(&start).send().await.unwrap();
        assert_eq!(res.status().as_u16(), 401);
        let res = http
            .get(format!("{base}/connection/{id}/oauth2"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), 404);
    });

    let mut authorize = spawn(&env, &["connection", "authorize", "Cloud", "--no-browser"]);
    let mut out = BufReader::new(authorize.stdout.take().unwrap());
    let mut first = String::new();
    out.read_line(&mut first).unwrap();
    let to_atlassian = first.trim().to_owned();
    assert!(
        to_atlassian.starts_with(&env.sim.auth_server()),
        "{to_atlassian}"
    );
    let page = runtime.block_on(async {
        // The simulator approves at once and sends the browser back to the server.
        let res = http.get(&to_atlassian).send().await.unwrap();
        assert_eq!(res.status().as_u16(), 302);
        let back = res.headers()["location"].to_str().unwrap().to_owned();
        assert!(
            back.starts_with(&format!("{base}/connection/oauth2callback?")),
            "{back}"
        );
        let res = http.get(&back).send().await.unwrap();
        assert_eq!(res.status().as_u16(), 200);
        assert_eq!(res.headers()["referrer-policy"], "no-referrer");
        res.text().await.unwrap()
    });
    assert!(page.contains("Connection authorized"), "{page}");
    let mut rest = String::new();
    out.read_to_string(&mut rest).unwrap();
    let mut err = String::new();
    authorize
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    let status = authorize.wait().unwrap();
    assert!(status.success(), "stdout: {rest}\nstderr: {err}");
    assert!(rest.contains("online"), "{rest}");
    assert!(err.contains("receives the callback"), "{err}");

    let shown = env
        .run(&["connection", "show", "Cloud", "-o", "json"], None)
        .ok()
        .json();
    assert_eq!(shown["state"]["status"], "online", "{shown}");

    // Ctrl-C: the server stops cleanly.
    let interrupted = std::process::Command::new("kill")
        .args(["-INT", &server.id().to_string()])
        .status()
        .unwrap();
    assert!(interrupted.success());
    let status = server.wait().unwrap();
    drop(lines_rx);
    drain.join().unwrap();
    assert!(status.success(), "{server_log}");
    for text in [&server_log, &rest, &err, &page] {
        assert!(!text.contains(&app.client_secret), "client secret leaked");
    }
}

/// A `jiralink serve` process whose stdout and stderr lines arrive on one channel, read by
/// two threads, so a test waits for output instead of sleeping.
struct Server {
    child: Child,
    lines: mpsc::Receiver<(Stream, String)>,
    /// Everything read so far, for failure messages and leak checks.
    seen: String,
    readers: Vec<std::thread::JoinHandle<()>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stream {
    Out,
    Err,
}

const DEADLINE: std::time::Duration = std::time::Duration::from_secs(60);

impl Server {
    /// Starts `jiralink <args>` with no JIRALINK_* or RUST_LOG from the test's environment,
    /// plus `env`.
    fn start(args: &[&str], env: &[(&str, &std::path::Path)]) -> Self {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_jiralink"));
        for (k, _) in std::env::vars() {
            if k.starts_with("JIRALINK_") || k == "RUST_LOG" {
                cmd.env_remove(k);
            }
        }
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd
            .env("USER", "tester")
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (tx, lines) = mpsc::channel();
        let mut readers = Vec::new();
        let out = child.stdout.take().unwrap();
        let err = child.stderr.take().unwrap();
        for (stream, reader) in [
            (Stream::Out, Box::new(out) as Box<dyn std::io::Read + Send>),
            (Stream::Err, Box::new(err)),
        ] {
            let tx = tx.clone();
            readers.push(std::thread::spawn(move || {
                for line in BufReader::new(reader).lines() {
                    let Ok(line) = line else { break };
                    if tx.send((stream, line)).is_err() {
                        break;
                    }
                }
            }));
        }
        Self {
            child,
            lines,
            seen: String::new(),
            readers,
        }
    }

    /// The first line from now on that `pred` accepts; fails when the process ends first or
    /// nothing comes before the deadline.
    fn wait_for(&mut self, mut pred: impl FnMut(Stream, &str) -> bool) -> String {
        let until = std::time::Instant::now() + DEADLINE;
        loop {
            let left = until.saturating_duration_since(std::time::Instant::now());
            match self.lines.recv_timeout(left) {
                Ok((stream, line)) => {
                    self.seen.push_str(&line);
                    self.seen.push('\n');
                    if pred(stream, &line) {
                        return line;
                    }
                }
                Err(e) => panic!("no such line ({e}); output so far:\n{}", self.seen),
            }
        }
    }

    /// The address from "Serving on http://ADDR".
    fn address(&mut self) -> String {
        let line = self.wait_for(|s, l| s == Stream::Err && l.starts_with("Serving on http://"));
        line["Serving on http://".len()..]
            .split_whitespace()
            .next()
            .unwrap()
            .to_owned()
    }

    /// Sends SIGTERM and waits, reading output until both streams close, for the exit.
    fn terminate(mut self) -> (std::process::ExitStatus, String) {
        let sent = std::process::Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(sent.success());
        let until = std::time::Instant::now() + DEADLINE;
        loop {
            let left = until.saturating_duration_since(std::time::Instant::now());
            match self.lines.recv_timeout(left) {
                Ok((_, line)) => {
                    self.seen.push_str(&line);
                    self.seen.push('\n');
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    let _ = self.child.kill();
                    panic!("still running after SIGTERM:\n{}", self.seen);
                }
            }
        }
        let status = self.child.wait().unwrap();
        for r in self.readers.drain(..) {
            r.join().unwrap();
        }
        (status, std::mem::take(&mut self.seen))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // A failed assertion must not leave a server running.
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// GET with an optional bearer key: status, content type and body.
fn get(url: &str, key: Option<&str>) -> (u16, String, String) {
    let http =
        jiralink_atlassian::build_client(&jiralink_atlassian::HttpConfig::default()).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let mut req = http.get(url);
        if let Some(key) = key {
            req = req.bearer_auth(key);
        }
        let res = req.send().await.unwrap();
        let status = res.status().as_u16();
        let content_type = res
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        (status, content_type, res.text().await.unwrap())
    })
}

/// The value after `label` on a banner line such as "  Password:   abc".
fn banner_value(output: &str, label: &str) -> String {
    output
        .lines()
        .find_map(|l| l.trim_start().strip_prefix(label))
        .unwrap_or_else(|| panic!("no {label:?} in:\n{output}"))
        .trim()
        .to_owned()
}

#[test]
fn demo_serves_the_simulator_and_its_credentials_and_stops_on_sigterm() {
    let mut server = Server::start(
        &[
            "serve",
            "--demo",
            "--bind",
            "127.0.0.1:0",
            "--log-format",
            "json",
        ],
        &[],
    );
    let key = server.wait_for(|s, _| s == Stream::Out);
    assert!(key.starts_with("jlk_"), "{key}");
    let addr = server.address();
    let base = format!("http://{addr}");
    let out = server.seen.clone();
    assert!(
        out.contains("(temporary; deleted when the server stops)"),
        "{out}"
    );
    assert!(out.contains("demo data is throwaway"), "{out}");
    let data_dir = std::path::PathBuf::from(
        banner_value(&out, "Data directory:")
            .split(" (")
            .next()
            .unwrap(),
    );
    let config = std::fs::read_to_string(data_dir.join("jiralink.toml")).unwrap();
    assert!(
        config.contains(&format!("base_url = \"{base}\"")),
        "{config}"
    );
    let password = banner_value(&out, "Password:");
    let site = banner_value(&out, "Site:");
    assert!(site.starts_with("http://127.0.0.1:"), "{site}");
    assert!(site.ends_with("/site/demo"), "{site}");
    assert!(
        config.contains(site.trim_end_matches("/site/demo")),
        "{config}"
    );
    assert_eq!(banner_value(&out, "Username:"), "admin");

    assert_eq!(get(&format!("{base}/healthz"), None).0, 200);
    assert_eq!(get(&format!("{base}/readyz"), None).0, 200);
    assert_eq!(get(&format!("{base}/metrics"), None).0, 401);
    assert_eq!(get(&format!("{base}/metrics"), Some("wrong")).0, 401);
    let (status, content_type, metrics) = get(&format!("{base}/metrics"), Some(&key));
    assert_eq!(status, 200, "{metrics}");
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    assert!(
        metrics.contains(
            "jiralink_http_requests_total{method=\"GET\",route=\"/healthz\",status=\"200\"} 1"
        ),
        "{metrics}"
    );
    assert!(
        metrics.contains("jiralink_connections{state=\"online\"} 0"),
        "{metrics}"
    );
    // The sign-in page shows what the terminal showed.
    let (status, _, login) = get(&format!("{base}/login"), None);
    assert_eq!(status, 200, "{login}");
    assert!(login.contains("id=\"demo-credentials\""), "{login}");
    for shown in [&password, &site, "Demo OAuth app"] {
        assert!(
            login.contains(shown),
            "{shown} not on the sign-in page:\n{login}"
        );
    }
    // The simulated Jira accepts the sample credentials shown, at the site shown.
    let basic = banner_value(&out, "Basic:");
    let (email, token) = basic
        .strip_prefix("username ")
        .unwrap()
        .split_once(", API token ")
        .unwrap();
    let http =
        jiralink_atlassian::build_client(&jiralink_atlassian::HttpConfig::default()).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let me: serde_json::Value = runtime.block_on(async {
        let res = http
            .get(format!("{site}/rest/api/3/myself"))
            .basic_auth(email, Some(token))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), 200);
        res.json().await.unwrap()
    });
    assert_eq!(me["emailAddress"], email, "{me}");
    for shown in [email, token] {
        assert!(login.contains(shown), "{shown} not on the sign-in page");
    }

    let (status, output) = server.terminate();
    assert!(status.success(), "{output}");
    assert!(output.contains("Stopped."), "{output}");
    assert!(!data_dir.exists(), "{} was kept", data_dir.display());
    // With --log-format json, every log line is one JSON object.
    let logs: Vec<serde_json::Value> = output
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert!(
        logs.iter()
            .any(|l| l["level"] == "INFO" && l["message"] == "serving"),
        "{output}"
    );
    for log in &logs {
        assert!(
            log["timestamp"].is_string() && log["target"].is_string(),
            "{log}"
        );
    }
}

#[test]
fn plain_serve_on_port_0_prints_its_address_and_answers_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::start(
        &["serve", "--bind", "127.0.0.1:0"],
        &[("JIRALINK_DATA_DIR", dir.path())],
    );
    let key = server.wait_for(|s, l| s == Stream::Out && l.starts_with("jlk_"));
    let addr = server.address();
    assert!(!addr.ends_with(":0"), "{addr}");
    let base = format!("http://{addr}");
    assert_eq!(get(&format!("{base}/healthz"), None).0, 200);
    assert_eq!(get(&format!("{base}/metrics"), None).0, 401);
    let (status, _, metrics) = get(&format!("{base}/metrics"), Some(&key));
    assert_eq!(status, 200, "{metrics}");
    assert!(
        metrics.contains("# TYPE jiralink_http_request_duration_seconds histogram"),
        "{metrics}"
    );
    // Another process replaces the server's key in the database: the running server refuses
    // the old key and accepts the new one at once.
    let reset = std::process::Command::new(env!("CARGO_BIN_EXE_jiralink"))
        .env_remove("JIRALINK_API_KEY")
        .env_remove("JIRALINK_DATABASE_URL")
        .env("JIRALINK_DATA_DIR", dir.path())
        .args(["api-key", "reset-server", "--output", "json"])
        .output()
        .unwrap();
    assert!(reset.status.success(), "{reset:?}");
    let reset: serde_json::Value = serde_json::from_slice(&reset.stdout).unwrap();
    let new_key = reset["key"].as_str().unwrap();
    assert!(new_key.starts_with("jlk_") && new_key != key, "{new_key}");
    assert_eq!(get(&format!("{base}/metrics"), Some(&key)).0, 401);
    assert_eq!(get(&format!("{base}/metrics"), Some(new_key)).0, 200);
    // The default configuration says 8080: the server says where callbacks would go.
    assert!(
        server
            .seen
            .contains("warning: server.base_url is http://127.0.0.1:8080/"),
        "{}",
        server.seen
    );
    let (status, output) = server.terminate();
    assert!(status.success(), "{output}");
    // Text logs by default: no JSON objects.
    assert!(!output.lines().any(|l| l.starts_with('{')), "{output}");
}

#[test]
fn demo_keeps_to_its_own_data_directories() {
    // A data directory with a configuration of its own belongs to real work.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("jiralink.toml"), "version = 1\n").unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_jiralink"))
        .env_remove("JIRALINK_CONFIG")
        .env("JIRALINK_DATA_DIR", dir.path())
        .args(["serve", "--demo", "--bind", "127.0.0.1:0"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("was not written by --demo"), "{err}");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("jiralink.toml")).unwrap(),
        "version = 1\n"
    );
    // The simulated Jira is on this machine only.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_jiralink"))
        .env("JIRALINK_DATA_DIR", dir.path())
        .args(["serve", "--demo", "--bind", "0.0.0.0:0"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("loopback"), "{err}");

    // A named empty directory is used, kept, and on the next start gets a new password.
    let kept = tempfile::tempdir().unwrap();
    let data = kept.path().join("demo");
    let mut passwords = Vec::new();
    for _ in 0..2 {
        let mut server = Server::start(
            &["serve", "--demo", "--bind", "127.0.0.1:0"],
            &[("JIRALINK_DATA_DIR", &data)],
        );
        server.address();
        let out = server.seen.clone();
        assert!(
            out.contains("(from --data-dir / JIRALINK_DATA_DIR)"),
            "{out}"
        );
        passwords.push(banner_value(&out, "Password:"));
        let (status, output) = server.terminate();
        assert!(status.success(), "{output}");
        assert!(data.join("jiralink.db").exists());
    }
    assert_ne!(passwords[0], passwords[1]);
}
