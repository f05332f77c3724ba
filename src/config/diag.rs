//! Diagnostics: what the config layer says about a config, and how it is rendered.
//!
//! Each diagnostic keeps HAProxy's exact text (what follows `config : ` in an `[ALERT]` or
//! `[WARNING]` line) so that `-c` output matches HAProxy byte for byte, plus a stable code,
//! a precise location (file, line, column) and an optional help text for the human and
//! JSON renderings that go beyond HAProxy.

use std::fmt::Write as _;

/// How serious a diagnostic is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// `.diag` output, shown only with `-dD`.
    Diag,
    /// `[NOTICE]` lines (`.notice`, accepted-but-ignored keywords).
    Notice,
    /// `[WARNING]` lines; fatal only with `zero-warning` / `-dW`.
    Warning,
    /// An `[ALERT]` that HAProxy prints but continues after (`'maxconn' already specified`).
    AlertNonFatal,
    /// A fatal `[ALERT]`.
    Fatal,
}

/// When HAProxy emits it: while reading lines, or in the post-parse checks, which HAProxy
/// only runs when parsing found no fatal error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    Parse,
    Link,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Location {
    /// The file name exactly as given on the command line (HAProxy prints it that way).
    pub file: String,
    pub line: usize,
    /// 1-based column of the offending word, when known.
    pub col: Option<usize>,
}

#[derive(Clone, Debug)]
pub struct Diagnostic {
    pub severity: Severity,
    pub phase: Phase,
    /// Stable identifier for tools (`--format json`), e.g. `unknown-keyword`.
    pub code: &'static str,
    /// The text HAProxy prints after `config : `, possibly with `\n   | ` continuation lines.
    pub haproxy_text: String,
    /// The message alone, without HAProxy's location prefix, for the human renderer.
    pub message: String,
    pub location: Option<Location>,
    pub help: Option<String>,
    /// haproxide-only diagnostics (unsupported keywords, notices about ignored tuning) are
    /// not part of HAProxy's output; they are still printed, after HAProxy's own lines.
    pub haproxide_only: bool,
}

impl Diagnostic {
    fn new(
        severity: Severity,
        code: &'static str,
        message: String,
        haproxy_text: String,
        location: Option<Location>,
    ) -> Self {
        Diagnostic {
            severity,
            phase: Phase::Parse,
            code,
            haproxy_text,
            message,
            location,
            help: None,
            haproxide_only: false,
        }
    }

    /// `parsing [FILE:LINE] : MSG`, the most common HAProxy form.
    pub fn parsing(
        severity: Severity,
        code: &'static str,
        loc: Location,
        msg: impl Into<String>,
    ) -> Self {
        let msg = msg.into();
        let text = format!("parsing [{}:{}] : {}", loc.file, loc.line, msg);
        Self::new(severity, code, msg, text, Some(loc))
    }

    /// `parsing [FILE:LINE]: MSG`, the form without a space that some HAProxy parsers use.
    pub fn parsing_tight(
        severity: Severity,
        code: &'static str,
        loc: Location,
        msg: impl Into<String>,
    ) -> Self {
        let msg = msg.into();
        let text = format!("parsing [{}:{}]: {}", loc.file, loc.line, msg);
        Self::new(severity, code, msg, text, Some(loc))
    }

    /// `[FILE:LINE] : MSG`, used by the server-line parser.
    pub fn bracketed(
        severity: Severity,
        code: &'static str,
        loc: Location,
        msg: impl Into<String>,
    ) -> Self {
        let msg = msg.into();
        let text = format!("[{}:{}] : {}", loc.file, loc.line, msg);
        Self::new(severity, code, msg, text, Some(loc))
    }

    /// A message HAProxy prints with no location; `loc` is still kept for our own renderers.
    pub fn plain(
        severity: Severity,
        code: &'static str,
        loc: Option<Location>,
        msg: impl Into<String>,
    ) -> Self {
        let msg = msg.into();
        Self::new(severity, code, msg.clone(), msg, loc)
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    pub fn link(mut self) -> Self {
        self.phase = Phase::Link;
        self
    }

    pub fn ours(mut self) -> Self {
        self.haproxide_only = true;
        self
    }

    pub fn is_fatal(&self) -> bool {
        self.severity == Severity::Fatal
    }
}

/// Quotes a string for JSON output (the only JSON this crate writes).
pub fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

impl Severity {
    pub fn name(self) -> &'static str {
        match self {
            Severity::Diag => "diag",
            Severity::Notice => "notice",
            Severity::Warning => "warning",
            Severity::AlertNonFatal => "alert",
            Severity::Fatal => "error",
        }
    }
}
