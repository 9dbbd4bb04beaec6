//! The server's secrets canary: one `jiralink serve` logging at trace for every crate,
//! dependencies included, on SQLite and again on PostgreSQL. Distinctive secret values are
//! planted through the server's own API and forms in every kind of secret field (API tokens
//! Jira accepts and refuses, OAuth 2.0 client secrets, authorization codes, access and refresh
//! tokens, `state`, passwords, session cookies, CSRF tokens, API keys, listener and webhook
//! secrets, the master key); then every route of the route table is called — the list comes
//! from the table, so a route added later fails this test until it is called here — on its
//! success path with the status it must answer, and on error paths too (unknown ids, invalid
//! bodies, wrong credentials, Jira's faults during tests and runs). The secrets are searched
//! for, raw and encoded ([`crate::canary::forms`]), in every response (status, headers,
//! body), in the server's whole standard output and error, in every file of the data
//! directory and in a dump of the database, while they are stored and again after they are
//! deleted. The SQLite leg logs as text, the PostgreSQL leg as JSON (which names each line's
//! target): both formats are searched.
//!
//! A secret may show only where it is handed over: a new API key, listener secret or webhook
//! signing secret in the one answer that creates it, `state` in the answer that starts an
//! authorization (and the redirect to Atlassian), a session's cookie in the `Set-Cookie` of
//! the sign-in that makes it, its CSRF token in the pages of that session, the sign-in form's
//! token in the sign-in page.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead as _, BufReader};
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use jiralink_sim::oauth::ChosenSecrets;
use jiralink_store::TestSchema;
use serde_json::{Value, json};

use crate::canary::{Canaries, sqlite_dump};
use crate::common::{Env, free_port};
use crate::flows::COPY;

const SERVER_KEY: &str = "CANARY-1c2d3e4f-server-api-key-5a6b7c8d9e0f";
const MASTER_KEY_HEX: &str = "d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2";
const ADMIN_PASSWORD: &str = "CANARY-2d3e4f5a-admin-password-6b7c8d9e0f1a";
const PASSWORD: &str = "CANARY-3e4f5a6b-user-password-7c8d9e0f1a2b";
const WRONG_PASSWORD: &str = "CANARY-4f5a6b7c-wrong-password-8d9e0f1a2b3c";
/// API tokens the simulator does not know.
const WRONG_TOKEN: &str = "CANARY-5a6b7c8d-api-token-wrong-9e0f1a2b3c4d";
const WRONG_TOKEN_2: &str = "CANARY-6b7c8d9e-api-token-refused-0f1a2b3c4d";
const WRONG_TOKEN_3: &str = "CANARY-7c8d9e0f-api-token-draft-1a2b3c4d5e6f";
/// OAuth 2.0 client secrets of clients the simulator does not know.
const CLIENT_SECRET: &str = "CANARY-8d9e0f1a-client-secret-api-2b3c4d5e6f";
const CLIENT_SECRET_2: &str = "CANARY-9e0f1a2b-client-secret-form-3c4d5e6f7a";
const CODE: &str = "CANARY-0f1a2b3c-oauth-code-first-4d5e6f7a8b9c";
const CODE_2: &str = "CANARY-1a2b3c4d-oauth-code-second-5e6f7a8b9c0d";
const ACCESS: &str = "CANARY-2b3c4d5e-access-token-first-6f7a8b9c0d";
const ACCESS_2: &str = "CANARY-3c4d5e6f-access-token-second-7a8b9c0d1e";
const ACCESS_3: &str = "CANARY-4d5e6f7a-access-token-third-8b9c0d1e2f";
const REFRESH: &str = "CANARY-5e6f7a8b-refresh-token-first-9c0d1e2f3a";
const REFRESH_2: &str = "CANARY-6f7a8b9c-refresh-token-second-0d1e2f3a4b";
const REFRESH_3: &str = "CANARY-7a8b9c0d-refresh-token-third-1e2f3a4b5c";

/// Stands for a value an answer failed to carry; the failure itself is reported.
const MISSING: &str = "missing-value-0123456789";

const OAUTH_SCOPES: [&str; 4] = [
    "read:jira-work",
    "read:jira-user",
    "read:me",
    "offline_access",
];

/// A running `jiralink serve` and everything it printed.
struct Server {
    child: Child,
    out: Arc<Mutex<String>>,
    err: Arc<Mutex<String>>,
    readers: Vec<std::thread::JoinHandle<()>>,
}

impl Server {
    fn start(env: &Env, port: u16, log_format: &str) -> Self {
        let mut child = env
            .std_cmd()
            .args(["--log-format", log_format])
            .args(["serve", "--bind", &format!("127.0.0.1:{port}")])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let out = Arc::new(Mutex::new(String::new()));
        let err = Arc::new(Mutex::new(String::new()));
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let mut readers = Vec::new();
        for (stream, into, ready) in [
            (
                Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
                Arc::clone(&out),
                None,
            ),
            (
                Box::new(child.stderr.take().unwrap()),
                Arc::clone(&err),
                Some(ready_tx),
            ),
        ] {
            readers.push(std::thread::spawn(move || {
                for line in BufReader::new(stream).lines() {
                    let Ok(line) = line else { break };
                    if let Some(ready) = &ready
                        && line.starts_with("Serving on")
                    {
                        let _ = ready.send(());
                    }
                    let mut text = into.lock().unwrap();
                    text.push_str(&line);
                    text.push('\n');
                }
            }));
        }
        let server = Self {
            child,
            out,
            err,
            readers,
        };
        assert!(
            ready_rx.recv_timeout(Duration::from_secs(60)).is_ok(),
            "the server did not start:\n{}",
            server.err.lock().unwrap()
        );
        server
    }

    /// Stops the server and returns its standard output and error, whole.
    fn stop(mut self) -> (String, String) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        for reader in self.readers.drain(..) {
            reader.join().unwrap();
        }
        let out = std::mem::take(&mut *self.out.lock().unwrap());
        let err = std::mem::take(&mut *self.err.lock().unwrap());
        (out, err)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// How a request is authenticated.
#[derive(Clone)]
enum Auth {
    None,
    /// `Authorization: Bearer …`.
    Key(String),
    /// A signed-in browser: its cookie, and on unsafe requests its CSRF token and origin.
    Session(Browser),
}

#[derive(Clone)]
struct Browser {
    cookie: String,
    csrf: String,
}

enum Body {
    Empty,
    Json(Value),
    Form(Vec<(String, String)>),
    /// A content type and the bytes.
    Raw(String, Vec<u8>),
}

fn form(fields: &[(&str, &str)]) -> Body {
    Body::Form(
        fields
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
    )
}

struct Reply {
    status: u16,
    location: String,
    set_cookies: Vec<String>,
    body: String,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_default()
    }

    fn str(&self, pointer: &str) -> String {
        self.json()
            .pointer(pointer)
            .and_then(Value::as_str)
            .unwrap_or(MISSING)
            .to_owned()
    }

    /// The value of the cookie `name` this answer sets.
    fn cookie(&self, name: &str) -> Option<String> {
        self.set_cookies.iter().find_map(|c| {
            c.strip_prefix(&format!("{name}="))
                .map(|v| v.split(';').next().unwrap_or_default().to_owned())
        })
    }
}

/// One request and its whole answer.
struct Called {
    method: String,
    route: String,
    /// Whether the call carried a session or an API key.
    credentials: bool,
    expect: u16,
    what: String,
    answer: String,
    /// Labels of the secrets this answer hands over.
    shows: Vec<&'static str>,
}

struct Client {
    rt: tokio::runtime::Runtime,
    http: reqwest::Client,
    base: String,
    calls: Vec<Called>,
    /// Answers of another status than expected, reported together at the end.
    unexpected: Vec<String>,
}

impl Client {
    fn new(base: &str) -> Self {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let http =
            jiralink_atlassian::build_client(&jiralink_atlassian::HttpConfig::default()).unwrap();
        Self {
            rt,
            http,
            base: base.to_owned(),
            calls: Vec::new(),
            unexpected: Vec::new(),
        }
    }

    /// Tests connection `id` through `/v1`; a test that does not pass is reported as `what`.
    fn test_passes(&mut self, id: &str, key: &Auth, what: &str) {
        let r = self.call(
            "POST",
            "/v1/connections/{id}/test",
            &[id],
            "",
            key,
            Body::Empty,
            200,
            &[],
        );
        if r.json()["result"] != "passed" {
            self.unexpected.push(format!("{what}: {}", r.body));
        }
    }

    /// `method route` with `ids` filling the route's `{…}` segments in order and `query`
    /// (with its `?`) appended; records the answer and reports a status other than `expect`.
    #[allow(clippy::too_many_arguments, reason = "one request, described whole")]
    fn call(
        &mut self,
        method: &str,
        route: &str,
        ids: &[&str],
        query: &str,
        auth: &Auth,
        body: Body,
        expect: u16,
        shows: &[&'static str],
    ) -> Reply {
        let mut ids = ids.iter();
        let mut path = String::new();
        for segment in route.split('/').skip(1) {
            path.push('/');
            if segment.starts_with('{') {
                let id = ids.next().unwrap_or_else(|| panic!("no id for {route}"));
                // A path segment: a space is %20 there, not +.
                let encoded: String = url::form_urlencoded::byte_serialize(id.as_bytes()).collect();
                path.push_str(&encoded.replace('+', "%20"));
            } else {
                path.push_str(segment);
            }
        }
        assert!(ids.next().is_none(), "too many ids for {route}");
        let what = format!("{method} {path}{query}");
        let verb = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let unsafe_method = !matches!(method, "GET" | "HEAD");
        let mut req = self
            .http
            .request(verb, format!("{}{path}{query}", self.base));
        let mut csrf = None;
        match auth {
            Auth::None => {}
            Auth::Key(key) => req = req.header("authorization", format!("Bearer {key}")),
            Auth::Session(b) => {
                req = req.header("cookie", &b.cookie);
                if unsafe_method {
                    req = req.header("origin", &self.base);
                    csrf = Some(b.csrf.clone());
                }
            }
        }
        req = match body {
            Body::Empty => {
                if let Some(token) = csrf {
                    req.header("x-csrf-token", token)
                } else {
                    req
                }
            }
            Body::Json(v) => req.json(&v),
            Body::Form(mut fields) => {
                if let Some(token) = csrf {
                    fields.push(("_csrf".to_owned(), token));
                }
                req.form(&fields)
            }
            Body::Raw(content_type, bytes) => {
                if let Some(token) = csrf {
                    req = req.header("x-csrf-token", token);
                }
                req.header("content-type", content_type).body(bytes)
            }
        };
        let (status, headers, bytes) = self.rt.block_on(async {
            let res = req.send().await.unwrap_or_else(|e| panic!("{what}: {e}"));
            let status = res.status().as_u16();
            let headers = res.headers().clone();
            (status, headers, res.bytes().await.unwrap_or_default())
        });
        let body = String::from_utf8_lossy(&bytes).into_owned();
        let header_text: String = headers
            .iter()
            .map(|(k, v)| format!("{k}: {}\n", String::from_utf8_lossy(v.as_bytes())))
            .collect();
        if status != expect {
            // A page's message, not its navigation.
            let main = body.find("<main").map_or(body.as_str(), |at| &body[at..]);
            let short: String = main.chars().take(700).collect();
            self.unexpected
                .push(format!("{what}: {status}, expected {expect}: {short}"));
        }
        let reply = Reply {
            status,
            location: headers
                .get("location")
                .map(|v| v.to_str().unwrap_or_default().to_owned())
                .unwrap_or_default(),
            set_cookies: headers
                .get_all("set-cookie")
                .iter()
                .map(|v| v.to_str().unwrap_or_default().to_owned())
                .collect(),
            body: body.clone(),
        };
        self.calls.push(Called {
            method: method.to_owned(),
            route: route.to_owned(),
            credentials: !matches!(auth, Auth::None),
            expect,
            what,
            answer: format!("HTTP {status}\n{header_text}\n{body}"),
            shows: shows.to_vec(),
        });
        reply
    }

    /// A GET of the simulator (Atlassian's side of an authorization); not a route of the
    /// server.
    fn get_sim(&self, url: &str) -> (u16, String) {
        self.rt.block_on(async {
            let res = self.http.get(url).send().await.unwrap();
            let location = res
                .headers()
                .get("location")
                .map(|v| v.to_str().unwrap().to_owned())
                .unwrap_or_default();
            (res.status().as_u16(), location)
        })
    }

    /// Calls until `done` holds for the answer, for at most a minute.
    #[allow(clippy::too_many_arguments, reason = "one request, described whole")]
    fn poll(
        &mut self,
        route: &str,
        ids: &[&str],
        query: &str,
        auth: &Auth,
        what: &str,
        mut done: impl FnMut(&Value) -> bool,
    ) -> Value {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let r = self.call("GET", route, ids, query, auth, Body::Empty, 200, &[]);
            let v = r.json();
            // A refusal is reported as such, not waited on.
            if r.status != 200 || done(&v) {
                return v;
            }
            if Instant::now() > deadline {
                self.unexpected
                    .push(format!("{what}: not reached in a minute: {}", r.body));
                return v;
            }
            self.rt
                .block_on(async { tokio::time::sleep(Duration::from_millis(100)).await });
        }
    }
}

/// Whether every run of a list has ended.
fn ended(v: &Value) -> bool {
    v.as_array()
        .and_then(|runs| runs.first())
        .is_some_and(|run| run["state"] != "running")
}

/// The text of the element of `html` with the id `id`.
fn element_text(html: &str, id: &str) -> String {
    let Some(at) = html.find(&format!("id=\"{id}\"")) else {
        return MISSING.to_owned();
    };
    let rest = &html[at..];
    let start = rest.find('>').map_or(0, |i| i + 1);
    let end = rest[start..].find('<').map_or(start, |i| start + i);
    rest[start..end].trim().to_owned()
}

fn csrf_field(html: &str) -> Option<String> {
    let at = html.find("name=\"_csrf\" value=\"")? + "name=\"_csrf\" value=\"".len();
    let rest = &html[at..];
    Some(rest[..rest.find('"')?].to_owned())
}

/// Signs `username` in through the sign-in page as a browser does; the browser, and the
/// sign-in form's token and the session's cookie as learnt (for the canaries).
fn sign_in(
    c: &mut Client,
    canaries: &mut Canaries,
    (username, password): (&str, &str),
    expect: u16,
    (session_label, csrf_label): (&'static str, &'static str),
) -> Option<Browser> {
    let page = c.call(
        "GET",
        "/login",
        &[],
        "",
        &Auth::None,
        Body::Empty,
        200,
        &["sign-in form token"],
    );
    let login_cookie = page.cookie("jiralink_login").unwrap_or_default();
    let token = csrf_field(&page.body).unwrap_or_else(|| MISSING.to_owned());
    canaries.add("sign-in form token", &token);
    let r = c.rt.block_on(async {
        c.http
            .post(format!("{}/login", c.base))
            .header("cookie", format!("jiralink_login={login_cookie}"))
            .form(&[
                ("_csrf", token.as_str()),
                ("username", username),
                ("password", password),
            ])
            .send()
            .await
            .unwrap()
    });
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    let body = c.rt.block_on(r.text()).unwrap_or_default();
    let header_text: String = headers
        .iter()
        .map(|(k, v)| format!("{k}: {}\n", String::from_utf8_lossy(v.as_bytes())))
        .collect();
    if status != expect {
        c.unexpected.push(format!(
            "POST /login as {username}: {status}, expected {expect}: {body}"
        ));
    }
    let session = headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| v.strip_prefix("jiralink_session="))
        .map(|v| v.split(';').next().unwrap_or_default().to_owned());
    c.calls.push(Called {
        method: "POST".to_owned(),
        route: "/login".to_owned(),
        credentials: false,
        expect,
        what: format!("POST /login as {username}"),
        answer: format!("HTTP {status}\n{header_text}\n{body}"),
        shows: vec![session_label, "sign-in form token"],
    });
    let session = session.filter(|s| !s.is_empty())?;
    canaries.add(session_label, &session);
    let cookie = format!("jiralink_session={session}");
    let page = c.call(
        "GET",
        "/connections",
        &[],
        "",
        &Auth::Session(Browser {
            cookie: cookie.clone(),
            csrf: String::new(),
        }),
        Body::Empty,
        200,
        &[csrf_label],
    );
    let csrf = csrf_field(&page.body).unwrap_or_else(|| MISSING.to_owned());
    canaries.add(csrf_label, &csrf);
    Some(Browser { cookie, csrf })
}

fn multipart(file_name: &str, data: &str) -> Body {
    let boundary = "canary-boundary-0123456789";
    let body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"format\"\r\n\r\nndjson\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{file_name}\"\
         \r\nContent-Type: application/x-ndjson\r\n\r\n{data}\r\n--{boundary}--\r\n"
    );
    Body::Raw(
        format!("multipart/form-data; boundary={boundary}"),
        body.into_bytes(),
    )
}

fn basic_body(name: &str, subdomain: &str, email: &str, token: &str) -> Value {
    json!({"name": name, "apiType": "cloud-platform", "subdomain": subdomain,
           "authType": "basic", "username": email, "apiToken": token})
}

/// Makes the stored access token of the connection `name` expired.
async fn expire_access_token(env: &Env, schema: Option<&TestSchema>, name: &str) {
    use sqlx::Connection as _;
    let sql = "UPDATE connections SET access_token_expires_at = \
               '2000-01-01T00:00:00.000000Z' WHERE name = $1";
    let updated = match schema {
        Some(schema) => {
            let mut db = sqlx::PgConnection::connect(schema.url()).await.unwrap();
            sqlx::query(sql)
                .bind(name)
                .execute(&mut db)
                .await
                .unwrap()
                .rows_affected()
        }
        None => {
            let opts = sqlx::sqlite::SqliteConnectOptions::new()
                .filename(env.data_dir().join("jiralink.db"));
            let mut db = sqlx::SqliteConnection::connect_with(&opts).await.unwrap();
            sqlx::query(sql)
                .bind(name)
                .execute(&mut db)
                .await
                .unwrap()
                .rows_affected()
        }
    };
    assert_eq!(updated, 1);
}

fn pg_dump(schema: &TestSchema) -> String {
    let base = TestSchema::base_url().unwrap();
    let out = std::process::Command::new("pg_dump")
        .args(["--no-owner", "--schema", schema.name(), "--dbname", &base])
        .output()
        .expect("pg_dump dumps the schema");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// What one leg found and searched.
struct Figures {
    routes: usize,
    calls: usize,
    answer_bytes: usize,
    log_bytes: usize,
    files: usize,
}

/// Everything stored: the files of the data directory and the database's dump, which must
/// name `visible` (proof that the search reads what is stored) and hold at least
/// `sealed_at_least` sealed secrets.
fn search_store(
    canaries: &Canaries,
    env: &Env,
    schema: Option<&TestSchema>,
    (visible, sealed_at_least): (&str, usize),
    when: &str,
    found: &mut Vec<String>,
) -> usize {
    let mut files = 0;
    let mut stack = vec![env.path().to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if let Ok(bytes) = std::fs::read(&path) {
                found.extend(canaries.found_in(
                    &format!("{} {when}", path.display()),
                    &String::from_utf8_lossy(&bytes),
                    &[],
                ));
                files += 1;
            }
        }
    }
    let dump = match schema {
        Some(schema) => pg_dump(schema),
        None => sqlite_dump(&env.data_dir().join("jiralink.db")),
    };
    assert!(
        dump.contains(visible),
        "the dump {when} does not name {visible}: the search would not find it"
    );
    // While they are stored, the secrets are there, sealed.
    let sealed = dump.matches("enc:v1:").count();
    assert!(
        sealed >= sealed_at_least,
        "{sealed} sealed secrets in the dump {when}"
    );
    found.extend(canaries.found_in(&format!("the database dump {when}"), &dump, &[]));
    files
}

#[test]
fn planted_secrets_appear_nowhere_in_the_server_on_sqlite() {
    let started = Instant::now();
    let f = leg(None, false);
    eprintln!(
        "SQLite: {} routes, {} answers ({} bytes), {} bytes of log, {} files searched in {:.1?}",
        f.routes,
        f.calls,
        f.answer_bytes,
        f.log_bytes,
        f.files,
        started.elapsed()
    );
}

#[test]
fn planted_secrets_appear_nowhere_in_the_server_on_postgres() {
    let Some(base) = TestSchema::base_url() else {
        return;
    };
    let started = Instant::now();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let schema = rt.block_on(TestSchema::create(&base)).unwrap();
    let f = leg(Some(&schema), true);
    eprintln!(
        "PostgreSQL: {} routes, {} answers ({} bytes), {} bytes of log, {} files searched in {:.1?}",
        f.routes,
        f.calls,
        f.answer_bytes,
        f.log_bytes,
        f.files,
        started.elapsed()
    );
}

#[allow(
    clippy::too_many_lines,
    reason = "one scenario, in the order a user goes"
)]
fn leg(schema: Option<&TestSchema>, json_logs: bool) -> Figures {
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
        codes: [CODE.to_owned(), CODE_2.to_owned()].into(),
        access_tokens: [ACCESS.to_owned(), ACCESS_2.to_owned(), ACCESS_3.to_owned()].into(),
        refresh_tokens: [
            REFRESH.to_owned(),
            REFRESH_2.to_owned(),
            REFRESH_3.to_owned(),
        ]
        .into(),
    });
    let mut vars = vec![
        // Every crate, dependencies included.
        ("RUST_LOG", "trace"),
        ("JIRALINK_SERVER__BASE_URL", base.as_str()),
        ("JIRALINK_API_KEY", SERVER_KEY),
        ("JIRALINK_MASTER_KEY", MASTER_KEY_HEX),
        ("JIRALINK_ADMIN_PASSWORD", ADMIN_PASSWORD),
        ("JIRALINK_JOBS__POLL_SECS", "1"),
    ];
    if let Some(schema) = schema {
        vars.push(("JIRALINK_DATABASE_URL", schema.url()));
    }
    for (k, v) in vars {
        env.extra_env.push((k.to_owned(), v.to_owned()));
    }
    let mut canaries = Canaries::default();
    for (label, value) in [
        ("server API key", SERVER_KEY),
        ("master key", MASTER_KEY_HEX),
        ("administrator's password", ADMIN_PASSWORD),
        ("password", PASSWORD),
        ("wrong password", WRONG_PASSWORD),
        ("wrong API token", WRONG_TOKEN),
        ("refused API token", WRONG_TOKEN_2),
        ("draft API token", WRONG_TOKEN_3),
        ("Jira API token", good_token.as_str()),
        ("planted client secret", CLIENT_SECRET),
        ("form client secret", CLIENT_SECRET_2),
        ("Jira client secret", app.client_secret.as_str()),
        ("authorization code", CODE),
        ("second authorization code", CODE_2),
        ("access token", ACCESS),
        ("second access token", ACCESS_2),
        ("third access token", ACCESS_3),
        ("refresh token", REFRESH),
        ("second refresh token", REFRESH_2),
        ("third refresh token", REFRESH_3),
    ] {
        canaries.add(label, value);
    }
    let server = Server::start(&env, port, if json_logs { "json" } else { "text" });
    let mut c = Client::new(&base);
    let key = Auth::Key(SERVER_KEY.to_owned());
    let none = Auth::None;
    let unknown = "00000000-0000-4000-8000-000000000000";

    // Public routes; signing in, a wrong password first.
    c.call("GET", "/healthz", &[], "", &none, Body::Empty, 200, &[]);
    c.call("GET", "/readyz", &[], "", &none, Body::Empty, 200, &[]);
    c.call(
        "GET",
        "/static/{name}",
        &["app.css"],
        "",
        &none,
        Body::Empty,
        200,
        &[],
    );
    c.call(
        "GET",
        "/static/{name}",
        &["none.css"],
        "",
        &none,
        Body::Empty,
        404,
        &[],
    );
    let admin_labels = ("administrator's session", "administrator's CSRF token");
    sign_in(
        &mut c,
        &mut canaries,
        ("admin", WRONG_PASSWORD),
        401,
        admin_labels,
    );
    let admin = sign_in(
        &mut c,
        &mut canaries,
        ("admin", ADMIN_PASSWORD),
        303,
        admin_labels,
    )
    .expect("the administrator signs in");
    let admin_auth = Auth::Session(admin.clone());
    c.call("GET", "/", &[], "", &admin_auth, Body::Empty, 303, &[]);
    c.call(
        "GET",
        "/settings/users",
        &[],
        "",
        &admin_auth,
        Body::Empty,
        200,
        &["administrator's CSRF token"],
    );
    c.call(
        "POST",
        "/settings/users",
        &[],
        "",
        &admin_auth,
        form(&[("username", "alice"), ("password", "short")]),
        400,
        &["administrator's CSRF token"],
    );
    c.call(
        "POST",
        "/settings/users",
        &[],
        "",
        &admin_auth,
        form(&[
            ("username", "alice"),
            ("password", PASSWORD),
            ("is_admin", "on"),
        ]),
        303,
        &[],
    );
    c.call(
        "POST",
        "/settings/users",
        &[],
        "",
        &admin_auth,
        form(&[("username", "bob"), ("password", WRONG_PASSWORD)]),
        303,
        &[],
    );
    let alice_labels = ("alice's session", "alice's CSRF token");
    sign_in(
        &mut c,
        &mut canaries,
        ("alice", WRONG_PASSWORD),
        401,
        alice_labels,
    );
    let alice = sign_in(
        &mut c,
        &mut canaries,
        ("alice", PASSWORD),
        303,
        alice_labels,
    )
    .expect("alice signs in");
    let ui = Auth::Session(alice.clone());
    let page = &["alice's CSRF token"][..];
    // Signing the administrator out: their session ends.
    c.call(
        "POST",
        "/logout",
        &[],
        "",
        &admin_auth,
        Body::Empty,
        303,
        &[],
    );
    c.call(
        "GET",
        "/connections",
        &[],
        "",
        &admin_auth,
        Body::Empty,
        303,
        &[],
    );
    // A user's key, through the form; shown once.
    let r = c.call(
        "POST",
        "/settings/api-keys",
        &[],
        "",
        &ui,
        form(&[("user", "alice"), ("name", "ci")]),
        200,
        &["alice's CSRF token", "user's API key"],
    );
    let user_key = element_text(&r.body, "new-api-key");
    canaries.add("user's API key", &user_key);
    let users = c.call(
        "GET",
        "/settings/users",
        &[],
        "",
        &ui,
        Body::Empty,
        200,
        page,
    );
    let user_auth = Auth::Key(user_key.clone());
    c.call(
        "GET",
        "/v1/connections",
        &[],
        "",
        &user_auth,
        Body::Empty,
        200,
        &[],
    );
    c.call(
        "GET",
        "/v1/connections",
        &[],
        "",
        &Auth::Key(WRONG_TOKEN.to_owned()),
        Body::Empty,
        401,
        &[],
    );
    c.call(
        "GET",
        "/v1/connections",
        &[],
        "",
        &Auth::Key(SERVER_KEY[..SERVER_KEY.len() - 1].to_owned()),
        Body::Empty,
        401,
        &[],
    );
    c.call("GET", "/metrics", &[], "", &key, Body::Empty, 200, &[]);
    c.call(
        "GET",
        "/v1/openapi.json",
        &[],
        "",
        &key,
        Body::Empty,
        200,
        &[],
    );

    // Connections through the API: one Jira accepts, one it refuses, refused drafts.
    let r = c.call(
        "POST",
        "/v1/connections",
        &[],
        "",
        &key,
        Body::Json(basic_body("Jira", "demo", &email, &good_token)),
        201,
        &[],
    );
    let jira = r.str("/id");
    c.call(
        "POST",
        "/v1/connections",
        &[],
        "",
        &key,
        Body::Json(basic_body("Acme", "acme", &email, &good_token)),
        201,
        &[],
    );
    let r = c.call(
        "POST",
        "/v1/connections",
        &[],
        "",
        &key,
        Body::Json(basic_body("Wrong", "demo", "me@example.com", WRONG_TOKEN)),
        201,
        &[],
    );
    let wrong = r.str("/id");
    c.call(
        "POST",
        "/v1/connections",
        &[],
        "",
        &key,
        Body::Json(basic_body("Bad", "not a host!", "x", WRONG_TOKEN_2)),
        400,
        &[],
    );
    let mut extra = basic_body("Bad", "demo", "x", WRONG_TOKEN_2);
    extra["token"] = json!(WRONG_TOKEN_2);
    c.call(
        "POST",
        "/v1/connections",
        &[],
        "",
        &key,
        Body::Json(extra),
        400,
        &[],
    );
    c.call(
        "POST",
        "/v1/connections",
        &[],
        "",
        &key,
        Body::Raw(
            "application/json".to_owned(),
            format!("{{\"apiToken\": \"{WRONG_TOKEN_2}\"").into_bytes(),
        ),
        400,
        &[],
    );
    c.call(
        "POST",
        "/v1/connections",
        &[],
        "",
        &key,
        Body::Json(basic_body("Wrong", "demo", "me@example.com", WRONG_TOKEN_2)),
        400,
        &[],
    );
    let r = c.call(
        "POST",
        "/v1/connections/test",
        &[],
        "",
        &key,
        Body::Json(basic_body("Draft", "demo", "me@example.com", WRONG_TOKEN_3)),
        200,
        &[],
    );
    if r.json()["result"] != "failed" {
        c.unexpected
            .push(format!("a refused draft passed: {}", r.body));
    }
    c.call(
        "POST",
        "/v1/connections/test",
        &[],
        "",
        &key,
        Body::Json(json!({"apiToken": WRONG_TOKEN_3})),
        400,
        &[],
    );
    c.call(
        "GET",
        "/v1/connections",
        &[],
        "",
        &key,
        Body::Empty,
        200,
        &[],
    );
    let r = c.call(
        "GET",
        "/v1/connections/{id}",
        &[&wrong],
        "",
        &key,
        Body::Empty,
        200,
        &[],
    );
    let version = r.json()["version"].as_u64().unwrap_or(0);
    c.call(
        "GET",
        "/v1/connections/{id}",
        &[WRONG_TOKEN],
        "",
        &key,
        Body::Empty,
        404,
        &[],
    );
    let mut replaced = basic_body("Wrong", "demo", "me@example.com", WRONG_TOKEN_2);
    c.call(
        "PUT",
        "/v1/connections/{id}",
        &[&wrong],
        "",
        &key,
        Body::Json(replaced.clone()),
        400,
        &[],
    );
    replaced["version"] = json!(version);
    c.call(
        "PUT",
        "/v1/connections/{id}",
        &[&wrong],
        "",
        &key,
        Body::Json(replaced.clone()),
        200,
        &[],
    );
    c.call(
        "PUT",
        "/v1/connections/{id}",
        &[&wrong],
        "",
        &key,
        Body::Json(replaced),
        409,
        &[],
    );
    // The debugger records the tests that carry the tokens.
    c.call(
        "POST",
        "/v1/connections/{id}/debug",
        &[&wrong],
        "",
        &key,
        Body::Json(json!({"minutes": 15})),
        200,
        &[],
    );
    c.call(
        "POST",
        "/v1/connections/{id}/debug",
        &[&jira],
        "",
        &key,
        Body::Json(json!({"minutes": 7})),
        400,
        &[],
    );
    c.call(
        "POST",
        "/v1/connections/{id}/debug",
        &[&jira],
        "",
        &key,
        Body::Json(json!({"minutes": 15})),
        200,
        &[],
    );
    let r = c.call(
        "POST",
        "/v1/connections/{id}/test",
        &[&wrong],
        "",
        &key,
        Body::Empty,
        200,
        &[],
    );
    if r.json()["result"] != "failed" {
        c.unexpected
            .push(format!("a wrong token passed: {}", r.body));
    }
    // Jira's faults while the token is sent.
    for (status, retry_after) in [(500, None), (429, Some(1)), (503, Some(0)), (401, None)] {
        env.sim.control().fail_next(1, status, retry_after);
        let r = c.call(
            "POST",
            "/v1/connections/{id}/test",
            &[&jira],
            "",
            &key,
            Body::Empty,
            200,
            &[],
        );
        if r.json()["result"] != "failed" {
            c.unexpected
                .push(format!("a test answered {status} passed: {}", r.body));
        }
    }
    env.sim.control().clear_faults();
    c.test_passes(&jira, &key, "Jira's test failed");
    c.call(
        "POST",
        "/v1/connections/{id}/test",
        &[unknown],
        "",
        &key,
        Body::Empty,
        404,
        &[],
    );
    let log = c.call(
        "GET",
        "/v1/connections/{id}/debug-log",
        &[&wrong],
        "",
        &key,
        Body::Empty,
        200,
        &[],
    );
    let lines = log.json()["lines"].as_array().map_or(0, Vec::len);
    if lines < 2 {
        c.unexpected
            .push(format!("the debugger recorded too little: {}", log.body));
    }
    c.call(
        "GET",
        "/v1/connections/{id}/debug-log",
        &[&jira],
        "",
        &key,
        Body::Empty,
        200,
        &[],
    );
    for route in [
        "/v1/connections/{id}/http-view",
        "/v1/connections/{id}/audit",
        "/v1/connections/{id}/usage",
    ] {
        for id in [&jira, &wrong] {
            c.call("GET", route, &[id], "", &key, Body::Empty, 200, &[]);
        }
        c.call("GET", route, &[unknown], "", &key, Body::Empty, 404, &[]);
    }

    // OAuth 2.0 clients: the simulator's, and one it does not know.
    let r = c.call(
        "POST",
        "/v1/oauth-clients",
        &[],
        "",
        &key,
        Body::Json(json!({"name": "Sim", "clientId": app.client_id,
                          "clientSecret": app.client_secret})),
        201,
        &[],
    );
    let sim_client = r.str("/id");
    let r = c.call(
        "POST",
        "/v1/oauth-clients",
        &[],
        "",
        &key,
        Body::Json(json!({"name": "Planted", "clientId": "cid-planted",
                          "clientSecret": CLIENT_SECRET})),
        201,
        &[],
    );
    let planted = r.str("/id");
    let planted_version = r.json()["version"].as_u64().unwrap_or(0);
    c.call(
        "POST",
        "/v1/oauth-clients",
        &[],
        "",
        &key,
        Body::Json(json!({"name": "Bad", "clientId": "has space",
                          "clientSecret": CLIENT_SECRET})),
        400,
        &[],
    );
    c.call(
        "PUT",
        "/v1/oauth-clients/{id}",
        &[&planted],
        "",
        &key,
        Body::Json(json!({"name": "Planted", "clientId": "cid-planted",
                          "clientSecret": CLIENT_SECRET, "version": planted_version})),
        200,
        &[],
    );
    c.call(
        "PUT",
        "/v1/oauth-clients/{id}",
        &[&planted],
        "",
        &key,
        Body::Json(json!({"name": "Planted", "clientId": "cid-planted",
                          "version": planted_version + 1})),
        400,
        &[],
    );
    c.call(
        "GET",
        "/v1/oauth-clients",
        &[],
        "",
        &key,
        Body::Empty,
        200,
        &[],
    );
    c.call(
        "GET",
        "/v1/oauth-clients/{id}",
        &[&planted],
        "",
        &key,
        Body::Empty,
        200,
        &[],
    );
    c.call(
        "GET",
        "/v1/oauth-clients/{id}",
        &[CLIENT_SECRET],
        "",
        &key,
        Body::Empty,
        404,
        &[],
    );

    // An OAuth 2.0 connection authorized through the API: the simulator approves at once and
    // sends the planted code back to the server's callback.
    let r = c.call(
        "POST",
        "/v1/connections",
        &[],
        "",
        &key,
        Body::Json(
            json!({"name": "Cloud", "apiType": "cloud-platform", "subdomain": "demo",
                          "authType": "oauth2", "oauthClient": "Sim",
                          "scopes": OAUTH_SCOPES}),
        ),
        201,
        &[],
    );
    let cloud = r.str("/id");
    c.call(
        "POST",
        "/v1/connections/{id}/authorize",
        &[&jira],
        "",
        &key,
        Body::Empty,
        400,
        &[],
    );
    let r = c.call(
        "POST",
        "/v1/connections/{id}/authorize",
        &[&cloud],
        "",
        &key,
        Body::Empty,
        200,
        &["OAuth state"],
    );
    let state = authorize(&mut c, &r.str("/authorizationUrl"), &none, 200, CODE);
    canaries.add("OAuth state", &state);
    c.call(
        "GET",
        "/connection/oauth2callback",
        &[],
        &format!("?code={CODE_2}&state={WRONG_TOKEN_3}"),
        &none,
        Body::Empty,
        400,
        &[],
    );
    c.test_passes(&cloud, &key, "the OAuth 2.0 connection failed");
    c.call(
        "DELETE",
        "/v1/oauth-clients/{id}",
        &[&sim_client],
        "",
        &key,
        Body::Empty,
        409,
        &[],
    );

    // The pages of the connections, and their forms.
    c.call("GET", "/connections", &[], "", &ui, Body::Empty, 200, page);
    c.call(
        "GET",
        "/connections/new",
        &[],
        "",
        &ui,
        Body::Empty,
        200,
        page,
    );
    let draft = |name: &str, token: &str| {
        form(&[
            ("name", name),
            ("api_type", "cloud-platform"),
            ("subdomain", "demo"),
            ("auth_type", "basic"),
            ("username", &email),
            ("api_token", token),
            ("concurrency_level", "5"),
            ("rate_limit_auto_recover", "on"),
            ("rate_limit_max_retries", "4"),
            ("action", "save"),
        ])
    };
    c.call(
        "POST",
        "/connections",
        &[],
        "",
        &ui,
        draft("", WRONG_TOKEN_3),
        422,
        page,
    );
    c.call(
        "POST",
        "/connections",
        &[],
        "",
        &ui,
        draft("From the form", &good_token),
        303,
        &[],
    );
    let r = c.call(
        "GET",
        "/v1/connections/{id}",
        &["From the form"],
        "",
        &key,
        Body::Empty,
        200,
        &[],
    );
    let formed = r.str("/id");
    let formed_version = r.json()["version"].as_u64().unwrap_or(0).to_string();
    c.call(
        "POST",
        "/connections/test",
        &[],
        "",
        &ui,
        draft("Draft", WRONG_TOKEN_3),
        200,
        &[],
    );
    c.call(
        "POST",
        "/connections/test",
        &[],
        "",
        &ui,
        form(&[("api_type", "cloud-platform"), ("api_token", WRONG_TOKEN_3)]),
        422,
        &[],
    );
    c.call(
        "POST",
        "/connections/http-view",
        &[],
        "",
        &ui,
        draft("Draft", WRONG_TOKEN_3),
        200,
        &[],
    );
    c.call(
        "GET",
        "/connections/{id}/edit",
        &[&formed],
        "",
        &ui,
        Body::Empty,
        200,
        page,
    );
    c.call(
        "GET",
        "/connections/{id}/edit",
        &[unknown],
        "",
        &ui,
        Body::Empty,
        404,
        page,
    );
    let Body::Form(mut edit) = draft("From the form", &good_token) else {
        unreachable!()
    };
    edit.push(("version".to_owned(), formed_version));
    c.call(
        "POST",
        "/connections/{id}/test-draft",
        &[&formed],
        "",
        &ui,
        Body::Form(edit.clone()),
        200,
        &[],
    );
    c.call(
        "POST",
        "/connections/{id}",
        &[&formed],
        "",
        &ui,
        Body::Form(edit.clone()),
        303,
        &[],
    );
    // The same version again: refused, the form shown again without the token.
    c.call(
        "POST",
        "/connections/{id}",
        &[&formed],
        "",
        &ui,
        Body::Form(edit),
        409,
        page,
    );
    env.sim.control().fail_next(1, 503, Some(0));
    c.call(
        "POST",
        "/connections/{id}/test",
        &[&formed],
        "",
        &ui,
        Body::Empty,
        303,
        &[],
    );
    c.call(
        "POST",
        "/connections/{id}/test",
        &[&formed],
        "",
        &ui,
        Body::Empty,
        303,
        &[],
    );
    c.call("GET", "/connections", &[], "", &ui, Body::Empty, 200, page);
    c.call(
        "POST",
        "/connections/{id}/debug/start",
        &[&formed],
        "",
        &ui,
        form(&[("minutes", "15")]),
        303,
        &[],
    );
    c.call(
        "POST",
        "/connections/{id}/test",
        &[&wrong],
        "",
        &ui,
        Body::Empty,
        303,
        &[],
    );
    for id in [&formed, &wrong, &cloud] {
        c.call(
            "GET",
            "/connections/{id}/debug",
            &[id],
            "",
            &ui,
            Body::Empty,
            200,
            page,
        );
        c.call(
            "GET",
            "/connections/{id}/audit",
            &[id],
            "",
            &ui,
            Body::Empty,
            200,
            page,
        );
    }
    c.call(
        "POST",
        "/connections/{id}/debug/stop",
        &[&formed],
        "",
        &ui,
        Body::Empty,
        303,
        &[],
    );
    c.call(
        "POST",
        "/connections/{id}/debug/clear",
        &[&formed],
        "",
        &ui,
        Body::Empty,
        303,
        &[],
    );
    // An OAuth 2.0 client through the dialog; a second authorization of the connection,
    // from its page, coming back to a signed-in browser.
    let r = c.call(
        "POST",
        "/oauth-clients",
        &[],
        "",
        &ui,
        form(&[
            ("name", "Dialog"),
            ("client_id", "dialog-client-id"),
            ("client_secret", CLIENT_SECRET_2),
        ]),
        201,
        &[],
    );
    let dialog = r.str("/id");
    c.call(
        "POST",
        "/oauth-clients",
        &[],
        "",
        &ui,
        form(&[
            ("name", "Dialog 2"),
            ("client_id", ""),
            ("client_secret", CLIENT_SECRET_2),
        ]),
        422,
        &[],
    );
    c.call(
        "POST",
        "/oauth-clients/{id}",
        &[&dialog],
        "",
        &ui,
        form(&[
            ("name", "Dialog"),
            ("client_id", "dialog-client-id"),
            ("client_secret", CLIENT_SECRET_2),
            ("version", "1"),
        ]),
        200,
        &[],
    );
    c.call(
        "POST",
        "/oauth-clients/{id}",
        &[&dialog],
        "",
        &ui,
        form(&[
            ("name", "Dialog"),
            ("client_id", "dialog-client-id"),
            ("client_secret", CLIENT_SECRET_2),
            ("version", "1"),
        ]),
        409,
        &[],
    );
    let r = c.call(
        "POST",
        "/connections/{id}/authorize",
        &[&cloud],
        "",
        &ui,
        Body::Empty,
        303,
        &["second OAuth state"],
    );
    let state = authorize(&mut c, &r.location, &ui, 303, CODE_2);
    canaries.add("second OAuth state", &state);
    c.test_passes(&cloud, &key, "the reauthorized connection failed");
    // Its access token expired: the test refreshes it, with the planted refresh token, and
    // stores the third pair.
    c.rt.block_on(expire_access_token(&env, schema, "Cloud"));
    c.test_passes(&cloud, &key, "the refreshed connection failed");
    let token_requests = env
        .sim
        .control()
        .requests()
        .iter()
        .filter(|q| q.path.ends_with("/oauth/token"))
        .count();
    if token_requests != 3 {
        c.unexpected.push(format!(
            "{token_requests} token requests, not two exchanges of a code and a refresh"
        ));
    }

    // Exports and their runs: a fault Jira recovers from, one that fails the run.
    let r = c.call(
        "POST",
        "/v1/exports",
        &[],
        "",
        &key,
        Body::Json(json!({"name": "demo-mkt", "connection": "Jira",
                          "spec": {"resource": "issues", "jql": "project = MKT",
                                   "format": "ndjson"}})),
        201,
        &[],
    );
    let export = r.str("/id");
    let export_version = r.json()["version"].as_u64().unwrap_or(0);
    c.call(
        "POST",
        "/v1/exports",
        &[],
        "",
        &key,
        Body::Json(json!({"name": "bad", "connection": "Jira",
                          "spec": {"resource": "issues", "jql": "project = MKT ORDER BY key"}})),
        400,
        &[],
    );
    c.call(
        "POST",
        "/v1/exports",
        &[],
        "",
        &key,
        Body::Json(json!({"name": "other", "connection": WRONG_TOKEN_2,
                          "spec": {"resource": "issues"}})),
        404,
        &[],
    );
    c.call(
        "PUT",
        "/v1/exports/{id}",
        &[&export],
        "",
        &key,
        Body::Json(json!({"name": "demo-mkt", "connection": "Jira",
                          "spec": {"resource": "issues", "jql": "project = MKT",
                                   "format": "ndjson"},
                          "version": export_version})),
        200,
        &[],
    );
    c.call("GET", "/v1/exports", &[], "", &key, Body::Empty, 200, &[]);
    c.call(
        "GET",
        "/v1/exports/{id}",
        &[&export],
        "",
        &key,
        Body::Empty,
        200,
        &[],
    );
    c.call(
        "GET",
        "/v1/exports/{id}",
        &[unknown],
        "",
        &key,
        Body::Empty,
        404,
        &[],
    );
    env.sim.control().fail_next(1, 429, Some(0));
    c.call(
        "POST",
        "/v1/exports/{id}/run",
        &[&export],
        "",
        &key,
        Body::Empty,
        202,
        &[],
    );
    let runs = c.poll(
        "/v1/runs",
        &[],
        &format!("?export={export}&limit=1"),
        &key,
        "the export's run",
        ended,
    );
    let run = runs[0]["id"].as_str().unwrap_or(MISSING).to_owned();
    if runs[0]["state"] != "succeeded" {
        c.unexpected
            .push(format!("the export's run did not succeed: {runs}"));
    }
    env.sim.control().fail_next(20, 401, None);
    c.call(
        "POST",
        "/v1/exports/{id}/run",
        &[&export],
        "",
        &key,
        Body::Empty,
        202,
        &[],
    );
    let failed = c.poll(
        "/v1/runs",
        &[],
        &format!("?export={export}&limit=1"),
        &key,
        "the export's failing run",
        |v| ended(v) && v[0]["id"].as_str() != Some(run.as_str()),
    );
    let failed_run = failed[0]["id"].as_str().unwrap_or(MISSING).to_owned();
    if failed[0]["state"] != "failed" {
        c.unexpected
            .push(format!("the run Jira refused did not fail: {failed}"));
    }
    env.sim.control().clear_faults();
    // The connection Jira refused once is tested again.
    c.call(
        "POST",
        "/v1/connections/{id}/test",
        &[&jira],
        "",
        &key,
        Body::Empty,
        200,
        &[],
    );
    c.call("GET", "/v1/runs", &[], "", &key, Body::Empty, 200, &[]);
    for id in [&run, &failed_run] {
        c.call(
            "GET",
            "/v1/runs/{id}",
            &[id],
            "",
            &key,
            Body::Empty,
            200,
            &[],
        );
    }
    c.call(
        "GET",
        "/v1/runs/{id}",
        &[unknown],
        "",
        &key,
        Body::Empty,
        404,
        &[],
    );
    c.call(
        "GET",
        "/v1/runs/{id}/output",
        &[&run],
        "",
        &key,
        Body::Empty,
        200,
        &[],
    );
    c.call(
        "POST",
        "/v1/runs/{id}/cancel",
        &[&run],
        "",
        &key,
        Body::Empty,
        200,
        &[],
    );
    c.call(
        "POST",
        "/v1/runs/{id}/cancel",
        &[unknown],
        "",
        &key,
        Body::Empty,
        404,
        &[],
    );
    // Their pages.
    c.call("GET", "/exports", &[], "", &ui, Body::Empty, 200, page);
    c.call("GET", "/exports/new", &[], "", &ui, Body::Empty, 200, page);
    let export_form = |name: &str, connection: &str| {
        form(&[
            ("name", name),
            ("connection", connection),
            ("resource", "issues"),
            ("jql", "project = MKT"),
            ("fields", ""),
            ("kind", "all"),
            ("start", ""),
            ("limit", "100"),
            ("format", "ndjson"),
            ("adf", "raw"),
            ("schedule", "none"),
            ("every_minutes", "60"),
            ("time_zone", "UTC"),
            ("enabled", "on"),
        ])
    };
    c.call(
        "POST",
        "/exports",
        &[],
        "",
        &ui,
        export_form("", &formed),
        422,
        page,
    );
    c.call(
        "POST",
        "/exports",
        &[],
        "",
        &ui,
        export_form("form-mkt", &formed),
        303,
        &[],
    );
    let r = c.call(
        "GET",
        "/v1/exports/{id}",
        &["form-mkt"],
        "",
        &key,
        Body::Empty,
        200,
        &[],
    );
    let form_export = r.str("/id");
    let Body::Form(mut edited) = export_form("form-mkt", &formed) else {
        unreachable!()
    };
    edited.push((
        "version".to_owned(),
        r.json()["version"].as_u64().unwrap_or(0).to_string(),
    ));
    c.call(
        "GET",
        "/exports/{id}/edit",
        &[&form_export],
        "",
        &ui,
        Body::Empty,
        200,
        page,
    );
    c.call(
        "POST",
        "/exports/{id}",
        &[&form_export],
        "",
        &ui,
        Body::Form(edited),
        303,
        &[],
    );
    c.call(
        "POST",
        "/exports/{id}/run",
        &[&form_export],
        "",
        &ui,
        Body::Empty,
        303,
        &[],
    );
    c.poll(
        "/exports/{id}/status",
        &[&form_export],
        "",
        &ui,
        "the form's export's run",
        |v| v["lastRunId"].is_string() && v["running"] != true,
    );
    let runs = c.call(
        "GET",
        "/v1/runs",
        &[],
        &format!("?export={form_export}&limit=1"),
        &key,
        Body::Empty,
        200,
        &[],
    );
    let form_run = runs.str("/0/id");
    for id in [&export, &form_export] {
        c.call(
            "GET",
            "/exports/{id}",
            &[id],
            "",
            &ui,
            Body::Empty,
            200,
            page,
        );
    }
    c.call(
        "GET",
        "/exports/{id}",
        &[unknown],
        "",
        &ui,
        Body::Empty,
        404,
        page,
    );
    c.call("GET", "/runs", &[], "", &ui, Body::Empty, 200, page);
    for id in [&run, &failed_run, &form_run] {
        c.call("GET", "/runs/{id}", &[id], "", &ui, Body::Empty, 200, page);
        c.call(
            "GET",
            "/runs/{id}/progress",
            &[id],
            "",
            &ui,
            Body::Empty,
            200,
            &[],
        );
    }
    c.call(
        "GET",
        "/runs/{id}/output",
        &[&form_run],
        "",
        &ui,
        Body::Empty,
        200,
        &[],
    );
    c.call(
        "POST",
        "/runs/{id}/cancel",
        &[&form_run],
        "",
        &ui,
        Body::Empty,
        303,
        &[],
    );

    // Imports, run with records in the request and through the upload form.
    let r = c.call(
        "POST",
        "/v1/imports",
        &[],
        "",
        &key,
        Body::Json(json!({"name": "acme-mkt", "connection": "Acme",
                          "spec": {"mapping": COPY, "format": "ndjson"}})),
        201,
        &[],
    );
    let import = r.str("/id");
    let import_version = r.json()["version"].as_u64().unwrap_or(0);
    c.call(
        "POST",
        "/v1/imports",
        &[],
        "",
        &key,
        Body::Json(json!({"name": "bad", "connection": "Acme",
                          "spec": {"mapping": "operation = \"nothing\""}})),
        400,
        &[],
    );
    c.call(
        "PUT",
        "/v1/imports/{id}",
        &[&import],
        "",
        &key,
        Body::Json(json!({"name": "acme-mkt", "connection": "Acme",
                          "spec": {"mapping": COPY, "format": "ndjson"},
                          "version": import_version})),
        200,
        &[],
    );
    c.call("GET", "/v1/imports", &[], "", &key, Body::Empty, 200, &[]);
    c.call(
        "GET",
        "/v1/imports/{id}",
        &[&import],
        "",
        &key,
        Body::Empty,
        200,
        &[],
    );
    c.call(
        "GET",
        "/v1/imports/{id}",
        &[unknown],
        "",
        &key,
        Body::Empty,
        404,
        &[],
    );
    let records = "{\"key\":\"X-1\",\"fields\":{\"summary\":\"from a request\"}}\n";
    c.call(
        "POST",
        "/v1/imports/{id}/run",
        &[&import],
        "?dryRun=true",
        &key,
        Body::Raw(
            "application/x-ndjson".to_owned(),
            records.as_bytes().to_vec(),
        ),
        200,
        &[],
    );
    let r = c.call(
        "POST",
        "/v1/imports/{id}/run",
        &[&import],
        "",
        &key,
        Body::Raw(
            "application/x-ndjson".to_owned(),
            records.as_bytes().to_vec(),
        ),
        200,
        &[],
    );
    let import_run = r.str("/id");
    c.call(
        "POST",
        "/v1/imports/{id}/run",
        &[&import],
        "",
        &key,
        Body::Raw("text/plain".to_owned(), records.as_bytes().to_vec()),
        415,
        &[],
    );
    c.call(
        "GET",
        "/v1/import-runs",
        &[],
        "",
        &key,
        Body::Empty,
        200,
        &[],
    );
    c.call(
        "GET",
        "/v1/import-runs/{id}",
        &[&import_run],
        "",
        &key,
        Body::Empty,
        200,
        &[],
    );
    c.call(
        "GET",
        "/v1/import-runs/{id}",
        &[&run],
        "",
        &key,
        Body::Empty,
        404,
        &[],
    );
    c.call(
        "GET",
        "/v1/import-runs/{id}/output",
        &[&import_run],
        "",
        &key,
        Body::Empty,
        200,
        &[],
    );
    c.call(
        "POST",
        "/v1/import-runs/{id}/cancel",
        &[&import_run],
        "",
        &key,
        Body::Empty,
        200,
        &[],
    );
    c.call("GET", "/imports", &[], "", &ui, Body::Empty, 200, page);
    c.call("GET", "/imports/new", &[], "", &ui, Body::Empty, 200, page);
    let import_form = |name: &str| {
        form(&[
            ("name", name),
            ("connection", "Acme"),
            ("use_toml", "on"),
            ("toml", COPY),
            ("format", "ndjson"),
            ("results_format", "ndjson"),
            ("ledger", ""),
            ("search_lag", "30"),
            ("action", "save"),
        ])
    };
    c.call("POST", "/imports", &[], "", &ui, import_form(""), 422, page);
    c.call(
        "POST",
        "/imports",
        &[],
        "",
        &ui,
        import_form("form-import"),
        303,
        &[],
    );
    let r = c.call(
        "GET",
        "/v1/imports/{id}",
        &["form-import"],
        "",
        &key,
        Body::Empty,
        200,
        &[],
    );
    let form_import = r.str("/id");
    let Body::Form(mut edited) = import_form("form-import") else {
        unreachable!()
    };
    edited.push((
        "version".to_owned(),
        r.json()["version"].as_u64().unwrap_or(0).to_string(),
    ));
    c.call(
        "GET",
        "/imports/{id}/edit",
        &[&form_import],
        "",
        &ui,
        Body::Empty,
        200,
        page,
    );
    c.call(
        "POST",
        "/imports/{id}",
        &[&form_import],
        "",
        &ui,
        Body::Form(edited),
        303,
        &[],
    );
    let upload = "{\"key\":\"X-2\",\"fields\":{\"summary\":\"from the form\"}}\n";
    c.call(
        "POST",
        "/imports/{id}/preview",
        &[&form_import],
        "",
        &ui,
        multipart("records.ndjson", upload),
        200,
        page,
    );
    let r = c.call(
        "POST",
        "/imports/{id}/run",
        &[&form_import],
        "",
        &ui,
        multipart("records.ndjson", upload),
        303,
        &[],
    );
    let form_import_run = r
        .location
        .strip_prefix("/import-runs/")
        .unwrap_or(MISSING)
        .to_owned();
    c.call(
        "GET",
        "/import-runs/{id}",
        &[&form_import_run],
        "",
        &ui,
        Body::Empty,
        200,
        page,
    );
    c.call(
        "GET",
        "/import-runs/{id}/results",
        &[&form_import_run],
        "",
        &ui,
        Body::Empty,
        200,
        &[],
    );
    for id in [&import, &form_import] {
        c.call(
            "GET",
            "/imports/{id}",
            &[id],
            "",
            &ui,
            Body::Empty,
            200,
            page,
        );
    }

    // A flow from the export to the import, run; a listener feeding it, with a delivery.
    let r = c.call(
        "POST",
        "/v1/flows",
        &[],
        "",
        &key,
        Body::Json(json!({"name": "demo-to-acme", "export": "demo-mkt", "import": "acme-mkt"})),
        201,
        &[],
    );
    let flow = r.str("/id");
    let flow_version = r.json()["version"].as_u64().unwrap_or(0);
    c.call(
        "POST",
        "/v1/flows",
        &[],
        "",
        &key,
        Body::Json(json!({"name": "other", "export": WRONG_TOKEN, "import": "acme-mkt"})),
        404,
        &[],
    );
    c.call(
        "PUT",
        "/v1/flows/{id}",
        &[&flow],
        "",
        &key,
        Body::Json(
            json!({"name": "demo-to-acme", "export": "demo-mkt", "import": "acme-mkt",
                          "version": flow_version}),
        ),
        200,
        &[],
    );
    c.call("GET", "/v1/flows", &[], "", &key, Body::Empty, 200, &[]);
    c.call(
        "GET",
        "/v1/flows/{id}",
        &[&flow],
        "",
        &key,
        Body::Empty,
        200,
        &[],
    );
    c.call(
        "GET",
        "/v1/flows/{id}",
        &[unknown],
        "",
        &key,
        Body::Empty,
        404,
        &[],
    );
    c.call(
        "POST",
        "/v1/flows/{id}/run",
        &[&flow],
        "",
        &key,
        Body::Empty,
        202,
        &[],
    );
    let flow_runs = c.poll(
        "/v1/flow-runs",
        &[],
        &format!("?flow={flow}&limit=1"),
        &key,
        "the flow's run",
        ended,
    );
    let flow_run = flow_runs[0]["id"].as_str().unwrap_or(MISSING).to_owned();
    if flow_runs[0]["state"] != "succeeded" {
        c.unexpected
            .push(format!("the flow's run did not succeed: {flow_runs}"));
    }
    c.call("GET", "/v1/flow-runs", &[], "", &key, Body::Empty, 200, &[]);
    c.call(
        "GET",
        "/v1/flow-runs/{id}",
        &[&flow_run],
        "",
        &key,
        Body::Empty,
        200,
        &[],
    );
    c.call(
        "GET",
        "/v1/flow-runs/{id}",
        &[unknown],
        "",
        &key,
        Body::Empty,
        404,
        &[],
    );
    c.call("GET", "/flows", &[], "", &ui, Body::Empty, 200, page);
    c.call(
        "POST",
        "/flows",
        &[],
        "",
        &ui,
        form(&[
            ("name", "form-flow"),
            ("export", "form-mkt"),
            ("import", "form-import"),
            ("schedule", "none"),
            ("every_minutes", "60"),
            ("time_zone", "UTC"),
        ]),
        303,
        &[],
    );
    c.call(
        "POST",
        "/flows",
        &[],
        "",
        &ui,
        form(&[
            ("name", ""),
            ("export", "form-mkt"),
            ("import", "form-import"),
        ]),
        422,
        page,
    );
    let form_flow = c
        .call(
            "GET",
            "/v1/flows/{id}",
            &["form-flow"],
            "",
            &key,
            Body::Empty,
            200,
            &[],
        )
        .str("/id");
    c.call(
        "POST",
        "/flows/{id}/run",
        &[&form_flow],
        "",
        &ui,
        Body::Empty,
        303,
        &[],
    );
    c.poll(
        "/v1/flow-runs",
        &[],
        &format!("?flow={form_flow}&limit=1"),
        &key,
        "the form's flow's run",
        ended,
    );
    for id in [&flow, &form_flow] {
        c.call("GET", "/flows/{id}", &[id], "", &ui, Body::Empty, 200, page);
    }
    let r = c.call(
        "POST",
        "/v1/listeners",
        &[],
        "",
        &key,
        Body::Json(json!({"name": "demo-events", "flow": "demo-to-acme"})),
        201,
        &["listener secret"],
    );
    let listener = r.str("/id");
    let listener_secret = r.str("/secret");
    let hook_url = r.str("/url");
    canaries.add("listener secret", &listener_secret);
    c.call(
        "POST",
        "/v1/listeners",
        &[],
        "",
        &key,
        Body::Json(json!({"name": "other", "flow": "demo-to-acme", "secret": WRONG_TOKEN})),
        400,
        &[],
    );
    let r = c.call(
        "POST",
        "/listeners",
        &[],
        "",
        &ui,
        form(&[("name", "form-events"), ("flow", "form-flow")]),
        201,
        &["alice's CSRF token", "form listener secret"],
    );
    let form_secret = element_text(&r.body, "listener-secret");
    canaries.add("form listener secret", &form_secret);
    let form_listener = c
        .call(
            "GET",
            "/v1/listeners/{id}",
            &["form-events"],
            "",
            &key,
            Body::Empty,
            200,
            &[],
        )
        .str("/id");
    c.call(
        "POST",
        "/listeners",
        &[],
        "",
        &ui,
        form(&[("name", ""), ("flow", "form-flow")]),
        422,
        page,
    );
    let token = hook_url.rsplit('/').next().unwrap_or(MISSING).to_owned();
    // Jira stamps a delivery with its time; the server's, as its last answer says.
    let now_ms = time::OffsetDateTime::parse(
        flow_runs[0]["startedAt"].as_str().unwrap_or_default(),
        &time::format_description::well_known::Rfc3339,
    )
    .map_or(0, |t| t.unix_timestamp() * 1000);
    let delivery = json!({"timestamp": now_ms, "webhookEvent": "jira:issue_updated",
                          "issue": {"id": "10001", "key": "MKT-1"},
                          "changelog": {"id": "1", "items": [{"fieldId": "summary"}]}})
    .to_string();
    let signature =
        jiralink_sim::webhooks::sign::hub_signature(&listener_secret, delivery.as_bytes());
    let hooks = c.rt.block_on(async {
        let res = c
            .http
            .post(format!("{}/hooks/jira/{token}", c.base))
            .header("content-type", "application/json")
            .header("x-atlassian-webhook-identifier", "delivery-1")
            .header("x-hub-signature", &signature)
            .body(delivery.clone())
            .send()
            .await
            .unwrap();
        (res.status().as_u16(), res.text().await.unwrap_or_default())
    });
    if hooks.0 != 202 {
        c.unexpected
            .push(format!("a signed delivery: {}: {}", hooks.0, hooks.1));
    }
    c.calls.push(Called {
        method: "POST".to_owned(),
        route: "/hooks/jira/{token}".to_owned(),
        credentials: false,
        expect: 202,
        what: "POST /hooks/jira/… signed".to_owned(),
        answer: format!("HTTP {}\n\n{}", hooks.0, hooks.1),
        shows: Vec::new(),
    });
    c.call(
        "POST",
        "/hooks/jira/{token}",
        &[&token],
        "",
        &none,
        Body::Raw("application/json".to_owned(), delivery.clone().into_bytes()),
        401,
        &[],
    );
    c.poll(
        "/v1/listeners/{id}/events",
        &[&listener],
        "",
        &key,
        "the delivery processed",
        |v| v[0]["state"] != "pending" && v.as_array().is_some_and(|a| !a.is_empty()),
    );
    c.call("GET", "/v1/listeners", &[], "", &key, Body::Empty, 200, &[]);
    c.call(
        "GET",
        "/v1/listeners/{id}",
        &[&listener],
        "",
        &key,
        Body::Empty,
        200,
        &[],
    );
    c.call(
        "GET",
        "/v1/listeners/{id}",
        &[unknown],
        "",
        &key,
        Body::Empty,
        404,
        &[],
    );
    c.call(
        "POST",
        "/v1/listeners/{id}/check",
        &[&listener],
        "",
        &key,
        Body::Empty,
        200,
        &[],
    );
    c.call("GET", "/listeners", &[], "", &ui, Body::Empty, 200, page);
    for id in [&listener, &form_listener] {
        c.call(
            "GET",
            "/listeners/{id}",
            &[id],
            "",
            &ui,
            Body::Empty,
            200,
            page,
        );
    }
    c.call(
        "POST",
        "/listeners/{id}/check",
        &[&form_listener],
        "",
        &ui,
        Body::Empty,
        303,
        &[],
    );

    // Notifications: the webhook with its signing secret, subscriptions, a test message.
    let r = c.call(
        "PUT",
        "/v1/notifications/channels/webhook",
        &[],
        "",
        &key,
        Body::Json(json!({"url": "http://127.0.0.1:9/hook"})),
        200,
        &["webhook signing secret"],
    );
    canaries.add("webhook signing secret", &r.str("/secret"));
    let r = c.call(
        "PUT",
        "/v1/notifications/channels/webhook",
        &[],
        "",
        &user_auth,
        Body::Json(json!({"url": "http://127.0.0.1:9/other", "newSecret": true})),
        200,
        &["second webhook signing secret"],
    );
    canaries.add("second webhook signing secret", &r.str("/secret"));
    c.call(
        "PUT",
        "/v1/notifications/channels/webhook",
        &[],
        "",
        &key,
        Body::Json(json!({"url": WRONG_TOKEN})),
        400,
        &[],
    );
    c.call(
        "GET",
        "/v1/notifications/channels",
        &[],
        "",
        &key,
        Body::Empty,
        200,
        &[],
    );
    c.call(
        "GET",
        "/v1/notifications/topics",
        &[],
        "",
        &key,
        Body::Empty,
        200,
        &[],
    );
    let r = c.call(
        "POST",
        "/v1/notifications/subscriptions",
        &[],
        "",
        &key,
        Body::Json(json!({"user": "alice", "topic": "connection.offline",
                          "channel": "webhook"})),
        201,
        &[],
    );
    let subscription = r.str("/id");
    c.call(
        "POST",
        "/v1/notifications/subscriptions",
        &[],
        "",
        &key,
        Body::Json(json!({"user": "alice", "topic": WRONG_TOKEN, "channel": "webhook"})),
        400,
        &[],
    );
    c.call(
        "GET",
        "/v1/notifications/subscriptions",
        &[],
        "",
        &key,
        Body::Empty,
        200,
        &[],
    );
    c.call(
        "POST",
        "/v1/notifications/test",
        &[],
        "",
        &key,
        Body::Json(json!({"user": "alice", "channel": "webhook"})),
        201,
        &[],
    );
    c.call(
        "GET",
        "/v1/notifications",
        &[],
        "",
        &key,
        Body::Empty,
        200,
        &[],
    );
    c.call(
        "DELETE",
        "/v1/notifications/subscriptions/{id}",
        &[&subscription],
        "?user=alice",
        &key,
        Body::Empty,
        204,
        &[],
    );
    c.call(
        "DELETE",
        "/v1/notifications/subscriptions/{id}",
        &[unknown],
        "?user=alice",
        &key,
        Body::Empty,
        404,
        &[],
    );
    c.call(
        "GET",
        "/notifications",
        &[],
        "",
        &ui,
        Body::Empty,
        200,
        page,
    );
    let r = c.call(
        "POST",
        "/notifications/webhook",
        &[],
        "",
        &ui,
        form(&[("url", "http://127.0.0.1:9/form"), ("new_secret", "1")]),
        200,
        &["alice's CSRF token", "form webhook signing secret"],
    );
    let form_signing = element_text(&r.body, "webhook-secret");
    canaries.add("form webhook signing secret", &form_signing);
    c.call(
        "POST",
        "/notifications/subscriptions",
        &[],
        "",
        &ui,
        form(&[("topic", "run.failed"), ("channel", "webhook")]),
        303,
        &[],
    );
    let subs = c.call(
        "GET",
        "/v1/notifications/subscriptions",
        &[],
        "?user=alice",
        &key,
        Body::Empty,
        200,
        &[],
    );
    let form_subscription = subs.str("/0/id");
    c.call(
        "POST",
        "/notifications/test",
        &[],
        "",
        &ui,
        form(&[("channel", "webhook")]),
        303,
        &[],
    );
    c.call(
        "GET",
        "/notifications",
        &[],
        "",
        &ui,
        Body::Empty,
        200,
        page,
    );
    c.call(
        "POST",
        "/notifications/subscriptions/{id}/delete",
        &[&form_subscription],
        "",
        &ui,
        Body::Empty,
        303,
        &[],
    );

    // The audit log and the debug log, after all that; then everything while it is stored.
    for id in [&jira, &wrong, &cloud, &formed] {
        c.call(
            "GET",
            "/v1/connections/{id}/audit",
            &[id],
            "",
            &key,
            Body::Empty,
            200,
            &[],
        );
    }
    c.call(
        "DELETE",
        "/v1/connections/{id}/debug",
        &[&wrong],
        "",
        &key,
        Body::Empty,
        200,
        &[],
    );
    c.call(
        "DELETE",
        "/v1/connections/{id}/debug-log",
        &[&wrong],
        "",
        &key,
        Body::Empty,
        200,
        &[],
    );
    c.call("GET", "/metrics", &[], "", &key, Body::Empty, 200, &[]);
    let mut found = Vec::new();
    let mut files = search_store(
        &canaries,
        &env,
        schema,
        ("alice", 8),
        "while stored",
        &mut found,
    );

    // Everything goes again.
    c.call(
        "DELETE",
        "/v1/notifications/channels/webhook",
        &[],
        "",
        &key,
        Body::Empty,
        204,
        &[],
    );
    c.call(
        "DELETE",
        "/v1/notifications/channels/webhook",
        &[],
        "",
        &key,
        Body::Empty,
        409,
        &[],
    );
    let r = c.call(
        "POST",
        "/notifications/webhook",
        &[],
        "",
        &ui,
        form(&[("url", "http://127.0.0.1:9/again")]),
        200,
        &["alice's CSRF token", "third webhook signing secret"],
    );
    canaries.add(
        "third webhook signing secret",
        &element_text(&r.body, "webhook-secret"),
    );
    c.call(
        "POST",
        "/notifications/webhook/delete",
        &[],
        "",
        &ui,
        Body::Empty,
        303,
        &[],
    );
    for id in [&listener, &form_listener] {
        c.call(
            "GET",
            "/listeners/{id}/delete",
            &[id],
            "",
            &ui,
            Body::Empty,
            200,
            page,
        );
    }
    c.call(
        "DELETE",
        "/v1/flows/{id}",
        &[&flow],
        "",
        &key,
        Body::Empty,
        409,
        &[],
    );
    c.call(
        "DELETE",
        "/v1/listeners/{id}",
        &[&listener],
        "",
        &key,
        Body::Empty,
        204,
        &[],
    );
    c.call(
        "POST",
        "/listeners/{id}/delete",
        &[&form_listener],
        "",
        &ui,
        Body::Empty,
        303,
        &[],
    );
    c.call(
        "GET",
        "/flows/{id}/delete",
        &[&form_flow],
        "",
        &ui,
        Body::Empty,
        200,
        page,
    );
    c.call(
        "POST",
        "/flows/{id}/delete",
        &[&form_flow],
        "",
        &ui,
        Body::Empty,
        303,
        &[],
    );
    c.call(
        "DELETE",
        "/v1/flows/{id}",
        &[&flow],
        "",
        &key,
        Body::Empty,
        204,
        &[],
    );
    c.call(
        "DELETE",
        "/v1/imports/{id}",
        &[&import],
        "",
        &key,
        Body::Empty,
        204,
        &[],
    );
    c.call(
        "GET",
        "/imports/{id}/delete",
        &[&form_import],
        "",
        &ui,
        Body::Empty,
        200,
        page,
    );
    c.call(
        "POST",
        "/imports/{id}/delete",
        &[&form_import],
        "",
        &ui,
        Body::Empty,
        303,
        &[],
    );
    c.call(
        "DELETE",
        "/v1/exports/{id}",
        &[&export],
        "",
        &key,
        Body::Empty,
        204,
        &[],
    );
    c.call(
        "GET",
        "/exports/{id}/delete",
        &[&form_export],
        "",
        &ui,
        Body::Empty,
        200,
        page,
    );
    c.call(
        "POST",
        "/exports/{id}/delete",
        &[&form_export],
        "",
        &ui,
        Body::Empty,
        303,
        &[],
    );
    c.call(
        "DELETE",
        "/v1/connections/{id}",
        &[&cloud],
        "",
        &key,
        Body::Empty,
        204,
        &[],
    );
    c.call(
        "DELETE",
        "/v1/connections/{id}",
        &[&cloud],
        "",
        &key,
        Body::Empty,
        404,
        &[],
    );
    for id in [&sim_client, &planted, &dialog] {
        c.call(
            "DELETE",
            "/v1/oauth-clients/{id}",
            &[id],
            "",
            &key,
            Body::Empty,
            204,
            &[],
        );
    }
    for id in [&jira, &wrong] {
        c.call(
            "DELETE",
            "/v1/connections/{id}",
            &[id],
            "",
            &key,
            Body::Empty,
            204,
            &[],
        );
    }
    c.call(
        "GET",
        "/connections/{id}/delete",
        &[&formed],
        "",
        &ui,
        Body::Empty,
        200,
        page,
    );
    c.call(
        "POST",
        "/connections/{id}/delete",
        &[&formed],
        "",
        &ui,
        Body::Empty,
        303,
        &[],
    );
    let acme = c
        .call(
            "GET",
            "/v1/connections/{id}",
            &["Acme"],
            "",
            &key,
            Body::Empty,
            200,
            &[],
        )
        .str("/id");
    c.call(
        "DELETE",
        "/v1/connections/{id}",
        &[&acme],
        "",
        &key,
        Body::Empty,
        204,
        &[],
    );
    // Alice's key, revoked; bob, deleted.
    let key_id = users
        .body
        .split("/settings/api-keys/")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .unwrap_or(MISSING)
        .to_owned();
    c.call(
        "POST",
        "/settings/api-keys/{id}/revoke",
        &[&key_id],
        "",
        &ui,
        Body::Empty,
        303,
        &[],
    );
    c.call(
        "GET",
        "/v1/connections",
        &[],
        "",
        &user_auth,
        Body::Empty,
        401,
        &[],
    );
    let bob = users
        .body
        .split("data-username=\"bob\"")
        .nth(1)
        .and_then(|row| row.split("/settings/users/").nth(1))
        .and_then(|rest| rest.split('/').next())
        .unwrap_or(MISSING)
        .to_owned();
    c.call(
        "POST",
        "/settings/users/{id}/delete",
        &[&bob],
        "",
        &ui,
        Body::Empty,
        303,
        &[],
    );
    c.call("GET", "/connections", &[], "", &ui, Body::Empty, 200, page);
    c.call("POST", "/logout", &[], "", &ui, Body::Empty, 303, &[]);
    c.call("GET", "/connections", &[], "", &ui, Body::Empty, 303, &[]);
    let (stdout, stderr) = server.stop();
    files += search_store(
        &canaries,
        &env,
        schema,
        ("alice", 0),
        "after deletion",
        &mut found,
    );

    // Every call answered as expected.
    assert!(
        c.unexpected.is_empty(),
        "{} answers were not as expected:\n\n{}",
        c.unexpected.len(),
        c.unexpected.join("\n\n")
    );
    // Every route of the table was called on its success path: a guarded route with its
    // credentials (a page without them answers 303 to the sign-in page, which is no success).
    let routes = jiralink_web::route_list();
    let guarded: BTreeSet<(String, String)> = routes
        .iter()
        .filter(|(_, _, guard)| *guard != "public")
        .map(|(m, p, _)| (m.clone(), p.clone()))
        .collect();
    let succeeded: BTreeSet<(String, String)> = c
        .calls
        .iter()
        .filter(|call| call.expect < 400)
        .map(|call| (call.method.clone(), call.route.clone()))
        .filter(|key| {
            !guarded.contains(key)
                || c.calls.iter().any(|call| {
                    call.credentials
                        && call.expect < 400
                        && (call.method.as_str(), call.route.as_str())
                            == (key.0.as_str(), key.1.as_str())
                })
        })
        .collect();
    let missing: Vec<String> = routes
        .iter()
        .filter(|(method, path, _)| !succeeded.contains(&(method.clone(), path.clone())))
        .map(|(method, path, guard)| format!("{method} {path} ({guard})"))
        .collect();
    assert!(
        missing.is_empty(),
        "routes the canary does not call on their success path: {missing:#?}"
    );
    let known: BTreeSet<(String, String)> = routes
        .iter()
        .map(|(m, p, _)| (m.clone(), p.clone()))
        .collect();
    let strays: BTreeSet<String> = c
        .calls
        .iter()
        .filter(|call| !known.contains(&(call.method.clone(), call.route.clone())))
        .map(|call| format!("{} {}", call.method, call.route))
        .collect();
    assert!(
        strays.is_empty(),
        "calls of routes not in the table: {strays:?}"
    );

    // The logs are at trace, dependencies included, and name what is not secret.
    // Text lines name no target; the messages of the dependencies' own trace lines show
    // they are there. JSON lines name the target.
    let needles: &[&str] = if json_logs {
        &[
            "\"level\":\"TRACE\"",
            "\"target\":\"sqlx::query\"",
            "\"target\":\"hyper_util::client",
            "\"target\":\"reqwest::",
            "\"target\":\"jiralink_app",
        ]
    } else {
        &[
            " TRACE ",
            // sqlx
            "db.statement=",
            // hyper_util's connection pool
            " TRACE take? (",
            // reqwest's retries
            " TRACE shouldn't retry!",
        ]
    };
    for needle in needles {
        assert!(stderr.contains(needle), "no {needle} in the server's log");
    }
    // The search finds what is there: names are logged.
    for visible in ["username=alice", "demo-mkt"] {
        let visible = if json_logs {
            visible.replace("username=alice", "\"username\":\"alice\"")
        } else {
            visible.to_owned()
        };
        assert!(
            stderr.contains(&visible),
            "no {visible} in the server's log"
        );
    }
    found.extend(canaries.found_in("the server's stdout", &stdout, &[]));
    found.extend(canaries.found_in("the server's log", &stderr, &[]));
    // Each secret an answer may hand over is found in one that does: the search sees it.
    let mut handed: BTreeMap<&str, bool> = BTreeMap::new();
    for call in &c.calls {
        let what = format!("the answer to {}", call.what);
        for label in &call.shows {
            let seen = canaries
                .found_in(&what, &call.answer, &[])
                .iter()
                .any(|f| f.contains(&format!(" the {label} (")));
            *handed.entry(label).or_default() |= seen;
        }
        found.extend(canaries.found_in(&what, &call.answer, &call.shows));
    }
    let unseen: Vec<&str> = handed
        .iter()
        .filter(|(_, seen)| !**seen)
        .map(|(label, _)| *label)
        .collect();
    assert!(
        unseen.is_empty(),
        "secrets no answer handed over as expected: {unseen:?}"
    );
    found.dedup();
    assert!(
        found.is_empty(),
        "{} secrets found:\n{}",
        found.len(),
        found.join("\n")
    );
    assert!(canaries.len() >= 30, "{} secrets", canaries.len());
    Figures {
        routes: routes.len(),
        calls: c.calls.len(),
        answer_bytes: c.calls.iter().map(|call| call.answer.len()).sum(),
        log_bytes: stdout.len() + stderr.len(),
        files,
    }
}

/// Follows the authorization URL `url` at the simulator, which approves at once, and brings
/// the planted `code` back to the server's callback as the browser of `auth` would; returns
/// the `state`.
fn authorize(c: &mut Client, url: &str, auth: &Auth, expect: u16, code: &str) -> String {
    let state = url::Url::parse(url)
        .ok()
        .and_then(|u| {
            u.query_pairs()
                .find(|(k, _)| k == "state")
                .map(|(_, v)| v.into_owned())
        })
        .unwrap_or_else(|| MISSING.to_owned());
    let (status, back) = c.get_sim(url);
    if status != 302 || !back.starts_with(&c.base) || !back.contains(code) {
        c.unexpected.push(format!(
            "the simulator did not send the planted code back: {status} {back}"
        ));
        return state;
    }
    let query = &back[back.find('?').unwrap_or(back.len())..];
    c.call(
        "GET",
        "/connection/oauth2callback",
        &[],
        query,
        auth,
        Body::Empty,
        expect,
        &[],
    );
    state
}
