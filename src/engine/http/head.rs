//! A strict HTTP/1.x request-head parser with HAProxy 2.6's verdicts.
//!
//! Why our own parser rather than hyper's server: hyper answers a bad head with its own
//! `400 Bad Request` (different bytes, plus a `date` header) and only closes on a header
//! timeout, while a drop-in must send HAProxy's exact 400/408 messages. Parsing the head
//! ourselves also lets an idle keep-alive connection hold no buffer at all.
//!
//! The accept/reject decisions follow the probes of HAProxy 2.6.12 recorded in
//! `hostile-input-notes.md` §3, and are stricter where later HAProxy releases fixed bugs:
//! NUL/CTL bytes in header values and Content-Length overflow are rejected.

use bytes::Bytes;
use hyper::http::{header, HeaderMap, HeaderName, HeaderValue, Method, Uri, Version};

/// Largest accepted request head: HAProxy's `tune.bufsize` (16384) minus
/// `tune.maxrewrite` (1024). Larger heads get a 400, as in HAProxy (no 431/414).
pub const MAX_HEAD: usize = 16384 - 1024;

/// `tune.http.maxhdr` is 101 and counts the start line, so 100 header lines.
pub const MAX_HEADERS: usize = 100;

/// How the request body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyKind {
    None,
    Length(u64),
    Chunked,
}

/// A parsed, validated request head.
#[derive(Debug)]
pub struct ReqHead {
    pub method: Method,
    pub uri: Uri,
    /// HTTP/1.0 or HTTP/1.1 (any other 1.x/2.x text is handled as 1.1, like HAProxy).
    pub version: Version,
    pub headers: HeaderMap,
    pub body: BodyKind,
    /// The connection must close after this transaction (Transfer-Encoding together with
    /// Content-Length, or chunked in an HTTP/1.0 request).
    pub force_close: bool,
    /// What the client asked for: HTTP/1.1 without `close`, or 1.0 with `keep-alive`.
    pub client_keep_alive: bool,
    /// `Connection: upgrade` plus an `Upgrade` header: the upgrade protocol, lower-cased.
    pub upgrade: Option<String>,
    pub expect_continue: bool,
}

/// What [`parse`] found in the buffer.
#[derive(Debug)]
pub enum Parsed {
    /// More bytes are needed.
    Partial,
    /// The HTTP/2 connection preface (prior knowledge) starts the buffer.
    H2Preface,
    /// A head of `len` bytes (after `skip` leading empty lines).
    Complete { head: Box<ReqHead>, len: usize },
    /// Malformed: answer 400 and close.
    Invalid(&'static str),
}

/// The [`Parsed::Invalid`] reason that calls for a 422 rather than a 400.
pub const UNPROCESSABLE: &str = "transfer-encoding other than chunked";

pub const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// RFC 9110 `tchar`.
pub fn is_tchar(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&c)
}

fn is_ows(c: u8) -> bool {
    c == b' ' || c == b'\t'
}

fn trim_ows(mut s: &[u8]) -> &[u8] {
    while let [first, rest @ ..] = s {
        if is_ows(*first) {
            s = rest;
        } else {
            break;
        }
    }
    while let [rest @ .., last] = s {
        if is_ows(*last) {
            s = rest;
        } else {
            break;
        }
    }
    s
}

/// Parses the head at the start of `buf`. `allow_h2` enables prior-knowledge detection
/// (first request of a clear-text connection only).
pub fn parse(buf: &[u8], allow_h2: bool) -> Parsed {
    // Empty lines before the request line are tolerated (RFC 9112 §2.2, HAProxy too).
    let mut start = 0;
    while start < buf.len() && (buf[start] == b'\r' || buf[start] == b'\n') {
        if buf[start] == b'\r' && buf.get(start + 1).is_some_and(|&c| c != b'\n') {
            return Parsed::Invalid("bare CR");
        }
        start += 1;
    }
    let rest = &buf[start..];
    if allow_h2 && start == 0 {
        let n = rest.len().min(H2_PREFACE.len());
        if rest[..n] == H2_PREFACE[..n] {
            return if n == H2_PREFACE.len() {
                Parsed::H2Preface
            } else {
                Parsed::Partial
            };
        }
    }
    let Some(end) = super::errors::find_head_end(rest) else {
        return if buf.len() >= MAX_HEAD {
            Parsed::Invalid("head too large")
        } else {
            Parsed::Partial
        };
    };
    if start + end > MAX_HEAD {
        return Parsed::Invalid("head too large");
    }
    match parse_complete(&rest[..end]) {
        Ok(head) => Parsed::Complete {
            head: Box::new(head),
            len: start + end,
        },
        Err(e) => Parsed::Invalid(e),
    }
}

/// Splits a head into lines without their CRLF/LF (with whether a CR was there); a CR
/// elsewhere is an error.
fn lines(head: &[u8]) -> Result<Vec<(&[u8], bool)>, &'static str> {
    let mut out = Vec::new();
    for line in head.split(|&b| b == b'\n') {
        let (line, cr) = match line.strip_suffix(b"\r") {
            Some(l) => (l, true),
            None => (line, false),
        };
        if line.contains(&b'\r') {
            return Err("bare CR in head");
        }
        out.push((line, cr));
    }
    // The split leaves an empty piece after the final LF and one for the blank line.
    while out.last().is_some_and(|(l, _)| l.is_empty()) {
        out.pop();
    }
    Ok(out)
}

/// The request line and header lines of a head, validated line by line.
struct Lines {
    method: Method,
    target: Bytes,
    version: Version,
    headers: HeaderMap,
}

fn parse_complete(head: &[u8]) -> Result<ReqHead, &'static str> {
    let l = match fast_lines(head) {
        Some(l) => l,
        None => slow_lines(head)?,
    };
    finish(l)
}

/// The request line: method, target and version separated by SP or HTAB.
fn request_line(req_line: &[u8]) -> Result<(Method, &[u8], Version), &'static str> {
    let mut parts = req_line.split(|&c| is_ows(c)).filter(|p| !p.is_empty());
    let (Some(m), Some(target), Some(ver), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err("bad request line");
    };
    if !m.iter().all(|&c| is_tchar(c)) {
        return Err("bad method");
    }
    let method = Method::from_bytes(m).map_err(|_| "bad method")?;
    if target.iter().any(|&c| c <= 0x20 || c >= 0x7f || c == b'#') {
        return Err("bad uri");
    }
    let version = match ver {
        [b'H', b'T', b'T', b'P', b'/', maj, b'.', min]
            if maj.is_ascii_digit() && min.is_ascii_digit() =>
        {
            match (maj, min) {
                (b'0', _) => return Err("bad version"),
                (b'1', b'0') => Version::HTTP_10,
                _ => Version::HTTP_11,
            }
        }
        _ => return Err("bad version"),
    };
    Ok((method, target, version))
}

/// The usual case of the line stage, without a copy per header: the head is copied once
/// and the target and header values are slices of that copy. `None` as soon as anything is
/// unusual or invalid (a folded line, a stray CR, a bad byte, too many headers), and
/// [`slow_lines`] then gives the exact verdict; for the heads it accepts, the result is
/// the one [`slow_lines`] would give.
fn fast_lines(head: &[u8]) -> Option<Lines> {
    let shared = Bytes::copy_from_slice(head);
    let b: &[u8] = &shared;
    let line_count = b.iter().filter(|&&c| c == b'\n').count();
    let mut headers = HeaderMap::with_capacity(line_count.min(MAX_HEADERS));
    let mut req: Option<(Method, Bytes, Version)> = None;
    let mut count = 0usize;
    let mut ended = false;
    let mut start = 0usize;
    while start < b.len() {
        let rest = b.get(start..)?;
        let nl = super::errors::find_lf(rest).map_or(b.len(), |i| start + i);
        let mut line = b.get(start..nl)?;
        start = nl + 1;
        if let [l @ .., b'\r'] = line {
            line = l;
        }
        if line.contains(&b'\r') {
            return None;
        }
        if line.is_empty() {
            ended = true;
            continue;
        }
        if ended {
            return None;
        }
        let Some(_) = req else {
            let (m, target, v) = request_line(line).ok()?;
            req = Some((m, shared.slice_ref(target), v));
            continue;
        };
        if line.first().is_some_and(|&c| is_ows(c)) {
            return None;
        }
        let colon = line.iter().position(|&c| c == b':')?;
        let name = line.get(..colon)?;
        if name.is_empty() || !name.iter().all(|&c| is_tchar(c)) {
            return None;
        }
        let value = trim_ows(line.get(colon + 1..)?);
        if value.iter().any(|&c| (c < 0x20 && c != b'\t') || c == 0x7f) {
            return None;
        }
        count += 1;
        if count > MAX_HEADERS {
            return None;
        }
        let name = HeaderName::from_bytes(name).ok()?;
        let value = HeaderValue::from_maybe_shared(shared.slice_ref(value)).ok()?;
        headers.append(name, value);
    }
    let (method, target, version) = req?;
    Some(Lines {
        method,
        target,
        version,
        headers,
    })
}

/// The line stage for any head, with HAProxy's verdicts (and obs-fold).
fn slow_lines(head: &[u8]) -> Result<Lines, &'static str> {
    let lines = lines(head)?;
    let Some(((req_line, _), header_lines)) = lines.split_first() else {
        return Err("empty head");
    };
    let (method, target, version) = request_line(req_line)?;

    // Header lines, with obs-fold continuation lines unfolded into the previous value.
    // Like HAProxy, the line break is replaced by spaces and the continuation is kept as is
    // (`a\r\n b` becomes `a   b`).
    let mut raw: Vec<(&[u8], Vec<u8>)> = Vec::new();
    let mut prev_cr = false;
    for &(line, cr) in header_lines {
        let had_cr = std::mem::replace(&mut prev_cr, cr);
        if line.first().is_some_and(|&c| is_ows(c)) {
            let Some((_, v)) = raw.last_mut() else {
                return Err("fold without header");
            };
            v.extend_from_slice(if had_cr { b"  " } else { b" " });
            v.extend_from_slice(line);
            let keep = trim_ows(v).len() + v.iter().take_while(|&&c| is_ows(c)).count();
            v.truncate(keep);
            continue;
        }
        let colon = line
            .iter()
            .position(|&c| c == b':')
            .ok_or("header without colon")?;
        let name = &line[..colon];
        if name.is_empty() || !name.iter().all(|&c| is_tchar(c)) {
            return Err("bad header name");
        }
        raw.push((name, trim_ows(&line[colon + 1..]).to_vec()));
    }
    if raw.len() > MAX_HEADERS {
        return Err("too many headers");
    }

    let mut headers = HeaderMap::with_capacity(raw.len());
    for (name, value) in &raw {
        // Stricter than 2.6.12, like later releases: no NUL or other CTL in values.
        if value.iter().any(|&c| (c < 0x20 && c != b'\t') || c == 0x7f) {
            return Err("control character in header value");
        }
        let name = HeaderName::from_bytes(name).map_err(|_| "bad header name")?;
        let value = HeaderValue::from_bytes(value).map_err(|_| "bad header value")?;
        headers.append(name, value);
    }
    Ok(Lines {
        method,
        target: Bytes::copy_from_slice(target),
        version,
        headers,
    })
}

/// Writes `n` in decimal into `buf`, returning the digits.
fn decimal(n: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut i = buf.len();
    let mut v = n;
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 || i == 0 {
            break;
        }
    }
    &buf[i..]
}

/// The checks on the whole header set: framing, Host, the target, connection options.
fn finish(l: Lines) -> Result<ReqHead, &'static str> {
    let Lines {
        method,
        target,
        version,
        mut headers,
    } = l;

    // Content-Length: every value, comma lists included, must be the same plain integer.
    let mut content_length: Option<u64> = None;
    for v in headers.get_all(header::CONTENT_LENGTH) {
        for item in v.as_bytes().split(|&c| c == b',') {
            let item = trim_ows(item);
            if item.is_empty() || !item.iter().all(|c| c.is_ascii_digit()) {
                return Err("bad content-length");
            }
            let mut n: u64 = 0;
            for &d in item {
                n = n
                    .checked_mul(10)
                    .and_then(|n| n.checked_add(u64::from(d - b'0')))
                    .ok_or("content-length overflow")?;
            }
            match content_length {
                Some(prev) if prev != n => return Err("conflicting content-length"),
                _ => content_length = Some(n),
            }
        }
    }

    // Transfer-Encoding: `chunked` must be present exactly once, last.
    let mut te_tokens: Vec<Vec<u8>> = Vec::new();
    for v in headers.get_all(header::TRANSFER_ENCODING) {
        for item in v.as_bytes().split(|&c| c == b',') {
            let item = trim_ows(item);
            if item.is_empty() {
                continue;
            }
            te_tokens.push(item.to_ascii_lowercase());
        }
    }
    let has_te = headers.contains_key(header::TRANSFER_ENCODING);
    if has_te {
        let chunked = te_tokens
            .iter()
            .filter(|t| t.as_slice() == b"chunked")
            .count();
        if chunked != 1 || te_tokens.last().map(|t| t.as_slice()) != Some(b"chunked") {
            return Err("bad transfer-encoding");
        }
        if te_tokens.iter().any(|t| t.as_slice() == b"identity") {
            return Err("bad transfer-encoding");
        }
        if te_tokens.len() > 1 {
            // HAProxy 2.6 answers 422 to a request body with codings besides chunked.
            return Err(UNPROCESSABLE);
        }
    }

    let mut force_close = false;
    let body = if has_te {
        if content_length.is_some() {
            // Request smuggling defence: drop C-L, close after the transaction.
            headers.remove(header::CONTENT_LENGTH);
            force_close = true;
        }
        if version == Version::HTTP_10 {
            force_close = true;
        }
        BodyKind::Chunked
    } else {
        match content_length {
            Some(0) | None => BodyKind::None,
            Some(n) => BodyKind::Length(n),
        }
    };
    if let Some(n) = content_length {
        if !has_te {
            // Duplicates collapse into a single header, as HAProxy does (nothing to do when
            // there is one value, already in canonical form).
            let mut digits = [0u8; 20];
            let canonical = decimal(n, &mut digits);
            let mut all = headers.get_all(header::CONTENT_LENGTH).iter();
            let single =
                matches!((all.next(), all.next()), (Some(v), None) if v.as_bytes() == canonical);
            if !single {
                headers.insert(header::CONTENT_LENGTH, HeaderValue::from(n));
            }
        }
    }

    // Host: one value (duplicates must agree), and matching an absolute-form authority.
    let mut host: Option<&HeaderValue> = None;
    for v in headers.get_all(header::HOST) {
        match host {
            Some(h) if h != v => return Err("conflicting host"),
            _ => host = Some(v),
        }
    }
    if headers.get_all(header::HOST).iter().count() > 1 {
        if let Some(h) = host.cloned() {
            headers.insert(header::HOST, h);
        }
    }
    let uri = Uri::from_maybe_shared(target).map_err(|_| "bad uri")?;
    if uri.scheme().is_some() {
        if let (Some(auth), Some(h)) = (uri.authority(), headers.get(header::HOST)) {
            if !auth.as_str().as_bytes().eq_ignore_ascii_case(h.as_bytes()) {
                return Err("host does not match uri");
            }
        }
    }

    // Connection options.
    let mut conn_close = false;
    let mut conn_keep_alive = false;
    let mut conn_upgrade = false;
    for v in headers.get_all(header::CONNECTION) {
        for t in v.as_bytes().split(|&c| c == b',') {
            let t = trim_ows(t);
            if t.eq_ignore_ascii_case(b"close") {
                conn_close = true;
            } else if t.eq_ignore_ascii_case(b"keep-alive") {
                conn_keep_alive = true;
            } else if t.eq_ignore_ascii_case(b"upgrade") {
                conn_upgrade = true;
            }
        }
    }
    let client_keep_alive = match version {
        Version::HTTP_10 => conn_keep_alive && !conn_close,
        _ => !conn_close,
    };
    let upgrade = if conn_upgrade {
        headers
            .get(header::UPGRADE)
            .and_then(|v| v.to_str().ok())
            .map(|s| {
                s.split(',')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_ascii_lowercase()
            })
            .filter(|s| !s.is_empty())
    } else {
        None
    };
    if upgrade.as_deref() == Some("websocket") && !headers.contains_key(header::SEC_WEBSOCKET_KEY) {
        return Err("websocket upgrade without key");
    }
    let expect_continue = headers
        .get(header::EXPECT)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));

    Ok(ReqHead {
        method,
        uri,
        version,
        headers,
        body,
        force_close,
        client_keep_alive,
        upgrade,
        expect_continue,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &[u8]) -> Result<ReqHead, &'static str> {
        match parse(s, false) {
            Parsed::Complete { head, .. } => Ok(*head),
            Parsed::Invalid(e) => Err(e),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn accepts_ordinary_requests() {
        let h = p(b"GET /a?b=1 HTTP/1.1\r\nHost: x\r\nFoo:  bar \r\n\r\n").unwrap();
        assert_eq!(h.method, Method::GET);
        assert_eq!(h.uri.path(), "/a");
        assert_eq!(h.headers["foo"], "bar");
        assert!(h.client_keep_alive);
        assert_eq!(h.body, BodyKind::None);
        let h = p(b"\r\nPOST / HTTP/1.0\nContent-Length: 3, 3\nContent-Length: 3\n\n").unwrap();
        assert_eq!(h.body, BodyKind::Length(3));
        assert!(!h.client_keep_alive);
        assert_eq!(h.headers.get_all("content-length").iter().count(), 1);
        let h = p(b"GET / HTTP/1.1\r\nFoo: a\r\n b\r\n\r\n").unwrap();
        assert_eq!(h.headers["foo"], "a   b");
        let h = p(b"GET\t/\tHTTP/1.2\r\n\r\n").unwrap();
        assert_eq!(h.version, Version::HTTP_11);
    }

    #[test]
    fn rejects_what_haproxy_rejects() {
        for bad in [
            &b"GET / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n"[..],
            b"GET / HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
            b"GET / HTTP/1.1\r\nContent-Length: +3\r\n\r\n",
            b"GET / HTTP/1.1\r\nContent-Length: 0x3\r\n\r\n",
            b"GET / HTTP/1.1\r\nContent-Length: 1 0\r\n\r\n",
            b"GET / HTTP/1.1\r\nContent-Length: \r\n\r\n",
            b"GET / HTTP/1.1\r\nContent-Length: 18446744073709551619\r\n\r\n",
            b"GET / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n",
            b"GET / HTTP/1.1\r\nTransfer-Encoding: chunked, identity\r\n\r\n",
            b"GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
            b"GET / HTTP/1.1\r\nTransfer-Encoding: xchunked\r\n\r\n",
            b"GET / HTTP/1.1\r\nTransfer-Encoding: \x0bchunked\r\n\r\n",
            b"GET / HTTP/1.1\r\nTransfer-Encoding : chunked\r\n\r\n",
            b"GET / HTTP/1.1\r\n: empty\r\n\r\n",
            b"GET / HTTP/1.1\r\nA B: c\r\n\r\n",
            b"GET / HTTP/1.1\r\nA: b\rc\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: a\x00.b\r\n\r\n",
            b"G@T / HTTP/1.1\r\n\r\n",
            b"GET / http/1.1\r\n\r\n",
            b"GET /\r\n\r\n",
            b"GET /a#frag HTTP/1.1\r\n\r\n",
            b"GET /a\x01 HTTP/1.1\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
            b"GET http://a/ HTTP/1.1\r\nHost: b\r\n\r\n",
            b"GET / HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
            b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n",
        ] {
            assert!(p(bad).is_err(), "{:?}", String::from_utf8_lossy(bad));
        }
        let mut big = b"GET / HTTP/1.1\r\n".to_vec();
        for i in 0..120 {
            big.extend_from_slice(format!("X-{i}: v\r\n").as_bytes());
        }
        big.extend_from_slice(b"\r\n");
        assert!(p(&big).is_err());
        let huge = vec![b'a'; MAX_HEAD + 10];
        assert!(matches!(parse(&huge, false), Parsed::Invalid(_)));
    }

    #[test]
    fn te_and_cl() {
        let h = p(b"POST / HTTP/1.1\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n")
            .unwrap();
        assert_eq!(h.body, BodyKind::Chunked);
        assert!(h.force_close);
        assert!(!h.headers.contains_key("content-length"));
        assert_eq!(
            p(b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n").unwrap_err(),
            UNPROCESSABLE
        );
    }

    #[test]
    fn partial_and_preface() {
        assert!(matches!(
            parse(b"GET / HTTP/1.1\r\nHost", false),
            Parsed::Partial
        ));
        assert!(matches!(parse(b"PRI * HTTP/2", true), Parsed::Partial));
        assert!(matches!(parse(H2_PREFACE, true), Parsed::H2Preface));
        let h = p(b"GET / HTTP/1.1\r\nConnection: keep-alive, Upgrade\r\nUpgrade: WebSocket\r\nSec-WebSocket-Key: x\r\n\r\n").unwrap();
        assert_eq!(h.upgrade.as_deref(), Some("websocket"));
    }

    /// The fast line stage agrees with the general one on every head it accepts.
    fn same_lines(head: &[u8]) {
        let Some(f) = fast_lines(head) else { return };
        let s = slow_lines(head).expect("the fast path accepted what the slow path refuses");
        assert_eq!(f.method, s.method);
        assert_eq!(f.target, s.target);
        assert_eq!(f.version, s.version);
        assert_eq!(f.headers, s.headers);
        let order = |h: &HeaderMap| {
            h.iter()
                .map(|(n, v)| (n.as_str().to_string(), v.as_bytes().to_vec()))
                .collect::<Vec<_>>()
        };
        assert_eq!(order(&f.headers), order(&s.headers));
    }

    #[test]
    fn fast_lines_match_slow_lines() {
        for h in [
            &b"GET /a?b=1 HTTP/1.1\r\nHost: x\r\nFoo:  bar \r\n\r\n"[..],
            b"POST / HTTP/1.0\nContent-Length: 3, 3\nContent-Length: 3\n\n",
            b"GET / HTTP/1.1\r\nFoo: a\r\n b\r\n\r\n",
            b"GET\t/\tHTTP/1.2\r\n\r\n",
            b"GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\na: 3\r\nX-Y:\r\n\r\n",
            b"GET / HTTP/1.1\r\nA: \x80\xff\r\n\r\n",
            b"GET / HTTP/1.1\r\n\r\nA: b\r\n\r\n",
        ] {
            same_lines(h);
        }
        assert!(fast_lines(b"GET / HTTP/1.1\r\nFoo: a\r\n b\r\n\r\n").is_none());
        assert!(fast_lines(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").is_some());
    }

    proptest::proptest! {
        #[test]
        fn fast_lines_agree(parts in proptest::collection::vec(0usize..14, 0..24)) {
            const PIECES: [&[u8]; 14] = [
                b"GET / HTTP/1.1", b"\r\n", b"\n", b"Host: a", b"host:b ", b" ", b"\t",
                b"X-A:1", b":", b"\r", b"Content-Length: 2", b"\x00", b"\xc3\xa9", b"Connection: close",
            ];
            let mut head = Vec::new();
            for i in parts {
                head.extend_from_slice(PIECES[i]);
            }
            head.extend_from_slice(b"\r\n\r\n");
            same_lines(&head);
            let mut framed = b"GET / HTTP/1.1\r\n".to_vec();
            framed.extend_from_slice(&head);
            same_lines(&framed);
        }

        #[test]
        fn never_panics(data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..600)) {
            let _ = parse(&data, true);
            let mut framed = b"GET / HTTP/1.1\r\n".to_vec();
            framed.extend_from_slice(&data);
            framed.extend_from_slice(b"\r\n\r\n");
            let _ = parse(&framed, false);
            let mut dec = super::super::chunked::Decoder::default();
            let mut buf = bytes::BytesMut::from(&data[..]);
            for _ in 0..64 {
                if matches!(dec.step(&mut buf), super::super::chunked::Step::NeedMore | super::super::chunked::Step::Invalid(_) | super::super::chunked::Step::End(_)) {
                    break;
                }
            }
        }
    }
}
