//! The runtime API (`stats socket`) over a real UNIX socket. Expected answers were captured
//! from haproxy 2.6.12 (`/usr/sbin/haproxy`) on this host with the same commands.

mod common;

use std::path::PathBuf;
use std::time::Duration;

use common::*;
use haproxide::engine;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UnixStream};

const SEC: Duration = Duration::from_secs(1);

fn tmpdir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("haproxide-cli-{}-{tag}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

async fn cli(path: &std::path::Path, line: &str) -> String {
    let mut s = UnixStream::connect(path).await.unwrap();
    s.write_all(format!("{line}\n").as_bytes()).await.unwrap();
    let (out, eof) = read_until_eof(&mut s, 5 * SEC).await;
    assert!(eof, "the CLI closes after answering");
    String::from_utf8(out).unwrap()
}

async fn hello(addr: std::net::SocketAddr) -> String {
    let mut c = TcpStream::connect(addr).await.unwrap();
    let mut buf = [0u8; 2];
    c.read_exact(&mut buf).await.unwrap();
    String::from_utf8_lossy(&buf).into_owned()
}

#[tokio::test]
async fn runtime_api() {
    let dir = tmpdir("api");
    let admin = dir.join("admin.sock");
    let user = dir.join("user.sock");
    // A stale file where the socket goes is replaced, as HAProxy does.
    std::fs::write(&admin, b"stale").unwrap();
    let a = greeter("s1").await;
    let b = greeter("s2").await;
    let text = format!(
        "global\n  quiet\n  stats socket {} mode 600 level admin\n  stats socket {} level user\n  stats timeout 5s\n\
         defaults\n  mode tcp\n  timeout connect 1s\n  timeout client 5s\n  timeout server 5s\n\
         frontend fe\n  bind 127.0.0.1:1\n  default_backend be\n\
         backend be\n  server s1 {}\n  server s2 {} weight 5\n",
        admin.display(),
        user.display(),
        a.addr,
        b.addr
    );
    let eng = engine::start(config(&text)).await.unwrap();
    let fe = eng.addr("fe").unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&admin).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }

    let info = cli(&user, "show info").await;
    assert!(info.starts_with("Name: HAProxy\nVersion: "), "{info}");
    let keys: Vec<&str> = info
        .lines()
        .filter_map(|l| l.split_once(": ").map(|x| x.0))
        .collect();
    assert_eq!(keys.len(), 69);
    assert_eq!(
        keys[..9],
        [
            "Name",
            "Version",
            "Release_date",
            "Nbthread",
            "Nbproc",
            "Process_num",
            "Pid",
            "Uptime",
            "Uptime_sec"
        ]
    );
    assert_eq!(keys[68], "Tainted");
    assert!(info.ends_with("Tainted: 0\n\n"));

    let stat = cli(&user, "show stat").await;
    let header = stat.lines().next().unwrap();
    assert!(header.starts_with("# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,"));
    assert!(header.ends_with(",h1_bytes_in,h1_bytes_out,h1_spliced_bytes_in,h1_spliced_bytes_out,"));
    // HAProxy's CLI proxy takes id 1: the first user proxy is 2.
    let fe_line = stat
        .lines()
        .find(|l| l.starts_with("fe,FRONTEND,"))
        .unwrap();
    assert_eq!(fe_line.split(',').nth(27), Some("2"));

    // Legends (server address, backend algorithm) from level operator on, as HAProxy.
    let s1_user = stat
        .lines()
        .find(|l| l.starts_with("be,s1,"))
        .unwrap()
        .to_string();
    assert_eq!(s1_user.split(',').nth(73), Some(""));
    let stat_admin = cli(&admin, "show stat").await;
    let s1 = stat_admin
        .lines()
        .find(|l| l.starts_with("be,s1,"))
        .unwrap();
    assert_eq!(s1.split(',').nth(73), Some(a.addr.to_string().as_str()));
    let be_line = stat_admin
        .lines()
        .find(|l| l.starts_with("be,BACKEND,"))
        .unwrap();
    assert_eq!(be_line.split(',').nth(76), Some("roundrobin"));

    // Level user: read-only.
    assert_eq!(
        cli(&user, "disable server be/s1").await,
        "Permission denied\n\n"
    );
    assert_eq!(cli(&user, "get weight be/s2").await, "5 (initial 5)\n\n");
    assert_eq!(cli(&admin, "show backend").await, "# name\nbe\n\n");
    assert_eq!(
        cli(&admin, "disable server be/zz").await,
        "No such server.\n\n"
    );
    assert_eq!(
        cli(&admin, "disable server zz/s1").await,
        "No such backend.\n\n"
    );
    assert_eq!(
        cli(&admin, "set server be/s1 state bogus").await,
        "'set server <srv> state' expects 'ready', 'drain' and 'maint'.\n\n"
    );
    let unknown = cli(&user, "foo").await;
    assert!(unknown
        .starts_with("Unknown command, but maybe one of the following ones is a better match:\n"));
    assert!(unknown.ends_with("  quit                                    : disconnect\n\n"));

    // Maintenance: s1 gets no traffic and `show servers state` says so (admin state 1).
    assert_eq!(cli(&admin, "disable server be/s1").await, "\n");
    for _ in 0..6 {
        assert_eq!(hello(fe).await, "s2");
    }
    let st = cli(&admin, "show servers state be").await;
    let mut lines = st.lines();
    assert_eq!(lines.next(), Some("1"));
    assert_eq!(lines.next(), Some("# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight srv_time_since_last_change srv_check_status srv_check_result srv_check_health srv_check_state srv_agent_state bk_f_forced_id srv_f_forced_id srv_fqdn srv_port srvrecord srv_use_ssl srv_check_port srv_check_addr srv_agent_addr srv_agent_port"));
    assert_eq!(
        lines.next(),
        Some(
            format!(
                "3 be 1 s1 127.0.0.1 0 1 1 1 0 1 0 0 0 0 0 0 - {} - 0 0 - - 0",
                a.addr.port()
            )
            .as_str()
        )
    );

    // Back in service: both get traffic again; `;`-separated commands are each answered.
    assert_eq!(
        cli(&admin, "enable server be/s1;get weight be/s1").await,
        "\n1 (initial 1)\n\n"
    );
    let mut seen = std::collections::HashSet::new();
    for _ in 0..12 {
        seen.insert(hello(fe).await);
    }
    assert!(seen.contains("s1") && seen.contains("s2"), "{seen:?}");

    // Runtime weights (HAProxy's answers and `server_parse_weight_change_request()` rules).
    assert_eq!(
        cli(&admin, "set server be/s2 weight 50%;get weight be/s2").await,
        "\n2 (initial 5)\n\n"
    );
    assert_eq!(
        cli(&admin, "set server be/s2 weight 300").await,
        "Absolute weight can only be between 0 and 256 inclusive.\n\n"
    );
    assert_eq!(
        cli(&admin, "set server be/s2 weight abc").await,
        "Empty weight string empty or preceded by garbage\n"
    );
    assert_eq!(
        cli(&user, "set server be/s2 weight 1").await,
        "Permission denied\n\n"
    );
    // Weight 0: no new traffic for s2.
    assert_eq!(cli(&admin, "set weight be/s2 0").await, "\n");
    for _ in 0..4 {
        assert_eq!(hello(fe).await, "s1");
    }
    let st = cli(&admin, "show servers state").await;
    assert!(
        st.lines()
            .nth(3)
            .unwrap()
            .starts_with("3 be 2 s2 127.0.0.1 2 0 0 5 "),
        "{st}"
    );

    eng.hard_stop();
    let _ = std::fs::remove_dir_all(&dir);
}
