//! `jiralink notification …`: subscriptions, the webhook with its secret printed once, a test
//! message to a receiver on 127.0.0.1 whose signature is checked, and the history.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpListener;
use std::sync::mpsc;

use crate::common::Env;

/// Answers each HTTP request with `status` and hands the test its signature header and body.
fn receiver(status: u16) -> (String, mpsc::Receiver<(String, Vec<u8>)>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let mut stream = stream.unwrap();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let (mut length, mut signature) = (0usize, String::new());
            loop {
                let mut line = String::new();
                reader.read_line(&mut line).unwrap();
                let line = line.trim_end();
                if line.is_empty() {
                    break;
                }
                let (name, value) = line.split_once(':').unwrap_or((line, ""));
                match name.to_ascii_lowercase().as_str() {
                    "content-length" => length = value.trim().parse().unwrap(),
                    "x-jiralink-signature" => signature = value.trim().to_owned(),
                    _ => {}
                }
            }
            let mut body = vec![0; length];
            reader.read_exact(&mut body).unwrap();
            tx.send((signature, body)).unwrap();
            write!(
                stream,
                "HTTP/1.1 {status} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
            )
            .unwrap();
        }
    });
    (url, rx)
}

fn add_user(env: &Env, name: &str) {
    env.run(
        &["user", "add", name, "--password-stdin"],
        Some("a long enough password\n"),
    )
    .ok();
}

#[test]
fn subscriptions_the_webhook_and_a_signed_test_message() {
    let env = Env::new();
    add_user(&env, "alice");
    env.create_alice("Sim demo");

    let topics = env
        .run(&["notification", "topics", "-o", "json"], None)
        .ok()
        .json();
    assert_eq!(topics.as_array().unwrap().len(), 6);

    let sub = env
        .run(
            &[
                "notification",
                "subscribe",
                "--user",
                "alice",
                "--topic",
                "connection.offline",
                "--subject",
                "Sim demo",
                "--email",
                "alice@example.com",
                "-o",
                "json",
            ],
            None,
        )
        .ok()
        .json();
    assert_eq!(sub["subjectName"], "Sim demo");
    assert_eq!(sub["address"], "alice@example.com");
    // Twice is a conflict; a bad topic invalid input; an unknown subject not found.
    let again = [
        "notification",
        "subscribe",
        "--user",
        "alice",
        "--topic",
        "connection.offline",
        "--subject",
        "Sim demo",
        "--email",
        "alice@example.com",
    ];
    env.run(&again, None).fails_with(5);
    let mut bad = again;
    bad[5] = "connection.gone";
    env.run(&bad, None).fails_with(3);
    let mut unknown = again;
    unknown[7] = "nope";
    env.run(&unknown, None).fails_with(4);
    // Exactly one channel.
    env.run(
        &[
            "notification",
            "subscribe",
            "--user",
            "alice",
            "--topic",
            "run.failed",
        ],
        None,
    )
    .fails_with(2);
    let table = env
        .run(&["notification", "subscriptions"], None)
        .ok()
        .stdout;
    assert!(table.contains("connection Sim demo"), "{table}");

    // No channel set up yet.
    env.run(
        &["notification", "test", "--user", "alice", "--webhook"],
        None,
    )
    .fails_with(5);

    let (url, calls) = receiver(204);
    let set = env
        .run(&["notification", "webhook", "set", &url], None)
        .ok()
        .stdout;
    let secret = set
        .lines()
        .find(|l| l.starts_with("whsec_"))
        .unwrap_or_else(|| panic!("no secret printed: {set}"))
        .to_owned();
    let again = env
        .run(&["notification", "webhook", "set", &url], None)
        .ok()
        .stdout;
    assert!(!again.contains("whsec_"), "{again}");
    let channels = env
        .run(&["notification", "channels", "-o", "json"], None)
        .ok()
        .json();
    assert_eq!(channels["webhook"]["url"], url.as_str());
    assert!(!channels.to_string().contains(&secret));

    let sent = env
        .run(
            &[
                "notification",
                "test",
                "--user",
                "alice",
                "--webhook",
                "-o",
                "json",
            ],
            None,
        )
        .ok()
        .json();
    assert_eq!(sent["state"], "sent");
    let (signature, body) = calls.recv().unwrap();
    assert_eq!(signature, jiralink_app::signature(&secret, &body));
    let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(body["title"], "jiralink test notification");
    assert!(body["text"].as_str().unwrap().contains("/notifications"));

    let list = env
        .run(
            &["notification", "list", "--user", "alice", "-o", "json"],
            None,
        )
        .ok()
        .json();
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["id"], sent["id"]);
    let table = env.run(&["notification", "list"], None).ok().stdout;
    assert!(table.contains("jiralink test notification"), "{table}");

    // A receiver that fails: the test says so, and the message is kept for a retry.
    let (failing, _calls) = receiver(500);
    env.run(&["notification", "webhook", "set", &failing], None)
        .ok();
    let out = env
        .run(
            &["notification", "test", "--user", "alice", "--webhook"],
            None,
        )
        .fails_with(7);
    assert!(out.stderr.contains("HTTP 500"), "{}", out.stderr);

    let id = sub["id"].as_str().unwrap();
    env.run(
        &["notification", "unsubscribe", "--user", "alice", id],
        None,
    )
    .ok();
    env.run(
        &["notification", "unsubscribe", "--user", "alice", id],
        None,
    )
    .fails_with(4);
    env.run(&["notification", "webhook", "remove"], None).ok();
}
