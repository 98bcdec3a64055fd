//! Python bindings for Foredeck.
//!
//! Nothing is implemented yet: the pyo3 module `foredeck` (built by maturin)
//! arrives with its own issue. This crate exports nothing until then.
