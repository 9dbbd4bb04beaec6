//! `jiralink sim`: command-line arguments and the foreground runner.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use crate::config::{DEFAULT_OAUTH_CALLBACK, DataSize, SimConfig};
use crate::error::SimError;
use crate::knobs::{BurstLimits, Knobs, WebhookKnobs};
use crate::server::{Sim, SimHandle};

/// Arguments of `jiralink sim`.
#[derive(Debug, Clone, PartialEq, clap::Args)]
pub struct SimArgs {
    /// Port to listen on (0 picks a free one).
    #[arg(long, default_value_t = 8089)]
    pub port: u16,
    /// Loopback address to bind.
    #[arg(long, default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST))]
    pub bind: IpAddr,
    /// Seed for ids, sample credentials and random faults.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Size of the generated data set.
    #[arg(long, value_enum, default_value_t = DataSize::Small)]
    pub size: DataSize,
    /// Serve HTTPS with a generated local CA (its file is printed at start).
    #[arg(long)]
    pub tls: bool,
    /// Lifetime of OAuth access tokens, in seconds.
    #[arg(long, default_value_t = 3600, value_parser = clap::value_parser!(u64).range(1..))]
    pub access_token_ttl: u64,
    /// Skip the OAuth consent page.
    #[arg(long)]
    pub auto_approve: bool,
    /// Callback URL registered for the sample OAuth app (repeatable).
    #[arg(long = "oauth-callback", value_name = "URL")]
    pub oauth_callbacks: Vec<String>,
    /// Burst limit per site and method class, requests per second (0 turns it off);
    /// default: Jira's GET/POST 100, PUT/DELETE 50.
    #[arg(long)]
    pub rate_limit_per_second: Option<u32>,
    /// Hourly points quota for OAuth traffic (0 turns it off).
    #[arg(long, default_value_t = 65_000)]
    pub rate_limit_points_per_hour: u64,
    /// Probability (0–1) that a request fails with a random 5xx.
    #[arg(long, default_value_t = 0.0)]
    pub fail_rate: f64,
    /// Delay added to every request, in milliseconds.
    #[arg(long, default_value_t = 0)]
    pub latency_ms: u64,
    /// Seconds before writes show up in /search/jql.
    #[arg(long, default_value_t = 0)]
    pub index_lag_secs: u64,
    /// Print one line per request.
    #[arg(long)]
    pub log_requests: bool,
    /// Writes to one issue allowed per 2 seconds (0 turns this limit off).
    #[arg(long = "per-issue-writes-per-2s", default_value_t = 20)]
    pub per_issue_writes_per_2s: u32,
    /// Writes to one issue allowed per 30 seconds (0 turns this limit off).
    #[arg(long = "per-issue-writes-per-30s", default_value_t = 100)]
    pub per_issue_writes_per_30s: u32,
    /// Webhooks: delay before the first retry in milliseconds; retry n waits 2^(n-1) times it.
    #[arg(long, default_value_t = 1_000)]
    pub webhook_retry_backoff_ms: u64,
    /// Webhooks: how long one delivery attempt may take, in milliseconds.
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub webhook_timeout_ms: u64,
    /// Webhooks: share (0–1) of deliveries lost as if Jira had given up after its retries.
    #[arg(long, default_value_t = 0.0)]
    pub webhook_drop: f64,
    /// Webhooks: share (0–1) of deliveries sent twice (same identifier, the copy marked retry 1).
    #[arg(long, default_value_t = 0.0)]
    pub webhook_duplicate: f64,
    /// Webhooks: milliseconds every delivery is held before it is sent.
    #[arg(long, default_value_t = 0)]
    pub webhook_delay_ms: u64,
    /// Webhooks: share (0–1) of deliveries held back and sent after the next one.
    #[arg(long, default_value_t = 0.0)]
    pub webhook_reorder: f64,
}

impl SimArgs {
    /// The configuration these arguments describe.
    pub fn to_config(&self) -> Result<SimConfig, SimError> {
        let burst = match self.rate_limit_per_second {
            Some(n) => BurstLimits::uniform(n),
            None => BurstLimits::default(),
        };
        let knobs = Knobs {
            burst,
            quota_points_per_hour: (self.rate_limit_points_per_hour > 0)
                .then_some(self.rate_limit_points_per_hour),
            fail_rate: self.fail_rate,
            latency_ms: self.latency_ms,
            index_lag_secs: self.index_lag_secs,
            log_requests: self.log_requests,
            auto_approve: self.auto_approve,
            per_issue_writes_per_2s: self.per_issue_writes_per_2s,
            per_issue_writes_per_30s: self.per_issue_writes_per_30s,
            webhooks: WebhookKnobs {
                retry_backoff_ms: self.webhook_retry_backoff_ms,
                timeout_ms: self.webhook_timeout_ms,
                drop_share: self.webhook_drop,
                duplicate_share: self.webhook_duplicate,
                delay_ms: self.webhook_delay_ms,
                reorder_share: self.webhook_reorder,
            },
            ..Knobs::default()
        };
        knobs.validate().map_err(SimError::Config)?;
        let oauth_callbacks = if self.oauth_callbacks.is_empty() {
            vec![DEFAULT_OAUTH_CALLBACK.to_owned()]
        } else {
            self.oauth_callbacks.clone()
        };
        Ok(SimConfig {
            bind: SocketAddr::new(self.bind, self.port),
            seed: self.seed,
            size: self.size,
            tls: self.tls,
            access_token_ttl: Duration::from_secs(self.access_token_ttl),
            auto_approve: self.auto_approve,
            oauth_callbacks,
            knobs,
            ..SimConfig::default()
        })
    }
}

/// The banner `jiralink sim` prints: endpoints and sample credentials.
pub fn banner(handle: &SimHandle) -> String {
    let s = handle.samples();
    let control = handle.control();
    let mut out = String::new();
    let mut line = |l: String| {
        out.push_str(&l);
        out.push('\n');
    };
    line("jiralink Jira Cloud simulator".to_owned());
    line(format!(
        "  Site URL template:   {}",
        handle.site_url_template()
    ));
    for site in control.sites() {
        line(format!(
            "  Site {:<15} {}  (cloud id {})",
            format!("{}:", site.subdomain),
            handle.site_url(&site.subdomain),
            site.cloud_id
        ));
    }
    line(format!("  Default site root:   {}", handle.base_url()));
    line(format!("  API gateway:         {}", handle.api_gateway()));
    line(format!("  Auth server:         {}", handle.auth_server()));
    if let Some(ca) = handle.ca_cert_pem_path() {
        line(format!("  CA certificate:      {}", ca.display()));
    }
    line(format!(
        "  Control API:         {}/_sim/info",
        handle.base_url()
    ));
    line("Sample credentials".to_owned());
    line(format!("  E-mail:              {}", s.email));
    line(format!("  API token (classic): {}", s.api_token));
    line(format!("  API token (scoped):  {}", s.scoped_api_token));
    line(format!(
        "  Scoped token scopes: {}",
        s.scoped_token_scopes.join(" ")
    ));
    line(format!("  OAuth client id:     {}", s.oauth_client_id));
    line(format!("  OAuth client secret: {}", s.oauth_client_secret));
    for cb in &s.oauth_callbacks {
        line(format!("  OAuth callback URL:  {cb}"));
    }
    line("Point jiralink at it (jiralink.toml in the data directory):".to_owned());
    line("  [atlassian]".to_owned());
    line(format!(
        "  site_url_template = \"{}\"",
        handle.site_url_template()
    ));
    line(format!("  api_gateway = \"{}\"", handle.api_gateway()));
    line(format!("  auth_server = \"{}\"", handle.auth_server()));
    out
}

/// Starts the simulator, prints the banner and serves until Ctrl-C.
pub async fn run(args: SimArgs) -> Result<(), SimError> {
    let handle = Sim::start(args.to_config()?).await?;
    print!("{}", banner(&handle));
    println!("Press Ctrl-C to stop.");
    tokio::signal::ctrl_c().await?;
    handle.shutdown().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        sim: SimArgs,
    }

    #[test]
    fn flags_map_to_config() {
        let cli = Cli::try_parse_from([
            "sim",
            "--port",
            "0",
            "--rate-limit-per-second",
            "5",
            "--rate-limit-points-per-hour",
            "0",
            "--fail-rate",
            "0.25",
            "--oauth-callback",
            "http://localhost:1/cb",
            "--auto-approve",
        ])
        .expect("parses");
        let cfg = cli.sim.to_config().expect("valid");
        assert_eq!(cfg.knobs.burst, BurstLimits::uniform(5));
        assert_eq!(cfg.knobs.quota_points_per_hour, None);
        assert!(cfg.knobs.auto_approve);
        assert_eq!(
            cfg.oauth_callbacks,
            vec!["http://localhost:1/cb".to_owned()]
        );
    }

    #[test]
    fn per_issue_write_flags_map_to_knobs() {
        let defaults = Cli::try_parse_from(["sim"]).expect("parses");
        let knobs = defaults.sim.to_config().expect("valid").knobs;
        assert_eq!(
            (
                knobs.per_issue_writes_per_2s,
                knobs.per_issue_writes_per_30s
            ),
            (20, 100)
        );
        let cli = Cli::try_parse_from([
            "sim",
            "--per-issue-writes-per-2s",
            "0",
            "--per-issue-writes-per-30s",
            "7",
        ])
        .expect("parses");
        let knobs = cli.sim.to_config().expect("valid").knobs;
        assert_eq!(
            (
                knobs.per_issue_writes_per_2s,
                knobs.per_issue_writes_per_30s
            ),
            (0, 7)
        );
    }

    #[test]
    fn webhook_flags_map_to_knobs() {
        let defaults = Cli::try_parse_from(["sim"]).expect("parses");
        assert_eq!(
            defaults.sim.to_config().expect("valid").knobs.webhooks,
            WebhookKnobs::default()
        );
        let cli = Cli::try_parse_from([
            "sim",
            "--webhook-retry-backoff-ms",
            "5",
            "--webhook-timeout-ms",
            "200",
            "--webhook-drop",
            "0.1",
            "--webhook-duplicate",
            "0.2",
            "--webhook-delay-ms",
            "30",
            "--webhook-reorder",
            "0.3",
        ])
        .expect("parses");
        assert_eq!(
            cli.sim.to_config().expect("valid").knobs.webhooks,
            WebhookKnobs {
                retry_backoff_ms: 5,
                timeout_ms: 200,
                drop_share: 0.1,
                duplicate_share: 0.2,
                delay_ms: 30,
                reorder_share: 0.3,
            }
        );
        let bad = Cli::try_parse_from(["sim", "--webhook-drop", "1.5"]).expect("parses");
        assert!(bad.sim.to_config().is_err());
    }

    #[test]
    fn invalid_fail_rate_is_rejected() {
        let cli = Cli::try_parse_from(["sim", "--fail-rate", "2"]).expect("parses");
        assert!(cli.sim.to_config().is_err());
    }
}
