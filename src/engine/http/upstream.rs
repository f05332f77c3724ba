//! The server side: HTTP/1.1 connections to servers (hyper's client connection over a
//! `TcpStream`), a small idle pool keyed by server address, server choice with HAProxy's
//! queue ([`pick_queued`]), and [`ServerBody`], which hands the connection back when a
//! response ends.
//!
//! A server's `cur_conns` counts requests in progress (HAProxy's "current sessions"), not
//! TCP connections: an idle pooled connection does not use a `maxconn` slot. The caller takes
//! the guard when it sends a request; [`ServerBody`] or the tunnel drops it at the end.
//!
//! Reuse follows `http-reuse` (decided by the caller through [`Reuse`]): `safe` never sends
//! the first request of a client connection over a pooled connection, `aggressive` only over
//! one that already served a request, `always` over any, and `never` keeps a connection
//! private to its client connection. Idle connections are purged after `pool-purge-delay`'s
//! default (5 s); at most [`POOL_MAX_PER_SERVER`] are kept per server.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::config::ir::Backend;
use crate::engine::state::{pick_server_with_key, BackendState};

/// HAProxy's default `pool-purge-delay`.
pub const POOL_PURGE: Duration = Duration::from_secs(5);
/// Idle connections kept per server.
pub const POOL_MAX_PER_SERVER: usize = 64;
pub use super::client::{ServerBody, ServerConn, ServerTimeout, SERVER_MAX_BUF};

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
    purge_expired(list, Instant::now());
    // Newest first; a connection the server closed while idle is dropped on the way.
    let mut pos = list.len();
    while pos > 0 {
        pos -= 1;
        let Some(i) = list.get_mut(pos) else { break };
        if i.conn.is_closed() {
            list.remove(pos);
        } else if reuse == Reuse::Any || i.conn.uses >= 2 {
            return Some(list.remove(pos).conn);
        }
    }
    None
}

/// Drops the connections idle for `POOL_PURGE` or more. The list is in the order the
/// connections came back, so they are at its front.
fn purge_expired(list: &mut Vec<Idle>, now: Instant) {
    let expired = list
        .iter()
        .take_while(|i| now.duration_since(i.since) >= POOL_PURGE)
        .count();
    if expired > 0 {
        list.drain(..expired);
    }
}

/// Returns a connection to the idle pool (dropping it closes it when the pool is full).
pub fn pool_put(mut conn: ServerConn) {
    if conn.is_closed() {
        return;
    }
    let Ok(mut map) = pool().lock() else { return };
    let list = map.entry(conn.addr).or_default();
    let now = Instant::now();
    purge_expired(list, now);
    if list.len() >= POOL_MAX_PER_SERVER {
        // Full: make room from the connections the servers closed, if any.
        list.retain_mut(|i| !i.conn.is_closed());
    }
    if list.len() < POOL_MAX_PER_SERVER {
        list.push(Idle { conn, since: now });
    }
}

/// Idle pooled connections to `addr` (tests, stats).
pub fn pool_idle(addr: SocketAddr) -> usize {
    pool()
        .lock()
        .map(|mut m| {
            m.get_mut(&addr).map_or(0, |l| {
                l.iter_mut().map(|i| usize::from(!i.conn.is_closed())).sum()
            })
        })
        .unwrap_or(0)
}

// ---------------------------------------------------------------------------------------
// Server choice with HAProxy's queue

/// Picks a server with the backend's algorithm (`key` as [`balance_key`] computes it). When servers are usable but all at their
/// `maxconn` (the balancer skips full ones), waits like HAProxy's backend queue for up to
/// `wait` (`timeout queue`, else `timeout connect`; `None` waits without limit). `None`
/// when no server can take the request.
pub async fn pick_queued(
    be: &Backend,
    bs: &BackendState,
    avoid: Option<usize>,
    key: Option<&[u8]>,
    wait: Option<Duration>,
) -> Option<usize> {
    let deadline = wait.map(|w| tokio::time::Instant::now() + w);
    let mut pause = Duration::from_millis(1);
    loop {
        if let Some(i) = pick_server_with_key(be, bs, avoid, key) {
            return Some(i);
        }
        let any_usable = be
            .servers
            .iter()
            .zip(&bs.servers)
            .any(|(s, st)| s.resolved.is_some() && st.is_usable());
        if !any_usable {
            return None;
        }
        let now = tokio::time::Instant::now();
        if deadline.is_some_and(|d| now >= d) {
            return None;
        }
        // The balancer has no wake-up hook: poll with a short backoff.
        let next = now + pause;
        tokio::time::sleep_until(deadline.map_or(next, |d| d.min(next))).await;
        pause = (pause * 2).min(Duration::from_millis(20));
    }
}

/// The key a hashing `balance` algorithm needs for this request, as `src/balance` expects
/// it: the client address for `source`, the request-line URI for `uri` and `url_param`, the
/// first value of the header for `hdr` (`None` when absent or empty), the sample's bytes for
/// `hash <expr>`.
pub fn balance_key(be: &Backend, view: &super::sample::ReqView<'_>) -> Option<Vec<u8>> {
    use crate::config::ir::Balance;
    match &be.balance {
        Balance::Source => Some(
            crate::balance::keys::source_key(&view.info.peer.ip().to_canonical())
                .as_bytes()
                .to_vec(),
        ),
        Balance::Uri { .. } | Balance::UrlParam { .. } => {
            Some(view.parts.uri.to_string().into_bytes())
        }
        Balance::Hdr { name, .. } => {
            let v = view.parts.headers.get(name.to_ascii_lowercase().as_str())?;
            (!v.is_empty()).then(|| v.as_bytes().to_vec())
        }
        Balance::Hash { expr } => {
            let sample = super::logfmt::parse_sample(expr)?;
            let vals = super::sample::fetch(view, &sample).ok()?;
            vals.last().map(|v| v.to_text().into_bytes())
        }
        _ => None,
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
