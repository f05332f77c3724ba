//! HTTP mode (`mode http` frontends): HAProxy 2.6's HTTP proxying on tokio and hyper.
//!
//! Entry point: [`serve`], called by the listener for every accepted connection of an HTTP
//! frontend. ALPN `h2` → HTTP/2 ([`h2`]); otherwise HTTP/1.x ([`h1`]), which switches to
//! HTTP/2 when a clear-text client starts with the prior-knowledge preface.
//!
//! Layout (client → server):
//! - [`head`]: strict HTTP/1 request-head parser (HAProxy's 400 verdicts), [`chunked`]:
//!   chunked request bodies; [`h1`]: HTTP/1 keep-alive loop, timers, response writer;
//!   [`h2`]: hyper's HTTP/2 server, RFC 8441 WebSockets;
//! - [`txn`]: one transaction: rules ([`rules`], [`acl`], [`sample`], [`logfmt`]), backend
//!   and server choice, retries, forwarding;
//! - [`client`]: the HTTP/1.1 client towards servers (ours, run inline in the session's
//!   task); [`upstream`]: the idle pool of server connections, server choice, `maxconn`;
//! - [`errors`]: HAProxy's built-in error responses and `errorfile`s;
//! - [`ws`]: WebSocket key/accept; [`body`], [`rewind`]: plumbing.
//!
//! Why HTTP/1 is not served by `hyper::server::conn::http1`: hyper writes its own 400 (with
//! a `date` header) on a bad head and just closes on a header timeout, so HAProxy's exact
//! 400/408 responses could not be produced; it also keeps a read buffer per idle connection.
//! Why servers are not reached with `hyper::client::conn::http1`: it runs a task per server
//! connection, and every request crossed a channel to it and woke it; [`client`] writes the
//! request and reads the response in the session's own task, with the bytes hyper's client
//! sent. HTTP/2 clients are served by hyper's HTTP/2 server.
//!
//! Behaviour checked byte for byte against HAProxy 2.6.12 on this host (requests sent to both
//! with a raw socket): built-in error messages; request forwarding (lower-case names,
//! `Connection` rewrite, `x-forwarded-for` appended, HTTP/1.0 kept with `keep-alive`);
//! response writing (server's version and framing kept, chunked even to 1.0 clients,
//! close-delimited passthrough, `Connection` rules); errorfiles re-serialised like HTX;
//! redirects, `return`, `auth`; the WebSocket 101. Known differences:
//! - headers with the same name are grouped together (hyper's `HeaderMap`), where HAProxy
//!   keeps their interleaving with other headers;
//! - stricter than 2.6.12 where later releases fixed bugs: NUL/CTL bytes in header values
//!   (400 on requests, 502 on responses), Content-Length overflow, bare LF in chunk lines;
//! - a chunked HTTP/1.0 request is sent to the server as HTTP/1.1 (HTTP/1.0 cannot carry
//!   chunked); `CONNECT host:443` keeps `host: host:443` (HAProxy drops the port);
//! - response obs-fold is unfolded to one space (HAProxy keeps three);
//! - interim responses (1xx) are relayed to HTTP/1 clients only.
//!
//! Memory while idle: an HTTP/1 keep-alive connection keeps no read buffer (released when
//! empty; reads go through a stack buffer that exists only during a poll); its session
//! future (boxed by the listener) is about 1.2 KiB and the transaction state is boxed per
//! request. After a protocol switch, [`serve_until_tunnel`] returns the tunnel
//! ([`Continuation`], about 750 bytes) and the session's state is dropped; the server's
//! 101 head (whose header values share the server connection's read buffer) is not kept
//! either. An HTTP/2 connection keeps hyper/h2's codec buffers (send buffer capped at
//! 64 KiB). Server connections in the idle pool keep their read buffer (16 KiB,
//! `tune.bufsize`, which is also the largest accepted response head; reused by the next
//! exchange) and the buffer request heads are written into. TLS adds rustls's connection
//! state but no buffer ([`super::tls_stream`]).
//!
//! Not supported: regular expressions (`-m reg`, `*_reg`, `replace-path`; rejected at load,
//! [`unsupported_in`] reports what slips through), crypt(3) `password`s in userlists (never
//! match; `insecure-password` works), response fetches (`res.hdr`...), `option
//! http-buffer-request`, HTTP/2 or TLS towards servers.

pub mod acl;
pub mod body;
pub mod chunked;
pub mod client;
pub mod errors;
pub mod h1;
pub mod h2;
pub mod head;
pub mod logfmt;
pub mod rewind;
pub mod rules;
pub mod sample;
pub mod txn;
pub mod upstream;
pub mod ws;

use super::conn::{ClientStream, ConnCtx, ConnInfo};

pub use txn::Session;
pub use upstream::pool_idle;

/// What is left of a connection after an HTTP/1 protocol switch: the tunnel (WebSocket,
/// CONNECT), which needs none of the HTTP session's state.
pub type Continuation = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>;

/// Serves one accepted connection of an HTTP frontend until it closes. Protocol errors are
/// answered on the wire (400, 408...) and are not errors here.
pub async fn serve(stream: ClientStream, info: ConnInfo, ctx: ConnCtx) -> anyhow::Result<()> {
    if let Some(tunnel) = serve_until_tunnel(stream, info, ctx).await? {
        tunnel.await;
    }
    Ok(())
}

/// [`serve`], except that a tunnel after a protocol switch is returned rather than run, so
/// the caller can drop the session's state (the listener's task then holds only the
/// tunnel's).
pub fn serve_until_tunnel(
    stream: ClientStream,
    info: ConnInfo,
    ctx: ConnCtx,
) -> impl std::future::Future<Output = anyhow::Result<Option<Continuation>>> {
    serve_session(stream, Session::new(ctx, info))
}

/// [`serve_until_tunnel`] for a session already built. (The connection's facts live in the
/// session only: an `async fn` taking them by value would store them twice in its future,
/// for the connection's whole life.)
pub async fn serve_session(
    stream: ClientStream,
    sess: std::sync::Arc<Session>,
) -> anyhow::Result<Option<Continuation>> {
    let h2_alpn = sess.info.alpn.as_deref() == Some(b"h2");
    let clear = !sess.info.tls;
    if h2_alpn {
        Box::pin(h2::serve_h2(stream, sess)).await;
        return Ok(None);
    }
    match h1::serve_h1(stream, sess.clone(), clear).await {
        h1::H1End::Done => {}
        h1::H1End::H2 { io, prefix } => {
            // Boxed: HTTP/2's state is only allocated for HTTP/2 connections.
            Box::pin(h2::serve_h2(rewind::Rewind::new(prefix, io), sess)).await
        }
        h1::H1End::Tunnel(tunnel) => return Ok(Some(tunnel)),
    }
    Ok(None)
}

/// Checks what of a frontend's HTTP configuration the engine cannot run, as messages for
/// the config layer (empty when everything is supported). Covers log-format strings in
/// rules and `http-request replace-path` (regular expressions).
pub fn unsupported_in(cfg: &crate::config::ir::Config) -> Vec<String> {
    use crate::config::ir::HttpAction;
    let mut out = Vec::new();
    let rules = cfg
        .frontends
        .iter()
        .flat_map(|f| {
            f.http_request
                .iter()
                .chain(&f.http_response)
                .chain(&f.redirects)
        })
        .chain(
            cfg.backends
                .iter()
                .flat_map(|b| b.http_request.iter().chain(&b.http_response)),
        );
    for r in rules {
        let fmt = match &r.action {
            HttpAction::SetHeader { value, .. } | HttpAction::AddHeader { value, .. } => {
                Some(&value.0)
            }
            HttpAction::SetPath { value } => Some(&value.0),
            HttpAction::Redirect(rd) => Some(&rd.target.0),
            HttpAction::ReplacePath { .. } => {
                out.push(format!(
                    "{}: 'replace-path' needs regular expressions, which are not supported",
                    r.origin
                ));
                None
            }
            _ => None,
        };
        if let Some(f) = fmt {
            if let Err(e) = logfmt::compile(f) {
                out.push(format!("{}: {e}", r.origin));
            }
        }
    }
    out.extend(crate::engine::accesslog::unsupported_in(cfg));
    out
}
