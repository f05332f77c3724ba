//! Listening sockets and the accept loop.
//!
//! One socket2 listener per address of every `bind` (IPv4, IPv6, `v4v6`/`v6only`, ranges
//! already expanded by the config layer), with SO_REUSEADDR + SO_REUSEPORT (so a new
//! process can bind while the old one drains, as HAProxy does) and the bind's `backlog`
//! (default: the frontend's maxconn, as HAProxy).
//!
//! Connection limits (`global maxconn`, frontend `maxconn`, bind `maxconn`) are semaphores:
//! the accept loop waits for the socket to be readable, then for a permit of every limit,
//! and only then calls accept(2). At the limit the connection stays in the kernel backlog,
//! which is HAProxy's "stop accepting, resume below the limit". Permits are owned by the
//! connection task and released when it ends.

use std::io;
use std::net::{SocketAddr, TcpListener as StdListener};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use socket2::{Domain, Protocol, Socket, Type};
use tokio::io::unix::AsyncFd;
use tokio::net::TcpStream;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::config::ir::{Bind, Mode};

use super::conn::{ClientStream, ConnCtx, ConnInfo};
use super::state::{EngineState, StopLevel};

/// Opens one listening socket for `addr` with the bind's options.
pub fn bind_socket(addr: SocketAddr, bind: &Bind, default_backlog: u32) -> io::Result<StdListener> {
    let sock = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    sock.set_reuse_address(true)?;
    sock.set_reuse_port(true)?;
    if addr.is_ipv6() {
        // Without either keyword the system default (net.ipv6.bindv6only) applies, as in
        // HAProxy.
        if bind.v6only {
            sock.set_only_v6(true)?;
        } else if bind.v4v6 {
            sock.set_only_v6(false)?;
        }
    }
    sock.set_nonblocking(true)?;
    sock.bind(&addr.into())?;
    let backlog = bind
        .backlog
        .unwrap_or(default_backlog)
        .clamp(1, i32::MAX as u32);
    sock.listen(backlog as i32)?;
    Ok(sock.into())
}

/// The connection limits that apply to one bind, outermost last.
#[derive(Debug, Clone, Default)]
pub struct Limits {
    pub bind: Option<Arc<Semaphore>>,
    pub frontend: Option<Arc<Semaphore>>,
    pub global: Option<Arc<Semaphore>>,
}

/// Permits held by one connection.
#[derive(Debug)]
pub struct Permits(#[allow(dead_code)] Vec<OwnedSemaphorePermit>);

/// A semaphore for a `maxconn` value; 0 means no limit.
pub fn limit(n: Option<u32>) -> Option<Arc<Semaphore>> {
    match n {
        Some(n) if n > 0 => Some(Arc::new(Semaphore::new(
            (n as usize).min(Semaphore::MAX_PERMITS),
        ))),
        _ => None,
    }
}

impl Limits {
    /// Waits for one permit of each limit, always in the same order (bind, frontend,
    /// global) so loops cannot deadlock each other.
    async fn acquire(&self) -> Option<Permits> {
        let mut v = Vec::with_capacity(3);
        for s in [&self.bind, &self.frontend, &self.global]
            .into_iter()
            .flatten()
        {
            v.push(s.clone().acquire_owned().await.ok()?);
        }
        Some(Permits(v))
    }
}

/// One bound socket ready to serve.
pub struct Listener {
    pub fd: AsyncFd<StdListener>,
    pub local: SocketAddr,
    pub frontend: usize,
    pub bind: usize,
    pub tls: Option<std::sync::Arc<rustls::ServerConfig>>,
    pub limits: Limits,
}

/// Accepts until a soft stop, then closes the socket (new clients get refused).
pub async fn accept_loop(l: Listener, state: Arc<EngineState>) {
    let stop = state.clone();
    tokio::select! {
        _ = stop.stopped(StopLevel::Soft) => {}
        _ = accept_forever(&l, &state) => {}
    }
    // Dropping `l` closes the listening socket.
}

async fn accept_forever(l: &Listener, state: &Arc<EngineState>) {
    loop {
        let (sock, peer, permits) = match accept_one(l).await {
            Ok(v) => v,
            Err(e) => {
                match e.raw_os_error() {
                    Some(libc::ECONNABORTED) | Some(libc::EINTR) | Some(libc::EPROTO) => {}
                    _ => {
                        // EMFILE/ENFILE/ENOBUFS...: back off instead of spinning.
                        tracing::warn!("accept on {} failed: {e}", l.local);
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                }
                continue;
            }
        };
        let live = state.live.enter();
        let ctx = ConnCtx {
            state: state.clone(),
            frontend: l.frontend,
            bind: l.bind,
        };
        let st = ctx.state.clone();
        let fe = ctx.frontend;
        // The session runs boxed, created here so that the task's future holds only the box:
        // when the session turns into a tunnel (WebSocket, CONNECT), its state is freed and
        // the task keeps only the tunnel's.
        let session = Box::pin(super::accesslog::scope(serve_conn(
            sock,
            peer,
            l.local,
            l.tls.clone(),
            ctx,
        )));
        // The task reads the clock at most once per poll (`engine::clock`).
        tokio::spawn(super::clock::per_poll(async move {
            let _permits = permits;
            let _live = live;
            if let Some(f) = st.frontends.get(fe) {
                let cur = f.cur_conns.fetch_add(1, Ordering::AcqRel) + 1;
                f.total_conns.fetch_add(1, Ordering::Relaxed);
                st.stats.fe_accept(fe, cur);
            }
            // A hard stop drops the session future, which closes both sockets.
            tokio::select! {
                _ = async {
                    if let Some(tunnel) = session.await {
                        tunnel.await;
                    }
                } => {}
                _ = st.stopped(StopLevel::Hard) => {}
            }
            if let Some(f) = st.frontends.get(fe) {
                f.cur_conns.fetch_sub(1, Ordering::AcqRel);
            }
        }));
    }
}

/// Waits for readiness and permits, then accepts one connection.
async fn accept_one(l: &Listener) -> io::Result<(std::net::TcpStream, SocketAddr, Permits)> {
    loop {
        let mut guard = l.fd.readable().await?;
        let Some(permits) = l.limits.acquire().await else {
            // Semaphores are never closed; treat it as fatal for this loop anyway.
            return Err(io::Error::other("connection limit closed"));
        };
        match guard.try_io(|fd| accept_nonblocking(fd.get_ref())) {
            Ok(Ok((s, peer))) => return Ok((s, peer, permits)),
            Ok(Err(e)) => return Err(e),
            Err(_would_block) => continue,
        }
    }
}

/// accept4(2) with `SOCK_NONBLOCK | SOCK_CLOEXEC`: the accepted socket is non-blocking
/// from the start (std's `accept` would need an extra ioctl per connection).
fn accept_nonblocking(l: &StdListener) -> io::Result<(std::net::TcpStream, SocketAddr)> {
    use std::os::fd::{AsRawFd, FromRawFd};
    let fd = l.as_raw_fd();
    // SAFETY: `try_init` hands accept4 a zeroed sockaddr_storage and its length; the
    // returned descriptor is new and owned by nobody else, so the TcpStream takes it over.
    let (res, addr) = unsafe {
        socket2::SockAddr::try_init(|storage, len| {
            let s = libc::accept4(
                fd,
                storage.cast(),
                len,
                libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            );
            if s < 0 {
                Err(io::Error::last_os_error())
            } else {
                Ok(s)
            }
        })
    }?;
    // SAFETY: `res` is a freshly accepted socket descriptor (see above).
    let stream = unsafe { std::net::TcpStream::from_raw_fd(res) };
    let peer = addr
        .as_socket()
        .ok_or_else(|| io::Error::other("accepted a non-IP socket"))?;
    Ok((stream, peer))
}

/// Turns an accepted socket into a [`ClientStream`] (after `tcp-request connection` rules
/// and the TLS handshake bounded by `timeout client`), with its [`ConnInfo`]; `None` when
/// the connection is refused or the handshake fails.
async fn establish(
    sock: std::net::TcpStream,
    peer: SocketAddr,
    local_fallback: SocketAddr, // the listener's bound address
    tls: Option<std::sync::Arc<rustls::ServerConfig>>,
    ctx: &ConnCtx,
) -> Option<(ClientStream, ConnInfo)> {
    let Ok(tcp) = TcpStream::from_std(sock) else {
        return None;
    };
    let _ = tcp.set_nodelay(true);
    // A bind on one address accepts on exactly that address: no getsockname(2) needed.
    let local = if local_fallback.ip().is_unspecified() {
        tcp.local_addr().unwrap_or(local_fallback)
    } else {
        local_fallback
    };
    let fe = ctx.frontend_ir()?;
    let client_timeout = fe
        .timeouts
        .client
        .map(|m| Duration::from_millis(u64::from(m)));
    // `tcp-request connection` rules: a rejected connection is closed at once, unlogged.
    let l4 = ConnInfo {
        peer,
        local,
        tls: false,
        alpn: None,
        sni: None,
    };
    if !super::inspect::connection_accepted(ctx, &l4) {
        tracing::debug!(
            "{}: connection from {peer} rejected by a tcp-request connection rule",
            fe.name
        );
        return None;
    }
    let (stream, info) = match tls {
        None => (
            ClientStream::Plain(tcp),
            ConnInfo {
                peer,
                local,
                tls: false,
                alpn: None,
                sni: None,
            },
        ),
        // Boxed: the handshake's state (rustls's connection in the making) is only allocated
        // while it runs, not kept in the connection task's future for its whole life.
        Some(acc) => match Box::pin(super::tls::handshake(&acc, tcp, client_timeout)).await {
            Ok(a) => (
                ClientStream::Tls(Box::new(a.stream)),
                ConnInfo {
                    peer,
                    local,
                    tls: true,
                    alpn: a.alpn,
                    sni: a.sni,
                },
            ),
            Err(e) => {
                // HAProxy logs "fe/bind: SSL handshake failure" and closes.
                super::accesslog::embryonic(ctx, peer, local, &e);
                tracing::debug!(
                    "{}/{}: SSL handshake failure from {peer}: {e}",
                    fe.name,
                    ctx.bind + 1
                );
                return None;
            }
        },
    };
    Some((stream, info))
}

/// Serves an accepted socket: [`establish`], then the frontend's mode. Returns the tunnel
/// left to run when an HTTP connection switched protocols ([`super::http::Continuation`]).
/// (Split from `establish` so that what the set-up needed is not kept in this future for
/// the connection's life.)
async fn serve_conn(
    sock: std::net::TcpStream,
    peer: SocketAddr,
    local_fallback: SocketAddr,
    tls: Option<std::sync::Arc<rustls::ServerConfig>>,
    ctx: ConnCtx,
) -> Option<super::http::Continuation> {
    let (stream, info) = establish(sock, peer, local_fallback, tls, &ctx).await?;
    let fe = ctx.frontend_ir()?;
    super::accesslog::handshake_done();
    match fe.mode {
        // Boxed: an HTTP connection's future does not carry the size of a TCP session's.
        Mode::Tcp => {
            Box::pin(super::tcp::serve(stream, info, ctx)).await;
            None
        }
        Mode::Http => {
            let sess = super::http::Session::new(ctx, info);
            match super::http::serve_session(stream, sess).await {
                Ok(tunnel) => tunnel,
                Err(e) => {
                    tracing::debug!("http session from {peer} ended: {e}");
                    None
                }
            }
        }
    }
}
