//! The `haproxide` binary: HAProxy's command line in front of the config layer and engine.

use std::process::ExitCode;
use std::sync::Arc;

use haproxide::cli::{parse_args, Action, USAGE};
use haproxide::config::render::{render_haproxy, render_human, render_json, CheckFlags, Format};
use haproxide::config::{load, LoadOptions};

/// jemalloc rather than glibc's malloc: less CPU per proxied request (the engine allocates
/// and frees small objects on every request) and less memory per idle tunnel (tighter size
/// classes for the many small per-connection objects). See BENCHMARKS.md ("Engine").
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let args = parse_args(&argv);
    if let Some(dir) = &args.chdir {
        if let Err(e) = std::env::set_current_dir(dir) {
            eprintln!(
                "[ALERT]    ({}) : cannot chdir to '{dir}' : {e}",
                std::process::id()
            );
            return ExitCode::from(1);
        }
    }
    match &args.action {
        Action::Usage(why) => {
            eprintln!(
                "{}{USAGE}",
                if why.is_empty() {
                    String::new()
                } else {
                    format!("haproxide: {why}\n")
                }
            );
            return ExitCode::from(1);
        }
        Action::Version => {
            println!("{}", haproxide::version_line());
            return ExitCode::SUCCESS;
        }
        Action::VersionVerbose => {
            println!("{}", haproxide::version_line());
            println!(
                "Compatible with HAProxy {}",
                haproxide::config::cond::COMPAT_VERSION
            );
            println!(
                "Feature list : {}",
                haproxide::config::cond::FEATURES
                    .iter()
                    .map(|f| format!("+{f}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            );
            println!("TLS library : rustls 0.23 (ring)");
            return ExitCode::SUCCESS;
        }
        Action::DumpKeywords => {
            print!("{}", haproxide::config::keywords::markdown());
            return ExitCode::SUCCESS;
        }
        Action::Check | Action::Run => {}
    }
    let opts = LoadOptions {
        files: args.files.clone(),
        ignore_dns_failures: args.ignore_dns,
        zero_warning: args.zero_warning,
        diag_mode: args.diag,
        env: None,
        report_all: args.format != Format::Haproxy,
        resolver: None,
    };
    let mut loaded = load(&opts);
    refuse_what_the_engine_cannot_run(&mut loaded);
    let flags = CheckFlags {
        quiet: args.quiet,
        verbose: args.verbose,
        pid: std::process::id(),
        program: std::env::current_exe()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|_| "haproxide".into()),
    };
    let out = match args.format {
        Format::Haproxy => render_haproxy(&loaded, &flags),
        Format::Json => render_json(&loaded),
        Format::Human => render_human(&loaded, &|f: &str| std::fs::read_to_string(f).ok()),
    };
    if args.action == Action::Check {
        print!("{}", out.stdout);
        eprint!("{}", out.stderr);
        if args.dump_ir {
            if let Some(c) = &loaded.config {
                println!("{c:#?}");
            }
        }
        return ExitCode::from(out.exit_code as u8);
    }
    // Run mode: refuse to start on what -c rejects, with the same messages.
    eprint!("{}", out.stderr);
    let Some(config) = loaded.config.filter(|_| out.exit_code == 0) else {
        if out.exit_code == 2 {
            eprintln!("[ALERT]    ({}) : [haproxide.main()] No enabled listener found (check for 'bind' directives) ! Exiting.", flags.pid);
        }
        return ExitCode::from(1);
    };
    run_engine(Arc::new(config), &args)
}

/// The config layer knows only what it parsed; a few things parse fine but need engine
/// support that is missing (log-format expressions the engine cannot compile...). They are
/// refused by name here, for `-c` and run mode alike.
fn refuse_what_the_engine_cannot_run(loaded: &mut haproxide::config::Loaded) {
    use haproxide::config::diag::{Diagnostic, Severity};
    let Some(cfg) = &loaded.config else { return };
    let issues = haproxide::engine::http::unsupported_in(cfg);
    if issues.is_empty() {
        return;
    }
    for msg in issues {
        let text = format!("{msg}: valid in HAProxy 2.6 but not supported by haproxide");
        loaded.diagnostics.push(
            Diagnostic::plain(Severity::Fatal, "unsupported-keyword", None, text)
                .ours()
                .link(),
        );
    }
    loaded.config = None;
}

fn run_engine(config: Arc<haproxide::config::ir::Config>, args: &haproxide::cli::Args) -> ExitCode {
    let foreground = args.foreground || args.master_worker;
    if !foreground && (args.daemon || config.global.daemon) {
        // Before the runtime exists: fork() must see a single-threaded process.
        if let Err(e) = haproxide::engine::process::daemonize() {
            eprintln!("[ALERT]    ({}) : {e:#}", std::process::id());
            return ExitCode::from(1);
        }
    }
    let opts = haproxide::engine::RunOptions {
        foreground,
        quiet: args.quiet,
        threads: None,
        pidfile: args.pidfile.clone().map(Into::into),
        soft_stop_pids: args.soft_stop_pids.clone(),
        hard_stop_pids: args.hard_stop_pids.clone(),
    };
    match haproxide::engine::run(config, opts) {
        Ok(code) => ExitCode::from(code as u8),
        Err(e) => {
            eprintln!("[ALERT]    ({}) : {e:#}", std::process::id());
            ExitCode::from(1)
        }
    }
}
