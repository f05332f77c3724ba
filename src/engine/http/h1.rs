//! The client side of HTTP/1.x: request heads read and validated by [`super::head`], the
//! keep-alive loop with HAProxy's timers, request bodies streamed to the server through a
//! channel, responses written back with HAProxy's framing and connection headers, and the
//! switch to a tunnel after `101 Switching Protocols` (or a 2xx answer to `CONNECT`).
//!
//! Timers (HAProxy 2.6 meanings):
//! - first request of a connection: the complete head must arrive within `timeout
//!   http-request` (else `timeout client`) from the accept, or the client gets a 408 — even
//!   when it sent nothing, as 2.6.12 does;
//! - between requests: `timeout http-keep-alive` (else http-request, else client) for the
//!   first byte; expiry closes silently; once a byte arrived, `timeout http-request` runs;
//! - request body reads and response writes: `timeout client` per operation;
//! - response body reads: `timeout server` between frames ([`super::upstream::ServerBody`]).
//!
//! Memory: between requests the connection holds no read buffer (it is released when empty
//! and reads go through a stack buffer that lives only during one poll); the idle cost is
//! the task's future plus the socket (and rustls's connection state on TLS, no buffer).

use std::future::Future;
use std::io;
use std::mem::MaybeUninit;
use std::pin::{pin, Pin};
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt;
use hyper::body::Frame;
use hyper::http::{header, HeaderMap, Method, Request, Response, StatusCode, Version};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::config::ir::HttpConnMode;
use crate::engine::state::StopLevel;

use super::body::{self, Activity, ChanBody, ChanItem};
use super::chunked::{Decoder, Step};
use super::errors::{connection_value, error_bytes, render, Origin};
use super::head::{self, BodyKind, Parsed, ReqHead};
use super::rewind::Rewind;
use super::rules::CustomReason;
use super::txn::{self, Reply, Session, TxnRequest, UpgradeReply};

/// How an HTTP/1 connection ended.
pub enum H1End<S> {
    Done,
    /// The client sent the HTTP/2 preface: serve HTTP/2 on `io`, replaying `prefix`.
    H2 {
        io: S,
        prefix: Bytes,
    },
    /// The connection switched protocols: the tunnel to run (it owns both connections).
    Tunnel(super::Continuation),
}

fn ms(v: Option<u32>) -> Option<Duration> {
    v.map(|m| Duration::from_millis(u64::from(m)))
}

/// Runs `f` under an optional timeout; `None` when it expired. The timer is only set up
/// when `f` does not complete at its first poll (most writes and flushes do), which saves
/// a clock read and a timer registration per operation.
async fn within<F: Future>(d: Option<Duration>, f: F) -> Option<F::Output> {
    let Some(d) = d else {
        return Some(f.await);
    };
    let mut f = pin!(f);
    if let Poll::Ready(v) = std::future::poll_fn(|cx| Poll::Ready(f.as_mut().poll(cx))).await {
        return Some(v);
    }
    tokio::time::timeout_at(crate::engine::clock::tokio_now() + d, f)
        .await
        .ok()
}

/// Reads once into `buf` through a stack buffer that only exists during the poll, so an idle
/// connection waiting here keeps no heap buffer. Returns the byte count (0 = EOF).
async fn read_more<R: AsyncRead + Unpin>(rd: &mut R, buf: &mut BytesMut) -> io::Result<usize> {
    std::future::poll_fn(|cx| {
        let mut stack = [MaybeUninit::<u8>::uninit(); 16 * 1024];
        let mut rb = ReadBuf::uninit(&mut stack);
        match Pin::new(&mut *rd).poll_read(cx, &mut rb) {
            Poll::Ready(Ok(())) => {
                let n = rb.filled().len();
                buf.extend_from_slice(rb.filled());
                Poll::Ready(Ok(n))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => Poll::Pending,
        }
    })
    .await
}

enum HeadRead {
    Head(Box<ReqHead>),
    H2,
    /// Silent close (EOF or keep-alive expiry while idle, soft stop).
    Close,
    /// Answer with this status (400/408) and close.
    Error(u16),
}

struct Timers {
    client: Option<Duration>,
    request: Option<Duration>,
    keep_alive: Option<Duration>,
}

#[allow(clippy::too_many_arguments)]
async fn read_head<R: AsyncRead + Unpin, St: Future<Output = ()>>(
    rd: &mut R,
    buf: &mut BytesMut,
    first: bool,
    t: &Timers,
    sess: &Session,
    allow_h2: bool,
    ht: &mut crate::engine::accesslog::HeadTiming,
    stop: &mut Pin<&mut St>,
    since: Option<std::time::Instant>,
    timer: &mut Pin<&mut tokio::time::Sleep>,
) -> HeadRead {
    // `since`: when the previous transaction ended (read by the caller just before), which
    // spares a clock read.
    let start = since.map_or_else(Instant::now, Instant::from_std);
    let ka_deadline = t.keep_alive.map(|d| start + d);
    // The first request's head timer runs from the accept; later ones from their first byte.
    let mut head_deadline = if first {
        t.request.map(|d| start + d)
    } else {
        None
    };
    loop {
        if !buf.is_empty() {
            ht.first_byte.get_or_insert_with(crate::engine::clock::now);
            match head::parse(buf, allow_h2) {
                Parsed::Complete { head, len } => {
                    let _ = buf.split_to(len);
                    return HeadRead::Head(head);
                }
                Parsed::H2Preface => return HeadRead::H2,
                Parsed::Invalid(why) => {
                    tracing::debug!("invalid request from {}: {why}", sess.info.peer);
                    return HeadRead::Error(if why == head::UNPROCESSABLE { 422 } else { 400 });
                }
                Parsed::Partial => {}
            }
            if head_deadline.is_none() {
                head_deadline = t.request.map(|d| crate::engine::clock::tokio_now() + d);
            }
        }
        let idle = buf.is_empty() && !first;
        let deadline = if idle { ka_deadline } else { head_deadline };
        // The connection's timer, re-armed (see `serve_h1`).
        if let Some(d) = deadline {
            timer.as_mut().reset(d);
        }
        let sleep = async {
            match deadline {
                Some(_) => timer.as_mut().await,
                None => std::future::pending().await,
            }
        };
        let empty = buf.is_empty();
        // A soft stop closes idle connections (see `serve_h1`).
        let stop = async {
            if empty {
                stop.as_mut().await
            } else {
                std::future::pending().await
            }
        };
        let before = buf.len();
        let r = tokio::select! {
            biased;
            r = read_more(rd, buf) => Some(r),
            _ = sleep => None,
            _ = stop => return HeadRead::Close,
        };
        match r {
            None => {
                return if idle {
                    HeadRead::Close
                } else {
                    HeadRead::Error(408)
                };
            }
            Some(Ok(0)) | Some(Err(_)) => {
                ht.eof = true;
                // Any byte followed by a close is a bad request (even blank lines, as HAProxy
                // 2.6 answers them); nothing at all is a silent close.
                return if before == 0 {
                    HeadRead::Close
                } else {
                    HeadRead::Error(400)
                };
            }
            Some(Ok(_)) => {}
        }
    }
}

/// How the request body pump ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PumpEnd {
    Complete,
    Invalid,
    Timeout,
    ClientGone,
    /// The server side no longer wants the body.
    Abandoned,
}

async fn pump_body<R: AsyncRead + Unpin>(
    rd: &mut R,
    buf: &mut BytesMut,
    kind: BodyKind,
    tx: Option<mpsc::Sender<ChanItem>>,
    client_to: Option<Duration>,
) -> PumpEnd {
    let Some(tx) = tx else {
        return PumpEnd::Complete;
    };
    let fail = |tx: &mpsc::Sender<ChanItem>, msg: &'static str| {
        let _ = tx.try_send(Err(msg.into()));
    };
    match kind {
        BodyKind::None => PumpEnd::Complete,
        BodyKind::Length(mut n) => {
            while n > 0 {
                if buf.is_empty() {
                    match within(client_to, read_more(rd, buf)).await {
                        None => {
                            fail(&tx, "timeout client");
                            return PumpEnd::Timeout;
                        }
                        Some(Ok(0)) | Some(Err(_)) => {
                            fail(&tx, "client closed");
                            return PumpEnd::ClientGone;
                        }
                        Some(Ok(_)) => continue,
                    }
                }
                let take = (buf.len() as u64).min(n) as usize;
                let data = buf.split_to(take).freeze();
                n -= take as u64;
                if tx.send(Ok(Frame::data(data))).await.is_err() {
                    return PumpEnd::Abandoned;
                }
            }
            PumpEnd::Complete
        }
        BodyKind::Chunked => {
            let mut dec = Decoder::default();
            loop {
                match dec.step(buf) {
                    Step::Data(d) => {
                        if tx.send(Ok(Frame::data(d))).await.is_err() {
                            return PumpEnd::Abandoned;
                        }
                    }
                    Step::End(trailers) => {
                        if !trailers.is_empty()
                            && tx.send(Ok(Frame::trailers(trailers))).await.is_err()
                        {
                            return PumpEnd::Abandoned;
                        }
                        return PumpEnd::Complete;
                    }
                    Step::Invalid(why) => {
                        fail(&tx, why);
                        return PumpEnd::Invalid;
                    }
                    Step::NeedMore => match within(client_to, read_more(rd, buf)).await {
                        None => {
                            fail(&tx, "timeout client");
                            return PumpEnd::Timeout;
                        }
                        Some(Ok(0)) | Some(Err(_)) => {
                            fail(&tx, "client closed");
                            return PumpEnd::ClientGone;
                        }
                        Some(Ok(_)) => {}
                    },
                }
            }
        }
    }
}

async fn write_all_to<W: AsyncWrite + Unpin>(
    wr: &mut W,
    data: &[u8],
    to: Option<Duration>,
) -> bool {
    matches!(within(to, wr.write_all(data)).await, Some(Ok(())))
}

/// The reason phrase to send for a proxied or rewritten status.
fn reason_of(status: StatusCode, ext: &hyper::http::Extensions) -> String {
    if let Some(r) = ext.get::<CustomReason>() {
        return r.0.clone();
    }
    if let Some(r) = ext.get::<hyper::ext::ReasonPhrase>() {
        return String::from_utf8_lossy(r.as_bytes()).into_owned();
    }
    status.canonical_reason().unwrap_or("").to_string()
}

fn push_header(out: &mut Vec<u8>, name: &str, value: &[u8]) {
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    NoBody,
    Length,
    Chunked,
    CloseDelimited,
}

/// Writes a server response to the client with HAProxy's HTTP/1 output rules: the server's
/// status-line version and framing are kept (chunked stays chunked, even towards an
/// HTTP/1.0 client; no length means close-delimited; with both, `Transfer-Encoding` wins),
/// and only `Connection` is rewritten ([`connection_value`]). Returns whether the connection
/// may stay open (`false` after close-delimited bodies and errors).
async fn write_proxied<W: AsyncWrite + Unpin, B>(
    wr: &mut W,
    resp: Response<B>,
    head_req: bool,
    client_v10: bool,
    mut close: bool,
    client_to: Option<Duration>,
) -> bool
where
    B: hyper::body::Body<Data = Bytes> + Unpin,
    B::Error: std::fmt::Display,
{
    let (parts, mut body) = resp.into_parts();
    let status = parts.status.as_u16();
    let chunked = parts
        .headers
        .get_all(header::TRANSFER_ENCODING)
        .iter()
        .any(|v| {
            String::from_utf8_lossy(v.as_bytes())
                .split(',')
                .any(|t| t.trim().eq_ignore_ascii_case("chunked"))
        });
    let cl_ok = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|s| s.trim().parse::<u64>().is_ok());
    let framing = if head_req || status < 200 || status == 204 || status == 304 {
        Framing::NoBody
    } else if chunked {
        Framing::Chunked
    } else if cl_ok {
        Framing::Length
    } else {
        Framing::CloseDelimited
    };
    if framing == Framing::CloseDelimited {
        close = true;
    }
    let resp10 = parts.version == Version::HTTP_10;
    let mut out = Vec::with_capacity(512);
    out.extend_from_slice(if resp10 { b"HTTP/1.0 " } else { b"HTTP/1.1 " });
    push_status(&mut out, status);
    out.push(b' ');
    push_reason(&mut out, parts.status, &parts.extensions);
    out.extend_from_slice(b"\r\n");
    let mut others: Vec<String> = Vec::new();
    for (name, value) in parts.headers.iter() {
        if name == header::CONNECTION {
            for t in String::from_utf8_lossy(value.as_bytes()).split(',') {
                let t = t.trim();
                if !t.is_empty()
                    && !t.eq_ignore_ascii_case("close")
                    && !t.eq_ignore_ascii_case("keep-alive")
                {
                    others.push(t.to_string());
                }
            }
        } else if name == header::CONTENT_LENGTH && framing == Framing::Chunked {
        } else {
            push_header(&mut out, name.as_str(), value.as_bytes());
        }
    }
    if others.is_empty() {
        // `connection_value` without allocating, for the usual case.
        if close {
            if !resp10 {
                push_header(&mut out, "connection", b"close");
            }
        } else if resp10 || client_v10 {
            push_header(&mut out, "connection", b"keep-alive");
        }
    } else if let Some(c) = connection_value(&others, close, resp10, client_v10) {
        push_header(&mut out, "connection", c.as_bytes());
    }
    out.extend_from_slice(b"\r\n");

    // `out` collects what is ready to send: the head, then the body frames that are already
    // available. It is written when the next frame is not there yet, when it grows past
    // `COALESCE`, and at the end, so a small response read in one go from the server (head
    // and body) goes out in one write, as HAProxy sends it. The bytes are the same either way.
    const COALESCE: usize = 16 * 1024;
    let mut trailers: Option<HeaderMap> = None;
    loop {
        let frame = match poll_once(&mut body).await {
            Poll::Ready(f) => f,
            Poll::Pending => {
                if !out.is_empty() {
                    if !write_all_to(wr, &out, client_to).await {
                        return false;
                    }
                    out.clear();
                }
                body.frame().await
            }
        };
        let frame = match frame {
            None => break,
            Some(Ok(f)) => f,
            Some(Err(e)) => {
                // The server died or stalled mid-response: what was sent stays sent, and the
                // client connection is closed (HAProxy's SD/sD).
                tracing::debug!("server response aborted: {e}");
                if !out.is_empty() && !write_all_to(wr, &out, client_to).await {
                    return false;
                }
                let _ = within(client_to, wr.flush()).await;
                return false;
            }
        };
        match frame.into_data() {
            Ok(data) => {
                if data.is_empty() || framing == Framing::NoBody {
                    continue;
                }
                let chunked = framing == Framing::Chunked;
                if out.len() + data.len() + 20 <= COALESCE {
                    if chunked {
                        super::chunked::push_hex(&mut out, data.len(), super::chunked::HEX_LOWER);
                        out.extend_from_slice(b"\r\n");
                    }
                    out.extend_from_slice(&data);
                    if chunked {
                        out.extend_from_slice(b"\r\n");
                    }
                    continue;
                }
                // A large frame: send what is pending, then the frame from its own buffer.
                if chunked {
                    super::chunked::push_hex(&mut out, data.len(), super::chunked::HEX_LOWER);
                    out.extend_from_slice(b"\r\n");
                }
                if !out.is_empty() && !write_all_to(wr, &out, client_to).await {
                    return false;
                }
                out.clear();
                if !write_all_to(wr, &data, client_to).await {
                    return false;
                }
                if chunked {
                    out.extend_from_slice(b"\r\n");
                }
            }
            Err(f) => {
                if let Ok(t) = f.into_trailers() {
                    trailers.get_or_insert_with(HeaderMap::new).extend(t);
                }
            }
        }
    }
    if framing == Framing::Chunked {
        out.extend_from_slice(b"0\r\n");
        for (n, v) in trailers.iter().flat_map(|t| t.iter()) {
            push_header(&mut out, n.as_str(), v.as_bytes());
        }
        out.extend_from_slice(b"\r\n");
    }
    if !out.is_empty() && !write_all_to(wr, &out, client_to).await {
        return false;
    }
    drop(out);
    if within(client_to, wr.flush()).await.is_none() {
        return false;
    }
    !close
}

/// Polls `body` once: its next frame if it is already there, else `Pending` (with the
/// task's waker registered, as any poll).
async fn poll_once<B: hyper::body::Body + Unpin>(
    body: &mut B,
) -> Poll<Option<Result<Frame<B::Data>, B::Error>>> {
    std::future::poll_fn(|cx| Poll::Ready(Pin::new(&mut *body).poll_frame(cx))).await
}

/// Appends a status code in decimal.
fn push_status(out: &mut Vec<u8>, status: u16) {
    let mut tmp = [0u8; 5];
    let mut i = tmp.len();
    let mut v = status;
    loop {
        i -= 1;
        tmp[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    out.extend_from_slice(&tmp[i..]);
}

/// Appends the reason phrase [`reason_of`] gives, without an intermediate `String`.
fn push_reason(out: &mut Vec<u8>, status: StatusCode, ext: &hyper::http::Extensions) {
    if let Some(r) = ext.get::<CustomReason>() {
        out.extend_from_slice(r.0.as_bytes());
    } else if let Some(r) = ext.get::<hyper::ext::ReasonPhrase>() {
        match std::str::from_utf8(r.as_bytes()) {
            Ok(s) => out.extend_from_slice(s.as_bytes()),
            Err(_) => out.extend_from_slice(String::from_utf8_lossy(r.as_bytes()).as_bytes()),
        }
    } else {
        out.extend_from_slice(status.canonical_reason().unwrap_or("").as_bytes());
    }
}

/// The head of a protocol switch, as the server sent it.
fn upgrade_head(head: &Response<()>) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    let status = head.status();
    out.extend_from_slice(
        format!(
            "HTTP/1.1 {} {}\r\n",
            status.as_u16(),
            reason_of(status, head.extensions())
        )
        .as_bytes(),
    );
    for (n, v) in head.headers() {
        push_header(&mut out, n.as_str(), v.as_bytes());
    }
    out.extend_from_slice(b"\r\n");
    out
}

/// What to do after a transaction.
enum Next {
    KeepAlive,
    Close,
    Tunnel(Box<UpgradeReply>, crate::engine::accesslog::HttpLog),
}

/// Serves HTTP/1.x on `io` until the connection closes (or switches to HTTP/2 or a tunnel).
pub async fn serve_h1<S>(io: S, sess: Arc<Session>, allow_h2: bool) -> H1End<S>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let Some(fe) = sess.ctx.frontend_ir() else {
        return H1End::Done;
    };
    let ft = fe.timeouts;
    let client = ms(ft.client);
    let request = ms(ft.http_request).or(client);
    let timers = Timers {
        client,
        request,
        keep_alive: ms(ft.http_keep_alive).or(request),
    };
    let fe_errorfiles = fe.errorfiles.clone();

    let (mut rd, mut wr) = tokio::io::split(io);
    let mut buf = BytesMut::new();
    let mut first = true;
    // When the current stream started (accept, then the end of the previous request).
    let mut clock = crate::engine::accesslog::current_clock();
    let mut stop_rx = sess.ctx.state.subscribe_stop();
    // A soft stop closes idle connections: one waiter for the connection's life, polled by
    // read_head while idle only. It stays registered between requests (a waiter made per
    // request cost a registration and a removal, each under the channel's lock). It
    // completes only at a soft stop or when the engine's state is gone, and the connection
    // then closes: it is never polled again.
    let stop = async move {
        loop {
            if *stop_rx.borrow_and_update() >= StopLevel::Soft {
                return;
            }
            if stop_rx.changed().await.is_err() {
                return;
            }
        }
    };
    let mut stop = pin!(stop);
    let logging = sess.ctx.state.accesslog.logs(sess.ctx.frontend);
    // One timer for the connection, re-armed for each head deadline and each request's
    // `timeout server`: moving a registered timer's deadline later is an atomic store,
    // where a timer per wait costs a timer-wheel insertion and removal (under the driver's
    // lock) per request. (Registered only when first armed.)
    let mut timer = pin!(tokio::time::sleep_until(crate::engine::clock::tokio_now()));
    loop {
        let mut ht = crate::engine::accesslog::HeadTiming::default();
        let head = match read_head(
            &mut rd,
            &mut buf,
            first,
            &timers,
            &sess,
            allow_h2 && first,
            &mut ht,
            &mut stop,
            (!first).then_some(clock.accepted),
            &mut timer,
        )
        .await
        {
            HeadRead::Head(h) => h,
            HeadRead::H2 => {
                let io = rd.unsplit(wr);
                return H1End::H2 {
                    io,
                    prefix: buf.freeze(),
                };
            }
            HeadRead::Close => {
                // HAProxy logs a first connection closed before any request (CR 400).
                if first && ht.eof {
                    let (ctx, info) = (&sess.ctx, &sess.info);
                    crate::engine::accesslog::http_error(ctx, info, clock, &ht, 400);
                }
                break;
            }
            HeadRead::Error(status) => {
                crate::engine::stats::mux_error(&sess.ctx, status);
                let raw = error_bytes(status, Origin::Mux, &[], &fe_errorfiles);
                let _ = write_all_to(&mut wr, &raw, timers.client).await;
                crate::engine::accesslog::http_error(&sess.ctx, &sess.info, clock, &ht, status);
                break;
            }
        };
        // Boxed so that the transaction's (large) state is only allocated while a request is
        // in flight: the connection future itself stays small while idle.
        // (Written into a fresh box rather than with `Box::pin(fut)`, which would build the
        // whole future state on the stack and copy it.)
        let next = Box::into_pin(Box::write(
            Box::new_uninit(),
            transaction(
                &sess,
                *head,
                &mut rd,
                &mut wr,
                &mut buf,
                &timers,
                &fe_errorfiles,
                (clock, ht.first_byte),
                timer.as_mut(),
            ),
        ))
        .await;
        clock = crate::engine::accesslog::ConnClock::next_stream(logging);
        if buf.is_empty() {
            // Release the read buffer while idle.
            buf = BytesMut::new();
        }
        match next {
            Next::KeepAlive => {
                if sess.ctx.state.stop_level() >= StopLevel::Soft {
                    break;
                }
                first = false;
            }
            Next::Close => break,
            Next::Tunnel(u, alog) => {
                // Returned rather than run here: the session's state is dropped and the
                // tunnel's alone is kept (boxed) for its life.
                let client = Rewind::new(buf.freeze(), rd.unsplit(wr));
                return H1End::Tunnel(Box::pin(tunnel(u, client, alog)));
            }
        }
    }
    let _ = within(timers.client, wr.shutdown()).await;
    H1End::Done
}

async fn tunnel<C>(u: Box<UpgradeReply>, client: C, mut alog: crate::engine::accesslog::HttpLog)
where
    C: AsyncRead + AsyncWrite + Unpin,
{
    // (The box is freed now, not when the tunnel ends.)
    let UpgradeReply {
        head,
        server,
        timeouts,
        guard,
    } = {
        let u = u;
        *u
    };
    // Not kept for the tunnel's life: the header values of the server's response head share
    // the server connection's read buffer (8 KiB).
    drop(head);
    // `on-marked-down shutdown-sessions` closes the tunnel when its server goes DOWN. The
    // server's socket is used directly, replaying what was read past its response head.
    // (The pump is pinned here and passed by reference: moved into `unless_killed`, its
    // state would be stored twice.)
    let server = Rewind::new(server.read_buf, server.io);
    let pump = pin!(crate::engine::pump::tunnel(client, server, timeouts));
    let stats = crate::engine::state::unless_killed(guard.as_ref(), pump).await;
    let Some(stats) = stats else {
        return;
    };
    tracing::debug!("tunnel ended: {stats:?}");
    drop(guard);
    alog.tunnel_done(&stats);
}

#[allow(clippy::too_many_arguments)]
async fn transaction<R, W>(
    sess: &Session,
    h: ReqHead,
    rd: &mut R,
    wr: &mut W,
    buf: &mut BytesMut,
    timers: &Timers,
    fe_errorfiles: &[crate::config::ir::ErrorFile],
    (clock, first_byte): (
        crate::engine::accesslog::ConnClock,
        Option<std::time::Instant>,
    ),
    timer: Pin<&mut tokio::time::Sleep>,
) -> Next
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    // Writes go through a watcher: a failed write is a client abort (`CD`) in the log.
    let write_failed = std::sync::atomic::AtomicBool::new(false);
    let mut wr = crate::engine::accesslog::Watch::new(wr, &write_failed);
    let wr = &mut wr;
    let ReqHead {
        method,
        uri,
        version,
        headers,
        body: kind,
        force_close,
        client_keep_alive,
        upgrade,
        expect_continue,
    } = h;
    let mut alog = crate::engine::accesslog::HttpLog::begin(
        &sess.ctx, &sess.info, clock, first_byte, &method, &uri, version, &headers,
    );
    let head_req = method == Method::HEAD;
    let client_v10 = version == Version::HTTP_10;
    let _ = expect_continue;
    // HTTP/1.0 cannot carry a chunked body to the server: such requests go as HTTP/1.1.
    let version = if version == Version::HTTP_10 && kind == BodyKind::Chunked {
        Version::HTTP_11
    } else {
        version
    };
    let activity = Activity::default();
    let (tx, req_body) = match kind {
        BodyKind::None => (None, body::empty()),
        BodyKind::Length(n) => {
            let (tx, b) = ChanBody::channel(Some(n), activity.clone());
            (Some(tx), b.boxed_unsync())
        }
        BodyKind::Chunked => {
            let (tx, b) = ChanBody::channel(None, activity.clone());
            (Some(tx), b.boxed_unsync())
        }
    };
    let req_body = alog.count_request_boxed(req_body);
    // (Set in place: `Request::builder()` moves the whole head at each step, and cannot
    // fail with values that are already typed.)
    let mut req = Request::new(req_body);
    *req.method_mut() = method;
    *req.uri_mut() = uri;
    *req.version_mut() = version;
    *req.headers_mut() = headers;

    // Interim responses (`100 Continue`...) from the server are relayed as HAProxy does.
    let interims = txn::Interims::default();
    let txn_fut = txn::run(
        sess,
        TxnRequest {
            req,
            upgrade,
            activity,
            informational: Some(&interims),
            log: alog.txn(),
            timer: Some(timer),
        },
    );
    let mut txn_fut = pin!(txn_fut);
    let has_body = tx.is_some();
    let pump = pump_body(rd, buf, kind, tx, timers.client);
    let mut pump = pin!(pump);
    let mut pump_end: Option<PumpEnd> = if has_body {
        None
    } else {
        Some(PumpEnd::Complete)
    };
    let outcome = loop {
        tokio::select! {
            biased;
            o = &mut txn_fut => break o,
            p = &mut pump, if pump_end.is_none() => pump_end = Some(p),
            // (Only pushed to while `txn_fut` is polled just above: no waker needed.)
            interim = std::future::poll_fn(|_| match interims.pop() {
                Some(b) => Poll::Ready(b),
                None => Poll::Pending,
            }) => {
                if !write_all_to(wr, &interim, timers.client).await {
                    return Next::Close;
                }
            }
        }
    };
    while let Some(interim) = interims.pop() {
        if !write_all_to(wr, &interim, timers.client).await {
            return Next::Close;
        }
    }
    alog.outcome(&outcome);
    let mut close = force_close || !client_keep_alive || outcome.mode == HttpConnMode::Close;

    match outcome.reply {
        Reply::Local(raw) => {
            if pump_end != Some(PumpEnd::Complete) {
                close = true;
            }
            // A broken request body surfaces as a server error; answer what HAProxy's mux
            // would (verbatim); other local replies go through HAProxy's HTX rendering.
            let bytes = match pump_end {
                Some(PumpEnd::Invalid) => error_bytes(400, Origin::Mux, &[], fe_errorfiles),
                Some(PumpEnd::Timeout) => error_bytes(408, Origin::Mux, &[], fe_errorfiles),
                Some(PumpEnd::ClientGone) => return Next::Close,
                _ => {
                    let (b, c) = render(&raw, client_v10, close);
                    close = c;
                    b
                }
            };
            if !write_all_to(wr, &bytes, timers.client).await
                || within(timers.client, wr.flush()).await.is_none()
            {
                return Next::Close;
            }
        }
        Reply::Proxied(resp) => {
            let resp = alog.count_response(*resp);
            let write = write_proxied(wr, resp, head_req, client_v10, close, timers.client);
            let mut write = pin!(write);
            let keep = loop {
                tokio::select! {
                    biased;
                    k = &mut write => break k,
                    p = &mut pump, if pump_end.is_none() => pump_end = Some(p),
                }
            };
            let body_to = pump_end == Some(PumpEnd::Timeout);
            let body_gone = pump_end == Some(PumpEnd::ClientGone);
            let failed = write_failed.load(std::sync::atomic::Ordering::Relaxed);
            alog.written(keep, failed, body_to, body_gone);
            if !keep || pump_end != Some(PumpEnd::Complete) {
                close = true;
            }
        }
        Reply::Upgrade(u) => {
            let head = upgrade_head(&u.head);
            if !write_all_to(wr, &head, timers.client).await
                || within(timers.client, wr.flush()).await.is_none()
            {
                return Next::Close;
            }
            return Next::Tunnel(u, alog);
        }
    }
    if close {
        Next::Close
    } else {
        Next::KeepAlive
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ir::Config;
    use crate::engine::conn::{ConnCtx, ConnInfo};
    use crate::engine::state::EngineState;

    #[test]
    fn idle_connection_footprint() {
        let ctx = ConnCtx {
            state: EngineState::new(Arc::new(Config::default())),
            frontend: 0,
            bind: 0,
        };
        let addr: std::net::SocketAddr = "127.0.0.1:1".parse().unwrap();
        let info = ConnInfo {
            peer: addr,
            local: addr,
            tls: false,
            alpn: None,
            sni: None,
        };
        let sess = Session::new(ctx, info);
        let (a, _b) = tokio::io::duplex(64);
        let fut = serve_h1(a, sess, true);
        let size = std::mem::size_of_val(&fut);
        eprintln!("serve_h1 future: {size} bytes");
        // The transaction state is boxed per request; what an idle connection's task keeps
        // is this future (plus the socket, and rustls's buffers on TLS).
        assert!(size < 1024, "{size}");
    }

    #[tokio::test]
    async fn serve_future_footprint() {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let c = tokio::net::TcpStream::connect(l.local_addr().unwrap())
            .await
            .unwrap();
        let (s, peer) = l.accept().await.unwrap();
        let ctx = ConnCtx {
            state: EngineState::new(Arc::new(Config::default())),
            frontend: 0,
            bind: 0,
        };
        let info = ConnInfo {
            peer,
            local: peer,
            tls: false,
            alpn: None,
            sni: None,
        };
        let fut = super::super::serve(crate::engine::conn::ClientStream::Plain(s), info, ctx);
        let size = std::mem::size_of_val(&fut);
        eprintln!("http::serve future: {size} bytes");
        assert!(size < 2048, "{size}");
        drop(c);
    }

    /// What an idle WebSocket tunnel's task keeps (besides the sockets): the boxed tunnel
    /// future, which no longer carries the session's state or the server's response head.
    #[tokio::test]
    async fn tunnel_footprint() {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let c = tokio::net::TcpStream::connect(l.local_addr().unwrap())
            .await
            .unwrap();
        let (s, _) = l.accept().await.unwrap();
        let client = Rewind::new(Bytes::new(), crate::engine::conn::ClientStream::Plain(s));
        let srv = tokio::net::TcpStream::connect(l.local_addr().unwrap())
            .await
            .unwrap();
        let up = UpgradeReply {
            head: Response::new(()),
            server: super::super::client::Upgraded {
                io: srv,
                read_buf: Bytes::new(),
            },
            timeouts: Default::default(),
            guard: None,
        };
        let fut = tunnel(Box::new(up), client, Default::default());
        let size = std::mem::size_of_val(&fut);
        eprintln!("tunnel future: {size} bytes");
        assert!(size < 1024, "{size}");
        drop(c);
    }
}
