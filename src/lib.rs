//! haproxide: a drop-in replacement for HAProxy 2.6.
//!
//! Layers, each depending only on the ones above it in this list:
//! - [`config`]: haproxy.cfg text to a typed, immutable IR plus diagnostics. No I/O beyond
//!   reading the files the config names, no tokio.
//! - [`balance`]: server selection algorithms, pure code over the IR's server lists.
//! - `engine`: the tokio proxy that runs an IR.
//! - `cli`: HAProxy's command line.
#![forbid(unsafe_op_in_unsafe_fn)]

pub mod balance;
pub mod cli;
pub mod config;
pub mod engine;
pub mod fuzzing;

/// The version string `haproxy -c` prints in its NOTICE header; scripts compare it.
pub const VERSION_FOR_SCRIPTS: &str = concat!("2.6.12-haproxide-", env!("CARGO_PKG_VERSION"));

/// `-v` output, in HAProxy's shape so version-sniffing scripts keep working.
pub fn version_line() -> String {
    format!("HAProxy version {VERSION_FOR_SCRIPTS} 2026/11/21 - haproxide, a Rust drop-in for HAProxy 2.6")
}
