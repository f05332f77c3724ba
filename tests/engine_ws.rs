//! WebSocket through the HTTP mode over real sockets (127.0.0.1, port 0): a real client
//! (tokio-tungstenite) to an echo backend over plain HTTP/1.1, over TLS (`wss://`), and over
//! HTTP/2 (RFC 8441 extended CONNECT translated to an HTTP/1.1 upgrade); `timeout tunnel`
//! versus `timeout client`; the server closing the tunnel.

#![allow(clippy::result_large_err, clippy::collapsible_match)]

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::*;
use futures_util::{SinkExt, StreamExt};
use haproxide::engine::{self, RunningEngine};
use http_body_util::Empty;
use hyper::Request;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_tungstenite::tungstenite::protocol::Role;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

const SEC: Duration = Duration::from_secs(1);

/// A WebSocket echo backend: greets with `hello <path>`, then echoes every data message.
async fn ws_echo() -> TestServer {
    serve(|s: TcpStream| async move {
        let mut path = String::new();
        let cb =
            |req: &tokio_tungstenite::tungstenite::handshake::server::Request,
             resp: tokio_tungstenite::tungstenite::handshake::server::Response| {
                path = req.uri().path().to_string();
                Ok(resp)
            };
        let Ok(mut ws) = tokio_tungstenite::accept_hdr_async(s, cb).await else {
            return;
        };
        let _ = ws.send(Message::Text(format!("hello {path}"))).await;
        while let Some(Ok(m)) = ws.next().await {
            match m {
                Message::Text(_) | Message::Binary(_) => {
                    if ws.send(m).await.is_err() {
                        return;
                    }
                }
                Message::Close(_) => return,
                _ => {}
            }
        }
    })
    .await
}

/// Loads `text` and starts it; binds are written `127.0.0.1:0` and HAProxy rejects port 0,
/// so they go through the parser as port 1 and are switched to 0 in the IR.
fn load(text: &str) -> Arc<haproxide::config::ir::Config> {
    config(text)
}

async fn start(text: &str) -> RunningEngine {
    engine::start(load(text)).await.unwrap()
}

fn cfg(timeouts: &str, bind_extra: &str, be: SocketAddr) -> String {
    format!(
        "defaults\n  mode http\n  timeout connect 500ms\n{timeouts}\n\
         frontend fe\n  bind 127.0.0.1:0{bind_extra}\n  default_backend be\n\
         backend be\n  server s1 {be}\n"
    )
}

const NORMAL: &str = "  timeout client 5s\n  timeout server 5s";

async fn roundtrip<S>(ws: &mut WebSocketStream<S>, path: &str)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let hello = tokio::time::timeout(3 * SEC, ws.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(hello, Message::Text(format!("hello {path}")));
    for i in 0..5 {
        let m = Message::Text(format!("message {i}"));
        ws.send(m.clone()).await.unwrap();
        assert_eq!(
            tokio::time::timeout(3 * SEC, ws.next())
                .await
                .unwrap()
                .unwrap()
                .unwrap(),
            m
        );
    }
    let big = Message::Binary((0..200_000u32).map(|i| i as u8).collect());
    ws.send(big.clone()).await.unwrap();
    assert_eq!(
        tokio::time::timeout(3 * SEC, ws.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap(),
        big
    );
}

#[tokio::test]
async fn websocket_over_http1() {
    let be = ws_echo().await;
    let eng = start(&cfg(NORMAL, "", be.addr)).await;
    let tcp = TcpStream::connect(eng.addr("fe").unwrap()).await.unwrap();
    let (mut ws, resp) = tokio_tungstenite::client_async("ws://a.test/chat", tcp)
        .await
        .unwrap();
    assert_eq!(resp.status(), 101);
    roundtrip(&mut ws, "/chat").await;
    ws.close(None).await.unwrap();
}

#[tokio::test]
async fn websocket_over_tls() {
    let be = ws_echo().await;
    let eng = start(&cfg(
        NORMAL,
        &format!(" ssl crt {}", cert_path("rsa-a.test.pem")),
        be.addr,
    ))
    .await;
    let (ccfg, _) = tls::client(&["rsa-a.test.pem"], &["http/1.1"], true);
    let tcp = TcpStream::connect(eng.addr("fe").unwrap()).await.unwrap();
    let tls = TlsConnector::from(ccfg)
        .connect(ServerName::try_from("a.test").unwrap(), tcp)
        .await
        .unwrap();
    let (mut ws, _) = tokio_tungstenite::client_async("wss://a.test/secure", tls)
        .await
        .unwrap();
    roundtrip(&mut ws, "/secure").await;
}

#[tokio::test]
async fn websocket_over_http2_extended_connect() {
    let be = ws_echo().await;
    let eng = start(&cfg(
        NORMAL,
        &format!(" ssl crt {} alpn h2,http/1.1", cert_path("rsa-a.test.pem")),
        be.addr,
    ))
    .await;
    let (ccfg, _) = tls::client(&["rsa-a.test.pem"], &["h2"], true);
    let tcp = TcpStream::connect(eng.addr("fe").unwrap()).await.unwrap();
    let tls = TlsConnector::from(ccfg)
        .connect(ServerName::try_from("a.test").unwrap(), tcp)
        .await
        .unwrap();
    let (mut send, conn) = hyper::client::conn::http2::Builder::new(TokioExecutor::new())
        .handshake::<_, Empty<Bytes>>(TokioIo::new(tls))
        .await
        .unwrap();
    tokio::spawn(conn);
    let mut req = Request::builder()
        .method("CONNECT")
        .uri("https://a.test/h2chat")
        .header("sec-websocket-version", "13")
        .body(Empty::new())
        .unwrap();
    req.extensions_mut()
        .insert(hyper::ext::Protocol::from_static("websocket"));
    let resp = send.send_request(req).await.unwrap();
    assert_eq!(resp.status(), 200);
    let upgraded = hyper::upgrade::on(resp).await.unwrap();
    let mut ws = WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Client, None).await;
    roundtrip(&mut ws, "/h2chat").await;
}

type Next = Result<
    Option<Result<Message, tokio_tungstenite::tungstenite::Error>>,
    tokio::time::error::Elapsed,
>;

async fn next(ws: &mut WebSocketStream<TcpStream>) -> Next {
    tokio::time::timeout(3 * SEC, ws.next()).await
}

#[tokio::test]
async fn tunnel_outlives_timeout_client_and_closes_at_timeout_tunnel() {
    let be = ws_echo().await;
    let t = "  timeout client 300ms\n  timeout server 300ms\n  timeout tunnel 1200ms";
    let eng = start(&cfg(t, "", be.addr)).await;
    let tcp = TcpStream::connect(eng.addr("fe").unwrap()).await.unwrap();
    let (mut ws, _) = tokio_tungstenite::client_async("ws://a.test/t", tcp)
        .await
        .unwrap();
    assert!(matches!(
        next(&mut ws).await,
        Ok(Some(Ok(Message::Text(_))))
    ));
    // Traffic for well past `timeout client`.
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_millis(900) {
        ws.send(Message::Text("ping".into())).await.unwrap();
        assert!(matches!(next(&mut ws).await, Ok(Some(Ok(Message::Text(t)))) if t == "ping"));
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    // Idle longer than `timeout client`, shorter than `timeout tunnel`: still open.
    tokio::time::sleep(Duration::from_millis(700)).await;
    ws.send(Message::Text("still there".into())).await.unwrap();
    assert!(matches!(next(&mut ws).await, Ok(Some(Ok(Message::Text(t)))) if t == "still there"));
    // Silence: closed once `timeout tunnel` expires.
    let idle_start = Instant::now();
    let end = next(&mut ws).await;
    let took = idle_start.elapsed();
    assert!(
        matches!(
            end,
            Ok(None) | Ok(Some(Err(_))) | Ok(Some(Ok(Message::Close(_))))
        ),
        "expected the tunnel to close, got {end:?}"
    );
    assert!(
        took >= Duration::from_millis(1000) && took < Duration::from_millis(2500),
        "{took:?}"
    );
}

#[tokio::test]
async fn server_closing_the_tunnel_reaches_the_client() {
    // The backend answers the upgrade, sends one frame, then closes the TCP connection.
    let be = serve(|s: TcpStream| async move {
        let Ok(mut ws) = tokio_tungstenite::accept_async(s).await else {
            return;
        };
        let _ = ws.send(Message::Text("bye".into())).await;
        drop(ws);
    })
    .await;
    let eng = start(&cfg(NORMAL, "", be.addr)).await;
    let tcp = TcpStream::connect(eng.addr("fe").unwrap()).await.unwrap();
    let (mut ws, _) = tokio_tungstenite::client_async("ws://a.test/", tcp)
        .await
        .unwrap();
    let m = tokio::time::timeout(3 * SEC, ws.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(m, Message::Text("bye".into()));
    let end = tokio::time::timeout(3 * SEC, ws.next()).await.unwrap();
    assert!(matches!(end, None | Some(Err(_))), "{end:?}");
}

#[tokio::test]
async fn bad_accept_key_is_502() {
    // A server that answers 101 with a wrong Sec-WebSocket-Accept.
    let be = serve(|mut s: TcpStream| async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut buf = [0u8; 4096];
        let _ = s.read(&mut buf).await;
        let _ = s
            .write_all(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: bogus\r\n\r\n")
            .await;
        tokio::time::sleep(SEC).await;
    })
    .await;
    let eng = start(&cfg(NORMAL, "", be.addr)).await;
    let tcp = TcpStream::connect(eng.addr("fe").unwrap()).await.unwrap();
    let err = tokio_tungstenite::client_async("ws://a.test/", tcp)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("502"), "{err}");
}

#[tokio::test]
async fn websocket_tunnel_closed_when_server_marked_down_with_shutdown_sessions() {
    let be = ws_echo().await;
    // Checks go to a separate port that the test can close, so the echo keeps working.
    let check = serve(|_s: TcpStream| async move {}).await;
    let text = format!(
        "defaults\n  mode http\n  timeout connect 500ms\n{NORMAL}\n  timeout tunnel 1h\n\
         frontend fe\n  bind 127.0.0.1:0\n  default_backend be\n\
         backend be\n  server s1 {} check port {} inter 100ms fall 1 rise 1 on-marked-down shutdown-sessions\n",
        be.addr,
        check.addr.port()
    );
    let eng = start(&text).await;
    let tcp = TcpStream::connect(eng.addr("fe").unwrap()).await.unwrap();
    let (mut ws, _) = tokio_tungstenite::client_async("ws://a.test/down", tcp)
        .await
        .unwrap();
    roundtrip(&mut ws, "/down").await;
    check.stop();
    // Marked DOWN within about one check interval; the open tunnel must be closed then.
    let ended = tokio::time::timeout(3 * SEC, async {
        loop {
            match ws.next().await {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => break,
                Some(Ok(_)) => {}
            }
        }
    })
    .await;
    assert!(
        ended.is_ok(),
        "the tunnel to a server marked DOWN must be closed"
    );
}
