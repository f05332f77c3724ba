//! The seed deployment (`testdata/seed/haproxy.cfg`) runs unchanged: loaded from the file
//! exactly as a user would, with only its ports moved (bind → port 0, server → the test's
//! WebSocket echo backend), then a real WebSocket client speaks `wss://` through it and a
//! plain HTTPS request gets its answer from the same backend.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use common::*;
use futures_util::{SinkExt, StreamExt};
use haproxide::config::{load, LoadOptions};
use haproxide::engine;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::rustls::pki_types::ServerName;
use tokio_rustls::TlsConnector;
use tokio_tungstenite::tungstenite::Message;

fn seed_config(backend: SocketAddr) -> Arc<haproxide::config::ir::Config> {
    let path = format!("{}/testdata/seed/haproxy.cfg", env!("CARGO_MANIFEST_DIR"));
    // Relative paths in the config (the certificate) are resolved from the crate root, the
    // directory `cargo test` runs in, as HAProxy resolves them from its working directory.
    let loaded = load(&LoadOptions {
        files: vec![path],
        ..LoadOptions::default()
    });
    let mut cfg = loaded
        .config
        .unwrap_or_else(|| panic!("seed config must load: {:#?}", loaded.diagnostics));
    assert_eq!(cfg.global.maxconn, Some(4096));
    let fe = &mut cfg.frontends[0];
    assert_eq!(fe.timeouts.client, Some(30_000));
    assert!(fe.binds[0].tls.is_some());
    for s in &mut fe.binds[0].sockets {
        s.set_port(0);
    }
    let be = &mut cfg.backends[0];
    assert_eq!(be.timeouts.tunnel, Some(3_600_000));
    assert!(be.servers[0].check);
    be.servers[0].resolved = Some(backend);
    be.servers[0].addr.port = haproxide::config::ir::PortSpec::Single(backend.port());
    Arc::new(cfg)
}

/// A backend that speaks WebSocket on `/ws` (echo) and answers plain HTTP otherwise.
async fn vrtql_like_backend() -> TestServer {
    serve(|s: TcpStream| async move {
        let mut peek = [0u8; 64];
        let Ok(n) = s.peek(&mut peek).await else {
            return;
        };
        if peek[..n].starts_with(b"GET /ws") {
            let Ok(mut ws) = tokio_tungstenite::accept_async(s).await else {
                return;
            };
            while let Some(Ok(m)) = ws.next().await {
                if (m.is_text() || m.is_binary()) && ws.send(m).await.is_err() {
                    return;
                }
            }
        } else {
            let mut s = s;
            let mut buf = vec![0u8; 4096];
            let _ = s.read(&mut buf).await;
            let _ = s
                .write_all(
                    b"HTTP/1.1 200 OK\r\ncontent-length: 6\r\nconnection: close\r\n\r\nvrtql1",
                )
                .await;
        }
    })
    .await
}

async fn tls_to(addr: SocketAddr) -> tokio_rustls::client::TlsStream<TcpStream> {
    let (ccfg, _) = tls::client(&["rsa-a.test.pem"], &["http/1.1"], true);
    let tcp = TcpStream::connect(addr).await.unwrap();
    TlsConnector::from(ccfg)
        .connect(ServerName::try_from("a.test").unwrap(), tcp)
        .await
        .unwrap()
}

#[tokio::test]
async fn seed_deployment_carries_wss_and_https() {
    let backend = vrtql_like_backend().await;
    let eng = engine::start(seed_config(backend.addr)).await.unwrap();
    let addr = eng.addr("ws_front").unwrap();

    // wss:// through TLS termination to a ws:// backend, messages both ways.
    let tls = tls_to(addr).await;
    let (mut ws, resp) = tokio_tungstenite::client_async("wss://a.test/ws", tls)
        .await
        .unwrap();
    assert_eq!(resp.status(), 101);
    for i in 0..20 {
        let msg = format!("message {i}");
        ws.send(Message::Text(msg.clone())).await.unwrap();
        let got = tokio::time::timeout(Duration::from_secs(3), ws.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        assert_eq!(got, Message::Text(msg));
    }
    ws.send(Message::Binary(vec![7u8; 100_000])).await.unwrap();
    let got = tokio::time::timeout(Duration::from_secs(3), ws.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(got.len(), 100_000);
    ws.close(None).await.unwrap();

    // https:// to the same backend.
    let mut tls = tls_to(addr).await;
    tls.write_all(b"GET / HTTP/1.1\r\nhost: a.test\r\nconnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(3), tls.read_to_end(&mut out)).await;
    let text = String::from_utf8_lossy(&out);
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(text.ends_with("vrtql1"), "{text}");
}
