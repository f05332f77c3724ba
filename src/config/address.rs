//! Address parsing with HAProxy 2.6 semantics.
//!
//! This module owns the syntax of the address words found on `bind`, `server`
//! and `log` lines: protocol prefixes (`ipv4@`, `unix@`, `fd@`, …), host and
//! port splitting, port ranges and offsets, the address parser's own `$VAR`
//! expansion, HAProxy's exact error texts, the canonical `Display` form used in
//! IR dumps, and host name resolution through the system resolver.
//!
//! It is a port of `str2sa_range()` / `str2ip2()` / `env_expand()` from
//! HAProxy 2.6 `tools.c`; every behaviour below was checked with `haproxy -c`.
//! Parsing does no I/O: host names are returned as [`Host::Name`] and the
//! caller decides when to call [`resolve_host`] (bind and log lines must
//! resolve at parse time to match HAProxy; servers may defer). File
//! descriptors are not inspected either (`getsockname()` checks are the
//! caller's, see [`AddrError::FdUnusable`]).
//!
//! Inputs are read like C strings: everything from the first NUL is ignored.
//!
//! The parsers take the word **as written** and do the `$VAR` expansion
//! themselves (the `*_with_env` variants take the lookup to use), because
//! HAProxy's messages quote the unexpanded word (`missing port specification
//! in ':$PORT'`) and because `stdout`/`stderr`/`ring@` are matched before
//! expansion. Expanding first and passing the result expands twice and quotes
//! the expanded text.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, ToSocketAddrs};

use super::values::{atoi, c_str, parse_long_strict};

/// The explicit protocol prefix written before an address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Family {
    /// `ipv4@`: IPv4 only, socket type from context.
    Ipv4,
    /// `ipv6@`: IPv6 only, socket type from context.
    Ipv6,
    /// `unix@`: Unix socket path, socket type from context.
    Unix,
    /// `abns@`: Linux abstract namespace socket.
    Abns,
    /// `fd@N`: an already open file descriptor.
    Fd,
    /// `sockpair@N`: a socketpair file descriptor.
    SockPair,
    /// `udp4@`: IPv4 datagram.
    Udp4,
    /// `udp6@`: IPv6 datagram.
    Udp6,
    /// `quic4@`: QUIC over IPv4 (rejected: this HAProxy build has no QUIC).
    Quic4,
    /// `quic6@`: QUIC over IPv6 (rejected likewise).
    Quic6,
    /// `ip@`: either IP family, socket type from context.
    Ip,
    /// `tcp@`: either IP family, stream.
    Tcp,
    /// `tcp4@`: IPv4 stream.
    Tcp4,
    /// `tcp6@`: IPv6 stream.
    Tcp6,
    /// `udp@`: either IP family, datagram.
    Udp,
    /// `uxst@`: Unix stream socket.
    UnixStream,
    /// `uxdg@`: Unix datagram socket.
    UnixDgram,
}

/// Prefixes in the order HAProxy 2.6 tests them (none is a prefix of another).
const PREFIXES: &[(&str, Family)] = &[
    ("unix@", Family::Unix),
    ("uxdg@", Family::UnixDgram),
    ("uxst@", Family::UnixStream),
    ("abns@", Family::Abns),
    ("ip@", Family::Ip),
    ("ipv4@", Family::Ipv4),
    ("ipv6@", Family::Ipv6),
    ("tcp4@", Family::Tcp4),
    ("udp4@", Family::Udp4),
    ("tcp6@", Family::Tcp6),
    ("udp6@", Family::Udp6),
    ("tcp@", Family::Tcp),
    ("udp@", Family::Udp),
    ("quic4@", Family::Quic4),
    ("quic6@", Family::Quic6),
    ("fd@", Family::Fd),
    ("sockpair@", Family::SockPair),
];

/// Which IP family a prefix restricts host parsing to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum IpFam {
    Unspec,
    V4,
    V6,
}

impl Family {
    /// The prefix as written, including the `@`.
    pub fn prefix(self) -> &'static str {
        PREFIXES
            .iter()
            .find(|(_, f)| *f == self)
            .map(|(p, _)| *p)
            .unwrap_or("")
    }

    fn ip_family(self) -> IpFam {
        match self {
            Family::Ipv4 | Family::Udp4 | Family::Quic4 | Family::Tcp4 => IpFam::V4,
            Family::Ipv6 | Family::Udp6 | Family::Quic6 | Family::Tcp6 => IpFam::V6,
            _ => IpFam::Unspec,
        }
    }

    fn is_path(self) -> bool {
        matches!(
            self,
            Family::Unix | Family::Abns | Family::UnixStream | Family::UnixDgram
        )
    }
}

/// One address of a bind/server/log line after protocol prefix and host/port parsing.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Address {
    /// From an explicit prefix like `ipv4@`, `unix@`, `fd@`. `None` for plain
    /// `host:port` words and for bare `/path` Unix sockets.
    pub family_hint: Option<Family>,
    pub host: Host,
    pub port: PortSpec,
}

/// The host part of an address.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Host {
    /// Any IPv4 address: `*`, empty, `0.0.0.0` (and `*`/empty with no IPv6 prefix).
    Any4,
    /// Any IPv6 address: `::`, `[::]`, any spelling of the unspecified IPv6
    /// address, and `*`/empty under an IPv6-only prefix (`ipv6@:80`).
    Any6,
    Ip(IpAddr),
    /// An unresolved host name, exactly as HAProxy would pass it to the
    /// resolver (brackets included when written, e.g. `[localhost]`).
    Name(String),
    /// Unix socket path or abstract name (see `family_hint`).
    Path(String),
    /// File descriptor number of `fd@N` / `sockpair@N`.
    Fd(i32),
}

/// The port part of an address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PortSpec {
    /// No port written (or a path/fd address).
    None,
    /// A single port. Servers accept 0, which HAProxy treats like no port.
    Single(u16),
    /// `low-high` on bind lines (`low <= high`, `80-80` kept as written).
    Range(u16, u16),
    /// Server `+N` / `-N`: relative to the client's destination port. HAProxy
    /// reads N with `atoi`, so `+x` is `Offset(0)`, which behaves like no port.
    Offset(i32),
}

/// An address error, carrying what is needed to print HAProxy 2.6's message.
///
/// `raw` is always the address word as written (before `$VAR` expansion);
/// other text fields hold the expanded pieces HAProxy quotes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AddrError {
    /// `'$NOPE' resolves to an empty address (environment variable missing?)`
    EmptyAddress { raw: String },
    /// `missing port specification in '127.0.0.1'` (bind only).
    MissingPort { raw: String },
    /// `invalid port '70000'`: `port` is the offending half as written after expansion.
    InvalidPort { port: String },
    /// `invalid port range '9005-9000'` (the values are HAProxy's `atoi` results).
    InvalidPortRange { low: i32, high: i32 },
    /// `port range not permitted here in '1.2.3.4:80-81'` (server, log).
    PortRangeNotPermitted { raw: String },
    /// `port offset not permitted here in ':+1'` (bind, log).
    PortOffsetNotPermitted { raw: String },
    /// `invalid character 'x' in port number 'x' in '1.2.3.4:x'`.
    InvalidPortChar { ch: char, port: String, raw: String },
    /// `invalid address: 'x' in 'x:8080'`. Returned by the parsers for hosts
    /// that can never resolve on bind/log lines (bad characters, `[foo]`,
    /// an IP literal of the wrong family); the caller builds it too when
    /// [`resolve_host`] fails for a bind or log host (`host` = the `Host::Name`).
    InvalidAddress { host: String, raw: String },
    /// `file descriptor 'x' is not a valid integer in 'fd@x'`.
    InvalidFd { text: String, raw: String },
    /// `a file descriptor is not acceptable here in 'fd@3'` (server).
    FdNotAcceptable { raw: String },
    /// `cannot use file descriptor '3' : Socket operation on non-socket.`:
    /// never returned by the parsers; for callers that check `fd@`/`sockpair@`
    /// descriptors with `getsockname()` (`reason` = `strerror(errno)`).
    FdUnusable { fd: i32, reason: String },
    /// `socket path 'unix@/…' too long (max 97)`.
    PathTooLong { raw: String, max: usize },
    /// `dgram-type address not acceptable in 'udp@:80'` (bind, server).
    DgramNotAcceptable { raw: String },
    /// `unsupported stream protocol for datagram family 2 address 'quic4@:443'; QUIC is not compiled in if this is what you were looking for.`
    /// (`family` is the C `AF_*` number: 2 = IPv4, 10 = IPv6, 48 = sockpair.)
    UnsupportedProtocol {
        ctrl_dgram: bool,
        proto_dgram: bool,
        family: i32,
        raw: String,
    },
}

impl AddrError {
    /// The message HAProxy prints after `'bind' : ` (or `log : `, or
    /// `'server be/s1' : `), without any trailing newline.
    pub fn message(&self) -> String {
        match self {
            AddrError::EmptyAddress { raw } => {
                format!("'{raw}' resolves to an empty address (environment variable missing?)")
            }
            AddrError::MissingPort { raw } => format!("missing port specification in '{raw}'"),
            AddrError::InvalidPort { port } => format!("invalid port '{port}'"),
            AddrError::InvalidPortRange { low, high } => {
                format!("invalid port range '{low}-{high}'")
            }
            AddrError::PortRangeNotPermitted { raw } => {
                format!("port range not permitted here in '{raw}'")
            }
            AddrError::PortOffsetNotPermitted { raw } => {
                format!("port offset not permitted here in '{raw}'")
            }
            AddrError::InvalidPortChar { ch, port, raw } => {
                format!("invalid character '{ch}' in port number '{port}' in '{raw}'")
            }
            AddrError::InvalidAddress { host, raw } => {
                format!("invalid address: '{host}' in '{raw}'")
            }
            AddrError::InvalidFd { text, raw } => {
                format!("file descriptor '{text}' is not a valid integer in '{raw}'")
            }
            AddrError::FdNotAcceptable { raw } => {
                format!("a file descriptor is not acceptable here in '{raw}'")
            }
            AddrError::FdUnusable { fd, reason } => {
                format!("cannot use file descriptor '{fd}' : {reason}.")
            }
            AddrError::PathTooLong { raw, max } => {
                format!("socket path '{raw}' too long (max {max})")
            }
            AddrError::DgramNotAcceptable { raw } => {
                format!("dgram-type address not acceptable in '{raw}'")
            }
            AddrError::UnsupportedProtocol {
                ctrl_dgram,
                proto_dgram,
                family,
                raw,
            } => format!(
                "unsupported {} protocol for {} family {} address '{}'{}",
                if *ctrl_dgram { "datagram" } else { "stream" },
                if *proto_dgram { "datagram" } else { "stream" },
                family,
                raw,
                if !*ctrl_dgram && *proto_dgram {
                    "; QUIC is not compiled in if this is what you were looking for."
                } else {
                    ""
                }
            ),
        }
    }

    /// Whether HAProxy's text for this error ends with a newline. `bind`
    /// strips it, but `server` and `log` alerts print it, which shows up as an
    /// empty line after the `[ALERT]` line (verified with haproxy 2.6).
    pub fn ends_with_newline(&self) -> bool {
        matches!(
            self,
            AddrError::EmptyAddress { .. }
                | AddrError::InvalidPortChar { .. }
                | AddrError::InvalidAddress { .. }
                | AddrError::InvalidFd { .. }
                | AddrError::FdNotAcceptable { .. }
                | AddrError::FdUnusable { .. }
                | AddrError::PathTooLong { .. }
                | AddrError::DgramNotAcceptable { .. }
        )
    }
}

impl fmt::Display for AddrError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message())
    }
}

impl std::error::Error for AddrError {}

/// A `log` target.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum LogTarget {
    /// Datagram to an IP address; the port defaults to 514 (also for `:0`).
    Udp(Address),
    /// Stream target (`tcp@`, `uxst@`, `stream+…`): HAProxy sends these through
    /// an implicit ring. The port defaults to 514 for IP addresses.
    Tcp(Address),
    /// Unix datagram socket path (`/dev/log`, `unix@…`, `uxdg@…`).
    Unix(String),
    /// Abstract-namespace datagram socket (`abns@name`). Extension of the brief's enum.
    Abns(String),
    Stdout,
    Stderr,
    Fd(i32),
    /// `ring@name` (the name is not checked here, nor by `haproxy -c`).
    Ring(String),
}

/// How each caller configures HAProxy's `str2sa_range()` options.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ctx {
    /// `PA_O_RESOLVE | PA_O_PORT_OK | PA_O_PORT_MAND | PA_O_PORT_RANGE | PA_O_SOCKET_FD | PA_O_STREAM`
    Bind,
    /// `PA_O_PORT_OK | PA_O_PORT_OFS | PA_O_STREAM | PA_O_CONNECT`, with an fqdn out-parameter.
    Server,
    /// `PA_O_RESOLVE | PA_O_PORT_OK | PA_O_RAW_FD | PA_O_DGRAM | PA_O_STREAM | PA_O_DEFAULT_DGRAM`
    Log,
}

impl Ctx {
    fn port_mandatory(self) -> bool {
        self == Ctx::Bind
    }
    fn port_range_ok(self) -> bool {
        self == Ctx::Bind
    }
    fn port_offset_ok(self) -> bool {
        self == Ctx::Server
    }
    /// Bind and log resolve names inside the parser, so names that can never
    /// resolve are address errors there; servers keep them for later.
    fn resolves(self) -> bool {
        self != Ctx::Server
    }
}

/// Result of the shared `str2sa_range()` port.
struct Parsed {
    addr: Address,
    /// The socket type used to talk (`ctrl_type` in HAProxy).
    ctrl_dgram: bool,
}

/// C `AF_*` numbers used in HAProxy's messages (Linux values).
const AF_INET: i32 = 2;
const AF_INET6: i32 = 10;
/// HAProxy's `AF_CUST_SOCKPAIR` (`AF_MAX + 2` with glibc's AF_MAX of 46).
const AF_CUST_SOCKPAIR: i32 = 48;

/// The process environment, as HAProxy's `getenv()` sees it.
fn process_env(name: &str) -> Option<String> {
    // Names reaching here are non-empty [A-Za-z0-9_]+, which `var_os` accepts.
    std::env::var_os(name).map(|v| v.to_string_lossy().into_owned())
}

/// Expand `$VAR` and `${VAR}` inside an address word the way HAProxy's
/// address parser (`env_expand()`) does, even unquoted.
///
/// A name is the longest run of `[A-Za-z0-9_]` after `$` (or after `${`); a
/// `}` right after a braced name is consumed. Unset or empty names expand to
/// nothing. There is no `${VAR-default}` here: `:${NOPE-80}` becomes `:-80}`.
/// An unterminated `${PORT` still expands PORT.
pub fn expand_address_env(word: &str, env: &dyn Fn(&str) -> Option<String>) -> String {
    let word = c_str(word);
    let bytes = word.as_bytes();
    let mut out = String::with_capacity(word.len());
    let mut pos = 0;
    while pos < bytes.len() {
        let dollar = match word[pos..].find('$') {
            None => {
                out.push_str(&word[pos..]);
                break;
            }
            Some(off) => pos + off,
        };
        out.push_str(&word[pos..dollar]);
        let mut name_start = dollar + 1;
        let braced = bytes.get(name_start) == Some(&b'{');
        if braced {
            name_start += 1;
        }
        let mut name_end = name_start;
        while name_end < bytes.len()
            && (bytes[name_end].is_ascii_alphanumeric() || bytes[name_end] == b'_')
        {
            name_end += 1;
        }
        let mut next = name_end;
        if braced && bytes.get(name_end) == Some(&b'}') {
            next += 1;
        }
        // glibc's getenv("") is always NULL.
        let name = &word[name_start..name_end];
        if !name.is_empty() {
            if let Some(value) = env(name) {
                out.push_str(&value);
            }
        }
        pos = next;
    }
    out
}

/// Parse one address as written on a `bind` line (one element of a comma
/// list), expanding `$VAR` from the process environment.
///
/// Host names are returned as [`Host::Name`]; HAProxy resolves them at parse
/// time, so the caller must call `resolve_host_for(name, addr.family_hint)`
/// and report `AddrError::InvalidAddress { host: name, raw: word }` when it
/// fails. (Ordering nuance: for `udp@name:80` HAProxy reports the failed
/// resolution before the datagram error; this parser reports the datagram
/// error first unless the name is syntactically unresolvable.)
pub fn parse_bind_address(word: &str) -> Result<Address, AddrError> {
    parse_bind_address_with_env(word, &process_env)
}

/// [`parse_bind_address`] with an explicit environment lookup.
pub fn parse_bind_address_with_env(
    word: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Address, AddrError> {
    str2sa(word, Ctx::Bind, env).map(|p| p.addr)
}

/// Split a bind word on commas (HAProxy allows `:80,:81` and
/// `1.2.3.4:80,5.6.7.8:81`) and parse each.
///
/// As in HAProxy the split happens before `$VAR` expansion, an empty element
/// in the middle or at the start is an error (`'' resolves to an empty
/// address…`) while one trailing comma is ignored, and the first failing
/// element stops the parse. An empty word gives an empty list (HAProxy's
/// caller rejects an empty `bind` argument before this point).
pub fn parse_bind_list(word: &str) -> Result<Vec<Address>, AddrError> {
    parse_bind_list_with_env(word, &process_env)
}

/// [`parse_bind_list`] with an explicit environment lookup.
pub fn parse_bind_list_with_env(
    word: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<Address>, AddrError> {
    let mut rest = c_str(word);
    let mut out = Vec::new();
    while !rest.is_empty() {
        let element = match rest.find(',') {
            Some(comma) => {
                let element = &rest[..comma];
                rest = &rest[comma + 1..];
                element
            }
            None => std::mem::take(&mut rest),
        };
        out.push(parse_bind_address_with_env(element, env)?);
    }
    Ok(out)
}

/// Parse a `server` address (port optional, `+N`/`-N` offsets, no ranges,
/// `[v6]:p` and `v6:p` forms, host names kept as [`Host::Name`]), expanding
/// `$VAR` from the process environment.
///
/// Names are never an error here, even syntactically hopeless ones such as
/// `[foo]` or an IPv4 literal under `ipv6@`: HAProxy defers them to
/// resolution, which fails with `could not resolve address '<name>'.`
pub fn parse_server_address(word: &str) -> Result<Address, AddrError> {
    parse_server_address_with_env(word, &process_env)
}

/// [`parse_server_address`] with an explicit environment lookup.
pub fn parse_server_address_with_env(
    word: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Address, AddrError> {
    str2sa(word, Ctx::Server, env).map(|p| p.addr)
}

/// Parse a `log` target (ip[:port] default 514, udp@, tcp@, /path, unix@,
/// stdout, stderr, fd@N, ring@name), expanding `$VAR` from the process
/// environment. `stdout`, `stderr` and `ring@` are matched on the word as
/// written, before expansion (so `$X` with X=stdout is the host name
/// `stdout`, which then fails to resolve, as in HAProxy). Host names must be
/// resolved by the caller like for `bind`.
pub fn parse_log_target(word: &str) -> Result<LogTarget, AddrError> {
    parse_log_target_with_env(word, &process_env)
}

/// [`parse_log_target`] with an explicit environment lookup.
pub fn parse_log_target_with_env(
    word: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<LogTarget, AddrError> {
    let word = c_str(word);
    if let Some(ring) = word.strip_prefix("ring@") {
        return Ok(LogTarget::Ring(ring.to_string()));
    }
    match word {
        "stdout" => return Ok(LogTarget::Stdout),
        "stderr" => return Ok(LogTarget::Stderr),
        _ => {}
    }
    let Parsed {
        mut addr,
        ctrl_dgram,
    } = str2sa(word, Ctx::Log, env)?;
    match (&addr.host, addr.family_hint) {
        (Host::Fd(fd), Some(Family::Fd)) => return Ok(LogTarget::Fd(*fd)),
        (Host::Path(path), hint) if ctrl_dgram => {
            return Ok(if hint == Some(Family::Abns) {
                LogTarget::Abns(path.clone())
            } else {
                LogTarget::Unix(path.clone())
            });
        }
        (Host::Any4 | Host::Any6 | Host::Ip(_) | Host::Name(_), _) => {
            if matches!(addr.port, PortSpec::None | PortSpec::Single(0)) {
                addr.port = PortSpec::Single(514);
            }
        }
        _ => {}
    }
    Ok(if ctrl_dgram {
        LogTarget::Udp(addr)
    } else {
        LogTarget::Tcp(addr)
    })
}

/// The port of `str2sa_range()` shared by the three public parsers.
fn str2sa(raw: &str, ctx: Ctx, env: &dyn Fn(&str) -> Option<String>) -> Result<Parsed, AddrError> {
    let raw = c_str(raw);
    let expanded = expand_address_env(raw, env);
    let text = c_str(&expanded);
    if text.is_empty() {
        return Err(AddrError::EmptyAddress {
            raw: raw.to_string(),
        });
    }

    // `ctrl` is the socket type used to talk, `proto` the transport; they only
    // differ for QUIC (stream semantics over datagrams).
    let default_dgram = ctx == Ctx::Log;
    let mut ctrl_dgram = default_dgram;
    let mut proto_dgram = default_dgram;
    let mut s = text;
    if let Some(rest) = s.strip_prefix("stream+") {
        s = rest;
        ctrl_dgram = false;
        proto_dgram = false;
    } else if let Some(rest) = s.strip_prefix("dgram+") {
        s = rest;
        ctrl_dgram = true;
        proto_dgram = true;
    }

    let mut hint = None;
    for (prefix, family) in PREFIXES {
        if let Some(rest) = s.strip_prefix(prefix) {
            s = rest;
            hint = Some(*family);
            break;
        }
    }
    match hint {
        Some(Family::UnixDgram | Family::Udp | Family::Udp4 | Family::Udp6) => {
            ctrl_dgram = true;
            proto_dgram = true;
        }
        Some(Family::UnixStream | Family::Tcp | Family::Tcp4 | Family::Tcp6) => {
            ctrl_dgram = false;
            proto_dgram = false;
        }
        Some(Family::Quic4 | Family::Quic6) => {
            ctrl_dgram = false;
            proto_dgram = true;
        }
        _ => {}
    }

    let (host, port) = match hint {
        Some(Family::Fd | Family::SockPair) => {
            // `new_fd = strtol(str2, &end, 10); if (!*str2 || new_fd < 0 || *end)`
            // with `new_fd` an int, hence the truncation to 32 bits.
            let fd = parse_long_strict(s).map(|v| v as i32).filter(|v| *v >= 0);
            let fd = match fd {
                Some(fd) => fd,
                None => {
                    return Err(AddrError::InvalidFd {
                        text: s.to_string(),
                        raw: raw.to_string(),
                    })
                }
            };
            if hint == Some(Family::Fd) && ctx == Ctx::Server {
                return Err(AddrError::FdNotAcceptable {
                    raw: raw.to_string(),
                });
            }
            (Host::Fd(fd), PortSpec::None)
        }
        Some(f) if f.is_path() => unix_path(s, f == Family::Abns, raw)?,
        None if s.starts_with('/') => unix_path(s, false, raw)?,
        _ => {
            let fam = hint.map_or(IpFam::Unspec, Family::ip_family);
            ip_host_port(s, fam, ctx, raw)?
        }
    };

    if ctrl_dgram && ctx != Ctx::Log {
        return Err(AddrError::DgramNotAcceptable {
            raw: raw.to_string(),
        });
    }

    // HAProxy's protocol lookup. Without QUIC, "stream over datagram" has no
    // protocol, and socketpairs only exist as streams. Servers skip the check
    // while the address is an unresolved name; `fd@` is always exempt.
    let unresolved_server = ctx == Ctx::Server && matches!(host, Host::Name(_));
    if !unresolved_server && hint != Some(Family::Fd) {
        let family = match hint {
            Some(Family::SockPair) => Some(AF_CUST_SOCKPAIR),
            Some(Family::Quic4) => Some(AF_INET),
            Some(Family::Quic6) => Some(AF_INET6),
            _ => None,
        };
        let unsupported = match hint {
            Some(Family::SockPair) => ctrl_dgram || proto_dgram,
            _ => !ctrl_dgram && proto_dgram,
        };
        if let (true, Some(family)) = (unsupported, family) {
            return Err(AddrError::UnsupportedProtocol {
                ctrl_dgram,
                proto_dgram,
                family,
                raw: raw.to_string(),
            });
        }
    }

    Ok(Parsed {
        addr: Address {
            family_hint: hint,
            host,
            port,
        },
        ctrl_dgram,
    })
}

/// Unix and abstract socket paths. HAProxy reserves room for the
/// `.<pid>.<bak|tmp>` suffix it uses while binding plain paths, hence 97
/// rather than 107. (A global `unix-bind prefix` would shorten the limit
/// further on bind lines; the caller must check that itself.)
fn unix_path(path: &str, abstract_ns: bool, raw: &str) -> Result<(Host, PortSpec), AddrError> {
    let max = if abstract_ns {
        107
    } else {
        107 - (1 + 5 + 1 + 3)
    };
    if path.len() > max {
        return Err(AddrError::PathTooLong {
            raw: raw.to_string(),
            max,
        });
    }
    Ok((Host::Path(path.to_string()), PortSpec::None))
}

/// Host and port of an IP address word (after any prefix).
fn ip_host_port(s: &str, fam: IpFam, ctx: Ctx, raw: &str) -> Result<(Host, PortSpec), AddrError> {
    // The port separator is the last ':' unless a ']' comes after it.
    let (host_text, port_text) = match s.rfind([':', ']']) {
        Some(pos) if s.as_bytes()[pos] == b':' => (&s[..pos], Some(&s[pos + 1..])),
        _ => (s, None),
    };
    if port_text.is_none() && ctx.port_mandatory() {
        return Err(AddrError::MissingPort {
            raw: raw.to_string(),
        });
    }
    let port = parse_port(port_text.unwrap_or(""), ctx, raw)?;

    let host = match literal_host(host_text, fam) {
        Some(host) => host,
        None => {
            if ctx.resolves() && !may_resolve(host_text) {
                return Err(AddrError::InvalidAddress {
                    host: host_text.to_string(),
                    raw: raw.to_string(),
                });
            }
            Host::Name(host_text.to_string())
        }
    };
    Ok((host, port))
}

/// The port part, with HAProxy's `atoi` leniency (`:80abc` is port 80).
fn parse_port(port1: &str, ctx: Ctx, raw: &str) -> Result<PortSpec, AddrError> {
    let first = port1.chars().next();
    match first {
        Some(c) if c.is_ascii_digit() => {
            let (low_text, high_text, is_range) = match port1.find('-') {
                Some(dash) => {
                    if !ctx.port_range_ok() {
                        return Err(AddrError::PortRangeNotPermitted {
                            raw: raw.to_string(),
                        });
                    }
                    (&port1[..dash], &port1[dash + 1..], true)
                }
                None => (port1, port1, false),
            };
            // HAProxy stores atoi() in an int: keep the low 32 bits.
            let low = atoi(low_text) as i32;
            let high = atoi(high_text) as i32;
            let min = i32::from(ctx.port_mandatory());
            let low_port = u16::try_from(low).ok().filter(|p| i32::from(*p) >= min);
            let high_port = u16::try_from(high).ok().filter(|p| i32::from(*p) >= min);
            let low_port = match low_port {
                Some(p) => p,
                None => {
                    return Err(AddrError::InvalidPort {
                        port: low_text.to_string(),
                    })
                }
            };
            let high_port = match high_port {
                Some(p) => p,
                None => {
                    return Err(AddrError::InvalidPort {
                        port: high_text.to_string(),
                    })
                }
            };
            if low_port > high_port {
                return Err(AddrError::InvalidPortRange { low, high });
            }
            Ok(if is_range {
                PortSpec::Range(low_port, high_port)
            } else {
                PortSpec::Single(low_port)
            })
        }
        Some(sign @ ('-' | '+')) => {
            if !ctx.port_offset_ok() {
                return Err(AddrError::PortOffsetNotPermitted {
                    raw: raw.to_string(),
                });
            }
            let n = atoi(&port1[1..]) as i32;
            Ok(PortSpec::Offset(if sign == '-' {
                n.wrapping_neg()
            } else {
                n
            }))
        }
        Some(ch) => Err(AddrError::InvalidPortChar {
            ch,
            port: port1.to_string(),
            raw: raw.to_string(),
        }),
        None => {
            if ctx.port_mandatory() {
                Err(AddrError::MissingPort {
                    raw: raw.to_string(),
                })
            } else {
                Ok(PortSpec::None)
            }
        }
    }
}

/// `str2ip2()`'s bracket rule: `[x]` is unwrapped when it is 4 to 47 bytes
/// long; any other word starting with `[` can never be an address (`None`).
fn strip_brackets(s: &str) -> Option<&str> {
    if !s.starts_with('[') {
        return Some(s);
    }
    let len = s.len();
    if !(4..48).contains(&len) || !s.ends_with(']') {
        return None;
    }
    Some(&s[1..len - 1])
}

/// `str2ip2(..., resolve=0)`: the host as an IP literal or wildcard for the
/// given family restriction, or `None` when it would need the resolver.
fn literal_host(s: &str, fam: IpFam) -> Option<Host> {
    let inner = strip_brackets(s)?;
    if inner == "::" {
        return (fam != IpFam::V4).then_some(Host::Any6);
    }
    if inner.is_empty() || inner == "*" {
        return Some(if fam == IpFam::V6 {
            Host::Any6
        } else {
            Host::Any4
        });
    }
    if fam != IpFam::V4 {
        if let Ok(v6) = inner.parse::<Ipv6Addr>() {
            return Some(if v6.is_unspecified() {
                Host::Any6
            } else {
                Host::Ip(IpAddr::V6(v6))
            });
        }
    }
    if fam != IpFam::V6 {
        if let Ok(v4) = inner.parse::<Ipv4Addr>() {
            return Some(if v4.is_unspecified() {
                Host::Any4
            } else {
                Host::Ip(IpAddr::V4(v4))
            });
        }
    }
    None
}

/// Whether a non-literal host could possibly resolve: the bracket rule, no IP
/// literal (reaching here means it is of the other family, which HAProxy
/// rejects after resolving), and HAProxy's `dns_hostname_validation()`.
fn may_resolve(s: &str) -> bool {
    match strip_brackets(s) {
        Some(inner) => {
            inner != "::" && inner.parse::<IpAddr>().is_err() && dns_hostname_valid(inner)
        }
        None => false,
    }
}

/// HAProxy's `dns_hostname_validation()`: at most 255 bytes, labels of
/// `[A-Za-z0-9_-]` up to 63 bytes. Empty labels (`a..b`) pass here and fail
/// in the resolver.
fn dns_hostname_valid(name: &str) -> bool {
    const MAX_NAME: usize = 255;
    const MAX_LABEL: usize = 63;
    if name.len() > MAX_NAME {
        return false;
    }
    for label in name.split('.') {
        if label.len() > MAX_LABEL {
            return false;
        }
        if !label
            .bytes()
            .all(|b| b == b'-' || b == b'_' || b.is_ascii_alphanumeric())
        {
            return false;
        }
    }
    true
}

/// Resolve a host name with the system resolver (getaddrinfo via std).
///
/// HAProxy's rule (libc resolution in `str2ip2()`): IP literals and
/// wildcards are taken as is, otherwise the name must pass its host-name
/// validation and the **first** `getaddrinfo(AF_UNSPEC)` answer wins, whatever
/// its family. There is no IPv4 preference at this stage (`resolve-prefer`
/// only applies to runtime DNS resolvers). `[name]` is unwrapped first.
/// `None` when it does not resolve.
pub fn resolve_host(name: &str) -> Option<IpAddr> {
    resolve_host_for(name, None)
}

/// [`resolve_host`] restricted to the IP family implied by an address
/// prefix (`ipv4@`, `udp6@`, …), like HAProxy's `getaddrinfo()` hint: under
/// `ipv6@`, `1.2.3.4` or a name with only IPv4 records does not resolve.
pub fn resolve_host_for(name: &str, family: Option<Family>) -> Option<IpAddr> {
    let name = c_str(name);
    let fam = family.map_or(IpFam::Unspec, Family::ip_family);
    if let Some(host) = literal_host(name, fam) {
        return match host {
            Host::Any4 => Some(IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
            Host::Any6 => Some(IpAddr::V6(Ipv6Addr::UNSPECIFIED)),
            Host::Ip(ip) => Some(ip),
            _ => None,
        };
    }
    let inner = strip_brackets(name)?;
    if !dns_hostname_valid(inner) {
        return None;
    }
    // With a family restriction only that family's answers count (as with
    // getaddrinfo's hint); otherwise the first answer wins.
    (inner, 0u16)
        .to_socket_addrs()
        .ok()?
        .map(|addr| addr.ip())
        .find(|ip| match fam {
            IpFam::Unspec => true,
            IpFam::V4 => ip.is_ipv4(),
            IpFam::V6 => ip.is_ipv6(),
        })
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Any4 => f.write_str("*"),
            Host::Any6 => f.write_str("[::]"),
            Host::Ip(IpAddr::V4(ip)) => write!(f, "{ip}"),
            Host::Ip(IpAddr::V6(ip)) => write!(f, "[{ip}]"),
            Host::Name(name) => f.write_str(name),
            Host::Path(path) => f.write_str(path),
            Host::Fd(fd) => write!(f, "{fd}"),
        }
    }
}

impl fmt::Display for PortSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PortSpec::None => Ok(()),
            PortSpec::Single(p) => write!(f, ":{p}"),
            PortSpec::Range(lo, hi) => write!(f, ":{lo}-{hi}"),
            PortSpec::Offset(n) => write!(f, ":{n:+}"),
        }
    }
}

/// Canonical form for IR dumps, which parses back to the same address:
/// `*:443`, `[::]:80`, `127.0.0.1:8080`, `[::1]:80`, `*:9000-9005`,
/// `10.0.0.1:+1`, `unix@/path` (also for a bare `/path`), `abns@name`,
/// `fd@3`, `ipv6@[::]:80`.
impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.host, self.family_hint) {
            (Host::Path(path), hint) => {
                let prefix = match hint {
                    Some(h) if h.is_path() => h.prefix(),
                    _ => "unix@",
                };
                write!(f, "{prefix}{path}")
            }
            (Host::Fd(fd), hint) => {
                let prefix = match hint {
                    Some(Family::SockPair) => "sockpair@",
                    _ => "fd@",
                };
                write!(f, "{prefix}{fd}")
            }
            (host, hint) => {
                if let Some(h) = hint {
                    f.write_str(h.prefix())?;
                }
                write!(f, "{host}")?;
                if self.port == PortSpec::None {
                    // A name whose last ':' would be taken as a port separator
                    // needs an empty port to read back the same.
                    if let Host::Name(name) = host {
                        if let Some(pos) = name.rfind([':', ']']) {
                            if name.as_bytes()[pos] == b':' {
                                f.write_str(":")?;
                            }
                        }
                    }
                }
                write!(f, "{}", self.port)
            }
        }
    }
}

/// Canonical form of a log target, which parses back to the same target.
impl fmt::Display for LogTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LogTarget::Udp(addr) => match (&addr.host, addr.family_hint) {
                // Datagram is the default, except that a path needs its prefix.
                (Host::Path(_), _) => write!(f, "dgram+{addr}"),
                _ => write!(f, "{addr}"),
            },
            LogTarget::Tcp(addr) => match addr.family_hint {
                Some(Family::Tcp | Family::Tcp4 | Family::Tcp6 | Family::UnixStream) => {
                    write!(f, "{addr}")
                }
                _ => write!(f, "stream+{addr}"),
            },
            LogTarget::Unix(path) => write!(f, "unix@{path}"),
            LogTarget::Abns(name) => write!(f, "abns@{name}"),
            LogTarget::Stdout => f.write_str("stdout"),
            LogTarget::Stderr => f.write_str("stderr"),
            LogTarget::Fd(fd) => write!(f, "fd@{fd}"),
            LogTarget::Ring(name) => write!(f, "ring@{name}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    fn test_env(name: &str) -> Option<String> {
        match name {
            "PORT" => Some("8081".to_string()),
            "H" => Some("127.0.0.1".to_string()),
            "X" => Some("stdout".to_string()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    fn bind(word: &str) -> Result<Address, AddrError> {
        parse_bind_address_with_env(word, &test_env)
    }
    fn server(word: &str) -> Result<Address, AddrError> {
        parse_server_address_with_env(word, &test_env)
    }
    fn log(word: &str) -> Result<LogTarget, AddrError> {
        parse_log_target_with_env(word, &test_env)
    }
    fn bind_msg(word: &str) -> String {
        match bind(word) {
            Ok(a) => panic!("{word} unexpectedly parsed as {a:?}"),
            Err(e) => e.message(),
        }
    }
    fn server_msg(word: &str) -> String {
        match server(word) {
            Ok(a) => panic!("{word} unexpectedly parsed as {a:?}"),
            Err(e) => e.message(),
        }
    }
    fn log_msg(word: &str) -> String {
        match log(word) {
            Ok(a) => panic!("{word} unexpectedly parsed as {a:?}"),
            Err(e) => e.message(),
        }
    }
    fn addr(hint: Option<Family>, host: Host, port: PortSpec) -> Address {
        Address {
            family_hint: hint,
            host,
            port,
        }
    }
    fn v4(s: &str) -> Host {
        Host::Ip(s.parse().unwrap())
    }
    fn shown(word: &str) -> String {
        bind(word).unwrap().to_string()
    }

    #[test]
    fn env_expansion() {
        let e = |w: &str| expand_address_env(w, &test_env);
        assert_eq!(e(":$PORT"), ":8081");
        assert_eq!(e(":${PORT}"), ":8081");
        assert_eq!(e(":${PORT}0"), ":80810");
        assert_eq!(e(":$PORT}"), ":8081}");
        assert_eq!(e(":${PORT"), ":8081");
        assert_eq!(e("${H}:$PORT"), "127.0.0.1:8081");
        assert_eq!(e(":${NOPE-80}"), ":-80}");
        assert_eq!(e(":$NOPE"), ":");
        assert_eq!(e(":$"), ":");
        assert_eq!(e("$}x"), "}x");
        assert_eq!(e("${}x"), "x");
        assert_eq!(e("a$EMPTY$"), "a");
        assert_eq!(e("no vars"), "no vars");
        assert_eq!(e("é$PORTé"), "é8081é");
        assert_eq!(e("x$PORT\0$PORT"), "x8081");
        assert_eq!(expand_address_env("$PORT", &no_env), "");
    }

    #[test]
    fn bind_forms() {
        assert_eq!(
            bind("*:443"),
            Ok(addr(None, Host::Any4, PortSpec::Single(443)))
        );
        assert_eq!(
            bind(":443"),
            Ok(addr(None, Host::Any4, PortSpec::Single(443)))
        );
        assert_eq!(
            bind("0.0.0.0:443"),
            Ok(addr(None, Host::Any4, PortSpec::Single(443)))
        );
        assert_eq!(
            bind(":::80"),
            Ok(addr(None, Host::Any6, PortSpec::Single(80)))
        );
        assert_eq!(
            bind("[::]:80"),
            Ok(addr(None, Host::Any6, PortSpec::Single(80)))
        );
        assert_eq!(
            bind("[::1]:80"),
            Ok(addr(
                None,
                Host::Ip("::1".parse().unwrap()),
                PortSpec::Single(80)
            ))
        );
        assert_eq!(
            bind("::1:80"),
            Ok(addr(
                None,
                Host::Ip("::1".parse().unwrap()),
                PortSpec::Single(80)
            ))
        );
        assert_eq!(
            bind("127.0.0.1:8080"),
            Ok(addr(None, v4("127.0.0.1"), PortSpec::Single(8080)))
        );
        assert_eq!(
            bind("[1.2.3.4]:80"),
            Ok(addr(None, v4("1.2.3.4"), PortSpec::Single(80)))
        );
        assert_eq!(
            bind(":9000-9005"),
            Ok(addr(None, Host::Any4, PortSpec::Range(9000, 9005)))
        );
        assert_eq!(
            bind(":65535"),
            Ok(addr(None, Host::Any4, PortSpec::Single(65535)))
        );
        assert_eq!(
            bind(":008080"),
            Ok(addr(None, Host::Any4, PortSpec::Single(8080)))
        );
        // atoi leniency, all accepted by haproxy -c.
        assert_eq!(
            bind(":80abc"),
            Ok(addr(None, Host::Any4, PortSpec::Single(80)))
        );
        assert_eq!(
            bind(":80-90x"),
            Ok(addr(None, Host::Any4, PortSpec::Range(80, 90)))
        );
        assert_eq!(
            bind(":1-2-3"),
            Ok(addr(None, Host::Any4, PortSpec::Range(1, 2)))
        );
        assert_eq!(
            bind(":4294967376"),
            Ok(addr(None, Host::Any4, PortSpec::Single(80)))
        );
        assert_eq!(
            bind(":80-4294967376"),
            Ok(addr(None, Host::Any4, PortSpec::Range(80, 80)))
        );
        // Names are left for the caller to resolve.
        assert_eq!(
            bind("localhost:8080"),
            Ok(addr(
                None,
                Host::Name("localhost".into()),
                PortSpec::Single(8080)
            ))
        );
        assert_eq!(
            bind("x:8080"),
            Ok(addr(None, Host::Name("x".into()), PortSpec::Single(8080)))
        );
        assert_eq!(
            bind("[localhost]:80"),
            Ok(addr(
                None,
                Host::Name("[localhost]".into()),
                PortSpec::Single(80)
            ))
        );
        assert_eq!(
            bind("1.2.3:80"),
            Ok(addr(None, Host::Name("1.2.3".into()), PortSpec::Single(80)))
        );
    }

    #[test]
    fn bind_prefixes() {
        use Family::*;
        assert_eq!(
            bind("ipv4@:80"),
            Ok(addr(Some(Ipv4), Host::Any4, PortSpec::Single(80)))
        );
        assert_eq!(
            bind("ipv6@:80"),
            Ok(addr(Some(Ipv6), Host::Any6, PortSpec::Single(80)))
        );
        assert_eq!(
            bind("ipv6@*:80"),
            Ok(addr(Some(Ipv6), Host::Any6, PortSpec::Single(80)))
        );
        assert_eq!(
            bind("ip@:80"),
            Ok(addr(Some(Ip), Host::Any4, PortSpec::Single(80)))
        );
        assert_eq!(
            bind("tcp@:80"),
            Ok(addr(Some(Tcp), Host::Any4, PortSpec::Single(80)))
        );
        assert_eq!(
            bind("tcp4@:80"),
            Ok(addr(Some(Tcp4), Host::Any4, PortSpec::Single(80)))
        );
        assert_eq!(
            bind("tcp6@:80"),
            Ok(addr(Some(Tcp6), Host::Any6, PortSpec::Single(80)))
        );
        assert_eq!(
            bind("stream+:80"),
            Ok(addr(None, Host::Any4, PortSpec::Single(80)))
        );
        assert_eq!(
            bind("unix@/tmp/x.sock"),
            Ok(addr(
                Some(Unix),
                Host::Path("/tmp/x.sock".into()),
                PortSpec::None
            ))
        );
        assert_eq!(
            bind("/tmp/x.sock"),
            Ok(addr(None, Host::Path("/tmp/x.sock".into()), PortSpec::None))
        );
        assert_eq!(
            bind("uxst@/tmp/x"),
            Ok(addr(
                Some(UnixStream),
                Host::Path("/tmp/x".into()),
                PortSpec::None
            ))
        );
        assert_eq!(
            bind("abns@foo"),
            Ok(addr(Some(Abns), Host::Path("foo".into()), PortSpec::None))
        );
        assert_eq!(
            bind("fd@3"),
            Ok(addr(Some(Fd), Host::Fd(3), PortSpec::None))
        );
        // strtol truncated to int, like HAProxy.
        assert_eq!(
            bind("fd@4294967299"),
            Ok(addr(Some(Fd), Host::Fd(3), PortSpec::None))
        );
        assert_eq!(
            bind("fd@ 3"),
            Ok(addr(Some(Fd), Host::Fd(3), PortSpec::None))
        );
        assert_eq!(
            bind("sockpair@3"),
            Ok(addr(Some(SockPair), Host::Fd(3), PortSpec::None))
        );
        let p92 = format!("unix@/tmp/{}", "a".repeat(92));
        assert!(bind(&p92).is_ok());
        let a107 = format!("abns@{}", "a".repeat(107));
        assert!(bind(&a107).is_ok());
    }

    #[test]
    fn bind_errors_match_haproxy() {
        assert_eq!(
            bind_msg("127.0.0.1"),
            "missing port specification in '127.0.0.1'"
        );
        assert_eq!(bind_msg("*"), "missing port specification in '*'");
        assert_eq!(bind_msg(":"), "missing port specification in ':'");
        assert_eq!(bind_msg("[::]"), "missing port specification in '[::]'");
        assert_eq!(bind_msg("::"), "missing port specification in '::'");
        assert_eq!(bind_msg("ipv4@"), "missing port specification in 'ipv4@'");
        assert_eq!(bind_msg(":70000"), "invalid port '70000'");
        assert_eq!(bind_msg(":65536"), "invalid port '65536'");
        assert_eq!(bind_msg(":99999999999"), "invalid port '99999999999'");
        assert_eq!(bind_msg(":0"), "invalid port '0'");
        assert_eq!(bind_msg(":0-5"), "invalid port '0'");
        assert_eq!(bind_msg(":80-"), "invalid port ''");
        assert_eq!(bind_msg(":9005-9000"), "invalid port range '9005-9000'");
        assert_eq!(bind_msg(":-5"), "port offset not permitted here in ':-5'");
        assert_eq!(bind_msg(":+5"), "port offset not permitted here in ':+5'");
        assert_eq!(
            bind_msg(":x"),
            "invalid character 'x' in port number 'x' in ':x'"
        );
        // `[foo]` is well formed: only the caller's resolver can reject it.
        assert_eq!(
            bind("[foo]:80"),
            Ok(addr(None, Host::Name("[foo]".into()), PortSpec::Single(80)))
        );
        assert_eq!(bind_msg("[fo:80"), "invalid address: '[fo' in '[fo:80'");
        assert_eq!(bind_msg("[a]b:80"), "invalid address: '[a]b' in '[a]b:80'");
        assert_eq!(bind_msg("[]:80"), "invalid address: '[]' in '[]:80'");
        assert_eq!(
            bind_msg("my host:80"),
            "invalid address: 'my host' in 'my host:80'"
        );
        assert_eq!(
            bind_msg("ipv6@1.2.3.4:80"),
            "invalid address: '1.2.3.4' in 'ipv6@1.2.3.4:80'"
        );
        assert_eq!(
            bind_msg("ipv4@::1:80"),
            "invalid address: '::1' in 'ipv4@::1:80'"
        );
        assert_eq!(
            bind_msg("ipv4@:::80"),
            "invalid address: '::' in 'ipv4@:::80'"
        );
        assert_eq!(
            bind_msg("udp@:80"),
            "dgram-type address not acceptable in 'udp@:80'"
        );
        assert_eq!(
            bind_msg("udp4@:80"),
            "dgram-type address not acceptable in 'udp4@:80'"
        );
        assert_eq!(
            bind_msg("uxdg@/tmp/x"),
            "dgram-type address not acceptable in 'uxdg@/tmp/x'"
        );
        assert_eq!(
            bind_msg("dgram+:80"),
            "dgram-type address not acceptable in 'dgram+:80'"
        );
        assert_eq!(
            bind_msg("quic4@:443"),
            "unsupported stream protocol for datagram family 2 address 'quic4@:443'; \
             QUIC is not compiled in if this is what you were looking for."
        );
        assert_eq!(
            bind_msg("quic6@:443"),
            "unsupported stream protocol for datagram family 10 address 'quic6@:443'; \
             QUIC is not compiled in if this is what you were looking for."
        );
        assert_eq!(
            bind_msg("fd@x"),
            "file descriptor 'x' is not a valid integer in 'fd@x'"
        );
        assert_eq!(
            bind_msg("fd@"),
            "file descriptor '' is not a valid integer in 'fd@'"
        );
        assert_eq!(
            bind_msg("fd@-1"),
            "file descriptor '-1' is not a valid integer in 'fd@-1'"
        );
        let p93 = format!("unix@/tmp/{}", "a".repeat(93));
        assert_eq!(
            bind_msg(&p93),
            format!("socket path '{p93}' too long (max 97)")
        );
        let a108 = format!("abns@{}", "a".repeat(108));
        assert_eq!(
            bind_msg(&a108),
            format!("socket path '{a108}' too long (max 107)")
        );
        // Messages quote the word as written, before expansion.
        assert_eq!(bind_msg(":$NOPE"), "missing port specification in ':$NOPE'");
        assert_eq!(bind_msg(":$"), "missing port specification in ':$'");
        assert_eq!(bind_msg(":${PORT}0"), "invalid port '80810'");
        assert_eq!(
            bind_msg(":${NOPE-80}"),
            "port offset not permitted here in ':${NOPE-80}'"
        );
        assert_eq!(
            bind_msg("$NOPE"),
            "'$NOPE' resolves to an empty address (environment variable missing?)"
        );
        assert_eq!(
            bind(":$PORT"),
            Ok(addr(None, Host::Any4, PortSpec::Single(8081)))
        );
        assert_eq!(
            bind("${H}:$PORT"),
            Ok(addr(None, v4("127.0.0.1"), PortSpec::Single(8081)))
        );
    }

    #[test]
    fn error_variants_and_newlines() {
        let built = AddrError::InvalidAddress {
            host: "x".into(),
            raw: "x:8080".into(),
        };
        assert_eq!(built.message(), "invalid address: 'x' in 'x:8080'");
        assert!(built.ends_with_newline());
        assert!(!AddrError::InvalidPort { port: "1".into() }.ends_with_newline());
        let fd = AddrError::FdUnusable {
            fd: 3,
            reason: "Socket operation on non-socket".into(),
        };
        assert_eq!(
            fd.message(),
            "cannot use file descriptor '3' : Socket operation on non-socket."
        );
        assert_eq!(fd.to_string(), fd.message());
    }

    #[test]
    fn bind_lists() {
        assert_eq!(
            parse_bind_list_with_env("1.2.3.4:80,5.6.7.8:81", &no_env),
            Ok(vec![
                addr(None, v4("1.2.3.4"), PortSpec::Single(80)),
                addr(None, v4("5.6.7.8"), PortSpec::Single(81)),
            ])
        );
        assert_eq!(
            parse_bind_list_with_env(":80,", &no_env),
            Ok(vec![addr(None, Host::Any4, PortSpec::Single(80))])
        );
        assert_eq!(parse_bind_list_with_env("", &no_env), Ok(vec![]));
        let empty = AddrError::EmptyAddress { raw: String::new() };
        assert_eq!(
            parse_bind_list_with_env(":80,,:81", &no_env),
            Err(empty.clone())
        );
        assert_eq!(parse_bind_list_with_env(",:80", &no_env), Err(empty));
        assert_eq!(
            parse_bind_list_with_env(":$NOPE,:80", &no_env),
            Err(AddrError::MissingPort {
                raw: ":$NOPE".into()
            })
        );
        assert_eq!(
            parse_bind_list_with_env(":80,$NOPE", &no_env),
            Err(AddrError::EmptyAddress {
                raw: "$NOPE".into()
            })
        );
        // The process-environment variants work too (NUL-free, no '$').
        assert_eq!(parse_bind_list(":1,:2").map(|v| v.len()), Ok(2));
        assert_eq!(
            parse_bind_address(":1").map(|a| a.port),
            Ok(PortSpec::Single(1))
        );
    }

    #[test]
    fn server_forms() {
        use Family::*;
        assert_eq!(
            server("127.0.0.1"),
            Ok(addr(None, v4("127.0.0.1"), PortSpec::None))
        );
        assert_eq!(
            server("1.2.3.4:"),
            Ok(addr(None, v4("1.2.3.4"), PortSpec::None))
        );
        assert_eq!(
            server("1.2.3.4:0"),
            Ok(addr(None, v4("1.2.3.4"), PortSpec::Single(0)))
        );
        assert_eq!(
            server("1.2.3.4:80x"),
            Ok(addr(None, v4("1.2.3.4"), PortSpec::Single(80)))
        );
        assert_eq!(
            server("1.2.3.4:+1"),
            Ok(addr(None, v4("1.2.3.4"), PortSpec::Offset(1)))
        );
        assert_eq!(
            server("1.2.3.4:-1"),
            Ok(addr(None, v4("1.2.3.4"), PortSpec::Offset(-1)))
        );
        assert_eq!(
            server("1.2.3.4:-99999"),
            Ok(addr(None, v4("1.2.3.4"), PortSpec::Offset(-99999)))
        );
        assert_eq!(
            server("1.2.3.4:+x"),
            Ok(addr(None, v4("1.2.3.4"), PortSpec::Offset(0)))
        );
        assert_eq!(
            server("1.2.3.4:+"),
            Ok(addr(None, v4("1.2.3.4"), PortSpec::Offset(0)))
        );
        assert_eq!(
            server("[::1]:80"),
            Ok(addr(
                None,
                Host::Ip("::1".parse().unwrap()),
                PortSpec::Single(80)
            ))
        );
        assert_eq!(
            server("::1:80"),
            Ok(addr(
                None,
                Host::Ip("::1".parse().unwrap()),
                PortSpec::Single(80)
            ))
        );
        assert_eq!(
            server("[::1]"),
            Ok(addr(None, Host::Ip("::1".parse().unwrap()), PortSpec::None))
        );
        // `::1` splits at its last ':' (HAProxy: could not resolve address ':').
        assert_eq!(
            server("::1"),
            Ok(addr(None, Host::Name(":".into()), PortSpec::Single(1)))
        );
        assert_eq!(
            server(":80"),
            Ok(addr(None, Host::Any4, PortSpec::Single(80)))
        );
        assert_eq!(
            server("*:80"),
            Ok(addr(None, Host::Any4, PortSpec::Single(80)))
        );
        assert_eq!(
            server("nosuch.host:80"),
            Ok(addr(
                None,
                Host::Name("nosuch.host".into()),
                PortSpec::Single(80)
            ))
        );
        assert_eq!(
            server("[foo]:80"),
            Ok(addr(None, Host::Name("[foo]".into()), PortSpec::Single(80)))
        );
        assert_eq!(
            server("ipv6@1.2.3.4:80"),
            Ok(addr(
                Some(Ipv6),
                Host::Name("1.2.3.4".into()),
                PortSpec::Single(80)
            ))
        );
        assert_eq!(
            server("unix@/tmp/x"),
            Ok(addr(
                Some(Unix),
                Host::Path("/tmp/x".into()),
                PortSpec::None
            ))
        );
        assert_eq!(
            server("/tmp/x"),
            Ok(addr(None, Host::Path("/tmp/x".into()), PortSpec::None))
        );
        assert_eq!(
            server("abns@x"),
            Ok(addr(Some(Abns), Host::Path("x".into()), PortSpec::None))
        );
        assert_eq!(
            server("sockpair@3"),
            Ok(addr(Some(SockPair), Host::Fd(3), PortSpec::None))
        );
        // An unset variable in front of the port leaves a wildcard (accepted).
        assert_eq!(
            server("$NOPE:8000"),
            Ok(addr(None, Host::Any4, PortSpec::Single(8000)))
        );
        assert_eq!(
            server("$H"),
            Ok(addr(None, v4("127.0.0.1"), PortSpec::None))
        );
    }

    #[test]
    fn server_errors_match_haproxy() {
        assert_eq!(server_msg("1.2.3.4:99999"), "invalid port '99999'");
        assert_eq!(
            server_msg("1.2.3.4:80-81"),
            "port range not permitted here in '1.2.3.4:80-81'"
        );
        assert_eq!(
            server_msg("1.2.3.4:x"),
            "invalid character 'x' in port number 'x' in '1.2.3.4:x'"
        );
        assert_eq!(
            server_msg("fd@3"),
            "a file descriptor is not acceptable here in 'fd@3'"
        );
        assert_eq!(
            server_msg("udp@1.2.3.4:80"),
            "dgram-type address not acceptable in 'udp@1.2.3.4:80'"
        );
        assert_eq!(
            server_msg("quic4@1.2.3.4:80"),
            "unsupported stream protocol for datagram family 2 address 'quic4@1.2.3.4:80'; \
             QUIC is not compiled in if this is what you were looking for."
        );
        assert_eq!(
            server_msg("$NOPE"),
            "'$NOPE' resolves to an empty address (environment variable missing?)"
        );
        assert!(server("$NOPE").unwrap_err().ends_with_newline());
    }

    #[test]
    fn log_targets() {
        let udp = |host: Host, port: u16| LogTarget::Udp(addr(None, host, PortSpec::Single(port)));
        assert_eq!(log("127.0.0.1"), Ok(udp(v4("127.0.0.1"), 514)));
        assert_eq!(log("127.0.0.1:0"), Ok(udp(v4("127.0.0.1"), 514)));
        assert_eq!(log("127.0.0.1:1514"), Ok(udp(v4("127.0.0.1"), 1514)));
        assert_eq!(
            log("localhost"),
            Ok(udp(Host::Name("localhost".into()), 514))
        );
        assert_eq!(log("$H"), Ok(udp(v4("127.0.0.1"), 514)));
        assert_eq!(log(":::514"), Ok(udp(Host::Any6, 514)));
        assert_eq!(log("[::1]"), Ok(udp(Host::Ip("::1".parse().unwrap()), 514)));
        assert_eq!(
            log("udp@127.0.0.1"),
            Ok(LogTarget::Udp(addr(
                Some(Family::Udp),
                v4("127.0.0.1"),
                PortSpec::Single(514)
            )))
        );
        assert_eq!(
            log("udp6@::1:514"),
            Ok(LogTarget::Udp(addr(
                Some(Family::Udp6),
                Host::Ip("::1".parse().unwrap()),
                PortSpec::Single(514)
            )))
        );
        assert_eq!(
            log("tcp@127.0.0.1"),
            Ok(LogTarget::Tcp(addr(
                Some(Family::Tcp),
                v4("127.0.0.1"),
                PortSpec::Single(514)
            )))
        );
        assert_eq!(
            log("stream+127.0.0.1:600"),
            Ok(LogTarget::Tcp(addr(
                None,
                v4("127.0.0.1"),
                PortSpec::Single(600)
            )))
        );
        assert_eq!(log("/dev/log"), Ok(LogTarget::Unix("/dev/log".into())));
        assert_eq!(log("unix@/dev/log"), Ok(LogTarget::Unix("/dev/log".into())));
        assert_eq!(log("uxdg@/dev/log"), Ok(LogTarget::Unix("/dev/log".into())));
        assert_eq!(
            log("uxst@/dev/log"),
            Ok(LogTarget::Tcp(addr(
                Some(Family::UnixStream),
                Host::Path("/dev/log".into()),
                PortSpec::None
            )))
        );
        assert_eq!(log("abns@x"), Ok(LogTarget::Abns("x".into())));
        assert_eq!(log("stdout"), Ok(LogTarget::Stdout));
        assert_eq!(log("stderr"), Ok(LogTarget::Stderr));
        assert_eq!(log("fd@1"), Ok(LogTarget::Fd(1)));
        assert_eq!(log("fd@99"), Ok(LogTarget::Fd(99)));
        assert_eq!(log("ring@r1"), Ok(LogTarget::Ring("r1".into())));
        assert_eq!(log("ring@"), Ok(LogTarget::Ring(String::new())));
        // ring@ is not expanded.
        assert_eq!(log("ring@$X"), Ok(LogTarget::Ring("$X".into())));
        assert_eq!(
            log("stream+sockpair@3"),
            Ok(LogTarget::Tcp(addr(
                Some(Family::SockPair),
                Host::Fd(3),
                PortSpec::None
            )))
        );
    }

    #[test]
    fn log_errors_match_haproxy() {
        assert_eq!(
            log_msg("loghost!"),
            "invalid address: 'loghost!' in 'loghost!'"
        );
        // `stdout` is matched case-sensitively and before expansion, so these
        // are host names, which the caller's resolver then rejects.
        let name = |n: &str| {
            Ok(LogTarget::Udp(addr(
                None,
                Host::Name(n.into()),
                PortSpec::Single(514),
            )))
        };
        assert_eq!(log("STDOUT"), name("STDOUT"));
        assert_eq!(log("$X"), name("stdout"));
        assert_eq!(log_msg("::1"), "invalid address: ':' in '::1'");
        assert_eq!(
            log_msg("ipv6@1.2.3.4"),
            "invalid address: '1.2.3.4' in 'ipv6@1.2.3.4'"
        );
        assert_eq!(log_msg("127.0.0.1:70000"), "invalid port '70000'");
        assert_eq!(
            log_msg("127.0.0.1:5-6"),
            "port range not permitted here in '127.0.0.1:5-6'"
        );
        assert_eq!(
            log_msg("127.0.0.1:+1"),
            "port offset not permitted here in '127.0.0.1:+1'"
        );
        assert_eq!(
            log_msg("127.0.0.1:x"),
            "invalid character 'x' in port number 'x' in '127.0.0.1:x'"
        );
        assert_eq!(
            log_msg("fd@x"),
            "file descriptor 'x' is not a valid integer in 'fd@x'"
        );
        assert_eq!(
            log_msg("fd@-1"),
            "file descriptor '-1' is not a valid integer in 'fd@-1'"
        );
        assert_eq!(
            log_msg("quic4@1.2.3.4"),
            "unsupported stream protocol for datagram family 2 address 'quic4@1.2.3.4'; \
             QUIC is not compiled in if this is what you were looking for."
        );
        assert_eq!(
            log_msg("sockpair@3"),
            "unsupported datagram protocol for datagram family 48 address 'sockpair@3'"
        );
        // An unresolvable but well-formed name is the caller's to report.
        assert_eq!(
            log("loghost"),
            Ok(LogTarget::Udp(addr(
                None,
                Host::Name("loghost".into()),
                PortSpec::Single(514)
            )))
        );
    }

    #[test]
    fn display_forms() {
        assert_eq!(shown("*:443"), "*:443");
        assert_eq!(shown(":443"), "*:443");
        assert_eq!(shown("0.0.0.0:443"), "*:443");
        assert_eq!(shown(":::80"), "[::]:80");
        assert_eq!(shown("[::1]:80"), "[::1]:80");
        assert_eq!(shown("127.0.0.1:8080"), "127.0.0.1:8080");
        assert_eq!(shown(":9000-9005"), "*:9000-9005");
        assert_eq!(shown("unix@/path"), "unix@/path");
        assert_eq!(shown("/path"), "unix@/path");
        assert_eq!(shown("abns@name"), "abns@name");
        assert_eq!(shown("uxst@/p"), "uxst@/p");
        assert_eq!(shown("fd@3"), "fd@3");
        assert_eq!(shown("sockpair@4"), "sockpair@4");
        assert_eq!(shown("ipv6@:80"), "ipv6@[::]:80");
        assert_eq!(shown("ipv4@1.2.3.4:80"), "ipv4@1.2.3.4:80");
        assert_eq!(shown("localhost:80"), "localhost:80");
        let s = |w: &str| server(w).unwrap().to_string();
        assert_eq!(s("10.0.0.1:+1"), "10.0.0.1:+1");
        assert_eq!(s("10.0.0.1:-1"), "10.0.0.1:-1");
        assert_eq!(s("10.0.0.1"), "10.0.0.1");
        assert_eq!(s("[::1]"), "[::1]");
        assert_eq!(s("a:b:"), "a:b:");
        assert_eq!(s("[foo]"), "[foo]");
        // Every display form reads back as the same address (a bare `/path`
        // gains its implicit `unix@` prefix).
        for w in [
            "*:443",
            ":::80",
            "[::1]:80",
            "127.0.0.1:8080",
            ":9000-9005",
            "unix@/path",
            "/path",
            "abns@name",
            "fd@3",
            "ipv6@:80",
            "tcp6@[::2]:1",
            "localhost:80",
        ] {
            let a = bind(w).unwrap();
            let back = bind(&a.to_string()).unwrap();
            assert_eq!(back.to_string(), a.to_string(), "{w}");
            if w != "/path" {
                assert_eq!(back, a, "{w}");
            }
        }
        for w in [
            "10.0.0.1:+1",
            "10.0.0.1:-2147483648",
            "a:b:",
            "[foo]",
            "*",
            "[::]",
            "x",
        ] {
            let a = server(w).unwrap();
            assert_eq!(server(&a.to_string()), Ok(a.clone()), "{w}");
        }
    }

    #[test]
    fn log_display_round_trips() {
        for w in [
            "127.0.0.1",
            "udp@1.2.3.4:600",
            "tcp@h:1",
            "stream+1.2.3.4",
            "/dev/log",
            "abns@a",
            "uxst@/x",
            "stream+unix@/x",
            "stdout",
            "stderr",
            "fd@2",
            "ring@r",
            "dgram+tcp4@:5",
            "stream+sockpair@3",
            "stream+abns@z",
        ] {
            let t = log(w).unwrap();
            assert_eq!(log(&t.to_string()), Ok(t.clone()), "{w} -> {t}");
        }
    }

    #[test]
    fn resolution() {
        assert_eq!(
            resolve_host("127.0.0.1"),
            Some("127.0.0.1".parse().unwrap())
        );
        assert_eq!(resolve_host("[::1]"), Some("::1".parse().unwrap()));
        assert_eq!(resolve_host("*"), Some("0.0.0.0".parse().unwrap()));
        // Syntactically hopeless names never reach the resolver.
        assert_eq!(resolve_host("[foo"), None);
        assert_eq!(resolve_host("a b"), None);
        assert_eq!(resolve_host(":"), None);
        assert_eq!(resolve_host(&"a".repeat(64)), None);
        assert_eq!(resolve_host_for("1.2.3.4", Some(Family::Ipv6)), None);
        assert_eq!(resolve_host_for("::1", Some(Family::Ipv4)), None);
        // localhost is in /etc/hosts on any sane machine.
        let lo = resolve_host("localhost");
        assert!(lo.is_some_and(|ip| ip.is_loopback()), "{lo:?}");
        let lo4 = resolve_host_for("[localhost]", Some(Family::Ipv4));
        assert_eq!(lo4, Some("127.0.0.1".parse().unwrap()));
    }

    #[test]
    fn hostname_validation() {
        assert!(dns_hostname_valid("my_host"));
        assert!(dns_hostname_valid("a-b.example.com"));
        assert!(dns_hostname_valid(&"a".repeat(63)));
        assert!(!dns_hostname_valid(&"a".repeat(64)));
        assert!(!dns_hostname_valid(&format!("{}.b", "a".repeat(64))));
        assert!(!dns_hostname_valid(&"a.".repeat(128)));
        assert!(!dns_hostname_valid("é"));
        assert!(!dns_hostname_valid("a:b"));
    }

    #[test]
    fn nul_ends_the_word() {
        assert_eq!(
            bind(":80\0junk"),
            Ok(addr(None, Host::Any4, PortSpec::Single(80)))
        );
        assert_eq!(
            bind("\0:80"),
            Err(AddrError::EmptyAddress { raw: String::new() })
        );
    }
}
