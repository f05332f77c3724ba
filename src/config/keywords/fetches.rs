//! placeholder
use super::*;
pub static FETCHES: &[Keyword] = &[];
pub static CONVERTERS: &[Keyword] = &[];
