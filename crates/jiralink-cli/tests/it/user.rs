//! `jiralink user …` and `jiralink api-key …`.

use crate::common::Env;

const PASSWORD: &str = "CANARY-cli-pass-5c0ffee1";

fn add(env: &Env, name: &str, admin: bool) -> crate::common::Output {
    let mut args = vec!["user", "add", name, "--password-stdin", "-o", "json"];
    if admin {
        args.push("--admin");
    }
    env.run(&args, Some(&format!("{PASSWORD}\n")))
}

/// Every byte under the data directory, to look for plaintext secrets.
fn data_bytes(env: &Env) -> Vec<u8> {
    let mut all = Vec::new();
    for entry in std::fs::read_dir(env.data_dir()).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            all.extend(std::fs::read(path).unwrap());
        }
    }
    all
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

#[test]
fn users_are_added_listed_and_deleted() {
    let env = Env::new();
    let alice = add(&env, "alice", true).ok().json();
    assert_eq!(alice["username"], "alice");
    assert_eq!(alice["isAdmin"], true);
    assert!(alice.get("passwordHash").is_none());
    add(&env, "bob", false).ok();
    // Taken without regard to case.
    add(&env, "ALICE", false).fails_with(5);
    let list = env.run(&["user", "list", "-o", "json"], None).ok().json();
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["alice", "bob"]);
    let table = env.run(&["user", "list"], None).ok();
    assert!(table.stdout.contains("administrator"), "{}", table.stdout);
    // The last administrator stays.
    let out = env
        .run(&["user", "delete", "alice", "--yes"], None)
        .fails_with(5);
    assert!(out.stderr.contains("last administrator"), "{}", out.stderr);
    // Without a terminal, deleting needs --yes.
    env.run(&["user", "delete", "bob"], None).fails_with(2);
    env.run(&["user", "delete", "bob", "--yes"], None).ok();
    env.run(&["user", "delete", "bob", "--yes"], None)
        .fails_with(4);
    assert!(!contains(&data_bytes(&env), PASSWORD));
}

#[test]
fn passwords_never_come_from_arguments_and_follow_the_rules() {
    let env = Env::new();
    let out = env.run(&["user", "add", "carol", "--password", PASSWORD], None);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("--password"), "{}", out.stderr);
    // No terminal and no --password-stdin: nothing to read the password from.
    let out = env.run(&["user", "add", "carol"], None).fails_with(2);
    assert!(out.stderr.contains("--password-stdin"), "{}", out.stderr);
    let out = env
        .run(
            &["user", "add", "carol", "--password-stdin"],
            Some("short\n"),
        )
        .fails_with(3);
    assert!(
        out.stderr.contains("at least 12 characters"),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("short\n"));
    let out = env
        .run(
            &["user", "add", "bad name", "--password-stdin"],
            Some(PASSWORD),
        )
        .fails_with(3);
    assert!(out.stderr.contains("user name"), "{}", out.stderr);
    let list = env.run(&["user", "list", "-o", "json"], None).ok().json();
    assert_eq!(list.as_array().unwrap().len(), 0);
}

#[test]
fn a_new_password_is_set_from_stdin() {
    let env = Env::new();
    add(&env, "dave", true).ok();
    let out = env
        .run(
            &["user", "password", "DAVE", "--password-stdin"],
            Some("another long password\n"),
        )
        .ok();
    assert!(out.stdout.contains("sessions have ended"), "{}", out.stdout);
    env.run(
        &["user", "password", "nobody", "--password-stdin"],
        Some("another long password\n"),
    )
    .fails_with(4);
    assert!(!contains(&data_bytes(&env), "another long password"));
}

#[test]
fn api_keys_are_printed_once_and_revocable() {
    let env = Env::new();
    add(&env, "ci", false).ok();
    let out = env
        .run(
            &[
                "api-key",
                "create",
                "--user",
                "ci",
                "--name",
                "nightly export",
            ],
            None,
        )
        .ok();
    let key = out.stdout.trim().to_owned();
    assert!(key.starts_with("jlk_") && key.len() == 68, "{key}");
    assert!(
        out.stderr.contains("shown only this once"),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains(&key));
    let list = env.run(&["api-key", "list", "-o", "json"], None).ok();
    assert!(!list.stdout.contains(&key[12..]));
    let keys = list.json();
    assert_eq!(keys[0]["name"], "nightly export");
    assert_eq!(keys[0]["username"], "ci");
    assert_eq!(keys[0]["prefix"], key[..12]);
    let table = env.run(&["api-key", "list", "--user", "ci"], None).ok();
    assert!(table.stdout.contains("nightly export"), "{}", table.stdout);
    assert!(!contains(&data_bytes(&env), &key));
    env.run(
        &["api-key", "create", "--user", "ghost", "--name", "x"],
        None,
    )
    .fails_with(4);
    let id = keys[0]["id"].as_str().unwrap().to_owned();
    let out = env.run(&["api-key", "revoke", &id], None).ok();
    assert!(out.stdout.contains("Revoked"), "{}", out.stdout);
    env.run(&["api-key", "revoke", &id], None).fails_with(4);
    let keys = env
        .run(&["api-key", "list", "-o", "json"], None)
        .ok()
        .json();
    assert_eq!(keys.as_array().unwrap().len(), 0);
}

#[test]
fn help_shows_examples() {
    let env = Env::new();
    for (args, example) in [
        (vec!["user", "add", "--help"], "jiralink user add alice"),
        (
            vec!["user", "password", "--help"],
            "jiralink user password admin",
        ),
        (
            vec!["api-key", "create", "--help"],
            "jiralink api-key create --user alice --name",
        ),
        (
            vec!["api-key", "revoke", "--help"],
            "jiralink api-key revoke",
        ),
    ] {
        let out = env.run(&args, None).ok();
        assert!(out.stdout.contains(example), "{args:?}: {}", out.stdout);
    }
}

/// Starts `jiralink serve` on a free port and collects what it prints until it serves (or
/// exits); then stops it. Returns (exit code if it exited, stdout lines, stderr lines).
fn serve_once(env: &Env, admin_password: Option<&str>) -> (Option<i32>, Vec<String>, Vec<String>) {
    use std::io::BufRead as _;
    use std::sync::mpsc;

    let mut cmd = env.std_cmd();
    cmd.args(["serve", "--bind", "127.0.0.1:0"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    if let Some(p) = admin_password {
        cmd.env("JIRALINK_ADMIN_PASSWORD", p);
    }
    let mut child = cmd.spawn().unwrap();
    let (tx, rx) = mpsc::channel::<(bool, String)>();
    let out_tx = tx.clone();
    let out = child.stdout.take().unwrap();
    let err = child.stderr.take().unwrap();
    let readers = [
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(out).lines() {
                let _ = out_tx.send((true, line.unwrap_or_default()));
            }
        }),
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(err).lines() {
                let _ = tx.send((false, line.unwrap_or_default()));
            }
        }),
    ];
    let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
    let mut serving = false;
    // Both streams close when the process exits; "Serving on" means it started.
    while let Ok((is_out, line)) = rx.recv_timeout(std::time::Duration::from_secs(60)) {
        serving = !is_out && line.starts_with("Serving on");
        if is_out {
            stdout.push(line);
        } else {
            stderr.push(line);
        }
        if serving {
            break;
        }
    }
    let code = if serving {
        child.kill().unwrap();
        child.wait().unwrap();
        None
    } else {
        // Both streams closed: the process has exited.
        child.wait().unwrap().code()
    };
    for r in readers {
        r.join().unwrap();
    }
    // stdout and stderr are read by two threads: what the server printed on stdout before
    // "Serving on" may arrive after it.
    for (is_out, line) in rx.try_iter() {
        if is_out {
            stdout.push(line);
        } else {
            stderr.push(line);
        }
    }
    (code, stdout, stderr)
}

#[test]
fn the_first_serve_prints_the_admin_password_once() {
    let env = Env::new();
    let (code, stdout, stderr) = serve_once(&env, None);
    assert_eq!(code, None, "{stderr:?}");
    // The API key first, then the administrator's password.
    assert_eq!(stdout.len(), 2, "{stdout:?}");
    assert!(stdout[0].starts_with("jlk_"));
    assert_eq!(stdout[1].chars().count(), 24, "{stdout:?}");
    assert!(
        stderr
            .iter()
            .any(|l| l.contains("Created the administrator \"admin\"")),
        "{stderr:?}"
    );
    assert!(!stderr.iter().any(|l| l.contains(&stdout[1])));
    let users = env.run(&["user", "list", "-o", "json"], None).ok().json();
    assert_eq!(users[0]["username"], "admin");
    assert_eq!(users[0]["isAdmin"], true);
    // The next start creates nothing and prints nothing.
    let (code, stdout, stderr) = serve_once(&env, Some(PASSWORD));
    assert_eq!(code, None, "{stderr:?}");
    assert!(stdout.is_empty(), "{stdout:?}");
    assert!(
        !stderr.iter().any(|l| l.contains("administrator")),
        "{stderr:?}"
    );
}

#[test]
fn the_admin_password_may_come_from_the_environment() {
    let env = Env::new();
    let (code, stdout, stderr) = serve_once(&env, Some("CANARY-tiny"));
    assert_eq!(code, Some(2), "{stderr:?}");
    assert!(
        stderr
            .iter()
            .any(|l| l.contains("JIRALINK_ADMIN_PASSWORD") && l.contains("at least 12")),
        "{stderr:?}"
    );
    assert!(
        !stderr
            .iter()
            .chain(&stdout)
            .any(|l| l.contains("CANARY-tiny"))
    );
    let env = Env::new();
    let (code, stdout, stderr) = serve_once(&env, Some(PASSWORD));
    assert_eq!(code, None, "{stderr:?}");
    assert_eq!(stdout.len(), 1, "only the API key: {stdout:?}");
    assert!(!stderr.iter().chain(&stdout).any(|l| l.contains(PASSWORD)));
    let users = env.run(&["user", "list", "-o", "json"], None).ok().json();
    assert_eq!(users.as_array().unwrap().len(), 1);
}
