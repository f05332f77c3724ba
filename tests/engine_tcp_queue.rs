//! TCP mode queues like HAProxy: with every server at its `maxconn`, a new connection waits
//! for a slot (served when one frees) instead of being sent elsewhere, and is closed when
//! `timeout queue` expires first.

mod common;

use std::time::{Duration, Instant};

use common::*;
use haproxide::engine;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn echo_once(s: &mut TcpStream, msg: &[u8]) -> bool {
    if s.write_all(msg).await.is_err() {
        return false;
    }
    let mut buf = vec![0u8; msg.len()];
    matches!(
        tokio::time::timeout(Duration::from_secs(3), s.read_exact(&mut buf)).await,
        Ok(Ok(_))
    ) && buf == msg
}

fn cfg(echo: std::net::SocketAddr, queue: &str) -> String {
    format!(
        "defaults\n  mode tcp\n  timeout connect 1s\n  timeout client 5s\n  timeout server 5s\n  timeout queue {queue}\n\
         frontend fe\n  bind 127.0.0.1:1\n  default_backend be\n\
         backend be\n  server s1 {echo} maxconn 1\n"
    )
}

#[tokio::test]
async fn second_connection_waits_for_the_slot() {
    let echo = echo_server().await;
    let eng = engine::start(config(&cfg(echo.addr, "3s"))).await.unwrap();
    let addr = eng.addr("fe").unwrap();
    let mut first = TcpStream::connect(addr).await.unwrap();
    assert!(echo_once(&mut first, b"one").await);
    let mut second = TcpStream::connect(addr).await.unwrap();
    second.write_all(b"two").await.unwrap();
    // Queued: nothing comes back while the first connection holds the only slot.
    let mut buf = [0u8; 3];
    assert!(
        tokio::time::timeout(Duration::from_millis(300), second.read_exact(&mut buf))
            .await
            .is_err()
    );
    drop(first);
    assert!(matches!(
        tokio::time::timeout(Duration::from_secs(3), second.read_exact(&mut buf)).await,
        Ok(Ok(_))
    ));
    assert_eq!(&buf, b"two");
}

#[tokio::test]
async fn queued_connection_closed_at_timeout_queue() {
    let echo = echo_server().await;
    let eng = engine::start(config(&cfg(echo.addr, "300ms")))
        .await
        .unwrap();
    let addr = eng.addr("fe").unwrap();
    let mut first = TcpStream::connect(addr).await.unwrap();
    assert!(echo_once(&mut first, b"one").await);
    let mut second = TcpStream::connect(addr).await.unwrap();
    let started = Instant::now();
    let mut buf = [0u8; 8];
    let r = tokio::time::timeout(Duration::from_secs(3), second.read(&mut buf)).await;
    assert!(
        matches!(r, Ok(Ok(0)) | Ok(Err(_))),
        "closed without data: {r:?}"
    );
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(250) && waited < Duration::from_secs(2),
        "waited {waited:?}"
    );
    assert!(echo_once(&mut first, b"still").await);
}

/// A server that writes its name and closes.
async fn namer(name: &'static str) -> TestServer {
    serve(move |mut s: TcpStream| async move {
        let _ = s.write_all(name.as_bytes()).await;
    })
    .await
}

async fn name_from(src: std::net::Ipv4Addr, proxy: std::net::SocketAddr) -> String {
    let sock = tokio::net::TcpSocket::new_v4().unwrap();
    sock.bind(std::net::SocketAddr::new(src.into(), 0)).unwrap();
    let mut s = sock.connect(proxy).await.unwrap();
    let mut out = String::new();
    let _ = tokio::time::timeout(Duration::from_secs(3), s.read_to_string(&mut out)).await;
    out
}

#[tokio::test]
async fn tcp_use_backend_conditions_on_layer4_fetches() {
    let (a, b) = (namer("internal").await, namer("public").await);
    let text = format!(
        "defaults\n  mode tcp\n  timeout connect 1s\n  timeout client 5s\n  timeout server 5s\n\
         frontend fe\n  bind 127.0.0.1:1\n  acl internal src 127.0.0.2/32\n  acl web hdr(host) -i example.com\n\
         use_backend int if internal\n  use_backend int if web\n  default_backend pub\n\
         backend int\n  server s {}\nbackend pub\n  server s {}\n",
        a.addr, b.addr
    );
    let eng = engine::start(config(&text)).await.unwrap();
    let proxy = eng.addr("fe").unwrap();
    assert_eq!(
        name_from("127.0.0.2".parse().unwrap(), proxy).await,
        "internal"
    );
    // An HTTP fetch has no value in TCP mode without inspect-delay: the rule does not match.
    assert_eq!(
        name_from("127.0.0.3".parse().unwrap(), proxy).await,
        "public"
    );
}
