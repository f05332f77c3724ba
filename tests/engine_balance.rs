//! Load balancing through the running proxy: roundrobin over three WebSocket backends in
//! HAProxy's order, and `balance source` affinity for clients bound to different 127.0.0.x
//! addresses, checked against the pure balancer (itself checked against HAProxy by
//! `scripts/lb-diff`).

mod common;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use common::*;
use futures_util::{SinkExt, StreamExt};
use haproxide::balance::{
    keys, Algorithm, Balancer, HashConfig, HashFunction, HashType, ServerSlot,
};
use haproxide::engine;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::tungstenite::Message;

/// A WebSocket backend that says its name first, then echoes.
async fn named_ws(name: &'static str) -> TestServer {
    serve(move |s: TcpStream| async move {
        let Ok(mut ws) = tokio_tungstenite::accept_async(s).await else {
            return;
        };
        let _ = ws.send(Message::Text(name.to_string())).await;
        while let Some(Ok(m)) = ws.next().await {
            if (m.is_text() || m.is_binary()) && ws.send(m).await.is_err() {
                return;
            }
        }
    })
    .await
}

fn with_backends(text: &str, servers: &[SocketAddr]) -> String {
    let mut t = text.to_string();
    for (i, a) in servers.iter().enumerate() {
        t = t.replace(&format!("@S{}", i + 1), &a.to_string());
    }
    t
}

#[tokio::test]
async fn roundrobin_spreads_websockets_over_three_servers_in_order() {
    let (a, b, c) = (
        named_ws("vrtql1").await,
        named_ws("vrtql2").await,
        named_ws("vrtql3").await,
    );
    let text = with_backends(
        "defaults\n  mode http\n  timeout connect 1s\n  timeout client 5s\n  timeout server 5s\n  timeout tunnel 1h\n\
         frontend fe\n  bind 127.0.0.1:1\n  default_backend ws\n\
         backend ws\n  balance roundrobin\n  server vrtql1 @S1\n  server vrtql2 @S2\n  server vrtql3 @S3\n",
        &[a.addr, b.addr, c.addr],
    );
    let eng = engine::start(config(&text)).await.unwrap();
    let addr = eng.addr("fe").unwrap();
    let mut names = Vec::new();
    let mut open = Vec::new();
    for _ in 0..6 {
        let tcp = TcpStream::connect(addr).await.unwrap();
        let (mut ws, _) = tokio_tungstenite::client_async("ws://a.test/", tcp)
            .await
            .unwrap();
        let first = tokio::time::timeout(Duration::from_secs(3), ws.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        names.push(first.into_text().unwrap().to_string());
        open.push(ws); // tunnels stay open: long-lived, as WebSockets are
    }
    assert_eq!(
        names,
        ["vrtql1", "vrtql2", "vrtql3", "vrtql1", "vrtql2", "vrtql3"]
    );
    for ws in &mut open {
        ws.send(Message::Text("ping".into())).await.unwrap();
        let echo = tokio::time::timeout(Duration::from_secs(3), ws.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        assert_eq!(echo, Message::Text("ping".into()));
    }
}

/// An HTTP backend that answers its own name.
async fn named_http(name: &'static str) -> TestServer {
    serve(move |mut s: TcpStream| async move {
        let mut buf = vec![0u8; 4096];
        let _ = s.read(&mut buf).await;
        let body = name.as_bytes();
        let head = format!(
            "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
            body.len()
        );
        let _ = s.write_all(head.as_bytes()).await;
        let _ = s.write_all(body).await;
    })
    .await
}

async fn get_from(src: Ipv4Addr, proxy: SocketAddr) -> String {
    let sock = TcpSocket::new_v4().unwrap();
    sock.bind(SocketAddr::new(IpAddr::V4(src), 0)).unwrap();
    let mut s = sock.connect(proxy).await.unwrap();
    s.write_all(b"GET / HTTP/1.1\r\nhost: a\r\nconnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(3), s.read_to_end(&mut out)).await;
    let text = String::from_utf8_lossy(&out).to_string();
    text.rsplit("\r\n\r\n").next().unwrap_or("").to_string()
}

async fn source_affinity(hash_type: &str, hash: HashConfig) {
    source_affinity_with(hash_type, hash, ["", "", ""], [None, None, None]).await
}

async fn source_affinity_with(
    hash_type: &str,
    hash: HashConfig,
    server_opts: [&str; 3],
    ids: [Option<u32>; 3],
) {
    let names = ["s1", "s2", "s3"];
    let (a, b, c) = (
        named_http("s1").await,
        named_http("s2").await,
        named_http("s3").await,
    );
    let text = with_backends(
        &format!(
            "defaults\n  mode http\n  timeout connect 1s\n  timeout client 5s\n  timeout server 5s\n\
             frontend fe\n  bind 127.0.0.1:1\n  default_backend be\n\
             backend be\n  balance source\n  {hash_type}\n  server s1 @S1 {}\n  server s2 @S2 {}\n  server s3 @S3 {}\n",
            server_opts[0], server_opts[1], server_opts[2]
        ),
        &[a.addr, b.addr, c.addr],
    );
    let eng = engine::start(config(&text)).await.unwrap();
    let proxy = eng.addr("fe").unwrap();
    let slots = ids
        .iter()
        .map(|id| {
            let mut slot = ServerSlot::new(1);
            slot.id = *id;
            slot
        })
        .collect();
    let mut model = Balancer::new(Algorithm::Source, hash, slots, false);
    let mut seen = std::collections::HashSet::new();
    for last in 2..=21u8 {
        let ip = Ipv4Addr::new(127, 0, 0, last);
        let expected = model
            .pick(Some(keys::source_key(&IpAddr::V4(ip)).as_bytes()))
            .map(|i| names[i]);
        let first = get_from(ip, proxy).await;
        let second = get_from(ip, proxy).await;
        assert_eq!(first, second, "client {ip} must stick to one server");
        assert_eq!(
            Some(first.as_str()),
            expected,
            "client {ip}: the server HAProxy would pick"
        );
        seen.insert(first);
    }
    assert!(
        seen.len() >= 2,
        "20 clients should spread over several servers: {seen:?}"
    );
}

#[tokio::test]
async fn source_affinity_map_based() {
    source_affinity(
        "hash-type map-based",
        HashConfig::new(HashType::MapBased, None, false),
    )
    .await;
}

#[tokio::test]
async fn source_affinity_consistent() {
    source_affinity(
        "hash-type consistent",
        HashConfig::new(HashType::Consistent, None, false),
    )
    .await;
}

#[tokio::test]
async fn source_affinity_consistent_djb2_avalanche() {
    source_affinity(
        "hash-type consistent djb2 avalanche",
        HashConfig::new(HashType::Consistent, Some(HashFunction::Djb2), true),
    )
    .await;
}

#[tokio::test]
async fn source_affinity_consistent_with_server_ids() {
    // `id` places servers on the consistent-hash ring, so it changes which server a client
    // gets; the engine must use it as HAProxy does.
    source_affinity_with(
        "hash-type consistent",
        HashConfig::new(HashType::Consistent, None, false),
        ["id 10", "id 3", "id 7"],
        [Some(10), Some(3), Some(7)],
    )
    .await;
}
