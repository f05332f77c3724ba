//! Prints the server index `haproxide::balance` picks, for the differential
//! check against real HAProxy (`scripts/lb-diff`).
//!
//! Usage:
//!   lb_pick --algo ALGO [--hash-type map-based|consistent] [--func sdbm|djb2|wt6|crc32]
//!           [--avalanche] --weights 1,2,3 [--backup 0,0,1] [--down 0,1,0] [--allbackups]
//!           [--len N] [--depth N] [--whole] [--path-only] [--param NAME] [--domain-only]
//!           [--seq N]
//! ALGO: roundrobin static-rr leastconn first source uri url_param hdr hash.
//! Hashing algorithms read one key per line on stdin (an IP address for
//! `source`, a URI for `uri`/`url_param`, a header value for `hdr`) and print
//! one 0-based server index per line ("-" for none). With `--seq N`, N picks
//! are made without a key, each as a short sequential connection (picked,
//! started, ended), and printed one per line.

use haproxide::balance::{
    keys, Algorithm, Balancer, HashConfig, HashFunction, HashType, ServerSlot,
};
use std::io::{BufRead, Write};

fn list(v: &str) -> Vec<u32> {
    v.split(',').filter_map(|x| x.trim().parse().ok()).collect()
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut algo_name = String::from("roundrobin");
    let (mut kind, mut func, mut avalanche) = (HashType::MapBased, None, false);
    let (mut weights, mut backup, mut down) = (vec![1u32], vec![], vec![]);
    let (mut allbackups, mut whole, mut path_only, mut domain_only) = (false, false, false, false);
    let (mut len, mut depth, mut seq) = (0u32, 0u32, None::<usize>);
    let mut param = String::new();
    let mut i = 0;
    while i < args.len() {
        let val = args.get(i + 1).cloned().unwrap_or_default();
        let mut took = true;
        match args[i].as_str() {
            "--algo" => algo_name = val,
            "--hash-type" => {
                kind = if val == "consistent" {
                    HashType::Consistent
                } else {
                    HashType::MapBased
                }
            }
            "--func" => {
                func = Some(match val.as_str() {
                    "djb2" => HashFunction::Djb2,
                    "wt6" => HashFunction::Wt6,
                    "crc32" => HashFunction::Crc32,
                    _ => HashFunction::Sdbm,
                })
            }
            "--weights" => weights = list(&val),
            "--backup" => backup = list(&val),
            "--down" => down = list(&val),
            "--len" => len = val.parse().unwrap_or(0),
            "--depth" => depth = val.parse().unwrap_or(0),
            "--param" => param = val,
            "--seq" => seq = val.parse().ok(),
            flag => {
                took = false;
                match flag {
                    "--avalanche" => avalanche = true,
                    "--allbackups" => allbackups = true,
                    "--whole" => whole = true,
                    "--path-only" => path_only = true,
                    "--domain-only" => domain_only = true,
                    other => {
                        eprintln!("lb_pick: unknown argument {other}");
                        std::process::exit(2);
                    }
                }
            }
        }
        i += if took { 2 } else { 1 };
    }
    // Same defaults as HAProxy's `hash-type` parser.
    let hash = HashConfig::new(kind, func, avalanche);
    let algo = match algo_name.as_str() {
        "static-rr" => Algorithm::StaticRr,
        "leastconn" => Algorithm::LeastConn,
        "first" => Algorithm::First,
        "source" => Algorithm::Source,
        "uri" => Algorithm::Uri {
            len,
            depth,
            whole,
            path_only,
        },
        "url_param" => Algorithm::UrlParam {
            name: param.clone().into_bytes(),
        },
        "hdr" => Algorithm::Hdr {
            name: param.clone(),
            use_domain_only: domain_only,
        },
        "hash" => Algorithm::Hash,
        _ => Algorithm::RoundRobin,
    };
    let servers: Vec<ServerSlot> = weights
        .iter()
        .enumerate()
        .map(|(i, &w)| {
            let mut s = ServerSlot::new(w);
            s.backup = backup.get(i).copied().unwrap_or(0) != 0;
            s.usable = down.get(i).copied().unwrap_or(0) == 0;
            s
        })
        .collect();
    let mut lb = Balancer::new(algo.clone(), hash, servers, allbackups);
    let out = std::io::stdout();
    let mut out = out.lock();
    let show = |p: Option<usize>| p.map_or_else(|| "-".to_string(), |i| i.to_string());
    if let Some(n) = seq {
        for _ in 0..n {
            let p = lb.pick(None);
            if let Some(i) = p {
                lb.conn_started(i);
                lb.conn_ended(i);
            }
            let _ = writeln!(out, "{}", show(p));
        }
        return;
    }
    for line in std::io::stdin().lock().lines() {
        let Ok(line) = line else { break };
        let key: Vec<u8> = match algo {
            Algorithm::Source => match line.trim().parse::<std::net::IpAddr>() {
                Ok(ip) => keys::source_key(&ip).as_bytes().to_vec(),
                Err(_) => {
                    let _ = writeln!(out, "-");
                    continue;
                }
            },
            _ => line.into_bytes(),
        };
        let _ = writeln!(out, "{}", show(lb.pick(Some(&key))));
    }
}
