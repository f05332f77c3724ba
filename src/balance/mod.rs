//! Server selection: HAProxy 2.6's load-balancing algorithms as pure code.
//!
//! A [`Balancer`] is built from an [`Algorithm`], the backend's
//! [`HashConfig`] (`hash-type`), its servers ([`ServerSlot`], in declaration
//! order) and `option allbackups`. It answers [`Balancer::pick`] and is told
//! about state changes ([`Balancer::set_usable`], [`Balancer::set_weight`])
//! and connection accounting ([`Balancer::conn_started`],
//! [`Balancer::conn_ended`]). No I/O, no clock, no threads: the engine owns
//! locking and timing.
//!
//! Compatibility goal: for the hashing algorithms, the same key and server
//! list select the same server as HAProxy 2.6, so migrating does not move
//! users. Each module mirrors one HAProxy LB module:
//! - [`hash`]: hash functions (`hash.c`, `full_hash`)
//! - [`keys`]: which bytes of a request each algorithm hashes
//! - `map`: static map for `static-rr` and `hash-type map-based` (lb_map.c)
//! - `chash`: consistent-hash ring for `hash-type consistent` and `random` (lb_chash.c)
//! - `fwrr`: `roundrobin` (lb_fwrr.c)
//! - `fwlc`: `leastconn` (lb_fwlc.c)
//! - `fas`: `first` (lb_fas.c)
//! - `pool`: shared server state and backend counters (backend.c)
//!
//! Not modelled: the backend queue (a full server is simply skipped or, for
//! `random`, yields `None`), slow start, `hash-balance-factor`, and
//! `url_param ... check_post` body lookup. The dynamic maxconn (`minconn`,
//! `fullconn`) is computed by the caller and set with [`Balancer::set_maxconn`].

pub mod hash;
pub mod keys;

mod chash;
mod fas;
mod fwlc;
mod fwrr;
mod map;
mod pool;
mod tree;

pub use pool::assign_puids;

/// One `server` line as the balancer sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerSlot {
    /// Explicit `id` keyword; `None` numbers it like HAProxy (1..N in
    /// declaration order, skipping explicit ids). The number places the
    /// server on the consistent-hash ring and orders `first`.
    pub id: Option<u32>,
    /// User weight, 0..=256 (larger values are clamped). 0 = never picked.
    pub weight: u32,
    pub backup: bool,
    /// Up and neither in maintenance nor draining.
    pub usable: bool,
    /// Connections currently served (leastconn, random, maxconn checks).
    pub active_conns: u32,
    /// `maxconn`: a server at this many connections is skipped. `None` or
    /// `Some(0)` means unlimited, as in HAProxy.
    pub maxconn: Option<u32>,
}

impl ServerSlot {
    /// An up, active server with the given weight and no limits.
    pub fn new(weight: u32) -> ServerSlot {
        ServerSlot {
            id: None,
            weight,
            backup: false,
            usable: true,
            active_conns: 0,
            maxconn: None,
        }
    }

    pub fn backup(mut self) -> ServerSlot {
        self.backup = true;
        self
    }
}

/// `balance` algorithms. For the hashing ones, the `key` given to
/// [`Balancer::pick`] is the raw input named below; the balancer applies the
/// algorithm's parameters itself (helpers in [`keys`]). A missing key (`None`)
/// makes HAProxy fall back to round robin over the same map or ring, and so
/// does this.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Algorithm {
    RoundRobin,
    StaticRr,
    LeastConn,
    First,
    /// key: client address bytes, see [`keys::source_key`].
    Source,
    /// key: the request-line URI as received.
    Uri {
        /// `len`: hash at most this many bytes (0 = no limit).
        len: u32,
        /// `depth`: hash at most this many directory levels (0 = no limit).
        depth: u32,
        /// `whole`: include the query string.
        whole: bool,
        /// `path-only`: drop `scheme://authority` from absolute URIs.
        path_only: bool,
    },
    /// key: the request-line URI; the parameter is looked up in its query string.
    UrlParam {
        name: Vec<u8>,
    },
    /// key: the value of the first `name` header (absent or empty: `None`).
    Hdr {
        name: String,
        use_domain_only: bool,
    },
    /// `random(draws)`: no key; the least loaded of `draws` random ring picks.
    Random {
        draws: u32,
    },
    /// key: the client's first payload (the RDP connection request).
    RdpCookie {
        name: Vec<u8>,
    },
    /// `balance hash <expr>`: key: the expression's result as bytes.
    Hash,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HashType {
    #[default]
    MapBased,
    Consistent,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HashFunction {
    #[default]
    Sdbm,
    Djb2,
    Wt6,
    Crc32,
}

/// `hash-type <method> [<function>] [avalanche]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct HashConfig {
    pub kind: HashType,
    pub function: HashFunction,
    pub avalanche: bool,
}

impl HashConfig {
    /// `hash-type <kind> [<function> [avalanche]]` with HAProxy's default:
    /// no function means sdbm, plus avalanche for `consistent`.
    pub fn new(kind: HashType, function: Option<HashFunction>, avalanche: bool) -> HashConfig {
        match function {
            Some(function) => HashConfig {
                kind,
                function,
                avalanche,
            },
            None => HashConfig {
                kind,
                function: HashFunction::Sdbm,
                avalanche: kind == HashType::Consistent,
            },
        }
    }
}

#[derive(Debug, Clone)]
enum Engine {
    Map(map::MapLb),
    Chash(chash::Chash),
    Fwrr(fwrr::Fwrr),
    Fwlc(fwlc::Fwlc),
    Fas(fas::Fas),
}

/// A backend's server selection state. See the module documentation.
#[derive(Debug, Clone)]
pub struct Balancer {
    algo: Algorithm,
    hash: HashConfig,
    pool: pool::Pool,
    engine: Engine,
    rng: u64,
}

impl Balancer {
    pub fn new(
        algo: Algorithm,
        hash: HashConfig,
        servers: Vec<ServerSlot>,
        allbackups: bool,
    ) -> Balancer {
        let mut pool = pool::Pool::new(servers, allbackups);
        // Same lookup structure as HAProxy picks for each algorithm: random
        // always uses the ring, hashing algorithms follow hash-type.
        let engine = match &algo {
            Algorithm::RoundRobin => Engine::Fwrr(fwrr::Fwrr::new(&mut pool)),
            Algorithm::StaticRr => Engine::Map(map::MapLb::new(&mut pool)),
            Algorithm::LeastConn => Engine::Fwlc(fwlc::Fwlc::new(&mut pool)),
            Algorithm::First => Engine::Fas(fas::Fas::new(&mut pool)),
            Algorithm::Random { .. } => Engine::Chash(chash::Chash::new(&mut pool)),
            _ => match hash.kind {
                HashType::MapBased => Engine::Map(map::MapLb::new(&mut pool)),
                HashType::Consistent => Engine::Chash(chash::Chash::new(&mut pool)),
            },
        };
        Balancer {
            algo,
            hash,
            pool,
            engine,
            rng: 0x9e37_79b9_7f4a_7c15,
        }
    }

    pub fn algorithm(&self) -> &Algorithm {
        &self.algo
    }

    pub fn len(&self) -> usize {
        self.pool.servers.len()
    }

    pub fn is_empty(&self) -> bool {
        self.pool.servers.is_empty()
    }

    /// The server's current slot (weight, usability, connection count).
    pub fn server(&self, idx: usize) -> Option<&ServerSlot> {
        self.pool.servers.get(idx).map(|s| &s.slot)
    }

    /// HAProxy's numeric server id (`puid`) for server `idx`.
    pub fn puid(&self, idx: usize) -> Option<u32> {
        self.pool.servers.get(idx).map(|s| s.puid)
    }

    /// Reseeds the generator behind `random` (deterministic tests).
    pub fn seed_random(&mut self, seed: u64) {
        self.rng = seed | 1;
    }

    /// Picks a server index for a request, or `None` if no server is usable
    /// (or, for `random`, the chosen one is full). See [`Algorithm`] for
    /// what `key` holds. Picking does not count a connection: call
    /// [`Balancer::conn_started`] once the connection is assigned.
    pub fn pick(&mut self, key: Option<&[u8]>) -> Option<usize> {
        self.pick_avoiding(key, None)
    }

    /// Like [`Balancer::pick`], but steers away from `avoid` (the server a
    /// retry is redispatched from) when another choice exists.
    pub fn pick_avoiding(&mut self, key: Option<&[u8]>, avoid: Option<usize>) -> Option<usize> {
        if self.pool.counts.tot_weight == 0 {
            return None;
        }
        if let Algorithm::Random { draws } = self.algo {
            return self.pick_random(draws, avoid);
        }
        let hashed = self.hash_of(key);
        let pool = &self.pool;
        match &mut self.engine {
            Engine::Fwrr(f) => f.next(pool, avoid),
            Engine::Fwlc(f) => f.next(pool, avoid),
            Engine::Fas(f) => f.next(pool, avoid),
            Engine::Map(m) => match (&self.algo, hashed) {
                (Algorithm::StaticRr, _) | (_, None) => m.next_rr(pool, avoid),
                (_, Some(h)) => m.by_hash(pool, h).or_else(|| m.next_rr(pool, avoid)),
            },
            Engine::Chash(c) => match hashed {
                Some(h) => c.by_hash(pool, h, avoid).or_else(|| c.next_rr(pool, avoid)),
                None => c.next_rr(pool, avoid),
            },
        }
    }

    /// The 32-bit value a hashing algorithm looks up, following the order of
    /// checks in HAProxy's `get_server_*()`: most skip hashing (value 0) when
    /// a single server is usable, some only after finding their key.
    fn hash_of(&self, key: Option<&[u8]>) -> Option<u32> {
        let single = self.pool.counts.tot_used == 1;
        let cfg = &self.hash;
        match &self.algo {
            Algorithm::Source => key.map(|k| {
                if single {
                    0
                } else {
                    hash::fold_address(k, cfg.avalanche)
                }
            }),
            Algorithm::Uri {
                len,
                depth,
                whole,
                path_only,
            } => key.map(|u| {
                if single {
                    return 0;
                }
                let u = if *path_only { keys::uri_path(u) } else { u };
                hash::hash_key(cfg, keys::uri_hash_input(u, *len, *depth, *whole))
            }),
            Algorithm::UrlParam { name } => key
                .and_then(|u| keys::url_param_value(u, name))
                .map(|v| hash::hash_key(cfg, v)),
            Algorithm::Hdr {
                use_domain_only, ..
            } => {
                if single {
                    return Some(0);
                }
                key.filter(|v| !v.is_empty())
                    .map(|v| hash::hash_key(cfg, keys::hdr_hash_input(v, *use_domain_only)))
            }
            Algorithm::RdpCookie { name } => key
                .and_then(|p| keys::rdp_cookie_value(p, name))
                .filter(|v| !v.is_empty())
                .map(|v| if single { 0 } else { hash::hash_key(cfg, v) }),
            Algorithm::Hash => {
                if single {
                    return Some(0);
                }
                key.map(|k| hash::hash_key(cfg, k))
            }
            _ => None,
        }
    }

    /// `get_server_rnd()`: power of `draws` choices over the ring, keeping
    /// the server with the fewest connections relative to its weight.
    fn pick_random(&mut self, draws: u32, avoid: Option<usize>) -> Option<usize> {
        let mut curr: Option<usize> = None;
        for _ in 0..draws.max(1) {
            let prev = curr;
            let h = self.next_random();
            let Engine::Chash(c) = &self.engine else {
                return None;
            };
            curr = c.by_hash(&self.pool, h, avoid);
            let Some(cur) = curr else {
                break;
            };
            if let Some(p) = prev {
                let (cs, ps) = (&self.pool.servers[cur], &self.pool.servers[p]);
                let c_load = u64::from(cs.slot.active_conns) * u64::from(ps.cur_eweight);
                let p_load = u64::from(ps.slot.active_conns) * u64::from(cs.cur_eweight);
                if p != cur && c_load > p_load {
                    curr = Some(p);
                }
            }
        }
        // A full server means "queue at the backend": no server for now.
        curr.filter(|&i| self.pool.servers[i].has_room())
    }

    /// xorshift64*: only randomness quality matters for `random`; HAProxy's
    /// own generator is per-thread state no implementation could reproduce.
    fn next_random(&mut self) -> u32 {
        let mut x = self.rng;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng = x;
        (x.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 32) as u32
    }

    /// Inside the LB modules server indexes are used directly: every public
    /// entry point checks `idx` against the server list first, and the trees
    /// and rings only ever hold indexes that came from that list.
    fn apply_change(&mut self, idx: usize) {
        let pool = &mut self.pool;
        match &mut self.engine {
            Engine::Map(m) => m.update(pool, idx),
            Engine::Chash(c) => c.update(pool, idx),
            Engine::Fwrr(f) => f.update(pool, idx),
            Engine::Fwlc(f) => f.update(pool, idx),
            Engine::Fas(f) => f.update(pool, idx),
        }
    }

    /// Health/admin state change: `usable` = up and not in maintenance/drain.
    pub fn set_usable(&mut self, idx: usize, usable: bool) {
        let Some(s) = self.pool.servers.get_mut(idx) else {
            return;
        };
        s.slot.usable = usable;
        self.apply_change(idx);
    }

    /// Runtime `set weight` (user weight, clamped to 256).
    pub fn set_weight(&mut self, idx: usize, weight: u32) {
        let weight = weight.min(pool::SRV_UWGHT_RANGE);
        let eweight = match &self.engine {
            Engine::Map(m) => m.eweight(weight),
            _ => weight * pool::BE_WEIGHT_SCALE,
        };
        let Some(s) = self.pool.servers.get_mut(idx) else {
            return;
        };
        s.slot.weight = weight;
        s.next_eweight = eweight;
        self.apply_change(idx);
    }

    /// The server's current connection limit (HAProxy's `srv_dynamic_maxconn()`,
    /// computed by the caller); `None` or `Some(0)`: unlimited.
    pub fn set_maxconn(&mut self, idx: usize, maxconn: Option<u32>) {
        if let Some(s) = self.pool.servers.get_mut(idx) {
            s.slot.maxconn = maxconn;
        }
    }

    /// A connection to server `idx` was established (HAProxy's `served++`
    /// followed by the algorithm's take-conn hook).
    pub fn conn_started(&mut self, idx: usize) {
        let Some(s) = self.pool.servers.get_mut(idx) else {
            return;
        };
        s.slot.active_conns = s.slot.active_conns.saturating_add(1);
        if let Engine::Fwlc(f) = &mut self.engine {
            f.reposition(&self.pool, idx);
        }
    }

    /// A connection to server `idx` ended.
    pub fn conn_ended(&mut self, idx: usize) {
        let Some(s) = self.pool.servers.get_mut(idx) else {
            return;
        };
        s.slot.active_conns = s.slot.active_conns.saturating_sub(1);
        if let Engine::Fwlc(f) = &mut self.engine {
            f.reposition(&self.pool, idx);
        }
    }
}

#[cfg(test)]
mod tests;
