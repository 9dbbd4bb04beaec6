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
//!
//! Every answer is read by [`read_body`] and nothing else, with a cap on its size: a
//! `Content-Length` above the cap is refused before a byte of the body is read, and a body
//! without one (chunked, or compressed) is read chunk by chunk and dropped as soon as it passes
//! the cap, so a broken or hostile server cannot make jiralink hold more than the cap plus one
//! chunk per request.

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

/// The largest answer jiralink reads from a Jira API: 64 MiB.
///
/// No legitimate answer comes near it. The largest pages Jira sends are a `/search/jql` or
/// `issue/bulkfetch` page of at most 100 issues with every field (Jira lowers `maxResults`
/// when many fields are asked for, and embeds at most 20 comments and 20 changelog entries per
/// issue), a worklog page of at most 5,000 worklogs and a changelog bulk fetch of at most
/// 10,000 histories: each a few MiB, and 64 MiB would be 640 KiB per issue of a full search
/// page. Attachments are never downloaded. Each request holds at most this much (a connection
/// runs at most 10 requests at a time), so memory stays bounded whatever a server sends.
pub const MAX_RESPONSE_BYTES: u64 = 64 * 1024 * 1024;

/// The largest answer of the OAuth 2.0 token endpoint jiralink reads: 64 KiB. A token
/// response is a JSON object of an access token (a JWT of a few KiB at most), a refresh token,
/// a lifetime and the granted scopes.
pub const MAX_TOKEN_RESPONSE_BYTES: u64 = 64 * 1024;

/// Reads the body of `response`, at most `limit` bytes of it (after decompression).
///
/// A declared `Content-Length` above `limit` is refused before reading; otherwise the body is
/// read one chunk at a time and reading stops at the first chunk that takes it past `limit`.
///
/// # Errors
/// [`AtlassianError::ResponseTooLarge`] past the limit; [`AtlassianError::Transport`] when the
/// body cannot be read.
pub async fn read_body(
    mut response: reqwest::Response,
    limit: u64,
) -> Result<Vec<u8>, AtlassianError> {
    let status = response.status().as_u16();
    // `content_length` is `None` when reqwest decompresses: then only the decoded size counts.
    let declared = response.content_length();
    if let Some(length) = declared.filter(|&l| l > limit) {
        return Err(AtlassianError::ResponseTooLarge {
            status,
            limit,
            declared: Some(length),
            received: 0,
        });
    }
    // A declared length at most `limit` (checked above) sizes the buffer; without one it grows.
    let mut body =
        Vec::with_capacity(usize::try_from(declared.unwrap_or(0).min(1 << 20)).unwrap_or_default());
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| AtlassianError::from_reqwest(&e))?
    {
        let received = (body.len() + chunk.len()) as u64;
        if received > limit {
            return Err(AtlassianError::ResponseTooLarge {
                status,
                limit,
                declared,
                received,
            });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

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
