//! TLS termination for `bind ... ssl`: one rustls `ServerConfig` per bind, built from the
//! IR's [`BindTls`] (falling back to `ssl-default-bind-*` from `global`).
//!
//! - Certificates: HAProxy's SNI rules, in [`SniResolver`]: exact name, then wildcard
//!   (`*.example.com` covers one label), then the FIRST certificate as the default when the
//!   client sends no SNI or nothing matches, unless `strict-sni`. When several certificates
//!   cover a name (RSA + ECDSA), the first one whose key can sign with a scheme the client
//!   offers wins.
//! - Versions: rustls only has TLS 1.2 and 1.3. `ssl-min-ver`/`ssl-max-ver`/`no-tlsv1x`
//!   select among those; a bind that leaves neither is a load error ([`server_config`]).
//! - Ciphers: OpenSSL cipher strings are mapped to the rustls suites that exist; names rustls
//!   cannot offer (DHE, CBC, ...) are ignored with a warning, never an error, because stock
//!   configs (Debian's) list them.
//! - Server cipher preference is on, as HAProxy sets it by default.
//! - Crypto ([`base_provider`]): key exchange, signatures and session tickets from rustls's
//!   aws-lc-rs provider (its X25519 takes half the time of ring's, and its RSA signatures a
//!   third), cipher suites (AEAD, HKDF, transcript hash) from ring's, whose HMAC-SHA384 key
//!   schedule costs less per handshake than aws-lc-rs's (measured: 57 us of server CPU per
//!   TLS 1.3 ECDSA handshake mixed, 65 us all aws-lc-rs, 79 us all ring). The key-exchange
//!   groups offered by default are HAProxy 2.6's (OpenSSL 3.0's) that rustls has: X25519,
//!   P-256, P-384, without the post-quantum hybrids aws-lc-rs could add.

use std::collections::HashMap;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, bail, Context as _};
use rustls::crypto::aws_lc_rs as provider;
use rustls::crypto::ring as suites;
use rustls::crypto::{CryptoProvider, SupportedKxGroup};
use rustls::pki_types::{
    CertificateDer, PrivateKeyDer, PrivatePkcs1KeyDer, PrivatePkcs8KeyDer, PrivateSec1KeyDer,
};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::{ServerConfig, SupportedCipherSuite, SupportedProtocolVersion};
use tokio::net::TcpStream;

use crate::config::ir::{BindTls, Certificate, PrivateKey, TlsDefaults, TlsVersion};

// ---------------------------------------------------------------------------------------
// Certificates and SNI

/// One loaded certificate with the names it serves (lower-case).
#[derive(Debug)]
struct Entry {
    key: Arc<CertifiedKey>,
}

/// HAProxy-style certificate selection by SNI.
#[derive(Debug)]
pub struct SniResolver {
    entries: Vec<Entry>,
    /// Exact name → entries in load order.
    exact: HashMap<String, Vec<usize>>,
    /// Wildcard suffix (`example.com` for `*.example.com`) → entries in load order.
    wild: HashMap<String, Vec<usize>>,
    strict: bool,
}

impl SniResolver {
    /// Indices of the entries that would serve `sni` (without the default fallback).
    fn candidates(&self, sni: &str) -> Option<&[usize]> {
        let sni = sni.trim_end_matches('.').to_ascii_lowercase();
        if let Some(v) = self.exact.get(&sni) {
            return Some(v);
        }
        let (_, rest) = sni.split_once('.')?;
        self.wild.get(rest).map(|v| v.as_slice())
    }

    /// The certificate chosen for `sni` given the signature schemes the client offers.
    /// Public for tests and for the runtime API.
    pub fn select(
        &self,
        sni: Option<&str>,
        schemes: &[rustls::SignatureScheme],
    ) -> Option<Arc<CertifiedKey>> {
        if let Some(c) = sni.and_then(|s| self.candidates(s)) {
            let pick = c
                .iter()
                .find(|&&i| self.entries[i].key.key.choose_scheme(schemes).is_some())
                .or_else(|| c.first());
            if let Some(&i) = pick {
                return Some(self.entries[i].key.clone());
            }
        }
        if self.strict {
            return None;
        }
        self.entries.first().map(|e| e.key.clone())
    }
}

impl ResolvesServerCert for SniResolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        super::tls_stream::note_sni(hello.server_name());
        self.select(hello.server_name(), hello.signature_schemes())
    }
}

fn key_der(k: &PrivateKey) -> PrivateKeyDer<'static> {
    match k {
        PrivateKey::Pkcs8(v) => PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(v.clone())),
        PrivateKey::Pkcs1(v) => PrivateKeyDer::Pkcs1(PrivatePkcs1KeyDer::from(v.clone())),
        PrivateKey::Sec1(v) => PrivateKeyDer::Sec1(PrivateSec1KeyDer::from(v.clone())),
    }
}

/// Builds the resolver for a bind's certificates, checking each key matches its leaf.
pub fn build_resolver(
    certs: &[Certificate],
    strict_sni: bool,
    prov: &CryptoProvider,
) -> anyhow::Result<SniResolver> {
    if certs.is_empty() {
        bail!("no SSL certificate specified (use 'crt')");
    }
    let mut r = SniResolver {
        entries: Vec::new(),
        exact: HashMap::new(),
        wild: HashMap::new(),
        strict: strict_sni,
    };
    for c in certs {
        if c.chain.is_empty() {
            bail!(
                "unable to load certificate from file '{}'",
                c.path.display()
            );
        }
        let chain: Vec<CertificateDer<'static>> = c
            .chain
            .iter()
            .map(|d| CertificateDer::from(d.clone()))
            .collect();
        let signing = prov
            .key_provider
            .load_private_key(key_der(&c.key))
            .map_err(|e| {
                anyhow!(
                    "unable to load private key from '{}': {e}",
                    c.path.display()
                )
            })?;
        let ck = CertifiedKey::new(chain, signing);
        match ck.keys_match() {
            Ok(()) | Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::Unknown)) => {}
            Err(_) => bail!(
                "inconsistencies between private key and certificate loaded '{}'",
                c.path.display()
            ),
        }
        // The config layer extracted the SAN dNSNames and CNs when it loaded the PEM.
        let names = c.names.clone();
        let idx = r.entries.len();
        r.entries.push(Entry { key: Arc::new(ck) });
        for n in names {
            let n = n.trim_end_matches('.').to_ascii_lowercase();
            let list = match n.strip_prefix("*.") {
                Some(suffix) => r.wild.entry(suffix.to_string()).or_default(),
                None => r.exact.entry(n).or_default(),
            };
            if !list.contains(&idx) {
                list.push(idx);
            }
        }
    }
    Ok(r)
}

// ---------------------------------------------------------------------------------------
// Versions

/// The rustls protocol versions allowed by min/max/disabled, or an error when none is left.
pub fn protocol_versions(
    min: Option<TlsVersion>,
    max: Option<TlsVersion>,
    disabled: &[TlsVersion],
) -> anyhow::Result<Vec<&'static SupportedProtocolVersion>> {
    let mut v: Vec<&'static SupportedProtocolVersion> = Vec::new();
    for (ver, rv) in [
        (TlsVersion::Tls12, &rustls::version::TLS12),
        (TlsVersion::Tls13, &rustls::version::TLS13),
    ] {
        if min.is_some_and(|m| ver < m) || max.is_some_and(|m| ver > m) || disabled.contains(&ver) {
            continue;
        }
        v.push(rv);
    }
    if v.is_empty() {
        bail!(
            "no TLS version left to offer (min {:?}, max {:?}, disabled {:?}): only TLSv1.2 and TLSv1.3 are supported",
            min,
            max,
            disabled
        );
    }
    Ok(v)
}

// ---------------------------------------------------------------------------------------
// Ciphers and curves

/// A TLS 1.2 suite with the OpenSSL attributes cipher strings select on.
struct Tls12Suite {
    name: &'static str,
    suite: SupportedCipherSuite,
    attrs: &'static [&'static str],
}

fn tls12_suites() -> Vec<Tls12Suite> {
    use suites::cipher_suite::*;
    let mk = |name, suite, extra: &'static [&'static str]| Tls12Suite {
        name,
        suite,
        attrs: extra,
    };
    vec![
        mk(
            "ECDHE-ECDSA-AES256-GCM-SHA384",
            TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
            &["aECDSA", "ECDSA", "AESGCM", "AES", "AES256", "SHA384"],
        ),
        mk(
            "ECDHE-RSA-AES256-GCM-SHA384",
            TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
            &["aRSA", "AESGCM", "AES", "AES256", "SHA384"],
        ),
        mk(
            "ECDHE-ECDSA-CHACHA20-POLY1305",
            TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
            &["aECDSA", "ECDSA", "CHACHA20", "SHA256"],
        ),
        mk(
            "ECDHE-RSA-CHACHA20-POLY1305",
            TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
            &["aRSA", "CHACHA20", "SHA256"],
        ),
        mk(
            "ECDHE-ECDSA-AES128-GCM-SHA256",
            TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
            &["aECDSA", "ECDSA", "AESGCM", "AES", "AES128", "SHA256"],
        ),
        mk(
            "ECDHE-RSA-AES128-GCM-SHA256",
            TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
            &["aRSA", "AESGCM", "AES", "AES128", "SHA256"],
        ),
    ]
}

/// Aliases every rustls TLS 1.2 suite belongs to.
const TLS12_COMMON_ALIASES: [&str; 12] = [
    "ALL", "DEFAULT", "HIGH", "ECDHE", "EECDH", "ECDH", "kECDHE", "kEECDH", "kECDH", "TLSv1.2",
    "AEAD", "FIPS",
];

/// Does `suite` match one `+`-joined component of a cipher-string token?
fn suite_matches(s: &Tls12Suite, comp: &str) -> bool {
    s.name.eq_ignore_ascii_case(comp)
        || TLS12_COMMON_ALIASES.contains(&comp)
        || s.attrs.contains(&comp)
}

/// Maps an OpenSSL TLS ≤1.2 cipher string (`ciphers`, `ssl-default-bind-ciphers`) to the
/// rustls suites it selects, in order. Returns the suites and the warnings to print for
/// entries rustls cannot offer. `None` if nothing usable remains (the caller keeps the
/// defaults).
pub fn map_tls12_ciphers(spec: &str) -> (Option<Vec<SupportedCipherSuite>>, Vec<String>) {
    let all = tls12_suites();
    let mut chosen: Vec<usize> = Vec::new();
    let mut banned: Vec<usize> = Vec::new();
    let mut warnings = Vec::new();
    for tok in spec
        .split([':', ',', ' '])
        .map(str::trim)
        .filter(|t| !t.is_empty())
    {
        if tok.starts_with('@') {
            continue; // @STRENGTH, @SECLEVEL=n
        }
        let (op, body) = match tok.as_bytes()[0] {
            b'!' => ('!', &tok[1..]),
            b'-' => ('-', &tok[1..]),
            b'+' => ('+', &tok[1..]),
            _ => (' ', tok),
        };
        let comps: Vec<&str> = body.split('+').filter(|c| !c.is_empty()).collect();
        let set: Vec<usize> = (0..all.len())
            .filter(|&i| !comps.is_empty() && comps.iter().all(|c| suite_matches(&all[i], c)))
            .collect();
        match op {
            '!' => {
                chosen.retain(|i| !set.contains(i));
                banned.extend(set);
            }
            '-' => chosen.retain(|i| !set.contains(i)),
            '+' => {
                // Move the matching ones to the end, keeping their relative order.
                let (moved, kept): (Vec<usize>, Vec<usize>) =
                    chosen.iter().partition(|i| set.contains(i));
                chosen = kept;
                chosen.extend(moved);
            }
            _ => {
                if set.is_empty() {
                    warnings.push(format!(
                        "cipher '{body}' is not supported by this TLS library, ignored"
                    ));
                }
                for i in set {
                    if !banned.contains(&i) && !chosen.contains(&i) {
                        chosen.push(i);
                    }
                }
            }
        }
    }
    if chosen.is_empty() {
        warnings.push(format!(
            "no usable TLSv1.2 cipher in '{spec}', using the default TLSv1.2 suites"
        ));
        return (None, warnings);
    }
    (
        Some(chosen.into_iter().map(|i| all[i].suite).collect()),
        warnings,
    )
}

/// Maps a TLS 1.3 `ciphersuites` string (`TLS_AES_128_GCM_SHA256:...`) to rustls suites.
pub fn map_tls13_suites(spec: &str) -> (Option<Vec<SupportedCipherSuite>>, Vec<String>) {
    use suites::cipher_suite::*;
    let known = [
        ("TLS_AES_256_GCM_SHA384", TLS13_AES_256_GCM_SHA384),
        ("TLS_AES_128_GCM_SHA256", TLS13_AES_128_GCM_SHA256),
        (
            "TLS_CHACHA20_POLY1305_SHA256",
            TLS13_CHACHA20_POLY1305_SHA256,
        ),
    ];
    let mut out: Vec<SupportedCipherSuite> = Vec::new();
    let mut warnings = Vec::new();
    for tok in spec
        .split([':', ',', ' '])
        .map(str::trim)
        .filter(|t| !t.is_empty())
    {
        match known.iter().find(|(n, _)| n.eq_ignore_ascii_case(tok)) {
            Some((_, s)) => {
                if !out.iter().any(|o| o.suite() == s.suite()) {
                    out.push(*s);
                }
            }
            None => warnings.push(format!(
                "ciphersuite '{tok}' is not supported by this TLS library, ignored"
            )),
        }
    }
    if out.is_empty() {
        warnings.push(format!(
            "no usable TLSv1.3 ciphersuite in '{spec}', using the defaults"
        ));
        return (None, warnings);
    }
    (Some(out), warnings)
}

/// The crypto provider every TLS configuration starts from: aws-lc-rs with ring's cipher
/// suites (same suites, same order), and the key-exchange groups of HAProxy 2.6 on OpenSSL
/// 3.0 that rustls implements (X25519, P-256, P-384, in OpenSSL's order). ML-KEM hybrids are
/// left out so that clients negotiate what HAProxy would have negotiated.
pub fn base_provider() -> CryptoProvider {
    use provider::kx_group::{SECP256R1, SECP384R1, X25519};
    let mut prov = provider::default_provider();
    prov.cipher_suites = suites::default_provider().cipher_suites;
    prov.kx_groups = vec![X25519, SECP256R1, SECP384R1];
    prov
}

/// Maps `curves` (`X25519:P-256`) to rustls key-exchange groups.
pub fn map_curves(spec: &str) -> (Option<Vec<&'static dyn SupportedKxGroup>>, Vec<String>) {
    use provider::kx_group::*;
    let mut out: Vec<&'static dyn SupportedKxGroup> = Vec::new();
    let mut warnings = Vec::new();
    for tok in spec
        .split([':', ',', ' '])
        .map(str::trim)
        .filter(|t| !t.is_empty())
    {
        let g: Option<&'static dyn SupportedKxGroup> = match tok.to_ascii_lowercase().as_str() {
            "x25519" => Some(X25519),
            "p-256" | "prime256v1" | "secp256r1" => Some(SECP256R1),
            "p-384" | "secp384r1" => Some(SECP384R1),
            _ => None,
        };
        match g {
            Some(g) => {
                if !out.iter().any(|o| o.name() == g.name()) {
                    out.push(g);
                }
            }
            None => warnings.push(format!(
                "curve '{tok}' is not supported by this TLS library, ignored"
            )),
        }
    }
    if out.is_empty() {
        warnings.push(format!("no usable curve in '{spec}', using the defaults"));
        return (None, warnings);
    }
    (Some(out), warnings)
}

// ---------------------------------------------------------------------------------------
// The ServerConfig

/// Builds the rustls configuration of one `bind ... ssl`. Unsupported cipher/curve names
/// are logged with `tracing::warn!` and skipped. Errors: no certificate, a key that does not
/// match its certificate, an unloadable key, or no TLS version left.
pub fn server_config(tls: &BindTls, defaults: &TlsDefaults) -> anyhow::Result<Arc<ServerConfig>> {
    let (cfg, warnings) = server_config_with_warnings(tls, defaults)?;
    for w in warnings {
        tracing::warn!("{w}");
    }
    Ok(cfg)
}

/// [`server_config`] returning the warnings instead of logging them (for `--check`).
pub fn server_config_with_warnings(
    tls: &BindTls,
    defaults: &TlsDefaults,
) -> anyhow::Result<(Arc<ServerConfig>, Vec<String>)> {
    let mut warnings = Vec::new();
    let mut prov = base_provider();

    let min = tls.min_ver.or(defaults.min_ver);
    let max = tls.max_ver.or(defaults.max_ver);
    let versions = protocol_versions(min, max, &tls.disabled_versions)?;

    let defaults_all: Vec<SupportedCipherSuite> = prov.cipher_suites.clone();
    let (mut s13, mut s12): (Vec<_>, Vec<_>) = defaults_all
        .into_iter()
        .partition(|s| s.version() == &rustls::version::TLS13);
    if let Some(spec) = tls.ciphers.as_deref().or(defaults.ciphers.as_deref()) {
        let (sel, w) = map_tls12_ciphers(spec);
        warnings.extend(w);
        if let Some(sel) = sel {
            s12 = sel;
        }
    }
    if let Some(spec) = tls
        .ciphersuites
        .as_deref()
        .or(defaults.ciphersuites.as_deref())
    {
        let (sel, w) = map_tls13_suites(spec);
        warnings.extend(w);
        if let Some(sel) = sel {
            s13 = sel;
        }
    }
    prov.cipher_suites = s13.into_iter().chain(s12).collect();
    if let Some(spec) = tls.curves.as_deref().or(defaults.curves.as_deref()) {
        let (sel, w) = map_curves(spec);
        warnings.extend(w);
        if let Some(sel) = sel {
            prov.kx_groups = sel;
        }
    }

    let resolver = build_resolver(&tls.certs, tls.strict_sni, &prov)?;
    let prov = Arc::new(prov);
    let mut cfg = ServerConfig::builder_with_provider(prov)
        .with_protocol_versions(&versions)
        .context("TLS configuration")?
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(resolver));
    cfg.alpn_protocols = tls.alpn.iter().map(|p| p.as_bytes().to_vec()).collect();
    cfg.ignore_client_order = true;
    if !(tls.no_tls_tickets || defaults.no_tls_tickets) {
        match provider::Ticketer::new() {
            Ok(t) => cfg.ticketer = t,
            Err(e) => warnings.push(format!("TLS session tickets disabled: {e}")),
        }
    }
    Ok((Arc::new(cfg), warnings))
}

/// The result of a server-side handshake.
pub struct Accepted {
    pub stream: super::tls_stream::TlsServerStream,
    pub alpn: Option<Vec<u8>>,
    pub sni: Option<String>,
}

/// Runs the TLS handshake on an accepted socket, bounded by `limit` (`timeout client`;
/// `None`: unbounded, as HAProxy without `timeout client`).
pub async fn handshake(
    config: &Arc<ServerConfig>,
    tcp: TcpStream,
    limit: Option<Duration>,
) -> io::Result<Accepted> {
    let fut = super::tls_stream::accept(tcp, config.clone());
    let stream = match limit {
        Some(d) => tokio::time::timeout(d, fut)
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "TLS handshake timeout"))??,
        None => fut.await?,
    };
    let alpn = stream.alpn_protocol().map(<[u8]>::to_vec);
    let sni = stream.server_name().map(str::to_string);
    Ok(Accepted { stream, alpn, sni })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions() {
        assert_eq!(protocol_versions(None, None, &[]).unwrap().len(), 2);
        assert_eq!(
            protocol_versions(Some(TlsVersion::Tls13), None, &[])
                .unwrap()
                .len(),
            1
        );
        assert_eq!(
            protocol_versions(Some(TlsVersion::Tls10), Some(TlsVersion::Tls12), &[])
                .unwrap()
                .len(),
            1
        );
        assert!(protocol_versions(None, Some(TlsVersion::Tls11), &[]).is_err());
        assert!(protocol_versions(None, None, &[TlsVersion::Tls12, TlsVersion::Tls13]).is_err());
    }

    #[test]
    fn debian_ciphers_map_with_warnings() {
        let spec = "ECDH+AESGCM:DH+AESGCM:ECDH+AES256:DH+AES256:ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:!aNULL:!MD5:!DSS";
        let (sel, w) = map_tls12_ciphers(spec);
        let sel = sel.unwrap();
        assert_eq!(sel.len(), 6);
        assert!(w.iter().any(|w| w.contains("DHE-RSA-AES128-GCM-SHA256")));
        let (sel, _) = map_tls12_ciphers("ECDHE-RSA-AES128-GCM-SHA256");
        assert_eq!(
            sel.unwrap()[0],
            suites::cipher_suite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256
        );
        let (sel, _) = map_tls12_ciphers("HIGH:!aECDSA");
        assert_eq!(sel.unwrap().len(), 3);
        let (sel, w) = map_tls12_ciphers("AES128-SHA:DHE-RSA-AES256-SHA");
        assert!(sel.is_none());
        assert_eq!(w.len(), 3);
    }

    #[test]
    fn tls13_and_curves() {
        let (sel, w) = map_tls13_suites("TLS_AES_128_GCM_SHA256:TLS_AES_128_CCM_SHA256");
        assert_eq!(sel.unwrap().len(), 1);
        assert_eq!(w.len(), 1);
        let (sel, w) = map_curves("X25519:P-256:brainpoolP256r1");
        assert_eq!(sel.unwrap().len(), 2);
        assert_eq!(w.len(), 1);
    }
}
