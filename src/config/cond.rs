//! `.if` / `.elif` conditions: HAProxy 2.6's small expression language, parsed with nom.
//!
//! `expr := and ('||' and)*`, `and := unary ('&&' unary)*`,
//! `unary := '!' unary | '(' expr ')' | term`, `term := predicate '(' args ')' | integer | ''`.
//! Predicates: `defined`, `feature`, `streq`, `strneq`, `version_atleast`, `version_before`.

use nom::branch::alt;
use nom::bytes::complete::{tag, take_while, take_while1};
use nom::character::complete::{char as ch, digit1, space0};
use nom::combinator::{opt, recognize};
use nom::sequence::pair;
use nom::{IResult, Parser};

/// The HAProxy version haproxide is compatible with, for `version_atleast`/`version_before`.
pub const COMPAT_VERSION: &str = "2.6.12";

/// The OpenSSL version the TLS stack is comparable to, for `openssl_version_*`.
pub const TLS_COMPAT_VERSION: &str = "3.0.0";

/// Build features reported to `feature(NAME)`: only what haproxide really provides.
pub const FEATURES: &[&str] = &["OPENSSL", "GETADDRINFO", "LINUX_SPLICE", "TFO"];

/// A condition error with HAProxy's message and the 0-based offset in the expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CondError {
    pub message: String,
    pub offset: usize,
}

/// What a predicate needs from the outside world.
pub trait CondEnv {
    fn is_defined(&self, var: &str) -> bool;
}

impl<F: Fn(&str) -> bool> CondEnv for F {
    fn is_defined(&self, var: &str) -> bool {
        self(var)
    }
}

struct Ctx<'a> {
    full: &'a str,
    env: &'a dyn CondEnv,
    error: Option<CondError>,
}

impl Ctx<'_> {
    fn offset(&self, rest: &str) -> usize {
        self.full.len() - rest.len()
    }
    fn fail(&mut self, rest: &str, message: String) {
        if self.error.is_none() {
            let offset = self.offset(rest);
            self.error = Some(CondError { message, offset });
        }
    }
}

/// Evaluates a condition written as `text` (the `.if` words joined by single spaces).
pub fn eval(text: &str, env: &dyn CondEnv) -> Result<bool, CondError> {
    let mut ctx = Ctx {
        full: text,
        env,
        error: None,
    };
    let trimmed = text.trim_start();
    if trimmed.is_empty() {
        return Ok(false);
    }
    let result = expr(&mut ctx, trimmed);
    if let Some(e) = ctx.error {
        return Err(e);
    }
    match result {
        Some((rest, value)) => {
            let rest = rest.trim_start();
            if rest.is_empty() {
                Ok(value)
            } else {
                let first = rest.chars().next().unwrap_or(' ');
                Err(CondError {
                    message: format!("unexpected character '{first}' at the end of conditional expression '{text}'"),
                    offset: text.len() - rest.len(),
                })
            }
        }
        None => Err(CondError {
            message: format!("unparsable conditional expression '{text}'"),
            offset: 0,
        }),
    }
}

fn skip_ws(input: &str) -> &str {
    let r: IResult<&str, &str> = space0(input);
    r.map(|(rest, _)| rest).unwrap_or(input)
}

fn expr<'a>(ctx: &mut Ctx<'_>, input: &'a str) -> Option<(&'a str, bool)> {
    let (mut rest, mut value) = and_expr(ctx, input)?;
    loop {
        let r = skip_ws(rest);
        let op: IResult<&str, &str> = tag("||").parse(r);
        match op {
            Ok((after, _)) => {
                let (next, v) = and_expr(ctx, skip_ws(after))?;
                value = value || v;
                rest = next;
            }
            Err(_) => return Some((rest, value)),
        }
    }
}

fn and_expr<'a>(ctx: &mut Ctx<'_>, input: &'a str) -> Option<(&'a str, bool)> {
    let (mut rest, mut value) = unary(ctx, input)?;
    loop {
        let r = skip_ws(rest);
        let op: IResult<&str, &str> = tag("&&").parse(r);
        match op {
            Ok((after, _)) => {
                let (next, v) = unary(ctx, skip_ws(after))?;
                value = value && v;
                rest = next;
            }
            Err(_) => return Some((rest, value)),
        }
    }
}

fn unary<'a>(ctx: &mut Ctx<'_>, input: &'a str) -> Option<(&'a str, bool)> {
    let input = skip_ws(input);
    if let Some(after) = input.strip_prefix('!') {
        let (rest, v) = unary(ctx, after)?;
        return Some((rest, !v));
    }
    if let Some(after) = input.strip_prefix('(') {
        let (rest, v) = expr(ctx, after)?;
        let rest = skip_ws(rest);
        return match rest.strip_prefix(')') {
            Some(r) => Some((r, v)),
            None => {
                let full = ctx.full.to_string();
                ctx.fail(
                    input,
                    format!("expected ')' after conditional expression '{full}'"),
                );
                None
            }
        };
    }
    term(ctx, input)
}

fn integer(input: &str) -> IResult<&str, &str> {
    recognize(pair(opt(alt((ch('-'), ch('+')))), digit1)).parse(input)
}

fn ident(input: &str) -> IResult<&str, &str> {
    take_while1(|c: char| c.is_ascii_alphanumeric() || c == '_').parse(input)
}

/// A predicate's evaluation, given the environment and its arguments.
type Predicate = fn(&dyn CondEnv, &[&str]) -> bool;

fn term<'a>(ctx: &mut Ctx<'_>, input: &'a str) -> Option<(&'a str, bool)> {
    if let Ok((rest, n)) = integer(input) {
        if !rest.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '(') {
            return Some((rest, n.parse::<i64>().map(|v| v != 0).unwrap_or(true)));
        }
    }
    let Ok((rest, name)) = ident(input) else {
        return None;
    };
    let (arity, eval_fn): (usize, Predicate) = match name {
        "defined" => (1, |env, a| env.is_defined(a[0])),
        "feature" => (1, |_, a| FEATURES.contains(&a[0])),
        "streq" => (2, |_, a| a[0] == a[1]),
        "strneq" => (2, |_, a| a[0] != a[1]),
        "version_atleast" => (1, |_, a| {
            compare_versions(COMPAT_VERSION, a[0]) != std::cmp::Ordering::Less
        }),
        "version_before" => (1, |_, a| {
            compare_versions(COMPAT_VERSION, a[0]) == std::cmp::Ordering::Less
        }),
        // haproxide's TLS stack is rustls, which offers what OpenSSL 3.0 offers to configs
        // that probe versions (TLS 1.3, modern ciphers); its library name is "rustls".
        "openssl_version_atleast" => (1, |_, a| {
            compare_versions(TLS_COMPAT_VERSION, a[0]) != std::cmp::Ordering::Less
        }),
        "openssl_version_before" => (1, |_, a| {
            compare_versions(TLS_COMPAT_VERSION, a[0]) == std::cmp::Ordering::Less
        }),
        "ssllib_name_startswith" => (1, |_, a| "rustls".starts_with(a[0])),
        _ => return None,
    };
    let args_start = rest.strip_prefix('(')?;
    let arg: IResult<&str, &str> = take_while(|c: char| c != ')').parse(args_start);
    let Ok((after_args, raw_args)) = arg else {
        return None;
    };
    let args: Vec<&str> = if raw_args.is_empty() {
        Vec::new()
    } else {
        raw_args.split(',').collect()
    };
    if args.len() < arity {
        let at = if args.is_empty() {
            args_start
        } else {
            after_args
        };
        ctx.fail(
            at,
            format!(
                "missing arguments (got {}/{arity}), type 'string' expected in argument {} of predicate '{name}' used in conditional expression",
                args.len(),
                args.len()
            ),
        );
        return None;
    }
    if args.len() > arity {
        ctx.fail(after_args, format!("end of arguments expected at position {}, but got ',{}' in predicate '{name}' used in conditional expression", arity + 1, args[arity..].join(",")));
        return None;
    }
    let rest = after_args.strip_prefix(')')?;
    Some((rest, eval_fn(ctx.env, &args)))
}

/// Compares HAProxy versions such as `2.6.12`, `2.4`, `2.6-dev3`: numeric parts in order,
/// a `-devN` suffix sorts before the release it leads to.
pub fn compare_versions(a: &str, b: &str) -> std::cmp::Ordering {
    fn key(v: &str) -> (Vec<u64>, i64) {
        let (nums, dev) = match v.split_once("-dev") {
            Some((n, d)) => (n, d.parse::<i64>().unwrap_or(0) - 1_000_000),
            None => (v, 0),
        };
        let mut parts: Vec<u64> = nums.split('.').map(|p| p.parse().unwrap_or(0)).collect();
        while parts.len() < 3 {
            parts.push(0);
        }
        (parts, dev)
    }
    key(a).cmp(&key(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(v: &str) -> bool {
        v == "HOME"
    }

    fn ev(s: &str) -> Result<bool, CondError> {
        eval(s, &env)
    }

    #[test]
    fn literals() {
        assert_eq!(ev("1"), Ok(true));
        assert_eq!(ev("0"), Ok(false));
        assert_eq!(ev("00"), Ok(false));
        assert_eq!(ev("-1"), Ok(true));
        assert_eq!(ev(""), Ok(false));
    }

    #[test]
    fn operators() {
        assert_eq!(ev("(1 || 0) && !0"), Ok(true));
        assert_eq!(ev("!(0)"), Ok(true));
        assert_eq!(ev("0 || 0 && 1"), Ok(false));
        assert_eq!(ev("1 || 0 && 0"), Ok(true));
    }

    #[test]
    fn predicates() {
        assert_eq!(ev("defined(HOME)"), Ok(true));
        assert_eq!(ev("defined(NOPE)"), Ok(false));
        assert_eq!(ev("streq(a,a) && strneq(a,b)"), Ok(true));
        assert_eq!(ev("feature(OPENSSL)"), Ok(true));
        assert_eq!(ev("version_atleast(2.6.12)"), Ok(true));
        assert_eq!(ev("version_atleast(2.7)"), Ok(false));
        assert_eq!(ev("version_before(2.6.13)"), Ok(true));
        assert_eq!(ev("version_atleast(2.6-dev3)"), Ok(true));
    }

    #[test]
    fn errors_match_haproxy() {
        assert_eq!(
            ev("abc").unwrap_err().message,
            "unparsable conditional expression 'abc'"
        );
        assert_eq!(ev("foo(1)").unwrap_err().offset, 0);
        let e = ev("1 2").unwrap_err();
        assert_eq!(
            (e.message.as_str(), e.offset),
            (
                "unexpected character '2' at the end of conditional expression '1 2'",
                2
            )
        );
        let e = ev("(1").unwrap_err();
        assert_eq!(
            (e.message.as_str(), e.offset),
            ("expected ')' after conditional expression '(1'", 0)
        );
        let e = ev("streq(a)").unwrap_err();
        assert_eq!(e.offset, 7);
        assert!(e.message.starts_with("missing arguments (got 1/2)"));
    }
}
