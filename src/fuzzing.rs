//! Entry points shared by the cargo-fuzz targets (`fuzz/`) and the test that replays their
//! corpora (`tests/fuzz_corpus.rs`), so both exercise exactly the same code.

use crate::config::lexer::lex_line;
use crate::config::{load_text, LoadOptions};

/// Lexes every line of `data` with an environment that defines a few variables.
pub fn lex_all_lines(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let env = |name: &str| match name {
        "A" => Some("a b  c".to_string()),
        "EMPTY" => Some(String::new()),
        _ => None,
    };
    for line in text.split('\n') {
        let _ = lex_line(line, &env);
    }
}

/// Loads `data` as a configuration, reporting every error, with no real environment.
pub fn load_bytes(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let opts = LoadOptions { env: Some(Default::default()), report_all: true, ..LoadOptions::default() };
    let _ = load_text("fuzz.cfg", &text, &opts);
}
