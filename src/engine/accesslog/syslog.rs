//! Log targets and HAProxy 2.6's message framing.
//!
//! Headers, as 2.6.12 sends them (PRI = facility * 8 + level):
//! - `rfc3164` (default) and `local`: `<PRI>Mmm dd hh:mm:ss haproxy[PID]: ` (no host name;
//!   2.6 adds one only with `log-send-hostname`);
//! - `rfc5424`: `<PRI>1 YYYY-MM-DDThh:mm:ss.uuuuuu+hh:mm - haproxy PID - - `;
//! - `short`: `<LEVEL>`; `priority`: `<PRI>`; `timed`: `<LEVEL>` then the ISO date and a
//!   space; `iso`: the ISO date and a space; `raw`: nothing.
//!
//! Length: a datagram (UDP, unix) carries at most `len` bytes of header and message, then
//! `\n`; a file descriptor (`stdout`, `stderr`, `fd@N`) gets `len - 1` bytes then `\n`.
//! Levels: a target skips messages above its `max` level; its `min` level raises the
//! severity number of what it sends (`max(level, min)`).
//!
//! Sending never blocks the data path: datagram sockets are non-blocking (a full socket
//! buffer drops the message, as HAProxy's `MSG_DONTWAIT`); file descriptors are written by
//! one thread per descriptor fed through a bounded queue (a full queue drops the message).

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::os::unix::net::UnixDatagram;
use std::sync::mpsc::{sync_channel, SyncSender, TrySendError};
use std::sync::Arc;
use std::time::SystemTime;

use crate::config::address::{self, Host, LogTarget as Addr, PortSpec};
use crate::config::ir::LogTarget;

use super::clock;

pub const FACILITIES: [&str; 24] = [
    "kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron", "auth2",
    "ftp", "ntp", "audit", "alert", "cron2", "local0", "local1", "local2", "local3", "local4",
    "local5", "local6", "local7",
];

pub const LEVELS: [&str; 8] = [
    "emerg", "alert", "crit", "err", "warning", "notice", "info", "debug",
];

pub const LOG_INFO: u8 = 6;
pub const LOG_WARNING: u8 = 4;

/// Default `len`.
pub const MAX_SYSLOG_LEN: usize = 1024;

/// How many lines may wait for a file descriptor writer before new ones are dropped.
const FD_QUEUE: usize = 4096;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    Rfc3164,
    Rfc5424,
    Short,
    Raw,
    Iso,
    Local,
    Priority,
    Timed,
}

impl Framing {
    fn from_name(n: Option<&str>) -> Framing {
        match n {
            Some("rfc5424") => Framing::Rfc5424,
            Some("short") => Framing::Short,
            Some("raw") => Framing::Raw,
            Some("iso") => Framing::Iso,
            Some("local") => Framing::Local,
            Some("priority") => Framing::Priority,
            Some("timed") => Framing::Timed,
            _ => Framing::Rfc3164,
        }
    }
}

enum Sink {
    Udp(Arc<UdpSocket>, SocketAddr),
    Unix(Arc<UnixDatagram>, std::path::PathBuf),
    Abns(Arc<UnixDatagram>, std::os::unix::net::SocketAddr),
    Fd(SyncSender<Vec<u8>>),
}

/// One `log` line of the configuration, ready to send.
pub struct Target {
    sink: Sink,
    facility: u8,
    max_level: u8,
    min_level: u8,
    framing: Framing,
    len: usize,
}

/// Shared sockets and writer threads, so that every frontend logging to the same place
/// uses one socket (HAProxy keeps one per address family).
#[derive(Default)]
pub struct Sockets {
    v4: Option<Arc<UdpSocket>>,
    v6: Option<Arc<UdpSocket>>,
    unix: Option<Arc<UnixDatagram>>,
    fds: Vec<(i32, SyncSender<Vec<u8>>)>,
}

fn udp(bind: &str) -> io::Result<Arc<UdpSocket>> {
    let s = UdpSocket::bind(bind)?;
    s.set_nonblocking(true)?;
    Ok(Arc::new(s))
}

impl Sockets {
    fn udp_for(&mut self, addr: &SocketAddr) -> io::Result<Arc<UdpSocket>> {
        let (slot, bind) = if addr.is_ipv4() {
            (&mut self.v4, "0.0.0.0:0")
        } else {
            (&mut self.v6, "[::]:0")
        };
        if let Some(s) = slot {
            return Ok(s.clone());
        }
        let s = udp(bind)?;
        *slot = Some(s.clone());
        Ok(s)
    }

    fn unix(&mut self) -> io::Result<Arc<UnixDatagram>> {
        if let Some(s) = &self.unix {
            return Ok(s.clone());
        }
        let s = UnixDatagram::unbound()?;
        s.set_nonblocking(true)?;
        let s = Arc::new(s);
        self.unix = Some(s.clone());
        Ok(s)
    }

    fn fd(&mut self, fd: i32) -> io::Result<SyncSender<Vec<u8>>> {
        if let Some((_, tx)) = self.fds.iter().find(|(f, _)| *f == fd) {
            return Ok(tx.clone());
        }
        let (tx, rx) = sync_channel::<Vec<u8>>(FD_QUEUE);
        std::thread::Builder::new()
            .name(format!("log-fd{fd}"))
            .spawn(move || {
                while let Ok(line) = rx.recv() {
                    write_fd(fd, &line);
                }
            })?;
        self.fds.push((fd, tx.clone()));
        Ok(tx)
    }
}

/// Writes a whole line to a descriptor (blocking: this runs on the writer thread).
fn write_fd(fd: i32, mut data: &[u8]) {
    while !data.is_empty() {
        // SAFETY: writing from a valid slice to a descriptor number; a closed or invalid
        // descriptor only makes write(2) fail.
        let n = unsafe { libc::write(fd, data.as_ptr().cast(), data.len()) };
        if n < 0 {
            if io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return;
        }
        let n = usize::try_from(n).unwrap_or(0);
        if n == 0 {
            return;
        }
        data = &data[n..];
    }
}

fn level_index(name: Option<&str>, default: u8) -> u8 {
    name.and_then(|n| LEVELS.iter().position(|l| *l == n))
        .and_then(|i| u8::try_from(i).ok())
        .unwrap_or(default)
}

/// What the engine cannot send to; [`Target::build`] refuses these too.
pub fn unsupported(t: &LogTarget) -> Option<String> {
    match &t.target {
        Addr::Ring(name) => Some(format!("log target 'ring@{name}': rings are not supported")),
        Addr::Tcp(_) => Some(format!(
            "log target '{}': stream (TCP) log servers are not supported",
            t.target
        )),
        _ => None,
    }
}

impl Target {
    /// Opens what `t` needs. `None` (with a reason) for targets the engine cannot use.
    pub fn build(t: &LogTarget, socks: &mut Sockets) -> Result<Target, String> {
        if let Some(why) = unsupported(t) {
            return Err(why);
        }
        let sink = match &t.target {
            Addr::Udp(a) => {
                let port = match a.port {
                    PortSpec::Single(p) if p != 0 => p,
                    _ => 514,
                };
                let ip = match &a.host {
                    Host::Ip(ip) => *ip,
                    Host::Any4 => std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED),
                    Host::Any6 => std::net::IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED),
                    Host::Name(n) => address::resolve_host_for(n, a.family_hint)
                        .ok_or_else(|| format!("cannot resolve log server '{n}'"))?,
                    _ => return Err(format!("unusable log address '{}'", t.target)),
                };
                let addr = SocketAddr::new(ip, port);
                let s = socks.udp_for(&addr).map_err(|e| e.to_string())?;
                Sink::Udp(s, addr)
            }
            Addr::Unix(path) => Sink::Unix(socks.unix().map_err(|e| e.to_string())?, path.into()),
            Addr::Abns(name) => {
                use std::os::linux::net::SocketAddrExt;
                let a = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes())
                    .map_err(|e| e.to_string())?;
                Sink::Abns(socks.unix().map_err(|e| e.to_string())?, a)
            }
            Addr::Stdout => Sink::Fd(socks.fd(1).map_err(|e| e.to_string())?),
            Addr::Stderr => Sink::Fd(socks.fd(2).map_err(|e| e.to_string())?),
            Addr::Fd(n) => Sink::Fd(socks.fd(*n).map_err(|e| e.to_string())?),
            Addr::Ring(_) | Addr::Tcp(_) => {
                return Err(format!("unsupported log target '{}'", t.target))
            }
        };
        let facility = FACILITIES
            .iter()
            .position(|f| *f == t.facility)
            .and_then(|i| u8::try_from(i).ok())
            .unwrap_or(16);
        Ok(Target {
            sink,
            facility,
            max_level: level_index(t.max_level.as_deref(), 7),
            min_level: level_index(t.min_level.as_deref(), 0),
            framing: Framing::from_name(t.format.as_deref()),
            len: t
                .len
                .and_then(|l| usize::try_from(l).ok())
                .filter(|&l| l > 0)
                .unwrap_or(MAX_SYSLOG_LEN),
        })
    }

    /// Frames `msg` for this target into `buf` and sends it; returns false when it was
    /// filtered out or dropped.
    pub fn send(
        &self,
        level: u8,
        msg: &[u8],
        now: SystemTime,
        pid: u32,
        buf: &mut Vec<u8>,
    ) -> bool {
        if level > self.max_level {
            return false;
        }
        let level = level.max(self.min_level);
        buf.clear();
        header(buf, self.framing, self.facility, level, now, pid);
        buf.extend_from_slice(msg);
        let fd = matches!(self.sink, Sink::Fd(..));
        let keep = if fd {
            self.len.saturating_sub(1)
        } else {
            self.len
        };
        buf.truncate(keep);
        buf.push(b'\n');
        match &self.sink {
            Sink::Udp(s, a) => s.send_to(buf, a).is_ok(),
            Sink::Unix(s, p) => s.send_to(buf, p).is_ok(),
            Sink::Abns(s, a) => s.send_to_addr(buf, a).is_ok(),
            Sink::Fd(tx) => match tx.try_send(buf.clone()) {
                Ok(()) => true,
                Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => false,
            },
        }
    }
}

fn pri(buf: &mut Vec<u8>, v: u32) {
    buf.push(b'<');
    buf.extend_from_slice(v.to_string().as_bytes());
    buf.push(b'>');
}

/// HAProxy 2.6's header for `framing` (see the module docs).
pub fn header(
    buf: &mut Vec<u8>,
    framing: Framing,
    facility: u8,
    level: u8,
    now: SystemTime,
    pid: u32,
) {
    let full = u32::from(facility) * 8 + u32::from(level);
    match framing {
        Framing::Rfc3164 | Framing::Local => {
            pri(buf, full);
            clock::syslog_date(buf, now);
            buf.extend_from_slice(b"haproxy[");
            buf.extend_from_slice(pid.to_string().as_bytes());
            buf.extend_from_slice(b"]: ");
        }
        Framing::Rfc5424 => {
            pri(buf, full);
            buf.extend_from_slice(b"1 ");
            clock::iso_date(buf, now);
            buf.extend_from_slice(b"- haproxy ");
            buf.extend_from_slice(pid.to_string().as_bytes());
            buf.extend_from_slice(b" - - ");
        }
        Framing::Short => pri(buf, u32::from(level)),
        Framing::Priority => pri(buf, full),
        Framing::Timed => {
            pri(buf, u32::from(level));
            clock::iso_date(buf, now);
        }
        Framing::Iso => clock::iso_date(buf, now),
        Framing::Raw => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn headers() {
        let t = UNIX_EPOCH + Duration::from_micros(1_795_271_284_270_123);
        let mut b = Vec::new();
        header(&mut b, Framing::Short, 16, 6, t, 7);
        assert_eq!(b, b"<6>");
        b.clear();
        header(&mut b, Framing::Priority, 22, 6, t, 7);
        assert_eq!(b, b"<182>");
        b.clear();
        header(&mut b, Framing::Raw, 22, 6, t, 7);
        assert!(b.is_empty());
    }
}
