//! Proxy sections (`defaults`, `frontend`, `backend`, `listen`): the draft they fill and
//! the parsers of their directives, with HAProxy 2.6's capability rules and messages.

use super::super::diag::{Diagnostic, Location, Severity};
use super::super::ir::{
    Acl, Balance, Cookie, CookieMode, ErrorFile, ForwardFor, HashFunction, HashMethod, HashType,
    HealthCheck, HttpCheck, HttpCheckExpect, HttpConnMode, HttpReuse, HttpRule, LogFormatKind,
    LogTarget, Mode, Stats, TcpCheckStep, Timeouts,
};
use super::super::keywords::{self, Family, Keyword, Sections, Support};
use super::super::lexer::Word;
use super::super::loader::{unsupported, with_col};
use super::super::suggest::best_match;
use super::super::values;
use super::{acl, arg, at, bind, invalid_name_char, rules, server, stick, Ctx, SectionState};

/// Everything a proxy section may set, before defaults are resolved into the IR.
#[derive(Debug, Clone)]
pub struct ProxyDraft {
    pub kind: Sections,
    pub name: Option<String>,
    pub loc: Location,
    pub mode: Mode,
    pub disabled: bool,
    pub timeouts: Timeouts,
    pub maxconn: Option<u32>,
    pub fullconn: Option<u32>,
    pub retries: u32,
    pub balance: Balance,
    pub hash_type: HashType,
    pub binds: Vec<bind::BindDraft>,
    pub servers: Vec<server::ServerDraft>,
    pub default_server: server::ServerOptions,
    pub redispatch: bool,
    pub allbackups: bool,
    pub persist: bool,
    pub http_conn_mode: HttpConnMode,
    pub http_reuse: HttpReuse,
    pub forward_for: Option<ForwardFor>,
    pub abortonclose: bool,
    pub dontlognull: bool,
    pub log_format: LogFormatKind,
    pub custom_log_format: Option<String>,
    pub log_global: bool,
    pub logs: Vec<LogTarget>,
    pub cookie: Option<Cookie>,
    pub stick_table: Option<stick::StickTableDraft>,
    pub stick_rules: Vec<stick::StickRuleDraft>,
    /// Check type chosen by `option httpchk|tcp-check` (`Tcp` otherwise), with the request
    /// line `option httpchk` gave; `http-check`/`tcp-check` rules are kept apart and merged at
    /// link time, since HAProxy accepts them in any order.
    pub health: HealthCheck,
    pub http_check_rules: HttpCheckRules,
    pub tcp_check_rules: Option<Vec<TcpCheckStep>>,
    pub log_health_checks: bool,
    pub http_buffer_request: bool,
    pub acls: Vec<Acl>,
    pub http_request: Vec<HttpRule>,
    pub http_response: Vec<HttpRule>,
    pub redirects: Vec<HttpRule>,
    pub use_backend: Vec<(String, Option<super::super::ir::Condition>, Location)>,
    pub default_backend: Option<(String, Location)>,
    pub errorfiles: Vec<ErrorFile>,
    pub stats: Option<Stats>,
    /// Line of the first `use_backend`, for HAProxy's rule-order warnings.
    pub first_use_backend_line: Option<usize>,
    /// Where `option httplog` was set, for the link-time "not usable in tcp mode" warning.
    pub httplog_loc: Option<Location>,
    /// ACL names whose definition was refused as unsupported: references to them are not
    /// reported again as unknown (the configuration is already refused by name).
    pub refused_acls: Vec<String>,
    /// Line of the first `redirect`, for rule-order warnings.
    pub first_redirect_line: Option<usize>,
    /// `tcp-request inspect-delay` in milliseconds (0: unset; inherited from defaults).
    pub tcp_inspect_delay: u32,
    pub tcp_connection: Vec<super::super::ir::TcpRule>,
    pub tcp_content: Vec<super::super::ir::TcpRule>,
}

impl ProxyDraft {
    pub fn new_defaults(name: Option<String>, loc: Location) -> Self {
        ProxyDraft {
            kind: Sections::DEFAULTS,
            name,
            loc,
            mode: Mode::Tcp,
            disabled: false,
            timeouts: Timeouts::default(),
            maxconn: None,
            fullconn: None,
            retries: 3,
            balance: Balance::RoundRobin,
            hash_type: HashType::default(),
            binds: Vec::new(),
            servers: Vec::new(),
            default_server: server::ServerOptions::default(),
            redispatch: false,
            allbackups: false,
            persist: false,
            http_conn_mode: HttpConnMode::KeepAlive,
            http_reuse: HttpReuse::Safe,
            forward_for: None,
            abortonclose: false,
            dontlognull: false,
            log_format: LogFormatKind::None,
            custom_log_format: None,
            log_global: false,
            logs: Vec::new(),
            cookie: None,
            stick_table: None,
            stick_rules: Vec::new(),
            health: HealthCheck::Tcp,
            http_check_rules: HttpCheckRules::default(),
            tcp_check_rules: None,
            log_health_checks: false,
            http_buffer_request: false,
            acls: Vec::new(),
            http_request: Vec::new(),
            http_response: Vec::new(),
            redirects: Vec::new(),
            use_backend: Vec::new(),
            default_backend: None,
            errorfiles: Vec::new(),
            stats: None,
            first_use_backend_line: None,
            httplog_loc: None,
            refused_acls: Vec::new(),
            first_redirect_line: None,
            tcp_inspect_delay: 0,
            tcp_connection: Vec::new(),
            tcp_content: Vec::new(),
        }
    }

    pub fn is_defaults(&self) -> bool {
        self.kind == Sections::DEFAULTS
    }
    pub fn has_fe(&self) -> bool {
        self.kind.intersects(Sections::FE)
    }
    pub fn has_be(&self) -> bool {
        self.kind.intersects(Sections::BE)
    }
    pub fn label(&self) -> &'static str {
        match self.kind {
            Sections::FRONTEND => "frontend",
            Sections::BACKEND => "backend",
            Sections::LISTEN => "proxy",
            _ => "defaults",
        }
    }
    pub fn display_name(&self) -> String {
        self.name.clone().unwrap_or_default()
    }
}

/// What `http-check send|expect|disable-on-404` lines set.
#[derive(Debug, Clone, Default)]
pub struct HttpCheckRules {
    pub used: bool,
    pub method: Option<String>,
    pub uri: Option<String>,
    pub version: Option<String>,
    pub headers: Vec<(String, String)>,
    pub body: Option<String>,
    pub expect: Option<HttpCheckExpect>,
    pub disable_on_404: bool,
}

/// `frontend|backend|listen|defaults <name> [from <defaults>]`.
pub fn start_proxy(ctx: &mut Ctx, kind: Sections, label: &str, words: &[Word], loc: &Location) {
    let name = words.get(1).map(|w| w.text.clone());
    if kind != Sections::DEFAULTS && name.as_deref().is_none_or(str::is_empty) {
        ctx.fatal(
            loc,
            "missing-name",
            format!("'{label}' expects an <id> argument"),
        );
        ctx.section = SectionState::Broken;
        ctx.abort = true;
        return;
    }
    if let Some(n) = name.as_deref() {
        if let Some(c) = invalid_name_char(n).filter(|_| !n.is_empty()) {
            ctx.fatal(
                &at(loc, words, 1),
                "bad-name",
                format!("character '{c}' is not permitted in '{label}' name '{n}'."),
            );
            ctx.section = SectionState::Broken;
            return;
        }
    }
    // Extra words: only `from <defaults>` is allowed; anything else is the 1.x address form.
    let mut from: Option<String> = None;
    if words.len() > 2 {
        if words[2].text == "from" && words.len() == 4 {
            from = Some(words[3].text.clone());
        } else {
            // HAProxy prints this for frontends and listens only, and does not count it as
            // fatal: the section's body lines are what fail ("'listen' or 'defaults' expected").
            if kind != Sections::BACKEND {
                ctx.push(
                    Diagnostic::parsing(
                        Severity::AlertNonFatal,
                        "legacy-address",
                        at(loc, words, 2),
                        "please use the 'bind' keyword for listening addresses.",
                    )
                    .with_help(format!(
                        "move '{}' to a 'bind {}' line inside the section",
                        words[2].text, words[2].text
                    )),
                );
            }
            ctx.section = SectionState::LegacyAddress;
            ctx.section_kind_bits = kind;
            return;
        }
    }
    let base = match &from {
        Some(f) => match ctx.named_defaults.get(f) {
            Some(d) => d.clone(),
            None => {
                ctx.push(Diagnostic::plain(
                    Severity::Fatal,
                    "unknown-defaults",
                    Some(loc.clone()),
                    format!(
                        "parsing [{}:{}] : defaults section '{f}' not found for {label} '{}'.",
                        loc.file,
                        loc.line,
                        name.clone().unwrap_or_default()
                    ),
                ));
                ctx.section = SectionState::Broken;
                ctx.abort = true;
                return;
            }
        },
        None => ctx.defaults.clone(),
    };
    let mut draft = base;
    draft.kind = kind;
    draft.name = name;
    draft.loc = loc.clone();
    // What a defaults section cannot pass on.
    draft.binds.clear();
    draft.servers.clear();
    draft.acls.clear();
    draft.use_backend.clear();
    draft.first_use_backend_line = None;
    if kind == Sections::DEFAULTS {
        draft.default_backend = None;
    }
    ctx.section = SectionState::Proxy(Box::new(draft));
}

fn proxy(ctx: &mut Ctx) -> Option<&mut ProxyDraft> {
    match &mut ctx.section {
        SectionState::Proxy(p) => Some(p),
        _ => None,
    }
}

/// Capability check: returns false (after a warning) when the keyword needs a capability
/// the proxy lacks.
fn needs(ctx: &mut Ctx, loc: &Location, kw: &str, fe: bool, extra: &str) -> bool {
    let Some(p) = proxy(ctx) else { return false };
    let (ok, cap) = if fe {
        (p.has_fe(), "frontend")
    } else {
        (p.has_be(), "backend")
    };
    if ok {
        return true;
    }
    let msg = format!(
        "'{kw}' ignored because {} '{}' has no {cap} capability.{extra}",
        p.label(),
        p.display_name()
    );
    ctx.warn(loc, "capability-ignored", msg);
    false
}

pub fn parse_line(ctx: &mut Ctx, row: &'static Keyword, words: &[Word], loc: &Location) {
    let name = row.name;
    let kw_loc = with_col(loc, &words[0]);
    match name {
        "mode" => {
            let m = match arg(words, 1) {
                "http" => Mode::Http,
                "tcp" => Mode::Tcp,
                "health" => return ctx.fatal(&kw_loc, "removed-keyword", "'mode health' doesn't exist anymore. Please use 'http-request return status 200' instead."),
                other => return ctx.fatal(&at(loc, words, 1), "bad-value", format!("unknown proxy mode '{other}'.")),
            };
            if let Some(p) = proxy(ctx) {
                p.mode = m;
            }
        }
        n if n.starts_with("timeout ") => parse_timeout(ctx, words, loc),
        "maxconn" => {
            if !needs(
                ctx,
                &kw_loc,
                "maxconn",
                true,
                " Maybe you want 'fullconn' instead ?",
            ) {
                return;
            }
            let Some(v) = int_arg(
                ctx,
                words,
                loc,
                "maxconn",
                "'maxconn' expects an integer argument.",
            ) else {
                return;
            };
            if let Some(p) = proxy(ctx) {
                p.maxconn = Some(v);
            }
        }
        "fullconn" => {
            if !needs(
                ctx,
                &kw_loc,
                "fullconn",
                false,
                " Maybe you want 'maxconn' instead ?",
            ) {
                return;
            }
            let Some(v) = int_arg(
                ctx,
                words,
                loc,
                "fullconn",
                "'fullconn' expects an integer argument.",
            ) else {
                return;
            };
            if words.len() > 2 {
                return ctx.fatal(
                    &at(loc, words, 2),
                    "extra-argument",
                    format!(
                        "'fullconn' cannot handle unexpected argument '{}'.",
                        arg(words, 2)
                    ),
                );
            }
            if let Some(p) = proxy(ctx) {
                p.fullconn = Some(v);
            }
        }
        "retries" => {
            if !needs(ctx, &kw_loc, "retries", false, "") {
                return;
            }
            let Some(v) = int_arg(
                ctx,
                words,
                loc,
                "retries",
                "'retries' expects an integer argument (dispatch counts for one).",
            ) else {
                return;
            };
            if let Some(p) = proxy(ctx) {
                p.retries = v;
            }
        }
        "disabled" => {
            if let Some(p) = proxy(ctx) {
                p.disabled = true;
            }
        }
        "enabled" => {
            if let Some(p) = proxy(ctx) {
                p.disabled = false;
            }
        }
        "bind" => {
            if !needs(ctx, &kw_loc, "bind", true, "") {
                return;
            }
            if let Some(b) = bind::parse_bind(ctx, words, loc) {
                if let Some(p) = proxy(ctx) {
                    p.binds.push(b);
                }
            }
        }
        "server" | "default-server" | "server-template" => {
            let allowed = proxy(ctx).is_some_and(|p| p.has_be());
            if !allowed {
                let label = proxy(ctx)
                    .map(|p| (p.label(), p.display_name()))
                    .unwrap_or(("proxy", String::new()));
                let msg = format!("parsing [{}:{}] : '{name}' not allowed because {} '{}' has no backend capability.", loc.file, loc.line, label.0, label.1);
                ctx.push(Diagnostic::bracketed(
                    Severity::Fatal,
                    "capability",
                    kw_loc,
                    msg,
                ));
                return;
            }
            server::parse_server_line(ctx, name, words, loc);
        }
        "balance" => {
            if !needs(ctx, &kw_loc, "balance", false, "") {
                return;
            }
            parse_balance(ctx, words, loc);
        }
        "hash-type" => {
            if !needs(ctx, &kw_loc, "hash-type", false, "") {
                return;
            }
            parse_hash_type(ctx, words, loc);
        }
        "http-reuse" => {
            if !needs(ctx, &kw_loc, "http-reuse", false, "") {
                return;
            }
            let v = match arg(words, 1) {
                "never" => HttpReuse::Never,
                "safe" => HttpReuse::Safe,
                "aggressive" => HttpReuse::Aggressive,
                "always" => HttpReuse::Always,
                _ => {
                    return ctx.fatal(
                        &kw_loc,
                        "bad-value",
                        "'http-reuse' only supports 'never', 'safe', 'aggressive', 'always'.",
                    )
                }
            };
            if let Some(p) = proxy(ctx) {
                p.http_reuse = v;
            }
        }
        "default_backend" => {
            if !needs(ctx, &kw_loc, "default_backend", true, "") {
                return;
            }
            if arg(words, 1).is_empty() {
                return ctx.fatal(
                    &kw_loc,
                    "missing-argument",
                    "'default_backend' expects a backend name.",
                );
            }
            if words.len() > 2 {
                return ctx.fatal(
                    &at(loc, words, 2),
                    "extra-argument",
                    format!(
                        "'default_backend' cannot handle unexpected argument '{}'.",
                        arg(words, 2)
                    ),
                );
            }
            let target = arg(words, 1).to_string();
            if let Some(p) = proxy(ctx) {
                p.default_backend = Some((target, at(loc, words, 1)));
            }
        }
        "use_backend" => {
            if !needs(ctx, &kw_loc, "use_backend", true, "") {
                return;
            }
            if arg(words, 1).is_empty() {
                return ctx.fatal(
                    &kw_loc,
                    "missing-argument",
                    "'use_backend' expects a backend name.",
                );
            }
            let cond = if words.len() > 2 {
                match acl::parse_condition(
                    ctx,
                    words,
                    2,
                    loc,
                    "error detected while parsing switching rule : {}.",
                ) {
                    Some(c) => Some(c),
                    None => return,
                }
            } else {
                None
            };
            let target = arg(words, 1).to_string();
            let line = loc.line;
            if let Some(p) = proxy(ctx) {
                p.use_backend.push((target, cond, at(loc, words, 1)));
                p.first_use_backend_line.get_or_insert(line);
            }
        }
        "acl" => acl::parse_acl_line(ctx, words, loc),
        "http-request" | "http-response" => rules::parse_http_rule(ctx, name, words, loc),
        n if n.starts_with("tcp-request ") => super::tcp::parse_tcp_request(ctx, words, loc),
        "redirect" => rules::parse_redirect_line(ctx, words, loc),
        "option" if matches!(words[0].text.as_str(), "no" | "default") => {
            parse_option(ctx, words, loc, 2, true)
        }
        "option" => parse_option(ctx, words, loc, 1, false),
        "cookie" => {
            if !needs(ctx, &kw_loc, "cookie", false, "") {
                // HAProxy warns and then still validates the arguments.
                if arg(words, 1).is_empty() {
                    ctx.fatal(
                        &kw_loc,
                        "missing-argument",
                        "'cookie' expects <cookie_name> as argument.",
                    );
                }
                return;
            }
            parse_cookie(ctx, words, loc);
        }
        "stick-table" => stick::parse_stick_table(ctx, words, loc),
        "stick" | "stick on" | "stick match" | "stick store-request" => {
            stick::parse_stick(ctx, words, loc)
        }
        "errorfile" => rules::parse_errorfile(ctx, words, loc),
        "log" if words[0].text == "no" => {
            if let Some(p) = proxy(ctx) {
                p.log_global = false;
                p.logs.clear();
            }
        }
        "log" => {
            if let Some(entry) = global::parse_log(ctx, words, loc) {
                if let Some(p) = proxy(ctx) {
                    match entry {
                        global::LogLine::Global => p.log_global = true,
                        global::LogLine::NoLog => {
                            p.log_global = false;
                            p.logs.clear();
                        }
                        global::LogLine::Target(t) => p.logs.push(t),
                    }
                }
            }
        }
        "log-format" => {
            if arg(words, 1).is_empty() {
                return ctx.fatal(
                    &kw_loc,
                    "missing-argument",
                    "log-format expects a string argument.",
                );
            }
            if words.len() > 2 {
                return ctx.fatal(
                    &kw_loc,
                    "extra-argument",
                    "log-format expects only one argument, don't forget to escape spaces!",
                );
            }
            let f = arg(words, 1).to_string();
            if let Some(p) = proxy(ctx) {
                if !p.has_fe() {
                    let pname = p.display_name();
                    return ctx.warn(
                        &kw_loc,
                        "capability-ignored",
                        format!(
                            "backend '{pname}' : 'log-format' directive is ignored in backends."
                        ),
                    );
                }
                // The last of `log-format` and `option httplog|tcplog` wins, as in HAProxy.
                p.custom_log_format = Some(f);
                p.log_format = LogFormatKind::None;
                p.httplog_loc = None;
            }
        }
        n if n.starts_with("stats ") => parse_stats(ctx, words, loc),
        n if n.starts_with("http-check ") => parse_http_check(ctx, words, loc),
        n if n.starts_with("tcp-check ") => parse_tcp_check(ctx, words, loc),
        _ => {
            // An Implemented row without a parser here is a bug in the table: refuse loudly
            // rather than silently ignoring the line.
            ctx.push(unsupported(&kw_loc, name));
        }
    }
}

use super::global;

/// Reads an integer argument with atoi semantics; an empty argument is HAProxy's error.
fn int_arg(
    ctx: &mut Ctx,
    words: &[Word],
    loc: &Location,
    _kw: &str,
    empty_msg: &str,
) -> Option<u32> {
    let a = arg(words, 1);
    if a.is_empty() {
        ctx.fatal(&with_col(loc, &words[0]), "missing-argument", empty_msg);
        return None;
    }
    Some(values::atoi(a).clamp(0, u32::MAX as i64) as u32)
}

fn parse_timeout(ctx: &mut Ctx, words: &[Word], loc: &Location) {
    let kind = arg(words, 1);
    let full = format!("timeout {kind}");
    let kw_loc = with_col(loc, &words[0]);
    const KINDS: &str = "'client', 'server', 'connect', 'check', 'queue', 'http-keep-alive', 'http-request', 'tunnel', 'tarpit', 'client-fin' and 'server-fin'";
    let fe_side = matches!(
        kind,
        "client" | "client-fin" | "http-request" | "http-keep-alive"
    );
    let be_side = matches!(
        kind,
        "server" | "server-fin" | "connect" | "check" | "queue" | "tunnel"
    );
    if !fe_side && !be_side && kind != "tarpit" {
        return ctx.fatal(
            &kw_loc,
            "bad-value",
            format!("'timeout' supports {KINDS} (got '{kind}')"),
        );
    }
    let value = arg(words, 2);
    if value.is_empty() {
        return ctx.fatal(
            &kw_loc,
            "missing-argument",
            format!("'{full}' expects an integer value (in milliseconds)"),
        );
    }
    let ms = match values::parse_duration(value, 1) {
        Ok(d) => {
            if let Some(w) = d.warning {
                ctx.push(Diagnostic::plain(Severity::Warning, "timer-junk", Some(at(loc, words, 2)), w));
            }
            d.ms
        }
        Err(values::DurationError::Overflow) => {
            return ctx.fatal(
                &at(loc, words, 2),
                "bad-value",
                format!("timer overflow in argument '{value}' to '{full}' (maximum value is 2147483647 ms or ~24.8 days)"),
            )
        }
        Err(values::DurationError::UnexpectedChar { ch }) => {
            return ctx.fatal(&at(loc, words, 2), "bad-value", format!("unexpected character '{ch}' in '{full}'"))
        }
        Err(values::DurationError::Underflow) => {
            return ctx.fatal(
                &at(loc, words, 2),
                "bad-value",
                format!("timer underflow in argument '{value}' to '{full}' (minimum non-null value is 1 ms)"),
            )
        }
        Err(values::DurationError::Empty) => {
            return ctx.fatal(&kw_loc, "missing-argument", format!("'{full}' expects an integer value (in milliseconds)"))
        }
    };
    if let Some(extra) = words.get(3) {
        return ctx.fatal(
            &with_col(loc, extra),
            "extra-argument",
            format!(
                "'{full}' : unexpected extra argument '{}' after value '{value}'.",
                extra.text
            ),
        );
    }
    let Some(p) = proxy(ctx) else { return };
    let (label, pname) = (p.label(), p.display_name());
    if fe_side && !p.has_fe() {
        return ctx.warn(
            &kw_loc,
            "capability-ignored",
            format!(
                "'{full}' will be ignored because {label} '{pname}' has no frontend capability"
            ),
        );
    }
    if be_side && !p.has_be() {
        return ctx.warn(
            &kw_loc,
            "capability-ignored",
            format!("'{full}' will be ignored because {label} '{pname}' has no backend capability"),
        );
    }
    let v = if ms == 0 { None } else { Some(ms) };
    let t = &mut p.timeouts;
    match kind {
        "client" => t.client = v,
        "server" => t.server = v,
        "connect" => t.connect = v,
        "check" => t.check = v,
        "queue" => t.queue = v,
        "http-keep-alive" => t.http_keep_alive = v,
        "http-request" => t.http_request = v,
        "tunnel" => t.tunnel = v,
        "tarpit" => t.tarpit = v,
        "client-fin" => t.client_fin = v,
        "server-fin" => t.server_fin = v,
        _ => {}
    }
}

const BALANCE_ERR: &str = "balance only supports 'roundrobin', 'static-rr', 'leastconn', 'source', 'uri', 'url_param', 'hdr(name)' and 'rdp-cookie(name)' options.";

fn parse_balance(ctx: &mut Ctx, words: &[Word], loc: &Location) {
    let algo = arg(words, 1);
    let aloc = at(loc, words, 1);
    if algo.is_empty() {
        return;
    }
    let b = match algo {
        "roundrobin" => Balance::RoundRobin,
        "static-rr" => Balance::StaticRr,
        "leastconn" => Balance::LeastConn,
        "first" => Balance::First,
        "source" => Balance::Source,
        "uri" => {
            let (mut len, mut depth, mut whole, mut path_only) = (None, None, false, false);
            let mut i = 2;
            while i < words.len() {
                match arg(words, i) {
                    "len" | "depth" => {
                        let which = arg(words, i);
                        let v = arg(words, i + 1);
                        let n = values::atoi(v);
                        if v.is_empty() || n <= 0 {
                            return ctx.fatal(&at(loc, words, i), "bad-value", format!("balance uri : '{which}' expects a positive integer (got '{v}')."));
                        }
                        if which == "len" {
                            len = Some(n as u32);
                        } else {
                            depth = Some(n as u32);
                        }
                        i += 2;
                    }
                    "whole" => {
                        whole = true;
                        i += 1;
                    }
                    "path-only" => {
                        path_only = true;
                        i += 1;
                    }
                    other => {
                        return ctx.fatal(
                            &at(loc, words, i),
                            "bad-value",
                            format!("balance uri only accepts parameters 'len', 'depth', 'path-only' and 'whole' (got '{other}')."),
                        )
                    }
                }
            }
            Balance::Uri {
                len,
                depth,
                whole,
                path_only,
            }
        }
        "url_param" => {
            let name = arg(words, 2);
            if name.is_empty() {
                return ctx.fatal(
                    &aloc,
                    "missing-argument",
                    "balance url_param requires an URL parameter name.",
                );
            }
            let check_post = if arg(words, 3) == "check_post" {
                Some(values::atoi(arg(words, 4)).max(0) as u32)
            } else {
                None
            };
            if check_post.is_some() {
                // Looking for the parameter in a POST body is not implemented by the balancer.
                return ctx.push(unsupported(
                    &at(loc, words, 3),
                    "balance url_param check_post",
                ));
            }
            Balance::UrlParam {
                name: name.to_string(),
                check_post,
            }
        }
        "random" => Balance::Random { draws: 2 },
        // `rdp-cookie` hashes `mstshash`; `rdp-cookie(<name>)` ignores what follows `)`.
        a if a.starts_with("rdp-cookie") => {
            let rest = &a[10..];
            let name = match rest.strip_prefix('(') {
                _ if rest.is_empty() => None,
                Some(r) => match r.find(')') {
                    Some(end) if end > 0 => Some(r[..end].to_string()),
                    _ => {
                        return ctx.fatal(
                            &aloc,
                            "bad-value",
                            "balance rdp-cookie : missing cookie name.",
                        )
                    }
                },
                None => {
                    return ctx.fatal(
                        &aloc,
                        "bad-value",
                        "balance rdp-cookie : missing cookie name.",
                    )
                }
            };
            Balance::RdpCookie { name }
        }
        a if a.starts_with("random(") && a.ends_with(')') => {
            let n = values::atoi(&a[7..a.len() - 1]);
            Balance::Random {
                draws: n.max(1) as u32,
            }
        }
        a if a.starts_with("hdr(") && a.ends_with(')') && a.len() > 5 => Balance::Hdr {
            name: a[4..a.len() - 1].to_string(),
            use_domain_only: arg(words, 2) == "use_domain_only",
        },
        "hash" => {
            let expr = arg(words, 2);
            if expr.is_empty() {
                return ctx.fatal(
                    &aloc,
                    "missing-argument",
                    "balance hash requires a sample expression.",
                );
            }
            Balance::Hash {
                expr: expr.to_string(),
            }
        }
        _ => return ctx.fatal(&aloc, "bad-value", BALANCE_ERR),
    };
    if let Some(p) = proxy(ctx) {
        p.balance = b;
    }
}

fn parse_hash_type(ctx: &mut Ctx, words: &[Word], loc: &Location) {
    let method = match arg(words, 1) {
        "map-based" => HashMethod::MapBased,
        "consistent" => HashMethod::Consistent,
        _ => {
            return ctx.fatal(
                &with_col(loc, &words[0]),
                "bad-value",
                "'hash-type' only supports 'consistent' and 'map-based'.",
            )
        }
    };
    let mut ht = HashType {
        method,
        ..HashType::default()
    };
    let mut i = 2;
    if let Some(f) = words.get(2) {
        ht.function =
            match f.text.as_str() {
                "sdbm" => HashFunction::Sdbm,
                "djb2" => HashFunction::Djb2,
                "wt6" => HashFunction::Wt6,
                "crc32" => HashFunction::Crc32,
                _ => return ctx.fatal(
                    &with_col(loc, f),
                    "bad-value",
                    "'hash-type' only supports 'sdbm', 'djb2', 'crc32', or 'wt6' hash functions.",
                ),
            };
        i = 3;
    }
    // HAProxy's default for `consistent` without a function is sdbm *with* avalanche; the IR
    // records the effective setting.
    if method == HashMethod::Consistent && words.len() == 2 {
        ht.avalanche = true;
    }
    if let Some(m) = words.get(i) {
        if m.text != "avalanche" {
            return ctx.fatal(
                &with_col(loc, m),
                "bad-value",
                "'hash-type' only supports 'avalanche' as a modifier for hash functions.",
            );
        }
        ht.avalanche = true;
    }
    if let Some(p) = proxy(ctx) {
        p.hash_type = ht;
    }
}

/// `option X`, `no option X`, `default option X`.
fn parse_option(ctx: &mut Ctx, words: &[Word], loc: &Location, idx: usize, negated: bool) {
    let name = arg(words, idx);
    let oloc = at(loc, words, idx);
    let section = ctx.section_kind();
    let Some(row) = keywords::lookup(Family::ProxyOption, name, section) else {
        let cands = Family::ProxyOption.rows().iter().map(|k| k.name);
        let msg = match best_match(name, cands) {
            Some(s) => format!("unknown option '{name}'; did you mean '{s}' maybe ?"),
            None => format!("unknown option '{name}'."),
        };
        return ctx.fatal(&oloc, "unknown-option", msg);
    };
    match row.support {
        // HAProxy prints removed options without the space before the colon.
        Support::Removed(msg) => return ctx.push(Diagnostic::parsing_tight(Severity::Fatal, "removed-keyword", oloc, msg)),
        Support::Unsupported => return ctx.push(unsupported(&oloc, &format!("option {name}"))),
        Support::Accepted => {
            return ctx.push(
                Diagnostic::parsing(Severity::Notice, "accepted-tuning", oloc, format!("'option {name}' is a tuning keyword with no effect in haproxide; accepted and ignored."))
                    .ours(),
            )
        }
        Support::Implemented => {}
    }
    let Some(p) = proxy(ctx) else { return };
    let (label, pname) = (p.label(), p.display_name());
    let fe_only = matches!(
        name,
        "httplog" | "tcplog" | "dontlognull" | "http-buffer-request"
    );
    let be_only = matches!(
        name,
        "redispatch"
            | "httpchk"
            | "allbackups"
            | "persist"
            | "tcp-check"
            | "log-health-checks"
            | "abortonclose"
    );
    if matches!(name, "httplog" | "tcplog") && !p.has_fe() {
        return ctx.warn(
            &oloc,
            "capability-ignored",
            format!("backend '{pname}' : 'option {name}' directive is ignored in backends."),
        );
    }
    if fe_only && !p.has_fe() {
        return ctx.warn(
            &oloc,
            "capability-ignored",
            format!("'{name}' ignored because {label} '{pname}' has no frontend capability."),
        );
    }
    if be_only && !p.has_be() {
        return ctx.warn(
            &oloc,
            "capability-ignored",
            format!("'{name}' ignored because {label} '{pname}' has no backend capability."),
        );
    }
    let rest = &words[idx + 1..];
    if negated
        && matches!(
            name,
            "httpchk" | "tcp-check" | "forwardfor" | "httplog" | "tcplog"
        )
    {
        return ctx.push(Diagnostic::parsing_tight(
            Severity::Fatal,
            "bad-negation",
            oloc,
            format!("negation/default is not supported for option '{name}'."),
        ));
    }
    let on = !negated;
    match name {
        "httplog" => {
            p.httplog_loc = Some(oloc.clone());
            p.custom_log_format = None;
            match rest.first().map(|w| w.text.as_str()) {
                None => p.log_format = LogFormatKind::Http,
                Some("clf") => p.log_format = LogFormatKind::HttpClf,
                Some(_) => ctx.fatal(
                    &oloc,
                    "bad-value",
                    "keyword 'httplog' only supports option 'clf'.",
                ),
            }
        }
        "tcplog" => {
            p.log_format = LogFormatKind::Tcp;
            p.custom_log_format = None;
        }
        "dontlognull" => p.dontlognull = on,
        "redispatch" => p.redispatch = on,
        "allbackups" => p.allbackups = on,
        "persist" => p.persist = on,
        "abortonclose" => p.abortonclose = on,
        "log-health-checks" => p.log_health_checks = on,
        "http-buffer-request" => p.http_buffer_request = on,
        "http-server-close" => {
            p.http_conn_mode = if on {
                HttpConnMode::ServerClose
            } else {
                HttpConnMode::KeepAlive
            }
        }
        "httpclose" => {
            p.http_conn_mode = if on {
                HttpConnMode::Close
            } else {
                HttpConnMode::KeepAlive
            }
        }
        "http-keep-alive" => p.http_conn_mode = HttpConnMode::KeepAlive,
        "forwardfor" => {
            let mut ff = ForwardFor {
                header: "X-Forwarded-For".into(),
                except: None,
                if_none: false,
            };
            let mut i = 0;
            while i < rest.len() {
                match rest[i].text.as_str() {
                    "except" => {
                        let net = rest.get(i + 1).map(|w| w.text.as_str()).unwrap_or("");
                        match parse_network(net) {
                            Some(n) => ff.except = Some(n),
                            None => return ctx.fatal(&oloc, "bad-value", format!("'option forwardfor except' : invalid network '{net}'.")),
                        }
                        i += 2;
                    }
                    "header" => {
                        let h = rest.get(i + 1).map(|w| w.text.clone()).unwrap_or_default();
                        if h.is_empty() {
                            return ctx.fatal(&oloc, "missing-argument", "'option forwardfor header' requires a header name.");
                        }
                        ff.header = h;
                        i += 2;
                    }
                    "if-none" => {
                        ff.if_none = true;
                        i += 1;
                    }
                    _ => return ctx.fatal(&oloc, "bad-value", "'option forwardfor' only supports optional values: 'except', 'header' and 'if-none'."),
                }
            }
            if let Some(p) = proxy(ctx) {
                p.forward_for = Some(ff);
            }
        }
        "httpchk" => {
            let texts: Vec<&str> = rest.iter().map(|w| w.text.as_str()).collect();
            let (method, uri, version) = match texts.as_slice() {
                [] => ("OPTIONS", "/", "HTTP/1.0"),
                [uri] => ("OPTIONS", *uri, "HTTP/1.0"),
                [m, uri] => (*m, *uri, "HTTP/1.0"),
                [m, uri, v, ..] => (*m, *uri, *v),
            };
            let mut headers = Vec::new();
            let mut version = version.to_string();
            if let Some(i) = version.find("\r\n") {
                // The old trick of hiding headers in the version string still works, with a warning.
                let hidden = version[i + 2..].to_string();
                version.truncate(i);
                for h in hidden.split("\r\n").filter(|h| !h.is_empty()) {
                    if let Some((n, v)) = h.split_once(':') {
                        headers.push((n.trim().to_string(), v.trim().to_string()));
                    }
                }
                ctx.push(Diagnostic::parsing_tight(
                    Severity::Warning,
                    "deprecated",
                    oloc.clone(),
                    "'option httpchk' : hiding headers or body at the end of the version string is deprecated. Please, consider to use 'http-check send' directive instead.",
                ));
            }
            if let Some(p) = proxy(ctx) {
                p.health = HealthCheck::Http(HttpCheck {
                    method: method.to_string(),
                    uri: uri.to_string(),
                    version,
                    headers,
                    body: None,
                    expect: None,
                    disable_on_404: false,
                });
            }
        }
        "tcp-check" => p.health = HealthCheck::TcpCheck(Vec::new()),
        _ => ctx.push(unsupported(&oloc, &format!("option {name}"))),
    }
}

/// `a.b.c.d[/mask]` or an IPv6 network.
pub fn parse_network(s: &str) -> Option<(std::net::IpAddr, u8)> {
    let (ip, mask) = match s.split_once('/') {
        Some((ip, m)) => (ip, Some(m)),
        None => (s, None),
    };
    let ip: std::net::IpAddr = ip.parse().ok()?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    let bits = match mask {
        None => max,
        Some(m) => {
            if let Ok(b) = m.parse::<u8>() {
                b
            } else if let Ok(std::net::IpAddr::V4(v4)) = m.parse::<std::net::IpAddr>() {
                u32::from(v4).count_ones() as u8
            } else {
                return None;
            }
        }
    };
    (bits <= max).then_some((ip, bits))
}

const COOKIE_ERR: &str = "'cookie' supports 'rewrite', 'insert', 'prefix', 'indirect', 'nocache', 'postonly', 'domain', 'maxidle', 'dynamic', 'maxlife' and 'attr' options.";

fn parse_cookie(ctx: &mut Ctx, words: &[Word], loc: &Location) {
    let name = arg(words, 1);
    let kw_loc = with_col(loc, &words[0]);
    if name.is_empty() {
        return ctx.fatal(
            &kw_loc,
            "missing-argument",
            "'cookie' expects <cookie_name> as argument.",
        );
    }
    let mut c = Cookie {
        name: name.to_string(),
        mode: CookieMode::Passive,
        indirect: false,
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
    };
    // HAProxy keeps the mode keywords as flags and checks their combinations at the end.
    let (mut rewrite, mut insert, mut prefix) = (false, false, false);
    let tight = |ctx: &mut Ctx, at: Location, msg: String| {
        ctx.push(Diagnostic::parsing_tight(
            Severity::Fatal,
            "bad-value",
            at,
            msg,
        ))
    };
    let mut i = 2;
    while i < words.len() {
        let w = arg(words, i);
        let wloc = at(loc, words, i);
        match w {
            "rewrite" => rewrite = true,
            "insert" => insert = true,
            "prefix" => prefix = true,
            "indirect" => c.indirect = true,
            "nocache" => c.nocache = true,
            "postonly" => c.postonly = true,
            "preserve" => c.preserve = true,
            "httponly" => c.httponly = true,
            "secure" => c.secure = true,
            "dynamic" => c.dynamic = true,
            "domain" => {
                let v = arg(words, i + 1);
                if v.is_empty() {
                    return tight(ctx, wloc, format!("'{w}' expects <domain> as argument."));
                }
                if !v.contains('.') {
                    let msg = format!("domain '{v}' contains no embedded dot, this configuration may not work properly (see RFC6265#5.2.3).");
                    ctx.push(Diagnostic::parsing_tight(
                        Severity::Warning,
                        "cookie-domain",
                        at(loc, words, i + 1),
                        msg,
                    ));
                }
                if let Some(bad) = v
                    .chars()
                    .find(|ch| !(ch.is_ascii_alphanumeric() || matches!(ch, '.' | '_' | '-')))
                {
                    return tight(
                        ctx,
                        at(loc, words, i + 1),
                        format!("character '{bad}' is not permitted in domain name '{v}'."),
                    );
                }
                c.domains.push(v.to_string());
                i += 1;
            }
            "maxidle" | "maxlife" => {
                let v = arg(words, i + 1);
                if v.is_empty() {
                    let what = if w == "maxidle" {
                        "idletime"
                    } else {
                        "lifetime"
                    };
                    return tight(
                        ctx,
                        wloc,
                        format!("'{w}' expects <{what}> in seconds as argument."),
                    );
                }
                let vloc = at(loc, words, i + 1);
                let secs = match values::parse_time_in_unit(v, 1000) {
                    Ok((secs, warning)) => {
                        if let Some(warn) = warning {
                            ctx.push(Diagnostic::plain(
                                Severity::Warning,
                                "timer-junk",
                                Some(vloc.clone()),
                                warn,
                            ));
                        }
                        secs
                    }
                    Err(values::DurationError::Overflow) => {
                        return tight(ctx, vloc, format!("timer overflow in argument <{v}> to <{w}>, maximum value is 2147483647 s (~68 years)."));
                    }
                    Err(values::DurationError::Underflow) => {
                        return tight(ctx, vloc, format!("timer underflow in argument <{v}> to <{w}>, minimum non-null value is 1 s."));
                    }
                    Err(values::DurationError::UnexpectedChar { ch }) => {
                        return tight(
                            ctx,
                            vloc,
                            format!("unexpected character '{ch}' in argument to <{w}>."),
                        );
                    }
                    Err(values::DurationError::Empty) => {
                        return tight(
                            ctx,
                            wloc,
                            format!("'{w}' expects <{w}> in seconds as argument."),
                        );
                    }
                };
                let secs = (secs > 0).then_some(secs);
                if w == "maxidle" {
                    c.maxidle_s = secs;
                } else {
                    c.maxlife_s = secs;
                }
                i += 1;
            }
            "attr" => {
                let v = arg(words, i + 1);
                if v.is_empty() {
                    return tight(ctx, wloc, format!("'{w}' expects <value> as argument."));
                }
                if let Some(b) = v.bytes().find(|b| b.is_ascii_control() || *b == b';') {
                    return tight(
                        ctx,
                        at(loc, words, i + 1),
                        format!("character '%x{b:02X}' is not permitted in attribute value."),
                    );
                }
                c.attrs.push(v.to_string());
                i += 1;
            }
            _ => return ctx.fatal(&wloc, "bad-value", COOKIE_ERR),
        }
        i += 1;
    }
    let mut ok = true;
    if rewrite && c.indirect {
        ctx.fatal(
            &kw_loc,
            "bad-value",
            "cookie 'rewrite' and 'indirect' modes are incompatible.",
        );
        ok = false;
    }
    if [rewrite, insert, prefix].iter().filter(|m| **m).count() > 1 {
        ctx.fatal(
            &kw_loc,
            "bad-value",
            "cookie 'rewrite', 'insert' and 'prefix' modes are incompatible.",
        );
        ok = false;
    }
    if c.preserve && !insert && !c.indirect {
        ctx.fatal(
            &kw_loc,
            "bad-value",
            "cookie 'preserve' requires at least 'insert' or 'indirect'.",
        );
        ok = false;
    }
    if !ok {
        return;
    }
    c.mode = if insert {
        CookieMode::Insert
    } else if rewrite {
        CookieMode::Rewrite
    } else if prefix {
        CookieMode::Prefix
    } else {
        CookieMode::Passive
    };
    if c.dynamic {
        return ctx.push(unsupported(&kw_loc, "cookie dynamic"));
    }
    if let Some(p) = proxy(ctx) {
        p.cookie = Some(c);
    }
}

fn parse_stats(ctx: &mut Ctx, words: &[Word], loc: &Location) {
    let sub = arg(words, 1);
    let kw_loc = with_col(loc, &words[0]);
    let Some(p) = proxy(ctx) else { return };
    let stats = p.stats.get_or_insert_with(|| Stats {
        uri: "/haproxy?stats".into(),
        ..Stats::default()
    });
    match sub {
        "enable" => {}
        "uri" => {
            let v = arg(words, 2);
            if v.is_empty() {
                return ctx.fatal(&kw_loc, "missing-argument", "'uri' needs an URI prefix.");
            }
            stats.uri = v.to_string();
        }
        "realm" => {
            let v = arg(words, 2);
            if v.is_empty() {
                return ctx.fatal(&kw_loc, "missing-argument", "'realm' needs an realm name.");
            }
            stats.realm = Some(v.to_string());
        }
        "auth" => {
            let v = arg(words, 2);
            if v.is_empty() {
                return ctx.fatal(
                    &kw_loc,
                    "missing-argument",
                    "'auth' needs a user:password account.",
                );
            }
            let (u, pw) = v.split_once(':').unwrap_or((v, ""));
            stats.auth.push((u.to_string(), pw.to_string()));
        }
        "refresh" => match values::parse_duration(arg(words, 2), 1000) {
            Ok(d) => stats.refresh_ms = Some(d.ms),
            Err(_) => ctx.fatal(
                &kw_loc,
                "bad-value",
                "'refresh' needs a positive interval in seconds.",
            ),
        },
        "hide-version" => stats.hide_version = true,
        _ => {}
    }
}

fn parse_http_check(ctx: &mut Ctx, words: &[Word], loc: &Location) {
    let sub = arg(words, 1);
    let kw_loc = with_col(loc, &words[0]);
    let Some(p) = proxy(ctx) else { return };
    let mut rules = p.http_check_rules.clone();
    rules.used = true;
    match sub {
        "send" => {
            // HAProxy chains several send/expect pairs; haproxide runs one of each.
            if rules.method.is_some()
                || rules.uri.is_some()
                || rules.version.is_some()
                || !rules.headers.is_empty()
                || rules.body.is_some()
            {
                return ctx.push(unsupported(&kw_loc, "http-check send (more than one)"));
            }
            let mut i = 2;
            while i < words.len() {
                let v = arg(words, i + 1).to_string();
                match arg(words, i) {
                    "meth" => rules.method = Some(v),
                    "uri" => rules.uri = Some(v),
                    "ver" => rules.version = Some(v),
                    "hdr" => {
                        let value = arg(words, i + 2).to_string();
                        if value.contains('%') {
                            // A log-format value in HAProxy; sent verbatim here.
                            return ctx.push(unsupported(&at(loc, words, i), "http-check send hdr with a log-format value"));
                        }
                        rules.headers.push((v, value));
                        i += 1;
                    }
                    "body" => rules.body = Some(v),
                    // A comment only labels the step in HAProxy's logs.
                    "comment" => {}
                    "uri-lf" | "body-lf" => return ctx.push(unsupported(&at(loc, words, i), &format!("http-check send {}", arg(words, i)))),
                    other => {
                        return ctx.fatal(
                            &at(loc, words, i),
                            "bad-value",
                            format!("'http-check send' : unknown parameter '{other}', expects 'meth', 'uri', 'uri-lf', 'ver', 'hdr', 'body' or 'body-lf'."),
                        )
                    }
                }
                i += 2;
            }
        }
        "expect" => {
            if rules.expect.is_some() {
                return ctx.push(unsupported(&kw_loc, "http-check expect (more than one)"));
            }
            let mut i = 2;
            let negate = arg(words, i) == "!";
            if negate {
                i += 1;
            }
            let kind = match arg(words, i) {
                "status" => super::super::ir::ExpectKind::Status,
                "string" => super::super::ir::ExpectKind::String,
                // rstatus/rstring need regular expressions; hdr/fhdr need header rules.
                other => {
                    return ctx.push(unsupported(
                        &at(loc, words, i),
                        &format!("http-check expect {other}"),
                    ));
                }
            };
            let pattern = arg(words, i + 1);
            if pattern.is_empty() {
                return ctx.fatal(
                    &kw_loc,
                    "missing-argument",
                    format!(
                        "'http-check expect' : '{}' expects <pattern> as argument.",
                        arg(words, i)
                    ),
                );
            }
            if kind == super::super::ir::ExpectKind::Status && !valid_status_list(pattern) {
                return ctx.fatal(
                    &at(loc, words, i + 1),
                    "bad-value",
                    format!("'http-check expect' : invalid status list '{pattern}'."),
                );
            }
            if let Some(extra) = words.get(i + 2) {
                // min-recv, on-success, on-error, status-code, tout-status, comment...
                return ctx.push(unsupported(
                    &with_col(loc, extra),
                    &format!("http-check expect {}", extra.text),
                ));
            }
            rules.expect = Some(HttpCheckExpect {
                negate,
                kind,
                pattern: pattern.to_string(),
            });
        }
        "disable-on-404" => rules.disable_on_404 = true,
        other => return ctx.push(unsupported(&kw_loc, &format!("http-check {other}"))),
    }
    if let Some(p) = proxy(ctx) {
        p.http_check_rules = rules;
    }
}

/// `200`, `200,300-399`: HAProxy's status lists for `http-check expect status`.
fn valid_status_list(s: &str) -> bool {
    s.split(',').all(|part| {
        let mut bounds = part.splitn(2, '-');
        let ok = |b: Option<&str>| {
            b.is_some_and(|b| !b.is_empty() && b.bytes().all(|c| c.is_ascii_digit()))
        };
        match (bounds.next(), bounds.next()) {
            (a, None) => ok(a),
            (a, b) => ok(a) && ok(b),
        }
    })
}

fn parse_tcp_check(ctx: &mut Ctx, words: &[Word], loc: &Location) {
    let sub = arg(words, 1);
    let step = match sub {
        "connect" => {
            let mut port = None;
            let ssl = false;
            let mut send_proxy = false;
            let mut i = 2;
            while i < words.len() {
                match arg(words, i) {
                    "port" => {
                        port = Some(values::atoi(arg(words, i + 1)).clamp(0, 65535) as u16);
                        i += 1;
                    }
                    // No TLS towards servers yet.
                    "ssl" => {
                        return ctx.push(unsupported(&at(loc, words, i), "tcp-check connect ssl"))
                    }
                    "send-proxy" => send_proxy = true,
                    other => {
                        return ctx.push(unsupported(
                            &at(loc, words, i),
                            &format!("tcp-check connect {other}"),
                        ))
                    }
                }
                i += 1;
            }
            TcpCheckStep::Connect {
                port,
                ssl,
                send_proxy,
            }
        }
        "send" => TcpCheckStep::Send(arg(words, 2).as_bytes().to_vec()),
        "send-lf" => return ctx.push(unsupported(&with_col(loc, &words[0]), "tcp-check send-lf")),
        "expect" => {
            let mut i = 2;
            let negate = arg(words, i) == "!";
            if negate {
                i += 1;
            }
            let kind = match arg(words, i) {
                "string" => super::super::ir::ExpectKind::String,
                "binary" => super::super::ir::ExpectKind::Binary,
                other => {
                    return ctx.push(unsupported(
                        &at(loc, words, i),
                        &format!("tcp-check expect {other}"),
                    ))
                }
            };
            let pattern = arg(words, i + 1);
            if kind == super::super::ir::ExpectKind::Binary
                && (!pattern.len().is_multiple_of(2)
                    || !pattern.bytes().all(|b| b.is_ascii_hexdigit()))
            {
                return ctx.fatal(
                    &at(loc, words, i + 1),
                    "bad-value",
                    format!("'tcp-check expect binary' : invalid hex string '{pattern}'."),
                );
            }
            if let Some(extra) = words.get(i + 2) {
                return ctx.push(unsupported(
                    &with_col(loc, extra),
                    &format!("tcp-check expect {}", extra.text),
                ));
            }
            TcpCheckStep::Expect(HttpCheckExpect {
                negate,
                kind,
                pattern: pattern.to_string(),
            })
        }
        "comment" => TcpCheckStep::Comment(arg(words, 2).to_string()),
        other => {
            return ctx.push(unsupported(
                &with_col(loc, &words[0]),
                &format!("tcp-check {other}"),
            ))
        }
    };
    let Some(p) = proxy(ctx) else { return };
    p.tcp_check_rules.get_or_insert_with(Vec::new).push(step);
}
