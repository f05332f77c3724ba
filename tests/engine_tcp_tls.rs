//! Engine core over real sockets (127.0.0.1, port 0): TCP mode tunnels, half-close, idle
//! timeouts, TLS termination (SNI, default certificate, ALPN), maxconn, health checks,
//! soft stop.
//!
//! Test certificates (testdata/certs/) were made with:
//!   openssl req -x509 -newkey rsa:2048 -nodes -keyout k -out c -days 36500 -subj /CN=a.test \
//!     -addext subjectAltName=DNS:a.test                 # rsa-a.test.pem = c + k
//!   openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout k -out c \
//!     -days 36500 -subj /CN=b.test -addext 'subjectAltName=DNS:*.b.test'  # ecdsa-wild.b.test.pem
//!   openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
//!     -keyout sidecar-c.test.pem.key -out sidecar-c.test.pem -days 36500 -subj /CN=c.test

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use haproxide::engine::{self, StopLevel};
use rustls::pki_types::ServerName;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

const SEC: Duration = Duration::from_secs(1);

fn tcp_cfg(extra_defaults: &str, backend: &str) -> String {
    format!(
        "defaults\n  mode tcp\n  timeout connect 500ms\n  timeout client 5s\n  timeout server 5s\n{extra_defaults}\n\
         frontend fe\n  bind 127.0.0.1:1\n  default_backend be\n\
         backend be\n{backend}\n"
    )
}

#[tokio::test]
async fn tcp_echo_through_proxy() {
    let echo = echo_server().await;
    let cfg = config(&tcp_cfg("", &format!("  server s1 {}", echo.addr)));
    let eng = engine::start(cfg).await.unwrap();
    let addr = eng.addr("fe").unwrap();
    assert_ne!(addr.port(), 0);
    let mut c = TcpStream::connect(addr).await.unwrap();
    let payload: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    let (mut r, mut w) = c.split();
    let write = async {
        w.write_all(&payload).await.unwrap();
    };
    let read = read_n(&mut r, payload.len(), 5 * SEC);
    let (_, got) = tokio::join!(write, read);
    assert_eq!(got.unwrap(), payload);
    assert_eq!(echo.accepted.load(std::sync::atomic::Ordering::SeqCst), 1);
}

#[tokio::test]
async fn half_close_propagates_both_ways() {
    // The server reads to EOF (our FIN must reach it), then answers and closes.
    let srv = serve(|mut s: TcpStream| async move {
        let mut got = Vec::new();
        s.read_to_end(&mut got).await.unwrap();
        s.write_all(format!("got {} bytes", got.len()).as_bytes())
            .await
            .unwrap();
        s.shutdown().await.unwrap();
    })
    .await;
    let eng = engine::start(config(&tcp_cfg("", &format!("  server s1 {}", srv.addr))))
        .await
        .unwrap();
    let mut c = TcpStream::connect(eng.addr("fe").unwrap()).await.unwrap();
    c.write_all(b"hello").await.unwrap();
    c.shutdown().await.unwrap();
    let (data, eof) = read_until_eof(&mut c, 3 * SEC).await;
    assert_eq!(data, b"got 5 bytes");
    assert!(eof, "the server's FIN must reach the client");
}

#[tokio::test]
async fn idle_tunnel_is_closed_by_timeouts() {
    let echo = echo_server().await;
    let text = format!(
        "defaults\n  mode tcp\n  timeout connect 500ms\n  timeout client 200ms\n  timeout server 200ms\n\
         frontend fe\n  bind 127.0.0.1:1\n  default_backend be\n\
         backend be\n  server s1 {}\n",
        echo.addr
    );
    let eng = engine::start(config(&text)).await.unwrap();
    let mut c = TcpStream::connect(eng.addr("fe").unwrap()).await.unwrap();
    // Activity keeps it open past the timeout...
    for _ in 0..4 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        c.write_all(b"x").await.unwrap();
        assert_eq!(read_n(&mut c, 1, SEC).await.unwrap(), b"x");
    }
    // ...silence closes it.
    let t0 = Instant::now();
    let (_, eof) = read_until_eof(&mut c, 3 * SEC).await;
    assert!(eof);
    let took = t0.elapsed();
    assert!(
        took >= Duration::from_millis(150) && took < Duration::from_millis(1500),
        "{took:?}"
    );
}

#[tokio::test]
async fn all_servers_down_closes_at_once() {
    let dead = closed_port().await;
    let text = tcp_cfg(
        "  retries 0",
        &format!("  server s1 {dead} check inter 50ms"),
    );
    let eng = engine::start(config(&text)).await.unwrap();
    // The first failed check takes a fresh server DOWN.
    assert!(wait_for(2 * SEC, || !eng.state.server(0, 0).unwrap().is_up()).await);
    let t0 = Instant::now();
    let mut c = TcpStream::connect(eng.addr("fe").unwrap()).await.unwrap();
    let (data, eof) = read_until_eof(&mut c, 2 * SEC).await;
    assert!(eof && data.is_empty());
    assert!(
        t0.elapsed() < Duration::from_millis(300),
        "{:?}",
        t0.elapsed()
    );
}

#[tokio::test]
async fn refused_server_without_checks_closes_after_retries() {
    let dead = closed_port().await;
    let eng = engine::start(config(&tcp_cfg(
        "  retries 0",
        &format!("  server s1 {dead}"),
    )))
    .await
    .unwrap();
    let mut c = TcpStream::connect(eng.addr("fe").unwrap()).await.unwrap();
    let (data, eof) = read_until_eof(&mut c, 2 * SEC).await;
    assert!(eof && data.is_empty());
}

#[tokio::test]
async fn redispatch_moves_to_a_live_server() {
    let dead = closed_port().await;
    let live = greeter("live").await;
    let text = tcp_cfg(
        "  retries 1\n  option redispatch",
        &format!("  server s1 {dead}\n  server s2 {}", live.addr),
    );
    let eng = engine::start(config(&text)).await.unwrap();
    // Round-robin starts at s1 (dead); the last retry is redispatched to s2.
    let mut c = TcpStream::connect(eng.addr("fe").unwrap()).await.unwrap();
    assert_eq!(read_n(&mut c, 4, 3 * SEC).await.unwrap(), b"live");
}

#[tokio::test]
async fn health_check_marks_down_and_traffic_moves() {
    let s1 = greeter("s1").await;
    let s2 = greeter("s2").await;
    let text = tcp_cfg(
        "",
        &format!(
            "  server s1 {} check inter 100ms fall 2 rise 2\n  server s2 {} check inter 100ms fall 2 rise 2",
            s1.addr, s2.addr
        ),
    );
    let eng = engine::start(config(&text)).await.unwrap();
    let fe = eng.addr("fe").unwrap();
    let mut seen = Vec::new();
    for _ in 0..4 {
        let mut c = TcpStream::connect(fe).await.unwrap();
        seen.push(read_n(&mut c, 2, SEC).await.unwrap());
    }
    assert!(
        seen.contains(&b"s1".to_vec()) && seen.contains(&b"s2".to_vec()),
        "round-robin: {seen:?}"
    );

    // Let a couple of checks pass so s1 is fully healthy, then kill it.
    tokio::time::sleep(Duration::from_millis(300)).await;
    s1.stop();
    let t0 = Instant::now();
    assert!(wait_for(2 * SEC, || !eng.state.server(0, 0).unwrap().is_up()).await);
    // inter * fall = 200 ms, plus scheduling slack.
    assert!(
        t0.elapsed() < Duration::from_millis(600),
        "DOWN after {:?}",
        t0.elapsed()
    );
    assert!(eng.state.server(0, 1).unwrap().is_up());
    for _ in 0..4 {
        let mut c = TcpStream::connect(fe).await.unwrap();
        assert_eq!(read_n(&mut c, 2, SEC).await.unwrap(), b"s2");
    }
}

#[tokio::test]
async fn disabled_server_gets_no_traffic() {
    let s1 = greeter("s1").await;
    let s2 = greeter("s2").await;
    let text = tcp_cfg(
        "",
        &format!("  server s1 {} disabled\n  server s2 {}", s1.addr, s2.addr),
    );
    let eng = engine::start(config(&text)).await.unwrap();
    for _ in 0..3 {
        let mut c = TcpStream::connect(eng.addr("fe").unwrap()).await.unwrap();
        assert_eq!(read_n(&mut c, 2, SEC).await.unwrap(), b"s2");
    }
}

#[tokio::test]
async fn frontend_maxconn_holds_the_next_connection() {
    let echo = echo_server().await;
    let text = format!(
        "defaults\n  mode tcp\n  timeout connect 500ms\n  timeout client 5s\n  timeout server 5s\n\
         frontend fe\n  bind 127.0.0.1:1\n  maxconn 2\n  default_backend be\n\
         backend be\n  server s1 {}\n",
        echo.addr
    );
    let eng = engine::start(config(&text)).await.unwrap();
    let fe = eng.addr("fe").unwrap();
    let mut a = TcpStream::connect(fe).await.unwrap();
    let mut b = TcpStream::connect(fe).await.unwrap();
    for s in [&mut a, &mut b] {
        s.write_all(b"ping").await.unwrap();
        assert_eq!(read_n(s, 4, SEC).await.unwrap(), b"ping");
    }
    // The third completes the TCP handshake in the kernel backlog but is not served.
    let mut c = TcpStream::connect(fe).await.unwrap();
    c.write_all(b"wait").await.unwrap();
    assert!(read_n(&mut c, 4, Duration::from_millis(300))
        .await
        .is_none());
    assert_eq!(eng.live_connections(), 2);
    drop(a);
    assert_eq!(read_n(&mut c, 4, 2 * SEC).await.unwrap(), b"wait");
    b.write_all(b"still").await.unwrap();
    assert_eq!(read_n(&mut b, 5, SEC).await.unwrap(), b"still");
}

#[tokio::test]
async fn global_and_bind_maxconn() {
    let echo = echo_server().await;
    let text = format!(
        "global\n  maxconn 1\ndefaults\n  mode tcp\n  timeout connect 500ms\n  timeout client 5s\n  timeout server 5s\n\
         frontend fe\n  bind 127.0.0.1:1\n  bind 127.0.0.1:1\n  default_backend be\n\
         backend be\n  server s1 {}\n",
        echo.addr
    );
    let eng = engine::start(config(&text)).await.unwrap();
    let addrs = eng.addrs("fe");
    assert_eq!(addrs.len(), 2);
    let mut a = TcpStream::connect(addrs[0]).await.unwrap();
    a.write_all(b"1").await.unwrap();
    assert_eq!(read_n(&mut a, 1, SEC).await.unwrap(), b"1");
    // The global limit holds across binds.
    let mut b = TcpStream::connect(addrs[1]).await.unwrap();
    b.write_all(b"2").await.unwrap();
    assert!(read_n(&mut b, 1, Duration::from_millis(300))
        .await
        .is_none());
    drop(a);
    assert_eq!(read_n(&mut b, 1, 2 * SEC).await.unwrap(), b"2");
}

// ---------------------------------------------------------------------------------------
// TLS

const RSA_A: &str = "rsa-a.test.pem";
const EC_B: &str = "ecdsa-wild.b.test.pem";
const SIDE_C: &str = "sidecar-c.test.pem";
const ALL: [&str; 3] = [RSA_A, EC_B, SIDE_C];

async fn tls_engine(bind_opts: &str) -> (engine::RunningEngine, TestServer) {
    let echo = echo_server().await;
    let text = format!(
        "defaults\n  mode tcp\n  timeout connect 500ms\n  timeout client 2s\n  timeout server 5s\n\
         frontend fe\n  bind 127.0.0.1:1 ssl crt {} crt {} crt {} {bind_opts}\n  default_backend be\n\
         backend be\n  server s1 {}\n",
        cert_path(RSA_A),
        cert_path(EC_B),
        cert_path(SIDE_C),
        echo.addr
    );
    (engine::start(config(&text)).await.unwrap(), echo)
}

/// Connects over TLS; returns the stream, the leaf the server presented, and the ALPN.
async fn tls_connect(
    eng: &engine::RunningEngine,
    sni: Option<&str>,
    alpn: &[&str],
) -> std::io::Result<(
    tokio_rustls::client::TlsStream<TcpStream>,
    Vec<u8>,
    Option<Vec<u8>>,
)> {
    let (cfg, pinned) = tls::client(&ALL, alpn, sni.is_some());
    let name = ServerName::try_from(sni.unwrap_or("a.test").to_string()).unwrap();
    let tcp = TcpStream::connect(eng.addr("fe").unwrap()).await?;
    let s = tokio::time::timeout(2 * SEC, TlsConnector::from(cfg).connect(name, tcp)).await??;
    let leaf = pinned.seen.lock().unwrap().clone().unwrap_or_default();
    let alpn = s.get_ref().1.alpn_protocol().map(<[u8]>::to_vec);
    Ok((s, leaf, alpn))
}

#[tokio::test]
async fn tls_sni_selects_certificates() {
    let (eng, _echo) = tls_engine("").await;
    let leaves = tls::leaves(&ALL);
    for (sni, want) in [
        (Some("a.test"), 0),
        (Some("A.Test"), 0),
        (Some("x.b.test"), 1),
        (Some("c.test"), 2), // CN-only certificate with its key in the .key sidecar
        // The wildcard SAN does not cover the bare domain, but HAProxy indexes the CN too
        // (checked with `openssl s_client -servername b.test` against haproxy 2.6.12).
        (Some("b.test"), 1),
        (Some("y.x.b.test"), 0), // nor two labels
        (Some("unknown.test"), 0),
        (None, 0), // no SNI: the first certificate
    ] {
        let (mut s, leaf, _) = tls_connect(&eng, sni, &[]).await.unwrap();
        assert!(leaf == leaves[want], "SNI {sni:?}: wrong certificate");
        s.write_all(b"over tls").await.unwrap();
        assert_eq!(read_n(&mut s, 8, SEC).await.unwrap(), b"over tls");
    }
}

#[tokio::test]
async fn tls_alpn_and_half_close() {
    let (eng, _echo) = tls_engine("alpn h2,http/1.1").await;
    let (_, _, alpn) = tls_connect(&eng, Some("a.test"), &["h2", "http/1.1"])
        .await
        .unwrap();
    assert_eq!(alpn.as_deref(), Some(&b"h2"[..]));
    let (mut s, _, alpn) = tls_connect(&eng, Some("a.test"), &["http/1.1"])
        .await
        .unwrap();
    assert_eq!(alpn.as_deref(), Some(&b"http/1.1"[..]));
    // close_notify + FIN from the client reaches the echo server, whose FIN comes back.
    s.write_all(b"bye").await.unwrap();
    s.shutdown().await.unwrap();
    let (data, eof) = read_until_eof(&mut s, 2 * SEC).await;
    assert_eq!(data, b"bye");
    assert!(eof);
}

/// Bulk data both ways over TLS (many full records, a reader slower than the writer, tiny
/// reads that leave plaintext in the proxy's stream), then a clean close.
#[tokio::test]
async fn tls_bulk_both_ways_with_small_reads() {
    let (eng, _echo) = tls_engine("").await;
    let (s, _, _) = tls_connect(&eng, Some("a.test"), &[]).await.unwrap();
    let (mut rd, mut wr) = tokio::io::split(s);
    let data: Vec<u8> = (0..3_000_000u32).map(|i| (i * 7 + i / 251) as u8).collect();
    let sent = data.clone();
    let writer = tokio::spawn(async move {
        for chunk in sent.chunks(100_003) {
            wr.write_all(chunk).await.unwrap();
        }
        wr.shutdown().await.unwrap();
    });
    let mut got = Vec::with_capacity(data.len());
    let mut small = [0u8; 7];
    let mut big = vec![0u8; 65536];
    let deadline = tokio::time::Instant::now() + 20 * SEC;
    loop {
        // Alternate tiny and large reads.
        let buf: &mut [u8] = if got.len() % 3 == 0 {
            &mut small
        } else {
            &mut big
        };
        let n = tokio::time::timeout_at(deadline, rd.read(buf))
            .await
            .expect("bulk transfer timed out")
            .unwrap();
        if n == 0 {
            break;
        }
        got.extend_from_slice(&buf[..n]);
    }
    writer.await.unwrap();
    assert_eq!(got.len(), data.len());
    assert!(got == data, "bytes differ after the TLS round trip");
}

#[tokio::test]
async fn tls_without_alpn_negotiates_none() {
    let (eng, _echo) = tls_engine("").await;
    let (_, _, alpn) = tls_connect(&eng, Some("a.test"), &["h2"]).await.unwrap();
    assert_eq!(alpn, None);
}

#[tokio::test]
async fn tls_strict_sni_refuses_unknown_names() {
    let (eng, _echo) = tls_engine("strict-sni").await;
    assert!(tls_connect(&eng, Some("x.b.test"), &[]).await.is_ok());
    assert!(tls_connect(&eng, Some("unknown.test"), &[]).await.is_err());
    assert!(tls_connect(&eng, None, &[]).await.is_err());
}

#[tokio::test]
async fn tls_garbage_and_silent_clients_are_dropped() {
    let (eng, _echo) = tls_engine("").await;
    let fe = eng.addr("fe").unwrap();
    // Plain HTTP on the TLS port: closed without a crash.
    let mut c = TcpStream::connect(fe).await.unwrap();
    c.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let (_, eof) = read_until_eof(&mut c, 3 * SEC).await;
    assert!(eof);
    // A client that never sends a ClientHello is cut at `timeout client` (2s).
    let t0 = Instant::now();
    let mut c = TcpStream::connect(fe).await.unwrap();
    let (_, eof) = read_until_eof(&mut c, 4 * SEC).await;
    assert!(eof);
    assert!(
        t0.elapsed() >= Duration::from_millis(1500),
        "{:?}",
        t0.elapsed()
    );
    // The engine still serves.
    assert!(tls_connect(&eng, Some("a.test"), &[]).await.is_ok());
}

#[tokio::test]
async fn tls_versions_and_ciphers() {
    // TLS 1.3 only: a 1.2-only client fails.
    let (eng, _echo) = tls_engine("ssl-min-ver TLSv1.3").await;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let v = tls::client(&ALL, &[], true).1;
    let c12 = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS12])
        .unwrap()
        .dangerous()
        .with_custom_certificate_verifier(v)
        .with_no_client_auth();
    let tcp = TcpStream::connect(eng.addr("fe").unwrap()).await.unwrap();
    let r = TlsConnector::from(Arc::new(c12))
        .connect(ServerName::try_from("a.test").unwrap(), tcp)
        .await;
    assert!(r.is_err());
    assert!(tls_connect(&eng, Some("a.test"), &[]).await.is_ok());

    // Debian's cipher list (with DHE names rustls lacks) loads and works.
    let (eng, _echo) = tls_engine(
        "ciphers ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES128-GCM-SHA256 ssl-max-ver TLSv1.2",
    )
    .await;
    let (s, _, _) = tls_connect(&eng, Some("a.test"), &[]).await.unwrap();
    let conn = s.get_ref().1;
    assert_eq!(
        conn.protocol_version(),
        Some(rustls::ProtocolVersion::TLSv1_2)
    );
    assert_eq!(
        conn.negotiated_cipher_suite().unwrap().suite(),
        rustls::CipherSuite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256
    );
}

#[tokio::test]
async fn tls_only_old_versions_is_a_start_error() {
    let echo = echo_server().await;
    let text = format!(
        "defaults\n  mode tcp\n  timeout connect 500ms\n  timeout client 2s\n  timeout server 5s\n\
         frontend fe\n  bind 127.0.0.1:1 ssl crt {} ssl-max-ver TLSv1.1\n  default_backend be\n\
         backend be\n  server s1 {}\n",
        cert_path(RSA_A),
        echo.addr
    );
    let err = engine::start(config(&text)).await.err().expect("must fail");
    assert!(format!("{err:#}").contains("TLSv1.2"), "{err:#}");
}

// ---------------------------------------------------------------------------------------
// Stopping

#[tokio::test]
async fn soft_stop_closes_listeners_and_waits_for_connections() {
    let echo = echo_server().await;
    let eng = engine::start(config(&tcp_cfg("", &format!("  server s1 {}", echo.addr))))
        .await
        .unwrap();
    let fe = eng.addr("fe").unwrap();
    let mut c = TcpStream::connect(fe).await.unwrap();
    c.write_all(b"a").await.unwrap();
    assert_eq!(read_n(&mut c, 1, SEC).await.unwrap(), b"a");
    eng.soft_stop();
    // New connections are refused once the listener is closed.
    assert!(
        wait_for(2 * SEC, || std::net::TcpStream::connect_timeout(
            &fe,
            Duration::from_millis(100)
        )
        .is_err())
        .await
    );
    // The established tunnel still works.
    c.write_all(b"b").await.unwrap();
    assert_eq!(read_n(&mut c, 1, SEC).await.unwrap(), b"b");
    assert_eq!(eng.state.stop_level(), StopLevel::Soft);
    drop(c);
    tokio::time::timeout(3 * SEC, eng.wait())
        .await
        .expect("engine stops once drained");
}

#[tokio::test]
async fn hard_stop_after_bounds_the_drain() {
    let echo = echo_server().await;
    let text = format!(
        "global\n  hard-stop-after 300ms\n{}",
        tcp_cfg("", &format!("  server s1 {}", echo.addr))
    );
    let eng = engine::start(config(&text)).await.unwrap();
    let mut c = TcpStream::connect(eng.addr("fe").unwrap()).await.unwrap();
    c.write_all(b"a").await.unwrap();
    assert_eq!(read_n(&mut c, 1, SEC).await.unwrap(), b"a");
    let t0 = Instant::now();
    eng.soft_stop();
    tokio::time::timeout(3 * SEC, eng.wait()).await.unwrap();
    assert!(t0.elapsed() >= Duration::from_millis(250));
    let (_, eof) = read_until_eof(&mut c, 2 * SEC).await;
    assert!(eof, "the hard stop closes the tunnel");
}

#[tokio::test]
async fn send_proxy_v1_header_precedes_client_bytes() {
    let (tx, rx) = tokio::sync::oneshot::channel::<Vec<u8>>();
    let tx = std::sync::Mutex::new(Some(tx));
    let srv = serve(move |mut s: TcpStream| {
        let tx = tx.lock().unwrap().take();
        async move {
            let mut got = Vec::new();
            let _ = s.read_to_end(&mut got).await;
            if let Some(tx) = tx {
                let _ = tx.send(got);
            }
        }
    })
    .await;
    let eng = engine::start(config(&tcp_cfg(
        "",
        &format!("  server s1 {} send-proxy", srv.addr),
    )))
    .await
    .unwrap();
    let fe = eng.addr("fe").unwrap();
    let mut c = TcpStream::connect(fe).await.unwrap();
    let me = c.local_addr().unwrap();
    c.write_all(b"payload").await.unwrap();
    c.shutdown().await.unwrap();
    let got = tokio::time::timeout(2 * SEC, rx).await.unwrap().unwrap();
    let want = format!(
        "PROXY TCP4 127.0.0.1 127.0.0.1 {} {}\r\npayload",
        me.port(),
        fe.port()
    );
    assert_eq!(String::from_utf8_lossy(&got), want);
}

#[tokio::test]
async fn balance_algorithms_drive_tcp_mode() {
    let s1 = greeter("s1").await;
    let s2 = greeter("s2").await;
    let fetch = |fe| async move {
        let mut c = TcpStream::connect(fe).await.unwrap();
        String::from_utf8(read_n(&mut c, 2, SEC).await.unwrap()).unwrap()
    };
    // Weighted round-robin.
    let text = tcp_cfg(
        "",
        &format!(
            "  server s1 {} weight 3\n  server s2 {} weight 1",
            s1.addr, s2.addr
        ),
    );
    let eng = engine::start(config(&text)).await.unwrap();
    let fe = eng.addr("fe").unwrap();
    let mut n1 = 0;
    for _ in 0..8 {
        if fetch(fe).await == "s1" {
            n1 += 1;
        }
    }
    assert_eq!(n1, 6, "weights 3:1 over 8 connections");
    // `balance source`: one client address always lands on the same server.
    let text = tcp_cfg(
        "",
        &format!(
            "  balance source\n  server s1 {}\n  server s2 {}",
            s1.addr, s2.addr
        ),
    );
    let eng = engine::start(config(&text)).await.unwrap();
    let fe = eng.addr("fe").unwrap();
    let first = fetch(fe).await;
    for _ in 0..5 {
        assert_eq!(fetch(fe).await, first);
    }
    // `balance leastconn`: a held connection pushes new ones to the other server.
    let text = tcp_cfg(
        "",
        &format!(
            "  balance leastconn\n  server s1 {}\n  server s2 {}",
            s1.addr, s2.addr
        ),
    );
    let eng = engine::start(config(&text)).await.unwrap();
    let fe = eng.addr("fe").unwrap();
    let mut held = TcpStream::connect(fe).await.unwrap();
    let busy = String::from_utf8(read_n(&mut held, 2, SEC).await.unwrap()).unwrap();
    for _ in 0..3 {
        assert_ne!(fetch(fe).await, busy);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
