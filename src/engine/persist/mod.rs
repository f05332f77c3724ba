//! Persistence and queueing: cookie persistence ([`cookie`]), stick tables ([`stick`]) and
//! HAProxy's backend/server queues ([`queue`]), plus the per-transaction state that ties
//! them to the HTTP and TCP engines ([`Txn`]).
//!
//! Order of events, as in HAProxy 2.6:
//! 1. request: the backend's `http-request` rules, then the persistence cookie (which may
//!    designate a server and rewrites the `Cookie` header), then the `stick` rules (which
//!    designate a server only if the cookie did not);
//! 2. server choice: the designated server (its queue when full, `maxqueue` → 503 or, with
//!    `option redispatch`, load balancing), else the balancer (the backend queue when every
//!    server is full);
//! 3. connect, retries; a redispatch to another server ends the "direct" access;
//! 4. response head (HTTP) or connection established (TCP): pending stick stores are
//!    written with the server that was used; then (HTTP) the `http-response` rules, then
//!    the server's `Set-Cookie` headers and the inserted cookie.
//!
//! [`Txn::ck`] and [`Txn::sck`] are HAProxy's cookie flags for `%tsc` (see
//! [`Txn::tsc_cookie_chars`]); the HTTP transaction returns them in `Outcome::persist`.
//!
//! Known differences with HAProxy 2.6.12:
//! - headers of the same name are grouped (hyper's `HeaderMap`): an inserted `Set-Cookie`
//!   or `Cache-control` sits next to the server's headers of that name, where HAProxy
//!   appends it after all the others;
//! - hash balancing (`source`, `uri`, `hdr`...) skips full servers and the request waits in
//!   the backend queue, where HAProxy queues it on the hashed server (with its `maxqueue`);
//! - TCP mode does not queue: a sticky server at `maxconn` is bypassed (balanced);
//! - local replies (a 503 after persistence was decided...) report default cookie flags.
//!
//! Refused at load: `stick store-response`, table `peers` and `store`, `track-sc*`,
//! `non-stick`, `force-persist`/`ignore-persist`, `cookie ... dynamic`.

pub mod cookie;
pub mod queue;
pub mod stick;

use std::sync::Arc;

use hyper::http::{request, HeaderMap, Method};

use crate::config::ir::{Acl, Backend, Config, Mode, SectionKind, Server};
use crate::engine::conn::{ConnCtx, ConnInfo};
use crate::engine::http::acl::cond_ok;
use crate::engine::http::sample::{fetch, ReqView};
use crate::engine::state::{BackendState, ServerState};

pub use cookie::{CkFlag, SckFlag};
pub use queue::{Acquire, BackendQueue};

/// HAProxy keeps at most this many pending stores per stream (`s->store[8]`).
const MAX_STORES: usize = 8;

/// Runtime persistence state of an engine: stick tables (indexed like
/// `Config::stick_tables`) and backend queues (indexed like `Config::backends`).
#[derive(Debug)]
pub struct Runtime {
    pub tables: Vec<stick::Table>,
    pub queues: Vec<Arc<BackendQueue>>,
}

impl Runtime {
    /// Builds the tables and the queues, and installs the queue hooks on the servers.
    /// (A `Vec` so that the caller's `collect()` keeps its inferred type.)
    #[allow(clippy::ptr_arg)]
    pub fn new(config: &Config, backends: &Vec<BackendState>) -> Runtime {
        Runtime {
            tables: config
                .stick_tables
                .iter()
                .cloned()
                .map(stick::Table::new)
                .collect(),
            queues: config
                .backends
                .iter()
                .zip(backends)
                .map(|(be, bs)| BackendQueue::install(be, bs))
                .collect(),
        }
    }
}

/// HAProxy's `SRV_ST_STOPPED`: DOWN by health check, in maintenance, or without address.
fn stopped(s: &Server, st: &ServerState) -> bool {
    !st.is_up() || st.is_maint() || s.resolved.is_none()
}

fn now_secs() -> u32 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as u32)
        .unwrap_or(0)
}

/// The ACLs a backend's conditions refer to (a `listen` keeps them on its frontend side).
fn backend_acls<'a>(config: &'a Config, be: &'a Backend) -> &'a [Acl] {
    if be.kind == SectionKind::Listen {
        if let Some(fe) = config
            .frontends
            .iter()
            .find(|f| f.kind == SectionKind::Listen && f.name == be.name)
        {
            return &fe.acls;
        }
    }
    &be.acls
}

/// Persistence state of one transaction (HTTP) or connection (TCP).
#[derive(Debug, Clone, Default)]
pub struct Txn {
    /// The server persistence designates (HAProxy's `SF_ASSIGNED` from a cookie or a
    /// stick table).
    pub server: Option<usize>,
    /// HAProxy's `SF_DIRECT`: the request goes to the designated server.
    pub direct: bool,
    /// Request cookie flag.
    pub ck: CkFlag,
    /// Response cookie flag.
    pub sck: SckFlag,
    cookie: cookie::ReqOutcome,
    post: bool,
    cacheable_method: bool,
    /// Pending stores: (table, key).
    stores: Vec<(usize, Vec<u8>)>,
}

impl Txn {
    /// The two cookie characters of `%tsc` (`--` when the backend has no cookie mode, as
    /// HAProxy prints them).
    pub fn tsc_cookie_chars(&self, be: Option<&Backend>) -> [char; 2] {
        let active = be
            .and_then(|b| b.cookie.as_ref())
            .is_some_and(|c| c.mode != crate::config::ir::CookieMode::Passive || c.indirect);
        if active {
            [self.ck.as_char(), self.sck.as_char()]
        } else {
            ['-', '-']
        }
    }

    /// The request left the designated server (redispatch): the response is no longer a
    /// direct one.
    pub fn redispatched(&mut self) {
        self.direct = false;
    }

    /// Request side of an HTTP transaction: the persistence cookie (editing the `Cookie`
    /// headers) then the `stick` rules. `parts` are the request as the backend's rules
    /// left it.
    pub fn http_request(
        ctx: &ConnCtx,
        be_idx: usize,
        parts: &mut request::Parts,
        info: &ConnInfo,
    ) -> Txn {
        let mut t = Txn {
            post: parts.method == Method::POST,
            cacheable_method: matches!(
                parts.method,
                Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
            ),
            ..Txn::default()
        };
        let Some((be, bs)) = ctx.backend(be_idx) else {
            return t;
        };
        if let Some(c) = be.cookie.as_ref().filter(|_| be.mode == Mode::Http) {
            let servers: Vec<cookie::ServerView<'_>> = be
                .servers
                .iter()
                .zip(&bs.servers)
                .map(|(s, st)| cookie::ServerView {
                    cookie: s.cookie.as_deref(),
                    stopped: stopped(s, st),
                })
                .collect();
            let mut req = cookie::Request {
                cfg: c,
                servers: &servers,
                persist: be.persist,
                now: now_secs(),
                out: Default::default(),
            };
            req.run(&mut parts.headers);
            t.cookie = req.out;
            t.ck = req.out.flag;
            if let Some(i) = req.out.server {
                t.server = Some(i);
                t.direct = true;
            }
        }
        let view = ReqView {
            parts,
            info,
            ctx,
            backend: Some(be_idx),
            server: None,
            l6: None,
        };
        t.stick_rules(ctx, be_idx, &view);
        t
    }

    /// `stick` rules of a TCP connection: samples see the request bytes buffered by a
    /// `tcp-request content` inspection (`l6`, and `parts` when they hold an HTTP request).
    pub fn tcp_request(
        ctx: &ConnCtx,
        be_idx: usize,
        info: &ConnInfo,
        parts: &hyper::http::request::Parts,
        l6: &crate::engine::payload::L6<'_>,
    ) -> Txn {
        let mut t = Txn::default();
        if ctx
            .backend(be_idx)
            .is_some_and(|(be, _)| !be.stick_rules.is_empty())
        {
            let view = ReqView {
                parts,
                info,
                ctx,
                backend: Some(be_idx),
                server: None,
                l6: Some(l6),
            };
            t.stick_rules(ctx, be_idx, &view);
        }
        t
    }

    fn stick_rules(&mut self, ctx: &ConnCtx, be_idx: usize, view: &ReqView<'_>) {
        let Some((be, bs)) = ctx.backend(be_idx) else {
            return;
        };
        if be.stick_rules.is_empty() {
            return;
        }
        let config = ctx.config();
        let tables = &ctx.state.persist.tables;
        let acls = backend_acls(config, be);
        for rule in &be.stick_rules {
            // Only the first store rule of each table applies (match included).
            if rule.action.stores() && self.stores.iter().any(|(t, _)| *t == rule.table) {
                continue;
            }
            if !cond_ok(view, acls, rule.cond.as_ref()) {
                continue;
            }
            let Some(table) = tables.get(rule.table) else {
                continue;
            };
            let Some(value) = fetch(view, &rule.sample)
                .ok()
                .and_then(|v| v.into_iter().last())
            else {
                continue;
            };
            let Some(key) = table.key(&value) else {
                continue;
            };
            if rule.action.matches() {
                if let Some(stored) = table.lookup(&key) {
                    if self.server.is_none() {
                        let found = be
                            .servers
                            .iter()
                            .position(|s| s.name == stored.name)
                            .or_else(|| be.servers.iter().position(|s| s.id == stored.id));
                        if let Some(i) = found {
                            let usable = bs
                                .servers
                                .get(i)
                                .is_some_and(|st| !stopped(&be.servers[i], st));
                            if usable || be.persist {
                                self.server = Some(i);
                                self.direct = true;
                            }
                        }
                    }
                }
            }
            if rule.action.stores() && self.stores.len() < MAX_STORES {
                self.stores.push((rule.table, key));
            }
        }
    }

    /// The server of an HTTP request and a slot on it: the designated server (through its
    /// queue; when that queue is at `maxqueue`, load balancing with `option redispatch`,
    /// else nothing), or the balancer's choice (through the backend queue). `None`: 503.
    pub async fn acquire(
        &mut self,
        ctx: &ConnCtx,
        be_idx: usize,
        key: Option<&[u8]>,
        wait: Option<std::time::Duration>,
    ) -> Option<(usize, crate::engine::state::ServerConnGuard)> {
        let (be, bs) = ctx.backend(be_idx)?;
        let q = ctx.state.persist.queues.get(be_idx)?;
        let mut target = self.server.filter(|_| self.direct);
        loop {
            match q.acquire(be, bs, target, key, wait).await {
                Acquire::Slot(i, g) => return Some((i, g)),
                Acquire::Full if target.is_some() && be.redispatch => {
                    self.redispatched();
                    target = None;
                }
                Acquire::Full | Acquire::NoServer | Acquire::Timeout => return None,
            }
        }
    }

    /// Writes the pending stores with the server that was used (HTTP: on the response
    /// head; TCP: once connected).
    pub fn commit_stores(&mut self, ctx: &ConnCtx, be_idx: usize, srv_idx: usize) {
        if self.stores.is_empty() {
            return;
        }
        let Some((be, _)) = ctx.backend(be_idx) else {
            return;
        };
        let Some(srv) = be.servers.get(srv_idx) else {
            return;
        };
        for (t, key) in self.stores.drain(..) {
            if let Some(table) = ctx.state.persist.tables.get(t) {
                table.store(
                    key,
                    stick::Stored {
                        name: srv.name.clone(),
                        id: srv.id,
                    },
                );
            }
        }
    }

    /// Response side of an HTTP transaction (after the `http-response` rules): the server's
    /// `Set-Cookie` headers and the persistence cookie.
    pub fn http_response(
        &mut self,
        ctx: &ConnCtx,
        be_idx: usize,
        srv_idx: usize,
        status: u16,
        headers: &mut HeaderMap,
    ) {
        let Some((be, _)) = ctx.backend(be_idx) else {
            return;
        };
        let Some(c) = be.cookie.as_ref().filter(|_| be.mode == Mode::Http) else {
            return;
        };
        let rc = cookie::ResponseCtx {
            cfg: c,
            server_cookie: be.servers.get(srv_idx).and_then(|s| s.cookie.as_deref()),
            direct: self.direct && self.server == Some(srv_idx),
            req: self.cookie,
            post: self.post,
            cacheable_method: self.cacheable_method,
            status,
            now: now_secs(),
        };
        self.sck = cookie::response(&rc, headers);
    }
}

/// The server of a TCP connection: stick-table persistence if any (used only while it has a
/// free slot: TCP mode does not queue), else `None` (the caller balances).
pub fn tcp_server(t: &Txn, be: &Backend, bs: &BackendState) -> Option<usize> {
    let i = t.server?;
    let (s, st) = (be.servers.get(i)?, bs.servers.get(i)?);
    // Below its (dynamic) maxconn.
    (st.has_room() && s.resolved.is_some()).then_some(i)
}
