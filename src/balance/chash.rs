//! Consistent hashing (HAProxy's lb_chash.c): `hash-type consistent` for the
//! hashing algorithms, and the ring behind `balance random`.
//!
//! Each usable server owns `eweight` (= weight * 16) points on a 32-bit ring,
//! point `j` of the server numbered `puid` sitting at
//! `full_hash(puid * 4096 + j)`. Because the positions depend only on the
//! server's number and weight, a server going down only moves the keys that
//! were on its own points. A lookup takes the point at or after the hash
//! (wrapping), compares its distance with the point before it and picks the
//! closer one, preferring the previous point on a tie, as
//! `chash_get_server_hash()` does. Active and backup servers live on separate
//! rings.

use super::hash::full_hash;
use super::pool::{Group, Pool, SRV_EWGHT_RANGE};

type Ring = Vec<(u32, usize)>;

#[derive(Debug, Clone)]
pub struct Chash {
    act: Ring,
    bck: Ring,
    /// `lb_nodes_now`: how many of its points each server has on its ring.
    nodes_now: Vec<u32>,
    /// `lbprm.chash.last`: the point the key-less round-robin fallback used
    /// last, as (backup ring?, key, server).
    last: Option<(bool, u32, usize)>,
}

/// Ring position of point `node` of the server numbered `puid`.
pub fn node_key(puid: u32, node: u32) -> u32 {
    full_hash(puid.wrapping_mul(SRV_EWGHT_RANGE).wrapping_add(node))
}

impl Chash {
    /// `chash_init_server_tree()`: effective weights are user weights * 16.
    pub fn new(pool: &mut Pool) -> Chash {
        for s in pool.servers.iter_mut() {
            s.next_eweight = s.slot.weight * super::pool::BE_WEIGHT_SCALE;
        }
        pool.commit_all();
        pool.recount();
        let mut c = Chash {
            act: Vec::new(),
            bck: Vec::new(),
            nodes_now: vec![0; pool.servers.len()],
            last: None,
        };
        for i in 0..pool.servers.len() {
            if pool.servers[i].currently_usable() {
                c.queue_dequeue(pool, i);
            }
        }
        c
    }

    fn ring(&self, backup: bool) -> &Ring {
        if backup {
            &self.bck
        } else {
            &self.act
        }
    }

    fn ring_mut(&mut self, backup: bool) -> &mut Ring {
        if backup {
            &mut self.bck
        } else {
            &mut self.act
        }
    }

    /// `chash_skip_node()`: the point after `pos` (wrapping), or None if that
    /// would be the same point. Keeps `last` valid across deletions.
    fn skip(&self, backup: bool, key: u32, srv: usize) -> Option<(bool, u32, usize)> {
        let ring = self.ring(backup);
        let pos = ring.iter().position(|&(k, s)| k == key && s == srv)?;
        let next = if pos + 1 < ring.len() { pos + 1 } else { 0 };
        if next == pos {
            return None;
        }
        ring.get(next).map(|&(k, s)| (backup, k, s))
    }

    fn insert(&mut self, backup: bool, key: u32, srv: usize) {
        let ring = self.ring_mut(backup);
        // Equal keys (impossible in practice: full_hash is a bijection and the
        // inputs are distinct) would go after the existing ones, as in eb32.
        let at = ring.partition_point(|&(k, _)| k <= key);
        ring.insert(at, (key, srv));
    }

    fn remove(&mut self, backup: bool, key: u32, srv: usize) {
        if self.last == Some((backup, key, srv)) {
            self.last = self.skip(backup, key, srv);
        }
        let ring = self.ring_mut(backup);
        let from = ring.partition_point(|&(k, _)| k < key);
        if let Some(off) = ring[from..].iter().position(|&(k, s)| k == key && s == srv) {
            ring.remove(from + off);
        }
    }

    /// `chash_queue_dequeue_srv()`: bring the server's point count to its
    /// next effective weight, removing its highest-numbered points first.
    fn queue_dequeue(&mut self, pool: &Pool, idx: usize) {
        let Some(s) = pool.servers.get(idx) else {
            return;
        };
        let (backup, puid, want) = (s.slot.backup, s.puid, s.next_eweight);
        while self.nodes_now[idx] > want {
            self.nodes_now[idx] -= 1;
            let key = node_key(puid, self.nodes_now[idx]);
            self.remove(backup, key, idx);
        }
        while self.nodes_now[idx] < want {
            let key = node_key(puid, self.nodes_now[idx]);
            self.insert(backup, key, idx);
            self.nodes_now[idx] += 1;
        }
    }

    /// `chash_dequeue_srv()`.
    fn dequeue(&mut self, pool: &Pool, idx: usize) {
        let Some(s) = pool.servers.get(idx) else {
            return;
        };
        let (backup, puid) = (s.slot.backup, s.puid);
        while self.nodes_now[idx] > 0 {
            self.nodes_now[idx] -= 1;
            let key = node_key(puid, self.nodes_now[idx]);
            self.remove(backup, key, idx);
        }
    }

    /// `chash_update_server_weight()` and the status up/down functions it
    /// dispatches to.
    pub fn update(&mut self, pool: &mut Pool, idx: usize) {
        if !pool.changed(idx) {
            return;
        }
        let old = pool.servers[idx].currently_usable();
        let new = pool.servers[idx].willbe_usable();
        match (old, new) {
            (false, false) => {}
            (true, false) => self.dequeue(pool, idx),
            _ => self.queue_dequeue(pool, idx),
        }
        pool.recount();
        pool.commit(idx);
    }

    /// `chash_get_server_hash()`: the server owning the ring point closest to
    /// `hash`; if that is `avoid`, the next point clockwise that is not.
    pub fn by_hash(&self, pool: &Pool, hash: u32, avoid: Option<usize>) -> Option<usize> {
        let ring = match pool.group() {
            Group::Active => &self.act,
            Group::FirstBackup(f) => return Some(f),
            Group::Backup => &self.bck,
            Group::Empty => return None,
        };
        if ring.is_empty() {
            return None;
        }
        // eb32_lookup_ge, wrapping to the first point.
        let ge = ring.partition_point(|&(k, _)| k < hash);
        let mut next = if ge < ring.len() { ge } else { 0 };
        let prev = if next > 0 { next - 1 } else { ring.len() - 1 };
        let dp = hash.wrapping_sub(ring[prev].0);
        let dn = ring[next].0.wrapping_sub(hash);
        if dp <= dn {
            next = prev;
        }
        let mut srv = ring[next].1;
        let mut wrapped = 0;
        while Some(srv) == avoid {
            next += 1;
            if next >= ring.len() {
                next = 0;
                wrapped += 1;
                if wrapped > 1 {
                    break;
                }
            }
            srv = ring[next].1;
        }
        Some(srv)
    }

    /// `chash_get_next_server()`: walk the ring from the last point used,
    /// skipping saturated servers (and `avoid` unless nothing else fits).
    /// This is the fallback when a hashing algorithm finds no key.
    pub fn next_rr(&mut self, pool: &Pool, avoid: Option<usize>) -> Option<usize> {
        let backup = match pool.group() {
            Group::Active => false,
            Group::FirstBackup(f) => return Some(f),
            Group::Backup => true,
            Group::Empty => return None,
        };
        let stop_init = self.last;
        let mut stop = stop_init;
        let mut node = stop_init;
        let mut avoided: Option<((bool, u32, usize), usize)> = None;
        loop {
            // eb32_next in the node's own ring, else the first of the root.
            let after = node.and_then(|(b, k, s)| {
                let ring = self.ring(b);
                let pos = ring.iter().position(|&(rk, rs)| rk == k && rs == s)?;
                ring.get(pos + 1).map(|&(rk, rs)| (b, rk, rs))
            });
            node = after.or_else(|| self.ring(backup).first().map(|&(k, s)| (backup, k, s)));
            self.last = node;
            let cur = node?;
            if stop.is_none() {
                stop = Some(cur);
            }
            let srv = cur.2;
            if pool.servers.get(srv).is_some_and(|s| s.has_room()) {
                if Some(srv) != avoid {
                    return Some(srv);
                }
                avoided = Some((cur, srv));
            }
            if Some(cur) == stop {
                break;
            }
        }
        // As in HAProxy, `last` becomes the avoided point, or nothing.
        self.last = avoided.map(|(at, _)| at);
        avoided.map(|(_, srv)| srv)
    }

    #[cfg(test)]
    pub fn points(&self, backup: bool) -> usize {
        self.ring(backup).len()
    }
}
