//! Per-server load-balancing state shared by every algorithm, and the
//! backend-wide counters HAProxy derives from it (`recount_servers()` and
//! `update_backend_weight()` in backend.c): how many active/backup servers are
//! usable, their total effective weight, and the "first backup" used when
//! `option allbackups` is off.
//!
//! HAProxy keeps a "current" and a "next" copy of each server's state and
//! effective weight so that an LB update can see both; the algorithms here do
//! the same (`cur_*` / `next_*`) and [`Pool::commit`] plays `srv_lb_commit_status`.

use super::ServerSlot;

/// HAProxy's BE_WEIGHT_SCALE: effective weights are user weights times 16 for
/// the dynamic algorithms, to allow smooth slow-start ramps.
pub const BE_WEIGHT_SCALE: u32 = 16;
/// SRV_UWGHT_RANGE: user weights are 0..=256.
pub const SRV_UWGHT_RANGE: u32 = 256;
/// SRV_EWGHT_RANGE / SRV_EWGHT_MAX: the effective-weight range (256 * 16).
pub const SRV_EWGHT_RANGE: u32 = SRV_UWGHT_RANGE * BE_WEIGHT_SCALE;
pub const SRV_EWGHT_MAX: u32 = SRV_EWGHT_RANGE;

#[derive(Debug, Clone)]
pub struct Server {
    pub slot: ServerSlot,
    /// HAProxy's `puid`: explicit `id`, or the next free number in declaration order.
    pub puid: u32,
    pub cur_eweight: u32,
    pub next_eweight: u32,
    /// Committed usability flag (`slot.usable` is the "next" one).
    pub cur_up: bool,
}

impl Server {
    /// `srv_willbe_usable()`: up and carrying a non-zero effective weight.
    pub fn willbe_usable(&self) -> bool {
        self.slot.usable && self.next_eweight != 0
    }
    /// `srv_currently_usable()`.
    pub fn currently_usable(&self) -> bool {
        self.cur_up && self.cur_eweight != 0
    }
    /// Whether another connection may be sent right now (`maxconn` not reached).
    /// The pure balancer has no queue, so this is HAProxy's
    /// `!maxconn || served < maxconn` with an empty queue.
    pub fn has_room(&self) -> bool {
        match self.slot.maxconn {
            None | Some(0) => true,
            Some(m) => self.slot.active_conns < m,
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct Counts {
    pub srv_act: usize,
    pub srv_bck: usize,
    pub tot_wact: u32,
    pub tot_wbck: u32,
    /// First usable backup server, only tracked without `option allbackups`.
    pub fbck: Option<usize>,
    pub tot_weight: u32,
    pub tot_used: usize,
}

#[derive(Debug, Clone)]
pub struct Pool {
    pub servers: Vec<Server>,
    pub counts: Counts,
    pub allbackups: bool,
}

impl Pool {
    pub fn new(slots: Vec<ServerSlot>, allbackups: bool) -> Pool {
        let puids = assign_puids(&slots.iter().map(|s| s.id).collect::<Vec<_>>());
        let servers = slots
            .into_iter()
            .zip(puids)
            .map(|(mut slot, puid)| {
                // The config layer validates weights; clamp so that arithmetic
                // below can never overflow whatever the caller passes.
                slot.weight = slot.weight.min(SRV_UWGHT_RANGE);
                Server {
                    cur_up: slot.usable,
                    slot,
                    puid,
                    cur_eweight: 0,
                    next_eweight: 0,
                }
            })
            .collect();
        Pool {
            servers,
            counts: Counts::default(),
            allbackups,
        }
    }

    /// `recount_servers()` followed by `update_backend_weight()`, over the
    /// "next" state. Every HAProxy LB module maintains these incrementally with
    /// the same results; recounting is simpler and only runs on admin changes.
    pub fn recount(&mut self) {
        let mut c = Counts::default();
        for (i, s) in self.servers.iter().enumerate() {
            if !s.willbe_usable() {
                continue;
            }
            if s.slot.backup {
                if c.srv_bck == 0 && !self.allbackups {
                    c.fbck = Some(i);
                }
                c.srv_bck += 1;
                c.tot_wbck = c.tot_wbck.saturating_add(s.next_eweight);
            } else {
                c.srv_act += 1;
                c.tot_wact = c.tot_wact.saturating_add(s.next_eweight);
            }
        }
        if c.srv_act > 0 {
            c.tot_weight = c.tot_wact;
            c.tot_used = c.srv_act;
        } else if let Some(f) = c.fbck {
            // Only the first backup server is used.
            c.tot_weight = self.servers.get(f).map_or(0, |s| s.next_eweight);
            c.tot_used = 1;
        } else {
            c.tot_weight = c.tot_wbck;
            c.tot_used = c.srv_bck;
        }
        self.counts = c;
    }

    /// `srv_lb_commit_status()`: the next state becomes the current one.
    pub fn commit(&mut self, idx: usize) {
        if let Some(s) = self.servers.get_mut(idx) {
            s.cur_eweight = s.next_eweight;
            s.cur_up = s.slot.usable;
        }
    }

    pub fn commit_all(&mut self) {
        for i in 0..self.servers.len() {
            self.commit(i);
        }
    }

    /// `srv_lb_status_changed()`.
    pub fn changed(&self, idx: usize) -> bool {
        self.servers
            .get(idx)
            .is_some_and(|s| s.cur_up != s.slot.usable || s.cur_eweight != s.next_eweight)
    }

    /// Which group a lookup uses, as at the top of every HAProxy LB lookup:
    /// actives if any is usable, else the first backup alone, else all backups.
    pub fn group(&self) -> Group {
        if self.counts.srv_act > 0 {
            Group::Active
        } else if let Some(f) = self.counts.fbck {
            Group::FirstBackup(f)
        } else if self.counts.srv_bck > 0 {
            Group::Backup
        } else {
            Group::Empty
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Group {
    Active,
    FirstBackup(usize),
    Backup,
    Empty,
}

/// Server numbering as HAProxy's config check does it: servers with an
/// explicit `id` keep it; the others, in declaration order, get the first
/// unused number starting from a cursor that advances past every server
/// (numbered or not). With no explicit ids this is simply 1..=N.
pub fn assign_puids(explicit: &[Option<u32>]) -> Vec<u32> {
    let mut taken: std::collections::BTreeSet<u32> = explicit.iter().flatten().copied().collect();
    let mut next_id: u32 = 1;
    explicit
        .iter()
        .map(|id| {
            let puid = match id {
                Some(v) => *v,
                None => {
                    // get_next_id(): first unused id at or after the cursor.
                    while taken.contains(&next_id) {
                        next_id = next_id.wrapping_add(1);
                    }
                    taken.insert(next_id);
                    next_id
                }
            };
            // HAProxy advances the cursor after every server, even one with an
            // explicit id (whose id does not move the cursor).
            next_id = next_id.wrapping_add(1);
            puid
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn puids_default_to_declaration_order() {
        assert_eq!(assign_puids(&[None, None, None]), vec![1, 2, 3]);
    }

    #[test]
    fn puids_skip_explicit_ids() {
        assert_eq!(assign_puids(&[None, Some(2), None, None]), vec![1, 2, 3, 4]);
        // The cursor moves past an explicitly numbered server too.
        assert_eq!(assign_puids(&[Some(3), None, None]), vec![3, 2, 4]);
        assert_eq!(assign_puids(&[None, None, Some(2), None]), vec![1, 3, 2, 5]);
    }
}
