//! Rendering a load result as `haproxy -c` does (stdout, stderr, exit code), as a human
//! report with the offending line and a caret, or as JSON with stable codes.

use super::diag::{json_string, Diagnostic, Phase, Severity};
use super::loader::Loaded;

/// What `-c` prints and returns.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct CheckOutput {
    pub stdout: String,
    pub stderr: String,
    pub exit_code: i32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Haproxy,
    Human,
    Json,
}

/// Options of the `-c` command that shape its output.
#[derive(Debug, Clone, Default)]
pub struct CheckFlags {
    /// `-q`: print nothing.
    pub quiet: bool,
    /// `-V`: print even under `quiet`.
    pub verbose: bool,
    pub pid: u32,
    pub program: String,
}

/// The exit code HAProxy would return, and whether warnings were seen.
pub fn verdict(loaded: &Loaded) -> (i32, bool) {
    let warnings = loaded
        .diagnostics
        .iter()
        .any(|d| d.severity == Severity::Warning && !d.haproxide_only);
    if loaded.has_fatal() || loaded.aborted || loaded.config.is_none() {
        return (1, warnings);
    }
    if warnings && loaded.zero_warning {
        return (1, warnings);
    }
    let has_listener = loaded.config.as_ref().is_some_and(|c| {
        c.frontends
            .iter()
            .any(|f| !f.disabled && !f.binds.is_empty())
    });
    (if has_listener { 0 } else { 2 }, warnings)
}

fn level(sev: Severity) -> &'static str {
    match sev {
        Severity::Diag => "[DIAG]     ",
        Severity::Notice => "[NOTICE]   ",
        Severity::Warning => "[WARNING]  ",
        Severity::AlertNonFatal | Severity::Fatal => "[ALERT]    ",
    }
}

/// `haproxy -c` output, byte for byte where HAProxy's own messages are concerned.
pub fn render_haproxy(loaded: &Loaded, flags: &CheckFlags) -> CheckOutput {
    let (exit_code, warnings) = verdict(loaded);
    let mut out = CheckOutput {
        exit_code,
        ..CheckOutput::default()
    };
    if flags.quiet && !flags.verbose {
        return out;
    }
    let pid = flags.pid;
    let mut header_done = false;
    let mut err = String::new();
    let quiet_from = if flags.verbose {
        None
    } else {
        loaded.quiet_from
    };
    let parse_failed = loaded
        .diagnostics
        .iter()
        .any(|d| d.is_fatal() && d.phase == Phase::Parse);
    let line = |d: &Diagnostic, err: &mut String, header_done: &mut bool| {
        if matches!(
            d.severity,
            Severity::Warning | Severity::AlertNonFatal | Severity::Fatal
        ) && !*header_done
        {
            err.push_str(&format!(
                "[NOTICE]   ({pid}) : haproxy version is {}\n",
                crate::VERSION_FOR_SCRIPTS
            ));
            err.push_str(&format!(
                "[NOTICE]   ({pid}) : path to executable is {}\n",
                flags.program
            ));
            *header_done = true;
        }
        err.push_str(&format!(
            "{}({pid}) : config : {}\n",
            level(d.severity),
            d.haproxy_text
        ));
    };
    let mut trailer_files_done = false;
    for (i, d) in loaded.diagnostics.iter().enumerate() {
        if quiet_from.is_some_and(|q| i >= q) {
            break;
        }
        if d.phase == Phase::Link && !trailer_files_done {
            trailer_files_done = true;
        }
        line(d, &mut err, &mut header_done);
    }
    let silenced = quiet_from.is_some();
    if !silenced {
        if parse_failed || loaded.aborted {
            for f in &loaded.files_with_errors {
                let d = Diagnostic::plain(
                    Severity::Fatal,
                    "trailer",
                    None,
                    format!("Error(s) found in configuration file : {f}"),
                );
                line(&d, &mut err, &mut header_done);
            }
        }
        let fatal = loaded.has_fatal();
        if fatal && !loaded.aborted {
            let d = Diagnostic::plain(
                Severity::Fatal,
                "trailer",
                None,
                "Fatal errors found in configuration.",
            );
            line(&d, &mut err, &mut header_done);
        } else if !fatal && exit_code == 1 && loaded.zero_warning && warnings {
            let d = Diagnostic::plain(
                Severity::Fatal,
                "trailer",
                None,
                "Some warnings were found and 'zero-warning' is set. Aborting.",
            );
            line(&d, &mut err, &mut header_done);
        }
        match exit_code {
            0 => {
                if warnings {
                    out.stdout.push_str("Warnings were found.\n");
                }
                out.stdout.push_str("Configuration file is valid\n");
            }
            2 => {
                if warnings {
                    out.stdout.push_str("Warnings were found.\n");
                }
                out.stdout.push_str("Configuration file has no error but will not start (no listener) => exit(2).\n");
            }
            _ => {}
        }
    }
    out.stderr = err;
    out
}

/// A report for people: every diagnostic with its source line and a caret under the word.
pub fn render_human(loaded: &Loaded, sources: &dyn Fn(&str) -> Option<String>) -> CheckOutput {
    let (exit_code, _) = verdict(loaded);
    let mut err = String::new();
    for d in &loaded.diagnostics {
        err.push_str(&format!(
            "{}[{}]: {}\n",
            d.severity.name(),
            d.code,
            first_line(&d.message)
        ));
        if let Some(loc) = &d.location {
            let col = loc.col.unwrap_or(1);
            err.push_str(&format!("  --> {}:{}:{}\n", loc.file, loc.line, col));
            if let Some(text) = sources(&loc.file).and_then(|t| {
                t.lines()
                    .nth(loc.line.saturating_sub(1))
                    .map(str::to_string)
            }) {
                let gutter = loc.line.to_string().len();
                err.push_str(&format!(
                    "{} |\n{} | {}\n{} | {}^\n",
                    " ".repeat(gutter),
                    loc.line,
                    text,
                    " ".repeat(gutter),
                    caret_pad(&text, col)
                ));
            }
        }
        if let Some(h) = &d.help {
            err.push_str(&format!("  = help: {h}\n"));
        }
        err.push('\n');
    }
    let counts = count(loaded);
    err.push_str(&format!("{} error(s), {} warning(s)\n", counts.0, counts.1));
    let stdout = match exit_code {
        0 => "Configuration file is valid\n".to_string(),
        2 => "Configuration file has no error but will not start (no listener) => exit(2).\n"
            .to_string(),
        _ => String::new(),
    };
    CheckOutput {
        stdout,
        stderr: err,
        exit_code,
    }
}

/// Spaces (tabs kept) up to the 1-based column `col` of `text`.
fn caret_pad(text: &str, col: usize) -> String {
    text.chars()
        .take(col.saturating_sub(1))
        .map(|c| if c == '\t' { '\t' } else { ' ' })
        .collect()
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or("")
}

fn count(loaded: &Loaded) -> (usize, usize) {
    let errors = loaded.diagnostics.iter().filter(|d| d.is_fatal()).count();
    let warnings = loaded
        .diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Warning)
        .count();
    (errors, warnings)
}

/// JSON: `{"valid":bool,"exit_code":N,"diagnostics":[{code,severity,message,file,line,column,help}]}`.
pub fn render_json(loaded: &Loaded) -> CheckOutput {
    let (exit_code, _) = verdict(loaded);
    let mut items = Vec::new();
    for d in &loaded.diagnostics {
        let (file, line, col) = match &d.location {
            Some(l) => (
                json_string(&l.file),
                l.line.to_string(),
                l.col.map_or("null".to_string(), |c| c.to_string()),
            ),
            None => ("null".to_string(), "null".to_string(), "null".to_string()),
        };
        items.push(format!(
            "{{\"code\":{},\"severity\":{},\"message\":{},\"haproxy\":{},\"file\":{},\"line\":{},\"column\":{},\"help\":{},\"haproxide_only\":{}}}",
            json_string(d.code),
            json_string(d.severity.name()),
            json_string(&d.message),
            json_string(&d.haproxy_text),
            file,
            line,
            col,
            d.help.as_deref().map_or("null".to_string(), json_string),
            d.haproxide_only
        ));
    }
    let stdout = format!(
        "{{\"valid\":{},\"exit_code\":{},\"diagnostics\":[{}]}}\n",
        exit_code != 1,
        exit_code,
        items.join(",")
    );
    CheckOutput {
        stdout,
        stderr: String::new(),
        exit_code,
    }
}
