//! The `global` section, `log` lines (global and proxy) and `userlist` sections.

use super::super::address::{self, LogTarget as Target};
use super::super::diag::{Diagnostic, Location, Severity};
use super::super::ir::{
    Account, CliLevel, LogTarget, Password, StatsSocket, StatsSocketAddr, TlsDefaults, TlsVersion,
    User,
};
use super::super::keywords::Keyword;
use super::super::lexer::Word;
use super::super::loader::{unsupported, with_col};
use super::super::values;
use super::{arg, at, Ctx, SectionState};

#[derive(Debug, Default, Clone)]
pub struct GlobalDraft {
    pub maxconn: Option<u32>,
    pub daemon: bool,
    pub user: Option<Account>,
    pub group: Option<Account>,
    pub chroot: Option<String>,
    pub pidfile: Option<String>,
    pub hard_stop_after_ms: Option<u32>,
    pub crt_base: Option<String>,
    pub ca_base: Option<String>,
    pub bind_tls: TlsDefaults,
    pub server_tls: TlsDefaults,
    /// `ssl-server-verify`; unset means `required`, HAProxy's default.
    pub ssl_server_verify_required: Option<bool>,
    pub logs: Vec<LogTarget>,
    pub quiet: bool,
    pub stats_sockets: Vec<StatsSocket>,
    pub stats_timeout_ms: Option<u32>,
}

const FACILITIES: &[&str] = &[
    "kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron", "auth2",
    "ftp", "ntp", "audit", "alert", "cron2", "local0", "local1", "local2", "local3", "local4",
    "local5", "local6", "local7",
];
const LEVELS: &[&str] = &[
    "emerg", "alert", "crit", "err", "warning", "notice", "info", "debug",
];

pub fn parse_line(ctx: &mut Ctx, row: &'static Keyword, words: &[Word], loc: &Location) {
    let kw_loc = with_col(loc, &words[0]);
    let a1 = arg(words, 1).to_string();
    match row.name {
        "maxconn" => {
            if ctx.global.maxconn.is_some() {
                ctx.push(Diagnostic::parsing(
                    Severity::AlertNonFatal,
                    "duplicate",
                    kw_loc,
                    "'maxconn' already specified. Continuing.",
                ));
                return;
            }
            if a1.is_empty() {
                return ctx.fatal(
                    &kw_loc,
                    "missing-argument",
                    "'maxconn' expects an integer argument.",
                );
            }
            ctx.global.maxconn = Some(values::atoi(&a1).clamp(0, u32::MAX as i64) as u32);
        }
        "daemon" => ctx.global.daemon = true,
        "stats timeout" => {
            let v = arg(words, 2).to_string();
            match values::parse_duration(&v, 1) {
                Ok(d) if !v.is_empty() => ctx.global.stats_timeout_ms = Some(d.ms),
                _ => {
                    let bad = v
                        .chars()
                        .find(|c| !c.is_ascii_digit())
                        .map(String::from)
                        .unwrap_or_else(|| "\n".into());
                    ctx.fatal(
                        &kw_loc,
                        "bad-value",
                        format!("'stats timeout' : unexpected character '{bad}'"),
                    );
                }
            }
        }
        "stats socket" => parse_stats_socket(ctx, words, &kw_loc),
        "quiet" => {
            ctx.global.quiet = true;
            if ctx.quiet_from.is_none() {
                ctx.quiet_from = Some(ctx.diags.len());
            }
        }
        "zero-warning" => ctx.zero_warning = true,
        "user" | "group" => {
            let is_user = row.name == "user";
            let id = lookup_account(&a1, is_user);
            match id {
                Some(id) => {
                    let acc = Some(Account {
                        name: Some(a1.clone()),
                        id,
                    });
                    if is_user {
                        ctx.global.user = acc;
                    } else {
                        ctx.global.group = acc;
                    }
                }
                None => {
                    let what = if is_user { "user" } else { "group" };
                    ctx.fatal(
                        &at(loc, words, 1),
                        "unknown-account",
                        format!("cannot find {what} id for '{a1}' (0:Success)"),
                    );
                }
            }
        }
        "uid" | "gid" => {
            let id = values::atoi(&a1).clamp(0, u32::MAX as i64) as u32;
            let acc = Some(Account { name: None, id });
            if row.name == "uid" {
                ctx.global.user = acc;
            } else {
                ctx.global.group = acc;
            }
        }
        "chroot" => ctx.global.chroot = Some(a1),
        "pidfile" => ctx.global.pidfile = Some(a1),
        "crt-base" => ctx.global.crt_base = Some(a1),
        "ca-base" => ctx.global.ca_base = Some(a1),
        "hard-stop-after" => match values::parse_duration(&a1, 1) {
            Ok(d) => ctx.global.hard_stop_after_ms = Some(d.ms),
            Err(_) => ctx.fatal(
                &kw_loc,
                "bad-value",
                format!("unexpected character in 'hard-stop-after' value '{a1}'."),
            ),
        },
        "setenv" | "presetenv" => {
            if words.len() != 3 {
                return ctx.fatal(
                    &kw_loc,
                    "bad-arity",
                    format!("'{}' expects exactly two arguments.", row.name),
                );
            }
            let set = row.name == "setenv" || !ctx.env.contains_key(&a1);
            if set {
                ctx.env.insert(a1, arg(words, 2).to_string());
            }
        }
        "unsetenv" => {
            for w in &words[1..] {
                ctx.env.remove(&w.text);
            }
        }
        "resetenv" => {
            let keep: Vec<&str> = words[1..].iter().map(|w| w.text.as_str()).collect();
            ctx.env.retain(|k, _| keep.contains(&k.as_str()));
        }
        "ssl-default-bind-ciphers" => ctx.global.bind_tls.ciphers = Some(a1),
        "ssl-default-bind-ciphersuites" => ctx.global.bind_tls.ciphersuites = Some(a1),
        "ssl-default-bind-curves" => ctx.global.bind_tls.curves = Some(a1),
        "ssl-default-server-ciphers" => ctx.global.server_tls.ciphers = Some(a1),
        "ssl-default-server-ciphersuites" => ctx.global.server_tls.ciphersuites = Some(a1),
        "ssl-default-bind-options" | "ssl-default-server-options" => {
            let bind_side = row.name == "ssl-default-bind-options";
            let mut t = if bind_side {
                ctx.global.bind_tls.clone()
            } else {
                ctx.global.server_tls.clone()
            };
            let mut i = 1;
            while i < words.len() {
                let o = arg(words, i);
                match o {
                    "ssl-min-ver" | "ssl-max-ver" => {
                        let Some(v) = tls_version(arg(words, i + 1)) else {
                            return ctx.fatal(
                                &at(loc, words, i + 1),
                                "bad-value",
                                format!("'{}' : unknown ssl/tls version", arg(words, i + 1)),
                            );
                        };
                        if o == "ssl-min-ver" {
                            t.min_ver = Some(v);
                        } else {
                            t.max_ver = Some(v);
                        }
                        i += 1;
                    }
                    "no-tls-tickets" => t.no_tls_tickets = true,
                    "no-sslv3" | "no-tlsv10" | "no-tlsv11" => {
                        // rustls never speaks these versions, so excluding them changes nothing.
                    }
                    "no-tlsv12" | "no-tlsv13" | "force-tlsv12" | "force-tlsv13" | "force-sslv3"
                    | "force-tlsv10" | "force-tlsv11" => {
                        return ctx.push(unsupported(
                            &at(loc, words, i),
                            &format!("{} {o}", row.name),
                        ));
                    }
                    "prefer-client-ciphers" | "no-ca-names" | "allow-0rtt" => {
                        return ctx.push(unsupported(
                            &at(loc, words, i),
                            &format!("{} {o}", row.name),
                        ));
                    }
                    _ => {
                        return ctx.fatal(
                            &at(loc, words, i),
                            "bad-value",
                            format!("'{}' : unknown or unsupported option '{o}'", row.name),
                        );
                    }
                }
                i += 1;
            }
            if bind_side {
                ctx.global.bind_tls = t;
            } else {
                ctx.global.server_tls = t;
            }
        }
        "ssl-server-verify" => match a1.as_str() {
            "none" => ctx.global.ssl_server_verify_required = Some(false),
            "required" => ctx.global.ssl_server_verify_required = Some(true),
            _ => ctx.fatal(
                &kw_loc,
                "bad-value",
                "'ssl-server-verify' expects 'none' or 'required' as argument.",
            ),
        },
        "log" => {
            if let Some(entry) = parse_log(ctx, words, loc) {
                match entry {
                    LogLine::Target(t) => ctx.global.logs.push(t),
                    LogLine::NoLog => ctx.global.logs.clear(),
                    LogLine::Global => ctx.fatal(
                        &kw_loc,
                        "bad-value",
                        "log : 'global' is only valid in proxies",
                    ),
                }
            }
        }
        other => ctx.push(unsupported(&kw_loc, other)),
    }
}

pub fn tls_version(s: &str) -> Option<TlsVersion> {
    Some(match s {
        "SSLv3" => TlsVersion::Ssl3,
        "TLSv1.0" => TlsVersion::Tls10,
        "TLSv1.1" => TlsVersion::Tls11,
        "TLSv1.2" => TlsVersion::Tls12,
        "TLSv1.3" => TlsVersion::Tls13,
        _ => return None,
    })
}

/// getpwnam/getgrnam through the C library, so NSS sources count as they do for HAProxy.
fn lookup_account(name: &str, user: bool) -> Option<u32> {
    let cname = std::ffi::CString::new(name).ok()?;
    // SAFETY: getpwnam/getgrnam take a valid NUL-terminated string and return either NULL or
    // a pointer to static storage that we read immediately, before any other libc call.
    unsafe {
        if user {
            let pw = libc::getpwnam(cname.as_ptr());
            (!pw.is_null()).then(|| (*pw).pw_uid)
        } else {
            let gr = libc::getgrnam(cname.as_ptr());
            (!gr.is_null()).then(|| (*gr).gr_gid)
        }
    }
}

pub enum LogLine {
    Global,
    NoLog,
    Target(LogTarget),
}

/// `log global`, `no log` or `log <target> [len N] [format F] [sample r:s] <facility> [max [min]]`.
pub fn parse_log(ctx: &mut Ctx, words: &[Word], loc: &Location) -> Option<LogLine> {
    let kw_loc = with_col(loc, &words[0]);
    if words[0].text == "no" {
        return Some(LogLine::NoLog);
    }
    let a1 = arg(words, 1);
    if a1 == "global" {
        if let Some(extra) = words.get(2) {
            ctx.fatal(
                &with_col(loc, extra),
                "bad-value",
                format!("log : unknown log facility '{}'", extra.text),
            );
            return None;
        }
        return Some(LogLine::Global);
    }
    if a1.is_empty() || words.len() < 3 {
        // In `global` HAProxy's text has no "or global" (and a trailing blank line).
        let msg = if matches!(ctx.section, SectionState::Global) {
            "log : expects <address> and <facility>  as arguments"
        } else {
            "log : expects <address> and <facility> or global as arguments"
        };
        ctx.fatal(&kw_loc, "missing-argument", msg);
        return None;
    }
    let env = &ctx.env;
    let target = match address::parse_log_target_with_env(a1, &|n: &str| env.get(n).cloned()) {
        Ok(t) => t,
        Err(e) => {
            let nl = if e.ends_with_newline() { "\n" } else { "" };
            ctx.fatal(
                &at(loc, words, 1),
                "bad-address",
                format!("log : {}{nl}", e.message()),
            );
            return None;
        }
    };
    // Host names in log targets are resolved at load time, as HAProxy does (its message
    // is followed by a blank line).
    if let Target::Udp(a) | Target::Tcp(a) = &target {
        if let address::Host::Name(h) = &a.host {
            if ctx.resolve(h, a.family_hint).is_none() {
                ctx.fatal(
                    &at(loc, words, 1),
                    "dns",
                    format!("log : invalid address: '{h}' in '{a1}'\n"),
                );
                return None;
            }
        }
    }
    // HAProxy's fixed order after the address: `len`, then `format`, then `sample`.
    let mut i = 2;
    let mut len = None;
    let mut format = None;
    if arg(words, i) == "len" {
        let v = arg(words, i + 1);
        let n = values::atoi(v);
        if !(80..=65535).contains(&n) {
            ctx.fatal(
                &at(loc, words, i + 1),
                "bad-value",
                format!("log : invalid log length '{v}', must be between 80 and 65535"),
            );
            return None;
        }
        len = Some(n as u32);
        i += 2;
    }
    if arg(words, i) == "format" {
        let f = arg(words, i + 1);
        if !matches!(
            f,
            "rfc3164" | "rfc5424" | "short" | "raw" | "iso" | "local" | "priority" | "timed"
        ) {
            ctx.fatal(
                &at(loc, words, i + 1),
                "bad-value",
                format!("log : unknown log format '{f}'"),
            );
            return None;
        }
        format = Some(f.to_string());
        i += 2;
    }
    if arg(words, i) == "sample" {
        ctx.push(unsupported(&at(loc, words, i), "log sample"));
        return None;
    }
    let facility = arg(words, i);
    if !FACILITIES.contains(&facility) {
        ctx.fatal(
            &at(loc, words, i),
            "bad-value",
            format!("log : unknown log facility '{facility}'"),
        );
        return None;
    }
    let mut levels = [None, None];
    for (slot, j) in levels.iter_mut().zip([i + 1, i + 2]) {
        let l = arg(words, j);
        if l.is_empty() {
            break;
        }
        if !LEVELS.contains(&l) {
            let which = if j == i + 1 {
                "optional"
            } else {
                "optional minimum"
            };
            ctx.fatal(
                &at(loc, words, j),
                "bad-value",
                format!("log : unknown {which} log level '{l}'"),
            );
            return None;
        }
        *slot = Some(l.to_string());
    }
    if let Some(extra) = words.get(i + 3) {
        ctx.fatal(
            &with_col(loc, extra),
            "extra-argument",
            format!("log : cannot handle unexpected argument '{}'.", extra.text),
        );
        return None;
    }
    Some(LogLine::Target(LogTarget {
        target,
        facility: facility.to_string(),
        max_level: levels[0].take(),
        min_level: levels[1].take(),
        format,
        len,
    }))
}

/// `user` and `group` lines of a `userlist`.
pub fn parse_userlist_line(ctx: &mut Ctx, row: &'static Keyword, words: &[Word], loc: &Location) {
    let kw_loc = with_col(loc, &words[0]);
    let SectionState::Userlist(ul) = &mut ctx.section else {
        return;
    };
    let name = arg(words, 1).to_string();
    match row.name {
        "group" => {
            if name.is_empty() {
                let ul_name = ul.name.clone();
                return ctx.fatal(
                    &kw_loc,
                    "missing-argument",
                    format!("'group' expects <name> as arguments in userlist '{ul_name}'."),
                );
            }
            ul.groups.push(name.clone());
            if arg(words, 2) == "users" {
                let members: Vec<String> = arg(words, 3)
                    .split(',')
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .collect();
                for u in ul.users.iter_mut().filter(|u| members.contains(&u.name)) {
                    u.groups.push(name.clone());
                }
            }
        }
        "user" => {
            let mut password = Password::Insecure(String::new());
            let mut groups = Vec::new();
            let mut i = 2;
            while i < words.len() {
                match arg(words, i) {
                    "password" => {
                        // Verifying crypt(3) hashes is not implemented: refuse rather than
                        // reject every login.
                        let at_loc = at(loc, words, i);
                        ctx.push(unsupported(
                            &at_loc,
                            "user ... password (crypt hashes; use insecure-password)",
                        ));
                        return;
                    }
                    "insecure-password" => {
                        password = Password::Insecure(arg(words, i + 1).to_string())
                    }
                    "groups" => {
                        groups = arg(words, i + 1)
                            .split(',')
                            .filter(|s| !s.is_empty())
                            .map(str::to_string)
                            .collect()
                    }
                    other => {
                        let ul_name = ul.name.clone();
                        return ctx.fatal(
                            &at(loc, words, i),
                            "bad-value",
                            format!("'user' only supports 'password', 'insecure-password' and 'groups' (got '{other}') in userlist '{ul_name}'."),
                        );
                    }
                }
                i += 2;
            }
            ul.users.push(User {
                name,
                password,
                groups,
            });
        }
        other => ctx.push(unsupported(&kw_loc, other)),
    }
}

/// `stats socket <path|[ipv4@|ipv6@]ip:port> [mode M] [level L] [uid|gid|user|group X]`.
fn parse_stats_socket(ctx: &mut Ctx, words: &[Word], kw_loc: &Location) {
    let target = arg(words, 2).to_string();
    if target.is_empty() {
        return ctx.fatal(
            kw_loc,
            "missing-argument",
            "'stats socket' in global section expects an address or a path to a UNIX socket",
        );
    }
    let addr = if let Some(p) = target.strip_prefix("unix@") {
        StatsSocketAddr::Unix(p.into())
    } else if target.starts_with('/') || target.starts_with('.') {
        StatsSocketAddr::Unix(target.clone().into())
    } else {
        let t = target
            .trim_start_matches("ipv4@")
            .trim_start_matches("ipv6@");
        let t = t
            .strip_prefix('*')
            .map(|r| format!("0.0.0.0{r}"))
            .unwrap_or_else(|| t.to_string());
        let t = if t.starts_with(':') {
            format!("0.0.0.0{t}")
        } else {
            t
        };
        match t.parse::<std::net::SocketAddr>() {
            Ok(sa) => StatsSocketAddr::Tcp(sa),
            Err(_) => {
                return ctx.push(unsupported(kw_loc, &format!("stats socket {target}")));
            }
        }
    };
    let mut sock = StatsSocket {
        addr,
        mode: None,
        level: CliLevel::Operator,
        uid: None,
        gid: None,
    };
    let mut i = 3;
    while i < words.len() {
        let k = arg(words, i).to_string();
        let v = arg(words, i + 1).to_string();
        match k.as_str() {
            "mode" => match u32::from_str_radix(&v, 8) {
                Ok(m) if !v.is_empty() => sock.mode = Some(m),
                _ => return ctx.fatal(kw_loc, "bad-value", format!("'stats socket' : ''mode' : missing or invalid mode '{v}' (octal integer expected)'")),
            },
            "level" => {
                sock.level = match v.as_str() {
                    "user" => CliLevel::User,
                    "operator" => CliLevel::Operator,
                    "admin" => CliLevel::Admin,
                    _ => return ctx.fatal(kw_loc, "bad-value", format!("'stats socket' : ''level' only supports 'user', 'operator', and 'admin' (got '{v}')'")),
                }
            }
            "uid" | "gid" => {
                if v.is_empty() {
                    return ctx.fatal(kw_loc, "missing-argument", format!("'stats socket' : ''{k}' : missing value'"));
                }
                let id = values::atoi(&v).clamp(0, u32::MAX as i64) as u32;
                if k == "uid" { sock.uid = Some(id) } else { sock.gid = Some(id) }
            }
            "user" | "group" => {
                let is_user = k == "user";
                match lookup_account(&v, is_user) {
                    Some(id) => if is_user { sock.uid = Some(id) } else { sock.gid = Some(id) },
                    None => return ctx.fatal(kw_loc, "unknown-account", format!("'stats socket' : ''{k}' : unknown {k} name '{v}''")),
                }
            }
            "expose-fd" => {
                if v != "listeners" {
                    return ctx.fatal(kw_loc, "bad-value", format!("'stats socket' : ''expose-fd' only supports 'listeners' (got '{v}')'"));
                }
                // Only lets a new process fetch the listening sockets (`-x`, `_getsocks`);
                // without such a reload, HAProxy serves the socket the same way.
                ctx.push(
                    Diagnostic::parsing(
                        Severity::Notice,
                        "accepted-tuning",
                        kw_loc.clone(),
                        "'stats socket ... expose-fd listeners' has no effect in haproxide (no seamless reload with -x); accepted and ignored.",
                    )
                    .ours(),
                );
            }
            _ => {
                // accept-proxy, ssl, process... : valid in HAProxy, not run here.
                return ctx.push(unsupported(kw_loc, &format!("stats socket {k}")));
            }
        }
        i += 2;
    }
    ctx.global.stats_sockets.push(sock);
}
