//! Plain timing loop for `haproxide::balance`: nanoseconds per pick for 2, 64
//! and 1024 servers with roundrobin, leastconn, source (map-based and
//! consistent) and uri. Not a test; run with
//! `cargo run --release --example bench_select`.

use haproxide::balance::{keys, Algorithm, Balancer, HashConfig, HashType, ServerSlot};
use std::hint::black_box;
use std::time::Instant;

const PICKS: usize = 200_000;

fn servers(n: usize) -> Vec<ServerSlot> {
    // Mixed weights so weighted paths are exercised.
    (0..n)
        .map(|i| ServerSlot::new(1 + (i as u32 % 4)))
        .collect()
}

fn bench(name: &str, n: usize, algo: Algorithm, kind: HashType, keys: &[Vec<u8>]) {
    let hash = HashConfig::new(kind, None, false);
    let mut lb = Balancer::new(algo, hash, servers(n), false);
    let leastconn = matches!(lb.algorithm(), Algorithm::LeastConn);
    // Warm-up, then the timed loop. Leastconn is timed with its connection
    // accounting, since that is where its work happens.
    for i in 0..1000 {
        black_box(lb.pick(keys.get(i % keys.len().max(1)).map(|k| k.as_slice())));
    }
    let start = Instant::now();
    let mut open = std::collections::VecDeque::new();
    for i in 0..PICKS {
        let key = keys.get(i % keys.len().max(1)).map(|k| k.as_slice());
        let pick = black_box(lb.pick(key));
        if leastconn {
            if let Some(s) = pick {
                lb.conn_started(s);
                open.push_back(s);
                if open.len() > n {
                    if let Some(done) = open.pop_front() {
                        lb.conn_ended(done);
                    }
                }
            }
        }
    }
    let ns = start.elapsed().as_nanos() as f64 / PICKS as f64;
    println!("{name:<22} {n:>5} servers {ns:>9.1} ns/pick");
}

fn main() {
    let ips: Vec<Vec<u8>> = (0..4096u32)
        .map(|i| {
            let ip = std::net::IpAddr::from(
                (0x0a00_0000u32 + i.wrapping_mul(2_654_435_761) % 0x00ff_ffff).to_be_bytes(),
            );
            keys::source_key(&ip).as_bytes().to_vec()
        })
        .collect();
    let uris: Vec<Vec<u8>> = (0..4096)
        .map(|i| format!("/static/{}/img{}.png?v={}", i % 37, i, i % 5).into_bytes())
        .collect();
    let uri = Algorithm::Uri {
        len: 0,
        depth: 0,
        whole: false,
        path_only: false,
    };
    for n in [2, 64, 1024] {
        bench(
            "roundrobin",
            n,
            Algorithm::RoundRobin,
            HashType::MapBased,
            &[],
        );
        bench(
            "leastconn",
            n,
            Algorithm::LeastConn,
            HashType::MapBased,
            &[],
        );
        bench(
            "source map-based",
            n,
            Algorithm::Source,
            HashType::MapBased,
            &ips,
        );
        bench(
            "source consistent",
            n,
            Algorithm::Source,
            HashType::Consistent,
            &ips,
        );
        bench("uri map-based", n, uri.clone(), HashType::MapBased, &uris);
        bench(
            "uri consistent",
            n,
            uri.clone(),
            HashType::Consistent,
            &uris,
        );
    }
}
