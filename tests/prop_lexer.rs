//! Property tests for the lexer and the whole loader: no input may panic, and the lexer
//! agrees with simple models of HAProxy's quoting rules.

use haproxide::config::lexer::{lex_line, Lexed};
use haproxide::config::{load_text, LoadOptions};
use proptest::prelude::*;

fn no_env(_: &str) -> Option<String> {
    None
}

fn words(line: &str) -> Option<Vec<String>> {
    match lex_line(line, &no_env) {
        Lexed::Words(w) => Some(w.into_iter().map(|w| w.text).collect()),
        Lexed::Error(_) => None,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn lexer_never_panics(line in any::<String>()) {
        let _ = lex_line(&line, &no_env);
    }

    #[test]
    fn lexer_never_panics_on_config_alphabet(line in "[ \\t\"'\\\\#$\\{\\}\\[\\]*a-z0-9x.-]{0,80}") {
        let _ = lex_line(&line, &|_: &str| Some("v a l".to_string()));
    }

    #[test]
    fn plain_words_split_on_blanks(ws in prop::collection::vec("[a-z0-9_.:/-]{1,12}", 1..20), seps in prop::collection::vec("[ \\t]{1,3}", 20)) {
        let mut line = String::new();
        for (i, w) in ws.iter().enumerate() {
            line.push_str(&seps[i]);
            line.push_str(w);
        }
        prop_assert_eq!(words(&line), Some(ws));
    }

    #[test]
    fn single_quotes_keep_everything(s in "[^'\\n]{0,40}") {
        prop_assert_eq!(words(&format!("'{s}'")), Some(vec![s]));
    }

    #[test]
    fn escaped_spaces_join_words(a in "[a-z]{1,8}", b in "[a-z]{1,8}") {
        prop_assert_eq!(words(&format!("{a}\\ {b}")), Some(vec![format!("{a} {b}")]));
    }

    #[test]
    fn comments_end_the_line(ws in prop::collection::vec("[a-z]{1,8}", 1..5), rest in "[^\\n]{0,30}") {
        let line = format!("{} #{rest}", ws.join(" "));
        prop_assert_eq!(words(&line), Some(ws));
    }

    #[test]
    fn hex_escapes_decode(b in 0x20u8..0x7f) {
        prop_assume!(b != b'"' && b != b'\\');
        prop_assert_eq!(words(&format!("\"\\x{b:02x}\"")), Some(vec![(b as char).to_string()]));
    }

    #[test]
    fn loader_never_panics(text in "([ a-z0-9:.*#\"'$\\{\\}-]{0,30}\\n){0,12}") {
        let _ = load_text("fuzz.cfg", &text, &LoadOptions { report_all: true, ..LoadOptions::default() });
    }

    #[test]
    fn loader_never_panics_on_keyword_soup(lines in prop::collection::vec(
        prop::sample::select(vec![
            "global", "defaults", "frontend fe", "backend be", "listen l", "userlist u", "  mode http", "  mode tcp",
            "  bind :0", "  bind :", "  server s 127.0.0.1:1", "  server s", "  timeout client 1s", "  timeout", "  option httplog",
            "  no option", "  acl a path_beg /", "  use_backend be if a", "  use_backend be if {", "  default_backend be",
            "  http-request deny if !a", "  balance uri len", ".if 1", ".endif", ".else", "  user x insecure-password y groups",
            "  group g users x", "  cookie C insert", "  errorfile 503", "  stats uri", "  log global", "  log 127.0.0.1",
        ]), 0..30)) {
        let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
        let _ = load_text("soup.cfg", &text, &LoadOptions { report_all: true, ..LoadOptions::default() });
    }
}
