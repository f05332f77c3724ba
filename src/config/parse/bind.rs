//! `bind <addr>[,<addr>...] [options]`: addresses and the bind options of the keyword table.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use super::super::address::{self, Address, Host, PortSpec};
use super::super::diag::{Diagnostic, Location, Severity};
use super::super::ir::TlsVersion;
use super::super::keywords::{self, Family, Sections, Support};
use super::super::lexer::Word;
use super::super::loader::unsupported;
use super::super::suggest::best_match;
use super::super::values;
use super::{arg, at, global::tls_version, Ctx, SectionState};

/// A parsed bind line; certificates are loaded at link time (they need `crt-base`).
#[derive(Debug, Clone)]
pub struct BindDraft {
    pub loc: Location,
    pub text: String,
    pub addrs: Vec<Address>,
    pub sockets: Vec<SocketAddr>,
    pub inherited_fds: Vec<i32>,
    pub ssl: bool,
    pub certs: Vec<super::super::ir::Certificate>,
    pub has_crt: bool,
    pub alpn: Vec<String>,
    pub min_ver: Option<TlsVersion>,
    pub max_ver: Option<TlsVersion>,
    pub disabled_versions: Vec<TlsVersion>,
    pub ciphers: Option<String>,
    pub ciphersuites: Option<String>,
    pub curves: Option<String>,
    pub no_tls_tickets: bool,
    pub strict_sni: bool,
    pub v4v6: bool,
    pub v6only: bool,
    pub maxconn: Option<u32>,
    pub backlog: Option<u32>,
    pub name: Option<String>,
}

/// Whether `fd` is an open stream socket (HAProxy checks `fd@N` binds at load time).
fn is_stream_socket(fd: i32) -> bool {
    let mut ty: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: getsockopt writes at most `len` bytes into `ty`, a c_int we own.
    let rc = unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_TYPE,
            (&mut ty as *mut libc::c_int).cast(),
            &mut len,
        )
    };
    rc == 0 && ty == libc::SOCK_STREAM
}

fn proxy_label(ctx: &Ctx) -> &'static str {
    match &ctx.section {
        SectionState::Proxy(p) => match p.kind {
            Sections::LISTEN => "listen",
            Sections::DEFAULTS => "defaults",
            Sections::BACKEND => "backend",
            _ => "frontend",
        },
        _ => "frontend",
    }
}

pub fn parse_bind(ctx: &mut Ctx, words: &[Word], loc: &Location) -> Option<BindDraft> {
    let raw = arg(words, 1);
    if raw.is_empty() {
        ctx.fatal(
            loc,
            "missing-argument",
            "'bind' expects {<path>|[addr1]:port1[-end1]}{,[addr]:port[-end]}... as arguments.",
        );
        return None;
    }
    let env = &ctx.env;
    let addrs = match address::parse_bind_list_with_env(raw, &|n: &str| env.get(n).cloned()) {
        Ok(a) => a,
        Err(e) => {
            ctx.fatal(
                &at(loc, words, 1),
                "bad-address",
                format!("'bind' : {}", e.message()),
            );
            return None;
        }
    };
    let mut sockets = Vec::new();
    let mut inherited_fds = Vec::new();
    for a in &addrs {
        let ip = match &a.host {
            Host::Any4 => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            Host::Any6 => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
            Host::Ip(ip) => *ip,
            Host::Name(n) => match ctx.resolve(n, a.family_hint) {
                Some(ip) => ip,
                None => {
                    ctx.fatal(
                        &at(loc, words, 1),
                        "dns",
                        format!("'bind' : invalid address: '{n}' in '{raw}'"),
                    );
                    return None;
                }
            },
            Host::Fd(fd) => {
                if !is_stream_socket(*fd) {
                    ctx.fatal(&at(loc, words, 1), "bad-address", format!("'bind' : cannot use file descriptor '{fd}' : Socket operation on non-socket."));
                    return None;
                }
                inherited_fds.push(*fd);
                continue;
            }
            Host::Path(_) => {
                ctx.push(unsupported(
                    &at(loc, words, 1),
                    "bind on unix sockets or abstract sockets",
                ));
                return None;
            }
        };
        match a.port {
            PortSpec::Single(p) => sockets.push(SocketAddr::new(ip, p)),
            PortSpec::Range(lo, hi) => {
                for p in lo..=hi {
                    sockets.push(SocketAddr::new(ip, p));
                }
            }
            PortSpec::None | PortSpec::Offset(_) => {
                ctx.fatal(
                    &at(loc, words, 1),
                    "bad-address",
                    format!("'bind' : missing port specification in '{raw}'"),
                );
                return None;
            }
        }
    }
    let mut b = BindDraft {
        loc: loc.clone(),
        text: raw.to_string(),
        addrs,
        sockets,
        inherited_fds,
        ssl: false,
        certs: Vec::new(),
        has_crt: false,
        alpn: Vec::new(),
        min_ver: None,
        max_ver: None,
        disabled_versions: Vec::new(),
        ciphers: None,
        ciphersuites: None,
        curves: None,
        no_tls_tickets: false,
        strict_sni: false,
        v4v6: false,
        v6only: false,
        maxconn: None,
        backlog: None,
        name: None,
    };
    let section = proxy_label(ctx);
    let mut i = 2;
    while i < words.len() {
        let opt = arg(words, i);
        let oloc = at(loc, words, i);
        let prefix = format!("'bind {raw}' in section '{section}'");
        let Some(row) = keywords::lookup(Family::BindOption, opt, Sections::NONE) else {
            let cands = Family::BindOption.rows().iter().map(|k| k.name);
            let msg = match best_match(opt, cands) {
                Some(s) => format!("{prefix}: unknown keyword '{opt}'; did you mean '{s}' maybe ?"),
                None => format!("{prefix}: unknown keyword '{opt}'."),
            };
            ctx.fatal(&oloc, "unknown-keyword", msg);
            return None;
        };
        let value = arg(words, i + 1).to_string();
        let takes_value = matches!(
            opt,
            "crt"
                | "alpn"
                | "ssl-min-ver"
                | "ssl-max-ver"
                | "ciphers"
                | "ciphersuites"
                | "curves"
                | "maxconn"
                | "backlog"
                | "name"
        );
        match row.support {
            Support::Removed(m) => {
                ctx.fatal(&oloc, "removed-keyword", m);
                return None;
            }
            Support::Unsupported => {
                ctx.push(unsupported(&oloc, &format!("bind {opt}")));
                return None;
            }
            Support::Accepted => {
                ctx.push(
                    Diagnostic::parsing(Severity::Notice, "accepted-tuning", oloc.clone(), format!("'bind {opt}' is a tuning option with no effect in haproxide; accepted and ignored."))
                        .ours(),
                );
                // Accepted options may take a value; the table's syntax line says so.
                i += if row.syntax.contains('<') { 2 } else { 1 };
                continue;
            }
            Support::Implemented => {}
        }
        if takes_value && value.is_empty() {
            ctx.fatal(
                &oloc,
                "missing-argument",
                format!("{prefix} : '{opt}' : missing value"),
            );
            return None;
        }
        match opt {
            "ssl" => b.ssl = true,
            "crt" => {
                b.has_crt = true;
                match super::tls::load_crt(&value, ctx.global.crt_base.as_deref()) {
                    Ok(certs) => b.certs.extend(certs),
                    Err(msg) => {
                        ctx.fatal(
                            &at(loc, words, i + 1),
                            "certificate",
                            format!("{prefix} : {msg}"),
                        );
                        return None;
                    }
                }
            }
            "alpn" => {
                b.alpn = value
                    .split(',')
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .collect()
            }
            "ssl-min-ver" | "ssl-max-ver" => {
                let Some(v) = tls_version(&value) else {
                    ctx.fatal(
                        &at(loc, words, i + 1),
                        "bad-value",
                        format!("{prefix} : '{value}' : unknown ssl/tls version"),
                    );
                    return None;
                };
                if opt == "ssl-min-ver" {
                    b.min_ver = Some(v);
                } else {
                    b.max_ver = Some(v);
                }
            }
            "no-sslv3" => b.disabled_versions.push(TlsVersion::Ssl3),
            "no-tlsv10" => b.disabled_versions.push(TlsVersion::Tls10),
            "no-tlsv11" => b.disabled_versions.push(TlsVersion::Tls11),
            "no-tlsv12" => b.disabled_versions.push(TlsVersion::Tls12),
            "no-tlsv13" => b.disabled_versions.push(TlsVersion::Tls13),
            "ciphers" => b.ciphers = Some(value),
            "ciphersuites" => b.ciphersuites = Some(value),
            "curves" => b.curves = Some(value),
            "no-tls-tickets" => b.no_tls_tickets = true,
            "strict-sni" => b.strict_sni = true,
            "v4v6" => b.v4v6 = true,
            "v6only" => b.v6only = true,
            "maxconn" => b.maxconn = Some(values::atoi(&value).clamp(0, u32::MAX as i64) as u32),
            "backlog" => b.backlog = Some(values::atoi(&value).clamp(0, u32::MAX as i64) as u32),
            "name" => b.name = Some(value),
            _ => {
                ctx.push(unsupported(&oloc, &format!("bind {opt}")));
                return None;
            }
        }
        i += if takes_value { 2 } else { 1 };
    }
    if b.min_ver.is_some() && !b.disabled_versions.is_empty() {
        ctx.push(Diagnostic::parsing(
            Severity::Warning,
            "tls-options",
            loc.clone(),
            format!("'bind {raw}' in section '{section}' : no-sslv3/no-tlsv1x are ignored for bind {raw}. Use only 'ssl-min-ver' and 'ssl-max-ver' to fix."),
        ));
    }
    Some(b)
}
