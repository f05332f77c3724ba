//! Property tests for the config value and address parsers
//! (`haproxide::config::values` and `haproxide::config::address`).
//!
//! They check the two things unit tests cannot enumerate: that no input makes
//! a parser panic (these parsers face hostile configs and a fuzzer), and that
//! valid values round-trip through their textual forms. No test here calls the
//! resolver, so nothing touches the network.

use haproxide::config::address::{
    expand_address_env, parse_bind_address_with_env, parse_bind_list_with_env,
    parse_log_target_with_env, parse_server_address_with_env, Address, Host, LogTarget, PortSpec,
};
use haproxide::config::values::{
    atoi, parse_duration, parse_long_strict, parse_size, parse_uint_strict, DurationError,
    SizeError,
};
use proptest::prelude::*;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// A fixed environment so that address tests are deterministic.
fn env(name: &str) -> Option<String> {
    match name {
        "PORT" => Some("8080".to_string()),
        "HOST" => Some("10.1.2.3".to_string()),
        "WEIRD" => Some("$PORT:${".to_string()),
        _ => None,
    }
}

/// Text that looks like config values: digits, units, signs, junk, unicode.
fn value_like() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[0-9]{0,25}(us|ms|s|m|h|d|min|u|x|S|k|K|M|g|G|kb)?[a-z0-9 .\\-+]{0,3}",
        "[ \t\n+\\-]{0,3}[0-9]{0,25}[a-z\\x00]{0,2}",
    ]
}

/// Text that looks like addresses: prefixes, brackets, colons, env vars, commas.
fn address_like() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "(ipv4@|ipv6@|ip@|tcp@|udp@|tcp4@|udp6@|quic4@|unix@|uxst@|uxdg@|abns@|fd@|sockpair@|stream\\+|dgram\\+|ring@|/)?\\[?[0-9a-f:.*]{0,20}\\]?(:[+\\-]?[0-9]{0,12}(-[0-9]{0,12})?)?",
        "[\\[\\]:,$@{}a-z0-9.+\\-*/ ]{0,30}",
        "(\\$\\{?(PORT|HOST|WEIRD|NOPE)\\}?[:,]?){0,4}",
    ]
}

/// Reference model of glibc `strtol(text, NULL, 10)`, written independently
/// with 128-bit arithmetic.
fn strtol_model(text: &str) -> i64 {
    let text = text.split('\0').next().unwrap_or("");
    let rest = text.trim_start_matches([' ', '\t', '\n', '\x0b', '\x0c', '\r']);
    let (negative, rest) = match rest.as_bytes().first() {
        Some(b'-') => (true, &rest[1..]),
        Some(b'+') => (false, &rest[1..]),
        _ => (false, rest),
    };
    let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
    let mut value: i128 = 0;
    for d in digits.bytes() {
        value = value * 10 + i128::from(d - b'0');
        // Past the i64 range the answer is saturated anyway.
        if value > i128::from(u64::MAX) {
            value = i128::from(u64::MAX);
        }
    }
    if negative {
        value = -value;
    }
    value.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
}

fn port_range() -> impl Strategy<Value = (u16, u16)> {
    (1u16..=65535, 1u16..=65535).prop_map(|(a, b)| (a.min(b), a.max(b)))
}

fn host_for(ip: IpAddr) -> Host {
    match ip {
        IpAddr::V4(v4) if v4.is_unspecified() => Host::Any4,
        IpAddr::V6(v6) if v6.is_unspecified() => Host::Any6,
        other => Host::Ip(other),
    }
}

fn ip_text(ip: IpAddr, bracket_v6: bool) -> String {
    match ip {
        IpAddr::V6(v6) if bracket_v6 => format!("[{v6}]"),
        other => other.to_string(),
    }
}

fn any_ip() -> impl Strategy<Value = IpAddr> {
    prop_oneof![
        any::<u32>().prop_map(|n| IpAddr::V4(Ipv4Addr::from(n))),
        any::<u128>().prop_map(|n| IpAddr::V6(Ipv6Addr::from(n))),
        Just(IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
        Just(IpAddr::V6(Ipv6Addr::UNSPECIFIED)),
        Just(IpAddr::V6(Ipv6Addr::LOCALHOST)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn duration_never_panics(text in value_like(), unit in prop_oneof![Just(0u32), Just(1), Just(1000), Just(60_000), any::<u32>()]) {
        let _ = parse_duration(&text, unit);
    }

    #[test]
    fn duration_round_trips(n in 0u64..=2_147_483_647, unit_idx in 0usize..6) {
        let (suffix, factor) = [("", 1u64), ("ms", 1), ("s", 1000), ("m", 60_000), ("h", 3_600_000), ("d", 86_400_000)][unit_idx];
        let n = n / factor;
        let d = parse_duration(&format!("{n}{suffix}"), 1);
        prop_assert_eq!(d, Ok(haproxide::config::values::Duration { ms: (n * factor) as u32, warning: None }));
    }

    #[test]
    fn duration_microseconds_round_up(n in 0u64..=2_147_483_647_000) {
        let d = parse_duration(&format!("{n}us"), 1).map(|d| d.ms);
        prop_assert_eq!(d, Ok(n.div_ceil(1000) as u32));
    }

    #[test]
    fn duration_out_of_range_overflows(n in 2_147_483_648u64..=1_000_000_000_000_000) {
        prop_assert_eq!(parse_duration(&n.to_string(), 1), Err(DurationError::Overflow));
    }

    #[test]
    fn duration_junk_after_unit_warns(n in 0u64..=1000, junk in "[a-z0-9]{1,5}") {
        // `ms` followed by `s…` is the only junk that changes the unit read.
        let text = format!("{n}s{junk}");
        let d = parse_duration(&text, 1);
        prop_assert!(matches!(d, Ok(ref d) if d.ms as u64 == n * 1000 && d.warning.is_some()), "{:?}", d);
    }

    #[test]
    fn size_never_panics(text in value_like()) {
        let _ = parse_size(&text);
    }

    #[test]
    fn size_round_trips(n in any::<u32>(), suffix_idx in 0usize..7) {
        let (suffix, shift) = [("", 0u32), ("k", 10), ("K", 10), ("m", 20), ("M", 20), ("g", 30), ("G", 30)][suffix_idx];
        let text = format!("{n}{suffix}");
        let expected = if u64::from(n) << shift <= u64::from(u32::MAX) {
            Ok(u64::from(n) << shift)
        } else {
            // HAProxy names the suffix it could not apply.
            Err(SizeError::UnexpectedChar { ch: suffix.chars().next().unwrap_or('?') })
        };
        prop_assert_eq!(parse_size(&text), expected);
    }

    #[test]
    fn size_beyond_u32_is_rejected(n in 4_294_967_296u64..=u64::MAX) {
        let r = parse_size(&n.to_string());
        prop_assert!(
            matches!(r, Err(SizeError::UnexpectedChar { ch }) if ch.is_ascii_digit()),
            "{:?}",
            r
        );
    }

    #[test]
    fn atoi_matches_strtol_model(text in value_like()) {
        prop_assert_eq!(atoi(&text), strtol_model(&text));
    }

    #[test]
    fn atoi_reads_any_i64(n in any::<i64>(), junk in "[a-z ]{0,4}") {
        prop_assert_eq!(atoi(&format!("{n}{junk}")), n);
    }

    #[test]
    fn strict_parsers_never_panic(text in value_like()) {
        let _ = parse_uint_strict(&text);
        if let Some(v) = parse_long_strict(&text) {
            prop_assert_eq!(v, strtol_model(&text));
        }
    }

    #[test]
    fn uint_strict_round_trips(n in any::<u64>()) {
        prop_assert_eq!(parse_uint_strict(&n.to_string()), Some(n));
    }

    #[test]
    fn address_parsers_never_panic(text in address_like()) {
        let _ = expand_address_env(&text, &env);
        let _ = parse_bind_address_with_env(&text, &env);
        let _ = parse_bind_list_with_env(&text, &env);
        let _ = parse_log_target_with_env(&text, &env);
        if let Ok(a) = parse_server_address_with_env(&text, &env) {
            // Whatever parses must display as something that parses again.
            let shown = a.to_string();
            prop_assert!(parse_server_address_with_env(&shown, &env).is_ok(), "{} -> {}", text, shown);
        }
    }

    #[test]
    fn error_messages_never_panic(text in address_like()) {
        for e in [
            parse_bind_address_with_env(&text, &env).err(),
            parse_server_address_with_env(&text, &env).err(),
            parse_log_target_with_env(&text, &env).err(),
        ].into_iter().flatten() {
            prop_assert!(!e.message().is_empty());
        }
    }

    #[test]
    fn bind_single_port_round_trips(ip in any_ip(), port in 1u16..=65535, bracket in any::<bool>()) {
        let word = format!("{}:{port}", ip_text(ip, bracket));
        let expected = Address { family_hint: None, host: host_for(ip), port: PortSpec::Single(port) };
        let parsed = parse_bind_address_with_env(&word, &env);
        prop_assert_eq!(parsed.as_ref(), Ok(&expected), "{}", word);
        let shown = expected.to_string();
        prop_assert_eq!(parse_bind_address_with_env(&shown, &env), Ok(expected));
    }

    #[test]
    fn bind_range_round_trips(ip in any_ip(), (lo, hi) in port_range()) {
        let word = format!("{}:{lo}-{hi}", ip_text(ip, true));
        let expected = Address { family_hint: None, host: host_for(ip), port: PortSpec::Range(lo, hi) };
        prop_assert_eq!(parse_bind_address_with_env(&word, &env), Ok(expected.clone()));
        prop_assert_eq!(parse_bind_address_with_env(&expected.to_string(), &env), Ok(expected));
    }

    #[test]
    fn bind_reversed_range_is_rejected((lo, hi) in port_range()) {
        prop_assume!(lo < hi);
        let r = parse_bind_address_with_env(&format!(":{hi}-{lo}"), &env).map_err(|e| e.message());
        prop_assert_eq!(r, Err(format!("invalid port range '{hi}-{lo}'")));
    }

    #[test]
    fn bind_lists_round_trip(addrs in prop::collection::vec((any_ip(), 1u16..=65535), 1..5)) {
        let expected: Vec<Address> = addrs.iter().map(|(ip, p)| Address {
            family_hint: None, host: host_for(*ip), port: PortSpec::Single(*p),
        }).collect();
        let word = expected.iter().map(|a| a.to_string()).collect::<Vec<_>>().join(",");
        prop_assert_eq!(parse_bind_list_with_env(&word, &env), Ok(expected));
    }

    #[test]
    fn server_round_trips(ip in any_ip(), port in prop_oneof![
        Just(PortSpec::None),
        (0u16..=65535).prop_map(PortSpec::Single),
        any::<i32>().prop_map(PortSpec::Offset),
    ]) {
        let expected = Address { family_hint: None, host: host_for(ip), port };
        prop_assert_eq!(parse_server_address_with_env(&expected.to_string(), &env), Ok(expected));
    }

    #[test]
    fn log_targets_round_trip(ip in any_ip(), port in 1u16..=65535, tcp in any::<bool>()) {
        let addr = Address { family_hint: None, host: host_for(ip), port: PortSpec::Single(port) };
        let target = if tcp { LogTarget::Tcp(addr) } else { LogTarget::Udp(addr) };
        prop_assert_eq!(parse_log_target_with_env(&target.to_string(), &env), Ok(target));
    }

    #[test]
    fn invalid_bind_ports_are_rejected(port in 65536u64..=4_294_967_295) {
        let r = parse_bind_address_with_env(&format!(":{port}"), &env).map_err(|e| e.message());
        // HAProxy keeps atoi's low 32 bits, so only values that wrap back into
        // 1..=65535 as an int are accepted.
        let as_int = port as u32 as i32;
        if (1..=65535).contains(&as_int) {
            prop_assert!(r.is_ok());
        } else {
            prop_assert_eq!(r, Err(format!("invalid port '{port}'")));
        }
    }
}
