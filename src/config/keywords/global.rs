//! placeholder
use super::*;
pub static ROWS: &[Keyword] = &[];
