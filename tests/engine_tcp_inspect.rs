//! TCP content inspection over real sockets (127.0.0.1, port 0): `tcp-request inspect-delay`,
//! `tcp-request content accept|reject`, `tcp-request connection`, layer-6 fetches in rules
//! and `use_backend` (SNI routing of TLS that the proxy does not terminate), HTTP fetches
//! on a TCP stream's buffer, and `balance rdp-cookie`.
//!
//! The expected routings and server choices were checked against haproxy 2.6.12 with the
//! same configurations (see the comments on each test).

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use haproxide::engine;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::{TlsAcceptor, TlsConnector};

const SEC: Duration = Duration::from_secs(1);
const RSA_A: &str = "rsa-a.test.pem";
const EC_B: &str = "ecdsa-wild.b.test.pem";
const SIDE_C: &str = "sidecar-c.test.pem";

/// A TLS server (the TLS endpoint is the backend: the proxy only routes) presenting the
/// certificate of `file`, which writes `name` once the handshake is done.
async fn tls_server(
    file: &'static str,
    key_file: Option<&'static str>,
    name: &'static str,
) -> TestServer {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert_path(file))
        .unwrap()
        .map(|c| c.unwrap())
        .collect();
    let key = PrivateKeyDer::from_pem_file(cert_path(key_file.unwrap_or(file))).unwrap();
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
    let acceptor = TlsAcceptor::from(Arc::new(cfg));
    serve(move |s: TcpStream| {
        let acceptor = acceptor.clone();
        async move {
            if let Ok(mut t) = acceptor.accept(s).await {
                let _ = t.write_all(name.as_bytes()).await;
                let _ = t.shutdown().await;
            }
        }
    })
    .await
}

/// A plain server that answers `<name>:<the bytes it received first>` (reading until a
/// short pause), then closes.
async fn reporter(name: &'static str) -> TestServer {
    serve(move |mut s: TcpStream| async move {
        let mut got = Vec::new();
        let mut buf = [0u8; 65536];
        while let Ok(Ok(n)) =
            tokio::time::timeout(Duration::from_millis(300), s.read(&mut buf)).await
        {
            if n == 0 {
                break;
            }
            got.extend_from_slice(&buf[..n]);
        }
        let mut out = format!("{name}:").into_bytes();
        out.extend_from_slice(&got);
        let _ = s.write_all(&out).await;
    })
    .await
}

async fn tls_to(addr: SocketAddr, sni: Option<&str>) -> std::io::Result<(String, Vec<u8>)> {
    let (cfg, pinned) = tls::client(&[RSA_A, EC_B, SIDE_C], &[], sni.is_some());
    let name = ServerName::try_from(sni.unwrap_or("a.test").to_string()).unwrap();
    let tcp = TcpStream::connect(addr).await?;
    let mut s = tokio::time::timeout(3 * SEC, TlsConnector::from(cfg).connect(name, tcp)).await??;
    let leaf = pinned.seen.lock().unwrap().clone().unwrap_or_default();
    let mut out = String::new();
    let _ = tokio::time::timeout(3 * SEC, s.read_to_string(&mut out)).await;
    Ok((out, leaf))
}

/// Sends `data` (then half-closes when `shut`), returns what came back and when the
/// connection ended.
async fn exchange(addr: SocketAddr, data: &[u8], shut: bool) -> (Vec<u8>, Duration) {
    let start = Instant::now();
    let mut c = TcpStream::connect(addr).await.unwrap();
    if !data.is_empty() {
        c.write_all(data).await.unwrap();
    }
    if shut {
        c.shutdown().await.unwrap();
    }
    let (got, _) = read_until_eof(&mut c, 5 * SEC).await;
    (got, start.elapsed())
}

fn tcp_defaults() -> &'static str {
    "defaults\n  mode tcp\n  timeout connect 1s\n  timeout client 5s\n  timeout server 5s\n"
}

/// The classic SNI routing of TLS passed through: the proxy waits for the whole
/// ClientHello, routes on its server_name, and the client completes its handshake with
/// the backend's certificate. (haproxy 2.6.12, same rules: a.test → A, *.b.test → B,
/// others and no SNI → the default backend.)
#[tokio::test]
async fn sni_routing_without_termination() {
    let (a, b, c) = (
        tls_server(RSA_A, None, "A").await,
        tls_server(EC_B, None, "B").await,
        tls_server(SIDE_C, Some("sidecar-c.test.pem.key"), "C").await,
    );
    let text = format!(
        "{}frontend fe\n  bind 127.0.0.1:1\n  tcp-request inspect-delay 5s\n  tcp-request content accept if {{ req_ssl_hello_type 1 }}\n\
         use_backend be_a if {{ req_ssl_sni -i a.test }}\n  use_backend be_b if {{ req.ssl_sni -m end .b.test }}\n  default_backend be_c\n\
         backend be_a\n  server s {}\nbackend be_b\n  server s {}\nbackend be_c\n  server s {}\n",
        tcp_defaults(),
        a.addr,
        b.addr,
        c.addr
    );
    let eng = engine::start(config(&text)).await.unwrap();
    let addr = eng.addr("fe").unwrap();
    let leaves = tls::leaves(&[RSA_A, EC_B, SIDE_C]);
    for (sni, name, leaf) in [
        (Some("a.test"), "A", 0),
        (Some("A.TEST"), "A", 0),
        (Some("x.b.test"), "B", 1),
        (Some("c.test"), "C", 2),
        (None, "C", 2),
    ] {
        let (got, seen) = tls_to(addr, sni)
            .await
            .unwrap_or_else(|e| panic!("SNI {sni:?}: {e}"));
        assert_eq!(got, name, "SNI {sni:?}");
        assert!(
            seen == leaves[leaf],
            "SNI {sni:?}: certificate of the wrong backend"
        );
    }
}

/// `reject` closes at once, without contacting a server; a TLS hello goes through.
/// (haproxy 2.6.12: same rules, plain HTTP is closed with no response, logged `PR`.)
#[tokio::test]
async fn reject_non_tls_traffic() {
    let srv = reporter("srv").await;
    let text = format!(
        "{}frontend fe\n  bind 127.0.0.1:1\n  tcp-request inspect-delay 5s\n\
         tcp-request content reject if {{ req.len gt 0 }} !{{ req.payload(0,1) -m bin 16 }}\n\
         tcp-request content accept if {{ req_ssl_hello_type 1 }}\n  default_backend be\nbackend be\n  server s {}\n",
        tcp_defaults(),
        srv.addr
    );
    let eng = engine::start(config(&text)).await.unwrap();
    let addr = eng.addr("fe").unwrap();
    let (got, took) = exchange(addr, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", false).await;
    assert!(
        got.is_empty(),
        "rejected connection got {:?}",
        String::from_utf8_lossy(&got)
    );
    assert!(took < SEC, "reject took {took:?}");
    assert_eq!(srv.accepted.load(std::sync::atomic::Ordering::SeqCst), 0);
    // A TLS ClientHello (whatever the server then makes of it) reaches the server whole.
    let hello = client_hello("a.test").await;
    let (got, _) = exchange(addr, &hello, false).await;
    assert_eq!(got, [b"srv:".as_slice(), &hello].concat());
}

/// The first bytes a rustls client sends for `sni`: its ClientHello.
async fn client_hello(sni: &str) -> Vec<u8> {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let sni = sni.to_string();
    let client = tokio::spawn(async move {
        let (cfg, _) = tls::client(&[RSA_A], &[], true);
        let tcp = TcpStream::connect(addr).await.unwrap();
        let _ = tokio::time::timeout(
            SEC,
            TlsConnector::from(cfg).connect(ServerName::try_from(sni).unwrap(), tcp),
        )
        .await;
    });
    let (mut s, _) = l.accept().await.unwrap();
    let mut buf = vec![0u8; 65536];
    let mut got = Vec::new();
    // A ClientHello fits in one record; read until its declared length is there.
    while got.len() < 5 || got.len() < 5 + usize::from(u16::from_be_bytes([got[3], got[4]])) {
        let n = s.read(&mut buf).await.unwrap();
        assert!(n > 0);
        got.extend_from_slice(&buf[..n]);
    }
    client.abort();
    got
}

/// When the delay expires, the rules run on what arrived (a partial hello: no SNI) and the
/// connection goes to the default backend with those bytes; a client closing its side ends
/// the wait at once. (haproxy 2.6.12: `Tw` = the delay, then the default backend gets the
/// bytes; a half-closed client is routed immediately.)
#[tokio::test]
async fn inspect_delay_expiry_goes_to_default_backend() {
    let (a, dflt) = (reporter("a").await, reporter("default").await);
    let text = format!(
        "{}frontend fe\n  bind 127.0.0.1:1\n  tcp-request inspect-delay 400ms\n  tcp-request content accept if {{ req_ssl_hello_type 1 }}\n\
         use_backend be_a if {{ req_ssl_sni -i a.test }}\n  default_backend be_d\nbackend be_a\n  server s {}\nbackend be_d\n  server s {}\n",
        tcp_defaults(),
        a.addr,
        dflt.addr
    );
    let eng = engine::start(config(&text)).await.unwrap();
    let addr = eng.addr("fe").unwrap();
    let hello = client_hello("a.test").await;
    // Complete hello: routed at once (the reporter itself waits 300 ms for more bytes).
    let (got, took) = exchange(addr, &hello, false).await;
    assert!(
        got.starts_with(b"a:"),
        "{:?}",
        String::from_utf8_lossy(&got)
    );
    assert!(took < Duration::from_millis(390), "took {took:?}");
    // Half a hello: waits for the delay, then the default backend gets those bytes.
    let half = &hello[..hello.len() / 2];
    let (got, took) = exchange(addr, half, false).await;
    assert_eq!(got, [b"default:".as_slice(), half].concat());
    assert!(
        took >= Duration::from_millis(400) && took < 3 * SEC,
        "took {took:?}"
    );
    // Nothing at all: same.
    let (got, took) = exchange(addr, b"", false).await;
    assert_eq!(got, b"default:");
    assert!(took >= Duration::from_millis(400), "took {took:?}");
    // Half a hello then a half-close: no more data can come, routed at once.
    let (got, took) = exchange(addr, half, true).await;
    assert_eq!(got, [b"default:".as_slice(), half].concat());
    assert!(took < Duration::from_millis(390), "took {took:?}");
    // The hello split in two writes: the rule waits for the rest, then routes on the SNI.
    let start = Instant::now();
    let mut c = TcpStream::connect(addr).await.unwrap();
    c.write_all(&hello[..20]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    c.write_all(&hello[20..]).await.unwrap();
    let (got, _) = read_until_eof(&mut c, 5 * SEC).await;
    assert_eq!(got, [b"a:".as_slice(), &hello].concat());
    assert!(start.elapsed() < SEC);
}

/// `timeout client` shorter than the inspect delay: the connection is closed when it
/// expires (haproxy 2.6.12 logs `cR` and never connects).
#[tokio::test]
async fn client_timeout_during_inspection() {
    let srv = reporter("srv").await;
    let text = format!(
        "defaults\n  mode tcp\n  timeout connect 1s\n  timeout client 300ms\n  timeout server 5s\n\
         frontend fe\n  bind 127.0.0.1:1\n  tcp-request inspect-delay 3s\n  tcp-request content accept if {{ req_ssl_hello_type 1 }}\n\
         default_backend be\nbackend be\n  server s {}\n",
        srv.addr
    );
    let eng = engine::start(config(&text)).await.unwrap();
    let (got, took) = exchange(eng.addr("fe").unwrap(), b"\x16\x03\x01", false).await;
    assert!(got.is_empty());
    assert!(
        took >= Duration::from_millis(300) && took < 2 * SEC,
        "took {took:?}"
    );
    assert_eq!(srv.accepted.load(std::sync::atomic::Ordering::SeqCst), 0);
}

/// `balance rdp-cookie` hashes the `mstshash` cookie of the RDP connection request that the
/// inspection waited for: each user always reaches the same server, and these users reach
/// the servers haproxy 2.6.12 chose for them with the same configuration; requests
/// without a cookie are round-robined.
#[tokio::test]
async fn rdp_cookie_stickiness() {
    let (a, b, c) = (
        reporter("a").await,
        reporter("b").await,
        reporter("c").await,
    );
    let text = format!(
        "{}listen rdp\n  bind 127.0.0.1:1\n  tcp-request inspect-delay 2s\n  tcp-request content accept if RDP_COOKIE\n  balance rdp-cookie\n\
         server a {}\n  server b {}\n  server c {}\n",
        tcp_defaults(),
        a.addr,
        b.addr,
        c.addr
    );
    let eng = engine::start(config(&text)).await.unwrap();
    let addr = eng.addr("rdp").unwrap();
    let request = |user: &str| {
        let mut p = b"\x03\x00\x00\x2c\x27\xe0\x00\x00\x00\x00\x00Cookie: mstshash=".to_vec();
        p.extend_from_slice(user.as_bytes());
        p.extend_from_slice(b"\r\n\x01\x00\x08\x00\x03\x00\x00\x00");
        p
    };
    for _round in 0..2 {
        for (user, server) in [
            ("alice", "c"),
            ("bob", "c"),
            ("carol", "b"),
            ("dave", "a"),
            ("eve", "a"),
        ] {
            let req = request(user);
            let (got, took) = exchange(addr, &req, false).await;
            assert_eq!(
                got,
                [format!("{server}:").as_bytes(), &req].concat(),
                "user {user}"
            );
            assert!(
                took < SEC + Duration::from_millis(500),
                "user {user} waited {took:?}"
            );
        }
    }
    // The request split after the cookie name: the rule waits for the end of the line.
    let req = request("carol");
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(&req[..30]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    s.write_all(&req[30..]).await.unwrap();
    let (got, _) = read_until_eof(&mut s, 5 * SEC).await;
    assert_eq!(got, [b"b:".as_slice(), &req].concat());
}

/// HTTP fetches read the request a TCP stream buffered (HAProxy parses it the same way):
/// `HTTP` waits for a complete head, then `hdr()` and `path` route.
/// (haproxy 2.6.12, same rules: Host a.example → A, /c… → C, an incomplete head waits the
/// whole delay then goes to the default backend, non-HTTP goes there at once.)
#[tokio::test]
async fn http_fetches_on_a_tcp_stream() {
    let (a, b, c) = (
        reporter("a").await,
        reporter("b").await,
        reporter("c").await,
    );
    let text = format!(
        "{}frontend fe\n  bind 127.0.0.1:1\n  tcp-request inspect-delay 500ms\n  tcp-request content accept if HTTP\n\
         use_backend be_a if {{ hdr(host) -i a.example }}\n  use_backend be_c if {{ path_beg /c }}\n  default_backend be_b\n\
         backend be_a\n  server s {}\nbackend be_b\n  server s {}\nbackend be_c\n  server s {}\n",
        tcp_defaults(),
        a.addr,
        b.addr,
        c.addr
    );
    let eng = engine::start(config(&text)).await.unwrap();
    let addr = eng.addr("fe").unwrap();
    for (req, server, slow) in [
        (
            &b"GET / HTTP/1.1\r\nHost: A.example\r\n\r\n"[..],
            "a",
            false,
        ),
        (b"GET /cat HTTP/1.1\r\nHost: z\r\n\r\n", "c", false),
        (b"GET /x HTTP/1.1\r\nHost: a.example:80\r\n\r\n", "b", false),
        (b"GET /c HTTP/1.1\r\nHost: a.example", "b", true),
        (b"\x16\x03\x01\x00\x05hello", "b", false),
    ] {
        let (got, took) = exchange(addr, req, false).await;
        assert_eq!(
            got,
            [format!("{server}:").as_bytes(), req].concat(),
            "{:?}",
            String::from_utf8_lossy(req)
        );
        assert_eq!(
            took >= Duration::from_millis(500),
            slow,
            "{:?} took {took:?}",
            String::from_utf8_lossy(req)
        );
    }
    // Without inspection, HTTP fetches have no value in TCP mode (nothing is buffered).
    let text = format!(
        "{}frontend fe\n  bind 127.0.0.1:1\n  use_backend be_a if {{ path_beg / }} || {{ method GET }} || HTTP\n  default_backend be_b\n\
         backend be_a\n  server s {}\nbackend be_b\n  server s {}\n",
        tcp_defaults(),
        a.addr,
        b.addr
    );
    let eng = engine::start(config(&text)).await.unwrap();
    let (got, _) = exchange(eng.addr("fe").unwrap(), b"GET / HTTP/1.0\r\n\r\n", false).await;
    assert_eq!(got, b"b:GET / HTTP/1.0\r\n\r\n");
}

/// `tcp-request connection reject` closes before anything is read; a backend's own
/// content rules run once it is chosen, with its own inspect delay; all the inspected
/// bytes reach the server in order, followed by the rest of the stream.
/// (haproxy 2.6.12, same configuration: `DENY…` is rejected `PR` by the backend's rule,
/// a short payload waits the backend's delay.)
#[tokio::test]
async fn connection_rules_and_backend_rules() {
    let srv = serve(|mut s: TcpStream| async move {
        let (mut r, mut w) = s.split();
        let _ = tokio::io::copy(&mut r, &mut w).await;
    })
    .await;
    let text = format!(
        "{}frontend fe\n  bind 127.0.0.1:1\n  tcp-request connection reject if {{ src 127.0.0.2 }}\n  default_backend be\n\
         backend be\n  tcp-request inspect-delay 300ms\n  tcp-request content reject if {{ req.payload(0,4) -m bin 44454e59 }}\n\
         tcp-request content accept if {{ req.len ge 5000 }}\n  server s {}\n",
        tcp_defaults(),
        srv.addr
    );
    let eng = engine::start(config(&text)).await.unwrap();
    let addr = eng.addr("fe").unwrap();
    // From 127.0.0.2: closed at once.
    let sock = tokio::net::TcpSocket::new_v4().unwrap();
    sock.bind("127.0.0.2:0".parse().unwrap()).unwrap();
    let mut c = sock.connect(addr).await.unwrap();
    let (got, eof) = read_until_eof(&mut c, 2 * SEC).await;
    assert!(got.is_empty() && eof);
    // Rejected by the backend's rule.
    let (got, took) = exchange(addr, b"DENY this", false).await;
    assert!(got.is_empty() && took < SEC);
    // A large payload: the rule waits for 5000 bytes, the echo gets everything in order.
    let payload: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    let mut c = TcpStream::connect(addr).await.unwrap();
    let start = Instant::now();
    let (mut r, mut w) = c.split();
    let write = async {
        for chunk in payload.chunks(3000) {
            w.write_all(chunk).await.unwrap();
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    let (_, got) = tokio::join!(write, read_n(&mut r, payload.len(), 5 * SEC));
    assert_eq!(got.unwrap(), payload);
    assert!(start.elapsed() < 2 * SEC);
    // A short payload: the backend's delay expires, then it goes through.
    let start = Instant::now();
    let mut c = TcpStream::connect(addr).await.unwrap();
    c.write_all(b"hi").await.unwrap();
    assert_eq!(read_n(&mut c, 2, 2 * SEC).await.unwrap(), b"hi");
    assert!(start.elapsed() >= Duration::from_millis(300));
}
