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
pub mod config;
