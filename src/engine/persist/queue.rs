//! HAProxy's request queues for servers with `maxconn`: a per-backend queue for requests
//! the balancer could not place (every usable server full), and a per-server queue for
//! requests bound to one server (cookie or stick-table persistence), bounded by the
//! server's `maxqueue`.
//!
//! As in HAProxy (`assign_server_and_queue()`, `process_srv_queue()`):
//! - a request bound to a server takes a slot when the server is below `maxconn` and
//!   nobody waits for it; otherwise it waits in the server's queue, unless that queue
//!   already holds `maxqueue` requests: then the caller gets [`Acquire::Full`] (HAProxy
//!   answers 503, or redispatches with `option redispatch`);
//! - the backend queue has no length limit;
//! - a slot freed on a server goes at once to the oldest waiter among that server's queue
//!   and the backend queue (FIFO), so a newcomer never overtakes a waiting request;
//! - waiting lasts at most `timeout queue` (the caller passes `timeout connect` when it is
//!   unset), then [`Acquire::Timeout`] (503);
//! - "below `maxconn`" is HAProxy's dynamic limit (`srv_dynamic_maxconn()`, see
//!   [`ServerState::maxconn_now`]): with `minconn`, it follows the backend's load (queued
//!   streams included) up to `maxconn` at `fullconn`; during a slow start it ramps up.
//!
//! The hand-off runs in the slot's release path ([`SlotHook`], called when a
//! `ServerConnGuard` drops), as HAProxy's `process_srv_queue()`; a 50 ms tick also
//! dispatches for a server that became usable (back UP, out of maintenance) or is in its
//! slow start, as HAProxy's `pendconn_grab_from_px()`. A limit raised by a growing load
//! alone takes effect at the next release, as in HAProxy.
//!
//! [`ServerState::maxconn_now`]: crate::engine::state::ServerState::maxconn_now

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use tokio::sync::oneshot;

use crate::config::ir::Backend;
use crate::engine::state::{pick_server_with_key, BackendState, ServerConnGuard, ServerState};

type Slot = (usize, ServerConnGuard);

struct Waiter {
    seq: u64,
    tx: oneshot::Sender<Slot>,
}

#[derive(Default)]
struct Inner {
    seq: u64,
    backend: VecDeque<Waiter>,
    servers: Vec<VecDeque<Waiter>>,
    /// Each server's usability at the previous tick (to spot servers that became usable).
    usable: Vec<bool>,
}

fn prune(q: &mut VecDeque<Waiter>) {
    q.retain(|w| !w.tx.is_closed());
}

/// The queues of one backend.
pub struct BackendQueue {
    inner: Mutex<Inner>,
    /// Whether some server has `maxconn` (otherwise nothing ever waits).
    active: bool,
}

impl std::fmt::Debug for BackendQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (b, s) = self.lengths();
        f.debug_struct("BackendQueue")
            .field("backend", &b)
            .field("servers", &s)
            .finish()
    }
}

/// Installed on every server with `maxconn`: hands a released slot to the next waiter.
pub struct SlotHook {
    queue: Weak<BackendQueue>,
    server: usize,
}

impl std::fmt::Debug for SlotHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SlotHook")
            .field("server", &self.server)
            .finish()
    }
}

impl SlotHook {
    /// Called after the server's `cur_conns` went down by one.
    pub fn fire(&self, st: &Arc<ServerState>) {
        if let Some(q) = self.queue.upgrade() {
            q.dispatch_server(self.server, st);
        }
    }
}

/// The result of [`BackendQueue::acquire`].
#[derive(Debug)]
pub enum Acquire {
    /// A server and its slot (counted in its `cur_conns` until the guard drops).
    Slot(usize, ServerConnGuard),
    /// The designated server's queue is at `maxqueue`.
    Full,
    /// No usable server.
    NoServer,
    /// Waited `timeout queue` in vain.
    Timeout,
}

impl BackendQueue {
    /// Builds the queues of `be` and installs the release hooks on its servers.
    pub fn install(be: &Backend, bs: &BackendState) -> Arc<BackendQueue> {
        let active = be.servers.iter().any(|s| s.maxconn.is_some_and(|m| m > 0));
        let q = Arc::new(BackendQueue {
            inner: Mutex::new(Inner {
                servers: be.servers.iter().map(|_| VecDeque::new()).collect(),
                usable: bs.servers.iter().map(|st| st.is_usable()).collect(),
                ..Inner::default()
            }),
            active,
        });
        for (i, (s, st)) in be.servers.iter().zip(&bs.servers).enumerate() {
            if s.maxconn.is_some_and(|m| m > 0) {
                st.set_slot_hook(SlotHook {
                    queue: Arc::downgrade(&q),
                    server: i,
                });
            }
        }
        q
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waiting requests: (backend queue, per-server queues).
    pub fn lengths(&self) -> (usize, Vec<usize>) {
        let mut g = self.lock();
        prune(&mut g.backend);
        g.servers.iter_mut().for_each(prune);
        (
            g.backend.len(),
            g.servers.iter().map(VecDeque::len).collect(),
        )
    }

    /// Gives free slots of server `i` (below its current limit) to the oldest waiters (its
    /// own queue first in age order with the backend queue; backend waiters only if the
    /// server is usable).
    fn dispatch_server(&self, i: usize, st: &Arc<ServerState>) {
        let mut failed: Vec<Slot> = Vec::new();
        {
            let mut g = self.lock();
            let usable = st.is_usable();
            while st.has_room() {
                let own = g.servers.get(i).and_then(|q| q.front()).map(|w| w.seq);
                let be = g.backend.front().map(|w| w.seq).filter(|_| usable);
                let w = match (own, be) {
                    (Some(a), Some(b)) if b < a => g.backend.pop_front(),
                    (Some(_), _) => g.servers.get_mut(i).and_then(VecDeque::pop_front),
                    (None, Some(_)) => g.backend.pop_front(),
                    (None, None) => None,
                };
                let Some(w) = w else { break };
                if w.tx.is_closed() {
                    continue;
                }
                if let Err(slot) = w.tx.send((i, st.conn_guard())) {
                    failed.push(slot);
                }
            }
        }
        // Released outside the lock: dropping a guard fires the hook again.
        drop(failed);
    }

    /// The tick: dispatches for the servers that became usable since the previous tick or
    /// are in their slow start (HAProxy's `pendconn_grab_from_px()` triggers), and for idle
    /// usable servers (one that went DOWN and back UP between two ticks).
    fn dispatch_all(&self, be: &Backend, bs: &BackendState) {
        for (i, (s, st)) in be.servers.iter().zip(&bs.servers).enumerate() {
            if s.maxconn.is_none_or(|m| m == 0) {
                continue;
            }
            let usable = st.is_usable();
            let newly = {
                let mut g = self.lock();
                match g.usable.get_mut(i) {
                    Some(prev) => !std::mem::replace(prev, usable) && usable,
                    None => false,
                }
            };
            let idle = usable && st.cur_conns.load(std::sync::atomic::Ordering::Acquire) == 0;
            if newly || idle || st.warmup_left().is_some() {
                self.dispatch_server(i, st);
            }
        }
    }

    fn forget(&self, seq: u64) -> bool {
        let mut g = self.lock();
        let Inner {
            backend, servers, ..
        } = &mut *g;
        for q in std::iter::once(backend).chain(servers.iter_mut()) {
            if let Some(p) = q.iter().position(|w| w.seq == seq) {
                q.remove(p);
                return true;
            }
        }
        false
    }

    /// A server and a slot on it: `target` when persistence designates one (waiting in its
    /// queue when it is full), else the balancer's choice (`key` as
    /// `upstream::balance_key` computes it), waiting in the backend queue when every
    /// usable server is full. `wait` bounds the wait (`None`: no limit).
    pub async fn acquire(
        &self,
        be: &Backend,
        bs: &BackendState,
        target: Option<usize>,
        key: Option<&[u8]>,
        wait: Option<Duration>,
    ) -> Acquire {
        let (seq, mut rx) = {
            let mut g = self.lock();
            g.seq += 1;
            let seq = g.seq;
            // (The channel is made only when the request waits: most take a slot at once.)
            let rx = match target {
                Some(i) => {
                    let (Some(srv), Some(st)) = (be.servers.get(i), bs.servers.get(i)) else {
                        return Acquire::NoServer;
                    };
                    if srv.maxconn.is_none_or(|m| m == 0) {
                        return Acquire::Slot(i, st.conn_guard());
                    }
                    let Some(q) = g.servers.get_mut(i) else {
                        return Acquire::NoServer;
                    };
                    prune(q);
                    if q.is_empty() && st.has_room() {
                        return Acquire::Slot(i, st.conn_guard());
                    }
                    if srv
                        .maxqueue
                        .is_some_and(|mq| mq > 0 && q.len() >= mq as usize)
                    {
                        return Acquire::Full;
                    }
                    let (tx, rx) = oneshot::channel();
                    q.push_back(Waiter { seq, tx });
                    rx
                }
                None => {
                    prune(&mut g.backend);
                    if g.backend.is_empty() || !self.active {
                        if let Some(i) = pick_server_with_key(be, bs, None, key) {
                            if let Some(st) = bs.servers.get(i) {
                                return Acquire::Slot(i, st.conn_guard());
                            }
                        }
                    }
                    let any_usable = be
                        .servers
                        .iter()
                        .zip(&bs.servers)
                        .any(|(s, st)| s.resolved.is_some() && st.is_usable());
                    if !self.active || !any_usable {
                        return Acquire::NoServer;
                    }
                    let (tx, rx) = oneshot::channel();
                    g.backend.push_back(Waiter { seq, tx });
                    rx
                }
            };
            (seq, rx)
        };
        let deadline = wait.map(|w| tokio::time::Instant::now() + w);
        loop {
            let tick = tokio::time::sleep(Duration::from_millis(50));
            let timeout = async {
                match deadline {
                    Some(d) => tokio::time::sleep_until(d).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                r = &mut rx => {
                    return match r {
                        Ok((i, g)) => Acquire::Slot(i, g),
                        Err(_) => Acquire::NoServer,
                    };
                }
                _ = tick => self.dispatch_all(be, bs),
                _ = timeout => {
                    if !self.forget(seq) {
                        // Popped meanwhile: the slot is in the channel (or was refused).
                        if let Ok((i, g)) = rx.try_recv() {
                            return Acquire::Slot(i, g);
                        }
                    }
                    return Acquire::Timeout;
                }
            }
        }
    }
}
