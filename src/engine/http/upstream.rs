//! The server side around the HTTP/1.1 client ([`super::client`], which owns
//! [`ServerConn`] and [`ServerBody`]): a small idle pool of server connections keyed by
//! server address, where a response's connection goes back ([`ReturnTo`]), and server
//! choice with HAProxy's queue ([`pick_queued`]).
//!
//! Nothing watches a pooled connection: one the server closed while idle is found out when
//! it is taken or put back ([`ServerConn::is_closed`], no system call while the socket is
//! not readable), and [`pool_put`] sweeps the whole pool at most once a second, so such
//! sockets are closed on our side soon after as long as there is traffic.
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

/// A cheap hasher for the pool's keys (FxHash's mixing step): the keys are the configured
/// servers' addresses, not client input, so SipHash's flooding resistance buys nothing and
/// it ran twice per request (take and put).
#[derive(Default)]
struct AddrHasher(u64);

impl std::hash::Hasher for AddrHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.add(u64::from(b));
        }
    }
    fn write_u8(&mut self, v: u8) {
        self.add(u64::from(v));
    }
    fn write_u16(&mut self, v: u16) {
        self.add(u64::from(v));
    }
    fn write_u32(&mut self, v: u32) {
        self.add(u64::from(v));
    }
    fn write_u64(&mut self, v: u64) {
        self.add(v);
    }
    fn write_usize(&mut self, v: usize) {
        self.add(v as u64);
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

impl AddrHasher {
    fn add(&mut self, v: u64) {
        self.0 = (self.0.rotate_left(5) ^ v).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

#[derive(Default)]
struct Pool {
    map: HashMap<SocketAddr, Vec<Idle>, std::hash::BuildHasherDefault<AddrHasher>>,
    /// When all lists were last cleared of expired and server-closed connections.
    swept: Option<Instant>,
}

/// How often [`pool_put`] sweeps the whole pool: connections the servers closed while idle
/// are closed on our side within about this delay as long as any traffic goes on (nothing
/// watches an idle connection; see `client::ServerConn::is_closed`).
const SWEEP_EVERY: Duration = Duration::from_secs(1);

fn pool() -> &'static Mutex<Pool> {
    static POOL: std::sync::OnceLock<Mutex<Pool>> = std::sync::OnceLock::new();
    POOL.get_or_init(|| Mutex::new(Pool::default()))
}

/// Takes a live idle connection to `addr` allowed by `reuse`, newest first.
pub fn pool_take(addr: SocketAddr, reuse: Reuse) -> Option<ServerConn> {
    if reuse == Reuse::Fresh {
        return None;
    }
    let mut pool = pool().lock().ok()?;
    let list = pool.map.get_mut(&addr)?;
    purge_expired(list, crate::engine::clock::now());
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
    let Ok(mut pool) = pool().lock() else { return };
    let now = crate::engine::clock::now();
    if pool
        .swept
        .is_none_or(|t| now.duration_since(t) >= SWEEP_EVERY)
    {
        pool.swept = Some(now);
        pool.map.retain(|_, list| {
            purge_expired(list, now);
            list.retain_mut(|i| !i.conn.is_closed());
            !list.is_empty()
        });
    }
    let list = pool.map.entry(conn.addr).or_default();
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
        .map(|mut p| {
            p.map.get_mut(&addr).map_or(0, |l| {
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

/// Where a server connection goes once its response is complete.
pub enum ReturnTo {
    /// The shared idle pool (`http-reuse` safe/aggressive/always).
    Pool,
    /// The client connection's private slot (`http-reuse never`).
    Private(Arc<Mutex<Option<ServerConn>>>),
    /// Closed (`http-server-close`, `httpclose`).
    Close,
}
