//! Opening connections to servers: the TCP connect bounded by `timeout connect`, and the
//! PROXY protocol header (`send-proxy`, `send-proxy-v2`) written first when configured.
//! Used by TCP mode and by the HTTP layer.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use crate::config::ir::ProxyProtocol;

use super::conn::ConnInfo;

/// Connects to `addr`, bounded by `connect_timeout` (`None`: no limit, as HAProxy with no
/// `timeout connect`). With `proxy`, the PROXY header describing `info` is sent first.
pub async fn connect(
    addr: SocketAddr,
    connect_timeout: Option<Duration>,
    proxy: Option<(ProxyProtocol, &ConnInfo)>,
) -> io::Result<TcpStream> {
    let fut = TcpStream::connect(addr);
    let stream = match connect_timeout {
        Some(d) => tokio::time::timeout(d, fut)
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "connect timeout"))??,
        None => fut.await?,
    };
    // Latency matters more than packet count for a proxy relaying small writes.
    let _ = stream.set_nodelay(true);
    let mut stream = stream;
    if let Some((ver, info)) = proxy {
        let hdr = match ver {
            ProxyProtocol::V1 => proxy_v1(info.peer, info.local),
            ProxyProtocol::V2 => proxy_v2(info.peer, info.local),
        };
        // The socket was just connected, so its send buffer takes a header of < 120 bytes
        // without blocking; still bound it by the connect timeout.
        let w = stream.write_all(&hdr);
        match connect_timeout {
            Some(d) => tokio::time::timeout(d, w)
                .await
                .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "PROXY header timeout"))??,
            None => w.await?,
        }
    }
    Ok(stream)
}

/// Normalises an IPv4-mapped IPv6 address to IPv4 so both ends of a PROXY header share a
/// family, as HAProxy does.
fn canon(a: SocketAddr) -> SocketAddr {
    match a {
        SocketAddr::V6(v6) => match v6.ip().to_ipv4_mapped() {
            Some(v4) => SocketAddr::new(v4.into(), v6.port()),
            None => a,
        },
        v4 => v4,
    }
}

/// `PROXY TCP4 src dst sport dport\r\n` (PROXY protocol v1).
pub fn proxy_v1(src: SocketAddr, dst: SocketAddr) -> Vec<u8> {
    let (src, dst) = (canon(src), canon(dst));
    match (src, dst) {
        (SocketAddr::V4(s), SocketAddr::V4(d)) => format!(
            "PROXY TCP4 {} {} {} {}\r\n",
            s.ip(),
            d.ip(),
            s.port(),
            d.port()
        )
        .into_bytes(),
        _ => {
            let to6 = |a: SocketAddr| match a {
                SocketAddr::V4(v4) => v4.ip().to_ipv6_mapped(),
                SocketAddr::V6(v6) => *v6.ip(),
            };
            format!(
                "PROXY TCP6 {} {} {} {}\r\n",
                to6(src),
                to6(dst),
                src.port(),
                dst.port()
            )
            .into_bytes()
        }
    }
}

/// The binary PROXY protocol v2 header, command PROXY over TCP, no TLVs.
pub fn proxy_v2(src: SocketAddr, dst: SocketAddr) -> Vec<u8> {
    const SIG: [u8; 12] = [
        0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A,
    ];
    let (src, dst) = (canon(src), canon(dst));
    let mut v = Vec::with_capacity(52);
    v.extend_from_slice(&SIG);
    v.push(0x21); // version 2, command PROXY
    match (src, dst) {
        (SocketAddr::V4(s), SocketAddr::V4(d)) => {
            v.push(0x11); // AF_INET, STREAM
            v.extend_from_slice(&12u16.to_be_bytes());
            v.extend_from_slice(&s.ip().octets());
            v.extend_from_slice(&d.ip().octets());
            v.extend_from_slice(&s.port().to_be_bytes());
            v.extend_from_slice(&d.port().to_be_bytes());
        }
        _ => {
            let to6 = |a: SocketAddr| match a {
                SocketAddr::V4(v4) => v4.ip().to_ipv6_mapped(),
                SocketAddr::V6(v6) => *v6.ip(),
            };
            v.push(0x21); // AF_INET6, STREAM
            v.extend_from_slice(&36u16.to_be_bytes());
            v.extend_from_slice(&to6(src).octets());
            v.extend_from_slice(&to6(dst).octets());
            v.extend_from_slice(&src.port().to_be_bytes());
            v.extend_from_slice(&dst.port().to_be_bytes());
        }
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v1_header() {
        let h = proxy_v1(
            "1.2.3.4:5000".parse().unwrap(),
            "5.6.7.8:80".parse().unwrap(),
        );
        assert_eq!(h, b"PROXY TCP4 1.2.3.4 5.6.7.8 5000 80\r\n");
        let h = proxy_v1("[::1]:5000".parse().unwrap(), "[::2]:80".parse().unwrap());
        assert_eq!(h, b"PROXY TCP6 ::1 ::2 5000 80\r\n");
        let h = proxy_v1(
            "[::ffff:1.2.3.4]:1".parse().unwrap(),
            "5.6.7.8:2".parse().unwrap(),
        );
        assert_eq!(h, b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n");
    }

    #[test]
    fn v2_header() {
        let h = proxy_v2(
            "1.2.3.4:5000".parse().unwrap(),
            "5.6.7.8:80".parse().unwrap(),
        );
        assert_eq!(h.len(), 16 + 12);
        assert_eq!(&h[12..16], &[0x21, 0x11, 0, 12]);
        assert_eq!(&h[16..20], &[1, 2, 3, 4]);
        assert_eq!(&h[24..26], &5000u16.to_be_bytes());
        let h = proxy_v2("[::1]:1".parse().unwrap(), "[::2]:2".parse().unwrap());
        assert_eq!(h.len(), 16 + 36);
        assert_eq!(h[13], 0x21);
    }
}
