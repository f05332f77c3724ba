//! Wall-clock dates in HAProxy's log spellings, through the C library's `localtime_r` and
//! `gmtime_r` (the process time zone, as HAProxy), without allocation.

use std::io::Write;
use std::sync::Once;
use std::time::{SystemTime, UNIX_EPOCH};

pub const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// A broken-down time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tm {
    pub year: i32,
    /// 0-11.
    pub mon: usize,
    pub mday: i32,
    pub hour: i32,
    pub min: i32,
    pub sec: i32,
    /// Seconds east of UTC.
    pub gmtoff: i64,
}

extern "C" {
    fn tzset();
}

fn convert(secs: i64, local: bool) -> Tm {
    static TZ: Once = Once::new();
    // SAFETY: tzset() only reads the environment and initialises libc's time zone state.
    TZ.call_once(|| unsafe { tzset() });
    let t = secs as libc::time_t;
    // SAFETY: `tm` is plain old data; localtime_r/gmtime_r write into it and do not keep
    // the pointers.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    let ok = unsafe {
        if local {
            !libc::localtime_r(&t, &mut tm).is_null()
        } else {
            !libc::gmtime_r(&t, &mut tm).is_null()
        }
    };
    if !ok {
        return Tm {
            year: 1970,
            mon: 0,
            mday: 1,
            hour: 0,
            min: 0,
            sec: 0,
            gmtoff: 0,
        };
    }
    Tm {
        year: tm.tm_year + 1900,
        mon: usize::try_from(tm.tm_mon).unwrap_or(0).min(11),
        mday: tm.tm_mday,
        hour: tm.tm_hour,
        min: tm.tm_min,
        sec: tm.tm_sec,
        gmtoff: tm.tm_gmtoff,
    }
}

pub fn local(secs: i64) -> Tm {
    convert(secs, true)
}

pub fn gmt(secs: i64) -> Tm {
    convert(secs, false)
}

/// Seconds and microseconds since the epoch.
pub fn split(t: SystemTime) -> (i64, u32) {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => (
            i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
            d.subsec_micros(),
        ),
        Err(_) => (0, 0),
    }
}

/// `21/Nov/2026:14:28:04.270` (`%t`, `%tr`: local time, milliseconds).
pub fn log_date(out: &mut Vec<u8>, t: SystemTime) {
    let (s, us) = split(t);
    let tm = local(s);
    let _ = write!(
        out,
        "{:02}/{}/{:04}:{:02}:{:02}:{:02}.{:03}",
        tm.mday,
        MONTHS[tm.mon],
        tm.year,
        tm.hour,
        tm.min,
        tm.sec,
        us / 1000
    );
}

/// `21/Nov/2026:14:28:04 +0000` (`%T`, `%trg`: GMT).
pub fn gmt_date(out: &mut Vec<u8>, t: SystemTime) {
    let tm = gmt(split(t).0);
    let _ = write!(
        out,
        "{:02}/{}/{:04}:{:02}:{:02}:{:02} +0000",
        tm.mday, MONTHS[tm.mon], tm.year, tm.hour, tm.min, tm.sec
    );
}

/// `21/Nov/2026:15:28:04 +0100` (`%Tl`, `%trl`: local time with its offset).
pub fn local_date(out: &mut Vec<u8>, t: SystemTime) {
    let tm = local(split(t).0);
    let off = tm.gmtoff;
    let (sign, off) = if off < 0 { ('-', -off) } else { ('+', off) };
    let _ = write!(
        out,
        "{:02}/{}/{:04}:{:02}:{:02}:{:02} {}{:02}{:02}",
        tm.mday,
        MONTHS[tm.mon],
        tm.year,
        tm.hour,
        tm.min,
        tm.sec,
        sign,
        off / 3600,
        (off % 3600) / 60
    );
}

/// `Nov 21 14:28:04 ` (RFC 3164 header, local time, day padded with a space).
pub fn syslog_date(out: &mut Vec<u8>, t: SystemTime) {
    let tm = local(split(t).0);
    let _ = write!(
        out,
        "{} {:2} {:02}:{:02}:{:02} ",
        MONTHS[tm.mon], tm.mday, tm.hour, tm.min, tm.sec
    );
}

/// `2026-11-21T14:28:41.547543+00:00 ` (RFC 5424 / `iso` / `timed` headers).
pub fn iso_date(out: &mut Vec<u8>, t: SystemTime) {
    let (s, us) = split(t);
    let tm = local(s);
    let off = tm.gmtoff;
    let (sign, off) = if off < 0 { ('-', -off) } else { ('+', off) };
    let _ = write!(
        out,
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}{}{:02}:{:02} ",
        tm.year,
        tm.mon + 1,
        tm.mday,
        tm.hour,
        tm.min,
        tm.sec,
        us,
        sign,
        off / 3600,
        (off % 3600) / 60
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn gmt_spelling() {
        // 2026-11-21T14:28:04.270Z
        let t = UNIX_EPOCH + Duration::from_millis(1_795_271_284_270);
        let mut v = Vec::new();
        gmt_date(&mut v, t);
        assert_eq!(v, b"21/Nov/2026:14:28:04 +0000");
        let tm = gmt(0);
        assert_eq!((tm.year, tm.mon, tm.mday), (1970, 0, 1));
    }
}
