//! Command-line arguments. Raw flags here; `commands/` turns them into service calls.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

const AFTER_HELP: &str = "\
Examples:
  jiralink oauth-client create --name \"Atlassian app\" --client-id abc123 --client-secret-stdin < secret.txt
  jiralink connection create --name \"Jira - acme\" --api-type cloud-platform --subdomain acme \\
      --auth-type basic --username me@acme.com --api-token-env JIRA_TOKEN
  jiralink connection create --name \"CSM\" --api-type csm --oauth-client \"Atlassian app\" \\
      --scopes read:customer:jira-service-management
  jiralink connection list --output json
  jiralink connection edit \"Jira - acme\" --subdomain acme-eu     # asks for the API token again
  jiralink connection test \"Jira - acme\"
  jiralink connection authorize \"CSM\"      # OAuth 2.0 consent in a browser
  jiralink serve                            # web UI, /v1 API, OAuth callback, background work
  jiralink serve --demo                     # the same against a built-in simulated Jira
  jiralink sim --port 9077                  # a local Jira Cloud to try all of this on
  jiralink export issues --connection \"Jira - acme\" --jql \"project = DEMO\" --output demo.ndjson
  jiralink export create --name nightly --connection \"Jira - acme\" --jql \"project = DEMO\" \\
      --kind delta --cron \"30 2 * * *\" --time-zone Europe/Paris
  jiralink export run nightly --output nightly.ndjson
  jiralink key rotate

Exit codes: 0 success, 1 unexpected error, 2 wrong usage, 3 invalid input, 4 not found,
5 conflict (name taken, still in use), 6 master key problem, 7 configuration or file problem,
8 connection test failed, connection offline or Jira refused a webhook, 9 connection needs
authorization, 10 export run failed, 11 import run failed, 12 import finished but some records
failed, 130 cancelled (also an export or import run cancelled).";

/// jiralink: trustworthy connections to Jira, for moving data in and out of it.
#[derive(Debug, Parser)]
#[command(name = "jiralink", version, about, after_help = AFTER_HELP, propagate_version = true)]
pub(crate) struct Cli {
    #[command(flatten)]
    pub(crate) global: GlobalArgs,
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Args)]
#[command(next_help_heading = "Global options")]
pub(crate) struct GlobalArgs {
    /// Where jiralink keeps its database, master key and configuration
    /// [default: the platform data directory, e.g. ~/.local/share/jiralink]
    #[arg(long, global = true, env = "JIRALINK_DATA_DIR", value_name = "DIR")]
    pub(crate) data_dir: Option<PathBuf>,
    /// A configuration file to read instead of <data dir>/jiralink.toml
    #[arg(long, global = true, env = "JIRALINK_CONFIG", value_name = "FILE")]
    pub(crate) config: Option<PathBuf>,
    /// The database: sqlite:///path/to/jiralink.db or postgres://user@host/db
    /// [default: database.url in the configuration, else jiralink.db in the data directory]
    #[arg(
        long,
        global = true,
        env = "JIRALINK_DATABASE_URL",
        value_name = "URL",
        hide_env_values = true
    )]
    pub(crate) database: Option<String>,
    /// How to print results: table or json. For `export` and `run output`, a file path
    /// instead (or as well: `-o json --output FILE`) is where the exported records go
    #[arg(
        long = "output",
        short = 'o',
        global = true,
        default_value = "table",
        env = "JIRALINK_OUTPUT",
        value_name = "table|json|FILE",
        value_parser = parse_output,
        action = clap::ArgAction::Append
    )]
    pub(crate) output_args: Vec<OutputArg>,
    /// The format chosen with `--output` (the last one given).
    #[arg(skip)]
    pub(crate) output: OutputFormat,
    /// The file named with `--output`, if any.
    #[arg(skip)]
    pub(crate) output_file: Option<PathBuf>,
    /// Never prompt; fail when something required is missing (implied when stdin is not a terminal)
    #[arg(long, global = true)]
    pub(crate) no_input: bool,
    /// More log output on stderr (-v info, -vv debug); RUST_LOG and --log-level override
    #[arg(long, short = 'v', global = true, action = clap::ArgAction::Count)]
    pub(crate) verbose: u8,
    /// How log lines on stderr look: text for people, json for log collectors (one JSON
    /// object per line)
    #[arg(
        long,
        global = true,
        value_enum,
        default_value_t = LogFormat::Text,
        value_name = "FORMAT"
    )]
    pub(crate) log_format: LogFormat,
    /// Which log lines to write: a level (error, warn, info, debug, trace) or RUST_LOG-style
    /// directives such as `info,jiralink_app=debug`; overrides RUST_LOG and -v
    /// [default: warn; info for `serve`]
    #[arg(long, global = true, value_name = "LEVEL", value_parser = parse_log_filter)]
    pub(crate) log_level: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum LogFormat {
    /// Human-readable lines
    Text,
    /// One JSON object per line: timestamp, level, target, message and fields
    Json,
}

/// Refuses a log filter that would be ignored, so a typo does not silence the logs.
fn parse_log_filter(value: &str) -> Result<String, String> {
    tracing_subscriber::EnvFilter::builder()
        .parse(value)
        .map(|_| value.to_owned())
        .map_err(|e| {
            format!(
                "{e}; use a level (error, warn, info, debug, trace) or directives such as \
                 info,jiralink_app=debug"
            )
        })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub(crate) enum OutputFormat {
    #[default]
    Table,
    Json,
}

/// One `--output` value: a print format, or a file for exported records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum OutputArg {
    Format(OutputFormat),
    File(PathBuf),
}

fn parse_output(value: &str) -> Result<OutputArg, String> {
    match value {
        "table" => Ok(OutputArg::Format(OutputFormat::Table)),
        "json" => Ok(OutputArg::Format(OutputFormat::Json)),
        "" => Err("write table, json, or (for exports) a file path".to_owned()),
        path => Ok(OutputArg::File(PathBuf::from(path))),
    }
}

impl GlobalArgs {
    /// Splits the `--output` values into the print format and the output file.
    pub(crate) fn resolve_output(&mut self) -> Result<(), String> {
        for arg in &self.output_args {
            match arg {
                OutputArg::Format(format) => self.output = *format,
                OutputArg::File(path) => {
                    if self.output_file.replace(path.clone()).is_some() {
                        return Err("--output names at most one file".to_owned());
                    }
                }
            }
        }
        Ok(())
    }
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Create, list, show, edit and delete connections to Jira
    #[command(subcommand)]
    Connection(Box<ConnectionCommand>),
    /// Manage OAuth 2.0 clients (a client ID and secret shared by OAuth connections)
    #[command(subcommand, name = "oauth-client")]
    OAuthClient(OAuthClientCommand),
    /// Manage the master key that encrypts every stored secret
    #[command(subcommand)]
    Key(KeyCommand),
    /// Manage the users who sign in to the web UI
    #[command(subcommand)]
    User(UserCommand),
    /// Manage users' API keys for scripts using the /v1 API
    #[command(subcommand, name = "api-key")]
    ApiKey(ApiKeyCommand),
    /// Run the Jira Cloud simulator: sites, API gateway and OAuth server on one local port
    #[command(after_help = "\
Prints the settings to point jiralink (or any Jira client) at, and sample credentials.
Example: jiralink sim --port 9000 --auto-approve --oauth-callback http://127.0.0.1:8080/connection/oauth2callback
See docs/simulator.md for every endpoint, knob and known difference from Jira Cloud.")]
    Sim(jiralink_sim::cli::SimArgs),
    /// Run the server: web UI, REST API under /v1, OAuth 2.0 callback, health and metrics
    #[command(after_help = SERVE_HELP)]
    Serve(ServeArgs),
    /// Show the database, its schema version, apply migrations, or copy it into another
    #[command(subcommand)]
    Db(DbCommand),
    /// List background jobs and their runs, or run one now
    #[command(subcommand)]
    Job(JobCommand),
    /// Export data out of Jira: saved exports (create, list, show, edit, delete, run) or
    /// ad hoc (`export issues --connection NAME --jql …`)
    #[command(subcommand)]
    Export(Box<ExportCommand>),
    /// Export runs: list, show, cancel, and their output
    #[command(subcommand)]
    Run(RunCommand),
    /// Import records into Jira (`import issues --connection NAME --file F --map M.toml`), and
    /// list import runs
    #[command(subcommand)]
    Import(ImportCommand),
    /// Flows: a saved export feeding a saved import, run as one (`flow create --export E
    /// --import I`), e.g. to keep a project on one Jira site in step with one on another
    #[command(subcommand)]
    Flow(FlowCommand),
    /// Notifications: users' subscriptions (a connection offline, a run failing, …), the
    /// history of messages, the webhook channel, and a test message
    #[command(subcommand)]
    Notification(NotificationCommand),
    /// Listeners: Jira's webhooks feeding a flow as issues change (`listener create --flow F`)
    #[command(subcommand)]
    Listener(ListenerCommand),
    /// Print a shell completion script, e.g. `jiralink completions bash > /etc/bash_completion.d/jiralink`
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

const SERVE_HELP: &str = "\
Serves the web UI (sign in at /login), the REST API under /v1, the OAuth 2.0 callback,
/healthz, /readyz and Prometheus /metrics on one address, and runs the background jobs:
re-tests of offline connections every connections.retest_interval and OAuth 2.0 token
keep-alive. SIGTERM or Ctrl-C stops it, letting open requests finish.

Several servers may share one PostgreSQL database (--database postgres://…, the same master
key and server.base_url on each): they share sessions, authorizations, sign-in counting,
and the background jobs, each run by one server at a time (docs/deployment.md).

The first start creates the administrator `admin` (password from JIRALINK_ADMIN_PASSWORD,
or generated and printed once) and the API key for /v1 and /metrics (from JIRALINK_API_KEY,
or generated and printed once; only its SHA-256 is kept, in the database).

--demo runs a simulated Jira Cloud (sites, API token, OAuth 2.0 app and consent page) in the
same process and points jiralink at it; the sign-in page shows its sample credentials. Its
data directory is a temporary one, deleted on exit, unless --data-dir or JIRALINK_DATA_DIR
names one.

Examples:
  jiralink serve                                   # http://127.0.0.1:8080
  jiralink serve --bind 127.0.0.1:0                # any free port; the address is printed
  jiralink serve --demo                            # try every flow without an Atlassian account
  jiralink serve --database postgres://jiralink@db.internal/jiralink --bind 0.0.0.0:8080
  jiralink serve --log-format json --log-level info,jiralink_app=debug
  curl -H \"Authorization: Bearer $KEY\" http://127.0.0.1:8080/metrics

See docs/operations.md (flags, metrics, logs, demo walkthrough) and docs/api.md (routes).";

/// Arguments of `jiralink serve`.
#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// The address to listen on; port 0 picks a free port (the address is printed)
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    pub(crate) bind: std::net::SocketAddr,
    /// Also run a simulated Jira Cloud in this process and show its sample credentials on the
    /// sign-in page (data is throwaway)
    #[arg(long)]
    pub(crate) demo: bool,
}

#[derive(Debug, Subcommand)]
pub(crate) enum ConnectionCommand {
    /// Create a connection; asks for anything missing when run in a terminal
    #[command(after_help = "\
Examples:
  jiralink connection create --name \"Jira - acme\" --api-type cloud-platform --subdomain acme \\
      --auth-type basic --username me@acme.com --api-token-file ~/.jira-token
  jiralink connection create --name \"Jira OAuth\" --api-type cloud-platform --subdomain acme \\
      --auth-type oauth2 --oauth-client \"Atlassian app\" --scopes read:jira-work,write:jira-work

Basic connections are tested before they are saved. When the test fails, a terminal asks
whether to save anyway; scripts pass --save-anyway, or --no-test to skip the test (offline).")]
    Create {
        #[command(flatten)]
        fields: ConnectionFields,
        #[command(flatten)]
        test: SaveTest,
    },
    /// List connections
    #[command(
        after_help = "Examples:\n  jiralink connection list\n  jiralink connection list -o json | jq '.[] | select(.state.status == \"offline\")'"
    )]
    List,
    /// Show one connection (secrets only as "set, updated <time>")
    #[command(
        after_help = "Examples:\n  jiralink connection show \"Jira - acme\"\n  jiralink connection show 2f0c6a3e-5a8e-4d8b-9f43-0c1d2e3f4a5b -o json"
    )]
    Show {
        /// The connection's name or id
        connection: String,
    },
    /// Change a connection; Basic connections must enter their API token again
    #[command(after_help = "\
Only the settings you pass change. As on the connection form, the API token is never shown
and must be entered again on every edit of a Basic connection.

Examples:
  jiralink connection edit \"Jira - acme\" --subdomain acme-eu --api-token-env JIRA_TOKEN
  jiralink connection edit \"Jira OAuth\" --add-scope manage:jira-project

Basic connections are tested before they are saved, as on create.")]
    Edit {
        /// The connection's name or id
        connection: String,
        #[command(flatten)]
        fields: ConnectionFields,
        #[command(flatten)]
        test: SaveTest,
        /// Add scopes to the current ones
        #[arg(long = "add-scope", value_name = "SCOPE")]
        add_scopes: Vec<String>,
        /// Remove scopes from the current ones
        #[arg(long = "remove-scope", value_name = "SCOPE")]
        remove_scopes: Vec<String>,
    },
    /// Delete a connection and its stored secrets
    #[command(
        after_help = "Examples:\n  jiralink connection delete \"Jira - acme\"        # asks first\n  jiralink connection delete \"Jira - acme\" --yes  # for scripts"
    )]
    Delete {
        /// The connection's name or id
        connection: String,
        /// Do not ask for confirmation
        #[arg(long, short = 'y')]
        yes: bool,
    },
    /// Authorize an OAuth 2.0 connection in a browser and store its tokens
    #[command(
        after_help = "Prints Atlassian's authorize URL (and opens it on a desktop), then waits for \
Atlassian to redirect the browser to <server.base_url>/connection/oauth2callback on a one-shot \
listener bound to 127.0.0.1.\n\nExamples:\n  jiralink connection authorize \"Jira OAuth\"\n  \
jiralink connection authorize CSM --site https://acme.atlassian.net --no-browser"
    )]
    Authorize {
        /// The connection's name or id
        connection: String,
        /// Only print the URL; never start a browser
        #[arg(long)]
        no_browser: bool,
        /// Listen on this loopback address instead of the port of `server.base_url`
        #[arg(long, value_name = "ADDR")]
        listen: Option<std::net::SocketAddr>,
        /// Customer Service Management: the site to use when several were granted
        #[arg(long, value_name = "URL")]
        site: Option<String>,
    },
    /// Forget an OAuth 2.0 connection's tokens; it must be authorized again before use
    Disconnect {
        /// The connection's name or id
        connection: String,
    },
    /// Print the HTTP settings the connection resolves to (base URI, auth, ping, headers…)
    #[command(
        name = "http-view",
        after_help = "Examples:\n  jiralink connection http-view \"Jira OAuth\"\n  jiralink connection http-view \"Jira OAuth\" -o json | jq .oauth.authorizeUrl"
    )]
    HttpView {
        /// The connection's name or id
        connection: String,
    },
    /// Show who changed what and when (never secret values)
    #[command(
        after_help = "Examples:\n  jiralink connection audit \"Jira - acme\"\n  jiralink connection audit 2f0c6a3e-5a8e-4d8b-9f43-0c1d2e3f4a5b -o json   # also after deletion"
    )]
    Audit {
        /// The connection's name or id (the id also works after deletion)
        connection: String,
    },
    /// Test a connection: sign in to Jira and report who it authenticates as
    #[command(after_help = "\
Sends one cheap authenticated read (GET /rest/api/3/myself; for Customer Service Management a
one-item customer page) and reports: reachable, the account, the site and its cloud id, scopes
and latency. A failure names its cause and the fix. Credential failures mark the connection
offline; a passing test brings it back online.

Exit codes: 0 passed, 8 failed, 9 needs authorization (OAuth 2.0).

Examples:
  jiralink connection test \"Jira - acme\"
  jiralink connection test \"Jira - acme\" -o json | jq .account")]
    Test {
        /// The connection's name or id
        connection: String,
    },
    /// Record every request and response of a connection for a while (secrets masked)
    #[command(
        args_conflicts_with_subcommands = true,
        subcommand_negates_reqs = true,
        after_help = "\
For the window chosen, every request jiralink makes for the connection (tests included) is
recorded with its response: time, method, URL, status, duration, headers and bodies, with every
token and secret masked. Lines are kept 24 hours.

Examples:
  jiralink connection debug \"Jira - acme\" --minutes 30
  jiralink connection debug show \"Jira - acme\"
  jiralink connection debug show \"Jira - acme\" -o json
  jiralink connection debug clear \"Jira - acme\""
    )]
    Debug(DebugArgs),
    /// Re-test offline connections every interval, bringing back those that work again
    #[command(after_help = "\
Runs until interrupted (Ctrl-C). `jiralink serve` runs the same loop; use this where no
server runs. The interval defaults to connections.retest_interval in the configuration (15m).

Examples:
  jiralink connection watch
  jiralink connection watch --interval 5m
  jiralink connection watch --once        # one round, for cron")]
    Watch {
        /// Time between rounds, e.g. 90s, 15m, 1h
        #[arg(long, value_name = "INTERVAL")]
        interval: Option<jiralink_app::Interval>,
        /// Run one round and exit
        #[arg(long)]
        once: bool,
    },
    /// List the OAuth 2.0 scopes an API type offers
    #[command(
        after_help = "Examples:\n  jiralink connection scopes\n  jiralink connection scopes --api-type csm -o json"
    )]
    Scopes {
        /// cloud-platform or customer-service-management
        #[arg(long, value_name = "API_TYPE", default_value = "cloud-platform")]
        api_type: String,
    },
}

/// Whether to test a connection before saving it.
#[derive(Debug, Args, Default, Clone, Copy)]
#[command(next_help_heading = "Testing before saving")]
pub(crate) struct SaveTest {
    /// Test before saving (the default for Basic connections)
    #[arg(long, conflicts_with = "no_test")]
    pub(crate) test: bool,
    /// Save without testing, e.g. when Jira cannot be reached from here
    #[arg(long)]
    pub(crate) no_test: bool,
    /// Save even when the test fails (for scripts; a terminal asks instead)
    #[arg(long, conflicts_with = "no_test")]
    pub(crate) save_anyway: bool,
}

#[derive(Debug, Args)]
pub(crate) struct DebugArgs {
    #[command(subcommand)]
    pub(crate) command: Option<DebugCommand>,
    /// The connection's name or id
    #[arg(required = true)]
    pub(crate) connection: Option<String>,
    /// How long to record, in minutes
    #[arg(long, default_value = "15", value_parser = ["15", "30", "45", "60"])]
    pub(crate) minutes: String,
}

#[derive(Debug, Subcommand)]
pub(crate) enum DebugCommand {
    /// Print the recorded requests and responses of the last 24 hours
    Show {
        /// The connection's name or id
        connection: String,
    },
    /// Delete the recorded lines
    Clear {
        /// The connection's name or id
        connection: String,
    },
    /// Stop recording now (the lines stay)
    Stop {
        /// The connection's name or id
        connection: String,
    },
}

#[derive(Debug, Args, Default)]
pub(crate) struct ConnectionFields {
    /// Name your connection (unique, up to 100 characters)
    #[arg(long)]
    pub(crate) name: Option<String>,
    /// cloud-platform ("Cloud Platform and Service Management") or customer-service-management
    #[arg(long, value_name = "API_TYPE")]
    pub(crate) api_type: Option<String>,
    /// Your Jira subdomain: for https://demo.atlassian.net enter demo
    #[arg(long)]
    pub(crate) subdomain: Option<String>,
    /// basic or oauth2
    #[arg(long, value_name = "AUTH_TYPE")]
    pub(crate) auth_type: Option<String>,
    /// The Atlassian account e-mail (Basic auth)
    #[arg(long)]
    pub(crate) username: Option<String>,
    #[command(flatten)]
    pub(crate) api_token: ApiTokenSource,
    /// The OAuth 2.0 client's name or id (OAuth 2.0)
    #[arg(long, value_name = "CLIENT")]
    pub(crate) oauth_client: Option<String>,
    /// OAuth 2.0 scopes, comma or space separated; repeatable (see `jiralink connection scopes`)
    #[arg(long = "scopes", alias = "scope", value_name = "SCOPES")]
    pub(crate) scopes: Vec<String>,
    /// Select every scope the API type offers
    #[arg(long, conflicts_with = "scopes")]
    pub(crate) all_scopes: bool,
    /// Requests sent to Jira at once through this connection (1-50, default 10)
    #[arg(long, value_name = "N")]
    pub(crate) concurrency_level: Option<String>,
    /// Wait out Jira's rate limits (429, 503) and send the request again: on or off (default on)
    #[arg(long, value_name = "on|off")]
    pub(crate) rate_limit_auto_recover: Option<String>,
    /// How many times a rate-limited request is sent again (0-10, default 4)
    #[arg(long, value_name = "N")]
    pub(crate) rate_limit_max_retries: Option<String>,
}

/// Where the API token comes from. Never from an argument's value: those end up in
/// shell history and in `ps`.
#[derive(Debug, Args, Default)]
pub(crate) struct ApiTokenSource {
    /// Read the API token from standard input
    #[arg(long, conflicts_with_all = ["api_token_file", "api_token_env"])]
    pub(crate) api_token_stdin: bool,
    /// Read the API token from a file
    #[arg(long, value_name = "FILE", conflicts_with = "api_token_env")]
    pub(crate) api_token_file: Option<PathBuf>,
    /// Read the API token from this environment variable
    #[arg(long, value_name = "VAR")]
    pub(crate) api_token_env: Option<String>,
    /// Refused: pass secrets with --api-token-stdin, --api-token-file or --api-token-env
    #[arg(long, hide = true, value_name = "REFUSED")]
    pub(crate) api_token: Option<RefusedValue>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum OAuthClientCommand {
    /// Create an OAuth 2.0 client from the client ID and secret of your Atlassian app
    #[command(after_help = "\
Create the app in the Atlassian developer console (Create > OAuth 2.0 integration), add the
permissions and scopes you need, paste the callback URL this command prints under
Authorization, then copy the Client ID and Client secret from Settings.

Example:
  jiralink oauth-client create --name \"Atlassian app\" --client-id abc123 --client-secret-env SECRET")]
    Create(OAuthClientFields),
    /// List OAuth 2.0 clients and the connections using them
    #[command(after_help = "Example:\n  jiralink oauth-client list -o json")]
    List,
    /// Show one client, with the callback URL to register with Atlassian
    #[command(after_help = "Example:\n  jiralink oauth-client show \"Atlassian app\"")]
    Show {
        /// The client's name or id
        client: String,
    },
    /// Change a client; the client secret must be entered again
    #[command(
        after_help = "Example:\n  jiralink oauth-client edit \"Atlassian app\" --client-id NEW_ID --client-secret-file secret.txt"
    )]
    Edit {
        /// The client's name or id
        client: String,
        #[command(flatten)]
        fields: OAuthClientFields,
    },
    /// Delete a client no connection uses
    #[command(after_help = "Example:\n  jiralink oauth-client delete \"Atlassian app\" --yes")]
    Delete {
        /// The client's name or id
        client: String,
        #[arg(long, short = 'y')]
        yes: bool,
    },
    /// Show who changed the client and when
    #[command(after_help = "Example:\n  jiralink oauth-client audit \"Atlassian app\"")]
    Audit {
        /// The client's name or id
        client: String,
    },
}

#[derive(Debug, Args, Default)]
pub(crate) struct OAuthClientFields {
    /// A name to pick the client by
    #[arg(long)]
    pub(crate) name: Option<String>,
    /// The Client ID from the Atlassian developer console
    #[arg(long)]
    pub(crate) client_id: Option<String>,
    /// Read the client secret from standard input
    #[arg(long, conflicts_with_all = ["client_secret_file", "client_secret_env"])]
    pub(crate) client_secret_stdin: bool,
    /// Read the client secret from a file
    #[arg(long, value_name = "FILE", conflicts_with = "client_secret_env")]
    pub(crate) client_secret_file: Option<PathBuf>,
    /// Read the client secret from this environment variable
    #[arg(long, value_name = "VAR")]
    pub(crate) client_secret_env: Option<String>,
    /// Refused: pass secrets with --client-secret-stdin, --client-secret-file or --client-secret-env
    #[arg(long, hide = true, value_name = "REFUSED")]
    pub(crate) client_secret: Option<RefusedValue>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum KeyCommand {
    /// Re-encrypt every secret under a new master key (safe to interrupt and run again)
    #[command(after_help = "\
With the key in the data directory (the default), the new key replaces it when every secret
is re-encrypted. When the key comes from JIRALINK_MASTER_KEY or JIRALINK_MASTER_KEY_FILE,
name a file for the new key with --new-key-file and point the variable at it afterwards.
Back up the new key: database backups made before the rotation still need the old one.")]
    Rotate {
        /// Where to write the new key (required when the key comes from the environment)
        #[arg(long, value_name = "FILE")]
        new_key_file: Option<PathBuf>,
    },
    /// Show where the master key comes from and how many secrets it protects
    #[command(after_help = "Example:\n  jiralink key status --check -o json")]
    Status {
        /// Also open every stored secret with the loaded keys and name any that do not open
        #[arg(long)]
        check: bool,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum UserCommand {
    /// Add a user who signs in to the web UI (the password is asked for, hidden)
    #[command(after_help = "\
The password has at least 12 characters. It is asked for on the terminal (hidden), or read
from standard input with --password-stdin; it is never accepted as an argument.

Examples:
  jiralink user add alice
  jiralink user add bob --admin --password-stdin < bob-password.txt")]
    Add {
        /// The user name (letters, digits, '.', '_', '-', '@'; case does not matter)
        username: String,
        /// Make the user an administrator (manages users and API keys)
        #[arg(long)]
        admin: bool,
        /// Read the password from standard input instead of a prompt
        #[arg(long)]
        password_stdin: bool,
    },
    /// List users
    #[command(after_help = "Example:\n  jiralink user list -o json")]
    List,
    /// Delete a user with their sessions and API keys (never the last administrator)
    #[command(after_help = "Example:\n  jiralink user delete alice --yes")]
    Delete {
        /// The user's name or id
        username: String,
        #[arg(long, short = 'y')]
        yes: bool,
    },
    /// Set a new password; the user's open sessions end
    #[command(after_help = "\
Examples:
  jiralink user password admin                   # asks for the new password twice
  jiralink user password admin --password-stdin < new-password.txt")]
    Password {
        /// The user's name or id
        username: String,
        /// Read the password from standard input instead of a prompt
        #[arg(long)]
        password_stdin: bool,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum ApiKeyCommand {
    /// Create an API key for a user; the key is printed once
    #[command(after_help = "\
Scripts send the key as `Authorization: Bearer <key>` to /v1; changes made with it are
recorded in the audit log as the user's. jiralink keeps only the key's SHA-256, so copy it
now.

Example:
  jiralink api-key create --user alice --name \"nightly export\"")]
    Create {
        /// The user the key acts as (name or id)
        #[arg(long, value_name = "USER")]
        user: String,
        /// What uses the key, e.g. \"nightly export\"
        #[arg(long, value_name = "LABEL")]
        name: String,
    },
    /// List API keys (never the keys themselves, only their first characters)
    #[command(
        after_help = "Examples:\n  jiralink api-key list\n  jiralink api-key list --user alice -o json"
    )]
    List {
        /// Only this user's keys
        #[arg(long, value_name = "USER")]
        user: Option<String>,
    },
    /// Revoke an API key: scripts using it are refused from now on
    #[command(
        after_help = "Example:\n  jiralink api-key revoke 6f1c2d3e-0000-4000-8000-000000000000"
    )]
    Revoke {
        /// The key's id, as `jiralink api-key list` shows it
        id: String,
    },
    /// Replace the server's own API key (the one `serve` printed on its first start)
    #[command(
        name = "reset-server",
        after_help = "\
Prints a new key once. Every server on the database accepts the new key and refuses the old
one from its next request on, without a restart (a server given JIRALINK_API_KEY keeps that
key). Users' own keys are not affected.

Example:
  jiralink api-key reset-server"
    )]
    ResetServer,
}

#[derive(Debug, Subcommand)]
pub(crate) enum DbCommand {
    /// Which database, its schema version and the migrations still to apply
    #[command(after_help = "\
Changes nothing. Exit code 0 when the schema is up to date, 7 when migrations are pending or
the database was upgraded by a newer jiralink.

Examples:
  jiralink db status
  jiralink db status --database postgres://jiralink@db.internal/jiralink -o json")]
    Status,
    /// Apply the pending migrations (servers also apply them when they start)
    #[command(after_help = "\
Forward-only and run under a lock: several servers or commands starting together apply each
migration once. Take a backup first (see docs/deployment.md).

Example:
  jiralink db migrate --database postgres://jiralink@db.internal/jiralink")]
    Migrate,
    /// Copy every table of one database into another, e.g. SQLite into PostgreSQL
    #[command(after_help = "\
Secrets are copied still sealed: the target needs the same master key. Row counts are checked
table by table, and the copy is one transaction on the target: stopped half-way, it leaves the
target as it was, and can simply be run again. A target that holds rows is refused unless
--force, which replaces them. The source is only read, as one snapshot (a source at an older
schema version is refused: migrate it first); to move to another database, stop the servers
using the source first so that no change stays behind.

Example:
  jiralink db copy --from ~/.local/share/jiralink/jiralink.db \\
      --to postgres://jiralink@db.internal/jiralink")]
    Copy {
        /// The database to copy: an SQLite file path, or a sqlite:// or postgres:// URL
        #[arg(long, value_name = "PATH_OR_URL")]
        from: String,
        /// The database to copy into (empty unless --force)
        #[arg(long, value_name = "URL")]
        to: String,
        /// Replace what the target holds
        #[arg(long)]
        force: bool,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum JobCommand {
    /// The background jobs: when each runs next, where it runs now, how it last ended
    #[command(after_help = "Examples:\n  jiralink job list\n  jiralink job list -o json")]
    List,
    /// The latest runs of the background jobs, newest first
    #[command(
        after_help = "Examples:\n  jiralink job runs\n  jiralink job runs --limit 50 -o json"
    )]
    Runs {
        /// How many runs to show
        #[arg(long, default_value_t = 20)]
        limit: u32,
    },
    /// Make a job due now; a server (or `connection watch`) runs it at once
    #[command(after_help = "Example:\n  jiralink job run connections.retest")]
    Run {
        /// The job: connections.retest, connections.keep_alive or exports.cleanup (an export
        /// runs with `jiralink export run NAME`)
        job: String,
    },
}

const EXPORT_HELP: &str = "\
Saved exports run by `export run NAME`, by a server on their schedule, or by \"Run now\" in
the web UI; every run is recorded (`jiralink run list`) and its output kept in the database
for exports.output_retention (`jiralink run output ID`). Ad hoc exports name a resource:
`jiralink export issues --connection NAME --jql …`. Ctrl-C stops any export run here after
its current page, recorded as cancelled (exit code 130).

Examples:
  jiralink export create --name nightly --connection Jira --jql \"project = DEMO\" --kind delta \\
      --cron \"30 2 * * *\" --time-zone Europe/Paris
  jiralink export run nightly --output nightly.ndjson
  jiralink export issues --connection Jira --jql \"project = DEMO\" --format csv --output demo.csv
  jiralink export projects --connection Jira

See docs/exports.md.";

#[derive(Debug, Subcommand)]
#[command(after_help = EXPORT_HELP)]
pub(crate) enum ExportCommand {
    /// Save an export definition (what to export, through which connection, when)
    #[command(after_help = "\
Examples:
  jiralink export create --name demo --connection Jira --jql \"project = DEMO\"
  jiralink export create --name nightly --connection Jira --jql \"project = DEMO\" --kind delta \\
      --cron \"30 2 * * *\" --time-zone Europe/Paris
  jiralink export create --name projects --connection Jira --resource projects --every 60")]
    Create {
        /// A name to pick the export by (unique, ignoring case; up to 100 characters)
        #[arg(long)]
        name: String,
        /// The connection's name or id
        #[arg(long, value_name = "CONNECTION")]
        connection: String,
        #[command(flatten)]
        spec: SpecArgs,
        #[command(flatten)]
        schedule: ScheduleArgs,
        /// Save it disabled: it keeps its schedule but does not run by it
        #[arg(long)]
        disabled: bool,
    },
    /// List saved exports with their last and next run
    #[command(after_help = "Examples:\n  jiralink export list\n  jiralink export list -o json")]
    List,
    /// Show one saved export: settings, schedule, cursor, last run
    #[command(after_help = "Example:\n  jiralink export show nightly -o json")]
    Show {
        /// The export's name or id
        export: String,
    },
    /// Change a saved export; only the settings you pass change
    #[command(after_help = "\
Examples:
  jiralink export edit nightly --format csv
  jiralink export edit nightly --every 30 --time-zone UTC
  jiralink export edit nightly --no-schedule")]
    Edit {
        /// The export's name or id
        export: String,
        /// A new name
        #[arg(long)]
        name: Option<String>,
        /// Another connection (name or id)
        #[arg(long, value_name = "CONNECTION")]
        connection: Option<String>,
        #[command(flatten)]
        spec: SpecArgs,
        #[command(flatten)]
        schedule: ScheduleArgs,
        /// Remove the schedule: the export runs only when asked to
        #[arg(long, conflicts_with_all = ["cron", "every"])]
        no_schedule: bool,
        /// Let the schedule run the export again
        #[arg(long, conflicts_with = "disable")]
        enable: bool,
        /// Keep the schedule but do not run by it
        #[arg(long)]
        disable: bool,
    },
    /// Delete a saved export with its run history and outputs
    #[command(after_help = "Example:\n  jiralink export delete nightly --yes")]
    Delete {
        /// The export's name or id
        export: String,
        /// Do not ask for confirmation
        #[arg(long, short = 'y')]
        yes: bool,
    },
    /// Run a saved export now, here; resumes its interrupted run first
    #[command(after_help = "\
The records go to the database (download them later with `jiralink run output ID`) and, with
--output FILE, to that file, or with --stdout to standard output. Ctrl-C stops the run after
its current page: it is recorded as cancelled (exit code 130) and gives its lease back at once,
so the next `export run` starts afresh; a second Ctrl-C leaves without waiting. A run whose
process was killed otherwise (kill -9, a crash, a second Ctrl-C) keeps its lease until the
lease runs out (exports.lease, 60s by default): until then `export run` of the same export is
refused (exit code 5); the first one after resumes the stopped run from its last checkpoint: a file is cut back to that checkpoint
and completed, so it holds every record exactly once. Standard output cannot be taken back: a
resumed run prints the whole output again.

On a terminal a progress bar shows records, rate and the time left; a summary follows (on
stderr when the records go to standard output).

Exit codes: 0 succeeded, 10 failed, 3 failed because its settings do not fit the site (e.g. a
field name Jira does not know), 130 cancelled, 5 another run of it is going on, 8 the connection
is offline.

Examples:
  jiralink export run nightly
  jiralink export run nightly --output nightly.ndjson
  jiralink export run nightly --stdout | jq -c '{key, summary: .fields.summary}'")]
    Run {
        /// The export's name or id
        export: String,
        /// Write the records to standard output too
        #[arg(long)]
        stdout: bool,
    },
    /// Export issues by JQL once, without saving an export
    #[command(after_help = "\
Examples:
  jiralink export issues --connection Jira --jql \"project = DEMO\" --output demo.ndjson
  jiralink export issues --connection Jira --jql \"project = DEMO\" --fields summary,status \\
      --format csv --output demo.csv
  jiralink export issues --connection Jira --jql \"project = DEMO\" --delta-from 2026-01-01T00:00:00Z \\
      --comments --worklogs --adf markdown --output changed.ndjson")]
    Issues(AdhocIssues),
    /// Export issue comments by JQL once
    Comments(AdhocOther),
    /// Export worklogs by JQL once
    Worklogs(AdhocOther),
    /// Export issue changelogs by JQL once
    Changelogs(AdhocOther),
    /// Export projects once
    Projects(AdhocOther),
    /// Export users once
    Users(AdhocOther),
    /// Export fields once
    Fields(AdhocOther),
    /// Export statuses once
    Statuses(AdhocOther),
    /// Export issue types once
    #[command(name = "issue-types")]
    IssueTypes(AdhocOther),
    /// Export priorities once
    Priorities(AdhocOther),
    /// Export resolutions once
    Resolutions(AdhocOther),
    /// Export Jira Service Management service desks once
    #[command(name = "service-desks")]
    ServiceDesks(AdhocOther),
    /// Export Jira Service Management request types once
    #[command(name = "request-types")]
    RequestTypes(AdhocOther),
    /// Export Jira Service Management customer requests once
    #[command(name = "customer-requests")]
    CustomerRequests(AdhocOther),
    /// Export Jira Service Management customers once
    #[command(name = "jsm-customers")]
    JsmCustomers(AdhocOther),
    /// Export Jira Service Management organizations once
    #[command(name = "jsm-organizations")]
    JsmOrganizations(AdhocOther),
    /// Export Customer Service Management customers once
    #[command(name = "csm-customers")]
    CsmCustomers(AdhocOther),
    /// Export Customer Service Management organizations once
    #[command(name = "csm-organizations")]
    CsmOrganizations(AdhocOther),
    /// Export Customer Service Management products once
    #[command(name = "csm-products")]
    CsmProducts(AdhocOther),
    /// Export Customer Service Management entitlements once
    #[command(name = "csm-entitlements")]
    CsmEntitlements(AdhocOther),
}

/// What a saved export exports; every flag is optional on `edit`.
#[derive(Debug, Args, Default, Clone)]
#[command(next_help_heading = "What to export")]
pub(crate) struct SpecArgs {
    /// What to export: issues (default), comments, worklogs, changelogs, projects, users,
    /// fields, statuses, issue-types, priorities, resolutions, service-desks, request-types,
    /// customer-requests, jsm-customers, jsm-organizations, csm-customers, csm-organizations,
    /// csm-products, csm-entitlements
    #[arg(long, value_name = "RESOURCE")]
    pub(crate) resource: Option<String>,
    #[command(flatten)]
    pub(crate) options: ExportOptions,
    /// all (everything, every run), delta (what changed since the last successful run) or
    /// test (the first --limit records)
    #[arg(long, value_name = "KIND", value_parser = ["all", "delta", "test"])]
    pub(crate) kind: Option<String>,
    /// Test exports: how many records (default 10)
    #[arg(long, value_name = "N")]
    pub(crate) limit: Option<u32>,
    /// Delta exports: also report issues deleted since the last run, as records of their own
    /// (`=false` turns it off)
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL")]
    pub(crate) deletions: Option<bool>,
}

/// The options of what is exported, shared by saved and ad hoc exports.
#[derive(Debug, Args, Default, Clone)]
pub(crate) struct ExportOptions {
    /// The JQL selecting the issues (issues, comments, worklogs, changelogs, customer requests)
    #[arg(long)]
    pub(crate) jql: Option<String>,
    /// Issue fields, comma separated: *all (default), *navigable, ids or names (custom fields
    /// by name)
    #[arg(long, value_name = "FIELDS", value_delimiter = ',')]
    pub(crate) fields: Vec<String>,
    /// Issue expansions, comma separated: renderedFields, names, schema, changelog
    #[arg(long, value_name = "EXPAND", value_delimiter = ',')]
    pub(crate) expand: Vec<String>,
    /// ndjson (one record per line, default), json-array or csv (flattened fields, human
    /// field names)
    #[arg(long, value_name = "FORMAT", value_parser = ["ndjson", "json-array", "csv"])]
    pub(crate) format: Option<String>,
    /// Rich-text (ADF) fields as raw (default), text or markdown
    #[arg(long, value_name = "MODE", value_parser = ["raw", "text", "markdown"])]
    pub(crate) adf: Option<String>,
    /// Each issue's complete changelog, past the 100 entries embedded in an issue (`=false` turns it off)
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL")]
    pub(crate) full_changelog: Option<bool>,
    /// Each issue's comments (all pages), embedded in the issue (`=false` turns it off)
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL")]
    pub(crate) comments: Option<bool>,
    /// Each issue's worklogs (all pages), embedded in the issue (`=false` turns it off)
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL")]
    pub(crate) worklogs: Option<bool>,
    /// Service desk id or name, for request types and customers (default: every desk)
    #[arg(long, value_name = "DESK")]
    pub(crate) service_desk: Option<String>,
    /// Delta exports: start from records updated at or after this time (RFC 3339, e.g.
    /// 2026-01-01T00:00:00Z) instead of from the beginning
    #[arg(long, value_name = "DATE")]
    pub(crate) delta_from: Option<String>,
}

/// `jiralink flow …`.
#[derive(Debug, Subcommand)]
pub(crate) enum FlowCommand {
    /// Save a flow: a saved export whose records a saved import writes
    #[command(after_help = "\
The export reads issues (NDJSON or JSON array; a delta export sends only what changed); the
import is an upsert with an [external_id] and without key: the flow finds the copies it made
itself, through its id map. With comments embedded in the export (--comments), they are
copied too.

Examples:
  jiralink flow create --name demo-to-acme --export demo-mkt --import acme-mkt
  jiralink flow create --name demo-to-acme --export demo-mkt --import acme-mkt --every 15")]
    Create {
        /// A name to pick the flow by (unique, ignoring case; up to 100 characters)
        #[arg(long)]
        name: String,
        /// The saved export's name or id
        #[arg(long, value_name = "EXPORT")]
        export: String,
        /// The saved import's name or id
        #[arg(long, value_name = "IMPORT")]
        import: String,
        #[command(flatten)]
        schedule: ScheduleArgs,
        /// Save it disabled: it keeps its schedule but does not run by it
        #[arg(long, alias = "disable")]
        disabled: bool,
    },
    /// List flows with their last run
    #[command(after_help = "Examples:\n  jiralink flow list\n  jiralink flow list -o json")]
    List,
    /// Show one flow: export, import, schedule, last run
    #[command(after_help = "Example:\n  jiralink flow show demo-to-acme -o json")]
    Show {
        /// The flow's name or id
        flow: String,
    },
    /// Change a flow; only the settings you pass change
    #[command(
        after_help = "Examples:\n  jiralink flow edit demo-to-acme --every 30\n  jiralink flow edit demo-to-acme --no-schedule"
    )]
    Edit {
        /// The flow's name or id
        flow: String,
        /// A new name
        #[arg(long)]
        name: Option<String>,
        /// Another saved export (name or id)
        #[arg(long, value_name = "EXPORT")]
        export: Option<String>,
        /// Another saved import (name or id)
        #[arg(long, value_name = "IMPORT")]
        import: Option<String>,
        #[command(flatten)]
        schedule: ScheduleArgs,
        /// Remove the schedule: the flow runs only when asked to
        #[arg(long, conflicts_with_all = ["cron", "every"])]
        no_schedule: bool,
        /// Let the schedule run the flow again
        #[arg(long, conflicts_with = "disable")]
        enable: bool,
        /// Keep the schedule but do not run by it
        #[arg(long)]
        disable: bool,
    },
    /// Delete a flow with its run history (its export, import and id map stay)
    #[command(after_help = "Example:\n  jiralink flow delete demo-to-acme --yes")]
    Delete {
        /// The flow's name or id
        flow: String,
        /// Do not ask for confirmation
        #[arg(long, short = 'y')]
        yes: bool,
    },
    /// Run a flow now, here: export, import, link; resumes its interrupted run first
    #[command(after_help = "\
Exit codes: 0 when every record was written, 12 when some failed (see the import run's
results: jiralink run output IMPORT_RUN), 11 when the run itself failed.

Example:
  jiralink flow run demo-to-acme")]
    Run {
        /// The flow's name or id
        flow: String,
    },
    /// List flow runs, newest first
    #[command(
        after_help = "Examples:\n  jiralink flow runs\n  jiralink flow runs demo-to-acme -o json"
    )]
    Runs {
        /// Only this flow's runs (name or id)
        flow: Option<String>,
        /// At most this many runs [default: 50]
        #[arg(long, value_name = "N")]
        limit: Option<u32>,
    },
}

/// `jiralink listener …`.
#[derive(Debug, Subcommand)]
pub(crate) enum ListenerCommand {
    /// Create a listener: Jira's events from the flow's source connection feed the flow
    #[command(after_help = "\
The listener listens to the connection of the flow's export. For an OAuth 2.0 connection
jiralink registers Jira's dynamic webhooks now (the connection needs the scope
manage:jira-webhook, and the listener or the flow's export needs a JQL filter). For a Basic
connection a Jira site administrator registers an admin webhook: the URL, the secret (shown
this once, on standard output) and the steps are printed.

Events (default: the first six): jira:issue_created, jira:issue_updated, jira:issue_deleted,
comment_created, comment_updated, comment_deleted, worklog_created, worklog_updated,
worklog_deleted, issuelink_created, issuelink_deleted.

Examples:
  jiralink listener create --name demo-events --flow demo-to-acme
  jiralink listener create --name demo-bugs --flow demo-to-acme --jql \"type = Bug\" \\
      --event jira:issue_created --event jira:issue_updated --field-id summary")]
    Create {
        /// A name to pick the listener by (unique, ignoring case; up to 100 characters)
        #[arg(long)]
        name: String,
        /// The flow it feeds (name or id)
        #[arg(long, value_name = "FLOW")]
        flow: String,
        /// A Jira event to listen to; repeat for several [default: issues created, updated and
        /// deleted, and their comments]
        #[arg(long = "event", value_name = "EVENT")]
        events: Vec<String>,
        /// Only issues this JQL matches (on top of the flow's export's JQL)
        #[arg(long, value_name = "JQL")]
        jql: Option<String>,
        /// For updates: only when this field changed (e.g. summary, customfield_10010); repeat
        /// for several [default: any change]
        #[arg(long = "field-id", value_name = "ID")]
        field_ids: Vec<String>,
    },
    /// List listeners with their state and lag
    #[command(after_help = "Examples:\n  jiralink listener list\n  jiralink listener list -o json")]
    List,
    /// Show one listener: URL, webhooks, state, lag, safety net, setup steps
    #[command(after_help = "Example:\n  jiralink listener show demo-events -o json")]
    Show {
        /// The listener's name or id
        listener: String,
    },
    /// List a listener's newest deliveries, newest first
    #[command(after_help = "Example:\n  jiralink listener events demo-events --limit 20")]
    Events {
        /// The listener's name or id
        listener: String,
        /// At most this many (1-500)
        #[arg(long, value_name = "N", default_value_t = 50)]
        limit: u32,
    },
    /// Run a listener's upkeep now: refresh its webhooks, read back failed deliveries, run the
    /// safety net
    #[command(after_help = "Example:\n  jiralink listener check demo-events")]
    Check {
        /// The listener's name or id
        listener: String,
    },
    /// Delete a listener: its webhooks on Jira, its stored events and its secret (the flow
    /// stays)
    #[command(after_help = "Example:\n  jiralink listener delete demo-events --yes")]
    Delete {
        /// The listener's name or id
        listener: String,
        /// Do not ask for confirmation
        #[arg(long, short = 'y')]
        yes: bool,
    },
}

/// When a saved export or import runs by itself.
#[derive(Debug, Args, Default, Clone)]
#[command(next_help_heading = "Schedule")]
pub(crate) struct ScheduleArgs {
    /// A cron expression: minute hour day-of-month month day-of-week, e.g. "30 2 * * *"
    #[arg(long, value_name = "EXPR", conflicts_with = "every")]
    pub(crate) cron: Option<String>,
    /// Every N minutes (1-1440), counted from midnight in the time zone
    #[arg(long, value_name = "MINUTES")]
    pub(crate) every: Option<u32>,
    /// The schedule's IANA time zone, e.g. Europe/Paris [default: UTC]
    #[arg(long, value_name = "ZONE")]
    pub(crate) time_zone: Option<String>,
}

/// `export issues`.
#[derive(Debug, Args, Clone)]
pub(crate) struct AdhocIssues {
    /// The connection's name or id
    #[arg(long, value_name = "CONNECTION")]
    pub(crate) connection: String,
    #[command(flatten)]
    pub(crate) options: ExportOptions,
    /// Only the first N issues (a test export)
    #[arg(long, value_name = "N")]
    pub(crate) limit: Option<u32>,
    /// Write the records to standard output (the default without --output FILE)
    #[arg(long)]
    pub(crate) stdout: bool,
}

/// `export <resource>` for the resources other than issues.
#[derive(Debug, Args, Clone)]
#[command(after_help = "\
Examples:
  jiralink export projects --connection Jira
  jiralink export comments --connection Jira --jql \"project = DEMO\" --output comments.ndjson
  jiralink export fields --connection Jira --format csv --output fields.csv")]
pub(crate) struct AdhocOther {
    /// The connection's name or id
    #[arg(long, value_name = "CONNECTION")]
    pub(crate) connection: String,
    /// The JQL selecting the issues (comments, worklogs, changelogs, customer requests)
    #[arg(long)]
    pub(crate) jql: Option<String>,
    /// ndjson (default), json-array or csv
    #[arg(long, value_name = "FORMAT", value_parser = ["ndjson", "json-array", "csv"])]
    pub(crate) format: Option<String>,
    /// Service desk id or name (request types, JSM customers; default every desk)
    #[arg(long, value_name = "DESK")]
    pub(crate) service_desk: Option<String>,
    /// Only the first N records (a test export)
    #[arg(long, value_name = "N")]
    pub(crate) limit: Option<u32>,
    /// Write the records to standard output (the default without --output FILE)
    #[arg(long)]
    pub(crate) stdout: bool,
}

#[derive(Debug, Subcommand)]
pub(crate) enum RunCommand {
    /// Export runs, newest first: state, records, duration
    #[command(
        after_help = "Examples:\n  jiralink run list\n  jiralink run list --export nightly --limit 5 -o json"
    )]
    List {
        /// Only this export's runs (name or id)
        #[arg(long, value_name = "EXPORT")]
        export: Option<String>,
        /// Only runs through this connection (name or id)
        #[arg(long, value_name = "CONNECTION")]
        connection: Option<String>,
        /// How many runs to show (at most 1000)
        #[arg(long, default_value_t = 20)]
        limit: u32,
    },
    /// One run: state, records per resource, bytes, pages, retries, rate-limit waits, cursors
    #[command(
        after_help = "Example:\n  jiralink run show 6f1c2d3e-0000-4000-8000-000000000000 -o json"
    )]
    Show {
        /// The run's id
        run: String,
    },
    /// Stop a run at its next page (a run whose process died and whose lease has run out is
    /// marked cancelled at once)
    #[command(after_help = "Example:\n  jiralink run cancel 6f1c2d3e-0000-4000-8000-000000000000")]
    Cancel {
        /// The run's id
        run: String,
    },
    /// Print a run's output as kept in the database (or write it to --output FILE)
    #[command(
        after_help = "Examples:\n  jiralink run output 6f1c2d3e-0000-4000-8000-000000000000 > issues.ndjson\n  jiralink run output 6f1c2d3e-0000-4000-8000-000000000000 --output issues.ndjson"
    )]
    Output {
        /// The run's id
        run: String,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum ImportCommand {
    /// Create, update or upsert issues from a file (NDJSON, JSON array or CSV) through a mapping
    #[command(after_help = IMPORT_ISSUES_HELP)]
    Issues(ImportIssues),
    /// Save an import definition (connection, mapping, input file, ledger)
    #[command(after_help = "\
The mapping is checked now without Jira (its syntax and rules) and against Jira when the
import runs. A saved import keeps its own ledger unless --ledger names a shared one.

A schedule (--cron or --every) makes a server's worker run the import with its own input
file (--input), which a scheduled import needs.

Examples:
  jiralink import create --name tickets --connection Jira --map tickets.toml --input tickets.csv
  jiralink import create --name changes --connection Jira --map upsert.toml --format ndjson
  jiralink import create --name nightly --connection Jira --map tickets.toml \
      --input /data/inbox/tickets.csv --cron \"30 2 * * *\" --time-zone Europe/Paris")]
    Create {
        /// A name to pick the import by (unique, ignoring case; up to 100 characters)
        #[arg(long)]
        name: String,
        /// The connection's name or id
        #[arg(long, value_name = "CONNECTION")]
        connection: String,
        #[command(flatten)]
        settings: ImportSettings,
        #[command(flatten)]
        schedule: ScheduleArgs,
        /// Save it disabled: it keeps its schedule but does not run by it
        #[arg(long)]
        disabled: bool,
    },
    /// List saved imports with their schedule, last and next run
    #[command(after_help = "Examples:\n  jiralink import list\n  jiralink import list -o json")]
    List,
    /// Show one saved import: settings, mapping, ledger, schedule, last and next run
    #[command(after_help = "Example:\n  jiralink import show tickets -o json")]
    Show {
        /// The import's name or id
        import: String,
    },
    /// Change a saved import; only the settings you pass change
    #[command(
        after_help = "Examples:\n  jiralink import edit tickets --map tickets-v2.toml\n  jiralink import edit tickets --input /data/inbox/tickets.csv\n  jiralink import edit tickets --every 60 --time-zone UTC\n  jiralink import edit tickets --no-schedule"
    )]
    Edit {
        /// The import's name or id
        import: String,
        /// A new name
        #[arg(long)]
        name: Option<String>,
        /// Another connection (name or id)
        #[arg(long, value_name = "CONNECTION")]
        connection: Option<String>,
        #[command(flatten)]
        settings: ImportSettings,
        #[command(flatten)]
        schedule: ScheduleArgs,
        /// Remove the schedule: the import runs only when asked to
        #[arg(long, conflicts_with_all = ["cron", "every"])]
        no_schedule: bool,
        /// Let the schedule run the import again
        #[arg(long, conflicts_with = "disable")]
        enable: bool,
        /// Keep the schedule but do not run by it
        #[arg(long)]
        disable: bool,
    },
    /// Delete a saved import with its run history (its ledger stays with the connection)
    #[command(after_help = "Example:\n  jiralink import delete tickets --yes")]
    Delete {
        /// The import's name or id
        import: String,
        /// Do not ask for confirmation
        #[arg(long, short = 'y')]
        yes: bool,
    },
    /// Run a saved import now, here; resumes its interrupted run first
    #[command(after_help = "\
A run whose process was killed (kill -9, a crash) keeps its lease until it runs out
(exports.lease, 60s by default): until then `import run` is refused (exit code 5); the first
one after resumes it from its last checkpoint, with the file it started with, and looks up in
Jira every create whose answer it never saw before sending anything again.

Exit codes as for `import issues`.

Examples:
  jiralink import run tickets
  jiralink import run tickets --file today.csv --results today-results.ndjson")]
    Run {
        /// The import's name or id
        import: String,
        /// The records to import (default: the import's input file)
        #[arg(long, value_name = "FILE")]
        file: Option<PathBuf>,
        /// Write the results to this file too
        #[arg(long, value_name = "FILE")]
        results: Option<PathBuf>,
    },
    /// List import runs, newest first
    #[command(after_help = "Examples:\n  jiralink import runs\n  jiralink import runs -o json")]
    Runs {
        /// At most this many (default 50)
        #[arg(long, value_name = "N")]
        limit: Option<u32>,
    },
}

const IMPORT_ISSUES_HELP: &str = "\
The mapping (a TOML file, see docs/imports.md) says what to do (create, update, upsert), the
project and issue type, how to find an existing issue (key, external id) and how each Jira
field gets its value. It is checked against the project's create screen before anything is
sent, with every problem listed at once (exit code 3).

Every record ends in one state: created, updated, skipped or failed, with its line number and
Jira's message per field. The results are kept with the run (`jiralink run output ID`) and, with
--results FILE, written there too (NDJSON, or CSV with --results-format csv). The import ledger
remembers which issue each record became: running the same import again creates nothing twice,
even after a crash (kill -9) or an answer lost on the way back from Jira.

--dry-run converts and looks up only: it writes each record's request to the results (standard
output without --results) and sends nothing.

Exit codes: 0 every record imported or skipped, 12 some records failed, 11 the run failed,
3 the mapping or input cannot be used, 8 the connection is offline, 130 cancelled.

Examples:
  jiralink import issues --connection Jira --file tickets.csv --map tickets.toml
  jiralink import issues --connection Jira --file tickets.csv --map tickets.toml --dry-run
  jiralink import issues --connection Jira --file - --format ndjson --map upsert.toml \\
      --results results.csv --results-format csv < changes.ndjson
  jiralink import issues --connection \"Jira B\" --from-run 0f6c… --map copy.toml";

/// The settings of a saved import.
#[derive(Debug, Args, Clone)]
pub(crate) struct ImportSettings {
    /// The mapping file (TOML); its text is saved with the import
    #[arg(long = "map", value_name = "FILE")]
    pub(crate) map: Option<PathBuf>,
    /// The file a run reads when it names none (on the machine that runs the import)
    #[arg(long, value_name = "FILE")]
    pub(crate) input: Option<PathBuf>,
    /// How the records are written (default: from the file name)
    #[arg(long, value_name = "FORMAT", value_parser = ["ndjson", "json", "csv"])]
    pub(crate) format: Option<String>,
    /// ndjson (default) or csv
    #[arg(long, value_name = "FORMAT", value_parser = ["ndjson", "csv"])]
    pub(crate) results_format: Option<String>,
    /// Share a ledger with other imports of the connection (run them one at a time)
    /// [default: the import's own]
    #[arg(long, value_name = "NAME")]
    pub(crate) ledger: Option<String>,
    /// Seconds Jira's search may lag behind a write [default: 30]
    #[arg(long, value_name = "SECONDS")]
    pub(crate) search_lag: Option<u64>,
}

/// `import issues`.
#[derive(Debug, Args, Clone)]
pub(crate) struct ImportIssues {
    /// The connection's name or id
    #[arg(long, value_name = "CONNECTION")]
    pub(crate) connection: String,
    /// The records: a file, or - for standard input
    #[arg(
        long,
        value_name = "FILE",
        required_unless_present = "from_run",
        conflicts_with = "from_run"
    )]
    pub(crate) file: Option<PathBuf>,
    /// The records an export run wrote (its id; `jiralink run list` shows them), in the
    /// export's format
    #[arg(long, value_name = "RUN")]
    pub(crate) from_run: Option<String>,
    /// The mapping file (TOML)
    #[arg(long = "map", value_name = "FILE")]
    pub(crate) map: PathBuf,
    /// How the records are written (default: from the file name)
    #[arg(long, value_name = "FORMAT", value_parser = ["ndjson", "json", "csv"])]
    pub(crate) format: Option<String>,
    /// Write the results to this file too
    #[arg(long, value_name = "FILE")]
    pub(crate) results: Option<PathBuf>,
    /// ndjson (default) or csv
    #[arg(long, value_name = "FORMAT", value_parser = ["ndjson", "csv"])]
    pub(crate) results_format: Option<String>,
    /// Convert and look up only; print each record's request and send nothing
    #[arg(long)]
    pub(crate) dry_run: bool,
    /// The directory the files named in the mapping's `attachments` column are read from
    /// (names may not leave it)
    #[arg(long, value_name = "DIR")]
    pub(crate) attachments: Option<PathBuf>,
    /// The ledger to use: imports run one after another with one ledger never create an issue
    /// twice for one record [default: ad-hoc:<project>:<where the external id is kept>]
    #[arg(long, value_name = "NAME")]
    pub(crate) ledger: Option<String>,
    /// Seconds Jira's search may lag behind a write, waited out before an uncertain create is
    /// sent again [default: 30]
    #[arg(long, value_name = "SECONDS")]
    pub(crate) search_lag: Option<u64>,
}

/// How a subscription or a test message reaches its user.
#[derive(Debug, Clone, Args)]
#[group(required = true, multiple = false)]
pub(crate) struct ChannelArgs {
    /// By e-mail to this address (through notifications.smtp)
    #[arg(long, value_name = "ADDRESS")]
    pub(crate) email: Option<String>,
    /// Through the webhook an administrator set (`notification webhook set URL`)
    #[arg(long)]
    pub(crate) webhook: bool,
}

/// `jiralink notification …`.
#[derive(Debug, Subcommand)]
pub(crate) enum NotificationCommand {
    /// List notifications sent (or being retried, or given up on), newest first
    #[command(after_help = "\
Examples:
  jiralink notification list
  jiralink notification list --user alice --limit 20
  jiralink notification list --before <id of the last one listed>   # the next page")]
    List {
        /// Only this user's (name or id)
        #[arg(long)]
        user: Option<String>,
        /// At most this many (1 to 200)
        #[arg(long, default_value_t = 50)]
        limit: u32,
        /// Only those older than this notification (its id): the next page
        #[arg(long)]
        before: Option<String>,
    },
    /// List subscriptions
    #[command(
        after_help = "Examples:\n  jiralink notification subscriptions\n  jiralink notification subscriptions --user alice -o json"
    )]
    Subscriptions {
        /// Only this user's (name or id)
        #[arg(long)]
        user: Option<String>,
    },
    /// List the topics one can subscribe to
    Topics,
    /// Subscribe a user to a topic, for every subject or one
    #[command(after_help = "\
Topics: connection.offline, run.failed, listener.behind, listener.webhooks_expiring,
oauth.refresh_token_expiring, oauth_client.secret_old (`jiralink notification topics`).

Examples:
  jiralink notification subscribe --user alice --topic connection.offline --email alice@example.com
  jiralink notification subscribe --user alice --topic run.failed --subject-kind export \\
      --subject nightly --webhook")]
    Subscribe {
        /// The user (name or id)
        #[arg(long)]
        user: String,
        /// The topic, e.g. connection.offline
        #[arg(long)]
        topic: String,
        /// With --subject: connection, export, import, flow, listener or oauth_client (needed
        /// when the topic is about several kinds)
        #[arg(long)]
        subject_kind: Option<String>,
        /// Only about this subject (its name or id)
        #[arg(long)]
        subject: Option<String>,
        #[command(flatten)]
        channel: ChannelArgs,
    },
    /// Delete one of a user's subscriptions
    #[command(after_help = "Example:\n  jiralink notification unsubscribe --user alice 7d3c…")]
    Unsubscribe {
        /// The user (name or id)
        #[arg(long)]
        user: String,
        /// The subscription's id (`notification subscriptions`)
        id: String,
    },
    /// Send a test message now
    #[command(
        after_help = "Examples:\n  jiralink notification test --user alice --email alice@example.com\n  jiralink notification test --user admin --webhook"
    )]
    Test {
        /// The user it is for (name or id)
        #[arg(long)]
        user: String,
        #[command(flatten)]
        channel: ChannelArgs,
    },
    /// Show how e-mail and the webhook are set up
    Channels,
    /// Set or remove the webhook
    #[command(subcommand)]
    Webhook(WebhookCommand),
}

/// `jiralink notification webhook …`.
#[derive(Debug, Subcommand)]
pub(crate) enum WebhookCommand {
    /// Set the webhook's URL; prints its signing secret when one is generated (the first
    /// time, or with --new-secret), once
    #[command(
        after_help = "Example:\n  jiralink notification webhook set https://chat.example.com/hooks/T0001"
    )]
    Set {
        url: String,
        /// Generate a new signing secret even though one is stored
        #[arg(long)]
        new_secret: bool,
    },
    /// Remove the webhook and its signing secret
    Remove,
}

/// A secret given as an argument's value, which jiralink refuses (it would stay in the shell's
/// history and the process list): only that it was given is kept, never the value, so nothing
/// that formats the arguments can show it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RefusedValue;

impl std::str::FromStr for RefusedValue {
    type Err = std::convert::Infallible;

    fn from_str(_: &str) -> Result<Self, Self::Err> {
        Ok(Self)
    }
}
