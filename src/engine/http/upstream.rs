//! The server side: HTTP/1.1 connections to servers (hyper's client connection over a
//! `TcpStream`), a small idle pool keyed by server address, `maxconn`/`timeout queue`
//! slots, and [`ServerBody`], which hands the connection back when a response ends.
//!
//! Reuse follows `http-reuse` (decided by the caller through [`Reuse`]): `safe` never sends
//! the first request of a client connection over a pooled connection, `aggressive` only over
//! one that already served a request, `always` over any, and `never` keeps a connection
//! private to its client connection. Idle connections are purged after `pool-purge-delay`'s
//! default (5 s); at most [`POOL_MAX_PER_SERVER`] are kept per server.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, Weak};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Sleep;

use crate::config::ir::ProxyProtocol;
use crate::engine::conn::ConnInfo;
use crate::engine::state::ServerState;

use super::body::{BoxError, ReqBody};

/// HAProxy's default `pool-purge-delay`.
pub const POOL_PURGE: Duration = Duration::from_secs(5);
/// Idle connections kept per server.
pub const POOL_MAX_PER_SERVER: usize = 64;
/// Read buffer limit of a server connection: HAProxy's `tune.bufsize`; a larger response
/// head is a 502 there and here.
pub const SERVER_MAX_BUF: usize = 16384;

/// An HTTP/1.1 connection to a server, ready for a request.
pub struct ServerConn {
    pub sender: SendRequest<ReqBody>,
    pub addr: SocketAddr,
    /// Requests already sent over it.
    pub uses: u32,
}

/// Which pooled connections a request may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reuse {
    /// A fresh connection only.
    Fresh,
    /// Pooled connections that already served at least one request (`aggressive`).
    Proven,
    /// Any pooled connection.
    Any,
}

struct Idle {
    conn: ServerConn,
    since: Instant,
}

fn pool() -> &'static Mutex<HashMap<SocketAddr, Vec<Idle>>> {
    static POOL: std::sync::OnceLock<Mutex<HashMap<SocketAddr, Vec<Idle>>>> =
        std::sync::OnceLock::new();
    POOL.get_or_init(|| Mutex::new(HashMap::new()))
}

/// Takes a live idle connection to `addr` allowed by `reuse`, newest first.
pub fn pool_take(addr: SocketAddr, reuse: Reuse) -> Option<ServerConn> {
    if reuse == Reuse::Fresh {
        return None;
    }
    let mut map = pool().lock().ok()?;
    let list = map.get_mut(&addr)?;
    let now = Instant::now();
    list.retain(|i| !i.conn.sender.is_closed() && now.duration_since(i.since) < POOL_PURGE);
    let pos = list
        .iter()
        .rposition(|i| reuse == Reuse::Any || i.conn.uses >= 2)?;
    Some(list.remove(pos).conn)
}

/// Returns a connection to the idle pool (dropping it closes it when the pool is full).
pub fn pool_put(conn: ServerConn) {
    if conn.sender.is_closed() {
        return;
    }
    let Ok(mut map) = pool().lock() else { return };
    let list = map.entry(conn.addr).or_default();
    let now = Instant::now();
    list.retain(|i| !i.conn.sender.is_closed() && now.duration_since(i.since) < POOL_PURGE);
    if list.len() < POOL_MAX_PER_SERVER {
        list.push(Idle { conn, since: now });
    }
}

/// Idle pooled connections to `addr` (tests, stats).
pub fn pool_idle(addr: SocketAddr) -> usize {
    pool()
        .lock()
        .map(|m| {
            m.get(&addr).map_or(0, |l| {
                l.iter().filter(|i| !i.conn.sender.is_closed()).count()
            })
        })
        .unwrap_or(0)
}

/// Opens a connection to `addr` within `connect_timeout` (with a PROXY protocol header
/// first for `send-proxy` servers). The connection task counts in the server's `cur_conns`
/// while it lives and ends when the sender is dropped or the server closes.
pub async fn connect(
    addr: SocketAddr,
    connect_timeout: Option<Duration>,
    proxy: Option<(ProxyProtocol, &ConnInfo)>,
    srv: &Arc<ServerState>,
) -> io::Result<ServerConn> {
    let tcp = crate::engine::server_conn::connect(addr, connect_timeout, proxy).await?;
    let (sender, conn) = http1::Builder::new()
        .max_buf_size(SERVER_MAX_BUF)
        // HAProxy 2.6 accepts obs-fold in responses (and unfolds it).
        .allow_obsolete_multiline_headers_in_responses(true)
        .handshake::<_, ReqBody>(TokioIo::new(tcp))
        .await
        .map_err(io::Error::other)?;
    let guard = srv.conn_guard();
    tokio::spawn(async move {
        let _guard = guard;
        if let Err(e) = conn.with_upgrades().await {
            tracing::debug!("server connection to {addr} ended: {e}");
        }
    });
    Ok(ServerConn {
        sender,
        addr,
        uses: 0,
    })
}

// ---------------------------------------------------------------------------------------
// maxconn slots

type SlotMap = HashMap<usize, (Weak<ServerState>, Arc<Semaphore>)>;

fn slots() -> &'static Mutex<SlotMap> {
    static SLOTS: std::sync::OnceLock<Mutex<SlotMap>> = std::sync::OnceLock::new();
    SLOTS.get_or_init(|| Mutex::new(HashMap::new()))
}

/// Why no slot was obtained.
#[derive(Debug)]
pub struct QueueTimeout;

/// Waits for one of the server's `maxconn` slots for at most `wait` (`timeout queue`, else
/// `timeout connect`, as HAProxy). No `maxconn` → no slot needed.
pub async fn acquire_slot(
    srv: &Arc<ServerState>,
    maxconn: Option<u32>,
    wait: Option<Duration>,
) -> Result<Option<OwnedSemaphorePermit>, QueueTimeout> {
    let Some(max) = maxconn.filter(|&m| m > 0) else {
        return Ok(None);
    };
    let sem = {
        let Ok(mut map) = slots().lock() else {
            return Ok(None);
        };
        map.retain(|_, (w, _)| w.strong_count() > 0);
        let key = Arc::as_ptr(srv) as usize;
        match map.get(&key) {
            Some((w, s)) if w.upgrade().is_some_and(|a| Arc::ptr_eq(&a, srv)) => s.clone(),
            _ => {
                let s = Arc::new(Semaphore::new(max as usize));
                map.insert(key, (Arc::downgrade(srv), s.clone()));
                s
            }
        }
    };
    let fut = sem.acquire_owned();
    match wait {
        Some(w) => match tokio::time::timeout(w, fut).await {
            Ok(Ok(p)) => Ok(Some(p)),
            _ => Err(QueueTimeout),
        },
        None => fut.await.map(Some).map_err(|_| QueueTimeout),
    }
}

// ---------------------------------------------------------------------------------------
// Response body

/// Where a server connection goes once its response is complete.
pub enum ReturnTo {
    /// The shared idle pool (`http-reuse` safe/aggressive/always).
    Pool,
    /// The client connection's private slot (`http-reuse never`).
    Private(Arc<Mutex<Option<ServerConn>>>),
    /// Closed (`http-server-close`, `httpclose`).
    Close,
}

/// A server's response body. Enforces `timeout server` between frames, and returns the
/// connection (and the `maxconn` slot) when the body ends cleanly.
pub struct ServerBody {
    inner: Incoming,
    conn: Option<ServerConn>,
    ret: ReturnTo,
    permit: Option<OwnedSemaphorePermit>,
    idle: Option<Duration>,
    timer: Option<Pin<Box<Sleep>>>,
    ended: bool,
}

impl ServerBody {
    pub fn new(
        inner: Incoming,
        conn: Option<ServerConn>,
        ret: ReturnTo,
        permit: Option<OwnedSemaphorePermit>,
        idle: Option<Duration>,
    ) -> Self {
        let mut b = ServerBody {
            inner,
            conn,
            ret,
            permit,
            idle,
            timer: None,
            ended: false,
        };
        // A body known to be empty (HEAD, 204, 304, `content-length: 0`) may never be polled:
        // hand the connection back now.
        if b.inner.is_end_stream() {
            b.finish();
        }
        b
    }

    fn finish(&mut self) {
        self.ended = true;
        self.permit.take();
        if let Some(conn) = self.conn.take() {
            match &self.ret {
                ReturnTo::Pool => pool_put(conn),
                ReturnTo::Private(slot) => {
                    if let Ok(mut s) = slot.lock() {
                        *s = Some(conn);
                    }
                }
                ReturnTo::Close => drop(conn),
            }
        }
    }
}

/// The server stopped sending for `timeout server`.
#[derive(Debug)]
pub struct ServerTimeout;

impl std::fmt::Display for ServerTimeout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("timeout server")
    }
}

impl std::error::Error for ServerTimeout {}

impl Body for ServerBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        if this.ended {
            return Poll::Ready(None);
        }
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(f))) => {
                this.timer = None;
                Poll::Ready(Some(Ok(f)))
            }
            Poll::Ready(Some(Err(e))) => {
                // A broken connection is never reused.
                this.conn = None;
                this.ended = true;
                this.permit.take();
                Poll::Ready(Some(Err(e.into())))
            }
            Poll::Ready(None) => {
                this.finish();
                Poll::Ready(None)
            }
            Poll::Pending => {
                if let Some(idle) = this.idle {
                    let timer = this
                        .timer
                        .get_or_insert_with(|| Box::pin(tokio::time::sleep(idle)));
                    if timer.as_mut().poll(cx).is_ready() {
                        this.conn = None;
                        this.ended = true;
                        this.permit.take();
                        return Poll::Ready(Some(Err(Box::new(ServerTimeout))));
                    }
                }
                Poll::Pending
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.ended || self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
