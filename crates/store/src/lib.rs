//! Persistent storage for Foredeck.
//!
//! Today this crate holds [`keys`]: encrypted key storage on top of any
//! `foredeck_core::Store`. The SeaORM `Store` for SQLite, PostgreSQL and
//! MariaDB is being built (issue #3); until it lands use
//! `foredeck_core::MemoryStore`.
#![deny(missing_docs)]

pub mod keys;

pub use keys::{KeyInfo, KeyStorage, MasterKey};
