//! `mode tcp`: an L4 tunnel between the client (plain or TLS-terminated) and a server of the
//! frontend's backend.
//!
//! Content inspection first (`tcp-request inspect-delay` and `tcp-request content`, see
//! `engine::inspect`): the frontend's rules, then, once the backend is known, the backend's;
//! the bytes read meanwhile are replayed to the server.
//! Backend choice: the first `use_backend` whose condition holds (on the connection and the
//! inspected bytes, see [`choose_backend`]), else `default_backend`. Server choice:
//! stick-table persistence, else the balancer (`rdp-cookie` hashes the inspected bytes),
//! through HAProxy's queues when servers are at `maxconn` (`persist::queue`).
//! Connect: `timeout connect` per attempt, `retries` more attempts on failure with HAProxy's
//! 1 s turn-around after an immediate error (not after a timeout), and with
//! `option redispatch` the last retry goes to another server. No usable server, or every
//! attempt failed: the client connection is closed at once.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use super::conn::{ClientStream, ConnCtx, ConnInfo};
use super::inspect::{self, Inspection, Outcome};
use super::pump::{tunnel, TunnelTimeouts};
use super::server_conn;
use super::state::{pick_server, unless_killed, ServerConnGuard};
use crate::balance::keys::source_key;
use crate::config::ir::{Acl, Backend, Balance, Frontend, SectionKind};

/// HAProxy's pause between connection attempts after an immediate failure.
const TURN_AROUND: Duration = Duration::from_millis(1000);

fn ms(v: Option<u32>) -> Option<Duration> {
    v.map(|m| Duration::from_millis(u64::from(m)))
}

/// The backend a TCP frontend sends a connection to: the first `use_backend` whose
/// condition holds, else `default_backend`. Conditions see the connection and the bytes the
/// inspection buffered (HAProxy evaluates them as final): with no inspection, layer-4 fetches
/// (`src`, `dst_port`, `ssl_fc_sni`...) have values while HTTP and payload fetches have none
/// and their ACLs do not match, as in HAProxy.
pub fn choose_backend(ctx: &ConnCtx, info: &ConnInfo, insp: &Inspection) -> Option<usize> {
    let fe = ctx.frontend_ir()?;
    let l6 = insp.l6(true);
    let view = insp.view(&l6, info, ctx, None);
    fe.use_backend
        .iter()
        .find(|u| super::http::acl::cond_ok(&view, &fe.acls, u.cond.as_ref()))
        .map(|u| u.backend)
        .or(fe.default_backend)
}

/// The ACLs a backend's conditions index: a `listen`'s are on its frontend side.
fn backend_acls<'a>(ctx: &'a ConnCtx, be: &'a Backend) -> &'a [Acl] {
    if be.kind == SectionKind::Listen {
        if let Some(fe) = ctx
            .config()
            .frontends
            .iter()
            .find(|f| f.kind == SectionKind::Listen && f.name == be.name)
        {
            return &fe.acls;
        }
    }
    &be.acls
}

/// A `listen`'s traffic to itself: HAProxy runs its `tcp-request content` rules once.
fn same_proxy(fe: &Frontend, be: &Backend) -> bool {
    fe.kind == SectionKind::Listen && be.kind == SectionKind::Listen && fe.name == be.name
}

/// A `tcp-request content reject`: counted as a denied request of the frontend.
fn denied(ctx: &ConnCtx) {
    if let Some(f) = ctx.state.stats.fe.get(ctx.frontend) {
        f.denied_req.fetch_add(1, Ordering::Relaxed);
    }
}

/// Serves one TCP-mode client connection to its end.
pub async fn serve(mut client: ClientStream, info: ConnInfo, ctx: ConnCtx) {
    let mut alog = super::accesslog::TcpLog::begin(&ctx, &info);
    let Some(fe) = ctx.frontend_ir() else {
        return;
    };
    let client_timeout = ms(fe.timeouts.client);
    let mut insp = Inspection::default();
    let fe_rules = &fe.tcp_request;
    match inspect::run(
        &mut client,
        &mut insp,
        &ctx,
        &info,
        &fe.acls,
        &fe_rules.content,
        fe_rules.inspect_delay,
        client_timeout,
        None,
    )
    .await
    {
        Outcome::Accept => {}
        Outcome::Reject => {
            denied(&ctx);
            alog.ended_early(*b"PR", None, insp.buf.len());
            return;
        }
        Outcome::ClientTimeout => {
            alog.ended_early(*b"cR", choose_backend(&ctx, &info, &insp), insp.buf.len());
            return;
        }
    }
    let Some(be_idx) = choose_backend(&ctx, &info, &insp) else {
        tracing::debug!("no backend for connection from {}", info.peer);
        return;
    };
    let _be_slot = crate::engine::stats::BeSlot::new(&ctx.state, be_idx, false);
    if let Some((be, _)) = ctx
        .backend(be_idx)
        .filter(|(be, _)| !be.tcp_request.content.is_empty() && !same_proxy(fe, be))
    {
        let rules = &be.tcp_request;
        let acls = backend_acls(&ctx, be);
        match inspect::run(
            &mut client,
            &mut insp,
            &ctx,
            &info,
            acls,
            &rules.content,
            rules.inspect_delay,
            client_timeout,
            Some(be_idx),
        )
        .await
        {
            Outcome::Accept => {}
            Outcome::Reject => {
                denied(&ctx);
                alog.ended_early(*b"PR", Some(be_idx), insp.buf.len());
                return;
            }
            Outcome::ClientTimeout => {
                alog.ended_early(*b"cR", Some(be_idx), insp.buf.len());
                return;
            }
        }
    }
    alog.queued(be_idx);
    let Some((mut server, guard, srv_idx)) = connect_backend(&ctx, be_idx, &info, &insp).await
    else {
        return;
    };
    alog.connected(srv_idx, &server);
    let (Some(fe), Some((be, _))) = (ctx.frontend_ir(), ctx.backend(be_idx)) else {
        return;
    };
    // The inspected bytes go first, under `timeout server`; the buffer is freed before the
    // tunnel starts.
    let replayed = insp.buf.len() as u64;
    if replayed > 0 {
        let write = server.write_all(&insp.buf);
        let ok = match ms(be.timeouts.server) {
            Some(t) => matches!(tokio::time::timeout(t, write).await, Ok(Ok(()))),
            None => write.await.is_ok(),
        };
        if !ok {
            tracing::debug!(
                "{}: could not send the inspected request to the server",
                be.name
            );
            return;
        }
    }
    drop(insp);
    let t = TunnelTimeouts::from_ir(&fe.timeouts, &be.timeouts);
    // `on-marked-down shutdown-sessions`: the tunnel (both sockets) is dropped when the
    // server kills its sessions.
    // (Borrowed by `unless_killed`, so that the tunnel's state is not stored twice.)
    let mut pump = tunnel(client, server, t);
    let Some(mut stats) = unless_killed(Some(&guard), &mut pump).await else {
        alog.killed();
        tracing::debug!("{}: session killed (server marked down)", be.name);
        return;
    };
    stats.client_to_server += replayed;
    alog.tunnel_done(&stats);
    let (c2s, s2c) = (stats.client_to_server, stats.server_to_client);
    crate::engine::stats::tcp_session_bytes(&ctx, be_idx, srv_idx, c2s, s2c);
    tracing::debug!(
        "{}/{} {} -> {}: {:?}",
        fe.name,
        be.servers
            .get(srv_idx)
            .map(|s| s.name.as_str())
            .unwrap_or("?"),
        info.peer,
        be.name,
        stats
    );
}

/// Connects to a server of backend `be_idx` with retries and redispatch. Returns the
/// connected stream, a guard counting it on the server, and the server index.
pub async fn connect_backend(
    ctx: &ConnCtx,
    be_idx: usize,
    info: &ConnInfo,
    insp: &Inspection,
) -> Option<(TcpStream, ServerConnGuard, usize)> {
    let (be, bs) = ctx.backend(be_idx)?;
    bs.total_conns.fetch_add(1, Ordering::Relaxed);
    let connect_timeout = ms(be.timeouts.connect);
    // `balance source` hashes the client address, `rdp-cookie` the inspected bytes (the
    // balancer round-robins when they hold no complete cookie); other algorithms need no
    // key in TCP mode.
    let src = matches!(be.balance, Balance::Source).then(|| source_key(&info.peer.ip()));
    let key = match be.balance {
        Balance::Source => src.as_ref().map(|k| k.as_bytes()),
        Balance::RdpCookie { .. } => Some(insp.buf.as_slice()),
        _ => None,
    };
    // Stick-table persistence first (`engine::persist`), else the balancer.
    let l6 = insp.l6(true);
    let mut pers = crate::engine::persist::Txn::tcp_request(ctx, be_idx, info, insp.parts(), &l6);
    // A slot on the chosen server, waiting in HAProxy's queues when servers are at their
    // `maxconn` (up to `timeout queue`, else `timeout connect`), as for HTTP.
    let wait = be
        .timeouts
        .queue
        .or(be.timeouts.connect)
        .map(|ms| Duration::from_millis(u64::from(ms)));
    let (mut srv, first_guard) = match crate::engine::persist::tcp_server(&pers, be, bs) {
        Some(i)
            if be
                .servers
                .get(i)
                .is_some_and(|s| s.maxconn.is_none_or(|m| m == 0)) =>
        {
            (i, None)
        }
        _ => {
            let (i, g) = pers.acquire(ctx, be_idx, key, wait).await?;
            (i, Some(g))
        }
    };
    let mut held = first_guard.map(|g| (srv, g));
    ctx.state.stats.lb_pick(be_idx, srv);
    let mut prev = srv;
    let attempts = be.retries.saturating_add(1);
    for attempt in 0..attempts {
        let last = attempt + 1 == attempts;
        if attempt > 0 && be.redispatch && last {
            // HAProxy redispatches on the last retry by default.
            if let Some(other) = pick_server(be, bs, Some(srv)) {
                srv = other;
            }
        }
        let (Some(s), Some(st)) = (be.servers.get(srv), bs.servers.get(srv)) else {
            return None;
        };
        if attempt > 0 {
            ctx.state.stats.srv_retry(be_idx, prev, srv);
        }
        prev = srv;
        super::accesslog::tcp_trying(srv);
        let addr = s.resolved?;
        let started = Instant::now();
        let proxy = s.send_proxy.map(|p| (p, info));
        match server_conn::connect(addr, connect_timeout, proxy).await {
            Ok(stream) => {
                // Stick stores are written once connected, as HAProxy does in TCP mode.
                pers.commit_stores(ctx, be_idx, srv);
                let guard = match held.take() {
                    Some((i, g)) if i == srv => g,
                    _ => st.conn_guard(),
                };
                let cur = st.cur_conns.load(Ordering::Relaxed);
                ctx.state.stats.srv_attempt(be_idx, srv, cur);
                ctx.state.stats.srv_connected(be_idx, srv, false);
                return Some((stream, guard, srv));
            }
            Err(e) => {
                st.failed_conns.fetch_add(1, Ordering::Relaxed);
                tracing::debug!("connect to {}/{} ({}) failed: {e}", be.name, s.name, addr);
                if last {
                    ctx.state.stats.srv_conn_failed(be_idx, srv);
                    break;
                }
                if e.kind() != std::io::ErrorKind::TimedOut {
                    let pause = connect_timeout.map_or(TURN_AROUND, |c| c.min(TURN_AROUND));
                    tokio::time::sleep(pause.saturating_sub(started.elapsed())).await;
                }
                // A server that went DOWN meanwhile is not retried.
                if !st.is_usable() {
                    srv = pick_server(be, bs, Some(srv))?;
                }
            }
        }
    }
    None
}
