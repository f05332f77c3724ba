//! Server selection algorithms (placeholder).
