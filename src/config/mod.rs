//! The configuration layer: lexer → parser → IR → validation → diagnostics.
//! Knows nothing of the engine or tokio.

pub mod address;
pub mod keywords;
pub mod values;
