//! Health checks for `server ... check`: a TCP connect to `check_addr`/`check_port` (else the
//! server's address), with HAProxy 2.6's state machine:
//!
//! - `health` runs from 0 to `rise + fall - 1`; the server is UP when `health >= rise`.
//!   Servers start UP with `health = rise`, so the FIRST failed check takes a fresh server
//!   DOWN (observed on 2.6.12), while a fully healthy one needs `fall` failures.
//! - Interval: `inter` when stable UP, `downinter` (else `inter`) when fully DOWN,
//!   `fastinter` (else `inter`) while transitioning.
//! - Connect timeout: `inter`; with `timeout check` set, min(`inter`, `timeout connect`)
//!   (HAProxy's check.c: `timeout check` is the extra read timeout, unused by a pure
//!   connect check).
//! - Servers in maintenance are not checked.
//! - `option httpchk`/`tcp-check` are not implemented yet: they fall back to the TCP connect.
//!
//! State changes are printed on stderr in HAProxy's words (checked against 2.6.12), e.g.
//! `[WARNING]  (PID) : Server be/s1 is DOWN, reason: Layer4 connection problem, info:
//! "Connection refused", check duration: 0ms. 0 active and 0 backup servers left. 0 sessions
//! active, 0 requeued, 0 remaining in queue.` and the ALERT `backend 'be' has no server
//! available!`.

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::TcpStream;

use crate::config::ir::{Backend, Server};

use super::log;
use super::state::{EngineState, StopLevel};

/// The check state of one server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckState {
    pub health: u32,
    pub rise: u32,
    pub fall: u32,
}

/// What a check result did to the server's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    None,
    WentUp,
    WentDown,
}

impl CheckState {
    pub fn new(rise: u32, fall: u32) -> Self {
        let rise = rise.max(1);
        let fall = fall.max(1);
        CheckState {
            health: rise,
            rise,
            fall,
        }
    }

    pub fn is_up(&self) -> bool {
        self.health >= self.rise
    }

    fn max(&self) -> u32 {
        self.rise + self.fall - 1
    }

    /// Applies one check result.
    pub fn record(&mut self, ok: bool) -> Transition {
        let was_up = self.is_up();
        if ok {
            if self.health < self.max() {
                self.health += 1;
            }
        } else if self.health > self.rise {
            self.health -= 1;
        } else {
            self.health = 0;
        }
        match (was_up, self.is_up()) {
            (false, true) => {
                // Jump to fully healthy, as HAProxy does on the transition.
                self.health = self.max();
                Transition::WentUp
            }
            (true, false) => Transition::WentDown,
            _ => Transition::None,
        }
    }

    /// The delay before the next check.
    pub fn interval(&self, srv: &Server) -> Duration {
        let inter = srv.inter_ms.max(1);
        let ms = if self.health == self.max() {
            inter
        } else if self.health == 0 {
            srv.downinter_ms.unwrap_or(inter)
        } else {
            srv.fastinter_ms.unwrap_or(inter)
        };
        Duration::from_millis(u64::from(ms.max(1)))
    }
}

/// Where the check connects.
pub fn check_target(srv: &Server) -> Option<SocketAddr> {
    let base = srv.resolved?;
    let ip = srv.check_addr.unwrap_or(base.ip());
    let port = srv.check_port.unwrap_or(base.port());
    Some(SocketAddr::new(ip, port))
}

/// The outcome of one check, in HAProxy's words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckResult {
    pub ok: bool,
    /// e.g. `Layer4 check passed`, `Layer4 connection problem`, `Layer4 timeout`.
    pub reason: &'static str,
    /// e.g. `Connection refused` (only for connection problems).
    pub info: Option<String>,
    pub duration: Duration,
}

/// Runs one TCP connect check.
pub async fn check_once(addr: SocketAddr, limit: Duration) -> CheckResult {
    let start = Instant::now();
    let r = tokio::time::timeout(limit, TcpStream::connect(addr)).await;
    let duration = start.elapsed();
    match r {
        Ok(Ok(_s)) => CheckResult {
            ok: true,
            reason: "Layer4 check passed",
            info: None,
            duration,
        },
        Ok(Err(e)) => CheckResult {
            ok: false,
            reason: "Layer4 connection problem",
            info: Some(strerror(&e)),
            duration,
        },
        Err(_) => CheckResult {
            ok: false,
            reason: "Layer4 timeout",
            info: None,
            duration,
        },
    }
}

/// The C library's wording of an error ("Connection refused"), as HAProxy prints it.
fn strerror(e: &io::Error) -> String {
    let s = e.to_string();
    // std renders "Connection refused (os error 111)".
    match s.find(" (os error") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

/// Counts usable active and backup servers of a backend.
fn counts(state: &EngineState, be_idx: usize, be: &Backend) -> (usize, usize) {
    let mut act = 0;
    let mut bck = 0;
    if let Some(bs) = state.backends.get(be_idx) {
        for (s, st) in be.servers.iter().zip(bs.servers.iter()) {
            if st.is_usable() && s.resolved.is_some() {
                if s.backup {
                    bck += 1;
                } else {
                    act += 1;
                }
            }
        }
    }
    (act, bck)
}

/// The state-change message, exactly as HAProxy 2.6 prints it.
pub fn transition_message(
    be: &Backend,
    srv: &Server,
    up: bool,
    r: &CheckResult,
    act: usize,
    bck: usize,
    sessions: u32,
) -> String {
    let mut m = format!(
        "{}Server {}/{} is {}, reason: {}",
        if srv.backup { "Backup " } else { "" },
        be.name,
        srv.name,
        if up { "UP" } else { "DOWN" },
        r.reason
    );
    if let Some(info) = &r.info {
        m.push_str(&format!(", info: \"{info}\""));
    }
    m.push_str(&format!(", check duration: {}ms. ", r.duration.as_millis()));
    if up {
        m.push_str(&format!(
            "{act} active and {bck} backup servers online. 0 sessions requeued, 0 total in queue."
        ));
    } else {
        m.push_str(&format!("{act} active and {bck} backup servers left."));
        if act == 0 && bck > 0 {
            m.push_str(" Running on backup.");
        }
        m.push_str(&format!(
            " {sessions} sessions active, 0 requeued, 0 remaining in queue."
        ));
    }
    m
}

/// Spawns the check task of every checked server. Tasks end at a soft stop.
pub fn spawn_all(state: &Arc<EngineState>) -> Vec<tokio::task::JoinHandle<()>> {
    let mut v = Vec::new();
    for (bi, be) in state.config.backends.iter().enumerate() {
        let n = be.servers.len().max(1) as u64;
        for (si, srv) in be.servers.iter().enumerate() {
            if !srv.check || check_target(srv).is_none() {
                continue;
            }
            // Spread the first checks over one interval, as HAProxy does.
            let first = Duration::from_millis(u64::from(srv.inter_ms) * si as u64 / n);
            let st = state.clone();
            v.push(tokio::spawn(async move {
                let s2 = st.clone();
                tokio::select! {
                    _ = s2.stopped(StopLevel::Soft) => {}
                    _ = check_loop(st, bi, si, first) => {}
                }
            }));
        }
    }
    v
}

async fn check_loop(state: Arc<EngineState>, bi: usize, si: usize, first: Duration) {
    let (Some(be), Some(srv_state)) = (state.config.backends.get(bi), state.server(bi, si)) else {
        return;
    };
    let Some(srv) = be.servers.get(si) else {
        return;
    };
    let Some(target) = check_target(srv) else {
        return;
    };
    let srv_state = srv_state.clone();
    let mut cs = CheckState::new(srv.rise, srv.fall);
    let inter = Duration::from_millis(u64::from(srv.inter_ms.max(1)));
    let limit = match (be.timeouts.check, be.timeouts.connect) {
        (Some(_), Some(c)) => inter.min(Duration::from_millis(u64::from(c.max(1)))),
        _ => inter,
    };
    tokio::time::sleep(first).await;
    loop {
        if srv_state.is_maint() {
            tokio::time::sleep(inter).await;
            continue;
        }
        let r = check_once(target, limit).await;
        let tr = cs.record(r.ok);
        if tr != Transition::None {
            let up = tr == Transition::WentUp;
            srv_state.set_up(up);
            let (act, bck) = counts(&state, bi, be);
            let sessions = srv_state.cur_conns.load(Ordering::Acquire);
            let msg = transition_message(be, srv, up, &r, act, bck, sessions);
            log::warning(&state, &msg);
            if !up && act == 0 && bck == 0 {
                log::alert(
                    &state,
                    &format!("backend '{}' has no server available!", be.name),
                );
            }
        }
        tokio::time::sleep(cs.interval(srv).saturating_sub(r.duration.min(inter))).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_machine_matches_haproxy() {
        // Fresh server: UP, first failure takes it DOWN.
        let mut c = CheckState::new(2, 3);
        assert!(c.is_up());
        assert_eq!(c.record(false), Transition::WentDown);
        assert_eq!(c.record(true), Transition::None);
        assert_eq!(c.record(true), Transition::WentUp);
        // Fully healthy now: needs `fall` failures.
        assert_eq!(c.record(false), Transition::None);
        assert_eq!(c.record(false), Transition::None);
        assert_eq!(c.record(false), Transition::WentDown);
        // A failure while rising resets.
        assert_eq!(c.record(true), Transition::None);
        assert_eq!(c.record(false), Transition::None);
        assert_eq!(c.record(true), Transition::None);
        assert_eq!(c.record(true), Transition::WentUp);
    }

    #[test]
    fn strerror_wording() {
        let e = io::Error::from_raw_os_error(libc::ECONNREFUSED);
        assert_eq!(strerror(&e), "Connection refused");
    }
}
