//! Runtime state shared by every task of a running engine: the IR it runs, per-backend and
//! per-server live state (UP/DOWN, maintenance, connection counters, the round-robin cursor),
//! per-frontend counters, the live-connection tracker and the stop signal.
//!
//! This is the contract with the HTTP layer (`engine::http`) and with the balancer: keep the
//! public items stable. Everything here is lock-free (atomics) because it is read on every
//! connection; only health checks and the runtime API write it.

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use tokio::sync::{broadcast, watch, Notify};

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

/// HAProxy's `BE_WEIGHT_SCALE`: during a slow start the effective weight is the user weight
/// times a step in `1..=16` (16: full weight).
pub const WEIGHT_STEPS: u32 = 16;

/// Milliseconds since the first call, on the monotonic clock (0 is never returned, so 0 can
/// mean "unset" in an atomic).
fn mono_ms() -> u64 {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    let epoch = *EPOCH.get_or_init(Instant::now);
    u64::try_from(epoch.elapsed().as_millis())
        .unwrap_or(u64::MAX)
        .saturating_add(1)
}

/// Live state of one server. `up` is the health-check verdict (true when not checked);
/// `maint` is administrative maintenance (`disabled`, or a server with no address); `nolb`
/// is HAProxy's STOPPING state (`http-check disable-on-404` got a 404): up, keeps its
/// connections, takes no new traffic.
#[derive(Debug)]
pub struct ServerState {
    up: AtomicBool,
    maint: AtomicBool,
    nolb: AtomicBool,
    /// `slowstart` in whole seconds (HAProxy rounds the configured time up); 0: none.
    slowstart_s: AtomicU32,
    /// When the current slow start began ([`mono_ms`]); 0: not warming up.
    warm_since: AtomicU64,
    /// Bumped to close every established session of this server (`on-marked-down
    /// shutdown-sessions`, `on-marked-up shutdown-backup-sessions`).
    kill: watch::Sender<u64>,
    /// The user weight set at run time (`set server ... weight`); `u32::MAX`: the
    /// configured one.
    weight_rt: AtomicU32,
    /// Connections currently established to this server (TCP tunnels, HTTP server conns).
    pub cur_conns: AtomicU32,
    /// Connections ever established to this server.
    pub total_conns: AtomicU64,
    /// Failed connection attempts.
    pub failed_conns: AtomicU64,
    /// Hands a released slot to a queued request (`persist::queue`), servers with maxconn.
    slot_hook: OnceLock<crate::engine::persist::queue::SlotHook>,
    /// `maxconn`/`minconn` and the backend's load, servers with maxconn.
    limits: OnceLock<ConnLimits>,
}

/// HAProxy's `beconn` and `fullconn` of one backend: what the dynamic maxconn of its
/// servers depends on.
#[derive(Debug, Default)]
pub struct BackendLoad {
    /// Streams assigned to the backend, queued ones included (HAProxy's `beconn`; the stats'
    /// backend `scur`). Counted by `stats::BeSlot`.
    pub beconn: AtomicU32,
    /// The backend's `fullconn` (at least 1).
    pub fullconn: u32,
}

/// A server's connection limits (the IR's, after `srv_minmax_conn_apply()`).
#[derive(Debug)]
struct ConnLimits {
    minconn: u32,
    maxconn: u32,
    load: Arc<BackendLoad>,
}

impl ServerState {
    pub fn new(up: bool, maint: bool) -> Self {
        ServerState {
            up: AtomicBool::new(up),
            maint: AtomicBool::new(maint),
            nolb: AtomicBool::new(false),
            slowstart_s: AtomicU32::new(0),
            warm_since: AtomicU64::new(0),
            kill: watch::channel(0).0,
            weight_rt: AtomicU32::new(u32::MAX),
            cur_conns: AtomicU32::new(0),
            total_conns: AtomicU64::new(0),
            failed_conns: AtomicU64::new(0),
            slot_hook: OnceLock::new(),
            limits: OnceLock::new(),
        }
    }

    /// Sets the server's `maxconn` (> 0) and `minconn` (0: same as `maxconn`), and the load
    /// of its backend, which makes the limit dynamic when `minconn < maxconn`.
    pub fn set_conn_limits(&self, minconn: u32, maxconn: u32, load: Arc<BackendLoad>) {
        if maxconn > 0 {
            let minconn = if minconn == 0 {
                maxconn
            } else {
                minconn.min(maxconn)
            };
            let _ = self.limits.set(ConnLimits {
                minconn,
                maxconn,
                load,
            });
        }
    }

    /// The number of connections the server may have now (`None`: no `maxconn`), HAProxy's
    /// `srv_dynamic_maxconn()`: `maxconn` once the backend has `fullconn` streams, else
    /// `max(minconn, beconn * maxconn / fullconn)`; during a slow start, that times the
    /// elapsed fraction of it (whole seconds), at least 1.
    pub fn maxconn_now(&self) -> Option<u32> {
        let l = self.limits.get()?;
        let beconn = u64::from(l.load.beconn.load(Ordering::Acquire));
        let full = u64::from(l.load.fullconn.max(1));
        let mut max = if beconn >= full || l.minconn == l.maxconn {
            l.maxconn
        } else {
            let dynamic = beconn * u64::from(l.maxconn) / full;
            l.minconn.max(u32::try_from(dynamic).unwrap_or(u32::MAX))
        };
        let since = self.warm_since.load(Ordering::Acquire);
        let ss = u64::from(self.slowstart_s.load(Ordering::Acquire));
        if since != 0 && ss > 0 {
            let elapsed_s = mono_ms().saturating_sub(since) / 1000;
            if elapsed_s < ss {
                let ratio = 100 * elapsed_s / ss;
                let m = u64::from(max) * ratio / 100;
                max = u32::try_from(m).unwrap_or(u32::MAX).max(1);
            }
        }
        Some(max)
    }

    /// Whether the server is below its current connection limit ([`ServerState::maxconn_now`]).
    pub fn has_room(&self) -> bool {
        self.maxconn_now()
            .is_none_or(|m| self.cur_conns.load(Ordering::Acquire) < m)
    }

    /// Installs the queue hand-off run when one of this server's slots is released.
    pub fn set_slot_hook(&self, hook: crate::engine::persist::queue::SlotHook) {
        let _ = self.slot_hook.set(hook);
    }

    /// True when the server may receive new traffic: health-check UP, not in maintenance,
    /// not in NOLB (stopping).
    pub fn is_usable(&self) -> bool {
        self.up.load(Ordering::Acquire)
            && !self.maint.load(Ordering::Acquire)
            && !self.nolb.load(Ordering::Acquire)
    }

    /// NOLB (HAProxy's STOPPING): up but excluded from load balancing.
    pub fn is_nolb(&self) -> bool {
        self.nolb.load(Ordering::Acquire)
    }

    pub fn set_nolb(&self, nolb: bool) {
        self.nolb.store(nolb, Ordering::Release);
    }

    /// Sets the server's `slowstart`, in milliseconds (stored as whole seconds, rounded up,
    /// as HAProxy does).
    pub fn set_slowstart_ms(&self, ms: u32) {
        self.slowstart_s.store(ms.div_ceil(1000), Ordering::Release);
    }

    /// Starts a slow start now, if the server has one (called when it comes UP).
    pub fn start_warmup(&self) {
        if self.slowstart_s.load(Ordering::Acquire) > 0 {
            self.warm_since.store(mono_ms(), Ordering::Release);
        }
    }

    /// Ends any slow start (the server went DOWN or into maintenance).
    pub fn stop_warmup(&self) {
        self.warm_since.store(0, Ordering::Release);
    }

    /// The effective-weight step, `1..=`[`WEIGHT_STEPS`]: HAProxy's
    /// `server_recalc_eweight()`, `(16 * elapsed + slowstart) / slowstart` with whole seconds
    /// elapsed since the server came UP (its warmup task recomputes once a second), and 16
    /// once the slow start is over or when there is none.
    pub fn weight_step(&self) -> u32 {
        let since = self.warm_since.load(Ordering::Acquire);
        if since == 0 {
            return WEIGHT_STEPS;
        }
        let ss = u64::from(self.slowstart_s.load(Ordering::Acquire));
        let elapsed_s = mono_ms().saturating_sub(since) / 1000;
        if ss == 0 || elapsed_s >= ss {
            // Over: back to full throttle (HAProxy: STARTING -> RUNNING).
            let _ = self
                .warm_since
                .compare_exchange(since, 0, Ordering::AcqRel, Ordering::Acquire);
            return WEIGHT_STEPS;
        }
        let w = (u64::from(WEIGHT_STEPS) * elapsed_s + ss) / ss;
        u32::try_from(w)
            .unwrap_or(WEIGHT_STEPS)
            .clamp(1, WEIGHT_STEPS)
    }

    /// How long until the slow start is over (`None` when not warming up).
    pub fn warmup_left(&self) -> Option<Duration> {
        let since = self.warm_since.load(Ordering::Acquire);
        if since == 0 {
            return None;
        }
        let end = since + u64::from(self.slowstart_s.load(Ordering::Acquire)) * 1000;
        Some(Duration::from_millis(end.saturating_sub(mono_ms())))
    }

    /// Closes every session currently established to this server: each one holds a
    /// [`ServerConnGuard`] whose [`ServerConnGuard::killed`] resolves now. Sessions opened
    /// afterwards are not affected.
    pub fn shutdown_sessions(&self) {
        self.kill.send_modify(|g| *g = g.wrapping_add(1));
    }

    /// A future that resolves at the next [`ServerState::shutdown_sessions`] after this
    /// call (never, if none comes).
    pub fn shutdown_signal(&self) -> impl Future<Output = ()> + Send + 'static {
        wait_kill(self.kill.subscribe())
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

    /// The current user weight (HAProxy's `uweight`): the runtime one, else `configured`.
    pub fn uweight(&self, configured: u32) -> u32 {
        match self.weight_rt.load(Ordering::Acquire) {
            u32::MAX => configured,
            w => w,
        }
    }

    /// `set server <b>/<s> weight`: the balancer picks it up at the next pick.
    pub fn set_uweight(&self, w: u32) {
        self.weight_rt.store(w.min(u32::MAX - 1), Ordering::Release);
    }

    pub fn set_maint(&self, maint: bool) {
        self.maint.store(maint, Ordering::Release);
    }

    /// Counts one established connection until the guard is dropped.
    pub fn conn_guard(self: &Arc<Self>) -> ServerConnGuard {
        self.cur_conns.fetch_add(1, Ordering::AcqRel);
        self.total_conns.fetch_add(1, Ordering::Relaxed);
        ServerConnGuard(self.clone(), self.kill.subscribe())
    }
}

async fn wait_kill(mut rx: watch::Receiver<u64>) {
    if rx.changed().await.is_err() {
        // The server state is gone: nothing will ever kill this session.
        std::future::pending::<()>().await;
    }
}

/// Decrements the server's `cur_conns` on drop. It also carries the server's kill switch
/// (`on-marked-down shutdown-sessions`): see [`ServerConnGuard::killed`].
#[derive(Debug)]
pub struct ServerConnGuard(Arc<ServerState>, watch::Receiver<u64>);

impl ServerConnGuard {
    /// Resolves when the session counted by this guard must be closed because its server
    /// was marked DOWN with `on-marked-down shutdown-sessions` (or was a backup when an
    /// active server with `on-marked-up shutdown-backup-sessions` came UP) after the guard
    /// was taken. Long-lived tunnels select on it.
    pub fn killed(&self) -> impl Future<Output = ()> + Send + 'static {
        wait_kill(self.1.clone())
    }
}

/// Runs `f` unless the session's server kills its sessions first (see
/// [`ServerConnGuard::killed`]): `None` when killed (`f` is dropped, closing what it owns).
pub async fn unless_killed<F: Future>(guard: Option<&ServerConnGuard>, f: F) -> Option<F::Output> {
    match guard {
        Some(g) => {
            let killed = g.killed();
            tokio::select! {
                out = f => Some(out),
                _ = killed => None,
            }
        }
        None => Some(f.await),
    }
}

impl Drop for ServerConnGuard {
    fn drop(&mut self) {
        self.0.cur_conns.fetch_sub(1, Ordering::AcqRel);
        if let Some(hook) = self.0.slot_hook.get() {
            hook.fire(&self.0);
        }
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
    /// active connections, slow-start weight) is brought in line with `servers` at every
    /// pick.
    pub balancer: Mutex<Balancer>,
    /// The balancer runs on user weights times this factor, so that a slow start's
    /// effective weight (`uweight * step / 16`, HAProxy's eweight) is representable: 1
    /// unless a server has `slowstart` and the algorithm is dynamic (see [`weight_scale`]).
    pub weight_scale: u32,
    /// HAProxy's `beconn` and `fullconn` (the servers' dynamic maxconn).
    pub load: Arc<BackendLoad>,
}

impl BackendState {
    /// A stream was assigned to this backend (HAProxy's `beconn++`).
    pub fn stream_assigned(&self) {
        self.load.beconn.fetch_add(1, Ordering::AcqRel);
    }

    /// A stream assigned by [`BackendState::stream_assigned`] ended.
    pub fn stream_released(&self) {
        let _ = self
            .load
            .beconn
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |c| {
                Some(c.saturating_sub(1))
            });
    }
}

/// Whether HAProxy applies slow start with this algorithm (`BE_LB_PROP_DYN`): roundrobin,
/// leastconn, first and consistent hashing; not static-rr nor map-based hashing.
fn slowstart_applies(be: &Backend) -> bool {
    match be.balance {
        Balance::RoundRobin | Balance::LeastConn | Balance::First | Balance::Random { .. } => true,
        Balance::StaticRr => false,
        _ => be.hash_type.method == ir::HashMethod::Consistent,
    }
}

/// The factor user weights are multiplied by in the balancer. Round-robin, leastconn and
/// first only depend on weight ratios, so scaling every server alike changes nothing but
/// lets a warming server get `uweight * scale * step / 16`; user weights up to 16 are then
/// exact (the balancer caps weights at 256). Consistent hashing places `weight * 16`
/// points per server on its ring: scaling would move keys, so it keeps factor 1 and a
/// warming server's weight is rounded up to a whole user weight (coarser than HAProxy).
pub fn weight_scale(be: &Backend) -> u32 {
    let warms = be.servers.iter().any(|s| s.slowstart_ms.unwrap_or(0) > 0);
    let scalable = matches!(
        be.balance,
        Balance::RoundRobin | Balance::LeastConn | Balance::First
    );
    if !warms || !scalable || !slowstart_applies(be) {
        return 1;
    }
    let max_w = be
        .servers
        .iter()
        .map(|s| s.weight)
        .max()
        .unwrap_or(1)
        .max(1);
    (256 / max_w).clamp(1, WEIGHT_STEPS)
}

/// The weight the balancer should use for a server of user weight `uweight`, effective
/// weight step `step` (1..=16) and backend factor `scale`.
fn balancer_weight(uweight: u32, step: u32, scale: u32) -> u32 {
    let full = uweight.saturating_mul(scale);
    if step >= WEIGHT_STEPS || full == 0 {
        return full;
    }
    full.saturating_mul(step).div_ceil(WEIGHT_STEPS).max(1)
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
fn build_balancer(be: &Backend, servers: &[Arc<ServerState>], scale: u32) -> Balancer {
    let slots = be
        .servers
        .iter()
        .zip(servers)
        .map(|(s, st)| ServerSlot {
            id: Some(s.id),
            weight: s.weight.saturating_mul(scale),
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
    /// A copy of each health-check message printed on stderr (see
    /// [`EngineState::subscribe_messages`]).
    messages: broadcast::Sender<String>,
    /// Stick tables and request queues (`engine::persist`).
    pub persist: crate::engine::persist::Runtime,
    /// The statistics counters (`engine::stats`), indexed like the IR.
    pub stats: crate::engine::stats::Counters,
    /// Access log targets and formats (`engine::accesslog`).
    pub accesslog: crate::engine::accesslog::Logs,
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
                let load = Arc::new(BackendLoad {
                    beconn: AtomicU32::new(0),
                    fullconn: be.fullconn.max(1),
                });
                let servers: Vec<Arc<ServerState>> = be
                    .servers
                    .iter()
                    .map(|s| {
                        let st = ServerState::new(
                            true,
                            s.disabled || be.disabled || s.resolved.is_none(),
                        );
                        st.set_slowstart_ms(s.slowstart_ms.unwrap_or(0));
                        st.set_conn_limits(
                            s.minconn.unwrap_or(0),
                            s.maxconn.unwrap_or(0),
                            load.clone(),
                        );
                        Arc::new(st)
                    })
                    .collect();
                let weight_scale = weight_scale(be);
                let balancer = Mutex::new(build_balancer(be, &servers, weight_scale));
                BackendState {
                    servers,
                    rr: AtomicUsize::new(0),
                    total_conns: AtomicU64::new(0),
                    balancer,
                    weight_scale,
                    load,
                }
            })
            .collect();
        let frontends = config
            .frontends
            .iter()
            .map(|_| FrontendState::default())
            .collect();
        let (stop_tx, _) = watch::channel(StopLevel::Running);
        let persist = crate::engine::persist::Runtime::new(&config, &backends);
        let stats = crate::engine::stats::Counters::new(&config);
        Arc::new(EngineState {
            stats,
            accesslog: crate::engine::accesslog::Logs::new(&config),
            config,
            frontends,
            backends,
            live: Arc::new(LiveConns::default()),
            pid: std::process::id(),
            quiet,
            stop_tx,
            messages: broadcast::channel(256).0,
            persist,
        })
    }

    /// Receives a copy of every health-check message printed from now on, exactly as
    /// printed (`[WARNING]  (PID) : Server be/s1 is DOWN, ...`, without the newline), even
    /// when `quiet` silences stderr. For tests and the runtime API.
    pub fn subscribe_messages(&self) -> broadcast::Receiver<String> {
        self.messages.subscribe()
    }

    /// Publishes a printed message to [`EngineState::subscribe_messages`] receivers (a
    /// no-op without receivers).
    pub fn publish_message(&self, line: String) {
        let _ = self.messages.send(line);
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

/// Brings the balancer's view (usable flags, connection counts, connection limits) in line with the live
/// atomics, which health checks, the runtime API and connection guards update without
/// taking the lock. O(servers) per pick, with no allocation.
fn sync_balancer(be: &Backend, bs: &BackendState, lb: &mut Balancer) {
    let dynamic = slowstart_applies(be);
    for (i, (s, st)) in be.servers.iter().zip(bs.servers.iter()).enumerate() {
        let Some(slot) = lb.server(i) else { continue };
        let usable = st.is_usable() && s.resolved.is_some();
        // Slow start: the effective weight ramps up after the server came UP.
        let step = if dynamic {
            st.weight_step()
        } else {
            WEIGHT_STEPS
        };
        let weight = balancer_weight(st.uweight(s.weight), step, bs.weight_scale);
        let (slot_usable, slot_weight) = (slot.usable, slot.weight);
        if slot_weight != weight {
            lb.set_weight(i, weight);
        }
        if slot_usable != usable {
            lb.set_usable(i, usable);
        }
        // The dynamic maxconn (`minconn`, `fullconn`, slow start) at this load.
        let maxconn = st.maxconn_now();
        if lb.server(i).is_some_and(|s| s.maxconn != maxconn) {
            lb.set_maxconn(i, maxconn);
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
