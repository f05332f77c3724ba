//! The stats URI: matching a request, `stats auth`, the URI options (`;csv`, `;json`,
//! `;json-schema`, `;typed`, `;up`, `;no-maint`, `;norefresh`, `;st=`, `scope=`), and the
//! response, as HAProxy 2.6's `http_stats_check_uri()`, `http_handle_stats()` and stats
//! applet (`http_stats_io_handler()`) do it.

use std::fmt::Write as _;
use std::sync::atomic::Ordering::Relaxed;

use bytes::Bytes;
use hyper::http::{request, Method};

use crate::config::ir::{ErrorFile, Stats};
use crate::engine::http::errors::{error_bytes, find_head_end, Origin};
use crate::engine::http::sample::basic_credentials;
use crate::engine::state::EngineState;

use super::fields::{self, Row};
use super::html::{self, PageOpts, ProcInfo, StCode};
use super::render;

/// HAProxy's `STATS_DEFAULT_REALM`.
pub const DEFAULT_REALM: &str = "HAProxy Statistics";

/// `STAT_SCOPE_TXT_MAXLEN`.
const SCOPE_MAX: usize = 20;

/// The export format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Html,
    Csv,
    Typed,
    Json,
    JsonSchema,
}

/// What a stats request asked for.
#[derive(Debug, Clone)]
pub struct StatsReq {
    pub format: Format,
    pub hide_down: bool,
    pub hide_maint: bool,
    pub no_refresh: bool,
    pub scope: Option<String>,
    pub st: Option<StCode>,
    /// Server addresses, cookies and backend algorithms (the CLI at level operator+).
    pub legends: bool,
}

/// Where `pat` occurs in `s` at a position leaving at least `window` bytes from it to the
/// end (HAProxy scans `for (h = lookup; h <= end - window; h++)`).
fn find(s: &[u8], pat: &[u8], window: usize) -> Option<usize> {
    if s.len() < window {
        return None;
    }
    (0..=s.len() - window).find(|&i| s[i..].starts_with(pat))
}

/// HAProxy's `invalid_char()` for the scope text: letters, digits, `.`, `_`, `-`, `:`.
fn valid_scope(s: &[u8]) -> bool {
    s.iter()
        .all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'-' | b':'))
}

/// Parses the options following the stats prefix in the URI.
pub fn parse_options(after: &[u8], refresh: bool) -> StatsReq {
    let mut r = StatsReq {
        format: Format::Html,
        hide_down: find(after, b";up", 3).is_some(),
        hide_maint: find(after, b";no-maint", 9).is_some(),
        no_refresh: refresh && find(after, b";norefresh", 10).is_some(),
        scope: None,
        st: None,
        legends: false,
    };
    if find(after, b";csv", 4).is_some() {
        r.format = Format::Csv;
    }
    if find(after, b";typed", 6).is_some() {
        r.format = Format::Typed;
    }
    if let Some(i) = find(after, b";json", 5) {
        r.format = if after[i..].starts_with(b";json-schema") {
            Format::JsonSchema
        } else {
            Format::Json
        };
    }
    if let Some(i) = find(after, b";st=", 8) {
        let code = &after[i + 4..];
        r.st = Some(
            StCode::ALL
                .iter()
                .find(|(_, n)| code.starts_with(n.as_bytes()))
                .map_or(StCode::Unkn, |(c, _)| *c),
        );
    }
    if let Some(i) = find(after, b"scope=", 8) {
        let rest = &after[i + 6..];
        let len = rest
            .iter()
            .position(|&c| matches!(c, b';' | b'&' | b' '))
            .unwrap_or(rest.len())
            .min(SCOPE_MAX);
        let txt = &rest[..len];
        if valid_scope(txt) {
            r.scope = Some(String::from_utf8_lossy(txt).into_owned());
        }
    }
    r
}

/// `http_stats_check_uri()`: GET, HEAD or POST whose URI starts with the prefix (matched
/// on the path and query when the prefix starts with `/`, on the whole URI otherwise).
/// Returns the URI text after the prefix.
pub fn match_uri(stats: &Stats, parts: &request::Parts) -> Option<String> {
    if !matches!(parts.method, Method::GET | Method::HEAD | Method::POST) {
        return None;
    }
    let uri = if stats.uri.starts_with('/') {
        parts
            .uri
            .path_and_query()
            .map(|p| p.as_str().to_string())
            .unwrap_or_default()
    } else {
        parts.uri.to_string()
    };
    uri.strip_prefix(stats.uri.as_str()).map(str::to_string)
}

/// `stats auth`: the request carries one of the configured user/password pairs.
fn authorized(stats: &Stats, parts: &request::Parts) -> bool {
    if stats.auth.is_empty() {
        return true;
    }
    let Some((user, pass)) = basic_credentials(&parts.headers) else {
        return false;
    };
    stats.auth.iter().any(|(u, p)| *u == user && *p == pass)
}

/// The 401 challenge: HAProxy's 401 message (or the proxy's 401 errorfile) plus
/// `www-authenticate: Basic realm="<realm>"`.
pub fn unauthorized(realm: &str, be_ef: &[ErrorFile], fe_ef: &[ErrorFile]) -> Bytes {
    let base = error_bytes(401, Origin::Stream, be_ef, fe_ef);
    let Some(end) = find_head_end(&base) else {
        return base;
    };
    let blank = if base[..end].ends_with(b"\r\n\r\n") {
        end - 2
    } else {
        end - 1
    };
    let mut out = Vec::with_capacity(base.len() + 64);
    out.extend_from_slice(&base[..blank]);
    out.extend_from_slice(format!("www-authenticate: Basic realm=\"{realm}\"\r\n").as_bytes());
    out.extend_from_slice(&base[blank..]);
    Bytes::from(out)
}

/// Serves a request already matched by [`match_uri`]: the 401 when `stats auth` is not
/// satisfied, the 303 for a POST (no `stats admin`: the action is denied), else the page.
/// `h1`: the client speaks HTTP/1 (the body is then chunked).
pub fn respond(
    state: &EngineState,
    stats: &Stats,
    parts: &request::Parts,
    after: &str,
    errorfiles: (&[ErrorFile], &[ErrorFile]),
    h1: bool,
) -> Bytes {
    if !authorized(stats, parts) {
        let realm = stats.realm.as_deref().unwrap_or(DEFAULT_REALM);
        return unauthorized(realm, errorfiles.0, errorfiles.1);
    }
    let refresh_s = stats.refresh_ms.map(|ms| ms / 1000).filter(|s| *s > 0);
    let req = parse_options(after.as_bytes(), refresh_s.is_some());
    if parts.method == Method::POST {
        let mut loc = format!("{};st=DENY", stats.uri);
        if req.hide_down {
            loc.push_str(";up");
        }
        if req.no_refresh {
            loc.push_str(";norefresh");
        }
        if let Some(s) = &req.scope {
            let _ = write!(loc, "?scope={s}");
        }
        return Bytes::from(format!(
            "HTTP/1.1 303 See Other\r\ncache-control: no-cache\r\ncontent-type: text/plain\r\ncontent-length: 0\r\nlocation: {loc}\r\n\r\n"
        ));
    }
    let body = page(state, stats, &req);
    let ctype = match req.format {
        Format::Html => "text/html",
        Format::Json | Format::JsonSchema => "application/json",
        Format::Csv | Format::Typed => "text/plain",
    };
    let mut head =
        format!("HTTP/1.1 200 OK\r\ncache-control: no-cache\r\ncontent-type: {ctype}\r\n");
    if let Some(s) = refresh_s.filter(|_| !req.no_refresh) {
        let _ = write!(head, "refresh: {s}\r\n");
    }
    let head_req = parts.method == Method::HEAD;
    // HAProxy's applet sends a chunked body to HTTP/1 clients (even 1.0 ones) and nothing
    // for HEAD; HTTP/2 frames the body itself.
    let chunked = !head_req && h1;
    if chunked {
        head.push_str("transfer-encoding: chunked\r\n");
    }
    head.push_str("\r\n");
    let mut out = head.into_bytes();
    if head_req {
        return Bytes::from(out);
    }
    if chunked {
        if !body.is_empty() {
            out.extend_from_slice(format!("{:X}\r\n", body.len()).as_bytes());
            out.extend_from_slice(body.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"0\r\n\r\n");
    } else {
        out.extend_from_slice(body.as_bytes());
    }
    Bytes::from(out)
}

/// True when `name` contains the scope text, ignoring case (`strnistr()`).
fn in_scope(name: &str, scope: &Option<String>) -> bool {
    match scope {
        None => true,
        Some(s) => name.to_ascii_lowercase().contains(&s.to_ascii_lowercase()),
    }
}

/// The process facts shown at the top of the HTML page.
pub fn proc_info(state: &EngineState) -> ProcInfo {
    let c = &state.stats;
    let (nbthread, tasks, run_queue) = match tokio::runtime::Handle::try_current() {
        Ok(h) => {
            let m = h.metrics();
            (m.num_workers(), m.num_alive_tasks(), m.global_queue_depth())
        }
        Err(_) => (1, 0, 0),
    };
    let ulimit = nofile_limit();
    let cfg = &state.config;
    let maxconn = cfg.global.maxconn.map(u64::from).unwrap_or_else(|| {
        cfg.frontends
            .iter()
            .map(|f| u64::from(f.maxconn))
            .max()
            .unwrap_or(0)
    });
    let uptime = c.uptime_s();
    ProcInfo {
        version: format!(
            " version {}, released {}",
            crate::VERSION_FOR_SCRIPTS,
            release_date()
        ),
        pid: state.pid,
        nbthread: nbthread.max(1),
        uptime_s: uptime,
        ulimit_n: ulimit,
        maxsock: ulimit,
        maxconn,
        cur_conns: state.live.get(),
        conn_rate: c.proc.conn_rate.read(c.now_ms()),
        out_bps: u64::from(c.proc.out_rate.read(c.now_ms())),
        run_queue,
        tasks,
        idle_pct: idle_pct(uptime, nbthread.max(1)),
    }
}

/// The release date in the `-v` line (`HAProxy version X DATE - ...`).
pub fn release_date() -> String {
    crate::version_line()
        .split_whitespace()
        .nth(3)
        .unwrap_or("")
        .to_string()
}

/// The soft `RLIMIT_NOFILE` (HAProxy's `ulimit-n`).
fn nofile_limit() -> u64 {
    let mut rl = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct we own and has no other effect.
    let rc = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut rl) };
    if rc == 0 {
        rl.rlim_cur
    } else {
        0
    }
}

/// An idle estimate: 100 minus the process CPU usage per worker thread since the start
/// (HAProxy measures its poller's idle time; tokio does not expose it).
fn idle_pct(uptime_s: u64, threads: usize) -> u32 {
    // SAFETY: getrusage fills the zeroed struct we own.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    if rc != 0 || uptime_s == 0 {
        return 100;
    }
    let cpu = ru.ru_utime.tv_sec as f64
        + ru.ru_utime.tv_usec as f64 / 1e6
        + ru.ru_stime.tv_sec as f64
        + ru.ru_stime.tv_usec as f64 / 1e6;
    let busy = cpu / (uptime_s as f64 * threads as f64) * 100.0;
    (100.0 - busy).clamp(0.0, 100.0) as u32
}

/// Whether `;up` hides this server: in maintenance, or stopped and not going up.
fn hidden(v: &fields::SrvView, req: &StatsReq) -> bool {
    if req.hide_maint && v.maint {
        return true;
    }
    req.hide_down && (v.maint || (v.stopped() && (!v.checked || v.health == 0)))
}

/// Records every server's and backend's current state, so that changes made outside the
/// health checks are dated no later than this page.
pub fn observe_all(state: &EngineState) {
    for (bi, be) in state.config.backends.iter().enumerate() {
        for si in 0..be.servers.len() {
            super::observe_server(state, bi, si);
        }
        if be.servers.is_empty() {
            state.stats.observe(bi, None, false);
        }
    }
}

/// The body of a stats page.
pub fn page(state: &EngineState, stats: &Stats, req: &StatsReq) -> String {
    if req.format == Format::JsonSchema {
        return render::JSON_SCHEMA.to_string();
    }
    observe_all(state);
    let mut out = String::with_capacity(16 * 1024);
    let opts = PageOpts {
        prefix: stats.uri.clone(),
        hide_down: req.hide_down,
        no_refresh: req.no_refresh,
        refresh: stats.refresh_ms.is_some_and(|ms| ms >= 1000),
        hide_version: stats.hide_version,
        scope: req.scope.clone(),
        st: req.st,
    };
    match req.format {
        Format::Html => {
            html::head(&mut out);
            html::info(&mut out, &proc_info(state), &opts);
        }
        Format::Csv => out.push_str(&render::csv_header()),
        Format::Json => out.push('['),
        _ => {}
    }
    let hide = req.hide_down || req.hide_maint;
    let mut first_json = true;
    let mut emit = |out: &mut String, row: &Row| match req.format {
        Format::Html => match row.kind {
            fields::Kind::Frontend => html::fe_line(out, row),
            fields::Kind::Server => html::srv_line(out, row),
            fields::Kind::Backend => html::be_line(out, row),
        },
        Format::Csv => render::csv_line(out, row),
        Format::Typed => render::typed_lines(out, row),
        Format::Json => {
            if !first_json {
                out.push(',');
            }
            first_json = false;
            render::json_line(out, row);
        }
        Format::JsonSchema => {}
    };
    for (iid, (fi, bi)) in fields::proxies(state).into_iter().enumerate() {
        let iid = u32::try_from(iid + fields::first_iid(state)).unwrap_or(u32::MAX);
        let fe = fi.and_then(|i| state.config.frontends.get(i));
        let be = bi.and_then(|i| state.config.backends.get(i));
        let name = fe
            .map(|f| f.name.as_str())
            .or(be.map(|b| b.name.as_str()))
            .unwrap_or("");
        // Disabled proxies are not listed.
        if fe.is_some_and(|f| f.disabled) || be.is_some_and(|b| b.disabled) {
            continue;
        }
        if !in_scope(name, &req.scope) {
            continue;
        }
        if req.format == Format::Html {
            html::px_hdr(&mut out, name);
        }
        if let Some(row) = fi.and_then(|i| fields::fe_row(state, i, iid)) {
            emit(&mut out, &row);
        }
        if let (Some(bi), Some(be)) = (bi, be) {
            for si in 0..be.servers.len() {
                let Some(v) = fields::srv_view(state, be, bi, si) else {
                    continue;
                };
                if hidden(&v, req) {
                    continue;
                }
                if let Some(mut row) = fields::srv_row(state, bi, si, iid) {
                    if req.legends {
                        fields::add_legends(state, &mut row, bi, Some(si));
                    }
                    emit(&mut out, &row);
                }
            }
            if let Some(mut row) = fields::be_row(state, bi, iid, hide) {
                if req.legends {
                    fields::add_legends(state, &mut row, bi, None);
                }
                emit(&mut out, &row);
            }
        }
        if req.format == Format::Html {
            html::px_end(&mut out);
        }
    }
    match req.format {
        Format::Html => html::end(&mut out),
        Format::Json => out.push_str("]\n"),
        _ => {}
    }
    out
}

/// Counts a stats request on its frontend (`intercepted`). Used by [`super::intercept`].
pub fn count_intercepted(state: &EngineState, fe: usize) {
    if let Some(f) = state.stats.fe.get(fe) {
        f.intercepted.fetch_add(1, Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options() {
        let r = parse_options(b";csv;norefresh", true);
        assert_eq!(r.format, Format::Csv);
        assert!(r.no_refresh);
        let r = parse_options(b";csv;norefresh", false);
        assert!(!r.no_refresh, "norefresh only counts with `stats refresh`");
        assert_eq!(parse_options(b";json", false).format, Format::Json);
        assert_eq!(
            parse_options(b";json-schema", false).format,
            Format::JsonSchema
        );
        assert_eq!(parse_options(b";typed", false).format, Format::Typed);
        assert!(parse_options(b";up", false).hide_down);
        // `;st=` needs 8 bytes from its start.
        assert_eq!(parse_options(b";st=DENY", false).st, Some(StCode::Deny));
        assert_eq!(parse_options(b";st=XXXX", false).st, Some(StCode::Unkn));
        assert_eq!(parse_options(b";st=DEN", false).st, None);
        assert_eq!(
            parse_options(b"?scope=be1;up", false).scope.as_deref(),
            Some("be1")
        );
        assert_eq!(parse_options(b"?scope=a<b", false).scope, None);
    }
}
