//! Plants distinctive secret values, runs every command, and looks for them everywhere a
//! secret could leak: stdout, stderr (with trace logging), and the raw database files.

use base64::Engine;

use crate::common::{Env, Output, connection_create};

const TOKEN: &str = "CANARY-7f3a9c1e-api-token-5d2b8e4f6a1c3d5e";
const TOKEN_2: &str = "CANARY-0b1c2d3e-api-token-second-9a8b7c6d";
const CLIENT_SECRET: &str = "CANARY-4e5f6a7b-client-secret-1f2e3d4c5b6a";

fn forms(secret: &str) -> Vec<String> {
    let b64 = base64::engine::general_purpose::STANDARD;
    vec![
        secret.to_owned(),
        // the distinctive middle alone, in case of truncation or re-encoding
        secret[7..25].to_owned(),
        b64.encode(secret),
        b64.encode(format!("me@example.com:{secret}")),
        hex::encode(secret),
    ]
}

fn assert_clean(what: &str, text: &str) {
    for secret in [TOKEN, TOKEN_2, CLIENT_SECRET] {
        for form in forms(secret) {
            assert!(
                !text.contains(&form),
                "{what} contains a planted secret ({form})"
            );
        }
    }
}

#[test]
fn planted_secrets_appear_nowhere() {
    let mut env = Env::new();
    env.extra_env
        .push(("RUST_LOG".to_owned(), "trace".to_owned()));
    let token_file = env.path().join("token.txt");
    std::fs::write(&token_file, format!("{TOKEN_2}\n")).unwrap();
    let token_file = token_file.to_str().unwrap().to_owned();
    env.extra_env
        .push(("CANARY_TOKEN".to_owned(), TOKEN.to_owned()));
    let mut outputs: Vec<(String, Output)> = Vec::new();
    let mut run = |args: &[&str], stdin: Option<&str>| {
        let out = env.run(args, stdin);
        outputs.push((args.join(" "), out));
    };
    let basic = connection_create(
        "Canary",
        "basic",
        &[
            "--username",
            "me@example.com",
            "--api-token-stdin",
            "--save-anyway",
            "-vv",
        ],
    );
    run(&basic, Some(TOKEN));
    // The debugger records the tests that send the planted token from now on.
    run(
        &["connection", "debug", "Canary", "--minutes", "15", "-vv"],
        None,
    );
    run(&["connection", "test", "Canary", "-vv"], None);
    run(&["connection", "test", "Canary", "-o", "json"], None);
    run(
        &[
            "oauth-client",
            "create",
            "--name",
            "App",
            "--client-id",
            "cid",
            "--client-secret-stdin",
            "-vv",
        ],
        Some(CLIENT_SECRET),
    );
    run(
        &connection_create(
            "OAuth",
            "oauth2",
            &["--oauth-client", "App", "--scopes", "read:jira-work"],
        ),
        None,
    );
    for format in ["table", "json"] {
        run(&["connection", "list", "-o", format, "-vv"], None);
        run(&["connection", "show", "Canary", "-o", format, "-vv"], None);
        run(&["connection", "http-view", "Canary", "-o", format], None);
        run(&["connection", "http-view", "OAuth", "-o", format], None);
        run(&["connection", "audit", "Canary", "-o", format], None);
        run(&["oauth-client", "list", "-o", format], None);
        run(&["oauth-client", "show", "App", "-o", format], None);
        run(&["oauth-client", "audit", "App", "-o", format], None);
        run(&["key", "status", "-o", format], None);
    }
    // Error paths that carry a secret in the request.
    run(
        &[
            "connection",
            "create",
            "--name",
            "Bad",
            "--api-type",
            "cloud-platform",
            "--subdomain",
            "not a host!",
            "--auth-type",
            "basic",
            "--username",
            "x",
            "--api-token-stdin",
            "-o",
            "json",
        ],
        Some(TOKEN_2),
    );
    run(
        &connection_create(
            "Canary",
            "basic",
            &["--username", "me@example.com", "--api-token-stdin"],
        ),
        Some(TOKEN_2),
    );
    run(
        &[
            "oauth-client",
            "create",
            "--name",
            "Bad",
            "--client-id",
            "has space",
            "--client-secret-stdin",
        ],
        Some(CLIENT_SECRET),
    );
    run(
        &[
            "connection",
            "edit",
            "Canary",
            "--api-token-stdin",
            "--save-anyway",
            "-vv",
        ],
        Some(TOKEN_2),
    );
    run(&["connection", "test", "Canary", "-vv"], None);
    for format in ["table", "json"] {
        run(
            &["connection", "debug", "show", "Canary", "-o", format, "-vv"],
            None,
        );
    }
    run(&["connection", "watch", "--once", "-vv"], None);
    run(
        &[
            "oauth-client",
            "edit",
            "App",
            "--client-secret-stdin",
            "-vv",
        ],
        Some(CLIENT_SECRET),
    );
    run(&["oauth-client", "delete", "App", "--yes"], None);
    // Other ways in, and switching auth types back and forth.
    run(
        &connection_create(
            "From file",
            "basic",
            &[
                "--username",
                "me@example.com",
                "--api-token-file",
                &token_file,
                "--save-anyway",
                "-vv",
            ],
        ),
        None,
    );
    run(
        &connection_create(
            "From env",
            "basic",
            &[
                "--username",
                "me@example.com",
                "--api-token-env",
                "CANARY_TOKEN",
                "--save-anyway",
                "-o",
                "json",
            ],
        ),
        None,
    );
    run(
        &[
            "connection",
            "edit",
            "From file",
            "--auth-type",
            "oauth2",
            "--oauth-client",
            "App",
            "--scopes",
            "read:jira-work",
            "-vv",
        ],
        None,
    );
    run(
        &[
            "connection",
            "edit",
            "From file",
            "--auth-type",
            "basic",
            "--username",
            "me@example.com",
            "--api-token-env",
            "CANARY_TOKEN",
            "--save-anyway",
            "-o",
            "json",
        ],
        None,
    );
    run(&["connection", "audit", "From file", "-o", "json"], None);
    run(&["connection", "list", "-o", "json"], None);
    run(&["key", "rotate", "-vv"], None);
    run(&["connection", "delete", "OAuth", "--yes"], None);
    run(&["connection", "delete", "Canary", "--yes", "-vv"], None);

    assert!(outputs.iter().filter(|(_, o)| o.code == 0).count() >= 26);
    // The debugger really recorded the exchanges that carried the planted tokens.
    let (_, shown) = outputs
        .iter()
        .find(|(args, _)| args.starts_with("connection debug show Canary -o json"))
        .unwrap();
    let log: serde_json::Value = serde_json::from_str(&shown.stdout).unwrap();
    let lines = log["lines"].as_array().unwrap();
    assert!(lines.len() >= 6, "{}", shown.stdout);
    assert!(shown.stdout.contains("Basic ********"), "{}", shown.stdout);
    let (_, tested) = outputs
        .iter()
        .find(|(args, _)| args == "connection test Canary -o json")
        .unwrap();
    assert_eq!(tested.code, 8, "{}", tested.stderr);
    assert!(
        tested.stdout.contains("wrong_credentials"),
        "{}",
        tested.stdout
    );
    for (args, out) in &outputs {
        assert_clean(&format!("stdout of `{args}`"), &out.stdout);
        assert_clean(&format!("stderr of `{args}`"), &out.stderr);
    }
    let mut files = 0;
    for entry in std::fs::read_dir(env.data_dir()).unwrap() {
        let path = entry.unwrap().path();
        if path
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("jiralink.db")
        {
            let bytes = std::fs::read(&path).unwrap();
            assert_clean(
                &path.display().to_string(),
                &String::from_utf8_lossy(&bytes),
            );
            files += 1;
        }
    }
    assert!(files >= 1);
}

#[test]
fn secrets_are_sealed_not_stored() {
    // While secrets exist, the raw file holds only their sealed form.
    let env = Env::new();
    env.create_basic("Canary", TOKEN);
    env.create_client("App", CLIENT_SECRET);
    let mut seen_sealed = false;
    for entry in std::fs::read_dir(env.data_dir()).unwrap() {
        let path = entry.unwrap().path();
        if path
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("jiralink.db")
        {
            let text = String::from_utf8_lossy(&std::fs::read(&path).unwrap()).into_owned();
            assert_clean(&path.display().to_string(), &text);
            seen_sealed |= text.contains("enc:v1:");
        }
    }
    assert!(seen_sealed, "expected sealed secrets in the database files");
}
