//! Runtime state shared by every task of a running engine: the IR it runs, per-backend and
//! per-server live state (UP/DOWN, maintenance, connection counters, the round-robin cursor),
//! per-frontend counters, the live-connection tracker and the stop signal.
//!
//! This is the contract with the HTTP layer (`engine::http`) and with the balancer: keep the
//! public items stable. Everything here is lock-free (atomics) because it is read on every
//! connection; only health checks and the runtime API write it.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::{watch, Notify};

use crate::balance::{self, Algorithm, Balancer, HashConfig, ServerSlot};
use crate::config::ir::{self, Backend, Balance, Config};

/// How far the engine is in stopping. Monotonic: Running → Soft → Hard.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum StopLevel {
    Running,
    /// Listeners are closed; existing connections finish (SIGUSR1, HAProxy's soft stop).
    /// Keep-alive HTTP connections should close after their current transaction.
    Soft,
    /// Every connection is closed now (SIGTERM/SIGINT, or `hard-stop-after` expired).
    Hard,
}

/// Live state of one server. `up` is the health-check verdict (true when not checked);
/// `maint` is administrative maintenance (`disabled`, or a server with no address).
#[derive(Debug)]
pub struct ServerState {
    up: AtomicBool,
    maint: AtomicBool,
    /// Connections currently established to this server (TCP tunnels, HTTP server conns).
    pub cur_conns: AtomicU32,
    /// Connections ever established to this server.
    pub total_conns: AtomicU64,
    /// Failed connection attempts.
    pub failed_conns: AtomicU64,
}

impl ServerState {
    pub fn new(up: bool, maint: bool) -> Self {
        ServerState {
            up: AtomicBool::new(up),
            maint: AtomicBool::new(maint),
            cur_conns: AtomicU32::new(0),
            total_conns: AtomicU64::new(0),
            failed_conns: AtomicU64::new(0),
        }
    }

    /// True when the server may receive new traffic: health-check UP and not in maintenance.
    pub fn is_usable(&self) -> bool {
        self.up.load(Ordering::Acquire) && !self.maint.load(Ordering::Acquire)
    }

    pub fn is_up(&self) -> bool {
        self.up.load(Ordering::Acquire)
    }

    pub fn set_up(&self, up: bool) {
        self.up.store(up, Ordering::Release);
    }

    pub fn is_maint(&self) -> bool {
        self.maint.load(Ordering::Acquire)
    }

    pub fn set_maint(&self, maint: bool) {
        self.maint.store(maint, Ordering::Release);
    }

    /// Counts one established connection until the guard is dropped.
    pub fn conn_guard(self: &Arc<Self>) -> ServerConnGuard {
        self.cur_conns.fetch_add(1, Ordering::AcqRel);
        self.total_conns.fetch_add(1, Ordering::Relaxed);
        ServerConnGuard(self.clone())
    }
}

/// Decrements the server's `cur_conns` on drop.
#[derive(Debug)]
pub struct ServerConnGuard(Arc<ServerState>);

impl Drop for ServerConnGuard {
    fn drop(&mut self) {
        self.0.cur_conns.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Live state of one backend; `servers[i]` matches `Config::backends[b].servers[i]`.
#[derive(Debug)]
pub struct BackendState {
    pub servers: Vec<Arc<ServerState>>,
    /// Round-robin cursor (kept for callers that rotate by themselves; [`pick_server`] uses
    /// the balancer).
    pub rr: AtomicUsize,
    /// Connections sent to this backend.
    pub total_conns: AtomicU64,
    /// The backend's `balance` algorithm (src/balance). Its view of each server (usable,
    /// active connections) is brought in line with `servers` at every pick.
    pub balancer: Mutex<Balancer>,
}

/// The balancer algorithm for an IR `balance` line.
fn algorithm(b: &Balance) -> Algorithm {
    match b {
        Balance::RoundRobin => Algorithm::RoundRobin,
        Balance::StaticRr => Algorithm::StaticRr,
        Balance::LeastConn => Algorithm::LeastConn,
        Balance::First => Algorithm::First,
        Balance::Source => Algorithm::Source,
        Balance::Uri {
            len,
            depth,
            whole,
            path_only,
        } => Algorithm::Uri {
            len: len.unwrap_or(0),
            depth: depth.unwrap_or(0),
            whole: *whole,
            path_only: *path_only,
        },
        Balance::UrlParam { name, .. } => Algorithm::UrlParam {
            name: name.as_bytes().to_vec(),
        },
        Balance::Hdr {
            name,
            use_domain_only,
        } => Algorithm::Hdr {
            name: name.clone(),
            use_domain_only: *use_domain_only,
        },
        Balance::Random { draws } => Algorithm::Random { draws: *draws },
        Balance::RdpCookie { name } => Algorithm::RdpCookie {
            name: name.as_deref().unwrap_or("mstshash").as_bytes().to_vec(),
        },
        Balance::Hash { .. } => Algorithm::Hash,
    }
}

fn hash_config(h: &ir::HashType) -> HashConfig {
    HashConfig {
        kind: match h.method {
            ir::HashMethod::MapBased => balance::HashType::MapBased,
            ir::HashMethod::Consistent => balance::HashType::Consistent,
        },
        function: match h.function {
            ir::HashFunction::Sdbm => balance::HashFunction::Sdbm,
            ir::HashFunction::Djb2 => balance::HashFunction::Djb2,
            ir::HashFunction::Wt6 => balance::HashFunction::Wt6,
            ir::HashFunction::Crc32 => balance::HashFunction::Crc32,
        },
        avalanche: h.avalanche,
    }
}

/// Builds the balancer of `be` with every server's initial usability.
fn build_balancer(be: &Backend, servers: &[Arc<ServerState>]) -> Balancer {
    let slots = be
        .servers
        .iter()
        .zip(servers)
        .map(|(s, st)| ServerSlot {
            id: Some(s.id),
            weight: s.weight,
            backup: s.backup,
            usable: st.is_usable() && s.resolved.is_some(),
            active_conns: 0,
            maxconn: s.maxconn,
        })
        .collect();
    Balancer::new(
        algorithm(&be.balance),
        hash_config(&be.hash_type),
        slots,
        be.allbackups,
    )
}

/// Per-frontend counters.
#[derive(Debug, Default)]
pub struct FrontendState {
    pub cur_conns: AtomicU32,
    pub total_conns: AtomicU64,
}

/// Counts live client connections (all frontends) and wakes waiters when it reaches zero,
/// which is what a soft stop waits for.
#[derive(Debug, Default)]
pub struct LiveConns {
    count: AtomicUsize,
    zero: Notify,
}

impl LiveConns {
    pub fn get(&self) -> usize {
        self.count.load(Ordering::Acquire)
    }

    pub fn enter(self: &Arc<Self>) -> LiveConnGuard {
        self.count.fetch_add(1, Ordering::AcqRel);
        LiveConnGuard(self.clone())
    }

    /// Resolves once no connection is live.
    pub async fn wait_zero(&self) {
        loop {
            let notified = self.zero.notified();
            tokio::pin!(notified);
            // Register before checking, so a drop to zero in between is not missed.
            notified.as_mut().enable();
            if self.get() == 0 {
                return;
            }
            notified.await;
        }
    }
}

/// One live client connection; dropping it decrements [`LiveConns`].
#[derive(Debug)]
pub struct LiveConnGuard(Arc<LiveConns>);

impl Drop for LiveConnGuard {
    fn drop(&mut self) {
        if self.0.count.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.zero.notify_waiters();
        }
    }
}

/// Everything a running engine shares between tasks.
#[derive(Debug)]
pub struct EngineState {
    pub config: Arc<Config>,
    /// Indexed like `config.frontends`.
    pub frontends: Vec<FrontendState>,
    /// Indexed like `config.backends`.
    pub backends: Vec<BackendState>,
    pub live: Arc<LiveConns>,
    /// The PID printed in HAProxy-style messages (`[WARNING]  (PID) : ...`).
    pub pid: u32,
    /// Silences those messages (global `quiet`, `-q`).
    pub quiet: bool,
    stop_tx: watch::Sender<StopLevel>,
}

impl EngineState {
    /// Builds the initial state: servers with `disabled` or without a resolved address start
    /// in maintenance; every server starts UP (HAProxy 2.6 starts checked servers UP, and the
    /// first failed check takes them DOWN).
    pub fn new(config: Arc<Config>) -> Arc<Self> {
        let quiet = config.global.quiet;
        Self::with_quiet(config, quiet)
    }

    /// [`EngineState::new`] with the message switch set explicitly.
    pub fn with_quiet(config: Arc<Config>, quiet: bool) -> Arc<Self> {
        let backends = config
            .backends
            .iter()
            .map(|be| {
                let servers: Vec<Arc<ServerState>> = be
                    .servers
                    .iter()
                    .map(|s| {
                        Arc::new(ServerState::new(
                            true,
                            s.disabled || be.disabled || s.resolved.is_none(),
                        ))
                    })
                    .collect();
                let balancer = Mutex::new(build_balancer(be, &servers));
                BackendState {
                    servers,
                    rr: AtomicUsize::new(0),
                    total_conns: AtomicU64::new(0),
                    balancer,
                }
            })
            .collect();
        let frontends = config
            .frontends
            .iter()
            .map(|_| FrontendState::default())
            .collect();
        let (stop_tx, _) = watch::channel(StopLevel::Running);
        Arc::new(EngineState {
            config,
            frontends,
            backends,
            live: Arc::new(LiveConns::default()),
            pid: std::process::id(),
            quiet,
            stop_tx,
        })
    }

    /// The current stop level.
    pub fn stop_level(&self) -> StopLevel {
        *self.stop_tx.borrow()
    }

    /// A receiver to await stop transitions (`changed().await`).
    pub fn subscribe_stop(&self) -> watch::Receiver<StopLevel> {
        self.stop_tx.subscribe()
    }

    /// Raises the stop level (never lowers it).
    pub fn request_stop(&self, level: StopLevel) {
        self.stop_tx.send_if_modified(|cur| {
            if level > *cur {
                *cur = level;
                true
            } else {
                false
            }
        });
    }

    /// Resolves when the stop level reaches at least `level`.
    pub async fn stopped(&self, level: StopLevel) {
        let mut rx = self.subscribe_stop();
        loop {
            if *rx.borrow_and_update() >= level {
                return;
            }
            if rx.changed().await.is_err() {
                return;
            }
        }
    }

    /// The server state for backend `be`, server `srv`, if both exist.
    pub fn server(&self, be: usize, srv: usize) -> Option<&Arc<ServerState>> {
        self.backends.get(be)?.servers.get(srv)
    }

    /// Finds a backend index by name.
    pub fn backend_index(&self, name: &str) -> Option<usize> {
        self.config.backends.iter().position(|b| b.name == name)
    }
}

/// THE SERVER-SELECTION SEAM. Picks a server of `be` for a new connection with the
/// backend's `balance` algorithm (src/balance): weights, backups (the first usable backup,
/// or all of them with `option allbackups`), server `maxconn`. `avoid` steers away from one
/// server (used by `option redispatch`) when another choice exists. Hashing algorithms get
/// no key here and fall back to their round-robin; use [`pick_server_with_key`].
/// Returns an index into `be.servers`, or `None` when no server can take traffic.
pub fn pick_server(be: &Backend, bs: &BackendState, avoid: Option<usize>) -> Option<usize> {
    pick_server_with_key(be, bs, avoid, None)
}

/// [`pick_server`] with the algorithm's key: the client address bytes for `balance source`
/// (`balance::keys::source_key`), the request URI for `uri`/`url_param`, the header value
/// for `hdr`, the expression's bytes for `hash` (see [`balance::Algorithm`]).
pub fn pick_server_with_key(
    be: &Backend,
    bs: &BackendState,
    avoid: Option<usize>,
    key: Option<&[u8]>,
) -> Option<usize> {
    // A poisoned lock only means a panic elsewhere mid-pick; the balancer state is still
    // consistent enough to keep serving.
    let mut lb = bs.balancer.lock().unwrap_or_else(|e| e.into_inner());
    sync_balancer(be, bs, &mut lb);
    let idx = lb.pick_avoiding(key, avoid)?;
    // Never hand out a server that cannot take traffic, whatever the balancer thinks.
    let ok = be.servers.get(idx).is_some_and(|s| s.resolved.is_some())
        && bs.servers.get(idx).is_some_and(|s| s.is_usable());
    ok.then_some(idx)
}

/// Brings the balancer's view (usable flags, connection counts) in line with the live
/// atomics, which health checks, the runtime API and connection guards update without
/// taking the lock. O(servers) per pick, with no allocation.
fn sync_balancer(be: &Backend, bs: &BackendState, lb: &mut Balancer) {
    for (i, (s, st)) in be.servers.iter().zip(bs.servers.iter()).enumerate() {
        let Some(slot) = lb.server(i) else { continue };
        let usable = st.is_usable() && s.resolved.is_some();
        if slot.usable != usable {
            lb.set_usable(i, usable);
        }
        let (have, want) = (
            lb.server(i).map_or(0, |s| s.active_conns),
            st.cur_conns.load(Ordering::Acquire),
        );
        for _ in want..have {
            lb.conn_ended(i);
        }
        for _ in have..want {
            lb.conn_started(i);
        }
    }
}
