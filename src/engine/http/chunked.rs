//! An incremental, strict decoder for chunked request bodies (RFC 9112 §7.1).
//!
//! Stricter than HAProxy 2.6.12 where later releases fixed bugs: chunk-size lines must end
//! with CRLF (a bare LF is rejected, as fixed upstream in Jan 2024), sizes overflowing u64
//! are rejected, data must be followed by CRLF. Trailers are parsed and forwarded.

use bytes::{Bytes, BytesMut};
use hyper::http::{HeaderMap, HeaderName, HeaderValue};

/// Longest chunk-size line or trailer line accepted.
const MAX_LINE: usize = 4096;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Size,
    Data(u64),
    DataEnd,
    Trailers,
    Done,
}

/// What one decoding step produced.
#[derive(Debug)]
pub enum Step {
    /// Body bytes.
    Data(Bytes),
    /// The end, with trailers (possibly empty).
    End(HeaderMap),
    /// More input is needed.
    NeedMore,
    /// Malformed chunked encoding.
    Invalid(&'static str),
}

#[derive(Debug)]
pub struct Decoder {
    state: State,
    trailers: HeaderMap,
}

impl Default for Decoder {
    fn default() -> Self {
        Decoder {
            state: State::Size,
            trailers: HeaderMap::new(),
        }
    }
}

/// Finds a CRLF-terminated line at the start of `buf`: the line length without CRLF.
fn line(buf: &[u8]) -> Result<Option<usize>, &'static str> {
    match buf.iter().position(|&c| c == b'\n') {
        Some(i) => {
            if i == 0 || buf[i - 1] != b'\r' {
                return Err("bare LF in chunked encoding");
            }
            Ok(Some(i - 1))
        }
        None if buf.len() > MAX_LINE => Err("chunk line too long"),
        None => Ok(None),
    }
}

fn trim(s: &[u8]) -> &[u8] {
    let start = s
        .iter()
        .position(|&c| c != b' ' && c != b'\t')
        .unwrap_or(s.len());
    let end = s
        .iter()
        .rposition(|&c| c != b' ' && c != b'\t')
        .map_or(start, |e| e + 1);
    &s[start..end.max(start)]
}

impl Decoder {
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Decodes from the front of `buf`, consuming what it uses.
    pub fn step(&mut self, buf: &mut BytesMut) -> Step {
        loop {
            match self.state {
                State::Done => return Step::NeedMore,
                State::Size => {
                    let n = match line(buf) {
                        Ok(Some(n)) => n,
                        Ok(None) => return Step::NeedMore,
                        Err(e) => return Step::Invalid(e),
                    };
                    let l = &buf[..n];
                    let digits = l.iter().take_while(|c| c.is_ascii_hexdigit()).count();
                    if digits == 0 {
                        return Step::Invalid("missing chunk size");
                    }
                    let mut size: u64 = 0;
                    for &c in &l[..digits] {
                        let d = (c as char).to_digit(16).unwrap_or(0);
                        size = match size
                            .checked_mul(16)
                            .and_then(|s| s.checked_add(u64::from(d)))
                        {
                            Some(s) => s,
                            None => return Step::Invalid("chunk size overflow"),
                        };
                    }
                    let rest = &l[digits..];
                    let rest_trim: &[u8] = {
                        let k = rest
                            .iter()
                            .take_while(|&&c| c == b' ' || c == b'\t')
                            .count();
                        &rest[k..]
                    };
                    if !rest_trim.is_empty() && rest_trim[0] != b';' {
                        return Step::Invalid("bad chunk size line");
                    }
                    if rest_trim.iter().any(|&c| c == b'\r' || c == 0) {
                        return Step::Invalid("bad chunk extension");
                    }
                    let _ = buf.split_to(n + 2);
                    self.state = if size == 0 {
                        State::Trailers
                    } else {
                        State::Data(size)
                    };
                }
                State::Data(rem) => {
                    if buf.is_empty() {
                        return Step::NeedMore;
                    }
                    let take = (buf.len() as u64).min(rem) as usize;
                    let data = buf.split_to(take).freeze();
                    let left = rem - take as u64;
                    self.state = if left == 0 {
                        State::DataEnd
                    } else {
                        State::Data(left)
                    };
                    return Step::Data(data);
                }
                State::DataEnd => {
                    if buf.len() < 2 {
                        return Step::NeedMore;
                    }
                    if &buf[..2] != b"\r\n" {
                        return Step::Invalid("missing CRLF after chunk data");
                    }
                    let _ = buf.split_to(2);
                    self.state = State::Size;
                }
                State::Trailers => {
                    let n = match line(buf) {
                        Ok(Some(n)) => n,
                        Ok(None) => return Step::NeedMore,
                        Err(e) => return Step::Invalid(e),
                    };
                    if n == 0 {
                        let _ = buf.split_to(2);
                        self.state = State::Done;
                        return Step::End(std::mem::take(&mut self.trailers));
                    }
                    let l = buf.split_to(n + 2);
                    let l = &l[..n];
                    let Some(colon) = l.iter().position(|&c| c == b':') else {
                        return Step::Invalid("bad trailer");
                    };
                    let name = HeaderName::from_bytes(&l[..colon]).map_err(|_| ());
                    let value = HeaderValue::from_bytes(trim(&l[colon + 1..])).map_err(|_| ());
                    match (name, value) {
                        (Ok(n), Ok(v)) => {
                            self.trailers.append(n, v);
                        }
                        _ => return Step::Invalid("bad trailer"),
                    }
                }
            }
        }
    }
}

/// Lower-case hexadecimal digits: chunk sizes HAProxy writes towards clients.
pub const HEX_LOWER: &[u8; 16] = b"0123456789abcdef";
/// Upper-case hexadecimal digits: chunk sizes of requests towards servers (as hyper wrote
/// them, and as HAProxy 2.6 does).
pub const HEX_UPPER: &[u8; 16] = b"0123456789ABCDEF";

/// Appends `n` in hexadecimal with `digits`, without leading zeros (a chunk size line).
pub fn push_hex(out: &mut Vec<u8>, n: usize, digits: &[u8; 16]) {
    let mut tmp = [0u8; 16];
    let mut i = tmp.len();
    let mut v = n;
    loop {
        i -= 1;
        tmp[i] = digits[v & 15];
        v >>= 4;
        if v == 0 {
            break;
        }
    }
    out.extend_from_slice(&tmp[i..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(input: &[u8]) -> Result<(Vec<u8>, HeaderMap), &'static str> {
        let mut d = Decoder::default();
        let mut buf = BytesMut::from(input);
        let mut out = Vec::new();
        loop {
            match d.step(&mut buf) {
                Step::Data(b) => out.extend_from_slice(&b),
                Step::End(t) => return Ok((out, t)),
                Step::NeedMore => return Err("incomplete"),
                Step::Invalid(e) => return Err(e),
            }
        }
    }

    #[test]
    fn decodes() {
        let (b, t) = decode(b"3\r\nabc\r\n4;ext=1\r\ndefg\r\n0\r\nX-T: 1\r\n\r\n").unwrap();
        assert_eq!(b, b"abcdefg");
        assert_eq!(t["x-t"], "1");
        assert!(decode(b"3\nabc\r\n0\r\n\r\n").is_err());
        assert!(decode(b"fffffffffffffffff1\r\n").is_err());
        assert!(decode(b"-3\r\nabc\r\n").is_err());
        assert!(decode(b"3\r\nabcX0\r\n\r\n").is_err());
        assert_eq!(decode(b"3\r\nab"), Err("incomplete"));
    }
}
