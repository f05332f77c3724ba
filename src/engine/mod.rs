//! The engine: runs a loaded [`Config`] IR on tokio. It reads only the IR, never config text.
//!
//! - [`run`]: what the CLI calls: builds a multi-thread runtime, binds everything, serves
//!   until a signal, returns the exit code.
//! - [`start`]: the in-process API (tests, the CLI's own use): binds everything and returns a
//!   [`RunningEngine`] with the actual bound addresses (port 0 works) and stop controls.
//!
//! Modules: `listener` (sockets, accept, maxconn), `tls` (rustls per bind, SNI), `tcp` (TCP
//! mode), `pump` (byte tunnel, shared with HTTP upgrades), `health` (checks), `signals`,
//! `server_conn` (server connects, PROXY protocol), `state` and `conn` (shared types, the
//! contract with `http`), `log` (HAProxy-style stderr messages), `persist` (cookie and
//! stick-table persistence, request queues).

pub mod accesslog;
pub mod cli;
pub mod clock;
pub mod conn;
pub mod health;
pub mod http;
pub mod inspect;
pub mod listener;
pub mod log;
pub mod payload;
pub mod persist;
pub mod process;
pub mod pump;
pub mod server_conn;
pub mod signals;
pub mod state;
pub mod stats;
pub mod tcp;
pub mod tls;
pub mod tls_stream;

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use tokio::io::unix::AsyncFd;
use tokio::task::JoinHandle;

use crate::config::ir::{Config, SectionKind};

pub use conn::{ClientStream, ConnCtx, ConnInfo};
pub use state::{EngineState, StopLevel};

/// How the process runs.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Stay in the foreground (`-db`, `-W` workers). Daemonizing (`-D`, `daemon`) must be
    /// done by the caller before [`run`] (fork before any thread exists).
    pub foreground: bool,
    /// Silence HAProxy-style stderr messages (`-q`), on top of `global quiet`.
    pub quiet: bool,
    /// Worker threads (`nbthread`); `None`: one per core.
    pub threads: Option<usize>,
    /// `-p`: pidfile (overrides `pidfile` in global).
    pub pidfile: Option<std::path::PathBuf>,
    /// `-sf` / `-st`: old processes to signal once listening.
    pub soft_stop_pids: Vec<i32>,
    pub hard_stop_pids: Vec<i32>,
}

/// A configured engine, not yet started.
pub struct Engine {
    pub config: Arc<Config>,
    pub opts: RunOptions,
}

impl Engine {
    pub fn new(config: Arc<Config>, opts: RunOptions) -> Self {
        Engine { config, opts }
    }

    /// Builds the runtime, serves until a signal, returns the exit code.
    pub fn run(self) -> anyhow::Result<i32> {
        // One worker (one usable core, or `threads: Some(1)`): tokio's current-thread
        // scheduler runs the same tasks without the work-stealing machinery (no cross-thread
        // queues or wake-ups, no second thread parked on a condvar), which costs less CPU per
        // request. Several workers: the multi-thread scheduler.
        let workers = self.opts.threads.filter(|&n| n > 0).unwrap_or_else(|| {
            std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
        });
        let mut b = if workers == 1 {
            tokio::runtime::Builder::new_current_thread()
        } else {
            let mut b = tokio::runtime::Builder::new_multi_thread();
            b.worker_threads(workers);
            b
        };
        b.enable_all();
        let rt = b.build().context("cannot start the runtime")?;
        let code = rt.block_on(async move {
            let quiet = self.opts.quiet || self.config.global.quiet;
            let config = self.config.clone();
            let engine = start_with(self.config, quiet).await?;
            // Listening now: write the pidfile, drop privileges, then retire old processes.
            if let Some(p) = self
                .opts
                .pidfile
                .as_ref()
                .or(config.global.pidfile.as_ref())
            {
                process::write_pidfile(p)?;
            }
            process::drop_privileges(&config.global)?;
            process::signal_old(&self.opts.soft_stop_pids, &self.opts.hard_stop_pids);
            let code = signals::run_until_signal(&engine).await?;
            engine.hard_stop();
            anyhow::Ok(code)
        })?;
        // Connection tasks were told to stop; do not wait for stragglers.
        rt.shutdown_timeout(Duration::from_millis(100));
        Ok(code)
    }
}

/// Runs `config` until a signal; returns the process exit code.
pub fn run(config: Arc<Config>, opts: RunOptions) -> anyhow::Result<i32> {
    Engine::new(config, opts).run()
}

/// The addresses one frontend actually listens on.
#[derive(Debug, Clone)]
pub struct BoundFrontend {
    pub name: String,
    /// Per `bind` line, the bound local addresses in `Bind::sockets` order (real ports when
    /// the config said port 0). Empty for a disabled frontend.
    pub binds: Vec<Vec<SocketAddr>>,
}

/// A started engine. Dropping it hard-stops everything.
pub struct RunningEngine {
    pub state: Arc<EngineState>,
    /// Indexed like `config.frontends`.
    pub frontends: Vec<BoundFrontend>,
    tasks: Vec<JoinHandle<()>>,
}

impl RunningEngine {
    /// Every bound address of frontend `name`, in bind order.
    pub fn addrs(&self, name: &str) -> Vec<SocketAddr> {
        self.frontends
            .iter()
            .filter(|f| f.name == name)
            .flat_map(|f| f.binds.iter().flatten().copied())
            .collect()
    }

    /// The first bound address of frontend `name`.
    pub fn addr(&self, name: &str) -> Option<SocketAddr> {
        self.addrs(name).into_iter().next()
    }

    /// SIGUSR1: stop listening; connections finish; then the engine stops.
    pub fn soft_stop(&self) {
        self.state.request_stop(StopLevel::Soft);
    }

    /// SIGTERM: close everything now.
    pub fn hard_stop(&self) {
        self.state.request_stop(StopLevel::Hard);
    }

    /// Resolves when the engine has fully stopped (after a hard stop, or after a soft stop
    /// once drained or `hard-stop-after` expired).
    pub async fn wait(&self) {
        self.state.stopped(StopLevel::Hard).await;
    }

    /// Live client connections right now.
    pub fn live_connections(&self) -> usize {
        self.state.live.get()
    }
}

impl Drop for RunningEngine {
    fn drop(&mut self) {
        self.state.request_stop(StopLevel::Hard);
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// Binds every enabled frontend and starts serving. Must run inside a tokio runtime.
pub async fn start(config: Arc<Config>) -> anyhow::Result<RunningEngine> {
    let quiet = config.global.quiet;
    start_with(config, quiet).await
}

/// [`start`] with the message switch set explicitly.
pub async fn start_with(config: Arc<Config>, quiet: bool) -> anyhow::Result<RunningEngine> {
    // `check-ssl` needs a TLS client the global ssl-default-server-* settings allow.
    health::tls::validate(&config)?;
    let state = EngineState::with_quiet(config.clone(), quiet);
    let global_limit = listener::limit(config.global.maxconn);
    let mut listeners = Vec::new();
    let mut frontends = Vec::new();
    for (fi, fe) in config.frontends.iter().enumerate() {
        let mut bound = BoundFrontend {
            name: fe.name.clone(),
            binds: Vec::new(),
        };
        if fe.disabled {
            frontends.push(bound);
            continue;
        }
        let fe_limit = listener::limit(Some(fe.maxconn));
        for (bi, bind) in fe.binds.iter().enumerate() {
            let tls = match &bind.tls {
                Some(t) => {
                    let cfg = tls::server_config(t, &config.global.ssl_default_bind).with_context(
                        || {
                            format!(
                                "Proxy '{}': bind '{}' ({}): SSL configuration",
                                fe.name, bind.text, bind.origin
                            )
                        },
                    )?;
                    Some(cfg)
                }
                None => None,
            };
            let limits = listener::Limits {
                bind: listener::limit(bind.maxconn),
                frontend: fe_limit.clone(),
                global: global_limit.clone(),
            };
            let mut addrs = Vec::new();
            for &sa in &bind.sockets {
                let std = listener::bind_socket(sa, bind, fe.maxconn).map_err(|e| {
                    anyhow::anyhow!(
                        "Starting frontend {}: cannot bind socket ({e}) [{sa}]",
                        fe.name
                    )
                })?;
                let local = std.local_addr().unwrap_or(sa);
                // SAFETY: `std` owns the socket and moves into the AsyncFd, so the fd stays
                // open and is not reused for as long as the registration exists.
                let fd = unsafe { AsyncFd::register(std) }
                    .map_err(|e| anyhow::anyhow!("registering {sa}: {e}"))?;
                addrs.push(local);
                listeners.push(listener::Listener {
                    fd,
                    local,
                    frontend: fi,
                    bind: bi,
                    tls: tls.clone(),
                    limits: limits.clone(),
                });
            }
            for &raw in &bind.inherited_fds {
                // SAFETY: the config layer checked that `raw` is an open stream socket passed
                // by the parent (`fd@N`); the listener takes ownership of it from here on.
                let sock = unsafe { <socket2::Socket as std::os::fd::FromRawFd>::from_raw_fd(raw) };
                sock.set_nonblocking(true)
                    .map_err(|e| anyhow::anyhow!("fd@{raw}: {e}"))?;
                let std: std::net::TcpListener = sock.into();
                let local = std.local_addr().map_err(|e| {
                    anyhow::anyhow!(
                        "Starting frontend {}: fd@{raw} is not a listening TCP socket ({e})",
                        fe.name
                    )
                })?;
                // SAFETY: as above, `std` owns the fd for the registration's lifetime.
                let fd = unsafe { AsyncFd::register(std) }
                    .map_err(|e| anyhow::anyhow!("registering fd@{raw}: {e}"))?;
                addrs.push(local);
                listeners.push(listener::Listener {
                    fd,
                    local,
                    frontend: fi,
                    bind: bi,
                    tls: tls.clone(),
                    limits: limits.clone(),
                });
            }
            bound.binds.push(addrs);
        }
        frontends.push(bound);
    }
    let mut tasks = Vec::new();
    for l in listeners {
        tasks.push(tokio::spawn(listener::accept_loop(l, state.clone())));
    }
    tasks.extend(health::spawn_all(&state));
    tasks.extend(cli::spawn_all(&state)?);
    tasks.push(tokio::spawn(soft_stop_manager(state.clone())));
    Ok(RunningEngine {
        state,
        frontends,
        tasks,
    })
}

/// Waits for a soft stop, prints HAProxy's "Proxy X stopped" lines, then drains: the hard
/// stop comes when no connection is left, or when `hard-stop-after` expires.
async fn soft_stop_manager(state: Arc<EngineState>) {
    state.stopped(StopLevel::Soft).await;
    if state.stop_level() >= StopLevel::Hard {
        return;
    }
    print_stopped_proxies(&state);
    let drain = state.live.wait_zero();
    match state.config.global.hard_stop_after_ms {
        Some(ms) => {
            tokio::select! {
                _ = drain => {}
                _ = state.stopped(StopLevel::Hard) => {}
                _ = tokio::time::sleep(Duration::from_millis(u64::from(ms))) => {
                    log::warning(&state, "soft-stop running for too long, performing a hard-stop.");
                }
            }
        }
        None => {
            tokio::select! {
                _ = drain => {}
                _ = state.stopped(StopLevel::Hard) => {}
            }
        }
    }
    state.request_stop(StopLevel::Hard);
}

fn print_stopped_proxies(state: &EngineState) {
    let cfg = &state.config;
    let be_total = |name: &str| {
        state
            .backend_index(name)
            .and_then(|i| state.backends.get(i))
            .map(|b| b.total_conns.load(Ordering::Relaxed))
            .unwrap_or(0)
    };
    for (fi, fe) in cfg.frontends.iter().enumerate() {
        let fe_total = state
            .frontends
            .get(fi)
            .map(|f| f.total_conns.load(Ordering::Relaxed))
            .unwrap_or(0);
        let be = if fe.kind == SectionKind::Listen {
            be_total(&fe.name)
        } else {
            0
        };
        log::warning(
            state,
            &format!(
                "Proxy {} stopped (cumulated conns: FE: {fe_total}, BE: {be}).",
                fe.name
            ),
        );
        let msg = format!(
            "Proxy {} stopped (cumulated conns: FE: {fe_total}, BE: {be}).",
            fe.name
        );
        accesslog::frontend_warning(state, fi, &msg);
    }
    for be in cfg
        .backends
        .iter()
        .filter(|b| b.kind != SectionKind::Listen)
    {
        log::warning(
            state,
            &format!(
                "Proxy {} stopped (cumulated conns: FE: 0, BE: {}).",
                be.name,
                be_total(&be.name)
            ),
        );
    }
}
