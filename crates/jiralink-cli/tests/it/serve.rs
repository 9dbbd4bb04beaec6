//! `jiralink serve` end to end: the API key is created once and required on /v1, no route
//! starts an authorization without it, and `connection authorize` starts one on the shared
//! data directory and hands the callback to the running server, which brings the connection
//! online. Ctrl-C stops the server.

use std::io::{BufRead as _, BufReader, Read as _};
use std::process::{Child, Stdio};
use std::sync::mpsc;

use jiralink_sim::control::NewOAuthApp;

use crate::common::Env;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn spawn(env: &Env, args: &[&str]) -> Child {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_jiralink"));
    for (k, _) in std::env::vars() {
        if k.starts_with("JIRALINK_") || k == "RUST_LOG" {
            cmd.env_remove(k);
        }
    }
    cmd.env("JIRALINK_DATA_DIR", env.data_dir())
        .env(
            "JIRALINK_ATLASSIAN__SITE_URL_TEMPLATE",
            env.sim.site_url_template(),
        )
        .env("JIRALINK_ATLASSIAN__API_GATEWAY", env.sim.api_gateway())
        .env("JIRALINK_ATLASSIAN__AUTH_SERVER", env.sim.auth_server())
        .env("USER", "tester")
        .envs(env.extra_env.iter().map(|(k, v)| (k, v)))
        .arg("--no-input")
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
    let app = env
        .sim
        .control()
        .add_oauth_app(NewOAuthApp {
            name: Some("jiralink".to_owned()),
            callbacks: vec![format!("{base}/connection/oauth2callback")],
            scopes: None,
        })
        .unwrap();
    env.sim
        .control()
        .update_knobs(|k| k.auto_approve = true)
        .unwrap();
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
            &[
                "connection",
                "create",
                "--name",
                "Cloud",
                "--api-type",
                "cloud-platform",
                "--subdomain",
                "demo",
                "--auth-type",
                "oauth2",
                "--oauth-client",
                "Sim",
                "--scopes",
                "read:jira-work,read:jira-user,read:me",
                "-o",
                "json",
            ],
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
    let stored = std::fs::read_to_string(env.data_dir().join("api-key.sha256")).unwrap();
    assert!(!stored.contains(&key));

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
