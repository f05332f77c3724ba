//! The runtime API (`stats socket`): HAProxy's CLI on a UNIX or TCP socket.
//!
//! One command line per connection in the default, non-interactive mode: the line is split
//! on `;`, each command is answered (its output followed by an empty line), then the
//! connection is closed. `prompt` switches to interactive mode (`> ` before each line, the
//! connection stays open until `quit` or the `stats timeout` idle timeout).

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};

use crate::config::ir::{CliLevel, StatsSocket, StatsSocketAddr};
use crate::engine::state::EngineState;
use crate::engine::stats::{fields, http as stats_http};

/// The commands we implement, in HAProxy 2.6's `help` wording and order, with the level
/// each needs to be listed and run.
const COMMANDS: &[(&str, CliLevel)] = &[
    ("  disable server (DEPRECATED)             : disable a server for maintenance (use 'set server' instead)\n", CliLevel::Admin),
    ("  enable server  (DEPRECATED)             : enable a disabled server (use 'set server' instead)\n", CliLevel::Admin),
    ("  get weight <bk>/<srv>                   : report a server's current weight\n", CliLevel::User),
    ("  operator                                : lower the level of the current CLI session to operator\n", CliLevel::Operator),
    ("  set server <bk>/<srv> [opts]            : change a server's state, weight, address or ssl\n", CliLevel::Admin),
    ("  set weight <bk>/<srv>  (DEPRECATED)     : change a server's weight (use 'set server' instead)\n", CliLevel::Admin),
    ("  show backend                            : list backends in the current running config\n", CliLevel::User),
    ("  show cli level                          : display the level of the current CLI session\n", CliLevel::User),
    ("  show info [desc|json|typed|float]*      : report information about the running process\n", CliLevel::User),
    ("  show servers state [<backend>]          : dump volatile server information (all or for a single backend)\n", CliLevel::User),
    ("  show stat [desc|json|no-maint|typed|up]*: report counters for each proxy and server\n", CliLevel::User),
    ("  user                                    : lower the level of the current CLI session to user\n", CliLevel::User),
    ("  help [<command>]                        : list matching or all commands\n", CliLevel::User),
    ("  prompt                                  : toggle interactive mode with prompt\n", CliLevel::User),
    ("  quit                                    : disconnect\n", CliLevel::User),
];

const DENIED: &str = "Permission denied\n";

/// Binds every `stats socket` and spawns its accept loop.
pub fn spawn_all(state: &Arc<EngineState>) -> anyhow::Result<Vec<tokio::task::JoinHandle<()>>> {
    let mut tasks = Vec::new();
    for sock in &state.config.global.stats_sockets {
        match &sock.addr {
            StatsSocketAddr::Unix(path) => {
                // HAProxy replaces a stale socket file.
                let _ = std::fs::remove_file(path);
                let l = tokio::net::UnixListener::bind(path).map_err(|e| {
                    anyhow::anyhow!(
                        "Starting proxy GLOBAL: cannot bind UNIX socket ({e}) [{}]",
                        path.display()
                    )
                })?;
                apply_owner(path, sock)?;
                let (st, s) = (state.clone(), sock.clone());
                tasks.push(tokio::spawn(async move {
                    loop {
                        let Ok((conn, _)) = l.accept().await else {
                            tokio::time::sleep(Duration::from_millis(10)).await;
                            continue;
                        };
                        tokio::spawn(session(conn, st.clone(), s.level));
                    }
                }));
            }
            StatsSocketAddr::Tcp(sa) => {
                let std = std::net::TcpListener::bind(sa).map_err(|e| {
                    anyhow::anyhow!("Starting proxy GLOBAL: cannot bind socket ({e}) [{sa}]")
                })?;
                std.set_nonblocking(true)?;
                let l = tokio::net::TcpListener::from_std(std)?;
                let (st, s) = (state.clone(), sock.clone());
                tasks.push(tokio::spawn(async move {
                    loop {
                        let Ok((conn, _)) = l.accept().await else {
                            tokio::time::sleep(Duration::from_millis(10)).await;
                            continue;
                        };
                        tokio::spawn(session(conn, st.clone(), s.level));
                    }
                }));
            }
        }
    }
    Ok(tasks)
}

fn apply_owner(path: &std::path::Path, sock: &StatsSocket) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    if let Some(mode) = sock.mode {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
    }
    if sock.uid.is_some() || sock.gid.is_some() {
        std::os::unix::fs::chown(path, sock.uid, sock.gid).map_err(|e| {
            anyhow::anyhow!(
                "cannot change UNIX socket ownership [{}]: {e}",
                path.display()
            )
        })?;
    }
    Ok(())
}

async fn session<S: AsyncRead + AsyncWrite + Unpin>(
    conn: S,
    state: Arc<EngineState>,
    level: CliLevel,
) {
    let idle = Duration::from_millis(u64::from(state.config.global.stats_timeout_ms.max(1)));
    let (rd, mut wr) = tokio::io::split(conn);
    let mut rd = BufReader::new(rd);
    let mut level = level;
    let mut prompt = false;
    loop {
        let mut line = String::new();
        match tokio::time::timeout(idle, rd.read_line(&mut line)).await {
            Ok(Ok(n)) if n > 0 => {}
            _ => break,
        }
        let line = line.trim_end_matches(['\n', '\r']);
        let mut out = String::new();
        let mut quit = false;
        if prompt && line.trim().is_empty() {
            out.push_str(&help(
                level,
                "Unknown command. Please enter one of the following commands only:\n",
            ));
            out.push('\n');
        }
        for cmd in line.split(';') {
            let words: Vec<&str> = cmd.split_whitespace().collect();
            if words.is_empty() {
                continue;
            }
            match words.as_slice() {
                ["prompt"] => {
                    // Answered like any command: an empty output, then the blank line.
                    prompt = !prompt;
                    out.push('\n');
                    continue;
                }
                ["quit"] => {
                    quit = true;
                    break;
                }
                _ => {}
            }
            out.push_str(&run(&state, &mut level, &words));
            out.push('\n');
        }
        if prompt && !quit {
            out.push_str("> ");
        }
        if wr.write_all(out.as_bytes()).await.is_err() || quit || !prompt {
            break;
        }
    }
    let _ = wr.shutdown().await;
}

/// One command's answer (without the trailing empty line).
pub fn run(state: &EngineState, level: &mut CliLevel, w: &[&str]) -> String {
    let need = |l: CliLevel| *level >= l;
    match w {
        ["help", ..] => help(*level, "The following commands are valid at this level:\n"),
        ["operator"] => {
            if need(CliLevel::Operator) {
                *level = CliLevel::Operator;
            }
            String::new()
        }
        ["user"] => {
            *level = CliLevel::User;
            String::new()
        }
        ["show", "cli", "level"] => {
            format!(
                "{}\n",
                match level {
                    CliLevel::User => "user",
                    CliLevel::Operator => "operator",
                    CliLevel::Admin => "admin",
                }
            )
        }
        ["show", "info"] => show_info(state),
        ["show", "stat", opts @ ..]
            if opts
                .iter()
                .all(|o| matches!(*o, "json" | "typed" | "up" | "no-maint")) =>
        {
            show_stat(state, opts, *level >= CliLevel::Operator)
        }
        ["show", "backend"] => {
            let mut s = String::from("# name\n");
            for be in &state.config.backends {
                s.push_str(&be.name);
                s.push('\n');
            }
            s
        }
        ["show", "servers", "state", rest @ ..] => servers_state(state, rest.first().copied()),
        ["get", "weight", target, ..] => match server(state, target) {
            Err(e) => e.to_string(),
            Ok((bi, si)) => {
                let w = state.config.backends[bi].servers[si].weight;
                let cur = state.server(bi, si).map_or(w, |st| st.uweight(w));
                format!("{cur} (initial {w})\n")
            }
        },
        ["get", "weight"] => "Require 'backend/server'.\n".into(),
        ["disable", "server", rest @ ..] | ["enable", "server", rest @ ..] => {
            if !need(CliLevel::Admin) {
                return DENIED.into();
            }
            let Some(target) = rest.first() else {
                return "Require 'backend/server'.\n".into();
            };
            match server(state, target) {
                Err(e) => e.to_string(),
                Ok((bi, si)) => {
                    set_state(
                        state,
                        bi,
                        si,
                        if w[0] == "disable" { "maint" } else { "ready" },
                    );
                    String::new()
                }
            }
        }
        ["set", "server", rest @ ..] => {
            if !need(CliLevel::Admin) {
                return DENIED.into();
            }
            let Some(target) = rest.first() else {
                return "Require 'backend/server'.\n".into();
            };
            let (bi, si) = match server(state, target) {
                Err(e) => return e.to_string(),
                Ok(x) => x,
            };
            match &rest[1..] {
                ["state", st, ..] if matches!(*st, "ready" | "drain" | "maint") => {
                    set_state(state, bi, si, st);
                    String::new()
                }
                ["state", ..] => {
                    "'set server <srv> state' expects 'ready', 'drain' and 'maint'.\n".into()
                }
                ["weight", rest @ ..] => set_weight(state, bi, si, rest.first().copied()),
                _ => SET_SERVER_USAGE.into(),
            }
        }
        ["set", "weight", rest @ ..] => {
            if !need(CliLevel::Admin) {
                return DENIED.into();
            }
            let Some(target) = rest.first() else {
                return "Require 'backend/server'.\n".into();
            };
            match server(state, target) {
                Err(e) => e.to_string(),
                Ok((bi, si)) => set_weight(state, bi, si, rest.get(1).copied()),
            }
        }
        _ => unknown(*level),
    }
}

const SET_SERVER_USAGE: &str = "usage: set server <backend>/<server> addr | agent | agent-addr | agent-port | agent-send | check-addr | check-port | fqdn | health | ssl | state | weight\n";

/// `server_parse_weight_change_request()`: `N` (0..256) or `N%` of the initial weight.
fn set_weight(state: &EngineState, bi: usize, si: usize, arg: Option<&str>) -> String {
    let Some(arg) = arg.filter(|a| !a.is_empty()) else {
        return "Require <weight> or <weight%>.\n".into();
    };
    let be = &state.config.backends[bi];
    let initial = be.servers[si].weight;
    let digits = arg.strip_prefix(['-', '+']).unwrap_or(arg);
    let n_len = digits.bytes().take_while(u8::is_ascii_digit).count();
    if n_len == 0 {
        // HAProxy's message has no final newline of its own.
        return "Empty weight string empty or preceded by garbage".into();
    }
    let sign_len = arg.len() - digits.len();
    let w: i64 = arg[..sign_len + n_len].parse().unwrap_or(i64::MAX);
    let rest = &digits[n_len..];
    let w = match rest {
        "%" => {
            if w < 0 {
                return "Relative weight must be positive.\n".into();
            }
            (i64::from(initial) * w / 100).min(256)
        }
        "" => {
            if !(0..=256).contains(&w) {
                return "Absolute weight can only be between 0 and 256 inclusive.\n".into();
            }
            w
        }
        _ => return "Trailing garbage in weight string".into(),
    };
    let w = u32::try_from(w).unwrap_or(0);
    if w != 0 && w != initial && !dynamic_lb(be) {
        return "Backend is using a static LB algorithm and only accepts weights '0%' and '100%'.\n".into();
    }
    if let Some(st) = state.server(bi, si) {
        st.set_uweight(w);
    }
    crate::engine::stats::observe_server(state, bi, si);
    String::new()
}

/// HAProxy's `BE_LB_PROP_DYN`: the algorithms that take weight changes at run time.
fn dynamic_lb(be: &crate::config::ir::Backend) -> bool {
    use crate::config::ir::{Balance, HashMethod};
    match be.balance {
        Balance::RoundRobin | Balance::LeastConn | Balance::First | Balance::Random { .. } => true,
        Balance::StaticRr => false,
        _ => be.hash_type.method == HashMethod::Consistent,
    }
}

fn unknown(level: CliLevel) -> String {
    help(
        level,
        "Unknown command, but maybe one of the following ones is a better match:\n",
    )
}

fn help(level: CliLevel, head: &str) -> String {
    let mut s = String::from(head);
    for (line, l) in COMMANDS {
        if level >= *l {
            s.push_str(line);
        }
    }
    s
}

/// `be/srv` to indices, with HAProxy's messages.
fn server(state: &EngineState, target: &str) -> Result<(usize, usize), &'static str> {
    let Some((b, s)) = target.split_once('/') else {
        return Err("Require 'backend/server'.\n");
    };
    let bi = state.backend_index(b).ok_or("No such backend.\n")?;
    let si = state.config.backends[bi]
        .servers
        .iter()
        .position(|x| x.name == s)
        .ok_or("No such server.\n")?;
    Ok((bi, si))
}

fn set_state(state: &EngineState, bi: usize, si: usize, st: &str) {
    let Some(srv) = state.server(bi, si) else {
        return;
    };
    match st {
        "maint" => srv.set_maint(true),
        "drain" => {
            srv.set_maint(false);
            srv.set_nolb(true);
        }
        _ => {
            srv.set_maint(false);
            srv.set_nolb(false);
        }
    }
    crate::engine::stats::observe_server(state, bi, si);
}

fn show_stat(state: &EngineState, opts: &[&str], legends: bool) -> String {
    let stats = crate::config::ir::Stats {
        uri: String::new(),
        realm: None,
        auth: Vec::new(),
        refresh_ms: None,
        hide_version: false,
    };
    let req = stats_http::StatsReq {
        format: if opts.contains(&"json") {
            stats_http::Format::Json
        } else if opts.contains(&"typed") {
            stats_http::Format::Typed
        } else {
            stats_http::Format::Csv
        },
        hide_down: opts.contains(&"up"),
        hide_maint: opts.contains(&"no-maint"),
        no_refresh: true,
        scope: None,
        st: None,
        legends,
    };
    stats_http::page(state, &stats, &req)
}

fn servers_state(state: &EngineState, only: Option<&str>) -> String {
    let mut s = String::from("1\n# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight srv_time_since_last_change srv_check_status srv_check_result srv_check_health srv_check_state srv_agent_state bk_f_forced_id srv_f_forced_id srv_fqdn srv_port srvrecord srv_use_ssl srv_check_port srv_check_addr srv_agent_addr srv_agent_port\n");
    if let Some(name) = only {
        if state.backend_index(name).is_none() {
            return "Can't find backend.\n".into();
        }
    }
    for (iid, (_, bi)) in fields::proxies(state).into_iter().enumerate() {
        let Some(bi) = bi else { continue };
        let be = &state.config.backends[bi];
        if only.is_some_and(|n| n != be.name) {
            continue;
        }
        for (si, srv) in be.servers.iter().enumerate() {
            let Some(st) = state.server(bi, si) else {
                continue;
            };
            let maint = st.is_maint();
            // SRV_ST_STOPPED 0, STARTING 1, RUNNING 2; SRV_ADMF_FMAINT 0x01, CMAINT 0x04
            // (config `disabled`), FDRAIN 0x08.
            let op = if maint || !st.is_up() { 0 } else { 2 };
            // FMAINT 0x01 (maintenance), CMAINT 0x04 (`disabled` in the configuration: kept
            // by `enable server`, as HAProxy does), FDRAIN 0x08.
            let mut admin = 0;
            if maint {
                admin |= 0x01;
            }
            if srv.disabled {
                admin |= 0x04;
            }
            if st.is_nolb() && !maint {
                admin |= 0x08;
            }
            let addr = srv
                .resolved
                .map(|a| a.ip().to_string())
                .unwrap_or_else(|| "-".into());
            let port = srv.resolved.map(|a| a.port()).unwrap_or(0);
            let since = state.stats.server(bi, si).map_or(0, |c| {
                state.stats.now_s().saturating_sub(
                    c.trans
                        .last_change
                        .load(std::sync::atomic::Ordering::Relaxed),
                )
            });
            let (cs, cr, ch, cst) = match fields::srv_view(state, be, bi, si) {
                Some(v) if srv.check => {
                    let last = state.stats.server(bi, si).and_then(|c| {
                        c.last_check
                            .lock()
                            .ok()
                            .and_then(|l| l.as_ref().map(|r| r.status))
                    });
                    let (cs, cr) = last.map_or((1, 0), check_codes);
                    (cs, cr, v.health, if srv.disabled { 14 } else { 6 })
                }
                _ => (
                    1,
                    0,
                    if maint || srv.disabled { 0 } else { srv.rise },
                    if srv.disabled { 8 } else { 0 },
                ),
            };
            let _ = writeln!(
                s,
                "{} {} {} {} {} {} {} {} {} {} {} {} {} {} 0 0 0 - {} - 0 {} - - 0",
                iid + fields::first_iid(state),
                be.name,
                srv.id,
                srv.name,
                addr,
                op,
                admin,
                st.uweight(srv.weight),
                srv.weight,
                since,
                cs,
                cr,
                ch,
                cst,
                port,
                srv.check_port.unwrap_or(0),
            );
        }
    }
    s
}

/// HAProxy 2.6's `enum healthcheck_status` value and `CHK_RES_*` result of a check.
fn check_codes(s: crate::engine::health::Status) -> (u32, u32) {
    use crate::engine::health::Status as S;
    match s {
        S::SockErr => (5, 2),
        S::L4Ok => (6, 3),
        S::L4Tout => (7, 2),
        S::L4Con => (8, 2),
        S::L6Ok => (9, 3),
        S::L6Tout => (10, 2),
        S::L6Rsp => (11, 2),
        S::L7Tout => (12, 2),
        S::L7Rsp => (13, 2),
        S::L7OkD => (15, 3),
        S::L7OkCD => (16, 4),
        S::L7Sts => (17, 2),
    }
}

/// `show info`: HAProxy 2.6's fields in its order; what we do not track has HAProxy's
/// neutral value.
fn show_info(state: &EngineState) -> String {
    let p = stats_http::proc_info(state);
    let c = &state.stats;
    let ver = crate::VERSION_FOR_SCRIPTS;
    let up = p.uptime_s;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let node = nix_hostname();
    let sum = |g: fn(&crate::engine::stats::counters::FeCounters) -> u64| -> u64 {
        c.fe.iter().map(g).sum()
    };
    let cum_conns = sum(|x| x.cum_conn.load(std::sync::atomic::Ordering::Relaxed));
    let cum_req = sum(|x| x.cum_req.load(std::sync::atomic::Ordering::Relaxed));
    let bytes_out = sum(|x| x.bytes_out.load(std::sync::atomic::Ordering::Relaxed));
    let max_rate =
        c.fe.iter()
            .map(|x| x.cps_max.load(std::sync::atomic::Ordering::Relaxed))
            .max()
            .unwrap_or(0);
    let max_sess =
        c.fe.iter()
            .map(|x| x.sps_max.load(std::sync::atomic::Ordering::Relaxed))
            .max()
            .unwrap_or(0);
    let listeners: usize = state
        .config
        .frontends
        .iter()
        .filter(|f| !f.disabled)
        .map(|f| {
            f.binds
                .iter()
                .map(|b| b.sockets.len() + b.inherited_fds.len())
                .sum::<usize>()
        })
        .sum::<usize>()
        + state.config.global.stats_sockets.len();
    let mut s = String::new();
    let mut f = |k: &str, v: String| {
        s.push_str(k);
        s.push_str(": ");
        s.push_str(&v);
        s.push('\n');
    };
    f("Name", "HAProxy".into());
    f("Version", ver.into());
    f("Release_date", stats_http::release_date());
    f("Nbthread", p.nbthread.to_string());
    f("Nbproc", "1".into());
    f("Process_num", "1".into());
    f("Pid", p.pid.to_string());
    f(
        "Uptime",
        format!(
            "{}d {}h{:02}m{:02}s",
            up / 86400,
            (up % 86400) / 3600,
            (up % 3600) / 60,
            up % 60
        ),
    );
    f("Uptime_sec", up.to_string());
    for k in ["Memmax_MB", "PoolAlloc_MB", "PoolUsed_MB", "PoolFailed"] {
        f(k, "0".into());
    }
    f("Ulimit-n", p.ulimit_n.to_string());
    f("Maxsock", p.maxsock.to_string());
    f("Maxconn", p.maxconn.to_string());
    f("Hard_maxconn", p.maxconn.to_string());
    f("CurrConns", p.cur_conns.to_string());
    f("CumConns", cum_conns.to_string());
    f("CumReq", cum_req.to_string());
    for k in [
        "MaxSslConns",
        "CurrSslConns",
        "CumSslConns",
        "Maxpipes",
        "PipesUsed",
        "PipesFree",
    ] {
        f(k, "0".into());
    }
    f("ConnRate", p.conn_rate.to_string());
    f("ConnRateLimit", "0".into());
    f("MaxConnRate", max_rate.to_string());
    f("SessRate", p.conn_rate.to_string());
    f("SessRateLimit", "0".into());
    f("MaxSessRate", max_sess.to_string());
    for k in [
        "SslRate",
        "SslRateLimit",
        "MaxSslRate",
        "SslFrontendKeyRate",
        "SslFrontendMaxKeyRate",
        "SslFrontendSessionReuse_pct",
        "SslBackendKeyRate",
        "SslBackendMaxKeyRate",
        "SslCacheLookups",
        "SslCacheMisses",
        "CompressBpsIn",
        "CompressBpsOut",
        "CompressBpsRateLim",
    ] {
        f(k, "0".into());
    }
    f("Tasks", p.tasks.to_string());
    f("Run_queue", p.run_queue.to_string());
    f("Idle_pct", p.idle_pct.to_string());
    f("node", node);
    f(
        "Stopping",
        u8::from(state.stop_level() > crate::engine::state::StopLevel::Running).to_string(),
    );
    // This CLI session is a job too.
    f("Jobs", (p.cur_conns + listeners + 1).to_string());
    f("Unstoppable Jobs", "0".into());
    f("Listeners", listeners.to_string());
    for k in [
        "ActivePeers",
        "ConnectedPeers",
        "DroppedLogs",
        "BusyPolling",
        "FailedResolutions",
    ] {
        f(k, "0".into());
    }
    f("TotalBytesOut", bytes_out.to_string());
    f("TotalSplicdedBytesOut", "0".into());
    f("BytesOutRate", p.out_bps.to_string());
    f("DebugCommandsIssued", "0".into());
    f("CumRecvLogs", "0".into());
    f("Build info", ver.into());
    for k in ["Memmax_bytes", "PoolAlloc_bytes", "PoolUsed_bytes"] {
        f(k, "0".into());
    }
    f("Start_time_sec", now.saturating_sub(up).to_string());
    f("Tainted", "0".into());
    s
}

fn nix_hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: gethostname writes at most buf.len() bytes into the buffer we own.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return String::new();
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}
