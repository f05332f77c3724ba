//! Sample fetches and converters over one HTTP request (manual 7.3), the subset the
//! keyword table marks as implemented: `hdr`/`req.hdr` and their `_beg/_end/_sub/_dom/_dir/
//! _len/_cnt` ACL forms, `path*`, `url*`, `base`, `query`, `method`, `src`, `src_port`,
//! `dst`, `dst_port`, `ssl_fc`, `ssl_fc_sni`, `nbsrv`, `always_true/false`,
//! `url_param`/`urlp`, `cook`/`req.cook`, `env`, `http_auth`, `http_auth_group`; converters
//! `lower` and `upper`. Layer-6 fetches (`req.len`, `req.ssl_sni`...) are in
//! `engine::payload`.
//!
//! A fetch yields every value it has (several header occurrences, several cookies...): ACLs
//! match if any value matches, log-format keeps the last one, as HAProxy does.

use std::net::IpAddr;

use hyper::http::{header, request::Parts, HeaderMap};

use crate::config::ir::{Password, Sample};
use crate::engine::conn::{ConnCtx, ConnInfo};

/// A typed sample value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Str(String),
    Int(i64),
    Bool(bool),
    Ip(IpAddr),
    /// Raw bytes (`req.payload`...).
    Bin(Vec<u8>),
}

impl Value {
    /// The text form used by log-format and string matches.
    pub fn to_text(&self) -> String {
        match self {
            Value::Str(s) => s.clone(),
            Value::Int(i) => i.to_string(),
            Value::Bool(b) => {
                if *b {
                    "1".into()
                } else {
                    "0".into()
                }
            }
            Value::Ip(ip) => ip.to_string(),
            Value::Bin(b) => String::from_utf8_lossy(b).into_owned(),
        }
    }
}

/// What fetches can look at: the request head, the connection and the engine.
pub struct ReqView<'a> {
    pub parts: &'a Parts,
    pub info: &'a ConnInfo,
    pub ctx: &'a ConnCtx,
    /// The chosen backend, once known (`%b`).
    pub backend: Option<usize>,
    /// The chosen server, once known (`%s`).
    pub server: Option<usize>,
    /// TCP mode: the request bytes buffered so far (`tcp-request inspect-delay`), which
    /// layer-6 fetches read and HTTP fetches parse (`parts` is then the request they hold,
    /// if any). `None` in HTTP mode.
    pub l6: Option<&'a crate::engine::payload::L6<'a>>,
}

/// Splits a header's values on commas like HAProxy's `hdr()` (not `fhdr()`), trimming blanks.
fn comma_values(headers: &HeaderMap, name: Option<&str>) -> Vec<String> {
    let mut out = Vec::new();
    let mut push = |v: &hyper::http::HeaderValue| {
        for part in String::from_utf8_lossy(v.as_bytes()).split(',') {
            out.push(part.trim().to_string());
        }
    };
    match name {
        Some(n) if !n.is_empty() => {
            for v in headers.get_all(n.to_ascii_lowercase().as_str()) {
                push(v);
            }
        }
        _ => {
            for v in headers.values() {
                push(v);
            }
        }
    }
    out
}

/// Applies an occurrence argument (`hdr(name,occ)`): positive from the first, negative from
/// the last, 0 or absent means all.
fn occurrence(values: Vec<String>, occ: Option<&String>) -> Vec<String> {
    let Some(n) = occ.and_then(|o| o.trim().parse::<i64>().ok()) else {
        return values;
    };
    let len = values.len() as i64;
    let idx = if n > 0 {
        n - 1
    } else if n < 0 {
        len + n
    } else {
        return values;
    };
    if idx < 0 || idx >= len {
        return Vec::new();
    }
    values.into_iter().nth(idx as usize).into_iter().collect()
}

/// The request path (no query string), as HAProxy's `path`.
pub fn path(parts: &Parts) -> String {
    parts.uri.path().to_string()
}

fn url(parts: &Parts) -> String {
    parts.uri.to_string()
}

/// `base`: Host header value followed by the path.
fn base(parts: &Parts) -> Option<String> {
    let host = parts.headers.get(header::HOST)?.to_str().ok()?;
    Some(format!("{host}{}", parts.uri.path()))
}

/// All values of URL parameter `name` in the query string (delimiter `&` or a custom one).
fn url_params(parts: &Parts, name: Option<&String>, delim: Option<&String>) -> Vec<String> {
    let Some(q) = parts.uri.query() else {
        return Vec::new();
    };
    let d = delim.and_then(|d| d.chars().next()).unwrap_or('&');
    q.split(d)
        .filter_map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            match name {
                Some(n) if !n.is_empty() => (k == n).then(|| v.to_string()),
                _ => Some(v.to_string()),
            }
        })
        .collect()
}

/// All values of cookie `name` in the Cookie headers.
fn cookies(headers: &HeaderMap, name: Option<&String>) -> Vec<String> {
    let mut out = Vec::new();
    for v in headers.get_all(header::COOKIE) {
        for c in String::from_utf8_lossy(v.as_bytes()).split(';') {
            let c = c.trim();
            let (k, v) = c.split_once('=').unwrap_or((c, ""));
            match name {
                Some(n) if !n.is_empty() => {
                    if k == n {
                        out.push(v.to_string());
                    }
                }
                _ => out.push(v.to_string()),
            }
        }
    }
    out
}

/// Decodes RFC 4648 base64 (padding optional); `None` on invalid input.
pub fn base64_decode(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let mut acc: u32 = 0;
    let mut bits = 0;
    for c in s.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            b'=' => break,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    Some(out)
}

/// The Basic credentials of the request, if any.
pub fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, rest) = v.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(base64_decode(rest.trim())?).ok()?;
    let (u, p) = decoded.split_once(':')?;
    Some((u.to_string(), p.to_string()))
}

/// Checks the request's Basic credentials against userlist `name`; returns the user's groups
/// on success. `password` (crypt) entries never match: only `insecure-password` is supported.
pub fn authenticate(view: &ReqView<'_>, userlist: &str) -> Option<Vec<String>> {
    let (user, pass) = basic_credentials(&view.parts.headers)?;
    let ul = view
        .ctx
        .config()
        .userlists
        .iter()
        .find(|u| u.name == userlist)?;
    let u = ul.users.iter().find(|u| u.name == user)?;
    match &u.password {
        Password::Insecure(p) if *p == pass => Some(u.groups.clone()),
        _ => None,
    }
}

/// The base fetch name of an ACL keyword (`hdr_beg` → `hdr`), keeping `_cnt`/`_len`
/// distinctions to the caller through [`Kind`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Value,
    Count,
}

pub fn base_name(fetch: &str) -> (&str, Kind) {
    for suffix in ["_beg", "_end", "_sub", "_reg", "_dom", "_dir", "_len"] {
        if let Some(b) = fetch.strip_suffix(suffix) {
            return (b, Kind::Value);
        }
    }
    if let Some(b) = fetch.strip_suffix("_cnt") {
        return (b, Kind::Count);
    }
    (fetch, Kind::Value)
}

/// Every value of a sample expression, converters applied. `Err` names what is unsupported.
pub fn fetch(view: &ReqView<'_>, s: &Sample) -> Result<Vec<Value>, String> {
    fetch_smp(view, s).map(|(v, _)| v)
}

/// Fetches that read the HTTP request (which a TCP-mode buffer may not hold yet).
fn is_http_fetch(base: &str) -> bool {
    matches!(
        base,
        "hdr"
            | "req.hdr"
            | "path"
            | "url"
            | "base"
            | "query"
            | "method"
            | "url_param"
            | "urlp"
            | "cook"
            | "req.cook"
            | "http_auth"
            | "http_auth_group"
    )
}

/// [`fetch`], also telling whether more buffered data could change the values (HAProxy's
/// `SMP_F_MAY_CHANGE` while a `tcp-request content` inspection is not final).
pub fn fetch_smp(view: &ReqView<'_>, s: &Sample) -> Result<(Vec<Value>, bool), String> {
    use crate::engine::payload::{self, HttpState};
    let (mut vals, may_change) = if let Some(f) = payload::fetch(view.l6, &s.fetch, &s.args) {
        (f.values, f.may_change)
    } else if matches!(s.fetch.as_str(), "req.proto_http" | "req_proto_http") {
        match view.l6.map(|l| (l.http, l.final_)) {
            None | Some((HttpState::Parsed, _)) => (vec![Value::Bool(true)], false),
            Some((HttpState::Partial, final_)) => (Vec::new(), !final_),
            Some((HttpState::NotHttp, _)) => (Vec::new(), false),
        }
    } else {
        match view.l6.map(|l| (l.http, l.final_)) {
            Some((HttpState::Partial, final_)) if is_http_fetch(base_name(&s.fetch).0) => {
                return Ok((Vec::new(), !final_))
            }
            Some((HttpState::NotHttp, _)) if is_http_fetch(base_name(&s.fetch).0) => {
                return Ok((Vec::new(), false))
            }
            _ => (fetch_raw(view, &s.fetch, &s.args)?, false),
        }
    };
    for (conv, _args) in &s.converters {
        vals = vals
            .into_iter()
            .map(|v| match conv.as_str() {
                "lower" => Ok(Value::Str(v.to_text().to_ascii_lowercase())),
                "upper" => Ok(Value::Str(v.to_text().to_ascii_uppercase())),
                other => Err(format!("converter '{other}' is not supported")),
            })
            .collect::<Result<_, _>>()?;
    }
    Ok((vals, may_change))
}

fn strs(v: Vec<String>) -> Vec<Value> {
    v.into_iter().map(Value::Str).collect()
}

fn fetch_raw(view: &ReqView<'_>, name: &str, args: &[String]) -> Result<Vec<Value>, String> {
    let parts = view.parts;
    let (base_fetch, kind) = base_name(name);
    Ok(match base_fetch {
        "hdr" | "req.hdr" => {
            let all = comma_values(&parts.headers, args.first().map(String::as_str));
            if kind == Kind::Count {
                vec![Value::Int(all.len() as i64)]
            } else {
                strs(occurrence(all, args.get(1)))
            }
        }
        "path" => vec![Value::Str(path(parts))],
        "url" => vec![Value::Str(url(parts))],
        "base" => base(parts).map(Value::Str).into_iter().collect(),
        "query" => parts
            .uri
            .query()
            .map(|q| Value::Str(q.to_string()))
            .into_iter()
            .collect(),
        "method" => vec![Value::Str(parts.method.as_str().to_string())],
        "src" => vec![Value::Ip(view.info.peer.ip())],
        "src_port" => vec![Value::Int(i64::from(view.info.peer.port()))],
        "dst" => vec![Value::Ip(view.info.local.ip())],
        "dst_port" => vec![Value::Int(i64::from(view.info.local.port()))],
        "ssl_fc" => vec![Value::Bool(view.info.tls)],
        "ssl_fc_sni" => view.info.sni.clone().map(Value::Str).into_iter().collect(),
        "always_true" => vec![Value::Bool(true)],
        "always_false" => vec![Value::Bool(false)],
        "url_param" | "urlp" => strs(url_params(parts, args.first(), args.get(1))),
        "cook" | "req.cook" => strs(cookies(&parts.headers, args.first())),
        "env" => args
            .first()
            .and_then(|n| std::env::var(n).ok())
            .map(Value::Str)
            .into_iter()
            .collect(),
        "nbsrv" => {
            let be = match args.first() {
                Some(n) => view.ctx.state.backend_index(n),
                None => view.backend,
            };
            let n = be
                .and_then(|b| view.ctx.state.backends.get(b))
                .map(|bs| bs.servers.iter().filter(|s| s.is_usable()).count())
                .unwrap_or(0);
            vec![Value::Int(n as i64)]
        }
        "http_auth" => {
            let ok = args
                .first()
                .is_some_and(|ul| authenticate(view, ul).is_some());
            vec![Value::Bool(ok)]
        }
        "http_auth_group" => {
            let groups = args
                .first()
                .and_then(|ul| authenticate(view, ul))
                .unwrap_or_default();
            strs(groups)
        }
        other => return Err(format!("fetch '{other}' is not supported")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helpers() {
        assert_eq!(
            base64_decode("dXNlcjpwYXNz").as_deref(),
            Some(&b"user:pass"[..])
        );
        assert_eq!(base_name("hdr_beg"), ("hdr", Kind::Value));
        assert_eq!(base_name("req.hdr_cnt"), ("req.hdr", Kind::Count));
        assert_eq!(
            occurrence(vec!["a".into(), "b".into()], Some(&"-1".to_string())),
            vec!["b".to_string()]
        );
        assert_eq!(
            occurrence(vec!["a".into(), "b".into()], Some(&"1".to_string())),
            vec!["a".to_string()]
        );
    }
}
