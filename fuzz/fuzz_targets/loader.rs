//! Fuzzes the whole loader (lexer, preprocessor, parsers, link checks) on arbitrary text.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    haproxide::fuzzing::load_bytes(data);
});
