//! HAProxy 2.6's locally generated HTTP responses, byte for byte, and `errorfile` overrides.
//!
//! The bodies and header lines below were captured from HAProxy 2.6.12 on 127.0.0.1 (see the
//! table in the module tests). Two flavours exist in HAProxy and both are reproduced:
//! - errors emitted by the HTTP/1 mux itself when a request cannot even be parsed or its
//!   head did not arrive in time (400, 408): the raw message text from `http_err_msgs[]`,
//!   with capitalised header names and `Connection: close` ([`raw_mux_error`]);
//! - errors produced by the stream (deny, no server, server timeout, bad response...), which
//!   go through HTX and come out with lower-case names, `connection: close` moved last and
//!   only present for 400/408 ([`default_error`]).
//!
//! An `errorfile` for the status replaces either flavour and is sent verbatim.

use bytes::Bytes;

use crate::config::ir::ErrorFile;

/// Status codes HAProxy has a built-in message for.
pub const KNOWN: &[u16] = &[
    200, 400, 401, 403, 404, 405, 407, 408, 410, 413, 421, 422, 425, 429, 500, 501, 502, 503, 504,
];

/// (status, reason, explanation line) as HAProxy 2.6 writes them.
fn message(status: u16) -> Option<(&'static str, &'static str)> {
    Some(match status {
        200 => ("200 OK", "Service ready."),
        400 => ("400 Bad request", "Your browser sent an invalid request."),
        401 => ("401 Unauthorized", "You need a valid user and password to access this content."),
        403 => ("403 Forbidden", "Request forbidden by administrative rules."),
        404 => ("404 Not Found", "The resource could not be found."),
        405 => (
            "405 Method Not Allowed",
            "A request was made of a resource using a request method not supported by that resource",
        ),
        407 => ("407 Unauthorized", "You need a valid user and password to access this content."),
        408 => ("408 Request Time-out", "Your browser didn't send a complete request in time."),
        410 => ("410 Gone", "The resource is no longer available and will not be available again."),
        413 => ("413 Payload Too Large", "The request entity exceeds the maximum allowed."),
        421 => ("421 Misdirected Request", "Request sent to a non-authoritative server."),
        422 => ("422 Unprocessable Content", "The server cannot process the contained instructions."),
        425 => ("425 Too Early", "Your browser sent early data."),
        429 => ("429 Too Many Requests", "You have sent too many requests in a given amount of time."),
        500 => ("500 Internal Server Error", "An internal server error occurred."),
        // The leading dot is in HAProxy's own text.
        501 => (
            "501 Not Implemented",
            ".The server does not support the functionality required to fulfill the request.",
        ),
        502 => ("502 Bad Gateway", "The server returned an invalid or incomplete response."),
        503 => ("503 Service Unavailable", "No server is available to handle this request."),
        504 => ("504 Gateway Time-out", "The server didn't respond in time."),
        _ => return None,
    })
}

fn body(status_line: &str, text: &str) -> String {
    format!("<html><body><h1>{status_line}</h1>\n{text}\n</body></html>\n")
}

/// The stream-level (HTX) rendering of HAProxy's built-in message for `status`, as sent for
/// `http-request deny`, 502/503/504 and friends. Unknown codes fall back to 500's message
/// text as HAProxy does for `deny_status` values it has no message for.
pub fn default_error(status: u16) -> Bytes {
    render(&raw_mux_error(status), false, false).0
}

/// The HTTP/1 mux rendering (capitalised names, `Connection: close` before the type) used
/// when the request could not be parsed (400) or its head timed out (408).
pub fn raw_mux_error(status: u16) -> Bytes {
    let (line, text) = message(status)
        .or_else(|| message(400))
        .unwrap_or(("400", ""));
    let b = body(line, text);
    // Only the 400 and 408 templates carry `Connection: close` (422 does not, verified).
    let conn = if status == 400 || status == 408 {
        "Connection: close\r\n"
    } else {
        ""
    };
    Bytes::from(format!(
        "HTTP/1.1 {line}\r\nContent-length: {}\r\nCache-Control: no-cache\r\n{conn}Content-Type: text/html\r\n\r\n{b}",
        b.len()
    ))
}

/// Where an error is produced, which decides the built-in flavour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// The HTTP/1 parser or head timer (before any stream exists). HAProxy 2.6 sends its
    /// built-in message verbatim there and ignores `errorfile` (verified for 400 and 408).
    Mux,
    /// A stream: rules, routing, server errors. `errorfile`s apply.
    Stream,
}

/// The message for `status`: for a stream, the backend's `errorfile`, else the frontend's,
/// else the built-in template (HAProxy looks in the backend first once one was chosen).
/// Stream messages are raw HTTP/1 text that the HTTP/1 writer re-serialises like HAProxy's
/// HTX path ([`render`]); mux messages are sent as they are.
pub fn error_bytes(
    status: u16,
    origin: Origin,
    backend: &[ErrorFile],
    frontend: &[ErrorFile],
) -> Bytes {
    if origin == Origin::Stream {
        if let Some(ef) = backend
            .iter()
            .chain(frontend.iter())
            .find(|e| e.status == status)
        {
            return Bytes::copy_from_slice(&ef.response);
        }
    }
    raw_mux_error(status)
}

/// True when a raw HTTP/1 response asks for the connection to close (`Connection: close` in
/// its head), so the sender knows not to keep the client connection alive afterwards.
pub fn raw_wants_close(raw: &[u8]) -> bool {
    parse_raw(&Bytes::copy_from_slice(raw)).is_some_and(|p| p.wants_close())
}

/// Offset just past the blank line that ends an HTTP/1 head (`\r\n\r\n` or `\n\n`).
pub fn find_head_end(buf: &[u8]) -> Option<usize> {
    let mut i = 0;
    while let Some(off) = buf.get(i..).and_then(find_lf) {
        let lf = i + off;
        match buf.get(lf + 1) {
            Some(b'\n') => return Some(lf + 2),
            Some(b'\r') if buf.get(lf + 2) == Some(&b'\n') => return Some(lf + 3),
            _ => {}
        }
        i = lf + 1;
    }
    None
}

/// The position of the first LF in `s`, eight bytes at a time (this runs on every request
/// head).
pub(crate) fn find_lf(s: &[u8]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    const LFS: u64 = ONES * b'\n' as u64;
    let mut chunks = s.chunks_exact(8);
    let mut base = 0;
    for c in &mut chunks {
        let Ok(bytes) = <[u8; 8]>::try_from(c) else {
            break;
        };
        // A zero byte of `x` is an LF of the chunk; the lowest flagged byte is exact.
        let x = u64::from_le_bytes(bytes) ^ LFS;
        let found = x.wrapping_sub(ONES) & !x & HIGH;
        if found != 0 {
            return Some(base + (found.trailing_zeros() / 8) as usize);
        }
        base += 8;
    }
    s.get(base..)?
        .iter()
        .position(|&c| c == b'\n')
        .map(|p| base + p)
}

/// A raw HTTP/1 response split into its parts (names lower-cased, order kept).
pub struct ParsedRaw {
    pub http10: bool,
    pub status: u16,
    pub reason: String,
    pub headers: Vec<(String, Vec<u8>)>,
    pub body: Bytes,
}

impl ParsedRaw {
    /// A `Connection` header with a `close` token.
    pub fn wants_close(&self) -> bool {
        self.headers.iter().any(|(n, v)| {
            n == "connection"
                && String::from_utf8_lossy(v)
                    .split(',')
                    .any(|t| t.trim().eq_ignore_ascii_case("close"))
        })
    }
}

/// Splits a raw response; `None` when its head cannot be parsed.
pub fn parse_raw(raw: &Bytes) -> Option<ParsedRaw> {
    let end = find_head_end(raw)?;
    let head = &raw[..end];
    let mut lines = head
        .split(|&c| c == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l));
    let status_line = std::str::from_utf8(lines.next()?).ok()?;
    let mut parts = status_line.splitn(3, ' ');
    let version = parts.next()?;
    let status: u16 = parts.next()?.trim().parse().ok()?;
    let reason = parts.next().unwrap_or("").to_string();
    let mut headers = Vec::new();
    for line in lines {
        if line.is_empty() {
            break;
        }
        let colon = line.iter().position(|&c| c == b':')?;
        let name = String::from_utf8_lossy(&line[..colon])
            .trim()
            .to_ascii_lowercase();
        let v = &line[colon + 1..];
        let start = v
            .iter()
            .position(|&c| c != b' ' && c != b'\t')
            .unwrap_or(v.len());
        let stop = v
            .iter()
            .rposition(|&c| c != b' ' && c != b'\t')
            .map_or(start, |e| e + 1);
        headers.push((name, v[start..stop.max(start)].to_vec()));
    }
    Some(ParsedRaw {
        http10: version == "HTTP/1.0",
        status,
        reason,
        headers,
        body: raw.slice(end..),
    })
}

/// The `Connection` value HAProxy's HTTP/1 output puts on a response: `close` when closing
/// a 1.1 response, `keep-alive` when keeping either a 1.0 response or a 1.0 client's
/// connection, nothing otherwise. `others` are the non-close/keep-alive tokens to keep.
pub fn connection_value(
    others: &[String],
    close: bool,
    resp10: bool,
    req10: bool,
) -> Option<String> {
    let mut tokens: Vec<String> = others.to_vec();
    if close {
        if !resp10 {
            tokens.push("close".into());
        }
    } else if resp10 || req10 {
        tokens.push("keep-alive".into());
    }
    (!tokens.is_empty()).then(|| tokens.join(", "))
}

/// Re-serialises a stream-level message the way HAProxy's HTX → HTTP/1 output does:
/// lower-case names, order kept, `Connection` rewritten by [`connection_value`]. Returns
/// the bytes and whether the connection must close afterwards (`want_close`, or the message
/// itself says `Connection: close`). An unparsable message is sent as is and closes.
pub fn render(raw: &Bytes, req10: bool, want_close: bool) -> (Bytes, bool) {
    let Some(p) = parse_raw(raw) else {
        return (raw.clone(), true);
    };
    let close = want_close || p.wants_close();
    let mut out = Vec::with_capacity(raw.len() + 24);
    let version = if p.http10 { "HTTP/1.0" } else { "HTTP/1.1" };
    out.extend_from_slice(format!("{version} {} {}\r\n", p.status, p.reason).as_bytes());
    let mut others = Vec::new();
    for (n, v) in &p.headers {
        if n == "connection" {
            for t in String::from_utf8_lossy(v).split(',') {
                let t = t.trim();
                if !t.is_empty()
                    && !t.eq_ignore_ascii_case("close")
                    && !t.eq_ignore_ascii_case("keep-alive")
                {
                    others.push(t.to_string());
                }
            }
            continue;
        }
        out.extend_from_slice(n.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(v);
        out.extend_from_slice(b"\r\n");
    }
    if let Some(c) = connection_value(&others, close, p.http10, req10) {
        out.extend_from_slice(format!("connection: {c}\r\n").as_bytes());
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(&p.body);
    (Bytes::from(out), close)
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        #[test]
        fn find_head_end_matches_a_byte_scan(
            parts in proptest::collection::vec(0usize..5, 0..80)
        ) {
            const PIECES: [&[u8]; 5] = [b"\n", b"\r", b"a", b"\r\n", b"bcdefghij"];
            let buf: Vec<u8> = parts.iter().flat_map(|&i| PIECES[i].iter().copied()).collect();
            let naive = (0..buf.len()).find_map(|i| match &buf[i..] {
                [b'\n', b'\n', ..] => Some(i + 2),
                [b'\n', b'\r', b'\n', ..] => Some(i + 3),
                _ => None,
            });
            proptest::prop_assert_eq!(find_head_end(&buf), naive);
        }
    }

    #[test]
    fn captured_from_haproxy_2_6_12() {
        assert_eq!(
            &default_error(503)[..],
            &b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 107\r\ncache-control: no-cache\r\ncontent-type: text/html\r\n\r\n<html><body><h1>503 Service Unavailable</h1>\nNo server is available to handle this request.\n</body></html>\n"[..]
        );
        assert_eq!(
            &default_error(504)[..],
            &b"HTTP/1.1 504 Gateway Time-out\r\ncontent-length: 92\r\ncache-control: no-cache\r\ncontent-type: text/html\r\n\r\n<html><body><h1>504 Gateway Time-out</h1>\nThe server didn't respond in time.\n</body></html>\n"[..]
        );
        assert_eq!(
            &default_error(502)[..],
            &b"HTTP/1.1 502 Bad Gateway\r\ncontent-length: 107\r\ncache-control: no-cache\r\ncontent-type: text/html\r\n\r\n<html><body><h1>502 Bad Gateway</h1>\nThe server returned an invalid or incomplete response.\n</body></html>\n"[..]
        );
        assert_eq!(
            &default_error(403)[..],
            &b"HTTP/1.1 403 Forbidden\r\ncontent-length: 93\r\ncache-control: no-cache\r\ncontent-type: text/html\r\n\r\n<html><body><h1>403 Forbidden</h1>\nRequest forbidden by administrative rules.\n</body></html>\n"[..]
        );
        assert_eq!(
            &default_error(400)[..],
            &b"HTTP/1.1 400 Bad request\r\ncontent-length: 90\r\ncache-control: no-cache\r\ncontent-type: text/html\r\nconnection: close\r\n\r\n<html><body><h1>400 Bad request</h1>\nYour browser sent an invalid request.\n</body></html>\n"[..]
        );
        assert_eq!(
            &raw_mux_error(400)[..],
            &b"HTTP/1.1 400 Bad request\r\nContent-length: 90\r\nCache-Control: no-cache\r\nConnection: close\r\nContent-Type: text/html\r\n\r\n<html><body><h1>400 Bad request</h1>\nYour browser sent an invalid request.\n</body></html>\n"[..]
        );
        assert_eq!(
            &raw_mux_error(408)[..],
            &b"HTTP/1.1 408 Request Time-out\r\nContent-length: 110\r\nCache-Control: no-cache\r\nConnection: close\r\nContent-Type: text/html\r\n\r\n<html><body><h1>408 Request Time-out</h1>\nYour browser didn't send a complete request in time.\n</body></html>\n"[..]
        );
        assert_eq!(
            &raw_mux_error(422)[..],
            &b"HTTP/1.1 422 Unprocessable Content\r\nContent-length: 116\r\nCache-Control: no-cache\r\nContent-Type: text/html\r\n\r\n<html><body><h1>422 Unprocessable Content</h1>\nThe server cannot process the contained instructions.\n</body></html>\n"[..]
        );
        assert!(std::str::from_utf8(&default_error(501))
            .is_ok_and(|s| s.contains("content-length: 136")));
        assert!(std::str::from_utf8(&default_error(405))
            .is_ok_and(|s| s.contains("content-length: 146")));
        assert!(std::str::from_utf8(&default_error(500))
            .is_ok_and(|s| s.contains("content-length: 97")));
        assert!(std::str::from_utf8(&default_error(401))
            .is_ok_and(|s| s.contains("content-length: 112")));
    }

    #[test]
    fn close_detection_and_parse() {
        assert!(raw_wants_close(&raw_mux_error(400)));
        assert!(!raw_wants_close(&default_error(503)));
        let p = parse_raw(&default_error(503));
        assert!(p
            .as_ref()
            .is_some_and(|p| p.status == 503 && p.body.len() == 107 && p.headers.len() == 3));
    }
}
