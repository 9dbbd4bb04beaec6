//! `connection authorize` end to end: the CLI's one-shot loopback listener receives the
//! simulator's redirect, the tokens are stored, the connection works, and `disconnect`
//! forgets them. No secret (client secret, authorization code) shows in any output or file.

use std::io::{BufRead as _, BufReader};
use std::process::Stdio;

use crate::common::{Env, connection_create, free_port};

#[test]
fn authorize_receives_the_callback_and_the_connection_works() {
    let mut env = Env::new();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let callback = format!("{base}/connection/oauth2callback");
    let app = env.auto_approved_oauth_app(&base);
    env.extra_env
        .push(("JIRALINK_SERVER__BASE_URL".to_owned(), base.clone()));
    env.extra_env
        .push(("RUST_LOG".to_owned(), "trace".to_owned()));
    let mut outputs = Vec::new();
    let out = env.run(
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
    );
    outputs.push(out.stdout.clone() + &out.stderr);
    out.ok();
    let out = env.run(
        &connection_create(
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
    );
    outputs.push(out.stdout.clone() + &out.stderr);
    out.ok();

    let mut child = env
        .std_cmd()
        .args(["connection", "authorize", "Cloud", "--no-browser"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    stdout.read_line(&mut first).unwrap();
    let authorize_url = url::Url::parse(first.trim()).unwrap();
    assert!(authorize_url.as_str().starts_with(&env.sim.auth_server()));

    let http =
        jiralink_atlassian::build_client(&jiralink_atlassian::HttpConfig::default()).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (code, page_headers, page) = runtime.block_on(async {
        let res = http.get(authorize_url.clone()).send().await.unwrap();
        assert_eq!(res.status().as_u16(), 302);
        let location = url::Url::parse(res.headers()["location"].to_str().unwrap()).unwrap();
        assert!(location.as_str().starts_with(&callback), "{location}");
        let code = location
            .query_pairs()
            .find(|(k, _)| k == "code")
            .unwrap()
            .1
            .into_owned();
        // Strays to the callback path (no state, another state) are refused and the wait
        // goes on; only the request carrying this run's state completes it.
        for stray in [
            callback.clone(),
            format!("{callback}?code=x&state=not-this-run"),
        ] {
            let res = http.get(&stray).send().await.unwrap();
            assert_eq!(res.status().as_u16(), 400, "{stray}");
        }
        // The browser's request would be retried while the listener starts; it is already up
        // because the URL is printed only after binding.
        let res = http.get(location).send().await.unwrap();
        let headers = res.headers().clone();
        (code, headers, res.text().await.unwrap())
    });
    assert_eq!(page_headers["referrer-policy"], "no-referrer");
    assert_eq!(page_headers["cache-control"], "no-store");
    assert!(page_headers.get("location").is_none());
    assert!(page.contains("authorized"), "{page}");
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stdout, &mut rest).unwrap();
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    let status = child.wait().unwrap();
    assert!(status.success(), "stdout: {rest}\nstderr: {stderr}");
    assert!(rest.contains("online"), "{rest}");
    outputs.push(first + &rest + &stderr + &page);

    let out = env.run(&["connection", "test", "Cloud", "-o", "json"], None);
    outputs.push(out.stdout.clone() + &out.stderr);
    let report = out.ok().json();
    assert_eq!(report["result"], "passed", "{report}");

    let out = env.run(&["connection", "disconnect", "Cloud"], None);
    outputs.push(out.stdout.clone() + &out.stderr);
    out.ok();
    let out = env.run(&["connection", "show", "Cloud", "-o", "json"], None);
    outputs.push(out.stdout.clone() + &out.stderr);
    let shown = out.ok().json();
    assert_eq!(shown["state"]["status"], "needs_authorization", "{shown}");

    let mut files = Vec::new();
    for entry in std::fs::read_dir(env.data_dir()).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            files.extend(std::fs::read(path).unwrap());
        }
    }
    outputs.push(String::from_utf8_lossy(&files).into_owned());
    for text in &outputs {
        assert!(!text.contains(&app.client_secret), "client secret leaked");
        assert!(!text.contains(&code), "authorization code leaked");
    }
}

#[test]
fn a_listen_address_off_loopback_is_refused() {
    let env = Env::new();
    env.create_client("C", "secret-value-1");
    env.run(
        &connection_create(
            "O",
            "oauth2",
            &["--oauth-client", "C", "--scopes", "read:jira-work"],
        ),
        None,
    )
    .ok();
    let out = env.run(
        &[
            "connection",
            "authorize",
            "O",
            "--no-browser",
            "--listen",
            "0.0.0.0:9",
        ],
        None,
    );
    assert_ne!(out.code, 0);
    assert!(out.stderr.contains("loopback"), "{}", out.stderr);
}
