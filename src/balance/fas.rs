//! First available server (`balance first`, HAProxy's lb_fas.c).
//!
//! HAProxy keeps usable servers in a tree keyed by their numeric id (`puid`)
//! and takes the first one that has a free connection slot, so servers fill
//! up one after the other in id order (not declaration order when `id` is
//! set). Ids are unique, so a sorted list of indexes is the same order.

use super::pool::{Group, Pool, BE_WEIGHT_SCALE};

#[derive(Debug, Clone)]
pub struct Fas {
    /// Server indexes sorted by puid.
    by_id: Vec<usize>,
}

impl Fas {
    /// `fas_init_server_tree()`.
    pub fn new(pool: &mut Pool) -> Fas {
        for s in pool.servers.iter_mut() {
            s.next_eweight = s.slot.weight * BE_WEIGHT_SCALE;
        }
        pool.commit_all();
        pool.recount();
        let mut by_id: Vec<usize> = (0..pool.servers.len()).collect();
        by_id.sort_by_key(|&i| (pool.servers[i].puid, i));
        Fas { by_id }
    }

    /// Status and weight changes only add or remove the server from the
    /// lookup, which `next()` evaluates from the current state.
    pub fn update(&mut self, pool: &mut Pool, idx: usize) {
        if !pool.changed(idx) {
            return;
        }
        pool.recount();
        pool.commit(idx);
    }

    /// `fas_get_next_server()`.
    pub fn next(&self, pool: &Pool, avoid: Option<usize>) -> Option<usize> {
        let backup = match pool.group() {
            Group::Active => false,
            Group::FirstBackup(f) => return Some(f),
            Group::Backup => true,
            Group::Empty => return None,
        };
        let mut avoided = None;
        for &i in &self.by_id {
            let s = &pool.servers[i];
            if s.slot.backup != backup || !s.currently_usable() {
                continue;
            }
            if s.has_room() {
                if Some(i) != avoid {
                    return Some(i);
                }
                avoided = Some(i);
            }
        }
        avoided
    }
}
