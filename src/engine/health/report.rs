//! Check statuses and the words HAProxy 2.6 prints for them (`check.c`: `check_statuses[]`,
//! `srv_append_status()`, `set_server_check_status()`, `chunk_asciiencode()`), plus the server
//! state-change messages of `srv_update_status()`. Every format here was compared with the
//! lines haproxy 2.6.12 prints on stderr for the same configuration and server behaviour.

use std::fmt::Write as _;
use std::time::Duration;

/// HAProxy's `HCHK_STATUS_*` values that a check can end with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// `SOCKERR`: an I/O error after the connection was established.
    SockErr,
    L4Ok,
    L4Tout,
    L4Con,
    L6Ok,
    L6Tout,
    L6Rsp,
    L7Tout,
    L7Rsp,
    /// `L7OK`: the check passed.
    L7OkD,
    /// `L7OKC`: conditionally passed (`disable-on-404` got a 404).
    L7OkCD,
    L7Sts,
}

/// What a status does to the server's health (`CHK_RES_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Passed,
    CondPass,
    Failed,
}

impl Status {
    /// The long description (`check_statuses[].desc`).
    pub fn description(self) -> &'static str {
        match self {
            Status::SockErr => "Socket error",
            Status::L4Ok => "Layer4 check passed",
            Status::L4Tout => "Layer4 timeout",
            Status::L4Con => "Layer4 connection problem",
            Status::L6Ok => "Layer6 check passed",
            Status::L6Tout => "Layer6 timeout",
            Status::L6Rsp => "Layer6 invalid response",
            Status::L7Tout => "Layer7 timeout",
            Status::L7Rsp => "Layer7 invalid response",
            Status::L7OkD => "Layer7 check passed",
            Status::L7OkCD => "Layer7 check conditionally passed",
            Status::L7Sts => "Layer7 wrong status",
        }
    }

    pub fn verdict(self) -> Verdict {
        match self {
            Status::L4Ok | Status::L6Ok | Status::L7OkD => Verdict::Passed,
            Status::L7OkCD => Verdict::CondPass,
            _ => Verdict::Failed,
        }
    }

    /// Statuses past `HCHK_STATUS_L57DATA` print the check's code.
    fn has_code(self) -> bool {
        matches!(self, Status::L7OkD | Status::L7OkCD | Status::L7Sts)
    }
}

/// The outcome of one check run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckResult {
    pub status: Status,
    /// The HTTP status for HTTP checks, 0 for tcp-check expects (`check->code`).
    pub code: u32,
    /// `check->desc`: the reason phrase, an error text, a tcp-check message. Raw bytes: a
    /// server's reason phrase need not be UTF-8.
    pub desc: Vec<u8>,
    pub duration: Duration,
}

/// `HCHK_DESC_LEN`: `check->desc` is a 128-byte C string.
const DESC_LEN: usize = 128;

impl CheckResult {
    pub fn new(status: Status, code: u32, desc: impl Into<Vec<u8>>, duration: Duration) -> Self {
        let mut desc: Vec<u8> = desc.into();
        // strncpy() into a C string: stops at a NUL, keeps at most 127 bytes.
        if let Some(nul) = desc.iter().position(|&b| b == 0) {
            desc.truncate(nul);
        }
        desc.truncate(DESC_LEN - 1);
        CheckResult {
            status,
            code,
            desc,
            duration,
        }
    }

    pub fn verdict(&self) -> Verdict {
        self.status.verdict()
    }
}

/// `chunk_asciiencode()`: bytes below 0x20, from 0x7f, and the quote character are written
/// as `<XX>` (upper-case hex).
pub fn ascii_encode(out: &mut String, src: &[u8], quote: u8) {
    for &b in src {
        if !(0x20..0x7f).contains(&b) || b == quote {
            let _ = write!(out, "<{b:02X}>");
        } else {
            out.push(char::from(b));
        }
    }
}

/// `srv_append_status()` with a check: `, reason: R[, code: N][, info: "I"], check duration:
/// Dms`.
pub fn append_status(out: &mut String, r: &CheckResult) {
    let _ = write!(out, ", reason: {}", r.status.description());
    if r.status.has_code() {
        let _ = write!(out, ", code: {}", r.code);
    }
    if !r.desc.is_empty() {
        out.push_str(", info: \"");
        ascii_encode(out, &r.desc, b'"');
        out.push('"');
    }
    let _ = write!(out, ", check duration: {}ms", r.duration.as_millis());
}

/// The server's health as `option log-health-checks` shows it: `status: A/B STATE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HealthView {
    pub health: u32,
    pub rise: u32,
    pub fall: u32,
    /// The server's user weight is 0 (shown `DRAIN` instead of `UP`).
    pub drain: bool,
}

/// The `option log-health-checks` line (`set_server_check_status()`), without the `[WARNING]`
/// prefix: `Health check for [backup ]server BE/SRV [conditionally ]succeeded|failed, reason:
/// ..., status: 2/3 UP.`
pub fn health_check_line(
    backend: &str,
    server: &str,
    backup: bool,
    r: &CheckResult,
    h: HealthView,
) -> String {
    let mut m = format!(
        "Health check for {}server {backend}/{server} {}{}",
        if backup { "backup " } else { "" },
        if r.verdict() == Verdict::CondPass {
            "conditionally "
        } else {
            ""
        },
        if r.verdict() == Verdict::Failed {
            "failed"
        } else {
            "succeeded"
        }
    );
    append_status(&mut m, r);
    let up = h.health >= h.rise;
    let _ = write!(
        m,
        ", status: {}/{} {}.",
        if up { h.health - h.rise + 1 } else { h.health },
        if up { h.fall } else { h.rise },
        match (up, h.drain) {
            (false, _) => "DOWN",
            (true, false) => "UP",
            (true, true) => "DRAIN",
        }
    );
    m
}

/// The state a server moved to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NewState {
    Down,
    Up,
    /// NOLB (`disable-on-404`).
    Stopping,
}

/// The server state-change message of `srv_update_status()`, without the `[WARNING]` prefix.
/// `reason` is the check result, omitted (as HAProxy does) when `option log-health-checks`
/// already reported it. `act`/`bck` count the servers usable after the change; `sessions`
/// is the server's current session count (printed for DOWN only).
#[allow(clippy::too_many_arguments)]
pub fn state_change_line(
    backend: &str,
    server: &str,
    backup: bool,
    to: NewState,
    reason: Option<&CheckResult>,
    act: usize,
    bck: usize,
    sessions: u32,
) -> String {
    let mut m = format!(
        "{}Server {backend}/{server} is {}",
        if backup { "Backup " } else { "" },
        match to {
            NewState::Down => "DOWN",
            NewState::Up => "UP",
            NewState::Stopping => "stopping",
        }
    );
    if let Some(r) = reason {
        append_status(&mut m, r);
    }
    let on_backup = if bck > 0 && act == 0 {
        " Running on backup."
    } else {
        ""
    };
    match to {
        NewState::Down => {
            let _ = write!(
                m,
                ". {act} active and {bck} backup servers left.{on_backup} {sessions} sessions active, 0 requeued, 0 remaining in queue."
            );
        }
        NewState::Up | NewState::Stopping => {
            let _ = write!(
                m,
                ". {act} active and {bck} backup servers online.{on_backup} 0 sessions requeued, 0 total in queue."
            );
        }
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(status: Status, code: u32, desc: &[u8], ms: u64) -> CheckResult {
        CheckResult::new(status, code, desc.to_vec(), Duration::from_millis(ms))
    }

    // Every expected string below is a line haproxy 2.6.12 printed (after its
    // `[WARNING]  (PID) : ` prefix) for the same configuration and server behaviour.

    #[test]
    fn down_and_up_lines() {
        let x = r(Status::L7Sts, 503, b"Service Unavailable", 12);
        assert_eq!(
            state_change_line("be", "s1", false, NewState::Down, Some(&x), 4, 0, 0),
            "Server be/s1 is DOWN, reason: Layer7 wrong status, code: 503, info: \"Service Unavailable\", check duration: 12ms. 4 active and 0 backup servers left. 0 sessions active, 0 requeued, 0 remaining in queue."
        );
        let x = r(Status::L4Con, 0, b"Connection refused", 0);
        assert_eq!(
            state_change_line("be", "s5", false, NewState::Down, Some(&x), 2, 0, 0),
            "Server be/s5 is DOWN, reason: Layer4 connection problem, info: \"Connection refused\", check duration: 0ms. 2 active and 0 backup servers left. 0 sessions active, 0 requeued, 0 remaining in queue."
        );
        let x = r(Status::L7OkD, 200, b"", 0);
        assert_eq!(
            state_change_line("be", "s2", false, NewState::Up, Some(&x), 1, 0, 0),
            "Server be/s2 is UP, reason: Layer7 check passed, code: 200, check duration: 0ms. 1 active and 0 backup servers online. 0 sessions requeued, 0 total in queue."
        );
        let x = r(Status::L7Tout, 0, b"", 307);
        assert_eq!(
            state_change_line("be", "s3", false, NewState::Down, Some(&x), 1, 0, 0),
            "Server be/s3 is DOWN, reason: Layer7 timeout, check duration: 307ms. 1 active and 0 backup servers left. 0 sessions active, 0 requeued, 0 remaining in queue."
        );
        let x = r(Status::L7Rsp, 0, b"", 1);
        assert_eq!(
            state_change_line("be", "s4", false, NewState::Down, Some(&x), 3, 0, 0),
            "Server be/s4 is DOWN, reason: Layer7 invalid response, check duration: 1ms. 3 active and 0 backup servers left. 0 sessions active, 0 requeued, 0 remaining in queue."
        );
    }

    #[test]
    fn backup_and_running_on_backup() {
        assert_eq!(
            state_change_line("b", "s1", false, NewState::Down, None, 0, 1, 0),
            "Server b/s1 is DOWN. 0 active and 1 backup servers left. Running on backup. 0 sessions active, 0 requeued, 0 remaining in queue."
        );
        assert_eq!(
            state_change_line("b", "s2", true, NewState::Up, None, 0, 1, 0),
            "Backup Server b/s2 is UP. 0 active and 1 backup servers online. Running on backup. 0 sessions requeued, 0 total in queue."
        );
        let x = r(Status::L7Sts, 500, b"OK", 0);
        assert_eq!(
            state_change_line("c", "s2", true, NewState::Down, Some(&x), 1, 0, 0),
            "Backup Server c/s2 is DOWN, reason: Layer7 wrong status, code: 500, info: \"OK\", check duration: 0ms. 1 active and 0 backup servers left. 0 sessions active, 0 requeued, 0 remaining in queue."
        );
    }

    #[test]
    fn stopping_line() {
        let x = r(Status::L7OkCD, 404, b"", 0);
        assert_eq!(
            state_change_line("b1", "s1", false, NewState::Stopping, Some(&x), 0, 0, 0),
            "Server b1/s1 is stopping, reason: Layer7 check conditionally passed, code: 404, check duration: 0ms. 0 active and 0 backup servers online. 0 sessions requeued, 0 total in queue."
        );
        assert_eq!(
            state_change_line("b2", "s1", false, NewState::Stopping, None, 0, 0, 0),
            "Server b2/s1 is stopping. 0 active and 0 backup servers online. 0 sessions requeued, 0 total in queue."
        );
    }

    #[test]
    fn log_health_checks_lines() {
        let h = |health, rise, fall| HealthView {
            health,
            rise,
            fall,
            drain: false,
        };
        assert_eq!(
            health_check_line("b", "s1", false, &r(Status::L7OkD, 200, b"", 8), h(4, 2, 3)),
            "Health check for server b/s1 succeeded, reason: Layer7 check passed, code: 200, check duration: 8ms, status: 3/3 UP."
        );
        assert_eq!(
            health_check_line("b", "s1", false, &r(Status::L7Sts, 503, b"Busy", 4), h(3, 2, 3)),
            "Health check for server b/s1 failed, reason: Layer7 wrong status, code: 503, info: \"Busy\", check duration: 4ms, status: 2/3 UP."
        );
        assert_eq!(
            health_check_line("b", "s1", false, &r(Status::L7Sts, 503, b"Busy", 0), h(0, 2, 3)),
            "Health check for server b/s1 failed, reason: Layer7 wrong status, code: 503, info: \"Busy\", check duration: 0ms, status: 0/2 DOWN."
        );
        assert_eq!(
            health_check_line("b", "s1", false, &r(Status::L7OkD, 200, b"", 4), h(1, 2, 3)),
            "Health check for server b/s1 succeeded, reason: Layer7 check passed, code: 200, check duration: 4ms, status: 1/2 DOWN."
        );
        assert_eq!(
            health_check_line("b", "s1", false, &r(Status::L7Tout, 0, b"", 200), h(3, 2, 3)),
            "Health check for server b/s1 failed, reason: Layer7 timeout, check duration: 200ms, status: 2/3 UP."
        );
        assert_eq!(
            health_check_line("b", "s2", true, &r(Status::L7OkD, 200, b"", 5), h(1, 1, 1)),
            "Health check for backup server b/s2 succeeded, reason: Layer7 check passed, code: 200, check duration: 5ms, status: 1/1 UP."
        );
        let drain = HealthView {
            drain: true,
            ..h(1, 1, 1)
        };
        assert_eq!(
            health_check_line("b", "s3", false, &r(Status::L7OkD, 200, b"", 5), drain),
            "Health check for server b/s3 succeeded, reason: Layer7 check passed, code: 200, check duration: 5ms, status: 1/1 DRAIN."
        );
        assert_eq!(
            health_check_line("b2", "s1", false, &r(Status::L7OkCD, 404, b"", 1), h(3, 2, 2)),
            "Health check for server b2/s1 conditionally succeeded, reason: Layer7 check conditionally passed, code: 404, check duration: 1ms, status: 2/2 UP."
        );
        assert_eq!(
            health_check_line(
                "b2",
                "s1",
                false,
                &r(Status::L7OkD, 0, b"(tcp-check)", 2),
                h(4, 2, 3)
            ),
            "Health check for server b2/s1 succeeded, reason: Layer7 check passed, code: 0, info: \"(tcp-check)\", check duration: 2ms, status: 3/3 UP."
        );
        assert_eq!(
            health_check_line("b4", "s2", false, &r(Status::L4Ok, 0, b"", 0), h(4, 2, 3)),
            "Health check for server b4/s2 succeeded, reason: Layer4 check passed, check duration: 0ms, status: 3/3 UP."
        );
        assert_eq!(
            health_check_line(
                "b1",
                "s1",
                false,
                &r(Status::SockErr, 0, b"Connection reset by peer", 51),
                h(0, 2, 3)
            ),
            "Health check for server b1/s1 failed, reason: Socket error, info: \"Connection reset by peer\", check duration: 51ms, status: 0/2 DOWN."
        );
    }

    #[test]
    fn info_is_ascii_encoded_and_truncated() {
        // haproxy 2.6.12, reason phrase `"quoted" \x01\xe9 reason`.
        let x = r(Status::L7Sts, 400, b"\"quoted\" \x01\xe9 reason", 1);
        let mut m = String::new();
        append_status(&mut m, &x);
        assert_eq!(
            m,
            ", reason: Layer7 wrong status, code: 400, info: \"<22>quoted<22> <01><E9> reason\", check duration: 1ms"
        );
        let long = CheckResult::new(Status::L7Sts, 500, vec![b'a'; 300], Duration::ZERO);
        assert_eq!(long.desc.len(), 127);
        let nul = CheckResult::new(Status::L7Sts, 500, b"ab\0cd".to_vec(), Duration::ZERO);
        assert_eq!(nul.desc, b"ab");
    }
}
