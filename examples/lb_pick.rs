//! Prints the server index `haproxide::balance` picks, for the differential
//! check against real HAProxy (`scripts/lb-diff`).
//!
//! Usage:
//!   lb_pick --algo ALGO [--hash-type map-based|consistent] [--func sdbm|djb2|wt6|crc32]
//!           [--avalanche] --weights 1,2,3 [--backup 0,0,1] [--down 0,1,0] [--allbackups]
//!           [--len N] [--depth N] [--whole] [--path-only] [--param NAME] [--domain-only]
//!           [--seq N] [--ops OPS]
//! ALGO: roundrobin static-rr leastconn first source uri url_param hdr hash
//! rdp-cookie.
//! Hashing algorithms read one key per line on stdin (an IP address for
//! `source`, a URI for `uri`/`url_param`, a header value for `hdr`/`hash`, a
//! user name for `rdp-cookie`) and print
//! one 0-based server index per line ("-" for none). With `--seq N`, N picks
//! are made without a key, each as a short sequential connection (picked,
//! started, ended), and printed one per line.
//! `--ops` interleaves runtime changes with picks: a comma-separated list of
//! `N` (N picks: N sequential picks, or the next N keys from stdin),
//! `wI=W` (set server I's weight to W), `dI` (server I down), `uI` (up).

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
    let mut ops = String::new();
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
            "--ops" => ops = val,
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
        // `balance rdp-cookie` without a name means "mstshash".
        "rdp-cookie" => Algorithm::RdpCookie {
            name: if param.is_empty() {
                b"mstshash".to_vec()
            } else {
                param.clone().into_bytes()
            },
        },
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
    let keyed = seq.is_none();
    let mut lines = std::io::stdin().lock().lines();
    let mut next_key = || -> Option<Option<Vec<u8>>> {
        let line = lines.next()?.ok()?;
        Some(match algo {
            Algorithm::Source => line
                .trim()
                .parse::<std::net::IpAddr>()
                .ok()
                .map(|ip| keys::source_key(&ip).as_bytes().to_vec()),
            // The line is the user name: wrap it in an RDP connection
            // request (TPKT + X.224 header, 11 bytes, then the cookie line).
            Algorithm::RdpCookie { .. } => {
                let mut p = vec![3, 0, 0, 0, 0, 0xe0, 0, 0, 0, 0, 0];
                p.extend_from_slice(format!("Cookie: mstshash={line}\r\n").as_bytes());
                Some(p)
            }
            _ => Some(line.into_bytes()),
        })
    };
    // Without --ops: all of --seq, or every key on stdin.
    if ops.is_empty() {
        ops = seq.map_or_else(|| usize::MAX.to_string(), |n| n.to_string());
    }
    for op in ops.split(',').map(str::trim).filter(|o| !o.is_empty()) {
        let idx = |o: &str| {
            o[1..]
                .split('=')
                .next()
                .and_then(|v| v.parse::<usize>().ok())
        };
        match op.as_bytes()[0] {
            b'w' => {
                let w = op
                    .split('=')
                    .nth(1)
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(1);
                if let Some(i) = idx(op) {
                    lb.set_weight(i, w);
                }
            }
            b'd' | b'u' => {
                if let Some(i) = idx(op) {
                    lb.set_usable(i, op.starts_with('u'));
                }
            }
            _ => {
                let n: usize = op.parse().unwrap_or(0);
                for _ in 0..n {
                    let p = if keyed {
                        match next_key() {
                            None => break,
                            Some(None) => None,
                            Some(Some(k)) => lb.pick(Some(&k)),
                        }
                    } else {
                        lb.pick(None)
                    };
                    if let Some(i) = p {
                        lb.conn_started(i);
                        lb.conn_ended(i);
                    }
                    let _ = writeln!(out, "{}", show(p));
                }
            }
        }
    }
}
