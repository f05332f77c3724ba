//! Behaviour tests for the balancers: weights, down/zero-weight/backup
//! servers, consistent-hash stability, and regression vectors whose
//! configurations `scripts/lb-diff` checks against a real HAProxy 2.6.

use super::*;
use std::net::IpAddr;

fn slots(weights: &[u32]) -> Vec<ServerSlot> {
    weights.iter().map(|&w| ServerSlot::new(w)).collect()
}

fn map_based() -> HashConfig {
    HashConfig::new(HashType::MapBased, None, false)
}

fn consistent() -> HashConfig {
    HashConfig::new(HashType::Consistent, None, false)
}

fn ip_key(s: &str) -> Vec<u8> {
    let ip: IpAddr = s.parse().unwrap_or(IpAddr::from([0u8; 4]));
    keys::source_key(&ip).as_bytes().to_vec()
}

fn uri_algo() -> Algorithm {
    Algorithm::Uri {
        len: 0,
        depth: 0,
        whole: false,
        path_only: false,
    }
}

/// Every algorithm with the keys it needs, to run the generic checks on all.
fn all_algorithms() -> Vec<(Algorithm, HashConfig)> {
    vec![
        (Algorithm::RoundRobin, map_based()),
        (Algorithm::StaticRr, map_based()),
        (Algorithm::LeastConn, map_based()),
        (Algorithm::First, map_based()),
        (Algorithm::Source, map_based()),
        (Algorithm::Source, consistent()),
        (uri_algo(), map_based()),
        (uri_algo(), consistent()),
        (
            Algorithm::UrlParam {
                name: b"id".to_vec(),
            },
            consistent(),
        ),
        (
            Algorithm::Hdr {
                name: "host".into(),
                use_domain_only: false,
            },
            map_based(),
        ),
        (Algorithm::Random { draws: 2 }, map_based()),
        (Algorithm::Hash, consistent()),
    ]
}

/// A varied key suited to the algorithm, for request number `i`.
fn key_for(algo: &Algorithm, i: usize) -> Option<Vec<u8>> {
    match algo {
        Algorithm::Source => Some(ip_key(&format!(
            "10.{}.{}.{}",
            i % 7,
            (i / 7) % 256,
            i % 251
        ))),
        Algorithm::Uri { .. } => Some(format!("/obj/{i}?v=1").into_bytes()),
        Algorithm::UrlParam { .. } => Some(format!("/p?x=1&id={i}").into_bytes()),
        Algorithm::Hdr { .. } => Some(format!("host{i}.example.com").into_bytes()),
        Algorithm::Hash => Some(format!("{i}").into_bytes()),
        _ => None,
    }
}

/// Picks `n` times, each pick as a short connection, and counts per server.
fn run(lb: &mut Balancer, n: usize) -> Vec<usize> {
    let mut counts = vec![0; lb.len()];
    let algo = lb.algorithm().clone();
    for i in 0..n {
        let key = key_for(&algo, i);
        if let Some(s) = lb.pick(key.as_deref()) {
            counts[s] += 1;
            lb.conn_started(s);
            lb.conn_ended(s);
        }
    }
    counts
}

#[test]
fn roundrobin_respects_weights_over_each_cycle() {
    for weights in [
        vec![1, 2, 3],
        vec![5, 3, 1, 1],
        vec![7, 0, 2, 13, 1],
        vec![256, 1],
    ] {
        let mut lb = Balancer::new(Algorithm::RoundRobin, map_based(), slots(&weights), false);
        let total: u32 = weights.iter().sum();
        for _cycle in 0..3 {
            let counts = run(&mut lb, total as usize);
            let want: Vec<usize> = weights.iter().map(|&w| w as usize).collect();
            assert_eq!(counts, want, "weights {weights:?}");
        }
    }
}

#[test]
fn roundrobin_sequence_matches_haproxy() {
    // Verified against HAProxy 2.6.12 by scripts/lb-diff (case rr_5311).
    let mut lb = Balancer::new(
        Algorithm::RoundRobin,
        map_based(),
        slots(&[5, 3, 1, 1]),
        false,
    );
    let seq: Vec<usize> = (0..22).filter_map(|_| lb.pick(None)).collect();
    assert_eq!(
        seq,
        [0, 1, 0, 2, 0, 1, 0, 1, 0, 3, 0, 1, 0, 2, 0, 1, 0, 1, 0, 3, 0, 1]
    );
}

#[test]
fn static_rr_follows_the_map() {
    let mut lb = Balancer::new(
        Algorithm::StaticRr,
        map_based(),
        slots(&[5, 3, 1, 1]),
        false,
    );
    let seq: Vec<usize> = (0..12).filter_map(|_| lb.pick(None)).collect();
    assert_eq!(seq, [0, 0, 1, 0, 1, 0, 1, 0, 2, 3, 0, 0]);
}

#[test]
fn map_table_interleaves_by_weight_in_declaration_order() {
    let mut pool = pool::Pool::new(slots(&[1, 2]), false);
    let m = map::MapLb::new(&mut pool);
    assert_eq!(m.table(), &[0, 1, 1]);
    let mut pool = pool::Pool::new(slots(&[1, 1, 1]), false);
    assert_eq!(map::MapLb::new(&mut pool).table(), &[0, 1, 2]);
    // Weights are divided by their GCD: 10/20/30/40 is a 10-slot map.
    let mut pool = pool::Pool::new(slots(&[10, 20, 30, 40]), false);
    let m = map::MapLb::new(&mut pool);
    assert_eq!(m.table().len(), 10);
    for (i, w) in [1usize, 2, 3, 4].iter().enumerate() {
        assert_eq!(m.table().iter().filter(|&&s| s == i).count(), *w);
    }
}

#[test]
fn source_map_based_known_answers() {
    // 127.0.0.1 hashes to 0x7f000001; 0x7f000001 % 3 == 2.
    let mut lb = Balancer::new(Algorithm::Source, map_based(), slots(&[1, 1, 1]), false);
    assert_eq!(lb.pick(Some(&ip_key("127.0.0.1"))), Some(2));
    // Weighted map, same picks as HAProxy (lb-diff case src_map_w).
    let mut lb = Balancer::new(
        Algorithm::Source,
        map_based(),
        slots(&[1, 2, 3, 1, 5]),
        false,
    );
    let got: Vec<_> = (1..=12)
        .filter_map(|i| lb.pick(Some(&ip_key(&format!("127.0.0.{i}")))))
        .collect();
    assert_eq!(got, [1, 2, 4, 2, 4, 3, 4, 0, 1, 4, 2, 4]);
}

#[test]
fn source_consistent_known_answers() {
    // lb-diff cases src_ch_eq and src_ch_w ("hash-type consistent" means
    // sdbm + avalanche; for `source` only the avalanche matters).
    let mut lb = Balancer::new(
        Algorithm::Source,
        consistent(),
        slots(&[1, 1, 1, 1, 1]),
        false,
    );
    let got: Vec<_> = (1..=12)
        .filter_map(|i| lb.pick(Some(&ip_key(&format!("127.0.0.{i}")))))
        .collect();
    assert_eq!(got, [3, 3, 2, 0, 3, 0, 2, 0, 0, 4, 1, 3]);
    let mut lb = Balancer::new(
        Algorithm::Source,
        consistent(),
        slots(&[1, 2, 3, 1, 5]),
        false,
    );
    let got: Vec<_> = (1..=12)
        .filter_map(|i| lb.pick(Some(&ip_key(&format!("127.0.0.{i}")))))
        .collect();
    assert_eq!(got, [2, 3, 1, 0, 4, 2, 2, 4, 2, 1, 2, 3]);
}

#[test]
fn uri_known_answers() {
    let uris: [&[u8]; 5] = [
        b"/index.html",
        b"/img/logo.png",
        b"/api/v1/users?id=3",
        b"/",
        b"/a/b/c",
    ];
    let mut ch = Balancer::new(uri_algo(), consistent(), slots(&[1, 2, 3, 1, 5]), false);
    let mut mb = Balancer::new(uri_algo(), map_based(), slots(&[1, 2, 3, 1, 5]), false);
    let got_ch: Vec<_> = uris.iter().filter_map(|u| ch.pick(Some(u))).collect();
    let got_mb: Vec<_> = uris.iter().filter_map(|u| mb.pick(Some(u))).collect();
    assert_eq!(got_ch, [3, 4, 1, 4, 0]);
    assert_eq!(got_mb, [2, 4, 2, 4, 1]);
}

#[test]
fn hash_distribution_follows_weights() {
    for hash in [map_based(), consistent()] {
        let mut lb = Balancer::new(Algorithm::Hash, hash, slots(&[1, 3]), false);
        let counts = run(&mut lb, 20_000);
        let ratio = counts[1] as f64 / counts[0] as f64;
        assert!((2.4..3.6).contains(&ratio), "{hash:?}: {counts:?}");
    }
}

#[test]
fn down_servers_are_never_picked() {
    for (algo, hash) in all_algorithms() {
        let mut lb = Balancer::new(algo.clone(), hash, slots(&[1, 2, 3, 1]), false);
        lb.set_usable(2, false);
        let counts = run(&mut lb, 500);
        assert_eq!(counts[2], 0, "{algo:?} {hash:?}: {counts:?}");
        assert_eq!(counts.iter().sum::<usize>(), 500, "{algo:?}");
        // Back up: it gets traffic again (except `first`, which keeps filling
        // server 0 while it has room).
        lb.set_usable(2, true);
        let counts = run(&mut lb, 500);
        if algo != Algorithm::First {
            assert!(counts[2] > 0, "{algo:?} {hash:?}: {counts:?}");
        }
    }
}

#[test]
fn zero_weight_servers_are_never_picked() {
    for (algo, hash) in all_algorithms() {
        let mut lb = Balancer::new(algo.clone(), hash, slots(&[0, 2, 0, 1]), false);
        let counts = run(&mut lb, 400);
        assert_eq!(
            (counts[0], counts[2]),
            (0, 0),
            "{algo:?} {hash:?}: {counts:?}"
        );
        lb.set_weight(1, 0);
        let counts = run(&mut lb, 100);
        assert_eq!(counts, vec![0, 0, 0, 100], "{algo:?} {hash:?}");
        lb.set_weight(3, 0);
        assert_eq!(lb.pick(key_for(&algo, 1).as_deref()), None, "{algo:?}");
    }
}

#[test]
fn backups_only_when_all_actives_are_down() {
    for (algo, hash) in all_algorithms() {
        let mut servers = slots(&[1, 1, 2, 3]);
        servers[2].backup = true;
        servers[3].backup = true;
        let mut lb = Balancer::new(algo.clone(), hash, servers.clone(), false);
        let counts = run(&mut lb, 200);
        assert_eq!((counts[2], counts[3]), (0, 0), "{algo:?} {hash:?}");
        lb.set_usable(0, false);
        lb.set_usable(1, false);
        if algo == Algorithm::StaticRr {
            // HAProxy quirk (checked by lb-diff case static_rr_bck): the map
            // is sized for the first backup's weight but filled from every
            // usable backup, so static-rr may serve several backups.
            let counts = run(&mut lb, 100);
            assert_eq!(counts[0] + counts[1], 0);
            continue;
        }
        // Without allbackups only the first usable backup serves.
        assert_eq!(run(&mut lb, 100), vec![0, 0, 100, 0], "{algo:?} {hash:?}");
        lb.set_usable(2, false);
        assert_eq!(run(&mut lb, 100), vec![0, 0, 0, 100], "{algo:?} {hash:?}");
        lb.set_usable(2, true);
        assert_eq!(run(&mut lb, 100), vec![0, 0, 100, 0], "{algo:?} {hash:?}");
        // An active server coming back takes over again.
        lb.set_usable(1, true);
        assert_eq!(run(&mut lb, 100), vec![0, 100, 0, 0], "{algo:?} {hash:?}");

        // With allbackups, all usable backups share the load.
        let mut lb = Balancer::new(algo.clone(), hash, servers, true);
        lb.set_usable(0, false);
        lb.set_usable(1, false);
        let counts = run(&mut lb, 600);
        assert_eq!(counts[0] + counts[1], 0, "{algo:?}");
        if algo != Algorithm::First {
            assert!(
                counts[2] > 0 && counts[3] > 0,
                "{algo:?} {hash:?}: {counts:?}"
            );
        }
    }
}

#[test]
fn consistent_hash_moves_only_the_lost_servers_keys() {
    for algo in [Algorithm::Source, uri_algo(), Algorithm::Hash] {
        let mut lb = Balancer::new(
            algo.clone(),
            consistent(),
            slots(&[1, 2, 1, 1, 3, 1, 1, 1]),
            false,
        );
        let keys: Vec<Vec<u8>> = (0..5000).filter_map(|i| key_for(&algo, i)).collect();
        let before: Vec<_> = keys.iter().map(|k| lb.pick(Some(k))).collect();
        lb.set_usable(4, false);
        let after: Vec<_> = keys.iter().map(|k| lb.pick(Some(k))).collect();
        let mut moved = 0;
        for (b, a) in before.iter().zip(&after) {
            if *b == Some(4) {
                moved += 1;
                assert_ne!(*a, Some(4));
            } else {
                assert_eq!(a, b, "{algo:?}: a key not on the lost server moved");
            }
        }
        assert!(moved > 0);
        // Coming back restores every previous choice.
        lb.set_usable(4, true);
        let again: Vec<_> = keys.iter().map(|k| lb.pick(Some(k))).collect();
        assert_eq!(again, before, "{algo:?}");
    }
}

#[test]
fn consistent_ring_has_weight_times_16_points() {
    let mut pool = pool::Pool::new(slots(&[1, 2, 0]), false);
    let mut c = chash::Chash::new(&mut pool);
    assert_eq!(c.points(false), 48);
    pool.servers[1].next_eweight = 5 * 16;
    pool.servers[1].slot.weight = 5;
    c.update(&mut pool, 1);
    assert_eq!(c.points(false), 96);
    assert_eq!(chash::node_key(1, 0), hash::full_hash(4096));
}

#[test]
fn explicit_ids_place_servers_on_the_ring() {
    // Swapping ids swaps which server owns each ring point.
    let mut a = slots(&[1, 1]);
    a[0].id = Some(2);
    a[1].id = Some(1);
    let mut swapped = Balancer::new(Algorithm::Hash, consistent(), a, false);
    let mut plain = Balancer::new(Algorithm::Hash, consistent(), slots(&[1, 1]), false);
    for i in 0..200 {
        let k = format!("{i}").into_bytes();
        let p = plain.pick(Some(&k)).map(|s| 1 - s);
        assert_eq!(swapped.pick(Some(&k)), p);
    }
    assert_eq!(swapped.puid(0), Some(2));
}

#[test]
fn leastconn_prefers_least_loaded_relative_to_weight() {
    let mut lb = Balancer::new(Algorithm::LeastConn, map_based(), slots(&[1, 1, 2]), false);
    // Idle servers take turns (declaration order first).
    let mut picks = vec![];
    for _ in 0..3 {
        let s = lb.pick(None);
        picks.extend(s);
        if let Some(s) = s {
            lb.conn_started(s);
        }
    }
    assert_eq!(picks, [0, 1, 2]);
    // Now 1 conn each: server 2 (weight 2) is relatively least loaded.
    assert_eq!(lb.pick(None), Some(2));
    lb.conn_started(2);
    // 0 and 1 at (1+1)/1, 2 at (2+1)/2: server 2 is still lighter.
    assert_eq!(lb.pick(None), Some(2));
    lb.conn_ended(0);
    assert_eq!(lb.pick(None), Some(0));
}

#[test]
fn first_fills_servers_in_id_order_up_to_maxconn() {
    let mut servers = slots(&[1, 1, 1]);
    for s in servers.iter_mut() {
        s.maxconn = Some(2);
    }
    servers[0].id = Some(3);
    let mut lb = Balancer::new(Algorithm::First, map_based(), servers, false);
    let mut picks = vec![];
    while let Some(s) = lb.pick(None) {
        picks.push(s);
        lb.conn_started(s);
        if picks.len() > 10 {
            break;
        }
    }
    // ids: server0 = 3 (explicit); server1 gets 2 because HAProxy's id
    // cursor also advanced past server0; server2 gets 4. All full after 6.
    assert_eq!(picks, [1, 1, 0, 0, 2, 2]);
    lb.conn_ended(2);
    assert_eq!(lb.pick(None), Some(2));
}

#[test]
fn maxconn_is_respected_by_roundrobin() {
    let mut servers = slots(&[1, 1]);
    servers[0].maxconn = Some(1);
    let mut lb = Balancer::new(Algorithm::RoundRobin, map_based(), servers, false);
    let s = lb.pick(None);
    assert_eq!(s, Some(0));
    lb.conn_started(0);
    for _ in 0..5 {
        assert_eq!(lb.pick(None), Some(1));
    }
}

#[test]
fn random_prefers_the_less_loaded_draw() {
    let mut lb = Balancer::new(
        Algorithm::Random { draws: 2 },
        map_based(),
        slots(&[1, 1]),
        false,
    );
    lb.seed_random(42);
    for _ in 0..50 {
        lb.conn_started(0);
    }
    let counts = run(&mut lb, 1000);
    // Server 1 wins every draw pair containing it (3/4 of them).
    assert!(counts[1] > 700, "{counts:?}");
}

#[test]
fn missing_key_falls_back_to_round_robin() {
    for hash in [map_based(), consistent()] {
        let mut lb = Balancer::new(
            Algorithm::UrlParam {
                name: b"uid".to_vec(),
            },
            hash,
            slots(&[1, 1, 1]),
            false,
        );
        let picks: Vec<_> = (0..30)
            .filter_map(|_| lb.pick(Some(b"/no/params")))
            .collect();
        for s in 0..3 {
            assert!(picks.contains(&s), "{hash:?}: {picks:?}");
        }
    }
}

#[test]
fn avoid_steers_away_when_possible() {
    for (algo, hash) in all_algorithms() {
        let mut lb = Balancer::new(algo.clone(), hash, slots(&[1, 1]), false);
        let key = key_for(&algo, 3);
        let first = lb.pick(key.as_deref());
        let Some(first) = first else {
            panic!("{algo:?}: no server")
        };
        if matches!(hash.kind, HashType::MapBased) && key.is_some() {
            // Map-based hashing ignores `avoid`, as HAProxy does.
            continue;
        }
        let other = lb.pick_avoiding(key.as_deref(), Some(first));
        assert_eq!(other, Some(1 - first), "{algo:?} {hash:?}");
        // With a single usable server, the avoided one is still returned.
        lb.set_usable(1 - first, false);
        assert_eq!(lb.pick_avoiding(key.as_deref(), Some(first)), Some(first));
    }
}

#[test]
fn runtime_weight_change_rebalances_roundrobin() {
    let mut lb = Balancer::new(Algorithm::RoundRobin, map_based(), slots(&[1, 1]), false);
    run(&mut lb, 7);
    lb.set_weight(1, 3);
    // After the change settles, a full window of 4 respects 1:3.
    run(&mut lb, 8);
    let counts = run(&mut lb, 400);
    assert_eq!(counts, vec![100, 300]);
}

#[test]
fn out_of_range_inputs_do_not_panic() {
    let mut lb = Balancer::new(Algorithm::RoundRobin, map_based(), slots(&[1000, 1]), false);
    assert_eq!(lb.server(0).map(|s| s.weight), Some(256));
    lb.set_usable(99, false);
    lb.set_weight(99, 3);
    lb.conn_started(99);
    lb.conn_ended(99);
    lb.conn_ended(1);
    assert!(lb.pick(None).is_some());
    let mut empty = Balancer::new(Algorithm::Source, consistent(), vec![], false);
    assert_eq!(empty.pick(Some(b"\x01\x02\x03\x04")), None);
    assert!(empty.is_empty());
    let mut src = Balancer::new(Algorithm::Source, map_based(), slots(&[1, 1]), false);
    assert!(src.pick(Some(b"")).is_some());
    assert!(src.pick(None).is_some());
}
