//! A minimal log-format evaluator for header values, redirect targets and paths.
//!
//! Supported: literal text, `%%`, `%[<sample>]` (any fetch of [`super::sample`], with the
//! `lower`/`upper` converters), and the aliases `%ci %cp %fi %fp %f %ft %b %s %H %pid %HM %HU
//! %HP %HV`. Format flags such as `%{+Q}` are parsed and ignored, which is what HAProxy 2.6
//! does in header values. A sample with no value renders as an empty string (verified
//! against 2.6.12: `set-header X %[req.hdr(missing)]` sends `x: `). Before a backend is
//! chosen, `%b` is the frontend's name and `%s` is `<NOSRV>`, as in HAProxy.

use crate::config::ir::Sample;

use super::sample::{fetch, ReqView};

/// One compiled piece of a log-format string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    Lit(String),
    Alias(String),
    Sample(Sample),
}

/// Splits `name(a,b),conv(x)` into a sample: the config layer's parser, so that ACLs and
/// log-format expressions read samples identically.
pub use crate::config::parse::acl::parse_sample;

/// Compiles a log-format string. Unbalanced `%[` is an error.
pub fn compile(fmt: &str) -> Result<Vec<Piece>, String> {
    let mut out = Vec::new();
    let mut lit = String::new();
    let mut chars = fmt.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if c != '%' {
            lit.push(c);
            continue;
        }
        // `%%` is a literal percent.
        if let Some(&(_, '%')) = chars.peek() {
            chars.next();
            lit.push('%');
            continue;
        }
        // Optional `{flags}`.
        let mut j = i + 1;
        if fmt[j..].starts_with('{') {
            match fmt[j..].find('}') {
                Some(end) => j += end + 1,
                None => return Err(format!("missing '}}' in log-format '{fmt}'")),
            }
        }
        if !lit.is_empty() {
            out.push(Piece::Lit(std::mem::take(&mut lit)));
        }
        let rest = &fmt[j..];
        let consumed;
        if let Some(inner) = rest.strip_prefix('[') {
            let mut depth = 1;
            let mut end = None;
            for (k, ch) in inner.char_indices() {
                match ch {
                    '[' => depth += 1,
                    ']' => {
                        depth -= 1;
                        if depth == 0 {
                            end = Some(k);
                            break;
                        }
                    }
                    _ => {}
                }
            }
            let Some(end) = end else {
                return Err(format!("missing ']' in log-format '{fmt}'"));
            };
            let s = parse_sample(&inner[..end])
                .ok_or_else(|| format!("invalid sample expression '{}'", &inner[..end]))?;
            out.push(Piece::Sample(s));
            consumed = 1 + end + 1;
        } else {
            let name_len = rest
                .bytes()
                .take_while(|b| b.is_ascii_alphanumeric())
                .count();
            if name_len == 0 {
                lit.push('%');
                consumed = 0;
            } else {
                out.push(Piece::Alias(rest[..name_len].to_string()));
                consumed = name_len;
            }
        }
        // Skip what was consumed.
        let target = j + consumed;
        while let Some(&(k, _)) = chars.peek() {
            if k >= target {
                break;
            }
            chars.next();
        }
    }
    if !lit.is_empty() {
        out.push(Piece::Lit(lit));
    }
    Ok(out)
}

/// Renders a log-format string for a request. Compile errors render the text as is.
pub fn render(fmt: &str, view: &ReqView<'_>) -> String {
    let pieces = match compile(fmt) {
        Ok(p) => p,
        Err(e) => {
            tracing::warn!("{e}");
            return fmt.to_string();
        }
    };
    let mut out = String::new();
    for p in &pieces {
        match p {
            Piece::Lit(s) => out.push_str(s),
            Piece::Sample(s) => match fetch(view, s) {
                Ok(vals) => {
                    if let Some(v) = vals.last() {
                        out.push_str(&v.to_text());
                    }
                }
                Err(e) => tracing::warn!("log-format: {e}"),
            },
            Piece::Alias(a) => out.push_str(&alias(a, view)),
        }
    }
    out
}

fn alias(name: &str, view: &ReqView<'_>) -> String {
    let fe_name = view
        .ctx
        .frontend_ir()
        .map(|f| f.name.clone())
        .unwrap_or_default();
    match name {
        "ci" => view.info.peer.ip().to_string(),
        "cp" => view.info.peer.port().to_string(),
        "fi" => view.info.local.ip().to_string(),
        "fp" => view.info.local.port().to_string(),
        "f" => fe_name,
        "ft" => {
            if view.info.tls {
                format!("{fe_name}~")
            } else {
                fe_name
            }
        }
        "b" => match view.backend.and_then(|b| view.ctx.config().backends.get(b)) {
            Some(b) => b.name.clone(),
            None => fe_name,
        },
        "s" => match (view.backend, view.server) {
            (Some(b), Some(s)) => view
                .ctx
                .config()
                .backends
                .get(b)
                .and_then(|be| be.servers.get(s))
                .map(|s| s.name.clone())
                .unwrap_or_else(|| "<NOSRV>".into()),
            _ => "<NOSRV>".into(),
        },
        "H" => hostname(),
        "pid" => view.ctx.state.pid.to_string(),
        "HM" => view.parts.method.as_str().to_string(),
        "HU" => view.parts.uri.to_string(),
        "HP" => view.parts.uri.path().to_string(),
        "HV" => format!("{:?}", view.parts.version),
        other => {
            tracing::warn!("log-format variable '%{other}' is not supported");
            String::new()
        }
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compiles() {
        let p = compile("a %[req.hdr(host),lower] %ci:%cp 100%% %{+Q}[src]").unwrap();
        assert_eq!(p[0], Piece::Lit("a ".into()));
        assert!(
            matches!(&p[1], Piece::Sample(s) if s.fetch == "req.hdr" && s.args == ["host"] && s.converters.len() == 1)
        );
        assert_eq!(p[2], Piece::Lit(" ".into()));
        assert_eq!(p[3], Piece::Alias("ci".into()));
        assert_eq!(p[4], Piece::Lit(":".into()));
        assert_eq!(p[5], Piece::Alias("cp".into()));
        assert_eq!(p[6], Piece::Lit(" 100% ".into()));
        assert!(matches!(&p[7], Piece::Sample(s) if s.fetch == "src"));
        assert!(compile("%[src").is_err());
        assert_eq!(compile("plain").unwrap(), vec![Piece::Lit("plain".into())]);
    }
}
