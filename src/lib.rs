//! Foredeck: operations automation as an embeddable library.
//!
//! This facade re-exports the core crate: the model, the traits, the Rundeck
//! formats, node filters, the local executor and the pipeline evaluator.
#![deny(missing_docs)]

pub use foredeck_core as core;
pub use foredeck_core::*;
