//! Access logs: one line per HTTP request (when the transaction ends) and per TCP session
//! (when it closes), sent to the frontend's `log` targets at level `info`, in HAProxy 2.6's
//! formats (`option httplog`, `option httplog clf`, `option tcplog`, `log-format`), plus
//! the legacy `Connect from` line of frontends without a format and the "embryonic" lines of
//! failed TLS handshakes.
//!
//! Modules: [`format`], the log-format language (parser and renderer); [`syslog`],
//! targets (UDP, unix datagram, stdout/stderr/fd) and header framing; [`clock`], dates.
//!
//! Hooks, called by the engine: the listener runs each connection inside [`scope`] (accept
//! time and TLS handshake duration); [`HttpLog`] follows one HTTP request (timers, status,
//! bytes, termination state) and sends its line when dropped; [`TxnLog`] is the handle the
//! transaction uses to mark queue/connect/response times; [`TcpLog`] follows one TCP
//! session; [`http_error`] logs what HAProxy's HTTP mux logs by itself (400, 408 and the
//! connection closed before a request); [`embryonic`] logs TLS handshake failures.
//!
//! Everything here was compared with haproxy 2.6.12 on the same configurations (see
//! `tests/engine_log.rs`). Known differences and limits are listed in
//! [`unsupported_in`] (refused at load) and in the module docs of `tests/engine_log.rs`.
//!
//! Cost on the data path: nothing when a frontend has no `log`; otherwise one boxed record
//! per request, formatting into a thread-local buffer, and non-blocking sends (a message
//! that cannot be sent at once is dropped, never waited for).

pub mod clock;
pub mod format;
pub mod syslog;

use std::cell::RefCell;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use hyper::body::{Body, Frame, SizeHint};
use hyper::http::{HeaderMap, Method, Response, StatusCode, Uri, Version};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::config::ir::{Config, Frontend, LogFormatKind, Mode, Sample};

use super::conn::{ConnCtx, ConnInfo};
use super::pump::{TunnelEnd, TunnelStats};
use super::state::{EngineState, StopLevel};

use format::Node;
use syslog::{Sockets, Target, LOG_INFO};

/// HTX's fixed cost per message (start line and end-of-headers blocks), which HAProxy 2.6
/// adds to the bytes it counts for `%B` and `%U`: a message counts 21 + its start-line
/// fields + every header's name and value + the body bytes (measured on 2.6.12).
const HTX_OVERHEAD: u64 = 21;

// ---------------------------------------------------------------------------------------
// Connection clock

/// When a stream starts: the connection's accept (with the TLS handshake duration) for the
/// first request, the end of the previous request for the next ones on a keep-alive
/// connection.
#[derive(Debug, Clone, Copy)]
pub struct ConnClock {
    pub accepted: Instant,
    pub date: SystemTime,
    pub handshake_ms: i64,
}

impl ConnClock {
    pub fn now() -> ConnClock {
        ConnClock {
            accepted: crate::engine::clock::now(),
            date: SystemTime::now(),
            handshake_ms: 0,
        }
    }

    /// [`ConnClock::now`] for the next stream of a connection; its wall-clock date is only
    /// read when `dated` (the frontend logs: nothing else looks at it), else left at the
    /// epoch.
    pub fn next_stream(dated: bool) -> ConnClock {
        ConnClock {
            accepted: crate::engine::clock::now(),
            date: if dated {
                SystemTime::now()
            } else {
                std::time::UNIX_EPOCH
            },
            handshake_ms: 0,
        }
    }

    /// The clock of a connection accepted at `accepted` whose TLS handshake (if any) ends
    /// now.
    pub fn handshake_done(self) -> ConnClock {
        ConnClock {
            handshake_ms: ms_between(self.accepted, crate::engine::clock::now()),
            ..self
        }
    }
}

tokio::task_local! {
    static CLOCK: std::cell::Cell<ConnClock>;
    /// TCP mode: (last server attempted, attempts, redispatched).
    static TRIED: std::cell::Cell<(Option<usize>, u32, bool)>;
}

/// Runs a connection's task with an accept clock started now (the listener wraps each
/// accepted connection).
pub fn scope<F: Future>(f: F) -> impl Future<Output = F::Output> {
    CLOCK.scope(
        std::cell::Cell::new(ConnClock::now()),
        TRIED.scope(std::cell::Cell::new((None, 0, false)), f),
    )
}

/// TCP mode: the connection is being attempted on server `srv` (shown by `%s` even when
/// every attempt fails, as HAProxy does).
pub fn tcp_trying(srv: usize) {
    let _ = TRIED.try_with(|c| {
        let (prev, n, redisp) = c.get();
        let moved = n > 0 && prev != Some(srv);
        c.set((Some(srv), n + 1, redisp || moved));
    });
}

/// Records that the connection's TLS handshake (if any) is over: its duration is `%Th`.
pub fn handshake_done() {
    let _ = CLOCK.try_with(|c| c.set(c.get().handshake_done()));
}

/// The accept clock of the current connection task ([`ConnClock::now`] outside one).
pub fn current_clock() -> ConnClock {
    CLOCK
        .try_with(|c| c.get())
        .unwrap_or_else(|_| ConnClock::now())
}

fn ms_between(a: Instant, b: Instant) -> i64 {
    i64::try_from(b.saturating_duration_since(a).as_millis()).unwrap_or(i64::MAX)
}

/// What the HTTP/1 head reader saw: when the first byte of the request came, and whether
/// the client closed its side.
#[derive(Debug, Clone, Copy, Default)]
pub struct HeadTiming {
    pub first_byte: Option<Instant>,
    pub eof: bool,
}

// ---------------------------------------------------------------------------------------
// Per-engine state

enum Kind {
    /// No format: HAProxy's `Connect from` line when a stream starts.
    Legacy,
    Format(Vec<Node>),
}

struct FeLog {
    kind: Kind,
    targets: Vec<Target>,
    dontlognull: bool,
    http: bool,
    /// `%lc`.
    count: AtomicU64,
}

/// Everything the access logs of one running engine need.
pub struct Logs {
    fes: Vec<Option<FeLog>>,
    /// `%rt`: streams created so far (HAProxy's `global.req_count`).
    uniq: AtomicU64,
    /// HAProxy's `global.max_syslog_len`: the longest `len` of every `log` line.
    max_len: usize,
    hostname: String,
}

impl std::fmt::Debug for Logs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Logs")
            .field(
                "frontends",
                &self.fes.iter().filter(|f| f.is_some()).count(),
            )
            .finish()
    }
}

fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: gethostname writes at most `buf.len()` bytes into the buffer.
    let r = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if r != 0 {
        return String::new();
    }
    let end = buf.iter().position(|&c| c == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

/// The log-format a frontend uses, as text (`None`: the legacy line).
pub fn format_of(fe: &Frontend) -> Option<&str> {
    if let Some(f) = &fe.custom_log_format {
        return Some(f);
    }
    let http = fe.mode == Mode::Http;
    match fe.log_format {
        LogFormatKind::None => None,
        LogFormatKind::Tcp => Some(format::TCPLOG),
        // `option httplog` in a TCP frontend falls back to tcplog, as HAProxy warns.
        LogFormatKind::Http if http => Some(format::HTTPLOG),
        LogFormatKind::HttpClf if http => Some(format::CLF),
        LogFormatKind::Http | LogFormatKind::HttpClf => Some(format::TCPLOG),
    }
}

impl Logs {
    /// Opens the targets and compiles the formats of `cfg`. Targets or formats the engine
    /// cannot use (refused at load by [`unsupported_in`]) are skipped.
    pub fn new(cfg: &Config) -> Logs {
        let mut socks = Sockets::default();
        let mut max_len = syslog::MAX_SYSLOG_LEN;
        let all = cfg
            .global
            .logs
            .iter()
            .chain(cfg.frontends.iter().flat_map(|f| f.logs.iter()));
        for t in all {
            if let Some(l) = t.len.and_then(|l| usize::try_from(l).ok()) {
                max_len = max_len.max(l);
            }
        }
        let fes = cfg
            .frontends
            .iter()
            .map(|fe| {
                if fe.logs.is_empty() {
                    return None;
                }
                let http = fe.mode == Mode::Http;
                let kind = match format_of(fe) {
                    None => Kind::Legacy,
                    Some(f) => match format::parse(f, http) {
                        Ok(n) => Kind::Format(n),
                        Err(e) => {
                            tracing::warn!("proxy '{}': log-format not usable: {e}", fe.name);
                            return None;
                        }
                    },
                };
                let targets: Vec<Target> = fe
                    .logs
                    .iter()
                    .filter_map(|t| match Target::build(t, &mut socks) {
                        Ok(t) => Some(t),
                        Err(e) => {
                            tracing::warn!("proxy '{}': {e}", fe.name);
                            None
                        }
                    })
                    .collect();
                if targets.is_empty() {
                    return None;
                }
                Some(FeLog {
                    kind,
                    targets,
                    dontlognull: fe.dontlognull,
                    http,
                    count: AtomicU64::new(0),
                })
            })
            .collect::<Vec<_>>();
        let any = fes.iter().any(Option::is_some);
        Logs {
            fes,
            uniq: AtomicU64::new(0),
            max_len,
            hostname: if any { hostname() } else { String::new() },
        }
    }

    /// Frontend `idx` logs its streams (else no record is made and no date is needed).
    pub fn logs(&self, idx: usize) -> bool {
        self.fe(idx).is_some()
    }

    fn fe(&self, idx: usize) -> Option<&FeLog> {
        self.fes.get(idx).and_then(Option::as_ref)
    }

    fn next_uniq(&self) -> u64 {
        self.uniq.fetch_add(1, Ordering::Relaxed)
    }
}

thread_local! {
    /// (message, datagram) buffers, reused by every log line of the thread.
    static BUFS: RefCell<(Vec<u8>, Vec<u8>)> = const { RefCell::new((Vec::new(), Vec::new())) };
}

/// Builds a message with `build` and sends it to every target of `fe`.
fn send(fe: &FeLog, pid: u32, level: u8, build: impl FnOnce(&mut Vec<u8>)) {
    let run = |msg: &mut Vec<u8>, dgram: &mut Vec<u8>| {
        msg.clear();
        build(msg);
        if msg.is_empty() {
            return;
        }
        let now = SystemTime::now();
        for t in &fe.targets {
            t.send(level, msg, now, pid, dgram);
        }
    };
    BUFS.with(|b| match b.try_borrow_mut() {
        Ok(mut g) => {
            let (m, d) = &mut *g;
            run(m, d)
        }
        Err(_) => run(&mut Vec::new(), &mut Vec::new()),
    });
}

fn connect_from(fe: &FeLog, state: &EngineState, name: &str, info: &ConnInfo, mode: &str) {
    send(fe, state.pid, LOG_INFO, |m| {
        use std::io::Write;
        let _ = write!(
            m,
            "Connect from {}:{} to {}:{} ({name}/{mode})",
            info.peer.ip(),
            info.peer.port(),
            info.local.ip(),
            info.local.port()
        );
    });
}

// ---------------------------------------------------------------------------------------
// What a line is made of

/// Timers in milliseconds from the stream's start, HAProxy's `strm_logs` (`-1`: not
/// reached).
#[derive(Debug, Clone, Copy)]
pub struct Timers {
    pub handshake: i64,
    pub idle: i64,
    /// Th + Ti + TR: the request head was complete.
    pub request: i64,
    pub queue: i64,
    pub connect: i64,
    pub data: i64,
    pub close: i64,
}

impl Timers {
    fn tr(&self) -> i64 {
        if self.request >= 0 {
            self.request - self.idle.max(0) - self.handshake
        } else {
            -1
        }
    }
    fn tw(&self) -> i64 {
        if self.queue >= 0 {
            self.queue - self.request
        } else {
            -1
        }
    }
    fn tc(&self) -> i64 {
        if self.connect >= 0 {
            self.connect - self.queue
        } else {
            -1
        }
    }
    fn tr_resp(&self) -> i64 {
        if self.data >= 0 {
            self.data - self.connect
        } else {
            -1
        }
    }
    fn td(&self, http: bool) -> i64 {
        let from = if http { self.data } else { self.connect };
        if from >= 0 {
            self.close - from
        } else {
            -1
        }
    }
    fn ta(&self) -> i64 {
        self.close
            - if self.idle >= 0 {
                self.idle + self.handshake
            } else {
                0
            }
    }
    fn tu(&self) -> i64 {
        self.close - self.idle.max(0)
    }
}

/// Connection counters at log time (`%ac/%fc/%bc/%sc/%rc %sq/%bq`).
#[derive(Debug, Clone, Copy, Default)]
pub struct Counts {
    pub act: i64,
    pub fe: i64,
    pub be: i64,
    pub srv: i64,
    pub retries: i64,
    pub redispatched: bool,
    pub srv_queue: i64,
    pub be_queue: i64,
}

/// Everything a line can show.
pub struct Entry<'a> {
    pub state: &'a EngineState,
    pub http: bool,
    pub fe_name: &'a str,
    pub be_name: &'a str,
    pub srv_name: &'a str,
    pub server: bool,
    pub client: SocketAddr,
    pub local: SocketAddr,
    pub tls: bool,
    pub sni: Option<&'a str>,
    pub server_addr: Option<SocketAddr>,
    pub backend_src: Option<SocketAddr>,
    pub accept_date: SystemTime,
    pub timers: Timers,
    pub status: u16,
    pub bytes_out: u64,
    pub bytes_in: u64,
    pub term: [u8; 2],
    pub cookie: [u8; 2],
    /// `METHOD URI VERSION`; `None` shows `<BADREQ>`.
    pub request: Option<&'a [u8]>,
    pub counts: Counts,
    pub uniq_id: u64,
    pub log_count: u64,
    pub pid: u32,
    pub hostname: &'a str,
}

impl Entry<'_> {
    /// `%tr`: the accept date plus the handshake and idle times.
    fn request_date(&self) -> SystemTime {
        let add = if self.timers.idle >= 0 {
            self.timers.idle + self.timers.handshake
        } else {
            0
        };
        self.accept_date + Duration::from_millis(u64::try_from(add).unwrap_or(0))
    }

    /// Evaluates one of the log-time fetches of [`format::check_samples`].
    fn sample(&self, s: &Sample) -> Option<String> {
        let v = match s.fetch.as_str() {
            "src" => Some(self.client.ip().to_string()),
            "src_port" => Some(self.client.port().to_string()),
            "dst" => Some(self.local.ip().to_string()),
            "dst_port" => Some(self.local.port().to_string()),
            "ssl_fc" => Some(if self.tls { "1" } else { "0" }.to_string()),
            "ssl_fc_sni" => self.sni.map(str::to_string),
            "always_true" => Some("1".into()),
            "always_false" => Some("0".into()),
            "env" => s
                .args
                .first()
                .and_then(std::env::var_os)
                .map(|v| v.to_string_lossy().into_owned()),
            "nbsrv" => {
                let name = s.args.first()?;
                let bi = self.state.backend_index(name)?;
                let be = self.state.config.backends.get(bi)?;
                let bs = self.state.backends.get(bi)?;
                let n = be
                    .servers
                    .iter()
                    .zip(&bs.servers)
                    .filter(|(c, st)| c.resolved.is_some() && st.is_usable())
                    .count();
                Some(n.to_string())
            }
            "method" => self
                .request
                .and_then(|r| r.split(|&c| c == b' ').next())
                .map(|m| String::from_utf8_lossy(m).into_owned()),
            "fe_name" => Some(self.fe_name.to_string()),
            "be_name" => Some(self.be_name.to_string()),
            "srv_name" => self.server.then(|| self.srv_name.to_string()),
            "status" => (self.http && self.status != 0).then(|| self.status.to_string()),
            _ => None,
        }?;
        let mut v = v;
        for (c, _) in &s.converters {
            match c.as_str() {
                "lower" => v = v.to_ascii_lowercase(),
                "upper" => v = v.to_ascii_uppercase(),
                _ => {}
            }
        }
        Some(v)
    }
}

/// Names and counters of a frontend/backend/server triple.
struct Names<'a> {
    fe: &'a str,
    be: &'a str,
    srv: &'a str,
    server: bool,
    counts: Counts,
}

fn names<'a>(
    state: &'a EngineState,
    fe_idx: usize,
    be: Option<usize>,
    srv: Option<usize>,
) -> Names<'a> {
    let cfg = &state.config;
    let fe = cfg
        .frontends
        .get(fe_idx)
        .map(|f| f.name.as_str())
        .unwrap_or("");
    let be_ir = be.and_then(|b| cfg.backends.get(b));
    let be_st = be.and_then(|b| state.backends.get(b));
    let srv_ir = be_ir.zip(srv).and_then(|(b, s)| b.servers.get(s));
    let srv_st = be_st.zip(srv).and_then(|(b, s)| b.servers.get(s));
    let counts = Counts {
        act: i64::try_from(state.live.get()).unwrap_or(0),
        fe: state
            .frontends
            .get(fe_idx)
            .map(|f| i64::from(f.cur_conns.load(Ordering::Relaxed)))
            .unwrap_or(0),
        be: be_st
            .map(|b| {
                b.servers
                    .iter()
                    .map(|s| i64::from(s.cur_conns.load(Ordering::Relaxed)))
                    .sum()
            })
            .unwrap_or(0),
        srv: srv_st
            .map(|s| i64::from(s.cur_conns.load(Ordering::Relaxed)))
            .unwrap_or(0),
        ..Counts::default()
    };
    Names {
        fe,
        be: be_ir.map(|b| b.name.as_str()).unwrap_or(fe),
        srv: srv_ir.map(|s| s.name.as_str()).unwrap_or("<NOSRV>"),
        server: srv_ir.is_some(),
        counts,
    }
}

/// Renders and sends one line of a formatted frontend.
fn send_entry(logs: &Logs, fe: &FeLog, nodes: &[Node], e: &mut Entry<'_>) {
    e.log_count = fe.count.fetch_add(1, Ordering::Relaxed);
    let max = logs.max_len;
    send(fe, e.pid, LOG_INFO, |m| format::render(nodes, e, m, max));
}

// ---------------------------------------------------------------------------------------
// HTTP

/// How a transaction went, marked by the transaction itself (`txn::run`) through a
/// [`TxnLog`].
#[derive(Debug, Clone, Copy, Default)]
struct Marks {
    routed: bool,
    queue_start: Option<Instant>,
    queued: Option<Instant>,
    connected: Option<Instant>,
    response: Option<Instant>,
    server: Option<usize>,
    retries: u32,
    redispatched: bool,
    /// HTX size of the server's response (see [`TxnLog::response`]).
    response_size: u64,
}

/// What an HTTP record shares with the transaction and the bodies it counts.
#[derive(Debug, Default)]
struct Shared {
    marks: Mutex<Marks>,
    req_body: AtomicU64,
    resp_body: AtomicU64,
    /// 0: running, 1: ended, 2: server timeout, 3: server error.
    resp_end: AtomicU8,
}

/// The transaction's handle on its log record: marks when the request is routed, queued,
/// connected and answered. A no-op when the frontend does not log.
#[derive(Debug, Clone, Default)]
pub struct TxnLog(Option<Arc<Shared>>);

impl TxnLog {
    fn with(&self, f: impl FnOnce(&mut Marks)) {
        if let Some(s) = &self.0 {
            if let Ok(mut m) = s.marks.lock() {
                f(&mut m);
            }
        }
    }

    /// Backend rules are done (`use_backend`/`default_backend` evaluated).
    pub fn routed(&self) {
        self.with(|m| m.routed = true);
    }

    /// A server is being chosen (possibly waiting in the queue).
    pub fn queue_start(&self) {
        self.with(|m| m.queue_start = Some(crate::engine::clock::now()));
    }

    /// Server `srv` was assigned.
    pub fn queued(&self, srv: usize) {
        self.with(|m| {
            m.queued = Some(crate::engine::clock::now());
            m.server = Some(srv);
        });
    }

    /// A connection to server `srv` is ready (fresh or reused).
    pub fn connected(&self, srv: usize) {
        self.with(|m| {
            m.connected = Some(crate::engine::clock::now());
            m.server = Some(srv);
        });
    }

    /// A connection attempt failed and another one follows.
    pub fn retry(&self) {
        self.with(|m| m.retries += 1);
    }

    /// The next attempt goes to another server (`option redispatch`).
    pub fn redispatched(&self) {
        self.with(|m| m.redispatched = true);
    }

    /// The server's response head arrived.
    pub fn response<B>(&self, r: &Response<B>) {
        if self.0.is_none() {
            return;
        }
        // What HAProxy has counted of it if a rule replaces it: the head, and the body when
        // it fits in a buffer (`tune.bufsize`).
        let head = response_head_size(r);
        let body = r
            .headers()
            .get(hyper::http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .filter(|&n| n + head <= 16384)
            .unwrap_or(0);
        self.with(|m| {
            m.response = Some(crate::engine::clock::now());
            m.response_size = head + body;
        });
    }
}

/// How a local reply ended the transaction, or `None` for proxied traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ending {
    Local([u8; 2]),
    Proxied,
    Tunnel,
}

struct HttpRec {
    state: Arc<EngineState>,
    fe: usize,
    client: SocketAddr,
    local: SocketAddr,
    tls: bool,
    sni: Option<String>,
    start: ConnClock,
    idle: i64,
    request: i64,
    line: Vec<u8>,
    head_in: u64,
    shared: Arc<Shared>,
    status: u16,
    backend: Option<usize>,
    bytes_out: u64,
    extra_in: u64,
    ending: Option<Ending>,
    /// Set by the client side: `C` (error) or `c` (timeout), with the stage letter.
    client_term: Option<[u8; 2]>,
    tunnel_term: Option<[u8; 2]>,
    /// The cookie characters of `%tsc`.
    cookie: [u8; 2],
    /// When a queue wait ended without a server (`sQ`).
    queue_timeout: Option<Instant>,
    /// A rule replaced the server's response: `%Tr` is -1 (HAProxy resets it).
    response_replaced: bool,
    uniq: u64,
}

/// One HTTP request's log record. Sends its line when dropped (the end of the
/// transaction, or of the tunnel after a protocol switch). Empty when the frontend does not
/// log with a format.
#[derive(Default)]
pub struct HttpLog(Option<Box<HttpRec>>);

/// The request line HAProxy logs for `%r`.
fn version_str(v: Version) -> &'static str {
    match v {
        Version::HTTP_09 => "HTTP/0.9",
        Version::HTTP_10 => "HTTP/1.0",
        Version::HTTP_2 => "HTTP/2.0",
        Version::HTTP_3 => "HTTP/3.0",
        _ => "HTTP/1.1",
    }
}

fn headers_size(h: &HeaderMap) -> u64 {
    h.iter()
        .map(|(n, v)| (n.as_str().len() + v.len()) as u64)
        .sum()
}

/// The status and HTX size of a raw HTTP/1 response (a local reply).
fn raw_reply_size(raw: &[u8]) -> (u16, u64) {
    let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") else {
        return (0, 0);
    };
    let head = &raw[..end];
    let body = raw.len() - end - 4;
    let mut lines = head.split(|&c| c == b'\n');
    let sl = lines.next().unwrap_or(b"");
    let sl = sl.strip_suffix(b"\r").unwrap_or(sl);
    let mut parts = sl.splitn(3, |&c| c == b' ');
    let ver = parts.next().unwrap_or(b"");
    let code = parts.next().unwrap_or(b"");
    let reason = parts.next().unwrap_or(b"");
    let status = std::str::from_utf8(code)
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let mut size = HTX_OVERHEAD + (ver.len() + code.len() + reason.len()) as u64;
    for l in lines {
        let l = l.strip_suffix(b"\r").unwrap_or(l);
        if let Some(colon) = l.iter().position(|&c| c == b':') {
            let name = &l[..colon];
            let value = l[colon + 1..].trim_ascii();
            size += (name.len() + value.len()) as u64;
        }
    }
    (status, size + body as u64)
}

/// The reason phrase sent for a proxied response (as the HTTP/1 writer does).
fn reason_len(status: StatusCode, ext: &hyper::http::Extensions) -> usize {
    if let Some(r) = ext.get::<super::http::rules::CustomReason>() {
        return r.0.len();
    }
    if let Some(r) = ext.get::<hyper::ext::ReasonPhrase>() {
        return r.as_bytes().len();
    }
    status.canonical_reason().map_or(0, str::len)
}

fn response_head_size<B>(r: &Response<B>) -> u64 {
    HTX_OVERHEAD + 8 + 3 + reason_len(r.status(), r.extensions()) as u64 + headers_size(r.headers())
}

/// Whether the TCP or tunnel inactivity that ended a session is the client's timeout
/// (HAProxy reports `cD` when `timeout client` is not longer than the limit that fired,
/// or with `timeout tunnel`; `sD` otherwise).
fn timeout_side(state: &EngineState, fe: usize, be: Option<usize>) -> u8 {
    let cfg = &state.config;
    let fe_t = cfg.frontends.get(fe).map(|f| f.timeouts);
    let be_t = be.and_then(|b| cfg.backends.get(b)).map(|b| b.timeouts);
    let client = fe_t.and_then(|t| t.client);
    let tunnel = be_t.and_then(|t| t.tunnel);
    let server = be_t.and_then(|t| t.server);
    match (client, tunnel, server) {
        (Some(_), Some(_), _) => b'c',
        (Some(c), None, Some(s)) if c <= s => b'c',
        (Some(_), None, None) => b'c',
        (None, _, _) => b's',
        _ => b's',
    }
}

fn tunnel_term(state: &EngineState, fe: usize, be: Option<usize>, end: TunnelEnd) -> [u8; 2] {
    match end {
        TunnelEnd::Closed => *b"--",
        TunnelEnd::ClientError => *b"CD",
        TunnelEnd::ServerError => *b"SD",
        TunnelEnd::Timeout => [timeout_side(state, fe, be), b'D'],
    }
}

impl HttpLog {
    /// Starts the record of a request whose head is complete now. `start`: the stream's
    /// start ([`ConnClock`]); `first_byte`: when its first byte arrived (`None`: it was
    /// already buffered). Frontends without a format get HAProxy's `Connect from` line here.
    #[allow(clippy::too_many_arguments)]
    pub fn begin(
        ctx: &ConnCtx,
        info: &ConnInfo,
        start: ConnClock,
        first_byte: Option<Instant>,
        method: &Method,
        uri: &Uri,
        version: Version,
        headers: &HeaderMap,
    ) -> HttpLog {
        let logs = &ctx.state.accesslog;
        let uniq = logs.next_uniq();
        let Some(fe) = logs.fe(ctx.frontend) else {
            return HttpLog(None);
        };
        if let Kind::Legacy = fe.kind {
            let name = ctx.frontend_ir().map(|f| f.name.as_str()).unwrap_or("");
            connect_from(fe, &ctx.state, name, info, "HTTP");
            return HttpLog(None);
        }
        let now = crate::engine::clock::now();
        let fb = first_byte.unwrap_or(now).max(start.accepted);
        let idle = (ms_between(start.accepted, fb) - start.handshake_ms).max(0);
        let request = ms_between(start.accepted, now).max(idle + start.handshake_ms);
        let m = method.as_str();
        let u = uri.to_string();
        let v = version_str(version);
        let mut line = Vec::with_capacity(m.len() + u.len() + v.len() + 2);
        line.extend_from_slice(m.as_bytes());
        line.push(b' ');
        line.extend_from_slice(u.as_bytes());
        line.push(b' ');
        line.extend_from_slice(v.as_bytes());
        let mut head_in =
            HTX_OVERHEAD + (m.len() + u.len() + v.len()) as u64 + headers_size(headers);
        // HAProxy's HTTP/2 mux turns `:authority` into a `host` header.
        if version == Version::HTTP_2 && !headers.contains_key(hyper::http::header::HOST) {
            head_in += 4 + uri.authority().map_or(0, |a| a.as_str().len()) as u64;
        }
        HttpLog(Some(Box::new(HttpRec {
            state: ctx.state.clone(),
            fe: ctx.frontend,
            client: info.peer,
            local: info.local,
            tls: info.tls,
            sni: info.sni.clone(),
            start,
            idle,
            request,
            line,
            head_in,
            shared: Arc::new(Shared::default()),
            status: 0,
            backend: None,
            bytes_out: 0,
            extra_in: 0,
            ending: None,
            client_term: None,
            tunnel_term: None,
            cookie: *b"--",
            queue_timeout: None,
            response_replaced: false,
            uniq,
        })))
    }

    /// The handle the transaction marks its progress with.
    pub fn txn(&self) -> TxnLog {
        TxnLog(self.0.as_ref().map(|r| r.shared.clone()))
    }

    /// Records the transaction's outcome: backend, status, the reply's size, and why a local
    /// reply was made.
    pub fn outcome(&mut self, o: &super::http::txn::Outcome) {
        use super::http::txn::Reply;
        let Some(r) = self.0.as_deref_mut() else {
            return;
        };
        r.backend = o.backend;
        let be = o.backend.and_then(|b| r.state.config.backends.get(b));
        let ck = o.persist.tsc_cookie_chars(be);
        r.cookie = [ck[0] as u8, ck[1] as u8];
        match &o.reply {
            Reply::Local(raw) => {
                let (status, size) = raw_reply_size(raw);
                r.status = status;
                r.bytes_out = size;
                let term = r.classify_local(status, raw);
                r.ending = Some(Ending::Local(term));
            }
            Reply::Proxied(resp) => {
                r.status = resp.status().as_u16();
                r.bytes_out = response_head_size(resp);
                r.ending = Some(Ending::Proxied);
            }
            Reply::Upgrade(u) => {
                r.status = u.head.status().as_u16();
                r.bytes_out = response_head_size(&u.head);
                r.ending = Some(Ending::Tunnel);
            }
        }
    }

    /// Wraps a request body so that the bytes forwarded to the server count in `%U`.
    pub fn count_request<B>(&self, body: B) -> LogBody<B> {
        LogBody {
            inner: Some(body),
            shared: self.0.as_ref().map(|r| r.shared.clone()),
            request: true,
            owner: None,
            ended: std::cell::Cell::new(false),
        }
    }

    /// [`HttpLog::count_request`] for the engine's boxed request bodies (unchanged when the
    /// frontend does not log).
    pub fn count_request_boxed(
        &self,
        body: super::http::body::ReqBody,
    ) -> super::http::body::ReqBody {
        use http_body_util::BodyExt;
        if self.0.is_none() {
            return body;
        }
        self.count_request(body).boxed_unsync()
    }

    /// The proxied response was written (`keep`: the connection may stay open) or not;
    /// `write_failed`: a write to the client failed; `body_timeout`/`body_gone`: reading the
    /// request body timed out / the client closed.
    pub fn written(&mut self, keep: bool, write_failed: bool, body_timeout: bool, body_gone: bool) {
        let Some(r) = self.0.as_deref() else { return };
        let complete = r.shared.resp_end.load(Ordering::Acquire) != 0;
        if !keep && !complete {
            self.client_failed(write_failed, true);
        }
        if body_gone {
            self.client_failed(true, true);
        }
        if body_timeout {
            self.client_failed(false, true);
        }
    }

    /// Wraps a response body so that the bytes sent to the client count in `%B` and a
    /// server error or timeout shows in the termination state.
    pub fn count_response<B>(&self, resp: Response<B>) -> Response<LogBody<B>> {
        let shared = self.0.as_ref().map(|r| r.shared.clone());
        resp.map(|b| LogBody {
            inner: Some(b),
            shared,
            request: false,
            owner: None,
            ended: std::cell::Cell::new(false),
        })
    }

    /// Like [`HttpLog::count_response`], but the body also carries this record, which is
    /// sent when the body is dropped (HTTP/2: the stream ends with its body).
    pub fn into_response<B>(self, resp: Response<B>) -> Response<LogBody<B>> {
        let shared = self.0.as_ref().map(|r| r.shared.clone());
        resp.map(|b| LogBody {
            inner: Some(b),
            shared,
            request: false,
            owner: Some(self),
            ended: std::cell::Cell::new(false),
        })
    }

    /// Like [`HttpLog::into_response`] for a bare body.
    pub fn into_body<B>(self, body: B) -> LogBody<B> {
        let shared = self.0.as_ref().map(|r| r.shared.clone());
        LogBody {
            inner: Some(body),
            shared,
            request: false,
            owner: Some(self),
            ended: std::cell::Cell::new(false),
        }
    }

    /// The client failed (`error`) or timed out while the response was written or the
    /// request body read; `data`: the response had started.
    pub fn client_failed(&mut self, error: bool, data: bool) {
        let Some(r) = self.0.as_deref_mut() else {
            return;
        };
        if r.client_term.is_none() {
            r.client_term = Some([
                if error { b'C' } else { b'c' },
                if data { b'D' } else { b'R' },
            ]);
        }
    }

    /// A tunnel (WebSocket, CONNECT) after the protocol switch ended.
    pub fn tunnel_done(&mut self, stats: &TunnelStats) {
        let Some(r) = self.0.as_deref_mut() else {
            return;
        };
        r.bytes_out += stats.server_to_client;
        r.extra_in += stats.client_to_server;
        r.tunnel_term = Some(tunnel_term(&r.state, r.fe, r.backend, stats.end));
    }
}

impl HttpRec {
    fn marks(&self) -> Marks {
        self.shared.marks.lock().map(|m| *m).unwrap_or_default()
    }

    /// Why the transaction answered by itself, from how far it went.
    fn classify_local(&mut self, status: u16, raw: &[u8]) -> [u8; 2] {
        let m = self.marks();
        if m.response.is_some() {
            // `http-response deny` (or an invalid upgrade answer): HAProxy counts the
            // server's response in `%B` and logs `%Tr` as -1.
            self.response_replaced = true;
            self.bytes_out += m.response_size;
            return if status == 502 { *b"PH" } else { *b"LH" };
        }
        if m.connected.is_some() {
            return match status {
                504 => *b"sH",
                502 => *b"SH",
                _ => *b"IH",
            };
        }
        if m.queued.is_some() {
            return *b"SC";
        }
        if m.queue_start.is_some() {
            // No server was available: queue timeout if one is usable now.
            let cfg = &self.state.config;
            let usable = self.backend.is_some_and(|b| {
                cfg.backends
                    .get(b)
                    .zip(self.state.backends.get(b))
                    .is_some_and(|(be, bs)| {
                        be.servers
                            .iter()
                            .zip(&bs.servers)
                            .any(|(s, st)| s.resolved.is_some() && st.is_usable())
                    })
            });
            if usable {
                self.queue_timeout = Some(crate::engine::clock::now());
                return *b"sQ";
            }
            return *b"SC";
        }
        if m.routed && self.backend.is_none() {
            // No backend at all: HAProxy logs the request time as -1 too.
            self.request = -1;
            return *b"SC";
        }
        // A rule answered: `deny` (HAProxy's error message) or return/redirect/auth.
        let cfg = &self.state.config;
        let fe_errs = cfg
            .frontends
            .get(self.fe)
            .map(|f| f.errorfiles.as_slice())
            .unwrap_or(&[]);
        let be_errs = self
            .backend
            .and_then(|b| cfg.backends.get(b))
            .map(|b| b.errorfiles.as_slice())
            .unwrap_or(&[]);
        use super::http::errors::{error_bytes, Origin};
        let deny = error_bytes(status, Origin::Stream, be_errs, fe_errs).as_ref() == raw
            || error_bytes(status, Origin::Stream, &[], fe_errs).as_ref() == raw;
        if deny {
            *b"PR"
        } else {
            *b"LR"
        }
    }

    fn term(&self) -> [u8; 2] {
        match self.ending {
            Some(Ending::Local(t)) => self.client_term.unwrap_or(t),
            Some(Ending::Tunnel) => self.client_term.or(self.tunnel_term).unwrap_or(*b"--"),
            Some(Ending::Proxied) => {
                match self.shared.resp_end.load(Ordering::Acquire) {
                    2 => return *b"sD",
                    3 => return *b"SD",
                    _ => {}
                }
                self.client_term.unwrap_or(*b"--")
            }
            // The transaction never produced a reply (the client went away).
            None => self.client_term.unwrap_or(*b"CR"),
        }
    }

    fn emit(&mut self) {
        let state = self.state.clone();
        if state.stop_level() >= StopLevel::Hard {
            return;
        }
        let logs = &state.accesslog;
        let Some(fe) = logs.fe(self.fe) else { return };
        let Kind::Format(nodes) = &fe.kind else {
            return;
        };
        let m = self.marks();
        let now = crate::engine::clock::now();
        let off = |t: Option<Instant>| t.map_or(-1, |t| ms_between(self.start.accepted, t));
        let timers = Timers {
            handshake: self.start.handshake_ms,
            idle: self.idle,
            request: self.request,
            queue: off(m.queued.or(self.queue_timeout)),
            connect: off(m.connected),
            data: if self.response_replaced {
                -1
            } else {
                off(m.response)
            },
            close: ms_between(self.start.accepted, now),
        };
        let n = names(&state, self.fe, self.backend, m.server);
        let bytes_out = self.bytes_out + self.shared.resp_body.load(Ordering::Relaxed);
        let bytes_in = self.head_in + self.extra_in + self.shared.req_body.load(Ordering::Relaxed);
        let server_addr = m.server.and_then(|s| {
            let be = state.config.backends.get(self.backend?)?;
            be.servers.get(s)?.resolved
        });
        let mut counts = n.counts;
        counts.retries = i64::from(m.retries);
        counts.redispatched = m.redispatched;
        let mut e = Entry {
            state: &state,
            http: fe.http,
            fe_name: n.fe,
            be_name: n.be,
            srv_name: n.srv,
            server: n.server,
            client: self.client,
            local: self.local,
            tls: self.tls,
            sni: self.sni.as_deref(),
            server_addr,
            backend_src: None,
            accept_date: self.start.date,
            timers,
            status: self.status,
            bytes_out,
            bytes_in,
            term: self.term(),
            cookie: self.cookie,
            request: Some(&self.line),
            counts,
            uniq_id: self.uniq,
            log_count: 0,
            pid: state.pid,
            hostname: &logs.hostname,
        };
        send_entry(logs, fe, nodes, &mut e);
    }
}

impl Drop for HttpLog {
    fn drop(&mut self) {
        if let Some(mut r) = self.0.take() {
            r.emit();
        }
    }
}

/// A body that counts its data bytes into an HTTP record (and, for HTTP/2 responses,
/// carries the record until the stream ends).
pub struct LogBody<B> {
    inner: Option<B>,
    shared: Option<Arc<Shared>>,
    request: bool,
    owner: Option<HttpLog>,
    ended: std::cell::Cell<bool>,
}

impl<B> LogBody<B> {
    fn end(&self, code: u8) {
        self.ended.set(true);
        if let (Some(s), false) = (&self.shared, self.request) {
            let _ = s
                .resp_end
                .compare_exchange(0, code, Ordering::AcqRel, Ordering::Acquire);
        }
    }
}

impl<B> Body for LogBody<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Data = Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        let Some(inner) = this.inner.as_mut() else {
            return Poll::Ready(None);
        };
        match Pin::new(inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(f))) => {
                if let (Some(d), Some(s)) = (f.data_ref(), &this.shared) {
                    let c = if this.request {
                        &s.req_body
                    } else {
                        &s.resp_body
                    };
                    c.fetch_add(d.len() as u64, Ordering::Relaxed);
                }
                // hyper stops polling a body that says it is over (HTTP/2).
                if this.inner.as_ref().is_some_and(|b| b.is_end_stream()) {
                    this.end(1);
                }
                Poll::Ready(Some(Ok(f)))
            }
            Poll::Ready(Some(Err(e))) => {
                let e: Self::Error = e.into();
                let timeout = e
                    .downcast_ref::<super::http::upstream::ServerTimeout>()
                    .is_some();
                this.end(if timeout { 2 } else { 3 });
                Poll::Ready(Some(Err(e)))
            }
            Poll::Ready(None) => {
                this.end(1);
                Poll::Ready(None)
            }
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        let end = self.inner.as_ref().is_none_or(|b| b.is_end_stream());
        if end {
            self.end(1);
        }
        end
    }

    fn size_hint(&self) -> SizeHint {
        self.inner
            .as_ref()
            .map(|b| b.size_hint())
            .unwrap_or_default()
    }
}

impl<B> Drop for LogBody<B> {
    fn drop(&mut self) {
        // Release the inner body first (it holds the server's connection count).
        let done = self.ended.get() || self.inner.as_ref().is_none();
        self.inner = None;
        if let Some(mut owner) = self.owner.take() {
            if !done && !self.request {
                // HTTP/2: the stream went away before the whole response was sent.
                owner.client_failed(true, true);
            }
            drop(owner);
        }
    }
}

/// A writer that notes in `failed` whether a write failed (to tell a client abort, `CD`,
/// from a client timeout, `cD`).
pub struct Watch<'a, W> {
    inner: W,
    failed: &'a std::sync::atomic::AtomicBool,
}

impl<'a, W> Watch<'a, W> {
    pub fn new(inner: W, failed: &'a std::sync::atomic::AtomicBool) -> Self {
        Watch { inner, failed }
    }

    fn note<T>(&mut self, r: Poll<io::Result<T>>) -> Poll<io::Result<T>> {
        if let Poll::Ready(Err(_)) = &r {
            self.failed.store(true, Ordering::Relaxed);
        }
        r
    }
}

impl<W: AsyncWrite + Unpin> AsyncWrite for Watch<'_, W> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.note(r)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let r = Pin::new(&mut self.inner).poll_flush(cx);
        self.note(r)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let r = Pin::new(&mut self.inner).poll_shutdown(cx);
        self.note(r)
    }
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.note(r)
    }
    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

impl<W: AsyncRead + Unpin> AsyncRead for Watch<'_, W> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

/// What HAProxy's HTTP/1 mux logs by itself when no request could be parsed: `status` 400
/// (`PR`, or `CR` when the client closed; `eof` without any byte: the connection closed
/// before a request, logged as `CR` 400 unless `option dontlognull`) or 408 (`cR`).
pub fn http_error(ctx: &ConnCtx, info: &ConnInfo, start: ConnClock, t: &HeadTiming, status: u16) {
    let state = &ctx.state;
    let logs = &state.accesslog;
    let Some(fe) = logs.fe(ctx.frontend) else {
        return;
    };
    let Kind::Format(nodes) = &fe.kind else {
        return;
    };
    if fe.dontlognull && t.first_byte.is_none() {
        return;
    }
    let term = match (status, t.eof) {
        (408, _) => *b"cR",
        (_, true) => *b"CR",
        _ => *b"PR",
    };
    let now = crate::engine::clock::now();
    let idle = t.first_byte.map_or(0, |fb| {
        (ms_between(start.accepted, fb) - start.handshake_ms).max(0)
    });
    let timers = Timers {
        handshake: start.handshake_ms,
        idle,
        request: -1,
        queue: -1,
        connect: -1,
        data: -1,
        close: ms_between(start.accepted, now),
    };
    let n = names(state, ctx.frontend, None, None);
    let mut e = Entry {
        state,
        http: fe.http,
        fe_name: n.fe,
        be_name: n.be,
        srv_name: n.srv,
        server: false,
        client: info.peer,
        local: info.local,
        tls: info.tls,
        sni: info.sni.as_deref(),
        server_addr: None,
        backend_src: None,
        accept_date: start.date,
        timers,
        status,
        bytes_out: 0,
        bytes_in: 0,
        term,
        cookie: *b"--",
        request: None,
        counts: n.counts,
        uniq_id: logs.next_uniq(),
        log_count: 0,
        pid: state.pid,
        hostname: &logs.hostname,
    };
    send_entry(logs, fe, nodes, &mut e);
}

// ---------------------------------------------------------------------------------------
// TCP

struct TcpRec {
    state: Arc<EngineState>,
    fe: usize,
    info: ConnInfo,
    start: ConnClock,
    backend: Option<usize>,
    server: Option<usize>,
    queued: Option<Instant>,
    connected: Option<Instant>,
    server_addr: Option<SocketAddr>,
    backend_src: Option<SocketAddr>,
    stats: Option<TunnelStats>,
    killed: bool,
    retries: u32,
    redispatched: bool,
    uniq: u64,
    /// The session ended before any server connection ([`TcpLog::ended_early`]): the
    /// termination state and the request bytes received.
    early: Option<([u8; 2], u64)>,
}

/// One TCP session's log record, sent when dropped (the session's end).
#[derive(Default)]
pub struct TcpLog(Option<Box<TcpRec>>);

impl TcpLog {
    /// Starts the record of a TCP session (frontends without a format log HAProxy's
    /// `Connect from` line here).
    pub fn begin(ctx: &ConnCtx, info: &ConnInfo) -> TcpLog {
        let logs = &ctx.state.accesslog;
        let uniq = logs.next_uniq();
        let Some(fe) = logs.fe(ctx.frontend) else {
            return TcpLog(None);
        };
        if let Kind::Legacy = fe.kind {
            let name = ctx.frontend_ir().map(|f| f.name.as_str()).unwrap_or("");
            connect_from(fe, &ctx.state, name, info, "TCP");
            return TcpLog(None);
        }
        TcpLog(Some(Box::new(TcpRec {
            state: ctx.state.clone(),
            fe: ctx.frontend,
            info: info.clone(),
            start: current_clock(),
            backend: None,
            server: None,
            queued: None,
            connected: None,
            server_addr: None,
            backend_src: None,
            stats: None,
            killed: false,
            retries: 0,
            redispatched: false,
            uniq,
            early: None,
        })))
    }

    /// The session ended during content inspection, before any server connection:
    /// `term` is `PR` (a `tcp-request content reject`) or `cR` (`timeout client`), `be`
    /// the backend when one was chosen, `bytes_in` what the client had sent.
    pub fn ended_early(&mut self, term: [u8; 2], be: Option<usize>, bytes_in: usize) {
        if let Some(r) = self.0.as_deref_mut() {
            r.backend = be;
            r.early = Some((term, bytes_in as u64));
        }
    }

    /// The session was killed because its server went down (`on-marked-down
    /// shutdown-sessions`): `KD`.
    pub fn killed(&mut self) {
        if let Some(r) = self.0.as_deref_mut() {
            r.killed = true;
        }
    }

    /// Backend `be` was chosen; a server is being picked and connected.
    pub fn queued(&mut self, be: usize) {
        if let Some(r) = self.0.as_deref_mut() {
            r.backend = Some(be);
            r.queued = Some(crate::engine::clock::now());
        }
    }

    /// Connected to server `srv` of the backend.
    pub fn connected(&mut self, srv: usize, stream: &tokio::net::TcpStream) {
        if let Some(r) = self.0.as_deref_mut() {
            r.server = Some(srv);
            r.connected = Some(crate::engine::clock::now());
            r.server_addr = stream.peer_addr().ok();
            r.backend_src = stream.local_addr().ok();
        }
    }

    /// The tunnel ended.
    pub fn tunnel_done(&mut self, stats: &TunnelStats) {
        if let Some(r) = self.0.as_deref_mut() {
            r.stats = Some(*stats);
        }
    }
}

impl TcpRec {
    fn emit(&self) {
        let state = &self.state;
        if state.stop_level() >= StopLevel::Hard {
            return;
        }
        let logs = &state.accesslog;
        let Some(fe) = logs.fe(self.fe) else { return };
        let Kind::Format(nodes) = &fe.kind else {
            return;
        };
        let (out, inb) = self
            .stats
            .map_or((0, self.early.map_or(0, |(_, n)| n)), |s| {
                (s.server_to_client, s.client_to_server)
            });
        if fe.dontlognull && inb == 0 {
            return;
        }
        let term = match (&self.stats, self.connected) {
            _ if self.killed => *b"KD",
            _ if self.early.is_some() => self.early.map_or(*b"--", |(t, _)| t),
            (Some(s), _) => tunnel_term(state, self.fe, self.backend, s.end),
            (None, _) => *b"SC",
        };
        let off = |t: Option<Instant>| t.map_or(-1, |t| ms_between(self.start.accepted, t));
        let timers = Timers {
            handshake: self.start.handshake_ms,
            idle: -1,
            request: -1,
            queue: off(self.queued),
            connect: off(self.connected),
            data: -1,
            close: ms_between(self.start.accepted, crate::engine::clock::now()),
        };
        let n = names(state, self.fe, self.backend, self.server);
        let mut counts = n.counts;
        counts.retries = i64::from(self.retries);
        counts.redispatched = self.redispatched;
        let mut e = Entry {
            state,
            http: fe.http,
            fe_name: n.fe,
            be_name: n.be,
            srv_name: n.srv,
            server: n.server,
            client: self.info.peer,
            local: self.info.local,
            tls: self.info.tls,
            sni: self.info.sni.as_deref(),
            server_addr: self.server_addr,
            backend_src: self.backend_src,
            accept_date: self.start.date,
            timers,
            status: 0,
            bytes_out: out,
            bytes_in: inb,
            term,
            cookie: *b"--",
            request: None,
            counts,
            uniq_id: self.uniq,
            log_count: 0,
            pid: state.pid,
            hostname: &logs.hostname,
        };
        send_entry(logs, fe, nodes, &mut e);
    }
}

impl Drop for TcpLog {
    fn drop(&mut self) {
        if let Some(mut r) = self.0.take() {
            if let Ok((srv, n, redisp)) = TRIED.try_with(|c| c.get()) {
                if r.server.is_none() && r.backend.is_some() {
                    r.server = srv;
                }
                r.retries = n.saturating_sub(1);
                r.redispatched = redisp;
            }
            r.emit();
        }
    }
}

/// Sends a warning about frontend `fe` (`Proxy fe stopped (...)` at a soft stop) to its
/// log targets, as HAProxy's `send_log(proxy, LOG_WARNING, ...)`, whatever its format.
pub fn frontend_warning(state: &EngineState, fe: usize, msg: &str) {
    let Some(f) = state.accesslog.fe(fe) else {
        return;
    };
    send(f, state.pid, syslog::LOG_WARNING, |m| {
        m.extend_from_slice(msg.as_bytes())
    });
}

// ---------------------------------------------------------------------------------------
// TLS handshake failures

/// HAProxy's line for a connection whose TLS handshake failed, `ci:cp [date] fe/listener:
/// reason` (only for frontends with a log format; `option dontlognull` hides connections
/// closed or broken during the handshake, not failures or timeouts).
pub fn embryonic(ctx: &ConnCtx, peer: SocketAddr, local: SocketAddr, err: &io::Error) {
    let clock = current_clock();
    let state = &ctx.state;
    let logs = &state.accesslog;
    let Some(fe) = logs.fe(ctx.frontend) else {
        return;
    };
    if let Kind::Legacy = fe.kind {
        return;
    }
    let (msg, empty) = match err.kind() {
        io::ErrorKind::TimedOut => ("Timeout during SSL handshake", false),
        io::ErrorKind::UnexpectedEof => ("Connection closed during SSL handshake", true),
        _ => ("SSL handshake failure", false),
    };
    if fe.dontlognull && empty {
        return;
    }
    let Some(fe_ir) = ctx.frontend_ir() else {
        return;
    };
    let listener = listener_name(fe_ir, ctx.bind, local);
    send(fe, state.pid, LOG_INFO, |m| {
        use std::io::Write;
        let _ = write!(m, "{}:{} [", peer.ip(), peer.port());
        clock::log_date(m, clock.date);
        let _ = write!(m, "] {}/{listener}: {msg}", fe_ir.name);
    });
}

/// A listener's `name`, or its number in the frontend (1-based, one per bound address).
fn listener_name(fe: &Frontend, bind: usize, local: SocketAddr) -> String {
    let Some(b) = fe.binds.get(bind) else {
        return (bind + 1).to_string();
    };
    if let Some(n) = &b.name {
        return n.clone();
    }
    let before: usize = fe
        .binds
        .iter()
        .take(bind)
        .map(|b| b.sockets.len().max(1))
        .sum();
    let pos = b
        .sockets
        .iter()
        .position(|s| *s == local || (s.port() == local.port() && s.ip().is_unspecified()))
        .unwrap_or(0);
    (before + pos + 1).to_string()
}

// ---------------------------------------------------------------------------------------
// Load-time checks

/// What of the logging configuration the engine cannot honour, one message per problem
/// (empty when everything is supported): log-format strings it cannot render (and the ones
/// HAProxy itself rejects, which the config layer does not check yet), `ring@` and stream
/// (`tcp@`) targets.
pub fn unsupported_in(cfg: &Config) -> Vec<String> {
    let mut out = Vec::new();
    let mut seen = Vec::new();
    let targets = cfg
        .global
        .logs
        .iter()
        .map(|t| ("global".to_string(), t))
        .chain(cfg.frontends.iter().flat_map(|f| {
            f.logs
                .iter()
                .map(move |t| (format!("{}: proxy '{}'", f.origin, f.name), t))
        }));
    for (whre, t) in targets {
        if let Some(why) = syslog::unsupported(t) {
            if !seen.contains(&why) {
                out.push(format!("{whre}: {why}"));
                seen.push(why);
            }
        }
    }
    for fe in &cfg.frontends {
        let Some(f) = &fe.custom_log_format else {
            continue;
        };
        let res = format::parse(f, fe.mode == Mode::Http).and_then(|n| format::check_samples(&n));
        if let Err(e) = res {
            let e = e.strip_prefix("unsupported:").unwrap_or(&e).to_string();
            out.push(format!(
                "{}: proxy '{}': log-format: {e}",
                fe.origin, fe.name
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reply_sizes_match_haproxy() {
        // HAProxy 2.6.12 logs %B 192 for its 403 and 83 for `redirect location /x`.
        let e403 = super::super::http::errors::error_bytes(
            403,
            super::super::http::errors::Origin::Stream,
            &[],
            &[],
        );
        assert_eq!(raw_reply_size(&e403), (403, 192));
        let redir = b"HTTP/1.1 302 Found\r\ncontent-length: 0\r\nlocation: /x\r\ncache-control: no-cache\r\n\r\n";
        assert_eq!(raw_reply_size(redir), (302, 83));
    }

    #[test]
    fn timers() {
        let t = Timers {
            handshake: 0,
            idle: -1,
            request: -1,
            queue: 0,
            connect: 0,
            data: -1,
            close: 4,
        };
        // tcplog's `1/0/4`: Tw counts from t_request = -1.
        assert_eq!((t.tw(), t.tc(), t.td(false)), (1, 0, 4));
    }
}
