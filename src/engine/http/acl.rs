//! ACL evaluation: an [`AclExpr`] matches when any fetched value matches any pattern with the
//! expression's match method; a [`Condition`] is an OR of ANDs of (possibly negated) ACLs.
//! Predefined ACLs (`TRUE`, `METH_GET`, `LOCALHOST`...) arrive from the config layer already
//! expanded into ordinary expressions.
//!
//! `-m reg` is rejected at config load (no regex engine); if one slips through it never
//! matches, and a warning is traced.

use std::net::IpAddr;

use crate::config::ir::{Acl, AclExpr, Condition, MatchMethod};

use super::sample::ReqView;
use super::sample::{fetch, fetch_smp, Value};

/// Evaluates an optional rule condition (`None` = unconditional).
pub fn cond_ok(view: &ReqView<'_>, acls: &[Acl], cond: Option<&Condition>) -> bool {
    match cond {
        None => true,
        Some(c) => eval_condition(view, acls, c),
    }
}

pub fn eval_condition(view: &ReqView<'_>, acls: &[Acl], c: &Condition) -> bool {
    let v = c.any_of.iter().any(|all| {
        all.iter().all(|t| {
            let m = acls.get(t.acl).is_some_and(|acl| eval_acl(view, acl));
            m != t.negate
        })
    });
    v != c.unless
}

pub fn eval_acl(view: &ReqView<'_>, acl: &Acl) -> bool {
    acl.alternatives.iter().any(|e| eval_expr(view, e))
}

pub fn eval_expr(view: &ReqView<'_>, e: &AclExpr) -> bool {
    let values = match fetch(view, &e.fetch) {
        Ok(v) => v,
        Err(msg) => {
            tracing::warn!("ACL on '{}' never matches: {msg}", e.fetch.fetch);
            return false;
        }
    };
    match e.match_method {
        MatchMethod::Found => !values.is_empty(),
        // `-m bool` takes no pattern: the sample itself is the verdict.
        MatchMethod::Bool => values.iter().any(truthy),
        _ => values.iter().any(|v| e.patterns_match(v)),
    }
}

/// HAProxy's three-valued ACL result (`enum acl_test_res`): `Miss` when the answer may
/// change with more data (`tcp-request content` then waits). The values are HAProxy's, so
/// AND and OR are bitwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AclRes {
    Fail = 0,
    Miss = 1,
    Pass = 3,
}

impl AclRes {
    fn from_bits(b: u8) -> AclRes {
        match b {
            3 => AclRes::Pass,
            1 => AclRes::Miss,
            _ => AclRes::Fail,
        }
    }
    fn neg(self) -> AclRes {
        AclRes::from_bits(3 >> (self as u8))
    }
}

/// `acl_exec_cond()`: a condition's three-valued result, *before* `unless` is applied (a
/// `Miss` stays a `Miss` either way).
pub fn exec_condition(view: &ReqView<'_>, acls: &[Acl], c: &Condition) -> AclRes {
    let mut cond = AclRes::Fail as u8;
    for all in &c.any_of {
        let mut suite = AclRes::Pass as u8;
        for t in all {
            let mut r = acls
                .get(t.acl)
                .map_or(AclRes::Fail, |acl| exec_acl(view, acl));
            if t.negate {
                r = r.neg();
            }
            suite &= r as u8;
            if suite != AclRes::Pass as u8 {
                break;
            }
        }
        cond |= suite;
        if cond == AclRes::Pass as u8 {
            break;
        }
    }
    AclRes::from_bits(cond)
}

/// One ACL: its expressions ORed, a fetch that may change making a non-match a `Miss`.
fn exec_acl(view: &ReqView<'_>, acl: &Acl) -> AclRes {
    let mut res = AclRes::Fail as u8;
    for e in &acl.alternatives {
        let (values, may_change) = match fetch_smp(view, &e.fetch) {
            Ok(v) => v,
            Err(msg) => {
                tracing::warn!("ACL on '{}' never matches: {msg}", e.fetch.fetch);
                continue;
            }
        };
        let matched = match e.match_method {
            MatchMethod::Found => !values.is_empty(),
            MatchMethod::Bool => values.iter().any(truthy),
            _ => values.iter().any(|v| e.patterns_match(v)),
        };
        if matched {
            return AclRes::Pass;
        }
        if may_change {
            res |= AclRes::Miss as u8;
        }
    }
    AclRes::from_bits(res)
}

fn truthy(v: &Value) -> bool {
    match v {
        Value::Bool(b) => *b,
        Value::Int(i) => *i != 0,
        Value::Str(s) => !s.is_empty(),
        Value::Ip(_) => true,
        Value::Bin(b) => !b.is_empty(),
    }
}

trait PatternMatch {
    fn patterns_match(&self, v: &Value) -> bool;
}

impl PatternMatch for AclExpr {
    fn patterns_match(&self, v: &Value) -> bool {
        let ic = self.ignore_case;
        match self.match_method {
            MatchMethod::Found => true,
            MatchMethod::Bool => truthy(v),
            MatchMethod::Int => {
                let n = match v {
                    Value::Int(i) => *i,
                    Value::Bool(b) => i64::from(*b),
                    Value::Str(s) => match s.trim().parse() {
                        Ok(n) => n,
                        Err(_) => return false,
                    },
                    Value::Ip(_) | Value::Bin(_) => return false,
                };
                int_patterns_match(&self.patterns, n)
            }
            MatchMethod::Len => {
                let n = match v {
                    Value::Bin(b) => b.len() as i64,
                    other => other.to_text().len() as i64,
                };
                int_patterns_match(&self.patterns, n)
            }
            MatchMethod::Ip => {
                let ip = match v {
                    Value::Ip(ip) => *ip,
                    Value::Bin(_) => return false,
                    other => match other.to_text().trim().parse::<IpAddr>() {
                        Ok(ip) => ip,
                        Err(_) => return false,
                    },
                };
                self.patterns.iter().any(|p| ip_match(p, ip))
            }
            MatchMethod::Bin => {
                let bytes = match v {
                    Value::Bin(b) => std::borrow::Cow::Borrowed(b.as_slice()),
                    other => std::borrow::Cow::Owned(other.to_text().into_bytes()),
                };
                self.patterns
                    .iter()
                    .any(|p| hex_decode(p).is_some_and(|b| b == *bytes))
            }
            MatchMethod::Reg => false,
            m => {
                let text = v.to_text();
                self.patterns.iter().any(|p| str_match(m, &text, p, ic))
            }
        }
    }
}

fn eq_bytes(a: &[u8], b: &[u8], ic: bool) -> bool {
    if ic {
        a.eq_ignore_ascii_case(b)
    } else {
        a == b
    }
}

fn find_sub(hay: &[u8], needle: &[u8], ic: bool, from: usize) -> Option<usize> {
    if needle.len() > hay.len() {
        return None;
    }
    (from..=hay.len() - needle.len()).find(|&i| eq_bytes(&hay[i..i + needle.len()], needle, ic))
}

/// `-m dir` / `-m dom`: the pattern appears in the sample delimited by `delim` (or the ends),
/// the pattern's own leading/trailing delimiters being ignored (HAProxy's `match_word`).
fn match_word(sample: &str, pat: &str, delim: &[u8], ic: bool) -> bool {
    let pat = pat.trim_matches(|c: char| c.is_ascii() && delim.contains(&(c as u8)));
    if pat.is_empty() {
        return false;
    }
    let s = sample.as_bytes();
    let p = pat.as_bytes();
    let mut from = 0;
    while let Some(i) = find_sub(s, p, ic, from) {
        let before_ok = i == 0 || delim.contains(&s[i - 1]);
        let end = i + p.len();
        let after_ok = end == s.len() || delim.contains(&s[end]);
        if before_ok && after_ok {
            return true;
        }
        from = i + 1;
    }
    false
}

fn str_match(m: MatchMethod, text: &str, pat: &str, ic: bool) -> bool {
    let (t, p) = (text.as_bytes(), pat.as_bytes());
    match m {
        MatchMethod::Str => eq_bytes(t, p, ic),
        MatchMethod::Beg => t.len() >= p.len() && eq_bytes(&t[..p.len()], p, ic),
        MatchMethod::End => t.len() >= p.len() && eq_bytes(&t[t.len() - p.len()..], p, ic),
        MatchMethod::Sub => find_sub(t, p, ic, 0).is_some(),
        MatchMethod::Dir => match_word(text, pat, b"/?", ic),
        MatchMethod::Dom => match_word(text, pat, b"/?.:", ic),
        _ => false,
    }
}

/// Integer patterns: `N`, `A:B` ranges (either side open), or an operator word (`eq`, `ne`,
/// `lt`, `le`, `gt`, `ge`) applying to the following value.
fn int_patterns_match(patterns: &[String], n: i64) -> bool {
    let mut op: Option<&str> = None;
    for p in patterns {
        match p.as_str() {
            "eq" | "ne" | "lt" | "le" | "gt" | "ge" => {
                op = Some(p.as_str());
                continue;
            }
            _ => {}
        }
        let ok = match op {
            Some(o) => match p.trim().parse::<i64>() {
                Ok(v) => match o {
                    "eq" => n == v,
                    "ne" => n != v,
                    "lt" => n < v,
                    "le" => n <= v,
                    "gt" => n > v,
                    _ => n >= v,
                },
                Err(_) => false,
            },
            None => match p.split_once(':') {
                Some((a, b)) => {
                    let lo = if a.is_empty() {
                        Some(i64::MIN)
                    } else {
                        a.trim().parse().ok()
                    };
                    let hi = if b.is_empty() {
                        Some(i64::MAX)
                    } else {
                        b.trim().parse().ok()
                    };
                    matches!((lo, hi), (Some(lo), Some(hi)) if n >= lo && n <= hi)
                }
                None => p.trim().parse::<i64>().is_ok_and(|v| v == n),
            },
        };
        if ok {
            return true;
        }
    }
    false
}

/// `addr` or `addr/prefix` (IPv4 also accepts a dotted mask).
fn ip_match(pat: &str, ip: IpAddr) -> bool {
    let (addr, len) = match pat.split_once('/') {
        Some((a, l)) => (a, Some(l)),
        None => (pat, None),
    };
    let Ok(net) = addr.parse::<IpAddr>() else {
        return false;
    };
    let ip = match (net, ip) {
        (IpAddr::V4(_), IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => return false,
        },
        (_, ip) => ip,
    };
    let bits: u32 = match (net, ip) {
        (IpAddr::V4(_), IpAddr::V4(_)) => 32,
        (IpAddr::V6(_), IpAddr::V6(_)) => 128,
        _ => return false,
    };
    let prefix: u32 = match len {
        None => bits,
        Some(l) => match l.parse::<u32>() {
            Ok(p) if p <= bits => p,
            _ => match l.parse::<std::net::Ipv4Addr>() {
                Ok(mask) => u32::from(mask).count_ones(),
                Err(_) => return false,
            },
        },
    };
    let (a, b) = match (net, ip) {
        (IpAddr::V4(n), IpAddr::V4(i)) => (
            u128::from(u32::from(n)) << 96,
            u128::from(u32::from(i)) << 96,
        ),
        (IpAddr::V6(n), IpAddr::V6(i)) => (u128::from(n), u128::from(i)),
        _ => return false,
    };
    if prefix == 0 {
        return true;
    }
    let mask = u128::MAX << (128 - prefix.min(128));
    (a & mask) == (b & mask)
}

fn hex_decode(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings() {
        assert!(str_match(MatchMethod::Beg, "/api/v1", "/api", false));
        assert!(str_match(MatchMethod::End, "a.JPG", ".jpg", true));
        assert!(!str_match(MatchMethod::End, "a.JPG", ".jpg", false));
        assert!(str_match(MatchMethod::Sub, "hello", "ell", false));
        assert!(str_match(MatchMethod::Dir, "/a/img/x.png", "img", false));
        assert!(!str_match(
            MatchMethod::Dir,
            "/a/images/x.png",
            "img",
            false
        ));
        assert!(str_match(
            MatchMethod::Dom,
            "www.example.com",
            "example",
            false
        ));
        assert!(!str_match(
            MatchMethod::Dom,
            "www.myexample.com",
            "example",
            false
        ));
        assert!(str_match(
            MatchMethod::Dom,
            "www.example.com:80",
            "example.com",
            false
        ));
    }

    #[test]
    fn ints_and_ips() {
        assert!(int_patterns_match(&["gt".into(), "1".into()], 2));
        assert!(!int_patterns_match(&["gt".into(), "1".into()], 1));
        assert!(int_patterns_match(&["10:20".into()], 15));
        assert!(int_patterns_match(&[":20".into()], -5));
        assert!(ip_match("127.0.0.1/8", "127.3.4.5".parse().unwrap()));
        assert!(!ip_match("10.0.0.0/8", "127.3.4.5".parse().unwrap()));
        assert!(ip_match("::1", "::1".parse().unwrap()));
        assert!(ip_match("127.0.0.1/8", "::ffff:127.0.0.2".parse().unwrap()));
        assert!(ip_match(
            "192.168.0.0/255.255.0.0",
            "192.168.9.9".parse().unwrap()
        ));
    }
}
