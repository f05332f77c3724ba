//! Layer-6 sample fetches over the client's first bytes (manual 7.3.5), as HAProxy 2.6's
//! payload.c computes them: `req.len`, `req.payload`, `req.payload_lv`, the TLS ClientHello
//! fetches (`req.ssl_hello_type`, `req.ssl_ver`, `req.ssl_sni`, `req.ssl_alpn`,
//! `req.ssl_ec_ext`, `req.ssl_st_ext`), the RDP cookie fetches and `wait_end`, with their
//! deprecated ACL names.
//!
//! Each fetch reports, besides its values, whether a later look at more data could change
//! the answer (HAProxy's `SMP_F_MAY_CHANGE`): `tcp-request content` rules wait for more
//! data on such answers until the inspection is final (see `engine::inspect`).
//!
//! Without a [`L6`] buffer (HTTP mode: HAProxy's buffers hold HTX there), these fetches have
//! no value, except `req.rdp_cookie_cnt` (0), as in HAProxy 2.6.

use super::http::sample::Value;

/// HAProxy's `global.tune.bufsize` (16384), which bounds `req.payload` offsets.
pub const BUFSIZE: usize = 16384;

/// How many request bytes an inspection may buffer: `tune.bufsize` less
/// `tune.maxrewrite` (1024), HAProxy's receive limit before the server connection exists.
pub const RECV_LIMIT: usize = BUFSIZE - 1024;

/// What a TCP-mode stream's request buffer holds for HTTP fetches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HttpState {
    /// A complete HTTP/1 request head was parsed from the buffer (the view's `parts`).
    Parsed,
    /// The buffer may still become a request head.
    Partial,
    /// The buffer is not an HTTP/1 request (or is too large to be one).
    NotHttp,
}

/// The client's buffered request bytes, as layer-6 fetches see them.
#[derive(Debug, Clone, Copy)]
pub struct L6<'a> {
    pub data: &'a [u8],
    /// No more data will be waited for: the inspect delay expired, the buffer is full, the
    /// client closed its side, or there is no inspect delay.
    pub final_: bool,
    pub http: HttpState,
}

/// A fetch's values and whether more data could change them.
pub struct Fetched {
    pub values: Vec<Value>,
    pub may_change: bool,
}

/// Whether `name` is one of this module's fetches.
pub fn is_payload_fetch(name: &str) -> bool {
    matches!(
        name,
        "req.len"
            | "req_len"
            | "req.payload"
            | "payload"
            | "req.payload_lv"
            | "payload_lv"
            | "req.ssl_hello_type"
            | "req_ssl_hello_type"
            | "req.ssl_ver"
            | "req_ssl_ver"
            | "req.ssl_sni"
            | "req_ssl_sni"
            | "req.ssl_alpn"
            | "req.ssl_ec_ext"
            | "req.ssl_st_ext"
            | "req.rdp_cookie"
            | "req_rdp_cookie"
            | "rdp_cookie"
            | "req.rdp_cookie_cnt"
            | "req_rdp_cookie_cnt"
            | "rdp_cookie_cnt"
            | "wait_end"
    )
}

/// Why a parser gave no value.
enum Miss {
    /// More data could give one (`too_short`).
    Short,
    /// It never will (`not_ssl_hello`...).
    Never,
}

type Res<T> = Result<T, Miss>;

/// Evaluates fetch `name` (one of [`is_payload_fetch`]) over `l6`. `None` when `name` is not
/// a payload fetch.
pub fn fetch(l6: Option<&L6<'_>>, name: &str, args: &[String]) -> Option<Fetched> {
    if !is_payload_fetch(name) {
        return None;
    }
    let Some(l6) = l6 else {
        let values = if matches!(
            name,
            "req.rdp_cookie_cnt" | "req_rdp_cookie_cnt" | "rdp_cookie_cnt"
        ) {
            vec![Value::Int(0)]
        } else {
            Vec::new()
        };
        return Some(Fetched {
            values,
            may_change: false,
        });
    };
    let more = !l6.final_;
    let d = l6.data;
    let one = |r: Res<Value>| match r {
        Ok(v) => Fetched {
            values: vec![v],
            may_change: false,
        },
        Err(Miss::Short) => Fetched {
            values: Vec::new(),
            may_change: more,
        },
        Err(Miss::Never) => Fetched {
            values: Vec::new(),
            may_change: false,
        },
    };
    let int_arg = |i: usize| {
        args.get(i)
            .and_then(|a| a.trim().parse::<i64>().ok())
            .unwrap_or(0)
    };
    Some(match name {
        "req.len" | "req_len" => Fetched {
            values: vec![Value::Int(d.len() as i64)],
            may_change: more,
        },
        "req.payload" | "payload" => {
            // HAProxy stores the arguments as unsigned ints: a negative one never fits.
            let (off, len) = (int_arg(0) as u32 as usize, int_arg(1) as u32 as usize);
            let mut f = one(payload(d, off, len));
            if len == 0 && !f.values.is_empty() {
                f.may_change = more;
            }
            f
        }
        "req.payload_lv" | "payload_lv" => one(payload_lv(
            d,
            int_arg(0) as u32 as usize,
            int_arg(1) as u32 as usize,
            args.get(2).map(String::as_str),
        )),
        "req.ssl_hello_type" | "req_ssl_hello_type" => one(hello_type(d).map(Value::Int)),
        "req.ssl_ver" | "req_ssl_ver" => one(ssl_ver(d).map(Value::Int)),
        "req.ssl_sni" | "req_ssl_sni" => {
            one(sni(d).map(|s| Value::Str(String::from_utf8_lossy(s).into_owned())))
        }
        "req.ssl_alpn" => match extension(d, 16) {
            Ok(Some(e)) => Fetched {
                values: alpn(e)
                    .into_iter()
                    .map(|p| Value::Str(String::from_utf8_lossy(p).into_owned()))
                    .collect(),
                may_change: false,
            },
            Ok(None) => one(Err(Miss::Never)),
            Err(m) => one(Err(m)),
        },
        "req.ssl_ec_ext" => {
            one(extension(d, 10).and_then(|e| e.map(|_| Value::Bool(true)).ok_or(Miss::Never)))
        }
        "req.ssl_st_ext" => {
            one(extension(d, 35)
                .map(|e| Value::Int(e.map_or(0, |e| if e.len() > 4 { 2 } else { 1 }))))
        }
        "req.rdp_cookie" | "req_rdp_cookie" | "rdp_cookie" => {
            let n = args.first().map_or(&b""[..], |a| a.as_bytes());
            one(rdp_cookie(d, n).map(|v| Value::Str(String::from_utf8_lossy(v).into_owned())))
        }
        "req.rdp_cookie_cnt" | "req_rdp_cookie_cnt" | "rdp_cookie_cnt" => {
            let n = args.first().map_or(&b""[..], |a| a.as_bytes());
            match rdp_cookie(d, n) {
                Ok(_) => Fetched {
                    values: vec![Value::Int(1)],
                    may_change: false,
                },
                Err(Miss::Never) => Fetched {
                    values: vec![Value::Int(0)],
                    may_change: false,
                },
                // Too short: no value at all (HAProxy returns 0 with MAY_CHANGE kept).
                Err(Miss::Short) => Fetched {
                    values: Vec::new(),
                    may_change: more,
                },
            }
        }
        "wait_end" => {
            if more {
                Fetched {
                    values: Vec::new(),
                    may_change: true,
                }
            } else {
                Fetched {
                    values: vec![Value::Bool(true)],
                    may_change: false,
                }
            }
        }
        _ => Fetched {
            values: Vec::new(),
            may_change: false,
        },
    })
}

fn payload(d: &[u8], off: usize, len: usize) -> Res<Value> {
    if len > BUFSIZE || off.saturating_add(len) > BUFSIZE {
        return Err(Miss::Never);
    }
    if off + len > d.len() {
        return Err(Miss::Short);
    }
    let end = if len == 0 { d.len() } else { off + len };
    Ok(Value::Bin(d[off..end].to_vec()))
}

fn payload_lv(d: &[u8], len_off: usize, len_size: usize, off2: Option<&str>) -> Res<Value> {
    if len_off.saturating_add(len_size) > d.len() {
        return Err(Miss::Short);
    }
    let mut size: usize = 0;
    for &b in &d[len_off..len_off + len_size] {
        // HAProxy accumulates in an unsigned int.
        size = ((size as u32).wrapping_shl(8) as usize) | usize::from(b);
    }
    let mut off = len_off + len_size;
    if let Some(o) = off2.filter(|o| !o.is_empty()) {
        let v: i64 = o.parse().unwrap_or(0);
        off = if o.starts_with(['+', '-']) {
            (off as i64).saturating_add(v).max(0) as usize
        } else {
            v.max(0) as usize
        };
    }
    if size == 0 || size > BUFSIZE || off.saturating_add(size) > BUFSIZE {
        return Err(Miss::Never);
    }
    if off + size > d.len() {
        return Err(Miss::Short);
    }
    Ok(Value::Bin(d[off..off + size].to_vec()))
}

/// `smp_fetch_ssl_hello_type()`: the handshake type of an SSLv3/TLS record, once the whole
/// handshake message is buffered.
fn hello_type(d: &[u8]) -> Res<i64> {
    let first = *d.first().ok_or(Miss::Short)?;
    if !((0x14..=0x17).contains(&first) || first == 0xff) {
        return Err(Miss::Never);
    }
    if d.len() < 9 {
        return Err(Miss::Short);
    }
    if (u32::from(d[1]) << 16) + u32::from(d[2]) < 0x0003_0000 {
        return Err(Miss::Never);
    }
    if (usize::from(d[3]) << 8) + usize::from(d[4]) < 4 {
        return Err(Miss::Never);
    }
    let hs_len = (usize::from(d[6]) << 16) + (usize::from(d[7]) << 8) + usize::from(d[8]);
    if d.len() < 9 + hs_len {
        return Err(Miss::Short);
    }
    Ok(i64::from(d[5]))
}

/// `smp_fetch_req_ssl_ver()`: the ClientHello's version (SSLv3/TLS records) or an SSLv2
/// hello's, as `major << 16 | minor`, once the message is buffered.
fn ssl_ver(d: &[u8]) -> Res<i64> {
    let first = *d.first().ok_or(Miss::Short)?;
    let (version, msg_len, left);
    if (0x14..=0x17).contains(&first) || first == 0xff {
        if d.len() < 11 {
            return Err(Miss::Short);
        }
        let record = (i64::from(d[1]) << 16) + i64::from(d[2]);
        let len = (usize::from(d[3]) << 8) + usize::from(d[4]);
        if record < 0x0003_0000 || !(6..=(1 << 14) + 2048).contains(&len) {
            return Err(Miss::Never);
        }
        version = (i64::from(d[9]) << 16) + i64::from(d[10]);
        msg_len = len;
        left = d.len() - 5;
    } else {
        let (rlen, plen, mut p) = if first & 0x80 != 0 {
            if d.len() < 3 {
                return Err(Miss::Short);
            }
            ((usize::from(first & 0x7f) << 8) | usize::from(d[1]), 0, 2)
        } else {
            if d.len() < 4 {
                return Err(Miss::Short);
            }
            (
                (usize::from(first & 0x3f) << 8) | usize::from(d[1]),
                usize::from(d[2]),
                3,
            )
        };
        if d.get(p) != Some(&0x01) {
            return Err(Miss::Never);
        }
        p += 1;
        if d.len() < p + 8 {
            return Err(Miss::Short);
        }
        let w = |i: usize| (usize::from(d[p + i]) << 8) + usize::from(d[p + i + 1]);
        version = (i64::from(d[p]) << 16) + i64::from(d[p + 1]);
        let (cilen, silen, chlen) = (w(2), w(4), w(6));
        if cilen % 3 != 0
            || (silen != 0 && silen != 16)
            || !(16..=32).contains(&chlen)
            || rlen != 9 + cilen + silen + chlen
        {
            return Err(Miss::Never);
        }
        msg_len = cilen + silen + chlen + plen;
        left = d.len() - p - 8;
    }
    if left < msg_len.min(RECV_LIMIT) {
        return Err(Miss::Short);
    }
    Ok(version)
}

/// The extensions block of a complete TLS ClientHello at the start of `d` (the checks
/// shared by `smp_fetch_ssl_hello_sni()` and its siblings). HAProxy compares the handshake
/// length with the bytes after the record header, so it may read the last 4 bytes of a
/// hello before they arrive; reading past the received bytes is "too short" here.
fn client_hello_extensions(d: &[u8]) -> Res<&[u8]> {
    if d.is_empty() {
        return Err(Miss::Short);
    }
    if d[0] != 0x16 {
        return Err(Miss::Never);
    }
    if d.len() < 3 {
        return Err(Miss::Short);
    }
    if d[1] < 0x03 {
        return Err(Miss::Never);
    }
    if d.len() < 5 {
        return Err(Miss::Short);
    }
    if (usize::from(d[3]) << 8) + usize::from(d[4]) < 1 + 3 + 2 + 32 + 1 + 2 + 2 + 1 + 1 + 2 + 2 {
        return Err(Miss::Never);
    }
    let h = &d[5..];
    if h.is_empty() {
        return Err(Miss::Short);
    }
    if h[0] != 0x01 {
        return Err(Miss::Never);
    }
    if h.len() < 4 {
        return Err(Miss::Short);
    }
    let mut hs_len = (usize::from(h[1]) << 16) + (usize::from(h[2]) << 8) + usize::from(h[3]);
    if hs_len < 2 + 32 + 1 + 2 + 2 + 1 + 1 + 2 + 2 {
        return Err(Miss::Never);
    }
    if h.len() < hs_len {
        return Err(Miss::Short);
    }
    let body = &h[4..];
    let get = |i: usize| body.get(i).copied().map(usize::from).ok_or(Miss::Short);
    if get(0)? < 0x03 || get(1)? < 0x01 {
        return Err(Miss::Never);
    }
    let sid = get(34)?;
    if sid > 32 || sid as isize > hs_len as isize - 35 {
        return Err(Miss::Never);
    }
    hs_len -= 35 + sid;
    let mut p = 35 + sid;
    let ciphers = (get(p)? << 8) + get(p + 1)?;
    if hs_len < 4 || ciphers < 2 || ciphers > hs_len {
        return Err(Miss::Never);
    }
    hs_len -= 2 + ciphers;
    p += 2 + ciphers;
    let comp = get(p)?;
    if hs_len < 2 || comp < 1 || comp > hs_len {
        return Err(Miss::Never);
    }
    hs_len -= 1 + comp;
    p += 1 + comp;
    if hs_len < 2 {
        return Err(Miss::Never);
    }
    let ext_len = (get(p)? << 8) + get(p + 1)?;
    if ext_len + 2 > hs_len {
        return Err(Miss::Never);
    }
    body.get(p + 2..p + 2 + ext_len).ok_or(Miss::Short)
}

/// Walks the extensions of a complete ClientHello: `f(type, extension with its header,
/// bytes left in the block from this extension)` stops the walk with `Some`. `Ok(None)`:
/// walked to the end.
fn walk<'a, T>(
    d: &'a [u8],
    mut f: impl FnMut(usize, &'a [u8], usize) -> Option<Res<T>>,
) -> Res<Option<T>> {
    let mut exts = client_hello_extensions(d)?;
    while exts.len() >= 4 {
        let t = (usize::from(exts[0]) << 8) + usize::from(exts[1]);
        let len = (usize::from(exts[2]) << 8) + usize::from(exts[3]);
        if len > exts.len() - 4 {
            return Err(Miss::Never);
        }
        if let Some(r) = f(t, &exts[..4 + len], exts.len()) {
            return r.map(Some);
        }
        exts = &exts[4 + len..];
    }
    Ok(None)
}

/// The first extension of type `ty` (header included).
fn extension(d: &[u8], ty: usize) -> Res<Option<&[u8]>> {
    walk(d, |t, e, _| (t == ty).then_some(Ok(e)))
}

/// `smp_fetch_ssl_hello_sni()`: the first server_name extension whose first entry is a
/// host name.
fn sni(d: &[u8]) -> Res<&[u8]> {
    let found = walk(d, |t, e, left| {
        if t != 0 {
            return None;
        }
        if e.len() - 4 < 2 {
            return Some(Err(Miss::Never));
        }
        let list = (usize::from(e[4]) << 8) + usize::from(e[5]);
        if list < 4 || list as isize > left as isize - 6 {
            return Some(Err(Miss::Never));
        }
        let (Some(&kind), Some(&hi), Some(&lo)) = (e.get(6), e.get(7), e.get(8)) else {
            return Some(Err(Miss::Never));
        };
        if kind != 0 {
            return None;
        }
        let len = (usize::from(hi) << 8) + usize::from(lo);
        Some(e.get(9..9 + len).ok_or(Miss::Never))
    })?;
    found.ok_or(Miss::Never)
}

/// The protocol names of an ALPN extension (header included), in order, as HAProxy
/// iterates them.
fn alpn(e: &[u8]) -> Vec<&[u8]> {
    let ext_len = e.len() - 4;
    let mut out = Vec::new();
    if ext_len < 3 {
        return out;
    }
    let mut off = 6;
    while let Some(&n) = e.get(off) {
        let n = usize::from(n);
        if n + off - 3 > ext_len {
            break;
        }
        match e.get(off + 1..off + 1 + n) {
            Some(name) => out.push(name),
            None => break,
        }
        if n + off - 3 < ext_len {
            off += n + 1;
        } else {
            break;
        }
    }
    out
}

/// `fetch_rdp_cookie_name()`: the value of `Cookie: <name>=<value>\r\n` at byte 11 of an
/// RDP connection request (`name` matched case-insensitively; empty: any name).
fn rdp_cookie<'a>(d: &'a [u8], name: &[u8]) -> Res<&'a [u8]> {
    if d.len() <= 11 {
        return Err(Miss::Short);
    }
    let mut p = &d[11..];
    if p.len() <= 7 {
        return Err(Miss::Short);
    }
    if !p[..7].eq_ignore_ascii_case(b"Cookie:") {
        return Err(Miss::Never);
    }
    p = &p[7..];
    while p.first() == Some(&b' ') {
        p = &p[1..];
    }
    if !name.is_empty() {
        if p.len() <= name.len() {
            return Err(Miss::Short);
        }
        if p[name.len()] != b'=' || !p[..name.len()].eq_ignore_ascii_case(name) {
            return Err(Miss::Never);
        }
        p = &p[name.len() + 1..];
    } else {
        loop {
            match p.first() {
                None => return Err(Miss::Short),
                Some(b'=') => break,
                Some(b'\r') | Some(b'\n') => return Err(Miss::Never),
                Some(_) => p = &p[1..],
            }
        }
        p = &p[1..];
    }
    let value = p;
    let cr = p.iter().position(|&c| c == b'\r').unwrap_or(p.len());
    let rest = &p[cr..];
    if rest.len() < 2 {
        return Err(Miss::Short);
    }
    if rest[1] != b'\n' {
        return Err(Miss::Never);
    }
    Ok(&value[..cr])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A ClientHello (TLS 1.2 record) with an SNI and an ALPN extension.
    fn hello(sni_name: &str, alpn_names: &[&str]) -> Vec<u8> {
        let mut exts = Vec::new();
        let n = sni_name.as_bytes();
        exts.extend_from_slice(&[0, 0]);
        exts.extend_from_slice(&((n.len() + 5) as u16).to_be_bytes());
        exts.extend_from_slice(&((n.len() + 3) as u16).to_be_bytes());
        exts.push(0);
        exts.extend_from_slice(&(n.len() as u16).to_be_bytes());
        exts.extend_from_slice(n);
        let mut list = Vec::new();
        for a in alpn_names {
            list.push(a.len() as u8);
            list.extend_from_slice(a.as_bytes());
        }
        exts.extend_from_slice(&[0, 16]);
        exts.extend_from_slice(&((list.len() + 2) as u16).to_be_bytes());
        exts.extend_from_slice(&(list.len() as u16).to_be_bytes());
        exts.extend_from_slice(&list);
        let mut body = vec![3, 3];
        body.extend_from_slice(&[7; 32]);
        body.push(0); // session id
        body.extend_from_slice(&[0, 2, 0x13, 0x01]); // one cipher
        body.extend_from_slice(&[1, 0]); // null compression
        body.extend_from_slice(&(exts.len() as u16).to_be_bytes());
        body.extend_from_slice(&exts);
        let mut hs = vec![1];
        hs.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
        hs.extend_from_slice(&body);
        let mut rec = vec![0x16, 3, 1];
        rec.extend_from_slice(&(hs.len() as u16).to_be_bytes());
        rec.extend_from_slice(&hs);
        rec
    }

    fn get(d: &[u8], final_: bool, name: &str, args: &[&str]) -> (Vec<Value>, bool) {
        let l6 = L6 {
            data: d,
            final_,
            http: HttpState::NotHttp,
        };
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        let f = fetch(Some(&l6), name, &args).unwrap_or(Fetched {
            values: Vec::new(),
            may_change: false,
        });
        (f.values, f.may_change)
    }

    #[test]
    fn client_hello() {
        let h = hello("a.example.com", &["h2", "http/1.1"]);
        assert_eq!(
            get(&h, false, "req.ssl_sni", &[]).0,
            vec![Value::Str("a.example.com".into())]
        );
        assert_eq!(
            get(&h, false, "req_ssl_hello_type", &[]).0,
            vec![Value::Int(1)]
        );
        assert_eq!(
            get(&h, false, "req.ssl_ver", &[]).0,
            vec![Value::Int(0x0003_0003)]
        );
        assert_eq!(
            get(&h, false, "req.ssl_alpn", &[]).0,
            vec![Value::Str("h2".into()), Value::Str("http/1.1".into())]
        );
        assert_eq!(get(&h, false, "req.ssl_ec_ext", &[]).0, vec![]);
        assert_eq!(get(&h, false, "req.ssl_st_ext", &[]).0, vec![Value::Int(0)]);
        // Every prefix is "too short", never a wrong answer.
        for cut in 0..h.len() {
            let (v, more) = get(&h[..cut], false, "req.ssl_sni", &[]);
            assert!(v.is_empty() && more, "cut {cut}");
            let (v, more) = get(&h[..cut], true, "req.ssl_sni", &[]);
            assert!(v.is_empty() && !more);
        }
        assert_eq!(
            get(b"GET / HTTP/1.0\r\n\r\n", false, "req.ssl_sni", &[]),
            (vec![], false)
        );
        assert_eq!(
            get(b"GET / HTTP/1.0\r\n\r\n", false, "req.ssl_hello_type", &[]),
            (vec![], false)
        );
    }

    #[test]
    fn raw_payload() {
        let d = b"\x16\x03\x01abc";
        assert_eq!(get(d, false, "req.len", &[]), (vec![Value::Int(6)], true));
        assert_eq!(get(d, true, "req.len", &[]), (vec![Value::Int(6)], false));
        assert_eq!(
            get(d, false, "req.payload", &["0", "3"]).0,
            vec![Value::Bin(vec![0x16, 3, 1])]
        );
        assert_eq!(get(d, false, "req.payload", &["4", "3"]), (vec![], true));
        assert_eq!(get(d, false, "req.payload", &["-1", "1"]), (vec![], false));
        assert_eq!(
            get(d, false, "req.payload", &["3", "0"]),
            (vec![Value::Bin(b"abc".to_vec())], true)
        );
        assert_eq!(
            get(b"\x00\x02hixx", false, "req.payload_lv", &["0", "2"]).0,
            vec![Value::Bin(b"hi".to_vec())]
        );
        assert_eq!(
            get(b"\x00\x02xhi", false, "req.payload_lv", &["0", "2", "+1"]).0,
            vec![Value::Bin(b"hi".to_vec())]
        );
        assert_eq!(
            get(b"\x00\x09hi", false, "req.payload_lv", &["0", "2"]),
            (vec![], true)
        );
        assert_eq!(get(b"", false, "wait_end", &[]), (vec![], true));
        assert_eq!(
            get(b"", true, "wait_end", &[]),
            (vec![Value::Bool(true)], false)
        );
    }

    #[test]
    fn rdp() {
        let p = b"\x03\x00\x00\x2c\x27\xe0\x00\x00\x00\x00\x00Cookie: mstshash=alice\r\n\x01\x00";
        assert_eq!(
            get(p, false, "req.rdp_cookie", &["mstshash"]).0,
            vec![Value::Str("alice".into())]
        );
        assert_eq!(
            get(p, false, "rdp_cookie", &[]).0,
            vec![Value::Str("alice".into())]
        );
        assert_eq!(
            get(p, false, "req.rdp_cookie_cnt", &["MSTSHASH"]).0,
            vec![Value::Int(1)]
        );
        assert_eq!(
            get(p, false, "req.rdp_cookie_cnt", &["other"]).0,
            vec![Value::Int(0)]
        );
        assert_eq!(
            get(&p[..20], false, "req.rdp_cookie_cnt", &["mstshash"]),
            (vec![], true)
        );
        assert_eq!(
            get(&p[..20], true, "req.rdp_cookie_cnt", &["mstshash"]),
            (vec![], false)
        );
    }
}
