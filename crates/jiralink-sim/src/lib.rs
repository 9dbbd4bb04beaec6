//! jiralink-sim: a local simulator of Jira Cloud and Atlassian's identity platform.
//!
//! One port serves the sites (`/site/{subdomain}/rest/…`, `{subdomain}.localhost`, and the
//! default site `demo` at `/rest/…`), the API gateway (`/ex/jira/{cloudId}/…`,
//! `/jsm/csm/cloudid/{cloudId}/…`), the OAuth 2.0 authorization server (`/authorize`,
//! `/oauth/token`, `/oauth/token/accessible-resources`, `/me`) and a control API (`/_sim/…`).
//!
//! ```no_run
//! # async fn demo() -> Result<(), jiralink_sim::SimError> {
//! let sim = jiralink_sim::Sim::start(jiralink_sim::SimConfig::for_tests()).await?;
//! let control = sim.control();
//! control.fail_next(1, 503, Some(2));
//! control.advance(std::time::Duration::from_secs(3600));
//! sim.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! Building blocks for product modules: [`state::SimState`] (shared state, typed slots),
//! [`auth::Caller`] (authentication + [`auth::Caller::require`] scope checks),
//! [`errors::ApiError`] (Atlassian error bodies), [`platform::versioned`] (route registration),
//! [`state::SimState::check_issue_write`] (per-issue write limits) and [`server::QuotaCost`].
//! Writes through [`data::SiteData`] are reported to [`webhooks`] on their own (see
//! [`data::changes`]). See docs/simulator.md.

pub mod agile;
pub mod auth;
pub mod cli;
pub mod clock;
pub mod config;
pub mod control;
pub mod csm;
pub mod data;
pub mod error;
pub mod errors;
pub mod identity;
pub mod jql;
pub mod jsm;
pub mod knobs;
pub mod multipart;
pub mod oauth;
pub mod platform;
pub mod retry_watch;
pub mod scopes;
pub mod server;
pub mod state;
mod tls;
pub mod webhooks;

pub use clock::{ClockMode, SimClock};
pub use config::{DataSize, SimConfig};
pub use control::Control;
pub use error::SimError;
pub use knobs::Knobs;
pub use server::{Sim, SimHandle};
