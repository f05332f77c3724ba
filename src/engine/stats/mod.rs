//! The statistics page (`stats enable`, `stats uri`, `stats realm`, `stats auth`,
//! `stats refresh`, `stats hide-version`) and the counters behind it.
//!
//! - [`counters`]: per-frontend, per-backend and per-server atomics (sessions, bytes,
//!   denials, errors, retries, redispatches, response classes, rates, times, check
//!   results, state changes), fed by the listener, the HTTP transaction ([`Txn`]), TCP
//!   tunnels and health checks.
//! - [`fields`]: HAProxy 2.6's stats fields and the frontend/server/backend lines.
//! - [`render`] (`;csv`, `;typed`, `;json`, `;json-schema`) and [`html`] (the page).
//! - [`http`]: the stats URI, `stats auth`, URI options and the response.
//!
//! Verified against haproxy 2.6.12 on this host, running both on the same configurations
//! and comparing their answers (`tests/engine_stats.rs` keeps the values):
//! - the CSV header (every column in order, the `-` separator, the `ssl`/`h2`/`h1` module
//!   columns); which fields each line fills, with their `;typed`/`;json` tags and types;
//! - the response heads: 200 with `cache-control`, `content-type`, `refresh` (unless
//!   `;norefresh`), a chunked body (also to HTTP/1.0 clients, then closed), nothing for
//!   HEAD, 303 to `;st=DENY` for a POST (no `stats admin`); the 401 with `Basic
//!   realm="HAProxy Statistics"` by default; GET/HEAD/POST only; the URI prefix matched on
//!   the path and query; the options found anywhere after it (`scope=` needs two bytes);
//! - the HTML page line by line (head, process block, one table per proxy in declaration
//!   order, line classes for UP/DOWN/going up/going down/MAINT/no check/backup, tooltips,
//!   digit grouping, `human_time`);
//! - the counters after the same traffic: sessions, requests, response classes, denied and
//!   intercepted requests (frontend only), invalid requests, `econ` once per failed stream,
//!   `wretr`/`wredis` per retry, `connect` per attempt, `lbtot`, check columns, `lastchg`,
//!   `chkdown`, `downtime`, backend weight/act/bck and `fullconn`, and `bin`/`bout` to the
//!   byte: HAProxy counts HTX sizes, 21 bytes per message plus the start-line parts, header
//!   names and values (without `Connection: close/keep-alive`) and forwarded body data.
//!
//! Known differences:
//! - not tracked, so left empty: the `h1`/`h2` module counters, a TLS frontend's `ssl_*`,
//!   `need_conn_est`, the unsafe/safe split of idle connections (`srv_icur` is the pool);
//!   `cli_abrt`/`srv_abrt` are zero;
//! - WebSocket and CONNECT tunnels leave the backend's `scur` when established and their
//!   bytes are not counted; TCP-mode bytes are counted when the tunnel ends (HAProxy
//!   updates them during long transfers); in TCP mode a failed connection attempt does not
//!   count in the server's `stot`;
//! - the process block shows the process's `RLIMIT_NOFILE` as `ulimit-n`/`maxsock`,
//!   tokio's task counts as running tasks, and an `idle` estimated from CPU time;
//! - a POST whose body was not read is answered and the connection closed; to HTTP/1.0
//!   clients `connection: close` comes after `transfer-encoding` (HAProxy: before); HTTP/2
//!   answers carry `content-length`; JSON strings are escaped (HAProxy prints them raw);
//! - a `listen` section's backend line counts the bytes of its stats requests but not the
//!   client aborts HAProxy sees there.

pub mod counters;
pub mod fields;
pub mod html;
pub mod http;
pub mod render;

use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use hyper::body::Body as _;
use hyper::http::{request, HeaderMap, Request, StatusCode};

use crate::config::ir::{ErrorFile, HttpAction, HttpRule, Stats};
use crate::engine::conn::ConnCtx;
use crate::engine::http::body::ReqBody;
use crate::engine::http::errors::parse_raw;
use crate::engine::http::txn::{Outcome, Reply};
use crate::engine::state::EngineState;

pub use counters::Counters;

/// HAProxy's HTX overhead per message (start line and end of headers), which its byte
/// counters include.
const HTX_MSG_OVERHEAD: u64 = 21;

/// The byte count HAProxy gives a message: [`HTX_MSG_OVERHEAD`], the three start-line
/// parts, every header name and value, and the body.
fn htx_size(sl: [&[u8]; 3], headers: &HeaderMap, body: u64) -> u64 {
    let hdrs: usize = headers
        .iter()
        .map(|(n, v)| header_size(n.as_str(), v.as_bytes()))
        .sum();
    HTX_MSG_OVERHEAD + (sl[0].len() + sl[1].len() + sl[2].len() + hdrs) as u64 + body
}

/// A header's share of the count. HAProxy's HTTP/1 parser takes the `close` and
/// `keep-alive` tokens out of `Connection` (dropping the header when nothing is left).
fn header_size(name: &str, value: &[u8]) -> usize {
    if !name.eq_ignore_ascii_case("connection") {
        return name.len() + value.len();
    }
    let rest: Vec<&str> = std::str::from_utf8(value)
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|t| {
            !t.is_empty()
                && !t.eq_ignore_ascii_case("close")
                && !t.eq_ignore_ascii_case("keep-alive")
        })
        .collect();
    if rest.is_empty() {
        0
    } else {
        name.len() + rest.join(", ").len()
    }
}

/// [`htx_size`] of a raw HTTP/1 response (a local reply), with a chunked body counted by
/// its data.
fn raw_size(raw: &Bytes) -> (u16, u64) {
    let Some(p) = parse_raw(raw) else {
        return (0, raw.len() as u64);
    };
    let status = p.status.to_string();
    let hdrs: usize = p.headers.iter().map(|(n, v)| header_size(n, v)).sum();
    let chunked = p
        .headers
        .iter()
        .any(|(n, v)| n == "transfer-encoding" && v.eq_ignore_ascii_case(b"chunked"));
    let body = if chunked {
        dechunked_len(&p.body)
    } else {
        p.body.len() as u64
    };
    let version = if p.http10 { "HTTP/1.0" } else { "HTTP/1.1" };
    (
        p.status,
        HTX_MSG_OVERHEAD + (version.len() + status.len() + p.reason.len() + hdrs) as u64 + body,
    )
}

/// The data size of a chunked body.
fn dechunked_len(mut b: &[u8]) -> u64 {
    let mut total = 0u64;
    while let Some(eol) = b.windows(2).position(|w| w == b"\r\n") {
        let size = std::str::from_utf8(&b[..eol])
            .ok()
            .and_then(|l| u64::from_str_radix(l.split(';').next().unwrap_or("").trim(), 16).ok())
            .unwrap_or(0);
        if size == 0 {
            break;
        }
        total += size;
        let skip = eol + 2 + usize::try_from(size).unwrap_or(usize::MAX);
        b = b.get(skip.saturating_add(2)..).unwrap_or(&[]);
    }
    total
}

/// Counts a stream on a backend (`scur`) until dropped.
pub struct BeSlot {
    state: Arc<EngineState>,
    be: usize,
}

impl BeSlot {
    /// Assigns a stream to backend `be` (`stot`, `scur`, the session rate, and `req_tot`
    /// for HTTP).
    pub fn new(state: &Arc<EngineState>, be: usize, http: bool) -> Self {
        state.stats.be_assign(be, http);
        // HAProxy's `beconn`, which the servers' dynamic maxconn follows.
        if let Some(b) = state.backends.get(be) {
            b.stream_assigned();
        }
        BeSlot {
            state: state.clone(),
            be,
        }
    }
}

impl Drop for BeSlot {
    fn drop(&mut self) {
        self.state.stats.be_release(self.be);
        if let Some(b) = self.state.backends.get(self.be) {
            b.stream_released();
        }
    }
}

/// Counts a server response body as it is sent (`bout`) and records the transaction's
/// times when the body is done (dropped).
pub struct BodyTap {
    state: Arc<EngineState>,
    fe: usize,
    be: usize,
    srv: Option<usize>,
    start: Instant,
    q_ms: u32,
    c_ms: u32,
    d_ms: u32,
    _slot: Option<BeSlot>,
}

impl BodyTap {
    /// `n` more body bytes went to the client.
    pub fn add(&self, n: usize) {
        self.state
            .stats
            .bytes(self.fe, Some(self.be), self.srv, 0, n as u64);
    }
}

impl Drop for BodyTap {
    fn drop(&mut self) {
        let d = crate::engine::clock::now().saturating_duration_since(self.start);
        let t = u32::try_from(d.as_millis()).unwrap_or(u32::MAX);
        let c = &self.state.stats;
        if let Some(b) = c.be.get(self.be) {
            b.times.add(self.q_ms, self.c_ms, self.d_ms, t);
        }
        if let Some(s) = self.srv.and_then(|s| c.server(self.be, s)) {
            s.times.add(self.q_ms, self.c_ms, self.d_ms, t);
        }
    }
}

impl std::fmt::Debug for BodyTap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BodyTap")
            .field("fe", &self.fe)
            .field("be", &self.be)
            .field("srv", &self.srv)
            .finish()
    }
}

const NONE: usize = usize::MAX;

/// The counters' view of one HTTP transaction (see `engine::http::txn::run`): what it used
/// (backend, server), when, and how many request bytes went through.
pub struct Txn {
    ctx: ConnCtx,
    /// The client speaks HTTP/1 (local replies are then chunked like HAProxy's applets).
    h1: bool,
    start: Instant,
    be: AtomicUsize,
    srv: AtomicUsize,
    slot: std::sync::Mutex<Option<BeSlot>>,
    /// The request head's count.
    head_bytes: AtomicU64,
    /// Request body data read so far.
    req_bytes: Option<Arc<AtomicU64>>,
    /// The backend whose byte counters see this stream: the backend used, or a `listen`
    /// section's own backend when its frontend answered the request itself.
    bytes_be: AtomicUsize,
    /// A server connection was used: the request body went out.
    forwarded: std::sync::atomic::AtomicBool,
    /// Milliseconds from the start: queue exit, connection established, response head.
    t_queue: AtomicU32,
    t_connect: AtomicU32,
    t_data: AtomicU32,
}

impl Txn {
    /// A request reached the frontend (`req_tot`, the request rate). Its head is counted
    /// in `bin` as received, and its body is wrapped to count its data. `h1`: the client
    /// speaks HTTP/1 (not HTTP/2).
    pub fn begin(ctx: &ConnCtx, req: &mut Request<ReqBody>, h1: bool) -> Self {
        let c = &ctx.state.stats;
        if let Some(f) = c.fe.get(ctx.frontend) {
            f.cum_req.fetch_add(1, Relaxed);
            let r = f.req_rate.add(c.now_ms(), 1);
            counters::raise_max(&f.rps_max, r);
        }
        let tx = Txn {
            ctx: ctx.clone(),
            h1,
            start: crate::engine::clock::now(),
            be: AtomicUsize::new(NONE),
            srv: AtomicUsize::new(NONE),
            slot: std::sync::Mutex::new(None),
            head_bytes: AtomicU64::new(0),
            req_bytes: (!req.body().is_end_stream()).then(|| Arc::new(AtomicU64::new(0))),
            bytes_be: AtomicUsize::new(NONE),
            forwarded: std::sync::atomic::AtomicBool::new(false),
            t_queue: AtomicU32::new(0),
            t_connect: AtomicU32::new(0),
            t_data: AtomicU32::new(0),
        };
        let head = req_head_size(req);
        tx.head_bytes.store(head, Relaxed);
        if let Some(n) = &tx.req_bytes {
            let body = std::mem::replace(req.body_mut(), crate::engine::http::body::empty());
            *req.body_mut() = count_body(body, n.clone());
        }
        tx
    }

    fn counters(&self) -> &Counters {
        &self.ctx.state.stats
    }

    fn elapsed_ms(&self) -> u32 {
        let d = crate::engine::clock::now().saturating_duration_since(self.start);
        u32::try_from(d.as_millis()).unwrap_or(u32::MAX)
    }

    fn be_idx(&self) -> Option<usize> {
        Some(self.be.load(Relaxed)).filter(|b| *b != NONE)
    }

    fn srv_idx(&self) -> Option<usize> {
        Some(self.srv.load(Relaxed)).filter(|s| *s != NONE)
    }

    /// The request was answered by the proxy itself (redirect, `return`, `auth`, stats).
    pub fn intercepted(&self) {
        http::count_intercepted(&self.ctx.state, self.ctx.frontend);
    }

    /// `http-request` rules of the frontend (`be: None`) or of backend `be` answered the
    /// request: a `deny` counts as a denied request, anything else (by the frontend) as
    /// intercepted.
    pub fn rule_reply(&self, rules: &[HttpRule], reply: &Bytes, be: Option<usize>) {
        let status = parse_raw(reply).map_or(0, |p| p.status);
        let denied = rules
            .iter()
            .any(|r| matches!(r.action, HttpAction::Deny { status: s } if s == status));
        if !denied {
            // haproxy 2.6.12 counts interceptions by the frontend's rules only.
            if be.is_none() {
                self.intercepted();
            }
            return;
        }
        let c = self.counters();
        if let Some(f) = c.fe.get(self.ctx.frontend) {
            f.denied_req.fetch_add(1, Relaxed);
        }
        if let Some(b) = be.and_then(|b| c.be.get(b)) {
            b.denied_req.fetch_add(1, Relaxed);
        }
    }

    /// The request goes to backend `be`.
    pub fn backend(&self, be: usize) {
        self.be.store(be, Relaxed);
        self.bytes_be.store(be, Relaxed);
        let slot = BeSlot::new(&self.ctx.state, be, true);
        if let Ok(mut s) = self.slot.lock() {
            *s = Some(slot);
        }
    }

    /// Waits for `pick` (a server choice that may queue), counting the request in the
    /// backend queue (`qcur`, `qmax`) while it waits, and the load-balancing pick (`lbtot`).
    pub async fn queued<F>(&self, pick: F) -> Option<usize>
    where
        F: std::future::Future<Output = Option<usize>>,
    {
        let mut pick = std::pin::pin!(pick);
        let first = futures_poll_once(pick.as_mut()).await;
        let res = match first {
            Some(r) => r,
            None => {
                let be = self.be_idx().and_then(|b| self.counters().be.get(b));
                if let Some(b) = be {
                    let q = b.nbpend.fetch_add(1, Relaxed) + 1;
                    b.nbpend_max.fetch_max(q, Relaxed);
                }
                let r = pick.await;
                if let Some(b) = be {
                    let _ = b
                        .nbpend
                        .fetch_update(Relaxed, Relaxed, |q| Some(q.saturating_sub(1)));
                }
                r
            }
        };
        self.t_queue.store(self.elapsed_ms(), Relaxed);
        if let (Some(be), Some(s)) = (self.be_idx(), res) {
            self.counters().lb_pick(be, s);
        }
        res
    }

    /// Another server was picked for a redispatch (`lbtot`).
    pub fn repick(&self, srv: usize) {
        if let Some(be) = self.be_idx() {
            self.counters().lb_pick(be, srv);
        }
    }

    /// An attempt on server `srv`, which now has `cur` requests.
    pub fn attempt(&self, srv: usize, cur: u32) {
        self.srv.store(srv, Relaxed);
        if let Some(be) = self.be_idx() {
            self.counters().srv_attempt(be, srv, cur);
        }
    }

    /// The attempt got a connection, new or reused; the request goes out on it.
    pub fn connected(&self, reused: bool) {
        self.t_connect.store(self.elapsed_ms(), Relaxed);
        self.forwarded.store(true, Relaxed);
        if let (Some(be), Some(srv)) = (self.be_idx(), self.srv_idx()) {
            let c = self.counters();
            c.srv_connected(be, srv, reused);
            if let Some(s) = c.server(be, srv) {
                s.cum_req.fetch_add(1, Relaxed);
            }
        }
    }

    /// The attempt failed and the request will be retried on `next`.
    pub fn retry(&self, next: usize) {
        if let (Some(be), Some(srv)) = (self.be_idx(), self.srv_idx()) {
            self.counters().srv_retry(be, srv, next);
        }
    }

    /// Every connection attempt failed (`econ`).
    pub fn conn_failed(&self) {
        if let (Some(be), Some(srv)) = (self.be_idx(), self.srv_idx()) {
            self.counters().srv_conn_failed(be, srv);
        }
    }

    /// The server's response was invalid or late (`eresp`).
    pub fn failed_resp(&self) {
        if let (Some(be), Some(srv)) = (self.be_idx(), self.srv_idx()) {
            self.counters().srv_failed_resp(be, srv);
        }
    }

    /// The server answered with `status` (the server's `hrsp_*`).
    pub fn response(&self, status: StatusCode) {
        self.t_data.store(self.elapsed_ms(), Relaxed);
        if let (Some(be), Some(srv)) = (self.be_idx(), self.srv_idx()) {
            if let Some(s) = self.counters().server(be, srv) {
                s.rsp.count(status.as_u16());
            }
        }
    }

    /// The transaction's outcome is known: counts the response class on the frontend and
    /// backend, the bytes, and hands the backend slot and byte counter to a proxied body.
    pub fn end(self, mut out: Outcome) -> Outcome {
        let c = &self.ctx.state.stats;
        let fe = self.ctx.frontend;
        let be = self.be_idx().or(out.backend);
        let bytes_be = Some(self.bytes_be.load(Relaxed))
            .filter(|b| *b != NONE)
            .or(be);
        let srv = self.srv_idx();
        // Body data counts once it went to a server (HAProxy counts forwarded data).
        let body = if self.forwarded.load(Relaxed) {
            self.req_bytes.as_ref().map_or(0, |n| n.load(Relaxed))
        } else {
            0
        };
        let bin = self.head_bytes.load(Relaxed) + body;
        let (status, head_bytes) = match &mut out.reply {
            Reply::Local(raw) => raw_size(raw),
            Reply::Proxied(resp) => {
                let st = resp.status();
                // (Borrowed, not copied: this runs for every request.)
                let reason = match resp.extensions().get::<hyper::ext::ReasonPhrase>() {
                    Some(r) => String::from_utf8_lossy(r.as_bytes()),
                    None => std::borrow::Cow::Borrowed(st.canonical_reason().unwrap_or("")),
                };
                let n = htx_size(
                    [b"HTTP/1.1", st.as_str().as_bytes(), reason.as_bytes()],
                    resp.headers(),
                    0,
                );
                (st.as_u16(), n)
            }
            Reply::Upgrade(u) => {
                let st = u.head.status();
                let reason = match u.head.extensions().get::<hyper::ext::ReasonPhrase>() {
                    Some(r) => String::from_utf8_lossy(r.as_bytes()),
                    None => std::borrow::Cow::Borrowed(st.canonical_reason().unwrap_or("")),
                };
                let n = htx_size(
                    [b"HTTP/1.1", st.as_str().as_bytes(), reason.as_bytes()],
                    u.head.headers(),
                    0,
                );
                (st.as_u16(), n)
            }
        };
        if let Some(f) = c.fe.get(fe) {
            f.rsp.count(status);
        }
        if let Some(b) = be.and_then(|b| c.be.get(b)) {
            b.rsp.count(status);
        }
        c.bytes(fe, bytes_be, srv, bin, head_bytes);
        // (Owned: no lock to take.)
        let slot = self.slot.into_inner().ok().flatten();
        if let (Reply::Proxied(resp), Some(be)) = (&mut out.reply, be) {
            let tap = BodyTap {
                state: self.ctx.state.clone(),
                fe,
                be,
                srv,
                start: self.start,
                q_ms: self.t_queue.load(Relaxed),
                c_ms: self
                    .t_connect
                    .load(Relaxed)
                    .saturating_sub(self.t_queue.load(Relaxed)),
                d_ms: self
                    .t_data
                    .load(Relaxed)
                    .saturating_sub(self.t_connect.load(Relaxed)),
                _slot: slot,
            };
            resp.body_mut().set_tap(tap);
        }
        out
    }
}

/// Polls `f` once: `Some(output)` when it is ready at once.
async fn futures_poll_once<F: std::future::Future + Unpin>(f: F) -> Option<F::Output> {
    let mut f = f;
    std::future::poll_fn(move |cx| {
        std::task::Poll::Ready(match std::pin::Pin::new(&mut f).poll(cx) {
            std::task::Poll::Ready(v) => Some(v),
            std::task::Poll::Pending => None,
        })
    })
    .await
}

/// The stats URI hook of an HTTP transaction: when `stats` is set on the proxy whose rules
/// just ran and the request matches its URI, the proxy answers it (the page, a 401 or a
/// 303). `errorfiles`: the backend's and frontend's, for the 401.
pub fn intercept(
    tx: &Txn,
    stats: Option<&Stats>,
    parts: &request::Parts,
    errorfiles: (&[ErrorFile], &[ErrorFile]),
) -> Option<Bytes> {
    let stats = stats?;
    let after = http::match_uri(stats, parts)?;
    // Only the frontend's stats page counts as intercepted (haproxy 2.6.12 does not count
    // a backend's). The page is the stream's "server": the backend (a `listen` section's
    // own, for its frontend) gets `lastsess` and the bytes.
    let state = &tx.ctx.state;
    let be = match tx.be_idx() {
        Some(b) => Some(b),
        None => {
            tx.intercepted();
            let listen = state
                .stats
                .listen_fe
                .iter()
                .position(|f| *f == Some(tx.ctx.frontend));
            if let Some(b) = listen {
                tx.bytes_be.store(b, Relaxed);
            }
            listen
        }
    };
    if let Some(b) = be.and_then(|b| state.stats.be.get(b)) {
        b.last_sess
            .store(state.stats.now_s().saturating_add(1), Relaxed);
    }
    Some(http::respond(
        state, stats, parts, &after, errorfiles, tx.h1,
    ))
}

/// Records the current state of server `si` of backend `bi` and of the backend (for
/// `lastchg`, `chkdown`, `downtime`). Health checks call it after changing a server.
pub fn observe_server(state: &EngineState, bi: usize, si: usize) {
    let Some(be) = state.config.backends.get(bi) else {
        return;
    };
    let Some(v) = fields::srv_view(state, be, bi, si) else {
        return;
    };
    let st = if v.maint {
        counters::ST_MAINT
    } else if v.stopped() {
        counters::ST_DOWN
    } else if v.state == 3 {
        counters::ST_NOLB
    } else {
        counters::ST_UP
    };
    let (tot_weight, ..) = fields::be_weights(state, be, bi);
    state.stats.observe(
        bi,
        Some((si, st)),
        tot_weight == 0 && !be.servers.is_empty(),
    );
}

/// The HTTP/1 parser answered a request it could not read (400) or that did not come in
/// time (408): an invalid request (`ereq`), counted in `req_tot` and the response classes
/// but not in the bytes, as haproxy 2.6.12 does.
pub fn mux_error(ctx: &ConnCtx, status: u16) {
    let c = &ctx.state.stats;
    if let Some(f) = c.fe.get(ctx.frontend) {
        f.failed_req.fetch_add(1, Relaxed);
        f.cum_req.fetch_add(1, Relaxed);
        let r = f.req_rate.add(c.now_ms(), 1);
        counters::raise_max(&f.rps_max, r);
        f.rsp.count(status);
    }
}

/// Counts a TCP-mode session's bytes once its tunnel ended.
pub fn tcp_session_bytes(
    ctx: &ConnCtx,
    be: usize,
    srv: usize,
    client_to_server: u64,
    server_to_client: u64,
) {
    ctx.state.stats.bytes(
        ctx.frontend,
        Some(be),
        Some(srv),
        client_to_server,
        server_to_client,
    );
}

/// The byte count HAProxy gives a request head (see [`htx_size`]).
fn req_head_size<B>(req: &Request<B>) -> u64 {
    let u = req.uri();
    // The length of the URI as written (`Uri`'s Display), without allocating.
    let uri_len = match (u.scheme_str(), u.authority()) {
        (Some(s), Some(a)) => {
            s.len() + 3 + a.as_str().len() + u.path_and_query().map_or(0, |p| p.as_str().len())
        }
        (None, Some(a)) if u.path_and_query().is_none() => a.as_str().len(),
        _ => u.path_and_query().map_or(0, |p| p.as_str().len()),
    };
    let v: &[u8] = match req.version() {
        hyper::http::Version::HTTP_10 => b"HTTP/1.0",
        hyper::http::Version::HTTP_2 => b"HTTP/2.0",
        _ => b"HTTP/1.1",
    };
    let hdrs: usize = req
        .headers()
        .iter()
        .map(|(n, v)| header_size(n.as_str(), v.as_bytes()))
        .sum();
    HTX_MSG_OVERHEAD + (req.method().as_str().len() + uri_len + v.len() + hdrs) as u64
}

/// Wraps a request body so its data is counted in `n` (`bin`).
fn count_body(body: ReqBody, n: Arc<AtomicU64>) -> ReqBody {
    use http_body_util::BodyExt as _;
    body.map_frame(move |f| {
        if let Some(d) = f.data_ref() {
            n.fetch_add(d.len() as u64, Relaxed);
        }
        f
    })
    .boxed_unsync()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn htx_sizes_match_haproxy_counters() {
        // haproxy 2.6.12 counted 217 bytes out for its built-in 503 page.
        let raw = crate::engine::http::errors::default_error(503);
        assert_eq!(raw_size(&raw), (503, 217));
        // ... and 33 bytes in for `GET / HTTP/1.0\r\n\r\n`, 82 for curl's usual request.
        let req = Request::builder()
            .method("GET")
            .uri("/")
            .header("host", "127.0.0.1:18401")
            .header("user-agent", "curl/7.88.1")
            .header("accept", "*/*")
            .body(())
            .unwrap();
        assert_eq!(req_head_size(&req), 82);
        let abs = Request::builder()
            .uri("http://a.test:81/p?q")
            .body(())
            .unwrap();
        assert_eq!(
            req_head_size(&abs),
            21 + 3 + "http://a.test:81/p?q".len() as u64 + 8
        );
        let bare = Request::builder().uri("/").body(()).unwrap();
        assert_eq!(req_head_size(&bare), 33);
    }

    #[test]
    fn chunked_lengths() {
        assert_eq!(dechunked_len(b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"), 5);
        assert_eq!(dechunked_len(b"0\r\n\r\n"), 0);
    }
}
