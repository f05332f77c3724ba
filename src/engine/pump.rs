//! The bidirectional byte pump: TCP-mode tunnels, and WebSocket/CONNECT tunnels after the
//! HTTP layer switched protocols. Half-closes propagate (EOF read on one side → shutdown of
//! the write side of the other), with HAProxy's idle and half-closed timeouts.
//!
//! MEMORY RULE: an idle tunnel holds no I/O buffer. Each direction reads into a 16 KiB
//! buffer that lives on the worker thread's stack only for the duration of one `poll` call
//! (uninitialised memory, so no memset), and writes straight from it. Only when the writer
//! cannot take all the bytes does the remainder move into a buffer borrowed from a shared
//! pool; that buffer goes back to the pool as soon as it is drained. So a tunnel that is
//! waiting for data costs its future's state (a few hundred bytes) plus one timer, whatever
//! the stream type.
//!
//! TLS streams follow the same rule: [`super::tls_stream`] drives rustls's unbuffered API
//! with stack buffers, so an idle TLS tunnel holds rustls's connection state (keys, a few
//! hundred bytes of handshake leftovers) but no I/O buffer.

use std::future::Future;
use std::mem::MaybeUninit;
use std::pin::Pin;
use std::sync::Mutex;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

use crate::config::ir::Timeouts;

/// Size of one I/O chunk: a stack read buffer, and the size of pooled buffers.
pub const CHUNK: usize = 16 * 1024;

/// Pooled buffers kept for reuse; beyond this, returned buffers are freed.
const POOL_KEEP: usize = 256;

/// A process-wide pool of `CHUNK`-sized buffers.
static POOL: Mutex<Vec<Box<[u8]>>> = Mutex::new(Vec::new());

/// A buffer borrowed from the pool; goes back on drop. (A plain boxed slice, so that an
/// `Option<PooledBuf>` in every tunnel half costs two words.)
pub struct PooledBuf(Box<[u8]>);

impl PooledBuf {
    pub fn get() -> PooledBuf {
        let b = POOL.lock().ok().and_then(|mut p| p.pop());
        PooledBuf(b.unwrap_or_else(|| vec![0u8; CHUNK].into_boxed_slice()))
    }

    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        &mut self.0
    }

    pub fn as_slice(&self) -> &[u8] {
        &self.0
    }
}

impl Drop for PooledBuf {
    fn drop(&mut self) {
        // (An empty boxed slice does not allocate.)
        let b = std::mem::take(&mut self.0);
        if b.len() == CHUNK {
            if let Ok(mut p) = POOL.lock() {
                if p.len() < POOL_KEEP {
                    p.push(b);
                }
            }
        }
    }
}

/// How many pooled buffers are currently idle in the pool (for tests and stats).
pub fn pool_idle() -> usize {
    POOL.lock().map(|p| p.len()).unwrap_or(0)
}

/// Timeouts of a tunnel. `None` means no limit (HAProxy's unset timeout).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TunnelTimeouts {
    /// Inactivity limit while both directions are open: reset by any byte in either
    /// direction.
    pub idle: Option<Duration>,
    /// Inactivity limit once the server→client direction is shut (we sent FIN to the client)
    /// and we wait for the client (`timeout client-fin`); falls back to `idle`.
    pub client_fin: Option<Duration>,
    /// Inactivity limit once the client→server direction is shut (we sent FIN to the server)
    /// and we wait for the server (`timeout server-fin`); falls back to `idle`.
    pub server_fin: Option<Duration>,
}

fn ms(v: Option<u32>) -> Option<Duration> {
    v.map(|m| Duration::from_millis(u64::from(m)))
}

impl TunnelTimeouts {
    /// The idle limit of a TCP tunnel, as measured on HAProxy 2.6.12 (TCP mode, no traffic):
    /// `timeout tunnel` when set; otherwise the smaller of `timeout client` and `timeout
    /// server` (whichever are set): measured on HAProxy 2.6.12 in TCP mode, an idle tunnel
    /// closes at 1s with client 1s/server 3s, client 3s/server 1s, client 1s alone and server
    /// 1s alone, and at 2s with tunnel 2s. Bytes moving in either direction refresh the
    /// timer, as HAProxy refreshes a socket's read timeout on write activity.
    pub fn from_ir(fe: &Timeouts, be: &Timeouts) -> Self {
        let idle = be.tunnel.or(match (fe.client, be.server) {
            (Some(c), Some(s)) => Some(c.min(s)),
            (c, s) => c.or(s),
        });
        TunnelTimeouts {
            idle: ms(idle),
            client_fin: ms(fe.client_fin),
            server_fin: ms(be.server_fin),
        }
    }
}

/// Why a tunnel ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TunnelEnd {
    /// Both directions reached EOF and were shut down.
    Closed,
    /// An inactivity timeout fired.
    Timeout,
    /// Reading from or writing to the client failed.
    ClientError,
    /// Reading from or writing to the server failed.
    ServerError,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TunnelStats {
    pub client_to_server: u64,
    pub server_to_client: u64,
    pub end: TunnelEnd,
}

/// Which side an I/O error came from.
#[derive(Debug, Clone, Copy)]
enum Side {
    Reader,
    Writer,
}

/// One direction of the tunnel.
#[derive(Default)]
struct Half {
    /// Bytes read but not yet written (only while the writer is slow).
    pending: Option<PooledBuf>,
    /// Offsets in `pending` (below `CHUNK`: 32 bits keep the tunnel's state small).
    pos: u32,
    len: u32,
    read_eof: bool,
    /// The writer was shut down after `read_eof`.
    done: bool,
    /// Bytes were written since the last successful flush.
    need_flush: bool,
    bytes: u64,
}

/// Result of polling one direction once.
struct Step {
    progress: bool,
    result: Poll<Result<(), Side>>,
}

/// Iterations of read/write per poll of one direction before yielding to other tasks.
const MAX_ROUNDS: usize = 16;

impl Half {
    fn poll<R, W>(&mut self, cx: &mut Context<'_>, mut r: Pin<&mut R>, mut w: Pin<&mut W>) -> Step
    where
        R: AsyncRead + ?Sized,
        W: AsyncWrite + ?Sized,
    {
        let mut progress = false;
        if self.done {
            return Step {
                progress,
                result: Poll::Ready(Ok(())),
            };
        }
        for _ in 0..MAX_ROUNDS {
            // 1. Drain what the writer refused earlier.
            if let Some(buf) = self.pending.as_ref() {
                while self.pos < self.len {
                    let (pos, len) = (self.pos as usize, self.len as usize);
                    match w
                        .as_mut()
                        .poll_write(cx, buf.as_slice().get(pos..len).unwrap_or_default())
                    {
                        Poll::Ready(Ok(0)) => {
                            return Step {
                                progress,
                                result: Poll::Ready(Err(Side::Writer)),
                            }
                        }
                        Poll::Ready(Ok(n)) => {
                            self.pos = (pos + n).min(len) as u32;
                            self.bytes += n as u64;
                            self.need_flush = true;
                            progress = true;
                        }
                        Poll::Ready(Err(_)) => {
                            return Step {
                                progress,
                                result: Poll::Ready(Err(Side::Writer)),
                            }
                        }
                        Poll::Pending => {
                            return Step {
                                progress,
                                result: Poll::Pending,
                            }
                        }
                    }
                }
                // Drained: give the buffer back now, so an idle tunnel holds none.
                self.pending = None;
                self.pos = 0;
                self.len = 0;
            }
            // 2. Shut the writer once the reader is finished.
            if self.read_eof {
                if self.need_flush {
                    match w.as_mut().poll_flush(cx) {
                        Poll::Ready(Ok(())) => self.need_flush = false,
                        Poll::Ready(Err(_)) => {
                            return Step {
                                progress,
                                result: Poll::Ready(Err(Side::Writer)),
                            }
                        }
                        Poll::Pending => {
                            return Step {
                                progress,
                                result: Poll::Pending,
                            }
                        }
                    }
                }
                return match w.as_mut().poll_shutdown(cx) {
                    Poll::Ready(_) => {
                        // A failed shutdown (peer already gone) still ends this direction.
                        self.done = true;
                        Step {
                            progress: true,
                            result: Poll::Ready(Ok(())),
                        }
                    }
                    Poll::Pending => Step {
                        progress,
                        result: Poll::Pending,
                    },
                };
            }
            // 3. Read into a stack buffer that only lives during this poll.
            let mut stack = [MaybeUninit::<u8>::uninit(); CHUNK];
            let mut rb = ReadBuf::uninit(&mut stack);
            match r.as_mut().poll_read(cx, &mut rb) {
                Poll::Ready(Ok(())) => {}
                Poll::Ready(Err(_)) => {
                    return Step {
                        progress,
                        result: Poll::Ready(Err(Side::Reader)),
                    }
                }
                Poll::Pending => {
                    // Nothing to read: push out what the writer may be buffering (TLS).
                    if self.need_flush {
                        match w.as_mut().poll_flush(cx) {
                            Poll::Ready(Ok(())) => self.need_flush = false,
                            Poll::Ready(Err(_)) => {
                                return Step {
                                    progress,
                                    result: Poll::Ready(Err(Side::Writer)),
                                }
                            }
                            Poll::Pending => {}
                        }
                    }
                    return Step {
                        progress,
                        result: Poll::Pending,
                    };
                }
            }
            let data = rb.filled();
            if data.is_empty() {
                self.read_eof = true;
                progress = true;
                continue;
            }
            progress = true;
            let mut off = 0;
            while off < data.len() {
                match w.as_mut().poll_write(cx, &data[off..]) {
                    Poll::Ready(Ok(0)) => {
                        return Step {
                            progress,
                            result: Poll::Ready(Err(Side::Writer)),
                        }
                    }
                    Poll::Ready(Ok(n)) => {
                        off += n;
                        self.bytes += n as u64;
                        self.need_flush = true;
                    }
                    Poll::Ready(Err(_)) => {
                        return Step {
                            progress,
                            result: Poll::Ready(Err(Side::Writer)),
                        }
                    }
                    Poll::Pending => {
                        // The writer is full: keep the rest in a pooled buffer until it drains.
                        let mut buf = PooledBuf::get();
                        let rest = &data[off..];
                        buf.as_mut_slice()[..rest.len()].copy_from_slice(rest);
                        self.pending = Some(buf);
                        self.pos = 0;
                        self.len = rest.len() as u32;
                        return Step {
                            progress,
                            result: Poll::Pending,
                        };
                    }
                }
            }
        }
        // Budget used up: let other tasks run, then continue.
        cx.waker().wake_by_ref();
        Step {
            progress,
            result: Poll::Pending,
        }
    }
}

/// The tunnel future, owning (or borrowing, for [`tunnel_ref`]) both streams. A plain
/// struct rather than an `async fn`, so that a tunnel's state holds each stream and the
/// timeouts once.
pub struct Tunnel<A, B> {
    a: A,
    b: B,
    c2s: Half,
    s2c: Half,
    t: TunnelTimeouts,
    /// Fires at the earliest possible expiry; moved lazily (only when it fires early) so a
    /// busy tunnel does not touch the timer wheel on every chunk. Created at the first poll.
    timer: Option<Pin<Box<Sleep>>>,
    /// The limit in force (depends on the half-close state).
    armed: Option<Duration>,
    /// Last time bytes moved or the half-close state changed (set at the first poll).
    last: Option<Instant>,
}

impl<A, B> Tunnel<A, B> {
    fn new(a: A, b: B, t: TunnelTimeouts) -> Self {
        Tunnel {
            a,
            b,
            c2s: Half::default(),
            s2c: Half::default(),
            t,
            timer: None,
            armed: t.idle,
            last: None,
        }
    }

    /// The inactivity limit for the current half-close state.
    fn limit(&self) -> Option<Duration> {
        match (self.c2s.done, self.s2c.done) {
            (true, false) => self.t.server_fin.or(self.t.idle),
            (false, true) => self.t.client_fin.or(self.t.idle),
            _ => self.t.idle,
        }
    }

    /// Re-evaluates the limit; true when the tunnel has been inactive for too long.
    fn expired(&mut self, cx: &mut Context<'_>, progress: bool) -> bool {
        let last = match self.last {
            Some(l) if !progress => l,
            _ => {
                let now = Instant::now();
                self.last = Some(now);
                now
            }
        };
        let limit = self.limit();
        let idle = self.t.idle;
        let timer = self.timer.get_or_insert_with(|| {
            // With no limit the timer is never polled; its deadline does not matter.
            let first = last + idle.unwrap_or(Duration::from_secs(86400));
            Box::pin(tokio::time::sleep_until(first))
        });
        if limit != self.armed {
            self.armed = limit;
            if let Some(d) = limit {
                timer.as_mut().reset(last + d);
            }
        }
        let Some(d) = self.armed else { return false };
        while timer.as_mut().poll(cx).is_ready() {
            let deadline = last + d;
            if Instant::now() >= deadline {
                return true;
            }
            timer.as_mut().reset(deadline);
        }
        false
    }
}

impl<A, B> Future for Tunnel<A, B>
where
    A: AsyncRead + AsyncWrite + Unpin,
    B: AsyncRead + AsyncWrite + Unpin,
{
    type Output = TunnelStats;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<TunnelStats> {
        let this = self.get_mut();
        let stats = |this: &Self, end| TunnelStats {
            client_to_server: this.c2s.bytes,
            server_to_client: this.s2c.bytes,
            end,
        };
        let s1 = this
            .c2s
            .poll(cx, Pin::new(&mut this.a), Pin::new(&mut this.b));
        if let Poll::Ready(Err(side)) = s1.result {
            let end = match side {
                Side::Reader => TunnelEnd::ClientError,
                Side::Writer => TunnelEnd::ServerError,
            };
            return Poll::Ready(stats(this, end));
        }
        let s2 = this
            .s2c
            .poll(cx, Pin::new(&mut this.b), Pin::new(&mut this.a));
        if let Poll::Ready(Err(side)) = s2.result {
            let end = match side {
                Side::Reader => TunnelEnd::ServerError,
                Side::Writer => TunnelEnd::ClientError,
            };
            return Poll::Ready(stats(this, end));
        }
        if this.c2s.done && this.s2c.done {
            return Poll::Ready(stats(this, TunnelEnd::Closed));
        }
        if this.expired(cx, s1.progress || s2.progress) {
            return Poll::Ready(stats(this, TunnelEnd::Timeout));
        }
        Poll::Pending
    }
}

/// Pumps bytes both ways between `client` and `server` until both directions are closed,
/// an error occurs, or an inactivity timeout fires. The streams are dropped (closed) when
/// the returned future is. The inactivity clock starts at its first poll.
pub fn tunnel<A, B>(client: A, server: B, t: TunnelTimeouts) -> Tunnel<A, B>
where
    A: AsyncRead + AsyncWrite + Unpin,
    B: AsyncRead + AsyncWrite + Unpin,
{
    Tunnel::new(client, server, t)
}

/// Like [`tunnel`] but borrows the streams, so the caller can inspect them afterwards.
pub fn tunnel_ref<'a, A, B>(
    client: &'a mut A,
    server: &'a mut B,
    t: TunnelTimeouts,
) -> Tunnel<&'a mut A, &'a mut B>
where
    A: AsyncRead + AsyncWrite + Unpin + ?Sized,
    B: AsyncRead + AsyncWrite + Unpin + ?Sized,
{
    Tunnel::new(client, server, t)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn tt(idle_ms: u64) -> TunnelTimeouts {
        TunnelTimeouts {
            idle: Some(Duration::from_millis(idle_ms)),
            ..Default::default()
        }
    }

    #[tokio::test]
    async fn copies_both_ways_and_half_closes() {
        let (mut c, c_side) = tokio::io::duplex(64);
        let (s_side, mut s) = tokio::io::duplex(64);
        let h = tokio::spawn(tunnel(c_side, s_side, tt(5000)));
        let big: Vec<u8> = (0..100_000u32).map(|i| i as u8).collect();
        let big2 = big.clone();
        let w = tokio::spawn(async move {
            c.write_all(&big2).await.unwrap();
            c.shutdown().await.unwrap();
            let mut back = Vec::new();
            c.read_to_end(&mut back).await.unwrap();
            back
        });
        let mut got = Vec::new();
        s.read_to_end(&mut got).await.unwrap();
        assert_eq!(got, big);
        s.write_all(b"reply after half-close").await.unwrap();
        s.shutdown().await.unwrap();
        let back = w.await.unwrap();
        assert_eq!(back, b"reply after half-close");
        let st = h.await.unwrap();
        assert_eq!(st.end, TunnelEnd::Closed);
        assert_eq!(st.client_to_server, 100_000);
        assert_eq!(st.server_to_client, 22);
    }

    #[tokio::test]
    async fn idle_timeout_fires() {
        let (_c, c_side) = tokio::io::duplex(64);
        let (s_side, _s) = tokio::io::duplex(64);
        let t0 = std::time::Instant::now();
        let st = tunnel(c_side, s_side, tt(100)).await;
        assert_eq!(st.end, TunnelEnd::Timeout);
        assert!(t0.elapsed() >= Duration::from_millis(90));
    }

    #[tokio::test]
    async fn client_fin_timeout_applies_after_server_closes() {
        let (_c, c_side) = tokio::io::duplex(64);
        let (s_side, mut s) = tokio::io::duplex(64);
        let t = TunnelTimeouts {
            idle: Some(Duration::from_secs(10)),
            client_fin: Some(Duration::from_millis(100)),
            server_fin: None,
        };
        s.shutdown().await.unwrap();
        let t0 = std::time::Instant::now();
        let st = tunnel(c_side, s_side, t).await;
        assert_eq!(st.end, TunnelEnd::Timeout);
        assert!(t0.elapsed() < Duration::from_secs(5));
    }

    /// The memory rule: a buffer is borrowed only while a writer lags, and given back as
    /// soon as it drains; an idle tunnel holds none.
    #[tokio::test]
    async fn idle_tunnel_holds_no_buffer() {
        let (mut c, mut c_side) = tokio::io::duplex(64 * 1024);
        let (mut s_side, mut s) = tokio::io::duplex(1024);
        let mut tun = tunnel_ref(&mut c_side, &mut s_side, TunnelTimeouts::default());
        let poll_once = |tun: &mut Tunnel<_, _>| {
            let waker = futures_noop_waker();
            let mut cx = Context::from_waker(&waker);
            assert!(Pin::new(tun).poll(&mut cx).is_pending());
        };
        poll_once(&mut tun);
        assert!(tun.c2s.pending.is_none() && tun.s2c.pending.is_none());
        // 4 KiB into a 1 KiB pipe: the rest waits in a pooled buffer.
        c.write_all(&[7u8; 4096]).await.unwrap();
        poll_once(&mut tun);
        assert!(tun.c2s.pending.is_some());
        // Drain the server side; the buffer goes back.
        let mut got = 0;
        let mut buf = [0u8; 1024];
        while got < 4096 {
            got += s.read(&mut buf).await.unwrap();
            poll_once(&mut tun);
        }
        assert!(tun.c2s.pending.is_none() && tun.s2c.pending.is_none());
        assert_eq!(tun.c2s.bytes, 4096);
    }

    fn futures_noop_waker() -> std::task::Waker {
        struct Noop;
        impl std::task::Wake for Noop {
            fn wake(self: std::sync::Arc<Self>) {}
        }
        std::task::Waker::from(std::sync::Arc::new(Noop))
    }

    #[test]
    fn timeouts_from_ir() {
        let fe = Timeouts {
            client: Some(1000),
            client_fin: Some(7),
            ..Default::default()
        };
        let be = Timeouts {
            server: Some(3000),
            ..Default::default()
        };
        // Measured on HAProxy 2.6.12: the smaller of client and server, or the one that is set.
        let t = TunnelTimeouts::from_ir(&fe, &be);
        assert_eq!(t.idle, Some(Duration::from_millis(1000)));
        assert_eq!(t.client_fin, Some(Duration::from_millis(7)));
        let be0 = Timeouts::default();
        assert_eq!(
            TunnelTimeouts::from_ir(&fe, &be0).idle,
            Some(Duration::from_millis(1000))
        );
        assert_eq!(
            TunnelTimeouts::from_ir(&Timeouts::default(), &be0).idle,
            None
        );
        let be2 = Timeouts {
            server: Some(3000),
            tunnel: Some(50),
            ..Default::default()
        };
        assert_eq!(
            TunnelTimeouts::from_ir(&fe, &be2).idle,
            Some(Duration::from_millis(50))
        );
    }
}
