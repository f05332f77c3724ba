//! Least connections (`balance leastconn`, HAProxy's lb_fwlc.c).
//!
//! Each usable server sits in its group's tree keyed by
//! `(inflight + 1) * 4096 / eweight` (0 when idle), so the first node is the
//! least loaded relative to its weight. A server whose load changes is
//! re-inserted, which puts it behind the servers with the same key: this is
//! what makes equally loaded servers take turns. An idle server's key is 0
//! whatever its weight, as in HAProxy.

use super::pool::{Group, Pool, BE_WEIGHT_SCALE, SRV_EWGHT_MAX};
use super::tree::{DupTree, Node};

#[derive(Debug, Clone)]
pub struct Fwlc {
    act: DupTree,
    bck: DupTree,
    /// The node of each queued server (`lb_node` while in a tree).
    nodes: Vec<Option<Node>>,
}

fn key(inflight: u32, eweight: u32) -> u32 {
    if inflight == 0 {
        0
    } else {
        // HAProxy computes this in unsigned int; wrapping mirrors it.
        inflight.wrapping_add(1).wrapping_mul(SRV_EWGHT_MAX) / eweight.max(1)
    }
}

impl Fwlc {
    /// `fwlc_init_server_tree()`.
    pub fn new(pool: &mut Pool) -> Fwlc {
        for s in pool.servers.iter_mut() {
            s.next_eweight = s.slot.weight * BE_WEIGHT_SCALE;
        }
        pool.commit_all();
        pool.recount();
        let mut f = Fwlc {
            act: DupTree::default(),
            bck: DupTree::default(),
            nodes: vec![None; pool.servers.len()],
        };
        for i in 0..pool.servers.len() {
            if pool.servers[i].currently_usable() {
                f.queue(pool, i, pool.servers[i].next_eweight);
            }
        }
        f
    }

    fn tree(&mut self, backup: bool) -> &mut DupTree {
        if backup {
            &mut self.bck
        } else {
            &mut self.act
        }
    }

    fn dequeue(&mut self, pool: &Pool, idx: usize) {
        if let Some(n) = self.nodes[idx].take() {
            let backup = pool.servers[idx].slot.backup;
            self.tree(backup).remove(n);
        }
    }

    /// `fwlc_queue_srv()`.
    fn queue(&mut self, pool: &Pool, idx: usize, eweight: u32) {
        let s = &pool.servers[idx];
        let (k, backup) = (key(s.slot.active_conns, eweight), s.slot.backup);
        let n = self.tree(backup).insert(k, idx);
        self.nodes[idx] = Some(n);
    }

    /// `fwlc_srv_reposition()`, called when a connection starts or ends.
    pub fn reposition(&mut self, pool: &Pool, idx: usize) {
        let Some(s) = pool.servers.get(idx) else {
            return;
        };
        let new_key = key(s.slot.active_conns, s.cur_eweight);
        match self.nodes[idx] {
            // Unchanged key: keep its place among equals.
            Some(n) if s.cur_eweight != 0 && n.key == new_key => {}
            Some(n) => {
                let backup = s.slot.backup;
                self.tree(backup).remove(n);
                self.nodes[idx] = Some(self.tree(backup).insert(new_key, idx));
            }
            // Not in a tree (down): nothing to do.
            None => {}
        }
    }

    /// `fwlc_update_server_weight()` and the status functions.
    pub fn update(&mut self, pool: &mut Pool, idx: usize) {
        if !pool.changed(idx) {
            return;
        }
        let old = pool.servers[idx].currently_usable();
        let new = pool.servers[idx].willbe_usable();
        match (old, new) {
            (false, false) => {}
            (true, false) => self.dequeue(pool, idx),
            _ => {
                self.dequeue(pool, idx);
                self.queue(pool, idx, pool.servers[idx].next_eweight);
            }
        }
        pool.recount();
        pool.commit(idx);
    }

    /// `fwlc_get_next_server()`: the first server in key order with room,
    /// other than `avoid` unless it is the only one.
    pub fn next(&self, pool: &Pool, avoid: Option<usize>) -> Option<usize> {
        let tree = match pool.group() {
            Group::Active => &self.act,
            Group::FirstBackup(f) => return Some(f),
            Group::Backup => &self.bck,
            Group::Empty => return None,
        };
        let mut avoided = None;
        let mut node = tree.first();
        while let Some(n) = node {
            let s = &pool.servers[n.item];
            if s.has_room() {
                if Some(n.item) != avoid {
                    return Some(n.item);
                }
                avoided = Some(n.item);
            }
            node = tree.next(n);
        }
        avoided
    }
}
