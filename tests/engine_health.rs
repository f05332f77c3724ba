//! Health checks over real sockets (127.0.0.1, port 0, short intervals): `option httpchk`
//! with `http-check send`/`expect` (status, string, negation, `disable-on-404`), `option
//! tcp-check` rules against a line server, DOWN/UP timing (`inter * fall`, `inter * rise`),
//! `slowstart`, `on-marked-down shutdown-sessions`, `on-marked-up
//! shutdown-backup-sessions`, and the messages (`option log-health-checks` included), read
//! from the engine's message tap with the PID and check durations normalised. The expected
//! lines are those haproxy 2.6.12 printed for the same configurations.

mod common;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use haproxide::engine::{self, RunningEngine};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::broadcast;
use tokio::task::JoinHandle;

const SEC: Duration = Duration::from_secs(1);

// ---------------------------------------------------------------------------------------
// Helpers

/// Messages printed by the engine, normalised: `(PID)` for the process id and
/// `check duration: Nms`.
struct Msgs {
    rx: broadcast::Receiver<String>,
    seen: Vec<String>,
}

fn normalise(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    // "(12345) :" -> "(PID) :"
    if let (Some(a), Some(b)) = (rest.find('('), rest.find(") : ")) {
        if a < b {
            out.push_str(&rest[..=a]);
            out.push_str("PID");
            rest = &rest[b..];
        }
    }
    while let Some(i) = rest.find("check duration: ") {
        let start = i + "check duration: ".len();
        out.push_str(&rest[..start]);
        let digits = rest[start..].bytes().take_while(u8::is_ascii_digit).count();
        out.push('N');
        rest = &rest[start + digits..];
    }
    out.push_str(rest);
    out
}

impl Msgs {
    fn new(eng: &RunningEngine) -> Msgs {
        Msgs {
            rx: eng.state.subscribe_messages(),
            seen: Vec::new(),
        }
    }

    /// Waits for a (normalised) line containing `pat`; returns it.
    async fn wait(&mut self, pat: &str, limit: Duration) -> String {
        if let Some(l) = self.seen.iter().find(|l| l.contains(pat)) {
            return l.clone();
        }
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            match tokio::time::timeout_at(deadline, self.rx.recv()).await {
                Ok(Ok(l)) => {
                    let l = normalise(&l);
                    self.seen.push(l.clone());
                    if l.contains(pat) {
                        return l;
                    }
                }
                Ok(Err(broadcast::error::RecvError::Lagged(_))) => continue,
                _ => panic!(
                    "no line with {pat:?} within {limit:?}; seen: {:#?}",
                    self.seen
                ),
            }
        }
    }

    /// Everything received so far (normalised).
    fn drain(&mut self) -> Vec<String> {
        while let Ok(l) = self.rx.try_recv() {
            self.seen.push(normalise(&l));
        }
        self.seen.clone()
    }
}

/// An HTTP server answering every request with the current `reply`, recording the raw
/// requests it got.
struct HttpSrv {
    srv: TestServer,
    reply: Arc<Mutex<Vec<u8>>>,
    requests: Arc<Mutex<Vec<Vec<u8>>>>,
}

impl HttpSrv {
    fn set(&self, reply: &str) {
        *self.reply.lock().unwrap() = reply.as_bytes().to_vec();
    }
}

async fn http_srv(reply: &str) -> HttpSrv {
    let r = Arc::new(Mutex::new(reply.as_bytes().to_vec()));
    let reqs = Arc::new(Mutex::new(Vec::new()));
    let (r2, q2) = (r.clone(), reqs.clone());
    let srv = serve(move |mut s: TcpStream| {
        let (r, q) = (r2.clone(), q2.clone());
        async move {
            let mut got = Vec::new();
            let mut buf = [0u8; 4096];
            while !got.windows(4).any(|w| w == b"\r\n\r\n") {
                match tokio::time::timeout(SEC, s.read(&mut buf)).await {
                    Ok(Ok(n)) if n > 0 => got.extend_from_slice(&buf[..n]),
                    _ => return,
                }
            }
            q.lock().unwrap().push(got);
            let reply = r.lock().unwrap().clone();
            let _ = s.write_all(&reply).await;
            let _ = s.shutdown().await;
        }
    })
    .await;
    HttpSrv {
        srv,
        reply: r,
        requests: reqs,
    }
}

/// A listener on a fixed address that can be stopped (connections refused) and started
/// again, running `handler` per connection. Established connections survive a stop.
struct Switch {
    addr: SocketAddr,
    task: Option<JoinHandle<()>>,
    accepted: Arc<AtomicUsize>,
}

type Handler = Arc<dyn Fn(TcpStream) -> JoinHandle<()> + Send + Sync>;

impl Switch {
    /// Reserves a port (nothing listens yet).
    async fn new() -> Switch {
        Switch {
            addr: closed_port().await,
            task: None,
            accepted: Arc::new(AtomicUsize::new(0)),
        }
    }

    async fn start(&mut self, h: Handler) {
        let l = TcpListener::bind(self.addr).await.unwrap();
        let acc = self.accepted.clone();
        self.task = Some(tokio::spawn(async move {
            loop {
                if let Ok((s, _)) = l.accept().await {
                    acc.fetch_add(1, Ordering::SeqCst);
                    h(s);
                }
            }
        }));
        // Let the accept loop own the listener before anyone connects.
        tokio::task::yield_now().await;
    }

    async fn stop(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
            let _ = t.await;
        }
    }
}

impl Drop for Switch {
    fn drop(&mut self) {
        if let Some(t) = &self.task {
            t.abort();
        }
    }
}

/// Sends `name` on connect, then echoes.
fn greet(name: &'static str) -> Handler {
    Arc::new(move |mut s: TcpStream| {
        tokio::spawn(async move {
            let _ = s.write_all(name.as_bytes()).await;
            let (mut r, mut w) = s.split();
            let _ = tokio::io::copy(&mut r, &mut w).await;
        })
    })
}

fn cfg(mode: &str, backend_opts: &str, servers: &str) -> String {
    format!(
        "defaults\n  mode {mode}\n  timeout connect 500ms\n  timeout client 5s\n  timeout server 5s\n\
         frontend fe\n  bind 127.0.0.1:1\n  default_backend be\n\
         backend be\n{backend_opts}\n{servers}\n"
    )
}

async fn start(text: &str) -> (RunningEngine, Msgs) {
    let eng = engine::start(config(text)).await.unwrap();
    // Subscribe before the check tasks first run (they only run once this task yields).
    let msgs = Msgs::new(&eng);
    (eng, msgs)
}

fn up(eng: &RunningEngine, i: usize) -> bool {
    eng.state.server(0, i).unwrap().is_up()
}

fn usable(eng: &RunningEngine, i: usize) -> bool {
    eng.state.server(0, i).unwrap().is_usable()
}

/// Connects through the frontend and reads the greeting of `len` bytes.
async fn pick(eng: &RunningEngine, len: usize) -> Vec<u8> {
    let mut c = TcpStream::connect(eng.addr("fe").unwrap()).await.unwrap();
    read_n(&mut c, len, SEC).await.unwrap_or_default()
}

// ---------------------------------------------------------------------------------------
// option httpchk

#[tokio::test]
async fn httpchk_passes_on_2xx_3xx_and_fails_on_other_statuses() {
    let ok = http_srv("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n").await;
    let moved = http_srv("HTTP/1.1 301 Moved\r\nContent-Length: 0\r\n\r\n").await;
    let bad = http_srv("HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n").await;
    let text = cfg(
        "http",
        "  option httpchk GET /health",
        &format!(
            "  server s1 {} check inter 100ms\n  server s2 {} check inter 100ms\n  server s3 {} check inter 100ms",
            ok.srv.addr, moved.srv.addr, bad.srv.addr
        ),
    );
    let (eng, mut m) = start(&text).await;
    let line = m.wait("be/s3 is DOWN", 2 * SEC).await;
    assert_eq!(
        line,
        "[WARNING]  (PID) : Server be/s3 is DOWN, reason: Layer7 wrong status, code: 503, info: \"Service Unavailable\", check duration: Nms. 2 active and 0 backup servers left. 0 sessions active, 0 requeued, 0 remaining in queue."
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(up(&eng, 0) && up(&eng, 1) && !up(&eng, 2));
    // haproxy 2.6.12 sends exactly this for `option httpchk GET /health`.
    let reqs = ok.requests.lock().unwrap().clone();
    assert!(reqs.len() >= 2, "{reqs:?}");
    assert_eq!(reqs[0], b"GET /health HTTP/1.0\r\n\r\n");

    // The failing server recovers: UP after `rise` (2) good checks.
    bad.set("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    let line = m.wait("be/s3 is UP", 2 * SEC).await;
    assert_eq!(
        line,
        "[WARNING]  (PID) : Server be/s3 is UP, reason: Layer7 check passed, code: 200, check duration: Nms. 3 active and 0 backup servers online. 0 sessions requeued, 0 total in queue."
    );
}

#[tokio::test]
async fn http_check_send_builds_haproxys_request() {
    let srv = http_srv("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n").await;
    let text = cfg(
        "http",
        "  option httpchk\n  http-check send meth POST uri /h2 ver HTTP/1.1 hdr Host example.com hdr X-Foo bar body \"hello world\"",
        &format!("  server s1 {} check inter 100ms", srv.srv.addr),
    );
    let (_eng, _m) = start(&text).await;
    assert!(wait_for(2 * SEC, || !srv.requests.lock().unwrap().is_empty()).await);
    let got = srv.requests.lock().unwrap()[0].clone();
    // What haproxy 2.6.12 put on the wire for the same line.
    let want = b"POST /h2 HTTP/1.1\r\nhost: example.com\r\nx-foo: bar\r\ncontent-length: 11\r\nconnection: close\r\n\r\nhello world";
    assert_eq!(String::from_utf8_lossy(&got), String::from_utf8_lossy(want));
}

#[tokio::test]
async fn http_check_expect_status_list_and_negation() {
    let s200 = http_srv("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n").await;
    let s201 = http_srv("HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n").await;
    let text = cfg(
        "http",
        "  option httpchk GET /\n  http-check expect status 200,300-399",
        &format!(
            "  server s1 {} check inter 100ms\n  server s2 {} check inter 100ms",
            s200.srv.addr, s201.srv.addr
        ),
    );
    let (eng, mut m) = start(&text).await;
    let line = m.wait("be/s2 is DOWN", 2 * SEC).await;
    assert!(
        line.contains("reason: Layer7 wrong status, code: 201, info: \"Created\""),
        "{line}"
    );
    assert!(up(&eng, 0));
    drop(eng);

    let text = cfg(
        "http",
        "  option httpchk GET /\n  http-check expect ! status 200",
        &format!(
            "  server s1 {} check inter 100ms\n  server s2 {} check inter 100ms",
            s200.srv.addr, s201.srv.addr
        ),
    );
    let (eng, mut m) = start(&text).await;
    let line = m.wait("be/s1 is DOWN", 2 * SEC).await;
    assert!(
        line.contains("reason: Layer7 wrong status, code: 200, info: \"OK\""),
        "{line}"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(up(&eng, 1));
}

#[tokio::test]
async fn http_check_expect_string_and_negated_string() {
    let alive = http_srv("HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\nI am alive!\n").await;
    let dead = http_srv("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\ndead\n").await;
    let empty = http_srv("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n").await;
    let servers = format!(
        "  server s1 {} check inter 100ms\n  server s2 {} check inter 100ms\n  server s3 {} check inter 100ms",
        alive.srv.addr, dead.srv.addr, empty.srv.addr
    );
    let text = cfg(
        "http",
        "  option httpchk GET /\n  option log-health-checks\n  http-check expect string alive",
        &servers,
    );
    let (eng, mut m) = start(&text).await;
    assert_eq!(
        m.wait("server be/s1", 2 * SEC).await,
        "[WARNING]  (PID) : Health check for server be/s1 succeeded, reason: Layer7 check passed, code: 200, check duration: Nms, status: 3/3 UP."
    );
    assert_eq!(
        m.wait("server be/s2", 2 * SEC).await,
        "[WARNING]  (PID) : Health check for server be/s2 failed, reason: Layer7 invalid response, info: \"HTTP content check did not match\", check duration: Nms, status: 0/2 DOWN."
    );
    assert_eq!(
        m.wait("server be/s3", 2 * SEC).await,
        "[WARNING]  (PID) : Health check for server be/s3 failed, reason: Layer7 invalid response, info: \"HTTP content check could not find a response body\", check duration: Nms, status: 0/2 DOWN."
    );
    // With log-health-checks the state change line carries no reason.
    assert_eq!(
        m.wait("be/s2 is DOWN", 2 * SEC).await,
        "[WARNING]  (PID) : Server be/s2 is DOWN. 2 active and 0 backup servers left. 0 sessions active, 0 requeued, 0 remaining in queue."
    );
    assert!(up(&eng, 0));
    drop(eng);

    let text = cfg(
        "http",
        "  option httpchk GET /\n  http-check expect ! string alive",
        &servers,
    );
    let (eng, mut m) = start(&text).await;
    let line = m.wait("be/s1 is DOWN", 2 * SEC).await;
    assert!(
        line.contains(
            "reason: Layer7 invalid response, info: \"HTTP check matched unwanted content\""
        ),
        "{line}"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(up(&eng, 1));
}

#[tokio::test]
async fn disable_on_404_puts_the_server_in_nolb_and_keeps_its_sessions() {
    let s1 = http_srv("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n").await;
    let text = cfg(
        "http",
        "  option httpchk GET /\n  http-check disable-on-404",
        &format!(
            "  server s1 {} check inter 100ms rise 2 fall 2",
            s1.srv.addr
        ),
    );
    let (eng, mut m) = start(&text).await;
    tokio::time::sleep(Duration::from_millis(250)).await;
    // A session in progress on s1.
    let guard = eng.state.server(0, 0).unwrap().conn_guard();
    let killed = guard.killed();
    s1.set("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
    assert_eq!(
        m.wait("is stopping", 2 * SEC).await,
        "[WARNING]  (PID) : Server be/s1 is stopping, reason: Layer7 check conditionally passed, code: 404, check duration: Nms. 0 active and 0 backup servers online. 0 sessions requeued, 0 total in queue."
    );
    m.wait("backend 'be' has no server available!", SEC).await;
    let st = eng.state.server(0, 0).unwrap();
    assert!(st.is_up() && st.is_nolb() && !st.is_usable());
    // NOLB keeps established sessions.
    assert!(tokio::time::timeout(Duration::from_millis(200), killed)
        .await
        .is_err());
    s1.set("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    m.wait("be/s1 is UP, reason: Layer7 check passed", 2 * SEC)
        .await;
    assert!(usable(&eng, 0));
    drop(guard);
}

#[tokio::test]
async fn timeout_check_bounds_the_response_wait() {
    // Accepts and never answers.
    let silent = serve(|s: TcpStream| async move {
        tokio::time::sleep(10 * SEC).await;
        drop(s);
    })
    .await;
    let text = cfg(
        "http",
        "  option httpchk GET /\n  timeout check 150ms",
        &format!("  server s1 {} check inter 2s", silent.addr),
    );
    let t0 = Instant::now();
    let (_eng, mut m) = start(&text).await;
    let line = m.wait("be/s1 is DOWN", 2 * SEC).await;
    assert!(
        line.contains("reason: Layer7 timeout, check duration: N"),
        "{line}"
    );
    let took = t0.elapsed();
    assert!(
        took >= Duration::from_millis(140) && took < Duration::from_millis(600),
        "{took:?}"
    );
}

// ---------------------------------------------------------------------------------------
// option tcp-check

/// Answers each line: `+PONG` to PING, `-ERR` otherwise (or always `-ERR` when `broken`).
async fn line_server(broken: bool) -> TestServer {
    serve(move |mut s: TcpStream| async move {
        let mut buf = [0u8; 512];
        while let Ok(Ok(n)) = tokio::time::timeout(SEC, s.read(&mut buf)).await {
            if n == 0 {
                break;
            }
            let reply: &[u8] = if !broken && buf[..n].starts_with(b"PING") {
                b"+PONG\r\n"
            } else {
                b"-ERR\r\n"
            };
            if s.write_all(reply).await.is_err() {
                break;
            }
        }
    })
    .await
}

#[tokio::test]
async fn tcp_check_send_expect_against_a_line_server() {
    let good = line_server(false).await;
    let broken = line_server(true).await;
    let text = cfg(
        "tcp",
        "  option tcp-check\n  option log-health-checks\n  tcp-check connect\n  tcp-check send PING\\r\\n\n  tcp-check expect string +PONG",
        &format!(
            "  server s1 {} check inter 100ms\n  server s2 {} check inter 100ms",
            good.addr, broken.addr
        ),
    );
    let (eng, mut m) = start(&text).await;
    assert_eq!(
        m.wait("server be/s1", 2 * SEC).await,
        "[WARNING]  (PID) : Health check for server be/s1 succeeded, reason: Layer7 check passed, code: 0, info: \"(tcp-check)\", check duration: Nms, status: 3/3 UP."
    );
    // The line server keeps the connection open: the mismatch is only final when the check
    // times out... unless the data can never match. HAProxy waits for more data, so this is
    // a Layer7 timeout after `inter`.
    let line = m.wait("server be/s2", 2 * SEC).await;
    assert_eq!(
        line,
        "[WARNING]  (PID) : Health check for server be/s2 failed, reason: Layer7 timeout, info: \" at step 3 of tcp-check (expect string '+PONG')\", check duration: Nms, status: 0/2 DOWN."
    );
    assert!(up(&eng, 0) && !up(&eng, 1));
}

#[tokio::test]
async fn tcp_check_mismatch_on_close_negation_and_binary() {
    // Replies once and closes.
    let err = serve(|mut s: TcpStream| async move {
        let mut b = [0u8; 64];
        let _ = s.read(&mut b).await;
        let _ = s.write_all(b"-ERR\r\n").await;
    })
    .await;
    let pong = serve(|mut s: TcpStream| async move {
        let mut b = [0u8; 64];
        let _ = s.read(&mut b).await;
        let _ = s.write_all(b"+PONG\r\n").await;
    })
    .await;
    let dead = closed_port().await;
    let text = cfg(
        "tcp",
        "  option tcp-check\n  option log-health-checks\n  tcp-check comment \"hello\"\n  tcp-check send PING\\r\\n\n  tcp-check expect ! string ERR\n  tcp-check expect binary 2b504f4e47",
        &format!(
            "  server s1 {} check inter 100ms\n  server s2 {} check inter 100ms\n  server s3 {dead} check inter 100ms",
            err.addr, pong.addr
        ),
    );
    let (_eng, mut m) = start(&text).await;
    // Steps as haproxy 2.6.12 numbers them: the comment is step 1 and names the send.
    assert_eq!(
        m.wait("server be/s1", 2 * SEC).await,
        "[WARNING]  (PID) : Health check for server be/s1 failed, reason: Layer7 invalid response, info: \"TCPCHK matched unwanted content 'ERR' at step 3\", check duration: Nms, status: 0/2 DOWN."
    );
    assert_eq!(
        m.wait("server be/s2", 2 * SEC).await,
        "[WARNING]  (PID) : Health check for server be/s2 succeeded, reason: Layer7 check passed, code: 0, info: \"(tcp-check)\", check duration: Nms, status: 3/3 UP."
    );
    assert_eq!(
        m.wait("server be/s3", 2 * SEC).await,
        "[WARNING]  (PID) : Health check for server be/s3 failed, reason: Layer4 connection problem, info: \"Connection refused at initial connection step of tcp-check\", check duration: Nms, status: 0/2 DOWN."
    );
}

#[tokio::test]
async fn tcp_check_connect_port_and_empty_response() {
    let closer = serve(|s: TcpStream| async move { drop(s) }).await;
    let text = cfg(
        "tcp",
        &format!(
            "  option tcp-check\n  tcp-check connect port {}\n  tcp-check expect string hello",
            closer.addr.port()
        ),
        // The server line's own port is closed: the check must use `connect port`.
        &format!("  server s1 {} check inter 100ms", closed_port().await),
    );
    let (_eng, mut m) = start(&text).await;
    assert_eq!(
        m.wait("be/s1 is DOWN", 2 * SEC).await,
        "[WARNING]  (PID) : Server be/s1 is DOWN, reason: Layer7 invalid response, info: \"TCPCHK got an empty response at step 2\", check duration: Nms. 0 active and 0 backup servers left. 0 sessions active, 0 requeued, 0 remaining in queue."
    );
}

// ---------------------------------------------------------------------------------------
// Timing, slowstart, session shutdown

#[tokio::test]
async fn killed_backend_is_down_within_inter_fall_and_up_within_inter_rise() {
    let mut sw = Switch::new().await;
    sw.start(greet("s1")).await;
    let inter = Duration::from_millis(100);
    let text = cfg(
        "tcp",
        "",
        &format!("  server s1 {} check inter 100ms rise 3 fall 2", sw.addr),
    );
    let (eng, mut m) = start(&text).await;
    // Fully healthy first (one check past `rise`).
    tokio::time::sleep(Duration::from_millis(250)).await;
    assert!(up(&eng, 0));

    sw.stop().await;
    let t0 = Instant::now();
    assert!(wait_for(2 * SEC, || !up(&eng, 0)).await);
    let down_after = t0.elapsed();
    // At most `fall` checks, one interval apart, plus the wait for the next one.
    assert!(
        down_after <= inter * 3 + Duration::from_millis(100),
        "DOWN after {down_after:?}"
    );
    assert!(down_after >= inter, "DOWN after {down_after:?}");
    let line = m.wait("be/s1 is DOWN", SEC).await;
    assert!(
        line.contains("reason: Layer4 connection problem, info: \"Connection refused\""),
        "{line}"
    );

    sw.start(greet("s1")).await;
    let t0 = Instant::now();
    assert!(wait_for(2 * SEC, || up(&eng, 0)).await);
    let up_after = t0.elapsed();
    // `rise` (3) good checks; while DOWN the interval is `inter` (no downinter set).
    assert!(
        up_after <= inter * 4 + Duration::from_millis(100),
        "UP after {up_after:?}"
    );
    assert!(up_after >= inter * 2, "UP after {up_after:?}");
    m.wait("be/s1 is UP, reason: Layer4 check passed", SEC)
        .await;
    assert_eq!(pick(&eng, 2).await, b"s1");
}

#[tokio::test]
async fn slowstart_ramps_a_server_that_just_came_up() {
    let full = greeter("s1").await;
    let mut late = Switch::new().await;
    let text = cfg(
        "tcp",
        "  balance roundrobin",
        &format!(
            "  server s1 {} check inter 100ms\n  server s2 {} check inter 50ms rise 1 slowstart 2s",
            full.addr, late.addr
        ),
    );
    let (eng, mut m) = start(&text).await;
    m.wait("be/s2 is DOWN", 2 * SEC).await;
    late.start(greet("s2")).await;
    assert!(wait_for(2 * SEC, || usable(&eng, 1)).await);
    // First second of a 2 s slow start: effective weight 1/16 of s1's.
    let st = eng.state.server(0, 1).unwrap();
    assert_eq!(st.weight_step(), 1);
    let mut n2 = 0;
    for _ in 0..34 {
        if pick(&eng, 2).await == b"s2" {
            n2 += 1;
        }
    }
    assert!(
        (1..=4).contains(&n2),
        "s2 got {n2} of 34 picks right after coming UP"
    );
    // Once the slow start is over, both take the same share.
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(st.weight_step(), 16);
    let mut n2 = 0;
    for _ in 0..20 {
        if pick(&eng, 2).await == b"s2" {
            n2 += 1;
        }
    }
    assert!(
        (9..=11).contains(&n2),
        "s2 got {n2} of 20 picks after the slow start"
    );
}

/// Opens a tunnel through the frontend to the greeting/echo server and checks it works.
async fn open_tunnel(eng: &RunningEngine, name: &[u8]) -> TcpStream {
    let mut c = TcpStream::connect(eng.addr("fe").unwrap()).await.unwrap();
    assert_eq!(read_n(&mut c, name.len(), SEC).await.unwrap(), name);
    c.write_all(b"ping").await.unwrap();
    assert_eq!(read_n(&mut c, 4, SEC).await.unwrap(), b"ping");
    c
}

#[tokio::test]
async fn on_marked_down_shutdown_sessions_closes_open_tunnels() {
    let mut sw = Switch::new().await;
    sw.start(greet("s1")).await;
    let text = cfg(
        "tcp",
        "",
        &format!(
            "  server s1 {} check inter 100ms fall 1 on-marked-down shutdown-sessions",
            sw.addr
        ),
    );
    let (eng, mut m) = start(&text).await;
    let mut c = open_tunnel(&eng, b"s1").await;
    // New connections are refused; the established one stays up on the server side.
    sw.stop().await;
    let line = m.wait("be/s1 is DOWN", 2 * SEC).await;
    assert!(line.contains(". 1 sessions active,"), "{line}");
    let (rest, eof) = read_until_eof(&mut c, SEC).await;
    assert!(eof && rest.is_empty(), "tunnel not closed: {rest:?}");
    assert!(wait_for(SEC, || eng.live_connections() == 0).await);
}

#[tokio::test]
async fn without_shutdown_sessions_tunnels_survive_a_down_server() {
    let mut sw = Switch::new().await;
    sw.start(greet("s1")).await;
    let text = cfg(
        "tcp",
        "",
        &format!("  server s1 {} check inter 100ms fall 1", sw.addr),
    );
    let (eng, mut m) = start(&text).await;
    let mut c = open_tunnel(&eng, b"s1").await;
    sw.stop().await;
    m.wait("be/s1 is DOWN", 2 * SEC).await;
    c.write_all(b"more").await.unwrap();
    assert_eq!(read_n(&mut c, 4, SEC).await.unwrap(), b"more");
}

#[tokio::test]
async fn on_marked_up_shutdown_backup_sessions_closes_backup_tunnels() {
    let mut active = Switch::new().await;
    let backup = greeter("bk").await;
    let text = cfg(
        "tcp",
        "",
        &format!(
            "  server s1 {} check inter 50ms rise 1 on-marked-up shutdown-backup-sessions\n  server b1 {} backup",
            active.addr, backup.addr
        ),
    );
    let (eng, mut m) = start(&text).await;
    assert_eq!(
        m.wait("be/s1 is DOWN", 2 * SEC).await,
        "[WARNING]  (PID) : Server be/s1 is DOWN, reason: Layer4 connection problem, info: \"Connection refused\", check duration: Nms. 0 active and 1 backup servers left. Running on backup. 0 sessions active, 0 requeued, 0 remaining in queue."
    );
    let mut c = open_tunnel(&eng, b"bk").await;
    active.start(greet("s1")).await;
    m.wait("be/s1 is UP", 2 * SEC).await;
    let (_, eof) = read_until_eof(&mut c, SEC).await;
    assert!(eof, "backup tunnel not closed");
    assert_eq!(pick(&eng, 2).await, b"s1");
}

// ---------------------------------------------------------------------------------------
// Messages

#[tokio::test]
async fn log_health_checks_reports_each_status_change() {
    let mut sw = Switch::new().await;
    sw.start(greet("s1")).await;
    let text = cfg(
        "tcp",
        "  option log-health-checks",
        &format!("  server s1 {} check inter 50ms rise 2 fall 3", sw.addr),
    );
    let (_eng, mut m) = start(&text).await;
    m.wait("status: 3/3 UP.", 2 * SEC).await;
    sw.stop().await;
    m.wait("is DOWN", 2 * SEC).await;
    sw.start(greet("s1")).await;
    m.wait("is UP", 2 * SEC).await;
    // The sequence haproxy 2.6.12 prints for the same events (check lines only when the
    // status or the health changed; no reason on the state change lines).
    let want = [
        "[WARNING]  (PID) : Health check for server be/s1 succeeded, reason: Layer4 check passed, check duration: Nms, status: 3/3 UP.",
        "[WARNING]  (PID) : Health check for server be/s1 failed, reason: Layer4 connection problem, info: \"Connection refused\", check duration: Nms, status: 2/3 UP.",
        "[WARNING]  (PID) : Health check for server be/s1 failed, reason: Layer4 connection problem, info: \"Connection refused\", check duration: Nms, status: 1/3 UP.",
        "[WARNING]  (PID) : Health check for server be/s1 failed, reason: Layer4 connection problem, info: \"Connection refused\", check duration: Nms, status: 0/2 DOWN.",
        "[WARNING]  (PID) : Server be/s1 is DOWN. 0 active and 0 backup servers left. 0 sessions active, 0 requeued, 0 remaining in queue.",
        "[ALERT]    (PID) : backend 'be' has no server available!",
        "[WARNING]  (PID) : Health check for server be/s1 succeeded, reason: Layer4 check passed, check duration: Nms, status: 1/2 DOWN.",
        "[WARNING]  (PID) : Health check for server be/s1 succeeded, reason: Layer4 check passed, check duration: Nms, status: 3/3 UP.",
        "[WARNING]  (PID) : Server be/s1 is UP. 1 active and 0 backup servers online. 0 sessions requeued, 0 total in queue.",
    ];
    assert_eq!(m.drain(), want);
}

#[test]
fn message_normalisation() {
    assert_eq!(
        normalise("[WARNING]  (123) : Server be/s1 is DOWN, reason: Layer7 timeout, check duration: 307ms. 1 active"),
        "[WARNING]  (PID) : Server be/s1 is DOWN, reason: Layer7 timeout, check duration: Nms. 1 active"
    );
}
