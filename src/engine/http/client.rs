//! The HTTP/1.1 client towards servers: one request/response exchange at a time over a
//! plain `TcpStream`, run inline in the session's task (no connection task, no channel).
//!
//! Owns [`ServerConn`] (the socket, its reused read buffer and head buffer), [`connect`],
//! [`send`] (writes the request head and body, reads and parses the response head, relays
//! interim 1xx responses), [`ServerBody`] (reads the response body from the socket as
//! `hyper::body::Body` frames and hands the connection back when it ends) and [`Upgraded`]
//! (the socket after a `101` or a 2xx answer to `CONNECT`, with the bytes read past the head).
//!
//! What goes on the wire is what hyper's HTTP/1 client used to send, so that nothing changes
//! for servers: the request line and the header map in its iteration order with lower-case
//! names, and hyper's framing rules — an empty body sends no framing header (a
//! `Transfer-Encoding` is dropped); otherwise a valid `Content-Length` or a
//! `Transfer-Encoding` (made to end in `chunked`) from the request is kept, a body of unknown
//! length is sent chunked except for `GET`/`HEAD`/`CONNECT` (sent without a body), and
//! HTTP/1.0 never gets chunked (no body without a length). Chunk sizes are upper-case
//! hexadecimal (as hyper and HAProxy write them). Request trailers are all forwarded, as
//! HAProxy does (hyper's client dropped those not announced in `Trailer`).
//! `Expect: 100-continue` is not acted upon here: the head goes out at once and the body
//! follows as the client sends it, while the server's `100 Continue` is relayed. Another
//! difference with hyper: after an HTTP/1.0 response, later requests on the connection keep
//! their own version (hyper downgraded them to HTTP/1.0 with `connection: keep-alive`;
//! HAProxy does not).
//!
//! Responses are parsed with `httparse` (at most 100 headers, obs-fold accepted and unfolded
//! to one space, as hyper was configured), the head must fit in [`SERVER_MAX_BUF`] (else an
//! error, a 502 for the caller), and the body is framed per RFC 9112 §6.3: none for `HEAD`,
//! 1xx, 204 and 304; `Transfer-Encoding` ending in `chunked` is decoded into data frames
//! (trailers become a trailers frame); a `Transfer-Encoding` without it, or no length at all,
//! reads until the server closes (the connection is not reused); otherwise `Content-Length`
//! (several must agree, an invalid one is an error). A connection goes back to the pool only
//! after a complete response, with the request fully sent, nothing unread, and keep-alive
//! from both sides (`connection: close` in the request or response, or HTTP/1.0 without
//! `keep-alive`, close it).
//!
//! When the final response arrives before the request body was fully sent (an early `413`),
//! [`ServerBody`] keeps sending it while it reads the response; if the response ends first,
//! the connection is closed and the rest of the request body is dropped.
//!
//! An idle pooled connection is checked without a system call in the usual case: tokio
//! clears a socket's read readiness after a short read, so a connection whose server closed
//! (or wrote something) while idle is the one found readable ([`ServerConn::is_closed`]).
//!
//! Timeouts are the caller's: `timeout connect` in [`connect`], `timeout server` around
//! [`send`] (see `txn`) and between body frames in [`ServerBody`].

use std::future::Future;
use std::io;
use std::mem::MaybeUninit;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use hyper::body::{Body, Frame, SizeHint};
use hyper::http::{
    header, request, response, HeaderMap, HeaderName, HeaderValue, Method, Request, Response,
    StatusCode, Version,
};
use tokio::io::{AsyncReadExt, AsyncWrite};
use tokio::net::TcpStream;
use tokio::time::Sleep;

use crate::config::ir::ProxyProtocol;
use crate::engine::conn::ConnInfo;
use crate::engine::state::ServerConnGuard;

use super::body::{BoxError, ReqBody};
use super::chunked::{Decoder, Step};
use super::upstream::{pool_put, ReturnTo};

/// Read buffer limit of a server connection: HAProxy's `tune.bufsize`; a larger response
/// head is a 502 there and here.
pub const SERVER_MAX_BUF: usize = 16384;
/// What a read asks for at least (the buffer grows by this much when it has less room).
const READ_SIZE: usize = 16384;
const READ_MIN: usize = 2048;
/// Headers accepted in a response head (hyper's default).
const MAX_HEADERS: usize = 100;
/// Request body bytes gathered before a write.
const COALESCE: usize = 16 * 1024;
/// Data frames larger than this are written from their own buffer rather than copied.
const COPY_MAX: usize = 4096;

// ---------------------------------------------------------------------------------------
// The connection

/// An HTTP/1.1 connection to a server, idle between exchanges.
pub struct ServerConn {
    pub addr: SocketAddr,
    /// Requests already sent over it.
    pub uses: u32,
    io: TcpStream,
    /// Bytes read from the server and not consumed; kept (empty) between exchanges so its
    /// storage is reused.
    rbuf: BytesMut,
    /// The buffer request heads are written into, kept between exchanges.
    wbuf: Vec<u8>,
}

impl ServerConn {
    pub fn new(io: TcpStream, addr: SocketAddr) -> Self {
        ServerConn {
            addr,
            uses: 0,
            io,
            rbuf: BytesMut::new(),
            wbuf: Vec::new(),
        }
    }

    /// Whether the server closed the connection (or sent something unasked) while it was
    /// idle. Never blocks; costs a system call only when the socket is readable.
    pub fn is_closed(&mut self) -> bool {
        if !self.rbuf.is_empty() {
            return true;
        }
        let mut cx = Context::from_waker(Waker::noop());
        match self.io.poll_read_ready(&mut cx) {
            Poll::Pending => false,
            Poll::Ready(Err(_)) => true,
            Poll::Ready(Ok(())) => {
                self.rbuf.reserve(64);
                match self.io.try_read_buf(&mut self.rbuf) {
                    // EOF, or bytes nobody asked for (kept in `rbuf`: still closed next time).
                    Ok(_) => true,
                    Err(e) => e.kind() != io::ErrorKind::WouldBlock,
                }
            }
        }
    }

    /// The socket after a protocol switch, with what was read past the response head.
    /// (Copied out: the tunnel must not keep the connection's read buffer alive.)
    pub fn into_upgraded(self) -> Upgraded {
        Upgraded {
            io: self.io,
            read_buf: if self.rbuf.is_empty() {
                Bytes::new()
            } else {
                Bytes::copy_from_slice(&self.rbuf)
            },
        }
    }
}

/// A server connection handed over to a tunnel.
pub struct Upgraded {
    pub io: TcpStream,
    /// Bytes the server sent after its response head, to replay first.
    pub read_buf: Bytes,
}

/// Opens a connection to `addr` within `connect_timeout` (with a PROXY protocol header
/// first for `send-proxy` servers).
pub async fn connect(
    addr: SocketAddr,
    connect_timeout: Option<Duration>,
    proxy: Option<(ProxyProtocol, &ConnInfo)>,
) -> io::Result<ServerConn> {
    let tcp = crate::engine::server_conn::connect(addr, connect_timeout, proxy).await?;
    Ok(ServerConn::new(tcp, addr))
}

/// Reads once into `buf`, keeping `buf` within `max` bytes (`max` must exceed its length).
/// `Ok(0)` is the end of the stream.
fn poll_fill(
    io: &mut TcpStream,
    buf: &mut BytesMut,
    max: usize,
    cx: &mut Context<'_>,
) -> Poll<io::Result<usize>> {
    let room = max.saturating_sub(buf.len());
    if room == 0 {
        return Poll::Ready(Err(io::Error::other("read buffer full")));
    }
    if buf.capacity() - buf.len() < READ_MIN {
        buf.reserve(READ_SIZE.min(room));
    }
    let mut lim = (&mut *buf).limit(room);
    // (tokio's `read_buf` reads into the spare capacity and, after a short read, clears the
    // socket's readiness, which `is_closed` relies on.)
    let fut = std::pin::pin!(io.read_buf(&mut lim));
    fut.poll(cx)
}

// ---------------------------------------------------------------------------------------
// The request

/// How the request body is framed on the wire.
enum Enc {
    /// This many bytes (0: no body is sent).
    Length(u64),
    Chunked,
}

/// The parts of a write in progress: `out[pos..]`, then `big`, then `tail`.
struct ReqWriter {
    body: Option<ReqBody>,
    enc: Enc,
    out: Vec<u8>,
    pos: usize,
    big: Bytes,
    tail: &'static [u8],
    /// Bytes accepted by the socket so far.
    written: u64,
    /// A body frame was taken (the request can no longer be sent elsewhere as it is).
    touched: bool,
}

/// Why writing the request stopped.
enum WriteError {
    /// The request body failed (the client aborted, timed out, sent garbage).
    Body(BoxError),
    /// The socket failed.
    Io(io::Error),
}

impl ReqWriter {
    fn pending(&self) -> bool {
        self.pos < self.out.len() || !self.big.is_empty() || !self.tail.is_empty()
    }

    /// Encodes one data frame.
    fn push_data(&mut self, mut data: Bytes) {
        let chunked = match &mut self.enc {
            Enc::Length(rem) => {
                let take = (data.len() as u64).min(*rem);
                data.truncate(take as usize);
                *rem -= take;
                if *rem == 0 {
                    // Written in full: the rest of the body (if any) is not polled.
                    self.body = None;
                }
                false
            }
            Enc::Chunked => true,
        };
        if data.is_empty() {
            return;
        }
        if chunked {
            super::chunked::push_hex(&mut self.out, data.len(), super::chunked::HEX_UPPER);
            self.out.extend_from_slice(b"\r\n");
        }
        if data.len() <= COPY_MAX {
            self.out.extend_from_slice(&data);
            if chunked {
                self.out.extend_from_slice(b"\r\n");
            }
        } else {
            self.big = data;
            self.tail = if chunked { b"\r\n" } else { b"" };
        }
    }

    /// Writes the head and the body as it comes. `Ready(Ok)` once everything is written.
    fn poll(&mut self, io: &mut TcpStream, cx: &mut Context<'_>) -> Poll<Result<(), WriteError>> {
        loop {
            // Gather what is ready, so small pieces go out in one write.
            while self.big.is_empty() && self.tail.is_empty() && self.out.len() < COALESCE {
                let Some(body) = self.body.as_mut() else {
                    break;
                };
                match Pin::new(body).poll_frame(cx) {
                    Poll::Pending => break,
                    Poll::Ready(None) => {
                        self.body = None;
                        match &self.enc {
                            Enc::Length(rem) if *rem > 0 => {
                                return Poll::Ready(Err(WriteError::Body(
                                    "request body shorter than its length".into(),
                                )));
                            }
                            Enc::Length(_) => {}
                            Enc::Chunked => self.out.extend_from_slice(b"0\r\n\r\n"),
                        }
                    }
                    Poll::Ready(Some(Err(e))) => {
                        self.body = None;
                        return Poll::Ready(Err(WriteError::Body(e)));
                    }
                    Poll::Ready(Some(Ok(frame))) => {
                        self.touched = true;
                        match frame.into_data() {
                            Ok(data) => self.push_data(data),
                            Err(frame) => {
                                // Trailers are forwarded (chunked only), as HAProxy does.
                                if let (Ok(t), Enc::Chunked) = (frame.into_trailers(), &self.enc) {
                                    if !t.is_empty() {
                                        self.out.extend_from_slice(b"0\r\n");
                                        for (n, v) in t.iter() {
                                            push_header(&mut self.out, n.as_str(), v.as_bytes());
                                        }
                                        self.out.extend_from_slice(b"\r\n");
                                        self.body = None;
                                    }
                                }
                            }
                        }
                    }
                }
            }
            if !self.pending() {
                if self.pos > 0 {
                    self.out.clear();
                    self.pos = 0;
                }
                return if self.body.is_none() {
                    Poll::Ready(Ok(()))
                } else {
                    // The body's waker is registered.
                    Poll::Pending
                };
            }
            let head = self.out.get(self.pos..).unwrap_or_default();
            let res = if self.big.is_empty() && self.tail.is_empty() {
                // One buffer (the usual head, or head and small body): send(2).
                Pin::new(&mut *io).poll_write(cx, head)
            } else {
                let bufs = [
                    io::IoSlice::new(head),
                    io::IoSlice::new(&self.big),
                    io::IoSlice::new(self.tail),
                ];
                Pin::new(&mut *io).poll_write_vectored(cx, &bufs)
            };
            match res {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(WriteError::Io(e))),
                Poll::Ready(Ok(0)) => {
                    return Poll::Ready(Err(WriteError::Io(io::ErrorKind::WriteZero.into())))
                }
                Poll::Ready(Ok(n)) => self.advance(n),
            }
        }
    }

    fn advance(&mut self, mut n: usize) {
        self.written += n as u64;
        let in_out = (self.out.len() - self.pos).min(n);
        self.pos += in_out;
        n -= in_out;
        if self.pos == self.out.len() {
            self.out.clear();
            self.pos = 0;
        }
        let in_big = self.big.len().min(n);
        let _ = self.big.split_to(in_big);
        n -= in_big;
        let in_tail = self.tail.len().min(n);
        self.tail = &self.tail[in_tail..];
    }
}

fn push_header(out: &mut Vec<u8>, name: &str, value: &[u8]) {
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

/// Whether one of the comma-separated tokens of `v` is `token`.
fn has_token(v: &HeaderValue, token: &str) -> bool {
    v.to_str()
        .map(|s| s.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
        .unwrap_or(false)
}

/// The value of all `Content-Length` headers (comma-separated lists included) when they
/// agree and are valid.
fn content_length(headers: &HeaderMap) -> Option<u64> {
    let mut len: Option<u64> = None;
    for v in headers.get_all(header::CONTENT_LENGTH) {
        let s = v.to_str().ok()?;
        for part in s.split(',') {
            let n = digits(part.trim().as_bytes())?;
            if len.is_some_and(|l| l != n) {
                return None;
            }
            len = Some(n);
        }
    }
    len
}

fn digits(b: &[u8]) -> Option<u64> {
    if b.is_empty() {
        return None;
    }
    let mut n: u64 = 0;
    for &c in b {
        if !c.is_ascii_digit() {
            return None;
        }
        n = n.checked_mul(10)?.checked_add(u64::from(c - b'0'))?;
    }
    Some(n)
}

/// Whether the last `Transfer-Encoding` coding is `chunked`.
fn te_chunked(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::TRANSFER_ENCODING)
        .iter()
        .next_back()
        .and_then(|v| v.to_str().ok())
        .and_then(|s| s.rsplit(',').next())
        .is_some_and(|t| t.trim().eq_ignore_ascii_case("chunked"))
}

/// Sets the request's framing headers as hyper's client did and writes the head into `out`.
fn encode_head(parts: &mut request::Parts, body: &ReqBody, out: &mut Vec<u8>) -> Enc {
    let v10 = parts.version == Version::HTTP_10;
    let headers = &mut parts.headers;
    let enc = if body.is_end_stream() {
        headers.remove(header::TRANSFER_ENCODING);
        Enc::Length(0)
    } else {
        let hint = body.size_hint().exact();
        let existing = content_length(headers);
        if v10 {
            headers.remove(header::TRANSFER_ENCODING);
            match (existing, hint) {
                (Some(n), _) => Enc::Length(n),
                (None, Some(n)) => {
                    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(n));
                    Enc::Length(n)
                }
                _ => Enc::Length(0),
            }
        } else if headers.contains_key(header::TRANSFER_ENCODING) {
            if !te_chunked(headers) {
                if let header::Entry::Occupied(mut e) = headers.entry(header::TRANSFER_ENCODING) {
                    if let Some(last) = e.iter_mut().next_back() {
                        let mut v = last.as_bytes().to_vec();
                        v.extend_from_slice(b", chunked");
                        if let Ok(nv) = HeaderValue::from_bytes(&v) {
                            *last = nv;
                        }
                    }
                }
            }
            headers.remove(header::CONTENT_LENGTH);
            Enc::Chunked
        } else if let Some(n) = existing {
            Enc::Length(n)
        } else if let Some(n) = hint {
            headers.insert(header::CONTENT_LENGTH, HeaderValue::from(n));
            Enc::Length(n)
        } else if matches!(parts.method, Method::GET | Method::HEAD | Method::CONNECT) {
            Enc::Length(0)
        } else {
            headers.insert(
                header::TRANSFER_ENCODING,
                HeaderValue::from_static("chunked"),
            );
            headers.remove(header::CONTENT_LENGTH);
            Enc::Chunked
        }
    };
    out.extend_from_slice(parts.method.as_str().as_bytes());
    out.push(b' ');
    let uri = &parts.uri;
    match uri.path_and_query() {
        Some(pq) if uri.scheme().is_none() && uri.authority().is_none() => {
            out.extend_from_slice(pq.as_str().as_bytes())
        }
        _ => {
            use std::io::Write as _;
            let _ = write!(out, "{uri}");
        }
    }
    out.extend_from_slice(if v10 {
        b" HTTP/1.0\r\n"
    } else {
        b" HTTP/1.1\r\n"
    });
    for (n, v) in parts.headers.iter() {
        push_header(out, n.as_str(), v.as_bytes());
    }
    out.extend_from_slice(b"\r\n");
    enc
}

// ---------------------------------------------------------------------------------------
// The response head

/// How the response body is delimited.
enum BodyState {
    Length(u64),
    Chunked(Decoder),
    /// Until the server closes.
    Close,
    Done,
}

/// A final response head, and what [`ServerBody`] needs to read its body.
pub struct Answer {
    pub head: Response<()>,
    pub body: BodyPlan,
}

/// The rest of an exchange after the response head.
pub struct BodyPlan {
    state: BodyState,
    /// The request body, when the response came before it was all sent.
    writer: Option<ReqWriter>,
    keep_alive: bool,
}

/// Why an exchange failed.
pub struct SendError {
    pub error: BoxError,
    /// The request, intact (none of its body was taken), to send again elsewhere.
    pub request: Option<Box<Request<ReqBody>>>,
    /// Nothing reached the server: writing found the connection closed.
    pub unsent: bool,
}

enum Parsed {
    Partial,
    /// An interim (1xx) response was consumed; the serialised head for the client.
    Interim(Bytes),
    Final(response::Parts, BodyState, bool),
}

#[derive(Clone, Copy)]
struct Idx {
    name: (usize, usize),
    value: (usize, usize),
}

/// Parses the response head at the front of `buf` (consumed when complete).
fn parse_head(buf: &mut BytesMut, head_req: bool, connect_req: bool) -> Result<Parsed, BoxError> {
    let mut idx = [Idx {
        name: (0, 0),
        value: (0, 0),
    }; MAX_HEADERS];
    let (len, code, v11, reason, count) = {
        let mut hdrs = [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_HEADERS];
        let mut res = httparse::Response::new(&mut []);
        let mut cfg = httparse::ParserConfig::default();
        // HAProxy 2.6 accepts obs-fold in responses (and unfolds it).
        cfg.allow_obsolete_multiline_headers_in_responses(true);
        let bytes: &[u8] = buf;
        let len = match cfg.parse_response_with_uninit_headers(&mut res, bytes, &mut hdrs) {
            Ok(httparse::Status::Complete(len)) => len,
            Ok(httparse::Status::Partial) => return Ok(Parsed::Partial),
            Err(e) => return Err(Box::new(e)),
        };
        let base = bytes.as_ptr() as usize;
        let off = |s: &[u8]| s.as_ptr() as usize - base;
        for (i, h) in res.headers.iter().enumerate() {
            if let Some(slot) = idx.get_mut(i) {
                let n = off(h.name.as_bytes());
                let v = off(h.value);
                *slot = Idx {
                    name: (n, n + h.name.len()),
                    value: (v, v + h.value.len()),
                };
            }
        }
        let reason = res.reason.map(|r| {
            let o = off(r.as_bytes());
            (o, o + r.len())
        });
        (
            len,
            res.code.unwrap_or(0),
            res.version == Some(1),
            reason,
            res.headers.len(),
        )
    };
    let head = buf.split_to(len).freeze();
    let status = StatusCode::from_u16(code)?;
    let version = if v11 {
        Version::HTTP_11
    } else {
        Version::HTTP_10
    };
    let mut headers = HeaderMap::with_capacity(count);
    let mut keep_alive = v11;
    let mut saw_close = false;
    for i in idx.iter().take(count) {
        let name = HeaderName::from_bytes(head.get(i.name.0..i.name.1).unwrap_or_default())?;
        let raw = head.get(i.value.0..i.value.1).unwrap_or_default();
        let value = if raw.contains(&b'\n') {
            HeaderValue::from_bytes(&unfold(raw))?
        } else {
            HeaderValue::from_maybe_shared(head.slice(i.value.0..i.value.1))?
        };
        if name == header::CONNECTION {
            if saw_close || has_token(&value, "close") {
                saw_close = true;
                keep_alive = false;
            } else if !keep_alive {
                keep_alive = has_token(&value, "keep-alive");
            }
        }
        headers.append(name, value);
    }
    if status.is_informational() && status != StatusCode::SWITCHING_PROTOCOLS {
        return Ok(Parsed::Interim(interim_bytes(status, &headers)));
    }
    let (mut parts, ()) = Response::new(()).into_parts();
    parts.status = status;
    parts.version = version;
    if let Some((a, b)) = reason {
        let r = head.get(a..b).unwrap_or_default();
        if Some(r) != status.canonical_reason().map(str::as_bytes) {
            if let Ok(r) = hyper::ext::ReasonPhrase::try_from(r) {
                parts.extensions.insert(r);
            }
        }
    }
    let code = status.as_u16();
    let state = if code == 101 || (connect_req && (200..300).contains(&code)) {
        // A protocol switch: the rest belongs to the tunnel.
        keep_alive = false;
        BodyState::Done
    } else if code == 204 || code == 304 || head_req {
        BodyState::Done
    } else if headers.contains_key(header::TRANSFER_ENCODING) {
        if !v11 {
            return Err("transfer-encoding in an HTTP/1.0 response".into());
        }
        if te_chunked(&headers) {
            BodyState::Chunked(Decoder::default())
        } else {
            BodyState::Close
        }
    } else if let Some(n) = content_length(&headers) {
        if n == 0 {
            BodyState::Done
        } else {
            BodyState::Length(n)
        }
    } else if headers.contains_key(header::CONTENT_LENGTH) {
        return Err("invalid content-length in response".into());
    } else {
        BodyState::Close
    };
    if matches!(state, BodyState::Close) {
        keep_alive = false;
    }
    parts.headers = headers;
    Ok(Parsed::Final(parts, state, keep_alive))
}

/// Replaces each obs-fold (CRLF + whitespace) of a value with one space, trimming around it.
fn unfold(raw: &[u8]) -> Vec<u8> {
    fn trim_start(mut s: &[u8]) -> &[u8] {
        while let [f, rest @ ..] = s {
            if f.is_ascii_whitespace() {
                s = rest;
            } else {
                break;
            }
        }
        s
    }
    fn trim_end(mut s: &[u8]) -> &[u8] {
        while let [rest @ .., l] = s {
            if l.is_ascii_whitespace() {
                s = rest;
            } else {
                break;
            }
        }
        s
    }
    let mut lines = raw.split(|&b| b == b'\n');
    let mut out = trim_end(lines.next().unwrap_or_default()).to_vec();
    for l in lines {
        out.push(b' ');
        out.extend_from_slice(trim_start(trim_end(l)));
    }
    out
}

/// An interim response as relayed to HTTP/1 clients (canonical reason, lower-case names).
fn interim_bytes(status: StatusCode, headers: &HeaderMap) -> Bytes {
    let mut out = format!(
        "HTTP/1.1 {} {}\r\n",
        status.as_u16(),
        status.canonical_reason().unwrap_or("")
    )
    .into_bytes();
    for (n, v) in headers {
        push_header(&mut out, n.as_str(), v.as_bytes());
    }
    out.extend_from_slice(b"\r\n");
    Bytes::from(out)
}

/// Sends `req` on `conn` and reads the response up to its final head. Interim responses go
/// to `interim` (serialised) when given. Not bounded in time: the caller applies `timeout
/// server`.
pub async fn send(
    conn: &mut ServerConn,
    req: Request<ReqBody>,
    interim: Option<&super::txn::Interims>,
) -> Result<Answer, SendError> {
    let (mut parts, body) = req.into_parts();
    let mut out = std::mem::take(&mut conn.wbuf);
    out.clear();
    let enc = encode_head(&mut parts, &body, &mut out);
    let head_req = parts.method == Method::HEAD;
    let connect_req = parts.method == Method::CONNECT;
    let req_close = parts
        .headers
        .get_all(header::CONNECTION)
        .iter()
        .any(|v| has_token(v, "close"));
    let mut w = ReqWriter {
        body: match enc {
            Enc::Length(0) => None,
            _ => Some(body),
        },
        enc,
        out,
        pos: 0,
        big: Bytes::new(),
        tail: b"",
        written: 0,
        touched: false,
    };
    let mut writing = true;
    let mut write_failed: Option<io::Error> = None;
    let res = std::future::poll_fn(|cx| {
        if writing {
            match w.poll(&mut conn.io, cx) {
                Poll::Ready(Ok(())) => writing = false,
                Poll::Ready(Err(WriteError::Body(e))) => return Poll::Ready(Err(e)),
                Poll::Ready(Err(WriteError::Io(e))) => {
                    // The server may still have answered (and closed): read what it sent.
                    writing = false;
                    write_failed = Some(e);
                }
                Poll::Pending => {}
            }
        }
        loop {
            if !conn.rbuf.is_empty() {
                match parse_head(&mut conn.rbuf, head_req, connect_req) {
                    Ok(Parsed::Final(p, state, ka)) => return Poll::Ready(Ok((p, state, ka))),
                    Ok(Parsed::Interim(b)) => {
                        if let Some(q) = interim {
                            q.push(b);
                        }
                        continue;
                    }
                    Ok(Parsed::Partial) => {
                        if conn.rbuf.len() >= SERVER_MAX_BUF {
                            return Poll::Ready(Err("response head too large".into()));
                        }
                    }
                    Err(e) => return Poll::Ready(Err(e)),
                }
            }
            match poll_fill(&mut conn.io, &mut conn.rbuf, SERVER_MAX_BUF, cx) {
                Poll::Ready(Ok(0)) => {
                    return Poll::Ready(Err("server closed the connection".into()));
                }
                Poll::Ready(Ok(_)) => {}
                Poll::Ready(Err(e)) => return Poll::Ready(Err(Box::new(e))),
                Poll::Pending => return Poll::Pending,
            }
        }
    })
    .await;
    match res {
        Ok((p, state, keep_alive)) => {
            let writer = if writing {
                Some(w)
            } else {
                conn.wbuf = std::mem::take(&mut w.out);
                None
            };
            let keep_alive = keep_alive && !req_close && write_failed.is_none();
            Ok(Answer {
                head: Response::from_parts(p, ()),
                body: BodyPlan {
                    state,
                    writer,
                    keep_alive,
                },
            })
        }
        Err(error) => {
            let unsent = w.written == 0 && conn.rbuf.is_empty() && write_failed.is_some();
            let request = (!w.touched).then(|| {
                let body = w.body.take().unwrap_or_else(super::body::empty);
                Box::new(Request::from_parts(parts, body))
            });
            Err(SendError {
                error,
                request,
                unsent,
            })
        }
    }
}

// ---------------------------------------------------------------------------------------
// The response body

/// A server's response body. Enforces `timeout server` between frames, and returns the
/// connection when the body ends cleanly. Holds the server's request guard until the end.
pub struct ServerBody {
    conn: Option<ServerConn>,
    state: BodyState,
    writer: Option<ReqWriter>,
    keep_alive: bool,
    ret: ReturnTo,
    guard: Option<ServerConnGuard>,
    idle: Option<Duration>,
    timer: Option<Pin<Box<Sleep>>>,
    ended: bool,
    /// Counts the bytes sent to the client for the stats (`engine::stats`).
    tap: Option<crate::engine::stats::BodyTap>,
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

impl ServerBody {
    /// Counts this body's data in the stats, and keeps `tap` until the body is dropped.
    pub fn set_tap(&mut self, tap: crate::engine::stats::BodyTap) {
        self.tap = Some(tap);
    }

    pub fn new(
        plan: BodyPlan,
        conn: ServerConn,
        ret: ReturnTo,
        guard: Option<ServerConnGuard>,
        idle: Option<Duration>,
    ) -> Self {
        let mut b = ServerBody {
            conn: Some(conn),
            state: plan.state,
            writer: plan.writer,
            keep_alive: plan.keep_alive,
            ret,
            guard,
            idle,
            timer: None,
            ended: false,
            tap: None,
        };
        // A body known to be empty (HEAD, 204, 304, `content-length: 0`) may never be polled:
        // hand the connection back now.
        if matches!(b.state, BodyState::Done) {
            b.finish();
        }
        b
    }

    /// The body ended cleanly: the connection goes back when it can be reused.
    fn finish(&mut self) {
        self.ended = true;
        self.state = BodyState::Done;
        self.guard.take();
        let reusable = self.keep_alive && self.writer.is_none();
        self.writer = None;
        let Some(mut conn) = self.conn.take() else {
            return;
        };
        if !reusable || !conn.rbuf.is_empty() {
            return;
        }
        match &self.ret {
            ReturnTo::Pool => pool_put(conn),
            ReturnTo::Private(slot) => {
                if !conn.is_closed() {
                    if let Ok(mut s) = slot.lock() {
                        *s = Some(conn);
                    }
                }
            }
            ReturnTo::Close => drop(conn),
        }
    }

    /// A broken exchange: the connection is closed.
    fn fail(&mut self, e: BoxError) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        self.conn = None;
        self.writer = None;
        self.ended = true;
        self.state = BodyState::Done;
        self.guard.take();
        Poll::Ready(Some(Err(e)))
    }

    fn data(&mut self, d: Bytes) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        self.timer = None;
        if let Some(t) = &self.tap {
            t.add(d.len());
        }
        Poll::Ready(Some(Ok(Frame::data(d))))
    }
}

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
        let Some(conn) = this.conn.as_mut() else {
            return Poll::Ready(None);
        };
        // The rest of the request body, when the server answered early.
        if let Some(w) = this.writer.as_mut() {
            match w.poll(&mut conn.io, cx) {
                Poll::Ready(Ok(())) => {
                    conn.wbuf = std::mem::take(&mut w.out);
                    this.writer = None;
                }
                Poll::Ready(Err(_)) => {
                    this.writer = None;
                    this.keep_alive = false;
                }
                Poll::Pending => {}
            }
        }
        loop {
            let Some(conn) = this.conn.as_mut() else {
                return Poll::Ready(None);
            };
            match &mut this.state {
                BodyState::Done => {
                    this.finish();
                    return Poll::Ready(None);
                }
                BodyState::Length(rem) => {
                    if !conn.rbuf.is_empty() {
                        let take = (conn.rbuf.len() as u64).min(*rem) as usize;
                        let d = conn.rbuf.split_to(take).freeze();
                        *rem -= take as u64;
                        if *rem == 0 {
                            this.finish();
                        }
                        return this.data(d);
                    }
                }
                BodyState::Chunked(dec) => match dec.step(&mut conn.rbuf) {
                    Step::Data(d) => return this.data(d),
                    Step::End(trailers) => {
                        this.finish();
                        if trailers.is_empty() {
                            return Poll::Ready(None);
                        }
                        this.timer = None;
                        return Poll::Ready(Some(Ok(Frame::trailers(trailers))));
                    }
                    Step::Invalid(why) => return this.fail(why.into()),
                    Step::NeedMore => {}
                },
                BodyState::Close => {
                    if !conn.rbuf.is_empty() {
                        let d = conn.rbuf.split().freeze();
                        return this.data(d);
                    }
                }
            }
            match poll_fill(&mut conn.io, &mut conn.rbuf, usize::MAX, cx) {
                Poll::Ready(Ok(0)) => {
                    if matches!(this.state, BodyState::Close) {
                        this.keep_alive = false;
                        this.finish();
                        return Poll::Ready(None);
                    }
                    return this.fail("server closed before the end of the response".into());
                }
                Poll::Ready(Ok(_)) => {}
                Poll::Ready(Err(e)) => return this.fail(Box::new(e)),
                Poll::Pending => {
                    if let Some(idle) = this.idle {
                        let timer = this.timer.get_or_insert_with(|| {
                            Box::pin(tokio::time::sleep_until(
                                crate::engine::clock::tokio_now() + idle,
                            ))
                        });
                        if timer.as_mut().poll(cx).is_ready() {
                            return this.fail(Box::new(ServerTimeout));
                        }
                    }
                    return Poll::Pending;
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.ended || matches!(self.state, BodyState::Done)
    }

    fn size_hint(&self) -> SizeHint {
        match (&self.state, self.ended) {
            (_, true) | (BodyState::Done, _) => SizeHint::with_exact(0),
            (BodyState::Length(n), _) => SizeHint::with_exact(*n),
            _ => SizeHint::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(raw: &[u8]) -> (response::Parts, bool) {
        let mut b = BytesMut::from(raw);
        match parse_head(&mut b, false, false) {
            Ok(Parsed::Final(p, _, ka)) => (p, ka),
            _ => panic!("not a final head"),
        }
    }

    #[test]
    fn response_heads() {
        let (p, ka) = parse(b"HTTP/1.1 200 OK\r\nX-A: 1\r\nX-Fold: a\r\n   b\r\n\r\n");
        assert_eq!(p.status, 200);
        assert_eq!(p.headers["x-fold"], "a b");
        assert!(!ka, "close-delimited");
        let (p, ka) =
            parse(b"HTTP/1.0 200 Fine\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n");
        assert!(ka);
        assert_eq!(p.version, Version::HTTP_10);
        assert_eq!(
            p.extensions
                .get::<hyper::ext::ReasonPhrase>()
                .map(|r| r.as_bytes().to_vec()),
            Some(b"Fine".to_vec())
        );
        let mut b = BytesMut::from(&b"HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\n"[..]);
        assert!(parse_head(&mut b, false, false).is_err());
        let mut b = BytesMut::from(&b"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1"[..]);
        match parse_head(&mut b, false, false) {
            Ok(Parsed::Interim(i)) => {
                assert_eq!(&i[..], b"HTTP/1.1 103 Early Hints\r\nlink: </a>\r\n\r\n")
            }
            _ => panic!("interim"),
        }
        assert_eq!(&b[..], b"HTTP/1.1");
    }

    #[test]
    fn hex() {
        let mut v = Vec::new();
        super::super::chunked::push_hex(&mut v, 0x1fa, super::super::chunked::HEX_UPPER);
        assert_eq!(v, b"1FA");
    }
}
