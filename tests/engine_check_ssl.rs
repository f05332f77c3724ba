//! Health checks over TLS (`check-ssl`, `check-sni`, `verify none`) against a rustls server
//! holding a test certificate, and against plain TCP servers that fail the handshake. The
//! expected messages (`option log-health-checks`) are those haproxy 2.6.12 printed for the
//! same configurations against the same kinds of servers.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use haproxide::engine::{self, RunningEngine};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::broadcast;
use tokio::task::JoinHandle;

const LIMIT: Duration = Duration::from_secs(5);

/// What the TLS server saw of each check: the SNI and the bytes sent after the handshake.
#[derive(Debug, Clone, PartialEq)]
struct Seen {
    sni: Option<String>,
    data: Vec<u8>,
}

struct TlsSrv {
    addr: std::net::SocketAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
    task: JoinHandle<()>,
}

impl Drop for TlsSrv {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A TLS server with `testdata/certs/rsa-a.test.pem`; answers HTTP requests with 200.
async fn tls_server() -> TlsSrv {
    let path = cert_path("rsa-a.test.pem");
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&path)
        .unwrap()
        .map(|c| c.unwrap())
        .collect();
    let key = PrivateKeyDer::from_pem_file(&path).unwrap();
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(cfg));
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let seen2 = seen.clone();
    let task = tokio::spawn(async move {
        loop {
            let Ok((s, _)) = l.accept().await else {
                continue;
            };
            let (acceptor, seen) = (acceptor.clone(), seen2.clone());
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(s).await else {
                    return;
                };
                let sni = tls.get_ref().1.server_name().map(str::to_string);
                let mut data = Vec::new();
                let mut buf = [0u8; 4096];
                while !data.windows(4).any(|w| w == b"\r\n\r\n") {
                    match tokio::time::timeout(Duration::from_secs(1), tls.read(&mut buf)).await {
                        Ok(Ok(n)) if n > 0 => data.extend_from_slice(&buf[..n]),
                        _ => break,
                    }
                }
                if !data.is_empty() {
                    let _ = tls
                        .write_all(
                            b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                        )
                        .await;
                    let _ = tls.shutdown().await;
                }
                seen.lock().unwrap().push(Seen { sni, data });
            });
        }
    });
    TlsSrv { addr, seen, task }
}

/// The next message (PID and check duration removed) containing `pat`.
async fn wait_msg(rx: &mut broadcast::Receiver<String>, pat: &str) -> String {
    let deadline = tokio::time::Instant::now() + LIMIT;
    loop {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Ok(l)) if l.contains(pat) => {
                let l = l
                    .split_once(" : ")
                    .map_or(l.clone(), |(_, m)| m.to_string());
                return match l.split_once(", check duration: ") {
                    Some((a, b)) => format!("{a}{}", &b[b.find(',').unwrap_or(b.len())..]),
                    None => l,
                };
            }
            Ok(Ok(_)) | Ok(Err(broadcast::error::RecvError::Lagged(_))) => continue,
            _ => panic!("no message with {pat:?}"),
        }
    }
}

async fn start(text: &str) -> (RunningEngine, broadcast::Receiver<String>) {
    let eng = engine::start(config(text)).await.unwrap();
    let rx = eng.state.subscribe_messages();
    (eng, rx)
}

const DEFAULTS: &str = "global\n  ssl-server-verify none\ndefaults\n  timeout client 5s\n  timeout server 5s\n  timeout connect 1s\n  timeout check 500ms\n  option log-health-checks\n";

#[tokio::test]
async fn http_check_over_tls_with_sni() {
    let srv = tls_server().await;
    let text = format!(
        "{DEFAULTS}backend be\n  option httpchk GET /hc\n  server s1 {} check check-ssl check-sni a.test inter 200 rise 1 fall 1\n",
        srv.addr
    );
    let (_eng, mut rx) = start(&text).await;
    let m = wait_msg(&mut rx, "Health check for server be/s1").await;
    assert_eq!(m, "Health check for server be/s1 succeeded, reason: Layer7 check passed, code: 200, status: 1/1 UP.");
    assert!(wait_for(LIMIT, || !srv.seen.lock().unwrap().is_empty()).await);
    let seen = srv.seen.lock().unwrap().clone();
    assert_eq!(seen[0].sni.as_deref(), Some("a.test"));
    assert!(
        seen[0].data.starts_with(b"GET /hc HTTP/1.0\r\n"),
        "{:?}",
        String::from_utf8_lossy(&seen[0].data)
    );
}

#[tokio::test]
async fn tcp_check_over_tls_is_layer6() {
    // No check-sni: no SNI is sent, as HAProxy does. A connect-only check passes once the
    // handshake is done: "Layer6 check passed".
    let srv = tls_server().await;
    let text = format!(
        "{DEFAULTS}backend be\n  server s1 {} check check-ssl verify none inter 200 rise 1 fall 1\n",
        srv.addr
    );
    let (_eng, mut rx) = start(&text).await;
    let m = wait_msg(&mut rx, "Health check for server be/s1").await;
    assert_eq!(
        m,
        "Health check for server be/s1 succeeded, reason: Layer6 check passed, status: 1/1 UP."
    );
    assert!(wait_for(LIMIT, || !srv.seen.lock().unwrap().is_empty()).await);
    let seen = srv.seen.lock().unwrap().clone();
    assert_eq!(
        seen[0],
        Seen {
            sni: None,
            data: Vec::new()
        }
    );
}

#[tokio::test]
async fn plain_server_fails_the_tls_check() {
    // A plain TCP server answering garbage to the ClientHello, and a silent one.
    let garbage = serve(|mut s: TcpStream| async move {
        let mut buf = [0u8; 1024];
        let _ = s.read(&mut buf).await;
        let _ = s.write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n").await;
        let _ = s.shutdown().await;
    })
    .await;
    let silent = serve(|s: TcpStream| async move {
        tokio::time::sleep(Duration::from_secs(10)).await;
        drop(s);
    })
    .await;
    let text = format!(
        "{DEFAULTS}backend be\n  option httpchk GET /\n  server s1 {} check check-ssl inter 300 rise 1 fall 1\n  server s2 {} check check-ssl inter 300 rise 1 fall 1\n\
         backend tcp\n  server t1 {} check check-ssl inter 300 rise 1 fall 1\n",
        garbage.addr, silent.addr, garbage.addr
    );
    let (_eng, mut rx) = start(&text).await;
    let m = wait_msg(&mut rx, "Health check for server be/s1").await;
    assert_eq!(m, "Health check for server be/s1 failed, reason: Layer6 invalid response, info: \"SSL handshake failure\", status: 0/1 DOWN.");
    let m = wait_msg(&mut rx, "Health check for server tcp/t1").await;
    assert_eq!(m, "Health check for server tcp/t1 failed, reason: Layer6 invalid response, info: \"SSL handshake failure\", status: 0/1 DOWN.");
    // The handshake does not finish: Layer6 timeout (timeout check set: the connect phase
    // lasts min(inter, timeout connect)).
    let m = wait_msg(&mut rx, "Health check for server be/s2").await;
    assert_eq!(
        m,
        "Health check for server be/s2 failed, reason: Layer6 timeout, status: 0/1 DOWN."
    );
}

#[test]
fn check_ssl_in_the_ir() {
    let text = format!(
        "{DEFAULTS}backend be\n  default-server check-ssl check-sni h.test\n  server s1 127.0.0.1:9 check\n  server s2 127.0.0.1:9 check no-check-ssl verify required\n"
    );
    let cfg = config(&text);
    let s = &cfg.backends[0].servers;
    assert!(s[0].check_ssl && s[0].check_sni.as_deref() == Some("h.test"));
    assert!(!s[1].check_ssl);
}
