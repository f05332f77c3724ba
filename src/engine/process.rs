//! Process-level duties HAProxy performs around serving: daemonizing (`daemon`, `-D`),
//! the pidfile (`pidfile`, `-p`), dropping privileges after binding (`chroot`, `user`/`uid`,
//! `group`/`gid`) and telling old processes to finish (`-sf`) or terminate (`-st`).

use std::io::Write as _;

use anyhow::{bail, Context as _};

use crate::config::ir::Global;

/// Forks into the background like HAProxy's `daemon`: the parent exits 0, the child
/// starts a new session with stdio on /dev/null. Must run before any thread exists.
pub fn daemonize() -> anyhow::Result<()> {
    // SAFETY: called from `main` before the tokio runtime or any other thread is started,
    // so fork() duplicates a single-threaded process; the parent only calls _exit.
    unsafe {
        match libc::fork() {
            -1 => bail!(
                "cannot fork into the background: {}",
                std::io::Error::last_os_error()
            ),
            0 => {}
            _ => libc::_exit(0),
        }
        if libc::setsid() == -1 {
            bail!("setsid failed: {}", std::io::Error::last_os_error());
        }
        let devnull = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR);
        if devnull >= 0 {
            for fd in 0..3 {
                libc::dup2(devnull, fd);
            }
            if devnull > 2 {
                libc::close(devnull);
            }
        }
    }
    Ok(())
}

/// Writes our pid, one line, as HAProxy does before chrooting.
pub fn write_pidfile(path: &std::path::Path) -> anyhow::Result<()> {
    let mut f = std::fs::File::create(path).with_context(|| {
        format!(
            "[{}] Cannot create pidfile {}",
            std::process::id(),
            path.display()
        )
    })?;
    writeln!(f, "{}", std::process::id())?;
    Ok(())
}

/// chroot, then setgid, then setuid: after the listeners are bound, as HAProxy does.
pub fn drop_privileges(global: &Global) -> anyhow::Result<()> {
    if let Some(dir) = &global.chroot {
        let c = std::ffi::CString::new(dir.as_os_str().as_encoded_bytes())
            .context("chroot path contains a NUL")?;
        // SAFETY: plain libc calls with a valid NUL-terminated path.
        unsafe {
            if libc::chroot(c.as_ptr()) != 0 || libc::chdir(c"/".as_ptr()) != 0 {
                bail!(
                    "[haproxide.main()] Cannot chroot({}) : {}",
                    dir.display(),
                    std::io::Error::last_os_error()
                );
            }
        }
    }
    if let Some(g) = &global.group {
        // SAFETY: setgroups/setgid with plain integers.
        unsafe {
            if libc::getuid() == 0 {
                libc::setgroups(0, std::ptr::null());
            }
            if libc::setgid(g.id) != 0 {
                bail!(
                    "[haproxide.main()] Cannot set gid {} : {}",
                    g.id,
                    std::io::Error::last_os_error()
                );
            }
        }
    }
    if let Some(u) = &global.user {
        // SAFETY: setuid with a plain integer.
        if unsafe { libc::setuid(u.id) } != 0 {
            bail!(
                "[haproxide.main()] Cannot set uid {} : {}",
                u.id,
                std::io::Error::last_os_error()
            );
        }
    }
    Ok(())
}

/// `-sf` sends SIGUSR1 (finish), `-st` SIGTERM (terminate) to the old processes once we
/// listen, so the hand-over leaves no gap.
pub fn signal_old(soft: &[i32], hard: &[i32]) {
    for (pids, sig) in [(soft, libc::SIGUSR1), (hard, libc::SIGTERM)] {
        for &pid in pids {
            // SAFETY: kill() with a pid and a signal number has no memory-safety concerns.
            unsafe {
                libc::kill(pid, sig);
            }
        }
    }
}
