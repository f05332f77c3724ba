//! The stats page over real sockets (127.0.0.1, port 0): `stats enable/uri/realm/auth/
//! refresh/hide-version`, the CSV export and its counters after proxied requests, the HTML
//! page, `;json`/`;typed`, HEAD/POST/HTTP/1.0 answers.
//!
//! Expected bytes (CSV header, 401 page, response heads) and counter values were captured
//! from haproxy 2.6.12 (`/usr/sbin/haproxy`) on this host with the same configurations:
//! HAProxy counts `bin`/`bout` as 21 bytes per message plus the start-line parts, header
//! names and values and body data, which the numbers below follow.

mod common;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use common::*;
use haproxide::engine::{self, RunningEngine};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const SEC: Duration = Duration::from_secs(1);

/// `curl -s 'http://127.0.0.1:P/stats;csv' | head -1` on haproxy 2.6.12.
const CSV_HEADER: &str = "# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,wredis,status,weight,act,bck,chkfail,chkdown,lastchg,downtime,qlimit,pid,iid,sid,throttle,lbtot,tracked,type,rate,rate_lim,rate_max,check_status,check_code,check_duration,hrsp_1xx,hrsp_2xx,hrsp_3xx,hrsp_4xx,hrsp_5xx,hrsp_other,hanafail,req_rate,req_rate_max,req_tot,cli_abrt,srv_abrt,comp_in,comp_out,comp_byp,comp_rsp,lastsess,last_chk,last_agt,qtime,ctime,rtime,ttime,agent_status,agent_code,agent_duration,check_desc,agent_desc,check_rise,check_fall,check_health,agent_rise,agent_fall,agent_health,addr,cookie,mode,algo,conn_rate,conn_rate_max,conn_tot,intercepted,dcon,dses,wrew,connect,reuse,cache_lookups,cache_hits,srv_icur,src_ilim,qtime_max,ctime_max,rtime_max,ttime_max,eint,idle_conn_cur,safe_conn_cur,used_conn_cur,need_conn_est,uweight,agg_server_status,agg_server_check_status,agg_check_status,-,ssl_sess,ssl_reused_sess,ssl_failed_handshake,h2_headers_rcvd,h2_data_rcvd,h2_settings_rcvd,h2_rst_stream_rcvd,h2_goaway_rcvd,h2_detected_conn_protocol_errors,h2_detected_strm_protocol_errors,h2_rst_stream_resp,h2_goaway_resp,h2_open_connections,h2_backend_open_streams,h2_total_connections,h2_backend_total_streams,h1_open_connections,h1_open_streams,h1_total_connections,h1_total_streams,h1_bytes_in,h1_bytes_out,h1_spliced_bytes_in,h1_spliced_bytes_out,";

/// haproxy 2.6.12's answer to a stats request without credentials (`stats realm My\ Stats`).
const E401_MY_STATS: &[u8] = b"HTTP/1.1 401 Unauthorized\r\ncontent-length: 112\r\ncache-control: no-cache\r\ncontent-type: text/html\r\nwww-authenticate: Basic realm=\"My Stats\"\r\n\r\n<html><body><h1>401 Unauthorized</h1>\nYou need a valid user and password to access this content.\n</body></html>\n";

// ---------------------------------------------------------------------------------------
// Helpers

async fn start(text: &str) -> RunningEngine {
    engine::start(config(text)).await.unwrap()
}

fn fe(eng: &RunningEngine) -> SocketAddr {
    eng.addr("fe").unwrap()
}

fn cfg(fe_extra: &str, rest: &str) -> String {
    format!(
        "global\n  quiet\ndefaults\n  mode http\n  timeout connect 200ms\n  timeout client 5s\n  timeout server 5s\n\
         frontend fe\n  bind 127.0.0.1:1\n{fe_extra}\n{rest}\n"
    )
}

/// A server answering every request with the same bytes (one request per connection).
async fn fixed_server(reply: &'static [u8]) -> TestServer {
    serve(move |mut s: TcpStream| async move {
        let mut buf = Vec::new();
        let mut tmp = [0u8; 4096];
        while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
            match s.read(&mut tmp).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&tmp[..n]),
            }
        }
        let _ = s.write_all(reply).await;
        let _ = s.shutdown().await;
    })
    .await
}

#[derive(Debug)]
struct Resp {
    status: u16,
    head: String,
    body: Vec<u8>,
    raw: Vec<u8>,
    closed: bool,
}

impl Resp {
    fn header(&self, name: &str) -> Option<String> {
        self.head.lines().skip(1).find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
        })
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

async fn fill<S: AsyncRead + Unpin>(s: &mut S, buf: &mut Vec<u8>) -> bool {
    let mut tmp = [0u8; 16384];
    match tokio::time::timeout(5 * SEC, s.read(&mut tmp)).await {
        Ok(Ok(n)) if n > 0 => {
            buf.extend_from_slice(&tmp[..n]);
            true
        }
        _ => false,
    }
}

/// Reads one response (Content-Length, chunked, or up to EOF).
async fn read_resp<S: AsyncRead + Unpin>(s: &mut S, head_req: bool) -> Option<Resp> {
    let mut buf = Vec::new();
    let head_end = loop {
        if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break p + 4;
        }
        if !fill(s, &mut buf).await {
            return None;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let status: u16 = head.split(' ').nth(1)?.parse().ok()?;
    let mut r = Resp {
        status,
        head,
        body: Vec::new(),
        raw: Vec::new(),
        closed: false,
    };
    let mut rest = buf.split_off(head_end);
    if head_req {
        r.raw = buf;
        return Some(r);
    }
    if let Some(cl) = r.header("content-length") {
        let n: usize = cl.parse().ok()?;
        while rest.len() < n {
            if !fill(s, &mut rest).await {
                break;
            }
        }
        r.body = rest.clone();
    } else if r
        .header("transfer-encoding")
        .is_some_and(|t| t.contains("chunked"))
    {
        let mut pos = 0;
        loop {
            let eol = loop {
                if let Some(p) = rest[pos..].windows(2).position(|w| w == b"\r\n") {
                    break pos + p;
                }
                if !fill(s, &mut rest).await {
                    return None;
                }
            };
            let size =
                usize::from_str_radix(std::str::from_utf8(&rest[pos..eol]).ok()?, 16).ok()?;
            while rest.len() < eol + 2 + size + 2 {
                if !fill(s, &mut rest).await {
                    return None;
                }
            }
            r.body.extend_from_slice(&rest[eol + 2..eol + 2 + size]);
            pos = eol + 2 + size + 2;
            if size == 0 {
                break;
            }
        }
    } else {
        while fill(s, &mut rest).await {}
        r.body = rest.clone();
        r.closed = true;
    }
    r.raw = [buf, rest].concat();
    Some(r)
}

/// One request on a new connection; `closed` tells whether the proxy then closed it.
async fn exchange(addr: SocketAddr, req: &str) -> Resp {
    let mut c = TcpStream::connect(addr).await.unwrap();
    c.write_all(req.as_bytes()).await.unwrap();
    let mut r = read_resp(&mut c, req.starts_with("HEAD"))
        .await
        .unwrap_or_else(|| panic!("no response to {req:?}"));
    if !r.closed {
        let mut b = [0u8; 1];
        r.closed = matches!(
            tokio::time::timeout(Duration::from_millis(300), c.read(&mut b)).await,
            Ok(Ok(0)) | Ok(Err(_))
        );
    }
    r
}

/// A GET on a new connection (whether the connection then closes is not checked).
async fn get(addr: SocketAddr, path: &str) -> Resp {
    let mut c = TcpStream::connect(addr).await.unwrap();
    c.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())
        .await
        .unwrap();
    read_resp(&mut c, false)
        .await
        .unwrap_or_else(|| panic!("no response to GET {path}"))
}

/// The CSV lines by `(pxname, svname)`, each as a map column → value.
fn parse_csv(text: &str) -> HashMap<(String, String), HashMap<String, String>> {
    let mut lines = text.lines();
    let header: Vec<&str> = lines
        .next()
        .unwrap()
        .trim_start_matches("# ")
        .split(',')
        .collect();
    let mut out = HashMap::new();
    for l in lines.filter(|l| !l.is_empty()) {
        let vals: Vec<&str> = l.split(',').collect();
        assert_eq!(vals.len(), header.len(), "{l}");
        let row: HashMap<String, String> = header
            .iter()
            .zip(&vals)
            .map(|(h, v)| (h.to_string(), v.to_string()))
            .collect();
        out.insert((vals[0].to_string(), vals[1].to_string()), row);
    }
    out
}

async fn csv(addr: SocketAddr, uri: &str) -> HashMap<(String, String), HashMap<String, String>> {
    let r = get(addr, uri).await;
    assert_eq!(r.status, 200, "{}", r.head);
    parse_csv(&r.text())
}

fn field<'a>(
    rows: &'a HashMap<(String, String), HashMap<String, String>>,
    px: &str,
    sv: &str,
    col: &str,
) -> &'a str {
    rows.get(&(px.to_string(), sv.to_string()))
        .unwrap_or_else(|| panic!("no line {px}/{sv}"))
        .get(col)
        .unwrap_or_else(|| panic!("no column {col}"))
}

// ---------------------------------------------------------------------------------------
// Tests

#[tokio::test]
async fn csv_header_and_default_uri() {
    let eng = start(&cfg("  stats enable", "")).await;
    let r = get(fe(&eng), "/haproxy?stats;csv").await;
    assert_eq!(r.status, 200);
    assert!(
        r.head.starts_with(
            "HTTP/1.1 200 OK\r\ncache-control: no-cache\r\ncontent-type: text/plain\r\ntransfer-encoding: chunked\r\n\r\n"
        ),
        "{}",
        r.head
    );
    let text = r.text();
    assert_eq!(text.lines().next(), Some(CSV_HEADER));
    // The frontend line, like haproxy's for a fresh frontend whose only session is this one.
    let rows = parse_csv(&text);
    assert_eq!(field(&rows, "fe", "FRONTEND", "status"), "OPEN");
    assert_eq!(field(&rows, "fe", "FRONTEND", "scur"), "1");
    assert_eq!(field(&rows, "fe", "FRONTEND", "stot"), "1");
    assert_eq!(field(&rows, "fe", "FRONTEND", "req_tot"), "1");
    assert_eq!(field(&rows, "fe", "FRONTEND", "intercepted"), "1");
    assert_eq!(field(&rows, "fe", "FRONTEND", "type"), "0");
    assert_eq!(field(&rows, "fe", "FRONTEND", "mode"), "http");
    assert_eq!(field(&rows, "fe", "FRONTEND", "pid"), "1");
    assert_eq!(field(&rows, "fe", "FRONTEND", "iid"), "1");
    assert_eq!(field(&rows, "fe", "FRONTEND", "-"), "-");
    // The stats URI is a prefix of the path and query: anything longer matches too.
    let r = get(fe(&eng), "/haproxy?statsXYZ;csv").await;
    assert_eq!(r.status, 200);
    assert!(r.text().starts_with("# pxname,"));
    // Another path does not (no backend here: 503).
    assert_eq!(get(fe(&eng), "/haproxy").await.status, 503);
}

#[tokio::test]
async fn counters_after_proxied_requests() {
    // 63 bytes out as HAProxy counts them: 21 + "HTTP/1.1" "200" "OK" + content-length: 5
    // + x-test: abc + 5 bytes of body.
    let ok =
        fixed_server(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-Test: abc\r\n\r\nhello").await;
    let dead = closed_port().await;
    let eng = start(&cfg(
        "  maxconn 100\n  stats enable\n  stats uri /st\n  use_backend bad if { path /bad }\n  default_backend be",
        &format!(
            "backend be\n  server s1 {}\nbackend bad\n  retries 1\n  server s2 {dead}",
            ok.addr
        ),
    ))
    .await;
    for _ in 0..3 {
        let r = get(fe(&eng), "/").await;
        assert_eq!(r.status, 200);
        assert_eq!(r.text(), "hello");
    }
    assert_eq!(get(fe(&eng), "/bad").await.status, 503);
    let rows = csv(fe(&eng), "/st;csv").await;
    let f = |px: &str, sv: &str, col: &str| field(&rows, px, sv, col).to_string();

    // Frontend: 5 sessions (4 + this one), 5 requests, 3 × 200 and one 503. Bytes in: 3 ×
    // 38 ("GET / HTTP/1.1" + host: x + 21) + 41 for /bad; bytes out: 3 × 63 + 217 (the
    // built-in 503, as haproxy counts it). This request is counted when it ends.
    assert_eq!(f("fe", "FRONTEND", "stot"), "5");
    assert_eq!(f("fe", "FRONTEND", "conn_tot"), "5");
    assert_eq!(f("fe", "FRONTEND", "scur"), "1");
    assert_eq!(f("fe", "FRONTEND", "req_tot"), "5");
    assert_eq!(f("fe", "FRONTEND", "hrsp_2xx"), "3");
    assert_eq!(f("fe", "FRONTEND", "hrsp_5xx"), "1");
    assert_eq!(f("fe", "FRONTEND", "intercepted"), "1");
    assert_eq!(f("fe", "FRONTEND", "bin"), (3 * 38 + 41).to_string());
    assert_eq!(f("fe", "FRONTEND", "bout"), (3 * 63 + 217).to_string());
    assert_eq!(f("fe", "FRONTEND", "slim"), "100");

    // Backend and server of the good requests.
    assert_eq!(f("be", "BACKEND", "stot"), "3");
    assert_eq!(f("be", "BACKEND", "scur"), "0");
    assert_eq!(f("be", "BACKEND", "smax"), "1");
    assert_eq!(f("be", "BACKEND", "lbtot"), "3");
    assert_eq!(f("be", "BACKEND", "req_tot"), "3");
    assert_eq!(f("be", "BACKEND", "hrsp_2xx"), "3");
    assert_eq!(f("be", "BACKEND", "bin"), "114");
    assert_eq!(f("be", "BACKEND", "bout"), "189");
    assert_eq!(f("be", "BACKEND", "connect"), "3");
    assert_eq!(f("be", "BACKEND", "status"), "UP");
    assert_eq!(f("be", "BACKEND", "weight"), "1");
    assert_eq!(f("be", "BACKEND", "act"), "1");
    assert_eq!(f("be", "BACKEND", "bck"), "0");
    // fullconn: a tenth of the frontend's maxconn, rounded up.
    assert_eq!(f("be", "BACKEND", "slim"), "10");
    assert_eq!(f("be", "s1", "stot"), "3");
    assert_eq!(f("be", "s1", "lbtot"), "3");
    assert_eq!(f("be", "s1", "req_tot"), "3");
    assert_eq!(f("be", "s1", "hrsp_2xx"), "3");
    assert_eq!(f("be", "s1", "bin"), "114");
    assert_eq!(f("be", "s1", "bout"), "189");
    assert_eq!(f("be", "s1", "status"), "no check");
    assert_eq!(f("be", "s1", "weight"), "1");
    assert_eq!(f("be", "s1", "act"), "1");
    assert_eq!(f("be", "s1", "bck"), "0");
    assert_eq!(f("be", "s1", "sid"), "1");
    assert_eq!(f("be", "s1", "iid"), "2");
    assert_eq!(f("be", "s1", "type"), "2");
    // Unchecked servers have no check columns.
    assert_eq!(f("be", "s1", "chkfail"), "");
    assert_eq!(f("be", "s1", "check_status"), "");

    // The failing backend: one retry then 503; econ counts the stream once, wretr the
    // retry, connect both attempts (as haproxy 2.6.12 does).
    assert_eq!(f("bad", "s2", "econ"), "1");
    assert_eq!(f("bad", "s2", "wretr"), "1");
    assert_eq!(f("bad", "s2", "connect"), "2");
    assert_eq!(f("bad", "s2", "req_tot"), "0");
    assert_eq!(f("bad", "s2", "hrsp_5xx"), "0");
    assert_eq!(f("bad", "BACKEND", "econ"), "1");
    assert_eq!(f("bad", "BACKEND", "wretr"), "1");
    assert_eq!(f("bad", "BACKEND", "hrsp_5xx"), "1");
    assert_eq!(f("bad", "BACKEND", "bin"), "41");
    assert_eq!(f("bad", "BACKEND", "bout"), "217");
    // The page itself is counted once it is sent.
    let rows = csv(fe(&eng), "/st;csv").await;
    assert_eq!(field(&rows, "fe", "FRONTEND", "hrsp_2xx"), "4");
    assert_eq!(field(&rows, "fe", "FRONTEND", "req_tot"), "6");
}

#[tokio::test]
async fn denied_and_intercepted_requests() {
    let ok = fixed_server(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n").await;
    let eng = start(&cfg(
        "  stats enable\n  stats uri /st\n  http-request deny if { path /deny }\n  http-request redirect location /x if { path /redir }\n  default_backend be",
        &format!(
            "backend be\n  http-request deny if {{ path /bdeny }}\n  http-request return status 200 if {{ path /bret }}\n  server s1 {}",
            ok.addr
        ),
    ))
    .await;
    assert_eq!(get(fe(&eng), "/deny").await.status, 403);
    assert_eq!(get(fe(&eng), "/redir").await.status, 302);
    assert_eq!(get(fe(&eng), "/bdeny").await.status, 403);
    assert_eq!(get(fe(&eng), "/bret").await.status, 200);
    let rows = csv(fe(&eng), "/st;csv").await;
    // haproxy 2.6.12: dreq 2 on the frontend, 1 on the backend; intercepted counts the
    // frontend's redirect and the stats request, not the backend's `return`.
    assert_eq!(field(&rows, "fe", "FRONTEND", "dreq"), "2");
    assert_eq!(field(&rows, "be", "BACKEND", "dreq"), "1");
    assert_eq!(field(&rows, "fe", "FRONTEND", "intercepted"), "2");
    assert_eq!(field(&rows, "fe", "FRONTEND", "hrsp_4xx"), "2");
    assert_eq!(field(&rows, "fe", "FRONTEND", "hrsp_3xx"), "1");
    assert_eq!(field(&rows, "be", "BACKEND", "stot"), "2");
    assert_eq!(field(&rows, "be", "BACKEND", "hrsp_4xx"), "1");
    assert_eq!(field(&rows, "be", "BACKEND", "lastsess"), "-1");
}

#[tokio::test]
async fn auth_realm_and_credentials() {
    let eng = start(&cfg(
        "  stats enable\n  stats uri /admin\n  stats realm My\\ Stats\n  stats auth admin:secret\n  stats auth u2:p2",
        "",
    ))
    .await;
    let r = get(fe(&eng), "/admin").await;
    assert_eq!(r.status, 401);
    assert_eq!(r.raw, E401_MY_STATS, "{}", String::from_utf8_lossy(&r.raw));
    // Wrong password: 401 again.
    let bad = "GET /admin HTTP/1.1\r\nHost: x\r\nAuthorization: Basic YWRtaW46bm8=\r\n\r\n";
    assert_eq!(exchange(fe(&eng), bad).await.status, 401);
    // admin:secret, then u2:p2.
    for cred in ["YWRtaW46c2VjcmV0", "dTI6cDI="] {
        let ok =
            format!("GET /admin;csv HTTP/1.1\r\nHost: x\r\nAuthorization: Basic {cred}\r\n\r\n");
        let r = exchange(fe(&eng), &ok).await;
        assert_eq!(r.status, 200, "{}", r.head);
        assert!(r.text().starts_with(CSV_HEADER));
    }

    // The default realm.
    let eng = start(&cfg("  stats enable\n  stats auth a:b", "")).await;
    let r = get(fe(&eng), "/haproxy?stats").await;
    assert_eq!(r.status, 401);
    assert_eq!(
        r.header("www-authenticate").as_deref(),
        Some("Basic realm=\"HAProxy Statistics\"")
    );
}

#[tokio::test]
async fn refresh_header_and_norefresh() {
    let eng = start(&cfg(
        "  stats enable\n  stats uri /st\n  stats refresh 5s",
        "",
    ))
    .await;
    let r = get(fe(&eng), "/st").await;
    assert_eq!(r.status, 200);
    assert!(
        r.head.starts_with(
            "HTTP/1.1 200 OK\r\ncache-control: no-cache\r\ncontent-type: text/html\r\nrefresh: 5\r\ntransfer-encoding: chunked\r\n\r\n"
        ),
        "{}",
        r.head
    );
    let html = r.text();
    assert!(html.contains("<li><a href=\"/st;norefresh\">Disable refresh</a><br>\n"));
    assert!(html.contains("<li><a href=\"/st;csv;norefresh\">CSV export</a><br>\n"));
    let r = get(fe(&eng), "/st;csv").await;
    assert_eq!(r.header("refresh").as_deref(), Some("5"));
    let r = get(fe(&eng), "/st;csv;norefresh").await;
    assert_eq!(r.header("refresh"), None);
    let r = get(fe(&eng), "/st;norefresh").await;
    assert_eq!(r.header("refresh"), None);
    assert!(r.text().contains(">Enable refresh</a>"));
    // Without `stats refresh`, no header and no refresh link.
    let eng = start(&cfg("  stats enable\n  stats uri /st", "")).await;
    let r = get(fe(&eng), "/st").await;
    assert_eq!(r.header("refresh"), None);
    assert!(!r.text().contains("refresh</a>"));
}

#[tokio::test]
async fn hide_version() {
    let eng = start(&cfg(
        "  stats enable\n  stats uri /st\n  stats hide-version",
        "",
    ))
    .await;
    let html = get(fe(&eng), "/st").await.text();
    assert!(html.contains(
        "<body><h1><a href=\"http://www.haproxy.org/\" style=\"text-decoration: none;\">HAProxy</a></h1>\n"
    ));
    let eng = start(&cfg("  stats enable\n  stats uri /st", "")).await;
    let html = get(fe(&eng), "/st").await.text();
    let want = format!(
        "style=\"text-decoration: none;\">HAProxy version {}, released ",
        haproxide::VERSION_FOR_SCRIPTS
    );
    assert!(html.contains(&want), "{}", &html[..html.len().min(6500)]);
}

#[tokio::test]
async fn html_page_shows_proxies_servers_and_states() {
    let live = fixed_server(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n").await;
    let dead = closed_port().await;
    let eng = start(&cfg(
        "  stats enable\n  stats uri /st\n  default_backend be",
        &format!(
            "backend be\n  server s1 {l}\n  server s2 {dead} check inter 100ms\n  server s3 {l} disabled\n  server s4 {l} check inter 100ms backup weight 5",
            l = live.addr
        ),
    ))
    .await;
    // s2 goes DOWN at its first failed check.
    let mut rows = csv(fe(&eng), "/st;csv").await;
    for _ in 0..50 {
        if field(&rows, "be", "s2", "status") == "DOWN" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        rows = csv(fe(&eng), "/st;csv").await;
    }
    assert_eq!(field(&rows, "be", "s1", "status"), "no check");
    assert_eq!(field(&rows, "be", "s2", "status"), "DOWN");
    assert_eq!(field(&rows, "be", "s2", "check_status"), "L4CON");
    assert_eq!(
        field(&rows, "be", "s2", "check_desc"),
        "Layer4 connection problem"
    );
    assert_eq!(field(&rows, "be", "s2", "last_chk"), "Connection refused");
    assert_eq!(field(&rows, "be", "s2", "chkfail"), "1");
    assert_eq!(field(&rows, "be", "s2", "chkdown"), "1");
    assert_eq!(field(&rows, "be", "s2", "check_health"), "0");
    assert_eq!(field(&rows, "be", "s2", "check_rise"), "2");
    assert_eq!(field(&rows, "be", "s2", "check_fall"), "3");
    assert_eq!(field(&rows, "be", "s3", "status"), "MAINT");
    assert_eq!(field(&rows, "be", "s4", "weight"), "5");
    assert_eq!(field(&rows, "be", "s4", "bck"), "1");
    assert_eq!(field(&rows, "be", "BACKEND", "act"), "1");
    assert_eq!(field(&rows, "be", "BACKEND", "bck"), "1");
    assert_eq!(field(&rows, "be", "BACKEND", "weight"), "1");
    // s4 starts at the bottom of its UP range (health = rise) and climbs with checks.
    let mut s4 = field(&rows, "be", "s4", "status").to_string();
    for _ in 0..50 {
        if s4 == "UP" {
            break;
        }
        assert!(s4 == "UP 1/3" || s4 == "UP 2/3", "{s4}");
        tokio::time::sleep(Duration::from_millis(50)).await;
        let rows = csv(fe(&eng), "/st;csv").await;
        s4 = field(&rows, "be", "s4", "status").to_string();
    }
    assert_eq!(s4, "UP");

    let r = get(fe(&eng), "/st").await;
    assert_eq!(r.header("content-type").as_deref(), Some("text/html"));
    let html = r.text();
    assert!(html.starts_with("<!DOCTYPE HTML PUBLIC \"-//W3C//DTD HTML 4.01 Transitional//EN\"\n"));
    assert!(html.ends_with("</body></html>\n"));
    for needle in [
        "<title>Statistics Report for HAProxy</title>",
        "<a name=\"fe\"></a><a class=px href=\"#fe\">fe</a>",
        "<a name=\"be\"></a><a class=px href=\"#be\">be</a>",
        "<tr class=\"frontend\"><td class=ac><a name=\"fe/Frontend\"></a><a class=lfsb href=\"#fe/Frontend\">Frontend</a></td>",
        "<tr class=\"active_no_check\"><td class=ac><a name=\"be/s1\"></a><a class=lfsb href=\"#be/s1\">s1</a></td>",
        "<tr class=\"active_down\"><td class=ac><a name=\"be/s2\"></a>",
        " DOWN</td><td class=ac><u> L4CON in ",
        "<div class=tips>Layer4 connection problem: Connection refused</div></u>",
        "<tr class=\"maintain\"><td class=ac><a name=\"be/s3\"></a>",
        " MAINT</td><td></td><td class=ac>1/1</td>",
        "<tr class=\"backup_up\"><td class=ac><a name=\"be/s4\"></a>",
        "<td class=ac>5/5</td><td class=ac>-</td><td class=ac>Y</td>",
        "<tr class=\"backend\"><td class=ac><a name=\"be/Backend\"></a>",
        "<td class=ac><i>no check</i></td>",
        "<td class=ac>OPEN</td><td class=ac colspan=8></td></tr></table><p>\n",
    ] {
        assert!(html.contains(needle), "missing {needle:?}");
    }
    // `;up` hides the DOWN and MAINT servers and adds the count to the backend status.
    let rows = csv(fe(&eng), "/st;csv;up").await;
    assert!(!rows.contains_key(&("be".into(), "s2".into())));
    assert!(!rows.contains_key(&("be".into(), "s3".into())));
    assert_eq!(field(&rows, "be", "BACKEND", "status"), "UP (2/4)");
    // `scope=` lists the proxies whose name contains the text, ignoring case...
    let rows = csv(fe(&eng), "/st;csv?scope=FE").await;
    assert!(rows.contains_key(&("fe".into(), "FRONTEND".into())));
    assert!(!rows.contains_key(&("be".into(), "BACKEND".into())));
    // ... when it follows `scope=` with two bytes or more (haproxy 2.6.12 ignores `scope=f`).
    let rows = csv(fe(&eng), "/st;csv?scope=f").await;
    assert!(rows.contains_key(&("be".into(), "BACKEND".into())));
}

#[tokio::test]
async fn head_post_and_http10() {
    let eng = start(&cfg(
        "  stats enable\n  stats uri /st\n  stats refresh 10s",
        "",
    ))
    .await;
    // HEAD: the head only, no transfer-encoding, the connection stays open.
    let r = exchange(fe(&eng), "HEAD /st HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert_eq!(
        r.raw,
        b"HTTP/1.1 200 OK\r\ncache-control: no-cache\r\ncontent-type: text/html\r\nrefresh: 10\r\n\r\n"
    );
    assert!(!r.closed);
    // POST without `stats admin`: 303 to the page with `;st=DENY`.
    let r = exchange(
        fe(&eng),
        "POST /st;up HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
    )
    .await;
    assert_eq!(
        r.raw,
        b"HTTP/1.1 303 See Other\r\ncache-control: no-cache\r\ncontent-type: text/plain\r\ncontent-length: 0\r\nlocation: /st;st=DENY;up\r\n\r\n"
    );
    let html = get(fe(&eng), "/st;st=DENY;up").await.text();
    assert!(html.contains("<p><div class=active_down><a class=lfsb href=\"/st;up\" title=\"Remove this message\">[X]</a> <b>Action denied.</b></div>\n<p>\n"));
    // HTTP/1.0: chunked anyway, and the connection closes.
    let r = exchange(fe(&eng), "GET /st;csv HTTP/1.0\r\n\r\n").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("connection").as_deref(), Some("close"));
    assert_eq!(r.header("transfer-encoding").as_deref(), Some("chunked"));
    assert!(r.text().starts_with(CSV_HEADER));
    assert!(r.closed);
    // Other methods are not for the stats page: they go to the (missing) backend.
    let r = exchange(
        fe(&eng),
        "PUT /st HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
    )
    .await;
    assert_eq!(r.status, 503);
}

#[tokio::test]
async fn json_and_typed_exports() {
    let ok = fixed_server(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n").await;
    let eng = start(&cfg(
        "  stats enable\n  stats uri /st\n  default_backend be",
        &format!("backend be\n  server s1 {} check inter 100ms", ok.addr),
    ))
    .await;
    let r = get(fe(&eng), "/st;json").await;
    assert_eq!(
        r.header("content-type").as_deref(),
        Some("application/json")
    );
    let j = r.text();
    assert!(j.starts_with("[[{\"objType\":\"Frontend\",\"proxyId\":1,\"id\":0,\"field\":{\"pos\":0,\"name\":\"pxname\"},\"processNum\":1,\"tags\":{\"origin\":\"Key\",\"nature\":\"Name\",\"scope\":\"Service\"},\"value\":{\"type\":\"str\",\"value\":\"fe\"}},"), "{j}");
    assert!(j.ends_with("}}]]\n"));
    assert!(j.contains("{\"objType\":\"Server\",\"proxyId\":2,\"id\":1,\"field\":{\"pos\":1,\"name\":\"svname\"},\"processNum\":1,\"tags\":{\"origin\":\"Key\",\"nature\":\"Name\",\"scope\":\"Service\"},\"value\":{\"type\":\"str\",\"value\":\"s1\"}}"));
    let r = get(fe(&eng), "/st;typed").await;
    assert_eq!(r.header("content-type").as_deref(), Some("text/plain"));
    let t = r.text();
    for line in [
        "F.1.0.0.pxname.1:KNS:str:fe\n",
        "F.1.0.17.status.1:SGP:str:OPEN\n",
        "F.1.0.32.type.1:CGS:u32:0\n",
        "S.2.1.1.svname.1:KNS:str:s1\n",
        "S.2.1.67.check_rise.1:CGS:u32:2\n",
        "B.2.0.1.svname.1:KNS:str:BACKEND\n",
        "B.2.0.103.ssl_sess.1:MCP:u64:0\n",
    ] {
        assert!(t.contains(line), "missing {line:?} in\n{t}");
    }
    let r = get(fe(&eng), "/st;json-schema").await;
    assert!(r
        .text()
        .starts_with("{\"$schema\":\"http://json-schema.org/draft-04/schema#\","));
}

#[tokio::test]
async fn backend_stats_and_tcp_listen() {
    let echo = echo_server().await;
    let ok = fixed_server(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n").await;
    let eng = start(&format!(
        "{}listen tcpx\n  mode tcp\n  bind 127.0.0.1:1\n  server t1 {}\n",
        cfg(
            "  use_backend bst if { path_beg /bst }\n  default_backend be",
            &format!(
                "backend be\n  server s1 {a}\nbackend bst\n  stats enable\n  stats uri /bst\n  server b1 {a}\n",
                a = ok.addr
            ),
        ),
        echo.addr
    ))
    .await;
    // Tunnel 6 bytes each way through the TCP listen section.
    let mut c = TcpStream::connect(eng.addr("tcpx").unwrap()).await.unwrap();
    c.write_all(b"abcdef").await.unwrap();
    assert_eq!(
        read_n(&mut c, 6, 5 * SEC).await.as_deref(),
        Some(&b"abcdef"[..])
    );
    drop(c);
    // The backend's stats answer requests routed to it; not counted as intercepted.
    let mut rows = csv(fe(&eng), "/bst;csv").await;
    for _ in 0..50 {
        if field(&rows, "tcpx", "FRONTEND", "bin") == "6" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        rows = csv(fe(&eng), "/bst;csv").await;
    }
    assert_eq!(field(&rows, "fe", "FRONTEND", "intercepted"), "0");
    assert_ne!(field(&rows, "bst", "BACKEND", "lastsess"), "-1");
    for (sv, col, want) in [
        ("FRONTEND", "bin", "6"),
        ("FRONTEND", "bout", "6"),
        ("FRONTEND", "mode", "tcp"),
        ("FRONTEND", "stot", "1"),
        ("FRONTEND", "hrsp_2xx", ""),
        ("BACKEND", "bin", "6"),
        ("BACKEND", "bout", "6"),
        ("BACKEND", "stot", "1"),
        ("BACKEND", "lbtot", "1"),
        ("t1", "stot", "1"),
        ("t1", "bin", "6"),
        ("t1", "connect", "1"),
        ("t1", "req_tot", ""),
    ] {
        assert_eq!(field(&rows, "tcpx", sv, col), want, "tcpx/{sv} {col}");
    }
    // The proxies in declaration order with their ids.
    let r = get(fe(&eng), "/bst;csv").await;
    let order: Vec<String> = r
        .text()
        .lines()
        .skip(1)
        .map(|l| l.split(',').take(2).collect::<Vec<_>>().join("/"))
        .collect();
    assert_eq!(
        order,
        [
            "fe/FRONTEND",
            "be/s1",
            "be/BACKEND",
            "bst/b1",
            "bst/BACKEND",
            "tcpx/FRONTEND",
            "tcpx/t1",
            "tcpx/BACKEND"
        ]
    );
}

#[tokio::test]
async fn http2_clients_get_the_page_unchunked() {
    use http_body_util::{BodyExt, Full};
    use hyper_util::rt::{TokioExecutor, TokioIo};
    let eng = start(&cfg(
        "  stats enable\n  stats uri /st\n  stats refresh 3s",
        "",
    ))
    .await;
    let io = TcpStream::connect(fe(&eng)).await.unwrap();
    let (mut send, conn) = hyper::client::conn::http2::Builder::new(TokioExecutor::new())
        .handshake(TokioIo::new(io))
        .await
        .unwrap();
    tokio::spawn(conn);
    let req = hyper::Request::get("http://x.test/st;csv")
        .body(Full::<bytes::Bytes>::default())
        .unwrap();
    let resp = send.send_request(req).await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.version(), hyper::Version::HTTP_2);
    assert_eq!(resp.headers()["content-type"], "text/plain");
    assert_eq!(resp.headers()["refresh"], "3");
    assert!(resp.headers().get("transfer-encoding").is_none());
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    let text = String::from_utf8_lossy(&body);
    assert_eq!(text.lines().next(), Some(CSV_HEADER));
    assert!(text.ends_with(",\n"), "{text}");
}

#[tokio::test]
async fn unreadable_requests_count_as_invalid() {
    let eng = start(&format!(
        "{}\n",
        cfg(
            "  stats enable\n  stats uri /st\n  timeout http-request 300ms",
            ""
        )
    ))
    .await;
    // A header line without a colon (400), then a head that never ends (408).
    assert_eq!(
        exchange(fe(&eng), "GET / HTTP/1.1\r\nHost x\r\n\r\n")
            .await
            .status,
        400
    );
    assert_eq!(exchange(fe(&eng), "GET / HTTP/1.1\r\nHo").await.status, 408);
    let rows = csv(fe(&eng), "/st;csv").await;
    // haproxy 2.6.12: both are invalid requests, count as requests and 4xx responses, and
    // add no bytes.
    assert_eq!(field(&rows, "fe", "FRONTEND", "ereq"), "2");
    assert_eq!(field(&rows, "fe", "FRONTEND", "hrsp_4xx"), "2");
    assert_eq!(field(&rows, "fe", "FRONTEND", "req_tot"), "3");
    assert_eq!(field(&rows, "fe", "FRONTEND", "bin"), "0");
    assert_eq!(field(&rows, "fe", "FRONTEND", "bout"), "0");
}

#[tokio::test]
async fn server_going_up_is_shown_like_haproxy() {
    let addr = closed_port().await;
    let eng = start(&cfg(
        "  stats enable\n  stats uri /st\n  default_backend be",
        &format!("backend be\n  server s1 {addr} check inter 200ms rise 4 fall 2"),
    ))
    .await;
    let status = |rows: &HashMap<(String, String), HashMap<String, String>>| {
        field(rows, "be", "s1", "status").to_string()
    };
    let mut rows = csv(fe(&eng), "/st;csv").await;
    for _ in 0..100 {
        if status(&rows) == "DOWN" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        rows = csv(fe(&eng), "/st;csv").await;
    }
    assert_eq!(status(&rows), "DOWN");
    assert_eq!(field(&rows, "be", "BACKEND", "status"), "DOWN");
    assert_eq!(field(&rows, "be", "BACKEND", "chkdown"), "1");
    // The server comes back: DOWN 1/4 .. 3/4 while its health climbs (haproxy 2.6.12 shows
    // `DOWN 1/4 &uarr;` on an `active_going_up` line), then UP.
    let l = tokio::net::TcpListener::bind(addr).await.unwrap();
    tokio::spawn(async move {
        while let Ok((s, _)) = l.accept().await {
            drop(s);
        }
    });
    let mut seen = false;
    for _ in 0..200 {
        let r = get(fe(&eng), "/st").await;
        let html = r.text();
        if html.contains(" DOWN 1/4 &uarr;</td><td class=ac><u> L4OK") {
            assert!(html.contains("<tr class=\"active_going_up\"><td class=ac><a name=\"be/s1\">"));
            seen = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(seen, "never saw DOWN 1/4");
    for _ in 0..100 {
        rows = csv(fe(&eng), "/st;csv").await;
        if status(&rows) == "UP" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(status(&rows), "UP");
    assert_eq!(field(&rows, "be", "s1", "check_health"), "5");
    assert_eq!(field(&rows, "be", "s1", "chkdown"), "1");
    assert_eq!(field(&rows, "be", "BACKEND", "status"), "UP");
    assert_eq!(field(&rows, "be", "BACKEND", "chkdown"), "1");
}
