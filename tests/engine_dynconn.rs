//! HAProxy's dynamic maxconn: a server with `minconn` and `maxconn` may take
//! `max(minconn, beconn * maxconn / fullconn)` connections while its backend has fewer than
//! `fullconn` streams (queued ones included), `maxconn` beyond (`srv_dynamic_maxconn()`).
//! `fullconn` defaults to a tenth of the `maxconn` of the frontends that can route to the
//! backend. Each scenario was run against haproxy 2.6.12 with the same configuration.

mod common;

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::*;
use haproxide::engine;
use haproxide::engine::state::{BackendLoad, ServerState};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[test]
fn limit_follows_the_backend_load() {
    // minconn 1 maxconn 4 fullconn 8, beconn 0..=9.
    let load = Arc::new(BackendLoad {
        beconn: AtomicU32::new(0),
        fullconn: 8,
    });
    let st = ServerState::new(true, false);
    st.set_conn_limits(1, 4, load.clone());
    let got: Vec<u32> = (0..=9)
        .map(|n| {
            load.beconn.store(n, Ordering::SeqCst);
            st.maxconn_now().unwrap()
        })
        .collect();
    assert_eq!(got, vec![1, 1, 1, 1, 2, 2, 3, 3, 4, 4]);
    // Without minconn the limit is static; without maxconn there is none.
    let fixed = ServerState::new(true, false);
    fixed.set_conn_limits(0, 4, load.clone());
    load.beconn.store(1, Ordering::SeqCst);
    assert_eq!(fixed.maxconn_now(), Some(4));
    let free = ServerState::new(true, false);
    free.set_conn_limits(0, 0, load);
    assert_eq!(free.maxconn_now(), None);
}

#[test]
fn fullconn_default_and_minconn_above_maxconn() {
    // haproxy 2.6.12 reports these `slim` values for the backends (show stat): each
    // frontend counts once for its default backend (a listen without one: itself) and once
    // per other backend its use_backend rules name; disabled frontends do not count.
    let text = "global\n  maxconn 1000\ndefaults\n  mode http\n  timeout client 1s\n  timeout server 1s\n  timeout connect 1s\n\
        frontend f1\n  bind 127.0.0.1:1\n  maxconn 100\n  use_backend b2 if { path /x }\n  use_backend b2 if { path /y }\n  use_backend b1 if { path /z }\n  default_backend b1\n\
        frontend f2\n  bind 127.0.0.1:1\n  maxconn 50\n  use_backend b1 if { path /z }\n  default_backend b2\n\
        listen l1\n  bind 127.0.0.1:1\n  maxconn 30\n  use_backend b1 if { path /z }\n  use_backend b2 if { path /w }\n  use_backend b2 if { path /v }\n  server s 127.0.0.1:9\n\
        listen l2\n  bind 127.0.0.1:1\n  maxconn 40\n  default_backend b3\n  server s 127.0.0.1:9\n\
        frontend f3\n  bind 127.0.0.1:1\n  disabled\n  maxconn 500\n  default_backend b3\n\
        backend b1\n  server s 127.0.0.1:9\nbackend b2\n  server s 127.0.0.1:9\nbackend b3\n  server s 127.0.0.1:9 minconn 5\n\
        backend b4\n  fullconn 77\n  server s 127.0.0.1:9 minconn 2 maxconn 9\nbackend b5\n  server s 127.0.0.1:9 maxconn 3\n";
    let cfg = config(text);
    let full: Vec<(&str, u32)> = cfg
        .backends
        .iter()
        .map(|b| (b.name.as_str(), b.fullconn))
        .collect();
    assert_eq!(
        full,
        vec![
            ("l1", 3),
            ("l2", 1),
            ("b1", 18),
            ("b2", 18),
            ("b3", 4),
            ("b4", 77),
            ("b5", 1)
        ]
    );
    // srv_minmax_conn_apply(): minconn alone is a static maxconn; maxconn alone too.
    let limits = |b: usize| {
        (
            cfg.backends[b].servers[0].minconn,
            cfg.backends[b].servers[0].maxconn,
        )
    };
    assert_eq!(limits(4), (Some(5), Some(5)));
    assert_eq!(limits(5), (Some(2), Some(9)));
    assert_eq!(limits(6), (Some(3), Some(3)));
}

/// An echo server that counts its concurrent connections.
async fn counting_echo(cur: Arc<AtomicU32>, max: Arc<AtomicU32>) -> TestServer {
    serve(move |mut s: TcpStream| {
        let (cur, max) = (cur.clone(), max.clone());
        async move {
            let n = cur.fetch_add(1, Ordering::SeqCst) + 1;
            max.fetch_max(n, Ordering::SeqCst);
            let (mut r, mut w) = s.split();
            let _ = tokio::io::copy(&mut r, &mut w).await;
            cur.fetch_sub(1, Ordering::SeqCst);
        }
    })
    .await
}

async fn served(s: &mut TcpStream, wait: Duration) -> bool {
    if s.write_all(b"x").await.is_err() {
        return false;
    }
    let mut b = [0u8; 1];
    matches!(
        tokio::time::timeout(wait, s.read_exact(&mut b)).await,
        Ok(Ok(_))
    )
}

#[tokio::test]
async fn minconn_at_low_load_then_more_as_the_load_grows() {
    let (cur, max) = (Arc::new(AtomicU32::new(0)), Arc::new(AtomicU32::new(0)));
    let echo = counting_echo(cur.clone(), max.clone()).await;
    let text = format!(
        "global\n  maxconn 100\ndefaults\n  mode tcp\n  timeout connect 1s\n  timeout client 20s\n  timeout server 20s\n  timeout queue 20s\n\
         frontend fe\n  bind 127.0.0.1:1\n  default_backend be\n\
         backend be\n  fullconn 8\n  server s1 {} minconn 1 maxconn 4\n",
        echo.addr
    );
    let eng = engine::start(config(&text)).await.unwrap();
    let addr = eng.addr("fe").unwrap();
    let short = Duration::from_millis(300);

    // One connection: the limit is minconn (1), so a second one waits in the queue
    // (beconn 2: max(1, 2 * 4 / 8) = 1).
    let mut a = TcpStream::connect(addr).await.unwrap();
    assert!(served(&mut a, Duration::from_secs(3)).await);
    let mut clients = vec![TcpStream::connect(addr).await.unwrap()];
    assert!(
        !served(&mut clients[0], short).await,
        "second connection served at beconn 2"
    );

    // Eight streams on the backend: the limit is now maxconn (4), but, as in HAProxy, the
    // queue moves at the next release only.
    for _ in 0..6 {
        clients.push(TcpStream::connect(addr).await.unwrap());
    }
    tokio::time::sleep(short).await;
    assert_eq!(cur.load(Ordering::SeqCst), 1);

    // The first connection ends: 4 of the 7 waiting connections are served at once (haproxy
    // 2.6.12 too), 3 keep waiting.
    drop(a);
    assert!(wait_for(Duration::from_secs(3), || cur.load(Ordering::SeqCst) == 4).await);
    tokio::time::sleep(short).await;
    assert_eq!(cur.load(Ordering::SeqCst), 4);
    assert_eq!(max.load(Ordering::SeqCst), 4);
    let mut n = 0;
    for c in &mut clients {
        if served(c, Duration::from_millis(100)).await {
            n += 1;
        }
    }
    assert_eq!(n, 4);
}

#[tokio::test]
async fn static_maxconn_is_not_scaled() {
    // Without minconn, maxconn holds whatever the load (here 2 streams, fullconn 8).
    let (cur, max) = (Arc::new(AtomicU32::new(0)), Arc::new(AtomicU32::new(0)));
    let echo = counting_echo(cur.clone(), max).await;
    let text = format!(
        "defaults\n  mode tcp\n  timeout connect 1s\n  timeout client 20s\n  timeout server 20s\n\
         frontend fe\n  bind 127.0.0.1:1\n  default_backend be\n\
         backend be\n  fullconn 8\n  server s1 {} maxconn 4\n",
        echo.addr
    );
    let eng = engine::start(config(&text)).await.unwrap();
    let addr = eng.addr("fe").unwrap();
    let mut a = TcpStream::connect(addr).await.unwrap();
    let mut b = TcpStream::connect(addr).await.unwrap();
    assert!(served(&mut a, Duration::from_secs(3)).await);
    assert!(served(&mut b, Duration::from_secs(3)).await);
    assert_eq!(cur.load(Ordering::SeqCst), 2);
}
