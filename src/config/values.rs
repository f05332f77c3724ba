//! Duration, size and integer value parsers with HAProxy 2.6 semantics.
//!
//! This module owns the conversion of single configuration words into numbers:
//! time values (`parse_time_err` in HAProxy's `tools.c`), `k`/`m`/`g` sizes
//! (`parse_size_err`), C `atoi`/`atol` (used by most integer keywords, which
//! therefore silently accept junk), and strict integers (`strtol` + end check).
//!
//! Every parser here is total: hostile input yields an error value, never a
//! panic. Inputs are treated like C strings, i.e. everything from the first NUL
//! byte on is ignored, because HAProxy never sees past it.
//!
//! The callers format HAProxy's messages; the error types carry exactly what
//! those messages need (see the doc comment on each variant).

use std::fmt;

/// A parsed duration in milliseconds, plus a non-fatal warning text when
/// HAProxy warns (junk after a valid unit, e.g. `15min`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Duration {
    pub ms: u32,
    /// The complete text of HAProxy's `[WARNING]` (without the `[WARNING] (pid) : config : `
    /// prefix). HAProxy prints it with no file/line position.
    pub warning: Option<String>,
}

/// Why a time value was rejected.
///
/// HAProxy's messages for `timeout <name>` (other keywords word them differently):
/// * `Empty` — checked by the caller before parsing: `'timeout server' expects an integer value (in milliseconds)`;
/// * `UnexpectedChar` — `unexpected character 'x' in 'timeout server'`;
/// * `Overflow` — `timer overflow in argument '30d' to 'timeout server' (maximum value is 2147483647 ms or ~24.8 days)`;
/// * `Underflow` — `timer underflow in argument '18446744073709551615us' to 'timeout server' (minimum non-null value is 1 ms)`.
///
/// `ch` is the whole offending character; for a multi-byte UTF-8 character
/// HAProxy prints only its first byte (it uses `%c`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DurationError {
    Empty,
    UnexpectedChar {
        ch: char,
    },
    Overflow,
    /// A non-zero value that computes to zero. Not in the original API
    /// specification: HAProxy's digit accumulator is a wrapping 64-bit
    /// integer, so a value of 20+ digits can wrap to 0 (e.g.
    /// `18446744073709551615us`), which haproxy 2.6 reports as an underflow.
    Underflow,
}

impl fmt::Display for DurationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DurationError::Empty => f.write_str("empty time value"),
            DurationError::UnexpectedChar { ch } => write!(f, "unexpected character '{ch}'"),
            DurationError::Overflow => f.write_str("timer overflow"),
            DurationError::Underflow => f.write_str("timer underflow"),
        }
    }
}

impl std::error::Error for DurationError {}

/// The largest value HAProxy accepts for a timer, in the caller's unit.
const TIMER_MAX: u64 = 0x7fff_ffff;

/// Cut a string at its first NUL, as a C function would see it.
pub(crate) fn c_str(text: &str) -> &str {
    match text.find('\0') {
        Some(pos) => &text[..pos],
        None => text,
    }
}

/// First character of `text` at byte offset `pos` (which must be a char
/// boundary); `'\0'` when `pos` is at the end, mirroring the C terminator.
fn char_at(text: &str, pos: usize) -> char {
    text.get(pos..)
        .and_then(|rest| rest.chars().next())
        .unwrap_or('\0')
}

/// HAProxy's `parse_time_err` semantics for `timeout X`, `inter`, etc.
///
/// An unsigned integer plus an optional unit `us|ms|s|m|h|d` (case-sensitive);
/// a bare number is in the caller's default unit. No sign, decimal point or
/// space. Results are rounded up (`1500us` is 2 ms). The maximum is
/// 2147483647 in the default unit (2147483647 ms for timeouts).
///
/// `default_unit_ms` is HAProxy's "output unit" expressed in milliseconds:
/// 1 for timeouts, 1000 for keywords documented in seconds (`cookie maxidle`,
/// `maxlife`, `tune.ssl.lifetime`). As in HAProxy, the value is first computed
/// in that unit (so `1500ms` with a seconds default becomes 2 s = 2000 ms),
/// and the 2147483647 limit applies in that unit. Deviation: when the result
/// in milliseconds does not fit `u32` (only possible with a default unit of
/// seconds or more, e.g. `50d` for `maxidle`) `Overflow` is returned; use
/// [`parse_time_in_unit`] to get such values. A `default_unit_ms` of 0 is
/// treated as 1.
///
/// Junk after a valid unit (`15min`, `1sx`) is accepted with the exact HAProxy
/// warning text in [`Duration::warning`]. If such a value also overflows,
/// HAProxy prints the warning and then the error; only the error is returned.
pub fn parse_duration(text: &str, default_unit_ms: u32) -> Result<Duration, DurationError> {
    let unit = u64::from(default_unit_ms.max(1));
    let (value, warning) = parse_time_in_unit(text, default_unit_ms)?;
    let ms = u64::from(value) * unit;
    match u32::try_from(ms) {
        Ok(ms) => Ok(Duration { ms, warning }),
        Err(_) => Err(DurationError::Overflow),
    }
}

/// Same as [`parse_duration`] but returns the value expressed in the caller's
/// unit (`unit_ms` milliseconds, 0 treated as 1), exactly as HAProxy stores it,
/// together with the optional warning. The value is at most 2147483647.
pub fn parse_time_in_unit(
    text: &str,
    unit_ms: u32,
) -> Result<(u32, Option<String>), DurationError> {
    let text = c_str(text);
    let bytes = text.as_bytes();
    let first = match text.chars().next() {
        None => return Err(DurationError::Empty),
        Some(c) => c,
    };
    if !first.is_ascii_digit() {
        return Err(DurationError::UnexpectedChar { ch: first });
    }

    // HAProxy expresses units as multipliers/divisors relative to the second.
    let unit = u64::from(unit_ms.max(1));
    let (mut omult, mut odiv) = if unit % 1000 == 0 {
        (1u64, unit / 1000)
    } else {
        (1000u64, unit)
    };

    // The C accumulator is an unsigned long long that silently wraps; huge
    // inputs must wrap identically to reproduce HAProxy's verdicts.
    let mut value: u64 = 0;
    let mut pos = 0;
    while pos < bytes.len() && bytes[pos].is_ascii_digit() {
        value = value
            .wrapping_mul(10)
            .wrapping_add(u64::from(bytes[pos] - b'0'));
        pos += 1;
    }

    let (mut imult, mut idiv) = (1u64, 1u64);
    let mut warning = None;
    if pos == bytes.len() {
        // No unit: the number is already in the output unit.
        imult = 1;
        idiv = 1;
        omult = 1;
        odiv = 1;
    } else {
        let next = bytes.get(pos + 1).copied();
        let unit_len = match bytes[pos] {
            b's' => 1,
            b'u' => {
                if next == Some(b's') {
                    idiv = 1_000_000;
                    2
                } else {
                    return Err(DurationError::UnexpectedChar { ch: 'u' });
                }
            }
            b'm' => {
                if next == Some(b's') {
                    idiv = 1000;
                    2
                } else {
                    imult = 60;
                    1
                }
            }
            b'h' => {
                imult = 3600;
                1
            }
            b'd' => {
                imult = 86400;
                1
            }
            _ => {
                return Err(DurationError::UnexpectedChar {
                    ch: char_at(text, pos),
                })
            }
        };
        let after = pos + unit_len;
        if after < bytes.len() {
            warning = Some(format!(
                "unexpected character '{}' after the timer value '{}', only \
                 (us=microseconds,ms=milliseconds,s=seconds,m=minutes,h=hours,d=days) are supported. \
                 This will be reported as an error in next versions.",
                char_at(text, after),
                text
            ));
        }
    }

    // Same factor reduction as HAProxy, so that the wrapping multiplication
    // below overflows at exactly the same inputs.
    if omult % idiv == 0 {
        omult /= idiv;
        idiv = 1;
    }
    if idiv % omult == 0 {
        idiv /= omult;
        omult = 1;
    }
    if imult % odiv == 0 {
        imult /= odiv;
        odiv = 1;
    }
    if odiv % imult == 0 {
        odiv /= imult;
        imult = 1;
    }

    // Both factors are >= 1, and their product stays far below 2^64.
    let div = idiv.saturating_mul(odiv).max(1);
    let result = value
        .wrapping_mul(imult.wrapping_mul(omult))
        .wrapping_add(div - 1)
        / div;
    if result > TIMER_MAX {
        return Err(DurationError::Overflow);
    }
    if result == 0 && value != 0 {
        return Err(DurationError::Underflow);
    }
    // result <= TIMER_MAX, so it fits.
    let result = u32::try_from(result).map_err(|_| DurationError::Overflow)?;
    Ok((result, warning))
}

/// Why a size was rejected.
///
/// HAProxy's size parser has no notion of overflow: it returns a pointer to
/// the character where it gave up, and every caller prints
/// `unexpected character '<ch>'` (e.g. `stick-table: unexpected character 'g'
/// in argument of 'size'.`). Values beyond its 32-bit result are therefore
/// reported as `UnexpectedChar` naming the digit or suffix where HAProxy
/// stopped (`4294967296` → `'6'`, `4g` → `'g'`), so callers print the exact
/// message without special cases.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SizeError {
    /// Empty word (HAProxy callers check this first: `missing argument after 'size'`).
    Empty,
    /// The character HAProxy names: not a digit or suffix, junk after the
    /// suffix, or the place where the value stopped fitting 32 bits.
    UnexpectedChar { ch: char },
    /// Never returned by [`parse_size`] (HAProxy reports overflows as
    /// `UnexpectedChar`, see above); kept so the API matches its specification.
    Overflow,
}

impl fmt::Display for SizeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SizeError::Empty => f.write_str("empty size"),
            SizeError::UnexpectedChar { ch } => write!(f, "unexpected character '{ch}'"),
            SizeError::Overflow => f.write_str("size overflow"),
        }
    }
}

impl std::error::Error for SizeError {}

/// Sizes with k/m/g suffixes (1024-based, either case) as parsed by HAProxy's
/// `parse_size_err` (`stick-table size`, …). At most one suffix character,
/// nothing after it. HAProxy's result is a 32-bit unsigned, so values above
/// 4294967295 are rejected (as `UnexpectedChar`, like HAProxy), even though
/// this returns `u64`.
pub fn parse_size(text: &str) -> Result<u64, SizeError> {
    let text = c_str(text);
    let bytes = text.as_bytes();
    let first = match text.chars().next() {
        None => return Err(SizeError::Empty),
        Some(c) => c,
    };
    if !first.is_ascii_digit() {
        return Err(SizeError::UnexpectedChar { ch: first });
    }

    let mut value: u32 = 0;
    let mut pos = 0;
    while pos < bytes.len() && bytes[pos].is_ascii_digit() {
        let digit = u32::from(bytes[pos] - b'0');
        value = match value.checked_mul(10).and_then(|v| v.checked_add(digit)) {
            Some(v) => v,
            None => {
                return Err(SizeError::UnexpectedChar {
                    ch: char_at(text, pos),
                })
            }
        };
        pos += 1;
    }

    if pos == bytes.len() {
        return Ok(u64::from(value));
    }
    let shift = match bytes[pos] {
        b'k' | b'K' => 10,
        b'm' | b'M' => 20,
        b'g' | b'G' => 30,
        _ => {
            return Err(SizeError::UnexpectedChar {
                ch: char_at(text, pos),
            })
        }
    };
    if value > u32::MAX >> shift {
        return Err(SizeError::UnexpectedChar {
            ch: char_at(text, pos),
        });
    }
    if pos + 1 < bytes.len() {
        return Err(SizeError::UnexpectedChar {
            ch: char_at(text, pos + 1),
        });
    }
    Ok(u64::from(value << shift))
}

/// C whitespace as seen by `isspace()` in the C locale.
fn is_c_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// glibc `strtol(text, &end, 10)` on x86_64: returns the value (saturated to
/// the `long` range on overflow) and the number of bytes consumed (0 when no
/// digits were found, like `end == text`).
fn strtol(text: &str) -> (i64, usize) {
    let bytes = text.as_bytes();
    let mut pos = 0;
    while pos < bytes.len() && is_c_space(bytes[pos]) {
        pos += 1;
    }
    let mut negative = false;
    if pos < bytes.len() && (bytes[pos] == b'+' || bytes[pos] == b'-') {
        negative = bytes[pos] == b'-';
        pos += 1;
    }
    let digits_start = pos;
    // Accumulate towards the sign so that i64::MIN is reachable without overflow.
    let mut acc: i64 = 0;
    let mut overflow = false;
    while pos < bytes.len() && bytes[pos].is_ascii_digit() {
        let digit = i64::from(bytes[pos] - b'0');
        if !overflow {
            let next = acc.checked_mul(10).and_then(|v| {
                if negative {
                    v.checked_sub(digit)
                } else {
                    v.checked_add(digit)
                }
            });
            match next {
                Some(v) => acc = v,
                None => overflow = true,
            }
        }
        pos += 1;
    }
    if pos == digits_start {
        return (0, 0);
    }
    if overflow {
        acc = if negative { i64::MIN } else { i64::MAX };
    }
    (acc, pos)
}

/// C `atol` semantics used by `maxconn`, `retries`, `weight`, server `maxconn`…:
/// leading whitespace (C `isspace`) skipped, optional sign, decimal digits,
/// anything after is ignored, no digits → 0. So `10k` is 10 and `abc` is 0.
///
/// Overflow: the value is glibc's `strtol` result, which saturates at
/// `i64::MIN`/`i64::MAX` (x86_64 `long`). glibc `atoi` is `(int)strtol(...)`,
/// i.e. the low 32 bits: callers reproducing an `atoi` keyword must use
/// `atoi(text) as i32` (so `2147483648` gives -2147483648 and
/// `99999999999999999999` gives -1, exactly like HAProxy's `atoi`).
pub fn atoi(text: &str) -> i64 {
    strtol(c_str(text)).0
}

/// Strict unsigned integer: one or more ASCII digits and nothing else
/// (no sign, no space), fitting `u64`.
///
/// Note: HAProxy's `nbthread` is not quite this strict; it uses
/// `strtol` + end check, which [`parse_long_strict`] reproduces (it accepts
/// `+2`, leading whitespace and negative values, which then fail the range
/// check with `(was -1)`).
pub fn parse_uint_strict(text: &str) -> Option<u64> {
    let text = c_str(text);
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse::<u64>().ok()
}

/// HAProxy's strict `strtol` idiom: `v = strtol(text, &end, 10); if (!*text || *end) error;`
/// (used by `nbthread`: `'nbthread' passed a missing or unparsable integer value in '2x'`).
/// Leading C whitespace and a sign are allowed, trailing characters are not,
/// and out-of-range values saturate (`nbthread 99999999999999999999` reports
/// `(was 9223372036854775807)`).
pub fn parse_long_strict(text: &str) -> Option<i64> {
    let text = c_str(text);
    if text.is_empty() {
        return None;
    }
    let (value, consumed) = strtol(text);
    // No digits leaves `end` at the start, which is a non-NUL character here.
    if consumed != text.len() {
        return None;
    }
    Some(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(text: &str) -> u32 {
        match parse_duration(text, 1) {
            Ok(d) => {
                assert_eq!(d.warning, None, "unexpected warning for {text}");
                d.ms
            }
            Err(e) => panic!("{text}: {e:?}"),
        }
    }

    fn derr(text: &str) -> DurationError {
        match parse_duration(text, 1) {
            Ok(d) => panic!("{text} unexpectedly parsed as {d:?}"),
            Err(e) => e,
        }
    }

    #[test]
    fn duration_units() {
        assert_eq!(ms("0"), 0);
        assert_eq!(ms("10"), 10);
        assert_eq!(ms("10ms"), 10);
        assert_eq!(ms("00010s"), 10_000);
        assert_eq!(ms("1s"), 1000);
        assert_eq!(ms("1m"), 60_000);
        assert_eq!(ms("1h"), 3_600_000);
        assert_eq!(ms("1d"), 86_400_000);
        assert_eq!(ms("24d"), 2_073_600_000);
        assert_eq!(ms("596h"), 2_145_600_000);
        assert_eq!(ms("35791m"), 2_147_460_000);
        assert_eq!(ms("2147483s"), 2_147_483_000);
        assert_eq!(ms("2147483647"), 2_147_483_647);
    }

    #[test]
    fn duration_microseconds_round_up() {
        // haproxy -c accepts `timeout client 1500us`; the source rounds up.
        assert_eq!(ms("1500us"), 2);
        assert_eq!(ms("1us"), 1);
        assert_eq!(ms("1000us"), 1);
        assert_eq!(ms("1001us"), 2);
        assert_eq!(ms("0us"), 0);
    }

    #[test]
    fn duration_trailing_junk_warns() {
        let d = parse_duration("15min", 1).unwrap();
        assert_eq!(d.ms, 15 * 60_000);
        assert_eq!(
            d.warning.as_deref(),
            Some(
                "unexpected character 'i' after the timer value '15min', only \
                 (us=microseconds,ms=milliseconds,s=seconds,m=minutes,h=hours,d=days) are supported. \
                 This will be reported as an error in next versions."
            )
        );
        let d = parse_duration("1sx", 1).unwrap();
        assert_eq!(d.ms, 1000);
        assert!(d
            .warning
            .as_deref()
            .unwrap()
            .starts_with("unexpected character 'x' after the timer value '1sx', only"));
        let d = parse_duration("5mss", 1).unwrap();
        assert_eq!(d.ms, 5);
        assert!(d
            .warning
            .unwrap()
            .contains("character 's' after the timer value '5mss'"));
        let d = parse_duration("1m1", 1).unwrap();
        assert_eq!(d.ms, 60_000);
        assert!(d.warning.unwrap().contains("character '1' after"));
    }

    #[test]
    fn duration_errors() {
        assert_eq!(derr(""), DurationError::Empty);
        assert_eq!(derr("10x"), DurationError::UnexpectedChar { ch: 'x' });
        assert_eq!(derr("0x"), DurationError::UnexpectedChar { ch: 'x' });
        assert_eq!(derr("10 "), DurationError::UnexpectedChar { ch: ' ' });
        assert_eq!(derr(" 10"), DurationError::UnexpectedChar { ch: ' ' });
        assert_eq!(derr("1.5s"), DurationError::UnexpectedChar { ch: '.' });
        assert_eq!(derr("10S"), DurationError::UnexpectedChar { ch: 'S' });
        assert_eq!(derr("-1"), DurationError::UnexpectedChar { ch: '-' });
        assert_eq!(derr("+1"), DurationError::UnexpectedChar { ch: '+' });
        assert_eq!(derr("1u"), DurationError::UnexpectedChar { ch: 'u' });
        assert_eq!(derr("1u2"), DurationError::UnexpectedChar { ch: 'u' });
        assert_eq!(derr("1é"), DurationError::UnexpectedChar { ch: 'é' });
        assert_eq!(derr("30d"), DurationError::Overflow);
        assert_eq!(derr("25d"), DurationError::Overflow);
        assert_eq!(derr("597h"), DurationError::Overflow);
        assert_eq!(derr("35792m"), DurationError::Overflow);
        assert_eq!(derr("2147484s"), DurationError::Overflow);
        assert_eq!(derr("2147483648"), DurationError::Overflow);
        assert_eq!(derr("18446744073709551615"), DurationError::Overflow);
        assert_eq!(derr("18446744073709551615ms"), DurationError::Overflow);
    }

    #[test]
    fn duration_wraps_like_c() {
        // All verified with haproxy 2.6 (`timeout client ...`).
        assert_eq!(ms("18446744073709551617"), 1);
        assert_eq!(ms("18446744073709551616"), 0);
        assert_eq!(derr("18446744073709551615us"), DurationError::Underflow);
        // 307445734561826 * 60000 wraps to 8384.
        assert_eq!(ms("307445734561826m"), 8384);
        assert_eq!(derr("307445734561825m"), DurationError::Overflow);
    }

    #[test]
    fn duration_stops_at_nul() {
        assert_eq!(ms("10\0x"), 10);
        assert_eq!(derr("\0"), DurationError::Empty);
    }

    #[test]
    fn duration_other_default_units() {
        let s = |t: &str| parse_duration(t, 1000).map(|d| d.ms);
        assert_eq!(s("30"), Ok(30_000));
        assert_eq!(s("1500ms"), Ok(2000));
        assert_eq!(s("1us"), Ok(1000));
        assert_eq!(s("2m"), Ok(120_000));
        assert_eq!(s("30d"), Ok(2_592_000_000));
        // Valid in HAProxy (2147472000 s) but not representable in u32 ms.
        assert_eq!(s("24855d"), Err(DurationError::Overflow));
        assert_eq!(
            parse_time_in_unit("24855d", 1000),
            Ok((2_147_472_000, None))
        );
        assert_eq!(
            parse_time_in_unit("24856d", 1000),
            Err(DurationError::Overflow)
        );
        assert_eq!(parse_time_in_unit("1", 60_000), Ok((1, None)));
        assert_eq!(parse_time_in_unit("61s", 60_000), Ok((2, None)));
        // 0 is treated as 1 ms.
        assert_eq!(parse_duration("7", 0).map(|d| d.ms), Ok(7));
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("0"), Ok(0));
        assert_eq!(parse_size("200k"), Ok(200 * 1024));
        assert_eq!(parse_size("10K"), Ok(10 * 1024));
        assert_eq!(parse_size("10M"), Ok(10 << 20));
        assert_eq!(parse_size("1g"), Ok(1 << 30));
        assert_eq!(parse_size("3g"), Ok(3 << 30));
        assert_eq!(parse_size("4095m"), Ok(4095 << 20));
        assert_eq!(parse_size("4194303k"), Ok(4_194_303 << 10));
        assert_eq!(parse_size("4294967295"), Ok(4_294_967_295));
    }

    #[test]
    fn size_errors() {
        use SizeError::*;
        assert_eq!(parse_size(""), Err(Empty));
        // Overflows, reported the way haproxy -c reports them.
        assert_eq!(parse_size("4g"), Err(UnexpectedChar { ch: 'g' }));
        assert_eq!(parse_size("10G"), Err(UnexpectedChar { ch: 'G' }));
        assert_eq!(parse_size("4194304k"), Err(UnexpectedChar { ch: 'k' }));
        assert_eq!(parse_size("4096m"), Err(UnexpectedChar { ch: 'm' }));
        assert_eq!(parse_size("4294967296"), Err(UnexpectedChar { ch: '6' }));
        assert_eq!(parse_size("5000000000"), Err(UnexpectedChar { ch: '0' }));
        assert_eq!(parse_size("10kb"), Err(UnexpectedChar { ch: 'b' }));
        assert_eq!(parse_size("10k1"), Err(UnexpectedChar { ch: '1' }));
        assert_eq!(parse_size("10x"), Err(UnexpectedChar { ch: 'x' }));
        assert_eq!(parse_size("-1"), Err(UnexpectedChar { ch: '-' }));
        assert_eq!(parse_size(" 1"), Err(UnexpectedChar { ch: ' ' }));
        assert_eq!(parse_size("1é"), Err(UnexpectedChar { ch: 'é' }));
        assert_eq!(parse_size("12\0junk"), Ok(12));
    }

    #[test]
    fn atoi_like_glibc() {
        assert_eq!(atoi("10k"), 10);
        assert_eq!(atoi("abc"), 0);
        assert_eq!(atoi(""), 0);
        assert_eq!(atoi("-"), 0);
        assert_eq!(atoi("- 5"), 0);
        assert_eq!(atoi("   "), 0);
        assert_eq!(atoi(" \t\n\x0b\x0c\r42x"), 42);
        assert_eq!(atoi("-5"), -5);
        assert_eq!(atoi("+7"), 7);
        assert_eq!(atoi("5x"), 5);
        assert_eq!(atoi("007"), 7);
        assert_eq!(atoi("2147483648"), 2_147_483_648);
        assert_eq!(atoi("2147483648") as i32, i32::MIN);
        assert_eq!(atoi("9223372036854775807"), i64::MAX);
        assert_eq!(atoi("-9223372036854775808"), i64::MIN);
        assert_eq!(atoi("99999999999999999999"), i64::MAX);
        assert_eq!(atoi("99999999999999999999") as i32, -1);
        assert_eq!(atoi("-99999999999999999999"), i64::MIN);
        assert_eq!(atoi("4294967376") as i32, 80);
        assert_eq!(atoi("12\x003"), 12);
    }

    #[test]
    fn strict_integers() {
        assert_eq!(parse_uint_strict("2"), Some(2));
        assert_eq!(parse_uint_strict("007"), Some(7));
        assert_eq!(parse_uint_strict("18446744073709551615"), Some(u64::MAX));
        assert_eq!(parse_uint_strict("18446744073709551616"), None);
        assert_eq!(parse_uint_strict(""), None);
        assert_eq!(parse_uint_strict("2x"), None);
        assert_eq!(parse_uint_strict("+2"), None);
        assert_eq!(parse_uint_strict(" 2"), None);
        assert_eq!(parse_uint_strict("-1"), None);

        // Mirrors `nbthread` as verified with haproxy 2.6.
        assert_eq!(parse_long_strict("+2"), Some(2));
        assert_eq!(parse_long_strict(" 2"), Some(2));
        assert_eq!(parse_long_strict("-1"), Some(-1));
        assert_eq!(parse_long_strict("99999999999999999999"), Some(i64::MAX));
        assert_eq!(parse_long_strict("4294967297"), Some(4_294_967_297));
        assert_eq!(parse_long_strict("2x"), None);
        assert_eq!(parse_long_strict("2 "), None);
        assert_eq!(parse_long_strict("0x2"), None);
        assert_eq!(parse_long_strict(""), None);
        assert_eq!(parse_long_strict(" "), None);
        assert_eq!(parse_long_strict("+"), None);
    }
}
