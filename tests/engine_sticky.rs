//! Persistence and queueing over real sockets (127.0.0.1, port 0): cookie persistence
//! (insert/indirect/nocache, prefix, rewrite, passive, dates), server down with `option
//! persist` / `option redispatch`, stick tables (`stick on src` from several loopback
//! source addresses, cookie keys, expiry, TCP mode), and HAProxy's queues (`maxconn`,
//! `maxqueue` overflow → 503, FIFO service, `timeout queue`).
//!
//! Expected bytes and behaviours were captured from HAProxy 2.6.12 (`/usr/sbin/haproxy`) on
//! this host, with a backend that answers exactly like [`app`] (same status line, headers
//! and body), by sending the same raw requests to both.

mod common;

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use common::*;
use haproxide::engine::{self, RunningEngine};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

const SEC: Duration = Duration::from_secs(1);

const E503: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 107\r\ncache-control: no-cache\r\ncontent-type: text/html\r\n\r\n<html><body><h1>503 Service Unavailable</h1>\nNo server is available to handle this request.\n</body></html>\n";

// ---------------------------------------------------------------------------------------
// A backend and a raw client

fn pct_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 3 <= b.len() {
            if let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// An HTTP/1.1 keep-alive backend named `name`. The query string drives the answer:
/// `s=<status>`, `h=<header line>` (repeatable, percent-encoded), `sleep=<seconds>`. The
/// response is `HTTP/1.1 <status> X`, the `h` headers, `content-length`, and a body made of
/// the name and the `Cookie` header lines the backend received.
async fn app(name: &'static str) -> TestServer {
    serve(move |mut s: TcpStream| async move {
        let mut buf: Vec<u8> = Vec::new();
        let mut tmp = [0u8; 4096];
        loop {
            let head_end = loop {
                if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                    break p + 4;
                }
                match s.read(&mut tmp).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => buf.extend_from_slice(&tmp[..n]),
                }
            };
            let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
            let mut lines = head.split("\r\n");
            let reqline = lines.next().unwrap_or("").to_string();
            let hdrs: Vec<String> = lines
                .filter(|l| !l.is_empty())
                .map(str::to_string)
                .collect();
            let clen = hdrs
                .iter()
                .find_map(|h| {
                    let (n, v) = h.split_once(':')?;
                    n.eq_ignore_ascii_case("content-length")
                        .then(|| v.trim().parse::<usize>().unwrap_or(0))
                })
                .unwrap_or(0);
            while buf.len() < head_end + clen {
                match s.read(&mut tmp).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => buf.extend_from_slice(&tmp[..n]),
                }
            }
            buf.drain(..head_end + clen);
            let target = reqline.split(' ').nth(1).unwrap_or("/").to_string();
            let query = target
                .split_once('?')
                .map(|(_, q)| q.to_string())
                .unwrap_or_default();
            let mut status = "200".to_string();
            let mut extra = String::new();
            for kv in query.split('&').filter(|kv| !kv.is_empty()) {
                let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
                let v = pct_decode(v);
                match k {
                    "s" => status = v,
                    "h" => {
                        extra.push_str(&v);
                        extra.push_str("\r\n");
                    }
                    "sleep" => {
                        let secs: f64 = v.parse().unwrap_or(0.0);
                        tokio::time::sleep(Duration::from_secs_f64(secs)).await;
                    }
                    _ => {}
                }
            }
            let cookies: Vec<&String> = hdrs
                .iter()
                .filter(|h| h.to_ascii_lowercase().starts_with("cookie"))
                .collect();
            let cookies: Vec<&str> = cookies.iter().map(|s| s.as_str()).collect();
            let body = format!("{name}\n{}\n", cookies.join("\n"));
            let out = format!(
                "HTTP/1.1 {status} X\r\n{extra}content-length: {}\r\n\r\n{body}",
                body.len()
            );
            if s.write_all(out.as_bytes()).await.is_err() {
                return;
            }
        }
    })
    .await
}

#[derive(Debug)]
struct Resp {
    status: u16,
    head: String,
    body: String,
    raw: Vec<u8>,
}

impl Resp {
    fn header(&self, name: &str) -> Option<String> {
        self.headers(name).into_iter().next()
    }
    fn headers(&self, name: &str) -> Vec<String> {
        self.head
            .lines()
            .skip(1)
            .filter_map(|l| {
                let (n, v) = l.split_once(':')?;
                n.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
            })
            .collect()
    }
    /// The server that answered (first body line).
    fn server(&self) -> &str {
        self.body.lines().next().unwrap_or("")
    }
}

/// Reads one response (with a Content-Length, as every response here has).
async fn read_resp(s: &mut TcpStream, buf: &mut Vec<u8>) -> Option<Resp> {
    let mut tmp = [0u8; 8192];
    let head_end = loop {
        if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break p + 4;
        }
        let n = tokio::time::timeout(10 * SEC, s.read(&mut tmp))
            .await
            .ok()?
            .ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&tmp[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let status = head.split(' ').nth(1)?.parse().ok()?;
    let clen: usize = head
        .lines()
        .find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse().ok())?
        })
        .unwrap_or(0);
    while buf.len() < head_end + clen {
        let n = tokio::time::timeout(10 * SEC, s.read(&mut tmp))
            .await
            .ok()?
            .ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&tmp[..n]);
    }
    let raw: Vec<u8> = buf.drain(..head_end + clen).collect();
    let body = String::from_utf8_lossy(&raw[head_end..]).into_owned();
    Some(Resp {
        status,
        head,
        body,
        raw,
    })
}

/// A client connection, from `src` when given (any 127.0.0.x works on Linux loopback).
async fn connect(addr: SocketAddr, src: Option<&str>) -> TcpStream {
    match src {
        None => TcpStream::connect(addr).await.unwrap(),
        Some(ip) => {
            let sock = TcpSocket::new_v4().unwrap();
            sock.bind(SocketAddr::new(ip.parse::<IpAddr>().unwrap(), 0))
                .unwrap();
            sock.connect(addr).await.unwrap()
        }
    }
}

/// One request on a new connection.
async fn get(addr: SocketAddr, req: &str) -> Resp {
    get_from(addr, None, req).await
}

async fn get_from(addr: SocketAddr, src: Option<&str>, req: &str) -> Resp {
    let mut c = connect(addr, src).await;
    c.write_all(req.as_bytes()).await.unwrap();
    read_resp(&mut c, &mut Vec::new())
        .await
        .expect("a response")
}

fn req(path: &str, cookie: Option<&str>) -> String {
    match cookie {
        Some(c) => format!("GET {path} HTTP/1.1\r\nHost: x\r\nCookie: {c}\r\n\r\n"),
        None => format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n"),
    }
}

fn cfg(backend: &str, servers: &[(&str, SocketAddr, &str)]) -> String {
    let mut s = String::from(
        "defaults\n  mode http\n  timeout connect 500ms\n  timeout client 5s\n  timeout server 5s\n\
         frontend fe\n  bind 127.0.0.1:1\n  default_backend be\nbackend be\n",
    );
    s.push_str(backend);
    for (name, addr, opts) in servers {
        s.push_str(&format!("  server {name} {addr} {opts}\n"));
    }
    s
}

async fn start(text: &str) -> RunningEngine {
    engine::start(config(text)).await.unwrap()
}

/// [`start`] without the health-check messages on stderr.
async fn start_quiet(text: &str) -> RunningEngine {
    engine::start(config(&format!("global\n  quiet\n{text}")))
        .await
        .unwrap()
}

fn fe(eng: &RunningEngine) -> SocketAddr {
    eng.addr("fe").unwrap()
}

async fn three() -> (TestServer, TestServer, TestServer) {
    (app("s1").await, app("s2").await, app("s3").await)
}

// ---------------------------------------------------------------------------------------
// Cookies

#[tokio::test]
async fn cookie_insert_sticks_across_requests() {
    let (a, b, c) = three().await;
    let eng = start(&cfg(
        "  cookie SERVERID insert indirect nocache\n",
        &[
            ("s1", a.addr, "cookie s1"),
            ("s2", b.addr, "cookie s2"),
            ("s3", c.addr, "cookie s3"),
        ],
    ))
    .await;
    // Without a cookie: round robin, each answer sets its server's cookie.
    for want in ["s1", "s2", "s3"] {
        let r = get(fe(&eng), &req("/", None)).await;
        assert_eq!(r.server(), want);
        assert_eq!(
            r.header("set-cookie"),
            Some(format!("SERVERID={want}; path=/"))
        );
    }
    // With the cookie, every request (new connections or keep-alive) goes to that server,
    // no cookie is set again, and the server never sees it (indirect).
    let mut conn = connect(fe(&eng), None).await;
    let mut left = Vec::new();
    for _ in 0..4 {
        let r = get(fe(&eng), &req("/", Some("SERVERID=s2"))).await;
        assert_eq!(r.server(), "s2");
        assert_eq!(r.header("set-cookie"), None, "{}", r.head);
        assert_eq!(r.body, "s2\n\n");
        conn.write_all(req("/", Some("SERVERID=s3")).as_bytes())
            .await
            .unwrap();
        let r = read_resp(&mut conn, &mut left).await.unwrap();
        assert_eq!(r.server(), "s3");
    }
    // An unknown value: balanced, and a new cookie is set.
    let r = get(fe(&eng), &req("/", Some("SERVERID=zz"))).await;
    assert!(r
        .header("set-cookie")
        .is_some_and(|v| v.starts_with("SERVERID=s")));
}

#[tokio::test]
async fn insert_indirect_nocache_bytes_match_haproxy() {
    let (a, b, c) = three().await;
    let eng = start(&cfg(
        "  cookie SERVERID insert indirect nocache httponly\n",
        &[
            ("s1", a.addr, "cookie s1"),
            ("s2", b.addr, "cookie s2"),
            ("s3", c.addr, "cookie s3"),
        ],
    ))
    .await;
    let expires = "/?h=Expires:%20Thu,%2001%20Dec%202033%2016:00:00%20GMT";
    // Captured from haproxy 2.6.12 with the same backend and requests.
    let r = get(fe(&eng), &req(expires, None)).await;
    assert_eq!(
        String::from_utf8_lossy(&r.raw),
        "HTTP/1.1 200 X\r\nexpires: Thu, 01 Dec 2033 16:00:00 GMT\r\ncontent-length: 4\r\nset-cookie: SERVERID=s1; path=/; HttpOnly\r\ncache-control: private\r\n\r\ns1\n\n"
    );
    let r = get(fe(&eng), &req(expires, Some("a=1; SERVERID=s1; b=2"))).await;
    assert_eq!(
        String::from_utf8_lossy(&r.raw),
        "HTTP/1.1 200 X\r\nexpires: Thu, 01 Dec 2033 16:00:00 GMT\r\ncontent-length: 20\r\n\r\ns1\ncookie: a=1; b=2\n"
    );
    // A POST is not cacheable: the cookie, no Cache-control.
    let post = format!(
        "POST {expires} HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nCookie: SERVERID=nope\r\n\r\n"
    );
    let r = get(fe(&eng), &post).await;
    assert_eq!(
        String::from_utf8_lossy(&r.raw),
        "HTTP/1.1 200 X\r\nexpires: Thu, 01 Dec 2033 16:00:00 GMT\r\ncontent-length: 4\r\nset-cookie: SERVERID=s2; path=/; HttpOnly\r\n\r\ns2\n\n"
    );
    // Without freshness or validator headers a GET is not cacheable either (2.6.12).
    let r = get(fe(&eng), &req("/", None)).await;
    assert_eq!(
        String::from_utf8_lossy(&r.raw),
        "HTTP/1.1 200 X\r\ncontent-length: 4\r\nset-cookie: SERVERID=s3; path=/; HttpOnly\r\n\r\ns3\n\n"
    );
    // The server's own SERVERID cookie is replaced by ours; other cookies stay.
    let r = get(
        fe(&eng),
        &req(
            "/?h=Set-Cookie:%20SERVERID=zz;%20path=/x&h=Set-Cookie:%20o=1",
            None,
        ),
    )
    .await;
    assert_eq!(
        r.headers("set-cookie"),
        ["o=1", "SERVERID=s1; path=/; HttpOnly"]
    );
    // Several Cookie headers, RFC 2109 attributes: edited like HAProxy does.
    let r = get(
        fe(&eng),
        "GET / HTTP/1.1\r\nHost: x\r\nCookie: SERVERID=s2; x=1\r\nCookie: y=2;SERVERID=s2 ;z=3\r\n\r\n",
    )
    .await;
    assert_eq!(r.body, "s2\ncookie: x=1\ncookie: y=2; z=3\n");
    let r = get(
        fe(&eng),
        &req("/", Some("$Version=1; SERVERID=s2; $Path=/; x=1")),
    )
    .await;
    assert_eq!(r.body, "s2\ncookie: $Version=1; x=1\n");
}

#[tokio::test]
async fn cookie_attributes_and_cookieless_server() {
    let (a, b, _c) = three().await;
    let eng = start(&cfg(
        "  cookie SRV insert domain .a.com domain b.example httponly secure attr SameSite=Lax attr Foo postonly\n",
        &[("s1", a.addr, "cookie s1"), ("s2", b.addr, "")],
    ))
    .await;
    let post = "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n";
    let r = get(fe(&eng), post).await;
    assert_eq!(
        r.header("set-cookie").as_deref(),
        Some(
            "SRV=s1; path=/; domain=.a.com; domain=b.example; HttpOnly; Secure; SameSite=Lax; Foo"
        )
    );
    // A server without `cookie` clears it.
    let r = get(fe(&eng), post).await;
    assert_eq!(
        r.header("set-cookie").as_deref(),
        Some("SRV=; Expires=Thu, 01-Jan-1970 00:00:01 GMT; path=/; domain=.a.com; domain=b.example; HttpOnly; Secure; SameSite=Lax; Foo")
    );
    // postonly: no cookie on GET.
    let r = get(fe(&eng), &req("/", None)).await;
    assert_eq!(r.header("set-cookie"), None);
}

#[tokio::test]
async fn prefix_rewrite_and_passive_modes() {
    let (a, b, _c) = three().await;
    let servers = [("s1", a.addr, "cookie s1"), ("s2", b.addr, "cookie s2")];
    let eng = start(&cfg("  cookie SRV prefix\n", &servers)).await;
    let r = get(fe(&eng), &req("/?h=Set-Cookie:%20SRV=abc;%20path=/", None)).await;
    assert_eq!(
        r.header("set-cookie").as_deref(),
        Some("SRV=s1~abc; path=/")
    );
    let r = get(fe(&eng), &req("/", Some("a=1; SRV=s2~abc; b=2"))).await;
    assert_eq!(r.body, "s2\ncookie: a=1; SRV=abc; b=2\n");
    // An unknown server part is stripped all the same; spaces around '=' are removed.
    let r = get(fe(&eng), &req("/", Some("SRV=zz~abc"))).await;
    assert!(r.body.ends_with("cookie: SRV=abc\n"), "{}", r.body);
    let r = get(
        fe(&eng),
        &req(
            "/?h=Set-Cookie:%20SRV%20=%20new%20;%20path=/",
            Some("SRV=s1~"),
        ),
    )
    .await;
    assert_eq!(
        r.header("set-cookie").as_deref(),
        Some("SRV=s1~new ; path=/")
    );
    drop(eng);

    let eng = start(&cfg("  cookie SRV rewrite\n", &servers)).await;
    let r = get(
        fe(&eng),
        &req("/?h=Set-Cookie:%20SRV=abc;%20path=/", Some("SRV=s2")),
    )
    .await;
    assert_eq!(
        (r.server(), r.header("set-cookie").as_deref()),
        ("s2", Some("SRV=s2; path=/"))
    );
    drop(eng);

    // Passive: read only; the server's cookie passes untouched.
    let eng = start(&cfg("  cookie SRV\n", &servers)).await;
    let r = get(
        fe(&eng),
        &req("/?h=Set-Cookie:%20SRV=abc;%20path=/", Some("SRV=s2")),
    )
    .await;
    assert_eq!(
        (r.server(), r.header("set-cookie").as_deref()),
        ("s2", Some("SRV=abc; path=/"))
    );
    assert_eq!(r.body, "s2\ncookie: SRV=s2\n");
}

#[tokio::test]
async fn maxidle_and_maxlife_dates() {
    use haproxide::engine::persist::cookie::s30tob64;
    let (a, b, _c) = three().await;
    let eng = start(&cfg(
        "  cookie SRV insert indirect maxidle 30s maxlife 1h\n",
        &[("s1", a.addr, "cookie s1"), ("s2", b.addr, "cookie s2")],
    ))
    .await;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as u32;
    let stamp = |t: u32| s30tob64(t.wrapping_add(3) >> 2);
    let r = get(fe(&eng), &req("/", None)).await;
    let v = r.header("set-cookie").unwrap();
    // `SRV=s1|LAST|FIRST; path=/`, both dates `(now + 3) >> 2` (the second may tick).
    let ok = [now, now + 1]
        .iter()
        .any(|t| v == format!("SRV=s1|{}|{}; path=/", stamp(*t), stamp(*t)));
    assert!(ok, "{v}");
    // Fresh dates: direct, nothing to refresh.
    let fresh = format!("SRV=s2|{}|{}", stamp(now + 4), stamp(now + 4));
    let r = get(fe(&eng), &req("/", Some(&fresh))).await;
    assert_eq!((r.server(), r.header("set-cookie")), ("s2", None));
    // Idle for too long: ignored (balanced), a new cookie is set.
    let idle = format!("SRV=s2|{}|{}", stamp(now - 100), stamp(now - 100));
    let r = get(fe(&eng), &req("/", Some(&idle))).await;
    assert_eq!(r.server(), "s2", "round robin's turn");
    let idle2 = format!("SRV=s2|{}|{}", stamp(now - 100), stamp(now - 100));
    let r = get(fe(&eng), &req("/", Some(&idle2))).await;
    assert_eq!(r.server(), "s1", "the expired cookie does not stick");
    assert!(r
        .header("set-cookie")
        .is_some_and(|v| v.starts_with("SRV=s1|")));
    // Too old (maxlife): same.
    let old = format!("SRV=s1|{}|{}", stamp(now), stamp(now - 7200));
    let r = get(fe(&eng), &req("/", Some(&old))).await;
    assert_eq!(r.server(), "s2");
}

#[tokio::test]
async fn down_server_persist_and_redispatch() {
    let (a, b, _c) = three().await;
    let dead = closed_port().await;
    let servers = [
        ("s1", a.addr, "cookie s1"),
        ("s2", b.addr, "cookie s2"),
        ("s3", dead, "cookie s3 check inter 100ms fall 1"),
    ];
    // DOWN server: the cookie is ignored, the request balanced, a new cookie set.
    let eng = start_quiet(&cfg(
        "  cookie SRV insert indirect\n  retries 1\n",
        &servers,
    ))
    .await;
    assert!(wait_for(3 * SEC, || !eng.state.backends[0].servers[2].is_up()).await);
    let r = get(fe(&eng), &req("/", Some("SRV=s3"))).await;
    assert_eq!(
        (r.server(), r.header("set-cookie").as_deref()),
        ("s1", Some("SRV=s1; path=/"))
    );
    drop(eng);
    // `option persist`: insists on the DOWN server, 503 after the retries.
    let eng = start_quiet(&cfg(
        "  cookie SRV insert indirect\n  retries 1\n  option persist\n",
        &servers,
    ))
    .await;
    assert!(wait_for(3 * SEC, || !eng.state.backends[0].servers[2].is_up()).await);
    let r = get(fe(&eng), &req("/", Some("SRV=s3"))).await;
    assert_eq!(r.raw, E503);
    drop(eng);
    // `option persist` + `option redispatch`: the last retry goes elsewhere, new cookie.
    let eng = start_quiet(&cfg(
        "  cookie SRV insert indirect\n  retries 1\n  option persist\n  option redispatch\n",
        &servers,
    ))
    .await;
    assert!(wait_for(3 * SEC, || !eng.state.backends[0].servers[2].is_up()).await);
    let r = get(fe(&eng), &req("/", Some("SRV=s3"))).await;
    assert_eq!(
        (r.status, r.header("set-cookie").as_deref()),
        (200, Some("SRV=s1; path=/"))
    );
    drop(eng);
    // Not checked (so "up") but refusing connections: redispatch moves the request.
    let unchecked = [servers[0], servers[1], ("s3", dead, "cookie s3")];
    let eng = start_quiet(&cfg(
        "  cookie SRV insert indirect\n  retries 1\n  option redispatch\n",
        &unchecked,
    ))
    .await;
    let r = get(fe(&eng), &req("/", Some("SRV=s3"))).await;
    assert_eq!(
        (r.status, r.header("set-cookie").as_deref()),
        (200, Some("SRV=s1; path=/"))
    );
    drop(eng);
    let eng = start_quiet(&cfg(
        "  cookie SRV insert indirect\n  retries 1\n",
        &unchecked,
    ))
    .await;
    let r = get(fe(&eng), &req("/", Some("SRV=s3"))).await;
    assert_eq!(r.raw, E503);
}

// ---------------------------------------------------------------------------------------
// Stick tables

#[tokio::test]
async fn stick_on_src_sticks_each_client_address() {
    let (a, b, c) = three().await;
    let eng = start(&cfg(
        "  stick-table type ip size 10 expire 1m\n  stick on src\n",
        &[("s1", a.addr, ""), ("s2", b.addr, ""), ("s3", c.addr, "")],
    ))
    .await;
    let clients = ["127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5"];
    let mut first = Vec::new();
    for ip in clients {
        first.push(
            get_from(fe(&eng), Some(ip), &req("/", None))
                .await
                .server()
                .to_string(),
        );
    }
    // Round robin for the first requests (HAProxy: s1 s2 s3 s1).
    assert_eq!(first, ["s1", "s2", "s3", "s1"]);
    for _ in 0..3 {
        for (ip, want) in clients.iter().zip(&first) {
            let r = get_from(fe(&eng), Some(ip), &req("/", None)).await;
            assert_eq!(r.server(), want, "client {ip}");
        }
    }
    assert_eq!(eng.state.persist.tables[0].len(), 4);
}

#[tokio::test]
async fn stick_table_entries_expire() {
    let (a, b, c) = three().await;
    let eng = start(&cfg(
        "  stick-table type ip size 10 expire 400ms\n  stick on src\n",
        &[("s1", a.addr, ""), ("s2", b.addr, ""), ("s3", c.addr, "")],
    ))
    .await;
    let r = get_from(fe(&eng), Some("127.0.0.2"), &req("/", None)).await;
    assert_eq!(r.server(), "s1");
    let r = get_from(fe(&eng), Some("127.0.0.3"), &req("/", None)).await;
    assert_eq!(r.server(), "s2");
    // Used again before expiry: still sticky (and refreshed).
    tokio::time::sleep(Duration::from_millis(250)).await;
    let r = get_from(fe(&eng), Some("127.0.0.3"), &req("/", None)).await;
    assert_eq!(r.server(), "s2");
    tokio::time::sleep(Duration::from_millis(250)).await;
    let r = get_from(fe(&eng), Some("127.0.0.3"), &req("/", None)).await;
    assert_eq!(r.server(), "s2");
    // .2's entry expired: balanced again (s3 is next), then sticks to the new server.
    let r = get_from(fe(&eng), Some("127.0.0.2"), &req("/", None)).await;
    assert_eq!(r.server(), "s3");
    let r = get_from(fe(&eng), Some("127.0.0.2"), &req("/", None)).await;
    assert_eq!(r.server(), "s3");
}

#[tokio::test]
async fn stick_on_a_cookie_value_and_store_request() {
    let (a, b, _c) = three().await;
    let eng = start(&cfg(
        "  stick-table type string len 8 size 10\n  stick on req.cook(sess)\n",
        &[("s1", a.addr, ""), ("s2", b.addr, "")],
    ))
    .await;
    // Same as haproxy 2.6.12: keys compare on 8 bytes, no cookie means no stickiness.
    let mut got = Vec::new();
    for c in [
        "sess=aaaaaaaa1",
        "sess=bbb",
        "sess=aaaaaaaa2",
        "sess=bbb",
        "sess=ccc",
        "other=1",
    ] {
        got.push(get(fe(&eng), &req("/", Some(c))).await.server().to_string());
    }
    assert_eq!(got, ["s1", "s2", "s1", "s2", "s1", "s2"]);
    drop(eng);

    // `stick store-request` + `stick match` on another table, with a condition.
    let text = cfg(
        "  stick match src table t\n  stick store-request src table t if { path_beg /login }\n",
        &[("s1", a.addr, ""), ("s2", b.addr, "")],
    ) + "backend t\n  stick-table type ip size 10\n";
    let eng = start(&text).await;
    let r = get_from(fe(&eng), Some("127.0.0.2"), &req("/", None)).await;
    assert_eq!(r.server(), "s1");
    let r = get_from(fe(&eng), Some("127.0.0.2"), &req("/", None)).await;
    assert_eq!(r.server(), "s2", "nothing stored outside /login");
    let r = get_from(fe(&eng), Some("127.0.0.2"), &req("/login", None)).await;
    assert_eq!(r.server(), "s1");
    for _ in 0..3 {
        let r = get_from(fe(&eng), Some("127.0.0.2"), &req("/", None)).await;
        assert_eq!(r.server(), "s1");
    }
}

#[tokio::test]
async fn stick_on_src_in_tcp_mode() {
    let (a, b) = (greeter("s1").await, greeter("s2").await);
    let text = format!(
        "defaults\n  mode tcp\n  timeout connect 500ms\n  timeout client 5s\n  timeout server 5s\n\
         listen fe\n  bind 127.0.0.1:1\n  stick-table type ip size 10\n  stick on src\n\
         \x20 server s1 {}\n  server s2 {}\n",
        a.addr, b.addr
    );
    let eng = start(&text).await;
    let hello = |src: &'static str| {
        let addr = fe(&eng);
        async move {
            let mut c = connect(addr, Some(src)).await;
            let v = read_n(&mut c, 2, 5 * SEC).await.unwrap();
            String::from_utf8(v).unwrap()
        }
    };
    // HAProxy stores at connection time in TCP mode.
    assert_eq!(hello("127.0.0.2").await, "s1");
    assert_eq!(hello("127.0.0.3").await, "s2");
    assert_eq!(hello("127.0.0.4").await, "s1");
    for _ in 0..2 {
        assert_eq!(hello("127.0.0.2").await, "s1");
        assert_eq!(hello("127.0.0.3").await, "s2");
        assert_eq!(hello("127.0.0.4").await, "s1");
    }
}

// ---------------------------------------------------------------------------------------
// Queues

/// Sends `path` with `cookie` after `delay`; returns (status, server, when it completed).
async fn timed(
    addr: SocketAddr,
    delay: Duration,
    path: &str,
    cookie: Option<&str>,
    t0: Instant,
) -> (u16, String, Duration) {
    tokio::time::sleep(delay).await;
    let r = get(addr, &req(path, cookie)).await;
    (r.status, r.server().to_string(), t0.elapsed())
}

#[tokio::test]
async fn maxqueue_overflow_is_503_and_redispatch_moves_it() {
    let (a, b, _c) = three().await;
    let servers = [
        ("s1", a.addr, "cookie s1 maxconn 1 maxqueue 1"),
        ("s2", b.addr, "cookie s2 maxconn 1"),
    ];
    let eng = start(&cfg(
        "  cookie SRV insert indirect\n  timeout queue 5s\n",
        &servers,
    ))
    .await;
    let addr = fe(&eng);
    let t0 = Instant::now();
    let ms = Duration::from_millis;
    let (r0, r1, r2, r3) = tokio::join!(
        timed(addr, ms(0), "/?sleep=0.6", Some("SRV=s1"), t0),
        timed(addr, ms(100), "/?sleep=0.6", Some("SRV=s1"), t0),
        timed(addr, ms(200), "/?sleep=0.6", Some("SRV=s1"), t0),
        timed(addr, ms(300), "/", Some("SRV=s2"), t0),
    );
    // haproxy 2.6.12: 200 s1 at ~0.6 s, 200 s1 at ~1.2 s (queued), 503 at once, 200 s2.
    assert_eq!((r0.0, r0.1.as_str()), (200, "s1"));
    assert_eq!((r1.0, r1.1.as_str()), (200, "s1"));
    assert!(
        r1.2 >= ms(1100),
        "the second waited for the first: {:?}",
        r1.2
    );
    assert_eq!(r2.0, 503);
    assert!(
        r2.2 < ms(500),
        "the overflow is refused at once: {:?}",
        r2.2
    );
    assert_eq!((r3.0, r3.1.as_str()), (200, "s2"));
    assert!(r3.2 < ms(500));
    drop(eng);

    // With `option redispatch`, the overflow is balanced to s2 instead.
    let eng = start(&cfg(
        "  cookie SRV insert indirect\n  option redispatch\n  timeout queue 5s\n",
        &servers,
    ))
    .await;
    let addr = fe(&eng);
    let t0 = Instant::now();
    let (r0, r1, r2) = tokio::join!(
        timed(addr, ms(0), "/?sleep=0.6", Some("SRV=s1"), t0),
        timed(addr, ms(100), "/?sleep=0.6", Some("SRV=s1"), t0),
        timed(addr, ms(200), "/?sleep=0.6", Some("SRV=s1"), t0),
    );
    assert_eq!((r0.0, r0.1.as_str()), (200, "s1"));
    assert_eq!((r1.0, r1.1.as_str()), (200, "s1"));
    assert_eq!((r2.0, r2.1.as_str()), (200, "s2"));
    assert!(r2.2 < ms(1100), "s2 was free: {:?}", r2.2);
}

#[tokio::test]
async fn backend_queue_is_fifo_and_ignores_maxqueue() {
    let (a, b, _c) = three().await;
    let eng = start(&cfg(
        "  timeout queue 5s\n",
        &[
            ("s1", a.addr, "maxconn 1 maxqueue 1"),
            ("s2", b.addr, "maxconn 1"),
        ],
    ))
    .await;
    let addr = fe(&eng);
    let t0 = Instant::now();
    let ms = Duration::from_millis;
    let (r0, r1, r2, r3, r4, r5) = tokio::join!(
        timed(addr, ms(0), "/?sleep=0.6", None, t0),
        timed(addr, ms(50), "/?sleep=1.0", None, t0),
        timed(addr, ms(100), "/?sleep=0.1", None, t0),
        timed(addr, ms(150), "/?sleep=0.1", None, t0),
        timed(addr, ms(200), "/?sleep=0.1", None, t0),
        timed(addr, ms(250), "/?sleep=0.1", None, t0),
    );
    // haproxy 2.6.12: the four queued requests all go to s1 as it frees up, in order.
    assert_eq!((r0.1.as_str(), r1.1.as_str()), ("s1", "s2"));
    let queued = [&r2, &r3, &r4, &r5];
    assert!(
        queued.iter().all(|r| r.0 == 200 && r.1 == "s1"),
        "{queued:?}"
    );
    assert!(
        queued.windows(2).all(|w| w[0].2 < w[1].2),
        "served in arrival order: {queued:?}"
    );
    assert!(r2.2 >= ms(650), "{:?}", r2.2);
}

#[tokio::test]
async fn timeout_queue_gives_503() {
    let (a, _b, _c) = three().await;
    let eng = start(&cfg(
        "  timeout queue 300ms\n",
        &[("s1", a.addr, "maxconn 1")],
    ))
    .await;
    let addr = fe(&eng);
    let t0 = Instant::now();
    let ms = Duration::from_millis;
    let (slow, queued) = tokio::join!(timed(addr, ms(0), "/?sleep=1", None, t0), async {
        tokio::time::sleep(ms(100)).await;
        let r = get(addr, &req("/", None)).await;
        (r.raw, t0.elapsed())
    },);
    assert_eq!(slow.0, 200);
    assert_eq!(queued.0, E503);
    assert!(queued.1 >= ms(350) && queued.1 < ms(900), "{:?}", queued.1);
    // Nothing left waiting, the slot came back.
    let q = &eng.state.persist.queues[0];
    assert_eq!(q.lengths(), (0, vec![0]));
    assert!(
        wait_for(2 * SEC, || eng.state.backends[0].servers[0]
            .cur_conns
            .load(std::sync::atomic::Ordering::Acquire)
            == 0)
        .await
    );
}
