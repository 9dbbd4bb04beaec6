//! Plants distinctive secret values in every kind of secret field, runs every command of the
//! binary (the list comes from its own help, so a new command fails this test until it is
//! run here) and looks for the secrets everywhere one could leak: stdout and stderr logged at
//! trace for every crate, the files of the data directory (SQLite with its `-wal`/`-shm`),
//! temporary files, export outputs, and a text dump of the database, while the secrets are
//! stored and again after they are gone. Each secret is searched for raw and as base64
//! (standard and URL-safe, also as `user:secret`), URL-encoded, JSON-escaped and hex.
//!
//! A secret may show only where it is handed over once: the one-time display of a key or a
//! webhook secret, the authorization URL carrying `state`.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use base64::Engine as _;
use jiralink_sim::oauth::ChosenSecrets;

use crate::common::{Env, Output, connection_create, free_port};
use crate::flows::COPY;

/// A planted API token the simulator does not know (its tests fail as wrong credentials).
const WRONG_TOKEN: &str = "CANARY-7f3a9c1e-api-token-5d2b8e4f6a1c3d5e9b0a";
const WRONG_TOKEN_2: &str = "CANARY-0b1c2d3e-api-token-second-9a8b7c6d5e4f";
const CLIENT_SECRET: &str = "CANARY-4e5f6a7b-client-secret-1f2e3d4c5b6a79";
const CODE: &str = "CANARY-8a1d2c3b-oauth-code-6e5f4a3b2c1d0e9f";
const ACCESS: &str = "CANARY-2b3c4d5e-access-token-first-7a8b9c0d1e";
const ACCESS_2: &str = "CANARY-3c4d5e6f-access-token-refreshed-8b9c0d";
const REFRESH: &str = "CANARY-5e6f7a8b-refresh-token-first-9c0d1e2f3a";
const REFRESH_2: &str = "CANARY-6f7a8b9c-refresh-token-rotated-0d1e2f3a";
const PASSWORD: &str = "CANARY-9d8c7b6a-user-password-5f4e3d2c1b0a";
const PASSWORD_2: &str = "CANARY-1a2b3c4d-user-password-new-6e7f8a9b0c";
const MASTER_KEY_HEX: &str = "c4a7a2f0e1d9b8c7a6f5e4d3c2b1a09f8e7d6c5b4a39281706f5e4d3c2b1a0f9";

/// Every secret of a run: a label and the value; values learnt while running (keys, `state`)
/// are added as they appear.
#[derive(Default)]
pub(crate) struct Canaries(Vec<(String, String)>);

impl Canaries {
    pub(crate) fn add(&mut self, label: &str, value: &str) {
        assert!(value.len() >= 16, "{label} is too short to search for");
        self.0.push((label.to_owned(), value.to_owned()));
    }

    /// `text` holds no secret in any form, except those labelled in `allowed`.
    pub(crate) fn assert_absent(&self, what: &str, text: &str, allowed: &[&str]) {
        if let Some(found) = self.found_in(what, text, allowed).first() {
            panic!("{found}");
        }
    }

    /// Every secret `text` holds in some form, except those labelled in `allowed`: one line
    /// each, saying where, which and in what form.
    pub(crate) fn found_in(&self, what: &str, text: &str, allowed: &[&str]) -> Vec<String> {
        let mut found = Vec::new();
        for (label, secret) in &self.0 {
            if allowed.contains(&label.as_str()) {
                continue;
            }
            if let Some((form, needle)) = forms(secret)
                .into_iter()
                .find(|(_, needle)| text.contains(needle.as_str()))
            {
                found.push(format!("{what} contains the {label} ({form}: {needle})"));
            }
        }
        found
    }

    /// How many secrets are searched for.
    pub(crate) fn len(&self) -> usize {
        self.0.len()
    }

    /// Every file under `dir` (recursively) holds no secret in any form.
    pub(crate) fn assert_absent_in_files(&self, dir: &Path) -> usize {
        let mut files = 0;
        let mut stack = vec![dir.to_path_buf()];
        while let Some(dir) = stack.pop() {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    stack.push(path);
                } else if let Ok(bytes) = std::fs::read(&path) {
                    self.assert_absent(
                        &path.display().to_string(),
                        &String::from_utf8_lossy(&bytes),
                        &[],
                    );
                    files += 1;
                }
            }
        }
        files
    }
}

/// The forms a secret could take on its way out.
pub(crate) fn forms(secret: &str) -> Vec<(&'static str, String)> {
    let std = base64::engine::general_purpose::STANDARD;
    let url = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let mut forms = vec![
        ("raw", secret.to_owned()),
        // the distinctive middle alone, in case of truncation or re-encoding around it
        ("middle", secret[4..secret.len() - 4].to_owned()),
        ("base64", std.encode(secret)),
        ("base64url", url.encode(secret)),
        (
            "url-encoded",
            url::form_urlencoded::byte_serialize(secret.as_bytes()).collect(),
        ),
        ("json-escaped", {
            let quoted = serde_json::to_string(secret).unwrap();
            quoted[1..quoted.len() - 1].to_owned()
        }),
        ("hex", hex::encode(secret)),
        ("HEX", hex::encode_upper(secret)),
    ];
    // Inside a longer base64 text (a Basic header's `user:secret`, a JWT's part), whatever
    // comes before it: the encoding depends on where the secret starts within a group of
    // three bytes, so each alignment is searched, in both alphabets.
    forms.extend(aligned(
        "base64 inside a longer text",
        &std,
        secret.as_bytes(),
    ));
    forms.extend(aligned(
        "base64url inside a longer text",
        &url,
        secret.as_bytes(),
    ));
    // A key given as 64 hex digits is also searched as its 32 bytes, encoded.
    if let Some(bytes) = (secret.len() == 64)
        .then(|| hex::decode(secret).ok())
        .flatten()
    {
        forms.push(("key bytes as base64", std.encode(&bytes)));
        forms.push(("key bytes as base64url", url.encode(&bytes)));
        forms.extend(aligned("key bytes inside base64", &std, &bytes));
        forms.extend(aligned("key bytes inside base64url", &url, &bytes));
    }
    forms
}

/// The part of the base64 of `bytes` that stays the same whatever comes before them, for
/// each of the three alignments.
fn aligned(
    label: &'static str,
    engine: &impl base64::Engine,
    bytes: &[u8],
) -> Vec<(&'static str, String)> {
    (0..3)
        .map(|pad| {
            let mut text = vec![b'x'; pad];
            text.extend_from_slice(bytes);
            let encoded = engine.encode(&text);
            // Drop the characters that depend on what comes before or after.
            let skip = pad.div_ceil(3) * 4;
            (label, encoded[skip..encoded.len() - 4].to_owned())
        })
        .collect()
}

/// The binary's commands as its help lists them: each path and whether it runs by itself (a
/// command with subcommands may also take arguments of its own, as `connection debug` does).
fn command_tree(env: &Env) -> BTreeMap<Vec<String>, bool> {
    let mut tree = BTreeMap::new();
    let mut todo: Vec<Vec<String>> = vec![Vec::new()];
    while let Some(path) = todo.pop() {
        let mut args: Vec<&str> = path.iter().map(String::as_str).collect();
        args.push("--help");
        let help = env.run(&args, None).ok().stdout;
        let mut children = Vec::new();
        let mut in_commands = false;
        for line in help.lines() {
            if line == "Commands:" {
                in_commands = true;
            } else if in_commands && line.is_empty() {
                in_commands = false;
            } else if in_commands
                && let Some(rest) = line.strip_prefix("  ")
                && !rest.starts_with(' ')
            {
                let name = rest.split_whitespace().next().unwrap().to_owned();
                if name != "help" {
                    children.push(name);
                }
            }
        }
        // "Usage: jiralink x <COMMAND>" alone: it needs a subcommand.
        let usages: Vec<&str> = help
            .lines()
            .skip_while(|l| !l.starts_with("Usage:"))
            .take_while(|l| !l.is_empty())
            .collect();
        let runnable = children.is_empty() || usages.iter().any(|u| !u.ends_with("<COMMAND>"));
        if !path.is_empty() {
            tree.insert(path.clone(), runnable);
        }
        for child in children {
            let mut p = path.clone();
            p.push(child);
            todo.push(p);
        }
    }
    tree
}

/// The command path `args` runs: the longest path of the tree its leading words name.
fn command_of(tree: &BTreeMap<Vec<String>, bool>, args: &[String]) -> Vec<String> {
    let mut path = Vec::new();
    for word in args {
        let mut next = path.clone();
        next.push(word.clone());
        if tree.contains_key(&next) {
            path = next;
        } else {
            break;
        }
    }
    path
}

/// Stands for a value a command failed to print; the failure itself is reported.
const MISSING: &str = "missing-value-0123456789";

trait LenientJson {
    /// stdout as JSON, or null when it is not (the command's failure is reported).
    fn lenient_json(&self) -> serde_json::Value;
}

impl LenientJson for Output {
    fn lenient_json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_default()
    }
}

#[derive(Clone, Copy)]
enum Expect {
    Ok,
    /// The exit code and a text the output must contain: the reason it fails.
    Fails(i32, &'static str),
}

struct Done {
    args: Vec<String>,
    out: Output,
    /// Labels of the secrets this output hands over.
    shows: Vec<&'static str>,
}

struct Runner {
    env: Env,
    done: Vec<Done>,
    /// Commands that ended otherwise than expected, reported together at the end.
    unexpected: Vec<String>,
}

impl Runner {
    fn run(&mut self, args: &[&str], stdin: Option<&str>, expect: Expect) -> &Output {
        self.run_showing(args, stdin, expect, &[])
    }

    fn run_showing(
        &mut self,
        args: &[&str],
        stdin: Option<&str>,
        expect: Expect,
        shows: &[&'static str],
    ) -> &Output {
        let out = self.env.run(args, stdin);
        let (code, reason) = match expect {
            Expect::Ok => (0, ""),
            Expect::Fails(code, reason) => (code, reason),
        };
        let both = format!("{}\n{}", out.stdout, out.stderr);
        if out.code != code || !both.contains(reason) {
            // The end of the output says why; the trace lines before it do not.
            let tail: String = both
                .lines()
                .filter(|l| !l.contains(" TRACE ") && !l.contains(" DEBUG "))
                .collect::<Vec<_>>()
                .join("\n");
            self.unexpected.push(format!(
                "`{}` exited {} (expected {code}, saying {reason:?}):\n{tail}",
                args.join(" "),
                out.code
            ));
        }
        self.push(args, out, shows)
    }

    fn push(&mut self, args: &[&str], out: Output, shows: &[&'static str]) -> &Output {
        self.done.push(Done {
            args: args.iter().map(|&a| a.to_owned()).collect(),
            out,
            shows: shows.to_vec(),
        });
        &self.done.last().unwrap().out
    }
}

/// Lines of a spawned process's stdout and stderr, as they come, on one channel.
fn follow(child: &mut Child) -> mpsc::Receiver<(bool, String)> {
    let (tx, rx) = mpsc::channel();
    let out = child.stdout.take().unwrap();
    let err = child.stderr.take().unwrap();
    let out_tx = tx.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines() {
            let Ok(line) = line else { break };
            let _ = out_tx.send((true, line));
        }
    });
    std::thread::spawn(move || {
        for line in BufReader::new(err).lines() {
            let Ok(line) = line else { break };
            let _ = tx.send((false, line));
        }
    });
    rx
}

/// Reads lines into `out` until `until` holds for one; panics when the process ends first.
fn read_until(
    rx: &mpsc::Receiver<(bool, String)>,
    out: &mut Output,
    mut until: impl FnMut(bool, &str) -> bool,
) -> String {
    loop {
        let (is_out, line) = rx
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|_| panic!("no expected line\n{}\n{}", out.stdout, out.stderr));
        let stream = if is_out {
            &mut out.stdout
        } else {
            &mut out.stderr
        };
        stream.push_str(&line);
        stream.push('\n');
        if until(is_out, &line) {
            return line;
        }
    }
}

/// Reads the rest of a process's output once it has ended.
fn read_rest(rx: &mpsc::Receiver<(bool, String)>, out: &mut Output) {
    while let Ok((is_out, line)) = rx.recv_timeout(Duration::from_secs(60)) {
        let stream = if is_out {
            &mut out.stdout
        } else {
            &mut out.stderr
        };
        stream.push_str(&line);
        stream.push('\n');
    }
}

fn blank() -> Output {
    Output {
        code: -1,
        stdout: String::new(),
        stderr: String::new(),
    }
}

/// A text dump of every table of the SQLite database (its WAL included), blobs as hex.
pub(crate) fn sqlite_dump(db: &Path) -> String {
    let out = std::process::Command::new("sqlite3")
        .arg(db)
        .arg(".dump")
        .output()
        .expect("the sqlite3 command dumps the database");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dump = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(dump.contains("INSERT INTO"), "an empty dump: {dump}");
    dump
}

/// Every file of the data and temporary directories, and a dump of the database.
fn assert_nothing_stored(canaries: &Canaries, env: &Env, when: &str) {
    let files = canaries.assert_absent_in_files(env.path());
    assert!(files >= 2, "{when}: only {files} files searched");
    let dump = sqlite_dump(&env.data_dir().join("jiralink.db"));
    canaries.assert_absent(&format!("the database dump {when}"), &dump, &[]);
}

fn sealed_columns(env: &Env) -> usize {
    sqlite_dump(&env.data_dir().join("jiralink.db"))
        .matches("enc:v1:")
        .count()
}

#[test]
#[allow(
    clippy::too_many_lines,
    reason = "one scenario, in the order a user goes"
)]
fn planted_secrets_appear_nowhere() {
    let mut env = Env::new();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let app = env.auto_approved_oauth_app(&base);
    let (email, good_token) = env.alice();
    // The simulator's clock stands still: a spent burst allowance would never come back.
    env.sim
        .control()
        .update_knobs(|k| k.burst.enabled = false)
        .unwrap();
    env.sim.control().issue_next(ChosenSecrets {
        codes: [CODE.to_owned()].into(),
        access_tokens: [ACCESS.to_owned(), ACCESS_2.to_owned()].into(),
        refresh_tokens: [REFRESH.to_owned(), REFRESH_2.to_owned()].into(),
    });
    let inputs = tempfile::tempdir().unwrap();
    let tmp = env.path().join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    let key_file = inputs.path().join("master.key");
    std::fs::write(&key_file, MASTER_KEY_HEX).unwrap();
    let token_file = inputs.path().join("token.txt");
    std::fs::write(&token_file, format!("{WRONG_TOKEN_2}\n")).unwrap();
    let secret_file = inputs.path().join("secret.txt");
    std::fs::write(&secret_file, format!("{CLIENT_SECRET}\n")).unwrap();
    for (k, v) in [
        // Every crate, dependencies included.
        ("RUST_LOG", "trace"),
        ("JIRALINK_SERVER__BASE_URL", base.as_str()),
        ("CANARY_TOKEN", WRONG_TOKEN),
        ("CANARY_SECRET", CLIENT_SECRET),
        ("TMPDIR", tmp.to_str().unwrap()),
    ] {
        env.extra_env.push((k.to_owned(), v.to_owned()));
    }
    let mut canaries = Canaries::default();
    for (label, value) in [
        ("planted API token", WRONG_TOKEN),
        ("second planted API token", WRONG_TOKEN_2),
        ("Jira API token", good_token.as_str()),
        ("planted client secret", CLIENT_SECRET),
        ("Jira client secret", app.client_secret.as_str()),
        ("authorization code", CODE),
        ("access token", ACCESS),
        ("refreshed access token", ACCESS_2),
        ("refresh token", REFRESH),
        ("rotated refresh token", REFRESH_2),
        ("password", PASSWORD),
        ("new password", PASSWORD_2),
        ("new master key", MASTER_KEY_HEX),
    ] {
        canaries.add(label, value);
    }
    let tree = command_tree(&env);
    let mut r = Runner {
        env,
        done: Vec::new(),
        unexpected: Vec::new(),
    };
    let wrong = "Jira rejected the e-mail and API token";

    // Connections with every way a token comes in; tests that send it.
    r.run(
        &connection_create(
            "Jira",
            "basic",
            &["--username", &email, "--api-token-stdin", "-vv"],
        ),
        Some(&good_token),
        Expect::Ok,
    );
    r.run(
        &connection_create(
            "Acme",
            "basic",
            &["--username", &email, "--api-token-stdin", "--no-test"],
        ),
        Some(&good_token),
        Expect::Ok,
    );
    r.run(
        &[
            "connection",
            "edit",
            "Acme",
            "--subdomain",
            "acme",
            "--api-token-stdin",
            "-o",
            "json",
        ],
        Some(&good_token),
        Expect::Ok,
    );
    r.run(
        &connection_create(
            "Wrong",
            "basic",
            &[
                "--username",
                "me@example.com",
                "--api-token-stdin",
                "--save-anyway",
                "-vv",
            ],
        ),
        Some(WRONG_TOKEN),
        Expect::Ok,
    );
    r.run(
        &["connection", "debug", "Wrong", "--minutes", "15"],
        None,
        Expect::Ok,
    );
    r.run(
        &["connection", "test", "Wrong", "-o", "json"],
        None,
        Expect::Fails(8, wrong),
    );
    r.run(
        &connection_create(
            "From file",
            "basic",
            &[
                "--username",
                "me@example.com",
                "--api-token-file",
                token_file.to_str().unwrap(),
                "--save-anyway",
            ],
        ),
        None,
        Expect::Ok,
    );
    r.run(
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
        Expect::Ok,
    );
    // Refused with the token in the request.
    r.run(
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
        Some(WRONG_TOKEN_2),
        Expect::Fails(3, "subdomain"),
    );
    r.run(
        &connection_create(
            "Wrong",
            "basic",
            &["--username", "me@example.com", "--api-token-stdin"],
        ),
        Some(WRONG_TOKEN_2),
        Expect::Fails(3, "already has this name"),
    );
    r.run(
        &connection_create(
            "Unsaved",
            "basic",
            &["--username", "me@example.com", "--api-token-stdin"],
        ),
        Some(WRONG_TOKEN_2),
        Expect::Fails(8, wrong),
    );
    r.run(
        &[
            "connection",
            "edit",
            "Wrong",
            "--api-token-stdin",
            "--save-anyway",
            "-vv",
        ],
        Some(WRONG_TOKEN_2),
        Expect::Ok,
    );
    r.run(
        &["connection", "test", "Wrong", "-vv"],
        None,
        Expect::Fails(8, wrong),
    );
    // Faults from Jira while the token is sent: 500, 429, 503.
    // A connection test is one probe, not retried: it reports what Jira answered.
    r.env.sim.control().fail_next(1, 500, None);
    r.run(
        &["connection", "test", "Jira", "-vv"],
        None,
        Expect::Fails(8, "server error (500)"),
    );
    r.env.sim.control().fail_next(1, 429, Some(1));
    r.run(
        &["connection", "test", "Jira", "-o", "json"],
        None,
        Expect::Fails(8, "rate limiting"),
    );
    r.env.sim.control().fail_next(1, 503, Some(0));
    r.run(
        &["connection", "test", "Jira", "-vv"],
        None,
        Expect::Fails(8, "server error (503)"),
    );
    r.run(
        &["connection", "test", "Jira", "--log-format", "json"],
        None,
        Expect::Ok,
    );
    r.env.sim.control().clear_faults();

    // OAuth 2.0: the clients, a connection authorized through the simulator with planted
    // code, access and refresh tokens, its test, a refresh.
    r.run(
        &[
            "oauth-client",
            "create",
            "--name",
            "Sim",
            "--client-id",
            &app.client_id,
            "--client-secret-stdin",
            "-vv",
        ],
        Some(&app.client_secret),
        Expect::Ok,
    );
    r.run(
        &[
            "oauth-client",
            "create",
            "--name",
            "Planted",
            "--client-id",
            "cid-planted",
            "--client-secret-env",
            "CANARY_SECRET",
            "-o",
            "json",
        ],
        None,
        Expect::Ok,
    );
    r.run(
        &[
            "oauth-client",
            "create",
            "--name",
            "Bad",
            "--client-id",
            "has space",
            "--client-secret-file",
            secret_file.to_str().unwrap(),
        ],
        None,
        Expect::Fails(3, "client"),
    );
    r.run(
        &[
            "oauth-client",
            "edit",
            "Planted",
            "--client-secret-file",
            secret_file.to_str().unwrap(),
            "-vv",
        ],
        None,
        Expect::Ok,
    );
    r.run(
        &connection_create(
            "Cloud",
            "oauth2",
            &[
                "--oauth-client",
                "Sim",
                "--scopes",
                "read:jira-work,read:jira-user,read:me,offline_access",
            ],
        ),
        None,
        Expect::Ok,
    );
    let state = authorize(&mut r, &base);
    canaries.add("OAuth state", &state);
    r.run(&["connection", "test", "Cloud", "-vv"], None, Expect::Ok);
    r.run(
        &["connection", "test", "Cloud", "-o", "json"],
        None,
        Expect::Ok,
    );
    let token_requests = r
        .env
        .sim
        .control()
        .requests()
        .iter()
        .filter(|q| q.path.ends_with("/oauth/token"))
        .count();
    if token_requests != 1 {
        let tested = &r.done.last().unwrap().out;
        r.unexpected.push(format!(
            "{token_requests} token requests, not one exchange of the code:\n{}",
            tested.stdout
        ));
    }

    // Reads of everything, in each format, while the tokens are stored.
    for format in ["table", "json"] {
        for args in [
            vec!["connection", "list"],
            vec!["connection", "show", "Cloud"],
            vec!["connection", "show", "Wrong"],
            vec!["connection", "http-view", "Jira"],
            vec!["connection", "http-view", "Cloud"],
            vec!["connection", "audit", "Cloud"],
            vec!["connection", "audit", "Wrong"],
            vec!["connection", "debug", "show", "Wrong"],
            vec!["connection", "scopes"],
            vec!["oauth-client", "list"],
            vec!["oauth-client", "show", "Sim"],
            vec!["oauth-client", "audit", "Planted"],
            vec!["key", "status"],
        ] {
            let mut args = args;
            args.extend(["-o", format]);
            r.run(&args, None, Expect::Ok);
        }
    }
    let shown = r
        .run(
            &["connection", "debug", "show", "Wrong", "-o", "json"],
            None,
            Expect::Ok,
        )
        .lenient_json();
    // The debugger really recorded the exchanges that carried the planted tokens.
    let lines = shown["lines"].as_array().map_or(0, Vec::len);
    if lines < 4 || !shown.to_string().contains("Basic ********") {
        r.unexpected
            .push(format!("the debugger recorded too little: {shown}"));
    }
    r.run(&["connection", "debug", "stop", "Wrong"], None, Expect::Ok);
    r.run(&["connection", "debug", "clear", "Wrong"], None, Expect::Ok);
    r.run(&["connection", "watch", "--once", "-vv"], None, Expect::Ok);
    assert!(sealed_columns(&r.env) >= 8, "the tokens are stored, sealed");
    assert_nothing_stored(&canaries, &r.env, "while the tokens are stored");

    // Exports and imports through the Basic connections, with faults on the way.
    let out_file = r.env.path().join("issues.ndjson");
    r.env.sim.control().fail_next(1, 429, Some(0));
    r.run(
        &[
            "export",
            "issues",
            "--connection",
            "Jira",
            "--jql",
            "project = MKT",
            "--output",
            out_file.to_str().unwrap(),
            "-vv",
        ],
        None,
        Expect::Ok,
    );
    // Every other resource, ad hoc; Customer Service Management's need a connection of
    // that API type.
    for resource in [
        "comments",
        "worklogs",
        "changelogs",
        "projects",
        "users",
        "fields",
        "statuses",
        "issue-types",
        "priorities",
        "resolutions",
        "service-desks",
        "request-types",
        "customer-requests",
        "jsm-customers",
        "jsm-organizations",
        "csm-customers",
        "csm-organizations",
        "csm-products",
        "csm-entitlements",
    ] {
        let file = r.env.path().join(format!("{resource}.ndjson"));
        let expect = if resource.starts_with("csm-") {
            Expect::Fails(10, "Customer Service Management API is not available")
        } else {
            Expect::Ok
        };
        r.run(
            &[
                "export",
                resource,
                "--connection",
                "Jira",
                "--output",
                file.to_str().unwrap(),
            ],
            None,
            expect,
        );
    }
    r.run(
        &[
            "export",
            "create",
            "--name",
            "demo-mkt",
            "--connection",
            "Jira",
            "--jql",
            "project = MKT",
            "--every",
            "60",
        ],
        None,
        Expect::Ok,
    );
    r.env.sim.control().fail_next(1, 429, Some(0));
    let run = r
        .run(
            &["export", "run", "demo-mkt", "-o", "json"],
            None,
            Expect::Ok,
        )
        .lenient_json();
    let run_id = run["id"].as_str().unwrap_or("no-run").to_owned();
    for args in [
        vec!["export", "list"],
        vec!["export", "show", "demo-mkt"],
        vec!["run", "list"],
        vec!["run", "show", &run_id],
    ] {
        let mut args = args;
        args.extend(["-o", "json"]);
        r.run(&args, None, Expect::Ok);
    }
    let run_out = r.env.path().join("run.ndjson");
    r.run(
        &[
            "run",
            "output",
            &run_id,
            "--output",
            run_out.to_str().unwrap(),
        ],
        None,
        Expect::Ok,
    );
    // A finished run is left as it is, and says how it ended.
    r.run(&["run", "cancel", &run_id], None, Expect::Ok);
    r.run(
        &[
            "export",
            "edit",
            "demo-mkt",
            "--no-schedule",
            "--format",
            "csv",
        ],
        None,
        Expect::Ok,
    );
    let map = inputs.path().join("copy.toml");
    std::fs::write(&map, COPY).unwrap();
    r.run(
        &[
            "import",
            "create",
            "--name",
            "acme-mkt",
            "--connection",
            "Acme",
            "--map",
            map.to_str().unwrap(),
        ],
        None,
        Expect::Ok,
    );
    r.run(
        &["import", "run", "acme-mkt", "-o", "json", "-vv"],
        None,
        Expect::Fails(3, "has no input file"),
    );
    r.run(
        &["import", "edit", "acme-mkt", "--every", "30"],
        None,
        Expect::Fails(3, "needs an input file"),
    );
    for args in [
        vec!["import", "list"],
        vec!["import", "show", "acme-mkt"],
        vec!["import", "runs"],
    ] {
        let mut args = args;
        args.extend(["-o", "json"]);
        r.run(&args, None, Expect::Ok);
    }
    let records = inputs.path().join("records.ndjson");
    std::fs::write(
        &records,
        "{\"key\":\"X-1\",\"fields\":{\"summary\":\"from a file\"}}\n",
    )
    .unwrap();
    r.run(
        &[
            "import",
            "issues",
            "--connection",
            "Acme",
            "--file",
            records.to_str().unwrap(),
            "--format",
            "ndjson",
            "--map",
            map.to_str().unwrap(),
            "-o",
            "json",
        ],
        None,
        Expect::Ok,
    );
    r.run(
        &[
            "flow",
            "create",
            "--name",
            "demo-to-acme",
            "--export",
            "demo-mkt",
            "--import",
            "no-such-import",
        ],
        None,
        Expect::Fails(4, "no-such-import"),
    );
    r.run(
        &["export", "edit", "demo-mkt", "--format", "ndjson"],
        None,
        Expect::Ok,
    );
    r.run(
        &[
            "flow",
            "create",
            "--name",
            "demo-to-acme",
            "--export",
            "demo-mkt",
            "--import",
            "acme-mkt",
        ],
        None,
        Expect::Ok,
    );
    r.run(
        &["flow", "run", "demo-to-acme", "-o", "json", "-vv"],
        None,
        Expect::Ok,
    );
    r.run(
        &["flow", "edit", "demo-to-acme", "--every", "45"],
        None,
        Expect::Ok,
    );
    for args in [
        vec!["flow", "list"],
        vec!["flow", "show", "demo-to-acme"],
        vec!["flow", "runs", "demo-to-acme"],
    ] {
        let mut args = args;
        args.extend(["-o", "json"]);
        r.run(&args, None, Expect::Ok);
    }
    let listener = r
        .run_showing(
            &[
                "listener",
                "create",
                "--name",
                "demo-events",
                "--flow",
                "demo-to-acme",
                "-o",
                "json",
            ],
            None,
            Expect::Ok,
            &["listener secret"],
        )
        .lenient_json();
    canaries.add(
        "listener secret",
        listener["secret"].as_str().unwrap_or(MISSING),
    );
    for args in [
        vec!["listener", "list"],
        vec!["listener", "show", "demo-events"],
        vec!["listener", "events", "demo-events"],
        vec!["listener", "check", "demo-events"],
    ] {
        let mut args = args;
        args.extend(["-o", "json"]);
        r.run(&args, None, Expect::Ok);
    }

    // Users, their keys, notifications with the webhook's signing secret.
    r.run(
        &["user", "add", "alice", "--password-stdin"],
        Some(PASSWORD),
        Expect::Ok,
    );
    r.run(
        &["user", "add", "bob", "--password-stdin"],
        Some("short"),
        Expect::Fails(3, "password"),
    );
    r.run(
        &["user", "password", "alice", "--password-stdin"],
        Some(PASSWORD_2),
        Expect::Ok,
    );
    r.run(&["user", "list", "-o", "json"], None, Expect::Ok);
    let key = r
        .run_showing(
            &[
                "api-key", "create", "--user", "alice", "--name", "ci", "-o", "json",
            ],
            None,
            Expect::Ok,
            &["API key"],
        )
        .lenient_json();
    canaries.add("API key", key["key"].as_str().unwrap_or(MISSING));
    let key_id = key["apiKey"]["id"].as_str().unwrap_or(MISSING).to_owned();
    r.run(&["api-key", "list", "-o", "json"], None, Expect::Ok);
    let hook = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let hook_url = format!("http://{}/hook", hook.local_addr().unwrap());
    let set = r
        .run_showing(
            &["notification", "webhook", "set", &hook_url],
            None,
            Expect::Ok,
            &["webhook signing secret"],
        )
        .stdout
        .clone();
    let signing = set
        .lines()
        .find(|l| l.starts_with("whsec_"))
        .unwrap_or(MISSING)
        .to_owned();
    canaries.add("webhook signing secret", &signing);
    // Nothing answers there: the test message fails, and says so.
    drop(hook);
    r.run(
        &[
            "notification",
            "subscribe",
            "--user",
            "alice",
            "--topic",
            "connection.offline",
            "--subject",
            "Jira",
            "--webhook",
            "-o",
            "json",
        ],
        None,
        Expect::Ok,
    );
    r.run(
        &[
            "notification",
            "test",
            "--user",
            "alice",
            "--webhook",
            "-vv",
        ],
        None,
        Expect::Fails(7, "the webhook could not be reached"),
    );
    for args in [
        vec!["notification", "list", "--user", "alice"],
        vec!["notification", "subscriptions"],
        vec!["notification", "topics"],
        vec!["notification", "channels"],
        vec!["job", "list"],
        vec!["job", "runs"],
        vec!["db", "status"],
    ] {
        let mut args = args;
        args.extend(["-o", "json"]);
        r.run(&args, None, Expect::Ok);
    }
    let subs = r
        .run(
            &["notification", "subscriptions", "-o", "json"],
            None,
            Expect::Ok,
        )
        .lenient_json();
    let sub_id = subs[0]["id"].as_str().unwrap_or(MISSING).to_owned();
    r.run(
        &["notification", "unsubscribe", "--user", "alice", &sub_id],
        None,
        Expect::Ok,
    );
    r.run(&["notification", "webhook", "remove"], None, Expect::Ok);
    r.run(
        &["job", "run", "connections.retest", "-vv"],
        None,
        Expect::Ok,
    );
    r.run(&["db", "migrate"], None, Expect::Ok);
    let copy = r.env.path().join("copy.db");
    r.run(
        &[
            "db",
            "copy",
            "--from",
            r.env.data_dir().join("jiralink.db").to_str().unwrap(),
            "--to",
            &format!("sqlite://{}", copy.display()),
        ],
        None,
        Expect::Ok,
    );
    canaries.assert_absent("the copied database", &sqlite_dump(&copy), &[]);
    r.run(
        &[
            "key",
            "rotate",
            "--new-key-file",
            key_file.to_str().unwrap(),
        ],
        None,
        Expect::Fails(7, "only for keys supplied through the environment"),
    );
    r.run(&["key", "rotate", "-vv"], None, Expect::Ok);
    r.run(&["completions", "bash"], None, Expect::Ok);

    // The server and the simulator, as long-running commands: started, then stopped.
    serve_once(&mut r, &mut canaries);
    sim_once(&mut r);

    // Everything goes again: deletions.
    r.run(&["api-key", "revoke", &key_id], None, Expect::Ok);
    r.run(
        &["listener", "delete", "demo-events", "--yes"],
        None,
        Expect::Ok,
    );
    r.run(
        &["flow", "delete", "demo-to-acme", "--yes"],
        None,
        Expect::Ok,
    );
    r.run(&["import", "delete", "acme-mkt", "--yes"], None, Expect::Ok);
    r.run(&["export", "delete", "demo-mkt", "--yes"], None, Expect::Ok);
    r.run(
        &["connection", "disconnect", "Cloud", "-vv"],
        None,
        Expect::Ok,
    );
    r.run(
        &["connection", "delete", "Cloud", "--yes"],
        None,
        Expect::Ok,
    );
    r.run(
        &["connection", "delete", "Wrong", "--yes", "-vv"],
        None,
        Expect::Ok,
    );
    r.run(
        &["oauth-client", "delete", "Planted", "--yes"],
        None,
        Expect::Ok,
    );
    r.run(&["user", "delete", "alice", "--yes"], None, Expect::Ok);
    r.run(&["api-key", "reset-server"], None, Expect::Ok);

    assert!(
        r.unexpected.is_empty(),
        "{} commands ended otherwise than expected:\n\n{}",
        r.unexpected.len(),
        r.unexpected.join("\n\n")
    );
    // Every command of the binary ran.
    let ran: BTreeSet<Vec<String>> = r.done.iter().map(|d| command_of(&tree, &d.args)).collect();
    let missing: Vec<String> = tree
        .iter()
        .filter(|(path, runnable)| **runnable && !ran.contains(*path))
        .map(|(path, _)| path.join(" "))
        .collect();
    assert!(
        missing.is_empty(),
        "commands the canary does not run: {missing:?}"
    );

    for d in &r.done {
        let args = d.args.join(" ");
        canaries.assert_absent(&format!("stdout of `{args}`"), &d.out.stdout, &d.shows);
        canaries.assert_absent(&format!("stderr of `{args}`"), &d.out.stderr, &[]);
    }
    // The logs really are at trace, dependencies included.
    let logs: String = r.done.iter().map(|d| d.out.stderr.as_str()).collect();
    for needle in [
        "TRACE",
        "db.statement",
        "\"target\":\"reqwest",
        "\"target\":\"hyper_util",
    ] {
        assert!(logs.contains(needle), "no {needle} in the logs");
    }
    assert_nothing_stored(&canaries, &r.env, "after deletion");
}

/// `connection authorize Cloud --no-browser`: the simulator approves at once and redirects
/// to the command's own listener, which exchanges the planted code. Returns the `state`.
fn authorize(r: &mut Runner, base: &str) -> String {
    let mut child = r
        .env
        .std_cmd()
        .args(["connection", "authorize", "Cloud", "--no-browser", "-vv"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let rx = follow(&mut child);
    let mut out = blank();
    let url = read_until(&rx, &mut out, |is_out, _| is_out);
    let url = url::Url::parse(url.trim()).unwrap();
    let state = url
        .query_pairs()
        .find(|(k, _)| k == "state")
        .unwrap()
        .1
        .into_owned();
    let http =
        jiralink_atlassian::build_client(&jiralink_atlassian::HttpConfig::default()).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let page = runtime.block_on(async {
        let res = http.get(url.clone()).send().await.unwrap();
        assert_eq!(res.status().as_u16(), 302);
        let back = res.headers()["location"].to_str().unwrap().to_owned();
        assert!(back.starts_with(base), "{back}");
        assert!(back.contains(CODE), "the planted code comes back: {back}");
        let res = http.get(back).send().await.unwrap();
        assert_eq!(res.status().as_u16(), 200);
        let headers = format!("{:?}", res.headers());
        headers + &res.text().await.unwrap()
    });
    let status = child.wait().unwrap();
    read_rest(&rx, &mut out);
    out.code = status.code().unwrap_or(-1);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("online"), "{}", out.stdout);
    r.push(
        &["connection", "authorize", "Cloud", "--no-browser", "-vv"],
        out,
        &["OAuth state"],
    );
    r.push(
        &["connection", "authorize", "(callback page)"],
        Output {
            code: 0,
            stdout: page,
            stderr: String::new(),
        },
        &[],
    );
    state
}

/// `jiralink serve` until it serves: the first start prints the server's API key and the
/// administrator's password, once.
fn serve_once(r: &mut Runner, canaries: &mut Canaries) {
    let mut child = r
        .env
        .std_cmd()
        .args(["serve", "--bind", "127.0.0.1:0"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let rx = follow(&mut child);
    let mut out = blank();
    read_until(&rx, &mut out, |is_out, line| {
        !is_out && line.starts_with("Serving on")
    });
    child.kill().unwrap();
    child.wait().unwrap();
    read_rest(&rx, &mut out);
    out.code = 0;
    let key = out
        .stdout
        .lines()
        .find(|l| l.starts_with("jlk_"))
        .unwrap_or_else(|| panic!("no server key printed: {}", out.stdout))
        .to_owned();
    canaries.add("server API key", &key);
    r.push(
        &["serve", "--bind", "127.0.0.1:0"],
        out,
        &["server API key"],
    );
}

/// `jiralink sim` until it serves.
fn sim_once(r: &mut Runner) {
    let port = free_port().to_string();
    let mut child = r
        .env
        .std_cmd()
        .args(["sim", "--port", &port])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let rx = follow(&mut child);
    let mut out = blank();
    read_until(&rx, &mut out, |_, line| line.contains(&port));
    child.kill().unwrap();
    child.wait().unwrap();
    read_rest(&rx, &mut out);
    out.code = 0;
    // A simulator of the same seed prints the same sample credentials as the one the test
    // uses: its own, for its users.
    r.push(&["sim", "--port", &port], out, &["Jira API token"]);
}

#[test]
fn secrets_are_sealed_not_stored() {
    // While secrets exist, the raw file holds only their sealed form.
    let env = Env::new();
    env.create_basic("Canary", WRONG_TOKEN);
    env.create_client("App", CLIENT_SECRET);
    let mut canaries = Canaries::default();
    canaries.add("API token", WRONG_TOKEN);
    canaries.add("client secret", CLIENT_SECRET);
    assert!(canaries.assert_absent_in_files(&env.data_dir()) >= 1);
    assert!(
        sealed_columns(&env) >= 2,
        "expected sealed secrets in the database"
    );
}

#[test]
fn every_form_of_a_secret_is_found() {
    // The search itself: each form is what an encoder of that kind writes.
    let mut canaries = Canaries::default();
    canaries.add("token", WRONG_TOKEN);
    let b64 = base64::engine::general_purpose::STANDARD;
    for leaked in [
        format!(
            "Authorization: Basic {}",
            b64.encode(format!("me@example.com:{WRONG_TOKEN}"))
        ),
        format!(
            "Authorization: Basic {}",
            b64.encode(format!("ab:{WRONG_TOKEN}"))
        ),
        format!(
            "Authorization: Basic {}",
            b64.encode(format!("a:{WRONG_TOKEN}"))
        ),
        serde_json::json!({ "t": WRONG_TOKEN }).to_string(),
        hex::encode(WRONG_TOKEN),
        format!("token={}", &WRONG_TOKEN[..WRONG_TOKEN.len() - 2]),
        format!(
            "t={}",
            url::form_urlencoded::byte_serialize(WRONG_TOKEN.as_bytes()).collect::<String>()
        ),
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(WRONG_TOKEN),
        // Inside a JWT-like part, at each alignment.
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(format!("{{\"a\":\"{WRONG_TOKEN}\"}}")),
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(format!("{{\"ab\":\"{WRONG_TOKEN}\"}}")),
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(format!("{{\"abc\":\"{WRONG_TOKEN}\"}}")),
    ] {
        let found = std::panic::catch_unwind(|| canaries.assert_absent("x", &leaked, &[]));
        assert!(found.is_err(), "not found in {leaked}");
    }
    // A key of 64 hex digits, also as its bytes in base64 inside a longer text.
    let mut keys = Canaries::default();
    keys.add("key", MASTER_KEY_HEX);
    let bytes = hex::decode(MASTER_KEY_HEX).unwrap();
    for pad in 0..3 {
        let mut text = vec![b'k'; pad + 5];
        text.extend_from_slice(&bytes);
        let leaked = format!("x={}", b64.encode(&text));
        let found = std::panic::catch_unwind(|| keys.assert_absent("x", &leaked, &[]));
        assert!(found.is_err(), "not found in {leaked}");
    }
}
