//! Golden tests: every `testdata/check/*.cfg` is checked with `haproxide -c` (run from that
//! directory, as a user would) and compared with `*.out` (exit code, stdout, stderr with the
//! PID and executable path normalised); every `testdata/ir/*.cfg` is loaded and its IR dump
//! compared with `*.ir`. `UPDATE_GOLDEN=1 cargo test --test golden` rewrites the files; the
//! `.out` files of configs HAProxy also reads were checked against `haproxy -c` by
//! `scripts/compat-check --text`.

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn cfgs(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "cfg"))
        .collect();
    v.sort();
    v
}

/// Replaces `(12345)` PIDs and the executable path, which change from run to run.
pub fn normalise(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for line in s.lines() {
        let mut l = line.to_string();
        if let (Some(a), Some(b)) = (l.find('('), l.find(')')) {
            if b > a && l[a + 1..b].chars().all(|c| c.is_ascii_digit()) && b > a + 1 {
                l.replace_range(a + 1..b, "PID");
            }
        }
        if let Some(i) = l.find("path to executable is ") {
            l.truncate(i + "path to executable is ".len());
            l.push_str("EXE");
        }
        out.push_str(&l);
        out.push('\n');
    }
    out
}

fn compare(expected_path: &Path, actual: &str, failures: &mut Vec<String>) {
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(expected_path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(expected_path).unwrap_or_default();
    if expected != actual {
        failures.push(format!(
            "--- {}\nexpected:\n{expected}\nactual:\n{actual}",
            expected_path.display()
        ));
    }
}

#[test]
fn check_output_matches_golden_files() {
    let dir = root().join("testdata/check");
    let mut failures = Vec::new();
    let cfgs = cfgs(&dir);
    assert!(cfgs.len() > 20, "golden configs missing");
    for cfg in cfgs {
        let name = cfg.file_name().unwrap().to_str().unwrap().to_string();
        // A sibling `X.args` file holds extra command-line arguments (e.g. `-dr`, `-q`).
        let extra = std::fs::read_to_string(cfg.with_extension("args")).unwrap_or_default();
        let out = Command::new(env!("CARGO_BIN_EXE_haproxide"))
            .current_dir(&dir)
            .env("HAPROXIDE_TEST_VAR", "from-env")
            .args(extra.split_whitespace())
            .args(["-c", "-f", &name])
            .output()
            .unwrap();
        let actual = format!(
            "exit: {}\n--- stdout\n{}--- stderr\n{}",
            out.status.code().unwrap_or(-1),
            normalise(&String::from_utf8_lossy(&out.stdout)),
            normalise(&String::from_utf8_lossy(&out.stderr))
        );
        compare(&cfg.with_extension("out"), &actual, &mut failures);
    }
    assert!(
        failures.is_empty(),
        "{} golden mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn ir_dump_matches_golden_files() {
    let dir = root().join("testdata/ir");
    let mut failures = Vec::new();
    for cfg in cfgs(&dir) {
        let name = cfg.file_name().unwrap().to_str().unwrap().to_string();
        let out = Command::new(env!("CARGO_BIN_EXE_haproxide"))
            .current_dir(&dir)
            .args(["-c", "-q", "--dump-ir", "-f", &name])
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{name} must be valid for an IR dump"
        );
        compare(
            &cfg.with_extension("ir"),
            &String::from_utf8_lossy(&out.stdout),
            &mut failures,
        );
    }
    assert!(
        failures.is_empty(),
        "{} IR mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn keywords_md_is_up_to_date() {
    let path = root().join("grammar/keywords.md");
    let generated = haproxide::config::keywords::markdown();
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &generated).unwrap();
        return;
    }
    let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        on_disk == generated,
        "grammar/keywords.md is stale: run `cargo run -- --dump-keywords > grammar/keywords.md`"
    );
}
