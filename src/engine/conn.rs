//! What an accepted client connection looks like once the listener and TLS layers are done
//! with it: a [`ClientStream`] (plain TCP or TLS-terminated), its [`ConnInfo`] (addresses,
//! TLS facts), and a [`ConnCtx`] (the engine state plus which frontend/bind accepted it).
//!
//! The listener calls `tcp::serve(stream, info, ctx)` or `http::serve_session(stream,
//! session)` with these; both are run inside a live-connection guard and are dropped at once
//! on a hard stop, so serving code does not need to watch for SIGTERM itself (it should
//! watch `StopLevel::Soft` to stop keep-alive).

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

use crate::config::ir::{Backend, Bind, Config, Frontend};

use super::state::{BackendState, EngineState};

/// Facts about one accepted client connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnInfo {
    /// The client's address.
    pub peer: SocketAddr,
    /// The local (bound) address the client connected to.
    pub local: SocketAddr,
    /// True when TLS was terminated on this bind.
    pub tls: bool,
    /// The ALPN protocol negotiated (`b"h2"`, `b"http/1.1"`), if any.
    pub alpn: Option<Vec<u8>>,
    /// The SNI the client sent, if any (lower-case as rustls reports it).
    pub sni: Option<String>,
}

/// An accepted client connection: plain TCP, or TLS over TCP after a completed handshake.
pub enum ClientStream {
    Plain(TcpStream),
    Tls(Box<super::tls_stream::TlsServerStream>),
}

impl std::fmt::Debug for ClientStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ClientStream::Plain(s) => f.debug_tuple("Plain").field(s).finish(),
            ClientStream::Tls(s) => f.debug_tuple("Tls").field(s.tcp()).finish(),
        }
    }
}

impl ClientStream {
    /// The underlying TCP socket.
    pub fn tcp(&self) -> &TcpStream {
        match self {
            ClientStream::Plain(s) => s,
            ClientStream::Tls(s) => s.tcp(),
        }
    }

    pub fn is_tls(&self) -> bool {
        matches!(self, ClientStream::Tls(_))
    }
}

impl AsyncRead for ClientStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            ClientStream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            ClientStream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for ClientStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            ClientStream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            ClientStream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            ClientStream::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            ClientStream::Tls(s) => Pin::new(s.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            ClientStream::Plain(s) => s.is_write_vectored(),
            ClientStream::Tls(s) => s.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            ClientStream::Plain(s) => Pin::new(s).poll_flush(cx),
            ClientStream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            ClientStream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            ClientStream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

/// Where a connection was accepted and the engine it belongs to. Cheap to clone.
#[derive(Debug, Clone)]
pub struct ConnCtx {
    pub state: Arc<EngineState>,
    /// Index into `config.frontends`.
    pub frontend: usize,
    /// Index into that frontend's `binds`.
    pub bind: usize,
}

impl ConnCtx {
    pub fn config(&self) -> &Config {
        &self.state.config
    }

    /// The accepting frontend's IR. The indices are set by the listener from the same
    /// config, so they are always valid; `None` only guards against misuse.
    pub fn frontend_ir(&self) -> Option<&Frontend> {
        self.state.config.frontends.get(self.frontend)
    }

    pub fn bind_ir(&self) -> Option<&Bind> {
        self.frontend_ir()?.binds.get(self.bind)
    }

    /// A backend's IR and live state by index.
    pub fn backend(&self, idx: usize) -> Option<(&Backend, &BackendState)> {
        Some((
            self.state.config.backends.get(idx)?,
            self.state.backends.get(idx)?,
        ))
    }
}
