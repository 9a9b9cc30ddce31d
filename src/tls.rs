//! TLS settings for talking to the Console: rustls with the system's CA store.
//!
//! The system store is read the way OpenSSL-based tools read it, so `SSL_CERT_FILE` and
//! `SSL_CERT_DIR` work; `ca_file` adds a private CA on top. TLS 1.2 is the oldest version
//! offered. A host with no CA certificate at all gets an error that says so.

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, bail};
use rustls::RootCertStore;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

/// Builds the client TLS configuration: system roots plus those in `ca_file`.
pub fn client_config(ca_file: Option<&Path>) -> anyhow::Result<rustls::ClientConfig> {
    let mut roots = RootCertStore::empty();
    let system = rustls_native_certs::load_native_certs();
    let (added, _ignored) = roots.add_parsable_certificates(system.certs);
    tracing::debug!(certificates = added, "loaded the system CA store");
    if let Some(path) = ca_file {
        add_ca_file(&mut roots, path)?;
    }
    if roots.is_empty() {
        bail!(
            "no CA certificates found (install the ca-certificates package, \
             set SSL_CERT_FILE, or set 'ca_file')"
        );
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .context("failed to set up TLS")?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(config)
}

fn add_ca_file(roots: &mut RootCertStore, path: &Path) -> anyhow::Result<()> {
    let shown = path.display();
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
        .and_then(|iter| iter.collect())
        .map_err(|e| anyhow::anyhow!("{e}"))
        .with_context(|| format!("failed to read CA file '{shown}'"))?;
    if certs.is_empty() {
        bail!("CA file '{shown}' holds no PEM certificate");
    }
    for cert in certs {
        roots
            .add(cert)
            .with_context(|| format!("failed to use a certificate in CA file '{shown}'"))?;
    }
    Ok(())
}
