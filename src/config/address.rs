//! Address parsing with HAProxy 2.6 semantics.
