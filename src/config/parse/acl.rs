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
    Some(Sample {
        fetch,
        args,
        converters,
    })
}

fn split_call(p: &str) -> Option<(String, Vec<String>)> {
    match p.find('(') {
        Some(i) if p.ends_with(')') => {
            let inner = &p[i + 1..p.len() - 1];
            let args = if inner.is_empty() {
                Vec::new()
            } else {
                inner.split(',').map(|s| s.trim().to_string()).collect()
            };
            Some((p[..i].to_string(), args))
        }
        Some(_) => None,
        None => Some((p.to_string(), Vec::new())),
    }
}

/// The match method implied by a fetch name (`hdr_beg` → Beg...), and the base fetch name.
fn implied_method(fetch: &str) -> (MatchMethod, &str) {
    // Layer-6 fetches first: some end like a match suffix (`req_len`, `wait_end`).
    match fetch {
        "req.len" | "req_len" | "req.ssl_hello_type" | "req_ssl_hello_type" | "req.ssl_ver"
        | "req_ssl_ver" | "req.rdp_cookie_cnt" | "req_rdp_cookie_cnt" | "rdp_cookie_cnt"
        | "req.ssl_st_ext" => return (MatchMethod::Int, fetch),
        "wait_end" | "req.ssl_ec_ext" | "req.proto_http" | "req_proto_http" => {
            return (MatchMethod::Bool, fetch)
        }
        // The `payload` ACL keywords match binary patterns; `req.payload` needs `-m`.
        "payload" | "payload_lv" | "req.payload" | "req.payload_lv" => {
            return (MatchMethod::Bin, fetch)
        }
        _ => {}
    }
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
fn parse_acl_expr(
    ctx: &mut Ctx,
    words: &[Word],
    start: usize,
    loc: &Location,
    what: &str,
) -> Option<AclExpr> {
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
                wrap(
                    what,
                    &format!(
                        "unknown fetch method '{0}' in ACL expression '{0}'",
                        sample.fetch
                    ),
                ),
            );
            if let Some(s) = super::super::suggest::best_match(
                &sample.fetch,
                Family::Fetch.rows().iter().map(|k| k.name),
            ) {
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
                ctx.fatal(
                    &cloc,
                    "unknown-converter",
                    wrap(what, &format!("unknown converter '{conv}'")),
                );
                return None;
            }
            Some(row) if row.support != Support::Implemented => {
                ctx.push(unsupported(&cloc, &format!("converter {conv}")));
                return None;
            }
            Some(_) => {}
        }
    }
    if let Err(msg) = check_l6_args(&sample, crit) {
        ctx.fatal(&cloc, "bad-acl", wrap(what, &msg));
        return None;
    }
    let (mut method, _) = implied_method(&sample.fetch);
    // A binary sample fetch (not an ACL keyword) has no default matching method.
    let needs_m = matches!(sample.fetch.as_str(), "req.payload" | "req.payload_lv")
        && sample.converters.is_empty();
    let mut explicit_m = false;
    if !needs_m && method != MatchMethod::Bool && arg(words, start + 1).is_empty() {
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
                    Some(mm) => {
                        method = mm;
                        explicit_m = true;
                    }
                    None => {
                        ctx.fatal(
                            &at(loc, words, i + 1),
                            "bad-acl",
                            wrap(
                                what,
                                &format!(
                                    "unknown matching method '{m}' when parsing ACL expression"
                                ),
                            ),
                        );
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
        ctx.push(unsupported(
            &cloc,
            "regular expression matching (-m reg, *_reg)",
        ));
        return None;
    }
    if needs_m && !explicit_m {
        ctx.fatal(
            &cloc,
            "bad-acl",
            wrap(what, &format!("matching method must be specified first (using '-m') when using a sample fetch of this type ('{}')", sample.fetch)),
        );
        return None;
    }
    let mut patterns: Vec<String> = words[i.min(words.len())..]
        .iter()
        .map(|w| w.text.clone())
        .collect();
    if matches!(sample.fetch.as_str(), "req.ssl_ver" | "req_ssl_ver")
        && !explicit_m
        && sample.converters.is_empty()
    {
        match dotted_version_patterns(&patterns) {
            Ok(p) => patterns = p,
            Err(msg) => {
                ctx.fatal(&cloc, "bad-acl", wrap(what, &msg));
                return None;
            }
        }
    }
    Some(AclExpr {
        fetch: sample,
        match_method: method,
        ignore_case,
        patterns,
    })
}

/// Argument checks of the layer-6 fetches (HAProxy's `make_arg_list()` and
/// `val_payload_lv()` messages, without the `in ACL expression` suffix added here).
fn check_l6_args(s: &Sample, crit: &str) -> Result<(), String> {
    let f = s.fetch.as_str();
    // (mandatory integer arguments, optional string arguments)
    let (ints, opt) = match f {
        "req.payload" | "payload" => (2, 0),
        "req.payload_lv" | "payload_lv" => (2, 1),
        "req.rdp_cookie" | "req_rdp_cookie" | "rdp_cookie" | "req.rdp_cookie_cnt"
        | "req_rdp_cookie_cnt" | "rdp_cookie_cnt" => (0, 1),
        "req.len" | "req_len" | "req.ssl_hello_type" | "req_ssl_hello_type" | "req.ssl_ver"
        | "req_ssl_ver" | "req.ssl_sni" | "req_ssl_sni" | "req.ssl_alpn" | "req.ssl_ec_ext"
        | "req.ssl_st_ext" | "req.proto_http" | "req_proto_http" | "wait_end" => (0, 0),
        _ => return Ok(()),
    };
    let suffix = format!(" in ACL expression '{crit}'");
    let n = s.args.len();
    if n > ints + opt {
        // The text from the first argument too many, as HAProxy points at it.
        let open = crit.find('(').map_or(crit.len(), |i| i + 1);
        let mut pos = open;
        if ints + opt > 0 {
            let commas: Vec<usize> = crit[open..]
                .match_indices(',')
                .map(|(i, _)| open + i)
                .collect();
            pos = commas.get(ints + opt - 1).copied().unwrap_or(open);
        }
        return Err(format!(
            "fetch method '{f}' : expected ')' before '{}'{suffix}",
            &crit[pos..]
        ));
    }
    if n < ints {
        return Err(if n == 0 {
            format!("fetch method '{f}' : expected type 'integer' at position 1, but got nothing{suffix}")
        } else {
            format!("fetch method '{f}' : missing arguments (got {n}/{ints}), type 'integer' expected{suffix}")
        });
    }
    let mut nums = Vec::new();
    for (i, a) in s.args.iter().take(ints).enumerate() {
        match a.parse::<i64>() {
            Ok(v) => nums.push(v),
            Err(_) => return Err(format!("fetch method '{f}' : failed to parse '{a}' as type 'integer' at position {}{suffix}", i + 1)),
        }
    }
    if ints == 2 && opt == 1 {
        let invalid = |m: &str| format!("invalid args in fetch method '{f}' : {m}{suffix}");
        if nums[0] < 0 {
            return Err(invalid("payload offset1 must be positive"));
        }
        if nums[1] == 0 {
            return Err(invalid("payload length must be > 0"));
        }
        if let Some(o2) = s.args.get(2).filter(|a| !a.is_empty()) {
            match o2.parse::<i64>() {
                Ok(v) if nums[0] + nums[1] + v < 0 => {
                    return Err(invalid("payload offset2 too negative"))
                }
                Ok(_) => {}
                Err(_) => return Err(invalid("payload offset2 is not a number")),
            }
        }
    }
    Ok(())
}

/// HAProxy's `strl2llrc_dotted()`: `major[.minor]` as `major << 16 | minor`.
fn dotted(text: &str) -> Option<i64> {
    let (major, minor) = text.split_once('.').unwrap_or((text, "0"));
    let num = |t: &str| -> Option<i64> {
        let digits = t
            .strip_prefix('-')
            .or_else(|| t.strip_prefix('+'))
            .unwrap_or(t);
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        t.parse().ok()
    };
    let (major, minor) = (num(major)?, num(minor)?);
    if major >= 65536 || minor >= 65536 {
        return None;
    }
    Some((major << 16) | (minor & 0xffff))
}

/// `req.ssl_ver` patterns (`pat_parse_dotted_ver()` and the operator rewriting of
/// `parse_acl_expr()`): dotted versions become the integers the fetch returns.
fn dotted_version_patterns(patterns: &[String]) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut op_eq = true;
    for p in patterns {
        if matches!(p.as_str(), "eq" | "ne" | "lt" | "le" | "gt" | "ge") {
            op_eq = p == "eq";
            out.push(p.clone());
            continue;
        }
        let range = p.contains(':') || p.contains('-');
        if !range && !op_eq {
            let (major, minor) = p.split_once('.').unwrap_or((p.as_str(), "0"));
            let minor: i64 = minor
                .parse()
                .map_err(|_| format!("'{p}' is neither a number nor a supported operator"))?;
            if minor >= 65536 {
                return Err(format!("'{p}' contains too large a minor value"));
            }
            let major: i64 = major
                .parse()
                .map_err(|_| format!("'{p}' is neither a number nor a supported operator"))?;
            if major >= 65536 {
                return Err(format!("'{p}' contains too large a major value"));
            }
            out.push(((major << 16) | (minor & 0xffff)).to_string());
            continue;
        }
        let sep = p.find([':', '-']);
        let v = match sep {
            None => dotted(p)
                .ok_or_else(|| format!("'{p}' is not a dotted number"))?
                .to_string(),
            Some(i) => {
                let bad = || format!("'{p}' is not a valid dotted number range");
                let (a, b) = (&p[..i], &p[i + 1..]);
                match (a.is_empty(), b.is_empty()) {
                    (true, false) => format!(":{}", dotted(b).ok_or_else(bad)?),
                    (false, true) => format!("{}:", dotted(a).ok_or_else(bad)?),
                    (false, false) => {
                        let (lo, hi) = (dotted(a).ok_or_else(bad)?, dotted(b).ok_or_else(bad)?);
                        if lo > hi {
                            return Err(bad());
                        }
                        format!("{lo}:{hi}")
                    }
                    (true, true) => return Err(format!("'{p}' is not a dotted number")),
                }
            }
        };
        out.push(v);
    }
    Ok(out)
}

/// `acl <name> <criterion> [flags] [operator] <value>...`.
pub fn parse_acl_line(ctx: &mut Ctx, words: &[Word], loc: &Location) {
    if let SectionState::Proxy(p) = &ctx.section {
        if p.is_defaults() && p.name.is_none() {
            return ctx.fatal(
                loc,
                "not-in-defaults",
                "'acl' not allowed in anonymous 'defaults' section.",
            );
        }
    }
    let name = arg(words, 1).to_string();
    if name.is_empty() || arg(words, 2).is_empty() {
        return ctx.fatal(
            loc,
            "missing-argument",
            "'acl' expects an ACL name and a criterion.",
        );
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-' | ':')))
    {
        return ctx.fatal(
            &at(loc, words, 1),
            "bad-name",
            format!("character '{c}' is not permitted in acl name '{name}'"),
        );
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
    let SectionState::Proxy(p) = &mut ctx.section else {
        return;
    };
    match p
        .acls
        .iter_mut()
        .find(|a| a.name.as_deref() == Some(name.as_str()))
    {
        Some(a) => a.alternatives.push(expr),
        None => p.acls.push(Acl {
            name: Some(name),
            alternatives: vec![expr],
        }),
    }
}

/// A predefined ACL (`TRUE`, `METH_GET`, `LOCALHOST`...) as an expression.
fn predefined(name: &str) -> Option<AclExpr> {
    let simple = |fetch: &str, method: MatchMethod, patterns: &[&str]| AclExpr {
        fetch: Sample {
            fetch: fetch.into(),
            args: Vec::new(),
            converters: Vec::new(),
        },
        match_method: method,
        ignore_case: false,
        patterns: patterns.iter().map(|s| s.to_string()).collect(),
    };
    Some(match name {
        "TRUE" => simple("always_true", MatchMethod::Bool, &[]),
        "FALSE" => simple("always_false", MatchMethod::Bool, &[]),
        "LOCALHOST" => simple("src", MatchMethod::Ip, &["127.0.0.1/8", "::1"]),
        "HTTP" => simple("req.proto_http", MatchMethod::Bool, &[]),
        "RDP_COOKIE" => simple("req.rdp_cookie_cnt", MatchMethod::Int, &["gt", "0"]),
        "REQ_CONTENT" => simple("req.len", MatchMethod::Int, &["gt", "0"]),
        "WAIT_END" => simple("wait_end", MatchMethod::Bool, &[]),
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

const UNSUPPORTED_PREDEFINED: &[&str] = &["HTTP_1.0", "HTTP_1.1", "HTTP_CONTENT", "HTTP_URL_ABS"];

/// Parses `if|unless <terms>` starting at `words[start]`. Returns `None` after an error.
pub fn parse_condition(
    ctx: &mut Ctx,
    words: &[Word],
    start: usize,
    loc: &Location,
    what: &str,
) -> Option<Condition> {
    let unless = match arg(words, start) {
        "if" => false,
        "unless" => true,
        other => {
            ctx.fatal(
                &at(loc, words, start),
                "bad-condition",
                wrap(
                    what,
                    &format!(
                        "unexpected '{other}', expects 'if' or 'unless' followed by a condition"
                    ),
                ),
            );
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
                ctx.fatal(
                    &at(loc, words, i),
                    "bad-condition",
                    wrap(what, "missing closing '}' in condition"),
                );
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
            ctx.push(unsupported(
                &at(loc, words, i),
                &format!("predefined ACL {term}"),
            ));
            return None;
        } else {
            let mut d = super::super::diag::Diagnostic::parsing(
                super::super::diag::Severity::Fatal,
                "unknown-acl",
                at(loc, words, i),
                wrap(what, &format!("no such ACL : '{term}'")),
            );
            if what.contains("condition : {}.") {
                // HAProxy stops reading the file after a bad http-request/response condition.
                ctx.abort = true;
            }
            if term.starts_with('{') {
                d = d.with_help(
                    "an anonymous ACL needs spaces inside its braces: '{ fetch value }'",
                );
            } else if let Some(s) =
                super::super::suggest::best_match(term, acl_names(ctx).iter().map(String::as_str))
            {
                d = d.with_help(format!("did you mean the ACL '{s}'?"));
            } else {
                d = d.with_help(format!(
                    "declare it first with 'acl {term} <criterion> <value>' in this section"
                ));
            }
            ctx.push(d);
            return None;
        };
        if let Some(last) = any_of.last_mut() {
            last.push(CondTerm {
                negate,
                acl: acl_index,
            });
        }
        i += 1;
    }
    Some(Condition { unless, any_of })
}

fn unsupported_count(ctx: &Ctx) -> usize {
    ctx.diags
        .iter()
        .filter(|d| d.code == "unsupported-keyword")
        .count()
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
            p.acls.push(Acl {
                name: None,
                alternatives: vec![expr],
            });
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
        assert_eq!(implied_method("req_len").0, MatchMethod::Int);
        assert_eq!(implied_method("wait_end").0, MatchMethod::Bool);
    }

    #[test]
    fn dotted_versions() {
        let p = |v: &[&str]| {
            dotted_version_patterns(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>())
        };
        assert_eq!(p(&["3.1"]), Ok(vec![(0x30001).to_string()]));
        assert_eq!(
            p(&["3.1-3.3"]),
            Ok(vec![format!("{}:{}", 0x30001, 0x30003)])
        );
        assert_eq!(p(&[":3"]), Ok(vec![format!(":{}", 0x30000)]));
        assert_eq!(
            p(&["gt", "3"]),
            Ok(vec!["gt".to_string(), 0x30000.to_string()])
        );
        assert_eq!(p(&["3.x"]), Err("'3.x' is not a dotted number".to_string()));
        assert_eq!(
            p(&["3.3-3.1"]),
            Err("'3.3-3.1' is not a valid dotted number range".to_string())
        );
    }
}
