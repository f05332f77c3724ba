//! Runtime state shared by every task of a running engine: the IR it runs, per-backend and
//! per-server live state (UP/DOWN, maintenance, connection counters, the round-robin cursor),
//! per-frontend counters, the live-connection tracker and the stop signal.
//!
//! This is the contract with the HTTP layer (`engine::http`) and with the balancer: keep the
//! public items stable. Everything here is lock-free (atomics) because it is read on every
//! connection; only health checks and the runtime API write it.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::sync::{watch, Notify};

use crate::config::ir::{Backend, Config};

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
    /// Round-robin cursor, shared by all connections of this backend.
    pub rr: AtomicUsize,
    /// Connections sent to this backend.
    pub total_conns: AtomicU64,
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
            .map(|be| BackendState {
                servers: be
                    .servers
                    .iter()
                    .map(|s| {
                        Arc::new(ServerState::new(
                            true,
                            s.disabled || be.disabled || s.resolved.is_none(),
                        ))
                    })
                    .collect(),
                rr: AtomicUsize::new(0),
                total_conns: AtomicU64::new(0),
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

/// THE SERVER-SELECTION SEAM. Picks a server of `be` for a new connection: round-robin over
/// the usable active servers; when none is usable, the first usable backup (or round-robin
/// over all usable backups with `option allbackups`). `avoid` excludes one server (used by
/// `option redispatch` after failed attempts) unless it is the only usable one.
/// Returns an index into `be.servers`, or `None` when no server can take traffic.
///
/// `src/balance` will replace the body with the configured algorithm; callers stay the same.
pub fn pick_server(be: &Backend, bs: &BackendState, avoid: Option<usize>) -> Option<usize> {
    let usable = |i: usize, backup: bool| -> bool {
        match (be.servers.get(i), bs.servers.get(i)) {
            (Some(s), Some(st)) => s.backup == backup && s.resolved.is_some() && st.is_usable(),
            _ => false,
        }
    };
    let n = be.servers.len();
    if n == 0 {
        return None;
    }
    let rr = |backup: bool| -> Option<usize> {
        // Advance the cursor past the chosen server so DOWN servers do not skew the rotation.
        let start = bs.rr.load(Ordering::Relaxed);
        let mut fallback = None;
        for k in 0..n {
            let i = (start.wrapping_add(k)) % n;
            if usable(i, backup) {
                if Some(i) == avoid {
                    fallback = Some(i);
                    continue;
                }
                bs.rr.store(i + 1, Ordering::Relaxed);
                return Some(i);
            }
        }
        fallback
    };
    if let Some(i) = rr(false) {
        return Some(i);
    }
    if be.allbackups {
        return rr(true);
    }
    // HAProxy uses only the first usable backup unless `allbackups`.
    let mut fallback = None;
    for i in 0..n {
        if usable(i, true) {
            if Some(i) == avoid {
                fallback.get_or_insert(i);
                continue;
            }
            return Some(i);
        }
    }
    fallback
}
