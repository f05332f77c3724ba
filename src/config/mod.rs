//! The configuration layer: lexer → parser → IR → validation → diagnostics.
//! Knows nothing of the engine or tokio; the engine sees only [`ir`].

pub mod address;
pub mod cond;
pub mod diag;
pub mod ir;
pub mod keywords;
pub mod lexer;
pub mod loader;
pub mod parse;
pub mod render;
pub mod source;
pub mod suggest;
pub mod values;

pub use loader::{load, load_text, LoadOptions, Loaded};
