//! The typed, immutable IR: what a loaded haproxy.cfg means, with every default applied and
//! every name resolved. The engine reads only this; it never sees words or lines.
//!
//! Invariants: durations are milliseconds, sizes are bytes; `defaults` inheritance is already
//! applied; a `listen` section appears as both a [`Frontend`] and a [`Backend`] of the same
//! name; backend references are indices into [`Config::backends`]; certificates are loaded.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;

pub use super::address::{Address, Host, PortSpec};

#[derive(Debug, Clone, Default)]
pub struct Config {
    pub global: Global,
    pub frontends: Vec<Frontend>,
    pub backends: Vec<Backend>,
    pub userlists: Vec<Userlist>,
    /// Every `stick-table` (in frontends, backends and listens), in declaration order;
    /// [`StickRule::table`] indexes this.
    pub stick_tables: Vec<StickTable>,
}

/// Where a section or directive was written, for messages at run time.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Origin {
    pub file: String,
    pub line: usize,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file, self.line)
    }
}

#[derive(Debug, Clone, Default)]
pub struct Global {
    /// Process-wide connection limit (`maxconn`); HAProxy derives one from ulimit when unset.
    pub maxconn: Option<u32>,
    pub daemon: bool,
    pub user: Option<Account>,
    pub group: Option<Account>,
    pub chroot: Option<PathBuf>,
    pub pidfile: Option<PathBuf>,
    pub hard_stop_after_ms: Option<u32>,
    pub crt_base: Option<PathBuf>,
    pub ca_base: Option<PathBuf>,
    pub ssl_default_bind: TlsDefaults,
    pub ssl_default_server: TlsDefaults,
    /// `ssl-server-verify none|required` (HAProxy's default: required).
    pub ssl_server_verify_required: bool,
    pub logs: Vec<LogTarget>,
    pub quiet: bool,
    pub zero_warning: bool,
    /// `stats socket` lines: the runtime API (engine::cli).
    pub stats_sockets: Vec<StatsSocket>,
    /// `stats timeout`: the CLI's idle timeout (HAProxy's default: 10s).
    pub stats_timeout_ms: u32,
}

/// One `stats socket` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatsSocket {
    pub addr: StatsSocketAddr,
    /// `mode` (octal), applied to a UNIX socket.
    pub mode: Option<u32>,
    pub level: CliLevel,
    /// `uid`/`user`, `gid`/`group`: the UNIX socket's owner.
    pub uid: Option<u32>,
    pub gid: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StatsSocketAddr {
    Unix(PathBuf),
    Tcp(std::net::SocketAddr),
}

/// The CLI's access level (`level`, manual 5.1): `user` is read-only, `operator` adds
/// non-sensitive changes, `admin` everything; the default is `operator` (checked with
/// HAProxy 2.6's `show cli level`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum CliLevel {
    User,
    Operator,
    Admin,
}

/// A user or group as written and resolved to a numeric id at load time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub name: Option<String>,
    pub id: u32,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsDefaults {
    /// TLS 1.2 cipher names as written (OpenSSL syntax); mapped to rustls suites by the engine.
    pub ciphers: Option<String>,
    /// TLS 1.3 suite names as written.
    pub ciphersuites: Option<String>,
    pub curves: Option<String>,
    pub min_ver: Option<TlsVersion>,
    pub max_ver: Option<TlsVersion>,
    pub no_tls_tickets: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum TlsVersion {
    Ssl3,
    Tls10,
    Tls11,
    Tls12,
    Tls13,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// HAProxy's default when no `mode` is set anywhere.
    #[default]
    Tcp,
    Http,
}

/// All `timeout` kinds, in milliseconds; `None` when unset (HAProxy's `0`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Timeouts {
    pub client: Option<u32>,
    pub server: Option<u32>,
    pub connect: Option<u32>,
    pub check: Option<u32>,
    pub queue: Option<u32>,
    pub http_keep_alive: Option<u32>,
    pub http_request: Option<u32>,
    pub tunnel: Option<u32>,
    pub tarpit: Option<u32>,
    pub client_fin: Option<u32>,
    pub server_fin: Option<u32>,
}

/// Which of HAProxy's HTTP connection modes a proxy uses (`option http-keep-alive`, the
/// default; `http-server-close`; `httpclose`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HttpConnMode {
    #[default]
    KeepAlive,
    ServerClose,
    Close,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForwardFor {
    /// Header name, `X-Forwarded-For` by default.
    pub header: String,
    /// `except <network>`: clients in it get no header.
    pub except: Option<(std::net::IpAddr, u8)>,
    pub if_none: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormatKind {
    #[default]
    None,
    Tcp,
    Http,
    HttpClf,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogTarget {
    pub target: super::address::LogTarget,
    pub facility: String,
    pub max_level: Option<String>,
    pub min_level: Option<String>,
    pub format: Option<String>,
    pub len: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SectionKind {
    Frontend,
    Backend,
    Listen,
}

#[derive(Debug, Clone)]
pub struct Frontend {
    pub name: String,
    pub kind: SectionKind,
    pub origin: Origin,
    pub mode: Mode,
    pub disabled: bool,
    pub binds: Vec<Bind>,
    /// Per-frontend connection limit; when unset, the global `maxconn`, or the limit HAProxy
    /// computes from the file-descriptor limit when that is unset too.
    pub maxconn: u32,
    pub timeouts: Timeouts,
    pub http_conn_mode: HttpConnMode,
    pub forward_for: Option<ForwardFor>,
    pub dontlognull: bool,
    pub log_format: LogFormatKind,
    pub custom_log_format: Option<String>,
    pub logs: Vec<LogTarget>,
    pub acls: Vec<Acl>,
    pub http_request: Vec<HttpRule>,
    pub http_response: Vec<HttpRule>,
    /// `redirect` rules (evaluated after http-request, before use_backend).
    pub redirects: Vec<HttpRule>,
    pub use_backend: Vec<UseBackend>,
    pub default_backend: Option<usize>,
    pub errorfiles: Vec<ErrorFile>,
    pub stats: Option<Stats>,
    pub http_buffer_request: bool,
    /// `tcp-request inspect-delay`, `tcp-request connection` and `tcp-request content`.
    pub tcp_request: TcpRequest,
}

/// A proxy's `tcp-request` rules. Frontends use all three; backends only `inspect_delay`
/// and `content` (a `listen` carries the same rules on both sides, run once).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TcpRequest {
    /// `tcp-request inspect-delay`, in milliseconds (`None`: unset or 0).
    pub inspect_delay: Option<u32>,
    /// `tcp-request connection` rules: evaluated at accept, before any TLS handshake.
    pub connection: Vec<TcpRule>,
    /// `tcp-request content` rules: evaluated on the buffered request payload (TCP mode).
    pub content: Vec<TcpRule>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TcpRule {
    pub action: TcpAction,
    pub cond: Option<Condition>,
    pub origin: Origin,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TcpAction {
    /// Stops the evaluation of the rule set; the connection goes on.
    Accept,
    /// Closes the connection (no response).
    Reject,
}

#[derive(Debug, Clone)]
pub struct UseBackend {
    pub backend: usize,
    pub cond: Option<Condition>,
}

#[derive(Debug, Clone)]
pub struct Bind {
    pub origin: Origin,
    /// The address word as written, for messages (`bind :443`).
    pub text: String,
    pub addrs: Vec<Address>,
    /// The addresses as sockets to bind (port ranges expanded, `*` → 0.0.0.0).
    pub sockets: Vec<SocketAddr>,
    /// `fd@N` addresses: listening sockets inherited from the parent process, checked at
    /// load time to be stream sockets.
    pub inherited_fds: Vec<i32>,
    pub tls: Option<BindTls>,
    pub v4v6: bool,
    pub v6only: bool,
    pub maxconn: Option<u32>,
    pub backlog: Option<u32>,
    pub name: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct BindTls {
    /// Certificates in the order HAProxy loads them; the first is the default (no SNI).
    pub certs: Vec<Certificate>,
    /// ALPN protocols offered, in order (`alpn h2,http/1.1`); empty means none.
    pub alpn: Vec<String>,
    pub min_ver: Option<TlsVersion>,
    pub max_ver: Option<TlsVersion>,
    /// Old-style `no-tlsv1x` exclusions.
    pub disabled_versions: Vec<TlsVersion>,
    pub ciphers: Option<String>,
    pub ciphersuites: Option<String>,
    pub curves: Option<String>,
    pub no_tls_tickets: bool,
    pub strict_sni: bool,
}

/// A certificate chain and its private key, loaded from a PEM at config load.
#[derive(Clone)]
pub struct Certificate {
    pub path: PathBuf,
    /// DER certificates: the leaf first, then the chain, in file order.
    pub chain: Vec<Vec<u8>>,
    /// The private key, PKCS#8, PKCS#1 or SEC1 DER.
    pub key: PrivateKey,
    /// DNS names the leaf covers (subjectAltName dNSName, else the subject CN), for SNI.
    pub names: Vec<String>,
}

#[derive(Clone, PartialEq, Eq)]
pub enum PrivateKey {
    Pkcs8(Vec<u8>),
    Pkcs1(Vec<u8>),
    Sec1(Vec<u8>),
}

impl fmt::Debug for Certificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Certificate")
            .field("path", &self.path)
            .field("chain_len", &self.chain.len())
            .field("names", &self.names)
            .finish()
    }
}

#[derive(Debug, Clone)]
pub struct Backend {
    pub name: String,
    pub kind: SectionKind,
    pub origin: Origin,
    pub mode: Mode,
    pub disabled: bool,
    pub timeouts: Timeouts,
    pub balance: Balance,
    pub hash_type: HashType,
    pub servers: Vec<Server>,
    pub retries: u32,
    pub redispatch: bool,
    pub allbackups: bool,
    pub persist: bool,
    /// `fullconn`, or HAProxy's default when unset or 0: a tenth (rounded up, at least 1) of
    /// the `maxconn` of the enabled frontends that can route here (`default_backend`, the
    /// first `use_backend` rule naming it, a `listen`'s own traffic). Servers with
    /// `minconn < maxconn` reach their `maxconn` when the backend has this many streams.
    pub fullconn: u32,
    pub http_conn_mode: HttpConnMode,
    pub http_reuse: HttpReuse,
    pub forward_for: Option<ForwardFor>,
    pub abortonclose: bool,
    pub cookie: Option<Cookie>,
    /// `stick on|match|store-request` rules, in order.
    pub stick_rules: Vec<StickRule>,
    pub health: HealthCheck,
    pub log_health_checks: bool,
    pub acls: Vec<Acl>,
    pub http_request: Vec<HttpRule>,
    pub http_response: Vec<HttpRule>,
    pub errorfiles: Vec<ErrorFile>,
    pub stats: Option<Stats>,
    /// `tcp-request inspect-delay` and `tcp-request content` rules run once this backend is
    /// chosen (never for a `listen`'s own traffic: its frontend side ran them).
    pub tcp_request: TcpRequest,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Balance {
    #[default]
    RoundRobin,
    StaticRr,
    LeastConn,
    First,
    Source,
    Uri {
        len: Option<u32>,
        depth: Option<u32>,
        whole: bool,
        path_only: bool,
    },
    UrlParam {
        name: String,
        check_post: Option<u32>,
    },
    Hdr {
        name: String,
        use_domain_only: bool,
    },
    Random {
        draws: u32,
    },
    RdpCookie {
        name: Option<String>,
    },
    /// `balance hash <expr>` (2.6).
    Hash {
        expr: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HashMethod {
    #[default]
    MapBased,
    Consistent,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HashFunction {
    #[default]
    Sdbm,
    Djb2,
    Wt6,
    Crc32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct HashType {
    pub method: HashMethod,
    pub function: HashFunction,
    pub avalanche: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HttpReuse {
    Never,
    #[default]
    Safe,
    Aggressive,
    Always,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cookie {
    pub name: String,
    pub mode: CookieMode,
    pub indirect: bool,
    pub nocache: bool,
    pub postonly: bool,
    pub preserve: bool,
    pub httponly: bool,
    pub secure: bool,
    pub domains: Vec<String>,
    pub maxidle_s: Option<u32>,
    pub maxlife_s: Option<u32>,
    pub dynamic: bool,
    pub attrs: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CookieMode {
    /// No mode keyword: the cookie is only read (passive).
    Passive,
    Insert,
    Rewrite,
    Prefix,
}

/// A `stick-table` declared in a proxy section (no peers).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StickTable {
    /// The table's name: the name of the proxy that declares it.
    pub name: String,
    pub origin: Origin,
    pub key: StickKeyType,
    /// The key size HAProxy allocates: 4 (ip, integer), 16 (ipv6), or the `len` of string
    /// and binary keys (32 by default; `len N` gives N + 1 for strings, whose last byte is
    /// the NUL terminator, so string keys compare on at most `key_size - 1` bytes).
    pub key_size: u32,
    /// Maximum number of entries (`size`).
    pub size: u64,
    /// Entry lifetime after its last use, in milliseconds (`expire`); `None`: never.
    pub expire_ms: Option<u32>,
    /// `nopurge`: when full, new entries are refused instead of evicting the oldest.
    pub nopurge: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StickKeyType {
    Ip,
    Ipv6,
    Integer,
    String,
    Binary,
}

/// One `stick` rule of a backend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StickRule {
    pub action: StickAction,
    /// The sample expression giving the key (`src`, `req.cook(name)`...).
    pub sample: Sample,
    /// Index into [`Config::stick_tables`] (the backend's own table without `table`).
    pub table: usize,
    pub cond: Option<Condition>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StickAction {
    /// `stick on`: match, then store.
    On,
    Match,
    /// `stick store-request` (also written `stick store`).
    StoreRequest,
}

impl StickAction {
    pub fn matches(self) -> bool {
        matches!(self, StickAction::On | StickAction::Match)
    }
    pub fn stores(self) -> bool {
        matches!(self, StickAction::On | StickAction::StoreRequest)
    }
}

/// How servers are probed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum HealthCheck {
    /// A TCP connect.
    #[default]
    Tcp,
    Http(HttpCheck),
    TcpCheck(Vec<TcpCheckStep>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpCheck {
    pub method: String,
    pub uri: String,
    pub version: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<String>,
    pub expect: Option<HttpCheckExpect>,
    pub disable_on_404: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpCheckExpect {
    pub negate: bool,
    pub kind: ExpectKind,
    pub pattern: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpectKind {
    Status,
    Rstatus,
    String,
    Rstring,
    Binary,
    Rbinary,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TcpCheckStep {
    Connect {
        port: Option<u16>,
        ssl: bool,
        send_proxy: bool,
    },
    Send(Vec<u8>),
    Expect(HttpCheckExpect),
    Comment(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Server {
    pub name: String,
    pub origin: Origin,
    /// HAProxy's numeric id (`id` or the 1-based declaration order), used by hashing.
    pub id: u32,
    pub addr: Address,
    /// The resolved socket address; `None` when the host did not resolve and `init-addr`
    /// allowed that (the server then starts in maintenance), or for a port-less unix path.
    pub resolved: Option<SocketAddr>,
    pub check: bool,
    pub inter_ms: u32,
    pub fastinter_ms: Option<u32>,
    pub downinter_ms: Option<u32>,
    pub rise: u32,
    pub fall: u32,
    pub weight: u32,
    pub backup: bool,
    /// `maxconn` (`None`: no limit), raised to `minconn` when that is higher (HAProxy's
    /// `srv_minmax_conn_apply()`).
    pub maxconn: Option<u32>,
    pub maxqueue: Option<u32>,
    /// `minconn`, set to `maxconn` when unset: the limit is dynamic (HAProxy's
    /// `srv_dynamic_maxconn()`) only when `minconn < maxconn`.
    pub minconn: Option<u32>,
    pub cookie: Option<String>,
    pub disabled: bool,
    pub check_port: Option<u16>,
    pub check_addr: Option<std::net::IpAddr>,
    pub slowstart_ms: Option<u32>,
    pub send_proxy: Option<ProxyProtocol>,
    pub on_marked_down_shutdown: bool,
    pub on_marked_up_shutdown_backups: bool,
    /// `check-ssl`: health checks run over TLS on their implicit connect (plain `check`,
    /// `option httpchk`, `option tcp-check` without a leading `tcp-check connect`), without
    /// certificate verification (the linker refuses `check-ssl` unless `verify none`
    /// applies). The global `ssl-default-server-*` settings apply.
    pub check_ssl: bool,
    /// `check-sni`: the SNI of TLS health checks (a DNS name; none sent when unset).
    pub check_sni: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProxyProtocol {
    V1,
    V2,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorFile {
    pub status: u16,
    pub path: PathBuf,
    /// The whole HTTP response as stored in the file, sent verbatim.
    pub response: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Stats {
    pub uri: String,
    pub realm: Option<String>,
    pub auth: Vec<(String, String)>,
    pub refresh_ms: Option<u32>,
    pub hide_version: bool,
}

// ---------------------------------------------------------------------------------------
// ACLs, conditions, rules

/// A named ACL (all lines with the same name, ORed) or an anonymous `{ ... }` one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Acl {
    pub name: Option<String>,
    pub alternatives: Vec<AclExpr>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AclExpr {
    pub fetch: Sample,
    pub match_method: MatchMethod,
    pub ignore_case: bool,
    pub patterns: Vec<String>,
}

/// A sample expression: a fetch with arguments and a chain of converters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sample {
    pub fetch: String,
    pub args: Vec<String>,
    pub converters: Vec<(String, Vec<String>)>,
}

/// Pattern matching methods (`-m` or implied by the fetch suffix).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchMethod {
    Found,
    Bool,
    Int,
    Ip,
    Bin,
    Len,
    Str,
    Sub,
    Reg,
    Beg,
    End,
    Dir,
    Dom,
}

/// `if|unless` followed by terms: an OR of ANDs of possibly negated ACLs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    pub unless: bool,
    /// Outer vector: `||` alternatives; inner: terms that must all hold.
    pub any_of: Vec<Vec<CondTerm>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CondTerm {
    pub negate: bool,
    /// Index into the proxy's `acls`.
    pub acl: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRule {
    pub action: HttpAction,
    pub cond: Option<Condition>,
    pub origin: Origin,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HttpAction {
    SetHeader {
        name: String,
        value: LogFormat,
    },
    AddHeader {
        name: String,
        value: LogFormat,
    },
    DelHeader {
        name: String,
    },
    Allow,
    Deny {
        status: u16,
    },
    Redirect(Redirect),
    Return {
        status: u16,
        content_type: Option<String>,
        body: Option<String>,
    },
    ReplacePath {
        regex: String,
        replacement: LogFormat,
    },
    SetPath {
        value: LogFormat,
    },
    Auth {
        realm: Option<String>,
    },
    SetStatus {
        status: u16,
        reason: Option<String>,
    },
}

/// A log-format string (`%[req.hdr(host)]`, `%ci`...), kept as written; the engine compiles it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogFormat(pub String);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redirect {
    pub kind: RedirectKind,
    pub target: LogFormat,
    pub code: u16,
    pub drop_query: bool,
    pub append_slash: bool,
    pub set_cookie: Option<String>,
    pub clear_cookie: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RedirectKind {
    Location,
    Prefix,
    Scheme,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Userlist {
    pub name: String,
    pub users: Vec<User>,
    pub groups: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub name: String,
    pub password: Password,
    pub groups: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Password {
    /// `insecure-password`: compared as is.
    Insecure(String),
    /// `password`: a crypt(3) hash.
    Crypt(String),
}
