//! One HTTP transaction, independent of the client protocol: frontend `http-request` rules,
//! `redirect` rules, backend choice (`use_backend`/`default_backend`), backend rules,
//! `option forwardfor`, connection-mode headers, server choice, connect with `retries`,
//! forwarding over a pooled or fresh connection, `timeout server`, and `http-response`
//! rules. The HTTP/1 and HTTP/2 frontends turn the resulting [`Reply`] into bytes.

use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use hyper::body::Body as _;
use hyper::http::{header, request, HeaderValue, Method, Request, Response, StatusCode, Version};

use crate::config::ir::{Backend, ForwardFor, Frontend, HttpConnMode, HttpReuse, SectionKind};
use crate::engine::conn::{ConnCtx, ConnInfo};
use crate::engine::pump::TunnelTimeouts;
use crate::engine::state::{pick_server_with_key, ServerConnGuard};

use super::acl::cond_ok;
use super::body::{Activity, ReqBody};
use super::client::{self, connect, SendError, ServerBody, ServerConn, Upgraded};
use super::errors::{error_bytes, Origin};
use super::rules::{
    apply_request_rules, apply_response_rules, redirect_bytes, ReqViewOwned, RuleEnv, Verdict,
};
use super::upstream::{self, pool_take, ReturnTo, Reuse};
use super::ws;

/// Per client connection state shared by its transactions.
pub struct Session {
    pub ctx: ConnCtx,
    pub info: ConnInfo,
    requests: AtomicU64,
    /// The connection kept for this client under `http-reuse never` (allocated on first
    /// use: most sessions never need it).
    private: std::sync::OnceLock<Arc<Mutex<Option<ServerConn>>>>,
}

impl Session {
    fn private_slot(&self) -> &Arc<Mutex<Option<ServerConn>>> {
        self.private.get_or_init(|| Arc::new(Mutex::new(None)))
    }

    pub fn new(ctx: ConnCtx, info: ConnInfo) -> Arc<Session> {
        Arc::new(Session {
            ctx,
            info,
            requests: AtomicU64::new(0),
            private: std::sync::OnceLock::new(),
        })
    }
}

/// What to send back to the client.
pub enum Reply {
    /// A locally generated HTTP/1 response, to send verbatim (HTTP/1) or re-framed (HTTP/2).
    Local(Bytes),
    /// A server's response.
    Proxied(Box<Response<ServerBody>>),
    /// The server switched protocols (101, or 2xx to CONNECT): send the head, then tunnel.
    Upgrade(Box<UpgradeReply>),
}

pub struct UpgradeReply {
    pub head: Response<()>,
    /// The server connection, with what it sent past its response head.
    pub server: Upgraded,
    pub timeouts: TunnelTimeouts,
    /// The server's request guard (`cur_conns`), held for the tunnel's life.
    pub guard: Option<ServerConnGuard>,
}

/// A transaction's result.
pub struct Outcome {
    pub reply: Reply,
    /// The effective HTTP connection mode (frontend and backend merged).
    pub mode: HttpConnMode,
    /// The backend used, if any (for errorfiles of late errors).
    pub backend: Option<usize>,
    /// Persistence outcome: server designated, cookie flags for `%tsc` (default for
    /// local replies).
    pub persist: crate::engine::persist::Txn,
}

/// The server's interim (1xx) responses for an HTTP/1 client, serialised: queued by the
/// transaction, written by the client loop. Both run in the session's task and the queue is
/// only pushed to while the client loop polls the transaction, so the loop checks it after
/// each poll and needs no wake-up; nothing is allocated until an interim response arrives.
#[derive(Default)]
pub struct Interims {
    queued: std::sync::atomic::AtomicBool,
    list: Mutex<Vec<Bytes>>,
}

impl Interims {
    pub fn push(&self, b: Bytes) {
        if let Ok(mut l) = self.list.lock() {
            l.push(b);
            self.queued.store(true, Ordering::Release);
        }
    }

    /// The oldest queued response.
    pub fn pop(&self) -> Option<Bytes> {
        if !self.queued.load(Ordering::Acquire) {
            return None;
        }
        let mut l = self.list.lock().ok()?;
        let b = (!l.is_empty()).then(|| l.remove(0));
        if l.is_empty() {
            self.queued.store(false, Ordering::Release);
        }
        b
    }
}

/// A request entering a transaction.
pub struct TxnRequest<'a> {
    pub req: Request<ReqBody>,
    /// The lower-cased `Upgrade` protocol when the client asked to switch protocols.
    pub upgrade: Option<String>,
    /// Touched by the request body; `timeout server` runs from the last touch.
    pub activity: Activity,
    /// Where the server's interim (1xx) responses go, serialised, when the client can take
    /// them (HTTP/1).
    pub informational: Option<&'a Interims>,
    /// The access log record's marks (routed, queued, connected, answered).
    pub log: crate::engine::accesslog::TxnLog,
    /// The client connection's timer, for `timeout server` (HTTP/1; see `h1::serve_h1`).
    pub timer: Option<std::pin::Pin<&'a mut tokio::time::Sleep>>,
}

fn merge_mode(a: HttpConnMode, b: HttpConnMode) -> HttpConnMode {
    use HttpConnMode::*;
    match (a, b) {
        (Close, _) | (_, Close) => Close,
        (ServerClose, _) | (_, ServerClose) => ServerClose,
        _ => KeepAlive,
    }
}

fn ms(v: Option<u32>) -> Option<Duration> {
    v.map(|m| Duration::from_millis(u64::from(m)))
}

/// True when the backend is the backend half of the frontend's own `listen` section, whose
/// rules must then run only once.
fn same_listen(fe: &Frontend, be: &Backend) -> bool {
    fe.kind == SectionKind::Listen && be.kind == SectionKind::Listen && fe.name == be.name
}

fn local(reply: Bytes, mode: HttpConnMode, backend: Option<usize>) -> Outcome {
    Outcome {
        reply: Reply::Local(reply),
        mode,
        backend,
        persist: Default::default(),
    }
}

/// Runs one transaction to the point where a response head (or a local reply) is known,
/// counting it in the stats (`engine::stats::Txn`).
pub async fn run(sess: &Session, mut t: TxnRequest<'_>) -> Outcome {
    // Only HTTP/1 clients take interim responses: it tells them from HTTP/2 ones.
    let h1 = t.informational.is_some();
    let tx = crate::engine::stats::Txn::begin(&sess.ctx, &mut t.req, h1);
    let out = run_inner(sess, t, &tx).await;
    tx.end(out)
}

async fn run_inner(
    sess: &Session,
    mut t: TxnRequest<'_>,
    tx: &crate::engine::stats::Txn,
) -> Outcome {
    let ctx = &sess.ctx;
    let Some(fe) = ctx.frontend_ir() else {
        return local(
            error_bytes(500, Origin::Stream, &[], &[]),
            HttpConnMode::Close,
            None,
        );
    };
    let first = sess.requests.fetch_add(1, Ordering::Relaxed) == 0;
    let (mut parts, body) = t.req.into_parts();
    let mut owned = ReqViewOwned {
        info: sess.info.clone(),
        ctx: ctx.clone(),
        backend: None,
        server: None,
    };
    let fe_env = RuleEnv {
        acls: &fe.acls,
        proxy_name: &fe.name,
        fe_errorfiles: &fe.errorfiles,
        be_errorfiles: &[],
    };
    let mut mode = fe.http_conn_mode;

    // 1. Frontend http-request rules, then `redirect` rules.
    if let Verdict::Reply(r) = apply_request_rules(&fe.http_request, &fe_env, &mut parts, &owned) {
        tx.rule_reply(&fe.http_request, &r, None);
        return local(r, mode, None);
    }
    // The stats page (`stats uri`), checked after the http-request rules like HAProxy.
    let stats_ef: (&[_], &[_]) = (&[], &fe.errorfiles);
    if let Some(r) = crate::engine::stats::intercept(tx, fe.stats.as_ref(), &parts, stats_ef) {
        return local(r, mode, None);
    }
    {
        let view = owned.view(&parts);
        for rule in &fe.redirects {
            if cond_ok(&view, &fe.acls, rule.cond.as_ref()) {
                if let crate::config::ir::HttpAction::Redirect(r) = &rule.action {
                    tx.intercepted();
                    return local(redirect_bytes(r, &view), mode, None);
                }
            }
        }
    }

    // 2. Backend choice.
    let be_idx = {
        let view = owned.view(&parts);
        fe.use_backend
            .iter()
            .find(|u| cond_ok(&view, &fe.acls, u.cond.as_ref()))
            .map(|u| u.backend)
            .or(fe.default_backend)
    };
    t.log.routed();
    let Some((be, bs)) = be_idx.and_then(|i| ctx.backend(i)) else {
        return local(
            error_bytes(503, Origin::Stream, &[], &fe.errorfiles),
            mode,
            None,
        );
    };
    let be_idx = be_idx.unwrap_or(0);
    owned.backend = Some(be_idx);
    tx.backend(be_idx);
    mode = merge_mode(mode, be.http_conn_mode);
    let be_env = RuleEnv {
        acls: &be.acls,
        proxy_name: &be.name,
        fe_errorfiles: &fe.errorfiles,
        be_errorfiles: &be.errorfiles,
    };
    if !same_listen(fe, be) {
        if let Verdict::Reply(r) =
            apply_request_rules(&be.http_request, &be_env, &mut parts, &owned)
        {
            tx.rule_reply(&be.http_request, &r, Some(be_idx));
            return local(r, mode, Some(be_idx));
        }
        let ef: (&[_], &[_]) = (&be.errorfiles, &fe.errorfiles);
        if let Some(r) = crate::engine::stats::intercept(tx, be.stats.as_ref(), &parts, ef) {
            return local(r, mode, Some(be_idx));
        }
    }
    let err = |status: u16| error_bytes(status, Origin::Stream, &be.errorfiles, &fe.errorfiles);

    // 3. X-Forwarded-For.
    if let Some(ff) = be.forward_for.as_ref().or(fe.forward_for.as_ref()) {
        add_forwarded_for(&mut parts, ff, fe.forward_for.as_ref(), sess.info.peer.ip());
    }
    // Persistence: the cookie, then the stick rules (`engine::persist`).
    let mut pers = crate::engine::persist::Txn::http_request(ctx, be_idx, &mut parts, &sess.info);

    // 4. Connection headers towards the server.
    let upgrading = t.upgrade.is_some() || parts.method == Method::CONNECT;
    prepare_server_head(&mut parts, upgrading, mode);
    let ws_key = if t.upgrade.as_deref() == Some("websocket") {
        parts
            .headers
            .get(header::SEC_WEBSOCKET_KEY)
            .map(|v| v.as_bytes().to_vec())
    } else {
        None
    };

    // 5. Server, connection, request.
    bs.total_conns.fetch_add(1, Ordering::Relaxed);
    let has_resp_rules = !be.http_response.is_empty() || !fe.http_response.is_empty();
    let replayable = body.is_end_stream();
    // (A request to replay comes back from `client::send` intact: no copy needed for that.)
    let saved = has_resp_rules.then(|| clone_parts(&parts));
    let key = upstream::balance_key(be, &owned.view(&parts));
    let mut req = Some(Request::from_parts(parts, body));
    let connect_to = ms(be.timeouts.connect);
    let server_to = ms(be.timeouts.server);
    let mut policy = match (be.http_reuse, first) {
        (HttpReuse::Never, _) | (HttpReuse::Safe, true) => Reuse::Fresh,
        (HttpReuse::Aggressive, true) => Reuse::Proven,
        _ => Reuse::Any,
    };
    let ret_to = |mode: HttpConnMode, private: bool| match (mode, private) {
        (HttpConnMode::KeepAlive, true) => ReturnTo::Private(sess.private_slot().clone()),
        (HttpConnMode::KeepAlive, false) => ReturnTo::Pool,
        _ => ReturnTo::Close,
    };

    // The persistent server or the balancer's, through HAProxy's queues (`persist::queue`).
    let mut slot = None;
    t.log.queue_start();
    let Some(mut srv_idx) = tx
        .queued(async {
            let wait = ms(be.timeouts.queue).or(connect_to);
            let (i, g) = pers.acquire(ctx, be_idx, key.as_deref(), wait).await?;
            slot = Some(g);
            Some(i)
        })
        .await
    else {
        return local(err(503), mode, Some(be_idx));
    };
    t.log.queued(srv_idx);
    let mut failures: u32 = 0;
    let mut replays = 0;
    let (answer, conn, guard) = loop {
        let (Some(srv), Some(srv_state)) = (be.servers.get(srv_idx), bs.servers.get(srv_idx))
        else {
            return local(err(503), mode, Some(be_idx));
        };
        let Some(addr) = srv.resolved else {
            return local(err(503), mode, Some(be_idx));
        };
        // Counted in the server's current requests from now on.
        let guard = slot.take().unwrap_or_else(|| srv_state.conn_guard());
        tx.attempt(srv_idx, srv_state.cur_conns.load(Ordering::Relaxed));
        // A connection: the private one, a pooled one allowed by `http-reuse`, or a new one.
        let mut reused = true;
        // A PROXY protocol header describes one client: such connections stay private.
        let private = be.http_reuse == HttpReuse::Never || srv.send_proxy.is_some();
        let mut conn = if private {
            sess.private_slot()
                .lock()
                .ok()
                .and_then(|mut p| p.take())
                .filter(|c| c.addr == addr)
                .and_then(|mut c| (!c.is_closed()).then_some(c))
        } else {
            pool_take(addr, policy)
        };
        if conn.is_none() {
            reused = false;
            match connect(addr, connect_to, srv.send_proxy.map(|v| (v, &sess.info))).await {
                Ok(c) => conn = Some(c),
                Err(e) => {
                    tracing::debug!("connect to {addr} failed: {e}");
                    srv_state.failed_conns.fetch_add(1, Ordering::Relaxed);
                    failures += 1;
                    if failures > be.retries {
                        tx.conn_failed();
                        return local(err(503), mode, Some(be_idx));
                    }
                    drop(guard);
                    // HAProxy's turn-around timer: min(timeout connect, 1s) between attempts.
                    let pause = connect_to
                        .map_or(Duration::from_secs(1), |c| c.min(Duration::from_secs(1)));
                    tokio::time::sleep(pause).await;
                    if be.redispatch && failures == be.retries {
                        if let Some(other) =
                            pick_server_with_key(be, bs, Some(srv_idx), key.as_deref())
                        {
                            tx.repick(other);
                            srv_idx = other;
                            pers.redispatched();
                            t.log.redispatched();
                        }
                    }
                    tx.retry(srv_idx);
                    t.log.retry();
                    continue;
                }
            }
        }
        let Some(mut c) = conn else { continue };
        owned.server = Some(srv_idx);
        c.uses += 1;
        tx.connected(reused);
        t.log.connected(srv_idx);
        let Some(r) = req.take() else {
            return local(err(500), mode, Some(be_idx));
        };
        t.activity.touch();
        let send = client::send(&mut c, r, t.informational);
        let result = match server_to {
            Some(d) => tokio::select! {
                biased;
                r = send => Some(r),
                _ = t.activity.idle_for(d, t.timer.as_mut()) => None,
            },
            None => Some(send.await),
        };
        match result {
            None => {
                tx.failed_resp();
                return local(err(504), mode, Some(be_idx));
            }
            Some(Ok(answer)) => {
                tx.response(answer.head.status());
                t.log.response(&answer.head);
                break (answer, c, guard);
            }
            Some(Err(SendError {
                request: Some(r),
                unsent: true,
                ..
            })) if reused => {
                // The pooled connection was found closed when writing: nothing was sent.
                req = Some(*r);
                policy = Reuse::Fresh;
                continue;
            }
            Some(Err(e)) => {
                // The server closed a reused connection before answering: replay once on
                // a new connection when the request had no body (HAProxy retries such
                // requests too), else 502.
                if reused && replays == 0 && replayable {
                    if let Some(r) = e.request {
                        replays += 1;
                        req = Some(*r);
                        policy = Reuse::Fresh;
                        continue;
                    }
                }
                tracing::debug!("server error: {}", e.error);
                tx.failed_resp();
                return local(err(502), mode, Some(be_idx));
            }
        }
    };

    // 6. The response. Stick stores are written now, with the server actually used.
    pers.commit_stores(ctx, be_idx, srv_idx);
    let client::Answer {
        head: resp,
        body: plan,
    } = answer;
    let switching = resp.status() == StatusCode::SWITCHING_PROTOCOLS
        || (resp.status().is_success()
            && resp.status() != StatusCode::NO_CONTENT
            && upgrading
            && t.upgrade.is_none());
    if switching {
        if resp.status() == StatusCode::SWITCHING_PROTOCOLS && t.upgrade.is_none() {
            return local(err(502), mode, Some(be_idx));
        }
        if let Some(key) = &ws_key {
            let expected = ws::accept_for(key);
            let got = resp
                .headers()
                .get(header::SEC_WEBSOCKET_ACCEPT)
                .map(|v| v.as_bytes().to_vec());
            if got.as_deref() != Some(expected.as_bytes()) {
                return local(err(502), mode, Some(be_idx));
            }
        }
        let server = conn.into_upgraded();
        let (mut rparts, ()) = resp.into_parts();
        let status = rparts.status.as_u16();
        pers.http_response(ctx, be_idx, srv_idx, status, &mut rparts.headers);
        let head = Response::from_parts(rparts, ());
        let timeouts = TunnelTimeouts::from_ir(&fe.timeouts, &be.timeouts);
        return Outcome {
            reply: Reply::Upgrade(Box::new(UpgradeReply {
                head,
                server,
                timeouts,
                guard: Some(guard),
            })),
            mode,
            backend: Some(be_idx),
            persist: pers,
        };
    }
    let (mut rparts, ()) = resp.into_parts();
    if let Some(p) = saved.as_ref().filter(|_| has_resp_rules) {
        let view = owned.view(p);
        let rules_be = if same_listen(fe, be) {
            &[][..]
        } else {
            &be.http_response[..]
        };
        if let Some(r) = apply_response_rules(rules_be, &be_env, &mut rparts, &view) {
            return local(r, mode, Some(be_idx));
        }
        if let Some(r) = apply_response_rules(
            &fe.http_response,
            &be_env_for_fe(fe, be),
            &mut rparts,
            &view,
        ) {
            return local(r, mode, Some(be_idx));
        }
    }
    // The server's Set-Cookie headers and the persistence cookie, after the rules.
    let status = rparts.status.as_u16();
    pers.http_response(ctx, be_idx, srv_idx, status, &mut rparts.headers);
    let private = be.http_reuse == HttpReuse::Never
        || be
            .servers
            .get(srv_idx)
            .is_some_and(|s| s.send_proxy.is_some());
    let body = ServerBody::new(plan, conn, ret_to(mode, private), Some(guard), server_to);
    Outcome {
        reply: Reply::Proxied(Box::new(Response::from_parts(rparts, body))),
        mode,
        backend: Some(be_idx),
        persist: pers,
    }
}

fn be_env_for_fe<'a>(fe: &'a Frontend, be: &'a Backend) -> RuleEnv<'a> {
    RuleEnv {
        acls: &fe.acls,
        proxy_name: &fe.name,
        fe_errorfiles: &fe.errorfiles,
        be_errorfiles: &be.errorfiles,
    }
}

/// A copy of a request head (extensions are not copied).
pub fn clone_parts(p: &request::Parts) -> request::Parts {
    let mut b = Request::builder()
        .method(p.method.clone())
        .uri(p.uri.clone())
        .version(p.version);
    if let Some(h) = b.headers_mut() {
        *h = p.headers.clone();
    }
    let (parts, ()) = b
        .body(())
        .map(|r| r.into_parts())
        .unwrap_or_else(|_| Request::new(()).into_parts());
    parts
}

/// `option forwardfor [except <net>] [header <name>] [if-none]`.
fn add_forwarded_for(
    parts: &mut request::Parts,
    ff: &ForwardFor,
    fe_ff: Option<&ForwardFor>,
    ip: IpAddr,
) {
    let ip = ip.to_canonical();
    let excluded = |f: &ForwardFor| f.except.is_some_and(|(net, len)| in_net(ip, net, len));
    if excluded(ff) || fe_ff.is_some_and(excluded) {
        return;
    }
    let Ok(name) = header::HeaderName::from_bytes(ff.header.as_bytes()) else {
        return;
    };
    if ff.if_none && parts.headers.contains_key(&name) {
        return;
    }
    if let Ok(v) = HeaderValue::from_str(&ip.to_string()) {
        parts.headers.append(name, v);
    }
}

fn in_net(ip: IpAddr, net: IpAddr, len: u8) -> bool {
    match (ip, net.to_canonical()) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let len = u32::from(len.min(32));
            let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
            (u32::from(a) & mask) == (u32::from(n) & mask)
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let len = u32::from(len.min(128));
            let mask = if len == 0 {
                0
            } else {
                u128::MAX << (128 - len)
            };
            (u128::from(a) & mask) == (u128::from(n) & mask)
        }
        _ => false,
    }
}

/// Connection-level headers towards the server, as HAProxy 2.6 rewrites them: the `close`
/// and `keep-alive` tokens leave `Connection` (other tokens and other hop-by-hop headers
/// are forwarded), `close` is added under `http-server-close`/`httpclose`, and HTTP/1.0
/// requests in keep-alive mode get `keep-alive`. Upgrade requests keep `Connection` as sent.
/// HTTP/2 requests become HTTP/1.1.
fn prepare_server_head(parts: &mut request::Parts, upgrading: bool, mode: HttpConnMode) {
    if parts.version != Version::HTTP_10 {
        parts.version = Version::HTTP_11;
    }
    if upgrading {
        return;
    }
    if mode == HttpConnMode::KeepAlive
        && parts.version != Version::HTTP_10
        && !parts.headers.contains_key(header::CONNECTION)
    {
        // Nothing to add, nothing to remove (the usual keep-alive request).
        return;
    }
    let mut tokens: Vec<String> = Vec::new();
    for v in parts.headers.get_all(header::CONNECTION) {
        for t in String::from_utf8_lossy(v.as_bytes()).split(',') {
            let t = t.trim();
            if !t.is_empty()
                && !t.eq_ignore_ascii_case("close")
                && !t.eq_ignore_ascii_case("keep-alive")
            {
                tokens.push(t.to_string());
            }
        }
    }
    match mode {
        HttpConnMode::KeepAlive => {
            if parts.version == Version::HTTP_10 {
                tokens.push("keep-alive".into());
            }
        }
        _ => tokens.push("close".into()),
    }
    // `insert` keeps the header where it was, as HAProxy edits it in place.
    match HeaderValue::from_str(&tokens.join(", ")) {
        Ok(v) if !tokens.is_empty() => {
            parts.headers.insert(header::CONNECTION, v);
        }
        _ => {
            parts.headers.remove(header::CONNECTION);
        }
    }
}

pub use upstream::pool_idle;
