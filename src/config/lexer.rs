//! The line lexer: one haproxy.cfg line in, a list of words out, with HAProxy 2.6's rules.
//!
//! Words are split on unprotected spaces and tabs; `#` starts a comment; backslash escapes
//! (`\ `, `\#`, `\\`, `\'`, `\"`, `\n`, `\r`, `\t`, `\xHH`) apply outside single quotes;
//! double quotes protect spaces and expand `$VAR`, `${VAR}`, `${VAR-default}` and
//! `${VAR[*]}` (which splits into several words); single quotes protect everything.
//! Adjacent quoted and unquoted pieces concatenate into one word. At most 64 words.
//! The small pieces (variable names, hex escapes) are nom parsers.

use nom::bytes::complete::{tag, take_while, take_while_m_n};
use nom::character::complete::satisfy;
use nom::combinator::{opt, recognize};
use nom::sequence::pair;
use nom::{IResult, Parser};

/// The most words HAProxy keeps on a line.
pub const MAX_WORDS: usize = 64;

/// One word of a line, after quote removal, escapes and expansion.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Word {
    pub text: String,
    /// 1-based column (in characters of the raw line) where the word starts.
    pub col: usize,
}

/// A fatal lexing error, with HAProxy's message and the 0-based character index it points at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LexError {
    pub message: String,
    pub index: usize,
}

/// The result of lexing a line: the words, or an error; `truncated` is set when the 64-word
/// limit cut the line (HAProxy reports that as fatal too).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Lexed {
    Words(Vec<Word>),
    Error(LexError),
}

/// Looks up an environment variable; `None` when it is unset.
pub trait Env {
    fn get(&self, name: &str) -> Option<String>;
}

impl<F: Fn(&str) -> Option<String>> Env for F {
    fn get(&self, name: &str) -> Option<String> {
        self(name)
    }
}

/// `[A-Za-z_.]` starts a variable name (the dot for `${.LINE}`-style pseudo variables).
fn var_name(input: &str) -> IResult<&str, &str> {
    recognize(pair(
        satisfy(|c: char| c.is_ascii_alphabetic() || c == '_' || c == '.'),
        take_while(|c: char| c.is_ascii_alphanumeric() || c == '_'),
    ))
    .parse(input)
}

/// `${NAME[*]}` or `${NAME}` after the `${`: returns (name, default, split). HAProxy 2.6.12
/// has no `${NAME-default}` form: it reports an unmatched brace (verified).
fn braced_var(input: &str) -> IResult<&str, (&str, Option<&str>, bool)> {
    let (rest, name) = var_name(input)?;
    let (rest, split) = opt(tag("[*]")).parse(rest)?;
    let (rest, _) = tag("}").parse(rest)?;
    Ok((rest, (name, None, split.is_some())))
}

/// Two hex digits after `\x`.
fn hex_byte(input: &str) -> IResult<&str, u8> {
    let (rest, digits) = take_while_m_n(2, 2, |c: char| c.is_ascii_hexdigit()).parse(input)?;
    Ok((rest, u8::from_str_radix(digits, 16).unwrap_or(0)))
}

struct State {
    words: Vec<Word>,
    current: Vec<u8>,
    /// Column of the current word's first character, when a word is open.
    start: Option<usize>,
}

impl State {
    fn open(&mut self, col: usize) {
        if self.start.is_none() {
            self.start = Some(col);
        }
    }
    fn close(&mut self) {
        if let Some(col) = self.start.take() {
            let bytes = std::mem::take(&mut self.current);
            self.words.push(Word {
                text: String::from_utf8_lossy(&bytes).into_owned(),
                col,
            });
        }
    }
    fn push_str(&mut self, s: &str) {
        self.current.extend_from_slice(s.as_bytes());
    }
}

/// Lexes one line (without its line terminator). `env` answers variable lookups, including
/// the pseudo variables `.FILE`, `.LINE` and `.SECTION` which the caller provides.
pub fn lex_line(line: &str, env: &dyn Env) -> Lexed {
    let chars: Vec<(usize, char)> = line.char_indices().collect();
    let mut st = State {
        words: Vec::new(),
        current: Vec::new(),
        start: None,
    };
    let mut i = 0usize;
    #[derive(PartialEq)]
    enum Quote {
        None,
        Double,
        Single,
    }
    let mut quote = Quote::None;
    let mut quote_start = 0usize;
    while i < chars.len() {
        let (byte_at, c) = chars[i];
        let col = i + 1;
        match quote {
            Quote::Single => {
                if c == '\'' {
                    quote = Quote::None;
                } else {
                    let mut buf = [0u8; 4];
                    st.push_str(c.encode_utf8(&mut buf));
                }
                i += 1;
                continue;
            }
            Quote::None if c == ' ' || c == '\t' => {
                st.close();
                i += 1;
                continue;
            }
            Quote::None if c == '#' => break,
            Quote::None if c == '\'' => {
                st.open(col);
                quote = Quote::Single;
                quote_start = i;
                i += 1;
                continue;
            }
            Quote::None if c == '"' => {
                st.open(col);
                quote = Quote::Double;
                quote_start = i;
                i += 1;
                continue;
            }
            Quote::Double if c == '"' => {
                quote = Quote::None;
                i += 1;
                continue;
            }
            _ => {}
        }
        // Unquoted or double-quoted text from here.
        st.open(col);
        if c == '\\' {
            let next = chars.get(i + 1).map(|&(_, n)| n);
            match next {
                Some(n @ (' ' | '#' | '\\' | '\'' | '"' | '$'))
                    if n != '$' || quote == Quote::Double =>
                {
                    st.current.push(n as u8);
                    i += 2;
                }
                Some('n') => {
                    st.current.push(b'\n');
                    i += 2;
                }
                Some('r') => {
                    st.current.push(b'\r');
                    i += 2;
                }
                Some('t') => {
                    st.current.push(b'\t');
                    i += 2;
                }
                Some('x') => {
                    let hex_at = chars.get(i + 2).map(|&(b, _)| b).unwrap_or(line.len());
                    match hex_byte(&line[hex_at..]) {
                        Ok((_, b)) => {
                            st.current.push(b);
                            i += 4;
                        }
                        Err(_) => {
                            return Lexed::Error(LexError {
                                message: "truncated or invalid hexadecimal sequence".into(),
                                index: i,
                            })
                        }
                    }
                }
                // Unknown escapes and a trailing backslash stay literal, as in HAProxy.
                _ => {
                    st.current.push(b'\\');
                    i += 1;
                }
            }
            continue;
        }
        if c == '$' && quote == Quote::Double {
            let after = chars.get(i + 1).map(|&(b, _)| b).unwrap_or(line.len());
            let rest = &line[after..];
            if let Some(inner) = rest.strip_prefix('{') {
                match braced_var(inner) {
                    Ok((remaining, (name, default, split))) => {
                        let value = match env.get(name) {
                            Some(v) => Some(v),
                            None => default.map(str::to_string),
                        };
                        if split {
                            // `${VAR[*]}`: the value's words become separate words.
                            let mut parts = value
                                .as_deref()
                                .unwrap_or("")
                                .split([' ', '\t'])
                                .filter(|p| !p.is_empty());
                            if let Some(first) = parts.next() {
                                st.push_str(first);
                                for p in parts {
                                    let start = st.start.unwrap_or(col);
                                    st.close();
                                    st.open(start);
                                    st.push_str(p);
                                }
                            }
                        } else if let Some(v) = value {
                            st.push_str(&v);
                        }
                        let consumed = rest.len() - remaining.len();
                        i = char_index_at(&chars, after + consumed, line.len());
                        continue;
                    }
                    Err(_) => {
                        let first_ok = var_name(inner).is_ok();
                        return Lexed::Error(LexError {
                            message: if first_ok {
                                "unmatched brace in environment variable name".into()
                            } else {
                                "forbidden first char in environment variable name".into()
                            },
                            index: if first_ok { i + 1 } else { i + 2 },
                        });
                    }
                }
            }
            match var_name(rest) {
                Ok((remaining, name)) if !name.starts_with('.') => {
                    if let Some(v) = env.get(name) {
                        st.push_str(&v);
                    }
                    let consumed = rest.len() - remaining.len();
                    i = char_index_at(&chars, after + consumed, line.len());
                    continue;
                }
                _ => {
                    return Lexed::Error(LexError {
                        message: "forbidden first char in environment variable name".into(),
                        index: i + 1,
                    })
                }
            }
        }
        let _ = byte_at;
        let mut buf = [0u8; 4];
        st.push_str(c.encode_utf8(&mut buf));
        i += 1;
    }
    if quote != Quote::None {
        return Lexed::Error(LexError {
            message: "unmatched quote".into(),
            index: quote_start,
        });
    }
    st.close();
    if st.words.len() > MAX_WORDS {
        let kept = &st.words[MAX_WORDS - 1];
        return Lexed::Error(LexError {
            message: format!(
                "too many words, truncating after word {MAX_WORDS}, position {}: <{}>.",
                kept.col - st.words[0].col + 1,
                kept.text
            ),
            index: kept.col.saturating_sub(1),
        });
    }
    Lexed::Words(st.words)
}

/// Maps a byte offset back to the index of the character starting there.
fn char_index_at(chars: &[(usize, char)], byte: usize, len: usize) -> usize {
    if byte >= len {
        return chars.len();
    }
    chars.partition_point(|&(b, _)| b < byte)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "FOO" => Some("bar".into()),
            "EMPTY" => Some(String::new()),
            "SP" => Some("default_backend be".into()),
            ".LINE" => Some("3".into()),
            _ => None,
        }
    }

    fn words(line: &str) -> Vec<String> {
        match lex_line(line, &env) {
            Lexed::Words(w) => w.into_iter().map(|w| w.text).collect(),
            Lexed::Error(e) => vec![format!("ERR {} @{}", e.message, e.index)],
        }
    }

    #[test]
    fn splits_on_spaces_and_tabs() {
        assert_eq!(words("  bind\t:80   ssl"), ["bind", ":80", "ssl"]);
    }

    #[test]
    fn comments_start_anywhere_unprotected() {
        assert_eq!(words("frontend fe#c"), ["frontend", "fe"]);
        assert_eq!(words("x \"a#b\" a\\#b"), ["x", "a#b", "a#b"]);
    }

    #[test]
    fn quotes_concatenate() {
        assert_eq!(words("'a'\"b\"\\ c"), ["ab c"]);
    }

    #[test]
    fn escapes() {
        assert_eq!(words("esc:\\ a\\ b"), ["esc: a b"]);
        assert_eq!(words("\"hex:\\x41\\x42\""), ["hex:AB"]);
        assert_eq!(words("x\\qy"), ["x\\qy"]);
        assert_eq!(words("a\\"), ["a\\"]);
        assert_eq!(words("\"a\\$b\""), ["a$b"]);
        assert_eq!(words("\"\\n\""), ["\n"]);
    }

    #[test]
    fn single_quotes_are_literal() {
        assert_eq!(words("'$FOO\\x41'"), ["$FOO\\x41"]);
    }

    #[test]
    fn env_expansion_only_in_double_quotes() {
        assert_eq!(words("\"$FOO-${FOO}-${.LINE}\""), ["bar-bar-3"]);
        assert_eq!(
            words("\"${NOPE-def}\""),
            ["ERR unmatched brace in environment variable name @2"]
        );
        assert_eq!(words("$FOO"), ["$FOO"]);
        assert_eq!(words("\"$FOO.x\""), ["bar.x"]);
    }

    #[test]
    fn env_split() {
        assert_eq!(words("\"${SP[*]}\""), ["default_backend", "be"]);
        assert_eq!(words("\"${FOO}\""), ["bar"]);
    }

    #[test]
    fn env_errors_point_like_haproxy() {
        // `.notice "a$"`: HAProxy reports position 12 (1-based), i.e. index 11.
        assert_eq!(
            words(".notice \"a$\""),
            ["ERR forbidden first char in environment variable name @11"]
        );
        assert_eq!(
            words(".notice \"${FOO\""),
            ["ERR unmatched brace in environment variable name @10"]
        );
        assert_eq!(
            words(".notice \"${1AB}\""),
            ["ERR forbidden first char in environment variable name @11"]
        );
        assert_eq!(
            words(".notice \"\\x4\""),
            ["ERR truncated or invalid hexadecimal sequence @9"]
        );
    }

    #[test]
    fn unmatched_quote() {
        assert_eq!(words(".notice \"abc"), ["ERR unmatched quote @8"]);
    }

    #[test]
    fn too_many_words() {
        let mut line = String::from("  maxconn");
        for n in 1..=66 {
            line.push_str(&format!(" {n}"));
        }
        assert_eq!(
            words(&line),
            ["ERR too many words, truncating after word 64, position 186: <63>. @187"]
        );
    }

    #[test]
    fn empty_words_from_quotes_exist() {
        assert_eq!(words("a \"\" b"), ["a", "", "b"]);
        assert_eq!(words("   "), Vec::<String>::new());
    }
}
