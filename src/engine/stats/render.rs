//! The machine-readable exports: `;csv` (`show stat`), `;typed` (`show stat typed`) and
//! `;json` (`show stat json`), byte for byte in HAProxy 2.6's layout.

use std::fmt::Write as _;

use super::fields::{Field, Kind, Row, Val, IID, NAMES, SID, STATIC_FIELDS};

/// The CSV header line (`# pxname,svname,...,-,ssl_sess,...,h1_spliced_bytes_out,\n`).
pub fn csv_header() -> String {
    let mut out = String::from("# ");
    for (i, n) in NAMES.iter().enumerate() {
        out.push_str(n);
        out.push(',');
        if i + 1 == STATIC_FIELDS {
            out.push_str("-,");
        }
    }
    out.push('\n');
    out
}

/// `csv_enc_append()`: a string with a quote, comma or line break is quoted, with inner
/// quotes doubled.
fn csv_str(out: &mut String, s: &str) {
    if s.contains(['"', ',', '\n', '\r']) {
        out.push('"');
        out.push_str(&s.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(s);
    }
}

fn raw_value(out: &mut String, f: &Field) {
    match &f.val {
        Val::U32(v) => {
            let _ = write!(out, "{v}");
        }
        Val::U64(v) => {
            let _ = write!(out, "{v}");
        }
        Val::S32(v) => {
            let _ = write!(out, "{v}");
        }
        Val::Str(s) => csv_str(out, s),
    }
}

/// One CSV line.
pub fn csv_line(out: &mut String, row: &Row) {
    for (i, f) in row.f.iter().enumerate() {
        if let Some(f) = f {
            raw_value(out, f);
        }
        out.push(',');
        if i + 1 == STATIC_FIELDS {
            out.push_str("-,");
        }
    }
    out.push('\n');
}

fn type_name(v: &Val) -> &'static str {
    match v {
        Val::U32(_) => "u32",
        Val::U64(_) => "u64",
        Val::S32(_) => "s32",
        Val::Str(_) => "str",
    }
}

fn kind_letter(k: Kind) -> char {
    match k {
        Kind::Frontend => 'F',
        Kind::Backend => 'B',
        Kind::Server => 'S',
    }
}

/// One line per typed field: `F.1.0.4.scur.1:MGP:u32:1`.
pub fn typed_lines(out: &mut String, row: &Row) {
    let iid = row.num(IID);
    let sid = row.num(SID);
    for (i, f) in row.f.iter().enumerate() {
        let Some(f) = f else { continue };
        let _ = write!(
            out,
            "{}.{iid}.{sid}.{i}.{}.1:{}:{}:",
            kind_letter(row.kind),
            NAMES[i],
            f.tags,
            type_name(&f.val)
        );
        match &f.val {
            Val::Str(s) => out.push_str(s),
            _ => raw_value(out, f),
        }
        out.push('\n');
    }
}

fn tag_words(tags: &str) -> (&'static str, &'static str, &'static str) {
    let b = tags.as_bytes();
    let origin = match b.first() {
        Some(b'M') => "Metric",
        Some(b'S') => "Status",
        Some(b'K') => "Key",
        Some(b'C') => "Config",
        Some(b'P') => "Product",
        _ => "Unknown",
    };
    let nature = match b.get(1) {
        Some(b'G') => "Gauge",
        Some(b'L') => "Limit",
        Some(b'm') => "Min",
        Some(b'M') => "Max",
        Some(b'R') => "Rate",
        Some(b'C') => "Counter",
        Some(b'D') => "Duration",
        Some(b'A') => "Age",
        Some(b'T') => "Time",
        Some(b'N') => "Name",
        Some(b'O') => "Output",
        Some(b'a') => "Avg",
        _ => "Unknown",
    };
    let scope = match b.get(2) {
        Some(b'P') => "Process",
        Some(b'S') => "Service",
        Some(b's') => "System",
        Some(b'C') => "Cluster",
        _ => "Unknown",
    };
    (origin, nature, scope)
}

/// A JSON string body. HAProxy prints strings as they are; quotes, backslashes and control
/// characters are escaped here so that the document stays valid JSON.
fn json_str(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
}

/// One JSON array of the line's typed fields.
pub fn json_line(out: &mut String, row: &Row) {
    let obj = match row.kind {
        Kind::Frontend => "Frontend",
        Kind::Backend => "Backend",
        Kind::Server => "Server",
    };
    let iid = row.num(IID);
    let sid = row.num(SID);
    out.push('[');
    let mut first = true;
    for (i, f) in row.f.iter().enumerate() {
        let Some(f) = f else { continue };
        if !first {
            out.push(',');
        }
        first = false;
        let (o, n, s) = tag_words(f.tags);
        let _ = write!(
            out,
            "{{\"objType\":\"{obj}\",\"proxyId\":{iid},\"id\":{sid},\"field\":{{\"pos\":{i},\"name\":\"{}\"}},\"processNum\":1,\"tags\":{{\"origin\":\"{o}\",\"nature\":\"{n}\",\"scope\":\"{s}\"}},\"value\":{{\"type\":\"{}\",\"value\":",
            NAMES[i],
            type_name(&f.val)
        );
        match &f.val {
            Val::Str(v) => {
                out.push('"');
                json_str(out, v);
                out.push('"');
            }
            _ => raw_value(out, f),
        }
        out.push_str("}}");
    }
    out.push(']');
}

/// HAProxy 2.6's `;json-schema` document, as served by haproxy 2.6.12.
pub const JSON_SCHEMA: &str = include_str!("schema.json");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_strings_are_quoted_like_haproxy() {
        let mut s = String::new();
        csv_str(&mut s, "a,b \"c\"");
        assert_eq!(s, "\"a,b \"\"c\"\"\"");
        let mut s = String::new();
        csv_str(&mut s, "Connection refused");
        assert_eq!(s, "Connection refused");
    }
}
