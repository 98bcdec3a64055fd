//! Persistent storage for Foredeck on SeaORM: [`SqlStore`] implements
//! [`foredeck_core::Store`] on SQLite (the default, one file), PostgreSQL and
//! MariaDB/MySQL, with the same semantics as
//! [`MemoryStore`](foredeck_core::MemoryStore); [`keys`] keeps secrets
//! encrypted on top of any store.
//!
//! ```no_run
//! # async fn demo() -> foredeck_core::Result<()> {
//! use foredeck_core::store::prelude::*;
//! use foredeck_core::Project;
//! let store = foredeck_store::SqlStore::connect("sqlite://foredeck.db?mode=rwc").await?;
//! store.create_project(&Project::new("ops")).await?;
//! # Ok(()) }
//! ```
#![deny(missing_docs)]

pub mod data_dir;
mod entity;
mod error;
pub mod keys;
mod logcodec;
pub mod migration;
mod retention;
mod sql;
mod time;

pub use error::StoreError;
pub use keys::{KeyInfo, KeyStorage, MasterKey};
pub use retention::{PurgeReport, Retention};
pub use sql::SqlStore;
