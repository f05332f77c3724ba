//! The engine's statistics counters: one [`FeCounters`] per frontend, one [`BeCounters`] per
//! backend and one [`SrvCounters`] per server, plus process-wide rates. They are the single
//! source of truth for the stats page (`;csv`, `;json`, `;typed`, HTML).
//!
//! Everything on the request path is a relaxed atomic: an increment per event, a
//! compare-and-swap loop only for the per-second rate counters ([`FreqCtr`]). Health-check
//! results (rare) sit behind a mutex.
//!
//! Semantics follow HAProxy 2.6's `fe_counters`/`be_counters`/`srv->counters` as observed on
//! haproxy 2.6.12 (see the module docs of [`super`]).

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicU8, Ordering::Relaxed};
use std::sync::Mutex;
use std::time::Instant;

use crate::config::ir::{Config, SectionKind};
use crate::engine::health::CheckResult;

/// HAProxy's `TIME_STATS_SAMPLES`: the window of the queue/connect/response/total time
/// averages.
pub const TIME_STATS_SAMPLES: u32 = 1024;

/// Raises `max` to `v` (`fetch_max`), without a locked read-modify-write when `v` is not
/// above it, the usual case: the maximum only grows, so a value read at or above `v`
/// stays so.
pub fn raise_max(max: &AtomicU32, v: u32) {
    if v > max.load(Relaxed) {
        max.fetch_max(v, Relaxed);
    }
}

/// A per-second event counter (HAProxy's `freq_ctr`): the count of the current second and
/// of the previous one. Reading gives `curr + prev * (remaining part of the second)`.
#[derive(Debug, Default)]
pub struct FreqCtr {
    /// `second << 32 | count` for the current second.
    cur: AtomicU64,
    prev: AtomicU32,
}

impl FreqCtr {
    /// Counts `n` events at `now_ms`; returns the count of the current second afterwards
    /// (what HAProxy compares with the `*_max` values).
    pub fn add(&self, now_ms: u64, n: u32) -> u32 {
        let sec = (now_ms / 1000) as u32;
        let mut v = self.cur.load(Relaxed);
        loop {
            let (s, c) = ((v >> 32) as u32, v as u32);
            let (nv, prev) = if s == sec {
                (u64::from(sec) << 32 | u64::from(c.saturating_add(n)), None)
            } else {
                let p = if s.wrapping_add(1) == sec { c } else { 0 };
                (u64::from(sec) << 32 | u64::from(n), Some(p))
            };
            match self.cur.compare_exchange_weak(v, nv, Relaxed, Relaxed) {
                Ok(_) => {
                    if let Some(p) = prev {
                        self.prev.store(p, Relaxed);
                    }
                    return nv as u32;
                }
                Err(cur) => v = cur,
            }
        }
    }

    /// The rate over the last second at `now_ms` (`read_freq_ctr()`).
    pub fn read(&self, now_ms: u64) -> u32 {
        let sec = (now_ms / 1000) as u32;
        let v = self.cur.load(Relaxed);
        let (s, c) = ((v >> 32) as u32, v as u32);
        let (curr, past) = if s == sec {
            (c, self.prev.load(Relaxed))
        } else if s.wrapping_add(1) == sec {
            (0, c)
        } else {
            (0, 0)
        };
        let remain = 1000 - (now_ms % 1000);
        curr.saturating_add(((u64::from(past) * remain) / 1000) as u32)
    }
}

/// A sliding average over [`TIME_STATS_SAMPLES`] values (`swrate_add_dynamic()`): a plain
/// sum until the window is full, then each new value replaces one average value.
#[derive(Debug, Default)]
pub struct SwRate {
    sum: AtomicU32,
    max: AtomicU32,
}

impl SwRate {
    /// Adds `v` (ms); `samples` is the object's sample count before this one.
    pub fn add(&self, samples: u64, v: u32) {
        let n = if samples > u64::from(TIME_STATS_SAMPLES) {
            TIME_STATS_SAMPLES
        } else {
            0
        };
        // (No store when the sum does not change: a zero time added to a zero sum, the
        // usual queue and connect times.)
        let _ = self.sum.fetch_update(Relaxed, Relaxed, |s| {
            let drop = if n > 0 { s.div_ceil(n) } else { 0 };
            let new = s.wrapping_sub(drop).wrapping_add(v);
            (new != s).then_some(new)
        });
        raise_max(&self.max, v);
    }

    /// `swrate_avg()` over `min(samples, 1024)` values (0 without samples).
    pub fn avg(&self, samples: u64) -> u32 {
        let n = samples.min(u64::from(TIME_STATS_SAMPLES)) as u32;
        if n == 0 {
            return 0;
        }
        self.sum.load(Relaxed).div_ceil(n)
    }

    pub fn max(&self) -> u32 {
        self.max.load(Relaxed)
    }
}

/// HTTP response counters by class: `[other, 1xx, 2xx, 3xx, 4xx, 5xx]`.
#[derive(Debug, Default)]
pub struct Rsp([AtomicU64; 6]);

impl Rsp {
    pub fn count(&self, status: u16) {
        let i = match status {
            100..=599 => usize::from(status / 100),
            _ => 0,
        };
        self.0[i].fetch_add(1, Relaxed);
    }

    /// Class 1..=5, or 0 for other codes.
    pub fn get(&self, class: usize) -> u64 {
        self.0.get(class).map_or(0, |c| c.load(Relaxed))
    }
}

/// Queue/connect/response/total times of one backend or server.
#[derive(Debug, Default)]
pub struct Times {
    pub q: SwRate,
    pub c: SwRate,
    pub d: SwRate,
    pub t: SwRate,
    /// Samples recorded so far (the window size while below 1024).
    pub samples: AtomicU64,
}

impl Times {
    pub fn add(&self, q: u32, c: u32, d: u32, t: u32) {
        let n = self.samples.fetch_add(1, Relaxed);
        self.q.add(n, q);
        self.c.add(n, c);
        self.d.add(n, d);
        self.t.add(n, t);
    }
}

/// One frontend's counters (`px->fe_counters` and the frontend rates).
#[derive(Debug, Default)]
pub struct FeCounters {
    pub conn_max: AtomicU32,
    pub cum_conn: AtomicU64,
    pub cum_sess: AtomicU64,
    pub bytes_in: AtomicU64,
    pub bytes_out: AtomicU64,
    pub denied_req: AtomicU64,
    pub denied_resp: AtomicU64,
    pub failed_req: AtomicU64,
    pub intercepted: AtomicU64,
    pub cum_req: AtomicU64,
    pub rsp: Rsp,
    pub sess_rate: FreqCtr,
    pub sps_max: AtomicU32,
    pub conn_rate: FreqCtr,
    pub cps_max: AtomicU32,
    pub req_rate: FreqCtr,
    pub rps_max: AtomicU32,
}

/// The states [`Transitions`] tells apart.
pub const ST_UP: u8 = 1;
/// Stopped by health checks (a backend: no usable server).
pub const ST_DOWN: u8 = 2;
/// Up but not taking new traffic (NOLB).
pub const ST_NOLB: u8 = 3;
/// In maintenance.
pub const ST_MAINT: u8 = 4;

/// Up/down history of a server or backend: `lastchg`, `chkdown`, `downtime`.
#[derive(Debug, Default)]
pub struct Transitions {
    /// Seconds (engine clock) of the last state change; 0: the engine start.
    pub last_change: AtomicU32,
    /// UP → DOWN transitions.
    pub down_trans: AtomicU64,
    /// Seconds spent down (or in maintenance) until `last_change`.
    pub down_time: AtomicU32,
    /// The last observed state (`ST_*`; 0 before the first observation).
    state: AtomicU8,
}

fn is_down(state: u8) -> bool {
    state == ST_DOWN || state == ST_MAINT
}

impl Transitions {
    /// Records the state at `now` (seconds): a change moves `last_change` and adds the
    /// time spent down; UP/NOLB → DOWN counts a down transition.
    pub fn observe(&self, now: u32, state: u8) {
        let prev = self.state.swap(state, Relaxed);
        if prev == state || prev == 0 {
            return;
        }
        let since = self.last_change.swap(now, Relaxed);
        if is_down(prev) {
            self.down_time.fetch_add(now.saturating_sub(since), Relaxed);
        }
        if state == ST_DOWN && (prev == ST_UP || prev == ST_NOLB) {
            self.down_trans.fetch_add(1, Relaxed);
        }
    }

    /// Sets the state at engine start without counting a change.
    pub fn init(&self, state: u8) {
        self.state.store(state, Relaxed);
    }

    /// Total downtime at `now` (`srv_downtime()`/`be_downtime()`): `down_now` adds the
    /// current down period.
    pub fn downtime(&self, now: u32, down_now: bool) -> u32 {
        let dt = self.down_time.load(Relaxed);
        let lc = self.last_change.load(Relaxed);
        if !down_now || lc >= now {
            return dt;
        }
        dt.saturating_add(now - lc)
    }
}

/// One backend's counters (`px->be_counters`).
#[derive(Debug, Default)]
pub struct BeCounters {
    /// Streams currently assigned to the backend (`beconn`).
    pub cur: AtomicU32,
    pub conn_max: AtomicU32,
    pub cum_conn: AtomicU64,
    pub cum_lbconn: AtomicU64,
    pub bytes_in: AtomicU64,
    pub bytes_out: AtomicU64,
    pub denied_req: AtomicU64,
    pub denied_resp: AtomicU64,
    pub failed_conns: AtomicU64,
    pub failed_resp: AtomicU64,
    pub retries: AtomicU64,
    pub redispatches: AtomicU64,
    pub connect: AtomicU64,
    pub reuse: AtomicU64,
    pub cum_req: AtomicU64,
    pub rsp: Rsp,
    pub sess_rate: FreqCtr,
    pub sps_max: AtomicU32,
    /// Seconds + 1 of the last connection to a server (0: never).
    pub last_sess: AtomicU32,
    /// Requests waiting in the backend queue, and the most seen.
    pub nbpend: AtomicU32,
    pub nbpend_max: AtomicU32,
    pub times: Times,
    pub trans: Transitions,
}

/// One server's counters (`srv->counters` and check state). Current and cumulated sessions
/// are the server state's `cur_conns`/`total_conns`.
#[derive(Debug, Default)]
pub struct SrvCounters {
    pub cur_sess_max: AtomicU32,
    pub cum_lbconn: AtomicU64,
    pub bytes_in: AtomicU64,
    pub bytes_out: AtomicU64,
    pub denied_resp: AtomicU64,
    pub failed_conns: AtomicU64,
    pub failed_resp: AtomicU64,
    pub retries: AtomicU64,
    pub redispatches: AtomicU64,
    pub connect: AtomicU64,
    pub reuse: AtomicU64,
    pub cum_req: AtomicU64,
    pub rsp: Rsp,
    pub sess_rate: FreqCtr,
    pub sps_max: AtomicU32,
    pub last_sess: AtomicU32,
    pub times: Times,
    pub trans: Transitions,
    /// Failed checks that lowered the health (`failed_checks`).
    pub failed_checks: AtomicU64,
    /// The check health counter + 1 (0: not reported yet, i.e. `rise`, HAProxy's start).
    pub health: AtomicU32,
    /// A check is running now (HAProxy's `CHK_ST_INPROGRESS`: `* ` before the status).
    pub check_running: AtomicBool,
    /// The last check result (`None`: not checked yet, `INI`).
    pub last_check: Mutex<Option<CheckResult>>,
}

/// Process-wide counters.
#[derive(Debug, Default)]
pub struct ProcCounters {
    pub conn_rate: FreqCtr,
    /// Bytes sent to clients (the page's "bit rate").
    pub out_rate: FreqCtr,
}

/// All counters of one running engine; indexed like the IR's `frontends`, `backends` and
/// each backend's `servers`.
#[derive(Debug)]
pub struct Counters {
    start: Instant,
    /// Wall-clock start, seconds since the epoch.
    pub start_unix: u64,
    pub fe: Vec<FeCounters>,
    pub be: Vec<BeCounters>,
    pub srv: Vec<Vec<SrvCounters>>,
    pub proc: ProcCounters,
    /// The frontend index of each backend that is the backend half of a `listen` section.
    pub listen_fe: Vec<Option<usize>>,
}

impl Counters {
    pub fn new(cfg: &Config) -> Self {
        let listen_fe = cfg
            .backends
            .iter()
            .map(|b| {
                (b.kind == SectionKind::Listen)
                    .then(|| {
                        cfg.frontends
                            .iter()
                            .position(|f| f.kind == SectionKind::Listen && f.name == b.name)
                    })
                    .flatten()
            })
            .collect();
        let c = Counters {
            start: Instant::now(),
            start_unix: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
            fe: cfg
                .frontends
                .iter()
                .map(|_| FeCounters::default())
                .collect(),
            be: cfg.backends.iter().map(|_| BeCounters::default()).collect(),
            srv: cfg
                .backends
                .iter()
                .map(|b| b.servers.iter().map(|_| SrvCounters::default()).collect())
                .collect(),
            proc: ProcCounters::default(),
            listen_fe,
        };
        // The engine starts every server UP, except those in maintenance (`disabled`, a
        // disabled backend, or an unresolved address); see `EngineState::new`.
        for (bi, b) in cfg.backends.iter().enumerate() {
            let mut any = false;
            for (si, s) in b.servers.iter().enumerate() {
                let maint = s.disabled || b.disabled || s.resolved.is_none();
                any |= !maint && s.weight > 0;
                if let Some(sc) = c.server(bi, si) {
                    sc.trans.init(if maint { ST_MAINT } else { ST_UP });
                }
            }
            if let Some(bc) = c.be.get(bi) {
                let down = !any && !b.servers.is_empty();
                bc.trans.init(if down { ST_DOWN } else { ST_UP });
            }
        }
        c
    }

    /// Milliseconds since the engine started.
    pub fn now_ms(&self) -> u64 {
        let d = crate::engine::clock::now().saturating_duration_since(self.start);
        u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
    }

    /// Seconds since the engine started (HAProxy's `now.tv_sec` relative to the start).
    pub fn now_s(&self) -> u32 {
        let d = crate::engine::clock::now().saturating_duration_since(self.start);
        u32::try_from(d.as_secs()).unwrap_or(u32::MAX)
    }

    pub fn uptime_s(&self) -> u64 {
        self.start.elapsed().as_secs()
    }

    /// A client connection was accepted by frontend `fe`, which now has `cur` connections.
    pub fn fe_accept(&self, fe: usize, cur: u32) {
        let now = self.now_ms();
        self.proc.conn_rate.add(now, 1);
        let Some(f) = self.fe.get(fe) else { return };
        f.cum_conn.fetch_add(1, Relaxed);
        f.cum_sess.fetch_add(1, Relaxed);
        raise_max(&f.conn_max, cur);
        let r = f.conn_rate.add(now, 1);
        raise_max(&f.cps_max, r);
        let r = f.sess_rate.add(now, 1);
        raise_max(&f.sps_max, r);
    }

    /// A stream was assigned to backend `be` (`cum_conn`, `beconn`, the session rate).
    pub fn be_assign(&self, be: usize, http: bool) {
        let Some(b) = self.be.get(be) else { return };
        b.cum_conn.fetch_add(1, Relaxed);
        if http {
            b.cum_req.fetch_add(1, Relaxed);
        }
        let cur = b.cur.fetch_add(1, Relaxed) + 1;
        raise_max(&b.conn_max, cur);
        let r = b.sess_rate.add(self.now_ms(), 1);
        raise_max(&b.sps_max, r);
    }

    /// The stream assigned by [`Counters::be_assign`] ended.
    pub fn be_release(&self, be: usize) {
        if let Some(b) = self.be.get(be) {
            let _ = b
                .cur
                .fetch_update(Relaxed, Relaxed, |c| Some(c.saturating_sub(1)));
        }
    }

    pub fn server(&self, be: usize, srv: usize) -> Option<&SrvCounters> {
        self.srv.get(be)?.get(srv)
    }

    /// The load-balancing algorithm chose server `srv` (`lbtot`).
    pub fn lb_pick(&self, be: usize, srv: usize) {
        if let Some(b) = self.be.get(be) {
            b.cum_lbconn.fetch_add(1, Relaxed);
        }
        if let Some(s) = self.server(be, srv) {
            s.cum_lbconn.fetch_add(1, Relaxed);
        }
    }

    /// A connection attempt to server `srv`, which now has `cur` sessions (`smax`, the
    /// session rate, `lastsess`).
    pub fn srv_attempt(&self, be: usize, srv: usize, cur: u32) {
        let now = self.now_s().saturating_add(1);
        if let Some(b) = self.be.get(be) {
            b.last_sess.store(now, Relaxed);
        }
        if let Some(s) = self.server(be, srv) {
            raise_max(&s.cur_sess_max, cur);
            let r = s.sess_rate.add(self.now_ms(), 1);
            raise_max(&s.sps_max, r);
            s.last_sess.store(now, Relaxed);
        }
    }

    /// The attempt got a connection: a new one (`connect`) or a reused one (`reuse`).
    pub fn srv_connected(&self, be: usize, srv: usize, reused: bool) {
        if let Some(b) = self.be.get(be) {
            let c = if reused { &b.reuse } else { &b.connect };
            c.fetch_add(1, Relaxed);
        }
        if let Some(s) = self.server(be, srv) {
            let c = if reused { &s.reuse } else { &s.connect };
            c.fetch_add(1, Relaxed);
        }
    }

    /// A new connection attempt to `srv` failed (it still counts in `connect`).
    fn failed_attempt(&self, be: usize, srv: usize) {
        if let Some(b) = self.be.get(be) {
            b.connect.fetch_add(1, Relaxed);
        }
        if let Some(s) = self.server(be, srv) {
            s.connect.fetch_add(1, Relaxed);
        }
    }

    /// A failed attempt on `srv` will be retried on `next` (a retry when it is the same
    /// server, a redispatch otherwise).
    pub fn srv_retry(&self, be: usize, srv: usize, next: usize) {
        self.failed_attempt(be, srv);
        let redisp = srv != next;
        if let Some(b) = self.be.get(be) {
            let c = if redisp { &b.redispatches } else { &b.retries };
            c.fetch_add(1, Relaxed);
        }
        if let Some(s) = self.server(be, srv) {
            let c = if redisp { &s.redispatches } else { &s.retries };
            c.fetch_add(1, Relaxed);
        }
    }

    /// Every attempt failed; the last one was on `srv` (`econ`).
    pub fn srv_conn_failed(&self, be: usize, srv: usize) {
        self.failed_attempt(be, srv);
        if let Some(b) = self.be.get(be) {
            b.failed_conns.fetch_add(1, Relaxed);
        }
        if let Some(s) = self.server(be, srv) {
            s.failed_conns.fetch_add(1, Relaxed);
        }
    }

    /// The server's response was invalid or did not come in time (`eresp`).
    pub fn srv_failed_resp(&self, be: usize, srv: usize) {
        if let Some(b) = self.be.get(be) {
            b.failed_resp.fetch_add(1, Relaxed);
        }
        if let Some(s) = self.server(be, srv) {
            s.failed_resp.fetch_add(1, Relaxed);
        }
    }

    /// Bytes of one stream: `bin` from the client, `bout` to it, counted on the frontend,
    /// the backend and the server it used.
    pub fn bytes(&self, fe: usize, be: Option<usize>, srv: Option<usize>, bin: u64, bout: u64) {
        if bin == 0 && bout == 0 {
            return;
        }
        // (Zero adds skipped: response body data comes with `bin == 0`.)
        let add = |c: &AtomicU64, n: u64| {
            if n > 0 {
                c.fetch_add(n, Relaxed);
            }
        };
        if let Some(f) = self.fe.get(fe) {
            add(&f.bytes_in, bin);
            add(&f.bytes_out, bout);
        }
        if bout > 0 {
            let n = u32::try_from(bout).unwrap_or(u32::MAX);
            self.proc.out_rate.add(self.now_ms(), n);
        }
        let Some(be) = be else { return };
        if let Some(b) = self.be.get(be) {
            add(&b.bytes_in, bin);
            add(&b.bytes_out, bout);
        }
        if let Some(s) = srv.and_then(|s| self.server(be, s)) {
            add(&s.bytes_in, bin);
            add(&s.bytes_out, bout);
        }
    }

    /// A health check of server `srv` starts.
    pub fn check_started(&self, be: usize, srv: usize) {
        if let Some(s) = self.server(be, srv) {
            s.check_running.store(true, Relaxed);
        }
    }

    /// A health check ended with `r`; the health went from `before` to `after`.
    pub fn check_done(&self, be: usize, srv: usize, r: &CheckResult, before: u32, after: u32) {
        let Some(s) = self.server(be, srv) else {
            return;
        };
        if after < before && r.verdict() == crate::engine::health::Verdict::Failed {
            s.failed_checks.fetch_add(1, Relaxed);
        }
        s.health.store(after.saturating_add(1), Relaxed);
        if let Ok(mut l) = s.last_check.lock() {
            *l = Some(r.clone());
        }
        s.check_running.store(false, Relaxed);
    }

    /// Records the current state (`ST_*`) of server `srv` of backend `be`, if given, and
    /// whether the backend is down (no usable server). Called when a health check changes a
    /// server's state, and before rendering the page (which catches any other change).
    pub fn observe(&self, be: usize, srv: Option<(usize, u8)>, be_down: bool) {
        let now = self.now_s();
        if let Some((si, st)) = srv {
            if let Some(s) = self.server(be, si) {
                s.trans.observe(now, st);
            }
        }
        if let Some(b) = self.be.get(be) {
            b.trans.observe(now, if be_down { ST_DOWN } else { ST_UP });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn freq_ctr_reads_like_haproxy() {
        let f = FreqCtr::default();
        assert_eq!(f.add(10_000, 1), 1);
        assert_eq!(f.add(10_500, 2), 3);
        assert_eq!(f.read(10_999), 3);
        // Next second: the previous count fades out over the second.
        assert_eq!(f.read(11_000), 3);
        assert_eq!(f.read(11_500), 1);
        assert_eq!(f.add(11_500, 1), 1);
        assert_eq!(f.read(11_500), 2);
        // Two seconds later: gone.
        assert_eq!(f.read(13_000), 0);
    }

    #[test]
    fn swrate_average() {
        let s = SwRate::default();
        s.add(0, 2);
        s.add(1, 4);
        assert_eq!(s.avg(2), 3);
        assert_eq!(s.max(), 4);
        let s = SwRate::default();
        s.add(0, 1);
        s.add(1, 2);
        // (3 + 1) / 2, rounded up as swrate_avg() does.
        assert_eq!(s.avg(2), 2);
    }

    #[test]
    fn transitions_downtime() {
        let t = Transitions::default();
        t.init(ST_UP);
        t.observe(10, ST_DOWN);
        assert_eq!(t.down_trans.load(Relaxed), 1);
        assert_eq!(t.downtime(15, true), 5);
        t.observe(20, ST_UP);
        assert_eq!(t.downtime(30, false), 10);
        assert_eq!(t.last_change.load(Relaxed), 20);
    }
}
