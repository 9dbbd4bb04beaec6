use std::path::{Path, PathBuf};

use assert_cmd::Command;
use jiralink_sim::{Sim, SimConfig, SimHandle};
use serde_json::Value;
use tempfile::TempDir;

/// A port free on this machine just now.
pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `connection create --name NAME` of a Cloud Platform connection to the `demo` site with
/// `auth_type`, followed by `rest`.
pub(crate) fn connection_create<'a>(
    name: &'a str,
    auth_type: &'a str,
    rest: &[&'a str],
) -> Vec<&'a str> {
    let mut args = vec![
        "connection",
        "create",
        "--name",
        name,
        "--api-type",
        "cloud-platform",
        "--subdomain",
        "demo",
        "--auth-type",
        auth_type,
    ];
    args.extend_from_slice(rest);
    args
}

/// A fresh data directory, a simulator standing in for Atlassian, and a way to run
/// jiralink against both. jiralink is pointed at the simulator through the environment, so
/// no test ever reaches the network.
pub(crate) struct Env {
    pub(crate) dir: TempDir,
    pub(crate) extra_env: Vec<(String, String)>,
    /// Dropped before the runtime that serves it.
    pub(crate) sim: SimHandle,
    _runtime: tokio::runtime::Runtime,
}

pub(crate) struct Output {
    pub(crate) code: i32,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

impl Output {
    /// Runs `cmd` to the end.
    pub(crate) fn of(cmd: &mut Command) -> Self {
        let out = cmd.output().unwrap();
        Self {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    pub(crate) fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {}", self.stdout))
    }

    pub(crate) fn ok(self) -> Self {
        assert_eq!(
            self.code, 0,
            "stdout: {}\nstderr: {}",
            self.stdout, self.stderr
        );
        self
    }

    pub(crate) fn fails_with(self, code: i32) -> Self {
        assert_eq!(
            self.code, code,
            "stdout: {}\nstderr: {}",
            self.stdout, self.stderr
        );
        self
    }
}

impl Env {
    pub(crate) fn new() -> Self {
        Self::with_sim(SimConfig::for_tests())
    }

    /// The same with a simulator started from `config`.
    pub(crate) fn with_sim(config: SimConfig) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let sim = runtime.block_on(Sim::start(config)).unwrap();
        Self {
            dir: tempfile::tempdir().unwrap(),
            extra_env: Vec::new(),
            sim,
            _runtime: runtime,
        }
    }

    /// Registers an OAuth 2.0 app at the simulator whose consent comes back to `public_base`'s
    /// callback, and lets the simulator approve consents without a person.
    pub(crate) fn auto_approved_oauth_app(
        &self,
        public_base: &str,
    ) -> jiralink_sim::control::CreatedApp {
        let app = self
            .sim
            .control()
            .add_oauth_app(jiralink_sim::control::NewOAuthApp {
                name: Some("jiralink".to_owned()),
                callbacks: vec![format!("{public_base}/connection/oauth2callback")],
                scopes: None,
            })
            .unwrap();
        self.sim
            .control()
            .update_knobs(|k| k.auto_approve = true)
            .unwrap();
        app
    }

    /// The simulator's sample account e-mail and classic API token.
    pub(crate) fn alice(&self) -> (String, String) {
        let s = self.sim.samples();
        (s.email.clone(), s.api_token.clone())
    }

    /// Creates a Basic connection for the simulator's sample account; its test passes.
    pub(crate) fn create_alice(&self, name: &str) -> Value {
        let (email, token) = self.alice();
        self.run(
            &connection_create(
                name,
                "basic",
                &["--username", &email, "--api-token-stdin", "-o", "json"],
            ),
            Some(&token),
        )
        .ok()
        .json()
    }

    pub(crate) fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub(crate) fn path(&self) -> &Path {
        self.dir.path()
    }

    pub(crate) fn cmd(&self) -> Command {
        Command::from_std(self.std_cmd())
    }

    /// `jiralink --no-input` pointed at this data directory and the simulator, with
    /// `extra_env` and nothing else of the caller's `JIRALINK_*` / `RUST_LOG`; for processes
    /// a test talks to while they run.
    pub(crate) fn std_cmd(&self) -> std::process::Command {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_jiralink"));
        for (k, _) in std::env::vars() {
            if k.starts_with("JIRALINK_") || k == "RUST_LOG" {
                cmd.env_remove(k);
            }
        }
        cmd.env("JIRALINK_DATA_DIR", self.data_dir())
            .env(
                "JIRALINK_ATLASSIAN__SITE_URL_TEMPLATE",
                self.sim.site_url_template(),
            )
            .env("JIRALINK_ATLASSIAN__API_GATEWAY", self.sim.api_gateway())
            .env("JIRALINK_ATLASSIAN__AUTH_SERVER", self.sim.auth_server())
            .env("USER", "tester")
            .env("NO_COLOR", "1")
            .arg("--no-input");
        for (k, v) in &self.extra_env {
            cmd.env(k, v);
        }
        cmd
    }

    /// Runs a command that sends no request with Atlassian's real endpoints, as configured by
    /// default (the simulator's replace them everywhere else).
    pub(crate) fn run_with_default_endpoints(&self, args: &[&str]) -> Output {
        let mut cmd = self.cmd();
        for k in [
            "JIRALINK_ATLASSIAN__SITE_URL_TEMPLATE",
            "JIRALINK_ATLASSIAN__API_GATEWAY",
            "JIRALINK_ATLASSIAN__AUTH_SERVER",
        ] {
            cmd.env_remove(k);
        }
        cmd.args(args);
        Output::of(&mut cmd)
    }

    /// Runs with arguments and optional stdin.
    pub(crate) fn run(&self, args: &[&str], stdin: Option<&str>) -> Output {
        let mut cmd = self.cmd();
        cmd.args(args);
        cmd.write_stdin(stdin.unwrap_or(""));
        Output::of(&mut cmd)
    }

    pub(crate) fn create_client(&self, name: &str, secret: &str) -> Value {
        self.run(
            &[
                "oauth-client",
                "create",
                "--name",
                name,
                "--client-id",
                "client-abc",
                "--client-secret-stdin",
                "-o",
                "json",
            ],
            Some(secret),
        )
        .ok()
        .json()
    }

    pub(crate) fn create_basic(&self, name: &str, token: &str) -> Value {
        self.run(
            &connection_create(
                name,
                "basic",
                &[
                    "--username",
                    "me@example.com",
                    "--api-token-stdin",
                    "--no-test",
                    "-o",
                    "json",
                ],
            ),
            Some(token),
        )
        .ok()
        .json()
    }
}
