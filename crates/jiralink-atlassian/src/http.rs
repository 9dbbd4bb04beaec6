//! The one place that builds an HTTP client (`clippy.toml` forbids the others).
//!
//! Every client:
//! - verifies TLS with rustls (ring provider) against the Mozilla root set, plus any extra CA
//!   given in [`HttpConfig::extra_root_ca_pem`] (the simulator's `--tls` CA, a corporate proxy);
//! - has connect, read and whole-request timeouts;
//! - never follows redirects: Jira's APIs do not redirect, and following one could carry the
//!   `Authorization` header to another host, so a 3xx surfaces as an error instead;
//! - sends `User-Agent: jiralink/<version> (+<repository>)`, asks for gzip, pools connections,
//!   and does not read proxy settings from the environment;
//! - does no retries of its own: [`crate::retry`] decides.

use std::{sync::Arc, time::Duration};

use rustls::{
    ClientConfig, RootCertStore,
    pki_types::{CertificateDer, pem::PemObject as _},
};

use crate::error::AtlassianError;

/// The `User-Agent` sent, before any suffix.
pub const USER_AGENT: &str = concat!(
    "jiralink/",
    env!("CARGO_PKG_VERSION"),
    " (+",
    env!("CARGO_PKG_REPOSITORY"),
    ")"
);

/// Settings of the HTTP client.
#[derive(Clone, PartialEq, Eq)]
pub struct HttpConfig {
    /// Time to establish a connection (TCP and TLS).
    pub connect_timeout: Duration,
    /// Longest pause while reading a response.
    pub read_timeout: Duration,
    /// Longest time for a whole request, response body included.
    pub request_timeout: Duration,
    /// Appended to the user agent after a space, e.g. `sync-worker`.
    pub user_agent_suffix: Option<String>,
    /// PEM certificates trusted in addition to the public roots.
    pub extra_root_ca_pem: Option<Vec<u8>>,
    /// How long an idle pooled connection is kept.
    pub pool_idle_timeout: Duration,
    /// Idle connections kept per host.
    pub pool_max_idle_per_host: usize,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(10),
            read_timeout: Duration::from_secs(30),
            request_timeout: Duration::from_secs(60),
            user_agent_suffix: None,
            extra_root_ca_pem: None,
            pool_idle_timeout: Duration::from_secs(90),
            pool_max_idle_per_host: 16,
        }
    }
}

impl std::fmt::Debug for HttpConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpConfig")
            .field("connect_timeout", &self.connect_timeout)
            .field("read_timeout", &self.read_timeout)
            .field("request_timeout", &self.request_timeout)
            .field("user_agent_suffix", &self.user_agent_suffix)
            .field(
                "extra_root_ca_pem",
                &self
                    .extra_root_ca_pem
                    .as_ref()
                    .map(|p| format!("{} bytes", p.len())),
            )
            .field("pool_idle_timeout", &self.pool_idle_timeout)
            .field("pool_max_idle_per_host", &self.pool_max_idle_per_host)
            .finish()
    }
}

impl HttpConfig {
    /// The full user agent.
    #[must_use]
    pub fn user_agent(&self) -> String {
        match self.user_agent_suffix.as_deref().map(str::trim) {
            Some(s) if !s.is_empty() => format!("{USER_AGENT} {s}"),
            _ => USER_AGENT.to_owned(),
        }
    }

    /// Reads the extra CA from a PEM file.
    ///
    /// # Errors
    /// [`AtlassianError::Client`] when the file cannot be read.
    pub fn trust_ca_file(mut self, path: &std::path::Path) -> Result<Self, AtlassianError> {
        let pem = std::fs::read(path).map_err(|e| AtlassianError::Client {
            detail: format!("cannot read the CA file {}: {e}", path.display()),
        })?;
        self.extra_root_ca_pem = Some(pem);
        Ok(self)
    }
}

fn tls_config(cfg: &HttpConfig) -> Result<ClientConfig, AtlassianError> {
    let mut roots = RootCertStore::empty();
    roots.add_parsable_certificates(webpki_root_certs::TLS_SERVER_ROOT_CERTS.iter().cloned());
    if let Some(pem) = &cfg.extra_root_ca_pem {
        let mut added = 0;
        for cert in CertificateDer::pem_slice_iter(pem) {
            let cert = cert.map_err(|e| AtlassianError::Client {
                detail: format!("the extra CA is not valid PEM ({e})"),
            })?;
            roots.add(cert).map_err(|e| AtlassianError::Client {
                detail: format!("the extra CA certificate is not usable ({e})"),
            })?;
            added += 1;
        }
        if added == 0 {
            return Err(AtlassianError::Client {
                detail:
                    "the extra CA holds no PEM certificate (expected -----BEGIN CERTIFICATE-----)"
                        .to_owned(),
            });
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| AtlassianError::Client {
            detail: format!("tls setup failed ({e})"),
        })?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(config)
}

/// Builds the HTTP client every request of jiralink goes through.
///
/// # Errors
/// [`AtlassianError::Client`] when the extra CA is unusable or the client cannot be built.
#[expect(
    clippy::disallowed_methods,
    reason = "the one audited client constructor"
)]
pub fn build_client(cfg: &HttpConfig) -> Result<reqwest::Client, AtlassianError> {
    let tls = tls_config(cfg)?;
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .connect_timeout(cfg.connect_timeout)
        .read_timeout(cfg.read_timeout)
        .timeout(cfg.request_timeout)
        .redirect(reqwest::redirect::Policy::none())
        .retry(reqwest::retry::never())
        .referer(false)
        .no_proxy()
        .user_agent(cfg.user_agent())
        .gzip(true)
        .pool_idle_timeout(cfg.pool_idle_timeout)
        .pool_max_idle_per_host(cfg.pool_max_idle_per_host)
        .build()
        .map_err(|e| AtlassianError::Client {
            detail: crate::error::truncate(&e.without_url().to_string()),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_agent_names_jiralink_and_its_version() {
        let cfg = HttpConfig::default();
        assert!(
            cfg.user_agent().starts_with("jiralink/0."),
            "{}",
            cfg.user_agent()
        );
        assert!(
            cfg.user_agent().contains("(+https://"),
            "{}",
            cfg.user_agent()
        );
        let cfg = HttpConfig {
            user_agent_suffix: Some(" sync ".into()),
            ..HttpConfig::default()
        };
        assert!(cfg.user_agent().ends_with(") sync"));
    }

    #[test]
    fn builds_with_and_without_an_extra_ca() {
        build_client(&HttpConfig::default()).unwrap();
        let err = build_client(&HttpConfig {
            extra_root_ca_pem: Some(b"not a certificate".to_vec()),
            ..HttpConfig::default()
        })
        .unwrap_err();
        assert!(err.to_string().contains("no PEM certificate"), "{err}");
        let err = HttpConfig::default()
            .trust_ca_file(std::path::Path::new("/nonexistent/ca.pem"))
            .unwrap_err();
        assert!(err.to_string().contains("cannot read the CA file"), "{err}");
    }

    #[test]
    fn debug_does_not_dump_the_ca() {
        let cfg = HttpConfig {
            extra_root_ca_pem: Some(vec![b'x'; 10]),
            ..HttpConfig::default()
        };
        assert!(format!("{cfg:?}").contains("10 bytes"));
    }
}
