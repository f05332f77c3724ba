//! Origins and load generators for `bench/engine-bench`.
//!
//! Every mode runs on a single-threaded tokio runtime, so `taskset -c N` pins all of it
//! to one core. Client modes print exactly one JSON object on stdout.
//!
//! Servers (one process serves all of them):
//!   serve --http PORT --ws PORT --bulk PORT
//!     http: HTTP/1.1 keep-alive origin, fixed 13-byte body, pipelining-safe
//!     ws:   WebSocket echo origin (RFC 6455 handshake, echoes data frames, answers ping/close)
//!     bulk: reads a big-endian u64 N, writes N bytes, closes
//!
//! Clients:
//!   tls    --addr A --sni NAME --ver 12|13 --conc C --secs S
//!          one full TLS handshake (no resumption) + GET with Connection: close per connection
//!   ws     --addr A --conns C --secs S --size B [--interval-us U]
//!          C WebSocket connections, one message in flight each; with --interval-us a
//!          connection sends one message per interval (paced, for latency)
//!   bulk   --addr A --bytes N      one TCP stream, N bytes downloaded
//!   idle   --addr A --kind http|ws --count N [--sni NAME] [--conc C]
//!          opens N connections (optionally TLS), does one request / upgrade on each,
//!          prints the JSON result, then holds them until stdin reaches EOF.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

type Res<T> = Result<T, String>;

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

fn main() {
    let argv: Vec<String> = std::env::args().collect();
    if argv.len() < 2 {
        eprintln!("usage: loadgen serve|tls|ws|bulk|idle [--key value]...");
        std::process::exit(2);
    }
    let mode = argv[1].clone();
    let mut opts = HashMap::new();
    let mut i = 2;
    while i < argv.len() {
        let k = argv[i].trim_start_matches("--").to_string();
        let v = argv.get(i + 1).cloned().unwrap_or_default();
        opts.insert(k, v);
        i += 2;
    }
    let o = Opts(opts);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let local = tokio::task::LocalSet::new();
    local.block_on(&rt, async move {
        match mode.as_str() {
            "serve" => serve(&o).await,
            "tls" => tls_load(&o).await,
            "ws" => ws_load(&o).await,
            "bulk" => bulk_get(&o).await,
            "idle" => idle(&o).await,
            m => {
                eprintln!("unknown mode {m}");
                std::process::exit(2)
            }
        }
    });
}

struct Opts(HashMap<String, String>);
impl Opts {
    fn get(&self, k: &str) -> Option<&str> {
        self.0.get(k).map(|s| s.as_str())
    }
    fn num(&self, k: &str, d: u64) -> u64 {
        self.get(k).map(|v| v.parse().expect(k)).unwrap_or(d)
    }
    fn addr(&self) -> SocketAddr {
        self.get("addr").expect("--addr").parse().expect("--addr host:port")
    }
}

fn find(h: &[u8], n: &[u8]) -> Option<usize> {
    h.windows(n.len()).position(|w| w == n)
}

fn json_str(s: &str) -> String {
    let mut o = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            c if (c as u32) < 0x20 => o.push_str(&format!("\\u{:04x}", c as u32)),
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

fn json_errs(errs: &[String]) -> String {
    let v: Vec<String> = errs.iter().map(|e| json_str(e)).collect();
    format!("[{}]", v.join(","))
}

struct Errs {
    count: u64,
    first: Vec<String>,
}
impl Errs {
    fn new() -> Self {
        Errs { count: 0, first: Vec::new() }
    }
    fn add(&mut self, e: String) {
        self.count += 1;
        if self.first.len() < 5 && !self.first.contains(&e) {
            self.first.push(e);
        }
    }
}

// ---------------------------------------------------------------- servers

async fn serve(o: &Opts) {
    let mut tasks = Vec::new();
    if let Some(p) = o.get("http") {
        let l = TcpListener::bind(("127.0.0.1", p.parse::<u16>().unwrap())).await.expect("bind http");
        tasks.push(tokio::task::spawn_local(accept_loop(l, 0)));
    }
    if let Some(p) = o.get("ws") {
        let l = TcpListener::bind(("127.0.0.1", p.parse::<u16>().unwrap())).await.expect("bind ws");
        tasks.push(tokio::task::spawn_local(accept_loop(l, 1)));
    }
    if let Some(p) = o.get("bulk") {
        let l = TcpListener::bind(("127.0.0.1", p.parse::<u16>().unwrap())).await.expect("bind bulk");
        tasks.push(tokio::task::spawn_local(accept_loop(l, 2)));
    }
    println!("{{\"serving\":true}}");
    for t in tasks {
        let _ = t.await;
    }
}

async fn accept_loop(l: TcpListener, kind: u8) {
    loop {
        let (s, _) = match l.accept().await {
            Ok(x) => x,
            Err(e) => {
                eprintln!("accept: {e}");
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let _ = s.set_nodelay(true);
        match kind {
            0 => drop(tokio::task::spawn_local(origin_conn(s))),
            1 => drop(tokio::task::spawn_local(ws_echo_conn(s))),
            _ => drop(tokio::task::spawn_local(bulk_conn(s))),
        }
    }
}

const BODY: &[u8] = b"hello, world\n";

/// Returns (body length, close after response).
fn parse_req_head(head: &[u8]) -> (usize, bool) {
    let text = String::from_utf8_lossy(head);
    let mut lines = text.split("\r\n");
    let first = lines.next().unwrap_or("");
    let mut close = first.ends_with("HTTP/1.0");
    let mut clen = 0;
    for l in lines {
        let Some((k, v)) = l.split_once(':') else { continue };
        let k = k.trim().to_ascii_lowercase();
        let v = v.trim().to_ascii_lowercase();
        if k == "content-length" {
            clen = v.parse().unwrap_or(0);
        } else if k == "connection" {
            if v.contains("close") {
                close = true;
            } else if v.contains("keep-alive") {
                close = false;
            }
        }
    }
    (clen, close)
}

async fn origin_conn(mut s: TcpStream) {
    let mut buf: Vec<u8> = Vec::with_capacity(4096);
    let mut out: Vec<u8> = Vec::with_capacity(4096);
    let resp_ka = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n",
        BODY.len()
    );
    let resp_close = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        BODY.len()
    );
    loop {
        let mut start = 0;
        let mut close = false;
        while let Some(end) = find(&buf[start..], b"\r\n\r\n") {
            let head_end = start + end + 4;
            let (clen, c) = parse_req_head(&buf[start..head_end]);
            if buf.len() < head_end + clen {
                break;
            }
            start = head_end + clen;
            out.extend_from_slice(if c { resp_close.as_bytes() } else { resp_ka.as_bytes() });
            out.extend_from_slice(BODY);
            if c {
                close = true;
                break;
            }
        }
        buf.drain(..start);
        if !out.is_empty() {
            if s.write_all(&out).await.is_err() {
                return;
            }
            out.clear();
        }
        if close {
            let _ = s.shutdown().await;
            return;
        }
        if buf.capacity() - buf.len() < 2048 {
            buf.reserve(4096);
        }
        match s.read_buf(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
    }
}

fn b64(data: &[u8]) -> String {
    const T: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut o = String::new();
    for c in data.chunks(3) {
        let n = (c[0] as u32) << 16 | (*c.get(1).unwrap_or(&0) as u32) << 8 | *c.get(2).unwrap_or(&0) as u32;
        o.push(T[(n >> 18) as usize & 63] as char);
        o.push(T[(n >> 12) as usize & 63] as char);
        o.push(if c.len() > 1 { T[(n >> 6) as usize & 63] as char } else { '=' });
        o.push(if c.len() > 2 { T[n as usize & 63] as char } else { '=' });
    }
    o
}

fn ws_accept_key(key: &str) -> String {
    let mut s = key.trim().as_bytes().to_vec();
    s.extend_from_slice(b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11");
    b64(ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, &s).as_ref())
}

/// A parsed frame header: (b0, header length, payload length, mask).
fn parse_frame(b: &[u8]) -> Option<(u8, usize, usize, Option<[u8; 4]>)> {
    if b.len() < 2 {
        return None;
    }
    let masked = b[1] & 0x80 != 0;
    let (mut hl, len) = match b[1] & 0x7f {
        126 => {
            if b.len() < 4 {
                return None;
            }
            (4, u16::from_be_bytes([b[2], b[3]]) as usize)
        }
        127 => {
            if b.len() < 10 {
                return None;
            }
            (10, u64::from_be_bytes(b[2..10].try_into().unwrap()) as usize)
        }
        n => (2, n as usize),
    };
    let mask = if masked {
        if b.len() < hl + 4 {
            return None;
        }
        let m = [b[hl], b[hl + 1], b[hl + 2], b[hl + 3]];
        hl += 4;
        Some(m)
    } else {
        None
    };
    if b.len() < hl + len {
        return None;
    }
    Some((b[0], hl, len, mask))
}

fn push_frame(out: &mut Vec<u8>, b0: u8, payload: &[u8], mask: Option<[u8; 4]>) {
    out.push(b0);
    let mbit = if mask.is_some() { 0x80 } else { 0 };
    let n = payload.len();
    if n < 126 {
        out.push(mbit | n as u8);
    } else if n < 65536 {
        out.push(mbit | 126);
        out.extend_from_slice(&(n as u16).to_be_bytes());
    } else {
        out.push(mbit | 127);
        out.extend_from_slice(&(n as u64).to_be_bytes());
    }
    match mask {
        None => out.extend_from_slice(payload),
        Some(m) => {
            out.extend_from_slice(&m);
            out.extend(payload.iter().enumerate().map(|(i, x)| x ^ m[i & 3]));
        }
    }
}

async fn ws_echo_conn(mut s: TcpStream) {
    let mut buf: Vec<u8> = Vec::with_capacity(4096);
    let head_end = loop {
        if let Some(p) = find(&buf, b"\r\n\r\n") {
            break p + 4;
        }
        buf.reserve(4096);
        match s.read_buf(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let key = head
        .split("\r\n")
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("sec-websocket-key"))
        .map(|(_, v)| v.trim().to_string());
    let Some(key) = key else {
        let _ = s
            .write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            .await;
        return;
    };
    let resp = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {}\r\n\r\n",
        ws_accept_key(&key)
    );
    if s.write_all(resp.as_bytes()).await.is_err() {
        return;
    }
    buf.drain(..head_end);
    let mut out = Vec::with_capacity(4096);
    let mut payload = Vec::new();
    loop {
        let mut start = 0;
        let mut closing = false;
        while let Some((b0, hl, len, mask)) = parse_frame(&buf[start..]) {
            payload.clear();
            payload.extend_from_slice(&buf[start + hl..start + hl + len]);
            if let Some(m) = mask {
                for (i, x) in payload.iter_mut().enumerate() {
                    *x ^= m[i & 3];
                }
            }
            start += hl + len;
            match b0 & 0x0f {
                0x8 => {
                    push_frame(&mut out, 0x88, &payload, None);
                    closing = true;
                    break;
                }
                0x9 => push_frame(&mut out, 0x8a, &payload, None),
                0xa => {}
                _ => push_frame(&mut out, b0, &payload, None),
            }
        }
        buf.drain(..start);
        if !out.is_empty() {
            if s.write_all(&out).await.is_err() {
                return;
            }
            out.clear();
        }
        if closing {
            let _ = s.shutdown().await;
            return;
        }
        if buf.capacity() - buf.len() < 4096 {
            buf.reserve(16384);
        }
        match s.read_buf(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
    }
}

static ZEROS: [u8; 262144] = [0u8; 262144];

async fn bulk_conn(mut s: TcpStream) {
    let mut n = [0u8; 8];
    if s.read_exact(&mut n).await.is_err() {
        return;
    }
    let mut left = u64::from_be_bytes(n);
    while left > 0 {
        let k = left.min(ZEROS.len() as u64) as usize;
        if s.write_all(&ZEROS[..k]).await.is_err() {
            return;
        }
        left -= k as u64;
    }
    let _ = s.shutdown().await;
    // Drain until the client closes, so the close is clean.
    let mut sink = [0u8; 64];
    let _ = tokio::time::timeout(Duration::from_secs(5), s.read(&mut sink)).await;
}

// ---------------------------------------------------------------- TLS client

#[derive(Debug)]
struct NoVerify(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for NoVerify {
    fn verify_server_cert(
        &self,
        _: &rustls::pki_types::CertificateDer<'_>,
        _: &[rustls::pki_types::CertificateDer<'_>],
        _: &rustls::pki_types::ServerName<'_>,
        _: &[u8],
        _: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }
    // The server still signs; the client skips the verification so that the load
    // generator's CPU goes to driving the proxy, not to checking signatures.
    fn verify_tls12_signature(
        &self,
        _: &[u8],
        _: &rustls::pki_types::CertificateDer<'_>,
        _: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        Ok(rustls::client::danger::HandshakeSignatureValid::assertion())
    }
    fn verify_tls13_signature(
        &self,
        _: &[u8],
        _: &rustls::pki_types::CertificateDer<'_>,
        _: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        Ok(rustls::client::danger::HandshakeSignatureValid::assertion())
    }
    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

fn tls_connector(ver: u64) -> tokio_rustls::TlsConnector {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let versions: &[&'static rustls::SupportedProtocolVersion] = match ver {
        12 => &[&rustls::version::TLS12],
        13 => &[&rustls::version::TLS13],
        _ => rustls::ALL_VERSIONS,
    };
    let mut cfg = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(versions)
        .expect("versions")
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(NoVerify(provider)))
        .with_no_client_auth();
    cfg.resumption = rustls::client::Resumption::disabled();
    cfg.enable_sni = true;
    tokio_rustls::TlsConnector::from(Arc::new(cfg))
}

async fn connect(addr: SocketAddr, tls: Option<(&tokio_rustls::TlsConnector, &str)>) -> Res<(Box<dyn Io>, String)> {
    let s = TcpStream::connect(addr).await.map_err(|e| format!("connect: {e}"))?;
    let _ = s.set_nodelay(true);
    match tls {
        None => Ok((Box::new(s), String::new())),
        Some((c, sni)) => {
            let name = rustls::pki_types::ServerName::try_from(sni.to_string()).map_err(|e| e.to_string())?;
            let t = c.connect(name, s).await.map_err(|e| format!("TLS handshake: {e}"))?;
            let info = {
                let (_, conn) = t.get_ref();
                format!(
                    "{:?} {:?}",
                    conn.protocol_version().map(|v| format!("{v:?}")).unwrap_or_default(),
                    conn.negotiated_cipher_suite().map(|c| format!("{:?}", c.suite())).unwrap_or_default()
                )
            };
            Ok((Box::new(t), info))
        }
    }
}

/// Reads one HTTP/1.1 response (headers + Content-Length body); returns the status line.
async fn read_response(io: &mut Box<dyn Io>, buf: &mut Vec<u8>) -> Res<String> {
    buf.clear();
    loop {
        if let Some(p) = find(buf, b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..p]).to_string();
            let status = head.lines().next().unwrap_or("").to_string();
            let clen: usize = head
                .split("\r\n")
                .filter_map(|l| l.split_once(':'))
                .find(|(k, _)| k.trim().eq_ignore_ascii_case("content-length"))
                .and_then(|(_, v)| v.trim().parse().ok())
                .unwrap_or(0);
            while buf.len() < p + 4 + clen {
                buf.reserve(4096);
                let n = io.read_buf(buf).await.map_err(|e| format!("read body: {e}"))?;
                if n == 0 {
                    return Err(format!("EOF in body after '{status}'"));
                }
            }
            return Ok(status);
        }
        buf.reserve(4096);
        let n = io.read_buf(buf).await.map_err(|e| format!("read: {e}"))?;
        if n == 0 {
            return Err(if buf.is_empty() {
                "connection closed before any response byte".into()
            } else {
                format!("EOF in response head: {:?}", String::from_utf8_lossy(buf))
            });
        }
    }
}

async fn tls_load(o: &Opts) {
    let addr = o.addr();
    let sni = o.get("sni").unwrap_or("localhost").to_string();
    let ver = o.num("ver", 13);
    let conc = o.num("conc", 16);
    let secs = o.num("secs", 5);
    let conn = tls_connector(ver);
    let start = Instant::now();
    let deadline = start + Duration::from_secs(secs);
    let mut tasks = Vec::new();
    for _ in 0..conc {
        let conn = conn.clone();
        let sni = sni.clone();
        tasks.push(tokio::task::spawn_local(async move {
            let mut ok = 0u64;
            let mut errs = Errs::new();
            let mut info = String::new();
            let mut buf = Vec::with_capacity(4096);
            while Instant::now() < deadline {
                let r = tokio::time::timeout(Duration::from_secs(5), async {
                    let (mut io, i) = connect(addr, Some((&conn, &sni))).await?;
                    io.write_all(b"GET / HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n")
                        .await
                        .map_err(|e| format!("write: {e}"))?;
                    let st = read_response(&mut io, &mut buf).await?;
                    if !st.starts_with("HTTP/1.1 200") {
                        return Err(format!("status: {st}"));
                    }
                    Ok::<String, String>(i)
                })
                .await;
                match r {
                    Ok(Ok(i)) => {
                        ok += 1;
                        if info.is_empty() {
                            info = i;
                        }
                    }
                    Ok(Err(e)) => {
                        errs.add(e);
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    }
                    Err(_) => errs.add("timeout (5 s) on one handshake+request".into()),
                }
            }
            (ok, errs, info)
        }));
    }
    let (mut ok, mut errs, mut info) = (0, Errs::new(), String::new());
    for t in tasks {
        let (k, e, i) = t.await.unwrap();
        ok += k;
        errs.count += e.count;
        for x in e.first {
            if errs.first.len() < 5 && !errs.first.contains(&x) {
                errs.first.push(x);
            }
        }
        if info.is_empty() {
            info = i;
        }
    }
    let el = start.elapsed().as_secs_f64();
    println!(
        "{{\"ok\":{ok},\"errors\":{},\"error_samples\":{},\"secs\":{el:.3},\"rate\":{:.1},\"negotiated\":{}}}",
        errs.count,
        json_errs(&errs.first),
        ok as f64 / el,
        json_str(&info)
    );
}

// ---------------------------------------------------------------- WebSocket client

async fn ws_open(addr: SocketAddr, tls: Option<(&tokio_rustls::TlsConnector, &str)>) -> Res<(Box<dyn Io>, Vec<u8>)> {
    let (mut io, _) = connect(addr, tls).await?;
    io.write_all(
        b"GET /echo HTTP/1.1\r\nHost: bench\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    )
    .await
    .map_err(|e| format!("write upgrade: {e}"))?;
    let mut buf = Vec::with_capacity(4096);
    loop {
        if let Some(p) = find(&buf, b"\r\n\r\n") {
            let status = String::from_utf8_lossy(&buf[..p]).lines().next().unwrap_or("").to_string();
            if !status.starts_with("HTTP/1.1 101") {
                return Err(format!("upgrade answered '{status}'"));
            }
            buf.drain(..p + 4);
            return Ok((io, buf));
        }
        buf.reserve(4096);
        let n = io.read_buf(&mut buf).await.map_err(|e| format!("read upgrade response: {e}"))?;
        if n == 0 {
            return Err("connection closed before the 101 response".into());
        }
    }
}

fn pct(sorted: &[u32], p: f64) -> u32 {
    if sorted.is_empty() {
        return 0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

async fn ws_load(o: &Opts) {
    let addr = o.addr();
    let conns = o.num("conns", 50);
    let secs = o.num("secs", 5);
    let size = o.num("size", 64) as usize;
    let interval = o.num("interval-us", 0);
    let payload: Vec<u8> = (0..size).map(|i| b'a' + (i % 26) as u8).collect();
    let mut frame = Vec::new();
    push_frame(&mut frame, 0x82, &payload, Some([0x12, 0x34, 0x56, 0x78]));
    let frame = Rc::new(frame);
    // Open every connection first, then start the clock for all at once.
    let mut opened = Vec::new();
    let mut errs = Errs::new();
    for _ in 0..conns {
        match tokio::time::timeout(Duration::from_secs(5), ws_open(addr, None)).await {
            Ok(Ok(x)) => opened.push(x),
            Ok(Err(e)) => errs.add(e),
            Err(_) => errs.add("timeout opening WebSocket".into()),
        }
    }
    let start = Instant::now();
    let deadline = start + Duration::from_secs(secs);
    let mut tasks = Vec::new();
    for (k, (mut io, mut buf)) in opened.into_iter().enumerate() {
        let frame = frame.clone();
        tasks.push(tokio::task::spawn_local(async move {
            let mut lats: Vec<u32> = Vec::with_capacity(1 << 16);
            let mut err: Option<String> = None;
            let mut tick = if interval > 0 {
                // Spread the connections over the interval.
                let first = tokio::time::Instant::now()
                    + Duration::from_micros(interval * k as u64 / conns.max(1));
                let mut t = tokio::time::interval_at(first, Duration::from_micros(interval));
                t.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                Some(t)
            } else {
                None
            };
            'outer: while Instant::now() < deadline {
                if let Some(t) = tick.as_mut() {
                    t.tick().await;
                }
                let t0 = Instant::now();
                if let Err(e) = io.write_all(&frame).await {
                    err = Some(format!("write message: {e}"));
                    break;
                }
                loop {
                    if let Some((b0, hl, len, _)) = parse_frame(&buf) {
                        buf.drain(..hl + len);
                        if b0 & 0x0f == 0x2 && len == size {
                            break;
                        }
                        if b0 & 0x0f == 0x8 {
                            err = Some("server sent close".into());
                            break 'outer;
                        }
                        continue;
                    }
                    buf.reserve(16384);
                    match tokio::time::timeout(Duration::from_secs(5), io.read_buf(&mut buf)).await {
                        Ok(Ok(0)) => {
                            err = Some("EOF waiting for echo".into());
                            break 'outer;
                        }
                        Ok(Err(e)) => {
                            err = Some(format!("read echo: {e}"));
                            break 'outer;
                        }
                        Err(_) => {
                            err = Some("no echo within 5 s".into());
                            break 'outer;
                        }
                        Ok(Ok(_)) => {}
                    }
                }
                lats.push(t0.elapsed().as_micros().min(u32::MAX as u128) as u32);
            }
            (lats, err)
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        let (l, e) = t.await.unwrap();
        all.extend(l);
        if let Some(e) = e {
            errs.add(e);
        }
    }
    let el = start.elapsed().as_secs_f64();
    all.sort_unstable();
    println!(
        "{{\"msgs\":{},\"secs\":{el:.3},\"rate\":{:.1},\"p50_us\":{},\"p99_us\":{},\"p999_us\":{},\"max_us\":{},\"errors\":{},\"error_samples\":{}}}",
        all.len(),
        all.len() as f64 / el,
        pct(&all, 0.5),
        pct(&all, 0.99),
        pct(&all, 0.999),
        all.last().copied().unwrap_or(0),
        errs.count,
        json_errs(&errs.first)
    );
}

use std::rc::Rc;

// ---------------------------------------------------------------- bulk client

async fn bulk_get(o: &Opts) {
    let addr = o.addr();
    let want = o.num("bytes", 1 << 31);
    let r: Res<(u64, f64)> = async {
        let mut s = TcpStream::connect(addr).await.map_err(|e| format!("connect: {e}"))?;
        let start = Instant::now();
        s.write_all(&want.to_be_bytes()).await.map_err(|e| format!("write: {e}"))?;
        let mut buf = vec![0u8; 262144];
        let mut got = 0u64;
        loop {
            let n = tokio::time::timeout(Duration::from_secs(10), s.read(&mut buf))
                .await
                .map_err(|_| format!("stalled for 10 s after {got} bytes"))?
                .map_err(|e| format!("read after {got} bytes: {e}"))?;
            if n == 0 {
                break;
            }
            got += n as u64;
        }
        Ok((got, start.elapsed().as_secs_f64()))
    }
    .await;
    match r {
        Ok((got, el)) => {
            let err = if got != want { vec![format!("got {got} bytes, expected {want}")] } else { vec![] };
            println!(
                "{{\"bytes\":{got},\"secs\":{el:.3},\"mb_per_s\":{:.1},\"errors\":{},\"error_samples\":{}}}",
                got as f64 / el / 1e6,
                err.len(),
                json_errs(&err)
            );
        }
        Err(e) => println!("{{\"bytes\":0,\"secs\":0,\"mb_per_s\":0,\"errors\":1,\"error_samples\":{}}}", json_errs(&[e])),
    }
}

// ---------------------------------------------------------------- idle connections

async fn idle(o: &Opts) {
    let addr = o.addr();
    let kind = o.get("kind").unwrap_or("http").to_string();
    let count = o.num("count", 5000);
    let conc = o.num("conc", 100) as usize;
    let sni = o.get("sni").map(|s| s.to_string());
    let conn = tls_connector(0);
    let sem = Rc::new(tokio::sync::Semaphore::new(conc));
    let mut tasks = Vec::new();
    let start = Instant::now();
    for _ in 0..count {
        let sem = sem.clone();
        let conn = conn.clone();
        let sni = sni.clone();
        let kind = kind.clone();
        tasks.push(tokio::task::spawn_local(async move {
            let _p = sem.acquire().await.unwrap();
            let tls = sni.as_deref().map(|s| (&conn, s));
            tokio::time::timeout(Duration::from_secs(10), async {
                if kind == "ws" {
                    let (io, _) = ws_open(addr, tls).await?;
                    Ok::<Box<dyn Io>, String>(io)
                } else {
                    let (mut io, _) = connect(addr, tls).await?;
                    io.write_all(b"GET / HTTP/1.1\r\nHost: bench\r\n\r\n")
                        .await
                        .map_err(|e| format!("write: {e}"))?;
                    let mut buf = Vec::new();
                    let st = read_response(&mut io, &mut buf).await?;
                    if !st.starts_with("HTTP/1.1 200") {
                        return Err(format!("status: {st}"));
                    }
                    Ok(io)
                }
            })
            .await
            .unwrap_or_else(|_| Err("timeout (10 s) opening".into()))
        }));
    }
    let mut held = Vec::new();
    let mut errs = Errs::new();
    for t in tasks {
        match t.await.unwrap() {
            Ok(io) => held.push(io),
            Err(e) => errs.add(e),
        }
    }
    println!(
        "{{\"open\":{},\"errors\":{},\"error_samples\":{},\"secs\":{:.3}}}",
        held.len(),
        errs.count,
        json_errs(&errs.first),
        start.elapsed().as_secs_f64()
    );
    // Hold until stdin closes (or 300 s, whichever first). Count connections that the
    // proxy closed meanwhile: a read that completes (EOF or data) on an idle connection.
    let mut stdin = tokio::io::stdin();
    let mut b = [0u8; 16];
    let _ = tokio::time::timeout(Duration::from_secs(300), stdin.read(&mut b)).await;
    let mut closed = 0;
    for io in held.iter_mut() {
        let mut x = [0u8; 1];
        if let Ok(r) = tokio::time::timeout(Duration::from_millis(0), io.read(&mut x)).await {
            let _ = r;
            closed += 1;
        }
    }
    eprintln!("idle: {closed} of {} connections were closed by the peer while held", held.len());
}
