//! Fuzzes the line lexer: any bytes, split into lines, must lex without panicking.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    haproxide::fuzzing::lex_all_lines(data);
});
