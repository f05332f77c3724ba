//! Process behaviour of the binary: `daemon` + `pidfile` (the parent exits 0 and the
//! daemon writes its pid), SIGUSR2/SIGHUP do not kill it (master-worker reload is not
//! implemented; it keeps serving), and SIGUSR1 makes it stop.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::Command;
use std::time::{Duration, Instant};

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn get(port: u16) -> Option<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    s.write_all(b"GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
        .ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    Some(out)
}

fn alive(pid: i32) -> bool {
    // SAFETY: signal 0 only checks that the process exists.
    unsafe { libc::kill(pid, 0) == 0 }
}

fn wait_until(limit: Duration, mut f: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + limit;
    while Instant::now() < end {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

#[test]
fn daemon_pidfile_reload_signals_and_soft_stop() {
    let dir = std::env::temp_dir().join(format!("haproxide-proc-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let pidfile = dir.join("haproxide.pid");
    let port = free_port();
    let cfg = dir.join("daemon.cfg");
    std::fs::write(
        &cfg,
        format!(
            "global\n  daemon\n  pidfile {}\ndefaults\n  mode http\n  timeout connect 1s\n  timeout client 5s\n  timeout server 5s\n\
             frontend fe\n  bind 127.0.0.1:{port}\n  http-request return status 200 content-type text/plain string daemonized\n",
            pidfile.display()
        ),
    )
    .unwrap();
    let status = Command::new(env!("CARGO_BIN_EXE_haproxide"))
        .args(["-f", cfg.to_str().unwrap()])
        .status()
        .unwrap();
    assert_eq!(
        status.code(),
        Some(0),
        "the launching process exits 0 once daemonized"
    );
    assert!(wait_until(Duration::from_secs(5), || {
        std::fs::read_to_string(&pidfile).is_ok_and(|s| s.trim().parse::<i32>().is_ok())
    }));
    let pid: i32 = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(wait_until(Duration::from_secs(5), || get(port)
        .is_some_and(|r| r.ends_with("daemonized"))));
    for sig in [libc::SIGUSR2, libc::SIGHUP] {
        // SAFETY: signalling the daemon this test started.
        unsafe { libc::kill(pid, sig) };
        std::thread::sleep(Duration::from_millis(200));
        assert!(alive(pid), "signal {sig} must not kill the proxy");
        assert!(
            get(port).is_some_and(|r| r.ends_with("daemonized")),
            "still serving after signal {sig}"
        );
    }
    // SAFETY: as above.
    unsafe { libc::kill(pid, libc::SIGUSR1) };
    // Listeners close at once on a soft stop (and the process exits when idle; as a daemon it
    // is reparented, so its exit is observed through its sockets rather than wait()).
    assert!(
        wait_until(Duration::from_secs(5), || TcpStream::connect((
            "127.0.0.1",
            port
        ))
        .is_err()),
        "SIGUSR1 stops listening"
    );
}
