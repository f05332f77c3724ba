//! TCP content inspection: `tcp-request inspect-delay` and `tcp-request content
//! accept|reject` (HAProxy's `tcp_inspect_request()`).
//!
//! The client's first bytes are read into a buffer (at most [`RECV_LIMIT`], HAProxy's
//! receive limit before a server connection exists) and replayed to the server once one is
//! connected. Rules run in order on what was received: a rule whose condition needs more
//! data (an ACL answer that "may change", see [`exec_condition`]) makes the inspection wait
//! for more bytes, until the inspect delay expires, the buffer is full or the client closes
//! its side; the rules then run a last time with what was received, where missing data no
//! longer matches. `accept` ends the evaluation, `reject` closes the connection, and no
//! matching rule means accept.
//!
//! Without an inspect delay the rules run at once on an empty buffer, as in HAProxy (whose
//! stream starts before the first bytes are read).

use std::time::{Duration, Instant};

use hyper::http::request::Parts;
use tokio::io::AsyncReadExt;

use super::conn::{ClientStream, ConnCtx, ConnInfo};
use super::http::acl::{exec_condition, AclRes};
use super::http::head::{self, Parsed};
use super::http::sample::ReqView;
use super::payload::{HttpState, L6, RECV_LIMIT};
use crate::config::ir::{Acl, TcpAction, TcpRule};

/// The bytes a TCP-mode stream has received so far, and what they parse to.
pub struct Inspection {
    pub buf: Vec<u8>,
    /// The client closed its side (or its connection failed).
    pub eof: bool,
    /// The HTTP request the buffer holds when `http` is [`HttpState::Parsed`], else an
    /// empty request that HTTP fetches do not read.
    parts: Parts,
    http: HttpState,
}

/// How an inspection ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// An `accept` rule matched, or none matched.
    Accept,
    /// A `reject` rule matched: close the connection.
    Reject,
    /// `timeout client` expired while waiting for data: close the connection (HAProxy
    /// logs `cR`).
    ClientTimeout,
}

impl Default for Inspection {
    fn default() -> Self {
        Inspection {
            buf: Vec::new(),
            eof: false,
            parts: hyper::Request::new(()).into_parts().0,
            http: HttpState::Partial,
        }
    }
}

impl Inspection {
    /// The layer-6 view of the buffer; `final_` when no more data will be waited for.
    pub fn l6(&self, final_: bool) -> L6<'_> {
        L6 {
            data: &self.buf,
            final_: final_ || self.full() || self.eof,
            http: self.http,
        }
    }

    /// A sample view of the connection and its buffer.
    pub fn view<'a>(
        &'a self,
        l6: &'a L6<'a>,
        info: &'a ConnInfo,
        ctx: &'a ConnCtx,
        backend: Option<usize>,
    ) -> ReqView<'a> {
        ReqView {
            parts: &self.parts,
            info,
            ctx,
            backend,
            server: None,
            l6: Some(l6),
        }
    }

    pub fn parts(&self) -> &Parts {
        &self.parts
    }

    fn full(&self) -> bool {
        self.buf.len() >= RECV_LIMIT
    }

    /// Parses the buffer as an HTTP/1 request head (HAProxy parses a TCP stream's buffer
    /// for HTTP fetches the same way).
    fn parse_http(&mut self) {
        self.http = match head::parse(&self.buf, false) {
            Parsed::Complete { head, .. } => {
                let head = *head;
                let mut req = hyper::Request::new(());
                *req.method_mut() = head.method;
                *req.uri_mut() = head.uri;
                *req.version_mut() = head.version;
                *req.headers_mut() = head.headers;
                self.parts = req.into_parts().0;
                HttpState::Parsed
            }
            // HAProxy's parser fails at the first byte that cannot start a request (a TLS
            // record, for one); ours waits for the whole head, so check the method here.
            Parsed::Partial if !self.full() && !bad_method(&self.buf) => HttpState::Partial,
            _ => HttpState::NotHttp,
        };
    }

    /// Reads more client bytes into the buffer (cancel-safe: nothing is lost when the
    /// future is dropped); `Ok(0)` at end of stream.
    async fn read_more(buf: &mut Vec<u8>, client: &mut ClientStream) -> std::io::Result<usize> {
        let room = RECV_LIMIT.saturating_sub(buf.len()).min(4096);
        buf.reserve(room);
        AsyncReadExt::take(client, room as u64).read_buf(buf).await
    }
}

/// Whether the method of a partial request line already has a byte no method can hold
/// (leading empty lines are skipped, as HAProxy does).
fn bad_method(buf: &[u8]) -> bool {
    let start = buf
        .iter()
        .position(|&c| c != b'\r' && c != b'\n')
        .unwrap_or(buf.len());
    for &c in &buf[start..] {
        if matches!(c, b' ' | b'\t' | b'\r' | b'\n') {
            return false;
        }
        if !head::is_tchar(c) {
            return true;
        }
    }
    false
}

/// Evaluates `rules` once. `None`: a rule needs more data.
fn evaluate(view: &ReqView<'_>, acls: &[Acl], rules: &[TcpRule]) -> Option<Outcome> {
    for rule in rules {
        let ok = match &rule.cond {
            None => true,
            Some(c) => match exec_condition(view, acls, c) {
                AclRes::Miss => return None,
                r => (r == AclRes::Pass) != c.unless,
            },
        };
        if ok {
            return Some(match rule.action {
                TcpAction::Accept => Outcome::Accept,
                TcpAction::Reject => Outcome::Reject,
            });
        }
    }
    Some(Outcome::Accept)
}

/// Runs one rule set (a frontend's or a backend's) on the client's data, reading more of it
/// while a rule waits for it. `delay`: the proxy's inspect delay (ms); `client_timeout`:
/// the frontend's `timeout client`, the longest wait between two reads.
#[allow(clippy::too_many_arguments)]
pub async fn run(
    client: &mut ClientStream,
    insp: &mut Inspection,
    ctx: &ConnCtx,
    info: &ConnInfo,
    acls: &[Acl],
    rules: &[TcpRule],
    delay: Option<u32>,
    client_timeout: Option<Duration>,
    backend: Option<usize>,
) -> Outcome {
    if rules.is_empty() {
        return Outcome::Accept;
    }
    let start = Instant::now();
    let deadline = delay.map(|d| start + Duration::from_millis(u64::from(d)));
    let mut last_read = start;
    loop {
        let expired = deadline.is_none_or(|d| Instant::now() >= d);
        let l6 = insp.l6(expired);
        let view = insp.view(&l6, info, ctx, backend);
        if let Some(outcome) = evaluate(&view, acls, rules) {
            return outcome;
        }
        // A rule waits for data: the deadline is set (else the evaluation was final).
        let Some(until) = deadline else {
            return Outcome::Accept;
        };
        let idle = client_timeout.map(|t| last_read + t);
        let wake = idle.map_or(until, |i| i.min(until));
        match tokio::time::timeout_at(wake.into(), Inspection::read_more(&mut insp.buf, client))
            .await
        {
            Ok(Ok(n)) if n > 0 => {
                last_read = Instant::now();
                insp.parse_http();
            }
            // End of stream or error: the next evaluation is final.
            Ok(_) => insp.eof = true,
            Err(_) => {
                if idle.is_some_and(|i| i <= until && Instant::now() >= i) {
                    return Outcome::ClientTimeout;
                }
            }
        }
    }
}

/// `tcp-request connection` rules, at accept (before any TLS handshake): layer-4 facts only,
/// no payload and no HTTP request. `false`: a `reject` matched, close the connection.
pub fn connection_accepted(ctx: &ConnCtx, info: &ConnInfo) -> bool {
    let Some(fe) = ctx.frontend_ir() else {
        return true;
    };
    let rules = &fe.tcp_request.connection;
    if rules.is_empty() {
        return true;
    }
    let insp = Inspection {
        http: HttpState::NotHttp,
        ..Inspection::default()
    };
    let l6 = insp.l6(true);
    let view = insp.view(&l6, info, ctx, None);
    evaluate(&view, &fe.acls, rules) != Some(Outcome::Reject)
}
