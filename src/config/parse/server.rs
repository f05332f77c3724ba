//! `server`, `default-server` and `server-template` lines and their options.

use super::super::address::{self, Address};
use super::super::diag::{Diagnostic, Location, Severity};
use super::super::ir::ProxyProtocol;
use super::super::keywords::{self, Family, Sections, Support};
use super::super::lexer::Word;
use super::super::loader::unsupported;
use super::super::suggest::best_match;
use super::super::values;
use super::{arg, at, invalid_name_char, Ctx, SectionState};

/// Options a `default-server` line sets and a `server` line may override.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerOptions {
    pub check: bool,
    pub inter_ms: u32,
    pub fastinter_ms: Option<u32>,
    pub downinter_ms: Option<u32>,
    pub rise: u32,
    pub fall: u32,
    pub weight: u32,
    pub backup: bool,
    pub maxconn: Option<u32>,
    pub maxqueue: Option<u32>,
    pub minconn: Option<u32>,
    pub cookie: Option<String>,
    pub disabled: bool,
    pub check_port: Option<u16>,
    pub check_addr: Option<std::net::IpAddr>,
    /// `init-addr` methods in order; HAProxy's default is `last,libc`.
    pub init_addr: Vec<String>,
    pub slowstart_ms: Option<u32>,
    pub send_proxy: Option<ProxyProtocol>,
    pub on_marked_down_shutdown: bool,
    pub on_marked_up_shutdown_backups: bool,
    pub id: Option<u32>,
    /// `check-ssl` (`no-check-ssl` clears it).
    pub check_ssl: bool,
    /// `check-sni <name>`.
    pub check_sni: Option<String>,
    /// `verify none|required`: `Some(true)` for required; `None` follows global
    /// `ssl-server-verify`.
    pub verify_required: Option<bool>,
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions {
            check: false,
            inter_ms: 2000,
            fastinter_ms: None,
            downinter_ms: None,
            rise: 2,
            fall: 3,
            weight: 1,
            backup: false,
            maxconn: None,
            maxqueue: None,
            minconn: None,
            cookie: None,
            disabled: false,
            check_port: None,
            check_addr: None,
            init_addr: vec!["last".into(), "libc".into()],
            slowstart_ms: None,
            send_proxy: None,
            on_marked_down_shutdown: false,
            on_marked_up_shutdown_backups: false,
            id: None,
            check_ssl: false,
            check_sni: None,
            verify_required: None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct ServerDraft {
    pub name: String,
    pub loc: Location,
    pub addr_text: String,
    pub addr: Address,
    pub opts: ServerOptions,
}

pub fn parse_server_line(ctx: &mut Ctx, kw: &str, words: &[Word], loc: &Location) {
    let SectionState::Proxy(p) = &ctx.section else {
        return;
    };
    let be_name = p.display_name();
    let mut opts = p.default_server.clone();
    if kw == "default-server" {
        if parse_options(ctx, words, 1, loc, "default-server", &mut opts) {
            if let SectionState::Proxy(p) = &mut ctx.section {
                p.default_server = opts;
            }
        }
        return;
    }
    let (name, addr_idx, count) = if kw == "server-template" {
        let prefix = arg(words, 1);
        let range = arg(words, 2);
        let (lo, hi) = match range.split_once('-') {
            Some((a, b)) => (values::atoi(a), values::atoi(b)),
            None => (1, values::atoi(range)),
        };
        if prefix.is_empty() || range.is_empty() || arg(words, 3).is_empty() || lo <= 0 || hi < lo {
            let msg =
                "'server-template' expects <prefix> <nb | range> <addr>[:<port>] as arguments.";
            ctx.push(Diagnostic::bracketed(
                Severity::Fatal,
                "missing-argument",
                loc.clone(),
                msg,
            ));
            return;
        }
        (prefix.to_string(), 3, Some((lo as u32, hi as u32)))
    } else {
        (arg(words, 1).to_string(), 2, None)
    };
    if name.is_empty() || arg(words, addr_idx).is_empty() {
        ctx.push(Diagnostic::bracketed(
            Severity::Fatal,
            "missing-argument",
            loc.clone(),
            "'server' expects <name> and <addr>[:<port>] as arguments.",
        ));
        return;
    }
    let label = format!("'server {be_name}/{name}'");
    if let Some(c) = invalid_name_char(&name) {
        ctx.push(Diagnostic::bracketed(
            Severity::Fatal,
            "bad-name",
            at(loc, words, 1),
            format!("character '{c}' is not permitted in server name '{name}'."),
        ));
        return;
    }
    let raw = arg(words, addr_idx);
    let env = &ctx.env;
    let addr = match address::parse_server_address_with_env(raw, &|n: &str| env.get(n).cloned()) {
        Ok(a) => a,
        Err(e) => {
            let nl = if e.ends_with_newline() { "\n" } else { "" };
            ctx.push(Diagnostic::bracketed(
                Severity::Fatal,
                "bad-address",
                at(loc, words, addr_idx),
                format!("{label} : {}{nl}", e.message()),
            ));
            return;
        }
    };
    if !parse_options(ctx, words, addr_idx + 1, loc, &label, &mut opts) {
        return;
    }
    let SectionState::Proxy(p) = &mut ctx.section else {
        return;
    };
    let names: Vec<String> = match count {
        Some((lo, hi)) => (lo..=hi).map(|n| format!("{name}{n}")).collect(),
        None => vec![name],
    };
    // Duplicate names are reported at link time, as HAProxy does.
    for n in names {
        p.servers.push(ServerDraft {
            name: n,
            loc: loc.clone(),
            addr_text: raw.to_string(),
            addr: addr.clone(),
            opts: opts.clone(),
        });
    }
}

/// Parses server options from `words[start..]` into `opts`. Returns false after an error.
fn parse_options(
    ctx: &mut Ctx,
    words: &[Word],
    start: usize,
    loc: &Location,
    label: &str,
    opts: &mut ServerOptions,
) -> bool {
    let srv_name = label
        .rsplit('/')
        .next()
        .unwrap_or("")
        .trim_end_matches('\'')
        .to_string();
    let mut i = start;
    let err = |ctx: &mut Ctx, i: usize, msg: String| {
        ctx.push(Diagnostic::bracketed(
            Severity::Fatal,
            "bad-server-option",
            at(loc, words, i),
            format!("{label} : {msg}"),
        ));
        false
    };
    while i < words.len() {
        let o = arg(words, i);
        let v = arg(words, i + 1).to_string();
        let Some(row) = keywords::lookup(Family::ServerOption, o, Sections::NONE) else {
            let cands = Family::ServerOption.rows().iter().map(|k| k.name);
            let msg = match best_match(o, cands) {
                Some(s) => format!("unknown keyword '{o}'; did you mean '{s}' maybe ?"),
                None => format!("unknown keyword '{o}'."),
            };
            return err(ctx, i, msg);
        };
        match row.support {
            Support::Removed(m) => return err(ctx, i, m.to_string()),
            Support::Unsupported => {
                ctx.push(unsupported(&at(loc, words, i), &format!("server {o}")));
                return false;
            }
            Support::Accepted => {
                ctx.push(
                    Diagnostic::parsing(Severity::Notice, "accepted-tuning", at(loc, words, i), format!("'server {o}' is a tuning option with no effect in haproxide; accepted and ignored."))
                        .ours(),
                );
                i += if row.syntax.contains('<') { 2 } else { 1 };
                continue;
            }
            Support::Implemented => {}
        }
        let delay = |ctx: &mut Ctx, i: usize| -> Option<u32> {
            if v.is_empty() {
                ctx.push(Diagnostic::bracketed(
                    Severity::Fatal,
                    "bad-server-option",
                    at(loc, words, i),
                    format!("{label} : '{o}' expects a delay as argument.."),
                ));
                return None;
            }
            match values::parse_duration(&v, 1) {
                Ok(d) if d.ms > 0 => Some(d.ms),
                Ok(_) => {
                    ctx.push(Diagnostic::bracketed(
                        Severity::Fatal,
                        "bad-server-option",
                        at(loc, words, i + 1),
                        format!("{label} : '{o}' has to be > 0.."),
                    ));
                    None
                }
                Err(values::DurationError::UnexpectedChar { ch }) => {
                    // HAProxy 2.6 names 'agent-inter' for every delay here; keep its words.
                    ctx.push(Diagnostic::bracketed(
                        Severity::Fatal,
                        "bad-server-option",
                        at(loc, words, i + 1),
                        format!("{label} : unexpected character '{ch}' in 'agent-inter' argument of server {srv_name}.."),
                    ));
                    None
                }
                Err(_) => {
                    ctx.push(Diagnostic::bracketed(
                        Severity::Fatal,
                        "bad-server-option",
                        at(loc, words, i + 1),
                        format!("{label} : '{o}' : timer overflow.."),
                    ));
                    None
                }
            }
        };
        let mut consumed = 1;
        match o {
            "check" => opts.check = true,
            "no-check" => opts.check = false,
            "backup" => opts.backup = true,
            "no-backup" => opts.backup = false,
            "disabled" => opts.disabled = true,
            "enabled" => opts.disabled = false,
            "send-proxy" => opts.send_proxy = Some(ProxyProtocol::V1),
            "send-proxy-v2" => opts.send_proxy = Some(ProxyProtocol::V2),
            "no-send-proxy" | "no-send-proxy-v2" => opts.send_proxy = None,
            "inter" | "fastinter" | "downinter" | "slowstart" => {
                let Some(ms) = delay(ctx, i) else {
                    return false;
                };
                match o {
                    "inter" => opts.inter_ms = ms,
                    "fastinter" => opts.fastinter_ms = Some(ms),
                    "downinter" => opts.downinter_ms = Some(ms),
                    _ => opts.slowstart_ms = Some(ms),
                }
                consumed = 2;
            }
            "rise" | "fall" => {
                let n = values::atoi(&v);
                if n <= 0 {
                    return err(ctx, i, format!("'{o}' has to be > 0.."));
                }
                if o == "rise" {
                    opts.rise = n as u32;
                } else {
                    opts.fall = n as u32;
                }
                consumed = 2;
            }
            "weight" => {
                let n = values::atoi(&v);
                if !(0..=256).contains(&n) {
                    return err(
                        ctx,
                        i,
                        format!("weight of server {srv_name} is not within 0 and 256 ({n}).."),
                    );
                }
                opts.weight = n as u32;
                consumed = 2;
            }
            "maxconn" | "maxqueue" | "minconn" => {
                let n = Some(values::atoi(&v).clamp(0, u32::MAX as i64) as u32);
                match o {
                    "maxconn" => opts.maxconn = n,
                    "maxqueue" => opts.maxqueue = n,
                    _ => opts.minconn = n,
                }
                consumed = 2;
            }
            "cookie" => {
                if v.is_empty() {
                    return err(ctx, i, "'cookie' expects <value> as argument.".into());
                }
                opts.cookie = Some(v);
                consumed = 2;
            }
            "port" => {
                let n = values::atoi(&v);
                if !(1..=65535).contains(&n) {
                    return err(ctx, i, format!("invalid port '{v}'"));
                }
                opts.check_port = Some(n as u16);
                consumed = 2;
            }
            "addr" => {
                match v
                    .parse::<std::net::IpAddr>()
                    .ok()
                    .or_else(|| ctx.resolve(&v, None))
                {
                    Some(ip) => opts.check_addr = Some(ip),
                    None => return err(ctx, i, format!("invalid address '{v}'")),
                }
                consumed = 2;
            }
            "init-addr" => {
                let methods: Vec<String> = v
                    .split(',')
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .collect();
                if methods.is_empty() {
                    return err(
                        ctx,
                        i,
                        "'init-addr' expects a comma-separated list of methods.".into(),
                    );
                }
                opts.init_addr = methods;
                consumed = 2;
            }
            "id" => {
                opts.id = Some(values::atoi(&v).max(0) as u32);
                consumed = 2;
            }
            "on-marked-down" => {
                if v != "shutdown-sessions" {
                    return err(
                        ctx,
                        i,
                        "'on-marked-down' expects 'shutdown-sessions' as argument.".into(),
                    );
                }
                opts.on_marked_down_shutdown = true;
                consumed = 2;
            }
            "on-marked-up" => {
                if v != "shutdown-backup-sessions" {
                    return err(
                        ctx,
                        i,
                        "'on-marked-up' expects 'shutdown-backup-sessions' as argument.".into(),
                    );
                }
                opts.on_marked_up_shutdown_backups = true;
                consumed = 2;
            }
            "check-ssl" => opts.check_ssl = true,
            "no-check-ssl" => opts.check_ssl = false,
            "check-sni" => {
                if v.is_empty() {
                    return err(ctx, i, format!("'{o}' : missing SNI."));
                }
                opts.check_sni = Some(v);
                consumed = 2;
            }
            "verify" => {
                // Used by `check-ssl` (server-side `ssl` is refused by name).
                opts.verify_required = match v.as_str() {
                    "none" => Some(false),
                    "required" => Some(true),
                    "" => return err(ctx, i, format!("'{o}' : missing verify method.")),
                    _ => return err(ctx, i, format!("'{o}' : unknown verify method '{v}', only 'none' and 'required' are supported.")),
                };
                consumed = 2;
            }
            _ => {
                ctx.push(unsupported(&at(loc, words, i), &format!("server {o}")));
                return false;
            }
        }
        i += consumed;
    }
    true
}
