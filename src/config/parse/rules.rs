//! `http-request`, `http-response`, `redirect` and `errorfile` lines.

use super::super::diag::{Diagnostic, Location, Severity};
use super::super::ir::{
    ErrorFile, HttpAction, HttpRule, LogFormat, Origin, Redirect, RedirectKind,
};
use super::super::keywords::{self, Family, Sections, Support};
use super::super::lexer::Word;
use super::super::loader::unsupported;
use super::super::source::io_error_text;
use super::super::values;
use super::{acl, arg, at, Ctx, SectionState};

/// HAProxy 2.6's own list, in its registration order, as its error message prints it.
const HTTP_REQUEST_ACTIONS_AS_LISTED: &str = "'wait-for-handshake', 'ot-group', 'set-log-level', 'set-nice', 'use-service', 'sc-inc-gpc(*)', 'sc-inc-gpc0(*)', 'sc-inc-gpc1(*)', 'sc-set-gpt(*)', 'sc-set-gpt0(*)', 'send-spoe-group', 'do-resolve(*)', 'cache-use', 'add-acl(*)', 'add-header', 'allow', 'auth', 'capture', 'del-acl(*)', 'del-header', 'del-map(*)', 'deny', 'disable-l7-retry', 'early-hint', 'normalize-uri', 'redirect', 'reject', 'replace-header', 'replace-path', 'replace-pathq', 'replace-uri', 'replace-value', 'return', 'set-header', 'set-map(*)', 'set-method', 'set-path', 'set-pathq', 'set-query', 'set-uri', 'strict-mode', 'tarpit', 'track-sc(*)', 'set-timeout', 'wait-for-body', 'set-var-fmt(*)', 'set-var(*)', 'unset-var(*)', 'set-dst', 'set-dst-port', 'set-mark', 'set-src', 'set-src-port', 'set-tos', 'silent-drop', 'set-priority-class', 'set-priority-offset'";

const ERRORFILE_CODES: &[u16] = &[
    200, 400, 401, 403, 404, 405, 407, 408, 410, 413, 425, 429, 500, 501, 502, 503, 504,
];

pub fn parse_errorfile(ctx: &mut Ctx, words: &[Word], loc: &Location) {
    let (code, path) = (arg(words, 1), arg(words, 2));
    if code.is_empty() || path.is_empty() {
        return ctx.fatal(
            loc,
            "missing-argument",
            "errorfile : expects <status_code> and <file> as arguments.\n",
        );
    }
    let status = values::atoi(code);
    let Some(status) = ERRORFILE_CODES
        .iter()
        .copied()
        .find(|&c| c as i64 == status)
    else {
        return ctx.fatal(
            &at(loc, words, 1),
            "bad-value",
            format!("errorfile : status code '{code}' not handled."),
        );
    };
    let response = match std::fs::read(path) {
        Ok(b) => b,
        Err(_) => {
            return ctx.fatal(
                &at(loc, words, 2),
                "missing-file",
                format!("errorfile : error opening file '{path}'."),
            )
        }
    };
    // HAProxy parses the file as an HTTP response; a file without a status line is rejected.
    if !response.starts_with(b"HTTP/") {
        return ctx.fatal(
            &at(loc, words, 2),
            "bad-file",
            format!("errorfile : '{path}': unable to parse headers (error offset: 0)"),
        );
    }
    if let SectionState::Proxy(p) = &mut ctx.section {
        p.errorfiles.retain(|e| e.status != status);
        p.errorfiles.push(ErrorFile {
            status,
            path: path.into(),
            response,
        });
    }
}

/// Finds where a rule's `if`/`unless` starts, if anywhere.
fn cond_start(words: &[Word], from: usize) -> Option<usize> {
    (from..words.len()).find(|&i| matches!(words[i].text.as_str(), "if" | "unless"))
}

pub fn parse_http_rule(ctx: &mut Ctx, kw: &str, words: &[Word], loc: &Location) {
    if let SectionState::Proxy(p) = &ctx.section {
        if p.is_defaults() && p.name.is_none() {
            return ctx.fatal(
                loc,
                "not-in-defaults",
                format!("'{kw}' not allowed in anonymous 'defaults' section."),
            );
        }
        if p.is_defaults() {
            return ctx.push(unsupported(loc, &format!("{kw} in a defaults section")));
        }
    }
    let family = if kw == "http-request" {
        Family::HttpRequestAction
    } else {
        Family::HttpResponseAction
    };
    let raw_action = arg(words, 1);
    // `set-var(txn.x)` and friends carry their argument in parentheses.
    let action = raw_action.split('(').next().unwrap_or(raw_action);
    let aloc = at(loc, words, 1);
    let Some(row) = keywords::lookup(family, action, Sections::NONE) else {
        let list = if kw == "http-request" {
            HTTP_REQUEST_ACTIONS_AS_LISTED.to_string()
        } else {
            let names: Vec<&str> = family.rows().iter().map(|k| k.name).collect();
            quoted_list(&names)
        };
        let msg = format!("'{kw}' expects {list}, but got '{raw_action}'.");
        ctx.push(Diagnostic::parsing_tight(
            Severity::Fatal,
            "unknown-action",
            aloc,
            msg,
        ));
        // HAProxy stops reading the file after this error.
        ctx.abort = true;
        return;
    };
    match row.support {
        Support::Implemented => {}
        Support::Removed(m) => return ctx.fatal(&aloc, "removed-keyword", m),
        _ => return ctx.push(unsupported(&aloc, &format!("{kw} {action}"))),
    }
    let end = cond_start(words, 2).unwrap_or(words.len());
    let args: Vec<&str> = words[2..end].iter().map(|w| w.text.as_str()).collect();
    let what = format!("error detected while parsing an '{kw} {action}' condition : {{}}.");
    // `redirect` parses its own condition (HAProxy words its errors differently).
    let cond = if end < words.len() && action != "redirect" {
        Some(acl::parse_condition(ctx, words, end, loc, &what))
    } else {
        None
    };
    let mut redirect_cond = None;
    let cond = match cond {
        Some(None) => return,
        Some(Some(c)) => Some(c),
        None => None,
    };
    let bad = |ctx: &mut Ctx, msg: String| {
        ctx.fatal(
            &aloc,
            "bad-rule",
            format!(
                "error detected in {} while parsing '{kw} {action}' rule : {msg}.",
                proxy_desc(ctx)
            ),
        )
    };
    let http_action = match action {
        "set-header" | "add-header" => {
            if args.len() != 2 {
                return bad(ctx, "expects exactly 2 arguments".into());
            }
            let name = args[0].to_string();
            let value = LogFormat(args[1].to_string());
            if action == "set-header" {
                HttpAction::SetHeader { name, value }
            } else {
                HttpAction::AddHeader { name, value }
            }
        }
        "del-header" => {
            if args.is_empty() {
                return bad(ctx, "expects at least 1 argument".into());
            }
            if args.len() > 1 {
                return ctx.push(unsupported(&aloc, &format!("{kw} del-header -m")));
            }
            HttpAction::DelHeader {
                name: args[0].to_string(),
            }
        }
        "allow" => HttpAction::Allow,
        "deny" => {
            let mut status = if kw == "http-request" { 403 } else { 502 };
            match args.as_slice() {
                [] => {}
                ["deny_status", s] => status = values::atoi(s).clamp(0, 999) as u16,
                _ => {
                    return ctx.push(unsupported(
                        &aloc,
                        &format!("{kw} deny with response options"),
                    ))
                }
            }
            HttpAction::Deny { status }
        }
        "redirect" => match parse_redirect(ctx, words, 2, loc, &format!("'{kw} redirect' rule")) {
            Some((r, c)) => {
                redirect_cond = c;
                HttpAction::Redirect(r)
            }
            None => return,
        },
        "return" => {
            let mut status = 200u16;
            let mut content_type = None;
            let mut body = None;
            let mut i = 0;
            while i < args.len() {
                let v = args.get(i + 1).copied().unwrap_or("");
                match args[i] {
                    "status" => status = values::atoi(v).clamp(0, 999) as u16,
                    "content-type" => content_type = Some(v.to_string()),
                    "string" => body = Some(v.to_string()),
                    other => return ctx.push(unsupported(&aloc, &format!("{kw} return {other}"))),
                }
                i += 2;
            }
            HttpAction::Return {
                status,
                content_type,
                body,
            }
        }
        "replace-path" => {
            if args.len() != 2 {
                return bad(ctx, "expects exactly 2 arguments".into());
            }
            return ctx.push(unsupported(
                &aloc,
                &format!("{kw} replace-path (regular expressions)"),
            ));
        }
        "set-path" => {
            if args.len() != 1 {
                return bad(ctx, "expects exactly 1 argument".into());
            }
            HttpAction::SetPath {
                value: LogFormat(args[0].to_string()),
            }
        }
        "auth" => {
            let realm = match args.as_slice() {
                [] => None,
                ["realm", r] => Some(r.to_string()),
                _ => return bad(ctx, "expects 'realm' followed by a realm name".into()),
            };
            HttpAction::Auth { realm }
        }
        "set-status" => {
            let status = values::atoi(args.first().copied().unwrap_or(""));
            if !(100..=999).contains(&status) {
                return bad(
                    ctx,
                    "expects an HTTP status code between 100 and 999".into(),
                );
            }
            let reason = match args.get(1..) {
                Some(["reason", r]) => Some(r.to_string()),
                _ => None,
            };
            HttpAction::SetStatus {
                status: status as u16,
                reason,
            }
        }
        _ => return ctx.push(unsupported(&aloc, &format!("{kw} {action}"))),
    };
    let origin = Origin {
        file: loc.file.clone(),
        line: loc.line,
    };
    let cond = cond.or(redirect_cond);
    let rule = HttpRule {
        action: http_action,
        cond,
        origin,
    };
    let line = loc.line;
    let mut warn_order = false;
    if let SectionState::Proxy(p) = &mut ctx.section {
        if kw == "http-request" {
            warn_order = p.first_use_backend_line.is_some_and(|l| l < line);
            p.http_request.push(rule);
        } else {
            p.http_response.push(rule);
        }
    }
    if warn_order {
        ctx.warn(loc, "rule-order", "a 'http-request' rule placed after a 'use_backend' rule will still be processed before.");
    }
}

fn proxy_desc(ctx: &Ctx) -> String {
    match &ctx.section {
        SectionState::Proxy(p) => format!("{} '{}'", p.label(), p.display_name()),
        _ => "proxy".into(),
    }
}

fn quoted_list(items: &[&str]) -> String {
    let quoted: Vec<String> = items.iter().map(|s| format!("'{s}'")).collect();
    match quoted.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
        Some((last, _)) => last.clone(),
        None => String::new(),
    }
}

/// HAProxy's `http_parse_redirect_rule`: options in any order, then an optional condition.
/// `px` is `frontend 'name'`-style, `rule` names the rule in messages (`redirect rule`,
/// `'http-request redirect' rule`). Returns `None` after reporting an error.
fn parse_redirect(
    ctx: &mut Ctx,
    words: &[Word],
    start: usize,
    loc: &Location,
    rule: &str,
) -> Option<(Redirect, Option<super::super::ir::Condition>)> {
    let px = proxy_desc(ctx);
    let fail = |ctx: &mut Ctx, at_loc: Location, msg: String| {
        ctx.fatal(
            &at_loc,
            "bad-rule",
            format!("error detected in {px} while parsing {rule} : {msg}."),
        );
    };
    let mut kind = None;
    let mut target = String::new();
    let mut code = 302u16;
    let (mut drop_query, mut append_slash) = (false, false);
    let (mut set_cookie, mut clear_cookie) = (None, None);
    let mut cond = None;
    let mut i = start;
    while i < words.len() {
        let a = arg(words, i);
        let next = arg(words, i + 1).to_string();
        let needs_value = matches!(
            a,
            "location" | "prefix" | "scheme" | "set-cookie" | "clear-cookie" | "code"
        );
        if needs_value && next.is_empty() {
            fail(
                ctx,
                at(loc, words, i),
                format!("missing argument for '{a}'"),
            );
            return None;
        }
        match a {
            "location" | "prefix" | "scheme" => {
                kind = Some(match a {
                    "location" => RedirectKind::Location,
                    "prefix" => RedirectKind::Prefix,
                    _ => RedirectKind::Scheme,
                });
                target = next;
                i += 1;
            }
            "set-cookie" => {
                set_cookie = Some(next);
                i += 1;
            }
            "clear-cookie" => {
                clear_cookie = Some(next);
                i += 1;
            }
            "code" => {
                let n = values::atoi(&next);
                if !matches!(n, 301..=303 | 307 | 308) {
                    fail(ctx, at(loc, words, i + 1), format!("'code': unsupported HTTP code '{next}' (must be one of 301, 302, 303, 307 or 308)"));
                    return None;
                }
                code = n as u16;
                i += 1;
            }
            "drop-query" => drop_query = true,
            "append-slash" => append_slash = true,
            "ignore-empty" => {
                ctx.push(unsupported(&at(loc, words, i), "redirect ignore-empty"));
                return None;
            }
            "if" | "unless" => {
                let template = format!(
                    "error detected in {px} while parsing {rule} : error in condition: {{}}."
                );
                cond = Some(acl::parse_condition(ctx, words, i, loc, &template)?);
                break;
            }
            other => {
                fail(
                    ctx,
                    at(loc, words, i),
                    format!("expects 'code', 'prefix', 'location', 'scheme', 'set-cookie', 'clear-cookie', 'drop-query', 'ignore-empty' or 'append-slash' (was '{other}')"),
                );
                return None;
            }
        }
        i += 1;
    }
    let Some(kind) = kind else {
        fail(
            ctx,
            loc.clone(),
            "redirection type expected ('prefix', 'location', or 'scheme')".into(),
        );
        return None;
    };
    let r = Redirect {
        kind,
        target: LogFormat(target),
        code,
        drop_query,
        append_slash,
        set_cookie,
        clear_cookie,
    };
    Some((r, cond))
}

/// The standalone `redirect` directive.
pub fn parse_redirect_line(ctx: &mut Ctx, words: &[Word], loc: &Location) {
    if let SectionState::Proxy(p) = &ctx.section {
        if p.is_defaults() {
            return ctx.fatal(
                loc,
                "not-in-defaults",
                "'redirect' not allowed in 'defaults' section.",
            );
        }
    }
    let Some((r, cond)) = parse_redirect(ctx, words, 1, loc, "redirect rule") else {
        return;
    };
    let origin = Origin {
        file: loc.file.clone(),
        line: loc.line,
    };
    let line = loc.line;
    let mut warn = false;
    if let SectionState::Proxy(p) = &mut ctx.section {
        warn = p.first_use_backend_line.is_some_and(|l| l < line);
        p.first_redirect_line.get_or_insert(line);
        p.redirects.push(HttpRule {
            action: HttpAction::Redirect(r),
            cond,
            origin,
        });
    }
    if warn {
        ctx.warn(
            loc,
            "rule-order",
            "a 'redirect' rule placed after a 'use_backend' rule will still be processed before.",
        );
    }
}

/// Reads a file for messages in HAProxy's `strerror` wording.
pub fn read_error(e: &std::io::Error) -> String {
    io_error_text(e)
}
