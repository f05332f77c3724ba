//! Section headers and the body keywords of the small sections.
use super::*;
pub static ROWS: &[Keyword] = &[];
pub static BODY_ROWS: &[Keyword] = &[];
