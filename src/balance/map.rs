//! Map-based selection (HAProxy's lb_map.c): `static-rr`, and every hashing
//! algorithm with the default `hash-type map-based`.
//!
//! The map is a table of `tot_weight` slots in which each usable server of the
//! selected group appears `eweight` times, spread by a smooth weighted
//! interleave that favours declaration order. A hash picks
//! `table[hash % tot_weight]`; static-rr walks the table. Slot order is part of
//! HAProxy's observable behaviour (it decides which server a hash lands on), so
//! `recalc` follows `recalc_server_map()` step for step.

use super::pool::Pool;

#[derive(Debug, Clone)]
pub struct MapLb {
    /// `lbprm.wmult`: GCD of all user weights, computed once at startup so the
    /// table stays small (weights 10/20/30 give a 6-slot map, not 60).
    wmult: u32,
    table: Vec<usize>,
    rr_idx: usize,
}

impl MapLb {
    /// `init_server_map()`: compute the GCD, the effective weights, the counters
    /// and the first map.
    pub fn new(pool: &mut Pool) -> MapLb {
        // Euclid over user weights, starting at the first non-zero one and
        // stopping early once the GCD reaches 1, exactly like HAProxy.
        let mut pgcd = 1u32;
        let mut it = pool.servers.iter().skip_while(|s| s.slot.weight == 0);
        if let Some(first) = it.next() {
            pgcd = first.slot.weight;
            for s in it {
                if pgcd <= 1 {
                    break;
                }
                let mut w = s.slot.weight;
                while w != 0 {
                    let t = pgcd % w;
                    pgcd = w;
                    w = t;
                }
            }
        }
        let mut lb = MapLb {
            wmult: pgcd.max(1),
            table: Vec::new(),
            rr_idx: 0,
        };
        for i in 0..pool.servers.len() {
            let w = lb.eweight(pool.servers[i].slot.weight);
            pool.servers[i].next_eweight = w;
        }
        pool.commit_all();
        pool.recount();
        lb.recalc(pool);
        lb
    }

    /// Effective weight for a user weight: `(uweight * wdiv + wmult - 1) / wmult`
    /// with `wdiv == 1` for the static map.
    pub fn eweight(&self, uweight: u32) -> u32 {
        uweight.div_ceil(self.wmult)
    }

    /// `recalc_server_map()`.
    pub fn recalc(&mut self, pool: &Pool) {
        self.table.clear();
        if pool.counts.tot_used == 0 {
            return;
        }
        let tot = pool.counts.tot_weight as i64;
        let want_backup = pool.counts.srv_act == 0;
        // The scan covers every usable server of the group, even when only the
        // first backup is meant to be used (tot_weight is then that server's
        // weight): HAProxy does the same and its comment relies on the first
        // declared server winning the first slot.
        let eligible: Vec<usize> = pool
            .servers
            .iter()
            .enumerate()
            .filter(|(_, s)| s.slot.backup == want_backup && s.willbe_usable())
            .map(|(i, _)| i)
            .collect();
        let mut wscore = vec![0i64; pool.servers.len()];
        for _ in 0..tot {
            let mut best: Option<usize> = None;
            let mut max = 0i64;
            for &i in &eligible {
                if tot == 1 {
                    // HAProxy short-cuts a one-slot map to the first server.
                    best = Some(i);
                    break;
                }
                wscore[i] += i64::from(pool.servers[i].next_eweight);
                let v = (wscore[i] + tot) / tot;
                if best.is_none() || v > max {
                    max = v;
                    best = Some(i);
                }
            }
            match best {
                Some(b) => {
                    self.table.push(b);
                    wscore[b] -= tot;
                }
                // Cannot happen while tot_weight counts usable servers; stop
                // rather than produce a short table with holes.
                None => break,
            }
        }
    }

    /// Status or weight change of server `idx` (map_set_server_status_up/down:
    /// any change rebuilds the counters and the table).
    pub fn update(&mut self, pool: &mut Pool, idx: usize) {
        if !pool.changed(idx) {
            return;
        }
        pool.recount();
        self.recalc(pool);
        pool.commit(idx);
    }

    /// `map_get_server_hash()`.
    pub fn by_hash(&self, pool: &Pool, hash: u32) -> Option<usize> {
        let tot = pool.counts.tot_weight;
        if tot == 0 || self.table.is_empty() {
            return None;
        }
        let slot = (hash % tot) as usize;
        self.table.get(slot).copied()
    }

    /// `map_get_server_rr()`: next slot whose server has room, skipping
    /// `avoid` unless it is the only candidate.
    pub fn next_rr(&mut self, pool: &Pool, avoid: Option<usize>) -> Option<usize> {
        let tot = self.table.len();
        if pool.counts.tot_weight == 0 || tot == 0 {
            return None;
        }
        if self.rr_idx >= tot {
            self.rr_idx = 0;
        }
        let start = self.rr_idx;
        let mut newidx = start;
        let mut avoided: Option<(usize, usize)> = None;
        loop {
            let srv = self.table[newidx];
            newidx += 1;
            if pool.servers[srv].has_room() {
                avoided = Some((srv, newidx));
                if Some(srv) != avoid {
                    self.rr_idx = newidx;
                    return Some(srv);
                }
            }
            if newidx == tot {
                newidx = 0;
            }
            if newidx == start {
                break;
            }
        }
        let (srv, at) = avoided?;
        self.rr_idx = at;
        Some(srv)
    }

    #[cfg(test)]
    pub fn table(&self) -> &[usize] {
        &self.table
    }
}
