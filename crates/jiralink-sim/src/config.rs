//! Start-up configuration of the simulator ([`SimConfig`]).
//!
//! Values that may change while the simulator runs (rate limits, faults, latency, index lag,
//! auto-approve) live in [`Knobs`]; `SimConfig::knobs` is only their initial value.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::clock::ClockMode;
use crate::knobs::Knobs;

/// How much sample data the deterministic generator creates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum DataSize {
    /// A handful of projects and issues: fast start, readable by eye.
    #[default]
    Small,
    /// Enough data to page through.
    Medium,
    /// 1,000,000 issues on the default site, generated on demand for load and paging tests.
    Large,
}

/// Default callback URL registered for the sample OAuth app.
pub const DEFAULT_OAUTH_CALLBACK: &str = "http://127.0.0.1:8080/connection/oauth2callback";

/// Everything the simulator needs to start.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Listen address; must be a loopback address. Default `127.0.0.1:0` (any free port).
    pub bind: SocketAddr,
    /// Seed for every derived id, sample credential and the fault RNG.
    pub seed: u64,
    /// Size of the generated data set.
    pub size: DataSize,
    /// Serve HTTPS with a generated CA (see [`crate::tls`]).
    pub tls: bool,
    /// Lifetime of OAuth access tokens (Atlassian: 1 hour).
    pub access_token_ttl: Duration,
    /// Lifetime of authorization codes (Atlassian: 10 minutes).
    pub code_ttl: Duration,
    /// How long a rotated refresh token may still be reused (Atlassian: 10 minutes).
    pub refresh_reuse_leeway: Duration,
    /// A refresh token unused for this long expires (Atlassian: 90 days).
    pub refresh_idle_expiry: Duration,
    /// A grant expires this long after consent (Atlassian: 365 days).
    pub refresh_absolute_expiry: Duration,
    /// Skip the consent page: `/authorize` redirects with a code at once.
    pub auto_approve: bool,
    /// Callback URLs registered for the sample OAuth app (exact match).
    pub oauth_callbacks: Vec<String>,
    /// Initial knob values.
    pub knobs: Knobs,
    /// How the clock starts.
    pub clock: ClockMode,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            bind: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            seed: 1,
            size: DataSize::Small,
            tls: false,
            access_token_ttl: Duration::from_secs(3600),
            code_ttl: Duration::from_secs(600),
            refresh_reuse_leeway: Duration::from_secs(600),
            refresh_idle_expiry: Duration::from_secs(90 * 86_400),
            refresh_absolute_expiry: Duration::from_secs(365 * 86_400),
            auto_approve: false,
            oauth_callbacks: vec![DEFAULT_OAUTH_CALLBACK.to_owned()],
            knobs: Knobs::default(),
            clock: ClockMode::System,
        }
    }
}

impl SimConfig {
    /// A configuration for tests: manual clock at a fixed instant, everything else default.
    pub fn for_tests() -> Self {
        Self {
            clock: ClockMode::Manual(time::macros::datetime!(2026-01-05 09:30 UTC)),
            ..Self::default()
        }
    }
}
