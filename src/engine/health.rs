//! Health checks for `server ... check`, with HAProxy 2.6's semantics (each behaviour and
//! message below was compared with haproxy 2.6.12 on the same configuration):
//!
//! - What a check does ([`rules`]): a TCP connect (`check`), the `tcp-check` rules
//!   (`option tcp-check`: `connect [port N] [send-proxy]`, `send`, `expect [!] string|binary`,
//!   `comment`), or an HTTP request and one expectation (`option httpchk`, `http-check send`,
//!   `http-check expect [!] status <codes>|string <text>`, default `status 200-399`,
//!   `http-check disable-on-404`). The implicit connect goes to `addr`/`port` when set and
//!   writes the server's `send-proxy` header; with `check-ssl` it then runs a TLS handshake
//!   (`verify none`, SNI from `check-sni`, see [`tls`]): the check is `Layer6` until the
//!   handshake is over (`Layer6 timeout`, `Layer6 invalid response` with `SSL handshake
//!   failure`), and a connect-only check passes with `Layer6 check passed`.
//! - Health ([`CheckState`]) runs from 0 to `rise + fall - 1`; the server is UP when
//!   `health >= rise`. Servers start UP with `health = rise`, so the first failed check takes a
//!   fresh server DOWN while a fully healthy one needs `fall` failures.
//! - Interval: `inter` when fully healthy, `downinter` (else `inter`) when DOWN with health 0,
//!   `fastinter` (else `inter`) otherwise, counted from the end of the previous check. The
//!   first checks are spread over the smallest interval, as `start_checks()` does.
//! - Server states: DOWN, UP (with `slowstart`, the effective weight ramps up in whole
//!   seconds, see [`ServerState::weight_step`]) and NOLB ("stopping": a 404 with
//!   `disable-on-404` while UP; no new traffic, sessions kept). Servers in maintenance are not
//!   checked.
//! - `on-marked-down shutdown-sessions` closes the server's sessions when it goes DOWN;
//!   `on-marked-up shutdown-backup-sessions` on an active server closes the sessions of the
//!   backend's backup servers when it comes UP ([`ServerState::shutdown_sessions`]).
//! - Messages on stderr, and on [`EngineState::subscribe_messages`]: the state changes
//!   (`Server be/s1 is DOWN, reason: ..., check duration: 1ms. 0 active and 0 backup servers
//!   left. ...`, `is UP`, `is stopping`, the `backend 'be' has no server available!` alert)
//!   and, with `option log-health-checks`, each check whose status or health changed
//!   (`Health check for server be/s1 failed, reason: ..., status: 0/2 DOWN.`); the state
//!   change lines then omit the reason, as HAProxy does.
//!
//! [`ServerState::weight_step`]: super::state::ServerState::weight_step
//! [`ServerState::shutdown_sessions`]: super::state::ServerState::shutdown_sessions

pub mod http;
pub mod report;
pub mod rules;
pub mod tls;

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use crate::config::ir::{Backend, Server};

pub use report::{CheckResult, Status, Verdict};

use super::log;
use super::state::{EngineState, ServerState, StopLevel};
use report::{HealthView, NewState};
use rules::{Env, Program};

/// The check state of one server (`struct check`'s health counter and last status).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckState {
    pub health: u32,
    pub rise: u32,
    pub fall: u32,
    /// The last status (`None`: not checked yet, HAProxy's `INI`).
    pub status: Option<Status>,
}

impl CheckState {
    pub fn new(rise: u32, fall: u32) -> Self {
        let rise = rise.max(1);
        let fall = fall.max(1);
        CheckState {
            health: rise,
            rise,
            fall,
            status: None,
        }
    }

    pub fn is_up(&self) -> bool {
        self.health >= self.rise
    }

    fn max(&self) -> u32 {
        self.rise + self.fall - 1
    }

    /// Applies one result (`set_server_check_status()`). Returns whether HAProxy reports it
    /// with `option log-health-checks`: the status changed, or the health moved.
    pub fn record(&mut self, status: Status) -> bool {
        let prev = self.status.replace(status);
        let mut report = prev != Some(status);
        match status.verdict() {
            Verdict::Failed => {
                if self.health > 0 {
                    report = true;
                    self.health -= 1;
                    if self.health < self.rise {
                        self.health = 0;
                    }
                }
            }
            Verdict::Passed | Verdict::CondPass => {
                if self.health < self.max() {
                    report = true;
                    self.health += 1;
                    if self.health >= self.rise {
                        self.health = self.max();
                    }
                }
            }
        }
        report
    }

    /// The delay before the next check (`srv_getinter()`); `stopped`: the server is DOWN.
    pub fn interval(&self, srv: &Server, stopped: bool) -> Duration {
        let inter = srv.inter_ms.max(1);
        let ms = if self.health == self.max() {
            inter
        } else if stopped && self.health == 0 {
            srv.downinter_ms.unwrap_or(inter)
        } else {
            srv.fastinter_ms.unwrap_or(inter)
        };
        Duration::from_millis(u64::from(ms.max(1)))
    }

    fn view(&self, srv: &Server) -> HealthView {
        HealthView {
            health: self.health,
            rise: self.rise,
            fall: self.fall,
            drain: srv.weight == 0,
        }
    }
}

/// Where the implicit connect of a check goes: `addr`/`port` when set, else the server.
pub fn check_target(srv: &Server) -> Option<SocketAddr> {
    let base = srv.resolved?;
    let ip = srv.check_addr.unwrap_or(base.ip());
    let port = srv.check_port.unwrap_or(base.port());
    Some(SocketAddr::new(ip, port))
}

/// Prints a `[WARNING]` line and hands a copy to the message subscribers.
fn warn(state: &EngineState, msg: &str) {
    log::warning(state, msg);
    state.publish_message(format!("[WARNING]  ({}) : {msg}", state.pid));
}

fn alert(state: &EngineState, msg: &str) {
    log::alert(state, msg);
    state.publish_message(format!("[ALERT]    ({}) : {msg}", state.pid));
}

/// Counts the active and backup servers of a backend that can take traffic (HAProxy's
/// `srv_act`/`srv_bck`: usable and with a non-zero weight).
fn counts(state: &EngineState, be_idx: usize, be: &Backend) -> (usize, usize) {
    let mut act = 0;
    let mut bck = 0;
    if let Some(bs) = state.backends.get(be_idx) {
        for (s, st) in be.servers.iter().zip(bs.servers.iter()) {
            if st.is_usable() && s.resolved.is_some() && s.weight > 0 {
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

/// One server's check task context.
struct Checker {
    state: Arc<EngineState>,
    bi: usize,
    si: usize,
    st: Arc<ServerState>,
    prog: Arc<Program>,
    /// `check-ssl`.
    tls: Option<tls::CheckTls>,
}

impl Checker {
    fn be(&self) -> Option<&Backend> {
        self.state.config.backends.get(self.bi)
    }

    /// Moves the server to `to` and prints HAProxy's message (`srv_update_status()`).
    fn change(&self, be: &Backend, srv: &Server, to: NewState, r: &CheckResult) {
        let (a0, b0) = counts(&self.state, self.bi, be);
        let sessions = self.st.cur_conns.load(Ordering::Acquire);
        match to {
            NewState::Down => {
                self.st.set_up(false);
                self.st.set_nolb(false);
                self.st.stop_warmup();
                if srv.on_marked_down_shutdown {
                    self.st.shutdown_sessions();
                }
            }
            NewState::Up => {
                self.st.set_nolb(false);
                self.st.set_up(true);
                self.st.start_warmup();
                if srv.on_marked_up_shutdown_backups && !srv.backup && srv.weight > 0 {
                    if let Some(bs) = self.state.backends.get(self.bi) {
                        for (s, st) in be.servers.iter().zip(bs.servers.iter()) {
                            if s.backup {
                                st.shutdown_sessions();
                            }
                        }
                    }
                }
            }
            NewState::Stopping => {
                self.st.set_nolb(true);
                self.st.stop_warmup();
            }
        }
        let (act, bck) = counts(&self.state, self.bi, be);
        // With log-health-checks the check line already gave the reason.
        let reason = (!be.log_health_checks).then_some(r);
        let msg = report::state_change_line(
            &be.name, &srv.name, srv.backup, to, reason, act, bck, sessions,
        );
        warn(&self.state, &msg);
        crate::engine::stats::observe_server(&self.state, self.bi, self.si);
        if to != NewState::Up && a0 + b0 > 0 && act == 0 && bck == 0 {
            alert(
                &self.state,
                &format!("backend '{}' has no server available!", be.name),
            );
        }
    }

    async fn run(self, first: Duration) {
        let Some(be) = self.be() else { return };
        let Some(srv) = be.servers.get(self.si) else {
            return;
        };
        let Some(target) = check_target(srv) else {
            return;
        };
        let ms = |v: u32| Duration::from_millis(u64::from(v.max(1)));
        let inter = ms(srv.inter_ms);
        let mut cs = CheckState::new(srv.rise, srv.fall);
        tokio::time::sleep(first).await;
        loop {
            if self.st.is_maint() {
                tokio::time::sleep(inter).await;
                continue;
            }
            let env = Env {
                srv,
                target,
                inter,
                timeout_connect: be.timeouts.connect.map(ms),
                timeout_check: be.timeouts.check.map(ms),
                stopped: !self.st.is_up(),
                tls: self.tls.as_ref(),
            };
            self.state.stats.check_started(self.bi, self.si);
            let r = if srv.check_ssl && self.tls.is_none() {
                // No TLS client (see spawn_all's alert): never check in clear instead.
                CheckResult::new(Status::L6Rsp, 0, "SSL handshake failure", Duration::ZERO)
            } else {
                rules::run(&self.prog, &env).await
            };
            let before = cs.health;
            let report = cs.record(r.status);
            (self.state.stats).check_done(self.bi, self.si, &r, before, cs.health);
            if be.log_health_checks && report {
                let line =
                    report::health_check_line(&be.name, &srv.name, srv.backup, &r, cs.view(srv));
                warn(&self.state, &line);
            }
            let (up, nolb) = (self.st.is_up(), self.st.is_nolb());
            match r.verdict() {
                Verdict::Failed if cs.health == 0 && up => {
                    self.change(be, srv, NewState::Down, &r);
                }
                Verdict::Passed if cs.is_up() && (!up || nolb) => {
                    self.change(be, srv, NewState::Up, &r);
                }
                Verdict::CondPass if cs.is_up() && up && !nolb => {
                    self.change(be, srv, NewState::Stopping, &r);
                }
                _ => {}
            }
            tokio::time::sleep(cs.interval(srv, !self.st.is_up())).await;
        }
    }
}

/// Spawns the check task of every checked server. Tasks end at a soft stop.
pub fn spawn_all(state: &Arc<EngineState>) -> Vec<tokio::task::JoinHandle<()>> {
    // start_checks(): the first checks are spread over the smallest interval, in server
    // order across all backends.
    let mut checked = Vec::new();
    for (bi, be) in state.config.backends.iter().enumerate() {
        let prog = Arc::new(Program::new(&be.health));
        let mut warned = false;
        for (si, srv) in be.servers.iter().enumerate() {
            if !srv.check || check_target(srv).is_none() {
                continue;
            }
            if !warned {
                for m in rules::unsupported(&prog) {
                    alert(
                        state,
                        &format!("backend '{}': {m}: its health checks always fail.", be.name),
                    );
                }
                warned = true;
            }
            checked.push((bi, si, prog.clone()));
        }
    }
    // check-ssl: one client configuration (the global ssl-default-server-* settings).
    let tls_cfg = if tls::needed(&state.config) {
        match tls::client_config(&state.config.global.ssl_default_server) {
            Ok((cfg, warnings)) => {
                for w in warnings {
                    tracing::warn!("health checks: {w}");
                }
                Some(cfg)
            }
            Err(e) => {
                // engine::start validates this first; a TLS check without it always fails.
                alert(state, &format!("health checks over TLS: {e:#}"));
                None
            }
        }
    } else {
        None
    };
    let nb = checked.len().max(1) as u64;
    let min_inter = checked
        .iter()
        .filter_map(|&(bi, si, _)| state.config.backends.get(bi)?.servers.get(si))
        .map(|s| CheckState::new(s.rise, s.fall).interval(s, false))
        .min()
        .unwrap_or_default();
    let mut v = Vec::new();
    for (pos, (bi, si, prog)) in checked.into_iter().enumerate() {
        let Some(st) = state.server(bi, si).cloned() else {
            continue;
        };
        let first =
            min_inter * u32::try_from(pos).unwrap_or(u32::MAX) / u32::try_from(nb).unwrap_or(1);
        let srv = state
            .config
            .backends
            .get(bi)
            .and_then(|b| b.servers.get(si));
        let tls = match (srv, &tls_cfg) {
            (Some(s), Some(cfg)) if s.check_ssl => {
                check_target(s).map(|t| tls::CheckTls::new(cfg, s, t))
            }
            _ => None,
        };
        let checker = Checker {
            state: state.clone(),
            bi,
            si,
            st,
            prog,
            tls,
        };
        let s2 = state.clone();
        v.push(tokio::spawn(async move {
            tokio::select! {
                _ = s2.stopped(StopLevel::Soft) => {}
                _ = checker.run(first) => {}
            }
        }));
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_machine_matches_haproxy() {
        // Fresh server: UP, first failure takes it DOWN.
        let mut c = CheckState::new(2, 3);
        assert!(c.is_up());
        c.record(Status::L4Con);
        assert!(!c.is_up() && c.health == 0);
        c.record(Status::L4Ok);
        assert!(!c.is_up());
        c.record(Status::L4Ok);
        assert!(c.is_up() && c.health == 4);
        // Fully healthy now: needs `fall` failures.
        c.record(Status::L4Con);
        c.record(Status::L4Con);
        assert!(c.is_up());
        c.record(Status::L4Con);
        assert!(!c.is_up());
        // A failure while rising resets.
        c.record(Status::L4Ok);
        c.record(Status::L4Con);
        c.record(Status::L4Ok);
        assert!(!c.is_up());
        c.record(Status::L4Ok);
        assert!(c.is_up());
    }

    #[test]
    fn log_health_checks_reports() {
        // haproxy 2.6.12 with rise 2 fall 3: the first success is reported (status changed
        // from INI), repeated identical results at full or zero health are not.
        let mut c = CheckState::new(2, 3);
        assert!(c.record(Status::L7OkD));
        assert_eq!((c.health, c.is_up()), (4, true));
        assert!(!c.record(Status::L7OkD));
        assert!(c.record(Status::L7Sts));
        assert!(c.record(Status::L7Sts));
        assert!(c.record(Status::L7Sts));
        assert_eq!(c.health, 0);
        // Same status at health 0: silent; another failing status: reported.
        assert!(!c.record(Status::L7Sts));
        assert!(c.record(Status::L7Rsp));
        // rise 1 fall 1: health stays 1, reported only because the status changed.
        let mut c = CheckState::new(1, 1);
        assert!(c.record(Status::L7OkD));
        assert!(!c.record(Status::L7OkD));
        assert!(c.record(Status::L7OkCD));
    }
}
