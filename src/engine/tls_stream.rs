//! The server side of a TLS-terminated connection: rustls's *unbuffered* connection API
//! driven over a tokio `TcpStream`, as an `AsyncRead + AsyncWrite` ([`TlsServerStream`]).
//!
//! Why not tokio-rustls: rustls's buffered `ServerConnection` keeps a 4 KiB record
//! deframer per connection for as long as the connection lives, so every idle TLS tunnel
//! or keep-alive connection held an I/O buffer (about half of its memory). Here, as in
//! [`super::pump`], an idle connection holds no buffer:
//! - reads go into a 16 KiB stack buffer that exists only during one `poll_read`; records
//!   are decrypted there and copied to the caller. Only the tail of a record that has not
//!   fully arrived moves to the heap (`partial`), and only plaintext the caller had no room
//!   for is kept (`plain`); both are freed as soon as they are consumed;
//! - writes are encrypted into a stack buffer and written at once; what the socket does not
//!   take waits in `pending_tx` (freed when sent).
//!
//! Post-handshake messages (TLS 1.3 session tickets, key updates) are sent with the next
//! record written, or on flush/shutdown, rather than on their own.
//!
//! Semantics follow tokio-rustls, which the rest of the engine was written against: EOF
//! after the peer's `close_notify` reads as `Ok(0)`; a TCP close without `close_notify`
//! reads as an `UnexpectedEof` error; `poll_shutdown` sends `close_notify`, then shuts
//! the TCP write side.

use std::cell::RefCell;
use std::io;
use std::mem::MaybeUninit;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use rustls::server::UnbufferedServerConnection;
use rustls::unbuffered::{ConnectionState, EncodeError, EncryptError, UnbufferedStatus};
use rustls::ServerConfig;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// Stack buffer for one socket read or one encrypted write: one full TLS record (16 KiB
/// of plaintext plus header, padding and tag) fits.
const IO_CHUNK: usize = 16 * 1024 + 512;
/// Largest plaintext encrypted by one `poll_write` (one TLS record).
const MAX_PLAINTEXT: usize = 16 * 1024;
/// Encrypted bytes waiting for the socket beyond which `poll_write` waits.
const TX_HIGH_WATER: usize = 64 * 1024;

thread_local! {
    /// The SNI of the ClientHello being processed on this thread, recorded by the
    /// certificate resolver (rustls's unbuffered server API has no `server_name()`). Set
    /// and taken within one synchronous `process_tls_records` call.
    static HANDSHAKE_SNI: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Called by the certificate resolver with the ClientHello's server name.
pub fn note_sni(name: Option<&str>) {
    HANDSHAKE_SNI.with(|s| *s.borrow_mut() = name.map(str::to_string));
}

/// Where rustls stands after processing what it was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Needs more bytes from the peer to go on with the handshake.
    Handshaking,
    /// Application data may be written (the handshake may still await the client's
    /// Finished: check `is_handshaking`).
    Traffic,
    /// Both sides sent `close_notify`.
    Closed,
}

/// A TLS server connection over TCP, after [`accept`].
pub struct TlsServerStream {
    tcp: TcpStream,
    conn: UnbufferedServerConnection,
    /// Received bytes of a record not complete yet (empty, unallocated, otherwise).
    partial: Vec<u8>,
    /// Decrypted bytes the reader had no room for, from `plain_pos`.
    plain: Vec<u8>,
    plain_pos: usize,
    /// Encrypted bytes not yet taken by the socket, from `tx_pos`.
    pending_tx: Vec<u8>,
    tx_pos: usize,
    /// The peer sent `close_notify`.
    peer_closed: bool,
    /// The TCP connection reached EOF.
    tcp_eof: bool,
    /// `close_notify` is queued or sent.
    close_sent: bool,
    sni: Option<String>,
}

fn tls_err(e: rustls::Error) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e)
}

/// Runs the handshake on `tcp` (the caller bounds it with `timeout client`).
pub async fn accept(tcp: TcpStream, config: Arc<ServerConfig>) -> io::Result<TlsServerStream> {
    let conn = UnbufferedServerConnection::new(config).map_err(tls_err)?;
    let mut s = TlsServerStream {
        tcp,
        conn,
        partial: Vec::new(),
        plain: Vec::new(),
        plain_pos: 0,
        pending_tx: Vec::new(),
        tx_pos: 0,
        peer_closed: false,
        tcp_eof: false,
        close_sent: false,
        sni: None,
    };
    std::future::poll_fn(|cx| s.poll_handshake(cx)).await?;
    Ok(s)
}

impl TlsServerStream {
    pub fn tcp(&self) -> &TcpStream {
        &self.tcp
    }

    pub fn alpn_protocol(&self) -> Option<&[u8]> {
        self.conn.alpn_protocol()
    }

    pub fn server_name(&self) -> Option<&str> {
        self.sni.as_deref()
    }

    /// Feeds `incoming` to rustls until it needs more bytes or may send application data.
    /// Handshake output goes to `pending_tx`, application data to `out` then `plain`.
    /// Returns the bytes of `incoming` consumed and the phase reached.
    fn drive(
        &mut self,
        incoming: &mut [u8],
        mut out: Option<&mut ReadBuf<'_>>,
    ) -> Result<(usize, Phase), rustls::Error> {
        let mut consumed = 0;
        loop {
            let UnbufferedStatus { discard, state } = self
                .conn
                .process_tls_records(incoming.get_mut(consumed..).unwrap_or_default());
            let state = match state {
                Ok(s) => s,
                Err(e) => {
                    // rustls may have queued an alert: send it with what is pending.
                    self.queue_handshake_output();
                    return Err(e);
                }
            };
            match state {
                ConnectionState::ReadTraffic(mut rt) => {
                    while let Some(rec) = rt.next_record() {
                        let rec = rec?;
                        let mut payload = rec.payload;
                        if let Some(buf) = out.as_deref_mut() {
                            let n = payload.len().min(buf.remaining());
                            buf.put_slice(&payload[..n]);
                            payload = &payload[n..];
                        }
                        if !payload.is_empty() {
                            self.plain.extend_from_slice(payload);
                        }
                    }
                }
                ConnectionState::EncodeTlsData(mut enc) => {
                    encode_into(&mut self.pending_tx, |b| enc.encode(b))?;
                }
                ConnectionState::TransmitTlsData(t) => t.done(),
                ConnectionState::BlockedHandshake => {
                    return Ok((consumed + discard, Phase::Handshaking))
                }
                ConnectionState::WriteTraffic(_) => {
                    return Ok((consumed + discard, Phase::Traffic))
                }
                ConnectionState::PeerClosed => self.peer_closed = true,
                ConnectionState::Closed => {
                    self.peer_closed = true;
                    return Ok((consumed + discard, Phase::Closed));
                }
                // Early data is never enabled (`max_early_data_size` is 0).
                _ => return Err(rustls::Error::General("unexpected TLS state".into())),
            }
            consumed += discard;
        }
    }

    /// Moves whatever rustls has queued (alerts) into `pending_tx`, best effort.
    fn queue_handshake_output(&mut self) {
        for _ in 0..8 {
            let UnbufferedStatus { state, .. } = self.conn.process_tls_records(&mut []);
            match state {
                Ok(ConnectionState::EncodeTlsData(mut enc)) => {
                    if encode_into(&mut self.pending_tx, |b| enc.encode(b)).is_err() {
                        return;
                    }
                }
                Ok(ConnectionState::TransmitTlsData(t)) => t.done(),
                _ => return,
            }
        }
    }

    /// Writes `pending_tx` to the socket; `Ready` once it is all written.
    fn poll_flush_tx(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.tx_pos < self.pending_tx.len() {
            ready!(self.tcp.poll_write_ready(cx))?;
            match self.tcp.try_write(&self.pending_tx[self.tx_pos..]) {
                Ok(0) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Ok(n) => self.tx_pos += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
        self.pending_tx = Vec::new();
        self.tx_pos = 0;
        Poll::Ready(Ok(()))
    }

    /// Tries to write `pending_tx` without waiting.
    fn try_flush_tx(&mut self) -> io::Result<()> {
        while self.tx_pos < self.pending_tx.len() {
            match self.tcp.try_write(&self.pending_tx[self.tx_pos..]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => self.tx_pos += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) => return Err(e),
            }
        }
        self.pending_tx = Vec::new();
        self.tx_pos = 0;
        Ok(())
    }

    fn poll_handshake(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        loop {
            let mut partial = std::mem::take(&mut self.partial);
            let result = self.drive(&mut partial, None);
            // The resolver ran (or not) during that call, on this thread.
            if let Some(sni) = HANDSHAKE_SNI.with(|s| s.borrow_mut().take()) {
                self.sni = Some(sni);
            }
            let consumed = result.as_ref().map_or(partial.len(), |r| r.0);
            partial.drain(..consumed.min(partial.len()));
            self.partial = partial;
            let phase = match result {
                Ok((_, p)) => p,
                Err(e) => {
                    // Best effort: let the client see the alert.
                    let _ = self.try_flush_tx();
                    return Poll::Ready(Err(tls_err(e)));
                }
            };
            if !self.conn.is_handshaking()
                && self.conn.protocol_version() == Some(rustls::ProtocolVersion::TLSv1_3)
            {
                // What is left to send are the session tickets: they go out with the first
                // response (one packet and one wake-up of the client less per handshake).
                self.release_handshake_buffer();
                return Poll::Ready(Ok(()));
            }
            ready!(self.poll_flush_tx(cx))?;
            if self.conn.is_handshaking() && (phase == Phase::Closed || self.peer_closed) {
                return Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "tls handshake eof",
                )));
            }
            if !self.conn.is_handshaking() {
                self.release_handshake_buffer();
                return Poll::Ready(Ok(()));
            }
            // More bytes from the client.
            ready!(self.tcp.poll_read_ready(cx))?;
            let want = record_len(&self.partial)
                .map_or(4096, |l| l.saturating_sub(self.partial.len()).max(1024));
            self.partial.reserve(want);
            match self.tcp.try_read_buf(&mut self.partial) {
                Ok(0) => {
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "tls handshake eof",
                    )))
                }
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }

    /// Frees the handshake's receive buffer (keeping a record begun after it, if any).
    fn release_handshake_buffer(&mut self) {
        if self.partial.is_empty() {
            self.partial = Vec::new();
        } else {
            self.partial.shrink_to_fit();
        }
    }

    /// Copies buffered plaintext to `buf`; true when some was copied.
    fn take_plain(&mut self, buf: &mut ReadBuf<'_>) -> bool {
        if self.plain_pos >= self.plain.len() {
            return false;
        }
        let n = (self.plain.len() - self.plain_pos).min(buf.remaining());
        buf.put_slice(&self.plain[self.plain_pos..self.plain_pos + n]);
        self.plain_pos += n;
        if self.plain_pos >= self.plain.len() {
            self.plain = Vec::new();
            self.plain_pos = 0;
        }
        n > 0
    }

    /// Processes `data` (received bytes: the pending partial record first), delivering
    /// plaintext to `buf`; keeps an incomplete record's bytes in `partial`.
    fn process_received(&mut self, data: &mut [u8], buf: &mut ReadBuf<'_>) -> io::Result<()> {
        let result = self.drive(data, Some(buf));
        let (consumed, _) = match result {
            Ok(r) => r,
            Err(e) => {
                let _ = self.try_flush_tx();
                return Err(tls_err(e));
            }
        };
        let rest = data.get(consumed..).unwrap_or_default();
        if self.peer_closed {
            // Nothing after close_notify counts.
            self.partial = Vec::new();
        } else {
            self.partial = rest.to_vec();
        }
        // Handshake messages after the handshake (a key update) go out before the next
        // record we send, as RFC 8446 4.6.3 requires, not necessarily now.
        Ok(())
    }
}

/// Length of the TLS record starting `b` (header included), once its header is there.
fn record_len(b: &[u8]) -> Option<usize> {
    let hdr = b.get(..5)?;
    Some(5 + (usize::from(hdr[3]) << 8 | usize::from(hdr[4])))
}

/// Appends what `enc` writes to `out`, growing it as rustls asks.
fn encode_into(
    out: &mut Vec<u8>,
    mut enc: impl FnMut(&mut [u8]) -> Result<usize, EncodeError>,
) -> Result<(), rustls::Error> {
    let start = out.len();
    let mut room = 4096;
    loop {
        out.resize(start + room, 0);
        match enc(&mut out[start..]) {
            Ok(n) => {
                out.truncate(start + n);
                return Ok(());
            }
            Err(EncodeError::InsufficientSize(s)) if s.required_size > room => {
                room = s.required_size;
            }
            Err(e) => {
                out.truncate(start);
                return Err(rustls::Error::General(format!("TLS encode: {e}")));
            }
        }
    }
}

/// A zeroed-on-demand stack buffer: `MaybeUninit` so that no memset runs per poll.
fn stack_chunk() -> [MaybeUninit<u8>; IO_CHUNK] {
    [MaybeUninit::uninit(); IO_CHUNK]
}

impl AsyncRead for TlsServerStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if buf.remaining() == 0 {
            return Poll::Ready(Ok(()));
        }
        loop {
            if this.take_plain(buf) {
                return Poll::Ready(Ok(()));
            }
            if this.peer_closed {
                return Poll::Ready(Ok(()));
            }
            if this.tcp_eof {
                return Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "peer closed connection without sending TLS close_notify",
                )));
            }
            let before = buf.filled().len();
            let mut stack = stack_chunk();
            let mut rb = ReadBuf::uninit(&mut stack);
            // A record already begun goes first.
            let held = std::mem::take(&mut this.partial);
            if held.len() >= IO_CHUNK {
                return Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "TLS record too large",
                )));
            }
            rb.put_slice(&held);
            match Pin::new(&mut this.tcp).poll_read(cx, &mut rb) {
                Poll::Pending => {
                    this.partial = held;
                    return Poll::Pending;
                }
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Ready(Ok(())) if rb.filled().len() == held.len() => {
                    this.tcp_eof = true;
                    this.partial = held;
                    continue;
                }
                Poll::Ready(Ok(())) => {}
            }
            drop(held);
            let data = rb.filled_mut();
            this.process_received(data, buf)?;
            if buf.filled().len() > before {
                return Poll::Ready(Ok(()));
            }
        }
    }
}

impl TlsServerStream {
    /// Encrypts `data` (at most one record) and writes it, keeping what the socket does
    /// not take.
    fn encrypt_and_send(&mut self, data: &[u8]) -> io::Result<()> {
        let mut stack = stack_chunk();
        let mut rb = ReadBuf::uninit(&mut stack);
        // Room for one record: the plaintext plus header, explicit nonce and tag (only
        // that much is zeroed).
        let out = rb.initialize_unfilled_to((data.len() + 64).min(IO_CHUNK));
        let n = loop {
            let UnbufferedStatus { state, .. } = self.conn.process_tls_records(&mut []);
            match state.map_err(tls_err)? {
                ConnectionState::WriteTraffic(mut wt) => match wt.encrypt(data, out) {
                    Ok(n) => break n,
                    Err(EncryptError::EncryptExhausted) => {
                        return Err(io::Error::other("TLS encryption limit reached"))
                    }
                    Err(e) => return Err(io::Error::other(format!("TLS encrypt: {e}"))),
                },
                ConnectionState::EncodeTlsData(mut enc) => {
                    encode_into(&mut self.pending_tx, |b| enc.encode(b)).map_err(tls_err)?
                }
                ConnectionState::TransmitTlsData(t) => t.done(),
                ConnectionState::ReadTraffic(mut rt) => {
                    // Not expected (reads drain everything); keep the data for the reader.
                    while let Some(rec) = rt.next_record() {
                        let rec = rec.map_err(tls_err)?;
                        self.plain.extend_from_slice(rec.payload);
                    }
                }
                ConnectionState::PeerClosed => self.peer_closed = true,
                _ => return Err(io::ErrorKind::BrokenPipe.into()),
            }
        };
        let enc = &out[..n];
        if self.tx_pos < self.pending_tx.len() {
            self.pending_tx.extend_from_slice(enc);
            return self.try_flush_tx();
        }
        let mut sent = 0;
        while sent < enc.len() {
            match self.tcp.try_write(&enc[sent..]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(k) => sent += k,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => return Err(e),
            }
        }
        if sent < enc.len() {
            self.pending_tx.extend_from_slice(&enc[sent..]);
        }
        Ok(())
    }

    /// Waits until fewer than `TX_HIGH_WATER` encrypted bytes are waiting.
    fn poll_tx_room(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.pending_tx.len() - self.tx_pos >= TX_HIGH_WATER {
            ready!(self.tcp.poll_write_ready(cx))?;
            self.try_flush_tx()?;
        }
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for TlsServerStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        ready!(this.poll_tx_room(cx))?;
        let n = buf.len().min(MAX_PLAINTEXT);
        this.encrypt_and_send(&buf[..n])?;
        Poll::Ready(Ok(n))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let total: usize = bufs.iter().map(|b| b.len()).sum();
        if total == 0 {
            return Poll::Ready(Ok(0));
        }
        ready!(this.poll_tx_room(cx))?;
        // One record for what fits (a response head and its body, typically).
        if let Some(first) = bufs.iter().find(|b| !b.is_empty()) {
            if first.len() >= MAX_PLAINTEXT || bufs.len() == 1 {
                let n = first.len().min(MAX_PLAINTEXT);
                this.encrypt_and_send(&first[..n])?;
                return Poll::Ready(Ok(n));
            }
        }
        let mut gather = [MaybeUninit::<u8>::uninit(); MAX_PLAINTEXT];
        let mut g = ReadBuf::uninit(&mut gather);
        for b in bufs {
            let n = b.len().min(g.remaining());
            g.put_slice(&b[..n]);
            if g.remaining() == 0 {
                break;
            }
        }
        let n = g.filled().len();
        this.encrypt_and_send(g.filled())?;
        Poll::Ready(Ok(n))
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().poll_flush_tx(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if !this.close_sent {
            this.close_sent = true;
            let UnbufferedStatus { state, .. } = this.conn.process_tls_records(&mut []);
            if let Ok(ConnectionState::WriteTraffic(mut wt)) = state {
                let _ = encode_into(&mut this.pending_tx, |b| {
                    wt.queue_close_notify(b).map_err(|e| match e {
                        EncryptError::InsufficientSize(s) => EncodeError::InsufficientSize(s),
                        _ => EncodeError::AlreadyEncoded,
                    })
                });
            }
        }
        ready!(this.poll_flush_tx(cx))?;
        Pin::new(&mut this.tcp).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ir::{BindTls, TlsDefaults, TlsVersion};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn server_config(max_ver: TlsVersion) -> Arc<ServerConfig> {
        let pem = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/testdata/certs/ecdsa-wild.b.test.pem"
        );
        let certs = crate::config::parse::tls::load_crt(pem, None).expect("test certificate");
        let tls = BindTls {
            certs,
            max_ver: Some(max_ver),
            ..BindTls::default()
        };
        crate::engine::tls::server_config(&tls, &TlsDefaults::default()).expect("server config")
    }

    fn buffers(s: &TlsServerStream) -> (usize, usize, usize) {
        (
            s.partial.capacity(),
            s.plain.capacity(),
            s.pending_tx.capacity(),
        )
    }

    /// Echo through the stream with reads and writes of every size (1 byte to several
    /// records), then: once everything sent was echoed, the stream holds no buffer; a clean
    /// close reads as EOF on both sides.
    async fn echo_round(max_ver: TlsVersion) {
        let cfg = server_config(max_ver);
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        const TOTAL: usize = 300_000;
        let server = tokio::spawn(async move {
            let (tcp, _) = l.accept().await.unwrap();
            let mut s = accept(tcp, cfg).await.unwrap();
            assert_eq!(s.server_name(), Some("x.b.test"));
            let mut sizes = [1usize, 7, 100, 4096, 16384, 40000].into_iter().cycle();
            let mut buf = vec![0u8; 40000];
            let mut echoed = 0;
            while echoed < TOTAL {
                let want = sizes.next().unwrap_or(1);
                let n = s.read(&mut buf[..want]).await.unwrap();
                assert!(n > 0, "early EOF after {echoed} bytes");
                s.write_all(&buf[..n]).await.unwrap();
                s.flush().await.unwrap();
                echoed += n;
            }
            // All consumed and sent: nothing is held while idle.
            assert_eq!(buffers(&s), (0, 0, 0));
            // The client's close_notify reads as EOF; ours goes back.
            assert_eq!(s.read(&mut buf).await.unwrap(), 0);
            s.shutdown().await.unwrap();
        });
        let (client_cfg, _) =
            crate::engine::health::tls::client_config(&TlsDefaults::default()).unwrap();
        let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        let name = rustls::pki_types::ServerName::try_from("x.b.test").unwrap();
        let c = tokio_rustls::TlsConnector::from(client_cfg)
            .connect(name, tcp)
            .await
            .unwrap();
        let (mut rd, mut wr) = tokio::io::split(c);
        let data: Vec<u8> = (0..TOTAL).map(|i| (i % 251) as u8).collect();
        let sent = data.clone();
        let writer = tokio::spawn(async move {
            let mut sizes = [3usize, 16385, 1, 999, 65536].into_iter().cycle();
            let mut pos = 0;
            while pos < sent.len() {
                let n = sizes.next().unwrap_or(1).min(sent.len() - pos);
                wr.write_all(&sent[pos..pos + n]).await.unwrap();
                pos += n;
            }
            wr
        });
        let mut got = vec![0u8; TOTAL];
        tokio::time::timeout(std::time::Duration::from_secs(20), rd.read_exact(&mut got))
            .await
            .expect("echo timed out")
            .unwrap();
        assert!(got == data, "echoed bytes differ");
        let mut wr = writer.await.unwrap();
        wr.shutdown().await.unwrap();
        let mut rest = Vec::new();
        rd.read_to_end(&mut rest).await.unwrap();
        assert!(rest.is_empty());
        server.await.unwrap();
    }

    #[tokio::test]
    async fn echo_tls13() {
        echo_round(TlsVersion::Tls13).await;
    }

    #[tokio::test]
    async fn echo_tls12() {
        echo_round(TlsVersion::Tls12).await;
    }
}
