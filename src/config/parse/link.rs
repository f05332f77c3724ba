//! Link-time checks and IR construction, run once every file parsed without fatal error:
//! name uniqueness, backend references, mode compatibility, TLS without certificates,
//! missing timeouts, server address resolution; then the drafts become the immutable IR.

use std::collections::HashMap;
use std::net::SocketAddr;

use super::super::address::{Host, PortSpec};
use super::super::diag::{Diagnostic, Severity};
use super::super::ir::{
    Backend, Bind, BindTls, Config, Frontend, Global, HealthCheck, LogFormatKind, Mode, Origin,
    SectionKind, Server, UseBackend,
};
use super::super::keywords::Sections;
use super::super::loader::unsupported;
use super::{Ctx, ProxyDraft};

/// The process-wide limit HAProxy computes when global `maxconn` is unset
/// (`compute_ideal_maxconn`): about half the file descriptors it may open, since a proxied
/// connection needs two, and never below 100.
fn ideal_maxconn() -> u32 {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct we pass; no other memory is touched.
    let ok = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } == 0;
    let remain = if ok {
        lim.rlim_cur.max(lim.rlim_max).min(i32::MAX as u64) as u32
    } else {
        1024
    };
    (remain.saturating_sub(100) / 2).max(100)
}

fn origin(d: &ProxyDraft) -> Origin {
    Origin {
        file: d.loc.file.clone(),
        line: d.loc.line,
    }
}

fn link_err(ctx: &mut Ctx, d: &ProxyDraft, code: &'static str, msg: String) {
    ctx.push(Diagnostic::plain(Severity::Fatal, code, Some(d.loc.clone()), msg).link());
}

fn link_warn(ctx: &mut Ctx, d: &ProxyDraft, code: &'static str, msg: String) {
    ctx.push(Diagnostic::plain(Severity::Warning, code, Some(d.loc.clone()), msg).link());
}

/// Checks duplicate proxy names; HAProxy does this while parsing each section header, but
/// the drafts are complete only now, so it is done here, in declaration order.
pub fn check_names(ctx: &mut Ctx) {
    let drafts = std::mem::take(&mut ctx.proxies);
    check_names_in(ctx, &drafts);
    ctx.proxies = drafts;
}

fn check_names_in(ctx: &mut Ctx, drafts: &[ProxyDraft]) {
    for (i, d) in drafts.iter().enumerate() {
        for prev in &drafts[..i] {
            if prev.name != d.name {
                continue;
            }
            // A frontend and a backend may share a name; a listen clashes with both.
            let clash =
                d.kind == prev.kind || d.kind == Sections::LISTEN || prev.kind == Sections::LISTEN;
            if clash {
                let prev_label = if prev.kind == d.kind {
                    prev.label()
                } else {
                    "proxy"
                };
                let prev_label = if d.kind == Sections::LISTEN {
                    prev.label()
                } else {
                    prev_label
                };
                let msg = format!(
                    "Parsing [{}:{}]: {} '{}' has the same name as {} '{}' declared at {}:{}.",
                    d.loc.file,
                    d.loc.line,
                    d.label(),
                    d.display_name(),
                    prev_label,
                    prev.display_name(),
                    prev.loc.file,
                    prev.loc.line
                );
                ctx.push(Diagnostic::plain(
                    Severity::Fatal,
                    "duplicate-name",
                    Some(d.loc.clone()),
                    msg,
                ));
                break;
            }
        }
    }
}

/// Runs the link-time checks; with `report_all`, every check runs even after errors.
pub fn link_all(ctx: &mut Ctx, report_all: bool) -> Option<Config> {
    let before = ctx.fatal_count();
    let saved = std::mem::replace(&mut ctx.fatal_offset, if report_all { before } else { 0 });
    let result = link(ctx);
    ctx.fatal_offset = saved;
    result
}

pub fn link(ctx: &mut Ctx) -> Option<Config> {
    let drafts = std::mem::take(&mut ctx.proxies);
    // Userlists: groups named by users must exist (a link-time check in HAProxy).
    for ul in &ctx.userlists.clone() {
        for u in &ul.users {
            if let Some(g) = u.groups.iter().find(|g| !ul.groups.contains(g)) {
                ctx.push(
                    Diagnostic::plain(
                        Severity::Fatal,
                        "unknown-group",
                        None,
                        format!(
                            "userlist '{}': no such group '{g}' specified in user '{}'",
                            ul.name, u.name
                        ),
                    )
                    .link(),
                );
            }
        }
    }
    // Duplicate server names within a backend.
    for d in &drafts {
        for (i, s) in d.servers.iter().enumerate() {
            if let Some(prev) = d.servers[..i].iter().find(|p| p.name == s.name) {
                let msg = format!(
                    "parsing [{}:{}] : {} '{}', another server named '{}' was already defined at line {}, please use distinct names.",
                    s.loc.file,
                    s.loc.line,
                    d.label(),
                    d.display_name(),
                    s.name,
                    prev.loc.line
                );
                ctx.push(
                    Diagnostic::plain(Severity::Fatal, "duplicate-name", Some(s.loc.clone()), msg)
                        .link(),
                );
            }
        }
    }
    if ctx.fatal_count() > ctx.fatal_offset {
        return None;
    }
    let global = std::mem::take(&mut ctx.global);
    // Backend indices: backends and listens, in order.
    let mut be_index: HashMap<String, usize> = HashMap::new();
    let mut be_drafts = Vec::new();
    for d in drafts.iter().filter(|d| d.has_be()) {
        be_index.insert(d.display_name(), be_drafts.len());
        be_drafts.push(d);
    }
    let mut frontends = Vec::new();
    // Pass 1: references between proxies.
    for d in drafts.iter().filter(|d| d.has_fe()) {
        let mut use_backend = Vec::new();
        let mut default_backend = None;
        if d.kind == Sections::LISTEN {
            default_backend = be_index.get(&d.display_name()).copied();
        }
        if let Some((name, _)) = &d.default_backend {
            match be_index.get(name) {
                Some(&i) => {
                    check_mode(ctx, d, be_drafts[i], "as its default backend");
                    default_backend = Some(i);
                }
                None if name.contains("%[") => {
                    ctx.push(unsupported(&d.loc, "dynamic default_backend names").link())
                }
                None => link_err(
                    ctx,
                    d,
                    "unknown-backend",
                    format!(
                        "Proxy '{}': unable to find required default_backend: '{name}'.",
                        d.display_name()
                    ),
                ),
            }
        }
        for (name, cond, loc) in &d.use_backend {
            match be_index.get(name) {
                Some(&i) => {
                    check_mode(ctx, d, be_drafts[i], "in a 'use_backend' rule");
                    use_backend.push(UseBackend {
                        backend: i,
                        cond: cond.clone(),
                    });
                }
                None if name.contains('%') => {
                    ctx.push(unsupported(loc, "dynamic use_backend names").link())
                }
                None => link_err(
                    ctx,
                    d,
                    "unknown-backend",
                    format!(
                        "Proxy '{}': unable to find required use_backend: '{name}'.",
                        d.display_name()
                    ),
                ),
            }
        }
        frontends.push((d, use_backend, default_backend));
    }
    // Stick tables and the tables `stick` rules name.
    let (stick_tables, mut stick_rules) = super::stick::link(ctx, &drafts);
    // Pass 2: per-proxy sanity warnings, in declaration order.
    let global_has_logs = !global.logs.is_empty();
    for d in &drafts {
        let name = d.display_name();
        let label = d.label();
        if d.has_be() && d.mode == Mode::Tcp && d.cookie.is_some() {
            link_warn(
                ctx,
                d,
                "http-option-in-tcp",
                format!("cookie will be ignored for {label} '{name}' (needs 'mode http')."),
            );
        }
        if d.has_fe()
            && d.mode == Mode::Tcp
            && matches!(d.log_format, LogFormatKind::Http | LogFormatKind::HttpClf)
        {
            let at = d.httplog_loc.clone().unwrap_or_else(|| d.loc.clone());
            link_warn(ctx, d, "httplog-in-tcp", format!("parsing [{}:{}] : 'option httplog' not usable with {label} '{name}' (needs 'mode http'). Falling back to 'option tcplog'.", at.file, at.line));
        }
        if d.has_fe() && d.binds.is_empty() && d.kind == Sections::FRONTEND && !d.disabled {
            link_warn(ctx, d, "no-bind", format!("{label} '{name}' has no 'bind' directive. Please declare it as a backend if this was intended."));
        }
        let t = &d.timeouts;
        // HAProxy's condition: a frontend needs `client`; a backend with servers needs
        // `connect`, and `server` unless a TCP backend has `tunnel`.
        let be_incomplete = d.has_be()
            && !d.servers.is_empty()
            && (t.connect.is_none()
                || (t.server.is_none() && (d.mode == Mode::Http || t.tunnel.is_none())));
        if (d.has_fe() && t.client.is_none()) || be_incomplete {
            link_warn(
                ctx,
                d,
                "missing-timeouts",
                format!(
                    "missing timeouts for {label} '{name}'.\n   | While not properly invalid, you will certainly encounter various problems\n   | with such a configuration. To fix this, please ensure that all following\n   | timeouts are set to a non-zero value: 'client', 'connect', 'server'."
                ),
            );
        }
        if d.has_be() {
            check_server_tls(ctx, d, &global);
        }
        let has_log_addr = !d.logs.is_empty() || (d.log_global && global_has_logs);
        if (d.log_format != LogFormatKind::None || d.custom_log_format.is_some())
            && !has_log_addr
            && d.has_fe()
        {
            link_warn(
                ctx,
                d,
                "log-without-target",
                format!("log format ignored for {label} '{name}' since it has no log address."),
            );
        }
        if d.mode == Mode::Tcp && (!d.http_request.is_empty() || !d.http_response.is_empty()) {
            let which = if d.http_request.is_empty() {
                "http-response"
            } else {
                "http-request"
            };
            link_warn(
                ctx,
                d,
                "http-rules-in-tcp",
                format!("'{which}' rules ignored for {label} '{name}' as they require HTTP mode."),
            );
        }
        if d.mode == Mode::Tcp && !d.redirects.is_empty() {
            link_warn(
                ctx,
                d,
                "http-rules-in-tcp",
                format!("'redirect' rules ignored for {label} '{name}' as they require HTTP mode."),
            );
        }
        if d.mode == Mode::Tcp && d.forward_for.is_some() && d.has_be() {
            link_warn(
                ctx,
                d,
                "http-option-in-tcp",
                format!(
                    "'option forwardfor' ignored for {label} '{name}' as it requires HTTP mode."
                ),
            );
        }
        if d.mode == Mode::Tcp && d.has_be() {
            for s in d.servers.iter().filter(|s| s.opts.cookie.is_some()) {
                link_warn(ctx, d, "http-option-in-tcp", format!("{label} '{name}' : ignoring cookie for server '{}' as HTTP mode is disabled.", s.name));
            }
        }
    }
    super::tcp::link_checks(ctx, &drafts);
    // Pass 3: TLS binds need certificates.
    for d in drafts.iter().filter(|d| d.has_fe()) {
        for b in d.binds.iter().filter(|b| b.ssl && !b.has_crt) {
            link_err(
                ctx,
                d,
                "ssl-without-crt",
                format!("Proxy '{}': no SSL certificate specified for bind '{}' at [{}:{}] (use 'crt').", d.display_name(), b.text, b.loc.file, b.loc.line),
            );
        }
    }
    if ctx.fatal_count() > ctx.fatal_offset {
        return None;
    }
    // Pass 4: server addresses (HAProxy resolves them last, after every other check).
    let mut backends = Vec::new();
    let mut dns_failed = false;
    for d in &be_drafts {
        let mut servers = Vec::new();
        for (i, s) in d.servers.iter().enumerate() {
            let label = format!("'server {}/{}'", d.display_name(), s.name);
            let port = match s.addr.port {
                PortSpec::Single(p) => p,
                PortSpec::None => 0,
                PortSpec::Offset(_) | PortSpec::Range(..) => {
                    ctx.push(unsupported(&s.loc, "server port offsets").link());
                    continue;
                }
            };
            let mut disabled = s.opts.disabled;
            let ip = match &s.addr.host {
                Host::Ip(ip) => Some(*ip),
                Host::Any4 | Host::Any6 => {
                    ctx.push(
                        unsupported(&s.loc, "servers without an address (transparent/dispatch)")
                            .link(),
                    );
                    continue;
                }
                Host::Name(n) => match ctx.resolve(n, s.addr.family_hint) {
                    Some(ip) => Some(ip),
                    None => {
                        let tolerate = ctx.opts.ignore_dns_failures
                            || s.opts.init_addr.iter().any(|m| m == "none");
                        if tolerate {
                            ctx.push(
                                Diagnostic::bracketed(Severity::Warning, "dns", s.loc.clone(), format!("{label} : could not resolve address '{n}', disabling server."))
                                    .link(),
                            );
                            disabled = true;
                            None
                        } else {
                            ctx.push(
                                Diagnostic::bracketed(
                                    Severity::Fatal,
                                    "dns",
                                    s.loc.clone(),
                                    format!("{label} : could not resolve address '{n}'."),
                                )
                                .link(),
                            );
                            dns_failed = true;
                            continue;
                        }
                    }
                },
                Host::Path(_) | Host::Fd(_) => {
                    ctx.push(unsupported(&s.loc, "servers on unix or abstract sockets").link());
                    continue;
                }
            };
            let o = &s.opts;
            // srv_minmax_conn_apply(): a higher `minconn` becomes `maxconn`; without
            // `minconn`, the limit is static (`minconn = maxconn`).
            let (minconn, maxconn) = {
                let (min, max) = (o.minconn.unwrap_or(0), o.maxconn.unwrap_or(0));
                if min > max {
                    (min, min)
                } else if max > 0 && min == 0 {
                    (max, max)
                } else {
                    (min, max)
                }
            };
            servers.push(Server {
                name: s.name.clone(),
                origin: Origin {
                    file: s.loc.file.clone(),
                    line: s.loc.line,
                },
                id: o.id.unwrap_or(i as u32 + 1),
                addr: s.addr.clone(),
                resolved: ip.map(|ip| SocketAddr::new(ip, port)),
                check: o.check,
                inter_ms: o.inter_ms,
                fastinter_ms: o.fastinter_ms,
                downinter_ms: o.downinter_ms,
                rise: o.rise,
                fall: o.fall,
                weight: o.weight,
                backup: o.backup,
                maxconn: (maxconn > 0).then_some(maxconn),
                maxqueue: o.maxqueue,
                minconn: (minconn > 0).then_some(minconn),
                cookie: o.cookie.clone(),
                disabled,
                check_port: o.check_port,
                check_addr: o.check_addr,
                slowstart_ms: o.slowstart_ms,
                send_proxy: o.send_proxy,
                on_marked_down_shutdown: o.on_marked_down_shutdown,
                on_marked_up_shutdown_backups: o.on_marked_up_shutdown_backups,
                check_ssl: o.check_ssl,
                check_sni: o.check_sni.clone(),
            });
        }
        backends.push(Backend {
            name: d.display_name(),
            kind: if d.kind == Sections::LISTEN {
                SectionKind::Listen
            } else {
                SectionKind::Backend
            },
            origin: origin(d),
            mode: d.mode,
            disabled: d.disabled,
            timeouts: d.timeouts,
            balance: d.balance.clone(),
            hash_type: d.hash_type,
            servers,
            retries: d.retries,
            redispatch: d.redispatch,
            allbackups: d.allbackups,
            persist: d.persist,
            // Computed below once the frontends are known.
            fullconn: d.fullconn.unwrap_or(0),
            http_conn_mode: d.http_conn_mode,
            http_reuse: d.http_reuse,
            forward_for: d.forward_for.clone(),
            abortonclose: d.abortonclose,
            cookie: d.cookie.clone(),
            stick_rules: stick_rules.remove(&d.display_name()).unwrap_or_default(),
            health: effective_health(ctx, d),
            log_health_checks: d.log_health_checks,
            acls: if d.kind == Sections::BACKEND {
                d.acls.clone()
            } else {
                Vec::new()
            },
            http_request: if d.kind == Sections::BACKEND {
                d.http_request.clone()
            } else {
                Vec::new()
            },
            http_response: if d.kind == Sections::BACKEND {
                d.http_response.clone()
            } else {
                Vec::new()
            },
            errorfiles: d.errorfiles.clone(),
            stats: if d.kind == Sections::BACKEND {
                d.stats.clone()
            } else {
                None
            },
            tcp_request: super::tcp::rules_ir(d),
        });
    }
    if dns_failed {
        ctx.push(
            Diagnostic::plain(
                Severity::Fatal,
                "dns",
                None,
                "Failed to initialize server(s) addr.",
            )
            .link(),
        );
        // HAProxy exits right there, without the "Fatal errors found" trailer.
        ctx.abort = true;
        return None;
    }
    let fe_maxconn = |d: &ProxyDraft| {
        d.maxconn
            .filter(|&m| m > 0)
            .or(global.maxconn)
            .unwrap_or_else(ideal_maxconn)
    };
    default_fullconn(&mut backends, &frontends, &fe_maxconn);
    let frontends = frontends
        .into_iter()
        .map(|(d, use_backend, default_backend)| Frontend {
            name: d.display_name(),
            kind: if d.kind == Sections::LISTEN {
                SectionKind::Listen
            } else {
                SectionKind::Frontend
            },
            origin: origin(d),
            mode: d.mode,
            disabled: d.disabled,
            binds: d.binds.iter().map(|b| to_bind(b, &global)).collect(),
            // A frontend without `maxconn` uses the global one (HAProxy's documented default).
            maxconn: fe_maxconn(d),
            timeouts: d.timeouts,
            http_conn_mode: d.http_conn_mode,
            forward_for: d.forward_for.clone(),
            dontlognull: d.dontlognull,
            log_format: d.log_format,
            custom_log_format: d.custom_log_format.clone(),
            logs: if d.log_global {
                global
                    .logs
                    .iter()
                    .cloned()
                    .chain(d.logs.iter().cloned())
                    .collect()
            } else {
                d.logs.clone()
            },
            acls: d.acls.clone(),
            http_request: d.http_request.clone(),
            http_response: d.http_response.clone(),
            redirects: d.redirects.clone(),
            use_backend,
            default_backend,
            errorfiles: d.errorfiles.clone(),
            stats: d.stats.clone(),
            http_buffer_request: d.http_buffer_request,
            tcp_request: super::tcp::rules_ir(d),
        })
        .collect();
    Some(Config {
        global: Global {
            maxconn: global.maxconn,
            daemon: global.daemon,
            user: global.user.clone(),
            group: global.group.clone(),
            chroot: global.chroot.clone().map(Into::into),
            pidfile: global.pidfile.clone().map(Into::into),
            hard_stop_after_ms: global.hard_stop_after_ms,
            crt_base: global.crt_base.clone().map(Into::into),
            ca_base: global.ca_base.clone().map(Into::into),
            ssl_default_bind: global.bind_tls.clone(),
            ssl_default_server: global.server_tls.clone(),
            ssl_server_verify_required: global.ssl_server_verify_required.unwrap_or(true),
            logs: global.logs.clone(),
            quiet: global.quiet,
            zero_warning: ctx.zero_warning,
            stats_sockets: global.stats_sockets.clone(),
            stats_timeout_ms: global.stats_timeout_ms.unwrap_or(10_000),
        },
        frontends,
        backends,
        userlists: std::mem::take(&mut ctx.userlists),
        stick_tables,
    })
}

/// HAProxy's `proxy_adjust_all_maxconn()`: a backend without `fullconn` (or with 0) gets a
/// tenth, rounded up and at least 1, of the sum of the `maxconn` of the enabled frontends
/// that can route to it: each frontend counts once for its `default_backend` (a `listen`
/// without one: for itself) and once for each other backend its `use_backend` rules name.
fn default_fullconn(
    backends: &mut [Backend],
    frontends: &[(&ProxyDraft, Vec<UseBackend>, Option<usize>)],
    maxconn: &dyn Fn(&ProxyDraft) -> u32,
) {
    let mut tot = vec![0u64; backends.len()];
    for (d, use_backend, default_backend) in frontends {
        if d.disabled {
            continue;
        }
        let m = u64::from(maxconn(d));
        // A listen's own backend stands in for HAProxy's "no default backend".
        let explicit_default = if d.default_backend.is_some() {
            *default_backend
        } else {
            None
        };
        if let Some(t) = default_backend.and_then(|b| tot.get_mut(b)) {
            *t += m;
        }
        let mut seen: Vec<usize> = Vec::new();
        for u in use_backend {
            if Some(u.backend) == explicit_default || seen.contains(&u.backend) {
                continue;
            }
            seen.push(u.backend);
            if let Some(t) = tot.get_mut(u.backend) {
                *t += m;
            }
        }
    }
    for (be, t) in backends.iter_mut().zip(tot) {
        if be.fullconn == 0 {
            be.fullconn = u32::try_from(t.div_ceil(10)).unwrap_or(u32::MAX).max(1);
        }
    }
}

/// What HAProxy checks when it prepares the TLS context of a `check-ssl` server
/// (`ssl_sock_prepare_srv_ctx()`): `verify required` (explicit, or by default with
/// `ssl-server-verify required`) needs a CA file, which haproxide cannot be given (`ca-file`
/// is refused by name), so only `verify none` runs. And what haproxide cannot send: SNI
/// values that are not DNS names.
fn check_server_tls(ctx: &mut Ctx, d: &ProxyDraft, global: &super::global::GlobalDraft) {
    let global_required = global.ssl_server_verify_required.unwrap_or(true);
    for s in d.servers.iter().filter(|s| s.opts.check_ssl) {
        if s.opts.verify_required.unwrap_or(global_required) {
            let why = if global_required {
                "verify is enabled by default but no CA file specified. If you're running on a LAN where you're certain to trust the server's certificate, please set an explicit 'verify none' statement on the 'server' line, or use 'ssl-server-verify none' in the global section to disable server-side verifications by default."
            } else {
                "verify is enabled but no CA file specified."
            };
            let msg = format!(
                "[{}:{}] : 'server {}/{}' : {why}",
                s.loc.file,
                s.loc.line,
                d.display_name(),
                s.name
            );
            ctx.push(
                Diagnostic::plain(
                    Severity::Fatal,
                    "ssl-verify-without-ca",
                    Some(s.loc.clone()),
                    msg,
                )
                .link(),
            );
        }
        if let Some(sni) = &s.opts.check_sni {
            if rustls::pki_types::DnsName::try_from(sni.as_str()).is_err() {
                ctx.push(
                    unsupported(
                        &s.loc,
                        "server check-sni with a value that is not a DNS name",
                    )
                    .link(),
                );
            }
        }
    }
}

/// The check a backend runs: the type `option httpchk|tcp-check` chose, with the
/// `http-check`/`tcp-check` rules merged in (HAProxy accepts both in any order). Rules
/// without their option are ignored with HAProxy's warning.
fn effective_health(ctx: &mut Ctx, d: &ProxyDraft) -> HealthCheck {
    let rules = &d.http_check_rules;
    match &d.health {
        HealthCheck::Http(base) => {
            let mut h = base.clone();
            if let Some(m) = &rules.method {
                h.method = m.clone();
            }
            if let Some(u) = &rules.uri {
                h.uri = u.clone();
            }
            if let Some(v) = &rules.version {
                h.version = v.clone();
            }
            h.headers.extend(rules.headers.iter().cloned());
            h.body = rules.body.clone().or(h.body);
            h.expect = rules.expect.clone().or(h.expect);
            h.disable_on_404 |= rules.disable_on_404;
            if d.tcp_check_rules.is_some() {
                link_warn(ctx, d, "ignored-rules", format!("{} '{}' uses tcp-check rules without 'option tcp-check', so the rules are ignored.", d.label(), d.display_name()));
            }
            HealthCheck::Http(h)
        }
        HealthCheck::TcpCheck(_) => {
            if rules.used {
                link_warn(ctx, d, "ignored-rules", format!("{} '{}' uses http-check rules without 'option httpchk', so the rules are ignored.", d.label(), d.display_name()));
            }
            HealthCheck::TcpCheck(d.tcp_check_rules.clone().unwrap_or_default())
        }
        HealthCheck::Tcp => {
            if rules.used {
                link_warn(ctx, d, "ignored-rules", format!("{} '{}' uses http-check rules without 'option httpchk', so the rules are ignored.", d.label(), d.display_name()));
            }
            if d.tcp_check_rules.is_some() {
                link_warn(ctx, d, "ignored-rules", format!("{} '{}' uses tcp-check rules without 'option tcp-check', so the rules are ignored.", d.label(), d.display_name()));
            }
            HealthCheck::Tcp
        }
    }
}

/// HTTP frontends cannot use TCP backends (the reverse is allowed).
fn check_mode(ctx: &mut Ctx, fe: &ProxyDraft, be: &ProxyDraft, how: &str) {
    if fe.mode == Mode::Http && be.mode == Mode::Tcp {
        let msg = format!(
            "http {} '{}' ({}:{}) tries to use incompatible tcp {} '{}' ({}:{}) {how} (see 'mode').",
            fe.label(),
            fe.display_name(),
            fe.loc.file,
            fe.loc.line,
            be.label(),
            be.display_name(),
            be.loc.file,
            be.loc.line
        );
        link_err(ctx, fe, "mode-mismatch", msg);
    }
}

fn to_bind(b: &super::bind::BindDraft, global: &super::global::GlobalDraft) -> Bind {
    let defaults = &global.bind_tls;
    Bind {
        origin: Origin {
            file: b.loc.file.clone(),
            line: b.loc.line,
        },
        text: b.text.clone(),
        addrs: b.addrs.clone(),
        sockets: b.sockets.clone(),
        inherited_fds: b.inherited_fds.clone(),
        tls: b.ssl.then(|| BindTls {
            certs: b.certs.clone(),
            alpn: b.alpn.clone(),
            min_ver: b.min_ver.or(defaults.min_ver),
            max_ver: b.max_ver.or(defaults.max_ver),
            disabled_versions: b.disabled_versions.clone(),
            ciphers: b.ciphers.clone().or_else(|| defaults.ciphers.clone()),
            ciphersuites: b
                .ciphersuites
                .clone()
                .or_else(|| defaults.ciphersuites.clone()),
            curves: b.curves.clone().or_else(|| defaults.curves.clone()),
            no_tls_tickets: b.no_tls_tickets || defaults.no_tls_tickets,
            strict_sni: b.strict_sni,
        }),
        v4v6: b.v4v6,
        v6only: b.v6only,
        maxconn: b.maxconn,
        backlog: b.backlog,
        name: b.name.clone(),
    }
}
