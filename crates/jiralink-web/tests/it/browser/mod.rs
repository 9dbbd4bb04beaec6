//! The web UI driven in Chromium through ChromeDriver (WebDriver), against a real server on
//! 127.0.0.1 and the simulator with its consent page. Every step saves a screenshot under
//! `target/screenshots/<flow>/`.
//!
//! Needs Debian's `chromium` and `chromium-driver` (`/usr/bin/chromium`,
//! `/usr/bin/chromedriver`; `CHROMIUM` / `CHROMEDRIVER` override the paths). Without them the
//! tests fail and say how to install them: a browser test that silently passes proves nothing.
//! `JIRALINK_BROWSER_HEADFUL=1` shows the window (needs a display).

mod basic;
mod csm;
mod edit;
mod exports;
mod fields;
mod oauth;
mod sign_in;
mod view;

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use fantoccini::actions::{InputSource as _, KeyAction, KeyActions};
use fantoccini::elements::Element;
use fantoccini::key::Key;
use fantoccini::{Client, ClientBuilder, Locator};
use jiralink_app::{App, SystemClock};
use jiralink_sim::{Sim, SimConfig, SimHandle};
use jiralink_web::{ApiKeyHash, AppState, router};
use serde_json::json;
use tokio::sync::MutexGuard;

/// How long a page may take to show what a step waits for.
const WAIT: Duration = Duration::from_secs(15);
/// How long ChromeDriver may take to start listening.
const DRIVER_START: Duration = Duration::from_secs(30);

/// The signed-in user every flow creates.
pub(crate) const USER: &str = "ada";
pub(crate) const PASSWORD: &str = "correct horse battery staple";
/// The simulator's sample site.
pub(crate) const SUBDOMAIN: &str = "demo";

/// One browser at a time: Chromium is heavy and the machine small.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A running server, simulator and browser for one flow.
pub(crate) struct Browser {
    pub(crate) c: Client,
    pub(crate) base: String,
    pub(crate) sim: SimHandle,
    pub(crate) app: App,
    flow: &'static str,
    shots: AtomicU32,
    shot_dir: PathBuf,
    server: tokio::task::JoinHandle<()>,
    // Dropped in declaration order: the WebDriver session (and Chromium) goes before
    // ChromeDriver, the temporary directories after both.
    driver: Driver,
    _profile: tempfile::TempDir,
    _data: tempfile::TempDir,
    _turn: MutexGuard<'static, ()>,
}

impl Browser {
    /// Starts everything for `flow` (the screenshot folder's name) and signs nobody in.
    pub(crate) async fn start(flow: &'static str) -> Self {
        let turn = ONE_AT_A_TIME.lock().await;
        let chromium = tool("CHROMIUM", "/usr/bin/chromium");
        let chromedriver = tool("CHROMEDRIVER", "/usr/bin/chromedriver");

        // The server's port must be known before the simulator registers its callback URL
        // and before the configuration names the base URL.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let base = format!("http://127.0.0.1:{port}");
        let sim = Sim::start(SimConfig {
            auto_approve: false,
            oauth_callbacks: vec![format!("{base}/connection/oauth2callback")],
            ..SimConfig::for_tests()
        })
        .await
        .unwrap();

        let data = tempfile::tempdir().unwrap();
        std::fs::write(
            data.path().join("jiralink.toml"),
            format!(
                "version = 1\n[server]\nbase_url = \"{base}\"\n[atlassian]\n\
                 site_url_template = \"{}\"\napi_gateway = \"{}\"\nauth_server = \"{}\"\n",
                sim.site_url_template(),
                sim.api_gateway(),
                sim.auth_server()
            ),
        )
        .unwrap();
        // A real clock: the session cookie, the OAuth state and the simulator's redirects all
        // happen in real time inside Chromium.
        let app = App::open(jiralink_app::OpenOptions {
            data_dir: data.path().to_path_buf(),
            config_file: None,
            database: None,
            clock: Arc::new(SystemClock),
            env: Box::new(|_| None),
        })
        .await
        .unwrap()
        .value;
        create_user(&app).await;
        let service = router(AppState::new(app.clone(), ApiKeyHash::of(crate::KEY)));
        let server = tokio::spawn(async move {
            // As `jiralink serve` does: sign-in throttling keys on the client address.
            axum::serve(
                listener,
                service.into_make_service_with_connect_info::<std::net::SocketAddr>(),
            )
            .await
            .unwrap();
        });

        let driver = Driver::spawn(&chromedriver).await;
        let profile = tempfile::tempdir().unwrap();
        let mut args = vec![
            "--no-sandbox".to_owned(),
            "--disable-gpu".to_owned(),
            "--disable-dev-shm-usage".to_owned(),
            "--disable-quic".to_owned(),
            "--no-first-run".to_owned(),
            "--disable-background-networking".to_owned(),
            "--disable-component-update".to_owned(),
            "--disable-sync".to_owned(),
            "--window-size=1440,1000".to_owned(),
            format!("--user-data-dir={}", profile.path().display()),
        ];
        if std::env::var_os("JIRALINK_BROWSER_HEADFUL").is_none_or(|v| v != "1") {
            args.insert(0, "--headless=new".to_owned());
        }
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".to_owned(),
            json!({ "binary": chromium.display().to_string(), "args": args }),
        );
        // WebDriver talks plain HTTP on loopback: no TLS stack needed.
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let c = ClientBuilder::new(connector)
            .capabilities(caps)
            .connect(&driver.url())
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "Chromium did not start through ChromeDriver: {e}\nChromeDriver said:\n{}",
                    driver.output()
                )
            });
        let mut driver = driver;
        driver.session = c.session_id().await.unwrap();

        let shot_dir = target_dir().join("screenshots").join(flow);
        // Screenshots of an earlier run would mix with this one's.
        let _ = std::fs::remove_dir_all(&shot_dir);
        std::fs::create_dir_all(&shot_dir).unwrap();
        Self {
            c,
            base,
            sim,
            app,
            flow,
            shots: AtomicU32::new(0),
            shot_dir,
            server,
            driver,
            _profile: profile,
            _data: data,
            _turn: turn,
        }
    }

    /// Starts a flow and signs in as [`USER`].
    pub(crate) async fn signed_in(flow: &'static str) -> Self {
        let b = Self::start(flow).await;
        b.goto("/login").await;
        b.sign_in(USER, PASSWORD).await;
        b.wait_for("a#new-connection").await;
        b
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Saves a screenshot of the window as `<NN>-<name>.png`.
    pub(crate) async fn shot(&self, name: &str) {
        let n = self.shots.fetch_add(1, Ordering::Relaxed) + 1;
        let png = self.c.screenshot().await.unwrap();
        let path = self.shot_dir.join(format!("{n:02}-{name}.png"));
        std::fs::write(&path, png).unwrap();
        eprintln!("[{}] screenshot {}", self.flow, path.display());
    }

    /// Scrolls `css` to the middle of the window, then saves a screenshot.
    pub(crate) async fn shot_of(&self, css: &str, name: &str) {
        let e = self.wait_for(css).await;
        self.centre(&e).await;
        self.shot(name).await;
    }

    pub(crate) async fn goto(&self, path: &str) {
        self.c.goto(&self.url(path)).await.unwrap();
    }

    /// Fills and sends the sign-in form of the current page, and waits for the next page.
    pub(crate) async fn sign_in(&self, username: &str, password: &str) {
        self.wait_for("form#login-form").await;
        self.fill("input#username", username).await;
        self.fill("input#password", password).await;
        self.click_and_load("button#sign-in").await;
    }

    /// The first element matching `css`, once it exists.
    pub(crate) async fn wait_for(&self, css: &str) -> Element {
        match self
            .c
            .wait()
            .at_most(WAIT)
            .for_element(Locator::Css(css))
            .await
        {
            Ok(e) => e,
            Err(e) => panic!("{css} did not appear on {}: {e}", self.here().await),
        }
    }

    /// Waits until `css` is shown (exists, not `hidden`, laid out).
    pub(crate) async fn wait_visible(&self, css: &str) -> Element {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            if let Ok(e) = self.c.find(Locator::Css(css)).await
                && e.is_displayed().await.unwrap_or(false)
            {
                return e;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{css} was not shown on {}",
                self.here().await
            );
            self.next_frame().await;
        }
    }

    /// Waits until `css` is absent or not shown.
    pub(crate) async fn wait_hidden(&self, css: &str) {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let shown = match self.c.find(Locator::Css(css)).await {
                Ok(e) => e.is_displayed().await.unwrap_or(false),
                Err(_) => false,
            };
            if !shown {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{css} is still shown on {}",
                self.here().await
            );
            self.next_frame().await;
        }
    }

    /// Waits until the text of `css` contains `needle`; returns the whole text.
    pub(crate) async fn wait_text(&self, css: &str, needle: &str) -> String {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let text = match self.c.find(Locator::Css(css)).await {
                Ok(e) => e.text().await.unwrap_or_default(),
                Err(_) => String::new(),
            };
            if text.contains(needle) {
                return text;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{css} never read {needle:?} on {} (last: {text:?})",
                self.here().await
            );
            self.next_frame().await;
        }
    }

    /// Lets the page render once: the browser answers after its next animation frame, so
    /// polling never spins faster than the page can change. A page being replaced may refuse
    /// the script; the caller's deadline still bounds the wait.
    async fn next_frame(&self) {
        let _ = self
            .c
            .execute_async(
                "const done = arguments[arguments.length - 1]; requestAnimationFrame(() => done());",
                vec![],
            )
            .await;
    }

    pub(crate) async fn is_shown(&self, css: &str) -> bool {
        match self.c.find(Locator::Css(css)).await {
            Ok(e) => e.is_displayed().await.unwrap(),
            Err(_) => false,
        }
    }

    pub(crate) async fn text(&self, css: &str) -> String {
        self.wait_for(css).await.text().await.unwrap()
    }

    /// The current value of a form control.
    pub(crate) async fn value(&self, css: &str) -> String {
        self.wait_for(css)
            .await
            .prop("value")
            .await
            .unwrap()
            .unwrap_or_default()
    }

    pub(crate) async fn attr(&self, css: &str, name: &str) -> Option<String> {
        self.wait_for(css).await.attr(name).await.unwrap()
    }

    /// Replaces the value of a text input.
    pub(crate) async fn fill(&self, css: &str, value: &str) {
        let e = self.wait_visible(css).await;
        self.centre(&e).await;
        e.clear().await.unwrap();
        e.send_keys(value).await.unwrap();
    }

    pub(crate) async fn click(&self, css: &str) {
        let e = self.wait_visible(css).await;
        self.centre(&e).await;
        e.click().await.unwrap();
    }

    /// Scrolls `e` to the middle of the window. WebDriver scrolls only as far as the edge,
    /// where the page's sticky header would take the click.
    async fn centre(&self, e: &Element) {
        self.c
            .execute(
                "arguments[0].scrollIntoView({block: 'center', inline: 'nearest'});",
                vec![serde_json::to_value(e).unwrap()],
            )
            .await
            .unwrap();
    }

    pub(crate) async fn select(&self, css: &str, value: &str) {
        let e = self.wait_visible(css).await;
        self.centre(&e).await;
        e.select_by_value(value).await.unwrap();
    }

    /// Clicks `css` and waits until the browser has left the current page and loaded
    /// another.
    pub(crate) async fn click_and_load(&self, css: &str) {
        let marker = self.mark_page().await;
        self.click(css).await;
        self.wait_new_page(&marker).await;
    }

    /// Tags the current document so that [`Self::wait_new_page`] can tell when it is gone.
    pub(crate) async fn mark_page(&self) -> String {
        let marker = "left".to_owned();
        self.c
            .execute(
                "document.documentElement.dataset.testPage = arguments[0];",
                vec![json!(marker)],
            )
            .await
            .unwrap();
        marker
    }

    pub(crate) async fn wait_new_page(&self, marker: &str) {
        let marker = marker.to_owned();
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let r = self
                .c
                .execute(
                    "return document.readyState === 'complete' && \
                     document.documentElement.dataset.testPage !== arguments[0];",
                    vec![json!(marker)],
                )
                .await;
            if matches!(r, Ok(serde_json::Value::Bool(true))) {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "no new page loaded after {}",
                self.here().await
            );
            self.next_frame().await;
        }
    }

    /// The path of the current page, for assertion messages.
    pub(crate) async fn path(&self) -> String {
        let u = self.c.current_url().await.unwrap();
        match u.query() {
            Some(q) => format!("{}?{q}", u.path()),
            None => u.path().to_owned(),
        }
    }

    async fn here(&self) -> String {
        match self.c.current_url().await {
            Ok(u) => u.to_string(),
            Err(e) => format!("(unknown page: {e})"),
        }
    }

    /// Texts of all elements matching `css`.
    pub(crate) async fn texts(&self, css: &str) -> Vec<String> {
        let mut out = Vec::new();
        for e in self.c.find_all(Locator::Css(css)).await.unwrap() {
            out.push(e.text().await.unwrap());
        }
        out
    }

    /// Option values of a `<select>`.
    pub(crate) async fn options(&self, select: &str) -> Vec<String> {
        let mut out = Vec::new();
        for e in self
            .c
            .find_all(Locator::Css(&format!("{select} option")))
            .await
            .unwrap()
        {
            out.push(e.prop("value").await.unwrap().unwrap_or_default());
        }
        out
    }

    /// Ends the browser session; a panic before this still closes it on drop.
    pub(crate) async fn finish(mut self) {
        self.driver.session = None;
        self.c.clone().close().await.unwrap();
        self.server.abort();
    }
}

/// Steps several flows share.
impl Browser {
    /// Moves the keyboard focus to `css`, as Tab would.
    pub(crate) async fn focus(&self, css: &str) {
        self.c
            .execute(
                "document.querySelector(arguments[0]).focus();",
                vec![json!(css)],
            )
            .await
            .unwrap();
        assert_eq!(self.focused().await, css.trim_start_matches(|c| c != '#'));
    }

    /// `#id` of the element that has the keyboard focus.
    pub(crate) async fn focused(&self) -> String {
        let id = self
            .c
            .execute("return document.activeElement.id;", vec![])
            .await
            .unwrap();
        format!("#{}", id.as_str().unwrap_or_default())
    }

    /// Presses keys, one after the other, on whatever has the focus.
    pub(crate) async fn press(&self, keys: &[Key]) {
        let mut seq = KeyActions::new("keyboard".to_owned());
        for key in keys {
            let value: char = (*key).into();
            seq = seq
                .then(KeyAction::Down { value })
                .then(KeyAction::Up { value });
        }
        self.c.perform_actions(seq).await.unwrap();
    }

    /// The `data-field` keys of the connection form's simple view that are shown.
    pub(crate) async fn shown_fields(&self) -> Vec<String> {
        let v = self
            .c
            .execute(
                "return Array.from(document.querySelectorAll('#simple-view .field[data-field]'))\
                   .filter(f => f.getClientRects().length > 0).map(f => f.dataset.field);",
                vec![],
            )
            .await
            .unwrap();
        serde_json::from_value(v).unwrap()
    }

    /// The selector of a connection's row in the list.
    pub(crate) fn row(name: &str) -> String {
        format!("tr[data-connection-name=\"{name}\"]")
    }

    /// Fills the form of a new page with a Basic Cloud Platform connection to the
    /// simulator's sample site.
    pub(crate) async fn fill_basic(&self, name: &str) {
        let samples = self.sim.samples().clone();
        self.fill("input#name", name).await;
        self.select("select#api-type", "cloud-platform").await;
        self.fill("input#subdomain", SUBDOMAIN).await;
        self.select("select#auth-type", "basic").await;
        self.fill("input#username", &samples.email).await;
        self.fill("input#api-token", &samples.api_token).await;
    }

    /// Creates a Basic connection through the form and returns on the list.
    pub(crate) async fn create_basic(&self, name: &str) {
        self.goto("/connections/new").await;
        self.wait_for("form#connection-form").await;
        self.fill_basic(name).await;
        self.click_and_load("button#save").await;
        self.wait_for(&Self::row(name)).await;
    }

    /// Creates an OAuth 2.0 client for the simulator's sample app with the form's **+**
    /// dialog, and checks the dialog shows the callback URL to register.
    pub(crate) async fn create_client_in_dialog(&self, name: &str) {
        let samples = self.sim.samples().clone();
        self.click("button#oauth-client-add").await;
        self.wait_visible("dialog#oauth-client-dialog").await;
        assert_eq!(
            self.value("input#oauth-client-callback").await,
            self.url("/connection/oauth2callback")
        );
        self.fill("input#oauth-client-name", name).await;
        self.fill("input#oauth-client-id", &samples.oauth_client_id)
            .await;
        self.fill("input#oauth-client-secret", &samples.oauth_client_secret)
            .await;
    }

    /// Saves the client dialog and checks the new client is the one chosen.
    pub(crate) async fn save_client_dialog(&self, name: &str) {
        self.click("button#oauth-client-save").await;
        self.wait_hidden("dialog#oauth-client-dialog").await;
        let chosen = self
            .c
            .execute(
                "const s = document.getElementById('oauth-client'); \
                 return s.selectedOptions[0] ? s.selectedOptions[0].textContent.trim() : '';",
                vec![],
            )
            .await
            .unwrap();
        assert_eq!(chosen, json!(name));
    }

    /// Toggles an option of a multiple `<select>`, as a click does.
    pub(crate) async fn pick(&self, select: &str, value: &str) {
        self.click(&format!("{select} option[value=\"{value}\"]"))
            .await;
    }
}

/// Creates [`USER`] through the application, as an administrator adding a user would.
async fn create_user(app: &App) {
    let actor = jiralink_app::Actor {
        name: "test setup".to_owned(),
        source: jiralink_domain::AuditSource::Cli,
    };
    app.create_user(
        USER,
        &jiralink_vault::Password::new(PASSWORD),
        false,
        &actor,
    )
    .await
    .unwrap();
}

/// The workspace's target directory: `CARGO_TARGET_DIR` when set (relative to the workspace),
/// else `<workspace>/target`.
fn target_dir() -> PathBuf {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let workspace = workspace.canonicalize().unwrap_or(workspace);
    match std::env::var_os("CARGO_TARGET_DIR").or(option_env!("CARGO_TARGET_DIR").map(Into::into)) {
        Some(dir) => workspace.join(dir),
        None => workspace.join("target"),
    }
}

/// A browser tool's path, or a failure that says how to install it.
fn tool(var: &str, default: &str) -> PathBuf {
    let path = std::env::var_os(var).map_or_else(|| PathBuf::from(default), PathBuf::from);
    assert!(
        path.is_file(),
        "{} is missing: the browser tests need Chromium and ChromeDriver. Install them with \
         `apt-get install chromium chromium-driver` (Debian), or point {var} at the binary.",
        path.display()
    );
    path
}

/// A ChromeDriver process on a free loopback port, killed on drop.
struct Driver {
    child: Child,
    port: u16,
    session: Option<String>,
    output: Arc<Mutex<Vec<String>>>,
}

impl Driver {
    async fn spawn(binary: &Path) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut child = Command::new(binary)
            .arg(format!("--port={port}"))
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .stdin(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{} does not start: {e}", binary.display()));
        // ChromeDriver says on stdout when it listens; the reader keeps draining the pipe
        // afterwards so that the driver never blocks on a full one.
        let output = Arc::new(Mutex::new(Vec::new()));
        let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
        let stdout = child.stdout.take().unwrap();
        let lines = Arc::clone(&output);
        std::thread::spawn(move || {
            let mut ready = Some(ready_tx);
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if line.contains("started successfully")
                    && let Some(tx) = ready.take()
                {
                    let _ = tx.send(());
                }
                lines.lock().unwrap().push(line);
            }
        });
        let driver = Self {
            child,
            port,
            session: None,
            output,
        };
        let started = tokio::time::timeout(DRIVER_START, ready_rx).await;
        assert!(
            matches!(started, Ok(Ok(()))),
            "ChromeDriver did not start within {DRIVER_START:?}:\n{}",
            driver.output()
        );
        let status = driver.request("GET", "/status");
        assert!(
            status.contains("\"ready\":true"),
            "ChromeDriver is not ready: {status}"
        );
        driver
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn output(&self) -> String {
        self.output.lock().unwrap().join("\n")
    }

    /// One plain HTTP/1.1 request to the driver (which refuses HTTP/1.0); the answer's
    /// body, read up to its Content-Length since the driver keeps the connection open.
    fn request(&self, method: &str, path: &str) -> String {
        let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", self.port)) else {
            return String::new();
        };
        let _ = s.set_read_timeout(Some(Duration::from_secs(20)));
        let _ = write!(
            s,
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Length: 0\r\n\r\n",
            self.port
        );
        let mut answer = Vec::new();
        let mut chunk = [0_u8; 4096];
        loop {
            let text = String::from_utf8_lossy(&answer);
            if let Some((head, body)) = text.split_once("\r\n\r\n") {
                let length = head
                    .lines()
                    .find_map(|l| {
                        let (name, value) = l.split_once(':')?;
                        name.eq_ignore_ascii_case("content-length")
                            .then(|| value.trim().parse::<usize>().ok())?
                    })
                    .unwrap_or(0);
                if body.len() >= length {
                    return body.to_owned();
                }
            }
            match s.read(&mut chunk) {
                Ok(0) | Err(_) => return String::from_utf8_lossy(&answer).into_owned(),
                Ok(n) => answer.extend_from_slice(&chunk[..n]),
            }
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        // A flow that panicked left its session open: closing it closes Chromium, which
        // killing the driver alone would leave running.
        if let Some(id) = self.session.take() {
            self.request("DELETE", &format!("/session/{id}"));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn the_harness_shows_a_page_of_the_server() {
    let b = Browser::start("harness").await;
    b.goto("/healthz").await;
    let body = b.text("body").await;
    assert!(body.contains("\"status\":\"ok\""), "{body}");
    b.shot("healthz").await;
    b.finish().await;
}
