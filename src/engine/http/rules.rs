//! `http-request`, `redirect` and `http-response` rule application, and the local replies
//! they produce (deny, return, redirect, auth), byte for byte as HAProxy 2.6 writes them.

use bytes::Bytes;
use hyper::http::{header, request, response, HeaderName, HeaderValue, StatusCode};

use crate::config::ir::{Acl, ErrorFile, HttpAction, HttpRule, Redirect, RedirectKind};

use super::acl::cond_ok;
use super::errors::{error_bytes, Origin};
use super::logfmt::render;
use super::sample::ReqView;

/// What request rules decided.
pub enum Verdict {
    /// Continue with the next rule set / routing.
    Continue,
    /// Send these bytes (an HTTP/1 response) and end the transaction.
    Reply(Bytes),
}

/// The reason phrase HAProxy uses for a status it generates.
pub fn reason(status: u16) -> &'static str {
    StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("Unknown")
}

/// Sets or adds a header, ignoring values that are not valid header text.
fn put_header(map: &mut hyper::http::HeaderMap, name: &str, value: &str, replace: bool) {
    let (Ok(n), Ok(v)) = (
        HeaderName::from_bytes(name.as_bytes()),
        HeaderValue::from_str(value),
    ) else {
        tracing::warn!("skipping invalid header '{name}: {value}'");
        return;
    };
    if replace {
        map.insert(n, v);
    } else {
        map.append(n, v);
    }
}

/// Context a rule set runs in.
pub struct RuleEnv<'a> {
    pub acls: &'a [Acl],
    /// The proxy's name (default auth realm).
    pub proxy_name: &'a str,
    pub fe_errorfiles: &'a [ErrorFile],
    pub be_errorfiles: &'a [ErrorFile],
}

/// Runs `http-request` rules over `parts`; each rule sees the effect of the earlier ones.
pub fn apply_request_rules(
    rules: &[HttpRule],
    env: &RuleEnv<'_>,
    parts: &mut request::Parts,
    owned: &ReqViewOwned,
) -> Verdict {
    for rule in rules {
        let view = owned.view(parts);
        if !cond_ok(&view, env.acls, rule.cond.as_ref()) {
            continue;
        }
        match &rule.action {
            HttpAction::Allow => return Verdict::Continue,
            HttpAction::Deny { status } => {
                return Verdict::Reply(error_bytes(
                    *status,
                    Origin::Stream,
                    env.be_errorfiles,
                    env.fe_errorfiles,
                ))
            }
            HttpAction::Return {
                status,
                content_type,
                body,
            } => {
                return Verdict::Reply(return_bytes(
                    *status,
                    content_type.as_deref(),
                    body.as_deref(),
                ))
            }
            HttpAction::Redirect(r) => return Verdict::Reply(redirect_bytes(r, &view)),
            HttpAction::Auth { realm } => {
                let realm = realm.as_deref().unwrap_or(env.proxy_name);
                return Verdict::Reply(auth_bytes(realm, env));
            }
            HttpAction::SetHeader { name, value } => {
                let v = render(&value.0, &view);
                put_header(&mut parts.headers, name, &v, true);
            }
            HttpAction::AddHeader { name, value } => {
                let v = render(&value.0, &view);
                put_header(&mut parts.headers, name, &v, false);
            }
            HttpAction::DelHeader { name } => {
                if let Ok(n) = HeaderName::from_bytes(name.as_bytes()) {
                    parts.headers.remove(n);
                }
            }
            HttpAction::SetPath { value } => {
                let p = render(&value.0, &view);
                set_path(parts, &p);
            }
            HttpAction::ReplacePath { .. } => {
                tracing::warn!("{}: replace-path needs regular expressions, which are not supported; rule skipped", rule.origin);
            }
            HttpAction::SetStatus { .. } => {}
        }
    }
    Verdict::Continue
}

/// Everything a [`ReqView`] needs apart from the head, so views can be rebuilt after each
/// mutation of the head.
pub struct ReqViewOwned {
    pub info: crate::engine::conn::ConnInfo,
    pub ctx: crate::engine::conn::ConnCtx,
    pub backend: Option<usize>,
    pub server: Option<usize>,
}

impl ReqViewOwned {
    pub fn view<'a>(&'a self, parts: &'a request::Parts) -> ReqView<'a> {
        ReqView {
            parts,
            info: &self.info,
            ctx: &self.ctx,
            backend: self.backend,
            server: self.server,
            l6: None,
        }
    }
}

/// Replaces the path of the request URI, keeping the query string.
fn set_path(parts: &mut request::Parts, path: &str) {
    let mut pq = path.to_string();
    if let Some(q) = parts.uri.query() {
        pq.push('?');
        pq.push_str(q);
    }
    let mut b = hyper::http::uri::Builder::new();
    if let Some(s) = parts.uri.scheme() {
        b = b.scheme(s.clone());
    }
    if let Some(a) = parts.uri.authority() {
        b = b.authority(a.clone());
    }
    match b.path_and_query(pq).build() {
        Ok(u) => parts.uri = u,
        Err(e) => tracing::warn!("set-path produced an invalid URI: {e}"),
    }
}

/// `http-request return`: status line, `content-length`, optional `content-type`, body.
pub fn return_bytes(status: u16, content_type: Option<&str>, body: Option<&str>) -> Bytes {
    let body = body.unwrap_or("");
    let mut out = format!(
        "HTTP/1.1 {status} {}\r\ncontent-length: {}\r\n",
        reason(status),
        body.len()
    );
    if let Some(ct) = content_type {
        out.push_str(&format!("content-type: {ct}\r\n"));
    }
    out.push_str("\r\n");
    out.push_str(body);
    Bytes::from(out)
}

/// The 401 challenge: HAProxy's 401 message plus `www-authenticate` (a 401 errorfile, when
/// present, replaces the message and gets the header appended to its head).
fn auth_bytes(realm: &str, env: &RuleEnv<'_>) -> Bytes {
    let base = error_bytes(401, Origin::Stream, env.be_errorfiles, env.fe_errorfiles);
    let Some(end) = super::errors::find_head_end(&base) else {
        return base;
    };
    // Insert before the blank line.
    let blank = if base[..end].ends_with(b"\r\n\r\n") {
        end - 2
    } else {
        end - 1
    };
    let mut out = Vec::with_capacity(base.len() + 64);
    out.extend_from_slice(&base[..blank]);
    out.extend_from_slice(format!("www-authenticate: Basic realm=\"{realm}\"\r\n").as_bytes());
    out.extend_from_slice(&base[blank..]);
    Bytes::from(out)
}

/// A redirect response as HAProxy 2.6 builds it (verified for 301/302/303/307/308, prefix
/// with and without `drop-query`/`append-slash`, scheme, set-cookie and clear-cookie).
pub fn redirect_bytes(r: &Redirect, view: &ReqView<'_>) -> Bytes {
    let target = render(&r.target.0, view);
    let uri = &view.parts.uri;
    let mut path = uri.path().to_string();
    if r.append_slash && !path.ends_with('/') {
        path.push('/');
    }
    let path_q = match (r.drop_query, uri.query()) {
        (false, Some(q)) => format!("{path}?{q}"),
        _ => path,
    };
    let location = match r.kind {
        RedirectKind::Location => target,
        RedirectKind::Prefix => {
            if target == "/" {
                path_q
            } else {
                format!("{target}{path_q}")
            }
        }
        RedirectKind::Scheme => {
            let host = view
                .parts
                .headers
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
                .unwrap_or("");
            format!("{target}://{host}{path_q}")
        }
    };
    let mut out = format!(
        "HTTP/1.1 {} {}\r\ncontent-length: 0\r\nlocation: {location}\r\n",
        r.code,
        reason(r.code)
    );
    if matches!(r.code, 302 | 303 | 307) {
        out.push_str("cache-control: no-cache\r\n");
    }
    if let Some(c) = &r.set_cookie {
        out.push_str(&format!("set-cookie: {c}; path=/;\r\n"));
    }
    if let Some(c) = &r.clear_cookie {
        let c = if c.ends_with('=') {
            c.clone()
        } else {
            format!("{c}=")
        };
        out.push_str(&format!("set-cookie: {c}; path=/; Max-Age=0;\r\n"));
    }
    out.push_str("\r\n");
    Bytes::from(out)
}

/// A status line override set by `http-response set-status ... reason`.
#[derive(Debug, Clone)]
pub struct CustomReason(pub String);

/// Runs `http-response` rules over a server response; `Some(bytes)` replaces it (deny).
pub fn apply_response_rules(
    rules: &[HttpRule],
    env: &RuleEnv<'_>,
    resp: &mut response::Parts,
    view: &ReqView<'_>,
) -> Option<Bytes> {
    for rule in rules {
        if !cond_ok(view, env.acls, rule.cond.as_ref()) {
            continue;
        }
        match &rule.action {
            HttpAction::Allow => return None,
            HttpAction::Deny { status } => {
                return Some(error_bytes(
                    *status,
                    Origin::Stream,
                    env.be_errorfiles,
                    env.fe_errorfiles,
                ))
            }
            HttpAction::SetHeader { name, value } => {
                put_header(&mut resp.headers, name, &render(&value.0, view), true)
            }
            HttpAction::AddHeader { name, value } => {
                put_header(&mut resp.headers, name, &render(&value.0, view), false)
            }
            HttpAction::DelHeader { name } => {
                if let Ok(n) = HeaderName::from_bytes(name.as_bytes()) {
                    resp.headers.remove(n);
                }
            }
            HttpAction::SetStatus { status, reason } => {
                if let Ok(s) = StatusCode::from_u16(*status) {
                    resp.status = s;
                    resp.extensions.remove::<hyper::ext::ReasonPhrase>();
                    resp.extensions.remove::<CustomReason>();
                    if let Some(r) = reason {
                        resp.extensions.insert(CustomReason(r.clone()));
                    }
                }
            }
            other => tracing::warn!(
                "{}: {:?} is not a response action; skipped",
                rule.origin,
                other
            ),
        }
    }
    None
}
