//! The loading driver: files → lines → words → preprocessor (`.if`, `.notice`...) →
//! section dispatch through the keyword table → section parsers → link-time checks → IR.
//!
//! It reproduces HAProxy's control flow where it shows in `-c` output: all files are parsed
//! and every line error is reported; `.if` errors and missing section names abort the file;
//! link-time checks run only when parsing found no fatal error.

use std::collections::HashMap;

use super::cond;
use super::diag::{Diagnostic, Location, Severity};
use super::ir::Config;
use super::keywords::{self, Family, Keyword, Sections, Support};
use super::lexer::{lex_line, Lexed, Word};
use super::parse::{self, Ctx, SectionState};
use super::source::{expand_inputs, split_lines, SourceFile};
use super::suggest::best_match;

/// How to load: the `-f` arguments and the flags that change checking.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    pub files: Vec<String>,
    /// `-dr`: a server address that does not resolve disables the server instead of failing.
    pub ignore_dns_failures: bool,
    /// `-dW`: warnings are fatal.
    pub zero_warning: bool,
    /// `-dD`: show `.diag` messages.
    pub diag_mode: bool,
    /// An environment to use instead of the process one (tests).
    pub env: Option<HashMap<String, String>>,
    /// Run the link-time checks even after parse errors, so that one run reports every
    /// error (HAProxy stops before them; the human and JSON formats do not).
    pub report_all: bool,
    /// Host name resolution; `None` uses the system resolver as HAProxy does. Tests and the
    /// fuzzers plug in a resolver that never touches the network.
    pub resolver: Option<Resolver>,
}

/// A host name resolver: the name and the address family its prefix asked for.
pub type Resolver = fn(&str, Option<super::address::Family>) -> Option<std::net::IpAddr>;

/// What loading produced.
#[derive(Debug, Default)]
pub struct Loaded {
    /// The IR, when there was no fatal error.
    pub config: Option<Config>,
    pub diagnostics: Vec<Diagnostic>,
    /// Parsing stopped early (HAProxy's ERR_ABORT): no "Fatal errors found" trailer.
    pub aborted: bool,
    /// Files in which parsing found fatal errors (for the "Error(s) found" trailer).
    pub files_with_errors: Vec<String>,
    /// `quiet` seen in `global`: index of the first diagnostic emitted after it.
    pub quiet_from: Option<usize>,
    /// `zero-warning` set in global or by `-dW`.
    pub zero_warning: bool,
}

impl Loaded {
    pub fn has_fatal(&self) -> bool {
        self.diagnostics.iter().any(|d| d.is_fatal())
    }
}

/// Loads the files named in `opts`.
pub fn load(opts: &LoadOptions) -> Loaded {
    let inputs = expand_inputs(&opts.files);
    let mut files = Vec::new();
    let mut loaded = Loaded::default();
    for input in inputs {
        match input {
            Ok(f) => files.push(f),
            Err(msg) => {
                loaded.diagnostics.push(Diagnostic::plain(
                    Severity::Fatal,
                    "cannot-open",
                    None,
                    msg,
                ));
                loaded.aborted = true;
                return loaded;
            }
        }
    }
    load_sources(&files, opts)
}

/// Loads a configuration given as text (tests, fuzzing, embedding).
pub fn load_text(name: &str, text: &str, opts: &LoadOptions) -> Loaded {
    load_sources(
        &[SourceFile {
            name: name.to_string(),
            text: text.to_string(),
        }],
        opts,
    )
}

/// Loads already-read sources, in order.
pub fn load_sources(files: &[SourceFile], opts: &LoadOptions) -> Loaded {
    let mut env: HashMap<String, String> = match &opts.env {
        Some(e) => e.clone(),
        None => std::env::vars().collect(),
    };
    env.entry("HAPROXY_LOCALPEER".into())
        .or_insert_with(local_hostname);
    let mut ctx = Ctx::new(opts, env);
    let mut aborted = false;
    let mut files_with_errors = Vec::new();
    for file in files {
        let fatal_before = ctx.parse_fatal_count();
        let file_aborted = load_file(&mut ctx, file);
        if ctx.parse_fatal_count() > fatal_before || file_aborted {
            files_with_errors.push(file.name.clone());
        }
        if file_aborted {
            aborted = true;
            break;
        }
    }
    ctx.finish_section();
    // Duplicate proxy names are parse errors in HAProxy, reported against the later file.
    let before = ctx.parse_fatal_count();
    parse::link::check_names(&mut ctx);
    if ctx.parse_fatal_count() > before {
        for d in ctx.diags.iter().filter(|d| d.code == "duplicate-name") {
            if let Some(l) = &d.location {
                if !files_with_errors.contains(&l.file) {
                    files_with_errors.push(l.file.clone());
                }
            }
        }
    }
    let parse_failed = ctx.fatal_count() > 0;
    let config = if parse_failed && !opts.report_all {
        None
    } else {
        parse::link::link_all(&mut ctx, opts.report_all)
    };
    aborted |= ctx.abort;
    let config = if ctx.fatal_count() > 0 { None } else { config };
    Loaded {
        config,
        aborted,
        files_with_errors,
        quiet_from: ctx.quiet_from,
        zero_warning: ctx.zero_warning || opts.zero_warning,
        diagnostics: ctx.diags,
    }
}

fn local_hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "localhost".to_string())
}

/// `.if` nesting state.
struct CondFrame {
    /// Whether the enclosing block is active.
    parent_active: bool,
    /// Whether some branch of this block was already taken.
    taken: bool,
    /// Whether the current branch is active.
    active: bool,
    seen_else: bool,
}

/// Parses one file; returns true when parsing was aborted.
fn load_file(ctx: &mut Ctx, file: &SourceFile) -> bool {
    let (lines, missing_lf) = split_lines(&file.text);
    let mut conds: Vec<CondFrame> = Vec::new();
    // HAProxy gives up on a file after 50 lines with fatal errors.
    let mut fatal_lines = 0usize;
    let mut fatal_seen = ctx.haproxy_fatal_count();
    for line in &lines {
        let loc = Location {
            file: file.name.clone(),
            line: line.number,
            col: None,
        };
        if ctx.haproxy_fatal_count() > fatal_seen {
            fatal_lines += 1;
            fatal_seen = ctx.haproxy_fatal_count();
        }
        if fatal_lines >= 50 {
            // HAProxy stops reading this file but goes on (no abort).
            ctx.push(Diagnostic::parsing_tight(
                Severity::Fatal,
                "too-many-errors",
                loc,
                format!("too many fatal errors ({fatal_lines}), stopping now."),
            ));
            return false;
        }
        ctx.set_position(&file.name, line.number);
        if let Some(nul) = line.text.find('\0') {
            ctx.push(Diagnostic::parsing_tight(
                Severity::Fatal,
                "nul-byte",
                loc.clone(),
                format!("Stray NUL character at position {}.", nul + 1),
            ));
            continue;
        }
        let lexed = {
            let env = ctx.env_lookup();
            lex_line(line.text, &env)
        };
        let words = match lexed {
            Lexed::Words(w) => w,
            Lexed::Error(e) => {
                let is_words = e.message.starts_with("too many words");
                // HAProxy shows the line from its first word on, and positions count from there.
                let indent = line.text.len() - line.text.trim_start().len();
                let shown = line.text.trim_start();
                let index = e.index.saturating_sub(indent);
                // For an unmatched brace HAProxy's copy of the line ends before the next '}'.
                let shown = match e.message.starts_with("unmatched brace") {
                    true => shown
                        .get(index..)
                        .and_then(|rest| rest.find('}'))
                        .map_or(shown, |end| &shown[..index + end]),
                    false => shown,
                };
                let text = if is_words {
                    e.message.clone()
                } else {
                    format!(
                        "{} at position {}:\n  {}\n  {}^",
                        e.message,
                        e.index + 1,
                        shown,
                        " ".repeat(index)
                    )
                };
                let mut d = Diagnostic::parsing_tight(
                    Severity::Fatal,
                    "lexical-error",
                    loc.clone(),
                    e.message.clone(),
                );
                d.haproxy_text = format!("parsing [{}:{}]: {}", file.name, line.number, text);
                if let Some(l) = d.location.as_mut() {
                    l.col = Some(e.index + 1);
                }
                ctx.push(d);
                continue;
            }
        };
        let Some(first) = words.first() else { continue };
        let active = conds.last().is_none_or(|c| c.active);
        if first.text.starts_with('.') && first.text.len() > 1 {
            match preprocessor(ctx, &words, &loc, line.text, &mut conds, active) {
                Flow::Continue => continue,
                Flow::Abort => return true,
            }
        }
        if !active {
            continue;
        }
        dispatch_line(ctx, &words, &loc);
        if ctx.abort {
            return true;
        }
    }
    if !conds.is_empty() {
        let loc = Location {
            file: file.name.clone(),
            line: lines.len().max(1),
            col: None,
        };
        ctx.push(Diagnostic::parsing_tight(
            Severity::Fatal,
            "unterminated-if",
            loc,
            "non-terminated '.if' block.",
        ));
        return true;
    }
    if let Some((number, position)) = missing_lf {
        let loc = Location {
            file: file.name.clone(),
            line: number,
            col: None,
        };
        ctx.push(Diagnostic::parsing_tight(
            Severity::Fatal,
            "missing-lf",
            loc,
            format!(
                "Missing LF on last line, file might have been truncated at position {position}."
            ),
        ));
    }
    false
}

enum Flow {
    Continue,
    Abort,
}

fn preprocessor(
    ctx: &mut Ctx,
    words: &[Word],
    loc: &Location,
    raw: &str,
    conds: &mut Vec<CondFrame>,
    active: bool,
) -> Flow {
    let directive = words[0].text.as_str();
    let abort = |ctx: &mut Ctx, msg: String| {
        ctx.push(Diagnostic::parsing_tight(
            Severity::Fatal,
            "preprocessor",
            loc.clone(),
            msg,
        ));
        Flow::Abort
    };
    match directive {
        ".if" | ".elif" => {
            let expr: Vec<&str> = words[1..].iter().map(|w| w.text.as_str()).collect();
            let expr = expr.join(" ");
            let needs_eval = match directive {
                ".if" => active,
                _ => conds.last().is_some_and(|c| c.parent_active && !c.taken),
            };
            if directive == ".elif" {
                match conds.last() {
                    None => return abort(ctx, "lone '.elif' with no matching '.if'.".into()),
                    Some(c) if c.seen_else => {
                        return abort(ctx, "'.elif' after '.else' is not permitted.".into())
                    }
                    _ => {}
                }
            }
            let value = if needs_eval {
                let env = ctx.env_snapshot();
                let defined = |v: &str| env.contains_key(v);
                match cond::eval(&expr, &defined) {
                    Ok(v) => v,
                    Err(e) => {
                        let col = words.get(1).map_or(raw.len(), |w| w.col - 1) + e.offset;
                        let msg = format!(
                            "{} in '{}' at position {}:\n  {}\n  {}^",
                            e.message,
                            directive,
                            e.offset + 1,
                            raw,
                            " ".repeat(col)
                        );
                        let mut d = Diagnostic::parsing_tight(
                            Severity::Fatal,
                            "bad-condition",
                            loc.clone(),
                            e.message,
                        );
                        d.haproxy_text = format!("parsing [{}:{}]: {}", loc.file, loc.line, msg);
                        ctx.push(d);
                        return Flow::Abort;
                    }
                }
            } else {
                false
            };
            if directive == ".if" {
                conds.push(CondFrame {
                    parent_active: active,
                    taken: value,
                    active: value,
                    seen_else: false,
                });
            } else if let Some(c) = conds.last_mut() {
                c.active = value && !c.taken && c.parent_active;
                c.taken |= value;
            }
            Flow::Continue
        }
        ".else" => match conds.last_mut() {
            None => abort(ctx, "lone '.else' with no matching '.if'.".into()),
            Some(c) if c.seen_else => abort(ctx, "'.else' after '.else' is not permitted.".into()),
            Some(c) => {
                c.seen_else = true;
                c.active = c.parent_active && !c.taken;
                c.taken = true;
                Flow::Continue
            }
        },
        ".endif" => {
            if conds.pop().is_none() {
                return abort(ctx, "lone '.endif' with no matching '.if'.".into());
            }
            Flow::Continue
        }
        ".diag" | ".notice" | ".warning" | ".alert" => {
            if !active {
                return Flow::Continue;
            }
            if let Some(extra) = words.get(2) {
                ctx.push(Diagnostic::parsing_tight(
                    Severity::Fatal,
                    "preprocessor",
                    loc.clone(),
                    format!("Unexpected argument '{}' for '{}'. Use quotes if the message should contain spaces.", extra.text, directive),
                ));
                return Flow::Continue;
            }
            let msg = format!("'{}'.", words.get(1).map_or("", |w| w.text.as_str()));
            let (sev, code) = match directive {
                ".diag" => (Severity::Diag, "diag-directive"),
                ".notice" => (Severity::Notice, "notice-directive"),
                ".warning" => (Severity::Warning, "warning-directive"),
                _ => (Severity::Fatal, "alert-directive"),
            };
            if sev == Severity::Diag && !ctx.opts.diag_mode {
                return Flow::Continue;
            }
            ctx.push(Diagnostic::parsing_tight(sev, code, loc.clone(), msg));
            if sev == Severity::Fatal {
                Flow::Abort
            } else {
                Flow::Continue
            }
        }
        _ => {
            if !active {
                return Flow::Continue;
            }
            ctx.push(Diagnostic::parsing_tight(
                Severity::Fatal,
                "unknown-directive",
                loc.clone(),
                format!("unknown directive '{directive}'."),
            ));
            Flow::Continue
        }
    }
}

/// Sends a line to the section it belongs to, after the keyword table has had its say.
fn dispatch_line(ctx: &mut Ctx, words: &[Word], loc: &Location) {
    let first = words[0].text.as_str();
    if let Some(kw) = keywords::lookup(Family::Section, first, Sections::NONE) {
        ctx.finish_section();
        start_section(ctx, kw, words, loc);
        return;
    }
    let section = ctx.section_kind();
    if section == Sections::NONE {
        if matches!(ctx.section, SectionState::Broken) {
            return;
        }
        let mut d = Diagnostic::parsing_tight(
            Severity::Fatal,
            "unknown-keyword",
            with_col(loc, &words[0]),
            format!("unknown keyword '{first}' out of section."),
        );
        if let Some(s) = best_match(
            first,
            keywords::Family::Section.rows().iter().map(|k| k.name),
        ) {
            d = d.with_help(format!("did you mean '{s}'?"));
        }
        ctx.push(d);
        return;
    }
    if matches!(ctx.section, SectionState::Unsupported) {
        return;
    }
    if matches!(ctx.section, SectionState::LegacyAddress) {
        ctx.push(Diagnostic::parsing(
            Severity::Fatal,
            "legacy-section",
            loc.clone(),
            "'listen' or 'defaults' expected.",
        ));
        return;
    }
    parse::dispatch_body(ctx, words, loc);
}

pub(crate) fn with_col(loc: &Location, w: &Word) -> Location {
    Location {
        col: Some(w.col),
        ..loc.clone()
    }
}

fn start_section(ctx: &mut Ctx, kw: &'static Keyword, words: &[Word], loc: &Location) {
    let name = kw.name;
    let kind = match name {
        "global" => Sections::GLOBAL,
        "defaults" => Sections::DEFAULTS,
        "frontend" => Sections::FRONTEND,
        "backend" => Sections::BACKEND,
        "listen" => Sections::LISTEN,
        "userlist" => Sections::USERLIST,
        "peers" => Sections::PEERS,
        "resolvers" => Sections::RESOLVERS,
        "mailers" => Sections::MAILERS,
        "program" => Sections::PROGRAM,
        "http-errors" => Sections::HTTP_ERRORS,
        "ring" => Sections::RING,
        "cache" => Sections::CACHE,
        "fcgi-app" => Sections::FCGI_APP,
        "log-forward" => Sections::LOG_FORWARD,
        _ => Sections::NONE,
    };
    match kw.support {
        Support::Unsupported => {
            ctx.push(unsupported(loc, &format!("{name} section")).with_help(
                "haproxide refuses configurations it cannot run faithfully; remove the section or run HAProxy for it",
            ));
            ctx.section = SectionState::Unsupported;
            ctx.section_kind_bits = kind;
            return;
        }
        Support::Removed(msg) => {
            ctx.push(Diagnostic::parsing(
                Severity::Fatal,
                "removed-keyword",
                loc.clone(),
                msg,
            ));
            ctx.section = SectionState::Broken;
            return;
        }
        _ => {}
    }
    parse::start_section(ctx, kind, words, loc);
}

/// The diagnostic for a valid HAProxy keyword haproxide cannot run.
pub fn unsupported(loc: &Location, what: &str) -> Diagnostic {
    Diagnostic::parsing(
        Severity::Fatal,
        "unsupported-keyword",
        loc.clone(),
        format!("keyword '{what}' is valid in HAProxy 2.6 but not supported by haproxide"),
    )
    .ours()
}
