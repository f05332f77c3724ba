//! Access logs over real sockets (127.0.0.1, port 0): `option httplog`, `option httplog
//! clf`, `option tcplog`, `log-format`, `option dontlognull`, the legacy `Connect from` line,
//! TLS handshake failures, the syslog framings (`rfc3164`, `rfc5424`, `short`, `raw`, `iso`,
//! `local`, `priority`, `timed`), `len`, level filters, and `log stdout` from the binary.
//!
//! Every expected line below was captured from haproxy 2.6.12 (`/usr/sbin/haproxy`) on this
//! host with the same configuration, the same backends (byte for byte: a keep-alive server
//! answering `HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok\n`, a server that never
//! answers, a TCP echo server, a closed port) and the same raw client requests, then
//! normalised: the syslog date, the PID, `[dd/Mon/yyyy:hh:mm:ss.mmm]` dates and client ports
//! are replaced, and timers are masked (`T`) except `-1`, since they depend on the run.
//!
//! Known differences with HAProxy that these tests do not cover: HTTP/2 timers (`%Th`,
//! `%Ti`, `%TR` are measured per stream from its arrival), queue positions (`%sq`/`%bq` are
//! always 0), `%bc` counts the requests in progress on the backend's servers.

mod common;

use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;

use common::*;
use haproxide::engine::{self, RunningEngine};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const SEC: Duration = Duration::from_secs(1);

/// A UDP syslog collector on 127.0.0.1:0.
struct Collector {
    sock: UdpSocket,
}

impl Collector {
    fn new() -> Collector {
        let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
        sock.set_read_timeout(Some(3 * SEC)).unwrap();
        Collector { sock }
    }

    fn port(&self) -> u16 {
        self.sock.local_addr().unwrap().port()
    }

    /// The next datagram (blocking, up to 3 s), as raw bytes.
    fn next_raw(&self) -> Vec<u8> {
        let mut buf = vec![0u8; 70000];
        match self.sock.recv(&mut buf) {
            Ok(n) => buf[..n].to_vec(),
            Err(e) => panic!("no log line received: {e}"),
        }
    }

    fn next(&self) -> String {
        String::from_utf8_lossy(&self.next_raw()).into_owned()
    }

    /// Asserts that nothing arrives within `d`.
    fn nothing(&self, d: Duration) {
        self.sock.set_read_timeout(Some(d)).unwrap();
        let mut buf = [0u8; 4096];
        if let Ok(n) = self.sock.recv(&mut buf) {
            panic!(
                "unexpected log line: {:?}",
                String::from_utf8_lossy(&buf[..n])
            );
        }
        self.sock.set_read_timeout(Some(3 * SEC)).unwrap();
    }
}

fn is_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// `<PRI>Mmm dd hh:mm:ss haproxy[PID]: ` → `<PRI>DATE haproxy[PID]: `.
fn norm_header(line: &str) -> String {
    let Some(gt) = line.find('>') else {
        return line.to_string();
    };
    let (pri, rest) = line.split_at(gt + 1);
    // "Nov 21 14:28:04 " is 16 bytes.
    if rest.len() < 16 || &rest[3..4] != " " || &rest[15..16] != " " {
        return line.to_string();
    }
    let rest = &rest[16..];
    let Some(end) = rest.find("]: ") else {
        return line.to_string();
    };
    let tag = &rest[..end];
    let Some(pid) = tag.strip_prefix("haproxy[") else {
        return line.to_string();
    };
    assert!(is_digits(pid), "{line}");
    format!("{pri}DATE haproxy[PID]: {}", &rest[end + 3..])
}

/// Masks a slash-separated timer group: `-1` kept, any other number → `T`.
fn mask_timers(tok: &str) -> String {
    tok.split('/')
        .map(|t| {
            if t == "-1" {
                "-1"
            } else {
                assert!(is_digits(t), "not a timer: {t} in {tok}");
                "T"
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// `[21/Nov/2026:14:28:04.270]` → `[LOGDATE]`.
fn is_log_date(tok: &str) -> bool {
    let b = tok.as_bytes();
    b.len() == 26 && b[0] == b'[' && b[25] == b']' && b[3] == b'/' && b[7] == b'/' && b[12] == b':'
}

/// Normalises an httplog or tcplog line (HAProxy's default formats).
fn norm_std(line: &str) -> String {
    let line = norm_header(line.trim_end_matches('\n'));
    let (head, msg) = match line.find("]: ") {
        Some(i) => line.split_at(i + 3),
        None => ("", line.as_str()),
    };
    let mut toks: Vec<String> = msg.split(' ').map(str::to_string).collect();
    if let Some(t) = toks.first_mut() {
        if let Some((ip, port)) = t.rsplit_once(':') {
            if is_digits(port) {
                *t = format!("{ip}:CPORT");
            }
        }
    }
    if toks.get(1).is_some_and(|t| is_log_date(t)) {
        toks[1] = "[LOGDATE]".into();
    }
    // ci:cp [date] ft b/s timers
    if let Some(t) = toks.get_mut(4) {
        if t.split('/').all(|x| x == "-1" || is_digits(x)) {
            *t = mask_timers(t);
        }
    }
    format!("{head}{}", toks.join(" "))
}

/// Waits until the previous connections are gone, so that `%ac/%fc` count only the next
/// one (the log line is sent before the connection is released).
async fn settle(eng: &RunningEngine) {
    assert!(wait_for(2 * SEC, || eng.live_connections() == 0).await);
}

async fn start(text: &str) -> RunningEngine {
    engine::start(config(text)).await.unwrap()
}

/// Sends `data`, half-closes, reads until the server closes.
async fn exchange(addr: SocketAddr, data: &[u8]) -> Vec<u8> {
    let mut s = TcpStream::connect(addr).await.unwrap();
    if !data.is_empty() {
        s.write_all(data).await.unwrap();
    }
    let _ = s.shutdown().await;
    let mut out = Vec::new();
    let _ = tokio::time::timeout(5 * SEC, s.read_to_end(&mut out)).await;
    out
}

/// Sends `data` and keeps the connection open (no half-close) until the server closes it.
async fn send_and_wait(addr: SocketAddr, data: &[u8]) -> Vec<u8> {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(data).await.unwrap();
    let mut out = Vec::new();
    let _ = tokio::time::timeout(5 * SEC, s.read_to_end(&mut out)).await;
    out
}

/// A keep-alive HTTP/1.1 server answering every request with the same 3-byte body.
async fn ok_server() -> TestServer {
    serve(|mut s: TcpStream| async move {
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        loop {
            let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
                match s.read(&mut chunk).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => buf.extend_from_slice(&chunk[..n]),
                }
                continue;
            };
            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            let len: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            while buf.len() < end + 4 + len {
                match s.read(&mut chunk).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => buf.extend_from_slice(&chunk[..n]),
                }
            }
            buf.drain(..end + 4 + len);
            if s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok\n")
                .await
                .is_err()
            {
                return;
            }
        }
    })
    .await
}

/// A server that reads and never answers.
async fn silent_server() -> TestServer {
    serve(|mut s: TcpStream| async move {
        let mut b = [0u8; 1024];
        while let Ok(n) = s.read(&mut b).await {
            if n == 0 {
                break;
            }
        }
    })
    .await
}

struct Backends {
    ok: TestServer,
    silent: TestServer,
    echo: TestServer,
    closed: SocketAddr,
}

async fn backends() -> Backends {
    Backends {
        ok: ok_server().await,
        silent: silent_server().await,
        echo: echo_server().await,
        closed: closed_port().await,
    }
}

fn main_config(log_port: u16, b: &Backends) -> String {
    format!(
        r#"
global
    log 127.0.0.1:{log_port} local0
defaults
    mode http
    log global
    option httplog
    timeout client 5s
    timeout server 1s
    timeout connect 1s
    timeout http-request 500ms
frontend fe
    bind 127.0.0.1:1
    http-request deny if {{ path /deny }}
    http-request redirect location /x if {{ path /redir }}
    use_backend bedown if {{ path /down }}
    use_backend benosrv if {{ path /nosrv }}
    use_backend beslow if {{ path /slow }}
    default_backend be
frontend fe_dln
    bind 127.0.0.1:1
    option dontlognull
    default_backend be
frontend fe_custom
    bind 127.0.0.1:1
    log-format "%ci %fi %ft %f %b %s %si %ST %B %U %ts %tsc %{{+Q}}r %HM %HU %HP %HPO %HQ %HV %ac/%fc/%bc/%sc/%rc %sq/%bq %CC %CS %{{+Q}}CC [%hr] %ID %{{+Q}}[src] %[env(NOPE_HAPROXIDE)] %[method,lower] %[ssl_fc] %{{+X}}ci %{{+Q}}o %b %{{-Q}}s 100%%  end "
    default_backend be
frontend fe_clf
    bind 127.0.0.1:1
    option httplog clf
    default_backend be
frontend fetcp
    mode tcp
    option tcplog
    bind 127.0.0.1:1
    default_backend betcp
frontend fetcp_dln
    mode tcp
    option tcplog
    option dontlognull
    bind 127.0.0.1:1
    default_backend betcp
frontend fetcp_custom
    mode tcp
    log-format "%ci %b/%s %ST %B %U %ts %tsc %si %bi %ac/%fc/%bc/%sc/%rc"
    bind 127.0.0.1:1
    default_backend betcp
frontend fetcp_down
    mode tcp
    option tcplog
    bind 127.0.0.1:1
    default_backend betcpdown
backend be
    server s1 {ok}
backend bedown
    retries 0
    server s1 {closed}
backend benosrv
backend beslow
    server s1 {silent}
backend betcp
    mode tcp
    server s1 {echo}
backend betcpdown
    mode tcp
    retries 0
    server s1 {closed}
"#,
        ok = b.ok.addr,
        closed = b.closed,
        silent = b.silent.addr,
        echo = b.echo.addr,
    )
}

const H: &str = "<134>DATE haproxy[PID]: ";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn httplog_lines_match_haproxy() {
    let c = Collector::new();
    let b = backends().await;
    let eng = start(&main_config(c.port(), &b)).await;
    let fe = eng.addr("fe").unwrap();
    let get = |p: &str| format!("GET {p} HTTP/1.1\r\nHost: x\r\n\r\n");

    let cases: Vec<(Vec<u8>, &str)> = vec![
        (
            get("/abc?q=1").into(),
            r#"fe be/s1 T/T/T/T/T 200 52 - - ---- 1/1/0/0/0 0/0 "GET /abc?q=1 HTTP/1.1""#,
        ),
        (
            b"POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello".to_vec(),
            r#"fe be/s1 T/T/T/T/T 200 52 - - ---- 1/1/0/0/0 0/0 "POST /p HTTP/1.1""#,
        ),
        (
            get("/deny").into(),
            r#"fe fe/<NOSRV> T/-1/-1/-1/T 403 192 - - PR-- 1/1/0/0/0 0/0 "GET /deny HTTP/1.1""#,
        ),
        (
            get("/redir").into(),
            r#"fe fe/<NOSRV> T/-1/-1/-1/T 302 83 - - LR-- 1/1/0/0/0 0/0 "GET /redir HTTP/1.1""#,
        ),
        (
            get("/nosrv").into(),
            r#"fe benosrv/<NOSRV> T/-1/-1/-1/T 503 217 - - SC-- 1/1/0/0/0 0/0 "GET /nosrv HTTP/1.1""#,
        ),
        (
            get("/down").into(),
            r#"fe bedown/s1 T/T/-1/-1/T 503 217 - - SC-- 1/1/0/0/0 0/0 "GET /down HTTP/1.1""#,
        ),
        (
            get("/slow").into(),
            r#"fe beslow/s1 T/T/T/-1/T 504 198 - - sH-- 1/1/0/0/0 0/0 "GET /slow HTTP/1.1""#,
        ),
        // The client closed after its bytes: CR, and the empty connection is a CR 400 too.
        (
            b"".to_vec(),
            r#"fe fe/<NOSRV> -1/-1/-1/-1/T 400 0 - - CR-- 1/1/0/0/0 0/0 "<BADREQ>""#,
        ),
    ];
    for (req, want) in cases {
        settle(&eng).await;
        exchange(fe, &req).await;
        let got = norm_std(&c.next());
        assert_eq!(
            got,
            format!("{H}127.0.0.1:CPORT [LOGDATE] {want}\n").trim_end()
        );
    }

    // An invalid request while the connection stays open: PR 400, no byte counted.
    settle(&eng).await;
    send_and_wait(fe, b"GET /\x01 HTTP/1.1\r\n\r\n").await;
    assert_eq!(
        norm_std(&c.next()),
        format!(
            r#"{H}127.0.0.1:CPORT [LOGDATE] fe fe/<NOSRV> -1/-1/-1/-1/T 400 0 - - PR-- 1/1/0/0/0 0/0 "<BADREQ>""#
        )
    );
    // An incomplete head: 408 after `timeout http-request`, cR.
    settle(&eng).await;
    send_and_wait(fe, b"GET / HTTP/1.1\r\n").await;
    assert_eq!(
        norm_std(&c.next()),
        format!(
            r#"{H}127.0.0.1:CPORT [LOGDATE] fe fe/<NOSRV> -1/-1/-1/-1/T 408 0 - - cR-- 1/1/0/0/0 0/0 "<BADREQ>""#
        )
    );

    // Keep-alive: one line per request, same client port.
    settle(&eng).await;
    let mut s = TcpStream::connect(fe).await.unwrap();
    s.write_all(b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut out = Vec::new();
    let _ = tokio::time::timeout(5 * SEC, s.read_to_end(&mut out)).await;
    let (l1, l2) = (c.next(), c.next());
    let port = s.local_addr().unwrap().port();
    assert!(l1.contains(&format!("127.0.0.1:{port} ")), "{l1}");
    assert!(l2.contains(&format!("127.0.0.1:{port} ")), "{l2}");
    assert_eq!(
        norm_std(&l1),
        format!(
            r#"{H}127.0.0.1:CPORT [LOGDATE] fe be/s1 T/T/T/T/T 200 52 - - ---- 1/1/0/0/0 0/0 "GET /a HTTP/1.1""#
        )
    );
    assert_eq!(
        norm_std(&l2),
        format!(
            r#"{H}127.0.0.1:CPORT [LOGDATE] fe be/s1 T/T/T/T/T 200 52 - - ---- 1/1/0/0/0 0/0 "GET /b HTTP/1.1""#
        )
    );

    // `option dontlognull`: an empty connection leaves no line; a request does.
    let dln = eng.addr("fe_dln").unwrap();
    settle(&eng).await;
    exchange(dln, b"").await;
    c.nothing(SEC / 2);
    settle(&eng).await;
    exchange(dln, get("/d").as_bytes()).await;
    assert_eq!(
        norm_std(&c.next()),
        format!(
            r#"{H}127.0.0.1:CPORT [LOGDATE] fe_dln be/s1 T/T/T/T/T 200 52 - - ---- 1/1/0/0/0 0/0 "GET /d HTTP/1.1""#
        )
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_format_and_clf_match_haproxy() {
    let c = Collector::new();
    let b = backends().await;
    let eng = start(&main_config(c.port(), &b)).await;
    let custom = eng.addr("fe_custom").unwrap();
    exchange(custom, b"GET /abc?q=1 HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert_eq!(
        norm_header(&c.next()),
        format!("{H}127.0.0.1 127.0.0.1 fe_custom fe_custom be s1 127.0.0.1 200 52 45 -- ---- \"GET /abc?q=1 HTTP/1.1\" GET /abc?q=1 /abc /abc ?q=1 HTTP/1.1 1/1/0/0/0 0/0 - - \"\" [] - \"127.0.0.1\" - get 0 7F000001 \"be\" s1 100% end \n")
    );
    // `"` in the URI is `#22` in every request field; HTTP/1.0 is kept.
    exchange(custom, b"GET /\"x?y HTTP/1.0\r\nHost: x\r\n\r\n").await;
    assert_eq!(
        norm_header(&c.next()),
        format!("{H}127.0.0.1 127.0.0.1 fe_custom fe_custom be s1 127.0.0.1 200 52 42 -- ---- \"GET /#22x?y HTTP/1.0\" GET /#22x?y /#22x /#22x ?y HTTP/1.0 1/1/0/0/0 0/0 - - \"\" [] - \"127.0.0.1\" - get 0 7F000001 \"be\" s1 100% end \n")
    );

    // CLF: `127.0.0.1 - - [21/Nov/2026:14:45:01 +0000] "GET /abc?q=1 HTTP/1.1" 200 52 "" ""
    // 41940 076 "fe_clf" "be" "s1" 0 0 0 2 2 ---- 1 1 0 0 0 0 0 "" "" `
    let clf = eng.addr("fe_clf").unwrap();
    exchange(clf, b"GET /abc?q=1 HTTP/1.1\r\nHost: x\r\n\r\n").await;
    let line = norm_header(&c.next());
    let msg = line.strip_prefix(H).unwrap().trim_end_matches('\n');
    let toks: Vec<&str> = msg.split(' ').collect();
    assert_eq!(toks[..3], ["127.0.0.1", "-", "-"]);
    assert!(toks[3].starts_with('[') && toks[4] == "+0000]", "{msg}");
    assert_eq!(
        toks[5..12],
        [
            "\"GET",
            "/abc?q=1",
            "HTTP/1.1\"",
            "200",
            "52",
            "\"\"",
            "\"\""
        ]
    );
    assert!(
        is_digits(toks[12]) && toks[13].len() == 3 && is_digits(toks[13]),
        "{msg}"
    );
    assert_eq!(toks[14..17], ["\"fe_clf\"", "\"be\"", "\"s1\""]);
    assert!(toks[17..22].iter().all(|t| is_digits(t)), "{msg}");
    assert_eq!(
        toks[22..],
        ["----", "1", "1", "0", "0", "0", "0", "0", "\"\"", "\"\"", ""]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcplog_lines_match_haproxy() {
    let c = Collector::new();
    let b = backends().await;
    let eng = start(&main_config(c.port(), &b)).await;
    let tcp = eng.addr("fetcp").unwrap();
    settle(&eng).await;
    assert_eq!(exchange(tcp, b"hello\n").await, b"hello\n");
    assert_eq!(
        norm_std(&c.next()),
        format!("{H}127.0.0.1:CPORT [LOGDATE] fetcp betcp/s1 T/T/T 6 -- 1/1/0/0/0 0/0\n")
            .trim_end()
    );
    settle(&eng).await;
    exchange(tcp, b"").await;
    assert_eq!(
        norm_std(&c.next()),
        format!("{H}127.0.0.1:CPORT [LOGDATE] fetcp betcp/s1 T/T/T 0 -- 1/1/0/0/0 0/0")
    );
    // dontlognull: only the session that sent something is logged.
    let dln = eng.addr("fetcp_dln").unwrap();
    settle(&eng).await;
    exchange(dln, b"").await;
    c.nothing(SEC / 2);
    settle(&eng).await;
    exchange(dln, b"abc").await;
    assert_eq!(
        norm_std(&c.next()),
        format!("{H}127.0.0.1:CPORT [LOGDATE] fetcp_dln betcp/s1 T/T/T 3 -- 1/1/0/0/0 0/0")
    );
    let custom = eng.addr("fetcp_custom").unwrap();
    settle(&eng).await;
    exchange(custom, b"abcd").await;
    assert_eq!(
        norm_header(&c.next()),
        format!("{H}127.0.0.1 betcp/s1 0 4 4 -- ---- 127.0.0.1 127.0.0.1 1/1/0/0/0\n")
    );
    // Connection refused, no retry: SC, the server tried is shown, Tc = -1.
    let down = eng.addr("fetcp_down").unwrap();
    settle(&eng).await;
    exchange(down, b"x").await;
    assert_eq!(
        norm_std(&c.next()),
        format!("{H}127.0.0.1:CPORT [LOGDATE] fetcp_down betcpdown/s1 T/-1/T 0 SC 1/1/0/0/0 0/0")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn legacy_connect_from_line() {
    let c = Collector::new();
    let b = backends().await;
    let text = format!(
        r#"
defaults
    timeout client 5s
    timeout server 5s
    timeout connect 1s
frontend web
    mode http
    log 127.0.0.1:{p} local0
    bind 127.0.0.1:1
    default_backend be
frontend tcp
    mode tcp
    option dontlognull
    log 127.0.0.1:{p} local0
    bind 127.0.0.1:1
    default_backend betcp
backend be
    mode http
    server s1 {ok}
backend betcp
    mode tcp
    server s1 {echo}
"#,
        p = c.port(),
        ok = b.ok.addr,
        echo = b.echo.addr
    );
    let eng = start(&text).await;
    let web = eng.addr("web").unwrap();
    // HTTP: one line per request (a stream each); an empty connection logs nothing.
    exchange(web, b"").await;
    c.nothing(SEC / 2);
    let mut s = TcpStream::connect(web).await.unwrap();
    let me = s.local_addr().unwrap();
    s.write_all(b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut out = Vec::new();
    let _ = tokio::time::timeout(5 * SEC, s.read_to_end(&mut out)).await;
    let want = format!("Connect from {me} to {web} (web/HTTP)\n");
    assert_eq!(norm_header(&c.next()), format!("{H}{want}"));
    assert_eq!(norm_header(&c.next()), format!("{H}{want}"));
    // TCP: logged at accept, even empty with dontlognull (as HAProxy).
    let tcp = eng.addr("tcp").unwrap();
    let s = TcpStream::connect(tcp).await.unwrap();
    let me = s.local_addr().unwrap();
    assert_eq!(
        norm_header(&c.next()),
        format!("{H}Connect from {me} to {tcp} (tcp/TCP)\n")
    );
    drop(s);
    // A soft stop sends HAProxy's "Proxy ... stopped" warnings to the frontends' targets.
    settle(&eng).await;
    eng.soft_stop();
    assert_eq!(
        norm_header(&c.next()),
        "<132>DATE haproxy[PID]: Proxy web stopped (cumulated conns: FE: 2, BE: 0).\n"
    );
    assert_eq!(
        norm_header(&c.next()),
        "<132>DATE haproxy[PID]: Proxy tcp stopped (cumulated conns: FE: 1, BE: 0).\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn syslog_framings_lengths_and_levels() {
    let cs: Vec<Collector> = (0..10).map(|_| Collector::new()).collect();
    let b = backends().await;
    let p = |i: usize| cs[i].port();
    let text = format!(
        r#"
global
    log 127.0.0.1:{} local0
    log 127.0.0.1:{} format rfc5424 local1
    log 127.0.0.1:{} format short local2
    log 127.0.0.1:{} format raw local3
    log 127.0.0.1:{} format iso local4
    log 127.0.0.1:{} format local local5
    log 127.0.0.1:{} format priority local6
    log 127.0.0.1:{} format timed local7
    log 127.0.0.1:{} len 100 local0
    log 127.0.0.1:{} local0 info debug
defaults
    mode http
    log global
    log-format "%ST %b/%s %HU"
    timeout client 5s
    timeout server 5s
    timeout connect 1s
frontend fe
    bind 127.0.0.1:1
    default_backend be
frontend quiet
    bind 127.0.0.1:1
    no log
    log 127.0.0.1:{} local0 notice
    default_backend be
backend be
    server s1 {}
"#,
        p(0),
        p(1),
        p(2),
        p(3),
        p(4),
        p(5),
        p(6),
        p(7),
        p(8),
        p(9),
        p(9),
        b.ok.addr
    );
    let eng = start(&text).await;
    let fe = eng.addr("fe").unwrap();
    let long = format!("/{}", "a".repeat(200));
    exchange(
        fe,
        format!("GET {long} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes(),
    )
    .await;
    let msg = format!("200 be/s1 {long}");
    let pid = std::process::id();
    let got: Vec<Vec<u8>> = cs.iter().take(10).map(|c| c.next_raw()).collect();
    let s = |i: usize| String::from_utf8_lossy(&got[i]).into_owned();
    // rfc3164 (default): `<134>Nov 21 14:28:41 haproxy[10072]: msg\n`.
    assert_eq!(norm_header(&s(0)), format!("{H}{msg}\n"));
    // rfc5424: `<142>1 2026-11-21T14:28:41.547543+00:00 - haproxy 10072 - - msg\n`.
    let r5424 = s(1);
    let (hdr, rest) = r5424.split_at(r5424.find(" - haproxy ").unwrap());
    assert!(
        hdr.starts_with("<142>1 ") && hdr.len() == "<142>1 2026-11-21T14:28:41.547543+00:00".len(),
        "{r5424}"
    );
    assert_eq!(&hdr[17..18], "T");
    assert_eq!(rest, format!(" - haproxy {pid} - - {msg}\n"));
    assert_eq!(s(2), format!("<6>{msg}\n"));
    assert_eq!(s(3), format!("{msg}\n"));
    let iso = s(4);
    assert_eq!(
        iso.len(),
        "2026-11-21T14:28:41.547571+00:00 ".len() + msg.len() + 1,
        "{iso}"
    );
    assert!(
        iso.ends_with(&format!(" {msg}\n")) && &iso[10..11] == "T",
        "{iso}"
    );
    assert_eq!(
        norm_header(&s(5)),
        format!("<174>DATE haproxy[PID]: {msg}\n")
    );
    assert_eq!(s(6), format!("<182>{msg}\n"));
    let timed = s(7);
    assert!(
        timed.starts_with("<6>") && timed.ends_with(&format!(" {msg}\n")),
        "{timed}"
    );
    assert_eq!(timed.len(), 3 + iso.len());
    // len 100: 100 bytes of header and message, then the newline.
    assert_eq!(got[8].len(), 101, "{}", s(8));
    assert_eq!(&s(8)[..100], &s(0)[..100]);
    assert!(s(8).ends_with('\n'));
    // `info debug`: the minimum level raises the severity to debug (<135>).
    assert_eq!(
        norm_header(&s(9)),
        format!("<135>DATE haproxy[PID]: {msg}\n")
    );
    // A target whose max level is notice gets no info line.
    let quiet = eng.addr("quiet").unwrap();
    exchange(quiet, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").await;
    cs[9].nothing(SEC / 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_handshake_failures() {
    let c = Collector::new();
    let b = backends().await;
    let crt = cert_path("rsa-a.test.pem");
    let text = format!(
        r#"
defaults
    mode http
    timeout client 1s
    timeout server 1s
    timeout connect 1s
    log 127.0.0.1:{p} local0
    option httplog
frontend plain
    bind 127.0.0.1:1 ssl crt {crt}
    default_backend be
frontend dln
    option dontlognull
    bind 127.0.0.1:1 ssl crt {crt}
    default_backend be
backend be
    server s1 {ok}
"#,
        p = c.port(),
        ok = b.ok.addr
    );
    let eng = start(&text).await;
    // `127.0.0.1:57048 [21/Nov/2026:14:30:43.543] fe/1: SSL handshake failure`
    for (fe, data, want) in [
        (
            "plain",
            &b"garbage\r\n\r\n"[..],
            "plain/1: SSL handshake failure",
        ),
        (
            "plain",
            &b""[..],
            "plain/1: Connection closed during SSL handshake",
        ),
        (
            "dln",
            &b"garbage\r\n\r\n"[..],
            "dln/1: SSL handshake failure",
        ),
    ] {
        let addr = eng.addr(fe).unwrap();
        exchange(addr, data).await;
        assert_eq!(
            norm_std(&c.next()),
            format!("{H}127.0.0.1:CPORT [LOGDATE] {want}")
        );
    }
    // dontlognull hides a connection closed during the handshake.
    exchange(eng.addr("dln").unwrap(), b"").await;
    c.nothing(SEC / 2);
}

#[test]
fn unsupported_parts_are_refused() {
    let cfg = config(
        r#"
global
    log ring@r1 local0
defaults
    timeout client 1s
    timeout server 1s
    timeout connect 1s
frontend a
    mode http
    log 127.0.0.1:514 local0
    log-format "%ci %sslc"
    bind 127.0.0.1:1
frontend b
    mode http
    log 127.0.0.1:514 local0
    log-format "%[req.hdr(host)]"
    bind 127.0.0.1:1
frontend c
    mode tcp
    log 127.0.0.1:514 local0
    log-format "%ci %r"
    bind 127.0.0.1:1
frontend d
    mode http
    log 127.0.0.1:514 local0
    log-format "%ci %[src,lower] %{+Q}HM"
    bind 127.0.0.1:1
"#,
    );
    let msgs = haproxide::engine::accesslog::unsupported_in(&cfg);
    let all = msgs.join("\n");
    assert!(all.contains("ring@r1"), "{all}");
    assert!(all.contains("proxy 'a'") && all.contains("%sslc"), "{all}");
    assert!(
        all.contains("proxy 'b'") && all.contains("req.hdr"),
        "{all}"
    );
    assert!(
        all.contains("proxy 'c'") && all.contains("reserved for HTTP mode"),
        "{all}"
    );
    assert!(!all.contains("proxy 'd'"), "{all}");
    assert_eq!(msgs.len(), 4, "{all}");
}

/// Reads lines from a child's pipe on a thread; `next` waits up to 3 s for one.
struct Lines(std::sync::mpsc::Receiver<String>);

impl Lines {
    fn new<R: std::io::Read + Send + 'static>(r: R) -> Lines {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(r)
                .split(b'\n')
                .map_while(Result::ok)
            {
                let mut l = String::from_utf8_lossy(&line).into_owned();
                l.push('\n');
                if tx.send(l).is_err() {
                    break;
                }
            }
        });
        Lines(rx)
    }

    fn next(&self) -> String {
        self.0
            .recv_timeout(3 * SEC)
            .expect("no line from the child")
    }
}

/// `log stdout format raw local0` (the Docker idiom) and `log stderr len 80`, from the
/// binary: one line per request on stdout; stderr gets 79 bytes and a newline.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stdout_and_stderr_targets_from_the_binary() {
    let b = backends().await;
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let dir = std::env::temp_dir().join(format!("haproxide-log-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cfg = dir.join("stdout.cfg");
    std::fs::write(
        &cfg,
        format!(
            r#"
global
    log stdout format raw local0
    log stderr len 80 local0
defaults
    mode http
    log global
    option httplog
    timeout client 5s
    timeout server 5s
    timeout connect 1s
frontend fe
    bind 127.0.0.1:{port}
    default_backend be
backend be
    server s1 {ok}
"#,
            ok = b.ok.addr
        ),
    )
    .unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_haproxide"))
        .arg("-f")
        .arg(&cfg)
        .arg("-db")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = Lines::new(child.stdout.take().unwrap());
    let stderr = Lines::new(child.stderr.take().unwrap());
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let mut up = false;
    for _ in 0..100 {
        if TcpStream::connect(addr).await.is_ok() {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    if !up {
        let _ = child.kill();
        let mut err = String::new();
        while let Ok(l) = stderr.0.recv_timeout(SEC / 2) {
            err.push_str(&l);
        }
        panic!("haproxide did not start: {err}");
    }
    exchange(addr, b"GET /stdout HTTP/1.1\r\nHost: x\r\n\r\n").await;
    // The probe connections closed without a request first: CR 400 lines.
    let line = loop {
        let line = stdout.next();
        if line.contains("/stdout") {
            break line;
        }
        assert!(
            line.contains(" 400 0 - - CR-- ") && line.contains("<BADREQ>"),
            "{line}"
        );
    };
    assert_eq!(
        norm_std(&line),
        r#"127.0.0.1:CPORT [LOGDATE] fe be/s1 T/T/T/T/T 200 52 - - ---- 1/1/0/0/0 0/0 "GET /stdout HTTP/1.1""#
    );
    // The same request on stderr, cut at 79 bytes (the date of `%tr` is still in).
    let client = line.split(' ').next().unwrap_or("").to_string();
    let line = loop {
        let line = stderr.next();
        if line.starts_with("<134>") && line.contains(&format!(": {client} [")) {
            break line;
        }
    };
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(line.len(), 80, "{line:?}");
    assert!(line.ends_with('\n'));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn response_deny_and_queue_timeout() {
    let c = Collector::new();
    let b = backends().await;
    let text = format!(
        r#"
global
    log 127.0.0.1:{p} local0
defaults
    mode http
    log global
    option httplog
    timeout client 5s
    timeout server 1s
    timeout connect 1s
frontend fe
    bind 127.0.0.1:1
    use_backend berdeny if {{ path /rdeny }}
    default_backend bequeue
backend berdeny
    http-response deny
    server s1 {ok}
backend bequeue
    timeout queue 500ms
    server s1 {silent} maxconn 1
"#,
        p = c.port(),
        ok = b.ok.addr,
        silent = b.silent.addr
    );
    let eng = start(&text).await;
    let fe = eng.addr("fe").unwrap();
    // `http-response deny`: the server's response counts in %B (52 + the 502's 209) and
    // %Tr is -1, as HAProxy logs it.
    exchange(fe, b"GET /rdeny HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert_eq!(
        norm_std(&c.next()),
        format!(
            r#"{H}127.0.0.1:CPORT [LOGDATE] fe berdeny/s1 T/T/T/-1/T 502 261 - - PH-- 1/1/0/0/0 0/0 "GET /rdeny HTTP/1.1""#
        )
    );
    // The only slot is taken: the second request waits 500 ms in the queue (sQ, Tw is
    // the wait). HAProxy logs the queue position too (`0/1`); haproxide logs `0/0`.
    settle(&eng).await;
    let first = tokio::spawn(send_and_wait(fe, b"GET /q1 HTTP/1.1\r\nHost: x\r\n\r\n"));
    tokio::time::sleep(SEC / 5).await;
    exchange(fe, b"GET /q2 HTTP/1.1\r\nHost: x\r\n\r\n").await;
    let line = norm_std(&c.next());
    let want = format!(
        "{H}127.0.0.1:CPORT [LOGDATE] fe bequeue/<NOSRV> T/T/-1/-1/T 503 217 - - sQ-- 2/2/1/0/0 "
    );
    assert!(line.starts_with(&want), "{line}");
    assert!(line.ends_with(r#" "GET /q2 HTTP/1.1""#), "{line}");
    // q1 ends with a 504 after `timeout server`.
    let _ = first.await;
    assert_eq!(
        norm_std(&c.next()),
        format!(
            r#"{H}127.0.0.1:CPORT [LOGDATE] fe bequeue/s1 T/T/T/-1/T 504 198 - - sH-- 1/1/0/0/0 0/0 "GET /q1 HTTP/1.1""#
        )
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unix_datagram_target() {
    let dir = std::env::temp_dir().join(format!("haproxide-logu-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("log.sock");
    let _ = std::fs::remove_file(&path);
    let sock = std::os::unix::net::UnixDatagram::bind(&path).unwrap();
    sock.set_read_timeout(Some(3 * SEC)).unwrap();
    let b = backends().await;
    let text = format!(
        r#"
defaults
    mode tcp
    timeout client 5s
    timeout server 5s
    timeout connect 1s
frontend fe
    log {} len 200 format rfc3164 daemon
    log-format "%ci %b/%s %B %U %ts"
    bind 127.0.0.1:1
    default_backend be
backend be
    server s1 {}
"#,
        path.display(),
        b.echo.addr
    );
    let eng = start(&text).await;
    exchange(eng.addr("fe").unwrap(), b"ping").await;
    let mut buf = [0u8; 2048];
    let n = sock.recv(&mut buf).unwrap();
    let line = String::from_utf8_lossy(&buf[..n]).into_owned();
    // daemon.info = 3 * 8 + 6.
    assert_eq!(
        norm_header(&line),
        "<30>DATE haproxy[PID]: 127.0.0.1 be/s1 4 4 --\n"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// IPv4 clients of a `v4v6` bind are IPv4-mapped IPv6 addresses in HAProxy's lines.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v4_mapped_clients() {
    let c = Collector::new();
    let b = backends().await;
    let text = format!(
        r#"
defaults
    mode http
    timeout client 5s
    timeout server 1s
    timeout connect 1s
frontend fe
    log 127.0.0.1:{p} local0
    log-format "%ci %{{+X}}ci %fi %[src] Connect"
    bind :::1 v4v6
    default_backend be
backend be
    server s1 {ok}
"#,
        p = c.port(),
        ok = b.ok.addr
    );
    let eng = start(&text).await;
    let port = eng.addr("fe").unwrap().port();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    exchange(addr, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert_eq!(
        norm_header(&c.next()),
        format!("{H}::ffff:127.0.0.1 00000000000000000000FFFF7F000001 ::ffff:127.0.0.1 ::ffff:127.0.0.1 Connect\n")
    );
}
