//! Duration, size and integer value parsers with HAProxy 2.6 semantics.
