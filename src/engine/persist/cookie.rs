//! Cookie persistence (`cookie <name> ...` and `server ... cookie <value>`), a port of
//! HAProxy 2.6's `http_manage_client_side_cookies()`, `http_manage_server_side_cookies()`,
//! `http_check_response_for_cacheability()` and the insertion block of
//! `http_process_res_common()`. Pure: headers in, headers out, no I/O.
//!
//! Verified against haproxy 2.6.12 on this host (raw requests to both, see
//! `tests/engine_sticky.rs`):
//! - request: the first usable server whose `cookie` equals the value (up to `|` in
//!   insert/rewrite/passive modes, up to `~` in prefix mode) is chosen; a DOWN (or
//!   maintenance) server only with `option persist`; empty values never match; in
//!   `insert indirect` mode the cookie is removed from the request with HAProxy's exact
//!   header surgery (`a=1; b=2` left of `a=1; SRV=s1; b=2`, `$` attributes after it go too);
//!   in prefix mode `SRV~` is stripped whether or not SRV names a server;
//! - response: in insert mode `Set-Cookie: NAME=VALUE; path=/` then `; domain=D` per domain,
//!   `; HttpOnly`, `; Secure`, `; ATTR`..., appended after the other headers; a server
//!   without `cookie` gets `NAME=; Expires=Thu, 01-Jan-1970 00:00:01 GMT; path=/`; the
//!   server's own cookie of that name is removed (insert, or indirect on a direct hit)
//!   unless `preserve`; `rewrite` replaces its value, `prefix` prefixes `SRV~`; `postonly`
//!   inserts on POST only; `nocache` adds `Cache-control: private` when the response is
//!   cacheable (GET/HEAD/OPTIONS/TRACE, a cacheable status, and `max-age`/`s-maxage`,
//!   `Expires`, `ETag` or `Last-Modified`; `Cache-Control: public` makes any method
//!   cacheable);
//! - `maxidle`/`maxlife`: the value carries `|LAST[|FIRST]`, dates in 4-second units,
//!   `(now + 3) >> 2` in HAProxy's 5-character base64 (30 bits, MSB first); an idle or too
//!   old cookie is ignored (flags `E`/`O`) and a new one is set; dates more than a day in
//!   the future are treated the same.

use hyper::http::header::{self, HeaderMap, HeaderValue};

use crate::config::ir::{Cookie, CookieMode};

/// The request cookie outcome (`%tsc` third character, HAProxy's `TX_CK_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CkFlag {
    /// `N`: no persistence cookie in the request.
    #[default]
    None,
    /// `I`: the cookie named no server.
    Invalid,
    /// `D`: the cookie named a server that is down.
    Down,
    /// `V`: valid, the request went to that server.
    Valid,
    /// `E`: expired (`maxidle`).
    Expired,
    /// `O`: too old (`maxlife`).
    Old,
    /// `U`: present but unused (persistence already decided).
    Unused,
}

impl CkFlag {
    pub fn as_char(self) -> char {
        match self {
            CkFlag::None => 'N',
            CkFlag::Invalid => 'I',
            CkFlag::Down => 'D',
            CkFlag::Valid => 'V',
            CkFlag::Expired => 'E',
            CkFlag::Old => 'O',
            CkFlag::Unused => 'U',
        }
    }
}

/// The response cookie outcome (`%tsc` fourth character, HAProxy's `TX_SCK_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SckFlag {
    /// `N`: no persistence cookie in the response.
    #[default]
    None,
    /// `P`: the server set the cookie and it was left as is.
    Found,
    /// `D`: the server's cookie was deleted.
    Deleted,
    /// `I`: a cookie was inserted.
    Inserted,
    /// `R`: the server's cookie was rewritten or prefixed.
    Replaced,
    /// `U`: the cookie was re-inserted only to refresh its dates.
    Updated,
}

impl SckFlag {
    pub fn as_char(self) -> char {
        match self {
            SckFlag::None => 'N',
            SckFlag::Found => 'P',
            SckFlag::Deleted => 'D',
            SckFlag::Inserted => 'I',
            SckFlag::Replaced => 'R',
            SckFlag::Updated => 'U',
        }
    }
}

/// What the request side needs to know about one server.
#[derive(Debug, Clone, Copy)]
pub struct ServerView<'a> {
    pub cookie: Option<&'a str>,
    /// HAProxy's `cur_state == SRV_ST_STOPPED`: health-check DOWN or in maintenance.
    pub stopped: bool,
}

/// The request-side outcome.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReqOutcome {
    pub flag: CkFlag,
    /// The server the cookie designates (HAProxy's `SF_DIRECT | SF_ASSIGNED`).
    pub server: Option<usize>,
    /// Dates carried by the cookie (seconds, multiples of 4), 0 when absent.
    pub last_date: u32,
    pub first_date: u32,
}

const DATE_DELIM: u8 = b'|';
const PREFIX_DELIM: u8 = b'~';
const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// HAProxy's `s30tob64()`: the low 30 bits of `v` as 5 base64 characters, MSB first.
pub fn s30tob64(v: u32) -> String {
    let mut v = v;
    let mut out = String::with_capacity(5);
    for _ in 0..5 {
        out.push(B64[((v >> 24) & 0x3f) as usize] as char);
        v <<= 6;
    }
    out
}

/// HAProxy's `b64tos30()`: `None` on a character outside the alphabet.
pub fn b64tos30(s: &[u8]) -> Option<u32> {
    let mut out: u32 = 0;
    for &c in s.iter().take(5) {
        let v = B64.iter().position(|&b| b == c)? as u32;
        out = (out << 6) | v;
    }
    Some(out)
}

fn is_spht(c: u8) -> bool {
    c == b' ' || c == b'\t'
}

/// HAProxy's `http_find_cookie_value_end()`: the end of a value, quotes respected; a `,` or
/// `;` outside quotes ends it.
fn value_end(h: &[u8], mut s: usize) -> usize {
    let (mut quoted, mut qdpair) = (false, false);
    while s < h.len() {
        let c = h[s];
        if qdpair {
            qdpair = false;
        } else if quoted {
            if c == b'\\' {
                qdpair = true;
            } else if c == b'"' {
                quoted = false;
            }
        } else if c == b'"' {
            quoted = true;
        } else if c == b',' || c == b';' {
            return s;
        }
        s += 1;
    }
    s
}

fn shift(x: usize, d: isize) -> usize {
    x.checked_add_signed(d).unwrap_or(0)
}

/// HAProxy's `http_del_hdr_value()`: deletes from the delimiter at `*from` (or the start)
/// to the delimiter at `next`, keeping one delimiter and one space. Returns the (negative)
/// displacement of what followed `next`.
fn del_hdr_value(h: &mut Vec<u8>, from: &mut usize, next: usize) -> isize {
    let end = h.len();
    let mut prev = *from;
    let mut next = next;
    if prev == 0 {
        if next < end {
            next += 1;
        }
        while next < end && is_spht(h[next]) {
            next += 1;
        }
    } else {
        while prev > 0 && is_spht(h[prev - 1]) {
            prev -= 1;
        }
        *from = prev;
        if next < end {
            h[prev] = h[next];
            prev += 1;
            next += 1;
            if prev + 1 < next {
                h[prev] = b' ';
                prev += 1;
            }
            while next < end && is_spht(h[next]) {
                next += 1;
            }
        }
    }
    h.drain(prev..next);
    prev as isize - next as isize
}

/// The request side of cookie persistence.
pub struct Request<'a> {
    pub cfg: &'a Cookie,
    pub servers: &'a [ServerView<'a>],
    /// `option persist`.
    pub persist: bool,
    /// Seconds since the epoch.
    pub now: u32,
    pub out: ReqOutcome,
}

impl Request<'_> {
    /// Processes every `Cookie` header, editing or removing them as HAProxy does.
    pub fn run(&mut self, headers: &mut HeaderMap) {
        let header::Entry::Occupied(mut entry) = headers.entry(header::COOKIE) else {
            return;
        };
        let mut kept: Vec<HeaderValue> = Vec::new();
        let mut changed = false;
        for v in entry.iter() {
            let mut h = v.as_bytes().to_vec();
            let before = h.len();
            let keep = self.header(&mut h);
            if !keep {
                changed = true;
                continue;
            }
            if h.len() != before || h != v.as_bytes() {
                changed = true;
            }
            match HeaderValue::from_bytes(&h) {
                Ok(nv) => kept.push(nv),
                Err(_) => kept.push(v.clone()),
            }
        }
        if !changed {
            return;
        }
        let mut it = kept.into_iter();
        match it.next() {
            None => {
                entry.remove_entry_mult();
            }
            Some(first) => {
                entry.insert(first);
                for v in it {
                    entry.append(v);
                }
            }
        }
    }

    fn server_for(&mut self, value: &[u8]) -> Option<usize> {
        for (i, s) in self.servers.iter().enumerate() {
            if s.cookie.map(str::as_bytes) != Some(value) {
                continue;
            }
            if !s.stopped || self.persist {
                self.out.flag = if s.stopped {
                    CkFlag::Down
                } else {
                    CkFlag::Valid
                };
                return Some(i);
            }
            // A matching server that is down: look for another one.
            self.out.flag = CkFlag::Down;
        }
        None
    }

    fn check_dates(&mut self) -> bool {
        let now = self.now;
        let ahead = |d: u32| (d.wrapping_sub(now) as i32) > 86400;
        let older = |d: u32, max: u32| (now.wrapping_sub(d) as i32) > max as i32;
        let o = &mut self.out;
        if let Some(maxlife) = self.cfg.maxlife_s {
            if o.first_date != 0 && (older(o.first_date, maxlife) || ahead(o.first_date)) {
                o.flag = CkFlag::Old;
                o.first_date = 0;
                o.last_date = 0;
                return false;
            }
        }
        if let Some(maxidle) = self.cfg.maxidle_s {
            if o.last_date != 0 && (older(o.last_date, maxidle) || ahead(o.last_date)) {
                o.flag = CkFlag::Expired;
                o.first_date = 0;
                o.last_date = 0;
                return false;
            }
        }
        true
    }

    /// One `Cookie` header value; returns false when the whole header must go.
    fn header(&mut self, h: &mut Vec<u8>) -> bool {
        let prefix_mode = self.cfg.mode == CookieMode::Prefix;
        let ins_ind = self.cfg.mode == CookieMode::Insert && self.cfg.indirect;
        let name = self.cfg.name.as_bytes();
        let orig_len = h.len();
        let mut del_from: Option<usize> = None;
        let mut preserve_hdr = false;
        let mut is_first = true;
        let mut prev = 0usize;
        while prev < h.len() {
            let mut att_beg = prev;
            if !is_first {
                att_beg += 1;
            }
            is_first = false;
            while att_beg < h.len() && is_spht(h[att_beg]) {
                att_beg += 1;
            }
            let mut equal = att_beg;
            let mut att_end = att_beg;
            while equal < h.len() {
                let c = h[equal];
                if c == b'=' || c == b',' || c == b';' {
                    break;
                }
                equal += 1;
                if !is_spht(c) {
                    att_end = equal;
                }
            }
            let (mut val_beg, mut val_end, mut next);
            if equal < h.len() && h[equal] == b'=' {
                val_beg = equal + 1;
                while val_beg < h.len() && is_spht(h[val_beg]) {
                    val_beg += 1;
                }
                next = value_end(h, val_beg);
                val_end = next;
                while val_end > val_beg && is_spht(h[val_end - 1]) {
                    val_end -= 1;
                }
            } else {
                val_beg = equal;
                val_end = equal;
                next = equal;
            }
            // `$Version`, `$Path`...: RFC 2109 attributes of the previous cookie.
            if att_beg < h.len() && h[att_beg] == b'$' {
                prev = next;
                continue;
            }
            if equal == next {
                // No `=`: not our cookie, keep it (and flush a pending deletion).
                preserve_hdr = true;
                if let Some(mut df) = del_from.take() {
                    let delta = del_hdr_value(h, &mut df, prev);
                    next = shift(next, delta);
                }
                prev = next;
                continue;
            }
            // Spaces around `=` are removed.
            if att_end != equal || val_beg > equal + 1 {
                let mut stripped: isize = 0;
                if att_end != equal {
                    h.drain(att_end..equal);
                    stripped = att_end as isize - equal as isize;
                    equal = att_end;
                    val_beg = shift(val_beg, stripped);
                }
                if val_beg > equal + 1 {
                    let after = (equal + 1) as isize - val_beg as isize;
                    h.drain(equal + 1..val_beg);
                    val_beg = equal + 1;
                    stripped += after;
                }
                val_end = shift(val_end, stripped);
                next = shift(next, stripped);
            }
            let ours = att_end - att_beg == name.len() && &h[att_beg..att_end] == name;
            if ours {
                let mut delim;
                if prefix_mode {
                    delim = val_beg;
                    while delim < val_end && h[delim] != PREFIX_DELIM {
                        delim += 1;
                    }
                } else {
                    delim = val_end;
                    if let Some(p) = h[val_beg..val_end].iter().position(|&c| c == DATE_DELIM) {
                        let bar = val_beg + p;
                        delim = bar;
                        let v1 = bar + 1;
                        if val_end >= v1 + 5 {
                            if let Some(v) = b64tos30(&h[v1..v1 + 5]).filter(|v| *v > 0) {
                                self.out.last_date = v << 2;
                            }
                        }
                        if let Some(p2) = h[v1..val_end].iter().position(|&c| c == DATE_DELIM) {
                            let bar2 = v1 + p2;
                            if val_end > bar2 + 5 {
                                if let Some(v) = b64tos30(&h[bar2 + 1..bar2 + 6]).filter(|v| *v > 0)
                                {
                                    self.out.first_date = v << 2;
                                }
                            }
                        }
                    }
                }
                if !self.check_dates() {
                    delim = val_beg;
                }
                let mut found = None;
                if delim != val_beg && self.out.server.is_none() {
                    let value = h[val_beg..delim].to_vec();
                    found = self.server_for(&value);
                }
                match found {
                    Some(i) => self.out.server = Some(i),
                    None => {
                        if !matches!(self.out.flag, CkFlag::Down | CkFlag::Expired | CkFlag::Old) {
                            self.out.flag = if self.out.server.is_some() {
                                CkFlag::Unused
                            } else {
                                CkFlag::Invalid
                            };
                        }
                    }
                }
                if prefix_mode && delim != val_end {
                    // `SRV~value` becomes `value` for the server.
                    h.drain(val_beg..delim + 1);
                    let delta = val_beg as isize - (delim + 1) as isize;
                    next = shift(next, delta);
                    del_from = None;
                    preserve_hdr = true;
                } else if del_from.is_none() && ins_ind {
                    del_from = Some(prev);
                }
            } else {
                preserve_hdr = true;
                if let Some(mut df) = del_from.take() {
                    let delta = del_hdr_value(h, &mut df, prev);
                    next = shift(next, delta);
                }
            }
            prev = next;
        }
        if let Some(df) = del_from {
            let end = if preserve_hdr { df } else { 0 };
            h.truncate(end);
        }
        !(h.is_empty() && orig_len != 0)
    }
}

/// What the response side needs about the transaction.
#[derive(Debug, Clone, Copy)]
pub struct ResponseCtx<'a> {
    pub cfg: &'a Cookie,
    /// The serving server's `cookie` value.
    pub server_cookie: Option<&'a str>,
    /// HAProxy's `SF_DIRECT`: the request went to the server its cookie named.
    pub direct: bool,
    pub req: ReqOutcome,
    /// The request method was POST.
    pub post: bool,
    /// GET, HEAD, OPTIONS or TRACE: cacheable until the response says otherwise.
    pub cacheable_method: bool,
    pub status: u16,
    pub now: u32,
}

/// HAProxy 2.6.12's response cacheability (with `nocache`): the status, `Pragma:
/// no-cache`, `Cache-Control` values, and freshness or validator headers.
fn cacheable(rc: &ResponseCtx<'_>, headers: &HeaderMap) -> bool {
    let mut cacheable = rc.cacheable_method
        && matches!(
            rc.status,
            200 | 203 | 204 | 206 | 300 | 301 | 404 | 405 | 410 | 414 | 501
        );
    if rc.status < 200 {
        return false;
    }
    if let Some(p) = headers.get(header::PRAGMA) {
        if p.as_bytes().eq_ignore_ascii_case(b"no-cache") {
            return false;
        }
    }
    let mut fresh = false;
    for v in headers.get_all(header::CACHE_CONTROL) {
        for part in v.as_bytes().split(|&c| c == b',') {
            let t = part.trim_ascii();
            let starts = |p: &[u8]| t.len() >= p.len() && t[..p.len()].eq_ignore_ascii_case(p);
            if t.eq_ignore_ascii_case(b"public") {
                cacheable = true;
            } else if [
                &b"private"[..],
                b"no-cache",
                b"no-store",
                b"max-age=0",
                b"s-maxage=0",
            ]
            .iter()
            .any(|w| t.eq_ignore_ascii_case(w))
            {
                cacheable = false;
            } else if starts(b"no-cache=\"set-cookie") {
                // Only the cookie is uncacheable: that is TX_CACHE_COOK, not used here.
            } else if starts(b"s-maxage") || starts(b"max-age") {
                fresh = true;
            }
        }
    }
    if !fresh {
        fresh = headers.contains_key(header::EXPIRES);
    }
    let validator =
        headers.contains_key(header::ETAG) || headers.contains_key(header::LAST_MODIFIED);
    if !fresh && !validator {
        cacheable = false;
    }
    cacheable
}

/// The response side: the server's `Set-Cookie` headers, then the inserted cookie and
/// `Cache-control: private`. Returns the `%tsc` server-cookie flag.
pub fn response(rc: &ResponseCtx<'_>, headers: &mut HeaderMap) -> SckFlag {
    let cfg = rc.cfg;
    let mut flag = SckFlag::None;
    let mut found = false;
    // 1. The server's own Set-Cookie headers.
    if let header::Entry::Occupied(mut entry) = headers.entry(header::SET_COOKIE) {
        let mut kept: Vec<HeaderValue> = Vec::new();
        let mut changed = false;
        for v in entry.iter() {
            let mut h = v.as_bytes().to_vec();
            let (keep, f) = set_cookie(rc, &mut h);
            if let Some(f) = f {
                flag = f;
                found = true;
            }
            if !keep {
                changed = true;
                continue;
            }
            if h != v.as_bytes() {
                changed = true;
            }
            kept.push(HeaderValue::from_bytes(&h).unwrap_or_else(|_| v.clone()));
        }
        if changed {
            let mut it = kept.into_iter();
            match it.next() {
                None => {
                    entry.remove_entry_mult();
                }
                Some(first) => {
                    entry.insert(first);
                    for v in it {
                        entry.append(v);
                    }
                }
            }
        }
    }
    // 2. Insertion.
    if cfg.mode != CookieMode::Insert || (found && cfg.preserve && flag == SckFlag::Found) {
        return flag;
    }
    let req = rc.req;
    let now = rc.now;
    let refresh_last = (cfg.maxidle_s.is_some() || req.last_date != 0)
        && (req.last_date == 0 || i64::from(req.last_date) < i64::from(now));
    let set_first = cfg.maxlife_s.is_some() && req.first_date == 0;
    let drop_first = cfg.maxlife_s.is_none() && req.first_date != 0;
    if !(!rc.direct || refresh_last || set_first || drop_first) {
        return flag;
    }
    if cfg.postonly && !rc.post {
        return flag;
    }
    let mut c = String::new();
    match rc.server_cookie {
        None => {
            c.push_str(&cfg.name);
            c.push_str("=; Expires=Thu, 01-Jan-1970 00:00:01 GMT; path=/");
        }
        Some(v) => {
            c.push_str(&cfg.name);
            c.push('=');
            c.push_str(v);
            if cfg.maxidle_s.is_some() || cfg.maxlife_s.is_some() {
                let stamp = now.wrapping_add(3) >> 2;
                c.push('|');
                c.push_str(&s30tob64(stamp));
                if cfg.maxlife_s.is_some() {
                    let first = if req.first_date != 0 {
                        req.first_date >> 2
                    } else {
                        stamp
                    };
                    c.push('|');
                    c.push_str(&s30tob64(first));
                }
            }
            c.push_str("; path=/");
        }
    }
    for d in &cfg.domains {
        c.push_str("; domain=");
        c.push_str(d);
    }
    if cfg.httponly {
        c.push_str("; HttpOnly");
    }
    if cfg.secure {
        c.push_str("; Secure");
    }
    for a in &cfg.attrs {
        c.push_str("; ");
        c.push_str(a);
    }
    if let Ok(v) = HeaderValue::from_str(&c) {
        headers.append(header::SET_COOKIE, v);
    }
    flag = if rc.server_cookie.is_some() && rc.direct {
        SckFlag::Updated
    } else {
        SckFlag::Inserted
    };
    if cfg.nocache && cacheable(rc, headers) {
        headers.append(header::CACHE_CONTROL, HeaderValue::from_static("private"));
    }
    flag
}

/// One `Set-Cookie` header value. Returns whether to keep the header, and the flag when it
/// is the persistence cookie.
fn set_cookie(rc: &ResponseCtx<'_>, h: &mut Vec<u8>) -> (bool, Option<SckFlag>) {
    let cfg = rc.cfg;
    let mut att_beg = 0;
    while att_beg < h.len() && is_spht(h[att_beg]) {
        att_beg += 1;
    }
    let mut equal = att_beg;
    let mut att_end = att_beg;
    while equal < h.len() {
        let c = h[equal];
        if c == b'=' || c == b';' {
            break;
        }
        equal += 1;
        if !is_spht(c) {
            att_end = equal;
        }
    }
    let (mut val_beg, mut val_end);
    if equal < h.len() && h[equal] == b'=' {
        val_beg = equal + 1;
        while val_beg < h.len() && is_spht(h[val_beg]) {
            val_beg += 1;
        }
        val_end = value_end(h, val_beg);
        while val_end > val_beg && is_spht(h[val_end - 1]) {
            val_end -= 1;
        }
    } else {
        val_beg = equal;
        val_end = equal;
    }
    if equal == val_end {
        return (true, None);
    }
    if att_end != equal || val_beg > equal + 1 {
        let mut stripped: isize = 0;
        if att_end != equal {
            h.drain(att_end..equal);
            stripped = att_end as isize - equal as isize;
            equal = att_end;
            val_beg = shift(val_beg, stripped);
        }
        if val_beg > equal + 1 {
            let after = (equal + 1) as isize - val_beg as isize;
            h.drain(equal + 1..val_beg);
            val_beg = equal + 1;
            stripped += after;
        }
        val_end = shift(val_end, stripped);
    }
    let name = cfg.name.as_bytes();
    if att_end - att_beg != name.len() || &h[att_beg..att_end] != name {
        return (true, None);
    }
    if cfg.preserve {
        return (true, Some(SckFlag::Found));
    }
    if cfg.mode == CookieMode::Insert || (rc.direct && cfg.indirect) {
        return (false, Some(SckFlag::Deleted));
    }
    match (rc.server_cookie, cfg.mode) {
        (Some(v), CookieMode::Rewrite) => {
            h.splice(val_beg..val_end, v.bytes());
            (true, Some(SckFlag::Replaced))
        }
        (Some(v), CookieMode::Prefix) => {
            let mut ins = v.as_bytes().to_vec();
            ins.push(PREFIX_DELIM);
            h.splice(val_beg..val_beg, ins);
            (true, Some(SckFlag::Replaced))
        }
        _ => (true, Some(SckFlag::Found)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(mode: CookieMode, indirect: bool) -> Cookie {
        Cookie {
            name: "SRV".into(),
            mode,
            indirect,
            nocache: false,
            postonly: false,
            preserve: false,
            httponly: false,
            secure: false,
            domains: Vec::new(),
            maxidle_s: None,
            maxlife_s: None,
            dynamic: false,
            attrs: Vec::new(),
        }
    }

    const SERVERS: &[ServerView<'static>] = &[
        ServerView {
            cookie: Some("s1"),
            stopped: false,
        },
        ServerView {
            cookie: Some("s2"),
            stopped: false,
        },
        ServerView {
            cookie: Some("s3"),
            stopped: true,
        },
    ];

    fn run(c: &Cookie, values: &[&str]) -> (ReqOutcome, Vec<String>) {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(header::COOKIE, HeaderValue::from_str(v).unwrap());
        }
        let mut r = Request {
            cfg: c,
            servers: SERVERS,
            persist: false,
            now: 1_795_271_508,
            out: ReqOutcome::default(),
        };
        r.run(&mut h);
        let out = h
            .get_all(header::COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap().to_string())
            .collect();
        (r.out, out)
    }

    #[test]
    fn base64_dates_match_haproxy() {
        // Captured from haproxy 2.6.12: `SRV=s2|awGrV|awGrV` at 1795271508.
        assert_eq!(s30tob64((1_795_271_508 + 3) >> 2), "awGrV");
        assert_eq!(b64tos30(b"awGrV"), Some(448_817_877));
    }

    #[test]
    fn indirect_removes_the_cookie_like_haproxy() {
        let c = cfg(CookieMode::Insert, true);
        let (o, h) = run(&c, &["a=1; SRV=s2; b=2"]);
        assert_eq!((o.flag, o.server), (CkFlag::Valid, Some(1)));
        assert_eq!(h, ["a=1; b=2"]);
        let (_, h) = run(&c, &["SRV=s2; x=1", "y=2;SRV=s2 ;z=3"]);
        assert_eq!(h, ["x=1", "y=2; z=3"]);
        let (_, h) = run(&c, &["$Version=1; SRV=s2; $Path=/; x=1"]);
        assert_eq!(h, ["$Version=1; x=1"]);
        let (_, h) = run(&c, &["SRV=s1"]);
        assert!(h.is_empty());
        let (o, h) = run(&c, &["SRV=zz"]);
        assert_eq!((o.flag, o.server), (CkFlag::Invalid, None));
        assert!(h.is_empty());
    }

    #[test]
    fn down_server_and_unused_cookie() {
        let c = cfg(CookieMode::Insert, false);
        let (o, _) = run(&c, &["SRV=s3"]);
        assert_eq!((o.flag, o.server), (CkFlag::Down, None));
        let (o, h) = run(&c, &["SRV=s1; SRV=s2"]);
        assert_eq!((o.flag, o.server), (CkFlag::Unused, Some(0)));
        assert_eq!(h, ["SRV=s1; SRV=s2"]);
    }

    #[test]
    fn prefix_strips_the_server_part() {
        let c = cfg(CookieMode::Prefix, false);
        let (o, h) = run(&c, &["a=1; SRV=s2~abc; b=2"]);
        assert_eq!(o.server, Some(1));
        assert_eq!(h, ["a=1; SRV=abc; b=2"]);
        let (o, h) = run(&c, &["SRV=zz~abc"]);
        assert_eq!(o.server, None);
        assert_eq!(h, ["SRV=abc"]);
        let (o, h) = run(&c, &["SRV=s2"]);
        assert_eq!(o.server, Some(1));
        assert_eq!(h, ["SRV=s2"]);
    }

    #[test]
    fn response_rewrite_prefix_and_spaces() {
        let mut c = cfg(CookieMode::Prefix, false);
        let rc = |c: &'static Cookie| ResponseCtx {
            cfg: c,
            server_cookie: Some("s1"),
            direct: false,
            req: ReqOutcome::default(),
            post: false,
            cacheable_method: true,
            status: 200,
            now: 1,
        };
        let leak = |c: Cookie| -> &'static Cookie { Box::leak(Box::new(c)) };
        let mut h = HeaderMap::new();
        h.append(
            header::SET_COOKIE,
            HeaderValue::from_static("SRV = new ; path=/"),
        );
        assert_eq!(response(&rc(leak(c.clone())), &mut h), SckFlag::Replaced);
        assert_eq!(h.get(header::SET_COOKIE).unwrap(), "SRV=s1~new ; path=/");
        c.mode = CookieMode::Rewrite;
        let mut h = HeaderMap::new();
        h.append(
            header::SET_COOKIE,
            HeaderValue::from_static("SRV=abc; path=/"),
        );
        assert_eq!(response(&rc(leak(c)), &mut h), SckFlag::Replaced);
        assert_eq!(h.get(header::SET_COOKIE).unwrap(), "SRV=s1; path=/");
    }
}
