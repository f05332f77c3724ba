//! HAProxy 2.6's key hash functions (`hash-type ... sdbm|djb2|wt6|crc32`), the
//! `avalanche` integer mixer (`full_hash`), and `gen_hash`, which picks one of
//! them from the backend's hash settings.
//!
//! The exact bit-for-bit results matter: a hash-based balancer that computes a
//! different value than HAProxy sends existing users to a different server after
//! a migration. Known-answer vectors in the tests were produced by compiling
//! HAProxy 2.6.12's own C functions.

use super::{HashConfig, HashFunction};

/// sdbm: `h = c + (h << 6) + (h << 16) - h`, the default for every hash-type.
pub fn sdbm(key: &[u8]) -> u32 {
    key.iter().fold(0u32, |h, &c| {
        u32::from(c)
            .wrapping_add(h << 6)
            .wrapping_add(h << 16)
            .wrapping_sub(h)
    })
}

/// djb2: `h = h * 33 + c`, seeded with 5381. HAProxy unrolls the loop eight
/// times, which does not change the result.
pub fn djb2(key: &[u8]) -> u32 {
    key.iter().fold(5381u32, |h, &c| {
        (h << 5).wrapping_add(h).wrapping_add(u32::from(c))
    })
}

/// wt6: Willy Tarreau's two-lane rotating hash. The rotation counts depend on
/// the running state, so every byte must be processed exactly as HAProxy does.
pub fn wt6(key: &[u8]) -> u32 {
    let mut h0: u32 = 0xa53c_965a;
    let mut h1: u32 = 0x5ca6_953a;
    let mut step0: u32 = 6;
    let mut step1: u32 = 18;
    for &b in key {
        let t = u32::from(b);
        h0 = !(h0 ^ t);
        h1 = !(h1.wrapping_add(t));
        // HAProxy writes `(x << s) | (x >> (32 - s))`. With s == 0 the right
        // shift by 32 is undefined in C; on the x86/arm builds it yields x, so
        // the expression is x either way, which is exactly a rotation by 0.
        let t2 = h1.rotate_left(step0);
        h1 = h0.rotate_left(step1);
        h0 = t2;
        let t3 = ((h0 >> 16) ^ h1) & 0xffff;
        step0 = t3 & 0x1f;
        step1 = t3 >> 11;
    }
    h0 ^ h1
}

/// Bitwise reflected CRC-32 (polynomial 0xedb88320), as HAProxy computes it.
pub fn crc32(key: &[u8]) -> u32 {
    let mut h: u32 = !0;
    for &b in key {
        h ^= u32::from(b);
        for _ in 0..8 {
            h = (h >> 1) ^ if h & 1 != 0 { 0xedb8_8320 } else { 0 };
        }
    }
    !h
}

/// Bob Jenkins' 32-bit full-avalanche integer hash (`full_hash()` in HAProxy).
/// Used for `hash-type ... avalanche` and to place consistent-hash ring nodes.
pub fn full_hash(a: u32) -> u32 {
    let mut a = a;
    a = a.wrapping_add(0x7ed5_5d16).wrapping_add(a << 12);
    a = (a ^ 0xc761_c23c) ^ (a >> 19);
    a = a.wrapping_add(0x1656_67b1).wrapping_add(a << 5);
    a = a.wrapping_add(0xd3a2_646c) ^ (a << 9);
    a = a.wrapping_add(0xfd70_46c5).wrapping_add(a << 3);
    a = (a ^ 0xb55a_4f09) ^ (a >> 16);
    // HAProxy then multiplies by a large prime close to 3/4 of 2^32 to spread
    // values over the whole ring.
    a.wrapping_mul(3_221_225_473)
}

/// Hashes `key` with the configured function, then applies `full_hash` when
/// `avalanche` is set (what HAProxy's `gen_hash()` plus its callers do for
/// every key-based algorithm except `source`).
pub fn hash_key(cfg: &HashConfig, key: &[u8]) -> u32 {
    let h = match cfg.function {
        HashFunction::Sdbm => sdbm(key),
        HashFunction::Djb2 => djb2(key),
        HashFunction::Wt6 => wt6(key),
        HashFunction::Crc32 => crc32(key),
    };
    if cfg.avalanche {
        full_hash(h)
    } else {
        h
    }
}

/// `balance source` does not use the hash function: it XORs the address as
/// big-endian 32-bit words (4 bytes for IPv4, 16 for IPv6; a trailing partial
/// word is ignored, as in HAProxy). Only `avalanche` applies on top.
pub fn fold_address(addr: &[u8], avalanche: bool) -> u32 {
    let h = addr.chunks_exact(4).fold(0u32, |h, w| {
        h ^ u32::from_be_bytes([w[0], w[1], w[2], w[3]])
    });
    if avalanche {
        full_hash(h)
    } else {
        h
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Vectors produced by compiling hash_sdbm/hash_djb2/hash_wt6/hash_crc32 and
    // __full_hash from HAProxy 2.6.12 with gcc and running them on these inputs.
    const INPUTS: [&[u8]; 6] = [
        b"",
        b"a",
        b"/index.html",
        b"The quick brown fox jumps over the lazy dog",
        b"\x00\xff\x80\x7f",
        b"/static/img/logo.png?v=1",
    ];

    #[test]
    fn sdbm_vectors() {
        let want = [
            0x00000000, 0x00000061, 0x33242976, 0x8ca77173, 0x7e11917e, 0xa8f5f2ef,
        ];
        for (i, k) in INPUTS.iter().enumerate() {
            assert_eq!(sdbm(k), want[i], "input {i}");
        }
    }

    #[test]
    fn djb2_vectors() {
        let want = [
            0x00001505, 0x0002b606, 0xe114b9cf, 0x34cc38de, 0x7c615d43, 0xbe037bfe,
        ];
        for (i, k) in INPUTS.iter().enumerate() {
            assert_eq!(djb2(k), want[i], "input {i}");
        }
    }

    #[test]
    fn wt6_vectors() {
        let want = [
            0xf99a0360, 0x714bf225, 0x3101077e, 0xe4e7b045, 0x5167fef0, 0x62e2b7f2,
        ];
        for (i, k) in INPUTS.iter().enumerate() {
            assert_eq!(wt6(k), want[i], "input {i}");
        }
    }

    #[test]
    fn crc32_vectors() {
        let want = [
            0x00000000, 0xe8b7be43, 0xea224b42, 0x414fa339, 0x64e51f17, 0xf7b97918,
        ];
        for (i, k) in INPUTS.iter().enumerate() {
            assert_eq!(crc32(k), want[i], "input {i}");
        }
        // The standard CRC-32 check value also holds.
        assert_eq!(crc32(b"123456789"), 0xcbf4_3926);
    }

    #[test]
    fn full_hash_vectors() {
        let want = [
            0xab4ed927, 0x348681b6, 0x49c2008b, 0xa4972c87, 0x8a1b584b, 0x7e64c182,
        ];
        let inputs = [0u32, 1, 4096, 4097, 0x7f00_0001, 0xffff_ffff];
        for (i, &a) in inputs.iter().enumerate() {
            assert_eq!(full_hash(a), want[i], "input {a:#x}");
        }
    }

    #[test]
    fn fold_address_xors_words() {
        assert_eq!(fold_address(&[127, 0, 0, 1], false), 0x7f00_0001);
        let v6 = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
        assert_eq!(fold_address(&v6, false), 0x2001_0db8 ^ 1);
        assert_eq!(fold_address(&[1, 2, 3], false), 0);
        assert_eq!(fold_address(&[127, 0, 0, 1], true), full_hash(0x7f00_0001));
    }
}
