//! HAProxy's command line: `-f`, `-c`, `-q`, `-V`, `-dr`, `-dW`, `-dD`, `-v`, `-vv`, `--`,
//! `-db`, `-D`, `-W`, `-Ws`, `-p`, `-sf`, `-st`, `-S`, `-L`, `-C`, plus haproxide's
//! `--check`, `--format human|json|haproxy`, `--dump-ir` and `--dump-keywords`.
//! HAProxy's flags are not GNU-style (`-sf 1 2 3`, `-dW`), so they are parsed by hand.

use crate::config::render::Format;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Check,
    Run,
    Version,
    VersionVerbose,
    DumpKeywords,
    Usage(String),
}

#[derive(Debug, Clone)]
pub struct Args {
    pub action: Action,
    pub files: Vec<String>,
    pub quiet: bool,
    pub verbose: bool,
    pub ignore_dns: bool,
    pub zero_warning: bool,
    pub diag: bool,
    pub format: Format,
    pub dump_ir: bool,
    pub foreground: bool,
    pub daemon: bool,
    pub master_worker: bool,
    pub pidfile: Option<String>,
    pub soft_stop_pids: Vec<i32>,
    pub hard_stop_pids: Vec<i32>,
    pub chdir: Option<String>,
}

pub fn parse_args(argv: &[String]) -> Args {
    let mut a = Args {
        action: Action::Run,
        files: Vec::new(),
        quiet: false,
        verbose: false,
        ignore_dns: false,
        zero_warning: false,
        diag: false,
        format: Format::Haproxy,
        dump_ir: false,
        foreground: false,
        daemon: false,
        master_worker: false,
        pidfile: None,
        soft_stop_pids: Vec::new(),
        hard_stop_pids: Vec::new(),
        chdir: None,
    };
    let mut check = false;
    let mut i = 0;
    let mut rest_are_files = false;
    while i < argv.len() {
        let s = argv[i].as_str();
        if rest_are_files {
            a.files.push(s.to_string());
            i += 1;
            continue;
        }
        let next = argv.get(i + 1).cloned();
        match s {
            "--" => rest_are_files = true,
            "-f" => match next {
                Some(f) => {
                    a.files.push(f);
                    i += 1;
                }
                None => return usage(a, "-f requires a file name"),
            },
            "-c" | "--check" => check = true,
            "-q" => a.quiet = true,
            "-V" => a.verbose = true,
            "-dr" => a.ignore_dns = true,
            "-dW" => a.zero_warning = true,
            "-dD" => a.diag = true,
            "-v" => a.action = Action::Version,
            "-vv" => a.action = Action::VersionVerbose,
            "-db" | "-d" => a.foreground = true,
            "-D" => a.daemon = true,
            "-W" | "-Ws" => a.master_worker = true,
            "--dump-ir" => a.dump_ir = true,
            "--dump-keywords" => a.action = Action::DumpKeywords,
            "--format" => {
                a.format = match next.as_deref() {
                    Some("json") => Format::Json,
                    Some("human") => Format::Human,
                    Some("haproxy") => Format::Haproxy,
                    _ => return usage(a, "--format expects haproxy, human or json"),
                };
                i += 1;
            }
            "-p" | "-S" | "-L" | "-x" | "-n" | "-N" | "-m" | "-C" => {
                let Some(v) = next else {
                    return usage(a, &format!("{s} requires an argument"));
                };
                match s {
                    "-p" => a.pidfile = Some(v),
                    "-C" => a.chdir = Some(v),
                    _ => {}
                }
                i += 1;
            }
            "-sf" | "-st" => {
                // The pid list ends at the next option.
                while let Some(p) = argv.get(i + 1).filter(|p| !p.starts_with('-')) {
                    if let Ok(pid) = p.parse::<i32>() {
                        if s == "-sf" {
                            a.soft_stop_pids.push(pid);
                        } else {
                            a.hard_stop_pids.push(pid);
                        }
                    }
                    i += 1;
                }
            }
            s if s.starts_with("--format=") => {
                a.format = match &s[9..] {
                    "json" => Format::Json,
                    "human" => Format::Human,
                    _ => Format::Haproxy,
                };
            }
            // Debugging and tuning switches HAProxy accepts (-de, -dp, -dS, -dM...) change nothing here.
            s if s.starts_with("-d") => {}
            s => return usage(a, &format!("unknown option '{s}'")),
        }
        i += 1;
    }
    if a.action == Action::Run && check {
        a.action = Action::Check;
    }
    if matches!(a.action, Action::Run | Action::Check) && a.files.is_empty() && !a.dump_ir {
        return usage(a, "no configuration file given (-f)");
    }
    a
}

fn usage(mut a: Args, why: &str) -> Args {
    a.action = Action::Usage(why.to_string());
    a
}

pub const USAGE: &str = "Usage : haproxide [-f <cfgfile|cfgdir>]* [ -vdVD ] [ -c ] [ -q ] [ -p <pidfile> ] [ -sf/-st <pidlist>* ]
        -v displays version ; -vv shows known build options.
        -f <cfgfile|dir> adds <cfgfile> to the list of configuration files to be loaded.
        -c check mode : only check config files and exit (also --check)
        --format haproxy|human|json : output of the check (default: haproxy's)
        --dump-ir : with -c, print the typed configuration haproxide would run
        --dump-keywords : print the keyword table (grammar/keywords.md)
        -q quiet mode : don't display messages
        -V enters verbose mode (disables quiet mode)
        -D goes daemon ; -db disables background mode ; -W/-Ws master-worker mode
        -p writes pids of all children to this file
        -dr ignores server address resolution failures
        -dW fails if any warning is emitted
        -sf/-st [pid ]* finishes/terminates old pids.
";

#[cfg(test)]
mod tests {
    use super::*;

    fn p(args: &[&str]) -> Args {
        parse_args(&args.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn check_flags() {
        let a = p(&["-c", "-f", "a.cfg", "-f", "b.cfg", "-q", "-dr"]);
        assert_eq!(a.action, Action::Check);
        assert_eq!(a.files, ["a.cfg", "b.cfg"]);
        assert!(a.quiet && a.ignore_dns);
        assert_eq!(p(&["--check", "-f", "x"]).action, Action::Check);
    }

    #[test]
    fn pid_lists_end_at_next_option() {
        let a = p(&["-f", "x.cfg", "-sf", "12", "13", "-db"]);
        assert_eq!(a.soft_stop_pids, [12, 13]);
        assert!(a.foreground);
        assert_eq!(a.action, Action::Run);
    }

    #[test]
    fn double_dash_files() {
        let a = p(&["-c", "--", "a.cfg", "b.cfg"]);
        assert_eq!(a.files, ["a.cfg", "b.cfg"]);
    }

    #[test]
    fn errors() {
        assert!(matches!(p(&["-c"]).action, Action::Usage(_)));
        assert!(matches!(p(&["-Z"]).action, Action::Usage(_)));
    }
}
