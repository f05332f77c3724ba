//! `acl` lines, `if`/`unless` conditions and sample expressions (`fetch(args),conv,...`).

use super::super::diag::Location;
use super::super::ir::{Acl, AclExpr, CondTerm, Condition, MatchMethod, Sample};
use super::super::keywords::{self, Family, Sections, Support};
use super::super::lexer::Word;
use super::super::loader::unsupported;
use super::{arg, at, Ctx, SectionState};

/// Splits `name(a,b),conv(x),conv2` into a sample; `None` when parentheses don't balance.
pub fn parse_sample(text: &str) -> Option<Sample> {
    let mut parts = Vec::new();
    let mut depth = 0i32;
    let mut cur = String::new();
    for c in text.chars() {
        match c {
            '(' => {
                depth += 1;
                cur.push(c);
            }
            ')' => {
                depth -= 1;
                if depth < 0 {
                    return None;
                }
                cur.push(c);
            }
            ',' if depth == 0 => parts.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    if depth != 0 {
        return None;
    }
    parts.push(cur);
    let mut iter = parts.into_iter().map(|p| split_call(p.trim()));
    let (fetch, args) = iter.next()??;
    let converters = iter.collect::<Option<Vec<_>>>()?;
    Some(Sample { fetch, args, converters })
}

fn split_call(p: &str) -> Option<(String, Vec<String>)> {
    match p.find('(') {
        Some(i) if p.ends_with(')') => {
            let inner = &p[i + 1..p.len() - 1];
            let args = if inner.is_empty() { Vec::new() } else { inner.split(',').map(|s| s.trim().to_string()).collect() };
            Some((p[..i].to_string(), args))
        }
        Some(_) => None,
        None => Some((p.to_string(), Vec::new())),
    }
}

/// The match method implied by a fetch name (`hdr_beg` → Beg...), and the base fetch name.
fn implied_method(fetch: &str) -> (MatchMethod, &str) {
    const SUFFIXES: &[(&str, MatchMethod)] = &[
        ("_beg", MatchMethod::Beg),
        ("_end", MatchMethod::End),
        ("_sub", MatchMethod::Sub),
        ("_reg", MatchMethod::Reg),
        ("_dom", MatchMethod::Dom),
        ("_dir", MatchMethod::Dir),
        ("_len", MatchMethod::Len),
        ("_cnt", MatchMethod::Int),
    ];
    for (suffix, m) in SUFFIXES {
        if let Some(base) = fetch.strip_suffix(suffix) {
            return (*m, base);
        }
    }
    let m = match fetch {
        "src" | "dst" => MatchMethod::Ip,
        "dst_port" | "src_port" | "nbsrv" | "req.hdr_cnt" => MatchMethod::Int,
        "ssl_fc" | "always_true" | "always_false" | "http_auth" => MatchMethod::Bool,
        "http_auth_group" => MatchMethod::Str,
        _ => MatchMethod::Str,
    };
    (m, fetch)
}

fn method_from_flag(m: &str) -> Option<MatchMethod> {
    Some(match m {
        "found" => MatchMethod::Found,
        "bool" => MatchMethod::Bool,
        "int" => MatchMethod::Int,
        "ip" => MatchMethod::Ip,
        "bin" => MatchMethod::Bin,
        "len" => MatchMethod::Len,
        "str" => MatchMethod::Str,
        "sub" => MatchMethod::Sub,
        "reg" => MatchMethod::Reg,
        "beg" => MatchMethod::Beg,
        "end" => MatchMethod::End,
        "dir" => MatchMethod::Dir,
        "dom" => MatchMethod::Dom,
        _ => return None,
    })
}

/// Fills HAProxy's message template `what` (`... : {}.`) with one error text.
pub fn wrap(what: &str, msg: &str) -> String {
    what.replacen("{}", msg, 1)
}

/// Parses `<criterion> [flags] <values...>` from `words[start..]`. `what` is the message
/// template of the context (`error detected while parsing ACL 'x' : {}.`)
/// for messages (`ACL 'x'`).
fn parse_acl_expr(ctx: &mut Ctx, words: &[Word], start: usize, loc: &Location, what: &str) -> Option<AclExpr> {
    let crit = arg(words, start);
    let cloc = at(loc, words, start);
    let Some(sample) = parse_sample(crit) else {
        ctx.fatal(&cloc, "bad-acl", wrap(what, &format!("missing closing ')' after arguments to fetch keyword '{crit}' in ACL expression '{crit}'")));
        return None;
    };
    let section = Sections::NONE;
    match keywords::lookup(Family::Fetch, &sample.fetch, section) {
        None => {
            let mut d = super::super::diag::Diagnostic::parsing(
                super::super::diag::Severity::Fatal,
                "unknown-fetch",
                cloc.clone(),
                wrap(what, &format!("unknown fetch method '{0}' in ACL expression '{0}'", sample.fetch)),
            );
            if let Some(s) = super::super::suggest::best_match(&sample.fetch, Family::Fetch.rows().iter().map(|k| k.name)) {
                d = d.with_help(format!("did you mean '{s}'?"));
            }
            ctx.push(d);
            return None;
        }
        Some(row) if row.support != Support::Implemented => {
            ctx.push(unsupported(&cloc, &format!("fetch {}", sample.fetch)));
            return None;
        }
        Some(_) => {}
    }
    for (conv, _) in &sample.converters {
        match keywords::lookup(Family::Converter, conv, section) {
            None => {
                ctx.fatal(&cloc, "unknown-converter", wrap(what, &format!("unknown converter '{conv}'")));
                return None;
            }
            Some(row) if row.support != Support::Implemented => {
                ctx.push(unsupported(&cloc, &format!("converter {conv}")));
                return None;
            }
            Some(_) => {}
        }
    }
    let (mut method, _) = implied_method(&sample.fetch);
    if method != MatchMethod::Bool && arg(words, start + 1).is_empty() {
        ctx.push(super::super::diag::Diagnostic::plain(
            super::super::diag::Severity::Warning,
            "acl-without-pattern",
            Some(cloc.clone()),
            format!(
                "parsing acl keyword '{}' :\n  no pattern to match against were provided, so this ACL will never match.\n  If this is what you intended, please add '--' to get rid of this warning.\n  If you intended to match only for existence, please use '-m found'.\n  If you wanted to force an int to match as a bool, please use '-m bool'.\n",
                sample.fetch
            ),
        ));
    }
    let mut ignore_case = false;
    let mut i = start + 1;
    while i < words.len() {
        match arg(words, i) {
            "-i" => ignore_case = true,
            "-m" => {
                let m = arg(words, i + 1);
                match method_from_flag(m) {
                    Some(mm) => method = mm,
                    None => {
                        ctx.fatal(&at(loc, words, i + 1), "bad-acl", wrap(what, &format!("unknown matching method '{m}' when parsing ACL expression")));
                        return None;
                    }
                }
                i += 1;
            }
            "-n" | "-u" => {}
            "--" => {
                i += 1;
                break;
            }
            "-f" | "-M" => {
                ctx.push(unsupported(&at(loc, words, i), "acl -f/-M pattern files"));
                return None;
            }
            _ => break,
        }
        i += 1;
    }
    if method == MatchMethod::Reg {
        ctx.push(unsupported(&cloc, "regular expression matching (-m reg, *_reg)"));
        return None;
    }
    let patterns: Vec<String> = words[i.min(words.len())..].iter().map(|w| w.text.clone()).collect();
    Some(AclExpr { fetch: sample, match_method: method, ignore_case, patterns })
}

/// `acl <name> <criterion> [flags] [operator] <value>...`.
pub fn parse_acl_line(ctx: &mut Ctx, words: &[Word], loc: &Location) {
    if let SectionState::Proxy(p) = &ctx.section {
        if p.is_defaults() && p.name.is_none() {
            return ctx.fatal(loc, "not-in-defaults", "'acl' not allowed in anonymous 'defaults' section.");
        }
    }
    let name = arg(words, 1).to_string();
    if name.is_empty() || arg(words, 2).is_empty() {
        return ctx.fatal(loc, "missing-argument", "'acl' expects an ACL name and a criterion.");
    }
    if let Some(c) = name.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-' | ':'))) {
        return ctx.fatal(&at(loc, words, 1), "bad-name", format!("character '{c}' is not permitted in acl name '{name}'"));
    }
    let what = format!("error detected while parsing ACL '{name}' : {{}}.");
    let unsupported_before = unsupported_count(ctx);
    let Some(expr) = parse_acl_expr(ctx, words, 2, loc, &what) else {
        if unsupported_count(ctx) > unsupported_before {
            if let SectionState::Proxy(p) = &mut ctx.section {
                p.refused_acls.push(name);
            }
        }
        return;
    };
    let SectionState::Proxy(p) = &mut ctx.section else { return };
    match p.acls.iter_mut().find(|a| a.name.as_deref() == Some(name.as_str())) {
        Some(a) => a.alternatives.push(expr),
        None => p.acls.push(Acl { name: Some(name), alternatives: vec![expr] }),
    }
}

/// A predefined ACL (`TRUE`, `METH_GET`, `LOCALHOST`...) as an expression.
fn predefined(name: &str) -> Option<AclExpr> {
    let simple = |fetch: &str, method: MatchMethod, patterns: &[&str]| AclExpr {
        fetch: Sample { fetch: fetch.into(), args: Vec::new(), converters: Vec::new() },
        match_method: method,
        ignore_case: false,
        patterns: patterns.iter().map(|s| s.to_string()).collect(),
    };
    Some(match name {
        "TRUE" => simple("always_true", MatchMethod::Bool, &[]),
        "FALSE" => simple("always_false", MatchMethod::Bool, &[]),
        "LOCALHOST" => simple("src", MatchMethod::Ip, &["127.0.0.1/8", "::1"]),
        "HTTP" => simple("always_true", MatchMethod::Bool, &[]),
        "METH_CONNECT" => simple("method", MatchMethod::Str, &["CONNECT"]),
        "METH_DELETE" => simple("method", MatchMethod::Str, &["DELETE"]),
        "METH_GET" => simple("method", MatchMethod::Str, &["GET", "HEAD"]),
        "METH_HEAD" => simple("method", MatchMethod::Str, &["HEAD"]),
        "METH_OPTIONS" => simple("method", MatchMethod::Str, &["OPTIONS"]),
        "METH_POST" => simple("method", MatchMethod::Str, &["POST"]),
        "METH_PUT" => simple("method", MatchMethod::Str, &["PUT"]),
        "METH_TRACE" => simple("method", MatchMethod::Str, &["TRACE"]),
        "HTTP_URL_SLASH" => simple("url", MatchMethod::Beg, &["/"]),
        "HTTP_URL_STAR" => simple("url", MatchMethod::Str, &["*"]),
        _ => return None,
    })
}

const UNSUPPORTED_PREDEFINED: &[&str] = &["HTTP_1.0", "HTTP_1.1", "HTTP_CONTENT", "HTTP_URL_ABS", "RDP_COOKIE", "REQ_CONTENT", "WAIT_END"];

/// Parses `if|unless <terms>` starting at `words[start]`. Returns `None` after an error.
pub fn parse_condition(ctx: &mut Ctx, words: &[Word], start: usize, loc: &Location, what: &str) -> Option<Condition> {
    let unless = match arg(words, start) {
        "if" => false,
        "unless" => true,
        other => {
            ctx.fatal(&at(loc, words, start), "bad-condition", wrap(what, &format!("unexpected '{other}', expects 'if' or 'unless' followed by a condition")));
            return None;
        }
    };
    let mut any_of: Vec<Vec<CondTerm>> = vec![Vec::new()];
    let mut i = start + 1;
    while i < words.len() {
        let w = arg(words, i);
        if w == "||" || w == "or" {
            any_of.push(Vec::new());
            i += 1;
            continue;
        }
        let mut negate = false;
        let mut term = w;
        if term == "!" {
            negate = true;
            i += 1;
            term = arg(words, i);
        } else if let Some(t) = term.strip_prefix('!') {
            negate = true;
            term = t;
        }
        let acl_index = if term == "{" {
            let close = words[i..].iter().position(|x| x.text == "}").map(|p| p + i);
            let Some(close) = close else {
                ctx.fatal(&at(loc, words, i), "bad-condition", wrap(what, "missing closing '}' in condition"));
                return None;
            };
            let inner = &words[..close];
            let expr = parse_acl_expr(ctx, inner, i + 1, loc, what)?;
            i = close;
            push_anonymous(ctx, expr)
        } else if let Some(idx) = named_acl(ctx, term) {
            idx
        } else if let Some(expr) = predefined(term) {
            push_anonymous(ctx, expr)
        } else if is_refused(ctx, term) {
            // Already refused by name where it was defined.
            return None;
        } else if UNSUPPORTED_PREDEFINED.contains(&term) {
            ctx.push(unsupported(&at(loc, words, i), &format!("predefined ACL {term}")));
            return None;
        } else {
            let mut d = super::super::diag::Diagnostic::parsing(
                super::super::diag::Severity::Fatal,
                "unknown-acl",
                at(loc, words, i),
                wrap(what, &format!("no such ACL : '{term}'")),
            );
            if what.contains("condition : {}") {
                // HAProxy stops reading the file after a bad http-request/response condition.
                ctx.abort = true;
            }
            if term.starts_with('{') {
                d = d.with_help("an anonymous ACL needs spaces inside its braces: '{ fetch value }'");
            } else if let Some(s) = super::super::suggest::best_match(term, acl_names(ctx).iter().map(String::as_str)) {
                d = d.with_help(format!("did you mean the ACL '{s}'?"));
            } else {
                d = d.with_help(format!("declare it first with 'acl {term} <criterion> <value>' in this section"));
            }
            ctx.push(d);
            return None;
        };
        if let Some(last) = any_of.last_mut() {
            last.push(CondTerm { negate, acl: acl_index });
        }
        i += 1;
    }
    Some(Condition { unless, any_of })
}

fn unsupported_count(ctx: &Ctx) -> usize {
    ctx.diags.iter().filter(|d| d.code == "unsupported-keyword").count()
}

fn is_refused(ctx: &Ctx, name: &str) -> bool {
    match &ctx.section {
        SectionState::Proxy(p) => p.refused_acls.iter().any(|a| a == name),
        _ => false,
    }
}

fn acl_names(ctx: &Ctx) -> Vec<String> {
    match &ctx.section {
        SectionState::Proxy(p) => p.acls.iter().filter_map(|a| a.name.clone()).collect(),
        _ => Vec::new(),
    }
}

fn named_acl(ctx: &Ctx, name: &str) -> Option<usize> {
    match &ctx.section {
        SectionState::Proxy(p) => p.acls.iter().position(|a| a.name.as_deref() == Some(name)),
        _ => None,
    }
}

fn push_anonymous(ctx: &mut Ctx, expr: AclExpr) -> usize {
    match &mut ctx.section {
        SectionState::Proxy(p) => {
            p.acls.push(Acl { name: None, alternatives: vec![expr] });
            p.acls.len() - 1
        }
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples() {
        let s = parse_sample("hdr(host),lower").unwrap();
        assert_eq!(s.fetch, "hdr");
        assert_eq!(s.args, ["host"]);
        assert_eq!(s.converters, [("lower".to_string(), vec![])]);
        assert!(parse_sample("hdr(host").is_none());
        assert_eq!(implied_method("hdr_beg").0, MatchMethod::Beg);
        assert_eq!(implied_method("path").0, MatchMethod::Str);
    }
}
