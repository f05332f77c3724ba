//! The client side of HTTP/2 (ALPN `h2`, or clear-text prior knowledge), served by hyper's
//! HTTP/2 server with RFC 8441 extended CONNECT enabled.
//!
//! Each stream runs the same [`super::txn`] as HTTP/1. Requests become HTTP/1.1 requests for
//! the servers (`:authority` → `Host`, origin-form path). An extended CONNECT with
//! `:protocol websocket` becomes `GET` + `Upgrade: websocket` with a generated
//! `Sec-WebSocket-Key`; when the server answers a valid `101`, the client gets `200` and the
//! stream is tunnelled to the server connection with `timeout tunnel`.
//!
//! `timeout client` closes the connection (GOAWAY) after that long with no I/O and no
//! stream in progress. Memory: hyper/h2 keep a per-connection codec with its own read and
//! write buffers (the write queue is capped by `max_send_buf_size`, set here to 64 KiB), so
//! an idle HTTP/2 connection costs those buffers — unlike HTTP/1, nothing here can release
//! them while idle.

use std::convert::Infallible;
use std::io;
use std::pin::{pin, Pin};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper::http::{header, HeaderValue, Method, Request, Response, StatusCode, Uri, Version};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::engine::state::StopLevel;

use super::body::{self, Activity, BoxError, RespBody, Touching};
use super::errors::parse_raw;
use super::txn::{self, Reply, Session, TxnRequest};
use super::ws;

/// Counts streams in progress; a guard lives as long as the response body or tunnel.
#[derive(Clone, Default)]
struct Streams(Arc<AtomicUsize>);

struct StreamGuard(Arc<AtomicUsize>);

impl Streams {
    fn enter(&self) -> StreamGuard {
        self.0.fetch_add(1, Ordering::AcqRel);
        StreamGuard(self.0.clone())
    }
    fn count(&self) -> usize {
        self.0.load(Ordering::Acquire)
    }
}

impl Drop for StreamGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// An I/O wrapper that touches an [`Activity`] clock on every read or write.
struct Watched<S> {
    inner: S,
    activity: Activity,
}

impl<S: AsyncRead + Unpin> AsyncRead for Watched<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        if r.is_ready() {
            self.activity.touch();
        }
        r
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Watched<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write(cx, buf);
        if r.is_ready() {
            self.activity.touch();
        }
        r
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// A response body that keeps its stream counted until it ends.
struct Guarded {
    inner: RespBody,
    _guard: StreamGuard,
}

impl Body for Guarded {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }
    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }
    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// Serves HTTP/2 on `io` until the client or a timeout closes it.
pub async fn serve_h2<S>(io: S, sess: Arc<Session>)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let client_to = sess
        .ctx
        .frontend_ir()
        .and_then(|f| f.timeouts.client)
        .map(|m| Duration::from_millis(u64::from(m)));
    let activity = Activity::default();
    activity.touch();
    let streams = Streams::default();
    let io = Watched {
        inner: io,
        activity: activity.clone(),
    };

    let stop_sess = sess.clone();
    let svc_streams = streams.clone();
    let svc = service_fn(move |req: Request<Incoming>| {
        let sess = sess.clone();
        let guard = svc_streams.enter();
        async move { Ok::<_, Infallible>(handle(sess, req, guard).await) }
    });
    let mut builder = hyper::server::conn::http2::Builder::new(TokioExecutor::new());
    builder
        .enable_connect_protocol()
        .auto_date_header(false)
        .max_send_buf_size(64 * 1024);
    let conn = builder.serve_connection(TokioIo::new(io), svc);
    let mut conn = pin!(conn);

    let stop_state = streams.clone();
    let idle = async {
        let Some(d) = client_to else {
            return std::future::pending().await;
        };
        loop {
            activity.idle_for(d, None).await;
            if stop_state.count() == 0 {
                return;
            }
            tokio::time::sleep(d).await;
        }
    };
    let mut idle = pin!(idle);
    // A soft stop ends the connection gracefully (GOAWAY), like keep-alive on HTTP/1.
    let stop = stop_sess.ctx.state.clone();
    let mut stop = pin!(async move { stop.stopped(StopLevel::Soft).await });
    let mut shutting = false;
    loop {
        tokio::select! {
            r = conn.as_mut() => {
                if let Err(e) = r {
                    tracing::debug!("h2 connection ended: {e}");
                }
                return;
            }
            _ = &mut idle, if !shutting => {
                shutting = true;
                conn.as_mut().graceful_shutdown();
            }
            _ = &mut stop, if !shutting => {
                shutting = true;
                conn.as_mut().graceful_shutdown();
            }
        }
    }
}

fn local_response(raw: &Bytes) -> Response<RespBody> {
    let Some(p) = parse_raw(raw) else {
        let mut r = Response::new(body::empty());
        *r.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
        return r;
    };
    let mut r = Response::new(body::full(p.body));
    *r.status_mut() = StatusCode::from_u16(p.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    for (n, v) in p.headers {
        if is_connection_specific(&n) {
            continue;
        }
        if let (Ok(n), Ok(v)) = (
            header::HeaderName::from_bytes(n.as_bytes()),
            HeaderValue::from_bytes(&v),
        ) {
            r.headers_mut().append(n, v);
        }
    }
    r
}

fn is_connection_specific(name: &str) -> bool {
    matches!(
        name,
        "connection" | "keep-alive" | "proxy-connection" | "transfer-encoding" | "upgrade"
    )
}

/// Converts an HTTP/2 request head for an HTTP/1.1 server: `Host` from `:authority`,
/// origin-form target.
fn to_h1_head(req: &mut hyper::http::request::Parts) {
    if let Some(auth) = req.uri.authority().cloned() {
        if !req.headers.contains_key(header::HOST) {
            if let Ok(v) = HeaderValue::from_str(auth.as_str()) {
                req.headers.insert(header::HOST, v);
            }
        }
    }
    if req.method != Method::CONNECT {
        let pq = req
            .uri
            .path_and_query()
            .map(|p| p.as_str().to_string())
            .unwrap_or_else(|| "/".into());
        if let Ok(u) = pq.parse::<Uri>() {
            req.uri = u;
        }
    }
    // HTTP/2 may split cookies into several fields; HTTP/1 wants one (RFC 9113 §8.2.3).
    if req.headers.get_all(header::COOKIE).iter().count() > 1 {
        let joined: Vec<String> = req
            .headers
            .get_all(header::COOKIE)
            .iter()
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .collect();
        if let Ok(v) = HeaderValue::from_str(&joined.join("; ")) {
            req.headers.insert(header::COOKIE, v);
        }
    }
    req.version = Version::HTTP_11;
}

async fn handle(
    sess: Arc<Session>,
    mut req: Request<Incoming>,
    guard: StreamGuard,
) -> Response<RespBody> {
    let mut alog = crate::engine::accesslog::HttpLog::begin(
        &sess.ctx,
        &sess.info,
        crate::engine::accesslog::ConnClock::now(),
        None,
        req.method(),
        req.uri(),
        req.version(),
        req.headers(),
    );
    let protocol = req
        .extensions()
        .get::<hyper::ext::Protocol>()
        .map(|p| p.as_str().to_ascii_lowercase());
    let ext_connect = req.method() == Method::CONNECT && protocol.is_some();
    // Any CONNECT (extended or classic) may turn the stream into a tunnel.
    let is_connect = req.method() == Method::CONNECT;
    let client_up = if is_connect {
        Some(hyper::upgrade::on(&mut req))
    } else {
        None
    };
    let (mut parts, incoming) = req.into_parts();
    let activity = Activity::default();
    let mut upgrade = None;
    let req_body = if ext_connect {
        // RFC 8441 → RFC 6455: the stream's DATA frames become the tunnel after the 200.
        let proto = protocol.clone().unwrap_or_default();
        parts.method = Method::GET;
        to_h1_head(&mut parts);
        let pq = parts
            .uri
            .path_and_query()
            .map(|p| p.as_str().to_string())
            .unwrap_or_else(|| "/".into());
        if let Ok(u) = pq.parse::<Uri>() {
            parts.uri = u;
        }
        parts
            .headers
            .insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
        if let Ok(v) = HeaderValue::from_str(&proto) {
            parts.headers.insert(header::UPGRADE, v);
        }
        if proto == "websocket" {
            if let Ok(v) = HeaderValue::from_str(&ws::new_key()) {
                parts.headers.insert(header::SEC_WEBSOCKET_KEY, v);
            }
        }
        parts.headers.remove(header::CONTENT_LENGTH);
        upgrade = Some(proto);
        drop(incoming);
        body::empty()
    } else if is_connect {
        // Classic CONNECT: the stream's data is the tunnel once the server accepts.
        to_h1_head(&mut parts);
        drop(incoming);
        body::empty()
    } else {
        to_h1_head(&mut parts);
        Touching::new(incoming, activity.clone())
            .map_err(|e| Box::new(e) as BoxError)
            .boxed_unsync()
    };
    let req_body = alog.count_request_boxed(req_body);
    let req = Request::from_parts(parts, req_body);
    let out = txn::run(
        &sess,
        TxnRequest {
            req,
            upgrade,
            activity,
            informational: None,
            log: alog.txn(),
            timer: None,
        },
    )
    .await;
    alog.outcome(&out);
    match out.reply {
        Reply::Local(raw) => local_response(&raw),
        Reply::Proxied(resp) => {
            let (mut parts, body) = (*resp).into_parts();
            let names: Vec<_> = parts
                .headers
                .keys()
                .filter(|n| is_connection_specific(n.as_str()))
                .cloned()
                .collect();
            for n in names {
                parts.headers.remove(n);
            }
            parts.version = Version::HTTP_2;
            let body = Guarded {
                inner: alog.into_body(body).boxed_unsync(),
                _guard: guard,
            };
            Response::from_parts(parts, body.boxed_unsync())
        }
        Reply::Upgrade(u) => {
            let Some(client_up) = client_up else {
                return local_response(&super::errors::default_error(502));
            };
            let mut resp = Response::new(body::empty());
            *resp.status_mut() = StatusCode::OK;
            for name in [
                header::SEC_WEBSOCKET_PROTOCOL,
                header::SEC_WEBSOCKET_EXTENSIONS,
            ] {
                if let Some(v) = u.head.headers().get(&name) {
                    resp.headers_mut().insert(name, v.clone());
                }
            }
            // The server's response head is not kept for the tunnel's life: its header values
            // share the server connection's read buffer.
            let super::txn::UpgradeReply {
                head,
                server,
                timeouts: t,
                guard: srv_guard,
            } = *u;
            drop(head);
            tokio::spawn(async move {
                let _guard = guard;
                let mut alog = alog;
                let Some(Ok(c)) = within(t.idle, client_up).await else {
                    return;
                };
                let s = super::rewind::Rewind::new(server.read_buf, server.io);
                // `on-marked-down shutdown-sessions` closes the tunnel when its server goes DOWN.
                let pump = crate::engine::pump::tunnel(TokioIo::new(c), s, t);
                let pump = std::pin::pin!(pump);
                let Some(stats) =
                    crate::engine::state::unless_killed(srv_guard.as_ref(), pump).await
                else {
                    return;
                };
                tracing::debug!("h2 websocket tunnel ended: {stats:?}");
                drop(srv_guard);
                alog.tunnel_done(&stats);
            });
            resp
        }
    }
}

async fn within<F: std::future::Future>(d: Option<Duration>, f: F) -> Option<F::Output> {
    match d {
        Some(d) => tokio::time::timeout(d, f).await.ok(),
        None => Some(f.await),
    }
}
