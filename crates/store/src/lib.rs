//! Persistent storage for Foredeck on SeaORM.
//!
//! Nothing is implemented yet: the SQL `Store` arrives with issue #3. Until
//! then use `foredeck_core::MemoryStore`.
