//! Shared helpers for engine integration tests: loading a config from text, small backend
//! servers on 127.0.0.1:0 (echo, greeter), a TLS client that trusts exactly the test
//! certificates, and timing helpers. Everything binds 127.0.0.1 with port 0.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use haproxide::config::ir::Config;
use haproxide::config::{load_text, LoadOptions};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// Loads `text` with the real config parser; panics with the diagnostics on failure.
/// HAProxy refuses `bind :0`, so tests write `bind 127.0.0.1:1` (or `:0`) and every bound socket is
/// switched to port 0 here (the kernel picks a free port; `RunningEngine::addr` tells it).
pub fn config(text: &str) -> Arc<Config> {
    // Some tests write the binds as `127.0.0.1:0` directly: same treatment.
    let text = &text.replace("127.0.0.1:0", "127.0.0.1:1");
    let loaded = load_text("test.cfg", text, &LoadOptions::default());
    let Some(mut c) = loaded.config else {
        panic!(
            "config did not load: {:#?}\n---\n{text}",
            loaded.diagnostics
        )
    };
    for fe in &mut c.frontends {
        for b in &mut fe.binds {
            for s in &mut b.sockets {
                s.set_port(0);
            }
        }
    }
    Arc::new(c)
}

/// The absolute path of a file in `testdata/certs/`.
pub fn cert_path(name: &str) -> String {
    let p: PathBuf = [env!("CARGO_MANIFEST_DIR"), "testdata", "certs", name]
        .iter()
        .collect();
    p.display().to_string()
}

/// A backend server; aborting the task (drop of the handle's owner) closes the listener.
pub struct TestServer {
    pub addr: SocketAddr,
    pub accepted: Arc<AtomicUsize>,
    task: JoinHandle<()>,
}

impl TestServer {
    /// Stops listening (new connections are refused).
    pub fn stop(&self) {
        self.task.abort();
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// An echo server: writes back what it reads; on EOF from the client, shuts down its write
/// side after echoing everything.
pub async fn echo_server() -> TestServer {
    serve(|mut s: TcpStream| async move {
        let (mut r, mut w) = s.split();
        let _ = tokio::io::copy(&mut r, &mut w).await;
        let _ = w.shutdown().await;
    })
    .await
}

/// A server that sends `name` on connect, then echoes.
pub async fn greeter(name: &'static str) -> TestServer {
    serve(move |mut s: TcpStream| async move {
        let _ = s.write_all(name.as_bytes()).await;
        let (mut r, mut w) = s.split();
        let _ = tokio::io::copy(&mut r, &mut w).await;
    })
    .await
}

/// Runs `handler` for every accepted connection.
pub async fn serve<F, Fut>(handler: F) -> TestServer
where
    F: Fn(TcpStream) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let acc = accepted.clone();
    let handler = Arc::new(handler);
    let task = tokio::spawn(async move {
        loop {
            let Ok((s, _)) = l.accept().await else {
                continue;
            };
            acc.fetch_add(1, Ordering::SeqCst);
            let h = handler.clone();
            tokio::spawn(async move { h(s).await });
        }
    });
    TestServer {
        addr,
        accepted,
        task,
    }
}

/// A port on 127.0.0.1 where nothing listens (bound then released).
pub async fn closed_port() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    l.local_addr().unwrap()
}

/// Reads until EOF or `limit`; returns the bytes and whether EOF was seen.
pub async fn read_until_eof<R: AsyncReadExt + Unpin>(
    r: &mut R,
    limit: Duration,
) -> (Vec<u8>, bool) {
    let mut out = Vec::new();
    let res = tokio::time::timeout(limit, async {
        let mut buf = [0u8; 4096];
        loop {
            match r.read(&mut buf).await {
                Ok(0) | Err(_) => return true,
                Ok(n) => out.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    (out, res.unwrap_or(false))
}

/// Reads exactly `n` bytes within `limit`.
pub async fn read_n<R: AsyncReadExt + Unpin>(
    r: &mut R,
    n: usize,
    limit: Duration,
) -> Option<Vec<u8>> {
    let mut v = vec![0u8; n];
    match tokio::time::timeout(limit, r.read_exact(&mut v)).await {
        Ok(Ok(_)) => Some(v),
        _ => None,
    }
}

/// Polls `cond` every 10 ms until it holds or `limit` passes; returns whether it held.
pub async fn wait_for(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if cond() {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

// ---------------------------------------------------------------------------------------
// TLS client

pub mod tls {
    use std::sync::{Arc, Mutex};

    use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
    use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
    use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
    use rustls::{ClientConfig, DigitallySignedStruct, SignatureScheme};

    /// Trusts exactly the given certificates (pinning by DER; self-signed test certs are not
    /// usable as webpki anchors) and checks the handshake signatures for real. Records the
    /// leaf the server presented.
    #[derive(Debug)]
    pub struct Pinned {
        trusted: Vec<Vec<u8>>,
        provider: Arc<CryptoProvider>,
        pub seen: Mutex<Option<Vec<u8>>>,
    }

    impl ServerCertVerifier for Pinned {
        fn verify_server_cert(
            &self,
            end_entity: &CertificateDer<'_>,
            _intermediates: &[CertificateDer<'_>],
            _server_name: &ServerName<'_>,
            _ocsp: &[u8],
            _now: UnixTime,
        ) -> Result<ServerCertVerified, rustls::Error> {
            *self.seen.lock().unwrap() = Some(end_entity.to_vec());
            if self
                .trusted
                .iter()
                .any(|t| t.as_slice() == end_entity.as_ref())
            {
                Ok(ServerCertVerified::assertion())
            } else {
                Err(rustls::Error::General("untrusted test certificate".into()))
            }
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
                &self.provider.signature_verification_algorithms,
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
                &self.provider.signature_verification_algorithms,
            )
        }

        fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
            self.provider
                .signature_verification_algorithms
                .supported_schemes()
        }
    }

    /// The leaf certificates (first PEM certificate) of the named test files.
    pub fn leaves(files: &[&str]) -> Vec<Vec<u8>> {
        use rustls::pki_types::pem::PemObject;
        files
            .iter()
            .map(|f| {
                let path = super::cert_path(f);
                CertificateDer::pem_file_iter(&path)
                    .unwrap()
                    .next()
                    .unwrap()
                    .unwrap()
                    .to_vec()
            })
            .collect()
    }

    /// A client config trusting the leaves of `files`, offering `alpn`, sending SNI when
    /// `sni` is true. Returns the verifier to inspect the leaf seen.
    pub fn client(files: &[&str], alpn: &[&str], sni: bool) -> (Arc<ClientConfig>, Arc<Pinned>) {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let v = Arc::new(Pinned {
            trusted: leaves(files),
            provider: provider.clone(),
            seen: Mutex::new(None),
        });
        let mut cfg = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .dangerous()
            .with_custom_certificate_verifier(v.clone())
            .with_no_client_auth();
        cfg.alpn_protocols = alpn.iter().map(|a| a.as_bytes().to_vec()).collect();
        cfg.enable_sni = sni;
        (Arc::new(cfg), v)
    }
}
