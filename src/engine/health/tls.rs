//! TLS for health checks (`check-ssl`), as haproxy 2.6.12 runs them with `verify none`:
//! any server certificate is accepted (the handshake's signatures are still checked), the
//! `check-sni` name is sent as SNI (nothing without it), no ALPN is offered, and the global
//! `ssl-default-server-*` settings apply (versions, ciphers, curves, `no-tls-tickets`).
//! TLS sessions are resumed across checks, as HAProxy does.
//!
//! Failures are reported with HAProxy's words (compared with haproxy 2.6.12 against a plain
//! TCP server, a silent one and one that resets): a handshake that fails is `Layer6 invalid
//! response` with `SSL handshake failure`, followed by the socket error in parentheses when
//! there is one (`SSL handshake failure (Connection reset by peer)`); a handshake that does
//! not finish in time is `Layer6 timeout`; a check that only connects passes with `Layer6
//! check passed`.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context as _;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::Tls12Resumption;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, SignatureScheme, SupportedCipherSuite};
use tokio_rustls::TlsConnector;

use crate::config::ir::{Config, Server, TlsDefaults};
use crate::engine::tls::{map_curves, map_tls12_ciphers, map_tls13_suites, protocol_versions};

/// `verify none`: every certificate chain is accepted; handshake signatures are verified
/// with the provider's algorithms.
#[derive(Debug)]
struct NoVerify(Arc<CryptoProvider>);

impl ServerCertVerifier for NoVerify {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// The rustls client configuration of TLS checks, and the warnings for settings rustls
/// cannot honour (unknown cipher or curve names, skipped as for `bind` lines). Fails when
/// no TLS version is left (rustls speaks TLSv1.2 and TLSv1.3 only).
pub fn client_config(defaults: &TlsDefaults) -> anyhow::Result<(Arc<ClientConfig>, Vec<String>)> {
    let mut warnings = Vec::new();
    let mut prov = crate::engine::tls::base_provider();
    let versions = protocol_versions(defaults.min_ver, defaults.max_ver, &[])
        .context("ssl-default-server-options")?;
    let (mut s13, mut s12): (Vec<SupportedCipherSuite>, Vec<SupportedCipherSuite>) = prov
        .cipher_suites
        .iter()
        .copied()
        .partition(|s| s.version() == &rustls::version::TLS13);
    if let Some(spec) = defaults.ciphers.as_deref() {
        let (sel, w) = map_tls12_ciphers(spec);
        warnings.extend(w);
        if let Some(sel) = sel {
            s12 = sel;
        }
    }
    if let Some(spec) = defaults.ciphersuites.as_deref() {
        let (sel, w) = map_tls13_suites(spec);
        warnings.extend(w);
        if let Some(sel) = sel {
            s13 = sel;
        }
    }
    prov.cipher_suites = s13.into_iter().chain(s12).collect();
    if let Some(spec) = defaults.curves.as_deref() {
        let (sel, w) = map_curves(spec);
        warnings.extend(w);
        if let Some(sel) = sel {
            prov.kx_groups = sel;
        }
    }
    let prov = Arc::new(prov);
    let mut cfg = ClientConfig::builder_with_provider(prov.clone())
        .with_protocol_versions(&versions)
        .context("TLS configuration of health checks")?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(NoVerify(prov)))
        .with_no_client_auth();
    if defaults.no_tls_tickets {
        cfg.resumption = cfg
            .resumption
            .tls12_resumption(Tls12Resumption::SessionIdOnly);
    }
    Ok((Arc::new(cfg), warnings))
}

/// Whether some server runs TLS checks.
pub fn needed(config: &Config) -> bool {
    config
        .backends
        .iter()
        .any(|b| b.servers.iter().any(|s| s.check && s.check_ssl))
}

/// Fails when TLS checks are configured but cannot run (checked before the engine starts).
pub fn validate(config: &Config) -> anyhow::Result<()> {
    if needed(config) {
        client_config(&config.global.ssl_default_server)?;
    }
    Ok(())
}

/// What one server's TLS checks use.
#[derive(Clone)]
pub struct CheckTls {
    pub connector: TlsConnector,
    /// The `check-sni` name; without it, the address (rustls then sends no SNI).
    pub name: ServerName<'static>,
}

impl std::fmt::Debug for CheckTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CheckTls")
            .field("name", &self.name)
            .finish()
    }
}

impl CheckTls {
    pub fn new(cfg: &Arc<ClientConfig>, srv: &Server, target: SocketAddr) -> CheckTls {
        // The linker accepts only DNS names for `check-sni`.
        let name = srv
            .check_sni
            .as_deref()
            .and_then(|n| ServerName::try_from(n.to_string()).ok())
            .unwrap_or(ServerName::IpAddress(target.ip().into()));
        CheckTls {
            connector: TlsConnector::from(cfg.clone()),
            name,
        }
    }
}

/// HAProxy's description of a failed handshake (`CO_ER_SSL_HANDSHAKE`, with `strerror()`
/// when the socket reported an error).
pub fn handshake_failure(e: &io::Error) -> String {
    match e.raw_os_error() {
        Some(_) => format!("SSL handshake failure ({})", super::rules::strerror(e)),
        None => "SSL handshake failure".to_string(),
    }
}
