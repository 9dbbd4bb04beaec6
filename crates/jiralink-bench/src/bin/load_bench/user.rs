//! The users: made by the administrator through the users page, each signing in once and
//! then going round a mix of pages and API calls until the run ends.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::http::{HeaderValue, Method};
use serde_json::{Value, json};

use jiralink_bench::BoxError;

use crate::client::{Answer, Auth, Body, Conn, form, input_value};
use crate::stats::{Outcome, Tally};

/// What every user shares: where the run stands and the simulator's sample account.
pub(crate) struct Ctx {
    /// Latencies count from here on (the end of the warm-up).
    pub(crate) measure_from: Instant,
    /// Users stop starting requests from here on.
    pub(crate) end: Instant,
    pub(crate) sim_email: String,
    pub(crate) sim_token: String,
    /// Mean pause between a user's requests (0: none).
    pub(crate) think: Duration,
}

/// Everything a user made before the run and what it holds during it.
pub(crate) struct User {
    pub(crate) index: usize,
    pub(crate) name: String,
    conn: Conn,
    key: HeaderValue,
    session: Option<HeaderValue>,
    csrf: String,
    /// The connection and export every user has from the start; never deleted.
    base_connection: String,
    export: String,
    rng: u64,
    /// Connections made through `/v1`: id, version, edits so far.
    api_connections: Vec<(String, u64, u32)>,
    /// An OAuth 2.0 client made through `/v1`: id and version.
    api_client: Option<(String, u64)>,
    /// A connection made through the form, by name.
    ui_connection: Option<String>,
    /// An OAuth 2.0 client made through the dialog: id and version.
    ui_client: Option<(String, u64)>,
    made: u64,
    last_run: Option<String>,
}

/// Sends one request, records it under `route` and answers it when its status is one of
/// `expect`.
#[expect(clippy::too_many_arguments, reason = "one request, said in full")]
pub(crate) async fn call(
    conn: &mut Conn,
    tally: &mut Tally,
    measure_from: Instant,
    route: &'static str,
    method: Method,
    path: &str,
    auth: Auth<'_>,
    csrf: Option<&str>,
    body: Body,
    expect: &[u16],
) -> Option<Answer> {
    let sent = Instant::now();
    let result = conn.send(method, path, auth, csrf, body).await;
    let done = Instant::now();
    let latency = (sent >= measure_from)
        .then(|| u32::try_from(done.duration_since(sent).as_micros()).unwrap_or(u32::MAX));
    match result {
        Err(e) => {
            tally.record(route, Outcome::Transport, None, || format!("{path}: {e}"));
            // Do not spin on a server that refuses connections.
            tokio::time::sleep(Duration::from_millis(10)).await;
            None
        }
        Ok(answer) => {
            tally.add_bytes(route, answer.body.len());
            let code = answer.status.as_u16();
            let outcome = if answer.status.is_server_error() {
                Outcome::ServerError
            } else if !expect.contains(&code) {
                Outcome::Unexpected
            } else if answer.status.is_client_error() {
                Outcome::Expected4xx
            } else {
                Outcome::Ok
            };
            tally.record(route, outcome, latency, || {
                let text = answer.text();
                let cut: String = text.chars().take(300).collect();
                format!("{path}: {} {cut}", answer.status)
            });
            matches!(outcome, Outcome::Ok | Outcome::Expected4xx).then_some(answer)
        }
    }
}

/// The simulator's Basic connection body of `name` (a replace when `version` is given).
fn basic_body(ctx: &Ctx, name: &str, version: Option<u64>) -> String {
    let mut body = json!({
        "name": name, "apiType": "cloud-platform", "subdomain": "demo", "authType": "basic",
        "username": ctx.sim_email, "apiToken": ctx.sim_token,
    });
    if let Some(v) = version {
        body["version"] = json!(v);
    }
    body.to_string()
}

fn id_and_version(answer: &Answer) -> Option<(String, u64)> {
    let v = answer.json().ok()?;
    Some((v["id"].as_str()?.to_owned(), v["version"].as_u64()?))
}

/// The administrator's session on one server, to make users and their keys.
pub(crate) struct Admin {
    conn: Conn,
    cookie: HeaderValue,
    csrf: String,
}

/// Signs in through the sign-in form; answers the session cookie.
async fn sign_in(
    conn: &mut Conn,
    tally: &mut Tally,
    username: &str,
    password: &str,
) -> Result<HeaderValue, BoxError> {
    let now = Instant::now();
    let page = call(
        conn,
        tally,
        now,
        "GET /login",
        Method::GET,
        "/login",
        Auth::None,
        None,
        Body::Empty,
        &[200],
    )
    .await
    .ok_or("GET /login failed")?;
    let login = page
        .cookie("jiralink_login")
        .ok_or("no sign-in cookie")?
        .to_owned();
    let text = page.text();
    let csrf = input_value(&text, "_csrf").ok_or("no _csrf on /login")?;
    let cookie = HeaderValue::from_str(&format!("jiralink_login={login}"))?;
    let answer = call(
        conn,
        tally,
        now,
        "POST /login",
        Method::POST,
        "/login",
        Auth::Cookie(&cookie),
        None,
        Body::Form(form(&[
            ("_csrf", csrf),
            ("username", username),
            ("password", password),
        ])),
        &[303],
    )
    .await
    .ok_or_else(|| format!("{username} could not sign in"))?;
    let session = answer
        .cookie("jiralink_session")
        .ok_or("no session cookie")?;
    let mut value = HeaderValue::from_str(&format!("jiralink_session={session}"))?;
    value.set_sensitive(true);
    Ok(value)
}

/// The CSRF token of a signed-in page.
async fn page_csrf(
    conn: &mut Conn,
    tally: &mut Tally,
    cookie: &HeaderValue,
    path: &str,
    route: &'static str,
) -> Result<String, BoxError> {
    let page = call(
        conn,
        tally,
        Instant::now(),
        route,
        Method::GET,
        path,
        Auth::Cookie(cookie),
        None,
        Body::Empty,
        &[200],
    )
    .await
    .ok_or_else(|| format!("GET {path} failed"))?;
    Ok(input_value(&page.text(), "_csrf")
        .ok_or_else(|| format!("no _csrf on {path}"))?
        .to_owned())
}

impl Admin {
    pub(crate) async fn sign_in(addr: SocketAddr, password: &str) -> Result<Self, BoxError> {
        let mut conn = Conn::new(addr)?;
        let mut tally = Tally::default();
        let cookie = sign_in(&mut conn, &mut tally, "admin", password).await?;
        let csrf = page_csrf(
            &mut conn,
            &mut tally,
            &cookie,
            "/settings/users",
            "GET /settings/users",
        )
        .await?;
        Ok(Self { conn, cookie, csrf })
    }

    /// Adds the user `name` and answers a new API key of theirs, from the page that shows it
    /// once.
    pub(crate) async fn add_user(
        &mut self,
        name: &str,
        password: &str,
    ) -> Result<String, BoxError> {
        let mut tally = Tally::default();
        let now = Instant::now();
        call(
            &mut self.conn,
            &mut tally,
            now,
            "POST /settings/users",
            Method::POST,
            "/settings/users",
            Auth::Cookie(&self.cookie),
            None,
            Body::Form(form(&[
                ("_csrf", &self.csrf),
                ("username", name),
                ("password", password),
            ])),
            &[303],
        )
        .await
        .ok_or_else(|| failure(&tally, "adding a user"))?;
        let page = call(
            &mut self.conn,
            &mut tally,
            now,
            "POST /settings/api-keys",
            Method::POST,
            "/settings/api-keys",
            Auth::Cookie(&self.cookie),
            None,
            Body::Form(form(&[
                ("_csrf", &self.csrf),
                ("user", name),
                ("name", "load"),
            ])),
            &[200],
        )
        .await
        .ok_or_else(|| failure(&tally, "creating an API key"))?;
        let text = page.text();
        let marker = "id=\"new-api-key\">";
        let at = text.find(marker).ok_or("the new key is not on the page")? + marker.len();
        let len = text[at..].find('<').ok_or("the new key is not closed")?;
        Ok(text[at..at + len].to_owned())
    }
}

fn failure(tally: &Tally, what: &str) -> BoxError {
    let first = tally
        .routes
        .values()
        .find_map(|t| t.first_failure.clone())
        .unwrap_or_default();
    format!("{what} failed: {first}").into()
}

impl User {
    /// Makes the user's connection to the simulator's `demo` site and an export of ten of
    /// its issues through `/v1` with the user's key.
    pub(crate) async fn prepare(
        index: usize,
        name: String,
        key: &str,
        addr: SocketAddr,
        ctx: &Ctx,
    ) -> Result<Self, BoxError> {
        let mut key = HeaderValue::from_str(&format!("Bearer {key}"))?;
        key.set_sensitive(true);
        let mut conn = Conn::new(addr)?;
        let mut tally = Tally::default();
        let now = Instant::now();
        let base = call(
            &mut conn,
            &mut tally,
            now,
            "POST /v1/connections",
            Method::POST,
            "/v1/connections",
            Auth::Bearer(&key),
            None,
            Body::Json(basic_body(ctx, &format!("{name}-base"), None)),
            &[201],
        )
        .await
        .and_then(|a| id_and_version(&a))
        .ok_or_else(|| failure(&tally, "creating the base connection"))?;
        let export = json!({
            "name": format!("{name}-export"), "connection": base.0,
            "spec": {"resource": "issues", "jql": "project = DEMO",
                     "kind": {"type": "test", "limit": 10}},
        });
        let export = call(
            &mut conn,
            &mut tally,
            now,
            "POST /v1/exports",
            Method::POST,
            "/v1/exports",
            Auth::Bearer(&key),
            None,
            Body::Json(export.to_string()),
            &[201],
        )
        .await
        .and_then(|a| a.json().ok())
        .and_then(|v| v["id"].as_str().map(str::to_owned))
        .ok_or_else(|| failure(&tally, "creating the export"))?;
        Ok(Self {
            index,
            name,
            conn,
            key,
            session: None,
            csrf: String::new(),
            base_connection: base.0,
            export,
            rng: 0x9E37_79B9_7F4A_7C15 ^ (index as u64 + 1),
            api_connections: Vec::new(),
            api_client: None,
            ui_connection: None,
            ui_client: None,
            made: 0,
            last_run: None,
        })
    }

    /// Signs in once through the form and reads the session's CSRF token from the first page.
    pub(crate) async fn sign_in(
        &mut self,
        password: &str,
        tally: &mut Tally,
    ) -> Result<(), BoxError> {
        let cookie = sign_in(&mut self.conn, tally, &self.name, password).await?;
        self.csrf = page_csrf(
            &mut self.conn,
            tally,
            &cookie,
            "/connections",
            "GET /connections",
        )
        .await?;
        self.session = Some(cookie);
        Ok(())
    }

    /// splitmix64: each user's own repeatable sequence of choices.
    fn next(&mut self) -> u64 {
        self.rng = self.rng.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn unique(&mut self, what: &str) -> String {
        self.made += 1;
        format!("{}-{what}-{}", self.name, self.made)
    }

    /// Goes round the mix until `ctx.end`; answers what it saw.
    pub(crate) async fn run(mut self, ctx: Arc<Ctx>, mut tally: Tally) -> Tally {
        let total: u32 = MIX.iter().map(|(w, _)| w).sum();
        while Instant::now() < ctx.end {
            let mut pick = u32::try_from(self.next() % u64::from(total)).unwrap_or(0);
            let step = MIX
                .iter()
                .find(|(w, _)| {
                    if pick < *w {
                        true
                    } else {
                        pick -= w;
                        false
                    }
                })
                .map_or(Step::ConnectionsPage, |(_, s)| *s);
            self.step(step, &ctx, &mut tally).await;
            if !ctx.think.is_zero() {
                let ms = u64::try_from(ctx.think.as_millis()).unwrap_or(u64::MAX);
                let pause = self.next() % (2 * ms + 1);
                tokio::time::sleep(Duration::from_millis(pause)).await;
            }
        }
        tally
    }

    #[expect(clippy::too_many_lines, reason = "the mix, one arm per step")]
    async fn step(&mut self, step: Step, ctx: &Ctx, tally: &mut Tally) {
        let Some(session) = self.session.clone() else {
            return;
        };
        let m = ctx.measure_from;
        let ui = Auth::Cookie(&session);
        let key = self.key.clone();
        let api = Auth::Bearer(&key);
        let base = self.base_connection.clone();
        let get_page = async |conn: &mut Conn, tally: &mut Tally, route, path: &str| {
            call(
                conn,
                tally,
                m,
                route,
                Method::GET,
                path,
                ui,
                None,
                Body::Empty,
                &[200],
            )
            .await
        };
        match step {
            Step::ConnectionsPage => {
                get_page(&mut self.conn, tally, "GET /connections", "/connections").await;
            }
            Step::ConnectionPage => {
                let path = format!("/connections/{base}/edit");
                get_page(&mut self.conn, tally, "GET /connections/{id}/edit", &path).await;
            }
            Step::AuditPage => {
                let path = format!("/connections/{base}/audit");
                get_page(&mut self.conn, tally, "GET /connections/{id}/audit", &path).await;
            }
            Step::ExportsPage => {
                get_page(&mut self.conn, tally, "GET /exports", "/exports").await;
            }
            Step::ExportPage => {
                let path = format!("/exports/{}", self.export);
                get_page(&mut self.conn, tally, "GET /exports/{id}", &path).await;
            }
            Step::RunsPage => {
                get_page(&mut self.conn, tally, "GET /runs", "/runs").await;
            }
            Step::FlowsPage => {
                get_page(&mut self.conn, tally, "GET /flows", "/flows").await;
            }
            Step::ListenersPage => {
                get_page(&mut self.conn, tally, "GET /listeners", "/listeners").await;
            }
            Step::NotificationsPage => {
                get_page(
                    &mut self.conn,
                    tally,
                    "GET /notifications",
                    "/notifications",
                )
                .await;
            }
            Step::FormConnection => {
                if let Some(name) = self.ui_connection.take() {
                    call(
                        &mut self.conn,
                        tally,
                        m,
                        "POST /connections/{id}/delete",
                        Method::POST,
                        &format!("/connections/{}/delete", crate::client::encode(&name)),
                        ui,
                        None,
                        Body::Form(form(&[("_csrf", &self.csrf)])),
                        &[303],
                    )
                    .await;
                } else {
                    let name = format!("{}-form-{}", self.name, self.made + 1);
                    self.made += 1;
                    let body = form(&[
                        ("_csrf", &self.csrf),
                        ("name", &name),
                        ("api_type", "cloud-platform"),
                        ("subdomain", "demo"),
                        ("auth_type", "basic"),
                        ("username", &ctx.sim_email),
                        ("api_token", &ctx.sim_token),
                        ("action", "save"),
                    ]);
                    let answer = call(
                        &mut self.conn,
                        tally,
                        m,
                        "POST /connections",
                        Method::POST,
                        "/connections",
                        ui,
                        None,
                        Body::Form(body),
                        &[303],
                    )
                    .await;
                    if answer.is_some() {
                        self.ui_connection = Some(name);
                    }
                }
            }
            Step::FormInvalid => {
                // No name and a subdomain that cannot be one: the form again, with problems.
                let body = form(&[
                    ("_csrf", &self.csrf),
                    ("name", ""),
                    ("api_type", "cloud-platform"),
                    ("subdomain", "not a subdomain!"),
                    ("auth_type", "basic"),
                    ("username", &ctx.sim_email),
                    ("api_token", &ctx.sim_token),
                    ("action", "save"),
                ]);
                call(
                    &mut self.conn,
                    tally,
                    m,
                    "POST /connections",
                    Method::POST,
                    "/connections",
                    ui,
                    None,
                    Body::Form(body),
                    &[422],
                )
                .await;
            }
            Step::FormTest => {
                let path = format!("/connections/{base}/test");
                call(
                    &mut self.conn,
                    tally,
                    m,
                    "POST /connections/{id}/test",
                    Method::POST,
                    &path,
                    ui,
                    None,
                    Body::Form(form(&[("_csrf", &self.csrf)])),
                    &[303],
                )
                .await;
            }
            Step::DialogClient => {
                let secret = format!("load-secret-{}-{}", self.index, self.made);
                if let Some((id, version)) = self.ui_client.take() {
                    let body = form(&[
                        ("_csrf", &self.csrf),
                        ("name", &format!("{}-dialog", self.name)),
                        ("client_id", &format!("load-client-{}-b", self.index)),
                        ("client_secret", &secret),
                        ("version", &version.to_string()),
                    ]);
                    let answer = call(
                        &mut self.conn,
                        tally,
                        m,
                        "POST /oauth-clients/{id}",
                        Method::POST,
                        &format!("/oauth-clients/{id}"),
                        ui,
                        None,
                        Body::Form(body),
                        &[200],
                    )
                    .await;
                    // Edited once, then left: a dialog client is kept like most are.
                    if let Some(saved) = answer.as_ref().and_then(id_and_version) {
                        self.ui_client = Some(saved);
                    }
                } else if self.made.is_multiple_of(3) {
                    let name = self.unique("dialog");
                    let body = form(&[
                        ("_csrf", &self.csrf),
                        ("name", &name),
                        ("client_id", &format!("load-client-{}-a", self.index)),
                        ("client_secret", &secret),
                    ]);
                    let answer = call(
                        &mut self.conn,
                        tally,
                        m,
                        "POST /oauth-clients",
                        Method::POST,
                        "/oauth-clients",
                        ui,
                        None,
                        Body::Form(body),
                        &[200, 201],
                    )
                    .await;
                    self.ui_client = answer.as_ref().and_then(id_and_version);
                } else {
                    // A dialog sent without a client ID: its problems, as JSON.
                    let name = self.unique("dialog");
                    let body = form(&[
                        ("_csrf", &self.csrf),
                        ("name", &name),
                        ("client_secret", &secret),
                    ]);
                    call(
                        &mut self.conn,
                        tally,
                        m,
                        "POST /oauth-clients",
                        Method::POST,
                        "/oauth-clients",
                        ui,
                        None,
                        Body::Form(body),
                        &[422],
                    )
                    .await;
                }
            }
            Step::ApiList => {
                call(
                    &mut self.conn,
                    tally,
                    m,
                    "GET /v1/connections",
                    Method::GET,
                    "/v1/connections",
                    api,
                    None,
                    Body::Empty,
                    &[200],
                )
                .await;
            }
            Step::ApiGet => {
                call(
                    &mut self.conn,
                    tally,
                    m,
                    "GET /v1/connections/{id}",
                    Method::GET,
                    &format!("/v1/connections/{base}"),
                    api,
                    None,
                    Body::Empty,
                    &[200],
                )
                .await;
            }
            Step::ApiConnection => {
                let at = self.next() as usize;
                if self.api_connections.is_empty() {
                    let name = self.unique("api");
                    let answer = call(
                        &mut self.conn,
                        tally,
                        m,
                        "POST /v1/connections",
                        Method::POST,
                        "/v1/connections",
                        api,
                        None,
                        Body::Json(basic_body(ctx, &name, None)),
                        &[201],
                    )
                    .await;
                    if let Some((id, version)) = answer.as_ref().and_then(id_and_version) {
                        self.api_connections.push((id, version, 0));
                    }
                } else {
                    let i = at % self.api_connections.len();
                    let (id, version, edits) = self.api_connections[i].clone();
                    if edits < 2 {
                        let name = self.unique("api");
                        let answer = call(
                            &mut self.conn,
                            tally,
                            m,
                            "PUT /v1/connections/{id}",
                            Method::PUT,
                            &format!("/v1/connections/{id}"),
                            api,
                            None,
                            Body::Json(basic_body(ctx, &name, Some(version))),
                            &[200],
                        )
                        .await;
                        match answer.as_ref().and_then(id_and_version) {
                            Some((_, v)) => self.api_connections[i] = (id, v, edits + 1),
                            None => {
                                self.api_connections.remove(i);
                            }
                        }
                    } else {
                        self.api_connections.remove(i);
                        call(
                            &mut self.conn,
                            tally,
                            m,
                            "DELETE /v1/connections/{id}",
                            Method::DELETE,
                            &format!("/v1/connections/{id}"),
                            api,
                            None,
                            Body::Empty,
                            &[204],
                        )
                        .await;
                    }
                }
            }
            Step::ApiClient => {
                let secret = format!("load-secret-{}-{}", self.index, self.made);
                match self.api_client.take() {
                    None => {
                        let body = json!({
                            "name": self.unique("client"),
                            "clientId": format!("load-api-client-{}", self.index),
                            "clientSecret": secret,
                        });
                        let answer = call(
                            &mut self.conn,
                            tally,
                            m,
                            "POST /v1/oauth-clients",
                            Method::POST,
                            "/v1/oauth-clients",
                            api,
                            None,
                            Body::Json(body.to_string()),
                            &[201],
                        )
                        .await;
                        self.api_client = answer.as_ref().and_then(id_and_version);
                    }
                    Some((id, version)) if version < 3 => {
                        let body = json!({
                            "name": self.unique("client"),
                            "clientId": format!("load-api-client-{}", self.index),
                            "clientSecret": secret, "version": version,
                        });
                        let answer = call(
                            &mut self.conn,
                            tally,
                            m,
                            "PUT /v1/oauth-clients/{id}",
                            Method::PUT,
                            &format!("/v1/oauth-clients/{id}"),
                            api,
                            None,
                            Body::Json(body.to_string()),
                            &[200],
                        )
                        .await;
                        self.api_client = answer.as_ref().and_then(id_and_version);
                    }
                    Some((id, _)) => {
                        call(
                            &mut self.conn,
                            tally,
                            m,
                            "DELETE /v1/oauth-clients/{id}",
                            Method::DELETE,
                            &format!("/v1/oauth-clients/{id}"),
                            api,
                            None,
                            Body::Empty,
                            &[204],
                        )
                        .await;
                    }
                }
            }
            Step::ApiInvalid => {
                // A replace without the version it was made from, or a subdomain that cannot
                // be one: 400 validation_failed, nothing changed.
                let (route, method, path, body) = if self.next().is_multiple_of(2) {
                    (
                        "PUT /v1/connections/{id}",
                        Method::PUT,
                        format!("/v1/connections/{base}"),
                        basic_body(ctx, &format!("{}-base", self.name), None),
                    )
                } else {
                    let mut body: Value =
                        serde_json::from_str(&basic_body(ctx, "x", None)).unwrap_or_default();
                    body["subdomain"] = json!("not a subdomain!");
                    (
                        "POST /v1/connections",
                        Method::POST,
                        "/v1/connections".to_owned(),
                        body.to_string(),
                    )
                };
                call(
                    &mut self.conn,
                    tally,
                    m,
                    route,
                    method,
                    &path,
                    api,
                    None,
                    Body::Json(body),
                    &[400],
                )
                .await;
            }
            Step::ApiTest => {
                let answer = call(
                    &mut self.conn,
                    tally,
                    m,
                    "POST /v1/connections/{id}/test",
                    Method::POST,
                    &format!("/v1/connections/{base}/test"),
                    api,
                    None,
                    Body::Empty,
                    &[200],
                )
                .await;
                // The simulator knows the sample account: any other result is a wrong answer.
                if let Some(a) = answer {
                    let result = a.json().ok().map(|v| v["result"].clone());
                    if result != Some(json!("passed")) {
                        tally.record(
                            "POST /v1/connections/{id}/test",
                            Outcome::Unexpected,
                            None,
                            || format!("the test did not pass: {}", a.text()),
                        );
                    }
                }
            }
            Step::ApiRun => {
                call(
                    &mut self.conn,
                    tally,
                    m,
                    "POST /v1/exports/{id}/run",
                    Method::POST,
                    &format!("/v1/exports/{}/run", self.export),
                    api,
                    None,
                    Body::Empty,
                    &[202],
                )
                .await;
            }
            Step::ApiRuns => {
                if let Some(run) = self.last_run.take() {
                    let answer = call(
                        &mut self.conn,
                        tally,
                        m,
                        "GET /v1/runs/{id}",
                        Method::GET,
                        &format!("/v1/runs/{run}"),
                        api,
                        None,
                        Body::Empty,
                        &[200],
                    )
                    .await;
                    if let Some(a) = answer
                        && let Ok(v) = a.json()
                        && v["state"] == "failed"
                    {
                        tally.record("GET /v1/runs/{id}", Outcome::Unexpected, None, || {
                            format!("the export run failed: {v}")
                        });
                    }
                } else {
                    let answer = call(
                        &mut self.conn,
                        tally,
                        m,
                        "GET /v1/runs",
                        Method::GET,
                        &format!("/v1/runs?export={}&limit=5", self.export),
                        api,
                        None,
                        Body::Empty,
                        &[200],
                    )
                    .await;
                    self.last_run = answer
                        .and_then(|a| a.json().ok())
                        .and_then(|v| v[0]["id"].as_str().map(str::to_owned));
                }
            }
        }
    }
}

/// One kind of request (or pair) a user makes.
#[derive(Debug, Clone, Copy)]
enum Step {
    ConnectionsPage,
    ConnectionPage,
    AuditPage,
    ExportsPage,
    ExportPage,
    RunsPage,
    FlowsPage,
    ListenersPage,
    NotificationsPage,
    /// Create a connection through the form, or delete the one made so.
    FormConnection,
    /// The form with problems: 422.
    FormInvalid,
    /// "Test connection" on the connections page.
    FormTest,
    /// The OAuth 2.0 client dialog: create, edit, or a refused one (422).
    DialogClient,
    ApiList,
    ApiGet,
    /// Create, edit (twice) and delete a connection through `/v1`.
    ApiConnection,
    /// Create, edit (twice) and delete an OAuth 2.0 client through `/v1`.
    ApiClient,
    /// A refused body: 400.
    ApiInvalid,
    /// Test the connection against the simulator.
    ApiTest,
    /// Start an export run.
    ApiRun,
    /// The export's runs, then the newest of them.
    ApiRuns,
}

/// How often each step comes, out of the sum of the weights.
const MIX: [(u32, Step); 21] = [
    (10, Step::ConnectionsPage),
    (5, Step::ConnectionPage),
    (2, Step::AuditPage),
    (4, Step::ExportsPage),
    (2, Step::ExportPage),
    (4, Step::RunsPage),
    (3, Step::FlowsPage),
    (3, Step::ListenersPage),
    (3, Step::NotificationsPage),
    (2, Step::FormConnection),
    (1, Step::FormInvalid),
    (2, Step::FormTest),
    (2, Step::DialogClient),
    (8, Step::ApiList),
    (6, Step::ApiGet),
    (4, Step::ApiConnection),
    (2, Step::ApiClient),
    (2, Step::ApiInvalid),
    (3, Step::ApiTest),
    (1, Step::ApiRun),
    (4, Step::ApiRuns),
];
