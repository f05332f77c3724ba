//! The HTTP side of `option httpchk`: the request HAProxy 2.6 puts on the wire for an
//! `http-check send` rule (built as HTX by `tcpcheck_eval_send()`, serialised by the H1 mux)
//! and a small HTTP/1.x response reader.
//!
//! Request rules, each observed on the wire from haproxy 2.6.12:
//! - request line `METH URI VER`: the method and URI as configured (URI `/` when empty); the
//!   version is `HTTP/1.1` when the configured one is 1.1 or later (`HTTP/2.0` too), else the
//!   configured text (`HTTP/1.0` by default);
//! - the `hdr` headers in order, names lower-cased, empty values skipped; `Content-Length`,
//!   `Transfer-Encoding` and `Connection` given by the user are not copied as such;
//! - `content-length: N` when there is a body, and `content-length: 0` for a body-less
//!   request unless the method is GET, HEAD, OPTIONS or DELETE;
//! - `connection: close` last for HTTP/1.1 unless the user set `Connection` (`close` keeps
//!   it, `keep-alive` drops it); for HTTP/1.0 only a user `keep-alive` is written.

/// The bytes of the request for `method uri version` with `headers` and `body`.
pub fn build_request(
    method: &str,
    uri: &str,
    version: &str,
    headers: &[(String, String)],
    body: Option<&str>,
) -> Vec<u8> {
    let uri = if uri.is_empty() { "/" } else { uri };
    let version = if version.is_empty() {
        "HTTP/1.0"
    } else {
        version
    };
    let v = version.as_bytes();
    // tcpcheck_eval_send(): HTX_SL_F_VER_11 for "HTTP/2" or HTTP/x.y >= 1.1.
    let ver11 = (v.len() == 6 && v[5] == b'2')
        || (v.len() == 8 && (v[5] > b'1' || (v[5] == b'1' && v[7] >= b'1')));
    let mut out = Vec::with_capacity(128);
    out.extend_from_slice(method.as_bytes());
    out.push(b' ');
    out.extend_from_slice(uri.as_bytes());
    out.push(b' ');
    out.extend_from_slice(if ver11 { b"HTTP/1.1" } else { v });
    out.extend_from_slice(b"\r\n");

    // None: no user Connection header (the check adds "close").
    let mut conn: Option<(bool, bool)> = None;
    for (name, value) in headers {
        if value.is_empty() {
            continue;
        }
        let lname = name.to_ascii_lowercase();
        match lname.as_str() {
            "content-length" | "transfer-encoding" => continue,
            "connection" => {
                let (mut close, mut ka) = conn.unwrap_or((false, false));
                for tok in value.split(',').map(|t| t.trim().to_ascii_lowercase()) {
                    close |= tok == "close";
                    ka |= tok == "keep-alive";
                }
                conn = Some((close, ka));
                continue;
            }
            _ => {}
        }
        out.extend_from_slice(lname.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    let bodyless_method = matches!(method, "GET" | "HEAD" | "OPTIONS" | "DELETE");
    match body {
        Some(b) => {
            out.extend_from_slice(format!("content-length: {}\r\n", b.len()).as_bytes());
        }
        None if !bodyless_method => out.extend_from_slice(b"content-length: 0\r\n"),
        None => {}
    }
    let (close, ka) = conn.unwrap_or((true, false));
    if ver11 && close {
        out.extend_from_slice(b"connection: close\r\n");
    } else if !ver11 && ka && !close {
        out.extend_from_slice(b"connection: keep-alive\r\n");
    }
    out.extend_from_slice(b"\r\n");
    if let Some(b) = body {
        out.extend_from_slice(b.as_bytes());
    }
    out
}

/// HAProxy reads a check response into one buffer (`tune.bufsize`); once it is full no more
/// data is expected.
pub const RESPONSE_LIMIT: usize = 16384;

/// A response as far as it was received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u32,
    pub reason: Vec<u8>,
    /// The body received so far (de-chunked).
    pub body: Vec<u8>,
    /// The whole message was received (known length reached, last chunk, or no body).
    pub complete: bool,
}

/// The response head is not HTTP/1.x as HAProxy's parser accepts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParseError;

fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// Splits one line off `data` at `pos` (CRLF or bare LF); returns the line without its end
/// and the offset after it, or `None` when no complete line is there.
fn line_at(data: &[u8], pos: usize) -> Option<(&[u8], usize)> {
    let rest = data.get(pos..)?;
    let nl = rest.iter().position(|&b| b == b'\n')?;
    let line = &rest[..nl];
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    Some((line, pos + nl + 1))
}

/// Parses what was received of a response to a request (`head_request`: the method was
/// HEAD, so there is no body). `Ok(None)`: the head is not complete yet.
pub fn parse_response(data: &[u8], head_request: bool) -> Result<Option<Response>, ParseError> {
    let Some((sl, mut pos)) = line_at(data, 0) else {
        return if data.len() >= RESPONSE_LIMIT {
            Err(ParseError)
        } else {
            Ok(None)
        };
    };
    // Status line: HTTP/x.y SP code [SP reason].
    let ver = sl.get(..8).ok_or(ParseError)?;
    if !(ver.starts_with(b"HTTP/")
        && ver[5].is_ascii_digit()
        && ver[6] == b'.'
        && ver[7].is_ascii_digit())
    {
        return Err(ParseError);
    }
    let rest = sl.get(8..).ok_or(ParseError)?;
    let rest = rest.strip_prefix(b" ").ok_or(ParseError)?;
    let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    if digits == 0 || digits > 9 {
        return Err(ParseError);
    }
    let status: u32 = std::str::from_utf8(&rest[..digits])
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or(ParseError)?;
    let reason = match rest.get(digits) {
        None => Vec::new(),
        Some(b' ') => rest[digits + 1..].to_vec(),
        Some(_) => return Err(ParseError),
    };

    // Headers.
    let mut clen: Option<usize> = None;
    let mut chunked = false;
    loop {
        let Some((line, next)) = line_at(data, pos) else {
            return if data.len() >= RESPONSE_LIMIT {
                Err(ParseError)
            } else {
                Ok(None)
            };
        };
        pos = next;
        if line.is_empty() {
            break;
        }
        let colon = line.iter().position(|&b| b == b':').ok_or(ParseError)?;
        let name = &line[..colon];
        if name.is_empty() || !name.iter().all(|&b| is_tchar(b)) {
            return Err(ParseError);
        }
        let value = trim(&line[colon + 1..]);
        if name.eq_ignore_ascii_case(b"content-length") {
            let v = std::str::from_utf8(value)
                .ok()
                .and_then(|s| s.parse::<usize>().ok())
                .ok_or(ParseError)?;
            if clen.is_some_and(|c| c != v) {
                return Err(ParseError);
            }
            clen = Some(v);
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            chunked = value
                .rsplit(|&b| b == b',')
                .next()
                .map(trim)
                .is_some_and(|t| t.eq_ignore_ascii_case(b"chunked"));
        }
    }

    let raw_body = &data[pos..];
    let no_body = head_request || status < 200 || status == 204 || status == 304;
    let (body, complete) = if no_body {
        (Vec::new(), true)
    } else if chunked {
        dechunk(raw_body)?
    } else if let Some(n) = clen {
        let take = raw_body.len().min(n);
        (raw_body[..take].to_vec(), raw_body.len() >= n)
    } else {
        (raw_body.to_vec(), false)
    };
    Ok(Some(Response {
        status,
        reason,
        body,
        complete,
    }))
}

fn trim(v: &[u8]) -> &[u8] {
    let start = v
        .iter()
        .position(|b| !b" \t".contains(b))
        .unwrap_or(v.len());
    let end = v
        .iter()
        .rposition(|b| !b" \t".contains(b))
        .map_or(start, |e| e + 1);
    &v[start..end.max(start)]
}

/// Decodes a chunked body as far as received: the data so far and whether the last chunk
/// (and trailers) arrived.
fn dechunk(mut raw: &[u8]) -> Result<(Vec<u8>, bool), ParseError> {
    let mut body = Vec::new();
    loop {
        let Some((line, next)) = line_at(raw, 0) else {
            return Ok((body, false));
        };
        let hex = line.split(|&b| b == b';').next().map(trim).unwrap_or(b"");
        if hex.is_empty() || hex.len() > 15 || !hex.iter().all(u8::is_ascii_hexdigit) {
            return Err(ParseError);
        }
        let size = usize::from_str_radix(std::str::from_utf8(hex).map_err(|_| ParseError)?, 16)
            .map_err(|_| ParseError)?;
        raw = &raw[next..];
        if size == 0 {
            // Trailers up to an empty line.
            let mut p = 0;
            loop {
                let Some((l, n)) = line_at(raw, p) else {
                    return Ok((body, false));
                };
                p = n;
                if l.is_empty() {
                    return Ok((body, true));
                }
            }
        }
        if raw.len() < size {
            body.extend_from_slice(raw);
            return Ok((body, false));
        }
        body.extend_from_slice(&raw[..size]);
        raw = &raw[size..];
        match raw {
            [] | [b'\r'] => return Ok((body, false)),
            [b'\r', b'\n', ..] => raw = &raw[2..],
            [b'\n', ..] => raw = &raw[1..],
            _ => return Err(ParseError),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hdrs(v: &[(&str, &str)]) -> Vec<(String, String)> {
        v.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    fn req(m: &str, u: &str, v: &str, h: &[(&str, &str)], b: Option<&str>) -> String {
        String::from_utf8(build_request(m, u, v, &hdrs(h), b)).unwrap()
    }

    // Each expected request is what a server received from haproxy 2.6.12.
    #[test]
    fn requests_match_haproxy() {
        assert_eq!(
            req("GET", "/health", "HTTP/1.0", &[], None),
            "GET /health HTTP/1.0\r\n\r\n"
        );
        assert_eq!(
            req("OPTIONS", "/", "HTTP/1.0", &[], None),
            "OPTIONS / HTTP/1.0\r\n\r\n"
        );
        assert_eq!(
            req("GET", "/h1", "HTTP/1.1", &[], None),
            "GET /h1 HTTP/1.1\r\nconnection: close\r\n\r\n"
        );
        assert_eq!(
            req(
                "POST",
                "/h2",
                "HTTP/1.1",
                &[("Host", "example.com"), ("X-Foo", "bar")],
                Some("hello world")
            ),
            "POST /h2 HTTP/1.1\r\nhost: example.com\r\nx-foo: bar\r\ncontent-length: 11\r\nconnection: close\r\n\r\nhello world"
        );
        assert_eq!(
            req("OPTIONS", "/h5", "HTTP/1.0", &[("Host", "x")], None),
            "OPTIONS /h5 HTTP/1.0\r\nhost: x\r\n\r\n"
        );
        assert_eq!(
            req("POST", "/a", "HTTP/1.0", &[], Some("abc")),
            "POST /a HTTP/1.0\r\ncontent-length: 3\r\n\r\nabc"
        );
        assert_eq!(
            req(
                "POST",
                "/b",
                "HTTP/1.1",
                &[("Connection", "keep-alive")],
                None
            ),
            "POST /b HTTP/1.1\r\ncontent-length: 0\r\n\r\n"
        );
        assert_eq!(
            req("GET", "/c", "HTTP/1.1", &[("Content-Length", "5")], None),
            "GET /c HTTP/1.1\r\nconnection: close\r\n\r\n"
        );
        assert_eq!(
            req("get", "http://foo.com/x?y", "HTTP/1.1", &[], None),
            "get http://foo.com/x?y HTTP/1.1\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
        );
        assert_eq!(
            req("GET", "/e", "HTTP/2.0", &[], None),
            "GET /e HTTP/1.1\r\nconnection: close\r\n\r\n"
        );
        assert_eq!(
            req("POST", "/a", "HTTP/1.0", &[], None),
            "POST /a HTTP/1.0\r\ncontent-length: 0\r\n\r\n"
        );
        assert_eq!(
            req(
                "OPTIONS",
                "/b",
                "HTTP/1.1",
                &[("Connection", "close"), ("X-A", "b")],
                None
            ),
            "OPTIONS /b HTTP/1.1\r\nx-a: b\r\nconnection: close\r\n\r\n"
        );
        assert_eq!(
            req("DELETE", "/c", "HTTP/1.1", &[], None),
            "DELETE /c HTTP/1.1\r\nconnection: close\r\n\r\n"
        );
        assert_eq!(
            req("HEAD", "/d", "HTTP/1.1", &[("Host", "h")], Some("xyz")),
            "HEAD /d HTTP/1.1\r\nhost: h\r\ncontent-length: 3\r\nconnection: close\r\n\r\nxyz"
        );
        assert_eq!(
            req(
                "GET",
                "/e",
                "HTTP/1.0",
                &[
                    ("Connection", "keep-alive"),
                    ("Transfer-Encoding", "chunked")
                ],
                None
            ),
            "GET /e HTTP/1.0\r\nconnection: keep-alive\r\n\r\n"
        );
        assert_eq!(
            req("PUT", "/f", "HTTP/1.1", &[], Some("x")),
            "PUT /f HTTP/1.1\r\ncontent-length: 1\r\nconnection: close\r\n\r\nx"
        );
        assert_eq!(
            req("OPTIONS", "*", "HTTP/1.1", &[("Host", "www")], None),
            "OPTIONS * HTTP/1.1\r\nhost: www\r\nconnection: close\r\n\r\n"
        );
        for m in ["TRACE", "PATCH"] {
            assert_eq!(
                req(m, "/a", "HTTP/1.1", &[], None),
                format!("{m} /a HTTP/1.1\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
            );
        }
        assert_eq!(
            req("POST", "/d", "HTTP/1.1", &[("content-length", "5")], None),
            "POST /d HTTP/1.1\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
        );
    }

    #[test]
    fn responses() {
        let r = parse_response(
            b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n",
            false,
        )
        .unwrap()
        .unwrap();
        assert_eq!(
            (r.status, &r.reason[..], r.complete),
            (503, &b"Service Unavailable"[..], true)
        );
        let r = parse_response(b"HTTP/1.0 200\r\n\r\n", false)
            .unwrap()
            .unwrap();
        assert_eq!((r.status, r.reason.len(), r.complete), (200, 0, false));
        assert_eq!(parse_response(b"garbage\r\n\r\n", false), Err(ParseError));
        assert_eq!(parse_response(b"HTTP/1.1 200 OK", false), Ok(None));
        assert_eq!(
            parse_response(b"HTTP/1.1 200 OK\r\nX: y\r\n", false),
            Ok(None)
        );
        let r = parse_response(b"HTTP/1.1 2000 OK\r\n\r\n", false)
            .unwrap()
            .unwrap();
        assert_eq!(r.status, 2000);
        let r = parse_response(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", false)
            .unwrap()
            .unwrap();
        assert_eq!((&r.body[..], r.complete), (&b"abc"[..], false));
        let r = parse_response(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabcxyz", false)
            .unwrap()
            .unwrap();
        assert_eq!((&r.body[..], r.complete), (&b"abc"[..], true));
        let r = parse_response(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nxy\n\r\n3\r\nxyz\r\n0\r\n\r\n",
            false,
        )
        .unwrap()
        .unwrap();
        assert_eq!((&r.body[..], r.complete), (&b"xy\nxyz"[..], true));
        let r = parse_response(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nab",
            false,
        )
        .unwrap()
        .unwrap();
        assert_eq!((&r.body[..], r.complete), (&b"ab"[..], false));
        let r = parse_response(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", true)
            .unwrap()
            .unwrap();
        assert!(r.complete && r.body.is_empty());
        let r = parse_response(
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 500 x\r\n\r\n",
            false,
        )
        .unwrap()
        .unwrap();
        assert_eq!((r.status, r.complete), (100, true));
        assert_eq!(
            parse_response(b"HTTP/1.1 200 OK\r\nBad Header: x\r\n\r\n", false),
            Err(ParseError)
        );
    }
}
