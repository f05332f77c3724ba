//! `bind fd@N`: the process serves on a listening socket it inherited (as under a socket
//! activation or a parent that binds for it), and `-c` refuses a descriptor that is not a
//! socket with HAProxy's message.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn write_cfg(dir: &std::path::Path, bind: &str) -> std::path::PathBuf {
    let path = dir.join("fd.cfg");
    std::fs::write(
        &path,
        format!(
            "defaults\n  mode http\n  timeout connect 1s\n  timeout client 5s\n  timeout server 5s\n\
             frontend fe\n  bind {bind}\n  http-request return status 200 content-type text/plain string inherited\n"
        ),
    )
    .unwrap();
    path
}

#[test]
fn serves_on_an_inherited_listening_socket() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let fd = listener.as_raw_fd();
    // Let the child inherit it: clear close-on-exec.
    // SAFETY: fcntl on a descriptor this test owns.
    unsafe { libc::fcntl(fd, libc::F_SETFD, 0) };
    let dir = std::env::temp_dir().join(format!("haproxide-fd-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cfg = write_cfg(&dir, &format!("fd@{fd}"));
    let mut child = Command::new(env!("CARGO_BIN_EXE_haproxide"))
        .args(["-f", cfg.to_str().unwrap(), "-db"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut answer = String::new();
    while Instant::now() < deadline {
        if let Ok(mut s) = TcpStream::connect(addr) {
            s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
            s.write_all(b"GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
                .unwrap();
            let _ = s.read_to_string(&mut answer);
            if answer.contains("inherited") {
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        answer.starts_with("HTTP/1.1 200") && answer.ends_with("inherited"),
        "{answer}"
    );
}

#[test]
fn check_refuses_a_descriptor_that_is_not_a_socket() {
    let dir = std::env::temp_dir().join(format!("haproxide-fd-check-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cfg = write_cfg(&dir, "fd@0");
    let out = Command::new(env!("CARGO_BIN_EXE_haproxide"))
        .args(["-c", "-f", cfg.to_str().unwrap()])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("'bind' : cannot use file descriptor '0' : Socket operation on non-socket."),
        "{err}"
    );
}
