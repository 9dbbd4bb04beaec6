//! TLS for `--tls`: a throw-away certificate authority is generated at start, its certificate
//! written to `ca.pem` in a private temporary directory (removed on shutdown), and a leaf
//! certificate for `127.0.0.1`, `::1`, `localhost` and `*.localhost` (so `Host`-routed sites such as
//! `demo.localhost` validate) is signed by it. Clients trust the simulator by adding that one CA
//! file; nothing is installed system-wide.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tempfile::TempDir;
use time::OffsetDateTime;
use tokio_rustls::TlsAcceptor;

use crate::error::SimError;

/// The generated CA and the acceptor serving the leaf certificate.
pub(crate) struct TlsMaterial {
    pub(crate) acceptor: TlsAcceptor,
    /// Keeps the directory alive; dropping it deletes the CA file.
    _dir: TempDir,
    ca_path: PathBuf,
}

impl std::fmt::Debug for TlsMaterial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsMaterial")
            .field("ca_path", &self.ca_path)
            .finish_non_exhaustive()
    }
}

impl TlsMaterial {
    /// Path of the PEM file holding the CA certificate.
    pub(crate) fn ca_path(&self) -> &Path {
        &self.ca_path
    }
}

fn tls_err(e: impl std::fmt::Display) -> SimError {
    SimError::Tls(e.to_string())
}

/// Generates a CA and a leaf certificate valid from `now` minus a day for a year.
pub(crate) fn generate(now: OffsetDateTime) -> Result<TlsMaterial, SimError> {
    let not_before = now - time::Duration::days(1);
    let not_after = now + time::Duration::days(365);

    let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(tls_err)?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "jiralink-sim local CA");
    ca_params
        .distinguished_name
        .push(DnType::OrganizationName, "jiralink simulator");
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    ca_params.not_before = not_before;
    ca_params.not_after = not_after;
    let ca_key = KeyPair::generate().map_err(tls_err)?;
    let ca_cert = ca_params.self_signed(&ca_key).map_err(tls_err)?;
    let issuer = Issuer::new(ca_params, ca_key);

    let mut leaf_params =
        CertificateParams::new(vec!["localhost".to_owned(), "*.localhost".to_owned()])
            .map_err(tls_err)?;
    leaf_params
        .subject_alt_names
        .push(SanType::IpAddress(std::net::IpAddr::from([127, 0, 0, 1])));
    leaf_params
        .distinguished_name
        .push(DnType::CommonName, "localhost");
    leaf_params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    leaf_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    leaf_params.not_before = not_before;
    leaf_params.not_after = not_after;
    let leaf_key = KeyPair::generate().map_err(tls_err)?;
    let leaf_cert = leaf_params.signed_by(&leaf_key, &issuer).map_err(tls_err)?;

    let dir = tempfile::Builder::new()
        .prefix("jiralink-sim-tls-")
        .tempdir()?;
    let ca_path = dir.path().join("ca.pem");
    std::fs::write(&ca_path, ca_cert.pem())?;

    let chain = vec![CertificateDer::from(leaf_cert.der().to_vec())];
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der()));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let server_config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(tls_err)?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(tls_err)?;
    Ok(TlsMaterial {
        acceptor: TlsAcceptor::from(Arc::new(server_config)),
        _dir: dir,
        ca_path,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_a_pem_ca_file() {
        let material = generate(time::macros::datetime!(2026-01-01 00:00 UTC)).expect("tls");
        let pem = std::fs::read_to_string(material.ca_path()).expect("ca file");
        assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"));
    }
}
