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

/// Resolves only literal addresses and `localhost`: fuzzed configs name random hosts, and
/// each system lookup would cost a DNS round trip.
fn offline_resolver(
    name: &str,
    _family: Option<crate::config::address::Family>,
) -> Option<std::net::IpAddr> {
    match name {
        "localhost" => Some(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST)),
        _ => name.parse().ok(),
    }
}

/// Loads `data` as a configuration, reporting every error, with no real environment.
pub fn load_bytes(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let opts = LoadOptions {
        env: Some(Default::default()),
        report_all: true,
        resolver: Some(offline_resolver),
        ..LoadOptions::default()
    };
    let _ = load_text("fuzz.cfg", &text, &opts);
}
