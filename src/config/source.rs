//! Reading configuration sources: `-f FILE|DIR` arguments to named texts, and a text to
//! numbered lines with HAProxy's rules (LF-terminated, CR stripped, NUL ends a line, a last
//! line without LF is an error).

use std::path::Path;

/// One configuration file's text and the name HAProxy would print for it.
#[derive(Debug, Clone)]
pub struct SourceFile {
    pub name: String,
    pub text: String,
}

/// Expands the `-f` arguments: a directory yields its `*.cfg` files in lexical order.
/// Errors carry HAProxy's message text.
pub fn expand_inputs(paths: &[String]) -> Vec<Result<SourceFile, String>> {
    let mut out = Vec::new();
    for p in paths {
        let path = Path::new(p);
        if path.is_dir() {
            let mut names: Vec<String> = match std::fs::read_dir(path) {
                Ok(rd) => rd
                    .filter_map(|e| e.ok())
                    .filter(|e| e.path().is_file())
                    .filter_map(|e| e.file_name().into_string().ok())
                    .filter(|n| n.ends_with(".cfg"))
                    .collect(),
                Err(e) => {
                    out.push(Err(open_error(p, &e)));
                    continue;
                }
            };
            names.sort();
            for n in names {
                let full = format!("{}/{}", p.trim_end_matches('/'), n);
                out.push(read_one(&full));
            }
        } else {
            out.push(read_one(p));
        }
    }
    out
}

fn read_one(name: &str) -> Result<SourceFile, String> {
    match std::fs::read(name) {
        Ok(bytes) => Ok(SourceFile {
            name: name.to_string(),
            text: String::from_utf8_lossy(&bytes).into_owned(),
        }),
        Err(e) => Err(open_error(name, &e)),
    }
}

fn open_error(name: &str, e: &std::io::Error) -> String {
    format!(
        "Cannot open configuration file/directory {name} : {}",
        io_error_text(e)
    )
}

/// The C library's wording for an I/O error (`No such file or directory`), as HAProxy prints.
pub fn io_error_text(e: &std::io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

/// A line of the file: its 1-based number and its text without terminator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceLine<'a> {
    pub number: usize,
    pub text: &'a str,
}

/// Splits a file into lines. Returns the lines and, when the last line has no LF, its
/// number and HAProxy's 1-based "position" (its length + 1): that line is not parsed.
pub fn split_lines(text: &str) -> (Vec<SourceLine<'_>>, Option<(usize, usize)>) {
    let mut lines = Vec::new();
    let mut rest = text;
    let mut number = 0;
    let mut missing_lf = None;
    while !rest.is_empty() {
        number += 1;
        match rest.find('\n') {
            Some(i) => {
                lines.push(SourceLine {
                    number,
                    text: clean(&rest[..i]),
                });
                rest = &rest[i + 1..];
            }
            None => {
                missing_lf = Some((number, rest.len() + 1));
                rest = "";
            }
        }
    }
    (lines, missing_lf)
}

/// Strips one trailing CR, as HAProxy's reader does (a NUL is reported by the loader).
fn clean(line: &str) -> &str {
    line.strip_suffix('\r').unwrap_or(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_and_missing_lf() {
        let (lines, missing) = split_lines("global\r\n  maxconn 10\n# c");
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].text, "global");
        assert_eq!(missing, Some((3, 4)));
        let (_, missing) = split_lines("a\n\n");
        assert_eq!(missing, None);
    }

    #[test]
    fn nul_is_kept_for_the_loader_to_report() {
        let (lines, _) = split_lines("abc\0def\n");
        assert_eq!(lines[0].text, "abc\0def");
    }
}
