//! HAProxy 2.6's log-format language for access logs: the parser (`parse_logformat_string`'s
//! state machine: text, one separator per space, `%alias`, `%{flags}alias`, `%[sample]`,
//! `%%`, the global `%o`) and the renderer (`sess_build_logline`: runs of separators collapse
//! to one space and leading separators vanish, `-` for missing text, `+Q` quotes text but
//! not numbers, `+X` hexadecimal for addresses, ports and a few counters, `+E` backslash
//! escapes `"`, `\` and `]`, request-line fields `#XX`-encode control characters, `"` and
//! `#`).
//!
//! Every behaviour here was observed on haproxy 2.6.12 (see `tests/engine_log.rs`).

use std::io::Write;
use std::net::SocketAddr;

use crate::config::ir::Sample;

use super::clock;
use super::Entry;

/// Per-node options (`%{+Q,-X}`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Opts {
    pub quote: bool,
    pub hex: bool,
    pub esc: bool,
}

/// The aliases haproxide renders.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alias {
    ClientIp,
    ClientPort,
    FrontIp,
    FrontPort,
    FrontXprt,
    Front,
    Backend,
    Server,
    ServerIp,
    ServerPort,
    BackIp,
    BackPort,
    /// `%t`
    Date,
    /// `%tr`
    ReqDate,
    /// `%trg`
    ReqDateGmt,
    /// `%trl`
    ReqDateLocal,
    /// `%T`
    DateGmt,
    /// `%Tl`
    DateLocal,
    /// `%Ts`
    Stamp,
    /// `%ms`
    Millis,
    Th,
    Ti,
    TR,
    Tq,
    Tw,
    Tc,
    Tr,
    Td,
    Ta,
    Tt,
    Tu,
    Status,
    BytesOut,
    BytesIn,
    TermState,
    TermStateCk,
    Request,
    Method,
    Uri,
    Path,
    PathOnly,
    Query,
    Version,
    HdrReq,
    HdrRes,
    HdrReqList,
    HdrResList,
    ActConn,
    FeConn,
    BeConn,
    SrvConn,
    Retries,
    SrvQueue,
    BckQueue,
    CookieCli,
    CookieSrv,
    UniqueId,
    Pid,
    ReqCounter,
    LogCounter,
    Hostname,
}

/// Alias name, meaning, HTTP-only (HAProxy refuses it in TCP mode).
const ALIASES: &[(&str, Alias, bool)] = &[
    ("B", Alias::BytesOut, false),
    ("CC", Alias::CookieCli, true),
    ("CS", Alias::CookieSrv, true),
    ("H", Alias::Hostname, false),
    ("HM", Alias::Method, true),
    ("HP", Alias::Path, true),
    ("HPO", Alias::PathOnly, true),
    ("HQ", Alias::Query, true),
    ("HU", Alias::Uri, true),
    ("HV", Alias::Version, true),
    ("ID", Alias::UniqueId, false),
    ("ST", Alias::Status, false),
    ("T", Alias::DateGmt, false),
    ("Ta", Alias::Ta, true),
    ("Tc", Alias::Tc, false),
    ("Td", Alias::Td, false),
    ("Th", Alias::Th, false),
    ("Ti", Alias::Ti, true),
    ("Tl", Alias::DateLocal, false),
    ("Tq", Alias::Tq, true),
    ("TR", Alias::TR, true),
    ("Tr", Alias::Tr, true),
    ("Ts", Alias::Stamp, false),
    ("Tt", Alias::Tt, false),
    ("Tu", Alias::Tu, false),
    ("Tw", Alias::Tw, false),
    ("U", Alias::BytesIn, false),
    ("ac", Alias::ActConn, false),
    ("b", Alias::Backend, false),
    ("bc", Alias::BeConn, false),
    ("bi", Alias::BackIp, false),
    ("bp", Alias::BackPort, false),
    ("bq", Alias::BckQueue, false),
    ("ci", Alias::ClientIp, false),
    ("cp", Alias::ClientPort, false),
    ("f", Alias::Front, false),
    ("fc", Alias::FeConn, false),
    ("fi", Alias::FrontIp, false),
    ("fp", Alias::FrontPort, false),
    ("ft", Alias::FrontXprt, false),
    ("hr", Alias::HdrReq, false),
    ("hrl", Alias::HdrReqList, false),
    ("hs", Alias::HdrRes, false),
    ("hsl", Alias::HdrResList, false),
    ("lc", Alias::LogCounter, false),
    ("ms", Alias::Millis, false),
    ("pid", Alias::Pid, false),
    ("r", Alias::Request, true),
    ("rc", Alias::Retries, false),
    ("rt", Alias::ReqCounter, false),
    ("s", Alias::Server, false),
    ("sc", Alias::SrvConn, false),
    ("si", Alias::ServerIp, false),
    ("sp", Alias::ServerPort, false),
    ("sq", Alias::SrvQueue, false),
    ("t", Alias::Date, false),
    ("tr", Alias::ReqDate, true),
    ("trg", Alias::ReqDateGmt, true),
    ("trl", Alias::ReqDateLocal, true),
    ("ts", Alias::TermState, false),
    ("tsc", Alias::TermStateCk, false),
];

/// Aliases HAProxy 2.6 knows that haproxide cannot render (the engine does not keep what
/// they show).
const UNRENDERABLE: &[(&str, &str)] = &[
    ("sslc", "the TLS cipher is not recorded by the engine"),
    ("sslv", "the TLS version is not recorded by the engine"),
];

/// Sample fetches HAProxy accepts in a log-format at log time that haproxide evaluates.
const FETCHES: &[&str] = &[
    "src",
    "src_port",
    "dst",
    "dst_port",
    "ssl_fc",
    "ssl_fc_sni",
    "env",
    "nbsrv",
    "always_true",
    "always_false",
    "method",
    "fe_name",
    "be_name",
    "srv_name",
    "status",
];

/// One compiled element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    Text(Vec<u8>),
    Sep,
    Alias(Alias, Opts),
    Sample(Sample, Opts),
}

pub const HTTPLOG: &str = "%ci:%cp [%tr] %ft %b/%s %TR/%Tw/%Tc/%Tr/%Ta %ST %B %CC %CS %tsc %ac/%fc/%bc/%sc/%rc %sq/%bq %hr %hs %{+Q}r";
pub const CLF: &str = "%{+Q}o %{-Q}ci - - [%trg] %r %ST %B \"\" \"\" %cp %ms %ft %b %s %TR %Tw %Tc %Tr %Ta %tsc %ac %fc %bc %sc %rc %sq %bq %CC %CS %hrl %hsl";
pub const TCPLOG: &str = "%ci:%cp [%t] %ft %b/%s %Tw/%Tc/%Tt %B %ts %ac/%fc/%bc/%sc/%rc %sq/%bq";

fn apply_flags(arg: &str, mut o: Opts) -> Opts {
    for tok in arg.split(',') {
        let (on, name) = match tok.as_bytes().first() {
            Some(b'+') => (true, &tok[1..]),
            Some(b'-') => (false, &tok[1..]),
            _ => continue,
        };
        match name {
            "Q" => o.quote = on,
            "X" => o.hex = on,
            "E" => o.esc = on,
            _ => {}
        }
    }
    o
}

/// Finds the `]` closing a sample expression that starts at `s[0]`, skipping parentheses.
fn expr_end(s: &[u8]) -> Option<usize> {
    let mut depth = 0i32;
    for (i, &c) in s.iter().enumerate() {
        match c {
            b'(' => depth += 1,
            b')' => depth -= 1,
            b']' if depth <= 0 => return Some(i),
            _ => {}
        }
    }
    None
}

/// Compiles a log-format string as HAProxy 2.6 does. `http`: the frontend runs in HTTP mode
/// (HTTP-only aliases are refused otherwise). Errors use HAProxy's wording where it has one.
pub fn parse(fmt: &str, http: bool) -> Result<Vec<Node>, String> {
    let b = fmt.as_bytes();
    let mut out = Vec::new();
    let mut text: Vec<u8> = Vec::new();
    let mut defopts = Opts::default();
    let flush = |text: &mut Vec<u8>, out: &mut Vec<Node>| {
        if !text.is_empty() {
            out.push(Node::Text(std::mem::take(text)));
        }
    };
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c == b' ' {
            flush(&mut text, &mut out);
            out.push(Node::Sep);
            i += 1;
            continue;
        }
        if c != b'%' {
            text.push(c);
            i += 1;
            continue;
        }
        i += 1;
        let Some(&n) = b.get(i) else {
            return Err("truncated line after '%'".into());
        };
        if n == b'%' {
            text.push(b'%');
            i += 1;
            continue;
        }
        if n.is_ascii_digit() || n == b' ' || n == b'\t' {
            return Err(format!(
                "unexpected variable name near '{}' at position {} line : '{fmt}'. Maybe you want to write a single '%', use the syntax '%%'",
                n as char, i
            ));
        }
        let mut opts = defopts;
        let mut j = i;
        let mut arg: Option<&str> = None;
        if n == b'{' {
            let rest = &fmt[i + 1..];
            let Some(end) = rest.find('}') else {
                return Err(format!("truncated line after '{rest}'"));
            };
            arg = Some(&rest[..end]);
            opts = apply_flags(&rest[..end], opts);
            j = i + 1 + end + 1;
            let next = b.get(j).copied().unwrap_or(0);
            if next != b'[' && !next.is_ascii_alphanumeric() {
                return Err(format!(
                    "parse argument modifier without variable name near '%{{{}}}'",
                    &rest[..end]
                ));
            }
        }
        let head = b.get(j).copied().unwrap_or(0);
        if head == b'[' {
            let start = j + 1;
            let Some(len) = expr_end(&b[start..]) else {
                return Err(format!("missing ']' after '{}'", &fmt[start..]));
            };
            let text_expr = &fmt[start..start + len];
            let Some(sample) = crate::engine::http::logfmt::parse_sample(text_expr) else {
                return Err(format!("failed to parse sample expression <{text_expr}>"));
            };
            flush(&mut text, &mut out);
            out.push(Node::Sample(sample, opts));
            i = start + len + 1;
            continue;
        }
        let alnum_ok = arg.is_some();
        if head.is_ascii_alphabetic() || (alnum_ok && head.is_ascii_alphanumeric()) {
            let name_len = b[j..]
                .iter()
                .take_while(|c| c.is_ascii_alphanumeric())
                .count();
            let name = &fmt[j..j + name_len];
            i = j + name_len;
            if name == "o" {
                defopts = opts;
                continue;
            }
            let Some(&(_, alias, http_only)) = ALIASES.iter().find(|(n, _, _)| *n == name) else {
                if let Some((_, why)) = UNRENDERABLE.iter().find(|(n, _)| *n == name) {
                    return Err(format!("unsupported:'%{name}': {why}"));
                }
                return Err(format!(
                    "no such format variable '{name}'. If you wanted to emit the '%' character verbatim, you need to use '%%'"
                ));
            };
            if http_only && !http {
                return Err(format!(
                    "format variable '{name}' is reserved for HTTP mode"
                ));
            }
            if http && matches!(alias, Alias::BackIp | Alias::BackPort) {
                return Err(format!(
                    "unsupported:'%{name}': the source address of HTTP server connections is not recorded by the engine"
                ));
            }
            flush(&mut text, &mut out);
            out.push(Node::Alias(alias, opts));
            continue;
        }
        // `%` followed by anything else: the `%` is dropped and the character is read again
        // as text (2.6 behaviour).
    }
    flush(&mut text, &mut out);
    Ok(out)
}

/// Checks that every sample of `nodes` can be evaluated by [`Entry`]: HAProxy's log-time
/// fetches that haproxide implements, with `lower`/`upper` converters.
pub fn check_samples(nodes: &[Node]) -> Result<(), String> {
    for n in nodes {
        let Node::Sample(s, _) = n else { continue };
        if !FETCHES.contains(&s.fetch.as_str()) {
            return Err(format!(
                "unsupported:sample fetch '{}' in a log-format",
                s.fetch
            ));
        }
        if s.fetch == "nbsrv" && s.args.is_empty() {
            return Err(
                "unsupported:sample fetch 'nbsrv' without a backend argument in a log-format"
                    .to_string(),
            );
        }
        if let Some((c, _)) = s
            .converters
            .iter()
            .find(|(c, _)| c != "lower" && c != "upper")
        {
            return Err(format!("unsupported:converter '{c}' in a log-format"));
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Rendering

/// Characters `#XX`-encoded in request-line fields (and captured headers).
fn url_encoded(c: u8) -> bool {
    !(32..127).contains(&c) || c == b'"' || c == b'#'
}

fn rfc5424_escaped(c: u8) -> bool {
    c == b'"' || c == b'\\' || c == b']'
}

const HEX: &[u8; 16] = b"0123456789ABCDEF";

/// A bounded output buffer: HAProxy stops writing at `max - 1` bytes.
pub struct Out<'a> {
    pub buf: &'a mut Vec<u8>,
    pub max: usize,
}

impl Out<'_> {
    fn room(&self) -> usize {
        self.max.saturating_sub(1).saturating_sub(self.buf.len())
    }
    fn push(&mut self, c: u8) {
        if self.room() > 0 {
            self.buf.push(c);
        }
    }
    fn bytes(&mut self, s: &[u8]) {
        let n = s.len().min(self.room());
        self.buf.extend_from_slice(&s[..n]);
    }
    fn full(&self) -> bool {
        self.room() == 0
    }
}

/// `lf_text_len`: quoted with `+Q`, `-` (or `""`) when missing or empty, `+E` escapes.
fn text(out: &mut Out<'_>, s: Option<&[u8]>, o: Opts) {
    if o.quote {
        out.push(b'"');
    }
    match s {
        Some(s) if !s.is_empty() => {
            if o.esc {
                for &c in s {
                    if rfc5424_escaped(c) {
                        out.push(b'\\');
                    }
                    out.push(c);
                }
            } else {
                out.bytes(s);
            }
        }
        _ => {
            if !o.quote {
                out.push(b'-');
            }
        }
    }
    if o.quote {
        out.push(b'"');
    }
}

/// `lf_encode_string` with the URL map: `#XX` for control bytes, `"`, `#` and bytes >= 127;
/// `+E` also backslash-escapes `\` and `]`.
fn encoded(out: &mut Out<'_>, s: &[u8], o: Opts) {
    if o.quote {
        out.push(b'"');
    }
    for &c in s {
        if url_encoded(c) {
            out.push(b'#');
            out.push(HEX[usize::from(c >> 4)]);
            out.push(HEX[usize::from(c & 15)]);
        } else if o.esc && rfc5424_escaped(c) {
            out.push(b'\\');
            out.push(c);
        } else {
            out.push(c);
        }
    }
    if o.quote {
        out.push(b'"');
    }
}

fn int(out: &mut Out<'_>, v: i64) {
    let mut tmp = [0u8; 24];
    let mut w = &mut tmp[..];
    let _ = write!(w, "{v}");
    let used = 24 - w.len();
    out.bytes(&tmp[..used]);
}

fn hex(out: &mut Out<'_>, v: u64, width: usize) {
    let s = format!("{v:0width$X}");
    out.bytes(s.as_bytes());
}

fn ip(out: &mut Out<'_>, a: Option<SocketAddr>, o: Opts) {
    let Some(a) = a else {
        return text(out, None, o);
    };
    // Not canonicalised: HAProxy prints IPv4-mapped clients of `v4v6` binds as `::ffff:a.b.c.d`.
    let ip = a.ip();
    if o.hex {
        match ip {
            std::net::IpAddr::V4(v4) => {
                for b in v4.octets() {
                    hex(out, u64::from(b), 2);
                }
            }
            std::net::IpAddr::V6(v6) => {
                for s in v6.segments() {
                    hex(out, u64::from(s), 4);
                }
            }
        }
        return;
    }
    let s = ip.to_string();
    text(out, Some(s.as_bytes()), o);
}

fn port(out: &mut Out<'_>, a: Option<SocketAddr>, o: Opts) {
    match a {
        Some(a) if o.hex => hex(out, u64::from(a.port()), 4),
        Some(a) => int(out, i64::from(a.port())),
        None => text(out, None, o),
    }
}

/// Splits the request line HAProxy logs (`METHOD URI VERSION`) for `%HM`, `%HU`...
fn split_line(line: &[u8]) -> (&[u8], &[u8], &[u8]) {
    let mut parts = line.splitn(3, |&c| c == b' ');
    let m = parts.next().unwrap_or(b"");
    let u = parts.next().unwrap_or(b"");
    let v = parts.next().unwrap_or(b"");
    (m, u, v)
}

const BADREQ: &[u8] = b"<BADREQ>";

/// Renders `nodes` for `e` into `out` (at most `max - 1` bytes, as HAProxy's buffer).
pub fn render(nodes: &[Node], e: &Entry<'_>, buf: &mut Vec<u8>, max: usize) {
    let mut out = Out { buf, max };
    let mut last_space = true;
    for n in nodes {
        if out.full() {
            break;
        }
        match n {
            Node::Sep => {
                if !last_space {
                    out.push(b' ');
                    last_space = true;
                }
            }
            Node::Text(t) => {
                out.bytes(t);
                last_space = false;
            }
            Node::Sample(s, o) => {
                let v = e.sample(s);
                text(&mut out, v.as_deref().map(str::as_bytes), *o);
                last_space = false;
            }
            Node::Alias(a, o) => {
                if alias(&mut out, *a, *o, e) {
                    last_space = false;
                }
            }
        }
    }
}

/// Renders one alias; false when the alias leaves the separator state alone (captures).
fn alias(out: &mut Out<'_>, a: Alias, o: Opts, e: &Entry<'_>) -> bool {
    let t = &e.timers;
    match a {
        Alias::ClientIp => ip(out, Some(e.client), o),
        Alias::ClientPort => port(out, Some(e.client), o),
        Alias::FrontIp => ip(out, Some(e.local), o),
        Alias::FrontPort => port(out, Some(e.local), o),
        Alias::ServerIp => ip(out, e.server_addr, o),
        Alias::ServerPort => port(out, e.server_addr, o),
        Alias::BackIp => ip(out, e.backend_src, o),
        Alias::BackPort => port(out, e.backend_src, o),
        Alias::FrontXprt => {
            if o.quote {
                out.push(b'"');
            }
            out.bytes(e.fe_name.as_bytes());
            if e.tls {
                out.push(b'~');
            }
            if o.quote {
                out.push(b'"');
            }
        }
        Alias::Front => text(out, Some(e.fe_name.as_bytes()), o),
        Alias::Backend => text(out, Some(e.be_name.as_bytes()), o),
        Alias::Server => text(out, Some(e.srv_name.as_bytes()), o),
        Alias::Date => out.with(|b| clock::log_date(b, e.accept_date)),
        Alias::ReqDate => out.with(|b| clock::log_date(b, e.request_date())),
        Alias::ReqDateGmt => out.with(|b| clock::gmt_date(b, e.request_date())),
        Alias::ReqDateLocal => out.with(|b| clock::local_date(b, e.request_date())),
        Alias::DateGmt => out.with(|b| clock::gmt_date(b, e.accept_date)),
        Alias::DateLocal => out.with(|b| clock::local_date(b, e.accept_date)),
        Alias::Stamp => {
            let s = clock::split(e.accept_date).0;
            if o.hex {
                hex(out, u64::try_from(s).unwrap_or(0), 4)
            } else {
                int(out, s)
            }
        }
        Alias::Millis => {
            let ms = clock::split(e.accept_date).1 / 1000;
            if o.hex {
                hex(out, u64::from(ms), 2)
            } else {
                out.bytes(format!("{ms:03}").as_bytes())
            }
        }
        Alias::Th => int(out, t.handshake),
        Alias::Ti => int(out, t.idle),
        Alias::TR => int(out, t.tr()),
        Alias::Tq => int(out, t.request),
        Alias::Tw => int(out, t.tw()),
        Alias::Tc => int(out, t.tc()),
        Alias::Tr => int(out, t.tr_resp()),
        Alias::Td => int(out, t.td(e.http)),
        Alias::Ta => int(out, t.ta()),
        Alias::Tt => int(out, t.close),
        Alias::Tu => int(out, t.tu()),
        Alias::Status => int(out, i64::from(e.status)),
        Alias::BytesOut => int(out, i64::try_from(e.bytes_out).unwrap_or(i64::MAX)),
        Alias::BytesIn => int(out, i64::try_from(e.bytes_in).unwrap_or(i64::MAX)),
        Alias::TermState => out.bytes(&e.term),
        Alias::TermStateCk => {
            out.bytes(&e.term);
            out.bytes(&e.cookie);
        }
        Alias::Request => match &e.request {
            Some(r) => encoded(out, r, o),
            None => encoded(out, BADREQ, o),
        },
        Alias::Method
        | Alias::Uri
        | Alias::Path
        | Alias::PathOnly
        | Alias::Query
        | Alias::Version => {
            let line = e.request;
            let (m, u, v) = line.map(split_line).unwrap_or((BADREQ, BADREQ, BADREQ));
            let field: &[u8] = match (a, line) {
                (_, None) => BADREQ,
                (Alias::Method, _) => m,
                (Alias::Uri, _) => u,
                (Alias::Path, _) => {
                    let end = u.iter().position(|&c| c == b'?').unwrap_or(u.len());
                    &u[..end]
                }
                (Alias::PathOnly, _) => path_only(u),
                (Alias::Query, _) => match u.iter().position(|&c| c == b'?') {
                    Some(q) => &u[q..],
                    None => b"",
                },
                _ => v,
            };
            encoded(out, field, o);
        }
        // Captures are not supported (refused at load): nothing is printed and the
        // separator state is left alone, as HAProxy does without captures.
        Alias::HdrReq | Alias::HdrRes | Alias::HdrReqList | Alias::HdrResList => return false,
        Alias::ActConn => int(out, e.counts.act),
        Alias::FeConn => int(out, e.counts.fe),
        Alias::BeConn => int(out, e.counts.be),
        Alias::SrvConn => int(out, e.counts.srv),
        Alias::Retries => {
            if e.counts.redispatched {
                out.push(b'+');
            }
            int(out, e.counts.retries)
        }
        Alias::SrvQueue => int(out, e.counts.srv_queue),
        Alias::BckQueue => int(out, e.counts.be_queue),
        // `capture cookie` is not supported: no cookie is ever captured.
        Alias::CookieCli | Alias::CookieSrv => text(out, None, o),
        // `unique-id-format` is not supported: no unique id.
        Alias::UniqueId => text(out, None, o),
        Alias::Pid => {
            if o.hex {
                hex(out, u64::from(e.pid), 4)
            } else {
                int(out, i64::from(e.pid))
            }
        }
        Alias::ReqCounter => {
            if o.hex {
                hex(out, e.uniq_id, 4)
            } else {
                int(out, i64::try_from(e.uniq_id).unwrap_or(i64::MAX))
            }
        }
        Alias::LogCounter => {
            if o.hex {
                hex(out, e.log_count, 4)
            } else {
                int(out, i64::try_from(e.log_count).unwrap_or(i64::MAX))
            }
        }
        Alias::Hostname => text(out, Some(e.hostname.as_bytes()), o),
    }
    true
}

/// `%HPO`: the path of an absolute or origin-form URI, without the query string.
fn path_only(u: &[u8]) -> &[u8] {
    let mut p = u;
    if p.first() != Some(&b'/') {
        // absolute-form: skip `scheme://authority`.
        if let Some(i) = p.windows(3).position(|w| w == b"://") {
            let rest = &p[i + 3..];
            p = match rest.iter().position(|&c| c == b'/') {
                Some(j) => &rest[j..],
                None => b"",
            };
        }
    }
    let end = p.iter().position(|&c| c == b'?').unwrap_or(p.len());
    &p[..end]
}

impl Out<'_> {
    /// Writes a fixed-size field (a date) directly, then cuts it back to the bound.
    fn with(&mut self, f: impl FnOnce(&mut Vec<u8>)) {
        f(self.buf);
        self.buf.truncate(self.max.saturating_sub(1));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_like_haproxy() {
        let n = parse("  a  %{+Q}ci %% %-y %{+Q}o %b %[src,lower]", true).unwrap();
        assert_eq!(n[0], Node::Sep);
        assert_eq!(n[2], Node::Text(b"a".to_vec()));
        assert!(matches!(
            n[5],
            Node::Alias(Alias::ClientIp, Opts { quote: true, .. })
        ));
        assert!(n.contains(&Node::Text(b"%".to_vec())));
        assert!(n.contains(&Node::Text(b"-y".to_vec())));
        assert!(n
            .iter()
            .any(|x| matches!(x, Node::Alias(Alias::Backend, Opts { quote: true, .. }))));
        assert!(parse("%OG", true)
            .unwrap_err()
            .starts_with("no such format variable 'OG'"));
        assert!(parse("x %r", false)
            .unwrap_err()
            .contains("reserved for HTTP mode"));
        assert!(parse("%bi", true).unwrap_err().starts_with("unsupported:"));
        assert!(parse("%bi:%bp", false).is_ok());
        assert!(parse("100% ", true).is_err());
        assert!(parse("%", true).is_err());
        assert!(parse("%{+Q}", true).is_err());
        assert!(parse("%[src", true).is_err());
        assert!(parse("%sslc", true)
            .unwrap_err()
            .starts_with("unsupported:"));
        assert!(parse(HTTPLOG, true).is_ok());
        assert!(parse(CLF, true).is_ok());
        assert!(parse(TCPLOG, false).is_ok());
    }

    #[test]
    fn encodes() {
        let mut v = Vec::new();
        let mut o = Out {
            buf: &mut v,
            max: 100,
        };
        encoded(
            &mut o,
            b"GET /a\"b#\x01\xe9 HTTP/1.1",
            Opts {
                quote: true,
                ..Opts::default()
            },
        );
        assert_eq!(v, b"\"GET /a#22b#23#01#E9 HTTP/1.1\"");
        let mut v = Vec::new();
        let mut o = Out {
            buf: &mut v,
            max: 100,
        };
        text(
            &mut o,
            Some(b"a\"b\\c]d"),
            Opts {
                esc: true,
                ..Opts::default()
            },
        );
        text(&mut o, None, Opts::default());
        text(
            &mut o,
            Some(b""),
            Opts {
                quote: true,
                ..Opts::default()
            },
        );
        assert_eq!(v, b"a\\\"b\\\\c\\]d-\"\"");
        assert_eq!(path_only(b"https://h:1/p/q?x"), b"/p/q");
        assert_eq!(path_only(b"/p?x"), b"/p");
    }
}
