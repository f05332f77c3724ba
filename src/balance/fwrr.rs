//! Weighted round robin (`balance roundrobin`, HAProxy's lb_fwrr.c).
//!
//! Servers are scheduled by their "next position" in a window whose length is
//! the group's total effective weight: each time a server is picked its next
//! position advances by `total / eweight` (carrying the remainder), so over one
//! window every server is picked in proportion to its weight, interleaved.
//! Three trees per group hold the servers: `curr` (ordered by position),
//! `init` (waiting for a first placement, heaviest first) and `next` (pushed
//! past the current window). The exact sequence of picks depends on every
//! detail of that bookkeeping, including the unsigned arithmetic and how eb32
//! orders equal keys, so this mirrors HAProxy 2.6's code path by path.

use super::pool::{Group, Pool, BE_WEIGHT_SCALE, SRV_EWGHT_MAX, SRV_UWGHT_RANGE};
use super::tree::{DupTree, Node};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TreeId {
    Curr,
    T(usize),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Loc {
    /// `lb_tree == NULL`: down, or never queued.
    Detached,
    Tree(TreeId),
}

#[derive(Debug, Clone)]
struct SrvState {
    /// What `lb_tree` points to; may differ from where the node really is,
    /// exactly like HAProxy's `fwrr_remove_from_tree()` leaves it.
    lb_tree: Loc,
    /// Where the node actually is, if inserted.
    node: Option<(TreeId, Node)>,
    npos: u32,
    lpos: u32,
    rweight: u32,
}

#[derive(Debug, Clone, Default)]
struct RrGroup {
    curr: DupTree,
    t: [DupTree; 2],
    init: usize,
    next: usize,
    // `int` in HAProxy, but every comparison mixes them with unsigned server
    // fields, so C evaluates them as unsigned; u32 with wrapping ops matches.
    curr_pos: u32,
    curr_weight: u32,
    next_weight: u32,
}

#[derive(Debug, Clone)]
pub struct Fwrr {
    act: RrGroup,
    bck: RrGroup,
    srv: Vec<SrvState>,
}

impl Fwrr {
    /// `fwrr_init_server_groups()`.
    pub fn new(pool: &mut Pool) -> Fwrr {
        for s in pool.servers.iter_mut() {
            s.next_eweight = s.slot.weight * BE_WEIGHT_SCALE;
        }
        pool.commit_all();
        pool.recount();
        let mut f = Fwrr {
            act: RrGroup {
                next: 1,
                ..RrGroup::default()
            },
            bck: RrGroup {
                next: 1,
                ..RrGroup::default()
            },
            srv: vec![
                SrvState {
                    lb_tree: Loc::Detached,
                    node: None,
                    npos: 0,
                    lpos: 0,
                    rweight: 0,
                };
                pool.servers.len()
            ],
        };
        let (wa, wb) = (pool.counts.tot_wact, pool.counts.tot_wbck);
        f.act.curr_pos = wa;
        f.act.curr_weight = wa;
        f.act.next_weight = wa;
        f.bck.curr_pos = wb;
        f.bck.curr_weight = wb;
        f.bck.next_weight = wb;
        for i in 0..pool.servers.len() {
            if !pool.servers[i].currently_usable() {
                continue;
            }
            let init = f.grp(pool, i).init;
            f.queue_by_weight(pool, i, init);
        }
        f
    }

    fn is_backup(pool: &Pool, idx: usize) -> bool {
        pool.servers.get(idx).is_some_and(|s| s.slot.backup)
    }

    fn grp(&self, pool: &Pool, idx: usize) -> &RrGroup {
        if Self::is_backup(pool, idx) {
            &self.bck
        } else {
            &self.act
        }
    }

    fn grp_mut(&mut self, pool: &Pool, idx: usize) -> &mut RrGroup {
        if Self::is_backup(pool, idx) {
            &mut self.bck
        } else {
            &mut self.act
        }
    }

    fn tree_mut(g: &mut RrGroup, id: TreeId) -> &mut DupTree {
        match id {
            TreeId::Curr => &mut g.curr,
            TreeId::T(i) => &mut g.t[i & 1],
        }
    }

    /// `fwrr_dequeue_srv()`: eb32_delete, a no-op on a detached node.
    fn dequeue(&mut self, pool: &Pool, idx: usize) {
        if let Some((id, node)) = self.srv[idx].node.take() {
            Self::tree_mut(self.grp_mut(pool, idx), id).remove(node);
        }
    }

    fn insert(&mut self, pool: &Pool, idx: usize, id: TreeId, key: u32) {
        let node = Self::tree_mut(self.grp_mut(pool, idx), id).insert(key, idx);
        self.srv[idx].node = Some((id, node));
        self.srv[idx].lb_tree = Loc::Tree(id);
    }

    /// `fwrr_queue_by_weight()`: heaviest servers first in an init/next tree.
    fn queue_by_weight(&mut self, pool: &Pool, idx: usize, t: usize) {
        let key = SRV_EWGHT_MAX.wrapping_sub(pool.servers[idx].next_eweight);
        self.insert(pool, idx, TreeId::T(t), key);
    }

    /// `fwrr_queue_srv()`.
    fn queue_srv(&mut self, pool: &Pool, idx: usize) {
        let s = &pool.servers[idx];
        let g = self.grp(pool, idx);
        let (cw, nw, next) = (g.curr_weight, g.next_weight, g.next);
        let st = &self.srv[idx];
        if !s.willbe_usable() {
            self.srv[idx].lb_tree = Loc::Detached;
        } else if s.next_eweight == 0
            || st.npos >= cw.wrapping_mul(2)
            || st.npos >= cw.wrapping_add(nw)
        {
            // Does not fit in this window: place it for the next one.
            self.srv[idx].npos = st.npos.wrapping_sub(cw);
            self.queue_by_weight(pool, idx, next);
        } else {
            // Position first, then lighter servers (larger remainder-adjusted
            // value) after heavier ones at the same position.
            let key = SRV_UWGHT_RANGE.wrapping_mul(st.npos).wrapping_add(
                SRV_EWGHT_MAX
                    .wrapping_add(st.rweight)
                    .wrapping_sub(s.next_eweight)
                    / BE_WEIGHT_SCALE,
            );
            self.insert(pool, idx, TreeId::Curr, key);
        }
    }

    /// `fwrr_get_srv()`: prepare `npos` according to where the server was.
    fn get_srv(&mut self, pool: &Pool, idx: usize) {
        let g = self.grp(pool, idx);
        let (init, next, cw, cp) = (g.init, g.next, g.curr_weight, g.curr_pos);
        let st = &mut self.srv[idx];
        match st.lb_tree {
            Loc::Tree(TreeId::T(t)) if t == init => {
                st.npos = 0;
                st.rweight = 0;
            }
            Loc::Tree(TreeId::T(t)) if t == next => st.npos = st.npos.wrapping_add(cw),
            Loc::Detached => st.npos = cp,
            _ => {}
        }
    }

    /// Position of a server (re)entering the current window.
    fn entry_pos(&self, pool: &Pool, idx: usize) -> u32 {
        let g = self.grp(pool, idx);
        let w = pool.servers[idx].next_eweight.max(1);
        g.curr_pos.wrapping_add(
            g.next_weight
                .wrapping_add(g.curr_weight)
                .wrapping_sub(g.curr_pos)
                / w,
        )
    }

    /// `fwrr_update_server_weight()` and the status functions it dispatches to.
    pub fn update(&mut self, pool: &mut Pool, idx: usize) {
        if !pool.changed(idx) {
            return;
        }
        let old = pool.servers[idx].currently_usable();
        let new = pool.servers[idx].willbe_usable();
        let (cur_w, next_w) = (
            pool.servers[idx].cur_eweight,
            pool.servers[idx].next_eweight,
        );
        match (old, new) {
            (false, false) => {}
            (true, false) => {
                // fwrr_set_server_status_down()
                let g = self.grp_mut(pool, idx);
                g.next_weight = g.next_weight.wrapping_sub(cur_w);
                self.dequeue(pool, idx);
                self.srv[idx].lb_tree = Loc::Detached;
            }
            (false, true) => {
                // fwrr_set_server_status_up()
                let g = self.grp_mut(pool, idx);
                g.next_weight = g.next_weight.wrapping_add(next_w);
                self.get_srv(pool, idx);
                self.srv[idx].npos = self.entry_pos(pool, idx);
                self.queue_srv(pool, idx);
            }
            (true, true) => {
                let g = self.grp_mut(pool, idx);
                g.next_weight = g.next_weight.wrapping_sub(cur_w).wrapping_add(next_w);
                let g = self.grp(pool, idx);
                let (init, cp, cw, nw) = (g.init, g.curr_pos, g.curr_weight, g.next_weight);
                match self.srv[idx].lb_tree {
                    Loc::Tree(TreeId::T(t)) if t == init => {
                        self.dequeue(pool, idx);
                        self.queue_by_weight(pool, idx, init);
                    }
                    Loc::Detached => {
                        self.dequeue(pool, idx);
                        self.get_srv(pool, idx);
                        self.srv[idx].npos = self.entry_pos(pool, idx);
                        self.queue_srv(pool, idx);
                    }
                    _ => {
                        self.get_srv(pool, idx);
                        let st = &mut self.srv[idx];
                        if let Some(step) = nw.checked_div(next_w) {
                            let prev_next = st.npos;
                            st.npos = st.lpos.wrapping_add(step);
                            st.rweight = 0;
                            if st.npos > prev_next {
                                st.npos = prev_next;
                            }
                            if st.npos < cp.wrapping_add(2) {
                                st.npos = cp.wrapping_add(step);
                            }
                        } else {
                            st.npos = cp.wrapping_add(cw);
                        }
                        self.dequeue(pool, idx);
                        self.queue_srv(pool, idx);
                    }
                }
            }
        }
        pool.recount();
        pool.commit(idx);
    }

    /// `fwrr_get_server_from_group()`.
    fn server_from_group(&mut self, pool: &Pool, backup: bool) -> Option<usize> {
        let g = if backup { &self.bck } else { &self.act };
        let s1 = g.curr.first().map(|n| n.item);
        if let Some(i) = s1 {
            if pool.servers[i].cur_eweight != 0 && self.srv[i].npos <= g.curr_pos {
                return Some(i);
            }
        }
        // A hole in the current window, or nothing left: a server waiting in
        // "init" is a better proposal.
        if let Some(n) = g.t[g.init].first() {
            let i = n.item;
            if pool.servers[i].cur_eweight != 0 {
                self.srv[i].npos = 0;
                self.srv[i].rweight = 0;
                return Some(i);
            }
        }
        s1
    }

    /// `fwrr_update_position()`.
    fn update_position(&mut self, pool: &Pool, backup: bool, idx: usize) {
        let eweight = pool.servers[idx].cur_eweight;
        if eweight == 0 {
            return;
        }
        let g = if backup { &self.bck } else { &self.act };
        let (cp, nw) = (g.curr_pos, g.next_weight);
        let st = &mut self.srv[idx];
        if st.npos == 0 {
            // first time ever for this server
            st.npos = cp;
        }
        st.lpos = st.npos;
        st.npos = st.npos.wrapping_add(nw / eweight);
        st.rweight = st.rweight.wrapping_add(nw % eweight);
        if st.rweight >= eweight {
            st.rweight -= eweight;
            st.npos = st.npos.wrapping_add(1);
        }
    }

    /// `fwrr_get_next_server()`.
    pub fn next(&mut self, pool: &Pool, avoid: Option<usize>) -> Option<usize> {
        let backup = match pool.group() {
            Group::Active => false,
            Group::FirstBackup(f) => return Some(f),
            Group::Backup => true,
            Group::Empty => return None,
        };
        let mut switched = false;
        let mut avoided: Option<usize> = None;
        // Servers extracted but not taken (saturated or avoided), newest first
        // when re-queued, like HAProxy's `next_full` chain.
        let mut full: Vec<usize> = Vec::new();
        let mut chosen: Option<usize> = None;
        // Each iteration dequeues one server, so this terminates; the bound
        // only guards against a logic error turning into a hang.
        let mut guard = pool.servers.len() * 2 + 4;
        'outer: loop {
            guard = guard.saturating_sub(1);
            if guard == 0 {
                break;
            }
            {
                let g = if backup { &mut self.bck } else { &mut self.act };
                if g.curr_weight == 0 {
                    g.curr_weight = g.next_weight;
                    g.curr_pos = g.next_weight;
                }
            }
            let srv = loop {
                if let Some(s) = self.server_from_group(pool, backup) {
                    break s;
                }
                if switched {
                    if let Some(a) = avoided {
                        chosen = Some(a);
                    }
                    break 'outer;
                }
                switched = true;
                let g = if backup { &mut self.bck } else { &mut self.act };
                std::mem::swap(&mut g.init, &mut g.next);
                g.curr_weight = g.next_weight;
                g.curr_pos = g.curr_weight;
            };
            self.update_position(pool, backup, srv);
            self.dequeue(pool, srv);
            {
                let g = if backup { &mut self.bck } else { &mut self.act };
                g.curr_pos = g.curr_pos.wrapping_add(1);
            }
            if pool.servers[srv].has_room() {
                if Some(srv) != avoid || avoided.is_some() {
                    chosen = Some(srv);
                    break;
                }
                avoided = Some(srv);
            }
            full.push(srv);
        }
        if let Some(s) = chosen {
            self.queue_srv(pool, s);
        }
        for &f in full.iter().rev() {
            if Some(f) == chosen {
                continue;
            }
            if switched {
                // Their place in the window was lost; only weight matters now.
                let init = if backup { self.bck.init } else { self.act.init };
                self.queue_by_weight(pool, f, init);
            } else {
                self.queue_srv(pool, f);
            }
        }
        chosen
    }
}
