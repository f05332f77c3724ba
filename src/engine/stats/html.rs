//! The HTML stats page, laid out as HAProxy 2.6's (`stats_dump_html_head()`,
//! `stats_dump_html_info()`, `stats_dump_html_px_hdr()`, `stats_dump_fields_html()`,
//! `stats_dump_html_px_end()`): one table per proxy with its frontend, server and backend
//! lines, tooltips, state colours, and the "Display option" links. Compared with the page
//! haproxy 2.6.12 serves for the same configuration (see the module tests and
//! `tests/engine_stats.rs`).

use std::fmt::Write as _;

use super::fields::*;

/// `<head>`: the title and the style sheet, verbatim from haproxy 2.6.12.
const HEAD: &str = include_str!("head.html");

const LEGEND: &str = "</td><td align=\"center\" nowrap>\n<table class=\"lgd\"><tr>\n<td class=\"active_up\">&nbsp;</td><td class=\"noborder\">active UP </td><td class=\"backup_up\">&nbsp;</td><td class=\"noborder\">backup UP </td></tr><tr>\n<td class=\"active_going_down\"></td><td class=\"noborder\">active UP, going down </td><td class=\"backup_going_down\"></td><td class=\"noborder\">backup UP, going down </td></tr><tr>\n<td class=\"active_going_up\"></td><td class=\"noborder\">active DOWN, going up </td><td class=\"backup_going_up\"></td><td class=\"noborder\">backup DOWN, going up </td></tr><tr>\n<td class=\"active_down\"></td><td class=\"noborder\">active or backup DOWN &nbsp;</td><td class=\"active_no_check\"></td><td class=\"noborder\">not checked </td></tr><tr>\n<td class=\"maintain\"></td><td class=\"noborder\" colspan=\"3\">active or backup DOWN for maintenance (MAINT) &nbsp;</td></tr><tr>\n<td class=\"active_draining\"></td><td class=\"noborder\" colspan=\"3\">active or backup SOFT STOPPED for maintenance &nbsp;</td></tr></table>\nNote: \"NOLB\"/\"DRAIN\" = UP with load-balancing disabled.</td><td align=\"left\" valign=\"top\" nowrap width=\"1%\"><b>Display option:</b><ul style=\"margin-top: 0.25em;\">";

const RESOURCES: &str = "</ul></td><td align=\"left\" valign=\"top\" nowrap width=\"1%\"><b>External resources:</b><ul style=\"margin-top: 0.25em;\">\n<li><a href=\"http://www.haproxy.org/\">Primary site</a><br>\n<li><a href=\"http://www.haproxy.org/#down\">Updates (v2.6)</a><br>\n<li><a href=\"http://www.haproxy.org/#docs\">Online manual</a><br>\n</ul></td></tr></table>\n";

/// `ulltoh()`: a number with the digit before each group of three wrapped in
/// `<span class="rls">` (letter spacing, the page's thousands separator).
pub fn u2h(n: u64) -> String {
    let digits = n.to_string();
    let len = digits.len();
    let mut out = String::with_capacity(len + 24);
    for (i, c) in digits.chars().enumerate() {
        let from_right = len - i - 1;
        if from_right > 0 && from_right.is_multiple_of(3) {
            out.push_str("<span class=\"rls\">");
            out.push(c);
            out.push_str("</span>");
        } else {
            out.push(c);
        }
    }
    out
}

/// `LIM2A()`: the value, or `dflt` for 0.
fn lim2a(n: u64, dflt: &str) -> String {
    if n == 0 {
        dflt.to_string()
    } else {
        n.to_string()
    }
}

/// `human_time(t, 1)`: at most two units among days, hours, minutes, seconds; `?` when
/// negative.
pub fn human_time(t: i64) -> String {
    if t < 0 {
        return "?".into();
    }
    let (day, hour, min) = (86_400, 3600, 60);
    let mut out = String::new();
    let mut cnt = 2;
    if t >= day {
        let _ = write!(out, "{}d", t / day);
        cnt -= 1;
    }
    if cnt > 0 && t % day / hour > 0 {
        let _ = write!(out, "{}h", t % day / hour);
        cnt -= 1;
    }
    if cnt > 0 && t % hour / min > 0 {
        let _ = write!(out, "{}m", t % hour / min);
        cnt -= 1;
    }
    if (cnt > 0 && t % min > 0) || t == 0 {
        let _ = write!(out, "{}s", t % min);
    }
    out
}

/// `chunk_htmlencode()`: non-printable and HTML-special bytes as `&#N;`.
pub fn html_encode(out: &mut String, s: &str) {
    for b in s.bytes() {
        if !(0x20..0x7f).contains(&b) || matches!(b, b'&' | b'"' | b'\'' | b'<' | b'>') {
            let _ = write!(out, "&#{b};");
        } else {
            out.push(char::from(b));
        }
    }
}

/// The admin action result shown at the top of the page (`;st=XXXX`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StCode {
    Deny,
    Done,
    Errp,
    Excd,
    None,
    Part,
    Unkn,
    Ival,
}

impl StCode {
    pub const ALL: [(StCode, &'static str); 8] = [
        (StCode::Deny, "DENY"),
        (StCode::Done, "DONE"),
        (StCode::Errp, "ERRP"),
        (StCode::Excd, "EXCD"),
        (StCode::None, "NONE"),
        (StCode::Part, "PART"),
        (StCode::Unkn, "UNKN"),
        (StCode::Ival, "IVAL"),
    ];

    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(c, _)| *c == self)
            .map_or("UNKN", |(_, n)| n)
    }
}

/// The request's display options.
#[derive(Debug, Clone, Default)]
pub struct PageOpts {
    pub prefix: String,
    pub hide_down: bool,
    pub no_refresh: bool,
    /// `stats refresh` is set.
    pub refresh: bool,
    pub hide_version: bool,
    /// The `scope=` text (already validated), if any.
    pub scope: Option<String>,
    pub st: Option<StCode>,
}

impl PageOpts {
    /// `?scope=<text>` for links, or nothing.
    fn scope_txt(&self) -> String {
        self.scope
            .as_deref()
            .map(|s| format!("?scope={s}"))
            .unwrap_or_default()
    }

    fn up(&self) -> &'static str {
        if self.hide_down {
            ";up"
        } else {
            ""
        }
    }

    fn norefresh(&self) -> &'static str {
        if self.no_refresh {
            ";norefresh"
        } else {
            ""
        }
    }
}

/// Process facts for the "General process information" block.
#[derive(Debug, Clone, Default)]
pub struct ProcInfo {
    pub version: String,
    pub pid: u32,
    pub nbthread: usize,
    pub uptime_s: u64,
    pub ulimit_n: u64,
    pub maxsock: u64,
    pub maxconn: u64,
    pub cur_conns: usize,
    pub conn_rate: u32,
    /// Bytes per second sent to clients.
    pub out_bps: u64,
    pub run_queue: usize,
    pub tasks: usize,
    pub idle_pct: u32,
}

pub fn head(out: &mut String) {
    out.push_str(HEAD);
}

/// `stats_dump_html_info()`.
pub fn info(out: &mut String, p: &ProcInfo, o: &PageOpts) {
    let ver = if o.hide_version { "" } else { &p.version };
    let up = p.uptime_s;
    // Bits per second including the Ethernet overhead, as HAProxy estimates it.
    let bps = p.out_bps * 8 * 1538 / 1448;
    let (rate, unit) = if bps >= 1_000_000_000 {
        (bps as f64 / 1e9, 'G')
    } else if bps >= 1_000_000 {
        (bps as f64 / 1e6, 'M')
    } else {
        (bps as f64 / 1e3, 'k')
    };
    let _ = write!(
        out,
        "<body><h1><a href=\"http://www.haproxy.org/\" style=\"text-decoration: none;\">HAProxy{ver}</a></h1>\n\
         <h2>Statistics Report for pid {pid}</h2>\n\
         <hr width=\"100%\" class=\"hr\">\n\
         <h3>&gt; General process information</h3>\n\
         <table border=0><tr><td align=\"left\" nowrap width=\"1%\">\n\
         <p><b>pid = </b> {pid} (process #1, nbproc = 1, nbthread = {nbt})<br>\n\
         <b>uptime = </b> {d}d {h}h{m:02}m{s:02}s<br>\n\
         <b>system limits:</b> memmax = unlimited; ulimit-n = {ulim}<br>\n\
         <b>maxsock = </b> {maxsock}; <b>maxconn = </b> {maxconn}; <b>maxpipes = </b> 0<br>\n\
         current conns = {cur}; current pipes = 0/0; conn rate = {cr}/sec; bit rate = {rate:.3} {unit}bps<br>\n\
         Running tasks: {rq}/{tasks}; idle = {idle} %<br>\n",
        pid = p.pid,
        nbt = p.nbthread,
        d = up / 86400,
        h = (up % 86400) / 3600,
        m = (up % 3600) / 60,
        s = up % 60,
        ulim = p.ulimit_n,
        maxsock = p.maxsock,
        maxconn = p.maxconn,
        cur = p.cur_conns,
        cr = p.conn_rate,
        rq = p.run_queue,
        tasks = p.tasks,
        idle = p.idle_pct,
    );
    out.push_str(LEGEND);
    let scope_val = o.scope.as_deref().unwrap_or("");
    let _ = writeln!(
        out,
        "<li><form method=\"GET\">Scope : <input value=\"{scope_val}\" name=\"scope\" size=\"8\" maxlength=\"20\" tabindex=\"1\"/></form>"
    );
    let st = o.scope_txt();
    let pfx = &o.prefix;
    if o.hide_down {
        let _ = writeln!(
            out,
            "<li><a href=\"{pfx}{}{st}\">Show all servers</a><br>",
            o.norefresh()
        );
    } else {
        let _ = writeln!(
            out,
            "<li><a href=\"{pfx};up{}{st}\">Hide 'DOWN' servers</a><br>",
            o.norefresh()
        );
    }
    if o.refresh {
        if o.no_refresh {
            let _ = writeln!(
                out,
                "<li><a href=\"{pfx}{}{st}\">Enable refresh</a><br>",
                o.up()
            );
        } else {
            let _ = writeln!(
                out,
                "<li><a href=\"{pfx}{};norefresh{st}\">Disable refresh</a><br>",
                o.up()
            );
        }
    }
    let _ = writeln!(
        out,
        "<li><a href=\"{pfx}{}{}{st}\">Refresh now</a><br>",
        o.up(),
        o.norefresh()
    );
    let nr = if o.refresh { ";norefresh" } else { "" };
    let _ = writeln!(out, "<li><a href=\"{pfx};csv{nr}{st}\">CSV export</a><br>");
    let _ = writeln!(
        out,
        "<li><a href=\"{pfx};json{nr}{st}\">JSON export</a> (<a href=\"{pfx};json-schema\">schema</a>)<br>"
    );
    out.push_str(RESOURCES);
    if let Some(code) = o.st {
        let (class, msg) = match code {
            StCode::Done => ("active_up", "Action processed successfully."),
            StCode::None => ("active_going_down", "Nothing has changed."),
            StCode::Part => (
                "active_going_down",
                "Action partially processed.<br>Some server names are probably unknown or ambiguous (duplicated names in the backend).",
            ),
            StCode::Errp => (
                "active_down",
                "Action not processed because of invalid parameters.<ul><li>The action is maybe unknown.</li><li>Invalid key parameter (empty or too long).</li><li>The backend name is probably unknown or ambiguous (duplicated names).</li><li>Some server names are probably unknown or ambiguous (duplicated names in the backend).</li></ul>",
            ),
            StCode::Excd => (
                "active_down",
                "<b>Action not processed : the buffer couldn't store all the data.<br>You should retry with less servers at a time.</b>",
            ),
            StCode::Deny => ("active_down", "<b>Action denied.</b>"),
            StCode::Ival => (
                "active_down",
                "<b>Invalid requests (unsupported method or chunked encoded request).</b>",
            ),
            StCode::Unkn => ("active_no_check", "Unexpected result."),
        };
        let _ = writeln!(
            out,
            "<p><div class={class}><a class=lfsb href=\"{pfx}{}{}{st}\" title=\"Remove this message\">[X]</a> {msg}</div>",
            o.up(),
            o.norefresh()
        );
        out.push_str("<p>\n");
    }
}

/// `stats_dump_html_px_hdr()`.
pub fn px_hdr(out: &mut String, name: &str) {
    let _ = write!(
        out,
        "<table class=\"tbl\" width=\"100%\">\n\
         <tr class=\"titre\"><th class=\"pxname\" width=\"10%\">\
         <a name=\"{name}\"></a><a class=px href=\"#{name}\">{name}</a>\
         </th><th class=\"empty\" width=\"90%\"></th></tr>\n\
         </table>\n\
         <table class=\"tbl\" width=\"100%\">\n\
         <tr class=\"titre\">\
         <th rowspan=2></th><th colspan=3>Queue</th>\
         <th colspan=3>Session rate</th><th colspan=6>Sessions</th>\
         <th colspan=2>Bytes</th><th colspan=2>Denied</th>\
         <th colspan=3>Errors</th><th colspan=2>Warnings</th>\
         <th colspan=9>Server</th></tr>\n\
         <tr class=\"titre\">\
         <th>Cur</th><th>Max</th><th>Limit</th>\
         <th>Cur</th><th>Max</th><th>Limit</th><th>Cur</th><th>Max</th>\
         <th>Limit</th><th>Total</th><th>LbTot</th><th>Last</th><th>In</th><th>Out</th>\
         <th>Req</th><th>Resp</th><th>Req</th><th>Conn</th>\
         <th>Resp</th><th>Retr</th><th>Redis</th>\
         <th>Status</th><th>LastChk</th><th>Wght</th><th>Act</th>\
         <th>Bck</th><th>Chk</th><th>Dwn</th><th>Dwntme</th>\
         <th>Thrtle</th>\n</tr>"
    );
}

/// `stats_dump_html_px_end()`.
pub fn px_end(out: &mut String) {
    out.push_str("</table><p>\n");
}

pub fn end(out: &mut String) {
    out.push_str("</body></html>\n");
}

fn pct(a: u64, b: u64) -> u64 {
    (a * 100).checked_div(b).unwrap_or(0)
}

/// The "Bytes Out" cell with its compression tooltip.
fn bytes_out_cell(out: &mut String, r: &Row) {
    let (cin, cout, cbyp) = (r.num(COMP_IN), r.num(COMP_OUT), r.num(COMP_BYP));
    let bout = r.num(BOUT);
    let u = cin > 0 || cbyp > 0;
    let _ = write!(
        out,
        "<td>{}{}<div class=tips><table class=det>\
         <tr><th>Response bytes in:</th><td>{}</td></tr>\
         <tr><th>Compression in:</th><td>{}</td></tr>\
         <tr><th>Compression out:</th><td>{}</td><td>({}%)</td></tr>\
         <tr><th>Compression bypass:</th><td>{}</td></tr>\
         <tr><th>Total bytes saved:</th><td>{}</td><td>({}%)</td></tr>\
         </table></div>{}</td>",
        if u { "<u>" } else { "" },
        u2h(bout),
        u2h(bout),
        u2h(cin),
        u2h(cout),
        pct(cout, cin),
        u2h(cbyp),
        u2h(cin.saturating_sub(cout)),
        pct(cin.saturating_sub(cout), bout),
        if u { "</u>" } else { "" },
    );
}

fn http_mode(r: &Row) -> bool {
    r.text(MODE) == "http"
}

/// The frontend line.
pub fn fe_line(out: &mut String, r: &Row) {
    let px = r.text(PXNAME);
    let http = http_mode(r);
    let _ = write!(
        out,
        "<tr class=\"frontend\"><td class=ac><a name=\"{px}/Frontend\"></a><a class=lfsb href=\"#{px}/Frontend\">Frontend</a></td><td colspan=3></td>\
         <td><u>{}<div class=tips><table class=det>\
         <tr><th>Current connection rate:</th><td>{}/s</td></tr>\
         <tr><th>Current session rate:</th><td>{}/s</td></tr>",
        u2h(r.num(RATE)),
        u2h(r.num(CONN_RATE)),
        u2h(r.num(RATE))
    );
    if http {
        let _ = write!(
            out,
            "<tr><th>Current request rate:</th><td>{}/s</td></tr>",
            u2h(r.num(REQ_RATE))
        );
    }
    let _ = write!(
        out,
        "</table></div></u></td><td><u>{}<div class=tips><table class=det>\
         <tr><th>Max connection rate:</th><td>{}/s</td></tr>\
         <tr><th>Max session rate:</th><td>{}/s</td></tr>",
        u2h(r.num(RATE_MAX)),
        u2h(r.num(CONN_RATE_MAX)),
        u2h(r.num(RATE_MAX))
    );
    if http {
        let _ = write!(
            out,
            "<tr><th>Max request rate:</th><td>{}/s</td></tr>",
            u2h(r.num(REQ_RATE_MAX))
        );
    }
    let _ = write!(
        out,
        "</table></div></u></td><td>{}</td>\
         <td>{}</td><td>{}</td><td>{}</td>\
         <td><u>{}<div class=tips><table class=det>\
         <tr><th>Cum. connections:</th><td>{}</td></tr>\
         <tr><th>Cum. sessions:</th><td>{}</td></tr>",
        lim2a(r.num(RATE_LIM), "-"),
        u2h(r.num(SCUR)),
        u2h(r.num(SMAX)),
        u2h(r.num(SLIM)),
        u2h(r.num(STOT)),
        u2h(r.num(CONN_TOT)),
        u2h(r.num(STOT))
    );
    if http {
        let h2 = r.num(HRSP_1XX + 1);
        let _ = write!(
            out,
            "<tr><th>Cum. HTTP requests:</th><td>{}</td></tr>\
             <tr><th>- HTTP 1xx responses:</th><td>{}</td></tr>\
             <tr><th>- HTTP 2xx responses:</th><td>{}</td></tr>\
             <tr><th>&nbsp;&nbsp;Compressed 2xx:</th><td>{}</td><td>({}%)</td></tr>\
             <tr><th>- HTTP 3xx responses:</th><td>{}</td></tr>\
             <tr><th>- HTTP 4xx responses:</th><td>{}</td></tr>\
             <tr><th>- HTTP 5xx responses:</th><td>{}</td></tr>\
             <tr><th>- other responses:</th><td>{}</td></tr>\
             <tr><th>Intercepted requests:</th><td>{}</td></tr>\
             <tr><th>Cache lookups:</th><td>{}</td></tr>\
             <tr><th>Cache hits:</th><td>{}</td><td>({}%)</td></tr>\
             <tr><th>Failed hdr rewrites:</th><td>{}</td></tr>\
             <tr><th>Internal errors:</th><td>{}</td></tr>",
            u2h(r.num(REQ_TOT)),
            u2h(r.num(HRSP_1XX)),
            u2h(h2),
            u2h(r.num(COMP_RSP)),
            pct(r.num(COMP_RSP), h2),
            u2h(r.num(HRSP_1XX + 2)),
            u2h(r.num(HRSP_1XX + 3)),
            u2h(r.num(HRSP_1XX + 4)),
            u2h(r.num(HRSP_OTHER)),
            u2h(r.num(INTERCEPTED)),
            u2h(r.num(CACHE_LOOKUPS)),
            u2h(r.num(CACHE_HITS)),
            pct(r.num(CACHE_HITS), r.num(CACHE_LOOKUPS)),
            u2h(r.num(WREW)),
            u2h(r.num(EINT)),
        );
    }
    let _ = write!(
        out,
        "</table></div></u></td><td></td><td></td><td>{}</td>",
        u2h(r.num(BIN))
    );
    bytes_out_cell(out, r);
    let _ = write!(
        out,
        "<td>{}</td><td>{}</td><td>{}</td><td></td><td></td><td></td><td></td>\
         <td class=ac>{}</td><td class=ac colspan=8></td></tr>",
        u2h(r.num(DREQ)),
        u2h(r.num(DRESP)),
        u2h(r.num(EREQ)),
        r.text(STATUS)
    );
}

/// The style class of a server line (`stats_dump_fields_html()`).
fn srv_style(r: &Row) -> &'static str {
    let status = r.text(STATUS);
    match status {
        "DOWN" | "DOWN (agent)" => "down",
        s if s.starts_with("DOWN ") => "going_up",
        "DRAIN" => "draining",
        s if s.starts_with("NOLB ") => "going_down",
        "NOLB" => "nolb",
        "no check" => "no_check",
        _ => {
            if !r.has(CHKFAIL) || r.num(CHECK_HEALTH) == r.num(CHECK_RISE) + r.num(CHECK_FALL) - 1 {
                if r.num(WEIGHT) > 0 {
                    "up"
                } else {
                    "draining"
                }
            } else {
                "going_down"
            }
        }
    }
}

/// A server line.
pub fn srv_line(out: &mut String, r: &Row) {
    let px = r.text(PXNAME);
    let sv = r.text(SVNAME);
    let status = r.text(STATUS);
    let http = http_mode(r);
    if status.starts_with("MAINT") {
        out.push_str("<tr class=\"maintain\">");
    } else {
        let who = if r.num(BCK) > 0 { "backup" } else { "active" };
        let _ = write!(out, "<tr class=\"{who}_{}\">", srv_style(r));
    }
    let _ = write!(
        out,
        "<td class=ac><a name=\"{px}/{sv}\"></a><a class=lfsb href=\"#{px}/{sv}\">{sv}</a>\
         </td><td>{}</td><td>{}</td><td>{}</td>\
         <td>{}</td><td>{}</td><td></td>",
        u2h(r.num(QCUR)),
        u2h(r.num(QMAX)),
        lim2a(r.num(QLIMIT), "-"),
        u2h(r.num(RATE)),
        u2h(r.num(RATE_MAX))
    );
    let ilim = if r.has(SRV_ILIM) {
        u2h(r.num(SRV_ILIM))
    } else {
        "-".to_string()
    };
    let _ = write!(
        out,
        "<td><u>{}<div class=tips><table class=det>\
         <tr><th>Current active connections:</th><td>{}</td></tr>\
         <tr><th>Current used connections:</th><td>{}</td></tr>\
         <tr><th>Current idle connections:</th><td>{}</td></tr>\
         <tr><th>- unsafe:</th><td>{}</td></tr>\
         <tr><th>- safe:</th><td>{}</td></tr>\
         <tr><th>Estimated need of connections:</th><td>{}</td></tr>\
         <tr><th>Active connections limit:</th><td>{}</td></tr>\
         <tr><th>Idle connections limit:</th><td>{}</td></tr>\
         </table></div></u></td><td>{}</td><td>{}</td>\
         <td><u>{}<div class=tips><table class=det>\
         <tr><th>Cum. sessions:</th><td>{}</td></tr>",
        u2h(r.num(SCUR)),
        u2h(r.num(SCUR)),
        u2h(r.num(USED_CONN_CUR)),
        u2h(r.num(SRV_ICUR)),
        u2h(r.num(IDLE_CONN_CUR)),
        u2h(r.num(SAFE_CONN_CUR)),
        u2h(r.num(NEED_CONN_EST)),
        lim2a(r.num(SLIM), "-"),
        ilim,
        u2h(r.num(SMAX)),
        lim2a(r.num(SLIM), "-"),
        u2h(r.num(STOT)),
        u2h(r.num(STOT))
    );
    if http {
        let req = r.num(REQ_TOT);
        let (connect, reuse) = (r.num(CONNECT), r.num(REUSE));
        let _ = write!(
            out,
            "<tr><th>New connections:</th><td>{}</td></tr>\
             <tr><th>Reused connections:</th><td>{}</td><td>({}%)</td></tr>\
             <tr><th>Cum. HTTP requests:</th><td>{}</td></tr>",
            u2h(connect),
            u2h(reuse),
            pct(reuse, connect + reuse),
            u2h(req)
        );
        for (label, i) in [
            ("1xx", HRSP_1XX),
            ("2xx", HRSP_1XX + 1),
            ("3xx", HRSP_1XX + 2),
            ("4xx", HRSP_1XX + 3),
            ("5xx", HRSP_1XX + 4),
        ] {
            let _ = write!(
                out,
                "<tr><th>- HTTP {label} responses:</th><td>{}</td><td>({}%)</td></tr>",
                u2h(r.num(i)),
                pct(r.num(i), req)
            );
        }
        let _ = write!(
            out,
            "<tr><th>- other responses:</th><td>{}</td><td>({}%)</td></tr>\
             <tr><th>Failed hdr rewrites:</th><td>{}</td></tr>\
             <tr><th>Internal error:</th><td>{}</td></tr>",
            u2h(r.num(HRSP_OTHER)),
            pct(r.num(HRSP_OTHER), req),
            u2h(r.num(WREW)),
            u2h(r.num(EINT))
        );
    }
    times_tips(out, r, http);
    let _ = write!(
        out,
        "</table></div></u></td><td>{}</td><td>{}</td>",
        u2h(r.num(LBTOT)),
        human_time(i64::from(r.s32(LASTSESS)))
    );
    let _ = write!(
        out,
        "<td>{}</td><td>{}</td><td></td><td>{}</td><td></td><td>{}</td>\
         <td><u>{}<div class=tips>Connection resets during transfers: {} client, {} server</div></u></td>\
         <td>{}</td><td>{}</td>",
        u2h(r.num(BIN)),
        u2h(r.num(BOUT)),
        u2h(r.num(DRESP)),
        u2h(r.num(ECON)),
        u2h(r.num(ERESP)),
        r.num(CLI_ABRT),
        r.num(SRV_ABRT),
        r.num(WRETR),
        r.num(WREDIS)
    );
    out.push_str("<td class=ac>");
    let lastchg = human_time(r.num(LASTCHG) as i64);
    if status.starts_with("MAINT") {
        let _ = write!(out, "{lastchg} MAINT");
    } else if status == "no check" {
        out.push_str("<i>no check</i>");
    } else {
        let _ = write!(out, "{lastchg} {status}");
        if status.starts_with("DOWN") {
            if r.num(CHECK_HEALTH) > 0 {
                out.push_str(" &uarr;");
            }
        } else if r.num(CHECK_HEALTH) < (r.num(CHECK_RISE) + r.num(CHECK_FALL)).saturating_sub(1) {
            out.push_str(" &darr;");
        }
    }
    if r.has(CHECK_STATUS) {
        let _ = write!(out, "</td><td class=ac><u> {}", r.text(CHECK_STATUS));
        if r.has(CHECK_CODE) {
            let _ = write!(out, "/{}", r.num(CHECK_CODE));
        }
        if r.has(CHECK_DURATION) {
            let _ = write!(out, " in {}ms", r.num(CHECK_DURATION));
        }
        let _ = write!(out, "<div class=tips>{}", r.text(CHECK_DESC));
        let last = r.text(LAST_CHK);
        if !last.is_empty() {
            out.push_str(": ");
            html_encode(out, last);
        }
        out.push_str("</div></u>");
    } else {
        out.push_str("</td><td>");
    }
    let bck = r.num(BCK) > 0;
    let _ = write!(
        out,
        "</td><td class=ac>{}/{}</td><td class=ac>{}</td><td class=ac>{}</td>",
        r.num(WEIGHT),
        r.num(UWEIGHT),
        if bck { "-" } else { "Y" },
        if bck { "Y" } else { "-" }
    );
    if status == "MAINT (resolution)" {
        out.push_str("<td class=ac colspan=3>resolution</td>");
    } else if r.has(CHKFAIL) {
        let _ = write!(
            out,
            "<td><u>{}<div class=tips>Failed Health Checks</div></u></td><td>{}</td><td>{}</td>",
            r.num(CHKFAIL),
            r.num(CHKDOWN),
            human_time(r.num(DOWNTIME) as i64)
        );
    } else {
        out.push_str("<td colspan=3></td>");
    }
    if r.has(THROTTLE) {
        let _ = writeln!(out, "<td class=ac>{} %</td>", r.num(THROTTLE));
    } else {
        out.push_str("<td class=ac>-</td>");
    }
    out.push_str("</tr>\n");
}

fn times_tips(out: &mut String, r: &Row, http: bool) {
    out.push_str("<tr><th colspan=3>Max / Avg over last 1024 success. conn.</th></tr>");
    let _ = write!(
        out,
        "<tr><th>- Queue time:</th><td>{} / {}</td><td>ms</td></tr>",
        u2h(r.num(QT_MAX)),
        u2h(r.num(QTIME))
    );
    let _ = write!(
        out,
        "<tr><th>- Connect time:</th><td>{} / {}</td><td>ms</td></tr>",
        u2h(r.num(CT_MAX)),
        u2h(r.num(CTIME))
    );
    if http {
        let _ = write!(
            out,
            "<tr><th>- Responses time:</th><td>{} / {}</td><td>ms</td></tr>",
            u2h(r.num(RT_MAX)),
            u2h(r.num(RTIME))
        );
    }
    let _ = write!(
        out,
        "<tr><th>- Total time:</th><td>{} / {}</td><td>ms</td></tr>",
        u2h(r.num(TT_MAX)),
        u2h(r.num(TTIME))
    );
}

/// The backend line.
pub fn be_line(out: &mut String, r: &Row) {
    let px = r.text(PXNAME);
    let http = http_mode(r);
    let _ = write!(
        out,
        "<tr class=\"backend\"><td class=ac><a name=\"{px}/Backend\"></a><a class=lfsb href=\"#{px}/Backend\">Backend</a>\
         </td><td>{}</td><td>{}</td><td></td>\
         <td>{}</td><td>{}</td><td></td>\
         <td>{}</td><td>{}</td><td>{}</td>\
         <td><u>{}<div class=tips><table class=det>\
         <tr><th>Cum. sessions:</th><td>{}</td></tr>",
        u2h(r.num(QCUR)),
        u2h(r.num(QMAX)),
        u2h(r.num(RATE)),
        u2h(r.num(RATE_MAX)),
        u2h(r.num(SCUR)),
        u2h(r.num(SMAX)),
        u2h(r.num(SLIM)),
        u2h(r.num(STOT)),
        u2h(r.num(STOT))
    );
    if http {
        let (connect, reuse) = (r.num(CONNECT), r.num(REUSE));
        let h2 = r.num(HRSP_1XX + 1);
        let _ = write!(
            out,
            "<tr><th>New connections:</th><td>{}</td></tr>\
             <tr><th>Reused connections:</th><td>{}</td><td>({}%)</td></tr>\
             <tr><th>Cum. HTTP requests:</th><td>{}</td></tr>\
             <tr><th>- HTTP 1xx responses:</th><td>{}</td></tr>\
             <tr><th>- HTTP 2xx responses:</th><td>{}</td></tr>\
             <tr><th>&nbsp;&nbsp;Compressed 2xx:</th><td>{}</td><td>({}%)</td></tr>\
             <tr><th>- HTTP 3xx responses:</th><td>{}</td></tr>\
             <tr><th>- HTTP 4xx responses:</th><td>{}</td></tr>\
             <tr><th>- HTTP 5xx responses:</th><td>{}</td></tr>\
             <tr><th>- other responses:</th><td>{}</td></tr>\
             <tr><th>Cache lookups:</th><td>{}</td></tr>\
             <tr><th>Cache hits:</th><td>{}</td><td>({}%)</td></tr>\
             <tr><th>Failed hdr rewrites:</th><td>{}</td></tr>\
             <tr><th>Internal errors:</th><td>{}</td></tr>",
            u2h(connect),
            u2h(reuse),
            pct(reuse, connect + reuse),
            u2h(r.num(REQ_TOT)),
            u2h(r.num(HRSP_1XX)),
            u2h(h2),
            u2h(r.num(COMP_RSP)),
            pct(r.num(COMP_RSP), h2),
            u2h(r.num(HRSP_1XX + 2)),
            u2h(r.num(HRSP_1XX + 3)),
            u2h(r.num(HRSP_1XX + 4)),
            u2h(r.num(HRSP_OTHER)),
            u2h(r.num(CACHE_LOOKUPS)),
            u2h(r.num(CACHE_HITS)),
            pct(r.num(CACHE_HITS), r.num(CACHE_LOOKUPS)),
            u2h(r.num(WREW)),
            u2h(r.num(EINT)),
        );
    }
    times_tips(out, r, http);
    let _ = write!(
        out,
        "</table></div></u></td><td>{}</td><td>{}</td><td>{}</td>",
        u2h(r.num(LBTOT)),
        human_time(i64::from(r.s32(LASTSESS))),
        u2h(r.num(BIN))
    );
    bytes_out_cell(out, r);
    let status = r.text(STATUS);
    let status_html = if status == "DOWN" {
        "<font color=\"red\"><b>DOWN</b></font>"
    } else {
        status
    };
    let _ = write!(
        out,
        "<td>{}</td><td>{}</td><td></td><td>{}</td>\
         <td><u>{}<div class=tips>Connection resets during transfers: {} client, {} server</div></u></td>\
         <td>{}</td><td>{}</td>\
         <td class=ac>{} {}</td><td class=ac>&nbsp;</td><td class=ac>{}/{}</td>\
         <td class=ac>{}</td><td class=ac>{}</td>",
        u2h(r.num(DREQ)),
        u2h(r.num(DRESP)),
        u2h(r.num(ECON)),
        u2h(r.num(ERESP)),
        r.num(CLI_ABRT),
        r.num(SRV_ABRT),
        r.num(WRETR),
        r.num(WREDIS),
        human_time(r.num(LASTCHG) as i64),
        status_html,
        r.num(WEIGHT),
        r.num(UWEIGHT),
        r.num(ACT),
        r.num(BCK)
    );
    let downtime = if r.has(DOWNTIME) {
        human_time(r.num(DOWNTIME) as i64)
    } else {
        "&nbsp;".to_string()
    };
    let _ = write!(
        out,
        "<td class=ac>&nbsp;</td><td>{}</td><td>{downtime}</td><td></td></tr>",
        r.num(CHKDOWN)
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_group_like_ulltoh() {
        assert_eq!(u2h(0), "0");
        assert_eq!(u2h(644), "644");
        assert_eq!(u2h(4644), "<span class=\"rls\">4</span>644");
        assert_eq!(
            u2h(1234567),
            "<span class=\"rls\">1</span>23<span class=\"rls\">4</span>567"
        );
    }

    #[test]
    fn human_times() {
        assert_eq!(human_time(0), "0s");
        assert_eq!(human_time(35), "35s");
        assert_eq!(human_time(60), "1m");
        assert_eq!(human_time(3725), "1h2m");
        assert_eq!(human_time(90061), "1d1h");
        assert_eq!(human_time(-1), "?");
    }

    #[test]
    fn html_encoding() {
        let mut s = String::new();
        html_encode(&mut s, "a<b>\"c\"");
        assert_eq!(s, "a&#60;b&#62;&#34;c&#34;");
    }
}
