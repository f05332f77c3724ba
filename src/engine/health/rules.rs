//! One check run, as HAProxy 2.6's tcp-check engine (`tcpcheck.c`) executes it. Every check
//! is a list of rules:
//! - a plain `check`: an implicit connect;
//! - `option tcp-check`: the `tcp-check` lines, preceded by an implicit connect when the
//!   first one is not `connect`; `comment` lines give their text to the following rule (to
//!   the following run of `send` or of `expect` rules);
//! - `option httpchk`: implicit connect, the HTTP request, one expect (`status 200-399` when
//!   none is configured).
//!
//! Timeouts (checked against haproxy 2.6.12): each connect may take `inter`, or
//! min(`inter`, `timeout connect`) when `timeout check` is set; with `timeout check`, every
//! read for an expect rule re-arms a `timeout check` deadline, otherwise the connect's
//! deadline still runs. Expiry before the connection is up is `Layer4 timeout`, after it
//! `Layer7 timeout`.
//!
//! Expect rules (`tcpcheck_eval_expect()`, `tcpcheck_eval_expect_http()`): after a send
//! (or connect) data is read first; a rule waits for more data while it could still change
//! its mind (no match yet, or a negated rule without a match) unless the server closed, the
//! buffer (`tune.bufsize`) is full, or for HTTP the message is complete. A chain of expect
//! rules is re-evaluated from its first negated rule when more data comes. An HTTP status is
//! judged as soon as the response head is in.

use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::config::ir::{
    ExpectKind, HealthCheck, HttpCheckExpect, ProxyProtocol, Server, TcpCheckStep,
};
use crate::engine::server_conn::{proxy_v1, proxy_v2};

use super::http::{build_request, parse_response, RESPONSE_LIMIT};
use super::report::{CheckResult, Status};
use super::tls::{handshake_failure, CheckTls};

/// Which kind of ruleset: it decides the wording of errors and successes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `check` alone.
    Plain,
    /// `option tcp-check`.
    TcpCheck,
    /// `option httpchk`.
    Http,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Matcher {
    /// `tcp-check expect string|binary` (binary already decoded).
    Bytes { pat: Vec<u8>, binary: bool },
    /// `http-check expect status`: inclusive ranges.
    Status(Vec<(u32, u32)>),
    /// `http-check expect string`: searched in the response body.
    Body(Vec<u8>),
    /// A pattern haproxide cannot evaluate (regular expressions) or that is invalid: the
    /// check fails with this text.
    Unusable(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expect {
    pub inverse: bool,
    pub matcher: Matcher,
    /// Index (in `Program::rules`) of the first negated expect of the chain this rule is in,
    /// or the rule itself: evaluation resumes there when more data comes.
    pub head: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Connect {
        /// `port N`.
        port: Option<u16>,
        send_proxy: bool,
        ssl: bool,
        /// Added by HAProxy, not configured: uses the server's `send-proxy`, and is "step 0".
        implicit: bool,
    },
    Send(Vec<u8>),
    SendHttp,
    Expect(Expect),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub action: Action,
    /// The rule's index among the configured `tcp-check` lines (comments included).
    pub index: usize,
    pub comment: Option<String>,
}

impl Rule {
    /// `tcpcheck_get_step_id()`: 0 for the implicit connect, else index + 1.
    pub fn step_id(&self) -> usize {
        match self.action {
            Action::Connect { implicit: true, .. } => 0,
            _ => self.index + 1,
        }
    }
}

/// The HTTP request of an HTTP check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRequest {
    pub bytes: Vec<u8>,
    pub head: bool,
}

/// A backend's check rules, built once from the IR.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Program {
    pub kind: Kind,
    pub rules: Vec<Rule>,
    pub http: Option<HttpRequest>,
    pub disable_on_404: bool,
}

/// `parse_binary()`: an even-length hex string.
fn parse_hex(s: &str) -> Option<Vec<u8>> {
    let b = s.as_bytes();
    if b.is_empty() || !b.len().is_multiple_of(2) {
        return None;
    }
    b.chunks(2)
        .map(|p| {
            let h = char::from(p[0]).to_digit(16)?;
            let l = char::from(p[1]).to_digit(16)?;
            u8::try_from(h * 16 + l).ok()
        })
        .collect()
}

/// `http-check expect status` codes: `200`, `200-399`, `200,300-399` (HAProxy's
/// `read_uint()` loop).
pub fn parse_status_list(s: &str) -> Option<Vec<(u32, u32)>> {
    let mut out = Vec::new();
    for part in s.split(',') {
        let (a, b) = match part.split_once('-') {
            Some((a, b)) => (a, b),
            None => (part, part),
        };
        let num = |x: &str| -> Option<u32> {
            if x.is_empty() {
                Some(0)
            } else if x.bytes().all(|c| c.is_ascii_digit()) {
                x.parse().ok()
            } else {
                None
            }
        };
        let (a, b) = (num(a)?, num(b)?);
        if a > b {
            return None;
        }
        out.push((a, b));
    }
    Some(out)
}

fn matcher(e: &HttpCheckExpect, http: bool) -> Matcher {
    match (e.kind, http) {
        (ExpectKind::Status, true) => match parse_status_list(&e.pattern) {
            Some(v) => Matcher::Status(v),
            None => Matcher::Unusable(format!("invalid list of status codes '{}'", e.pattern)),
        },
        (ExpectKind::String, true) => Matcher::Body(e.pattern.as_bytes().to_vec()),
        (ExpectKind::String, false) => Matcher::Bytes {
            pat: e.pattern.as_bytes().to_vec(),
            binary: false,
        },
        (ExpectKind::Binary, false) => match parse_hex(&e.pattern) {
            Some(pat) => Matcher::Bytes { pat, binary: true },
            None => Matcher::Unusable(format!("invalid binary string '{}'", e.pattern)),
        },
        (kind, _) => Matcher::Unusable(format!(
            "'expect {}' is not supported by haproxide",
            match kind {
                ExpectKind::Status => "status",
                ExpectKind::Rstatus => "rstatus",
                ExpectKind::String => "string",
                ExpectKind::Rstring => "rstring",
                ExpectKind::Binary => "binary",
                ExpectKind::Rbinary => "rbinary",
            }
        )),
    }
}

/// What of a program haproxide cannot run as HAProxy would (for an alert at start).
pub fn unsupported(p: &Program) -> Vec<String> {
    let mut v = Vec::new();
    for r in &p.rules {
        match &r.action {
            Action::Expect(Expect {
                matcher: Matcher::Unusable(m),
                ..
            }) => v.push(m.clone()),
            Action::Connect { ssl: true, .. } => {
                v.push("'tcp-check connect ssl' is not supported by haproxide".into())
            }
            _ => {}
        }
    }
    v
}

impl Program {
    pub fn new(health: &HealthCheck) -> Program {
        let implicit = |rules: &mut Vec<Rule>| {
            rules.insert(
                0,
                Rule {
                    action: Action::Connect {
                        port: None,
                        send_proxy: false,
                        ssl: false,
                        implicit: true,
                    },
                    index: 0,
                    comment: None,
                },
            );
        };
        let mut p = match health {
            HealthCheck::Tcp => {
                let mut rules = Vec::new();
                implicit(&mut rules);
                Program {
                    kind: Kind::Plain,
                    rules,
                    http: None,
                    disable_on_404: false,
                }
            }
            HealthCheck::Http(h) => {
                let mut rules = Vec::new();
                implicit(&mut rules);
                rules.push(Rule {
                    action: Action::SendHttp,
                    index: 0,
                    comment: None,
                });
                let default = HttpCheckExpect {
                    negate: false,
                    kind: ExpectKind::Status,
                    pattern: "200-399".into(),
                };
                let e = h.expect.as_ref().unwrap_or(&default);
                rules.push(Rule {
                    action: Action::Expect(Expect {
                        inverse: e.negate,
                        matcher: matcher(e, true),
                        head: 0,
                    }),
                    index: 1,
                    comment: None,
                });
                Program {
                    kind: Kind::Http,
                    rules,
                    http: Some(HttpRequest {
                        bytes: build_request(
                            &h.method,
                            &h.uri,
                            &h.version,
                            &h.headers,
                            h.body.as_deref(),
                        ),
                        head: h.method == "HEAD",
                    }),
                    disable_on_404: h.disable_on_404,
                }
            }
            HealthCheck::TcpCheck(steps) => {
                // check_proxy_tcpcheck(): implicit connect, then comments handed over.
                let mut raw: Vec<(usize, Option<Action>, Option<String>)> = Vec::new();
                for (i, s) in steps.iter().enumerate() {
                    let a = match s {
                        TcpCheckStep::Connect {
                            port,
                            ssl,
                            send_proxy,
                        } => Some(Action::Connect {
                            port: *port,
                            send_proxy: *send_proxy,
                            ssl: *ssl,
                            implicit: false,
                        }),
                        TcpCheckStep::Send(b) => Some(Action::Send(b.clone())),
                        TcpCheckStep::Expect(e) => Some(Action::Expect(Expect {
                            inverse: e.negate,
                            matcher: matcher(e, false),
                            head: 0,
                        })),
                        TcpCheckStep::Comment(c) => {
                            raw.push((i, None, Some(c.clone())));
                            continue;
                        }
                    };
                    raw.push((i, a, None));
                }
                let first_connect = raw
                    .iter()
                    .find_map(|(_, a, _)| a.as_ref())
                    .is_some_and(|a| matches!(a, Action::Connect { .. }));
                let mut rules = Vec::new();
                if !first_connect {
                    implicit(&mut rules);
                }
                // 0: comment, 1: connect, 2: send, 3: expect.
                let class = |a: &Option<Action>| match a {
                    None => 0,
                    Some(Action::Connect { .. }) => 1,
                    Some(Action::Send(_) | Action::SendHttp) => 2,
                    Some(Action::Expect(_)) => 3,
                };
                let mut prev = if rules.is_empty() { 0 } else { 1 };
                let mut comment: Option<String> = None;
                for (index, a, c) in raw {
                    let cls = class(&a);
                    if cls != prev && prev != 0 {
                        comment = None;
                    }
                    prev = cls;
                    match a {
                        None => comment = c,
                        Some(action) => {
                            let is_connect = matches!(action, Action::Connect { .. });
                            rules.push(Rule {
                                action,
                                index,
                                comment: comment.clone(),
                            });
                            if is_connect {
                                comment = None;
                            }
                        }
                    }
                }
                Program {
                    kind: Kind::TcpCheck,
                    rules,
                    http: None,
                    disable_on_404: false,
                }
            }
        };
        // Chains of expect rules resume at their first negated rule.
        for i in 0..p.rules.len() {
            if !matches!(p.rules[i].action, Action::Expect(_)) {
                continue;
            }
            let mut head = i;
            let mut j = i;
            while j > 0 {
                j -= 1;
                match &p.rules[j].action {
                    Action::Expect(e) => {
                        if e.inverse {
                            head = j;
                        }
                    }
                    _ => break,
                }
            }
            if let Action::Expect(e) = &mut p.rules[i].action {
                e.head = head;
            }
        }
        p
    }
}

/// Where and how long a check may take.
#[derive(Debug, Clone)]
pub struct Env<'a> {
    pub srv: &'a Server,
    /// The server's address with `addr`/`port` check overrides applied.
    pub target: SocketAddr,
    pub inter: Duration,
    pub timeout_connect: Option<Duration>,
    pub timeout_check: Option<Duration>,
    /// The server is DOWN (a 404 is then a plain failure, not `disable-on-404`).
    pub stopped: bool,
    /// `check-ssl`: the implicit connect runs a TLS handshake (after the PROXY header).
    pub tls: Option<&'a CheckTls>,
}

/// The C library's wording of an error ("Connection refused"), as HAProxy prints it.
pub fn strerror(e: &io::Error) -> String {
    let s = e.to_string();
    // std renders "Connection refused (os error 111)".
    match s.find(" (os error") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

enum Eval {
    Continue,
    Wait,
    Fail(Status, Vec<u8>),
}

/// A check's connection: plain TCP, or TLS with `check-ssl`.
enum Conn {
    Plain(TcpStream),
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

impl Conn {
    async fn write_all(&mut self, data: &[u8]) -> io::Result<()> {
        match self {
            Conn::Plain(s) => s.write_all(data).await,
            Conn::Tls(s) => {
                s.write_all(data).await?;
                s.flush().await
            }
        }
    }

    async fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Conn::Plain(s) => s.read(buf).await,
            Conn::Tls(s) => match s.read(buf).await {
                // A close without close_notify: HAProxy sees a plain end of stream.
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(0),
                r => r,
            },
        }
    }
}

struct Run<'a> {
    prog: &'a Program,
    env: &'a Env<'a>,
    start: Instant,
    deadline: Instant,
    conn: Option<Conn>,
    connected: bool,
    /// The TCP connection is up but the TLS handshake is not over (HAProxy's L6 phase).
    handshaking: bool,
    buf: Vec<u8>,
    eof: bool,
    read_err: Option<io::Error>,
    code: u32,
}

enum Stop {
    Timeout,
    Io(io::Error),
    /// The TLS handshake failed.
    Handshake(io::Error),
}

impl<'a> Run<'a> {
    fn result(&self, status: Status, desc: impl Into<Vec<u8>>) -> CheckResult {
        CheckResult::new(status, self.code, desc, self.start.elapsed())
    }

    /// `chk_report_conn_err()`'s context text for tcp-check rulesets.
    fn step_info(&self, current: Option<usize>) -> String {
        if self.prog.kind != Kind::TcpCheck {
            return String::new();
        }
        let rule = current.and_then(|i| self.prog.rules.get(i));
        let step = rule.map_or(1, Rule::step_id);
        if step == 0 {
            return " at initial connection step of tcp-check".into();
        }
        let mut m = format!(" at step {step} of tcp-check");
        if let Some(r) = rule {
            match &r.action {
                Action::Connect { port: Some(p), .. } => {
                    m.push_str(&format!(" (connect port {p})"))
                }
                Action::Connect { .. } => m.push_str(" (connect)"),
                Action::Send(_) | Action::SendHttp => m.push_str(" (send)"),
                Action::Expect(e) => match &e.matcher {
                    Matcher::Bytes { pat, binary } => m.push_str(&format!(
                        " (expect {} '{}')",
                        if *binary { "binary" } else { "string" },
                        String::from_utf8_lossy(pat)
                    )),
                    Matcher::Status(_) => m.push_str(" (expect HTTP status codes)"),
                    Matcher::Body(p) => m.push_str(&format!(
                        " (expect HTTP body content '{}')",
                        String::from_utf8_lossy(p)
                    )),
                    Matcher::Unusable(_) => m.push_str(" (expect regex)"),
                },
            }
            if let Some(c) = &r.comment {
                m.push_str(&format!(" comment: '{c}'"));
            }
        }
        m
    }

    /// A connection-level failure (`chk_report_conn_err()`).
    fn conn_err(&self, current: Option<usize>, stop: Stop) -> CheckResult {
        let info = self.step_info(current);
        match stop {
            Stop::Timeout => {
                let st = if !self.connected {
                    Status::L4Tout
                } else if self.handshaking {
                    Status::L6Tout
                } else {
                    Status::L7Tout
                };
                self.result(st, info)
            }
            Stop::Handshake(e) => {
                self.result(Status::L6Rsp, format!("{}{info}", handshake_failure(&e)))
            }
            Stop::Io(e) => {
                let st = if self.connected {
                    Status::SockErr
                } else {
                    Status::L4Con
                };
                self.result(st, format!("{}{info}", strerror(&e)))
            }
        }
    }

    fn connect_limit(&self) -> Duration {
        match (self.env.timeout_check, self.env.timeout_connect) {
            (Some(_), Some(c)) => self.env.inter.min(c),
            _ => self.env.inter,
        }
    }

    async fn connect(
        &mut self,
        port: Option<u16>,
        proxy: Option<ProxyProtocol>,
        tls: Option<&CheckTls>,
    ) -> Result<(), Stop> {
        self.conn = None;
        self.connected = false;
        self.handshaking = false;
        self.buf.clear();
        self.eof = false;
        self.read_err = None;
        self.deadline = Instant::now() + self.connect_limit();
        let mut addr = self.env.target;
        if let Some(p) = port {
            addr.set_port(p);
        }
        let s = match tokio::time::timeout_at(self.deadline.into(), TcpStream::connect(addr)).await
        {
            Err(_) => return Err(Stop::Timeout),
            Ok(Err(e)) => return Err(Stop::Io(e)),
            Ok(Ok(s)) => s,
        };
        let _ = s.set_nodelay(true);
        let (src, dst) = (s.local_addr(), s.peer_addr());
        self.conn = Some(Conn::Plain(s));
        self.connected = true;
        if let Some(v) = proxy {
            let (src, dst) = (src.map_err(Stop::Io)?, dst.map_err(Stop::Io)?);
            let hdr = match v {
                ProxyProtocol::V1 => proxy_v1(src, dst),
                ProxyProtocol::V2 => proxy_v2(src, dst),
            };
            self.write(&hdr).await?;
        }
        if let Some(tls) = tls {
            let Some(Conn::Plain(s)) = self.conn.take() else {
                return Err(Stop::Io(io::Error::from(io::ErrorKind::NotConnected)));
            };
            self.handshaking = true;
            let hs = tls.connector.connect(tls.name.clone(), s);
            let s = match tokio::time::timeout_at(self.deadline.into(), hs).await {
                Err(_) => return Err(Stop::Timeout),
                Ok(Err(e)) => return Err(Stop::Handshake(e)),
                Ok(Ok(s)) => s,
            };
            self.handshaking = false;
            self.conn = Some(Conn::Tls(Box::new(s)));
        }
        Ok(())
    }

    async fn write(&mut self, data: &[u8]) -> Result<(), Stop> {
        let Some(c) = self.conn.as_mut() else {
            return Err(Stop::Io(io::Error::from(io::ErrorKind::NotConnected)));
        };
        match tokio::time::timeout_at(self.deadline.into(), c.write_all(data)).await {
            Err(_) => Err(Stop::Timeout),
            Ok(Err(e)) => Err(Stop::Io(e)),
            Ok(Ok(())) => Ok(()),
        }
    }

    /// One read for an expect rule (re-arming `timeout check`). Data, EOF and errors are
    /// recorded; only the deadline is returned as an error.
    async fn read_some(&mut self) -> Result<(), Stop> {
        if let Some(t) = self.env.timeout_check {
            self.deadline = Instant::now() + t;
        }
        if self.eof || self.read_err.is_some() || self.buf.len() >= RESPONSE_LIMIT {
            return Ok(());
        }
        let Some(c) = self.conn.as_mut() else {
            self.eof = true;
            return Ok(());
        };
        let room = RESPONSE_LIMIT - self.buf.len();
        let mut tmp = [0u8; 4096];
        let n = room.min(tmp.len());
        match tokio::time::timeout_at(self.deadline.into(), c.read(&mut tmp[..n])).await {
            Err(_) => Err(Stop::Timeout),
            Ok(Ok(0)) => {
                self.eof = true;
                Ok(())
            }
            Ok(Ok(k)) => {
                self.buf.extend_from_slice(&tmp[..k]);
                Ok(())
            }
            Ok(Err(e)) => {
                self.read_err = Some(e);
                Ok(())
            }
        }
    }

    fn last_read(&self) -> bool {
        self.eof || self.read_err.is_some() || self.buf.len() >= RESPONSE_LIMIT
    }

    fn eval_tcp(&self, idx: usize, e: &Expect) -> Eval {
        let last = self.last_read();
        let (pat, binary) = match &e.matcher {
            Matcher::Bytes { pat, binary } => (pat, *binary),
            Matcher::Unusable(m) => return Eval::Fail(Status::L7Rsp, m.clone().into_bytes()),
            _ => return Eval::Fail(Status::L7Rsp, Vec::new()),
        };
        if !last && self.buf.len() < pat.len() {
            return Eval::Wait;
        }
        let matched = contains(&self.buf, pat);
        if !matched && !last {
            return Eval::Wait;
        }
        if matched != e.inverse {
            return Eval::Continue;
        }
        let rule = &self.prog.rules[idx];
        let mut desc = Vec::from(if matched {
            &b"TCPCHK matched unwanted content"[..]
        } else {
            &b"TCPCHK did not match content"[..]
        });
        if binary {
            desc.extend_from_slice(format!(" (binary) at step {}", rule.step_id()).as_bytes());
        } else {
            desc.extend_from_slice(b" '");
            desc.extend_from_slice(pat);
            desc.extend_from_slice(format!("' at step {}", rule.step_id()).as_bytes());
        }
        if let Some(c) = &rule.comment {
            desc.extend_from_slice(format!(" comment: {c}").as_bytes());
        }
        Eval::Fail(Status::L7Rsp, desc)
    }

    fn eval_http(&mut self, e: &Expect) -> Eval {
        let head_req = self.prog.http.as_ref().is_some_and(|h| h.head);
        let resp = match parse_response(&self.buf, head_req) {
            Err(_) => return Eval::Fail(Status::L7Rsp, Vec::new()),
            Ok(None) => {
                return if self.last_read() {
                    Eval::Fail(Status::L7Rsp, Vec::new())
                } else {
                    Eval::Wait
                }
            }
            Ok(Some(r)) => r,
        };
        let last = self.last_read() || resp.complete;
        self.code = resp.status;
        if self.prog.disable_on_404 && !self.env.stopped && resp.status == 404 {
            // Accepted as "stopping" (decided after the last rule).
            return Eval::Continue;
        }
        match &e.matcher {
            Matcher::Status(ranges) => {
                let matched = ranges
                    .iter()
                    .any(|&(a, b)| resp.status >= a && resp.status <= b);
                if matched != e.inverse {
                    Eval::Continue
                } else {
                    Eval::Fail(Status::L7Sts, resp.reason)
                }
            }
            Matcher::Body(pat) => {
                if resp.body.is_empty() {
                    if !last {
                        return Eval::Wait;
                    }
                    return Eval::Fail(
                        Status::L7Rsp,
                        b"HTTP content check could not find a response body".to_vec(),
                    );
                }
                if !last && resp.body.len() < pat.len() {
                    return Eval::Wait;
                }
                let matched = contains(&resp.body, pat);
                if !matched && !last {
                    return Eval::Wait;
                }
                if matched != e.inverse {
                    Eval::Continue
                } else if e.inverse {
                    Eval::Fail(
                        Status::L7Rsp,
                        b"HTTP check matched unwanted content".to_vec(),
                    )
                } else {
                    Eval::Fail(Status::L7Rsp, b"HTTP content check did not match".to_vec())
                }
            }
            Matcher::Unusable(m) => Eval::Fail(Status::L7Rsp, m.clone().into_bytes()),
            Matcher::Bytes { .. } => Eval::Fail(Status::L7Rsp, Vec::new()),
        }
    }

    /// Reads for the expect rule `idx`; `Some(result)` when the check ends here.
    async fn recv(&mut self, idx: usize) -> Option<CheckResult> {
        if let Err(stop) = self.read_some().await {
            return Some(self.conn_err(Some(idx), stop));
        }
        if let Some(e) = self.read_err.take() {
            // HTTP: a read error ends the check; tcp-check: only when nothing was received
            // (otherwise the rules judge the data, as HAProxy does after an RST).
            if self.prog.kind == Kind::Http || self.buf.is_empty() {
                return Some(self.conn_err(Some(idx), Stop::Io(e)));
            }
            self.eof = true;
        }
        if self.eof && self.buf.is_empty() && self.prog.kind != Kind::Http {
            let rule = &self.prog.rules[idx];
            let mut m = format!("TCPCHK got an empty response at step {}", rule.step_id());
            if let Some(c) = &rule.comment {
                m.push_str(&format!(" comment: '{c}'"));
            }
            return Some(self.result(Status::L7Rsp, m));
        }
        None
    }

    async fn run(&mut self) -> CheckResult {
        let rules = &self.prog.rules;
        let mut current: Option<usize> = None;
        let mut must_read = true;
        let mut i = 0;
        while i < rules.len() {
            let rule = &rules[i];
            self.code = 0;
            match &rule.action {
                Action::Connect {
                    port,
                    send_proxy,
                    ssl,
                    implicit,
                } => {
                    current = Some(i);
                    if *ssl {
                        return self.result(
                            Status::L6Rsp,
                            "'tcp-check connect ssl' is not supported by haproxide",
                        );
                    }
                    let proxy = if *send_proxy || *implicit {
                        match (self.env.srv.send_proxy, *send_proxy) {
                            (Some(v), _) => Some(v),
                            (None, true) => Some(ProxyProtocol::V1),
                            (None, false) => None,
                        }
                    } else {
                        None
                    };
                    // check-ssl applies to the implicit connect only, as in HAProxy (an
                    // explicit `tcp-check connect` without `ssl` is plain).
                    let tls = if *implicit { self.env.tls } else { None };
                    if let Err(stop) = self.connect(*port, proxy, tls).await {
                        return self.conn_err(current, stop);
                    }
                    must_read = true;
                }
                Action::Send(_) | Action::SendHttp => {
                    current = Some(i);
                    self.buf.clear();
                    let data = match &rule.action {
                        Action::Send(d) => d.clone(),
                        _ => self
                            .prog
                            .http
                            .as_ref()
                            .map(|h| h.bytes.clone())
                            .unwrap_or_default(),
                    };
                    if let Err(stop) = self.write(&data).await {
                        return self.conn_err(current, stop);
                    }
                    must_read = true;
                }
                Action::Expect(e) => {
                    current = Some(i);
                    if must_read {
                        if let Some(r) = self.recv(i).await {
                            return r;
                        }
                        must_read = false;
                    }
                    let ev = if self.prog.kind == Kind::Http {
                        self.eval_http(e)
                    } else {
                        self.eval_tcp(i, e)
                    };
                    match ev {
                        Eval::Continue => {}
                        Eval::Fail(st, desc) => return self.result(st, desc),
                        Eval::Wait => {
                            // Resume at the chain's head once more data is in.
                            current = Some(e.head);
                            if let Some(r) = self.recv(e.head).await {
                                return r;
                            }
                            i = e.head;
                            continue;
                        }
                    }
                }
            }
            i += 1;
        }
        // Every rule passed.
        match current.and_then(|c| rules.get(c)) {
            Some(Rule {
                action: Action::Expect(_),
                ..
            }) => match self.prog.kind {
                Kind::Http => {
                    if self.prog.disable_on_404 && !self.env.stopped && self.code == 404 {
                        self.result(Status::L7OkCD, Vec::new())
                    } else {
                        self.result(Status::L7OkD, Vec::new())
                    }
                }
                _ => self.result(Status::L7OkD, "(tcp-check)"),
            },
            Some(Rule {
                action: Action::Connect { implicit, .. },
                ..
            }) => {
                let st = if matches!(self.conn, Some(Conn::Tls(_))) {
                    Status::L6Ok
                } else {
                    Status::L4Ok
                };
                if *implicit {
                    self.result(st, Vec::new())
                } else {
                    self.result(st, "(tcp-check)")
                }
            }
            _ => self.result(Status::L7OkD, "(tcp-check)"),
        }
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || hay.windows(needle.len()).any(|w| w == needle)
}

/// Runs one check of `prog` against `env`.
pub async fn run(prog: &Program, env: &Env<'_>) -> CheckResult {
    let now = Instant::now();
    let mut r = Run {
        prog,
        env,
        start: now,
        deadline: now + env.inter,
        conn: None,
        connected: false,
        handshaking: false,
        buf: Vec::new(),
        eof: false,
        read_err: None,
        code: 0,
    };
    r.run().await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exp(kind: ExpectKind, negate: bool, pattern: &str) -> TcpCheckStep {
        TcpCheckStep::Expect(HttpCheckExpect {
            negate,
            kind,
            pattern: pattern.into(),
        })
    }

    #[test]
    fn tcp_check_steps_and_comments() {
        // haproxy 2.6.12: comments count as steps and go to the next rule(s).
        let p = Program::new(&HealthCheck::TcpCheck(vec![
            TcpCheckStep::Comment("first comment".into()),
            TcpCheckStep::Connect {
                port: None,
                ssl: false,
                send_proxy: false,
            },
            TcpCheckStep::Comment("sending".into()),
            TcpCheckStep::Send(b"PING\r\n".to_vec()),
            TcpCheckStep::Comment("expecting".into()),
            exp(ExpectKind::String, false, "+PONG"),
        ]));
        let ids: Vec<_> = p
            .rules
            .iter()
            .map(|r| (r.step_id(), r.comment.clone()))
            .collect();
        assert_eq!(
            ids,
            vec![
                (2, Some("first comment".into())),
                (4, Some("sending".into())),
                (6, Some("expecting".into()))
            ]
        );
        // Implicit connect; a comment before a send does not reach the following expect,
        // one before an expect reaches the next expect too.
        let p = Program::new(&HealthCheck::TcpCheck(vec![
            TcpCheckStep::Comment("Z".into()),
            TcpCheckStep::Send(b"PING\r\n".to_vec()),
            exp(ExpectKind::String, false, "+PONG"),
            TcpCheckStep::Comment("A".into()),
            exp(ExpectKind::String, false, "x"),
            exp(ExpectKind::String, false, "y"),
        ]));
        let ids: Vec<_> = p
            .rules
            .iter()
            .map(|r| (r.step_id(), r.comment.clone()))
            .collect();
        assert_eq!(
            ids,
            vec![
                (0, None),
                (2, Some("Z".into())),
                (3, None),
                (5, Some("A".into())),
                (6, Some("A".into()))
            ]
        );
    }

    #[test]
    fn expect_chain_heads() {
        let p = Program::new(&HealthCheck::TcpCheck(vec![
            TcpCheckStep::Send(b"x".to_vec()),
            exp(ExpectKind::String, true, "ERR"),
            exp(ExpectKind::String, false, "OK"),
            exp(ExpectKind::String, false, "OK2"),
        ]));
        let heads: Vec<_> = p
            .rules
            .iter()
            .filter_map(|r| match &r.action {
                Action::Expect(e) => Some(e.head),
                _ => None,
            })
            .collect();
        assert_eq!(heads, vec![2, 2, 2]);
    }

    #[test]
    fn status_lists() {
        assert_eq!(parse_status_list("200"), Some(vec![(200, 200)]));
        assert_eq!(
            parse_status_list("200,300-399"),
            Some(vec![(200, 200), (300, 399)])
        );
        assert_eq!(parse_status_list("300-200"), None);
        assert_eq!(parse_status_list("2x0"), None);
        assert_eq!(parse_hex("2b504f4e47"), Some(b"+PONG".to_vec()));
        assert_eq!(parse_hex("2b5"), None);
    }
}
