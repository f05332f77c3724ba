//! `tcp-request inspect-delay|connection|content` lines (manual 4.2), with HAProxy 2.6's
//! messages (`tcp_parse_tcp_req()` in tcp_rules.c) and its rule-order and "will never match"
//! warnings. Only the `accept` and `reject` actions run; HAProxy's other actions are
//! refused by name, and `tcp-request session` is an unsupported row of its own.

use super::super::diag::{Diagnostic, Location, Severity};
use super::super::ir::{Acl, Condition, Mode, Origin, TcpAction, TcpRequest, TcpRule};
use super::super::lexer::Word;
use super::super::loader::{unsupported, with_col};
use super::super::suggest::best_match;
use super::super::values;
use super::{acl, arg, at, Ctx, ProxyDraft, SectionState};

/// HAProxy 2.6.12's action list for `tcp-request content`, as its error message prints it.
const CONTENT_ACTIONS: &str = "'accept', 'reject', 'capture', 'expect-proxy', 'expect-netscaler-cip', 'track-sc0' ... 'track-sc2', 'ot-group', 'set-log-level', 'set-nice', 'switch-mode', 'use-service', 'sc-inc-gpc(*)', 'sc-inc-gpc0(*)', 'sc-inc-gpc1(*)', 'sc-set-gpt(*)', 'sc-set-gpt0(*)', 'send-spoe-group', 'do-resolve(*)', 'set-var-fmt(*)', 'set-var(*)', 'unset-var(*)', 'set-src', 'set-src-port', 'set-dst', 'set-dst-port', 'set-mark', 'set-tos', 'silent-drop', 'set-priority-class', 'set-priority-offset'";

/// The same for `tcp-request connection`.
const CONNECTION_ACTIONS: &str = "'accept', 'reject', 'capture', 'expect-proxy', 'expect-netscaler-cip', 'track-sc0' ... 'track-sc2', 'sc-inc-gpc(*)', 'sc-inc-gpc0(*)', 'sc-inc-gpc1(*)', 'sc-set-gpt(*)', 'sc-set-gpt0(*)', 'set-var-fmt(*)', 'set-var(*)', 'unset-var(*)', 'set-dst', 'set-dst-port', 'set-mark', 'set-src', 'set-src-port', 'set-tos', 'silent-drop'";

/// Where a rule's condition is evaluated (HAProxy's sample check places).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Place {
    /// `tcp-request connection`: layer-4 information only.
    Connection,
    /// `tcp-request content` in a frontend: plus TLS facts, the payload and HTTP.
    FrontContent,
    /// `tcp-request content` in a backend: everything above plus backend facts.
    BackContent,
}

impl Place {
    fn name(self) -> &'static str {
        match self {
            Place::Connection => "frontend tcp-request connection rule",
            Place::FrontContent => "frontend tcp-request content rule",
            Place::BackContent => "backend tcp-request content rule",
        }
    }
}

/// The kind of information an implemented fetch reads (HAProxy's `SMP_USE_*` classes,
/// grouped by where they become available).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Src {
    /// Constants, internal state, listener, frontend, client addresses: available anywhere.
    Any,
    /// The client's TLS session (`ssl_fc*`).
    L5,
    /// The request buffer (`req.len`, `req.payload`, `req.ssl_sni`...).
    L6,
    /// The HTTP request.
    Http,
}

fn fetch_src(kw: &str) -> Src {
    let base = [
        "_beg", "_end", "_sub", "_reg", "_dom", "_dir", "_len", "_cnt",
    ]
    .iter()
    .find_map(|s| kw.strip_suffix(s))
    .unwrap_or(kw);
    match base {
        "ssl_fc" | "ssl_fc_sni" => Src::L5,
        "req.len" | "req_len" | "req.payload" | "req.payload_lv" | "payload" | "payload_lv"
        | "req.ssl_hello_type" | "req_ssl_hello_type" | "req.ssl_ver" | "req_ssl_ver"
        | "req.ssl_sni" | "req_ssl_sni" | "req.ssl_alpn" | "req.ssl_ec_ext" | "req.ssl_st_ext"
        | "req.rdp_cookie" | "req_rdp_cookie" | "rdp_cookie" => Src::L6,
        "hdr" | "req.hdr" | "path" | "url" | "base" | "query" | "method" | "http_auth"
        | "http_auth_group" | "cook" | "req.cook" | "url_param" | "urlp" | "req.proto_http"
        | "req_proto_http" => Src::Http,
        _ => {
            // `req.rdp_cookie_cnt`, `req.hdr_cnt`... are stripped above; a few families keep
            // their own prefix.
            if base.starts_with("req.ssl_")
                || base.starts_with("req.rdp_cookie")
                || base.starts_with("req_rdp_cookie")
            {
                Src::L6
            } else {
                Src::Any
            }
        }
    }
}

fn usable(src: Src, places: &[Place]) -> bool {
    places.iter().any(|p| match p {
        Place::Connection => src == Src::Any,
        Place::FrontContent | Place::BackContent => true,
    })
}

/// HAProxy's `acl_cond_conflicts()` then `acl_cond_kw_conflicts()`: the warning for the
/// first ACL none of whose keywords can work here, else for the first such keyword.
fn conflicts(acls: &[Acl], cond: &Condition, places: &[Place], rule: &str) -> Option<String> {
    let place_name = places.first().map_or("", |p| p.name());
    let terms = || cond.any_of.iter().flatten().filter_map(|t| acls.get(t.acl));
    for a in terms() {
        if !a
            .alternatives
            .iter()
            .any(|e| usable(fetch_src(&e.fetch.fetch), places))
        {
            return Some(match &a.name {
                Some(n) => format!("acl '{n}' will never match in '{rule}' because it only involves keywords that are incompatible with '{place_name}'"),
                None => format!(
                    "anonymous acl will never match in '{rule}' because it uses keyword '{}' which is incompatible with '{place_name}'",
                    a.alternatives.first().map_or("", |e| e.fetch.fetch.as_str())
                ),
            });
        }
    }
    for a in terms() {
        if let Some(e) = a
            .alternatives
            .iter()
            .find(|e| !usable(fetch_src(&e.fetch.fetch), places))
        {
            let kw = &e.fetch.fetch;
            return Some(match &a.name {
                Some(n) => format!("acl '{n}' involves keyword '{kw}' which is incompatible with '{place_name}'"),
                None => format!("anonymous acl involves keyword '{kw}' which is incompatible with '{place_name}'"),
            });
        }
    }
    None
}

fn draft(ctx: &mut Ctx) -> Option<&mut ProxyDraft> {
    match &mut ctx.section {
        SectionState::Proxy(p) => Some(p),
        _ => None,
    }
}

/// `tcp-request ...` in a proxy section.
pub fn parse_tcp_request(ctx: &mut Ctx, words: &[Word], loc: &Location) {
    let Some(p) = draft(ctx) else { return };
    let (label, pname) = (p.label(), p.display_name());
    let defaults = p.is_defaults();
    let anonymous_defaults = defaults && p.name.as_deref().is_none_or(str::is_empty);
    let (has_fe, has_be) = (p.has_fe(), p.has_be());
    let kw_loc = with_col(loc, &words[0]);
    // HAProxy names the proxy as "defaults section" in these two messages only.
    let where_ = if defaults {
        "defaults section".to_string()
    } else {
        format!("{label} '{pname}'")
    };
    let sub = arg(words, 1);
    if sub.is_empty() {
        return ctx.fatal(
            &kw_loc,
            "missing-argument",
            format!("missing argument for 'tcp-request' in {where_}"),
        );
    }
    let sloc = at(loc, words, 1);
    match sub {
        "inspect-delay" => {
            if anonymous_defaults {
                return ctx.fatal(
                    &sloc,
                    "not-in-defaults",
                    "tcp-request inspect-delay is not allowed in anonymous 'defaults' sections",
                );
            }
            let value = arg(words, 2);
            let base = format!("'tcp-request inspect-delay' expects a positive delay in milliseconds, in {label} '{pname}'");
            let vloc = at(loc, words, 2);
            let ms = match values::parse_duration(value, 1) {
                Ok(d) => {
                    if let Some(w) = d.warning {
                        ctx.push(Diagnostic::plain(Severity::Warning, "timer-junk", Some(vloc.clone()), w));
                    }
                    d.ms
                }
                Err(values::DurationError::Empty) => return ctx.fatal(&sloc, "missing-argument", base),
                Err(values::DurationError::Overflow) => {
                    return ctx.fatal(&vloc, "bad-value", format!("{base} (timer overflow in '{value}', maximum value is 2147483647 ms or ~24.8 days)"))
                }
                Err(values::DurationError::Underflow) => {
                    return ctx.fatal(&vloc, "bad-value", format!("{base} (timer underflow in '{value}', minimum non-null value is 1 ms)"))
                }
                Err(values::DurationError::UnexpectedChar { ch }) => {
                    return ctx.fatal(&vloc, "bad-value", format!("{base} (unexpected character '{ch}')"))
                }
            };
            let Some(p) = draft(ctx) else { return };
            if p.tcp_inspect_delay != 0 {
                return ctx.warn(&sloc, "duplicate", format!("ignoring tcp-request inspect-delay (was already defined) in {label} '{pname}'"));
            }
            p.tcp_inspect_delay = ms;
        }
        "content" | "connection" => {
            if sub == "connection" && !has_fe {
                return ctx.fatal(&sloc, "capability", format!("tcp-request connection is not allowed because {label} {pname} is not a frontend"));
            }
            if anonymous_defaults {
                return ctx.fatal(
                    &sloc,
                    "not-in-defaults",
                    format!("tcp-request {sub} is not allowed in anonymous 'defaults' sections"),
                );
            }
            let action = arg(words, 2);
            let aloc = at(loc, words, 2);
            let act = match action {
                "accept" => TcpAction::Accept,
                "reject" => TcpAction::Reject,
                _ => {
                    let list = if sub == "content" {
                        CONTENT_ACTIONS
                    } else {
                        CONNECTION_ACTIONS
                    };
                    if !action.is_empty() && known_action(list, action) {
                        return ctx.push(unsupported(
                            &aloc,
                            &format!(
                                "tcp-request {sub} {}",
                                action.split('(').next().unwrap_or(action)
                            ),
                        ));
                    }
                    let extra = [
                        "accept",
                        "reject",
                        "capture",
                        "track-sc",
                        "expect-proxy",
                        "expect-netscaler-cip",
                    ];
                    let names = list
                        .split(", ")
                        .map(|n| n.trim_matches('\'').trim_end_matches("(*)"))
                        .filter(|n| !n.starts_with("track-sc"));
                    let cands: Vec<&str> = names.chain(extra).collect();
                    let best = if action.is_empty() {
                        None
                    } else {
                        best_match(action, cands)
                    };
                    let hint = best
                        .map(|b| format!(" Did you mean '{b}' maybe ?"))
                        .unwrap_or_default();
                    let msg = format!("'tcp-request {sub}' expects {list} in {label} '{pname}' (got '{action}').{hint}\n");
                    return ctx.fatal(&aloc, "unknown-action", msg);
                }
            };
            if defaults {
                return ctx.push(unsupported(
                    &sloc,
                    &format!("tcp-request {sub} in a defaults section"),
                ));
            }
            let cond = match words.get(3).map(|w| w.text.as_str()) {
                None | Some("") => None,
                Some("if") | Some("unless") => {
                    let what = format!("'tcp-request {sub} {action}' : error detected in {label} '{pname}' while parsing '{}' condition : {{}}", arg(words, 3));
                    match acl::parse_condition(ctx, words, 3, loc, &what) {
                        Some(c) => Some(c),
                        None => return,
                    }
                }
                Some(other) => {
                    return ctx.fatal(
                        &at(loc, words, 3),
                        "bad-condition",
                        format!("'tcp-request {sub} {action}' only accepts 'if' or 'unless', in {label} '{pname}' (got '{other}')"),
                    )
                }
            };
            let places: Vec<Place> = if sub == "connection" {
                vec![Place::Connection]
            } else {
                let mut v = Vec::new();
                if has_fe {
                    v.push(Place::FrontContent);
                }
                if has_be {
                    v.push(Place::BackContent);
                }
                v
            };
            let Some(p) = draft(ctx) else { return };
            let conflict = cond
                .as_ref()
                .and_then(|c| conflicts(&p.acls, c, &places, &format!("tcp-request {sub}")));
            // HAProxy's warnif_misplaced_tcp_conn()/_cont(): the first rule kind that is
            // processed later but was written before.
            let after = if sub == "connection" && !p.tcp_content.is_empty() {
                Some("a 'tcp-request content'")
            } else if !p.http_request.is_empty() {
                Some("an 'http-request'")
            } else if !p.redirects.is_empty() {
                Some("a 'redirect'")
            } else if !p.use_backend.is_empty() {
                Some("a 'use_backend'")
            } else {
                None
            };
            let rule = TcpRule {
                action: act,
                cond,
                origin: Origin {
                    file: loc.file.clone(),
                    line: loc.line,
                },
            };
            if sub == "connection" {
                p.tcp_connection.push(rule);
            } else {
                p.tcp_content.push(rule);
            }
            if let Some(a) = after {
                ctx.warn(loc, "rule-order", format!("a 'tcp-request' rule placed after {a} rule will still be processed before."));
            }
            if let Some(c) = conflict {
                ctx.warn(loc, "never-matches", c);
            }
        }
        other => {
            ctx.fatal(&sloc, "bad-value", format!("'tcp-request' expects 'inspect-delay', 'connection', or 'content' in {where_} (got '{other}')"));
        }
    }
}

/// Whether `action` names one of HAProxy's actions in `list` (`set-var(x)` for
/// `'set-var(*)'`, any `track-scN`).
fn known_action(list: &str, action: &str) -> bool {
    if action.starts_with("track-sc") {
        return true;
    }
    list.split(", ")
        .map(|n| n.trim_matches('\''))
        .any(|n| match n.strip_suffix("(*)") {
            Some(prefix) => action
                .strip_prefix(prefix)
                .is_some_and(|rest| rest.starts_with('(')),
            None => n == action,
        })
}

/// The IR of a proxy's `tcp-request` rules.
pub fn rules_ir(d: &ProxyDraft) -> TcpRequest {
    TcpRequest {
        inspect_delay: (d.tcp_inspect_delay != 0).then_some(d.tcp_inspect_delay),
        connection: if d.has_fe() {
            d.tcp_connection.clone()
        } else {
            Vec::new()
        },
        content: d.tcp_content.clone(),
    }
}

/// The fetch whose HTTP-mode value (HAProxy reads the size of its internal HTX buffer)
/// haproxide cannot reproduce; HAProxy's other layer-6 fetches have no value in HTTP mode.
const HTX_SIZE_FETCHES: &[&str] = &["req.len", "req_len"];

fn uses_l6(acls: &[Acl], cond: &Condition) -> bool {
    cond.any_of
        .iter()
        .flatten()
        .filter_map(|t| acls.get(t.acl))
        .flat_map(|a| &a.alternatives)
        .any(|e| fetch_src(&e.fetch.fetch) == Src::L6)
}

/// Link-time checks of HTTP-mode proxies: HAProxy's warning for conditions using layer-6
/// fetches (`warnif_tcp_http_cond()`, in its order: `use_backend`, `stick` match rules,
/// `tcp-request` and `http-request`/`http-response` rules), and haproxide's refusals of
/// `tcp-request content` rules (HAProxy runs them on each HTTP stream; haproxide inspects
/// TCP-mode payloads only) and of `req.len`.
pub fn link_checks(ctx: &mut Ctx, drafts: &[ProxyDraft]) {
    for d in drafts.iter().filter(|d| d.mode == Mode::Http) {
        let name = d.display_name();
        let at_line = |file: &str, line: usize| Location {
            file: file.to_string(),
            line,
            col: None,
        };
        let mut conds: Vec<(&Condition, Location)> = Vec::new();
        conds.extend(
            d.use_backend
                .iter()
                .filter_map(|(_, c, l)| c.as_ref().map(|c| (c, l.clone()))),
        );
        conds.extend(
            d.stick_rules
                .iter()
                .filter(|r| r.action.matches())
                .filter_map(|r| r.cond.as_ref().map(|c| (c, r.loc.clone()))),
        );
        for r in d.tcp_connection.iter().chain(&d.tcp_content) {
            if let Some(c) = &r.cond {
                conds.push((c, at_line(&r.origin.file, r.origin.line)));
            }
        }
        for r in d.http_request.iter().chain(&d.http_response) {
            if let Some(c) = &r.cond {
                conds.push((c, at_line(&r.origin.file, r.origin.line)));
            }
        }
        for (c, l) in conds {
            if uses_l6(&d.acls, c) {
                let msg = format!("Proxy '{name}': L6 sample fetches ignored on HTTP proxies (declared at {}:{}).", l.file, l.line);
                ctx.push(Diagnostic::plain(Severity::Warning, "l6-in-http", Some(l), msg).link());
            }
        }
        if let Some(r) = d.tcp_content.first() {
            ctx.push(
                unsupported(
                    &at_line(&r.origin.file, r.origin.line),
                    "tcp-request content in mode http",
                )
                .link(),
            );
        }
        let raw = d
            .acls
            .iter()
            .flat_map(|a| &a.alternatives)
            .map(|e| e.fetch.fetch.as_str())
            .chain(d.stick_rules.iter().map(|s| s.sample.fetch.as_str()))
            .find(|f| HTX_SIZE_FETCHES.contains(f));
        if let Some(f) = raw {
            ctx.push(unsupported(&d.loc, &format!("fetch {f} in mode http")).link());
        }
    }
}
