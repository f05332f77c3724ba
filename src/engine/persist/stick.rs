//! Stick tables (`stick-table` in a proxy, no peers) and the `stick on|match|store-request`
//! rules that use them, as HAProxy 2.6 runs them (`process_sticking_rules()`,
//! `process_store_rules()`, stick_table.c):
//!
//! - rules run in order after cookie persistence; a rule that stores into a table already
//!   holding a pending store of this request is skipped entirely (match included), so the
//!   first `stick on`/`store-request` per table wins;
//! - the key is the last value of the sample, converted to the table type (an IPv4 table
//!   takes IPv4 addresses, IPv4-mapped IPv6 ones, dotted strings and integers; strings
//!   compare on at most `len` bytes, 31 by default); no value, no rule;
//! - a match sends the request to the stored server (looked up by name, then id, in the
//!   current backend) when persistence is not decided yet and the server is not DOWN
//!   (or `option persist`), and refreshes the entry's expiration;
//! - stores are committed once the server is known for good: when the response head
//!   arrives (HTTP) or when the connection is established (TCP);
//! - a full table evicts its oldest entries (by expiration date, or by creation order
//!   without `expire`; `(size >> 8) + 1` at a time), or refuses new ones with `nopurge`;
//!   expired entries are never matched.
//!
//! Verified against haproxy 2.6.12 with `show table` on its stats socket.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use crate::config::ir::{StickKeyType, StickTable};
use crate::engine::http::sample::Value;

/// The stored server, by name and HAProxy id (the backend using the table resolves it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    pub name: String,
    pub id: u32,
}

#[derive(Debug)]
struct Entry {
    server: Stored,
    /// When the entry expires (`None`: never).
    expire: Option<Instant>,
    /// Its key in `order`.
    rank: (u64, u64),
}

#[derive(Debug, Default)]
struct Inner {
    entries: HashMap<Vec<u8>, Entry>,
    /// Eviction order: (expiration in ms since `epoch`, or 0 without expire; creation seq).
    order: BTreeMap<(u64, u64), Vec<u8>>,
    seq: u64,
}

/// One runtime stick table.
#[derive(Debug)]
pub struct Table {
    pub cfg: StickTable,
    epoch: Instant,
    inner: Mutex<Inner>,
}

impl Table {
    pub fn new(cfg: StickTable) -> Table {
        Table {
            cfg,
            epoch: Instant::now(),
            inner: Mutex::new(Inner::default()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn expire_at(&self, now: Instant) -> Option<Instant> {
        self.cfg
            .expire_ms
            .map(|ms| now + Duration::from_millis(u64::from(ms)))
    }

    fn rank_for(&self, expire: Option<Instant>, seq: u64) -> (u64, u64) {
        let ms = expire.map_or(0, |e| {
            u64::try_from(e.duration_since(self.epoch).as_millis()).unwrap_or(u64::MAX)
        });
        (ms, seq)
    }

    /// Refreshes an entry's expiration (HAProxy's `stktable_touch_local`).
    fn touch(&self, inner: &mut Inner, key: &[u8], now: Instant) {
        let expire = self.expire_at(now);
        let Some(e) = inner.entries.get_mut(key) else {
            return;
        };
        if expire.is_none() {
            return;
        }
        let old = e.rank;
        let rank = self.rank_for(expire, old.1);
        e.expire = expire;
        e.rank = rank;
        if let Some(k) = inner.order.remove(&old) {
            inner.order.insert(rank, k);
        }
    }

    fn remove(inner: &mut Inner, key: &[u8]) {
        if let Some(e) = inner.entries.remove(key) {
            inner.order.remove(&e.rank);
        }
    }

    /// Drops the expired entries at the head of the order.
    fn purge_expired(&self, inner: &mut Inner, now: Instant) {
        if self.cfg.expire_ms.is_none() {
            return;
        }
        while let Some((_, key)) = inner.order.first_key_value() {
            let expired = inner
                .entries
                .get(key)
                .is_none_or(|e| e.expire.is_some_and(|x| x <= now));
            if !expired {
                break;
            }
            let key = key.clone();
            Self::remove(inner, &key);
        }
    }

    /// The server stored under `key`, refreshing the entry; expired entries do not match.
    pub fn lookup(&self, key: &[u8]) -> Option<Stored> {
        let now = Instant::now();
        let mut inner = self.lock();
        let e = inner.entries.get(key)?;
        if e.expire.is_some_and(|x| x <= now) {
            Self::remove(&mut inner, key);
            return None;
        }
        let server = e.server.clone();
        self.touch(&mut inner, key, now);
        Some(server)
    }

    /// Stores (or updates) `key` → `server`, evicting or refusing when full.
    pub fn store(&self, key: Vec<u8>, server: Stored) {
        let now = Instant::now();
        let mut inner = self.lock();
        if let Some(e) = inner.entries.get_mut(&key) {
            e.server = server;
            self.touch(&mut inner, &key, now);
            return;
        }
        self.purge_expired(&mut inner, now);
        let size = usize::try_from(self.cfg.size).unwrap_or(usize::MAX);
        if inner.entries.len() >= size {
            if self.cfg.nopurge {
                return;
            }
            let batch = (size >> 8) + 1;
            for _ in 0..batch {
                let Some((_, k)) = inner.order.pop_first() else {
                    break;
                };
                inner.entries.remove(&k);
            }
        }
        inner.seq += 1;
        let expire = self.expire_at(now);
        let rank = self.rank_for(expire, inner.seq);
        inner.order.insert(rank, key.clone());
        inner.entries.insert(
            key,
            Entry {
                server,
                expire,
                rank,
            },
        );
    }

    /// Live entries (tests).
    pub fn len(&self) -> usize {
        let now = Instant::now();
        self.lock()
            .entries
            .values()
            .filter(|e| e.expire.is_none_or(|x| x > now))
            .count()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The key of a sample value in this table's type (HAProxy's `smp_to_stkey()` after
    /// its sample cast); `None` when the value cannot be converted.
    pub fn key(&self, v: &Value) -> Option<Vec<u8>> {
        key_for(self.cfg.key, self.cfg.key_size, v)
    }
}

fn v4_of(ip: IpAddr) -> Option<[u8; 4]> {
    match ip.to_canonical() {
        IpAddr::V4(v4) => Some(v4.octets()),
        IpAddr::V6(_) => None,
    }
}

/// Converts a sample value to a table key.
pub fn key_for(kind: StickKeyType, key_size: u32, v: &Value) -> Option<Vec<u8>> {
    let size = key_size as usize;
    match kind {
        StickKeyType::Ip => match v {
            Value::Ip(ip) => v4_of(*ip).map(|o| o.to_vec()),
            Value::Str(s) => s
                .parse::<std::net::Ipv4Addr>()
                .ok()
                .map(|a| a.octets().to_vec()),
            Value::Int(i) => Some((*i as u32).to_be_bytes().to_vec()),
            Value::Bool(b) => Some(u32::from(*b).to_be_bytes().to_vec()),
            Value::Bin(_) => None,
        },
        StickKeyType::Ipv6 => match v {
            Value::Ip(IpAddr::V4(a)) => Some(a.to_ipv6_mapped().octets().to_vec()),
            Value::Ip(IpAddr::V6(a)) => Some(a.octets().to_vec()),
            Value::Str(s) => s
                .parse::<std::net::Ipv6Addr>()
                .ok()
                .map(|a| a.octets().to_vec()),
            Value::Int(_) | Value::Bool(_) | Value::Bin(_) => None,
        },
        StickKeyType::Integer => match v {
            Value::Int(i) => Some((*i as u32).to_be_bytes().to_vec()),
            Value::Bool(b) => Some(u32::from(*b).to_be_bytes().to_vec()),
            Value::Ip(ip) => v4_of(*ip).map(|o| o.to_vec()),
            Value::Str(s) => s
                .trim()
                .parse::<i64>()
                .ok()
                .map(|i| (i as u32).to_be_bytes().to_vec()),
            Value::Bin(_) => None,
        },
        StickKeyType::String => {
            let mut t = match v {
                Value::Ip(ip) => ip.to_canonical().to_string().into_bytes(),
                Value::Bin(b) => b.clone(),
                other => other.to_text().into_bytes(),
            };
            // The key holds the string and its NUL terminator.
            t.truncate(size.saturating_sub(1));
            Some(t)
        }
        StickKeyType::Binary => {
            let mut b = match v {
                Value::Ip(ip) => match ip.to_canonical() {
                    IpAddr::V4(a) => a.octets().to_vec(),
                    IpAddr::V6(a) => a.octets().to_vec(),
                },
                Value::Int(i) => i.to_be_bytes().to_vec(),
                Value::Bin(b) => b.clone(),
                other => other.to_text().into_bytes(),
            };
            b.resize(size, 0);
            Some(b)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ir::Origin;

    fn table(size: u64, expire_ms: Option<u32>, nopurge: bool) -> Table {
        Table::new(StickTable {
            name: "be".into(),
            origin: Origin::default(),
            key: StickKeyType::Ip,
            key_size: 4,
            size,
            expire_ms,
            nopurge,
        })
    }

    fn s(n: u32) -> Stored {
        Stored {
            name: format!("s{n}"),
            id: n,
        }
    }

    #[test]
    fn full_table_evicts_oldest_or_refuses() {
        // haproxy 2.6.12, `size 2`: .2, .3, .4 leaves .3 and .4; then .2 evicts .3.
        let t = table(2, None, false);
        t.store(vec![2], s(1));
        t.store(vec![3], s(2));
        t.store(vec![4], s(3));
        assert_eq!(t.lookup(&[2]), None);
        t.store(vec![2], s(1));
        assert_eq!(t.lookup(&[3]), None);
        assert_eq!(t.lookup(&[4]), Some(s(3)));
        let t = table(2, None, true);
        t.store(vec![2], s(1));
        t.store(vec![3], s(2));
        t.store(vec![4], s(3));
        assert_eq!(t.lookup(&[4]), None);
        assert_eq!(t.lookup(&[2]), Some(s(1)));
    }

    #[test]
    fn keys_follow_the_table_type() {
        let v4: IpAddr = "127.0.0.2".parse().unwrap();
        let mapped: IpAddr = "::ffff:127.0.0.2".parse().unwrap();
        assert_eq!(
            key_for(StickKeyType::Ip, 4, &Value::Ip(v4)),
            Some(vec![127, 0, 0, 2])
        );
        assert_eq!(
            key_for(StickKeyType::Ip, 4, &Value::Ip(mapped)),
            Some(vec![127, 0, 0, 2])
        );
        assert_eq!(key_for(StickKeyType::Ip, 4, &Value::Str("x".into())), None);
        let long = "a".repeat(40);
        assert_eq!(
            key_for(StickKeyType::String, 32, &Value::Str(long)).map(|k| k.len()),
            Some(31)
        );
        assert_eq!(
            key_for(StickKeyType::String, 11, &Value::Ip(v4)),
            Some(b"127.0.0.2".to_vec())
        );
    }
}
