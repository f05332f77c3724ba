//! Replays the cargo-fuzz corpora (`fuzz/corpus/<target>/*`) as ordinary tests, so every
//! input a fuzzer found interesting (and every crash reproducer saved there) runs in CI.

use std::path::PathBuf;

fn corpus(target: &str) -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "empty corpus {}", dir.display());
    files
}

#[test]
fn lexer_corpus_replays() {
    for f in corpus("lexer") {
        haproxide::fuzzing::lex_all_lines(&std::fs::read(&f).unwrap());
    }
}

#[test]
fn loader_corpus_replays() {
    for f in corpus("loader") {
        haproxide::fuzzing::load_bytes(&std::fs::read(&f).unwrap());
    }
}
