//! Pure extraction of the bytes each hashing algorithm hashes, following
//! HAProxy 2.6's backend.c (`get_server_sh/uh/ph/hh`), http.c
//! (`http_parse_path`) and payload.c (`fetch_rdp_cookie_name`).
//!
//! These quirks are deliberate: which bytes get hashed decides the server,
//! so any "cleanup" (decoding, case folding, trimming) would reshuffle users
//! after a migration from HAProxy.

use std::net::IpAddr;

/// The address bytes `balance source` hashes: 4 for IPv4, 16 for IPv6, as the
/// accepted socket reports them (an IPv4 client on an IPv6 socket is an
/// IPv4-mapped IPv6 address there too, and HAProxy hashes those 16 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceKey {
    V4([u8; 4]),
    V6([u8; 16]),
}

impl SourceKey {
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            SourceKey::V4(b) => b,
            SourceKey::V6(b) => b,
        }
    }
}

pub fn source_key(ip: &IpAddr) -> SourceKey {
    match ip {
        IpAddr::V4(a) => SourceKey::V4(a.octets()),
        IpAddr::V6(a) => SourceKey::V6(a.octets()),
    }
}

/// `balance uri ... path-only`: the path part of the request URI (query
/// string included), per `http_parse_path()`. Origin-form URIs are returned
/// whole; absolute URIs lose `scheme://authority`; `*`, authority-form and
/// scheme-less URIs yield an empty path, which HAProxy then hashes as "".
pub fn uri_path(uri: &[u8]) -> &[u8] {
    match uri.first() {
        None | Some(b'*') => return &[],
        Some(b'/') => return uri,
        Some(c) if !c.is_ascii_alphabetic() => return &[],
        Some(_) => {}
    }
    let mut p = 1;
    while p < uri.len() && (uri[p].is_ascii_alphanumeric() || matches!(uri[p], b'+' | b'-' | b'.'))
    {
        p += 1;
    }
    if uri.get(p..p + 3) != Some(b"://".as_slice()) {
        return &[];
    }
    p += 3;
    // The authority runs up to the first '/'; no path after it means none.
    match uri[p..].iter().position(|&c| c == b'/') {
        Some(off) => &uri[p + off..],
        None => &[],
    }
}

/// The part of the URI `balance uri` hashes (`get_server_uh()`): at most `len`
/// bytes when `len > 0`; stop before the `depth + 1`-th slash when
/// `depth > 0`; stop before the first `?` unless `whole`.
pub fn uri_hash_input(uri: &[u8], len: u32, depth: u32, whole: bool) -> &[u8] {
    let mut n = uri.len();
    if len > 0 {
        n = n.min(len as usize);
    }
    // HAProxy stores depth + 1, the rank of the slash that ends the hash.
    let stop_at = if depth > 0 {
        depth.saturating_add(1)
    } else {
        0
    };
    let mut slashes = 0u32;
    for (i, &c) in uri[..n].iter().enumerate() {
        if c == b'/' {
            slashes += 1;
            if slashes == stop_at {
                return &uri[..i];
            }
        } else if c == b'?' && !whole {
            return &uri[..i];
        }
    }
    &uri[..n]
}

/// The value of URL parameter `name` in the query string of `uri`
/// (`get_server_ph()`): case-sensitive name match, value up to the next `&`.
/// `None` when there is no query string or no such parameter (HAProxy then
/// falls back to round robin); `Some(b"")` for `name=` with no value.
pub fn url_param_value<'a>(uri: &'a [u8], name: &[u8]) -> Option<&'a [u8]> {
    let q = uri.iter().position(|&c| c == b'?')?;
    let mut params = q + 1;
    let plen = name.len();
    // Bytes left from `params` to the end of the URI.
    let mut left = uri.len() - params;
    while left > plen {
        let cand = &uri[params..];
        if cand[plen] == b'=' && &cand[..plen] == name {
            let value = &cand[plen + 1..left];
            let end = value.iter().position(|&c| c == b'&').unwrap_or(value.len());
            return Some(&value[..end]);
        }
        // Skip to the byte after the next '&'.
        let amp = cand[..left].iter().position(|&c| c == b'&')?;
        params += amp + 1;
        left -= amp + 1;
    }
    None
}

/// The part of a header value `balance hdr(name)` hashes (`get_server_hh()`).
/// With `use_domain_only`, the label before the last dot ("example" in
/// "www.example.com"); without a dot, the whole value. HAProxy's backward scan
/// never looks at the first byte as a dot candidate, so ".com" is hashed whole.
///
/// HAProxy's scan also reads the byte just past the value; when that byte
/// (stale buffer content) happens to be a '.', it hashes the TLD instead.
/// That is not reproducible from the request, so it is taken as "not a dot",
/// which is what HAProxy does whenever another header follows Host.
pub fn hdr_hash_input(value: &[u8], use_domain_only: bool) -> &[u8] {
    if !use_domain_only {
        return value;
    }
    let len = value.len();
    let mut end = len;
    let mut dohash = false;
    // HAProxy's pointer starts one past the end (that byte is not a dot)
    // and examines positions len-1 down to 1 for the TLD dot; once found,
    // it moves left until the previous byte is a dot.
    let mut p = len;
    let mut n = len;
    while n > 0 {
        if dohash {
            if p > 0 && value[p - 1] == b'.' {
                break;
            }
        } else if p < len && value[p] == b'.' {
            end = p;
            dohash = true;
        }
        p -= 1;
        n -= 1;
    }
    &value[p..end]
}

/// The RDP cookie value `balance rdp-cookie(name)` hashes, from the client's
/// first payload (`fetch_rdp_cookie_name()`): a line
/// `Cookie: <name>=<value>\r\n` starting at byte 11 (after the TPKT and X.224
/// headers). The name matches case-insensitively; an empty `name` accepts
/// any. `None` when absent, malformed or incomplete.
pub fn rdp_cookie_value<'a>(payload: &'a [u8], name: &[u8]) -> Option<&'a [u8]> {
    if payload.len() <= 11 {
        return None;
    }
    let mut data = &payload[11..];
    if data.len() <= 7 || !data[..7].eq_ignore_ascii_case(b"Cookie:") {
        return None;
    }
    data = &data[7..];
    while data.first() == Some(&b' ') {
        data = &data[1..];
    }
    let clen = name.len();
    if clen > 0 {
        if data.len() <= clen || data[clen] != b'=' || !data[..clen].eq_ignore_ascii_case(name) {
            return None;
        }
        data = &data[clen + 1..];
    } else {
        let eq = data
            .iter()
            .position(|&c| c == b'=' || c == b'\r' || c == b'\n')?;
        if data[eq] != b'=' {
            return None;
        }
        data = &data[eq + 1..];
    }
    let cr = data.iter().position(|&c| c == b'\r')?;
    if data.get(cr + 1) != Some(&b'\n') {
        return None;
    }
    Some(&data[..cr])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_bytes() {
        let v4: IpAddr = "10.1.2.3".parse().unwrap_or(IpAddr::from([0u8; 4]));
        assert_eq!(source_key(&v4).as_bytes(), &[10, 1, 2, 3]);
        let v6: IpAddr = "::1".parse().unwrap_or(IpAddr::from([0u8; 4]));
        assert_eq!(source_key(&v6).as_bytes().len(), 16);
    }

    #[test]
    fn uri_default_stops_at_query() {
        assert_eq!(uri_hash_input(b"/a/b?x=1", 0, 0, false), b"/a/b");
        assert_eq!(uri_hash_input(b"/a/b?x=1", 0, 0, true), b"/a/b?x=1");
    }

    #[test]
    fn uri_len_and_depth() {
        assert_eq!(uri_hash_input(b"/abcdef", 3, 0, false), b"/ab");
        // depth 1 keeps the first directory level: "/a", stopping at the 2nd slash.
        assert_eq!(uri_hash_input(b"/a/b/c", 0, 1, false), b"/a");
        assert_eq!(uri_hash_input(b"/a/b/c", 0, 2, false), b"/a/b");
        assert_eq!(uri_hash_input(b"/a/b/c", 0, 9, false), b"/a/b/c");
        // len applies first, then the scan.
        assert_eq!(uri_hash_input(b"/a/b/c", 4, 2, false), b"/a/b");
        assert_eq!(uri_hash_input(b"", 0, 0, false), b"");
    }

    #[test]
    fn path_only_forms() {
        assert_eq!(uri_path(b"/x?y"), b"/x?y");
        assert_eq!(uri_path(b"http://h:80/p/q?z"), b"/p/q?z");
        assert_eq!(uri_path(b"http://h"), b"");
        assert_eq!(uri_path(b"*"), b"");
        assert_eq!(uri_path(b"host:443"), b"");
        assert_eq!(uri_path(b""), b"");
    }

    #[test]
    fn url_param_lookup() {
        assert_eq!(
            url_param_value(b"/p?a=1&uid=42&b=2", b"uid"),
            Some(&b"42"[..])
        );
        assert_eq!(url_param_value(b"/p?uid=42", b"uid"), Some(&b"42"[..]));
        assert_eq!(url_param_value(b"/p?uid=", b"uid"), Some(&b""[..]));
        assert_eq!(url_param_value(b"/p?uid", b"uid"), None);
        assert_eq!(url_param_value(b"/p?uid=&x", b"uid"), Some(&b""[..]));
        assert_eq!(url_param_value(b"/p?xuid=1", b"uid"), None);
        assert_eq!(url_param_value(b"/p?UID=1", b"uid"), None);
        assert_eq!(url_param_value(b"/p", b"uid"), None);
        assert_eq!(url_param_value(b"/p?a=1&b=2", b"uid"), None);
    }

    #[test]
    fn hdr_domain_only() {
        assert_eq!(hdr_hash_input(b"www.example.com", true), b"example");
        assert_eq!(hdr_hash_input(b"example.com", true), b"example");
        assert_eq!(hdr_hash_input(b"localhost", true), b"localhost");
        assert_eq!(hdr_hash_input(b".com", true), b".com");
        assert_eq!(hdr_hash_input(b"a.b.c.d", true), b"c");
        assert_eq!(
            hdr_hash_input(b"www.example.com", false),
            b"www.example.com"
        );
    }

    #[test]
    fn rdp_cookie() {
        let mut p = vec![0u8; 11];
        p.extend_from_slice(b"Cookie: mstshash=alice\r\n");
        assert_eq!(rdp_cookie_value(&p, b"mstshash"), Some(&b"alice"[..]));
        assert_eq!(rdp_cookie_value(&p, b"MSTSHASH"), Some(&b"alice"[..]));
        assert_eq!(rdp_cookie_value(&p, b""), Some(&b"alice"[..]));
        assert_eq!(rdp_cookie_value(&p, b"other"), None);
        assert_eq!(rdp_cookie_value(&p[..p.len() - 1], b"mstshash"), None);
        assert_eq!(rdp_cookie_value(b"short", b"x"), None);
    }
}
