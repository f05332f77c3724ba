//! placeholder
use super::*;
pub static HTTP_REQUEST: &[Keyword] = &[];
pub static HTTP_RESPONSE: &[Keyword] = &[];
pub static HTTP_AFTER_RESPONSE: &[Keyword] = &[];
pub static TCP: &[Keyword] = &[];
