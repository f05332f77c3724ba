//! Section parsers: turn a section's lines (already split into words) into drafts, with
//! HAProxy's messages for every mistake. `link` turns the drafts into the IR.
//!
//! Dispatch goes through the keyword table: a line's keyword is looked up in
//! [`keywords::Family::Directive`]; removed, unsupported and accepted keywords are handled
//! here once; implemented ones go to the section's parser.

pub mod acl;
pub mod bind;
pub mod global;
pub mod link;
pub mod proxy;
pub mod rules;
pub mod server;
pub mod stick;
pub mod tcp;
pub mod tls;

use std::collections::HashMap;

use super::diag::{Diagnostic, Location, Severity};
use super::keywords::{self, Family, Keyword, Sections, Support};
use super::lexer::Word;
use super::loader::{unsupported, with_col, LoadOptions};
use super::suggest::best_match;

pub use proxy::ProxyDraft;

/// What the current section is.
#[derive(Debug)]
pub enum SectionState {
    None,
    Global,
    Proxy(Box<ProxyDraft>),
    Userlist(super::ir::Userlist),
    /// A section type haproxide does not run: its body is skipped (the header was refused).
    Unsupported,
    /// A section header that failed badly enough that its body is ignored.
    Broken,
    /// `listen name addr` (1.x): every body line is an error.
    LegacyAddress,
}

/// Parsing state shared by all section parsers.
pub struct Ctx {
    pub opts: LoadOptions,
    pub env: HashMap<String, String>,
    pub diags: Vec<Diagnostic>,
    pub file: String,
    pub line: usize,
    pub section: SectionState,
    pub section_kind_bits: Sections,
    pub section_name: String,
    pub quiet_from: Option<usize>,
    pub zero_warning: bool,
    pub global: global::GlobalDraft,
    /// The anonymous defaults in effect for the proxies that follow.
    pub defaults: ProxyDraft,
    pub named_defaults: HashMap<String, ProxyDraft>,
    pub proxies: Vec<ProxyDraft>,
    pub userlists: Vec<super::ir::Userlist>,
    /// Set by parsers for HAProxy's ERR_ABORT errors: the file stops being read.
    pub abort: bool,
    /// Fatal errors that link-time checks must ignore when reporting everything.
    pub fatal_offset: usize,
    fatal: usize,
    parse_fatal: usize,
    haproxy_fatal: usize,
}

impl Ctx {
    pub fn new(opts: &LoadOptions, env: HashMap<String, String>) -> Self {
        Ctx {
            opts: opts.clone(),
            env,
            diags: Vec::new(),
            file: String::new(),
            line: 0,
            section: SectionState::None,
            section_kind_bits: Sections::NONE,
            section_name: String::new(),
            quiet_from: None,
            zero_warning: false,
            global: global::GlobalDraft::default(),
            defaults: ProxyDraft::new_defaults(
                None,
                Location {
                    file: String::new(),
                    line: 0,
                    col: None,
                },
            ),
            named_defaults: HashMap::new(),
            proxies: Vec::new(),
            userlists: Vec::new(),
            abort: false,
            fatal_offset: 0,
            fatal: 0,
            parse_fatal: 0,
            haproxy_fatal: 0,
        }
    }

    pub fn push(&mut self, d: Diagnostic) {
        if d.is_fatal() {
            self.fatal += 1;
            if d.phase == super::diag::Phase::Parse {
                self.parse_fatal += 1;
                if !d.haproxide_only {
                    self.haproxy_fatal += 1;
                }
            }
        }
        self.diags.push(d);
    }

    pub fn fatal_count(&self) -> usize {
        self.fatal
    }

    /// Fatal parse errors HAProxy itself would report (not haproxide's refusals).
    pub fn haproxy_fatal_count(&self) -> usize {
        self.haproxy_fatal
    }

    /// Fatal errors of the parse phase only (HAProxy's "Error(s) found in file" trailer).
    pub fn parse_fatal_count(&self) -> usize {
        self.parse_fatal
    }

    pub fn set_position(&mut self, file: &str, line: usize) {
        if self.file != file {
            self.file = file.to_string();
        }
        self.line = line;
    }

    /// Resolves a host name with the configured resolver (the system's by default).
    pub fn resolve(
        &self,
        name: &str,
        family: Option<super::address::Family>,
    ) -> Option<std::net::IpAddr> {
        match self.opts.resolver {
            Some(r) => r(name, family),
            None => super::address::resolve_host_for(name, family),
        }
    }

    /// Variable lookup for the lexer, including HAProxy's pseudo variables.
    pub fn env_lookup(&self) -> impl Fn(&str) -> Option<String> + '_ {
        move |name: &str| match name {
            ".FILE" => Some(self.file.clone()),
            ".LINE" => Some(self.line.to_string()),
            ".SECTION" => Some(self.section_name.clone()),
            _ => self.env.get(name).cloned(),
        }
    }

    pub fn env_snapshot(&self) -> HashMap<String, String> {
        self.env.clone()
    }

    pub fn section_kind(&self) -> Sections {
        match &self.section {
            SectionState::None | SectionState::Broken => Sections::NONE,
            _ => self.section_kind_bits,
        }
    }

    /// Closes the current section, storing what it built.
    pub fn finish_section(&mut self) {
        match std::mem::replace(&mut self.section, SectionState::None) {
            SectionState::Proxy(p) => {
                let p = *p;
                if p.is_defaults() {
                    if let Some(name) = p.name.clone() {
                        self.named_defaults.insert(name, p.clone());
                    }
                    self.defaults = p;
                } else {
                    self.proxies.push(p);
                }
            }
            SectionState::Userlist(u) => self.userlists.push(u),
            _ => {}
        }
    }

    pub fn warn(&mut self, loc: &Location, code: &'static str, msg: impl Into<String>) {
        self.push(Diagnostic::parsing(
            Severity::Warning,
            code,
            loc.clone(),
            msg,
        ));
    }

    pub fn fatal(&mut self, loc: &Location, code: &'static str, msg: impl Into<String>) {
        self.push(Diagnostic::parsing(Severity::Fatal, code, loc.clone(), msg));
    }
}

/// A section name must be made of `[A-Za-z0-9_.:-]`.
pub fn invalid_name_char(name: &str) -> Option<char> {
    name.chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | ':' | '-')))
}

fn section_label(kind: Sections) -> &'static str {
    match kind {
        Sections::GLOBAL => "global",
        Sections::DEFAULTS => "defaults",
        Sections::FRONTEND => "frontend",
        Sections::BACKEND => "backend",
        Sections::LISTEN => "listen",
        Sections::USERLIST => "userlist",
        _ => "unknown",
    }
}

/// Starts a section of an implemented kind.
pub fn start_section(ctx: &mut Ctx, kind: Sections, words: &[Word], loc: &Location) {
    let label = section_label(kind);
    ctx.section_kind_bits = kind;
    ctx.section_name = label.to_string();
    match kind {
        Sections::GLOBAL => {
            ctx.section = SectionState::Global;
        }
        Sections::USERLIST => {
            let Some(name) = words.get(1) else {
                ctx.fatal(
                    loc,
                    "missing-name",
                    "'userlist' expects <name> as arguments.",
                );
                ctx.section = SectionState::Broken;
                return;
            };
            ctx.section = SectionState::Userlist(super::ir::Userlist {
                name: name.text.clone(),
                users: Vec::new(),
                groups: Vec::new(),
            });
        }
        _ => proxy::start_proxy(ctx, kind, label, words, loc),
    }
}

/// Routes a body line of the current section.
pub fn dispatch_body(ctx: &mut Ctx, words: &[Word], loc: &Location) {
    let section = ctx.section_kind();
    let first = words[0].text.as_str();
    // `no option X`, `default option X` and `no log` are prefixes, not rows of their own.
    if matches!(first, "no" | "default") && Sections::PROXIES.intersects(section) {
        if let Some(row) = keywords::lookup(Family::Directive, arg(words, 1), section) {
            if matches!(row.name, "option" | "log") {
                proxy::parse_line(ctx, row, words, loc);
                return;
            }
        }
    }
    // Compound keywords (`timeout client`, `stats uri`...) are rows of their own.
    let compound = words.get(1).map(|w| format!("{first} {}", w.text));
    let triple = words
        .get(2)
        .and_then(|w| compound.as_ref().map(|c| format!("{c} {}", w.text)));
    let row = triple
        .as_deref()
        .and_then(|c| keywords::lookup(Family::Directive, c, section))
        .or_else(|| {
            compound
                .as_deref()
                .and_then(|c| keywords::lookup(Family::Directive, c, section))
        })
        .filter(|k| k.sections.intersects(section) || is_proxy_family(section, k))
        .or_else(|| keywords::lookup(Family::Directive, first, section))
        // `timeout <unknown kind>` gets HAProxy's list of kinds from the timeout parser.
        .or_else(|| {
            (first == "timeout")
                .then(|| keywords::lookup(Family::Directive, "timeout client", section))
                .flatten()
        })
        // `tcp-request` alone or with an unknown kind gets HAProxy's message from its parser.
        .or_else(|| {
            (first == "tcp-request")
                .then(|| keywords::lookup(Family::Directive, "tcp-request content", section))
                .flatten()
        });
    let Some(row) = row else {
        unknown_keyword(ctx, words, loc, section);
        return;
    };
    if !row.sections.intersects(section) && !is_proxy_family(section, row) {
        unknown_keyword(ctx, words, loc, section);
        return;
    }
    if !check_status(ctx, row, words, loc) {
        return;
    }
    match &ctx.section {
        SectionState::Global => global::parse_line(ctx, row, words, loc),
        SectionState::Proxy(_) => proxy::parse_line(ctx, row, words, loc),
        SectionState::Userlist(_) => global::parse_userlist_line(ctx, row, words, loc),
        _ => {}
    }
}

/// A proxy keyword found in another kind of proxy section (e.g. `server` in a frontend) is
/// the proxy parser's business: HAProxy warns or fails with a capability message.
fn is_proxy_family(section: Sections, row: &Keyword) -> bool {
    Sections::PROXIES.intersects(section) && row.sections.intersects(Sections::PROXIES)
}

/// Applies a row's support status. Returns true when the line should be parsed.
pub fn check_status(ctx: &mut Ctx, row: &Keyword, words: &[Word], loc: &Location) -> bool {
    match row.support {
        Support::Implemented => true,
        Support::Removed(msg) => {
            ctx.push(Diagnostic::parsing(
                Severity::Fatal,
                "removed-keyword",
                with_col(loc, &words[0]),
                msg,
            ));
            false
        }
        Support::Unsupported => {
            ctx.push(unsupported(&with_col(loc, &words[0]), row.name));
            false
        }
        Support::Accepted => {
            ctx.push(
                Diagnostic::parsing(
                    Severity::Notice,
                    "accepted-tuning",
                    with_col(loc, &words[0]),
                    format!("'{}' is a tuning keyword with no effect in haproxide; accepted and ignored.", row.name),
                )
                .ours(),
            );
            false
        }
    }
}

/// HAProxy's extra "did you mean" candidates for global and proxy sections
/// (`common_kw_list` in cfgparse-listen.c).
const COMMON_KEYWORDS: &[&str] = &[
    "listen",
    "frontend",
    "backend",
    "defaults",
    "server",
    "default-server",
    "server-template",
    "bind",
    "monitor-net",
    "monitor-uri",
    "mode",
    "id",
    "description",
    "disabled",
    "enabled",
    "bind-process",
    "acl",
    "dynamic-cookie-key",
    "cookie",
    "email-alert",
    "persist",
    "appsession",
    "load-server-state-from-file",
    "server-state-file-name",
    "max-session-srv-conns",
    "capture",
    "retries",
    "http-request",
    "http-response",
    "http-after-response",
    "http-send-name-header",
    "block",
    "redirect",
    "use_backend",
    "use-server",
    "force-persist",
    "ignore-persist",
    "force-persist",
    "stick-table",
    "stick",
    "stats",
    "option",
    "default_backend",
    "http-reuse",
    "monitor",
    "transparent",
    "maxconn",
    "backlog",
    "fullconn",
    "dispatch",
    "balance",
    "hash-type",
    "hash-balance-factor",
    "unique-id-format",
    "unique-id-header",
    "log-format",
    "log-format-sd",
    "log-tag",
    "log",
    "source",
    "usesrc",
    "error-log-format",
];

fn unknown_keyword(ctx: &mut Ctx, words: &[Word], loc: &Location, section: Sections) {
    let first = &words[0].text;
    let candidates: Vec<&str> = Family::Directive
        .rows()
        .iter()
        .filter(|k| k.sections.intersects(section))
        .map(|k| k.name.split(' ').next().unwrap_or(k.name))
        .chain(COMMON_KEYWORDS.iter().copied())
        .collect();
    let label = section_label(section);
    let label = if label == "unknown" {
        ctx.section_name.clone()
    } else {
        label.to_string()
    };
    let suggestion = best_match(first, candidates.iter().copied());
    let msg = match suggestion {
        Some(s) => {
            format!("unknown keyword '{first}' in '{label}' section; did you mean '{s}' maybe ?")
        }
        None => format!("unknown keyword '{first}' in '{label}' section"),
    };
    let mut d = Diagnostic::parsing(
        Severity::Fatal,
        "unknown-keyword",
        with_col(loc, &words[0]),
        msg,
    );
    if let Some(s) = suggestion {
        d = d.with_help(format!("did you mean '{s}'?"));
    }
    ctx.push(d);
}

/// `words[i]` or "" (HAProxy's args are empty strings past the end).
pub fn arg(words: &[Word], i: usize) -> &str {
    words.get(i).map_or("", |w| w.text.as_str())
}

/// The location of word `i` (or of the line when absent).
pub fn at(loc: &Location, words: &[Word], i: usize) -> Location {
    match words.get(i) {
        Some(w) => with_col(loc, w),
        None => loc.clone(),
    }
}
