//! The stats fields of HAProxy 2.6 (`stat_fields[]` plus the `ssl`, `h2` and `h1` modules),
//! and the lines for a frontend, a server and a backend built from the engine's live state.
//!
//! Which fields a line carries, and each field's type and tags (origin, nature, scope), were
//! taken from haproxy 2.6.12's `;typed` output for frontends, backends, `listen` sections and
//! servers that are UP, DOWN, in maintenance, checked or not. A field HAProxy fills but the
//! engine does not track is left empty (absent from `;typed`/`;json`); a field whose value is
//! necessarily zero here (compression, cache, agent-less checks, TLS towards servers) is
//! zero, as HAProxy would show it.

use std::sync::atomic::Ordering::Relaxed;

use crate::config::ir::{Backend, Mode, SectionKind, Server};
use crate::engine::health::{self, Status};
use crate::engine::state::{EngineState, StopLevel, WEIGHT_STEPS};

use super::counters::{FreqCtr, Rsp, Times};

/// Field names in order; the CSV header prints `-` after the last static field
/// ([`STATIC_FIELDS`]).
pub const NAMES: [&str; 127] = [
    "pxname",
    "svname",
    "qcur",
    "qmax",
    "scur",
    "smax",
    "slim",
    "stot",
    "bin",
    "bout",
    "dreq",
    "dresp",
    "ereq",
    "econ",
    "eresp",
    "wretr",
    "wredis",
    "status",
    "weight",
    "act",
    "bck",
    "chkfail",
    "chkdown",
    "lastchg",
    "downtime",
    "qlimit",
    "pid",
    "iid",
    "sid",
    "throttle",
    "lbtot",
    "tracked",
    "type",
    "rate",
    "rate_lim",
    "rate_max",
    "check_status",
    "check_code",
    "check_duration",
    "hrsp_1xx",
    "hrsp_2xx",
    "hrsp_3xx",
    "hrsp_4xx",
    "hrsp_5xx",
    "hrsp_other",
    "hanafail",
    "req_rate",
    "req_rate_max",
    "req_tot",
    "cli_abrt",
    "srv_abrt",
    "comp_in",
    "comp_out",
    "comp_byp",
    "comp_rsp",
    "lastsess",
    "last_chk",
    "last_agt",
    "qtime",
    "ctime",
    "rtime",
    "ttime",
    "agent_status",
    "agent_code",
    "agent_duration",
    "check_desc",
    "agent_desc",
    "check_rise",
    "check_fall",
    "check_health",
    "agent_rise",
    "agent_fall",
    "agent_health",
    "addr",
    "cookie",
    "mode",
    "algo",
    "conn_rate",
    "conn_rate_max",
    "conn_tot",
    "intercepted",
    "dcon",
    "dses",
    "wrew",
    "connect",
    "reuse",
    "cache_lookups",
    "cache_hits",
    "srv_icur",
    "src_ilim",
    "qtime_max",
    "ctime_max",
    "rtime_max",
    "ttime_max",
    "eint",
    "idle_conn_cur",
    "safe_conn_cur",
    "used_conn_cur",
    "need_conn_est",
    "uweight",
    "agg_server_status",
    "agg_server_check_status",
    "agg_check_status",
    // ssl module
    "ssl_sess",
    "ssl_reused_sess",
    "ssl_failed_handshake",
    // h2 module
    "h2_headers_rcvd",
    "h2_data_rcvd",
    "h2_settings_rcvd",
    "h2_rst_stream_rcvd",
    "h2_goaway_rcvd",
    "h2_detected_conn_protocol_errors",
    "h2_detected_strm_protocol_errors",
    "h2_rst_stream_resp",
    "h2_goaway_resp",
    "h2_open_connections",
    "h2_backend_open_streams",
    "h2_total_connections",
    "h2_backend_total_streams",
    // h1 module
    "h1_open_connections",
    "h1_open_streams",
    "h1_total_connections",
    "h1_total_streams",
    "h1_bytes_in",
    "h1_bytes_out",
    "h1_spliced_bytes_in",
    "h1_spliced_bytes_out",
];

/// `ST_F_TOTAL_FIELDS`: fields before the modules'.
pub const STATIC_FIELDS: usize = 103;

// Field positions used by the renderers.
pub const PXNAME: usize = 0;
pub const SVNAME: usize = 1;
pub const QCUR: usize = 2;
pub const QMAX: usize = 3;
pub const SCUR: usize = 4;
pub const SMAX: usize = 5;
pub const SLIM: usize = 6;
pub const STOT: usize = 7;
pub const BIN: usize = 8;
pub const BOUT: usize = 9;
pub const DREQ: usize = 10;
pub const DRESP: usize = 11;
pub const EREQ: usize = 12;
pub const ECON: usize = 13;
pub const ERESP: usize = 14;
pub const WRETR: usize = 15;
pub const WREDIS: usize = 16;
pub const STATUS: usize = 17;
pub const WEIGHT: usize = 18;
pub const ACT: usize = 19;
pub const BCK: usize = 20;
pub const CHKFAIL: usize = 21;
pub const CHKDOWN: usize = 22;
pub const LASTCHG: usize = 23;
pub const DOWNTIME: usize = 24;
pub const QLIMIT: usize = 25;
pub const PID: usize = 26;
pub const IID: usize = 27;
pub const SID: usize = 28;
pub const THROTTLE: usize = 29;
pub const LBTOT: usize = 30;
pub const TYPE: usize = 32;
pub const RATE: usize = 33;
pub const RATE_LIM: usize = 34;
pub const RATE_MAX: usize = 35;
pub const CHECK_STATUS: usize = 36;
pub const CHECK_CODE: usize = 37;
pub const CHECK_DURATION: usize = 38;
pub const HRSP_1XX: usize = 39;
pub const HRSP_OTHER: usize = 44;
pub const REQ_RATE: usize = 46;
pub const REQ_RATE_MAX: usize = 47;
pub const REQ_TOT: usize = 48;
pub const CLI_ABRT: usize = 49;
pub const SRV_ABRT: usize = 50;
pub const COMP_IN: usize = 51;
pub const COMP_OUT: usize = 52;
pub const COMP_BYP: usize = 53;
pub const COMP_RSP: usize = 54;
pub const LASTSESS: usize = 55;
pub const LAST_CHK: usize = 56;
pub const QTIME: usize = 58;
pub const CTIME: usize = 59;
pub const RTIME: usize = 60;
pub const TTIME: usize = 61;
pub const CHECK_DESC: usize = 65;
pub const CHECK_RISE: usize = 67;
pub const CHECK_FALL: usize = 68;
pub const CHECK_HEALTH: usize = 69;
pub const MODE: usize = 75;
pub const CONN_RATE: usize = 77;
pub const CONN_RATE_MAX: usize = 78;
pub const CONN_TOT: usize = 79;
pub const INTERCEPTED: usize = 80;
pub const DCON: usize = 81;
pub const DSES: usize = 82;
pub const WREW: usize = 83;
pub const CONNECT: usize = 84;
pub const REUSE: usize = 85;
pub const CACHE_LOOKUPS: usize = 86;
pub const CACHE_HITS: usize = 87;
pub const SRV_ICUR: usize = 88;
pub const SRV_ILIM: usize = 89;
pub const QT_MAX: usize = 90;
pub const CT_MAX: usize = 91;
pub const RT_MAX: usize = 92;
pub const TT_MAX: usize = 93;
pub const EINT: usize = 94;
pub const IDLE_CONN_CUR: usize = 95;
pub const SAFE_CONN_CUR: usize = 96;
pub const USED_CONN_CUR: usize = 97;
pub const NEED_CONN_EST: usize = 98;
pub const UWEIGHT: usize = 99;
pub const AGG_SRV_STATUS: usize = 100;
pub const SSL_SESS: usize = 103;
pub const H2_FIRST: usize = 106;
pub const H2_OPEN_CONNECTIONS: usize = 115;
pub const H1_FIRST: usize = 119;

/// A field's value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Val {
    U32(u32),
    U64(u64),
    S32(i32),
    Str(String),
}

/// A typed field: its tags (origin, nature, scope letters as `;typed` prints them, e.g.
/// `MCP`) and its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    pub tags: &'static str,
    pub val: Val,
}

/// What a line describes (`STATS_TYPE_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Frontend = 0,
    Backend = 1,
    Server = 2,
}

/// One stats line.
#[derive(Debug, Clone)]
pub struct Row {
    pub kind: Kind,
    pub f: Vec<Option<Field>>,
}

/// HAProxy's `STAT_SHLGNDS` fields (`stats show-legends`, the CLI at level operator or
/// admin): a server's address and cookie, a backend's cookie name and algorithm.
pub fn add_legends(state: &EngineState, row: &mut Row, bi: usize, si: Option<usize>) {
    const ADDR: usize = 73;
    const COOKIE: usize = 74;
    const ALGO: usize = 76;
    let Some(be) = state.config.backends.get(bi) else {
        return;
    };
    match si {
        Some(si) => {
            let Some(srv) = be.servers.get(si) else {
                return;
            };
            if let Some(a) = srv.resolved {
                row.str(ADDR, "CGS", a.to_string());
            }
            if let Some(c) = &srv.cookie {
                row.str(COOKIE, "CGS", c.clone());
            }
        }
        None => {
            if let Some(c) = &be.cookie {
                row.str(COOKIE, "CGS", c.name.clone());
            }
            use crate::config::ir::Balance as B;
            let algo = match be.balance {
                B::RoundRobin => "roundrobin",
                B::StaticRr => "static-rr",
                B::LeastConn => "leastconn",
                B::First => "first",
                B::Source => "source",
                B::Uri { .. } => "uri",
                B::UrlParam { .. } => "url_param",
                B::Hdr { .. } => "hdr",
                B::Random { .. } => "random",
                B::RdpCookie { .. } => "rdp-cookie",
                B::Hash { .. } => "hash",
            };
            row.str(ALGO, "CGS", algo);
        }
    }
}

impl Row {
    fn new(kind: Kind) -> Self {
        Row {
            kind,
            f: vec![None; NAMES.len()],
        }
    }

    fn set(&mut self, i: usize, tags: &'static str, val: Val) {
        if let Some(slot) = self.f.get_mut(i) {
            *slot = Some(Field { tags, val });
        }
    }

    fn u32(&mut self, i: usize, tags: &'static str, v: u32) {
        self.set(i, tags, Val::U32(v));
    }

    fn u64(&mut self, i: usize, tags: &'static str, v: u64) {
        self.set(i, tags, Val::U64(v));
    }

    fn str(&mut self, i: usize, tags: &'static str, v: impl Into<String>) {
        self.set(i, tags, Val::Str(v.into()));
    }

    pub fn get(&self, i: usize) -> Option<&Field> {
        self.f.get(i).and_then(|f| f.as_ref())
    }

    /// The field as an unsigned number (0 when empty or a string), as HAProxy's renderers
    /// read `u.u32`/`u.u64` of an unset field.
    pub fn num(&self, i: usize) -> u64 {
        match self.get(i).map(|f| &f.val) {
            Some(Val::U32(v)) => u64::from(*v),
            Some(Val::U64(v)) => *v,
            Some(Val::S32(v)) => *v as u64,
            _ => 0,
        }
    }

    pub fn s32(&self, i: usize) -> i32 {
        match self.get(i).map(|f| &f.val) {
            Some(Val::S32(v)) => *v,
            Some(Val::U32(v)) => *v as i32,
            _ => 0,
        }
    }

    pub fn text(&self, i: usize) -> &str {
        match self.get(i).map(|f| &f.val) {
            Some(Val::Str(s)) => s,
            _ => "",
        }
    }

    pub fn has(&self, i: usize) -> bool {
        self.get(i).is_some()
    }
}

fn mode_str(m: Mode) -> &'static str {
    match m {
        Mode::Tcp => "tcp",
        Mode::Http => "http",
    }
}

/// HAProxy's `check_statuses[].info` for a status.
pub fn status_info(s: Status) -> &'static str {
    match s {
        Status::SockErr => "SOCKERR",
        Status::L4Ok => "L4OK",
        Status::L4Tout => "L4TOUT",
        Status::L4Con => "L4CON",
        Status::L6Ok => "L6OK",
        Status::L6Tout => "L6TOUT",
        Status::L6Rsp => "L6RSP",
        Status::L7Tout => "L7TOUT",
        Status::L7Rsp => "L7RSP",
        Status::L7OkD => "L7OK",
        Status::L7OkCD => "L7OKC",
        Status::L7Sts => "L7STS",
    }
}

/// Statuses past `HCHK_STATUS_L57DATA` carry the check's code.
fn status_has_code(s: Status) -> bool {
    matches!(s, Status::L7OkD | Status::L7OkCD | Status::L7Sts)
}

fn rate(r: &FreqCtr, now_ms: u64) -> u32 {
    r.read(now_ms)
}

fn hrsp(row: &mut Row, rsp: &Rsp) {
    for class in 1..=5 {
        row.u64(HRSP_1XX + class - 1, "MCP", rsp.get(class));
    }
    row.u64(HRSP_OTHER, "MCP", rsp.get(0));
}

/// Queue/connect/response/total time averages over the last 1024 samples, and maxima.
fn times(row: &mut Row, t: &Times) {
    let n = t.samples.load(Relaxed);
    row.u32(QTIME, "MaP", t.q.avg(n));
    row.u32(CTIME, "MaP", t.c.avg(n));
    row.u32(RTIME, "MaP", t.d.avg(n));
    row.u32(TTIME, "MaP", t.t.avg(n));
    row.u32(QT_MAX, "MMP", t.q.max());
    row.u32(CT_MAX, "MMP", t.c.max());
    row.u32(RT_MAX, "MMP", t.d.max());
    row.u32(TT_MAX, "MMP", t.t.max());
}

/// The `ssl`, `h2` and `h1` module fields. `tls_fe`: a frontend with TLS binds (its
/// handshakes are not counted: left empty). Server-side TLS and HTTP/2 do not exist in the
/// engine (zero); HTTP/1 connection counters are not tracked (empty).
fn modules(row: &mut Row, tls_fe: bool) {
    if !tls_fe {
        for i in SSL_SESS..SSL_SESS + 3 {
            row.u64(i, "MCP", 0);
        }
    }
    if row.kind == Kind::Backend {
        for i in H2_FIRST..H1_FIRST {
            let gauge = i == H2_OPEN_CONNECTIONS || i == H2_OPEN_CONNECTIONS + 1;
            row.u64(i, if gauge { "MGP" } else { "MCP" }, 0);
        }
        // Spliced bytes: the engine never splices.
        row.u64(H1_FIRST + 6, "MCP", 0);
        row.u64(H1_FIRST + 7, "MCP", 0);
    } else if row.kind == Kind::Frontend {
        row.u64(H1_FIRST + 6, "MCP", 0);
        row.u64(H1_FIRST + 7, "MCP", 0);
    }
}

/// The first user proxy's id: 1, or 2 with a `stats socket` (HAProxy's CLI proxy, GLOBAL,
/// takes id 1; checked with HAProxy 2.6.12).
pub fn first_iid(state: &EngineState) -> usize {
    if state.config.global.stats_sockets.is_empty() {
        1
    } else {
        2
    }
}

/// The 1-based proxy ids (`iid`) HAProxy assigns in declaration order, and the order in
/// which the stats list the proxies: `(frontend index, backend index)` per proxy, both set
/// for a `listen` section.
pub fn proxies(state: &EngineState) -> Vec<(Option<usize>, Option<usize>)> {
    let cfg = &state.config;
    // Files in load order: as first seen in the frontends, then in the backends.
    let mut files: Vec<&str> = Vec::new();
    for o in cfg
        .frontends
        .iter()
        .map(|f| &f.origin)
        .chain(cfg.backends.iter().map(|b| &b.origin))
    {
        if !files.contains(&o.file.as_str()) {
            files.push(&o.file);
        }
    }
    let rank = |o: &crate::config::ir::Origin| {
        (
            files
                .iter()
                .position(|f| *f == o.file)
                .unwrap_or(usize::MAX),
            o.line,
        )
    };
    // (load order, frontend, backend) per proxy.
    type Entry = ((usize, usize), Option<usize>, Option<usize>);
    let mut out: Vec<Entry> = Vec::new();
    for (fi, f) in cfg.frontends.iter().enumerate() {
        out.push((rank(&f.origin), Some(fi), None));
    }
    for (bi, b) in cfg.backends.iter().enumerate() {
        if let Some(Some(fi)) = state.stats.listen_fe.get(bi) {
            if let Some(e) = out.iter_mut().find(|e| e.1 == Some(*fi)) {
                e.2 = Some(bi);
                continue;
            }
        }
        out.push((rank(&b.origin), None, Some(bi)));
    }
    out.sort_by_key(|e| e.0);
    out.into_iter().map(|(_, f, b)| (f, b)).collect()
}

/// A frontend line.
pub fn fe_row(state: &EngineState, fi: usize, iid: u32) -> Option<Row> {
    let fe = state.config.frontends.get(fi)?;
    let c = state.stats.fe.get(fi)?;
    let now = state.stats.now_ms();
    let http = fe.mode == Mode::Http;
    let mut r = Row::new(Kind::Frontend);
    r.str(PXNAME, "KNS", fe.name.clone());
    r.str(SVNAME, "KNS", "FRONTEND");
    r.str(MODE, "CGS", mode_str(fe.mode));
    let cur = state
        .frontends
        .get(fi)
        .map_or(0, |f| f.cur_conns.load(Relaxed));
    r.u32(SCUR, "MGP", cur);
    r.u32(SMAX, "MMP", c.conn_max.load(Relaxed));
    r.u32(SLIM, "CLP", fe.maxconn);
    r.u64(STOT, "MCP", c.cum_sess.load(Relaxed));
    r.u64(BIN, "MCP", c.bytes_in.load(Relaxed));
    r.u64(BOUT, "MCP", c.bytes_out.load(Relaxed));
    r.u64(DREQ, "MCP", c.denied_req.load(Relaxed));
    r.u64(DRESP, "MCP", c.denied_resp.load(Relaxed));
    r.u64(EREQ, "MCP", c.failed_req.load(Relaxed));
    // No `tcp-request connection/session` rules run in the engine.
    r.u64(DCON, "MCP", 0);
    r.u64(DSES, "MCP", 0);
    let stopping = state.stop_level() >= StopLevel::Soft;
    r.str(STATUS, "SGP", if stopping { "STOP" } else { "OPEN" });
    r.u32(PID, "KGP", 1);
    r.u32(IID, "KGS", iid);
    r.u32(SID, "KGS", 0);
    r.u32(TYPE, "CGS", Kind::Frontend as u32);
    r.u32(RATE, "MRP", rate(&c.sess_rate, now));
    r.u32(RATE_LIM, "CLP", 0);
    r.u32(RATE_MAX, "MMP", c.sps_max.load(Relaxed));
    r.u64(WREW, "MCP", 0);
    r.u64(EINT, "MCP", 0);
    if http {
        hrsp(&mut r, &c.rsp);
        r.u64(INTERCEPTED, "MCP", c.intercepted.load(Relaxed));
        r.u64(CACHE_LOOKUPS, "MCP", 0);
        r.u64(CACHE_HITS, "MCP", 0);
    }
    r.u32(REQ_RATE, "MRP", rate(&c.req_rate, now));
    r.u32(REQ_RATE_MAX, "MMP", c.rps_max.load(Relaxed));
    r.u64(REQ_TOT, "MCP", c.cum_req.load(Relaxed));
    for i in [COMP_IN, COMP_OUT, COMP_BYP, COMP_RSP] {
        r.u64(i, "MCP", 0);
    }
    r.u32(CONN_RATE, "MRP", rate(&c.conn_rate, now));
    r.u32(CONN_RATE_MAX, "MMP", c.cps_max.load(Relaxed));
    r.u64(CONN_TOT, "MCP", c.cum_conn.load(Relaxed));
    let tls = fe.binds.iter().any(|b| b.tls.is_some());
    modules(&mut r, tls);
    Some(r)
}

/// The engine's view of a server for the stats, HAProxy's `srv_stats_state`.
#[derive(Debug, Clone)]
pub struct SrvView {
    /// `cur_state`: 0 stopped, 1 starting, 2 running, 3 stopping (NOLB).
    pub state: u8,
    pub maint: bool,
    /// Maintenance because the address did not resolve.
    pub resolution: bool,
    pub checked: bool,
    pub health: u32,
    pub rise: u32,
    pub fall: u32,
    pub eweight: u32,
    pub status: String,
}

impl SrvView {
    /// `srv_currently_usable()`: running or starting, with a weight.
    pub fn usable(&self) -> bool {
        (self.state == 1 || self.state == 2) && !self.maint && self.eweight > 0
    }

    /// Stopped (down or in maintenance).
    pub fn stopped(&self) -> bool {
        self.state == 0
    }
}

/// HAProxy's effective weight for a user weight and a slow-start step.
fn eweight(uweight: u32, step: u32) -> u32 {
    if step >= WEIGHT_STEPS {
        return uweight;
    }
    (uweight * step).div_ceil(WEIGHT_STEPS)
}

/// Builds the view of server `si` of backend `bi`.
pub fn srv_view(state: &EngineState, be: &Backend, bi: usize, si: usize) -> Option<SrvView> {
    let srv = be.servers.get(si)?;
    let st = state.server(bi, si)?;
    let c = state.stats.server(bi, si)?;
    let maint = st.is_maint();
    let resolution = maint && srv.resolved.is_none() && !srv.disabled && !be.disabled;
    let checked = srv.check && health::check_target(srv).is_some();
    let rise = srv.rise.max(1);
    let fall = srv.fall.max(1);
    let h = c.health.load(Relaxed);
    let health = if h == 0 { rise } else { h - 1 };
    let state_code = if maint || !st.is_up() {
        0
    } else if st.is_nolb() {
        3
    } else if st.warmup_left().is_some() {
        1
    } else {
        2
    };
    let max = rise + fall - 1;
    let status = if resolution {
        "MAINT (resolution)".to_string()
    } else if maint {
        "MAINT".to_string()
    } else {
        match state_code {
            1 | 2 => {
                if checked && health < max {
                    format!("UP {}/{}", (health + 1).saturating_sub(rise), fall)
                } else if checked {
                    "UP".to_string()
                } else {
                    "no check".to_string()
                }
            }
            3 => {
                if !checked || health == max {
                    "NOLB".to_string()
                } else {
                    format!("NOLB {}/{}", (health + 1).saturating_sub(rise), fall)
                }
            }
            _ => {
                if checked && health == 0 {
                    "DOWN".to_string()
                } else if checked {
                    format!("DOWN {health}/{rise}")
                } else {
                    "DOWN".to_string()
                }
            }
        }
    };
    Some(SrvView {
        state: state_code,
        maint,
        resolution,
        checked,
        health,
        rise,
        fall,
        eweight: eweight(st.uweight(srv.weight), st.weight_step()),
        status,
    })
}

/// A server line.
pub fn srv_row(state: &EngineState, bi: usize, si: usize, iid: u32) -> Option<Row> {
    let be = state.config.backends.get(bi)?;
    let srv: &Server = be.servers.get(si)?;
    let st = state.server(bi, si)?;
    let c = state.stats.server(bi, si)?;
    let v = srv_view(state, be, bi, si)?;
    let now_ms = state.stats.now_ms();
    let now = state.stats.now_s();
    let http = be.mode == Mode::Http;
    let mut r = Row::new(Kind::Server);
    r.str(PXNAME, "KNS", be.name.clone());
    r.str(SVNAME, "KNS", srv.name.clone());
    r.str(MODE, "CGS", mode_str(be.mode));
    r.u32(QCUR, "MGP", 0);
    r.u32(QMAX, "MMP", 0);
    let cur = st.cur_conns.load(Relaxed);
    r.u32(SCUR, "MGP", cur);
    r.u32(SMAX, "MMP", c.cur_sess_max.load(Relaxed).max(cur));
    if let Some(m) = srv.maxconn.filter(|m| *m > 0) {
        r.u32(SLIM, "CLP", m);
    }
    let idle = match (http, srv.resolved) {
        (true, Some(a)) => u32::try_from(crate::engine::http::pool_idle(a)).unwrap_or(u32::MAX),
        _ => 0,
    };
    r.u32(SRV_ICUR, "MGP", idle);
    r.u64(STOT, "MCP", st.total_conns.load(Relaxed));
    r.u64(BIN, "MCP", c.bytes_in.load(Relaxed));
    r.u64(BOUT, "MCP", c.bytes_out.load(Relaxed));
    r.u64(DRESP, "MCP", c.denied_resp.load(Relaxed));
    r.u64(ECON, "MCP", c.failed_conns.load(Relaxed));
    r.u64(ERESP, "MCP", c.failed_resp.load(Relaxed));
    r.u64(WRETR, "MCP", c.retries.load(Relaxed));
    r.u64(WREDIS, "MCP", c.redispatches.load(Relaxed));
    r.u64(WREW, "MCP", 0);
    r.u64(EINT, "MCP", 0);
    r.u64(CONNECT, "MCP", c.connect.load(Relaxed));
    r.u64(REUSE, "MCP", c.reuse.load(Relaxed));
    r.u32(USED_CONN_CUR, "MGP", cur);
    r.str(STATUS, "SGP", v.status.clone());
    r.u32(
        LASTCHG,
        "MAP",
        now.saturating_sub(c.trans.last_change.load(Relaxed)),
    );
    r.u32(WEIGHT, "MaP", v.eweight);
    r.u32(UWEIGHT, "MaP", st.uweight(srv.weight));
    r.u32(ACT, "SGP", u32::from(!srv.backup));
    r.u32(BCK, "SGP", u32::from(srv.backup));
    if v.checked {
        r.u64(CHKFAIL, "MCP", c.failed_checks.load(Relaxed));
        r.u64(CHKDOWN, "MCP", c.trans.down_trans.load(Relaxed));
        r.u32(DOWNTIME, "MCP", c.trans.downtime(now, v.stopped()));
    }
    if let Some(q) = srv.maxqueue.filter(|q| *q > 0) {
        r.u32(QLIMIT, "CGS", q);
    }
    r.u32(PID, "KGP", 1);
    r.u32(IID, "KGS", iid);
    r.u32(SID, "KGS", srv.id);
    if v.state == 1 {
        let throttle = (100 * st.weight_step()).div_ceil(WEIGHT_STEPS);
        r.u32(THROTTLE, "MaP", throttle);
    }
    r.u64(LBTOT, "MCP", c.cum_lbconn.load(Relaxed));
    r.u32(TYPE, "CGS", Kind::Server as u32);
    r.u32(RATE, "MRP", rate(&c.sess_rate, now_ms));
    r.u32(RATE_MAX, "MMP", c.sps_max.load(Relaxed));
    // Checks are paused while in maintenance.
    if v.checked && !v.maint {
        let last = c.last_check.lock().ok().and_then(|l| l.clone());
        let running = c.check_running.load(Relaxed);
        let info = last.as_ref().map_or("INI", |l| status_info(l.status));
        let info = if running {
            format!("* {info}")
        } else {
            info.to_string()
        };
        r.str(CHECK_STATUS, "MOP", info);
        if let Some(l) = &last {
            if status_has_code(l.status) {
                r.u32(CHECK_CODE, "MOP", l.code);
            }
            let ms = u64::try_from(l.duration.as_millis()).unwrap_or(u64::MAX);
            r.u64(CHECK_DURATION, "MDP", ms);
        }
        let desc = last
            .as_ref()
            .map_or("Initializing", |l| l.status.description());
        r.str(CHECK_DESC, "MOP", desc);
        let lc = last
            .as_ref()
            .map(|l| String::from_utf8_lossy(&l.desc).into_owned())
            .unwrap_or_default();
        r.str(LAST_CHK, "MOP", lc);
        r.u32(CHECK_RISE, "CGS", v.rise);
        r.u32(CHECK_FALL, "CGS", v.fall);
        r.u32(CHECK_HEALTH, "CGS", v.health);
    }
    if http {
        r.u64(REQ_TOT, "MCP", c.cum_req.load(Relaxed));
        hrsp(&mut r, &c.rsp);
    }
    r.u64(CLI_ABRT, "MCP", 0);
    r.u64(SRV_ABRT, "MCP", 0);
    let ls = c.last_sess.load(Relaxed);
    let lastsess = if ls == 0 {
        -1
    } else {
        i32::try_from(now.saturating_sub(ls - 1)).unwrap_or(i32::MAX)
    };
    r.set(LASTSESS, "MAP", Val::S32(lastsess));
    times(&mut r, &c.times);
    modules(&mut r, false);
    Some(r)
}

/// The servers' aggregate for a backend line: `(tot_weight, totuw, act, bck, nbup, nbsrv)`.
pub fn be_weights(state: &EngineState, be: &Backend, bi: usize) -> (u32, u32, u32, u32, u32, u32) {
    let views: Vec<(bool, SrvView, u32)> = be
        .servers
        .iter()
        .enumerate()
        .filter_map(|(si, s)| {
            Some((
                s.backup,
                srv_view(state, be, bi, si)?,
                state.server(bi, si)?.uweight(s.weight),
            ))
        })
        .collect();
    let (mut act, mut bck, mut wact, mut wbck) = (0u32, 0u32, 0u32, 0u32);
    let mut fbck: Option<(u32, u32)> = None;
    for (backup, v, uw) in &views {
        if !v.usable() {
            continue;
        }
        if *backup {
            if bck == 0 && !be.allbackups {
                fbck = Some((v.eweight, *uw));
            }
            bck += 1;
            wbck += v.eweight;
        } else {
            act += 1;
            wact += v.eweight;
        }
    }
    let tot_weight = if act > 0 {
        wact
    } else if let Some((w, _)) = fbck {
        w
    } else {
        wbck
    };
    let mut totuw = 0;
    let mut nbup = 0;
    for (backup, v, uw) in &views {
        if !v.stopped() {
            nbup += 1;
            if v.usable() && ((act == 0) == *backup) {
                totuw += uw;
            }
        }
    }
    if act == 0 {
        if let Some((_, uw)) = fbck {
            totuw = uw;
        }
    }
    (tot_weight, totuw, act, bck, nbup, views.len() as u32)
}

/// The backend's `fullconn` (the IR holds HAProxy's default when it is not configured: a
/// tenth, rounded up, of the `maxconn` of the frontends that can route to the backend).
fn fullconn(state: &EngineState, bi: usize) -> u32 {
    state.config.backends.get(bi).map_or(1, |b| b.fullconn)
}

/// A backend line. `hide`: `;up` or `;no-maint` was asked (the status then shows the
/// number of servers up).
pub fn be_row(state: &EngineState, bi: usize, iid: u32, hide: bool) -> Option<Row> {
    let be = state.config.backends.get(bi)?;
    let c = state.stats.be.get(bi)?;
    let now_ms = state.stats.now_ms();
    let now = state.stats.now_s();
    let http = be.mode == Mode::Http;
    let (tot_weight, totuw, act, bck, nbup, nbsrv) = be_weights(state, be, bi);
    let mut r = Row::new(Kind::Backend);
    r.str(PXNAME, "KNS", be.name.clone());
    r.str(SVNAME, "KNS", "BACKEND");
    r.str(MODE, "CGS", mode_str(be.mode));
    r.u32(QCUR, "MGP", c.nbpend.load(Relaxed));
    r.u32(QMAX, "MMP", c.nbpend_max.load(Relaxed));
    r.u32(SCUR, "MGP", c.cur.load(Relaxed));
    r.u32(SMAX, "MMP", c.conn_max.load(Relaxed));
    r.u32(SLIM, "CLP", fullconn(state, bi));
    r.u64(STOT, "MCP", c.cum_conn.load(Relaxed));
    r.u64(BIN, "MCP", c.bytes_in.load(Relaxed));
    r.u64(BOUT, "MCP", c.bytes_out.load(Relaxed));
    r.u64(DREQ, "MCP", c.denied_req.load(Relaxed));
    r.u64(DRESP, "MCP", c.denied_resp.load(Relaxed));
    r.u64(ECON, "MCP", c.failed_conns.load(Relaxed));
    r.u64(ERESP, "MCP", c.failed_resp.load(Relaxed));
    r.u64(WRETR, "MCP", c.retries.load(Relaxed));
    r.u64(WREDIS, "MCP", c.redispatches.load(Relaxed));
    r.u64(WREW, "MCP", 0);
    r.u64(EINT, "MCP", 0);
    r.u64(CONNECT, "MCP", c.connect.load(Relaxed));
    r.u64(REUSE, "MCP", c.reuse.load(Relaxed));
    let mut status = if tot_weight > 0 || be.servers.is_empty() {
        "UP".to_string()
    } else {
        "DOWN".to_string()
    };
    if hide {
        status.push_str(&format!(" ({nbup}/{nbsrv})"));
    }
    r.str(STATUS, "SGP", status);
    r.u32(WEIGHT, "MaP", tot_weight);
    r.u32(UWEIGHT, "MaP", totuw);
    r.u32(ACT, "MGP", act);
    r.u32(BCK, "MGP", bck);
    r.u64(CHKDOWN, "MCP", c.trans.down_trans.load(Relaxed));
    r.u32(
        LASTCHG,
        "MAP",
        now.saturating_sub(c.trans.last_change.load(Relaxed)),
    );
    if !be.servers.is_empty() {
        r.u32(DOWNTIME, "MCP", c.trans.downtime(now, tot_weight == 0));
    }
    r.u32(PID, "KGP", 1);
    r.u32(IID, "KGS", iid);
    r.u32(SID, "KGS", 0);
    r.u64(LBTOT, "MCP", c.cum_lbconn.load(Relaxed));
    r.u32(TYPE, "CGS", Kind::Backend as u32);
    r.u32(RATE, "MGP", rate(&c.sess_rate, now_ms));
    r.u32(RATE_MAX, "MGP", c.sps_max.load(Relaxed));
    if http {
        r.u64(REQ_TOT, "MCP", c.cum_req.load(Relaxed));
        hrsp(&mut r, &c.rsp);
        r.u64(CACHE_LOOKUPS, "MCP", 0);
        r.u64(CACHE_HITS, "MCP", 0);
    }
    r.u64(CLI_ABRT, "MCP", 0);
    r.u64(SRV_ABRT, "MCP", 0);
    for i in [COMP_IN, COMP_OUT, COMP_BYP, COMP_RSP] {
        r.u64(i, "MCP", 0);
    }
    let ls = c.last_sess.load(Relaxed);
    let lastsess = if ls == 0 {
        -1
    } else {
        i32::try_from(now.saturating_sub(ls - 1)).unwrap_or(i32::MAX)
    };
    r.set(LASTSESS, "MAP", Val::S32(lastsess));
    times(&mut r, &c.times);
    for i in AGG_SRV_STATUS..AGG_SRV_STATUS + 3 {
        r.u32(i, "MGP", 0);
    }
    modules(&mut r, false);
    Some(r)
}

/// True when the backend is the backend half of a `listen` section.
pub fn is_listen(be: &Backend) -> bool {
    be.kind == SectionKind::Listen
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_haproxy_2_6_header() {
        // Captured from haproxy 2.6.12 (`curl 'http://.../stats;csv' | head -1`).
        let header = "# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,wredis,status,weight,act,bck,chkfail,chkdown,lastchg,downtime,qlimit,pid,iid,sid,throttle,lbtot,tracked,type,rate,rate_lim,rate_max,check_status,check_code,check_duration,hrsp_1xx,hrsp_2xx,hrsp_3xx,hrsp_4xx,hrsp_5xx,hrsp_other,hanafail,req_rate,req_rate_max,req_tot,cli_abrt,srv_abrt,comp_in,comp_out,comp_byp,comp_rsp,lastsess,last_chk,last_agt,qtime,ctime,rtime,ttime,agent_status,agent_code,agent_duration,check_desc,agent_desc,check_rise,check_fall,check_health,agent_rise,agent_fall,agent_health,addr,cookie,mode,algo,conn_rate,conn_rate_max,conn_tot,intercepted,dcon,dses,wrew,connect,reuse,cache_lookups,cache_hits,srv_icur,src_ilim,qtime_max,ctime_max,rtime_max,ttime_max,eint,idle_conn_cur,safe_conn_cur,used_conn_cur,need_conn_est,uweight,agg_server_status,agg_server_check_status,agg_check_status,-,ssl_sess,ssl_reused_sess,ssl_failed_handshake,h2_headers_rcvd,h2_data_rcvd,h2_settings_rcvd,h2_rst_stream_rcvd,h2_goaway_rcvd,h2_detected_conn_protocol_errors,h2_detected_strm_protocol_errors,h2_rst_stream_resp,h2_goaway_resp,h2_open_connections,h2_backend_open_streams,h2_total_connections,h2_backend_total_streams,h1_open_connections,h1_open_streams,h1_total_connections,h1_total_streams,h1_bytes_in,h1_bytes_out,h1_spliced_bytes_in,h1_spliced_bytes_out,\n";
        assert_eq!(super::super::render::csv_header(), header);
        assert_eq!(NAMES[STATIC_FIELDS - 1], "agg_check_status");
        assert_eq!(NAMES[SRV_ILIM], "src_ilim");
        assert_eq!(NAMES[H1_FIRST], "h1_open_connections");
        assert_eq!(NAMES[H2_OPEN_CONNECTIONS], "h2_open_connections");
    }

    #[test]
    fn effective_weight() {
        assert_eq!(eweight(5, 16), 5);
        assert_eq!(eweight(10, 8), 5);
        assert_eq!(eweight(1, 1), 1);
    }
}
